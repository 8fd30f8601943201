#!/usr/bin/env bash
# The test command killed at a random moment leaves nothing. Starts
# `bash .ci/test` (built by an earlier stage, so it is soon in the tests),
# sends SIGKILL, SIGTERM or
# SIGINT after 3 to 40 s, and checks within 20 s that nothing is left:
# no process of its session (it starts one of its own) and no temp file.
set -euo pipefail
cd "$(dirname "$0")/.."
ours() { # the processes of the killed run: its session, made by setsid
    ps -e -o sid=,pid=,args= | awk -v sid="$runner" '$1 == sid { print }' | cut -c1-160
}
temps() { # what the tests and their tools name in the temp directories
    find /tmp "${TMPDIR:-/tmp}" -maxdepth 1 \( -name 'fuzz-*' -o -name '.tmp*' \
        -o -name 'tmp.*' -o -name 'go-build*' \) 2>/dev/null | sort -u
}
before=$(temps)
signals=(KILL TERM INT)
signal=${KILLED_SIGNAL:-${signals[RANDOM % 3]}} # KILLED_SIGNAL, KILLED_AFTER: to replay a run
after=${KILLED_AFTER:-$((3 + RANDOM % 38))}
# Contained on its own (not as part of a contained .ci/run), as a user runs
# it: in a session of its own, with SIGINT not ignored (as a background job
# of this shell would have it).
env -u FUZZSHM_CONTAINED setsid perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV' \
    bash .ci/test >/dev/null 2>&1 &
runner=$!
disown "$runner"
sleep "$after"
echo "killed: SIG$signal to .ci/test after ${after}s"
# SIGINT as Ctrl-C sends it, to the whole process group; the others to the
# script alone.
if [[ $signal == INT ]]; then
    kill -INT -- "-$runner" 2>/dev/null || true
else
    kill -"$signal" "$runner" 2>/dev/null || true
fi
for _ in $(seq 40); do
    left=$(ours)
    [[ -z "$left" ]] && break
    sleep 0.5
done
[[ -z "$left" ]] || { echo "left running 20 s after SIG$signal:"; echo "$left"; exit 1; }
new=$(comm -13 <(echo "$before") <(temps))
[[ -z "$new" ]] || { echo "left in the temp directories after SIG$signal:"; echo "$new"; exit 1; }
echo "killed: nothing left (no process, no temp file)"
