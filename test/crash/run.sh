#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/crash/run.sh -- ivm survives crashes without losing or repeating a delta.
#
#   bash test/crash/run.sh
#
# Always runs in a cluster of its own (it kills server processes):
#  1. kill -9 of the backend running ivm.tick() in the middle of the tick,
#     after it emptied the half of a delta log that writers left (a
#     transactional truncate: the crash must bring the rows back).
#     The tick is made slow with a plpgsql function that sleeps and is
#     declared IMMUTABLE (a test trick: ivm refuses volatile functions).  A
#     writer commits more rows while the tick runs.  After crash recovery the
#     views must still show the last committed tick (nothing half-applied);
#     the next tick must bring in every captured write, once.
#  2. pg_ctl stop -m immediate with deltas committed but not ticked; after
#     restart a tick must apply them.
#  3. pg_ctl stop -m immediate right after a tick committed; after restart
#     the views must be intact and the next tick must consume nothing (the
#     halves it emptied stay empty).
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

DB=ivm_crash
FAILS=0

fail() {
    echo "FAILED: $*" >&2
    FAILS=$((FAILS + 1))
}

q() {
    ivm_psql -d "$DB" -At "$@"
}

# check_views LABEL: every view equals its query (multiset), else fail.
check_views() {
    local out
    out=$(q -c "SELECT crash_check()") || { fail "$1: crash_check() errored"; return; }
    if [ -n "$out" ]; then
        fail "$1: views differ from their queries:"
        echo "$out" >&2
    else
        echo "  $1: every view equals its query"
    fi
}

# expect_eq LABEL WHAT GOT WANT: GOT must be WANT.
expect_eq() {
    if [ "$3" != "$4" ]; then
        fail "$1: $2 is '$3', expected '$4'"
    else
        echo "  $1: $2 = $3"
    fi
}

# expect LABEL SQL WANT: the single value SQL returns must be WANT.
expect() {
    local got
    got=$(q -c "$2" 2>&1) || true
    if [ "$got" != "$3" ]; then
        fail "$1: $2 returned '$got', expected '$3'"
    else
        echo "  $1: $2 = $got"
    fi
}

ivm_prepare
unset IVM_PGDATA IVM_TMP
ivm_say "crash test: starting a cluster of its own"
ivm_cluster_start

