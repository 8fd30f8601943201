#!/usr/bin/env bash
# The main job, as the README names it, checked: it must find the planted
# crash, recover the input from shared memory, and prove it by replay.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run --release --example fuzz_loop -- --seconds 20 --out "$out" | tee "$out/log"
grep -q '^verified: replaying .* killed the target with signal' "$out/log"
ls "$out"/crash-* >/dev/null
echo "demo: crash found, recovered from shared memory and verified by replay"
