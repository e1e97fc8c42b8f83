-- Vector views (issue 12): the distance functions ivm.l2_distance,
-- ivm.cosine_distance, ivm.inner_product on real[] (hand-checked values,
-- each bad input an error that says which, and on seeded random vectors the
-- same results as the distances written in SQL, to single precision: the C
-- loops sum in an order the compiler may change; sums are kept in double, as
-- a long vector shows exactly); and
-- ivm.create_vector_view, whose views must equal the brute-force query
-- ORDER BY distance, id LIMIT k exactly after every tick: inserts nearer
-- than the k-th, deletes of members, updates moving vectors, ties, k larger
-- than the source, the source emptied and refilled.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(59);

-- hand-checked
SELECT is(ivm.l2_distance('{0,0}', '{3,4}'), 5::float8, 'l2: a 3-4-5 triangle');
SELECT is(ivm.l2_distance('{1,2,3}', '{1,2,3}'), 0::float8, 'l2: a vector from itself');
SELECT is(ivm.l2_distance('{-1}', '{2}'), 3::float8, 'l2: one dimension');
SELECT is(ivm.inner_product('{1,2,3}', '{4,5,6}'), -32::float8, 'inner product: minus 4 + 10 + 18');
SELECT is(ivm.inner_product('{1,0}', '{0,1}'), 0::float8, 'inner product of orthogonal vectors');
SELECT is(ivm.cosine_distance('{1,0}', '{0,1}'), 1::float8, 'cosine: orthogonal');
SELECT is(ivm.cosine_distance('{1,0}', '{-2,0}'), 2::float8, 'cosine: opposite');
SELECT ok(abs(ivm.cosine_distance('{1,1}', '{2,2}')) < 1e-6, 'cosine: the same direction, another length');
SELECT ok(abs(ivm.cosine_distance('{1,0}', '{1,1}') - (1 - 1 / sqrt(2))) < 1e-6, 'cosine: 45 degrees');
SELECT is(ivm.l2_distance(NULL, '{1}'), NULL, 'a NULL vector: NULL (strict)');

-- bad input: an error each, saying which
SELECT throws_ok($$SELECT ivm.l2_distance('{1,2}', '{1,2,3}')$$, '22000',
                 'ivm.l2_distance of vectors of different lengths, 2 and 3', 'different lengths');
SELECT throws_ok($$SELECT ivm.cosine_distance('{1,2,3}', '{1,2}')$$, '22000',
                 'ivm.cosine_distance of vectors of different lengths, 3 and 2', 'different lengths (cosine)');
SELECT throws_ok($$SELECT ivm.inner_product('{1,NULL}', '{1,2}')$$, '22004',
                 'ivm.inner_product does not accept NULL elements', 'a NULL element');
SELECT throws_ok($$SELECT ivm.l2_distance('{1,2}', '{2,NULL}')$$, '22004',
                 'ivm.l2_distance does not accept NULL elements', 'a NULL element in the second');
SELECT throws_ok($$SELECT ivm.l2_distance('{{1,2},{3,4}}', '{{1,2},{3,4}}')$$, '2202E',
                 'ivm.l2_distance expects one-dimensional vectors', 'a two-dimensional array');
SELECT throws_ok($$SELECT ivm.l2_distance('{}', '{}')$$, '2202E',
                 'ivm.l2_distance of an empty vector', 'an empty array');
SELECT throws_ok($$SELECT ivm.cosine_distance('{0,0,0}', '{1,2,3}')$$, '22000',
                 'ivm.cosine_distance of a zero vector', 'cosine of a zero vector');
SELECT throws_ok($$SELECT ivm.cosine_distance('{1,2,3}', '{0,0,0}')$$, '22000',
                 'ivm.cosine_distance of a zero vector', 'cosine to a zero vector');
SELECT is((SELECT provolatile::text || proparallel::text || proisstrict::text FROM pg_proc WHERE oid = 'ivm.l2_distance'::regproc),
          'istrue', 'immutable, parallel safe, strict');

-- sums kept in double: 16 elements of 4096 (squares summing to 2^28, at which
-- a float sum, one by one or in vector lanes, no longer grows by 1) then
-- 1,000,000 elements of 1
CREATE TEMP TABLE big AS
SELECT array_fill(4096::real, ARRAY[16]) || array_fill(1::real, ARRAY[1000000]) AS a,
       array_fill(4096::real, ARRAY[16]) || array_fill(0::real, ARRAY[1000000]) AS z,
       array_fill(0::real, ARRAY[1000016]) AS o;
