-- The trust boundary, tried as an attacker would (issue 9): an ordinary role
-- in a database shared with others must not gain rights, read rows or stop
-- other roles' ticks through ivm.  Push sources have their own file
-- (09_security_push.sql).  Each view check compares with the query run
-- directly, as a multiset.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(71);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE ROLE ivm_sec_alice;
CREATE ROLE ivm_sec_mallory;
CREATE ROLE "ivm_sec_o'x"; -- a role name with a quote in it
CREATE SCHEMA sec_alice AUTHORIZATION ivm_sec_alice;
CREATE SCHEMA sec_mal AUTHORIZATION ivm_sec_mallory;
GRANT CREATE ON SCHEMA public TO ivm_sec_mallory;

-- whoever runs the attacker's code, and as whom
CREATE TABLE public.sec_calls (fn text, usr text, was_super boolean);
GRANT INSERT, SELECT ON public.sec_calls TO PUBLIC;

------------------------------------------------------------------------------
-- 1. Privilege escalation through search_path: an operator =(regclass,
--    regclass) (pg_catalog has none, so it wins over oid = oid) whose
--    function makes mallory superuser when a superuser runs it.
------------------------------------------------------------------------------
SET ROLE ivm_sec_mallory;
CREATE FUNCTION sec_mal.pwn(a regclass, b regclass) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO public.sec_calls
        SELECT 'pwn', current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
    BEGIN
        EXECUTE 'ALTER ROLE ivm_sec_mallory SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN a::oid = b::oid;
END
$f$;
CREATE FUNCTION sec_mal.pwn_oid(a regclass, b oid) RETURNS boolean LANGUAGE sql
    AS $f$ SELECT sec_mal.pwn(a, b::regclass) $f$;
CREATE OPERATOR sec_mal.= (LEFTARG = regclass, RIGHTARG = regclass, FUNCTION = sec_mal.pwn);
CREATE OPERATOR sec_mal.= (LEFTARG = regclass, RIGHTARG = oid, FUNCTION = sec_mal.pwn_oid);
CREATE TABLE sec_mal.m (x int);
INSERT INTO sec_mal.m VALUES (1), (2);
SELECT lives_ok($$SELECT ivm.create_view('sec_mal.mv', 'SELECT x FROM sec_mal.m')$$,
                'mallory creates her own view');
SELECT lives_ok($$SELECT ivm.create_source('sec_mal.ps', 'a int')$$, 'mallory creates a push source');
SET search_path = sec_mal, public, pg_catalog;
SELECT lives_ok($$SELECT ivm.watch('sec_mal.mv')$$, 'mallory watches her view with her operator first on search_path');
INSERT INTO sec_mal.m VALUES (3);
SELECT lives_ok($$SELECT ivm.tick()$$, 'mallory ticks');
SELECT lives_ok($$SELECT count(*) FROM ivm.changes('sec_mal.mv')$$, 'mallory reads the changes of her view');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW sec_mal.mv$$, 'mallory refreshes her view');
SELECT lives_ok($$SELECT ivm.set_dedup('sec_mal.ps', true)$$, 'mallory turns dedup on for her source');
SELECT lives_ok($$SELECT ivm.explain('sec_mal.mv')$$, 'mallory explains her view');
SELECT lives_ok($$SELECT ivm.unwatch('sec_mal.mv')$$, 'mallory unwatches her view');
RESET search_path;
RESET ROLE;
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_sec_mallory'), false,
          'mallory is not superuser after calling ivm with her operator on search_path');
SELECT is((SELECT count(*)::int FROM public.sec_calls WHERE was_super), 0,
          'her operator never ran as a superuser');

-- second form: planted in public, called by a superuser with the default search_path
SET ROLE ivm_sec_mallory;
CREATE OPERATOR public.= (LEFTARG = regclass, RIGHTARG = regclass, FUNCTION = sec_mal.pwn);
CREATE OPERATOR public.= (LEFTARG = regclass, RIGHTARG = oid, FUNCTION = sec_mal.pwn_oid);
RESET ROLE;
CREATE TABLE sec_su (k int);
INSERT INTO sec_su VALUES (1);
SELECT lives_ok($$SELECT ivm.create_view('sec_su_v', 'SELECT k FROM sec_su')$$, 'a superuser creates a view');
SELECT lives_ok($$SELECT ivm.watch('sec_su_v')$$, 'the superuser watches it');
INSERT INTO sec_su VALUES (2);
SELECT lives_ok($$SELECT ivm.tick()$$, 'the superuser ticks');
SELECT lives_ok($$SELECT count(*) FROM ivm.changes('sec_su_v')$$, 'the superuser reads changes');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW sec_su_v$$, 'the superuser refreshes');
SELECT lives_ok($$SELECT ivm.set_dedup('sec_mal.ps', false)$$, 'the superuser sets dedup');
SELECT lives_ok($$SELECT ivm.unwatch('sec_su_v')$$, 'the superuser unwatches');
SELECT lives_ok($$SELECT ivm.drop_view('sec_su_v')$$, 'the superuser drops the view');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_sec_mallory'), false,
          'mallory is not superuser after a superuser called ivm with her operator in public');
