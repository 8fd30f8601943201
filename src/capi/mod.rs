//! The C ABI (feature `capi`): the functions `include/fuzzshm.h` declares,
//! for C and C++ fuzz runtimes that link fuzzshm as a static library.
//!
//! The conventions, which the header repeats for its readers:
//!
//! - **Handles live in the caller's storage.** `fuzzshm_t` is an opaque
//!   block of `HANDLE_SIZE` bytes, 8-aligned, on the caller's stack, in a
//!   static or in its heap: the library allocates nothing, so it embeds in
//!   runtimes that must not call `malloc`. A constructor fills the block; a
//!   zeroed block, or one whose constructor failed or that was closed, is
//!   *not open*, and every function refuses it with `FUZZSHM_ECLOSED`
//!   rather than touch a mapping that is gone. Closing twice is therefore an
//!   error, not a double `munmap`. The open marker is tied to the block's
//!   own address, so a copy of an open handle (`b = a`) is not open either:
//!   closing it cannot unmap what the original still owns. A constructor
//!   refuses an open handle (`FUZZSHM_EOPEN`) rather than leak it.
//! - **Every fallible function returns an `int` status**: `0`, a positive
//!   `FUZZSHM_E*` code (one per [`Error`](crate::Error) variant, plus
//!   `FUZZSHM_ENULL`, `FUZZSHM_ECLOSED` and `FUZZSHM_EOPEN`), or
//!   `-errno` from the system call that failed, so the errno is kept
//!   without a thread-local.
//! - **Null pointers are refused** with `FUZZSHM_ENULL`, never dereferenced.
//! - **No panic crosses the boundary**: nothing here panics on any input
//!   (every bad number is an [`Error`](crate::Error)), the staticlib is
//!   built with `panic = "abort"`, and an `extern "C"` function aborts
//!   rather than unwind in any case.
//!
//! Its rooms: `handle.rs`, the `fuzzshm_t` storage and the checks every
//! function makes on it; `status.rs`, the status codes and their messages;
//! `exports.rs`, the functions themselves; and without `std`, `panic.rs`,
//! the panic handler a C staticlib needs.

mod exports;
mod handle;
#[cfg(all(not(feature = "std"), not(test)))]
mod panic;
mod status;
