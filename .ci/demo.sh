#!/usr/bin/env bash
# The main job, as the README names it, checked: it must find the planted
# crash, recover the input from shared memory, and prove it by replay.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/contain.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run --release --example fuzz_loop -- --seconds 20 --out "$out" | tee "$out/log"
grep -q '^verified: replaying .* killed the target with signal' "$out/log"
ls "$out"/crash-* >/dev/null
echo "demo: crash found, recovered from shared memory and verified by replay"

# A crash that is an exit code, as AddressSanitizer's reports are, is a
# crash too; and the command line refuses what it cannot do, naming it.
rm -rf "$out"/crash-*
FUZZ_LOOP_CRASH=exit1 cargo run --release --example fuzz_loop -- \
    --seconds 20 --out "$out" >"$out/log"
grep -q '^verified: replaying .* failed the target with exit code 1' "$out/log" \
    || { cat "$out/log"; exit 1; }
# A worker that stops answering is killed after --timeout, and its input
# saved as a hang.
rm -rf "$out"/crash-*
FUZZ_LOOP_CRASH=hang cargo run --release --example fuzz_loop -- \
    --seconds 30 --timeout 2 --max-crashes 2 --out "$out" >"$out/log"
grep -q 'hung (no answer within 2 s): 2 hits' "$out/log" || { cat "$out/log"; exit 1; }
ls "$out"/crash-* >/dev/null

bin="${CARGO_TARGET_DIR:-target}/release/examples"

# Workers ended from outside: SIGKILL is no crash (restarted, nothing
# saved); a SIGSTOPped worker is a hang, killed after --timeout, and the
# run still ends on time with its summary.
rm -rf "$out"/crash-*
"$bin/fuzz_loop" --workers 2 --seconds 8 --timeout 2 --max-crashes 0 \
    --out "$out" >"$out/log" 2>&1 &
loop=$!
sleep 2
# The workers are this run's children, found by its pid (never by name,
# which could match another run's).
pkill -KILL -o -P "$loop" || true
sleep 1
pkill -STOP -n -P "$loop" || true
wait "$loop" || { cat "$out/log"; exit 1; }
grep -q 'ended from outside (signal 9): not a crash, restarted' "$out/log" \
    && grep -q 'hung (no answer within 2 s)' "$out/log" \
    && grep -q '^summary:' "$out/log" || { cat "$out/log"; exit 1; }
for bad in "--workers 0" "--workers x" "--bogus" "--seconds 18446744073709551615"; do
    # shellcheck disable=SC2086 # the flags are words on purpose
    if "$bin/fuzz_loop" $bad >"$out/refused" 2>&1; then echo "accepted $bad"; exit 1; fi
    grep -q -- "${bad%% *}" "$out/refused" || { cat "$out/refused"; exit 1; }
done
"$bin/fuzz_loop" --replay /nonexistent >"$out/refused" 2>&1 && { echo "replayed a missing file"; exit 1; }
grep -q "No such file" "$out/refused"

# Nothing left behind: SIGTERM is a stop request (summary printed, every
# named file removed); too many workers for the descriptor limit fail
# before any starts, removing the regions already made.
mkdir -p "$out/tmp"
for signal in TERM INT; do
    TMPDIR="$out/tmp" "$bin/fuzz_loop" --temp-file --seconds 30 --out "$out" >"$out/log" 2>&1 &
    loop=$!
    sleep 2
    kill -"$signal" "$loop"
    wait "$loop" || { cat "$out/log"; exit 1; }
    grep -q '^summary:' "$out/log" && [ -z "$(ls -A "$out/tmp")" ] \
        || { echo "SIG$signal:"; cat "$out/log"; ls "$out/tmp"; exit 1; }
done
# Crash files that cannot be written are refused at the start, by name.
if "$bin/fuzz_loop" --seconds 1 --out /dev/null/crashes >"$out/log" 2>&1; then
    echo "ran with an unwritable --out"; exit 1
fi
grep -q -- "--out /dev/null/crashes: cannot write crash files there" "$out/log" || { cat "$out/log"; exit 1; }
if (ulimit -n 48 && TMPDIR="$out/tmp" "$bin/fuzz_loop" --temp-file --workers 500 --seconds 1 \
    --out "$out") >"$out/log" 2>&1; then
    echo "500 workers under 48 descriptors?"; exit 1
fi
[ -z "$(ls -A "$out/tmp")" ] || { cat "$out/log"; ls "$out/tmp" | head; exit 1; }
echo "demo: an exit-code crash is a crash; bad flags and files are refused by name; nothing is left behind"
