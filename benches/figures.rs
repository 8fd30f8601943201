//! The figures of BENCHMARKS.md, side by side: every figure as a ratio to a baseline measured in
//! the same run, never an absolute time (the machines are shared and noisy).
//!
//! ```text
//! cargo bench --bench figures                       # the full run (about 90 s)
//! cargo bench --bench figures -- --quick            # a smoke run, for CI
//! cargo bench --bench figures -- "set_value 64 MiB" # only the groups named so
//! cargo bench --bench figures -- --seed=N           # a run's lane orders again
//! ```
//!
//! `cargo test --all-targets` runs it too, unoptimised, as a smoke test:
//! every figure is measured, but the ratios of a debug build say nothing of
//! the crate's, so that run prints one line instead of the table.
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

use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicI64, AtomicIsize, Ordering};
use std::time::Instant;

use fuzzshm::{CoordinatorComm, SharedMem, WorkerComm, HEADER_SIZE};

const MIB: usize = 1 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--roundtrip-worker") {
        return roundtrip_worker();
    }
    if args.iter().any(|a| a == "--per-exec-only") {
        let iterations = args.last().and_then(|n| n.parse().ok()).unwrap_or(1000);
        return per_exec_only(iterations);
    }
    // `cargo bench` passes `--bench`; without it (`cargo test --all-targets`)
    // this is a smoke run, as with `--quick`.
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
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
            bench.set_value(size);
        }
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

struct Bench {
    rounds: usize,
    scale: f64,
    go: Option<GoBench>,
    /// Shuffles the lanes of every round of the run.
    order: Xorshift,
    /// An optimised build: its rows are printed, verdicts and all. An
    /// unoptimised one computes them and prints nothing.
    judged: bool,
}

/// How many destinations of each kind a `set_value` candidate writes in
/// turn. Where its pages landed in physical memory makes a mapping up to
/// 6% faster or slower than another of the same kind (measured at 1 MiB
/// by an A/A control row with one destination each), so each candidate
/// averages over several, and the Go side does the same.
const TURNS: usize = 4;

/// `TURNS` values of one kind, handed out in turn.
struct Turns<T> {
    items: Vec<T>,
    next: usize,
}

impl<T> Turns<T> {
    fn new(make: impl FnMut() -> T) -> Turns<T> {
        Turns {
            items: std::iter::repeat_with(make).take(TURNS).collect(),
            next: 0,
        }
    }

    #[inline(always)]
    fn next(&mut self) -> &mut T {
        let item = &mut self.items[self.next];
        self.next = (self.next + 1) % TURNS;
        item
    }
}

/// A candidate: a name and its operation, run `n` times by one call.
type Candidate<'a> = (&'a str, Box<dyn FnMut(usize) + 'a>);

/// A candidate's operation as a loop: the operation is inlined into it, so
/// only a batch, not each operation, pays a dynamic call (the Go side loops
/// the same way).
fn repeat<'a>(mut op: impl FnMut() + 'a) -> Box<dyn FnMut(usize) + 'a> {
    Box::new(move |n| {
        for _ in 0..n {
            op();
        }
    })
}

impl Bench {
    fn batch(&self, full: usize) -> usize {
        ((full as f64 * self.scale) as usize).max(1)
    }

