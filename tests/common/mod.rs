//! Real child processes for the multi-process tests: a test binary runs
//! again as a child, with a role in the environment, and the child's
//! `#[test] fn child_main` dispatches on it.
//!
//! Each test file that spawns children declares:
//!
//! ```ignore
//! #[test]
//! fn child_main() {
//!     common::run_child(|role| match role {
//!         "worker" => worker(),
//!         other => panic!("unknown role {other}"),
//!     });
//! }
//! ```
#![allow(dead_code)] // each test file uses the part it needs

use std::process::Command;

/// Whether this runs under CI (`CI` set to anything but empty, `false` or
/// `0`, as CI services set `CI=true`), where no test may skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| !["", "false", "0"].contains(&ci.as_str()))
}

/// Says in one line that a test cannot run on this system, and why, past
/// the harness's capture so a passing run shows it; under CI, where every
/// test must run, fails instead. The caller returns after it.
#[track_caller]
pub fn skip(reason: &str) {
    assert!(!in_ci(), "CI requires this test, but {reason}");
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("skipped: {reason}\n").as_bytes(),
    );
}

/// The environment variable that carries a child's role.
const ROLE_VAR: &str = "FUZZSHM_TEST_ROLE";

/// A command that runs this test binary again as a child playing `role`.
/// Its output must not reach the terminal: run it with [`output_of`], or
/// spawn it with [`Process::spawn`] (or [`Log::attach`] first), so that a
/// passing run stays quiet and a failing one shows what the child printed.
///
/// The child dies with the thread that spawned it (`PR_SET_PDEATHSIG`), so
/// a test killed or panicking at any instant leaves no process behind.
pub fn child(role: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child_main", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role);
    dies_with_parent(&mut cmd);
    cmd
}

/// Makes `cmd`'s process receive SIGKILL when the thread that spawns it
/// ends (the test, whether it passes, fails or is killed).
pub fn dies_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: `prctl(PR_SET_PDEATHSIG)` is a system call with no memory
    // effect, async-signal-safe, as the child between fork and exec needs.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
}

/// How long a test waits for a child or for its answer before it fails,
/// naming what it waited for: far above any step of these tests on a
/// loaded machine, far below a test runner's patience.
pub const WAIT_BOUND: std::time::Duration = std::time::Duration::from_secs(120);

/// How long a test waits for a compiler it runs (`cargo`, `cc`, `go
/// build`): a cold build of a dependency or of Go's standard library for
/// another architecture, on a loaded machine.
pub const BUILD_BOUND: std::time::Duration = std::time::Duration::from_secs(600);

/// Waits for `child` to end, for at most [`WAIT_BOUND`]; past it, kills it
/// and fails, naming `what` it waited for.
#[track_caller]
pub fn wait_bounded(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    wait_within(child, what, WAIT_BOUND)
}

/// [`wait_bounded`] for at most `bound`.
#[track_caller]
pub fn wait_within(
    child: &mut std::process::Child,
    what: &str,
    bound: std::time::Duration,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} (pid {}) did not end within {bound:?}: killed",
                child.id()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Runs `cmd` to its end with its output captured: a passing run stays
/// quiet, and [`assert_success`] shows the output of a failing one.
/// Bounded by [`WAIT_BOUND`].
#[track_caller]
pub fn output_of(mut cmd: Command) -> std::process::Output {
    output_within(&mut cmd, WAIT_BOUND)
}

/// [`output_of`] for at most `bound`.
#[track_caller]
pub fn output_within(cmd: &mut Command, bound: std::time::Duration) -> std::process::Output {
    // Files, not pipes: a child that fills a pipe nobody reads would block.
    let (out, err) = (Log::new(), Log::new());
    cmd.stdin(std::process::Stdio::null())
        .stdout(out.file.try_clone().expect("the log, for stdout"))
        .stderr(err.file.try_clone().expect("the log, for stderr"));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {cmd:?}: {error}"));
    let status = wait_within(&mut child, &format!("{cmd:?}"), bound);
    std::process::Output {
        status,
        stdout: out.contents().into_bytes(),
        stderr: err.contents().into_bytes(),
    }
}

/// [`output_within`], asserting that `cmd` succeeded; if not, the failure
/// names `cmd` and shows what it printed.
#[track_caller]
pub fn succeeded_within(cmd: &mut Command, bound: std::time::Duration) -> std::process::Output {
    let output = output_within(cmd, bound);
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\n{}",
        output.status,
        printed(&output)
    );
    output
}

/// Asserts a child succeeded; if not, shows what it printed.
#[track_caller]
pub fn assert_success(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "the child failed ({}):\n{}",
        output.status,
        printed(output),
    );
}

