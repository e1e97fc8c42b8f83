#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/bench-partitioned.sh -- (p) partitioned views: one tick after a
# 1% change of a 10M-row table, shards maintained serially vs by parallel
# workers, against the same view unpartitioned and against REFRESH.
#
#   bash test/bench/bench-partitioned.sh          # prints a Markdown section
#
# A cluster of its own (test/lib.sh).  orders (IVM_BENCH_P_ROWS rows, 10M by
# default) and customers (a tenth as many); two queries:
#   agg   SELECT customer_id, count(*), sum(amount) FROM orders GROUP BY customer_id
#   join  SELECT o.id, o.customer_id, o.amount, c.region
#           FROM orders o JOIN customers c USING (customer_id)
# each as a partitioned view (IVM_BENCH_P_SHARDS shards, 2 by default, key
# customer_id), as an unpartitioned view, and as a materialized view.  Each
# repetition changes 1% of orders (UPDATE of amount: a delta of 2% of the
# rows, -old +new) and ticks twice: once with ivm.parallel_min_rows at its
# maximum (the tick maintains the shards one after the other) and once at 0
# (the shards' delta queries in workers, ivm.max_workers = 2); every tick
# also maintains the unpartitioned views.  The figures are each view's
# maintenance time in its tick (ivm.evidence.duration_us), so that the
# tick's shared work (consuming the logs) counts for none of them; REFRESH
# MATERIALIZED VIEW is timed by the client.  ivm.fallback_ratio is raised so
# that both run the delta rules (the fallback could recompute otherwise).
# Every view is compared with its query at the end.
#
# Environment: IVM_BENCH_P_ROWS (10000000), IVM_BENCH_P_SHARDS (2),
# IVM_BENCH_P_REPS (3), IVM_SKIP_BUILD=1.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=test/bench/lib-bench.sh
. "$HERE/lib-bench.sh"

ROWS=${IVM_BENCH_P_ROWS:-10000000}
SHARDS=${IVM_BENCH_P_SHARDS:-2}
REPS=${IVM_BENCH_P_REPS:-3}
CUSTOMERS=$((ROWS / 10))
DB=bench_p

bench_large_cluster "ivm.max_workers = 2"

q() {
    ivm_psql -d "$DB" -At "$@"
}

ivm_psql -q -c "CREATE DATABASE $DB"
echo "loading $ROWS orders, $CUSTOMERS customers" >&2
q >/dev/null <<SQL
CREATE EXTENSION ivm;
CREATE TABLE customers (customer_id int PRIMARY KEY, region int NOT NULL);
INSERT INTO customers SELECT i, i % 50 FROM generate_series(1, $CUSTOMERS) i;
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, amount numeric NOT NULL);
INSERT INTO orders SELECT i, (hashint4(i::int) & 1073741823) % $CUSTOMERS + 1, (i % 1000) / 10.0
  FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE customers;
VACUUM ANALYZE orders;
SQL

AGG='SELECT customer_id, count(*) AS n, sum(amount) AS total FROM orders GROUP BY customer_id'
JOIN='SELECT o.id, o.customer_id, o.amount, c.region FROM orders o JOIN customers c USING (customer_id)'
declare -A CREATE
for v in agg join; do
    query=$AGG
    [ $v = join ] && query=$JOIN
    t0=$(bench_ms)
    q -c "SELECT ivm.create_view('${v}_p', \$q\$$query\$q\$, options => '{\"partitions\": $SHARDS, \"partition_key\": \"customer_id\"}')" >/dev/null
    t1=$(bench_ms)
    q -c "SELECT ivm.create_view('${v}_1', \$q\$$query\$q\$)" >/dev/null
    t2=$(bench_ms)
    q -c "CREATE MATERIALIZED VIEW ${v}_mv AS $query" >/dev/null
    t3=$(bench_ms)
    CREATE[$v]="$((t1 - t0)) ms partitioned, $((t2 - t1)) ms unpartitioned, $((t3 - t2)) ms CREATE MATERIALIZED VIEW"
    echo "  $v created: ${CREATE[$v]}" >&2
done
q -c "VACUUM ANALYZE" >/dev/null

declare -A SUM
for rep in $(seq 1 "$REPS"); do
    for mode in serial parallel; do
        minrows=2147483647
        [ $mode = parallel ] && minrows=0
        # 1% of orders, a different 1% each time
        slice=$((rep * 2))
        [ $mode = parallel ] && slice=$((slice + 1))
        q -c "UPDATE orders SET amount = amount + 1 WHERE id % 100 = $slice" >/dev/null
        out=$(q -F ' ' -c "SET ivm.fallback_ratio = 1000" -c "SET ivm.parallel_min_rows = $minrows" \
              -c "SELECT rows_in, round(duration_ms) FROM ivm.tick()")
        line=$(q -F ' ' -c "SELECT string_agg(view || '=' || strategy || ':' || round(duration_us / 1000.0), ' ' ORDER BY view)
                               FROM ivm.evidence WHERE epoch = (SELECT max(epoch) FROM ivm.evidence)")
        echo "  rep $rep $mode: tick (rows_in, ms) $out; per view (ms) $line" >&2
        for kv in $line; do
            name=${kv%%=*}
            val=${kv##*:}
            SUM[$mode,$name]="${SUM[$mode,$name]:-} $val"
        done
    done
    for v in agg join; do
        t0=$(bench_ms)
        q -c "REFRESH MATERIALIZED VIEW ${v}_mv" >/dev/null
        SUM[refresh,$v]="${SUM[refresh,$v]:-} $(( $(bench_ms) - t0 ))"
    done
    echo "  rep $rep refresh: agg${SUM[refresh,agg]##* } ms, join${SUM[refresh,join]##* } ms" >&2
done

bad=$(q -c "SELECT (SELECT count(*) FROM ((SELECT * FROM agg_p EXCEPT ALL $AGG) UNION ALL (($AGG) EXCEPT ALL SELECT * FROM agg_p)) d)
             + (SELECT count(*) FROM ((SELECT * FROM join_p EXCEPT ALL $JOIN) UNION ALL (($JOIN) EXCEPT ALL SELECT * FROM join_p)) d)
             + (SELECT count(*) FROM ((SELECT * FROM agg_1 EXCEPT ALL SELECT * FROM agg_p) UNION ALL (SELECT * FROM agg_p EXCEPT ALL SELECT * FROM agg_1)) d)")
echo "  rows that differ from the queries: $bad" >&2

echo "| view | partitioned, shards serial (ms) | partitioned, $SHARDS shards in 2 workers (ms) | speedup | unpartitioned (ms) | REFRESH (ms) | parallel vs REFRESH |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for v in agg join; do
    s=$(bench_median "${SUM[serial,${v}_p]}")
    p=$(bench_median "${SUM[parallel,${v}_p]}")
    u=$(bench_median "${SUM[serial,${v}_1]} ${SUM[parallel,${v}_1]}")
    r=$(bench_median "${SUM[refresh,$v]}")
    printf '| %s | %s (%s) | %s (%s) | %s | %s | %s (%s) | %s |\n' "$v" "$s" "${SUM[serial,${v}_p]# }" "$p" "${SUM[parallel,${v}_p]# }" \
        "$(awk -v a="$s" -v b="$p" 'BEGIN { printf "%.2fx", a / b }')" "$u" "$r" "${SUM[refresh,$v]# }" \
        "$(awk -v a="$r" -v b="$p" 'BEGIN { printf "%.1fx", a / b }')"
done
echo
echo "Creation: agg ${CREATE[agg]}; join ${CREATE[join]}. Rows differing from the queries at the end: $bad."
