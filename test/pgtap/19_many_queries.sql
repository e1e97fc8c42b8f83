-- Many query vectors (issue 12): the k nearest per row of a table of
-- queries, written with row_number() OVER (PARTITION BY query ORDER BY
-- distance) <= k.  The rows under the window are kept per query to a
-- margin (the k nearest and up to 2k more, by rank), holding each pair's
-- distance and not the vectors; a new document is written only for the
-- queries it comes near, a new query computes its own nearest only, a query
-- that loses its nearest is read again alone.  After every tick each view
-- equals its query run directly, as a multiset.
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL ivm.fallback_ratio = 1000;
SELECT plan(46);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

\ir lib/views.psql

SELECT setseed(0.19);
CREATE TABLE mq_docs (id int PRIMARY KEY, emb real[] NOT NULL, kind int);
INSERT INTO mq_docs SELECT g, ARRAY[random() * 20 - 10, random() * 20 - 10]::real[], g % 3
FROM generate_series(1, 600) g;
CREATE TABLE mq_q (qid int PRIMARY KEY, vec real[] NOT NULL);
INSERT INTO mq_q SELECT g, ARRAY[random() * 20 - 10, random() * 20 - 10]::real[] FROM generate_series(1, 25) g;
-- integer points: many ties in distance
CREATE TABLE mq_pts (id int PRIMARY KEY, x int, y int);
INSERT INTO mq_pts SELECT g, (random() * 8)::int, (random() * 8)::int FROM generate_series(1, 300) g;
CREATE TABLE mq_centres (c int PRIMARY KEY, x int, y int);
INSERT INTO mq_centres SELECT g, g % 5, g % 7 FROM generate_series(1, 12) g;

CREATE TABLE mq_views (name text PRIMARY KEY, query text NOT NULL, k int NOT NULL);
INSERT INTO mq_views VALUES
 ('mq_near', $$SELECT qid, id, distance FROM (SELECT q.qid, d.id, ivm.l2_distance(d.emb, q.vec) AS distance,
     row_number() OVER (PARTITION BY q.qid ORDER BY ivm.l2_distance(d.emb, q.vec), d.id) AS rn
   FROM mq_q q, mq_docs d) s WHERE rn <= 3$$, 3),
 ('mq_cos_kind', $$SELECT s.qid, s.id, s.distance, s.rn FROM (SELECT q.qid, d.id, ivm.cosine_distance(d.emb, q.vec) AS distance,
     row_number() OVER (PARTITION BY q.qid ORDER BY ivm.cosine_distance(d.emb, q.vec), d.id) AS rn
   FROM mq_q q JOIN mq_docs d ON d.kind = 1) s WHERE s.rn < 3$$, 2),
 ('mq_rank', $$SELECT c, id, d2 FROM (SELECT m.c, p.id, (p.x - m.x) * (p.x - m.x) + (p.y - m.y) * (p.y - m.y) AS d2,
     rank() OVER (PARTITION BY m.c ORDER BY (p.x - m.x) * (p.x - m.x) + (p.y - m.y) * (p.y - m.y) DESC) AS r
   FROM mq_centres m, mq_pts p) s WHERE r <= 4$$, 4),
 ('mq_lateral', $$SELECT q.qid, x.id, x.distance FROM mq_q q CROSS JOIN LATERAL
   (SELECT d.id, ivm.l2_distance(d.emb, q.vec) AS distance FROM mq_docs d WHERE d.kind <> 2 ORDER BY 2, 1 LIMIT 4) x
   WHERE q.qid % 5 <> 0$$, 4);
SELECT ivm.create_view(name, query) FROM mq_views ORDER BY name;

-- a view's row input: the hidden view under the hidden window view
CREATE FUNCTION pg_temp.input(v regclass) RETURNS regclass LANGUAGE sql AS $f$
    SELECT h2.storage FROM ivm.hidden_views h1 JOIN ivm.hidden_views h2 ON h2.parent = h1.name WHERE h1.parent = v
