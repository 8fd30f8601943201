//! The C ABI (feature `capi`): the functions `include/fuzzshm.h` declares,
//! for C and C++ fuzz runtimes that link fuzzshm as a static library.
//!
//! The conventions, which the header repeats for its readers:
//!
//! - **Handles live in the caller's storage.** `fuzzshm_t` is an opaque
//!   block of [`HANDLE_SIZE`] bytes, 8-aligned, on the caller's stack, in a
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
//!   `FUZZSHM_E*` code (one per [`Error`] variant, plus [`FUZZSHM_ENULL`],
//!   [`FUZZSHM_ECLOSED`] and [`FUZZSHM_EOPEN`]), or `-errno` from the system
//!   call that failed, so the errno is kept without a thread-local.
//! - **Null pointers are refused** with `FUZZSHM_ENULL`, never dereferenced.
//! - **No panic crosses the boundary**: nothing here panics on any input
//!   (every bad number is an [`Error`]), the staticlib is built with
//!   `panic = "abort"`, and an `extern "C"` function aborts rather than
//!   unwind in any case.

#![deny(clippy::multiple_unsafe_ops_per_block)]

use core::ffi::{c_char, c_int, CStr};
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr;

use rustix::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use static_assertions::const_assert;

use crate::error::{status_table, Error, Result};
use crate::header::{region_size, Header, HEADER_SIZE};
use crate::shared_mem::SharedMem;
use crate::worker_comm::WorkerComm;

/// Bytes a C caller reserves for a handle: `sizeof(fuzzshm_t)`. Room to
/// spare, so the handle can grow without changing the ABI.
pub const HANDLE_SIZE: usize = 128;
/// The alignment of `fuzzshm_t`.
pub const HANDLE_ALIGN: usize = 8;

/// Generates, from the status table, the `FUZZSHM_E*` constants, [`STATUSES`],
/// [`status_of`] and the messages of [`fuzzshm_strerror`].
macro_rules! c_statuses {
    (
        c_only { $($c_name:ident = $c_number:literal, $c_message:literal;)* }
        errors { $($variant:ident => $name:ident = $number:literal, $message:literal;)* }
    ) => {
        $(
            #[doc = concat!("Status ", $c_number, ": ", $c_message, ".")]
            pub const $c_name: c_int = $c_number;
        )*
        $(
            #[doc = concat!(
                "Status ", $number, ": ", $message,
                " ([`Error::", stringify!($variant), "`])."
            )]
            pub const $name: c_int = $number;
        )*

        /// Every `FUZZSHM_E*` status code, by its C name, in the order of
        /// the status table; `fuzzshm_strerror` gives each one's message.
        pub const STATUSES: &[(&str, c_int)] = &[
            $((stringify!($c_name), $c_name),)*
            $((stringify!($name), $name),)*
        ];

        /// The status code for an error: a `FUZZSHM_E*` code or `-errno`.
        fn status_of(error: Error) -> c_int {
            match error {
                Error::Os { errno, .. } => -errno.raw_os_error(),
                $(Error::$variant { .. } => $name,)*
            }
        }

        /// The status table's message for a positive status, NUL-terminated.
        fn message_of(status: c_int) -> Option<&'static str> {
            match status {
                $($c_name => Some(concat!($c_message, "\0")),)*
                $($name => Some(concat!($message, "\0")),)*
                _ => None,
            }
        }
    };
}
status_table!(c_statuses);

/// What a `fuzzshm_t` holds: an open marker, then the region.
#[repr(C)]
pub struct Handle {
    /// [`open_marker`] of the handle's own address while `mem` holds a live
    /// region; anything else means not open.
    state: u64,
    mem: MaybeUninit<SharedMem>,
}

/// The pattern of an open handle, before it is tied to an address. A
/// 64-bit pattern, so storage that was zeroed, closed or never filled does
/// not pass for an open handle by chance.
const OPEN: u64 = 0x6675_7a7a_7368_6d21; // "fuzzshm!"

/// The `state` of an open handle stored at `handle`: [`OPEN`] tied to that
/// address, so that a byte-for-byte copy of an open handle elsewhere (a C
/// struct assignment) reads as not open and cannot close the original's
/// region a second time.
fn open_marker(handle: *const Handle) -> u64 {
    OPEN ^ handle as usize as u64
}

