-- Ownership (issue 20), tried as an attacker would.  An ordinary role,
-- ivm_own_alice, with CREATE on a schema of her own and no other right,
-- plants code that PostgreSQL runs as the owner of a relation (a range
-- type's subtype_diff during ANALYZE and in a GiST index, a domain's CHECK
-- or DEFAULT during a rewrite) or as the current user of a write, and waits
-- for ivm or a superuser to run it.  Her code (own_alice.pwn) makes her
-- superuser, and gives her accomplice ivm_own_mate CREATEROLE, whenever it
-- runs as a superuser.  After each step: alice is not superuser, no other
-- role's attributes changed, and her code ran only as herself.  The step
-- then undoes whatever the attack won (a no-op when it failed), so that
-- each step is judged on its own.
--
-- The design it checks: the storage of a view (of its hidden views, of its
-- shards) belongs to the view's owner, a delta log to its source table's
-- owner; ivm writes them as that owner, restricted; non-superusers run no
-- DDL on relations of schema ivm, not even their owner (42501), and the
-- definition view ivm._def_<n> is ivm's to change.  VACUUM and autovacuum
-- are tried by test/ownership/run.sh (neither can run in a transaction).
-- Each view is compared, as a multiset, with its query run directly.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(149);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE ROLE ivm_own_alice;
CREATE ROLE ivm_own_mate;      -- alice's accomplice: pwn raises it too
CREATE ROLE ivm_own_bob;
CREATE ROLE ivm_own_carol;
CREATE SCHEMA own_alice AUTHORIZATION ivm_own_alice;

-- every call of alice's code: which step, as whom, was that a superuser
CREATE TABLE public.own_calls (fn text, usr text, was_super boolean);
GRANT INSERT, SELECT ON public.own_calls TO PUBLIC;

-- the attributes of every role, as they were before any attack
CREATE TEMP TABLE own_roles AS
    SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
           rolreplication, rolbypassrls, rolconnlimit
    FROM pg_roles;

-- roles (other than alice) whose attributes differ from before
CREATE FUNCTION pg_temp.roles_changed() RETURNS SETOF text LANGUAGE sql AS $f$
    SELECT rolname::text FROM (
        (SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                rolreplication, rolbypassrls, rolconnlimit FROM pg_roles
         EXCEPT SELECT * FROM own_roles)
        UNION
        (SELECT * FROM own_roles
         EXCEPT SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                       rolreplication, rolbypassrls, rolconnlimit FROM pg_roles)) d
    WHERE rolname <> 'ivm_own_alice'
$f$;
CREATE FUNCTION pg_temp.alice_super() RETURNS boolean LANGUAGE sql AS $f$
    SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_own_alice'
$f$;
-- as whom alice's code ran since the last step (NULL: it never ran)
CREATE FUNCTION pg_temp.ran_as() RETURNS text[] LANGUAGE sql AS $f$
    SELECT array_agg(DISTINCT usr ORDER BY usr) FROM public.own_calls
$f$;
-- the next step starts clean: undo what an attack won, forget the calls
CREATE FUNCTION pg_temp.next_step() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    ALTER ROLE ivm_own_alice NOSUPERUSER;
    ALTER ROLE ivm_own_mate NOCREATEROLE;
    TRUNCATE public.own_calls;
END
$f$;

-- a view equals its query, as a multiset; both are read as the view's
-- owner (the query of a view may call its owner's hostile functions)
CREATE TEMP TABLE own_q (section text, view regclass, query text);
CREATE FUNCTION pg_temp.mismatched(sec text) RETURNS text[] LANGUAGE plpgsql AS $f$
DECLARE
    r record;
    n bigint;
    bad text[] := '{}';
BEGIN
    FOR r IN SELECT q.*, c.relowner::regrole::text AS owner
             FROM own_q q JOIN pg_class c ON c.oid = q.view WHERE q.section = sec ORDER BY q.view::text LOOP
        BEGIN
            EXECUTE format('SET ROLE %I', r.owner);
            EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %s)) d',
                           r.view, r.query, r.query, r.view) INTO n;
            RESET ROLE;
            IF n > 0 THEN
                bad := bad || r.view::text;
            END IF;
        EXCEPTION WHEN OTHERS THEN      -- its owner cannot read it: as bad
            bad := bad || (r.view::text || ': ' || SQLERRM);
        END;
    END LOOP;
    RETURN bad;
END
$f$;

SET ROLE ivm_own_alice;
CREATE FUNCTION own_alice.pwn(fn text) RETURNS boolean LANGUAGE plpgsql SECURITY INVOKER AS $f$
BEGIN
    INSERT INTO public.own_calls
        SELECT fn, current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
    -- (once is enough: no need to alter the role at every call)
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_own_alice') THEN
        ALTER ROLE ivm_own_alice SUPERUSER;
        ALTER ROLE ivm_own_mate CREATEROLE;
    END IF;
    RETURN true;
END
$f$;
CREATE FUNCTION own_alice.pwn_int(fn text) RETURNS int LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM own_alice.pwn(fn);
    RETURN 7;
END
$f$;
-- a range type whose subtype_diff is hers: ANALYZE (length histogram) and
-- GiST (penalty, picksplit) call it
CREATE FUNCTION own_alice.my_diff(a float8, b float8) RETURNS float8 LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    PERFORM own_alice.pwn('subtype_diff');
    RETURN a - b;
