-- ---------------------------------------------------------------------------
-- test/tpch/refresh.sql -- TPC-H's refresh functions RF1 and RF2.
--
--   psql -f test/tpch/refresh.sql      (after gen.sql, in the same database)
--
-- The specification (clause 2.5) runs the two in pairs, each pair on a new
-- set of keys; a round number r (1, 2, ...) chooses the set here, so rounds
-- differ and a round replays exactly:
--   tpch_rf1(r)  inserts n = 1,500 x SF new orders (0.1% of the orders) with
--                their lineitems (1-7 each, ~4 x n): the order indexes
--                N + (r-1)n + 1 .. N + rn after the N loaded ones, i.e. the
--                keys continue the sparse key space (8 of every 32), and the
--                rows are what gen.sql's generator gives for those indexes.
--   tpch_rf2(r)  deletes n old orders with their lineitems: the loaded orders
--                of indexes (r-1)n + 1 .. rn, lineitems first.
-- Both return the number of orders inserted or deleted.  A round number
-- must not be used twice for RF1 (the keys exist already); RF2 of a round
-- already done deletes nothing.
-- ---------------------------------------------------------------------------

-- tpch_rf1(r): RF1 of round r (r >= 1).
CREATE OR REPLACE FUNCTION tpch_rf1(r int) RETURNS bigint
LANGUAGE sql AS $fn$
SELECT tpch_gen_orders(c.n_orders + (r - 1)::bigint * c.n_refresh + 1,
                       c.n_orders + r::bigint * c.n_refresh)
FROM tpch_config c
WHERE r >= 1
$fn$;

-- tpch_rf2(r): RF2 of round r (r >= 1).
CREATE OR REPLACE FUNCTION tpch_rf2(r int) RETURNS bigint
LANGUAGE sql AS $fn$
WITH keys AS (
    SELECT tpch_okey(i) AS k
    FROM tpch_config c, generate_series((r - 1)::bigint * c.n_refresh + 1, r::bigint * c.n_refresh) i
    WHERE r >= 1
),
dl AS (
    DELETE FROM lineitem WHERE l_orderkey IN (SELECT k FROM keys)
),
d AS (
    DELETE FROM orders WHERE o_orderkey IN (SELECT k FROM keys)
    RETURNING 1
)
SELECT count(*) FROM d
$fn$;
