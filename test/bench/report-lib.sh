# shellcheck shell=bash
# ---------------------------------------------------------------------------
# test/bench/report-lib.sh -- helpers of report.sh and summary.sh: medians,
# ratios and number formats over one run's raw numbers.
#
# The caller sets D (a run directory) and RAW ($D/raw.csv); every function
# reads them, so a caller that reads several runs sets both before each use.
# ---------------------------------------------------------------------------

# meta KEY: the value of KEY in the run's meta.tsv (the last one).
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

# AWK_MEDIAN: an awk function, median(list), the median of the numbers of a
# space-separated list ("" for none); put before the awk programs that use it.
AWK_MEDIAN='
function median(list,    n, a, i, j, x) {
    n = split(list, a, " ")
    if (n == 0) return ""
    for (i = 2; i <= n; i++) {
        x = a[i] + 0
        for (j = i - 1; j >= 1 && a[j] + 0 > x; j--) a[j + 1] = a[j]
        a[j + 1] = x
    }
    return (n % 2) ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
'

# tpch_rows PREFIX: one line per TPC-H query, fields separated by "|", measured with the
# round kind of PREFIX ("" for RF1 + RF2, "all_" for every table): name,
# median tick alone, median REFRESH, median time in the 22-view tick (hidden
# views included), its hidden views' part, median rows_in alone, strategy
# alone, strategy in the 22-view tick.  Medians over the repetitions.
tpch_rows() {
    awk -F, -v p="$1" "$AWK_MEDIAN"'
        $1 == "tpch" && $2 ~ /^tpch_q/ {
            m = $3
            if (substr(m, 1, length(p)) != p) next
            m = substr(m, length(p) + 1)
            if (p == "" && $3 ~ /^all_/) next
            if (m == "strategy" || m == "all22_strategy") { str[$2, m] = $5; next }
            if ($5 == "") next
            v[$2, m] = v[$2, m] " " $5
            if (m == "tick_ms") qs[$2] = 1
        }
        END {
            for (q in qs)
                printf "%s|%s|%s|%s|%s|%s|%s|%s\n", q, median(v[q, "tick_ms"]),
                    median(v[q, "refresh_ms"]), median(v[q, "all22_ms"]), median(v[q, "all22_hidden_ms"]),
                    median(v[q, "tick_rows_in"]), str[q, "strategy"], str[q, "all22_strategy"]
        }' "$RAW" | sort
}

# geomean: the geometric mean of the numbers on stdin (one a line), or nothing.
geomean() {
    awk '$1 > 0 { s += log($1); n++ } END { if (n) printf "%.6g\n", exp(s / n) }'
}

# tpch_all22_split PREFIX: "SUM|REST" for the 22-view ticks of the round kind
# of PREFIX: the median over repetitions of the sum of the queries' times in
# the tick (hidden views included), and of the tick's duration_ms minus it.
tpch_all22_split() {
    awk -F, -v p="$1" "$AWK_MEDIAN"'
        $1 == "tpch" && $2 ~ /^tpch_q/ && $3 == p "all22_ms" { sum[$4] += $5 }
        $1 == "tpch" && $2 == "all" && $3 == p "tick_duration_ms" { dur[$4] = $5 }
        END {
            for (r in dur) if (r in sum) { s = s " " sum[r]; rest = rest " " (dur[r] - sum[r]) }
            print median(s) "|" median(rest)
        }' "$RAW"
}
