#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/package/run.sh -- the Debian package, built and installed as a user
# would, and META.json for PGXN.
#
#   bash test/package/run.sh
#
# 1. META.json against the PGXN Meta Spec 1.0 and the tree (meta.pl), and
#    meta.pl itself against broken copies of it, each of which it must
#    refuse; debian/changelog's version against ivm.control's.
# 2. (as root on Debian; skipped otherwise, and inside a chroot such as
#    test/versions/run.sh's roots) installs the build tools on the host
#    ($IVM_PACKAGE_DEPS of test/lib.sh), copies the tree (build products
#    left out) to a temporary directory and builds the source package and
#    postgresql-N-ivm there with dpkg-buildpackage (pg_buildext, debian/),
#    for the host's PostgreSQL version N (the one the other suites use:
#    PG_CONFIG, IVM_PG_VERSION, see test/lib.sh); the worktree is not
#    touched.  Checks the .deb's files and dependencies; runs lintian on the
#    build and fails on its errors (warnings are printed).
# 3. Makes a clean Debian root of the host's release with debootstrap
#    --variant=minbase, once, under $IVM_VERSIONS_CACHE/<codename>-clean
#    (default /var/cache/ivm-versions, the directory test/versions/run.sh
#    uses), and copies it for the run so that it stays clean.  In the copy,
#    apt installs the .deb and its dependencies from the archive
#    (apt-get install ./postgresql-N-ivm_*.deb); the root has no compiler.
#    Then debian/tests/installed-demo runs there, from test/demo.sh and
#    test/lib.sh alone (no source to build): the demo on the installed
#    package, with its own checks.  The copy is removed on exit
#    (IVM_KEEP=1 keeps it).
# Exit status 0 only when every step passed; 77 (skipped) when not root,
# not on Debian, or in a chroot, once META.json has passed.
# DEBIAN_MIRROR picks the archive (default http://deb.debian.org/debian).
# ---------------------------------------------------------------------------
# (meta_refuses gets Perl code in single quotes, on purpose)
# shellcheck disable=SC2016
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=test/root.sh
. "$HERE/../root.sh"                # in_root, mount_in_root, release_root, root_lock, ...

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
V=$IVM_PG_VERSION
WORK=
ROOT=

# The EXIT trap: stop what still runs in the root, unmount what we mounted
# (last first), and remove the work directory once nothing is mounted in it.
cleanup() {
    local rc=$?

    trap - EXIT INT TERM HUP
    release_root
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "${IVM_KEEP:-0}" = 1 ]; then
            echo "kept $WORK"
        elif grep -q " $WORK/" /proc/mounts; then
            echo "not removing $WORK: something is still mounted in it" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}

# ---------------------------------------------------------------------------
# 1. META.json and the versions
# ---------------------------------------------------------------------------

ivm_say "META.json against the PGXN Meta Spec 1.0"
IVM_PG_SUPPORTED=$IVM_PG_SUPPORTED perl "$HERE/meta.pl" "$REPO/META.json"

