#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/report.sh -- turn one benchmark run's raw numbers into Markdown.
#
#   bash test/bench/report.sh test/bench/results/latest > BENCHMARKS.md
#
# Reads RUN_DIR/raw.csv (bench,config,metric,rep,value), RUN_DIR/meta.tsv,
# RUN_DIR/failures.tsv and RUN_DIR/evidence/*.csv, as written by run.sh.
# Every figure is the median over the repetitions of that run; every ratio is
# a ratio of medians measured in the same run.
# ---------------------------------------------------------------------------
set -euo pipefail

D=${1:?usage: report.sh RUN_DIR}
RAW=$D/raw.csv
[ -f "$RAW" ] || { echo "no $RAW" >&2; exit 2; }

# ---- helpers ---------------------------------------------------------------

meta() {
    awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { print v }' "$D/meta.tsv" 2>/dev/null
}

# med BENCH CONFIG METRIC: the median of the values, or nothing.
med() {
    awk -F, -v b="$1" -v c="$2" -v m="$3" '
        $1 == b && $2 == c && $3 == m && $5 != "" { v[n++] = $5 + 0 }
        END {
            if (n == 0) exit
            for (i = 1; i < n; i++) {          # insertion sort (mawk has no asort)
                x = v[i]
                for (j = i - 1; j >= 0 && v[j] > x; j--) v[j + 1] = v[j]
                v[j + 1] = x
            }
            if (n % 2) print v[(n - 1) / 2]; else print (v[n / 2 - 1] + v[n / 2]) / 2
        }' "$RAW"
}


# vals BENCH CONFIG METRIC FORMAT: every value, in order of repetition, formatted.
vals() {
    local out="" x
    while read -r x; do
        out="$out${out:+, }$("$4" "$x")"
    done < <(awk -F, -v b="$1" -v c="$2" -v m="$3" '$1 == b && $2 == c && $3 == m && $5 != "" { print $5 }' "$RAW")
    echo "$out"
}


# div A B: A / B, or nothing when either is missing or B is 0.
div() {
    if [ -z "$1" ] || [ -z "$2" ]; then return 0; fi
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 != 0) printf "%.6g\n", a / b }'
}

# ms X: a duration in milliseconds, rounded for reading.
ms() {
    [ -n "${1:-}" ] || { echo "–"; return 0; }
    awk -v x="$1" 'BEGIN {
        if (x >= 100) printf "%.0f", x; else if (x >= 10) printf "%.1f", x;
        else if (x >= 1) printf "%.2f", x; else printf "%.3f", x }'
}

# ratio X: a ratio, "12.3×".
ratio() {
    [ -n "${1:-}" ] || { echo "–"; return 0; }
    awk -v x="$1" 'BEGIN {
        if (x >= 100) printf "%.0f×", x; else if (x >= 10) printf "%.1f×", x;
        else printf "%.2f×", x }'
}

# num X: a count or rate, with thousands separators, no decimals.
num() {
    [ -n "${1:-}" ] || { echo "–"; return 0; }
    awk -v x="$1" 'BEGIN {
        s = sprintf("%.0f", x); neg = (substr(s, 1, 1) == "-"); if (neg) s = substr(s, 2)
        out = ""; while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
        printf "%s%s%s", (neg ? "-" : ""), s, out }'
}

# human N: 100000 -> 100k, 10000000 -> 10M.
human() {
    awk -v n="$1" 'BEGIN {
        if (n >= 1000000 && n % 1000000 == 0) printf "%dM", n / 1000000;
        else if (n >= 1000 && n % 1000 == 0) printf "%dk", n / 1000; else printf "%d", n }'
}

# csv2md FILE: a CSV file with a header (no embedded commas) as a Markdown table.
csv2md() {
    awk -F, 'NR == 1 { h = "|"; s = "|"; for (i = 1; i <= NF; i++) { h = h " " $i " |"; s = s " --- |" }
                       print h; print s; next }
             { r = "|"; for (i = 1; i <= NF; i++) r = r " " $i " |"; print r }' "$1"
}

# evidence NAME TITLE: the saved ivm.evidence rows, or a note.
evidence() {
    local f=$D/evidence/$1.csv
    if [ -s "$f" ] && [ "$(wc -l <"$f")" -gt 1 ]; then
        echo "$2:"
        echo
        csv2md "$f"
    else
        echo "$2: no evidence rows were saved."
    fi
    echo
}

