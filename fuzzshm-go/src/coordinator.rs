//! The fuzz loop: Go's coordinator (`internal/fuzz/fuzz.go`) around
//! [`Worker`]s, one thread each.
//!
//! Warmup runs every corpus entry once and merges its coverage into the
//! mask (whose length the first answer gives). Then each thread sends
//! 100 ms `Fuzz` calls for the entries in turn. A call that finds new
//! coverage (Go's bucket rule: a bit outside the mask) has its input
//! rebuilt by replaying Go's mutators, shrunk within a tight budget, and
//! added to the corpus and Go's cache. A failure, a worker that dies of
//! its input, or one that does not answer in time, is a crasher: rebuilt,
//! minimized per `[]byte`/`string` argument, and written where
//! `go test -run=FuzzX/NAME` replays it.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::budget::Budget;
use crate::corpus_file::{self, GoVersion};
use crate::value::Value;
use crate::wire::{FuzzArgs, MinimizeArgs};
use crate::worker::{CallError, Ended, Worker, WorkerSpec, MEM_CAPACITY};
use crate::{gotool, mutate};

/// Go's `workerFuzzDuration`: the length of one fuzz call.
pub const FUZZ_CALL: Duration = Duration::from_millis(100);

/// The budget for shrinking an interesting input: small, so fuzzing never
/// stalls on it (Go's 60 s default can).
pub const INTERESTING_MINIMIZE: Duration = Duration::from_millis(50);

/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);

/// What to fuzz, and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// The worker processes' binary, directory and target.
    pub spec: WorkerSpec,
    /// The toolchain whose file names to write.
    pub go: GoVersion,
    /// `-fuzztime`.
    pub fuzztime: Budget,
    /// `-fuzzminimizetime`: for crashers; `Unbounded` (Go's 0) turns
    /// minimization off, as in Go.
    pub minimize_time: Budget,
    /// `-parallel`: worker processes.
    pub parallel: usize,
    /// A call unanswered this long past its own timeout is a hang.
    pub hang_margin: Duration,
    /// Go's cache directory for the target, read and written; `None`: none.
    pub cache: Option<PathBuf>,
    /// The initial corpus (seeds and testdata), marshalled, in Go's order.
    pub seeds: Vec<Vec<u8>>,
    /// Set (by a signal handler) to stop at the next call.
    pub stop: &'static AtomicBool,
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The budget ran out, no failure.
    Pass,
    /// Stopped from outside (Ctrl-C).
    Interrupted,
    /// A crasher, written.
    Crash(Crash),
    /// A seed corpus entry failed during warmup (nothing written).
    SeedFailure(String),
}

/// A crasher written to `testdata`.
#[derive(Debug)]
pub struct Crash {
    /// Its failure, as the worker reported it (or how the worker died).
    pub message: String,
    /// `testdata/fuzz/FuzzX/NAME`, relative to the package directory.
    pub path: PathBuf,
    /// `NAME`.
    pub name: String,
    /// It did not answer in time.
    pub hang: bool,
}

/// Statistics of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Executions of the fuzz function.
    pub execs: u64,
    /// New interesting inputs found in this run.
    pub new_interesting: u64,
    /// Corpus size.
    pub total: u64,
}

struct Entry {
    data: Vec<u8>,
    values: Vec<Value>,
    /// Came from the seeds (a failure there is not a crasher).
    seed: bool,
}

#[derive(Default)]
struct Shared {
    corpus: Vec<Arc<Entry>>,
    seen: HashSet<[u8; 32]>,
    /// `None` until the first warmup answer; `Some(None)`: no coverage.
    mask: Option<Option<Vec<u8>>>,
    warm_next: usize,
    warm_done: usize,
    next: usize,
    execs: u64,
    /// Executions promised to calls in flight (for `Nx` budgets).
    reserved: u64,
    new_interesting: u64,
    /// A thread has a crasher: the others stop.
    crashed: bool,
    outcome: Option<Result<Outcome, String>>,
}

struct Run {
    cfg: Config,
    shared: Mutex<Shared>,
    start: Instant,
    warm_total: usize,
}

impl Run {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn elapsed(&self) -> String {
        format!("{}s", self.start.elapsed().as_secs())
    }

