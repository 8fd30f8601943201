/* A fork server in C: a thread loops on fuzzshm_value while a peer
 * process flips valueLen between 10 bytes and 4 MiB, and the main thread
 * forks 300 times. Each child, which has only the forking thread, reads
 * the value, and every other one closes the region; each must exit within
 * 20 s, or it is killed and named. Under -fsanitize=address the library
 * poisons through the ASan runtime, and must never leave a child waiting
 * for a thread it does not have. Prints "forkserver: ok"; tests/capi.rs
 * runs it with and without ASan. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "fuzzshm.h"

#define LONG ((size_t)4 << 20)
#define FORKS 300
#define STEP_SECONDS 20

static fuzzshm_t mem;
static atomic_int stop;

/* The value is one of the peer's two lengths, with ones at both ends. */
static int value_is_whole(void) {
    const uint8_t *data;
    size_t len;
    if (fuzzshm_value(&mem, &data, &len) != 0 || (len != 10 && len != LONG)) return 0;
    return data[0] == 1 && data[len - 1] == 1;
}

static void *reader(void *unused) {
    (void)unused;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) CHECK(value_is_whole());
    return NULL;
}

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Waits for `child` at most STEP_SECONDS; 0 if it exited with 0. */
static int wait_for(pid_t child, int fork_number, const char *what) {
    double started = seconds();
    int status;
    pid_t reaped;
    while ((reaped = waitpid(child, &status, WNOHANG)) == 0) {
        if (seconds() - started > STEP_SECONDS) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            printf("forked child %d (pid %d) did not exit within %d s in %s: it "
                   "waited on a thread it does not have; killed\n",
                   fork_number, (int)child, STEP_SECONDS, what);
            return 1;
        }
        usleep(1000);
    }
    CHECK(reaped == child);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    printf("forked child %d (pid %d) in %s ended with status %#x\n", fork_number,
           (int)child, what, status);
    return 1;
}

int main(void) {
    OK(fuzzshm_memfd(&mem, LONG));
    uint8_t *buffer;
    size_t capacity;
    OK(fuzzshm_value_buffer(&mem, &buffer, &capacity));
    memset(buffer, 1, LONG);
    OK(fuzzshm_set_value_len(&mem, LONG));

    /* The peer: a process of its own, storing valueLen through its copy of
     * the shared mapping, until it is killed (or this process dies). */
    pid_t parent = getpid();
    pid_t peer = fork();
    CHECK(peer >= 0);
    if (peer == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        fuzzshm_header_t *header = fuzzshm_header(&mem);
        for (;;) {
            __atomic_store_n(&header->value_len, 10, __ATOMIC_RELEASE);
            __atomic_store_n(&header->value_len, (intptr_t)LONG, __ATOMIC_RELEASE);
        }
    }

    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, reader, NULL) == 0);
    int failed = 0;
    for (int i = 0; i < FORKS && !failed; i++) {
        int closes = i % 2;
        pid_t child = fork();
        CHECK(child >= 0);
        if (child == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            int code = value_is_whole() ? 0 : 2;
            if (closes && fuzzshm_close(&mem) != 0) code = 3;
            _exit(code);
        }
        failed = wait_for(child, i, closes ? "fuzzshm_value then fuzzshm_close" : "fuzzshm_value");
    }
    atomic_store(&stop, 1);
    CHECK(pthread_join(thread, NULL) == 0);
    kill(peer, SIGKILL);
    waitpid(peer, NULL, 0);
    OK(fuzzshm_close(&mem));
    if (failed) return 1;
    printf("forkserver: %d forks, ok\n", FORKS);
    return 0;
}
