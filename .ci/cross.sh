#!/usr/bin/env bash
# The whole test suite on i686-unknown-linux-gnu (the 32-bit header: 32
# bytes, randState at offset 12), and `cargo check` for targets we cannot
# run here, so the code that is not Linux x86_64 at least compiles, with
# warnings as errors (an unused import under a cfg is a warning). ~1 min.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/features.sh
base="${CARGO_TARGET_DIR:-$PWD/target}"
checked=(aarch64-unknown-linux-gnu x86_64-unknown-freebsd x86_64-apple-darwin)
unsupported=x86_64-pc-windows-gnu

installed=$(rustup target list --installed)
for target in i686-unknown-linux-gnu "${checked[@]}" "$unsupported"; do
    grep -qx "$target" <<<"$installed" || rustup target add "$target"
done
# -m32 C and C++ for tests/capi.rs (the C header and programs, 32-bit).
if ! dpkg -s gcc-multilib g++-multilib >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq gcc-multilib g++-multilib >/dev/null
fi
bash .ci/go.sh # tests/layout/go_layout.rs asks Go's compiler (GOARCH=386 here)

echo "--- i686-unknown-linux-gnu: every test"
export CARGO_TARGET_DIR="$base/i686"
cargo test --target i686-unknown-linux-gnu --lib --bins --tests --examples --features capi
cargo test --target i686-unknown-linux-gnu --doc --features capi

export CARGO_TARGET_DIR="$base/check" RUSTFLAGS="-D warnings"
for target in "${checked[@]}"; do
    echo "--- cargo check --target $target"
    for features in "${FEATURES[@]}"; do
        # shellcheck disable=SC2086 # the features are words on purpose
        cargo check --target "$target" --lib $features
    done
    case "$target" in
        # Linux: everything, benches included.
        *-linux-*) cargo check --target "$target" --all-targets ;;
        # tests/common creates pipes with pipe2, which macOS lacks.
        *-apple-*) cargo check --target "$target" --lib --examples ;;
        # The benches measure Linux (madvise hugepages, memfd).
        *) cargo check --target "$target" --lib --tests --examples ;;
    esac
done

echo "--- cargo check --target $unsupported: one clear compile_error!"
if out=$(cargo check --target "$unsupported" --lib 2>&1); then
    echo "fuzzshm built for $unsupported"; exit 1
fi
grep -q "fuzzshm supports Unix systems only" <<<"$out" && grep -q "due to 1 previous error" <<<"$out" \
    || { echo "$out"; echo "expected exactly one compile_error! on $unsupported"; exit 1; }
echo "$unsupported: one error, naming what is supported"