    fn stopping(&self) -> bool {
        if self.cfg.stop.load(Ordering::Relaxed) {
            return true;
        }
        let s = self.lock();
        s.crashed || s.outcome.is_some() || self.budget_spent(&s)
    }

    fn budget_spent(&self, s: &Shared) -> bool {
        match self.cfg.fuzztime {
            Budget::Time(d) => s.warm_done == self.warm_total && self.start.elapsed() >= d,
            Budget::Execs(n) => s.execs >= n,
            Budget::Unbounded => false,
        }
    }

    fn finish(&self, outcome: Result<Outcome, String>) {
        let mut s = self.lock();
        if s.outcome.is_none() {
            s.outcome = Some(outcome);
        }
    }
}

/// Runs the fuzz loop until the budget is spent, a crasher is written,
/// or `cfg.stop` is set. Progress goes to stdout in `go test -fuzz`'s words.
///
/// # Errors
///
/// A message: no worker could be started, a worker's internal error, a
/// worker that answered garbage, a file that could not be written.
pub fn run(cfg: Config) -> Result<(Outcome, Stats), String> {
    let mut shared = Shared::default();
    let add = |data: Vec<u8>, seed: bool, shared: &mut Shared| match corpus_file::unmarshal(&data) {
        Ok(values) => {
            if shared.seen.insert(Sha256::digest(&data).into()) {
                shared.corpus.push(Arc::new(Entry { data, values, seed }));
            }
            Ok(())
        }
        Err(e) => Err(e),
    };
    for seed in &cfg.seeds {
        add(seed.clone(), true, &mut shared)
            .map_err(|e| format!("a seed corpus entry does not parse: {e}"))?;
    }
    let types: Option<Vec<Value>> = shared.corpus.first().map(|e| e.values.clone());
    if let Some(cache) = &cfg.cache {
        for (path, data) in read_dir_files(cache) {
            match corpus_file::unmarshal(&data) {
                Ok(values) if types.as_ref().is_none_or(|t| same_types(t, &values)) => {
                    add(data, false, &mut shared).ok();
                }
                Ok(_) => eprintln!(
                    "warning: skipping cache entry {}: wrong types for this target",
                    path.display()
                ),
                Err(e) => eprintln!("warning: skipping cache entry {}: {e}", path.display()),
            }
        }
    }
    if shared.corpus.is_empty() {
        return Err("no corpus: the target's arguments are unknown".into());
    }
    let warm_total = shared.corpus.len();
    let run = Arc::new(Run {
        cfg,
        shared: Mutex::new(shared),
        start: Instant::now(),
        warm_total,
    });
    say!("fuzz: elapsed: 0s, gathering baseline coverage: 0/{warm_total} completed");
    let threads: Vec<_> = (0..run.cfg.parallel.max(1))
        .map(|_| {
            let run = Arc::clone(&run);
            thread::spawn(move || {
                if let Err(e) = fuzz_thread(&run) {
                    run.finish(Err(e));
                }
            })
        })
        .collect();
    let mut last = (Instant::now(), 0u64);
    loop {
        thread::sleep(Duration::from_millis(20));
        if threads.iter().all(|t| t.is_finished()) {
            break;
        }
        let s = run.lock();
        if s.warm_done == warm_total && last.0.elapsed() >= PROGRESS_EVERY && !s.crashed {
            say!("{}", progress(&run, &s, last));
            last = (Instant::now(), s.execs);
        }
    }
    for t in threads {
        let _ = t.join();
    }
    let mut s = run.lock();
    if s.warm_done == warm_total && !s.crashed && s.execs != last.1 {
        say!("{}", progress(&run, &s, last));
    }
    let stats = Stats {
        execs: s.execs,
        new_interesting: s.new_interesting,
        total: s.corpus.len() as u64,
    };
    let outcome = match s.outcome.take() {
        Some(outcome) => outcome?,
        None if run.cfg.stop.load(Ordering::Relaxed) => Outcome::Interrupted,
        None => Outcome::Pass,
    };
    Ok((outcome, stats))
}

fn progress(run: &Run, s: &Shared, last: (Instant, u64)) -> String {
    let secs = last.0.elapsed().as_secs_f64().max(1e-3);
    format!(
        "fuzz: elapsed: {}, execs: {} ({:.0}/sec), new interesting: {} (total: {})",
        run.elapsed(),
        s.execs,
        (s.execs - last.1) as f64 / secs,
        s.new_interesting,
        s.corpus.len()
    )
}

