-- The life of an incremental view through DDL: CREATE/DROP/REFRESH
-- MATERIALIZED VIEW, ivm.drop_view, DROP ... CASCADE, DROP SCHEMA, DROP
-- OWNED, ALTER TABLE, partitioned sources.  Nothing may be left behind and
-- every surviving view must equal its query after a tick (SPEC.md section 2
-- "Declaring views").
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(75);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

-- no orphans: every storage and log table in schema ivm belongs to a view or a source
CREATE FUNCTION pg_temp.no_orphans(label text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
BEGIN
    RETURN NEXT set_eq(
        $q$SELECT c.oid FROM pg_class c
           WHERE c.relnamespace = 'ivm'::regnamespace AND c.relkind = 'r'
             AND c.relname NOT IN ('_state', '_views', '_sources', '_deps', '_truncated',
                                   '_evidence', '_watches', '_changes', '_counters', '_seen',
                                   '_view_errors')$q$,
        $q$SELECT storage::oid FROM ivm.views UNION ALL SELECT log::oid FROM ivm.sources WHERE log IS NOT NULL
           UNION ALL SELECT loghalf::oid FROM ivm._sources WHERE loghalf IS NOT NULL$q$,
        label || ': every table in schema ivm is the storage of a view or the log of a source');
    RETURN NEXT is((SELECT count(*)::int FROM ivm.dependencies d
                    WHERE NOT EXISTS (SELECT 1 FROM ivm.views v WHERE v.name = d.view)
                       OR NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = d.source)), 0,
                   label || ': every dependency joins a live view and a live relation');
    RETURN NEXT is((SELECT count(*)::int FROM pg_trigger t
                    WHERE t.tgfoid = 'ivm._capture()'::regprocedure
                      AND NOT EXISTS (SELECT 1 FROM ivm._sources s
                                      WHERE substring(t.tgname from '^ivm_capture_([0-9]+)_')::int = s.id)), 0,
                   label || ': every capture trigger feeds the log of a live source');
END
$f$;

CREATE TABLE d_t (k int, x int);
INSERT INTO d_t VALUES (1, 1), (1, 2), (2, 3);

-- CREATE MATERIALIZED VIEW ... WITH (ivm.incremental)
SELECT lives_ok($$CREATE MATERIALIZED VIEW d_mv WITH (ivm.incremental) AS
                  SELECT k, sum(x) AS s FROM d_t GROUP BY k$$,
                'CREATE MATERIALIZED VIEW ... WITH (ivm.incremental) AS ...');
SELECT ok(EXISTS (SELECT 1 FROM ivm.views WHERE name = 'd_mv'::regclass), 'd_mv is in ivm.views');
SELECT is((SELECT relkind::text FROM pg_class WHERE oid = 'd_mv'::regclass), 'v',
          'd_mv is a view (psql \dv lists it)');
SELECT bag_eq('SELECT * FROM d_mv', 'SELECT k, sum(x) AS s FROM d_t GROUP BY k', 'd_mv is filled at creation');
SELECT lives_ok($$CREATE MATERIALIZED VIEW d_bare WITH (incremental) AS SELECT k FROM d_t$$,
                'the bare option WITH (incremental) is accepted');
SELECT lives_ok($$CREATE MATERIALIZED VIEW d_cols (kk, ss) WITH (ivm.incremental) AS
                  SELECT k, sum(x) FROM d_t GROUP BY k$$,
                'CREATE MATERIALIZED VIEW with a column list');
SELECT columns_are('public', 'd_cols', ARRAY['kk', 'ss'], 'the column list names the view''s columns');
SELECT lives_ok($$CREATE MATERIALIZED VIEW d_nodata WITH (ivm.incremental) AS SELECT k, x FROM d_t WITH NO DATA$$,
                'CREATE MATERIALIZED VIEW ... WITH NO DATA');
SELECT is((SELECT count(*)::int FROM d_nodata), 0, 'WITH NO DATA: the view is empty');
SELECT is((SELECT state FROM ivm.views WHERE name = 'd_nodata'::regclass), 'unpopulated',
          'WITH NO DATA: ivm.views says unpopulated');
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick');
SELECT bag_eq('SELECT * FROM d_nodata', 'SELECT k, x FROM d_t', 'WITH NO DATA: the next tick fills the view');
SELECT is((SELECT state FROM ivm.views WHERE name = 'd_nodata'::regclass), 'ok', 'and its state is ok');
SELECT lives_ok($$CREATE INDEX d_mv_k ON d_mv (k)$$, 'CREATE INDEX on an incremental view');
SELECT ok(EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                  WHERE c.relname = 'd_mv_k'
                    AND i.indrelid = (SELECT storage FROM ivm.views WHERE name = 'd_mv'::regclass)),
          'the index is built on the view''s storage');

