/*
 * fuzzshm.h: the C ABI of fuzzshm (Rust crate, feature `capi`).
 *
 * Shared memory for fuzz coordinators and their workers, byte-compatible
 * with Go's native fuzzer: a header (count, valueLen, randState, randInc,
 * rawInMem) followed by the input bytes, in a file or memfd that both
 * processes map. Build the static library and link it as the README's
 * "C quick start" shows.
 *
 * Conventions:
 *  - A handle (fuzzshm_t) lives in your storage: stack, static or heap.
 *    The library allocates nothing. A constructor fills it; a zeroed handle
 *    (fuzzshm_t h = {0};), one whose constructor failed, and a closed one
 *    are "not open" and refused with FUZZSHM_ECLOSED.
 *  - A handle is tied to its address and is not moved by copying: a copy
 *    (b = a, memcpy, a struct holding one returned by value, realloc) is
 *    "not open", refused with FUZZSHM_ECLOSED by every function, and
 *    closing it leaves the original's region alone. Use the original,
 *    and never write a copy back over it once it was closed (at its own
 *    address, a stale copy would read as open).
 *  - A constructor refuses a handle that is open (FUZZSHM_EOPEN): close it
 *    first. Storage never initialised may hold anything; since the open
 *    marker is a 64-bit pattern tied to the handle's address, the chance
 *    that garbage passes for an open handle is negligible, but a zeroed
 *    handle is the sure way.
 *  - Functions returning int return 0 on success, a positive FUZZSHM_E*
 *    code, or -errno from the system call that failed.
 *  - A null pointer where one is needed gives FUZZSHM_ENULL.
 *  - A handle is not synchronised: use it from one thread at a time.
 *  - No Rust panic crosses into C (the library aborts instead, and nothing
 *    in it panics on any input).
 *
 * Written by hand; tests/capi.rs compiles it and checks every number here
 * against the Rust crate, so it cannot drift.
 */
#ifndef FUZZSHM_H
#define FUZZSHM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* pid_t */

