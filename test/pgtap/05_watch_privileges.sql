-- Watches and the change log, and who may see what (SPEC.md sections 2
-- "Watches" and 3 "Data leaking to a role without SELECT rights").
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(59);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE w_t (k int, x int);
INSERT INTO w_t VALUES (1, 10), (2, 20);
SELECT lives_ok($$SELECT ivm.create_view('w_v', 'SELECT k, sum(x) AS s FROM w_t GROUP BY k')$$, 'create w_v');
SELECT lives_ok($$SELECT ivm.create_view('w_quiet', 'SELECT k FROM w_t')$$, 'create w_quiet (never watched)');

-- watching
SELECT is(ivm.watch('w_v'), 'ivm_w_v', 'ivm.watch returns the channel ivm_<view>');
SELECT is(ivm.watch('w_v'), 'ivm_w_v', 'watching twice returns the same channel');
SELECT is((SELECT channel FROM ivm.views WHERE name = 'w_v'::regclass), 'ivm_w_v', 'ivm.views shows the channel');
SELECT is_empty($$SELECT * FROM ivm.changes('w_v')$$, 'no changes before the first tick');

CREATE TEMP TABLE w_epochs (n int, epoch bigint);
UPDATE w_t SET x = x + 1 WHERE k = 1;
INSERT INTO w_t VALUES (3, 30);
INSERT INTO w_epochs SELECT 1, epoch FROM ivm.tick();
SELECT set_eq(
    $$SELECT epoch, _weight, "row" FROM ivm.changes('w_v')$$,
    $$SELECT (SELECT epoch FROM w_epochs WHERE n = 1), w, r::jsonb FROM (VALUES
        (-1::bigint, '{"k": 1, "s": 10}'), (1, '{"k": 1, "s": 11}'), (1, '{"k": 3, "s": 30}')) v(w, r)$$,
    'ivm.changes returns the rows the tick removed (-1) and added (+1), as jsonb');

DELETE FROM w_t WHERE k = 2;
INSERT INTO w_epochs SELECT 2, epoch FROM ivm.tick();
SELECT set_eq(
    $$SELECT _weight, "row" FROM ivm.changes('w_v', since_epoch => (SELECT epoch FROM w_epochs WHERE n = 1))$$,
    $$VALUES (-1::bigint, '{"k": 2, "s": 20}'::jsonb)$$,
    'ivm.changes(since_epoch => e) returns only changes of later epochs');
SELECT is((SELECT count(*)::int FROM ivm.changes('w_v')), 4, 'ivm.changes() returns every retained change');
SELECT is_empty($$SELECT * FROM ivm.changes('w_v', (SELECT epoch FROM w_epochs WHERE n = 2))$$,
                'nothing after the last epoch');
INSERT INTO w_epochs SELECT 3, epoch FROM ivm.tick();
SELECT is((SELECT count(*)::int FROM ivm.changes('w_v')), 4, 'a tick that changes nothing logs nothing');

SELECT is(ivm.unwatch('w_v'), true, 'ivm.unwatch returns true for a watched view');
SELECT throws_ok($$SELECT * FROM ivm.changes('w_v')$$, '55000', NULL,
                 'after unwatch, ivm.changes says the view is not watched');
SELECT is((SELECT channel FROM ivm.views WHERE name = 'w_v'::regclass), NULL, 'no channel after unwatch');

-- a long name: the channel is truncated as LISTEN truncates identifiers
SELECT lives_ok($$SELECT ivm.create_view('w_' || repeat('n', 61), 'SELECT k FROM w_t')$$,
                'a view with a 63-byte name');
SELECT is(ivm.watch(('w_' || repeat('n', 61))::regclass),
          (SELECT left('ivm_w_' || repeat('n', 61), 63 - length('_' || v.id)) || '_' || v.id
           FROM ivm._views v WHERE v.viewrel = ('w_' || repeat('n', 61))::regclass),
          'a name too long for a channel: the channel is cut to 63 bytes, ending in _<view id>');
SELECT lives_ok($$SELECT ivm.create_view('w_' || repeat('n', 59) || 'xx', 'SELECT k FROM w_t')$$,
                'a second view whose name shares its first 61 bytes');
SELECT isnt(ivm.watch(('w_' || repeat('n', 59) || 'xx')::regclass),
            ivm.watch(('w_' || repeat('n', 61))::regclass),
            'the two long names get different channels');

