# Sourced by a CI script as its first act: runs the script again inside a
# PID namespace and a mount namespace of its own, with a private tmpfs on
# /tmp (and TMPDIR pointing there). The script's own process is then
# `unshare`; killed at any instant, even by SIGKILL, it takes the
# namespace's first process with it (--kill-child), the kernel kills every
# process left in the namespace, and the tmpfs with every temp file in it
# goes when its last user does. Nothing started by the script outlives it,
# and nothing it wrote under /tmp stays.
#
# Namespaces need root. A normal user gets a weaker form: a private TMPDIR
# removed, and the script's process group killed, on exit, SIGINT or
# SIGTERM (SIGKILL of the script itself cannot be caught there).
if [[ -z "${FUZZSHM_CONTAINED:-}" ]]; then
    export FUZZSHM_CONTAINED=1
    if [[ "$(id -u)" == 0 ]] && unshare --pid --mount --fork --kill-child --mount-proc true 2>/dev/null; then
        # shellcheck disable=SC2016 # expanded by the inner shell
        exec unshare --pid --mount --fork --kill-child --mount-proc --propagation private \
            bash -c 'mount -t tmpfs -o mode=1777 fuzzshm-ci-tmp /tmp && export TMPDIR=/tmp && exec bash "$0" "$@"' \
            "$0" "$@"
    fi
    FUZZSHM_PRIVATE_TMP=$(mktemp -d)
    export TMPDIR=$FUZZSHM_PRIVATE_TMP
    # Where the script leads its process group (a job of an interactive
    # shell), the trap ends every process it started; the script itself
    # ignores that SIGTERM to finish the clean-up.
    contain_cleanup() {
        trap - EXIT INT
        trap '' TERM
        kill -TERM -- -$$ 2>/dev/null
        rm -rf "$FUZZSHM_PRIVATE_TMP"
    }
    trap contain_cleanup EXIT INT TERM
fi
