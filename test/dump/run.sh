#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/dump/run.sh -- a database with incremental views, a push source and
# watches survives pg_dump (plain and custom format) and ivm.checkpoint_full,
# and the dedup seen-set survives a restart.
#
#   bash test/dump/run.sh            (IVM_SEED, IVM_DUMP_TICKS: 40 by default)
#
#  1. The randomised test (test/random) runs IVM_DUMP_TICKS ticks in database
#     ivm_dump_src; then a few writes and a push are left pending (captured,
#     not ticked).
#  2. pg_dump -Fp restored with psql, pg_dump -Fc restored with pg_restore,
#     and ivm.checkpoint_full() restored with psql -f into an empty database
#     (no CREATE EXTENSION beforehand): each restored database must hold the
#     same views (names, strategies), the same rows in every view, the same
#     pending deltas, watches, push sources, epoch and counters.
#  3. One tick in every database: the same summary, and the same rows after.
#  4. The randomised test goes on in each restored database (IVM_CONTINUE):
#     capture is active and every tick stays correct.
#  5. A batch pushed with dedup on, the server restarted, the same batch
#     pushed again: coalesced.
#  6. Settings: a full checkpoint of dates, timestamps, intervals, floats,
#     bytea and numerics written under hostile DateStyle, IntervalStyle,
#     TimeZone, extra_float_digits and bytea_output, restored under other
#     hostile ones (PGOPTIONS): the same rows, table and views.
#  7. A full checkpoint whose flush fails (its temporary name a symlink to
#     /dev/full) leaves no file; a directory as path is refused (42809), a
#     NULL path too (22004).
# Uses the cluster exported by run-all.sh when there is one, else its own.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

SEED=${IVM_SEED:-$(( ((RANDOM << 15) | RANDOM) % 1000000 ))}
TICKS=${IVM_DUMP_TICKS:-40}
SRC=ivm_dump_src
TARGETS=(ivm_dump_plain ivm_dump_custom ivm_dump_full)
FAILS=0

fail() {
    echo "FAILED: $*" >&2
    FAILS=$((FAILS + 1))
}

q() {
    local db=$1
    shift
    ivm_psql -d "$db" -At "$@"
}

# snapshot DB: what must survive, as text (test/dump/snapshot.sql)
snapshot() {
    q "$1" -f "$HERE/snapshot.sql"
}

ivm_cluster_use_or_start
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ivm-dump.XXXXXX")
chmod 777 "$WORK"           # the server writes the full checkpoint here
trap 'rm -rf "$WORK"' EXIT

ivm_say "dump: the randomised test in $SRC (seed $SEED, $TICKS ticks)"
IVM_DB=$SRC IVM_SEED=$SEED IVM_TICKS=$TICKS bash "$HERE/../random/run.sh" | tail -n 1

# watches, and deltas left pending: captured, not ticked
q "$SRC" -f "$HERE/pending.sql" >/dev/null

ivm_say "dump: pg_dump plain and custom, ivm.checkpoint_full"
pg_dump -d "$SRC" -f "$WORK/plain.sql"
pg_dump -Fc -d "$SRC" -f "$WORK/custom.dump"
q "$SRC" -c "SELECT ivm.checkpoint_full('$WORK/full.sql')" >/dev/null
snapshot "$SRC" >"$WORK/src.txt"

for db in "${TARGETS[@]}"; do
    ivm_psql -d postgres -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
ivm_psql -d ivm_dump_plain -f "$WORK/plain.sql" >/dev/null
pg_restore --exit-on-error -d ivm_dump_custom "$WORK/custom.dump"
ivm_psql -d ivm_dump_full -f "$WORK/full.sql" >/dev/null
# the test's own checker is not part of what a full checkpoint holds, nor
# are the plain views the views' queries named (written into them), which
# the checker's queries read
pg_dump -d "$SRC" -t rt_views -t a_plain | ivm_psql -d ivm_dump_full >/dev/null
ivm_psql -d ivm_dump_full -f "$HERE/../random/checker.sql" >/dev/null

for db in "${TARGETS[@]}"; do
    snapshot "$db" >"$WORK/$db.txt"
    if ! diff -u "$WORK/src.txt" "$WORK/$db.txt" >"$WORK/$db.diff"; then
        fail "$db differs from $SRC after the restore:"
        head -n 40 "$WORK/$db.diff" >&2
    else
        echo "$db: same views, rows, pending deltas, watches and catalog as $SRC ($(wc -l <"$WORK/src.txt") lines compared)"
    fi
done

