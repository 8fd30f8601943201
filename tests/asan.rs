//! Over-reads caught by AddressSanitizer without a copy: a worker whose
//! target reads one byte past the value it was handed is reported as a
//! use-after-poison at that byte's address when the crate is built with
//! `-Zsanitizer=address` (`.ci/sanitizers.sh` runs this file so), and not
//! reported without it, so the report comes from the poisoning and nothing
//! else. And no false report: thousands of regions created, written,
//! grown, shrunk, remapped and dropped at addresses the kernel hands out
//! again.

mod common;

use std::io::Write;

use fuzzshm::{AsFd, SharedMem, HEADER_SIZE};

#[test]
fn child_main() {
    common::run_child(|role| match role {
        "overread" => overread(),
        other => panic!("unknown role {other}"),
    });
}

/// The target's bug, in a worker: it reads the byte just past its input.
/// Prints that byte's address first, so the parent can match the report.
fn overread() {
    let backing = std::env::var("FUZZSHM_TEST_BACKING").unwrap();
    let mut mem = match backing.as_str() {
        "memfd" => SharedMem::memfd(4096).unwrap(),
        _ => SharedMem::temp_file(4096).unwrap(),
    };
    // A value that ends mid-granule (ASan tracks 8-byte granules).
    mem.set_value(b"an input!!").unwrap();
    let value = mem.value().unwrap();
    let past = value.as_ptr().wrapping_add(value.len());
    println!("reading {past:p}");
    std::io::stdout().flush().unwrap();
    // SAFETY: the byte is inside the mapping (the capacity is 4096), so
    // reading it is defined; only ASan's poison makes it an error.
    let byte = unsafe { std::ptr::read_volatile(past) };
    println!("read {byte} past the value unreported");
}

#[test]
fn a_read_past_the_value_is_a_use_after_poison_under_asan() {
    for backing in ["temp_file", "memfd"] {
        let mut cmd = common::child("overread");
        cmd.env("FUZZSHM_TEST_BACKING", backing);
        let output = common::output_of(cmd);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let address = stdout
            .lines()
            .find_map(|line| Some(line.split_once("reading ")?.1))
            .unwrap_or_else(|| panic!("{backing}: no address in {stdout}\n{stderr}"));
        if fuzzshm::asan_poisoning() {
            assert!(
                !output.status.success(),
                "{backing}: not reported:\n{stdout}"
            );
            assert!(stderr.contains("use-after-poison"), "{backing}:\n{stderr}");
            assert!(
                stderr.contains(&format!("READ of size 1 at {address}")),
                "{backing}: the report is not about {address}:\n{stderr}"
            );
        } else {
            common::assert_success(&output);
            assert!(stdout.contains("unreported"), "{backing}:\n{stdout}");
        }
    }
}

/// Reads every byte of the value, as a worker running it does.
fn touch_all(mem: &SharedMem) -> u64 {
    mem.value().unwrap().iter().map(|&b| u64::from(b)).sum()
}

#[test]
fn no_false_report_over_thousands_of_cycles_that_reuse_addresses() {
    let mut lengths = (0..).map(|i: usize| (i * 7919) % 5000);
    for cycle in 0..2_000 {
        let mut mem = if cycle % 2 == 0 {
            SharedMem::memfd(4096).unwrap()
        } else {
            SharedMem::temp_file(4096).unwrap()
        };
        // Values that grow and shrink, each read whole after it is written.
        for _ in 0..4 {
            let len = lengths.next().unwrap().min(mem.capacity());
            mem.set_value(&vec![cycle as u8; len]).unwrap();
            assert_eq!(touch_all(&mem), len as u64 * u64::from(cycle as u8));
        }
        // The whole area to read, and the value beside it: both stay
        // readable while either slice lives.
        let whole = mem.value_buffer();
        let value = mem.value().unwrap();
        assert_eq!(whole.len(), mem.capacity());
        std::hint::black_box(whole[whole.len() - 1]);
        assert!(value.len() <= whole.len());
        // Written in place, then published shorter.
        mem.value_buffer_mut().fill(1);
        mem.set_value_len(100).unwrap();
        assert_eq!(touch_all(&mem), 100);
        if cycle % 10 == 0 {
            mem.resize(64 << 10).unwrap();
            mem.set_value(&[2; 30_000]).unwrap();
            assert_eq!(touch_all(&mem), 60_000);
            // A peer's view of the same file adopts the size with `remap`.
            let fd = mem.as_fd().try_clone_to_owned().unwrap();
            // SAFETY: the test plays the peer with a second mapping of the
            // file; neither mapping's slices outlive the statement that
            // makes them, and `mem` writes only after `peer` is dropped.
            let mut peer =
                unsafe { SharedMem::map_file(fd, fuzzshm::region_size(4096).unwrap()) }.unwrap();
            assert!(peer.remap().unwrap());
            assert_eq!(peer.value().unwrap().len(), 30_000);
            drop(peer);
            mem.set_value(b"short").unwrap();
            assert_eq!(
                touch_all(&mem),
                b"short".iter().map(|&b| u64::from(b)).sum()
            );
        }
        if cycle % 2 == 0 {
            drop(mem);
        } else {
            mem.close().unwrap();
        }
    }
}

/// A value set from bytes past the current length in its own value area:
/// only unsafe code can make such a slice, and it breaks no rule doing so
/// (the copy writes other bytes). Under ASan those bytes are poisoned, so
/// `set_value` must lift the poison before it reads them, for a slice as
/// for the C API's raw source; without that the copy is a report here.
#[test]
fn a_value_set_from_past_its_own_length_raises_no_report() {
    let mut mem = SharedMem::temp_file(4096).unwrap();
    mem.set_value(&[7; 4096]).unwrap();
    mem.set_value(b"short").unwrap(); // poisons the rest under ASan
    let past = mem.as_ptr().wrapping_add(HEADER_SIZE + 1024);
    // SAFETY: value bytes 1024..1088 are inside the mapping, and nothing
    // writes them while the slice lives: the value set from it covers
    // bytes 0..64 only.
    let source = unsafe { std::slice::from_raw_parts(past, 64) };
    mem.set_value(source).unwrap();
    assert_eq!(mem.value().unwrap(), &[7; 64]);
}