/// The same number and types of arguments.
fn same_types(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_type(y))
}

/// The regular files of `dir`, sorted by name; none if it does not exist.
pub(crate) fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| fs::read(&p).ok().map(|d| (p, d)))
        .collect()
}

/// A worker thread: warmup entries while any are left, then fuzz calls.
fn fuzz_thread(run: &Run) -> Result<(), String> {
    let mut worker = Worker::start(run.cfg.spec.clone()).map_err(|e| e.to_string())?;
    while let Some(entry) = next_warmup(run) {
        if run.stopping() {
            return Ok(());
        }
        warm(run, &mut worker, &entry)?;
        let mut s = run.lock();
        s.warm_done += 1;
        if s.warm_done == run.warm_total {
            say!(
                "fuzz: elapsed: {}, gathering baseline coverage: {1}/{1} completed, now fuzzing with {2} workers",
                run.elapsed(),
                run.warm_total,
                run.cfg.parallel.max(1)
            );
        }
    }
    while run.lock().warm_done < run.warm_total {
        if run.stopping() {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(1));
    }
    while !run.stopping() {
        fuzz_once(run, &mut worker)?;
    }
    worker.stop();
    Ok(())
}

fn next_warmup(run: &Run) -> Option<Arc<Entry>> {
    let mut s = run.lock();
    let entry = s.corpus.get(s.warm_next).cloned();
    s.warm_next += entry.is_some() as usize;
    entry.filter(|_| s.warm_next <= run.warm_total)
}

fn deadline(run: &Run, timeout: Duration) -> Duration {
    timeout + run.cfg.hang_margin
}

/// One warmup call: the entry's coverage into the mask, its failure a
/// seed failure (seed) or a crasher (cache).
fn warm(run: &Run, worker: &mut Worker, entry: &Entry) -> Result<(), String> {
    let args = FuzzArgs {
        Timeout: FUZZ_CALL.as_nanos() as i64,
        Limit: 1,
        Warmup: true,
        CoverageData: None,
    };
    match worker.fuzz(&entry.data, args, deadline(run, FUZZ_CALL)) {
        Ok(r) if !r.InternalErr.is_empty() => {
            Err(format!("fuzzing process error: {}", r.InternalErr))
        }
        Ok(r) if !r.Err.is_empty() => fail_warm(run, worker, entry, r.Err, true, false),
        Ok(r) => {
            let mut s = run.lock();
            s.execs += 1;
            match (&mut s.mask, r.CoverageData) {
                (None, cov) => {
                    if cov.is_none() {
                        say!("warning: the test binary was not built with coverage instrumentation, so fuzzing will run without coverage guidance and may be inefficient");
                    }
                    s.mask = Some(cov);
                }
                (Some(Some(mask)), Some(cov)) if cov.len() == mask.len() => merge(mask, &cov),
                (Some(Some(_)), _) | (Some(None), Some(_)) => {
                    return Err(
                        "fuzzing process error: coverage length changed between calls".into(),
                    )
                }
                (Some(None), None) => {}
            }
            Ok(())
        }
        Err(e) => died(run, worker, e, |run, worker, ended, hang| {
            let message = death_message(&ended, hang, run);
            fail_warm(run, worker, entry, message, false, hang)
        }),
    }
}

fn fail_warm(
    run: &Run,
    worker: &mut Worker,
    entry: &Entry,
    message: String,
    can_minimize: bool,
    hang: bool,
) -> Result<(), String> {
    if entry.seed {
        if claim_crash(run) {
            let msg = format!(
                "failure while testing seed corpus entry: {}\n{message}",
                run.cfg.spec.target
            );
            run.finish(Ok(Outcome::SeedFailure(msg)));
        }
        return Ok(());
    }
    crash(
        run,
        worker,
        entry.values.clone(),
        message,
        can_minimize,
        hang,
    )
}

