//! Faults at the worker convention, set up for real in child processes:
//! fd 5 that cannot be a region, a worker whose own subprocess outlives it,
//! a coordinator whose fds 3-5 are free when it spawns a missing program,
//! and a descriptor limit too low to attach a worker.

use crate::common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fuzzshm::{region_size, CoordinatorComm, Error, SharedMem, WorkerComm};
use rustix::io::{fcntl_getfd, FdFlags};
use rustix::pipe::PipeFlags;

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "refused-then-taken" => refused_then_taken(),
        "worker-with-a-grandchild" => worker_with_a_grandchild(),
        "coordinator-with-free-low-fds" => coordinator_with_free_low_fds(),
        "attach-under-nofile" => attach_under_nofile(),
        "worker-without-a-coordinator" => worker_without_a_coordinator(),
        _ => return false,
    }
    true
}

/// The descriptor numbers 3, 4 and 5, whether open or not: only their
/// flags are asked for, which answers `EBADF` for a number not open.
fn inherited(number: i32) -> BorrowedFd<'static> {
    // SAFETY: used only as the argument of `fcntl(F_GETFD)` and `dup2`'s
    // target; no I/O is done on a number this process does not hold.
    unsafe { BorrowedFd::borrow_raw(number) }
}

fn is_open(number: i32) -> bool {
    fcntl_getfd(inherited(number)).is_ok()
}

fn is_cloexec(number: i32) -> bool {
    fcntl_getfd(inherited(number))
        .unwrap()
        .contains(FdFlags::CLOEXEC)
}

/// A file of `size` bytes in the test's own temp dir, opened read-write
/// or read-only; removed from the directory at once.
fn file_of_size(size: u64, writable: bool) -> OwnedFd {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("faults-worker-{}-{size}", std::process::id()));
    let file = File::create(&path).unwrap();
    file.set_len(size).unwrap();
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(writable)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    opened.into()
}

/// In the worker: fd 5 is not a region (the parent tells which kind on
/// fd 3's first byte). Each refusal leaves fds 3, 4, 5 open, untaken and
/// as they were (inheritable); then fd 5 is replaced by a real region, and
/// the next call takes all three.
fn refused_then_taken() {
    for number in 3..=5 {
        assert!(is_open(number) && !is_cloexec(number), "fd {number}");
    }
    // SAFETY: fds 3-5 were placed by the parent for this purpose; nothing
    // in this process owns them, and fd 5 is mapped nowhere else here.
    let refused = unsafe { WorkerComm::from_inherited() };
    let error = refused.expect_err("fd 5 is not a region");
    for number in 3..=5 {
        assert!(is_open(number), "fd {number} was closed by a refusal");
        assert!(!is_cloexec(number), "fd {number} was changed by a refusal");
    }
    // Replace fd 5 with a region-sized file: the same call now succeeds.
    let region = file_of_size(region_size(64).unwrap() as u64, true);
    let mut slot = std::mem::ManuallyDrop::new(
        // SAFETY: fd 5 is open (checked above) and owned by nobody in this
        // process; `dup2` replaces it and `ManuallyDrop` never closes it.
        unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(5) },
    );
    rustix::io::dup2(&region, &mut slot).unwrap();
    drop(region);
    // SAFETY: as above; fd 5 is now an unmapped file of this process's.
    let comm = unsafe { WorkerComm::from_inherited() }.expect("taken on the second call");
    assert_eq!(comm.mem.capacity(), 64);
    let mut answers = File::from(comm.fuzz_out);
    write!(answers, "{error}").unwrap();
}

fn refusal_of(mem: OwnedFd) -> String {
    let (calls, worker_in) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).unwrap();
    let (answers, worker_out) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).unwrap();
    let mut cmd = common::child("refused-then-taken");
    fuzzshm::set_worker_comm(&mut cmd, &worker_in, &worker_out, &mem).unwrap();
    drop((worker_in, worker_out, calls));
    common::assert_success(&common::output_of(cmd));
    let mut said = String::new();
    File::from(answers).read_to_string(&mut said).unwrap();
    said
}

