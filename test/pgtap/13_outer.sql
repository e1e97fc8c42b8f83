-- Outer joins, subqueries in FROM and WITH (issue 10): LEFT, RIGHT and FULL
-- joins are maintained by delta rules as inner joins plus anti joins padded
-- with NULLs; a subquery in FROM that aggregates (or is otherwise no plain
-- filter) is a hidden view read in its place; a common table expression is
-- written where it is read.  Each view is compared with its query run
-- directly, as a multiset, after every tick; what has no rule is diffed and
-- says why; and the rules run as the view's owner.
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL ivm.fallback_ratio = 1000;
SELECT plan(39);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE oj_o (id int PRIMARY KEY, k int, v int, tag text);
CREATE TABLE oj_i (id int PRIMARY KEY, o_id int, w int, tag text);
CREATE TABLE oj_nn (id int PRIMARY KEY, x int NOT NULL);
INSERT INTO oj_o SELECT g, g % 6, CASE WHEN g % 9 = 0 THEN NULL ELSE g * 3 % 50 END,
                        (ARRAY['a', 'b', NULL])[g % 3 + 1] FROM generate_series(1, 60) g;
INSERT INTO oj_i SELECT g, CASE WHEN g % 11 = 0 THEN NULL ELSE g * 7 % 80 END, g % 25,
                        (ARRAY['a', 'c'])[g % 2 + 1] FROM generate_series(1, 70) g;
INSERT INTO oj_nn SELECT g, g * 2 FROM generate_series(1, 20) g;

CREATE TABLE oj_q (name text PRIMARY KEY, query text NOT NULL);
INSERT INTO oj_q VALUES
 ('oj_left',      'SELECT o.id, o.k, i.id AS iid, i.w FROM oj_o o LEFT JOIN oj_i i ON i.o_id = o.id AND i.w > 5'),
 ('oj_right',     'SELECT o.id, i.id AS iid, i.tag FROM oj_o o RIGHT JOIN oj_i i ON i.o_id = o.id'),
 ('oj_full',      'SELECT o.id, i.id AS iid, coalesce(o.k, i.w) AS kw FROM oj_o o FULL JOIN oj_i i ON i.o_id = o.id AND o.tag = i.tag'),
 ('oj_using',     'SELECT id, o.k, n.x FROM oj_o o LEFT JOIN oj_nn n USING (id)'),
 ('oj_full_using', 'SELECT id, n.x, o.v FROM oj_nn n FULL JOIN oj_o o USING (id)'),
 ('oj_two',       'SELECT o.id, i.id AS iid, n.x FROM oj_o o LEFT JOIN oj_i i ON i.o_id = o.id LEFT JOIN oj_nn n ON n.id = i.w'),
 ('oj_inner_left', 'SELECT o.id, n.x, i.id AS iid FROM oj_o o JOIN oj_nn n ON n.id = o.k + 1 LEFT JOIN oj_i i ON i.o_id = o.id AND i.w < n.x'),
 ('oj_anti',      'SELECT o.id FROM oj_o o LEFT JOIN oj_i i ON i.o_id = o.id WHERE i.id IS NULL'),
 ('oj_q13',       'SELECT cnt, count(*) AS n FROM (SELECT o.id, count(i.id) AS cnt FROM oj_o o LEFT JOIN oj_i i ON i.o_id = o.id AND i.tag = ''a'' GROUP BY o.id) s GROUP BY cnt'),
 ('oj_group_null', 'SELECT i.tag, count(*) AS n, sum(o.v) AS sv, max(i.w) AS mw FROM oj_o o LEFT JOIN oj_i i ON i.o_id = o.k GROUP BY i.tag'),
 ('oj_agg_below', 'SELECT o.id, s.total FROM oj_o o LEFT JOIN (SELECT o_id, sum(w) AS total FROM oj_i GROUP BY o_id) s ON s.o_id = o.id'),
 ('oj_sub_join',  'SELECT o.id, s.n FROM oj_o o JOIN (SELECT o_id, count(*) AS n FROM oj_i GROUP BY o_id HAVING count(*) > 1) s ON s.o_id = o.id'),
 ('oj_distinct_sub', 'SELECT d.tag, o.id FROM (SELECT DISTINCT tag FROM oj_i) d LEFT JOIN oj_o o ON o.tag = d.tag'),
 ('oj_union_sub', 'SELECT u.x, count(*) AS n FROM (SELECT k AS x FROM oj_o UNION ALL SELECT w FROM oj_i) u GROUP BY u.x'),
 ('oj_cte',       'WITH t AS (SELECT o_id, sum(w) AS total FROM oj_i GROUP BY o_id) SELECT o.id, t.total FROM oj_o o, t WHERE t.o_id = o.id AND t.total = (SELECT max(total) FROM t)'),
 ('oj_cte_cols',  'WITH big (oid, ww) AS (SELECT o_id, w FROM oj_i WHERE w > 10), per (oid, n) AS (SELECT oid, count(*) FROM big GROUP BY oid) SELECT o.id, per.n FROM oj_o o LEFT JOIN per ON per.oid = o.id'),
 ('oj_nonequi',   'SELECT o.id, i.id AS iid FROM oj_o o LEFT JOIN oj_i i ON i.w > o.v + 20');
