//! The OS backing: every system call fuzzshm makes, through rustix, each
//! turned into an [`Error`] that names the call. Nothing above this module
//! talks to the kernel.

use core::ffi::{c_void, CStr};
use core::ptr::NonNull;

use rustix::fd::{BorrowedFd, IntoRawFd, OwnedFd};
use rustix::fs::{self, AtFlags, FileType, Mode, OFlags};
use rustix::mm::{self, MapFlags, ProtFlags};

use crate::error::{Error, Result};

/// `openat(dir, name, O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW, 0600)`—
/// Creates a file that did not exist, readable and writable by its owner only.
pub(crate) fn create_exclusive(dir: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    fs::openat(dir, name, flags, Mode::RUSR | Mode::WUSR).map_err(Error::os("openat"))
}

/// `openat(dir, ".", O_TMPFILE|O_RDWR|O_EXCL|O_CLOEXEC, 0600)`—A new,
/// empty file in `dir` that has no name, so nothing is left of it once the
/// last descriptor and mapping are gone, however the process ends.
/// `O_EXCL` keeps it nameless: `linkat` cannot give it one later, whoever
/// holds a descriptor.
///
/// `None` where the kernel or the file system cannot do it (the caller
/// falls back to a named file): `EISDIR` from a kernel before 3.11, which
/// reads `O_TMPFILE` as `O_DIRECTORY`; `EOPNOTSUPP` from a file system
/// without it (some network and FUSE ones); `EINVAL` where the flag
/// combination is refused.
#[cfg(fuzzshm_tmpfile)]
pub(crate) fn create_unnamed(dir: BorrowedFd<'_>) -> Result<Option<OwnedFd>> {
    use rustix::io::Errno;
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::EXCL | OFlags::CLOEXEC;
    match fs::openat(dir, c".", flags, Mode::RUSR | Mode::WUSR) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ISDIR | Errno::OPNOTSUPP | Errno::INVAL) => Ok(None),
        Err(errno) => Err(Error::Os {
            call: "openat(O_TMPFILE)",
            errno,
        }),
    }
}

/// `openat(AT_FDCWD, path, O_RDONLY|O_DIRECTORY|O_CLOEXEC)`—Opens a directory
/// to create files in, or to list.
#[cfg(any(feature = "std", feature = "capi"))]
pub(crate) fn open_dir(path: impl rustix::path::Arg) -> Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    fs::openat(fs::CWD, path, flags, Mode::empty()).map_err(Error::os("openat"))
}

/// `unlinkat(dir, name, 0)`—Removes a name: a file's, or a symbolic
/// link's (never what it points to); never a directory's (without
/// `AT_REMOVEDIR` the kernel refuses one).
pub(crate) fn unlink(dir: BorrowedFd<'_>, name: &CStr) -> Result<()> {
    fs::unlinkat(dir, name, AtFlags::empty()).map_err(Error::os("unlinkat"))
}

