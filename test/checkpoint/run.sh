#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/checkpoint/run.sh -- delta checkpoints: ivm.checkpoint(dir) and
# ivm.restore(dir).
#
#   bash test/checkpoint/run.sh
#
# Uses the cluster run-all.sh exported, else prepares and starts its own.
# Needs two and more databases and file surgery, hence a shell script:
#  1. round trip: a base, writes and ticks, two delta checkpoints (one with
#     a TRUNCATE and deltas pending, one with views unchanged); a restore
#     into a fresh database holding copies of the tables must give the same
#     view contents, watches, owners and epoch; ticks then resume and, after
#     the same writes on both sides, every view equals its query and its twin.
#     The restored database checkpoints into the same chain; a restore of
#     that chain gives its state again.
#  2. refusals: a flipped byte, a truncated file, a missing file, manifests
#     reordered or renamed, files from another checkpoint directory, a
#     header with a newer format version: each refused with a clear error,
#     and the target database unchanged (catalog and views compared).
#  3. a table changed in the target before the restore: its views are
#     marked and recomputed at the next tick, and equal their queries.
#  4. a checkpoint that fails half-way leaves the chain restorable.
#  5. privileges: 42501 without pg_write_server_files / pg_read_server_files,
#     success with them; relative paths refused.
#  6. chains: a new base after 32 deltas, or when the deltas hold as many
#     records as the view has rows; files no chain needs are removed; a
#     damaged chain is refused by the next checkpoint that needs it.
#  7. a hostile checkpoint, as an attacker who may write server files would
#     craft it (checksums recomputed by a small C helper, ckedit): names
#     like 'x"; DROP TABLE victim; --' as a view's, push source's, table's,
#     schema's, owner's, column's, channel's name, in a view's query, its
#     options, a push source's column definitions: each refused, or the
#     object created under exactly that name, and victim still there.  A
#     view whose query folds ck_evil's immutable function and one whose
#     domain's CHECK calls ck_evil's function: restored by a superuser, the
#     functions run as ck_evil, who stays without superuser.  NULL and
#     file arguments refused by name.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

FAILS=0
CHECKS=0

fail() {
    echo "FAILED: $*" >&2
    FAILS=$((FAILS + 1))
}

ok() {
    CHECKS=$((CHECKS + 1))
    echo "  ok: $*"
}

# q DB SQL...: values, one per line, unaligned.
q() {
    local db=$1
    shift
    ivm_psql -d "$db" -At "$@"
}

# expect LABEL GOT WANT
expect_eq() {
    if [ "$2" != "$3" ]; then
        fail "$1: got '$2', expected '$3'"
    else
        ok "$1 ($2)"
    fi
}

# expect_error LABEL DB SQLSTATE PATTERN SQL: SQL must fail with SQLSTATE (or
# one of SQLSTATEs separated by |) and an error text matching PATTERN (grep -E).
expect_error() {
    local label=$1 db=$2 code=$3 pattern=$4 sql=$5 out
    if out=$(ivm_psql -d "$db" -v VERBOSITY=verbose -c '\set VERBOSITY verbose' -c "$sql" 2>&1); then
        fail "$label: succeeded, expected SQLSTATE $code"
        return
    fi
    if ! grep -qE "ERROR:  ($code):" <<<"$out"; then
        fail "$label: expected SQLSTATE $code, got: $out"
    elif ! grep -qE -- "$pattern" <<<"$out"; then
        fail "$label: the error does not match /$pattern/: $out"
    else
        ok "$label: $(grep -m1 'ERROR:' <<<"$out" | cut -c1-150)"
    fi
}

ivm_cluster_use_or_start
if [ -z "${IVM_TMP:-}" ]; then
    echo "no cluster directory (IVM_TMP) to put checkpoint directories in" >&2
    exit 1
fi
WORK=$IVM_TMP/checkpoint-test
rm -rf "$WORK"
mkdir -p "$WORK"
[ "$EUID" -eq 0 ] && chown postgres: "$WORK"
D1=$WORK/chain1

DBS="ck_src ck_dst ck_dst2 ck_bad ck_changed ck_other ck_priv_src ck_priv_dst ck_chain ck_chain_dst ck_evil_src ck_evil_dst ck_top_src ck_top_dst"
drop_all() {
    local d
    for d in $DBS; do
        ivm_psql -d postgres -c "SET client_min_messages = warning" \
            -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null
    done
    ivm_psql -d postgres -c "SET client_min_messages = warning" \
        -c "DROP ROLE IF EXISTS ck_owner" -c "DROP ROLE IF EXISTS ck_writer" \
        -c "DROP ROLE IF EXISTS ck_app" -c "DROP ROLE IF EXISTS ck_evil" >/dev/null
}
drop_all
ivm_psql -d postgres -c "CREATE ROLE ck_owner" -c "CREATE ROLE ck_writer LOGIN" -c "CREATE ROLE ck_app LOGIN" >/dev/null

