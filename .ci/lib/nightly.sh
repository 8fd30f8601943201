# Sourced, not run, by the scripts that need nightly-only tools (Miri,
# -Zbuild-std): one pinned nightly, so CI is repeatable. Installs it if
# missing.
NIGHTLY=nightly-2026-05-20
if ! rustup run "$NIGHTLY" cargo miri --version >/dev/null 2>&1 \
    || ! rustup component list --toolchain "$NIGHTLY" --installed 2>/dev/null | grep -q '^rust-src'; then
    rustup toolchain install "$NIGHTLY" --profile minimal --component miri,rust-src
fi
