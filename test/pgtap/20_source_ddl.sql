-- DDL on the tables views read, with the views alive (issue 20, part 2):
-- renames of a table, a column, a schema; partitions created, attached,
-- detached, dropped; inheritance children; columns added, dropped, of
-- another type; owners changed; sources dropped with and without CASCADE.
-- After each, writes to every table succeed (none fails because of ivm),
-- a tick runs, and every view equals its query as a multiset (the query
-- read through a plain view, which follows renames as the incremental view
-- does).  And the attack of part 1 on a delta log: a domain whose CHECK or
-- DEFAULT makes its caller superuser, run while ivm syncs the log's columns.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(128);

\ir lib/views.psql

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

-- every view of sd_views equals its query, after a tick
CREATE TABLE sd_views (name text PRIMARY KEY, query text NOT NULL);
CREATE FUNCTION pg_temp.tick_and_check(label text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
BEGIN
    RETURN NEXT lives_ok('SELECT ivm.tick()', label || ': the tick runs');
    RETURN NEXT is(pg_temp.wrong('sd_views'), '', label || ': every view equals its query');
    RETURN NEXT is((SELECT string_agg(name::text, ', ') FROM ivm.views WHERE state <> 'ok'), NULL,
                   label || ': no view failed');
END
$f$;

-- every delta log belongs to its table's owner, and its capture triggers
-- sit on its table and that table's partitions and children only
CREATE FUNCTION pg_temp.capture_in_step(label text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
BEGIN
    RETURN NEXT is((SELECT string_agg(s.relid::regclass::text, ', ')
                    FROM ivm._sources s JOIN pg_class t ON t.oid = s.relid JOIN pg_class l ON l.oid = s.logrel
                    WHERE t.relowner <> l.relowner), NULL,
                   label || ': every delta log belongs to its table''s owner');
    RETURN NEXT is((SELECT string_agg(tg.tgrelid::regclass::text || ' ' || tg.tgname, ', ')
                    FROM pg_trigger tg
                    LEFT JOIN ivm._sources s ON s.id = substring(tg.tgname from '^ivm_capture_([0-9]+)_')::int
                    WHERE tg.tgfoid = 'ivm._capture()'::regprocedure
                      AND (s.id IS NULL
                           OR (tg.tgrelid <> s.relid
                               AND tg.tgrelid NOT IN (SELECT relid FROM pg_partition_tree(s.relid))
                               AND NOT EXISTS (SELECT 1 FROM pg_inherits i
                                               WHERE i.inhrelid = tg.tgrelid AND i.inhparent = s.relid)))),
                   NULL, label || ': every capture trigger is on its source''s table or one of its members');
    RETURN NEXT is((SELECT string_agg(m.relid::regclass::text, ', ')
                    FROM ivm._sources s, pg_partition_tree(s.relid) m
                    WHERE m.isleaf AND NOT EXISTS (SELECT 1 FROM pg_trigger tg
                                                   WHERE tg.tgrelid = m.relid
                                                     AND tg.tgname = format('ivm_capture_%s_ins', s.id))),
                   NULL, label || ': every partition of a captured table is captured');
END
$f$;

------------------------------------------------------------------------------
-- 1. The attack on a delta log's column sync: alice's domain runs pwn(),
--    which makes its caller's role... alice superuser when the caller is one.
------------------------------------------------------------------------------
CREATE ROLE ivm_sd_alice;
CREATE SCHEMA sd_alice AUTHORIZATION ivm_sd_alice;
SET ROLE ivm_sd_alice;
CREATE TABLE sd_alice.calls (who name, su boolean);
CREATE FUNCTION sd_alice.pwn() RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO sd_alice.calls SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE ivm_sd_alice SUPERUSER';
    END IF;
    RETURN true;
END
$f$;
-- a stable default is evaluated once when a column is added, rows or not
CREATE FUNCTION sd_alice.pwn_stable() RETURNS int LANGUAGE plpgsql STABLE AS $f$
BEGIN
    PERFORM sd_alice.pwn();
    RETURN 1;
END
$f$;
CREATE DOMAIN sd_alice.evil AS int CHECK (sd_alice.pwn());
CREATE DOMAIN sd_alice.evil_default AS int DEFAULT (CASE WHEN sd_alice.pwn() THEN 1 END);
CREATE DOMAIN sd_alice.evil_stable AS int DEFAULT sd_alice.pwn_stable();
CREATE TABLE sd_alice.src (id int PRIMARY KEY, y int, w int);
SELECT ivm.create_view('sd_alice.v', 'SELECT id, y FROM sd_alice.src');
CREATE VIEW sd_alice.q AS SELECT id, y FROM sd_alice.src;
RESET ROLE;
INSERT INTO sd_views VALUES ('sd_alice.v', 'SELECT * FROM sd_alice.q');

SELECT is((SELECT l.relowner::regrole::text FROM ivm._sources s JOIN pg_class l ON l.oid = s.logrel
           WHERE s.relid = 'sd_alice.src'::regclass), 'ivm_sd_alice',
          'the delta log of alice''s table belongs to alice');

SET ROLE ivm_sd_alice;
INSERT INTO sd_alice.src VALUES (1, 1, 1);      -- a row pending in the log
ALTER TABLE sd_alice.src ADD COLUMN z sd_alice.evil;
RESET ROLE;
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_sd_alice'), false,
          'ADD COLUMN of a domain whose CHECK escalates: alice is not superuser');

SET ROLE ivm_sd_alice;
INSERT INTO sd_alice.src VALUES (2, 2, 2);
ALTER TABLE sd_alice.src ADD COLUMN z2 sd_alice.evil_default;
RESET ROLE;
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_sd_alice'), false,
          'ADD COLUMN of a domain whose DEFAULT escalates: alice is not superuser');

