#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/ownership/run.sh -- VACUUM and autovacuum over a view whose values
# have a hostile range type leave every role as it was (issue 20); so do
# checkpoints and restores of tables carrying traps for whoever plans or
# writes out a read of them (issue 21).
#
#   bash test/ownership/run.sh
#
# What test/pgtap/20_ownership.sql cannot do in a transaction.  An ordinary
# role, ivm_own_alice (CREATE on a schema of her own, nothing else), makes a
# range type whose subtype_diff is hers: it makes her superuser (and gives
# her accomplice ivm_own_mate CREATEROLE) whenever it runs as a superuser.
# ANALYZE (its length histogram) and GiST (penalty, picksplit) call it, as
# the relation's owner.  She makes a view of it and a GiST index on the view.
# Then, each step judged on its own (what an attack won is undone before the
# next one):
#  1. her GiST index is built
#  2. a superuser ticks rows into the indexed storage
#  3. a superuser runs VACUUM (ANALYZE) on every relation of schema ivm
#  4. a superuser runs VACUUM FULL on the storage (the GiST index is rebuilt)
#  5. a superuser runs a database-wide VACUUM ANALYZE
#  6. autovacuum (naptime 1s, turned on only now) analyzes her table's delta
#     log, holding rows no tick consumed yet, and, after a tick, the storage
#  7. while a superuser's ivm.checkpoint / ivm.checkpoint_full waits for her
#     table, she renames it and puts a view calling her code in its place:
#     her code never runs as the superuser (tables are read by OID)
#  8. in a database of its own, her tables carry traps that planning or
#     writing a read of them springs (index expression, partial index
#     predicate, CREATE STATISTICS expression, a type's output function, a
#     push source's expression index): ivm.checkpoint, ivm.checkpoint_full
#     and ivm.restore, by a superuser and by a backup role that is not one,
#     spring them only as her, and what they write restores right
# After each: her code ran (the attack was live) and only as herself, she is
# not superuser, and (1-6) no other role's attributes changed.  At the end
# the view equals its query.  Always runs in a cluster of its own.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

DB=ivm_own
FAILS=0

fail() {
    echo "FAILED: $*" >&2
    FAILS=$((FAILS + 1))
}

q() {
    ivm_psql -d "$DB" -At "$@"
}

