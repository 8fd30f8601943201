//! The `fuzz-*` files left behind by processes that died without closing
//! their regions: which are ours, whose creator is gone, and their removal.

use core::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::sys;
use crate::temp_file::TempName;

/// `openat(dir, O_DIRECTORY)`, then as [`remove_orphans_in`]—Removes the
/// `fuzz-*` files left in the directory at `dir` by processes that died
/// without closing their regions (a coordinator killed with `SIGKILL`),
/// never one whose creator is alive; returns how many it removed.
/// [`remove_orphans_in`] says exactly which files those are, and where the
/// pid in a name cannot tell.
///
/// Call it at start-up on the temp directory (`std::env::temp_dir()`), or
/// switch to regions that cannot leak
/// ([`SharedMem::anonymous`](crate::SharedMem::anonymous)).
///
/// # Errors
///
/// [`Error::Os`] if `dir` cannot be opened (`ENOENT`, `ENOTDIR`, `EACCES`)
/// or listed, or a file in it cannot be examined or removed for a reason
/// other than those [`remove_orphans_in`] passes over. Files removed before
/// the error stay removed.
///
/// # Examples
///
/// ```
/// # // A directory of the test's own: no one else's files are touched.
/// # let tmp = tempfile::tempdir().unwrap();
/// # std::env::set_var("TMPDIR", tmp.path());
/// // A coordinator's start-up: clean what killed predecessors left.
/// let removed = fuzzshm::remove_orphans(std::env::temp_dir())?;
/// println!("removed {removed} orphaned fuzz-* files");
/// # assert_eq!(removed, 0);
/// # Ok::<(), fuzzshm::Error>(())
/// ```
#[cfg(feature = "std")]
pub fn remove_orphans(dir: impl AsRef<std::path::Path>) -> Result<usize> {
    remove_orphans_in(sys::open_dir(dir.as_ref())?)
}

/// `getdents64`, `kill(pid, 0)`, `fstatat`, `unlinkat`—Removes from the
/// directory open as `dir` every regular file named as this crate names
/// temp files whose creating process is gone; returns how many it removed.
///
/// - **Only our names**: `fuzz-<pid>-<8 hex digits>` exactly, as
///   [`SharedMem::temp_file`](crate::SharedMem::temp_file) and
///   [`SharedMem::temp_file_in`](crate::SharedMem::temp_file_in) spell them
///   (decimal pid without leading zeros, lowercase hex). Go's own
///   `fuzz-<digits>` files, any other name, directories and symbolic links
///   (whatever they point to) are never touched.
/// - **Only the dead's**: the pid in the name is asked about with
///   `kill(pid, 0)`, which sends nothing. Only `ESRCH` (no such process)
///   counts as gone; a live process, one this user may not signal
///   (`EPERM`), and any other answer keep the file.
/// - Files it may not remove (`EPERM`, `EACCES`: another user's in a
///   sticky `/tmp`) and files that went meanwhile (`ENOENT`) are passed
///   over and not counted.
///
/// The directory is listed through a descriptor of its own: `dir`'s
/// offset is untouched and the call can be repeated. On Linux and Android
/// it needs no allocation (a buffer on the stack); elsewhere it needs the
/// `alloc` feature.
///
/// Limits, since a name carries only a pid:
///
/// - **A reused pid keeps a file longer**: if the creator died and a new
///   process got its number, the file stays until that one is gone too.
///   Never the other way round: a live creator's file is never removed.
/// - **A creator in another pid namespace looks gone**: its pid means
///   nothing here (or names another process), so its live region could be
///   removed. Give each pid namespace (container, sandbox) a temp directory
///   of its own (a private `TMPDIR`), or clean a shared one only from the
///   namespace that creates the files in it.
/// - A dead creator not yet reaped by its parent (a zombie) counts as
///   alive until it is.
///
/// # Errors
///
/// [`Error::Os`] if `dir` cannot be listed (`ENOTDIR`, `EACCES`), or a
/// file cannot be examined (`fstatat`) or removed (`unlinkat`) for a reason
/// other than those passed over above. Files removed before the error stay
/// removed.
///
/// # Examples
///
/// ```
/// let tmp = tempfile::tempdir()?;
/// let dir = std::fs::File::open(tmp.path())?;
/// let mine = fuzzshm::SharedMem::temp_file_in(&dir, 4096)?;
/// // Its creator, this process, is alive: the file is kept.
/// assert_eq!(fuzzshm::remove_orphans_in(&dir)?, 0);
/// mine.close()?; // and removed here
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn remove_orphans_in(dir: impl AsFd) -> Result<usize> {
    let dir = dir.as_fd();
    let mut removed = 0;
    sys::for_each_entry(dir, |name| {
        if !is_orphan(dir, name)? {
            return Ok(());
        }
        match sys::unlink(dir, name) {
            Ok(()) => removed += 1,
            Err(Error::Os {
                errno: Errno::NOENT | Errno::PERM | Errno::ACCESS,
                ..
            }) => {}
            Err(error) => return Err(error),
        }
        Ok(())
    })?;
    Ok(removed)
}

/// Whether the entry `name` of `dir` is an orphan: named exactly as ours
/// ([`TempName::parse`]), a regular file (not a directory, not a symbolic
/// link, whatever it points to), and its creator gone.
///
/// Gone means `kill(pid, 0)` answers `ESRCH`. Any other answer (the
/// process exists, exists but is another user's: `EPERM`, or anything
/// unexpected) keeps the file: a live creator's region must never be
/// removed, and a file kept too long costs only disk.
fn is_orphan(dir: BorrowedFd<'_>, name: &CStr) -> Result<bool> {
    let Some(ours) = TempName::parse(name.to_bytes()) else {
        return Ok(false);
    };
    let creator_gone = matches!(
        sys::probe_process(ours.pid),
        Err(Error::Os {
            errno: Errno::SRCH,
            ..
        })
    );
    if !creator_gone {
        return Ok(false);
    }
    match sys::file_type_at(dir, name) {
        Ok(file_type) => Ok(file_type == rustix::fs::FileType::RegularFile),
        Err(Error::Os {
            errno: Errno::NOENT,
            ..
        }) => Ok(false),
        Err(error) => Err(error),
    }
}