# The tables (no views): the same in every database.  ck_views lists the
# views and their queries; ck_check() returns a line per row that differs
# between a view and its query; ck_digest() the md5 of a view's rows.
SCHEMA=$(cat <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION ivm;
CREATE TABLE t (id int PRIMARY KEY, g int NOT NULL, x numeric, f float8, s text,
                ts timestamptz, j jsonb, a int[]);
CREATE TABLE dim (k int PRIMARY KEY, name text);
GRANT SELECT ON dim TO ck_owner;
-- a restore creates a view as its owner, who must be allowed to create it
GRANT CREATE ON SCHEMA public TO ck_owner;
CREATE TABLE part (id int, region text, amount numeric(10,2)) PARTITION BY LIST (region);
CREATE TABLE part_eu PARTITION OF part FOR VALUES IN ('eu');
CREATE TABLE part_us PARTITION OF part FOR VALUES IN ('us');
CREATE TABLE ck_views (name text PRIMARY KEY, query text NOT NULL);
INSERT INTO ck_views VALUES
  ('v_agg',   'SELECT g, count(*) AS n, sum(x) AS sx, avg(x) AS ax, min(s) AS mn, max(f) AS mf FROM t GROUP BY g'),
  ('v_join',  'SELECT t.id, t.g, d.name, t.ts, t.j FROM t JOIN dim d ON d.k = t.g'),
  ('v_dist',  'SELECT DISTINCT d.name, t.a FROM t JOIN dim d ON d.k = t.g'),
  ('v_dup',   'SELECT g, f FROM t WHERE id % 4 = 0'),
  ('v_diff',  'SELECT g, x, rank() OVER (PARTITION BY g ORDER BY x, id) AS r FROM t WHERE id < 200'),
  ('v_over',  'SELECT g, n, sx FROM v_agg WHERE n > 3'),
  ('v_part',  'SELECT region, count(*) AS c, sum(amount) AS total FROM part GROUP BY region'),
  ('v_owned', 'SELECT k, name FROM dim WHERE k < 5'),
  ('v_empty', 'SELECT id FROM t WHERE id < 0'),
  ('v_clicks', 'SELECT url, count(*) AS n, sum(user_id) AS su FROM clicks GROUP BY url'),
  ('v_cdim',  'SELECT c.url, c.user_id, d.name FROM clicks c JOIN dim d ON d.k = c.user_id % 9');
CREATE FUNCTION ck_check() RETURNS SETOF text LANGUAGE sql AS $fn$
    SELECT d FROM ck_views, test_view_diff(name, query) d ORDER BY name
$fn$;
CREATE FUNCTION ck_digest(v text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE d text;
BEGIN
    EXECUTE format('SELECT count(*) || '':'' || coalesce(md5(string_agg(r::text, E''\n'' ORDER BY r::text)), ''-'') FROM %I r', v)
        INTO d;
    RETURN d;
END $fn$;
CREATE FUNCTION ck_pending() RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE r record; n bigint; res text := '';
BEGIN
    FOR r IN SELECT s.relid::text AS rel, s.logrel FROM ivm._sources s ORDER BY 1 LOOP
        EXECUTE format('SELECT count(*) FROM %s', r.logrel) INTO n;
        res := res || r.rel || ':' || n || ' ';
    END LOOP;
    RETURN res;
END $fn$;
-- the writes of round r: the same in every database that gets them
CREATE FUNCTION ck_write(r int) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE t SET x = x + r, f = f * 2 WHERE id % 10 = r % 10;
    DELETE FROM t WHERE id % 17 = r % 17 AND id < 1000;
    INSERT INTO t SELECT 1000 * r + i, i % 9, i * 0.25 + r, (i % 5) / 4.0, 'new ' || r || ' ' || i,
           '2024-03-01 12:00+02'::timestamptz + i * interval '1 min', jsonb_build_object('i', i, 'r', r),
           ARRAY[i % 2, r % 3] FROM generate_series(1, 40) i;
    UPDATE t SET g = (g + 1) % 9 WHERE id BETWEEN 20 * r AND 20 * r + 40;
    UPDATE dim SET name = name || '!' WHERE k = r % 9;
    INSERT INTO part VALUES (1000 * r, 'us', 7.25), (1000 * r + 1, 'eu', r * 0.75);
    DELETE FROM part WHERE id = r + 2;
    UPDATE part SET amount = amount * 3 WHERE region = 'eu' AND id % 7 = r % 7;
    -- the push source (only where it exists): two copies then one removed,
    -- and a batch pushed twice, which dedup applies once
    IF to_regclass('clicks') IS NOT NULL THEN
        PERFORM ivm.push('clicks', jsonb_build_array(jsonb_build_object('user_id', r, 'url', '/x' || r % 3),
                                                     jsonb_build_object('user_id', r, 'url', '/y', '_weight', 2)));
        PERFORM ivm.push('clicks', jsonb_build_array(jsonb_build_object('user_id', r, 'url', '/y', '_weight', -1)));
        PERFORM ivm.push('clicks', jsonb_build_array(jsonb_build_object('user_id', r, 'url', '/z')));
        PERFORM ivm.push('clicks', jsonb_build_array(jsonb_build_object('user_id', r, 'url', '/z')));
    END IF;
END $fn$;
-- what a failed restore must not change
CREATE FUNCTION ck_state() RETURNS text LANGUAGE sql AS $fn$
SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
    SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('public', 'ivm')
    UNION ALL SELECT 'view ' || viewrel::text || ' ' || populated::text || needs_recompute::text FROM ivm._views
    UNION ALL SELECT 'source ' || relid::text FROM ivm._sources
    UNION ALL SELECT 'epoch ' || epoch FROM ivm._state
    UNION ALL SELECT 'watch ' || channel FROM ivm._watches
    UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'rows ' || count(*) FROM t
    UNION ALL SELECT 'truncated ' || count(*) FROM ivm._truncated) s(x)
$fn$;
SQL
)

copy_tables() {
    local from=$1 to=$2 tab
    for tab in t dim part; do
        ivm_psql -d "$from" -c "COPY (SELECT * FROM $tab) TO STDOUT" |
            ivm_psql -d "$to" -c "COPY $tab FROM STDIN"
    done
}

new_target() {
    ivm_psql -d postgres -c "CREATE DATABASE $1" >/dev/null
    ivm_psql -d "$1" -f "$HERE/../lib/view_diff.sql" >/dev/null
    ivm_psql -d "$1" >/dev/null <<<"$SCHEMA"
}

# digests of every view of a database, one line
digests() {
    q "$1" -c "SELECT string_agg(name || '=' || ck_digest(name), ' ' ORDER BY name) FROM ck_views"
}

check_views() {
    local out
    if ! out=$(q "$1" -c "SELECT * FROM ck_check()" 2>&1); then
        fail "$2: ck_check() failed: $out"
    elif [ -n "$out" ]; then
        fail "$2: views differ from their queries in $1:"
        echo "$out" | head -20 >&2
    else
        ok "$2: every view of $1 equals its query"
    fi
}

# ---- 1. round trip ---------------------------------------------------------
ivm_say "1. checkpoint, writes and ticks, delta checkpoints, restore into a fresh database"
new_target ck_src
ivm_psql -d ck_src >/dev/null <<'SQL'
INSERT INTO t SELECT i, i % 9, i * 1.5, i / 7.0, 'row ' || i,
       '2024-01-01 00:00+00'::timestamptz + i * interval '1 hour', jsonb_build_object('i', i, 'odd', i % 2 = 1),
       ARRAY[i % 3, i % 5] FROM generate_series(1, 300) i;
INSERT INTO t VALUES (900, 1, NULL, 'NaN', NULL, NULL, 'null', '{}'),
    (901, 1, 1.50, -0.0, E'quote''s "x"\n\ttab', 'infinity', '[1, {"a": null}]', '{NULL,3}'),
    (902, 2, 1.500, 1e-300, '', '-infinity', '"s"', NULL);
INSERT INTO dim SELECT k, 'name ' || k FROM generate_series(0, 8) k;
INSERT INTO part SELECT i, CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END, i * 1.25 FROM generate_series(1, 50) i;
SELECT ivm.create_source('clicks', 'user_id int NOT NULL, url text');
SELECT ivm.set_dedup('clicks', true);
SELECT * FROM ivm.tick('clicks', '[{"user_id": 1, "url": "/a"}, {"user_id": 2, "url": "/b", "_weight": 2}]');
SELECT ivm.create_view(name, query, CASE WHEN name = 'v_diff' THEN '{"mode": "diff"}' ELSE '{}' END::jsonb)
  FROM ck_views WHERE name NOT IN ('v_over') ORDER BY name;
SELECT ivm.create_view('v_over', (SELECT query FROM ck_views WHERE name = 'v_over'));
ALTER VIEW v_owned OWNER TO ck_owner;
SELECT ivm.watch('v_agg'), ivm.watch('v_join');
SELECT * FROM ivm.tick();
SQL
check_views ck_src "after setup"

out=$(q ck_src -c "SELECT sequence, bases, deltas, unchanged FROM ivm.checkpoint('$D1')")
expect_eq "checkpoint 1: a base of the 11 views, the push source and its seen-set" "$out" "1|13|0|0"
q ck_src -c "SELECT ck_write(1)" >/dev/null
q ck_src -c "SELECT * FROM ivm.tick()" >/dev/null
q ck_src -c "SELECT * FROM ivm.tick()" >/dev/null
q ck_src -c "SELECT ck_write(2)" >/dev/null
q ck_src -c "SELECT * FROM ivm.tick()" >/dev/null
# pending deltas, not ticked: they must travel in the checkpoint
n=$(q ck_src -c "WITH u AS (UPDATE t SET s = s || '+' WHERE id % 50 = 1 RETURNING 1) SELECT count(*) FROM u")
q ck_src -c "INSERT INTO dim VALUES (9, 'nine')" \
    -c "SELECT ivm.push('clicks', '[{\"user_id\": 77, \"url\": \"/pending\"}]')" >/dev/null
