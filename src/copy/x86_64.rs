//! The streaming copy of `copy_to_shared` on x86-64, for the sizes the
//! [`CopyPlan`](super::plan::CopyPlan) in force streams, the detection of
//! AVX that it waits for, and the CPU's identification (`cpuid`) that the
//! plan is chosen by. Built where `build.rs` sets `fuzzshm_x86_64_simd`
//! (x86-64, not Miri). Why the loop is as plain as it is, measured:
//! `BENCHMARKS.md`, "The copy per CPU: why these thresholds".
//!
//! AVX is detected by hand (`cpuid` and `xgetbv`, some 40 lines below),
//! not with the `cpufeatures` crate, which does the same checks `no_std`:
//! the crate keeps its dependencies to rustix and `static_assertions`, a
//! `no_std` user's build pulls nothing for it, and the detection is small
//! and checked against `std`'s `is_x86_feature_detected!` by a test
//! (`detects_avx_as_std_does`).

use core::arch::x86_64::{
    __cpuid, __cpuid_count, __m256i, _mm256_loadu_si256, _mm256_storeu_si256, _mm256_stream_si256,
    _mm_prefetch, _mm_sfence, _xgetbv, _MM_HINT_NTA,
};
use core::sync::atomic::{AtomicU8, Ordering};

use super::plan::{CopyPlan, Cpu};

/// Streams the copy, with the loop `plan` asks for, if the CPU has AVX, and
/// says whether it did; otherwise leaves `dst` alone for `memcpy`.
///
/// # Safety
///
/// As for [`copy_to_shared`](super::copy_to_shared).
// Always inlined into `copy_to_shared`: a compare and a load of the
// detected AVX before the out-of-line loop.
#[inline(always)]
pub(super) unsafe fn stream(src: *const u8, dst: *mut u8, len: usize, plan: &CopyPlan) -> bool {
    // A plan may stream any size (`set_copy_plan`); the loop needs two
    // blocks.
    if len >= 2 * BLOCK && has_avx() {
        // SAFETY: the caller's contract; AVX was just detected, and
        // `len >= 2 * BLOCK`.
        unsafe { copy_streaming(src, dst, len, plan.prefetch, plan.four_parts) };
        return true;
    }
    false
}

/// The CPU, from `cpuid`: vendor (leaf 0), family and model (leaf 1), and
/// the cache sizes (AMD's leaves 0x8000_0005 and 0x8000_0006, Intel's
/// leaf 4), for [`Cpu::current`].
#[cold]
pub(super) fn current_cpu() -> Cpu {
    #[allow(unused_unsafe)] // `__cpuid` is unsafe at our MSRV, safe in newer Rust
    // SAFETY: `cpuid` exists on every x86-64 CPU; leaves 0 and 1 always,
    // the others only where leaf 0 or 0x8000_0000 says they exist.
    unsafe {
        let leaf0 = __cpuid(0);
        let mut vendor = [0u8; 12];
        vendor[..4].copy_from_slice(&leaf0.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&leaf0.edx.to_le_bytes());
        vendor[8..].copy_from_slice(&leaf0.ecx.to_le_bytes());
        let signature = __cpuid(1).eax;
        let base_family = (signature >> 8) & 0xf;
        let family = match base_family {
            0xf => base_family + ((signature >> 20) & 0xff),
            _ => base_family,
        };
        let model = match base_family {
            6 | 0xf => ((signature >> 4) & 0xf) | ((signature >> 12) & 0xf0),
            _ => (signature >> 4) & 0xf,
        };
        let mut cpu = Cpu {
            vendor,
            family,
            model,
            l1d_kib: 0,
            l2_kib: 0,
            l3_kib: 0,
        };
        if &vendor == b"GenuineIntel" && leaf0.eax >= 4 {
            // Leaf 4: one sub-leaf per cache, until type 0 (no more).
            for index in 0..16 {
                let leaf = __cpuid_count(4, index);
                let (kind, level) = (leaf.eax & 0x1f, (leaf.eax >> 5) & 7);
                if kind == 0 {
                    break;
                }
                let ways = u64::from(leaf.ebx >> 22) + 1;
                let partitions = u64::from((leaf.ebx >> 12) & 0x3ff) + 1;
                let line = u64::from(leaf.ebx & 0xfff) + 1;
                // In 64 bits: a hypervisor's bogus answer must not overflow.
                let bytes = ways * partitions * line * (u64::from(leaf.ecx) + 1);
                let kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX);
                match (kind, level) {
                    (1, 1) => cpu.l1d_kib = kib,
                    (3, 2) => cpu.l2_kib = kib,
                    (3, 3) => cpu.l3_kib = kib,
                    _ => {}
                }
            }
        } else if __cpuid(0x8000_0000).eax >= 0x8000_0006 {
            cpu.l1d_kib = __cpuid(0x8000_0005).ecx >> 24;
            let leaf = __cpuid(0x8000_0006);
            cpu.l2_kib = leaf.ecx >> 16;
            cpu.l3_kib = (leaf.edx >> 18) * 512;
        }
        cpu
    }
}

