#!/usr/bin/env bash
# Installs the Go toolchain (Debian's golang-go) for the layout tests, which
# check the header against Go's own compiler. Idempotent.
set -euo pipefail
if ! command -v go >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq golang-go >/dev/null
fi
go version
