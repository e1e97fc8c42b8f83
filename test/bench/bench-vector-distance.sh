#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/bench-vector-distance.sh -- (v1) the distance functions of
# vector views against the same distances written in SQL.
#
#   bash test/bench/bench-vector-distance.sh       # prints a Markdown table
#
# A cluster of its own (test/lib.sh).  IVM_BENCH_V_ROWS vectors (100,000 by
# default) of IVM_BENCH_V_DIM dimensions (128), seeded, as real[]; one query
# vector.  For each metric, the time of one scan computing the distance of
# every vector to the query (sum() of it, so that nothing is sent back), by
# ivm.l2_distance / ivm.cosine_distance / ivm.inner_product and by the SQL
# form over unnest(v, q); median of IVM_BENCH_V_REPS (5) runs each, after a
# warm-up scan.  Both forms' sums are printed (they agree to single
# precision).
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

ROWS=${IVM_BENCH_V_ROWS:-100000}
DIM=${IVM_BENCH_V_DIM:-128}
REPS=${IVM_BENCH_V_REPS:-5}
DB=bench_v

ivm_prepare
unset IVM_PGDATA IVM_TMP
IVM_EXTRA_CONF="shared_buffers = '1GB'
work_mem = '64MB'
max_parallel_workers_per_gather = 0
jit = off" ivm_cluster_start >/dev/null

q() {
    ivm_psql -d "$DB" -At "$@"
}
ivm_psql -q -c "CREATE DATABASE $DB"
q >/dev/null <<SQL
CREATE EXTENSION ivm;
SELECT setseed(0.5);
CREATE TABLE docs AS
SELECT i AS id, array_agg((random() * 2 - 1)::real ORDER BY d) AS v
FROM generate_series(1, $ROWS) i, generate_series(1, $DIM) d GROUP BY i;
CREATE TABLE query AS SELECT array_agg((random() * 2 - 1)::real ORDER BY d) AS q FROM generate_series(1, $DIM) d;
VACUUM ANALYZE docs;
SQL

# median_ms SQL: the median wall time (ms) of REPS runs of one statement, after a warm-up
median_ms() {
    local sql=$1 times=()
    q -c "$sql" >/dev/null
    for _ in $(seq 1 "$REPS"); do
        local t0 t1
        t0=$(date +%s%N)
        q -c "$sql" >/dev/null
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

declare -A C SQL
C[l2]="SELECT sum(ivm.l2_distance(d.v, q.q)) FROM docs d, query q"
SQL[l2]="SELECT sum((SELECT sqrt(sum((x - y)::float8 ^ 2)) FROM unnest(d.v, q.q) u(x, y))) FROM docs d, query q"
C[cosine]="SELECT sum(ivm.cosine_distance(d.v, q.q)) FROM docs d, query q"
SQL[cosine]="SELECT sum((SELECT 1 - sum(x::float8 * y) / (sqrt(sum(x::float8 * x)) * sqrt(sum(y::float8 * y))) FROM unnest(d.v, q.q) u(x, y))) FROM docs d, query q"
C[ip]="SELECT sum(ivm.inner_product(d.v, q.q)) FROM docs d, query q"
SQL[ip]="SELECT sum((SELECT -sum(x::float8 * y) FROM unnest(d.v, q.q) u(x, y))) FROM docs d, query q"

echo "| metric | ivm (ms, median of $REPS) | SQL over unnest (ms) | ratio | distances per second (ivm) | sums (ivm / SQL) |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
for m in l2 cosine ip; do
    c=$(median_ms "${C[$m]}")
    s=$(median_ms "${SQL[$m]}")
    cs=$(q -c "${C[$m]}")
    ss=$(q -c "${SQL[$m]}")
    printf '| %s | %s | %s | %s | %s | %s / %s |\n' "$m" "$c" "$s" \
        "$(awk -v a="$s" -v b="$c" 'BEGIN { printf "%.0fx", a / (b > 0 ? b : 1) }')" \
        "$(awk -v n="$ROWS" -v b="$c" 'BEGIN { printf "%.1fM", n / (b > 0 ? b : 1) / 1000 }')" \
        "$(printf '%.6g' "$cs")" "$(printf '%.6g' "$ss")"
done
echo
echo "$ROWS vectors of $DIM dimensions, one scan each; wall time of a psql run of the statement (its start-up and the scan included in both forms)."
