-- Bad input: a clear error, and nothing changed.
\set VERBOSITY default
CREATE TABLE t (id int PRIMARY KEY, x int, s text);
INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b');
SELECT ivm.create_view('tv', $$SELECT id, x FROM t$$);

CREATE FUNCTION pg_temp.catalog_state() RETURNS text LANGUAGE sql AS $$
  SELECT format('views=%s sources=%s deps=%s relations=%s triggers=%s',
    (SELECT count(*) FROM ivm._views), (SELECT count(*) FROM ivm._sources),
    (SELECT count(*) FROM ivm._deps),
    (SELECT count(*) FROM pg_class WHERE relnamespace = 'ivm'::regnamespace),
    (SELECT count(*) FROM pg_trigger WHERE tgfoid = 'ivm._capture()'::regprocedure))
$$;
SELECT pg_temp.catalog_state() AS before \gset

-- unknown view
SELECT ivm.watch('nosuch');
SELECT ivm.drop_view('nosuch');
SELECT ivm.drop_view('t');
SELECT ivm.explain('t');
REFRESH MATERIALIZED VIEW t;
-- duplicate name
SELECT ivm.create_view('tv', $$SELECT 1$$);
SELECT ivm.create_view('t', $$SELECT 1$$);
CREATE MATERIALIZED VIEW tv WITH (ivm.incremental) AS SELECT 1;
CREATE MATERIALIZED VIEW IF NOT EXISTS tv WITH (ivm.incremental) AS SELECT 1;
-- volatile functions
SELECT ivm.create_view('r1', $$SELECT id, random() FROM t$$);
SELECT ivm.create_view('r2', $$SELECT id FROM t WHERE x > random() * 10$$);
SELECT ivm.create_view('r3', $$SELECT id, clock_timestamp() FROM t$$);
CREATE SEQUENCE seq;
SELECT ivm.create_view('r4', $$SELECT nextval('seq')$$);
CREATE MATERIALIZED VIEW r5 WITH (ivm.incremental) AS SELECT id FROM t WHERE EXISTS (SELECT 1 WHERE random() > 0.5);
-- queries that do not parse or are not one SELECT
SELECT ivm.create_view('q1', $$SELEC id FROM t$$);
SELECT ivm.create_view('q2', $$SELECT id FROM nosuch$$);
SELECT ivm.create_view('q3', $$SELECT 1; SELECT 2$$);
SELECT ivm.create_view('q4', $$DELETE FROM t RETURNING id$$);
SELECT ivm.create_view('q5', $$SELECT id FROM t FOR UPDATE$$);
SELECT ivm.create_view('q6', $$SELECT id AS __ivm_x FROM t$$);
-- sources that cannot be captured
CREATE TEMP TABLE tmp (a int);
SELECT ivm.create_view('s1', $$SELECT a FROM tmp$$);
CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
SELECT ivm.create_view('s2', $$SELECT id FROM mv$$);
SELECT ivm.create_view('s3', $$SELECT relname FROM pg_class$$);
SELECT ivm.create_view('s4', $$SELECT * FROM ivm._sources$$);
SELECT ivm.create_view('s5', $$SELECT last_value FROM seq$$);
-- bad names and options
SELECT ivm.create_view('nosuchschema.v', $$SELECT 1$$);
SELECT ivm.create_view('ivm.v', $$SELECT 1$$);
SELECT ivm.create_view('o1', $$SELECT 1$$, '{"mode": "fast"}');
SELECT ivm.create_view('o2', $$SELECT 1$$, '{"colour": "red"}');
SELECT ivm.create_view('o3', $$SELECT 1$$, '[1]');
SELECT ivm.create_view('o4', $$SELECT id, row_number() OVER (PARTITION BY id % 2 ORDER BY id) FROM t$$, '{"mode": "incremental"}');
SELECT ivm.create_view(NULL, $$SELECT 1$$);
CREATE MATERIALIZED VIEW o5 WITH (ivm.incremental, fillfactor = 50) AS SELECT 1;
-- dropping what a view reads
DROP TABLE t;
ALTER TABLE t DROP COLUMN x;
-- renaming a source or its columns is followed, not refused
ALTER TABLE t RENAME TO t2;
ALTER TABLE t2 RENAME COLUMN x TO x2;
INSERT INTO t2 VALUES (9, 90, 'z');
SELECT rows_in, views_processed FROM ivm.tick();
SELECT * FROM tv ORDER BY id;
DELETE FROM t2 WHERE id = 9;
SELECT rows_in, views_processed FROM ivm.tick();
ALTER TABLE t2 RENAME COLUMN x2 TO x;
ALTER TABLE t2 RENAME TO t;
SELECT query FROM ivm.views WHERE name = 'tv'::regclass;
-- writing to a view, or to its storage
INSERT INTO tv VALUES (3, 30);
UPDATE tv SET x = 0;
DELETE FROM tv;
SELECT storage AS tv_storage FROM ivm.views WHERE name = 'tv'::regclass \gset
INSERT INTO :tv_storage VALUES (3, 30);
TRUNCATE :tv_storage;
-- DROP MATERIALIZED VIEW mixing kinds
DROP MATERIALIZED VIEW tv, mv;
-- REFRESH ... WITH NO DATA
REFRESH MATERIALIZED VIEW tv WITH NO DATA;
-- someone else's view
CREATE ROLE ivm_errors_other;
SET ROLE ivm_errors_other;
REFRESH MATERIALIZED VIEW tv;
SELECT * FROM tv;
CREATE INDEX ON tv (id);
RESET ROLE;
DROP ROLE ivm_errors_other;

-- nothing above changed anything
SELECT pg_temp.catalog_state() = :'before' AS unchanged;
SELECT * FROM tv ORDER BY id;

DROP TABLE t CASCADE;
DROP SEQUENCE seq;

-- the utility hook runs for ROLLBACK too, after an error: it must not read
-- the catalog in the aborted transaction
BEGIN;
SELECT 1 / 0;
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT 1 / 0;
ROLLBACK TO SAVEPOINT s;
SELECT 'the transaction goes on' AS after_rollback_to;
COMMIT;
