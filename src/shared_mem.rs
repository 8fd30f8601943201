//! [`SharedMem`]: owns a file descriptor, its mapping, and (for a temp file)
//! the name to remove on close. Go's `sharedMem`.

use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::ptr::NonNull;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::FileType;

use crate::error::{Error, Result};
use crate::header::{region_size, HEADER_SIZE};
use crate::region::Region;
use crate::sys;
use crate::temp_file::{TempDir, TempFile};

/// A shared-memory region backed by a file or memfd: Go's `sharedMem`.
///
/// It derefs to [`Region`] for reading (`header()`, `value()`,
/// `capacity()`...); the writing methods are on `SharedMem` itself, because
/// they need `&mut` and a `&mut Region` could be swapped out from under the
/// descriptor it belongs to.
///
/// Dropping it unmaps the region, closes the descriptor and removes the file
/// if this process created it, as [`close`](Self::close) does, but silently.
/// That also happens when the thread holding it unwinds from a panic.
///
/// A child forked without `exec` (a fork server) owns its copies of the
/// mapping and the descriptor, which its drop or `close` release; the file
/// stays its creator's, and only the creator removes it.
///
/// # One mapping per file in a process
///
/// Creating a region is safe; adopting a descriptor that may already be
/// mapped in this process is `unsafe`, because two mappings of one file
/// would give a `&[u8]` and a `&mut [u8]` over the same bytes: the crate's
/// [safety model](crate#safety-model) says why and what a peer may do.
/// This does not compile:
///
/// ```compile_fail,E0133
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use fuzzshm::{AsFd, SharedMem};
/// let mut a = SharedMem::temp_file(4096)?;
/// let b = SharedMem::from_fd(a.as_fd().try_clone_to_owned()?)?; // needs `unsafe`
/// let shared: &[u8] = b.value()?;
/// let exclusive: &mut [u8] = a.value_mut()?; // the same bytes
/// # let _ = (shared, exclusive);
/// # Ok(()) }
/// ```
pub struct SharedMem {
    region: Region,
    fd: ManuallyDrop<OwnedFd>,
    temp: Option<TempFile>,
    /// The shortest value whose write needs storage reserved first: one
    /// more than the value bytes this process has reserved the file's
    /// storage for, with the header; 0 while not even the header is.
    /// `set_value` makes a system call only when it writes past this mark.
    reserve_from_len: usize,
    /// Whether [`reserve_whole`](Self::reserve_whole) asked for the whole
    /// value area, in every size the region grows to.
    reserve_whole: bool,
}

/// [`region_size`], or [`Error::SizeOverflow`] naming `capacity`.
fn size_for(capacity: usize) -> Result<usize> {
    region_size(capacity).ok_or(Error::SizeOverflow { capacity })
}

/// The policy on a file's size: it must hold a header and fit in one
/// mapping (`isize::MAX` bytes, the most a slice may span; more than the
/// address space on 32-bit targets, where the size is `u64`).
fn mappable_size(fd: BorrowedFd<'_>) -> Result<usize> {
    let facts = sys::stat(fd)?;
    if facts.file_type() != FileType::RegularFile {
        return Err(Error::NotRegularFile { mode: facts.mode });
    }
    if facts.size < HEADER_SIZE as u64 {
        return Err(Error::TooSmall {
            size: facts.size,
            needed: HEADER_SIZE as u64,
        });
    }
    match usize::try_from(facts.size) {
        Ok(size) if size <= isize::MAX as usize => Ok(size),
        _ => Err(Error::TooLarge { size: facts.size }),
    }
}

