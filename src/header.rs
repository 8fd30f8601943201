//! [`Header`]: Go's `sharedMemHeader`, field for field, with its layout pinned
//! at compile time for 64-bit and 32-bit targets.

use core::mem::{align_of, offset_of, size_of};
use core::sync::atomic::{AtomicI64, AtomicIsize, AtomicU8, Ordering};

use static_assertions::const_assert_eq;

/// The fixed header at the start of every region: Go's `sharedMemHeader`
/// (`internal/fuzz/mem.go`), field for field and byte for byte.
///
/// | field       | Go type | offset (64-bit) | offset (32-bit) |
/// |-------------|---------|-----------------|-----------------|
/// | `count`     | int64   | 0               | 0               |
/// | `valueLen`  | int     | 8 (8 bytes)     | 8 (4 bytes)     |
/// | `randState` | uint64  | 16              | 12              |
/// | `randInc`   | uint64  | 24              | 20              |
/// | `rawInMem`  | bool    | 32              | 28              |
///
/// Size: 40 bytes on 64-bit targets, 32 on 32-bit ones.
///
/// Every field is an atomic, because another process may write these bytes
/// at any time: a `&Header` therefore never asserts that the bytes are
/// frozen, and a racing write from a peer is an ordinary atomic race, not
/// undefined behaviour. On 32-bit targets `randState` sits at offset 12,
/// where an `AtomicU64` (8-byte aligned) cannot live, so there each PRNG
/// word is two `AtomicU32` halves in native byte order.
#[repr(C)]
pub struct Header {
    count: AtomicI64,
    value_len: AtomicIsize,
    rand_state: PrngWord,
    rand_inc: PrngWord,
    raw_in_mem: AtomicU8,
}

/// Size of [`Header`] in bytes: Go's `unsafe.Sizeof(sharedMemHeader{})`.
pub const HEADER_SIZE: usize = size_of::<Header>();

/// Byte offsets of the header fields, as Go lays them out on this target.
pub mod offsets {
    use super::{offset_of, Header};

    /// Offset of `count` (Go `int64`).
    pub const COUNT: usize = offset_of!(Header, count);
    /// Offset of `valueLen` (Go `int`: pointer-sized).
    pub const VALUE_LEN: usize = offset_of!(Header, value_len);
    /// Offset of `randState` (Go `uint64`).
    pub const RAND_STATE: usize = offset_of!(Header, rand_state);
    /// Offset of `randInc` (Go `uint64`).
    pub const RAND_INC: usize = offset_of!(Header, rand_inc);
    /// Offset of `rawInMem` (Go `bool`: one byte).
    pub const RAW_IN_MEM: usize = offset_of!(Header, raw_in_mem);
}

const_assert_eq!(offsets::COUNT, 0);
const_assert_eq!(offsets::VALUE_LEN, 8);
const_assert_eq!(size_of::<AtomicIsize>(), size_of::<usize>());
const_assert_eq!(size_of::<PrngWord>(), 8);
const_assert_eq!(size_of::<AtomicU8>(), 1);
// Regions start on a page boundary, so any alignment up to 8 holds there.
const_assert_eq!(align_of::<Header>(), 8);

#[cfg(target_pointer_width = "64")]
mod layout_64 {
    use super::{offsets, HEADER_SIZE};
    use static_assertions::const_assert_eq;

    const_assert_eq!(offsets::RAND_STATE, 16);
    const_assert_eq!(offsets::RAND_INC, 24);
    const_assert_eq!(offsets::RAW_IN_MEM, 32);
    const_assert_eq!(HEADER_SIZE, 40);
}

#[cfg(target_pointer_width = "32")]
mod layout_32 {
    use super::{offsets, HEADER_SIZE};
    use static_assertions::const_assert_eq;

    const_assert_eq!(offsets::RAND_STATE, 12);
    const_assert_eq!(offsets::RAND_INC, 20);
    const_assert_eq!(offsets::RAW_IN_MEM, 28);
    const_assert_eq!(HEADER_SIZE, 32);
}

/// `sharedMemSize(n)`—The size of a region whose value holds `capacity` bytes.
///
/// `None` when the sum would exceed `isize::MAX`, the most that one mapping
/// or slice may span (on 32-bit targets that is the real limit long before
/// `usize` wraps).
#[must_use]
pub const fn region_size(capacity: usize) -> Option<usize> {
    match HEADER_SIZE.checked_add(capacity) {
        Some(size) if size <= isize::MAX as usize => Some(size),
        _ => None,
    }
}

