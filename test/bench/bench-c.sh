# shellcheck shell=bash
# ---------------------------------------------------------------------------
# test/bench/bench-c.sh -- (c) write overhead of capture and (d) catch-up.
# Sourced by run.sh.
#
# Two databases, identical but for the views:
#   bench_c_none   t(id int primary key, k int, v int) with $BENCH_WRITE_ROWS
#                  rows (k = 1 + id % 1000, v random) and dim(k int primary
#                  key, name text) with 1,000 rows; ivm installed, no view, so
#                  t has no capture trigger (checked).  Every row of t is
#                  updated once and the table vacuumed before any view exists
#                  and any run: each run then starts from the same steady
#                  state (free space in every page) rather than a fresh table.
#   bench_c_views  the same plus three incremental views:
#                    agg      SELECT k, count(*), sum(v) FROM t GROUP BY k
#                    joined   SELECT t.id, t.v, d.name FROM t JOIN dim d ON d.k = t.k
#                    filtered SELECT id, v FROM t WHERE v % 10 = 0
# (c) pgbench -n -M prepared -T $BENCH_SECONDS with the script
#       \set id random(1, $BENCH_WRITE_ROWS)
#       UPDATE t SET v = v + 1 WHERE id = :id;
#     at each client count of $BENCH_CLIENTS (-j = min(clients, cores)),
#     $BENCH_RUNS runs per configuration, "none" and "views" alternating
#     (run 1: none first, run 2: views first, ...).  Before each run: VACUUM
#     ANALYZE of the database and a CHECKPOINT.  No tick runs during a run.
# (d) right after each run with views: one SELECT * FROM ivm.tick(), which
#     consumes everything the run captured: rows_in, duration, rows_in/s.
# ---------------------------------------------------------------------------

BENCH_C_VIEWS=(
    "agg|SELECT k, count(*), sum(v) FROM t GROUP BY k"
    "joined|SELECT t.id, t.v, d.name FROM t JOIN dim d ON d.k = t.k"
    "filtered|SELECT id, v FROM t WHERE v % 10 = 0"
)

# bench_c_setup DB WITH_VIEWS(0|1)
bench_c_setup() {
    local db=$1 views=$2 m=$BENCH_WRITE_ROWS cfg=none spec

    [ "$views" = 1 ] && cfg=views
    bench_recreate_db "$db" >/dev/null || { bench_fail "c-setup-$cfg" "could not create database $db"; return 1; }
    {
        cat <<SQL
CREATE TABLE dim (k int PRIMARY KEY, name text);
INSERT INTO dim SELECT g, 'name ' || g FROM generate_series(1, 1000) g;
CREATE TABLE t (id int, k int, v int);
INSERT INTO t SELECT g, 1 + g % 1000, (random() * 1000000)::int FROM generate_series(1, $m) g;
ALTER TABLE t ADD PRIMARY KEY (id);
-- One update of every row, then VACUUM: every page keeps free space, as in a
-- table that has lived, so that each run finds the same steady state (HOT
-- updates) instead of a fresh table whose first updates cost more.
UPDATE t SET v = v;
VACUUM ANALYZE;
SQL
        if [ "$views" = 1 ]; then
            for spec in "${BENCH_C_VIEWS[@]}"; do
                printf '%s\n' "\\echo @@T c,setup,create_view_${spec%%|*}_ms,1"
                echo "SELECT ivm.create_view('${spec%%|*}', \$q\$${spec#*|}\$q\$);"
            done
            echo "SELECT * FROM ivm.tick();"
            echo "VACUUM ANALYZE;"
        fi
    } | bench_sql "c-setup-$cfg" "$db"
}

# bench_c_pgbench CFG DB CLIENTS RUN SECONDS [RECORD(1|0)]: one pgbench run.
bench_c_pgbench() {
    local cfg=$1 db=$2 c=$3 run=$4 secs=$5 record=${6:-1} j log tps lat txns failed cpu0 load0 steal

    j=$(( c < BENCH_CORES ? c : BENCH_CORES ))
    log=$(bench_log "c-pgbench-$cfg-c$c-run$run")
    if ! ivm_psql -d "$db" -c "VACUUM ANALYZE" -c "CHECKPOINT" >"$log.prep" 2>&1; then
        bench_fail "c $cfg c=$c run $run" "VACUUM/CHECKPOINT failed: $(head -n 3 "$log.prep" | tr '\n' ' ')"
        return 1
    fi
    rm -f "$log.prep"
    load0=$(bench_loadavg)
    cpu0=$(bench_cpu_sample)
    if ! "$IVM_PG_BIN/pgbench" -n -M prepared -c "$c" -j "$j" -T "$secs" \
            -f "$RUN_DIR/update.pgbench" "$db" >"$log" 2>&1; then
        bench_fail "c $cfg c=$c run $run" "pgbench failed: $(grep -m 3 -E 'error|ERROR|FATAL' "$log" | tr '\n' ' ')(log: $log)"
        return 1
    fi
    steal=$(bench_steal_pct "$cpu0" "$(bench_cpu_sample)")
    [ "$record" = 1 ] || return 0
    tps=$(awk '/^tps = / { print $3; exit }' "$log")
    lat=$(awk '/^latency average = / { print $4; exit }' "$log")
    txns=$(awk -F': ' '/^number of transactions actually processed/ { split($2, a, "/"); print a[1] + 0; exit }' "$log")
    failed=$(awk -F': ' '/^number of failed transactions/ { split($2, a, " "); print a[1] + 0; exit }' "$log")
    if [ -z "$tps" ]; then
        bench_fail "c $cfg c=$c run $run" "no tps line in the pgbench output (log: $log)"
        return 1
    fi
    bench_record c "c${c}_$cfg" tps "$run" "$tps"
    bench_record c "c${c}_$cfg" latency_ms "$run" "${lat:-}"
    bench_record c "c${c}_$cfg" transactions "$run" "${txns:-}"
    bench_record c "c${c}_$cfg" failed_transactions "$run" "${failed:-0}"
    bench_record c "c${c}_$cfg" cpu_steal_pct "$run" "$steal"
    bench_record c "c${c}_$cfg" loadavg_before "$run" "$load0"
    echo "  c=$c $cfg run $run: $tps tps (${txns:-?} transactions; CPU steal $steal%, load before $load0)"
}

