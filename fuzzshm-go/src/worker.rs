//! A client for one worker process of a `go test -c -fuzz` binary: spawned
//! with Go's worker command line, its two pipes and its region at fds 3, 4
//! and 5, and driven one call at a time, every wait bounded.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use fuzzshm::{CoordinatorComm, SharedMem};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use rustix::process::{kill_process, Pid, Signal};
use serde::de::DeserializeOwned;

use crate::wire::{
    Call, FuzzArgs, FuzzResponse, MinimizeArgs, MinimizeResponse, PingArgs, PingResponse,
};

/// Value capacity of a worker's region: Go's `workerSharedMemSize`. The
/// mutators' size bounds derive from it, so a rebuild must use the same.
pub const MEM_CAPACITY: usize = 100 << 20;

/// How many times [`Worker::restart`] starts a process that is killed
/// from outside before its first answer.
pub const START_ATTEMPTS: u32 = 3;

/// How long a worker may take to start and answer its first `Ping`.
pub const PING_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a worker may take to exit once asked to, per step of Go's
/// escalation (close its input, then `SIGINT`, then `SIGKILL`).
const STOP_STEP: Duration = Duration::from_secs(1);

/// The last bytes of a worker's stdout and stderr kept for diagnostics.
const OUTPUT_TAIL: usize = 16 << 10;

/// What a worker is: the test binary, where and how it runs.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// The `go test -c -fuzz` binary.
    pub binary: PathBuf,
    /// Its working directory: the package directory, as under `go test`.
    pub dir: PathBuf,
    /// The fuzz target's exact name (`FuzzX`).
    pub target: String,
    /// `-test.fuzzcachedir`: required by the binary, never used by a worker.
    pub cache_dir: PathBuf,
    /// Extra environment (e.g. `GODEBUG=fuzzseed=N`).
    pub env: Vec<(OsString, OsString)>,
}

impl WorkerSpec {
    /// The worker's command line, as Go's coordinator starts it.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.current_dir(&self.dir)
            .arg("-test.fuzzworker")
            .arg("-test.paniconexit0")
            .arg({
                let mut a = OsString::from("-test.fuzzcachedir=");
                a.push(&self.cache_dir);
                a
            })
            .arg(format!("-test.fuzz=^{}$", self.target))
            .stdin(Stdio::null())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

/// Why a call got no answer.
#[derive(Debug)]
pub enum CallError {
    /// The worker ended (end of stream or a broken pipe) during the call;
    /// it has been reaped.
    Died(Ended),
    /// No answer within the call's deadline: the worker was killed.
    Hung(Ended),
    /// The worker answered something that is not the expected JSON: it
    /// was killed.
    Garbage {
        /// The line, cut to 200 bytes.
        line: String,
        /// How the worker ended.
        ended: Ended,
    },
    /// The coordinator's side failed (poll, write).
    Io(io::Error),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Died(e) => write!(
                f,
                "fuzzing process terminated unexpectedly: {}",
                e.status_text()
            ),
            CallError::Hung(_) => write!(f, "fuzzing process hung: killed"),
            CallError::Garbage { line, .. } => {
                write!(f, "fuzzing process answered garbage: {line:?}")
            }
            CallError::Io(e) => write!(f, "communicating with fuzzing process: {e}"),
        }
    }
}

impl std::error::Error for CallError {}

/// How a worker ended, and what it printed last.
#[derive(Debug, Clone)]
pub struct Ended {
    /// Its exit status.
    pub status: ExitStatus,
    /// The tail of its stdout and stderr.
    pub output: String,
    /// This client killed it: it hung, closed its pipes without exiting,
    /// or answered garbage.
    pub killed_here: bool,
}

impl Ended {
    /// Go's `exit status N` / `signal: NAME` spelling.
    pub fn status_text(&self) -> String {
        match (self.status.code(), self.status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!("signal: {}", signal_name(sig)),
            _ => format!("{}", self.status),
        }
    }

