-- VALUES lists joined with tables (issue 22, coverage): a VALUES list of
-- constants is a relation that never changes, so it has no delta and stays
-- in every delta term as written: FROM t JOIN (VALUES ...) v(k, name) ON
-- ... has the delta rules of a filter of t, under an aggregate too, on
-- either side of an outer join.  A VALUES list over the columns of another
-- relation (LATERAL), or calling a function that is not immutable, keeps
-- the view diffed.  Each view is compared, as a multiset, with its query
-- run directly.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(9);
\ir lib/views.psql

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE vj_t (id int PRIMARY KEY, k int, v int);
CREATE TABLE vj_u (id int PRIMARY KEY, t_id int, w int);
INSERT INTO vj_t SELECT g, CASE WHEN g % 9 = 0 THEN NULL ELSE g % 5 END, (g * 7) % 40 FROM generate_series(1, 60) g;
INSERT INTO vj_u SELECT g, g % 70, g % 6 FROM generate_series(1, 80) g;

CREATE TEMP TABLE vj_views (name text, query text);
INSERT INTO vj_views VALUES
  ('vj_on',     'SELECT t.id, v.name, t.v FROM vj_t t JOIN (VALUES (1, ''one''), (2, ''two''), (2, ''deux''), (NULL, ''none'')) v(k, name) ON v.k = t.k WHERE t.v > 5'),
  ('vj_where',  'SELECT t.id, v.name, u.w FROM vj_t t, vj_u u, (VALUES (0, ''zero''), (3, ''three'')) v(k, name) WHERE u.t_id = t.id AND v.k = t.k'),
  ('vj_agg',    'SELECT v.name, count(*) AS n, sum(t.v) AS s, min(t.v) AS mn, max(t.id) AS mx FROM vj_t t JOIN (VALUES (1, ''odd''), (3, ''odd''), (2, ''even''), (4, ''even'')) v(k, name) ON v.k = t.k GROUP BY v.name'),
  ('vj_left',   'SELECT t.id, v.name FROM vj_t t LEFT JOIN (VALUES (1, ''one''), (4, ''four'')) v(k, name) ON v.k = t.k'),
  ('vj_right',  'SELECT v.name, t.id FROM (VALUES (1, ''one''), (4, ''four''), (7, ''seven'')) v(k, name) LEFT JOIN vj_t t ON t.k = v.k AND t.v > 30'),
  ('vj_lateral', 'SELECT t.id, x.y FROM vj_t t, LATERAL (VALUES (t.k), (t.v)) x(y)'),
  ('vj_stable', 'SELECT t.id, v.d FROM vj_t t JOIN (VALUES (1, now()::date)) v(k, d) ON v.k = t.k');
SELECT ivm.create_view(name, query) FROM vj_views;
SELECT is(pg_temp.wrong('vj_views'), '', 'after creation every view equals its query');
SELECT is((SELECT string_agg(name::text || ' ' || strategy, ', ' ORDER BY name::text) FROM ivm.views
            WHERE name::text LIKE 'vj\_%'),
          'vj_agg incremental, vj_lateral diff, vj_left incremental, vj_on incremental, vj_right incremental, vj_stable diff, vj_where incremental',
          'joins with constant VALUES lists have delta rules; a LATERAL or non-immutable one does not');
SELECT is((SELECT count(*)::int FROM ivm._deps d JOIN ivm._views v ON v.id = d.view_id
            WHERE v.viewrel::text = 'vj_on'), 1, 'the VALUES list is no source: vj_on reads vj_t alone');

INSERT INTO vj_t SELECT g, g % 6, (g * 3) % 40 FROM generate_series(61, 90) g;
UPDATE vj_t SET v = 0 WHERE id % 7 = 0;
UPDATE vj_t SET k = 4 WHERE id % 11 = 0;
DELETE FROM vj_t WHERE id % 5 = 0;
DELETE FROM vj_u WHERE id % 4 = 0;
SELECT lives_ok($$SET LOCAL ivm.fallback_ratio = 1000; SELECT ivm.tick()$$, 'a tick');
SELECT is(pg_temp.wrong('vj_views'), '', 'every view equals its query');
SELECT is((SELECT coalesce(string_agg(e.view::text || ' ' || e.strategy, ', ' ORDER BY e.view::text), '')
             FROM ivm.evidence e
            WHERE e.epoch = (SELECT max(epoch) FROM ivm.evidence) AND e.strategy <> 'incremental'
              AND e.view::text NOT IN ('vj_lateral', 'vj_stable')),
          '', 'the tick maintained the joins with VALUES lists by delta rules');
DELETE FROM vj_t;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick that empties the table');
SELECT is(pg_temp.wrong('vj_views'), '', 'every view equals its query (the outer join keeps the VALUES rows)');

SELECT * FROM finish();
ROLLBACK;