out=$(q ck_src -c "SELECT sequence, bases + deltas, unchanged FROM ivm.checkpoint('$D1')")
expect_eq "checkpoint 2: the changed views and push source, v_empty unchanged" "$out" "2|12|1"
out=$(q ck_src -c "SELECT count(*) FROM jsonb_array_elements(ivm.checkpoint_manifest('$D1') -> 'objects') o
                   WHERE o -> 'file' ->> 'type' = 'delta'")
[ "$out" -ge 3 ] && ok "checkpoint 2 wrote deltas ($out views)" || fail "checkpoint 2 wrote only $out deltas"
out=$(q ck_src -c "SELECT o -> 'pending' ->> 'records' FROM jsonb_array_elements(ivm.checkpoint_manifest('$D1') -> 'objects') o
                   WHERE o ->> 'relname' = 't' AND o ->> 'kind' = 'table'")
expect_eq "checkpoint 2 holds t's pending log rows (an UPDATE of $n rows: -old +new)" "$out" "$((2 * n))"
q ck_src -c "SELECT * FROM ivm.tick()" >/dev/null
# a TRUNCATE and more deltas pending at checkpoint 3
q ck_src -c "TRUNCATE dim" -c "INSERT INTO dim SELECT k, 'again ' || k FROM generate_series(0, 6) k" \
    -c "INSERT INTO part VALUES (200, 'eu', 1)" \
    -c "SELECT ivm.push('clicks', '[{\"user_id\": 78, \"url\": \"/pending\", \"_weight\": 3}]')" >/dev/null
out=$(q ck_src -c "SELECT sequence, bases, deltas, unchanged FROM ivm.checkpoint('$D1')")
expect_eq "checkpoint 3: deltas of the views the tick changed and of the push source, the rest unchanged" "$out" "3|0|5|8"
out=$(q ck_src -c "SELECT string_agg(o ->> 'relname', ',') FROM jsonb_array_elements(ivm.checkpoint_manifest('$D1') -> 'objects') o
                   WHERE o ->> 'kind' = 'view' AND o -> 'file' IS NOT NULL AND o -> 'file' <> 'null'")
echo "  (checkpoint 3 wrote a delta of $out)"
out=$(q ck_src -c "SELECT string_agg(o ->> 'relname' || ':' || (o ->> 'truncated'), ',' ORDER BY o ->> 'relname')
                   FROM jsonb_array_elements(ivm.checkpoint_manifest('$D1') -> 'objects') o WHERE o ->> 'kind' = 'table'")
expect_eq "checkpoint 3 records dim's pending TRUNCATE" "$out" "dim:true,part:false,t:false"

new_target ck_dst
copy_tables ck_src ck_dst
src_epoch=$(q ck_src -c "SELECT epoch FROM ivm._state")
out=$(q ck_dst -c "SELECT sequence, epoch, views, push_sources, sources, sources_changed, watches, views_to_recompute FROM ivm.restore('$D1')")
expect_eq "restore: sequence|epoch|views|push|sources|changed|watches|recompute" "$out" "3|$src_epoch|11|1|3|0|2|0"
expect_eq "restored view contents equal the source database's" "$(digests ck_dst)" "$(digests ck_src)"
expect_eq "the push source's rows" "$(q ck_dst -c "SELECT ck_digest('clicks')")" "$(q ck_src -c "SELECT ck_digest('clicks')")"
seen_sql="SELECT s.kind || ':' || s.dedup || ':' || s.dedup_entries || ':' || (SELECT count(*) FROM ivm._seen e WHERE e.source_id = s.id) FROM ivm._sources s WHERE s.relid = 'clicks'::regclass"
expect_eq "its kind, dedup and seen-set" "$(q ck_dst -c "$seen_sql")" "$(q ck_src -c "$seen_sql")"
expect_error "the restored push source refuses direct writes" ck_dst 42501 'cannot change push source "clicks" directly' \
    "INSERT INTO clicks VALUES (1, '/direct')"
expect_eq "epoch" "$(q ck_dst -c "SELECT epoch FROM ivm._state")" "$src_epoch"
views_sql="SELECT string_agg(name::text || ':' || strategy || ':' || mode || ':' || rows || ':' || state || ':' || level || ':' || coalesce(channel, '-'), ' ' ORDER BY name::text) FROM ivm.views"
expect_eq "ivm.views (strategy, mode, rows, state, level, channel)" "$(q ck_dst -c "$views_sql")" "$(q ck_src -c "$views_sql")"
own_sql="SELECT string_agg(c.relname || ':' || pg_get_userbyid(c.relowner), ' ' ORDER BY c.relname) FROM pg_class c WHERE c.relname LIKE 'v\_%' AND c.relkind = 'v'"
expect_eq "view owners" "$(q ck_dst -c "$own_sql")" "$(q ck_src -c "$own_sql")"
def_sql="SELECT string_agg(pg_get_userbyid(c.relowner), ' ') FROM ivm._views v JOIN pg_class c ON c.oid = v.defrel WHERE v.viewrel = 'v_owned'::regclass"
expect_eq "v_owned's definition belongs to its owner" "$(q ck_dst -c "$def_sql")" "ck_owner"
expect_eq "pending delta-log rows restored, none from loading the push source" "$(q ck_dst -c "SELECT ck_pending()")" "$(q ck_src -c "SELECT ck_pending()")"
expect_eq "the pending TRUNCATE restored" "$(q ck_dst -c "SELECT string_agg(relid::text, ',') FROM ivm._truncated")" "dim"

# the next tick resumes: the same tick on both sides.  With the fallback to
# recompute out of the way: it weighs a delta against the planner's estimate
# of the rows a recompute reads, and the source's tables (with dead rows, and
# analyzed whenever autovacuum came by) and the restored copies estimate
# differently, so the same delta could be recomputed on one side only.
tick_sql="SET ivm.fallback_ratio = 1000000; SELECT epoch || ' ' || rows_in || ' ' || rows_out || ' ' || views_processed || ' ' || views_recomputed FROM ivm.tick()"
expect_eq "the first tick after the restore does what the source's does" "$(q ck_dst -c "$tick_sql")" "$(q ck_src -c "$tick_sql")"
check_views ck_dst "after the first tick"
expect_eq "contents after a tick on both sides" "$(digests ck_dst)" "$(digests ck_src)"
for db in ck_src ck_dst; do
    q "$db" -c "SELECT ck_write(3)" >/dev/null
    q "$db" -c "DELETE FROM dim WHERE k = 3" -c "INSERT INTO part VALUES (300, 'us', 3)" >/dev/null
done
expect_eq "the tick after more writes does what the source's does" "$(q ck_dst -c "$tick_sql")" "$(q ck_src -c "$tick_sql")"
check_views ck_dst "after writes and a tick"
expect_eq "contents after writes on both sides" "$(digests ck_dst)" "$(digests ck_src)"
expect_eq "the push source after writes on both sides" "$(q ck_dst -c "SELECT ck_digest('clicks')")" "$(q ck_src -c "SELECT ck_digest('clicks')")"
# a batch pushed before the checkpoint is coalesced after the restore too
before_push=$(q ck_dst -c "SELECT count(*) FROM clicks")
q ck_dst -c "SELECT ivm.push('clicks', '[{\"user_id\": 1, \"url\": \"/z\"}]')" >/dev/null
expect_eq "a batch seen before the checkpoint is applied once, not again" "$(q ck_dst -c "SELECT count(*) FROM clicks")" "$before_push"
q ck_dst -c "SELECT ivm.push('clicks', '[{\"user_id\": 99, \"url\": \"/new\"}]')" >/dev/null
expect_eq "a new batch is applied" "$(q ck_dst -c "SELECT count(*) FROM clicks")" "$((before_push + 1))"
q ck_src -c "SELECT ivm.push('clicks', '[{\"user_id\": 99, \"url\": \"/new\"}]')" >/dev/null
expect_eq "ticks with pushes on both sides" "$(q ck_dst -c "$tick_sql")" "$(q ck_src -c "$tick_sql")"
expect_eq "contents after pushes on both sides" "$(digests ck_dst)" "$(digests ck_src)"
out=$(q ck_dst -c "SELECT count(*) FROM ivm.changes('v_agg', $src_epoch)")
[ "$out" -gt 0 ] && ok "the restored watch logs changes ($out rows since epoch $src_epoch)" ||
    fail "the restored watch logged no change"

# the restored database continues the chain; a restore of it gives its state
q ck_dst -c "SELECT ck_write(4)" >/dev/null
q ck_dst -c "SELECT * FROM ivm.tick()" -c "UPDATE t SET f = f + 1 WHERE id = 5" >/dev/null
out=$(q ck_dst -c "SELECT sequence, bases + deltas + unchanged FROM ivm.checkpoint('$D1')")
expect_eq "the restored database continues the chain" "$out" "4|13"
new_target ck_dst2
copy_tables ck_dst ck_dst2
out=$(q ck_dst2 -c "SELECT sequence, views, push_sources, sources_changed, views_to_recompute FROM ivm.restore('$D1')")
expect_eq "a restore of checkpoint 4" "$out" "4|11|1|0|0"
expect_eq "its push source" "$(q ck_dst2 -c "SELECT ck_digest('clicks')")" "$(q ck_dst -c "SELECT ck_digest('clicks')")"
expect_eq "it equals the database that wrote checkpoint 4" "$(digests ck_dst2)" "$(digests ck_dst)"
expect_eq "and ticks the same" "$(q ck_dst2 -c "$tick_sql")" "$(q ck_dst -c "$tick_sql")"
check_views ck_dst2 "after a restore of the continued chain and a tick"

# ---- 2. refusals -----------------------------------------------------------
ivm_say "2. damaged, foreign, reordered and newer files are refused; nothing changes"
new_target ck_bad
copy_tables ck_dst ck_bad
q ck_src -c "SELECT * FROM ivm.checkpoint('$WORK/chain2')" >/dev/null
before=$(q ck_bad -c "SELECT ck_state()")

# variant NAME: a fresh copy of chain 1 (checkpoints 1-4) to damage
variant() {
    rm -rf "${WORK:?}/$1"
    cp -a "$D1" "$WORK/$1"
    echo "$WORK/$1"
}
# refused LABEL DIR SQLSTATE PATTERN: restore of DIR into ck_bad fails so, changing nothing
refused() {
    expect_error "$1" ck_bad "$3" "$4" "SELECT * FROM ivm.restore('$2')"
    expect_eq "$1: ck_bad unchanged" "$(q ck_bad -c "SELECT ck_state()")" "$before"
}
# flip BYTE-OFFSET FILE: invert one byte
flip() {
    local off=$1 f=$2 b
    b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
    printf "$(printf '\\%03o' $((255 - b)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# files certainly needed: those of the newest checkpoint, and the base of
# v_empty, which never changes
first4=$(cd "$D1" && ls 00000004-*.rows | head -n 1)
last4=$(cd "$D1" && ls 00000004-*.rows | tail -n 1)
empty1=$(q ck_src -c "SELECT o -> 'file' ->> 'name' FROM jsonb_array_elements(ivm.checkpoint_manifest('$D1', 1) -> 'objects') o
                      WHERE o ->> 'relname' = 'v_empty'")
expect_eq "v_empty's base is a file of checkpoint 1" "${empty1%-*}" "00000001"
d=$(variant flipped)
f=$d/$first4
flip $(( $(stat -c %s "$f") / 2 )) "$f"
refused "a flipped byte in a payload" "$d" XX001 "checkpoint file \".*$first4\" is not usable"
grep -q 'checksum of its payload does not match' <<<"$(ivm_psql -d ck_bad -c "SELECT ivm.restore('$d')" 2>&1)" &&
    ok "the detail names the payload checksum" || fail "the detail does not name the payload checksum"

d=$(variant flipped-header)
flip 90 "$d/00000002.manifest"
refused "a flipped byte in a header" "$d" XX001 'checksum of its header'

d=$(variant truncated)
f=$d/$last4
truncate -s $(( $(stat -c %s "$f") - 7 )) "$f"
refused "a truncated file" "$d" XX001 'It is truncated: it has [0-9]+ bytes where its header says'

d=$(variant truncated-header)
f=$d/$empty1
truncate -s 40 "$f"
refused "a file truncated in its header" "$d" XX001 'truncated or damaged'

d=$(variant missing)
rm "$d/$empty1"
refused "a missing file" "$d" 58P01 "$empty1\" is missing"

d=$(variant reordered)
mv "$d/00000002.manifest" "$d/x" && mv "$d/00000003.manifest" "$d/00000002.manifest" && mv "$d/x" "$d/00000003.manifest"
refused "manifests swapped" "$d" XX001 'holds checkpoint 3, not 2: manifests were renamed or reordered'

d=$(variant renamed)
mv "$d/00000002.manifest" "$d/00000007.manifest"
refused "a manifest renamed (a gap)" "$d" XX001 'checkpoint 2 is missing from the chain'

d=$(variant foreign-file)
cp "$WORK/chain2/$empty1" "$d/$empty1"
refused "a data file from another checkpoint directory" "$d" XX001 'copied from another checkpoint directory'

d=$(variant foreign-manifest)
cp "$WORK/chain2/00000001.manifest" "$d/00000001.manifest"
refused "a manifest from another checkpoint directory" "$d" XX001 'copied from another checkpoint directory|does not follow the manifest'

d=$(variant newer)
printf '\002' | dd of="$d/$empty1" bs=1 seek=8 conv=notrunc status=none
refused "a newer format version" "$d" 0A000 'format version 2, newer than this version of ivm reads'

d=$(variant newer-manifest)
printf '\002' | dd of="$d/00000004.manifest" bs=1 seek=8 conv=notrunc status=none
refused "a manifest of a newer format version" "$d" 0A000 'format version 2, newer'

refused "no checkpoint in the directory" "$WORK" 58P01 'no checkpoint found'

# a view already there
q ck_bad -c "CREATE VIEW v_dup AS SELECT 1 AS x" >/dev/null
before=$(q ck_bad -c "SELECT ck_state()")
refused "a relation in the way of a view" "$D1" 42P07 'relation public.v_dup already exists'
q ck_bad -c "DROP VIEW v_dup" >/dev/null
before=$(q ck_bad -c "SELECT ck_state()")
# a table source missing
q ck_bad -c "ALTER TABLE part RENAME TO part_x" >/dev/null
before=$(q ck_bad -c "SELECT ck_state()")
refused "a table source missing" "$D1" 42P01 'table public.part, which incremental views of the checkpoint read, does not exist'
q ck_bad -c "ALTER TABLE part_x RENAME TO part" >/dev/null

# the same database takes the intact chain: the refusals were the files' fault
out=$(q ck_bad -c "SELECT views, sources_changed FROM ivm.restore('$D1')")
expect_eq "the intact chain restores into the database the damaged ones left alone" "$out" "11|0"

# ---- 3. a table changed before the restore --------------------------------
ivm_say "3. a table source that changed in the target: its views are recomputed"
new_target ck_changed
copy_tables ck_dst ck_changed
q ck_changed -c "UPDATE t SET x = x + 1000 WHERE id = 7" >/dev/null
out=$(q ck_changed -c "SELECT sources_changed, views_to_recompute FROM ivm.restore('$D1')" 2>"$WORK/notices")
grep -q 'NOTICE:  table public.t does not hold the rows it held at the checkpoint' "$WORK/notices" &&
    ok "a notice names the changed table" || fail "no notice about the changed table: $(cat "$WORK/notices")"
# t is read by v_agg, v_join, v_dist, v_dup, v_diff, v_empty directly
expect_eq "restore: one table changed, the six views over it to recompute" "$out" "1|6"
out=$(q ck_changed -c "SELECT string_agg(name::text, ' ' ORDER BY name::text) FROM ivm.views WHERE state = 'recompute pending'")
expect_eq "ivm.views shows them pending" "$out" "v_agg v_diff v_dist v_dup v_empty v_join"
e=$(q ck_changed -c "SELECT epoch FROM ivm.tick()")
out=$(q ck_changed -c "SELECT string_agg(view || ':' || strategy, ' ' ORDER BY view) FROM ivm.evidence WHERE epoch = $e")
expect_eq "the next tick recomputes them (v_over follows v_agg's delta)" "$out" \
    "v_agg:recompute v_diff:recompute v_dist:recompute v_dup:recompute v_empty:recompute v_join:recompute v_over:incremental"
check_views ck_changed "after the recompute"
q ck_changed -c "SELECT ck_write(5)" >/dev/null
q ck_changed -c "SELECT * FROM ivm.tick()" >/dev/null
check_views ck_changed "after more writes and a tick"

# ---- 4. a checkpoint that fails half-way ----------------------------------
ivm_say "4. a failed checkpoint leaves the chain as it was"
q ck_src -c "SELECT ck_write(6)" >/dev/null
q ck_src -c "SELECT * FROM ivm.tick()" >/dev/null
ls "$D1" >"$WORK/before.ls"
# the manifest name is taken by a directory: everything but the manifest gets written
mkdir "$D1/00000005.manifest.tmp"
expect_error "a checkpoint that cannot write its manifest fails" ck_src 42809 'could not create checkpoint file .*00000005.manifest.tmp' \
    "SELECT * FROM ivm.checkpoint('$D1')"
rmdir "$D1/00000005.manifest.tmp"
expect_eq "no manifest 5" "$(ls "$D1" | grep -c '^00000005.manifest' || true)" "0"
new_target ck_other
copy_tables ck_dst ck_other
out=$(q ck_other -c "SELECT sequence FROM ivm.restore('$D1')")
expect_eq "the chain still restores, at checkpoint 4" "$out" "4"
expect_eq "it equals checkpoint 4's database" "$(digests ck_other)" "$(digests ck_dst2)"
out=$(q ck_src -c "SELECT sequence FROM ivm.checkpoint('$D1')")
expect_eq "the next checkpoint succeeds as number 5" "$out" "5"
left=$(ls "$D1" | grep -c '\.tmp$' || true)
expect_eq "no temporary file left behind" "$left" "0"
stale=$(comm -13 "$WORK/before.ls" <(ls "$D1") | grep -vc '^00000005' || true)
expect_eq "only files of checkpoint 5 were added" "$stale" "0"

# ---- 5. privileges and paths ----------------------------------------------
ivm_say "5. privileges, paths, a view in the way"
expect_error "checkpoint without pg_write_server_files" ck_src 42501 'permission denied to write files on the server' \
    "SET ROLE ck_writer; SELECT * FROM ivm.checkpoint('$WORK/denied')"
expect_error "restore without pg_read_server_files" ck_bad 42501 'permission denied to read files on the server' \
    "SET ROLE ck_writer; SELECT * FROM ivm.restore('$D1')"
expect_error "manifest without pg_read_server_files" ck_bad 42501 'permission denied' \
    "SET ROLE ck_writer; SELECT ivm.checkpoint_manifest('$D1')"
expect_error "a relative path" ck_src 22023 'path "ckpt/here" is not absolute' \
    "SELECT * FROM ivm.checkpoint('ckpt/here')"

# a non-superuser with the right roles: ck_app owns its table and view
ivm_psql -d postgres -c "CREATE DATABASE ck_priv_src" -c "CREATE DATABASE ck_priv_dst" >/dev/null
for db in ck_priv_src ck_priv_dst; do
    ivm_psql -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION ivm;
GRANT CREATE ON SCHEMA public TO ck_app;
SET ROLE ck_app;
CREATE TABLE p (id int, v int);
INSERT INTO p SELECT i, i % 3 FROM generate_series(1, 20) i;
SQL
done
q ck_priv_src -c "SET ROLE ck_app" -c "SELECT ivm.create_view('pv', 'SELECT v, count(*) AS n FROM p GROUP BY v')" >/dev/null
ivm_psql -d postgres -c "GRANT pg_write_server_files TO ck_writer" >/dev/null
out=$(q ck_priv_src -c "SET ROLE ck_writer" -c "SELECT sequence, bases FROM ivm.checkpoint('$WORK/priv')")
expect_eq "checkpoint by a role with pg_write_server_files" "$out" "1|1"
expect_error "restore by the view's owner without pg_read_server_files" ck_priv_dst 42501 'permission denied to read files on the server' \
    "SET ROLE ck_app; SELECT * FROM ivm.restore('$WORK/priv')"
ivm_psql -d postgres -c "GRANT pg_read_server_files TO ck_app" >/dev/null
out=$(q ck_priv_dst -c "SET ROLE ck_app" -c "SELECT views FROM ivm.restore('$WORK/priv')" \
    -c "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'pv'" -c "SELECT string_agg(v || ':' || n, ',' ORDER BY v) FROM pv")
expect_eq "restore by the view's owner with pg_read_server_files" "$(paste -sd' ' <<<"$out")" "1 ck_app 0:6,1:7,2:7"

# ---- 6. chains ----------------------------------------------------------------
ivm_say "6. chain length, superseded files, a damaged chain"
D3=$WORK/chain3
ivm_psql -d postgres -c "CREATE DATABASE ck_chain" >/dev/null
ivm_psql -d ck_chain >/dev/null <<'SQL'
CREATE EXTENSION ivm;
CREATE TABLE c (id int PRIMARY KEY, v int);
INSERT INTO c SELECT i, i FROM generate_series(1, 100) i;
SELECT ivm.create_view('cv', 'SELECT id, v FROM c');                   -- 100 rows
SELECT ivm.create_view('cv_small', 'SELECT id, v FROM c WHERE id <= 10');  -- 10 rows
-- big enough to be loaded in batches, its index built after the rows
CREATE TABLE big (id int);
INSERT INTO big SELECT i FROM generate_series(1, 60000) i;
SELECT ivm.create_view('bigv', 'SELECT id, id % 7 AS m FROM big');
SQL
# checkpoint 1, then 33 times: one row updated, a tick, a checkpoint
{
    echo "SELECT sequence FROM ivm.checkpoint('$D3');"
    for i in $(seq 1 33); do
        echo "UPDATE c SET v = v + 1 WHERE id = $i;"
        echo "SELECT * FROM ivm.tick() \\g /dev/null"
        echo "SELECT sequence FROM ivm.checkpoint('$D3') \\g /dev/null"
    done
} | sed 's/\\\\/\\/g' | q ck_chain >/dev/null
types_of() {
    q ck_chain -c "SELECT string_agg(coalesce(o -> 'file' ->> 'type', '-'), ' ' ORDER BY k)
                   FROM generate_series(1, 34) k,
                        jsonb_array_elements(ivm.checkpoint_manifest('$D3', k) -> 'objects') o
                   WHERE o ->> 'relname' = '$1'"
}
expect_eq "cv (100 rows, one changed each time): a base again after 32 deltas" "$(types_of cv)" \
    "base$(printf ' delta%.0s' $(seq 1 32)) base"
expect_eq "cv_small (10 rows): a base again once the deltas hold 10 records" "$(types_of cv_small)" \
    "base delta delta delta delta base delta delta delta delta base$(printf ' -%.0s' $(seq 1 23))"
out=$(q ck_chain -c "SELECT string_agg(o ->> 'relname' || ':' || jsonb_array_length(o -> 'chain'), ' ' ORDER BY o ->> 'relname')
                     FROM jsonb_array_elements(ivm.checkpoint_manifest('$D3') -> 'objects') o WHERE o ->> 'kind' = 'view'")
expect_eq "checkpoint 34: each chain is one base" "$out" "bigv:1 cv:1 cv_small:1"
expect_eq "the directory keeps only the files those chains need" "$(cd "$D3" && ls -- *.rows | paste -sd' ')" \
    "00000001-0003.rows 00000011-0002.rows 00000034-0001.rows"
expect_eq "and every manifest" "$(cd "$D3" && ls -- *.manifest | wc -l)" "34"
ivm_psql -d postgres -c "CREATE DATABASE ck_chain_dst" >/dev/null
ivm_psql -d ck_chain_dst -c "CREATE EXTENSION ivm" -c "CREATE TABLE c (id int PRIMARY KEY, v int)" \
    -c "CREATE TABLE big (id int)" >/dev/null
for tab in c big; do
    ivm_psql -d ck_chain -c "COPY $tab TO STDOUT" | ivm_psql -d ck_chain_dst -c "COPY $tab FROM STDIN"
done
out=$(q ck_chain_dst -c "SELECT sequence, views, sources_changed FROM ivm.restore('$D3')")
expect_eq "it restores" "$out" "34|3|0"
idx="SELECT count(*) FROM pg_index i JOIN ivm._views v ON v.storagerel = i.indrelid WHERE v.viewrel = 'bigv'::regclass"
expect_eq "bigv's storage has its index again after a batched load" "$(q ck_chain_dst -c "$idx")" "$(q ck_chain -c "$idx")"
q ck_chain_dst -c "DELETE FROM big WHERE id % 1000 = 0" >/dev/null
out=$(q ck_chain_dst -c "SELECT rows_in, rows_out, views_recomputed FROM ivm.tick()")
expect_eq "bigv then maintained incrementally" "$out" "60|60|0"
q ck_chain -c "DELETE FROM big WHERE id % 1000 = 0" -c "SELECT * FROM ivm.tick()" >/dev/null
for v in cv cv_small bigv; do
    expect_eq "$v restored" "$(q ck_chain_dst -c "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM $v x")" \
        "$(q ck_chain -c "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM $v x")"
done
# a checkpoint reads back the chain of a view that changed: a damaged file stops it
cp "$D3/00000034-0001.rows" "$WORK/saved.rows"
flip 200 "$D3/00000034-0001.rows"
q ck_chain -c "UPDATE c SET v = 0 WHERE id = 50" -c "SELECT * FROM ivm.tick()" >/dev/null
expect_error "a checkpoint that meets a damaged chain" ck_chain XX001 'checkpoint file ".*00000034-0001.rows" is not usable' \
    "SELECT * FROM ivm.checkpoint('$D3')"
cp "$WORK/saved.rows" "$D3/00000034-0001.rows"
[ "$EUID" -eq 0 ] && chown postgres: "$D3/00000034-0001.rows"
out=$(q ck_chain -c "SELECT sequence, deltas, unchanged FROM ivm.checkpoint('$D3')")
expect_eq "with the file back, the checkpoint writes its deltas" "$out" "35|2|1"

# ---- 7. a hostile checkpoint ---------------------------------------------------
ivm_say "7. names and text from a checkpoint are never SQL; user code runs as its owner"
# Checksums catch damage, not intent: anyone who may write files on the
# server can write a checkpoint whose checksums match.  ckedit rewrites a
# checkpoint file with another object name and/or another (raw) payload, and
# recomputes the lengths and XXH3-64 checksums as ckptfile.c does.
cat >"$WORK/ckedit.c" <<'C'
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    unsigned char *b;
    if (!f) { perror(p); exit(1); }
    fseek(f, 0, SEEK_END); *n = ftell(f); fseek(f, 0, SEEK_SET);
    b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) { perror(p); exit(1); }
    fclose(f);
    return b;
}
static uint64_t get(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static void put(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (v >> (8 * i)) & 0xff;
}
int main(int argc, char **argv)  /* ckedit IN OUT OBJECT|- PAYLOAD|- */
{
    size_t n, plen = 0, olen, rest, hl, sl = 0;
    unsigned char *in, *raw = NULL, *out, *stored;
    uint32_t hlen, ooff = 80;
    FILE *f;
    if (argc != 5) { fprintf(stderr, "usage: ckedit IN OUT OBJECT|- PAYLOAD|-\n"); return 2; }
    in = slurp(argv[1], &n);
    hlen = get(in + 12, 4);
    olen = get(in + ooff, 4);
    rest = hlen - 8 - (ooff + 4 + olen);            /* ncols and the columns */
    const char *obj = strcmp(argv[3], "-") ? argv[3] : NULL;
    size_t newolen = obj ? strlen(obj) : olen;
    hl = 80 + 4 + newolen + rest + 8;
    if (strcmp(argv[4], "-") != 0)
    {
        raw = slurp(argv[4], &plen);
        stored = malloc(plen + 9 * (plen / (1 << 20) + 1));
        for (size_t at = 0; at < plen || (at == 0 && plen == 0 && 0); at += (1 << 20))
        {
            size_t len = plen - at < (1 << 20) ? plen - at : (1 << 20);
            stored[sl] = 0; put(stored + sl + 1, len, 4); put(stored + sl + 5, len, 4);
            memcpy(stored + sl + 9, raw + at, len);
            sl += 9 + len;
        }
    }
    else
    {
        stored = in + hlen;
        sl = n - hlen;
    }
    out = malloc(hl + sl);
    memcpy(out, in, 80);
    put(out + 12, hl, 4);
    if (raw)
    {
        put(out + 48, plen, 8);
        put(out + 56, sl, 8);
        put(out + 64, XXH3_64bits(raw, plen), 8);
        put(out + 72, XXH3_64bits(stored, sl), 8);
    }
    put(out + 80, newolen, 4);
    memcpy(out + 84, obj ? (const unsigned char *) obj : in + ooff + 4, newolen);
    memcpy(out + 84 + newolen, in + ooff + 4 + olen, rest);
    put(out + hl - 8, XXH3_64bits(out, hl - 8), 8);
    memcpy(out + hl, stored, sl);
    f = fopen(argv[2], "wb");
    if (!f || fwrite(out, 1, hl + sl, f) != hl + sl || fclose(f) != 0) { perror(argv[2]); return 1; }
    return 0;
}
C
gcc -O1 -o "$WORK/ckedit" "$WORK/ckedit.c" $(pkg-config --cflags --libs libxxhash 2>/dev/null || echo -lxxhash)

EVIL_SCHEMA=$(cat <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION ivm;
GRANT CREATE ON SCHEMA public TO ck_evil;
CREATE TABLE victim (x int);
INSERT INTO victim VALUES (1);
CREATE TABLE vt (id int, s text);
INSERT INTO vt SELECT i, 's' || i FROM generate_series(1, 5) i;
GRANT SELECT ON vt TO ck_evil;
SET ROLE ck_evil;
CREATE TABLE ck_evil_log (who text, what text);
-- what mallory wants run with a superuser's rights; it tells who ran it
CREATE FUNCTION ck_evil_work(what text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
BEGIN
    INSERT INTO public.ck_evil_log VALUES (current_user, what);
    BEGIN
        EXECUTE 'ALTER ROLE ck_evil SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN true;
EXCEPTION WHEN OTHERS THEN RETURN true;
END $f$;
-- planning folds an immutable call: a view's query runs it when it is planned
CREATE FUNCTION ck_evil_imm() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    RETURN public.ck_evil_work('plan');
END $f$;
-- a domain's CHECK runs when a value is read in through the domain's input
CREATE FUNCTION ck_evil_chk(v int) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
BEGIN
    RETURN public.ck_evil_work('input');
END $f$;
CREATE DOMAIN ck_evil_int AS int CHECK (public.ck_evil_chk(VALUE));
RESET ROLE;
SQL
)
ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS ck_evil" -c "CREATE ROLE ck_evil" >/dev/null
ivm_psql -d postgres -c "CREATE DATABASE ck_evil_src" >/dev/null
ivm_psql -d ck_evil_src >/dev/null <<<"$EVIL_SCHEMA"
ivm_psql -d ck_evil_src >/dev/null <<'SQL'
SET ROLE ck_evil;
SELECT ivm.create_view('ev', 'SELECT id, s FROM vt');
SELECT ivm.create_view('ev_plan', 'SELECT id FROM vt WHERE ck_evil_imm()');
SELECT ivm.create_view('ev_dom', 'SELECT id::ck_evil_int AS id FROM vt');
SELECT ivm.watch('ev');
RESET ROLE;
SELECT ivm.create_source('ep', 'a int NOT NULL, b text');
SELECT ivm.push('ep', '[{"a": 1, "b": "x"}]');
SELECT count(*) FROM ivm.tick();
SQL
EV=$WORK/evil
q ck_evil_src -c "SELECT sequence FROM ivm.checkpoint('$EV')" >/dev/null
evil_before=$(q ck_evil_src -c "SELECT count(*) FROM ck_evil_log")

# evil_restore LABEL: restore directory $d into a fresh ck_evil_dst as superuser
evil_target() {
    ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ck_evil_dst WITH (FORCE)" \
        -c "CREATE DATABASE ck_evil_dst" >/dev/null
    ivm_psql -d ck_evil_dst >/dev/null <<<"$EVIL_SCHEMA"
}
# craft NAME JQ-LIKE-SQL [FILE-RENAMES]: a copy of the evil chain whose manifest's
# JSON is the SQL expression given (of m, the manifest jsonb); rows files of
# objects whose name changed get that name in their header
craft() {
    local name=$1 expr=$2 d
    d=$WORK/$name
    rm -rf "$d" && cp -a "$EV" "$d"
    q ck_evil_src -c "SELECT ($expr)::text FROM (SELECT ivm.checkpoint_manifest('$EV') AS m) s" >"$d/manifest.json"
    truncate -s -1 "$d/manifest.json"       # psql's newline
    "$WORK/ckedit" "$EV/00000001.manifest" "$d/00000001.manifest" - "$d/manifest.json"
    rm "$d/manifest.json"
    echo "$d"
}
# rename_file DIR FILE OBJECT: give a rows file of DIR another object in its header
rename_file() {
    "$WORK/ckedit" "$1/$2" "$1/$2.new" "$3" -
    mv "$1/$2.new" "$1/$2"
}
[ "$EUID" -eq 0 ] && chown -R postgres: "$WORK"
# the JSON of object NAME's entry is at index i; set KEY of it to VALUE (a jsonb)
set_key() {
    echo "(SELECT jsonb_set(m, ARRAY['objects', (i - 1)::text, '$2'], '$3'::jsonb)
          FROM jsonb_array_elements(m -> 'objects') WITH ORDINALITY o(e, i) WHERE e ->> 'relname' = '$1' AND e ->> 'kind' <> 'seen')"
}
file_of() {
    q ck_evil_src -c "SELECT o -> 'file' ->> 'name' FROM jsonb_array_elements(ivm.checkpoint_manifest('$EV') -> 'objects') o
                      WHERE o ->> 'relname' = '$1' AND o ->> 'kind' = '$2'"
}
victim_there() {
    expect_eq "$1: victim still exists" "$(q ck_evil_dst -c "SELECT count(*) FROM victim")" "1"
}
HOSTILE='x"; DROP TABLE victim; --'
HOSTILE_JSON='"x\"; DROP TABLE victim; --"'

# the unmodified chain first: the attacker's code ran as ck_evil, never as the superuser restoring
evil_target
q ck_evil_dst -c "SELECT views, push_sources FROM ivm.restore('$EV')" >/dev/null
expect_eq "restoring views that call ck_evil's functions leaves ck_evil without superuser" \
    "$(q ck_evil_dst -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'ck_evil'")" "f"
expect_eq "the view's planning and the domain's input ran, as ck_evil only" \
    "$(q ck_evil_dst -c "SELECT string_agg(DISTINCT who || ':' || what, ' ' ORDER BY who || ':' || what) FROM ck_evil_log")" \
    "ck_evil:input ck_evil:plan"
expect_eq "and the restored views hold their rows" \
    "$(q ck_evil_dst -c "SELECT (SELECT count(*) FROM ev) || ' ' || (SELECT count(*) FROM ev_dom) || ' ' || (SELECT count(*) FROM ev_plan)")" "5 5 5"
ivm_psql -d postgres -c "ALTER ROLE ck_evil NOSUPERUSER" >/dev/null

# a view's name: created exactly as quoted
d=$(craft evil-viewname "$(set_key ev relname "$HOSTILE_JSON")")
rename_file "$d" "$(file_of ev view)" "public.\"x\"\"; DROP TABLE victim; --\""
evil_target
expect_eq "a view named $HOSTILE is restored under exactly that name" \
    "$(q ck_evil_dst -c "SELECT views FROM ivm.restore('$d')" -c "SELECT count(*) FROM public.\"x\"\"; DROP TABLE victim; --\"")" "$(printf '3\n5')"
victim_there "a hostile view name"

# a push source's name
d=$(craft evil-pushname "$(set_key ep relname "$HOSTILE_JSON")")
rename_file "$d" "$(file_of ep push)" "public.\"x\"\"; DROP TABLE victim; --\""
evil_target
out=$(q ck_evil_dst -c "SELECT push_sources FROM ivm.restore('$d')" \
    -c "SELECT count(*) FROM ivm.sources WHERE source = 'public.\"x\"\"; DROP TABLE victim; --\"'::regclass")
expect_eq "a push source named $HOSTILE is restored under exactly that name" "$(paste -sd' ' <<<"$out")" "1 1"
victim_there "a hostile push source name"

# a watch channel: a value, kept as it is
d=$(craft evil-channel "$(set_key ev channel "$HOSTILE_JSON")")
evil_target
expect_eq "a hostile watch channel is stored as a value" \
    "$(q ck_evil_dst -c "SELECT watches FROM ivm.restore('$d')" -c "SELECT channel FROM ivm._watches")" "$(printf '1\n%s' "$HOSTILE")"
victim_there "a hostile channel"
d=$(craft evil-channel-long "$(set_key ev channel "\"$(printf 'c%.0s' $(seq 1 80))\"")")
evil_target
expect_error "a channel no NOTIFY takes (it would stop every tick)" ck_evil_dst XX001 'watch channel of public.ev is empty or longer' \
    "SELECT * FROM ivm.restore('$d')"

# names that must exist here: refused, nothing changed
for key in schema owner; do
    d=$(craft "evil-$key" "$(set_key ev "$key" "$HOSTILE_JSON")")
    evil_target
    before=$(q ck_evil_dst -c "SELECT count(*) FROM pg_class")
    expect_error "a hostile $key" ck_evil_dst "3F000|42704|XX001" 'does not exist|not usable' "SELECT * FROM ivm.restore('$d')"
    victim_there "a hostile $key"
    expect_eq "a hostile $key: nothing created" "$(q ck_evil_dst -c "SELECT count(*) FROM pg_class")" "$before"
done
d=$(craft evil-table "$(set_key vt relname "$HOSTILE_JSON")")
evil_target
expect_error "a hostile table source name" ck_evil_dst 42P01 'which incremental views of the checkpoint read, does not exist' \
    "SELECT * FROM ivm.restore('$d')"
victim_there "a hostile table source name"

# a view's query: exactly one SELECT, without data-modifying parts
for query in 'SELECT id, s FROM public.vt; DROP TABLE public.victim' \
             'WITH x AS (DELETE FROM public.victim RETURNING 1) SELECT 1 AS id, $$a$$ AS s' \
             'SELECT id, s FROM public.vt WHERE pg_catalog.pg_sleep(0) IS NULL'; do
    d=$(craft evil-query "$(set_key ev query "$(q ck_evil_src -c "SELECT to_jsonb(\$q\$$query\$q\$::text)")")")
    evil_target
    expect_error "a view's query \"$query\"" ck_evil_dst '22023|0A000|42809' 'exactly one SELECT|cannot|volatile|must be' \
        "SELECT * FROM ivm.restore('$d')"
    victim_there "a hostile query"
done

# a view's column names and options
d=$(craft evil-columns "$(set_key ev view_columns "[$HOSTILE_JSON, \"s\"]")")
evil_target
expect_eq "a hostile column name is a column name" \
    "$(q ck_evil_dst -c "SELECT views FROM ivm.restore('$d')" -c "SELECT attname FROM pg_attribute WHERE attrelid = 'ev'::regclass AND attnum = 1")" \
    "$(printf '3\n%s' "$HOSTILE")"
victim_there "a hostile column name"
d=$(craft evil-options "$(set_key ev options "\"{\\\"mode\\\": \\\"x; DROP TABLE victim; --\\\"}\"")")
evil_target
expect_error "hostile options" ck_evil_dst 22023 'mode' "SELECT * FROM ivm.restore('$d')"
victim_there "hostile options"

# a push source's column definitions: parsed, never run
for defs in 'a int NOT NULL, b text); DROP TABLE victim; --' \
            'a int NOT NULL DEFAULT (ck_evil_work($$default$$)::int), b text' \
            'a int NOT NULL CHECK (ck_evil_work($$check$$)), b text' \
            "a \"x\"\"; DROP TABLE victim; --\", b text"; do
    d=$(craft evil-defs "$(set_key ep column_definitions "$(q ck_evil_src -c "SELECT to_jsonb(\$q\$$defs\$q\$::text)")")")
    evil_target
    expect_error "column definitions \"$defs\"" ck_evil_dst 'XX001|42704|42601' 'not usable|does not exist|syntax' \
        "SELECT * FROM ivm.restore('$d')"
    victim_there "hostile column definitions"
    expect_eq "hostile column definitions ran nothing" "$(q ck_evil_dst -c "SELECT count(*) FROM ck_evil_log")" "0"
done

# the C side of NULL arguments (ivm.checkpoint and ivm.restore are STRICT in the SQL script of 0.1.0)
ivm_psql -d ck_evil_dst >/dev/null <<'SQL'
CREATE FUNCTION ck_checkpoint_ns(dir text) RETURNS record AS 'ivm', 'ivm_checkpoint' LANGUAGE C;
CREATE FUNCTION ck_restore_ns(dir text) RETURNS record AS 'ivm', 'ivm_restore' LANGUAGE C;
SQL
expect_error "ivm.checkpoint(NULL)" ck_evil_dst 22004 'argument "dir" of ivm.checkpoint must not be null' \
    "SELECT * FROM ck_checkpoint_ns(NULL) AS (a int)"
expect_error "ivm.restore(NULL)" ck_evil_dst 22004 'argument "dir" of ivm.restore must not be null' \
    "SELECT * FROM ck_restore_ns(NULL) AS (a int)"
expect_error "ivm.checkpoint_manifest(NULL)" ck_evil_dst 22004 'argument "dir" of ivm.checkpoint_manifest must not be null' \
    "SELECT ivm.checkpoint_manifest(NULL)"
# a directory argument that is a file
f=$EV/00000001.manifest
expect_error "ivm.checkpoint onto a file" ck_evil_src 42809 "\"$f\" is not a directory" "SELECT * FROM ivm.checkpoint('$f')"
expect_error "ivm.restore of a file" ck_evil_dst 42809 "\"$f\" is not a directory" "SELECT * FROM ivm.restore('$f')"
expect_error "ivm.checkpoint_manifest of a file" ck_evil_dst 42809 "\"$f\" is not a directory" "SELECT ivm.checkpoint_manifest('$f')"

# ---- top-k: a view with a hidden view ----------------------------------------
ivm_say "top-k: a view whose hidden view is left out of the checkpoint comes back with it"
new_target ck_top_src
ivm_psql -d ck_top_src >/dev/null <<'SQL'
INSERT INTO t (id, g, x) SELECT i, i % 9, i * 1.5 FROM generate_series(1, 200) i;
SELECT ivm.create_view('v_top', 'SELECT g, sum(x) AS sx, count(*) AS n FROM t GROUP BY g ORDER BY sum(x) DESC NULLS LAST, g LIMIT 4');
SELECT * FROM ivm.tick();
SQL
D_TOP=$WORK/chain_top
out=$(q ck_top_src -c "SELECT sequence, bases FROM ivm.checkpoint('$D_TOP')")
expect_eq "the checkpoint holds the top-k view, not its hidden view" "$out" "1|1"
new_target ck_top_dst
copy_tables ck_top_src ck_top_dst
out=$(q ck_top_dst -c "SELECT views, views_to_recompute FROM ivm.restore('$D_TOP')")
expect_eq "restore: the view, recomputed from its hidden view at the next tick" "$out" "1|1"
expect_eq "its hidden view was made again" "$(q ck_top_dst -c "SELECT count(*) FROM ivm.hidden_views WHERE parent = 'v_top'::regclass")" "1"
q ck_top_dst -c "UPDATE t SET x = x + 500 WHERE id % 9 = 2" -c "DELETE FROM t WHERE id % 9 = 5" >/dev/null
q ck_top_dst -c "SELECT * FROM ivm.tick()" >/dev/null
top_q="SELECT g, sum(x) AS sx, count(*) AS n FROM t GROUP BY g ORDER BY sum(x) DESC NULLS LAST, g LIMIT 4"
expect_eq "after a tick it equals its query" \
    "$(q ck_top_dst -c "SELECT count(*) FROM ((SELECT * FROM v_top EXCEPT ALL ($top_q)) UNION ALL (($top_q) EXCEPT ALL SELECT * FROM v_top)) d")" "0"
q ck_top_dst -c "UPDATE t SET x = 0 WHERE g = 2" >/dev/null
q ck_top_dst -c "SELECT * FROM ivm.tick()" >/dev/null
expect_eq "and after the next, by delta rules" \
    "$(q ck_top_dst -c "SELECT count(*) FROM ((SELECT * FROM v_top EXCEPT ALL ($top_q)) UNION ALL (($top_q) EXCEPT ALL SELECT * FROM v_top)) d")|$(q ck_top_dst -c "SELECT strategy FROM ivm.evidence WHERE view = 'v_top' ORDER BY epoch DESC LIMIT 1")" "0|incremental"

drop_all
if [ "$FAILS" -ne 0 ]; then
    echo "FAILED: checkpoint test, $FAILS of $((CHECKS + FAILS)) checks failed" >&2
    exit 1
fi
echo "PASSED: checkpoint test, $CHECKS checks"
