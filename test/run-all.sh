#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/run-all.sh -- every test suite of ivm, one line of totals at the end.
#
#   bash test/run-all.sh        (also what .ci/run runs, with CI=true)
#
# Installs what is missing, builds and installs the extension, starts a
# throwaway cluster, then runs each suite and counts it as passed or failed:
#   layers        test/layers/run.sh: no two files of src/ call each other
#   installcheck  pg_regress (sql/, expected/) and isolation (specs/) tests
#   pgtap         pg_prove over test/pgtap/*.sql in database ivm_tap
#   push-leak     a 300,000-row push and tick at work_mem 64kB: no temporary
#                 file leak, the view equal to its query (needs ivm_tap)
#   random        test/random/run.sh (IVM_SEED, IVM_TICKS)
#   random-profiles  the same with the minmax, empty, joins and edges profiles, seed 42
#                 (partitioned views' shards in parallel workers under joins and edges)
#   random-full   the same with ivm.full_recompute on for every tick
#   random-quarantine  the same (150 ticks) with two fragile views that fail
#                 on some ticks: they must be quarantined, every other view
#                 equal to its query, and they must come back once fixed
#   random-collide  the same (200 ticks) in a cluster of its own started with
#                 ivm.debug_hash_bits = 3: every row and key hash collides
#                 with many others, and every view must still equal its query
#   recursive     test/recursive/run.sh: WITH RECURSIVE views over random graphs
#                 with cycles, edges inserted, deleted and moved, each view
#                 equal to its query after every tick (IVM_RECURSIVE_TICKS, 80)
#   dump          test/dump/run.sh: pg_dump (plain, custom) and ivm.checkpoint_full
#                 round trips, the randomised test going on in each restored
#                 database, the dedup seen-set across a restart
#   crash         test/crash/run.sh (in a cluster of its own)
#   ownership     test/ownership/run.sh: VACUUM, VACUUM FULL and autovacuum over
#                 a view of a hostile range type leave every role as it was;
#                 checkpoints and restores of tables with traps in index and
#                 statistics expressions and a type's output run them only
#                 as the table's owner (in a cluster of its own)
#   worker        test/worker/run.sh: background workers tick on their own,
#                 reload, failing views, DROP EXTENSION / DATABASE, kill -9
#                 (in a cluster of its own)
#   checkpoint    test/checkpoint/run.sh: delta checkpoints and restores
#   s3            test/s3/run.sh: checkpoints in object storage (s3://) against
#                 a local S3 server (s3rver, from the npm registry) behind a
#                 fault-injecting proxy: round trips, 500s, a server dying
#                 mid-upload, timeouts, credentials, rights (in a cluster of
#                 its own)
#   standby       test/standby/run.sh: on a streaming standby, writing
#                 functions refuse with 25006 and the views read right
#   upgrade       test/upgrade/run.sh: release 0.1.0 built from git history,
#                 views made there, the current build installed over it,
#                 ALTER EXTENSION ivm UPDATE, views equal their queries, and
#                 the catalog equal to a fresh CREATE EXTENSION's (in a
#                 cluster of its own; reinstalls the current build after)
#   nopreload     test/nopreload/run.sh, when present (a cluster without
#                 shared_preload_libraries)
#   tpch          test/tpch/run.sh: the 22 TPC-H queries as views at SF 0.01
#                 (IVM_TPCH_SF), 10 rounds of RF1 + RF2 + random updates, each
#                 view equal to its query after every tick
#   package       test/package/run.sh: META.json against PGXN's spec; as root
#                 on Debian, the .deb for this PostgreSQL built from a copy of
#                 the tree (lintian), installed by apt into a clean debootstrap
#                 root of this release, and the demo run from it
#   versions      the other supported PostgreSQL versions (15, 17, 18 but the
#                 one under test; IVM_OTHER_VERSIONS): installcheck, pgtap,
#                 random (IVM_VERSIONS_TICKS, 150) and dump-import in a Debian
#                 root of each (test/versions/run.sh; as root or through sudo),
#                 the dumps made here by test/dump/across.sh (restored only
#                 into newer versions)
#   dump-import   test/dump/across.sh import $IVM_DUMP_IMPORT: dumps of
#                 another version restored here (skipped without the variable;
#                 the versions suite sets it)
# The last line is "N passed, N failed"; the exit status is non-zero when a
# suite failed.  IVM_SUITES="random crash" runs only the suites named.
# ---------------------------------------------------------------------------
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/lib.sh"

PASSED=0
FAILED=0
SKIPPED=0
RESULTS=()
SUITES=${IVM_SUITES:-layers installcheck pgtap push-leak random random-profiles random-full random-quarantine random-collide recursive dump crash ownership worker checkpoint s3 standby upgrade nopreload tpch package versions}

# The randomised test: a random seed unless one is given, 300 ticks unless told.
IVM_SEED=$(ivm_seed)
IVM_TICKS=${IVM_TICKS:-300}
export IVM_SEED IVM_TICKS