/// What a finished child printed, for an assertion's message.
pub fn printed(output: &std::process::Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

/// Where a child that is spawned and talked to writes its stdout and
/// stderr: an unnamed file, not a pipe, so the child never blocks on a
/// full pipe that nobody reads while the test waits for its answer.
/// Nothing of it is shown while the test passes; if the test panics while
/// the log is alive (an assertion on the child, or on what it answered),
/// dropping it prints it into the failing test's output.
pub struct Log {
    file: std::fs::File,
}

impl Log {
    /// A new, empty log, in the tests' own scratch directory.
    pub fn new() -> Log {
        let file = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).expect("a log file");
        Log { file }
    }

    /// Points `cmd`'s stdout and stderr at this log, and its stdin at
    /// `/dev/null`.
    pub fn attach(&self, cmd: &mut Command) {
        let out = self.file.try_clone().expect("the log, for stdout");
        let err = self.file.try_clone().expect("the log, for stderr");
        cmd.stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err);
    }

    /// What the child has written so far (never panics: it runs while a
    /// test is already panicking).
    pub fn contents(&self) -> String {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 8192];
        let mut at = 0;
        while let Ok(n @ 1..) = std::os::unix::fs::FileExt::read_at(&self.file, &mut buf, at) {
            bytes.extend_from_slice(&buf[..n]);
            at += n as u64;
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- output of the child\n{}--- end", self.contents());
        }
    }
}

/// A spawned child with its output in a [`Log`], shown if the test fails
/// while the child is in scope.
pub struct Process {
    pub child: std::process::Child,
    pub log: Log,
}

impl Process {
    /// Spawns `cmd` with its output going to a new log.
    pub fn spawn(cmd: &mut Command) -> Process {
        let log = Log::new();
        log.attach(cmd);
        let child = cmd.spawn().expect("spawn the child");
        Process { child, log }
    }

    /// Kills the child with SIGKILL, reaps it, and asserts SIGKILL is what
    /// ended it.
    #[track_caller]
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        let status = wait_bounded(&mut self.child, "the killed child");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "the child was not killed ({status})"
        );
    }

    /// Waits for the child to finish and asserts it succeeded.
    #[track_caller]
    pub fn join(mut self) {
        let status = wait_bounded(&mut self.child, "the child");
        assert!(status.success(), "the child failed ({status})");
    }
}

/// In a child, runs `body` with its role and exits: status 0, or 101 if it
/// panicked (after unwinding, so destructors ran). The child never reaches
/// the test harness's summary, which would mix with the parent's. In the
/// parent's own test run, does nothing.
///
/// A child that is still running after [`CHILD_BOUND`] is ended by
/// SIGALRM (its parent sees "signal: 14"), so no wait inside it, nor its
/// parent's wait for it, lasts forever.
pub fn run_child(body: impl FnOnce(&str) + std::panic::UnwindSafe) {
    if let Ok(role) = std::env::var(ROLE_VAR) {
        // SAFETY: `alarm` only arms a timer; SIGALRM's default action
        // ends the process. No thread: a child may lower its rlimits.
        unsafe { libc::alarm(CHILD_BOUND.as_secs() as _) };
        let outcome = std::panic::catch_unwind(|| body(&role));
        std::process::exit(if outcome.is_ok() { 0 } else { 101 });
    }
}

/// The longest a child of these tests lives (one that runs until killed
/// included): above [`WAIT_BOUND`], so its parent's bound speaks first.
pub const CHILD_BOUND: std::time::Duration = std::time::Duration::from_secs(180);

/// A worker child with Go's fds: its region on fd 5, and a pipe each way
/// on fds 3 and 4 (the ends kept here are `calls` and `answers`); its
/// output in a log, shown if the test fails while the worker is in scope.
pub struct Worker {
    pub process: Process,
    pub calls: std::fs::File,
    pub answers: std::fs::File,
}

/// Spawns this test binary as a worker playing `role`, with `mem` (kept
/// open here too) on its fd 5.
pub fn spawn_worker(role: &str, mem: &impl std::os::fd::AsFd) -> Worker {
    let (worker_in, calls) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let (answers, worker_out) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let mut cmd = child(role);
    fuzzshm::set_worker_comm(&mut cmd, &worker_in, &worker_out, mem).unwrap();
    let process = Process::spawn(&mut cmd);
    Worker {
        process,
        calls: calls.into(),
        answers: answers.into(),
    }
}

impl Worker {
    /// Sends one byte to the worker.
    pub fn send(&mut self, byte: u8) {
        std::io::Write::write_all(&mut self.calls, &[byte]).unwrap();
    }

    /// Receives one byte from the worker; `None` if it is gone.
    pub fn receive(&mut self) -> Option<u8> {
        receive(&mut self.answers)
    }

