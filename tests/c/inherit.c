/* fuzzshm_worker_comm against a bad fd 5, in C: an empty file, a read-only
 * file and a directory are each refused, and fds 3, 4 and 5 stay open,
 * inheritable and untaken; once fd 5 is a real region the same call takes
 * all three and makes them close-on-exec. The program sets its own fds up
 * (one process is enough: the checks are about this process's table).
 * Prints "inherit: ok"; tests/capi.rs builds and runs it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "fuzzshm.h"


/* `fd` moved to a number above 9, out of the way of fds 3-5. */
static int high(int fd) {
    CHECK(fd >= 0);
    int moved = fcntl(fd, F_DUPFD, 10);
    CHECK(moved >= 10 && close(fd) == 0);
    return moved;
}

/* Opens a file in `dir` of `size` bytes, read-write or read-only. */
static int file_of_size(const char *dir, long size, int flags) {
    char path[4096];
    snprintf(path, sizeof path, "%s/inherit-XXXXXX", dir);
    int fd = mkstemp(path);
    CHECK(fd >= 0 && ftruncate(fd, size) == 0);
    int opened = open(path, flags);
    CHECK(opened >= 0 && unlink(path) == 0 && close(fd) == 0);
    return high(opened);
}

/* Moves `fd` to `target`, closing what was there. */
static void place(int fd, int target) {
    CHECK(dup2(fd, target) == target && close(fd) == 0);
}

static void expect_untaken(void) {
    for (int fd = 3; fd <= 5; fd++) {
        int flags = fcntl(fd, F_GETFD);
        CHECK(flags >= 0 && !(flags & FD_CLOEXEC));
    }
}

int main(void) {
    const char *dir = getenv("TMPDIR");
    CHECK(dir && *dir);
    /* Every source above 9 first, so no dup2 can clobber one. */
    int pipes[2][2];
    CHECK(pipe(pipes[0]) == 0 && pipe(pipes[1]) == 0);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) pipes[i][j] = high(pipes[i][j]);
    place(pipes[0][0], 3);
    place(pipes[1][1], 4);

    int bad[3] = {
        file_of_size(dir, 0, O_RDWR),
        file_of_size(dir, (long)fuzzshm_region_size(64), O_RDONLY),
        high(open(dir, O_RDONLY | O_DIRECTORY)),
    };
    int expected[3] = {FUZZSHM_ETOO_SMALL, 0 /* -errno from mmap */, FUZZSHM_ENOT_REGULAR_FILE};
    for (int i = 0; i < 3; i++) {
        CHECK(bad[i] >= 0);
        place(bad[i], 5);
        fuzzshm_t mem;
        int in = -1, out = -1;
        int status = fuzzshm_worker_comm(&mem, &in, &out);
        if (expected[i] ? status != expected[i] : status >= 0) {
            fprintf(stderr, "bad fd 5 #%d: status %d (%s)\n", i, status, fuzzshm_strerror(status));
            return 1;
        }
        CHECK(in == -1 && out == -1 && fuzzshm_capacity(&mem) == 0);
        expect_untaken();
    }

    place(file_of_size(dir, (long)fuzzshm_region_size(64), O_RDWR), 5);
    fuzzshm_t mem;
    int in = -1, out = -1;
    CHECK(fuzzshm_worker_comm(&mem, &in, &out) == 0);
    CHECK(in == 3 && out == 4 && fuzzshm_fd(&mem) == 5 && fuzzshm_capacity(&mem) == 64);
    for (int fd = 3; fd <= 5; fd++) CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK(fuzzshm_close(&mem) == 0);
    puts("inherit: ok");
    return 0;
}