# bench_d_catchup CLIENTS RUN: the tick after a run with views, timed.
bench_d_catchup() {
    local c=$1 run=$2 key="c$1"

    bench_sql "d-catchup-c$c-run$run" bench_c_views <<SQL || return 1
\\echo @@T d,$key,tick_wall_ms,$run
SELECT * FROM ivm.tick() \\gset tk_
\\echo @@V d,$key,rows_in,$run,:tk_rows_in
\\echo @@V d,$key,rows_out,$run,:tk_rows_out
\\echo @@V d,$key,tick_duration_ms,$run,:tk_duration_ms
\\echo @@V d,$key,tick_epoch,$run,:tk_epoch
SQL
    bench_evidence "d-c$c" bench_c_views "epoch = (SELECT max(epoch) FROM ivm.evidence)"
    awk -F, -v k="$key" -v r="$run" '$1 == "d" && $2 == k && $4 == r { v[$3] = $5 }
        END { printf "  catch-up tick: rows_in %s in %s ms (wall %s ms)\n", v["rows_in"],
              v["tick_duration_ms"], v["tick_wall_ms"] }' "$RUN_DIR/raw.csv"
}

bench_c() {
    local start=$SECONDS n c run cfg order spec warm rc=0

    ivm_say "(c) write overhead and (d) catch-up: $BENCH_WRITE_ROWS rows, clients $BENCH_CLIENTS," \
        "$BENCH_RUNS runs x ${BENCH_SECONDS}s per configuration"
    printf '\\set id random(1, %s)\nUPDATE t SET v = v + 1 WHERE id = :id;\n' \
        "$BENCH_WRITE_ROWS" >"$RUN_DIR/update.pgbench"
    bench_c_setup bench_c_none 0 || return 1
    bench_c_setup bench_c_views 1 || return 1

    # The table without views must have no capture trigger, the other must.
    n=$(bench_capture_triggers bench_c_none t) || n='?'
    bench_record c setup capture_triggers_none 1 "$n"
    [ "$n" = 0 ] || { bench_fail c "t in bench_c_none has $n ivm_capture_* triggers, expected none"; return 1; }
    n=$(bench_capture_triggers bench_c_views t) || n='?'
    bench_record c setup capture_triggers_views 1 "$n"
    if [ "$n" = 0 ] || [ "$n" = '?' ]; then
        bench_fail c "t in bench_c_views has no ivm_capture_* trigger: nothing would be captured"
        return 1
    fi
    echo "  set-up done ($(bench_elapsed "$start")); capture triggers on t: none=0, views=$n"

    # Warm-up: a short run on each database (not recorded), then drain.
    warm=$(( BENCH_SECONDS < 5 ? BENCH_SECONDS : 5 ))
    bench_c_pgbench none bench_c_none 1 0 "$warm" 0 || return 1
    bench_c_pgbench views bench_c_views 1 0 "$warm" 0 || return 1
    bench_q bench_c_views "SELECT rows_in FROM ivm.tick()" >/dev/null ||
        { bench_fail c "the tick after the warm-up failed"; return 1; }

    for ((run = 1; run <= BENCH_RUNS; run++)); do
        for c in $BENCH_CLIENTS; do
            if [ $((run % 2)) = 1 ]; then order="none views"; else order="views none"; fi
            for cfg in $order; do
                bench_c_pgbench "$cfg" "bench_c_$cfg" "$c" "$run" "$BENCH_SECONDS" || { rc=1; continue; }
                if [ "$cfg" = views ]; then
                    bench_d_catchup "$c" "$run" || rc=1
                fi
            done
        done
    done

    for spec in "${BENCH_C_VIEWS[@]}"; do
        bench_check "c-${spec%%|*}" bench_c_views "${spec%%|*}" "${spec#*|}"
    done
    bench_record c setup bench_seconds 1 "$((SECONDS - start))"
    bench_drop_db bench_c_none >/dev/null
    bench_drop_db bench_c_views >/dev/null
    echo "  done ($(bench_elapsed "$start"))"
    return "$rc"
}
