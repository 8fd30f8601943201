//! What the figures hold fuzzshm against: the same work with raw system
//! calls and raw pointers (the floors), and a plain memmap2 mapping (what a
//! crate user would reach for).

use std::fs::File;
use std::hint::black_box;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicI64, AtomicIsize, AtomicUsize, Ordering};

use fuzzshm::HEADER_SIZE;

/// The same with raw pointers and no bounds check: what a C worker does.
///
/// # Safety
///
/// `base` must be a live region whose `valueLen` fits its mapping.
#[inline(never)]
pub(crate) unsafe fn raw_per_exec_step(base: *mut u8) {
    // The offsets are Go's, and aligned.
    // SAFETY: offset 8 (`valueLen`) is inside the live region's header.
    let value_len = unsafe { base.add(8) }.cast::<AtomicIsize>();
    // SAFETY: `valueLen`, aligned for an `isize`, only ever accessed
    // atomically.
    let len = unsafe { &*value_len }.load(Ordering::Acquire) as usize;
    // SAFETY: the value area follows the header, inside the region.
    let value = unsafe { base.add(HEADER_SIZE) };
    // SAFETY: `valueLen` fits the mapping (the caller's contract).
    black_box(unsafe { std::slice::from_raw_parts(value, len) });
    // SAFETY: the count, at offset 0, aligned for an `i64`, only ever
    // accessed atomically.
    unsafe { &*base.cast::<AtomicI64>() }.fetch_add(1, Ordering::Relaxed);
}

/// Create, size, map, unmap, close, remove: with nothing around them.
pub(crate) fn raw_lifecycle(dir: &std::path::Path, len: usize) {
    use rustix::fs::{Mode, OFlags};
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let path = dir.join(format!(
        "raw-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let fd = rustix::fs::open(
        &path,
        OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
        Mode::RUSR | Mode::WUSR,
    )
    .unwrap();
    rustix::fs::ftruncate(&fd, len as u64).unwrap();
    let map = raw_map(&fd, len);
    // SAFETY: `map` is the mapping of `len` bytes made just above.
    unsafe { rustix::mm::munmap(map.cast(), len) }.unwrap();
    drop(fd);
    rustix::fs::unlink(&path).unwrap();
}

/// A shared read-write mapping of `len` bytes of `fd`, by `mmap` itself.
fn raw_map(fd: &OwnedFd, len: usize) -> *mut u8 {
    use rustix::mm::{MapFlags, ProtFlags};
    // SAFETY: a fresh shared mapping at an address the kernel picks.
    unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            fd,
            0,
        )
    }
    .unwrap()
    .cast()
}

/// A memfd of `size` bytes.
pub(crate) fn memfd(name: &str, size: usize) -> OwnedFd {
    let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    rustix::fs::ftruncate(&fd, size as u64).unwrap();
    fd
}

/// A plain memmap2 mapping of `size` bytes (plus a header's worth, so the
/// copy lands at the same page offset as `set_value`'s) over `fd`.
pub(crate) fn memmap2_mapping(fd: OwnedFd, size: usize) -> Memmap2Mapping {
    let file = File::from(fd);
    file.set_len((HEADER_SIZE + size) as u64).unwrap();
    // SAFETY: the file is private to this benchmark and outlives the map.
    let mut map = unsafe { memmap2::MmapMut::map_mut(&file) }.unwrap();
    let base = map.as_mut_ptr();
    Memmap2Mapping {
        map,
        base,
        _file: file,
    }
}

pub(crate) struct Memmap2Mapping {
    map: memmap2::MmapMut,
    /// The mapping's first byte, taken from a `&mut` so that writes
    /// through it (the header's length) are allowed.
    base: *mut u8,
    _file: File,
}

impl Memmap2Mapping {
    /// Where the header would be: the mapping's first byte.
    pub(crate) fn base(&self) -> *mut u8 {
        self.base
    }
}

impl std::ops::Deref for Memmap2Mapping {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map[HEADER_SIZE..]
    }
}

impl std::ops::DerefMut for Memmap2Mapping {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.map[HEADER_SIZE..]
    }
}

/// What a user writes by hand into the region mapped at `base`, as Go's
/// `setValue` does: the length, then the bytes, with `copy`
/// (`copy_from_slice` or [`stream_copy`]).
///
/// # Safety
///
/// `base` is a live, writable mapping of at least `HEADER_SIZE +
/// source.len()` bytes, which nothing else in this process reads or writes
/// meanwhile.
#[inline(always)]
pub(crate) unsafe fn plain_write(
    base: *mut u8,
    source: &[u8],
    copy: impl FnOnce(&mut [u8], &[u8]),
) {
    // SAFETY: offset 8 (`valueLen`) is inside the mapping's header.
    let value_len = unsafe { base.add(8) }.cast::<AtomicUsize>();
    // SAFETY: `valueLen`, aligned for a `usize`, only ever accessed
    // atomically.
    unsafe { &*value_len }.store(source.len(), Ordering::Release);
    // SAFETY: the value area follows the header, inside the mapping.
    let value = unsafe { base.add(HEADER_SIZE) };
    // SAFETY: `source.len()` bytes of the mapping from there, which
    // nothing else in this process reads or writes meanwhile (the
    // caller's contract).
    copy(
        unsafe { std::slice::from_raw_parts_mut(value, source.len()) },
        source,
    );
}

/// A plain streaming copy, the handoff figure's baseline for "past the
/// cache": one pass of 32-byte non-temporal stores aligned to `dst`, the
/// unaligned ends by `copy_from_slice`, then `sfence`. No prefetch and one
/// stream, as glibc's and Go's simplest such loops; where AVX is missing,
/// `copy_from_slice`. Its arguments are in `copy_from_slice`'s order.
pub(crate) fn stream_copy(dst: &mut [u8], src: &[u8]) {
    assert_eq!(src.len(), dst.len());
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx") {
        let head = dst.as_ptr().align_offset(32).min(dst.len());
        let body = (dst.len() - head) / 32 * 32;
        dst[..head].copy_from_slice(&src[..head]);
        // SAFETY: AVX was just detected; `[head, head + body)` is inside
        // both slices and `dst + head` is 32-byte aligned.
        unsafe { stream_avx(src[head..].as_ptr(), dst[head..].as_mut_ptr(), body) };
        let end = head + body;
        dst[end..].copy_from_slice(&src[end..]);
        return;
    }
    dst.copy_from_slice(src);
}

/// # Safety
///
/// `src` and `dst` are valid for `len` bytes, a multiple of 32, and do not
/// overlap; `dst` is 32-byte aligned; the CPU has AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn stream_avx(src: *const u8, dst: *mut u8, len: usize) {
    use std::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm256_stream_si256, _mm_sfence};
    for at in (0..len).step_by(32) {
        // SAFETY: the caller's contract: `at + 32 <= len`.
        let from = unsafe { src.add(at) }.cast::<__m256i>();
        // SAFETY: 32 bytes of the source, an unaligned load.
        let lane = unsafe { _mm256_loadu_si256(from) };
        // SAFETY: as for `from`, in the destination.
        let to = unsafe { dst.add(at) }.cast::<__m256i>();
        // SAFETY: 32 bytes of the destination; `dst + at` is 32-byte
        // aligned (the caller's contract), as `vmovntdq` needs.
        unsafe { _mm256_stream_si256(to, lane) };
    }
    _mm_sfence();
}