END
$f$;
CREATE TYPE own_alice.myrange AS RANGE (subtype = float8, subtype_diff = own_alice.my_diff);
CREATE TABLE own_alice.t (id int PRIMARY KEY, r own_alice.myrange);
SELECT ivm.create_view('own_alice.v', 'SELECT id, r FROM own_alice.t');
-- in diff mode, a tick that writes most of the storage analyzes it
SELECT ivm.create_view('own_alice.vd', 'SELECT id, r FROM own_alice.t', '{"mode": "diff"}');
INSERT INTO own_alice.t SELECT g, own_alice.myrange(g, g + 1 + g % 7) FROM generate_series(1, 300) g;
RESET ROLE;
INSERT INTO own_q VALUES ('range', 'own_alice.v', 'SELECT id, r FROM own_alice.t'),
                         ('range', 'own_alice.vd', 'SELECT id, r FROM own_alice.t');
SELECT lives_ok($$SELECT ivm.tick()$$, 'a superuser ticks alice''s range views');
SELECT pg_temp.next_step();

------------------------------------------------------------------------------
-- a. ANALYZE of a hostile range type, by a superuser
------------------------------------------------------------------------------
DO $$
DECLARE
    rel regclass;
BEGIN
    FOR rel IN SELECT oid FROM pg_class
               WHERE relnamespace = 'ivm'::regnamespace AND relkind IN ('r', 'p') ORDER BY oid LOOP
        EXECUTE format('ANALYZE %s', rel);
    END LOOP;
END
$$;
SELECT is(pg_temp.ran_as(), ARRAY['ivm_own_alice'],
          'a. ANALYZE of every relation of schema ivm by a superuser: subtype_diff ran, only as alice');
SELECT is(pg_temp.alice_super(), false, 'a. alice is not superuser after ANALYZE of schema ivm');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'a. no other role changed after ANALYZE of schema ivm');
SELECT pg_temp.next_step();

ANALYZE;
SELECT is(pg_temp.ran_as(), ARRAY['ivm_own_alice'],
          'a. a database-wide ANALYZE by a superuser: subtype_diff ran, only as alice');
SELECT is(pg_temp.alice_super(), false, 'a. alice is not superuser after a database-wide ANALYZE');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'a. no other role changed after a database-wide ANALYZE');
SELECT pg_temp.next_step();

-- the tick's own ANALYZE: 1,200 new rows, most of the diff view's storage
SET ROLE ivm_own_alice;
INSERT INTO own_alice.t SELECT g, own_alice.myrange(g, g + 2) FROM generate_series(301, 1500) g;
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a. a superuser ticks 1,200 new rows of the hostile range type');
SELECT is(pg_temp.ran_as(), ARRAY['ivm_own_alice'],
          'a. the tick analyzed the storage it filled: subtype_diff ran, only as alice');
SELECT is(pg_temp.alice_super(), false, 'a. alice is not superuser after the tick');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'a. no other role changed after the tick');
SELECT is(pg_temp.mismatched('range'), '{}'::text[], 'a. her range views equal their query');
SELECT pg_temp.next_step();

------------------------------------------------------------------------------
-- b. A GiST index alice puts on her view: its support code (penalty,
--    picksplit call subtype_diff) runs in the build, in every write of a
--    tick, in REINDEX.  (An ordinary role cannot create an operator class:
--    the range type's own GiST opclass is the strongest index she can plant.)
------------------------------------------------------------------------------
SET ROLE ivm_own_alice;
SELECT lives_ok($$CREATE INDEX own_v_r ON own_alice.v USING gist (r)$$, 'b. alice indexes her view with GiST');
RESET ROLE;
SELECT is(pg_temp.ran_as(), ARRAY['ivm_own_alice'], 'b. the GiST build ran subtype_diff only as alice');
SELECT is(pg_temp.alice_super(), false, 'b. alice is not superuser after building her index');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'b. no other role changed after building her index');
SELECT is((SELECT count(*)::int FROM pg_index i JOIN ivm._views w ON w.storagerel = i.indrelid
           JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
           WHERE w.viewrel = 'own_alice.v'::regclass AND a.amname = 'gist'), 1,
          'b. the GiST index is on the view''s storage');
SELECT pg_temp.next_step();

SET ROLE ivm_own_alice;
INSERT INTO own_alice.t SELECT g, own_alice.myrange(g * 0.5, g * 0.5 + g % 11) FROM generate_series(1501, 2100) g;
DELETE FROM own_alice.t WHERE id % 5 = 0;
RESET ROLE;
SET LOCAL ivm.fallback_ratio = 1000;   -- an incremental write, not a recompute
SELECT lives_ok($$SELECT ivm.tick()$$, 'b. a superuser ticks 600 new rows into the GiST-indexed storage');
RESET ivm.fallback_ratio;
SELECT is(pg_temp.ran_as(), ARRAY['ivm_own_alice'], 'b. the tick''s writes ran subtype_diff only as alice');
SELECT is(pg_temp.alice_super(), false, 'b. alice is not superuser after the tick');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'b. no other role changed after the tick');
SELECT is(pg_temp.mismatched('range'), '{}'::text[], 'b. her range views equal their query');
SELECT pg_temp.next_step();

SELECT c.oid::regclass AS own_gist FROM pg_index i JOIN ivm._views w ON w.storagerel = i.indrelid
    JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
    WHERE w.viewrel = 'own_alice.v'::regclass AND a.amname = 'gist' \gset
SELECT lives_ok(format('REINDEX INDEX %s', :'own_gist'), 'b. a superuser reindexes her GiST index');
SELECT is(pg_temp.ran_as(), ARRAY['ivm_own_alice'], 'b. REINDEX ran subtype_diff only as alice');
SELECT is(pg_temp.alice_super(), false, 'b. alice is not superuser after REINDEX');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'b. no other role changed after REINDEX');
SELECT pg_temp.next_step();

