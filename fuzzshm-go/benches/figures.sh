#!/usr/bin/env bash
# fuzzshm-go against go test -fuzz, side by side in one run, on both Go
# versions (BENCHMARKS.md). Not a test: figures on a shared machine vary.
#
#   bash fuzzshm-go/benches/figures.sh [SECONDS] [SEEDS] [1.19|1.27]
#
# 1. Executions per second: FuzzNever (no bug; tests/gomod) for SECONDS
#    (default 10) with -parallel 1 and 2, Go's defaults otherwise, a fresh
#    fuzz cache each run; each tool's own final "execs: N" over the time,
#    three runs each (the two tools in turn), and the ratio of the medians.
# 2. Time to the first crash: the demo's two bugs and tests/gomod's
#    FuzzMagic and FuzzPair, GODEBUG=fuzzseed=1..SEEDS (default 5) for
#    both tools (it seeds the Go workers' generator), -parallel 2; the
#    wall time of the whole command (the build is cached), median. SEEDS 0
#    skips it.
# The third argument runs one Go version only (default: both).
# Needs Go 1.19 (/usr/bin/go, or FUZZSHM_GO119) and Go 1.27 (FUZZSHM_GO127,
# else target/go127-venv/bin/go, as .ci/fuzzshm-go.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
seeds=${2:-5}
only=${3:-}
root=$PWD
export GOTOOLCHAIN=local
go119=${FUZZSHM_GO119:-/usr/bin/go}
go127=${FUZZSHM_GO127:-$root/target/go127-venv/bin/go}
cargo build --release -q -p fuzzshm-go
fsg=$root/target/release/fuzzshm-go
work=$root/target/go-figures
mkdir -p "$work"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

last_rate() { # total execs / seconds from the last progress line
    grep -o 'elapsed: [0-9]*s, execs: [0-9]*' | tail -1 | awk -v s="$secs" '{print int($4 / s)}'
}

gos=("$go119" "$go127")
case $only in
    "") ;;
    1.19) gos=("$go119") ;;
    1.27) gos=("$go127") ;;
    *) echo "figures.sh: the third argument is 1.19 or 1.27, not $only" >&2; exit 2 ;;
esac
for go in "${gos[@]}"; do
    export PATH="$(dirname "$go"):$PATH" GOCACHE=$work/gocache-$(basename "$(dirname "$(dirname "$go")")")
    ver=$("$go" env GOVERSION)
    for mod in "$root/fuzzshm-go/tests/gomod" "$root/fuzzshm-go/examples/planted"; do
        (cd "$mod" && go test -c -fuzz=. -o /dev/null . >/dev/null) # warm the build cache
    done
    cd "$root/fuzzshm-go/tests/gomod"
    for par in 1 2; do
        gr=(); fr=()
        for _ in 1 2 3; do
            rm -rf "$GOCACHE/fuzz" testdata
            gr+=("$(go test -run='^$' -fuzz='^FuzzNever$' -fuzztime="${secs}s" -parallel=$par . 2>&1 | last_rate)")
            rm -rf "$GOCACHE/fuzz" testdata
            fr+=("$("$fsg" -fuzz='^FuzzNever$' -fuzztime="${secs}s" -parallel=$par . 2>&1 | last_rate)")
        done
        g=$(med "${gr[@]}"); f=$(med "${fr[@]}")
        echo "$ver execs/sec FuzzNever -parallel=$par: go test -fuzz [${gr[*]}] median $g, fuzzshm-go [${fr[*]}] median $f, ratio $(awk -v a="$f" -v b="$g" 'BEGIN{printf "%.2f", a/b}')"
    done
    [[ $seeds -gt 0 ]] || { cd "$root"; continue; }
    for case in "$root/fuzzshm-go/examples/planted FuzzParse" "$root/fuzzshm-go/examples/planted FuzzRepeat" \
                "$root/fuzzshm-go/tests/gomod FuzzMagic" "$root/fuzzshm-go/tests/gomod FuzzPair"; do
        read -r mod target <<<"$case"
        cd "$mod"
        gt=(); ft=()
        for seed in $(seq 1 "$seeds"); do
            for tool in go fsg; do
                rm -rf "$GOCACHE/fuzz" testdata
                start=$(date +%s.%N)
                if [[ $tool == go ]]; then
                    GODEBUG=fuzzseed=$seed go test -run='^$' -fuzz="^$target\$" -fuzztime=120s -parallel=2 . >/dev/null 2>&1 || true
                else
                    GODEBUG=fuzzseed=$seed "$fsg" -fuzz="^$target\$" -fuzztime=120s -parallel=2 . >/dev/null 2>&1 || true
                fi
                t=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
                [[ -n $(ls testdata/fuzz/"$target" 2>/dev/null) ]] || t="none"
                if [[ $tool == go ]]; then gt+=("$t"); else ft+=("$t"); fi
            done
        done
        rm -rf testdata "$GOCACHE/fuzz"
        echo "$ver first crash $target (s, seeds 1-$seeds): go test -fuzz [${gt[*]}] median $(med "${gt[@]}"); fuzzshm-go [${ft[*]}] median $(med "${ft[@]}")"
    done
    cd "$root"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