/// Copies 65 to 128 bytes as two 32-byte chunks from each end, all loaded
/// before `before_stores` runs, as [`copy_small`](super::copy_small) does
/// with 16-byte ones: half as many stores (with 16-byte chunks 128 B took
/// 1.44x of `memcpy`'s time on AMD Zen 4, with these 1.09x). Out of line
/// (AVX cannot be inlined into code built without it), but without
/// `memcpy`'s PLT and size dispatch.
///
/// # Safety
///
/// As for [`copy_to_shared`](super::copy_to_shared), `65 <= len <= 128`,
/// and the CPU has AVX.
#[target_feature(enable = "avx")]
#[inline(never)]
pub(super) unsafe fn copy_ends_avx(
    src: *const u8,
    dst: *mut u8,
    len: usize,
    before_stores: impl FnOnce(),
) {
    // [0, 64) and [len - 64, len): inside both ranges for `64 <= len`.
    let last = len - 64;
    // Each chunk `[at, at + 32)` is inside `[0, len)`, in both ranges by
    // the caller's contract.
    let lanes = [0, 32, last, last + 32].map(|at| {
        // SAFETY: `at < len`, inside the source.
        let from = unsafe { src.add(at) };
        // SAFETY: the chunk at `at`, an unaligned load; the CPU has AVX.
        unsafe { _mm256_loadu_si256(from.cast()) }
    });
    before_stores();
    for (at, lane) in [0, 32, last, last + 32].into_iter().zip(lanes) {
        // SAFETY: `at < len`, inside the destination.
        let to = unsafe { dst.add(at) };
        // SAFETY: the chunk at `at`, an unaligned store; the CPU has AVX.
        unsafe { _mm256_storeu_si256(to.cast(), lane) };
    }
}

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

