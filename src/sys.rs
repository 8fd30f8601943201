//! The OS backing: every system call fuzzshm makes, through rustix, each
//! turned into an [`Error`] that names the call. Nothing above this module
//! talks to the kernel.

use core::ffi::{c_void, CStr};
use core::ptr::NonNull;

use rustix::fd::{BorrowedFd, IntoRawFd, OwnedFd};
use rustix::fs::{self, AtFlags, FileType, Mode, OFlags};
use rustix::mm::{self, MapFlags, ProtFlags};

use crate::error::{Error, Result};
use crate::header::HEADER_SIZE;

/// `openat(dir, name, O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW, 0600)`—
/// Creates a file that did not exist, readable and writable by its owner only.
pub(crate) fn create_exclusive(dir: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    fs::openat(dir, name, flags, Mode::RUSR | Mode::WUSR).map_err(Error::os("openat"))
}

/// `openat(AT_FDCWD, path, O_RDONLY|O_DIRECTORY|O_CLOEXEC)`—Opens a directory
/// to create files in.
#[cfg(any(feature = "std", feature = "capi"))]
pub(crate) fn open_dir(path: impl rustix::path::Arg) -> Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    fs::openat(fs::CWD, path, flags, Mode::empty()).map_err(Error::os("openat"))
}

/// `unlinkat(dir, name, 0)`—Removes a file we created.
pub(crate) fn unlink(dir: BorrowedFd<'_>, name: &CStr) -> Result<()> {
    fs::unlinkat(dir, name, AtFlags::empty()).map_err(Error::os("unlinkat"))
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)`—A close-on-exec duplicate numbered at
/// least `min`.
pub(crate) fn dup_cloexec(fd: BorrowedFd<'_>, min: i32) -> Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, min).map_err(Error::os("fcntl(F_DUPFD_CLOEXEC)"))
}

/// `pipe2(O_CLOEXEC)`—A pipe, read end first, both ends close-on-exec.
#[cfg(all(feature = "std", fuzzshm_pipe2))]
pub(crate) fn pipe_cloexec() -> Result<(OwnedFd, OwnedFd)> {
    use rustix::pipe::{pipe_with, PipeFlags};
    pipe_with(PipeFlags::CLOEXEC).map_err(Error::os("pipe2"))
}

/// `pipe`, then `fcntl(F_SETFD, FD_CLOEXEC)` on each end—A pipe, read end
/// first, both ends close-on-exec, where there is no `pipe2` (macOS). A
/// thread that forks and execs between the two calls can leak the ends into
/// its child; that is the platform's limit, and why `pipe2` exists.
#[cfg(all(feature = "std", not(fuzzshm_pipe2)))]
pub(crate) fn pipe_cloexec() -> Result<(OwnedFd, OwnedFd)> {
    use rustix::io::{fcntl_setfd, FdFlags};
    let (reader, writer) = rustix::pipe::pipe().map_err(Error::os("pipe"))?;
    for end in [&reader, &writer] {
        fcntl_setfd(end, FdFlags::CLOEXEC).map_err(Error::os("fcntl(F_SETFD)"))?;
    }
    Ok((reader, writer))
}

/// `close(fd)`—Closes `fd` and reports the kernel's answer (dropping an
/// `OwnedFd` would swallow it; Go's `Close` reports it).
pub(crate) fn close(fd: OwnedFd) -> Result<()> {
    // SAFETY: `into_raw_fd` gives up ownership, so the descriptor is valid
    // here and nothing else will close or use it after this call.
    unsafe { rustix::io::try_close(fd.into_raw_fd()) }.map_err(Error::os("close"))
}

/// `ftruncate(fd, len)`—Sets the file's size (new bytes read as zero and
/// take no memory until written).
pub(crate) fn set_len(fd: BorrowedFd<'_>, len: usize) -> Result<()> {
    fs::ftruncate(fd, len as u64).map_err(Error::os("ftruncate"))
}

/// `fstat(fd)`—The size of a regular file (a memfd is one), checked to be a
/// size this process can map: at least a header, at most `isize::MAX`.
pub(crate) fn mappable_len(fd: BorrowedFd<'_>) -> Result<usize> {
    let stat = fs::fstat(fd).map_err(Error::os("fstat"))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(Error::NotRegularFile {
            mode: stat.st_mode as u32,
        });
    }
    // A regular file's size is never negative; if a kernel said otherwise,
    // treat it as unmappable rather than wrap it.
    let size = u64::try_from(stat.st_size).unwrap_or(u64::MAX);
    if size < HEADER_SIZE as u64 {
        return Err(Error::TooSmall {
            size,
            needed: HEADER_SIZE as u64,
        });
    }
    match usize::try_from(size) {
        Ok(len) if len <= isize::MAX as usize => Ok(len),
        _ => Err(Error::TooLarge { size }),
    }
}

/// `fstat(fd)`—The `st_mode` of any descriptor.
pub(crate) fn mode(fd: BorrowedFd<'_>) -> Result<u32> {
    let stat = fs::fstat(fd).map_err(Error::os("fstat"))?;
    Ok(stat.st_mode as u32)
}

/// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)`—Maps the first
/// `len` bytes of the file.
pub(crate) fn map(fd: BorrowedFd<'_>, len: usize) -> Result<NonNull<u8>> {
    // SAFETY: a null hint without MAP_FIXED lets the kernel choose fresh
    // addresses, so no existing memory of this process is replaced.
    let addr = unsafe {
        mm::mmap(
            core::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            fd,
            0,
        )
    }
    .map_err(Error::os("mmap"))?;
    NonNull::new(addr.cast()).ok_or(Error::Os {
        call: "mmap",
        errno: rustix::io::Errno::NOMEM,
    })
}