/// Whether the handle at `handle` is open: its state is the marker of its
/// own address.
///
/// # Safety
///
/// `handle` is non-null and valid for reads of a `Handle`.
unsafe fn is_open(handle: *const Handle) -> bool {
    // SAFETY: the caller's contract; `state` is the first field of the
    // `repr(C)` `Handle`, so at its address, and a `u64` has no invalid bit
    // pattern. (Storage C never initialised is indeterminate in C's terms;
    // across the FFI boundary it is read as the bytes it holds.)
    let state = unsafe { handle.cast::<u64>().read() };
    state == open_marker(handle)
}

const_assert!(size_of::<Handle>() <= HANDLE_SIZE);
const_assert!(align_of::<Handle>() <= HANDLE_ALIGN);

fn status(result: Result<()>) -> c_int {
    result.map_or_else(status_of, |()| 0)
}

/// Fills `out` with the outcome of a constructor; a failure leaves it
/// closed, so a later call on it is refused rather than misread.
///
/// # Safety
///
/// `out` is non-null and valid for writes of a `Handle`.
unsafe fn install(out: *mut Handle, made: Result<SharedMem>) -> c_int {
    let (state, mem, code) = match made {
        Ok(mem) => (open_marker(out), MaybeUninit::new(mem), 0),
        Err(error) => (0, MaybeUninit::uninit(), status_of(error)),
    };
    // SAFETY: the caller's contract; `write` does not read (or drop) what
    // the storage held before, which may be uninitialised.
    unsafe { out.write(Handle { state, mem }) };
    code
}

/// Why a constructor must not fill `out`: it is null (`FUZZSHM_ENULL`) or
/// holds an open handle that filling it would leak (`FUZZSHM_EOPEN`).
///
/// # Safety
///
/// `out` is null or valid for reads of a `Handle`.
unsafe fn refusal(out: *const Handle) -> Option<c_int> {
    if out.is_null() {
        Some(FUZZSHM_ENULL)
    // SAFETY: non-null, and valid for reads by the caller's contract.
    } else if unsafe { is_open(out) } {
        Some(FUZZSHM_EOPEN)
    } else {
        None
    }
}

/// Runs a constructor into `out`, unless `out` is null or open; `make` is
/// then dropped uncalled (with any descriptor it owns).
///
/// # Safety
///
/// `out` is null or valid for reads and writes of a `Handle`.
unsafe fn construct(out: *mut Handle, make: impl FnOnce() -> Result<SharedMem>) -> c_int {
    // SAFETY: the caller's contract.
    if let Some(code) = unsafe { refusal(out) } {
        return code;
    }
    // SAFETY: non-null (checked by `refusal`), and valid for writes by the
    // caller's contract.
    unsafe { install(out, make()) }
}

/// The region of an open handle, for reading.
///
/// # Safety
///
/// `handle` is null or points to a `fuzzshm_t` that a constructor filled,
/// that is zeroed, or that is a copy of either (but not the bytes of a
/// handle since closed, written back to their own address), and no `&mut`
/// to it is alive.
unsafe fn open_ref<'a>(handle: *const Handle) -> core::result::Result<&'a SharedMem, c_int> {
    let address = handle;
    // SAFETY: null is checked by `as_ref`; otherwise the caller's contract.
    match unsafe { handle.as_ref() } {
        None => Err(FUZZSHM_ENULL),
        Some(handle) if handle.state == open_marker(address) => {
            // SAFETY: the marker of this address is only ever stored at it
            // together with a live region (a copy elsewhere fails the check).
            Ok(unsafe { handle.mem.assume_init_ref() })
        }
        Some(_) => Err(FUZZSHM_ECLOSED),
    }
}

/// The region of an open handle, for writing.
///
/// # Safety
///
/// As [`open_ref`], and no other reference to the handle is alive.
unsafe fn open_mut<'a>(handle: *mut Handle) -> core::result::Result<&'a mut SharedMem, c_int> {
    let address = handle.cast_const();
    // SAFETY: null is checked by `as_mut`; otherwise the caller's contract.
    match unsafe { handle.as_mut() } {
        None => Err(FUZZSHM_ENULL),
        Some(handle) if handle.state == open_marker(address) => {
            // SAFETY: the marker of this address is only ever stored at it
            // together with a live region (a copy elsewhere fails the check).
            Ok(unsafe { handle.mem.assume_init_mut() })
        }
        Some(_) => Err(FUZZSHM_ECLOSED),
    }
}

