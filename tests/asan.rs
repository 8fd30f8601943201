//! Over-reads caught by AddressSanitizer without a copy: a worker whose
//! target reads one byte past the value it was handed is reported as a
//! use-after-poison at that byte's address when the crate is built with
//! `-Zsanitizer=address` (`.ci/sanitizers.sh` runs this file so), and not
//! reported without it, so the report comes from the poisoning and nothing
//! else. And no false report: thousands of regions created, written,
//! grown, shrunk, remapped and dropped at addresses the kernel hands out
//! again. No report on a slice that safe code still holds after a peer
//! shortened the value; and no wait on the shadow, ever: not in a forked
//! child, whose other threads are gone, nor in a signal handler that
//! interrupts its own thread.

mod common;

use std::io::Write;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fuzzshm::{offsets, AsFd, SharedMem, WorkerComm, HEADER_SIZE};

#[test]
fn child_main() {
    common::run_child(|role| match role {
        "overread" => overread(),
        "shortened_under_a_slice" => shortened_under_a_slice(),
        "forks_while_a_thread_reads" => forks_while_a_thread_reads(),
        "signals_while_the_thread_reads" => signals_while_the_thread_reads(),
        "widened_by_value" => widened_by_value(),
        "peer_stores_lens" => peer_stores_lens(),
        "peer_flips_len" => peer_flips_len(),
        other => panic!("unknown role {other}"),
    });
}

/// How long one forked child, or the wait for the next signal handler,
/// may take before it counts as hung: well inside [`common::WAIT_BOUND`],
/// the bound on each test's child, so that what hung is named from inside.
const STEP_BOUND: Duration = Duration::from_secs(20);

/// Runs `cmd` ([`common::output_of`], bounded) and returns its status and
/// all it printed.
fn run_bounded(cmd: Command) -> (ExitStatus, String) {
    let output = common::output_of(cmd);
    (output.status, common::printed(&output))
}

/// A peer process: the region on its fd 5 (see `common::spawn_worker`),
/// the parent's calls on fd 3 and its answers on fd 4.
fn peer() -> (std::fs::File, std::fs::File, SharedMem) {
    // SAFETY: `common::spawn_worker` placed the pipes and the region on
    // fds 3-5 and nothing else in this child owns or maps them.
    let comm = unsafe { WorkerComm::from_inherited() }.unwrap();
    (comm.fuzz_in.into(), comm.fuzz_out.into(), comm.mem)
}

/// A peer that, at each call, stores the byte it got as `valueLen` in its
/// own mapping and answers it back; until the calls end.
fn peer_stores_lens() {
    let (mut calls, mut answers, mut mem) = peer();
    while let Some(len) = common::receive(&mut calls) {
        mem.set_value_len(len.into()).unwrap();
        answers.write_all(&[len]).unwrap();
    }
}

/// Has the peer (`peer_stores_lens`) store `len` as `valueLen`.
fn peer_stores(peer: &mut common::Worker, len: u8) {
    println!("waiting for the peer's store of valueLen = {len}");
    peer.send(len);
    assert_eq!(peer.receive(), Some(len), "the peer's answer");
}

/// The peer of the fork and signal tests: flips `valueLen` between 10 and
/// [`LONG`] as fast as it can, until the parent closes its calls (or dies,
/// or `common::CHILD_BOUND` passes).
fn peer_flips_len() {
    let (calls, mut answers, mem) = peer();
    answers.write_all(&[1]).unwrap();
    let open = || {
        let mut fds = [rustix::event::PollFd::new(
            &calls,
            rustix::event::PollFlags::IN,
        )];
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        rustix::event::poll(&mut fds, Some(&zero)).unwrap() == 0
    };
    // SAFETY: `valueLen` is inside the mapping, aligned for an `isize`
    // (the header's layout), and only ever accessed atomically.
    let value_len =
        unsafe { AtomicIsize::from_ptr(mem.as_mut_ptr().wrapping_add(offsets::VALUE_LEN).cast()) };
    while open() {
        for _ in 0..1024 {
            for len in [10, LONG as isize] {
                value_len.store(len, Ordering::Release);
            }
        }
    }
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
    // SAFETY: the value is shorter than the capacity (4096).
    unsafe { read_past(mem.value().unwrap()) };
}

/// Reads the byte just past `value` ([`read_at`]).
///
/// # Safety
///
/// `value` is a region's value, shorter than its capacity.
unsafe fn read_past(value: &[u8]) {
    // SAFETY: the byte past a value shorter than the capacity is in the
    // value area (the caller's contract).
    unsafe { read_at(value.as_ptr().wrapping_add(value.len())) };
}

