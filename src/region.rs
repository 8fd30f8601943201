//! [`Region`]: the pure view of `header ++ value bytes` over memory someone
//! else mapped. No system calls here: this is the part that runs under Miri
//! and the fuzzer with a heap buffer standing in for the mapping.

use core::ptr::NonNull;
use core::slice;
use core::sync::atomic::{compiler_fence, Ordering};

use crate::copy::copy_to_shared;
use crate::error::{Error, Result};
use crate::header::{Header, HEADER_SIZE};
use crate::shadow::Shadow;

/// A region: the [`Header`] followed by `capacity()` value bytes.
///
/// It borrows memory it does not own; [`SharedMem`](crate::SharedMem) is the
/// owner that maps and unmaps it and hands out `&Region` through `Deref`.
/// Every bound a `Region` uses comes from its own size, fixed when it was
/// made, and never from bytes in the memory, which a peer may overwrite:
/// `valueLen` is only ever checked against that size, never trusted.
pub struct Region {
    base: NonNull<Header>,
    size: usize,
    /// What AddressSanitizer may see of the value area (nothing to track,
    /// and no field, without a sanitizer).
    shadow: Shadow,
}

// SAFETY: a `Region` is a pointer and a size with no thread affinity. Its
// `&self` methods touch the header only through atomics and read value bytes
// only through shared slices, which is what `Sync` needs; writes need
// `&mut self`, so two threads never write through the same `Region` at once.
unsafe impl Send for Region {}
// SAFETY: see `Send` above.
unsafe impl Sync for Region {}

impl Region {
    /// Views `size` bytes at `base` as a region (header, then value bytes).
    ///
    /// # Errors
    ///
    /// [`Error::TooSmall`] if `size` cannot hold the header,
    /// [`Error::TooLarge`] if it exceeds `isize::MAX` (no slice may), and
    /// [`Error::Misaligned`] if `base` is not aligned for [`Header`].
    ///
    /// # Safety
    ///
    /// - `base` must be valid for reads and writes of `size` bytes, and stay
    ///   so for as long as the returned `Region` (or anything borrowed from
    ///   it) is used.
    /// - Within this process, nothing may access those bytes other than
    ///   through this `Region` while it is in use. Other processes may; what
    ///   they may do is the crate's "Safety model".
    ///
    /// # Examples
    ///
    /// ```
    /// use fuzzshm::Region;
    /// # fn main() -> Result<(), fuzzshm::Error> {
    /// // The header needs 8-byte alignment (which `u64` lacks on i686).
    /// #[repr(C, align(8))]
    /// struct Buffer([u8; 128]);
    /// let mut buffer = Buffer([0; 128]);
    /// let base = core::ptr::NonNull::from(&mut buffer.0).cast::<u8>();
    /// // SAFETY: `buffer` outlives `region` and is reached only through it.
    /// let mut region = unsafe { Region::from_raw_parts(base, 128)? };
    /// assert_eq!(region.capacity(), 128 - fuzzshm::HEADER_SIZE);
    /// region.set_value(b"seed")?;
    /// assert_eq!(region.value()?, b"seed");
    /// # Ok(()) }
    /// ```
    pub unsafe fn from_raw_parts(base: NonNull<u8>, size: usize) -> Result<Region> {
        let align = core::mem::align_of::<Header>();
        if base.as_ptr() as usize % align != 0 {
            return Err(Error::Misaligned {
                addr: base.as_ptr() as usize,
                align,
            });
        }
        if size < HEADER_SIZE {
            return Err(Error::TooSmall {
                size: size as u64,
                needed: HEADER_SIZE as u64,
            });
        }
        if size > isize::MAX as usize {
            return Err(Error::TooLarge { size: size as u64 });
        }
        // The caller's memory is not poisoned: the poison would outlive the
        // region and be misread when the memory is used for anything else.
        Ok(Region {
            base: base.cast(),
            size,
            shadow: Shadow::untracked(),
        })
    }

    /// [`from_raw_parts`](Self::from_raw_parts) without the checks, over a
    /// mapping its owner unmaps only after [`unpoison_all`](Self::unpoison_all).
    ///
    /// # Safety
    ///
    /// As for `from_raw_parts`, and: `base` is aligned for [`Header`] and
    /// `HEADER_SIZE <= size <= isize::MAX`.
    pub(crate) unsafe fn new_unchecked(base: NonNull<u8>, size: usize) -> Region {
        Region {
            base: base.cast(),
            size,
            shadow: Shadow::tracking(size - HEADER_SIZE),
        }
    }

