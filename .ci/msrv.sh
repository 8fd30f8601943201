#!/usr/bin/env bash
# The minimum supported Rust version (`rust-version` in Cargo.toml) builds
# the library in every feature combination. 1.80: the build script's
# `cargo::rustc-check-cfg` lines are an error to older cargo. ~1 min, plus
# the toolchain's download.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/features.sh
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
rustup toolchain list | grep -q "^$msrv" \
    || rustup toolchain install "$msrv" --profile minimal >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/msrv"
for features in "${FEATURES[@]}"; do
    echo "--- cargo +$msrv build --lib $features"
    # shellcheck disable=SC2086 # the features are words on purpose
    cargo "+$msrv" build --quiet --lib $features
done
echo "MSRV $msrv: every feature combination builds"
