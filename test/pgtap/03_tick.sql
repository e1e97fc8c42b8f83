-- Ticks: after writes and ivm.tick() every view equals its query as a
-- multiset; the counters of ivm.tick() say what was consumed, emitted,
-- processed and skipped; rolled-back writes and rolled-back ticks leave no
-- trace (SPEC.md sections 1, 2 "Ticks" and 3).
BEGIN;
SELECT plan(96);
-- the tables are tiny: keep delta rules on instead of the fallback to recompute
SET LOCAL ivm.fallback_ratio = 1000000;

CREATE TABLE a (id serial PRIMARY KEY, k int, x int);
CREATE TABLE b (k int, y text);
INSERT INTO a (k, x) VALUES (1, 10), (1, 20), (2, 5), (3, NULL), (NULL, 7);
INSERT INTO b VALUES (1, 'one'), (2, 'two'), (2, 'deux'), (4, 'four');

-- the counts of views processed and skipped below assume no other view
SELECT is((SELECT count(*)::int FROM ivm.views), 0, 'the database has no incremental view yet');
SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

SELECT lives_ok($$SELECT ivm.create_view('t_agg', 'SELECT k, count(*) AS n, sum(x) AS s FROM a GROUP BY k')$$,
                'create t_agg (GROUP BY)');
SELECT lives_ok($$SELECT ivm.create_view('t_join', 'SELECT a.k, a.x, b.y FROM a JOIN b ON a.k = b.k')$$,
                'create t_join (join of a and b)');
SELECT lives_ok($$SELECT ivm.create_view('t_dup', 'SELECT k FROM a')$$,
                'create t_dup (a projection with duplicates and NULLs)');
SELECT lives_ok($$SELECT ivm.create_view('t_top', 'SELECT k, n FROM t_agg WHERE n > 1')$$,
                'create t_top (a view on t_agg)');
SELECT lives_ok($$SELECT ivm.create_view('t_b', 'SELECT DISTINCT k FROM b')$$,
                'create t_b (DISTINCT over b)');

