-- test/upgrade/setup.sql -- tables, a push source and views of several kinds,
-- made by test/upgrade/run.sh in database ivm_upg while the release it
-- upgrades from is installed (CREATE EXTENSION ivm VERSION '0.1.0' has run).
-- Written for that release's SQL surface: nothing newer may be used here.

CREATE TABLE customers (id int PRIMARY KEY, name text, tier int);
CREATE TABLE orders (id int PRIMARY KEY, cust int NOT NULL, amount int NOT NULL, region text);
-- embeddings of 3 dimensions, never the zero vector (cosine is defined)
CREATE TABLE items (id int PRIMARY KEY, emb real[] NOT NULL, tag text);
-- a partitioned table; updates of k move rows between partitions
CREATE TABLE events (id int NOT NULL, k int, amt int) PARTITION BY RANGE (k);
CREATE TABLE events_lo PARTITION OF events FOR VALUES FROM (MINVALUE) TO (5);
CREATE TABLE events_hi PARTITION OF events FOR VALUES FROM (5) TO (MAXVALUE);
SELECT ivm.create_source('clicks', 'user_id int NOT NULL, url text');

INSERT INTO customers SELECT g, 'c' || g, g % 3 FROM generate_series(1, 12) g;
INSERT INTO orders SELECT g, g % 12 + 1, (g * 37) % 100, (ARRAY['north', 'south', NULL])[g % 3 + 1]
  FROM generate_series(1, 60) g;
INSERT INTO items SELECT g, ARRAY[(g % 5) - 2, (g * 3 % 7) - 3, 1 + g % 2]::real[], 't' || g
  FROM generate_series(1, 30) g;
INSERT INTO events SELECT g, g % 10, (g * 13) % 50 FROM generate_series(1, 40) g;
SELECT ivm.push('clicks', '[{"user_id": 0, "url": "/p0"}, {"user_id": 1, "url": "/home", "_weight": 2}]');

-- The views under test and the queries they must equal.  Created in ord
-- order (v_on_view reads v_having).
CREATE TABLE upg_views (ord int PRIMARY KEY, name text UNIQUE NOT NULL, query text NOT NULL,
                        options jsonb NOT NULL DEFAULT '{}');
INSERT INTO upg_views VALUES
 (1,  'v_spj',     $q$SELECT o.id, o.amount, c.name FROM orders o JOIN customers c ON c.id = o.cust WHERE o.amount > 10$q$, '{}'),
 (2,  'v_having',  $q$SELECT cust, count(*) AS n, sum(amount) AS total FROM orders GROUP BY cust HAVING count(*) > 2 AND sum(amount) > 100$q$, '{}'),
 (3,  'v_outer',   $q$SELECT c.id, c.name, o.id AS oid, o.amount FROM customers c LEFT JOIN orders o ON o.cust = c.id AND o.region = 'north'$q$, '{}'),
 (4,  'v_setop',   $q$SELECT cust AS id FROM orders WHERE amount > 50 UNION SELECT id FROM customers WHERE tier = 1$q$, '{}'),
 (5,  'v_except',  $q$SELECT cust FROM orders EXCEPT ALL SELECT id FROM customers WHERE tier = 2$q$, '{}'),
 (6,  'v_topk',    $q$SELECT id, cust, amount FROM orders ORDER BY amount DESC, id LIMIT 5$q$, '{}'),
 (7,  'v_window',  $q$SELECT id, cust, row_number() OVER (PARTITION BY cust ORDER BY amount, id) AS rn, sum(amount) OVER (PARTITION BY cust) AS cust_total FROM orders$q$, '{}'),
 (8,  'v_on_view', $q$SELECT count(*) AS groups, sum(n) AS n, max(total) AS top FROM v_having$q$, '{}'),
 (9,  'v_push',    $q$SELECT user_id, count(*) AS n, max(url) AS last_url FROM clicks GROUP BY user_id$q$, '{}'),
 (10, 'v_sharded', $q$SELECT cust, count(*) AS n, sum(amount) AS total FROM orders GROUP BY cust$q$,
                   '{"partitions": 3, "partition_key": "cust"}'),
 (11, 'v_events',  $q$SELECT k, count(*) AS n, sum(amt) AS s FROM events GROUP BY k$q$, '{}'),
 (12, 'v_diff',    $q$SELECT region, count(*) AS n, sum(amount) AS total FROM orders GROUP BY region$q$,
                   '{"mode": "diff"}');