/// The bytes one step of the loop moves: four 32-byte lanes.
const BLOCK: usize = 128;

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
unsafe fn copy_streaming(
    src: *const u8,
    dst: *mut u8,
    len: usize,
    prefetch: bool,
    four_parts: bool,
) {
    // The blocks start at the first 32-byte boundary of `dst` past its
    // first byte: `body` in 1..=32, inside the head's 32 bytes.
    let body = 32 - (dst as usize & 31);
    let blocks = (len - body) / BLOCK;
    // SAFETY: `len >= 2 * BLOCK`, so the first 32 bytes are inside the
    // source; an unaligned load.
    let head = unsafe { _mm256_loadu_si256(src.cast()) };
    // SAFETY: `len >= 2 * BLOCK`, so `len - BLOCK` is inside the source.
    let tail_src = unsafe { src.add(len - BLOCK) };
    // SAFETY: the last BLOCK bytes of the source.
    let tail = unsafe { load_block(tail_src) };
    // Every byte is written: the head covers `[0, body)` (`body <= 32`),
    // the blocks `[body, body + blocks * BLOCK)`, and the tail the rest,
    // fewer than BLOCK bytes before `len`.
    // SAFETY: `body <= 32 < len`, inside the source.
    let body_src = unsafe { src.add(body) };
    // SAFETY: `body <= 32 < len`, inside the destination.
    let body_dst = unsafe { dst.add(body) };
    // In each arm: `body + blocks * BLOCK <= len`, so every block is
    // inside both ranges, `dst + body` is 32-byte aligned, and the caller
    // has AVX.
    match (prefetch, four_parts) {
        // SAFETY: as said above the `match`.
        (false, false) => unsafe { streamed_blocks::<false, 1>(body_src, body_dst, blocks) },
        // SAFETY: as said above the `match`.
        (true, false) => unsafe { streamed_blocks::<true, 1>(body_src, body_dst, blocks) },
        // SAFETY: as said above the `match`.
        (false, true) => unsafe { streamed_blocks::<false, 4>(body_src, body_dst, blocks) },
        // SAFETY: as said above the `match`.
        (true, true) => unsafe { streamed_blocks::<true, 4>(body_src, body_dst, blocks) },
    }
    // The head and the tail, unaligned stores, rewrite the blocks' edge
    // bytes with the same values. They come after the `sfence`, and x86
    // keeps ordinary stores in order, so every byte is visible before the
    // caller's next store.
    // SAFETY: the first 32 bytes of the destination (`len >= 2 * BLOCK`).
    unsafe { _mm256_storeu_si256(dst.cast(), head) };
    // SAFETY: as for `tail_src`, inside the destination.
    let end = unsafe { dst.add(len - BLOCK) }.cast::<__m256i>();
    for (i, lane) in tail.into_iter().enumerate() {
        // SAFETY: `i < 4`: lane `i` of the last BLOCK bytes of the
        // destination.
        let to = unsafe { end.add(i) };
        // SAFETY: that lane, an unaligned store.
        unsafe { _mm256_storeu_si256(to, lane) };
    }
}

/// Copies `blocks` blocks with streaming stores, then `sfence`s, so the
/// weakly-ordered stores come before whatever the caller stores next.
/// With `PARTS` 1, in one pass; with more, the blocks split in `PARTS`
/// parts copied side by side, a block of each in turn (more misses in
/// flight: 0.82-0.85x of one pass at 64 MiB on the AMD Zen 3, 1.8-1.95x
/// as slow on the Intel Xeon). With `PREFETCH`, each block first
/// prefetches its source 448 and 640 bytes ahead (`prefetchnta`), as Go's
/// `memmove` does (1.7x as slow at 64 MiB on the Xeon, faster on Zen 4).
/// The plan in force says which (`plan.rs`).
///
/// # Safety
///
/// `src` and `dst` are valid for `blocks * BLOCK` bytes, do not overlap,
/// and `dst` is 32-byte aligned; the CPU has AVX.
#[target_feature(enable = "avx")]
#[inline]
unsafe fn streamed_blocks<const PREFETCH: bool, const PARTS: usize>(
    src: *const u8,
    dst: *mut u8,
    blocks: usize,
) {
    let part = blocks / PARTS;
    for step in 0..part {
        for stream in 0..PARTS {
            // SAFETY: the caller's contract, and `stream * part + step <
            // PARTS * part <= blocks`.
            unsafe { stream_block::<PREFETCH>(src, dst, stream * part + step) };
        }
    }
    for block in PARTS * part..blocks {
        // SAFETY: the caller's contract, and `block < blocks`.
        unsafe { stream_block::<PREFETCH>(src, dst, block) };
    }
    // `_mm_sfence` is unsafe at our MSRV, safe here in newer Rust.
    #[allow(unused_unsafe)]
    // SAFETY: `sfence` has no memory-safety preconditions; SSE is part
    // of the x86-64 baseline.
    unsafe {
        _mm_sfence()
    };
}

