#!/usr/bin/env bash
# Installs the Go toolchain (Debian's golang-go) for the layout tests, which
# check the header against Go's own compiler. Idempotent.
#
# Installing needs root and apt-get. Where Go is missing and cannot be
# installed, the Go layout proof is skipped with one line (tests/layout/go_layout.rs
# skips too), except under CI (CI set to anything but empty, false or 0, as
# CI services set CI=true), where it is required and this fails.
set -euo pipefail
in_ci() { [[ -n "${CI:-}" && "${CI}" != false && "${CI}" != 0 ]]; }
if ! command -v go >/dev/null 2>&1; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        apt-get install -y -qq golang-go >/dev/null
    elif in_ci; then
        echo "error: CI=$CI needs the Go layout proof, but go is not on PATH and installing it needs root and apt-get" >&2
        exit 1
    else
        echo "skipped: the Go layout proof (go is not on PATH, and installing it needs root and apt-get; CI=true requires it)" >&2
        exit 0
    fi
fi
go version
