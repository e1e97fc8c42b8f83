-- Push sources, dedup and ivm.stats (SPEC.md section 2, "Push sources" and
-- "Introspection"): batches integrated into a source's snapshot, refused
-- whole when wrong, coalesced when seen before; counters of ticks.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(63);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE FUNCTION pg_temp.mismatches(view regclass, query text) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((SELECT * FROM %s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL SELECT * FROM %s)) d',
                   view, query, query, view) INTO n;
    RETURN n;
END $f$;
CREATE FUNCTION pg_temp.stat(counter text) RETURNS numeric LANGUAGE sql AS $f$
    SELECT value FROM ivm.stats WHERE name = counter
$f$;
-- creating one
SELECT is(ivm.create_source('p_clicks', 'user_id int NOT NULL, url text')::text, 'p_clicks',
          'create_source returns the snapshot table');
SELECT is((SELECT kind FROM ivm.sources WHERE source = 'p_clicks'::regclass), 'push',
          'ivm.sources lists it as a push source');
SELECT is((SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
             FROM pg_attribute WHERE attrelid = 'p_clicks'::regclass AND attnum > 0 AND NOT attisdropped),
          'user_id integer, url text', 'the snapshot table has exactly the declared columns');
CREATE FUNCTION pg_temp.log_rows(src regclass) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE l regclass; n bigint;
BEGIN
    SELECT logrel INTO l FROM ivm._sources WHERE relid = src;
    EXECUTE format('SELECT count(*) FROM %s', l) INTO n;
    RETURN n;
END $f$;
-- the source's rows and its pending log, to show that a refused batch changed nothing
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql AS $f$
    SELECT coalesce((SELECT string_agg(format('%s/%s', user_id, url), ',' ORDER BY user_id, url) FROM p_clicks), '')
           || ' log ' || pg_temp.log_rows('p_clicks')
$f$;

SELECT throws_ok($$SELECT ivm.create_source('p_bad', 'a int); DROP TABLE p_clicks; CREATE TABLE p_x (b int')$$,
                 '22023', NULL, 'a column list that is more than column definitions is refused');
SELECT throws_ok($$SELECT ivm.create_source('p_bad', 'a int PRIMARY KEY')$$,
                 '0A000', NULL, 'a push source takes no key: its rows are a multiset');
SELECT throws_ok($$SELECT ivm.create_source('p_bad', '_weight int')$$,
                 '42939', NULL, 'the column name _weight is reserved');
SELECT throws_ok($$SELECT ivm.create_source('p_bad', 'doc json')$$,
                 '42883', NULL, 'a type without equality (json) is refused, with a hint');
SELECT throws_ok($$SELECT ivm.create_source('ivm.p_bad', 'a int')$$,
                 '42501', NULL, 'no push source in schema ivm');
SELECT ok(to_regclass('p_bad') IS NULL, 'refused create_source calls left no table behind');

-- views over it, and over it joined with a table
CREATE TABLE p_users (id int PRIMARY KEY, name text);
INSERT INTO p_users SELECT g, 'u' || g FROM generate_series(1, 5) g;
SELECT ivm.create_view('p_per_user', $$SELECT user_id, count(*) AS n FROM p_clicks GROUP BY user_id$$);
SELECT ivm.create_view('p_named', $$SELECT u.name, c.url FROM p_clicks c JOIN p_users u ON u.id = c.user_id$$);
SELECT ivm.create_view('p_urls', $$SELECT DISTINCT url FROM p_clicks$$, '{"mode": "diff"}');
CREATE FUNCTION pg_temp.views_match() RETURNS bool LANGUAGE sql AS $f$
    SELECT pg_temp.mismatches('p_per_user', 'SELECT user_id, count(*) FROM p_clicks GROUP BY user_id') = 0
       AND pg_temp.mismatches('p_named', 'SELECT u.name, c.url FROM p_clicks c JOIN p_users u ON u.id = c.user_id') = 0
       AND pg_temp.mismatches('p_urls', 'SELECT DISTINCT url FROM p_clicks') = 0
$f$;