SELECT is(ivm.l2_distance(a, o), sqrt(268435456 + 1000000::float8),
          'l2 of a long vector: every 1 counts after 2^28 (a float sum gives 16384)') FROM big;
SELECT is(ivm.inner_product(a, a), -(268435456 + 1000000)::float8,
          'inner product of a long vector: every 1 counts after 2^28') FROM big;
SELECT ok(abs(ivm.cosine_distance(a, z) - (1 - 16384 / sqrt(268435456 + 1000000::float8))) < 1e-12,
          'cosine of long vectors: the norm counts every 1 (a float sum gives 0)') FROM big;

-- seeded random vectors of 128 dimensions against the same distances in SQL
SELECT setseed(0.42);
CREATE TEMP TABLE vec AS
SELECT i, array_agg((random() * 2 - 1)::real ORDER BY d) AS v
FROM generate_series(1, 60) i, generate_series(1, 128) d GROUP BY i;
CREATE TEMP TABLE pairs AS
SELECT a.i AS ai, b.i AS bi, a.v AS av, b.v AS bv,
       (SELECT sqrt(sum((x - y)::float8 ^ 2)) FROM unnest(a.v, b.v) u(x, y)) AS l2,
       (SELECT -sum(x::float8 * y) FROM unnest(a.v, b.v) u(x, y)) AS ip,
       (SELECT 1 - sum(x::float8 * y) / (sqrt(sum(x::float8 * x)) * sqrt(sum(y::float8 * y)))
          FROM unnest(a.v, b.v) u(x, y)) AS cos
FROM vec a, vec b;
SELECT is((SELECT count(*) FROM pairs WHERE abs(ivm.l2_distance(av, bv) - l2) > 1e-4 * greatest(1, l2)), 0::bigint,
          'l2_distance equals the SQL form on 3,600 pairs');
SELECT is((SELECT count(*) FROM pairs WHERE abs(ivm.inner_product(av, bv) - ip) > 1e-4 * greatest(1, abs(ip))), 0::bigint,
          'inner_product equals the SQL form');
SELECT is((SELECT count(*) FROM pairs WHERE abs(ivm.cosine_distance(av, bv) - cos) > 1e-5), 0::bigint,
          'cosine_distance equals the SQL form');
SELECT is((SELECT count(*) FROM pairs WHERE ai = bi AND ivm.l2_distance(av, bv) <> 0), 0::bigint,
          'a vector is at l2 distance 0 from itself');
SELECT is((SELECT count(*) FROM pairs WHERE ivm.cosine_distance(av, bv) NOT BETWEEN 0 AND 2), 0::bigint,
          'cosine distances lie in [0, 2]');
-- the order of the nearest: the same k nearest as the SQL form
SELECT is((SELECT array_agg(bi ORDER BY ivm.l2_distance(av, bv), bi) FROM (SELECT * FROM pairs WHERE ai = 1 ORDER BY ivm.l2_distance(av, bv), bi LIMIT 10) s),
          (SELECT array_agg(bi ORDER BY l2, bi) FROM (SELECT * FROM pairs WHERE ai = 1 ORDER BY l2, bi LIMIT 10) s),
          'the 10 nearest to a vector by l2, as the SQL form orders them');
SELECT is((SELECT array_agg(bi ORDER BY ivm.cosine_distance(av, bv), bi) FROM (SELECT * FROM pairs WHERE ai = 2 ORDER BY ivm.cosine_distance(av, bv), bi LIMIT 10) s),
          (SELECT array_agg(bi ORDER BY cos, bi) FROM (SELECT * FROM pairs WHERE ai = 2 ORDER BY cos, bi LIMIT 10) s),
          'the 10 nearest by cosine, as the SQL form orders them');
SELECT is((SELECT array_agg(bi ORDER BY ivm.inner_product(av, bv), bi) FROM (SELECT * FROM pairs WHERE ai = 3 ORDER BY ivm.inner_product(av, bv), bi LIMIT 10) s),
          (SELECT array_agg(bi ORDER BY ip, bi) FROM (SELECT * FROM pairs WHERE ai = 3 ORDER BY ip, bi LIMIT 10) s),
          'the 10 nearest by inner product, as the SQL form orders them');

