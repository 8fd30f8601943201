//! [`SharedMem`]: owns a file descriptor, its mapping, and (for a temp file)
//! the name to remove on close. Go's `sharedMem`.

use core::ffi::CStr;
use core::mem::ManuallyDrop;
use core::ops::Deref;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
use crate::header::{region_size, HEADER_SIZE};
use crate::region::Region;
use crate::sys;

/// How many names `create_in` tries before giving up; with 64 random bits a
/// second collision means someone is creating our names on purpose.
const NAME_ATTEMPTS: u32 = 64;

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
pub struct SharedMem {
    region: Region,
    fd: ManuallyDrop<OwnedFd>,
    temp: Option<TempFile>,
}

/// A file we created and must remove: the directory it is in and its name.
struct TempFile {
    dir: TempDir,
    name: TempName,
}

/// The directory a temp file was created in, held open so the file is
/// removed from that same directory even if it is renamed meanwhile.
enum TempDir {
    /// A descriptor of this region's own.
    Owned(OwnedFd),
    /// The temp directory's descriptor that [`SharedMem::temp_file`] keeps
    /// for the whole process.
    #[cfg(feature = "std")]
    ProcessWide(BorrowedFd<'static>),
}

impl TempDir {
    /// The temp directory (`std::env::temp_dir()`), opened on first use
    /// and kept open, close-on-exec, for the life of the process: a region
    /// then costs no `openat` and `close` of the directory (two of the
    /// eight system calls of a create-and-close). If the temp directory
    /// changes (`TMPDIR` set to another path), regions there get a
    /// descriptor of their own.
    #[cfg(feature = "std")]
    fn process_wide() -> Result<TempDir> {
        static OPENED: std::sync::OnceLock<(std::path::PathBuf, OwnedFd)> =
            std::sync::OnceLock::new();
        let path = std::env::temp_dir();
        if OPENED.get().is_none() {
            let fd = sys::open_dir(&path)?;
            // A thread racing us may have set it first: its descriptor is
            // as good, and ours is closed as it drops.
            let _ = OPENED.set((path.clone(), fd));
        }
        match OPENED.get() {
            Some((opened, fd)) if *opened == path => Ok(TempDir::ProcessWide(fd.as_fd())),
            _ => sys::open_dir(&path).map(TempDir::Owned),
        }
    }
}

impl AsFd for TempDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            TempDir::Owned(fd) => fd.as_fd(),
            #[cfg(feature = "std")]
            TempDir::ProcessWide(fd) => *fd,
        }
    }
}

/// `fuzz-` followed by 16 hex digits and a NUL, on the stack: no allocation,
/// so `create_in` works without `alloc`.
struct TempName([u8; TempName::LEN + 1]);

impl TempName {
    const PREFIX: &'static [u8] = b"fuzz-";
    const LEN: usize = Self::PREFIX.len() + 16;

    fn new(entropy: u64) -> TempName {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut name = [0u8; Self::LEN + 1];
        name[..Self::PREFIX.len()].copy_from_slice(Self::PREFIX);
        for (i, digit) in name[Self::PREFIX.len()..Self::LEN].iter_mut().enumerate() {
            *digit = HEX[((entropy >> (60 - 4 * i)) & 0xf) as usize];
        }
        TempName(name)
    }

    fn as_c_str(&self) -> &CStr {
        // SAFETY: `new` fills every byte but the last with ASCII letters and
        // digits, and the last is the zero it was initialised with: exactly
        // one NUL, at the end.
        unsafe { CStr::from_bytes_with_nul_unchecked(&self.0) }
    }
}