/// Takes ownership of a descriptor number, refusing a negative one with
/// the `EBADF` of `fstat`, the first call made on it.
fn owned_fd(fd: RawFd) -> Result<OwnedFd> {
    if fd < 0 {
        return Err(Error::Os {
            call: "fstat",
            errno: rustix::io::Errno::BADF,
        });
    }
    // SAFETY: non-negative, and the C caller hands its ownership over (the
    // contract of every function that calls this).
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `sharedMemSize(capacity)`: the size of a region holding `capacity`
/// value bytes, or 0 if it would not fit in the address space.
#[no_mangle]
pub extern "C" fn fuzzshm_region_size(capacity: usize) -> usize {
    region_size(capacity).unwrap_or(0)
}

/// [`SharedMem::temp_file`]: a region of `capacity` value bytes in a new
/// `fuzz-*` file in `$TMPDIR` (or `/tmp` if it is unset or empty), removed
/// on close.
///
/// # Safety
///
/// `out` is null or valid for reads and writes of `fuzzshm_t` (an open
/// handle there is refused with `FUZZSHM_EOPEN`, not leaked).
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_temp_file(out: *mut Handle, capacity: usize) -> c_int {
    // SAFETY: the caller's contract, passed on.
    unsafe { construct(out, || SharedMem::create_at(temp_dir(), capacity)) }
}

/// `$TMPDIR` if set and not empty, else `/tmp`, as the C library sees it.
fn temp_dir() -> &'static CStr {
    // SAFETY: a NUL-terminated name; `getenv` returns null or a
    // NUL-terminated string that stays valid until the environment changes,
    // and it is used only before this function's caller returns.
    let tmpdir = unsafe { libc::getenv(c"TMPDIR".as_ptr()) };
    // SAFETY: as above: null is checked, otherwise NUL-terminated.
    match unsafe { tmpdir.as_ref() }.map(|first| unsafe { CStr::from_ptr(first) }) {
        Some(dir) if !dir.is_empty() => dir,
        _ => c"/tmp",
    }
}

/// [`SharedMem::temp_file_in`]: as [`fuzzshm_temp_file`], in the directory
/// open as `dir_fd` (borrowed; the handle keeps its own duplicate).
///
/// # Safety
///
/// As [`fuzzshm_temp_file`]; `dir_fd` is an open descriptor or negative.
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_create_in(
    out: *mut Handle,
    dir_fd: c_int,
    capacity: usize,
) -> c_int {
    let make = || {
        if dir_fd < 0 {
            return Err(Error::Os {
                call: "fcntl(F_DUPFD_CLOEXEC)",
                errno: rustix::io::Errno::BADF,
            });
        }
        // SAFETY: non-negative, so an open descriptor by the caller's
        // contract; borrowed for this call only, and the caller keeps it open.
        let dir = unsafe { rustix::fd::BorrowedFd::borrow_raw(dir_fd) };
        SharedMem::temp_file_in(dir, capacity)
    };
    // SAFETY: the caller's contract, passed on.
    unsafe { construct(out, make) }
}

/// [`SharedMem::memfd`]: a region of `capacity` value bytes in a sealed
/// memfd. `-ENOSYS` where the system has no memfd.
///
/// # Safety
///
/// As [`fuzzshm_temp_file`].
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_memfd(out: *mut Handle, capacity: usize) -> c_int {
    #[cfg(fuzzshm_memfd)]
    let make = || SharedMem::memfd(capacity);
    #[cfg(not(fuzzshm_memfd))]
    let make = || {
        let _no_memfd_for_any = capacity;
        Err(Error::Os {
            call: "memfd_create",
            errno: rustix::io::Errno::NOSYS,
        })
    };
    // SAFETY: the caller's contract, passed on.
    unsafe { construct(out, make) }
}

