#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/nopreload/run.sh -- without shared_preload_libraries = 'ivm', the
# extension installs, but every function refuses with SQLSTATE 55000 and a
# hint naming the setting, and changes nothing.  A schema ivm an ordinary
# role made beforehand is refused there too (by the update script).
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

# Without the utility hook, a schema ivm made beforehand by an ordinary role
# is refused by the update script (the whole CREATE EXTENSION rolls back).
out2=$(psql -X -q -v ON_ERROR_STOP=0 2>&1 <<'SQL'
\set VERBOSITY verbose
CREATE DATABASE ivm_nopreload_schema;
\c ivm_nopreload_schema
CREATE ROLE ivm_np_tenant;
GRANT CREATE ON DATABASE ivm_nopreload_schema TO ivm_np_tenant;
SET ROLE ivm_np_tenant;
CREATE SCHEMA ivm;
RESET ROLE;
CREATE EXTENSION ivm;
SELECT 'extensions=' || count(*) FROM pg_extension WHERE extname = 'ivm';
SELECT 'objects_in_ivm=' || count(*) FROM pg_class WHERE relnamespace = 'ivm'::regnamespace;
\c postgres
DROP DATABASE ivm_nopreload_schema;
DROP ROLE ivm_np_tenant;
SQL
)
echo "$out2"
grep -q 'ERROR:  42501: schema "ivm" belongs to role "ivm_np_tenant", who is not a superuser' <<<"$out2" ||
    { echo "FAIL: CREATE EXTENSION in a schema ivm of an ordinary role was not refused by name" >&2; fail=1; }
ivm_expect "$out2" "extensions=0" || fail=1
ivm_expect "$out2" "objects_in_ivm=0" || fail=1
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "nopreload: ok"
