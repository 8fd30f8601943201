//! The rounds a figure's candidates run in, and what a row makes of their
//! samples: the ratio per round, its median, the interval around it and the
//! verdict against the figure's target.

use std::os::fd::BorrowedFd;
use std::time::Instant;

use crate::go::GoBench;

pub(crate) struct Bench {
    pub(crate) rounds: usize,
    pub(crate) scale: f64,
    pub(crate) go: Option<GoBench>,
    /// Shuffles the lanes of every round of the run.
    pub(crate) order: Xorshift,
    /// An optimised build: its rows are printed, verdicts and all. An
    /// unoptimised one computes them and prints nothing.
    pub(crate) judged: bool,
}

/// A candidate: a name and its operation, run `n` times by one call.
pub(crate) type Candidate<'a> = (&'a str, Box<dyn FnMut(usize) + 'a>);

/// A candidate's operation as a loop: the operation is inlined into it, so
/// only a batch, not each operation, pays a dynamic call (the Go side loops
/// the same way).
pub(crate) fn repeat<'a>(mut op: impl FnMut() + 'a) -> Box<dyn FnMut(usize) + 'a> {
    Box::new(move |n| {
        for _ in 0..n {
            op();
        }
    })
}

impl Bench {
    pub(crate) fn batch(&self, full: usize) -> usize {
        ((full as f64 * self.scale) as usize).max(1)
    }

    /// Runs every candidate `batch` times per round, each batch after one
    /// untimed operation of its own (so a batch does not start on the state
    /// the previous candidate left, such as dirty cache lines); returns each
    /// one's nanoseconds per operation, one sample per round. Each round
    /// runs the lanes in a new order: with a fixed order the lane right
    /// after the Go process measured 2% slower at 64 MiB than the same code
    /// in another lane (the A/A control row), as if Go's runtime went on
    /// working after it answered. `go`, if given, is one more candidate: a
    /// Go process, set up once like the others, that times its own batches
    /// the same way; its arguments, and the descriptors it gets as 3, 4, ...
    pub(crate) fn run_rounds(
        &self,
        batch: usize,
        candidates: &mut [Candidate],
        go: Option<(&[&str], &[BorrowedFd])>,
    ) -> Vec<Vec<f64>> {
        let _pinned = OneCpu::pin();
        let mut go = go
            .zip(self.go.as_ref())
            .map(|((args, fds), go)| go.start(args, fds));
        let lanes = candidates.len() + usize::from(go.is_some());
        let mut samples = vec![Vec::with_capacity(self.rounds); lanes];
        let mut order: Vec<usize> = (0..lanes).collect();
        for _ in 0..self.rounds {
            for i in (1..lanes).rev() {
                order.swap(i, self.order.below(i + 1));
            }
            for &lane in &order {
                let sample = match (candidates.get_mut(lane), &mut go) {
                    (Some((_, op)), _) => {
                        op(1);
                        let start = Instant::now();
                        op(batch);
                        start.elapsed().as_nanos() as f64 / batch as f64
                    }
                    (None, Some(go)) => go.sample(batch),
                    (None, None) => unreachable!("lane {lane} of {lanes}"),
                };
                samples[lane].push(sample);
            }
        }
        samples
    }

    /// One row. The ratio is the median over rounds of subject / baseline
    /// within each round (the two ran moments apart, so drift of the
    /// machine cancels), with the interval that holds the true median with
    /// 95% confidence or more (order statistics of the per-round ratios).
    /// A figure holds ("yes") when the whole interval meets its target,
    /// fails ("NO") when none of it does, and is a "tie" when the interval
    /// straddles the target: the two are closer than this run can tell.
    pub(crate) fn row(
        &self,
        figure: &str,
        subject: &[f64],
        baseline: Option<&[f64]>,
        target: Target,
    ) {
        let Some(baseline) = baseline else {
            if !self.judged {
                return;
            }
            println!(
                "{figure:<58} {:>11.0} {:>11} {:>7} {:>15}  {:<7} not measured (no go on PATH)",
                median(subject.to_vec()),
                "-",
                "-",
                "-",
                "-"
            );
            return;
        };
        let ratio = Ratio::of(subject, baseline, target);
        if !self.judged {
            return;
        }
        println!(
            "{figure:<58} {:>11.0} {:>11.0} {:>7.3} {:>15}  {:<7} {}",
            median(subject.to_vec()),
            median(baseline.to_vec()),
            ratio.median,
            format!("[{:.3}, {:.3}]", ratio.low, ratio.high),
            target.to_string(),
            ratio.holds,
        );
    }
}

/// What the per-round ratios of a subject to its baseline say.
pub(crate) struct Ratio {
    pub(crate) median: f64,
    /// The interval around the median (see [`median_interval`]).
    pub(crate) low: f64,
    pub(crate) high: f64,
    /// The verdict against the target: "yes", "NO", "tie", or "-" for
    /// [`Target::Report`].
    pub(crate) holds: &'static str,
}

