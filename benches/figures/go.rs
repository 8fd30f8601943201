//! Go's side of the figures: `benches/go/shmbench.go`, built once per run
//! and started once per figure, a long-lived process that times the batches
//! it is asked for as the Rust candidates are timed.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

/// The Go benchmark binary, built once per run.
pub(crate) struct GoBench(PathBuf);

impl GoBench {
    /// `say`: whether to say why Go is not measured, if it is not.
    pub(crate) fn build(say: bool) -> Option<GoBench> {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shmbench");
        let status = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/benches/go/shmbench.go"
            ))
            .env("GO111MODULE", "off")
            .env("GOCACHE", out.with_extension("gocache"))
            .status();
        match status {
            Ok(status) if status.success() => Some(GoBench(out)),
            _ => {
                if say {
                    eprintln!("Go is not measured: `go` is missing or the build failed (bash .ci/go.sh installs it)");
                }
                None
            }
        }
    }

    /// Starts the Go side of one figure: it sets up, then waits for batches.
    pub(crate) fn start(&self, args: &[&str]) -> GoProcess {
        let mut child = Command::new(&self.0)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut go = GoProcess {
            timings: BufReader::new(child.stdout.take().unwrap()),
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
    timings: BufReader<ChildStdout>,
}

impl GoProcess {
    pub(crate) fn sample(&mut self, batch: usize) -> f64 {
        writeln!(self.child.stdin.as_mut().unwrap(), "{batch}").unwrap();
        let answer = self.answer();
        answer
            .parse()
            .unwrap_or_else(|_| panic!("the Go side answered {answer:?}"))
    }

    fn answer(&mut self) -> String {
        let mut line = String::new();
        self.timings.read_line(&mut line).unwrap();
        line.trim().to_owned()
    }
}

impl Drop for GoProcess {
    fn drop(&mut self) {
        // End of input ends it; it then removes its regions.
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        if !std::thread::panicking() {
            assert!(status.success(), "the Go side failed: {status}");
        }
    }
}
