//! What the `go` command knows: the toolchain's version, the package's
//! import path and directory, the fuzz cache, and the instrumented build.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::corpus_file::GoVersion;

/// Facts about the package under test, from `go env` and `go list`.
#[derive(Debug, Clone)]
pub struct Package {
    /// The toolchain's version (`go env GOVERSION`).
    pub go: GoVersion,
    /// `$GOCACHE`.
    pub gocache: PathBuf,
    /// The package's import path.
    pub import_path: String,
    /// The package's directory: workers run there, crashers go under it.
    pub dir: PathBuf,
}

/// A `go` command in `dir` that never fetches another toolchain.
pub fn go(dir: &Path) -> Command {
    let mut cmd = Command::new("go");
    cmd.current_dir(dir).env("GOTOOLCHAIN", "local");
    cmd
}

fn run(mut cmd: Command, what: &str) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: running go: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{what}: output is not UTF-8"))
}

impl Package {
    /// Asks `go` about `pattern` (a package path, as `go test` takes it,
    /// or a directory), run from `cwd`.
    ///
    /// # Errors
    ///
    /// `go`'s own message (no such package, not in a module...).
    pub fn find(cwd: &Path, pattern: &str) -> Result<Package, String> {
        let (cwd, pattern) = locate(cwd, pattern);
        let mut env = go(&cwd);
        env.args(["env", "GOVERSION", "GOCACHE"]);
        // Two go processes at once: each takes a while to start.
        let (env, listed) = std::thread::scope(|s| {
            let env = s.spawn(|| run(env, "go env"));
            let listed = run(go_cmd_list(&cwd, pattern), "go list");
            (
                env.join()
                    .unwrap_or_else(|_| Err("go env: panicked".into())),
                listed,
            )
        });
        let env = env?;
        let mut lines = env.lines();
        let version = lines.next().unwrap_or_default();
        let go = GoVersion::parse(version).unwrap_or(GoVersion::GO1_27);
        let gocache = PathBuf::from(lines.next().unwrap_or_default());
        let listed = listed?;
        let mut lines = listed.lines();
        let (Some(import_path), Some(dir), None) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(format!(
                "cannot use -fuzz flag with multiple packages ({pattern})"
            ));
        };
        Ok(Package {
            go,
            gocache,
            import_path: import_path.into(),
            dir: dir.into(),
        })
    }

    /// Where the worker binary for `-fuzz=<regexp>` is built:
    /// `$GOCACHE/fuzzshm-go/<hash of the package directory and regexp>.test`.
    /// The same path every run, so `go test -c` finds it up to date and
    /// does not link it again (a link is most of a cached build's time);
    /// `go clean -cache` removes it.
    pub fn worker_path(&self, regexp: &str) -> PathBuf {
        use sha2::{Digest, Sha256};
        let mut key = Sha256::new();
        key.update(self.dir.as_os_str().as_encoded_bytes());
        key.update([0]);
        key.update(regexp.as_bytes());
        let hex: String = key.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.gocache.join("fuzzshm-go").join(format!("{hex}.test"))
    }

    /// `go test -c -fuzz=<regexp> -o <out>` in the package's directory:
    /// the instrumented worker.
    ///
    /// # Errors
    ///
    /// The build's output, as `go test` prints it, on failure.
    pub fn build(&self, regexp: &str, out: &Path) -> Result<(), String> {
        let mut cmd = go(&self.dir);
        cmd.arg("test")
            .arg("-c")
            .arg(format!("-fuzz={regexp}"))
            .arg("-o")
            .arg(out)
            .arg(".");
        run(cmd, "go test -c").map(drop)
    }

    /// Go's cache directory for `target`: `$GOCACHE/fuzz/<import path>/<target>`.
    pub fn cache_dir(&self, target: &str) -> PathBuf {
        self.gocache
            .join("fuzz")
            .join(&self.import_path)
            .join(target)
    }
}

/// Where to run `go` for `pattern` from `cwd`: a directory is asked about
/// from inside, so the package may be in a module other than the one of
/// `cwd` (or `cwd` in none).
fn locate<'a>(cwd: &Path, pattern: &'a str) -> (PathBuf, &'a str) {
    let inside = cwd.join(pattern);
    if inside.is_dir() {
        (inside, ".")
    } else {
        (cwd.to_path_buf(), pattern)
    }
}

fn go_cmd_list(cwd: &Path, pattern: &str) -> Command {
    let mut cmd = go(cwd);
    cmd.args(["list", "-f", "{{.ImportPath}}\n{{.Dir}}", pattern]);
    cmd
}

/// The fuzz targets of `binary` whose names match `regexp`, by Go's own
/// regexp engine (`-test.list`).
///
/// # Errors
///
/// The binary's output if it cannot list (a bad regexp, not a test binary).
pub fn fuzz_targets(binary: &Path, dir: &Path, regexp: &str) -> Result<Vec<String>, String> {
    let mut cmd = Command::new(binary);
    cmd.current_dir(dir).arg(format!("-test.list={regexp}"));
    let listed = run(cmd, "-test.list")?;
    Ok(listed
        .lines()
        .filter(|l| l.starts_with("Fuzz"))
        .map(String::from)
        .collect())
}

/// The corpus file name Go `go` gives a file: the hex of its sha256, all
/// 64 digits before Go 1.20, the first 16 since.
pub fn corpus_name(data: &[u8], go: GoVersion) -> String {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if go >= GoVersion::new(1, 20, 0) {
        hex[..16].to_string()
    } else {
        hex
    }
}
