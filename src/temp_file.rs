//! The files of Go's `sharedMemTempFile`: where they go (the temp
//! directory as `TMPDIR` names it at each call), their names, their
//! exclusive creation, and their removal on close. [`SharedMem`] only owns
//! the mapping; this module owns the name.
//!
//! Also the files that have none ([`TempFile::unnamed_in`]). The names
//! are [`name`]'s; those left behind by a process that died are
//! [`crate::orphans`]'.
//!
//! [`SharedMem`]: crate::SharedMem

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::sys;

mod name;

pub(crate) use name::TempName;

/// How many names [`TempFile::create`] tries before giving up; with 32
/// random bits per name and this process's pid beside them, that many
/// collisions mean someone is creating our names on purpose.
const NAME_ATTEMPTS: u32 = 64;

/// A file we created and must remove: the directory it is in and its name.
pub(crate) struct TempFile {
    dir: TempDir,
    name: TempName,
}

/// Where a temp file was created, and is removed from.
pub(crate) enum TempDir {
    /// A directory descriptor of this file's own ([`SharedMem::temp_file_in`]):
    /// the file is removed from that directory even if it was renamed
    /// meanwhile.
    ///
    /// [`SharedMem::temp_file_in`]: crate::SharedMem::temp_file_in
    Owned(OwnedFd),
    /// The temp directory's absolute path ([`SharedMem::temp_file`]),
    /// shared by the files created there: each is created and removed by
    /// path, as Go and the `tempfile` crate do, so each call goes where
    /// `TMPDIR` leads now, with no descriptor to go stale and no system
    /// call to check one. If the directory is renamed while a file is in
    /// it, removing the file fails with `ENOENT`, as Go's does.
    ///
    /// [`SharedMem::temp_file`]: crate::SharedMem::temp_file
    #[cfg(feature = "std")]
    Path(std::sync::Arc<std::ffi::CString>),
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

    /// Runs `call` with the directory and name to pass to an `*at` system
    /// call for the file `name` in this directory.
    fn at<T>(&self, name: TempName, call: impl FnOnce(BorrowedFd<'_>, &CStr) -> T) -> T {
        let name = name.spelt();
        match self {
            TempDir::Owned(fd) => call(fd.as_fd(), name.as_c_str()),
            #[cfg(feature = "std")]
            TempDir::Path(dir) => {
                let mut path = std::vec::Vec::with_capacity(dir.as_bytes().len() + 32);
                path.extend_from_slice(dir.as_bytes());
                path.push(b'/');
                path.extend_from_slice(name.as_c_str().to_bytes_with_nul());
                match CStr::from_bytes_with_nul(&path) {
                    Ok(path) => call(rustix::fs::CWD, path),
                    // Unreachable: the directory came from a `CString` and
                    // a name holds no NUL; a path that leads nowhere is the
                    // harmless answer.
                    Err(_) => call(rustix::fs::CWD, c"/nonexistent/fuzz-"),
                }
            }
        }
    }
}

#[cfg(feature = "std")]
mod current {
    use std::ffi::{CString, OsString};
    use std::os::unix::ffi::OsStrExt;
    use std::sync::{Arc, Mutex, PoisonError};

    use super::TempDir;
    use crate::error::{Error, Result};

    /// The last absolute `TMPDIR` seen, and its path as a C string, so a
    /// region costs no allocation or conversion for it while it stays.
    static LAST: Mutex<Option<(OsString, Arc<CString>)>> = Mutex::new(None);

