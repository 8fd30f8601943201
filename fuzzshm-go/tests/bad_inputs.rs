//! What bad input gets: a clear error or a warning, as Go gives, and
//! nothing lost; and stops from outside, which leave nothing behind.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{fuzzshm_go, poll_child, run_bounded, workers_of};

const LIMIT: Duration = Duration::from_secs(300);

fn binary_arg(go: &common::Go) -> String {
    format!("-test-binary={}", common::worker_binary(go).display())
}

/// A corrupt testdata file stops the run with Go's own message; it is kept.
#[test]
fn a_corrupt_testdata_file_fails_as_in_go() {
    for go in common::toolchains() {
        let dir = common::module_copy(&format!("{}-bad-testdata", go.name));
        let bad = dir.join("testdata/fuzz/FuzzNever/bad");
        std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
        std::fs::write(&bad, "garbage\n").unwrap();
        let ran = run_bounded(
            fuzzshm_go(
                &go,
                &dir,
                &["-fuzz=^FuzzNever$", "-fuzztime=1s", &binary_arg(&go)],
            ),
            LIMIT,
        );
        assert_eq!(ran.code, Some(1), "{ran:?}");
        assert!(
            ran.stdout
                .contains("testdata/fuzz/FuzzNever/bad\": unmarshal: unknown encoding version"),
            "{ran:?}"
        );
        assert_eq!(std::fs::read(&bad).unwrap(), b"garbage\n");
    }
}

/// Corrupt and mistyped cache entries are skipped with a warning each, the
/// run goes on, and they stay where they are.
#[test]
fn corrupt_cache_entries_are_skipped_with_a_warning() {
    for go in common::toolchains() {
        let dir = common::module_copy(&format!("{}-bad-cache", go.name));
        let cache = common::fuzz_cache(&go, "FuzzNeverTwin");
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("junk"), "junk").unwrap();
        std::fs::write(cache.join("mistyped"), "go test fuzz v1\nint(3)\n").unwrap();
        let ran = run_bounded(
            fuzzshm_go(
                &go,
                &dir,
                &["-fuzz=^FuzzNeverTwin$", "-fuzztime=1s", &binary_arg(&go)],
            ),
            LIMIT,
        );
        assert_eq!(ran.code, Some(0), "{ran:?}");
        assert!(
            ran.stderr.contains("warning: skipping cache entry") && ran.stderr.contains("/junk: "),
            "{ran:?}"
        );
        assert!(
            ran.stderr.contains("mistyped: wrong types for this target"),
            "{ran:?}"
        );
        assert!(cache.join("junk").exists() && cache.join("mistyped").exists());
    }
}

/// A binary built without -fuzz fuzzes without coverage, with Go's warning.
#[test]
fn a_binary_without_instrumentation_gets_go_s_warning() {
    for go in common::toolchains() {
        let dir = common::module_copy(&format!("{}-plain", go.name));
        let plain = dir.join("plain.test");
        let built = common::go_command(&go, &dir)
            .args(["test", "-c", "-o"])
            .arg(&plain)
            .arg(".")
            .output()
            .unwrap();
        assert!(built.status.success(), "{built:?}");
        let arg = format!("-test-binary={}", plain.display());
        let ran = run_bounded(
            fuzzshm_go(&go, &dir, &["-fuzz=^FuzzNever$", "-fuzztime=1s", &arg]),
            LIMIT,
        );
        assert_eq!(ran.code, Some(0), "{ran:?}");
        assert!(
            ran.stdout
                .contains("warning: the test binary was not built with coverage instrumentation"),
            "{ran:?}"
        );
    }
}

/// -fuzz must match one target: none is Go's warning and exit 0, two is
/// Go's refusal and exit 1.
#[test]
fn a_pattern_must_match_exactly_one_target() {
    for go in common::toolchains() {
        let dir = common::module();
        let ran = run_bounded(
            fuzzshm_go(&go, &dir, &["-fuzz=Nothing", &binary_arg(&go)]),
            LIMIT,
        );
        assert_eq!(ran.code, Some(0), "{ran:?}");
        assert!(
            ran.stdout
                .contains("testing: warning: no fuzz tests to fuzz"),
            "{ran:?}"
        );
        let ran = run_bounded(
            fuzzshm_go(&go, &dir, &["--fuzz=FuzzNever", &binary_arg(&go)]),
            LIMIT,
        );
        assert_eq!(ran.code, Some(1), "{ran:?}");
        assert!(
            ran.stdout.contains(
                "-fuzz matches more than one fuzz test: [\"FuzzNever\", \"FuzzNeverTwin\"]"
            ),
            "{ran:?}"
        );
    }
}

