//! `fuzzshm-go`: `go test -fuzz`, with fuzzshm's coordinator.
//!
//! ```text
//! fuzzshm-go -fuzz=FuzzX [-fuzztime=10s|1000x] [-fuzzminimizetime=60s|Nx]
//!            [-parallel=N] [-test-binary=PATH] [-hang-margin=10s]
//!            [-minimize-corpus] [package]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use fuzzshm_go::budget::{parse_duration, Budget};
use fuzzshm_go::coordinator::{self, Config, Outcome};
use fuzzshm_go::corpus_file::GoVersion;
use fuzzshm_go::corpus_min;
use fuzzshm_go::gotool::{self, Package};
use fuzzshm_go::harvest;
use fuzzshm_go::say;
use fuzzshm_go::worker::WorkerSpec;

/// Fuzz a Go package's fuzz target with Go's own worker processes, driven
/// by fuzzshm. Flags are `go test`'s, with one dash or two.
#[derive(Parser, Debug)]
#[command(name = "fuzzshm-go", version)]
struct Cli {
    /// The fuzz target: a regexp that must match exactly one of them.
    #[arg(long, value_name = "REGEXP")]
    fuzz: String,
    /// How long to fuzz: a duration (10s, 1m30s) or an execution count (1000x); 0: until a failure.
    #[arg(long, value_name = "DURATION|Nx", default_value = "0", value_parser = Budget::parse)]
    fuzztime: Budget,
    /// The budget to minimize a failing input; 0 turns minimization off.
    #[arg(long, value_name = "DURATION|Nx", default_value = "60s", value_parser = Budget::parse)]
    fuzzminimizetime: Budget,
    /// Worker processes (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    parallel: Option<usize>,
    /// A prebuilt `go test -c -fuzz` binary of the package, instead of building one.
    #[arg(long = "test-binary", value_name = "PATH")]
    test_binary: Option<PathBuf>,
    /// A call unanswered this long past its own time is a hang.
    #[arg(long = "hang-margin", value_name = "DURATION", default_value = "10s", value_parser = parse_margin)]
    hang_margin: Duration,
    /// Keep the smallest set of testdata and cache entries with the same coverage, and say what went.
    #[arg(long = "minimize-corpus")]
    minimize_corpus: bool,
    /// The package to fuzz, as `go test` takes it.
    #[arg(default_value = ".")]
    package: String,
}

fn parse_margin(s: &str) -> Result<Duration, String> {
    parse_duration(s).ok_or_else(|| format!("invalid duration {s:?}"))
}

/// Set by SIGINT and SIGTERM: stop at the next call.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn install_stop_handler() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` only stores to an atomic, which is
        // async-signal-safe; the handler stays valid for the whole process.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
}

/// `go test`'s single-dash long flags, as clap's double-dash ones.
fn normalize(args: impl Iterator<Item = String>) -> Vec<String> {
    args.map(|a| match a.strip_prefix('-') {
        Some(rest) if !rest.starts_with('-') && rest.len() > 1 => format!("--{rest}"),
        _ => a,
    })
    .collect()
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("-test.fuzzworker") {
        // SAFETY: argv says Go's coordinator started this process as its
        // worker, with fds 3-5 for the protocol; nothing here opened them.
        return ExitCode::from(unsafe { harvest::serve() } as u8);
    }
    let cli = Cli::parse_from(normalize(std::env::args()));
    install_stop_handler();
    match fuzz(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("fuzzshm-go: {msg}");
            ExitCode::from(2)
        }
    }
}