impl Ratio {
    pub(crate) fn of(subject: &[f64], baseline: &[f64], target: Target) -> Ratio {
        let ratios: Vec<f64> = subject.iter().zip(baseline).map(|(s, b)| s / b).collect();
        let (low, high) = median_interval(&ratios);
        let holds = match target {
            Target::Report => "-",
            _ if target.met_by(high) => "yes",
            _ if !target.met_by(low) => "NO",
            _ => "tie",
        };
        Ratio {
            median: median(ratios),
            low,
            high,
            holds,
        }
    }
}

/// Keeps this thread, and the processes it starts meanwhile (the Go side),
/// on the CPU it runs on until dropped. On a shared machine one virtual
/// CPU can be slowed for a while (a busy neighbour on its physical core)
/// and not the other: in one run every Rust candidate took 99 ns for a
/// 4 KiB copy, against 67-78 ns in the runs around it, while the Go
/// process, on the other CPU, did not slow down. On one CPU, both sides
/// see the same noise.
pub(crate) struct OneCpu {
    previous: rustix::thread::CpuSet,
    cpu: usize,
}

impl OneCpu {
    pub(crate) fn pin() -> OneCpu {
        let previous = rustix::thread::sched_getaffinity(None).unwrap();
        let cpu = rustix::thread::sched_getcpu();
        OneCpu::pin_to(cpu);
        OneCpu { previous, cpu }
    }

    /// Keeps this thread on `cpu` for good.
    pub(crate) fn pin_to(cpu: usize) {
        let mut one = rustix::thread::CpuSet::new();
        one.set(cpu);
        rustix::thread::sched_setaffinity(None, &one).unwrap();
    }

    /// A CPU this thread could run on before it was pinned, on another
    /// core than the one it is pinned to: not its SMT siblings, which share
    /// its caches, so a reader there would not measure a handoff between
    /// cores.
    pub(crate) fn other_core(&self) -> Option<usize> {
        let siblings = std::fs::read_to_string(format!(
            "/sys/devices/system/cpu/cpu{}/topology/thread_siblings_list",
            self.cpu
        ))
        .map(|list| cpu_list(list.trim()))
        .unwrap_or_default();
        (0..rustix::thread::CpuSet::MAX_CPU)
            .find(|&cpu| cpu != self.cpu && self.previous.is_set(cpu) && !siblings.contains(&cpu))
    }
}

impl Drop for OneCpu {
    fn drop(&mut self) {
        rustix::thread::sched_setaffinity(None, &self.previous).unwrap();
    }
}

/// The CPUs of a kernel CPU list such as `0-3,8`.
fn cpu_list(list: &str) -> Vec<usize> {
    list.split(',')
        .filter_map(|part| match part.split_once('-') {
            Some((first, last)) => Some(first.parse().ok()?..=last.parse().ok()?),
            None => part.parse().ok().map(|cpu| cpu..=cpu),
        })
        .flatten()
        .collect()
}

/// A small generator for the lane orders: seeded, so a run's orders can be
/// replayed (`--seed=N`), and no dependency is needed for it.
pub(crate) struct Xorshift(std::cell::Cell<u64>);

impl Xorshift {
    pub(crate) fn new(seed: u64) -> Xorshift {
        Xorshift(std::cell::Cell::new(seed | 1)) // never the stuck state 0
    }

    /// A number in `0..n` (the modulo bias is irrelevant here).
    fn below(&self, n: usize) -> usize {
        let mut x = self.0.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.set(x);
        (x % n as u64) as usize
    }
}

/// What a figure asks of its ratio.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// Only reported: a floor, or information.
    Report,
    /// `ratio <= limit`: "no slower than", "within 5%".
    AtMost(f64),
    /// `ratio < limit`: "faster than".
    Below(f64),
}

impl Target {
    fn met_by(self, ratio: f64) -> bool {
        match self {
            Target::Report => true,
            Target::AtMost(limit) => ratio <= limit,
            Target::Below(limit) => ratio < limit,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Target::Report => f.write_str("-"),
            Target::AtMost(limit) => write!(f, "<= {limit}"),
            Target::Below(limit) => write!(f, "< {limit}"),
        }
    }
}

/// The distribution-free interval for the median of `samples`: the `k`-th
/// smallest and the `k`-th largest sample, `k` from [`median_rank`].
fn median_interval(samples: &[f64]) -> (f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (k, _) = median_rank(sorted.len());
    (sorted[k - 1], sorted[sorted.len() - k])
}

/// For `n` samples, the largest `k` with P(Binomial(n, 1/2) < k) <= 2.5%
/// (1 if there is none: the whole range), and the confidence that the
/// `k`-th smallest and `k`-th largest sample enclose the true median:
/// for 41 rounds the 14th and the 28th, 97%.
pub(crate) fn median_rank(n: usize) -> (usize, f64) {
    let probability = |i: usize| {
        (0..i).fold(1.0, |c, j| c * (n - j) as f64 / (j + 1) as f64) / 2f64.powi(n as i32)
    };
    let (mut k, mut below) = (1, probability(0));
    while k < n / 2 && below + probability(k) <= 0.025 {
        below += probability(k);
        k += 1;
    }
    (k, 1.0 - 2.0 * below)
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