    /// Killed by a signal that is no sign of a bad input (`SIGKILL` from
    /// the OOM killer, `SIGTERM`, `SIGHUP`...): Go's `isCrashSignal` is
    /// false, and the signal did not come from this client.
    pub fn killed_from_outside(&self) -> bool {
        if self.killed_here {
            return false;
        }
        self.status
            .signal()
            .is_some_and(|signal| !fuzzshm::is_crash_signal(signal))
    }
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "hangup",
        2 => "interrupt",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        8 => "floating point exception",
        9 => "killed",
        11 => "segmentation fault",
        13 => "broken pipe",
        15 => "terminated",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// A running worker process and the coordinator's ends of its pipes.
///
/// Calls are strictly sequential. After a [`CallError`] the process is
/// gone (reaped), but the region is kept: its header tells which input
/// the worker was running. [`Worker::restart`] starts a new process on
/// the same region.
pub struct Worker {
    spec: WorkerSpec,
    mem: SharedMem,
    live: Option<Live>,
}

struct Live {
    child: Child,
    /// `None` once closed to ask the worker to stop.
    calls: Option<File>,
    answers: File,
    pending: Vec<u8>,
    output: Output,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("target", &self.spec.target)
            .field("pid", &self.live.as_ref().map(|l| l.child.id()))
            .finish()
    }
}

