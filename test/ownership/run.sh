#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/ownership/run.sh -- VACUUM and autovacuum over a view whose values
# have a hostile range type leave every role as it was (issue 20).
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
# After each: her subtype_diff ran (the attack was live) and only as herself,
# she is not superuser, and no other role's attributes changed.  At the end
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
