# shellcheck shell=bash
# ---------------------------------------------------------------------------
# test/lib.sh -- shared helpers for ivm's demo and test scripts.
#
# Source it (". test/lib.sh"); it defines functions and a few variables and
# runs nothing by itself.  The functions:
#
#   ivm_install_deps [PKG...]   apt-get install whatever of the packages (default
#                               $IVM_DEPS) is missing
#   ivm_build_install           make && make install (PG_CFLAGS=$IVM_CI_CFLAGS when CI=true)
#   ivm_check_installed         fail unless ivm is installed in the chosen server's tree
#   ivm_prepare                 deps, build and install; only the check above with
#                               IVM_INSTALLED=1; nothing with IVM_SKIP_BUILD=1
#   ivm_cluster_start           initdb + start a throwaway cluster, export PG* vars,
#                               stop it and remove it on exit (trap)
#   ivm_cluster_stop            stop and remove it now (and drop the trap)
#   ivm_cluster_restart         stop (fast, if running) and start it again
#   ivm_cluster_stop_immediate  pg_ctl stop -m immediate (a simulated crash)
#   ivm_cluster_wait_ready      wait until the server accepts connections
#   ivm_psql                    psql -X -v ON_ERROR_STOP=1 -q "$@"
#
# PostgreSQL refuses to run as root: when EUID is 0 the server programs
# (initdb, pg_ctl) run as the OS user "postgres" and the cluster's directory
# is given to it; clients (psql, pg_regress, pg_prove) run as the invoking
# user and connect as the database role "postgres" over the Unix socket.
#
# Settings read from the environment (the first that is set picks the server):
#   IVM_PG_CONFIG, PG_CONFIG  the pg_config of the PostgreSQL to build for and
#                  test against; its version picks the packages, its bindir
#                  the server binaries
#   IVM_PG_BIN     server binaries (pg_config taken from there)
#   IVM_PG_VERSION major version, when none of the above is set: 15, 17 or 18
#                  (default: the Debian release's own, 15 on 12, 17 on 13, 18 on
#                  forky, else 15; binaries in /usr/lib/postgresql/N/bin)
#   IVM_PRELOAD    shared_preload_libraries value (default ivm)
#   IVM_INSTALLED=1  use the ivm installed in the server's tree (a package,
#                  postgresql-N-ivm): install nothing, build nothing.  Also
#                  the default when the scripts are not in a source tree
#                  (no Makefile beside test/)
#   IVM_EXTRA_CONF lines appended to the cluster's configuration by
#                  ivm_cluster_start (e.g. "ivm.debug_hash_bits = 3")
#   IVM_KEEP=1     keep the cluster's directory on exit (for debugging)
#   CI=true        build with -Werror and -Wextra (IVM_CI_CFLAGS)
# ---------------------------------------------------------------------------

# The PostgreSQL major versions ivm builds and is tested on, and the Debian
# release whose archive has each (test/versions/run.sh makes such a root).
IVM_PG_SUPPORTED="15 17 18"
IVM_PG_WHERE="15: Debian 12 (bookworm), 17: Debian 13 (trixie), 18: Debian forky"

# One pg_config picks the server everywhere.  Its version is read from the
# program when it is installed, else from its path (/usr/lib/postgresql/N/bin,
# as Debian's packages put it), so that the packages to install follow it.
IVM_PG_CONFIG=${IVM_PG_CONFIG:-${PG_CONFIG:-}}
if [ -z "$IVM_PG_CONFIG" ] && [ -n "${IVM_PG_BIN:-}" ]; then
    IVM_PG_CONFIG=$IVM_PG_BIN/pg_config
fi
if [ -n "$IVM_PG_CONFIG" ] && [ "${IVM_PG_CONFIG#*/}" = "$IVM_PG_CONFIG" ]; then
    IVM_PG_CONFIG=$(command -v "$IVM_PG_CONFIG" || echo "$IVM_PG_CONFIG")
fi
if [ -z "${IVM_PG_VERSION:-}" ]; then
    if [ -n "$IVM_PG_CONFIG" ] && [ -x "$IVM_PG_CONFIG" ]; then
        IVM_PG_VERSION=$("$IVM_PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
    elif [[ "$IVM_PG_CONFIG" =~ /postgresql/([0-9]+)/bin/ ]]; then
        IVM_PG_VERSION=${BASH_REMATCH[1]}
    fi
fi
# Nothing set: the PostgreSQL of this Debian release's own archive.
if [ -z "${IVM_PG_VERSION:-}" ]; then
    case "$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")" in
        trixie) IVM_PG_VERSION=17 ;;
        forky | sid) IVM_PG_VERSION=18 ;;
        *) IVM_PG_VERSION=15 ;;
    esac
