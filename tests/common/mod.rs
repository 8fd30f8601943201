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

/// The environment variable that carries a child's role.
const ROLE_VAR: &str = "FUZZSHM_TEST_ROLE";

/// A command that runs this test binary again as a child playing `role`.
/// Its stdout and stderr are inherited, so its failures show in the log.
pub fn child(role: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child_main", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role);
    cmd
}

/// Runs `cmd` to its end with its output captured: a passing run stays
/// quiet, and [`assert_success`] shows the output of a failing one.
pub fn output_of(mut cmd: Command) -> std::process::Output {
    cmd.stdin(std::process::Stdio::null())
        .output()
        .expect("run the child")
}

/// Asserts a child succeeded; if not, shows what it printed.
pub fn assert_success(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "the child failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// In a child, runs `body` with its role and exits: status 0, or 101 if it
/// panicked (after unwinding, so destructors ran). The child never reaches
/// the test harness's summary, which would mix with the parent's. In the
/// parent's own test run, does nothing.
pub fn run_child(body: impl FnOnce(&str) + std::panic::UnwindSafe) {
    if let Ok(role) = std::env::var(ROLE_VAR) {
        let outcome = std::panic::catch_unwind(|| body(&role));
        std::process::exit(if outcome.is_ok() { 0 } else { 101 });
    }
}

/// A worker child with Go's fds: its region on fd 5, and a pipe each way
/// on fds 3 and 4 (the ends kept here are `calls` and `answers`).
pub struct Worker {
    pub process: std::process::Child,
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
    let process = cmd.spawn().unwrap();
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
    pub fn kill(mut self) {
        self.process.kill().unwrap();
        let status = self.process.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
    }

    /// Waits for the worker to finish and asserts it succeeded.
    pub fn join(mut self) {
        drop(self.calls);
        assert!(self.process.wait().unwrap().success(), "the worker failed");
    }
}

/// One byte from a pipe; `None` at end of stream.
pub fn receive(pipe: &mut std::fs::File) -> Option<u8> {
    let mut byte = [0u8; 1];
    match std::io::Read::read(pipe, &mut byte).unwrap() {
        0 => None,
        _ => Some(byte[0]),
    }
}

/// Writes raw bytes into a region at `offset`, as a peer process would:
/// no checks, no atomics.
pub fn poke(region: &fuzzshm::Region, offset: usize, bytes: &[u8]) {
    assert!(
        offset + bytes.len() <= region.size(),
        "poke past the region"
    );
    // SAFETY: the range is inside the region's mapping (asserted above);
    // the callers hold no reference to these bytes while poking.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), region.as_ptr().add(offset), bytes.len());
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