/// `openat(dir, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC)`, then `getdents64`
/// (or `readdir` where there is none) to the end—Calls `each` with the
/// name of every entry in `dir`, `.` and `..` included, and stops at the
/// first error it returns.
///
/// The directory is read through a description of its own, so the
/// caller's descriptor keeps its offset and every listing starts at the
/// first entry. Entries removed meanwhile may or may not be listed; every
/// other entry is listed once.
#[cfg(fuzzshm_list_dir)]
pub(crate) fn for_each_entry(
    dir: BorrowedFd<'_>,
    mut each: impl FnMut(&CStr) -> Result<()>,
) -> Result<()> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let listing = fs::openat(dir, c".", flags, Mode::empty()).map_err(Error::os("openat"))?;
    #[cfg(fuzzshm_getdents)]
    {
        // Entries are at most 280 bytes (a 255-byte name, NAME_MAX, and
        // its record): a page holds a dozen of the longest, and on the
        // stack no allocation is needed.
        let mut buffer = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut entries = fs::RawDir::new(&listing, &mut buffer);
        while let Some(entry) = entries.next() {
            each(entry.map_err(Error::os("getdents64"))?.file_name())?;
        }
    }
    #[cfg(not(fuzzshm_getdents))]
    {
        let mut entries = fs::Dir::new(listing).map_err(Error::os("fdopendir"))?;
        while let Some(entry) = entries.read() {
            each(entry.map_err(Error::os("readdir"))?.file_name())?;
        }
    }
    Ok(())
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`—The type of the entry `name`
/// itself: a symbolic link is a link, whatever it points to.
#[cfg(fuzzshm_list_dir)]
pub(crate) fn file_type_at(dir: BorrowedFd<'_>, name: &CStr) -> Result<FileType> {
    let stat = fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(Error::os("fstatat"))?;
    Ok(FileType::from_raw_mode(stat.st_mode as _))
}

/// `kill(pid, 0)`—Asks the kernel about process `pid` without signalling
/// it: `Ok` if it exists and this process may signal it, `ESRCH` if no
/// process of this pid namespace has that number, `EPERM` if one does but
/// belongs to someone this process may not signal. A zombie (dead, not yet
/// reaped) still exists.
#[cfg(fuzzshm_list_dir)]
pub(crate) fn probe_process(pid: u32) -> Result<()> {
    use rustix::process::{test_kill_process, Pid};
    // `kill` reads 0 and negative numbers as process groups, never as one
    // process: such a number is refused here, not sent.
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or(Error::Os {
            call: "kill(pid, 0)",
            errno: rustix::io::Errno::INVAL,
        })?;
    test_kill_process(pid).map_err(Error::os("kill(pid, 0)"))
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)`—A close-on-exec duplicate numbered at
/// least `min`.
pub(crate) fn dup_cloexec(fd: BorrowedFd<'_>, min: i32) -> Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, min).map_err(Error::os("fcntl(F_DUPFD_CLOEXEC)"))
}

/// [`dup_cloexec`], where a number below `min` would not do: a limit on
/// descriptors (`RLIMIT_NOFILE`) at or below `min` is reported as what it
/// is, `EMFILE`, rather than the `EINVAL` the kernel
/// gives for a `min` past it.
#[cfg(any(feature = "std", feature = "capi"))]
pub(crate) fn dup_cloexec_above_limit(fd: BorrowedFd<'_>, min: i32) -> Result<OwnedFd> {
    use rustix::io::Errno;
    rustix::io::fcntl_dupfd_cloexec(fd, min).map_err(|errno| Error::Os {
        call: "fcntl(F_DUPFD_CLOEXEC)",
        errno: if errno == Errno::INVAL {
            Errno::MFILE
        } else {
            errno
        },
    })
}

