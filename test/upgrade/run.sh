#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/upgrade/run.sh -- a database made by release 0.1.0 goes through
# ALTER EXTENSION ivm UPDATE with its views alive, and ends with the catalog
# a fresh CREATE EXTENSION ivm gives.
#
#   bash test/upgrade/run.sh
#   bash test/upgrade/run.sh --export DIR   (only write the release's tree to DIR)
#
# Always runs in a cluster of its own, and replaces the extension installed
# in the PostgreSQL of the test (IVM_PG_CONFIG) twice: by the release, then
# by the current tree again (also when it fails or is interrupted).
#  1. The release's source is taken from the repository's history by commit
#     (git archive 46b56e6; a clone without it, say a shallow one, stops the
#     test saying so), or from IVM_UPGRADE_FROM_TREE, a directory holding it
#     (test/versions/run.sh exports it there: its copy of the tree has no
#     .git).  Every script it shipped (ivm--0.1.0.sql) must be byte for byte
#     the current tree's (released scripts are frozen).  The current build is uninstalled,
#     the release built and installed.
#  2. A cluster with ivm in shared_preload_libraries (the release's library).
#     Database ivm_upg: CREATE EXTENSION ivm VERSION '0.1.0', tables, a push
#     source, views of many kinds (setup.sql: a join, an aggregate with
#     HAVING, an outer join, set operations, top-k, a window, a vector view,
#     a view on a view, a push source's view, a partitioned view, a view over
#     a partitioned table, a diff view, a CREATE MATERIALIZED VIEW one), two
#     watches; three rounds of writes and ticks, every view equal to its
#     query.  Database ivm_upg_random: the release's own randomised test
#     (its test/random, seed IVM_SEED or 7, IVM_UPGRADE_TICKS ticks, 10 by
#     default): about 150 more views.  Database ivm_upg_empty: the release's
#     extension and nothing else.
#  3. The current tree is installed over it (the library is replaced) and
#     the server restarted.  Before the ALTER, with the new library over the
#     0.1.0 catalog: views read, a push, writes and a tick.  The tick must
#     either work (every view equal to its query, the watches notified) or
#     fail with SQLSTATE 55000 and a hint to run ALTER EXTENSION ivm UPDATE,
#     changing nothing; anything else fails the test.  So does create_view.  The outcome is
#     printed.
#  4. ALTER EXTENSION ivm UPDATE in the three databases: extversion must
#     become the default_version of ivm.control.  Three more rounds in
#     ivm_upg: every view equal to its query after each tick, both watches
#     notified, ivm.changes() returning the rounds' rows; a view created
#     after the update (and watched) works too.  The update marks the view
#     calling a STABLE function (v_stable) to be computed at every tick, and
#     it alone.  The release's randomised
#     test goes on in ivm_upg_random (IVM_CONTINUE) under the new library.
#     A pg_dump of ivm_upg taken at the release restores into a new database
#     (its CREATE EXTENSION makes the current version, the release's rows
#     load into it; v_stable is marked again), and its views tick and equal
#     their queries.
#  5. The catalog (catalog.sql: every member object of the extension with
#     its definition: functions' arguments, results, volatility, security,
#     settings and bodies, tables' columns, constraints, indexes, triggers,
#     views' queries, sequences, rights, event triggers, the configuration
#     tables of pg_dump) of a fresh CREATE EXTENSION ivm must equal that of
#     ivm_upg_empty (with the rows of the extension's tables) and of ivm_upg
#     (without).  An upgrade script that forgets something a fresh install
#     has, or adds something it has not, fails here.  The check is shown to
#     fail on purpose: one change at a time (a member function added, a
#     volatility, SECURITY DEFINER, a grant, a column, a disabled event
#     trigger, a function body, pg_dump's configuration, an index) must each
#     show.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

# The release upgraded from: its version and the commit it was frozen at.
FROM_VERSION=0.1.0
FROM_COMMIT=46b56e6

