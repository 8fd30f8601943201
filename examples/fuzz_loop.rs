//! A real multi-process fuzz loop on fuzzshm, laid out as Go's fuzzer does it.
//!
//! The coordinator spawns worker processes (this program, re-executed with
//! `--worker`) and hands each its own region on fd 5 and two pipes on fds 3
//! and 4. For each batch it writes a seed into the region and sends the
//! batch size; the worker mutates the input in place in shared memory, its
//! PRNG kept in `randState`/`randInc`, counts executions in `count`, and
//! runs a toy target with a planted crash, with `rawInMem` set. When a
//! worker dies, the coordinator recovers the input that killed it from the
//! region, writes it to a file, reports it, and starts a new worker on the
//! same region. At the end it replays one recovered crash in a fresh process
//! to prove the file really crashes the target.
//!
//! A worker that dies while running an input (`rawInMem` set) has crashed,
//! whatever the way: a signal (here, the planted `abort`), or an exit code
//! (AddressSanitizer's reports exit with 1). Crashes are deduplicated by
//! their crash site, which for this toy target is how the worker died (the
//! signal or exit code; a real runtime would hash the sanitizer's stack):
//! the first input of each site is saved, the shortest kept, repeats counted.
//!
//! Regions are `SharedMem::anonymous`: nothing is left behind however the
//! coordinator dies, `SIGKILL` included. `--temp-file` uses named `fuzz-*`
//! files in the temp directory instead, as Go does, and first removes those
//! that killed coordinators left there (`fuzzshm::remove_orphans`).
//!
//! ```text
//! cargo run --release --example fuzz_loop -- [--workers N] [--seconds S]
//!     [--max-crashes K] [--out DIR] [--temp-file]
//! cargo run --release --example fuzz_loop -- --replay FILE
//! cargo run --release --example fuzz_loop -- --help
//! ```

use std::error::Error;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use fuzzshm::{read_answer, Answer, CoordinatorComm, SharedMem, WorkerComm};

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

/// Room for inputs to grow; mutations never go past it.
const MAX_INPUT: usize = 64;
/// Executions per batch: one pipe round trip per this many runs.
const BATCH: u32 = 20_000;
/// The corpus the coordinator cycles through (no coverage feedback here).
const SEEDS: &[&[u8]] = &[b"hello, fuzzer", b"shared memory!", b"0123456789abcdef"];
/// Tokens the mutator splices in, as a fuzzing dictionary would.
const TOKENS: &[&[u8]] = &[b"FUZZ", b"SHM!", b"BOOM", b"\xff\xff", b"\0\0\0\0"];

const USAGE: &str = "\
usage: fuzz_loop [--workers N] [--seconds S] [--max-crashes K] [--timeout T] [--out DIR]
                 [--temp-file]
       fuzz_loop --replay FILE

A coordinator and its worker processes passing inputs through fuzzshm regions,
as Go's fuzzer lays them out, on a toy target with a planted crash.

  --workers N      worker processes (default: the number of CPUs; at least 1)
  --seconds S      how long to fuzz (default 10)
  --max-crashes K  stop after K crashes (default 5; 0: no limit)
  --timeout T      a worker that does not answer a batch within T seconds
                   hangs: it is killed, and its input saved (default 10)
  --out DIR        where crash files go (default $CARGO_TARGET_DIR/fuzz_loop,
                   else target/fuzz_loop)
  --temp-file      named fuzz-* files in $TMPDIR instead of regions that cannot
                   leak; removes those of dead coordinators first
  --replay FILE    run the target on FILE in a fresh process: exit 0 if it
                   crashes the target, 1 if not
  --help           this text

FUZZ_LOOP_CRASH=exit1 makes the planted bug exit with code 1, as an
AddressSanitizer report does, instead of aborting; FUZZ_LOOP_CRASH=hang
makes it hang.
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--worker") => worker(),
        Some("--run-target") => {
            let input = std::fs::read(args.get(1).ok_or("--run-target FILE")?)?;
            target(&input);
            Ok(())
        }
        Some("--replay") => {
            let path = PathBuf::from(args.get(1).ok_or("--replay needs a FILE")?);
            let status = replay(&path)?;
            println!("{}: {}", path.display(), describe(status));
            std::process::exit(if crashed(status) { 0 } else { 1 });
        }
        Some("--help" | "-h") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => match Options::parse(&args) {
            Ok(options) => coordinator(options),
            Err(error) => {
                eprintln!("fuzz_loop: {error}\n\n{USAGE}");
                std::process::exit(2);
            }
        },
    }
}