#[test]
fn from_inherited_refuses_a_bad_fd_5_and_leaves_fds_3_4_5_untaken() {
    let empty = file_of_size(0, true);
    assert!(refusal_of(empty).contains("too small"));
    let read_only = file_of_size(region_size(64).unwrap() as u64, false);
    assert!(refusal_of(read_only).contains("mmap failed: Permission denied"));
    let directory: OwnedFd = File::open(std::env::temp_dir()).unwrap().into();
    assert!(refusal_of(directory).contains("not a regular file"));
}

/// One descriptor given for two of the three is refused before any is
/// taken, naming it; all stay open, the caller's.
#[test]
fn from_raw_fds_refuses_one_descriptor_given_twice() {
    use std::os::fd::AsRawFd;
    let (reader, writer) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).unwrap();
    let mem = file_of_size(region_size(64).unwrap() as u64, true);
    let [r, w, m] = [&reader, &writer, &mem].map(|fd| fd.as_raw_fd());
    for ([fuzz_in, fuzz_out, region], same) in [([r, r, m], r), ([r, w, r], r), ([r, w, w], w)] {
        // SAFETY: owned here throughout: the call refuses them untaken.
        let refused = unsafe { WorkerComm::from_raw_fds(fuzz_in, fuzz_out, region) };
        assert_eq!(refused.err(), Some(Error::SameFd { fd: same }));
    }
    assert!([r, w, m].into_iter().all(is_open));
}

/// In the worker: takes fds 3-5, starts a long-lived subprocess, tells the
/// parent its pid, and exits while the subprocess lives on.
// The subprocess is meant to outlive this worker unwaited: the test
// parent kills it.
#[allow(clippy::zombie_processes)]
fn worker_with_a_grandchild() {
    // SAFETY: fds 3-5 were placed by the parent for this purpose; nothing
    // in this process owns them, and fd 5 is mapped nowhere else here.
    let comm = unsafe { WorkerComm::from_inherited() }.unwrap();
    for number in 3..=5 {
        assert!(is_cloexec(number), "fd {number} is inheritable");
    }
    let listing = Command::new("sh")
        .args(["-c", "ls /proc/$$/fd"])
        .output()
        .unwrap();
    let fds = String::from_utf8(listing.stdout).unwrap();
    let inherited: Vec<&str> = fds
        .split_whitespace()
        .filter(|fd| ["3", "4", "5"].contains(fd))
        .collect();
    assert!(inherited.is_empty(), "a subprocess got fds {inherited:?}");
    let sleeper = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut answers = File::from(comm.fuzz_out);
    answers.write_all(&sleeper.id().to_le_bytes()).unwrap();
}

