#!/usr/bin/env bash
# Miri over the pure region logic (a Region over a heap buffer: no system
# calls), on a 64-bit and a 32-bit target. Any undefined behaviour fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/nightly.sh
export CARGO_TARGET_DIR=target/miri
for target in x86_64-unknown-linux-gnu i686-unknown-linux-gnu; do
    echo "--- miri on $target"
    cargo "+$NIGHTLY" miri test --target "$target" --test region_model
done