/// The toy target: a parser with a planted bug three tokens and a byte deep.
fn target(input: &[u8]) {
    // Stand-in for real parsing work, so the exec rate is not absurd.
    std::hint::black_box(fnv1a(std::hint::black_box(input)));
    if input.len() >= 13
        && &input[0..4] == b"FUZZ"
        && &input[4..8] == b"SHM!"
        && &input[8..12] == b"BOOM"
        && input[12] == b'*'
    {
        // The planted crash: a real process death, as a memory-safety bug
        // caught by a sanitizer would be: by a signal, or with
        // FUZZ_LOOP_CRASH=exit1 by exit code 1, as AddressSanitizer ends a
        // process it reports on; or with FUZZ_LOOP_CRASH=hang, no end.
        match std::env::var_os("FUZZ_LOOP_CRASH") {
            Some(how) if how == "exit1" => std::process::exit(1),
            Some(how) if how == "hang" => loop {
                std::thread::sleep(Duration::from_secs(1));
            },
            _ => std::process::abort(),
        }
    }
}

// --- the worker -----------------------------------------------------------

/// Go's `workerServer`: serve batches until the coordinator closes fd 3.
fn worker() -> Result<()> {
    // SAFETY: `--worker` is passed only by `drive`, whose
    // `CoordinatorComm::spawn` placed this worker's pipes and region on
    // fds 3-5; `main` opens nothing before coming here, so nothing else in
    // this process owns those numbers, and fd 5 is mapped only here.
    let WorkerComm {
        fuzz_in,
        fuzz_out,
        mut mem,
    } = unsafe { WorkerComm::from_inherited() }?;
    let mut calls = File::from(fuzz_in);
    let mut answers = File::from(fuzz_out);
    let mut batch = [0u8; 4];
    while read_or_eof(&mut calls, &mut batch)? {
        let mut rng = Pcg32::resume(mem.header().rand_state(), mem.header().rand_inc());
        mem.header().set_raw_in_mem(true);
        for _ in 0..u32::from_le_bytes(batch) {
            let len = mem.value()?.len();
            let new_len = mutate(mem.value_buffer_mut(), len, &mut rng);
            mem.set_value_len(new_len)?;
            mem.header().set_rand_state(rng.state);
            mem.header().count().fetch_add(1, Ordering::Relaxed);
            target(mem.value()?);
        }
        mem.header().set_raw_in_mem(false);
        answers.write_all(&[1])?;
    }
    Ok(())
}

