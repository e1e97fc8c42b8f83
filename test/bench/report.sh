#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/bench/report.sh -- turn one benchmark run's raw numbers into Markdown.
#
#   bash test/bench/report.sh test/bench/results/latest > report.md
#
# Reads RUN_DIR/raw.csv (bench,config,metric,rep,value), RUN_DIR/meta.tsv,
# RUN_DIR/failures.tsv and RUN_DIR/evidence/*.csv, as written by run.sh.
# Every figure is the median over the repetitions of that run; every ratio is
# a ratio of medians measured in the same run.
# run.sh writes it as RUN_DIR/report.md; summary.sh puts the reports of the
# runs it draws on into BENCHMARKS.md.
# ---------------------------------------------------------------------------
set -euo pipefail

D=${1:?usage: report.sh RUN_DIR}
RAW=$D/raw.csv
[ -f "$RAW" ] || { echo "no $RAW" >&2; exit 2; }

# shellcheck source=test/bench/report-lib.sh
. "$(dirname "$0")/report-lib.sh"

SIZES=$(awk -F, '$1 == "a" && $3 == "tick_wall_ms" { print $2 }' "$RAW" | sort -n -u | tr '\n' ' ')
REPS=$(meta reps)
RUNS=$(meta pgbench_runs)
SECS=$(meta pgbench_seconds)
CLIENTS=$(awk -F, '$1 == "c" && $3 == "tps" { sub(/^c/, "", $2); sub(/_.*/, "", $2); print $2 }' "$RAW" |
    sort -n -u | tr '\n' ' ')

# ---- the report ------------------------------------------------------------

cat <<EOF
# ivm benchmarks