/// Handles a call that got no answer: from outside (restart), a crash (`then`),
/// or a broken worker (an error).
fn died(
    run: &Run,
    worker: &mut Worker,
    e: CallError,
    then: impl FnOnce(&Run, &mut Worker, Ended, bool) -> Result<(), String>,
) -> Result<(), String> {
    if run.cfg.stop.load(Ordering::Relaxed) {
        return Ok(());
    }
    match e {
        CallError::Died(ended) if ended.killed_from_outside() => restart(worker, &ended),
        CallError::Died(ended) if ended.killed_here => Err(format!(
            "fuzzing process closed its pipes without exiting; killed. Its output:\n{}",
            ended.output
        )),
        CallError::Died(ended) => then(run, worker, ended, false),
        CallError::Hung(ended) => then(run, worker, ended, true),
        CallError::Garbage { line, ended } => Err(format!(
            "communicating with fuzzing process: it answered {line:?} ({}); no crash recorded",
            ended.status_text()
        )),
        CallError::Io(e) => Err(format!("communicating with fuzzing process: {e}")),
    }
}

/// A worker killed from outside: no crasher; a new process in its place.
fn restart(worker: &mut Worker, ended: &Ended) -> Result<(), String> {
    eprintln!(
        "fuzz: fuzzing process terminated by unexpected signal ({}); restarting it, no crash recorded",
        ended.status_text()
    );
    worker.restart().map_err(|e| e.to_string())
}

fn death_message(ended: &Ended, hang: bool, run: &Run) -> String {
    let mut msg = if hang {
        format!(
            "fuzzing process hung: no answer within {:?} of the call's end; killed",
            run.cfg.hang_margin
        )
    } else {
        format!(
            "fuzzing process hung or terminated unexpectedly: {}",
            ended.status_text()
        )
    };
    let out = ended.output.trim_end();
    let out = out.strip_suffix("FAIL").unwrap_or(out).trim_end();
    if !out.is_empty() {
        msg.push('\n');
        msg.push_str(out);
    }
    msg
}

/// Picks the next entry, the mask and the call's execution limit.
fn pick(run: &Run) -> (Arc<Entry>, Option<Vec<u8>>, i64) {
    let mut s = run.lock();
    let entry = Arc::clone(&s.corpus[s.next % s.corpus.len()]);
    s.next = s.next.wrapping_add(1);
    let limit = match run.cfg.fuzztime {
        Budget::Execs(n) => {
            let left = n.saturating_sub(s.execs + s.reserved);
            let share = left.div_ceil(run.cfg.parallel.max(1) as u64).max(1);
            s.reserved += share;
            share as i64
        }
        _ => 0,
    };
    (entry, s.mask.clone().flatten(), limit)
}

/// One 100 ms fuzz call and what follows from its answer.
fn fuzz_once(run: &Run, worker: &mut Worker) -> Result<(), String> {
    let (entry, mask, limit) = pick(run);
    let args = FuzzArgs {
        Timeout: FUZZ_CALL.as_nanos() as i64,
        Limit: limit,
        Warmup: false,
        CoverageData: mask,
    };
    let answer = worker.fuzz(&entry.data, args, deadline(run, FUZZ_CALL));
    let count = worker.mem().header().count().load(Ordering::Relaxed).max(0) as u64;
    {
        let mut s = run.lock();
        s.reserved = s.reserved.saturating_sub(limit as u64);
        s.execs += count;
    }
    match answer {
        Ok(r) if !r.InternalErr.is_empty() => {
            Err(format!("fuzzing process error: {}", r.InternalErr))
        }
        Ok(r) if !r.Err.is_empty() => {
            let values = rebuild(worker, &entry)?;
            crash(run, worker, values, r.Err, true, false)
        }
        Ok(r) => match r.CoverageData {
            Some(cov) => interesting(run, worker, &entry, cov),
            None => Ok(()),
        },
        Err(e) => died(run, worker, e, |run, worker, ended, hang| {
            let values = rebuild(worker, &entry)?;
            died_of(run, worker, values, &ended, hang)
        }),
    }
}

/// The input the worker ran last, from the header: Go's mutators replayed.
fn rebuild(worker: &Worker, entry: &Entry) -> Result<Vec<Value>, String> {
    let h = worker.mem().header();
    let count = h.count().load(Ordering::Relaxed);
    mutate::rebuild(
        &entry.values,
        h.rand_state(),
        h.rand_inc(),
        count,
        MEM_CAPACITY,
    )
    .map_err(|e| format!("rebuilding the input from the worker's header: {e}"))
}

