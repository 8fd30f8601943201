#!/usr/bin/env bash
# AddressSanitizer (leak detection on) over the whole test suite, and
# ThreadSanitizer over the tests with several threads on one region.
#
# Both build with `--features use-libc`: rustix then calls libc instead of
# making raw system calls, so the sanitizers' interceptors see every mmap,
# munmap, read and write (and keep their shadow memory in step with our
# mappings: a raw munmap/mmap reusing an address would leave stale shadow
# state behind). The default raw-syscall build runs under ASan in the fuzz
# targets (`.ci/fuzz.sh`). `--target` is explicit so that build scripts and
# proc-macros are not instrumented. ~70 s.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/nightly.sh
bash .ci/go.sh # tests/go_layout.rs asks Go's compiler for the offsets
base="${CARGO_TARGET_DIR:-$PWD/target}"
host=x86_64-unknown-linux-gnu

echo "--- ASan: every test (children re-exec the same instrumented binary)"
# Stable rustc, with RUSTC_BOOTSTRAP=1 for -Zsanitizer; std itself is not
# instrumented, which ASan does not need. ASAN_OPTIONS reaches the child
# processes the tests spawn, so their leaks are reported too.
# tests/leaks.rs is skipped: it counts the lines of /proc/self/maps, and
# ASan's allocator maps memory of its own as the heap grows.
export ASAN_OPTIONS=detect_leaks=1
RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
    CARGO_TARGET_DIR="$base/asan" \
    cargo test --features use-libc --target "$host" --all-targets \
    -- --skip thousands_of_cycles_leak_nothing
RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
    CARGO_TARGET_DIR="$base/asan" \
    cargo test --features use-libc --target "$host" --doc
unset ASAN_OPTIONS

echo "--- TSan: tests/threads.rs, with std rebuilt instrumented (-Zbuild-std)"
RUSTFLAGS="-Zsanitizer=thread" CARGO_TARGET_DIR="$base/tsan" \
    cargo "+$NIGHTLY" test -Zbuild-std --features use-libc --target "$host" --test threads
