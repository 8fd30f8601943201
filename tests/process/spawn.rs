//! `CoordinatorComm::spawn` across real processes: the worker gets its
//! pipes and region, and this process keeps only the coordinator's ends,
//! so a worker's death is end of stream on `fuzz_out` at once, every time
//! a worker is respawned; a spawn that fails hands the region back.
//! `attach` with a `Command` kept alive is the contrast: no end of stream.
//! `read_answer` tells an answer, a worker's death and a hang apart.

use crate::common;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{Log, Process, WAIT_BOUND};
use fuzzshm::{read_answer, Answer, CoordinatorComm, Errno, Error, SharedMem, WorkerComm};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "answer-once" => answer_once(),
        "wait-to-die" => wait_to_die(),
        "spawn-missing-with-free-low-fds" => spawn_missing_with_free_low_fds(),
        "spawn-under-nofile" => spawn_under_nofile(),
        "answer-in-two-pieces" => answer_in_two_pieces(),
        "hang-after-a-byte" => hang_after_a_byte(),
        "die-after-a-byte" => die_after_a_byte(),
        "coordinator-under-signals" => coordinator_under_signals(),
        _ => return false,
    }
    true
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

// --- read_answer: an answer, a death, a hang --------------------------------

/// A worker that takes a call and answers "answer" in two writes, 100 ms
/// apart, then exits.
fn answer_in_two_pieces() {
    let comm = inherited();
    File::from(comm.fuzz_in).read_exact(&mut [0u8; 1]).unwrap();
    let mut answers = File::from(comm.fuzz_out);
    answers.write_all(b"an").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    answers.write_all(b"swer").unwrap();
}

/// A worker that takes a call, writes the first byte of its answer, then
/// loops for ever in its "target" (until its coordinator is gone: then
/// fd 3 is end of stream, and it exits rather than outlive a failed test).
fn hang_after_a_byte() {
    let comm = inherited();
    let mut calls = File::from(comm.fuzz_in);
    calls.read_exact(&mut [0u8; 1]).unwrap();
    let mut answers = File::from(comm.fuzz_out);
    answers.write_all(b"h").unwrap();
    let no_wait = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    while poll(&mut [PollFd::new(&calls, PollFlags::IN)], Some(&no_wait)) != Ok(1) {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(answers); // open until here: no end of stream while it "runs"
}

/// A worker that takes a call, writes the first byte of its answer, and
/// dies (exit code 3).
fn die_after_a_byte() {
    let comm = inherited();
    File::from(comm.fuzz_in).read_exact(&mut [0u8; 1]).unwrap();
    File::from(comm.fuzz_out).write_all(b"d").unwrap();
    std::process::exit(3);
}

/// Runs `read`, and kills the worker `pid` with SIGKILL should `read` not
/// have returned within [`WAIT_BOUND`] (its answer is then end of stream);
/// fails if that happened.
#[track_caller]
fn bounded<T>(pid: u32, read: impl FnOnce() -> T) -> T {
    let (done, finished) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let late = finished.recv_timeout(WAIT_BOUND) == Err(mpsc::RecvTimeoutError::Timeout);
        if late {
            let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
            rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
        }
        late
    });
    let outcome = read();
    drop(done);
    let late = watchdog.join().unwrap();
    assert!(!late, "read_answer did not return within {WAIT_BOUND:?}");
    outcome
}

/// Spawns a worker playing `role` and sends it one call.
fn called(role: &str) -> (Process, CoordinatorComm) {
    let (worker, comm) = spawn_worker(role, SharedMem::temp_file(64).unwrap());
    rustix::io::write(&comm.fuzz_in, b"c").unwrap();
    (worker, comm)
}

/// A worker answers in two pieces, 100 ms apart: read whole.
fn reads_an_answer_written_in_pieces() {
    let (worker, mut comm) = called("answer-in-two-pieces");
    let mut buf = [0u8; 6];
    let answer = bounded(worker.child.id(), || {
        comm.read_answer(&mut buf, Duration::from_secs(30))
    });
    assert_eq!(answer.unwrap(), Answer::Complete);
    assert_eq!(&buf, b"answer");
    worker.join();
}

