-- ---------------------------------------------------------------------------
-- test/tpch/check.sql -- the TPC-H test's random updates and its checker.
--
-- Loaded by test/tpch/run.sh after gen.sql, test/lib/view_diff.sql and
-- refresh.sql.  Needs the table
-- tpch_query (name, query) that run.sh fills from queries.sql.
--
--   tpch_updates(seed, r)  a few updates of round r, drawn by hashes of the
--                          seed and the round (so a seed replays): the
--                          discount and quantity (and price) of ~0.1% of the
--                          lineitems, the priority of ~0.3% of the orders,
--                          the segment of ~1% of the customers, the supply
--                          cost of ~0.3% of the partsupp rows, the type of
--                          two parts (one of them to a type Q8 / Q14 / Q2
--                          look for); returns the number of rows updated.
--   tpch_check(seed, r)    compares every view of tpch_query with its query,
--                          run directly, as multisets of the rows' text (so a
--                          numeric's display scale counts): EXCEPT ALL both
--                          ways.  On a difference: a WARNING per view with up
--                          to 20 rows of each side, then an ERROR naming the
--                          seed, the round and the views.
-- ---------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS tpch_query (name text PRIMARY KEY, query text NOT NULL);

-- tpch_updates(seed, r): the random updates of round r.
CREATE OR REPLACE FUNCTION tpch_updates(p_seed bigint, p_round int) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    s       int := ((p_seed * 1009 + p_round * 17) % 1000000007)::int;
    n       bigint;
    total   bigint := 0;
    nparts  int := (SELECT n_part FROM tpch_config);
BEGIN
    UPDATE lineitem
       SET l_discount = tpch_rnd(l_orderkey * 8 + l_linenumber, s + 1, 0, 10) / 100.0,
           l_quantity = tpch_rnd(l_orderkey * 8 + l_linenumber, s + 2, 1, 50),
           l_extendedprice = round(l_extendedprice / l_quantity
                                   * tpch_rnd(l_orderkey * 8 + l_linenumber, s + 2, 1, 50), 2)
     WHERE tpch_h(l_orderkey * 8 + l_linenumber, s) % 1000 = 0;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;

    UPDATE orders
       SET o_orderpriority = (ARRAY['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'])
                             [1 + tpch_h(o_orderkey, s + 4) % 5]
     WHERE tpch_h(o_orderkey, s + 3) % 300 = 0;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;

    UPDATE customer
       SET c_mktsegment = (ARRAY['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'MACHINERY', 'HOUSEHOLD'])
                          [1 + tpch_h(c_custkey, s + 6) % 5]
     WHERE tpch_h(c_custkey, s + 5) % 100 = 0;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;

    UPDATE partsupp
       SET ps_supplycost = tpch_rnd(ps_partkey * 4 + ps_suppkey, s + 8, 100, 100000) / 100.0
     WHERE tpch_h(ps_partkey::bigint * 100003 + ps_suppkey, s + 7) % 300 = 0;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;

    UPDATE part
       SET p_type = CASE WHEN p_partkey = 1 + tpch_h(s, 9) % nparts
                         THEN (ARRAY['ECONOMY ANODIZED STEEL', 'PROMO BRUSHED COPPER', 'SMALL PLATED BRASS'])
                              [1 + tpch_h(s, 11) % 3]
                         ELSE 'STANDARD POLISHED TIN' END
     WHERE p_partkey IN (1 + tpch_h(s, 9) % nparts, 1 + tpch_h(s, 10) % nparts);
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    RETURN total;
END
$fn$;

-- tpch_check(seed, r): every view equal to its query, as multisets of row text.
CREATE OR REPLACE FUNCTION tpch_check(p_seed bigint, p_round int) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    r       record;
    diffs   text[];
    bad     text[] := '{}';
BEGIN
    FOR r IN SELECT name, query FROM tpch_query ORDER BY name LOOP
        SELECT array_agg(x ORDER BY x) INTO diffs FROM test_view_diff(r.name, r.query, true) x;
        IF diffs IS NOT NULL THEN
            bad := bad || r.name;
            RAISE WARNING '%', format(E'MISMATCH seed=%s round=%s view=%s (%s differing rows, up to 20 shown)\nquery: %s\n%s',
                p_seed, p_round, r.name, cardinality(diffs), r.query,
                array_to_string(diffs[1:20], E'\n'));
        END IF;
    END LOOP;
    IF cardinality(bad) > 0 THEN
        RAISE EXCEPTION 'TPC-H views differ from their queries after round % (seed %): %',
            p_round, p_seed, array_to_string(bad, ', ');
    END IF;
END
$fn$;
