//! Which copy `set_value` uses at each size, chosen for the CPU it runs on.
//!
//! A copy that is fastest on one CPU can be the slowest on the next: the
//! project's machines (an AMD Zen 3, an Intel Xeon, an AMD Zen 4) each
//! flipped a choice the one before had settled (streaming versus the cached
//! copy at 16-256 KiB, a prefetch in the streaming loop). So the choice is
//! a [`CopyPlan`], taken once per process from a table with one row per
//! CPU family that has figures ([`COPY_TABLE`]; each row names them), a
//! [`COPY_FALLBACK`] for every other CPU, or an override: [`set_copy_plan`], or
//! in `std` builds the `FUZZSHM_COPY` environment variable, read once as
//! glibc reads its tunables.
//!
//! What the plan decides is only which sizes stream past the cache, and
//! how that loop runs; up to 128 bytes every CPU gets the same
//! copy, and every size not streamed `memcpy`. Any plan copies every byte
//! correctly: only the speed differs.
//!
//! No calibration at run time (a `tune_copy()` timing both copies for tens
//! of milliseconds): on the shared machines the figures come from, two
//! equal copies into other regions measured up to 1.38x apart within one
//! run (the A/A control rows of `BENCHMARKS.md`), larger than most of the
//! differences a calibration would have to tell apart; the table and the
//! override serve a user who measured.

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// Which sizes `set_value` streams past the cache, and how; every other
/// size above 128 bytes is copied with `memcpy` (up to 128, without a call).
/// Streaming needs x86-64 with AVX; elsewhere every plan copies as
/// [`CopyPlan::CACHED`] does.
///
/// # Examples
///
/// ```
/// use fuzzshm::CopyPlan;
/// // What a user who measured streaming faster from 32 KiB would set.
/// let plan = CopyPlan { band: (0, 0), stream_from: 32 << 10, prefetch: false, four_parts: false };
/// assert!(plan.streams(1 << 20) && !plan.streams(4096));
/// fuzzshm::set_copy_plan(plan);
/// assert_eq!(fuzzshm::copy_plan(), plan);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyPlan {
    /// A band of sizes, `band.0..=band.1` bytes, that also stream: where a
    /// reader on another CPU fetches streamed lines from memory faster than
    /// it pulls cached ones from the writer's core. `(0, 0)`: none.
    pub band: (usize, usize),
    /// From this size on every value streams: it no longer fits the caches
    /// that would serve the reader. `usize::MAX`: never.
    pub stream_from: usize,
    /// Whether the streaming loop prefetches its source ahead with
    /// `prefetchnta`, as Go's `memmove` does.
    pub prefetch: bool,
    /// Whether the streaming loop advances four parts of the value side by
    /// side (more misses in flight) instead of one pass front to back.
    pub four_parts: bool,
}

impl CopyPlan {
    /// Never stream: `memcpy` above 128 bytes.
    pub const CACHED: CopyPlan = CopyPlan {
        band: (0, 0),
        stream_from: usize::MAX,
        prefetch: false,
        four_parts: false,
    };

    /// Whether a value of `len` bytes streams under this plan (where the
    /// CPU can stream at all).
    #[inline(always)]
    pub fn streams(&self, len: usize) -> bool {
        len >= self.stream_from || (self.band.0 <= len && len <= self.band.1 && self.band.1 > 0)
    }
}

/// A CPU as `cpuid` names it: what the table is looked up by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// `cpuid` leaf 0's vendor string, such as `AuthenticAMD` or `GenuineIntel`.
    pub vendor: [u8; 12],
    /// The display family (base family plus extended family).
    pub family: u32,
    /// The display model (with the extended model where the family has it).
    pub model: u32,
    /// Level 1 data cache per core, in KiB (0 if `cpuid` does not say).
    pub l1d_kib: u32,
    /// Level 2 cache per core, in KiB (0 if `cpuid` does not say).
    pub l2_kib: u32,
    /// Level 3 cache, in KiB (0 if `cpuid` does not say).
    pub l3_kib: u32,
}

impl Cpu {
    /// The CPU this process runs on, asked with `cpuid` at each call (the
    /// plan chosen from it is chosen once); `None` where there is no
    /// `cpuid` (not x86-64) or it cannot run (Miri).
    pub fn current() -> Option<Cpu> {
        #[cfg(fuzzshm_x86_64_simd)]
        {
            Some(super::x86_64::current_cpu())
        }
        #[cfg(not(fuzzshm_x86_64_simd))]
        {
            None
        }
    }

