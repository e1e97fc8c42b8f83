# shellcheck shell=bash
# ---------------------------------------------------------------------------
# test/bench/bench-tpch.sh -- (tpch) the 22 TPC-H queries: tick after a
# refresh round against REFRESH MATERIALIZED VIEW, and the refresh round's
# write time with the 22 views against none.  Opt-in: sourced by run.sh,
# run only when IVM_BENCH_ONLY names it (IVM_BENCH_ONLY=tpch).
#
# One database, bench_tpch, with the tables of test/tpch/gen.sql at scale
# factor $BENCH_TPCH_SF (IVM_BENCH_TPCH_SF, default 1), the refresh functions
# of test/tpch/refresh.sql and the queries of test/tpch/queries.sql.  A
# "round" is RF1 then RF2 of a new round number: 1,500 x SF orders with their
# lineitems inserted, as many old ones deleted.  Every phase opens with a
# warm-up round (not recorded), and each figure is measured $BENCH_TPCH_REPS
# times (IVM_BENCH_TPCH_REPS, default 3); the report takes medians.
#   1. writes, no view:  timed RF1 and RF2 (no capture trigger: checked).
#   2. each query alone: the view by ivm.create_view and a plain
#      CREATE MATERIALIZED VIEW of the same query; per repetition a round
#      (not timed), the timed tick (only this view exists, so the tick does
#      exactly what this view costs: reading the deltas of its tables,
#      maintaining it, the evidence, the commit), then the timed REFRESH
#      MATERIALIZED VIEW in the same data state.  The view is then compared
#      with its query, and both are dropped.
#   3. all 22 views:     per repetition the timed RF1 and RF2 (capture into 22
#      views' logs), then the timed tick of all 22, with each view's own
#      duration from ivm.evidence (its maintenance inside the shared tick).
#      Every view is compared with its query at the end.
#   4. the 22 views dropped, phase 1 again (its medians are over both).
# Why 2 rather than ivm.evidence of one 22-view tick for the per-query
# figure: a tick's duration_us per view leaves out what the tick does once
# for all views (reading and clearing the logs, planning the order, commit);
# a user with one view pays it.  The evidence figure is reported beside it,
# with the time of the view's hidden views (ivm._views.parent_id, at any
# depth) added to its own: a query's time always includes its hidden views'.
#
# Round kinds ($BENCH_TPCH_ROUNDS, IVM_BENCH_TPCH_ROUNDS, default "rf all"):
#   rf   RF1 + RF2 as above: writes orders and lineitem only, so Q2, Q11
#        and Q16 have nothing to do.  Metrics tick_ms, refresh_ms, ...
#   all  the same RF1 + RF2, then changes to every other table (function
#        tpch_round_all below): tpch_updates of test/tpch/check.sql (~0.1%
#        of the lineitems, ~0.3% of the orders, ~1% of the customers, ~0.3%
#        of partsupp, two parts), ~1% of the suppliers' s_acctbal, and the
#        comment of one nation and one region (no query reads a comment of
#        either, so the views' contents keep their meaning, but the tick
#        still receives and joins those deltas).  Metrics prefixed "all_".
# Phases 2 and 3 measure each kind in turn on the same views.
# ---------------------------------------------------------------------------

BENCH_TPCH_DIR=$REPO/test/tpch
# BENCH_TPCH_NEXT: the psql line that takes the next round number into :r
# (from a sequence in the database, so that every session goes on counting).
BENCH_TPCH_NEXT="SELECT nextval('tpch_round') AS r \\gset"
BENCH_TPCH_ROUNDS=${BENCH_TPCH_ROUNDS:-${IVM_BENCH_TPCH_ROUNDS:-rf all}}