SELECT lives_ok(format('REINDEX TABLE %s', (SELECT storagerel FROM ivm._views WHERE viewrel = 'own_alice.v'::regclass)),
                'b. a superuser reindexes the storage');
SELECT is(pg_temp.ran_as(), ARRAY['ivm_own_alice'], 'b. REINDEX TABLE ran subtype_diff only as alice');
SELECT is(pg_temp.alice_super(), false, 'b. alice is not superuser after REINDEX TABLE');
SELECT pg_temp.next_step();

------------------------------------------------------------------------------
-- c. A domain's CHECK or DEFAULT while the delta log follows its source's
--    columns: one row pending in the log, then alice changes her table.
------------------------------------------------------------------------------
SET ROLE ivm_own_alice;
CREATE DOMAIN own_alice.evil_check AS int CHECK (own_alice.pwn('domain check'));
CREATE DOMAIN own_alice.evil_default AS int DEFAULT own_alice.pwn_int('domain default');
CREATE TABLE own_alice.src (id int PRIMARY KEY, y int);
SELECT ivm.create_view('own_alice.sv', 'SELECT id FROM own_alice.src');
INSERT INTO own_alice.src VALUES (1, 10);       -- pending in the log
SELECT lives_ok($$ALTER TABLE own_alice.src ADD COLUMN z own_alice.evil_check$$,
                'c. alice adds a column of a domain whose CHECK is hers');
RESET ROLE;
INSERT INTO own_q VALUES ('c', 'own_alice.sv', 'SELECT id FROM own_alice.src');
SELECT is(pg_temp.ran_as(), ARRAY['ivm_own_alice'], 'c. ADD COLUMN: the domain check ran only as alice');
SELECT is(pg_temp.alice_super(), false, 'c. alice is not superuser after ADD COLUMN of a checked domain');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'c. no other role changed after ADD COLUMN of a checked domain');
SELECT pg_temp.next_step();

SET ROLE ivm_own_alice;
SELECT lives_ok($$ALTER TABLE own_alice.src ADD COLUMN w own_alice.evil_default$$,
                'c. alice adds a column of a domain whose DEFAULT is hers');
RESET ROLE;
SELECT is(pg_temp.ran_as(), ARRAY['ivm_own_alice'], 'c. ADD COLUMN: the domain default ran only as alice');
SELECT is(pg_temp.alice_super(), false, 'c. alice is not superuser after ADD COLUMN of a domain with a default');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'c. no other role changed after ADD COLUMN of a domain with a default');
SELECT pg_temp.next_step();

SET ROLE ivm_own_alice;
SELECT lives_ok($$ALTER TABLE own_alice.src ALTER COLUMN y TYPE own_alice.evil_check$$,
                'c. alice changes a column to a domain whose CHECK is hers');
INSERT INTO own_alice.src (id, y) VALUES (2, 20);
RESET ROLE;
SELECT is(pg_temp.ran_as(), ARRAY['ivm_own_alice'], 'c. ALTER COLUMN TYPE: the domain check ran only as alice');
SELECT is(pg_temp.alice_super(), false, 'c. alice is not superuser after ALTER COLUMN TYPE');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'c. no other role changed after ALTER COLUMN TYPE');
SELECT pg_temp.next_step();
SELECT lives_ok($$SELECT ivm.tick()$$, 'c. a superuser ticks the rows logged under her domains');
SELECT is(pg_temp.alice_super(), false, 'c. alice is not superuser after that tick');
SELECT is(pg_temp.mismatched('c'), '{}'::text[], 'c. her views equal their query after her DDL');
SELECT pg_temp.next_step();

------------------------------------------------------------------------------
-- f. A function of alice's in her view's query, ticked and refreshed by a
--    superuser: runs as alice (a regression test of what holds today)
------------------------------------------------------------------------------
SET ROLE ivm_own_alice;
CREATE FUNCTION own_alice.f_pwn(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    PERFORM own_alice.pwn('view function');
    RETURN x * 2;
END
$f$;
CREATE TABLE own_alice.ft (id int PRIMARY KEY);
SELECT ivm.create_view('own_alice.fv', 'SELECT id, own_alice.f_pwn(id) AS y FROM own_alice.ft');
INSERT INTO own_alice.ft SELECT generate_series(1, 20);
RESET ROLE;
INSERT INTO own_q VALUES ('f', 'own_alice.fv', 'SELECT id, own_alice.f_pwn(id) AS y FROM own_alice.ft');
SELECT pg_temp.next_step();
SELECT lives_ok($$SELECT ivm.tick()$$, 'f. a superuser ticks alice''s view');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW own_alice.fv$$, 'f. a superuser refreshes it');
SELECT is(pg_temp.ran_as(), ARRAY['ivm_own_alice'], 'f. the function of her query ran only as alice');
SELECT is(pg_temp.alice_super(), false, 'f. alice is not superuser after a tick of her view');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'f. no other role changed');
SELECT pg_temp.next_step();
SELECT is(pg_temp.mismatched('f'), '{}'::text[], 'f. her views equal their query');
SELECT pg_temp.next_step();

