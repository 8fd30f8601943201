//! The handle: what a `fuzzshm_t` holds, how a constructor fills it, and
//! the checks (null, open, a copy) every function makes before touching
//! the region in it.

use core::ffi::c_int;
use core::mem::{align_of, size_of, MaybeUninit};

use static_assertions::const_assert;

use super::status::{status_of, FUZZSHM_ECLOSED, FUZZSHM_ENULL, FUZZSHM_EOPEN};
use crate::error::Result;
use crate::shared_mem::SharedMem;

// Read by the `const_assert!`s below, which Rust 1.80 (the MSRV) does not
// count as a use of a private constant.
/// Bytes a C caller reserves for a handle: `sizeof(fuzzshm_t)`. Room to
/// spare, so the handle can grow without changing the ABI.
#[allow(dead_code)]
pub const HANDLE_SIZE: usize = 128;
/// The alignment of `fuzzshm_t`.
#[allow(dead_code)]
pub const HANDLE_ALIGN: usize = 8;

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

/// Fills `out` with the outcome of a constructor; a failure leaves it
/// closed, so a later call on it is refused rather than misread.
///
/// # Safety
///
/// `out` is non-null and valid for writes of a `Handle`.
pub(super) unsafe fn install(out: *mut Handle, made: Result<SharedMem>) -> c_int {
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
pub(super) unsafe fn refusal(out: *const Handle) -> Option<c_int> {
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
pub(super) unsafe fn construct(
    out: *mut Handle,
    make: impl FnOnce() -> Result<SharedMem>,
) -> c_int {
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
pub(super) unsafe fn open_ref<'a>(
    handle: *const Handle,
) -> core::result::Result<&'a SharedMem, c_int> {
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
pub(super) unsafe fn open_mut<'a>(
    handle: *mut Handle,
) -> core::result::Result<&'a mut SharedMem, c_int> {
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

/// Closes an open handle and hands out its region: the state is closed
/// before the region is read out, so it is read out only once.
///
/// # Safety
///
/// As [`open_mut`].
pub(super) unsafe fn take(mem: *mut Handle) -> core::result::Result<SharedMem, c_int> {
    // SAFETY: the caller's contract.
    unsafe { open_mut(mem) }?;
    // SAFETY: `open_mut` checked `mem` is non-null, and it points to a
    // handle no other reference reaches (the caller's contract).
    let handle = unsafe { &mut *mem };
    handle.state = 0;
    // SAFETY: the state was the open marker of this address (checked by
    // `open_mut`), so `mem` holds a live region; the state is now closed,
    // so it is read out only once.
    Ok(unsafe { handle.mem.assume_init_read() })
}

#[cfg(test)]
mod tests {
    use super::{HANDLE_ALIGN, HANDLE_SIZE};

    /// The header's `fuzzshm_t` is the storage of this module's handle:
    /// `FUZZSHM_HANDLE_SIZE` bytes, aligned as `FUZZSHM_ALIGN_8` says
    /// (tests/capi.rs checks the C compiler's layout against the header).
    #[test]
    fn header_handle_storage_is_the_crate_handle() {
        let header = include_str!("../../include/fuzzshm.h");
        let size = alloc::format!("\n#define FUZZSHM_HANDLE_SIZE {HANDLE_SIZE}\n");
        assert!(header.contains(&size), "{size:?} not in fuzzshm.h");
        let align =
            alloc::format!("\n#define FUZZSHM_ALIGN_{HANDLE_ALIGN} alignas({HANDLE_ALIGN})\n");
        assert!(header.contains(&align), "{align:?} not in fuzzshm.h");
    }
}
