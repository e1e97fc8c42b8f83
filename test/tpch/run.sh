#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/tpch/run.sh -- the 22 TPC-H queries as incremental views, kept equal
# to their queries through refresh rounds.
#
#   bash test/tpch/run.sh                        # SF 0.01, 10 rounds, random seed
#   IVM_SEED=7 IVM_TPCH_SF=0.05 IVM_TPCH_ROUNDS=3 bash test/tpch/run.sh
#
# In a database ivm_tpch (IVM_DB): gen.sql builds the eight tables at scale
# factor IVM_TPCH_SF (default 0.01: 15,000 orders, ~60,000 lineitems),
# refresh.sql the refresh functions, check.sql the random updates and the
# checker; queries.sql creates the 22 views (all must be accepted), and the
# same file, its "SELECT ivm.create_view(" turned into "INSERT INTO
# tpch_query VALUES (", gives the checker each query's text.  Then:
#   - the strategy of each view (ivm.explain) is printed, and each must be
#     incremental (delta rules; its hidden views may use what they need);
#   - every view must equal its query before any change (round 0);
#   - IVM_TPCH_ROUNDS rounds (default 10), each: RF1 and RF2 of the round
#     (1,500 x SF orders in and out, with their lineitems), tpch_updates of
#     the round (lineitem discount / quantity, order priority, customer
#     segment, supply cost, part type, drawn from the seed), ivm.tick(), and
#     every view compared with its query run directly, as multisets of the
#     rows' text (EXCEPT ALL both ways);
#   - a table of the strategies the ticks used (ivm.evidence) per view.
# A mismatch fails the run with the seed, the round, the view, its query and
# the differing rows; so does ivm's WARNING that a delta did not match the
# storage.  The updates are drawn from IVM_SEED (random when not given), so a
# seed replays exactly.
#
# Uses the cluster exported by run-all.sh when there is one, else builds,
# installs and starts its own (see lib.sh).
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

SEED=$(ivm_seed)
SF=${IVM_TPCH_SF:-0.01}
ROUNDS=${IVM_TPCH_ROUNDS:-10}
DB=${IVM_DB:-ivm_tpch}
case "$SEED" in '' | *[!0-9]*) echo "IVM_SEED must be a non-negative integer, not '$SEED'" >&2; exit 2 ;; esac
case "$ROUNDS" in '' | *[!0-9]*) echo "IVM_TPCH_ROUNDS must be a non-negative integer, not '$ROUNDS'" >&2; exit 2 ;; esac
if ! [[ "$SF" =~ ^[0-9]*\.?[0-9]+$ ]]; then
    echo "IVM_TPCH_SF must be a positive number, not '$SF'" >&2
    exit 2
fi
echo "TPC-H test: SF $SF, $ROUNDS rounds, seed $SEED"
echo "replay with: IVM_SEED=$SEED IVM_TPCH_SF=$SF IVM_TPCH_ROUNDS=$ROUNDS bash test/tpch/run.sh"

ivm_cluster_use_or_start
START=$SECONDS
ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
ivm_psql -d postgres -c "CREATE DATABASE $DB"
ivm_psql -d "$DB" -c "CREATE EXTENSION ivm"

ivm_say "generating the TPC-H tables at SF $SF"
t0=$SECONDS
ivm_psql -d "$DB" -v sf="$SF" -f "$HERE/gen.sql" >/dev/null
ivm_psql -d "$DB" -f "$HERE/../lib/view_diff.sql" -f "$HERE/refresh.sql" -f "$HERE/check.sql" >/dev/null
ivm_psql -d "$DB" -At -c "SELECT 'rows: ' || string_agg(t || ' ' || n, ', ' ORDER BY o) FROM (VALUES
    (1, 'region', (SELECT count(*) FROM region)), (2, 'nation', (SELECT count(*) FROM nation)),
    (3, 'supplier', (SELECT count(*) FROM supplier)), (4, 'customer', (SELECT count(*) FROM customer)),
    (5, 'part', (SELECT count(*) FROM part)), (6, 'partsupp', (SELECT count(*) FROM partsupp)),
    (7, 'orders', (SELECT count(*) FROM orders)), (8, 'lineitem', (SELECT count(*) FROM lineitem))) c(o, t, n)"
echo "generated in $((SECONDS - t0))s"