SELECT is((SELECT count(*)::int FROM public.sec_calls WHERE was_super), 0,
          'her operator in public never ran as a superuser');
DROP OPERATOR public.= (regclass, regclass);
DROP OPERATOR public.= (regclass, oid);

------------------------------------------------------------------------------
-- 2. Rows leak through another owner's error; a failing view stops nobody.
------------------------------------------------------------------------------
SET ROLE ivm_sec_alice;
CREATE TABLE sec_alice.t (s text);
INSERT INTO sec_alice.t VALUES ('1'), ('2');
SELECT lives_ok($$SELECT ivm.create_view('sec_alice.nums', 'SELECT s::int AS n FROM sec_alice.t')$$,
                'alice: a view that casts her text to int');
SELECT lives_ok($$SELECT ivm.create_view('sec_alice.total', 'SELECT sum(n) AS total FROM sec_alice.nums')$$,
                'alice: a view over it');
INSERT INTO sec_alice.t VALUES ('TOPSECRET-42');
RESET ROLE;
SET ROLE ivm_sec_mallory;
INSERT INTO sec_mal.m VALUES (4);
SELECT lives_ok($$SELECT ivm.tick()$$,
                'quarantine: mallory''s tick succeeds although alice''s view fails');
SELECT bag_eq('SELECT x FROM sec_mal.mv', 'SELECT x FROM sec_mal.m', 'mallory''s view equals its query');
SELECT is((SELECT error FROM ivm.views WHERE name::text = 'sec_alice.nums'), NULL,
          'mallory does not see alice''s error in ivm.views');
SELECT is((SELECT error_sqlstate FROM ivm.views WHERE name::text = 'sec_alice.nums'), '22P02',
          'mallory sees its SQLSTATE');
SELECT is((SELECT state FROM ivm.views WHERE name::text = 'sec_alice.nums'), 'failed',
          'alice''s view is failed');
SELECT is((SELECT state FROM ivm.views WHERE name::text = 'sec_alice.total'), 'failed',
          'the view over it is failed too');
SELECT throws_ok($$SELECT * FROM ivm._view_errors$$, '42501', NULL, 'mallory cannot read ivm._view_errors');

