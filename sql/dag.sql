-- Views on views: a DAG walked in topological order within one tick.
CREATE FUNCTION pg_temp.mismatches(v text, q text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT * FROM %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL SELECT * FROM %s)) d', v, q, q, v) INTO n;
  RETURN n;
END $$;

CREATE TABLE sales (id int PRIMARY KEY, region text, product int, qty int);
CREATE TABLE products (id int PRIMARY KEY, name text, price int);
INSERT INTO products SELECT i, 'p' || i, i * 10 FROM generate_series(1, 6) i;
INSERT INTO sales SELECT i, (ARRAY['north','south','east'])[i % 3 + 1], i % 6 + 1, i % 4 + 1
FROM generate_series(1, 60) i;

-- level 0: a join; level 1: an aggregate of it; level 2: a filter of that;
-- and a diamond: a view reading two views that share a source
SELECT ivm.create_view('lines', $$SELECT s.id, s.region, p.name, s.qty * p.price AS amount
                                   FROM sales s JOIN products p ON p.id = s.product$$);
SELECT ivm.create_view('by_region', $$SELECT region, sum(amount) AS total, count(*) AS n FROM lines GROUP BY region$$);
SELECT ivm.create_view('top_regions', $$SELECT region, total FROM by_region WHERE total > 1000$$);
SELECT ivm.create_view('by_product', $$SELECT name, sum(amount) AS total FROM lines GROUP BY name$$);
SELECT ivm.create_view('pairs', $$SELECT r.region, p.name, r.total AS region_total, p.total AS product_total
                                  FROM by_region r CROSS JOIN by_product p WHERE p.total > 300$$);
-- a view reading a view and a table at once
SELECT ivm.create_view('priced', $$SELECT b.name, b.total, p.price FROM by_product b JOIN products p ON p.name = b.name$$);

SELECT name, level FROM ivm.views ORDER BY level, name::text;
SELECT view, source, source_kind FROM ivm.dependencies ORDER BY view::text, source::text;

CREATE FUNCTION pg_temp.check_all() RETURNS TABLE (view text, mismatches bigint)
LANGUAGE sql AS $$
  SELECT 'lines', pg_temp.mismatches('lines', 'SELECT s.id, s.region, p.name, s.qty * p.price FROM sales s JOIN products p ON p.id = s.product')
  UNION ALL SELECT 'by_region', pg_temp.mismatches('by_region', 'SELECT s.region, sum(s.qty * p.price), count(*) FROM sales s JOIN products p ON p.id = s.product GROUP BY s.region')
  UNION ALL SELECT 'top_regions', pg_temp.mismatches('top_regions', 'SELECT region, total FROM (SELECT s.region, sum(s.qty * p.price) AS total FROM sales s JOIN products p ON p.id = s.product GROUP BY s.region) x WHERE total > 1000')
  UNION ALL SELECT 'by_product', pg_temp.mismatches('by_product', 'SELECT p.name, sum(s.qty * p.price) FROM sales s JOIN products p ON p.id = s.product GROUP BY p.name')
  UNION ALL SELECT 'pairs', pg_temp.mismatches('pairs', 'SELECT r.region, p.name, r.total, p.total FROM (SELECT s.region, sum(s.qty * p.price) AS total FROM sales s JOIN products p ON p.id = s.product GROUP BY s.region) r CROSS JOIN (SELECT p.name, sum(s.qty * p.price) AS total FROM sales s JOIN products p ON p.id = s.product GROUP BY p.name) p WHERE p.total > 300')
  UNION ALL SELECT 'priced', pg_temp.mismatches('priced', 'SELECT b.name, b.total, p.price FROM (SELECT p.name, sum(s.qty * p.price) AS total FROM sales s JOIN products p ON p.id = s.product GROUP BY p.name) b JOIN products p ON p.name = b.name')
$$;
SELECT * FROM pg_temp.check_all() WHERE mismatches <> 0;

-- a change at the bottom reaches the top in the same tick
INSERT INTO sales VALUES (61, 'west', 1, 100);
SELECT rows_in, views_processed, views_skipped FROM ivm.tick();
SELECT * FROM top_regions ORDER BY region;
SELECT * FROM pg_temp.check_all() WHERE mismatches <> 0;

-- a change that does not move an upstream view skips everything downstream
UPDATE sales SET region = region WHERE id = 1;
SELECT rows_in, rows_out, views_processed, views_skipped FROM ivm.tick();

-- a price change flows through the join, both aggregates and the diamond
UPDATE products SET price = price + 1 WHERE id IN (2, 3);
DELETE FROM sales WHERE region = 'east' AND id < 30;
SELECT rows_in, views_processed FROM ivm.tick();
SELECT view, delta_in > 0 AS had_input, delta_out > 0 AS had_output FROM ivm.evidence
WHERE epoch = (SELECT max(epoch) FROM ivm.evidence) ORDER BY view;
SELECT * FROM pg_temp.check_all() WHERE mismatches <> 0;

-- dropping a view that others read needs CASCADE
DROP VIEW by_region;
SELECT ivm.drop_view('by_region', cascade => true);
SELECT name FROM ivm.views ORDER BY name::text;
SELECT count(*) AS edges_to_dropped FROM ivm._deps d
WHERE NOT EXISTS (SELECT 1 FROM ivm._views v WHERE v.id = d.view_id);

DROP TABLE sales, products CASCADE;
SELECT count(*) AS views_left FROM ivm.views;

-- several views created in one statement, the later reading the earlier
CREATE TABLE one_stmt (k int);
SELECT ivm.create_view(n, q) FROM (VALUES
  (1, 'os_count', 'SELECT k, count(*) AS n FROM one_stmt GROUP BY k'),
  (2, 'os_big', 'SELECT k FROM os_count WHERE n > 1')) t(o, n, q) ORDER BY o;
INSERT INTO one_stmt VALUES (1), (1), (2);
SELECT rows_in, views_processed FROM ivm.tick();
SELECT * FROM os_big;
DROP TABLE one_stmt CASCADE;