ivm_say "creating the 22 views"
n=$(grep -c "^SELECT ivm.create_view('tpch_q[0-9][0-9]', \\\$\\\$\$" "$HERE/queries.sql")
if [ "$n" != 22 ]; then
    echo "queries.sql has $n statements of the form SELECT ivm.create_view('tpch_qNN', \$\$, expected 22" >&2
    exit 1
fi
sed "s/^SELECT ivm.create_view(/INSERT INTO tpch_query VALUES (/" "$HERE/queries.sql" |
    ivm_psql -d "$DB" >/dev/null
ivm_psql -d "$DB" -f "$HERE/queries.sql" >/dev/null
n=$(ivm_psql -d "$DB" -At -c "SELECT count(*) FROM ivm.views v JOIN tpch_query q ON v.name = q.name::regclass")
if [ "$n" != 22 ]; then
    echo "only $n of the 22 TPC-H views exist after queries.sql" >&2
    exit 1
fi
echo "all 22 accepted"
ivm_psql -d "$DB" -c "SELECT v.name AS view, v.strategy, v.rows,
        regexp_replace(ivm.explain(v.name), '^[^:]*: ', '') AS explain
    FROM ivm.views v JOIN tpch_query q ON v.name = q.name::regclass ORDER BY 1"
ivm_psql -d "$DB" -At -c "SELECT 'strategies at creation: ' || string_agg(strategy || ' ' || n, ', ')
    FROM (SELECT strategy, count(*) AS n FROM ivm.views GROUP BY 1 ORDER BY 1) s"
notinc=$(ivm_psql -d "$DB" -At -c "SELECT coalesce(string_agg(q.name, ', ' ORDER BY q.name), '')
    FROM ivm.views v JOIN tpch_query q ON v.name = q.name::regclass
    WHERE v.strategy <> 'incremental' OR ivm.explain(v.name) NOT LIKE '%: strategy incremental%'")
if [ -n "$notinc" ]; then
    echo "not incremental, as ivm.explain says: $notinc" >&2
    exit 1
fi
echo "ivm.explain says incremental for all 22"

ivm_say "round 0: every view equal to its query"
ivm_psql -d "$DB" -c "SELECT tpch_check($SEED, 0)" >/dev/null

ivm_say "$ROUNDS rounds of RF1 + RF2 + updates, tick, check"
OUT=$(mktemp "${TMPDIR:-/tmp}/ivm-tpch-out.XXXXXX")
rc=0
echo "  per round: round | RF1 orders in | RF2 orders out | rows updated"
echo "             epoch | rows_in | rows_out | views processed | views recomputed | tick ms"
{
    echo "\\set ON_ERROR_STOP 1"
    for ((r = 1; r <= ROUNDS; r++)); do
        cat <<SQL
SELECT 'round $r' AS round, tpch_rf1($r) AS rf1_orders, tpch_rf2($r) AS rf2_orders,
       tpch_updates($SEED, $r) AS updated;
SELECT epoch, rows_in, rows_out, views_processed, views_recomputed, round(duration_ms) AS ms
FROM ivm.tick();
SELECT tpch_check($SEED, $r);
SQL
    done
} | ivm_psql -d "$DB" -At -F ' | ' >"$OUT" 2>&1 || rc=$?
grep -v '^$' "$OUT" | sed 's/^/  /'
if [ "$rc" -ne 0 ]; then
    echo "FAILED (seed $SEED, SF $SF): a round failed; see above" >&2
    rm -f "$OUT"
    exit 1
fi
if grep -q 'WARNING' "$OUT"; then
    echo "FAILED (seed $SEED, SF $SF): a WARNING during the rounds (see above)" >&2
    rm -f "$OUT"
    exit 1
fi
rm -f "$OUT"

ivm_say "strategies the ticks used, per view (ivm.evidence over the $ROUNDS rounds)"
ivm_psql -d "$DB" -c "SELECT q.name AS view, v.strategy AS declared,
        coalesce((SELECT string_agg(strategy || ' x' || n, ', ' ORDER BY strategy)
                  FROM (SELECT e.strategy, count(*) AS n FROM ivm.evidence e
                        WHERE e.view = q.name GROUP BY 1) s), 'not maintained') AS ticks,
        (SELECT round(avg(duration_us) / 1000.0, 1) FROM ivm.evidence e WHERE e.view = q.name) AS avg_ms
    FROM tpch_query q JOIN ivm.views v ON v.name = q.name::regclass ORDER BY 1"

ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
echo "TPC-H test passed: SF $SF, $ROUNDS rounds, seed $SEED, $((SECONDS - START))s"
