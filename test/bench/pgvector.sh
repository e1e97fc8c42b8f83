#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/pgvector.sh -- (pgv) the 10 nearest of N vectors in pgvector's
# vector type: reading an ivm view against pgvector's exact scan and its
# HNSW index scan, and a tick against REFRESH.
#
#   bash test/bench/pgvector.sh                  # prints a Markdown report
#
# Needs a PostgreSQL with pgvector installed (postgresql-N-pgvector); on
# PostgreSQL 17 in the Debian root of test/versions/run.sh:
#
#   IVM_VERSIONS_COMMAND="bash test/bench/pgvector.sh" IVM_BENCH_PGV_ROWS=1000000 \
#       bash test/versions/run.sh 17
#
# A cluster of its own (test/lib.sh: shared_buffers 2GB, work_mem 64MB,
# maintenance_work_mem IVM_BENCH_PGV_MWM (4GB: HNSW's graph in memory while
# it is built), no JIT, parallel query as configured by default: 2 workers a
# gather).  docs(id, emb vector(D)) with IVM_BENCH_PGV_ROWS rows (100,000 by
# default; the issue's figure is 1,000,000) of D = IVM_BENCH_PGV_DIM (128)
# dimensions, seeded, drawn by IVM_BENCH_PGV_DATA: latent (the default; as
# embeddings are, of few intrinsic dimensions): each vector a mix of
# IVM_BENCH_PGV_LATENT (16) random basis vectors with gaussian weights; or
# clusters: 1,000 centres uniform in [-1, 1]^D, each vector a centre plus
# gaussian noise of sigma IVM_BENCH_PGV_SIGMA (0.5; at 1.5 the clusters are
# lost in the noise and the vectors have no structure).  The query
# vectors (IVM_BENCH_PGV_QUERIES, 20) are drawn the same way.
#
#   1. ivm.create_vector_view('near10', 'docs', 'emb', q, k => 10) for the
#      first query vector (l2, pgvector's <->), and a materialized view of
#      the same query; their creation times.
#   2. Exact scan: SELECT id FROM docs ORDER BY emb <-> q LIMIT 10 for each
#      query vector, with no index (a parallel sequential scan and a top-N
#      sort); its answers are the truth recall is measured against.
#   3. The view read: SELECT id, distance FROM near10 ORDER BY distance, id,
#      IVM_BENCH_PGV_READS (50) times.
#   4. CREATE INDEX ... USING hnsw (emb vector_l2_ops) (m 16,
#      ef_construction 64, pgvector's defaults), timed.
#   5. HNSW: the same queries through the index at each hnsw.ef_search of
#      IVM_BENCH_PGV_EF (40, the default, 100 and 400), after an untimed
#      round; time per query and recall@10 against step 2, per query.
#   6. Per repetition (IVM_BENCH_PGV_REPS, 5): 100 vectors inserted (5 of
#      them within 0.01 of the view's query vector, so they enter its 10
#      nearest), then timed: the tick; REFRESH of the materialized view with
#      index scans off (exact, as the view); REFRESH as the planner likes (the
#      HNSW index: approximate), with the recall of what it holds.  Then the
#      view's 10 members deleted and a timed tick (every second one rescans:
#      the margin of 20 candidates is used up).  After every tick the view is
#      checked against the exact query, in order.
#
# Every timed statement runs in one psql session (no connection start-up in
# a figure), timed by psql's \timing (sent, run, committed, answered);
# figures are medians.  The machine, the date and the load go to stderr and
# the report.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=test/bench/lib-bench.sh
. "$HERE/lib-bench.sh"

ROWS=${IVM_BENCH_PGV_ROWS:-100000}
DIM=${IVM_BENCH_PGV_DIM:-128}
NQ=${IVM_BENCH_PGV_QUERIES:-20}
READS=${IVM_BENCH_PGV_READS:-50}
REPS=${IVM_BENCH_PGV_REPS:-5}
MWM=${IVM_BENCH_PGV_MWM:-4GB}
DATA=${IVM_BENCH_PGV_DATA:-latent}
LATENT=${IVM_BENCH_PGV_LATENT:-16}
SIGMA=${IVM_BENCH_PGV_SIGMA:-0.5}
EFS=${IVM_BENCH_PGV_EF:-40 100 400}
DB=bench_pgv

bench_large_cluster "jit = off
maintenance_work_mem = '$MWM'
max_parallel_maintenance_workers = 1"

q() {
    ivm_psql -d "$DB" -At "$@"
}