/// Why a worker could not be started.
#[derive(Debug)]
pub enum StartError {
    /// The region could not be made, or the process not spawned.
    Spawn(io::Error),
    /// The process did not answer its first `Ping`.
    Ping(CallError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Spawn(e) => write!(f, "starting fuzzing process: {e}"),
            StartError::Ping(e) => write!(f, "fuzzing process terminated without fuzzing: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

impl Worker {
    /// Makes a region that cannot leak ([`SharedMem::anonymous`], Go's
    /// capacity), starts the worker on it and pings it.
    ///
    /// # Errors
    ///
    /// [`StartError`]; no process is left running.
    pub fn start(spec: WorkerSpec) -> Result<Worker, StartError> {
        let mem = SharedMem::anonymous(MEM_CAPACITY).map_err(|e| StartError::Spawn(e.into()))?;
        let mut worker = Worker {
            spec,
            mem,
            live: None,
        };
        worker.restart()?;
        Ok(worker)
    }

    /// Ends the current process if any (killed, reaped), then starts a
    /// new one on the same region and pings it. A process killed from
    /// outside before it answers (see [`Ended::killed_from_outside`]) is
    /// started again, up to [`START_ATTEMPTS`] times in all.
    ///
    /// # Errors
    ///
    /// [`StartError`]; no process is left running.
    pub fn restart(&mut self) -> Result<(), StartError> {
        let mut attempts = 1;
        loop {
            match self.start_once() {
                Err(StartError::Ping(CallError::Died(e)))
                    if e.killed_from_outside() && attempts < START_ATTEMPTS =>
                {
                    attempts += 1;
                }
                done => return done,
            }
        }
    }

    fn start_once(&mut self) -> Result<(), StartError> {
        self.kill();
        let mut cmd = self.spec.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mem = std::mem::replace(&mut self.mem, placeholder_region()?);
        let (mut child, comm) = match CoordinatorComm::spawn(cmd, mem) {
            Ok(spawned) => spawned,
            Err(e) => {
                self.mem = e.mem;
                return Err(StartError::Spawn(e.error.into()));
            }
        };
        self.mem = comm.mem;
        let output = capture(child.stdout.take(), child.stderr.take());
        let calls = File::from(comm.fuzz_in);
        set_nonblocking(&calls).map_err(StartError::Spawn)?;
        self.live = Some(Live {
            child,
            calls: Some(calls),
            answers: File::from(comm.fuzz_out),
            pending: Vec::new(),
            output,
        });
        let ping = Call {
            Ping: Some(PingArgs {}),
            ..Call::default()
        };
        self.call::<PingResponse>(&ping, PING_TIMEOUT)
            .map(drop)
            .map_err(StartError::Ping)
    }

    /// The worker's region: its header says what the last call ran.
    pub fn mem(&self) -> &SharedMem {
        &self.mem
    }

    /// The running process's id, if one is running.
    pub fn pid(&self) -> Option<u32> {
        self.live.as_ref().map(|l| l.child.id())
    }

    /// Puts `entry` (a marshalled corpus file) in the region with
    /// `count` = 0, sends a `Fuzz` call, and waits for its answer until
    /// `deadline` has passed (the call's own timeout plus a margin).
    ///
    /// # Errors
    ///
    /// [`CallError`]; the region's header then tells what ran last.
    pub fn fuzz(
        &mut self,
        entry: &[u8],
        args: FuzzArgs,
        deadline: Duration,
    ) -> Result<FuzzResponse, CallError> {
        self.put(entry)?;
        self.call(
            &Call {
                Fuzz: Some(args),
                ..Call::default()
            },
            deadline,
        )
    }

    /// As [`fuzz`](Self::fuzz), with a `Minimize` call; `rawInMem` is
    /// cleared first.
    ///
    /// # Errors
    ///
    /// [`CallError`].
    pub fn minimize(
        &mut self,
        entry: &[u8],
        args: MinimizeArgs,
        deadline: Duration,
    ) -> Result<MinimizeResponse, CallError> {
        self.put(entry)?;
        self.mem.header().set_raw_in_mem(false);
        self.call(
            &Call {
                Minimize: Some(args),
                ..Call::default()
            },
            deadline,
        )
    }

    fn put(&mut self, entry: &[u8]) -> Result<(), CallError> {
        self.mem.header().count().store(0, Ordering::Relaxed);
        self.mem
            .set_value(entry)
            .map_err(|e| CallError::Io(e.into()))
    }

    /// Sends one call and reads one answer, within `timeout` in all.
    fn call<T: DeserializeOwned>(
        &mut self,
        call: &Call,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let deadline = Instant::now() + timeout;
        let mut line = serde_json::to_vec(call).map_err(|e| CallError::Io(e.into()))?;
        line.push(b'\n');
        let live = self
            .live
            .as_mut()
            .ok_or_else(|| CallError::Io(io::ErrorKind::NotConnected.into()))?;
        let answer = match exchange(live, &line, deadline) {
            Ok(answer) => answer,
            Err(Outcome::Eof) => return Err(CallError::Died(self.reap(STOP_STEP))),
            Err(Outcome::Timeout) => return Err(CallError::Hung(self.reap(Duration::ZERO))),
            Err(Outcome::Io(e)) => {
                self.kill();
                return Err(CallError::Io(e));
            }
        };
        serde_json::from_slice(&answer).map_err(|_| {
            let text = String::from_utf8_lossy(&answer[..answer.len().min(200)]).into_owned();
            CallError::Garbage {
                line: text,
                ended: self.reap(Duration::ZERO),
            }
        })
    }

    /// Waits up to `grace` for the process to exit by itself, then kills
    /// it by pid, and reaps it.
    fn reap(&mut self, grace: Duration) -> Ended {
        let mut live = self.live.take().expect("reap without a process");
        let (status, killed) = wait_or_kill(&mut live.child, grace);
        ended(live, status, killed)
    }

    /// Kills the running process, if any, by pid, and reaps it.
    pub fn kill(&mut self) {
        if self.live.is_some() {
            self.reap(Duration::ZERO);
        }
    }

    /// Stops the worker as Go does: closes its input, drains its output,
    /// then `SIGINT`, then `SIGKILL`, a second apart. Returns how it ended,
    /// or `None` if no process was running.
    pub fn stop(&mut self) -> Option<Ended> {
        let mut live = self.live.take()?;
        live.calls = None;
        let until = Instant::now() + STOP_STEP;
        while let Ok(Some(_)) = read_some(&mut live, until) {
            live.pending.clear();
        }
        let pid = Pid::from_child(&live.child);
        let status = match wait_or_kill_with(&mut live.child, STOP_STEP, || {
            let _ = kill_process(pid, Signal::INT);
        }) {
            Some(status) => (status, false),
            None => wait_or_kill(&mut live.child, STOP_STEP),
        };
        Some(ended(live, status.0, status.1))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The region a `Worker` holds for the instant its own is lent to a spawn.
fn placeholder_region() -> Result<SharedMem, StartError> {
    SharedMem::anonymous(0).map_err(|e| StartError::Spawn(e.into()))
}

fn ended(live: Live, status: ExitStatus, killed_here: bool) -> Ended {
    let Live {
        calls,
        answers,
        output,
        ..
    } = live;
    drop((calls, answers));
    Ended {
        status,
        output: output.text(),
        killed_here,
    }
}

/// The tail of a child's stdout and stderr, read by a thread each.
#[derive(Debug, Clone, Default)]
pub struct Output {
    tail: Arc<Mutex<Vec<u8>>>,
    readers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Output {
    /// What came so far, once the streams have ended (waiting at most
    /// 200 ms for that: a grandchild may still hold them open).
    pub fn text(&self) -> String {
        let until = Instant::now() + Duration::from_millis(200);
        let readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        while readers.iter().any(|r| !r.is_finished()) && Instant::now() < until {
            thread::sleep(Duration::from_millis(2));
        }
        let out = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&out[out.len().saturating_sub(OUTPUT_TAIL)..]).into_owned()
    }
}

/// Starts reading `streams` into one bounded tail.
pub fn capture(stdout: Option<ChildStdout>, stderr: Option<ChildStderr>) -> Output {
    let output = Output::default();
    let streams: [Option<Box<dyn Read + Send>>; 2] = [
        stdout.map(|s| Box::new(s) as _),
        stderr.map(|s| Box::new(s) as _),
    ];
    for mut from in streams.into_iter().flatten() {
        let tail = Arc::clone(&output.tail);
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                let mut out = tail.lock().unwrap_or_else(|p| p.into_inner());
                out.extend_from_slice(&buf[..n]);
                if out.len() > 2 * OUTPUT_TAIL {
                    let cut = out.len() - OUTPUT_TAIL;
                    out.drain(..cut);
                }
            }
        });
        output
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(reader);
    }
    output
}

/// Waits up to `grace` for `child` to exit; then `SIGKILL` by pid and wait.
/// Whether it had to be killed comes with the status.
fn wait_or_kill(child: &mut Child, grace: Duration) -> (ExitStatus, bool) {
    if let Some(status) = wait_or_kill_with(child, grace, || ()) {
        return (status, false);
    }
    let _ = child.kill();
    // SIGKILL cannot be caught: this wait ends.
    (
        child.wait().unwrap_or_else(|_| ExitStatus::from_raw(9)),
        true,
    )
}

/// Polls `child` for `grace`; `None` if it is still running, after `then`.
fn wait_or_kill_with(
    child: &mut Child,
    grace: Duration,
    then: impl FnOnce(),
) -> Option<ExitStatus> {
    let until = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(2)),
            _ => {
                then();
                return None;
            }
        }
    }
}

