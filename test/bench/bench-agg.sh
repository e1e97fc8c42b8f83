#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/bench-agg.sh -- (agg) delta rules against a recompute, per
# aggregate kind, over a table with no index on the group key, for deltas
# that retract extremes (issue 22: the tick must never cost more than a
# recompute).
#
#   bash test/bench/bench-agg.sh                   # prints a Markdown table
#   IVM_BENCH_AGG_SIZES="20000:60" IVM_BENCH_AGG_REPS=3 bash test/bench/bench-agg.sh
#
# For each size ROWS:GROUPS of IVM_BENCH_AGG_SIZES (default "20000:60
# 1000000:1000"): t(id int primary key, k int, v int, s text), k = id %
# GROUPS with no index on k, v spread over [0, 100000).  For each aggregate
# kind of IVM_BENCH_AGG_KINDS (count sum avg min max string_agg distinct
# filter) the view SELECT k, <aggregate> AS a FROM t GROUP BY k, alone in its
# database (so a tick costs what this view costs), and a materialized view of
# the same query.  A delta of P% (each of IVM_BENCH_AGG_DELTAS, default "2
# 5") updates P/2 % of the rows (a delete and an insert each: P% delta rows)
# and also every group's rows of least and of greatest v, moving each updated
# v by 7 towards the middle: every group loses its minimum and its maximum.
# Per repetition (IVM_BENCH_AGG_REPS, default 3) and delta, three figures,
# each after a fresh delta (VACUUM after every delta, untimed):
#   tick       the tick with the delta rules forced (ivm.fallback_ratio =
#              1000000): SELECT * FROM ivm.tick(), wall time by psql \timing
#   recompute  the tick with ivm.full_recompute = on (the view recomputed
#              and diffed against what it holds, as the fallback does)
#   REFRESH    REFRESH MATERIALIZED VIEW of the materialized view
# The view is compared with its query (EXCEPT ALL both ways) after every
# tick.  Once per delta size, one more tick at the default settings records
# the strategy the cost rule picks ("default").  The table shows medians and
# tick / recompute (the goal: <= 1 in every row).
#
# IVM_BENCH_AGG_TIMEOUT (seconds, default 0: none) caps each statement; a
# tick cut by it shows as "> T s" (for timing code whose ticks take minutes).
# A cluster of its own (test/lib.sh; IVM_SKIP_BUILD=1 to use the installed
# extension).  About 20 minutes with the defaults on 2 cores, most of it
# the updates of the 1M-row table.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=test/bench/lib-bench.sh
. "$HERE/lib-bench.sh"

SIZES=${IVM_BENCH_AGG_SIZES:-20000:60 1000000:1000}
KINDS=${IVM_BENCH_AGG_KINDS:-count sum avg min max string_agg distinct filter}
DELTAS=${IVM_BENCH_AGG_DELTAS:-2 5}
REPS=${IVM_BENCH_AGG_REPS:-3}
TIMEOUT=${IVM_BENCH_AGG_TIMEOUT:-0}
DB=bench_agg

bench_large_cluster ""

# the aggregate of each kind
agg_of() {
    case $1 in
        count) echo "count(v)" ;;
        sum) echo "sum(v)" ;;
        avg) echo "avg(v)" ;;
        min) echo "min(v)" ;;
        max) echo "max(v)" ;;
        string_agg) echo "string_agg(s, ',' ORDER BY id)" ;;
        distinct) echo "count(DISTINCT v)" ;;
        filter) echo "min(v) FILTER (WHERE id % 3 <> 0)" ;;
        *) echo "unknown aggregate kind $1" >&2; exit 2 ;;
    esac
}

# delta_sql PCT SALT: the UPDATE of a PCT% delta (see above), then VACUUM
delta_sql() {
    cat <<SQL
UPDATE t SET v = v + CASE WHEN v < 50000 THEN 7 ELSE -7 END
 WHERE (id::int8 * 2654435761 + $2) % 2000 < $1 * 10
    OR (k, v) IN (SELECT k, min(v) FROM t GROUP BY k UNION ALL SELECT k, max(v) FROM t GROUP BY k);
VACUUM t;
SQL
}

