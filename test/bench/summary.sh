#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/summary.sh -- BENCHMARKS.md: a one-page summary with plots, the
# full reports of the runs it draws on, then the history.
#
#   bash test/bench/summary.sh RUN_DIR...       # e.g. test/bench/results/*/
#
# For each of three benchmarks it takes the newest of the RUN_DIRs (by the
# directory's name, a date-time) that measured it:
#   (tpch)  per-query speedup against REFRESH (REFRESH / tick), both methods
#           (each view ticked alone; its part of one tick of all 22 views,
#           hidden views counted) and both round kinds (RF1 + RF2; every
#           table) -> docs/bench/tpch-speedup.svg
#   (sweep) tick time against delta size, with and without the fallback,
#           against REFRESH -> docs/bench/sweep.svg
#   (c)     UPDATE throughput without and with three views
#           -> docs/bench/writes.svg
# so different figures may come from different runs: the summary names the
# run, its date, commit, mode and machine load under each figure, and calls
# the figures provisional when the run was a quick one, below the issue's
# scale, or on a loaded machine.  The plots are drawn with gnuplot (Debian's
# gnuplot-nox, installed when missing) from the runs' raw.csv.
#
# BENCHMARKS.md is rewritten as: the summary; "Latest runs in full", the
# report.sh output of each run used (headings one level down); "# History",
# kept verbatim from the current BENCHMARKS.md (everything from its
# "# History" line on; the first time, the whole former file, its title line
# replaced).  Environment:
#   IVM_BENCH_SUMMARY_OUTPUT  the page (default $REPO/BENCHMARKS.md)
#   IVM_BENCH_PLOTS           the plots' directory (default $REPO/docs/bench)
#   IVM_KEEP=1                keep the plots' data and gnuplot scripts
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=test/bench/report-lib.sh
. "$HERE/report-lib.sh"

[ "$#" -gt 0 ] || { echo "usage: summary.sh RUN_DIR..." >&2; exit 2; }
OUT=${IVM_BENCH_SUMMARY_OUTPUT:-$REPO/BENCHMARKS.md}
PLOTS=${IVM_BENCH_PLOTS:-$REPO/docs/bench}
# the plots' path as the page links it
PLOTS_REL=$(realpath -m --relative-to="$(dirname "$OUT")" "$PLOTS")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ivm-summary.XXXXXX")
if [ "${IVM_KEEP:-0}" = 1 ]; then
    echo "summary.sh: keeping the plots' data and gnuplot scripts in $WORK" >&2
else
    trap 'rm -rf "$WORK"' EXIT
fi

# ---- helpers ---------------------------------------------------------------

# use_run DIR: make DIR the run the report-lib functions read.
use_run() {
    D=$1
    RAW=$D/raw.csv
}

# measured DIR BENCH METRIC: succeed when DIR's raw.csv has a value of METRIC
# for BENCH.
measured() {
    [ -f "$1/raw.csv" ] && awk -F, -v b="$2" -v m="$3" '$1 == b && $3 == m && $5 != "" { f = 1; exit }
        END { exit !f }' "$1/raw.csv"
}

# newest BENCH METRIC: the newest run directory of the arguments that
# measured METRIC of BENCH (by directory name), or nothing.
newest() {
    local d best=""

    for d in "${RUNS[@]}"; do
        if measured "$d" "$1" "$2"; then
            if [ -z "$best" ] || [[ "$(basename "$d")" > "$(basename "$best")" ]]; then
                best=$d
            fi
        fi
    done
    echo "$best"
}