-- each view against its query, as a multiset
CREATE FUNCTION pg_temp.views_match(label text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
BEGIN
    RETURN NEXT bag_eq('SELECT * FROM t_agg',
                       'SELECT k, count(*) AS n, sum(x) AS s FROM a GROUP BY k',
                       label || ': t_agg equals its query');
    RETURN NEXT bag_eq('SELECT * FROM t_join',
                       'SELECT a.k, a.x, b.y FROM a JOIN b ON a.k = b.k',
                       label || ': t_join equals its query');
    RETURN NEXT bag_eq('SELECT * FROM t_dup', 'SELECT k FROM a',
                       label || ': t_dup equals its query');
    RETURN NEXT bag_eq('SELECT * FROM t_top',
                       'SELECT k, n FROM (SELECT k, count(*) AS n FROM a GROUP BY k) g WHERE n > 1',
                       label || ': t_top equals its query over the base table');
    RETURN NEXT bag_eq('SELECT * FROM t_b', 'SELECT DISTINCT k FROM b',
                       label || ': t_b equals its query');
END
$f$;

-- one tick; returns (rows_in,rows_out,views_processed,views_skipped,views_recomputed)
CREATE TEMP TABLE ticks AS SELECT * FROM ivm.tick() WITH NO DATA;
CREATE FUNCTION pg_temp.tick() RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    r record;
BEGIN
    INSERT INTO ticks SELECT * FROM ivm.tick() RETURNING * INTO r;
    RETURN format('(%s,%s,%s,%s,%s)', r.rows_in, r.rows_out, r.views_processed,
                  r.views_skipped, r.views_recomputed);
END
$f$;
-- the same, returning (rows_in,rows_out), or rows_in
CREATE FUNCTION pg_temp.tick_io() RETURNS text LANGUAGE sql AS $f$
    SELECT regexp_replace(pg_temp.tick(), '^\((\d+),(\d+),.*$', '(\1,\2)')
$f$;
CREATE FUNCTION pg_temp.tick_in() RETURNS bigint LANGUAGE sql AS $f$
    SELECT substring(pg_temp.tick() FROM '^\((\d+),')::bigint
$f$;

SELECT * FROM pg_temp.views_match('after create');
SELECT columns_are('public', 't_agg', ARRAY['k', 'n', 's'],
                   'SELECT * FROM t_agg shows exactly the query''s columns');
SELECT is((SELECT level FROM ivm.views WHERE name = 't_top'::regclass), 1,
          't_top is one level above the tables');

SELECT is(pg_temp.tick(), '(0,0,0,5,0)',
          'a tick with nothing written: rows_in 0, nothing processed, all 5 views skipped');

-- writes to a: 3 inserts, an update of 2 rows (4 delta rows), a delete
INSERT INTO a (k, x) VALUES (2, 1), (4, 4), (1, NULL);
UPDATE a SET x = x + 1 WHERE k = 2;
DELETE FROM a WHERE k IS NULL;
SELECT bag_ne('SELECT * FROM t_agg', 'SELECT k, count(*) AS n, sum(x) AS s FROM a GROUP BY k',
              'before the tick, t_agg still shows the previous epoch');
-- t_agg: -(1,2,30) +(1,3,30) -(2,1,5) +(2,2,8) -(NULL,1,7) +(4,1,4)      6 rows
-- t_join: +(1,NULL,one) -(2,5,two) -(2,5,deux) +(2,6,two) +(2,6,deux)
--         +(2,2,two) +(2,2,deux) +(4,4,four)                                8 rows
-- t_dup: -NULL +4 +2 +1                                                     4 rows
-- t_top: -(1,2) +(1,3) +(2,2)                                               3 rows
SELECT is(pg_temp.tick(), '(8,21,4,1,0)',
          'writes to a: 8 delta rows in, 21 out, 4 views processed (t_top in the same tick), t_b skipped');
SELECT * FROM pg_temp.views_match('after writes to a');

-- a write to b only
INSERT INTO b VALUES (4, 'vier');
SELECT is(pg_temp.tick(), '(1,1,2,3,0)',
          'a write to b: t_join and t_b processed, t_b emits nothing, the 3 views over a alone skipped');
SELECT * FROM pg_temp.views_match('after a write to b');

-- an update that changes nothing any view shows
UPDATE a SET x = x WHERE k = 1;
SELECT is(pg_temp.tick_io(), '(6,0)',
          'an update that changes no view result: 6 delta rows in, 0 out');
SELECT * FROM pg_temp.views_match('after a no-op update');

-- a row inserted and deleted before the tick
INSERT INTO a (k, x) VALUES (9, 9);
DELETE FROM a WHERE k = 9;
SELECT is(pg_temp.tick_io(), '(2,0)',
          'insert then delete of one row: 2 delta rows in, 0 out');

-- rolled-back writes leave no delta
SAVEPOINT s1;
INSERT INTO a (k, x) VALUES (7, 70), (7, 71);
UPDATE b SET y = upper(y);
DELETE FROM a WHERE k = 1;
ROLLBACK TO SAVEPOINT s1;
SELECT is(pg_temp.tick(), '(0,0,0,5,0)',
          'writes rolled back to a savepoint: rows_in 0, every view skipped');
SELECT * FROM pg_temp.views_match('after rolled-back writes');

-- a subtransaction that is released counts
SAVEPOINT s2;
INSERT INTO a (k, x) VALUES (5, 50);
RELEASE SAVEPOINT s2;
SELECT is(pg_temp.tick(), '(1,2,4,1,0)',
          'a released savepoint''s insert: rows_in 1; t_agg and t_dup change, t_join and t_top see their input change but emit nothing');

-- only the rolled-back part of a partly rolled-back transaction disappears
INSERT INTO a (k, x) VALUES (6, 60);
SAVEPOINT s3;
INSERT INTO a (k, x) VALUES (6, 61);
ROLLBACK TO SAVEPOINT s3;
SELECT is(pg_temp.tick_in(), 1::bigint,
          'a write kept and a write rolled back: rows_in 1');
SELECT * FROM pg_temp.views_match('after a partly rolled-back transaction');

-- a tick that is rolled back: its deltas stay for the next tick
INSERT INTO a (k, x) VALUES (1, 100);
SAVEPOINT s4;
SELECT is(pg_temp.tick_in(), 1::bigint,
          'the tick to be rolled back consumes the insert');
SELECT bag_eq('SELECT * FROM t_agg', 'SELECT k, count(*) AS n, sum(x) AS s FROM a GROUP BY k',
              'inside the tick''s (sub)transaction t_agg is up to date');
ROLLBACK TO SAVEPOINT s4;
SELECT bag_ne('SELECT * FROM t_agg', 'SELECT k, count(*) AS n, sum(x) AS s FROM a GROUP BY k',
              'after rolling the tick back, t_agg shows the previous epoch again');
SELECT is(pg_temp.tick_in(), 1::bigint,
          'the next tick consumes the insert again: rows_in 1');
SELECT * FROM pg_temp.views_match('after a rolled-back tick and its retry');
SELECT is(pg_temp.tick_in(), 0::bigint,
          'and it was consumed once: the tick after that has rows_in 0');

-- epochs advance by one per tick
SELECT is((SELECT epoch FROM ivm.tick()), (SELECT max(epoch) + 1 FROM ticks),
          'a tick''s epoch is the previous tick''s plus one');
SELECT is((SELECT epoch FROM ivm.tick()), (SELECT max(epoch) + 2 FROM ticks),
          'and the next one''s is one more');

-- introspection after the ticks
SELECT results_eq(
    $$SELECT name::text, rows FROM ivm.views WHERE name::text LIKE 't\_%' ORDER BY 1$$,
    $$SELECT 't_agg', (SELECT count(*) FROM t_agg) UNION ALL
      SELECT 't_b', (SELECT count(*) FROM t_b) UNION ALL
      SELECT 't_dup', (SELECT count(*) FROM t_dup) UNION ALL
      SELECT 't_join', (SELECT count(*) FROM t_join) UNION ALL
      SELECT 't_top', (SELECT count(*) FROM t_top)$$,
    'ivm.views.rows is the number of rows of each view');
SELECT is((SELECT last_epoch FROM ivm.views WHERE name = 't_agg'::regclass),
          (SELECT max(epoch) FROM ticks WHERE rows_in > 0),
          'ivm.views.last_epoch of t_agg is the last tick that brought it a delta');
SELECT is((SELECT array_agg(DISTINCT state) FROM ivm.views WHERE name::text LIKE 't\_%'), ARRAY['ok'],
          'every view is in state ok');
SELECT set_eq(
    $$SELECT view::text, source::text FROM ivm.dependencies WHERE view::text LIKE 't\_%'$$,
    $$VALUES ('t_agg', 'a'), ('t_join', 'a'), ('t_join', 'b'), ('t_dup', 'a'), ('t_top', 't_agg'), ('t_b', 'b')$$,
    'ivm.dependencies lists the DAG edges');
SELECT set_eq(
    $$SELECT source::text FROM ivm.sources$$,
    $$VALUES ('a'), ('b'), ('t_agg')$$,
    'ivm.sources lists the tables read and the view read by another view');
SELECT set_eq(
    $$SELECT view, delta_out FROM ivm.evidence WHERE epoch = (SELECT max(epoch) FROM ticks WHERE rows_in > 0)$$,
    $$VALUES ('t_agg', 2::bigint), ('t_dup', 1::bigint), ('t_join', 1::bigint), ('t_top', 2::bigint)$$,
    'ivm.evidence has one record per view processed in a tick, with its emitted rows');
SELECT is((SELECT view_rows FROM ivm.evidence
           WHERE epoch = (SELECT max(epoch) FROM ticks WHERE rows_in > 0) AND view = 't_agg'),
          (SELECT count(*) FROM t_agg), 'ivm.evidence.view_rows is the view''s size after the tick');
SELECT matches(ivm.explain('t_agg'), 'strateg', 'ivm.explain says which strategy maintains the view');

-- TRUNCATE of a source
TRUNCATE b;
SELECT lives_ok($$SELECT pg_temp.tick()$$, 'a tick after TRUNCATE b');
SELECT * FROM pg_temp.views_match('after TRUNCATE b');
SELECT is((SELECT count(*)::int FROM t_join), 0, 't_join is empty after TRUNCATE b');
INSERT INTO b VALUES (1, 'eins');
SELECT is(pg_temp.tick_in(), 1::bigint,
          'writes after a TRUNCATE are captured as before');
SELECT bag_eq('SELECT * FROM t_join', 'SELECT a.k, a.x, b.y FROM a JOIN b ON a.k = b.k',
              'after TRUNCATE and an insert, t_join equals its query');

-- ivm.full_recompute: every processed view is recomputed
SET LOCAL ivm.full_recompute = on;
INSERT INTO a (k, x) VALUES (2, 2);
SELECT is((SELECT views_recomputed = views_processed AND views_processed > 0
           FROM (SELECT * FROM ivm.tick()) t), true,
          'with ivm.full_recompute = on, views_recomputed = views_processed');
RESET ivm.full_recompute;
SELECT bag_eq('SELECT * FROM t_agg', 'SELECT k, count(*) AS n, sum(x) AS s FROM a GROUP BY k',
              'after a full recompute t_agg equals its query');

-- REFRESH: a recompute of one view, pending deltas consumed too
INSERT INTO a (k, x) VALUES (3, 3);
SELECT lives_ok($$REFRESH MATERIALIZED VIEW t_agg$$, 'REFRESH MATERIALIZED VIEW of an incremental view');
SELECT bag_eq('SELECT * FROM t_agg', 'SELECT k, count(*) AS n, sum(x) AS s FROM a GROUP BY k',
              'after REFRESH t_agg equals its query');
SELECT lives_ok($$SELECT ivm.refresh('t_dup')$$, 'ivm.refresh()');
SELECT is(pg_temp.tick_in(), 0::bigint,
          'REFRESH consumed the pending delta: the next tick has rows_in 0');
SELECT * FROM pg_temp.views_match('after REFRESH');

-- a view whose query fails, with ivm.on_error = abort: the tick fails, names
-- the view, and loses nothing (the default, quarantine, is tested in 08_security)
SET LOCAL ivm.on_error = abort;
CREATE TABLE z (x int);
CREATE TABLE z2 (y int);
INSERT INTO z VALUES (1);
SELECT lives_ok($$SELECT ivm.create_view('t_zdiv', 'SELECT 10 / x AS q FROM z')$$, 'create t_zdiv');
SELECT lives_ok($$SELECT ivm.create_view('t_zok', 'SELECT y FROM z2')$$, 'create t_zok');
INSERT INTO z VALUES (0);
INSERT INTO z2 VALUES (5);
SELECT throws_ok($$SELECT ivm.tick()$$, '22012', NULL, 'a tick whose view divides by zero fails with the query''s error');
CREATE FUNCTION pg_temp.error_text(stmt text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    m text;
    d text;
    c text;
BEGIN
    EXECUTE stmt;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, c = PG_EXCEPTION_CONTEXT;
    RETURN concat_ws(E'\n', m, d, c);
END
$f$;
SELECT matches(pg_temp.error_text('SELECT ivm.tick()'), 't_zdiv', 'the error names the failing view');
SELECT is((SELECT count(*)::int FROM t_zok), 0, 'the failed tick changed no view');
DELETE FROM z WHERE x = 0;
SELECT is(pg_temp.tick_io(), '(3,1)',
          'once the data is fixed, the next tick consumes all 3 delta rows (none lost) and emits 1');
RESET ivm.on_error;
SELECT bag_eq('SELECT * FROM t_zok', 'SELECT y FROM z2', 't_zok equals its query');
SELECT bag_eq('SELECT * FROM t_zdiv', 'SELECT 10 / x AS q FROM z', 't_zdiv equals its query');

SELECT * FROM finish();
ROLLBACK;
