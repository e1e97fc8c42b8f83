#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/bench-vector-many.sh -- (vm) many query vectors: the 10 nearest
# of 100,000 vectors for each of 1,000 query vectors, one tick after a change
# against REFRESH of the same query.
#
#   bash test/bench/bench-vector-many.sh        # prints a Markdown table
#
# A cluster of its own (test/lib.sh).  docs (IVM_BENCH_VM_DOCS vectors,
# 100,000 by default, of 128 dimensions, seeded, real[]) and queries
# (IVM_BENCH_VM_QUERIES, 1,000); the view
#   SELECT qid, id, distance FROM (SELECT q.qid, d.id,
#          ivm.l2_distance(d.emb, q.vec) AS distance, row_number() OVER
#          (PARTITION BY q.qid ORDER BY ivm.l2_distance(d.emb, q.vec), d.id)
#          AS rn FROM queries q, docs d) s WHERE rn <= 10
# as an incremental view and as a materialized view, and the same rows
# written with CROSS JOIN LATERAL (... ORDER BY distance, id LIMIT 10) as a
# second materialized view (PostgreSQL computes that one with a bounded sort
# per query, the cheapest way to refresh it).  Per repetition
# (IVM_BENCH_VM_REPS, 3), in one psql session: 100 vectors inserted (2 of
# them near some query) and a tick; then one new query vector and a tick;
# then the nearest document of one query deleted three times over (its
# margin runs out: that query alone is read again) and a tick.  Then each
# materialized view is refreshed once (their times do not depend on the
# change) and the incremental view is compared with both, as multisets.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=test/bench/lib-bench.sh
. "$HERE/lib-bench.sh"

DOCS=${IVM_BENCH_VM_DOCS:-100000}
QUERIES=${IVM_BENCH_VM_QUERIES:-1000}
REPS=${IVM_BENCH_VM_REPS:-3}
DB=bench_vm

bench_large_cluster "jit = off"

q() {
    ivm_psql -d "$DB" -At "$@"
}

VIEWQ="SELECT qid, id, distance FROM (SELECT q.qid, d.id, ivm.l2_distance(d.emb, q.vec) AS distance,
  row_number() OVER (PARTITION BY q.qid ORDER BY ivm.l2_distance(d.emb, q.vec), d.id) AS rn
  FROM queries q, docs d) s WHERE rn <= 10"
LATERALQ="SELECT q.qid, x.id, x.distance FROM queries q CROSS JOIN LATERAL
  (SELECT d.id, ivm.l2_distance(d.emb, q.vec) AS distance FROM docs d ORDER BY 2, 1 LIMIT 10) x"