-- vector views
SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');
CREATE TABLE vdocs (id int PRIMARY KEY, emb real[] NOT NULL, title text);
INSERT INTO vdocs SELECT i, v, 'doc ' || i FROM vec;
CREATE TABLE vq (name text PRIMARY KEY, metric text, k int, q real[]);
INSERT INTO vq SELECT 'vv_' || m, m, k, (SELECT v FROM vec WHERE i = n)
FROM (VALUES ('l2', 5, 7), ('cosine', 8, 11), ('ip', 3, 13)) AS x(m, k, n);
SELECT ivm.create_vector_view(name, 'vdocs', 'emb', q, k => k, metric => metric, payload => ARRAY['title'])
FROM vq ORDER BY name;
SELECT ivm.create_vector_view('vv_big', 'vdocs', 'emb', (SELECT q FROM vq WHERE metric = 'l2'), k => 500);
CREATE MATERIALIZED VIEW vv_sql WITH (ivm.incremental) AS
  SELECT id, ivm.l2_distance(emb, '{0.5,-0.5}'::real[] || array_fill(0::real, ARRAY[126])) AS distance
  FROM vdocs ORDER BY distance, id LIMIT 6;

-- every vector view equals its brute-force query: the same rows in the same order, exactly
CREATE FUNCTION pg_temp.vv_check() RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE r record; differs boolean; bad bigint := 0;
BEGIN
    FOR r IN SELECT name, metric, k, q, 'id, distance, title' AS cols FROM vq
             UNION ALL SELECT 'vv_big', 'l2', 500, q, 'id, distance' FROM vq WHERE metric = 'l2' LOOP
        EXECUTE format($q$SELECT (SELECT array_agg(ROW(%5$s) ORDER BY t.distance, t.id) FROM (SELECT %5$s FROM %1$I) t)
                          IS DISTINCT FROM
                          (SELECT array_agg(ROW(%5$s) ORDER BY t.distance, t.id) FROM
                             (SELECT %5$s FROM (SELECT id, %2$s(emb, %3$L::real[]) AS distance, title
                                                  FROM vdocs ORDER BY distance, id LIMIT %4$s) b) t)$q$,
                       r.name,
                       CASE r.metric WHEN 'l2' THEN 'ivm.l2_distance' WHEN 'cosine' THEN 'ivm.cosine_distance'
                                     ELSE 'ivm.inner_product' END,
                       r.q::text, r.k, r.cols)
            INTO differs;
        IF differs THEN
            RAISE NOTICE 'vector view % differs from its query', r.name;
            bad := bad + 1;
        END IF;
    END LOOP;
    RETURN bad;
END $f$;
CREATE FUNCTION pg_temp.vv_sql_ok() RETURNS boolean LANGUAGE sql AS $f$
    SELECT (SELECT array_agg(ROW(t.id, t.distance) ORDER BY t.distance, t.id) FROM vv_sql t)
           IS NOT DISTINCT FROM
           (SELECT array_agg(ROW(t.id, t.distance) ORDER BY t.distance, t.id) FROM
              (SELECT id, ivm.l2_distance(emb, '{0.5,-0.5}'::real[] || array_fill(0::real, ARRAY[126])) AS distance
                 FROM vdocs ORDER BY distance, id LIMIT 6) t)
$f$;

SELECT is(pg_temp.vv_check(), 0::bigint, 'after creation every vector view equals its query');
SELECT is((SELECT count(*) FROM vv_l2), 5::bigint, 'vv_l2 holds k = 5 rows');
SELECT is((SELECT count(*) FROM vv_big), 60::bigint, 'k larger than the source: every row');
SELECT is((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'vv_cosine'::regclass AND attnum > 0),
          ARRAY['id', 'distance', 'title'], 'columns: the id, distance, then the payload');

-- inserts nearer than the k-th (copies of the query vectors) and far ones
INSERT INTO vdocs SELECT 100 + row_number() OVER (ORDER BY name), q, 'copy of ' || name FROM vq;
INSERT INTO vdocs SELECT 200 + i, array_fill(5::real, ARRAY[128]), 'far' FROM generate_series(1, 3) i;
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: inserts');
SELECT is(pg_temp.vv_check(), 0::bigint, 'after inserts nearer than the k-th');
SELECT is((SELECT strategy FROM ivm.evidence WHERE view = 'vv_l2' ORDER BY epoch DESC LIMIT 1), 'incremental',
          'maintained by delta rules');

-- deletes of members
DELETE FROM vdocs WHERE id IN (SELECT id FROM vv_l2 ORDER BY distance, id LIMIT 2)
                     OR id IN (SELECT id FROM vv_cosine ORDER BY distance, id LIMIT 3)
                     OR id IN (SELECT id FROM vv_ip LIMIT 1);
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: members deleted');
SELECT is(pg_temp.vv_check(), 0::bigint, 'after members were deleted: refilled');

