//! The functions `include/fuzzshm.h` declares, but `fuzzshm_strerror`
//! (with the status codes, in `status.rs`): each checks its pointers and
//! its handle (`handle.rs`), then calls the Rust API.

use core::ffi::{c_char, c_int, CStr};
use core::mem::MaybeUninit;
use core::ptr;

use rustix::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::handle::{construct, install, open_mut, open_ref, refusal, take, Handle};
use super::status::{status, status_of, FUZZSHM_ENULL};
use crate::error::{Error, Result};
use crate::header::{region_size, Header, HEADER_SIZE};
use crate::shared_mem::SharedMem;
use crate::worker::WorkerComm;

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
    let (calls, answers, parked) = match crate::placement::worker_pipes(mem.as_fd()) {
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
    parked: &crate::placement::Parked,
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
    unsafe { take(mem) }.map_or_else(|code| code, |region| status(region.close()))
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
/// zero. Under AddressSanitizer the bytes past the value are poisoned, as
/// by the `&mut` methods.
///
/// # Safety
///
/// As [`fuzzshm_close`]; `data` and `len` null or valid for writes. Under
/// AddressSanitizer, a pointer from an earlier call is read only up to the
/// length this call returns.
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
    let value = unsafe { open_ref(mem) }.and_then(|mem| {
        // SAFETY: by the caller's contract, an earlier call's pointer is
        // read only up to the length this one returns.
        unsafe { mem.value_exact() }.map_err(status_of)
    });
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