impl SharedMem {
    /// `sharedMemTempFile`—A new region in a new file `fuzz-*` in the temp
    /// directory (`TMPDIR`, else `/tmp`), created exclusively with mode 0600
    /// and removed on close. The file takes no memory or disk until written.
    ///
    /// Like Go's `sharedMemTempFile(size)`, it takes the value capacity;
    /// the file is [`region_size`]`(capacity)` long.
    ///
    /// The temp directory is opened once per process and kept open
    /// (close-on-exec), so each region is created and removed relative to
    /// that descriptor without looking the directory up again.
    ///
    /// # Errors
    ///
    /// [`Error::SizeOverflow`] if the region would not fit in the address
    /// space; [`Error::Os`] if the directory cannot be opened or the file
    /// created, sized or mapped (nothing is left behind).
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
        let size = region_size(capacity).ok_or(Error::SizeOverflow { capacity })?;
        Self::create_sized_in(TempDir::process_wide()?, size)
    }

    /// [`create_in`](Self::create_in) the directory at `path`, which is
    /// opened for the purpose and kept open to remove the file from.
    #[cfg(feature = "capi")]
    pub(crate) fn create_at(path: impl rustix::path::Arg, capacity: usize) -> Result<SharedMem> {
        let size = region_size(capacity).ok_or(Error::SizeOverflow { capacity })?;
        Self::create_sized_in(TempDir::Owned(sys::open_dir(path)?), size)
    }

    /// `openat(dir, "fuzz-…", O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW, 0600)`—
    /// [`temp_file`](Self::temp_file) in a directory given as a descriptor,
    /// without `std`.
    ///
    /// The name is `fuzz-` and 16 random hex digits, tried again on a
    /// collision. The directory descriptor is duplicated (close-on-exec) and
    /// kept, so the file is removed from the same directory on close even if
    /// the directory is renamed meanwhile.
    ///
    /// # Errors
    ///
    /// As [`temp_file`](Self::temp_file), and [`Error::NameCollision`] if
    /// every name tried exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use rustix::fs::{openat, Mode, OFlags, CWD};
    /// let dir = openat(CWD, "/tmp", OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    /// let mem = fuzzshm::SharedMem::create_in(&dir, 4096)?;
    /// assert_eq!(mem.capacity(), 4096);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_in(dir: impl AsFd, capacity: usize) -> Result<SharedMem> {
        let size = region_size(capacity).ok_or(Error::SizeOverflow { capacity })?;
        Self::create_sized_in(TempDir::Owned(sys::dup_cloexec(dir.as_fd(), 0)?), size)
    }

    fn create_sized_in(dir: TempDir, size: usize) -> Result<SharedMem> {
        let mut attempts = 0;
        let (fd, name) = loop {
            let name = TempName::new(sys::name_entropy());
            match sys::create_exclusive(dir.as_fd(), name.as_c_str()) {
                Ok(fd) => break (fd, name),
                Err(Error::Os { errno, .. }) if errno == rustix::io::Errno::EXIST => {
                    attempts += 1;
                    if attempts == NAME_ATTEMPTS {
                        return Err(Error::NameCollision { attempts });
                    }
                }
                Err(error) => return Err(error),
            }
        };
        let temp = TempFile { dir, name };
        let mapped = sys::set_len(fd.as_fd(), size).and_then(|()| sys::map(fd.as_fd(), size));
        match mapped {
            Ok(base) => Ok(SharedMem::from_parts(base, size, fd, Some(temp))),
            Err(error) => {
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
    /// # Errors
    ///
    /// [`Error::SizeOverflow`], or [`Error::Os`] if the kernel refuses.
    ///
    /// # Examples
    ///
    /// ```
    /// let mem = fuzzshm::SharedMem::memfd(64 << 20)?;
    /// assert_eq!(mem.value()?, b"");
    /// # Ok::<(), fuzzshm::Error>(())
    /// ```
    #[cfg(fuzzshm_memfd)]
    pub fn memfd(capacity: usize) -> Result<SharedMem> {
        let size = region_size(capacity).ok_or(Error::SizeOverflow { capacity })?;
        let fd = sys::sealed_memfd(size)?;
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
    /// [`Error::TooLarge`] past `isize::MAX`; [`Error::Os`] from `fstat` or
    /// `mmap`. The descriptor is closed on every error.
    pub fn map_file(fd: OwnedFd, size: usize) -> Result<SharedMem> {
        let file_len = sys::mappable_len(fd.as_fd())?;
        if size < HEADER_SIZE || size > file_len {
            return Err(Error::TooSmall {
                size: file_len.min(size) as u64,
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
    pub fn from_fd(fd: OwnedFd) -> Result<SharedMem> {
        let size = sys::mappable_len(fd.as_fd())?;
        let base = sys::map(fd.as_fd(), size)?;
        Ok(SharedMem::from_parts(base, size, fd, None))
    }

    fn from_parts(
        base: core::ptr::NonNull<u8>,
        size: usize,
        fd: OwnedFd,
        temp: Option<TempFile>,
    ) -> SharedMem {
        SharedMem {
            region: Self::mapped_region(base, size),
            fd: ManuallyDrop::new(fd),
            temp,
        }
    }

    fn mapped_region(base: core::ptr::NonNull<u8>, size: usize) -> Region {
        // SAFETY: `base` is a fresh shared mapping of `size` bytes, page
        // aligned (so aligned for the header), that lives until `release` or
        // a resize unmaps it, reached only through this `SharedMem`; every
        // caller checked `HEADER_SIZE <= size <= isize::MAX` before mapping.
        unsafe { Region::new_unchecked(base, size) }
    }

    /// `setValue(b)`—See [`Region::set_value`].
    ///
    /// # Errors
    ///
    /// [`Error::ValueTooLarge`] if `bytes` exceeds the capacity.
    #[inline(always)]
    pub fn set_value(&mut self, bytes: &[u8]) -> Result<()> {
        self.region.set_value(bytes)
    }

    /// `setValue` from a raw source that may overlap the value area.
    ///
    /// # Errors
    ///
    /// [`Error::ValueTooLarge`] if `len` exceeds the capacity.
    ///
    /// # Safety
    ///
    /// As for `Region::set_value_from`: `src` is valid for reads of `len`
    /// bytes and no reference into them is alive.
    #[cfg(feature = "capi")]
    pub(crate) unsafe fn set_value_from(&mut self, src: *const u8, len: usize) -> Result<()> {
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { self.region.set_value_from(src, len) }
    }

    /// `setValueLen(n)`—See [`Region::set_value_len`].
    ///
    /// # Errors
    ///
    /// [`Error::ValueTooLarge`] if `len` exceeds the capacity.
    #[inline]
    pub fn set_value_len(&mut self, len: usize) -> Result<()> {
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
    #[inline]
    pub fn value_buffer_mut(&mut self) -> &mut [u8] {
        self.region.value_buffer_mut()
    }

    /// `ftruncate` up, then `mremap`—Grows the region to hold `capacity`
    /// value bytes, keeping the header and the value. On Linux the mapping
    /// grows in place where it can (`mremap(MREMAP_MAYMOVE)`); elsewhere a
    /// new mapping replaces the old. Growing to the current capacity does
    /// nothing. Peers adopt the new size with [`remap`](Self::remap).
    ///
    /// # Errors
    ///
    /// [`Error::Shrink`] if `capacity` is below the current one: a peer still
    /// mapping the old size must never lose pages under its feet.
    /// [`Error::SizeOverflow`], or [`Error::Os`] from `fstat`, `ftruncate` or
    /// the remapping; the region stays as it was on any error.
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
            return Err(Error::Shrink {
                capacity: current,
                requested: capacity,
            });
        }
        let size = region_size(capacity).ok_or(Error::SizeOverflow { capacity })?;
        if size == self.region.len() {
            return Ok(());
        }
        // A peer may have grown the file further already; never cut it back.
        if sys::mappable_len(self.fd.as_fd())? < size {
            sys::set_len(self.fd.as_fd(), size)?;
        }
        self.remap_to(size)
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
        let size = sys::mappable_len(self.fd.as_fd())?;
        if size == self.region.len() {
            return Ok(false);
        }
        self.remap_to(size)?;
        Ok(true)
    }

    fn remap_to(&mut self, size: usize) -> Result<()> {
        // SAFETY: `region` is our live mapping of `fd`; `&mut self` means no
        // reference into it exists, and on success it is replaced at once.
        let base =
            unsafe { sys::remap(self.fd.as_fd(), self.region.base(), self.region.len(), size) }?;
        self.region = Self::mapped_region(base, size);
        Ok(())
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
        // SAFETY: `region` is our live mapping; with `&mut self` nothing
        // borrows it, and `self` is never used again after `release`.
        let unmapped = unsafe { sys::unmap(self.region.base(), self.region.len()) };
        // SAFETY: `release` runs at most once, so `fd` is taken exactly once.
        let fd = unsafe { ManuallyDrop::take(&mut self.fd) };
        let closed = sys::close(fd);
        let removed = self.temp.take().map_or(Ok(()), TempFile::remove);
        unmapped.and(closed).and(removed)
    }
}

impl TempFile {
    fn remove(self) -> Result<()> {
        sys::unlink(self.dir.as_fd(), self.name.as_c_str())
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
            .finish()
    }
}