# BENCH_TPCH_ALL_SQL: tpch_round_all(r), the round of kind "all" (see above);
# returns the rows it wrote.  The seed of tpch_updates is fixed: a run replays.
BENCH_TPCH_ALL_SQL=$(cat <<'SQL'
CREATE OR REPLACE FUNCTION tpch_round_all(p_round int) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    n       bigint;
    total   bigint;
BEGIN
    total := tpch_rf1(p_round) + tpch_rf2(p_round) + tpch_updates(20261208, p_round);
    UPDATE supplier
       SET s_acctbal = tpch_rnd(s_suppkey, p_round * 31 + 1, -99999, 999999) / 100.0
     WHERE tpch_h(s_suppkey, p_round * 31 + 2) % 100 = 0;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    UPDATE nation SET n_comment = 'round ' || p_round WHERE n_nationkey = p_round % 25;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    UPDATE region SET r_comment = 'round ' || p_round WHERE r_regionkey = p_round % 5;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN total + n;
END
$fn$;
SQL
)

# bench_tpch_round KIND: the SQL of one round of KIND with round number :r.
bench_tpch_round() {
    case "$1" in
        rf) echo "SELECT tpch_rf1(:r), tpch_rf2(:r);" ;;
        all) echo "SELECT tpch_round_all(:r);" ;;
    esac
}

# bench_tpch_prefix KIND: the prefix of KIND's metric names ("" for rf, so
# that older runs' raw.csv read the same).
bench_tpch_prefix() {
    [ "$1" = rf ] || echo "${1}_"
}

# bench_tpch_all22_sql CONFIG_PREFIX REP: SQL that records, for each view of
# the tick :tk_epoch, its duration with its hidden views' added (all22_ms),
# the hidden views' part of it (all22_hidden_ms) and its strategy.
bench_tpch_all22_sql() {
    cat <<SQL
WITH RECURSIVE tree(id, root, root_id) AS (
    SELECT id, viewrel::text, id FROM ivm._views WHERE parent_id IS NULL
    UNION ALL
    SELECT c.id, t.root, t.root_id FROM ivm._views c JOIN tree t ON c.parent_id = t.id)
SELECT format('@@V tpch,%s,${1}all22_ms,$2,%s', t.root, sum(e.duration_us) / 1000.0)
       || format(E'\\n@@V tpch,%s,${1}all22_hidden_ms,$2,%s', t.root,
                 coalesce(sum(e.duration_us) FILTER (WHERE e.view_id <> t.root_id), 0) / 1000.0)
       || format(E'\\n@@V tpch,%s,${1}all22_strategy,$2,%s', t.root,
                 coalesce(max(e.strategy) FILTER (WHERE e.view_id = t.root_id),
                          'hidden views ' || string_agg(DISTINCT e.strategy, '/')))
FROM ivm._evidence e JOIN tree t ON t.id = e.view_id
WHERE e.epoch = :tk_epoch
GROUP BY t.root;
SQL
}

# bench_tpch_setup: generate the database, load the query texts.
bench_tpch_setup() {
    local db=bench_tpch t0=$SECONDS n

    bench_recreate_db "$db" >/dev/null || { bench_fail tpch-setup "could not create database $db"; return 1; }
    if ! ivm_psql -d "$db" -v sf="$BENCH_TPCH_SF" -f "$BENCH_TPCH_DIR/gen.sql" \
            >"$(bench_log tpch-gen)" 2>&1; then
        bench_fail tpch-setup "gen.sql failed: $(grep -m 3 ERROR "$(bench_log tpch-gen)" | tr '\n' ' ')"
        return 1
    fi
    bench_record tpch setup gen_seconds 1 "$((SECONDS - t0))"
    {
        cat "$REPO/test/lib/view_diff.sql" "$BENCH_TPCH_DIR/refresh.sql" "$BENCH_TPCH_DIR/check.sql"
        printf '%s\n' "$BENCH_TPCH_ALL_SQL"
        echo "CREATE SEQUENCE tpch_round;"
        sed "s/^SELECT ivm.create_view(/INSERT INTO tpch_query VALUES (/" "$BENCH_TPCH_DIR/queries.sql"
    } | ivm_psql -d "$db" >/dev/null || { bench_fail tpch-setup "refresh.sql, check.sql or the query texts failed"; return 1; }
    n=$(bench_q "$db" "SELECT count(*) FROM tpch_query") || n=0
    [ "$n" = 22 ] || { bench_fail tpch-setup "tpch_query holds $n queries, expected 22"; return 1; }
    bench_q "$db" "SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM (VALUES
        ('orders', (SELECT count(*) FROM orders)), ('lineitem', (SELECT count(*) FROM lineitem)),
        ('part', (SELECT count(*) FROM part)), ('customer', (SELECT count(*) FROM customer))) c(t, n)" |
        while read -r line; do bench_meta tpch_rows "$line"; echo "  $line"; done
    echo "  generated at SF $BENCH_TPCH_SF in $((SECONDS - t0))s"
}