fi
IVM_PG_CONFIG=${IVM_PG_CONFIG:-/usr/lib/postgresql/$IVM_PG_VERSION/bin/pg_config}
if [ -z "${IVM_PG_BIN:-}" ]; then
    if [ -x "$IVM_PG_CONFIG" ]; then
        IVM_PG_BIN=$("$IVM_PG_CONFIG" --bindir)
    else
        IVM_PG_BIN=$(dirname "$IVM_PG_CONFIG")
    fi
fi
IVM_PRELOAD=${IVM_PRELOAD-ivm}
REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export IVM_PG_BIN IVM_PG_CONFIG IVM_PG_VERSION REPO

# The chosen server's programs come first: pg_prove and PGXS call plain "psql".
case ":$PATH:" in
    *":$IVM_PG_BIN:"*) ;;
    *) PATH="$IVM_PG_BIN:$PATH" ;;
esac
export PATH

# The warnings CI builds with, as errors: -Wextra less the two that
# PostgreSQL's own headers do not satisfy (unused parameters of inline
# functions, a signedness change in utils/array.h), and
# -Wshadow=compatible-local (PostgreSQL 16 builds with it; a nested PG_TRY
# trips it).
IVM_CI_CFLAGS="-Werror -Wextra -Wno-unused-parameter -Wno-sign-compare -Wshadow=compatible-local"

# Debian's packages for the chosen version (libicu-dev: PostgreSQL's headers
# include ICU's where the server is built with it; libcurl4-openssl-dev:
# HTTP and request signing for checkpoints in object storage).
IVM_DEPS=("postgresql-$IVM_PG_VERSION" "postgresql-server-dev-$IVM_PG_VERSION"
          "postgresql-$IVM_PG_VERSION-pgtap" libtap-parser-sourcehandler-pgtap-perl
          libxxhash-dev libzstd-dev libicu-dev libcurl4-openssl-dev pkg-config make gcc procps)

# What test/package/run.sh needs on the host to build the Debian package
# (debian/control's Build-Depends, dpkg-buildpackage, pg_buildext) and to
# test it (debootstrap for the clean root, lintian).
# shellcheck disable=SC2034
IVM_PACKAGE_DEPS=(build-essential dpkg-dev debhelper postgresql-server-dev-all
                  "postgresql-server-dev-$IVM_PG_VERSION" libxxhash-dev libzstd-dev
                  libicu-dev libcurl4-openssl-dev pkg-config debootstrap lintian)

# Print a heading that stands out in a long log.
ivm_say() {
    printf '\n=== %s\n' "$*"
}

# The seed of a randomised test: IVM_SEED when given, else a random one.
ivm_seed() {
    if [ -n "${IVM_SEED:-}" ]; then
        echo "$IVM_SEED"
    else
        echo $(( ((RANDOM << 15) | RANDOM) % 1000000 ))
    fi
}

# ivm_expect OUTPUT TEXT: fail (and say so) unless TEXT occurs in OUTPUT.
ivm_expect() {
    if ! grep -qF -- "$2" <<<"$1"; then
        echo "FAIL: expected to see: $2" >&2
        return 1
    fi
}