# provisional BENCH: succeed when the current run's figures of BENCH are not
# of the issue's scale or were taken on a loaded machine; print why.
provisional() {
    local why="" load cores steal

    [ "$(meta mode)" = quick ] && why="a quick run (IVM_BENCH_QUICK=1)"
    if [ "$1" = tpch ] && awk -v s="$(meta tpch_sf)" 'BEGIN { exit !(s < 1) }'; then
        why="${why:+$why, }TPC-H at SF $(meta tpch_sf) (the issue's scale is SF 1)"
    fi
    if [ "$1" = sweep ] && [ "$(meta sweep_rows)" -lt 1000000 ] 2>/dev/null; then
        why="${why:+$why, }$(num "$(meta sweep_rows)") rows (the sweep's scale is 1,000,000)"
    fi
    if [ -s "$D/failures.tsv" ]; then
        why="${why:+$why, }failures during the run (listed in its report below)"
    fi
    load=$(meta loadavg_start | cut -d' ' -f1); cores=$(meta cores); steal=$(meta cpu_steal_pct)
    if awk -v l="${load:-0}" -v c="${cores:-1}" -v s="${steal:-0}" 'BEGIN { exit !(l > c / 2 || s > 5) }'; then
        why="${why:+$why, }a loaded machine (load average ${load:-?} on ${cores:-?} cores at the start, CPU steal ${steal:-?}%)"
    fi
    [ -n "$why" ] || return 1
    echo "$why"
}

# provisional_short BENCH: the reasons of provisional, in a few words (for a
# plot's title), or nothing.
provisional_short() {
    local why=""

    [ "$(meta mode)" = quick ] && why="quick run"
    if [ "$1" = tpch ] && awk -v s="$(meta tpch_sf)" 'BEGIN { exit !(s < 1) }'; then why="${why:+$why, }SF $(meta tpch_sf)"; fi
    if [ "$1" = sweep ] && [ "$(meta sweep_rows)" -lt 1000000 ] 2>/dev/null; then why="${why:+$why, }$(num "$(meta sweep_rows)") rows"; fi
    if awk -v l="$(meta loadavg_start | cut -d' ' -f1)" -v c="$(meta cores)" -v s="$(meta cpu_steal_pct)" \
            'BEGIN { exit !(l + 0 > (c + 0 ? c : 1) / 2 || s + 0 > 5) }'; then why="${why:+$why, }loaded machine"; fi
    [ -s "$D/failures.tsv" ] && why="${why:+$why, }failures"
    [ -z "$why" ] || echo "PROVISIONAL ($why)"
}

# source_line BENCH: where the current run's figures of BENCH come from, one
# sentence.
source_line() {
    local scale=""

    case "$1" in
        tpch) scale=", TPC-H SF $(meta tpch_sf), $(meta tpch_reps) repetitions" ;;
        sweep) scale=", $(num "$(meta sweep_rows)") rows, $(meta sweep_reps) repetitions" ;;
        c) scale=", $(num "$(meta write_rows)") rows, $(meta pgbench_runs) runs of $(meta pgbench_seconds) s per configuration" ;;
    esac
    echo "Run \`$(basename "$(cd "$D" && pwd -P)")\` of $(meta date), $(meta mode) mode$scale; ivm $(meta ivm_commit)," \
        "$(meta ivm_worktree | sed 's/^clean (no uncommitted change to the extension)$/clean tree/');" \
        "load average at the start $(meta loadavg_start | cut -d' ' -f1-3) on $(meta cores) cores, CPU steal $(meta cpu_steal_pct)%."
}

# gp_head FILE WIDTH HEIGHT: the start of a gnuplot script writing FILE.
gp_head() {
    cat <<EOF
set encoding utf8
set terminal svg size $2,$3 dynamic noenhanced font "sans,12" background "white"
set output "$1"
set datafile missing "?"
set grid ytics lc rgb "#dddddd"
set key top left opaque
EOF
}

# ---- (tpch) ------------------------------------------------------------------