    /// Runs every candidate `batch` times per round, each batch after one
    /// untimed operation of its own (so a batch does not start on the state
    /// the previous candidate left, such as dirty cache lines); returns each
    /// one's nanoseconds per operation, one sample per round. Each round
    /// runs the lanes in a new order: with a fixed order the lane right
    /// after the Go process measured 2% slower at 64 MiB than the same code
    /// in another lane (the A/A control row), as if Go's runtime went on
    /// working after it answered. `go`, if given, is one more candidate: a
    /// Go process, set up once like the others, that times its own batches
    /// the same way.
    fn run_rounds(
        &self,
        batch: usize,
        candidates: &mut [Candidate],
        go: Option<&[&str]>,
    ) -> Vec<Vec<f64>> {
        let _pinned = OneCpu::pin();
        let mut go = go.zip(self.go.as_ref()).map(|(args, go)| go.start(args));
        let lanes = candidates.len() + usize::from(go.is_some());
        let mut samples = vec![Vec::with_capacity(self.rounds); lanes];
        let mut order: Vec<usize> = (0..lanes).collect();
        for _ in 0..self.rounds {
            for i in (1..lanes).rev() {
                order.swap(i, self.order.below(i + 1));
            }
            for &lane in &order {
                let sample = match (candidates.get_mut(lane), &mut go) {
                    (Some((_, op)), _) => {
                        op(1);
                        let start = Instant::now();
                        op(batch);
                        start.elapsed().as_nanos() as f64 / batch as f64
                    }
                    (None, Some(go)) => go.sample(batch),
                    (None, None) => unreachable!("lane {lane} of {lanes}"),
                };
                samples[lane].push(sample);
            }
        }
        samples
    }

    fn lifecycle(&self) {
        let capacity = 100 * MIB;
        let dir = std::env::temp_dir();
        let mut candidates: Vec<Candidate> = vec![
            (
                "fuzzshm temp_file",
                repeat(|| SharedMem::temp_file(capacity).unwrap().close().unwrap()),
            ),
            (
                "fuzzshm memfd",
                repeat(|| SharedMem::memfd(capacity).unwrap().close().unwrap()),
            ),
            (
                "memmap2 + tempfile",
                repeat(|| {
                    let file = tempfile::NamedTempFile::new().unwrap();
                    file.as_file()
                        .set_len((HEADER_SIZE + capacity) as u64)
                        .unwrap();
                    // SAFETY: the file is ours, private, and outlives the map.
                    let map = unsafe { memmap2::MmapMut::map_mut(file.as_file()) }.unwrap();
                    drop(black_box(map));
                    file.close().unwrap();
                }),
            ),
            (
                "raw syscalls (floor)",
                repeat(|| raw_lifecycle(&dir, HEADER_SIZE + capacity)),
            ),
        ];
        let batch = self.batch(100);
        let cap = capacity.to_string();
        let t = self.run_rounds(batch, &mut candidates, Some(&["lifecycle", &cap]));
        let go = t.get(candidates.len()).map(Vec::as_slice);
        let name = |i: usize| candidates[i].0;
        self.row(
            &format!("lifecycle 100 MiB: {} vs Go", name(0)),
            &t[0],
            go,
            Target::AtMost(1.0),
        );
        self.row(
            &format!("lifecycle 100 MiB: {} vs memmap2", name(0)),
            &t[0],
            Some(&t[2][..]),
            Target::Below(1.0),
        );
        self.row(
            &format!("lifecycle 100 MiB: {} vs Go", name(1)),
            &t[1],
            go,
            Target::AtMost(0.5),
        );
        self.row(
            &format!("lifecycle 100 MiB: {} vs raw syscalls", name(0)),
            &t[0],
            Some(&t[3][..]),
            Target::Report,
        );
    }