enum Outcome {
    Eof,
    Timeout,
    Io(io::Error),
}

impl From<io::Error> for Outcome {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Outcome::Eof
        } else {
            Outcome::Io(e)
        }
    }
}

/// Writes `line`, then reads one newline-terminated answer, by `deadline`.
fn exchange(live: &mut Live, line: &[u8], deadline: Instant) -> Result<Vec<u8>, Outcome> {
    let calls = live.calls.as_mut().ok_or(Outcome::Eof)?;
    let mut rest = line;
    while !rest.is_empty() {
        match calls.write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_ready(calls, PollFlags::OUT, deadline)?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    loop {
        if let Some(end) = live.pending.iter().position(|&b| b == b'\n') {
            let answer = live.pending[..end].to_vec();
            live.pending.drain(..=end);
            return Ok(answer);
        }
        if read_some(live, deadline)?.is_none() {
            return Err(Outcome::Eof);
        }
    }
}

/// Reads what the worker wrote into `pending`; `None` at end of stream.
fn read_some(live: &mut Live, deadline: Instant) -> Result<Option<usize>, Outcome> {
    wait_ready(&live.answers, PollFlags::IN, deadline)?;
    let mut buf = [0u8; 64 << 10];
    loop {
        match live.answers.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                live.pending.extend_from_slice(&buf[..n]);
                return Ok(Some(n));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits until `fd` is ready for `flags` (or hung up), or `deadline`.
fn wait_ready(fd: &File, flags: PollFlags, deadline: Instant) -> Result<(), Outcome> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Outcome::Timeout);
        }
        let timeout = rustix::time::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(fd, flags)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => {}
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Outcome::Io(e.into())),
        }
    }
}

fn set_nonblocking(file: &File) -> io::Result<()> {
    let flags = fcntl_getfl(file)?;
    fcntl_setfl(file, flags | OFlags::NONBLOCK)?;
    Ok(())
}