-- privileges
SELECT is(ivm.watch('w_v'), 'ivm_w_v', 'watch w_v again (its change log starts afresh)');
CREATE ROLE ivm_tap_nosel;
CREATE ROLE ivm_tap_sel;
GRANT SELECT ON w_v TO ivm_tap_sel;
UPDATE w_t SET x = x + 100 WHERE k = 3;
INSERT INTO w_epochs SELECT 4, epoch FROM ivm.tick();

-- a role without SELECT on the view
SET LOCAL SESSION AUTHORIZATION ivm_tap_nosel;
SELECT throws_ok($$SELECT * FROM w_v$$, '42501', NULL, 'no SELECT: the view itself cannot be read');
SELECT throws_ok($$SELECT * FROM ivm.changes('w_v')$$, '42501', NULL, 'no SELECT: ivm.changes() is refused with 42501');
SELECT throws_ok($$SELECT ivm.watch('w_v')$$, '42501', NULL, 'no SELECT: ivm.watch() is refused with 42501');
SELECT throws_ok($$SELECT ivm.unwatch('w_v')$$, '42501', NULL, 'no SELECT: ivm.unwatch() is refused with 42501');
SELECT throws_ok($$SELECT ivm.refresh('w_v')$$, '42501', NULL, 'not the owner: ivm.refresh() is refused with 42501');
SELECT throws_ok($$REFRESH MATERIALIZED VIEW w_v$$, '42501', NULL,
                 'not the owner: REFRESH MATERIALIZED VIEW is refused with 42501');
SELECT throws_ok($$SELECT ivm.drop_view('w_v')$$, '42501', NULL, 'not the owner: ivm.drop_view() is refused with 42501');
SELECT throws_ok($$SELECT * FROM ivm._changes$$, '42501', NULL, 'the change log table cannot be read directly');
SELECT throws_ok(format('SELECT * FROM %s', (SELECT storage FROM ivm.views WHERE name = 'w_v'::regclass)),
                 '42501', NULL, 'the view''s storage cannot be read directly');
SELECT throws_ok(format('SELECT * FROM %s', (SELECT log FROM ivm.sources WHERE source = 'w_t'::regclass)),
                 '42501', NULL, 'the source''s delta log cannot be read directly');
SELECT lives_ok($$SELECT * FROM ivm.views$$, 'ivm.views can be read by any role');
RESET SESSION AUTHORIZATION;

-- the same role reached through SET ROLE from a superuser session
SET LOCAL ROLE ivm_tap_nosel;
SELECT throws_ok($$SELECT * FROM ivm.changes('w_v')$$, '42501', NULL,
                 'no SELECT (SET ROLE): ivm.changes() is refused with 42501');
SELECT throws_ok($$SELECT ivm.watch('w_v')$$, '42501', NULL,
                 'no SELECT (SET ROLE): ivm.watch() is refused with 42501');
RESET ROLE;

-- a role with SELECT on the view
SET LOCAL SESSION AUTHORIZATION ivm_tap_sel;
SELECT bag_eq($$SELECT * FROM w_v$$, $$VALUES (1, 11::bigint), (3, 130::bigint)$$, 'SELECT: the view can be read');
SELECT set_eq(
    $$SELECT _weight, "row" FROM ivm.changes('w_v', since_epoch => (SELECT max(epoch) - 1 FROM ivm.changes('w_v')))$$,
    $$VALUES (-1::bigint, '{"k": 3, "s": 30}'::jsonb), (1, '{"k": 3, "s": 130}'::jsonb)$$,
    'SELECT: ivm.changes() returns the rows');
SELECT is(ivm.watch('w_v'), 'ivm_w_v', 'SELECT: ivm.watch() returns the channel');
SELECT throws_ok($$SELECT ivm.refresh('w_v')$$, '42501', NULL,
                 'SELECT but not the owner: ivm.refresh() is refused with 42501');
RESET SESSION AUTHORIZATION;
SET LOCAL ROLE ivm_tap_sel;
SELECT is((SELECT count(*)::int FROM ivm.changes('w_v')), 2, 'SELECT (SET ROLE): ivm.changes() returns the rows');
RESET ROLE;