/// Reads exactly `buf.len()` bytes; `false` at a clean end of stream.
fn read_or_eof(pipe: &mut File, buf: &mut [u8]) -> Result<bool> {
    match pipe.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// One in-place mutation of `buf[..len]`; returns the new length.
fn mutate(buf: &mut [u8], len: usize, rng: &mut Pcg32) -> usize {
    let room = buf.len().min(MAX_INPUT);
    let mut len = len.min(room);
    let at = |rng: &mut Pcg32, n: usize| rng.below(n.max(1));
    match rng.below(6) {
        0 if len > 0 => {
            let i = at(rng, len);
            buf[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = at(rng, len);
            buf[i] = rng.next() as u8;
        }
        2 if len < room => {
            let i = at(rng, len + 1);
            buf.copy_within(i..len, i + 1);
            buf[i] = rng.next() as u8;
            len += 1;
        }
        3 if len > 1 => {
            let i = at(rng, len);
            buf.copy_within(i + 1..len, i);
            len -= 1;
        }
        _ => {
            // Overwrite with a dictionary token at a 4-byte boundary.
            let token = TOKENS[rng.below(TOKENS.len())];
            let i = 4 * at(rng, room / 4);
            let end = (i + token.len()).min(room);
            buf[i..end].copy_from_slice(&token[..end - i]);
            if i > len {
                buf[len..i].fill(b' ');
            }
            len = len.max(end);
        }
    }
    len
}

/// PCG-XSH-RR 32: the PRNG whose state and increment live in the header,
/// so a coordinator could restore a worker's stream exactly.
struct Pcg32 {
    state: u64,
    inc: u64,
}

impl Pcg32 {
    fn resume(state: u64, inc: u64) -> Pcg32 {
        Pcg32 {
            state,
            inc: inc | 1,
        }
    }

    fn next(&mut self) -> u32 {
        let old = self.state;
        self.state = old
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(self.inc);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        xorshifted.rotate_right((old >> 59) as u32)
    }

    fn below(&mut self, n: usize) -> usize {
        ((u64::from(self.next()) * n as u64) >> 32) as usize
    }
}

// --- the coordinator ------------------------------------------------------

struct Options {
    workers: usize,
    seconds: u64,
    max_crashes: usize,
    timeout: u64,
    out: PathBuf,
    temp_file: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let target_dir =
            std::env::var_os("CARGO_TARGET_DIR").map_or("target".into(), PathBuf::from);
        let mut options = Options {
            workers: thread::available_parallelism().map_or(2, |n| n.get()),
            seconds: 10,
            max_crashes: 5,
            timeout: 10,
            out: target_dir.join("fuzz_loop"),
            temp_file: false,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--workers" => options.workers = number(flag, value()?)?,
                "--seconds" => options.seconds = number(flag, value()?)?,
                "--max-crashes" => options.max_crashes = number(flag, value()?)?,
                "--timeout" => options.timeout = number(flag, value()?)?,
                "--out" => options.out = PathBuf::from(value()?),
                "--temp-file" => options.temp_file = true,
                other => return Err(format!("unknown argument {other:?}").into()),
            }
        }
        if options.workers == 0 {
            return Err("--workers 0: at least one worker is needed".into());
        }
        if Instant::now()
            .checked_add(Duration::from_secs(options.seconds))
            .is_none()
        {
            return Err(format!("--seconds {}: too long to wait for", options.seconds).into());
        }
        Ok(options)
    }
}

/// A flag's numeric value, or an error that names the flag.
fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|error| format!("{flag} {value:?}: {error}").into())
}

/// A region for one worker: one that cannot leak, unless `--temp-file`.
fn new_region(options: &Options) -> Result<(SharedMem, &'static str)> {
    if options.temp_file {
        let mut mem = SharedMem::temp_file(MAX_INPUT)?;
        mem.reserve_whole()?;
        return Ok((mem, "temp file"));
    }
    let backing = if cfg!(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd"
    )) {
        "anonymous (sealed memfd)"
    } else {
        "anonymous (unlinked temp file)"
    };
    let mut mem = SharedMem::anonymous(MAX_INPUT)?;
    // The worker mutates in place through `value_buffer_mut`: reserved, a
    // full file system is an error here rather than a SIGBUS there.
    mem.reserve_whole()?;
    Ok((mem, backing))
}

/// What the worker threads share with the main thread.
struct Shared {
    stop: AtomicBool,
    execs: Vec<AtomicU64>,
    crashes: Mutex<Crashes>,
    max_crashes: usize,
    /// How long a worker may take to answer a batch before it hangs.
    timeout: Duration,
}

/// The crashes seen: per crash site, the shortest input's file and how
/// many times the site was hit.
#[derive(Default)]
struct Crashes {
    sites: std::collections::BTreeMap<String, (PathBuf, usize, usize)>,
    total: usize,
}

/// What a crash adds to what was known.
enum Recorded {
    /// A site not seen before: its input is saved.
    NewSite,
    /// A shorter input for a known site: saved, replacing this file.
    Shorter(PathBuf),
    /// A known site, and no shorter: counted only.
    Repeat,
}

impl Crashes {
    /// Records a crash at `site` whose input of `len` bytes would be saved
    /// as `path`.
    fn record(&mut self, site: &str, path: &Path, len: usize) -> Recorded {
        self.total += 1;
        match self.sites.get_mut(site) {
            None => {
                self.sites
                    .insert(site.to_owned(), (path.to_owned(), 1, len));
                Recorded::NewSite
            }
            Some((kept, hits, kept_len)) => {
                *hits += 1;
                if len < *kept_len {
                    *kept_len = len;
                    Recorded::Shorter(std::mem::replace(kept, path.to_owned()))
                } else {
                    Recorded::Repeat
                }
            }
        }
    }
}

