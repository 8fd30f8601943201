#!/usr/bin/env bash
# AddressSanitizer (leak detection on) over the whole test suite, in the
# default build, the one users' sanitized workers link: rustix makes raw
# system calls there, which ASan's interceptors never see. ThreadSanitizer
# runs the tests with several threads on one region. `--target` is explicit so that build scripts and
# proc-macros are not instrumented.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/nightly.sh
bash .ci/go.sh # tests/layout/go_layout.rs asks Go's compiler for the offsets
base="${CARGO_TARGET_DIR:-$PWD/target}"
host=x86_64-unknown-linux-gnu

echo "--- ASan: every test, leak test included (children re-exec the same instrumented binary)"
# Stable rustc, with RUSTC_BOOTSTRAP=1 for -Zsanitizer; std itself is not
# instrumented, which ASan does not need. ASAN_OPTIONS reaches the child
# processes the tests spawn, so their leaks are reported too.
export ASAN_OPTIONS=detect_leaks=1
RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
    CARGO_TARGET_DIR="$base/asan" \
    cargo test --target "$host" --lib --bins --tests --examples
RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
    CARGO_TARGET_DIR="$base/asan" \
    cargo test --target "$host" --doc
unset ASAN_OPTIONS

echo "--- TSan: tests/process/threads.rs, with std rebuilt instrumented (-Zbuild-std)"
RUSTFLAGS="-Zsanitizer=thread" CARGO_TARGET_DIR="$base/tsan" \
    cargo "+$NIGHTLY" test -Zbuild-std --features use-libc --target "$host" --test process -- threads::
