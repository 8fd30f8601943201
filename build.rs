//! Turns the target into the short cfgs the crate is written against, so the
//! code says `#[cfg(fuzzshm_memfd)]` instead of repeating an `any(...)` list
//! of operating systems at every use. Each cfg names a kernel facility and
//! the targets where rustix exposes it:
//!
//! - `fuzzshm_memfd`: `memfd_create` and `F_ADD_SEALS` (Linux, Android, FreeBSD);
//! - `fuzzshm_mremap`: `mremap(MREMAP_MAYMOVE)`, to grow a mapping in place (Linux);
//! - `fuzzshm_fallocate`: `fallocate(FALLOC_FL_KEEP_SIZE)`, to reserve a
//!   file's storage before writing it through a mapping (Linux, Android);
//! - `fuzzshm_getrandom`: `getrandom`, for unpredictable temp-file names
//!   (Linux, Android);
//! - `fuzzshm_pipe2`: `pipe2(O_CLOEXEC)`, a pipe born close-on-exec (not on
//!   macOS, which has only `pipe`);
//! - `fuzzshm_tmpfile`: `openat(O_TMPFILE)`, a file created with no name
//!   (Linux, Android);
//! - `fuzzshm_getdents`: `getdents64` through rustix's `RawDir`, to list a
//!   directory into a buffer on the stack (Linux, Android).
//!
//! - `fuzzshm_list_dir`: the crate can list a directory (for
//!   `remove_orphans_in`): with `getdents64`, or elsewhere with
//!   rustix's `Dir`, which needs the `alloc` feature.
//!
//! - `fuzzshm_x86_64_simd`: the copy's AVX streaming kernel
//!   (`src/copy/x86_64.rs`) is built: the target is x86-64 and the crate
//!   is not being interpreted by Miri (cargo-miri sets `cfg(miri)`, which
//!   cargo passes here as `CARGO_CFG_MIRI`; Miri runs the portable copy,
//!   which cannot run `cpuid`, inline assembly, to detect AVX).
//!
//! - `fuzzshm_asan`: the crate is being built with `-Zsanitizer=address`
//!   (cargo-fuzz's default; rustc then sets `cfg(sanitize = "address")`,
//!   which cargo passes here as `CARGO_CFG_SANITIZE`): the value area's
//!   tail is poisoned for AddressSanitizer (`src/shadow.rs`).
//!
//! It also passes the target triple to the crate's tests as
//! `FUZZSHM_TARGET`: `tests/capi.rs` builds the C static library and the C
//! programs for the same target the tests run on (i686 in `.ci/cross.sh`).
//!
//! Every cfg is declared with `cargo::rustc-check-cfg`, so a misspelt one is a
//! compile-time warning (an error under `-D warnings`) rather than code that
//! silently never builds.

use std::env;

/// A cfg and the operating systems (`CARGO_CFG_TARGET_OS`) that have it.
const FACILITIES: &[(&str, &[&str])] = &[
    ("fuzzshm_memfd", &["linux", "android", "freebsd"]),
    ("fuzzshm_mremap", &["linux"]),
    ("fuzzshm_fallocate", &["linux", "android"]),
    ("fuzzshm_getrandom", &["linux", "android"]),
    ("fuzzshm_tmpfile", &["linux", "android"]),
    ("fuzzshm_getdents", &["linux", "android"]),
    (
        "fuzzshm_pipe2",
        &[
            "linux",
            "android",
            "freebsd",
            "netbsd",
            "openbsd",
            "dragonfly",
            "illumos",
            "solaris",
        ],
    ),
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let target = env::var("TARGET").unwrap_or_default();
    println!("cargo::rustc-env=FUZZSHM_TARGET={target}");
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    println!("cargo::rustc-check-cfg=cfg(fuzzshm_asan)");
    let sanitizers = env::var("CARGO_CFG_SANITIZE").unwrap_or_default();
    if sanitizers
        .split(',')
        .any(|sanitizer| sanitizer == "address")
    {
        println!("cargo::rustc-cfg=fuzzshm_asan");
    }
    println!("cargo::rustc-check-cfg=cfg(fuzzshm_x86_64_simd)");
    let target_arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if target_arch == "x86_64" && env::var_os("CARGO_CFG_MIRI").is_none() {
        println!("cargo::rustc-cfg=fuzzshm_x86_64_simd");
    }
    let mut getdents = false;
    for (cfg, systems) in FACILITIES {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if systems.contains(&target_os.as_str()) {
            println!("cargo::rustc-cfg={cfg}");
            getdents |= *cfg == "fuzzshm_getdents";
        }
    }
    println!("cargo::rustc-check-cfg=cfg(fuzzshm_list_dir)");
    if getdents || env::var_os("CARGO_FEATURE_ALLOC").is_some() {
        println!("cargo::rustc-cfg=fuzzshm_list_dir");
    }
}