------------------------------------------------------------------------------
-- g. Only the view's owner: bob, who may read alice's view and nothing else
------------------------------------------------------------------------------
SET ROLE ivm_own_alice;
CREATE TABLE own_alice.gt (id int PRIMARY KEY, x int);
INSERT INTO own_alice.gt SELECT g, g % 7 FROM generate_series(1, 30) g;
SELECT ivm.create_view('own_alice.gv', 'SELECT id, x FROM own_alice.gt');
GRANT USAGE ON SCHEMA own_alice TO ivm_own_bob;
GRANT SELECT ON own_alice.gv TO ivm_own_bob;
RESET ROLE;
INSERT INTO own_q VALUES ('g', 'own_alice.gv', 'SELECT id, x FROM own_alice.gt');
SELECT storagerel AS own_gv_storage FROM ivm._views WHERE viewrel = 'own_alice.gv'::regclass \gset
SELECT logrel AS own_gt_log FROM ivm._sources WHERE relid = 'own_alice.gt'::regclass \gset
SET ROLE ivm_own_bob;
SELECT is((SELECT count(*)::int FROM own_alice.gv), 30, 'g. bob reads alice''s view');
SELECT throws_ok($$CREATE INDEX ON own_alice.gv (x)$$, '42501', NULL, 'g. bob cannot CREATE INDEX ON alice''s view');
SELECT throws_ok($$REFRESH MATERIALIZED VIEW own_alice.gv$$, '42501', NULL, 'g. bob cannot REFRESH it');
SELECT throws_ok($$SELECT ivm.refresh('own_alice.gv')$$, '42501', NULL, 'g. nor through ivm.refresh');
SELECT throws_ok(format('SELECT * FROM %s', :'own_gv_storage'), '42501', NULL, 'g. bob cannot read its storage');
SELECT throws_ok(format('INSERT INTO %s DEFAULT VALUES', :'own_gv_storage'), '42501', NULL,
                 'g. bob cannot insert into its storage');
SELECT throws_ok(format('DELETE FROM %s', :'own_gv_storage'), '42501', NULL, 'g. bob cannot delete from its storage');
SELECT throws_ok(format('TRUNCATE %s', :'own_gv_storage'), '42501', NULL, 'g. bob cannot truncate its storage');
SELECT throws_ok(format('SELECT * FROM %s', :'own_gt_log'), '42501', NULL, 'g. bob cannot read the delta log of alice''s table');
SELECT throws_ok(format('CREATE TRIGGER own_bob_t BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()',
                        :'own_gv_storage'), '42501', NULL, 'g. bob cannot put a trigger on its storage');
RESET ROLE;
SET ROLE ivm_own_alice;
UPDATE own_alice.gt SET x = x + 1 WHERE id < 10;
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'g. a superuser ticks after bob''s attempts');
SELECT is(pg_temp.mismatched('g'), '{}'::text[], 'g. alice''s view equals its query');

------------------------------------------------------------------------------
-- d. DDL alice tries on her own storage, log and definition: refused
--    (42501) though she owns them; the view still follows its query.
------------------------------------------------------------------------------
SET ROLE ivm_own_alice;
CREATE TABLE own_alice.dt (id int PRIMARY KEY, x int);
INSERT INTO own_alice.dt SELECT g, g % 5 FROM generate_series(1, 50) g;
SELECT ivm.create_view('own_alice.dv', 'SELECT id, x FROM own_alice.dt');
CREATE FUNCTION own_alice.trg() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM own_alice.pwn('trigger');
    NEW.x := -1;
    RETURN NEW;
END
$f$;
RESET ROLE;
INSERT INTO own_q VALUES ('d', 'own_alice.dv', 'SELECT id, x FROM own_alice.dt');
SELECT storagerel AS own_dv_storage, defrel AS own_dv_def FROM ivm._views WHERE viewrel = 'own_alice.dv'::regclass \gset
SELECT logrel AS own_dt_log FROM ivm._sources WHERE relid = 'own_alice.dt'::regclass \gset
SET ROLE ivm_own_alice;
SELECT throws_ok(format('CREATE TRIGGER own_t BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION own_alice.trg()', :'own_dv_storage'),
                 '42501', NULL, 'd. alice cannot put a trigger on her storage');
SELECT throws_ok(format('CREATE TRIGGER own_t BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION own_alice.trg()', :'own_dt_log'),
                 '42501', NULL, 'd. nor on her table''s delta log');
SELECT throws_ok(format('CREATE RULE own_r AS ON INSERT TO %s DO ALSO SELECT own_alice.pwn(''rule'')', :'own_dv_storage'),
                 '42501', NULL, 'd. nor a rule on her storage');
SELECT throws_ok(format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', :'own_dv_storage'),
                 '42501', NULL, 'd. nor enable row level security on it');
SELECT throws_ok(format('CREATE POLICY own_p ON %s USING (own_alice.pwn(''policy''))', :'own_dv_storage'),
                 '42501', NULL, 'd. nor a policy on it');
SELECT throws_ok(format('ALTER TABLE %s DISABLE TRIGGER ALL', :'own_dv_storage'),
                 '42501', NULL, 'd. nor disable its triggers (the write guard)');
SELECT throws_ok(format('ALTER TABLE %s ADD CONSTRAINT own_c CHECK (own_alice.pwn(''constraint''))', :'own_dv_storage'),
                 '42501', NULL, 'd. nor add a constraint to it');
SELECT throws_ok(format('CREATE INDEX ON %s (x)', :'own_dv_storage'),
                 '42501', NULL, 'd. nor index it directly');
SELECT throws_ok(format('ALTER TABLE %s RENAME TO own_renamed', :'own_dv_storage'),
                 '42501', NULL, 'd. nor rename it');
SELECT throws_ok(format('ALTER TABLE %s SET SCHEMA own_alice', :'own_dv_storage'),
                 '42501', NULL, 'd. nor move it to her schema');
SELECT throws_ok(format('ALTER TABLE %s ADD COLUMN own_junk int', :'own_dt_log'),
                 '42501', NULL, 'd. nor add a column to her table''s delta log');
