//! `CoordinatorComm::spawn` across real processes: the worker gets its
//! pipes and region, and this process keeps only the coordinator's ends,
//! so a worker's death is end of stream on `fuzz_out` at once, every time
//! a worker is respawned; a spawn that fails hands the region back.
//! `attach` with a `Command` kept alive is the contrast: no end of stream.

mod common;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::Ordering;

use common::{Log, Process};
use fuzzshm::{CoordinatorComm, Errno, Error, SharedMem, WorkerComm};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

#[test]
fn child_main() {
    common::run_child(|role| match role {
        "answer-once" => answer_once(),
        "wait-to-die" => wait_to_die(),
        "spawn-missing-with-free-low-fds" => spawn_missing_with_free_low_fds(),
        "spawn-under-nofile" => spawn_under_nofile(),
        other => panic!("unknown role {other}"),
    });
}

/// In a worker: its pipes and region, taken from fds 3, 4 and 5.
fn inherited() -> WorkerComm {
    // SAFETY: every worker role is started by `CoordinatorComm::spawn` (or
    // `attach`) with its pipes and region placed at fds 3-5, and calls this
    // once, before opening anything: nothing else in the process owns those
    // numbers, and fd 5 is mapped only here.
    unsafe { WorkerComm::from_inherited() }.expect("fds 3, 4, 5")
}

/// A worker that serves one call: the value reversed, `count` bumped by
/// the call's byte, the byte echoed back; then it exits.
fn answer_once() {
    let mut comm = inherited();
    let mut call = [0u8; 1];
    File::from(comm.fuzz_in).read_exact(&mut call).unwrap();
    let mut value = comm.mem.value_copy().unwrap();
    value.reverse();
    comm.mem.set_value(&value).unwrap();
    let count = comm.mem.header().count();
    count.fetch_add(i64::from(call[0]), Ordering::Relaxed);
    File::from(comm.fuzz_out).write_all(&call).unwrap();
}

/// A worker that bumps `count`, says it is ready, and waits for a call
/// that never comes: only SIGKILL ends it.
fn wait_to_die() {
    let comm = inherited();
    comm.mem.header().count().fetch_add(1, Ordering::Relaxed);
    File::from(comm.fuzz_out).write_all(b"r").unwrap();
    let read = File::from(comm.fuzz_in).read(&mut [0u8; 1]);
    panic!("the coordinator was to kill this worker, not answer {read:?}");
}

/// Spawns this test binary as a worker playing `role` on `mem`, its output
/// in a log (shown if the test fails while the worker is in scope).
fn spawn_worker(role: &str, mem: SharedMem) -> (Process, CoordinatorComm) {
    let mut cmd = common::child(role);
    let log = Log::new();
    log.attach(&mut cmd);
    let (child, comm) = CoordinatorComm::spawn(cmd, mem).expect("spawn the worker");
    (Process { child, log }, comm)
}

/// Whether `pipe` reaches end of stream within `seconds`: a regression
/// that keeps a write end open fails the test instead of hanging it.
fn end_of_stream_within(pipe: &File, seconds: i64) -> bool {
    let timeout = Timespec {
        tv_sec: seconds,
        tv_nsec: 0,
    };
    let ready = poll(&mut [PollFd::new(pipe, PollFlags::IN)], Some(&timeout)).unwrap();
    ready == 1 && (&*pipe).read(&mut [0u8; 1]).unwrap() == 0
}

/// How long a dead worker's end of stream may take: it is immediate, and
/// this only bounds a regression.
const PROMPTLY: i64 = 5;

/// How many descriptors of this process are on the pipe `end` is one end
/// of (`/proc/self/fd` names a pipe `pipe:[inode]`, both ends one inode).
fn descriptors_on_pipe_of(end: &impl AsFd) -> usize {
    let name = format!("pipe:[{}]", rustix::fs::fstat(end).unwrap().st_ino);
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.unwrap().path()).ok())
        .filter(|target| target.as_os_str() == name.as_str())
        .count()
}

#[test]
fn a_spawned_worker_answers_through_the_pipes_and_the_region() {
    let mut mem = SharedMem::temp_file(64).unwrap();
    mem.set_value(b"an input").unwrap();
    let (worker, comm) = spawn_worker("answer-once", mem);
    let mut calls = File::from(comm.fuzz_in);
    let mut answers = File::from(comm.fuzz_out);
    calls.write_all(&[7]).unwrap();
    assert_eq!(common::receive(&mut answers), Some(7));
    worker.join();
    assert_eq!(comm.mem.value().unwrap(), b"tupni na");
    assert_eq!(comm.mem.header().count().load(Ordering::Relaxed), 7);
    // It exited: end of stream on one side, EPIPE on the other.
    assert!(end_of_stream_within(&answers, PROMPTLY));
    let refused = calls.write_all(&[1]).expect_err("no reader left");
    assert_eq!(refused.kind(), ErrorKind::BrokenPipe);
}

