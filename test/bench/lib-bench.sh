# shellcheck shell=bash
# ---------------------------------------------------------------------------
# test/bench/lib-bench.sh -- helpers shared by the benchmark scripts.
#
# Sourced by test/bench/run.sh after test/lib.sh.  Every measurement goes to
# $RUN_DIR/raw.csv as one line
#     bench,config,metric,rep,value
# and test/bench/report.sh turns that file into BENCHMARKS.md.
#
# SQL scripts run in ONE psql session each (bench_sql), with \timing on.
# They mark what to keep with two kinds of lines:
#     \echo @@T bench,config,metric,rep     the next "Time: X ms" line that
#                                           psql prints is recorded as the value
#                                           (client-side wall time of the next
#                                           statement: send, execute, commit in
#                                           autocommit, result back)
#     \echo @@V bench,config,metric,rep,value   recorded as is
# so that no psql start-up is ever counted in a figure.
# ---------------------------------------------------------------------------

# bench_record BENCH CONFIG METRIC REP VALUE: append one measurement.
bench_record() {
    printf '%s,%s,%s,%s,%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RUN_DIR/raw.csv"
}

# bench_meta KEY VALUE: one line of $RUN_DIR/meta.tsv (machine, settings...).
bench_meta() {
    printf '%s\t%s\n' "$1" "$2" >>"$RUN_DIR/meta.tsv"
}

# bench_fail WHAT MESSAGE: note a failure; the report lists them.
bench_fail() {
    printf '%s\t%s\n' "$1" "$2" >>"$RUN_DIR/failures.tsv"
    echo "BENCH FAILURE: $1: $2" >&2
}

# bench_warn MESSAGE: a warning about the run as a whole; the report shows it.
bench_warn() {
    printf '%s\n' "$*" >>"$RUN_DIR/warnings.txt"
    echo "BENCH WARNING: $*" >&2
}

# bench_installed_stamp: when the installed ivm.so and ivm--*.sql were written.
bench_installed_stamp() {
    local lib share

    lib=$("$IVM_PG_CONFIG" --pkglibdir 2>/dev/null)
    share=$("$IVM_PG_CONFIG" --sharedir 2>/dev/null)/extension
    stat -c '%y %n' "$lib/ivm.so" "$share"/ivm--*.sql 2>/dev/null | cut -c 1-19,36- | sort | tr '\n' ';'
}

# bench_log NAME: the path of a log file in the run directory.
bench_log() {
    echo "$RUN_DIR/logs/$1.log"
}

# bench_parse LOG: print the measurements marked in a psql log as CSV lines.
bench_parse() {
    awk '
        /^@@T / { pending = substr($0, 5); next }
        /^Time: / { if (pending != "") { print pending "," $2; pending = "" } next }
        /^@@V / { print substr($0, 5); next }
    ' "$1"
}

# bench_sql NAME DB: run the SQL on stdin in one psql session on database DB
# (\timing on, unaligned tuples-only output, stop at the first error), keep
# its output in logs/NAME.log and record what it marked.  On an error the
# measurements made before it are kept, the failure is noted, and the
# function fails.
bench_sql() {
    local name=$1 db=$2 log rc=0

    log=$(bench_log "$name")
    {
        printf '%s\n' '\timing on'
        cat
    } | ivm_psql -At -d "$db" >"$log" 2>&1 || rc=$?
    bench_parse "$log" >>"$RUN_DIR/raw.csv"
    if [ "$rc" -ne 0 ]; then
        bench_fail "$name" "psql exited with $rc: $(grep -m 3 -E 'ERROR|FATAL|PANIC|server closed' "$log" |
            tr '\n' ' ')(log: $log)"
        return 1
    fi
    return 0
}

# bench_q DB SQL: one value from one query (set-up and checks, never timed).
bench_q() {
    ivm_psql -At -d "$1" -c "$2"
}