    fn set_value(&self, size: usize) {
        let input = hugepage_input(size);
        let input = &input[..];
        let mut temp = Turns::new(|| SharedMem::temp_file(size).unwrap());
        let mut memfd = Turns::new(|| SharedMem::memfd(size).unwrap());
        let mut plain_temp =
            Turns::new(|| memmap2_mapping(tempfile::tempfile().unwrap().into(), size));
        let mut plain_memfd = Turns::new(|| {
            let fd = rustix::fs::memfd_create("plain", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
            memmap2_mapping(fd, size)
        });
        let mut anonymous = Turns::new(|| vec![0u8; size]);
        let mut twin = Turns::new(|| SharedMem::temp_file(size).unwrap());
        let mut candidates: Vec<Candidate> = vec![
            (
                "temp_file set_value",
                repeat(|| temp.next().set_value(black_box(input)).unwrap()),
            ),
            (
                "memfd set_value",
                repeat(|| memfd.next().set_value(black_box(input)).unwrap()),
            ),
            (
                "copy into a temp-file mapping",
                repeat(|| plain_temp.next()[..size].copy_from_slice(black_box(input))),
            ),
            (
                "copy into a memfd mapping",
                repeat(|| plain_memfd.next()[..size].copy_from_slice(black_box(input))),
            ),
            (
                "copy into anonymous memory",
                repeat(|| anonymous.next().copy_from_slice(black_box(input))),
            ),
            (
                "temp_file set_value, other regions",
                repeat(|| twin.next().set_value(black_box(input)).unwrap()),
            ),
        ];
        let batch = self.batch((256 * MIB / size).clamp(2, 200_000));
        let (size_arg, turns) = (size.to_string(), TURNS.to_string());
        let t = self.run_rounds(
            batch,
            &mut candidates,
            Some(&["setvalue", &size_arg, &turns]),
        );
        let go = t.get(candidates.len()).map(Vec::as_slice);
        drop(candidates);
        let label = human(size);
        let within = if size >= 4096 {
            Target::AtMost(1.05)
        } else {
            Target::Report
        };
        self.row(
            &format!("set_value {label}: temp_file vs copy_from_slice"),
            &t[0],
            Some(&t[2][..]),
            within,
        );
        self.row(
            &format!("set_value {label}: memfd vs copy_from_slice"),
            &t[1],
            Some(&t[3][..]),
            within,
        );
        self.row(
            &format!("set_value {label}: memfd vs anonymous memory (floor)"),
            &t[1],
            Some(&t[4][..]),
            Target::Report,
        );
        self.row(
            &format!("set_value {label}: temp_file vs Go setValue"),
            &t[0],
            go,
            Target::AtMost(1.0),
        );
        // The same code into other regions of the same kind: how far apart
        // two equals measure in this run (page placement, code layout).
        self.row(
            &format!("set_value {label}: temp_file vs itself (A/A control)"),
            &t[0],
            Some(&t[5][..]),
            Target::Report,
        );
    }

    fn per_exec(&self) {
        let mut mem = SharedMem::memfd(4096).unwrap();
        mem.set_value(&[7; 100]).unwrap();
        let base = mem.as_ptr();
        let mut candidates: Vec<Candidate> = vec![
            ("fuzzshm", repeat(|| per_exec_step(&mem))),
            (
                "raw pointers",
                repeat(|| {
                    // SAFETY: `base` is the live mapping of `mem`, which
                    // outlives the candidates; the length it holds is valid
                    // (set above).
                    unsafe { raw_per_exec_step(base) }
                }),
            ),
        ];
        let t = self.run_rounds(self.batch(2_000_000), &mut candidates, None);
        self.row(
            "per-exec path (read value, bump count) vs raw pointers",
            &t[0],
            Some(&t[1][..]),
            Target::AtMost(1.5),
        );
    }

    fn round_trip(&self, size: usize) {
        let mut mem = SharedMem::memfd(size).unwrap();
        let input = vec![0x5a_u8; size];
        mem.set_value(&input).unwrap();
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.arg("--roundtrip-worker");
        let (mut child, comm) = CoordinatorComm::spawn(cmd, mem).unwrap();
        let CoordinatorComm {
            fuzz_in,
            fuzz_out,
            mem,
        } = comm;
        let mem = std::cell::RefCell::new(mem);
        let (calls, answers) = (
            std::cell::RefCell::new(File::from(fuzz_in)),
            std::cell::RefCell::new(File::from(fuzz_out)),
        );
        let exchange = |message: &[u8]| {
            calls.borrow_mut().write_all(message).unwrap();
            let mut answer = [0u8; 1];
            answers.borrow_mut().read_exact(&mut answer).unwrap();
        };
        let mut framed = vec![b'P'];
        framed.extend_from_slice(&(size as u32).to_le_bytes());
        framed.extend_from_slice(&input);
        let mut candidates: Vec<Candidate> = vec![
            (
                "shared memory",
                repeat(|| {
                    mem.borrow_mut().set_value(black_box(&input)).unwrap();
                    exchange(b"S");
                }),
            ),
            (
                "the whole input through the pipe",
                repeat(|| exchange(&framed)),
            ),
        ];
        let t = self.run_rounds(
            self.batch((64 * MIB / size).clamp(20, 20_000)),
            &mut candidates,
            None,
        );
        drop(candidates);
        drop(calls);
        assert!(child.wait().unwrap().success());
        self.row(
            &format!("round trip {}: shared memory vs pipe", human(size)),
            &t[0],
            Some(&t[1][..]),
            Target::Report,
        );
    }

    /// One row. The ratio is the median over rounds of subject / baseline
    /// within each round (the two ran moments apart, so drift of the
    /// machine cancels), with the interval that holds the true median with
    /// 95% confidence or more (order statistics of the per-round ratios).
    /// A figure holds ("yes") when the whole interval meets its target,
    /// fails ("NO") when none of it does, and is a "tie" when the interval
    /// straddles the target: the two are closer than this run can tell.
    fn row(&self, figure: &str, subject: &[f64], baseline: Option<&[f64]>, target: Target) {
        let Some(baseline) = baseline else {
            if !self.judged {
                return;
            }
            println!(
                "{figure:<58} {:>11.0} {:>11} {:>7} {:>15}  {:<7} not measured (no go on PATH)",
                median(subject.to_vec()),
                "-",
                "-",
                "-",
                "-"
            );
            return;
        };
        let ratios: Vec<f64> = subject.iter().zip(baseline).map(|(s, b)| s / b).collect();
        let (low, high) = median_interval(&ratios);
        let holds = match target {
            Target::Report => "-",
            _ if target.met_by(high) => "yes",
            _ if !target.met_by(low) => "NO",
            _ => "tie",
        };
        if !self.judged {
            return;
        }
        println!(
            "{figure:<58} {:>11.0} {:>11.0} {:>7.3} {:>15}  {:<7} {holds}",
            median(subject.to_vec()),
            median(baseline.to_vec()),
            median(ratios),
            format!("[{low:.3}, {high:.3}]"),
            target.to_string(),
        );
    }
}

/// Keeps this thread, and the processes it starts meanwhile (the Go side),
/// on the CPU it runs on until dropped. On a shared machine one virtual
/// CPU can be slowed for a while (a busy neighbour on its physical core)
/// and not the other: in one run every Rust candidate took 99 ns for a
/// 4 KiB copy, against 67-78 ns in the runs around it, while the Go
/// process, on the other CPU, did not slow down. On one CPU, both sides
/// see the same noise.
struct OneCpu(rustix::thread::CpuSet);

impl OneCpu {
    fn pin() -> OneCpu {
        use rustix::thread::{sched_getaffinity, sched_getcpu, sched_setaffinity, CpuSet};
        let previous = sched_getaffinity(None).unwrap();
        let mut one = CpuSet::new();
        one.set(sched_getcpu());
        sched_setaffinity(None, &one).unwrap();
        OneCpu(previous)
    }
}

impl Drop for OneCpu {
    fn drop(&mut self) {
        rustix::thread::sched_setaffinity(None, &self.0).unwrap();
    }
}

/// A small generator for the lane orders: seeded, so a run's orders can be
/// replayed (`--seed=N`), and no dependency is needed for it.
struct Xorshift(std::cell::Cell<u64>);

impl Xorshift {
    fn new(seed: u64) -> Xorshift {
        Xorshift(std::cell::Cell::new(seed | 1)) // never the stuck state 0
    }