$f$;
CREATE FUNCTION pg_temp.input_name(v regclass) RETURNS text LANGUAGE sql AS $f$
    SELECT c.relname::text FROM ivm.hidden_views h1 JOIN ivm.hidden_views h2 ON h2.parent = h1.name
    JOIN pg_class c ON c.oid = h2.name WHERE h1.parent = v
$f$;
-- the most rows its input holds for one partition (column c1), and the least
CREATE FUNCTION pg_temp.per_part(v regclass, most boolean) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT coalesce(%s(n), 0) FROM (SELECT count(*) AS n FROM %s GROUP BY c1) x',
                   CASE WHEN most THEN 'max' ELSE 'min' END, pg_temp.input(v)) INTO n;
    RETURN n;
END $f$;
CREATE FUNCTION pg_temp.held_for(v regclass, part int) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s WHERE c1 = $1', pg_temp.input(v)) INTO n USING part;
    RETURN n;
END $f$;
CREATE FUNCTION pg_temp.held(v regclass) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', pg_temp.input(v)) INTO n;
    RETURN n;
END $f$;
CREATE FUNCTION pg_temp.input_evidence(v regclass) RETURNS text LANGUAGE sql AS $f$
    SELECT coalesce(string_agg(e.strategy || ' ' || e.delta_out, ', '), 'not maintained') FROM ivm.evidence e
    WHERE e.epoch = (SELECT max(epoch) FROM ivm.evidence) AND e.view = pg_temp.input_name(v)
$f$;

SELECT is((SELECT count(*) FROM ivm.views v JOIN mq_views q ON v.name = q.name::regclass WHERE v.strategy = 'incremental'),
          4::bigint, 'every view is incremental');
SELECT matches((SELECT query FROM ivm.views WHERE name = 'mq_lateral'::regclass), 'row_number\(\) OVER \(PARTITION BY q\.qid',
               'the CROSS JOIN LATERAL form is defined by its window form, partitioned by the queries'' key');
SELECT ok(pg_temp.per_part('mq_lateral', true) <= 8, 'and keeps a margin per query too');
SELECT is(pg_temp.wrong('mq_views'), '', 'every view equals its query when created');
SELECT is((SELECT string_agg(format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum) FROM pg_attribute a
           WHERE a.attrelid = pg_temp.input('mq_near') AND a.attnum > 0 AND a.attname LIKE 'c%'),
          'integer,integer,double precision',
          'the input holds (query, document, distance): the distance is computed once, the vectors are not kept');
SELECT ok(pg_temp.per_part('mq_near', true) <= 6 AND pg_temp.per_part('mq_near', false) >= 3,
          'it holds 3 to 6 rows per query when created (k = 3, a margin of 2k), not 600');
SELECT is(pg_temp.held('mq_near'), 150::bigint, '150 rows for 25 queries');

-- a document far from every query: nothing written
INSERT INTO mq_docs VALUES (1001, '{500,500}', 0);
SELECT ivm.tick();
SELECT is(pg_temp.input_evidence('mq_near'), 'incremental 0', 'a far document is written for no query');
SELECT is(pg_temp.wrong('mq_views'), '', 'every view equals its query');

-- a document at one query's vector: written for the queries it comes near only
INSERT INTO mq_docs SELECT 1002, vec, 0 FROM mq_q WHERE qid = 7;
SELECT ivm.tick();
SELECT ok((SELECT delta_out FROM ivm.evidence WHERE epoch = (SELECT max(epoch) FROM ivm.evidence)
           AND view = pg_temp.input_name('mq_near')) BETWEEN 1 AND 12,
          'a document near one query: a few rows written, not one per query');
SELECT is((SELECT id FROM mq_near WHERE qid = 7 ORDER BY distance, id LIMIT 1), 1002, 'it is the nearest of that query');
SELECT is(pg_temp.wrong('mq_views'), '', 'every view equals its query');