ivm_say "dump: one tick everywhere"
summary_src=$(q "$SRC" -c "SELECT rows_in, rows_out, views_processed FROM ivm.tick()")
q "$SRC" -c "SELECT rt_check('dump', -1)" >/dev/null || fail "$SRC: a view differs from its query after the tick"
snapshot "$SRC" >"$WORK/src2.txt"
for db in "${TARGETS[@]}"; do
    summary=$(q "$db" -c "SELECT rows_in, rows_out, views_processed FROM ivm.tick()")
    [ "$summary" = "$summary_src" ] ||
        fail "$db: the first tick after the restore gave $summary, $SRC gave $summary_src"
    q "$db" -c "SELECT rt_check('dump', -1)" >/dev/null || fail "$db: a view differs from its query after the tick"
    snapshot "$db" >"$WORK/$db.2.txt"
    diff -q "$WORK/src2.txt" "$WORK/$db.2.txt" >/dev/null || fail "$db differs from $SRC after one tick"
    # a dropped source table still takes its views with it (dependencies came back)
    if q "$db" -c "BEGIN; DROP TABLE d; ROLLBACK" >/dev/null 2>&1; then
        fail "$db: DROP TABLE d succeeded although views read it"
    fi
done
echo "one tick: $summary_src (rows_in|rows_out|views_processed) in every database"

ivm_say "dump: the randomised test goes on in each restored database"
for db in "${TARGETS[@]}"; do
    if ! IVM_DB=$db IVM_CONTINUE=1 IVM_SEED=$((SEED + 1)) IVM_TICKS=$TICKS \
            bash "$HERE/../random/run.sh" >"$WORK/$db.random.log" 2>&1; then
        fail "$db: the randomised test failed after the restore"
        tail -n 30 "$WORK/$db.random.log" >&2
    else
        echo "$db: $(tail -n 1 "$WORK/$db.random.log")"
    fi
done

ivm_say "dump: the dedup seen-set survives a restart"
batch='[{"k": 9, "v": 99, "tag": "restart"}]'
before=$(q "$SRC" -c "SELECT value FROM ivm.stats WHERE name = 'ivm_dedup_coalesced_total'")
[ "$(q "$SRC" -c "SELECT ivm.push('p', '$batch')")" = 1 ] || fail "the first push was not applied"
if [ -n "${IVM_PGDATA:-}" ]; then
    ivm_cluster_restart
    ivm_cluster_wait_ready
    [ "$(q "$SRC" -c "SELECT ivm.push('p', '$batch')")" = 0 ] || fail "the same batch after a restart was applied again"
    after=$(q "$SRC" -c "SELECT value FROM ivm.stats WHERE name = 'ivm_dedup_coalesced_total'")
    [ "$after" = "$((before + 1))" ] || fail "ivm_dedup_coalesced_total went from $before to $after, not up by one"
    echo "after a restart the same batch was coalesced ($before -> $after)"
else
    echo "no data directory known (IVM_PGDATA): restart skipped"
fi

ivm_say "dump: a full checkpoint reads back the same under other settings"
SET_SRC=ivm_dump_set_src
SET_DST=ivm_dump_set_dst
for db in $SET_SRC $SET_DST; do
    ivm_psql -d postgres -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
q "$SET_SRC" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION ivm;
CREATE TABLE typed (id int PRIMARY KEY, d date, ts timestamptz, lt timestamp, iv interval,
                    f float8, b bytea, n numeric);
INSERT INTO typed VALUES
  (1, '2024-03-04', '2024-03-04 05:06:07.123456+13:45', '2024-03-04 05:06:07', '1 year 2 mons -3 days 04:05:06.5',
   0.1, '\x00ff5c27', 1234567.890123),
  (2, '2024-11-12', '2024-11-12 23:59:59+00', '1999-12-31 23:59:59.999999', '-1 days +02:00:00',
   1e-300, '\x', -0.000000000000000000001),
  (3, '0099-12-31 BC', 'infinity', '-infinity', '-178000000 years', 'NaN', 'a\\b''c', 'NaN'),
  (4, 'infinity', '2001-02-03 04:05:06.789-03:30', '2001-02-03', '3 days 25:00:00.000001',
   1.0000000000000002, '\x0a0d09', 1e-30),
  (5, '2024-01-02', NULL, NULL, NULL, '-Infinity', NULL, NULL),
  (6, '2024-02-01', '2024-02-01 00:00:00+05:30', '2024-02-01', '00:00:00', -0.0, '\x5c5c', 0);
SELECT ivm.create_view('typed_v', 'SELECT id, d, ts, lt, iv, f, b, n FROM typed');
SELECT ivm.create_view('typed_agg', 'SELECT d, count(*) AS c, sum(n) AS sn, max(f) AS mf, max(iv) AS mi FROM typed GROUP BY d');
SQL
# written under settings that change every value's text...
q "$SET_SRC" -c "SET DateStyle = 'SQL, DMY'" -c "SET IntervalStyle = 'sql_standard'" \
    -c "SET TimeZone = 'Pacific/Chatham'" -c "SET extra_float_digits = -15" -c "SET bytea_output = 'escape'" \
    -c "SELECT ivm.checkpoint_full('$WORK/settings.sql')" >/dev/null