/// `snapshot &^ mask`, or `None` if it has no bit.
fn diff(mask: &[u8], snapshot: &[u8]) -> Option<Vec<u8>> {
    let d: Vec<u8> = mask.iter().zip(snapshot).map(|(m, s)| s & !m).collect();
    d.iter().any(|&b| b != 0).then_some(d)
}

fn merge(mask: &mut [u8], cov: &[u8]) {
    mask.iter_mut().zip(cov).for_each(|(m, c)| *m |= c);
}

fn new_bits(run: &Run, cov: &[u8]) -> Option<Vec<u8>> {
    match &run.lock().mask {
        Some(Some(mask)) if mask.len() == cov.len() => diff(mask, cov),
        _ => None,
    }
}

/// A fuzz call found coverage: rebuild, shrink, add if still new.
fn interesting(run: &Run, worker: &mut Worker, entry: &Entry, cov: Vec<u8>) -> Result<(), String> {
    let Some(keep) = new_bits(run, &cov) else {
        return Ok(());
    };
    let mut values = rebuild(worker, entry)?;
    let mut cov = cov;
    let budget = match run.cfg.minimize_time {
        Budget::Time(d) => Budget::Time(d.min(INTERESTING_MINIMIZE)),
        other => other,
    };
    if budget != Budget::Unbounded && values.iter().any(Value::is_minimizable) {
        match minimize(run, worker, values.clone(), Some(keep), budget)? {
            Minimized::Done {
                values: v,
                coverage: Some(c),
                ..
            } if c.len() == cov.len() => {
                values = v;
                cov = c;
            }
            Minimized::Done { .. } => {}
            Minimized::Died {
                values,
                ended,
                hang,
            } => {
                return died_of(run, worker, values, &ended, hang);
            }
        }
    }
    let data = corpus_file::marshal_for(&values, run.cfg.go);
    let mut s = run.lock();
    let Some(Some(mask)) = &mut s.mask else {
        return Ok(());
    };
    if mask.len() != cov.len() || diff(mask, &cov).is_none() {
        return Ok(());
    }
    merge(mask, &cov);
    if !s.seen.insert(Sha256::digest(&data).into()) {
        return Ok(());
    }
    s.new_interesting += 1;
    s.corpus.push(Arc::new(Entry {
        data: data.clone(),
        values,
        seed: false,
    }));
    drop(s);
    if let Some(cache) = &run.cfg.cache {
        write_corpus_file(cache, &data, run.cfg.go)
            .map_err(|e| format!("writing to the fuzz cache: {e}"))?;
    }
    Ok(())
}

enum Minimized {
    Done {
        values: Vec<Value>,
        err: String,
        coverage: Option<Vec<u8>>,
    },
    Died {
        values: Vec<Value>,
        ended: Ended,
        hang: bool,
    },
}

/// Go's `workerClient.minimize`: one `Minimize` call per `[]byte` or
/// `string` argument, the budget shared among them.
fn minimize(
    run: &Run,
    worker: &mut Worker,
    mut values: Vec<Value>,
    keep: Option<Vec<u8>>,
    budget: Budget,
) -> Result<Minimized, String> {
    let start = Instant::now();
    let mut used = 0u64;
    let (mut err, mut coverage) = (String::new(), None);
    for index in 0..values.len() {
        if !values[index].is_minimizable() {
            continue;
        }
        let (timeout, limit) = match budget {
            Budget::Time(d) => match d.checked_sub(start.elapsed()) {
                Some(left) if !left.is_zero() => (left, 0),
                _ => break,
            },
            Budget::Execs(n) if used >= n => break,
            Budget::Execs(n) => (Duration::ZERO, (n - used) as i64),
            Budget::Unbounded => break,
        };
        let args = MinimizeArgs {
            Timeout: timeout.as_nanos() as i64,
            Limit: limit,
            KeepCoverage: keep.clone(),
            Index: index,
        };
        let entry = corpus_file::marshal(&values);
        // A count budget is bounded by Go's own per-run hang timer (60 s
        // at most) times the count; an hour is past any sane one.
        let wait = if timeout.is_zero() {
            Duration::from_secs(3600)
        } else {
            deadline(run, timeout)
        };
        let answer = worker.minimize(&entry, args, wait);
        let count = worker.mem().header().count().load(Ordering::Relaxed).max(0) as u64;
        used += count;
        run.lock().execs += count;
        match answer {
            Ok(r) => {
                if r.WroteToMem {
                    let mem = worker.mem().value().map_err(|e| e.to_string())?;
                    if let Ok(v) = corpus_file::unmarshal(mem) {
                        values = v;
                    }
                }
                if !r.Err.is_empty() {
                    err = r.Err;
                }
                coverage = r.CoverageData.or(coverage);
            }
            Err(CallError::Died(ended)) if ended.killed_from_outside() => {
                restart(worker, &ended)?;
                break;
            }
            Err(CallError::Died(ended)) => {
                let values = with_raw_candidate(worker, values, index)?;
                return Ok(Minimized::Died {
                    values,
                    ended,
                    hang: false,
                });
            }
            Err(CallError::Hung(ended)) => {
                let values = with_raw_candidate(worker, values, index)?;
                return Ok(Minimized::Died {
                    values,
                    ended,
                    hang: true,
                });
            }
            Err(e) => return Err(format!("minimizing: {e}")),
        }
    }
    Ok(Minimized::Done {
        values,
        err,
        coverage,
    })
}

