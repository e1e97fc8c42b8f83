-- GROUPING SETS, ROLLUP and CUBE (issue 22, coverage): declared as the
-- UNION ALL of one GROUP BY per grouping set, the grouped columns a set
-- leaves out NULL outside the aggregates and GROUPING() a constant per
-- set; each branch an aggregate with delta rules of its own (a hidden
-- view).  The empty set returns its row over no rows too.  With ORDER BY
-- the view is diffed.  Each view is compared, as a multiset, with its
-- query run directly (as written, with its grouping sets).
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(9);
\ir lib/views.psql

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE gs_t (id int PRIMARY KEY, a int, b text, v int);
INSERT INTO gs_t SELECT g, CASE WHEN g % 11 = 0 THEN NULL ELSE g % 3 END,
       (ARRAY['p', 'q', NULL])[g % 3 + 1], (g * 7) % 20
  FROM generate_series(1, 40) g;

CREATE TEMP TABLE gs_views (name text, query text);
INSERT INTO gs_views VALUES
  ('gs_rollup',  'SELECT a, b, count(*) AS n, sum(v) AS s, grouping(a, b) AS g FROM gs_t GROUP BY ROLLUP (a, b)'),
  ('gs_cube',    'SELECT a, b, count(*) AS n, max(v) AS mx, min(v) AS mn FROM gs_t GROUP BY CUBE (a, b) HAVING count(*) > 2'),
  ('gs_sets',    'SELECT a + 1 AS a1, coalesce(b, ''-'') AS b, min(v) AS mn, sum(a) AS sa, grouping(b) AS gb FROM gs_t GROUP BY GROUPING SETS ((a, b), (a), (a), ())'),
  ('gs_mixed',   'SELECT a, count(*) AS n, avg(v) AS av FROM gs_t WHERE v > 3 GROUP BY a, ROLLUP (b)'),
  ('gs_ordered', 'SELECT a, count(*) AS n FROM gs_t GROUP BY ROLLUP (a) ORDER BY a NULLS FIRST LIMIT 3');
SELECT ivm.create_view(name, query) FROM gs_views;
SELECT is(pg_temp.wrong('gs_views'), '', 'after creation every view equals its query');
SELECT is((SELECT string_agg(name::text || ' ' || strategy, ', ' ORDER BY name::text) FROM ivm.views
            WHERE name::text LIKE 'gs\_%'),
          'gs_cube incremental, gs_mixed incremental, gs_ordered diff, gs_rollup incremental, gs_sets incremental',
          'grouping sets have delta rules; under ORDER BY ... LIMIT, diff');
SELECT is((SELECT count(*)::int FROM ivm.hidden_views h WHERE h.parent = 'gs_rollup'::regclass), 3,
          'a ROLLUP of two columns keeps its three groupings as hidden views');

INSERT INTO gs_t SELECT g, g % 4, (ARRAY['p', 'r', NULL])[g % 3 + 1], (g * 3) % 25 FROM generate_series(41, 70) g;
DELETE FROM gs_t WHERE id % 4 = 0;
UPDATE gs_t SET a = NULL WHERE id % 7 = 0;
UPDATE gs_t SET v = v + 30 WHERE id % 5 = 0;
SELECT lives_ok($$SET LOCAL ivm.fallback_ratio = 1000; SELECT ivm.tick()$$, 'a tick');
SELECT is(pg_temp.wrong('gs_views'), '', 'every view equals its query');
SELECT is((SELECT coalesce(string_agg(e.view::text || ' ' || e.strategy, ', ' ORDER BY e.view::text), '')
             FROM ivm.evidence e
            WHERE e.epoch = (SELECT max(epoch) FROM ivm.evidence) AND e.strategy <> 'incremental'
              AND e.view::text <> 'gs_ordered'),
          '', 'the tick maintained them by delta rules');
DELETE FROM gs_t;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick that empties the table');
SELECT is(pg_temp.wrong('gs_views'), '', 'the empty grouping set''s row stays, over no rows');

SELECT * FROM finish();
ROLLBACK;
