#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/memory-delta.sh -- bounded memory in a tick: the backend's peak
# private memory while one tick folds a delta of N rows into two views, for
# N = 10^5, 10^6, 10^7 and work_mem = 4MB and 64MB.
#
#   bash test/bench/memory-delta.sh
#   IVM_BENCH_DELTA_ROWS="100000 1000000" IVM_BENCH_DELTA_WORK_MEM="4MB" bash test/bench/memory-delta.sh
#
# For each (work_mem, N): an empty t(id int primary key, k int, v int,
# s text), an SPJ view (every column) and an aggregate view (count, sum per
# k of 1,000 groups) over it, N rows inserted in one statement, then one
# tick in a session of its own with ivm.fallback_ratio = 1000000 (so the
# delta rules run, not a recompute), while a sampler reads the backend's
# RssAnon (its private memory, not the shared buffers it maps) from /proc
# every 20 ms.  Prints a Markdown table: wall time of the tick, RssAnon
# before and at its peak, and whether both views equal their queries after
# it.  Uses the cluster exported by run-all.sh when there is one, else
# starts its own (test/lib.sh).
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=test/bench/lib-bench.sh
. "$HERE/lib-bench.sh"

ROWS=${IVM_BENCH_DELTA_ROWS:-100000 1000000 10000000}
WORK_MEMS=${IVM_BENCH_DELTA_WORK_MEM:-4MB 64MB}
DB=${IVM_DB:-ivm_bench_delta}

ivm_cluster_use_or_start

# tick_peak: "ms|rss_before_kB|rss_peak_kB" of one tick at work_mem $1
tick_peak() {
    bench_rss_peak "$DB" "SET work_mem = '$1';
SET ivm.fallback_ratio = 1000000;
SELECT rows_in FROM ivm.tick();"
}

mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

echo "| work_mem | delta rows | tick, s | RssAnon before, MB | RssAnon peak, MB | peak - before, MB | views equal their queries |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
for wm in $WORK_MEMS; do
    for n in $ROWS; do
        ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
        ivm_psql -d postgres -c "CREATE DATABASE $DB" >/dev/null
        ivm_psql -d "$DB" >/dev/null <<SQL
CREATE EXTENSION ivm;
CREATE TABLE t (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL, s text NOT NULL);
SELECT ivm.create_view('spj', 'SELECT id, k, v, s FROM t');
SELECT ivm.create_view('agg', 'SELECT k, count(*) AS n, sum(v) AS total FROM t GROUP BY k');
INSERT INTO t SELECT g, g % 1000, (g::int8 * 7919 % 1000003)::int, md5(g::text) FROM generate_series(1, $n) g;
SQL
        IFS='|' read -r ms base peak <<<"$(tick_peak "$wm")"
        wrong=$(ivm_psql -d "$DB" -At -c "SELECT (SELECT count(*) FROM ((TABLE spj EXCEPT ALL SELECT id, k, v, s FROM t) UNION ALL (SELECT id, k, v, s FROM t EXCEPT ALL TABLE spj)) d) + (SELECT count(*) FROM ((TABLE agg EXCEPT ALL SELECT k, count(*), sum(v) FROM t GROUP BY k) UNION ALL (SELECT k, count(*), sum(v) FROM t GROUP BY k EXCEPT ALL TABLE agg)) d)")
        strat=$(ivm_psql -d "$DB" -At -c "SELECT string_agg(strategy, ',' ORDER BY view) FROM ivm.evidence WHERE epoch = (SELECT max(epoch) FROM ivm.evidence)")
        echo "| $wm | $n | $(awk -v m="$ms" 'BEGIN { printf "%.1f", m / 1000 }') | $(mb "$base") | $(mb "$peak") | $(mb $((peak - base))) | $([ "$wrong" = 0 ] && echo yes || echo "NO ($wrong rows differ)") ($strat) |"
    done
done
ivm_psql -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
