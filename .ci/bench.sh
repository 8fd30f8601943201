#!/usr/bin/env bash
# The benchmark command, as a smoke run (its ratios are not judged here: CI
# machines are shared and noisy; BENCHMARKS.md holds the real runs), and the
# proof that the worker's per-exec path makes no system call: strace counts
# the calls of a run with 1,000 and with 1,000,000 iterations, and they must
# be equal.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v strace >/dev/null || { apt-get update -qq; apt-get install -y -qq strace >/dev/null; }
bash .ci/go.sh >/dev/null

# Bounded: a wait in the figures that never ends fails the step, named.
timeout --kill-after=20 600 cargo bench --bench figures -- --quick \
    || { echo "bench: the smoke run failed or ran past 600 s (status $?)"; exit 1; }

bin=$(cargo bench --bench figures --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*figures[^"]*"' | tail -1 | cut -d'"' -f4)
calls() {
    strace -f -qq -c -o "$out/strace-$1" "$bin" --per-exec-only "$1" >/dev/null
    awk '$NF == "total" { print $4 }' "$out/strace-$1"
}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
few=$(calls 1000)
many=$(calls 1000000)
echo "system calls: $few with 1e3 per-exec iterations, $many with 1e6"
[ "$few" = "$many" ] || { echo "the per-exec path makes system calls"; exit 1; }