# check LABEL: as whom her code ran since the last step, her rights, every
# other role's; then undo what the attack won and forget the calls.
check() {
    local ran super changed

    ran=$(q -c "SELECT coalesce(array_agg(DISTINCT usr ORDER BY usr)::text, 'never') FROM public.own_calls")
    super=$(q -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_own_alice'")
    changed=$(q -c "SELECT coalesce(string_agg(DISTINCT rolname::text, ', '), '') FROM (
                        (SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                                rolreplication, rolbypassrls, rolconnlimit FROM pg_roles
                         EXCEPT SELECT * FROM public.own_roles)
                        UNION
                        (SELECT * FROM public.own_roles
                         EXCEPT SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                                       rolreplication, rolbypassrls, rolconnlimit FROM pg_roles)) d
                    WHERE rolname <> 'ivm_own_alice'")
    echo "  $1: subtype_diff ran as $ran; alice superuser: $super; other roles changed: ${changed:-none}"
    [ "$ran" = "{ivm_own_alice}" ] || fail "$1: her subtype_diff ran as $ran, not only as ivm_own_alice"
    [ "$super" = f ] || fail "$1: alice is superuser"
    [ -z "$changed" ] || fail "$1: the attributes of $changed changed"
    q -c "ALTER ROLE ivm_own_alice NOSUPERUSER" -c "ALTER ROLE ivm_own_mate NOCREATEROLE" \
      -c "TRUNCATE public.own_calls" >/dev/null
}

# the number of autoanalyze runs of a relation so far
autoanalyzed() {
    q -c "SELECT coalesce((SELECT autoanalyze_count FROM pg_stat_all_tables WHERE relid = '$1'::regclass), 0)"
}

# wait_autoanalyze REL BEFORE SECONDS: until autovacuum analyzed REL again
wait_autoanalyze() {
    local i

    for ((i = 0; i < $3 * 4; i++)); do
        if [ "$(autoanalyzed "$1")" -gt "$2" ]; then
            echo "  autovacuum analyzed $1 after $((i / 4)) s"
            return 0
        fi
        sleep 0.25
    done
    fail "autovacuum did not analyze $1 within $3 s"
    return 1
}

ivm_prepare
unset IVM_PGDATA IVM_TMP
IVM_EXTRA_CONF="autovacuum = off
autovacuum_naptime = 1
autovacuum_analyze_threshold = 20
autovacuum_analyze_scale_factor = 0
autovacuum_vacuum_threshold = 20
autovacuum_vacuum_scale_factor = 0
autovacuum_vacuum_insert_threshold = 20
autovacuum_vacuum_insert_scale_factor = 0"
export IVM_EXTRA_CONF
ivm_say "ownership test: starting a cluster of its own"
ivm_cluster_start

ivm_psql -c "CREATE DATABASE $DB" >/dev/null
ivm_say "setup: alice's range type with a hostile subtype_diff, her table and view"
q >/dev/null <<'SQL'
CREATE EXTENSION ivm;
CREATE ROLE ivm_own_alice;
CREATE ROLE ivm_own_mate;
CREATE SCHEMA own_alice AUTHORIZATION ivm_own_alice;
CREATE TABLE public.own_calls (fn text, usr text, was_super boolean);
GRANT INSERT, SELECT ON public.own_calls TO PUBLIC;
SET ROLE ivm_own_alice;
CREATE FUNCTION own_alice.pwn(fn text) RETURNS boolean LANGUAGE plpgsql SECURITY INVOKER AS $f$
BEGIN
    INSERT INTO public.own_calls
        SELECT fn, current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_own_alice') THEN
        ALTER ROLE ivm_own_alice SUPERUSER;
        ALTER ROLE ivm_own_mate CREATEROLE;
    END IF;
    RETURN true;
END
$f$;
CREATE FUNCTION own_alice.my_diff(a float8, b float8) RETURNS float8 LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    PERFORM own_alice.pwn('subtype_diff');
    RETURN a - b;
END
$f$;
CREATE TYPE own_alice.myrange AS RANGE (subtype = float8, subtype_diff = own_alice.my_diff);
CREATE TABLE own_alice.t (id int PRIMARY KEY, r own_alice.myrange);
SELECT ivm.create_view('own_alice.v', 'SELECT id, r FROM own_alice.t');
INSERT INTO own_alice.t SELECT g, own_alice.myrange(g, g + 1 + g % 7) FROM generate_series(1, 400) g;
RESET ROLE;
SELECT ivm.tick();
CREATE TABLE public.own_roles AS
    SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
           rolreplication, rolbypassrls, rolconnlimit
    FROM pg_roles;
TRUNCATE public.own_calls;
SQL
STORAGE=$(q -c "SELECT storagerel FROM ivm._views WHERE viewrel = 'own_alice.v'::regclass")
LOG=$(q -c "SELECT logrel FROM ivm._sources WHERE relid = 'own_alice.t'::regclass")
echo "  storage $STORAGE, delta log $LOG"

ivm_say "1. alice builds a GiST index on her view"
q -c "SET ROLE ivm_own_alice" -c "CREATE INDEX own_v_r ON own_alice.v USING gist (r)" >/dev/null
check "GiST build"

ivm_say "2. a superuser ticks 600 rows into the GiST-indexed storage"
q -c "SET ROLE ivm_own_alice" \
  -c "INSERT INTO own_alice.t SELECT g, own_alice.myrange(g * 0.5, g * 0.5 + g % 11) FROM generate_series(401, 1000) g" \
  -c "DELETE FROM own_alice.t WHERE id % 7 = 0" >/dev/null
q -c "SET ivm.fallback_ratio = 1000" -c "SELECT ivm.tick()" >/dev/null
check "tick"

ivm_say "3. a superuser runs VACUUM (ANALYZE) on every relation of schema ivm"
for rel in $(q -c "SELECT oid::regclass FROM pg_class WHERE relnamespace = 'ivm'::regnamespace
                   AND relkind IN ('r', 'p', 'm') ORDER BY oid"); do
    q -c "VACUUM (ANALYZE) $rel" >/dev/null
done
check "VACUUM (ANALYZE) of schema ivm"

ivm_say "4. a superuser runs VACUUM FULL on the storage"
q -c "VACUUM FULL $STORAGE" >/dev/null
check "VACUUM FULL of the storage"

ivm_say "5. a superuser runs a database-wide VACUUM ANALYZE"
q -c "VACUUM ANALYZE" >/dev/null
check "database-wide VACUUM ANALYZE"

ivm_say "6. autovacuum analyzes the delta log, then the storage"
log_before=$(autoanalyzed "$LOG")
q -c "SET ROLE ivm_own_alice" \
  -c "INSERT INTO own_alice.t SELECT g, own_alice.myrange(g, g + 3) FROM generate_series(2001, 2500) g" >/dev/null
q -c "ALTER SYSTEM SET autovacuum = on" -c "SELECT pg_reload_conf()" >/dev/null
wait_autoanalyze "$LOG" "$log_before" 90 || true
q -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
check "autovacuum of the delta log"
storage_before=$(autoanalyzed "$STORAGE")
q -c "SET ivm.fallback_ratio = 1000" -c "SELECT ivm.tick()" >/dev/null
check "the tick after it"
q -c "ALTER SYSTEM SET autovacuum = on" -c "SELECT pg_reload_conf()" >/dev/null
wait_autoanalyze "$STORAGE" "$storage_before" 90 || true
q -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
check "autovacuum of the storage"

# swap_during LABEL SQL: while a superuser runs SQL, alice, who holds a lock
# on her captured table own_alice.sw, waits until SQL waits for it, renames
# the table and puts a view calling her code in its place.  Her code must
# not run as a superuser (SQL may fail; the table is put back afterwards).
swap_during() {
    local out="$IVM_TMP/swap.out"

    q -c "TRUNCATE public.own_calls" >/dev/null
    q >"$out" 2>&1 <<'SQL' &
SET ROLE ivm_own_alice;
BEGIN;
LOCK TABLE own_alice.sw IN ACCESS EXCLUSIVE MODE;
SELECT pg_sleep(0.1) FROM generate_series(1, 300)
 WHERE NOT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'own_alice.sw'::regclass AND NOT granted);
ALTER TABLE own_alice.sw RENAME TO sw_old;
CREATE VIEW own_alice.sw AS SELECT k, v FROM own_alice.sw_old WHERE own_alice.pwn('read by name');
COMMIT;
SQL
    sleep 0.5
    q -c "$2" >/dev/null 2>&1 || echo "  $1 failed (as it may: its table was replaced)"
    wait
    super=$(q -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_own_alice'")
    as_super=$(q -c "SELECT count(*) FROM public.own_calls WHERE was_super")
    echo "  $1: alice superuser: $super; her code ran as a superuser $as_super time(s)"
    [ "$super" = f ] || fail "$1: alice is superuser"
    [ "$as_super" = 0 ] || fail "$1: her code ran as a superuser"
    q -c "ALTER ROLE ivm_own_alice NOSUPERUSER" -c "ALTER ROLE ivm_own_mate NOCREATEROLE" \
      -c "TRUNCATE public.own_calls" -c "SET ROLE ivm_own_alice" -c "DROP VIEW IF EXISTS own_alice.sw" \
      -c "ALTER TABLE IF EXISTS own_alice.sw_old RENAME TO sw" >/dev/null
}

ivm_say "7. alice puts a view in her table's place while a checkpoint waits for it"
q -c "SET ROLE ivm_own_alice" -c "CREATE TABLE own_alice.sw (k int, v int)" \
  -c "INSERT INTO own_alice.sw SELECT g, g FROM generate_series(1, 10) g" \
  -c "SELECT ivm.create_view('own_alice.swv', 'SELECT k, v FROM own_alice.sw')" >/dev/null
CK="$IVM_TMP/ck-swap"
mkdir -p "$CK/delta"
[ "$EUID" -ne 0 ] || chown -R postgres: "$CK"
swap_during "ivm.checkpoint" "SELECT ivm.checkpoint('$CK/delta')"
swap_during "ivm.checkpoint_full" "SELECT ivm.checkpoint_full('$CK/full.sql')"

# Step 8: what planning a read of her tables runs.  Planning a SELECT loads
# a table's index expressions, index predicates and statistics expressions
# and folds their constants: an IMMUTABLE function of hers called with
# constants runs then, with the rights of whoever plans.  A type's output
# function runs for every value written out.  Her tables carry one trap
# each (tx: an index expression, tp: a partial index's predicate, ts: an
# expression of CREATE STATISTICS, th: a column of a type whose output
# function calls her code, and a constant of it in a CHECK constraint that
# a full checkpoint deparses, ps: a push source with an expression index);
# the checkpoints and restores of a superuser and of a backup role (not a
# superuser: pg_write_server_files and pg_read_server_files) must run her
# code only as herself, and what they write must hold every row and
# restore to views equal to their queries.  (Only a superuser can create a
# base type: hostile_type.c, built here, stands for a type whose output
# function runs code another role controls.)

# the tables of step 8 with their rows, as alice, in database $1 (the same
# rows in the checkpointed database and the ones restored into)
trap_tables() {
    ivm_psql -d "$1" >/dev/null <<'SQL'
SET ROLE ivm_own_alice;
CREATE TABLE own_alice.tx (id int PRIMARY KEY, v int);
CREATE INDEX ON own_alice.tx ((v + own_alice.trap('index expression', 1)));
CREATE TABLE own_alice.tp (id int PRIMARY KEY, v int);
CREATE INDEX ON own_alice.tp (v) WHERE own_alice.trap('index predicate', 1) > 0;
CREATE TABLE own_alice.ts (id int PRIMARY KEY, v int);
CREATE STATISTICS own_alice.ts_stat ON (v + own_alice.trap('statistics expression', 1)) FROM own_alice.ts;
CREATE TABLE own_alice.th (id int PRIMARY KEY, h public.own_hostile,
    CHECK (h::text <> ('in a definition'::public.own_hostile)::text));
INSERT INTO own_alice.tx SELECT g, g FROM generate_series(1, 30) g;
INSERT INTO own_alice.tp SELECT g, g FROM generate_series(1, 30) g;
INSERT INTO own_alice.ts SELECT g, g FROM generate_series(1, 30) g;
INSERT INTO own_alice.th SELECT g, ('value ' || g)::public.own_hostile FROM generate_series(1, 30) g;
SQL
}

# the changes between the first and the second checkpoint, as alice
trap_changes() {
    ivm_psql -d "$1" >/dev/null <<'SQL'
SET ROLE ivm_own_alice;
UPDATE own_alice.tx SET v = v * 2 WHERE id % 4 = 0;
DELETE FROM own_alice.tp WHERE id % 5 = 0;
INSERT INTO own_alice.ts SELECT g, g FROM generate_series(31, 35) g;
UPDATE own_alice.th SET h = ('changed ' || id)::public.own_hostile WHERE id % 3 = 0;
SQL
}

# the hostile type (a superuser makes it) and alice's code, in database $1
trap_code() {
    ivm_psql -d "$1" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE TYPE public.own_hostile;
CREATE FUNCTION public.own_hostile_in(cstring) RETURNS public.own_hostile
    LANGUAGE internal IMMUTABLE STRICT AS 'textin';
CREATE FUNCTION public.own_hostile_out(public.own_hostile) RETURNS cstring
    LANGUAGE c IMMUTABLE STRICT AS '$HOSTILE_SO', 'own_hostile_out';
CREATE TYPE public.own_hostile (INPUT = public.own_hostile_in, OUTPUT = public.own_hostile_out, LIKE = text);
SET ROLE ivm_own_alice;
CREATE FUNCTION own_alice.trap(kind text, x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS \$f\$
BEGIN
    PERFORM own_alice.pwn(kind);
    RETURN x;
END
\$f\$;
SQL
}

# trap_db DB [tables]: a database with the extension, her schema, her code
# and the hostile type; with "tables", her tables as she would load them
# before a restore (the rows of the second checkpoint)
trap_db() {
    ivm_psql -c "CREATE DATABASE $1" >/dev/null
    ivm_psql -d "$1" >/dev/null <<SQL
CREATE EXTENSION ivm;
CREATE SCHEMA own_alice AUTHORIZATION ivm_own_alice;
CREATE TABLE public.own_calls (fn text, usr text, was_super boolean);
GRANT INSERT, SELECT ON public.own_calls TO PUBLIC;
SET ROLE ivm_own_alice;
$(q -c "SELECT pg_get_functiondef('own_alice.pwn(text)'::regprocedure)");
SQL
    trap_code "$1"
    if [ "${2:-}" = tables ]; then
        trap_tables "$1"
        trap_changes "$1"
    fi
    ivm_psql -d "$1" -c "TRUNCATE public.own_calls" >/dev/null
}

# check_traps LABEL DB KINDS: her code ran in DB since the last check only
# as herself (each of the traps KINDS, comma-separated, at least once: the
# attack was live; with no KINDS, not running is fine too), and she is not
# superuser; then undo what the attack won and forget the calls
check_traps() {
    local ran kinds who super missing k want

    ran=$(ivm_psql -d "$2" -At -c "SELECT coalesce(string_agg(DISTINCT usr, ',' ORDER BY usr), 'never') FROM public.own_calls")
    kinds=$(ivm_psql -d "$2" -At -c "SELECT coalesce(string_agg(DISTINCT fn, ',' ORDER BY fn), '') FROM public.own_calls")
    who=$(ivm_psql -d "$2" -At -c "SELECT string_agg(usr || ': ' || fns, '; ' ORDER BY usr) FROM
                                      (SELECT usr, string_agg(DISTINCT fn, ', ' ORDER BY fn) AS fns
                                       FROM public.own_calls GROUP BY usr) u")
    super=$(q -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_own_alice'")
    missing=
    IFS=, read -ra want <<<"$3"
    for k in "${want[@]}"; do
        case ",$kinds," in *",$k,"*) ;; *) missing="$missing${missing:+, }$k" ;; esac
    done
    echo "  $1: her code ran as ${who:-nobody}; alice superuser: $super"
    if [ "$ran" != ivm_own_alice ] && ! { [ -z "$3" ] && [ "$ran" = never ]; }; then
        fail "$1: her code ran as $ran, not only as ivm_own_alice"
    fi
    [ -z "$missing" ] || fail "$1: the traps $missing did not run (the attack was not live)"
    [ "$super" = f ] || fail "$1: alice is superuser"
    q -c "ALTER ROLE ivm_own_alice NOSUPERUSER" >/dev/null
    ivm_psql -d "$2" -c "TRUNCATE public.own_calls" >/dev/null
}

# views_match LABEL DB: every view of step 8 in DB holds rows and equals its
# query (the type without equality compared as text)
views_match() {
    local bad empty

    bad=$(ivm_psql -d "$2" -At -c "SET ROLE ivm_own_alice" -c "
        SELECT (SELECT count(*) FROM ((TABLE own_alice.vx EXCEPT ALL $Q_VX) UNION ALL ($Q_VX EXCEPT ALL TABLE own_alice.vx)) d)
             + (SELECT count(*) FROM ((TABLE own_alice.vp EXCEPT ALL $Q_VP) UNION ALL ($Q_VP EXCEPT ALL TABLE own_alice.vp)) d)
             + (SELECT count(*) FROM ((TABLE own_alice.vs EXCEPT ALL $Q_VS) UNION ALL ($Q_VS EXCEPT ALL TABLE own_alice.vs)) d)
             + (SELECT count(*) FROM ((SELECT id, h::text FROM own_alice.vh EXCEPT ALL SELECT id, h::text FROM own_alice.th)
                                      UNION ALL (SELECT id, h::text FROM own_alice.th EXCEPT ALL SELECT id, h::text FROM own_alice.vh)) d)
             + (SELECT count(*) FROM ((TABLE own_alice.vps EXCEPT ALL $Q_VPS) UNION ALL ($Q_VPS EXCEPT ALL TABLE own_alice.vps)) d)")
    empty=$(ivm_psql -d "$2" -At -c "SET ROLE ivm_own_alice" -c "
        SELECT (SELECT count(*) = 0 FROM own_alice.vx)::int + (SELECT count(*) = 0 FROM own_alice.vp)::int
             + (SELECT count(*) = 0 FROM own_alice.vs)::int + (SELECT count(*) = 0 FROM own_alice.vh)::int
             + (SELECT count(*) = 0 FROM own_alice.vps)::int")
    echo "  $1: rows that differ from their queries: $bad; empty views: $empty"
    [ "$bad" = 0 ] || fail "$1: the views differ from their queries ($bad rows)"
    [ "$empty" = 0 ] || fail "$1: $empty view(s) empty"
    ivm_psql -d "$2" -c "TRUNCATE public.own_calls" >/dev/null
}

# rows_in_full LABEL FILE: the full checkpoint holds every row of her tables
rows_in_full() {
    local rel want got

    for rel in tx tp ts th ps; do
        # (as alice: a superuser planning it would run her traps)
        want=$(ivm_psql -d "$DB8" -At -c "SET ROLE ivm_own_alice" -c "SELECT count(*) FROM own_alice.$rel")
        got=$(awk -v hdr="COPY own_alice.$rel " 'index($0, hdr) == 1 {on = 1; next}
                                                  on && $0 == "\\." {on = 0} on {n++} END {print n + 0}' "$2")
        [ "$got" = "$want" ] || fail "$1: the file holds $got rows of own_alice.$rel, not $want"
    done
    grep -q "changed 3" "$2" || fail "$1: the file lacks the values of own_alice.th"
    echo "  $1: every row of her tables is in the file"
}

ivm_say "8. her code in index expressions, index predicates, statistics, a type's output and a push source's index, under checkpoints and restores"
HOSTILE_SO="$IVM_TMP/own_hostile.so"
# shellcheck disable=SC2046
cc -fPIC -shared $("$IVM_PG_CONFIG" --cppflags) -I"$("$IVM_PG_CONFIG" --includedir-server)" \
    -o "$HOSTILE_SO" "$HERE/hostile_type.c"
chmod 644 "$HOSTILE_SO"
q -c "CREATE ROLE ivm_own_backup LOGIN IN ROLE pg_write_server_files, pg_read_server_files" >/dev/null
DB8=ivm_own_traps
trap_db "$DB8"
trap_tables "$DB8"
Q_VX='SELECT v % 3 AS k, count(*) AS n, sum(v) AS s FROM own_alice.tx GROUP BY 1'
Q_VP='SELECT v % 3 AS k, count(*) AS n, sum(v) AS s FROM own_alice.tp GROUP BY 1'
Q_VS='SELECT v % 3 AS k, count(*) AS n, sum(v) AS s FROM own_alice.ts GROUP BY 1'
Q_VPS='SELECT v % 3 AS k, count(*) AS n FROM own_alice.ps GROUP BY 1'
ivm_psql -d "$DB8" >/dev/null <<SQL
SET ROLE ivm_own_alice;
SELECT ivm.create_view('own_alice.vx', '$Q_VX');
SELECT ivm.create_view('own_alice.vp', '$Q_VP');
SELECT ivm.create_view('own_alice.vs', '$Q_VS');
SELECT ivm.create_view('own_alice.vh', 'SELECT id, h FROM own_alice.th');
SELECT ivm.create_source('own_alice.ps', 'id int, v int');
CREATE INDEX ON own_alice.ps ((v + own_alice.trap('push source index', 1)));
SELECT ivm.create_view('own_alice.vps', '$Q_VPS');
SELECT ivm.push('own_alice.ps', (SELECT jsonb_agg(jsonb_build_object('id', g, 'v', g)) FROM generate_series(1, 30) g));
RESET ROLE;
TRUNCATE public.own_calls;
SQL
ivm_psql -d "$DB8" -c "SELECT ivm.tick()" >/dev/null
check_traps "a tick by a superuser" "$DB8" ""
ALL_TRAPS="index expression,index predicate,statistics expression,type output,push source index"
TABLE_TRAPS="index expression,index predicate,statistics expression,type output"
CK8="$IVM_TMP/ck-traps"
mkdir -p "$CK8"
[ "$EUID" -ne 0 ] || chown postgres: "$CK8"
for who in postgres ivm_own_backup; do
    ivm_psql -U "$who" -d "$DB8" -c "SELECT ivm.checkpoint('$CK8/delta-$who')" >/dev/null
    check_traps "ivm.checkpoint by $who (bases)" "$DB8" "$ALL_TRAPS"
done
# changes, then a checkpoint on each chain: deltas, rows fetched by ctid
trap_changes "$DB8"
ivm_psql -d "$DB8" -c "SET ROLE ivm_own_alice" \
    -c "SELECT ivm.push('own_alice.ps', '[{\"id\": 3, \"v\": 3, \"_weight\": -1}, {\"id\": 40, \"v\": 40}]')" >/dev/null
ivm_psql -d "$DB8" -c "TRUNCATE public.own_calls" >/dev/null
ivm_psql -d "$DB8" -c "SELECT ivm.tick()" >/dev/null
check_traps "a tick by a superuser" "$DB8" ""
for who in postgres ivm_own_backup; do
    res=$(ivm_psql -U "$who" -d "$DB8" -At -c "SELECT deltas > 0 FROM ivm.checkpoint('$CK8/delta-$who')")
    [ "$res" = t ] || fail "the second ivm.checkpoint by $who wrote no delta"
    check_traps "ivm.checkpoint by $who (deltas)" "$DB8" "$ALL_TRAPS"
    ivm_psql -U "$who" -d "$DB8" -c "SELECT ivm.checkpoint_full('$CK8/full-$who.sql')" >/dev/null
    check_traps "ivm.checkpoint_full by $who" "$DB8" "$ALL_TRAPS,type output in a definition"
    rows_in_full "ivm.checkpoint_full by $who" "$CK8/full-$who.sql"
done
views_match "the checkpointed database" "$DB8"
# a restore of each chain: by the superuser, and by the backup role (a
# member of alice's role, as a restore of her views requires)
q -c "GRANT ivm_own_alice TO ivm_own_backup" >/dev/null
for who in postgres ivm_own_backup; do
    target="${DB8}_r_$who"
    trap_db "$target" tables
    res=$(ivm_psql -U "$who" -d "$target" -At \
                   -c "SELECT views, push_sources, sources, sources_changed FROM ivm.restore('$CK8/delta-$who')")
    echo "  ivm.restore by $who: views, push sources, sources, sources changed: $res"
    [ "$res" = "5|1|4|0" ] || fail "ivm.restore by $who restored $res, not 5|1|4|0"
    check_traps "ivm.restore by $who" "$target" "$TABLE_TRAPS"
    views_match "restored by $who" "$target"
    ivm_psql -d "$target" -c "SELECT ivm.tick()" >/dev/null
    check_traps "a tick by a superuser after the restore" "$target" ""
    views_match "restored by $who, after a tick" "$target"
done
q -c "REVOKE ivm_own_alice FROM ivm_own_backup" >/dev/null

ivm_say "the view equals its query"
bad=$(q -c "SET ROLE ivm_own_alice" -c "SELECT count(*) FROM ((TABLE own_alice.v EXCEPT ALL SELECT id, r FROM own_alice.t)
                                 UNION ALL (SELECT id, r FROM own_alice.t EXCEPT ALL TABLE own_alice.v)) d")
[ "$bad" = 0 ] || fail "the view differs from its query in $bad rows"
echo "  rows that differ: $bad"

if [ "$FAILS" -ne 0 ]; then
    echo "FAILED: ownership test, $FAILS check(s) failed" >&2
    exit 1
fi
echo "ownership test passed"
