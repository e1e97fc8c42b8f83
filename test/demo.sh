#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/demo.sh -- ivm in two minutes.
#
# Installs what is missing, builds and installs the extension, starts a
# throwaway PostgreSQL cluster (15 unless PG_CONFIG or IVM_PG_VERSION says
# otherwise, see test/lib.sh) with shared_preload_libraries = 'ivm',
# walks through a small example in psql, checks its results (the exit
# status is non-zero when one is wrong), and removes the cluster again.
#
#   bash test/demo.sh
#   IVM_INSTALLED=1 bash test/demo.sh   # with the installed package
#                                       # (postgresql-N-ivm): no build
# ---------------------------------------------------------------------------
set -euo pipefail
# shellcheck source=test/lib.sh
. "$(dirname "$0")/lib.sh"

ivm_prepare
ivm_say "starting a throwaway cluster"
ivm_cluster_start

ivm_say "the demo (statements are echoed, results follow)"
ivm_psql --echo-queries <<'SQL' 2>&1 | tee "$IVM_TMP/demo.out"
\pset footer off
\echo '--- 1. the extension and a table'
CREATE EXTENSION ivm;
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, amount numeric);
INSERT INTO orders VALUES (1, 1, 40), (2, 1, 50), (3, 2, 30), (4, 3, 120);

\echo '--- 2. an incremental view, and a second view that reads the first'
CREATE MATERIALIZED VIEW order_totals WITH (ivm.incremental) AS
  SELECT customer_id, sum(amount) AS total, count(*) AS n
  FROM orders GROUP BY customer_id;
SELECT ivm.create_view('big_customers',
  $$SELECT customer_id, total FROM order_totals WHERE total > 100$$);
SELECT * FROM ivm.tick();
SELECT * FROM order_totals ORDER BY customer_id;
SELECT * FROM big_customers ORDER BY customer_id;

\echo '--- 3. subscribe to changes of order_totals'
SELECT ivm.watch('order_totals');
LISTEN ivm_order_totals;

\echo '--- 4. writes: they are captured as deltas; the views do not change yet'
INSERT INTO orders VALUES (5, 2, 80), (6, 4, 10);
UPDATE orders SET amount = amount + 25 WHERE id = 1;
DELETE FROM orders WHERE id = 4;
SELECT * FROM order_totals ORDER BY customer_id;

\echo '--- 5. a tick brings every view up to date in one transaction'
SELECT * FROM ivm.tick();
\echo '(the "Asynchronous notification" line above is what a LISTENer gets from the tick)'
SELECT * FROM order_totals ORDER BY customer_id;
SELECT * FROM big_customers ORDER BY customer_id;

\echo '--- 6. each view equals its query: both differences are empty'
SELECT count(*) AS rows_that_differ FROM (
  (SELECT * FROM order_totals
   EXCEPT ALL
   SELECT customer_id, sum(amount) AS total, count(*) AS n FROM orders GROUP BY customer_id)
  UNION ALL
  (SELECT customer_id, sum(amount) AS total, count(*) AS n FROM orders GROUP BY customer_id
   EXCEPT ALL
   SELECT * FROM order_totals)) d;
SELECT count(*) AS rows_that_differ FROM (
  (SELECT * FROM big_customers
   EXCEPT ALL
   SELECT customer_id, total FROM order_totals WHERE total > 100)
  UNION ALL
  (SELECT customer_id, total FROM order_totals WHERE total > 100
   EXCEPT ALL
   SELECT * FROM big_customers)) d;

\echo '--- 7. what the ticks did, view by view'
SELECT * FROM ivm.evidence ORDER BY epoch, 2;
SELECT name, strategy, rows, last_epoch, last_duration_ms, state FROM ivm.views ORDER BY name;

\echo '--- 8. the changed rows of the watched view, from its change log'
SELECT * FROM ivm.changes('order_totals', 0);

\echo '--- 9. a push source: rows arrive as weighted JSON batches; dedup applies a batch once'
SELECT ivm.create_source('clicks', 'customer_id int, url text');
SELECT ivm.set_dedup('clicks', true);
CREATE MATERIALIZED VIEW clicks_per_customer WITH (ivm.incremental) AS
  SELECT customer_id, count(*) AS clicks FROM clicks GROUP BY customer_id;
