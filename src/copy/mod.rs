//! How `set_value` copies an input into shared memory.
//!
//! The copy is chosen for the handoff: a value is written for a worker on
//! another CPU to read, and how it was written decides what the reader
//! pays. Where that and the write alone disagree, the handoff wins.
//! `BENCHMARKS.md`, "Why these thresholds", has the figures and the
//! machine. Three ranges:
//!
//! - up to [`SMALL_MAX`] (64 bytes), a few register loads and stores
//!   inline (`copy_small`): a `memcpy` call costs as much as the copy;
//! - up to 8 MiB, `memcpy`: glibc's vector moves up to 2112 bytes, then
//!   `rep movsb`, which writes whole lines without reading them first and
//!   so does not pull them back from the reader's cache (a hand-written
//!   AVX loop, faster for the write alone between 2 and 4 KiB, handed off
//!   4 KiB 1.04-1.16x slower and 16 KiB 1.14x);
//! - from 8 MiB on, on x86-64 with AVX, one pass of non-temporal
//!   (streaming) stores (`x86_64.rs`): the input no longer fits in the
//!   cache, so plain stores would read every destination line first
//!   (read-for-ownership) and then evict it, doubling the memory traffic,
//!   and the reader fetches the lines from memory at full speed either
//!   way. Elsewhere, `memcpy` again.
//!
//! The streaming loop, its limit and the CPU detection are in
//! `x86_64.rs`, built where the crate's `fuzzshm_x86_64_simd` cfg is set
//! (`build.rs`: x86-64, not under Miri).
//!
//! Every limit is inclusive: a `*_MIN` is the first size of its range, a
//! `*_MAX` the last.

use core::ptr;

#[cfg(fuzzshm_x86_64_simd)]
mod x86_64;

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
    #[cfg(fuzzshm_x86_64_simd)]
    // SAFETY: the caller's contract.
    if unsafe { x86_64::stream_if_large(src, dst, len) } {
        return;
    }
    // SAFETY: the caller's contract.
    unsafe { ptr::copy_nonoverlapping(src, dst, len) };
}

/// Up to this size a copy is a few loads and stores inline: calling
/// `memcpy` (through the PLT, then its size dispatch) costs about as much
/// as copying 64 bytes.
pub(crate) const SMALL_MAX: usize = 64;

/// Copies `len <= SMALL_MAX` bytes as overlapping chunks from both
/// ends, for the largest chunk that fits, all loaded before
/// `before_stores` runs. The chunks are integers, not byte arrays, so they
/// stay in registers across `before_stores` (a compiler fence).
///
/// # Safety
///
/// As for [`copy_to_shared`], and `len <= SMALL_MAX`.
#[inline(always)]
unsafe fn copy_small(src: *const u8, dst: *mut u8, len: usize, before_stores: impl FnOnce()) {
    // SAFETY: in every arm each chunk lies inside both ranges: for `len`
    // in 33..=64 the chunks are [0, 32) and [len - 32, len); otherwise
    // `size_of::<T>() <= len` and they are [0, T) and [len - T, len).
    unsafe {
        match len {
            33..=64 => {
                let (head, tail) = (load::<u128>(src, 0), load::<u128>(src, 16));
                let last = len - 32;
                let (head2, tail2) = (load::<u128>(src, last), load::<u128>(src, last + 16));
                before_stores();
                store(dst, 0, head);
                store(dst, 16, tail);
                store(dst, last, head2);
                store(dst, last + 16, tail2);
            }
            16..=32 => copy_ends::<u128>(src, dst, len, before_stores),
            8..=15 => copy_ends::<u64>(src, dst, len, before_stores),
            4..=7 => copy_ends::<u32>(src, dst, len, before_stores),
            2..=3 => copy_ends::<u16>(src, dst, len, before_stores),
            1 => copy_ends::<u8>(src, dst, len, before_stores),
            _ => before_stores(),
        }
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
    // SAFETY: the caller's contract.
    unsafe {
        let (head, tail) = (load::<T>(src, 0), load::<T>(src, last));
        before_stores();
        store(dst, 0, head);
        store(dst, last, tail);
    }
}

/// # Safety
///
/// `src + at` is valid for reads of a `T`; no alignment needed.
#[inline(always)]
unsafe fn load<T: Copy>(src: *const u8, at: usize) -> T {
    // SAFETY: the caller's contract.
    unsafe { src.add(at).cast::<T>().read_unaligned() }
}

/// # Safety
///
/// `dst + at` is valid for writes of a `T`; no alignment needed.
#[inline(always)]
unsafe fn store<T: Copy>(dst: *mut u8, at: usize, chunk: T) {
    // SAFETY: the caller's contract.
    unsafe { dst.add(at).cast::<T>().write_unaligned(chunk) }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    /// `(offset, size)`: sizes on both sides of [`SMALL_MAX`] and of every
    /// chunk size below it, and one `memcpy` size, at aligned and odd
    /// offsets. `x86_64::THRESHOLD_CASES` adds the streaming limit where
    /// it exists.
    const SMALL_CASES: &[(usize, usize)] = &[
        (40, 100),
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
    ];

    #[test]
    fn copies_sizes_on_both_sides_of_every_threshold() {
        #[cfg(fuzzshm_x86_64_simd)]
        let cases = x86_64::THRESHOLD_CASES.iter().chain(SMALL_CASES);
        #[cfg(not(fuzzshm_x86_64_simd))]
        let cases = SMALL_CASES.iter();
        let len = cases.clone().map(|&(_, size)| size).max().unwrap_or(0);
        let src: alloc::vec::Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        for &(offset, size) in cases {
            let mut dst = alloc::vec![0u8; len + 64];
            // SAFETY: `size <= len`, `offset < 64`, and the vectors are distinct.
            unsafe { copy_to_shared(src.as_ptr(), dst.as_mut_ptr().add(offset), size, || {}) };
            assert_eq!(
                &dst[offset..offset + size],
                &src[..size],
                "offset {offset} size {size}"
            );
            assert!(dst[..offset].iter().all(|&b| b == 0));
            assert!(dst[offset + size..].iter().all(|&b| b == 0));
        }
    }
}
