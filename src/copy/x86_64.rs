//! The streaming copy of `copy_to_shared` on x86-64, from
//! [`STREAMING_MIN`] on, and the detection of AVX that it waits for.
//! Built where `build.rs` sets `fuzzshm_x86_64_simd` (x86-64, not Miri).
//! Why the limit is where it is, and why the loop is as plain as it is,
//! measured: `BENCHMARKS.md`, "Why these thresholds".
//!
//! AVX is detected by hand (`cpuid` and `xgetbv`, some 40 lines below),
//! not with the `cpufeatures` crate, which does the same checks `no_std`:
//! the crate keeps its dependencies to rustix and `static_assertions`, a
//! `no_std` user's build pulls nothing for it, and the detection is small
//! and checked against `std`'s `is_x86_feature_detected!` by a test
//! (`detects_avx_as_std_does`).

use core::arch::x86_64::{
    __cpuid, __m256i, _mm256_loadu_si256, _mm256_storeu_si256, _mm256_stream_si256, _mm_sfence,
    _xgetbv,
};
use core::sync::atomic::{AtomicU8, Ordering};
use static_assertions::const_assert;

/// From this size on a copy streams past the cache. Below, the cached
/// copy (`memcpy`) is faster for the handoff and for the write alone; from
/// here (twice a 4 MiB L2) streaming ties with it in both, and at 64 MiB
/// it wins both by a fifth to a third.
pub(super) const STREAMING_MIN: usize = 8 << 20;

/// Streams the copy if `len` is [`STREAMING_MIN`] or more and the CPU has
/// AVX, and says whether it did; otherwise leaves `dst` alone for
/// `memcpy`.
///
/// # Safety
///
/// As for [`copy_to_shared`](super::copy_to_shared).
// Always inlined into `copy_to_shared`: a compare and a load of the
// detected AVX before the out-of-line loop.
#[inline(always)]
pub(super) unsafe fn stream_if_large(src: *const u8, dst: *mut u8, len: usize) -> bool {
    if len >= STREAMING_MIN && has_avx() {
        // SAFETY: the caller's contract; AVX was just detected, and
        // `len >= STREAMING_MIN >= 2 * BLOCK` (asserted at compile time).
        unsafe { copy_streaming(src, dst, len) };
        return true;
    }
    false
}

/// Whether the CPU has AVX and the kernel saves its registers; asked
/// once, with `cpuid` and `xgetbv` (no `std`, so no
/// `is_x86_feature_detected!`).
#[inline]
fn has_avx() -> bool {
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

/// The bytes one step of the loop moves: four 32-byte lanes.
const BLOCK: usize = 128;

// `copy_streaming` needs room for its head and tail.
const_assert!(STREAMING_MIN >= 2 * BLOCK);

/// The streaming copy, for `len >= 2 * BLOCK`: whole blocks of 128 bytes
/// aligned to `dst`, each stored with non-temporal stores
/// ([`streamed_blocks`]). The unaligned first 32 and last 128 bytes are
/// loaded up front and stored at the end, over the blocks' edges, as Go's
/// `memmove` does: through the cache, a few lines out of thousands.
///
/// # Safety
///
/// As for [`copy_to_shared`](super::copy_to_shared), `len >= 2 *
/// BLOCK`, and the CPU has AVX.
#[target_feature(enable = "avx")]
#[inline(never)]
unsafe fn copy_streaming(src: *const u8, dst: *mut u8, len: usize) {
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
    // both ranges, and `dst + body` is 32-byte aligned.
    unsafe { streamed_blocks(src.add(body), dst.add(body), blocks) };
    // SAFETY: the first 32 and the last BLOCK bytes of the destination,
    // unaligned stores; they rewrite the blocks' edge bytes with the
    // same values. They come after the `sfence`, and x86 keeps ordinary
    // stores in order, so every byte is visible before the caller's next
    // store.
    unsafe {
        _mm256_storeu_si256(dst.cast(), head);
        let end = dst.add(len - BLOCK).cast::<__m256i>();
        for (i, lane) in tail.into_iter().enumerate() {
            _mm256_storeu_si256(end.add(i), lane);
        }
    }
}

/// Copies `blocks` blocks with streaming stores, in one pass, then
/// `sfence`s, so the weakly-ordered stores come before whatever the
/// caller stores next. No prefetch: on the Intel Xeon of `BENCHMARKS.md`
/// Go's `prefetchnta` 448 and 640 bytes ahead made a 64 MiB copy 1.7x as
/// slow and its handoff 1.25x, and four parts copied side by side (faster
/// on the AMD Zen 3) 1.8-1.95x and 1.3x.
///
/// # Safety
///
/// `src` and `dst` are valid for `blocks * BLOCK` bytes, do not overlap,
/// and `dst` is 32-byte aligned; the CPU has AVX.
#[target_feature(enable = "avx")]
#[inline]
unsafe fn streamed_blocks(src: *const u8, dst: *mut u8, blocks: usize) {
    for block in 0..blocks {
        let at = block * BLOCK;
        // SAFETY: `block < blocks`, so the block is inside both ranges,
        // and `dst + at` is 32-byte aligned, as `vmovntdq` needs: the
        // caller's contract.
        unsafe {
            let to = dst.add(at).cast::<__m256i>();
            for (i, lane) in load_block(src.add(at)).into_iter().enumerate() {
                _mm256_stream_si256(to.add(i), lane);
            }
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

/// The sizes on both sides of this module's limits, for
/// `copies_sizes_on_both_sides_of_every_threshold` in `super`: `(offset,
/// size)`, at aligned and odd offsets.
#[cfg(test)]
pub(super) const THRESHOLD_CASES: &[(usize, usize)] = &[
    (0, STREAMING_MIN + 100),
    (1, STREAMING_MIN + 100),
    (13, STREAMING_MIN),
    (31, STREAMING_MIN - 1),
    (16, STREAMING_MIN + 31),
    (40, STREAMING_MIN + 127),
];

#[cfg(all(test, feature = "std"))]
#[test]
fn detects_avx_as_std_does() {
    assert_eq!(has_avx(), std::is_x86_feature_detected!("avx"));
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    /// Every length with few blocks (where the head, the tail and the
    /// blocks overlap most) at every destination alignment.
    #[test]
    fn streaming_copy_writes_exactly_its_range() {
        if !has_avx() {
            return; // the copy is never called without AVX
        }
        let src: alloc::vec::Vec<u8> = (0..2048u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut buffer = alloc::vec![0u8; 2048 + 96];
        let start = buffer.as_ptr().align_offset(32);
        for len in 2 * BLOCK..=10 * BLOCK {
            for offset in 0..32 {
                buffer.fill(0);
                let dst = &mut buffer[start + offset..start + offset + len];
                // SAFETY: `dst` is `len` bytes of `buffer`, `src` has
                // more, they are distinct; AVX was detected.
                unsafe { copy_streaming(src.as_ptr(), dst.as_mut_ptr(), len) };
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