-- a new query computes its own nearest
INSERT INTO mq_q VALUES (100, '{0.01,0.01}');
SELECT ivm.tick();
SELECT is((SELECT count(*) FROM mq_near WHERE qid = 100), 3::bigint, 'a new query has its 3 nearest');
SELECT is(pg_temp.wrong('mq_views'), '', 'every view equals its query');
SELECT is(pg_temp.held_for('mq_near', 100), 6::bigint, 'the new query''s 600 rows are cut to its 2k nearest before they are written');
SELECT ok(pg_temp.per_part('mq_near', true) <= 9, 'no query holds more than 3k rows');

-- a query's nearest deleted, past its margin: that query alone read again
DELETE FROM mq_docs WHERE id IN (SELECT id FROM mq_docs ORDER BY ivm.l2_distance(emb, '{0,0}'), id LIMIT 8);
SELECT ivm.tick();
SELECT is(pg_temp.input_evidence('mq_near') LIKE 'rescan %', true, 'a query that lost its margin: a rescan');
SELECT is(pg_temp.wrong('mq_views'), '', 'every view equals its query after the rescan');
SELECT ok(pg_temp.per_part('mq_near', false) >= 3, 'every query holds at least k rows again');

-- queries changed and deleted
UPDATE mq_q SET vec = '{9,9}' WHERE qid = 3;
DELETE FROM mq_q WHERE qid = 4;
SELECT ivm.tick();
SELECT is((SELECT count(*) FROM mq_near WHERE qid = 4), 0::bigint, 'a deleted query''s rows are gone');
SELECT is(pg_temp.wrong('mq_views'), '', 'a query moved, one deleted: every view equals its query');

-- documents moved
UPDATE mq_docs SET emb = ARRAY[emb[2], emb[1]] WHERE id % 7 = 0;
UPDATE mq_docs SET kind = (kind + 1) % 3 WHERE id % 11 = 0;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('mq_views'), '', 'documents moved: every view equals its query');

-- ties: points at the same distances from the centres
UPDATE mq_pts SET x = 8 - x WHERE id % 5 = 0;
DELETE FROM mq_pts WHERE id IN (SELECT p.id FROM mq_pts p, mq_centres m WHERE m.c = 1 ORDER BY (p.x - m.x) ^ 2 + (p.y - m.y) ^ 2 DESC, p.id LIMIT 10);
INSERT INTO mq_pts SELECT 1000 + g, 0, 0 FROM generate_series(1, 5) g;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('mq_views'), '', 'points tied in distance moved, deleted, added: every view equals its query');

CREATE FUNCTION pg_temp.churn(seed float8) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM setseed(seed);
    INSERT INTO mq_docs SELECT 2000 + g + (seed * 100)::int * 100,
                               ARRAY[random() * 20 - 10, random() * 20 - 10]::real[], (random() * 3)::int
    FROM generate_series(1, 20) g;
    DELETE FROM mq_docs WHERE id IN (SELECT id FROM mq_near ORDER BY random() LIMIT 6);
    DELETE FROM mq_docs WHERE id IN (SELECT id FROM mq_docs ORDER BY random() LIMIT 10);
    UPDATE mq_docs SET emb = ARRAY[random() * 20 - 10, random() * 20 - 10]::real[]
     WHERE id IN (SELECT id FROM mq_docs ORDER BY random() LIMIT 10);
    INSERT INTO mq_q SELECT 200 + (seed * 10)::int, ARRAY[random() * 20 - 10, random() * 20 - 10]::real[];
    DELETE FROM mq_q WHERE qid IN (SELECT qid FROM mq_q ORDER BY random() LIMIT 1);
    UPDATE mq_pts SET x = (random() * 8)::int, y = (random() * 8)::int WHERE id IN (SELECT id FROM mq_pts ORDER BY random() LIMIT 15);
    DELETE FROM mq_pts WHERE id IN (SELECT id FROM mq_rank ORDER BY random() LIMIT 4);