ivm_psql -c "CREATE DATABASE $DB"
ivm_psql -d "$DB" -f "$HERE/../lib/view_diff.sql" >/dev/null
ivm_psql -d "$DB" >/dev/null <<'SQL'
CREATE EXTENSION ivm;
-- Sleeps ivm_test.sleep seconds per call (0 unless the session sets it).
-- Declared IMMUTABLE on purpose, so that ivm accepts it in a view.
CREATE FUNCTION slow(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM pg_sleep(coalesce(nullif(current_setting('ivm_test.sleep', true), ''), '0')::float8);
    RETURN x;
END $$;
CREATE TABLE t (id int PRIMARY KEY, g int NOT NULL, x int NOT NULL);
INSERT INTO t SELECT i, i % 5, i FROM generate_series(1, 20) i;
-- a table whose log a tick empties whole (a half of 16 pages or more)
CREATE TABLE u (id int, g int, s text);

CREATE TABLE crash_views (name text PRIMARY KEY, query text NOT NULL);
INSERT INTO crash_views VALUES
  ('t_slow',  'SELECT id, slow(x) AS x FROM t'),
  ('t_agg',   'SELECT g, count(*) AS n, sum(x) AS sx, min(x) AS mn, max(x) AS mx FROM t GROUP BY g'),
  ('t_count', 'SELECT count(*) AS n, sum(x) AS sx FROM t'),
  ('t_rows',  'SELECT id, g, x FROM t WHERE x % 2 = 0'),
  ('u_agg',   'SELECT g, count(*) AS n, max(s) AS mx FROM u GROUP BY g');
SELECT ivm.create_view(name, query) FROM crash_views ORDER BY name;

-- crash_check(): one line per row that differs between a view and its query.
CREATE FUNCTION crash_check() RETURNS SETOF text LANGUAGE sql AS $fn$
    SELECT d FROM crash_views, test_view_diff(name, query) d ORDER BY name
$fn$;
SELECT * FROM ivm.tick();
SQL
check_views "after setup"
expect "after setup" "SELECT n FROM t_count" 20

# ---- 1. kill -9 of the ticking backend --------------------------------------
ivm_say "1. kill -9 of a backend in the middle of a tick"
q -c "INSERT INTO t SELECT i, i % 5, i FROM generate_series(21, 100) i"
q -c "UPDATE t SET x = x + 1000 WHERE id <= 5"
q -c "DELETE FROM t WHERE id BETWEEN 6 AND 8"
q -c "INSERT INTO u SELECT i, i % 7, 'row ' || i FROM generate_series(1, 5000) i"

TICKOUT=$IVM_TMP/tick.out
# 80 new rows through slow() at 0.05 s each: the tick takes 4 s or more.
PGOPTIONS="-c ivm_test.sleep=0.05" PGAPPNAME=ivm_crash_tick \
    "$IVM_PG_BIN/psql" -X -At -d "$DB" \
    -c "SELECT 'backend pid ' || pg_backend_pid()" \
    -c "SELECT * FROM ivm.tick()" >"$TICKOUT" 2>&1 &
TICKPSQL=$!

pid=""
for _ in $(seq 1 100); do
    pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'ivm_crash_tick' AND state = 'active' AND query LIKE '%ivm.tick%'" || true)
    [ -n "$pid" ] && break
    sleep 0.1
done
if [ -z "$pid" ]; then
    fail "the tick backend never showed up in pg_stat_activity"
    cat "$TICKOUT" >&2 || true
    wait "$TICKPSQL" || true
else
    echo "  tick running in backend $pid; a writer commits while it runs"
    # A write committed during the tick: it must not be lost either.
    q -c "INSERT INTO t SELECT i, i % 5, i FROM generate_series(101, 110) i"
    sleep 1
    if ! q -c "SELECT 1 FROM pg_stat_activity WHERE pid = $pid AND query LIKE '%ivm.tick%'" | grep -q 1; then
        fail "the tick finished within 1 s; the slow function did not slow it down"
    fi
    # The tick emptied the half of u's log that writers left (5,000 rows: a
    # truncate, new storage, undone by the crash): it holds it until it
    # ends.  (t's is too small to be worth new storage.)
    held=$(q -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                 WHERE l.pid = $pid AND l.mode = 'AccessExclusiveLock' AND l.granted
                   AND c.relnamespace = 'ivm'::regnamespace AND c.relname LIKE '\_log\_%'")
    expect_eq "the tick, before the kill" "log halves it holds to empty" "$held" 1
    echo "  kill -9 $pid"
    kill -9 "$pid"
    if wait "$TICKPSQL"; then
        fail "the psql of the killed tick exited 0"
    fi
    echo "  the killed session said: $(tr '\n' ' ' <"$TICKOUT")"
    sleep 1
    ivm_cluster_wait_ready 120
    # Crash recovery terminates every session; give it a moment.
    for _ in $(seq 1 40); do q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.25; done
    if grep -q 'terminated by signal 9' "$IVM_LOG"; then
        echo "  the server log shows the backend killed and the crash recovery"
    else
        fail "the server log does not show the backend killed by signal 9"
    fi

    # The killed tick must have left nothing behind: the views show tick 1.
    expect "after the crash, before a tick" "SELECT n FROM t_count" 20
    expect "after the crash, before a tick" "SELECT count(*) FROM t_slow" 20
    expect "after the crash" "SELECT count(*) FROM t" 107

    # 80 inserts + 5 updates (-old +new) + 3 deletes + 10 inserts by the
    # writer into t, 5,000 inserts into u.
    out=$(q -c "SELECT rows_in FROM ivm.tick()" 2>&1) || fail "the tick after the crash errored"
    expect_eq "the tick after the crash" "rows_in" "$out" 5103
    check_views "after the crash and a new tick"
    expect "after the crash and a new tick" "SELECT n || ' ' || sx FROM t_count" \
        "$(q -c "SELECT count(*) || ' ' || sum(x) FROM t")"
    expect "after the crash and a new tick" "SELECT count(*) FROM t_slow" 107
    expect "after the crash and a new tick" "SELECT sum(n) FROM t_agg" 107
    expect "after the crash and a new tick" "SELECT sum(n) FROM u_agg" 5000
    out=$(q -c "SELECT rows_in FROM ivm.tick()" 2>&1) || true
    expect_eq "a further tick with no writes" "rows_in" "$out" 0
fi

# ---- 2. immediate shutdown with deltas pending ------------------------------
ivm_say "2. pg_ctl stop -m immediate with committed deltas not yet ticked"
q -c "INSERT INTO t SELECT i, i % 5, i FROM generate_series(111, 150) i"
q -c "UPDATE t SET g = (g + 1) % 5, x = x + 1 WHERE id % 3 = 0"
q -c "DELETE FROM t WHERE id % 7 = 0"
q -c "BEGIN; INSERT INTO t VALUES (1000, 1, 1); ROLLBACK;"
want=$(q -c "SELECT count(*) || ' ' || sum(x) FROM t")
ivm_cluster_stop_immediate
echo "  stopped -m immediate; restarting"
ivm_cluster_restart
expect "after the restart" "SELECT count(*) || ' ' || sum(x) FROM t" "$want"
q -c "SELECT * FROM ivm.tick()" >/dev/null || fail "the tick after the restart errored"
check_views "after the restart and a tick"
expect "after the restart and a tick" "SELECT n || ' ' || sx FROM t_count" "$want"

# ---- 3. immediate shutdown right after a tick -------------------------------
ivm_say "3. pg_ctl stop -m immediate right after a tick"
q -c "UPDATE t SET x = x * 2 WHERE g = 2"
q -c "INSERT INTO t SELECT i, i % 5, i FROM generate_series(151, 170) i"
q -c "SELECT * FROM ivm.tick()" >/dev/null || fail "the tick before the shutdown errored"
want=$(q -c "SELECT n || ' ' || sx FROM t_count")
ivm_cluster_stop_immediate
echo "  stopped -m immediate; restarting"
ivm_cluster_restart
check_views "after the restart, before a tick"
expect "after the restart, before a tick" "SELECT n || ' ' || sx FROM t_count" "$want"
out=$(q -c "SELECT rows_in FROM ivm.tick()" 2>&1) || true
expect_eq "the first tick after the restart" "rows_in" "$out" 0
check_views "after the restart and a tick"

if [ "$FAILS" -ne 0 ]; then
    echo "FAILED: crash test, $FAILS check(s) failed" >&2
    exit 1
fi
echo "PASSED: crash test"
