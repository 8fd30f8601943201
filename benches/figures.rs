//! SPEC §4, side by side: every figure as a ratio to a baseline measured in
//! the same run, never an absolute time (the machines are shared and noisy).
//!
//! ```text
//! cargo bench --bench figures            # the full run (a minute or two)
//! cargo bench --bench figures -- --quick # a smoke run, for CI
//! ```
//!
//! Method: each figure's candidates run in rotation, one batch each per
//! round, and each reports the median over rounds of its time per
//! operation; so a burst of noise hits every candidate alike. Go is run in
//! the same rotation (its own binary, `benches/go/shmbench.go`, timing its
//! batch the same way) when `go` is on PATH. Linux only: it measures memfd.

use std::fs::File;
use std::hint::black_box;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Command;
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
    let bench = Bench {
        rounds: if quick { 3 } else { 21 },
        scale: if quick { 0.05 } else { 1.0 },
        go: GoBench::build(),
    };
    println!(
        "fuzzshm figures (SPEC §4); ratio = subject / baseline, medians of {} interleaved rounds",
        bench.rounds
    );
    println!(
        "{:<58} {:>12} {:>12} {:>8}  {:<8} holds",
        "figure", "subject ns", "baseline ns", "ratio", "target"
    );
    bench.lifecycle();
    for size in [64, 4096, MIB, 64 * MIB] {
        bench.set_value(size);
    }
    bench.per_exec();
    for size in [64, 4096, MIB] {
        bench.round_trip(size);
    }
}

struct Bench {
    rounds: usize,
    scale: f64,
    go: Option<GoBench>,
}

/// A candidate: a name and one operation.
type Candidate<'a> = (&'a str, Box<dyn FnMut() + 'a>);

impl Bench {
    fn batch(&self, full: usize) -> usize {
        ((full as f64 * self.scale) as usize).max(1)
    }

    /// Runs every candidate `batch` times per round, in rotation; returns
    /// each one's median nanoseconds per operation. `go`, if given, is one
    /// more candidate run as a process that times itself.
    fn rotate(&self, batch: usize, candidates: &mut [Candidate], go: Option<&[&str]>) -> Vec<f64> {
        let lanes = candidates.len() + usize::from(go.is_some());
        let mut samples = vec![Vec::with_capacity(self.rounds); lanes];
        for _ in 0..self.rounds {
            for (lane, (_, op)) in candidates.iter_mut().enumerate() {
                let start = Instant::now();
                for _ in 0..batch {
                    op();
                }
                samples[lane].push(start.elapsed().as_nanos() as f64 / batch as f64);
            }
            if let (Some(args), Some(go)) = (go, &self.go) {
                samples[lanes - 1].push(go.run(args, batch));
            }
        }
        samples.into_iter().map(median).collect()
    }

