//! Shared memory for fuzz coordinators and their workers, byte-compatible
//! with Go's native fuzzer (`internal/fuzz`), on raw syscalls through rustix.
//!
//! A coordinator gives each worker process one region: a fixed [`Header`]
//! (`count`, `valueLen`, `randState`, `randInc`, `rawInMem`) followed by the
//! input bytes. The worker runs the input, bumps `count`, keeps its PRNG in
//! the header, and if it dies with `rawInMem` set, the input that killed it
//! is still there for the coordinator to read.
//!
//! ```
//! use fuzzshm::SharedMem;
//! # fn main() -> Result<(), fuzzshm::Error> {
//! // 1 MiB of value capacity, in a region that leaves nothing behind
//! // however this process dies (a sealed memfd on Linux).
//! let mut mem = SharedMem::anonymous(1 << 20)?;
//! mem.set_value(b"an input")?;
//! mem.header().set_raw_in_mem(true);
//!
//! // ... the worker, which maps the same file, runs it:
//! assert_eq!(mem.value()?, b"an input");
//! mem.header().count().fetch_add(1, core::sync::atomic::Ordering::Relaxed);
//!
//! mem.close()?; // munmap and close; there is no file to remove
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! | feature    | default | what it adds |
//! |------------|---------|--------------|
//! | `std`      | yes     | [`SharedMem::temp_file`], [`remove_orphans`], [`SharedMem::anonymous`] where there is no memfd, [`set_worker_comm`], [`CoordinatorComm`], [`read_answer`], [`is_crash_signal`], `std::error::Error` |
//! | `alloc`    | via std | [`Region::value_copy`]; nothing else allocates |
//! | `use-libc` | no      | rustix calls go through libc, for sanitizer builds |
//! | `capi`     | no      | the C ABI of `include/fuzzshm.h` (C symbols only, no Rust items); without `std`, the panic handler a C staticlib needs |
//!
//! Without features the crate is `no_std`, allocates nothing, and still
//! creates ([`SharedMem::temp_file_in`], [`SharedMem::anonymous_in`], and on
//! Linux, Android and FreeBSD `SharedMem::memfd` and `SharedMem::anonymous`),
//! maps, resizes and reads regions, removes orphaned files
//! (`remove_orphans_in`, on Linux and Android; elsewhere it
//! needs `alloc`), and takes a worker's descriptors ([`WorkerComm`]).
//!
//! # Nothing left behind
//!
//! Go names its region files `fuzz-*` in the temp directory and removes
//! them on close, so a coordinator killed with `SIGKILL` leaves them there.
//! [`SharedMem::anonymous`] is the region that cannot leak: a sealed memfd,
//! or a file unlinked as soon as it is made ([`SharedMem::anonymous_in`]
//! in a directory of your choice). Files that did leak, the crate's own
//! `fuzz-<pid>-<8 hex digits>` ones, are removed by
//! [`remove_orphans`] once their creator is gone.
//!
//! # Go parity
//!
//! | Go (`internal/fuzz`)           | fuzzshm |
//! |--------------------------------|---------|
//! | `sharedMemSize(n)`             | [`region_size`] |
//! | `sharedMemTempFile(n)`         | [`SharedMem::temp_file`], [`SharedMem::temp_file_in`] |
//! | `sharedMemMapFile(f, size, rm)`| [`SharedMem::map_file`] (`unsafe`) |
//! | `getWorkerComm`                | [`SharedMem::from_fd`], [`WorkerComm::from_inherited`] (both `unsafe`) |
//! | `header()`                     | [`Region::header`] |
//! | `valueRef()`                   | [`Region::value`], [`SharedMem::value_mut`] |
//! | `valueCopy()`                  | [`Region::value_copy`] |
//! | `setValue(b)`                  | [`SharedMem::set_value`] (an error, not a panic, when too big) |
//! | `setValueLen(n)`               | [`SharedMem::set_value_len`] |
//! | `Close()`                      | [`SharedMem::close`], and `Drop` |
//! | `setWorkerComm`                | [`CoordinatorComm::spawn`] (cannot hang), [`set_worker_comm`], [`CoordinatorComm::attach`] |
//! | Windows `CreateFileMapping`    | not planned: rustix has no Windows mapping |
//!
//! # Safety model
//!
//! Within this process, safe code cannot cause undefined behaviour. Writes
//! need `&mut SharedMem`, so no reference into the value is alive while it
//! is written; [`SharedMem`] derefs only to `&Region`, so no safe code can
//! swap a mapping away from the descriptor it belongs to. What safe code
//! cannot see is a second mapping of the same file in this process: one
//! mapping's [`Region::value`] and the other's [`SharedMem::value_mut`]
//! would be a `&[u8]` and a `&mut [u8]` over the same bytes. So creating a
//! region ([`SharedMem::temp_file`], [`SharedMem::temp_file_in`],
//! `SharedMem::memfd`, [`SharedMem::anonymous`], [`SharedMem::anonymous_in`])
//! is safe, and adopting a descriptor that may already
//! be mapped here ([`SharedMem::from_fd`], [`SharedMem::map_file`],
//! [`WorkerComm::from_inherited`], [`WorkerComm::from_raw_fds`]) is
//! `unsafe`, with that as its contract, as memmap2's file mappings are.
//! The same holds under AddressSanitizer: the poisoning never reports a
//! byte of a live slice (see [AddressSanitizer](#addresssanitizer)).
//! [`WorkerComm::from_inherited`] also takes ownership of fds 3, 4 and 5:
//! its contract is that nothing else in this process owns them.
//!
//! Other processes are not bound by Rust's rules, and what they may do is
//! the rest of the contract. fuzzshm assumes exactly this of a peer:
//!
//! 1. **It may write any byte of the header, at any time.** Every header
//!    field is an atomic, so a `&Header` never claims the bytes are frozen
//!    and a racing write is an atomic race, not UB. `valueLen` is never
//!    trusted: [`Region::value`] checks it against the region's own size,
//!    fixed when it was mapped, and a negative or too-large value is
//!    [`Error::CorruptValueLen`], never a panic or an out-of-bounds read.
//!    Any `rawInMem` byte other than 0 reads as `true`.
//! 2. **It writes the value bytes only on its turn.** Go's protocol hands
//!    the region back and forth by pipe messages, and only the side whose
//!    turn it is touches the value. A `&[u8]` from [`Region::value`] or a
//!    `&mut [u8]` from [`SharedMem::value_mut`] is valid on that basis, as a
//!    `&[u8]` over a file is in memmap2. This is the one promise fuzzshm
//!    cannot check. A peer that breaks it changes bytes under a live
//!    reference, which is undefined behaviour by Rust's rules: the compiler
//!    may assume those bytes unchanged, so this process can act on values
//!    that were never there together. What that undefined behaviour cannot
//!    do is reach outside the mapping: no bound is ever read from shared
//!    memory, so every access stays inside it.
//! 3. **It may grow the file, and must not shrink it.** A grown file keeps
//!    our mapping as it was until [`SharedMem::remap`]. Shrinking a file
//!    under a mapping makes touching the lost pages raise `SIGBUS`, which no
//!    library can prevent for plain files; `SharedMem::memfd` regions are
//!    sealed with `F_SEAL_SHRINK`, so there the kernel refuses it.
//!    [`SharedMem::resize`] itself never shrinks.
//!
//! # Faults
//!
//! Every descriptor fuzzshm opens, or takes with
//! [`WorkerComm::from_inherited`], is close-on-exec: a child gets a region
//! only through [`CoordinatorComm::spawn`] or [`set_worker_comm`], and
//! after [`CoordinatorComm::spawn`] this process keeps no copy of the
//! worker's pipe ends, so a worker's death is end of stream on `fuzz_out`.
//! The system's limits are errors, not signals: `RLIMIT_FSIZE` is `EFBIG`
//! (never `SIGXFSZ`), a file system without room is `ENOSPC` from
//! [`SharedMem::set_value`] and
//! [`SharedMem::set_value_len`] (which reserve the storage they are about
//! to write, header included, never `SIGBUS`; writers outside the crate,
//! header stores before either call included, are covered by
//! [`SharedMem::reserve_whole`]), and a refused
//! [`SharedMem::resize`] leaves the file and the mapping exactly as they
//! were. A call that took a region and fails hands it back
//! ([`RegionError`]): it may hold the input that crashed a worker.
//!
//! Writes are crash-consistent: [`SharedMem::set_value`] withdraws the old
//! length, copies the bytes, then publishes the new length with release
//! ordering ([`Header::value_len`] loads it with acquire), so a writer
//! killed at any instant never leaves a length covering bytes it did not
//! write in that round.
//!
//! # AddressSanitizer
//!
//! Under AddressSanitizer (the crate built with `-Zsanitizer=address`, as
//! cargo-fuzz does, or the C library in a program carrying the ASan
//! runtime), bytes of the value area past `valueLen` are poisoned in this
//! process's shadow memory, so a target that reads past its input is
//! reported as a use-after-poison, as with libFuzzer's exact-size copy;
//! [`asan_poisoning`] says whether it is on. Shadow memory is per process:
//! a peer's writes change nothing in it. No report ever falls on a byte of
//! a slice that is still alive, so safe code Rust accepts is never
//! reported; within that, what is caught:
//!
//! - **After a `&mut` method**, which no slice of the region outlives
//!   ([`SharedMem::set_value`], [`SharedMem::set_value_len`],
//!   [`SharedMem::value_mut`]), every byte past the value is poisoned
//!   (but those in the area's last 8-byte granule, if its end splits one:
//!   ASan cannot poison part of a granule whose tail is addressable). A
//!   worker that takes each input with [`SharedMem::value_mut`] has every
//!   over-read reported, whatever length its peer stored.
//! - **[`Region::value`] and [`Region::value_buffer`]** take `&self`: a
//!   slice from an earlier call may still be read, and a peer may have
//!   shortened the value under it since. So they only make bytes
//!   addressable, never poison: after them, the bytes past the longest
//!   value handed out since the last `&mut` method (rounded up to a whole
//!   8-byte granule) stay poisoned, and over-reads below that go
//!   unreported. A new mapping (every constructor, [`SharedMem::resize`],
//!   [`SharedMem::remap`]) starts with nothing poisoned (poisoning costs
//!   shadow memory in proportion to what it covers): a worker that reads
//!   its inputs only through [`Region::value`] has none of their
//!   over-reads reported.
//! - **The C library's `fuzzshm_value`** poisons as the `&mut` methods
//!   do: its contract is that a pointer from an earlier call is read only
//!   up to the length the latest call returned.
//! - **Nothing waits.** The shadow's state is one atomic word and there is
//!   no lock, so a forked child (which has only the thread that forked)
//!   never waits for a thread of its parent, whatever the parent's threads
//!   were doing: it reads, drops and closes its regions as any process
//!   does. [`Region::value`] and [`Region::value_buffer`] allocate nothing
//!   and may be called from a signal handler, also one that interrupted its
//!   own thread inside either of them on the same region: the handler's
//!   bytes are addressable, and the interrupted call's too when it resumes.
//!   A handler cannot interrupt a `&mut` method of the same region without
//!   a second reference to it, which safe code cannot have. In C, a handler
//!   calling `fuzzshm_value` on a handle whose call it interrupted breaks
//!   the header's one-caller-at-a-time rule: it never hangs, but it may
//!   see a false report.
//!
//! Without ASan and without the C library (feature `capi`, which checks
//! for the runtime once and keeps a word per region) none of this is
//! compiled.
//!
//! # Platforms
//!
//! Linux, Android and FreeBSD have `SharedMem::memfd`, which
//! [`SharedMem::anonymous`] uses there; Linux resizes with `mremap`. Other
//! Unix systems (macOS, the BSDs) use temp files (unlinked at once for
//! [`SharedMem::anonymous`]) and map-then-unmap resizing. Windows is not
//! supported.
//!
//! # Where things go
//!
//! `src/sys.rs` makes every system call; `build.rs` turns the target into
//! one cfg per kernel facility (`fuzzshm_memfd`, `fuzzshm_mremap`, ...).
//! `src/region.rs` is the pure logic, with no system call.
//!
//! - A backing: a constructor of [`SharedMem`] in `src/shared_mem.rs` over
//!   calls in `src/sys.rs`; one that creates its file joins the safe
//!   constructors of the safety model above; its C twin goes in
//!   `src/capi/exports.rs` and `include/fuzzshm.h`, and its row in the
//!   README's backings table.
//! - A platform: its facilities' cfgs in `build.rs`, and the calls they
//!   gate in `src/sys.rs`.
//! - A C function: `src/capi/exports.rs` and `include/fuzzshm.h`. A new
//!   error is one row of the status table in `src/error.rs`, which gives
//!   the Rust message, the C code and its message; `tests/capi.rs` checks
//!   the header against them.

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// Shared memory here is `mmap` of a file descriptor, through rustix,
// which has no mapping API on other systems: one clear error there, rather
// than a page of them from the modules below.
#[cfg(not(unix))]
compile_error!(
    "fuzzshm supports Unix systems only (Linux, Android, FreeBSD, macOS and the other \
     BSDs): it maps file descriptors through rustix, which has no Windows mapping API"
);

