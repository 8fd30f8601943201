#!/usr/bin/env bash
# Miri over the pure region logic: tests/region_model.rs (a Region over a
# heap buffer, driven by the fuzz targets' operations and hostile headers;
# no system calls) on a 64-bit and a 32-bit target, and the one doc example
# without system calls. Any undefined behaviour fails. ~1 min, plus ~1 min
# on a fresh machine (the nightly, and Miri's sysroot for each target).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/nightly.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/miri"
# Each test runs single-threaded, so Miri's weak-memory (store buffer)
# emulation has nothing to find; on nightly-2026-05-20 it also hits an
# internal error (weak_memory.rs: "cannot have empty store buffer when
# previous write was atomic") after a peer's plain one-byte write into the
# atomic valueLen, then an acquire load and a release store. Data-race and
# aliasing checks stay on.
export MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-disable-weak-memory-emulation"
for target in x86_64-unknown-linux-gnu i686-unknown-linux-gnu; do
    echo "--- miri on $target"
    cargo "+$NIGHTLY" miri test --target "$target" --test region_model
done
echo "--- miri on the doc example of Region::from_raw_parts"
cargo "+$NIGHTLY" miri test --doc -- Region::from_raw_parts
