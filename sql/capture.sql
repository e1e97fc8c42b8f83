-- Capture: every kind of write lands in the delta log with its weight; one
-- set of triggers per table; rolled-back writes leave nothing.
CREATE FUNCTION pg_temp.mismatches(v text, q text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT * FROM %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL SELECT * FROM %s)) d', v, q, q, v) INTO n;
  RETURN n;
END $$;

CREATE TABLE items (id int PRIMARY KEY, k int, v text);
SELECT ivm.create_view('items_v', $$SELECT id, k, v FROM items$$);
SELECT ivm.create_view('items_k', $$SELECT k, count(*) FROM items GROUP BY k$$);

-- one log, four triggers, however many views
SELECT count(*) AS logs FROM ivm.sources WHERE source = 'items'::regclass;
SELECT regexp_replace(tgname, '[0-9]+', 'N') AS trigger FROM pg_trigger
WHERE tgrelid = 'items'::regclass ORDER BY tgname;
SELECT log AS items_log FROM ivm.sources WHERE source = 'items'::regclass \gset

-- the log holds weighted rows: insert +1, delete -1, update -old +new
INSERT INTO items VALUES (1, 10, 'a'), (2, 20, 'b');
UPDATE items SET v = 'bb' WHERE id = 2;
DELETE FROM items WHERE id = 1;
SELECT id, k, v, __ivm_weight FROM :items_log ORDER BY id, __ivm_weight, v;

-- COPY and MERGE are captured too
COPY items FROM stdin;
3	30	c
4	30	d
\.
MERGE INTO items t USING (VALUES (3, 'cc'), (5, 'e')) s(id, v) ON t.id = s.id
  WHEN MATCHED THEN UPDATE SET v = s.v
  WHEN NOT MATCHED THEN INSERT VALUES (s.id, 50, s.v);
SELECT id, k, v, __ivm_weight FROM :items_log WHERE id >= 3 ORDER BY id, __ivm_weight, v;

-- rolled back writes, and a rolled back savepoint, leave nothing
BEGIN;
INSERT INTO items VALUES (100, 1, 'never');
ROLLBACK;
BEGIN;
INSERT INTO items VALUES (6, 60, 'kept');
SAVEPOINT sp;
INSERT INTO items VALUES (101, 1, 'never');
DELETE FROM items WHERE id = 6;
ROLLBACK TO sp;
COMMIT;
SELECT count(*) FILTER (WHERE id >= 100) AS rolled_back_rows, count(*) AS log_rows FROM :items_log;

SELECT rows_in, rows_out, views_processed FROM ivm.tick();
SELECT count(*) AS log_rows_after_tick FROM :items_log;
SELECT pg_temp.mismatches('items_v', 'SELECT id, k, v FROM items') AS items_v_mismatches;
SELECT pg_temp.mismatches('items_k', 'SELECT k, count(*) FROM items GROUP BY k') AS items_k_mismatches;

-- TRUNCATE has no rows to log: it marks the views for recompute
TRUNCATE items;
SELECT count(*) AS truncation_markers FROM ivm._truncated;
SELECT rows_in, views_processed, views_recomputed FROM ivm.tick();
SELECT count(*) AS items_v_rows FROM items_v;
SELECT pg_temp.mismatches('items_k', 'SELECT k, count(*) FROM items GROUP BY k') AS items_k_mismatches;

-- a column added later, a column dropped that no view reads
ALTER TABLE items ADD COLUMN extra int DEFAULT 7;
INSERT INTO items VALUES (7, 70, 'g', 1);
SELECT rows_in FROM ivm.tick();
SELECT pg_temp.mismatches('items_v', 'SELECT id, k, v FROM items') AS items_v_mismatches;
ALTER TABLE items DROP COLUMN extra;
UPDATE items SET k = 71 WHERE id = 7;
SELECT rows_in FROM ivm.tick();
SELECT pg_temp.mismatches('items_k', 'SELECT k, count(*) FROM items GROUP BY k') AS items_k_mismatches;

-- partitioned tables: writes to the parent and straight to a partition,
-- including a partition whose columns are in another order
CREATE TABLE m (id int, k int, x int) PARTITION BY RANGE (id);
CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (100);
CREATE TABLE m2 (x int, id int, k int);
ALTER TABLE m ATTACH PARTITION m2 FOR VALUES FROM (100) TO (200);
INSERT INTO m SELECT g, g % 3, g FROM generate_series(0, 199, 7) g;
SELECT ivm.create_view('m_sum', $$SELECT k, sum(x), count(*) FROM m GROUP BY k$$);
INSERT INTO m VALUES (1, 1, 1000), (150, 2, 2000);
INSERT INTO m1 VALUES (2, 0, 5);
INSERT INTO m2 (id, k, x) VALUES (151, 1, 6);
UPDATE m SET x = x + 1 WHERE id IN (7, 105);
UPDATE m2 SET x = 0 WHERE id = 112;
DELETE FROM m1 WHERE id = 14;
SELECT rows_in FROM ivm.tick();
SELECT pg_temp.mismatches('m_sum', 'SELECT k, sum(x), count(*) FROM m GROUP BY k') AS m_sum_mismatches;
-- partitions created or attached after the view are captured too
CREATE TABLE m3 PARTITION OF m FOR VALUES FROM (200) TO (300);
CREATE TABLE m4 (k int, x int, id int);
ALTER TABLE m ATTACH PARTITION m4 FOR VALUES FROM (300) TO (400);
INSERT INTO m3 VALUES (201, 2, 11);
INSERT INTO m4 VALUES (1, 12, 301);
INSERT INTO m VALUES (202, 0, 13), (302, 0, 14);
SELECT regexp_replace(tgname, '[0-9]+', 'N') AS m4_trigger FROM pg_trigger
WHERE tgrelid = 'm4'::regclass ORDER BY tgname;
SELECT rows_in FROM ivm.tick();
SELECT pg_temp.mismatches('m_sum', 'SELECT k, sum(x), count(*) FROM m GROUP BY k') AS m_sum_mismatches;
TRUNCATE m2;
SELECT views_recomputed FROM ivm.tick();
SELECT pg_temp.mismatches('m_sum', 'SELECT k, sum(x), count(*) FROM m GROUP BY k') AS m_sum_mismatches;

-- when the last view of a table goes, so do its log and triggers
SELECT ivm.drop_view('items_v');
SELECT count(*) AS items_triggers FROM pg_trigger WHERE tgrelid = 'items'::regclass;
SELECT ivm.drop_view('items_k');
SELECT count(*) AS items_triggers FROM pg_trigger WHERE tgrelid = 'items'::regclass;
SELECT count(*) AS items_sources FROM ivm.sources WHERE source = 'items'::regclass;
DROP TABLE m CASCADE;
DROP TABLE items;
SELECT count(*) AS capture_triggers_left FROM pg_trigger WHERE tgfoid = 'ivm._capture()'::regprocedure;