SET ROLE ivm_sd_alice;
INSERT INTO sd_alice.src VALUES (3, 3, 3);
ALTER TABLE sd_alice.src ALTER COLUMN w TYPE sd_alice.evil;
RESET ROLE;
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_sd_alice'), false,
          'ALTER COLUMN TYPE to a domain whose CHECK escalates: alice is not superuser');

SET ROLE ivm_sd_alice;
INSERT INTO sd_alice.src VALUES (4, 4, 4);
ALTER TABLE sd_alice.src ADD COLUMN z3 sd_alice.evil_stable;
RESET ROLE;
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_sd_alice'), false,
          'ADD COLUMN of a domain whose stable DEFAULT escalates: alice is not superuser');
SELECT is((SELECT count(*)::int FROM sd_alice.calls WHERE su), 0,
          'pwn() never ran as a superuser');

SET ROLE ivm_sd_alice;
SELECT lives_ok($$INSERT INTO sd_alice.src VALUES (5, 5, 5, 1, 1, 1)$$, 'alice writes to her table after the ALTERs');
RESET ROLE;
SELECT * FROM pg_temp.tick_and_check('after the domains');

-- alice may not write her log herself, nor change its guard
SET ROLE ivm_sd_alice;
SELECT format('INSERT INTO %s (id, __ivm_weight) VALUES (99, 1)', s.logrel) AS forge,
       format('UPDATE %s SET __ivm_weight = 2', s.logrel) AS reweigh
  FROM ivm._sources s WHERE s.relid = 'sd_alice.src'::regclass \gset
SELECT throws_ok(:'forge', '42501', NULL, 'alice cannot forge a delta in her log');
SELECT throws_ok(:'reweigh', '42501', NULL, 'alice cannot change the weights in her log');
RESET ROLE;