#ifdef __cplusplus
extern "C" {
#endif

/* Go's worker conventions: the descriptors a worker inherits. */
#define FUZZSHM_FUZZ_IN_FD 3  /* read end: the coordinator's calls */
#define FUZZSHM_FUZZ_OUT_FD 4 /* write end: the worker's answers */
#define FUZZSHM_MEM_FD 5      /* the region's file or memfd */

/* Status codes (0 is success; a negative status is -errno), with the
 * message fuzzshm_strerror gives; tests/capi.rs checks both against the
 * crate's status table (src/error.rs). */
#define FUZZSHM_ENULL 1              /* a required pointer is null */
#define FUZZSHM_ECLOSED 2            /* the handle is not open */
#define FUZZSHM_EOPEN 14             /* the handle is already open: close it first */
#define FUZZSHM_ESIZE_OVERFLOW 3     /* the region would not fit in the address space */
#define FUZZSHM_EVALUE_TOO_LARGE 4   /* the value exceeds the region's capacity */
#define FUZZSHM_ECORRUPT_VALUE_LEN 5 /* the header's valueLen is negative or beyond the capacity */
#define FUZZSHM_ETOO_SMALL 6         /* the file is too small for the header or the size asked */
#define FUZZSHM_ETOO_LARGE 7         /* the file is larger than this process can map */
#define FUZZSHM_ENOT_REGULAR_FILE 8  /* the descriptor is not a regular file or memfd */
#define FUZZSHM_ENOT_PIPE 9          /* an inherited descriptor is not a pipe or socket */
#define FUZZSHM_ESHRINK 10           /* regions never shrink */
#define FUZZSHM_EMISALIGNED 11       /* the memory is not aligned for the header */
#define FUZZSHM_ENAME_COLLISION 12   /* no free fuzz-* file name */
#define FUZZSHM_EALREADY_TAKEN 13    /* the worker's descriptors were already taken */
#define FUZZSHM_ENOT_INHERITED 15    /* an inherited descriptor is not open */
#define FUZZSHM_ESAME_FD 16          /* one descriptor was given twice */

/* The handle: opaque storage, filled by a constructor; 8-aligned in C89,
 * C99, C11 and C++: the union's uint64_t aligns it on 64-bit targets, and
 * where uint64_t is 4-aligned in structs (32-bit x86) alignas (C++11),
 * _Alignas (C11) or GCC's and Clang's aligned attribute (C89, C99) do. The
 * static assertions below check both numbers. */
#define FUZZSHM_HANDLE_SIZE 128
#if defined(__cplusplus)
#define FUZZSHM_ALIGN_8 alignas(8)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define FUZZSHM_ALIGN_8 _Alignas(8)
#elif defined(__GNUC__)
#define FUZZSHM_ALIGN_8 __attribute__((aligned(8)))
#else
#define FUZZSHM_ALIGN_8
#endif
typedef struct fuzzshm {
    union {
        FUZZSHM_ALIGN_8 unsigned char bytes[FUZZSHM_HANDLE_SIZE];
        uint64_t align;
    } opaque;
} fuzzshm_t;

/*
 * The region header: Go's sharedMemHeader, byte for byte. Another process
 * writes it too: access count with __atomic builtins (it is 8-aligned), and
 * treat every field as untrusted input (fuzzshm_value checks valueLen).
 * On 32-bit targets Go aligns uint64 to 4, so rand_state sits at offset 12;
 * the pack pragma gives C the same layout there.
 */
#if UINTPTR_MAX == 0xffffffffu
#pragma pack(push, 4)
#endif
typedef struct fuzzshm_header {
    int64_t count;       /* fuzz function calls by the worker */
    intptr_t value_len;  /* Go int: length of the value after the header */
    uint64_t rand_state; /* the worker's PRNG state */
    uint64_t rand_inc;   /* the worker's PRNG increment */
    uint8_t raw_in_mem;  /* nonzero: the value is the raw input being run */
} fuzzshm_header_t;
#if UINTPTR_MAX == 0xffffffffu
#pragma pack(pop)
#endif

#if UINTPTR_MAX == 0xffffffffu
#define FUZZSHM_HEADER_SIZE 32
#define FUZZSHM_OFFSET_RAND_STATE 12
#define FUZZSHM_OFFSET_RAND_INC 20
#define FUZZSHM_OFFSET_RAW_IN_MEM 28
#else
#define FUZZSHM_HEADER_SIZE 40
#define FUZZSHM_OFFSET_RAND_STATE 16
#define FUZZSHM_OFFSET_RAND_INC 24
#define FUZZSHM_OFFSET_RAW_IN_MEM 32
#endif
#define FUZZSHM_OFFSET_COUNT 0
#define FUZZSHM_OFFSET_VALUE_LEN 8

/* static_assert (C++11), _Static_assert (C11), or before C11 a typedef
 * of an array whose size is -1 if the condition fails. */
#if defined(__cplusplus)
#define FUZZSHM_STATIC_ASSERT static_assert
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define FUZZSHM_STATIC_ASSERT _Static_assert
#else
#define FUZZSHM_CONCAT_(a, b) a##b
#define FUZZSHM_CONCAT(a, b) FUZZSHM_CONCAT_(a, b)
#define FUZZSHM_STATIC_ASSERT(cond, message)                                  \
    typedef char FUZZSHM_CONCAT(fuzzshm_static_assert_, __LINE__)[(cond) ? 1 : -1]
#endif
FUZZSHM_STATIC_ASSERT(offsetof(fuzzshm_header_t, count) == FUZZSHM_OFFSET_COUNT, "count");
FUZZSHM_STATIC_ASSERT(offsetof(fuzzshm_header_t, value_len) == FUZZSHM_OFFSET_VALUE_LEN,
                      "valueLen");
FUZZSHM_STATIC_ASSERT(offsetof(fuzzshm_header_t, rand_state) == FUZZSHM_OFFSET_RAND_STATE,
                      "randState");
FUZZSHM_STATIC_ASSERT(offsetof(fuzzshm_header_t, rand_inc) == FUZZSHM_OFFSET_RAND_INC,
                      "randInc");
FUZZSHM_STATIC_ASSERT(offsetof(fuzzshm_header_t, raw_in_mem) == FUZZSHM_OFFSET_RAW_IN_MEM,
                      "rawInMem");
FUZZSHM_STATIC_ASSERT(sizeof(fuzzshm_header_t) == FUZZSHM_HEADER_SIZE, "header size");
FUZZSHM_STATIC_ASSERT(sizeof(intptr_t) == sizeof(void *), "Go int is pointer-sized");
FUZZSHM_STATIC_ASSERT(sizeof(fuzzshm_t) == FUZZSHM_HANDLE_SIZE, "handle size");
/* The handle's alignment, without C11's alignof: its offset after a char. */
struct fuzzshm_alignment_check_ {
    char c;
    fuzzshm_t handle;
};
FUZZSHM_STATIC_ASSERT(offsetof(struct fuzzshm_alignment_check_, handle) == 8, "handle alignment");

/* Go's sharedMemSize: the bytes of a region holding `capacity` value
 * bytes; 0 if it would not fit in the address space. */
size_t fuzzshm_region_size(size_t capacity);

/* Go's sharedMemTempFile: a new region in a new file fuzz-* in $TMPDIR (or
 * /tmp), mode 0600, close-on-exec, removed by fuzzshm_close. Like every
 * constructor: FUZZSHM_ENULL if out is NULL, FUZZSHM_EOPEN if *out is an
 * open handle (left as it was); on any other failure *out is not open. */
int fuzzshm_temp_file(fuzzshm_t *out, size_t capacity);

/* fuzzshm_temp_file in the directory open as dir_fd (borrowed). */
int fuzzshm_create_in(fuzzshm_t *out, int dir_fd, size_t capacity);

/* A new region in a memfd sealed against shrinking (Linux, Android,
 * FreeBSD; -ENOSYS elsewhere). Nothing to remove if the process dies. */
int fuzzshm_memfd(fuzzshm_t *out, size_t capacity);

/* A new region that leaves nothing behind if the process dies, however
 * it dies (SIGKILL included): a sealed memfd on Linux, Android and
 * FreeBSD; elsewhere a file in $TMPDIR (or /tmp) unlinked as soon as it is
 * created. Handed to workers as any region; close-on-exec until then. */
int fuzzshm_anonymous(fuzzshm_t *out, size_t capacity);

/* Maps the whole file or memfd `fd` (size from fstat), as a worker maps the
 * region it inherits. Takes ownership of fd: closed by fuzzshm_close, and
 * on any failure too, a refused `out` included (FUZZSHM_ENULL: NULL;
 * FUZZSHM_EOPEN: already open, and left so). FUZZSHM_ENOT_REGULAR_FILE,
 * FUZZSHM_ETOO_SMALL.
 * Contract: no other mapping of the same file (another handle over a dup
 * of fd, an mmap of yours) is alive in this process while the handle is
 * open; two would alias each other's value (Rust's from_fd is unsafe). */
int fuzzshm_from_fd(fuzzshm_t *out, int fd);

/* Go's sharedMemMapFile: maps the first `size` bytes (header included) of
 * fd; FUZZSHM_ETOO_SMALL if the file is shorter. Owns fd, and has the
 * contract, of fuzzshm_from_fd. */
int fuzzshm_map_file(fuzzshm_t *out, int fd, size_t size);

/* Go's getWorkerComm, for a worker: takes fds 3, 4 and 5. The region goes
 * to `mem`; the pipe descriptors, now yours, to *fuzz_in and *fuzz_out;
 * all three are close-on-exec from then on. Once per process
 * (FUZZSHM_EALREADY_TAKEN); FUZZSHM_ENOT_INHERITED if one is not open.
 * On failure (fd 5 empty, read-only, a directory...) fds 3, 4, 5 stay
 * open and untaken, and a later call may take them. FUZZSHM_ENULL and FUZZSHM_EOPEN (mem already open) touch no
 * descriptor. Contract: fds 3-5 were inherited for the worker protocol and
 * nothing else in this process uses them. */
int fuzzshm_worker_comm(fuzzshm_t *mem, int *fuzz_in, int *fuzz_out);

/* Go's coordinator starting a worker (CoordinatorComm::spawn in Rust):
 * runs argv[0] (searched in PATH if it has no slash, as posix_spawnp
 * does) with the arguments argv and the environment envp, both
 * NULL-terminated (pass environ for this process's own), its ends of two
 * new pipes at fds 3 and 4 and the region of `mem` at fd 5. On success
 * *pid is the worker's pid (reap it with waitpid), *fuzz_in the write end
 * of its calls and *fuzz_out the read end of its answers: both yours,
 * close-on-exec. This process keeps no other copy of the worker's ends,
 * so when the worker exits or dies, a read on *fuzz_out returns 0 (end of
 * stream) and a write on *fuzz_in fails with EPIPE (SIGPIPE unless
 * ignored); closing *fuzz_in tells the worker to stop.
 * `mem` is only borrowed: it stays open and yours on success and on
 * failure alike (after a crash it holds the input: hand it to the next
 * worker). Fds 3, 4 and 5 of this process, where free, get /dev/null
 * for the life of the process, so that no descriptor the spawn opens can
 * take those numbers and be replaced in the child.
 * Errors: FUZZSHM_ENULL (argv, argv[0], envp or an out-pointer NULL),
 * FUZZSHM_ECLOSED (mem not open), -errno from pipe2 or fcntl (-EMFILE
 * when no descriptor is left above 5), or from posix_spawnp (-ENOENT for
 * a missing program, -EACCES, -EAGAIN...). On error nothing is written to
 * *pid, *fuzz_in or *fuzz_out, and no descriptor of the attempt stays
 * open. Not built for Android. */
int fuzzshm_spawn(char *const argv[], char *const envp[], const fuzzshm_t *mem, pid_t *pid, int *fuzz_in, int *fuzz_out);

/* Go's Close: unmaps, closes the descriptor, removes the file if this
 * process created it. The handle is closed even if one of these fails
 * (the status is the first failure); closing again gives FUZZSHM_ECLOSED. */
int fuzzshm_close(fuzzshm_t *mem);

/* The header; NULL if mem is NULL or not open. Valid until close, resize
 * or a remap that changed the mapping. */
fuzzshm_header_t *fuzzshm_header(const fuzzshm_t *mem);

/* Go's valueRef: the value's address and length. If the header's
 * valueLen is negative or beyond the capacity (a hostile or corrupt peer),
 * FUZZSHM_ECORRUPT_VALUE_LEN; on any error *data = NULL and *len = 0. */
int fuzzshm_value(const fuzzshm_t *mem, const uint8_t **data, size_t *len);

/* The whole value area (capacity bytes), to build an input in place
 * before fuzzshm_set_value_len. On error *data = NULL, *capacity = 0.
 * On a file system that can fill up, call fuzzshm_reserve_whole first:
 * writing storage the file does not have yet raises SIGBUS there. */
int fuzzshm_value_buffer(fuzzshm_t *mem, uint8_t **data, size_t *capacity);

/* Go's setValue: copies len bytes in as the value, crash-consistently
 * (valueLen is 0 while the bytes are copied, then published). `data` may
 * point into the value area itself, and may be NULL if len is 0; a source
 * that overlaps the header is refused with -EINVAL (valueLen is zeroed
 * before the copy, which would read that zero). -EINVAL,
 * FUZZSHM_EVALUE_TOO_LARGE, or -ENOSPC on a full file system (the storage
 * is reserved before the copy, never SIGBUS), leave the region unchanged. */
int fuzzshm_set_value(fuzzshm_t *mem, const uint8_t *data, size_t len);

/* 1 if this program carries the AddressSanitizer runtime (built with
 * -fsanitize=address): then the bytes past each value are poisoned in this
 * process's shadow memory whenever fuzzshm_value, fuzzshm_set_value or
 * fuzzshm_set_value_len hands out or publishes a value, so a target that
 * reads past its input is reported as a use-after-poison, as with
 * libFuzzer's exact-size copy. A pointer from fuzzshm_value_buffer is
 * wholly addressable until the next of those calls: take it again after;
 * one from an earlier fuzzshm_value is addressable up to the latest
 * value's length only. The poisoning takes no lock: a forked child never
 * waits for a thread of its parent.
 * 0 without ASan, where none of this costs anything. */
int fuzzshm_asan_poisoning(void);

/* Reserves (fallocate) the file's storage for the whole value area now,
 * and for every size fuzzshm_resize grows it to, so that writers outside
 * the library (fuzzshm_value_buffer, a Go or C peer) cannot SIGBUS on a
 * full file system. -ENOSPC if there is no room. */
int fuzzshm_reserve_whole(fuzzshm_t *mem);

/* Go's setValueLen: publishes len after writing via fuzzshm_value_buffer.
 * FUZZSHM_EVALUE_TOO_LARGE beyond the capacity. */
int fuzzshm_set_value_len(fuzzshm_t *mem, size_t len);

/* The value capacity in bytes; 0 if mem is NULL or not open. */
size_t fuzzshm_capacity(const fuzzshm_t *mem);

/* The region's descriptor, still owned by the handle (to give a worker as
 * fd 5); -1 if mem is NULL or not open. */
int fuzzshm_fd(const fuzzshm_t *mem);

/* Grows the region to `capacity` value bytes, keeping header and value;
 * FUZZSHM_ESHRINK if smaller. Old header/value pointers become invalid.
 * On any error (-ENOMEM, -EFBIG above RLIMIT_FSIZE, never SIGXFSZ) the
 * file and the mapping are exactly as they were, pointers included. */
int fuzzshm_resize(fuzzshm_t *mem, size_t capacity);

/* Adopts the file's current size after a peer resized it. *changed (if
 * not NULL) is 1 if the mapping changed (old pointers invalid), else 0. */
int fuzzshm_remap(fuzzshm_t *mem, int *changed);

/* A static description of a status (for -errno, use strerror(-status)). */
const char *fuzzshm_strerror(int status);

#ifdef __cplusplus
}
#endif

#endif /* FUZZSHM_H */