    fn lifecycle(&self) {
        let capacity = 100 * MIB;
        let dir = std::env::temp_dir();
        let mut candidates: Vec<Candidate> = vec![
            (
                "fuzzshm temp_file",
                Box::new(|| SharedMem::temp_file(capacity).unwrap().close().unwrap()),
            ),
            (
                "fuzzshm memfd",
                Box::new(|| SharedMem::memfd(capacity).unwrap().close().unwrap()),
            ),
            (
                "memmap2 + tempfile",
                Box::new(|| {
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
                Box::new(|| raw_lifecycle(&dir, HEADER_SIZE + capacity)),
            ),
        ];
        let batch = self.batch(40);
        let cap = capacity.to_string();
        let t = self.rotate(batch, &mut candidates, Some(&["lifecycle", &cap]));
        let go = t.get(candidates.len()).copied();
        let name = |i: usize| candidates[i].0;
        self.row(
            &format!("lifecycle 100 MiB: {} vs Go", name(0)),
            t[0],
            go,
            1.0,
        );
        self.row(
            &format!("lifecycle 100 MiB: {} vs memmap2", name(0)),
            t[0],
            Some(t[2]),
            0.999,
        );
        self.row(
            &format!("lifecycle 100 MiB: {} vs Go", name(1)),
            t[1],
            go,
            0.5,
        );
        self.row(
            &format!("lifecycle 100 MiB: {} vs raw syscalls", name(0)),
            t[0],
            Some(t[3]),
            f64::NAN,
        );
    }

    fn set_value(&self, size: usize) {
        let input = hugepage_input(size);
        let input = &input[..];
        let mut temp = SharedMem::temp_file(size).unwrap();
        let mut memfd = SharedMem::memfd(size).unwrap();
        let mut plain_temp = plain_mapping(tempfile::tempfile().unwrap().into(), size);
        let memfd_file =
            rustix::fs::memfd_create("plain", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        let mut plain_memfd = plain_mapping(memfd_file, size);
        let mut anonymous = vec![0u8; size];
        // Every destination's pages are faulted in once before timing.
        temp.set_value(input).unwrap();
        memfd.set_value(input).unwrap();
        plain_temp[..size].copy_from_slice(input);
        plain_memfd[..size].copy_from_slice(input);
        anonymous.copy_from_slice(input);
        let mut candidates: Vec<Candidate> = vec![
            (
                "temp_file set_value",
                Box::new(|| temp.set_value(black_box(input)).unwrap()),
            ),
            (
                "memfd set_value",
                Box::new(|| memfd.set_value(black_box(input)).unwrap()),
            ),
            (
                "copy into a temp-file mapping",
                Box::new(|| plain_temp[..size].copy_from_slice(black_box(input))),
            ),
            (
                "copy into a memfd mapping",
                Box::new(|| plain_memfd[..size].copy_from_slice(black_box(input))),
            ),
            (
                "copy into anonymous memory",
                Box::new(|| anonymous.copy_from_slice(black_box(input))),
            ),
        ];
        let batch = self.batch((256 * MIB / size).clamp(2, 200_000));
        let size_arg = size.to_string();
        let t = self.rotate(batch, &mut candidates, Some(&["setvalue", &size_arg]));
        drop(candidates);
        let label = human(size);
        let within = if size >= 4096 { 1.05 } else { f64::NAN };
        self.row(
            &format!("set_value {label}: temp_file vs copy_from_slice"),
            t[0],
            Some(t[2]),
            within,
        );
        self.row(
            &format!("set_value {label}: memfd vs copy_from_slice"),
            t[1],
            Some(t[3]),
            within,
        );
        self.row(
            &format!("set_value {label}: memfd vs anonymous memory (floor)"),
            t[1],
            Some(t[4]),
            f64::NAN,
        );
        self.row(
            &format!("set_value {label}: temp_file vs Go setValue"),
            t[0],
            t.get(5).copied(),
            1.0,
        );
    }

    fn per_exec(&self) {
        let mut mem = SharedMem::memfd(4096).unwrap();
        mem.set_value(&[7; 100]).unwrap();
        let base = mem.as_ptr();
        let mut candidates: Vec<Candidate> = vec![
            ("fuzzshm", Box::new(|| per_exec_step(&mem))),
            // SAFETY: `base` is the live mapping of `mem`, which outlives
            // the candidates; the length it holds is valid (set above).
            (
                "raw pointers",
                Box::new(|| unsafe { raw_per_exec_step(base) }),
            ),
        ];
        let t = self.rotate(self.batch(2_000_000), &mut candidates, None);
        self.row(
            "per-exec path (read value, bump count) vs raw pointers",
            t[0],
            Some(t[1]),
            1.5,
        );
    }

    fn round_trip(&self, size: usize) {
        let mut mem = SharedMem::memfd(size).unwrap();
        let input = vec![0x5a_u8; size];
        mem.set_value(&input).unwrap();
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.arg("--roundtrip-worker");
        let comm = CoordinatorComm::attach(&mut cmd, mem).unwrap();
        let mut child = cmd.spawn().unwrap();
        drop(cmd);
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
                Box::new(|| {
                    mem.borrow_mut().set_value(black_box(&input)).unwrap();
                    exchange(b"S");
                }),
            ),
            (
                "the whole input through the pipe",
                Box::new(|| exchange(&framed)),
            ),
        ];
        let t = self.rotate(
            self.batch((64 * MIB / size).clamp(20, 20_000)),
            &mut candidates,
            None,
        );
        drop(candidates);
        drop(calls);
        assert!(child.wait().unwrap().success());
        self.row(
            &format!("round trip {}: shared memory vs pipe", human(size)),
            t[0],
            Some(t[1]),
            f64::NAN,
        );
    }

    /// One row: `target` is the ratio the SPEC asks for (NaN: reported only).
    fn row(&self, figure: &str, subject: f64, baseline: Option<f64>, target: f64) {
        let Some(baseline) = baseline else {
            println!(
                "{figure:<58} {subject:>12.0} {:>12} {:>8}  {:<8} not measured (no go on PATH)",
                "-", "-", "-"
            );
            return;
        };
        let ratio = subject / baseline;
        let (goal, holds) = if target.is_nan() {
            ("-".to_owned(), "-")
        } else if target < 1.0 && target > 0.99 {
            ("< 1".to_owned(), if ratio < 1.0 { "yes" } else { "NO" })
        } else {
            (
                format!("<= {target}"),
                if ratio <= target { "yes" } else { "NO" },
            )
        };
        println!("{figure:<58} {subject:>12.0} {baseline:>12.0} {ratio:>8.3}  {goal:<8} {holds}");
    }
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
    let map = plain_map(&fd, len);
    // SAFETY: `map` is the mapping of `len` bytes made just above.
    unsafe { rustix::mm::munmap(map.cast(), len) }.unwrap();
    drop(fd);
    rustix::fs::unlink(&path).unwrap();
}

fn plain_map(fd: &OwnedFd, len: usize) -> *mut u8 {
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
fn plain_mapping(fd: OwnedFd, size: usize) -> PlainMapping {
    let file = File::from(fd);
    file.set_len((HEADER_SIZE + size) as u64).unwrap();
    // SAFETY: the file is private to this benchmark and outlives the map.
    let map = unsafe { memmap2::MmapMut::map_mut(&file) }.unwrap();
    PlainMapping { map, _file: file }
}

struct PlainMapping {
    map: memmap2::MmapMut,
    _file: File,
}

impl std::ops::Deref for PlainMapping {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map[HEADER_SIZE..]
    }
}

impl std::ops::DerefMut for PlainMapping {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.map[HEADER_SIZE..]
    }
}

/// The worker side of the round trip: `S` reads the value from shared
/// memory; `P` reads a length-prefixed input from the pipe; either way it
/// counts and answers one byte.
fn roundtrip_worker() {
    let WorkerComm {
        fuzz_in,
        fuzz_out,
        mem,
    } = WorkerComm::from_inherited().unwrap();
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
    fn build() -> Option<GoBench> {
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
                eprintln!("Go is not measured: `go` is missing or the build failed (bash .ci/go.sh installs it)");
                None
            }
        }
    }

    /// One Go sample of `batch` operations: its median ns per operation.
    fn run(&self, args: &[&str], batch: usize) -> f64 {
        let output = Command::new(&self.0)
            .args(args)
            .args([batch.to_string(), "1".to_owned()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
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