# tpch_section: the TPC-H figure and its text, from the newest run with it.
tpch_section() {
    local d p c col why short q i rf alone22 gm_rf_a gm_rf_b gm_all_a gm_all_b

    d=$(newest tpch tick_ms)
    echo "### TPC-H: each query's speedup against REFRESH"
    echo
    if [ -z "$d" ]; then
        echo "No run given measured TPC-H (\`IVM_BENCH_ONLY=tpch bash test/bench/run.sh\`)."
        echo
        return 0
    fi
    use_run "$d"
    USED+=("$d")
    # per query: ratios alone and in the 22-view tick, RF rounds then every table
    tpch_rows "" >"$WORK/rf.txt"
    tpch_rows all_ >"$WORK/all.txt"
    for p in rf all; do
        awk -F'|' '{ t = ($6 == "0") ? "?" : "";     # untouched: no bar
                     a = ($2 > 0 && t == "") ? $3 / $2 : "?"; b = ($4 > 0 && t == "") ? $3 / $4 : "?"
                     printf "%d %s %s %s %s\n", NR, toupper(substr($1, 6, 1)) substr($1, 7), a, b, (t == "?" ? "u" : "-") }' \
            "$WORK/$p.txt" >"$WORK/$p.dat"
    done
    why=$(provisional tpch) || why=""
    short=$(provisional_short tpch)
    # geometric means (touched queries) for the titles and the text
    gm_rf_a=$(awk '$3 != "?" { print $3 }' "$WORK/rf.dat" | geomean)
    gm_rf_b=$(awk '$4 != "?" { print $4 }' "$WORK/rf.dat" | geomean)
    gm_all_a=$(awk '$3 != "?" { print $3 }' "$WORK/all.dat" | geomean)
    gm_all_b=$(awk '$4 != "?" { print $4 }' "$WORK/all.dat" | geomean)
    {
        gp_head "$PLOTS/tpch-speedup.svg" 1100 760
        cat <<EOF
set multiplot layout 2,1 title "TPC-H SF $(meta tpch_sf): REFRESH time / tick time per query (log scale; above 1 the tick is faster)${short:+\\n$short}" font "sans,13"
set logscale y
set yrange [0.1:10000]
set xrange [0.3:22.7]
set ytics ("0.1" 0.1, "1" 1, "10×" 10, "100×" 100, "1000×" 1000, "10000×" 10000)
set key top left horizontal samplen 2
set xtics 1,1,22 scale 0
set style fill solid 0.9 noborder
set arrow 1 from graph 0, first 10 to graph 1, first 10 nohead lc rgb "#e08000" dt 2 lw 1.5 front
set arrow 2 from graph 0, first 100 to graph 1, first 100 nohead lc rgb "#c00000" dt 2 lw 1.5 front
set arrow 3 from graph 0, first 1 to graph 1, first 1 nohead lc rgb "#666666" lw 1 front
set label 1 "goal per query 10×" at graph 0.995, first 10 right offset 0,0.7 tc rgb "#e08000" font "sans,10" front
set label 2 "goal for the geometric mean 100×" at graph 0.995, first 100 right offset 0,0.7 tc rgb "#c00000" font "sans,10" front
EOF
        for p in rf all; do
            [ -s "$WORK/$p.dat" ] || continue
            if [ "$p" = rf ]; then
                echo "set title \"rounds of RF1 + RF2 (orders and lineitem; Q2, Q11, Q16 untouched: no bar) — geometric mean: alone $(ratio "${gm_rf_a:-}"), in the 22-view tick $(ratio "${gm_rf_b:-}")\""
            else
                echo "set title \"rounds that change every table — geometric mean: alone $(ratio "${gm_all_a:-}"), in the 22-view tick $(ratio "${gm_all_b:-}")\""
            fi
            echo "plot \"$WORK/$p.dat\" using (\$1-0.2):3:(\$1-0.38):(\$1-0.02):(0.1):3 with boxxyerror lc rgb \"#3b75af\" title \"view ticked alone\", \\"
            echo "     \"\" using (\$1+0.2):4:(\$1+0.02):(\$1+0.38):(0.1):4 with boxxyerror lc rgb \"#8fbc5a\" title \"its part of one tick of all 22 views (hidden views counted)\", \\"
            echo "     \"\" using 1:(0.16):(strcol(5) eq \"u\" ? \"untouched\" : \"\"):xtic(2) with labels center font \"sans,9\" tc rgb \"#666666\" notitle"
        done
        echo "unset multiplot"
    } >"$WORK/tpch.gp"
    gnuplot "$WORK/tpch.gp"

    echo "![TPC-H speedup per query]($PLOTS_REL/tpch-speedup.svg)"
    echo
    echo "| query | RF1 + RF2: alone | RF1 + RF2: in the 22-view tick | every table: alone | every table: in the 22-view tick |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    for ((i = 1; i <= 22; i++)); do
        q=$(awk -v i="$i" '$1 == i { print $2 }' "$WORK/rf.dat" "$WORK/all.dat" | head -n 1)
        [ -n "$q" ] || continue
        col=""
        for p in rf all; do
            for c in 3 4; do
                rf=$(awk -v i="$i" -v c="$c" '$1 == i { print $c }' "$WORK/$p.dat")
                if [ -z "$rf" ]; then col="$col – |"
                elif [ "$rf" = "?" ]; then col="$col untouched |"
                else col="$col $(ratio "$rf") |"; fi
            done
        done
        echo "| $q |$col"
    done
    echo "| **geometric mean** | $(ratio "$gm_rf_a") | $(ratio "$gm_rf_b") | $(ratio "$gm_all_a") | $(ratio "$gm_all_b") |"
    alone22=""
    for p in rf all; do
        for c in 3 4; do
            alone22="$alone22 $(awk -v c="$c" '$c != "?" { n++; if ($c >= 10) k++ } END { printf "%d of %d", k, n }' "$WORK/$p.dat") |"
        done
    done
    echo "| at 10× or more |$alone22"
    echo
    echo "REFRESH / tick (medians): *alone*, the view is the only one and the timed tick pays everything a"
    echo "user with that view pays; *in the 22-view tick*, the query's part of one tick that maintains all"
    echo "22 views (its view's and its hidden views' \`duration_us\`), the shared part of the tick left out."
    echo "The goals of issue 22: every query ≥ 10×, geometric mean ≥ 100×, by both methods. Details, and"
    echo "where the 22-view tick's time goes per query: *(tpch)* in the full report below."
    echo
    echo "*Source:* $(source_line tpch)"
    [ -z "$why" ] || echo "**Provisional:** $why."
    echo
}