-- alice renames her capture trigger to another source's: it writes nothing
-- into that source's log
CREATE TABLE sd_victim (id int);
SELECT ivm.create_view('sd_victim_v', 'SELECT id FROM sd_victim');
INSERT INTO sd_views VALUES ('sd_victim_v', 'SELECT id FROM sd_victim');
SELECT format('ALTER TRIGGER ivm_capture_%s_ins ON sd_alice.src RENAME TO ivm_capture_%s_ins', a.id, v.id) AS steal,
       format('ALTER TRIGGER ivm_capture_%s_ins ON sd_alice.src RENAME TO ivm_capture_%s_ins', v.id, a.id) AS give_back,
       format('SELECT count(*)::int FROM %s', v.logrel) AS victim_log
  FROM ivm._sources a, ivm._sources v
 WHERE a.relid = 'sd_alice.src'::regclass AND v.relid = 'sd_victim'::regclass \gset
SET ROLE ivm_sd_alice;
SELECT throws_ok(:'steal', '42501', NULL, 'alice cannot rename her capture trigger (to the name of another table''s)');
RESET ROLE;
-- a superuser may; the trigger still writes only the log of its own source
SELECT lives_ok(:'steal', 'a superuser renames alice''s capture trigger to the name of another table''s');
SET ROLE ivm_sd_alice;
SELECT lives_ok($$INSERT INTO sd_alice.src VALUES (50, 50, 50, 1, 1, 1), (51, 51, 51, 1, 1, 1)$$,
                'alice writes through it');
RESET ROLE;
SELECT lives_ok(:'give_back', 'and the superuser gives the name back');
REFRESH MATERIALIZED VIEW sd_alice.v;   -- her own view missed her rows
SELECT is((:victim_log), 0, 'nothing went into the other table''s log');
SELECT * FROM pg_temp.tick_and_check('after the renamed trigger');

------------------------------------------------------------------------------
-- 2. Sources: a table, a partitioned table, an inheritance parent
------------------------------------------------------------------------------
CREATE SCHEMA sd;
CREATE TABLE sd.t (id int PRIMARY KEY, k int, v int, w int);
INSERT INTO sd.t SELECT g, g % 4, g, g FROM generate_series(1, 40) g;
CREATE TABLE sd.sales (id int, region text, amt int) PARTITION BY LIST (region);
CREATE TABLE sd.sales_a PARTITION OF sd.sales FOR VALUES IN ('a');
CREATE TABLE sd.sales_b PARTITION OF sd.sales FOR VALUES IN ('b');
INSERT INTO sd.sales SELECT g, (ARRAY['a', 'b'])[g % 2 + 1], g FROM generate_series(1, 30) g;
CREATE TABLE sd.h (id int, x int);
CREATE TABLE sd.h_c (extra text) INHERITS (sd.h);
INSERT INTO sd.h VALUES (1, 1), (2, 2);
INSERT INTO sd.h_c VALUES (3, 3, 'c');

CREATE VIEW sd_q_agg AS SELECT k, sum(v) AS s, count(*) AS n FROM sd.t GROUP BY k;
CREATE VIEW sd_q_sel AS SELECT id, v FROM sd.t WHERE v > 2;
CREATE VIEW sd_q_sales AS SELECT region, sum(amt) AS s, count(*) AS n FROM sd.sales GROUP BY region;
CREATE VIEW sd_q_join AS SELECT t.k, s.region, count(*) AS n FROM sd.t JOIN sd.sales s ON s.id = t.id GROUP BY t.k, s.region;
CREATE VIEW sd_q_h AS SELECT id, x FROM sd.h;
SELECT ivm.create_view('sd_agg', 'SELECT k, sum(v) AS s, count(*) AS n FROM sd.t GROUP BY k');
SELECT ivm.create_view('sd_sel', 'SELECT id, v FROM sd.t WHERE v > 2');
SELECT ivm.create_view('sd_sales', 'SELECT region, sum(amt) AS s, count(*) AS n FROM sd.sales GROUP BY region');
SELECT ivm.create_view('sd_join', 'SELECT t.k, s.region, count(*) AS n FROM sd.t JOIN sd.sales s ON s.id = t.id GROUP BY t.k, s.region');
SELECT ivm.create_view('sd_h', 'SELECT id, x FROM sd.h');
INSERT INTO sd_views VALUES ('sd_agg', 'SELECT * FROM sd_q_agg'), ('sd_sel', 'SELECT * FROM sd_q_sel'),
                            ('sd_sales', 'SELECT * FROM sd_q_sales'), ('sd_join', 'SELECT * FROM sd_q_join'),
                            ('sd_h', 'SELECT * FROM sd_q_h');