/// A worker writes a byte of its answer, then loops: a time-out after
/// that byte, no sooner than asked. Returns the worker, still alive, and
/// the coordinator's side.
fn times_out_on_a_loop() -> (Process, CoordinatorComm) {
    let (worker, mut comm) = called("hang-after-a-byte");
    let timeout = Duration::from_millis(300);
    let mut buf = [0u8; 4];
    let started = Instant::now();
    let answer = bounded(worker.child.id(), || comm.read_answer(&mut buf, timeout));
    let waited = started.elapsed();
    assert_eq!(answer.unwrap(), Answer::TimedOut { read: 1 });
    assert_eq!(buf[0], b'h');
    assert!(
        waited >= timeout,
        "timed out after {waited:?}, before {timeout:?}"
    );
    (worker, comm)
}

#[test]
fn an_answer_written_in_pieces_is_read_whole() {
    reads_an_answer_written_in_pieces();
}

#[test]
fn a_worker_that_loops_times_out_and_is_killed_by_its_pid() {
    let (worker, mut comm) = times_out_on_a_loop();
    // Still alive: a later look finds it at work, not gone.
    let mut buf = [0u8; 4];
    let again = comm.read_answer(&mut buf, Duration::ZERO).unwrap();
    assert_eq!(again, Answer::TimedOut { read: 0 });
    let pid = worker.child.id();
    worker.kill();
    // Killed: its answer is end of stream, and no longer a time-out.
    let answer = bounded(pid, || comm.read_answer(&mut buf, WAIT_BOUND / 2));
    assert_eq!(answer.unwrap(), Answer::Closed { read: 0 });
}

#[test]
fn a_worker_that_dies_mid_answer_is_end_of_stream_not_a_time_out() {
    let (mut worker, comm) = called("die-after-a-byte");
    let mut buf = [0u8; 4];
    let answer = bounded(worker.child.id(), || {
        read_answer(&comm.fuzz_out, &mut buf, WAIT_BOUND / 2)
    });
    assert_eq!(answer.unwrap(), Answer::Closed { read: 1 });
    assert_eq!(buf[0], b'd');
    assert_eq!(worker.child.wait().unwrap().code(), Some(3));
}

#[test]
fn a_deadline_already_passed_still_takes_what_is_there() {
    let (worker, mut comm) = spawn_worker("answer-once", SharedMem::temp_file(64).unwrap());
    rustix::io::write(&comm.fuzz_in, &[9]).unwrap();
    worker.join(); // it answered and exited: all of its answer is in the pipe
    let mut buf = [0u8; 1];
    let answer = comm.read_answer(&mut buf, Duration::ZERO).unwrap();
    assert_eq!((answer, buf), (Answer::Complete, [9]));
    let answer = comm.read_answer(&mut buf, Duration::ZERO).unwrap();
    assert_eq!(answer, Answer::Closed { read: 0 });
    // An empty buffer is complete without a look at the pipe.
    assert_eq!(
        comm.read_answer(&mut [], Duration::ZERO),
        Ok(Answer::Complete)
    );
}

/// SIGUSR1s caught so far in this process.
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

/// A coordinator whose waits are interrupted every 5 ms by a signal sent
/// to the reading thread and caught without `SA_RESTART` (so `poll` and
/// `read` fail with `EINTR`): a hang is still a time-out, no sooner than
/// asked, and an answer in two pieces is still whole.
fn coordinator_under_signals() {
    // SAFETY: a zeroed `sigaction` is valid (no flags, so no
    // `SA_RESTART`; an empty mask).
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = count_signal as *const () as libc::sighandler_t;
    // SAFETY: `action` is valid; the handler only adds to an atomic,
    // which is async-signal-safe.
    let installed = unsafe { libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()) };
    assert_eq!(installed, 0);
    // SAFETY: `pthread_self` has no preconditions.
    let reader = unsafe { libc::pthread_self() };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pester = std::thread::spawn({
        let stop = std::sync::Arc::clone(&stop);
        move || {
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: `reader` is this role's thread, alive until it
                // has joined this one.
                assert_eq!(unsafe { libc::pthread_kill(reader, libc::SIGUSR1) }, 0);
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });

    let started = Instant::now();
    let (worker, _comm) = times_out_on_a_loop();
    worker.kill();
    reads_an_answer_written_in_pieces();
    let signals = SIGNALS.load(Ordering::Relaxed);
    let took = started.elapsed();
    assert!(signals >= 10, "only {signals} signals in {took:?}");
    stop.store(true, Ordering::Relaxed);
    pester.join().unwrap();
}

#[test]
fn signals_interrupting_the_wait_change_no_outcome() {
    let mut cmd = common::child("coordinator-under-signals");
    let mut coordinator = Process::spawn(&mut cmd);
    let status = common::wait_bounded(&mut coordinator.child, "the coordinator");
    assert!(status.success(), "the coordinator failed ({status})");
}
