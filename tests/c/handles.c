/* Handles misused from C, each refused without harm to anything else:
 *  - a copy of an open handle (b = a) is not open: every function refuses
 *    it, and closing it once the original is closed no longer unmaps the
 *    heap that reused the old address;
 *  - fuzzshm_from_fd and fuzzshm_map_file close their fd when `out` is
 *    refused (NULL, or open);
 *  - a constructor refuses an open handle (FUZZSHM_EOPEN), which keeps its
 *    region, and leaks no descriptor and creates no file;
 *  - fuzzshm_set_value refuses a source overlapping the header (-EINVAL).
 * Prints "handles: ok"; tests/capi.rs builds and runs it with an empty
 * TMPDIR. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fuzzshm.h"

static int is_closed_fd(int fd) { return fcntl(fd, F_GETFD) == -1 && errno == EBADF; }

static int open_fds(void) {
    int count = 0;
    for (int fd = 0; fd < 1024; fd++) count += fcntl(fd, F_GETFD) != -1;
    return count;
}

static int entries(const char *dir) {
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) count += entry->d_name[0] != '.';
    closedir(d);
    return count;
}

/* Every function refuses the not-open `copy`. */
static void expect_refused(fuzzshm_t *copy) {
    const uint8_t *data = (const uint8_t *)1;
    uint8_t *buffer = (uint8_t *)1;
    size_t len = 1;
    int changed = -1;
    CHECK(fuzzshm_header(copy) == NULL);
    CHECK(fuzzshm_capacity(copy) == 0 && fuzzshm_fd(copy) == -1);
    EXPECT_STATUS(fuzzshm_value(copy, &data, &len), FUZZSHM_ECLOSED);
    CHECK(data == NULL && len == 0);
    EXPECT_STATUS(fuzzshm_value_buffer(copy, &buffer, &len), FUZZSHM_ECLOSED);
    CHECK(buffer == NULL && len == 0);
    EXPECT_STATUS(fuzzshm_set_value(copy, (const uint8_t *)"x", 1), FUZZSHM_ECLOSED);
    EXPECT_STATUS(fuzzshm_set_value_len(copy, 0), FUZZSHM_ECLOSED);
    EXPECT_STATUS(fuzzshm_reserve_whole(copy), FUZZSHM_ECLOSED);
    EXPECT_STATUS(fuzzshm_resize(copy, 1 << 21), FUZZSHM_ECLOSED);
    EXPECT_STATUS(fuzzshm_remap(copy, &changed), FUZZSHM_ECLOSED);
    CHECK(changed == -1);
    EXPECT_STATUS(fuzzshm_close(copy), FUZZSHM_ECLOSED);
}

static void copies_are_not_open(void) {
    size_t capacity = 1 << 20; /* about the size of the malloc below */
    fuzzshm_t a = {0};
    EXPECT_STATUS(fuzzshm_memfd(&a, capacity), 0);
    EXPECT_STATUS(fuzzshm_set_value(&a, (const uint8_t *)"kept", 4), 0);
    fuzzshm_t b = a;
    expect_refused(&b);
    /* The original is untouched by all that. */
    const uint8_t *data;
    size_t len;
    EXPECT_STATUS(fuzzshm_value(&a, &data, &len), 0);
    CHECK(len == 4 && memcmp(data, "kept", 4) == 0 && fuzzshm_capacity(&a) == capacity);

    /* The sequence: the heap takes the old mapping's place (mmap
     * reuses the range), and closing the copy must not unmap it. */
    void *old = fuzzshm_header(&a);
    EXPECT_STATUS(fuzzshm_close(&a), 0);
    unsigned char *p = malloc(1 << 20);
    CHECK(p != NULL);
    int reused = (char *)p >= (char *)old && (char *)p <= (char *)old + capacity;
    printf("heap %s the old mapping\n", reused ? "reuses" : "avoids");
    EXPECT_STATUS(fuzzshm_close(&b), FUZZSHM_ECLOSED);
    memset(p, 0xa5, 1 << 20); /* SIGSEGV if the copy's close unmapped it */
    CHECK(p[0] == 0xa5 && p[(1 << 20) - 1] == 0xa5);
    free(p);
}

