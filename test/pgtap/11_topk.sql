-- Top-k views and hidden views (issue 10): a query ending in ORDER BY ...
-- LIMIT keeps the query under it whole in a hidden view, maintained by delta
-- rules and indexed on the sort keys, and re-reads its first rows after each
-- change.  Each view is compared with its query run directly, as a multiset,
-- after every tick; hidden views are part of their view (listed apart,
-- dropped with it, not droppable alone, not readable by other roles).
BEGIN;
SET LOCAL client_min_messages = warning;
-- small views: keep the fallback to recompute out of the way of delta rules
SET LOCAL ivm.fallback_ratio = 1000;
SELECT plan(36);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE tk_t (id int PRIMARY KEY, k int, v int, s text);
CREATE TABLE tk_d (k int PRIMARY KEY, name text);
INSERT INTO tk_t SELECT g, g % 8, CASE WHEN g % 10 = 0 THEN NULL ELSE g * 37 % 101 END,
                        (ARRAY['a', 'B', 'c', NULL])[g % 4 + 1] FROM generate_series(1, 300) g;
INSERT INTO tk_d SELECT g, CASE WHEN g = 3 THEN NULL ELSE 'n' || g END FROM generate_series(0, 7) g;

CREATE TABLE tk_q (name text PRIMARY KEY, query text NOT NULL);
INSERT INTO tk_q VALUES
 ('tk_rows',    'SELECT id, v FROM tk_t WHERE v IS NOT NULL ORDER BY v DESC, id LIMIT 10'),
 ('tk_nulls',   'SELECT id, v FROM tk_t ORDER BY v NULLS FIRST, id DESC LIMIT 7 OFFSET 2'),
 ('tk_agg',     'SELECT k, count(*) AS n, sum(v) AS sv FROM tk_t GROUP BY k ORDER BY sum(v) DESC NULLS LAST, k LIMIT 3'),
 ('tk_hidden_key', 'SELECT k FROM tk_t GROUP BY k ORDER BY max(v) - min(v), k DESC LIMIT 4'),
 ('tk_ties',    'SELECT id, v % 5 AS m FROM tk_t ORDER BY v % 5 NULLS LAST FETCH FIRST 5 ROWS WITH TIES'),
 ('tk_collate', 'SELECT id, s FROM tk_t ORDER BY s COLLATE "C" NULLS FIRST, id LIMIT 8'),
 ('tk_join',    'SELECT t.id, d.name FROM tk_t t JOIN tk_d d ON d.k = t.k WHERE EXISTS (SELECT 1 FROM tk_t t2 WHERE t2.k = t.k AND t2.v > t.v) ORDER BY d.name DESC NULLS LAST, t.id LIMIT 6'),
 ('tk_union',   'SELECT id, k FROM tk_t WHERE v < 20 UNION ALL SELECT k, k FROM tk_d ORDER BY 2 DESC, 1 LIMIT 5'),
 ('tk_big_k',   'SELECT k, name FROM tk_d ORDER BY k LIMIT 100'),
 ('tk_offset',  'SELECT id FROM tk_t ORDER BY id OFFSET 295'),
 ('tk_zero',    'SELECT id FROM tk_t ORDER BY id LIMIT 0');
SELECT ivm.create_view(name, query) FROM tk_q ORDER BY name;
SELECT ivm.create_view('tk_on_view', 'SELECT k, n FROM tk_agg ORDER BY n, k LIMIT 2');
INSERT INTO tk_q VALUES ('tk_on_view', 'SELECT k, n FROM (SELECT k, count(*) AS n, sum(v) AS sv FROM tk_t GROUP BY k ORDER BY sum(v) DESC NULLS LAST, k LIMIT 3) a ORDER BY n, k LIMIT 2');

\ir lib/views.psql

SELECT is((SELECT count(*) FROM ivm.views v JOIN tk_q q ON v.name = q.name::regclass WHERE v.strategy = 'incremental'),
          (SELECT count(*) FROM tk_q), 'every top-k view is incremental');
SELECT is((SELECT count(*) FROM ivm.hidden_views h JOIN tk_q q ON h.parent = q.name::regclass),
          (SELECT count(*) FROM tk_q), 'each has one hidden view, listed in ivm.hidden_views with its parent');
SELECT is((SELECT count(*) FROM ivm.views WHERE name::text LIKE 'ivm._hidden%'), 0::bigint, 'ivm.views does not list hidden views');
SELECT matches(ivm.explain('tk_agg'), E'top-k.*\\n  -> hidden view ivm\\._hidden_[0-9]+: strategy incremental: delta rules, aggregate',
               'ivm.explain shows the hidden view under the view, with its own strategy');