SELECT ivm.create_view(name, query) FROM oj_q ORDER BY name;
-- a left join reading an incremental view
INSERT INTO oj_q VALUES ('oj_of_view', 'SELECT n.id, a.n AS customers FROM oj_nn n LEFT JOIN oj_q13 a ON a.cnt = n.id - 1');
SELECT ivm.create_view('oj_of_view', (SELECT query FROM oj_q WHERE name = 'oj_of_view'));

\ir lib/views.psql

SELECT is((SELECT string_agg(q.name, ', ' ORDER BY q.name) FROM oj_q q JOIN ivm.views v ON v.name = q.name::regclass
            WHERE v.strategy <> 'incremental'), NULL, 'every outer join, FROM subquery and WITH view is incremental');
SELECT matches(ivm.explain('oj_left'), 'outer join: the inner join''s rows and each side''s unmatched rows',
               'ivm.explain says how an outer join is maintained');
SELECT is((SELECT string_agg(parent::text, ',' ORDER BY parent::text) FROM ivm.hidden_views
           WHERE parent::text IN ('oj_q13', 'oj_agg_below', 'oj_sub_join', 'oj_distinct_sub', 'oj_union_sub')),
          'oj_agg_below,oj_distinct_sub,oj_q13,oj_sub_join,oj_union_sub',
          'a subquery in FROM that aggregates, uses DISTINCT or UNION ALL is a hidden view of its own');
SELECT matches(ivm.explain('oj_cte'), E'hidden view.*\n.*hidden view.*\n +-> hidden view .*GROUP BY',
               'a CTE read twice: a hidden view where it is joined, and one under the scalar subquery''s');
SELECT doesnt_match((SELECT query FROM ivm.views WHERE name = 'oj_cte_cols'::regclass), 'WITH',
              'the stored query has its CTEs written where they are read');
SELECT is(pg_temp.wrong('oj_q'), '', 'every view equals its query when created');