# verdict_ge VALUE GOAL: "met" or "missed by ..." for VALUE >= GOAL (a factor).
verdict_ge() {
    [ -n "$1" ] || { echo "not measured"; return 0; }
    awk -v x="$1" -v g="$2" 'BEGIN {
        if (x >= g) printf "**met** (%.2f× the goal)", x / g;
        else printf "**missed**: %.3g× short of the goal (%.1f%% of it)", g / x, 100 * x / g }'
}

# verdict_le VALUE GOAL: for VALUE <= GOAL.
verdict_le() {
    [ -n "$1" ] || { echo "not measured"; return 0; }
    awk -v x="$1" -v g="$2" 'BEGIN {
        if (x <= g) printf "**met** (%.2f below the limit)", g - x;
        else printf "**missed**: %.2f over the limit (%.3g× the limit)", x - g, x / g }'
}

# verdict_ge_abs VALUE GOAL: for VALUE >= GOAL, a difference rather than a factor.
verdict_ge_abs() {
    [ -n "$1" ] || { echo "not measured"; return 0; }
    awk -v x="$1" -v g="$2" 'BEGIN {
        if (x >= g) printf "**met** (%.2f above the goal)", x - g;
        else printf "**missed**: %.2f below the goal", g - x }'
}

has() {
    grep -q "^$1," "$RAW"
}

SIZES=$(awk -F, '$1 == "a" && $3 == "tick_wall_ms" { print $2 }' "$RAW" | sort -n -u | tr '\n' ' ')
REPS=$(meta reps)
RUNS=$(meta pgbench_runs)
SECS=$(meta pgbench_seconds)
CLIENTS=$(awk -F, '$1 == "c" && $3 == "tps" { sub(/^c/, "", $2); sub(/_.*/, "", $2); print $2 }' "$RAW" |
    sort -n -u | tr '\n' ' ')

# ---- the report ------------------------------------------------------------

cat <<EOF
# ivm benchmarks