# meta.pl must refuse each of these changes to a copy of META.json (a
# checker that passes everything would pass the real file too).
meta_refuses() {
    local what=$1 code=$2 dir out

    dir=$(mktemp -d "${TMPDIR:-/tmp}/ivm-meta.XXXXXX")
    cp "$REPO/ivm.control" "$REPO/README.md" "$dir/"
    mkdir "$dir/test" "$dir/sql" "$dir/expected" "$dir/specs" "$dir/debian"
    perl -MJSON::PP -e '
        my $j = JSON::PP->new->canonical->pretty;
        local $/; open my $f, "<", $ARGV[0] or die; my $m = $j->decode(<$f>);
        local $_ = $m; eval $ARGV[1]; die $@ if $@;
        print $j->encode($m);' "$REPO/META.json" "$code" >"$dir/META.json"
    if out=$(IVM_PG_SUPPORTED=$IVM_PG_SUPPORTED perl "$HERE/meta.pl" "$dir/META.json"); then
        echo "FAIL: meta.pl accepted META.json with $what" >&2
        rm -rf "$dir"
        return 1
    fi
    echo "refused, as it must be: $what ($(sed -n 2p <<<"$out" | sed 's/^ *//'))"
    rm -rf "$dir"
}
meta_refuses "no license" 'delete $_->{license}'
meta_refuses "a license name outside the spec" '$_->{license} = "PostgreSQL License"'
meta_refuses "a version that is not semver" '$_->{version} = "0.2"'
meta_refuses "provides.ivm without file" 'delete $_->{provides}{ivm}{file}'
meta_refuses "provides.ivm.file naming no file" '$_->{provides}{ivm}{file} = "sql/ivm.sql"'
meta_refuses "an unknown top-level key" '$_->{homepage} = "https://example.org/"'
meta_refuses "a release_status outside the spec" '$_->{release_status} = "beta"'
meta_refuses "a prereq phase outside the spec" '$_->{prereqs}{install} = {requires => {plpgsql => 0}}'
meta_refuses "a prereq relationship outside the spec" '$_->{prereqs}{runtime}{needs} = {plpgsql => 0}'
meta_refuses "a version range that is not one" '$_->{prereqs}{runtime}{requires}{PostgreSQL} = "15"'
meta_refuses "resources.repository with url but no type" '$_->{resources} = {repository => {url => "https://example.org/ivm.git"}}'
meta_refuses "meta-spec 2.0.0" '$_->{"meta-spec"}{version} = "2.0.0"'
meta_refuses "a tag with a slash" 'push @{$_->{tags}}, "a/b"'
meta_refuses "provides.ivm.version other than ivm.control's" '$_->{provides}{ivm}{version} = "0.1.0"'
meta_refuses "an oldest PostgreSQL other than the oldest supported" '$_->{prereqs}{runtime}{requires}{PostgreSQL} = "14.0.0"'

ivm_say "debian/changelog against ivm.control"
UPSTREAM=$(sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$REPO/ivm.control")
DEBVER=$(sed -n '1s/^ivm (\([^)]*\)).*/\1/p' "$REPO/debian/changelog")
if [ "${DEBVER%-*}" != "$UPSTREAM" ]; then
    echo "FAIL: debian/changelog's version is $DEBVER, ivm.control's default_version $UPSTREAM:" \
        "add a changelog entry ($UPSTREAM-1) with dch -v $UPSTREAM-1" >&2
    exit 1
fi
echo "ivm $UPSTREAM, Debian version $DEBVER"

# ---------------------------------------------------------------------------
# What the rest needs
# ---------------------------------------------------------------------------

if [ "$EUID" -ne 0 ]; then
    echo "the package build and the clean root need root: skipped"
    exit 77
fi
if ! command -v dpkg >/dev/null || ! command -v apt-get >/dev/null || [ ! -f /etc/debian_version ]; then
    echo "not a Debian system: the package is not built here; skipped"
    exit 77
fi
if ischroot 2>/dev/null; then
    echo "in a chroot (test/versions/run.sh's root?): run test/package/run.sh on the host; skipped"
    exit 77
fi
# shellcheck disable=SC1091
CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ -z "$CODENAME" ]; then
    echo "/etc/os-release names no release (VERSION_CODENAME)" >&2
    exit 1
fi
ivm_install_deps "${IVM_PACKAGE_DEPS[@]}"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ivm-package.XXXXXX")

# ---------------------------------------------------------------------------
# 2. The build, from a copy of the tree
# ---------------------------------------------------------------------------

ARCH=$(dpkg --print-architecture)
PKG=postgresql-$V-ivm
DEB=${PKG}_${DEBVER}_$ARCH.deb
SRC=$WORK/ivm-$UPSTREAM
ivm_say "copying the tree to $SRC"
mkdir -p "$SRC"
tar -C "$REPO" --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=./results --exclude=./output_iso --exclude=./log --exclude=./.deps \
    --exclude=./regression.diffs --exclude=./regression.out --exclude=./tmp_check \
    --exclude='./build-[0-9]*' --exclude='./debian/postgresql-[0-9]*-ivm' \
    --exclude='./debian/postgresql-[0-9]*-ivm-dbgsym' --exclude=./debian/.debhelper \
    --exclude=./debian/files --exclude='./debian/*.substvars' --exclude='./debian/*.debhelper.log' \
    --exclude=./debian/debhelper-build-stamp --exclude=./test/bench/results -cf - . |
    tar -C "$SRC" -xf -
