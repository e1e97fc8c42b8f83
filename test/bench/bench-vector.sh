#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/bench-vector.sh -- (v) vector views: the k nearest of 1,000,000
# vectors, one tick after a change against REFRESH of the same query.
#
#   bash test/bench/bench-vector.sh              # prints a Markdown table
#
# A cluster of its own (test/lib.sh).  docs (IVM_BENCH_VEC_ROWS vectors,
# 1,000,000 by default, of 128 dimensions, seeded, real[], with a title);
# a vector view of the k = 10 nearest to a query vector (ivm.create_vector_view,
# l2), and a materialized view of the same query.  Per repetition
# (IVM_BENCH_VEC_REPS, 5): insert 100 vectors (some nearer than the k-th)
# and tick; delete 10 members and tick; a mixed batch (50 inserts, 5 member
# deletes, 20 updates moving vectors) and tick; each followed by REFRESH of
# the materialized view in the same data state, all in one psql session.
# Figures: each statement's time by clock_timestamp() around it (the tick's
# with its commit, and its own duration_ms), medians; the ticks that rescanned
# the source (the margin of candidates ran out: ivm.evidence says rescan),
# counted with their times; the view is checked against its query after
# every tick.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=test/bench/lib-bench.sh
. "$HERE/lib-bench.sh"

ROWS=${IVM_BENCH_VEC_ROWS:-1000000}
REPS=${IVM_BENCH_VEC_REPS:-5}
DB=bench_vec

bench_large_cluster "jit = off"

q() {
    ivm_psql -d "$DB" -At "$@"
}

ivm_psql -q -c "CREATE DATABASE $DB"
echo "generating $ROWS vectors of 128 dimensions" >&2
t0=$(bench_ms)
q >/dev/null <<SQL
CREATE EXTENSION ivm;
SELECT setseed(0.25);
CREATE TABLE docs (id bigint PRIMARY KEY, emb real[] NOT NULL, title text NOT NULL);
INSERT INTO docs
SELECT i, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 128) WHERE i > 0), 'doc ' || i
FROM generate_series(1, $ROWS) i;
CREATE TABLE query AS SELECT ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 128)) AS q;
VACUUM ANALYZE docs;
SQL
echo "  generated in $(( $(bench_ms) - t0 )) ms" >&2
QV=$(q -c "SELECT q::text FROM query")
t0=$(bench_ms)
q -c "SELECT ivm.create_vector_view('near10', 'docs', 'emb', '$QV'::real[], k => 10, payload => ARRAY['title'])" >/dev/null
tc=$(( $(bench_ms) - t0 ))
QUERY=$(q -c "SELECT ivm.vector_view_query('docs', 'emb', '$QV'::real[], 10, 'l2', ARRAY['title'])")
t0=$(bench_ms)
q -c "CREATE MATERIALIZED VIEW near10_mv AS $QUERY" >/dev/null
tm=$(( $(bench_ms) - t0 ))
echo "  created: vector view $tc ms, materialized view $tm ms" >&2

