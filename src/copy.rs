//! How `set_value` copies an input into shared memory.
//!
//! Five ranges, measured on this project's machines (AMD EPYC, Zen 3,
//! glibc 2.36; `BENCHMARKS.md` has the numbers):
//!
//! - up to 64 bytes, a few register loads and stores inline: a `memcpy`
//!   call costs as much as the copy;
//! - up to 256 bytes, `memcpy`;
//! - from 256 bytes to 512 KiB, on x86-64 with AVX, a loop of 32-byte
//!   vector moves, as Go's `memmove` has from 256 bytes: it took 0.72-0.96x
//!   of `memcpy`'s time at 512 bytes and 1 KiB (the call and glibc's size
//!   dispatch), and 0.52-0.80x from 2 KiB to 4 KiB, where glibc switches to
//!   `rep movsb` (at 2112 bytes on this CPU);
//! - from 512 KiB to 8 MiB, `memcpy` again: glibc leaves `rep movsb` at
//!   the L2 size for a vector loop of its own, which ties with this one;
//! - from 8 MiB on, a loop with non-temporal (streaming) stores: the input
//!   no longer fits in the cache anyway, the writer does not read it back,
//!   and the reader is another process, so plain stores would first read
//!   every destination line into the cache (read-for-ownership) and then
//!   evict it, doubling the memory traffic; Go streams from 1 MiB, glibc
//!   (here) only from 192 MiB. Below 8 MiB the cached copy wins, and leaves
//!   the input in the cache for the worker.

use core::ptr;

/// From this size on the AVX loop beats `memcpy`.
#[cfg_attr(not(all(target_arch = "x86_64", not(miri))), allow(dead_code))]
pub(crate) const VECTOR_THRESHOLD: usize = 256;

/// From this size up to [`STREAMING_THRESHOLD`], `memcpy` is back: the
/// copy outgrows L2, and glibc's own loop there ties with ours.
#[cfg_attr(not(all(target_arch = "x86_64", not(miri))), allow(dead_code))]
pub(crate) const VECTOR_END: usize = 512 << 10;

/// From this size on a copy streams past the cache: it is a quarter of a
/// typical server L3, where streaming and the cached loop break even.
#[cfg_attr(not(all(target_arch = "x86_64", not(miri))), allow(dead_code))]
pub(crate) const STREAMING_THRESHOLD: usize = 8 << 20;

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
    if len <= SMALL_COPY_MAX {
        // SAFETY: the caller's contract.
        unsafe { copy_small(src, dst, len, before_stores) };
        return;
    }
    before_stores();
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if (VECTOR_THRESHOLD..VECTOR_END).contains(&len) && x86_64::has_avx() {
        // SAFETY: the caller's contract; AVX was just detected, and
        // `len >= VECTOR_THRESHOLD >= 2 * BLOCK` (asserted at compile time).
        unsafe { x86_64::copy_avx::<false>(src, dst, len) };
        return;
    }
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if len >= STREAMING_THRESHOLD && x86_64::has_avx() {
        // SAFETY: as above, with `STREAMING_THRESHOLD >= 2 * BLOCK`.
        unsafe { x86_64::copy_avx::<true>(src, dst, len) };
        return;
    }
    // SAFETY: the caller's contract.
    unsafe { ptr::copy_nonoverlapping(src, dst, len) };
}

/// Up to this size a copy is a few loads and stores inline: calling
/// `memcpy` (through the PLT, then its size dispatch) costs about as much
/// as copying 64 bytes.
pub(crate) const SMALL_COPY_MAX: usize = 64;

