/* A fork server in C: a child forked without exec closes its copy of the
 * parent's temp-file region with fuzzshm_close; the file stays (it is the
 * parent's), and the parent's own close removes it. Prints
 * "forkclose: ok"; tests/capi.rs builds and runs it with a private TMPDIR. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fuzzshm.h"

int main(void) {
    fuzzshm_t mem;
    CHECK(fuzzshm_temp_file(&mem, 4096) == 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fuzzshm_fd(&mem));
    char name[4096];
    ssize_t len = readlink(path, name, sizeof name - 1);
    CHECK(len > 0);
    name[len] = '\0';

    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) _exit(fuzzshm_close(&mem) == 0 ? 0 : 1);
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    CHECK(access(name, F_OK) == 0); /* the child did not remove it */
    CHECK(fuzzshm_close(&mem) == 0);
    CHECK(access(name, F_OK) != 0); /* the parent did */
    puts("forkclose: ok");
    return 0;
}
