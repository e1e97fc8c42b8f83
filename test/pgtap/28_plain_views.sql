-- Queries over ordinary (plain) views (issue 22, coverage): a plain view the
-- query reads is written in as a subquery when that keeps the query's
-- rights (the view's owner owns the plain view, or it is security_invoker;
-- not security_barrier), then flattened or kept as a hidden view like any
-- subquery, so the view has delta rules.  Otherwise the plain view stays
-- and the view is diffed, reading it with its owner's rights as PostgreSQL
-- does.  DROP VIEW of a plain view an incremental view reads is refused
-- without CASCADE either way.  Each view is compared, as a multiset, with
-- its query run directly; the attacker (mallory) reads another role's
-- plain view and must see no more than it shows.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(27);
\ir lib/views.psql

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE pv_t (id int PRIMARY KEY, k int, v int);
CREATE TABLE pv_c (k int PRIMARY KEY, name text);
INSERT INTO pv_t SELECT g, g % 7, (g * 13) % 50 FROM generate_series(1, 200) g;
INSERT INTO pv_c SELECT g, 'c' || g FROM generate_series(0, 5) g;
CREATE VIEW pv_big AS SELECT id, k, v * 2 AS v2 FROM pv_t WHERE v > 10;
CREATE VIEW pv_named AS SELECT b.id, b.v2, c.name FROM pv_big b JOIN pv_c c ON c.k = b.k;
CREATE VIEW pv_sums AS SELECT k, sum(v) AS s, count(*) AS n FROM pv_t GROUP BY k;
CREATE VIEW pv_inv WITH (security_invoker = true) AS SELECT id, k FROM pv_t WHERE v < 30;
CREATE VIEW pv_barrier WITH (security_barrier = true) AS SELECT id, k, v FROM pv_t WHERE k > 2;
CREATE VIEW pv_renamed (a, b) AS SELECT id, v FROM pv_t WHERE k <> 2;
ALTER VIEW pv_renamed RENAME COLUMN b TO bb;

CREATE TEMP TABLE pv_views (name text, query text);
INSERT INTO pv_views VALUES
  ('pv_rows',    'SELECT id, v2 FROM pv_big WHERE k < 5'),
  ('pv_agg',     'SELECT k, count(*) AS n, sum(v2) AS s FROM pv_big GROUP BY k'),
  ('pv_nested',  'SELECT name, count(*) AS n, max(v2) AS m FROM pv_named GROUP BY name'),
  ('pv_joined',  'SELECT s.k, s.s, c.name FROM pv_sums s JOIN pv_c c ON c.k = s.k WHERE s.n > 3'),
  ('pv_invoker', 'SELECT k, count(*) AS n FROM pv_inv GROUP BY k'),
  ('pv_sb',      'SELECT id, v FROM pv_barrier WHERE v > 5'),
  ('pv_renamed_join', 'SELECT r.bb, count(*) AS n FROM pv_renamed r JOIN pv_c c ON c.k = r.a % 6 GROUP BY r.bb');
SELECT ivm.create_view(name, query) FROM pv_views;
SELECT is(pg_temp.wrong('pv_views'), '', 'after creation every view equals its query');
SELECT is((SELECT string_agg(name::text || ' ' || strategy, ', ' ORDER BY name::text) FROM ivm.views
            WHERE name::text LIKE 'pv\_%'),
          'pv_agg incremental, pv_invoker incremental, pv_joined incremental, pv_nested incremental, pv_renamed_join incremental, pv_rows incremental, pv_sb diff',
          'views over plain views have delta rules; over a security_barrier view, diff');
SELECT ok((SELECT query NOT LIKE '%pv_big%' FROM ivm.views WHERE name = 'pv_rows'::regclass),
          'the stored query reads the plain view''s table');
SELECT matches(ivm.explain('pv_sb'), 'pv_barrier", an ordinary view',
               'explain says the security_barrier view keeps its view diffed');

INSERT INTO pv_t SELECT g, g % 9, (g * 7) % 60 FROM generate_series(201, 260) g;
UPDATE pv_t SET v = v + 17 WHERE id % 5 = 0;
DELETE FROM pv_t WHERE id % 11 = 0;
UPDATE pv_c SET name = 'renamed' WHERE k = 3;
SELECT lives_ok($$SET LOCAL ivm.fallback_ratio = 1000; SELECT ivm.tick()$$, 'a tick over changes of the tables under the plain views');
SELECT is(pg_temp.wrong('pv_views'), '', 'every view equals its query');
SELECT is((SELECT coalesce(string_agg(e.view::text, ', ' ORDER BY e.view::text), '') FROM ivm.evidence e
            WHERE e.epoch = (SELECT max(epoch) FROM ivm.evidence) AND e.strategy <> 'incremental'
              AND e.view::text <> 'pv_sb'),
          '', 'the tick maintained them by delta rules');

-- dependencies: the plain views are still depended on
SELECT throws_ok($$DROP VIEW pv_big$$, '2BP01', NULL, 'DROP VIEW of a plain view an incremental view read is refused');
SELECT throws_ok($$DROP VIEW pv_sums$$, '2BP01', NULL, 'and of one written in as a hidden view');
SELECT throws_ok($$ALTER TABLE pv_t DROP COLUMN v$$, '2BP01', NULL, 'dropping a column under it is refused');
SELECT throws_ok($$CREATE OR REPLACE VIEW pv_big AS SELECT id, k, v * 3 AS v2 FROM pv_t WHERE v > 10$$, '0A000', NULL,
                 'CREATE OR REPLACE VIEW of a plain view written into an incremental view is refused');