/// Copies `len <= SMALL_COPY_MAX` bytes as overlapping chunks from both
/// ends, for the largest chunk that fits, all loaded before
/// `before_stores` runs. The chunks are integers, not byte arrays, so they
/// stay in registers across `before_stores` (a compiler fence).
///
/// # Safety
///
/// As for [`copy_to_shared`], and `len <= SMALL_COPY_MAX`.
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

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod x86_64 {
    use core::arch::x86_64::{
        __cpuid, __m256i, _mm256_loadu_si256, _mm256_store_si256, _mm256_storeu_si256,
        _mm256_stream_si256, _mm_prefetch, _mm_sfence, _xgetbv, _MM_HINT_NTA,
    };
    use core::sync::atomic::{AtomicU8, Ordering};

    use static_assertions::const_assert;

    /// Whether the CPU has AVX and the kernel saves its registers; asked
    /// once, with `cpuid` and `xgetbv` (no `std`, so no
    /// `is_x86_feature_detected!`).
    #[inline]
    pub(super) fn has_avx() -> bool {
        const UNKNOWN: u8 = 0;
        const ABSENT: u8 = 1;
        const PRESENT: u8 = 2;
        static AVX: AtomicU8 = AtomicU8::new(UNKNOWN);
        match AVX.load(Ordering::Relaxed) {
            UNKNOWN => {
                let present = detect_avx();
                AVX.store(if present { PRESENT } else { ABSENT }, Ordering::Relaxed);
                present
            }
            known => known == PRESENT,
        }
    }

    #[cold]
    fn detect_avx() -> bool {
        const OSXSAVE: u32 = 1 << 27;
        const AVX: u32 = 1 << 28;
        // XCR0 bits 1 and 2: the OS saves SSE and AVX state on a switch.
        const SSE_AND_AVX_STATE: u64 = 0b110;
        #[allow(unused_unsafe)] // `__cpuid` is unsafe at our MSRV, safe in newer Rust
        // SAFETY: `cpuid` exists on every x86-64 CPU, and leaf 1 always.
        let features = unsafe { __cpuid(1) }.ecx;
        // SAFETY: OSXSAVE says the OS enabled `xgetbv`, which `xgetbv0` needs.
        features & (OSXSAVE | AVX) == OSXSAVE | AVX
            && unsafe { xgetbv0() } & SSE_AND_AVX_STATE == SSE_AND_AVX_STATE
    }

    /// # Safety
    ///
    /// The CPU supports `xgetbv` (CPUID.1:ECX.OSXSAVE).
    #[target_feature(enable = "xsave")]
    unsafe fn xgetbv0() -> u64 {
        // SAFETY: the caller's contract.
        unsafe { _xgetbv(0) }
    }

    /// The bytes one step of the vector loop moves: four 32-byte lanes.
    const BLOCK: usize = 128;

    // `copy_avx` needs room for its head and tail.
    const_assert!(super::VECTOR_THRESHOLD >= 2 * BLOCK);
    const_assert!(super::STREAMING_THRESHOLD >= 2 * BLOCK);

    /// The vector copy, for `len >= VECTOR_THRESHOLD`: whole blocks of 128
    /// bytes aligned to `dst`, with cached stores ([`cached_blocks`]) or
    /// streaming ones ([`streamed_blocks`]) as `STREAM` says. The unaligned
    /// first 32 and last 128 bytes are loaded up front and stored at the
    /// end, over the blocks' edges, as Go's `memmove` does: two `memcpy`
    /// calls for the head and the tail cost 3-5% of a 4 KiB copy.
    ///
    /// # Safety
    ///
    /// As for [`copy_to_shared`](super::copy_to_shared), `len >= 2 *
    /// BLOCK`, and the CPU has AVX.
    #[target_feature(enable = "avx")]
    #[inline(never)]
    pub(super) unsafe fn copy_avx<const STREAM: bool>(src: *const u8, dst: *mut u8, len: usize) {
        // The blocks start at the first 32-byte boundary of `dst` past its
        // first byte: `body` in 1..=32, inside the head's 32 bytes.
        let body = 32 - (dst as usize & 31);
        let blocks = (len - body) / BLOCK;
        // SAFETY: `len >= 2 * BLOCK`, so the first 32 and the last BLOCK
        // bytes are inside the source.
        let (head, tail) = unsafe {
            (
                _mm256_loadu_si256(src.cast()),
                load_block(src.add(len - BLOCK)),
            )
        };
        // Every byte is written: the head covers `[0, body)` (`body <= 32`),
        // the blocks `[body, body + blocks * BLOCK)`, and the tail the rest,
        // fewer than BLOCK bytes before `len`.
        // SAFETY: `body + blocks * BLOCK <= len`, so every block is inside
        // both ranges, and `dst + body` is 32-byte aligned. `blocks >= 1`
        // since `len - body >= 2 * BLOCK - 32`.
        unsafe {
            if STREAM {
                streamed_blocks(src.add(body), dst.add(body), blocks);
            } else {
                cached_blocks(src.add(body), dst.add(body), blocks);
            }
        }
        // SAFETY: the first 32 and the last BLOCK bytes of the destination,
        // unaligned stores; they rewrite the blocks' edge bytes with the
        // same values.
        unsafe {
            _mm256_storeu_si256(dst.cast(), head);
            let end = dst.add(len - BLOCK).cast::<__m256i>();
            for (i, lane) in tail.into_iter().enumerate() {
                _mm256_storeu_si256(end.add(i), lane);
            }
        }
    }

    /// Copies `blocks >= 1` blocks with cached stores, each step loading
    /// the next block before it stores the current one. A load issued
    /// after a store to an address with the same low 12 bits waits for
    /// that store (4K aliasing), and when `dst` sits just past `src` modulo
    /// 4 KiB, the bytes a step loads alias the bytes the previous step
    /// stored: with the input at page offset 4056, 80 bytes before the
    /// value area modulo 4 KiB, a 128 KiB copy took 0.90x of the time of
    /// `memcpy` with the plain loop and 0.70x loading one block ahead, here.
    ///
    /// # Safety
    ///
    /// `blocks >= 1`; `src` and `dst` are valid for `blocks * BLOCK` bytes,
    /// do not overlap, and `dst` is 32-byte aligned; the CPU has AVX.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn cached_blocks(src: *const u8, dst: *mut u8, blocks: usize) {
        // SAFETY: every block below `blocks`, inside both ranges; `dst`
        // stays 32-byte aligned in steps of BLOCK.
        unsafe {
            let mut current = load_block(src);
            for block in 1..blocks {
                let at = block * BLOCK;
                let next = load_block(src.add(at));
                store_block(dst.add(at - BLOCK), current);
                current = next;
            }
            store_block(dst.add((blocks - 1) * BLOCK), current);
        }
    }

    /// How many parts of a streamed copy advance side by side.
    const STREAMS: usize = 4;

    /// Copies `blocks` blocks with streaming stores, then `sfence`s, so
    /// the weakly-ordered stores come before whatever the caller stores
    /// next. The blocks are split in [`STREAMS`] parts copied side by side,
    /// a block of each in turn: one sequential stream (Go's loop) leaves
    /// the memory system idle between its misses, and four kept more of
    /// them in flight; a 64 MiB copy took 0.82-0.85x of the time with one
    /// stream, here (three streams 0.83-0.89x, eight 0.83-0.93x).
    ///
    /// # Safety
    ///
    /// As for [`cached_blocks`].
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn streamed_blocks(src: *const u8, dst: *mut u8, blocks: usize) {
        let part = blocks / STREAMS;
        // SAFETY: every index is below `blocks` (`stream * part + step <
        // STREAMS * part <= blocks`, then the leftover ones), so its block
        // is inside both ranges and aligned: the caller's contract.
        unsafe {
            for step in 0..part {
                for stream in 0..STREAMS {
                    stream_block(src, dst, stream * part + step);
                }
            }
            for block in STREAMS * part..blocks {
                stream_block(src, dst, block);
            }
        }
        // `_mm_sfence` is unsafe at our MSRV, safe here in newer Rust.
        #[allow(unused_unsafe)]
        // SAFETY: `sfence` has no memory-safety preconditions; SSE is part
        // of the x86-64 baseline.
        unsafe {
            _mm_sfence()
        };
    }

    /// Block number `block` of a streamed copy, and a prefetch past the
    /// cache of the source 448 and 640 bytes ahead (Go's distances; with
    /// four parts in turn they are four times as far ahead in time, which
    /// measured as good as anything tried).
    ///
    /// # Safety
    ///
    /// `src` and `dst` are valid for `(block + 1) * BLOCK` bytes and do not
    /// overlap, `dst` is 32-byte aligned; the CPU has AVX.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn stream_block(src: *const u8, dst: *mut u8, block: usize) {
        let at = block * BLOCK;
        // `_mm_prefetch` is unsafe at our MSRV, safe here in newer Rust.
        #[allow(unused_unsafe)]
        // SAFETY: a prefetch never faults, so its address may run past the
        // end (hence `wrapping_add`).
        unsafe {
            _mm_prefetch::<_MM_HINT_NTA>(src.wrapping_add(at + 448).cast());
            _mm_prefetch::<_MM_HINT_NTA>(src.wrapping_add(at + 640).cast());
        }
        // SAFETY: the block is inside both ranges (the caller's contract),
        // and `dst + at` is 32-byte aligned, as `vmovntdq` needs.
        unsafe {
            let to = dst.add(at).cast::<__m256i>();
            for (i, lane) in load_block(src.add(at)).into_iter().enumerate() {
                _mm256_stream_si256(to.add(i), lane);
            }
        }
    }

    /// # Safety
    ///
    /// `from` is valid for reads of `BLOCK` bytes; the CPU has AVX.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn load_block(from: *const u8) -> [__m256i; 4] {
        let from = from.cast::<__m256i>();
        // SAFETY: the caller's contract; the loads are unaligned ones.
        [0, 1, 2, 3].map(|i| unsafe { _mm256_loadu_si256(from.add(i)) })
    }

    /// # Safety
    ///
    /// `to` is valid for writes of `BLOCK` bytes and 32-byte aligned; the
    /// CPU has AVX.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn store_block(to: *mut u8, lanes: [__m256i; 4]) {
        let to = to.cast::<__m256i>();
        for (i, lane) in lanes.into_iter().enumerate() {
            // SAFETY: the caller's contract; `to + 32 * i` stays aligned.
            unsafe { _mm256_store_si256(to.add(i), lane) };
        }
    }

    #[cfg(all(test, feature = "alloc"))]
    mod tests {
        use super::*;

        /// Every length with few blocks (where the head, the tail, the
        /// leftover streamed blocks and the blocks overlap most) at every
        /// destination alignment, cached and streamed.
        #[test]
        fn vector_copy_writes_exactly_its_range() {
            if !has_avx() {
                return; // the copy is never called without AVX
            }
            let src: alloc::vec::Vec<u8> = (0..2048u32).map(|i| (i * 7 + i / 251) as u8).collect();
            let mut buffer = alloc::vec![0u8; 2048 + 96];
            let start = buffer.as_ptr().align_offset(32);
            for len in 2 * BLOCK..=10 * BLOCK {
                for offset in 0..32 {
                    for stream in [false, true] {
                        buffer.fill(0);
                        let dst = &mut buffer[start + offset..start + offset + len];
                        // SAFETY: `dst` is `len` bytes of `buffer`, `src`
                        // has more, they are distinct; AVX was detected.
                        unsafe {
                            if stream {
                                copy_avx::<true>(src.as_ptr(), dst.as_mut_ptr(), len);
                            } else {
                                copy_avx::<false>(src.as_ptr(), dst.as_mut_ptr(), len);
                            }
                        }
                        let at = start + offset;
                        assert_eq!(&buffer[at..at + len], &src[..len], "{len} at {offset}");
                        assert!(buffer[..at]
                            .iter()
                            .chain(&buffer[at + len..])
                            .all(|&b| b == 0));
                    }
                }
            }
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    #[test]
    fn copies_sizes_on_both_sides_of_every_threshold() {
        let len = STREAMING_THRESHOLD + 200;
        // Sizes on both sides of each threshold, at aligned and odd offsets.
        let src: alloc::vec::Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        for (offset, size) in [
            (0, len - 100),
            (1, len - 100),
            (13, STREAMING_THRESHOLD),
            (31, STREAMING_THRESHOLD - 1),
            (40, VECTOR_THRESHOLD),
            (7, VECTOR_THRESHOLD - 1),
            (1, VECTOR_THRESHOLD + 129),
            (32, VECTOR_THRESHOLD + 127),
            (33, VECTOR_THRESHOLD + 128),
            (63, VECTOR_THRESHOLD + 255),
            (16, STREAMING_THRESHOLD + 31),
            (40, VECTOR_END - 1),
            (9, VECTOR_END),
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
        ] {
            let mut dst = alloc::vec![0u8; len + 64];
            // SAFETY: `offset + size <= len + 64` and the vectors are distinct.
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
