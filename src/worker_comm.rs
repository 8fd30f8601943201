//! Go's worker convention: the coordinator hands each worker two pipes and
//! its region as fds 3, 4 and 5 (`setWorkerComm`), and the worker takes them
//! from there (`getWorkerComm`).

use core::sync::atomic::{AtomicBool, Ordering};

use rustix::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
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
    /// pipes, and the region mapped at the size `fstat` reports.
    ///
    /// Call it at start-up, before this process opens anything that could
    /// be given fds 3 to 5 if the parent passed nothing there. It succeeds
    /// once per process; a second call gets [`Error::AlreadyTaken`] rather
    /// than a second owner of the same descriptors.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyTaken`]; [`Error::Os`] (`EBADF`) if a descriptor is
    /// not open; [`Error::NotPipe`] if fd 3 or 4 is not a pipe or socket;
    /// any error of [`SharedMem::from_fd`] for fd 5. On error the descriptors
    /// are left open and untaken.
    pub fn from_inherited() -> Result<WorkerComm> {
        if INHERITED_TAKEN.swap(true, Ordering::AcqRel) {
            return Err(Error::AlreadyTaken);
        }
        let checked = [FUZZ_IN_FD, FUZZ_OUT_FD, MEM_FD]
            .into_iter()
            // SAFETY: borrowed only for the `fstat` inside `check_inherited`;
            // a number that is not open makes `fstat` fail with EBADF.
            .try_for_each(|fd| check_inherited(fd, unsafe { BorrowedFd::borrow_raw(fd) }));
        if let Err(error) = checked {
            INHERITED_TAKEN.store(false, Ordering::Release);
            return Err(error);
        }
        // SAFETY: all three are open (checked above) and, by this function's
        // contract, were passed to this process for the worker protocol;
        // `INHERITED_TAKEN` makes this the only place that takes them.
        unsafe { WorkerComm::from_raw_fds(FUZZ_IN_FD, FUZZ_OUT_FD, MEM_FD) }
    }

    /// A worker's descriptors from anywhere: `fuzz_in` (read end),
    /// `fuzz_out` (write end) and the region's `mem`.
    ///
    /// # Errors
    ///
    /// [`Error::NotPipe`] if `fuzz_in` or `fuzz_out` is not a pipe or
    /// socket; any error of [`SharedMem::from_fd`]. All three descriptors
    /// are closed on error (they are owned from the call on).
    ///
    /// # Safety
    ///
    /// Each descriptor must be open and owned by the caller, who hands that
    /// ownership over: nothing else may use or close it afterwards.
    pub unsafe fn from_raw_fds(fuzz_in: RawFd, fuzz_out: RawFd, mem: RawFd) -> Result<WorkerComm> {
        // SAFETY: the caller transfers ownership of three open descriptors.
        let (fuzz_in, fuzz_out, mem) = unsafe {
            (
                OwnedFd::from_raw_fd(fuzz_in),
                OwnedFd::from_raw_fd(fuzz_out),
                OwnedFd::from_raw_fd(mem),
            )
        };
        check_pipe(fuzz_in.as_fd())?;
        check_pipe(fuzz_out.as_fd())?;
        Ok(WorkerComm {
            fuzz_in,
            fuzz_out,
            mem: SharedMem::from_fd(mem)?,
        })
    }
}

fn check_inherited(number: RawFd, fd: BorrowedFd<'_>) -> Result<()> {
    if number == MEM_FD {
        sys::mode(fd).map(drop)
    } else {
        check_pipe(fd)
    }
}

fn check_pipe(fd: BorrowedFd<'_>) -> Result<()> {
    let mode = sys::mode(fd)?;
    match FileType::from_raw_mode(mode as _) {
        FileType::Fifo | FileType::Socket => Ok(()),
        _ => Err(Error::NotPipe {
            fd: rustix::fd::AsRawFd::as_raw_fd(&fd),
            mode,
        }),
    }
}

#[cfg(feature = "std")]
pub use coordinator::{set_worker_comm, CoordinatorComm};

#[cfg(feature = "std")]
mod coordinator {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    use rustix::fd::{AsFd, FromRawFd, OwnedFd, RawFd};