# bench_tpch_writes_none FIRST_REP: phase 1 (and 4), RF1 and RF2 with no view,
# recorded as repetitions FIRST_REP, FIRST_REP + 1, ...
bench_tpch_writes_none() {
    local n rep first=$1

    n=$(bench_capture_triggers bench_tpch lineitem) || n='?'
    if [ "$n" != 0 ]; then
        bench_fail tpch "lineitem has $n ivm_capture_* triggers with no view; expected none"
        return 1
    fi
    {
        echo "$BENCH_TPCH_NEXT"
        echo "SELECT tpch_rf1(:r), tpch_rf2(:r);"
        for ((rep = first; rep < first + BENCH_TPCH_REPS; rep++)); do
            echo "$BENCH_TPCH_NEXT"
            echo "\\echo @@T tpch,none,rf1_ms,$rep"
            echo "SELECT tpch_rf1(:r);"
            echo "\\echo @@T tpch,none,rf2_ms,$rep"
            echo "SELECT tpch_rf2(:r);"
            case " $BENCH_TPCH_ROUNDS " in *" all "*)
                echo "$BENCH_TPCH_NEXT"
                echo "\\echo @@T tpch,none,all_round_ms,$rep"
                echo "SELECT tpch_round_all(:r);" ;;
            esac
        done
    } | bench_sql "tpch-writes-none-$first" bench_tpch
}

# bench_tpch_alone NAME: phase 2 for one query, each round kind in turn.
bench_tpch_alone() {
    local q=$1 rep rc=0 kind p

    {
        cat <<SQL
SELECT query AS q FROM tpch_query WHERE name = '$q' \\gset
\\echo @@T tpch,$q,create_matview_ms,1
CREATE MATERIALIZED VIEW tpch_mv AS :q;
\\echo @@T tpch,$q,create_view_ms,1
SELECT ivm.create_view('$q', :'q');
SQL
        for kind in $BENCH_TPCH_ROUNDS; do
            p=$(bench_tpch_prefix "$kind")
            # a warm-up round of this kind, not recorded
            echo "$BENCH_TPCH_NEXT"
            bench_tpch_round "$kind"
            echo "SELECT * FROM ivm.tick();"
            echo "REFRESH MATERIALIZED VIEW tpch_mv;"
            for ((rep = 1; rep <= BENCH_TPCH_REPS; rep++)); do
                echo "$BENCH_TPCH_NEXT"
                bench_tpch_round "$kind"
                cat <<SQL
\\echo @@T tpch,$q,${p}tick_ms,$rep
SELECT * FROM ivm.tick() \\gset tk_
\\echo @@V tpch,$q,${p}tick_duration_ms,$rep,:tk_duration_ms
\\echo @@V tpch,$q,${p}tick_rows_in,$rep,:tk_rows_in
\\echo @@V tpch,$q,${p}tick_rows_out,$rep,:tk_rows_out
SELECT format('@@V tpch,$q,${p}strategy,$rep,%s',
              coalesce(max(e.strategy) FILTER (WHERE e.view = '$q'),
                       'hidden views ' || string_agg(DISTINCT e.strategy, '/')))
FROM ivm.evidence e WHERE e.epoch = :tk_epoch HAVING count(*) > 0;
\\echo @@T tpch,$q,${p}refresh_ms,$rep
REFRESH MATERIALIZED VIEW tpch_mv;
SQL
            done
        done
    } | bench_sql "tpch-$q" bench_tpch || rc=1
    if [ "$rc" = 0 ]; then
        bench_check "tpch-alone-$q" bench_tpch "$q" "$(bench_q bench_tpch "SELECT query FROM tpch_query WHERE name = '$q'")" || rc=1
    fi
    bench_q bench_tpch "DROP MATERIALIZED VIEW IF EXISTS tpch_mv" >/dev/null 2>&1 || true
    bench_q bench_tpch "SELECT ivm.drop_view('$q') FROM ivm.views WHERE name::text = '$q'" >/dev/null 2>&1 || true
    awk -F, -v q="$q" '$1 == "tpch" && $2 == q && $3 ~ /(^|_)(tick|refresh)_ms$/ { s[$3] = s[$3] " " $5 }
        END { for (m in s) printf "  %s %s:%s\n", q, m, s[m] }' "$RUN_DIR/raw.csv" | sort
    return "$rc"
}

