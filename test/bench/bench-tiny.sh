#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/bench-tiny.sh -- (tiny) many small views over tiny tables:
# sqllogictest's shape, where a tick used to cost seconds that REFRESH does
# in well under a millisecond.
#
#   bash test/bench/bench-tiny.sh              # prints a Markdown table
#
# A cluster of its own (test/lib.sh) with PostgreSQL's default JIT settings
# (jit = on, jit_above_cost = 100000).  Four tables t1..t4 (aN int, bN int,
# xN varchar(40)), created empty and never analyzed or vacuumed (autovacuum
# off), as a test suite's tables are; 20 views of their 4-way cross join, in
# the style of sqllogictest's select1..5 (filters, CASE, abs, DISTINCT,
# count/sum/min/max/avg per group), created over the empty tables; then
# three rows inserted into each table.  Per repetition (IVM_BENCH_TINY_REPS,
# 3), in a new database and one psql session per configuration:
#   create     the 20 views by ivm.create_view (empty tables)
#   first      the first tick: the 12 rows of the four tables
#   one-row    one row inserted into t1, then a tick (the plans kept by now)
#   refresh    REFRESH MATERIALIZED VIEW of 20 materialized views of the
#              same queries, in the same data state (all 20, summed)
# for the session's jit = on (the default) and jit = off.  Times are psql's
# \timing of the statement (client-side, with its commit), and the CPU time
# the backend used for it (/proc/self/stat, read by pg_read_file: steadier
# than wall time on a loaded machine).  Every view is
# compared with its query as a multiset after the last tick; the strategies
# ivm.evidence recorded for the one-row tick are printed.
#
# Environment: IVM_BENCH_TINY_REPS (3), IVM_SKIP_BUILD=1.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=test/bench/lib-bench.sh
. "$HERE/lib-bench.sh"

REPS=${IVM_BENCH_TINY_REPS:-3}
DB=bench_tiny
NVIEWS=20

ivm_prepare
unset IVM_PGDATA IVM_TMP
IVM_EXTRA_CONF="autovacuum = off
jit = on" ivm_cluster_start >/dev/null

q() {
    ivm_psql -d "$DB" -At "$@"
}

# query I: the I-th view's query (1..20), five shapes with four constants each
query() {
    local i=$1 c=$(( ($1 - 1) / 5 + 1 ))
    case $(( ($1 - 1) % 5 )) in
        0) echo "SELECT a1, b2, a3, b4, x1 FROM t1, t2, t3, t4 WHERE a1 + b2 > a3 - b4 + $c" ;;
        1) echo "SELECT a1, count(*) AS n, sum(b2 + b3 + b4) AS s FROM t1, t2, t3, t4 WHERE b1 <> $c GROUP BY a1" ;;
        2) echo "SELECT CASE WHEN a1 > b2 THEN x3 ELSE x4 END AS x, abs(a2 - b3) AS d FROM t1, t2, t3, t4 WHERE a1 IN ($c, $((c + 1)), $((c + 2))) OR b4 > $((c * 3))" ;;
        3) echo "SELECT x1, x4, min(a2) AS lo, max(b3) AS hi, avg(a1 + a4) AS m FROM t1, t2, t3, t4 WHERE a2 BETWEEN $c AND $((c + 6)) GROUP BY x1, x4" ;;
        4) echo "SELECT DISTINCT a1 * 10 + b2 AS k, a3 - b4 AS j FROM t1, t2, t3, t4 WHERE b3 < b4 + $c" ;;
    esac
}

# setup: a new database, the empty tables, the views' session script
setup() {
    ivm_psql -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
    q >/dev/null <<'SQL'
CREATE EXTENSION ivm;
CREATE TABLE t1 (a1 int, b1 int, x1 varchar(40));
CREATE TABLE t2 (a2 int, b2 int, x2 varchar(40));
CREATE TABLE t3 (a3 int, b3 int, x3 varchar(40));
CREATE TABLE t4 (a4 int, b4 int, x4 varchar(40));
SQL
}