impl SharedMem {
    /// `sharedMemTempFile`—A new region in a new file `fuzz-*` in the temp
    /// directory (`TMPDIR` if set and not empty, else `/tmp`), created
    /// exclusively with mode 0600 and removed on close. The file takes no
    /// memory or disk until written.
    ///
    /// Like Go's `sharedMemTempFile(size)`, it takes the value capacity;
    /// the file is [`region_size`]`(capacity)` long.
    ///
    /// The file is created and removed by path, as Go does, in the
    /// directory `TMPDIR` names at each call: a `TMPDIR` that changed, or a
    /// directory removed and re-created, is followed; a relative `TMPDIR`
    /// is taken against the working directory of the call. (A directory
    /// renamed while a file is in it makes `close` fail with `ENOENT`, as
    /// Go's `Close` does; [`temp_file_in`](Self::temp_file_in) removes through a
    /// directory descriptor instead.)
    ///
    /// # Errors
    ///
    /// [`Error::SizeOverflow`] if the region would not fit in the address
    /// space; [`Error::Os`] if the file cannot be created (`ENOENT` from
    /// `openat($TMPDIR/fuzz-*)` if the directory is not there), sized
    /// (`EFBIG` above `RLIMIT_FSIZE`) or mapped. Nothing
    /// is left behind.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mem = fuzzshm::SharedMem::temp_file(1 << 20)?;
    /// mem.set_value(b"input")?;
    /// assert_eq!(mem.value()?, b"input");
    /// mem.close()?;
    /// # Ok::<(), fuzzshm::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn temp_file(capacity: usize) -> Result<SharedMem> {
        let size = size_for(capacity)?;
        Self::create_sized(TempFile::create_in_temp_dir()?, size)
    }

    /// [`temp_file_in`](Self::temp_file_in) the directory at `path`, which is
    /// opened for the purpose and kept open to remove the file from.
    #[cfg(feature = "capi")]
    pub(crate) fn create_at(path: impl rustix::path::Arg, capacity: usize) -> Result<SharedMem> {
        let size = size_for(capacity)?;
        Self::create_sized(TempFile::create(TempDir::open(path)?)?, size)
    }

    /// `openat(dir, "fuzz-…", O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW, 0600)`—
    /// [`temp_file`](Self::temp_file) in a directory given as any
    /// descriptor ([`AsFd`]: a `std::fs::File` of the directory will do),
    /// without `std`.
    ///
    /// The name is `fuzz-`, this process's pid, `-` and 8 random hex
    /// digits, tried again on a collision. The directory descriptor is
    /// duplicated (close-on-exec) and kept, so the file is removed from the
    /// same directory on close even if the directory is renamed meanwhile.
    ///
    /// # Errors
    ///
    /// As [`temp_file`](Self::temp_file), and [`Error::NameCollision`] if
    /// every name tried exists.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = std::fs::File::open("/tmp")?;
    /// let mem = fuzzshm::SharedMem::temp_file_in(&dir, 4096)?;
    /// assert_eq!(mem.capacity(), 4096);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn temp_file_in(dir: impl AsFd, capacity: usize) -> Result<SharedMem> {
        let size = size_for(capacity)?;
        Self::create_sized(TempFile::create(TempDir::duplicate(dir.as_fd())?)?, size)
    }

    /// Sizes and maps a file just created, or removes it on failure.
    fn create_sized((fd, temp): (OwnedFd, TempFile), size: usize) -> Result<SharedMem> {
        let mapped = sys::set_size(fd.as_fd(), size).and_then(|()| sys::map(fd.as_fd(), size));
        match mapped {
            Ok(base) => Ok(SharedMem::from_parts(base, size, fd, Some(temp))),
            Err(error) => {
                drop(fd);
                let _ = temp.remove();
                Err(error)
            }
        }
    }

    /// `memfd_create`—A new region in an anonymous memory file, sealed with
    /// `F_SEAL_SHRINK | F_SEAL_SEAL`: nothing to leak in `/tmp` if the
    /// coordinator is killed, no disk writeback, and no peer can shrink the
    /// file under our mapping (which would make the next read `SIGBUS`) or
    /// seal it against [`resize`](Self::resize).
    ///
    /// Available on Linux, Android and FreeBSD.
    ///
    /// # Errors
    ///
    /// [`Error::SizeOverflow`], or [`Error::Os`] if the kernel refuses
    /// (`EFBIG` above `RLIMIT_FSIZE`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))] {
    /// let mem = fuzzshm::SharedMem::memfd(64 << 20)?;
    /// assert_eq!(mem.value()?, b"");
    /// # }
    /// # Ok::<(), fuzzshm::Error>(())
    /// ```
    #[cfg(fuzzshm_memfd)]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd")))
    )]
    pub fn memfd(capacity: usize) -> Result<SharedMem> {
        let size = size_for(capacity)?;
        let fd = sys::sealed_memfd(size)?;
        let base = sys::map(fd.as_fd(), size)?;
        Ok(SharedMem::from_parts(base, size, fd, None))
    }

    /// `memfd_create`, else `openat` and `unlinkat` at once—A new region in
    /// the best backing this system has that leaves nothing behind when the
    /// process dies, at any instant and by any means (`SIGKILL` included):
    /// there is no name to remove, only a descriptor and a mapping, which
    /// the kernel drops with the last process holding either. Shared with workers as any other
    /// region ([`set_worker_comm`](crate::set_worker_comm) hands them its
    /// descriptor), close-on-exec until then.
    ///
    /// By operating system:
    ///
    /// - **Linux, Android, FreeBSD**: a sealed memfd, as
    ///   [`memfd`](Self::memfd); available without `std`.
    /// - **Every other Unix** (macOS, NetBSD, OpenBSD, illumos...), with
    ///   `std`: a file in the temp directory (`TMPDIR` if set and not
    ///   empty, else `/tmp`) created as [`temp_file`](Self::temp_file)
    ///   creates one, `fuzz-<pid>-<8 hex digits>`, and unlinked at once
    ///   (these systems have no `O_TMPFILE`). A process killed between
    ///   those two system calls leaves an empty file under its pid, which
    ///   [`remove_orphans`](crate::remove_orphans) removes. Without `std`,
    ///   use [`anonymous_in`](Self::anonymous_in).
    ///
    /// # Errors
    ///
    /// As [`memfd`](Self::memfd) (`EFBIG` above `RLIMIT_FSIZE`), or, for a file, as [`temp_file`](Self::temp_file).
    /// Nothing is left behind.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mem = fuzzshm::SharedMem::anonymous(1 << 20)?;
    /// mem.set_value(b"input")?;
    /// assert_eq!(mem.value()?, b"input");
    /// # Ok::<(), fuzzshm::Error>(())
    /// ```
    #[cfg(any(feature = "std", fuzzshm_memfd))]
    pub fn anonymous(capacity: usize) -> Result<SharedMem> {
        #[cfg(fuzzshm_memfd)]
        {
            Self::memfd(capacity)
        }
        #[cfg(not(fuzzshm_memfd))]
        {
            let size = size_for(capacity)?;
            Self::map_unnamed(TempFile::created_then_unlinked(TempDir::current()?)?, size)
        }
    }

    /// [`anonymous`](Self::anonymous) for the C API where there is no
    /// memfd: the temp directory is the one the C library's environment
    /// names, as for `fuzzshm_temp_file`.
    #[cfg(all(feature = "capi", not(fuzzshm_memfd)))]
    pub(crate) fn anonymous_at(path: impl rustix::path::Arg, capacity: usize) -> Result<SharedMem> {
        let size = size_for(capacity)?;
        Self::map_unnamed(TempFile::created_then_unlinked(TempDir::open(path)?)?, size)
    }

    /// `openat(dir, ".", O_TMPFILE|O_RDWR|O_EXCL|O_CLOEXEC, 0600)`—A new
    /// region in a file that has no name, in the directory open as `dir`,
    /// on every Unix and without `std`: nothing to remove when the process
    /// dies, and the file is on `dir`'s file system (a tmpfs of a chosen
    /// size, a disk for regions too big for memory).
    ///
    /// By operating system: on Linux and Android, `O_TMPFILE` (with
    /// `O_EXCL`, so no one holding the descriptor can give it a name
    /// later); where the file system has no `O_TMPFILE` (`EOPNOTSUPP`,
    /// some network and FUSE ones; `EISDIR` before Linux 3.11), and on
    /// other systems, a file created as [`temp_file_in`](Self::temp_file_in)
    /// creates one and unlinked at once, as in [`anonymous`](Self::anonymous).
    /// `dir` is borrowed for the call only.
    ///
    /// # Errors
    ///
    /// As [`temp_file_in`](Self::temp_file_in): [`Error::SizeOverflow`], or
    /// [`Error::Os`] if the file cannot be created, sized (`EFBIG` above
    /// `RLIMIT_FSIZE`) or mapped. Nothing is left behind.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::{fd::AsFd, unix::fs::MetadataExt};
    /// let dir = std::fs::File::open("/tmp")?;
    /// let mut mem = fuzzshm::SharedMem::anonymous_in(&dir, 4096)?;
    /// mem.set_value(b"input")?;
    /// let file = std::fs::File::from(mem.as_fd().try_clone_to_owned()?);
    /// assert_eq!(file.metadata()?.nlink(), 0); // no name anywhere
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn anonymous_in(dir: impl AsFd, capacity: usize) -> Result<SharedMem> {
        let size = size_for(capacity)?;
        Self::map_unnamed(TempFile::unnamed_in(dir.as_fd())?, size)
    }

    /// Sizes and maps a file that has no name; on failure, closing it is
    /// all the cleaning there is.
    fn map_unnamed(fd: OwnedFd, size: usize) -> Result<SharedMem> {
        sys::set_size(fd.as_fd(), size)?;
        let base = sys::map(fd.as_fd(), size)?;
        Ok(SharedMem::from_parts(base, size, fd, None))
    }

    /// `sharedMemMapFile(f, size, false)`—Maps the first `size` bytes (header
    /// included) of a file or memfd someone else created. The descriptor is
    /// closed on close; the file is not removed.
    ///
    /// # Errors
    ///
    /// [`Error::NotRegularFile`] for a directory, pipe, socket or device;
    /// [`Error::TooSmall`] if `size` cannot hold the header or the file is
    /// shorter than `size` (mapping past its end would `SIGBUS`);
    /// [`Error::TooLarge`] past `isize::MAX`; [`Error::Os`] from `fstat`,
    /// `mmap` or `fallocate`. The descriptor is closed on every error.
    ///
    /// # Safety
    ///
    /// No other mapping of the same file may be alive in this process while
    /// the returned region is, whether through another `SharedMem` (a
    /// duplicate of the descriptor, the same file opened again) or any other
    /// way: two mappings of one file let safe code hold a `&[u8]` and a
    /// `&mut [u8]` over the same bytes. Other processes may map it; what
    /// they may do is the crate's [safety model](crate#safety-model).
    pub unsafe fn map_file(fd: OwnedFd, size: usize) -> Result<SharedMem> {
        let file_size = mappable_size(fd.as_fd())?;
        if size < HEADER_SIZE || size > file_size {
            return Err(Error::TooSmall {
                size: file_size.min(size) as u64,
                needed: size.max(HEADER_SIZE) as u64,
            });
        }
        let base = sys::map(fd.as_fd(), size)?;
        Ok(SharedMem::from_parts(base, size, fd, None))
    }

    /// `getWorkerComm`'s mapping—Maps a whole file or memfd, its size taken
    /// from `fstat`, as a Go worker maps the region it inherits on fd 5.
    ///
    /// # Errors
    ///
    /// As [`map_file`](Self::map_file); [`Error::TooLarge`] is Go's "fuzz
    /// temp file exceeds maximum size".
    ///
    /// # Safety
    ///
    /// As [`map_file`](Self::map_file): no other mapping of the same file
    /// may be alive in this process while the returned region is.
    pub unsafe fn from_fd(fd: OwnedFd) -> Result<SharedMem> {
        let (base, size) = Self::map_whole(fd.as_fd())?;
        Ok(SharedMem::from_parts(base, size, fd, None))
    }

    /// Maps the whole of a file that is not ours yet: the caller takes the
    /// descriptor only once this succeeded.
    pub(crate) fn map_whole(fd: BorrowedFd<'_>) -> Result<(NonNull<u8>, usize)> {
        let size = mappable_size(fd)?;
        Ok((sys::map(fd, size)?, size))
    }

    pub(crate) fn from_parts(
        base: NonNull<u8>,
        size: usize,
        fd: OwnedFd,
        temp: Option<TempFile>,
    ) -> SharedMem {
        SharedMem {
            region: Self::mapped_region(base, size),
            fd: ManuallyDrop::new(fd),
            temp,
            reserve_from_len: 0,
            reserve_whole: false,
        }
    }

    fn mapped_region(base: NonNull<u8>, size: usize) -> Region {
        // SAFETY: `base` is a shared mapping of `size` bytes, page aligned
        // (so aligned for the header), that lives until `release` or a
        // resize unmaps it, reached only through this `SharedMem` (and, by
        // the adopting constructors' contract, no other mapping of the same
        // file in this process); every caller checked
        // `HEADER_SIZE <= size <= isize::MAX` before mapping.
        unsafe { Region::new_unchecked(base, size) }
    }

    /// `setValue(b)`—See [`Region::set_value`].
    ///
    /// On a file system that can run out of room (a small tmpfs, a full
    /// disk, a memory cgroup at its limit), writing through a mapping to
    /// storage the file does not have yet raises `SIGBUS`. So the storage
    /// the header and the value are about to cover is reserved first
    /// (`fallocate`) whenever it goes past the most this process reserved
    /// before: a system call only when that mark grows (by whole pages),
    /// none in steady state.
    ///
    /// A value cannot be set from a slice of the region itself: the borrow
    /// checker refuses it, which is what lets the copy skip the check for
    /// bytes it would overwrite while reading them (the C API's
    /// `fuzzshm_set_value`, which cannot rely on that, moves them).
    ///
    /// ```compile_fail,E0502
    /// let mut mem = fuzzshm::SharedMem::temp_file(64)?;
    /// mem.set_value(b"input")?;
    /// let value = mem.value()?;
    /// mem.set_value(value)?;
    /// # Ok::<(), fuzzshm::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::ValueTooLarge`] if `bytes` exceeds the capacity;
    /// [`Error::Os`] (`ENOSPC`) if the file system has no room for it. The
    /// region is unchanged on error and still takes values that fit.
    #[inline(always)]
    pub fn set_value(&mut self, bytes: &[u8]) -> Result<()> {
        self.reserve_value(bytes.len())?;
        self.region.set_value(bytes)
    }

    /// `setValue` from a raw source that may overlap the value area.
    ///
    /// # Errors
    ///
    /// As [`set_value`](Self::set_value).
    ///
    /// # Safety
    ///
    /// As for `Region::set_value_from`: `src` is valid for reads of `len`
    /// bytes and no reference into them is alive.
    #[cfg(feature = "capi")]
    pub(crate) unsafe fn set_value_from(&mut self, src: *const u8, len: usize) -> Result<()> {
        self.reserve_value(len)?;
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { self.region.set_value_from(src, len) }
    }

    /// Reserves storage for the header and the first `len` value bytes,
    /// if this process has not yet. The steady state is this one compare.
    #[inline(always)]
    fn reserve_value(&mut self, len: usize) -> Result<()> {
        if len >= self.reserve_from_len {
            self.reserve_value_past_mark(len)
        } else {
            Ok(())
        }
    }

    #[cold]
    #[inline(never)]
    fn reserve_value_past_mark(&mut self, len: usize) -> Result<()> {
        let size = self.region.size();
        if len > self.region.capacity() {
            // Not a length this region takes: the write reports it.
            return Ok(());
        }
        let start = self
            .reserve_from_len
            .checked_sub(1)
            .map_or(0, |reserved| HEADER_SIZE + reserved);
        let end = (HEADER_SIZE + len)
            .checked_next_multiple_of(sys::page_size())
            .map_or(size, |end| end.min(size));
        sys::reserve(self.fd.as_fd(), start, end - start)?;
        self.reserve_from_len = end - HEADER_SIZE + 1;
        Ok(())
    }

    /// `fallocate` of the whole region—Reserves the file's storage for
    /// every byte of the region now, and for the whole of every size
    /// [`resize`](Self::resize) grows it to, so that no write can `SIGBUS`
    /// on a file system that fills up: for writers that do not go through
    /// [`set_value`](Self::set_value) or
    /// [`set_value_len`](Self::set_value_len): header stores through
    /// [`header`](Region::header) before either was called, writes through
    /// [`value_buffer_mut`](Self::value_buffer_mut), a C or Go peer. Call
    /// it right after creating the region. It takes that much memory (on
    /// tmpfs or a memfd) or disk at once.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] (`ENOSPC`) if the file system has no room; nothing is
    /// reserved past what was before.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mem = fuzzshm::SharedMem::temp_file(1 << 20)?;
    /// mem.reserve_whole()?;
    /// mem.value_buffer_mut()[..5].copy_from_slice(b"input"); // cannot SIGBUS
    /// mem.set_value_len(5)?;
    /// # Ok::<(), fuzzshm::Error>(())
    /// ```
    pub fn reserve_whole(&mut self) -> Result<()> {
        self.reserve_value(self.region.capacity())?;
        self.reserve_whole = true;
        Ok(())
    }

    /// `setValueLen(n)`—See [`Region::set_value_len`].
    ///
    /// # Errors
    ///
    /// [`Error::ValueTooLarge`] if `len` exceeds the capacity;
    /// [`Error::Os`] (`ENOSPC`) if the header's storage cannot be reserved
    /// (see [`set_value`](Self::set_value)).
    #[inline]
    pub fn set_value_len(&mut self, len: usize) -> Result<()> {
        self.reserve_value(0)?;
        self.region.set_value_len(len)
    }

    /// `valueRef()`, writable—See [`Region::value_mut`].
    ///
    /// # Errors
    ///
    /// [`Error::CorruptValueLen`] if the header's `valueLen` is impossible.
    #[inline]
    pub fn value_mut(&mut self) -> Result<&mut [u8]> {
        self.region.value_mut()
    }

    /// The whole value area—See [`Region::value_buffer_mut`].
    ///
    /// Bytes written here past what [`set_value`](Self::set_value) wrote
    /// before are not reserved: on a file system that can fill up, call
    /// [`reserve_whole`](Self::reserve_whole) first.
    #[inline]
    #[must_use]
    pub fn value_buffer_mut(&mut self) -> &mut [u8] {
        self.region.value_buffer_mut()
    }

    /// `mremap`, then `ftruncate` up—Grows the region to hold `capacity`
    /// value bytes, keeping the header and the value. The mapping is grown
    /// first and the file after, so a refusal of either leaves both as they
    /// were (a sealed memfd could never be shrunk back): on Linux the
    /// mapping grows in place where it can (`mremap` without flags), else a
    /// new mapping is made elsewhere and, once the file has grown, the old
    /// one is moved onto it (`mremap(MREMAP_MAYMOVE|MREMAP_FIXED)`, so no
    /// page is faulted in again); elsewhere the new mapping replaces the
    /// old. Growing to the current capacity does nothing. Peers adopt the
    /// new size with [`remap`](Self::remap).
    ///
    /// # Errors
    ///
    /// [`Error::ShrinkRefused`] if `capacity` is below the current one: a peer still
    /// mapping the old size must never lose pages under its feet.
    /// [`Error::SizeOverflow`], or [`Error::Os`] from `fstat`, `mremap`
    /// (`ENOMEM`, also under `RLIMIT_AS`), `ftruncate` (`EFBIG` above
    /// `RLIMIT_FSIZE`) or, after
    /// [`reserve_whole`](Self::reserve_whole), `fallocate` (`ENOSPC`). On
    /// any error the file's size and the mapping are exactly as they were.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mem = fuzzshm::SharedMem::temp_file(16)?;
    /// mem.set_value(b"kept")?;
    /// mem.resize(1 << 20)?;
    /// assert_eq!((mem.capacity(), mem.value()?), (1 << 20, &b"kept"[..]));
    /// # Ok::<(), fuzzshm::Error>(())
    /// ```
    pub fn resize(&mut self, capacity: usize) -> Result<()> {
        let current = self.region.capacity();
        if capacity < current {
            return Err(Error::ShrinkRefused {
                capacity: current,
                requested: capacity,
            });
        }
        let size = size_for(capacity)?;
        let old_size = self.region.size();
        if size == old_size {
            return Ok(());
        }
        let fd = self.fd.as_fd();
        // A peer may have grown the file further already; never cut it back.
        let file_size = sys::stat(fd)?.size;
        let reserve_whole = self.reserve_whole;
        let grow_file = || {
            if reserve_whole {
                // Storage reserved past the end would outlive a refusal.
                sys::check_size_limit(size)?;
                sys::reserve(fd, old_size, size - old_size)?;
            }
            if file_size < size as u64 {
                sys::set_size(fd, size)?;
            }
            Ok(())
        };
        self.region.unpoison_all();
        // SAFETY: `region` is our live mapping of `fd`; `&mut self` means no
        // reference into it exists, and it is replaced below at once.
        let (base, grown) =
            unsafe { sys::remap_then(fd, self.region.base(), old_size, size, grow_file) };
        self.region = Self::mapped_region(base, if grown.is_ok() { size } else { old_size });
        grown?;
        if reserve_whole {
            self.reserve_from_len = capacity + 1;
        }
        Ok(())
    }

    /// `fstat`, then remap if the size changed—Adopts the file's current
    /// size after a peer resized it. Returns whether the mapping changed.
    ///
    /// # Errors
    ///
    /// [`Error::TooSmall`] / [`Error::TooLarge`] if the file's new size is
    /// not mappable, [`Error::Os`] from `fstat` or the remapping; the region
    /// stays as it was on any error.
    pub fn remap(&mut self) -> Result<bool> {
        let size = mappable_size(self.fd.as_fd())?;
        let old_size = self.region.size();
        if size == old_size {
            return Ok(false);
        }
        let fd = self.fd.as_fd();
        // A peer grew the file: its new tail is covered as the rest is.
        let reserve_tail = self.reserve_whole && size > old_size;
        let adopt = || {
            if reserve_tail {
                sys::reserve(fd, old_size, size - old_size)?;
            }
            Ok(())
        };
        self.region.unpoison_all();
        // SAFETY: as in `resize`.
        let (base, remapped) =
            unsafe { sys::remap_then(fd, self.region.base(), old_size, size, adopt) };
        self.region = Self::mapped_region(base, if remapped.is_ok() { size } else { old_size });
        // A peer that truncated a plain file may have taken reserved pages.
        self.reserve_from_len = match (remapped.is_ok(), reserve_tail) {
            (true, true) => self.region.capacity() + 1,
            _ => self.reserve_from_len.min(self.region.capacity() + 1),
        };
        remapped.map(|()| true)
    }

    /// `Close()`—Unmaps the region, closes the descriptor and removes the
    /// file if this process created it. All three are attempted whatever
    /// fails, and the first error is returned, as Go's `Close` does.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] from `munmap`, `close` or `unlinkat`, the first to fail.
    pub fn close(self) -> Result<()> {
        let mut this = ManuallyDrop::new(self);
        this.release()
    }

    /// Unmaps, closes and removes. Runs exactly once: from `Drop`, or from
    /// `close`, which wraps `self` in `ManuallyDrop` so `Drop` never follows.
    fn release(&mut self) -> Result<()> {
        self.region.unpoison_all();
        // SAFETY: `region` is our live mapping; with `&mut self` nothing
        // borrows it, and `self` is never used again after `release`.
        let unmapped = unsafe { sys::unmap(self.region.base(), self.region.size()) };
        // SAFETY: `release` runs at most once, so `fd` is taken exactly once.
        let fd = unsafe { ManuallyDrop::take(&mut self.fd) };
        let closed = sys::close(fd);
        let removed = self.temp.take().map_or(Ok(()), TempFile::remove);
        unmapped.and(closed).and(removed)
    }
}

impl Drop for SharedMem {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

impl Deref for SharedMem {
    type Target = Region;

    #[inline]
    fn deref(&self) -> &Region {
        &self.region
    }
}

impl AsFd for SharedMem {
    #[inline]
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl core::fmt::Debug for SharedMem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedMem")
            .field("fd", &*self.fd)
            .field("region", &self.region)
            .field("removes_file", &self.temp.is_some())
            .field("reserve_from_len", &self.reserve_from_len)
            .finish()
    }
}