/// `fcntl(n, F_GETFD)` on each number, and `open("/dev/null", O_CLOEXEC)`
/// into those not open—Makes sure every descriptor number in `numbers` is
/// open, for the life of the process.
#[cfg(any(feature = "std", feature = "capi"))]
pub(crate) fn occupy_free_fds(numbers: core::ops::RangeInclusive<i32>) -> Result<()> {
    use rustix::fd::{AsFd, AsRawFd};
    use rustix::io::Errno;
    for number in numbers {
        // SAFETY: the number is only the argument of one `fcntl(F_GETFD)`,
        // which reads no file and answers `EBADF` if it is not open.
        let free =
            rustix::io::fcntl_getfd(unsafe { BorrowedFd::borrow_raw(number) }) == Err(Errno::BADF);
        if free {
            let null = fs::openat(
                fs::CWD,
                c"/dev/null",
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(Error::os("openat(/dev/null)"))?;
            // `open` takes the lowest free number, which may be `number`
            // itself: then it is the filler (a duplicate would land on the
            // next number, and closing `null` would free this one again).
            // Otherwise it went below (a closed stdio fd), and `number`,
            // free, is the lowest free number from `number` up.
            let filler = if null.as_raw_fd() == number {
                null
            } else {
                dup_cloexec_above_limit(null.as_fd(), number)?
            };
            // Kept open for the life of the process, on purpose.
            let _ = filler.into_raw_fd();
        }
    }
    Ok(())
}

/// `pipe2(O_CLOEXEC)`—A pipe, read end first, both ends close-on-exec.
#[cfg(all(any(feature = "std", feature = "capi"), fuzzshm_pipe2))]
pub(crate) fn pipe_cloexec() -> Result<(OwnedFd, OwnedFd)> {
    use rustix::pipe::{pipe_with, PipeFlags};
    pipe_with(PipeFlags::CLOEXEC).map_err(Error::os("pipe2"))
}

/// `pipe`, then `fcntl(F_SETFD, FD_CLOEXEC)` on each end—A pipe, read end
/// first, both ends close-on-exec, where there is no `pipe2` (macOS). A
/// thread that forks and execs between the two calls can leak the ends into
/// its child; that is the platform's limit, and why `pipe2` exists.
#[cfg(all(any(feature = "std", feature = "capi"), not(fuzzshm_pipe2)))]
pub(crate) fn pipe_cloexec() -> Result<(OwnedFd, OwnedFd)> {
    use rustix::io::{fcntl_setfd, FdFlags};
    let (reader, writer) = rustix::pipe::pipe().map_err(Error::os("pipe"))?;
    for end in [&reader, &writer] {
        fcntl_setfd(end, FdFlags::CLOEXEC).map_err(Error::os("fcntl(F_SETFD)"))?;
    }
    Ok((reader, writer))
}

/// The longest one `poll` is asked to wait: where there is no `ppoll`,
/// rustix passes the timeout as milliseconds in a C `int` (24.8 days at
/// most) and refuses more; a longer wait is several polls.
#[cfg(feature = "std")]
const LONGEST_POLL: core::time::Duration = core::time::Duration::from_secs(24 * 60 * 60);

/// `poll([{fd, POLLIN}], timeout)`—Whether `fd` has something to read
/// (bytes, or end of stream) within `timeout`, waiting a day at most;
/// `Ok(false)` when the time ran out first. `EINTR` is an error here, for
/// the caller to retry with what is left of its own deadline.
#[cfg(feature = "std")]
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: core::time::Duration) -> Result<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let timeout = timeout.min(LONGEST_POLL);
    let timeout = Timespec {
        // At most a day: the casts cannot truncate.
        tv_sec: timeout.as_secs() as _,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let ready = poll(&mut fds, Some(&timeout)).map_err(Error::os("poll"))?;
    Ok(ready > 0)
}

/// `read(fd, buf)`—Reads what is there, up to `buf.len()` bytes; 0 is end
/// of stream (for a non-empty `buf`).
#[cfg(feature = "std")]
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize> {
    rustix::io::read(fd, buf).map_err(Error::os("read"))
}

/// `close(fd)`—Closes `fd` and reports the kernel's answer (dropping an
/// `OwnedFd` would swallow it; Go's `Close` reports it).
pub(crate) fn close(fd: OwnedFd) -> Result<()> {
    // SAFETY: `into_raw_fd` gives up ownership, so the descriptor is valid
    // here and nothing else will close or use it after this call.
    unsafe { rustix::io::try_close(fd.into_raw_fd()) }.map_err(Error::os("close"))
}

/// `ftruncate(fd, size)`—Sets the file's size (new bytes read as zero and
/// take no memory until written).
///
/// Growing a file past `RLIMIT_FSIZE` raises `SIGXFSZ`, which kills the
/// process unless it is caught: the limit is checked first, and a size over
/// it is refused with `EFBIG`, what `ftruncate` answers when the signal is
/// ignored. (A thread lowering the limit between the check and the call is
/// the one case left to the signal.)
pub(crate) fn set_size(fd: BorrowedFd<'_>, size: usize) -> Result<()> {
    check_size_limit(size)?;
    fs::ftruncate(fd, size as u64).map_err(Error::os("ftruncate"))
}

/// `getrlimit(RLIMIT_FSIZE)`—`EFBIG` if a file may not grow to `size`
/// bytes in this process, as [`set_size`] would answer.
pub(crate) fn check_size_limit(size: usize) -> Result<()> {
    use rustix::process::{getrlimit, Resource};
    match getrlimit(Resource::Fsize).current {
        Some(limit) if size as u64 > limit => Err(Error::Os {
            call: "ftruncate",
            errno: rustix::io::Errno::FBIG,
        }),
        _ => Ok(()),
    }
}

