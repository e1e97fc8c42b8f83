#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/recursive/run.sh -- seeded randomised test of WITH RECURSIVE views
# (issue 22): random edges of small graphs full of cycles inserted, deleted
# and moved, tick after tick, every view compared with its query after
# every tick.
#
#   bash test/recursive/run.sh                   # random seed, 120 ticks
#   IVM_SEED=123 IVM_TICKS=40 bash test/recursive/run.sh
#
# Tables: g_edges (src, dst; no key, so an edge may be there twice), g_nodes
# (id, tag) and g_roots (id).  Views, each kept by delete and rederive and
# semi-naive insertion (recursive.c, fixpoint.c), each with a twin kept by
# diff:
#   g_tc      transitive closure (right-linear: r JOIN edge)
#   g_tc_left transitive closure (left-linear: edge JOIN r)
#   g_reach   the nodes reachable from g_roots
#   g_tagged  the nodes reachable from the nodes tagged 'x' (a filter in base)
#   g_hops    paths of at most 3 hops with their length (a bounded depth
#             column, so it ends over cycles)
#   g_fanout  per node, how many others it reaches and the least of them (an
#             aggregate over the closure, which is a hidden view)
# Graphs of 10 nodes and about 16 edges get cycles and lose them.  Each tick
# runs 1-4 random statements (insert 1-2 edges, delete an edge and its
# copies, move an edge's end, delete a node's edges, insert or delete a
# root, retag a node, now and then a statement rolled back; the edges cut
# back to 16 now and then), then ivm.tick(), then checks: every view equals
# its query as a multiset (test/lib/view_diff.sql), and the tick kept every
# recursive view by its delta rules (ivm.evidence says incremental; the
# session sets ivm.fallback_ratio high so that no delta is deemed too large).
#
# The workload is generated from the seed by bash's $RANDOM before it runs,
# as one SQL script for one psql session: the same seed replays the same
# statements.  On failure the script is kept and its path printed.
# Uses the cluster exported by run-all.sh when there is one, else builds,
# installs and starts its own (see lib.sh).  Creates database ivm_recursive.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

SEED=$(ivm_seed)
case "$SEED" in
    '' | *[!0-9]*) echo "IVM_SEED must be a non-negative integer, not '$SEED'" >&2; exit 2 ;;
esac
TICKS=${IVM_TICKS:-120}
NODES=10
echo "recursive views, randomised: seed=$SEED ticks=$TICKS"
echo "replay with: IVM_SEED=$SEED IVM_TICKS=$TICKS bash test/recursive/run.sh"
RANDOM=$SEED

R=0
rnd() { R=$((RANDOM % $1)); }
chance() { (( RANDOM % 100 < $1 )); }

statement() {
    local i n rows="" a b
    rnd 100
    if ((R < 30)); then
        rnd 2; n=$((R + 1))
        for ((i = 0; i < n; i++)); do
            rnd $NODES; a=$R; rnd $NODES; b=$R
            rows+="${rows:+, }($a, $b)"
        done
        echo "INSERT INTO g_edges VALUES $rows;"
    elif ((R < 60)); then
        rnd 20
        echo "DELETE FROM g_edges WHERE (src, dst) IN (SELECT src, dst FROM g_edges ORDER BY src, dst LIMIT 1 OFFSET $R);"
    elif ((R < 72)); then
        rnd 20; a=$R; rnd $NODES
        echo "UPDATE g_edges SET dst = $R WHERE (src, dst) IN (SELECT src, dst FROM g_edges ORDER BY src, dst LIMIT 1 OFFSET $a);"
    elif ((R < 78)); then
        rnd $NODES
        echo "DELETE FROM g_edges WHERE src = $R OR dst = $R;"
    elif ((R < 86)); then
        rnd $NODES
        if chance 50; then echo "INSERT INTO g_roots VALUES ($R);"; else echo "DELETE FROM g_roots WHERE id = $R;"; fi
    else
        rnd $NODES; a=$R; rnd 3
        echo "UPDATE g_nodes SET tag = '$( ((R == 0)) && echo x || echo y)' WHERE id = $a;"
    fi
}

