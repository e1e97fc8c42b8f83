# shellcheck shell=bash
# ---------------------------------------------------------------------------
# test/bench/bench-b.sh -- (b) tick latency of a join view over the pgbench
# tables after a one-row UPDATE of either side, against REFRESH MATERIALIZED
# VIEW of the same query.  Sourced by run.sh.
#
#   pgbench -i -s $BENCH_PGBENCH_SCALE   (scale 10: 1,000,000 accounts, 10 branches)
#   ab    = ivm.create_view('ab', 'SELECT a.aid, b.bid, a.abalance, b.bbalance
#             FROM pgbench_accounts a JOIN pgbench_branches b USING (bid)')
#   ab_mv = CREATE MATERIALIZED VIEW of the same query (no index)
#
# Per repetition, in one psql session after a warm-up round:
#   UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = <random>;
#   SELECT * FROM ivm.tick();              account: tick_wall_ms, tick_duration_ms
#   REFRESH MATERIALIZED VIEW ab_mv;       account: refresh_ms
#   UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = <random>;
#   SELECT * FROM ivm.tick();              branch: ... (changes 100,000 view rows
#   REFRESH MATERIALIZED VIEW ab_mv;       branch: refresh_ms    per unit of scale)
# ---------------------------------------------------------------------------

BENCH_B_QUERY='SELECT a.aid, b.bid, a.abalance, b.bbalance FROM pgbench_accounts a JOIN pgbench_branches b USING (bid)'

bench_b() {
    local db=bench_b s=$BENCH_PGBENCH_SCALE i start=$SECONDS log side rid upd

    ivm_say "(b) join view over pgbench tables, scale $s"
    bench_recreate_db "$db" >/dev/null || { bench_fail b "could not create database $db"; return 1; }
    log=$(bench_log b-pgbench-init)
    if ! "$IVM_PG_BIN/pgbench" -i -q -s "$s" "$db" >"$log" 2>&1; then
        bench_fail b "pgbench -i -s $s failed: $(tail -n 3 "$log" | tr '\n' ' ')"
        return 1
    fi

    bench_sql b-setup "$db" <<SQL || return 1
VACUUM ANALYZE;
\\echo @@T b,setup,create_view_ms,1
SELECT ivm.create_view('ab', \$q\$$BENCH_B_QUERY\$q\$);
\\echo @@T b,setup,create_matview_ms,1
CREATE MATERIALIZED VIEW ab_mv AS $BENCH_B_QUERY;
VACUUM ANALYZE;
SQL
    echo "  set-up done ($(bench_elapsed "$start")); measuring $BENCH_REPS repetitions"

    {
        for ((i = 0; i <= BENCH_REPS; i++)); do   # round 0 is the warm-up
            for side in account branch; do
                if [ "$side" = account ]; then
                    rid="1 + floor(random() * $((s * 100000)))::int"
                    upd="UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :rid;"
                else
                    rid="1 + floor(random() * $s)::int"
                    upd="UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = :rid;"
                fi
                echo "SELECT $rid AS rid \\gset"
                echo "$upd"
                if [ "$i" -eq 0 ]; then
                    echo "SELECT * FROM ivm.tick();"
                    echo "REFRESH MATERIALIZED VIEW ab_mv;"
                    continue
                fi
                cat <<SQL
\\echo @@T b,$side,tick_wall_ms,$i
SELECT * FROM ivm.tick() \\gset tk_
\\echo @@V b,$side,tick_duration_ms,$i,:tk_duration_ms
\\echo @@V b,$side,tick_rows_in,$i,:tk_rows_in
\\echo @@V b,$side,tick_rows_out,$i,:tk_rows_out
\\echo @@V b,$side,tick_epoch,$i,:tk_epoch
\\echo @@T b,$side,refresh_ms,$i
REFRESH MATERIALIZED VIEW ab_mv;
SQL
            done
        done
    } | bench_sql b-measure "$db" || return 1

    for side in account branch; do
        bench_evidence "b-$side" "$db" "epoch = $(awk -F, -v s="$side" \
            '$1 == "b" && $2 == s && $3 == "tick_epoch" { e = $5 } END { print e + 0 }' "$RUN_DIR/raw.csv")"
    done
    bench_check b "$db" ab "$BENCH_B_QUERY"
    bench_record b setup bench_seconds 1 "$((SECONDS - start))"
    bench_drop_db "$db" >/dev/null
    echo "  done ($(bench_elapsed "$start"))"
}
