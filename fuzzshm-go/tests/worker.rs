//! The worker client against real `go test -c -fuzz` workers.

mod common;

use std::time::Duration;

use fuzzshm_go::wire::FuzzArgs;
use std::os::unix::process::ExitStatusExt;

use fuzzshm_go::worker::{CallError, StartError, Worker, WorkerSpec};

const SEED: &[u8] = b"go test fuzz v1\n[]byte(\"seed\")\n";
const NEAR: &[u8] = b"go test fuzz v1\n[]byte(\"FUZY\")\n";

fn spec(go: &common::Go, target: &str) -> WorkerSpec {
    WorkerSpec {
        binary: common::worker_binary(go),
        dir: common::module(),
        target: target.into(),
        cache_dir: common::scratch("cache"),
        env: Vec::new(),
    }
}

fn fuzz_args(mask: Option<Vec<u8>>) -> FuzzArgs {
    FuzzArgs {
        Timeout: 100_000_000,
        Limit: 0,
        Warmup: false,
        CoverageData: mask,
    }
}

/// Warmup gives the mask's length; fuzz calls from an input one byte
/// away from the magic find it; the answer is an `Err` with Go's panic
/// text, and the value in the region is left as it was.
#[test]
fn fuzz_calls_find_the_magic_and_report_the_panic() {
    for go in common::toolchains() {
        let mut worker = Worker::start(spec(&go, "FuzzMagic")).unwrap();
        let warm = FuzzArgs {
            Timeout: 100_000_000,
            Limit: 1,
            Warmup: true,
            CoverageData: None,
        };
        let r = worker.fuzz(SEED, warm, Duration::from_secs(30)).unwrap();
        let mut mask = r
            .CoverageData
            .expect("an instrumented binary reports coverage");
        assert!(mask.len() > 100, "{}: {} counters", go.name, mask.len());
        assert_eq!(
            worker
                .mem()
                .header()
                .count()
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        let mut found = None;
        for _ in 0..300 {
            let r = worker
                .fuzz(NEAR, fuzz_args(Some(mask.clone())), Duration::from_secs(30))
                .unwrap();
            assert_eq!(r.InternalErr, "");
            if !r.Err.is_empty() {
                found = Some(r.Err);
                break;
            }
            if let Some(cov) = r.CoverageData {
                mask.iter_mut().zip(cov).for_each(|(m, c)| *m |= c);
            }
        }
        let err = found.unwrap_or_else(|| panic!("{}: no crash in 300 calls", go.name));
        assert!(err.contains("magic found"), "{}: {err}", go.name);
        assert!(
            worker.mem().value().unwrap() == NEAR,
            "the worker leaves the value as it was"
        );
        let ended = worker.stop().unwrap();
        assert_eq!(
            ended.status.code(),
            Some(70),
            "{}: {}",
            go.name,
            ended.output
        );
    }
}

/// A worker that calls `os.Exit` dies during the call: `Died` with its
/// exit status, the region still holding the header of the fatal run.
#[test]
fn a_worker_that_exits_is_reported_dead() {
    for go in common::toolchains() {
        let mut worker = Worker::start(spec(&go, "FuzzExit")).unwrap();
        let entry = b"go test fuzz v1\n[]byte(\"EX\")\n";
        let warm = FuzzArgs {
            Timeout: 100_000_000,
            Limit: 1,
            Warmup: true,
            CoverageData: None,
        };
        match worker.fuzz(entry, warm, Duration::from_secs(30)) {
            Err(CallError::Died(ended)) => {
                assert_eq!(ended.status.code(), Some(3), "{}", go.name);
                assert!(!ended.killed_from_outside());
            }
            other => panic!("{}: {other:?}", go.name),
        }
        assert_eq!(worker.pid(), None);
        worker.restart().unwrap();
        assert!(worker.pid().is_some());
    }
}

/// A fake worker: a shell script run as the test binary.
fn script(name: &str, body: &str) -> WorkerSpec {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::scratch("scripts");
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    WorkerSpec {
        binary: path,
        dir,
        target: "FuzzX".into(),
        cache_dir: common::scratch("cache"),
        env: Vec::new(),
    }
}

/// A worker that answers garbage is killed, and the error shows the line.
#[test]
fn a_worker_that_answers_garbage_is_an_error() {
    let spec = script(
        "garbage.sh",
        "read l <&3; echo '{}' >&4; read l <&3; echo 'not json at all' >&4; exec sleep 60",
    );
    let mut worker = Worker::start(spec).unwrap();
    let pid = worker.pid().unwrap();
    let warm = FuzzArgs {
        Timeout: 100_000_000,
        Limit: 1,
        Warmup: true,
        CoverageData: None,
    };
    match worker.fuzz(SEED, warm, Duration::from_secs(30)) {
        Err(CallError::Garbage { line, .. }) => assert_eq!(line, "not json at all"),
        other => panic!("{other:?}"),
    }
    assert_eq!(worker.pid(), None);
    assert!(
        common::gone_within(pid, Duration::from_secs(5)),
        "the garbage worker was left running"
    );
}

/// A worker that closes its pipes but lives on is reaped (killed after a
/// second) as a dead one; one that never answers its ping is a start error.
#[test]
fn a_worker_that_closes_its_pipes_is_reaped() {
    let start = std::time::Instant::now();
    match Worker::start(script("closes.sh", "exec 3<&- 4>&-; exec sleep 60")) {
        Err(StartError::Ping(CallError::Died(ended))) => {
            assert_eq!(ended.status.signal(), Some(9), "{ended:?}");
            assert!(ended.killed_here && !ended.killed_from_outside());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    match Worker::start(script("exits.sh", "echo 'FAIL: no fuzzing' >&2; exit 1")) {
        Err(StartError::Ping(CallError::Died(ended))) => {
            assert_eq!(ended.status.code(), Some(1));
            assert!(ended.output.contains("FAIL: no fuzzing"), "{ended:?}");
        }
        other => panic!("{other:?}"),
    }
}