#[cfg(all(unix, feature = "capi"))]
mod capi;
#[cfg(all(unix, feature = "std"))]
mod coordinator;
#[cfg(unix)]
mod copy;
#[cfg(unix)]
mod error;
#[cfg(unix)]
mod header;
#[cfg(all(unix, fuzzshm_list_dir))]
mod orphans;
#[cfg(all(unix, any(feature = "std", feature = "capi")))]
mod placement;
#[cfg(unix)]
mod region;
#[cfg(unix)]
mod shadow;
#[cfg(unix)]
mod shared_mem;
#[cfg(unix)]
mod sys;
#[cfg(unix)]
mod temp_file;
#[cfg(unix)]
mod worker;

#[cfg(all(unix, feature = "std"))]
pub use coordinator::{
    is_crash_signal, read_answer, set_worker_comm, Answer, CoordinatorComm, RegionError,
};
#[cfg(unix)]
pub use copy::plan::{copy_plan, set_copy_plan, CopyPlan, CopyRow, Cpu, COPY_FALLBACK, COPY_TABLE};
#[cfg(unix)]
pub use error::{Errno, Error, FileMode, Result};
#[cfg(unix)]
pub use header::{offsets, region_size, Header, HEADER_SIZE};
#[cfg(all(unix, feature = "std"))]
pub use orphans::remove_orphans;
#[cfg(all(unix, fuzzshm_list_dir))]
pub use orphans::remove_orphans_in;
#[cfg(unix)]
pub use region::Region;
#[cfg(unix)]
pub use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
#[cfg(unix)]
pub use shadow::asan_poisoning;
#[cfg(unix)]
pub use shared_mem::SharedMem;
#[cfg(unix)]
pub use worker::{WorkerComm, FUZZ_IN_FD, FUZZ_OUT_FD, MEM_FD};

/// The README's examples, run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