-- unwatch drops the change log other readers rely on: a reader that is
-- neither the view's owner (nor a member of it) nor the role that made the
-- watch may not (watching an already watched view does not make a watcher)
SET LOCAL SESSION AUTHORIZATION ivm_tap_sel;
SELECT throws_ok($$SELECT ivm.unwatch('w_v')$$, '42501', 'permission denied to unwatch view w_v',
                 'SELECT, but neither owner nor watcher: ivm.unwatch() is refused with 42501');
RESET SESSION AUTHORIZATION;
SET LOCAL ROLE ivm_tap_sel;
SELECT throws_ok($$SELECT ivm.unwatch('w_v')$$, '42501', NULL,
                 'neither owner nor watcher (SET ROLE): ivm.unwatch() is refused with 42501');
RESET ROLE;
SELECT is((SELECT channel FROM ivm.views WHERE name = 'w_v'::regclass), 'ivm_w_v', 'w_v is still watched');
SELECT is((SELECT count(*)::int FROM ivm.changes('w_v')), 2, 'and its change log is whole');

-- a role without SELECT on a table cannot make a view of it
CREATE ROLE ivm_tap_maker;
GRANT CREATE ON SCHEMA public TO ivm_tap_maker;
SET LOCAL SESSION AUTHORIZATION ivm_tap_maker;
SELECT throws_ok($$SELECT ivm.create_view('w_steal', 'SELECT k, x FROM w_t')$$, '42501', NULL,
                 'create_view over a table the creator may not read: 42501');
RESET SESSION AUTHORIZATION;
GRANT SELECT ON w_t TO ivm_tap_maker;
SET LOCAL SESSION AUTHORIZATION ivm_tap_maker;
SELECT lives_ok($$SELECT ivm.create_view('w_mine', 'SELECT k, x FROM w_t')$$,
                'create_view over a table the creator may read');
SELECT is((SELECT viewowner::text FROM pg_views WHERE viewname = 'w_mine'), 'ivm_tap_maker',
          'the view belongs to its creator');
RESET SESSION AUTHORIZATION;
INSERT INTO w_t VALUES (4, 40);
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick by another role maintains the view');
SET LOCAL SESSION AUTHORIZATION ivm_tap_maker;
SELECT bag_eq($$SELECT * FROM w_mine$$, $$SELECT k, x FROM w_t$$, 'its creator reads it up to date');
RESET SESSION AUTHORIZATION;

-- who may unwatch: the role that made the watch, the view's owner, a member
-- of the owner; not another reader
CREATE ROLE ivm_tap_member IN ROLE ivm_tap_maker;
GRANT SELECT ON w_mine TO ivm_tap_sel;
SET LOCAL SESSION AUTHORIZATION ivm_tap_sel;
SELECT is(ivm.watch('w_mine'), 'ivm_w_mine', 'a reader watches w_mine');
SELECT is(ivm.unwatch('w_mine'), true, 'the role that made the watch may unwatch');
SELECT is(ivm.watch('w_mine'), 'ivm_w_mine', 'the reader watches w_mine again');
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION ivm_tap_maker;
SELECT is(ivm.unwatch('w_mine'), true, 'the view''s owner may unwatch a watch another role made');
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION ivm_tap_sel;
SELECT is(ivm.watch('w_mine'), 'ivm_w_mine', 'the reader watches w_mine once more');
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION ivm_tap_member;
SELECT is(ivm.unwatch('w_mine'), true, 'a member of the view''s owner may unwatch it');
SELECT is(ivm.watch('w_mine'), 'ivm_w_mine', 'the member watches w_mine');
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION ivm_tap_sel;
SELECT throws_ok($$SELECT ivm.unwatch('w_mine')$$, '42501', NULL,
                 'a reader may not unwatch the member''s watch');
RESET SESSION AUTHORIZATION;
SELECT is(current_user::text, session_user::text, 'back to the original role');

-- one name in two schemas: two channels
SELECT is(ivm.watch('w_v'), 'ivm_w_v', 'w_v is watched on ivm_w_v');
CREATE SCHEMA w_other;
SELECT lives_ok($$SELECT ivm.create_view('w_other.w_v', 'SELECT k FROM w_t')$$,
                'a view named like w_v in another schema');
SELECT isnt(ivm.watch('w_other.w_v'), 'ivm_w_v', 'it does not take the channel of public.w_v');

SELECT * FROM finish();
ROLLBACK;