tar -C "$WORK" --exclude="ivm-$UPSTREAM/debian" -czf "$WORK/ivm_$UPSTREAM.orig.tar.gz" "ivm-$UPSTREAM"

ivm_say "dpkg-buildpackage for PostgreSQL $V (log: build.log)"
start=$SECONDS
if ! (cd "$SRC" && env -u PG_CONFIG PG_SUPPORTED_VERSIONS="$V" \
        MAKEFLAGS="-j$(nproc 2>/dev/null || echo 2)" dpkg-buildpackage -us -uc) \
        >"$WORK/build.log" 2>&1; then
    tail -n 60 "$WORK/build.log"
    echo "FAIL: dpkg-buildpackage failed" >&2
    exit 1
fi
grep -E '^### PostgreSQL|^dpkg-deb: building' "$WORK/build.log"
echo "built in $((SECONDS - start)) s"
if [ ! -f "$WORK/$DEB" ]; then
    echo "FAIL: no $DEB; the build made: $(cd "$WORK" && echo *.deb)" >&2
    exit 1
fi
# one package, for the version asked: pg_buildext took PG_SUPPORTED_VERSIONS
built=()
for f in "$WORK"/*.deb; do
    case "$f" in
        *-dbgsym_*) ;;
        *) built+=("$(basename "$f")") ;;
    esac
done
if [ "${built[*]}" != "$DEB" ]; then
    echo "FAIL: expected $DEB alone, the build made: ${built[*]}" >&2
    exit 1
fi

ivm_say "what $DEB holds"
dpkg-deb --info "$WORK/$DEB" | sed -n '/Package:/,$p'
mapfile -t FILES < <(dpkg-deb --contents "$WORK/$DEB" | awk '{print $6}' | sed 's|^\./|/|')
want=("/usr/lib/postgresql/$V/lib/ivm.so" "/usr/share/postgresql/$V/extension/ivm.control"
      "/usr/share/doc/$PKG/copyright" "/usr/share/doc/$PKG/README.md.gz")
for f in "$REPO"/ivm--*.sql; do
    want+=("/usr/share/postgresql/$V/extension/$(basename "$f")")
done
for f in "${want[@]}"; do
    if ! printf '%s\n' "${FILES[@]}" | grep -qxF -- "$f"; then
        echo "FAIL: $DEB has no $f" >&2
        exit 1
    fi
done
# nothing outside the version's directories and the package's doc
if printf '%s\n' "${FILES[@]}" | grep -vE "^/(\$|usr/\$|usr/(lib|share)/\$|usr/lib/postgresql/(\$|$V/)|usr/share/postgresql/(\$|$V/)|usr/share/doc/(\$|$PKG/))"; then
    echo "FAIL: $DEB has the files above outside PostgreSQL $V's directories" >&2
    exit 1
fi
depends=$(dpkg-deb --field "$WORK/$DEB" Depends)
for d in "postgresql-$V" libxxhash0 libzstd1 "libcurl4(t64)?" libc6; do
    if ! grep -qE "(^|, )$d( |,|$)" <<<"$depends"; then
        echo "FAIL: $DEB does not depend on $d (Depends: $depends)" >&2
        exit 1
    fi
done
echo "files and Depends as expected: ${#want[@]} files checked; Depends: $depends"

ivm_say "lintian"
lintian_rc=0
lintian --fail-on error --display-info --pedantic "$WORK"/ivm_"${DEBVER}"_"$ARCH".changes >"$WORK/lintian.log" 2>&1 ||
    lintian_rc=$?
cat "$WORK/lintian.log"
if [ "$lintian_rc" -ne 0 ] || grep -q '^E: ' "$WORK/lintian.log"; then
    echo "FAIL: lintian found errors (exit $lintian_rc)" >&2
    exit 1
fi
echo "lintian: no errors ($(grep -c '^W: ' "$WORK/lintian.log" || true) warnings," \
    "$(grep -c '^I: ' "$WORK/lintian.log" || true) notes)"

# ---------------------------------------------------------------------------
# 3. A clean root of the host's release, the package installed by apt
# ---------------------------------------------------------------------------

CACHE=${IVM_VERSIONS_CACHE:-/var/cache/ivm-versions}
BASE=$CACHE/$CODENAME-clean
mkdir -p "$BASE/archives"
root_lock "$BASE"                       # released once the root is copied
if ! root_debootstrap "$BASE" "$CODENAME" "$MIRROR"; then
    echo "FAIL: debootstrap $CODENAME failed" >&2
    exit 1
fi
ROOT=$WORK/root
ivm_say "copying the clean root to $ROOT"
cp -a "$BASE/root" "$ROOT"
flock -u 9

mount_in_root proc /proc
mount_in_root tmpfs /dev/shm            # PostgreSQL's dynamic shared memory
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# no service starts in the root (the demo runs a cluster of its own)
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
# the release's updates and security archives, as an installed system has
if [ "$CODENAME" != sid ]; then
    {
        echo "deb $MIRROR $CODENAME-updates main"
        echo "deb http://security.debian.org/debian-security $CODENAME-security main"
    } >>"$ROOT/etc/apt/sources.list"
fi
# packages downloaded by earlier runs (the root itself stays clean)
find "$BASE/archives" -maxdepth 1 -name '*.deb' -exec cp -t "$ROOT/var/cache/apt/archives/" {} +

ivm_say "apt-get install ./$DEB in the root"
mkdir -p "$ROOT/tmp/ivm-package"
cp "$WORK/$DEB" "$ROOT/tmp/ivm-package/"
in_root apt-get update -qq
if in_root sh -c 'command -v gcc || command -v cc || command -v make'; then
    echo "FAIL: the clean root has a compiler or make" >&2
    exit 1
fi
in_root apt-get install -y -q --no-install-recommends "/tmp/ivm-package/$DEB" >"$WORK/apt.log" 2>&1 || {
    cat "$WORK/apt.log"
    echo "FAIL: apt-get could not install $DEB in a clean $CODENAME root" >&2
    exit 1
}
awk '/^The following NEW packages/ { on = 1; print; next } on && /^  / { print; next } { on = 0 }' "$WORK/apt.log"
find "$ROOT/var/cache/apt/archives" -maxdepth 1 -name '*.deb' ! -name "$PKG"'_*' \
    -exec cp -n -t "$BASE/archives/" {} +
status=$(in_root dpkg-query -W -f='${Status} ${Version}' "$PKG")
echo "in the root: $PKG $status"
if [ "$status" != "install ok installed $DEBVER" ]; then
    echo "FAIL: $PKG is not installed in the root" >&2
    exit 1
fi
if in_root sh -c 'command -v gcc || command -v cc || command -v make'; then
    echo "FAIL: installing $DEB brought a compiler or make into the root" >&2
    exit 1
fi

ivm_say "the demo from the package: debian/tests/installed-demo in the root"
# the scripts alone: no Makefile, no src/, nothing that could be built
mkdir -p "$ROOT/build/ivm/test" "$ROOT/build/ivm/debian"
cp "$REPO/test/demo.sh" "$REPO/test/lib.sh" "$ROOT/build/ivm/test/"
cp -r "$REPO/debian/control.in" "$REPO/debian/tests" "$ROOT/build/ivm/debian/"
demo_rc=0
in_root sh -c 'cd /build/ivm && exec debian/tests/installed-demo' >"$WORK/demo.log" 2>&1 || demo_rc=$?
cat "$WORK/demo.log"
if [ "$demo_rc" -ne 0 ]; then
    echo "FAIL: the demo failed in the root (exit $demo_rc)" >&2
    exit 1
fi
ivm_expect "$(cat "$WORK/demo.log")" "### the demo on PostgreSQL $V"
ivm_expect "$(cat "$WORK/demo.log")" "using the ivm installed for PostgreSQL $V (/usr/lib/postgresql/$V/lib/ivm.so)"
ivm_expect "$(cat "$WORK/demo.log")" "the demo's results are right"
if [ "$(grep -c '^### the demo on PostgreSQL' "$WORK/demo.log")" -ne 1 ]; then
    echo "FAIL: the demo ran for other versions than $V" >&2
    exit 1
fi

ivm_say "package: $DEB built, lintian clean of errors, installed by apt in a clean $CODENAME root, the demo passed from it"