impl Shared {
    /// Executions so far: per worker, and in all.
    fn execs(&self) -> (Vec<u64>, u64) {
        let per_worker: Vec<u64> = self
            .execs
            .iter()
            .map(|e| e.load(Ordering::Relaxed))
            .collect();
        let total = per_worker.iter().sum();
        (per_worker, total)
    }
}

fn coordinator(options: Options) -> Result<()> {
    check_writable(&options.out)?;
    raise_fd_limit();
    stop_on_signals();
    if options.temp_file {
        // Named files outlive a coordinator killed with SIGKILL: remove
        // those whose creator is gone before adding ours.
        let dir = std::env::temp_dir();
        let removed = fuzzshm::remove_orphans(&dir)?;
        println!(
            "fuzz_loop: removed {removed} orphaned fuzz-* files from {}",
            dir.display()
        );
    }
    // Every region first: a failure here (too many files, no room) returns
    // before any thread owns one, so every region made is dropped, and
    // its file removed, on the way out.
    let regions = (0..options.workers)
        .map(|_| new_region(&options))
        .collect::<Result<Vec<_>>>()?;
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        execs: (0..options.workers).map(|_| AtomicU64::new(0)).collect(),
        crashes: Mutex::new(Crashes::default()),
        max_crashes: options.max_crashes,
        timeout: Duration::from_secs(options.timeout),
    });
    let mut threads = Vec::new();
    for (id, (mem, backing)) in regions.into_iter().enumerate() {
        if id == 0 {
            println!(
                "fuzz_loop: {} workers, {backing} regions of {} bytes, {} s, stop after {} crashes, crashes in {}",
                options.workers,
                mem.size(),
                options.seconds,
                options.max_crashes,
                options.out.display()
            );
        }
        let shared = Arc::clone(&shared);
        let out = options.out.clone();
        threads.push(thread::spawn(move || {
            let driven = drive(id, mem, &shared, &out);
            if driven.is_err() {
                // One worker's driver failed: stop them all, so the run
                // ends with its summary instead of limping on without it.
                shared.stop.store(true, Ordering::Relaxed);
            }
            driven
        }));
    }

    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let mut last = (started, 0u64);
    while Instant::now() < deadline && !shared.stop.load(Ordering::Relaxed) {
        if STOP_SIGNAL.load(Ordering::Relaxed) {
            println!("fuzz_loop: stopping on a signal");
            break;
        }
        thread::sleep(Duration::from_millis(100));
        if last.0.elapsed() >= Duration::from_secs(1) {
            let total = report_progress(&shared, started, last);
            last = (Instant::now(), total);
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    let mut failed = None;
    for handle in threads {
        let joined = handle
            .join()
            .map_err(|_| "a coordinator thread panicked".into());
        if let Err(error) = joined.and_then(|driven| driven) {
            failed.get_or_insert(error);
        }
    }
    summarize(&shared, started.elapsed())?;
    failed.map_or(Ok(()), Err)
}

/// Set by SIGINT or SIGTERM: a request to stop, as Go's coordinator takes
/// them, so the run still ends with its summary and its files removed.
static STOP_SIGNAL: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    STOP_SIGNAL.store(true, Ordering::Relaxed);
}

fn stop_on_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; `signal` installs it for this process.
        unsafe { libc::signal(signal, request_stop as *const () as libc::sighandler_t) };
    }
}

/// Raises the soft limit on open files to the hard one, as Go's coordinator
/// does: each worker takes a region and two pipes.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is ours to fill and read back.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: as above; a refusal leaves the limit as it was.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
}

/// Crashes will be written to `out`: find out now, not at the first crash.
fn check_writable(out: &Path) -> Result<()> {
    let probe = out.join(".fuzz_loop-probe");
    std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|error| {
            format!(
                "--out {}: cannot write crash files there: {error}",
                out.display()
            )
            .into()
        })
}

