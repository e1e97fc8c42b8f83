# shellcheck shell=bash
# ---------------------------------------------------------------------------
# test/root.sh -- helpers for scripts that run commands in a Debian root
# through chroot (test/versions/run.sh, test/package/run.sh).
#
# Source it; it defines functions and MOUNTED, and runs nothing.  The caller
# sets ROOT, the root's directory, before using them:
#
#   in_root CMD...              run CMD inside the root with a clean environment
#   mount_in_root TYPE TARGET   mount a fresh TYPE file system at TARGET of the
#                               root (unless one is there), noted in MOUNTED
#   release_root                kill what still runs in the root (by pid: each
#                               process whose root directory is ROOT), then
#                               unmount what mount_in_root mounted, last first
#   root_lock DIR               hold DIR/lock on fd 9, waiting for another run
#   root_debootstrap DIR CODENAME MIRROR [SCRIPT]
#                               make DIR/root with debootstrap --variant=minbase,
#                               unless an earlier run made it
# ---------------------------------------------------------------------------

MOUNTED=()

# Run a command inside the root with a clean environment.
in_root() {
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# mount_in_root TYPE TARGET: mount a fresh TYPE file system at TARGET of the
# root, to be unmounted by release_root.
mount_in_root() {
    mkdir -p "$ROOT$2"
    if ! mountpoint -q "$ROOT$2"; then
        mount -t "$1" "$1" "$ROOT$2"
        MOUNTED+=("$ROOT$2")
    fi
}

# Stop what still runs in the root (a server a killed test left behind), then
# unmount what we mounted, last first.
release_root() {
    local p i

    if [ -n "${ROOT:-}" ] && [ -d "$ROOT" ]; then
        for p in /proc/[0-9]*; do
            if [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ]; then
                kill -KILL "${p#/proc/}" 2>/dev/null || true
            fi
        done
    fi
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" || true
    done
    MOUNTED=()
}

# root_lock DIR: take DIR/lock on file descriptor 9 (one run at a time per
# root), waiting while another run holds it.
root_lock() {
    mkdir -p "$1"
    exec 9>"$1/lock"
    if ! flock -n 9; then
        printf '\n=== another run uses %s; waiting for it\n' "$1"
        flock 9
    fi
}

# root_debootstrap DIR CODENAME MIRROR [SCRIPT]: make DIR/root, a minimal
# Debian root of CODENAME (debootstrap --variant=minbase, SCRIPT the
# debootstrap script when its name is not CODENAME), unless an earlier run
# made it (its mark .ivm-debootstrap-done); the packages debootstrap fetched
# are not kept in it.
root_debootstrap() {
    local dir=$1 codename=$2 mirror=$3 script=${4:-}

    if [ -f "$dir/root/.ivm-debootstrap-done" ]; then
        return 0
    fi
    printf '\n=== making a Debian %s root with debootstrap in %s (once; a few minutes)\n' \
        "$codename" "$dir/root"
    rm -rf "$dir/root" "$dir/root.partial"
    # shellcheck disable=SC2086
    debootstrap --variant=minbase "$codename" "$dir/root.partial" "$mirror" $script || return 1
    find "$dir/root.partial/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -delete
    mv "$dir/root.partial" "$dir/root"
    touch "$dir/root/.ivm-debootstrap-done"
}