/// [`SharedMem::anonymous`]: a region of `capacity` value bytes that
/// leaves nothing behind if the process dies: a sealed memfd (Linux,
/// Android, FreeBSD), else a file in `$TMPDIR` (or `/tmp`) unlinked as soon
/// as it is created.
///
/// # Safety
///
/// As [`fuzzshm_temp_file`].
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_anonymous(out: *mut Handle, capacity: usize) -> c_int {
    #[cfg(fuzzshm_memfd)]
    let make = || SharedMem::anonymous(capacity);
    #[cfg(not(fuzzshm_memfd))]
    let make = || SharedMem::anonymous_at(temp_dir(), capacity);
    // SAFETY: the caller's contract, passed on.
    unsafe { construct(out, make) }
}

/// [`SharedMem::from_fd`]: maps the whole file or memfd `fd`, as a worker
/// maps the region it inherits. Takes ownership of `fd`: it is closed on
/// close, and on failure too, refusals of `out` (`FUZZSHM_ENULL`,
/// `FUZZSHM_EOPEN`) included (a negative `fd` is refused with `-EBADF`).
///
/// # Safety
///
/// As [`fuzzshm_temp_file`]; `fd` is negative or an open descriptor the
/// caller owns and gives up; no other mapping of its file (another handle
/// over a duplicate of it, an `mmap` of the caller's) is alive in this
/// process while the handle is open.
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_from_fd(out: *mut Handle, fd: c_int) -> c_int {
    // Owned before `out` is looked at, so that a refused `out` closes it.
    let fd = owned_fd(fd);
    let make = move || {
        // SAFETY: the caller's contract, passed on: no other mapping of the
        // file is alive in this process.
        unsafe { SharedMem::from_fd(fd?) }
    };
    // SAFETY: `out` is null or valid for reads and writes (the caller's
    // contract).
    unsafe { construct(out, make) }
}

/// [`SharedMem::map_file`]: maps the first `size` bytes (header included)
/// of `fd`. Ownership of `fd` as for [`fuzzshm_from_fd`].
///
/// # Safety
///
/// As [`fuzzshm_from_fd`].
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_map_file(out: *mut Handle, fd: c_int, size: usize) -> c_int {
    // Owned before `out` is looked at, so that a refused `out` closes it.
    let fd = owned_fd(fd);
    let make = move || {
        // SAFETY: the caller's contract, passed on: no other mapping of the
        // file is alive in this process.
        unsafe { SharedMem::map_file(fd?, size) }
    };
    // SAFETY: `out` is null or valid for reads and writes (the caller's
    // contract).
    unsafe { construct(out, make) }
}

/// [`WorkerComm::from_inherited`]: a worker takes fds 3 (`fuzz_in`), 4
/// (`fuzz_out`) and 5 (the region), as a Go worker does. On success the
/// region is in `mem`, and the pipe descriptors, now the caller's, in
/// `*fuzz_in` and `*fuzz_out`, all three close-on-exec. Once per process
/// (`FUZZSHM_EALREADY_TAKEN`). On failure fds 3, 4 and 5 are left open,
/// as they were, and a later call may take them.
///
/// # Safety
///
/// `mem` as `out` of [`fuzzshm_temp_file`]; `fuzz_in` and `fuzz_out` null
/// or valid for writes of an `int`; fds 3, 4 and 5 were inherited for the
/// worker protocol and nothing else in this process uses them (the
/// contract of [`WorkerComm::from_inherited`]).
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_worker_comm(
    mem: *mut Handle,
    fuzz_in: *mut c_int,
    fuzz_out: *mut c_int,
) -> c_int {
    if fuzz_in.is_null() || fuzz_out.is_null() {
        return FUZZSHM_ENULL;
    }
    // SAFETY: `mem` is null or valid for reads (the caller's contract).
    if let Some(code) = unsafe { refusal(mem) } {
        return code;
    }
    // SAFETY: the caller's contract is `from_inherited`'s.
    let comm = unsafe { WorkerComm::from_inherited() };
    let made = comm.map(|comm| {
        // SAFETY: non-null (checked above), and valid for writes of an
        // `int` by the caller's contract.
        unsafe { fuzz_in.write(into_raw(comm.fuzz_in)) };
        // SAFETY: as for `fuzz_in`.
        unsafe { fuzz_out.write(into_raw(comm.fuzz_out)) };
        comm.mem
    });
    // SAFETY: non-null, and valid for writes by the caller's contract.
    unsafe { install(mem, made) }
}

