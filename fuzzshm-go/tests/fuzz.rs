//! `fuzzshm-go` end to end on real instrumented Go binaries, Go 1.19 and
//! Go 1.27: each planted bug found, minimized, written under Go's name,
//! and replayed by `go test -run=FuzzX/NAME` failing for the right reason.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{crasher_name, fuzzshm_go, go_command, name_len, run_bounded, Go, Ran};

const LIMIT: Duration = Duration::from_secs(400);

/// `go test -run=TARGET/NAME` in `dir`, with a bound of its own.
fn replay(go: &Go, dir: &Path, target: &str, name: &str, extra: &[&str]) -> Ran {
    let mut cmd = go_command(go, dir);
    cmd.arg("test")
        .arg(format!("-run={target}/{name}"))
        .args(extra)
        .arg(".");
    run_bounded(cmd, LIMIT)
}

/// Runs fuzzshm-go on `target` and checks the crasher it reports: its
/// name is Go's, its content parses, and the replay fails with `reason`.
fn crash_and_replay(
    go: &Go,
    target: &str,
    args: &[&str],
    replay_args: &[&str],
    reason: &str,
) -> String {
    let dir = common::module_copy(&format!("{}-{target}", go.name));
    let _ = std::fs::remove_dir_all(common::fuzz_cache(go, target));
    crash_and_replay_in(go, &dir, target, args, replay_args, reason)
}

