-- Attacks of an ordinary role, mallory, on alice's views that need no
-- right on alice's tables (issue 21, second attack):
--  (a) a trigger of hers named like a capture trigger (ivm_capture_<id>_ins
--      for alice's source id, which ivm._sources shows to everyone): on a
--      partition she attaches to a table alice's view reads, it passed for
--      the capture trigger and the partition went uncaptured; dropped with
--      her own table, it marked alice's source for recompute.  Such names
--      are ivm's: refused (42501), CREATE and RENAME alike.
--  (b) the session that ticks: any role may tick, and settings that change
--      what a query returns (GIN's fuzzy limit, array_nulls, "= NULL",
--      time zone abbreviations) must not reach the values stored in
--      alice's views, on a recompute (ivm.full_recompute, which any role
--      may set) or on delta rules.
-- Each view is compared, as a multiset, with its query run directly (in a
-- session with the defaults).
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(15);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE ROLE ivm_g_alice;
CREATE ROLE ivm_g_mallory;
CREATE SCHEMA g_alice AUTHORIZATION ivm_g_alice;
CREATE SCHEMA g_mallory AUTHORIZATION ivm_g_mallory;

-- (a) trigger names
SET LOCAL ROLE ivm_g_mallory;
CREATE TABLE g_mallory.parts (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE g_mallory.parts_1 PARTITION OF g_mallory.parts FOR VALUES FROM (0) TO (100);
GRANT SELECT ON g_mallory.parts TO ivm_g_alice;
GRANT USAGE ON SCHEMA g_mallory TO ivm_g_alice;
CREATE FUNCTION g_mallory.noop() RETURNS trigger LANGUAGE plpgsql AS $f$BEGIN RETURN NULL; END$f$;
RESET ROLE;
SET LOCAL ROLE ivm_g_alice;
CREATE TABLE g_alice.t (id int PRIMARY KEY, v int, tags text[], at timestamptz);
INSERT INTO g_alice.t SELECT g, g % 7, ARRAY['x', 'y' || g % 3], '2024-01-01 10:00 UTC'::timestamptz + g * interval '1 hour'
  FROM generate_series(1, 3000) g;
CREATE INDEX ON g_alice.t USING gin (tags);
SELECT lives_ok($$SELECT ivm.create_view('g_alice.over_parts', 'SELECT id, v FROM g_mallory.parts')$$,
                'alice: a view over mallory''s partitioned table');
SELECT lives_ok($$SELECT ivm.create_view('g_alice.t_x', $q$SELECT v, count(*) AS n FROM g_alice.t WHERE tags @> '{x}' GROUP BY v$q$)$$,
                'alice: an aggregate over a GIN-indexed filter');
RESET ROLE;

SELECT id AS parts_source FROM ivm._sources WHERE relid = 'g_mallory.parts'::regclass \gset
SELECT id AS t_source FROM ivm._sources WHERE relid = 'g_alice.t'::regclass \gset
SET LOCAL ROLE ivm_g_mallory;
CREATE TABLE g_mallory.parts_2 (id int, v int);
SELECT throws_ok(format($$CREATE TRIGGER ivm_capture_%s_ins AFTER INSERT ON g_mallory.parts_2
                          FOR EACH STATEMENT EXECUTE FUNCTION g_mallory.noop()$$, :parts_source),
                 '42501', NULL, 'mallory: a trigger named as the capture trigger of her partitioned table''s source is refused');
CREATE TRIGGER other_name AFTER INSERT ON g_mallory.parts_2 FOR EACH STATEMENT EXECUTE FUNCTION g_mallory.noop();
SELECT throws_ok(format($$ALTER TRIGGER other_name ON g_mallory.parts_2 RENAME TO ivm_capture_%s_ins$$, :parts_source),
                 '42501', NULL, 'mallory: renaming a trigger of hers to such a name is refused');
CREATE TABLE g_mallory.scratch (a int);
SELECT throws_ok(format($$CREATE TRIGGER ivm_capture_%s_ins AFTER INSERT ON g_mallory.scratch
                          FOR EACH STATEMENT EXECUTE FUNCTION g_mallory.noop()$$, :t_source),
                 '42501', NULL, 'mallory: a trigger named as the capture trigger of alice''s source is refused');
ALTER TABLE g_mallory.parts ATTACH PARTITION g_mallory.parts_2 FOR VALUES FROM (100) TO (200);
INSERT INTO g_mallory.parts VALUES (1, 1), (150, 2);
DROP TABLE g_mallory.scratch;
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'tick after the attached partition''s insert');
SELECT set_eq($$SELECT id, v FROM g_alice.over_parts$$, $$SELECT id, v FROM g_mallory.parts$$,
              'alice''s view holds the row written to the attached partition');
SELECT is((SELECT count(*) FROM ivm._truncated WHERE relid = 'g_alice.t'::regclass), 0::bigint,
          'dropping mallory''s table marked nothing of alice''s for recompute');

-- (b) the ticking session's settings
UPDATE g_alice.t SET v = v + 1 WHERE id % 50 = 0;
SET LOCAL ROLE ivm_g_mallory;
SET LOCAL gin_fuzzy_search_limit = 10;
SET LOCAL enable_seqscan = off;
SET LOCAL ivm.full_recompute = on;
SET LOCAL array_nulls = off;
SET LOCAL transform_null_equals = on;
SET LOCAL timezone_abbreviations = 'India';
SELECT lives_ok($$SELECT ivm.tick()$$, 'mallory ticks with a fuzzy GIN limit, full recompute and odd parsing');
RESET ROLE;
RESET gin_fuzzy_search_limit;
RESET enable_seqscan;
RESET ivm.full_recompute;
RESET array_nulls;
RESET transform_null_equals;
RESET timezone_abbreviations;
SELECT set_eq($$SELECT v, n FROM g_alice.t_x$$,
              $$SELECT v, count(*) FROM g_alice.t WHERE tags @> '{x}' GROUP BY v$$,
              'alice''s GIN-filtered aggregate is whole after mallory''s recompute');
SELECT is((SELECT sum(n) FROM g_alice.t_x), 3000::numeric, 'every row counted');

-- views whose queries parse arrays, "= NULL" and time zone abbreviations
SET LOCAL ROLE ivm_g_alice;
SELECT lives_ok($$SELECT ivm.create_view('g_alice.parsed', $q$SELECT id, tags || '{z,NULL}'::text[] AS tags2,
                   (v = NULL) AS v_eq_null, at < '2024-01-02 00:00 IST'::timestamptz AS early
                   FROM g_alice.t WHERE id <= 40$q$)$$,
                'alice: a view that parses an array, "= NULL" and an abbreviation');
RESET ROLE;
UPDATE g_alice.t SET v = v + 1 WHERE id <= 40;
SET LOCAL ROLE ivm_g_mallory;
SET LOCAL array_nulls = off;
SET LOCAL transform_null_equals = on;
SET LOCAL timezone_abbreviations = 'India';
SELECT lives_ok($$SELECT ivm.tick()$$, 'mallory ticks alice''s delta under those settings');
RESET ROLE;
RESET array_nulls;
RESET transform_null_equals;
RESET timezone_abbreviations;
SELECT set_eq($$SELECT id, tags2::text, v_eq_null, early FROM g_alice.parsed$$,
              $$SELECT id, (tags || '{z,NULL}'::text[])::text AS tags2, (v = NULL) AS v_eq_null,
                       at < '2024-01-02 00:00 IST'::timestamptz AS early
                  FROM g_alice.t WHERE id <= 40$$,
              'alice''s view holds the values of her query under the defaults');

SELECT * FROM finish();
ROLLBACK;
