//! The write alone, swept: `set_value` against a plain copy plus the
//! length store (what a user would write by hand) into the same kind of
//! mapping (memfd regions), at every power of two from 64 B to 64 MiB and on both sides of
//! every limit of `src/copy` (±1, ±63), with the source at several page
//! offsets, into one region (a hot loop) and into four in turn. A figure
//! tuned at a few sizes in one regime says nothing of the others, so this
//! one prints every point and its worst ratio, not only a median.

use std::hint::black_box;

use fuzzshm::{CopyPlan, SharedMem, HEADER_SIZE};

use crate::baselines::plain_write;
use crate::figures::{hugepage_input, Turns, TURNS};
use crate::stats::{repeat, Bench, Candidate, Ratio, Target};
use crate::{human, MIB};

/// Where the copy changes strategy, and a change could cost: the first
/// `memcpy` size after the inline copies (`src/copy`), the first size
/// glibc's `memcpy` copies with `rep movsb` instead of vector moves (2113 B
/// on the machines of `BENCHMARKS.md`), and the limits of the plan in force
/// (`fuzzshm::copy_plan`: where streaming starts and ends). The sweep
/// measures each and the sizes around it.
fn copy_limits(plan: &CopyPlan) -> Vec<usize> {
    let mut limits = vec![129, 2113, plan.stream_from];
    if plan.band.1 > 0 {
        limits.extend([plan.band.0, plan.band.1 + 1]);
    }
    limits
}

/// The source's offsets in its page: 0, odd, the value area's own (where
/// loads and stores alias every 4 KiB), and just before the end.
const SOURCE_OFFSETS: [usize; 4] = [0, 1, HEADER_SIZE, 4056];

const LARGEST: usize = 64 * MIB;

/// Every power of two from 64 B to [`LARGEST`], and each limit ±1 and ±63.
fn sweep_sizes(plan: &CopyPlan) -> Vec<usize> {
    let mut sizes: Vec<usize> = (6..=LARGEST.trailing_zeros()).map(|p| 1 << p).collect();
    for limit in copy_limits(plan).into_iter().filter(|&l| l <= LARGEST) {
        sizes.extend([limit - 63, limit - 1, limit, limit + 1, limit + 63]);
    }
    sizes.retain(|&s| (64..=LARGEST).contains(&s));
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// A size as the table prints it: a power of two by name, anything else
/// as the nearest one and the difference.
fn size_label(size: usize) -> String {
    let power = size.next_power_of_two();
    let near = if power - size <= size - power / 2 {
        power
    } else {
        power / 2
    };
    match size as isize - near as isize {
        0 => human(near),
        d => format!("{}{d:+}", human(near)),
    }
}

/// The worst point of a regime.
struct Worst {
    ratio: f64,
    high: f64,
    at: String,
}

impl Bench {
    pub(crate) fn sweep(&self) {
        let plan = fuzzshm::copy_plan();
        let sizes = sweep_sizes(&plan);
        let input = hugepage_input(LARGEST + 4096);
        for turns in [1, TURNS] {
            // memfd regions: a file on disk is written back now and then,
            // and the first write to each page after that faults to mark it
            // dirty again, microseconds that land on one lane or another
            // (on a machine busy writing, a point read 0.19 or 2.5 from it).
            let regions = || Turns::new(turns, || SharedMem::memfd(LARGEST).unwrap());
            let (mut subject, mut plain, mut twin) = (regions(), regions(), regions());
            let regime = if turns == 1 {
                "1 region".to_owned()
            } else {
                format!("{turns} regions in turn")
            };
            if self.judged {
                println!(
                    "write alone, {regime}: set_value / (copy_from_slice + length store), \
                     median over rounds; target <= 1.05 where set_value does not stream \
                     (streamed, s: reported)"
                );
                print!("{:>14}", "size");
                for offset in SOURCE_OFFSETS {
                    print!("{:>12}", format!("src+{offset}"));
                }
                println!();
            }
            let (mut worst, mut worst_streamed) = (None::<Worst>, 0f64);
            // The A/A control: the plain copy into other regions against
            // itself, the spread that page placement alone makes.
            let mut control_range = (f64::INFINITY, 0f64);
            let mut counts = std::collections::BTreeMap::<&str, usize>::new();
            for &size in &sizes {
                let mut cells = String::new();
                for offset in SOURCE_OFFSETS {
                    let source = &input[offset..offset + size];
                    let mut candidates: Vec<Candidate> = vec![
                        (
                            "set_value",
                            repeat(|| subject.next().set_value(black_box(source)).unwrap()),
                        ),
                        (
                            "copy_from_slice + length store",
                            repeat(|| write_by_hand(plain.next(), black_box(source))),
                        ),
                        (
                            "the same, other regions",
                            repeat(|| write_by_hand(twin.next(), black_box(source))),
                        ),
                    ];
                    let batch = self.batch((4 * MIB / size).clamp(1, 100_000));
                    let t = self.run_rounds(batch, &mut candidates, None);
                    drop(candidates);
                    let streamed = plan.streams(size);
                    let target = if streamed {
                        Target::Report
                    } else {
                        Target::AtMost(1.05)
                    };
                    let ratio = Ratio::of(&t[0], &t[1], target);
                    let control = Ratio::of(&t[2], &t[1], Target::Report).median;
                    control_range = (control_range.0.min(control), control_range.1.max(control));
                    let mark = match ratio.holds {
                        "NO" => "!",
                        "tie" => "~",
                        "-" => "s",
                        _ => " ",
                    };
                    cells.push_str(&format!("{:>11.3}{mark}", ratio.median));
                    *counts.entry(ratio.holds).or_default() += 1;
                    if streamed {
                        worst_streamed = worst_streamed.max(ratio.median);
                    } else if worst.as_ref().map_or(true, |w| ratio.median > w.ratio) {
                        worst = Some(Worst {
                            ratio: ratio.median,
                            high: ratio.high,
                            at: format!("{}, src+{offset}", size_label(size)),
                        });
                    }
                }
                if self.judged {
                    println!("{:>14}{cells}", size_label(size));
                }
            }
            if let (true, Some(worst)) = (self.judged, worst) {
                let count = |holds| counts.get(holds).copied().unwrap_or(0);
                println!(
                    "write alone, {regime}: worst {:.3} (interval to {:.3}) at {}; \
                     {} yes, {} tie (~), {} NO (!); streamed (s): worst {worst_streamed:.3}; \
                     A/A control (the plain copy into other regions) {:.3} to {:.3}",
                    worst.ratio,
                    worst.high,
                    worst.at,
                    count("yes"),
                    count("tie"),
                    count("NO"),
                    control_range.0,
                    control_range.1,
                );
            }
        }
    }
}

/// [`plain_write`] with `copy_from_slice` into `mem`'s mapping.
#[inline(always)]
fn write_by_hand(mem: &mut SharedMem, source: &[u8]) {
    // SAFETY: the live mapping of `mem`, whose capacity (`LARGEST`) holds
    // `source`; `&mut mem` keeps everything else in this process off it.
    unsafe { plain_write(mem.as_mut_ptr(), source, <[u8]>::copy_from_slice) }
}