-- names: schema-qualified and quoted
CREATE SCHEMA d_s;
SELECT lives_ok($$SELECT ivm.create_view('d_s."Mixed Case"', 'SELECT k FROM public.d_t WHERE x > 1')$$,
                'create_view with a schema-qualified, quoted name');
SELECT bag_eq('SELECT * FROM d_s."Mixed Case"', 'SELECT k FROM d_t WHERE x > 1',
              'd_s."Mixed Case" equals its query');

-- a chain of three views
SELECT lives_ok($$SELECT ivm.create_view('d_c1', 'SELECT k, x FROM d_t')$$, 'd_c1 on d_t');
SELECT lives_ok($$SELECT ivm.create_view('d_c2', 'SELECT k, count(*) AS n FROM d_c1 GROUP BY k')$$, 'd_c2 on d_c1');
SELECT lives_ok($$SELECT ivm.create_view('d_c3', 'SELECT sum(n) AS total FROM d_c2')$$, 'd_c3 on d_c2');
INSERT INTO d_t VALUES (3, 30), (1, 10);
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick');
SELECT bag_eq('SELECT * FROM d_c3', 'SELECT count(*) AS total FROM d_t',
              'the third view of a chain is up to date after one tick');
SELECT * FROM pg_temp.no_orphans('after creating views');

-- a view reading an ordinary view over a table: the table is captured
CREATE VIEW d_plain AS SELECT k, x FROM d_t WHERE x > 1;
SELECT lives_ok($$SELECT ivm.create_view('d_onplain', 'SELECT k, sum(x) AS s FROM d_plain GROUP BY k')$$,
                'an incremental view over an ordinary view');
SELECT set_eq($$SELECT source::text FROM ivm.dependencies WHERE view = 'd_onplain'::regclass$$,
              $$VALUES ('d_t')$$, 'its dependency is the table under the ordinary view');
INSERT INTO d_t VALUES (7, 70);
UPDATE d_t SET x = x + 1 WHERE k = 1;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick');
SELECT bag_eq('SELECT * FROM d_onplain', 'SELECT k, sum(x) AS s FROM d_plain GROUP BY k',
              'the view over an ordinary view equals its query');

-- dropping
SELECT lives_ok($$DROP MATERIALIZED VIEW d_bare$$, 'DROP MATERIALIZED VIEW of an incremental view');
SELECT ok(NOT EXISTS (SELECT 1 FROM ivm.views WHERE name::text = 'd_bare'), 'd_bare is gone from ivm.views');
SELECT lives_ok($$SELECT ivm.drop_view('d_cols')$$, 'ivm.drop_view');
SELECT lives_ok($$DROP VIEW d_nodata$$, 'DROP VIEW of an incremental view');
SELECT lives_ok($$SELECT ivm.drop_view('d_c2', true)$$, 'ivm.drop_view(..., cascade => true)');
SELECT is((SELECT count(*)::int FROM ivm.views WHERE name::text IN ('d_c2', 'd_c3')), 0,
          'drop_view with cascade drops the views that read it');
SELECT ok(to_regclass('d_c3') IS NULL, 'the dependent view itself is gone');
SELECT * FROM pg_temp.no_orphans('after dropping views');

-- DROP TABLE ... CASCADE drops the views and the capture
CREATE TABLE d_gone (a int);
SELECT lives_ok($$SELECT ivm.create_view('d_gone_v', 'SELECT a FROM d_gone')$$, 'a view on d_gone');
SELECT lives_ok($$DROP TABLE d_gone CASCADE$$, 'DROP TABLE ... CASCADE of a source');
SELECT ok(NOT EXISTS (SELECT 1 FROM ivm.views WHERE name::text = 'd_gone_v'), 'its view is gone from ivm.views');
SELECT * FROM pg_temp.no_orphans('after DROP TABLE CASCADE');

-- ALTER TABLE DROP COLUMN ... CASCADE
CREATE TABLE d_cols_t (a int, b int);
SELECT lives_ok($$SELECT ivm.create_view('d_cols_v', 'SELECT a, b FROM d_cols_t')$$, 'a view reading d_cols_t.b');
SELECT lives_ok($$ALTER TABLE d_cols_t DROP COLUMN b CASCADE$$, 'ALTER TABLE DROP COLUMN ... CASCADE');
SELECT ok(NOT EXISTS (SELECT 1 FROM ivm.views WHERE name::text = 'd_cols_v'), 'the view is gone');

