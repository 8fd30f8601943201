//! Where a new worker's descriptors wait and where they go: its two pipe
//! ends and its region, parked above fd 5 until the spawn places them at
//! fds 3, 4 and 5 of the child. Shared by the Rust coordinator
//! (`src/coordinator.rs`) and the C ABI's `fuzzshm_spawn`.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

use crate::error::Result;
use crate::sys;
use crate::worker::{FUZZ_IN_FD, FUZZ_OUT_FD, MEM_FD};

/// Where the coordinator parks each descriptor until the fork: above every
/// target number, so no `dup2` in the child can overwrite a source.
const PARKING_MIN_FD: RawFd = MEM_FD + 1;

/// A worker's two pipe ends and its region, duplicated close-on-exec above
/// fd 5, to be placed at fds 3, 4 and 5 in the child between fork and exec:
/// by [`set_worker_comm`](crate::set_worker_comm)'s `pre_exec`, or by the
/// file actions of the C ABI's `fuzzshm_spawn`. Dropped (closed) in the
/// coordinator once the child is spawned.
pub(crate) struct Parked([OwnedFd; 3]);

impl Parked {
    /// Parks duplicates of `fuzz_in` (a read end), `fuzz_out` (a write
    /// end) and `mem`.
    ///
    /// # Errors
    ///
    /// `EMFILE` from `fcntl(F_DUPFD_CLOEXEC) under RLIMIT_NOFILE` when the
    /// limit leaves no number above 5; no duplicate stays open.
    pub(crate) fn new(
        fuzz_in: BorrowedFd<'_>,
        fuzz_out: BorrowedFd<'_>,
        mem: BorrowedFd<'_>,
    ) -> Result<Parked> {
        Ok(Parked([
            sys::dup_cloexec_above_limit(fuzz_in, PARKING_MIN_FD)?,
            sys::dup_cloexec_above_limit(fuzz_out, PARKING_MIN_FD)?,
            sys::dup_cloexec_above_limit(mem, PARKING_MIN_FD)?,
        ]))
    }

    /// Each parked descriptor and the number it takes in the child. A
    /// `dup2` onto the number clears close-on-exec there, so only these
    /// three cross the exec.
    pub(crate) fn placements(&self) -> impl Iterator<Item = (BorrowedFd<'_>, RawFd)> {
        let sources = self.0.iter().map(rustix::fd::AsFd::as_fd);
        sources.zip([FUZZ_IN_FD, FUZZ_OUT_FD, MEM_FD])
    }
}

/// `pipe` twice, then [`Parked::new`]—The pipes of a new worker on `mem`:
/// the coordinator's ends (`fuzz_in`, the write end of the calls;
/// `fuzz_out`, the read end of the answers) and the worker's, parked. The
/// parked duplicates are the only copies of the worker's ends left: the
/// ones `pipe` made are closed before this returns.
///
/// Fds 3, 4 and 5 of this process are made sure to be open first (any that
/// is free gets `/dev/null`, close-on-exec, for the life of the process):
/// a pipe that the spawn opens to learn whether `exec` failed (the standard
/// library's, or the C library's) could otherwise be given one of those
/// numbers, be replaced in the child by a worker's descriptor, and a failed
/// `exec` would look like a worker that wrote garbage.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) from `open("/dev/null")`, `pipe2` or
/// the duplication (`EMFILE` under a low `RLIMIT_NOFILE`); no descriptor of
/// the attempt stays open (but the fillers of fds 3-5).
pub(crate) fn worker_pipes(mem: BorrowedFd<'_>) -> Result<(OwnedFd, OwnedFd, Parked)> {
    // Before the pipes: a worker's end given a free number in 3-5 would
    // free it again when it is closed at the end of this call.
    sys::occupy_free_fds(FUZZ_IN_FD..=MEM_FD)?;
    let (worker_in, coordinator_in) = sys::pipe_cloexec()?;
    let (coordinator_out, worker_out) = sys::pipe_cloexec()?;
    let parked = Parked::new(worker_in.as_fd(), worker_out.as_fd(), mem)?;
    Ok((coordinator_in, coordinator_out, parked))
}