# ---- (sweep) -----------------------------------------------------------------

# sweep_section: the delta-size figure and its text, from the newest run with it.
sweep_section() {
    local d v why short dd line tk nf rf

    d=$(newest sweep tick_ms)
    echo "### Tick time against delta size"
    echo
    if [ -z "$d" ]; then
        echo "No run given measured the sweep (\`IVM_BENCH_ONLY=sweep bash test/bench/run.sh\`)."
        echo
        return 0
    fi
    use_run "$d"
    USED+=("$d")
    for v in agg joined; do
        : >"$WORK/sweep-$v.dat"
        for dd in $(awk -F, -v v="$v" '$1 == "sweep" && index($2, v ":") == 1 { split($2, a, ":"); print a[2] }' "$RAW" | sort -n -u); do
            echo "$dd $(med sweep "$v:$dd" tick_ms) $(med sweep "$v:$dd" nofb_tick_ms) $(med sweep "$v:$dd" refresh_ms)" >>"$WORK/sweep-$v.dat"
        done
    done
    why=$(provisional sweep) || why=""
    short=$(provisional_short sweep)
    {
        gp_head "$PLOTS/sweep.svg" 1100 480
        cat <<EOF
set multiplot layout 1,2 title "Tick time against delta size, t of $(num "$(meta sweep_rows)") rows (log-log; wall ms, medians)${short:+\\n$short}" font "sans,13"
set logscale xy
set xlabel "rows updated (2 delta rows each)"
set ylabel "ms"
set key bottom right
EOF
        for v in agg joined; do
            if [ "$v" = agg ]; then
                echo "set title \"aggregate: SELECT k, count(*), sum(v) FROM t GROUP BY k\""
            else
                echo "set title \"join: SELECT t.id, t.v, d.name FROM t JOIN dim d ON d.k = t.k\""
            fi
            echo "plot \"$WORK/sweep-$v.dat\" using 1:2 with linespoints pt 7 lw 2 lc rgb \"#3b75af\" title \"tick\", \\"
            echo "     \"\" using 1:3 with linespoints pt 6 lw 1.5 dt 2 lc rgb \"#8fbc5a\" title \"tick, fallback off (delta rules always)\", \\"
            echo "     \"\" using 1:4 with linespoints pt 5 lw 2 lc rgb \"#c00000\" title \"REFRESH MATERIALIZED VIEW\""
        done
        echo "unset multiplot"
    } >"$WORK/sweep.gp"
    gnuplot "$WORK/sweep.gp"

    echo "![Tick time against delta size]($PLOTS_REL/sweep.svg)"
    echo
    echo "| rows updated | agg: tick | agg: fallback off | agg: REFRESH | joined: tick | joined: fallback off | joined: REFRESH |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for dd in $(awk '{ print $1 }' "$WORK/sweep-agg.dat" "$WORK/sweep-joined.dat" | sort -n -u); do
        line="| $(num "$dd") |"
        for v in agg joined; do
            read -r tk nf rf < <(awk -v d="$dd" '$1 == d { print $2, $3, $4 }' "$WORK/sweep-$v.dat") || true
            line="$line $(ms "${tk:-}") | $(ms "${nf:-}") | $(ms "${rf:-}") |"
        done
        echo "$line"
    done
    echo
    echo "Wall times in ms, medians. Each view is measured alone, after an UPDATE of that many consecutive"
    echo "rows; *tick* runs with the default settings (the cost rule may recompute), *fallback off* with"
    echo "\`ivm.fallback_ratio = 1000000\`. Strategies per size: *(sweep)* in the full report below."
    echo
    echo "*Source:* $(source_line sweep)"
    [ -z "$why" ] || echo "**Provisional:** $why."
    echo
}