    /// The vendor string, or `?` if it is not text.
    pub fn vendor_str(&self) -> &str {
        core::str::from_utf8(&self.vendor).unwrap_or("?")
    }

    /// The row of [`COPY_TABLE`] for this CPU, or [`COPY_FALLBACK`].
    pub fn copy_row(&self) -> &'static CopyRow {
        COPY_TABLE
            .iter()
            .find(|row| {
                row.vendor.as_bytes() == self.vendor
                    && row.family == self.family
                    && row.models.iter().any(|m| m.contains(&self.model))
            })
            .unwrap_or(&COPY_FALLBACK)
    }
}

/// One CPU family's plan and what it rests on.
#[derive(Debug)]
pub struct CopyRow {
    /// The family's name, also the value of `FUZZSHM_COPY` that picks it.
    pub name: &'static str,
    /// The `cpuid` vendor string of the CPUs it covers.
    pub vendor: &'static str,
    /// Their display family.
    pub family: u32,
    /// Their display models.
    pub models: &'static [core::ops::RangeInclusive<u32>],
    /// The plan.
    pub plan: CopyPlan,
    /// The figures it rests on.
    pub figures: &'static str,
}

/// One row per CPU family with figures. The handoff (a reader on another
/// CPU reads the value, as a worker does) decides; see each row's figures.
pub const COPY_TABLE: &[CopyRow] = &[
    CopyRow {
        name: "zen4",
        vendor: "AuthenticAMD",
        family: 0x19,
        // Genoa/Bergamo/Siena, Raphael, Phoenix, Storm Peak.
        models: &[0x10..=0x1f, 0x60..=0x7f, 0xa0..=0xaf],
        // Up to the 1 MiB L2 the cached copy's lines stay in the writer's
        // core, and a reader's pull of them has a slow state that comes
        // and goes; streaming's worst loss is the smaller.
        plan: CopyPlan {
            band: (16 * KIB, MIB),
            stream_from: 4 * MIB,
            prefetch: true,
            four_parts: true,
        },
        figures: "BENCHMARKS.md, AMD EPYC Zen 4 (2026-12-07): streaming hands 16-256 KiB \
                  off in 0.80-0.96x of the better copy, where the cached copy read \
                  1.11-7.81x; at 512 KiB-2 MiB the cached copy's handoff has a slow \
                  state (2.5-6.6x of streaming's; one afternoon in about half the groups \
                  at 512 KiB-1 MiB, a quarter at 2 MiB), streaming loses 1.1-1.5x at \
                  512 KiB and 1.3-1.9x at 1 MiB in the fast one, 1.3-1.9x at 2 MiB; at \
                  4 MiB each won on one day (streaming 1.06-1.22x, the cached copy \
                  1.1-1.5x), and against Go streaming read 0.79-1.46x, the cached copy \
                  1.14-1.80x; four parts beat one pass there (0.90-0.94x of the better \
                  copy against 0.93-1.12x); at 64 MiB four parts \
                  with prefetchnta wrote in 0.75-0.84x of Go's time, one pass with it \
                  0.96-1.04x, one pass without 0.87-1.00x",
    },
    CopyRow {
        name: "zen3",
        vendor: "AuthenticAMD",
        family: 0x19,
        // Milan, Vermeer, Cezanne, Rembrandt and the other Zen 3 parts.
        models: &[0x00..=0x0f, 0x20..=0x5f],
        plan: CopyPlan {
            band: (16 * KIB, 256 * KIB),
            stream_from: 8 * MIB,
            prefetch: true,
            four_parts: true,
        },
        figures: "BENCHMARKS.md, AMD EPYC Zen 3 (2026-11-26, 0fce0fe): streaming handed \
                  64 KiB off 2.5x faster than a cached copy, 4 MiB 1.75x slower, and won from \
                  16 MiB; at 64 MiB four parts with prefetchnta took 0.82-0.85x of one \
                  pass's time and 0.83-0.85x of Go's; no figures between 256 KiB and 4 MiB, \
                  so the band is Zen 4's",
    },
    CopyRow {
        name: "xeon",
        vendor: "GenuineIntel",
        family: 6,
        // Sapphire Rapids, Emerald Rapids, Granite Rapids: the Xeon of the
        // figures had AVX-512, cldemote, 48 KiB L1d and 2 MiB L2 per core.
        models: &[0x8f..=0x8f, 0xcf..=0xcf, 0xad..=0xae],
        plan: CopyPlan {
            band: (0, 0),
            stream_from: 8 * MIB,
            prefetch: false,
            four_parts: false,
        },
        figures: "BENCHMARKS.md, Intel Xeon (2026-11-27, 5e34f80): memcpy hands 4 KiB-4 MiB \
                  off fastest (streaming 1.39-1.47x slower at 64-256 KiB, 1.09-1.14x at 4 MiB), \
                  streaming from 8 MiB (0.76x at 64 MiB); prefetchnta made 64 MiB 1.7x slower, \
                  four parts 1.8-1.95x",
    },
];