SELECT throws_ok(format('CREATE OR REPLACE VIEW %s AS SELECT id, x + 1 AS x FROM own_alice.dt', :'own_dv_def'),
                 '42501', NULL, 'd. alice cannot replace the query of her definition view');
SELECT throws_ok(format('CREATE OR REPLACE RULE "_RETURN" AS ON SELECT TO %s DO INSTEAD SELECT id, x + 2 AS x FROM own_alice.dt', :'own_dv_def'),
                 '42501', NULL, 'd. nor its "_RETURN" rule');
SELECT throws_ok(format('ALTER VIEW %s RENAME TO own_def_renamed', :'own_dv_def'),
                 '42501', NULL, 'd. nor rename her definition view');
SELECT throws_ok(format('ALTER VIEW %s SET SCHEMA own_alice', :'own_dv_def'),
                 '42501', NULL, 'd. nor move it to her schema');
INSERT INTO own_alice.dt VALUES (51, 1), (52, 2);
UPDATE own_alice.dt SET x = x + 10 WHERE id <= 3;
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'd. a superuser ticks after her attempts');
SELECT is(pg_temp.mismatched('d'), '{}'::text[], 'd. her views still equal their query');
SELECT is(pg_temp.alice_super(), false, 'd. alice is not superuser after her DDL attempts and a tick');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'd. no other role changed');
SELECT is_empty($$SELECT * FROM public.own_calls WHERE was_super$$, 'd. her code never ran as a superuser');
SELECT pg_temp.next_step();

------------------------------------------------------------------------------
-- e. Ownership of everything ivm makes for alice's views: storage, shards,
--    hidden views (their storage, their views), definitions, delta logs,
--    indexes; it moves with ALTER VIEW ... OWNER TO and REASSIGN OWNED.
------------------------------------------------------------------------------
CREATE TEMP TABLE own_before AS SELECT oid FROM pg_class WHERE relnamespace = 'ivm'::regnamespace;
SET ROLE ivm_own_alice;
CREATE TABLE own_alice.o (id int PRIMARY KEY, k int, x int);
CREATE TABLE own_alice.c (k int PRIMARY KEY, name text);
INSERT INTO own_alice.c SELECT g, 'c' || g FROM generate_series(1, 10) g;
INSERT INTO own_alice.o SELECT g, g % 10 + 1, g * 7 % 101 FROM generate_series(1, 200) g;
SELECT ivm.create_view('own_alice.plain', 'SELECT id, x FROM own_alice.o');
SELECT ivm.create_view('own_alice.topk', 'SELECT id, x FROM own_alice.o ORDER BY x, id LIMIT 5');
SELECT ivm.create_view('own_alice.aggj', 'SELECT c.name, sum(o.x) AS s FROM own_alice.o o JOIN own_alice.c c ON c.k = o.k GROUP BY c.name ORDER BY s DESC, c.name LIMIT 3');
SELECT ivm.create_view('own_alice.part', 'SELECT k, count(*) AS n, sum(x) AS s FROM own_alice.o GROUP BY k',
                       '{"partitions": 2, "partition_key": "k"}');
CREATE INDEX own_plain_x ON own_alice.plain (x);
CREATE INDEX own_part_k ON own_alice.part (k);
GRANT USAGE ON SCHEMA own_alice TO ivm_own_bob, ivm_own_carol;
GRANT SELECT ON own_alice.o, own_alice.c TO ivm_own_bob, ivm_own_carol;
RESET ROLE;
INSERT INTO own_q VALUES
    ('e', 'own_alice.plain', 'SELECT id, x FROM own_alice.o'),
    ('e', 'own_alice.topk', 'SELECT id, x FROM own_alice.o ORDER BY x, id LIMIT 5'),
    ('e', 'own_alice.aggj', 'SELECT c.name, sum(o.x) AS s FROM own_alice.o o JOIN own_alice.c c ON c.k = o.k GROUP BY c.name ORDER BY s DESC, c.name LIMIT 3'),
    ('e', 'own_alice.part', 'SELECT k, count(*) AS n, sum(x) AS s FROM own_alice.o GROUP BY k');

-- the catalog rows of the four views and of their hidden views
CREATE TEMP VIEW own_tree AS
    WITH RECURSIVE t AS (
        SELECT w.* FROM ivm._views w
        WHERE w.viewrel IN ('own_alice.plain'::regclass, 'own_alice.topk'::regclass,
                            'own_alice.aggj'::regclass, 'own_alice.part'::regclass)
        UNION ALL
        SELECT h.* FROM ivm._views h JOIN t ON h.parent_id = t.id)
    SELECT * FROM t;