# run_suite NAME TIMEOUT COMMAND...: run one suite, count it.  Exit status 77
# means skipped, 124 timed out.
run_suite() {
    local name=$1 limit=$2 rc start
    shift 2
    case " $SUITES " in
        *" $name "*) ;;
        *) return 0 ;;
    esac
    ivm_say "suite $name"
    start=$SECONDS
    if declare -F "$1" >/dev/null; then
        "$@"                    # a function here: it bounds its own commands
    else
        timeout -k 30 "$limit" "$@"
    fi
    rc=$?
    if [ "$rc" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        RESULTS+=("ok      $name ($((SECONDS - start))s)")
    elif [ "$rc" -eq 77 ]; then
        SKIPPED=$((SKIPPED + 1))
        RESULTS+=("skipped $name")
    else
        [ "$rc" -eq 124 ] && echo "suite $name timed out after ${limit}s" >&2
        FAILED=$((FAILED + 1))
        RESULTS+=("FAILED  $name (exit $rc, $((SECONDS - start))s)")
        if [ -f "${IVM_LOG:-}" ]; then
            echo "--- suite $name failed; last lines of the server log ---"
            tail -n 25 "$IVM_LOG"
        fi
    fi
    return 0
}

suite_installcheck() {
    local f rc=0
    rm -f "$REPO/regression.diffs" "$REPO/output_iso/regression.diffs"
    timeout -k 30 900 make -C "$REPO" PG_CONFIG="$IVM_PG_CONFIG" installcheck || rc=$?
    [ "$rc" -eq 124 ] && echo "installcheck timed out after 900s" >&2
    if [ "$rc" -ne 0 ]; then
        for f in "$REPO/regression.diffs" "$REPO/output_iso/regression.diffs"; do
            if [ -f "$f" ]; then
                echo "----- $f -----"
                cat "$f"
            fi
        done
    fi
    return "$rc"
}