fn report_progress(shared: &Shared, started: Instant, (at, before): (Instant, u64)) -> u64 {
    let (per_worker, total) = shared.execs();
    let rate = (total - before) as f64 / at.elapsed().as_secs_f64();
    let crashes = shared.crashes.lock().map_or(0, |c| c.total);
    println!(
        "[{:>4.1}s] execs {total:>12}  {:>8.2} M exec/s  crashes {crashes}  per worker {per_worker:?}",
        started.elapsed().as_secs_f64(),
        rate / 1e6,
    );
    total
}

/// One coordinator thread: keep worker `id` busy until told to stop,
/// recovering crashes and restarting the worker after each.
fn drive(id: usize, mut mem: SharedMem, shared: &Shared, out: &Path) -> Result<()> {
    let seed = 0x853c_49e6_748f_ea9b_u64 ^ (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    mem.header().set_rand_state(seed);
    mem.header().set_rand_inc(((id as u64) << 1) | 1);
    let mut round = id;
    while !shared.stop.load(Ordering::Relaxed) {
        // A new `Command` per worker: `spawn` uses it up, and with it every
        // copy of the worker's pipe ends, so its death is end of stream.
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("--worker");
        let (child, comm) = CoordinatorComm::spawn(cmd, mem)?;
        let died;
        (mem, died) = serve(id, comm, child, shared, &mut round)?;
        if let Some(how) = died {
            recover_crash(id, &mem, how, shared, out)?;
        }
    }
    Ok(())
}

/// How a worker ended a run.
enum Death {
    /// It died: a signal, or an exit code.
    Exited(ExitStatus),
    /// It did not answer in time, and was killed.
    Hung(Duration),
}

/// Sends batches to one worker process until the stop flag or its death.
/// Returns the region, and how the worker died if it did.
fn serve(
    id: usize,
    comm: CoordinatorComm,
    mut child: Child,
    shared: &Shared,
    round: &mut usize,
) -> Result<(SharedMem, Option<Death>)> {
    let CoordinatorComm {
        fuzz_in,
        fuzz_out,
        mut mem,
    } = comm;
    let mut calls = File::from(fuzz_in);
    let answers = File::from(fuzz_out);
    let mut answer = [0u8; 1];
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            drop(calls); // EOF on its fd 3: the worker returns and exits
            stop_worker(&mut child)?;
            return Ok((mem, None));
        }
        mem.set_value(SEEDS[*round % SEEDS.len()])?;
        *round += 1;
        mem.header().count().store(0, Ordering::Relaxed);
        match calls.write_all(&BATCH.to_le_bytes()) {
            // The worker died between batches: its read end is gone.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
                return Ok((mem, Some(Death::Exited(child.wait()?))));
            }
            written => written?,
        }
        // Never a wait without end: a target that loops is a time-out.
        let answered = read_answer(&answers, &mut answer, shared.timeout)?;
        let ran = u64::try_from(mem.header().count().load(Ordering::Relaxed)).unwrap_or(0);
        shared.execs[id].fetch_add(ran, Ordering::Relaxed);
        match answered {
            Answer::Complete => {}
            Answer::Closed { .. } => return Ok((mem, Some(Death::Exited(child.wait()?)))),
            Answer::TimedOut { .. } => {
                // A hang: kill the worker; its input stays in the region.
                child.kill()?;
                child.wait()?;
                return Ok((mem, Some(Death::Hung(shared.timeout))));
            }
        }
    }
}

/// Waits for a worker told to stop (its fd 3 closed) for a second, as Go
/// does, then kills it: shutdown never waits on a worker that does not
/// answer (stopped, or stuck in its target).
fn stop_worker(child: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(10));
    }
    child.kill()?;
    child.wait()?;
    Ok(())
}