fn into_raw(fd: OwnedFd) -> RawFd {
    rustix::fd::IntoRawFd::into_raw_fd(fd)
}

/// [`CoordinatorComm::spawn`](crate::CoordinatorComm::spawn) for C:
/// `pipe` twice, then `posix_spawnp`—Starts `argv[0]` (searched in `PATH`
/// if it has no slash) with the arguments `argv` and the environment
/// `envp`, its ends of two new pipes at fds 3 and 4 and the region of
/// `mem` at fd 5. On success `*pid` is the worker's, `*fuzz_in` the write
/// end of its calls and `*fuzz_out` the read end of its answers, both the
/// caller's and close-on-exec; this process keeps no other copy of the
/// worker's ends (the parked duplicates are closed before this returns),
/// so the worker's death is end of stream on `*fuzz_out`.
///
/// `mem` is borrowed, never closed: it stays open and the caller's on
/// success and on failure alike, since it may hold the input that
/// crashed the last worker. On failure nothing is written to the
/// out-parameters and no descriptor of the attempt stays open (fds 3-5,
/// if they were free, keep the `/dev/null` that fills them, as in Rust).
///
/// # Safety
///
/// `argv` and `envp` are null or null-terminated arrays of NUL-terminated
/// strings; `mem` as for [`fuzzshm_close`]; `pid`, `fuzz_in` and
/// `fuzz_out` null or valid for writes.
#[cfg(not(target_os = "android"))]
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_spawn(
    argv: *const *const c_char,
    envp: *const *const c_char,
    mem: *const Handle,
    pid: *mut libc::pid_t,
    fuzz_in: *mut c_int,
    fuzz_out: *mut c_int,
) -> c_int {
    if [argv, envp].iter().any(|array| array.is_null())
        || pid.is_null()
        || fuzz_in.is_null()
        || fuzz_out.is_null()
    {
        return FUZZSHM_ENULL;
    }
    // SAFETY: non-null, so a null-terminated array (the caller's
    // contract), which has at least its first element.
    if unsafe { argv.read() }.is_null() {
        return FUZZSHM_ENULL;
    }
    // SAFETY: the caller's contract.
    let mem = match unsafe { open_ref(mem) } {
        Ok(mem) => mem,
        Err(code) => return code,
    };
    let (calls, answers, parked) = match crate::worker_comm::worker_pipes(mem.as_fd()) {
        Ok(pipes) => pipes,
        Err(error) => return status_of(error),
    };
    // SAFETY: `argv` and `envp` as the caller's contract says.
    let spawned = unsafe { spawn_placed(&parked, argv, envp) };
    // The child has its own copies now, or there is no child.
    drop(parked);
    match spawned {
        Ok(child) => {
            // SAFETY: each non-null (checked above), and valid for writes
            // by the caller's contract.
            unsafe { pid.write(child) };
            // SAFETY: as for `pid`.
            unsafe { fuzz_in.write(into_raw(calls)) };
            // SAFETY: as for `pid`.
            unsafe { fuzz_out.write(into_raw(answers)) };
            0
        }
        Err(error) => status_of(error),
    }
}