-- DROP SCHEMA ... CASCADE and DROP OWNED
CREATE SCHEMA d_gone_s;
CREATE TABLE d_gone_s.t (a int);
SELECT lives_ok($$SELECT ivm.create_view('d_gone_s.v', 'SELECT a FROM d_gone_s.t')$$, 'a view in schema d_gone_s');
SELECT lives_ok($$DROP SCHEMA d_gone_s CASCADE$$, 'DROP SCHEMA ... CASCADE');
CREATE ROLE ivm_tap_owner;
GRANT CREATE ON SCHEMA public TO ivm_tap_owner;
SET LOCAL ROLE ivm_tap_owner;
CREATE TABLE d_owned (a int);
SELECT lives_ok($$SELECT ivm.create_view('d_owned_v', 'SELECT a FROM d_owned')$$, 'a role creates a view of its own');
RESET ROLE;
SELECT lives_ok($$DROP OWNED BY ivm_tap_owner$$, 'DROP OWNED BY the owner of a view and its table');
SELECT is((SELECT count(*)::int FROM ivm.views WHERE name::text IN ('d_owned_v', 'd_gone_s.v')), 0,
          'views dropped by DROP SCHEMA and DROP OWNED are gone');
SELECT * FROM pg_temp.no_orphans('after DROP SCHEMA and DROP OWNED');

-- partitioned sources: partitions made or attached after the view count too
CREATE TABLE d_p (k int, x int) PARTITION BY RANGE (k);
CREATE TABLE d_p1 PARTITION OF d_p FOR VALUES FROM (0) TO (10);
INSERT INTO d_p VALUES (1, 1), (5, 5);
SELECT lives_ok($$SELECT ivm.create_view('d_pv', 'SELECT k, x FROM d_p')$$, 'a view on a partitioned table');
INSERT INTO d_p VALUES (2, 2);
INSERT INTO d_p1 VALUES (3, 3);
SELECT is((SELECT rows_in FROM ivm.tick()), 2::bigint,
          'writes through the partitioned table and into a partition are captured once each');
SELECT bag_eq('SELECT * FROM d_pv', 'SELECT k, x FROM d_p', 'the view over a partitioned table equals its query');
CREATE TABLE d_p2 PARTITION OF d_p FOR VALUES FROM (10) TO (20);
INSERT INTO d_p2 VALUES (12, 12);
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick after a write into a partition created after the view');
SELECT bag_eq('SELECT * FROM d_pv', 'SELECT k, x FROM d_p',
              'a write into a partition created after the view reaches the view');
CREATE TABLE d_p3 (k int, x int);
INSERT INTO d_p3 VALUES (25, 25);
ALTER TABLE d_p ATTACH PARTITION d_p3 FOR VALUES FROM (20) TO (30);
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick after ATTACH PARTITION');
SELECT bag_eq('SELECT * FROM d_pv', 'SELECT k, x FROM d_p',
              'the rows of an attached partition reach the view');
ALTER TABLE d_p DETACH PARTITION d_p1;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick after DETACH PARTITION');
SELECT bag_eq('SELECT * FROM d_pv', 'SELECT k, x FROM d_p',
              'the rows of a detached partition leave the view');
INSERT INTO d_p1 VALUES (6, 6);
SELECT is((SELECT rows_in FROM ivm.tick()), 0::bigint,
          'a write into a detached partition is no longer captured: rows_in 0');
SELECT bag_eq('SELECT * FROM d_pv', 'SELECT k, x FROM d_p',
              'the view still equals its query');

-- ALTER TABLE on a source: the view keeps working, as an ordinary view does
CREATE TABLE d_alt (k int, x int);
INSERT INTO d_alt VALUES (1, 1);
SELECT lives_ok($$SELECT ivm.create_view('d_alt_v', 'SELECT k, sum(x) AS s FROM d_alt GROUP BY k')$$, 'a view on d_alt');
ALTER TABLE d_alt ADD COLUMN extra text DEFAULT 'e';
INSERT INTO d_alt VALUES (1, 2, 'f'), (2, 5, 'g');
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick after ADD COLUMN');
SELECT bag_eq('SELECT * FROM d_alt_v', 'SELECT k, sum(x) AS s FROM d_alt GROUP BY k',
              'after ADD COLUMN the view equals its query');
ALTER TABLE d_alt RENAME COLUMN x TO x2;
INSERT INTO d_alt VALUES (3, 7);
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick after RENAME COLUMN of a column the view reads');
SELECT bag_eq('SELECT * FROM d_alt_v', 'SELECT k, sum(x2) AS s FROM d_alt GROUP BY k',
              'after RENAME COLUMN the view equals its query');
ALTER TABLE d_alt RENAME TO d_alt2;
INSERT INTO d_alt2 VALUES (4, 8);
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick after RENAME of a source table');
SELECT bag_eq('SELECT * FROM d_alt_v', 'SELECT k, sum(x2) AS s FROM d_alt2 GROUP BY k',
              'after RENAME TO the view equals its query');

SELECT * FROM finish();
ROLLBACK;