    /// Kills the worker with SIGKILL and reaps it.
    #[track_caller]
    pub fn kill(self) {
        self.process.kill();
    }

    /// Waits for the worker to finish and asserts it succeeded.
    #[track_caller]
    pub fn join(self) {
        drop(self.calls);
        self.process.join();
    }
}

/// One byte from a pipe; `None` at end of stream. Fails if none comes
/// within [`WAIT_BOUND`].
#[track_caller]
pub fn receive(pipe: &mut std::fs::File) -> Option<u8> {
    use rustix::event::{poll, PollFd, PollFlags};
    let timeout = rustix::time::Timespec {
        tv_sec: WAIT_BOUND.as_secs() as _,
        tv_nsec: 0,
    };
    let ready = loop {
        match poll(&mut [PollFd::new(&*pipe, PollFlags::IN)], Some(&timeout)) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other.expect("poll the pipe"),
        }
    };
    assert!(
        ready > 0,
        "no byte (nor end of stream) from the pipe within {WAIT_BOUND:?}"
    );
    let mut byte = [0u8; 1];
    match std::io::Read::read(pipe, &mut byte).unwrap() {
        0 => None,
        _ => Some(byte[0]),
    }
}

/// The names in a directory.
pub fn entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// Where the file behind a region is, as the kernel names it.
pub fn path_of(mem: &impl std::os::fd::AsFd) -> std::path::PathBuf {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", mem.as_fd().as_raw_fd())).unwrap()
}

/// A new, empty directory of this test's own, to be a child's `TMPDIR`, so
/// that parallel tests cannot race over what is in it.
pub fn private_tmpdir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// This process's open descriptors, in order (the listing's own, closed by
/// the time it is read, left out).
pub fn open_fds() -> Vec<i32> {
    let listed: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .map(|entry| {
            entry
                .unwrap()
                .file_name()
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let mut open: Vec<i32> = listed
        .into_iter()
        .filter(|&fd| {
            // SAFETY: only the argument of `fcntl(F_GETFD)`, which answers
            // `EBADF` for a number that is not open.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            rustix::io::fcntl_getfd(fd).is_ok()
        })
        .collect();
    open.sort_unstable();
    open
}

/// Lowers this process's soft limit on `resource` to `limit` (in a child
/// process: the limit is process-wide).
pub fn lower_rlimit(resource: rustix::process::Resource, limit: u64) {
    use rustix::process::{getrlimit, setrlimit, Rlimit};
    let maximum = getrlimit(resource).maximum;
    setrlimit(
        resource,
        Rlimit {
            current: Some(limit),
            maximum,
        },
    )
    .unwrap();
}

/// The descriptor limits a region-taking call is tried under: where
/// nothing else is open, 6 and 8 stop a pipe, 10 the parking above fd 5.
const NOFILE_LIMITS: [u64; 3] = [6, 8, 10];

/// Runs the child `role` once under each of [`NOFILE_LIMITS`], passed in
/// `FUZZSHM_TEST_NOFILE`; each run must succeed.
pub fn run_under_nofile_limits(role: &str) {
    for limit in NOFILE_LIMITS {
        let mut cmd = child(role);
        cmd.env("FUZZSHM_TEST_NOFILE", limit.to_string());
        assert_success(&output_of(cmd));
    }
}

/// In such a child: `mem` given a crasher to hand back, then
/// `RLIMIT_NOFILE` lowered to the limit the parent chose.
pub fn crasher_under_nofile_limit(mut mem: fuzzshm::SharedMem) -> fuzzshm::SharedMem {
    let limit: u64 = std::env::var("FUZZSHM_TEST_NOFILE")
        .unwrap()
        .parse()
        .unwrap();
    mem.set_value(b"a crasher").unwrap();
    lower_rlimit(rustix::process::Resource::Nofile, limit);
    mem
}

/// The call was refused for want of descriptors: `EMFILE` (never the
/// `EINVAL` of a number past the limit), the region handed back as it was.
pub fn assert_handed_back_for_emfile(refused: &fuzzshm::RegionError) {
    assert_eq!(
        refused.error.raw_os_error(),
        Some(rustix::io::Errno::MFILE.raw_os_error()),
        "{}",
        refused.error
    );
    assert_eq!(refused.mem.value().unwrap(), b"a crasher");
}

/// Runs the child `role` with `dir` as its `TMPDIR`: it must succeed and
/// leave nothing in `dir`.
pub fn passes_leaving_tmpdir_empty(role: &str, dir: &std::path::Path) {
    let mut cmd = child(role);
    cmd.env("TMPDIR", dir);
    assert_success(&output_of(cmd));
    assert_eq!(entries(dir), Vec::<String>::new(), "left in TMPDIR");
}