SELECT * FROM ivm.tick('clicks', '[{"customer_id": 1, "url": "/a"}, {"customer_id": 2, "url": "/b", "_weight": 2}]');
SELECT ivm.push('clicks', '[{"customer_id": 2, "url": "/b", "_weight": 2}, {"customer_id": 1, "url": "/a"}]') AS applied_again;
SELECT ivm.push('clicks', '[{"customer_id": 2, "url": "/b", "_weight": -1}]') AS removed;
SELECT * FROM ivm.tick();
SELECT * FROM clicks_per_customer ORDER BY customer_id;
SELECT * FROM ivm.stats;
SQL

# The demo's results: each view equal to its query and to the rows the
# steps above lead to, every view healthy, the watched view's change log,
# and the notification the LISTENer got.
ivm_say "checking the demo's results"
ivm_psql <<'SQL'
DO $$
DECLARE
    differ bigint;
    got text;
BEGIN
    SELECT count(*) INTO differ FROM (
        (SELECT * FROM order_totals
         EXCEPT ALL
         SELECT customer_id, sum(amount), count(*) FROM orders GROUP BY customer_id)
        UNION ALL
        (SELECT customer_id, sum(amount), count(*) FROM orders GROUP BY customer_id
         EXCEPT ALL
         SELECT * FROM order_totals)) d;
    IF differ <> 0 THEN
        RAISE EXCEPTION 'order_totals differs from its query in % rows', differ;
    END IF;
    SELECT string_agg(format('%s:%s:%s', customer_id, total, n), ' ' ORDER BY customer_id)
      INTO got FROM order_totals;
    IF got IS DISTINCT FROM '1:115:2 2:110:2 4:10:1' THEN
        RAISE EXCEPTION 'order_totals is "%", expected "1:115:2 2:110:2 4:10:1"', got;
    END IF;
    SELECT string_agg(format('%s:%s', customer_id, total), ' ' ORDER BY customer_id)
      INTO got FROM big_customers;
    IF got IS DISTINCT FROM '1:115 2:110' THEN
        RAISE EXCEPTION 'big_customers is "%", expected "1:115 2:110"', got;
    END IF;
    SELECT string_agg(format('%s:%s', customer_id, clicks), ' ' ORDER BY customer_id)
      INTO got FROM clicks_per_customer;
    IF got IS DISTINCT FROM '1:1 2:1' THEN
        RAISE EXCEPTION 'clicks_per_customer is "%", expected "1:1 2:1"', got;
    END IF;
    SELECT string_agg(name || ':' || state, ' ' ORDER BY name::text) INTO got FROM ivm.views;
    IF got IS DISTINCT FROM 'big_customers:ok clicks_per_customer:ok order_totals:ok' THEN
        RAISE EXCEPTION 'ivm.views says "%", expected three views in state ok', got;
    END IF;
    SELECT string_agg(format('%s%s', _weight, "row"), ' ' ORDER BY _weight, ("row"->>'customer_id')::int)
      INTO got FROM ivm.changes('order_totals', 0);
    IF got IS DISTINCT FROM '-1{"n": 2, "total": 90, "customer_id": 1} -1{"n": 1, "total": 30, "customer_id": 2} -1{"n": 1, "total": 120, "customer_id": 3} 1{"n": 2, "total": 115, "customer_id": 1} 1{"n": 2, "total": 110, "customer_id": 2} 1{"n": 1, "total": 10, "customer_id": 4}' THEN
        RAISE EXCEPTION 'the change log of order_totals is "%"', got;
    END IF;
END
$$;
SQL
ivm_expect "$(cat "$IVM_TMP/demo.out")" \
    'Asynchronous notification "ivm_order_totals" with payload "{"view": "order_totals", "schema": "public", "epoch": 2, "inserted": 3, "deleted": 3}"'
echo "the demo's results are right"

ivm_say "demo finished; stopping the cluster"
