-- Small views over tiny tables (issue 22, "small views pay for JIT"):
--  (a) no JIT in ivm's statements: ticks, creation fills, REFRESH and
--      recomputes run with jit = off, whatever the session says.  The
--      session here asks for JIT of everything (jit = on, jit_above_cost =
--      0); whether this backend compiled anything shows in its memory map:
--      PostgreSQL loads its JIT provider (llvmjit.so) the first time a query
--      is compiled.  ivm is called through plpgsql simple expressions, which
--      the executor does not run (so not JIT-compiled themselves); a
--      control at the end compiles a query the same way and sees the
--      provider loaded (skipped when the server has no JIT provider).
--  (b) no plan of ivm's built on a never-analyzed table's default size:
--      PostgreSQL plans a table never vacuumed nor analyzed, of fewer than
--      10 pages, as 10 pages (2,000 rows and more).  ivm's own statements
--      see the three rows it holds: the delta query of a one-row change
--      joined to such a table with a primary key reads its one page rather
--      than probing the index built for two thousand rows (counted by
--      pg_stat_xact_user_tables).  The user's own queries keep
--      PostgreSQL's estimate, so do the queries a user's function runs
--      from inside a view's query (its lookups by primary key stay index
--      scans), and the depth setting that marks ivm's statements is not the
--      user's to set.
-- Each view is compared, as a multiset, with its query run directly.
-- Everything runs in one transaction: autovacuum cannot analyze the tables.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(19);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE tiny_a (a int, b int, x varchar(40));
CREATE TABLE tiny_b (a int, b int, x varchar(40));
CREATE TABLE tiny_c (a int, b int, x varchar(40));
CREATE TABLE tiny_d (a int, b int, x varchar(40));
CREATE TABLE tiny_pk (id int PRIMARY KEY, v int);
CREATE TABLE tiny_ref (pk int, w int);

-- a lookup in tiny_pk by a query of a user's function, called from inside
-- a view's query (so from inside ivm's statements): by its primary key
-- when the planner takes tiny_pk for PostgreSQL's 10 pages, by its one
-- page when it knows it holds 3 rows
CREATE FUNCTION tiny_lookup(k int) RETURNS int LANGUAGE plpgsql IMMUTABLE
  AS $$DECLARE r int; BEGIN SELECT p.v INTO r FROM public.tiny_pk p WHERE p.id = k; RETURN r; END$$;
-- whether this backend has compiled a query by JIT
CREATE FUNCTION pg_temp.jit_loaded() RETURNS bool LANGUAGE sql
  AS $$SELECT pg_catalog.pg_read_file('/proc/self/maps') LIKE '%llvmjit%'$$;
-- the plan of a query of the session itself, without running it
CREATE FUNCTION pg_temp.explain_json(q text) RETURNS json LANGUAGE plpgsql
  AS $$DECLARE j json; BEGIN EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO j; RETURN j; END$$;
-- ivm's work under a session that asks JIT for everything; each call is a
-- simple expression (no executor, no JIT of its own)
CREATE FUNCTION pg_temp.jit_everything(what text) RETURNS void LANGUAGE plpgsql
  SET jit = on SET jit_above_cost = 0 SET jit_inline_above_cost = 0 SET jit_optimize_above_cost = 0
  AS $$
DECLARE
  r record;
  t text;
BEGIN
  IF what = 'create' THEN
    t := ivm.create_view('tiny_cross', 'SELECT a.a, b.b AS bb, c.a AS ca, d.b AS db, a.x FROM tiny_a a, tiny_b b, tiny_c c, tiny_d d WHERE a.a + b.b > c.a - d.b')::text;
    t := ivm.create_view('tiny_agg', 'SELECT a.a, count(*) AS n, sum(b.b + c.b + d.b) AS s, min(c.x) AS lo FROM tiny_a a, tiny_b b, tiny_c c, tiny_d d WHERE a.b <> 2 GROUP BY a.a')::text;
    t := ivm.create_view('tiny_join', 'SELECT p.id, p.v, r.w FROM tiny_pk p JOIN tiny_ref r ON r.pk = p.id')::text;
    t := ivm.create_view('tiny_est', 'SELECT id, public.tiny_lookup(id) AS v2 FROM tiny_pk')::text;
  ELSIF what = 'tick' THEN
    r := ivm.tick();
  ELSIF what = 'refresh' THEN
    t := ivm.refresh('tiny_agg')::text;
  ELSIF what = 'recompute' THEN
    SET LOCAL ivm.full_recompute = on;
    r := ivm.tick();
  ELSIF what = 'control' THEN
    EXECUTE 'SELECT count(*) FROM tiny_a, tiny_b' INTO r;
  END IF;
END
$$;

SELECT ok(NOT pg_temp.jit_loaded(), 'no JIT in this backend yet');
SELECT pg_temp.jit_everything('create');
INSERT INTO tiny_a VALUES (1, 2, 'a1'), (2, 3, 'a2'), (3, 1, 'a3');
INSERT INTO tiny_b VALUES (1, 2, 'b1'), (2, 3, 'b2'), (3, 1, 'b3');
INSERT INTO tiny_c VALUES (1, 2, 'c1'), (2, 3, 'c2'), (3, 1, 'c3');
INSERT INTO tiny_d VALUES (1, 2, 'd1'), (2, 3, 'd2'), (3, 1, 'd3');
INSERT INTO tiny_pk VALUES (1, 10), (2, 20), (3, 30);
INSERT INTO tiny_ref VALUES (1, 100), (2, 200);
SELECT pg_temp.jit_everything('tick');
SELECT ok(NOT pg_temp.jit_loaded(), 'creation fills and the first tick compiled nothing by JIT');