/// What `fstat` says of a descriptor: the facts the layers above decide on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileFacts {
    /// `st_mode`: the file type and permissions.
    pub(crate) mode: crate::FileMode,
    /// `st_size`; a negative size (no regular file has one) reads as
    /// `u64::MAX` rather than wrapping to a small number.
    pub(crate) size: u64,
}

impl FileFacts {
    pub(crate) fn file_type(&self) -> FileType {
        FileType::from_raw_mode(self.mode.0 as _)
    }
}

/// `fstat(fd)`—The descriptor's type and size.
pub(crate) fn stat(fd: BorrowedFd<'_>) -> Result<FileFacts> {
    let stat = fs::fstat(fd).map_err(Error::os("fstat"))?;
    Ok(FileFacts {
        mode: crate::FileMode(stat.st_mode as u32),
        size: u64::try_from(stat.st_size).unwrap_or(u64::MAX),
    })
}

/// `fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, len)`—Reserves the storage
/// of a range of the file without changing its size, so that writing those
/// bytes through a mapping cannot raise `SIGBUS` when the file system (a
/// full tmpfs, a memory cgroup at its limit) has no room: the lack of room
/// is this call's `ENOSPC` instead.
///
/// A file system that cannot reserve (`EOPNOTSUPP`: some network and FUSE
/// file systems) is not an error: writes there are as safe as that file
/// system makes them, and asking again would not change its answer.
#[cfg(fuzzshm_fallocate)]
pub(crate) fn reserve(fd: BorrowedFd<'_>, offset: usize, len: usize) -> Result<()> {
    use rustix::io::Errno;
    loop {
        match fs::fallocate(fd, fs::FallocateFlags::KEEP_SIZE, offset as u64, len as u64) {
            Ok(()) | Err(Errno::OPNOTSUPP) => return Ok(()),
            Err(Errno::INTR) => continue,
            Err(errno) => {
                return Err(Error::Os {
                    call: "fallocate",
                    errno,
                })
            }
        }
    }
}

/// Where there is no `fallocate` with `FALLOC_FL_KEEP_SIZE`, nothing is
/// reserved: writes are as safe as the file system makes them.
#[cfg(not(fuzzshm_fallocate))]
pub(crate) fn reserve(_fd: BorrowedFd<'_>, _offset: usize, _len: usize) -> Result<()> {
    Ok(())
}

/// The granule storage is reserved in: a page.
pub(crate) fn page_size() -> usize {
    rustix::param::page_size()
}

/// `fcntl(fd, F_SETFD, FD_CLOEXEC)`—Marks a descriptor close-on-exec.
pub(crate) fn set_cloexec(fd: BorrowedFd<'_>) -> Result<()> {
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC).map_err(Error::os("fcntl(F_SETFD)"))
}