# bench_tpch_all: phase 3, the 22 views together, each round kind in turn.
bench_tpch_all() {
    local rep rc=0 q kind p

    {
        echo "\\echo @@T tpch,all,create_views_ms,1"
        # one statement: the timing is of all 22 creations
        echo "SELECT count(ivm.create_view(name, query)) FROM (SELECT name, query FROM tpch_query ORDER BY name) q;"
        for kind in $BENCH_TPCH_ROUNDS; do
            p=$(bench_tpch_prefix "$kind")
            echo "$BENCH_TPCH_NEXT"
            bench_tpch_round "$kind"
            echo "SELECT * FROM ivm.tick();"
            for ((rep = 1; rep <= BENCH_TPCH_REPS; rep++)); do
                echo "$BENCH_TPCH_NEXT"
                if [ "$kind" = rf ]; then
                    cat <<SQL
\\echo @@T tpch,views,rf1_ms,$rep
SELECT tpch_rf1(:r);
\\echo @@T tpch,views,rf2_ms,$rep
SELECT tpch_rf2(:r);
SQL
                else
                    echo "\\echo @@T tpch,views,${p}round_ms,$rep"
                    bench_tpch_round "$kind"
                fi
                cat <<SQL
\\echo @@T tpch,all,${p}tick_ms,$rep
SELECT * FROM ivm.tick() \\gset tk_
\\echo @@V tpch,all,${p}tick_duration_ms,$rep,:tk_duration_ms
\\echo @@V tpch,all,${p}tick_rows_in,$rep,:tk_rows_in
SQL
                bench_tpch_all22_sql "$p" "$rep"
            done
        done
    } | bench_sql tpch-all bench_tpch || rc=1
    bench_evidence tpch-all bench_tpch "epoch = (SELECT max(epoch) FROM ivm.evidence)"
    for q in $(bench_q bench_tpch "SELECT name FROM tpch_query ORDER BY name"); do
        bench_check "tpch-all-$q" bench_tpch "$q" "$(bench_q bench_tpch "SELECT query FROM tpch_query WHERE name = '$q'")" || rc=1
    done
    return "$rc"
}

bench_tpch() {
    local start=$SECONDS q rc=0

    ivm_say "(tpch) TPC-H at SF $BENCH_TPCH_SF, rounds [$BENCH_TPCH_ROUNDS]: tick vs REFRESH per query; writes with 22 views vs none ($BENCH_TPCH_REPS reps)"
    bench_tpch_setup || return 1
    bench_tpch_writes_none 1 || rc=1
    for q in $(bench_q bench_tpch "SELECT name FROM tpch_query ORDER BY name"); do
        bench_tpch_alone "$q" || rc=1
    done
    bench_tpch_all || rc=1
    # RF1 and RF2 without views once more, now that the tables have lived
    # (the first phase runs right after the load): the median is over both
    bench_q bench_tpch "SELECT count(ivm.drop_view(name)) FROM ivm.views" >/dev/null || rc=1
    bench_tpch_writes_none $((BENCH_TPCH_REPS + 1)) || rc=1
    bench_record tpch setup bench_seconds 1 "$((SECONDS - start))"
    bench_drop_db bench_tpch >/dev/null
    echo "  done ($(bench_elapsed "$start"))"
    return "$rc"
}
