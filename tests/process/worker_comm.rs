//! Go's worker convention across real processes: the coordinator hands a
//! child its region on fd 5 and two pipes on fds 3 and 4; the child takes
//! them with `WorkerComm::from_inherited`, runs, and the coordinator sees
//! everything the worker wrote.

use crate::common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::Ordering;

use fuzzshm::{set_worker_comm, CoordinatorComm, Error, SharedMem, WorkerComm};

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "worker" => worker(),
        "no-extra-fds" => expect_only_worker_fds(),
        "parent-with-low-fds" => parent_with_sources_at_3_4_5(),
        _ => return false,
    }
    true
}

/// A worker as Go runs one: wait for a call, run the input, answer.
fn worker() {
    // SAFETY: this child was spawned with its pipes and region placed on
    // fds 3-5 by `CoordinatorComm::attach` or `set_worker_comm`; nothing
    // else in this process owns those numbers, and it maps fd 5 only here.
    let mut comm = unsafe { WorkerComm::from_inherited() }.expect("fds 3, 4, 5");
    // SAFETY: the only owner of fds 3-5 now is `comm`, from the first call
    // in this process; a second call must refuse before touching them
    // (asserted), so it neither takes nor maps anything.
    let again = unsafe { WorkerComm::from_inherited() };
    assert!(matches!(again, Err(Error::AlreadyTaken)));
    let mut call = [0u8; 1];
    File::from(comm.fuzz_in.try_clone().unwrap())
        .read_exact(&mut call)
        .expect("a call from the coordinator");
    let input = comm.mem.value_copy().expect("a valid value");
    for _ in 0..call[0] {
        comm.mem.header().count().fetch_add(1, Ordering::Relaxed);
    }
    let mut answer = input.clone();
    answer.reverse();
    answer.extend_from_slice(b" (seen by the worker)");
    comm.mem.set_value(&answer).expect("fits");
    let header = comm.mem.header();
    header.set_rand_state(0x1234_5678_9abc_def0);
    header.set_rand_inc(0x0fed_cba9_8765_4321);
    header.set_raw_in_mem(true);
    File::from(comm.fuzz_out.try_clone().unwrap())
        .write_all(&[call[0]])
        .expect("answer");
}

/// One coordinator/worker exchange over `mem`, checked end to end.
fn exchange(mem: SharedMem) {
    let mut cmd = common::child("worker");
    let mut comm = CoordinatorComm::attach(&mut cmd, mem).expect("attach");
    comm.mem.set_value(b"input from the coordinator").unwrap();
    comm.mem.header().count().store(0, Ordering::Relaxed);
    let worker = common::Process::spawn(&mut cmd);
    drop(cmd); // closes our copies of the worker's pipe ends

    let mut to_worker = File::from(comm.fuzz_in.try_clone().unwrap());
    let mut from_worker = File::from(comm.fuzz_out.try_clone().unwrap());
    to_worker.write_all(&[7]).unwrap();
    let mut answer = [0u8; 1];
    from_worker
        .read_exact(&mut answer)
        .expect("the worker's answer");
    worker.join();

    assert_eq!(answer, [7]);
    let header = comm.mem.header();
    assert_eq!(header.count().load(Ordering::Relaxed), 7);
    assert_eq!(header.rand_state(), 0x1234_5678_9abc_def0);
    assert_eq!(header.rand_inc(), 0x0fed_cba9_8765_4321);
    assert!(header.raw_in_mem());
    assert_eq!(
        comm.mem.value().unwrap(),
        b"rotanidrooc eht morf tupni (seen by the worker)"
    );
    // With the worker gone and our copies of its ends closed, EOF.
    assert_eq!(from_worker.read(&mut answer).unwrap(), 0);
}

#[test]
fn coordinator_and_worker_share_a_temp_file_region() {
    exchange(SharedMem::temp_file(4096).unwrap());
}

#[cfg(target_os = "linux")]
#[test]
fn coordinator_and_worker_share_a_memfd_region() {
    exchange(SharedMem::memfd(4096).unwrap());
}

#[test]
fn coordinator_and_worker_share_an_anonymous_region() {
    exchange(SharedMem::anonymous(4096).unwrap());
}

#[test]
fn coordinator_and_worker_share_an_unnamed_file_region() {
    let dir = File::open(std::env::temp_dir()).unwrap();
    exchange(SharedMem::anonymous_in(&dir, 4096).unwrap());
}

/// The inode numbers of the files behind `fds`, as the child compares them.
fn inodes(fds: &[&dyn AsFd]) -> String {
    let numbers: Vec<String> = fds
        .iter()
        .map(|fd| rustix::fs::fstat(fd).unwrap().st_ino.to_string())
        .collect();
    numbers.join(",")
}