    /// A number in `0..n` (the modulo bias is irrelevant here).
    fn below(&self, n: usize) -> usize {
        let mut x = self.0.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.set(x);
        (x % n as u64) as usize
    }
}

/// What a figure asks of its ratio.
#[derive(Clone, Copy)]
enum Target {
    /// Only reported: a floor, or information.
    Report,
    /// `ratio <= limit`: "no slower than", "within 5%".
    AtMost(f64),
    /// `ratio < limit`: "faster than".
    Below(f64),
}

impl Target {
    fn met_by(self, ratio: f64) -> bool {
        match self {
            Target::Report => true,
            Target::AtMost(limit) => ratio <= limit,
            Target::Below(limit) => ratio < limit,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Target::Report => f.write_str("-"),
            Target::AtMost(limit) => write!(f, "<= {limit}"),
            Target::Below(limit) => write!(f, "< {limit}"),
        }
    }
}

/// The distribution-free interval for the median of `samples`: the `k`-th
/// smallest and the `k`-th largest sample, `k` from [`median_rank`].
fn median_interval(samples: &[f64]) -> (f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (k, _) = median_rank(sorted.len());
    (sorted[k - 1], sorted[sorted.len() - k])
}

/// For `n` samples, the largest `k` with P(Binomial(n, 1/2) < k) <= 2.5%
/// (1 if there is none: the whole range), and the confidence that the
/// `k`-th smallest and `k`-th largest sample enclose the true median:
/// for 41 rounds the 14th and the 28th, 97%.
fn median_rank(n: usize) -> (usize, f64) {
    let probability = |i: usize| {
        (0..i).fold(1.0, |c, j| c * (n - j) as f64 / (j + 1) as f64) / 2f64.powi(n as i32)
    };
    let (mut k, mut below) = (1, probability(0));
    while k < n / 2 && below + probability(k) <= 0.025 {
        below += probability(k);
        k += 1;
    }
    (k, 1.0 - 2.0 * below)
}

/// The worker's per-exec path: read the value, bump `count`.
#[inline(never)]
fn per_exec_step(mem: &SharedMem) {
    black_box(mem.value().unwrap());
    mem.header().count().fetch_add(1, Ordering::Relaxed);
}

/// The same with raw pointers and no bounds check: what a C worker does.
///
/// # Safety
///
/// `base` must be a live region whose `valueLen` fits its mapping.
#[inline(never)]
unsafe fn raw_per_exec_step(base: *mut u8) {
    // SAFETY: the caller's contract; the offsets are Go's and aligned.
    unsafe {
        let len = (*base.add(8).cast::<AtomicIsize>()).load(Ordering::Acquire) as usize;
        black_box(std::slice::from_raw_parts(base.add(HEADER_SIZE), len));
        (*base.cast::<AtomicI64>()).fetch_add(1, Ordering::Relaxed);
    }
}

/// For `strace -c`: the per-exec path alone, `iterations` times, after the
/// set-up. Run with two iteration counts: equal syscall counts mean the
/// path itself makes none.
fn per_exec_only(iterations: u64) {
    let mut mem = SharedMem::memfd(4096).unwrap();
    mem.set_value(b"input").unwrap();
    for _ in 0..iterations {
        per_exec_step(&mem);
    }
    println!("{}", mem.header().count().load(Ordering::Relaxed));
}

/// Create, size, map, unmap, close, remove: with nothing around them.
fn raw_lifecycle(dir: &std::path::Path, len: usize) {
    use rustix::fs::{Mode, OFlags};
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let path = dir.join(format!(
        "raw-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let fd = rustix::fs::open(
        &path,
        OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
        Mode::RUSR | Mode::WUSR,
    )
    .unwrap();
    rustix::fs::ftruncate(&fd, len as u64).unwrap();
    let map = raw_map(&fd, len);
    // SAFETY: `map` is the mapping of `len` bytes made just above.
    unsafe { rustix::mm::munmap(map.cast(), len) }.unwrap();
    drop(fd);
    rustix::fs::unlink(&path).unwrap();
}

/// A shared read-write mapping of `len` bytes of `fd`, by `mmap` itself.
fn raw_map(fd: &OwnedFd, len: usize) -> *mut u8 {
    use rustix::mm::{MapFlags, ProtFlags};
    // SAFETY: a fresh shared mapping at an address the kernel picks.
    unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            fd,
            0,
        )
    }
    .unwrap()
    .cast()
}