    use super::{FUZZ_IN_FD, FUZZ_OUT_FD, MEM_FD};
    use crate::error::Result;
    use crate::shared_mem::SharedMem;
    use crate::sys;

    /// Where the parent parks each descriptor until the fork: above every
    /// target number, so no `dup2` in the child can overwrite a source.
    const PARKING_MIN_FD: RawFd = 10;

    /// `setWorkerComm`—Arranges for the child that `cmd` spawns to find
    /// `fuzz_in` (a read end) at fd 3, `fuzz_out` (a write end) at fd 4 and
    /// the region `mem` at fd 5, like Go's `cmd.ExtraFiles`.
    ///
    /// Each descriptor is duplicated now, close-on-exec and numbered 10 or
    /// higher, and placed with `dup2` in the child between fork and exec;
    /// so a source that already sits at 3, 4 or 5 is never overwritten
    /// before it is copied, and the child inherits nothing else of ours.
    /// The duplicates live in `cmd`: drop it after spawning, or this
    /// process keeps the worker's pipe ends open too (and never sees EOF
    /// when the worker dies).
    ///
    /// # Errors
    ///
    /// [`Error::Os`](crate::Error::Os) if a descriptor cannot be duplicated.
    pub fn set_worker_comm(
        cmd: &mut Command,
        fuzz_in: impl AsFd,
        fuzz_out: impl AsFd,
        mem: impl AsFd,
    ) -> Result<()> {
        let parked = [
            sys::dup_cloexec(fuzz_in.as_fd(), PARKING_MIN_FD)?,
            sys::dup_cloexec(fuzz_out.as_fd(), PARKING_MIN_FD)?,
            sys::dup_cloexec(mem.as_fd(), PARKING_MIN_FD)?,
        ];
        let place = move || {
            for (source, target) in parked.iter().zip([FUZZ_IN_FD, FUZZ_OUT_FD, MEM_FD]) {
                // SAFETY: in the forked child, `target` (3, 4 or 5) is
                // about to be replaced by `dup2`, which atomically closes
                // whatever was there; `ManuallyDrop` ensures this stand-in
                // owner never closes it, so nothing is owned twice.
                let mut slot =
                    core::mem::ManuallyDrop::new(unsafe { OwnedFd::from_raw_fd(target) });
                // dup2 clears close-on-exec on the target, so only these
                // three cross the exec.
                rustix::io::dup2(source, &mut slot)?;
            }
            Ok(())
        };
        // SAFETY: between fork and exec the closure only calls `dup2`, a
        // single async-signal-safe system call; it allocates nothing and
        // takes no lock.
        unsafe { cmd.pre_exec(place) };
        Ok(())
    }

    /// The coordinator's side of Go's `workerComm`: the ends of the two
    /// pipes it keeps, and the worker's region.
    #[derive(Debug)]
    pub struct CoordinatorComm {
        /// Write end: calls to the worker (its fd 3 reads them).
        pub fuzz_in: OwnedFd,
        /// Read end: the worker's answers (its fd 4 writes them).
        pub fuzz_out: OwnedFd,
        /// The worker's region (its fd 5).
        pub mem: SharedMem,
    }

    impl CoordinatorComm {
        /// `pipe` twice, then [`set_worker_comm`]—Creates the two pipes
        /// (close-on-exec) and arranges for `cmd`'s child to get its ends and
        /// `mem` at fds 3, 4 and 5. Drop `cmd` once the child is spawned.
        ///
        /// # Errors
        ///
        /// [`Error::Os`](crate::Error::Os) from `pipe2` or the duplication.
        pub fn attach(cmd: &mut Command, mem: SharedMem) -> Result<CoordinatorComm> {
            let (worker_in, coordinator_in) = sys::pipe_cloexec()?;
            let (coordinator_out, worker_out) = sys::pipe_cloexec()?;
            set_worker_comm(cmd, &worker_in, &worker_out, &mem)?;
            Ok(CoordinatorComm {
                fuzz_in: coordinator_in,
                fuzz_out: coordinator_out,
                mem,
            })
        }
    }
}