-- changes on the preserved side, the nullable side and both, NULL keys included
INSERT INTO oj_i VALUES (100, 3, 9, 'a'), (101, 4, 30, 'a'), (102, NULL, 2, 'c'), (103, 77, NULL, 'a'), (104, 3, 9, 'a');
SELECT ivm.tick();
SELECT is(pg_temp.wrong('oj_q'), '', 'nullable rows inserted: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

DELETE FROM oj_i WHERE id % 4 = 0;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('oj_q'), '', 'nullable rows deleted (rows lose their last match): every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

UPDATE oj_i SET o_id = o_id + 1, w = w + 3 WHERE id % 5 = 1;
UPDATE oj_o SET v = v + 1, k = (k + 1) % 6, tag = 'a' WHERE id % 7 = 2;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('oj_q'), '', 'both sides updated: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

INSERT INTO oj_o SELECT g, g % 6, g % 40, 'b' FROM generate_series(200, 215) g;
DELETE FROM oj_o WHERE id BETWEEN 10 AND 14;
INSERT INTO oj_nn VALUES (21, 6), (22, 500);
DELETE FROM oj_nn WHERE id = 3;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('oj_q'), '', 'preserved rows in and out: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

-- the nullable side emptied, then filled again
DELETE FROM oj_i;
SELECT ivm.tick();
SELECT is((SELECT count(*) FROM oj_left WHERE iid IS NOT NULL), 0::bigint, 'the nullable side emptied: every row padded');
SELECT is(pg_temp.wrong('oj_q'), '', 'every view equals its query');
INSERT INTO oj_i SELECT g, g % 70, g % 25, (ARRAY['a', 'c'])[g % 2 + 1] FROM generate_series(1, 90) g;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('oj_q'), '', 'and filled again: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

-- a larger random churn, several ticks
CREATE FUNCTION pg_temp.churn(seed float8) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM setseed(seed);
    INSERT INTO oj_i SELECT 1000 + g + (seed * 1000)::int * 100, CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 70)::int END,
                            CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 25)::int END, (ARRAY['a', 'c'])[1 + (random() > 0.5)::int]
                     FROM generate_series(1, 12) g;
    DELETE FROM oj_i WHERE id IN (SELECT id FROM oj_i ORDER BY random() LIMIT 8);
    UPDATE oj_o SET v = CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 50)::int END,
                    tag = (ARRAY['a', 'b', NULL])[1 + (random() * 2)::int]
     WHERE id IN (SELECT id FROM oj_o ORDER BY random() LIMIT 5);
    UPDATE oj_i SET o_id = (random() * 70)::int WHERE id IN (SELECT id FROM oj_i ORDER BY random() LIMIT 4);
    DELETE FROM oj_o WHERE id IN (SELECT id FROM oj_o ORDER BY random() LIMIT 2);
    INSERT INTO oj_o SELECT 3000 + g + (seed * 1000)::int * 10, (random() * 6)::int, (random() * 50)::int, 'a'
                     FROM generate_series(1, 3) g;
