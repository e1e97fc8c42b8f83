#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/bench-worker.sh -- (w) the background worker: how long after a
# write commits it is in a view, and what the worker costs the writers.
#
#   bash test/bench/bench-worker.sh            # prints a Markdown section
#
# A cluster of its own (test/lib.sh) with track_commit_timestamp = on, and
# pgbench's tables at scale IVM_BENCH_SCALE.  Two configurations, each run
# IVM_BENCH_RUNS times for IVM_BENCH_SECONDS seconds of the same load:
#   none     no views, no worker
#   views    the views below, no worker (capture alone: deltas pile up)
#   worker   three views (accounts per branch, history per teller, the probe
#            table's rows) and the worker (ivm.tick_interval = 1s, so that
#            what is measured is the wake-up at commit, not the interval)
# The load: pgbench's TPC-B-like script with IVM_BENCH_CLIENTS clients, and
# beside it a probe: a second pgbench at IVM_BENCH_PROBE_RATE transactions
# per second, each inserting one row into table probe.  Latency of a probe
# row = commit time of the tick that put it into the view's storage (the
# xmin of its storage row) - commit time of its insert (the xmin of the
# probe row), both from pg_xact_commit_timestamp: measured in the server,
# no polling.  Reported: median, p90, p99, max over every probe row, and the
# TPC-B TPS of each configuration.
#
# Environment: IVM_BENCH_SCALE (10), IVM_BENCH_SECONDS (30), IVM_BENCH_RUNS
# (3), IVM_BENCH_CLIENTS (4), IVM_BENCH_PROBE_RATE (100), IVM_SKIP_BUILD=1.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=test/bench/lib-bench.sh
. "$HERE/lib-bench.sh"

SCALE=${IVM_BENCH_SCALE:-10}
SECS=${IVM_BENCH_SECONDS:-30}
RUNS=${IVM_BENCH_RUNS:-3}
CLIENTS=${IVM_BENCH_CLIENTS:-4}
RATE=${IVM_BENCH_PROBE_RATE:-100}
DB=bench_w

ivm_prepare
unset IVM_PGDATA IVM_TMP
IVM_EXTRA_CONF="track_commit_timestamp = on
shared_buffers = '512MB'
synchronous_commit = on
fsync = on" ivm_cluster_start >/dev/null

q() {
    ivm_psql -d "$DB" -At "$@"
}

PROBE=$(mktemp)
cat >"$PROBE" <<'SQL'
INSERT INTO probe (v) VALUES (1);
SQL
chown postgres: "$PROBE" 2>/dev/null || true

# run_load CONFIG RUN: one run of the load; prints the TPC-B TPS
run_load() {
    local out tps
    pgbench -h "$PGHOST" -p "$PGPORT" -U postgres -n -M prepared -R "$RATE" -c 1 \
        -T "$SECS" -f "$PROBE" "$DB" >"$IVM_TMP/probe-$1-$2.log" 2>&1 &
    local probe=$!
    out=$(pgbench -h "$PGHOST" -p "$PGPORT" -U postgres -n -M prepared -c "$CLIENTS" -j 2 \
        -T "$SECS" "$DB" 2>&1)
    wait "$probe"
    tps=$(awk '/^tps = / { print $3; exit }' <<<"$out")
    echo "$tps"
}

setup() {
    ivm_psql -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
    pgbench -h "$PGHOST" -p "$PGPORT" -U postgres -i -q -s "$SCALE" "$DB" >/dev/null 2>&1
    q -c "CREATE EXTENSION ivm" \
      -c "CREATE TABLE probe (id bigserial PRIMARY KEY, v int NOT NULL)" \
      -c "VACUUM ANALYZE" >/dev/null
}

echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" >&2
declare -A TPS
for config in none views worker; do
    setup
    if [ "$config" != none ]; then
        q >/dev/null <<'SQL'