/// The plan for a CPU not in [`COPY_TABLE`]: where the families measured
/// disagree, the choice whose harm on the family it does not suit is the
/// smaller. From 8 MiB every family streams, so the fallback does. At
/// 16-256 KiB the two disagree about evenly (streaming costs the Xeon
/// 1.39-1.47x; the cached copy costs Zen 4 1.2-2.15x at 64 KiB and
/// 1.27-1.42x at 256 KiB), and the cached copy is also what every other
/// size below 8 MiB and every other library does, so the fallback does not
/// stream there. In one pass and without prefetch: four parts and
/// `prefetchnta` cost the Xeon 1.7-1.95x at 64 MiB and save AMD 0.75-0.85x.
pub const COPY_FALLBACK: CopyRow = CopyRow {
    name: "fallback",
    vendor: "",
    family: 0,
    models: &[],
    plan: CopyPlan {
        band: (0, 0),
        stream_from: 8 * MIB,
        prefetch: false,
        four_parts: false,
    },
    figures: "the least harm on the rows of COPY_TABLE (see COPY_FALLBACK's documentation)",
};

/// The smallest size the plan in force may stream: one load and compare
/// keep every smaller copy off the rest of the plan. 0 until the plan is
/// chosen, so that the first copy that could stream chooses it.
static STREAMED_MIN: AtomicUsize = AtomicUsize::new(0);

/// The smallest size that may stream (0 if no plan was chosen yet: any
/// size may). Only x86-64 streams.
#[cfg(fuzzshm_x86_64_simd)]
#[inline(always)]
pub(crate) fn streamed_min() -> usize {
    STREAMED_MIN.load(Ordering::Relaxed)
}

/// The plan in force, once chosen: `STREAM_FROM` 0 means not yet.
static STREAM_FROM: AtomicUsize = AtomicUsize::new(0);
static BAND_MIN: AtomicUsize = AtomicUsize::new(0);
static BAND_MAX: AtomicUsize = AtomicUsize::new(0);
/// [`PREFETCH`] and [`FOUR_PARTS`].
static FLAGS: AtomicU8 = AtomicU8::new(0);
const PREFETCH: u8 = 1;
const FOUR_PARTS: u8 = 2;

/// Makes `plan` the one `set_value` uses from now on, in every thread,
/// over the table and `FUZZSHM_COPY`. A copy running meanwhile in another
/// thread may use either plan; both copy every byte. Call it before the
/// first `set_value` of more than 128 bytes: a first copy racing with it
/// in another thread chooses the CPU's plan and may store it last.
pub fn set_copy_plan(plan: CopyPlan) {
    BAND_MIN.store(plan.band.0, Ordering::Relaxed);
    BAND_MAX.store(plan.band.1, Ordering::Relaxed);
    let flags =
        if plan.prefetch { PREFETCH } else { 0 } | if plan.four_parts { FOUR_PARTS } else { 0 };
    FLAGS.store(flags, Ordering::Relaxed);
    // 0 is "not chosen"; from 0 and from 1 stream the same sizes.
    STREAM_FROM.store(plan.stream_from.max(1), Ordering::Release);
    let band_min = match plan.band {
        (_, 0) => usize::MAX,
        (min, _) => min,
    };
    STREAMED_MIN.store(band_min.min(plan.stream_from), Ordering::Relaxed);
}