/// `posix_spawnp` with file actions that `dup2` the parked descriptors to
/// fds 3, 4 and 5 (the same placements as the Rust spawn's `pre_exec`);
/// the child's pid.
///
/// # Safety
///
/// `argv` and `envp` are non-null, null-terminated arrays of
/// NUL-terminated strings, `argv[0]` not null.
#[cfg(not(target_os = "android"))]
unsafe fn spawn_placed(
    parked: &crate::worker_comm::Parked,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> Result<libc::pid_t> {
    let failed = |call, code| Error::Os {
        call,
        errno: rustix::io::Errno::from_raw_os_error(code),
    };
    let mut actions = MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
    // SAFETY: `init` fills the storage it is given.
    let code = unsafe { libc::posix_spawn_file_actions_init(actions.as_mut_ptr()) };
    if code != 0 {
        return Err(failed("posix_spawn_file_actions_init", code));
    }
    let actions = actions.as_mut_ptr();
    let spawn = || {
        for (source, target) in parked.placements() {
            // SAFETY: `actions` was initialised above and not destroyed yet.
            let code = unsafe {
                libc::posix_spawn_file_actions_adddup2(actions, source.as_raw_fd(), target)
            };
            if code != 0 {
                return Err(failed("posix_spawn_file_actions_adddup2", code));
            }
        }
        let mut child = 0;
        // SAFETY: non-null with a first element (the caller's contract).
        let program = unsafe { argv.read() };
        // SAFETY: `actions` is initialised; `argv` and `envp` as the
        // caller's contract says (`posix_spawnp` reads them only);
        // `program` is `argv[0]`.
        let code = unsafe {
            libc::posix_spawnp(
                &mut child,
                program,
                actions,
                ptr::null(),
                argv.cast(),
                envp.cast(),
            )
        };
        if code != 0 {
            return Err(failed("posix_spawnp", code));
        }
        Ok(child)
    };
    let spawned = spawn();
    // SAFETY: initialised above, and destroyed only here.
    unsafe { libc::posix_spawn_file_actions_destroy(actions) };
    spawned
}

/// [`SharedMem::close`]: unmaps, closes the descriptor and removes the file
/// if this process created it; the handle is closed even when one of those
/// fails (the status is the first failure).
///
/// # Safety
///
/// `mem` is null, zeroed, a handle a constructor filled, or a copy of one
/// (refused: only the original is open); no pointer from
/// [`fuzzshm_header`], [`fuzzshm_value`] or [`fuzzshm_value_buffer`] is used
/// afterwards.
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_close(mem: *mut Handle) -> c_int {
    // SAFETY: the caller's contract.
    if let Err(code) = unsafe { open_mut(mem) } {
        return code;
    }
    // SAFETY: `open_mut` checked `mem` is non-null, and it points to a
    // handle no other reference reaches (the caller's contract).
    let handle = unsafe { &mut *mem };
    handle.state = 0;
    // SAFETY: the state was the open marker of this address (checked by
    // `open_mut`), so `mem` holds a live region; the state is now closed,
    // so it is read out only once.
    let region = unsafe { handle.mem.assume_init_read() };
    status(region.close())
}

/// [`Region::header`](crate::Region::header): the header, valid until
/// `mem` is closed, remapped or resized; null if `mem` is null or closed.
///
/// # Safety
///
/// As [`fuzzshm_close`].
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_header(mem: *const Handle) -> *mut Header {
    // SAFETY: the caller's contract.
    unsafe { open_ref(mem) }.map_or(ptr::null_mut(), |mem| {
        ptr::from_ref(mem.header()).cast_mut()
    })
}

/// [`Region::value`](crate::Region::value): the value's address and length,
/// refused with `FUZZSHM_ECORRUPT_VALUE_LEN` if the header's `valueLen` is
/// negative or beyond the capacity. On any error `*data` is null and `*len`
/// zero.
///
/// # Safety
///
/// As [`fuzzshm_close`]; `data` and `len` null or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_value(
    mem: *const Handle,
    data: *mut *const u8,
    len: *mut usize,
) -> c_int {
    if data.is_null() || len.is_null() {
        return FUZZSHM_ENULL;
    }
    // SAFETY: the caller's contract.
    let value = unsafe { open_ref(mem) }.and_then(|mem| mem.value().map_err(status_of));
    let value = value.map(|value| (value.as_ptr(), value.len()));
    // SAFETY: both non-null, and valid for writes by the caller's contract.
    unsafe { write_span(value, ptr::null(), data, len) }
}

/// [`SharedMem::value_buffer_mut`]: the whole value area, `*capacity`
/// bytes, to write an input in place before [`fuzzshm_set_value_len`]. On
/// error `*data` is null and `*capacity` zero.
///
/// # Safety
///
/// As [`fuzzshm_value`].
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_value_buffer(
    mem: *mut Handle,
    data: *mut *mut u8,
    capacity: *mut usize,
) -> c_int {
    if data.is_null() || capacity.is_null() {
        return FUZZSHM_ENULL;
    }
    // SAFETY: the caller's contract.
    let buffer = unsafe { open_mut(mem) }.map(|mem| {
        let buffer = mem.value_buffer_mut();
        (buffer.as_mut_ptr(), buffer.len())
    });
    // SAFETY: both non-null, and valid for writes by the caller's contract.
    unsafe { write_span(buffer, ptr::null_mut(), data, capacity) }
}

