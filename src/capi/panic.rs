//! The panic handler of a `no_std` C staticlib (feature `capi` without
//! `std`).

/// A `no_std` staticlib needs a panic handler, and the C program linking it
/// has no Rust runtime to supply one. Nothing in fuzzshm panics on any
/// input; should a bug make it, the process aborts at once, as
/// `panic = "abort"` would.
#[panic_handler]
fn abort_on_panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: `abort` has no preconditions and does not return.
    unsafe { libc::abort() }
}

/// The precompiled `core` is built for unwinding and so refers to this
/// symbol, which `std` would define. Under `panic = "abort"` no frame ever
/// unwinds, so it is never called; it exists so that the C program links
/// without nightly's `-Zbuild-std`. Aborts if it ever is called.
#[no_mangle]
extern "C" fn rust_eh_personality() {
    // SAFETY: `abort` has no preconditions and does not return.
    unsafe { libc::abort() }
}