# export_release DIR: write the release's tree (from git) into DIR.
export_release() {
    local dir=$1

    if ! git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
        echo "$REPO is not a git checkout: the upgrade test needs release $FROM_VERSION" \
            "from its history (commit $FROM_COMMIT)." >&2
        echo "Set IVM_UPGRADE_FROM_TREE to a directory holding that release's tree" \
            "(git archive $FROM_COMMIT | tar -x -C DIR, in a full clone)." >&2
        return 1
    fi
    if ! git -C "$REPO" cat-file -e "$FROM_COMMIT^{commit}" 2>/dev/null; then
        echo "this clone lacks commit $FROM_COMMIT (release $FROM_VERSION, tag v$FROM_VERSION)," \
            "which the upgrade test builds$(
            [ "$(git -C "$REPO" rev-parse --is-shallow-repository 2>/dev/null)" = true ] &&
                echo ": it is a shallow clone")." >&2
        echo "Fetch the history (git fetch --unshallow, or git fetch origin tag v$FROM_VERSION)," \
            "or set IVM_UPGRADE_FROM_TREE to a directory holding that release's tree." >&2
        return 1
    fi
    mkdir -p "$dir"
    git -C "$REPO" archive "$FROM_COMMIT" | tar -x -C "$dir"
}

if [ "${1:-}" = --export ]; then
    [ $# -eq 2 ] || { echo "usage: bash test/upgrade/run.sh --export DIR" >&2; exit 2; }
    export_release "$2"
    exit
fi

DB=ivm_upg
RDB=ivm_upg_random
EDB=ivm_upg_empty
FDB=ivm_upg_fresh
XDB=ivm_upg_restored
SEED=${IVM_SEED:-7}
RTICKS=${IVM_UPGRADE_TICKS:-10}
FAILS=0
INSTALLED=current          # which build is installed: current or release
WORK=

fail() {
    echo "FAILED: $*" >&2
    FAILS=$((FAILS + 1))
}

q() {
    ivm_psql -d "$DB" -At "$@"
}

# install_current: put the current tree's build back in place of the release.
install_current() {
    ivm_build_install >"$WORK/install-current.log" 2>&1 || {
        tail -n 30 "$WORK/install-current.log" >&2
        return 1
    }
    INSTALLED=current
}

# The EXIT trap: stop the cluster, put the current build back if the
# release is installed, remove the work directory.
upg_cleanup() {
    local rc=$?

    trap - EXIT INT TERM HUP
    if [ "$rc" -ne 0 ] && [ -f "${IVM_LOG:-}" ]; then
        echo "--- last lines of the server log ---" >&2
        tail -n 30 "$IVM_LOG" >&2 || true
    fi
    ivm_cluster_stop >/dev/null
    if [ "$INSTALLED" != current ]; then
        echo "putting the current build back in place of release $FROM_VERSION" >&2
        install_current || {
            echo "could not reinstall the current build: run make install" >&2
            rc=1
        }
    fi
    [ -n "$WORK" ] && rm -rf "$WORK"
    exit "$rc"
}

# views_equal LABEL: every view of ivm_upg equals its query, none failed.
views_equal() {
    local out
    out=$(q -c "SELECT upg_check()" 2>&1) || { fail "$1: upg_check() errored: $out"; return; }
    if [ -n "$out" ]; then
        fail "$1: views differ from their queries:"
        echo "$out" | head -n 40 >&2
    else
        echo "  $1: every view equals its query ($(q -c "SELECT count(*) FROM upg_views") views)"
    fi
}

# round R: writes of round R, then a tick, in a session listening on the
# watched views' channels; prints what psql printed (notifications too).
# Its status is the tick's.
round() {
    ivm_psql -d "$DB" -At -v VERBOSITY=verbose -c "LISTEN ivm_v_having" -c "LISTEN ivm_v_push" \
        -c "LISTEN ivm_v_after" -c "SELECT upg_write($1)" \
        -c "SELECT 'tick ' || epoch || ' ' || views_processed FROM ivm.tick()" 2>&1
}

# round_ok LABEL R [CHANNEL...]: round R must tick, its output carry no
# WARNING, every view equal its query, and each CHANNEL be notified.
round_ok() {
    local label=$1 r=$2 out ch
    shift 2
    if ! out=$(round "$r"); then
        fail "$label: round $r failed:"
        echo "$out" >&2
        return
    fi
    grep -q WARNING <<<"$out" && fail "$label: round $r warned: $(grep WARNING <<<"$out")"
    for ch in "$@"; do
        grep -q "notification \"$ch\"" <<<"$out" ||
            fail "$label: round $r sent no notification on $ch: $out"
    done
    echo "  $label: round $r: $(grep '^tick ' <<<"$out") (epoch, views processed); notified: $*"
    views_equal "$label, round $r"
}

# refuses_clearly OUTPUT: psql's verbose OUTPUT holds an error of SQLSTATE
# 55000 that says to run ALTER EXTENSION ivm UPDATE.
refuses_clearly() {
    grep -q 'ERROR:  55000: ' <<<"$1" && grep -q 'ALTER EXTENSION ivm UPDATE' <<<"$1"
}

# version_of DB: the installed version of ivm there.
version_of() {
    ivm_psql -d "$1" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'ivm'"
}

# catalog DB [ROWS]: the catalog signature of ivm in DB.
catalog() {
    ivm_psql -d "$1" -v rows="${2:-0}" -f "$HERE/catalog.sql"
}

ivm_prepare
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ivm-upgrade.XXXXXX")
chmod 755 "$WORK"
trap upg_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---- 1. the release ---------------------------------------------------------
ivm_say "upgrade: release $FROM_VERSION (commit $FROM_COMMIT)"
FROM=$WORK/ivm-$FROM_VERSION
if [ -n "${IVM_UPGRADE_FROM_TREE:-}" ]; then
    echo "  release tree from IVM_UPGRADE_FROM_TREE=$IVM_UPGRADE_FROM_TREE"
    [ -f "$IVM_UPGRADE_FROM_TREE/ivm.control" ] || {
        echo "IVM_UPGRADE_FROM_TREE=$IVM_UPGRADE_FROM_TREE holds no ivm.control" >&2
        exit 1
    }
    mkdir -p "$FROM"
    cp -a "$IVM_UPGRADE_FROM_TREE/." "$FROM/"
else
    export_release "$FROM"
    echo "  release tree: git archive $FROM_COMMIT"
fi
grep -q "^default_version = '$FROM_VERSION'" "$FROM/ivm.control" || {
    echo "the release tree's ivm.control does not say default_version = '$FROM_VERSION'" >&2
    exit 1
}
# every script the release shipped is frozen
for f in "$FROM"/ivm--*.sql; do
    b=${f##*/}
    if ! cmp -s "$f" "$REPO/$b"; then
        fail "$b differs from release $FROM_VERSION's (commit $FROM_COMMIT), or is gone: a released" \
            "script is frozen; changes go into the current upgrade script"
        diff -u "$f" "$REPO/$b" | head -n 30 >&2 || true
    fi
done
CURRENT_VERSION=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$REPO/ivm.control")
echo "  upgrading $FROM_VERSION -> $CURRENT_VERSION (default_version of ivm.control)"

# The release's build (no JIT bitcode: it is not what is tested).
echo "  building release $FROM_VERSION for PostgreSQL $IVM_PG_VERSION"
if ! make -C "$FROM" -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$IVM_PG_CONFIG" with_llvm=no \
        >"$WORK/build-release.log" 2>&1; then
    tail -n 40 "$WORK/build-release.log" >&2
    echo "release $FROM_VERSION does not build against $IVM_PG_CONFIG" >&2
    exit 1
fi
EXTDIR=$("$IVM_PG_CONFIG" --sharedir)/extension
INSTALLED=release
ivm_sudo make -C "$REPO" PG_CONFIG="$IVM_PG_CONFIG" uninstall >"$WORK/uninstall.log" 2>&1
ivm_sudo make -C "$FROM" PG_CONFIG="$IVM_PG_CONFIG" with_llvm=no install >"$WORK/install-release.log" 2>&1 || {
    tail -n 30 "$WORK/install-release.log" >&2
    exit 1
}
echo "  installed: $(cd "$EXTDIR" && echo ivm.control ivm--*.sql)"

# ---- 2. a database of the release ---------------------------------------------
unset IVM_PGDATA IVM_TMP
ivm_say "upgrade: a cluster of its own, with release $FROM_VERSION's library preloaded"
ivm_cluster_start
trap upg_cleanup EXIT           # ivm_cluster_start set its own

for d in $DB $EDB; do
    ivm_psql -c "CREATE DATABASE $d"
    ivm_psql -d "$d" -c "CREATE EXTENSION ivm VERSION '$FROM_VERSION'"
    v=$(version_of "$d")
    [ "$v" = "$FROM_VERSION" ] || fail "$d: extversion is $v after CREATE EXTENSION ivm VERSION '$FROM_VERSION'"
done
echo "  $DB, $EDB: extversion $FROM_VERSION"
q -f "$HERE/../lib/view_diff.sql" >/dev/null
q -f "$HERE/setup.sql" >/dev/null
# pgvector's distance as a top-k's ordering, where pgvector is installed
HAVE_VECTOR=$(q -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
if [ "$HAVE_VECTOR" = 1 ]; then
    q >/dev/null <<'SQL'
CREATE EXTENSION vector;
CREATE TABLE pitems (id int PRIMARY KEY, emb vector(3) NOT NULL);
INSERT INTO pitems SELECT id, emb::vector FROM items;
CREATE OR REPLACE FUNCTION upg_write_vector(r int) RETURNS void LANGUAGE sql AS $$
  DELETE FROM pitems WHERE id NOT IN (SELECT id FROM items);
  INSERT INTO pitems SELECT id, emb::vector FROM items ON CONFLICT (id) DO UPDATE SET emb = EXCLUDED.emb;
$$;
INSERT INTO upg_views (ord, name, query)
VALUES (15, 'v_pgvector', $q$SELECT id, emb <-> '[1,0,-1]' AS distance FROM pitems ORDER BY 2, id LIMIT 4$q$);
SELECT ivm.create_view(name, query) FROM upg_views WHERE name = 'v_pgvector';
SQL
    echo "  pgvector is installed: v_pgvector orders by <->"
fi
q -c "SELECT * FROM ivm.tick()" >/dev/null
views_equal "release $FROM_VERSION, after setup"
for r in 1 2 3; do
    [ "$HAVE_VECTOR" = 1 ] && q -c "SELECT upg_write_vector($r)" >/dev/null
    round_ok "release $FROM_VERSION" "$r" ivm_v_having ivm_v_push
done

# a dump of the release's database, restored under the new build below
pg_dump -d "$DB" -f "$WORK/release-dump.sql"

ivm_say "upgrade: release $FROM_VERSION's randomised test in $RDB (seed $SEED, $RTICKS ticks)"
# CREATE EXTENSION ivm there makes the release's default version
if ! IVM_DB=$RDB IVM_SEED=$SEED IVM_TICKS=$RTICKS IVM_SKIP_BUILD=1 \
        bash "$FROM/test/random/run.sh" >"$WORK/random-release.log" 2>&1; then
    tail -n 30 "$WORK/random-release.log" >&2
    fail "release $FROM_VERSION's randomised test failed under its own build"
else
    echo "  $(tail -n 1 "$WORK/random-release.log")"
fi
v=$(version_of "$RDB")
[ "$v" = "$FROM_VERSION" ] || fail "$RDB: extversion is $v"
EPOCH_BEFORE=$(q -c "SELECT epoch FROM ivm._state")

# ---- 3. the current build over the release's catalog --------------------------
ivm_say "upgrade: installing the current build (the library is replaced) and restarting"
install_current
echo "  installed: $(cd "$EXTDIR" && echo ivm.control ivm--*.sql)"
ivm_cluster_restart
v=$(version_of "$DB")
[ "$v" = "$FROM_VERSION" ] || fail "$DB: extversion is $v after the new build's install, before ALTER"
q -c "SELECT default_version FROM pg_available_extensions WHERE name = 'ivm'" |
    grep -qx "$CURRENT_VERSION" || fail "pg_available_extensions does not offer $CURRENT_VERSION"
q -c "SELECT path FROM pg_extension_update_paths('ivm') WHERE source = '$FROM_VERSION' AND target = '$CURRENT_VERSION'" |
    grep -q . || fail "no update path from $FROM_VERSION to $CURRENT_VERSION"

ivm_say "upgrade: the new library over the $FROM_VERSION catalog, before ALTER EXTENSION"
views_equal "before ALTER, reading"
[ "$HAVE_VECTOR" = 1 ] && q -c "SELECT upg_write_vector(4)" >/dev/null
if out=$(round 4); then
    BETWEEN="ticks work"
    grep -q WARNING <<<"$out" && fail "before ALTER: round 4 warned: $(grep WARNING <<<"$out")"
    for ch in ivm_v_having ivm_v_push; do
        grep -q "notification \"$ch\"" <<<"$out" || fail "before ALTER: no notification on $ch"
    done
    echo "  ticks work before the ALTER: $(grep '^tick ' <<<"$out"); both watches notified"
    views_equal "before ALTER, round 4"
    # a view created with the new library over the old catalog
    if cv=$(q -v VERBOSITY=verbose -c "INSERT INTO upg_views (ord, name, query) VALUES (20, 'v_between', 'SELECT tier, count(*) AS n, max(name) AS mx FROM customers GROUP BY tier')" \
            -c "SELECT ivm.create_view('v_between', query) FROM upg_views WHERE name = 'v_between'" 2>&1); then
        echo "  a view created before the ALTER: v_between"
    else
        refuses_clearly "$cv" ||
            fail "before ALTER: create_view failed other than with SQLSTATE 55000 and a hint to run ALTER EXTENSION ivm UPDATE: $cv"
        q -c "DELETE FROM upg_views WHERE name = 'v_between'" >/dev/null
        echo "  create_view before the ALTER refuses, saying to update: $(grep ERROR <<<"$cv")"
    fi
else
    BETWEEN="ticks refuse until the update"
    refuses_clearly "$out" ||
        fail "before ALTER: the tick failed other than with SQLSTATE 55000 and a hint to run ALTER EXTENSION ivm UPDATE: $out"
    [ "$(q -c "SELECT epoch FROM ivm._state")" = "$EPOCH_BEFORE" ] ||
        fail "before ALTER: the failed tick moved the epoch"
    echo "  ticks refuse before the ALTER: $(grep ERROR <<<"$out")"
fi
EPOCH_MID=$(q -c "SELECT epoch FROM ivm._state")

# ---- 4. ALTER EXTENSION ivm UPDATE --------------------------------------------
ivm_say "upgrade: ALTER EXTENSION ivm UPDATE"
for d in $DB $RDB $EDB; do
    ivm_psql -d "$d" -c "ALTER EXTENSION ivm UPDATE"
    v=$(version_of "$d")
    [ "$v" = "$CURRENT_VERSION" ] || fail "$d: extversion is $v after ALTER EXTENSION ivm UPDATE, not $CURRENT_VERSION"
done
echo "  $DB, $RDB, $EDB: extversion $(version_of "$DB")"
# (the views are behind their tables when the tick before the ALTER refused)
[ "$BETWEEN" = "ticks work" ] && views_equal "after ALTER, reading"
[ "$(q -c "SELECT epoch FROM ivm._state")" = "$EPOCH_MID" ] || fail "the update changed the epoch"
# a view calling a STABLE function is computed at every tick from now on
[ "$(q -c "SELECT string_agg(viewrel::text, ' ') FROM ivm._views WHERE (options ->> 'every_tick')::bool")" = v_stable ] ||
    fail "the update did not mark v_stable (and it alone) to be computed at every tick"
q -c "UPDATE upg_rate SET r = r + 1" >/dev/null
for r in 5 6; do
    [ "$HAVE_VECTOR" = 1 ] && q -c "SELECT upg_write_vector($r)" >/dev/null
    round_ok "after ALTER" "$r" ivm_v_having ivm_v_push
done
n=$(q -c "SELECT count(*) FROM ivm.changes('v_push', $EPOCH_MID)")
[ "$n" -gt 0 ] || fail "ivm.changes('v_push') returns no rows of the ticks after the update"
echo "  ivm.changes('v_push') since epoch $EPOCH_MID: $n rows"

# a view made after the update, watched
q >/dev/null <<'SQL'
INSERT INTO upg_views (ord, name, query) VALUES
 (21, 'v_after', $q$SELECT c.tier, count(*) AS n, sum(o.amount) AS total FROM orders o JOIN customers c ON c.id = o.cust GROUP BY c.tier$q$),
 (22, 'v_after_top', $q$SELECT cust, total FROM v_having ORDER BY total DESC, cust LIMIT 3$q$);
SELECT ivm.create_view(name, query) FROM upg_views WHERE ord IN (21, 22) ORDER BY ord;
SELECT ivm.watch('v_after');
SQL
views_equal "a view created after the update"
for r in 7 8; do
    [ "$HAVE_VECTOR" = 1 ] && q -c "SELECT upg_write_vector($r)" >/dev/null
    round_ok "after ALTER" "$r" ivm_v_having ivm_v_push ivm_v_after
done

ivm_say "upgrade: release $FROM_VERSION's randomised test goes on in $RDB under the new build"
if ! IVM_DB=$RDB IVM_CONTINUE=1 IVM_SEED=$((SEED + 1)) IVM_TICKS=$RTICKS IVM_SKIP_BUILD=1 \
        bash "$FROM/test/random/run.sh" >"$WORK/random-current.log" 2>&1; then
    tail -n 30 "$WORK/random-current.log" >&2
    fail "the randomised test failed after the update"
else
    echo "  $(tail -n 1 "$WORK/random-current.log")"
fi

ivm_say "upgrade: a pg_dump of $DB taken at $FROM_VERSION restores under the new build"
ivm_psql -c "CREATE DATABASE $XDB"
ivm_psql -d "$XDB" -f "$WORK/release-dump.sql" >/dev/null
v=$(version_of "$XDB")
[ "$v" = "$CURRENT_VERSION" ] || fail "$XDB: the dump's CREATE EXTENSION made $v, not $CURRENT_VERSION"
out=$(ivm_psql -d "$XDB" -At -c "SELECT upg_check()" -c "SELECT upg_write(4)" -c "UPDATE upg_rate SET r = r + 3" \
    -c "SELECT 'tick ' || epoch || ' ' || views_processed FROM ivm.tick()" -c "SELECT upg_check()" 2>&1) ||
    fail "$XDB: a round after the restore failed: $out"
grep -v '^tick \|^$' <<<"$out" | grep -q . &&
    fail "$XDB: views differ from their queries after the restore: $(head -n 20 <<<"$out")"
echo "  $XDB: extversion $v; $(grep '^tick ' <<<"$out") (epoch, views processed); every view equals its query before and after"
[ "$(ivm_psql -d "$XDB" -At -c "SELECT string_agg(viewrel::text, ' ') FROM ivm._views WHERE (options ->> 'every_tick')::bool")" = v_stable ] ||
    fail "$XDB: the restore did not mark v_stable (and it alone) to be computed at every tick"

# ---- 5. the same catalog as a fresh install -----------------------------------
ivm_say "upgrade: CREATE EXTENSION ivm afresh and $FROM_VERSION + UPDATE give the same catalog"
ivm_psql -c "CREATE DATABASE $FDB"
ivm_psql -d "$FDB" -c "CREATE EXTENSION ivm"
v=$(version_of "$FDB")
[ "$v" = "$CURRENT_VERSION" ] || fail "$FDB: CREATE EXTENSION ivm made $v, not $CURRENT_VERSION"
catalog "$FDB" 1 >"$WORK/fresh-rows.txt"
catalog "$EDB" 1 >"$WORK/empty-rows.txt"
catalog "$FDB" >"$WORK/fresh.txt"
catalog "$DB" >"$WORK/upg.txt"
echo "  $(wc -l <"$WORK/fresh.txt") lines of catalog, $(grep -c '^member ' "$WORK/fresh.txt") member objects:" \
    "$(sed -n 's/^member \([a-z]*\) .*/\1/p' "$WORK/fresh.txt" | sort | uniq -c | xargs)"
if ! diff -u "$WORK/fresh-rows.txt" "$WORK/empty-rows.txt" >"$WORK/empty.diff"; then
    fail "$EDB ($FROM_VERSION + UPDATE) and a fresh CREATE EXTENSION differ (- fresh, + updated):"
    head -n 60 "$WORK/empty.diff" >&2
else
    echo "  $EDB ($FROM_VERSION + UPDATE) = fresh, with the rows of the extension's tables"
fi
if ! diff -u "$WORK/fresh.txt" "$WORK/upg.txt" >"$WORK/upg.diff"; then
    fail "$DB (views made at $FROM_VERSION, then UPDATE) and a fresh CREATE EXTENSION differ (- fresh, + updated):"
    head -n 60 "$WORK/upg.diff" >&2
else
    echo "  $DB (views made at $FROM_VERSION, then UPDATE) = fresh"
fi

# The check fails on purpose: each change below must show in the signature.
MUTATIONS=(
    "CREATE FUNCTION ivm.upg_probe() RETURNS int LANGUAGE sql AS 'SELECT 1'; ALTER EXTENSION ivm ADD FUNCTION ivm.upg_probe()"
    "ALTER FUNCTION ivm.refresh(regclass) STABLE"
    "ALTER FUNCTION ivm.explain(regclass) SECURITY INVOKER"
    "ALTER FUNCTION ivm.vector_view_query(regclass, text, real[], integer, text, text[], text) SET work_mem = '1MB'"
    "GRANT EXECUTE ON FUNCTION ivm._uncapture(integer) TO PUBLIC"
    "REVOKE SELECT ON ivm.stats FROM PUBLIC"
    "ALTER TABLE ivm._sources ADD COLUMN upg_probe int"
    "ALTER TABLE ivm._views ALTER COLUMN state SET DEFAULT 'new'"
    "ALTER EVENT TRIGGER ivm_ddl_end DISABLE"
    "CREATE OR REPLACE FUNCTION ivm._state_restore() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS \$\$BEGIN RETURN NEW; END\$\$"
    "UPDATE pg_catalog.pg_extension SET extcondition[1] = 'WHERE true' WHERE extname = 'ivm'"
    "CREATE INDEX upg_probe ON ivm._evidence (view_id)"
)
missed=0
for m in "${MUTATIONS[@]}"; do
    if ! ivm_psql -d "$FDB" -v rows=0 -c "BEGIN" -c "SET client_min_messages = warning" \
            -c '\o /dev/null' -c "$m" -c '\o' -f "$HERE/catalog.sql" -c "ROLLBACK" >"$WORK/mutated.txt" 2>"$WORK/mutated.err"; then
        fail "the check's own change could not be made: $m: $(cat "$WORK/mutated.err")"
        continue
    fi
    if diff -q "$WORK/fresh.txt" "$WORK/mutated.txt" >/dev/null; then
        fail "the catalog check does not see: $m"
        missed=$((missed + 1))
    fi
done
[ "$missed" -eq 0 ] && echo "  the check sees each of ${#MUTATIONS[@]} changes made on purpose"
catalog "$FDB" >"$WORK/fresh-again.txt"
diff -q "$WORK/fresh.txt" "$WORK/fresh-again.txt" >/dev/null || fail "a change made on purpose was not rolled back"

# The updated extension drops as a fresh one does: views and ivm's
# relations go, the tables stay.
ivm_say "upgrade: DROP EXTENSION ivm CASCADE in $DB"
q -c "SET client_min_messages = warning" -c "DROP EXTENSION ivm CASCADE" >/dev/null
left=$(q -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'ivm'")
[ "$left" = 0 ] || fail "DROP EXTENSION ivm CASCADE left $left relations in schema ivm"
left=$(q -c "SELECT string_agg(name, ', ') FROM upg_views WHERE to_regclass(name) IS NOT NULL")
[ -z "$left" ] || fail "DROP EXTENSION ivm CASCADE left views: $left"
[ "$(q -c "SELECT count(*) FROM orders")" -gt 0 ] || fail "DROP EXTENSION ivm CASCADE emptied a table"
echo "  dropped: no relation left in schema ivm, no incremental view left, the tables kept"

ivm_say "upgrade: summary"
echo "  $FROM_VERSION -> $CURRENT_VERSION; between the install and the ALTER: $BETWEEN"
if [ "$FAILS" -gt 0 ]; then
    echo "upgrade test: $FAILS failure(s)"
    exit 1
fi
echo "upgrade test: ok"