/// A plain memmap2 mapping of `size` bytes (plus a header's worth, so the
/// copy lands at the same page offset as `set_value`'s) over `fd`.
fn memmap2_mapping(fd: OwnedFd, size: usize) -> Memmap2Mapping {
    let file = File::from(fd);
    file.set_len((HEADER_SIZE + size) as u64).unwrap();
    // SAFETY: the file is private to this benchmark and outlives the map.
    let map = unsafe { memmap2::MmapMut::map_mut(&file) }.unwrap();
    Memmap2Mapping { map, _file: file }
}

struct Memmap2Mapping {
    map: memmap2::MmapMut,
    _file: File,
}

impl std::ops::Deref for Memmap2Mapping {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map[HEADER_SIZE..]
    }
}

impl std::ops::DerefMut for Memmap2Mapping {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.map[HEADER_SIZE..]
    }
}

/// The worker side of the round trip: `S` reads the value from shared
/// memory; `P` reads a length-prefixed input from the pipe; either way it
/// counts and answers one byte.
fn roundtrip_worker() {
    // SAFETY: `--roundtrip-worker` is passed only by `round_trip`, whose
    // `CoordinatorComm::spawn` placed this worker's pipes and region on
    // fds 3-5; `main` opens nothing before coming here, so nothing else in
    // this process owns those numbers, and fd 5 is mapped only here.
    let WorkerComm {
        fuzz_in,
        fuzz_out,
        mem,
    } = unsafe { WorkerComm::from_inherited() }.unwrap();
    let (mut calls, mut answers) = (File::from(fuzz_in), File::from(fuzz_out));
    let mut buffer = vec![0u8; mem.capacity()];
    let mut command = [0u8; 1];
    while calls.read(&mut command).unwrap() == 1 {
        if command[0] == b'P' {
            let mut len = [0u8; 4];
            calls.read_exact(&mut len).unwrap();
            let len = u32::from_le_bytes(len) as usize;
            calls.read_exact(&mut buffer[..len]).unwrap();
            black_box(&buffer[..len]);
        } else {
            black_box(mem.value().unwrap());
        }
        mem.header().count().fetch_add(1, Ordering::Relaxed);
        answers.write_all(b"k").unwrap();
    }
}