    /// Makes the whole value area addressable again for AddressSanitizer,
    /// as it must be before the mapping is unmapped or moved: the kernel
    /// may hand the same addresses out again, for memory that was never
    /// poisoned.
    #[inline]
    pub(crate) fn unpoison_all(&self) {
        self.shadow
            .expose(self.value_ptr(), self.capacity(), self.capacity());
    }

    /// `header()`—The header at the start of the region.
    #[inline]
    #[must_use]
    pub fn header(&self) -> &Header {
        // SAFETY: `base` is aligned for `Header` and `size >= HEADER_SIZE`
        // (checked in `from_raw_parts`), so the header is in bounds. Every
        // field is an atomic (or made of atomics), so this shared reference
        // stays valid while other processes write the same bytes.
        unsafe { self.base.as_ref() }
    }

    /// The value capacity: the region's size less the header.
    #[inline]
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.size - HEADER_SIZE
    }

    /// The region's size in bytes, header included: Go's `sharedMemSize`
    /// of its capacity.
    #[inline]
    #[must_use]
    pub fn size(&self) -> usize {
        self.size
    }

    /// The first byte of the region (the header), to read.
    #[inline]
    #[must_use]
    pub fn as_ptr(&self) -> *const u8 {
        self.base.as_ptr().cast_const().cast()
    }

    /// The first byte of the region (the header), to write: from `&self`,
    /// as [`AtomicU8::as_ptr`](core::sync::atomic::AtomicU8::as_ptr), since
    /// a peer writes these bytes whatever this process holds. A write
    /// through it keeps the [turn rule](crate#safety-model): no reference
    /// into the bytes it writes may be alive.
    #[inline]
    #[must_use]
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.base.as_ptr().cast()
    }

    #[inline]
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.base.cast()
    }

    #[inline]
    fn value_ptr(&self) -> *mut u8 {
        // SAFETY: `size >= HEADER_SIZE`, so the value area starts in bounds
        // (or one past the end, for a capacity of zero).
        unsafe { self.as_mut_ptr().add(HEADER_SIZE) }
    }

    /// The stored `valueLen`, if it is a length this region can hold. The
    /// hot path of every read: one load and one compare, inlined into the
    /// caller's crate; building the error is kept out of line.
    #[inline]
    fn checked_value_len(&self) -> Result<usize> {
        let value_len = self.header().value_len();
        // A negative length turns into one above `isize::MAX`, and so above
        // any capacity: one unsigned compare rejects both.
        if value_len as usize <= self.capacity() {
            Ok(value_len as usize)
        } else {
            Err(self.corrupt_value_len(value_len))
        }
    }

    #[cold]
    #[inline(never)]
    fn corrupt_value_len(&self, value_len: isize) -> Error {
        Error::CorruptValueLen {
            value_len,
            capacity: self.capacity(),
        }
    }

    /// `valueRef()`—The value: the first `valueLen` bytes after the header.
    ///
    /// Under AddressSanitizer, this makes the value's bytes addressable and
    /// poisons none: an earlier slice from this `&self` method may still be
    /// alive, and a peer may have shortened the value under it since. So
    /// the bytes past the value stay poisoned only as far as this process
    /// last narrowed them through a `&mut` method; a worker that wants each
    /// over-read of its input reported takes the input from
    /// [`value_mut`](Self::value_mut) (see the crate's [ASan
    /// section](crate#addresssanitizer)).
    ///
    /// # Errors
    ///
    /// [`Error::CorruptValueLen`] if the header's `valueLen` is negative or
    /// larger than the capacity (Go would panic; C would read past the end).
    #[inline]
    pub fn value(&self) -> Result<&[u8]> {
        let len = self.checked_value_len()?;
        self.shadow.widen(self.value_ptr(), len);
        // SAFETY: `len <= capacity`, so the bytes lie inside the region,
        // which is valid for reads; no `&mut` into it exists while `&self`
        // is borrowed.
        Ok(unsafe { slice::from_raw_parts(self.value_ptr(), len) })
    }

    /// [`value`](Self::value) for the C library, which poisons the bytes
    /// past the value under AddressSanitizer as the `&mut` paths do.
    ///
    /// # Errors
    ///
    /// As for `value`.
    ///
    /// # Safety
    ///
    /// No byte past the returned length of a slice from an earlier call is
    /// read afterwards (the C API's contract for its pointers).
    #[cfg(feature = "capi")]
    #[inline]
    pub(crate) unsafe fn value_exact(&self) -> Result<&[u8]> {
        let len = self.checked_value_len()?;
        self.shadow.expose(self.value_ptr(), self.capacity(), len);
        // SAFETY: as in `value`.
        Ok(unsafe { slice::from_raw_parts(self.value_ptr(), len) })
    }

    /// `valueRef()`, writable—The value, to mutate in place.
    ///
    /// Under AddressSanitizer the bytes past the value are poisoned here
    /// (no slice of the region outlives `&mut self`): a worker that reads
    /// each input through this method has every over-read reported.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptValueLen`], as for [`value`](Self::value).
    #[inline]
    pub fn value_mut(&mut self) -> Result<&mut [u8]> {
        let len = self.checked_value_len()?;
        self.shadow.expose(self.value_ptr(), self.capacity(), len);
        // SAFETY: in bounds as in `value`; `&mut self` makes this the only
        // reference into the region within this process.
        Ok(unsafe { slice::from_raw_parts_mut(self.value_ptr(), len) })
    }

    /// The whole value area, `capacity()` bytes, whatever `valueLen` says,
    /// to read: Go's `valueRef()[:cap]`, for a tool that inspects what lies
    /// past the value (under AddressSanitizer the whole area stays
    /// readable until the next call of a `&mut` method).
    #[inline]
    #[must_use]
    pub fn value_buffer(&self) -> &[u8] {
        self.shadow.widen(self.value_ptr(), self.capacity());
        // SAFETY: exactly the value area, valid for reads; no `&mut` into it
        // exists while `&self` is borrowed.
        unsafe { slice::from_raw_parts(self.value_ptr(), self.capacity()) }
    }

    /// The whole value area, `capacity()` bytes, whatever `valueLen` says:
    /// where a mutator grows an input in place (Go's `valueRef()[:cap]`)
    /// before [`set_value_len`](Self::set_value_len) publishes its length.
    #[inline]
    #[must_use]
    pub fn value_buffer_mut(&mut self) -> &mut [u8] {
        self.unpoison_all();
        // SAFETY: exactly the value area; valid and exclusive as in `value_mut`.
        unsafe { slice::from_raw_parts_mut(self.value_ptr(), self.capacity()) }
    }

    /// `setValue(b)`—Copies `bytes` in as the value.
    ///
    /// Crash-consistent: the old length is withdrawn first, the bytes are
    /// copied, and the new length is published last with release ordering.
    /// A writer killed at any instant leaves a `valueLen` that covers only
    /// bytes written in the same round (zero, or all of `bytes`).
    ///
    /// The copy is chosen for the peer, which reads the value on another
    /// CPU: at the sizes the CPU's [`CopyPlan`](crate::CopyPlan) streams
    /// (on x86-64 with AVX: 16 KiB-1 MiB and from 4 MiB on AMD Zen 4,
    /// 16-256 KiB and from 8 MiB on AMD Zen 3, from 8 MiB on the other
    /// CPUs), the bytes are streamed past this CPU's caches (non-temporal
    /// stores) into memory, where the reader fetches them at full speed. A
    /// caller that reads the value back itself, or whose worker shares its
    /// CPU, gives up some speed there (up to 2x, at 256 KiB-1 MiB on AMD
    /// Zen 4 in `BENCHMARKS.md`); it can copy
    /// through [`value_buffer_mut`](Self::value_buffer_mut) and publish
    /// with [`set_value_len`](Self::set_value_len) instead, after
    /// `set_value_len(0)` if a crash mid-copy must not leave old bytes
    /// under the old length (and, for a
    /// [`SharedMem`](crate::SharedMem), after
    /// [`reserve_whole`](crate::SharedMem::reserve_whole) on a file system
    /// that can fill up).
    ///
    /// # Errors
    ///
    /// [`Error::ValueTooLarge`] if `bytes` is longer than the capacity
    /// (Go's `setValue` panics); the region is then left unchanged.
    // Always inlined: a call, and a `Result` returned through memory, would
    // cost as much as the copy of a small input.
    #[inline(always)]
    pub fn set_value(&mut self, bytes: &[u8]) -> Result<()> {
        // SAFETY: a slice is valid for reads of its length, and does not
        // overlap the `len` bytes the copy writes: they are written while
        // `bytes` is borrowed, which Rust's aliasing rules forbid for
        // bytes under a live shared reference (safe code cannot even make
        // one: every slice of the value area borrows `self`).
        unsafe { self.write_value::<false>(bytes.as_ptr(), bytes.len()) }
    }

    /// [`set_value`](Self::set_value) from a raw source, which may lie
    /// inside this region's own value area (a C mutator storing a slice of
    /// the current input, as Go's `copy` allows): overlapping bytes are
    /// moved, not copied.
    ///
    /// # Errors
    ///
    /// As for `set_value`.
    ///
    /// # Safety
    ///
    /// `src` must be valid for reads of `len` bytes, and no reference into
    /// the bytes it points to may be alive.
    #[cfg(feature = "capi")]
    #[inline(always)]
    pub(crate) unsafe fn set_value_from(&mut self, src: *const u8, len: usize) -> Result<()> {
        // SAFETY: the caller's contract.
        unsafe { self.write_value::<true>(src, len) }
    }

    /// The write of [`set_value`](Self::set_value) and of the C API's
    /// `set_value_from`. With `MAY_OVERLAP` false it skips the check for a
    /// source overlapping the bytes it writes, and the branch to a moving
    /// copy: 5-10% of a `set_value` of 256 bytes to 1 KiB
    /// (`BENCHMARKS.md`).
    ///
    /// # Safety
    ///
    /// As for `set_value_from`; with `MAY_OVERLAP` false, `src` also does
    /// not overlap the first `len` bytes of the value area.
    #[inline(always)]
    unsafe fn write_value<const MAY_OVERLAP: bool>(
        &mut self,
        src: *const u8,
        len: usize,
    ) -> Result<()> {
        let capacity = self.capacity();
        if len > capacity {
            return Err(value_too_large(len, capacity));
        }
        // A process killed by a signal stops at an instruction boundary with
        // every earlier store in memory, so for crash consistency only the
        // compiler's order matters: the withdrawal before any store of the
        // copy.
        // The header's address is taken once, before the copy: read from
        // `self` after it, it would wait on the copy's stores (a load that
        // may alias them), a few cycles that showed at 256 B-4 KiB.
        let header = self.header();
        let withdraw = || {
            header.publish_value_len(0);
            compiler_fence(Ordering::SeqCst);
        };
        let dst = self.value_ptr();
        let overlaps = MAY_OVERLAP
            && (src as usize) < (dst as usize).wrapping_add(len)
            && (dst as usize) < (src as usize).wrapping_add(len);
        // A source past the new length in the value area is possible even
        // for a slice; only the shadow cares (this is nothing without it).
        let from_own_area = (src as usize) < (dst as usize).wrapping_add(capacity)
            && (dst as usize) < (src as usize).wrapping_add(len);
        // The copy must touch no poisoned byte: the destination, and a
        // source in the value area itself, which may lie past the new length.
        if from_own_area {
            self.unpoison_all();
        } else {
            self.shadow.expose(dst, capacity, len);
        }
        if overlaps {
            withdraw();
            // SAFETY: both ranges are valid for `len` bytes (the caller's
            // contract; `len <= capacity` for `dst`), and `copy` allows overlap.
            unsafe { core::ptr::copy(src, dst, len) };
        } else {
            // SAFETY: as above, and the ranges are disjoint. The destination
            // is exclusive through `&mut self`.
            unsafe { copy_to_shared(src, dst, len, withdraw) };
        }
        // `len <= capacity <= isize::MAX` (from `from_raw_parts`).
        header.publish_value_len(len as isize);
        self.shadow.expose(dst, capacity, len);
        Ok(())
    }

    /// `setValueLen(n)`—Publishes `len` as the value length, after the bytes
    /// were written in place through [`value_buffer_mut`](Self::value_buffer_mut).
    ///
    /// # Errors
    ///
    /// [`Error::ValueTooLarge`] if `len` exceeds the capacity (Go panics).
    #[inline]
    pub fn set_value_len(&mut self, len: usize) -> Result<()> {
        let capacity = self.capacity();
        if len > capacity {
            return Err(value_too_large(len, capacity));
        }
        // `len <= capacity <= isize::MAX` (from `from_raw_parts`).
        self.header().publish_value_len(len as isize);
        self.shadow.expose(self.value_ptr(), capacity, len);
        Ok(())
    }

    /// `valueCopy()`—A copy of the value, which stays valid after the region
    /// is handed back to the peer.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptValueLen`], as for [`value`](Self::value).
    #[cfg(feature = "alloc")]
    pub fn value_copy(&self) -> Result<alloc::vec::Vec<u8>> {
        self.value().map(<[u8]>::to_vec)
    }
}

#[cold]
#[inline(never)]
fn value_too_large(len: usize, capacity: usize) -> Error {
    Error::ValueTooLarge { len, capacity }
}

impl core::fmt::Debug for Region {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Region")
            .field("base", &self.base)
            .field("size", &self.size)
            .field("header", self.header())
            .finish()
    }
}
