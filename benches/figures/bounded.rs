//! What keeps a run of the figures from hanging or leaving anything behind:
//! every wait has a bound ([`BOUND`]), past which the run fails and says
//! what it waited for; every helper process dies with the run; and every
//! file the run makes by name is in a scratch directory that a janitor
//! process removes when the run ends, however it ends (SIGKILL included).

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long any one wait of the figures may last: a reader's answer, a
/// batch of the Go side, a helper's exit. The longest legitimate wait is
/// well under a second (a 64 MiB handoff, a Go process starting); a minute
/// leaves room for a machine busy with compilers.
/// `benches/go/shmbench.go` has the same bound.
pub(crate) const BOUND: Duration = Duration::from_secs(60);

/// How many turns of a spin pass between two looks at the clock: a spin
/// that ends in time (all of them, in a measured run) never reads it, so
/// the bound costs the timed loops an increment and a test per turn.
const SPINS_PER_LOOK: u32 = 1 << 16;

/// The bound of one spin wait: [`Patience::spun`] on every turn.
pub(crate) struct Patience {
    spins: u32,
    since: Option<Instant>,
    what: &'static str,
}

impl Patience {
    /// `what`: what the spin waits for, for the message.
    #[inline(always)]
    pub(crate) fn new(what: &'static str) -> Patience {
        Patience {
            spins: 0,
            since: None,
            what,
        }
    }

    /// One more turn of the spin; past [`BOUND`], a panic naming what it
    /// waited for. The clock starts at the first look, `SPINS_PER_LOOK`
    /// turns in: a wait that ends before costs no clock read.
    #[inline(always)]
    pub(crate) fn spun(&mut self) {
        self.spins = self.spins.wrapping_add(1);
        if self.spins % SPINS_PER_LOOK == 0 {
            self.look();
        }
    }

    #[cold]
    #[inline(never)]
    fn look(&mut self) {
        match self.since {
            None => self.since = Some(Instant::now()),
            Some(since) if since.elapsed() > BOUND => {
                panic!("waited over {BOUND:?} for {}", self.what)
            }
            Some(_) => {}
        }
    }
}

/// Waits for `child` to exit, for at most `bound`; past it, kills it and
/// fails, naming `what` it is.
pub(crate) fn wait_child(child: &mut Child, bound: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!("waited over {bound:?} for {what} to exit; killed it");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until `fd` has something to read (or its end: EOF), for at most
/// [`BOUND`]; past it, fails naming `what` it waited for.
pub(crate) fn wait_readable(fd: impl AsFd, what: &str) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let start = Instant::now();
    loop {
        let left = BOUND.saturating_sub(start.elapsed());
        if left.is_zero() {
            panic!("waited over {BOUND:?} for {what}");
        }
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let timeout = Timespec::try_from(left).unwrap();
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => return,
            Err(e) => panic!("poll while waiting for {what}: {e}"),
        }
    }
}

/// Makes the process `cmd` starts die (SIGKILL) when this thread does, and
/// so with this process if this is its main thread (`PR_SET_PDEATHSIG`
/// follows the thread that forked); if this process is gone before the
/// child could ask, the child does not start.
pub(crate) fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    let pre_exec = move || {
        // SAFETY: `prctl` is an async-signal-safe system call, as a
        // `pre_exec` closure needs; it touches no memory of ours.
        let armed = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } == 0;
        // SAFETY: as for `prctl`: `getppid` is one too.
        let orphaned = !armed || unsafe { libc::getppid() } != parent;
        if orphaned {
            return Err(std::io::Error::other("the figures run ended first"));
        }
        Ok(())
    };
    // SAFETY: the closure makes only async-signal-safe system calls and
    // allocates only on the path where the child gives up.
    unsafe { cmd.pre_exec(pre_exec) };
}

/// The argument that makes this binary the janitor of [`scratch_dir`].
pub(crate) const JANITOR: &str = "--janitor";

/// Makes a scratch directory in the temp dir, points `TMPDIR` at it for
/// this process and every process it starts (the crate's temp files,
/// `tempfile`, Go's `os.CreateTemp`, `go build`'s work dir), and starts a
/// janitor: this binary again, with [`JANITOR`], which waits for the end of
/// a pipe that only this process holds and then removes the directory. So
/// the directory goes when the run ends, by a return, a panic or SIGKILL.
/// Call it first in `main`, before any thread starts (it sets `TMPDIR`).
pub(crate) fn scratch_dir() -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("fuzzshm-figures-")
        .tempdir()
        .unwrap()
        .keep();
    let mut janitor = Command::new(std::env::current_exe().unwrap());
    janitor
        .arg(JANITOR)
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    // Never waited for: it works after this process ends, and init reaps it.
    #[allow(clippy::zombie_processes)]
    let mut janitor = janitor.spawn().unwrap();
    // The write end lives as long as this process: its end is the signal.
    let pipe: ChildStdin = janitor.stdin.take().unwrap();
    std::mem::forget(pipe);
    std::env::set_var("TMPDIR", &dir);
    dir
}

/// The janitor's side: waits for the end of standard input (the run's end),
/// then removes `dir`. It first renames the directory, so that a helper
/// still alive a moment longer (its SIGKILL comes after our pipe closes)
/// cannot create a file there while it is being emptied.
pub(crate) fn janitor(dir: &Path) {
    let mut sink = [0u8; 64];
    let mut stdin = std::io::stdin();
    while !matches!(stdin.read(&mut sink), Ok(0) | Err(_)) {}
    let doomed = dir.with_extension("removing");
    let gone = match std::fs::rename(dir, &doomed) {
        Ok(()) => std::fs::remove_dir_all(&doomed),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = gone {
        let _ = writeln!(std::io::stderr(), "figures: could not remove {dir:?}: {e}");
        std::process::exit(1);
    }
}

/// Kills a process that stops making progress: if [`beat`](Self::beat) is
/// not called for [`BOUND`], it says so, naming what was waited for, and
/// SIGKILLs the process, so that a blocking read of its answer fails
/// instead of waiting forever.
pub(crate) struct Watchdog {
    beats: std::sync::Arc<std::sync::atomic::AtomicU64>,
    done: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    pub(crate) fn new(pid: u32, what: &'static str) -> Watchdog {
        use std::sync::atomic::Ordering;
        use std::sync::mpsc::RecvTimeoutError;
        let beats = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (done, ended) = std::sync::mpsc::channel::<()>();
        let seen = beats.clone();
        let thread = std::thread::spawn(move || {
            let mut last = seen.load(Ordering::Relaxed);
            while let Err(RecvTimeoutError::Timeout) = ended.recv_timeout(BOUND) {
                let now = seen.load(Ordering::Relaxed);
                if now == last {
                    eprintln!("waited over {BOUND:?} for {what}; killing process {pid}");
                    // SAFETY: a plain system call; `pid` is our child,
                    // not yet waited for (the owner waits after `drop`).
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                    return;
                }
                last = now;
            }
        });
        Watchdog {
            beats,
            done: Some(done),
            thread: Some(thread),
        }
    }

    /// Progress: one more answer. One thread beats, so a load and a store
    /// do (no locked instruction).
    #[inline(always)]
    pub(crate) fn beat(&self) {
        use std::sync::atomic::Ordering;
        let beats = self.beats.load(Ordering::Relaxed);
        self.beats.store(beats + 1, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