Written by \`bash test/bench/run.sh\` ($(meta mode) mode) on $(meta date); regenerate this page from the
raw numbers with \`bash test/bench/report.sh test/bench/results/latest > BENCHMARKS.md\`. What each
benchmark does is in [test/bench/README.md](test/bench/README.md).

## Machine and build

| | |
| --- | --- |
| CPU | $(meta cpu) |
| cores | $(meta cores) |
| RAM | $(meta ram) |
| disk | $(meta disk) |
| kernel | $(meta kernel) |
| OS | $(meta os) |
| PostgreSQL | $(meta postgres) |
| ivm commit | $(meta ivm_commit) |
| working tree | $(meta ivm_worktree) |
| ivm build | $(meta ivm_build) |
| server settings | $(meta settings) |
| date | $(meta date) |
| run time | $(meta total_seconds) s |
| load average (1, 5, 15 min) | at the start $(meta loadavg_start | cut -d' ' -f1-3), at the end $(meta loadavg_end | cut -d' ' -f1-3) |
| CPU steal (hypervisor) | $(meta cpu_steal_pct)% of CPU time over the whole run |

EOF
if [ -s "$D/warnings.txt" ]; then
    sed 's/^/**Warning:** /; s/$/\n/' "$D/warnings.txt"
fi
cat <<EOF
## Method

- Every figure is the **median over $REPS repetitions** ((a), (b)) or over **$RUNS pgbench runs of
  ${SECS} s** per configuration ((c), (d)); every ratio is a ratio of two medians **measured in the
  same run** on the same throwaway cluster (\`initdb\` by \`test/lib.sh\`, \`fsync = off\`: write
  costs are CPU costs, which makes the write-overhead ratio of (c) a worst case).
- *wall* = client-side time of the one statement in a long-lived psql session (\`\\timing\`: sent,
  executed, committed — autocommit — and answered; no process start-up). *tick duration* = the
  \`duration_ms\` column that \`ivm.tick()\` returns (its own work, before the commit).
- Before measuring, each benchmark runs a warm-up round in the measuring session (an UPDATE, a
  tick, the REFRESHes) after \`VACUUM ANALYZE\`. Each measured tick consumes exactly one UPDATE
  statement.

EOF

# ---- (a) ---------------------------------------------------------------------
if has a; then
    cat <<EOF
## (a) Aggregate view: tick after a one-row UPDATE vs REFRESH

\`t(id int primary key, k int, v int)\`, k = 1 + id % 1000, v random; view
\`SELECT k, count(*), sum(v) FROM t GROUP BY k\` (1,000 rows) by \`ivm.create_view\`; baseline
\`CREATE MATERIALIZED VIEW agg_mv\` of the same query with a unique index on k. Per repetition:
\`UPDATE t SET v = v + 1 WHERE id = <random>\`, then the timed \`SELECT * FROM ivm.tick()\`, then
the timed \`REFRESH MATERIALIZED VIEW CONCURRENTLY agg_mv\` (it finds that same one changed row),
then the timed \`REFRESH MATERIALIZED VIEW agg_mv\`. Medians of $REPS, in ms.

| rows | tick duration | tick wall | REFRESH | REFRESH CONCURRENTLY | REFRESH / tick | REFRESH CONC. / tick |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
    for n in $SIZES; do
        td=$(med a "$n" tick_duration_ms); tw=$(med a "$n" tick_wall_ms)
        rf=$(med a "$n" refresh_ms); rc=$(med a "$n" refresh_concurrently_ms)
        echo "| $(human "$n") | $(ms "$td") | $(ms "$tw") | $(ms "$rf") | $(ms "$rc") |" \
            "$(ratio "$(div "$rf" "$tw")") | $(ratio "$(div "$rc" "$tw")") |"
    done
    echo
    echo "Ratios are of wall times (REFRESH is a statement measured the same way)."
    echo
    echo "| rows | tick wall, each repetition (ms) | REFRESH, each repetition (ms) | rows_in per tick | load | create_view | CREATE MATERIALIZED VIEW |"
    echo "| ---: | --- | --- | ---: | ---: | ---: | ---: |"
    for n in $SIZES; do
        echo "| $(human "$n") | $(vals a "$n" tick_wall_ms ms) | $(vals a "$n" refresh_ms ms) |" \
            "$(med a "$n" tick_rows_in) | $(ms "$(med a "$n" load_ms)") ms | $(ms "$(med a "$n" create_view_ms)") ms |" \
            "$(ms "$(med a "$n" create_matview_ms)") ms |"
    done
    echo
    smin=$(echo "$SIZES" | awk '{ print $1 }')
    smax=$(echo "$SIZES" | awk '{ print $NF }')
    if [ "$smin" != "$smax" ]; then
        echo "Scaling: tick wall at $(human "$smax") / at $(human "$smin") =" \
            "$(ratio "$(div "$(med a "$smax" tick_wall_ms)" "$(med a "$smin" tick_wall_ms)")");" \
            "tick duration at $(human "$smax") / at $(human "$smin") =" \
            "$(ratio "$(div "$(med a "$smax" tick_duration_ms)" "$(med a "$smin" tick_duration_ms)")");" \
            "REFRESH at $(human "$smax") / at $(human "$smin") =" \
            "$(ratio "$(div "$(med a "$smax" refresh_ms)" "$(med a "$smin" refresh_ms)")")."
        echo
    fi
    echo "Evidence (\`ivm.evidence\`) of the last measured tick at each size:"
    echo
    for n in $SIZES; do
        evidence "a-$n" "- $(human "$n") rows"
    done
fi

# ---- (b) ---------------------------------------------------------------------
if has b; then
    scale=$(meta pgbench_scale)
    cat <<EOF
## (b) Join view over pgbench tables: tick after a one-row UPDATE vs REFRESH

\`pgbench -i -s $scale\` ($(num "$((scale * 100000))") accounts, $scale branch$([ "$scale" = 1 ] || echo es)); view
\`SELECT a.aid, b.bid, a.abalance, b.bbalance FROM pgbench_accounts a JOIN pgbench_branches b USING (bid)\`
($(num "$((scale * 100000))") rows) by \`ivm.create_view\`; baseline \`CREATE MATERIALIZED VIEW ab_mv\` of
the same query (no index). Per repetition: one \`UPDATE pgbench_accounts SET abalance = abalance + 1
WHERE aid = <random>\` (1 view row changes), the timed tick, the timed \`REFRESH MATERIALIZED VIEW
ab_mv\`; then the same with \`UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid =
<random>\` (100,000 view rows change). Medians of $REPS, in ms.

| update | tick duration | tick wall | REFRESH | REFRESH / tick | rows_in | rows_out |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
    for side in account branch; do
        td=$(med b "$side" tick_duration_ms); tw=$(med b "$side" tick_wall_ms); rf=$(med b "$side" refresh_ms)
        echo "| one $side | $(ms "$td") | $(ms "$tw") | $(ms "$rf") | $(ratio "$(div "$rf" "$tw")") |" \
            "$(num "$(med b "$side" tick_rows_in)") | $(num "$(med b "$side" tick_rows_out)") |"
    done
    echo
    echo "Each repetition, tick wall (ms): account $(vals b account tick_wall_ms ms); branch $(vals b branch tick_wall_ms ms)."
    echo "Set-up: create_view $(ms "$(med b setup create_view_ms)") ms, CREATE MATERIALIZED VIEW $(ms "$(med b setup create_matview_ms)") ms."
    echo
    evidence b-account "Evidence of the last measured tick after an account UPDATE"
    evidence b-branch "Evidence of the last measured tick after a branch UPDATE"
fi

# ---- (c) and (d) -------------------------------------------------------------
if has c; then
    rows=$(meta write_rows)
    cat <<EOF
## (c) Write overhead: UPDATE throughput without and with three views

Two databases, identical but for the views: \`t\` ($(num "$rows") rows, as in (a)) and
\`dim(k int primary key, name text)\` (1,000 rows). In one, three incremental views on \`t\`:
\`agg\` = \`SELECT k, count(*), sum(v) FROM t GROUP BY k\`, \`joined\` = \`SELECT t.id, t.v, d.name
FROM t JOIN dim d ON d.k = t.k\`, \`filtered\` = \`SELECT id, v FROM t WHERE v % 10 = 0\`; in the
other none (ivm installed): \`t\` has $(med c setup capture_triggers_none) \`ivm_capture_*\` triggers there,
$(med c setup capture_triggers_views) in the database with views. Before any view and any run,
every row of \`t\` is updated once and the database vacuumed, so that each run starts from the same
steady state (free space in every page) rather than from a freshly loaded table.
pgbench \`-n -M prepared -T $SECS\`
with \`UPDATE t SET v = v + 1 WHERE id = :id\` (\`:id\` random in 1..$rows), \`-j\` = min(clients,
cores); no tick runs during a run. $RUNS runs per configuration, alternating which configuration
goes first; \`VACUUM ANALYZE\` and \`CHECKPOINT\` before each run. Median TPS:

| clients | TPS, no views | TPS, 3 views | with / without | each run, no views | each run, 3 views | latency no views / views (ms) |
| ---: | ---: | ---: | ---: | --- | --- | --- |
EOF
    for c in $CLIENTS; do
        tn=$(med c "c${c}_none" tps); tv=$(med c "c${c}_views" tps)
        echo "| $c | $(num "$tn") | $(num "$tv") | $(div "$tv" "$tn" | awk '{ printf "%.3f", $1 }') |" \
            "$(vals c "c${c}_none" tps num) | $(vals c "c${c}_views" tps num) |" \
            "$(ms "$(med c "c${c}_none" latency_ms)") / $(ms "$(med c "c${c}_views" latency_ms)") |"
    done
    echo
    failed=$(awk -F, '$1 == "c" && $3 == "failed_transactions" { s += $5 } END { print s + 0 }' "$RAW")
    echo "Failed transactions over all runs: $failed. CPU time stolen by the hypervisor during a run:" \
        "$(awk -F, '$1 == "c" && $3 == "cpu_steal_pct" { if ($5 + 0 > mx) mx = $5 + 0; s += $5; n++ }
                    END { printf "mean %.1f%%, max %.1f%%", (n ? s / n : 0), mx }' "$RAW");" \
        "Steal well above zero, or a load average above zero at the start (machine table), means other work shared the CPUs and TPS figures are noisy."
    echo

    cat <<EOF
## (d) Catch-up: the one tick after a run with views

Right after each run with views, one \`SELECT * FROM ivm.tick()\` consumes everything the run
captured (each UPDATE is two delta rows, −old +new). Medians over the $RUNS runs:

| after a run with | transactions (UPDATEs) | rows_in | rows_in / (2 × UPDATEs) | rows_out | tick duration (ms) | tick wall (ms) | rows_in per second |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
    for c in $CLIENTS; do
        ri=$(med d "c$c" rows_in); td=$(med d "c$c" tick_duration_ms); tw=$(med d "c$c" tick_wall_ms)
        tx=$(med c "c${c}_views" transactions)
        rps=$(awk -F, -v k="c$c" '$1 == "d" && $2 == k { v[$4, $3] = $5; r[$4] = 1 }
            END { n = 0; for (i in r) if (v[i, "tick_duration_ms"] > 0) x[n++] = v[i, "rows_in"] / (v[i, "tick_duration_ms"] / 1000)
                  if (n == 0) exit
                  for (i = 1; i < n; i++) { y = x[i]; for (j = i - 1; j >= 0 && x[j] > y; j--) x[j + 1] = x[j]; x[j + 1] = y }
                  print (n % 2) ? x[(n - 1) / 2] : (x[n / 2 - 1] + x[n / 2]) / 2 }' "$RAW")
        # rows_in against the UPDATEs of the same run, run by run (should be 1.00)
        chk=$(awk -F, -v k="c$c" -v kc="c${c}_views" '
            $1 == "d" && $2 == k && $3 == "rows_in" { ri[$4] = $5 }
            $1 == "c" && $2 == kc && $3 == "transactions" { tx[$4] = $5 }
            END { s = ""; for (r = 1; r <= 100; r++) if ((r in ri) && (r in tx) && tx[r] > 0)
                      s = s (s == "" ? "" : ", ") sprintf("%.2f", ri[r] / (2 * tx[r])); print s }' "$RAW")
        echo "| $c client(s) | $(num "$tx") | $(num "$ri") | ${chk:-–} | $(num "$(med d "c$c" rows_out)") |" \
            "$(ms "$td") | $(ms "$tw") | $(num "$rps") |"
    done
    echo
    echo "rows_in per second is the median over runs of rows_in / tick duration."
    echo
    for c in $CLIENTS; do
        evidence "d-c$c" "Evidence of the last catch-up tick after a run with $c client(s)"
    done
fi

# ---- (e) ---------------------------------------------------------------------
if has e; then
    en=$(awk -F, '$1 == "e" && $3 == "base_ms" { print $2; exit }' "$RAW")
    ereps=$(meta e_reps)
    cat <<EOF
## (e) Delta checkpoints

\`t(id int primary key, k int, v int, s text)\`, $(num "$en") rows (s = md5(id), 32 characters); view
\`SELECT id, k, v, s FROM t WHERE v >= 0\` by \`ivm.create_view\`: $(num "$en") view rows (plus the hidden
\`__ivm_hash\`). Per repetition, into a new directory: \`ivm.checkpoint(dir)\` (a base), then
\`UPDATE t SET v = v + 1, s = s || 'x' WHERE id % 100 = r\` (1% of the rows), \`ivm.tick()\`,
\`ivm.checkpoint(dir)\` (a delta), \`ivm.checkpoint(dir)\` again (nothing changed); then
\`ivm.restore(dir)\` into a fresh database holding the same table (made from a template, the same
UPDATE applied, not timed). Wall times in ms; sizes as \`ivm.checkpoint\` reports them (*file* =
bytes written to disk, headers and the manifest included; *raw* = the same payloads before zstd).
Medians of $ereps.

| | wall (ms) | file bytes | raw bytes | raw / file | records |
| --- | ---: | ---: | ---: | ---: | ---: |
EOF
    bf=$(med e "$en" base_file_bytes); br=$(med e "$en" base_raw_bytes)
    df=$(med e "$en" delta_file_bytes); dr=$(med e "$en" delta_raw_bytes)
    echo "| base checkpoint | $(ms "$(med e "$en" base_ms)") | $(num "$bf") | $(num "$br") | $(ratio "$(div "$br" "$bf")") | $(num "$(med e "$en" base_records)") |"
    echo "| tick after the 1% UPDATE | $(ms "$(med e "$en" tick_ms)") | | | | $(num "$(med e "$en" tick_rows_out)") rows out |"
    echo "| delta checkpoint | $(ms "$(med e "$en" delta_ms)") | $(num "$df") | $(num "$dr") | $(ratio "$(div "$dr" "$df")") | $(num "$(med e "$en" delta_records)") |"
    echo "| checkpoint, nothing changed | $(ms "$(med e "$en" unchanged_ms)") | $(num "$(med e "$en" unchanged_file_bytes)") | | | 0 |"
    echo "| restore (base + delta) | $(ms "$(med e "$en" restore_ms)") | $(num "$(med e "$en" delta_restore_bytes)") read | | | $(num "$(med e "$en" restore_rows)") rows |"
    echo
    echo "Delta / base file bytes: $(div "$df" "$bf" | awk '{ printf "%.2f%%", 100 * $1 }'). Each repetition, base / delta / restore (ms):" \
        "$(vals e "$en" base_ms ms) / $(vals e "$en" delta_ms ms) / $(vals e "$en" restore_ms ms)." \
        "Table fingerprints matched in every restore: $(awk -F, '$1 == "e" && $3 == "restore_sources_changed" && $5 != 0 { bad = 1 } END { print (bad ? "**no**" : "yes") }' "$RAW")."
    echo
fi

# ---- (tpch) ------------------------------------------------------------------
if has tpch; then
    tsf=$(meta tpch_sf); treps=$(meta tpch_reps)
    # tstr CONFIG METRIC: the last string value recorded (a strategy).
    tstr() { awk -F, -v c="$1" -v m="$2" '$1 == "tpch" && $2 == c && $3 == m { v = $5 } END { print v }' "$RAW"; }
    # tsum_med CONFIG: the median over repetitions of rf1_ms + rf2_ms.
    tsum_med() {
        awk -F, -v c="$1" '$1 == "tpch" && $2 == c && ($3 == "rf1_ms" || $3 == "rf2_ms") { s[$4] += $5 }
            END { n = 0; for (r in s) v[n++] = s[r]
                  for (i = 1; i < n; i++) { x = v[i]; for (j = i - 1; j >= 0 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
                  if (n == 0) exit; if (n % 2) print v[(n - 1) / 2]; else print (v[n / 2 - 1] + v[n / 2]) / 2 }' "$RAW"
    }
    cat <<EOF
## (tpch) TPC-H: tick after a refresh round vs REFRESH, per query

The tables of \`test/tpch/gen.sql\` at scale factor **$tsf** ($(meta tpch_rows)), generated in
$(med tpch setup gen_seconds) s; the 22 queries of \`test/tpch/queries.sql\` (the specification's
validation parameters). A round is \`tpch_rf1(r)\` then \`tpch_rf2(r)\` (\`test/tpch/refresh.sql\`):
$(num "$(awk -v s="$tsf" 'BEGIN { print s * 1500 }')") orders with their lineitems inserted, as many old ones deleted.

Per query, **alone**: only that view exists (\`ivm.create_view\`), next to a plain
\`CREATE MATERIALIZED VIEW\` of the same query; per repetition one round (not timed), the timed
\`SELECT * FROM ivm.tick()\`, then the timed \`REFRESH MATERIALIZED VIEW\` in the same data state.
A tick with one view pays everything a user with that view pays (reading and clearing the
deltas of its tables, the maintenance, the evidence, the commit); the view's own \`duration_us\`
in \`ivm.evidence\` of one tick maintaining all 22 (column *in the 22-view tick*) leaves the
shared part out. Wall times in ms, medians of $treps.

| query | strategy (alone; in the 22-view tick) | tick | REFRESH | REFRESH / tick | in the 22-view tick | rows_in |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
EOF
    qs=$(awk -F, '$1 == "tpch" && $3 == "tick_ms" && $2 ~ /^tpch_q/ { print $2 }' "$RAW" | sort -u)
    : >"$D/tpch_ratios.txt"
    untouched=""
    for q in $qs; do
        tw=$(med tpch "$q" tick_ms); rf=$(med tpch "$q" refresh_ms); r=$(div "$rf" "$tw")
        st="$(tstr "$q" strategy); $(tstr "$q" all22_strategy)"
        if [ "$(med tpch "$q" tick_rows_in)" = 0 ]; then
            # RF1 and RF2 write orders and lineitem only: nothing to do for this view
            untouched="$untouched${untouched:+, }${q#tpch_}"
            st="untouched (reads neither orders nor lineitem)"
            r="*$(ratio "$r")*"
        else
            [ -n "$r" ] && echo "$q $r" >>"$D/tpch_ratios.txt"
            r=$(ratio "$r")
        fi
        echo "| ${q#tpch_} | $st | $(ms "$tw") | $(ms "$rf") |" \
            "$r | $(ms "$(med tpch "$q" all22_ms)") | $(num "$(med tpch "$q" tick_rows_in)") |"
    done
    gm=$(awk '{ s += log($2); n++ } END { if (n) printf "%.6g\n", exp(s / n) }' "$D/tpch_ratios.txt")
    n10=$(awk '$2 >= 10 { n++ } END { print n + 0 }' "$D/tpch_ratios.txt")
    nall=$(wc -l <"$D/tpch_ratios.txt")
    slower=$(awk '$2 < 1 { printf "%s%s", (n++ ? ", " : ""), substr($1, 6) } END { if (!n) printf "none" }' "$D/tpch_ratios.txt")
    rm -f "$D/tpch_ratios.txt"
    echo
    if [ -n "$untouched" ]; then
        echo "A round writes orders and lineitem only; $untouched read neither, so their tick has nothing to do"
        echo "(ratio in italics) and they are left out of the figures below."
        echo
    fi
    echo "**Geometric mean of REFRESH / tick: $(ratio "$gm")** over the $nall queries a round touches; $n10 of $nall at 10× or more;" \
        "slower than REFRESH (ratio < 1): $slower. Issue 10's goals: every query ≥ 10× ($n10 of $nall)," \
        "geometric mean ≥ 100× ($(verdict_ge "$gm" 100))."
    echo
    wn=$(tsum_med none); wv=$(tsum_med views)
    sumrf=$(for q in $qs; do med tpch "$q" refresh_ms; done | awk '{ s += $1 } END { print s }')
    at=$(med tpch all tick_ms)
    echo "| all 22 queries | ms | |"
    echo "| --- | ---: | --- |"
    echo "| RF1 + RF2 without views (before the views and after they are dropped) | $(ms "$wn") | RF1 $(ms "$(med tpch none rf1_ms)"), RF2 $(ms "$(med tpch none rf2_ms)") |"
    echo "| RF1 + RF2 with the 22 views | $(ms "$wv") | RF1 $(ms "$(med tpch views rf1_ms)"), RF2 $(ms "$(med tpch views rf2_ms)"); $(ratio "$(div "$wv" "$wn")") the time without |"
    echo "| one tick maintaining all 22 | $(ms "$at") | duration_ms $(ms "$(med tpch all tick_duration_ms)"), rows_in $(num "$(med tpch all tick_rows_in)") |"
    echo "| REFRESH of all 22 (sum of the medians above) | $(ms "$sumrf") | REFRESH / tick = $(ratio "$(div "$sumrf" "$at")") |"
    echo "| create the 22 views (one statement) | $(ms "$(med tpch all create_views_ms)") | |"
    echo
    evidence tpch-all "Evidence (\`ivm.evidence\`) of the last measured 22-view tick"
fi

# ---- correctness checks and failures ----------------------------------------
echo "## Checks"
echo
if grep -q '^check,' "$RAW"; then
    echo "After each benchmark, each view was compared with its query as a multiset (\`EXCEPT ALL\` both ways):"
    echo
    awk -F, '$1 == "check" { printf "- %s: %s\n", $2, ($5 == "0" ? "equal" : "**differs by " $5 " rows**") }' "$RAW"
else
    echo "No view was checked (every benchmark failed before its check)."
fi
echo
if [ -s "$D/failures.tsv" ]; then
    echo "**Failures during the run** (logs in \`test/bench/results/$(basename "$(cd "$D" && pwd -P)")/logs/\`):"
    echo
    awk -F'\t' '{ printf "- %s: `%s`\n", $1, $2 }' "$D/failures.tsv"
else
    echo "No failure during the run."
fi
echo

# ---- analysis -----------------------------------------------------------------
cat <<'EOF'
## Analysis

The goals of the issue, checked automatically from the medians above; the explanations, written
by hand from this run's figures, follow.

EOF
if has a; then
    g1=1000000
    case " $SIZES " in *" $g1 "*) note="" ;; *) g1=$(echo "$SIZES" | awk '{ print $NF }')
        note=" (1M rows not measured in this run; shown at $(human "$g1"))" ;; esac
    r1=$(div "$(med a "$g1" refresh_ms)" "$(med a "$g1" tick_wall_ms)")
    r1c=$(div "$(med a "$g1" refresh_concurrently_ms)" "$(med a "$g1" tick_wall_ms)")
    echo "1. **Tick vs REFRESH at 1M rows (goal ≥ 100×).** REFRESH / tick at $(human "$g1") = $(ratio "$r1")$note:" \
        "$(verdict_ge "$r1" 100). (REFRESH CONCURRENTLY / tick = $(ratio "$r1c").)"
    echo
    echo "   *Explanation:* see below."
    echo
    lo=100000; hi=10000000
    case " $SIZES " in *" $lo "*" $hi "*) note="" ;; *)
        lo=$(echo "$SIZES" | awk '{ print $1 }'); hi=$(echo "$SIZES" | awk '{ print $NF }')
        note=" (10M / 100k not both measured in this run; shown for $(human "$hi") / $(human "$lo"))" ;; esac
    r2=$(div "$(med a "$hi" tick_wall_ms)" "$(med a "$lo" tick_wall_ms)")
    r2d=$(div "$(med a "$hi" tick_duration_ms)" "$(med a "$lo" tick_duration_ms)")
    echo "2. **Tick latency independent of table size (goal: tick at 10M ≤ 1.5× tick at 100k).**" \
        "tick wall $(human "$hi") / $(human "$lo") = $(ratio "$r2")$note: $(verdict_le "$r2" 1.5)." \
        "(By the tick's own duration_ms: $(ratio "$r2d").)"
    echo
    echo "   *Explanation:* see below."
    echo
fi
if has c; then
    i=3
    for c in $CLIENTS; do
        r=$(div "$(med c "c${c}_views" tps)" "$(med c "c${c}_none" tps)")
        echo "$i. **Write overhead at $c client(s) (goal: TPS with 3 views ≥ 0.6 × without).** ratio =" \
            "$(if [ -n "$r" ]; then awk -v x="$r" 'BEGIN { printf "%.3f", x }'; else echo "–"; fi):" \
            "$(verdict_ge_abs "$r" 0.6)."
        echo
        echo "   *Explanation:* see below."
        echo
        i=$((i + 1))
    done
fi
if has b; then
    echo "- (b), no stated goal: REFRESH / tick = $(ratio "$(div "$(med b account refresh_ms)" "$(med b account tick_wall_ms)")")" \
        "after an account UPDATE, $(ratio "$(div "$(med b branch refresh_ms)" "$(med b branch tick_wall_ms)")") after a branch UPDATE."
    echo
    echo "   *Explanation:* see below."
    echo
fi
if has d; then
    echo "- (d), no stated goal: catch-up at $(for c in $CLIENTS; do
        printf '%s client(s): %s rows_in/s; ' "$c" "$(num "$(awk -F, -v k="c$c" '$1 == "d" && $2 == k && $3 == "rows_in" { r += $5 }
            $1 == "d" && $2 == k && $3 == "tick_duration_ms" { t += $5 } END { if (t > 0) print r / (t / 1000) }' "$RAW")")"
        done | sed 's/; $//') (all runs pooled)."
    echo
    echo "   *Explanation:* see below."
    echo
fi

# the engineers' reading of the figures (kept by hand in test/bench/analysis.md)
if [ -f "$(dirname "$0")/analysis.md" ]; then
    cat "$(dirname "$0")/analysis.md"
    echo
fi

cat <<EOF
## Raw data

\`test/bench/results/$(basename "$(cd "$D" && pwd -P)")/\` (not committed): \`raw.csv\` (bench, config, metric,
repetition, value — every single measurement), \`meta.tsv\`, \`evidence/*.csv\`, \`logs/\` (each psql
session and pgbench run).
EOF
