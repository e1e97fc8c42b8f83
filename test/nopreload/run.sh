#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/nopreload/run.sh -- without shared_preload_libraries = 'ivm', the
# extension installs, but every function refuses with SQLSTATE 55000 and a
# hint naming the setting, and changes nothing.
# Runs in a throwaway cluster of its own (IVM_SKIP_BUILD=1 to skip the build).
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
IVM_PRELOAD=''
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

ivm_prepare
ivm_cluster_start

out=$(psql -X -q -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>&1 <<'SQL'
\set VERBOSITY verbose
CREATE EXTENSION ivm;
CREATE TABLE t (a int);
SELECT * FROM ivm.tick();
SELECT ivm.create_view('v', $$SELECT a FROM t$$);
CREATE MATERIALIZED VIEW mv WITH (ivm.incremental) AS SELECT a FROM t;
\c
CREATE MATERIALIZED VIEW mv2 WITH (ivm.incremental) AS SELECT a FROM t;
CREATE MATERIALIZED VIEW plain_mv AS SELECT a FROM t;
SELECT 'plain_mv=' || count(*) FROM pg_matviews WHERE matviewname = 'plain_mv';
SELECT 'views=' || count(*) FROM ivm._views;
SELECT 'capture_triggers=' || count(*) FROM pg_trigger WHERE tgrelid = 't'::regclass;
SQL
)
echo "$out"

fail=0
expect() {
    ivm_expect "$out" "$1" || fail=1
}
# ivm.tick(), ivm.create_view() and CREATE MATERIALIZED VIEW ... WITH
# (ivm.incremental) each refuse with 55000 and the hint
[ "$(grep -c 'ERROR:  55000: ivm must be loaded via shared_preload_libraries' <<<"$out")" -ge 3 ] ||
    { echo "FAIL: ivm.tick(), ivm.create_view() and CREATE MATERIALIZED VIEW did not all fail with 55000" >&2; fail=1; }
expect "HINT:  Add ivm to shared_preload_libraries in postgresql.conf and restart the server."
expect "views=0"
expect "plain_mv=1"
expect "capture_triggers=0"
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "nopreload: ok"
