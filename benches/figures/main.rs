//! The figures of BENCHMARKS.md, side by side: every figure as a ratio to a baseline measured in
//! the same run, never an absolute time (the machines are shared and noisy).
//!
//! ```text
//! cargo bench --bench figures                       # the full run (about 4 min)
//! cargo bench --bench figures -- --quick            # a smoke run, for CI
//! cargo bench --bench figures -- "set_value 64 MiB" # only the groups named so
//! cargo bench --bench figures -- handoff "write alone" # the copy's figures
//! cargo bench --bench figures -- --seed=N           # a run's lane orders again
//! ```
//!
//! Benchmarks are not tests: run by `cargo test --all-targets` (which
//! passes no `--bench`), it prints one line and exits at once. CI smoke-runs
//! it with `--quick` (`.ci/bench.sh`).
//!
//! Nothing outlives a run, however it ends (`bounded.rs`): every wait has a
//! bound, past which the run fails naming what it waited for; the Go side
//! and the round-trip worker die with it; the regions are memfds or files
//! with no name, and what the figures must create by name (the lifecycle's
//! files) is in a scratch directory that a janitor process removes when the
//! run ends, SIGKILL included.
//!
//! Method: each figure's candidates run in rounds, one batch each per round
//! in a shuffled order, each batch after one untimed operation of its own;
//! a figure's ratio is the median over rounds of subject / baseline within
//! a round, with a 97% interval for it, so a burst of noise or a drift of
//! the machine hits both sides alike and the verdict says when the two
//! cannot be told apart. The interval covers that round-to-round noise, not
//! what stays fixed for a whole run (where pages landed, code layout): the
//! A/A control rows show how large that is. Go is one more candidate in
//! the same rounds when `go` is on PATH: its own long-lived process
//! (`benches/go/shmbench.go`), set up once like the Rust candidates, timing
//! each batch it is asked for the same way. Linux only: it measures memfd.
//!
//! The parts: `stats.rs` runs the rounds and turns their samples into
//! ratios, intervals and verdicts (one printed row each); `figures.rs`
//! holds the figures, each a set of candidates and the rows it prints,
//! with the handoff to a reader on another CPU in `handoff.rs` and the
//! sweep of the write alone over sizes, source offsets and regimes in
//! `sweep.rs`; `baselines.rs` the code a figure's subject is held against
//! (raw system calls, raw pointers, memmap2, a plain streaming copy);
//! `go.rs` drives Go's side.

mod baselines;
mod bounded;
mod figures;
mod go;
mod handoff;
mod stats;
mod sweep;

use go::GoBench;
use stats::{median_rank, Bench, Xorshift};

const MIB: usize = 1 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(bounded::JANITOR) {
        return bounded::janitor(std::path::Path::new(&args[2]));
    }
    if args.iter().any(|a| a == "--roundtrip-worker") {
        return figures::roundtrip_worker();
    }
    if args.iter().any(|a| a == "--per-exec-only") {
        let iterations = args.last().and_then(|n| n.parse().ok()).unwrap_or(1000);
        return figures::per_exec_only(iterations);
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not.
    if !args.iter().any(|a| a == "--bench" || a == "--quick") {
        println!("fuzzshm figures: a benchmark, not a test; `cargo bench --bench figures` runs it");
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let _scratch = bounded::scratch_dir();
    let seed = args
        .iter()
        .find_map(|a| a.strip_prefix("--seed=")?.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.unwrap().as_nanos() as u64
        });
    // Only an optimised build's ratios are judged against their targets.
    let judged = !cfg!(debug_assertions);
    let bench = Bench {
        rounds: if quick { 3 } else { 41 },
        scale: if quick { 0.05 } else { 1.0 },
        go: GoBench::build(judged),
        order: Xorshift::new(seed),
        judged,
    };
    print_cpu();
    if judged {
        println!(
            "fuzzshm figures (BENCHMARKS.md); ratio = median of subject / baseline per round, {} rounds, lane orders from --seed={seed}",
            bench.rounds
        );
        let confidence = format!("{:.0}% interval", median_rank(bench.rounds).1 * 100.0);
        println!(
            "{:<58} {:>11} {:>11} {:>7} {:>15}  {:<7} holds",
            "figure", "subject ns", "baseline ns", "ratio", confidence, "target"
        );
    } else {
        println!(
            "fuzzshm figures: a smoke run of an unoptimised build, whose ratios are not judged \
             (`cargo bench --bench figures` measures and judges them)"
        );
    }
    // Any other argument selects the figures whose group name contains it,
    // e.g. `-- "set_value 64 MiB"`.
    let filters: Vec<&str> = args[1..]
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let selected = |group: &str| filters.is_empty() || filters.iter().any(|f| group.contains(f));
    if selected("lifecycle") {
        bench.lifecycle();
    }
    for size in [64, 4096, MIB, 64 * MIB] {
        if selected(&format!("set_value {}", human(size))) {
            bench.set_value(size, 1);
            bench.set_value(size, figures::TURNS);
        }
    }
    for size in [
        4 << 10,
        16 << 10,
        64 << 10,
        256 << 10,
        512 << 10,
        MIB,
        2 * MIB,
        4 * MIB,
        8 * MIB,
        64 * MIB,
    ] {
        if selected(&format!("handoff {}", human(size))) {
            bench.handoff(size);
        }
    }
    if selected("write alone") {
        bench.sweep();
    }
    if selected("per-exec") {
        bench.per_exec();
    }
    for size in [64, 4096, MIB] {
        if selected(&format!("round trip {}", human(size))) {
            bench.round_trip(size);
        }
    }
}

/// What every figure was measured on, first: the CPU as `cpuid` names it,
/// the table's row for it, and the copy plan in force (which
/// `FUZZSHM_COPY` may have overridden).
fn print_cpu() {
    let plan = fuzzshm::copy_plan();
    match fuzzshm::Cpu::current() {
        Some(cpu) => println!(
            "CPU: {} family {} model {} (0x{:x}), L1d {} KiB, L2 {} KiB, L3 {} KiB; table row: {}",
            cpu.vendor_str(),
            cpu.family,
            cpu.model,
            cpu.model,
            cpu.l1d_kib,
            cpu.l2_kib,
            cpu.l3_kib,
            cpu.copy_row().name,
        ),
        None => println!("CPU: not identified (no cpuid here)"),
    }
    let band = match plan.band {
        (_, 0) => "no band".to_owned(),
        (min, max) => format!("{}-{}", human(min), human(max)),
    };
    println!(
        "copy plan in force: streams {band}, and from {}; prefetch {}, four parts {}{}",
        human(plan.stream_from),
        plan.prefetch,
        plan.four_parts,
        match std::env::var("FUZZSHM_COPY") {
            Ok(value) => format!(" (FUZZSHM_COPY={value})"),
            Err(_) => String::new(),
        },
    );
}

fn human(size: usize) -> String {
    match size {
        s if s >= MIB => format!("{} MiB", s / MIB),
        s if s >= 1024 => format!("{} KiB", s / 1024),
        s => format!("{s} B"),
    }
}
