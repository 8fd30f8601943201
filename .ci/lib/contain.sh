# Sourced by a CI script as its first act, once in the repository's root:
# runs the script again inside a PID namespace and a mount namespace of its
# own, with a private tmpfs on /tmp (and TMPDIR pointing there; where the
# repository or the toolchains live under /tmp, the tmpfs goes on
# target/ci-tmp instead). Killed at any instant, even by SIGKILL, the
# script takes `unshare` with it, which takes the namespace's first process
# (--kill-child); the kernel kills every process left in the namespace,
# and the tmpfs with every temp file in it goes when its last user does. Nothing started by the script outlives it,
# and nothing it wrote under /tmp stays.
#
# Namespaces need root. A normal user gets a weaker form: the running step
# ended and a private TMPDIR removed on exit, SIGINT or SIGTERM (SIGKILL of
# the script itself cannot be caught there).
if [[ -z "${FUZZSHM_CONTAINED:-}" ]]; then
    export FUZZSHM_CONTAINED=1
    # The script as given, from where it was started (the caller has
    # already changed to the repository's root).
    contain_script=$0
    [[ $contain_script == /* ]] || contain_script=${OLDPWD:-$PWD}/$contain_script
    # Whether any of these paths is /tmp or below it, where a tmpfs on /tmp
    # would hide it.
    under_tmp() {
        local path
        for path in "$@"; do
            [[ -n $path && "$(realpath -m "$path")/" == /tmp/* ]] && return 0
        done
        return 1
    }
    if [[ "$(id -u)" == 0 ]] && unshare --pid --mount --fork --kill-child --mount-proc true 2>/dev/null; then
        # The private tmpfs goes on /tmp itself, unless what the script
        # works with lives there: then on a directory of the target dir.
        FUZZSHM_PRIVATE_TMP=/tmp
        if under_tmp "$PWD" "$contain_script" "${CARGO_TARGET_DIR:-}" "${CARGO_HOME:-$HOME/.cargo}" \
            "${RUSTUP_HOME:-$HOME/.rustup}" "$HOME" "${GOCACHE:-}" "${GOPATH:-}"; then
            FUZZSHM_PRIVATE_TMP=${CARGO_TARGET_DIR:-$PWD/target}/ci-tmp
            mkdir -p "$FUZZSHM_PRIVATE_TMP"
        fi
        export FUZZSHM_PRIVATE_TMP
        # `unshare` dies with this shell (setpriv's death signal) and takes
        # the namespace with it; it ignores SIGINT and SIGTERM, so this
        # shell turns them into that SIGKILL.
        # shellcheck disable=SC2016 # expanded by the inner shell
        setpriv --pdeathsig KILL \
            unshare --pid --mount --fork --kill-child --mount-proc --propagation private \
            bash -c 'mount -t tmpfs -o mode=1777 fuzzshm-ci-tmp "$FUZZSHM_PRIVATE_TMP" \
                && export TMPDIR=$FUZZSHM_PRIVATE_TMP && exec bash "$0" "$@"' \
            "$contain_script" "$@" &
        contained=$!
        trap 'kill -KILL "$contained" 2>/dev/null; exit 130' INT
        trap 'kill -KILL "$contained" 2>/dev/null; exit 143' TERM
        wait "$contained"
        exit
    fi
    FUZZSHM_PRIVATE_TMP=$(mktemp -d)
    export TMPDIR=$FUZZSHM_PRIVATE_TMP
    # On exit, SIGINT or SIGTERM: end the running step (`timeout` leads a
    # process group of its own, which FUZZSHM_STEP_PID names) and remove
    # the private TMPDIR; on a signal, stop there.
    contain_cleanup() {
        trap - EXIT INT TERM
        if [[ -n ${FUZZSHM_STEP_PID:-} ]]; then kill -TERM -- "-$FUZZSHM_STEP_PID" 2>/dev/null; fi
        rm -rf "$FUZZSHM_PRIVATE_TMP"
    }
    trap contain_cleanup EXIT
    trap 'contain_cleanup; exit 130' INT
    trap 'contain_cleanup; exit 143' TERM
fi
