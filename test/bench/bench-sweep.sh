# shellcheck shell=bash
# ---------------------------------------------------------------------------
# test/bench/bench-sweep.sh -- (sweep) tick time against delta size.
# Sourced by run.sh.
#
# One database, bench_sweep: t(id int primary key, k int, v int) with
# $BENCH_SWEEP_ROWS rows (IVM_BENCH_SWEEP_ROWS, default 1,000,000; k = 1 +
# id % 1000, v random) and dim(k int primary key, name text) with 1,000 rows.
# Two views, measured one at a time (only that view exists, so a tick costs
# exactly what that view costs), each beside a plain CREATE MATERIALIZED VIEW
# of the same query:
#   agg    SELECT k, count(*), sum(v) FROM t GROUP BY k
#   joined SELECT t.id, t.v, d.name FROM t JOIN dim d ON d.k = t.k
# For each delta size d of 1, 10, 100, ... up to 10% of the rows (and 10%
# itself when it is not a power of ten), $BENCH_SWEEP_REPS repetitions
# (IVM_BENCH_SWEEP_REPS) of:
#   UPDATE t SET v = v + 1 on d consecutive ids from a random start (2d delta
#   rows: -old +new); the timed tick with the settings as they are (the cost
#   rule may recompute: its strategy is recorded); another such UPDATE and
#   the timed tick with ivm.fallback_ratio = 1000000 (the delta rules,
#   whatever the size); the timed REFRESH MATERIALIZED VIEW in that state.
# A warm-up round (not recorded) opens each view's session; t is vacuumed
# (not timed) after each size.  The view is compared with its query at the
# end, then both are dropped.
# Metrics (config VIEW:d): tick_ms, tick_duration_ms, strategy, rows_in;
# nofb_tick_ms, nofb_tick_duration_ms, nofb_strategy; refresh_ms.
# ---------------------------------------------------------------------------

BENCH_SWEEP_VIEWS=(
    "agg|SELECT k, count(*), sum(v) FROM t GROUP BY k"
    "joined|SELECT t.id, t.v, d.name FROM t JOIN dim d ON d.k = t.k"
)

# bench_sweep_sizes N: the delta sizes for a table of N rows, ascending.
bench_sweep_sizes() {
    awk -v n="$1" 'BEGIN { top = int(n / 10); if (top < 1) top = 1
        for (d = 1; d <= top; d *= 10) { printf "%d ", d; last = d }
        if (last != top) printf "%d ", top; print "" }'
}

# bench_sweep_update D: the SQL of one UPDATE of D consecutive rows of t from
# a random start (psql variables, so that every repetition draws again).
bench_sweep_update() {
    cat <<SQL
SELECT 1 + floor(random() * ($BENCH_SWEEP_ROWS - $1 + 1))::int AS lo \\gset
UPDATE t SET v = v + 1 WHERE id >= :lo AND id < :lo + $1;
SQL
}

# bench_sweep_setup: the database and its two tables.
bench_sweep_setup() {
    bench_recreate_db bench_sweep >/dev/null || { bench_fail sweep-setup "could not create database bench_sweep"; return 1; }
    bench_sql sweep-setup bench_sweep <<SQL
CREATE TABLE dim (k int PRIMARY KEY, name text);
INSERT INTO dim SELECT g, 'name ' || g FROM generate_series(1, 1000) g;
CREATE TABLE t (id int, k int, v int);
INSERT INTO t SELECT g, 1 + g % 1000, (random() * 1000000)::int FROM generate_series(1, $BENCH_SWEEP_ROWS) g;
ALTER TABLE t ADD PRIMARY KEY (id);
UPDATE t SET v = v;
VACUUM ANALYZE;
SQL
}

# bench_sweep_view NAME QUERY: the sweep for one view.
bench_sweep_view() {
    local name=$1 query=$2 d rep rc=0 cfg

    {
        cat <<SQL
\\echo @@T sweep,$name,create_view_ms,1
SELECT ivm.create_view('$name', \$q\$$query\$q\$);
\\echo @@T sweep,$name,create_matview_ms,1
CREATE MATERIALIZED VIEW ${name}_mv AS $query;
VACUUM ANALYZE;
SQL
        bench_sweep_update 10
        echo "SELECT * FROM ivm.tick();"
        echo "REFRESH MATERIALIZED VIEW ${name}_mv;"
        for d in $(bench_sweep_sizes "$BENCH_SWEEP_ROWS"); do
            cfg="$name:$d"
            for ((rep = 1; rep <= BENCH_SWEEP_REPS; rep++)); do
                bench_sweep_update "$d"
                cat <<SQL
\\echo @@T sweep,$cfg,tick_ms,$rep
SELECT * FROM ivm.tick() \\gset tk_
\\echo @@V sweep,$cfg,tick_duration_ms,$rep,:tk_duration_ms
\\echo @@V sweep,$cfg,rows_in,$rep,:tk_rows_in
SELECT format('@@V sweep,$cfg,strategy,$rep,%s', e.strategy)
FROM ivm.evidence e WHERE e.epoch = :tk_epoch AND e.view = '$name';
SQL
                bench_sweep_update "$d"
                cat <<SQL
SET ivm.fallback_ratio = 1000000;
\\echo @@T sweep,$cfg,nofb_tick_ms,$rep
SELECT * FROM ivm.tick() \\gset tk_
RESET ivm.fallback_ratio;
\\echo @@V sweep,$cfg,nofb_tick_duration_ms,$rep,:tk_duration_ms
SELECT format('@@V sweep,$cfg,nofb_strategy,$rep,%s', e.strategy)
FROM ivm.evidence e WHERE e.epoch = :tk_epoch AND e.view = '$name';
\\echo @@T sweep,$cfg,refresh_ms,$rep
REFRESH MATERIALIZED VIEW ${name}_mv;
SQL
            done
            echo "VACUUM t;"
        done
    } | bench_sql "sweep-$name" bench_sweep || rc=1
    bench_check "sweep-$name" bench_sweep "$name" "$query" || rc=1
    bench_q bench_sweep "DROP MATERIALIZED VIEW IF EXISTS ${name}_mv" >/dev/null 2>&1 || true
    bench_q bench_sweep "SELECT ivm.drop_view('$name')" >/dev/null 2>&1 || true
    awk -F, -v n="$name" '$1 == "sweep" && index($2, n ":") == 1 && ($3 == "tick_ms" || $3 == "refresh_ms") {
            split($2, a, ":"); s[a[2] + 0, $3] = s[a[2] + 0, $3] " " $5; ds[a[2] + 0] = 1 }
        END { for (d in ds) printf "  %s d=%s: tick%s ms; REFRESH%s ms\n", n, d, s[d, "tick_ms"], s[d, "refresh_ms"] }' \
        "$RUN_DIR/raw.csv" | sort -t= -k2 -n
    return "$rc"
}

bench_sweep() {
    local start=$SECONDS spec rc=0

    ivm_say "(sweep) tick time against delta size: $BENCH_SWEEP_ROWS rows, deltas [$(bench_sweep_sizes "$BENCH_SWEEP_ROWS")], $BENCH_SWEEP_REPS reps"
    bench_sweep_setup || return 1
    for spec in "${BENCH_SWEEP_VIEWS[@]}"; do
        bench_sweep_view "${spec%%|*}" "${spec#*|}" || rc=1
    done
    bench_record sweep setup bench_seconds 1 "$((SECONDS - start))"
    bench_drop_db bench_sweep >/dev/null
    echo "  done ($(bench_elapsed "$start"))"
    return "$rc"
}