# timed SQL file $1: lines "@@T tag" before a statement mark it; prints
# "tag ms" for each, in order
timed() {
    {
        printf '%s\n' '\set ON_ERROR_STOP 1' '\timing on'
        cat "$1"
    } | q 2>&1 | awk '
        /^@@T / { tag = substr($0, 5); next }
        /^Time: / { if (tag != "") { print tag, $2; tag = "" } next }
        /^@@V / { print substr($0, 5); next }
        /ERROR|FATAL/ { print "ERROR " $0; exit 1 }'
}

ivm_psql -q -c "CREATE DATABASE $DB"
if ! q -c "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'" | grep -q 1; then
    echo "pgvector is not installed for PostgreSQL $IVM_PG_VERSION: apt-get install postgresql-$IVM_PG_VERSION-pgvector" >&2
    exit 1
fi
start=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "generating $ROWS vectors of $DIM dimensions" >&2
t0=$(bench_ms)
q >/dev/null <<SQL
CREATE EXTENSION ivm;
CREATE EXTENSION vector;
SELECT setseed(0.21);
-- latent: a random basis of LATENT vectors, each vector a gaussian mix of
-- them; clusters: 1,000 centres, each vector a centre plus gaussian noise
CREATE TABLE basis AS
SELECT b, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, $DIM) WHERE b >= 0)::vector AS v
FROM generate_series(1, $LATENT) b;
CREATE TABLE centres AS
SELECT c, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, $DIM) WHERE c >= 0)::vector AS v
FROM generate_series(0, 999) c;
CREATE FUNCTION new_vec() RETURNS vector LANGUAGE plpgsql VOLATILE AS \$f\$
DECLARE v vector;
BEGIN
    IF '$DATA' = 'clusters' THEN
        SELECT c.v + ARRAY(SELECT random_normal(0, $SIGMA)::real FROM generate_series(1, $DIM))::vector INTO v
        FROM centres c WHERE c.c = floor(random() * 1000);
    ELSE
        SELECT sum(b.v * array_fill(random_normal(0, 1)::real, ARRAY[$DIM])::vector) INTO v FROM basis b;
    END IF;
    RETURN v;
END \$f\$;
CREATE TABLE docs (id bigint PRIMARY KEY, emb vector($DIM) NOT NULL);
INSERT INTO docs SELECT i, new_vec() FROM generate_series(1, $ROWS) i;
CREATE TABLE qv AS SELECT n, new_vec() AS v FROM generate_series(1, $NQ) n;
VACUUM ANALYZE docs;
SQL
echo "  generated in $(( $(bench_ms) - t0 )) ms" >&2
mapfile -t QV < <(q -c "SELECT v::text FROM qv ORDER BY n")
Q1=${QV[0]}

# 1. the view and the materialized view
t0=$(bench_ms)
q -c "SELECT ivm.create_vector_view('near10', 'docs', 'emb', '$Q1'::vector, k => 10)" >/dev/null
tc=$(( $(bench_ms) - t0 ))
QUERY=$(q -c "SELECT ivm.vector_view_query('docs', 'emb', '$Q1'::vector, 10)")
t0=$(bench_ms)
q -c "CREATE MATERIALIZED VIEW near10_mv AS $QUERY" >/dev/null
tm=$(( $(bench_ms) - t0 ))
HOW=$(q -c "SELECT ivm.explain('near10')" | head -n 1)
echo "  created: ivm view $tc ms, materialized view $tm ms" >&2
echo "  $HOW" >&2

# 2. exact scans (no index yet), kept as the truth; 3. the view read
{
    echo "CREATE TABLE truth (n int, ids bigint[]);"
    for i in "${!QV[@]}"; do
        echo "\\echo @@T exact"
        echo "SELECT array_agg(id) AS ids FROM (SELECT id FROM docs ORDER BY emb <-> '${QV[i]}' LIMIT 10) s \\gset"
        echo "INSERT INTO truth VALUES ($((i + 1)), :'ids');"
    done
    for _ in $(seq 1 "$READS"); do
        echo "\\echo @@T view"
        echo "SELECT id, distance FROM near10 ORDER BY distance, id;"
    done
} >"$IVM_TMP/pgv-read.sql"
PLAN_EXACT=$(q -c "EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY emb <-> '$Q1' LIMIT 10" | tr -s ' ' | tr '\n' ';')
timed "$IVM_TMP/pgv-read.sql" >"$IVM_TMP/pgv-read.out"
EXACT=$(awk '$1 == "exact" { print $2 }' "$IVM_TMP/pgv-read.out" | tr '\n' ' ')
VIEW=$(awk '$1 == "view" { print $2 }' "$IVM_TMP/pgv-read.out" | tr '\n' ' ')
SAME=$(q -c "SELECT (SELECT array_agg(id ORDER BY distance, id) FROM near10) = (SELECT ids FROM truth WHERE n = 1)")
echo "  exact scan: median $(bench_median "$EXACT") ms; view read: median $(bench_median "$VIEW") ms; view = exact: $SAME" >&2