SELECT ivm.create_view(name, query, options) FROM upg_views ORDER BY ord;

-- a vector view, by the function made for it
INSERT INTO upg_views (ord, name, query)
SELECT 13, 'v_vector', ivm.vector_view_query('items', 'emb', '{1,0,-1}', 4, 'cosine', ARRAY['tag']);
SELECT ivm.create_vector_view('v_vector', 'items', 'emb', '{1,0,-1}', k => 4, metric => 'cosine',
                              payload => ARRAY['tag']);

-- a view declared by CREATE MATERIALIZED VIEW
INSERT INTO upg_views (ord, name, query)
VALUES (14, 'v_matview', 'SELECT tier, count(*) AS n FROM customers GROUP BY tier');
CREATE MATERIALIZED VIEW v_matview WITH (ivm.incremental) AS
  SELECT tier, count(*) AS n FROM customers GROUP BY tier;

-- a view calling a STABLE function that reads a table no view reads: the
-- update marks it to be computed at every tick (options "every_tick")
CREATE TABLE upg_rate (r numeric NOT NULL);
INSERT INTO upg_rate VALUES (2);
CREATE FUNCTION upg_rate() RETURNS numeric STABLE LANGUAGE sql AS $$SELECT r FROM public.upg_rate$$;
INSERT INTO upg_views (ord, name, query)
VALUES (15, 'v_stable', 'SELECT id, amount * upg_rate() AS scaled FROM orders');
SELECT ivm.create_view('v_stable', 'SELECT id, amount * upg_rate() AS scaled FROM orders');

SELECT ivm.watch('v_having'), ivm.watch('v_push');

-- upg_write(r): round r of writes, the same in every run: rows in, out and
-- moved in every table, a push that adds a click and removes the previous
-- round's (when it is there).  Every round changes v_having and v_push (both
-- watched).
CREATE FUNCTION upg_write(r int) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO orders SELECT 1000 * r + g, (g * 7 + r) % 12 + 1, 60 + (g * 37 + r * 11) % 40,
                              (ARRAY['north', 'south', NULL])[(g + r) % 3 + 1]
      FROM generate_series(1, 8) g;
    UPDATE orders SET amount = amount + r WHERE id % 7 = r % 7;
    UPDATE orders SET region = 'north' WHERE id % 11 = r % 11 AND region IS DISTINCT FROM 'north';
    DELETE FROM orders WHERE id IN (SELECT id FROM orders ORDER BY (id * 31 + r) % 101, id LIMIT 3);
    UPDATE customers SET tier = (tier + 1) % 3 WHERE id % 5 = r % 5;
    INSERT INTO customers VALUES (100 + r, 'c' || (100 + r), r % 3);
    UPDATE items SET emb = ARRAY[1 + r % 2, 0, -1 - r % 3]::real[] WHERE id = r % 30 + 1;
    DELETE FROM items WHERE id = (SELECT id FROM v_vector ORDER BY distance, id LIMIT 1);
    INSERT INTO items VALUES (100 + r, ARRAY[r % 4 + 1, -1, r % 3 - 1]::real[], 'n' || r);
    INSERT INTO events SELECT 100 * r + g, (g + r) % 10, g * r % 50 FROM generate_series(1, 5) g;
    UPDATE events SET k = (k + 3) % 10 WHERE id % 4 = r % 4;
    PERFORM ivm.push('clicks', jsonb_build_array(jsonb_build_object('user_id', r % 4, 'url', '/p' || r))
        || CASE WHEN EXISTS (SELECT 1 FROM clicks WHERE url = '/p' || (r - 1))
                THEN jsonb_build_array(jsonb_build_object('user_id', (r - 1) % 4, 'url', '/p' || (r - 1),
                                                          '_weight', -1))
                ELSE '[]' END);
END
$fn$;

-- upg_check(): one line per difference between a view and its query (as
-- multisets), and one per view that is not in state 'ok'.
CREATE FUNCTION upg_check() RETURNS SETOF text LANGUAGE plpgsql AS $fn$
BEGIN
    RETURN QUERY SELECT d FROM upg_views, test_view_diff(name, query) d ORDER BY ord;
    RETURN QUERY SELECT v.name::text || ' is in state ' || v.state FROM ivm.views v WHERE v.state <> 'ok';
    RETURN QUERY SELECT h.name::text || ' (hidden) is in state ' || h.state FROM ivm.hidden_views h WHERE h.state <> 'ok';
END
$fn$;
