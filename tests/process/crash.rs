//! Crashes, as Go's coordinator meets them: a worker killed by SIGKILL at
//! any moment never leaves a length that covers bytes it did not write in
//! that round, and a worker that set `rawInMem` and wrote an input before
//! dying leaves exactly that input behind; both for inputs `set_value`
//! copies through the cache and for those it streams (8 MiB and up).

use crate::common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use fuzzshm::{SharedMem, WorkerComm};

/// Large enough that a copy takes microseconds, so kills land mid-copy.
const CAPACITY: usize = 64 << 10;

/// Round `k`'s length: varied, from empty to the whole capacity.
fn round_len(k: u64) -> usize {
    (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize % (CAPACITY + 1)
}

/// Round `k`'s byte `i`: tells both the round and the position apart.
fn round_byte(k: u64, i: usize) -> u8 {
    (k as usize).wrapping_mul(31).wrapping_add(i) as u8
}

fn round_bytes(k: u64) -> Vec<u8> {
    (0..round_len(k)).map(|i| round_byte(k, i)).collect()
}

/// Values of 8 MiB and more, which `set_value` streams past the cache
/// (non-temporal stores): four rounds, at odd lengths around the limit.
const STREAMED: usize = 8 << 20;

fn streamed_round_bytes(k: u64) -> Vec<u8> {
    let len = STREAMED + [0, 1, 4097, (1 << 20) - 31][(k % 4) as usize];
    (0..len).map(|i| round_byte(k, i)).collect()
}

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "endless-writer" => endless_writer(round_bytes, 64),
        "endless-streaming-writer" => endless_writer(streamed_round_bytes, 4),
        "dying-worker" => dying_worker(round_bytes),
        "dying-streaming-worker" => dying_worker(streamed_round_bytes),
        _ => return false,
    }
    true
}

/// Writes round after round forever, cycling through `rounds` values made
/// by `round`: `count` names the round about to be written, then
/// `set_value` writes it.
fn endless_writer(round: fn(u64) -> Vec<u8>, rounds: u64) {
    // SAFETY: this child was spawned by `common::spawn_worker`, whose
    // `set_worker_comm` put the worker's pipes and region on fds 3-5; nothing
    // else in this process owns those numbers, and it maps fd 5 only here.
    let mut comm = unsafe { WorkerComm::from_inherited() }.unwrap();
    let values: Vec<Vec<u8>> = (0..rounds).map(round).collect();
    let mut k = comm.mem.header().count().load(Ordering::Relaxed) as u64;
    std::io::Write::write_all(&mut std::fs::File::from(comm.fuzz_out), b"r").unwrap();
    loop {
        k += 1;
        comm.mem.header().count().store(k as i64, Ordering::Relaxed);
        comm.mem.set_value(&values[(k % rounds) as usize]).unwrap();
    }
}

#[test]
fn a_killed_writer_never_leaves_a_length_over_unwritten_bytes() {
    kill_writers_at_random("endless-writer", CAPACITY, round_bytes, 64, 300, 1);
}

/// The same for values `set_value` streams: a length is published only
/// after the `sfence` that makes the streamed bytes visible.
#[test]
fn a_killed_streaming_writer_never_leaves_a_length_over_unwritten_bytes() {
    let capacity = STREAMED + (1 << 20);
    kill_writers_at_random(
        "endless-streaming-writer",
        capacity,
        streamed_round_bytes,
        4,
        20,
        16,
    );
}