# 4. HNSW
echo "building the HNSW index" >&2
t0=$(bench_ms)
q -c "CREATE INDEX docs_hnsw ON docs USING hnsw (emb vector_l2_ops)" >/dev/null
th=$(( $(bench_ms) - t0 ))
q -c "ANALYZE docs" >/dev/null
echo "  built in $th ms" >&2
PLAN_HNSW=$(q -c "EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY emb <-> '$Q1' LIMIT 10" | tr -s ' ' | tr '\n' ';')
# what a rescan of the view runs now that the index exists (topk.c: its
# 2k + 1 first rows, sorted by (distance IS NULL), distance)
PLAN_RESCAN=$(q -c "EXPLAIN (COSTS OFF) SELECT * FROM (SELECT id AS c1, emb <-> '$Q1' AS c2 FROM docs) b(c1, c2)
                    ORDER BY (b.c2 IS NULL), b.c2 FETCH FIRST 21 ROWS ONLY" | tr -s ' ' | tr '\n' ';')

# 5. HNSW queries and their recall
{
    echo "CREATE TABLE approx (ef int, n int, ids bigint[]);"
    # a round untimed: the index's pages into shared buffers
    for i in "${!QV[@]}"; do
        echo "SELECT count(*) FROM (SELECT id FROM docs ORDER BY emb <-> '${QV[i]}' LIMIT 10) s;"
    done
    for ef in $EFS; do
        echo "SET hnsw.ef_search = $ef;"
        for i in "${!QV[@]}"; do
            echo "\\echo @@T hnsw$ef"
            echo "SELECT array_agg(id) AS ids FROM (SELECT id FROM docs ORDER BY emb <-> '${QV[i]}' LIMIT 10) s \\gset"
            echo "INSERT INTO approx VALUES ($ef, $((i + 1)), :'ids');"
        done
    done
    echo "RESET hnsw.ef_search;"
} >"$IVM_TMP/pgv-hnsw.sql"
timed "$IVM_TMP/pgv-hnsw.sql" >"$IVM_TMP/pgv-hnsw.out"
declare -A HNSW RECALL RMIN RALL
for ef in $EFS; do
    HNSW[$ef]=$(awk -v t="hnsw$ef" '$1 == t { print $2 }' "$IVM_TMP/pgv-hnsw.out" | tr '\n' ' ')
    read -r RECALL[$ef] RMIN[$ef] RALL[$ef] < <(q -F ' ' -c "SELECT round(avg(r), 3), round(min(r), 1), string_agg(round(r, 1)::text, ',' ORDER BY r) FROM (
            SELECT (SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (t.ids)) / 10.0 AS r
            FROM approx a JOIN truth t USING (n) WHERE a.ef = $ef) s")
    echo "  HNSW ef_search $ef: median $(bench_median "${HNSW[$ef]}") ms, recall@10 ${RECALL[$ef]} (per query: ${RALL[$ef]})" >&2
done

# 6. ticks against REFRESH
{
    echo "SELECT ivm.tick();"
    echo "CREATE FUNCTION exact_ids() RETURNS bigint[] LANGUAGE sql SET enable_indexscan = off
          AS \$f\$ SELECT array_agg(id ORDER BY d, id) FROM (SELECT id, emb <-> '$Q1' AS d FROM docs ORDER BY d, id LIMIT 10) s \$f\$;"
    next=$((ROWS + 1))
    for rep in $(seq 1 "$REPS"); do
        echo "INSERT INTO docs SELECT $next + i,
                CASE WHEN i < 5 THEN '$Q1'::vector + ARRAY(SELECT (random() * 0.01)::real FROM generate_series(1, $DIM) WHERE i >= 0)::vector
                     ELSE new_vec() END
              FROM generate_series(0, 99) i;"
        next=$((next + 100))
        echo "\\echo @@T tick_insert"
        echo "SELECT * FROM ivm.tick();"
        echo "SELECT coalesce((SELECT strategy FROM ivm.evidence WHERE view = 'near10' AND epoch = (SELECT max(epoch) FROM ivm.evidence)), 'skipped') AS how,
                     (SELECT array_agg(id ORDER BY distance, id) FROM near10) = exact_ids() AS same \\gset"
        echo "\\echo @@V check insert :how :same"
        echo "SET enable_indexscan = off;"
        echo "\\echo @@T refresh_exact"
        echo "REFRESH MATERIALIZED VIEW near10_mv;"
        echo "RESET enable_indexscan;"
        echo "\\echo @@T refresh_hnsw"
        echo "REFRESH MATERIALIZED VIEW near10_mv;"
        echo "SELECT (SELECT count(*) FROM near10_mv m WHERE m.id = ANY (exact_ids())) AS hit \\gset"
        echo "\\echo @@V mvrecall :hit"
        echo "DELETE FROM docs WHERE id IN (SELECT id FROM near10);"
        echo "\\echo @@T tick_delete"
        echo "SELECT * FROM ivm.tick();"
        echo "SELECT coalesce((SELECT strategy FROM ivm.evidence WHERE view = 'near10' AND epoch = (SELECT max(epoch) FROM ivm.evidence)), 'skipped') AS how,
                     (SELECT array_agg(id ORDER BY distance, id) FROM near10) = exact_ids() AS same \\gset"
        echo "\\echo @@V check delete :how :same"
    done
} >"$IVM_TMP/pgv-tick.sql"
timed "$IVM_TMP/pgv-tick.sql" >"$IVM_TMP/pgv-tick.out"
# the tick figures, split by what the tick did (its strategy on near10)
declare -A T
BAD=0
RESCANS=""
while read -r tag a b c; do
    case $tag in
        check) [ "$c" = t ] || BAD=$((BAD + 1))
               if [ "$b" = rescan ]; then RESCANS="$RESCANS $last"; fi ;;
        mvrecall) T[mvrecall]="${T[mvrecall]:-} $a" ;;
        ERROR) echo "$tag $a $b $c" >&2; exit 1 ;;
        *) T[$tag]="${T[$tag]:-} $a"; last=$a ;;
    esac