/// A worker died or hung: if `rawInMem` is set, the region holds the input
/// that did it. Save it under a name derived from its bytes and report it.
fn recover_crash(
    id: usize,
    mem: &SharedMem,
    how: Death,
    shared: &Shared,
    out: &Path,
) -> Result<()> {
    let site = match how {
        Death::Exited(status) => describe(status),
        Death::Hung(timeout) => format!("hung (no answer within {} s)", timeout.as_secs()),
    };
    if let Death::Exited(status) = how {
        if let Some(signal) = status
            .signal()
            .filter(|&signal| !fuzzshm::is_crash_signal(signal))
        {
            // SIGKILL, SIGTERM...: someone (the OOM killer, a user) ended
            // the worker; the input did not. Restart it, record nothing.
            println!(
                "worker {id} was ended from outside (signal {signal}): not a crash, restarted"
            );
            mem.header().set_raw_in_mem(false);
            return Ok(());
        }
    }
    if !mem.header().raw_in_mem() {
        if let Death::Hung(_) = how {
            // Not in a run, so not the input's doing (a SIGSTOP from
            // outside, say): restart it, record nothing.
            println!("worker {id} {site} outside a run: not a hang of the target, restarted");
            return Ok(());
        }
        return Err(format!("worker {id} failed outside a run: {site}").into());
    }
    // Ended while running an input, however: a crash (ASan exits with 1).
    let input = mem.value_copy()?;
    let path = out.join(format!("crash-{:016x}", fnv1a(&input)));
    let mut crashes = shared.crashes.lock().map_err(|_| "crash list poisoned")?;
    // Shown before it is written, so a crash is never lost to a failed write.
    println!("worker {id} {site}: input {}", hex(&input));
    let saved = match crashes.record(&site, &path, input.len()) {
        Recorded::NewSite => {
            write_whole(&path, &input)?;
            format!("new crash site, saved as {}", path.display())
        }
        Recorded::Shorter(replaced) => {
            write_whole(&path, &input)?;
            std::fs::remove_file(&replaced)?;
            format!(
                "shorter for a known site, saved as {} instead of {}",
                path.display(),
                replaced.display()
            )
        }
        Recorded::Repeat => "known crash site, not saved".to_owned(),
    };
    println!(
        "worker {id}: after {} execs in its batch ({saved})",
        mem.header().count().load(Ordering::Relaxed),
    );
    if shared.max_crashes != 0 && crashes.total >= shared.max_crashes {
        shared.stop.store(true, Ordering::Relaxed);
    }
    mem.header().set_raw_in_mem(false);
    Ok(())
}

fn summarize(shared: &Shared, elapsed: Duration) -> Result<()> {
    let (per_worker, total) = shared.execs();
    let crashes = shared.crashes.lock().map_err(|_| "crash list poisoned")?;
    println!(
        "summary: {total} execs in {:.1} s ({:.2} M exec/s of a toy in-process target: \
         the transport and the loop, not a real target's speed), per worker {per_worker:?}, \
         {} crashes at {} distinct sites",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64() / 1e6,
        crashes.total,
        crashes.sites.len()
    );
    for (site, (path, hits, len)) in &crashes.sites {
        println!(
            "  {site}: {hits} hits, shortest input {len} bytes in {}",
            path.display()
        );
    }
    let replayable = crashes
        .sites
        .iter()
        .find(|(site, _)| !site.starts_with("hung"));
    if let Some((_, (first, ..))) = replayable {
        let status = replay(first)?;
        if !crashed(status) {
            return Err(format!("{} does not crash the target", first.display()).into());
        }
        println!(
            "verified: replaying {} {}",
            first.display(),
            describe(status)
        );
    }
    Ok(())
}

/// Writes a file under a temporary name, then renames it: a crash file is
/// whole or absent, never half written.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)?;
    Ok(())
}

/// Runs the target on a file in a fresh process.
fn replay(path: &Path) -> Result<ExitStatus> {
    // A file that cannot be read is an error, not a target that survived.
    std::fs::metadata(path).map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(Command::new(std::env::current_exe()?)
        .arg("--run-target")
        .arg(path)
        .status()?)
}

/// Whether a run of the target crashed it: a signal, or a failing exit
/// code (a sanitizer's report).
fn crashed(status: ExitStatus) -> bool {
    !status.success()
}

fn describe(status: ExitStatus) -> String {
    match (status.signal(), status.code()) {
        (Some(signal), _) => format!("killed the target with signal {signal}"),
        (None, Some(code)) if code != 0 => format!("failed the target with exit code {code}"),
        _ => format!("did not crash ({status})"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// FNV-1a: a stable name for a crash file, equal inputs equal names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