-- the owners of one kind of relation, NULL when there is none
CREATE FUNCTION pg_temp.owners(which text) RETURNS text[] LANGUAGE sql AS $f$
    SELECT array_agg(DISTINCT c.relowner::regrole::text ORDER BY c.relowner::regrole::text)
    FROM pg_class c
    WHERE c.oid IN (
        SELECT storagerel FROM own_tree WHERE which = 'storage'
        UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN own_tree t ON t.storagerel = i.inhparent
                  WHERE which = 'shards'
        UNION ALL SELECT viewrel FROM own_tree WHERE which = 'hidden' AND parent_id IS NOT NULL
        UNION ALL SELECT defrel FROM own_tree WHERE which = 'definitions'
        UNION ALL SELECT x.indexrelid FROM pg_index x
                  WHERE which = 'indexes'
                    AND (x.indrelid IN (SELECT storagerel FROM own_tree)
                         OR x.indrelid IN (SELECT i.inhrelid FROM pg_inherits i JOIN own_tree t
                                           ON t.storagerel = i.inhparent))
        UNION ALL SELECT logrel FROM ivm._sources
                  WHERE which = 'logs' AND relid IN ('own_alice.o'::regclass, 'own_alice.c'::regclass)
        UNION ALL SELECT loghalf FROM ivm._sources
                  WHERE which = 'logs' AND relid IN ('own_alice.o'::regclass, 'own_alice.c'::regclass)
        UNION ALL SELECT b.oid FROM pg_class b
                  WHERE which = 'all' AND b.relnamespace = 'ivm'::regnamespace
                    AND b.oid NOT IN (SELECT oid FROM own_before)
                    AND b.oid NOT IN (SELECT logrel FROM ivm._sources)
                    AND b.oid NOT IN (SELECT loghalf FROM ivm._sources WHERE loghalf IS NOT NULL))
$f$;

SELECT is((SELECT count(*)::int FROM own_tree WHERE parent_id IS NOT NULL) > 0, true,
          'e. alice''s top-k and aggregate-over-join views have hidden views');
SELECT is((SELECT count(*)::int FROM pg_inherits i JOIN own_tree t ON t.storagerel = i.inhparent), 2,
          'e. her partitioned view has two shards');
SELECT is(pg_temp.owners('storage'), ARRAY['ivm_own_alice'], 'e. alice owns the storage of her views and of their hidden views');
SELECT is(pg_temp.owners('shards'), ARRAY['ivm_own_alice'], 'e. alice owns the shards of her partitioned view');
SELECT is(pg_temp.owners('hidden'), ARRAY['ivm_own_alice'], 'e. alice owns her hidden views');
SELECT is(pg_temp.owners('definitions'), ARRAY['ivm_own_alice'], 'e. alice owns their definitions');
SELECT is(pg_temp.owners('indexes'), ARRAY['ivm_own_alice'], 'e. alice owns the indexes on their storage');
SELECT is(pg_temp.owners('logs'), ARRAY['ivm_own_alice'], 'e. alice owns the delta logs of her tables');
SELECT is(pg_temp.owners('all'), ARRAY['ivm_own_alice'], 'e. every other relation ivm made in schema ivm for her views is hers');
SET ROLE ivm_own_alice;
INSERT INTO own_alice.o SELECT g, g % 10 + 1, g * 13 % 97 FROM generate_series(201, 260) g;
DELETE FROM own_alice.o WHERE x < 3;
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'e. a superuser ticks alice''s views');
SELECT is(pg_temp.mismatched('e'), '{}'::text[], 'e. every view of alice equals its query');

ALTER VIEW own_alice.plain OWNER TO ivm_own_bob;
ALTER VIEW own_alice.topk OWNER TO ivm_own_bob;
ALTER VIEW own_alice.aggj OWNER TO ivm_own_bob;
ALTER VIEW own_alice.part OWNER TO ivm_own_bob;
SELECT is(pg_temp.owners('storage'), ARRAY['ivm_own_bob'], 'e. after ALTER VIEW ... OWNER TO bob, bob owns their storage and their hidden views''');
SELECT is(pg_temp.owners('shards'), ARRAY['ivm_own_bob'], 'e. and the shards');
SELECT is(pg_temp.owners('hidden'), ARRAY['ivm_own_bob'], 'e. and the hidden views');
SELECT is(pg_temp.owners('definitions'), ARRAY['ivm_own_bob'], 'e. and the definitions');
SELECT is(pg_temp.owners('indexes'), ARRAY['ivm_own_bob'], 'e. and the indexes');
SELECT is(pg_temp.owners('all'), ARRAY['ivm_own_bob'], 'e. and everything else ivm made for them');
SELECT is(pg_temp.owners('logs'), ARRAY['ivm_own_alice'], 'e. the delta logs stay with the tables'' owner, alice');
SET ROLE ivm_own_alice;
UPDATE own_alice.o SET x = x + 1 WHERE id % 3 = 0;
INSERT INTO own_alice.c VALUES (11, 'c11');
UPDATE own_alice.o SET k = 11 WHERE id % 17 = 0;
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'e. a superuser ticks the views bob owns now');
SELECT is(pg_temp.mismatched('e'), '{}'::text[], 'e. every view equals its query under bob');

REASSIGN OWNED BY ivm_own_bob TO ivm_own_carol;
SELECT is(pg_temp.owners('storage'), ARRAY['ivm_own_carol'], 'e. after REASSIGN OWNED BY bob TO carol, carol owns their storage');
SELECT is(pg_temp.owners('shards'), ARRAY['ivm_own_carol'], 'e. and the shards');
SELECT is(pg_temp.owners('hidden'), ARRAY['ivm_own_carol'], 'e. and the hidden views');
SELECT is(pg_temp.owners('definitions'), ARRAY['ivm_own_carol'], 'e. and the definitions');
SELECT is(pg_temp.owners('all'), ARRAY['ivm_own_carol'], 'e. and everything else ivm made for them');
SELECT is((SELECT array_agg(DISTINCT c.relowner::regrole::text) FROM own_tree t JOIN pg_class c ON c.oid = t.viewrel
           WHERE t.parent_id IS NULL), ARRAY['ivm_own_carol'], 'e. and the views themselves');
SET ROLE ivm_own_alice;
DELETE FROM own_alice.o WHERE id % 4 = 0;
INSERT INTO own_alice.o SELECT g, g % 11 + 1, g % 50 FROM generate_series(300, 340) g;
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'e. a superuser ticks the views carol owns now');
SELECT is(pg_temp.mismatched('e'), '{}'::text[], 'e. every view equals its query under carol');

