-- pgvector's types in vector and top-k views (issue 21): vector (and
-- halfvec, where the installed pgvector has it) columns ordered by its
-- operators <-> (l2), <=> (cosine) and <#> (negative inner product), in
-- views declared with ivm.create_view, with ivm.create_vector_view over a
-- vector column, and in the many-queries form (CROSS JOIN LATERAL).  Each is
-- kept with the margin and maintained by delta rules (ivm.evidence says
-- incremental, or rescan when the margin runs out), and after every tick
-- equals its query run directly with no index (exact), as a multiset and
-- in the query's order: inserts, deletes, moves, exact ties, NULL
-- embeddings, zero vectors (NaN under cosine), deletes that empty the
-- margin.  An HNSW or IVFFlat index on the column, with the ticking
-- session's settings making its scans as poor as they go (ef_search 1),
-- must not change what a fill or a rescan reads.  A role's own operator on
-- vectors runs as that role when a superuser ticks.  pgvector lives in a
-- schema of its own here: ivm names its operators by the type's schema.
-- Where pgvector is not installed (Debian 12 has no package for 15), the
-- file is one pgTAP skip.
SELECT count(*) > 0 AS pv_has_vector FROM pg_available_extensions WHERE name = 'vector' \gset
\if :pv_has_vector
BEGIN;
SET LOCAL client_min_messages = warning;
-- small changes next to small hidden views: keep the fallback out of the way
SET LOCAL ivm.fallback_ratio = 1000;
SELECT plan(65);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

\ir lib/views.psql

CREATE SCHEMA vecs;
CREATE EXTENSION vector SCHEMA vecs;
SET LOCAL search_path = public, vecs;
SELECT to_regtype('vecs.halfvec') IS NOT NULL AS pv_has_halfvec \gset

-- 400 vectors of 4 small integers (many exact ties under every metric),
-- every 23rd NULL, every 31st the zero vector (NaN under cosine)
SELECT setseed(0.21);
CREATE TABLE pv_docs (id int PRIMARY KEY, aid int NOT NULL, emb vector(4), title text);
INSERT INTO pv_docs
SELECT g, g % 7,
       CASE WHEN g % 23 = 0 THEN NULL WHEN g % 31 = 0 THEN '[0,0,0,0]'
            ELSE format('[%s,%s,%s,%s]', (random() * 4 - 2)::int, (random() * 4 - 2)::int,
                        (random() * 4 - 2)::int, (random() * 4 - 2)::int) END::vector(4),
       'doc ' || g
FROM generate_series(1, 400) g;
CREATE TABLE pv_auth (aid int PRIMARY KEY, name text, active boolean);
INSERT INTO pv_auth SELECT g, 'author ' || g, g <> 3 FROM generate_series(0, 6) g;
CREATE TABLE pv_q (qid int PRIMARY KEY, vec vector(4));
INSERT INTO pv_q VALUES (1, '[1,-1,2,0]'), (2, '[0,0,0,1]'), (3, '[-2,2,-2,2]'), (4, '[1,1,1,1]');

