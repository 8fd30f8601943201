//! Go's side of the figures: `benches/go/shmbench.go`, built once per run
//! and started once per figure, a long-lived process that times the batches
//! it is asked for as the Rust candidates are timed.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::bounded::{die_with_parent, wait_child, wait_readable};

/// The Go benchmark binary, built once per run.
pub(crate) struct GoBench(PathBuf);

/// How long `go build` may take: a first build compiles Go's standard
/// library, minutes on a busy machine.
const BUILD_BOUND: Duration = Duration::from_secs(600);

impl GoBench {
    /// `say`: whether to say why Go is not measured, if it is not.
    pub(crate) fn build(say: bool) -> Option<GoBench> {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shmbench");
        let mut build = Command::new("go");
        build
            .args(["build", "-o"])
            .arg(&out)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/benches/go/shmbench.go"
            ))
            .env("GO111MODULE", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOCACHE", out.with_extension("gocache"));
        die_with_parent(&mut build);
        let built = build
            .spawn()
            .map(|mut go| wait_child(&mut go, BUILD_BOUND, "`go build` of shmbench.go"));
        match built {
            Ok(status) if status.success() => Some(GoBench(out)),
            _ => {
                if say {
                    eprintln!("Go is not measured: `go` is missing or the build failed (bash .ci/go.sh installs it)");
                }
                None
            }
        }
    }

    /// Starts the Go side of one figure, with `fds` as its descriptors 3,
    /// 4, ... (the handoff's control page and regions): it sets up, then
    /// waits for batches. It dies with this process (SIGKILL on this
    /// thread's end, and its own exit at the end of its standard input).
    pub(crate) fn start(&self, args: &[&str], fds: &[BorrowedFd]) -> GoProcess {
        // Above every descriptor number the child is given, so that placing
        // one cannot overwrite another not yet placed.
        let high: Vec<OwnedFd> = fds
            .iter()
            .map(|fd| rustix::io::fcntl_dupfd_cloexec(fd, 3 + fds.len() as i32).unwrap())
            .collect();
        let raw: Vec<i32> = high.iter().map(AsRawFd::as_raw_fd).collect();
        let mut cmd = Command::new(&self.0);
        cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped());
        die_with_parent(&mut cmd);
        let place = move || {
            for (i, &fd) in raw.iter().enumerate() {
                // SAFETY: `dup2` is async-signal-safe; `fd` is open (in
                // `high`, alive until `spawn` returns) and above every
                // target, so no target is a source still to be placed. The
                // copy it makes is not close-on-exec: Go inherits it.
                if unsafe { libc::dup2(fd, 3 + i as i32) } < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        };
        // SAFETY: the closure makes only async-signal-safe system calls and
        // allocates only on the path where the child fails.
        unsafe { std::os::unix::process::CommandExt::pre_exec(&mut cmd, place) };
        let mut child = cmd.spawn().unwrap();
        drop(high);
        let mut go = GoProcess {
            timings: child.stdout.take().unwrap(),
            pending: Vec::new(),
            child,
        };
        // Its set-up (runtime start, regions, input) must not overlap the
        // Rust candidates' batches on the same CPU.
        assert_eq!(go.answer(), "ready", "the Go side did not start");
        go
    }
}

/// A running Go side: one line in (a batch size), one line out (its ns per
/// operation).
pub(crate) struct GoProcess {
    child: Child,
    timings: ChildStdout,
    /// What was read past the last answer's line.
    pending: Vec<u8>,
}

impl GoProcess {
    pub(crate) fn sample(&mut self, batch: usize) -> f64 {
        writeln!(self.child.stdin.as_mut().unwrap(), "{batch}").unwrap();
        let answer = self.answer();
        answer
            .parse()
            .unwrap_or_else(|_| panic!("the Go side answered {answer:?}"))
    }

    /// The next line of the Go side, waited for at most [`BOUND`](crate::bounded::BOUND).
    fn answer(&mut self) -> String {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return String::from_utf8_lossy(&line).trim().to_owned();
            }
            wait_readable(&self.timings, "the Go side's answer");
            let mut chunk = [0u8; 256];
            match self.timings.read(&mut chunk).unwrap() {
                0 => panic!("the Go side ended without answering"),
                n => self.pending.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

impl Drop for GoProcess {
    fn drop(&mut self) {
        // End of input ends it.
        drop(self.child.stdin.take());
        let status = wait_child(&mut self.child, crate::bounded::BOUND, "the Go side");
        if !std::thread::panicking() {
            assert!(status.success(), "the Go side failed: {status}");
        }
    }
}
