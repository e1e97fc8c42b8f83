#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/run.sh -- ivm's benchmarks; regenerates BENCHMARKS.md at the repo
# root (summary.sh).
#
#   bash test/bench/run.sh                  # the full run (~15-20 min on 2 cores)
#   IVM_BENCH_QUICK=1 bash test/bench/run.sh    # a smoke run (~2-3 min)
#
# Installs what is missing, builds and installs the extension (unless
# IVM_SKIP_BUILD=1), starts a throwaway cluster (test/lib.sh), sets
# benchmark settings with ALTER SYSTEM and restarts it, then runs:
#   (a) bench-a.sh  aggregate view: tick after a one-row UPDATE vs REFRESH
#                   [CONCURRENTLY], at each size of IVM_BENCH_SIZES
#   (b) bench-b.sh  join view over pgbench tables: tick after an account /
#                   a branch UPDATE vs REFRESH
#   (c) bench-c.sh  pgbench UPDATE TPS without and with three views, and
#   (d)             the catch-up tick after each run with views
#   (e) bench-e-checkpoint.sh  delta checkpoints of a view of 1M rows: base,
#                   1% change + tick + delta, restore into a fresh database
#   (sweep) bench-sweep.sh  tick time against delta size (1, 10, ... up to
#                   10% of the rows) for an aggregate and a join view, with
#                   and without the fallback, vs REFRESH
#   (tpch) bench-tpch.sh  opt-in (IVM_BENCH_ONLY=tpch): the 22 TPC-H queries,
#                   tick after a round (RF1+RF2; RF1+RF2 and updates of every
#                   table) vs REFRESH per query, and the round's write time
#                   with the 22 views vs none
# Raw numbers go to test/bench/results/<date-time>/ (raw.csv, meta.tsv,
# evidence/, logs/; results/latest points at the newest), report.sh turns
# them into that run's full report (report.md in the same directory), and
# summary.sh writes BENCHMARKS.md from the newest results of each benchmark
# (plots in docs/bench/).  Not part of test/run-all.sh.
#
# Environment (see test/bench/README.md):
#   IVM_BENCH_SIZES    row counts for (a)        (default "100000 1000000 10000000")
#   IVM_BENCH_REPS     repetitions per figure    (default 7)
#   IVM_BENCH_SECONDS  seconds per pgbench run   (default 30)
#   IVM_BENCH_RUNS     pgbench runs per config   (default 3)
#   IVM_BENCH_CLIENTS  pgbench client counts     (default "1 4")
#   IVM_BENCH_SCALE    pgbench scale for (b)     (default 10)
#   IVM_BENCH_WRITE_ROWS  rows of t for (c)      (default 1000000)
#   IVM_BENCH_E_ROWS   rows of the view of (e)   (default 1000000)
#   IVM_BENCH_E_REPS   repetitions of (e)        (default 3)
#   IVM_BENCH_ONLY     subset of "a b c e sweep tpch" to run  (default
#                      "a b c e sweep"; the report then only has those)
#   IVM_BENCH_SWEEP_ROWS  rows of t for (sweep) (default 1000000)
#   IVM_BENCH_SWEEP_REPS  repetitions in (sweep) (default 3)
#   IVM_BENCH_TPCH_SF  scale factor of (tpch)   (default 1)
#   IVM_BENCH_TPCH_REPS  repetitions in (tpch)  (default 3)
#   IVM_BENCH_TPCH_ROUNDS  round kinds of (tpch) (default "rf all")
#   IVM_BENCH_QUICK=1  sizes "10000 100000", reps 3, 5 s pgbench runs,
#                      scale 1, 100000 rows for (c), (e) and (sweep), 2
#                      repetitions of (e) and (sweep) (each still overridable)
#   IVM_BENCH_PG_SETTINGS  "name=value ..." applied with ALTER SYSTEM
#                      (default below; e.g. add fsync=on)
#   IVM_BENCH_OUTPUT   the run's full report (default RUN_DIR/report.md)
#   IVM_BENCH_SUMMARY=0  do not regenerate BENCHMARKS.md (summary.sh)
#   IVM_SKIP_BUILD=1, IVM_KEEP=1, IVM_PG_BIN as for the other scripts.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=test/bench/lib-bench.sh
. "$HERE/lib-bench.sh"
# shellcheck source=test/bench/bench-a.sh
. "$HERE/bench-a.sh"
# shellcheck source=test/bench/bench-b.sh
. "$HERE/bench-b.sh"
# shellcheck source=test/bench/bench-c.sh
. "$HERE/bench-c.sh"
# shellcheck source=test/bench/bench-e-checkpoint.sh
. "$HERE/bench-e-checkpoint.sh"
# shellcheck source=test/bench/bench-sweep.sh
. "$HERE/bench-sweep.sh"
# shellcheck source=test/bench/bench-tpch.sh
. "$HERE/bench-tpch.sh"