-- the views: name, query, and the order to read the view in (the query's,
-- made total by the other columns)
CREATE TABLE pv_views (name text PRIMARY KEY, query text NOT NULL, vorder text NOT NULL);
INSERT INTO pv_views VALUES
 ('pv_l2', $$SELECT id, emb <-> '[1,-1,2,0]' AS distance FROM pv_docs ORDER BY emb <-> '[1,-1,2,0]', id LIMIT 5$$,
  'distance, id'),
 ('pv_cos', $$SELECT id, title, emb <=> '[2,0,-1,1]' AS distance FROM pv_docs ORDER BY distance, id LIMIT 6$$,
  'distance, id'),
 ('pv_ip', $$SELECT id, emb <#> '[1,1,1,1]' AS distance FROM pv_docs ORDER BY 2, 1 LIMIT 4$$, 'distance, id'),
 ('pv_far', $$SELECT id, emb <=> '[1,0,0,0]' AS distance FROM pv_docs ORDER BY distance DESC NULLS LAST, id LIMIT 4$$,
  'distance DESC NULLS LAST, id'),
 ('pv_nulls', $$SELECT id, emb <-> '[0,1,0,1]' AS distance FROM pv_docs ORDER BY emb <-> '[0,1,0,1]' NULLS FIRST, id LIMIT 3 OFFSET 15$$,
  'distance NULLS FIRST, id'),
 ('pv_ties', $$SELECT id, emb <-> '[0,0,0,0]' AS distance FROM pv_docs ORDER BY emb <-> '[0,0,0,0]' FETCH FIRST 14 ROWS WITH TIES$$,
  'distance, id'),
 ('pv_join', $$SELECT d.id, a.name, d.emb <-> '[0,1,0,-1]' AS distance FROM pv_docs d JOIN pv_auth a ON a.aid = d.aid
               WHERE a.active ORDER BY 3, 1 LIMIT 5$$, 'distance, id'),
 ('pv_lat', $$SELECT q.qid, x.id, x.distance FROM pv_q q CROSS JOIN LATERAL
               (SELECT d.id, d.emb <-> q.vec AS distance FROM pv_docs d ORDER BY 2, 1 LIMIT 3) x$$, 'qid, distance, id'),
 ('pv_cvv_l2', ivm.vector_view_query('pv_docs', 'emb', '{1,-1,2,0}', k => 5, payload => ARRAY['title']), 'distance, id'),
 ('pv_cvv_cos', ivm.vector_view_query('pv_docs', 'emb', '{2,0,-1,1}', k => 3, metric => 'cosine'), 'distance, id'),
 ('pv_cvv_ip', ivm.vector_view_query('pv_docs', 'emb', '{1,1,1,1}', k => 7, metric => 'ip'), 'distance, id');
SELECT ivm.create_view(name, query) FROM pv_views WHERE name NOT LIKE 'pv\_cvv\_%' ORDER BY name;
SELECT ivm.create_vector_view('pv_cvv_l2', 'pv_docs', 'emb', '{1,-1,2,0}', k => 5, payload => ARRAY['title']);
-- the query vector as a vector (cast to real[] implicitly)
SELECT ivm.create_vector_view('pv_cvv_cos', 'pv_docs', 'emb', '[2,0,-1,1]'::vector, k => 3, metric => 'cosine');
SELECT ivm.create_vector_view('pv_cvv_ip', 'pv_docs', 'emb', '{1,1,1,1}', k => 7, metric => 'ip');

-- exact: the query with no index scan, whatever the session set
CREATE FUNCTION pg_temp.exact_mismatches(view text, query text) RETURNS bigint LANGUAGE sql
    SET enable_indexscan = off SET enable_bitmapscan = off SET enable_seqscan = on
    AS $f$ SELECT pg_temp.mismatches(view, query) $f$;
CREATE FUNCTION pg_temp.in_order(view text, query text, vorder text) RETURNS boolean LANGUAGE plpgsql
    SET enable_indexscan = off SET enable_bitmapscan = off SET enable_seqscan = on AS $f$
DECLARE same boolean;
BEGIN
    EXECUTE format('SELECT (SELECT array_agg(v::text ORDER BY %3$s) FROM %1$s v) IS NOT DISTINCT FROM
                           (SELECT array_agg(v::text ORDER BY %3$s) FROM (%2$s) v)', view, query, vorder) INTO same;
    RETURN same;
END $f$;
-- the views that differ from their query, as a multiset or in order
CREATE FUNCTION pg_temp.pv_wrong() RETURNS text LANGUAGE sql AS $f$
    SELECT coalesce(string_agg(name, ', ' ORDER BY name), '') FROM pv_views
    WHERE pg_temp.exact_mismatches(name, query) <> 0 OR NOT pg_temp.in_order(name, query, vorder)
$f$;
-- how the last tick maintained each view that is not incremental
CREATE FUNCTION pg_temp.pv_how() RETURNS text LANGUAGE sql AS $f$
    SELECT coalesce(string_agg(e.view || ' by ' || e.strategy, ', ' ORDER BY e.view), '')
    FROM ivm.evidence e
    WHERE e.epoch = (SELECT max(epoch) FROM ivm.evidence) AND e.strategy NOT IN ('incremental', 'rescan')
$f$;
-- the views (hidden ones included) the last tick rescanned
CREATE FUNCTION pg_temp.rescanned() RETURNS text[] LANGUAGE sql AS $f$
    SELECT coalesce(array_agg(e.view::text ORDER BY e.view::text), '{}') FROM ivm.evidence e
    WHERE e.epoch = (SELECT max(epoch) FROM ivm.evidence) AND e.strategy = 'rescan'
$f$;

SELECT is((SELECT count(*) FROM ivm.views v JOIN pv_views p ON v.name = p.name::regclass
           WHERE v.strategy = 'incremental'), 11::bigint, 'every view is incremental');
SELECT is(pg_temp.pv_wrong(), '', 'after creation every view equals its query, in its order');
SELECT ok(ivm.explain('pv_l2') ~ 'a margin of up to 10 more', 'ivm.explain: the top-k by <-> is kept with a margin');
SELECT ok(ivm.explain('pv_cvv_cos') ~ 'a margin of up to 6 more', 'and the vector view over a vector column');
SELECT ok(ivm.explain('pv_lat') ~ 'per value of column', 'the LATERAL form keeps a margin per query');
SELECT ok(ivm.explain('pv_l2') ~ 'OPERATOR\(vecs\.<->\)' AND ivm.explain('pv_lat') ~ 'OPERATOR\(vecs\.<->\)',
          'hidden views name pgvector''s operators by its schema');
SELECT is(ivm.vector_view_query('pv_docs', 'emb', '{1,2,3,4}', k => 2, metric => 'ip'),
          $$SELECT id, emb OPERATOR(vecs.<#>) '[1,2,3,4]'::vecs.vector AS distance FROM public.pv_docs ORDER BY distance, id LIMIT 2$$,
          'ivm.vector_view_query over a vector column: the type''s operator for the metric, the vector as its literal');
SELECT is((SELECT count(*) FROM pv_nulls WHERE distance IS NULL), 2::bigint, 'pv_nulls straddles the NULL distances');
SELECT is((SELECT count(*) FROM pv_far WHERE distance = 'NaN'), 4::bigint, 'zero vectors: NaN first in pv_far');

-- inserts: copies of query vectors (nearer than the k-th), far ones, NULLs, zero vectors
INSERT INTO pv_docs VALUES (1001, 1, '[1,-1,2,0]', 'q1'), (1002, 2, '[2,0,-1,1]', 'q2'), (1003, 3, '[1,1,1,1]', 'q3'),
    (1004, 4, '[0,1,0,-1]', 'q4'), (1005, 5, '[9,9,9,9]', 'far'), (1006, 6, '[-9,-9,-9,-9]', 'far'),
    (1007, 0, NULL, 'null'), (1008, 0, '[0,0,0,0]', 'zero'), (1009, 1, '[0,1,0,1]', 'q5'), (1010, 2, '[0,0,0,1]', 'q6');
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: inserts');
SELECT is(pg_temp.pv_wrong(), '', 'after inserts every view equals its query');
SELECT is(pg_temp.pv_how(), '', 'every view and hidden view maintained by delta rules');
SELECT is((SELECT strategy FROM ivm.evidence WHERE view = 'pv_l2' ORDER BY epoch DESC LIMIT 1), 'incremental',
          'pv_l2 incremental');
SELECT ok((SELECT min(distance) FROM pv_l2) = 0 AND 1001 IN (SELECT id FROM pv_l2), 'the copy of its query vector is in pv_l2');

-- deletes of members
DELETE FROM pv_docs WHERE id IN (SELECT id FROM pv_l2 ORDER BY distance, id LIMIT 2)
                       OR id IN (SELECT id FROM pv_cos ORDER BY distance, id LIMIT 3)
                       OR id IN (SELECT id FROM pv_nulls WHERE distance IS NULL)
                       OR id IN (SELECT id FROM pv_lat WHERE qid = 3 LIMIT 1);
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: members deleted');
SELECT is(pg_temp.pv_wrong(), '', 'after members were deleted every view equals its query');
SELECT is(pg_temp.pv_how(), '', 'by delta rules (or a rescan)');

-- moves: members away, far rows nearer, NULL to a vector and back
UPDATE pv_docs SET emb = '[7,7,-7,7]' WHERE id IN (SELECT id FROM pv_ip ORDER BY distance, id LIMIT 2);
UPDATE pv_docs SET emb = '[1,-1,2,1]' WHERE id IN (17, 18, 19);
UPDATE pv_docs SET emb = NULL WHERE id IN (SELECT id FROM pv_cvv_l2 ORDER BY distance, id LIMIT 1);
UPDATE pv_docs SET emb = '[0,1,0,1]' WHERE id IN (46, 69);
UPDATE pv_docs SET emb = '[1,0,0,0]' WHERE id = 31;    -- a zero vector (NaN) given a direction
UPDATE pv_docs SET emb = '[-1,0,0,0]' WHERE id = 62;   -- and the farthest one
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: vectors moved');
SELECT is(pg_temp.pv_wrong(), '', 'after vectors moved in, out, to NULL and back');
SELECT is(pg_temp.pv_how(), '', 'by delta rules');

-- exact ties: copies of members under other ids, ordered by id
INSERT INTO pv_docs SELECT 2000 + g, g % 7, (SELECT emb FROM pv_docs WHERE id = (SELECT min(id) FROM pv_l2)), 'tie'
FROM generate_series(1, 4) g;
INSERT INTO pv_docs SELECT 2100 + g, g % 7, (SELECT emb FROM pv_docs WHERE id = (SELECT max(id) FROM pv_ip)), 'tie'
FROM generate_series(1, 3) g;
INSERT INTO pv_docs SELECT 2200 + g, 0, '[0,0,0,0]', 'tie at 0' FROM generate_series(1, 3) g;
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: ties');
SELECT is(pg_temp.pv_wrong(), '', 'after exact ties (broken by id, or all shown WITH TIES)');
SELECT cmp_ok((SELECT count(*) FROM pv_ties), '>', 14::bigint, 'pv_ties shows every row tied with the 14th');

-- a delete that empties the margin: every row pv_l2's hidden view holds
-- (its columns: c1 the id, c2 the distance)
CREATE FUNCTION pg_temp.held(v text, what text) RETURNS float8 LANGUAGE plpgsql AS $f$
DECLARE n float8;
BEGIN
    EXECUTE format('SELECT %s FROM %s', what, (SELECT storage FROM ivm.hidden_views WHERE parent = v::regclass)) INTO n;
    RETURN n;
END $f$;
SELECT cmp_ok(pg_temp.held('pv_l2', 'count(*)'), '<', 100::float8, 'pv_l2''s hidden view holds a prefix, not the 410 rows');
DELETE FROM pv_docs WHERE emb <-> '[1,-1,2,0]' <= pg_temp.held('pv_l2', 'max(c2)');
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: the margin of pv_l2 emptied');
SELECT is(pg_temp.pv_wrong(), '', 'after the rescan every view equals its query');
SELECT ok('pv_l2' = ANY (pg_temp.rescanned()), 'pv_l2 was rescanned (ivm.evidence says rescan)');
SELECT is(pg_temp.pv_how(), '', 'nothing diffed or recomputed');

-- an HNSW and an IVFFlat index (on a table of their own: made in this
-- transaction, they could not serve a table updated in it), and a session
-- that makes their scans as poor as they go: a fill, a rescan and a
-- REFRESH must still read exactly
-- (NOT NULL: a planner that knew the distances are never NULL must still
-- not read them from the index)
CREATE TABLE pv_ann (id int PRIMARY KEY, emb vector(4) NOT NULL);
INSERT INTO pv_ann SELECT id, emb FROM pv_docs WHERE emb IS NOT NULL;
CREATE INDEX pv_ann_hnsw ON pv_ann USING hnsw (emb vector_l2_ops);
CREATE INDEX pv_ann_ivf ON pv_ann USING ivfflat (emb vector_cosine_ops) WITH (lists = 4);
ANALYZE pv_ann;
SET LOCAL enable_seqscan = off;
SET LOCAL hnsw.ef_search = 1;
SET LOCAL ivfflat.probes = 1;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE r record; p text := '';
BEGIN
    FOR r IN EXECUTE 'EXPLAIN ' || q LOOP
        p := p || r."QUERY PLAN" || ' ';
    END LOOP;
    RETURN p;
END $f$;
SELECT ok(pg_temp.plan_of($$SELECT id FROM pv_ann ORDER BY emb <-> '[2,1,0,-1]' LIMIT 11$$) ~ 'Index Scan using pv_ann_hnsw',
          'this session would read the nearest by <-> through the HNSW index');
SELECT cmp_ok((SELECT count(*) FROM (SELECT id FROM pv_ann ORDER BY emb <-> '[2,1,0,-1]' LIMIT 11) s), '<', 11::bigint,
          'and that index scan returns fewer rows than asked (ef_search 1)');
SELECT ok(pg_temp.plan_of($$SELECT id FROM pv_ann ORDER BY emb <=> '[1,2,-1,0]' LIMIT 7$$) ~ 'Index Scan using pv_ann_ivf',
          'and the nearest by <=> through the IVFFlat index');
-- the distance wrapped in a SQL function the planner inlines (to emb <-> q,
-- which the HNSW index orders by): as exact as the operator itself
CREATE FUNCTION pv_l2(a vecs.vector, b vecs.vector) RETURNS float8
    LANGUAGE sql IMMUTABLE AS 'SELECT a OPERATOR(vecs.<->) b';
INSERT INTO pv_views VALUES
 ('pv_ann_l2', $$SELECT id, emb <-> '[2,1,0,-1]' AS distance FROM pv_ann ORDER BY emb <-> '[2,1,0,-1]', id LIMIT 5$$, 'distance, id'),
 ('pv_ann_wrap', $$SELECT id, pv_l2(emb, '[2,1,0,-1]') AS distance FROM pv_ann ORDER BY pv_l2(emb, '[2,1,0,-1]'), id LIMIT 4$$, 'distance, id'),
 ('pv_ann_cos', ivm.vector_view_query('pv_ann', 'emb', '{1,2,-1,0}', k => 3, metric => 'cosine'), 'distance, id');
SELECT lives_ok($$SELECT ivm.create_view('pv_ann_l2', (SELECT query FROM pv_views WHERE name = 'pv_ann_l2'))$$,
                'a top-k by <-> created in that session');
SELECT lives_ok($$SELECT ivm.create_view('pv_ann_wrap', (SELECT query FROM pv_views WHERE name = 'pv_ann_wrap'))$$,
                'a top-k by an inlined wrapper of <-> created in that session');
SELECT lives_ok($$SELECT ivm.create_vector_view('pv_ann_cos', 'pv_ann', 'emb', '{1,2,-1,0}', k => 3, metric => 'cosine')$$,
                'a vector view by <=> created in that session');
SELECT is(pg_temp.pv_wrong(), '', 'they were filled exactly, not from the indexes');
DELETE FROM pv_ann WHERE id IN (SELECT id FROM pv_ann_l2) OR id IN (SELECT id FROM pv_ann_cos)
                      OR id IN (SELECT id FROM pv_ann_wrap);
DELETE FROM pv_ann WHERE emb <-> '[2,1,0,-1]' <= pg_temp.held('pv_ann_l2', 'max(c2)')
                      OR emb <=> '[1,2,-1,0]' <= pg_temp.held('pv_ann_cos', 'max(c2)');
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: every row their hidden views held deleted, in that session');
SELECT is(pg_temp.rescanned(),
          (SELECT array_agg(v ORDER BY v) FROM (SELECT c.relname::text FROM ivm.hidden_views h JOIN pg_class c ON c.oid = h.name
                                                 WHERE h.parent IN ('pv_ann_l2'::regclass, 'pv_ann_cos'::regclass, 'pv_ann_wrap'::regclass)
                                                 UNION ALL VALUES ('pv_ann_l2'), ('pv_ann_cos'), ('pv_ann_wrap')) x(v)),
          'both were rescanned, and nothing else');
SELECT is(pg_temp.pv_wrong(), '', 'after the rescans in that session every view equals its exact query');
INSERT INTO pv_ann VALUES (3001, '[2,1,0,-1]'), (3002, '[1,2,-1,0]'), (3003, '[2,1,0,0]');
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: inserts, in that session');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW pv_ann_l2$$, 'REFRESH in that session');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW pv_lat$$, 'REFRESH of the LATERAL form in that session');
SELECT is(pg_temp.pv_wrong(), '', 'after REFRESH every view equals its exact query');
RESET enable_seqscan;
RESET hnsw.ef_search;
RESET ivfflat.probes;

-- query vectors change (the LATERAL form)
INSERT INTO pv_q VALUES (5, '[2,2,0,0]');
UPDATE pv_q SET vec = '[0,-2,0,2]' WHERE qid = 2;
DELETE FROM pv_q WHERE qid = 4;
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: query vectors added, moved, removed');
SELECT is(pg_temp.pv_wrong(), '', 'the LATERAL form equals its query');

-- refused with a message that says what to do
SELECT throws_ok($$SELECT ivm.create_vector_view('pv_bad', 'pv_docs', 'emb', '{1,2,3}')$$,
                 '22000', 'expected 4 dimensions, not 3', 'a query vector of other dimensions than the column''s');
SELECT throws_ok($$SELECT ivm.create_vector_view('pv_bad', 'pv_docs', 'title', '{1,2}')$$, '42804',
                 'column "title" of relation public.pv_docs is text, not real[] or a type with the l2 distance operator <->',
                 'a column of no vector type');
SELECT throws_ok($$SELECT ivm.create_vector_view('pv_bad', 'pv_docs', 'emb', '{0,0,0,0}', metric => 'cosine')$$,
                 '22000', 'ivm.cosine_distance of a zero vector', 'a zero query vector under cosine');

-- halfvec, where this pgvector has it
\if :pv_has_halfvec
CREATE TABLE pv_half (id int PRIMARY KEY, h halfvec(4));
INSERT INTO pv_half SELECT id, emb::halfvec(4) FROM pv_docs;
CREATE TABLE pv_hviews (name text PRIMARY KEY, query text NOT NULL, vorder text NOT NULL);
INSERT INTO pv_hviews VALUES
 ('pv_h_l2', $$SELECT id, h <-> '[1,-1,2,0]' AS distance FROM pv_half ORDER BY 2, 1 LIMIT 5$$, 'distance, id'),
 ('pv_h_ip', $$SELECT id, h <#> '[1,1,1,1]' AS distance FROM pv_half ORDER BY h <#> '[1,1,1,1]' FETCH FIRST 3 ROWS WITH TIES$$,
  'distance, id'),
 ('pv_h_cos', ivm.vector_view_query('pv_half', 'h', '{2,0,-1,1}', k => 4, metric => 'cosine'), 'distance, id');
SELECT ivm.create_view(name, query) FROM pv_hviews WHERE name <> 'pv_h_cos' ORDER BY name;
SELECT ivm.create_vector_view('pv_h_cos', 'pv_half', 'h', '{2,0,-1,1}', k => 4, metric => 'cosine');
INSERT INTO pv_views SELECT * FROM pv_hviews;
SELECT is(pg_temp.pv_wrong(), '', 'halfvec: every view equals its query after creation');
SELECT is((SELECT query FROM pv_hviews WHERE name = 'pv_h_cos'),
          $$SELECT id, h OPERATOR(vecs.<=>) '[2,0,-1,1]'::vecs.halfvec AS distance FROM public.pv_half ORDER BY distance, id LIMIT 4$$,
          'halfvec: create_vector_view uses halfvec''s <=>');
INSERT INTO pv_half VALUES (5001, '[1,-1,2,0]'), (5002, '[2,0,-1,1]'), (5003, '[1,1,1,1]'), (5004, NULL), (5005, '[1,1,1,1]');
DELETE FROM pv_half WHERE id IN (SELECT id FROM pv_h_l2 ORDER BY distance, id LIMIT 2);
UPDATE pv_half SET h = '[3,-3,6,0]' WHERE id IN (SELECT id FROM pv_half WHERE h IS NOT NULL ORDER BY id LIMIT 2);
SELECT lives_ok($$SELECT ivm.tick()$$, 'halfvec: tick after inserts, deletes, moves');
SELECT is(pg_temp.pv_wrong(), '', 'halfvec: every view equals its query');
SELECT is(pg_temp.pv_how(), '', 'halfvec: by delta rules');
DELETE FROM pv_half WHERE h <-> '[1,-1,2,0]' <= pg_temp.held('pv_h_l2', 'max(c2)');
SELECT lives_ok($$SELECT ivm.tick()$$, 'halfvec: tick after the margin of pv_h_l2 emptied');
SELECT is(pg_temp.pv_wrong(), '', 'halfvec: after the rescan every view equals its query');
\else
SELECT skip('the installed pgvector has no halfvec', 7);
\endif

-- a role's own operator on vectors runs as that role, whoever ticks
CREATE ROLE pv_mallory;
CREATE SCHEMA pv_mal AUTHORIZATION pv_mallory;
GRANT USAGE ON SCHEMA vecs TO pv_mallory;
CREATE TABLE public.pv_calls (usr text, was_super boolean);
GRANT INSERT ON public.pv_calls TO PUBLIC;
SET ROLE pv_mallory;
CREATE FUNCTION pv_mal.note() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO public.pv_calls SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
    BEGIN
        EXECUTE 'ALTER ROLE pv_mallory SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
END
$f$;
-- declared immutable (a lie), so that a view may use it
CREATE FUNCTION pv_mal.dist(a vecs.vector, b vecs.vector) RETURNS float8 LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    PERFORM pv_mal.note();
    RETURN a OPERATOR(vecs.<->) b;
END
$f$;
CREATE OPERATOR pv_mal.<<->> (LEFTARG = vecs.vector, RIGHTARG = vecs.vector, FUNCTION = pv_mal.dist);
CREATE TABLE pv_mal.docs (id int PRIMARY KEY, emb vecs.vector(2));
INSERT INTO pv_mal.docs SELECT g, format('[%s,%s]', g % 11, g % 13)::vecs.vector FROM generate_series(1, 60) g;
SELECT lives_ok($$SELECT ivm.create_view('pv_mal.near', $q$SELECT id, emb OPERATOR(pv_mal.<<->>) '[5,5]' AS d
                  FROM pv_mal.docs ORDER BY emb OPERATOR(pv_mal.<<->>) '[5,5]', id LIMIT 3$q$)$$,
                'mallory: a top-k by her own operator on vectors');
SELECT lives_ok($$SELECT ivm.create_vector_view('pv_mal.cvv', 'pv_mal.docs', 'emb', '{1,2}', k => 2)$$,
                'mallory: a vector view over her vector column');
RESET ROLE;
DELETE FROM pv_mal.docs WHERE id IN (SELECT id FROM pv_mal.near);
INSERT INTO pv_mal.docs VALUES (100, '[5,5]'), (101, '[1,2]');
SELECT lives_ok($$SELECT ivm.tick()$$, 'a superuser ticks');
DELETE FROM pv_mal.docs WHERE emb OPERATOR(vecs.<->) '[5,5]' <= 3;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a superuser ticks: her view''s margin emptied (a rescan)');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW pv_mal.near$$, 'a superuser refreshes her view');
SELECT is((SELECT array_agg(DISTINCT usr) FROM public.pv_calls), ARRAY['pv_mallory'],
          'her operator ran as mallory, every time');
SELECT is((SELECT count(*) FROM public.pv_calls WHERE was_super), 0::bigint, 'never as a superuser');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'pv_mallory'), false, 'mallory is not superuser');
SELECT is(pg_temp.exact_mismatches('pv_mal.near', $q$SELECT id, emb OPERATOR(vecs.<->) '[5,5]' AS d
                  FROM pv_mal.docs ORDER BY emb OPERATOR(vecs.<->) '[5,5]', id LIMIT 3$q$), 0::bigint,
          'her view equals its query');
-- her own <-> in her schema, first on a victim's search_path, is not the one a vector view uses
SET ROLE pv_mallory;
CREATE OPERATOR pv_mal.<-> (LEFTARG = vecs.vector, RIGHTARG = vecs.vector, FUNCTION = pv_mal.dist);
RESET ROLE;
SET LOCAL search_path = pv_mal, public, vecs;
SELECT ok(ivm.vector_view_query('pv_docs', 'emb', '{1,2,3,4}') ~ 'OPERATOR\(vecs\.<->\)',
          'a vector view takes the operator of the column type''s schema, not the first on search_path');

SELECT * FROM finish();
ROLLBACK;
\else
SELECT plan(1);
SELECT skip('pgvector is not installed here (Debian 12 has no package of it for PostgreSQL 15)', 1);
SELECT * FROM finish();
\endif
