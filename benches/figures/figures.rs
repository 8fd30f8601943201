//! The figures: each one's candidates (fuzzshm, its baselines, Go), run in
//! rounds, and the rows it prints.

use std::fs::File;
use std::hint::black_box;
use std::io::{Read, Write};
use std::process::Command;
use std::sync::atomic::Ordering;

use fuzzshm::{CoordinatorComm, SharedMem, WorkerComm, HEADER_SIZE};

use crate::baselines::{memfd, memmap2_mapping, raw_lifecycle, raw_per_exec_step};
use crate::bounded::{die_with_parent, wait_child, Watchdog, BOUND};
use crate::stats::{repeat, Bench, Candidate, Target};
use crate::{human, MIB};

/// How many destinations of each kind a `set_value` candidate writes in
/// turn when it rotates. Where its pages landed in physical memory makes a
/// mapping up to 6% faster or slower than another of the same kind
/// (measured at 1 MiB by an A/A control row with one destination each), so
/// each candidate averages over several, and the Go side does the same.
/// A fuzzer does both: one region per worker, written in turn, and one
/// worker alone, so the figures measure one region too.
pub(crate) const TURNS: usize = 4;

/// A few values of one kind, handed out in turn.
pub(crate) struct Turns<T> {
    items: Vec<T>,
    next: usize,
}

impl<T> Turns<T> {
    pub(crate) fn new(turns: usize, make: impl FnMut() -> T) -> Turns<T> {
        Turns {
            items: std::iter::repeat_with(make).take(turns).collect(),
            next: 0,
        }
    }

    #[inline(always)]
    pub(crate) fn next(&mut self) -> &mut T {
        self.next_with_turn().1
    }

    /// The next value and its index.
    #[inline(always)]
    pub(crate) fn next_with_turn(&mut self) -> (usize, &mut T) {
        let turn = self.next;
        self.next = (turn + 1) % self.items.len();
        (turn, &mut self.items[turn])
    }

    pub(crate) fn items(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }
}

impl Bench {
    pub(crate) fn lifecycle(&self) {
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
        let t = self.run_rounds(batch, &mut candidates, Some((&["lifecycle", &cap], &[])));
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

    /// `set_value` of `size` bytes into `turns` regions in turn. The
    /// "temp_file" rows are regions in a file of the temp dir, as
    /// `SharedMem::temp_file` makes them ([`temp_dir_region`]).
    pub(crate) fn set_value(&self, size: usize, turns: usize) {
        let input = hugepage_input(size);
        let input = &input[..];
        let mut temp = Turns::new(turns, || temp_dir_region(size));
        let mut fuzzshm_memfd = Turns::new(turns, || SharedMem::memfd(size).unwrap());
        let mut plain_temp = Turns::new(turns, || {
            memmap2_mapping(tempfile::tempfile().unwrap().into(), size)
        });
        let mut plain_memfd = Turns::new(turns, || memmap2_mapping(memfd("plain", 0), size));
        let mut anonymous = Turns::new(turns, || vec![0u8; size]);
        let mut twin = Turns::new(turns, || temp_dir_region(size));
        let mut candidates: Vec<Candidate> = vec![
            (
                "temp_file set_value",
                repeat(|| temp.next().set_value(black_box(input)).unwrap()),
            ),
            (
                "memfd set_value",
                repeat(|| fuzzshm_memfd.next().set_value(black_box(input)).unwrap()),
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
        let (size_arg, turns_arg) = (size.to_string(), turns.to_string());
        let t = self.run_rounds(
            batch,
            &mut candidates,
            Some((&["setvalue", &size_arg, &turns_arg], &[])),
        );
        let go = t.get(candidates.len()).map(Vec::as_slice);
        drop(candidates);
        let label = format!(
            "{}, {turns} region{}",
            human(size),
            if turns == 1 { "" } else { "s" }
        );
        let within = Target::AtMost(1.05);
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

    pub(crate) fn per_exec(&self) {
        let mut mem = SharedMem::memfd(4096).unwrap();
        mem.set_value(&[7; 100]).unwrap();
        let base = mem.as_mut_ptr();
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

    pub(crate) fn round_trip(&self, size: usize) {
        let mut mem = SharedMem::memfd(size).unwrap();
        let input = vec![0x5a_u8; size];
        mem.set_value(&input).unwrap();
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.arg("--roundtrip-worker");
        die_with_parent(&mut cmd);
        let (mut child, comm) = CoordinatorComm::spawn(cmd, mem).unwrap();
        // The answer is read blocking, as a coordinator does; the watchdog
        // bounds the wait (it kills a worker that stops answering, and the
        // read fails) at the cost of a counter's store per exchange.
        let watchdog = Watchdog::new(child.id(), "the round-trip worker's answer");
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
            watchdog.beat();
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
        drop(watchdog);
        let status = wait_child(&mut child, BOUND, "the round-trip worker");
        assert!(status.success());
        self.row(
            &format!("round trip {}: shared memory vs pipe", human(size)),
            &t[0],
            Some(&t[1][..]),
            Target::Report,
        );
    }
}

/// A region in a file of the temp dir, as `SharedMem::temp_file` makes,
/// but with no name (`SharedMem::anonymous_in`): the same kind of memory
/// to write, and nothing to leave behind if the run is killed.
pub(crate) fn temp_dir_region(capacity: usize) -> SharedMem {
    use rustix::fs::{Mode, OFlags};
    let dir = rustix::fs::open(
        std::env::temp_dir(),
        OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    SharedMem::anonymous_in(&dir, capacity).unwrap()
}

/// The worker's per-exec path: read the value, bump `count`.
#[inline(never)]
fn per_exec_step(mem: &SharedMem) {
    black_box(mem.value().unwrap());
    mem.header().count().fetch_add(1, Ordering::Relaxed);
}

/// For `strace -c`: the per-exec path alone, `iterations` times, after the
/// set-up. Run with two iteration counts: equal syscall counts mean the
/// path itself makes none.
pub(crate) fn per_exec_only(iterations: u64) {
    let mut mem = SharedMem::memfd(4096).unwrap();
    mem.set_value(b"input").unwrap();
    for _ in 0..iterations {
        per_exec_step(&mem);
    }
    println!("{}", mem.header().count().load(Ordering::Relaxed));
}

/// The worker side of the round trip: `S` reads the value from shared
/// memory; `P` reads a length-prefixed input from the pipe; either way it
/// counts and answers one byte.
pub(crate) fn roundtrip_worker() {
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

/// The input to copy, in anonymous memory that asks for transparent huge
/// pages (`MADV_HUGEPAGE`), as Go's heap does: so both sides read their
/// source through the same kind of page.
pub(crate) struct HugeInput {
    base: *mut u8,
    len: usize,
}

pub(crate) fn hugepage_input(size: usize) -> HugeInput {
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