-- (b) the one-row tick: tiny_pk read by its one page
SELECT seq_scan AS seq0, coalesce(idx_scan, 0) AS idx0 FROM pg_stat_xact_user_tables
 WHERE relid = 'tiny_pk'::regclass \gset
INSERT INTO tiny_ref VALUES (3, 300);
INSERT INTO tiny_a VALUES (4, 4, 'a4');
SELECT pg_temp.jit_everything('tick');
SELECT ok(seq_scan > :seq0 AND coalesce(idx_scan, 0) = :idx0,
          'the delta query read tiny_pk (3 rows, never analyzed) by its one page, not through its index')
  FROM pg_stat_xact_user_tables WHERE relid = 'tiny_pk'::regclass;
SELECT ok(NOT pg_temp.jit_loaded(), 'a one-row tick compiled nothing by JIT');

SELECT pg_temp.jit_everything('refresh');
SELECT ok(NOT pg_temp.jit_loaded(), 'ivm.refresh compiled nothing by JIT');
DELETE FROM tiny_b WHERE a = 2;
INSERT INTO tiny_pk VALUES (4, 40);
SELECT coalesce(idx_scan, 0) AS idx1 FROM pg_stat_xact_user_tables WHERE relid = 'tiny_pk'::regclass \gset
SELECT pg_temp.jit_everything('recompute');
SELECT ok(coalesce(idx_scan, 0) >= :idx1 + 4,
          'a query a user''s function runs inside ivm''s statements is planned as PostgreSQL plans it (tiny_pk by its index)')
  FROM pg_stat_xact_user_tables WHERE relid = 'tiny_pk'::regclass;
SELECT ok(NOT pg_temp.jit_loaded(), 'a recompute (ivm.full_recompute) compiled nothing by JIT');

SELECT is((SELECT strategy FROM ivm.evidence WHERE ivm.evidence.view = 'tiny_agg'
            ORDER BY epoch DESC LIMIT 1), 'recompute', 'the last tick recomputed');

-- every view equals its query (multiset, both ways)
SELECT is((SELECT count(*) FROM ((SELECT * FROM tiny_cross EXCEPT ALL
             SELECT a.a, b.b, c.a, d.b, a.x FROM tiny_a a, tiny_b b, tiny_c c, tiny_d d WHERE a.a + b.b > c.a - d.b)
           UNION ALL (SELECT a.a, b.b, c.a, d.b, a.x FROM tiny_a a, tiny_b b, tiny_c c, tiny_d d WHERE a.a + b.b > c.a - d.b
             EXCEPT ALL SELECT * FROM tiny_cross)) x), 0::bigint, 'tiny_cross equals its query');
SELECT ok((SELECT count(*) FROM tiny_cross) > 20, 'tiny_cross holds rows');
SELECT is((SELECT count(*) FROM ((SELECT * FROM tiny_agg EXCEPT ALL
             SELECT a.a, count(*), sum(b.b + c.b + d.b), min(c.x) FROM tiny_a a, tiny_b b, tiny_c c, tiny_d d WHERE a.b <> 2 GROUP BY a.a)
           UNION ALL (SELECT a.a, count(*), sum(b.b + c.b + d.b), min(c.x) FROM tiny_a a, tiny_b b, tiny_c c, tiny_d d WHERE a.b <> 2 GROUP BY a.a
             EXCEPT ALL SELECT * FROM tiny_agg)) x), 0::bigint, 'tiny_agg equals its query');
SELECT is((SELECT count(*) FROM ((SELECT * FROM tiny_join EXCEPT ALL
             SELECT p.id, p.v, r.w FROM tiny_pk p JOIN tiny_ref r ON r.pk = p.id)
           UNION ALL (SELECT p.id, p.v, r.w FROM tiny_pk p JOIN tiny_ref r ON r.pk = p.id
             EXCEPT ALL SELECT * FROM tiny_join)) x), 0::bigint, 'tiny_join equals its query');

-- the user's own plans: PostgreSQL's estimate, even right after a tick
SELECT cmp_ok((SELECT (j -> 0 -> 'Plan' ->> 'Plan Rows')::float8
                 FROM (SELECT pg_temp.explain_json('SELECT * FROM tiny_pk') AS j) e), '>', 1000::float8,
              'the user''s own query plans tiny_pk at PostgreSQL''s default size');
SELECT is((SELECT count(*) FROM ((SELECT * FROM tiny_est EXCEPT ALL SELECT id, tiny_lookup(id) FROM tiny_pk)
           UNION ALL (SELECT id, tiny_lookup(id) FROM tiny_pk EXCEPT ALL SELECT * FROM tiny_est)) x), 0::bigint,
          'tiny_est equals its query');
SELECT is(current_setting('ivm.statement_level'), '-1', 'ivm.statement_level is -1 outside ivm''s work');
SELECT throws_ok($$SET ivm.statement_level = 0$$, '55P02', NULL, 'ivm.statement_level cannot be set by a user');
SELECT throws_ok($$SELECT set_config('ivm.statement_level', '0', true)$$, '55P02', NULL,
                 'nor by set_config');

-- the control: a query compiled the same way loads the JIT provider
SELECT pg_temp.jit_everything('control');
SELECT CASE WHEN pg_jit_available() THEN ok(pg_temp.jit_loaded(), 'control: a query of the session itself is compiled by JIT')
            ELSE skip('this server has no JIT provider', 1) END;

SELECT * FROM finish();
ROLLBACK;
