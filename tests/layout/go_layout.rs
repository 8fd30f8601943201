//! The header against Go's own compiler: a Go program of ours with the same
//! struct as Go's `sharedMemHeader` prints its offsets and size (for this
//! target and for GOARCH=386), writes a region that Rust reads, and reads a
//! region that Rust wrote.
//!
//! Needs `go` on PATH (`bash .ci/go.sh` installs it). Without it the tests
//! are skipped with one message, except under CI (`CI` set to anything but
//! empty, `false` or `0`, as `.ci/go.sh` reads it), where they fail.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::Ordering;

use fuzzshm::{offsets, SharedMem, HEADER_SIZE};

use crate::common;

/// Go's name for the architecture these tests are compiled for, so the Go
/// program is built for the same pointer width (i686 tests get GOARCH=386).
const GOARCH: &str = match std::env::consts::ARCH.as_bytes() {
    b"x86" => "386",
    b"x86_64" => "amd64",
    b"aarch64" => "arm64",
    b"arm" => "arm",
    _ => "unsupported",
};

/// Builds `tests/go/header.go` for `goarch`, or returns None when Go is
/// absent outside CI.
fn go_binary(goarch: &str) -> Option<PathBuf> {
    if Command::new("go").arg("version").output().is_err() {
        assert!(
            !common::in_ci(),
            "CI is set but `go` is not on PATH: run .ci/go.sh (the Go layout proof is required in CI)"
        );
        // Once for the four tests, and past the harness's capture, which
        // would hide it in a passing run.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: the Go layout proof (tests/layout/go_layout.rs): `go` is not on PATH \
                 (bash .ci/go.sh installs it; with CI=true it is required)"
            );
        });
        return None;
    }
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go");
    let out = scratch.join(format!("header-{goarch}"));
    let mut build = Command::new("go");
    build
        .args(["build", "-o"])
        .arg(&out)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/go/header.go"))
        .env("GO111MODULE", "off")
        .env("GOCACHE", scratch.join("cache"))
        .env("GOPATH", scratch.join("path"))
        .env("CGO_ENABLED", "0")
        .env("GOARCH", goarch);
    // A failure names the command, `GOARCH` included.
    common::succeeded_within(&mut build, common::BUILD_BOUND);
    Some(out)
}

/// Runs the Go program and parses its `name value` lines.
fn run_go(binary: &PathBuf, args: &[&str]) -> HashMap<String, String> {
    let mut program = Command::new(binary);
    program.args(args);
    let output = common::output_of(program);
    common::assert_success(&output);
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

fn number(fields: &HashMap<String, String>, name: &str) -> usize {
    fields[name].parse().expect("a number")
}

#[test]
fn go_lays_out_the_header_as_the_crate_does() {
    let Some(go) = go_binary(GOARCH) else { return };
    let layout = run_go(&go, &["layout"]);
    assert_eq!(number(&layout, "count"), offsets::COUNT);
    assert_eq!(number(&layout, "valueLen"), offsets::VALUE_LEN);
    assert_eq!(number(&layout, "randState"), offsets::RAND_STATE);
    assert_eq!(number(&layout, "randInc"), offsets::RAND_INC);
    assert_eq!(number(&layout, "rawInMem"), offsets::RAW_IN_MEM);
    assert_eq!(number(&layout, "size"), HEADER_SIZE);
}

/// The 32-bit layout the crate pins for i686 (`static_assertions` in
/// `src/header.rs`) is Go's on 386; run as an i386 binary, which x86-64
/// Linux kernels execute.
#[test]
fn go_on_386_matches_the_pinned_32_bit_layout() {
    let Some(go) = go_binary("386") else {
        return;
    };
    let layout = run_go(&go, &["layout"]);
    let expected = [
        ("count", 0),
        ("valueLen", 8),
        ("randState", 12),
        ("randInc", 20),
        ("rawInMem", 28),
        ("size", 32),
    ];
    for (name, offset) in expected {
        assert_eq!(number(&layout, name), offset, "{name} on 386");
    }
    if cfg!(target_pointer_width = "32") {
        assert_eq!(HEADER_SIZE, 32);
        assert_eq!(offsets::RAND_STATE, 12);
    }
}

fn path_of(mem: &SharedMem) -> String {
    use std::os::fd::{AsFd, AsRawFd};
    std::fs::read_link(format!("/proc/self/fd/{}", mem.as_fd().as_raw_fd()))
        .expect("the region's path")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn rust_reads_a_region_go_wrote() {
    let Some(go) = go_binary(GOARCH) else { return };
    let mem = SharedMem::temp_file(64).expect("temp_file");
    run_go(&go, &["write", &path_of(&mem)]);
    let header = mem.header();
    assert_eq!(header.count().load(Ordering::Relaxed), -7);
    assert_eq!(header.rand_state(), 0x0123_4567_89ab_cdef);
    assert_eq!(header.rand_inc(), 0xfedc_ba98_7654_3211);
    assert!(header.raw_in_mem());
    assert_eq!(mem.value().expect("a valid length"), b"written by Go");
}

#[test]
fn go_reads_a_region_rust_wrote() {
    let Some(go) = go_binary(GOARCH) else { return };
    let mut mem = SharedMem::temp_file(64).expect("temp_file");
    mem.set_value(b"written by Rust").expect("fits");
    let header = mem.header();
    header.count().store(123_456_789_012, Ordering::Relaxed);
    header.set_rand_state(u64::MAX - 1);
    header.set_rand_inc(0x8000_0000_0000_0001);
    header.set_raw_in_mem(true);
    let seen = run_go(&go, &["read", &path_of(&mem)]);
    assert_eq!(seen["count"], "123456789012");
    assert_eq!(seen["valueLen"], "15");
    assert_eq!(seen["randState"], (u64::MAX - 1).to_string());
    assert_eq!(seen["randInc"], 0x8000_0000_0000_0001u64.to_string());
    assert_eq!(seen["rawInMem"], "true");
    assert_eq!(seen["value"], "\"written by Rust\"");
}