    impl TempDir {
        /// The directory `TMPDIR` names now: `$TMPDIR` if it is set and not
        /// empty, else `/tmp`, as Go's `os.TempDir` and the C library
        /// answer (`std::env::temp_dir` takes an empty `TMPDIR` as the
        /// current directory). A relative one is made absolute against the
        /// working directory of this call, so a later `chdir` cannot move
        /// where the file is removed from.
        pub(crate) fn current() -> Result<TempDir> {
            let named = match std::env::var_os("TMPDIR") {
                Some(dir) if !dir.is_empty() => dir,
                _ => "/tmp".into(),
            };
            let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((known, path)) = &*last {
                if *known == named {
                    return Ok(TempDir::Path(Arc::clone(path)));
                }
            }
            let relative = !named.as_bytes().starts_with(b"/");
            let absolute = if relative {
                let cwd = std::env::current_dir().map_err(|error| Error::Os {
                    call: "getcwd",
                    errno: rustix::io::Errno::from_io_error(&error)
                        .unwrap_or(rustix::io::Errno::INVAL),
                })?;
                cwd.join(&named).into_os_string()
            } else {
                named.clone()
            };
            let path = CString::new(absolute.into_encoded_bytes()).map_err(|_| Error::Os {
                call: "openat($TMPDIR/fuzz-*)",
                errno: rustix::io::Errno::INVAL,
            })?;
            let path = Arc::new(path);
            if !relative {
                *last = Some((named, Arc::clone(&path)));
            }
            Ok(TempDir::Path(path))
        }
    }
}

impl TempFile {
    /// `openat(dir, "fuzz-…", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW, 0600)`—
    /// A new, empty file with a name of its own in `dir`, tried again on a
    /// collision.
    pub(crate) fn create(dir: TempDir) -> Result<(OwnedFd, TempFile)> {
        for _ in 0..NAME_ATTEMPTS {
            let name = TempName::next();
            match dir.at(name, sys::create_exclusive) {
                Ok(fd) => return Ok((fd, TempFile { dir, name })),
                Err(Error::Os { errno, .. }) if errno == Errno::EXIST => {}
                #[cfg(feature = "std")]
                Err(Error::Os { errno, .. }) if matches!(dir, TempDir::Path(_)) => {
                    return Err(Error::Os {
                        call: "openat($TMPDIR/fuzz-*)",
                        errno,
                    })
                }
                Err(error) => return Err(error),
            }
        }
        Err(Error::NameCollision {
            attempts: NAME_ATTEMPTS,
        })
    }

    /// [`create`](Self::create) in the directory `TMPDIR` names now.
    #[cfg(feature = "std")]
    pub(crate) fn create_in_temp_dir() -> Result<(OwnedFd, TempFile)> {
        TempFile::create(TempDir::current()?)
    }

    /// `unlinkat(dir, name)`—Removes the file, in the process that created
    /// it only: a child forked without `exec` (a fork server) holds a copy
    /// of this value, but the file is its parent's, still in use there.
    pub(crate) fn remove(self) -> Result<()> {
        if !self.name.created_here() {
            return Ok(());
        }
        self.dir.at(self.name, sys::unlink)
    }

    /// A new, empty file in `dir` that has no name: `O_TMPFILE` where the
    /// kernel and the file system have it, else
    /// [`created_then_unlinked`](Self::created_then_unlinked).
    pub(crate) fn unnamed_in(dir: BorrowedFd<'_>) -> Result<OwnedFd> {
        #[cfg(fuzzshm_tmpfile)]
        if let Some(fd) = sys::create_unnamed(dir)? {
            return Ok(fd);
        }
        Self::created_then_unlinked(TempDir::duplicate(dir)?)
    }

    /// A new, empty file created with a name of its own in `dir`, as
    /// [`create`](Self::create) does, and unlinked at once. A process that
    /// dies between the two calls leaves an empty file under this
    /// process's pid, which [`remove_orphans`](crate::remove_orphans) removes.
    pub(crate) fn created_then_unlinked(dir: TempDir) -> Result<OwnedFd> {
        let (fd, file) = TempFile::create(dir)?;
        file.remove().map(|()| fd)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "std")]
    #[test]
    fn created_then_unlinked_leaves_no_name() {
        use super::{TempDir, TempFile};
        use rustix::fd::AsFd;
        let dir =
            std::env::temp_dir().join(std::format!("fuzzshm-unit-unlinked-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dir_fd = std::fs::File::open(&dir).unwrap();
        let fd =
            TempFile::created_then_unlinked(TempDir::duplicate(dir_fd.as_fd()).unwrap()).unwrap();
        let stat = rustix::fs::fstat(&fd).unwrap();
        assert_eq!(
            (stat.st_nlink, stat.st_size, stat.st_mode & 0o777),
            (0, 0, 0o600)
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir(&dir).unwrap();
    }
}
