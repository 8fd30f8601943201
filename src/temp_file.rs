//! The files of Go's `sharedMemTempFile`: where they go (the temp
//! directory as `TMPDIR` names it at each call), their names, their
//! exclusive creation, and their removal on close. [`SharedMem`] only owns
//! the mapping; this module owns the name.
//!
//! [`SharedMem`]: crate::SharedMem

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::sys;

/// How many names [`TempFile::create`] tries before giving up; with 64
/// random bits a second collision means someone is creating our names on
/// purpose.
const NAME_ATTEMPTS: u32 = 64;

/// A file we created and must remove: the directory it is in and its name.
pub(crate) struct TempFile {
    dir: TempDir,
    name: TempName,
}

/// The directory a temp file was created in, held open so the file is
/// removed from that same directory even if it is renamed meanwhile.
pub(crate) enum TempDir {
    /// A descriptor of this file's own.
    Owned(OwnedFd),
    /// The temp directory's descriptor, shared by every region created
    /// there while `TMPDIR` names that same directory.
    #[cfg(feature = "std")]
    Shared(std::sync::Arc<OwnedFd>),
}

impl TempDir {
    /// `fcntl(F_DUPFD_CLOEXEC)`—A duplicate of a directory descriptor the
    /// caller keeps.
    pub(crate) fn duplicate(dir: BorrowedFd<'_>) -> Result<TempDir> {
        sys::dup_cloexec(dir, 0).map(TempDir::Owned)
    }

    /// `openat(path, O_DIRECTORY)`—The directory at `path`.
    #[cfg(feature = "capi")]
    pub(crate) fn open(path: impl rustix::path::Arg) -> Result<TempDir> {
        sys::open_dir(path).map(TempDir::Owned)
    }
}

impl AsFd for TempDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            TempDir::Owned(fd) => fd.as_fd(),
            #[cfg(feature = "std")]
            TempDir::Shared(fd) => fd.as_fd(),
        }
    }
}

#[cfg(feature = "std")]
mod current {
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex, PoisonError};

    use rustix::fd::{AsFd, OwnedFd};

    use super::TempDir;
    use crate::error::Result;
    use crate::sys::{self, FileIdentity};

    /// The temp directory last opened, and which directory it is. A region
    /// then costs one `stat` of the path instead of an `openat` and a
    /// `close` of the directory.
    static OPENED: Mutex<Option<(FileIdentity, Arc<OwnedFd>)>> = Mutex::new(None);

    /// `$TMPDIR` if it is set and not empty, else `/tmp`: what Go's
    /// `os.TempDir` and the C library answer (`std::env::temp_dir` takes an
    /// empty `TMPDIR` as the current directory).
    fn temp_dir_path() -> PathBuf {
        match std::env::var_os("TMPDIR") {
            Some(dir) if !dir.is_empty() => dir.into(),
            _ => "/tmp".into(),
        }
    }

    impl TempDir {
        /// The directory `TMPDIR` names now. The descriptor opened for an
        /// earlier call is reused only if the path still leads to the same
        /// directory (device and inode): a directory removed and
        /// re-created, renamed, or a relative `TMPDIR` after a `chdir`, is
        /// opened afresh; a path that leads nowhere is an error.
        pub(crate) fn current() -> Result<TempDir> {
            let path = temp_dir_path();
            let identity = sys::identity_of_path(&path)?;
            let mut opened = OPENED.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((known, fd)) = &*opened {
                if *known == identity {
                    return Ok(TempDir::Shared(Arc::clone(fd)));
                }
            }
            let fd = Arc::new(sys::open_dir(&path)?);
            *opened = Some((sys::identity(fd.as_fd())?, Arc::clone(&fd)));
            Ok(TempDir::Shared(fd))
        }

        /// Forgets the directory opened last: it was removed (its inode
        /// number may already name the new one).
        pub(crate) fn forget_current() {
            *OPENED.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

impl TempFile {
    /// `openat(dir, "fuzz-…", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW, 0600)`—
    /// A new, empty file with a name of its own in `dir`, tried again on a
    /// collision.
    pub(crate) fn create(dir: TempDir) -> Result<(OwnedFd, TempFile)> {
        for _ in 0..NAME_ATTEMPTS {
            let name = TempName(sys::name_entropy());
            match sys::create_exclusive(dir.as_fd(), name.spelt().as_c_str()) {
                Ok(fd) => return Ok((fd, TempFile { dir, name })),
                Err(Error::Os { errno, .. }) if errno == Errno::EXIST => {}
                Err(error) => return Err(error),
            }
        }
        Err(Error::NameCollision {
            attempts: NAME_ATTEMPTS,
        })
    }

    /// [`create`](Self::create) in the directory `TMPDIR` names now. If the
    /// descriptor kept for it turns out to be a removed directory (whose
    /// inode number a new one took), it is opened again, once.
    #[cfg(feature = "std")]
    pub(crate) fn create_in_temp_dir() -> Result<(OwnedFd, TempFile)> {
        match TempFile::create(TempDir::current()?) {
            Err(Error::Os { errno, .. }) if errno == Errno::NOENT => {
                TempDir::forget_current();
                TempFile::create(TempDir::current()?)
            }
            created => created,
        }
    }

    /// `unlinkat(dir, name)`—Removes the file.
    pub(crate) fn remove(self) -> Result<()> {
        sys::unlink(self.dir.as_fd(), self.name.spelt().as_c_str())
    }
}

/// The random part of a `fuzz-*` name: kept as its 64 bits (the handle of
/// the C API has room for no more) and spelt out when used.
#[derive(Clone, Copy)]
struct TempName(u64);

/// `fuzz-` followed by 16 hex digits and a NUL, on the stack: no allocation,
/// so `create_in` works without `alloc`.
struct SpeltName([u8; SpeltName::LEN + 1]);

impl TempName {
    fn spelt(self) -> SpeltName {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut name = [0u8; SpeltName::LEN + 1];
        name[..SpeltName::PREFIX.len()].copy_from_slice(SpeltName::PREFIX);
        for (i, digit) in name[SpeltName::PREFIX.len()..SpeltName::LEN]
            .iter_mut()
            .enumerate()
        {
            *digit = HEX[((self.0 >> (60 - 4 * i)) & 0xf) as usize];
        }
        SpeltName(name)
    }
}

impl SpeltName {
    const PREFIX: &'static [u8] = b"fuzz-";
    const LEN: usize = Self::PREFIX.len() + 16;

    fn as_c_str(&self) -> &CStr {
        // SAFETY: `TempName::spelt` fills every byte but the last with ASCII
        // letters and digits, and the last is the zero it was initialised
        // with: exactly one NUL, at the end.
        unsafe { CStr::from_bytes_with_nul_unchecked(&self.0) }
    }
}
