#!/usr/bin/env bash
# The tick's fixed cost: an empty tick and a 1-row tick of an aggregate view,
# each N times (default 200) in one session, each tick its own statement and
# transaction; then a 10,000-row tick IVM_REPS_LARGE times (default 20).
# Server time per tick from pg_stat_statements (mean, and the median of
# ivm.tick()'s own duration_ms).  Opt-in: not part of run-all.sh.
#   IVM_REPS=200 bash test/bench/bench-tick-fixed.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
IVM_SKIP_BUILD=${IVM_SKIP_BUILD:-1}
IVM_PRELOAD="ivm,pg_stat_statements"
export IVM_SKIP_BUILD IVM_PRELOAD
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
IVM_EXTRA_CONF="pg_stat_statements.max = 1000
pg_stat_statements.track = all
pg_stat_statements.track_planning = on
jit = off"
ivm_cluster_start >/dev/null
REPS=${IVM_REPS:-200}
PSQL() { "$IVM_PG_BIN/psql" -X -v ON_ERROR_STOP=1 -q -At "$@"; }
PSQL <<'SQL'
CREATE EXTENSION ivm;
CREATE EXTENSION pg_stat_statements;
CREATE TABLE t (k int, x int);
INSERT INTO t SELECT g % 100, g FROM generate_series(1, 100000) g;
CREATE TABLE other (a int);
ANALYZE t;
SELECT ivm.create_view('v', $$SELECT k, count(*) AS n, sum(x) AS s FROM t GROUP BY k$$);
SELECT ivm.tick();
SQL
run() { # label, statement before each tick[, repetitions]
    local label=$1 pre=$2 reps=${3:-$REPS} f
    f=$(mktemp)
    for ((i = 0; i < reps; i++)); do
        [ -n "$pre" ] && echo "$pre"
        echo "SELECT duration_ms FROM ivm.tick();"
    done >"$f"
    PSQL -c "SELECT pg_stat_statements_reset()" >/dev/null
    PSQL -f "$f" | sort -n | awk -v l="$label" '{a[NR]=$1} END {printf "%s: tick duration_ms median %.3f p90 %.3f", l, a[int(NR/2)+1], a[int(NR*0.9)]}'
    PSQL -c "SELECT format(' | server exec mean %s ms, calls %s', round(mean_exec_time::numeric, 3), calls) FROM pg_stat_statements WHERE query LIKE '%ivm.tick()%' AND query NOT LIKE '%pg_stat%'"
    if [ -n "${IVM_BENCH_STATEMENTS:-}" ]; then
        PSQL -c "SELECT round(mean_exec_time::numeric, 4) || ' ms x' || calls || ' (plan ' || round(mean_plan_time::numeric, 4) || '): ' || left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements WHERE calls >= $reps ORDER BY total_exec_time DESC LIMIT 12"
    fi
    rm -f "$f"
}
for round in 1 2; do
    run "round $round empty tick" ""
    run "round $round 1-row tick (insert into aggregate's table)" "INSERT INTO t VALUES (7, 1);"
    run "round $round 1-row tick (insert into a table no view reads, other)" "INSERT INTO other VALUES (1);"
    run "round $round 10,000-row tick (insert into aggregate's table)" \
        "INSERT INTO t SELECT g % 100, g FROM generate_series(1, 10000) g;" "${IVM_REPS_LARGE:-20}"
done
PSQL -c "SELECT 'view ok: ' || ((SELECT count(*) FROM ((SELECT * FROM v EXCEPT ALL SELECT k, count(*), sum(x) FROM t GROUP BY k) UNION ALL (SELECT k, count(*), sum(x) FROM t GROUP BY k EXCEPT ALL SELECT * FROM v)) d) = 0)::text"