if [ "${IVM_BENCH_QUICK:-0}" = 1 ]; then
    BENCH_MODE=quick
    BENCH_SIZES=${IVM_BENCH_SIZES:-10000 100000}
    BENCH_REPS=${IVM_BENCH_REPS:-3}
    BENCH_SECONDS=${IVM_BENCH_SECONDS:-5}
    BENCH_PGBENCH_SCALE=${IVM_BENCH_SCALE:-1}
    BENCH_WRITE_ROWS=${IVM_BENCH_WRITE_ROWS:-100000}
    BENCH_E_ROWS=${IVM_BENCH_E_ROWS:-100000}
    BENCH_E_REPS=${IVM_BENCH_E_REPS:-2}
    BENCH_SWEEP_ROWS=${IVM_BENCH_SWEEP_ROWS:-100000}
    BENCH_SWEEP_REPS=${IVM_BENCH_SWEEP_REPS:-2}
else
    BENCH_MODE=full
    BENCH_SIZES=${IVM_BENCH_SIZES:-100000 1000000 10000000}
    BENCH_REPS=${IVM_BENCH_REPS:-7}
    BENCH_SECONDS=${IVM_BENCH_SECONDS:-30}
    BENCH_PGBENCH_SCALE=${IVM_BENCH_SCALE:-10}
    BENCH_WRITE_ROWS=${IVM_BENCH_WRITE_ROWS:-1000000}
    BENCH_E_ROWS=${IVM_BENCH_E_ROWS:-1000000}
    BENCH_E_REPS=${IVM_BENCH_E_REPS:-3}
    BENCH_SWEEP_ROWS=${IVM_BENCH_SWEEP_ROWS:-1000000}
    BENCH_SWEEP_REPS=${IVM_BENCH_SWEEP_REPS:-3}
fi
BENCH_RUNS=${IVM_BENCH_RUNS:-3}
BENCH_CLIENTS=${IVM_BENCH_CLIENTS:-1 4}
BENCH_ONLY=${IVM_BENCH_ONLY:-a b c e sweep}
BENCH_TPCH_SF=${IVM_BENCH_TPCH_SF:-1}
BENCH_TPCH_REPS=${IVM_BENCH_TPCH_REPS:-3}
BENCH_TPCH_ROUNDS=${IVM_BENCH_TPCH_ROUNDS:-rf all}
BENCH_CORES=$(nproc 2>/dev/null || echo 2)
BENCH_PG_SETTINGS=${IVM_BENCH_PG_SETTINGS:-shared_buffers=1GB work_mem=64MB maintenance_work_mem=512MB max_wal_size=4GB checkpoint_timeout=30min}

# Every knob must be a positive integer (or a list of them).
for v in $BENCH_SIZES $BENCH_REPS $BENCH_SECONDS $BENCH_RUNS $BENCH_CLIENTS \
        $BENCH_PGBENCH_SCALE $BENCH_WRITE_ROWS $BENCH_E_ROWS $BENCH_E_REPS $BENCH_TPCH_REPS \
        $BENCH_SWEEP_ROWS $BENCH_SWEEP_REPS; do
    case "$v" in
        '' | *[!0-9]* | 0) echo "benchmark settings must be positive integers; got '$v'" >&2; exit 2 ;;
    esac
done
for b in $BENCH_ONLY; do
    case "$b" in
        a | b | c | e | sweep | tpch) ;;
        *) echo "IVM_BENCH_ONLY takes a, b, c, e, sweep and tpch; got '$b'" >&2; exit 2 ;;
    esac
done
for k in $BENCH_TPCH_ROUNDS; do
    case "$k" in
        rf | all) ;;
        *) echo "IVM_BENCH_TPCH_ROUNDS takes rf and all; got '$k'" >&2; exit 2 ;;
    esac
done
if ! [[ "$BENCH_TPCH_SF" =~ ^[0-9]*\.?[0-9]+$ ]]; then
    echo "IVM_BENCH_TPCH_SF must be a positive number; got '$BENCH_TPCH_SF'" >&2
    exit 2
fi