END $f$;
SELECT pg_temp.churn(0.1); SELECT ivm.tick();
SELECT is(pg_temp.wrong('mq_views'), '', 'random churn, tick 1: every view equals its query');
SELECT pg_temp.churn(0.2); SELECT ivm.tick();
SELECT is(pg_temp.wrong('mq_views'), '', 'random churn, tick 2: every view equals its query');
SELECT pg_temp.churn(0.3); SELECT ivm.tick();
SELECT is(pg_temp.wrong('mq_views'), '', 'random churn, tick 3: every view equals its query');
SELECT ok(pg_temp.per_part('mq_near', true) <= 9, 'the margins stay within 3k');

-- fewer documents than k: every query holds all of them; refilled
DELETE FROM mq_docs WHERE id > 2;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('mq_views'), '', 'two documents left: every view equals its query');
SELECT is(pg_temp.per_part('mq_near', true), 2::bigint, 'each query holds both');
INSERT INTO mq_docs SELECT 5000 + g, ARRAY[g, -g]::real[], g % 3 FROM generate_series(1, 40) g;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('mq_views'), '', 'refilled: every view equals its query');
SELECT ok(pg_temp.per_part('mq_near', true) <= 9, 'and the margins are cut back within 3k');
DELETE FROM mq_q;
SELECT ivm.tick();
SELECT is(pg_temp.held('mq_near'), 0::bigint, 'no queries: nothing held');
INSERT INTO mq_q SELECT g, ARRAY[g, g]::real[] FROM generate_series(1, 5) g;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('mq_views'), '', 'queries again: every view equals its query');

-- REFRESH and full_recompute fill the same margins
REFRESH MATERIALIZED VIEW mq_near;
SELECT is(pg_temp.wrong('mq_views'), '', 'after REFRESH: every view equals its query');
SELECT ok(pg_temp.per_part('mq_near', true) <= 6, 'REFRESH fills each query''s 2k nearest');
SET LOCAL ivm.full_recompute = on;
INSERT INTO mq_docs VALUES (9000, '{1,1}', 1);
SELECT ivm.tick();
RESET ivm.full_recompute;
SELECT is(pg_temp.wrong('mq_views'), '', 'full_recompute: every view equals its query');

-- a window read otherwise keeps every row under it
SELECT ivm.create_view('mq_all', $$SELECT qid, id FROM (SELECT q.qid, d.id, count(*) OVER (PARTITION BY q.qid) AS n,
     row_number() OVER (PARTITION BY q.qid ORDER BY ivm.l2_distance(d.emb, q.vec), d.id) AS rn
   FROM mq_q q, mq_docs d) s WHERE rn <= 2$$);
SELECT is(pg_temp.held('mq_all'), (SELECT count(*) FROM mq_q, mq_docs),
          'a window with count(*) beside row_number(): no margin, every pair kept');

-- an error in a rescan of one query (a function of the view raising on one
-- row, read only by the rescan): the view is quarantined, the tick goes on,
-- and once the cause is gone the view comes back equal to its query
CREATE FUNCTION public.mq_fragile(e real[], q real[]) RETURNS float8 LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    IF e[1] = 999 AND current_setting('mq.fail', true) = 'on' THEN
        RAISE EXCEPTION 'mq_fragile met the marked row';
    END IF;
    RETURN ivm.l2_distance(e, q);
END $f$;
INSERT INTO mq_views VALUES ('mq_fragile', $$SELECT qid, id, distance FROM (SELECT q.qid, d.id, public.mq_fragile(d.emb, q.vec) AS distance,
     row_number() OVER (PARTITION BY q.qid ORDER BY public.mq_fragile(d.emb, q.vec), d.id) AS rn
   FROM mq_q q, mq_docs d) s WHERE rn <= 2$$, 2);
SELECT ivm.create_view('mq_fragile', (SELECT query FROM mq_views WHERE name = 'mq_fragile'));
INSERT INTO mq_docs VALUES (9500, '{999,0}', 0);
SELECT ivm.tick();
SET LOCAL mq.fail = 'on';
DELETE FROM mq_docs WHERE id IN (SELECT d.id FROM mq_docs d, mq_q q WHERE q.qid = 1 AND d.id <> 9500
                                 ORDER BY ivm.l2_distance(d.emb, q.vec), d.id LIMIT 6);
