//! How `set_value` copies an input into shared memory.
//!
//! The copy is chosen for the handoff: a value is written for a worker on
//! another CPU to read, and how it was written decides what the reader
//! pays. Where that and the write alone disagree, the handoff wins. Three
//! kinds of copy:
//!
//! - up to [`SMALL_MAX`] (128 bytes), register loads and stores
//!   (`copy_small`), overlapping chunks from both ends: a `memcpy` call
//!   (through the PLT, then its size dispatch) costs as much as the copy;
//! - the sizes the [`CopyPlan`] in force streams, on x86-64 with AVX: one
//!   pass of non-temporal (streaming) stores (`x86_64.rs`), which go to
//!   memory, where the reader's prefetchers fetch them at full speed,
//!   instead of sitting dirty in the writer's core for the reader to pull
//!   across line by line; and for values past the caches, without the
//!   read-for-ownership of every destination line that cached stores make;
//! - every other size, `memcpy`.
//!
//! Which sizes stream differs from CPU to CPU (the figures flipped between
//! the project's machines), so the plan is chosen at run time, once, for
//! the CPU at hand (`plan.rs`: the table, its figures, the fallback and
//! the overrides). `BENCHMARKS.md` has the figures.
//!
//! The streaming loop and the CPU's identification are in `x86_64.rs`,
//! built where the crate's `fuzzshm_x86_64_simd` cfg is set (`build.rs`:
//! x86-64, not under Miri).
//!
//! Every limit is inclusive: a `*_MIN` is the first size of its range, a
//! `*_MAX` the last.

use core::ptr;

pub(crate) mod plan;
#[cfg(fuzzshm_x86_64_simd)]
mod x86_64;

#[cfg(test)]
use plan::CopyPlan;
use static_assertions::const_assert_eq;

/// Runs `before_stores`, then copies `len` bytes from `src` to `dst`. Every
/// byte is globally visible, in order before any later store, when this
/// returns (the streaming path fences its weakly-ordered stores with
/// `sfence`; `memcpy` fences its own), so a release store that follows
/// publishes all of them.
///
/// A small copy loads its source *before* `before_stores` runs: that
/// closure stores to the header (`set_value` withdraws the old length), and
/// a load issued after a store to an address with the same low 12 bits (as
/// an input at the start of a page has, against the header's `valueLen` at
/// offset 8) waits on a false dependency on that store ("4K aliasing").
/// Only stores are ordered for crash consistency, so reading early is free.
///
/// # Safety
///
/// `src` must be valid for reads and `dst` for writes of `len` bytes, and
/// the two ranges must not overlap.
// Always inlined, into an always-inlined `set_value`: the small path is a
// handful of instructions, and the large paths call out of line anyway.
#[inline(always)]
pub(crate) unsafe fn copy_to_shared(
    src: *const u8,
    dst: *mut u8,
    len: usize,
    before_stores: impl FnOnce(),
) {
    if len <= SMALL_MAX {
        // SAFETY: the caller's contract, and `len <= SMALL_MAX`.
        unsafe { copy_small(src, dst, len, before_stores) };
        return;
    }
    before_stores();
    // SAFETY: the caller's contract, and `len > SMALL_MAX`.
    unsafe { copy_large(src, dst, len) };
}

/// The copy of more than [`SMALL_MAX`] bytes: streamed where the plan in
/// force says so and the CPU can, else `memcpy`.
///
/// # Safety
///
/// As for [`copy_to_shared`], and `len > SMALL_MAX`.
#[inline(always)]
unsafe fn copy_large(src: *const u8, dst: *mut u8, len: usize) {
    #[cfg(fuzzshm_x86_64_simd)]
    // SAFETY: the caller's contract.
    if len >= plan::streamed_min() && unsafe { stream_planned(src, dst, len) } {
        return;
    }
    // SAFETY: the caller's contract.
    unsafe { ptr::copy_nonoverlapping(src, dst, len) };
}

/// Streams the copy if the plan in force (chosen now if it was not yet)
/// says so and the CPU can, and says whether it did. Out of line: only
/// sizes the plan may stream come here.
///
/// # Safety
///
/// As for [`copy_to_shared`], and `len > SMALL_MAX`.
#[cfg(fuzzshm_x86_64_simd)]
#[inline(never)]
unsafe fn stream_planned(src: *const u8, dst: *mut u8, len: usize) -> bool {
    let plan = plan::copy_plan();
    // SAFETY: the caller's contract.
    plan.streams(len) && unsafe { x86_64::stream(src, dst, len, &plan) }
}

