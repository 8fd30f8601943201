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
    /// A directory descriptor of this file's own ([`SharedMem::create_in`]):
    /// the file is removed from that directory even if it was renamed
    /// meanwhile.
    ///
    /// [`SharedMem::create_in`]: crate::SharedMem::create_in
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

    /// `unlinkat(dir, name)`—Removes the file.
    pub(crate) fn remove(self) -> Result<()> {
        self.dir.at(self.name, sys::unlink)
    }
}

/// A temp file's name, `fuzz-<pid>-<8 hex digits>`, kept as its two
/// numbers (the handle of the C API has room for no more) and spelt out
/// when used. The creator's pid tells whose file it is.
#[derive(Clone, Copy)]
struct TempName {
    pid: u32,
    random: u32,
}

impl TempName {
    /// A new name for this process: its pid, and 32 bits from a generator
    /// seeded once per process (no system call per name).
    fn next() -> TempName {
        use core::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let (pid, seed) = sys::process_identity();
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        TempName {
            pid,
            random: sys::splitmix64(seed ^ count.wrapping_mul(0x9e37_79b9_7f4a_7c15)) as u32,
        }
    }

    fn spelt(self) -> SpeltName {
        let mut name = SpeltName([0; SpeltName::CAPACITY]);
        let mut end = 0;
        let mut push = |byte: u8| {
            name.0[end] = byte;
            end += 1;
        };
        b"fuzz-".iter().for_each(|&byte| push(byte));
        let digits = self.pid.checked_ilog10().unwrap_or(0) + 1;
        for place in (0..digits).rev() {
            push(b'0' + (self.pid / 10u32.pow(place) % 10) as u8);
        }
        push(b'-');
        for shift in (0..8).rev() {
            push(b"0123456789abcdef"[(self.random >> (4 * shift)) as usize & 0xf]);
        }
        name
    }
}

/// A spelt-out name and its NUL, on the stack: no allocation, so
/// `create_in` works without `alloc`.
struct SpeltName([u8; SpeltName::CAPACITY]);

impl SpeltName {
    /// `fuzz-`, a pid of up to 10 digits, `-`, 8 hex digits, and a NUL.
    const CAPACITY: usize = 5 + 10 + 1 + 8 + 1;

    fn as_c_str(&self) -> &CStr {
        // `spelt` writes at most CAPACITY - 1 bytes, none of them NUL, into
        // zeros: there is always a NUL after them.
        CStr::from_bytes_until_nul(&self.0).unwrap_or(c"fuzz-")
    }
}
