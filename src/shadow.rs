//! AddressSanitizer's view of the value area: the bytes past `valueLen`
//! are poisoned in this process's shadow memory, so a target that reads
//! past its input is reported as it would be from libFuzzer's exact-size
//! heap copy, without the copy.
//!
//! Compiled in when the crate itself is built with `-Zsanitizer=address`
//! (build.rs sets `fuzzshm_asan`), and in the C library (feature `capi`),
//! which looks the ASan runtime up when first needed and does nothing in a
//! program without it. Otherwise [`Shadow`] is empty and every method is
//! an empty inline function: no code, no branch.
//!
//! Two rules keep the shadow from ever lying about a slice that is alive:
//!
//! - Only an exclusive path narrows ([`Shadow::expose`]): a `&mut` method,
//!   which no slice of the value outlives, or the C library, whose
//!   contract ends the earlier pointers. A `&self` path
//!   ([`Shadow::widen`]) only ever makes more bytes addressable, since an
//!   older slice from another `&self` call may still be read.
//! - Nothing waits. There is no lock: the state is one atomic word, the
//!   offset up to which every byte is addressable at every instant (bytes
//!   are unpoisoned before it grows, and poisoned after it shrinks). A
//!   forked child, which has only the forking thread, and a signal handler
//!   that interrupts its own thread in the middle of an update, both find
//!   a state they can build on, never one to wait out.
//!
//! Shadow memory is per process: a peer's writes change nothing here. A
//! peer that grows the value makes the new bytes readable at this
//! process's next [`value`](crate::Region::value).

#[cfg(any(fuzzshm_asan, feature = "capi"))]
pub(crate) use active::Shadow;
#[cfg(not(any(fuzzshm_asan, feature = "capi")))]
pub(crate) use inactive::Shadow;

/// Whether this process poisons the bytes past each value for
/// AddressSanitizer: the crate was built with `-Zsanitizer=address`, or
/// (the C library) the program carries the ASan runtime. A harness can
/// assert it to be sure over-reads of inputs will be reported.
///
/// # Examples
///
/// ```
/// if !fuzzshm::asan_poisoning() {
///     eprintln!("note: inputs read past their end go unreported");
/// }
/// ```
pub fn asan_poisoning() -> bool {
    #[cfg(any(fuzzshm_asan, feature = "capi"))]
    return active::runtime().is_some();
    #[cfg(not(any(fuzzshm_asan, feature = "capi")))]
    return false;
}

#[cfg(not(any(fuzzshm_asan, feature = "capi")))]
mod inactive {
    /// Nothing to track without a sanitizer.
    pub(crate) struct Shadow;

    impl Shadow {
        #[inline(always)]
        pub(crate) fn tracking(_capacity: usize) -> Shadow {
            Shadow
        }

        #[inline(always)]
        pub(crate) fn untracked() -> Shadow {
            Shadow
        }

        #[inline(always)]
        pub(crate) fn expose(&self, _value: *mut u8, _capacity: usize, _len: usize) {}

        #[inline(always)]
        pub(crate) fn widen(&self, _value: *mut u8, _len: usize) {}
    }
}

#[cfg(any(fuzzshm_asan, feature = "capi"))]
mod active {
    use core::ffi::c_void;
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// `__asan_poison_memory_region` and `__asan_unpoison_memory_region`.
    type Mark = unsafe extern "C" fn(*const c_void, usize);

    /// ASan's granule: one shadow byte describes 8 bytes of memory.
    const GRANULE: usize = 8;

    /// The value area's state for ASan.
    pub(crate) struct Shadow {
        /// Every byte of `[0, open)` is addressable, at every instant; past
        /// it, the rest of its granule may be too. [`UNTRACKED`] for
        /// memory the region does not own.
        open: AtomicUsize,
    }

    /// A region over memory its caller owns ([`Region::from_raw_parts`]):
    /// poisoning it would outlive the region and be misread later.
    ///
    /// [`Region::from_raw_parts`]: crate::Region::from_raw_parts
    const UNTRACKED: usize = usize::MAX;

    impl Shadow {
        /// A fresh mapping's value area of `capacity` bytes: nothing
        /// poisoned yet (poisoning costs shadow memory in proportion to
        /// what it covers; a new region costs none until written).
        pub(crate) fn tracking(capacity: usize) -> Shadow {
            // The runtime is looked up (the C library's `dlsym`, which
            // takes the loader's lock) here, where the region is made, so
            // that no later call, a signal handler's or a forked child's,
            // is the first.
            let _ = runtime();
            Shadow {
                open: AtomicUsize::new(capacity),
            }
        }

        pub(crate) fn untracked() -> Shadow {
            Shadow {
                open: AtomicUsize::new(UNTRACKED),
            }
        }