/// Reads the byte at `at`, after printing its address, so the parent can
/// match the report; then says it went unreported.
///
/// # Safety
///
/// `at` is in a region's value area: inside the mapping, so reading it is
/// defined, and only ASan's poison makes it an error.
unsafe fn read_at(at: *const u8) {
    println!("reading {at:p}");
    std::io::stdout().flush().unwrap();
    // SAFETY: inside the mapping (the caller's contract).
    let byte = unsafe { std::ptr::read_volatile(at) };
    println!("read {byte} past the value unreported");
}

/// Under ASan, the child ended on a use-after-poison report about the
/// address it printed before reading past a value ([`read_at`]);
/// without, it read the byte unreported and succeeded.
#[track_caller]
fn assert_over_read_reported(status: ExitStatus, printed: &str) {
    if fuzzshm::asan_poisoning() {
        let address = printed
            .lines()
            .find_map(|line| Some(line.split_once("reading ")?.1))
            .unwrap_or_else(|| panic!("no address in:\n{printed}"));
        assert!(
            !status.success(),
            "the over-read went unreported:\n{printed}"
        );
        assert!(printed.contains("use-after-poison"), "{printed}");
        assert!(
            printed.contains(&format!("READ of size 1 at {address}")),
            "the report is not about {address}:\n{printed}"
        );
    } else {
        assert!(status.success(), "{status}:\n{printed}");
        assert!(printed.contains("past the value unreported"), "{printed}");
    }
}