# cpu MARK: a line "@@C MARK ms" with the CPU time (user + system) this
# backend has used, from /proc/self/stat (in clock ticks of 1/CLK_TCK s)
TICK_MS=$(( 1000 / $(getconf CLK_TCK) ))
cpu() {
    echo "SELECT '@@C $1 ' || (s[12]::bigint + s[13]::bigint) * $TICK_MS
          FROM (SELECT string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') AS s) x;"
}

# session JIT: one repetition in one psql session; prints "metric ms" lines:
# each phase's \timing (wall) and, as "metric-cpu", the backend's CPU time
session() {
    local jit=$1 i
    {
        echo "SET jit = $jit;"
        cpu create0
        echo '\timing on'
        for i in $(seq 1 $NVIEWS); do
            echo '\echo @@T create'
            echo "SELECT ivm.create_view('v$i', \$q\$$(query "$i")\$q\$);"
        done
        echo '\timing off'
        cpu create1
        for t in 1 2 3 4; do
            echo "INSERT INTO t$t VALUES (1, 2, 'x$t-a'), (2, 3, 'x$t-b'), (3, 1, 'x$t-c');"
        done
        cpu first0
        echo '\timing on'
        echo '\echo @@T first'
        echo 'SELECT views_processed FROM ivm.tick();'
        echo '\timing off'
        cpu first1
        echo "INSERT INTO t1 VALUES (4, 4, 'x1-d');"
        cpu one-row0
        echo '\timing on'
        echo '\echo @@T one-row'
        echo 'SELECT views_processed FROM ivm.tick();'
        echo '\timing off'
        cpu one-row1
        for i in $(seq 1 $NVIEWS); do
            echo "CREATE MATERIALIZED VIEW m$i AS $(query "$i") WITH NO DATA;"
        done
        cpu refresh0
        echo '\timing on'
        for i in $(seq 1 $NVIEWS); do
            echo '\echo @@T refresh'
            echo "REFRESH MATERIALIZED VIEW m$i;"
        done
        echo '\timing off'
        cpu refresh1
    } | q 2>&1 | awk '
        /^@@T / { m = $2; next }
        /^@@C / { c[$2] = $3; next }
        /^Time: / && m != "" { t[m] += $2; m = "" }
        END {
            for (k in t) printf "%s %.3f\n", k, t[k]
            for (k in t) printf "%s-cpu %d\n", k, c[k "1"] - c[k "0"]
        }'
}

# check: rows of views that differ from their queries (multiset), both ways
check() {
    local i sql="SELECT 0"
    for i in $(seq 1 $NVIEWS); do
        sql="$sql + (SELECT count(*) FROM ((SELECT * FROM v$i EXCEPT ALL $(query "$i"))
                      UNION ALL ($(query "$i") EXCEPT ALL SELECT * FROM v$i)) d)"
    done
    q -c "$sql"
}

echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" >&2
declare -A V w
bad=0
for rep in $(seq 1 "$REPS"); do
    for jit in on off; do
        setup
        while read -r metric ms; do
            V[$jit,$metric]="${V[$jit,$metric]:-} $ms"
        done < <(session "$jit")
        d=$(check)
        bad=$((bad + d))
        echo "  rep $rep jit=$jit: create${V[$jit,create]##* } first${V[$jit,first]##* }" \
             "one-row${V[$jit,one-row]##* } refresh${V[$jit,refresh]##* } ms; differing rows $d" >&2
    done
done
STRATEGIES=$(q -c "SELECT string_agg(DISTINCT strategy, ', ') FROM ivm.evidence
                   WHERE epoch = (SELECT max(epoch) FROM ivm.evidence)")
REL=$(q -c "SELECT reltuples FROM pg_class WHERE relname = 't1'")

cat <<EOF
| session | create 20 views (ms) | first tick, 12 rows (ms) | one-row tick (ms) | 20 REFRESHes (ms) | one-row tick / REFRESHes |
| --- | --- | --- | --- | --- | --- |
EOF
for jit in on off; do
    for m in create first one-row refresh; do
        w[$m]="$(bench_median "${V[$jit,$m]}") (CPU $(bench_median "${V[$jit,$m-cpu]}"))"
    done
    o=$(bench_median "${V[$jit,one-row]}")
    r=$(bench_median "${V[$jit,refresh]}")
    echo "| jit = $jit | ${w[create]} | ${w[first]} | ${w[one-row]} | ${w[refresh]} | $(awk -v a="$o" -v b="$r" 'BEGIN { printf "%.2f", a / b }') |"
done
cat <<EOF

Wall time of the statements (psql's \\timing) and, in parentheses, the CPU time the backend
used for them (/proc/self/stat, in steps of $TICK_MS ms: on a loaded machine the steadier
figure).  Medians of $REPS repetitions, each in a new database.  Strategies of the last one-row tick:
$STRATEGIES.  t1's reltuples: $REL (never analyzed).  Rows of the views that differ from their
queries (multiset, all repetitions): $bad.
EOF
[ "$bad" = 0 ]