/// `mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)`—Maps the
/// first `size` bytes of the file.
pub(crate) fn map(fd: BorrowedFd<'_>, size: usize) -> Result<NonNull<u8>> {
    // SAFETY: a null hint without MAP_FIXED lets the kernel choose fresh
    // addresses, so no existing memory of this process is replaced.
    let addr = unsafe {
        mm::mmap(
            core::ptr::null_mut(),
            size,
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

/// `munmap(addr, size)`—Removes a mapping.
///
/// # Safety
///
/// `addr` and `size` must be a mapping made by [`map`] or [`remap_then`]
/// and not yet unmapped, and no reference into it may be used afterwards.
pub(crate) unsafe fn unmap(addr: NonNull<u8>, size: usize) -> Result<()> {
    // SAFETY: the caller guarantees a live mapping of exactly this range
    // that nothing refers to any more.
    unsafe { mm::munmap(addr.as_ptr().cast::<c_void>(), size) }.map_err(Error::os("munmap"))
}

/// Resizes a mapping of `fd` from `old_size` to `new_size` bytes around
/// `then()`, which grows the file: the address space is secured first and
/// the file grown after, because a file that grew could not always be cut
/// back (a sealed memfd never can); and the old mapping is left exactly as
/// it was, at the same address, unless everything succeeded.
///
/// 1. Where the mapping can grow in place (`mremap` without
///    `MREMAP_MAYMOVE`, Linux), it does; if `then` fails it is shrunk back,
///    in place.
/// 2. Otherwise a new mapping of `new_size` is made elsewhere, `then` runs,
///    and on success the old mapping is moved onto it with
///    `mremap(MREMAP_FIXED)` (its page tables come along, so nothing is
///    faulted in again) or, without `mremap`, simply unmapped. On failure
///    the new mapping is unmapped.
///
/// Returns where the mapping is now, and whether it has the new size
/// (`Ok`) or the old one (`Err`, with why). A mapping may extend past the
/// end of its file; touching those pages before `then` grew the file would
/// `SIGBUS`, and nothing touches them.
///
/// # Safety
///
/// `addr` and `old_size` must be a live mapping of `fd` made by [`map`] or
/// this function, and no reference into it may be used after this returns
/// `Ok` (the mapping may have moved).
pub(crate) unsafe fn remap_then(
    fd: BorrowedFd<'_>,
    addr: NonNull<u8>,
    old_size: usize,
    new_size: usize,
    then: impl FnOnce() -> Result<()>,
) -> (NonNull<u8>, Result<()>) {
    #[cfg(fuzzshm_mremap)]
    {
        let old = addr.as_ptr().cast::<c_void>();
        let in_place = mm::MremapFlags::empty();
        // SAFETY: the caller guarantees the mapping. Without MAYMOVE the
        // kernel only ever extends it where it is, or refuses.
        if unsafe { mm::mremap(old, old_size, new_size, in_place) }.is_ok() {
            return match then() {
                Ok(()) => (addr, Ok(())),
                Err(error) => {
                    // SAFETY: the mapping just grown in place, whose new
                    // tail nothing touched. Without MAYMOVE its end is
                    // trimmed where it is; that needs no new mapping, so
                    // it has nothing to fail for.
                    let _ = unsafe { mm::mremap(old, new_size, old_size, in_place) };
                    (addr, Err(error))
                }
            };
        }
    }
    let moved = match map(fd, new_size) {
        Ok(moved) => moved,
        Err(error) => return (addr, Err(error)),
    };
    if let Err(error) = then() {
        // SAFETY: `moved` was mapped just above and never handed out.
        let _ = unsafe { unmap(moved, new_size) };
        return (addr, Err(error));
    }
    #[cfg(fuzzshm_mremap)]
    {
        let flags = mm::MremapFlags::MAYMOVE;
        let old = addr.as_ptr().cast::<c_void>();
        let target = moved.as_ptr().cast::<c_void>();
        // SAFETY: the caller guarantees the old mapping; the target range
        // is exactly `moved`, ours and never handed out, which
        // MREMAP_FIXED replaces. On failure both mappings are as they were.
        if unsafe { mm::mremap_fixed(old, old_size, new_size, flags, target) }.is_ok() {
            return (moved, Ok(()));
        }
    }
    // SAFETY: the caller guarantees the old mapping and that nothing uses it
    // after we return. Should the kernel refuse (it has no reason to), the
    // old range is left mapped and unused: the region is whole at its new
    // size, which the file now has, so the resize did succeed.
    let _ = unsafe { unmap(addr, old_size) };
    (moved, Ok(()))
}

/// `memfd_create("fuzzshm", MFD_CLOEXEC|MFD_ALLOW_SEALING)`, `ftruncate`,
/// then `fcntl(F_ADD_SEALS, F_SEAL_SHRINK|F_SEAL_SEAL)`—An anonymous file of
/// `size` bytes that no one can shrink under a mapping, nor seal against
/// growth.
#[cfg(fuzzshm_memfd)]
pub(crate) fn sealed_memfd(size: usize) -> Result<OwnedFd> {
    use rustix::fd::AsFd;
    use rustix::fs::{MemfdFlags, SealFlags};

    let fd = fs::memfd_create(c"fuzzshm", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        .map_err(Error::os("memfd_create"))?;
    set_size(fd.as_fd(), size)?;
    fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::SEAL)
        .map_err(Error::os("fcntl(F_ADD_SEALS)"))?;
    Ok(fd)
}