#[test]
fn a_read_past_the_value_is_a_use_after_poison_under_asan() {
    for backing in ["temp_file", "memfd"] {
        let mut cmd = common::child("overread");
        cmd.env("FUZZSHM_TEST_BACKING", backing);
        let (status, printed) = run_bounded(cmd);
        assert_over_read_reported(status, &format!("{backing}:\n{printed}"));
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

/// The false report of a `&self` path narrowing the value under a live
/// slice: `a` is a 100-byte value; a peer process stores `valueLen = 2`;
/// `value()` again (Rust allows it while `a` lives) must leave all of `a`
/// readable. Then a `&mut` path, which no slice outlives, narrows, and a
/// read past the 2 bytes is reported as usual.
fn shortened_under_a_slice() {
    let mut mem = SharedMem::memfd(4096).unwrap();
    mem.set_value(&[5; 100]).unwrap();
    let mut peer = common::spawn_worker("peer_stores_lens", &mem);
    let a = mem.value().unwrap();
    assert_eq!(a.len(), 100);
    peer_stores(&mut peer, 2);
    assert_eq!(mem.value().unwrap().len(), 2);
    let sum: u64 = std::hint::black_box(a).iter().map(|&b| u64::from(b)).sum();
    assert_eq!(sum, 500);
    println!("read all of a live 100-byte slice after a shortening value() unreported");
    peer.join();
    let value = mem.value_mut().unwrap();
    assert_eq!(value.len(), 2);
    // SAFETY: 2 bytes, in a capacity of 4096.
    unsafe { read_past(value) };
}

#[test]
fn a_value_shortened_by_a_peer_stays_readable_under_a_live_slice() {
    let (status, printed) = run_bounded(common::child("shortened_under_a_slice"));
    assert!(
        printed.contains("after a shortening value() unreported"),
        "a live slice was reported (or the child failed before): {status}\n{printed}"
    );
    assert_over_read_reported(status, &printed);
}

/// What `value()` still catches, as the crate docs say: after a `&mut`
/// method set 10 bytes, `value()` hands out the peer's 50, then its 20;
/// the bytes from the end of the 50th byte's granule on stay poisoned.
fn widened_by_value() {
    let mut mem = SharedMem::memfd(4096).unwrap();
    mem.set_value(&[5; 10]).unwrap();
    let mut peer = common::spawn_worker("peer_stores_lens", &mem);
    peer_stores(&mut peer, 50);
    assert_eq!(mem.value().unwrap().len(), 50);
    peer_stores(&mut peer, 20);
    let value = mem.value().unwrap();
    assert_eq!(value.len(), 20);
    peer.join();
    let granule_end = (value.as_ptr() as usize + 50).next_multiple_of(8);
    // SAFETY: at most 57 bytes into the value area of 4096.
    unsafe {
        read_at(
            value
                .as_ptr()
                .wrapping_add(granule_end - value.as_ptr() as usize),
        )
    };
}

#[test]
fn a_read_past_the_longest_value_handed_out_by_value_is_reported() {
    let (status, printed) = run_bounded(common::child("widened_by_value"));
    assert_over_read_reported(status, &printed);
}

/// Reads `value()` and checks it ([`is_whole`]); in a forked child or a
/// signal handler, so it allocates nothing and does not panic: `false` if
/// wrong.
fn value_is_whole(mem: &SharedMem) -> bool {
    mem.value().is_ok_and(is_whole)
}

/// The value is one of the peer's two lengths, with ones (what the region
/// was set to) in its first and last byte and one in every 4 KiB.
fn is_whole(value: &[u8]) -> bool {
    let value = std::hint::black_box(value);
    (value.len() == 10 || value.len() == LONG)
        && value.iter().step_by(4096).all(|&b| b == 1)
        && value.last() == Some(&1)
}

/// The long value of the fork and signal tests: long enough that
/// (un)poisoning the bytes past the short one takes a while, as a fuzzer's
/// inputs do.
const LONG: usize = 4 << 20;

/// A region whose value a peer process keeps shortening and growing.
fn flipped_region() -> (SharedMem, common::Worker) {
    let mut mem = SharedMem::memfd(LONG).unwrap();
    mem.set_value(&[1; LONG]).unwrap();
    let mut peer = common::spawn_worker("peer_flips_len", &mem);
    println!("waiting for the peer to start");
    assert_eq!(peer.receive(), Some(1), "the peer's start");
    (mem, peer)
}

/// How many forks the fork test makes: with the lock the shadow had, one
/// of the first twenty or so hung.
const FORKS: usize = 300;

/// A fork server: one thread loops on the value while the peer flips
/// `valueLen`; this one forks. Each child, with only the forking thread,
/// reads the value, and every other one closes the region (the full
/// unpoison); each must exit within the bound, or it is killed and named.
/// The reading thread takes the value through `&self` (`value()`, which
/// widens), then through `&mut` (`value_mut()`, which poisons or
/// unpoisons at every flip).
fn forks_while_a_thread_reads() {
    let (mut mem, peer) = flipped_region();
    let at: *mut SharedMem = &mut mem;
    // SAFETY: `at` is `mem`, alive until the end; this thread only forks
    // while the reading thread uses the reference, and only the forked
    // children, where the reading thread does not exist, read through `at`.
    let shared = unsafe { &*at };
    fork_while_reading(at, "value()", move || assert!(value_is_whole(shared)));
    // SAFETY: as above; the shared reference is no longer used.
    let exclusive = unsafe { &mut *at };
    fork_while_reading(at, "value_mut()", move || {
        assert!(exclusive.value_mut().is_ok_and(|value| is_whole(value)));
    });
    peer.join();
}

/// Forks [`FORKS`] times ([`fork_and_wait`], the children using the region
/// at `mem`) while another thread calls `read` in a loop; panics naming
/// the first child that failed.
fn fork_while_reading(mem: *const SharedMem, reading: &str, read: impl FnMut() + Send) {
    let stop = AtomicBool::new(false);
    let failure = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut read = read;
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                read();
                reads += 1;
            }
            reads
        });
        let failure = (0..FORKS).find_map(|fork| fork_and_wait(mem, fork));
        stop.store(true, Ordering::Relaxed);
        let reads = reader.join().unwrap();
        println!("the reading thread read {reads} values through {reading}");
        failure
    });
    if let Some(failure) = failure {
        panic!("while a thread read through {reading}: {failure}");
    }
    println!("{FORKS} forked children all exited");
}