/// [`copy_large`] under `plan`.
///
/// # Safety
///
/// As for [`copy_to_shared`], and `len > SMALL_MAX`.
#[cfg(test)]
unsafe fn copy_planned(src: *const u8, dst: *mut u8, len: usize, plan: plan::CopyPlan) {
    #[cfg(fuzzshm_x86_64_simd)]
    // SAFETY: the caller's contract.
    if plan.streams(len) && unsafe { x86_64::stream(src, dst, len, &plan) } {
        return;
    }
    #[cfg(not(fuzzshm_x86_64_simd))]
    let _ = plan; // nothing streams here
                  // SAFETY: the caller's contract.
    unsafe { ptr::copy_nonoverlapping(src, dst, len) };
}

/// [`copy_to_shared`] under `plan`, with nothing before the stores.
///
/// # Safety
///
/// As for [`copy_to_shared`].
#[cfg(test)]
unsafe fn copy_with_plan(src: *const u8, dst: *mut u8, len: usize, plan: plan::CopyPlan) {
    if len <= SMALL_MAX {
        // SAFETY: the caller's contract, and `len <= SMALL_MAX`.
        unsafe { copy_small(src, dst, len, || {}) };
    } else {
        // SAFETY: the caller's contract, and `len > SMALL_MAX`.
        unsafe { copy_planned(src, dst, len, plan) };
    }
}

/// Up to this size a copy is loads and stores from both ends, with no
/// `memcpy` call (through the PLT, then its size dispatch, which costs
/// about as much as the copy of 64 bytes). Inline in 16-byte chunks up to
/// 64 B; from 65 B, where the CPU has AVX, 32-byte chunks in a function of
/// their own (`x86_64::copy_ends_avx`: half the stores), else inline
/// 16-byte ones. Not above 128 B: on AMD Zen 4 the 32-byte chunks from both
/// ends took 1.05-1.25x of a plain copy at 129-256 B, `memcpy` 1.03-1.10x
/// at 257 B in the same runs (`BENCHMARKS.md`).
pub(crate) const SMALL_MAX: usize = 128;

/// A chunk of an inline copy: a 16-byte vector register on x86-64 (SSE2
/// is part of its baseline), where a `u128` would travel as two 8-byte
/// integer moves; a `u128` elsewhere.
#[cfg(target_arch = "x86_64")]
type Chunk = core::arch::x86_64::__m128i;
#[cfg(not(target_arch = "x86_64"))]
type Chunk = u128;

/// A chunk of zeroes, to start the arrays of `copy_end_chunks` with.
// SAFETY: every bit pattern, zero included, is a valid `u128` or `__m128i`.
const ZERO: Chunk = unsafe { core::mem::zeroed() };

/// The bytes of a [`Chunk`].
const CHUNK: usize = 16;
const_assert_eq!(core::mem::size_of::<Chunk>(), CHUNK);

/// Copies `len <= SMALL_MAX` bytes as overlapping chunks from both
/// ends, for the largest chunk that fits, all loaded before
/// `before_stores` runs. The chunks are registers, not byte arrays, so they
/// stay in registers across `before_stores` (a compiler fence).
///
/// # Safety
///
/// As for [`copy_to_shared`], and `len <= SMALL_MAX`.
#[inline(always)]
unsafe fn copy_small(src: *const u8, dst: *mut u8, len: usize, before_stores: impl FnOnce()) {
    // Each arm's chunks lie inside both ranges (the caller's contract): for
    // `len` in `K * CHUNK + 1..=2 * K * CHUNK` they are `K` chunks from each
    // end; otherwise `size_of::<T>() <= len` and they are [0, T) and
    // [len - T, len).
    match len {
        65..=128 => {
            #[cfg(fuzzshm_x86_64_simd)]
            if x86_64::has_avx() {
                // SAFETY: the caller's contract, `65 <= len <= 128`, and AVX
                // was just detected.
                return unsafe { x86_64::copy_ends_avx(src, dst, len, before_stores) };
            }
            // SAFETY: the caller's contract, and `4 * CHUNK = 64 < len`.
            unsafe { copy_end_chunks::<4>(src, dst, len, before_stores) }
        }
        // SAFETY: the caller's contract, and `2 * CHUNK = 32 < len`.
        33..=64 => unsafe { copy_end_chunks::<2>(src, dst, len, before_stores) },
        // SAFETY: the caller's contract, and `size_of::<Chunk>() = 16 <= len`.
        16..=32 => unsafe { copy_ends::<Chunk>(src, dst, len, before_stores) },
        // SAFETY: the caller's contract, and `size_of::<u64>() = 8 <= len`.
        8..=15 => unsafe { copy_ends::<u64>(src, dst, len, before_stores) },
        // SAFETY: the caller's contract, and `size_of::<u32>() = 4 <= len`.
        4..=7 => unsafe { copy_ends::<u32>(src, dst, len, before_stores) },
        // SAFETY: the caller's contract, and `size_of::<u16>() = 2 <= len`.
        2..=3 => unsafe { copy_ends::<u16>(src, dst, len, before_stores) },
        // SAFETY: the caller's contract, and `size_of::<u8>() = 1 = len`.
        1 => unsafe { copy_ends::<u8>(src, dst, len, before_stores) },
        _ => before_stores(),
    }
}