impl Header {
    /// `count`—How many times the worker has called the fuzz function. The
    /// coordinator may reset it; both sides may touch it at once, so it is
    /// handed out as the atomic itself.
    #[inline]
    #[must_use]
    pub fn count(&self) -> &AtomicI64 {
        &self.count
    }

    /// `valueLen`—The raw value length as stored, which a corrupt or hostile
    /// peer may have set to anything (negative included). Loaded with
    /// acquire ordering, pairing with the release store that publishes a
    /// value, so the bytes it covers are visible once it is seen.
    #[inline]
    #[must_use]
    pub fn value_len(&self) -> isize {
        self.value_len.load(Ordering::Acquire)
    }

    /// Publishes a value length after its bytes were written (release).
    #[inline]
    pub(crate) fn publish_value_len(&self, len: isize) {
        self.value_len.store(len, Ordering::Release);
    }

    /// `randState`—The PRNG state the worker saved.
    #[inline]
    #[must_use]
    pub fn rand_state(&self) -> u64 {
        self.rand_state.load()
    }

    /// Stores the PRNG state.
    #[inline]
    pub fn set_rand_state(&self, state: u64) {
        self.rand_state.store(state);
    }

    /// `randInc`—The PRNG increment.
    #[inline]
    #[must_use]
    pub fn rand_inc(&self) -> u64 {
        self.rand_inc.load()
    }

    /// Stores the PRNG increment.
    #[inline]
    pub fn set_rand_inc(&self, inc: u64) {
        self.rand_inc.store(inc);
    }

    /// `rawInMem`—The value holds raw bytes; if the worker dies while this is
    /// set, the value is the input that killed it. Any non-zero byte reads as
    /// `true` (Go writes only 0 or 1; a peer may write anything).
    #[inline]
    #[must_use]
    pub fn raw_in_mem(&self) -> bool {
        self.raw_in_mem.load(Ordering::Acquire) != 0
    }

    /// Stores `rawInMem` as Go does: 1 for `true`, 0 for `false`.
    #[inline]
    pub fn set_raw_in_mem(&self, raw: bool) {
        self.raw_in_mem.store(u8::from(raw), Ordering::Release);
    }
}

impl core::fmt::Debug for Header {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Header")
            .field("count", &self.count.load(Ordering::Relaxed))
            .field("value_len", &self.value_len())
            .field("rand_state", &self.rand_state())
            .field("rand_inc", &self.rand_inc())
            .field("raw_in_mem", &self.raw_in_mem())
            .finish()
    }
}

// The PRNG words are exchanged at turn boundaries (the pipe message that
// hands the region over orders them), so relaxed loads and stores suffice;
// they are atomics only so that a peer's concurrent write is not UB.

/// A Go `uint64` in the header: one `AtomicU64` where Go aligns it to 8.
#[cfg(target_pointer_width = "64")]
#[repr(transparent)]
struct PrngWord(core::sync::atomic::AtomicU64);

#[cfg(target_pointer_width = "64")]
impl PrngWord {
    #[inline]
    fn load(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    #[inline]
    fn store(&self, word: u64) {
        self.0.store(word, Ordering::Relaxed);
    }
}

/// A Go `uint64` in the header where Go aligns it to 4: two `AtomicU32`
/// halves, the first at the lower address, joined in native byte order.
#[cfg(not(target_pointer_width = "64"))]
#[repr(C)]
struct PrngWord([core::sync::atomic::AtomicU32; 2]);

#[cfg(not(target_pointer_width = "64"))]
impl PrngWord {
    #[inline]
    fn load(&self) -> u64 {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&self.0[0].load(Ordering::Relaxed).to_ne_bytes());
        bytes[4..].copy_from_slice(&self.0[1].load(Ordering::Relaxed).to_ne_bytes());
        u64::from_ne_bytes(bytes)
    }

    #[inline]
    fn store(&self, word: u64) {
        let bytes = word.to_ne_bytes();
        let [a, b, c, d, e, f, g, h] = bytes;
        self.0[0].store(u32::from_ne_bytes([a, b, c, d]), Ordering::Relaxed);
        self.0[1].store(u32::from_ne_bytes([e, f, g, h]), Ordering::Relaxed);
    }
}
