//! `count` under load: several processes incrementing it at once on the
//! same region lose no increment.

use crate::common;

use std::sync::atomic::Ordering;

use fuzzshm::{SharedMem, WorkerComm};

const WORKERS: usize = 4;
const INCREMENTS: i64 = 200_000;

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "incrementer" => {
            // SAFETY: this child was spawned by `common::spawn_worker`,
            // whose `set_worker_comm` put the worker's pipes and region on
            // fds 3-5; nothing else in this process owns those numbers, and
            // it maps fd 5 only here.
            let comm = unsafe { WorkerComm::from_inherited() }.unwrap();
            let mut calls = std::fs::File::from(comm.fuzz_in);
            assert_eq!(common::receive(&mut calls), Some(b'g'));
            let count = comm.mem.header().count();
            for _ in 0..INCREMENTS {
                count.fetch_add(1, Ordering::Relaxed);
            }
            std::io::Write::write_all(&mut std::fs::File::from(comm.fuzz_out), b"d").unwrap();
        }
        _ => return false,
    }
    true
}

#[test]
fn concurrent_processes_lose_no_increment() {
    let mem = SharedMem::temp_file(16).unwrap();
    let mut workers: Vec<common::Worker> = (0..WORKERS)
        .map(|_| common::spawn_worker("incrementer", &mem))
        .collect();
    // Start them together, and count in this process too meanwhile.
    for worker in &mut workers {
        worker.send(b'g');
    }
    for _ in 0..INCREMENTS {
        mem.header().count().fetch_add(1, Ordering::Relaxed);
    }
    for mut worker in workers {
        assert_eq!(worker.receive(), Some(b'd'));
        worker.join();
    }
    let expected = INCREMENTS * (WORKERS as i64 + 1);
    assert_eq!(mem.header().count().load(Ordering::SeqCst), expected);
}
