#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/versions/run.sh -- ivm's suites on another PostgreSQL version, in a
# throwaway Debian root of its own.
#
#   bash test/versions/run.sh VERSION [SUITES]
#
#   VERSION  15 (Debian 12, bookworm), 17 (Debian 13, trixie) or 18 (forky)
#   SUITES   names as in IVM_SUITES, e.g. "installcheck pgtap" (default: all
#            of run-all.sh); --prepare only makes the root and installs its
#            packages (run-all.sh's versions suite prepares both roots at once)
#
# Run as root on Debian (it installs debootstrap when missing).  The first
# run makes the root with debootstrap under $IVM_VERSIONS_CACHE/<codename>
# (default /var/cache/ivm-versions; this script owns that directory) and
# installs the version's server, headers, pgTAP and pgvector in it; later
# runs reuse it (IVM_VERSIONS_REFRESH=1 updates its packages first).  The
# working tree is copied into the root (build products and .git left out;
# the release the upgrade suite starts from is exported from git beside it,
# IVM_UPGRADE_FROM_TREE), and test/run-all.sh runs there through chroot
# with IVM_PG_VERSION=VERSION: it builds, installs and runs the suites on a
# free port of 127.0.0.1 (the root shares the host's network).  /proc and a
# /dev/shm of its own are mounted in the root for the run and unmounted on
# exit, and whatever still runs in the root then is stopped.  The exit
# status is run-all.sh's: 0 only when every suite passed.
#
# IVM_* variables (IVM_SEED, IVM_TICKS, ...) and CI are passed to run-all.sh,
# except those that name the host's server, cluster or build (IVM_PG_BIN,
# IVM_PG_CONFIG, IVM_PGDATA, IVM_TMP, IVM_LOG, IVM_SKIP_BUILD, ...).
# IVM_VERSIONS_IMPORT=DIR copies DIR (dumps made by `test/dump/across.sh
# export DIR` on another version) into the root, where the suite dump-import
# restores them.  DEBIAN_MIRROR picks the archive (default
# http://deb.debian.org/debian).
#
# IVM_VERSIONS_COMMAND runs another command of the tree there instead of
# run-all.sh (a benchmark: IVM_VERSIONS_COMMAND="bash test/bench/pgvector.sh"),
# from the copy's top directory, with the same environment; its exit status
# is the script's.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

usage() {
    echo "usage: bash test/versions/run.sh VERSION [SUITES | --prepare]   (VERSION: 15, 17 or 18)" >&2
    exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
VERSION=$1
SUITES=${2:-}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SCRIPT=
case "$VERSION" in
    15) CODENAME=bookworm ;;
    17) CODENAME=trixie ;;
    18) CODENAME=forky
        # bookworm's debootstrap has no script of forky's name; sid's fits
        SCRIPT=/usr/share/debootstrap/scripts/sid ;;
    *) echo "PostgreSQL $VERSION is not one ivm supports: 15, 17 or 18" >&2
       usage ;;
esac
if [ "$EUID" -ne 0 ]; then
    echo "test/versions/run.sh runs as root (debootstrap, mount, chroot)" >&2
    exit 2
fi

CACHE=${IVM_VERSIONS_CACHE:-/var/cache/ivm-versions}
DIR=$CACHE/$CODENAME
ROOT=$DIR/root
BUILD=/build/ivm                # the copy of the tree, inside the root
# shellcheck source=test/root.sh
. "$REPO/test/root.sh"             # in_root, mount_in_root, release_root, root_lock, ...

say() {
    printf '\n=== [PostgreSQL %s, %s] %s\n' "$VERSION" "$CODENAME" "$*"
}

# The EXIT trap: stop what still runs in the root (a server a killed suite
# left behind), then unmount what we mounted, last first.
cleanup() {
    local rc=$?

    trap - EXIT INT TERM HUP
    release_root
    exit "$rc"
}

if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
fi

# One run at a time per root; the root is made by the first.
root_lock "$DIR"
root_debootstrap "$DIR" "$CODENAME" "$MIRROR" "$SCRIPT"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
mount_in_root proc /proc
mount_in_root tmpfs /dev/shm        # PostgreSQL's dynamic shared memory
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

# apt in the root: forky's Release may be past its Valid-Until; no service
# is started by a package (policy-rc.d), and no cluster is made by
# postgresql-common (the tests make their own).
if [ "$CODENAME" = forky ]; then
    echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99ivm-valid-until"