RESULTS=$HERE/results
RUN_DIR=$RESULTS/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/evidence"
echo 'bench,config,metric,rep,value' >"$RUN_DIR/raw.csv"
: >"$RUN_DIR/meta.tsv"
: >"$RUN_DIR/failures.tsv"
: >"$RUN_DIR/warnings.txt"
ln -sfn "$(basename "$RUN_DIR")" "$RESULTS/latest"
export RUN_DIR
OUTPUT=${IVM_BENCH_OUTPUT:-$RUN_DIR/report.md}
START=$SECONDS

echo "ivm benchmarks ($BENCH_MODE): sizes [$BENCH_SIZES], $BENCH_REPS reps," \
    "pgbench ${BENCH_SECONDS}s x $BENCH_RUNS runs at clients [$BENCH_CLIENTS]; results in $RUN_DIR"

ivm_prepare
# summary.sh draws its plots with gnuplot
[ "${IVM_BENCH_SUMMARY:-1}" = 0 ] || command -v gnuplot >/dev/null || ivm_install_deps gnuplot-nox
ivm_say "starting a throwaway cluster"
ivm_cluster_start
for s in $BENCH_PG_SETTINGS; do
    ivm_psql -c "ALTER SYSTEM SET ${s%%=*} = '${s#*=}'"
done
ivm_cluster_restart

bench_machine
STAMP0=$(bench_installed_stamp)
bench_meta loadavg_start "$(cat /proc/loadavg 2>/dev/null)"
CPU0=$(bench_cpu_sample)
bench_meta mode "$BENCH_MODE"
bench_meta sizes "$BENCH_SIZES"
bench_meta reps "$BENCH_REPS"
bench_meta pgbench_seconds "$BENCH_SECONDS"
bench_meta pgbench_runs "$BENCH_RUNS"
bench_meta pgbench_clients "$BENCH_CLIENTS"
bench_meta pgbench_scale "$BENCH_PGBENCH_SCALE"
bench_meta write_rows "$BENCH_WRITE_ROWS"
bench_meta e_rows "$BENCH_E_ROWS"
bench_meta e_reps "$BENCH_E_REPS"
bench_meta benches "$BENCH_ONLY"
bench_meta tpch_sf "$BENCH_TPCH_SF"
bench_meta tpch_reps "$BENCH_TPCH_REPS"
bench_meta tpch_rounds "$BENCH_TPCH_ROUNDS"
bench_meta sweep_rows "$BENCH_SWEEP_ROWS"
bench_meta sweep_reps "$BENCH_SWEEP_REPS"

for b in $BENCH_ONLY; do
    case "$b" in
        a) bench_a || true ;;
        b) bench_b || true ;;
        c) bench_c || true ;;
        e) bench_e || true ;;
        sweep) bench_sweep || true ;;
        tpch) bench_tpch || true ;;
    esac
done

bench_meta total_seconds "$((SECONDS - START))"
# The server keeps the library it loaded at start, but a CREATE EXTENSION
# after a reinstall reads the new SQL script: say so if that happened.
if [ "$(bench_installed_stamp)" != "$STAMP0" ]; then
    bench_warn "the installed extension changed during the run (before: $STAMP0 after: $(bench_installed_stamp));" \
        "the server kept the ivm.so it loaded at start, databases created after the change ran the new SQL script"
fi
bench_meta loadavg_end "$(cat /proc/loadavg 2>/dev/null)"
bench_meta cpu_steal_pct "$(bench_steal_pct "$CPU0" "$(bench_cpu_sample)")"
ivm_say "writing $OUTPUT"
bash "$HERE/report.sh" "$RUN_DIR" >"$OUTPUT.tmp"
mv "$OUTPUT.tmp" "$OUTPUT"
if [ "${IVM_BENCH_SUMMARY:-1}" != 0 ]; then
    # the newest results of each benchmark, this run's among them
    ivm_say "regenerating $REPO/BENCHMARKS.md (summary.sh)"
    bash "$HERE/summary.sh" "$RESULTS"/[0-9]*-[0-9]*/ || bench_warn "summary.sh failed: BENCHMARKS.md not regenerated"
fi
if [ -s "$RUN_DIR/failures.tsv" ]; then
    echo "finished in $((SECONDS - START))s with failures (listed in $OUTPUT):" >&2
    cat "$RUN_DIR/failures.tsv" >&2
    exit 1
fi
echo "finished in $((SECONDS - START))s; report: $OUTPUT; raw numbers: $RUN_DIR/raw.csv"