# ---- (c) ---------------------------------------------------------------------

# writes_section: the write-throughput figure and its text, from the newest
# run with (c).
writes_section() {
    local d c why short i=0 tn tv r rows=""

    d=$(newest c tps)
    echo "### Write throughput with and without views"
    echo
    if [ -z "$d" ]; then
        echo "No run given measured (c) (\`IVM_BENCH_ONLY=c bash test/bench/run.sh\`)."
        echo
        return 0
    fi
    use_run "$d"
    USED+=("$d")
    : >"$WORK/writes.dat"
    for c in $(awk -F, '$1 == "c" && $3 == "tps" { sub(/^c/, "", $2); sub(/_.*/, "", $2); print $2 }' "$RAW" | sort -n -u); do
        i=$((i + 1))
        tn=$(med c "c${c}_none" tps); tv=$(med c "c${c}_views" tps)
        r=$(div "$tv" "$tn" | awk '{ printf "%.2f", $1 }')
        echo "$i \"$c client$([ "$c" = 1 ] || echo s)\" ${tn:-?} ${tv:-?} ${r:-?}" >>"$WORK/writes.dat"
        rows="$rows| $c | $(num "$tn") | $(num "$tv") | ${r:-–} |"$'\n'
    done
    why=$(provisional c) || why=""
    short=$(provisional_short c)
    {
        gp_head "$PLOTS/writes.svg" 800 480
        cat <<EOF
set title "UPDATE throughput (pgbench), t of $(num "$(meta write_rows)") rows: no view vs three views (median TPS)${short:+\\n$short}"
set yrange [0:*]
set xrange [0.4:$i.6]
set ylabel "transactions per second"
set style fill solid 0.9 noborder
set xtics scale 0
plot "$WORK/writes.dat" using (\$1-0.18):3:(\$1-0.34):(\$1-0.02):(0):3 with boxxyerror lc rgb "#999999" title "no view", \\
     "" using 1:(0):(""):xtic(2) with labels notitle, \\
     "" using (\$1+0.18):4:(\$1+0.02):(\$1+0.34):(0):4 with boxxyerror lc rgb "#3b75af" title "3 views (aggregate, join, filter)", \\
     "" using (\$1+0.18):4:(sprintf("%s×", stringcolumn(5))) with labels offset 0,0.8 notitle
EOF
    } >"$WORK/writes.gp"
    gnuplot "$WORK/writes.gp"

    echo "![Write throughput with and without views]($PLOTS_REL/writes.svg)"
    echo
    echo "| clients | TPS, no view | TPS, 3 views | with / without |"
    echo "| ---: | ---: | ---: | ---: |"
    printf '%s' "$rows"
    echo
    echo "\`pgbench -M prepared\` of \`UPDATE t SET v = v + 1 WHERE id = :id\` (no tick during a run);"
    echo "the goal: with views ≥ 0.6 × without. *(c)* and *(d)* (the catch-up tick) in the full report below."
    echo
    echo "*Source:* $(source_line c)"
    [ -z "$why" ] || echo "**Provisional:** $why."
    echo
}