/// No fd of the worker but 5 may reach the parent's region files, nor the
/// temp directory the parent holds open: every fd fuzzshm opens is
/// close-on-exec, the parked duplicates too.
fn expect_only_worker_fds() {
    let forbidden: Vec<u64> = std::env::var("FUZZSHM_TEST_INODES")
        .unwrap()
        .split(',')
        .map(|n| n.parse().unwrap())
        .collect();
    for fd in common::open_fds().into_iter().filter(|&fd| fd > 2) {
        let meta = std::fs::metadata(format!("/proc/self/fd/{fd}")).unwrap();
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        if fd == 5 {
            assert_eq!(inode, forbidden[0], "fd 5 is the region");
        } else {
            assert!(
                !forbidden.contains(&inode),
                "fd {fd} leaked into the worker"
            );
        }
    }
    // SAFETY: fds 3-5 were placed by the parent's `CoordinatorComm::attach`;
    // the checks above only looked at them through `/proc`, so nothing in
    // this process owns them, and it maps fd 5 only here.
    let comm = unsafe { WorkerComm::from_inherited() }.expect("fds 3, 4, 5");
    assert_eq!(comm.mem.value().unwrap(), b"only these");
}

#[test]
fn the_worker_inherits_only_fds_3_4_5() {
    let mut mem = SharedMem::temp_file(64).unwrap();
    mem.set_value(b"only these").unwrap();
    // More regions open in the parent must not leak into the child.
    let others = [
        SharedMem::temp_file(64).unwrap(),
        SharedMem::temp_file(64).unwrap(),
    ];
    let tmp = std::fs::File::open(std::env::temp_dir()).unwrap();
    let mut cmd = common::child("no-extra-fds");
    cmd.env(
        "FUZZSHM_TEST_INODES",
        inodes(&[&mem, &others[0], &others[1], &tmp]),
    );
    let comm = CoordinatorComm::attach(&mut cmd, mem).unwrap();
    let output = common::output_of(cmd);
    drop(comm);
    common::assert_success(&output);
}

/// Sources that already sit at fds 3, 4 and 5, in the wrong order (the
/// region at 3, the pipes at 4 and 5), must still arrive where Go puts
/// them: a naive `dup2` of fd 4 onto 3 would destroy the region first.
/// Run in a child, whose low fds this test may rearrange freely.
fn parent_with_sources_at_3_4_5() {
    // Hold 3, 4 and 5 so that what is opened next lands above them.
    let holders: Vec<OwnedFd> = (0..3)
        .map(|_| std::fs::File::open("/dev/null").unwrap().into())
        .collect();
    let held: Vec<i32> = holders.iter().map(AsRawFd::as_raw_fd).collect();
    assert_eq!(held, [3, 4, 5], "the child should start with 3-5 free");
    let mut mem = SharedMem::temp_file(64).unwrap();
    mem.set_value(b"moved around").unwrap();
    let (worker_in, coordinator_in) = rustix::pipe::pipe().unwrap();
    let (coordinator_out, worker_out) = rustix::pipe::pipe().unwrap();
    // Replace the holders: the region at 3, fuzz_in at 4, fuzz_out at 5.
    let mut placed = holders.into_iter();
    let mut put = |source: &dyn AsFd| -> OwnedFd {
        let mut slot = placed.next().unwrap();
        rustix::io::dup2(source, &mut slot).unwrap();
        slot
    };
    let mem_at_3 = put(&mem);
    let in_at_4 = put(&worker_in);
    let out_at_5 = put(&worker_out);
    drop((worker_in, worker_out));

    let mut cmd: Command = common::child("worker");
    set_worker_comm(&mut cmd, &in_at_4, &out_at_5, &mem_at_3).unwrap();
    let worker = common::Process::spawn(&mut cmd);
    drop(cmd);
    drop((in_at_4, out_at_5));
    File::from(coordinator_in).write_all(&[2]).unwrap();
    let mut answer = [0u8; 1];
    File::from(coordinator_out).read_exact(&mut answer).unwrap();
    worker.join();
    assert_eq!(mem.header().count().load(Ordering::Relaxed), 2);
    assert_eq!(mem.value().unwrap(), b"dnuora devom (seen by the worker)");
    drop(mem_at_3);
}

#[test]
fn sources_already_at_fds_3_4_5_are_placed_right() {
    let output = common::output_of(common::child("parent-with-low-fds"));
    common::assert_success(&output);
}