SELECT is((SELECT rows_in FROM ivm.tick('p_clicks', '[{"user_id": 1, "url": "/a"}, {"user_id": 2, "url": "/b", "_weight": 3}, {"user_id": 1, "url": "/c"}]')),
          5::bigint, 'ivm.tick(source, batch) integrates the batch, then ticks: 5 row copies consumed');
SELECT is((SELECT count(*) FROM p_clicks WHERE user_id = 2), 3::bigint, 'a row pushed with weight 3 is held 3 times');
SELECT ok(pg_temp.views_match(), 'every view over the push source equals its query');
SELECT is(ivm.push('p_clicks', '[{"user_id": 2, "url": "/b", "_weight": -2}, {"url": "/d", "user_id": 3}]'), 3::bigint,
          'push returns the row copies it removed and added');
SELECT is((SELECT count(*) FROM p_clicks WHERE user_id = 2), 1::bigint, 'weight -2 removed two of the three copies');
SELECT is((SELECT rows_in FROM ivm.tick()), 3::bigint, 'the pushed batch reaches the views at the next tick: 3 row copies');
SELECT ok(pg_temp.views_match(), 'the views equal their queries after a push with removals');
SELECT is(ivm.push('p_clicks', '[{"user_id": 4, "url": "/e"}, {"user_id": 4, "url": "/e", "_weight": -1}, {"user_id": 5, "url": "/f", "_weight": 0}]'),
          0::bigint, 'a batch that consolidates to nothing changes nothing');
SELECT is(ivm.push('p_clicks', '[{"user_id": 5, "url": "/g", "_weight": 2.0}, {"user_id": 5, "url": null}]'), 3::bigint,
          'a weight of 2.0 is the integer 2; null is a value');
SELECT ok((SELECT count(*) = 1 FROM p_clicks WHERE user_id = 5 AND url IS NULL), 'a null column is stored as null');

-- refused batches: named element, nothing changed
SELECT pg_temp.state() AS before \gset
SELECT throws_like($$SELECT ivm.push('p_clicks', '[{"user_id": 1, "url": "/x"}, {"user_id": 1, "where": "/x"}]')$$,
                   'element 2 of the batch names column "where"%', 'an unknown column is refused, naming the element');
SELECT throws_ok($$SELECT ivm.push('p_clicks', '[{"user_id": 1, "url": "/x"}, {"user_id": "one"}]')$$,
                 '22P02', NULL, 'a value the column type refuses is refused');
SELECT throws_like($$SELECT ivm.push('p_clicks', '[{"user_id": 1, "_weight": 1.5}]')$$,
                   'element 1 of the batch for push source "p_clicks" has a _weight that is not an integer%',
                   'a fractional weight is refused');
SELECT throws_ok($$SELECT ivm.push('p_clicks', '[{"user_id": 1, "_weight": "2"}]')$$,
                 '22023', NULL, 'a weight given as a string is refused');
SELECT throws_like($$SELECT ivm.push('p_clicks', '[{"user_id": 7, "url": "/new"}, {"user_id": 1, "url": "/a", "_weight": -2}]')$$,
                   'element 2 of the batch would make a row''s multiplicity in push source "p_clicks" negative',
                   'a batch that removes more copies than the source holds is refused whole');
SELECT throws_ok($$SELECT ivm.push('p_clicks', '[{"url": "/nouser"}]')$$,
                 '23502', NULL, 'a missing NOT NULL column is refused');
SELECT throws_ok($$SELECT ivm.push('p_clicks', '{"user_id": 1}')$$,
                 '22023', NULL, 'a batch that is not an array is refused');
SELECT throws_ok($$SELECT ivm.push('p_clicks', '[[1, "/a"]]')$$,
                 '22023', NULL, 'an element that is not an object is refused');
SELECT is(pg_temp.state(), :'before', 'the refused batches changed neither the source nor its log');
SELECT throws_ok($$INSERT INTO p_clicks VALUES (1, '/direct')$$, '42501', NULL,
                 'users cannot write a push source directly');
SELECT throws_ok($$DELETE FROM p_clicks$$, '42501', NULL, 'nor delete from it');
SELECT throws_ok($$SELECT ivm.push('p_users', '[{"id": 9}]')$$, '42809', NULL,
                 'pushing to a table that is not a push source is refused');