        /// Makes `[0, len)` of the value area at `value` addressable and
        /// poisons the rest, touching only the bytes whose state changes.
        /// `len` is at most `capacity`; exposing the capacity unpoisons
        /// everything, as must happen before the mapping is unmapped or
        /// moved.
        ///
        /// Only for a caller no slice past `len` from an earlier call is
        /// read after: a `&mut` path, or the C library (whose contract
        /// says so). It never waits; a `&self` path that interrupts it (a
        /// signal handler) still gets its bytes, and the state stays true.
        pub(crate) fn expose(&self, value: *mut u8, capacity: usize, len: usize) {
            let Some((poison, unpoison)) = runtime() else {
                return;
            };
            // Widening: the bytes first, then the state. Narrowing: the
            // state first, then the bytes.
            let open = loop {
                let open = self.open.load(Ordering::Acquire);
                if open == UNTRACKED {
                    return;
                }
                if len > open {
                    // SAFETY: `open < len <= capacity`: inside the area;
                    // marking shadow memory touches none of its bytes.
                    unsafe { unpoison(value.wrapping_add(open).cast(), len - open) };
                }
                let swapped =
                    self.open
                        .compare_exchange(open, len, Ordering::AcqRel, Ordering::Acquire);
                if swapped.is_ok() {
                    break open;
                }
            };
            // Bytes up to here may be addressable: `open`, or up to the end
            // of its granule after a `widen`. Never poisoned past the area.
            let reach = granule_end(value, open).min(capacity);
            if len < reach {
                // SAFETY: `len < reach <= capacity`: inside the area;
                // marking shadow memory touches none of its bytes.
                unsafe { poison(value.wrapping_add(len).cast(), reach - len) };
                // A `&self` path that ran in between (a handler, on this
                // thread) raised the state over bytes just poisoned: give
                // them back.
                let now = self.open.load(Ordering::Acquire);
                if now > len {
                    unpoison_granules(unpoison, value, len, now);
                }
            }
        }

        /// Makes `[0, len)` of the value area addressable, poisoning
        /// nothing: for `&self` paths, under whose earlier slices nothing
        /// may be poisoned. Lock-free and wait-free: from any thread, a
        /// forked child, or a signal handler, whatever was interrupted.
        #[inline]
        pub(crate) fn widen(&self, value: *mut u8, len: usize) {
            let Some((_, unpoison)) = runtime() else {
                return;
            };
            let open = self.open.load(Ordering::Acquire);
            // `UNTRACKED` is above any length.
            if len > open {
                unpoison_granules(unpoison, value, open, len);
                self.open.fetch_max(len, Ordering::AcqRel);
            }
        }
    }

    /// Unpoisons `[from, to)` of the value area at `value`, extended to the
    /// end of `to`'s granule. Threads may do this at once over the same
    /// bytes: ASan then only stores "addressable" (zero) shadow bytes, never
    /// a partial granule's count, which it computes from the byte's old
    /// value and would race.
    #[cold]
    fn unpoison_granules(unpoison: Mark, value: *mut u8, from: usize, to: usize) {
        let to = granule_end(value, to);
        // SAFETY: `from < to`, and `to` at most the end of the granule
        // holding the area's last byte (`to` was at most the capacity):
        // bytes of this mapping, whose end is a page boundary, and which
        // past the area are never poisoned (ASan leaves a granule whose
        // tail is addressable alone). Marking touches none of the bytes.
        unsafe { unpoison(value.wrapping_add(from).cast(), to - from) };
    }

    /// `at` (an offset in the value area at `value`) rounded up to the next
    /// granule boundary in memory.
    fn granule_end(value: *mut u8, at: usize) -> usize {
        at + (GRANULE - (value as usize).wrapping_add(at) % GRANULE) % GRANULE
    }

    /// The crate itself is built with ASan: its runtime is linked in.
    #[cfg(fuzzshm_asan)]
    #[inline(always)]
    pub(super) fn runtime() -> Option<(Mark, Mark)> {
        extern "C" {
            fn __asan_poison_memory_region(addr: *const c_void, size: usize);
            fn __asan_unpoison_memory_region(addr: *const c_void, size: usize);
        }
        Some((__asan_poison_memory_region, __asan_unpoison_memory_region))
    }

    /// The C library: the ASan runtime if the program it is linked into
    /// has one, looked up once (`dlsym`), `None` otherwise.
    #[cfg(not(fuzzshm_asan))]
    #[inline]
    pub(super) fn runtime() -> Option<(Mark, Mark)> {
        /// 0: not looked up yet; 1: no ASan runtime; else the poison
        /// function's address (the unpoison one is in `UNPOISON`).
        static POISON: AtomicUsize = AtomicUsize::new(0);
        static UNPOISON: AtomicUsize = AtomicUsize::new(0);
        let mut poison = POISON.load(Ordering::Acquire);
        if poison == 0 {
            poison = look_up_runtime(&UNPOISON);
            POISON.store(poison, Ordering::Release);
        }
        if poison == 1 {
            return None;
        }
        let unpoison = UNPOISON.load(Ordering::Relaxed);
        // SAFETY: the address is the ASan runtime's function of that name,
        // whose C signature `Mark` is.
        let poison = unsafe { core::mem::transmute::<usize, Mark>(poison) };
        // SAFETY: as above, for its twin.
        let unpoison = unsafe { core::mem::transmute::<usize, Mark>(unpoison) };
        Some((poison, unpoison))
    }

    /// `dlsym(RTLD_DEFAULT, "__asan_poison_memory_region")` and its twin.
    /// Stores the unpoison function in `unpoison` first, then returns the
    /// poison one (1 if either is missing).
    #[cfg(not(fuzzshm_asan))]
    #[cold]
    fn look_up_runtime(unpoison: &AtomicUsize) -> usize {
        // SAFETY: `dlsym` with RTLD_DEFAULT and a NUL-terminated name only
        // looks a symbol up.
        let poison_fn =
            unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__asan_poison_memory_region".as_ptr()) };
        // SAFETY: as above.
        let unpoison_fn = unsafe {
            libc::dlsym(
                libc::RTLD_DEFAULT,
                c"__asan_unpoison_memory_region".as_ptr(),
            )
        };
        if poison_fn.is_null() || unpoison_fn.is_null() {
            return 1;
        }
        unpoison.store(unpoison_fn as usize, Ordering::Relaxed);
        poison_fn as usize
    }
}
