//! Several threads on one region, in one process: the `&self` API (header
//! atomics, value reads) from many threads at once, which is what `Region:
//! Sync` promises, and a region handed back and forth between two threads
//! by message, as Go's protocol hands it between processes (`SharedMem:
//! Send`). ThreadSanitizer runs this file (`bash .ci/sanitizers.sh`), so a
//! header field that were not atomic, or a handoff that did not order the
//! value's bytes, would be reported as a data race.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;

use fuzzshm::SharedMem;

const THREADS: u64 = 4;
const ROUNDS: u64 = 2_000;

#[test]
fn many_threads_read_and_count_on_one_region() {
    let mut mem = SharedMem::temp_file(4096).unwrap();
    mem.set_value(b"one input, read by every thread").unwrap();
    thread::scope(|scope| {
        for thread in 0..THREADS {
            let mem = &mem;
            scope.spawn(move || {
                let header = mem.header();
                for round in 0..ROUNDS {
                    header.count().fetch_add(1, Ordering::Relaxed);
                    header.set_rand_state(thread);
                    header.set_rand_inc(round);
                    header.set_raw_in_mem(round % 2 == 0);
                    assert!(header.rand_state() < THREADS);
                    assert!(header.rand_inc() < ROUNDS);
                    let _ = header.raw_in_mem();
                    assert_eq!(mem.value().unwrap(), b"one input, read by every thread");
                    assert_eq!(mem.value_copy().unwrap().len(), 31);
                }
            });
        }
    });
    let count = mem.header().count().load(Ordering::Relaxed);
    assert_eq!(count, (THREADS * ROUNDS) as i64, "a count was lost");
    mem.close().unwrap();
}

#[test]
fn a_region_passed_between_threads_by_message() {
    let (to_worker, calls) = mpsc::channel::<SharedMem>();
    let (to_coordinator, answers) = mpsc::channel::<SharedMem>();
    let worker = thread::spawn(move || {
        // The worker's turn: read the input, count it, answer in place.
        for mut mem in calls {
            let mut input = mem.value().unwrap().to_vec();
            input.reverse();
            mem.header().count().fetch_add(1, Ordering::Relaxed);
            mem.set_value(&input).unwrap();
            to_coordinator.send(mem).unwrap();
        }
    });
    let mut mem = SharedMem::temp_file(64).unwrap();
    for round in 0..ROUNDS {
        let input = round.to_le_bytes();
        mem.set_value(&input).unwrap();
        to_worker.send(mem).unwrap();
        mem = answers.recv().unwrap();
        let mut expected = input;
        expected.reverse();
        assert_eq!(mem.value().unwrap(), expected);
    }
    drop(to_worker);
    worker.join().unwrap();
    assert_eq!(mem.header().count().load(Ordering::Relaxed), ROUNDS as i64);
    mem.close().unwrap();
}