SELECT is((SELECT rows_in FROM ivm.tick()), 3::bigint, 'the next tick applies what was pushed, and only that');
SELECT ok(pg_temp.views_match(), 'the views equal their queries');

-- privileges: pushing needs INSERT and DELETE on the source
CREATE ROLE ivm_p_pusher;
GRANT USAGE ON SCHEMA public TO ivm_p_pusher;
SET LOCAL ROLE ivm_p_pusher;
SELECT throws_ok($$SELECT ivm.push('p_clicks', '[{"user_id": 1}]')$$, '42501', NULL,
                 'a role without INSERT on the source cannot push');
SELECT throws_ok($$SET ivm.dedup_capacity = 5$$, '42501', NULL,
                 'only a superuser sets ivm.dedup_capacity');
RESET ROLE;
GRANT INSERT, DELETE ON p_clicks TO ivm_p_pusher;
SET LOCAL ROLE ivm_p_pusher;
SELECT is(ivm.push('p_clicks', '[{"user_id": 1, "url": "/granted"}]'), 1::bigint,
          'with INSERT and DELETE granted it can');
RESET ROLE;

-- dedup
SELECT ivm.set_dedup('p_clicks', true);
SELECT is((SELECT dedup FROM ivm.sources WHERE source = 'p_clicks'::regclass), true, 'set_dedup turns dedup on');
SELECT pg_temp.stat('ivm_dedup_coalesced_total') AS coalesced0 \gset
SELECT is(ivm.push('p_clicks', '[{"user_id": 3, "url": "/dup"}, {"user_id": 4, "url": "/dup", "_weight": 2}]'), 3::bigint,
          'a first batch is applied');
SELECT is(ivm.push('p_clicks', '[{"user_id": 3, "url": "/dup"}, {"user_id": 4, "url": "/dup", "_weight": 2}]'), 0::bigint,
          'the same batch pushed again is coalesced');
SELECT is(ivm.push('p_clicks', '[{"user_id": 4, "url": "/dup"}, {"url": "/dup", "user_id": 3}, {"user_id": 4, "url": "/dup"}]'), 0::bigint,
          'so is the same content in another order and split differently (the hash is over the consolidated batch)');
SELECT is(pg_temp.stat('ivm_dedup_coalesced_total') - :coalesced0, 2::numeric, 'ivm_dedup_coalesced_total counts both');
SELECT is((SELECT count(*) FROM p_clicks WHERE url = '/dup'), 3::bigint, 'the batch was applied once');
SELECT ivm.tick();
SELECT ok(pg_temp.views_match(), 'the views equal their queries after coalesced pushes');

-- eviction, oldest first
SET LOCAL ivm.dedup_capacity = 2;
SELECT pg_temp.stat('ivm_dedup_dropped_total') AS dropped0 \gset
SELECT ivm.push('p_clicks', '[{"user_id": 5, "url": "/e1"}]');
SELECT ivm.push('p_clicks', '[{"user_id": 5, "url": "/e2"}]');
SELECT ivm.push('p_clicks', '[{"user_id": 5, "url": "/e3"}]');
SELECT is(pg_temp.stat('ivm_dedup_dropped_total') - :dropped0, 2::numeric,
          'beyond ivm.dedup_capacity = 2, the older hashes are evicted and counted');
SELECT is((SELECT count(*) FROM ivm._seen s JOIN ivm._sources o ON o.id = s.source_id WHERE o.relid = 'p_clicks'::regclass),
          2::bigint, 'the seen-set holds ivm.dedup_capacity entries');
SELECT is(ivm.push('p_clicks', '[{"user_id": 5, "url": "/e3"}]'), 0::bigint, 'the newest batch is still remembered');
SELECT is(ivm.push('p_clicks', '[{"user_id": 5, "url": "/e1"}]'), 1::bigint, 'the oldest was forgotten: applied again');
RESET ivm.dedup_capacity;
SELECT ivm.set_dedup('p_clicks', false);
SELECT is(ivm.push('p_clicks', '[{"user_id": 5, "url": "/e3"}]'), 1::bigint, 'with dedup off, a batch is always applied');

-- ivm.stats
SELECT pg_temp.stat('ivm_ticks_total') AS ticks0, pg_temp.stat('ivm_rows_in_total') AS in0,
       pg_temp.stat('ivm_tick_duration_seconds_sum') AS dur0 \gset