/// The Go benchmark binary, built once per run.
struct GoBench(PathBuf);

impl GoBench {
    /// `say`: whether to say why Go is not measured, if it is not.
    fn build(say: bool) -> Option<GoBench> {
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
    fn start(&self, args: &[&str]) -> GoProcess {
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
struct GoProcess {
    child: Child,
    timings: BufReader<ChildStdout>,
}

impl GoProcess {
    fn sample(&mut self, batch: usize) -> f64 {
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

/// The input to copy, in anonymous memory that asks for transparent huge
/// pages (`MADV_HUGEPAGE`), as Go's heap does: so both sides read their
/// source through the same kind of page.
struct HugeInput {
    base: *mut u8,
    len: usize,
}

fn hugepage_input(size: usize) -> HugeInput {
    use rustix::mm::{madvise, mmap_anonymous, Advice, MapFlags, ProtFlags};
    // SAFETY: a fresh private mapping at an address the kernel picks.
    let base = unsafe {
        mmap_anonymous(
            std::ptr::null_mut(),
            size,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }
    .unwrap()
    .cast::<u8>();
    // SAFETY: the range is the mapping just made; this is only a hint.
    let _ = unsafe { madvise(base.cast(), size, Advice::LinuxHugepage) };
    let mut input = HugeInput { base, len: size };
    for (i, byte) in input.iter_mut().enumerate() {
        *byte = i as u8;
    }
    input
}

impl std::ops::Deref for HugeInput {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `base` maps `len` bytes for the life of `self`.
        unsafe { std::slice::from_raw_parts(self.base, self.len) }
    }
}

impl std::ops::DerefMut for HugeInput {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes it exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.len) }
    }
}

impl Drop for HugeInput {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `hugepage_input`, no longer borrowed.
        let _ = unsafe { rustix::mm::munmap(self.base.cast(), self.len) };
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn human(size: usize) -> String {
    match size {
        s if s >= MIB => format!("{} MiB", s / MIB),
        s if s >= 1024 => format!("{} KiB", s / 1024),
        s => format!("{s} B"),
    }
}