/// `munmap(addr, len)`—Removes a mapping.
///
/// # Safety
///
/// `addr` and `len` must be a mapping made by [`map`] or [`remap`] and not
/// yet unmapped, and no reference into it may be used afterwards.
pub(crate) unsafe fn unmap(addr: NonNull<u8>, len: usize) -> Result<()> {
    // SAFETY: the caller guarantees a live mapping of exactly this range
    // that nothing refers to any more.
    unsafe { mm::munmap(addr.as_ptr().cast::<c_void>(), len) }.map_err(Error::os("munmap"))
}

/// `mremap(addr, old_len, new_len, MREMAP_MAYMOVE)`—Resizes a mapping of
/// `fd`, moving it if it cannot grow where it is. On success the old range is
/// gone; on failure it is untouched.
///
/// # Safety
///
/// `addr` and `old_len` must be a live mapping of `fd` made by [`map`] or
/// [`remap`], and no reference into it may be used after this returns `Ok`.
#[cfg(fuzzshm_mremap)]
pub(crate) unsafe fn remap(
    _fd: BorrowedFd<'_>,
    addr: NonNull<u8>,
    old_len: usize,
    new_len: usize,
) -> Result<NonNull<u8>> {
    // SAFETY: the caller guarantees the mapping; MAYMOVE without FIXED never
    // replaces other mappings of this process.
    let moved = unsafe {
        mm::mremap(
            addr.as_ptr().cast::<c_void>(),
            old_len,
            new_len,
            mm::MremapFlags::MAYMOVE,
        )
    }
    .map_err(Error::os("mremap"))?;
    NonNull::new(moved.cast()).ok_or(Error::Os {
        call: "mremap",
        errno: rustix::io::Errno::NOMEM,
    })
}

/// `mmap` of the new size, then `munmap` of the old—Resizes a mapping where
/// there is no `mremap`. The new mapping is made first, so on failure the old
/// one is untouched.
///
/// # Safety
///
/// As for the `mremap` version.
#[cfg(not(fuzzshm_mremap))]
pub(crate) unsafe fn remap(
    fd: BorrowedFd<'_>,
    addr: NonNull<u8>,
    old_len: usize,
    new_len: usize,
) -> Result<NonNull<u8>> {
    let moved = map(fd, new_len)?;
    // SAFETY: the caller guarantees the old mapping and that nothing uses it
    // after we return.
    if let Err(error) = unsafe { unmap(addr, old_len) } {
        // SAFETY: `moved` was mapped just above and never handed out.
        let _ = unsafe { unmap(moved, new_len) };
        return Err(error);
    }
    Ok(moved)
}

/// `memfd_create("fuzzshm", MFD_CLOEXEC|MFD_ALLOW_SEALING)`, `ftruncate`,
/// then `fcntl(F_ADD_SEALS, F_SEAL_SHRINK|F_SEAL_SEAL)`—An anonymous file of
/// `len` bytes that no one can shrink under a mapping, nor seal against
/// growth.
#[cfg(fuzzshm_memfd)]
pub(crate) fn sealed_memfd(len: usize) -> Result<OwnedFd> {
    use rustix::fd::AsFd;
    use rustix::fs::{MemfdFlags, SealFlags};

    let fd = fs::memfd_create(c"fuzzshm", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        .map_err(Error::os("memfd_create"))?;
    set_len(fd.as_fd(), len)?;
    fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::SEAL)
        .map_err(Error::os("fcntl(F_ADD_SEALS)"))?;
    Ok(fd)
}

/// 64 random bits for a temp-file name: `getrandom` where there is one, else
/// the clock, the pid, an address and a counter, mixed. The name only needs to
/// be hard to guess; `O_EXCL|O_NOFOLLOW` already make a planted file or
/// symlink harmless.
pub(crate) fn name_entropy() -> u64 {
    use core::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);

    #[cfg(fuzzshm_getrandom)]
    {
        let mut bytes = [0u8; 8];
        let filled = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::NONBLOCK);
        if filled == Ok(bytes.len()) {
            return u64::from_ne_bytes(bytes);
        }
    }
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    let pid = rustix::process::getpid().as_raw_nonzero().get() as u64;
    let local = &now as *const _ as usize as u64;
    let seed = (now.tv_sec as u64).rotate_left(32)
        ^ now.tv_nsec as u64
        ^ pid.rotate_left(17)
        ^ local
        ^ COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    splitmix64(seed)
}

/// The SplitMix64 finaliser: spreads every input bit over the output.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