SELECT * FROM pg_temp.tick_and_check('created');
SELECT * FROM pg_temp.capture_in_step('created');

------------------------------------------------------------------------------
-- 3. Renames: table, column, schema; another table takes the old name
------------------------------------------------------------------------------
ALTER TABLE sd.sales RENAME TO sales2;
SELECT lives_ok($$INSERT INTO sd.sales_a VALUES (100, 'a', 5)$$,
                'a write to a partition after its captured parent was renamed');
SELECT lives_ok($$UPDATE sd.sales2 SET amt = amt + 1 WHERE id <= 4$$, 'a write through the renamed parent');
CREATE TABLE sd.sales (id int, region text, amt int);
SELECT lives_ok($$INSERT INTO sd.sales VALUES (1, 'a', 1000)$$, 'another table takes the old name: writes to it work');
SELECT lives_ok($$TRUNCATE sd.sales_b$$, 'TRUNCATE of a partition of the renamed parent');
SELECT is((SELECT string_agg(relid::text, ', ') FROM ivm._truncated), 'sd.sales2',
          'the TRUNCATE marks the renamed parent, not the table that took its name');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'sd.sales'::regclass), 0,
          'the table that took the old name is not captured');
SELECT * FROM pg_temp.tick_and_check('table renamed');

ALTER TABLE sd.t RENAME COLUMN v TO vv;
INSERT INTO sd.t VALUES (41, 1, 41, 41);
UPDATE sd.t SET vv = vv + 1 WHERE id % 5 = 0;
SELECT * FROM pg_temp.tick_and_check('column renamed');
DELETE FROM sd.t WHERE id % 7 = 0;
SELECT * FROM pg_temp.tick_and_check('column renamed, a second tick');

ALTER SCHEMA sd RENAME TO sd2;
SELECT lives_ok($$INSERT INTO sd2.t VALUES (42, 2, 42, 42); INSERT INTO sd2.sales_a VALUES (42, 'a', 42);
                  INSERT INTO sd2.h_c VALUES (4, 4, 'd')$$, 'writes after the schema was renamed');
SELECT * FROM pg_temp.tick_and_check('schema renamed');
ALTER TABLE sd2.sales2 SET SCHEMA public;
SELECT lives_ok($$INSERT INTO sd2.sales_b VALUES (43, 'b', 43); INSERT INTO public.sales2 VALUES (44, 'a', 44)$$,
                'writes after the parent moved to another schema');
SELECT * FROM pg_temp.tick_and_check('table moved to another schema');
ALTER TABLE public.sales2 SET SCHEMA sd2;

------------------------------------------------------------------------------
-- 4. Partitions and children: created, attached, detached, dropped
------------------------------------------------------------------------------
CREATE TABLE sd2.sales_c PARTITION OF sd2.sales2 FOR VALUES IN ('c');
SELECT lives_ok($$INSERT INTO sd2.sales_c VALUES (50, 'c', 50); INSERT INTO sd2.sales2 VALUES (51, 'c', 51)$$,
                'writes to a partition created under a captured table');
SELECT * FROM pg_temp.tick_and_check('partition created');

