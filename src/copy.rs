//! How `set_value` copies an input into shared memory.
//!
//! Small and medium inputs go through `ptr::copy_nonoverlapping` (libc's
//! `memcpy`), which is the best there is while the data fits in cache. A
//! large input is written with non-temporal (streaming) stores instead: it
//! will not fit in the cache anyway, the writer does not read it back, and
//! the reader is another process. Plain stores would first read every
//! destination line into the cache (read-for-ownership) and then evict it,
//! doubling the memory traffic; streaming stores skip both. On this
//! project's AMD EPYC machines glibc 2.36's `memcpy` of 64 MiB ran at half
//! the speed of Go's `memmove`, which streams above a size threshold too;
//! `BENCHMARKS.md` has the numbers.

/// From this size on, a copy streams past the cache: the copy no longer
/// fits in a typical L2 and would only evict the reader's working set.
// Only the x86-64 streaming path (and the tests) read it.
#[cfg_attr(not(all(target_arch = "x86_64", not(miri))), allow(dead_code))]
pub(crate) const STREAMING_THRESHOLD: usize = 4 << 20;

/// Copies `len` bytes from `src` to `dst`, streaming large copies past the
/// cache. Every byte is globally visible, in order before any later store,
/// when this returns (the streaming path ends with `sfence`), so a release
/// store that follows publishes all of them.
///
/// # Safety
///
/// `src` must be valid for reads and `dst` for writes of `len` bytes, and
/// the two ranges must not overlap.
#[inline]
pub(crate) unsafe fn copy_to_shared(src: *const u8, dst: *mut u8, len: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if len >= STREAMING_THRESHOLD {
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { stream_x86_64(src, dst, len) };
        return;
    }
    // SAFETY: the caller's contract.
    unsafe { core::ptr::copy_nonoverlapping(src, dst, len) };
}

/// The streaming copy: plain copies up to a 16-byte boundary of `dst`, then
/// 128 bytes a step with `movntdq` (SSE2, which every x86-64 CPU has), the
/// tail plainly, and `sfence` to order the weakly-ordered streaming stores
/// before whatever the caller stores next.
///
/// # Safety
///
/// As for [`copy_to_shared`].
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[inline(never)]
unsafe fn stream_x86_64(src: *const u8, dst: *mut u8, len: usize) {
    use core::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm_prefetch, _mm_sfence, _mm_stream_si128, _MM_HINT_NTA,
    };

    let head = dst.align_offset(16).min(len);
    // SAFETY: `head <= len`, inside both ranges, which do not overlap.
    unsafe { core::ptr::copy_nonoverlapping(src, dst, head) };
    let mut done = head;
    while len - done >= 128 {
        // SAFETY: `done + 128 <= len`, so all eight 16-byte loads and stores
        // are inside the ranges; `dst + done` is 16-byte aligned (it starts
        // aligned after `head` and advances by 128), as `movntdq` needs;
        // the loads are unaligned ones. A prefetch never faults, so its
        // address may run past the end.
        unsafe {
            // Fetch the source well ahead, past the cache, as it streams.
            _mm_prefetch::<_MM_HINT_NTA>(src.wrapping_add(done + 448).cast());
            _mm_prefetch::<_MM_HINT_NTA>(src.wrapping_add(done + 640).cast());
            let from = src.add(done).cast::<__m128i>();
            let to = dst.add(done).cast::<__m128i>();
            let lanes = [0, 1, 2, 3, 4, 5, 6, 7].map(|i| _mm_loadu_si128(from.add(i)));
            for (i, lane) in lanes.into_iter().enumerate() {
                _mm_stream_si128(to.add(i), lane);
            }
        }
        done += 128;
    }
    // SAFETY: the remaining `len - done` bytes are inside both ranges.
    unsafe { core::ptr::copy_nonoverlapping(src.add(done), dst.add(done), len - done) };
    // SAFETY: `sfence` has no memory-safety preconditions; SSE is part of
    // the x86-64 baseline.
    unsafe { _mm_sfence() };
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    #[test]
    fn copies_every_size_and_alignment_exactly() {
        let len = STREAMING_THRESHOLD + 200;
        let src: alloc::vec::Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        for (offset, size) in [
            (0, len - 100),
            (1, len - 100),
            (13, STREAMING_THRESHOLD),
            (40, 100),
            (0, 0),
        ] {
            let mut dst = alloc::vec![0u8; len + 64];
            // SAFETY: `offset + size <= len + 64` and the vectors are distinct.
            unsafe { copy_to_shared(src.as_ptr(), dst.as_mut_ptr().add(offset), size) };
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
