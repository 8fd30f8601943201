/* A C coordinator and a C worker exchanging inputs through fuzzshm's C API,
 * in two processes, the way Go's fuzzer runs them: the worker inherits the
 * pipes as fds 3 and 4 and the region as fd 5.
 *
 *   pair memfd|temp|anonymous   the coordinator: spawns `pair worker` and
 *                               drives it
 *   pair worker       the worker (started by the coordinator only)
 *
 * The coordinator exits 0 and prints "pair <backing>: ok" when every check
 * passed; any failed check prints where and exits 1. tests/capi.rs builds
 * and runs it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fuzzshm.h"


/* The worker's commands, one byte each on fd 3. */
enum { CMD_RUN = 'r', CMD_REMAP = 'm', CMD_QUIT = 'q' };

/* What the worker answers on fd 4 for CMD_RUN and CMD_REMAP. */
struct reply {
    int32_t status;
    int32_t changed;
    uint64_t len;
    uint64_t checksum;
};

static const char CRASHER[] = "CRASH: this input kills the worker";

static uint64_t fnv1a(const uint8_t *data, size_t len) {
    uint64_t hash = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) hash = (hash ^ data[i]) * 0x100000001b3u;
    return hash;
}

static void read_exact(int fd, void *buf, size_t len) {
    for (size_t done = 0; done < len;) {
        ssize_t n = read(fd, (char *)buf + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        CHECK(n > 0);
        done += (size_t)n;
    }
}

static void write_exact(int fd, const void *buf, size_t len) {
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, (const char *)buf + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        CHECK(n > 0);
        done += (size_t)n;
    }
}

/* Go's worker loop, reduced: run the value in shared memory, bump count. */
static int worker(void) {
    fuzzshm_t mem = {0}, again = {0};
    int in = -1, out = -1;
    OK(fuzzshm_worker_comm(&mem, &in, &out));
    EXPECT_STATUS(fuzzshm_worker_comm(&again, &in, &out), FUZZSHM_EALREADY_TAKEN);
    CHECK(in >= 0 && out >= 0);
    for (;;) {
        char cmd;
        read_exact(in, &cmd, 1);
        struct reply reply = {0};
        if (cmd == CMD_QUIT) break;
        if (cmd == CMD_REMAP) {
            int changed = -1;
            reply.status = fuzzshm_remap(&mem, &changed);
            reply.changed = changed;
        } else {
            CHECK(cmd == CMD_RUN);
            const uint8_t *data;
            size_t len;
            fuzzshm_header_t *header = fuzzshm_header(&mem);
            CHECK(header != NULL);
            reply.status = fuzzshm_value(&mem, &data, &len);
            if (reply.status == 0) {
                header->raw_in_mem = 1; /* the input is live: a crash leaves it here */
                if (len >= 5 && memcmp(data, CRASHER, 5) == 0) {
                    struct rlimit no_core = {0, 0};
                    setrlimit(RLIMIT_CORE, &no_core);
                    abort();
                }
                reply.len = len;
                reply.checksum = fnv1a(data, len);
                header->raw_in_mem = 0;
                __atomic_fetch_add(&header->count, 1, __ATOMIC_RELAXED);
            } else {
                CHECK(data == NULL && len == 0);
            }
        }
        write_exact(out, &reply, sizeof reply);
    }
    OK(fuzzshm_close(&mem));
    return 0;
}

struct worker_proc {
    pid_t pid;
    int to;   /* the worker's fd 3, our end */
    int from; /* the worker's fd 4, our end */
};