SELECT ok((SELECT count(*) FROM pg_index i JOIN ivm.hidden_views h ON i.indrelid = h.storage
           WHERE h.parent = 'tk_rows'::regclass AND pg_get_indexdef(i.indexrelid) LIKE '%(c2 DESC, c1)%') = 1,
          'the hidden storage is indexed on the sort keys, in their order');
SELECT is((SELECT h.storage::regclass::text FROM ivm.hidden_views h WHERE h.parent = 'tk_rows'::regclass) IS NOT NULL, true,
          'the hidden view has its storage');
SELECT is(pg_temp.wrong('tk_q'), '', 'every view equals its query when created');

-- changes that move rows in, out and across the boundary
UPDATE tk_t SET v = 100 WHERE id IN (5, 6);
DELETE FROM tk_t WHERE id IN (SELECT id FROM tk_t WHERE v IS NOT NULL ORDER BY v DESC, id LIMIT 3);
INSERT INTO tk_t VALUES (1000, 3, NULL, NULL), (1001, 4, 99, 'a'), (1002, 9, 50, 'Z');
SELECT ivm.tick();
SELECT is(pg_temp.wrong('tk_q'), '', 'rows in, out and across the k-th: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view and hidden view took the delta');

UPDATE tk_d SET name = 'zz' WHERE k = 2;
DELETE FROM tk_t WHERE k = 1;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('tk_q'), '', 'a dimension renamed, a whole group gone: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

CREATE FUNCTION pg_temp.churn(seed float8) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM setseed(seed);
    INSERT INTO tk_t SELECT 2000 + g + (seed * 1000)::int * 100, (random() * 9)::int,
                            CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 120)::int END,
                            (ARRAY['a', 'B', 'c', NULL])[1 + (random() * 3)::int]
                     FROM generate_series(1, 15) g;
    DELETE FROM tk_t WHERE id IN (SELECT id FROM tk_t ORDER BY v DESC NULLS LAST LIMIT 2);
    DELETE FROM tk_t WHERE id IN (SELECT id FROM tk_t ORDER BY random() LIMIT 8);
    UPDATE tk_t SET v = CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 120)::int END,
                    k = (random() * 8)::int
     WHERE id IN (SELECT id FROM tk_t ORDER BY random() LIMIT 10);
END $f$;
SELECT pg_temp.churn(0.1); SELECT ivm.tick();
SELECT is(pg_temp.wrong('tk_q'), '', 'random churn, tick 1: every view equals its query');
SELECT pg_temp.churn(0.2); SELECT ivm.tick();
SELECT is(pg_temp.wrong('tk_q'), '', 'random churn, tick 2: every view equals its query');
SELECT pg_temp.churn(0.3); SELECT ivm.tick();
SELECT is(pg_temp.wrong('tk_q'), '', 'random churn, tick 3: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

-- the tick's counters count declared views only
UPDATE tk_d SET name = 'n0x' WHERE k = 0;
CREATE TEMP TABLE tk_r AS SELECT * FROM ivm.tick();
SELECT is((SELECT views_processed FROM tk_r)::bigint,
          (SELECT count(*) FROM ivm.evidence e WHERE e.epoch = (SELECT epoch FROM tk_r) AND e.view NOT LIKE '\_hidden\_%'),
          'ivm.tick() counts the views processed that users declared');
SELECT ok((SELECT count(*) FROM ivm.evidence e WHERE e.epoch = (SELECT epoch FROM tk_r) AND e.view LIKE '\_hidden\_%') >= 2,
          'while ivm.evidence lists the hidden views it maintained too');

-- a source emptied and refilled
DELETE FROM tk_t;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('tk_q'), '', 'the source emptied: every view equals its query');
INSERT INTO tk_t SELECT g, g % 8, g * 13 % 97, 'x' FROM generate_series(1, 50) g;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('tk_q'), '', 'and refilled: every view equals its query');

-- REFRESH recomputes the view and its hidden view
REFRESH MATERIALIZED VIEW tk_agg;
SELECT is((SELECT string_agg(strategy, ',' ORDER BY view) FROM ivm.evidence
           WHERE epoch = (SELECT max(epoch) FROM ivm.evidence)
             AND view IN ('tk_agg', (SELECT c.relname::text FROM ivm.hidden_views h JOIN pg_class c ON c.oid = h.name
                                     WHERE h.parent = 'tk_agg'::regclass))),
          'recompute,recompute', 'REFRESH recomputes the view and its hidden view');
SELECT is(pg_temp.mismatches('tk_agg', (SELECT query FROM tk_q WHERE name = 'tk_agg')), 0::bigint, 'tk_agg equals its query');