SELECT lives_ok($$SELECT ivm.tick()$$, 'a rescan that raises does not fail the tick');
SELECT is((SELECT string_agg(name::text || '=' || state, ',' ORDER BY name::text) FROM ivm.views
           WHERE name IN ('mq_fragile'::regclass, 'mq_near'::regclass)),
          'mq_fragile=failed,mq_near=ok', 'the view whose rescan raised is quarantined, the others go on');
RESET mq.fail;
INSERT INTO mq_docs VALUES (9501, '{4,4}', 1);
SELECT ivm.tick();
SELECT is((SELECT state FROM ivm.views WHERE name = 'mq_fragile'::regclass), 'ok', 'the cause gone, it comes back');
SELECT is(pg_temp.wrong('mq_views'), '', 'every view equals its query');

-- ALTER VIEW ... OWNER TO hands over the hidden views, at every depth: the
-- rows under the window then run with the new owner's rights, not the old
CREATE ROLE ivm_mq_bob NOLOGIN;
GRANT SELECT ON mq_q, mq_docs TO ivm_mq_bob;
ALTER VIEW mq_near OWNER TO ivm_mq_bob;
SELECT is((WITH RECURSIVE t AS (SELECT id FROM ivm._views WHERE viewrel = 'mq_near'::regclass
                                UNION ALL SELECT h.id FROM ivm._views h JOIN t ON h.parent_id = t.id)
           SELECT string_agg(DISTINCT pg_get_userbyid(d.relowner) || '/' || pg_get_userbyid(c.relowner), ',')
           FROM t JOIN ivm._views v USING (id) JOIN pg_class d ON d.oid = v.defrel JOIN pg_class c ON c.oid = v.viewrel),
          'ivm_mq_bob/ivm_mq_bob', 'the view, its hidden window and the rows under it belong to the new owner');
INSERT INTO mq_docs VALUES (9001, '{2,2}', 0);
SELECT ivm.tick();
SELECT is(pg_temp.mismatches('mq_near', (SELECT query FROM mq_views WHERE name = 'mq_near')), 0::bigint,
          'maintained as the new owner, it equals its query');
-- a view handed over by a role: that role reads no storage of it afterwards
CREATE ROLE ivm_mq_alice NOLOGIN;
GRANT SELECT ON mq_q, mq_docs TO ivm_mq_alice;
GRANT CREATE ON SCHEMA public TO ivm_mq_alice;
SELECT query AS mq_near_query FROM mq_views WHERE name = 'mq_near' \gset
SET LOCAL ROLE ivm_mq_alice;
SELECT ivm.create_view('mq_alice', :'mq_near_query');
RESET ROLE;
ALTER VIEW mq_alice OWNER TO ivm_mq_bob;
SELECT is((WITH RECURSIVE t AS (SELECT id FROM ivm._views WHERE viewrel = 'mq_alice'::regclass
                                UNION ALL SELECT h.id FROM ivm._views h JOIN t ON h.parent_id = t.id)
           SELECT string_agg(has_table_privilege('ivm_mq_alice', v.storagerel, 'SELECT')::text || '/'
                             || has_table_privilege('ivm_mq_bob', v.storagerel, 'SELECT')::text, ',')
           FROM t JOIN ivm._views v USING (id)),
          'false/true,false/true,false/true', 'the former owner reads none of its storages, the new one all three');
REVOKE SELECT ON mq_docs FROM ivm_mq_bob;
INSERT INTO mq_docs VALUES (9002, '{3,3}', 0);
SELECT ivm.tick();
SELECT is((SELECT state FROM ivm.views WHERE name = 'mq_near'::regclass), 'failed',
          'the new owner losing SELECT on a table fails the view: nothing ran with the old owner''s rights');

SELECT * FROM finish();
ROLLBACK;