/// A package that does not compile is reported as go test reports it.
#[test]
fn a_build_failure_is_reported_as_go_test_does() {
    for go in common::toolchains() {
        let dir = common::module_copy(&format!("{}-broken", go.name));
        std::fs::write(
            dir.join("broken.go"),
            "package fuzzshmgo\n\nvar x int = \"not an int\"\n",
        )
        .unwrap();
        let ran = run_bounded(
            fuzzshm_go(&go, &dir, &["-fuzz=^FuzzNever$", "-fuzztime=1s"]),
            LIMIT,
        );
        assert_eq!(ran.code, Some(1), "{ran:?}");
        assert!(ran.stdout.contains("broken.go:3:"), "{ran:?}");
        assert!(
            ran.stdout
                .contains("FAIL\texample.com/fuzzshmgo [build failed]"),
            "{ran:?}"
        );
    }
}

/// Starts fuzzshm-go on FuzzNever with no time limit and waits (bounded)
/// until both workers are fuzzing: past their start-up (a worker killed
/// while starting is started again without a word) and the baseline.
/// Returns its workers and a thread that collects its standard output.
// The child is returned to the caller, who waits for it.
#[allow(clippy::zombie_processes)]
fn start_fuzzing(
    go: &common::Go,
    name: &str,
) -> (
    std::process::Child,
    Vec<u32>,
    std::thread::JoinHandle<String>,
) {
    let dir = common::module_copy(name);
    let mut child = fuzzshm_go(
        go,
        &dir,
        &["-fuzz=^FuzzNever$", "-parallel=2", &binary_arg(go)],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (lines, fuzzing) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let collector = std::thread::spawn(move || {
        let mut out = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let line = line.unwrap_or_default();
            if line.contains("now fuzzing with") {
                let _ = lines.send(());
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    });
    if fuzzing.recv_timeout(LIMIT).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("fuzzshm-go did not start fuzzing within {LIMIT:?}");
    }
    // The warmup may end on one worker while the other is still being
    // exec'd.
    let workers = workers_when(&mut child, &format!("{}: two workers", go.name), |w| {
        w.len() == 2
    });
    (child, workers, collector)
}

/// Waits (bounded by `LIMIT`) until the workers of `child` are as `wanted`
/// says, and returns them. Past the harvest, `child`'s workers are its own
/// (its harvest's coordinator's worker is a grandchild).
fn workers_when(
    child: &mut std::process::Child,
    what: &str,
    wanted: impl Fn(&[u32]) -> bool,
) -> Vec<u32> {
    poll_child(child, LIMIT, what, |c| {
        let workers = workers_of(c.id());
        wanted(&workers).then_some(workers)
    })
}

fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    poll_child(child, limit, "fuzzshm-go to stop", |c| {
        c.try_wait().unwrap()
    })
}

fn kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

/// SIGKILL or SIGTERM from outside is no crash: the worker is restarted;
/// then Ctrl-C (SIGINT) stops everything cleanly: PASS, exit 0, no worker left.
#[test]
fn outside_kills_restart_workers_and_ctrl_c_stops_cleanly() {
    for go in common::toolchains() {
        let (mut child, workers, stdout) = start_fuzzing(&go, &format!("{}-signals", go.name));
        kill(workers[0], "KILL");
        kill(workers[1], "TERM");
        let restarted = workers_when(
            &mut child,
            &format!("{}: two restarted workers", go.name),
            |now| now.len() == 2 && !now.contains(&workers[0]) && !now.contains(&workers[1]),
        );
        kill(child.id(), "INT");
        let status = wait_bounded(&mut child, Duration::from_secs(30));
        let out = stdout.join().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(0), "{}: {out}{err}", go.name);
        assert!(out.contains("\nPASS\n"), "{out}");
        assert!(!out.contains("Failing input"), "{out}");
        // One message per worker killed during a call (one killed while
        // still starting is started again without a word).
        let said = err.matches("terminated by unexpected signal").count();
        assert!((1..=2).contains(&said), "{err}");
        for pid in restarted {
            assert!(
                common::gone_within(pid, Duration::from_secs(10)),
                "worker {pid} left running"
            );
        }
    }
}

/// A coordinator killed with SIGKILL leaves no region file anywhere (they
/// are memfds) and its workers end by themselves (their input pipe closes).
#[test]
fn a_coordinator_killed_with_sigkill_leaves_nothing() {
    for go in common::toolchains() {
        let (mut child, workers, _stdout) = start_fuzzing(&go, &format!("{}-sigkill", go.name));
        for &w in &workers {
            let fds = std::fs::read_dir(format!("/proc/{w}/fd")).unwrap();
            let region = fds.flatten().find(|f| f.file_name() == "5").unwrap();
            let target = std::fs::read_link(region.path()).unwrap();
            assert!(
                target.to_string_lossy().starts_with("/memfd:"),
                "region of {w}: {target:?}"
            );
        }
        let _ = child.kill();
        let _ = child.wait();
        for pid in workers {
            assert!(
                common::gone_within(pid, Duration::from_secs(30)),
                "worker {pid} outlived its coordinator"
            );
        }
    }
}