/// Writes a span's address and length to the caller's out-parameters, or
/// `null` and 0 on error; returns the status.
///
/// # Safety
///
/// `data` and `len` are valid for writes.
unsafe fn write_span<P>(
    span: core::result::Result<(P, usize), c_int>,
    null: P,
    data: *mut P,
    len: *mut usize,
) -> c_int {
    let (address, length, code) = match span {
        Ok((address, length)) => (address, length, 0),
        Err(code) => (null, 0, code),
    };
    // SAFETY: valid for writes (the caller's contract).
    unsafe { data.write(address) };
    // SAFETY: valid for writes (the caller's contract).
    unsafe { len.write(length) };
    code
}

/// [`SharedMem::set_value`]: copies `len` bytes from `data` in as the
/// value, crash-consistently. `data` may point into the region's own value
/// area (the bytes are moved), and may be null when `len` is 0. A source
/// overlapping the region's header is refused with `-EINVAL`: `valueLen`
/// is withdrawn (zeroed) before the copy, which would read that zero.
/// `FUZZSHM_EVALUE_TOO_LARGE` leaves the region unchanged, as `-EINVAL` does.
///
/// # Safety
///
/// As [`fuzzshm_close`]; `data` is null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_set_value(mem: *mut Handle, data: *const u8, len: usize) -> c_int {
    // SAFETY: the caller's contract.
    let mem = match unsafe { open_mut(mem) } {
        Ok(mem) => mem,
        Err(code) => return code,
    };
    if data.is_null() {
        return if len == 0 {
            status(mem.set_value(&[]))
        } else {
            FUZZSHM_ENULL
        };
    }
    let header = ptr::from_ref(mem.header()) as usize;
    let source = data as usize;
    if source < header.wrapping_add(HEADER_SIZE) && header < source.wrapping_add(len) {
        return -libc::EINVAL;
    }
    // SAFETY: `data` is valid for reads of `len` bytes (the caller's
    // contract), and C holds no Rust reference into them.
    status(unsafe { mem.set_value_from(data, len) })
}

/// [`asan_poisoning`](crate::asan_poisoning): 1 if this program carries
/// the AddressSanitizer runtime, so that the bytes past each value are
/// poisoned and a target reading past its input is reported; 0 if not.
#[no_mangle]
pub extern "C" fn fuzzshm_asan_poisoning() -> c_int {
    c_int::from(crate::asan_poisoning())
}

/// [`SharedMem::reserve_whole`]: reserves the file's storage for the whole
/// value area, now and after every resize, for writers outside the library.
///
/// # Safety
///
/// As [`fuzzshm_close`].
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_reserve_whole(mem: *mut Handle) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { open_mut(mem) }.map_or_else(|code| code, |mem| status(mem.reserve_whole()))
}

/// [`SharedMem::set_value_len`]: publishes `len` as the value length after
/// the bytes were written through [`fuzzshm_value_buffer`].
///
/// # Safety
///
/// As [`fuzzshm_close`].
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_set_value_len(mem: *mut Handle, len: usize) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { open_mut(mem) }.map_or_else(|code| code, |mem| status(mem.set_value_len(len)))
}

/// [`Region::capacity`](crate::Region::capacity): the value capacity in
/// bytes; 0 if `mem` is null or closed.
///
/// # Safety
///
/// As [`fuzzshm_close`].
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_capacity(mem: *const Handle) -> usize {
    // SAFETY: the caller's contract.
    unsafe { open_ref(mem) }.map_or(0, |mem| mem.capacity())
}

/// The region's descriptor, still owned by the handle (to pass to a
/// worker as fd 5); -1 if `mem` is null or closed.
///
/// # Safety
///
/// As [`fuzzshm_close`].
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_fd(mem: *const Handle) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { open_ref(mem) }.map_or(-1, |mem| mem.as_fd().as_raw_fd())
}