CREATE TABLE sd2.sales_d (id int, region text, amt int);
INSERT INTO sd2.sales_d VALUES (60, 'd', 60), (61, 'd', 61);
ALTER TABLE sd2.sales2 ATTACH PARTITION sd2.sales_d FOR VALUES IN ('d');
SELECT lives_ok($$INSERT INTO sd2.sales_d VALUES (62, 'd', 62)$$, 'a write to a partition attached with rows');
SELECT * FROM pg_temp.tick_and_check('partition attached');

CREATE TABLE sd2.sales_e (id int, region text, amt int) PARTITION BY RANGE (id);
CREATE TABLE sd2.sales_e1 PARTITION OF sd2.sales_e FOR VALUES FROM (0) TO (1000);
INSERT INTO sd2.sales_e VALUES (70, 'e', 70);
ALTER TABLE sd2.sales2 ATTACH PARTITION sd2.sales_e FOR VALUES IN ('e');
SELECT lives_ok($$INSERT INTO sd2.sales_e1 VALUES (71, 'e', 71)$$, 'a write to a sub-partition of an attached partition');
SELECT * FROM pg_temp.tick_and_check('partitioned partition attached');

ALTER TABLE sd2.sales2 DETACH PARTITION sd2.sales_b;
SELECT lives_ok($$INSERT INTO sd2.sales_b VALUES (80, 'b', 80)$$, 'a write to a detached partition');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'sd2.sales_b'::regclass), 0,
          'a detached partition keeps no capture trigger');
SELECT * FROM pg_temp.tick_and_check('partition detached');

DROP TABLE sd2.sales_c;
SELECT lives_ok($$INSERT INTO sd2.sales2 VALUES (90, 'a', 90)$$, 'a write after a partition was dropped');
SELECT * FROM pg_temp.tick_and_check('partition dropped');

CREATE TABLE sd2.h_d () INHERITS (sd2.h);
INSERT INTO sd2.h_d VALUES (5, 5);
SELECT * FROM pg_temp.tick_and_check('child created');
CREATE TABLE sd2.h_e (id int, x int);
INSERT INTO sd2.h_e VALUES (6, 6);
ALTER TABLE sd2.h_e INHERIT sd2.h;
INSERT INTO sd2.h_e VALUES (7, 7);
SELECT * FROM pg_temp.tick_and_check('child inherits');
ALTER TABLE sd2.h_c NO INHERIT sd2.h;
SELECT lives_ok($$INSERT INTO sd2.h_c VALUES (8, 8, 'x')$$, 'a write to a child that no longer inherits');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'sd2.h_c'::regclass), 0,
          'a table that no longer inherits keeps no capture trigger');
SELECT * FROM pg_temp.tick_and_check('child no longer inherits');
SELECT * FROM pg_temp.capture_in_step('partitions and children');

------------------------------------------------------------------------------
-- 5. Columns added, dropped, of another type
------------------------------------------------------------------------------
ALTER TABLE sd2.t ADD COLUMN z int DEFAULT 5;
INSERT INTO sd2.t VALUES (100, 3, 100, 100, 1);
UPDATE sd2.t SET z = z + 1 WHERE id < 10;
SELECT * FROM pg_temp.tick_and_check('column added');
ALTER TABLE sd2.t ALTER COLUMN w TYPE bigint;
INSERT INTO sd2.t VALUES (101, 3, 101, 101, 1);
UPDATE sd2.t SET w = w * 2 WHERE id < 20;
SELECT * FROM pg_temp.tick_and_check('type of a column no view reads changed');
ALTER TABLE sd2.t DROP COLUMN w;
INSERT INTO sd2.t VALUES (102, 0, 102, 1);
DELETE FROM sd2.t WHERE id = 1;
SELECT * FROM pg_temp.tick_and_check('column dropped');
SELECT throws_ok($$ALTER TABLE sd2.t ALTER COLUMN vv TYPE bigint$$, '0A000',
                 'cannot alter type of a column used by a view or rule',
                 'the type of a column a view reads cannot change: PostgreSQL says why');