fi
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
mkdir -p "$ROOT/etc/postgresql-common"
if [ ! -f "$ROOT/etc/postgresql-common/createcluster.conf" ]; then
    echo 'create_main_cluster = false' >"$ROOT/etc/postgresql-common/createcluster.conf"
fi

# The packages: those test/lib.sh asks for on this version, and pgvector
# (17 and 18; the vector tests use it where it is installed).
mapfile -t PKGS < <(IVM_PG_VERSION=$VERSION IVM_PG_CONFIG= PG_CONFIG= IVM_PG_BIN= bash -c \
    '. "$1/test/lib.sh"; printf "%s\n" "${IVM_DEPS[@]}"' _ "$REPO")
if [ "$VERSION" != 15 ]; then
    PKGS+=("postgresql-$VERSION-pgvector")
fi
PKGS+=(ca-certificates)
missing=()
for p in "${PKGS[@]}"; do
    if ! in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' ok installed'; then
        missing+=("$p")
    fi
done
APT=(apt-get -y -qq -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef)
if [ "${#missing[@]}" -gt 0 ] || [ "${IVM_VERSIONS_REFRESH:-0}" = 1 ]; then
    say "apt-get update in the root"
    in_root apt-get update -qq
    if [ "${IVM_VERSIONS_REFRESH:-0}" = 1 ]; then
        in_root "${APT[@]}" upgrade
    fi
fi
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    in_root "${APT[@]}" install --no-install-recommends "${missing[@]}"
fi

# The host's certificate authorities: where this host reaches the npm
# registry (the s3 suite's server) through a proxy of its own, the root's
# bundle alone does not trust it.
if [ -s /etc/ssl/certs/ca-certificates.crt ] && [ -d "$ROOT/etc/ssl/certs" ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
fi

if [ "$SUITES" = --prepare ]; then
    say "the root is ready: $ROOT"
    exit 0
fi

say "copying the tree into $ROOT$BUILD"
rm -rf "$ROOT$BUILD"
mkdir -p "$ROOT$BUILD"
tar -C "$REPO" --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=./results --exclude=./output_iso --exclude=./log \
    --exclude=./regression.diffs --exclude=./regression.out -cf - . |
    tar -C "$ROOT$BUILD" -xf -

# Dumps of another version for the suite dump-import.
ENV=(IVM_PG_VERSION="$VERSION" IVM_VERSIONS_INSIDE=1)
if [ -n "${IVM_VERSIONS_IMPORT:-}" ]; then
    mkdir -p "$ROOT$BUILD/import"
    cp -a "$IVM_VERSIONS_IMPORT"/. "$ROOT$BUILD/import/"
    ENV+=(IVM_DUMP_IMPORT="$BUILD/import")
fi

# The suite run: IVM_* and CI from our environment, the version from ours.
while IFS= read -r kv; do
    case "$kv" in
        IVM_PG_BIN=* | IVM_PG_CONFIG=* | IVM_PG_VERSION=* | IVM_VERSIONS_* | IVM_DUMP_IMPORT=*) ;;
        IVM_PGDATA=* | IVM_TMP=* | IVM_LOG=* | IVM_SKIP_BUILD=* | IVM_DB=*) ;;
        IVM_*=* | CI=*) ENV+=("$kv") ;;
    esac
done < <(env)
if [ -n "$SUITES" ]; then
    ENV+=(IVM_SUITES="$SUITES")
fi
# The upgrade suite builds the release it upgrades from out of git history,
# which the copy has not: export that release's tree next to it.
case " ${SUITES:-upgrade} " in
    *" upgrade "*)
        rm -rf "$ROOT/build/ivm-release"
        if bash "$REPO/test/upgrade/run.sh" --export "$ROOT/build/ivm-release"; then
            ENV+=(IVM_UPGRADE_FROM_TREE=/build/ivm-release)
        fi ;;
esac
start=$SECONDS
rc=0
if [ -n "${IVM_VERSIONS_COMMAND:-}" ]; then
    say "$IVM_VERSIONS_COMMAND"
    in_root "${ENV[@]}" bash -c "cd $BUILD && $IVM_VERSIONS_COMMAND" || rc=$?
    say "$IVM_VERSIONS_COMMAND exited $rc after $((SECONDS - start)) s"
    exit "$rc"
fi
say "test/run-all.sh ${SUITES:-(every suite)}"
in_root "${ENV[@]}" bash "$BUILD/test/run-all.sh" || rc=$?
say "run-all.sh exited $rc after $((SECONDS - start)) s"
exit "$rc"