# bench_evidence NAME DB WHERE: save the rows of ivm.evidence matching WHERE
# (say "epoch = 12") as $RUN_DIR/evidence/NAME.csv, with a header.
bench_evidence() {
    local out=$RUN_DIR/evidence/$1.csv

    if ! ivm_psql -d "$2" -c "COPY (SELECT * FROM ivm.evidence WHERE $3 ORDER BY epoch DESC, 2)
                               TO STDOUT WITH (FORMAT csv, HEADER)" >"$out" 2>"$out.err"; then
        bench_fail "evidence $1" "$(head -n 3 "$out.err" | tr '\n' ' ')"
        rm -f "$out"
    fi
    rm -f "$out.err"
}

# bench_check NAME DB VIEW QUERY: record (bench "check") how many rows VIEW
# and QUERY differ by, as multisets (EXCEPT ALL both ways); 0 is right.
bench_check() {
    local n

    if ! n=$(bench_q "$2" "SELECT count(*) FROM (
                (SELECT * FROM $3 EXCEPT ALL ($4))
                UNION ALL
                (($4) EXCEPT ALL SELECT * FROM $3)) d" 2>&1); then
        bench_fail "check $1" "$n"
        return 1
    fi
    bench_record check "$1" mismatched_rows 1 "$n"
    if [ "$n" != 0 ]; then
        bench_fail "check $1" "view $3 differs from its query by $n rows after the benchmark"
    fi
}

# bench_capture_triggers DB TABLE: how many ivm capture triggers TABLE has.
bench_capture_triggers() {
    bench_q "$1" "SELECT count(*) FROM pg_trigger
                  WHERE tgrelid = '$2'::regclass AND tgname LIKE 'ivm\\_capture\\_%'"
}

# bench_recreate_db DB: drop DB if it exists, create it with ivm in it.
bench_recreate_db() {
    ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" &&
        ivm_psql -d postgres -c "CREATE DATABASE $1" &&
        ivm_psql -d "$1" -c "CREATE EXTENSION ivm"
}

# bench_drop_db DB
bench_drop_db() {
    ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)"
}

# bench_cpu_sample: "total steal" jiffies of all CPUs, from /proc/stat.
bench_cpu_sample() {
    awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $9; exit }' /proc/stat 2>/dev/null ||
        echo "0 0"
}

# bench_steal_pct "T0 S0" "T1 S1": the share of CPU time stolen by the
# hypervisor between two samples, in percent.
bench_steal_pct() {
    echo "$1 $2" | awk '{ dt = $3 - $1; printf "%.1f\n", (dt > 0 ? 100 * ($4 - $2) / dt : 0) }'
}

# bench_loadavg: the 1-minute load average.
bench_loadavg() {
    awk '{ print $1 }' /proc/loadavg 2>/dev/null || echo 0
}

# bench_elapsed START: seconds since START (a $SECONDS value), as "Ns".
bench_elapsed() {
    echo "$((SECONDS - $1))s"
}