SELECT throws_ok($$ALTER TABLE sd2.t DROP COLUMN vv$$, '2BP01', NULL,
                 'a column a view reads cannot be dropped without CASCADE');
ALTER TABLE sd2.sales2 ADD COLUMN note text;
INSERT INTO sd2.sales2 VALUES (110, 'a', 110, 'n');
INSERT INTO sd2.sales_d VALUES (111, 'd', 111, 'n');
SELECT * FROM pg_temp.tick_and_check('column added to a partitioned table');
SELECT * FROM pg_temp.capture_in_step('columns');

------------------------------------------------------------------------------
-- 6. Owners: the log follows its table
------------------------------------------------------------------------------
CREATE ROLE ivm_sd_bob;
GRANT USAGE ON SCHEMA sd2 TO ivm_sd_bob;
ALTER TABLE sd2.sales2 OWNER TO ivm_sd_bob;
SELECT is((SELECT l.relowner::regrole::text FROM ivm._sources s JOIN pg_class l ON l.oid = s.logrel
           WHERE s.relid = 'sd2.sales2'::regclass), 'ivm_sd_bob', 'ALTER TABLE ... OWNER TO: the log follows');
INSERT INTO sd2.sales_a VALUES (120, 'a', 120);
SELECT * FROM pg_temp.tick_and_check('owner changed');
REASSIGN OWNED BY ivm_sd_bob TO CURRENT_USER;
SELECT * FROM pg_temp.capture_in_step('REASSIGN OWNED');
SELECT is((SELECT l.relowner::regrole::text FROM ivm._sources s JOIN pg_class l ON l.oid = s.logrel
           WHERE s.relid = 'sd2.sales2'::regclass), CURRENT_USER::text, 'REASSIGN OWNED moves the log with its table');

------------------------------------------------------------------------------
-- 7. Dropping: a source without and with CASCADE; the last view of a
--    partitioned table
------------------------------------------------------------------------------
SELECT throws_ok($$DROP TABLE sd2.h$$, '2BP01', NULL,
                 'a source a view reads cannot be dropped without CASCADE');
DROP TABLE sd2.h CASCADE;
DELETE FROM sd_views WHERE name = 'sd_h';
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'sd_h'), 'DROP ... CASCADE dropped the view');
SELECT ok(NOT EXISTS (SELECT 1 FROM ivm._sources s WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = s.relid)),
          'and forgot the source');
SELECT * FROM pg_temp.tick_and_check('source dropped with CASCADE');

DROP VIEW sd_join;
DELETE FROM sd_views WHERE name = 'sd_join';
DROP VIEW sd_sales;
DELETE FROM sd_views WHERE name = 'sd_sales';
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgfoid = 'ivm._capture()'::regprocedure
             AND tgrelid IN (SELECT relid FROM pg_partition_tree('sd2.sales2'))), 0,
          'the last view of a partitioned table dropped: no capture trigger is left on it or its partitions');
SELECT lives_ok($$INSERT INTO sd2.sales_a VALUES (130, 'a', 130); INSERT INTO sd2.sales_d VALUES (131, 'd', 131);
                  INSERT INTO sd2.sales_e1 VALUES (132, 'e', 132); UPDATE sd2.sales2 SET amt = 0 WHERE id = 130;
                  TRUNCATE sd2.sales_a$$,
                'writes to its partitions work');
SELECT * FROM pg_temp.tick_and_check('last view of a partitioned table dropped');

SELECT lives_ok($$INSERT INTO sd2.t VALUES (200, 1, 200, 1); INSERT INTO sd_alice.src VALUES (200, 1, 1, 1, 1, 1)$$,
                'writes to the sources left');
SELECT * FROM pg_temp.tick_and_check('the end');
SELECT * FROM pg_temp.capture_in_step('the end');

SELECT * FROM finish();
ROLLBACK;