done <"$IVM_TMP/pgv-tick.out"
grep -E '^check' "$IVM_TMP/pgv-tick.out" | tr '\n' ';' >&2
echo >&2

med() { bench_median "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a / b }'; }
LOAD=$(bench_loadavg)
echo "### (pgv) $ROWS vectors of $DIM dimensions in pgvector's vector, k = 10, l2 ($( [ "$DATA" = clusters ] && echo "1,000 clusters, sigma $SIGMA" || echo "mixes of $LATENT latent vectors"))"
echo
echo "$start; PostgreSQL $(q -c 'SHOW server_version'), pgvector $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'"), $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), load average at the end $LOAD."
echo
echo "| read of the 10 nearest | time per query (ms, median) | recall@10 |"
echo "| --- | ---: | ---: |"
echo "| ivm view (\`SELECT ... FROM near10\`, one query vector, $READS reads) | $(med "$VIEW") | 1 (exact) |"
echo "| exact scan, no index ($NQ query vectors) | $(med "$EXACT") | 1 |"
for ef in $EFS; do
    echo "| HNSW, ef_search $ef ($NQ query vectors) | $(med "${HNSW[$ef]}") | ${RECALL[$ef]} (per query: ${RALL[$ef]}) |"
done
echo
echo "| change (median of $REPS) | ivm tick (ms) | REFRESH, exact (ms) | REFRESH / tick | REFRESH through HNSW (ms) |"
echo "| --- | ---: | ---: | ---: | ---: |"
echo "| 100 inserts, 5 of them into the 10 nearest | $(med "${T[tick_insert]}") (${T[tick_insert]# }) | $(med "${T[refresh_exact]}") | $(ratio "$(med "${T[refresh_exact]}")" "$(med "${T[tick_insert]}")")× | $(med "${T[refresh_hnsw]}") (of the exact 10 it held $(echo "${T[mvrecall]}" | tr -s ' ' | sed 's/^ //; s/ /, /g')) |"
echo "| the view's 10 members deleted | $(med "${T[tick_delete]}") (${T[tick_delete]# }) | | | |"
echo
echo "Created: ivm view $tc ms, materialized view $tm ms; HNSW index built in $th ms (m 16, ef_construction 64, maintenance_work_mem $MWM). Ticks that rescanned (ms):${RESCANS:- none}. Ticks whose view differed from the exact query: $BAD."
echo
echo "Plans (the query vector shown as [...]): exact: \`$PLAN_EXACT\`; through the index: \`$PLAN_HNSW\`; a rescan of the view, with the index there: \`$PLAN_RESCAN\`." |
    sed -E "s/'\[[^]]*\]'/'[...]'/g"
[ "$BAD" = 0 ] && [ "$SAME" = t ]
