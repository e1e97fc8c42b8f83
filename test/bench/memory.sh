#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/memory.sh -- bulk fill and bounded memory: wall time and the
# backend's peak private memory while ivm creates, REFRESHes and recomputes
# an incremental view of many rows, against PostgreSQL's own REFRESH of the
# same query.
#
#   bash test/bench/memory.sh                         # 10,000,000 rows
#   IVM_BENCH_MEM_ROWS=1000000 bash test/bench/memory.sh
#
# t(id int primary key, k int, v int, s text): IVM_BENCH_MEM_ROWS rows
# (s = md5(id), 32 characters).  Each step in its own session, while a
# sampler reads the backend's RssAnon (its private, anonymous memory:
# palloc'd memory, not the shared buffers it maps) from /proc every 20 ms:
#   - plain:   REFRESH MATERIALIZED VIEW of an ordinary materialized view of
#              the query (PostgreSQL's own: the baseline);
#   - fill:    REFRESH of the incremental view created WITH NO DATA (nothing
#              reads its delta: written whole, a new heap, indexes after);
#   - redo:    REFRESH of the filled view after 1% of t changed (the same:
#              a new heap swapped in);
#   - create:  ivm.create_view of a second view of the query, with its data
#              (written whole too); then a view on it is created, so that
#              the next step must emit the view's delta;
#   - diffed:  REFRESH of that second view after 1% of t changed: a view
#              reads it, so it is diffed (every row compared, the delta of
#              what changed emitted).
# Prints a Markdown table: wall time and its ratio to PostgreSQL's REFRESH,
# RssAnon before and at its peak, and the storage's size.  work_mem is the
# server's (IVM_BENCH_MEM_WORK_MEM sets it for the sessions; default 64MB).
# Uses the cluster exported by run-all.sh when there is one, else starts its
# own (test/lib.sh).
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=test/bench/lib-bench.sh
. "$HERE/lib-bench.sh"

N=${IVM_BENCH_MEM_ROWS:-10000000}
WORK_MEM=${IVM_BENCH_MEM_WORK_MEM:-64MB}
DB=${IVM_DB:-ivm_bench_mem}
case "$N" in '' | *[!0-9]*) echo "IVM_BENCH_MEM_ROWS must be a positive integer, not '$N'" >&2; exit 2 ;; esac

ivm_cluster_use_or_start
ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
ivm_psql -d postgres -c "CREATE DATABASE $DB" >/dev/null
ivm_say "loading $N rows"
ivm_psql -d "$DB" >/dev/null <<SQL
CREATE EXTENSION ivm;
CREATE TABLE t (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL, s text NOT NULL);
INSERT INTO t SELECT g, g % 1000, (g::int8 * 7919 % 1000003)::int, md5(g::text) FROM generate_series(1, $N) g;
VACUUM ANALYZE t;
CREATE MATERIALIZED VIEW plain AS SELECT id, k, v, s FROM t WITH NO DATA;
CREATE MATERIALIZED VIEW spj WITH (ivm.incremental) AS SELECT id, k, v, s FROM t WITH NO DATA;
SQL

# measure label sql: "label|ms|rss_before_kB|rss_peak_kB"
measure() {
    echo "$1|$(bench_rss_peak "$DB" "SET work_mem = '$WORK_MEM';
$2")"
}

ivm_say "REFRESH, with the backend's private memory sampled"
plain=$(measure plain "REFRESH MATERIALIZED VIEW plain;")
fill=$(measure fill "REFRESH MATERIALIZED VIEW spj;")
ivm_psql -d "$DB" -c "UPDATE t SET v = v + 1 WHERE id % 100 = 7" >/dev/null
redo=$(measure redo "REFRESH MATERIALIZED VIEW spj;")
sizes=$(ivm_psql -d "$DB" -At -c "SELECT pg_total_relation_size('plain'), pg_total_relation_size(storage::regclass) FROM ivm.views WHERE name = 'spj'::regclass")
wrong=$(ivm_psql -d "$DB" -At -c "SELECT count(*) FROM ((SELECT * FROM spj EXCEPT ALL SELECT id, k, v, s FROM t) UNION ALL (SELECT id, k, v, s FROM t EXCEPT ALL SELECT * FROM spj)) d")
ivm_psql -d "$DB" -c "DROP MATERIALIZED VIEW spj" >/dev/null
ivm_say "creation, and the REFRESH of a view another view reads"
create=$(measure create "SELECT ivm.create_view('spjc', 'SELECT id, k, v, s FROM t');")
ivm_psql -d "$DB" -c "SELECT ivm.create_view('spjc_k', 'SELECT k, count(*) AS n, sum(v) AS sv FROM spjc GROUP BY k')" >/dev/null
ivm_psql -d "$DB" -c "UPDATE t SET v = v + 1 WHERE id % 100 = 8" >/dev/null
diffed=$(measure diffed "REFRESH MATERIALIZED VIEW spjc;")
wrong2=$(ivm_psql -d "$DB" -At -c "SELECT (SELECT count(*) FROM ((SELECT * FROM spjc EXCEPT ALL SELECT id, k, v, s FROM t) UNION ALL (SELECT id, k, v, s FROM t EXCEPT ALL SELECT * FROM spjc)) d)
  + (SELECT count(*) FROM ((SELECT * FROM spjc_k EXCEPT ALL SELECT k, count(*), sum(v) FROM t GROUP BY k) UNION ALL (SELECT k, count(*), sum(v) FROM t GROUP BY k EXCEPT ALL SELECT * FROM spjc_k)) d)")

mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
plain_ms=$(echo "$plain" | cut -d'|' -f2)
echo
echo "| a view of $N rows (work_mem $WORK_MEM) | wall ms | × PostgreSQL's REFRESH | RssAnon before, MB | RssAnon peak, MB | peak - before, MB |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for row in "$plain" "$fill" "$redo" "$create" "$diffed"; do
    IFS='|' read -r label ms base peak <<<"$row"
    case $label in
        plain) what="PostgreSQL's REFRESH MATERIALIZED VIEW (ordinary matview)" ;;
        fill) what="ivm: REFRESH of the view created WITH NO DATA (written whole)" ;;
        redo) what="ivm: REFRESH after 1% of the rows changed, nothing reads the view (written whole)" ;;
        create) what="ivm: ivm.create_view with data (written whole)" ;;
        diffed) what="ivm: REFRESH after 1% changed, a view reads the view (diffed, its delta emitted)" ;;
    esac
    echo "| $what | $ms | $(awk -v a="$ms" -v b="$plain_ms" 'BEGIN { printf "%.1f", a / b }') | $(mb "$base") | $(mb "$peak") | $(mb $((peak - base))) |"
done
echo
echo "Sizes: the ordinary matview $(awk -v b="${sizes%%|*}" 'BEGIN { printf "%.0f", b / 1048576 }') MB; the incremental view's storage (with its hidden row hash and index) $(awk -v b="${sizes##*|}" 'BEGIN { printf "%.0f", b / 1048576 }') MB. The views equal their queries: $([ "$wrong" = 0 ] && [ "$wrong2" = 0 ] && echo yes || echo "NO ($wrong, $wrong2 rows differ)")."
[ "$wrong" = 0 ] && [ "$wrong2" = 0 ]