SELECT ivm.create_view('branch_balance', 'SELECT bid, sum(abalance) AS balance, count(*) AS n FROM pgbench_accounts GROUP BY bid');
SELECT ivm.create_view('teller_history', 'SELECT tid, count(*) AS n, sum(delta) AS total FROM pgbench_history GROUP BY tid');
SELECT ivm.create_view('probe_rows', 'SELECT id, v FROM probe');
SQL
    fi
    if [ "$config" = worker ]; then
        ivm_psql -q -c "ALTER SYSTEM SET ivm.database = '$DB'" -c "ALTER SYSTEM SET ivm.tick_interval = '1s'" \
            -c "ALTER SYSTEM SET ivm.log_ticks = on" -c "SELECT pg_reload_conf()" >/dev/null
        sleep 2
    else
        ivm_psql -q -c "ALTER SYSTEM RESET ivm.database" -c "ALTER SYSTEM RESET ivm.tick_interval" \
            -c "SELECT pg_reload_conf()" >/dev/null
    fi
    TPS[$config]=""
    for run in $(seq 1 "$RUNS"); do
        t=$(run_load "$config" "$run")
        TPS[$config]="${TPS[$config]} $t"
        echo "  $config run $run: $t tps" >&2
    done
    if [ "$config" = worker ]; then
        # let the worker take the last writes in (the epoch stops moving),
        # then check every view
        prev=-1
        for _ in $(seq 1 100); do
            cur=$(q -c "SELECT epoch FROM ivm._state")
            [ "$cur" = "$prev" ] && break
            prev=$cur
            sleep 1
        done
        storage=$(q -c "SELECT storage FROM ivm.views WHERE name = 'probe_rows'::regclass")
        bad=$(q -c "SELECT (SELECT count(*) FROM (SELECT * FROM branch_balance EXCEPT ALL
                      SELECT bid, sum(abalance), count(*) FROM pgbench_accounts GROUP BY bid) d)
                   + (SELECT count(*) FROM (SELECT * FROM teller_history EXCEPT ALL
                      SELECT tid, count(*), sum(delta) FROM pgbench_history GROUP BY tid) d)
                   + (SELECT count(*) FROM (SELECT id, v FROM probe EXCEPT ALL SELECT * FROM probe_rows) d)")
        echo "  rows that differ from the queries after the runs: $bad" >&2
        LAT=$(q -F ' ' -c "
            WITH l AS (
              SELECT extract(epoch FROM pg_xact_commit_timestamp(s.xmin) - pg_xact_commit_timestamp(p.xmin)) * 1000 AS ms
              FROM probe p JOIN $storage s ON s.id = p.id)
            SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
                   round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 2),
                   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2),
                   round(max(ms)::numeric, 2) FROM l")
        TICKS=$(q -c "SELECT ticks FROM ivm.workers")
        # each tick's own duration (to its commit), from ivm.log_ticks
        TICKUS=$(grep -o 'ivm tick: .*duration_us [0-9]*' "$IVM_LOG" | awk '{ s += $NF; n++ } END { if (n) printf "%.2f ms over %d ticks", s / n / 1000, n }')
        TICKMS=$(q -c "SELECT round(avg(d)::numeric, 2) FROM (SELECT epoch, sum(duration_us) / 1000.0 AS d FROM ivm.evidence GROUP BY epoch) e")
    fi
done

none=$(bench_median "${TPS[none]}")
views=$(bench_median "${TPS[views]}")
worker=$(bench_median "${TPS[worker]}")
read -r n p50 p90 p99 pmax <<<"$LAT"
cat <<EOF
| figure | value |
| --- | --- |
| probe rows measured | $n |
| commit -> visible in the view, median | $p50 ms |
| p90 | $p90 ms |
| p99 | $p99 ms |
| max | $pmax ms |
| TPC-B TPS, no views, no worker (median of $RUNS) | $none (runs:${TPS[none]}) |
| TPC-B TPS, 3 views, no worker: capture alone (median of $RUNS) | $views (runs:${TPS[views]}) |
| TPC-B TPS, 3 views + worker (median of $RUNS) | $worker (runs:${TPS[worker]}) |
| ratio views / none (the capture's cost) | $(awk -v a="$views" -v b="$none" 'BEGIN { printf "%.3f", a / b }') |
| ratio worker / none | $(awk -v a="$worker" -v b="$none" 'BEGIN { printf "%.3f", a / b }') |
| worker ticks in the last run's database | $TICKS |
| mean tick, summed over its views (ivm.evidence) | $TICKMS ms |
| mean tick, whole (ivm.log_ticks, to its commit) | $TICKUS |
| rows differing from the queries after the runs | $bad |
EOF
rm -f "$PROBE"