suite_pgtap() {
    local files=()
    shopt -s nullglob
    files=("$REPO"/test/pgtap/*.sql)
    shopt -u nullglob
    if [ "${#files[@]}" -eq 0 ]; then
        echo "no pgTAP files in test/pgtap yet: skipped"
        return 77
    fi
    ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ivm_tap" -c "CREATE DATABASE ivm_tap" &&
        ivm_psql -d ivm_tap -c "CREATE EXTENSION ivm" -c "CREATE EXTENSION pgtap" &&
        timeout -k 30 600 pg_prove --psql-bin "$IVM_PG_BIN/psql" -d ivm_tap -U postgres \
            -h "$PGHOST" -p "$PGPORT" "${files[@]}"
}

# Not "set -e": a failing step is reported, and the totals line still comes.
setup_ok=1
ivm_prepare || setup_ok=0
if [ "$setup_ok" = 1 ]; then
    ivm_say "starting a throwaway cluster"
    ivm_cluster_start || setup_ok=0
fi
if [ "$setup_ok" != 1 ]; then
    echo "setup (dependencies, build, install or cluster start) failed" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
export IVM_SKIP_BUILD=1

run_suite layers 60 bash "$HERE/layers/run.sh"
run_suite installcheck 900 suite_installcheck
run_suite pgtap 600 suite_pgtap
# a push and a tick larger than work_mem: no "temporary file leak" warning
suite_push_leak() {
    local out
    out=$(ivm_psql -d ivm_tap -c "SET work_mem = '64kB'" \
        -c "SELECT ivm.create_source('leak_src', 'a int, b text')" \
        -c "SELECT ivm.create_view('leak_v', 'SELECT a, b FROM leak_src')" \
        -c "SELECT ivm.push('leak_src', (SELECT jsonb_agg(jsonb_build_object('a', g, 'b', 'x' || g)) FROM generate_series(1, 300000) g))" \
        -c "SELECT rows_in FROM ivm.tick()" \
        -c "SELECT count(*) AS mismatches FROM ((SELECT a, b FROM leak_v EXCEPT ALL SELECT a, b FROM leak_src) UNION ALL (SELECT a, b FROM leak_src EXCEPT ALL SELECT a, b FROM leak_v)) d" \
        -c "SELECT ivm.drop_view('leak_v')" \
        -c "SELECT ivm.drop_source('leak_src')" 2>&1) || { echo "$out"; return 1; }
    echo "$out"
    if grep -qi "temporary file leak" <<<"$out"; then echo "a temporary file leaked"; return 1; fi
    grep -Eq '^ +0$' <<<"$out" || { echo "leak_v differs from its query"; return 1; }
}
run_suite push-leak 300 suite_push_leak
run_suite random 1200 bash "$HERE/random/run.sh"
# fixed seeds for the stress profiles, and every tick a full recompute
suite_random_profiles() {
    local p rc=0
    for p in minmax empty joins edges; do
        # partitioned views' shards in parallel workers under the joins and edges profiles
        IVM_PARALLEL=$([ $p = joins ] || [ $p = edges ] && echo 1 || echo 0) \
            IVM_PROFILE=$p IVM_SEED=42 IVM_TICKS=150 timeout -k 30 600 bash "$HERE/random/run.sh" || rc=1
    done
    return $rc
}
run_suite random-profiles 1200 suite_random_profiles
run_suite random-full 600 env IVM_FULL_RECOMPUTE=1 IVM_TICKS=80 bash "$HERE/random/run.sh"
run_suite random-quarantine 600 env IVM_FAILING=1 IVM_TICKS=150 bash "$HERE/random/run.sh"
# row hashes of 3 bits: a hash only finds candidates, equality of the row decides
run_suite random-collide 600 env -u IVM_PGDATA -u IVM_TMP IVM_EXTRA_CONF="ivm.debug_hash_bits = 3" \
    IVM_EXPECT_HASH_BITS=3 IVM_TICKS="${IVM_COLLIDE_TICKS:-200}" bash "$HERE/random/run.sh"
# WITH RECURSIVE over random graphs with cycles (the same seed)
run_suite recursive 900 env IVM_TICKS="${IVM_RECURSIVE_TICKS:-80}" bash "$HERE/recursive/run.sh"
run_suite dump 900 bash "$HERE/dump/run.sh"
run_suite crash 600 bash "$HERE/crash/run.sh"
run_suite ownership 300 bash "$HERE/ownership/run.sh"
run_suite worker 600 bash "$HERE/worker/run.sh"
run_suite checkpoint 300 bash "$HERE/checkpoint/run.sh"
run_suite s3 600 bash "$HERE/s3/run.sh"
run_suite standby 300 bash "$HERE/standby/run.sh"
run_suite upgrade 600 bash "$HERE/upgrade/run.sh"
if [ -f "$HERE/nopreload/run.sh" ]; then
    run_suite nopreload 300 bash "$HERE/nopreload/run.sh"
fi
run_suite tpch 180 bash "$HERE/tpch/run.sh"
run_suite package 900 bash "$HERE/package/run.sh"

# dumps of another version (made by across.sh export), restored here
suite_dump_import() {
    if [ -z "${IVM_DUMP_IMPORT:-}" ]; then
        echo "IVM_DUMP_IMPORT names no directory of dumps: skipped"
        return 77
    fi
    timeout -k 30 900 bash "$HERE/dump/across.sh" import "$IVM_DUMP_IMPORT"
}
run_suite dump-import 900 suite_dump_import

# The other versions, each in a root of its own: the suites that CI runs on
# them, and this version's dumps restored into the newer ones.
suite_versions() {
    local v rc=0 dir suites
    if [ -n "${IVM_VERSIONS_INSIDE:-}" ]; then
        echo "already inside the root of test/versions/run.sh: skipped"
        return 77
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/ivm-across.XXXXXX")
    # the roots made (debootstrap, apt) side by side while the dumps are made
    local pids=() others=()
    for v in ${IVM_OTHER_VERSIONS:-15 17 18}; do
        [ "$v" = "$IVM_PG_VERSION" ] || others+=("$v")
    done
    if ! command -v debootstrap >/dev/null; then     # once, not by both at once
        ivm_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap ||
            { ivm_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
              ivm_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap; } ||
            return 1
    fi
    for v in "${others[@]}"; do
        ivm_sudo timeout -k 30 1800 bash "$HERE/versions/run.sh" "$v" --prepare \
            >"$dir.prepare-$v.log" 2>&1 &
        pids+=($!)
    done
    timeout -k 30 900 bash "$HERE/dump/across.sh" export "$dir" || rc=1
    for i in "${!pids[@]}"; do
        if ! wait "${pids[i]}"; then
            echo "the root for PostgreSQL ${others[i]} could not be made:"
            tail -n 30 "$dir.prepare-${others[i]}.log"
            rc=1
        fi
        rm -f "$dir.prepare-${others[i]}.log"
    done
    for v in "${others[@]}"; do
        suites="installcheck pgtap random"
        [ "$v" -gt "$IVM_PG_VERSION" ] && suites="$suites dump-import"
        ivm_sudo env CI="${CI:-}" IVM_SEED="$IVM_SEED" IVM_TICKS="${IVM_VERSIONS_TICKS:-150}" \
            IVM_VERSIONS_IMPORT="$dir" timeout -k 30 2400 \
            bash "$HERE/versions/run.sh" "$v" "$suites" || rc=1
    done
    rm -rf "$dir"
    return $rc
}
run_suite versions 5400 suite_versions

ivm_cluster_stop
ivm_say "summary (randomised test seed $IVM_SEED, $IVM_TICKS ticks)"
printf '  %s\n' "${RESULTS[@]}"
if [ "$SKIPPED" -gt 0 ]; then
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
else
    echo "$PASSED passed, $FAILED failed"
fi
[ "$FAILED" -eq 0 ]
