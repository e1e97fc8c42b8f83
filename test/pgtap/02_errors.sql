-- Errors of the public API: each refusal comes with the SQLSTATE a client
-- can rely on (SPEC.md sections 2 and 3).
BEGIN;
SELECT plan(51);

CREATE TABLE e_t (k int, x int);
INSERT INTO e_t VALUES (1, 10), (2, 20);
CREATE TABLE e_other (a int);
SELECT lives_ok($$SELECT ivm.create_view('e_v', 'SELECT k, count(*) AS n, sum(x) AS s FROM e_t GROUP BY k')$$,
                'create_view of a plain GROUP BY view works');

-- unknown views: the regclass argument fails first
SELECT throws_ok($$SELECT ivm.watch('nosuch')$$, '42P01', NULL,
                 'ivm.watch of an unknown relation: 42P01');
SELECT throws_ok($$SELECT ivm.unwatch('nosuch')$$, '42P01', NULL,
                 'ivm.unwatch of an unknown relation: 42P01');
SELECT throws_ok($$SELECT * FROM ivm.changes('nosuch')$$, '42P01', NULL,
                 'ivm.changes of an unknown relation: 42P01');
SELECT throws_ok($$SELECT ivm.explain('nosuch')$$, '42P01', NULL,
                 'ivm.explain of an unknown relation: 42P01');
SELECT throws_ok($$SELECT ivm.refresh('nosuch')$$, '42P01', NULL,
                 'ivm.refresh of an unknown relation: 42P01');
SELECT throws_ok($$SELECT ivm.drop_view('nosuch')$$, '42P01', NULL,
                 'ivm.drop_view of an unknown relation: 42P01');

-- relations that exist but are not incremental views
CREATE VIEW e_plain AS SELECT 1 AS one;
SELECT throws_ok($$SELECT ivm.watch('e_t')$$, '42809', NULL,
                 'ivm.watch of a table: 42809 (wrong object type)');
SELECT throws_ok($$SELECT * FROM ivm.changes('e_plain')$$, '42809', NULL,
                 'ivm.changes of an ordinary view: 42809');
SELECT throws_ok($$SELECT ivm.drop_view('e_plain')$$, '42809', NULL,
                 'ivm.drop_view of an ordinary view: 42809');
SELECT throws_ok($$SELECT ivm.explain('e_t')$$, '42809', NULL,
                 'ivm.explain of a table: 42809');
SELECT throws_ok($$SELECT ivm.refresh('e_t')$$, '42809', NULL,
                 'ivm.refresh of a table: 42809');

-- duplicate names
SELECT throws_ok($$SELECT ivm.create_view('e_v', 'SELECT 1 AS one')$$, '42P07', NULL,
                 'create_view with the name of an existing incremental view: 42P07');
SELECT throws_ok($$SELECT ivm.create_view('e_t', 'SELECT 1 AS one')$$, '42P07', NULL,
                 'create_view with the name of an existing table: 42P07');
SELECT throws_ok($$CREATE MATERIALIZED VIEW e_v WITH (ivm.incremental) AS SELECT 1 AS one$$,
                 '42P07', NULL, 'CREATE MATERIALIZED VIEW ... WITH (ivm.incremental) of an existing name: 42P07');

-- queries that cannot be maintained
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT k, random() AS r FROM e_t')$$, '0A000', NULL,
                 'a query with random() is refused: 0A000');
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT k, clock_timestamp() AS c FROM e_t')$$, '0A000', NULL,
                 'a query with clock_timestamp() is refused: 0A000');
CREATE SEQUENCE e_seq;
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT k, nextval(''e_seq'') AS n FROM e_t')$$, '0A000', NULL,
                 'a query with nextval() is refused: 0A000');
SELECT throws_ok($$CREATE MATERIALIZED VIEW e_bad WITH (ivm.incremental) AS SELECT random() AS r$$,
                 '0A000', NULL, 'CREATE MATERIALIZED VIEW ... WITH (ivm.incremental) with random(): 0A000');
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELEC k FROM e_t')$$, '42601', NULL,
                 'a query with a syntax error: 42601');
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT nosuchcol FROM e_t')$$, '42703', NULL,
                 'a query naming an unknown column: 42703');
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT * FROM e_t FOR UPDATE')$$, '0A000', NULL,
                 'a query with FOR UPDATE is refused: 0A000');
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'WITH w AS (INSERT INTO e_other VALUES (1) RETURNING a) SELECT a FROM w')$$,
                 '0A000', NULL, 'a data-modifying WITH is refused: 0A000');
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT relname FROM pg_catalog.pg_class')$$, '0A000', NULL,
                 'a query reading a system catalog is refused: 0A000');
CREATE MATERIALIZED VIEW e_mat AS SELECT * FROM e_t;
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT * FROM e_mat')$$, '0A000', NULL,
                 'a query reading an ordinary materialized view is refused: 0A000');
CREATE TEMP TABLE e_temp (a int);
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT a FROM e_temp')$$, '0A000', NULL,
                 'a temporary table as a source is refused: 0A000');
SELECT throws_ok($$SELECT ivm.create_view('pg_temp.e_bad', 'SELECT a FROM e_other')$$, '0A000', NULL,
                 'a temporary incremental view is refused: 0A000');