fn fuzz(cli: &Cli) -> Result<u8, String> {
    let started = Instant::now();
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let pkg = match Package::find(&cwd, &cli.package) {
        Ok(pkg) => pkg,
        Err(e) if cli.test_binary.is_some() => {
            eprintln!(
                "warning: go cannot describe the package ({}); no fuzz cache",
                e.trim()
            );
            Package {
                go: GoVersion::GO1_27,
                gocache: PathBuf::new(),
                import_path: cli.package.clone(),
                dir: cwd.join(&cli.package),
            }
        }
        Err(e) => return Err(e.trim().to_string()),
    };
    let binary = match &cli.test_binary {
        Some(path) => {
            std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => {
            let out = pkg.worker_path(&cli.fuzz);
            if let Err(output) = pkg.build(&cli.fuzz, &out) {
                say!("{}", output.trim_end());
                if !output.contains("[build failed]") {
                    say!("FAIL\t{} [build failed]", pkg.import_path);
                }
                return Ok(1);
            }
            out
        }
    };
    let targets = gotool::fuzz_targets(&binary, &pkg.dir, &cli.fuzz)?;
    let target = match targets.as_slice() {
        [one] => one.clone(),
        [] => {
            say!("testing: warning: no fuzz tests to fuzz");
            say!("PASS");
            say!(
                "ok  \t{}\t{:.3}s",
                pkg.import_path,
                started.elapsed().as_secs_f64()
            );
            return Ok(0);
        }
        many => {
            say!("testing: will not fuzz, -fuzz matches more than one fuzz test: {many:?}");
            say!("FAIL");
            say!(
                "FAIL\t{}\t{:.3}s",
                pkg.import_path,
                started.elapsed().as_secs_f64()
            );
            return Ok(1);
        }
    };
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let seeds = match harvest::initial_corpus(&binary, &me, &pkg.dir, &target) {
        Ok(seeds) => seeds,
        Err(output) => {
            say!("{}", output.trim_end());
            say!(
                "FAIL\t{}\t{:.3}s",
                pkg.import_path,
                started.elapsed().as_secs_f64()
            );
            return Ok(1);
        }
    };
    let cache = (!pkg.gocache.as_os_str().is_empty()).then(|| pkg.cache_dir(&target));
    let cfg = Config {
        spec: WorkerSpec {
            binary,
            dir: pkg.dir.clone(),
            target: target.clone(),
            cache_dir: cache
                .clone()
                .unwrap_or_else(|| PathBuf::from("/nonexistent/fuzzshm-go")),
            env: Vec::new(),
        },
        go: pkg.go,
        fuzztime: cli.fuzztime,
        minimize_time: cli.fuzzminimizetime,
        parallel: cli
            .parallel
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        hang_margin: cli.hang_margin,
        cache,
        seeds,
        stop: &STOP,
    };
    if cli.minimize_corpus {
        let testdata = pkg.dir.join("testdata/fuzz").join(&target);
        let report = corpus_min::minimize_corpus(
            cfg.spec,
            &cfg.seeds,
            &testdata,
            cfg.cache.as_deref(),
            cfg.hang_margin,
        )?;
        for path in &report.removed {
            let shown = path.strip_prefix(&pkg.dir).unwrap_or(path);
            say!(
                "fuzz: removed {} (its coverage is in the entries kept)",
                shown.display()
            );
        }
        say!(
            "fuzz: minimized corpus: kept {} of {} entries, {} coverage bits",
            report.kept.len(),
            report.kept.len() + report.removed.len(),
            report.bits
        );
        return Ok(0);
    }
    let fuzzing = Instant::now();
    let (outcome, _stats) = coordinator::run(cfg)?;
    let secs = fuzzing.elapsed().as_secs_f64();
    match outcome {
        Outcome::Pass | Outcome::Interrupted => {
            say!("PASS");
            say!("ok  \t{}\t{secs:.3}s", pkg.import_path);
            Ok(0)
        }
        Outcome::SeedFailure(msg) => {
            say!("--- FAIL: {target} ({secs:.2}s)");
            say!("{}", indent(&msg));
            say!("FAIL\nexit status 1\nFAIL\t{}\t{secs:.3}s", pkg.import_path);
            Ok(1)
        }
        Outcome::Crash(crash) => {
            say!("--- FAIL: {target} ({secs:.2}s)");
            say!("{}", indent(&crash.message));
            say!("    ");
            say!("    Failing input written to {}", crash.path.display());
            say!("    To re-run:");
            say!("    go test -run={target}/{}", crash.name);
            say!("FAIL\nexit status 1\nFAIL\t{}\t{secs:.3}s", pkg.import_path);
            Ok(1)
        }
    }
}

/// Every line indented by four spaces, as `go test` nests a subtest's output.
fn indent(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