/// Forks; the child reads the value (and, for an odd `fork`, closes the
/// region) and exits. Waits for it at most [`STEP_BOUND`]; `Some` says what
/// went wrong.
fn fork_and_wait(mem: *const SharedMem, fork: usize) -> Option<String> {
    let closes = fork % 2 == 1;
    // SAFETY: the child calls only what is safe after a fork of a
    // multi-threaded process: `prctl` (`procctl`), `getppid`, the lock-free `value()`,
    // `munmap` and `close` (through `close`), and `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // As above: async-signal-safe calls only, then `_exit`. The death
        // signal is one system call (`prctl`, or FreeBSD's `procctl`).
        let _ =
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
        // SAFETY: `mem` is the parent's live region, copied by the fork;
        // nothing in this child writes it.
        let mut code = if value_is_whole(unsafe { &*mem }) {
            0
        } else {
            2
        };
        if closes {
            // SAFETY: the region as this child's own: the reading thread
            // that borrows it in the parent does not exist here, and the
            // child exits at once after.
            let owned = unsafe { std::ptr::read(mem) };
            if owned.close().is_err() {
                code = 3;
            }
        }
        // SAFETY: `_exit` is async-signal-safe, and runs nothing of ours.
        unsafe { libc::_exit(code) };
    }
    let what = if closes {
        "value() then close()"
    } else {
        "value()"
    };
    let started = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is valid for writes.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            let exited = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            return (!exited).then(|| {
                format!("forked child {fork} (pid {pid}) in {what} ended with status {status:#x}")
            });
        }
        if started.elapsed() > STEP_BOUND {
            // SAFETY: `pid` is our child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // SAFETY: as for `kill`; `status` is valid for writes.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            return Some(format!(
                "forked child {fork} (pid {pid}) did not exit within {STEP_BOUND:?} in {what}: \
                 it waited on a thread it does not have; killed"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_forked_child_never_waits_on_a_thread_it_does_not_have() {
    passes("forks_while_a_thread_reads", "forked children all exited");
}

/// Runs the child `role` ([`run_bounded`]): it must succeed and print
/// `ok_line`.
fn passes(role: &str, ok_line: &str) {
    let (status, printed) = run_bounded(common::child(role));
    assert!(status.success(), "{role}: {status}:\n{printed}");
    assert!(printed.contains(ok_line), "{role}:\n{printed}");
}

/// The region of the signal test, for its handler.
static SIGNALLED: OnceLock<SharedMem> = OnceLock::new();
/// Signals the handler served, and those where its `value()` was wrong.
static HANDLED: AtomicU64 = AtomicU64::new(0);
static WRONG: AtomicU64 = AtomicU64::new(0);

extern "C" fn read_in_handler(_signal: libc::c_int) {
    if let Some(mem) = SIGNALLED.get() {
        if !value_is_whole(mem) {
            WRONG.fetch_add(1, Ordering::Relaxed);
        }
    }
    HANDLED.fetch_add(1, Ordering::Relaxed);
}

/// How many signal handlers the signal test has run.
const SIGNALS: u64 = 5_000;

/// A signal handler that calls `value()`, delivered to a thread that is
/// itself looping on `value()` (so often in the middle of one) while the
/// peer flips `valueLen`: each must return, with a whole value.
fn signals_while_the_thread_reads() {
    let (mem, peer) = flipped_region();
    SIGNALLED.set(mem).unwrap();
    let mem = SIGNALLED.get().unwrap();
    let handler = read_in_handler as extern "C" fn(libc::c_int);
    // SAFETY: the handler is an `extern "C" fn(c_int)` that only calls the
    // lock-free `value()` and atomics.
    let installed = unsafe { libc::signal(libc::SIGUSR1, handler as libc::sighandler_t) };
    assert_ne!(installed, libc::SIG_ERR);
    // SAFETY: `pthread_self` has no preconditions.
    let reader = unsafe { libc::pthread_self() };
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            // Signals keep coming (one pending at a time): each handler
            // runs wherever the reading thread is, as often as it runs.
            let (mut handled, mut since) = (0, Instant::now());
            while handled < SIGNALS {
                // SAFETY: `reader` is this process's main thread, alive
                // until `stop` is set below.
                assert_eq!(unsafe { libc::pthread_kill(reader, libc::SIGUSR1) }, 0);
                let now = HANDLED.load(Ordering::Relaxed);
                if now > handled {
                    (handled, since) = (now, Instant::now());
                } else if since.elapsed() > STEP_BOUND {
                    println!(
                        "no signal handled for {STEP_BOUND:?} after {handled}: the \
                         handler's value() waits on its own thread"
                    );
                    std::io::stdout().flush().unwrap();
                    // SAFETY: `_exit` has no preconditions; the main
                    // thread is stuck, so nothing else would end this.
                    unsafe { libc::_exit(1) };
                }
                std::thread::sleep(Duration::from_micros(100));
            }
            stop.store(true, Ordering::Relaxed);
        });
        while !stop.load(Ordering::Relaxed) {
            assert!(value_is_whole(mem));
        }
    });
    assert_eq!(
        WRONG.load(Ordering::Relaxed),
        0,
        "wrong values in the handler"
    );
    peer.join();
    println!("{SIGNALS} handlers all returned");
}

#[test]
fn a_signal_handler_reading_the_value_never_waits_on_its_own_thread() {
    passes("signals_while_the_thread_reads", "handlers all returned");
}
