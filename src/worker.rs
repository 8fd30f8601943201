//! Go's worker convention: the coordinator hands each worker two pipes and
//! its region as fds 3, 4 and 5 (`setWorkerComm`, in `src/coordinator.rs`),
//! and the worker takes them from there (`getWorkerComm`, here; `no_std`).

use core::sync::atomic::{AtomicBool, Ordering};

use rustix::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use rustix::fs::FileType;

use crate::error::{Error, Result};
use crate::shared_mem::SharedMem;
use crate::sys;

/// The worker's fd for messages from the coordinator (Go's `fuzzIn`).
pub const FUZZ_IN_FD: RawFd = 3;
/// The worker's fd for replies to the coordinator (Go's `fuzzOut`).
pub const FUZZ_OUT_FD: RawFd = 4;
/// The worker's fd for its region (Go's `mem`).
pub const MEM_FD: RawFd = 5;

/// Set once the inherited descriptors have an owner, so a second
/// [`WorkerComm::from_inherited`] cannot own (and close) them twice.
static INHERITED_TAKEN: AtomicBool = AtomicBool::new(false);

/// A worker's side of Go's `workerComm`: the two pipes and the region.
///
/// A worker takes them with [`WorkerComm::from_inherited`], then serves
/// calls as Go's `workerServer` does: read a call on `fuzz_in`, run the
/// value in `mem`, answer on `fuzz_out`, until the coordinator closes its
/// end. This program plays both parts, the worker being itself run again
/// (`examples/fuzz_loop.rs` is a complete coordinator and worker):
///
/// ```
/// use std::fs::File;
/// use std::io::{Read, Write};
/// use std::process::Command;
/// use std::sync::atomic::Ordering;
/// use fuzzshm::{CoordinatorComm, SharedMem, WorkerComm};
///
/// fn worker() -> Result<(), Box<dyn std::error::Error>> {
///     // SAFETY: `main` runs this first thing in a process that
///     // `CoordinatorComm::spawn` started: fds 3-5 were inherited for the
///     // worker protocol, nothing else owns them, fd 5 is mapped only here.
///     let WorkerComm { fuzz_in, fuzz_out, mut mem } = unsafe { WorkerComm::from_inherited() }?;
///     let (mut calls, mut answers) = (File::from(fuzz_in), File::from(fuzz_out));
///     while calls.read(&mut [0u8; 1])? == 1 {
///         let mut input = mem.value()?.to_vec(); // "run" it: reverse it
///         input.reverse();
///         mem.set_value(&input)?;
///         mem.header().count().fetch_add(1, Ordering::Relaxed);
///         answers.write_all(b"done")?;
///     }
///     Ok(()) // the coordinator closed fd 3: no more calls
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     if std::env::var_os("DOC_WORKER").is_some() {
///         return worker();
///     }
///     let mut cmd = Command::new(std::env::current_exe()?);
///     cmd.env("DOC_WORKER", "1");
///     let mut mem = SharedMem::temp_file(64)?;
///     mem.set_value(b"input")?;
///     let (mut child, comm) = CoordinatorComm::spawn(cmd, mem)?;
///     File::from(comm.fuzz_in).write_all(b"c")?; // one call, then EOF
///     let mut answer = Vec::new();
///     File::from(comm.fuzz_out).read_to_end(&mut answer)?;
///     assert!(child.wait()?.success());
///     assert_eq!(answer, b"done");
///     assert_eq!(comm.mem.value()?, b"tupni");
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct WorkerComm {
    /// Read end: the coordinator's calls arrive here (fd 3).
    pub fuzz_in: OwnedFd,
    /// Write end: the worker's answers go here (fd 4).
    pub fuzz_out: OwnedFd,
    /// The region (fd 5), mapped at the file's size.
    pub mem: SharedMem,
}

impl WorkerComm {
    /// `getWorkerComm`—Takes fds 3, 4 and 5 as a Go worker does: the two
    /// pipes, and the region mapped at the size `fstat` reports. From then
    /// on all three are close-on-exec, so the worker's own subprocesses
    /// inherit none of them (and the coordinator sees EOF when the worker
    /// dies, whatever its children do).
    ///
    /// Call it at start-up, before this process opens anything that could
    /// be given fds 3 to 5 if the parent passed nothing there. It succeeds
    /// once per process; a second call gets [`Error::AlreadyTaken`] rather
    /// than a second owner of the same descriptors.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyTaken`]; [`Error::NotInherited`] if a descriptor is
    /// not open; [`Error::NotPipe`] if fd 3 or 4 is not a pipe or socket;
    /// any error of [`SharedMem::from_fd`] for fd 5 (a directory, an empty
    /// file; `EACCES` from `mmap` for one not open for reading and writing).
    /// On error the descriptors are left open and untaken: a later call may
    /// take them (should `fcntl` fail on the second or third, the ones
    /// before it are already close-on-exec).
    ///
    /// # Safety
    ///
    /// Fds 3, 4 and 5 were inherited for the worker protocol, and nothing
    /// else in this process owns them: no `File`, `OwnedFd` or other owner
    /// was made from those numbers, nor will be (the returned
    /// [`WorkerComm`] owns them and closes them when dropped). A
    /// [`WorkerComm`] from an earlier call is the one owner allowed: it
    /// makes this call fail with [`Error::AlreadyTaken`] before touching
    /// them. No other
    /// mapping of the file on fd 5 exists in this process (see
    /// [`SharedMem::from_fd`]).
    pub unsafe fn from_inherited() -> Result<WorkerComm> {
        if INHERITED_TAKEN.swap(true, Ordering::AcqRel) {
            return Err(Error::AlreadyTaken);
        }
        // SAFETY: the caller's contract is `from_raw_fds`' for 3, 4 and 5.
        let taken = unsafe { WorkerComm::adopt([FUZZ_IN_FD, FUZZ_OUT_FD, MEM_FD]) };
        taken.map_err(|(which, error)| {
            INHERITED_TAKEN.store(false, Ordering::Release);
            explain_inherited(which, error)
        })
    }

    /// A worker's descriptors from anywhere: `fuzz_in` (read end),
    /// `fuzz_out` (write end) and the region's `mem`. On success all three
    /// are owned by the result and close-on-exec.
    ///
    /// # Errors
    ///
    /// As [`from_inherited`](Self::from_inherited), but for
    /// [`Error::AlreadyTaken`], and with [`Error::Os`] (`EBADF`) for
    /// [`Error::NotInherited`]; [`Error::SameFd`] if two of the numbers
    /// are the same. On error the descriptors are left open and the caller
    /// still owns them.
    ///
    /// # Safety
    ///
    /// Each number is an open descriptor the caller owns, and hands that
    /// ownership over on success: nothing else may use or close it
    /// afterwards. No other mapping of the file `mem` refers to exists in
    /// this process (see [`SharedMem::from_fd`]).
    pub unsafe fn from_raw_fds(fuzz_in: RawFd, fuzz_out: RawFd, mem: RawFd) -> Result<WorkerComm> {
        // SAFETY: the caller's contract, passed on.
        unsafe { WorkerComm::adopt([fuzz_in, fuzz_out, mem]) }.map_err(|(_, error)| error)
    }

    /// [`from_raw_fds`](Self::from_raw_fds), saying which descriptor (0:
    /// `fuzz_in`, 1: `fuzz_out`, 2: `mem`) an error is about.
    ///
    /// # Safety
    ///
    /// As for `from_raw_fds`.
    unsafe fn adopt(numbers: [RawFd; 3]) -> core::result::Result<WorkerComm, (usize, Error)> {
        let [fuzz_in, fuzz_out, mem] = numbers;
        if fuzz_in == fuzz_out || fuzz_in == mem || fuzz_out == mem {
            // One descriptor would end up with two owners, closed twice.
            let fd = if fuzz_in == fuzz_out { fuzz_in } else { mem };
            return Err((0, Error::SameFd { fd }));
        }
        // SAFETY: the caller owns these open descriptors; they are only
        // borrowed (for `fstat`, `mmap` and `fcntl`) until all the checks
        // passed.
        let borrowed = numbers.map(|fd| unsafe { BorrowedFd::borrow_raw(fd) });
        check_pipe(borrowed[0]).map_err(|error| (0, error))?;
        check_pipe(borrowed[1]).map_err(|error| (1, error))?;
        let (base, size) = SharedMem::map_whole(borrowed[2]).map_err(|error| (2, error))?;
        for (which, fd) in borrowed.into_iter().enumerate() {
            if let Err(error) = sys::set_cloexec(fd) {
                // SAFETY: mapped just above and never handed out.
                let _ = unsafe { sys::unmap(base, size) };
                return Err((which, error));
            }
        }
        // SAFETY: the caller hands over ownership of three open descriptors,
        // and every check passed, so they are taken now and only here.
        let [fuzz_in, fuzz_out, mem] = numbers.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        Ok(WorkerComm {
            fuzz_in,
            fuzz_out,
            mem: SharedMem::from_parts(base, size, mem, None),
        })
    }
}

/// An error about inherited fd `3 + which`: one that is not open (the
/// first call on each, `fstat`, answers `EBADF`) is [`Error::NotInherited`].
fn explain_inherited(which: usize, error: Error) -> Error {
    match error {
        Error::Os {
            call: "fstat",
            errno: rustix::io::Errno::BADF,
        } => Error::NotInherited {
            fd: FUZZ_IN_FD + which as RawFd,
        },
        other => other,
    }
}

fn check_pipe(fd: BorrowedFd<'_>) -> Result<()> {
    let facts = sys::stat(fd)?;
    match facts.file_type() {
        FileType::Fifo | FileType::Socket => Ok(()),
        _ => Err(Error::NotPipe {
            fd: rustix::fd::AsRawFd::as_raw_fd(&fd),
            mode: facts.mode,
        }),
    }
}
