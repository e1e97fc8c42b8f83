-- Views whose query calls a function that is not immutable (issue 22): such
-- a function may read a table ivm does not capture, or the clock, so the
-- view's result can change while none of its sources does.  Such a view is
-- computed again at every tick (options "every_tick"), whether the function
-- is in its query or in a plain view its query reads; it is never left
-- stale.  A view with immutable functions only is still skipped by a tick
-- in which nothing it reads changed.  Each view is compared, as a multiset,
-- with its query run directly.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(12);
\ir lib/views.psql

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE et_t (id int PRIMARY KEY, x numeric NOT NULL);
INSERT INTO et_t SELECT g, g FROM generate_series(1, 50) g;
-- not read by any view's FROM: never captured
CREATE TABLE et_rate (r numeric NOT NULL);
INSERT INTO et_rate VALUES (2);
CREATE FUNCTION et_rate() RETURNS numeric STABLE LANGUAGE sql AS $$SELECT r FROM public.et_rate$$;
CREATE FUNCTION et_double(numeric) RETURNS numeric IMMUTABLE LANGUAGE sql AS $$SELECT $1 * 2$$;
CREATE VIEW et_plain AS SELECT id, x * et_rate() AS y FROM et_t;

CREATE TEMP TABLE et_views (name text, query text);
INSERT INTO et_views VALUES
  ('et_direct', 'SELECT id, x * et_rate() AS y FROM et_t'),
  ('et_agg',    'SELECT count(*) AS n, sum(x) * et_rate() AS s FROM et_t'),
  ('et_over',   'SELECT id, y FROM et_plain WHERE id % 2 = 0'),
  ('et_pure',   'SELECT id, et_double(x) AS y FROM et_t');
SELECT ivm.create_view(name, query) FROM et_views;
SELECT is(pg_temp.wrong('et_views'), '', 'after creation every view equals its query');

SELECT is((SELECT string_agg(v.viewrel::text, ', ' ORDER BY v.viewrel::text)
             FROM ivm._views v WHERE (v.options ->> 'every_tick')::bool),
          'et_agg, et_direct, et_over',
          'the views calling a STABLE function, directly or through a plain view, are marked every_tick; the immutable one is not');

-- a change no source sees
UPDATE et_rate SET r = 3;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick with no captured change');
SELECT is(pg_temp.wrong('et_views'), '', 'the marked views followed the uncaptured table');
SELECT is((SELECT string_agg(e.view::text, ', ' ORDER BY e.view::text) FROM ivm.evidence e
            WHERE e.epoch = (SELECT max(epoch) FROM ivm.evidence)),
          'et_agg, et_direct, et_over',
          'that tick maintained the marked views and skipped the immutable one');

UPDATE et_rate SET r = 5;
INSERT INTO et_t VALUES (51, 51);
DELETE FROM et_t WHERE id = 2;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick with both kinds of change');
SELECT is(pg_temp.wrong('et_views'), '', 'every view equals its query');

-- a view on a marked view follows it
SELECT ivm.create_view('et_top', 'SELECT count(*) AS n, max(y) AS m FROM et_direct');
INSERT INTO et_views VALUES ('et_top', 'SELECT count(*) AS n, max(y) AS m FROM et_direct');
UPDATE et_rate SET r = 7;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick after another uncaptured change');
SELECT is(pg_temp.wrong('et_views'), '', 'the view on a marked view followed it');

-- REFRESH and the every_tick option survive; a plain view changed to call
-- an immutable function does not unmark a view (it is decided at creation)
SELECT lives_ok($$REFRESH MATERIALIZED VIEW et_direct$$, 'REFRESH of a marked view');
SELECT is(pg_temp.wrong('et_views'), '', 'after REFRESH every view equals its query');

SELECT * FROM finish();
ROLLBACK;
