# Sourced, not run: the feature combinations the library is built in, once
# for every script (`.ci/run`'s clippy, `.ci/msrv.sh`, `.ci/cross.sh`). One
# entry a combination, as cargo arguments (word-split on purpose; "" is the
# default features).
# shellcheck disable=SC2034 # used by the scripts that source this
FEATURES=(
    ""
    "--features capi"
    "--features use-libc"
    "--no-default-features"
    "--no-default-features --features alloc"
    "--no-default-features --features capi"
)