/// As [`crash_and_replay`], in the Go module at `dir`.
fn crash_and_replay_in(
    go: &Go,
    dir: &Path,
    target: &str,
    args: &[&str],
    replay_args: &[&str],
    reason: &str,
) -> String {
    let mut all = vec![
        format!("-fuzz=^{target}$"),
        "-fuzztime=300s".into(),
        "-parallel=2".into(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let ran = run_bounded(fuzzshm_go(go, dir, &all), LIMIT);
    assert_eq!(ran.code, Some(1), "{}: {target}: {ran:?}", go.name);
    assert!(
        ran.stdout.contains(&format!("--- FAIL: {target} (")),
        "{ran:?}"
    );
    assert!(ran.stdout.contains("To re-run:"), "{ran:?}");
    let name = crasher_name(&ran.stdout, target);
    assert_eq!(name.len(), name_len(go), "{}: {name}", go.name);
    assert!(
        ran.stdout
            .contains(&format!("go test -run={target}/{name}")),
        "{ran:?}"
    );
    let file = std::fs::read(dir.join("testdata/fuzz").join(target).join(&name)).unwrap();
    assert!(file.starts_with(b"go test fuzz v1\n"));
    let replayed = replay(go, dir, target, &name, replay_args);
    assert_eq!(
        replayed.code,
        Some(1),
        "{}: the replay of {target}/{name} passed: {replayed:?}",
        go.name
    );
    let said = format!("{}{}", replayed.stdout, replayed.stderr);
    assert!(
        said.contains(reason),
        "{}: the replay of {target}/{name} failed otherwise:\n{said}",
        go.name
    );
    String::from_utf8(file).unwrap()
}

/// A four-byte magic reached through a chain of byte comparisons: coverage
/// guidance finds it, minimization brings it to exactly "FUZZ", and each
/// new interesting input went to Go's cache. Built by fuzzshm-go itself.
#[test]
fn the_magic_is_found_minimized_and_replayed() {
    for go in common::toolchains() {
        let file = crash_and_replay(&go, "FuzzMagic", &[], &[], "magic found");
        assert_eq!(file, "go test fuzz v1\n[]byte(\"FUZZ\")\n", "{}", go.name);
        let cached =
            std::fs::read_dir(common::fuzz_cache(&go, "FuzzMagic")).map_or(0, |d| d.count());
        assert!(
            cached >= 1,
            "{}: no new interesting input in Go's cache",
            go.name
        );
    }
}

/// A (string, int) target: both arguments rebuilt, the string minimized.
#[test]
fn a_string_int_target_is_found_and_replayed() {
    for go in common::toolchains() {
        let bin = common::worker_binary(&go);
        let file = crash_and_replay(
            &go,
            "FuzzPair",
            &[&format!("-test-binary={}", bin.display())],
            &[],
            "pair found",
        );
        let mut lines = file.lines().skip(1);
        assert_eq!(lines.next(), Some("string(\"ok\")"), "{}: {file}", go.name);
        let n: i64 = lines
            .next()
            .unwrap()
            .strip_prefix("int(")
            .unwrap()
            .trim_end_matches(')')
            .parse()
            .unwrap();
        assert!(n < -50, "{}: {file}", go.name);
    }
}

/// `os.Exit` kills the worker: a crasher, rebuilt from the header alone.
#[test]
fn a_target_that_exits_is_a_crasher() {
    for go in common::toolchains() {
        let bin = common::worker_binary(&go);
        let file = crash_and_replay(
            &go,
            "FuzzExit",
            &[&format!("-test-binary={}", bin.display())],
            &[],
            "exit status 3",
        );
        assert!(
            file.starts_with("go test fuzz v1\n[]byte(\"EX"),
            "{}: {file}",
            go.name
        );
    }
}

/// A worker that does not answer within the call's time plus the margin
/// is killed, and its input saved; the replay times out on it.
#[test]
fn a_hang_is_killed_and_saved() {
    for go in common::toolchains() {
        let bin = common::worker_binary(&go);
        let args = [
            format!("-test-binary={}", bin.display()),
            "-hang-margin=3s".into(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let file = crash_and_replay(&go, "FuzzHang", &args, &["-timeout=5s"], "test timed out");
        assert!(
            file.starts_with("go test fuzz v1\n[]byte(\"H!"),
            "{}: {file}",
            go.name
        );
    }
}

/// A target that never fails: progress lines in Go's shape, PASS, exit 0,
/// nothing written to testdata.
#[test]
fn a_target_that_never_fails_passes() {
    for go in common::toolchains() {
        let dir = common::module_copy(&format!("{}-never", go.name));
        let bin = common::worker_binary(&go);
        let args = [
            "-fuzz=^FuzzNever$",
            "-fuzztime=4s",
            "-parallel=2",
            &format!("-test-binary={}", bin.display()),
        ];
        let ran = run_bounded(fuzzshm_go(&go, &dir, &args), LIMIT);
        assert_eq!(ran.code, Some(0), "{ran:?}");
        let progress = ran
            .stdout
            .lines()
            .rfind(|l| l.starts_with("fuzz: elapsed: ") && l.contains(", execs: "));
        let progress = progress.unwrap_or_else(|| panic!("no progress line: {ran:?}"));
        assert!(
            progress.contains("/sec), new interesting: ") && progress.contains(" (total: "),
            "{progress}"
        );
        assert!(
            ran.stdout.contains("\nPASS\nok  \texample.com/fuzzshmgo\t"),
            "{ran:?}"
        );
        assert!(!dir.join("testdata").exists());
    }
}

/// The baseline count of "gathering baseline coverage: 0/N completed".
fn baseline(stdout: &str) -> usize {
    let line = stdout
        .lines()
        .find(|l| l.contains("gathering baseline coverage: 0/"))
        .unwrap_or_else(|| panic!("no baseline line:\n{stdout}"));
    line.split("0/")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Go's cache is shared both ways: `go test -fuzz` warms up every entry
/// fuzzshm-go wrote (named as Go names them), and fuzzshm-go every entry
/// in the cache after Go's run.
#[test]
fn go_and_fuzzshm_go_resume_from_each_other_s_cache() {
    for go in common::toolchains() {
        let dir = common::module_copy(&format!("{}-cache", go.name));
        let cache = common::fuzz_cache(&go, "FuzzNever");
        let _ = std::fs::remove_dir_all(&cache);
        let bin = format!("-test-binary={}", common::worker_binary(&go).display());
        let ran = run_bounded(
            fuzzshm_go(&go, &dir, &["-fuzz=^FuzzNever$", "-fuzztime=2s", &bin]),
            LIMIT,
        );
        assert_eq!(ran.code, Some(0), "{ran:?}");
        let names: Vec<String> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(!names.is_empty(), "{}: nothing cached", go.name);
        assert!(
            names.iter().all(|n| n.len() == name_len(&go)),
            "{}: {names:?}",
            go.name
        );
        let mut gotest = go_command(&go, &dir);
        gotest.args([
            "test",
            "-run=^$",
            "-fuzz=^FuzzNever$",
            "-fuzztime=1x",
            "-parallel=1",
            ".",
        ]);
        let went = run_bounded(gotest, LIMIT);
        assert_eq!(went.code, Some(0), "{went:?}");
        assert_eq!(
            baseline(&went.stdout),
            names.len() + 1,
            "{}: {}",
            go.name,
            went.stdout
        );
        let now = std::fs::read_dir(&cache).unwrap().count();
        let ran = run_bounded(
            fuzzshm_go(&go, &dir, &["-fuzz=^FuzzNever$", "-fuzztime=1x", &bin]),
            LIMIT,
        );
        assert_eq!(ran.code, Some(0), "{ran:?}");
        assert_eq!(
            baseline(&ran.stdout),
            now + 1,
            "{}: {}",
            go.name,
            ran.stdout
        );
    }
}

/// -minimize-corpus removes the testdata and cache files whose coverage
/// the others give (the larger of two equal ones),
/// and a second pass removes nothing and counts the same bits.
#[test]
fn minimize_corpus_keeps_the_coverage_and_drops_the_rest() {
    for go in common::toolchains() {
        let dir = common::module_copy(&format!("{}-mincorpus", go.name));
        let corpus = dir.join("testdata/fuzz/FuzzNever");
        std::fs::create_dir_all(&corpus).unwrap();
        // 2 and 3 iterations of the same branch: one hit-count bucket (2-3).
        std::fs::write(corpus.join("two"), "go test fuzz v1\n[]byte(\"aa\")\n").unwrap();
        std::fs::write(corpus.join("three"), "go test fuzz v1\n[]byte(\"aaa\")\n").unwrap();
        let gocache = common::scratch(&format!("gocache-min-{}", go.name));
        let _ = std::fs::remove_dir_all(&gocache);
        let bin = format!("-test-binary={}", common::worker_binary(&go).display());
        let mut cmd = fuzzshm_go(&go, &dir, &["-fuzz=^FuzzNever$", "-minimize-corpus", &bin]);
        cmd.env("GOCACHE", &gocache);
        let ran = run_bounded(cmd, LIMIT);
        assert_eq!(ran.code, Some(0), "{ran:?}");
        assert!(
            ran.stdout
                .contains("fuzz: removed testdata/fuzz/FuzzNever/three"),
            "{ran:?}"
        );
        assert!(corpus.join("two").exists() && !corpus.join("three").exists());
        let summary = |out: &str| {
            out.lines()
                .find(|l| l.starts_with("fuzz: minimized corpus:"))
                .map(|l| l.split(", ").nth(1).unwrap().to_string())
        };
        let bits = summary(&ran.stdout).unwrap();
        let mut again = fuzzshm_go(&go, &dir, &["-fuzz=^FuzzNever$", "-minimize-corpus", &bin]);
        again.env("GOCACHE", &gocache);
        let again = run_bounded(again, LIMIT);
        assert!(!again.stdout.contains("fuzz: removed"), "{again:?}");
        assert_eq!(summary(&again.stdout).unwrap(), bits);
    }
}

/// The README's demo: fuzzshm-go, given the module's directory, builds it
/// and finds both planted bugs of `fuzzshm-go/examples/planted`.
#[test]
fn the_demo_finds_both_planted_bugs() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/planted");
    for go in common::toolchains() {
        let dir = common::copy_of(&demo, &format!("{}-demo", go.name));
        for (target, reason) in [
            ("FuzzParse", "slice bounds out of range"),
            ("FuzzRepeat", "negative Repeat count"),
        ] {
            let _ =
                std::fs::remove_dir_all(common::fuzz_cache_of(&go, "example.com/planted", target));
            crash_and_replay_in(&go, &dir, target, &[], &[], reason);
        }
    }
}