# ---- the page ----------------------------------------------------------------

RUNS=()
for a in "$@"; do
    a=${a%/}
    [ -f "$a/raw.csv" ] && RUNS+=("$(cd "$a" && pwd -P)")
done
[ "${#RUNS[@]}" -gt 0 ] || { echo "summary.sh: no raw.csv in $*" >&2; exit 2; }
if ! command -v gnuplot >/dev/null; then
    # shellcheck source=test/lib.sh
    . "$HERE/../lib.sh"
    ivm_install_deps gnuplot-nox
fi
mkdir -p "$PLOTS"
USED=()

{
    cat <<EOF
# ivm benchmarks

Written by \`bash test/bench/summary.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') from the newest results of each
benchmark (\`test/bench/run.sh\` runs them; what each does is in [test/bench/README.md](test/bench/README.md)).
The figures below may come from different runs: each says which. Below the summary, the full
report of each run it draws on; below those, the **History**: earlier runs' reports and the
sections written by hand over time, kept as they were written.

## Summary

EOF
    tpch_section
    sweep_section
    writes_section
} >"$WORK/summary.md"

# the full reports of the runs used, each once, newest first
{
    echo "# Latest runs in full"
    echo
    echo "The report (\`bash test/bench/report.sh RUN_DIR\`) of each run the summary draws on."
    echo
    printf '%s\n' "${USED[@]}" | sort -u -r | while read -r d; do
        bash "$HERE/report.sh" "$d" |
            sed -e '1s/^# .*/# Run '"$(basename "$d")"'/' -e 's/^#/##/'
        echo
    done
} >"$WORK/latest.md"

# the history: kept from the current page
{
    if [ -f "$OUT" ] && grep -q '^# History$' "$OUT"; then
        sed -n '/^# History$/,$p' "$OUT"
    else
        cat <<'EOF'
# History

Earlier runs' reports and the sections written by hand over time, unchanged (oldest first; a
section's figures are of the code and the machine of its day, as it says).

EOF
        if [ -f "$OUT" ]; then
            # its title becomes the heading of the run it reported
            when=$(grep -m 1 -o 'on [0-9-]* [0-9:]* UTC' "$OUT" || true)
            sed "1s|^# ivm benchmarks\$|## The report of \`test/bench/run.sh\` ${when}|" "$OUT"
        fi
    fi
} >"$WORK/history.md"

cat "$WORK/summary.md" "$WORK/latest.md" "$WORK/history.md" >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT ($(wc -l <"$OUT") lines) and the plots in $PLOTS from: ${USED[*]}"
