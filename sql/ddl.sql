-- Declaring, describing, indexing, refreshing and dropping incremental views.
CREATE FUNCTION pg_temp.mismatches(v text, q text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT * FROM %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL SELECT * FROM %s)) d', v, q, q, v) INTO n;
  RETURN n;
END $$;

CREATE TABLE orders (id int PRIMARY KEY, customer_id int, amount numeric(10,2));
INSERT INTO orders SELECT g, g % 4, g * 1.25 FROM generate_series(1, 40) g;

-- the SQL form, the bare option and the function form
CREATE MATERIALIZED VIEW order_totals WITH (ivm.incremental) AS
  SELECT customer_id, sum(amount) AS total, count(*) AS n FROM orders GROUP BY customer_id;
CREATE MATERIALIZED VIEW big_orders WITH (incremental) AS
  SELECT id, amount FROM orders WHERE amount > 40;
SELECT ivm.create_view('small_orders', $$SELECT id, amount FROM orders WHERE amount < 5$$, '{"mode": "diff"}');
-- column names given with the view
CREATE MATERIALIZED VIEW renamed (cust, cnt) WITH (ivm.incremental) AS
  SELECT customer_id, count(*) FROM orders GROUP BY customer_id;
-- WITH NO DATA: empty until the next tick
CREATE MATERIALIZED VIEW later WITH (ivm.incremental) AS SELECT id FROM orders WHERE id <= 3 WITH NO DATA;
SELECT count(*) AS rows_before_tick FROM later;
-- an ordinary materialized view is still an ordinary one
CREATE MATERIALIZED VIEW plain_mv WITH (fillfactor = 50, autovacuum_enabled = false) AS
  SELECT count(*) FROM orders;
SELECT relkind, reloptions FROM pg_class WHERE relname = 'plain_mv';

-- exactly the query's columns, and the contents of the query
SELECT * FROM order_totals ORDER BY customer_id;
SELECT * FROM renamed ORDER BY cust;
SELECT pg_temp.mismatches('order_totals', 'SELECT customer_id, sum(amount), count(*) FROM orders GROUP BY customer_id') AS order_totals_mismatches;
SELECT pg_temp.mismatches('big_orders', 'SELECT id, amount FROM orders WHERE amount > 40') AS big_orders_mismatches;
SELECT pg_temp.mismatches('small_orders', 'SELECT id, amount FROM orders WHERE amount < 5') AS small_orders_mismatches;

-- psql sees views
SELECT c.relname, c.relkind FROM pg_class c
WHERE c.relname IN ('order_totals', 'big_orders', 'small_orders', 'renamed', 'later', 'plain_mv')
ORDER BY 1;
\d order_totals

-- the catalog
SELECT name, strategy, mode, rows, state, level FROM ivm.views ORDER BY name::text;
SELECT query FROM ivm.views WHERE name = 'order_totals'::regclass;
SELECT * FROM ivm.dependencies ORDER BY view::text, source::text;
SELECT source, kind, views FROM ivm.sources ORDER BY source::text;
SELECT ivm.explain('order_totals');
SELECT ivm.explain('small_orders');

-- one tick fills the WITH NO DATA view
SELECT views_processed, views_recomputed FROM ivm.tick();
SELECT * FROM later ORDER BY id;

-- indexes go on the storage
CREATE INDEX order_totals_customer ON order_totals (customer_id);
SELECT pg_get_indexdef(indexrelid) LIKE '%(customer_id)' AS indexed FROM pg_index i
  JOIN ivm._views v ON v.storagerel = i.indrelid WHERE v.viewrel = 'order_totals'::regclass
  AND i.indkey[0] = 1;
CREATE INDEX ON order_totals ((customer_id + 1));

-- REFRESH recomputes; the result still equals the query
REFRESH MATERIALIZED VIEW order_totals;
SELECT pg_temp.mismatches('order_totals', 'SELECT customer_id, sum(amount), count(*) FROM orders GROUP BY customer_id') AS after_refresh;
REFRESH MATERIALIZED VIEW plain_mv;