-- updates moving vectors: members away, others nearer
UPDATE vdocs SET emb = (SELECT array_agg(-x ORDER BY o) FROM unnest(emb) WITH ORDINALITY u(x, o))
 WHERE id IN (SELECT id FROM vv_l2 LIMIT 2);
UPDATE vdocs SET emb = (SELECT q FROM vq WHERE metric = 'cosine') WHERE id IN (20, 21);
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: vectors moved');
SELECT is(pg_temp.vv_check(), 0::bigint, 'after vectors moved in and out');

-- exact ties: copies of a member under other ids, ordered by id
INSERT INTO vdocs SELECT 300 + i, (SELECT emb FROM vdocs WHERE id = (SELECT min(id) FROM vv_ip)), 'tie'
FROM generate_series(1, 4) i;
INSERT INTO vdocs SELECT 310 + i, (SELECT q FROM vq WHERE metric = 'l2'), 'tie at 0' FROM generate_series(1, 6) i;
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: ties');
SELECT is(pg_temp.vv_check(), 0::bigint, 'after exact ties in distance (broken by id)');
SELECT ok(pg_temp.vv_sql_ok(), 'a vector view written as CREATE MATERIALIZED VIEW equals its query');

-- the source emptied, then refilled
DELETE FROM vdocs;
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: source emptied');
SELECT is((SELECT count(*) FROM vv_l2) + (SELECT count(*) FROM vv_big), 0::bigint, 'the views are empty');
INSERT INTO vdocs SELECT i, v, 'again ' || i FROM vec WHERE i % 2 = 0;
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick: source refilled');
SELECT is(pg_temp.vv_check(), 0::bigint, 'after the source was refilled');
SELECT ok(pg_temp.vv_sql_ok(), 'and the CREATE MATERIALIZED VIEW form');

-- bad arguments: an error each, nothing created
CREATE TEMP TABLE vv_before AS SELECT count(*) AS n FROM ivm._views;
SELECT throws_ok($$SELECT ivm.create_vector_view('vv_bad', 'vdocs', 'emb', '{1,2}', metric => 'manhattan')$$,
                 '22023', 'invalid value for metric: ''manhattan''', 'an unknown metric');
SELECT throws_ok($$SELECT ivm.create_vector_view('vv_bad', 'vdocs', 'nope', '{1,2}')$$,
                 '42703', 'column "nope" of relation public.vdocs does not exist', 'a missing vector column');
SELECT throws_ok($$SELECT ivm.create_vector_view('vv_bad', 'vdocs', 'title', '{1,2}')$$,
                 '42804', 'column "title" of relation public.vdocs is text, not real[] or a type with the l2 distance operator <->', 'a column that is no vector');
SELECT throws_ok($$SELECT ivm.create_vector_view('vv_bad', 'vdocs', 'emb', '{1,2}', k => 0)$$,
                 '22023', 'k must be at least 1, not 0', 'k of 0');
SELECT throws_ok($$SELECT ivm.create_vector_view('vv_bad', 'vdocs', 'emb', NULL)$$,
                 '22004', 'arguments of a vector view must not be null', 'no query vector');
SELECT throws_ok($$SELECT ivm.create_vector_view('vv_bad', 'vdocs', 'emb', '{1,2}', payload => ARRAY['title', 'title'])$$,
                 '42701', 'the columns of a vector view must have distinct names, and none "distance"', 'a payload named twice');
SELECT throws_ok($$SELECT ivm.create_vector_view('vv_bad', 'vdocs', 'emb', '{0,0}', metric => 'cosine')$$,
                 '22000', 'ivm.cosine_distance of a zero vector', 'a zero query vector under cosine');
SELECT is((SELECT count(*) FROM ivm._views), (SELECT n FROM vv_before), 'the refusals created nothing');
-- the query vector is written into the view's query exactly, whatever extra_float_digits says
SET LOCAL extra_float_digits = -3;
SELECT is(substring(ivm.vector_view_query('vdocs', 'emb', '{0.12345678,1.0000001e-7,3.4028235e38}')
                    FROM '''([^'']*)''::real')::real[],
          '{0.12345678,1.0000001e-7,3.4028235e38}'::real[], 'the vector''s literal reads back exactly');
RESET extra_float_digits;

SELECT * FROM finish();
ROLLBACK;