-- all-or-nothing mode: the error mallory gets carries no row value
CREATE FUNCTION pg_temp.error_text(stmt text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    st text;
    m text;
    d text;
    h text;
    c text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL,
                            h = PG_EXCEPTION_HINT, c = PG_EXCEPTION_CONTEXT;
    RETURN concat_ws(E'\n', st, m, d, h, c);
END
$f$;
SET ivm.on_error = abort;
SELECT matches(pg_temp.error_text('SELECT ivm.tick()'), '^22P02\n.*nums',
               'abort mode: mallory''s tick fails with the SQLSTATE and the view''s name');
SELECT doesnt_match(pg_temp.error_text('SELECT ivm.tick()'), 'TOPSECRET',
                    'abort mode: the error mallory sees does not quote alice''s row');
SET client_min_messages = log;
SELECT doesnt_match(pg_temp.error_text('SELECT ivm.tick()'), 'TOPSECRET',
                    'not even with client_min_messages = log');
SET client_min_messages = warning;
RESET ivm.on_error;
RESET ROLE;

SET ROLE ivm_sec_alice;
SELECT matches((SELECT error FROM ivm.views WHERE name = 'sec_alice.nums'::regclass), 'TOPSECRET-42',
               'alice, the owner, sees her error in full');
SELECT throws_ok($$REFRESH MATERIALIZED VIEW sec_alice.nums$$, '22P02', NULL,
                 'REFRESH by alice with the bad row still there fails with the full error');
INSERT INTO sec_alice.t VALUES ('3');            -- changes made while failed are not lost
UPDATE sec_alice.t SET s = '42' WHERE s = 'TOPSECRET-42';
RESET ROLE;
SET ROLE ivm_sec_mallory;
SELECT lives_ok($$SELECT ivm.tick()$$, 'the next tick (by mallory) maintains alice''s view again');
RESET ROLE;
SELECT bag_eq('SELECT n FROM sec_alice.nums', 'SELECT s::int AS n FROM sec_alice.t',
              'alice''s view equals its query after her fix');
SELECT bag_eq('SELECT total FROM sec_alice.total', 'SELECT sum(s::int) AS total FROM sec_alice.t',
              'the view over it equals its query');
SELECT is((SELECT array_agg(state ORDER BY name::text) FROM ivm.views WHERE name::text LIKE 'sec_alice.%'),
          ARRAY['ok', 'ok'], 'both are ok again');
SELECT is((SELECT count(*)::int FROM ivm._view_errors), 0, 'no error is kept any more');

------------------------------------------------------------------------------
-- to_jsonb of a watched view's changes runs alice's cast as alice
------------------------------------------------------------------------------
SET ROLE ivm_sec_alice;
CREATE TYPE sec_alice.mood AS ENUM ('calm', 'cross');
CREATE FUNCTION sec_alice.mood_json(m sec_alice.mood) RETURNS json LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO public.sec_calls
        SELECT 'mood_json', current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
    BEGIN
        EXECUTE 'ALTER ROLE ivm_sec_alice SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN to_json(m::text);
END
$f$;
CREATE CAST (sec_alice.mood AS json) WITH FUNCTION sec_alice.mood_json(sec_alice.mood);
CREATE TABLE sec_alice.moods (m sec_alice.mood);
SELECT lives_ok($$SELECT ivm.create_view('sec_alice.mv', 'SELECT m FROM sec_alice.moods')$$, 'alice: a view of her type');
SELECT lives_ok($$SELECT ivm.watch('sec_alice.mv')$$, 'alice watches it');
INSERT INTO sec_alice.moods VALUES ('cross');
RESET ROLE;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a superuser ticks');
SELECT is((SELECT array_agg(DISTINCT usr) FROM public.sec_calls WHERE fn = 'mood_json'), ARRAY['ivm_sec_alice'],
          'alice''s cast to json ran as alice');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'ivm_sec_alice'), false, 'alice is not superuser');
SELECT is((SELECT "row" FROM ivm.changes('sec_alice.mv')), '{"m": "cross"}'::jsonb, 'the change row is logged');

------------------------------------------------------------------------------
-- 6. Internal functions are not for PUBLIC, and capture cannot be forged.
------------------------------------------------------------------------------
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
                 WHERE p.pronamespace = 'ivm'::regnamespace AND p.proname LIKE '\_%'
                   AND p.proname NOT IN ('_refuse_write', '_check_preloaded', '_workers', '_progress')
                   AND has_function_privilege('ivm_sec_mallory', p.oid, 'EXECUTE')$$,
                'mallory may execute no internal function but two that only raise errors and the ones behind ivm.workers and ivm.progress');
SET ROLE ivm_sec_mallory;
CREATE TABLE sec_mal.forge (x int);
SELECT throws_ok($$CREATE TRIGGER forge AFTER INSERT ON sec_mal.forge REFERENCING NEW TABLE AS n
                   FOR EACH STATEMENT EXECUTE FUNCTION ivm._capture('ivm._log_1')$$,
                 '42501', NULL, 'mallory cannot attach ivm._capture to her table');
RESET ROLE;
CREATE TABLE sec_forged (x int);
CREATE TRIGGER forged AFTER INSERT ON sec_forged REFERENCING NEW TABLE AS n
    FOR EACH STATEMENT EXECUTE FUNCTION ivm._capture('ivm._log_1');
SELECT throws_ok($$INSERT INTO sec_forged VALUES (1)$$, '39P01', NULL,
                 'a capture trigger ivm did not attach refuses to write a log');

------------------------------------------------------------------------------
-- CREATE INDEX on a view is built by ivm in schema ivm: not a way to take
-- ivm's own names there, nor a tablespace the caller may not use
------------------------------------------------------------------------------
SET ROLE ivm_sec_mallory;
SELECT throws_ok($$CREATE INDEX _log_9999 ON sec_mal.mv (x)$$, '42939', NULL,
                 'mallory cannot name an index like a future delta log');
SELECT throws_ok($$CREATE INDEX mv_x ON sec_mal.mv (x) TABLESPACE pg_global$$, '42501', NULL,
                 'nor put it in a tablespace she may not create in');
SELECT lives_ok($$CREATE INDEX mv_x ON sec_mal.mv (x)$$, 'an ordinary index on her view is fine');
RESET ROLE;