/// The plan `set_value` uses: the one [`set_copy_plan`] set, or else,
/// chosen at the first call, the one the `FUZZSHM_COPY` environment
/// variable names (`std` builds; read once), or else the table's row for
/// [`Cpu::current`] ([`COPY_FALLBACK`] for an unknown CPU or none).
///
/// `FUZZSHM_COPY` is a row's name (`zen4`, `zen3`, `xeon`, `fallback`) or
/// `cached` (never stream), then, separated by commas and applied in
/// order: `band=MIN-MAX`, `from=SIZE` or `from=never`, `prefetch` or
/// `no-prefetch`, `four-parts` or `one-pass`; sizes in bytes or with a `K`
/// or `M` suffix. Settings without a name first apply to the cached plan:
/// `FUZZSHM_COPY=from=16M,prefetch`. A value that does not parse is
/// ignored, as glibc ignores a tunable it does not know.
#[inline]
pub fn copy_plan() -> CopyPlan {
    let stream_from = STREAM_FROM.load(Ordering::Acquire);
    if stream_from == 0 {
        return choose();
    }
    CopyPlan {
        band: (
            BAND_MIN.load(Ordering::Relaxed),
            BAND_MAX.load(Ordering::Relaxed),
        ),
        stream_from,
        prefetch: FLAGS.load(Ordering::Relaxed) & PREFETCH != 0,
        four_parts: FLAGS.load(Ordering::Relaxed) & FOUR_PARTS != 0,
    }
}

#[cold]
fn choose() -> CopyPlan {
    let plan = from_env().unwrap_or_else(|| match Cpu::current() {
        Some(cpu) => cpu.copy_row().plan,
        None => COPY_FALLBACK.plan,
    });
    set_copy_plan(plan);
    plan
}

#[cfg(feature = "std")]
fn from_env() -> Option<CopyPlan> {
    named(std::env::var("FUZZSHM_COPY").ok()?.trim())
}

#[cfg(not(feature = "std"))]
fn from_env() -> Option<CopyPlan> {
    None
}

/// The plan a `FUZZSHM_COPY` value names: a row's name or `cached`, then
/// any of `band=MIN-MAX`, `from=SIZE` (or `from=never`), `prefetch`,
/// `no-prefetch`, `four-parts`, `one-pass`, separated by commas and applied
/// in order (sizes in bytes, or with a `K` or `M` suffix); with no name
/// first, they apply to [`CopyPlan::CACHED`]. `None` if any part is not
/// one of these.
#[cfg(any(feature = "std", test))]
fn named(value: &str) -> Option<CopyPlan> {
    let mut parts = value.split(',').map(str::trim).peekable();
    let first = parts.peek().copied()?;
    let mut plan = if first == "cached" {
        CopyPlan::CACHED
    } else if let Some(row) = COPY_TABLE
        .iter()
        .chain([&COPY_FALLBACK])
        .find(|row| row.name == first)
    {
        row.plan
    } else {
        return parts.try_fold(CopyPlan::CACHED, apply);
    };
    parts.next();
    for part in parts {
        plan = apply(plan, part)?;
    }
    Some(plan)
}

/// `plan` with one setting of `FUZZSHM_COPY` applied.
#[cfg(any(feature = "std", test))]
fn apply(mut plan: CopyPlan, setting: &str) -> Option<CopyPlan> {
    match setting.split_once('=') {
        Some(("band", range)) => {
            let (min, max) = range.split_once('-')?;
            plan.band = (size(min)?, size(max)?);
        }
        Some(("from", "never")) => plan.stream_from = usize::MAX,
        Some(("from", from)) => plan.stream_from = size(from)?,
        None if setting == "prefetch" => plan.prefetch = true,
        None if setting == "no-prefetch" => plan.prefetch = false,
        None if setting == "four-parts" => plan.four_parts = true,
        None if setting == "one-pass" => plan.four_parts = false,
        _ => return None,
    }
    Some(plan)
}