Written by \`bash test/bench/run.sh\` ($(meta mode) mode) on $(meta date); regenerate this report from the
raw numbers with \`bash test/bench/report.sh RUN_DIR\`. What each benchmark does is in
[test/bench/README.md](test/bench/README.md).

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

# ---- (sweep) -----------------------------------------------------------------
if has sweep; then
    cat <<EOF
## (sweep) Tick time against delta size

\`t(id int primary key, k int, v int)\` of $(num "$(meta sweep_rows)") rows (k = 1 + id % 1000) and
\`dim(k int primary key, name text)\` of 1,000; two views, each measured alone beside a plain
materialized view of its query: *agg* \`SELECT k, count(*), sum(v) FROM t GROUP BY k\` and *joined*
\`SELECT t.id, t.v, d.name FROM t JOIN dim d ON d.k = t.k\`. Per delta size d and repetition: an
UPDATE of d consecutive rows (2d delta rows), the timed tick (the cost rule may recompute); another
such UPDATE, the timed tick with \`ivm.fallback_ratio = 1000000\` (the delta rules always); the
timed REFRESH. Wall times in ms, medians of $(meta sweep_reps).

| view | d (rows updated) | tick | strategy | tick, fallback off | strategy | REFRESH | REFRESH / tick | REFRESH / tick, fallback off |
| --- | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: |
EOF
    for v in $(awk -F, '$1 == "sweep" && $2 ~ /:/ { split($2, a, ":"); print a[1] }' "$RAW" | sort -u); do
        for d in $(awk -F, -v v="$v" '$1 == "sweep" && index($2, v ":") == 1 { split($2, a, ":"); print a[2] }' "$RAW" | sort -n -u); do
            c="$v:$d"
            tk=$(med sweep "$c" tick_ms); nf=$(med sweep "$c" nofb_tick_ms); rf=$(med sweep "$c" refresh_ms)
            st=$(awk -F, -v c="$c" '$1 == "sweep" && $2 == c && $3 == "strategy" { v = $5 } END { print v }' "$RAW")
            sn=$(awk -F, -v c="$c" '$1 == "sweep" && $2 == c && $3 == "nofb_strategy" { v = $5 } END { print v }' "$RAW")
            echo "| $v | $(num "$d") | $(ms "$tk") | $st | $(ms "$nf") | $sn | $(ms "$rf") |" \
                "$(ratio "$(div "$rf" "$tk")") | $(ratio "$(div "$rf" "$nf")") |"
        done
    done
    echo
    echo "*strategy* is the view's row in \`ivm.evidence\` for the last repetition's tick (*recompute* when the"
    echo "cost rule chose a recompute)."
    echo
fi

# ---- (tpch) ------------------------------------------------------------------
if has tpch; then
    tsf=$(meta tpch_sf); treps=$(meta tpch_reps)
    # tsum_med CONFIG: the median over repetitions of rf1_ms + rf2_ms.
    tsum_med() {
        awk -F, -v c="$1" '$1 == "tpch" && $2 == c && ($3 == "rf1_ms" || $3 == "rf2_ms") { s[$4] += $5 }
            END { n = 0; for (r in s) v[n++] = s[r]
                  for (i = 1; i < n; i++) { x = v[i]; for (j = i - 1; j >= 0 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
                  if (n == 0) exit; if (n % 2) print v[(n - 1) / 2]; else print (v[n / 2 - 1] + v[n / 2]) / 2 }' "$RAW"
    }
    # kind_name PREFIX: the round kind of a metric prefix, in words.
    kind_name() {
        if [ -z "$1" ]; then echo "RF1 + RF2"; else echo "every table"; fi
    }
    # pct X TOTAL: X as a percentage of TOTAL.
    pct() {
        div "$1" "$2" | awk '{ printf "%.1f%%", 100 * $1 }'
    }
    cat <<EOF
## (tpch) TPC-H: tick after a round vs REFRESH, per query

The tables of \`test/tpch/gen.sql\` at scale factor **$tsf** ($(meta tpch_rows)), generated in
$(med tpch setup gen_seconds) s; the 22 queries of \`test/tpch/queries.sql\` (the specification's
validation parameters). Two kinds of round:

- **RF1 + RF2**: \`tpch_rf1(r)\` then \`tpch_rf2(r)\` (\`test/tpch/refresh.sql\`):
  $(num "$(awk -v s="$tsf" 'BEGIN { print s * 1500 }')") orders with their lineitems inserted, as many old ones deleted. Only orders and
  lineitem change.
- **every table**: the same RF1 + RF2, then \`tpch_updates\` (\`test/tpch/check.sql\`: ~0.1% of the
  lineitems, ~0.3% of the orders, ~1% of the customers, ~0.3% of partsupp, two parts), ~1% of the
  suppliers' \`s_acctbal\`, the comment of one nation and one region (\`tpch_round_all\` in
  \`test/bench/bench-tpch.sh\`). Every query reads a changed table.

Two methods per query. **Alone**: only that view exists (\`ivm.create_view\`), next to a plain
\`CREATE MATERIALIZED VIEW\` of the same query; per repetition one round (not timed), the timed
\`SELECT * FROM ivm.tick()\`, then the timed \`REFRESH MATERIALIZED VIEW\` in the same data state: the
tick pays everything a user with that view pays. **In the 22-view tick**: all 22 views exist, one
tick maintains them after a round; a query's time is its view's \`duration_us\` in \`ivm.evidence\`
plus that of its hidden views (those \`ivm.hidden_views\` lists under it, at any depth; in
parentheses), which leaves out the work the tick shares between views (reading and clearing the
logs, the commit): see *Where the 22-view tick's time goes*. Wall times in ms, medians of $treps.

EOF
    for p in "" all_; do
        tpch_rows "$p" >"$D/tpch_rows.tsv"
        [ -s "$D/tpch_rows.tsv" ] || continue
        echo "### Rounds of $(kind_name "$p")"
        echo
        echo "| query | strategy (alone; in the 22-view tick) | tick alone | REFRESH | REFRESH / tick | in the 22-view tick (hidden views) | REFRESH / that | rows_in |"
        echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        : >"$D/tpch_ratios.txt"
        untouched=""
        while IFS='|' read -r q tw rf a22 hid rin st st22; do
            r=$(div "$rf" "$tw"); r22=$(div "$rf" "$a22")
            st="${st:-–}; ${st22:-–}"
            if [ "$rin" = 0 ]; then
                untouched="$untouched${untouched:+, }${q#tpch_}"
                st="untouched (reads no table the round changes)"
                r="*$(ratio "$r")*"; r22="*$(ratio "$r22")*"
            else
                echo "$q ${r:-0} ${r22:-0}" >>"$D/tpch_ratios.txt"
                r=$(ratio "$r"); r22=$(ratio "$r22")
            fi
            hs=""
            if [ -n "$hid" ] && awk -v h="$hid" 'BEGIN { exit !(h > 0) }'; then hs=" ($(ms "$hid"))"; fi
            echo "| ${q#tpch_} | $st | $(ms "$tw") | $(ms "$rf") | $r | $(ms "$a22")$hs | $r22 | $(num "$rin") |"
        done <"$D/tpch_rows.tsv"
        echo
        nall=$(wc -l <"$D/tpch_ratios.txt")
        gm=$(awk '{ print $2 }' "$D/tpch_ratios.txt" | geomean)
        gm22=$(awk '{ print $3 }' "$D/tpch_ratios.txt" | geomean)
        n10=$(awk '$2 >= 10 { n++ } END { print n + 0 }' "$D/tpch_ratios.txt")
        n10b=$(awk '$3 >= 10 { n++ } END { print n + 0 }' "$D/tpch_ratios.txt")
        slower=$(awk '$2 < 1 { printf "%s%s", (n++ ? ", " : ""), substr($1, 6) } END { if (!n) printf "none" }' "$D/tpch_ratios.txt")
        if [ -n "$untouched" ]; then
            echo "$untouched read no table this round changes: their tick has nothing to do (ratios in italics); they are left out below."
            echo
        fi
        echo "**Geometric mean of REFRESH / tick over the $nall queries touched: alone $(ratio "$gm"), in the 22-view tick $(ratio "$gm22").**" \
            "At 10× or more: $n10 of $nall alone, $n10b of $nall in the 22-view tick; slower than REFRESH alone: $slower." \
            "Issue 22's goals (every touched query ≥ 10×, geometric mean ≥ 100×, by both methods): alone $(verdict_ge "$gm" 100)," \
            "in the 22-view tick $(verdict_ge "$gm22" 100)."
        echo
    done
    rm -f "$D/tpch_ratios.txt" "$D/tpch_rows.tsv"

    # where one 22-view tick's time goes, per query, for each round kind
    kinds=""
    for p in "" all_; do
        [ -n "$(med tpch all "${p}tick_duration_ms")" ] && kinds="$kinds ${p:-rf}"
    done
    qs=$(awk -F, '$1 == "tpch" && $2 ~ /^tpch_q/ && $3 ~ /all22_ms$/ { print $2 }' "$RAW" | sort -u)
    if [ -n "$kinds" ] && [ -n "$qs" ]; then
        echo "### Where the 22-view tick's time goes"
        echo
        echo "Each query's part of one tick maintaining all 22 views (its view and its hidden views, from"
        echo "\`ivm.evidence\`), against the tick's own \`duration_ms\`; the rest is what the tick does once for"
        echo "all views, the tick's duration_ms less the sum of the 22 queries' parts. Medians in ms over the"
        echo "repetitions (each row's median taken separately, so the rows need not add up exactly)."
        echo
        hdr="| query |"; sep="| --- |"
        for k in $kinds; do
            p=${k#rf}; hdr="$hdr $(kind_name "$p") | share |"; sep="$sep ---: | ---: |"
        done
        echo "$hdr"; echo "$sep"
        for q in $qs; do
            line="| ${q#tpch_} |"
            for k in $kinds; do
                p=${k#rf}; td=$(med tpch all "${p}tick_duration_ms"); x=$(med tpch "$q" "${p}all22_ms")
                line="$line $(ms "$x") | $(pct "$x" "$td") |"
            done
            echo "$line"
        done
        l1="| all 22 queries |"; l2="| shared (the rest) |"; l3="| the tick's duration_ms (wall) |"
        for k in $kinds; do
            p=${k#rf}; td=$(med tpch all "${p}tick_duration_ms")
            sm=$(tpch_all22_split "$p"); rest=${sm#*|}; sm=${sm%|*}
            l1="$l1 $(ms "$sm") | $(pct "$sm" "$td") |"
            l2="$l2 $(ms "$rest") | $(pct "$rest" "$td") |"
            l3="$l3 $(ms "$td") ($(ms "$(med tpch all "${p}tick_ms")")) | 100% |"
        done
        echo "$l1"; echo "$l2"; echo "$l3"
        echo
    fi

    wn=$(tsum_med none); wv=$(tsum_med views)
    echo "### Writes and the whole tick"
    echo
    echo "| all 22 queries | ms | |"
    echo "| --- | ---: | --- |"
    echo "| RF1 + RF2 without views (before the views and after they are dropped) | $(ms "$wn") | RF1 $(ms "$(med tpch none rf1_ms)"), RF2 $(ms "$(med tpch none rf2_ms)") |"
    echo "| RF1 + RF2 with the 22 views | $(ms "$wv") | RF1 $(ms "$(med tpch views rf1_ms)"), RF2 $(ms "$(med tpch views rf2_ms)"); $(ratio "$(div "$wv" "$wn")") the time without |"
    an=$(med tpch none all_round_ms); av=$(med tpch views all_round_ms)
    if [ -n "$an$av" ]; then
        echo "| a round of every table without views | $(ms "$an") | |"
        echo "| a round of every table with the 22 views | $(ms "$av") | $(ratio "$(div "$av" "$an")") the time without |"
    fi
    for p in "" all_; do
        at=$(med tpch all "${p}tick_ms")
        [ -n "$at" ] || continue
        sumrf=$(tpch_rows "$p" | awk -F'|' '{ s += $3 } END { print s }')
        echo "| one tick maintaining all 22 after a round of $(kind_name "$p") | $(ms "$at") | duration_ms $(ms "$(med tpch all "${p}tick_duration_ms")"), rows_in $(num "$(med tpch all "${p}tick_rows_in")") |"
        echo "| REFRESH of all 22 after a round of $(kind_name "$p") (sum of the medians above) | $(ms "$sumrf") | REFRESH / tick = $(ratio "$(div "$sumrf" "$at")") |"
    done
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
if { has a || has c; } && [ -f "$(dirname "$0")/analysis.md" ]; then
    echo "*Written by hand (\`test/bench/analysis.md\`) from an earlier full run's figures, not necessarily this run's.*"
    echo
    cat "$(dirname "$0")/analysis.md"
    echo
fi

cat <<EOF
## Raw data

\`test/bench/results/$(basename "$(cd "$D" && pwd -P)")/\` (not committed): \`raw.csv\` (bench, config, metric,
repetition, value — every single measurement), \`meta.tsv\`, \`evidence/*.csv\`, \`logs/\` (each psql
session and pgbench run).
EOF
