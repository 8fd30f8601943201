//! The memory figures of BENCHMARKS.md, as tests (not timings): creating a 100 MiB
//! region costs no resident memory until written, and the worker's per-exec
//! path (read the value, bump `count`) allocates nothing. That it makes no
//! system call is checked by `.ci/bench.sh` under `strace -c`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fuzzshm::SharedMem;

/// Counts allocations on this thread's watch: the global allocator, with a
/// counter beside it.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to `System` unchanged; only a counter is
// added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Resident set size in bytes, from `/proc/self/statm` (pages).
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize
}

/// Both in one test, so no other test's threads allocate or fault pages in
/// between (the binary has no other test).
#[test]
fn a_100_mib_region_costs_nothing_until_written_and_per_exec_allocates_nothing() {
    const MIB: usize = 1 << 20;
    type Make = fn(usize) -> fuzzshm::Result<SharedMem>;
    let backings: &[(&str, Make)] = &[
        ("temp_file", SharedMem::temp_file),
        #[cfg(target_os = "linux")]
        ("memfd", SharedMem::memfd),
    ];
    for (name, make) in backings {
        // Warm up whatever the first call sets up lazily.
        drop(make(4096).unwrap());
        let before = resident();
        let mut mem = make(100 * MIB).unwrap();
        let grown = resident().saturating_sub(before);
        assert!(
            grown < MIB,
            "{name}: creating 100 MiB raised RSS by {grown} bytes"
        );
        // Writing does cost memory: the measurement can see it.
        mem.set_value(&vec![1u8; 8 * MIB]).unwrap();
        assert!(
            resident() - before >= 8 * MIB,
            "{name}: RSS did not see the write"
        );

        let allocations = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..100_000 {
            std::hint::black_box(mem.value().unwrap());
            mem.header().count().fetch_add(1, Ordering::Relaxed);
        }
        assert_eq!(
            ALLOCATIONS.load(Ordering::Relaxed),
            allocations,
            "{name}: per-exec allocated"
        );
        assert_eq!(mem.header().count().load(Ordering::Relaxed), 100_000);
    }
}