# bench_machine: describe the machine, the server and the build in meta.tsv.
bench_machine() {
    local cpu cores ram kernel os dev fstype disk model commit dirty pgver

    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
    [ -n "$cpu" ] || cpu=$(uname -m)
    cores=$(nproc 2>/dev/null || echo '?')
    ram=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
    kernel="$(uname -sr)"
    os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")
    dev=$(findmnt -no SOURCE --target "$IVM_TMP" 2>/dev/null | head -n 1)
    fstype=$(findmnt -no FSTYPE --target "$IVM_TMP" 2>/dev/null | head -n 1)
    disk="${dev:-?} (${fstype:-?})"
    if [ -b "${dev:-/nonexistent}" ]; then
        model=$(lsblk -dno MODEL "$dev" 2>/dev/null | sed 's/ *$//')
        disk="$disk, $(lsblk -dno SIZE "$dev" 2>/dev/null | tr -d ' '),"
        disk="$disk rotational=$(lsblk -dno ROTA "$dev" 2>/dev/null | tr -d ' ')${model:+, $model}"
    fi
    disk="$disk; free: $(df -h --output=avail "$IVM_TMP" 2>/dev/null | tail -n 1 | tr -d ' ')"
    commit=$(git -C "$REPO" log -1 --format='%h (%cd, %s)' --abbrev=12 --date=short 2>/dev/null) ||
        commit=''
    dirty=$(git -C "$REPO" status --porcelain -- src sql expected specs Makefile \
        'ivm--*.sql' ivm.control 2>/dev/null | awk '{ print $2 }' | tr '\n' ' ') || dirty=''
    pgver=$(bench_q postgres "SELECT version()" 2>/dev/null || echo '?')

    bench_meta date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    bench_meta cpu "$cpu"
    bench_meta cores "$cores"
    bench_meta ram "$ram"
    bench_meta disk "$disk"
    bench_meta kernel "$kernel"
    bench_meta os "${os:-?}"
    bench_meta postgres "$pgver"
    bench_meta ivm_commit "${commit:-unknown}"
    bench_meta ivm_worktree "${dirty:+uncommitted changes at run time in: }${dirty:-clean (no uncommitted change to the extension)}"
    if [ "${IVM_SKIP_BUILD:-0}" = 1 ]; then
        bench_meta ivm_build "not rebuilt (IVM_SKIP_BUILD=1): the installed ivm.so, $(date -u -r \
            "$("$IVM_PG_CONFIG" --pkglibdir)/ivm.so" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?')"
    else
        bench_meta ivm_build "built from the working tree and installed by this run"
    fi
    bench_meta settings "$(bench_q postgres "SELECT string_agg(name || '=' || current_setting(name),
            ', ' ORDER BY name) FROM pg_settings WHERE name IN
            ('shared_buffers', 'work_mem', 'maintenance_work_mem', 'max_wal_size',
             'checkpoint_timeout', 'fsync', 'synchronous_commit', 'full_page_writes',
             'max_parallel_workers_per_gather', 'jit', 'autovacuum')" 2>/dev/null || echo '?')"
}

# ---- helpers of the standalone benchmark scripts (bench-*.sh run alone) ----

# bench_ms: milliseconds since the epoch
bench_ms() {
    echo $(( $(date +%s%N) / 1000000 ))
}

# bench_median "N N ...": the median of the numbers (the lower middle one)
bench_median() {
    tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# bench_large_cluster "SETTINGS": build and install ivm (test/lib.sh), then a
# cluster of its own sized for millions of rows (shared_buffers 2GB, work_mem
# 64MB, maintenance_work_mem 512MB, max_wal_size 8GB), SETTINGS (lines of
# postgresql.conf) added
bench_large_cluster() {
    ivm_prepare
    unset IVM_PGDATA IVM_TMP
    IVM_EXTRA_CONF="shared_buffers = '2GB'
work_mem = '64MB'
maintenance_work_mem = '512MB'
max_wal_size = '8GB'
$1" ivm_cluster_start >/dev/null
}

# bench_rss_peak DB SQL: run SQL in one session of database DB while a sampler
# reads the backend's RssAnon (its private memory, not the shared buffers it
# maps) from /proc every 20 ms; print "ms|rss_before_kB|rss_peak_kB", ms being
# the wall time psql reports for SQL's last statement.
bench_rss_peak() {
    local db=$1 sql=$2 pidf="$IVM_TMP/rss.pid" outf="$IVM_TMP/rss.out" pid peak=0 base="" v bg ms
    rm -f "$pidf" "$outf"
    ivm_psql -d "$db" -At >"$outf" 2>&1 <<SQL &
\o $pidf
SELECT pg_backend_pid();
\o
SELECT pg_sleep(0.5);
\timing on
$sql
SQL
    bg=$!
    while [ ! -s "$pidf" ]; do sleep 0.02; done
    pid=$(tr -dc '0-9' <"$pidf")
    while kill -0 "$bg" 2>/dev/null; do
        v=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        if [ -n "$v" ]; then
            [ -z "$base" ] && base=$v
            [ "$v" -gt "$peak" ] && peak=$v
        fi
        sleep 0.02
    done
    wait "$bg" || { cat "$outf" >&2; return 1; }
    ms=$(grep -o 'Time: [0-9.]* ms' "$outf" | tail -1 | tr -dc '0-9.')
    echo "$ms|${base:-0}|$peak"
}