/// Block number `block` of a streamed copy, after a prefetch of its source
/// ahead with `PREFETCH`.
///
/// # Safety
///
/// As for [`streamed_blocks`], with `block < blocks`.
#[target_feature(enable = "avx")]
#[inline]
unsafe fn stream_block<const PREFETCH: bool>(src: *const u8, dst: *mut u8, block: usize) {
    let at = block * BLOCK;
    if PREFETCH {
        // `_mm_prefetch` is unsafe at our MSRV, safe in newer Rust.
        #[allow(unused_unsafe)]
        // SAFETY: a prefetch is a hint that never faults and reads nothing
        // the program sees, so an address past the source's end (in the
        // last blocks) is allowed; `wrapping_add` makes the address
        // without claiming it is in bounds.
        unsafe {
            _mm_prefetch::<_MM_HINT_NTA>(src.wrapping_add(at + 448).cast())
        };
        #[allow(unused_unsafe)]
        // SAFETY: as for the prefetch above.
        unsafe {
            _mm_prefetch::<_MM_HINT_NTA>(src.wrapping_add(at + 640).cast())
        };
    }
    // SAFETY: the block is inside the destination (the caller's contract).
    let to = unsafe { dst.add(at) }.cast::<__m256i>();
    // SAFETY: the block is inside the source (the caller's contract).
    let from = unsafe { src.add(at) };
    // SAFETY: the block is inside the source.
    let lanes = unsafe { load_block(from) };
    for (i, lane) in lanes.into_iter().enumerate() {
        // SAFETY: `i < 4`: lane `i` of the block.
        let lane_to = unsafe { to.add(i) };
        // SAFETY: lane `i` of the block, inside the destination; `dst +
        // at` is 32-byte aligned (the caller's contract), and so is `to +
        // i`, as `vmovntdq` needs.
        unsafe { _mm256_stream_si256(lane_to, lane) };
    }
}

/// # Safety
///
/// `from` is valid for reads of `BLOCK` bytes; the CPU has AVX.
#[target_feature(enable = "avx")]
#[inline]
unsafe fn load_block(from: *const u8) -> [__m256i; 4] {
    let from = from.cast::<__m256i>();
    [0, 1, 2, 3].map(|i| {
        // SAFETY: `i < 4`: lane `i` of the BLOCK bytes from `from`, inside
        // the range by the caller's contract.
        let lane = unsafe { from.add(i) };
        // SAFETY: that lane, an unaligned load.
        unsafe { _mm256_loadu_si256(lane) }
    })
}

#[cfg(all(test, feature = "std"))]
#[test]
fn detects_avx_as_std_does() {
    assert_eq!(has_avx(), std::is_x86_feature_detected!("avx"));
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    /// Every length with few blocks (where the head, the tail and the
    /// blocks overlap most) at every destination alignment, in each of
    /// the loop's kinds (prefetch or not, one pass or four parts, by the
    /// length).
    #[test]
    fn streaming_copy_writes_exactly_its_range() {
        if !has_avx() {
            // The copy is never called without AVX: a visible skip, and a
            // failure under CI, whose machines have it.
            #[cfg(feature = "std")]
            {
                let in_ci = std::env::var("CI").is_ok_and(|ci| !["", "false", "0"].contains(&&*ci));
                assert!(
                    !in_ci,
                    "CI requires the streaming copy's test, but this CPU has no AVX"
                );
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    b"skipped: the streaming copy's test (no AVX on this CPU)\n",
                );
            }
            return;
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
                unsafe {
                    copy_streaming(
                        src.as_ptr(),
                        dst.as_mut_ptr(),
                        len,
                        len % 2 == 0,
                        len % 3 == 0,
                    )
                };
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
