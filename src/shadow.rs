//! AddressSanitizer's view of the value area: the bytes past `valueLen`
//! are poisoned in this process's shadow memory whenever a value is handed
//! out or published, so a target that reads past its input is reported as
//! it would be from libFuzzer's exact-size heap copy, without the copy.
//!
//! Compiled in when the crate itself is built with `-Zsanitizer=address`
//! (build.rs sets `fuzzshm_asan`), and in the C library (feature `capi`),
//! which looks the ASan runtime up when first needed and does nothing in a
//! program without it. Otherwise [`Shadow`] is empty and every method is
//! an empty inline function: no code, no branch.
//!
//! Shadow memory is per process: a peer's writes change nothing here. What
//! this process sees poisoned follows the `valueLen` it last read or wrote
//! through this crate; a peer that grows the value makes the new bytes
//! readable at this process's next [`value`](crate::Region::value).

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
        pub(crate) fn expose_shared(&self, _value: *mut u8, _capacity: usize, _len: usize) {}

        #[inline(always)]
        pub(crate) fn hold_open(&self, _value: *mut u8, _capacity: usize) {}
    }
}

#[cfg(any(fuzzshm_asan, feature = "capi"))]
mod active {
    use core::ffi::c_void;
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// `__asan_poison_memory_region` and `__asan_unpoison_memory_region`.
    type Mark = unsafe extern "C" fn(*const c_void, usize);

    /// The value area's state for ASan: where its poisoned tail starts
    /// (the value length this process last exposed; the capacity while
    /// nothing is poisoned), or one of the markers below.
    pub(crate) struct Shadow {
        state: AtomicUsize,
    }

    /// A region over memory its caller owns ([`Region::from_raw_parts`]):
    /// poisoning it would outlive the region and be misread later.
    ///
    /// [`Region::from_raw_parts`]: crate::Region::from_raw_parts
    const UNTRACKED: usize = usize::MAX;
    /// The whole area was handed out through `&self`
    /// ([`Region::value_buffer`]): nothing is poisoned, and `&self` paths
    /// poison nothing until a `&mut` path (which no such slice outlives)
    /// takes the state back.
    ///
    /// [`Region::value_buffer`]: crate::Region::value_buffer
    const HELD_OPEN: usize = usize::MAX - 1;
    /// A thread is changing the shadow: the others wait, so the shadow and
    /// the state never disagree (`Region` is `Sync`).
    const BUSY: usize = usize::MAX - 2;

    /// What a caller wants of the shadow.
    enum Want {
        /// `[0, len)` addressable, the rest poisoned (a `&mut` path).
        Value(usize),
        /// As `Value`, unless the area is held open (`&self` paths).
        SharedValue(usize),
        /// Everything addressable, and held so.
        Open,
    }

    impl Shadow {
        /// A fresh mapping's value area of `capacity` bytes: nothing
        /// poisoned yet.
        pub(crate) fn tracking(capacity: usize) -> Shadow {
            Shadow {
                state: AtomicUsize::new(capacity),
            }
        }

        pub(crate) fn untracked() -> Shadow {
            Shadow {
                state: AtomicUsize::new(UNTRACKED),
            }
        }

        /// Makes `[0, len)` of the value area at `value` addressable and
        /// poisons the rest, touching only the bytes whose state changes.
        /// `len` is at most `capacity`; exposing the capacity unpoisons
        /// everything, as must happen before the mapping is unmapped or
        /// moved.
        #[inline]
        pub(crate) fn expose(&self, value: *mut u8, capacity: usize, len: usize) {
            self.update(value, capacity, Want::Value(len));
        }

        /// [`expose`](Self::expose) from a `&self` path: not while a slice
        /// of the whole area may be alive.
        #[inline]
        pub(crate) fn expose_shared(&self, value: *mut u8, capacity: usize, len: usize) {
            self.update(value, capacity, Want::SharedValue(len));
        }

        /// Unpoisons the whole area, and keeps it so for `&self` paths.
        #[inline]
        pub(crate) fn hold_open(&self, value: *mut u8, capacity: usize) {
            self.update(value, capacity, Want::Open);
        }

        fn update(&self, value: *mut u8, capacity: usize, want: Want) {
            let Some((poison, unpoison)) = runtime() else {
                return;
            };
            let state = loop {
                match self.state.load(Ordering::Acquire) {
                    UNTRACKED => return,
                    BUSY => core::hint::spin_loop(),
                    state => {
                        let taken = self.state.compare_exchange_weak(
                            state,
                            BUSY,
                            Ordering::Acquire,
                            Ordering::Relaxed,
                        );
                        if taken.is_ok() {
                            break state;
                        }
                    }
                }
            };
            let from = if state == HELD_OPEN { capacity } else { state };
            let (next, to) = match want {
                Want::SharedValue(_) if state == HELD_OPEN => (HELD_OPEN, capacity),
                Want::Value(len) | Want::SharedValue(len) => (len, len),
                Want::Open => (HELD_OPEN, capacity),
            };
            // SAFETY: both ranges lie in the value area (`from` and `to` are
            // at most its capacity); marking shadow memory reads and writes
            // none of the bytes themselves.
            unsafe {
                if to > from {
                    unpoison(value.add(from).cast(), to - from);
                } else if to < from {
                    poison(value.add(to).cast(), from - to);
                }
            }
            self.state.store(next, Ordering::Release);
        }
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
        // SAFETY: both addresses are the ASan runtime's functions of that
        // name, whose C signature `Mark` is.
        Some(unsafe {
            (
                core::mem::transmute::<usize, Mark>(poison),
                core::mem::transmute::<usize, Mark>(unpoison),
            )
        })
    }

    /// `dlsym(RTLD_DEFAULT, "__asan_poison_memory_region")` and its twin.
    /// Stores the unpoison function in `unpoison` first, then returns the
    /// poison one (1 if either is missing).
    #[cfg(not(fuzzshm_asan))]
    #[cold]
    fn look_up_runtime(unpoison: &AtomicUsize) -> usize {
        // SAFETY: `dlsym` with RTLD_DEFAULT and a NUL-terminated name only
        // looks a symbol up.
        let (poison_fn, unpoison_fn) = unsafe {
            (
                libc::dlsym(libc::RTLD_DEFAULT, c"__asan_poison_memory_region".as_ptr()),
                libc::dlsym(
                    libc::RTLD_DEFAULT,
                    c"__asan_unpoison_memory_region".as_ptr(),
                ),
            )
        };
        if poison_fn.is_null() || unpoison_fn.is_null() {
            return 1;
        }
        unpoison.store(unpoison_fn as usize, Ordering::Relaxed);
        poison_fn as usize
    }
}