#[test]
fn a_worker_s_subprocesses_inherit_nothing_and_its_death_is_seen() {
    let mem = SharedMem::memfd(64).unwrap();
    let mut cmd = common::child("worker-with-a-grandchild");
    let comm = CoordinatorComm::attach(&mut cmd, mem).unwrap();
    let output = cmd.output().unwrap();
    drop(cmd);
    let mut answers = File::from(comm.fuzz_out);
    let mut pid = [0u8; 4];
    let read = answers.read_exact(&mut pid);
    common::assert_success(&output);
    read.unwrap();
    let grandchild = rustix::process::Pid::from_raw(u32::from_le_bytes(pid) as i32).unwrap();
    // The worker is gone, its subprocess is not: the coordinator must see
    // end of stream now, not when the subprocess ends.
    let started = Instant::now();
    let eof = rustix::event::poll(
        &mut [rustix::event::PollFd::new(
            &answers,
            rustix::event::PollFlags::IN,
        )],
        Some(&rustix::event::Timespec {
            tv_sec: 10,
            tv_nsec: 0,
        }),
    )
    .unwrap()
        == 1
        && answers.read(&mut [0u8; 1]).unwrap() == 0;
    let _ = rustix::process::kill_process(grandchild, rustix::process::Signal::KILL);
    assert!(eof, "no end of stream after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Opens `/dev/null` at fds 3, 4 and 5 (a child of `Command` starts with
/// fds 0-2 only), so that what is opened next gets numbers above 5.
fn hold_fds_3_4_5() -> Vec<File> {
    let held: Vec<File> = (3..=5).map(|_| File::open("/dev/null").unwrap()).collect();
    let numbers: Vec<i32> = held.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
    assert_eq!(numbers, [3, 4, 5], "fds 3-5 were not free");
    held
}

/// Spawns a program that does not exist with `cmd`, set up for a worker:
/// it must fail, and nothing of the standard library's exec-error report
/// may reach the worker's pipe or region. Fds 3-5, free before the set-up,
/// must all be open when the standard library makes its pipes.
fn spawn_missing(mut cmd: Command, answers: OwnedFd, mem: &SharedMem) {
    for number in 3..=5 {
        assert!(is_open(number), "fd {number} is free at the spawn");
    }
    let spawned = cmd.spawn();
    drop(cmd);
    assert!(spawned.is_err(), "spawned a program that does not exist");
    let mut leaked = Vec::new();
    File::from(answers).read_to_end(&mut leaked).unwrap();
    assert!(leaked.is_empty(), "the worker pipe carried {leaked:?}");
    assert_eq!(mem.header().count().load(Ordering::Relaxed), 0);
    assert_eq!(mem.value().unwrap(), b"the input");
}

/// A coordinator whose fds 3, 4, 5 are free when it sets a worker up,
/// with `set_worker_comm` or `attach` (as `FUZZSHM_TEST_VIA` says; a
/// process of its own each, since the first fills fds 3-5 for good).
fn coordinator_with_free_low_fds() {
    if std::env::var("FUZZSHM_TEST_VIA").unwrap() == "attach" {
        // The region above 5, the pipes wherever they land.
        let held = hold_fds_3_4_5();
        let mut mem = SharedMem::memfd(64).unwrap();
        mem.set_value(b"the input").unwrap();
        drop(held);
        let mut cmd = Command::new("/nonexistent/fuzz-worker");
        let comm = CoordinatorComm::attach(&mut cmd, mem).unwrap();
        return spawn_missing(cmd, comm.fuzz_out, &comm.mem);
    }
    // The region and both pipes above 5.
    let held = hold_fds_3_4_5();
    let mut mem = SharedMem::memfd(64).unwrap();
    mem.set_value(b"the input").unwrap();
    let (worker_in, calls) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).unwrap();
    let (answers, worker_out) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).unwrap();
    drop(held);
    let mut cmd = Command::new("/nonexistent/fuzz-worker");
    fuzzshm::set_worker_comm(&mut cmd, &worker_in, &worker_out, &mem).unwrap();
    drop((worker_in, worker_out));
    spawn_missing(cmd, answers, &mem);
    drop(calls);
}

#[test]
fn spawning_a_missing_worker_fails_even_with_fds_3_4_5_free() {
    for via in ["set_worker_comm", "attach"] {
        let mut cmd = common::child("coordinator-with-free-low-fds");
        cmd.env("FUZZSHM_TEST_VIA", via);
        common::assert_success(&common::output_of(cmd));
    }
}

/// Under a low `RLIMIT_NOFILE`, `attach` fails with `EMFILE`, never
/// `EINVAL`, and hands the region back with its value.
fn attach_under_nofile() {
    let mem = common::crasher_under_nofile_limit(SharedMem::memfd(64).unwrap());
    let mut cmd = Command::new("true");
    let refused = CoordinatorComm::attach(&mut cmd, mem).expect_err("too few descriptors");
    common::assert_handed_back_for_emfile(&refused);
}

#[test]
fn attach_under_a_low_descriptor_limit_hands_the_region_back() {
    common::run_under_nofile_limits("attach-under-nofile");
}

/// A worker started by hand, with nothing at fds 3-5: the error says which
/// fd and the likely cause, and `Debug` shows modes as `Display` does.
fn worker_without_a_coordinator() {
    for number in 3..=5 {
        assert!(!is_open(number), "fd {number} is open");
    }
    // SAFETY: nothing in this process owns fds 3-5 (none is even open).
    let error = unsafe { WorkerComm::from_inherited() }.expect_err("no fds were passed");
    assert_eq!(error, Error::NotInherited { fd: 3 });
    assert_eq!(
        error.to_string(),
        "an inherited descriptor is not open: fd 3 \
         (was this process started by a coordinator?)"
    );
    let directory = Error::NotRegularFile {
        mode: fuzzshm::FileMode(0o40755),
    };
    assert!(directory.to_string().contains("0o40755"), "{directory}");
    assert_eq!(format!("{directory:?}"), "NotRegularFile { mode: 0o40755 }");
}

#[test]
fn a_worker_started_by_hand_is_told_why() {
    common::assert_success(&common::output_of(common::child(
        "worker-without-a-coordinator",
    )));
}
