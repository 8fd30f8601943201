#!/usr/bin/env bash
# The README's C quick start, run as written: in a fresh copy of the
# repository's tracked files, save its C block as quickstart.c, run its
# commands line by line, and check what the program prints and that the
# temp file is gone. ~15 s.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$work"

# The first ```c block after "## C quick start", and the ```sh block after it.
awk '/^## C quick start/ {on = 1} on && /^```c$/ {code = 1; next}
     code && /^```$/ {exit} code {print}' README.md >"$work/quickstart.c"
awk '/^## C quick start/ {on = 1} on && /^```c$/ {seen = 1}
     seen && /^```sh$/ {cmds = 1; next} cmds && /^```$/ {exit} cmds {print}' \
    README.md >"$work/commands.sh"
test -s "$work/quickstart.c" && test -s "$work/commands.sh"
echo "--- the README's commands:"
cat "$work/commands.sh"

mkdir "$work/tmp"
cd "$work"
unset RUSTFLAGS
# Once with the default target directory, once with CARGO_TARGET_DIR set:
# the commands find the library in either.
output=$(env -u CARGO_TARGET_DIR TMPDIR="$work/tmp" bash -euo pipefail commands.sh)
grep -qx "value: an input" <<<"$output"
rm -f quickstart
output=$(CARGO_TARGET_DIR="$work/elsewhere" TMPDIR="$work/tmp" bash -euo pipefail commands.sh)
test -e "$work/elsewhere/capi/libfuzzshm.a"
echo "$output"
grep -qx "value: an input" <<<"$output"
test -z "$(ls -A "$work/tmp")" # the region's file was removed on close
echo "C quick start: ok"
