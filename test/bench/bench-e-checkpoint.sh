# shellcheck shell=bash
# ---------------------------------------------------------------------------
# test/bench/bench-e-checkpoint.sh -- (e) delta checkpoints of a view of
# $BENCH_E_ROWS rows: a base checkpoint, then a 1% change, a tick and a delta
# checkpoint, a checkpoint with nothing changed, and a restore into a fresh
# database.  Sourced by run.sh.
#
#   t(id int primary key, k int, v int, s text): $BENCH_E_ROWS rows,
#     k = id % 1000, v random, s = md5(id) (32 characters)
#   spj = ivm.create_view('spj', 'SELECT id, k, v, s FROM t WHERE v >= 0')
#         every row of t: $BENCH_E_ROWS view rows (plus the hidden __ivm_hash)
#
# Per repetition r, into a new directory each time, in one psql session:
#   SELECT * FROM ivm.checkpoint(dir)      base_ms, base_file_bytes, base_raw_bytes
#   UPDATE t ... WHERE id % 100 = r        1% of the rows (not timed)
#   SELECT * FROM ivm.tick()               tick_ms (1% of the view changes)
#   SELECT * FROM ivm.checkpoint(dir)      delta_ms, delta_file_bytes, delta_raw_bytes,
#                                          delta_records, delta_restore_bytes
#   SELECT * FROM ivm.checkpoint(dir)      unchanged_ms (nothing changed: scans only)
# then in a database made from a template holding t as it was loaded, with
# the same UPDATEs applied (not timed):
#   SELECT * FROM ivm.restore(dir)         restore_ms (the chain: base + delta)
# and the restored view is compared with its query.  Sizes are those the
# checkpoint reports: file_bytes = the files it wrote, on disk (headers and
# compressed blocks, the manifest included), raw_bytes = the same payloads
# before compression, restore_bytes = all a restore of it reads.
# ---------------------------------------------------------------------------

BENCH_E_QUERY='SELECT id, k, v, s FROM t WHERE v >= 0'

bench_e() {
    local n=$BENCH_E_ROWS src=bench_e_src tpl=bench_e_tables dst=bench_e_dst r j start=$SECONDS
    local dirs=$IVM_TMP/bench-e

    ivm_say "(e) delta checkpoints of a view of $n rows, $BENCH_E_REPS repetitions"
    rm -rf "$dirs"
    mkdir -p "$dirs"
    [ "$EUID" -eq 0 ] && chown postgres: "$dirs"
    bench_drop_db "$dst" >/dev/null
    bench_drop_db "$src" >/dev/null
    bench_drop_db "$tpl" >/dev/null
    bench_recreate_db "$tpl" >/dev/null || { bench_fail e "could not create database $tpl"; return 1; }
    bench_sql e-setup "$tpl" <<SQL || return 1
CREATE TABLE t (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL, s text NOT NULL);
\\echo @@T e,$n,load_ms,1
INSERT INTO t SELECT g, g % 1000, (random() * 1000000)::int, md5(g::text) FROM generate_series(1, $n) g;
VACUUM ANALYZE t;
SQL
    # the source: a copy of the tables, and the view
    ivm_psql -d postgres -c "CREATE DATABASE $src TEMPLATE $tpl" >/dev/null ||
        { bench_fail e "could not copy $tpl"; return 1; }
    bench_sql e-view "$src" <<SQL || return 1
\\echo @@T e,$n,create_view_ms,1
SELECT ivm.create_view('spj', \$q\$$BENCH_E_QUERY\$q\$);
VACUUM ANALYZE;
SQL
    echo "  set-up done ($(bench_elapsed "$start"))"

    for ((r = 1; r <= BENCH_E_REPS; r++)); do
        # ivm.checkpoint creates $dirs/r$r, as the server's user
        bench_sql "e-measure-$r" "$src" <<SQL || return 1
\\echo @@T e,$n,base_ms,$r
SELECT * FROM ivm.checkpoint('$dirs/r$r') \\gset b_
\\echo @@V e,$n,base_file_bytes,$r,:b_file_bytes
\\echo @@V e,$n,base_raw_bytes,$r,:b_raw_bytes
\\echo @@V e,$n,base_records,$r,:b_records
UPDATE t SET v = v + 1, s = s || 'x' WHERE id % 100 = $r;
\\echo @@T e,$n,tick_ms,$r
SELECT * FROM ivm.tick() \\gset tk_
\\echo @@V e,$n,tick_rows_out,$r,:tk_rows_out
\\echo @@T e,$n,delta_ms,$r
SELECT * FROM ivm.checkpoint('$dirs/r$r') \\gset d_
\\echo @@V e,$n,delta_file_bytes,$r,:d_file_bytes
\\echo @@V e,$n,delta_raw_bytes,$r,:d_raw_bytes
\\echo @@V e,$n,delta_restore_bytes,$r,:d_restore_bytes
\\echo @@V e,$n,delta_records,$r,:d_records
\\echo @@V e,$n,delta_deltas,$r,:d_deltas
\\echo @@T e,$n,unchanged_ms,$r
SELECT * FROM ivm.checkpoint('$dirs/r$r') \\gset u_
\\echo @@V e,$n,unchanged_file_bytes,$r,:u_file_bytes
\\echo @@V e,$n,unchanged_unchanged,$r,:u_unchanged
SQL
        # the restore target: the tables as loaded, then the same UPDATEs
        bench_drop_db "$dst" >/dev/null
        ivm_psql -d postgres -c "CREATE DATABASE $dst TEMPLATE $tpl" >/dev/null ||
            { bench_fail e "could not copy $tpl"; return 1; }
        for ((j = 1; j <= r; j++)); do
            bench_q "$dst" "UPDATE t SET v = v + 1, s = s || 'x' WHERE id % 100 = $j" >/dev/null
        done
        bench_q "$dst" "VACUUM ANALYZE t" >/dev/null
        bench_sql "e-restore-$r" "$dst" <<SQL || return 1
\\echo @@T e,$n,restore_ms,$r
SELECT * FROM ivm.restore('$dirs/r$r') \\gset x_
\\echo @@V e,$n,restore_rows,$r,:x_rows
\\echo @@V e,$n,restore_sources_changed,$r,:x_sources_changed
\\echo @@V e,$n,restore_recompute,$r,:x_views_to_recompute
SQL
        echo "  repetition $r done ($(bench_elapsed "$start")); directory: $(du -sh "$dirs/r$r" | cut -f1)"
    done

    bench_check "e-$n" "$src" spj "$BENCH_E_QUERY"
    bench_check "e-$n-restored" "$dst" spj "$BENCH_E_QUERY"
    bench_record e "$n" bench_seconds 1 "$((SECONDS - start))"
    bench_drop_db "$dst" >/dev/null
    bench_drop_db "$src" >/dev/null
    bench_drop_db "$tpl" >/dev/null
    rm -rf "$dirs"
    echo "  done ($(bench_elapsed "$start"))"
}