------------------------------------------------------------------------------
-- 8. TABLESAMPLE is refused like random()
------------------------------------------------------------------------------
CREATE TABLE sec_sample (x int);
SELECT throws_ok($$SELECT ivm.create_view('sec_s1', 'SELECT x FROM sec_sample TABLESAMPLE BERNOULLI (50)')$$,
                 '0A000', 'incremental views cannot use TABLESAMPLE', 'TABLESAMPLE is refused');
SELECT throws_ok($$SELECT ivm.create_view('sec_s2', 'SELECT x FROM sec_sample TABLESAMPLE SYSTEM (10) REPEATABLE (1)')$$,
                 '0A000', 'incremental views cannot use TABLESAMPLE', 'even with REPEATABLE');
SELECT throws_ok($$SELECT ivm.create_view('sec_s3', 'SELECT * FROM (SELECT x FROM sec_sample TABLESAMPLE BERNOULLI (5)) s')$$,
                 '0A000', 'incremental views cannot use TABLESAMPLE', 'and in a subquery');
CREATE VIEW sec_sample_v AS SELECT x FROM sec_sample TABLESAMPLE BERNOULLI (5);
SELECT throws_ok($$SELECT ivm.create_view('sec_s4', 'SELECT x FROM sec_sample_v')$$,
                 '0A000', 'incremental views cannot use TABLESAMPLE', 'and in a plain view the query reads');
CREATE VIEW sec_random_v AS SELECT x, random() AS r FROM sec_sample;
SELECT throws_ok($$SELECT ivm.create_view('sec_s5', 'SELECT x FROM sec_random_v WHERE r < 2')$$,
                 '0A000', NULL, 'a volatile function in a plain view the query reads is refused');

------------------------------------------------------------------------------
-- A role name with a quote, spliced into SQL by the utility hook before
------------------------------------------------------------------------------
SELECT lives_ok($$SELECT ivm.create_view('sec_owned', 'SELECT x FROM sec_sample')$$, 'a view to hand over');
GRANT SELECT ON sec_sample TO "ivm_sec_o'x";
SELECT lives_ok($$ALTER VIEW sec_owned OWNER TO "ivm_sec_o'x"$$, 'ALTER VIEW ... OWNER TO a role named with a quote');
SELECT is((SELECT d.relowner::regrole::text FROM ivm._views v JOIN pg_class d ON d.oid = v.defrel
           WHERE v.viewrel = 'sec_owned'::regclass), '"ivm_sec_o''x"',
          'its definition now belongs to that role');

------------------------------------------------------------------------------
-- Messages: NULL arguments, read-only transactions
------------------------------------------------------------------------------
SELECT throws_ok($$SELECT ivm.watch(NULL)$$, '22004', 'argument "view" of ivm.watch must not be null', 'watch(NULL)');
SELECT throws_ok($$SELECT ivm.unwatch(NULL)$$, '22004', 'argument "view" of ivm.unwatch must not be null', 'unwatch(NULL)');
SELECT throws_ok($$SELECT * FROM ivm.changes(NULL)$$, '22004', 'argument "view" of ivm.changes must not be null', 'changes(NULL)');
SELECT throws_ok($$SELECT * FROM ivm.changes('sec_alice.mv', NULL)$$, '22004',
                 'argument "since_epoch" of ivm.changes must not be null', 'changes(v, NULL)');
SELECT throws_ok($$SELECT ivm.refresh(NULL)$$, '22004', 'argument "view" of ivm.refresh must not be null', 'refresh(NULL)');
SELECT throws_ok($$SELECT ivm.drop_view(NULL)$$, '22004', 'argument "view" of ivm.drop_view must not be null', 'drop_view(NULL)');
SELECT throws_ok($$SELECT ivm.explain(NULL)$$, '22004', 'argument "view" of ivm.explain must not be null', 'explain(NULL)');
SELECT throws_ok($$SELECT ivm.create_view(NULL, 'SELECT 1')$$, '22004', 'argument "name" of ivm.create_view must not be null', 'create_view(NULL, q)');

CREATE FUNCTION pg_temp.read_only(stmt text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    BEGIN
        SET LOCAL transaction_read_only = on;
        EXECUTE stmt;
        RETURN 'no error';
    EXCEPTION WHEN OTHERS THEN
        RETURN SQLSTATE || ' ' || SQLERRM;
    END;
END
$f$;
SELECT is(pg_temp.read_only('SELECT ivm.tick()'), '25006 cannot run a tick in a read-only transaction',
          'a tick in a read-only transaction says so');
SELECT is(pg_temp.read_only($q$SELECT ivm.create_view('sec_ro', 'SELECT 1 AS one')$q$),
          '25006 cannot create an incremental view in a read-only transaction',
          'so does create_view');

SELECT * FROM finish();
ROLLBACK;