/// A size: bytes, or KiB or MiB with a `K` or `M` suffix.
#[cfg(any(feature = "std", test))]
fn size(text: &str) -> Option<usize> {
    let (digits, unit) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], KIB),
        b'M' | b'm' => (&text[..text.len() - 1], MIB),
        _ => (text, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(vendor: &str, family: u32, model: u32) -> Cpu {
        Cpu {
            vendor: vendor.as_bytes().try_into().unwrap(),
            family,
            model,
            l1d_kib: 0,
            l2_kib: 0,
            l3_kib: 0,
        }
    }

    /// Each family with figures gets its row, on the signatures of the
    /// machines measured (and a sibling model); anything else the fallback.
    #[test]
    fn the_table_picks_the_row_of_each_cpu_signature() {
        let cases = [
            (cpu("AuthenticAMD", 25, 17), "zen4"), // EPYC Genoa, this project's Zen 4
            (cpu("AuthenticAMD", 25, 0x61), "zen4"), // Ryzen 7000
            (cpu("AuthenticAMD", 25, 1), "zen3"),  // EPYC Milan, the Zen 3 of BENCHMARKS.md
            (cpu("AuthenticAMD", 25, 0x21), "zen3"), // Ryzen 5000
            (cpu("GenuineIntel", 6, 0x8f), "xeon"), // Sapphire Rapids
            (cpu("GenuineIntel", 6, 0xcf), "xeon"), // Emerald Rapids
            (cpu("GenuineIntel", 6, 0xad), "xeon"), // Granite Rapids
            (cpu("GenuineIntel", 6, 0x55), "fallback"), // Cascade Lake: no figures
            (cpu("AuthenticAMD", 26, 0x02), "fallback"), // Zen 5: no figures
            (cpu("AuthenticAMD", 23, 0x31), "fallback"), // Zen 2
            (cpu("HygonGenuine", 24, 0), "fallback"),
        ];
        for (cpu, row) in cases {
            assert_eq!(cpu.copy_row().name, row, "{cpu:?}");
        }
    }

    /// Each row streams where its figures say streaming hands off faster.
    #[test]
    fn each_row_streams_where_its_figures_favour_it() {
        let row = |name| named(name).unwrap();
        let (zen4, zen3, xeon) = (row("zen4"), row("zen3"), row("xeon"));
        for size in [16 * KIB, 64 * KIB, 256 * KIB, 8 * MIB, 64 * MIB] {
            assert!(zen4.streams(size) && zen3.streams(size), "{size}");
        }
        for size in [512 * KIB, MIB, 4 * MIB] {
            assert!(zen4.streams(size) && !zen3.streams(size), "{size}");
        }
        for size in [4 * KIB, MIB + 1, 2 * MIB] {
            assert!(!zen4.streams(size) && !zen3.streams(size), "{size}");
        }
        for size in [4 * KIB, 64 * KIB, 256 * KIB, MIB, 4 * MIB] {
            assert!(!xeon.streams(size), "{size}");
        }
        assert!(xeon.streams(8 * MIB) && !xeon.prefetch && zen4.prefetch);
        assert!(!CopyPlan::CACHED.streams(usize::MAX - 1));
        assert_eq!(named("cached"), Some(CopyPlan::CACHED));
        assert_eq!(named("fallback"), Some(COPY_FALLBACK.plan));
        assert_eq!(named("zen5"), None);
    }

    #[test]
    fn fuzzshm_copy_names_a_row_or_settings() {
        let zen4 = named("zen4").unwrap();
        assert_eq!(
            named("zen4 , from=16M"),
            Some(CopyPlan {
                stream_from: 16 * MIB,
                ..zen4
            })
        );
        assert_eq!(
            named("band=4K-64k,from=never,prefetch,four-parts"),
            Some(CopyPlan {
                band: (4 * KIB, 64 * KIB),
                stream_from: usize::MAX,
                prefetch: true,
                four_parts: true,
            })
        );
        assert_eq!(named("xeon,no-prefetch,one-pass"), named("xeon"));
        assert_eq!(
            named("from=1048576"),
            Some(CopyPlan {
                stream_from: MIB,
                ..CopyPlan::CACHED
            })
        );
        for bad in [
            "",
            "zen4,fast",
            "band=4K",
            "from=lots",
            "from=99999999999999999999M",
        ] {
            assert_eq!(named(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_band_of_none_streams_nothing_below_stream_from() {
        let plan = CopyPlan {
            stream_from: 100,
            ..CopyPlan::CACHED
        };
        assert!(!plan.streams(0) && !plan.streams(99) && plan.streams(100));
    }
}