ALTER TABLE own_alice.o OWNER TO ivm_own_bob;
SELECT is((SELECT c.relowner::regrole::text FROM ivm._sources s JOIN pg_class c ON c.oid = s.logrel
           WHERE s.relid = 'own_alice.o'::regclass), 'ivm_own_bob',
          'e. after ALTER TABLE ... OWNER TO bob, bob owns the table''s delta log');
SET ROLE ivm_own_bob;
INSERT INTO own_alice.o SELECT g, g % 10 + 1, g % 40 FROM generate_series(400, 420) g;
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'e. a superuser ticks after the table changed owner');
SELECT is(pg_temp.mismatched('e'), '{}'::text[], 'e. every view equals its query after that');
SELECT is(pg_temp.alice_super(), false, 'e. alice is not superuser at the end');
SELECT is_empty('SELECT * FROM pg_temp.roles_changed()', 'e. no other role changed at the end');

------------------------------------------------------------------------------
-- h. What else alice's code may try inside a tick, and locks: settings left
--    for the session that ticks, an error code that would fail every tick,
--    locks and row locks that would stall every tick, rights re-granted, her
--    storage attached under a table of hers, deltas of her own in her log.
------------------------------------------------------------------------------
SET ROLE ivm_own_alice;
CREATE TABLE own_alice.ht (id int PRIMARY KEY, v int);
INSERT INTO own_alice.ht SELECT g, g FROM generate_series(1, 10) g;
-- leaves a search_path and a statement_timeout of hers in the caller's session
CREATE FUNCTION own_alice.h_settings(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'own_alice, pg_catalog', false);
    PERFORM pg_catalog.set_config('statement_timeout', '4242', false);
    RETURN x;
END
$f$;
-- raises a "transient" SQLSTATE on the row she marks
CREATE FUNCTION own_alice.h_flaky(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    IF x = 666 THEN
        RAISE EXCEPTION 'not really a serialization failure' USING ERRCODE = '40001';
    END IF;
    RETURN x;
END
$f$;
SELECT ivm.create_view('own_alice.hs', 'SELECT id, own_alice.h_settings(v) AS v FROM own_alice.ht');
SELECT ivm.create_view('own_alice.hf', 'SELECT id, own_alice.h_flaky(v) AS v FROM own_alice.ht');
CREATE TABLE own_alice.hp (id int, v int, __ivm_hash int8) PARTITION BY RANGE (id);
RESET ROLE;
CREATE TABLE public.own_h_other (id int PRIMARY KEY);
SELECT ivm.create_view('public.own_h_otherv', 'SELECT id FROM public.own_h_other');
-- (hs is compared with the same rows computed without her function, which
-- would set its settings in this session)
INSERT INTO own_q VALUES ('h', 'own_alice.hs', 'SELECT id, v FROM own_alice.ht'),
                         ('h', 'public.own_h_otherv', 'SELECT id FROM public.own_h_other');
SELECT storagerel AS own_hs_storage FROM ivm._views WHERE viewrel = 'own_alice.hs'::regclass \gset
SELECT logrel AS own_ht_log FROM ivm._sources WHERE relid = 'own_alice.ht'::regclass \gset

SELECT current_setting('search_path') AS own_path_before \gset
SET ROLE ivm_own_alice;
UPDATE own_alice.ht SET v = v + 1 WHERE id <= 3;
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'h. a superuser ticks the view whose function sets settings');
SELECT is(current_setting('search_path'), :'own_path_before',
          'h. the search_path the view''s function set is not left in the session that ticked');
SELECT is(current_setting('statement_timeout'), '0',
          'h. nor its statement_timeout');

-- the row that raises 40001: ticks fail a few times, then her view is quarantined
SET ROLE ivm_own_alice;
INSERT INTO own_alice.ht VALUES (666, 666);
RESET ROLE;
INSERT INTO public.own_h_other SELECT generate_series(1, 5);
SELECT throws_ok($$SELECT ivm.tick()$$, '40001', NULL, 'h. a tick fails on the code her function raises');
SELECT throws_ok($$SELECT ivm.tick()$$, '40001', NULL, 'h. again');
SELECT throws_ok($$SELECT ivm.tick()$$, '40001', NULL, 'h. and a third time');
SELECT lives_ok($$SELECT ivm.tick()$$, 'h. then the tick goes on without her view');
SELECT is((SELECT state FROM ivm.views WHERE name = 'own_alice.hf'::regclass), 'failed',
          'h. her view is quarantined');
SELECT is(pg_temp.mismatched('h'), '{}'::text[], 'h. the other views equal their queries');
SET ROLE ivm_own_alice;
DELETE FROM own_alice.ht WHERE id = 666;
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'h. once the row is gone, a tick');
SELECT is((SELECT state FROM ivm.views WHERE name = 'own_alice.hf'::regclass), 'ok',
          'h. her view is maintained again');

SET ROLE ivm_own_alice;
SELECT throws_ok(format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', :'own_hs_storage'), '42501', NULL,
                 'h. alice cannot LOCK her storage');
SELECT throws_ok($$LOCK TABLE own_alice.hs IN ACCESS EXCLUSIVE MODE$$, '42501', NULL,
                 'h. nor her incremental view (which would lock its storage)');
SELECT throws_ok(format('LOCK TABLE %s IN SHARE MODE', :'own_ht_log'), '42501', NULL,
                 'h. nor her table''s delta log');