/// The first and the last `K` chunks: `K * CHUNK` bytes from each end.
///
/// # Safety
///
/// `K * CHUNK <= len`, and the ranges as for [`copy_to_shared`].
#[inline(always)]
unsafe fn copy_end_chunks<const K: usize>(
    src: *const u8,
    dst: *mut u8,
    len: usize,
    before_stores: impl FnOnce(),
) {
    let last = len - K * CHUNK;
    // Indexed loops over arrays of a constant length: unrolled, and the
    // arrays kept in registers (`array::from_fn` and iterators left them on
    // the stack).
    let (mut head, mut tail) = ([ZERO; K], [ZERO; K]);
    for i in 0..K {
        // SAFETY: chunk `i < K` of `[0, K * CHUNK)`, inside the source by
        // the caller's contract (`K * CHUNK <= len`).
        head[i] = unsafe { load(src, i * CHUNK) };
        // SAFETY: chunk `i < K` of `[last, len)`, the last `K * CHUNK` bytes
        // of the source.
        tail[i] = unsafe { load(src, last + i * CHUNK) };
    }
    before_stores();
    for i in 0..K {
        // SAFETY: as for `head[i]`'s load, in the destination.
        unsafe { store(dst, i * CHUNK, head[i]) };
        // SAFETY: as for `tail[i]`'s load, in the destination.
        unsafe { store(dst, last + i * CHUNK, tail[i]) };
    }
}

/// The first and the last `size_of::<T>()` bytes.
///
/// # Safety
///
/// `size_of::<T>() <= len`, and the ranges as for [`copy_to_shared`].
#[inline(always)]
unsafe fn copy_ends<T: Copy>(
    src: *const u8,
    dst: *mut u8,
    len: usize,
    before_stores: impl FnOnce(),
) {
    let last = len - core::mem::size_of::<T>();
    // SAFETY: `[0, size_of::<T>())`, inside the source by the caller's
    // contract (`size_of::<T>() <= len`).
    let head = unsafe { load::<T>(src, 0) };
    // SAFETY: `[last, len)`, the last `size_of::<T>()` bytes of the source.
    let tail = unsafe { load::<T>(src, last) };
    before_stores();
    // SAFETY: as for `head`'s load, in the destination.
    unsafe { store(dst, 0, head) };
    // SAFETY: as for `tail`'s load, in the destination.
    unsafe { store(dst, last, tail) };
}

/// # Safety
///
/// `src + at` is valid for reads of a `T`; no alignment needed.
#[inline(always)]
unsafe fn load<T: Copy>(src: *const u8, at: usize) -> T {
    // SAFETY: the caller's contract puts `src + at` in bounds.
    let from = unsafe { src.add(at) }.cast::<T>();
    // SAFETY: the caller's contract.
    unsafe { from.read_unaligned() }
}