#[test]
fn a_killed_worker_is_end_of_stream_at_once() {
    let (worker, comm) = spawn_worker("wait-to-die", SharedMem::temp_file(64).unwrap());
    let mut answers = File::from(comm.fuzz_out);
    assert_eq!(common::receive(&mut answers), Some(b'r'));
    worker.kill();
    assert!(
        end_of_stream_within(&answers, PROMPTLY),
        "no end of stream after the worker's death"
    );
    let refused = File::from(comm.fuzz_in).write_all(&[1]).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::BrokenPipe);
}

#[test]
fn after_spawn_this_process_holds_only_the_coordinator_s_ends() {
    let (worker, comm) = spawn_worker("wait-to-die", SharedMem::temp_file(64).unwrap());
    // Counted while the worker holds its ends, and again once it is gone.
    let on_each_pipe = || [&comm.fuzz_in, &comm.fuzz_out].map(descriptors_on_pipe_of);
    let while_alive = on_each_pipe();
    let mut answers = File::from(comm.fuzz_out.try_clone().unwrap());
    assert_eq!(common::receive(&mut answers), Some(b'r'));
    drop(answers);
    worker.kill();
    assert_eq!(while_alive, [1, 1], "copies of the worker's ends remain");
    assert_eq!(on_each_pipe(), [1, 1]);
}

/// The hang that `spawn` prevents, and what `attach`'s docs say of it:
/// while the `Command` lives, so do duplicates of the worker's ends, and a
/// dead worker is no end of stream; dropping the `Command` ends it.
#[test]
fn attach_with_the_command_kept_sees_no_end_of_stream_until_it_is_dropped() {
    let mut cmd = common::child("wait-to-die");
    let comm = CoordinatorComm::attach(&mut cmd, SharedMem::temp_file(64).unwrap()).unwrap();
    let worker = Process::spawn(&mut cmd);
    let mut answers = File::from(comm.fuzz_out);
    assert_eq!(common::receive(&mut answers), Some(b'r'));
    worker.kill();
    assert_eq!(descriptors_on_pipe_of(&answers), 2, "ours and cmd's");
    assert!(!end_of_stream_within(&answers, 1), "cmd holds a write end");
    drop(cmd);
    assert!(end_of_stream_within(&answers, PROMPTLY));
}

#[test]
fn respawned_workers_share_the_region_and_each_death_is_seen() {
    let mut mem = SharedMem::temp_file(64).unwrap();
    for round in 1..=3 {
        // A fresh `Command` each round: `spawn` used up the last one.
        let (worker, comm) = spawn_worker("wait-to-die", mem);
        let mut answers = File::from(comm.fuzz_out);
        assert_eq!(common::receive(&mut answers), Some(b'r'));
        assert_eq!(comm.mem.header().count().load(Ordering::Relaxed), round);
        worker.kill();
        assert!(
            end_of_stream_within(&answers, PROMPTLY),
            "no end of stream in round {round}"
        );
        mem = comm.mem;
    }
}

/// In a coordinator whose fds 3, 4 and 5 are free (a `Command`'s child
/// starts with 0-2 only): spawning a missing program is `ENOENT`, not a
/// worker that seems to run (the exec-error pipe landed at 3-5 would be
/// replaced in the child), with the region handed back as it was. Only
/// the fillers of fds 3-5 stay open, and a second failure adds nothing.
fn spawn_missing_with_free_low_fds() {
    // The region above 5, so that 3-5 are free when `spawn` runs.
    let held: Vec<File> = (3..=5).map(|_| File::open("/dev/null").unwrap()).collect();
    let mut mem = SharedMem::temp_file(64).unwrap();
    mem.set_value(b"a crasher").unwrap();
    drop(held);
    let before = common::open_fds();
    assert!(!before.iter().any(|fd| (3..=5).contains(fd)), "{before:?}");
    for attempt in 0..2 {
        let refused = CoordinatorComm::spawn(Command::new("/nonexistent/worker"), mem)
            .expect_err("spawned a program that does not exist");
        let spawn_failed = Error::Os {
            call: "spawn",
            errno: Errno::NOENT,
        };
        assert_eq!(refused.error, spawn_failed);
        mem = refused.mem;
        assert_eq!(mem.value().unwrap(), b"a crasher");
        assert_eq!(mem.header().count().load(Ordering::Relaxed), 0);
        let mut expected = before.clone();
        expected.extend([3, 4, 5]);
        expected.sort_unstable();
        assert_eq!(common::open_fds(), expected, "after attempt {attempt}");
    }
}

#[test]
fn spawning_a_missing_program_hands_the_region_back() {
    let cmd = common::child("spawn-missing-with-free-low-fds");
    common::assert_success(&common::output_of(cmd));
}

/// Under a low `RLIMIT_NOFILE`, `spawn` fails with `EMFILE`, at whichever
/// step the limit is reached, and hands the region back with its value.
fn spawn_under_nofile() {
    let mem = common::crasher_under_nofile_limit(SharedMem::temp_file(64).unwrap());
    let refused = CoordinatorComm::spawn(Command::new("true"), mem).expect_err("too few fds");
    common::assert_handed_back_for_emfile(&refused);
}

#[test]
fn spawn_under_a_low_descriptor_limit_hands_the_region_back() {
    common::run_under_nofile_limits("spawn-under-nofile");
}