/// [`SharedMem::resize`]: grows the region to `capacity` value bytes,
/// keeping header and value; never shrinks (`FUZZSHM_ESHRINK`). Pointers
/// into the old mapping are invalid afterwards.
///
/// # Safety
///
/// As [`fuzzshm_close`].
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_resize(mem: *mut Handle, capacity: usize) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { open_mut(mem) }.map_or_else(|code| code, |mem| status(mem.resize(capacity)))
}

/// [`SharedMem::remap`]: adopts the file's current size after a peer
/// resized it; `*changed` (if not null) says whether the mapping moved, in
/// which case pointers into the old one are invalid.
///
/// # Safety
///
/// As [`fuzzshm_close`]; `changed` null or valid for writes of an `int`.
#[no_mangle]
pub unsafe extern "C" fn fuzzshm_remap(mem: *mut Handle, changed: *mut c_int) -> c_int {
    // SAFETY: the caller's contract.
    let remapped = match unsafe { open_mut(mem) } {
        Ok(mem) => mem.remap(),
        Err(code) => return code,
    };
    match remapped {
        Ok(moved) => {
            // SAFETY: null is checked; otherwise valid by the caller's contract.
            if let Some(changed) = unsafe { changed.as_mut() } {
                *changed = c_int::from(moved);
            }
            0
        }
        Err(error) => status_of(error),
    }
}

/// A static, NUL-terminated description of a status; for `-errno` it
/// names the class only (use `strerror(-status)` for the rest).
#[no_mangle]
pub extern "C" fn fuzzshm_strerror(status: c_int) -> *const c_char {
    let text = match (status, message_of(status)) {
        (0, _) => "success\0",
        (_, Some(message)) => message,
        (code, None) if code < 0 => "a system call failed; -status is its errno\0",
        (_, None) => "unknown fuzzshm status\0",
    };
    text.as_ptr().cast()
}

/// A `no_std` staticlib needs a panic handler, and the C program linking it
/// has no Rust runtime to supply one. Nothing in fuzzshm panics on any
/// input; should a bug make it, the process aborts at once, as
/// `panic = "abort"` would.
#[cfg(all(not(feature = "std"), not(test)))]
#[panic_handler]
fn abort_on_panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: `abort` has no preconditions and does not return.
    unsafe { libc::abort() }
}

/// The precompiled `core` is built for unwinding and so refers to this
/// symbol, which `std` would define. Under `panic = "abort"` no frame ever
/// unwinds, so it is never called; it exists so that the C program links
/// without nightly's `-Zbuild-std`. Aborts if it ever is called.
#[cfg(all(not(feature = "std"), not(test)))]
#[no_mangle]
extern "C" fn rust_eh_personality() {
    // SAFETY: `abort` has no preconditions and does not return.
    unsafe { libc::abort() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    /// `Display` starts with the message `fuzzshm_strerror` gives for the
    /// error's status: one wording, in Rust and in C.
    #[test]
    fn display_starts_with_the_c_message() {
        let errors = [
            Error::SizeOverflow { capacity: 1 },
            Error::ValueTooLarge {
                len: 2,
                capacity: 1,
            },
            Error::CorruptValueLen {
                value_len: -1,
                capacity: 1,
            },
            Error::TooSmall { size: 1, needed: 2 },
            Error::TooLarge { size: 1 },
            Error::NotRegularFile {
                mode: crate::FileMode(0o40755),
            },
            Error::NotPipe {
                fd: 3,
                mode: crate::FileMode(0),
            },
            Error::ShrinkRefused {
                capacity: 2,
                requested: 1,
            },
            Error::Misaligned { addr: 1, align: 8 },
            Error::NameCollision { attempts: 1 },
            Error::AlreadyTaken,
            Error::NotInherited { fd: 3 },
            Error::SameFd { fd: 3 },
        ];
        let codes: BTreeSet<c_int> = errors.iter().map(|&error| status_of(error)).collect();
        assert_eq!(codes.len(), STATUSES.len() - 3, "an error per code");
        for error in errors {
            let message = message_of(status_of(error)).unwrap();
            let message = message.strip_suffix('\0').unwrap();
            let shown = alloc::format!("{error}");
            assert!(shown.starts_with(message), "{shown:?} against {message:?}");
        }
    }
}