/// # Safety
///
/// `dst + at` is valid for writes of a `T`; no alignment needed.
#[inline(always)]
unsafe fn store<T: Copy>(dst: *mut u8, at: usize, chunk: T) {
    // SAFETY: the caller's contract puts `dst + at` in bounds.
    let to = unsafe { dst.add(at) }.cast::<T>();
    // SAFETY: the caller's contract.
    unsafe { to.write_unaligned(chunk) }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    /// `(offset, size)`: sizes on both sides of [`SMALL_MAX`] and of every
    /// chunk size below it, at aligned and odd offsets.
    const SMALL_CASES: &[(usize, usize)] = &[
        (0, 0),
        (3, 1),
        (5, 2),
        (1, 3),
        (2, 4),
        (9, 7),
        (6, 8),
        (11, 15),
        (40, 16),
        (17, 31),
        (40, 32),
        (3, 33),
        (40, 64),
        (1, 65),
        (8, 100),
        (31, 127),
        (16, 128),
        (5, 129),
        (40, 200),
        (1, 255),
        (0, 256),
        (7, 257),
        (40, 300),
    ];

    /// Copies `size` bytes of `src` to `offset` in a zeroed buffer, with
    /// `plan`, and checks that exactly those bytes were written.
    fn check_copy(src: &[u8], offset: usize, size: usize, plan: CopyPlan) {
        let mut dst = alloc::vec![0u8; size + 128];
        // SAFETY: `size <= src.len()`, `offset + size` fits `dst`, and the
        // vectors are distinct.
        unsafe {
            copy_with_plan(
                src.as_ptr(),
                dst.as_mut_ptr().wrapping_add(offset),
                size,
                plan,
            );
        }
        assert_eq!(
            &dst[offset..offset + size],
            &src[..size],
            "offset {offset} size {size}"
        );
        assert!(dst[..offset].iter().all(|&b| b == 0));
        assert!(dst[offset + size..].iter().all(|&b| b == 0));
    }

    fn source(len: usize) -> alloc::vec::Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn copies_small_sizes_on_both_sides_of_every_chunk_size() {
        let src = source(512);
        for &(offset, size) in SMALL_CASES {
            check_copy(&src, offset, size, CopyPlan::CACHED);
        }
    }

    /// The 16-byte chunk copies of 65-128 B, which CPUs with AVX skip for
    /// `copy_ends_avx`: every length, at aligned and odd offsets.
    #[test]
    fn chunk_copies_write_exactly_their_range() {
        let src = source(128);
        for len in 65..=128 {
            for offset in [0, 1, 15, 40] {
                let mut dst = alloc::vec![0u8; 128 + 64];
                let to = dst[offset..].as_mut_ptr();
                // SAFETY: `len <= 128` bytes of `src`, and of `dst` from
                // `offset < 64`; distinct vectors; `4 * CHUNK <= len`.
                unsafe { copy_end_chunks::<4>(src.as_ptr(), to, len, || {}) };
                assert_eq!(&dst[offset..offset + len], &src[..len], "{len} at {offset}");
                assert!(dst[..offset]
                    .iter()
                    .chain(&dst[offset + len..])
                    .all(|&b| b == 0));
            }
        }
    }

    /// Every row's plan (and the cached one, and one that streams from the
    /// smallest size it can), at sizes on both sides of its limits, at aligned and odd offsets: the streamed sizes on x86-64
    /// with AVX, `memcpy` elsewhere.
    #[test]
    fn copies_sizes_on_both_sides_of_every_plans_limits() {
        let rows = plan::COPY_TABLE.iter().chain([&plan::COPY_FALLBACK]);
        // The last streams from the first size past the inline copies, as
        // a user's plan may: the loop then takes only sizes with room for
        // its head and tail.
        let from_smallest = CopyPlan {
            stream_from: SMALL_MAX + 1,
            ..CopyPlan::CACHED
        };
        let plans: alloc::vec::Vec<CopyPlan> = rows
            .map(|row| row.plan)
            .chain([CopyPlan::CACHED, from_smallest])
            .collect();
        let limits = |p: &CopyPlan| [p.band.0, p.band.1 + 1, p.stream_from];
        let largest = plans
            .iter()
            .flat_map(limits)
            .filter(|&l| l < usize::MAX / 2)
            .max();
        let src = source(largest.unwrap_or(0) + 200);
        for plan in &plans {
            for limit in limits(plan)
                .into_iter()
                .filter(|&l| l > SMALL_MAX && l < src.len())
            {
                for (offset, size) in [
                    (0, limit),
                    (13, limit - 1),
                    (1, limit + 1),
                    (40, limit + 127),
                ] {
                    check_copy(&src, offset, size, *plan);
                }
            }
        }
    }
}
