//! The coordinator's side of Go's worker convention (`std`): spawning a
//! worker with its pipes and region at fds 3, 4 and 5 ([`CoordinatorComm`],
//! [`set_worker_comm`]), and waiting for its answer with a deadline
//! ([`read_answer`]).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use rustix::fd::{AsFd, FromRawFd, OwnedFd};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::placement::{worker_pipes, Parked};
use crate::shared_mem::SharedMem;
use crate::sys;
use crate::worker::{FUZZ_IN_FD, MEM_FD};

/// `setWorkerComm`—Arranges for the child that `cmd` spawns to find
/// `fuzz_in` (a read end) at fd 3, `fuzz_out` (a write end) at fd 4 and
/// the region `mem` at fd 5, like Go's `cmd.ExtraFiles`.
///
/// Each descriptor is duplicated now, close-on-exec and numbered above
/// 5, and placed with `dup2` in the child between fork and exec; so a
/// source that already sits at 3, 4 or 5 is never overwritten before it
/// is copied, and the child inherits nothing else of ours.
///
/// # When it hangs
///
/// The duplicates live in `cmd`, in its `pre_exec` closure, until `cmd`
/// is dropped. As long as `cmd` (kept to spawn again, say) or the
/// caller's own `fuzz_in` and `fuzz_out` are open, this process holds
/// the worker's ends of both pipes, and once the worker dies a read on
/// the coordinator's read end blocks for ever instead of returning end
/// of stream, and writes to the coordinator's write end no longer fail
/// with `EPIPE` but block when the pipe is full. A second `cmd.spawn()`
/// would also hand the same pipes and region to a second child.
/// [`CoordinatorComm::spawn`] cannot hang: it spawns and drops every
/// such copy before it returns.
///
/// # Fds 3, 4 and 5 of this process
///
/// They are made sure to be open (any that is free gets `/dev/null`,
/// close-on-exec, for the life of the process): otherwise the pipe the
/// standard library opens to learn whether `exec` failed could be given
/// one of those numbers, be replaced in the child by a worker pipe, and
/// a failed `exec` would then look like a successful spawn whose worker
/// wrote eight bytes of garbage.
///
/// # Errors
///
/// [`Error::Os`] if a descriptor cannot be duplicated or `/dev/null`
/// opened; `EMFILE` from `fcntl(F_DUPFD_CLOEXEC)` when `RLIMIT_NOFILE`
/// leaves no number above 5.
pub fn set_worker_comm(
    cmd: &mut Command,
    fuzz_in: impl AsFd,
    fuzz_out: impl AsFd,
    mem: impl AsFd,
) -> Result<()> {
    sys::occupy_free_fds(FUZZ_IN_FD..=MEM_FD)?;
    let parked = Parked::new(fuzz_in.as_fd(), fuzz_out.as_fd(), mem.as_fd())?;
    place_in_child(cmd, parked);
    Ok(())
}

/// Has `cmd`'s child `dup2` the parked descriptors to fds 3, 4 and 5.
fn place_in_child(cmd: &mut Command, parked: Parked) {
    let place = move || {
        for (source, target) in parked.placements() {
            // SAFETY: in the forked child, `target` (3, 4 or 5) is
            // about to be replaced by `dup2`, which atomically closes
            // whatever was there; `ManuallyDrop` ensures this stand-in
            // owner never closes it, so nothing is owned twice.
            let mut slot = core::mem::ManuallyDrop::new(unsafe { OwnedFd::from_raw_fd(target) });
            rustix::io::dup2(source, &mut slot)?;
        }
        Ok(())
    };
    // SAFETY: between fork and exec the closure only calls `dup2`, a
    // single async-signal-safe system call; it allocates nothing and
    // takes no lock.
    unsafe { cmd.pre_exec(place) };
}