# One psql session for all the repetitions (as a worker or an application
# ticks: no backend start-up, no cold caches in the figures).  Each timed
# statement is bracketed by clock_timestamp() reads, so a tick's figure
# includes its commit, as REFRESH's does.
{
    echo "\\set ON_ERROR_STOP 1"
    echo "\\set q '$QV'"
    echo "SELECT ivm.tick();"
    echo "REFRESH MATERIALIZED VIEW near10_mv;"
    next=$((ROWS + 1))
    for rep in $(seq 1 "$REPS"); do
        for kind in insert delete mixed; do
            case $kind in
                insert)
                    # 100 new vectors, 5 of them a hair from the query vector
                    echo "INSERT INTO docs SELECT $next + i,
                            CASE WHEN i < 5 THEN ARRAY(SELECT x + (random() * 0.01)::real FROM unnest(:'q'::real[]) x WHERE i >= 0)
                                 ELSE ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 128) WHERE i >= 0) END,
                            'new ' || i FROM generate_series(0, 99) i;"
                    next=$((next + 100)) ;;
                delete)
                    echo "DELETE FROM docs WHERE id IN (SELECT id FROM near10 ORDER BY distance, id LIMIT 10);" ;;
                mixed)
                    echo "INSERT INTO docs SELECT $next + i,
                            CASE WHEN i < 3 THEN ARRAY(SELECT x + (random() * 0.01)::real FROM unnest(:'q'::real[]) x WHERE i >= 0)
                                 ELSE ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 128) WHERE i >= 0) END,
                            'mixed ' || i FROM generate_series(0, 49) i;
                          DELETE FROM docs WHERE id IN (SELECT id FROM near10 ORDER BY distance, id LIMIT 5);
                          UPDATE docs SET emb = ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 128) WHERE id > 0)
                           WHERE id IN (SELECT id FROM docs WHERE id % 50000 = $rep LIMIT 20);"
                    next=$((next + 50)) ;;
            esac
            echo "SELECT clock_timestamp() AS t0 \\gset"
            echo "SELECT duration_ms AS d FROM ivm.tick() \\gset"
            echo "SELECT round((extract(epoch FROM clock_timestamp() - :'t0') * 1000)::numeric, 2) AS tw \\gset"
            echo "SELECT coalesce((SELECT strategy FROM ivm.evidence WHERE view = 'near10' AND epoch = (SELECT max(epoch) FROM ivm.evidence)), 'skipped') AS how \\gset"
            echo "SELECT (SELECT array_agg(ROW(id, distance, title) ORDER BY distance, id) FROM near10)
                         IS NOT DISTINCT FROM
                         (SELECT array_agg(ROW(id, distance, title) ORDER BY distance, id) FROM ($QUERY) b) AS same \\gset"
            echo "SELECT clock_timestamp() AS t0 \\gset"
            echo "REFRESH MATERIALIZED VIEW near10_mv;"
            echo "SELECT round((extract(epoch FROM clock_timestamp() - :'t0') * 1000)::numeric, 2) AS rw \\gset"
            echo "\\echo @@ $rep $kind :tw :d :rw :same :how"
        done
    done
} >"$IVM_TMP/vector-bench.sql"
BAD=0
declare -A TICK DUR REFRESH RESCAN RESCANMS
while read -r _ rep kind tw d rw same how; do
    echo "  rep $rep $kind: tick $tw ms (its duration_ms $d, $how), REFRESH $rw ms, view equal to its query: $same" >&2
    [ "$same" = t ] || BAD=$((BAD + 1))
    if [ "$how" = rescan ]; then
        RESCAN[$kind]=$(( ${RESCAN[$kind]:-0} + 1 ))
        RESCANMS[$kind]="${RESCANMS[$kind]:-} $tw"
    fi
    TICK[$kind]="${TICK[$kind]:-} $tw"
    DUR[$kind]="${DUR[$kind]:-} $d"
    REFRESH[$kind]="${REFRESH[$kind]:-} $rw"
done < <(q -f "$IVM_TMP/vector-bench.sql" | grep '^@@ ')

echo "| change | tick, with its commit (ms, median of $REPS) | its duration_ms | REFRESH (ms) | ratio | rescans (their ticks, ms) |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
for kind in insert delete mixed; do
    t=$(bench_median "${TICK[$kind]}")
    d=$(bench_median "${DUR[$kind]}")
    r=$(bench_median "${REFRESH[$kind]}")
    printf '| %s | %s (%s) | %s | %s (%s) | %s | %s%s |\n' "$kind" "$t" "${TICK[$kind]# }" "$d" "$r" "${REFRESH[$kind]# }" \
        "$(awk -v a="$r" -v b="$t" 'BEGIN { printf "%.0fx", a / b }')" "${RESCAN[$kind]:-0}" \
        "${RESCANMS[$kind]:+ (${RESCANMS[$kind]# })}"
done
echo
echo "$ROWS vectors of 128 dimensions, k = 10, l2. Created: vector view $tc ms, materialized view $tm ms. Ticks whose view differed from its query: $BAD."