static void refused_out_closes_fd(void) {
    fuzzshm_t mem = {0};
    EXPECT_STATUS(fuzzshm_memfd(&mem, 64), 0);
    size_t size = fuzzshm_region_size(64);

    int fd = dup(fuzzshm_fd(&mem));
    CHECK(fd >= 0);
    EXPECT_STATUS(fuzzshm_from_fd(NULL, fd), FUZZSHM_ENULL);
    CHECK(is_closed_fd(fd));
    fd = dup(fuzzshm_fd(&mem));
    CHECK(fd >= 0);
    EXPECT_STATUS(fuzzshm_map_file(NULL, fd, size), FUZZSHM_ENULL);
    CHECK(is_closed_fd(fd));
    EXPECT_STATUS(fuzzshm_from_fd(NULL, -1), FUZZSHM_ENULL);
    EXPECT_STATUS(fuzzshm_map_file(NULL, -1, size), FUZZSHM_ENULL);

    /* Open `out`: refused, fd closed all the same. */
    fd = dup(fuzzshm_fd(&mem));
    CHECK(fd >= 0);
    EXPECT_STATUS(fuzzshm_from_fd(&mem, fd), FUZZSHM_EOPEN);
    CHECK(is_closed_fd(fd));
    fd = dup(fuzzshm_fd(&mem));
    CHECK(fd >= 0);
    EXPECT_STATUS(fuzzshm_map_file(&mem, fd, size), FUZZSHM_EOPEN);
    CHECK(is_closed_fd(fd));
    EXPECT_STATUS(fuzzshm_close(&mem), 0);
}

static void constructors_refuse_an_open_handle(const char *dir) {
    fuzzshm_t mem = {0};
    EXPECT_STATUS(fuzzshm_memfd(&mem, 64), 0);
    EXPECT_STATUS(fuzzshm_set_value(&mem, (const uint8_t *)"kept", 4), 0);
    int region_fd = fuzzshm_fd(&mem);
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dir_fd >= 0);
    int fds = open_fds();
    CHECK(entries(dir) == 0);

    EXPECT_STATUS(fuzzshm_memfd(&mem, 128), FUZZSHM_EOPEN);
    EXPECT_STATUS(fuzzshm_anonymous(&mem, 128), FUZZSHM_EOPEN);
    EXPECT_STATUS(fuzzshm_temp_file(&mem, 128), FUZZSHM_EOPEN);
    EXPECT_STATUS(fuzzshm_create_in(&mem, dir_fd, 128), FUZZSHM_EOPEN);
    int in = -1, out = -1;
    EXPECT_STATUS(fuzzshm_worker_comm(&mem, &in, &out), FUZZSHM_EOPEN);
    CHECK(in == -1 && out == -1);

    CHECK(open_fds() == fds && entries(dir) == 0);
    const uint8_t *data;
    size_t len;
    EXPECT_STATUS(fuzzshm_value(&mem, &data, &len), 0);
    CHECK(len == 4 && memcmp(data, "kept", 4) == 0);
    CHECK(fuzzshm_capacity(&mem) == 64 && fuzzshm_fd(&mem) == region_fd);
    EXPECT_STATUS(fuzzshm_close(&mem), 0);
    /* Closed: a constructor fills it again. */
    EXPECT_STATUS(fuzzshm_temp_file(&mem, 64), 0);
    CHECK(entries(dir) == 1);
    EXPECT_STATUS(fuzzshm_close(&mem), 0);
    CHECK(entries(dir) == 0 && close(dir_fd) == 0);
}

static void set_value_refuses_the_header_as_source(void) {
    fuzzshm_t mem = {0};
    EXPECT_STATUS(fuzzshm_memfd(&mem, 64), 0);
    EXPECT_STATUS(fuzzshm_set_value(&mem, (const uint8_t *)"hello", 5), 0);
    const uint8_t *header = (const uint8_t *)fuzzshm_header(&mem);
    CHECK(header != NULL);
    const uint8_t *data;
    size_t len;

    /* The whole header, its end and the value's start, one byte of it. */
    EXPECT_STATUS(fuzzshm_set_value(&mem, header, FUZZSHM_HEADER_SIZE), -EINVAL);
    EXPECT_STATUS(fuzzshm_set_value(&mem, header + FUZZSHM_HEADER_SIZE - 1, 2), -EINVAL);
    EXPECT_STATUS(fuzzshm_set_value(&mem, header + FUZZSHM_OFFSET_VALUE_LEN, 1), -EINVAL);
    EXPECT_STATUS(fuzzshm_value(&mem, &data, &len), 0);
    CHECK(len == 5 && memcmp(data, "hello", 5) == 0);

    /* The value area itself is still a valid source. */
    EXPECT_STATUS(fuzzshm_set_value(&mem, header + FUZZSHM_HEADER_SIZE + 1, 3), 0);
    EXPECT_STATUS(fuzzshm_value(&mem, &data, &len), 0);
    CHECK(len == 3 && memcmp(data, "ell", 3) == 0);
    EXPECT_STATUS(fuzzshm_close(&mem), 0);
}

int main(void) {
    const char *dir = getenv("TMPDIR");
    CHECK(dir && *dir);
    copies_are_not_open();
    refused_out_closes_fd();
    constructors_refuse_an_open_handle(dir);
    set_value_refuses_the_header_as_source();
    puts("handles: ok");
    return 0;
}