/// The coordinator's side of Go's `workerComm`: the ends of the two
/// pipes it keeps, and the worker's region.
///
/// Made by [`CoordinatorComm::spawn`], which starts the worker with the
/// other ends and the region at its fds 3, 4 and 5. Here the worker is
/// this program run again; `examples/fuzz_loop.rs` is a complete
/// coordinator, with batches, crashes recovered from the region and
/// workers respawned.
///
/// ```
/// use std::fs::File;
/// use std::io::{Read, Write};
/// use std::process::Command;
/// use std::sync::atomic::Ordering;
/// use fuzzshm::{CoordinatorComm, SharedMem, WorkerComm};
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     if std::env::var_os("DOC_WORKER").is_some() {
///         // SAFETY: started by `spawn` below, with fds 3-5 inherited for
///         // the worker protocol; nothing else here owns or maps them.
///         let comm = unsafe { WorkerComm::from_inherited() }?;
///         File::from(comm.fuzz_in).read_exact(&mut [0u8; 1])?;
///         comm.mem.header().count().fetch_add(1, Ordering::Relaxed);
///         File::from(comm.fuzz_out).write_all(b"ok")?;
///         return Ok(());
///     }
///     let mut cmd = Command::new(std::env::current_exe()?);
///     cmd.env("DOC_WORKER", "1");
///     let (mut child, comm) = CoordinatorComm::spawn(cmd, SharedMem::temp_file(64)?)?;
///     File::from(comm.fuzz_in).write_all(b"c")?;
///     let mut answer = Vec::new();
///     File::from(comm.fuzz_out).read_to_end(&mut answer)?; // until the worker exits
///     assert!(child.wait()?.success());
///     assert_eq!(answer, b"ok");
///     assert_eq!(comm.mem.header().count().load(Ordering::Relaxed), 1);
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct CoordinatorComm {
    /// Write end: calls to the worker (its fd 3 reads them).
    pub fuzz_in: OwnedFd,
    /// Read end: the worker's answers (its fd 4 writes them).
    pub fuzz_out: OwnedFd,
    /// The worker's region (its fd 5).
    pub mem: SharedMem,
}

/// An error from a call that took a region, with the region handed
/// back: it may hold the input that crashed a worker, so it is never
/// dropped on the caller's behalf.
#[derive(Debug)]
pub struct RegionError {
    /// What went wrong.
    pub error: Error,
    /// The region the call was given, as it was.
    pub mem: SharedMem,
}

impl core::fmt::Display for RegionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for RegionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// What [`read_answer`] found: the whole answer, the end of the worker,
/// or the deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The buffer is full: the whole answer arrived in time.
    Complete,
    /// End of stream after `read` bytes: no process holds the write end
    /// any more, so the worker exited or died (while running an input,
    /// a crash: `rawInMem` says so).
    Closed {
        /// How many bytes of the answer arrived, at the buffer's start.
        read: usize,
    },
    /// The deadline passed after `read` bytes, with the pipe still
    /// open: the worker is alive and has not answered. A target that
    /// loops for ever looks like this; the caller decides it hangs,
    /// kills the worker and keeps its input.
    TimedOut {
        /// How many bytes of the answer arrived, at the buffer's start.
        read: usize,
    },
}