SELECT lives_ok($$CREATE OR REPLACE VIEW pv_barrier WITH (security_barrier = true) AS SELECT id, k, v FROM pv_t WHERE k > 2$$,
                'of one an incremental view reads as it is, allowed');
SELECT lives_ok($$DROP VIEW pv_named CASCADE$$, 'DROP VIEW ... CASCADE of a plain view');
SELECT is((SELECT count(*)::int FROM ivm.views WHERE name::text = 'pv_nested'), 0,
          'takes the incremental view over it along');
DELETE FROM pv_views WHERE name = 'pv_nested';

-- rights: alice's plain views, mallory's views over them
CREATE ROLE ivm_pv_alice;
CREATE ROLE ivm_pv_mallory;
GRANT CREATE, USAGE ON SCHEMA public TO ivm_pv_alice, ivm_pv_mallory;
SET ROLE ivm_pv_alice;
CREATE TABLE pv_secret (id int PRIMARY KEY, who text, secret text);
INSERT INTO pv_secret SELECT g, (ARRAY['mallory', 'alice', 'bob'])[g % 3 + 1], 's' || g FROM generate_series(1, 30) g;
CREATE VIEW pv_mine AS SELECT id, secret FROM pv_secret WHERE who = 'mallory';
CREATE VIEW pv_mine_inv WITH (security_invoker = true) AS SELECT id, secret FROM pv_secret WHERE who = 'mallory';
CREATE TABLE pv_public (id int PRIMARY KEY, x int);
INSERT INTO pv_public SELECT g, g % 4 FROM generate_series(1, 20) g;
CREATE VIEW pv_public_inv WITH (security_invoker = true) AS SELECT id, x FROM pv_public WHERE x > 0;
GRANT SELECT ON pv_mine, pv_mine_inv, pv_public, pv_public_inv TO ivm_pv_mallory;
RESET ROLE;

SET ROLE ivm_pv_mallory;
-- her own plain view over alice's table: it reads as mallory, so it fails as PostgreSQL would
CREATE VIEW pv_grab AS SELECT id, who, secret FROM pv_secret;
SELECT throws_ok($$SELECT ivm.create_view('pv_m_grab', 'SELECT * FROM pv_grab')$$, '42501', NULL,
                 'a view over one''s own plain view of a table one cannot read is refused');
SELECT throws_ok($$SELECT * FROM pv_grab$$, '42501', NULL, 'as reading that plain view is');
SELECT throws_ok($$SELECT ivm.create_view('pv_m_inv', 'SELECT * FROM pv_mine_inv')$$, '42501', NULL,
                 'a view over another''s security_invoker view of a table one cannot read is refused');
-- alice's plain view runs as alice: read through it, diffed
SELECT lives_ok($$SELECT ivm.create_view('pv_m_mine', 'SELECT id, secret FROM pv_mine')$$,
                'a view over another role''s plain view');
SELECT lives_ok($$SELECT ivm.create_view('pv_m_pub', 'SELECT x, count(*) AS n FROM pv_public_inv GROUP BY x')$$,
                'a view over another role''s security_invoker view of a table one can read');
RESET ROLE;
INSERT INTO pv_views VALUES ('pv_m_mine', 'SELECT id, secret FROM pv_mine'),
                            ('pv_m_pub', 'SELECT x, count(*) AS n FROM pv_public_inv GROUP BY x');
SELECT is((SELECT string_agg(name::text || ' ' || strategy, ', ' ORDER BY name::text) FROM ivm.views
            WHERE name::text LIKE 'pv\_m\_%'),
          'pv_m_mine diff, pv_m_pub incremental',
          'another role''s plain view keeps the view diffed; a security_invoker one is written in');
SET ROLE ivm_pv_alice;
INSERT INTO pv_secret SELECT g, (ARRAY['mallory', 'alice', 'bob'])[g % 3 + 1], 't' || g FROM generate_series(31, 60) g;
UPDATE pv_secret SET who = 'alice' WHERE id = 3;
INSERT INTO pv_public SELECT g, g % 5 FROM generate_series(21, 40) g;
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick');
SELECT is(pg_temp.wrong('pv_views'), '', 'every view equals its query');
SET ROLE ivm_pv_mallory;
SELECT is((SELECT count(*)::int FROM pv_m_mine m
            WHERE NOT EXISTS (SELECT 1 FROM pv_mine p WHERE p.id = m.id AND p.secret = m.secret)), 0,
          'mallory''s view over alice''s plain view shows only what the plain view shows');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM pv_m_mine), (SELECT count(*)::int FROM pv_secret WHERE who = 'mallory'),
          'and all of it');
-- alice takes back mallory's right to her table: mallory's view fails as its query would
SET ROLE ivm_pv_alice;
REVOKE SELECT ON pv_public FROM ivm_pv_mallory;
INSERT INTO pv_public VALUES (41, 1);
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick after the right was taken back');
SELECT is((SELECT state || ' ' || error_sqlstate FROM ivm.views WHERE name = 'pv_m_pub'::regclass),
          'failed 42501', 'the view over the security_invoker view fails as its owner''s query would');

SELECT * FROM finish();
ROLLBACK;
