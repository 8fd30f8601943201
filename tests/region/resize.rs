//! Resize: the region grows in place and keeps its value; it never shrinks;
//! a peer that mapped the old size adopts the new one with `remap`, across
//! real processes.

use crate::common;

use fuzzshm::{Error, SharedMem, WorkerComm};

const SMALL: usize = 1 << 20;
const LARGE: usize = 64 << 20;
/// The larger input: bigger than the old capacity, so it must be remapped.
const INPUT: usize = 48 << 20;

/// Byte `i` of the large input: position-dependent, so a stale or shifted
/// page cannot pass for the right one.
fn pattern(i: usize) -> u8 {
    (i ^ (i >> 8) ^ (i >> 16)) as u8
}

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "remapping-worker" => remapping_worker(),
        _ => return false,
    }
    true
}

fn remapping_worker() {
    // SAFETY: this child was spawned by `common::spawn_worker`, whose
    // `set_worker_comm` put the worker's pipes and region on fds 3-5; nothing
    // else in this process owns those numbers, and it maps fd 5 only here.
    let mut comm = unsafe { WorkerComm::from_inherited() }.unwrap();
    let mut calls = std::fs::File::from(comm.fuzz_in);
    let mut answers = std::fs::File::from(comm.fuzz_out);
    assert_eq!(comm.mem.capacity(), SMALL);
    assert_eq!(comm.mem.value().unwrap(), b"small");
    assert!(!comm.mem.remap().unwrap(), "nothing changed yet");
    std::io::Write::write_all(&mut answers, b"r").unwrap();

    assert_eq!(common::receive(&mut calls), Some(b'g'));
    // Before remapping, the new length is beyond our mapping: refused.
    assert!(matches!(
        comm.mem.value(),
        Err(Error::CorruptValueLen { value_len, capacity: SMALL }) if value_len == INPUT as isize
    ));
    assert!(comm.mem.remap().unwrap());
    assert_eq!(comm.mem.capacity(), LARGE);
    let value = comm.mem.value().unwrap();
    assert_eq!(value.len(), INPUT);
    assert!(value.iter().enumerate().all(|(i, &b)| b == pattern(i)));
    std::io::Write::write_all(&mut answers, b"k").unwrap();
}

fn grow_under_a_worker(mut mem: SharedMem) {
    mem.set_value(b"small").unwrap();
    let mut worker = common::spawn_worker("remapping-worker", &mem);
    assert_eq!(worker.receive(), Some(b'r'));

    mem.resize(LARGE).unwrap();
    assert_eq!(mem.value().unwrap(), b"small", "resize keeps the value");
    let input: Vec<u8> = (0..INPUT).map(pattern).collect();
    mem.set_value(&input).unwrap();
    worker.send(b'g');
    assert_eq!(worker.receive(), Some(b'k'));
    worker.join();
}

#[test]
fn a_temp_file_region_grows_under_a_worker() {
    grow_under_a_worker(SharedMem::temp_file(SMALL).unwrap());
}

#[cfg(target_os = "linux")]
#[test]
fn a_memfd_region_grows_under_a_worker() {
    grow_under_a_worker(SharedMem::memfd(SMALL).unwrap());
}

#[test]
fn resize_keeps_the_value_refuses_to_shrink_and_ignores_no_change() {
    let mut mem = SharedMem::temp_file(100).unwrap();
    mem.set_value(b"keep me").unwrap();
    mem.resize(100).unwrap();
    assert_eq!(mem.capacity(), 100);
    assert_eq!(
        mem.resize(99).unwrap_err(),
        Error::ShrinkRefused {
            capacity: 100,
            requested: 99
        }
    );
    assert_eq!(
        mem.resize(usize::MAX).unwrap_err(),
        Error::SizeOverflow {
            capacity: usize::MAX
        }
    );
    for capacity in [4096, 1 << 20, 3 << 20] {
        mem.resize(capacity).unwrap();
        assert_eq!(mem.capacity(), capacity);
        assert_eq!(mem.value().unwrap(), b"keep me");
        assert!(!mem.remap().unwrap());
    }
    // The new space is usable to its last byte.
    let last = vec![7u8; 3 << 20];
    mem.set_value(&last).unwrap();
    assert_eq!(mem.value().unwrap(), &last[..]);
}

#[test]
fn resize_never_cuts_a_file_a_peer_grew_further() {
    let mut mem = SharedMem::temp_file(4096).unwrap();
    let fd = rustix::io::dup(&mem).unwrap();
    // SAFETY: the test maps the file twice to play the peer, but never
    // makes a slice of either mapping: only `resize`, `remap` and `fstat`.
    let mut peer = unsafe { SharedMem::from_fd(fd) }.unwrap();
    peer.resize(1 << 20).unwrap();
    mem.resize(8192).unwrap();
    assert_eq!(mem.capacity(), 8192);
    assert_eq!(
        rustix::fs::fstat(&mem).unwrap().st_size as usize,
        peer.size(),
        "the file keeps the peer's larger size"
    );
    assert!(mem.remap().unwrap());
    assert_eq!(mem.capacity(), 1 << 20);
}