/// `poll` and `read` on `fuzz_out` until a deadline—Reads a worker's
/// answer into the whole of `buf`, waiting at most `timeout` for it: a
/// coordinator's wait that a target looping for ever cannot hang.
///
/// `fuzz_out` is the coordinator's read end of the answers
/// ([`CoordinatorComm::fuzz_out`], or a `File` made of it: hence a
/// function, for the coordinator that took its `CoordinatorComm`
/// apart, besides the method [`CoordinatorComm::read_answer`]).
///
/// The deadline is taken once, `timeout` after the call, and bounds the
/// whole answer however many pieces the worker writes it in: each
/// `read` takes what is there, and the rest is waited for with what is
/// left of the time. The pipe is polled at least once, with no wait
/// once the time is up, so bytes already there are taken however late
/// the call (a `timeout` of zero takes what is there and waits for
/// nothing). A signal that interrupts the wait (`EINTR`) resumes it
/// with the same deadline. A `timeout` too long for [`Instant`] waits
/// without end; an empty `buf` is [`Answer::Complete`] at once.
///
/// Whatever arrived is in `buf[..read]` when the outcome is
/// [`Answer::Closed`] or [`Answer::TimedOut`]. After a time-out the
/// rest of the answer may still come, to be read as the start of the
/// next one: kill the worker (or read on) before the next call. Nothing
/// else should read `fuzz_out` meanwhile: a byte taken by another
/// reader between the poll and the read would leave the read waiting,
/// past the deadline, for the next one.
///
/// A worker whose target hangs on its input is killed, and the input,
/// still in the region, kept (the worker is this program run again):
///
/// ```
/// use std::fs::File;
/// use std::io::{Read, Write};
/// use std::process::Command;
/// use std::time::Duration;
/// use fuzzshm::{read_answer, Answer, CoordinatorComm, SharedMem, WorkerComm};
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     if std::env::var_os("DOC_WORKER").is_some() {
///         // SAFETY: started by `spawn` below, with fds 3-5 inherited
///         // for the worker protocol; nothing else here owns or maps them.
///         let comm = unsafe { WorkerComm::from_inherited() }?;
///         File::from(comm.fuzz_in).read_exact(&mut [0u8; 1])?;
///         while comm.mem.value()? == b"loop" {
///             std::thread::sleep(Duration::from_millis(10)); // the target hangs
///         }
///         File::from(comm.fuzz_out).write_all(b"ok")?;
///         return Ok(());
///     }
///     let mut mem = SharedMem::temp_file(64)?;
///     mem.set_value(b"loop")?;
///     let mut cmd = Command::new(std::env::current_exe()?);
///     cmd.env("DOC_WORKER", "1");
///     let (mut child, comm) = CoordinatorComm::spawn(cmd, mem)?;
///     File::from(comm.fuzz_in).write_all(b"c")?; // run the input
///     let mut answer = [0u8; 2];
///     match read_answer(&comm.fuzz_out, &mut answer, Duration::from_millis(100))? {
///         Answer::Complete => assert_eq!(&answer, b"ok"),
///         Answer::Closed { .. } => panic!("a crash: the input is in the region"),
///         Answer::TimedOut { .. } => {
///             child.kill()?; // a hang: the input is in the region still
///             child.wait()?;
///             let hang = comm.mem.value_copy()?; // to be saved as a hang
///             assert_eq!(hang, b"loop");
///         }
///     }
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// [`Error::Os`] from `poll` or `read` (`EINTR` never: the wait
/// resumes); the bytes read before the error are in `buf`, uncounted.
pub fn read_answer(fuzz_out: impl AsFd, buf: &mut [u8], timeout: Duration) -> Result<Answer> {
    let fuzz_out = fuzz_out.as_fd();
    let deadline = Instant::now().checked_add(timeout);
    let mut read = 0;
    while read < buf.len() {
        let left = deadline.map_or(Duration::MAX, |deadline| {
            deadline.saturating_duration_since(Instant::now())
        });
        match sys::poll_readable(fuzz_out, left) {
            Ok(true) => {}
            Ok(false) if deadline.is_some_and(|deadline| Instant::now() >= deadline) => {
                return Ok(Answer::TimedOut { read });
            }
            // Early: a wait longer than one poll, or a timeout that
            // the system rounded down; or a signal. Poll again.
            Ok(false)
            | Err(Error::Os {
                errno: Errno::INTR, ..
            }) => continue,
            Err(error) => return Err(error),
        }
        match sys::read(fuzz_out, &mut buf[read..]) {
            Ok(0) => return Ok(Answer::Closed { read }),
            Ok(got) => read += got,
            // A signal; or on a non-blocking `fuzz_out`, nothing after
            // all (another reader took it): poll again.
            Err(Error::Os {
                errno: Errno::INTR | Errno::AGAIN,
                ..
            }) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(Answer::Complete)
}

impl CoordinatorComm {
    /// `pipe` twice, [`set_worker_comm`], then `fork` and `exec`—Spawns
    /// `cmd` as a worker with its ends of two new pipes at fds 3 and 4
    /// and `mem` at fd 5, and returns the child and the coordinator's
    /// side: the other ends, and the region.
    ///
    /// The spawn that cannot hang: `cmd` is taken by value and dropped
    /// before this returns, and with it the only other copies of the
    /// worker's ends in this process (see [`set_worker_comm`]), so this
    /// process holds the coordinator's ends and no more. When the
    /// worker dies or exits, a read on `fuzz_out` returns end of stream
    /// and a write on `fuzz_in` fails with `EPIPE` (Rust programs
    /// ignore `SIGPIPE` by default), unless the worker passed its fds
    /// 3 and 4 on to a subprocess of its own (after
    /// [`WorkerComm::from_inherited`](crate::WorkerComm::from_inherited)
    /// they are close-on-exec, so it passes none).
    ///
    /// A coordinator that respawns workers builds its `Command` again
    /// for each, and hands the region of the one that died to the next:
    ///
    /// ```
    /// use std::io::Read;
    /// use std::process::Command;
    /// use std::sync::atomic::Ordering;
    /// use fuzzshm::{CoordinatorComm, SharedMem, WorkerComm};
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     if std::env::var_os("DOC_WORKER").is_some() {
    ///         // SAFETY: started by `spawn` below, with fds 3-5 inherited
    ///         // for the worker protocol; nothing else here owns or maps them.
    ///         let comm = unsafe { WorkerComm::from_inherited() }?;
    ///         comm.mem.header().count().fetch_add(1, Ordering::Relaxed);
    ///         return Ok(()); // and dies
    ///     }
    ///     let mut mem = SharedMem::temp_file(64)?;
    ///     for _ in 0..3 {
    ///         let mut cmd = Command::new(std::env::current_exe()?);
    ///         cmd.env("DOC_WORKER", "1");
    ///         let (mut child, comm) = CoordinatorComm::spawn(cmd, mem)?;
    ///         let mut answers = std::fs::File::from(comm.fuzz_out);
    ///         assert_eq!(answers.read(&mut [0u8; 1])?, 0); // it died
    ///         child.wait()?;
    ///         mem = comm.mem; // for the next worker
    ///     }
    ///     assert_eq!(mem.header().count().load(Ordering::Relaxed), 3);
    ///     Ok(())
    /// }
    /// ```
    ///
    /// As with [`set_worker_comm`], fds 3, 4 and 5 of this process are
    /// made sure to be open first, so a program that cannot be run is
    /// an error here and no byte of the standard library's exec-error
    /// report reaches the worker's pipes.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] from `pipe2` or the duplication (`EMFILE` under a
    /// low `RLIMIT_NOFILE`), or with `call: "spawn"` when the child
    /// cannot be started: the errno of the failed `fork` or `exec`
    /// (`ENOENT` for a missing program, `EACCES` for one that may not
    /// be run, `EAGAIN` when no process can be forked...), or
    /// `EINVAL` when the standard library refuses the command without
    /// asking the kernel (a NUL byte in the program or an argument).
    /// In every case `mem` is handed back untouched in the
    /// [`RegionError`], and no descriptor of the attempt stays open
    /// (the `/dev/null` that fills a free fd 3, 4 or 5 stays, on
    /// purpose).
    pub fn spawn(
        mut cmd: Command,
        mem: SharedMem,
    ) -> core::result::Result<(Child, CoordinatorComm), RegionError> {
        let comm = CoordinatorComm::attach(&mut cmd, mem)?;
        let spawned = cmd.spawn();
        // `attach` closed the worker's ends it made; their only copies
        // left in this process are the ones parked in `cmd`.
        drop(cmd);
        match spawned {
            Ok(child) => Ok((child, comm)),
            Err(error) => Err(RegionError {
                // The standard library refuses a NUL byte in the
                // command before any system call, with no errno;
                // `EINVAL` is the kernel's word for such an argument.
                error: Error::Os {
                    call: "spawn",
                    errno: Errno::from_io_error(&error).unwrap_or(Errno::INVAL),
                },
                mem: comm.mem,
            }),
        }
    }

    /// `pipe` twice, then [`set_worker_comm`]—Creates the two pipes
    /// (close-on-exec) and arranges for `cmd`'s child to get its ends and
    /// `mem` at fds 3, 4 and 5. Go's way, kept for parity; prefer
    /// [`CoordinatorComm::spawn`], which cannot hang.
    ///
    /// The worker's ends stay open in this process, inside `cmd`, until
    /// `cmd` is dropped: spawn, then drop `cmd` before waiting on the
    /// worker. A coordinator that keeps `cmd` (to spawn again, or
    /// because it used `cmd.status()` or `cmd.output()`, which only
    /// borrow it) hangs when the worker dies: reads on `fuzz_out` never
    /// see end of stream, and writes on `fuzz_in` block once the pipe is
    /// full instead of failing with `EPIPE` (see [`set_worker_comm`]).
    ///
    /// # Errors
    ///
    /// [`Error::Os`] from `pipe2` or the duplication (`EMFILE` under a
    /// low `RLIMIT_NOFILE`), with `mem` handed back in the
    /// [`RegionError`].
    pub fn attach(
        cmd: &mut Command,
        mem: SharedMem,
    ) -> core::result::Result<CoordinatorComm, RegionError> {
        match worker_pipes(mem.as_fd()) {
            Ok((fuzz_in, fuzz_out, parked)) => {
                place_in_child(cmd, parked);
                Ok(CoordinatorComm {
                    fuzz_in,
                    fuzz_out,
                    mem,
                })
            }
            Err(error) => Err(RegionError { error, mem }),
        }
    }

    /// [`read_answer`] on this worker's [`fuzz_out`](Self::fuzz_out):
    /// its answer into the whole of `buf`, within `timeout`, or
    /// [`Answer::Closed`] if it died, or [`Answer::TimedOut`] if it is
    /// still at work (the example of [`read_answer`] kills it then).
    ///
    /// # Errors
    ///
    /// As [`read_answer`].
    pub fn read_answer(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Answer> {
        read_answer(&self.fuzz_out, buf, timeout)
    }
}

/// Go's `isCrashSignal`—Whether a worker that a signal ended crashed: the
/// signal is one a target's own bug raises (illegal instruction, trap,
/// abort, bus error, arithmetic fault, segmentation fault, broken pipe).
/// Any other (`SIGKILL` from the OOM killer, `SIGTERM` or `SIGHUP` from a
/// user) came from outside: restart the worker and record nothing.
///
/// # Examples
///
/// ```
/// assert!(fuzzshm::is_crash_signal(libc::SIGSEGV));
/// assert!(!fuzzshm::is_crash_signal(libc::SIGKILL));
/// ```
#[must_use]
pub fn is_crash_signal(signal: i32) -> bool {
    use rustix::process::Signal;
    [
        Signal::ILL,
        Signal::TRAP,
        Signal::ABORT,
        Signal::BUS,
        Signal::FPE,
        Signal::SEGV,
        Signal::PIPE,
    ]
    .iter()
    .any(|crash| crash.as_raw() == signal)
}