SELECT throws_ok($$SELECT ivm.create_view('ivm.e_bad', 'SELECT a FROM e_other')$$, '42501', NULL,
                 'an incremental view in schema ivm is refused: 42501');
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT a AS __ivm_a FROM e_other')$$, '42939', NULL,
                 'a column named with the reserved prefix __ivm_ is refused: 42939');
SELECT throws_ok($$SELECT ivm.create_view(NULL, 'SELECT a FROM e_other')$$, '22004', NULL,
                 'a null name is refused: 22004');
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT a FROM e_other', '[1]')$$, '22023', NULL,
                 'options that are not a JSON object: 22023');
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT a FROM e_other', '{"mode": "fast"}')$$, '22023', NULL,
                 'an invalid mode: 22023');
SELECT throws_ok($$SELECT ivm.create_view('e_bad', 'SELECT a FROM e_other', '{"no_such_option": 1}')$$, '22023', NULL,
                 'an unknown option: 22023');
SELECT is((SELECT count(*)::int FROM ivm.views WHERE name::text = 'e_bad'), 0,
          'no refused view left a row in ivm.views');

-- DDL that would break a view
SELECT throws_ok($$DROP TABLE e_t$$, '2BP01', NULL,
                 'DROP TABLE of a source without CASCADE: 2BP01');
SELECT throws_ok($$ALTER TABLE e_t DROP COLUMN x$$, '2BP01', NULL,
                 'ALTER TABLE DROP COLUMN of a column the view reads: 2BP01');
-- ALTER COLUMN TYPE: refused with a clear error (0A000 for an ordinary view), or
-- handled; never an internal error.  pg_temp.outcome() runs a statement and
-- undoes it, returning 'ok' or the SQLSTATE it raised.
CREATE FUNCTION pg_temp.outcome(stmt text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    BEGIN
        EXECUTE stmt;
        RAISE SQLSTATE 'ZZ000';
    EXCEPTION WHEN OTHERS THEN
        RETURN CASE WHEN SQLSTATE = 'ZZ000' THEN 'ok' ELSE SQLSTATE END;
    END;
END
$f$;
SELECT doesnt_match(pg_temp.outcome('ALTER TABLE e_t ALTER COLUMN x TYPE bigint'), '^XX',
              'ALTER COLUMN TYPE of a column the view reads: refused or handled, not an internal error');
SELECT lives_ok($$SELECT ivm.create_view('e_v2', 'SELECT k FROM e_v WHERE n > 0')$$,
                'a view on the view');
SELECT throws_ok($$DROP VIEW e_v$$, '2BP01', NULL,
                 'DROP VIEW of a view another view reads: 2BP01');
SELECT throws_ok($$SELECT ivm.drop_view('e_v')$$, '2BP01', NULL,
                 'ivm.drop_view of a view another view reads: 2BP01');

-- direct writes to a view and to its storage
SELECT throws_ok($$INSERT INTO e_v VALUES (9, 9, 9)$$, '42809', NULL,
                 'INSERT into an incremental view is refused: 42809');
SELECT throws_ok($$UPDATE e_v SET n = n + 1$$, '42809', NULL,
                 'UPDATE of an incremental view is refused: 42809');
SELECT throws_ok($$DELETE FROM e_v$$, '42809', NULL,
                 'DELETE from an incremental view is refused: 42809');
SELECT throws_ok(format('INSERT INTO %s VALUES (9, 9, 9)',
                        (SELECT storage FROM ivm.views WHERE name = 'e_v'::regclass)),
                 '42501', NULL, 'INSERT into the storage of a view is refused: 42501');
SELECT throws_ok(format('DELETE FROM %s',
                        (SELECT storage FROM ivm.views WHERE name = 'e_v'::regclass)),
                 '42501', NULL, 'DELETE from the storage of a view is refused: 42501');

-- watches
SELECT throws_ok($$SELECT * FROM ivm.changes('e_v')$$, '55000', NULL,
                 'ivm.changes of a view that is not watched: 55000');

-- helpers any role may call: counts that no longer fit a bigint are an
-- error, as bigint + is, never a silent wrap
SET LOCAL ROLE pg_read_all_data;
SELECT throws_ok($$SELECT ivm.numeric_counts_add('{9223372036854775807}', '{1}')$$, '22003', 'bigint out of range',
                 'numeric_counts_add past the largest bigint: 22003');
SELECT throws_ok($$SELECT ivm.numeric_counts_add('{0,0,0,-9223372036854775808}', '{0,0,0,-1}')$$, '22003',
                 'bigint out of range', 'numeric_counts_add past the smallest bigint: 22003');
SELECT is(ivm.numeric_counts_add('{9223372036854775806,NULL,5}', '{1,3}'), '{9223372036854775807,3,5}'::bigint[],
          'numeric_counts_add up to the largest bigint (a NULL count is 0)');
SELECT throws_ok($$SELECT ivm.numeric_counts(x, w) FROM (VALUES (1.5, 9223372036854775807), (2.5, 1)) v(x, w)$$,
                 '22003', 'bigint out of range', 'the numeric_counts aggregate past the largest bigint: 22003');
SELECT is((SELECT ivm.numeric_counts(x, w) FROM (VALUES (1.5, 9223372036854775806), (2.5, 1), ('NaN', 2)) v(x, w)),
          '{2,0,0,0,9223372036854775807}'::bigint[], 'the numeric_counts aggregate up to the largest bigint');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