------------------------------------------------------------------------------
-- What does not get a hidden view
------------------------------------------------------------------------------
SELECT ivm.create_view('tk_win', 'SELECT id, rank() OVER (PARTITION BY v % 2 ORDER BY v) AS r FROM tk_t ORDER BY id LIMIT 5');
SELECT is((SELECT strategy FROM ivm.views WHERE name = 'tk_win'::regclass), 'diff', 'top-k over a window function is diffed');
SELECT matches(ivm.explain('tk_win'), 'under its ORDER BY ... LIMIT has no delta rules: .*window', 'ivm.explain says why');
SELECT is((SELECT count(*) FROM ivm.hidden_views WHERE parent = 'tk_win'::regclass), 0::bigint, 'and it has no hidden view');
SELECT ivm.create_view('tk_forced', 'SELECT id, v FROM tk_t ORDER BY v, id LIMIT 5', '{"mode": "diff"}');
SELECT is((SELECT count(*) FROM ivm.hidden_views WHERE parent = 'tk_forced'::regclass), 0::bigint, 'mode diff makes no hidden view');
SELECT ivm.create_view('tk_param', 'SELECT id FROM tk_t ORDER BY id LIMIT (SELECT 3)');
SELECT is((SELECT strategy FROM ivm.views WHERE name = 'tk_param'::regclass), 'diff', 'a LIMIT that is not a constant is diffed');

------------------------------------------------------------------------------
-- Hidden views belong to their view
------------------------------------------------------------------------------
SELECT throws_ok(format('DROP VIEW %s', (SELECT name FROM ivm.hidden_views WHERE parent = 'tk_rows'::regclass)),
                 '2BP01', NULL, 'a hidden view cannot be dropped alone');
CREATE TEMP TABLE tk_gone AS
    SELECT h.name::oid AS v, h.storage::oid AS s FROM ivm.hidden_views h WHERE h.parent = 'tk_rows'::regclass;
DROP VIEW tk_rows;
SELECT is((SELECT count(*) FROM pg_class WHERE oid IN (SELECT v FROM tk_gone UNION ALL SELECT s FROM tk_gone)), 0::bigint,
          'DROP VIEW of the view drops its hidden view and storage');
SELECT is((SELECT count(*) FROM ivm._views WHERE viewrel::oid IN (SELECT v FROM tk_gone)), 0::bigint, 'and its catalog row');
SELECT lives_ok($$SELECT ivm.drop_view('tk_nulls')$$, 'ivm.drop_view drops a top-k view');
SELECT is((SELECT count(*) FROM ivm._views h WHERE h.parent_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM ivm._views p WHERE p.id = h.parent_id)), 0::bigint,
          'no hidden view is left without its view');

-- as an attacker: another role reads neither the hidden view nor its storage
CREATE ROLE ivm_tk_alice;
CREATE ROLE ivm_tk_mallory;
CREATE SCHEMA tk_alice AUTHORIZATION ivm_tk_alice;
CREATE TABLE tk_alice.secret (id int PRIMARY KEY, pay int);
ALTER TABLE tk_alice.secret OWNER TO ivm_tk_alice;
INSERT INTO tk_alice.secret SELECT g, g * 100 FROM generate_series(1, 20) g;
SET ROLE ivm_tk_alice;
SELECT ivm.create_view('tk_alice.top_pay', 'SELECT id, pay FROM tk_alice.secret ORDER BY pay DESC LIMIT 3');
RESET ROLE;
SELECT is((SELECT pg_get_userbyid(c.relowner) FROM ivm.hidden_views h JOIN pg_class c ON c.oid = h.name
           WHERE h.parent = 'tk_alice.top_pay'::regclass), 'ivm_tk_alice', 'the hidden view belongs to the view''s owner');
SELECT name AS tk_hname, storage AS tk_hstorage FROM ivm.hidden_views WHERE parent = 'tk_alice.top_pay'::regclass \gset
SET ROLE ivm_tk_mallory;
SELECT throws_ok(format('SELECT * FROM %s', :'tk_hname'), '42501', NULL, 'another role cannot read a hidden view');
SELECT throws_ok(format('SELECT * FROM %s', :'tk_hstorage'), '42501', NULL, 'nor its storage');
RESET ROLE;
SET ROLE ivm_tk_alice;
UPDATE tk_alice.secret SET pay = 5000 WHERE id = 3;
DELETE FROM tk_alice.secret WHERE id = 20;
RESET ROLE;
SELECT ivm.tick();
SELECT is(pg_temp.mismatches('tk_alice.top_pay', 'SELECT id, pay FROM tk_alice.secret ORDER BY pay DESC LIMIT 3'), 0::bigint,
          'the owner''s top-k equals its query after a superuser''s tick');

SELECT * FROM finish();
ROLLBACK;
