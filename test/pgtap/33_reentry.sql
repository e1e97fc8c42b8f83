-- Re-entry (issue 22, attack X): a view's query runs as its owner while ivm
-- maintains views; code it calls must not tick, REFRESH, create a view,
-- watch or push.  A tick nested in a tick consumed the deltas committed
-- after the outer tick's snapshot; the outer tick's recompute of another
-- role's view then lost them for good.  Now such calls fail (42501) inside
-- the view that made them, which is quarantined; the other views are right.
BEGIN;
SET LOCAL client_min_messages = error;
SELECT plan(8);
\ir lib/views.psql

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE re_arm (what text);
CREATE TABLE re_m (k int);
INSERT INTO re_m VALUES (1);
CREATE TABLE re_b (g int, x int);
INSERT INTO re_b SELECT g % 3, g FROM generate_series(1, 30) g;
-- STABLE, so its view is computed at every tick; it calls back into ivm
CREATE FUNCTION re_f() RETURNS boolean LANGUAGE plpgsql STABLE AS $f$
DECLARE w text;
BEGIN
  SELECT what INTO w FROM public.re_arm;
  IF w = 'tick' THEN PERFORM ivm.tick();
  ELSIF w = 'refresh' THEN PERFORM ivm.refresh('re_victim');
  ELSIF w = 'create' THEN PERFORM ivm.create_view('re_new', 'SELECT k FROM public.re_m');
  END IF;
  RETURN true;
END $f$;
SELECT ivm.create_view('re_mv', 'SELECT k FROM re_m WHERE re_f()');
CREATE TEMP TABLE re_views (name text, query text);
INSERT INTO re_views VALUES ('re_victim', 'SELECT g, count(*) AS n, sum(x) AS s FROM re_b GROUP BY g');
SELECT ivm.create_view('re_victim', 'SELECT g, count(*) AS n, sum(x) AS s FROM re_b GROUP BY g', '{"mode": "diff"}');

INSERT INTO re_arm VALUES ('tick');
INSERT INTO re_b SELECT 1, g FROM generate_series(100, 109) g;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick whose view calls ivm.tick() goes on');
SELECT is((SELECT state || ' ' || error_sqlstate FROM ivm.views WHERE name = 're_mv'::regclass),
          'failed 42501', 'the view that ticked from its query is quarantined, with 42501');
SELECT is(pg_temp.wrong('re_views'), '', 'the other view took every delta');

UPDATE re_arm SET what = 'refresh';
INSERT INTO re_b SELECT 2, g FROM generate_series(200, 204) g;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick whose view calls ivm.refresh() goes on');
SELECT is(pg_temp.wrong('re_views'), '', 'the other view is right');

UPDATE re_arm SET what = 'create';
SELECT ivm.tick();
SELECT is((SELECT count(*)::int FROM pg_class WHERE relname = 're_new'), 0,
          'a view''s query cannot create a view');
UPDATE re_arm SET what = NULL;
SELECT ivm.tick();
SELECT is((SELECT state FROM ivm.views WHERE name = 're_mv'::regclass), 'ok',
          'disarmed, the view recovers at the next tick');

SELECT * FROM finish();
ROLLBACK;