-- every way of dropping
DROP MATERIALIZED VIEW big_orders;
DROP VIEW small_orders;
SELECT ivm.drop_view('renamed');
DROP MATERIALIZED VIEW IF EXISTS big_orders;
DROP MATERIALIZED VIEW plain_mv;
SELECT name FROM ivm.views ORDER BY name::text;
SELECT count(*) AS storage_tables FROM pg_class
WHERE relnamespace = 'ivm'::regnamespace AND relkind = 'r' AND relname LIKE '\_data\_%';

-- DROP TABLE ... CASCADE takes the views, their storage and the capture with it
DROP TABLE orders CASCADE;
SELECT count(*) AS views_left FROM ivm.views;
SELECT count(*) AS sources_left FROM ivm.sources;
SELECT count(*) AS ivm_tables_left FROM pg_class
WHERE relnamespace = 'ivm'::regnamespace AND (relname LIKE '\_data\_%' OR relname LIKE '\_log\_%');

-- DROP SCHEMA ... CASCADE and DROP OWNED leave no orphans either
CREATE SCHEMA s1;
CREATE TABLE s1.t (a int);
SELECT ivm.create_view('s1.v', $$SELECT a FROM s1.t$$);
DROP SCHEMA s1 CASCADE;
CREATE ROLE ivm_ddl_owner;
GRANT CREATE ON SCHEMA public TO ivm_ddl_owner;
SET ROLE ivm_ddl_owner;
CREATE TABLE owned_t (a int);
INSERT INTO owned_t VALUES (1), (2);
SELECT ivm.create_view('owned_v', $$SELECT a FROM owned_t$$);
SELECT * FROM owned_v ORDER BY a;
RESET ROLE;
DROP OWNED BY ivm_ddl_owner;
REVOKE CREATE ON SCHEMA public FROM ivm_ddl_owner;
DROP ROLE ivm_ddl_owner;
SELECT count(*) AS views_left FROM ivm.views;
SELECT count(*) AS sources_left FROM ivm.sources;
SELECT count(*) AS ivm_tables_left FROM pg_class
WHERE relnamespace = 'ivm'::regnamespace AND (relname LIKE '\_data\_%' OR relname LIKE '\_log\_%');
SELECT count(*) AS capture_triggers_left FROM pg_trigger WHERE tgfoid = 'ivm._capture()'::regprocedure;

-- ALTER VIEW ... OWNER TO hands over the query too: it runs with the new owner's rights
CREATE ROLE ivm_ddl_new_owner;
CREATE TABLE handed (a int);
INSERT INTO handed VALUES (1);
GRANT SELECT ON handed TO ivm_ddl_new_owner;
SELECT ivm.create_view('handed_v', $$SELECT a FROM handed$$);
ALTER VIEW handed_v OWNER TO ivm_ddl_new_owner;
INSERT INTO handed VALUES (2);
SELECT rows_in, rows_out FROM ivm.tick();
SET ROLE ivm_ddl_new_owner;
SELECT * FROM handed_v ORDER BY a;
RESET ROLE;
REVOKE SELECT ON handed FROM ivm_ddl_new_owner;
INSERT INTO handed VALUES (3);
-- all-or-nothing: the tick fails as a whole (the default quarantines the view)
SET ivm.on_error = abort;
\set VERBOSITY terse
SELECT rows_in FROM ivm.tick();
\set VERBOSITY default
RESET ivm.on_error;
GRANT SELECT ON handed TO ivm_ddl_new_owner;
SELECT rows_in FROM ivm.tick();
SELECT * FROM handed_v ORDER BY a;
DROP TABLE handed CASCADE;
DROP OWNED BY ivm_ddl_new_owner;
DROP ROLE ivm_ddl_new_owner;