/// Kills `kills` writers of `role`, each after up to `max_sleep_ms`, and
/// checks every time that the value left is one round whole, or empty
/// (killed between withdrawing and publishing).
fn kill_writers_at_random(
    role: &str,
    capacity: usize,
    round: fn(u64) -> Vec<u8>,
    rounds: u64,
    kills: usize,
    max_sleep_ms: u64,
) {
    let mut mem = region(capacity);
    let values: Vec<Vec<u8>> = (0..rounds).map(round).collect();
    let mut rng = 0x1234_5678_u64;
    let mut mid_copy = 0;
    for _ in 0..kills {
        let mut worker = common::spawn_worker(role, &mem);
        assert_eq!(worker.receive(), Some(b'r'));
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        // 0 to `max_sleep_ms`, in microseconds.
        std::thread::sleep(Duration::from_micros((rng >> 54) * max_sleep_ms));
        worker.kill();

        let k = mem.header().count().load(Ordering::Relaxed) as u64;
        let value = mem.value().expect("a length within the capacity");
        if value.is_empty() && !values[(k % rounds) as usize].is_empty() {
            mid_copy += 1; // killed between withdrawing and publishing
            continue;
        }
        // The value is round k (completed) or round k-1 (k not started).
        let matches = |r: u64| value == &values[(r % rounds) as usize][..];
        assert!(
            matches(k) || matches(k.wrapping_sub(1)),
            "after round {k}: a length of {} over bytes of no single round",
            value.len()
        );
        // Restart from a clean state so the next writer's round numbers
        // continue from a published value.
        mem.set_value(&values[(k % rounds) as usize]).unwrap();
    }
    eprintln!("{mid_copy} of {kills} kills landed between withdraw and publish");
}

/// Sets `rawInMem`, writes the input the coordinator named (made by
/// `input`), reports ready, and waits to be killed.
fn dying_worker(input: fn(u64) -> Vec<u8>) {
    // SAFETY: this child was spawned by `common::spawn_worker`, whose
    // `set_worker_comm` put the worker's pipes and region on fds 3-5; nothing
    // else in this process owns those numbers, and it maps fd 5 only here.
    let mut comm = unsafe { WorkerComm::from_inherited() }.unwrap();
    let mut calls = std::fs::File::from(comm.fuzz_in);
    let round = common::receive(&mut calls).unwrap() as u64;
    let k = comm.mem.header().count().load(Ordering::Relaxed) as u64;
    assert_eq!(k % 256, round);
    comm.mem.header().set_raw_in_mem(true);
    comm.mem.set_value(&input(k)).unwrap();
    std::io::Write::write_all(&mut std::fs::File::from(comm.fuzz_out), b"r").unwrap();
    loop {
        std::thread::park();
    }
}

#[test]
fn the_input_that_killed_a_worker_is_always_recovered() {
    recover_inputs_of_killed_workers("dying-worker", CAPACITY, round_bytes, 300);
}

/// The same for inputs `set_value` streams: the bytes are all there after
/// the `SIGKILL` that follows their publication.
#[test]
fn the_streamed_input_that_killed_a_worker_is_always_recovered() {
    let capacity = STREAMED + (1 << 20);
    recover_inputs_of_killed_workers("dying-streaming-worker", capacity, streamed_round_bytes, 8);
}

/// Has `workers` workers of `role` each write round `k`'s input (made by
/// `round`) and get killed once ready, and checks the input is recovered.
fn recover_inputs_of_killed_workers(
    role: &str,
    capacity: usize,
    round: fn(u64) -> Vec<u8>,
    workers: u64,
) {
    let mut mem = region(capacity);
    let mut recovered = 0;
    for k in 1..=workers {
        mem.header().set_raw_in_mem(false);
        mem.set_value(b"stale").unwrap();
        mem.header().count().store(k as i64, Ordering::Relaxed);
        let mut worker = common::spawn_worker(role, &mem);
        worker.send(k as u8);
        assert_eq!(worker.receive(), Some(b'r'));
        worker.kill();
        assert!(mem.header().raw_in_mem(), "round {k}: rawInMem lost");
        assert_eq!(mem.value_copy().unwrap(), round(k), "round {k}: input lost");
        recovered += 1;
    }
    assert_eq!(recovered, workers);
}

/// The sealed memfd where the platform has one, else a temp file.
fn region(capacity: usize) -> SharedMem {
    #[cfg(target_os = "linux")]
    return SharedMem::memfd(capacity).unwrap();
    #[cfg(not(target_os = "linux"))]
    return SharedMem::temp_file(capacity).unwrap();
}
