-- Set operations and UNION ALL branches that aggregate (issue 10): UNION,
-- INTERSECT and EXCEPT are declared as DISTINCT or GROUP BY over UNION ALL
-- and maintained by delta rules; INTERSECT ALL and EXCEPT ALL are diffed.
-- Each view is compared with its query run directly, as a multiset, after
-- every tick; NULLs count as equal, as set operations say.
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL ivm.fallback_ratio = 1000;
SELECT plan(16);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE so_a (id int PRIMARY KEY, k int, s text);
CREATE TABLE so_b (id int PRIMARY KEY, k int, s text);
INSERT INTO so_a SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE g % 12 END, (ARRAY['x', 'y', NULL])[g % 3 + 1]
                 FROM generate_series(1, 60) g;
INSERT INTO so_b SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE g % 9 END, (ARRAY['y', 'z', NULL])[g % 3 + 1]
                 FROM generate_series(1, 40) g;

CREATE TABLE so_q (name text PRIMARY KEY, query text NOT NULL);
INSERT INTO so_q VALUES
 ('so_union',      'SELECT k, s FROM so_a UNION SELECT k, s FROM so_b'),
 ('so_intersect',  'SELECT k, s FROM so_a INTERSECT SELECT k, s FROM so_b WHERE id > 3'),
 ('so_except',     'SELECT k FROM so_a WHERE s IS DISTINCT FROM ''x'' EXCEPT SELECT k FROM so_b'),
 ('so_three',      'SELECT k FROM so_a UNION SELECT k + 1 FROM so_b UNION ALL SELECT id FROM so_b WHERE id < 5'),
 ('so_nested',     'SELECT k FROM so_a WHERE id > 10 UNION ALL (SELECT k FROM so_a EXCEPT SELECT k FROM so_b)'),
 ('so_mixed_types', 'SELECT k::numeric AS n FROM so_a INTERSECT SELECT k + 0.0 FROM so_b'),
 ('so_agg_branch', 'SELECT k, count(*) AS n FROM so_a GROUP BY k UNION ALL SELECT k, count(*) FROM so_b GROUP BY k');
SELECT ivm.create_view(name, query) FROM so_q ORDER BY name;

\ir lib/views.psql

SELECT is((SELECT string_agg(q.name, ', ' ORDER BY q.name) FROM so_q q JOIN ivm.views v ON v.name = q.name::regclass
            WHERE v.strategy <> 'incremental'), NULL, 'every UNION, INTERSECT and EXCEPT view is incremental');
SELECT matches((SELECT query FROM ivm.views WHERE name = 'so_intersect'::regclass), 'UNION ALL.*GROUP BY.*HAVING',
               'INTERSECT is stored as a GROUP BY over UNION ALL, counting the sides');
SELECT is((SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'so_mixed_types'::regclass AND attnum > 0)
          || ':' || format_type((SELECT atttypid FROM pg_attribute WHERE attrelid = 'so_mixed_types'::regclass AND attnum = 1), NULL),
          'n:numeric', 'the view keeps the names and types of the set operation''s columns');
SELECT is(pg_temp.wrong('so_q'), '', 'every view equals its query when created');

INSERT INTO so_b VALUES (100, 3, 'x'), (101, NULL, NULL), (102, 11, 'y');
DELETE FROM so_a WHERE id % 6 = 0;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('so_q'), '', 'rows in and out: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

UPDATE so_a SET k = NULL WHERE id % 8 = 1;
UPDATE so_b SET s = 'x', k = k + 1 WHERE id % 4 = 2;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('so_q'), '', 'updates (NULLs included): every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

-- a row of one side only, gone and back; the other side emptied
DELETE FROM so_b;
SELECT ivm.tick();
SELECT is((SELECT count(*) FROM so_intersect), 0::bigint, 'INTERSECT with an empty side is empty');
SELECT is(pg_temp.wrong('so_q'), '', 'one side emptied: every view equals its query');
INSERT INTO so_b SELECT g, g % 9, (ARRAY['y', 'z', NULL])[g % 3 + 1] FROM generate_series(1, 30) g;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('so_q'), '', 'and filled again: every view equals its query');

CREATE FUNCTION pg_temp.churn(seed float8) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM setseed(seed);
    INSERT INTO so_a SELECT 1000 + g + (seed * 1000)::int * 10, CASE WHEN random() < 0.15 THEN NULL ELSE (random() * 12)::int END,
                            (ARRAY['x', 'y', NULL])[1 + (random() * 2)::int] FROM generate_series(1, 6) g;
    INSERT INTO so_b SELECT 2000 + g + (seed * 1000)::int * 10, CASE WHEN random() < 0.15 THEN NULL ELSE (random() * 9)::int END,
                            (ARRAY['y', 'z', NULL])[1 + (random() * 2)::int] FROM generate_series(1, 6) g;
    DELETE FROM so_a WHERE id IN (SELECT id FROM so_a ORDER BY random() LIMIT 4);
    DELETE FROM so_b WHERE id IN (SELECT id FROM so_b ORDER BY random() LIMIT 4);
    UPDATE so_a SET k = (random() * 12)::int WHERE id IN (SELECT id FROM so_a ORDER BY random() LIMIT 3);
END $f$;
SELECT pg_temp.churn(0.1); SELECT ivm.tick();
SELECT pg_temp.churn(0.2); SELECT ivm.tick();
SELECT pg_temp.churn(0.3); SELECT ivm.tick();
SELECT is(pg_temp.wrong('so_q'), '', 'after three ticks of random churn every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

-- what has no delta rule is diffed
SELECT ivm.create_view('so_except_all', 'SELECT k FROM so_a EXCEPT ALL SELECT k FROM so_b');
SELECT is((SELECT strategy FROM ivm.views WHERE name = 'so_except_all'::regclass), 'diff', 'EXCEPT ALL is diffed');
DELETE FROM so_b WHERE id % 3 = 0;
SELECT ivm.tick();
SELECT is(pg_temp.mismatches('so_except_all', 'SELECT k FROM so_a EXCEPT ALL SELECT k FROM so_b'), 0::bigint,
          'and equals its query');

SELECT * FROM finish();
ROLLBACK;