# Run a command as root: directly when we are root, else through sudo.
ivm_sudo() {
    if [ "$EUID" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

# Run a server program (initdb, pg_ctl, pg_isready on the data dir) as the
# user that owns the cluster: "postgres" when we are root, else ourselves.
# It runs from the cluster's directory so that a cwd unreadable to that user
# (say /root) does not matter.
ivm_as_server() {
    if [ "$EUID" -eq 0 ]; then
        (cd "${IVM_TMP:-/}" && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# Fail, saying which versions ivm supports and where each comes from, unless
# IVM_PG_VERSION is one of them.
ivm_check_version() {
    case " $IVM_PG_SUPPORTED " in
        *" $IVM_PG_VERSION "*) return 0 ;;
    esac
    echo "ivm does not support PostgreSQL $IVM_PG_VERSION (from ${IVM_PG_CONFIG})." >&2
    echo "Supported: $IVM_PG_WHERE." >&2
    echo "Pick one with PG_CONFIG=/path/to/pg_config or IVM_PG_VERSION=N." >&2
    return 1
}

# Succeed when apt can install the package named.  The output is read
# whole: under pipefail, "apt-cache ... | grep -q" fails at random when grep
# leaves before apt-cache has written everything (SIGPIPE).
ivm_apt_has() {
    local out

    out=$(apt-cache policy "$1" 2>/dev/null) || return 1
    grep -q 'Candidate: [0-9]' <<<"$out"
}

# The supported versions whose server package apt can install here.
ivm_apt_versions() {
    local v out=()

    for v in $IVM_PG_SUPPORTED; do
        if ivm_apt_has "postgresql-$v"; then
            out+=("$v")
        fi
    done
    echo "${out[*]:-none}"
}

# Install the Debian packages named (default: those the build and the tests
# need, $IVM_DEPS), if any is missing; stop, saying what is supported, when
# apt cannot provide them.
ivm_install_deps() {
    local p status missing=() unknown=() want=("$@")

    ivm_check_version || return 1
    if [ "${#want[@]}" -eq 0 ]; then
        want=("${IVM_DEPS[@]}")
    fi
    for p in "${want[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        case "$status" in
            *" ok installed") ;;
            *) missing+=("$p") ;;
        esac
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    ivm_say "installing ${missing[*]}"
    if ! command -v apt-get >/dev/null; then
        echo "missing packages ${missing[*]}, and no apt-get to install them" >&2
        return 1
    fi
    ivm_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    for p in "${missing[@]}"; do
        if ! ivm_apt_has "$p"; then
            unknown+=("$p")
        fi
    done
    if [ "${#unknown[@]}" -gt 0 ]; then
        echo "apt cannot install ${unknown[*]} on this system: PostgreSQL $IVM_PG_VERSION" \
            "is not in its archive (versions apt offers here: $(ivm_apt_versions))." >&2
        echo "ivm supports $IVM_PG_WHERE." >&2
        echo "Pick another with IVM_PG_VERSION=N (or PG_CONFIG=/path/to/pg_config)," \
            "or run a version in a Debian root of its own: bash test/versions/run.sh N" >&2
        return 1
    fi
    ivm_sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Build the extension and install it into the chosen PostgreSQL's tree.
ivm_build_install() {
    local -a mk=("PG_CONFIG=$IVM_PG_CONFIG")

    if [ "${CI:-}" = true ]; then
        mk+=("PG_CFLAGS=$IVM_CI_CFLAGS")
    fi
    ivm_say "building ivm for PostgreSQL $IVM_PG_VERSION (${mk[*]})"
    make -C "$REPO" -j"$(nproc 2>/dev/null || echo 2)" "${mk[@]}" || return 1
    ivm_say "installing ivm"
    ivm_sudo make -C "$REPO" "${mk[@]}" install
}

# Fail, saying what to do, unless the chosen server has ivm installed (its
# control file, scripts and library) and its programs are there.
ivm_check_installed() {
    local share lib f

    ivm_check_version || return 1
    for f in initdb pg_ctl postgres psql pg_isready; do
        if [ ! -x "$IVM_PG_BIN/$f" ]; then
            echo "PostgreSQL $IVM_PG_VERSION is not installed here ($IVM_PG_BIN/$f is missing)." >&2
            return 1
        fi
    done
    if [ -x "$IVM_PG_CONFIG" ]; then
        share=$("$IVM_PG_CONFIG" --sharedir) && lib=$("$IVM_PG_CONFIG" --pkglibdir) || return 1
    else
        share=/usr/share/postgresql/$IVM_PG_VERSION
        lib=/usr/lib/postgresql/$IVM_PG_VERSION/lib
    fi
    for f in "$share/extension/ivm.control" "$share/extension/ivm--0.1.0.sql" "$lib/ivm.so"; do
        if [ ! -f "$f" ]; then
            echo "ivm is not installed for PostgreSQL $IVM_PG_VERSION ($f is missing)." >&2
            echo "Install the package postgresql-$IVM_PG_VERSION-ivm (README: Installing from a" \
                "package), or run from the source tree without IVM_INSTALLED=1 to build it." >&2
            return 1
        fi
    done
    echo "using the ivm installed for PostgreSQL $IVM_PG_VERSION ($lib/ivm.so)"
}

# Dependencies, build and install; IVM_SKIP_BUILD=1 skips all three (a caller
# such as run-all.sh has done them already).  With IVM_INSTALLED=1, or when
# there is no source tree to build (no Makefile beside test/), the installed
# extension is used: only checked, nothing installed or built.
ivm_prepare() {
    if [ "${IVM_SKIP_BUILD:-0}" = 1 ]; then
        return 0
    fi
    if [ "${IVM_INSTALLED:-0}" = 1 ] || [ ! -f "$REPO/Makefile" ]; then
        ivm_check_installed
        return
    fi
    ivm_install_deps "${IVM_DEPS[@]}" || return 1
    ivm_build_install
}

# Succeed when nothing listens on 127.0.0.1:$1.
ivm_port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Print the first free TCP port at or above $1 (default 54320).
ivm_free_port() {
    local p=${1:-54320}

    while [ "$p" -lt 65000 ]; do
        if ivm_port_free "$p"; then
            echo "$p"
            return 0
        fi
        p=$((p + 1))
    done
    echo "no free TCP port found above ${1:-54320}" >&2
    return 1
}

# Wait until the server accepts connections (default 120 s).
ivm_cluster_wait_ready() {
    local i limit=${1:-120}

    for ((i = 0; i < limit * 4; i++)); do
        if "$IVM_PG_BIN/pg_isready" -q -h "$PGHOST" -p "$PGPORT" -U postgres; then
            return 0
        fi
        sleep 0.25
    done
    echo "server on port $PGPORT did not become ready in ${limit}s; log tail:" >&2
    tail -n 40 "$IVM_LOG" >&2 || true
    return 1
}

# Start the server of the cluster made by ivm_cluster_start (already configured).
ivm_server_start() {
    if ! ivm_as_server "$IVM_PG_BIN/pg_ctl" -D "$IVM_PGDATA" -l "$IVM_LOG" \
            -w -t 120 start >/dev/null; then
        echo "pg_ctl start failed; log tail:" >&2
        tail -n 40 "$IVM_LOG" >&2 || true
        return 1
    fi
    ivm_cluster_wait_ready 120
}

# Succeed when the cluster's postmaster is running.
ivm_server_running() {
    [ -n "${IVM_PGDATA:-}" ] && [ -d "$IVM_PGDATA" ] &&
        ivm_as_server "$IVM_PG_BIN/pg_ctl" -D "$IVM_PGDATA" status >/dev/null 2>&1
}

# The EXIT trap: stop the cluster and remove its directory.  On a failure the
# tail of the server log is printed, since the directory is about to go.
ivm_cluster_cleanup() {
    local rc=$?

    trap - EXIT INT TERM HUP
    if [ -n "${IVM_PGDATA:-}" ] && [ -d "$IVM_PGDATA" ]; then
        if [ "$rc" -ne 0 ] && [ -f "${IVM_LOG:-}" ]; then
            echo "--- last lines of the server log ($IVM_LOG) ---" >&2
            tail -n 30 "$IVM_LOG" >&2 || true
        fi
        if ivm_server_running; then
            ivm_as_server "$IVM_PG_BIN/pg_ctl" -D "$IVM_PGDATA" -m fast -w -t 60 \
                stop >/dev/null 2>&1 ||
                ivm_as_server "$IVM_PG_BIN/pg_ctl" -D "$IVM_PGDATA" -m immediate \
                    -w stop >/dev/null 2>&1 || true
        fi
    fi
    if [ -n "${IVM_TMP:-}" ] && [ -d "$IVM_TMP" ]; then
        if [ "${IVM_KEEP:-0}" = 1 ]; then
            echo "kept cluster directory $IVM_TMP" >&2
        else
            rm -rf "$IVM_TMP"
        fi
    fi
    exit "$rc"
}

# Create and start a throwaway cluster; export PGHOST, PGPORT, PGUSER and
# PGDATABASE for clients.  The cluster is stopped and removed when the
# calling shell exits, whether it succeeds or not.
ivm_cluster_start() {
    local port _

    IVM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ivm-test.XXXXXX")
    IVM_PGDATA=$IVM_TMP/data
    IVM_LOG=$IVM_TMP/postgres.log
    export IVM_TMP IVM_PGDATA IVM_LOG
    trap ivm_cluster_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    if [ "$EUID" -eq 0 ]; then
        chown postgres: "$IVM_TMP"
    fi

    if ! ivm_as_server "$IVM_PG_BIN/initdb" -D "$IVM_PGDATA" -A trust -U postgres \
            --no-sync -E UTF8 --locale=C >"$IVM_TMP/initdb.log" 2>&1; then
        cat "$IVM_TMP/initdb.log" >&2
        return 1
    fi

    echo "include 'ivm-test.conf'" >>"$IVM_PGDATA/postgresql.conf"
    port=54320
    for _ in 1 2 3 4 5; do
        port=$(ivm_free_port "$port") || return 1
        cat >"$IVM_PGDATA/ivm-test.conf" <<CONF
# written by test/lib.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$IVM_TMP'
shared_preload_libraries = '$IVM_PRELOAD'
fsync = off
full_page_writes = off
max_connections = 50
max_prepared_transactions = 4
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
${IVM_EXTRA_CONF:-}
CONF
        if [ "$EUID" -eq 0 ]; then
            chown postgres: "$IVM_PGDATA/ivm-test.conf"
        fi
        export PGHOST=$IVM_TMP PGPORT=$port PGUSER=postgres PGDATABASE=postgres
        if ivm_as_server "$IVM_PG_BIN/pg_ctl" -D "$IVM_PGDATA" -l "$IVM_LOG" \
                -w -t 120 start >/dev/null; then
            ivm_cluster_wait_ready 120 || return 1
            echo "cluster ready: port $PGPORT, socket dir $PGHOST, log $IVM_LOG"
            return 0
        fi
        # Someone may have taken the port between the probe and the start.
        if grep -q 'could not bind\|Address already in use' "$IVM_LOG" 2>/dev/null; then
            port=$((port + 1))
            continue
        fi
        break
    done
    echo "could not start the cluster; log tail:" >&2
    tail -n 40 "$IVM_LOG" >&2 || true
    return 1
}

# Stop the cluster and remove it now, rather than at exit (run-all.sh does
# this so that its totals line is the last thing it prints).
ivm_cluster_stop() {
    trap - EXIT INT TERM HUP
    if ivm_server_running; then
        ivm_as_server "$IVM_PG_BIN/pg_ctl" -D "$IVM_PGDATA" -m fast -w -t 60 \
            stop >/dev/null 2>&1 ||
            ivm_as_server "$IVM_PG_BIN/pg_ctl" -D "$IVM_PGDATA" -m immediate \
                -w stop >/dev/null 2>&1 || true
    fi
    if [ -n "${IVM_TMP:-}" ] && [ -d "$IVM_TMP" ]; then
        if [ "${IVM_KEEP:-0}" = 1 ]; then
            echo "kept cluster directory $IVM_TMP"
        else
            rm -rf "$IVM_TMP"
        fi
    fi
    unset IVM_TMP IVM_PGDATA
}

# Stop the server (fast, when it runs) and start it again.
ivm_cluster_restart() {
    if ivm_server_running; then
        ivm_as_server "$IVM_PG_BIN/pg_ctl" -D "$IVM_PGDATA" -m fast -w -t 120 \
            stop >/dev/null
    fi
    ivm_server_start
}

# Stop the server with -m immediate: no checkpoint, crash recovery at the
# next start, just as after a power cut (minus lost OS buffers).
ivm_cluster_stop_immediate() {
    ivm_as_server "$IVM_PG_BIN/pg_ctl" -D "$IVM_PGDATA" -m immediate -w -t 120 \
        stop >/dev/null
}

# psql that stops at the first error and reads no ~/.psqlrc.
ivm_psql() {
    "$IVM_PG_BIN/psql" -X -v ON_ERROR_STOP=1 -q "$@"
}

# Use the cluster the caller exported (run-all.sh) when it answers, else
# prepare (deps, build, install) and start one of our own.
ivm_cluster_use_or_start() {
    if [ -n "${IVM_PGDATA:-}" ] && [ -n "${PGHOST:-}" ] && [ -n "${PGPORT:-}" ] &&
        "$IVM_PG_BIN/pg_isready" -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; then
        echo "using the running cluster on port $PGPORT"
        return 0
    fi
    ivm_prepare
    ivm_cluster_start
}