# ...and read back under others
PGOPTIONS="-c DateStyle=German,MDY -c IntervalStyle=iso_8601 -c TimeZone=America/St_Johns -c extra_float_digits=-10 -c bytea_output=escape" \
    ivm_psql -d "$SET_DST" -f "$WORK/settings.sql" >/dev/null
# compared in both under the same (default) settings, floats in full
typed_digest() {
    q "$1" -c "SET extra_float_digits = 3" \
        -c "SELECT (SELECT md5(string_agg(t::text, E'\n' ORDER BY id)) FROM typed t) || ' ' ||
                   (SELECT md5(string_agg(t::text, E'\n' ORDER BY id)) FROM typed_v t) || ' ' ||
                   (SELECT md5(string_agg(t::text, E'\n' ORDER BY t::text)) FROM typed_agg t)"
}
src_digest=$(typed_digest "$SET_SRC")
dst_digest=$(typed_digest "$SET_DST")
if [ "$src_digest" != "$dst_digest" ]; then
    fail "a full checkpoint written and restored under other settings changed values: $src_digest vs $dst_digest"
    diff <(q "$SET_SRC" -c "SET extra_float_digits = 3" -c "SELECT t::text FROM typed t ORDER BY id") \
         <(q "$SET_DST" -c "SET extra_float_digits = 3" -c "SELECT t::text FROM typed t ORDER BY id") >&2 || true
else
    echo "date, timestamptz, timestamp, interval, float8, bytea, numeric: the same table and view rows after the round trip ($src_digest)"
fi
# the restored views are maintained from those values
q "$SET_DST" -c "INSERT INTO typed VALUES (7, '2024-03-04', now(), now(), '1 day', 2.5, '\\x01', 7)" -c "SELECT * FROM ivm.tick()" >/dev/null
out=$(q "$SET_DST" -c "SELECT count(*) FROM (SELECT * FROM typed_v EXCEPT ALL SELECT * FROM typed) x")
[ "$out" = 0 ] || fail "after a tick, typed_v differs from its table in $SET_DST"

ivm_say "dump: a failed full checkpoint leaves no temporary file; paths and NULL refused in words"
# the temporary name points at a device that refuses every byte: the flush at the end fails
ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ivm_dump_fail" \
    -c "CREATE DATABASE ivm_dump_fail" >/dev/null
q ivm_dump_fail -c "CREATE EXTENSION ivm" >/dev/null
ln -s /dev/full "$WORK/fail.sql.tmp"
if out=$(q ivm_dump_fail -c "SELECT ivm.checkpoint_full('$WORK/fail.sql')" 2>&1); then
    fail "a full checkpoint onto a full device succeeded"
elif ! grep -q 'No space left on device' <<<"$out"; then
    fail "a full checkpoint onto a full device failed otherwise: $out"
elif [ -e "$WORK/fail.sql.tmp" ] || [ -L "$WORK/fail.sql.tmp" ] || [ -e "$WORK/fail.sql" ]; then
    fail "a failed full checkpoint left $(ls "$WORK" | grep fail | paste -sd' ')"
else
    echo "a full checkpoint that could not be written left nothing behind ($(grep -m1 ERROR <<<"$out"))"
fi
mkdir "$WORK/adir"
chmod 777 "$WORK/adir"
out=$(q ivm_dump_fail -v VERBOSITY=verbose -c '\set VERBOSITY verbose' -c "SELECT ivm.checkpoint_full('$WORK/adir')" 2>&1 || true)
grep -q "ERROR:  42809: \"$WORK/adir\" is a directory" <<<"$out" ||
    fail "a full checkpoint onto a directory: $out"
[ -z "$(ls "$WORK/adir")" ] && ! ls "$WORK" | grep -q 'adir.tmp' ||
    fail "a full checkpoint onto a directory left a file"
out=$(q ivm_dump_fail -v VERBOSITY=verbose -c '\set VERBOSITY verbose' -c "SELECT ivm.checkpoint_full(NULL)" 2>&1 || true)
grep -q 'ERROR:  22004: argument "path" of ivm.checkpoint_full must not be null' <<<"$out" ||
    fail "a full checkpoint to NULL: $out"
echo "a directory (42809) and NULL (22004) are refused by name"
for db in $SET_SRC $SET_DST ivm_dump_fail; do
    ivm_psql -d postgres -c "DROP DATABASE $db" >/dev/null
done

if [ "$FAILS" -gt 0 ]; then
    echo "FAILED: dump round trip, $FAILS failure(s) (seed $SEED)" >&2
    exit 1
fi
echo "PASSED: pg_dump (plain, custom) and ivm.checkpoint_full round trips, seed $SEED"