SELECT throws_ok(format('SELECT 1 FROM %s FOR UPDATE', :'own_hs_storage'), '42501', NULL,
                 'h. she cannot lock rows of her storage');
SELECT throws_ok(format('SELECT 1 FROM %s FOR KEY SHARE', :'own_ht_log'), '42501', NULL,
                 'h. nor of her log');
SELECT throws_ok(format('GRANT UPDATE ON %s TO ivm_own_alice', :'own_hs_storage'), '42501', NULL,
                 'h. she cannot grant herself UPDATE on her storage');
SELECT throws_ok($$GRANT SELECT ON ALL TABLES IN SCHEMA ivm TO ivm_own_bob$$, '42501', NULL,
                 'h. nor grant on every table of schema ivm');
SELECT throws_ok(format('INSERT INTO %s (id, v, __ivm_weight) VALUES (4242, 1, 1)', :'own_ht_log'), NULL, NULL,
                 'h. she cannot write a delta of her own into her log');
SELECT throws_ok(format('ALTER TABLE own_alice.hp ATTACH PARTITION %s FOR VALUES FROM (0) TO (100)', :'own_hs_storage'),
                 '42501', NULL, 'h. nor attach her storage under a table of hers');
SELECT throws_ok(format('DELETE FROM %s', :'own_ht_log'), '42501', NULL,
                 'h. nor delete the deltas of her table that other views wait for');
SELECT lives_ok(format('CREATE VIEW own_alice.h_wrap_log AS SELECT * FROM %s', :'own_ht_log'),
                'h. she may read her log through a view of hers');
CREATE VIEW own_alice.h_wrap_data AS SELECT * FROM own_alice.hs;
SELECT throws_ok($$LOCK TABLE own_alice.h_wrap_log IN ACCESS EXCLUSIVE MODE$$, '42501', NULL,
                 'h. but not lock the log through it');
SELECT throws_ok($$LOCK TABLE own_alice.h_wrap_data IN ACCESS EXCLUSIVE MODE$$, '42501', NULL,
                 'h. nor her storage through a view over her incremental view');
SELECT throws_ok($$CREATE INDEX CONCURRENTLY ON own_alice.hs (id)$$, '0A000', NULL,
                 'h. CREATE INDEX CONCURRENTLY on her view is refused');
SELECT throws_ok($$ALTER TABLE own_alice.ht DISABLE TRIGGER USER$$, '42501', NULL,
                 'h. she cannot disable the capture of her table while views read it');
SELECT throws_ok(format('ALTER TABLE own_alice.ht DISABLE TRIGGER %I',
                        (SELECT min(tgname) FROM pg_trigger WHERE tgrelid = 'own_alice.ht'::regclass
                           AND tgname LIKE 'ivm\_capture\_%')), '42501', NULL,
                 'h. nor one capture trigger');
SELECT throws_ok(format('DROP TRIGGER %I ON own_alice.ht',
                        (SELECT min(tgname) FROM pg_trigger WHERE tgrelid = 'own_alice.ht'::regclass
                           AND tgname LIKE 'ivm\_capture\_%')), '42501', NULL,
                 'h. nor drop one');
RESET ROLE;
-- a tick run in a session with settings of its own (any role may tick)
-- stores what the query returns under the server's time zone and default
-- formats, not under the ticking session's
CREATE TABLE public.own_tz (id int PRIMARY KEY, ts timestamptz);
SELECT ivm.create_view('public.own_tzv', 'SELECT id, ts::text AS s, ts::date AS d, (ts - ''2024-01-01''::timestamptz)::text AS i FROM public.own_tz');
INSERT INTO public.own_tz VALUES (1, '2024-01-01 23:30:00+00'), (2, '2024-06-30 12:00:00+00');
SET TimeZone = 'Pacific/Kiritimati';
SET DateStyle = 'German, DMY';
SET IntervalStyle = 'sql_standard';
SELECT ivm.tick();
RESET DateStyle;
RESET IntervalStyle;
SELECT set_config('TimeZone', current_setting('log_timezone'), false);
SELECT is((SELECT array_agg(s || ' ' || d || ' ' || i ORDER BY id) FROM public.own_tzv),
          (SELECT array_agg(ts::text || ' ' || ts::date || ' ' || (ts - '2024-01-01'::timestamptz)::text ORDER BY id)
             FROM public.own_tz),
          'h. a tick in a session with another time zone, DateStyle and IntervalStyle stores what the query returns under the server''s');
RESET TimeZone;
-- every storage, shard and log of the database, the second view over a
-- captured table included: its owner has none of the rights that delete or lock
SELECT is_empty($$SELECT x.rel::regclass::text FROM (
                    SELECT v.storagerel::oid AS rel FROM ivm._views v
                    UNION ALL SELECT i.inhrelid FROM ivm._views v JOIN pg_inherits i ON i.inhparent = v.storagerel
                    UNION ALL SELECT s.logrel::oid FROM ivm._sources s) x
                  JOIN pg_class c ON c.oid = x.rel JOIN pg_roles r ON r.oid = c.relowner
                  WHERE NOT r.rolsuper
                    AND has_table_privilege(c.relowner, x.rel, 'DELETE, UPDATE, TRUNCATE, REFERENCES, TRIGGER')$$,
                'h. no owner of a storage, shard or log may delete from, update, truncate or lock it');
SELECT lives_ok($$SELECT ivm.tick()$$, 'h. a tick after all that');
SELECT is(pg_temp.mismatched('h'), '{}'::text[], 'h. every view equals its query');
SELECT is(pg_temp.alice_super(), false, 'h. alice is not superuser');

SELECT * FROM finish();
ROLLBACK;
