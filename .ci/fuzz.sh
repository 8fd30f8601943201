#!/usr/bin/env bash
# cargo-fuzz: every target in fuzz/ for a bounded time, starting from its
# committed seeds (fuzz/seeds/<target>); any crash, leak, timeout or model
# mismatch fails. Inputs found on the way go to fuzz/corpus/<target>
# (git-ignored); a crashing input goes to fuzz/artifacts/<target>/.
# FUZZ_SECONDS sets the time per target (default 40: past each target's
# first plateau). ~3 min, plus ~1 min to install cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-40}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
# cargo-fuzz passes -Z flags (sanitizer, coverage instrumentation) to rustc;
# RUSTC_BOOTSTRAP lets the stable toolchain take them. The default
# sanitizer is ASan, with libFuzzer's leak detection.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
cd fuzz
cargo fuzz build -O
for target in $(cargo fuzz list | grep -vx overread); do
    echo "--- fuzz $target for ${seconds}s"
    mkdir -p "corpus/$target"
    cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1
done

# `overread` reads one byte past each input it gets through a region: the
# run must stop at once with ASan's use-after-poison report on that read.
echo "--- fuzz overread: the over-read must be reported"
log=$(mktemp)
if cargo fuzz run -O overread "seeds/overread" -- -runs=100 >"$log" 2>&1; then
    cat "$log"; echo "overread: not reported"; exit 1
fi
grep -q "use-after-poison" "$log" && grep -q "in target .*fuzz_targets/overread.rs" "$log" \
    || { cat "$log"; echo "overread: no use-after-poison report in target"; exit 1; }
rm -f "$log" artifacts/overread/crash-*
echo "overread: reported as use-after-poison"