script=$(mktemp "${TMPDIR:-/tmp}/ivm-recursive.XXXXXX.sql")
{
    echo "\\set ON_ERROR_STOP 1"
    echo "SET client_min_messages = warning;"
    # delta rules whatever the size of a delta: the loop is what is tested
    echo "SET ivm.fallback_ratio = 1000;"
    echo "\\set diff_schema public"
    echo "\\i $HERE/../lib/view_diff.sql"
    cat <<'EOF'
CREATE EXTENSION ivm;
CREATE TABLE g_edges (src int NOT NULL, dst int NOT NULL);
CREATE TABLE g_nodes (id int PRIMARY KEY, tag text NOT NULL);
CREATE TABLE g_roots (id int NOT NULL);
CREATE TABLE g_views (name text, query text);
INSERT INTO g_views VALUES
  ('g_tc', $$WITH RECURSIVE r(a, b) AS (SELECT src, dst FROM g_edges UNION
             SELECT r.a, e.dst FROM r JOIN g_edges e ON r.b = e.src) SELECT a, b FROM r$$),
  ('g_tc_left', $$WITH RECURSIVE r(a, b) AS (SELECT src, dst FROM g_edges UNION
             SELECT e.src, r.b FROM g_edges e JOIN r ON e.dst = r.a) SELECT a, b FROM r$$),
  ('g_reach', $$WITH RECURSIVE r(n) AS (SELECT id FROM g_roots UNION
             SELECT e.dst FROM r, g_edges e WHERE e.src = r.n) SELECT n FROM r$$),
  ('g_tagged', $$WITH RECURSIVE r(n) AS (SELECT id FROM g_nodes WHERE tag = 'x' UNION
             SELECT e.dst FROM r JOIN g_edges e ON e.src = r.n) SELECT n FROM r$$),
  ('g_hops', $$WITH RECURSIVE p(a, b, hops) AS (SELECT src, dst, 1 FROM g_edges UNION
             SELECT p.a, e.dst, p.hops + 1 FROM p JOIN g_edges e ON e.src = p.b WHERE p.hops < 3)
             SELECT a, b, hops FROM p$$),
  ('g_fanout', $$WITH RECURSIVE r(a, b) AS (SELECT src, dst FROM g_edges UNION
             SELECT r.a, e.dst FROM r JOIN g_edges e ON r.b = e.src)
             SELECT a, count(*) AS n, min(b) AS low FROM r WHERE a <> b GROUP BY a$$);
INSERT INTO g_views SELECT name || '_diff', query FROM g_views;
EOF
    echo "INSERT INTO g_nodes SELECT g, CASE WHEN g % 4 = 0 THEN 'x' ELSE 'y' END FROM generate_series(0, $((NODES - 1))) g;"
    echo "INSERT INTO g_roots VALUES (0);"
    for ((i = 0; i < 12; i++)); do rnd $NODES; a=$R; rnd $NODES; echo "INSERT INTO g_edges VALUES ($a, $R);"; done
    cat <<'EOF'
SELECT ivm.create_view(name, query, options => CASE WHEN name LIKE '%\_diff' THEN '{"mode": "diff"}' ELSE '{"mode": "incremental"}' END::jsonb)
  FROM g_views;
CREATE FUNCTION g_check(tick int) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(d, E'\n') INTO bad FROM (SELECT d FROM g_views, test_view_diff(name, query) d LIMIT 20) x;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'tick %: a view differs from its query', tick USING DETAIL = bad;
    END IF;
    SELECT string_agg(e.view || ' by ' || e.strategy, ', ') INTO bad FROM ivm.evidence e
     WHERE e.epoch = (SELECT max(epoch) FROM ivm.evidence) AND e.view NOT LIKE '%\_diff'
       AND e.strategy <> 'incremental';
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'tick %: not kept by delta rules: %', tick, bad;
    END IF;
END $f$;
SELECT g_check(0);
EOF
    for ((t = 1; t <= TICKS; t++)); do
        rnd 4; n=$((R + 1))
        for ((s = 0; s < n; s++)); do
            if chance 8; then
                echo "BEGIN;"; statement; echo "ROLLBACK;"
            else
                statement
            fi
        done
        # kept sparse (16 edges at most now and then), so that cycles come and go
        chance 40 && echo "DELETE FROM g_edges WHERE (src, dst) IN (SELECT src, dst FROM g_edges ORDER BY src, dst OFFSET 16);"
        echo "SELECT NULL FROM ivm.tick();"
        echo "SELECT g_check($t);"
    done
    echo "SELECT 'edges ' || (SELECT count(*) FROM g_edges) || ', rows: ' || string_agg(name || ' ' || (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM ' || name, false, true, '')))[1]::text, ', ' ORDER BY name) FROM g_views WHERE name NOT LIKE '%\\_diff';"
} >"$script"

ivm_cluster_use_or_start
ivm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ivm_recursive" \
    -c "CREATE DATABASE ivm_recursive"
if out=$(ivm_psql -d ivm_recursive -At -f "$script" 2>&1); then
    tail -n 1 <<<"$out"
    echo "$TICKS ticks: every view equal to its query after each"
    rm -f "$script"
else
    echo "$out" | tail -n 30
    echo "FAILED (seed $SEED); the script is kept: $script"
    echo "replay with: IVM_SEED=$SEED IVM_TICKS=$TICKS bash test/recursive/run.sh"
    exit 1
fi
