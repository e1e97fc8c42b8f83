#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/standby/run.sh -- on a streaming standby, the functions that write
# (ivm.tick(), ivm.create_view(), ivm.watch()) say they cannot run there and
# what to do (25006), while the views replicated from the primary are read
# as on the primary and equal their queries.
# A primary and a standby of their own (IVM_SKIP_BUILD=1 to skip the build).
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

ivm_prepare
ivm_cluster_start

PRIMARY_PORT=$PGPORT
STANDBY_DATA=$IVM_TMP/standby
STANDBY_LOG=$IVM_TMP/standby.log
STANDBY_PORT=$(ivm_free_port $((PRIMARY_PORT + 1)))

stop_standby() {
    ivm_as_server "$IVM_PG_BIN/pg_ctl" -D "$STANDBY_DATA" -m immediate -w stop >/dev/null 2>&1 || true
}

ivm_psql -c "CREATE EXTENSION ivm" \
         -c "CREATE TABLE t (k int, x int)" \
         -c "INSERT INTO t SELECT g % 5, g FROM generate_series(1, 100) g" \
         -c "SELECT ivm.create_view('v', 'SELECT k, sum(x) AS s, count(*) AS n FROM t GROUP BY k')" \
         -c "UPDATE t SET x = x + 1 WHERE k = 2" \
         -c "SELECT ivm.create_source('p', 'a int')" \
         -c "SELECT rows_in FROM ivm.tick()"

ivm_as_server "$IVM_PG_BIN/pg_basebackup" -h "$PGHOST" -p "$PRIMARY_PORT" -U postgres \
    -D "$STANDBY_DATA" -R -X stream -c fast --no-sync >/dev/null
cat >"$STANDBY_DATA/ivm-test.conf" <<CONF
# written by test/standby/run.sh
listen_addresses = ''
port = $STANDBY_PORT
unix_socket_directories = '$IVM_TMP'
shared_preload_libraries = 'ivm'
fsync = off
log_min_messages = warning
# a hot standby needs at least the primary's (test/lib.sh)
max_prepared_transactions = 4
CONF
[ "$EUID" -ne 0 ] || chown postgres: "$STANDBY_DATA/ivm-test.conf"
ivm_as_server "$IVM_PG_BIN/pg_ctl" -D "$STANDBY_DATA" -l "$STANDBY_LOG" -w -t 120 start >/dev/null
trap 'stop_standby; ivm_cluster_cleanup' EXIT

# wait until the standby has replayed the primary's last tick
lsn=$(ivm_psql -At -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 240); do
    if [ "$(psql -X -At -p "$STANDBY_PORT" -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" 2>/dev/null)" = t ]; then
        break
    fi
    sleep 0.25
done

out=$(psql -X -p "$STANDBY_PORT" -v VERBOSITY=verbose 2>&1 <<'SQL'
\set VERBOSITY verbose
SELECT pg_is_in_recovery() AS standby;
SELECT * FROM ivm.tick();
SELECT ivm.create_view('w', 'SELECT k FROM t');
SELECT ivm.watch('v');
SELECT ivm.push('p', '[{"a": 1}]');
SELECT 'mismatches=' || count(*) FROM (
    (SELECT k, s, n FROM v EXCEPT ALL SELECT k, sum(x), count(*) FROM t GROUP BY k)
    UNION ALL
    (SELECT k, sum(x), count(*) FROM t GROUP BY k EXCEPT ALL SELECT k, s, n FROM v)) d;
SELECT 'rows=' || count(*) FROM v;
SQL
)
echo "$out"

fail=0
expect() {
    ivm_expect "$out" "$1" || fail=1
}
expect "ERROR:  25006: cannot run a tick on a standby server"
expect "ERROR:  25006: cannot create an incremental view on a standby server"
expect "ERROR:  25006: cannot watch a view on a standby server"
expect "ERROR:  25006: cannot push a batch on a standby server"
expect "HINT:  Run it on the primary; standbys receive the views' rows through replication."
expect "mismatches=0"
expect "rows=5"
stop_standby
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "standby: ok"