ivm_psql -q -c "CREATE DATABASE $DB"
echo "generating $DOCS vectors and $QUERIES query vectors of 128 dimensions" >&2
q >/dev/null <<SQL
CREATE EXTENSION ivm;
SELECT setseed(0.5);
CREATE TABLE docs (id bigint PRIMARY KEY, emb real[] NOT NULL);
INSERT INTO docs SELECT i, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 128) WHERE i > 0)
FROM generate_series(1, $DOCS) i;
CREATE TABLE queries (qid int PRIMARY KEY, vec real[] NOT NULL);
INSERT INTO queries SELECT i, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 128) WHERE i > 0)
FROM generate_series(1, $QUERIES) i;
VACUUM ANALYZE docs, queries;
SQL
t0=$(bench_ms)
q -c "SELECT ivm.create_view('near_many', \$q\$$VIEWQ\$q\$)" >/dev/null
tc=$(( $(bench_ms) - t0 ))
t0=$(bench_ms)
q -c "CREATE MATERIALIZED VIEW near_many_mv AS $VIEWQ" >/dev/null
tm=$(( $(bench_ms) - t0 ))
t0=$(bench_ms)
q -c "CREATE MATERIALIZED VIEW near_lateral_mv AS $LATERALQ" >/dev/null
tl=$(( $(bench_ms) - t0 ))
echo "  created: incremental view $tc ms, materialized view $tm ms, its LATERAL form $tl ms" >&2
HELD=$(q -c "SELECT h2.rows FROM ivm.hidden_views h1 JOIN ivm.hidden_views h2 ON h2.parent = h1.name
             WHERE h1.parent = 'near_many'::regclass")

{
    echo "\\set ON_ERROR_STOP 1"
    echo "SELECT ivm.tick();"
    next=$((DOCS + 1))
    nextq=$((QUERIES + 1))
    for rep in $(seq 1 "$REPS"); do
        for kind in insert query delete; do
            case $kind in
                insert)
                    # 100 new vectors, 2 of them a hair from a query vector
                    echo "INSERT INTO docs SELECT $next + i,
                            CASE WHEN i < 2 THEN ARRAY(SELECT x + (random() * 0.01)::real FROM unnest((SELECT vec FROM queries WHERE qid = 1 + (10 * $rep + i) % $QUERIES)) x WHERE i >= 0)
                                 ELSE ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 128) WHERE i >= 0) END
                          FROM generate_series(0, 99) i;"
                    next=$((next + 100)) ;;
                query)
                    echo "INSERT INTO queries SELECT $nextq, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 128));"
                    nextq=$((nextq + 1)) ;;
                delete)
                    # query rep's 25 nearest: past its margin of 20 candidates
                    echo "DELETE FROM docs WHERE id IN (SELECT d.id FROM docs d, queries q WHERE q.qid = $rep
                            ORDER BY ivm.l2_distance(d.emb, q.vec), d.id LIMIT 25);" ;;
            esac
            echo "SELECT clock_timestamp() AS t0 \\gset"
            echo "SELECT duration_ms AS d FROM ivm.tick() \\gset"
            echo "SELECT round((extract(epoch FROM clock_timestamp() - :'t0') * 1000)::numeric, 2) AS tw \\gset"
            echo "SELECT coalesce(string_agg(DISTINCT strategy, '+'), 'skipped') AS how FROM ivm.evidence
                   WHERE epoch = (SELECT max(epoch) FROM ivm.evidence) AND view LIKE '\\_hidden\\_%' \\gset"
            echo "\\echo @@ $rep $kind :tw :d :how"
        done
    done
    echo "SELECT clock_timestamp() AS t0 \\gset"
    echo "REFRESH MATERIALIZED VIEW near_many_mv;"
    echo "SELECT round((extract(epoch FROM clock_timestamp() - :'t0') * 1000)::numeric, 2) AS rw \\gset"
    echo "SELECT clock_timestamp() AS t0 \\gset"
    echo "REFRESH MATERIALIZED VIEW near_lateral_mv;"
    echo "SELECT round((extract(epoch FROM clock_timestamp() - :'t0') * 1000)::numeric, 2) AS rl \\gset"
    echo "SELECT (SELECT count(*) FROM ((SELECT * FROM near_many EXCEPT ALL SELECT * FROM near_many_mv)
                   UNION ALL (SELECT * FROM near_many_mv EXCEPT ALL SELECT * FROM near_many)) x)
               + (SELECT count(*) FROM ((SELECT * FROM near_many EXCEPT ALL SELECT * FROM near_lateral_mv)
                   UNION ALL (SELECT * FROM near_lateral_mv EXCEPT ALL SELECT * FROM near_many)) y) AS bad \\gset"
    echo "\\echo @@ 0 refresh :rw :rl :bad"
} >"$IVM_TMP/vector-many.sql"

declare -A TICK DUR HOW
RW=""
RL=""
BAD=""
while read -r _ rep kind a b c; do
    if [ "$kind" = refresh ]; then
        RW=$a RL=$b BAD=$c
        echo "  REFRESH $RW ms, of the LATERAL form $RL ms; rows differing from them: $BAD" >&2
        continue
    fi
    echo "  rep $rep $kind: tick $a ms (its duration_ms $b), the rows' input: $c" >&2
    TICK[$kind]="${TICK[$kind]:-} $a"
    DUR[$kind]="${DUR[$kind]:-} $b"
    HOW[$kind]="${HOW[$kind]:-} $c"
done < <(q -f "$IVM_TMP/vector-many.sql" | grep '^@@ ')

echo "| change | tick, with its commit (ms, median of $REPS) | its duration_ms | REFRESH / tick | REFRESH of the LATERAL form / tick | the input's maintenance |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
for kind in insert query delete; do
    t=$(bench_median "${TICK[$kind]}")
    d=$(bench_median "${DUR[$kind]}")
    printf '| %s | %s (%s) | %s | %s | %s | %s |\n' "$kind" "$t" "${TICK[$kind]# }" "$d" \
        "$(awk -v a="$RW" -v b="$t" 'BEGIN { printf "%.0fx", a / b }')" \
        "$(awk -v a="$RL" -v b="$t" 'BEGIN { printf "%.0fx", a / b }')" "${HOW[$kind]# }"
done
echo
echo "$DOCS vectors and $QUERIES query vectors of 128 dimensions, k = 10, l2. REFRESH: $RW ms; of the LATERAL form: $RL ms. Created: incremental view $tc ms (its input holding $HELD (query, document, distance) rows), materialized view $tm ms, LATERAL form $tl ms. Rows of the view differing from either materialized view at the end: $BAD."