LOG=$IVM_TMP/bench-agg.log
: >"$LOG"
declare -A VAL
ROWS_OUT=()
for size in $SIZES; do
    rows=${size%%:*}
    groups=${size##*:}
    for kind in $KINDS; do
        agg=$(agg_of "$kind")
        query="SELECT k, $agg AS a FROM t GROUP BY k"
        ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
        ivm_psql -d postgres -c "CREATE DATABASE $DB" >/dev/null
        echo "  $rows rows, $groups groups, $kind: loading" >&2
        ivm_psql -d "$DB" >/dev/null <<SQL
CREATE EXTENSION ivm;
CREATE TABLE t (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL, s text NOT NULL);
INSERT INTO t SELECT g, g % $groups, (g::int8 * 7919 % 100003)::int % 100000, md5(g::text)
  FROM generate_series(1, $rows) g;
VACUUM ANALYZE t;
SELECT ivm.create_view('agg', \$q\$$query\$q\$);
CREATE MATERIALIZED VIEW agg_mv AS $query;
SQL
        # one session: the figures are psql's \timing of single statements
        {
            echo "SET statement_timeout = '${TIMEOUT}s';"
            printf '%s\n' '\timing on'
            salt=0
            # warm-up: one forced tick, one recompute
            for mode in tick recompute; do
                salt=$((salt + 1))
                delta_sql 2 "$salt"
                echo "SET ivm.fallback_ratio = 1000000; SET ivm.full_recompute = $([ $mode = recompute ] && echo on || echo off);"
                echo "SELECT rows_in FROM ivm.tick();"
            done
            for _ in $(seq 1 "$REPS"); do
                for pct in $DELTAS; do
                    for mode in tick recompute refresh; do
                        salt=$((salt + 1))
                        if [ $mode = refresh ]; then
                            printf '\\echo %s\n' "@@T $pct,refresh"
                            echo "REFRESH MATERIALIZED VIEW agg_mv;"
                            continue
                        fi
                        delta_sql "$pct" "$salt"
                        echo "SET ivm.fallback_ratio = 1000000; SET ivm.full_recompute = $([ $mode = recompute ] && echo on || echo off);"
                        printf '\\echo %s\n' "@@T $pct,$mode"
                        echo "SELECT rows_in FROM ivm.tick();"
                        printf '\\echo %s\n' "@@V $pct,delta_$mode"
                        echo "SELECT delta_in || ',' || strategy FROM ivm.evidence ORDER BY epoch DESC LIMIT 1;"
                        printf '\\echo %s\n' "@@V $pct,mismatched"
                        echo "SELECT count(*) FROM ((TABLE agg EXCEPT ALL $query) UNION ALL ($query EXCEPT ALL TABLE agg)) d;"
                    done
                done
            done
            for pct in $DELTAS; do
                salt=$((salt + 1))
                delta_sql "$pct" "$salt"
                echo "RESET ivm.fallback_ratio; RESET ivm.full_recompute;"
                echo "SELECT rows_in FROM ivm.tick();"
                printf '\\echo %s\n' "@@V $pct,default"
                echo "SELECT strategy FROM ivm.evidence ORDER BY epoch DESC LIMIT 1;"
            done
        } >"$IVM_TMP/agg-$kind.sql"
        outf=$IVM_TMP/agg-$rows-$kind.out
        ivm_psql -d "$DB" -At -v ON_ERROR_STOP=0 -f "$IVM_TMP/agg-$kind.sql" >"$outf" 2>&1 || true
        cat "$outf" >>"$LOG"
        # @@T label, then the next "Time:" line; @@V label, then the next value line
        # (a statement cut by the timeout: its time is the timeout)
        while IFS=, read -r pct what val; do
            VAL[$rows,$kind,$pct,$what]="${VAL[$rows,$kind,$pct,$what]:-} $val"
        done < <(awk -v cap="$TIMEOUT" '
            /^@@T / { pending = substr($0, 5); next }
            /^@@V / { vpending = substr($0, 5); next }
            /^Time: / { if (pending != "") { print pending "," $2; pending = "" } next }
            /canceling statement due to statement timeout/ { if (pending != "") { print pending ",>" cap * 1000; pending = "" } next }
            /^ERROR/ { next }
            { if (vpending != "") { print vpending "," $0; vpending = "" } }
        ' "$outf")
        echo "  $kind: tick${VAL[$rows,$kind,${DELTAS%% *},tick]:-}; recompute${VAL[$rows,$kind,${DELTAS%% *},recompute]:-}" >&2
        ROWS_OUT+=("$rows:$groups:$kind")
    done
done
ivm_psql -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null

# the median of a list where ">N" (cut by the timeout) counts as N and marks it
med() {
    local m
    m=$(bench_median "$(tr -d '>' <<<"$1")")
    if grep -q '>' <<<"$1"; then echo "> $m"; else echo "$m"; fi
}

echo "| rows / groups | aggregate | delta rows (%) | tick, ms | recompute, ms | REFRESH, ms | tick / recompute | default picks | view = query |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
for r in "${ROWS_OUT[@]}"; do
    IFS=: read -r rows groups kind <<<"$r"
    for pct in $DELTAS; do
        t=$(med "${VAL[$rows,$kind,$pct,tick]:-}")
        c=$(med "${VAL[$rows,$kind,$pct,recompute]:-}")
        f=$(med "${VAL[$rows,$kind,$pct,refresh]:-}")
        din=$(awk '{ print $1 }' <<<"${VAL[$rows,$kind,$pct,delta_tick]:-?}")
        din=${din%%,*}
        bad=$(tr ' ' '\n' <<<"${VAL[$rows,$kind,$pct,mismatched]:-?}" | grep -v '^0$' | grep -v '^$' | head -n 1 || true)
        [ -z "$bad" ] || bad="$bad rows differ"
        # the forced ticks must have run the delta rules
        strat=$(tr ' ' '\n' <<<"${VAL[$rows,$kind,$pct,delta_tick]:-}" | grep -v '^$' | cut -d, -f2 | sort -u | tr '\n' ' ')
        [ "$strat" = "incremental " ] || bad="${bad:+$bad, }forced ticks by $strat"
        # shellcheck disable=SC2016 # the backquotes are Markdown
        printf '| %s / %s | `%s` | %s (%s) | %s | %s | %s | %s | %s | %s |\n' "$rows" "$groups" "$(agg_of "$kind")" \
            "$din" "$pct" "$t" "$c" "$f" \
            "$(awk -v a="${t#> }" -v b="${c#> }" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')" \
            "$(tr -d ' ' <<<"${VAL[$rows,$kind,$pct,default]:-?}")" "$([ -z "$bad" ] && echo yes || echo "NO ($bad)")"
    done
done
echo
printf 'Medians of %s repetitions; every figure is psql'"'"'s \\timing of one statement. Deltas retract each group'"'"'s minimum and maximum.\n' "$REPS"