/// A crasher that killed (or hung) its worker: not minimized, as in Go.
fn died_of(
    run: &Run,
    worker: &mut Worker,
    values: Vec<Value>,
    ended: &Ended,
    hang: bool,
) -> Result<(), String> {
    crash(
        run,
        worker,
        values,
        death_message(ended, hang, run),
        false,
        hang,
    )
}

/// After a worker died minimizing: with `rawInMem` set, the region holds
/// the raw bytes of argument `index` of the candidate that killed it.
fn with_raw_candidate(
    worker: &Worker,
    mut values: Vec<Value>,
    index: usize,
) -> Result<Vec<Value>, String> {
    if worker.mem().header().raw_in_mem() {
        let raw = worker.mem().value().map_err(|e| e.to_string())?.to_vec();
        values[index] = match values[index] {
            Value::String(_) => Value::String(raw),
            _ => Value::Bytes(raw),
        };
    }
    Ok(values)
}

/// The first crasher of the run: the others stop.
fn claim_crash(run: &Run) -> bool {
    let mut s = run.lock();
    !std::mem::replace(&mut s.crashed, true)
}

/// A crasher: minimize (if the worker survived it), write, report.
fn crash(
    run: &Run,
    worker: &mut Worker,
    mut values: Vec<Value>,
    mut message: String,
    can_minimize: bool,
    hang: bool,
) -> Result<(), String> {
    if !claim_crash(run) {
        return Ok(());
    }
    if worker.pid().is_none() {
        worker.restart().map_err(|e| e.to_string())?;
    }
    if can_minimize
        && run.cfg.minimize_time != Budget::Unbounded
        && values.iter().any(Value::is_minimizable)
    {
        let size = corpus_file::marshal(&values).len();
        say!("fuzz: minimizing {size}-byte failing input file");
        say!("fuzz: elapsed: {}, minimizing", run.elapsed());
        match minimize(run, worker, values.clone(), None, run.cfg.minimize_time)? {
            Minimized::Done { values: v, err, .. } => {
                if err.is_empty() {
                    say!("fuzz: attempted to minimize a crash but could not reproduce");
                } else {
                    values = v;
                    message = err;
                }
            }
            Minimized::Died { values: v, .. } => values = v,
        }
    }
    let data = corpus_file::marshal_for(&values, run.cfg.go);
    let dir = run
        .cfg
        .spec
        .dir
        .join("testdata/fuzz")
        .join(&run.cfg.spec.target);
    let name = write_corpus_file(&dir, &data, run.cfg.go)
        .map_err(|e| format!("writing the failing input to {}: {e}", dir.display()))?;
    let path = Path::new("testdata/fuzz")
        .join(&run.cfg.spec.target)
        .join(&name);
    run.finish(Ok(Outcome::Crash(Crash {
        message,
        path,
        name,
        hang,
    })));
    Ok(())
}

/// Writes `data` into `dir` (made if needed) under Go's name for it, by
/// way of a temporary name, and returns the name.
fn write_corpus_file(dir: &Path, data: &[u8], go: GoVersion) -> std::io::Result<String> {
    fs::create_dir_all(dir)?;
    let name = gotool::corpus_name(data, go);
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    fs::write(&tmp, data)?;
    fs::rename(&tmp, dir.join(&name))?;
    Ok(name)
}
