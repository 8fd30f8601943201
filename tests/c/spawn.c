/* fuzzshm_spawn from C: a coordinator starts this program again as its
 * worker, with the pipes on fds 3 and 4 and the region on 5, and checks
 * that it keeps no copy of the worker's pipe ends (two descriptors more
 * after the spawn, the ones it got; end of stream once the worker
 * exits) and that a failed spawn hands the region back as it was.
 *
 *   spawn          the coordinator
 *   spawn worker   the worker (started by the coordinator only)
 *
 * Prints "spawn: ok" when every check passed; a failed check prints where
 * and exits 1. The whole run is bounded by alarm(). tests/capi.rs runs it
 * as it is and under AddressSanitizer. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fuzzshm.h"

extern char **environ;

/* The longest any wait here may take, in seconds. */
enum { BOUND = 30 };

/* The worker: on each 'r', reverses the value and answers 'd'; at end of
 * stream on fd 3 (or 'q'), exits 0. */
static int worker(void) {
    fuzzshm_t mem = {0};
    int in = -1, out = -1;
    OK(fuzzshm_worker_comm(&mem, &in, &out));
    char call;
    while (read(in, &call, 1) == 1 && call == 'r') {
        const uint8_t *data;
        size_t len;
        OK(fuzzshm_value(&mem, &data, &len));
        uint8_t reversed[64];
        CHECK(len <= sizeof reversed);
        for (size_t i = 0; i < len; i++) reversed[i] = data[len - 1 - i];
        OK(fuzzshm_set_value(&mem, reversed, len));
        __atomic_fetch_add(&fuzzshm_header(&mem)->count, 1, __ATOMIC_RELAXED);
        CHECK(write(out, "d", 1) == 1);
    }
    OK(fuzzshm_close(&mem));
    return 0;
}

/* How many descriptors this process has open (0 to 1023). */
static int open_fds(void) {
    int open = 0;
    for (int fd = 0; fd < 1024; fd++) open += fcntl(fd, F_GETFD) != -1;
    return open;
}

/* How many descriptors this process will have open once fds 3-5 are:
 * fuzzshm_spawn fills any that is free with /dev/null, for good. */
static int open_fds_once_3_to_5_are(void) {
    int free_low = 0;
    for (int fd = 3; fd <= 5; fd++) free_low += fcntl(fd, F_GETFD) == -1;
    return open_fds() + free_low;
}

/* One byte from `fd` within BOUND seconds: 1 if read, 0 at end of
 * stream; a wait past the bound fails the program. */
static int receive(int fd, char *byte) {
    struct pollfd ready = {fd, POLLIN, 0};
    int n;
    while ((n = poll(&ready, 1, BOUND * 1000)) < 0 && errno == EINTR) {
    }
    CHECK(n == 1); /* else: nothing within the bound */
    ssize_t got = read(fd, byte, 1);
    CHECK(got == 0 || got == 1);
    return (int)got;
}

static void check_value(const fuzzshm_t *mem, const char *expected) {
    const uint8_t *data;
    size_t len;
    OK(fuzzshm_value(mem, &data, &len));
    CHECK(len == strlen(expected) && memcmp(data, expected, len) == 0);
}

/* Spawns a worker, runs one call, stops it, and checks what is left. */
static void run_worker(const char *self, fuzzshm_t *mem, int64_t runs) {
    char *argv[] = {(char *)self, "worker", NULL};
    int before = open_fds_once_3_to_5_are();
    pid_t pid = -1;
    int in = -1, out = -1;
    OK(fuzzshm_spawn(argv, environ, mem, &pid, &in, &out));
    CHECK(pid > 0 && in >= 0 && out >= 0);
    /* Ours and nothing else: no parked copy of the worker's ends. */
    CHECK(open_fds() == before + 2);
    CHECK((fcntl(in, F_GETFD) & FD_CLOEXEC) && (fcntl(out, F_GETFD) & FD_CLOEXEC));

    char answer;
    CHECK(write(in, "r", 1) == 1);
    CHECK(receive(out, &answer) == 1 && answer == 'd');
    CHECK(__atomic_load_n(&fuzzshm_header(mem)->count, __ATOMIC_RELAXED) == runs);

    /* Told to stop, it exits: end of stream, at once, as no other write
     * end is open; and a call now is EPIPE. */
    CHECK(write(in, "q", 1) == 1);
    CHECK(receive(out, &answer) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(write(in, "r", 1) == -1 && errno == EPIPE);
    close(in);
    close(out);
}

/* A spawn that fails leaves the region open and as it was, writes no
 * out-parameter, and leaves no descriptor behind. */
static void check_failures(const char *self, fuzzshm_t *mem) {
    OK(fuzzshm_set_value(mem, (const uint8_t *)"a crasher", 9));
    char *missing[] = {"/nonexistent/fuzzshm-worker", NULL};
    char *not_in_path[] = {"fuzzshm-no-such-worker", NULL};
    char *no_program[] = {NULL};
    char *argv[] = {(char *)self, "worker", NULL};
    pid_t pid = -7;
    int in = -7, out = -7;
    int before = open_fds_once_3_to_5_are();
    for (int attempt = 0; attempt < 2; attempt++) {
        EXPECT_STATUS(fuzzshm_spawn(missing, environ, mem, &pid, &in, &out), -ENOENT);
        EXPECT_STATUS(fuzzshm_spawn(not_in_path, environ, mem, &pid, &in, &out), -ENOENT);
    }
    CHECK(pid == -7 && in == -7 && out == -7);
    CHECK(open_fds() == before);
    check_value(mem, "a crasher");

    EXPECT_STATUS(fuzzshm_spawn(NULL, environ, mem, &pid, &in, &out), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_spawn(no_program, environ, mem, &pid, &in, &out), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_spawn(argv, NULL, mem, &pid, &in, &out), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_spawn(argv, environ, NULL, &pid, &in, &out), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_spawn(argv, environ, mem, NULL, &in, &out), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_spawn(argv, environ, mem, &pid, NULL, &out), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_spawn(argv, environ, mem, &pid, &in, NULL), FUZZSHM_ENULL);
    fuzzshm_t closed = {0};
    EXPECT_STATUS(fuzzshm_spawn(argv, environ, &closed, &pid, &in, &out), FUZZSHM_ECLOSED);
    CHECK(pid == -7 && in == -7 && out == -7);
    CHECK(open_fds() == before);
    check_value(mem, "a crasher");
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "worker") == 0) return worker();
    CHECK(argc == 1);
    alarm(4 * BOUND); /* the whole run, however it goes wrong */
    signal(SIGPIPE, SIG_IGN);
    fuzzshm_t mem = {0};
    OK(fuzzshm_anonymous(&mem, 64));
    check_failures(argv[0], &mem);
    /* The region that a failed spawn handed back serves the next worker,
     * and a respawned one after it. */
    run_worker(argv[0], &mem, 1);
    check_value(&mem, "rehsarc a");
    run_worker(argv[0], &mem, 2);
    check_value(&mem, "a crasher");
    OK(fuzzshm_close(&mem));
    printf("spawn: ok\n");
    return 0;
}
