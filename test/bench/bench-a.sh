# shellcheck shell=bash
# ---------------------------------------------------------------------------
# test/bench/bench-a.sh -- (a) tick latency of an aggregate view after a
# one-row UPDATE, against REFRESH MATERIALIZED VIEW [CONCURRENTLY] of the same
# query, at each table size of $BENCH_SIZES.  Sourced by run.sh.
#
#   t(id int primary key, k int, v int), k = 1 + id % 1000, v random
#   agg    = ivm.create_view('agg', 'SELECT k, count(*), sum(v) FROM t GROUP BY k')
#   agg_mv = CREATE MATERIALIZED VIEW of the same query, unique index on k
#
# Per repetition, in one psql session after a warm-up round:
#   UPDATE t SET v = v + 1 WHERE id = <random id>;   (not timed)
#   SELECT * FROM ivm.tick();                        tick_wall_ms, tick_duration_ms
#   REFRESH MATERIALIZED VIEW CONCURRENTLY agg_mv;   refresh_concurrently_ms
#   REFRESH MATERIALIZED VIEW agg_mv;                refresh_ms
# Each tick consumes exactly that one UPDATE; the concurrent REFRESH finds
# exactly that one changed row (agg_mv was refreshed just before it); the
# plain REFRESH rebuilds everything whatever changed.
# ---------------------------------------------------------------------------

BENCH_A_QUERY='SELECT k, count(*), sum(v) FROM t GROUP BY k'

# bench_a_size N: the whole of (a) at N rows, in a database of its own.
bench_a_size() {
    local n=$1 db=bench_a i start=$SECONDS

    ivm_say "(a) aggregate view, $n rows"
    bench_recreate_db "$db" >/dev/null || { bench_fail "a-$n" "could not create database $db"; return 1; }

    bench_sql "a-$n-setup" "$db" <<SQL || return 1
CREATE TABLE t (id int, k int, v int);
\\echo @@T a,$n,load_ms,1
INSERT INTO t SELECT g, 1 + g % 1000, (random() * 1000000)::int FROM generate_series(1, $n) g;
\\echo @@T a,$n,primary_key_ms,1
ALTER TABLE t ADD PRIMARY KEY (id);
VACUUM ANALYZE t;
\\echo @@T a,$n,create_view_ms,1
SELECT ivm.create_view('agg', \$q\$$BENCH_A_QUERY\$q\$);
\\echo @@T a,$n,create_matview_ms,1
CREATE MATERIALIZED VIEW agg_mv AS $BENCH_A_QUERY;
CREATE UNIQUE INDEX agg_mv_k ON agg_mv (k);
VACUUM ANALYZE t;
SQL
    echo "  set-up done ($(bench_elapsed "$start")); measuring $BENCH_REPS repetitions"

    {
        # Warm-up, in the measuring session: caches, plans, the first tick.
        echo "SELECT 1 + floor(random() * $n)::int AS rid \\gset"
        echo "UPDATE t SET v = v + 1 WHERE id = :rid;"
        echo "SELECT * FROM ivm.tick();"
        echo "REFRESH MATERIALIZED VIEW CONCURRENTLY agg_mv;"
        echo "REFRESH MATERIALIZED VIEW agg_mv;"
        for ((i = 1; i <= BENCH_REPS; i++)); do
            cat <<SQL
SELECT 1 + floor(random() * $n)::int AS rid \\gset
UPDATE t SET v = v + 1 WHERE id = :rid;
\\echo @@T a,$n,tick_wall_ms,$i
SELECT * FROM ivm.tick() \\gset tk_
\\echo @@V a,$n,tick_duration_ms,$i,:tk_duration_ms
\\echo @@V a,$n,tick_rows_in,$i,:tk_rows_in
\\echo @@V a,$n,tick_rows_out,$i,:tk_rows_out
\\echo @@V a,$n,tick_epoch,$i,:tk_epoch
\\echo @@T a,$n,refresh_concurrently_ms,$i
REFRESH MATERIALIZED VIEW CONCURRENTLY agg_mv;
\\echo @@T a,$n,refresh_ms,$i
REFRESH MATERIALIZED VIEW agg_mv;
SQL
        done
    } | bench_sql "a-$n-measure" "$db" || return 1

    # The last tick measured is the newest epoch: no tick ran after it.
    bench_evidence "a-$n" "$db" "epoch = (SELECT max(epoch) FROM ivm.evidence)"
    bench_check "a-$n" "$db" agg "$BENCH_A_QUERY"
    bench_record a "$n" bench_seconds 1 "$((SECONDS - start))"
    bench_drop_db "$db" >/dev/null
    echo "  done ($(bench_elapsed "$start"))"
}

bench_a() {
    local n rc=0

    for n in $BENCH_SIZES; do
        bench_a_size "$n" || rc=1
    done
    bench_drop_db bench_a >/dev/null 2>&1 || true
    return "$rc"
}
