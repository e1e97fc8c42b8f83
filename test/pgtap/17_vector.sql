-- Distance functions of vector views (issue 12): ivm.l2_distance,
-- ivm.cosine_distance, ivm.inner_product on real[].  Hand-checked values,
-- each bad input an error that says which, and on seeded random vectors the
-- same results as the distances written in SQL (to single precision: the C
-- loops sum in float, in an order the compiler may change).
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(27);

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

SELECT * FROM finish();
ROLLBACK;