SELECT ivm.tick();
SELECT is(pg_temp.stat('ivm_ticks_total') - :ticks0, 1::numeric, 'ivm_ticks_total counts a tick');
SELECT is(pg_temp.stat('ivm_rows_in_total') - :in0, 5::numeric, 'ivm_rows_in_total counts the rows it consumed (e1, e2, e3, e1 again, e3 again)');
SELECT ok(pg_temp.stat('ivm_tick_duration_seconds_sum') > :dur0, 'ivm_tick_duration_seconds_sum grows');
SAVEPOINT before_tick;
SELECT ivm.push('p_clicks', '[{"user_id": 1, "url": "/rolled"}]');
SELECT ivm.tick();
ROLLBACK TO SAVEPOINT before_tick;
SELECT is(pg_temp.stat('ivm_ticks_total') - :ticks0, 1::numeric, 'a tick that rolls back counts nothing');
SELECT is((SELECT count(*) FROM ivm.stats WHERE help <> '' AND name ~ '^ivm_[a-z_]+$'
             AND name IN ('ivm_ticks_total', 'ivm_rows_in_total', 'ivm_rows_out_total', 'ivm_views_recomputed_total',
                          'ivm_dedup_coalesced_total', 'ivm_dedup_dropped_total', 'ivm_tick_duration_seconds_sum')),
          7::bigint, 'ivm.stats has every counter, with help text');

-- a push source that lost a column by ALTER TABLE refuses batches, saying how to recover
SELECT ivm.create_source('p_altered', 'a int, b int');
ALTER TABLE p_altered DROP COLUMN b;
SELECT throws_ok($$SELECT ivm.push('p_altered', '[{"a": 1}]')$$, '0A000', NULL,
                 'a push source with a dropped column refuses batches');
SELECT ivm.drop_source('p_altered');

-- full checkpoints follow the rules of server files
SELECT throws_ok($$SELECT ivm.checkpoint_full('relative/full.sql')$$, '22023', NULL,
                 'a full checkpoint takes an absolute path');
SET LOCAL ROLE ivm_p_pusher;
SELECT throws_ok($$SELECT ivm.checkpoint_full('/tmp/ivm_denied.sql')$$, '42501', NULL,
                 'a role without pg_write_server_files cannot write a full checkpoint');
RESET ROLE;
GRANT pg_write_server_files TO ivm_p_pusher;
SET LOCAL ROLE ivm_p_pusher;
SELECT throws_ok($$SELECT ivm.checkpoint_full('/nonexistent-dir/full.sql')$$, '58P01', NULL,
                 'with pg_write_server_files it may (here the directory does not exist: a file error, not 42501)');
RESET ROLE;
-- under this run's own cluster (its data directory, this backend's pid), not a
-- fixed name in /tmp that another OS user's earlier run may own; removed after
SELECT ok(ivm.checkpoint_full(current_setting('data_directory') || '/ivm_pgtap_full_' || pg_backend_pid() || '.sql') > 1000,
          'a superuser writes a full checkpoint; it returns the bytes written');
DO $rm$
DECLARE
    f text := current_setting('data_directory') || '/ivm_pgtap_full_' || pg_backend_pid() || '.sql';
BEGIN
    EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'cat >/dev/null; rm -f -- ' || quote_literal(f));
END
$rm$;

-- dropping
SELECT throws_ok($$SELECT ivm.drop_source('p_clicks')$$, '2BP01', NULL,
                 'drop_source refuses while views read the source');
SELECT throws_ok($$SELECT ivm.drop_source('p_users')$$, '42809', NULL,
                 'drop_source refuses a table that is not a push source');
SELECT lives_ok($$SELECT ivm.drop_source('p_clicks', cascade => true)$$, 'drop_source with cascade drops it and its views');
SELECT ok(to_regclass('p_clicks') IS NULL AND to_regclass('p_per_user') IS NULL
          AND NOT EXISTS (SELECT 1 FROM ivm._seen)
          AND NOT EXISTS (SELECT 1 FROM ivm.sources WHERE kind = 'push'),
          'nothing of the source is left: table, views, log, seen-set');

SELECT * FROM finish();
ROLLBACK;
