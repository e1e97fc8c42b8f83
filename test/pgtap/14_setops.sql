-- Set operations and UNION ALL branches that aggregate (issue 10): UNION,
-- INTERSECT and EXCEPT are declared as DISTINCT or GROUP BY over UNION ALL
-- and maintained by delta rules; INTERSECT ALL and EXCEPT ALL count each
-- row's copies on both sides (a hidden view) and repeat the row by a
-- generate_series laterally over the counts; an immutable function in FROM
-- passes deltas through.  Each view is compared with its query run
-- directly, as a multiset, after every tick; NULLs count as equal, as set
-- operations say.
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL ivm.fallback_ratio = 1000;
SELECT plan(22);

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
 ('so_agg_branch', 'SELECT k, count(*) AS n FROM so_a GROUP BY k UNION ALL SELECT k, count(*) FROM so_b GROUP BY k'),
 ('so_intersect_all', 'SELECT k, s FROM so_a INTERSECT ALL SELECT k, s FROM so_b'),
 ('so_except_all', 'SELECT k FROM so_a EXCEPT ALL SELECT k FROM so_b'),
 ('so_all_nested', 'SELECT k FROM so_a WHERE id < 40 EXCEPT ALL (SELECT k FROM so_b INTERSECT ALL SELECT k FROM so_a WHERE id % 2 = 0)'),
 ('so_series',     'SELECT a.id, g FROM so_a a, generate_series(1, a.id % 4) g WHERE a.k IS DISTINCT FROM 3'),
 ('so_unnest',     'SELECT b.id, a.s, x FROM so_b b JOIN so_a a ON a.k = b.k, unnest(ARRAY[b.k, a.id, NULL]) x'),
 ('so_series_agg', 'SELECT a.k, count(*) AS n, sum(g) AS sg FROM so_a a, generate_series(0, a.id % 3) g GROUP BY a.k'),
 ('so_left_series', 'SELECT a.id, g FROM so_a a LEFT JOIN so_b b ON b.k = a.k AND b.id < 10, generate_series(1, coalesce(b.id % 3, 1)) g');
SELECT ivm.create_view(name, query) FROM so_q ORDER BY name;

\ir lib/views.psql

SELECT is((SELECT string_agg(q.name, ', ' ORDER BY q.name) FROM so_q q JOIN ivm.views v ON v.name = q.name::regclass
            WHERE v.strategy <> 'incremental'), NULL, 'every UNION, INTERSECT and EXCEPT view is incremental');
SELECT matches((SELECT query FROM ivm.views WHERE name = 'so_intersect'::regclass), 'UNION ALL.*GROUP BY.*HAVING',
               'INTERSECT is stored as a GROUP BY over UNION ALL, counting the sides');
SELECT matches((SELECT query FROM ivm.views WHERE name = 'so_intersect_all'::regclass), 'UNION ALL.*GROUP BY.*generate_series.*LEAST',
               'INTERSECT ALL is stored as the row repeated by the least of its counts on the two sides');
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

-- duplicates on both sides, gone one by one: ALL forms follow the counts
INSERT INTO so_a SELECT 7000 + g, 5, 'y' FROM generate_series(1, 4) g;
INSERT INTO so_b SELECT 7000 + g, 5, 'y' FROM generate_series(1, 2) g;
SELECT ivm.tick();
SELECT is((SELECT count(*) FROM so_intersect_all WHERE k = 5 AND s = 'y'),
          (SELECT count(*) FROM (SELECT k, s FROM so_a INTERSECT ALL SELECT k, s FROM so_b) x WHERE k = 5 AND s = 'y'),
          'INTERSECT ALL holds a row as many times as the query');
DELETE FROM so_b WHERE id = 7001;
DELETE FROM so_a WHERE id IN (7001, 7002);
SELECT ivm.tick();
SELECT is(pg_temp.wrong('so_q'), '', 'copies gone on each side: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

-- what has no delta rule is diffed
SELECT ivm.create_view('so_stable_fn', $$SELECT a.id, t FROM so_a a, generate_series(timestamptz '2020-01-01', timestamptz '2020-01-03', interval '1 day') t WHERE a.id < 5$$);
SELECT is((SELECT strategy FROM ivm.views WHERE name = 'so_stable_fn'::regclass), 'diff',
          'a function in FROM that is not immutable (its result may change between ticks) is diffed');
DELETE FROM so_a WHERE id = 2;
SELECT ivm.tick();
SELECT is(pg_temp.mismatches('so_stable_fn', $$SELECT a.id, t FROM so_a a, generate_series(timestamptz '2020-01-01', timestamptz '2020-01-03', interval '1 day') t WHERE a.id < 5$$), 0::bigint,
          'and equals its query');

-- an attacker's function in FROM runs as the view's owner, not as ivm's
CREATE ROLE ivm_so_attacker NOLOGIN;
GRANT USAGE ON SCHEMA ivm TO ivm_so_attacker;
GRANT SELECT ON so_a TO ivm_so_attacker;
CREATE FUNCTION public.so_who(int) RETURNS SETOF text LANGUAGE sql IMMUTABLE AS $f$ SELECT current_user::text FROM generate_series(1, $1) $f$;
GRANT CREATE ON SCHEMA public TO ivm_so_attacker;
SET LOCAL ROLE ivm_so_attacker;
SELECT ivm.create_view('so_who_view', 'SELECT a.id, w FROM public.so_a a, public.so_who(a.id % 2) w');
RESET ROLE;
SELECT is((SELECT strategy FROM ivm.views WHERE name = 'so_who_view'::regclass), 'incremental', 'an immutable function of the attacker in FROM: delta rules');
INSERT INTO so_a VALUES (5001, 1, 'x');
SELECT ivm.tick();
SELECT is((SELECT string_agg(DISTINCT w, ',') FROM so_who_view), 'ivm_so_attacker', 'the function ran as the view''s owner at every tick');

SELECT * FROM finish();
ROLLBACK;