END $f$;
SELECT pg_temp.churn(0.1); SELECT ivm.tick();
SELECT pg_temp.churn(0.2); SELECT ivm.tick();
SELECT pg_temp.churn(0.3); SELECT ivm.tick();
SELECT is(pg_temp.wrong('oj_q'), '', 'after three ticks of random churn every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

-- REFRESH recomputes a view and its hidden views; the view stays equal
SELECT lives_ok($$SELECT ivm.refresh('oj_q13')$$, 'REFRESH of a view reading a FROM subquery''s hidden view');
SELECT is(pg_temp.wrong('oj_q'), '', 'every view equals its query after it');

------------------------------------------------------------------------------
-- What has no delta rule is diffed, and ivm.explain says why
------------------------------------------------------------------------------
SELECT ivm.create_view('oj_nested', 'SELECT o.id, i.id AS iid FROM oj_o o LEFT JOIN (oj_i i JOIN oj_nn n ON n.id = i.w) ON i.o_id = o.id');
SELECT is((SELECT strategy FROM ivm.views WHERE name = 'oj_nested'::regclass), 'diff', 'a nullable side that is a join is diffed');
SELECT matches(ivm.explain('oj_nested'), 'nullable side is a join', 'ivm.explain says why');
SELECT ivm.create_view('oj_lateral', 'SELECT o.id, s.m FROM oj_o o, LATERAL (SELECT max(w) AS m FROM oj_i WHERE oj_i.o_id = o.id) s');
SELECT matches(ivm.explain('oj_lateral'), 'strategy diff.*LATERAL', 'a LATERAL subquery is diffed, and ivm.explain says so');
SELECT ivm.create_view('oj_recursive', 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT o.id FROM oj_o o, r WHERE o.k = r.n');
SELECT matches(ivm.explain('oj_recursive'), 'strategy diff.*RECURSIVE', 'WITH RECURSIVE is diffed, and ivm.explain says so');
UPDATE oj_i SET w = w + 1 WHERE id % 3 = 0;
SELECT ivm.tick();
SELECT is(pg_temp.mismatches('oj_nested', 'SELECT o.id, i.id AS iid FROM oj_o o LEFT JOIN (oj_i i JOIN oj_nn n ON n.id = i.w) ON i.o_id = o.id')
          + pg_temp.mismatches('oj_lateral', 'SELECT o.id, s.m FROM oj_o o, LATERAL (SELECT max(w) AS m FROM oj_i WHERE oj_i.o_id = o.id) s')
          + pg_temp.mismatches('oj_recursive', 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT o.id FROM oj_o o, r WHERE o.k = r.n'),
          0::bigint, 'the diffed views equal their queries');

------------------------------------------------------------------------------
-- As an attacker: the outer join's condition is the view owner's own code,
-- run by the anti join too, and always as that owner, whoever ticks; the
-- hidden view of a subquery is the owner's alone; a WITH does not widen
-- what the owner may read.
------------------------------------------------------------------------------
CREATE ROLE ivm_oj_mallory;
CREATE SCHEMA oj_mal AUTHORIZATION ivm_oj_mallory;
GRANT SELECT ON oj_o, oj_i TO ivm_oj_mallory;
-- every call of the attacker's code, as whom (set_config cannot carry it out:
-- ivm discards the settings a view's code changes)
CREATE TABLE public.oj_calls (usr text, sup boolean);
GRANT INSERT, SELECT ON public.oj_calls TO PUBLIC;
SET ROLE ivm_oj_mallory;
CREATE FUNCTION oj_mal.note() RETURNS void LANGUAGE sql AS $f$
    INSERT INTO public.oj_calls SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user
$f$;
CREATE FUNCTION oj_mal.eq(a int, b int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    PERFORM oj_mal.note();
    RETURN a = b;
END $f$;
CREATE OPERATOR oj_mal.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = oj_mal.eq);
SELECT ivm.create_view('oj_mal.v', 'SELECT o.id, s.n FROM public.oj_o o LEFT JOIN (SELECT o_id, count(*) AS n FROM public.oj_i GROUP BY o_id) s ON s.o_id OPERATOR(oj_mal.===) o.id');
SELECT throws_ok($$SELECT ivm.create_view('oj_mal.peek', 'WITH t AS (SELECT id, x FROM public.oj_nn) SELECT o.id, t.x FROM public.oj_o o LEFT JOIN t ON t.id = o.k')$$,
                 '42501', NULL, 'a view may not read, through WITH, a table its owner cannot read');
RESET ROLE;
SELECT is((SELECT strategy FROM ivm.views WHERE name = 'oj_mal.v'::regclass), 'incremental', 'the attacker''s view is incremental');
DELETE FROM public.oj_calls;
INSERT INTO oj_i VALUES (5000, 20, 1, 'a');
DELETE FROM oj_i WHERE o_id = 21;
SELECT ivm.tick();
SELECT is((SELECT strategy FROM ivm.evidence WHERE view = 'v' ORDER BY epoch DESC LIMIT 1), 'incremental',
          'the superuser''s tick ran its delta rules');
SELECT is((SELECT count(*) > 0 FROM public.oj_calls), true, 'the operator ran');
SELECT is((SELECT count(*) FROM public.oj_calls WHERE usr <> 'ivm_oj_mallory' OR sup), 0::bigint,
          'always as the view''s owner, never as a superuser');
SELECT is(pg_temp.mismatches('oj_mal.v', 'SELECT o.id, s.n FROM public.oj_o o LEFT JOIN (SELECT o_id, count(*) AS n FROM public.oj_i GROUP BY o_id) s ON s.o_id OPERATOR(oj_mal.===) o.id'),
          0::bigint, 'the view equals its query');
-- another role reads neither the hidden view nor its storage
CREATE ROLE ivm_oj_eve;
GRANT USAGE ON SCHEMA oj_mal TO ivm_oj_eve;
SELECT is(has_table_privilege('ivm_oj_eve', (SELECT h.name FROM ivm.hidden_views h WHERE h.parent = 'oj_mal.v'::regclass), 'SELECT'),
          false, 'another role may not read the hidden view of a FROM subquery');
SELECT is(has_table_privilege('ivm_oj_eve', (SELECT h.storage FROM ivm.hidden_views h WHERE h.parent = 'oj_mal.v'::regclass), 'SELECT'),
          false, 'nor its storage');
-- the nullable table's privilege revoked: the view fails as its query would
REVOKE SELECT ON oj_i FROM ivm_oj_mallory;
INSERT INTO oj_i VALUES (5001, 22, 1, 'a');
SELECT ivm.tick();
SELECT is((SELECT state FROM ivm.hidden_views WHERE parent = 'oj_mal.v'::regclass), 'failed',
          'without SELECT on the subquery''s table its hidden view fails');
SELECT is((SELECT state FROM ivm.views WHERE name = 'oj_mal.v'::regclass), 'failed', 'and so does the view');
SELECT is(pg_temp.wrong('oj_q'), '', 'every other view equals its query');

SELECT * FROM finish();
ROLLBACK;