/* Starts `self worker` with the pipes on fds 3 and 4 and the region on 5. */
static struct worker_proc spawn_worker(const char *self, const fuzzshm_t *mem) {
    int to[2], from[2];
    CHECK(pipe2(to, O_CLOEXEC) == 0 && pipe2(from, O_CLOEXEC) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* Park the sources above 5 first: any of them may be 3, 4 or 5. */
        int sources[3] = {to[0], from[1], fuzzshm_fd(mem)};
        for (int i = 0; i < 3; i++) sources[i] = fcntl(sources[i], F_DUPFD, 10);
        for (int i = 0; i < 3; i++)
            if (sources[i] < 0 || dup2(sources[i], FUZZSHM_FUZZ_IN_FD + i) < 0) _exit(126);
        execl(self, self, "worker", (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    return (struct worker_proc){pid, to[1], from[0]};
}

static struct reply ask(struct worker_proc *worker, char cmd) {
    struct reply reply;
    write_exact(worker->to, &cmd, 1);
    read_exact(worker->from, &reply, sizeof reply);
    return reply;
}

/* Sends `len` patterned bytes and checks the worker saw exactly them. */
static void round_trip(struct worker_proc *worker, fuzzshm_t *mem, uint8_t *scratch,
                       size_t len, int64_t *runs) {
    for (size_t i = 0; i < len; i++) scratch[i] = (uint8_t)(i * 31 + len);
    OK(fuzzshm_set_value(mem, scratch, len));
    struct reply reply = ask(worker, CMD_RUN);
    CHECK(reply.status == 0);
    CHECK(reply.len == len);
    CHECK(reply.checksum == fnv1a(scratch, len));
    *runs += 1;
    CHECK(__atomic_load_n(&fuzzshm_header(mem)->count, __ATOMIC_RELAXED) == *runs);
}

/* What any handle that is not open, and any null pointer, gets. */
static void check_refusals(void) {
    fuzzshm_t closed = {0};
    const uint8_t *data = (const uint8_t *)&closed;
    size_t len = 1;
    CHECK(fuzzshm_region_size(100) == 100 + FUZZSHM_HEADER_SIZE);
    CHECK(fuzzshm_region_size(SIZE_MAX) == 0);
    EXPECT_STATUS(fuzzshm_temp_file(NULL, 16), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_memfd(&closed, SIZE_MAX), FUZZSHM_ESIZE_OVERFLOW);
    EXPECT_STATUS(fuzzshm_anonymous(NULL, 16), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_anonymous(&closed, SIZE_MAX), FUZZSHM_ESIZE_OVERFLOW);
    CHECK(fuzzshm_header(&closed) == NULL && fuzzshm_header(NULL) == NULL);
    CHECK(fuzzshm_capacity(&closed) == 0 && fuzzshm_fd(&closed) == -1);
    EXPECT_STATUS(fuzzshm_value(&closed, &data, &len), FUZZSHM_ECLOSED);
    CHECK(data == NULL && len == 0);
    EXPECT_STATUS(fuzzshm_value(&closed, NULL, &len), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_set_value(&closed, data, 0), FUZZSHM_ECLOSED);
    EXPECT_STATUS(fuzzshm_set_value(NULL, data, 0), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_resize(&closed, 1), FUZZSHM_ECLOSED);
    EXPECT_STATUS(fuzzshm_close(&closed), FUZZSHM_ECLOSED);
    EXPECT_STATUS(fuzzshm_close(NULL), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_from_fd(&closed, -1), -EBADF);

    /* A pipe is no region; the descriptor is owned, so it is closed. */
    int fds[2];
    CHECK(pipe(fds) == 0);
    EXPECT_STATUS(fuzzshm_from_fd(&closed, fds[0]), FUZZSHM_ENOT_REGULAR_FILE);
    CHECK(fcntl(fds[0], F_GETFD) == -1 && errno == EBADF);
    close(fds[1]);
}

/* Opening the same region a second time, by descriptor. */
static void check_second_view(const fuzzshm_t *mem) {
    fuzzshm_t view = {0};
    size_t size = fuzzshm_region_size(fuzzshm_capacity(mem));
    EXPECT_STATUS(fuzzshm_map_file(&view, dup(fuzzshm_fd(mem)), size + 1), FUZZSHM_ETOO_SMALL);
    OK(fuzzshm_map_file(&view, dup(fuzzshm_fd(mem)), size));
    CHECK(fuzzshm_capacity(&view) == fuzzshm_capacity(mem));
    fuzzshm_header(mem)->rand_state = 0x0123456789abcdefu;
    CHECK(fuzzshm_header(&view)->rand_state == 0x0123456789abcdefu);
    OK(fuzzshm_close(&view));
    OK(fuzzshm_from_fd(&view, dup(fuzzshm_fd(mem))));
    CHECK(fuzzshm_capacity(&view) == fuzzshm_capacity(mem));
    OK(fuzzshm_close(&view));
}

/* In-place writes, a source inside the value area, and values too large. */
static void check_writes(fuzzshm_t *mem) {
    uint8_t *buffer;
    size_t capacity;
    const uint8_t *data;
    size_t len;
    OK(fuzzshm_value_buffer(mem, &buffer, &capacity));
    CHECK(capacity == fuzzshm_capacity(mem));
    memcpy(buffer, "0123456789abcdef", 16);
    OK(fuzzshm_set_value_len(mem, 16));
    OK(fuzzshm_value(mem, &data, &len));
    CHECK(len == 16 && memcmp(data, "0123456789abcdef", 16) == 0);

    OK(fuzzshm_set_value(mem, data + 4, 12)); /* overlapping: moved */
    OK(fuzzshm_value(mem, &data, &len));
    CHECK(len == 12 && memcmp(data, "456789abcdef", 12) == 0);

    EXPECT_STATUS(fuzzshm_set_value(mem, buffer, capacity + 1), FUZZSHM_EVALUE_TOO_LARGE);
    EXPECT_STATUS(fuzzshm_set_value_len(mem, capacity + 1), FUZZSHM_EVALUE_TOO_LARGE);
    EXPECT_STATUS(fuzzshm_set_value(mem, NULL, 1), FUZZSHM_ENULL);
    OK(fuzzshm_value(mem, &data, &len));
    CHECK(len == 12 && memcmp(data, "456789abcdef", 12) == 0); /* unchanged */
    OK(fuzzshm_set_value(mem, NULL, 0));
    OK(fuzzshm_value(mem, &data, &len));
    CHECK(len == 0);
}

/* A peer writing impossible lengths gets refused on both sides, never an
 * out-of-bounds read. */
static void check_hostile_lengths(struct worker_proc *worker, fuzzshm_t *mem) {
    const intptr_t hostile[] = {-1, INTPTR_MIN, (intptr_t)fuzzshm_capacity(mem) + 1, INTPTR_MAX};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        const uint8_t *data;
        size_t len;
        fuzzshm_header(mem)->value_len = hostile[i];
        CHECK(ask(worker, CMD_RUN).status == FUZZSHM_ECORRUPT_VALUE_LEN);
        EXPECT_STATUS(fuzzshm_value(mem, &data, &len), FUZZSHM_ECORRUPT_VALUE_LEN);
        CHECK(data == NULL && len == 0);
    }
}

static int coordinator(const char *self, const char *backing) {
    check_refusals();

    fuzzshm_t mem = {0};
    size_t capacity = 1 << 20;
    if (strcmp(backing, "memfd") == 0) {
        OK(fuzzshm_memfd(&mem, capacity));
    } else if (strcmp(backing, "anonymous") == 0) {
        OK(fuzzshm_anonymous(&mem, capacity));
    } else {
        CHECK(strcmp(backing, "temp") == 0);
        OK(fuzzshm_temp_file(&mem, capacity));
    }
    CHECK(fuzzshm_capacity(&mem) == capacity);
    char fd_link[64], path[PATH_MAX] = "";
    snprintf(fd_link, sizeof fd_link, "/proc/self/fd/%d", fuzzshm_fd(&mem));
    ssize_t path_len = readlink(fd_link, path, sizeof path - 1);
    CHECK(path_len > 0);
    path[path_len] = '\0';

    check_second_view(&mem);
    check_writes(&mem);

    uint8_t *scratch = malloc(4 << 20);
    CHECK(scratch != NULL);
    int64_t runs = 0;
    struct worker_proc worker = spawn_worker(self, &mem);
    const size_t sizes[] = {0, 1, 64, 4096, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        round_trip(&worker, &mem, scratch, sizes[i], &runs);

    /* Grow; the worker adopts the new size; a 4 MiB input now fits. */
    EXPECT_STATUS(fuzzshm_set_value(&mem, scratch, 4 << 20), FUZZSHM_EVALUE_TOO_LARGE);
    EXPECT_STATUS(fuzzshm_resize(&mem, capacity - 1), FUZZSHM_ESHRINK);
    OK(fuzzshm_resize(&mem, 4 << 20));
    struct reply remapped = ask(&worker, CMD_REMAP);
    CHECK(remapped.status == 0 && remapped.changed == 1);
    CHECK(ask(&worker, CMD_REMAP).changed == 0);
    round_trip(&worker, &mem, scratch, 4 << 20, &runs);

    check_hostile_lengths(&worker, &mem);

    /* The worker dies running an input; the input is still in the region. */
    OK(fuzzshm_set_value(&mem, (const uint8_t *)CRASHER, sizeof CRASHER - 1));
    char cmd = CMD_RUN;
    write_exact(worker.to, &cmd, 1);
    int wstatus;
    CHECK(waitpid(worker.pid, &wstatus, 0) == worker.pid);
    CHECK(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGABRT);
    fuzzshm_header_t *header = fuzzshm_header(&mem);
    CHECK(header->raw_in_mem == 1);
    CHECK(header->count == runs);
    const uint8_t *data;
    size_t len;
    OK(fuzzshm_value(&mem, &data, &len));
    CHECK(len == sizeof CRASHER - 1 && memcmp(data, CRASHER, len) == 0);
    close(worker.to);
    close(worker.from);

    /* A fresh worker on the same region finishes cleanly. */
    header->raw_in_mem = 0;
    worker = spawn_worker(self, &mem);
    round_trip(&worker, &mem, scratch, 64, &runs);
    cmd = CMD_QUIT;
    write_exact(worker.to, &cmd, 1);
    CHECK(waitpid(worker.pid, &wstatus, 0) == worker.pid);
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);

    OK(fuzzshm_close(&mem));
    EXPECT_STATUS(fuzzshm_close(&mem), FUZZSHM_ECLOSED);
    CHECK(fuzzshm_header(&mem) == NULL);
    if (strcmp(backing, "temp") == 0) CHECK(access(path, F_OK) == -1 && errno == ENOENT);
    free(scratch);
    printf("pair %s: ok (%lld runs, crash recovered from shared memory)\n", backing,
           (long long)runs);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "worker") == 0) return worker();
    if (argc != 2) {
        fprintf(stderr, "usage: %s memfd|temp|anonymous\n", argv[0]);
        return 2;
    }
    return coordinator(argv[0], argv[1]);
}
