-- Bulk fill (issue 22): creation, REFRESH and recomputes of views of 10,000
-- rows or more write the storage whole into a new heap (multi-insert) that
-- takes the storage's place, its indexes built after; the view's delta is
-- built only when something reads it (a view on the view, a watch), else a
-- populated view is rewritten whole.  Each view is compared, as a multiset,
-- with its query: after creation, WITH NO DATA and its REFRESH, REFRESH of
-- populated views, recomputes of a tick, with and without consumers, with
-- the owner's indexes on the storage (a unique one too), a partitioned view.
-- ivm.progress while a fill runs (seen from inside the fill: the view's
-- query raises what ivm.progress shows), and a cancel in the middle of a
-- fill: the view as it was, nothing left behind, right at the next tick.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(30);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');
\ir lib/views.psql

CREATE ROLE ivm_bf_alice;
CREATE ROLE ivm_bf_bob;
CREATE SCHEMA bf AUTHORIZATION ivm_bf_alice;
GRANT USAGE ON SCHEMA bf TO ivm_bf_bob;
SET LOCAL ROLE ivm_bf_alice;
CREATE TABLE bf.t (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL, s text);
INSERT INTO bf.t SELECT g, g % 97, g % 1000, CASE WHEN g % 11 = 0 THEN NULL ELSE md5(g::text) END
  FROM generate_series(1, 30000) g;
ANALYZE bf.t;

CREATE TABLE bf.queries (name text, query text);
INSERT INTO bf.queries VALUES
  ('bf.spj', 'SELECT id, k, v, s FROM bf.t WHERE v % 2 = 0'),
  ('bf.dup', 'SELECT k, v FROM bf.t'),
  ('bf.agg', 'SELECT k, v, count(*) AS n, sum(id) AS sid FROM bf.t GROUP BY k, v HAVING count(*) > 0'),
  ('bf.dif', 'SELECT id, k, upper(s) AS u FROM bf.t'),
  ('bf.base', 'SELECT id, k, v FROM bf.t WHERE k < 90'),
  ('bf.top', 'SELECT k, count(*) AS n, sum(v) AS sv FROM bf.base GROUP BY k'),
  ('bf.watched', 'SELECT id, v FROM bf.t WHERE k <> 3'),
  ('bf.nodata', 'SELECT id, k, s FROM bf.t'),
  ('bf.above', 'SELECT k, count(*) AS n FROM bf.nodata GROUP BY k'),
  ('bf.part', 'SELECT id, k, v FROM bf.t');
SELECT ivm.create_view('bf.spj', 'SELECT id, k, v, s FROM bf.t WHERE v % 2 = 0');
SELECT ivm.create_view('bf.dup', 'SELECT k, v FROM bf.t');
SELECT ivm.create_view('bf.agg', 'SELECT k, v, count(*) AS n, sum(id) AS sid FROM bf.t GROUP BY k, v HAVING count(*) > 0');
SELECT ivm.create_view('bf.dif', 'SELECT id, k, upper(s) AS u FROM bf.t', '{"mode": "diff"}');
SELECT ivm.create_view('bf.base', 'SELECT id, k, v FROM bf.t WHERE k < 90');
SELECT ivm.create_view('bf.top', 'SELECT k, count(*) AS n, sum(v) AS sv FROM bf.base GROUP BY k');
SELECT ivm.create_view('bf.watched', 'SELECT id, v FROM bf.t WHERE k <> 3');
SELECT ivm.watch('bf.watched') IS NOT NULL AS watched;
CREATE MATERIALIZED VIEW bf.nodata WITH (ivm.incremental) AS SELECT id, k, s FROM bf.t WITH NO DATA;
SELECT ivm.create_view('bf.above', 'SELECT k, count(*) AS n FROM bf.nodata GROUP BY k');
SELECT ivm.create_view('bf.part', 'SELECT id, k, v FROM bf.t', '{"partitions": 3, "partition_key": "id"}');
-- the owner's own index on a view
CREATE INDEX ON bf.spj (k);
RESET ROLE;

-- a unique index on a storage (only a superuser may make one there)
SELECT format('CREATE UNIQUE INDEX bf_spj_id ON %s (id)', storage) FROM ivm.views WHERE name = 'bf.spj'::regclass \gexec

-- storage files, to tell a rewrite from a diff
CREATE TEMP TABLE bf_files AS
SELECT v.name::text AS name, c.relfilenode FROM ivm.views v JOIN pg_class c ON c.oid = v.storage::regclass;

-- the storage's indexes: valid, and each finds every row
CREATE FUNCTION pg_temp.indexes_right(view regclass) RETURNS boolean LANGUAGE plpgsql AS $f$
DECLARE
    st regclass := (SELECT storage::regclass FROM ivm.views WHERE name = view);
    ix record;
    n bigint;
    total bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', st) INTO total;
    FOR ix IN SELECT i.indexrelid::regclass AS idx, i.indisvalid, a.attname
                FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
               WHERE i.indrelid = st LOOP
        IF NOT ix.indisvalid THEN RETURN false; END IF;
        SET LOCAL enable_seqscan = off;
        SET LOCAL enable_bitmapscan = off;
        EXECUTE format('SELECT count(*) FROM %s WHERE %I IS NOT NULL OR %I IS NULL', st, ix.attname, ix.attname) INTO n;
        RESET enable_seqscan;
        RESET enable_bitmapscan;
        IF n <> total THEN RETURN false; END IF;
    END LOOP;
    RETURN true;
END $f$;

SELECT is(pg_temp.wrong('bf.queries'), 'bf.nodata',
          'after creation every view equals its query but the one WITH NO DATA (the view on it is empty, as its query)');
SELECT is((SELECT count(*)::int FROM bf.spj), (SELECT count(*)::int FROM bf.t WHERE v % 2 = 0),
          'a view of 15,000 rows created whole');

-- REFRESH of the view WITH NO DATA: a view reads it, so its delta is every row
SELECT lives_ok($$REFRESH MATERIALIZED VIEW bf.nodata$$, 'REFRESH of the view created WITH NO DATA');
SELECT is(pg_temp.wrong('bf.queries'), '', 'then every view equals its query, the view on it too');

-- 1% of the rows change; REFRESH of each view
UPDATE bf.t SET v = v + 1, s = s || 'x' WHERE id % 100 = 7;
DELETE FROM bf.t WHERE id % 100 = 8;
INSERT INTO bf.t SELECT g, g % 97, g % 1000, md5(g::text) FROM generate_series(30001, 30300) g;
SELECT lives_ok($$REFRESH MATERIALIZED VIEW bf.spj$$, 'REFRESH of a populated view nothing reads');
SELECT isnt((SELECT c.relfilenode FROM ivm.views v JOIN pg_class c ON c.oid = v.storage::regclass WHERE v.name = 'bf.spj'::regclass),
            (SELECT relfilenode FROM bf_files WHERE name = 'bf.spj'), 'its storage was written whole (a new heap)');
SELECT ok(pg_temp.indexes_right('bf.spj'), 'its indexes (ivm''s, the owner''s, the unique one) are valid and find every row');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW bf.base$$, 'REFRESH of a view another view reads');
SELECT is((SELECT c.relfilenode FROM ivm.views v JOIN pg_class c ON c.oid = v.storage::regclass WHERE v.name = 'bf.base'::regclass),
          (SELECT relfilenode FROM bf_files WHERE name = 'bf.base'), 'its storage was diffed: the view on it reads its delta');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW bf.watched$$, 'REFRESH of a watched view');
SELECT cmp_ok((SELECT count(*) FROM ivm.changes('bf.watched', 0)), '>', 0::bigint, 'the watch got its changes');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW bf.agg$$, 'REFRESH of an aggregate');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW bf.dup$$, 'REFRESH of a view with duplicate rows');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW bf.dif$$, 'REFRESH of a view of mode diff');
SELECT lives_ok($$REFRESH MATERIALIZED VIEW bf.part$$, 'REFRESH of a partitioned view');
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick for the rest');
SELECT is(pg_temp.wrong('bf.queries'), '', 'every view equals its query after REFRESH');
SELECT ok(pg_temp.indexes_right('bf.agg') AND pg_temp.indexes_right('bf.dup') AND pg_temp.indexes_right('bf.nodata'),
          'the rewritten storages'' indexes are valid and find every row');

-- recomputes of a tick (ivm.full_recompute): with and without consumers
UPDATE bf.t SET k = (k + 1) % 97 WHERE id % 100 = 9;
SET LOCAL ivm.full_recompute = on;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick recomputing every view');
RESET ivm.full_recompute;
SELECT is(pg_temp.wrong('bf.queries'), '', 'every view equals its query after the recompute');
SELECT ok(pg_temp.indexes_right('bf.spj'), 'the owner''s indexes still valid and whole');
SELECT is((SELECT count(*)::int FROM pg_class WHERE relnamespace = 'ivm'::regnamespace AND relname LIKE 'pg\_temp\_%'), 0,
          'no transient heap is left');

-- ivm.progress, seen from inside a fill: the query raises what it shows
CREATE FUNCTION bf.peek(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE r text;
BEGIN
    IF i = 25000 THEN
        SELECT string_agg(format('%s %s %s %s', command, view, phase, rows_done >= 20000), ';') INTO r
          FROM ivm.progress WHERE pid = pg_backend_pid();
        RAISE EXCEPTION 'progress: %', r;
    END IF;
    RETURN i;
END $f$;
SELECT throws_ok($$SELECT ivm.create_view('bf.peeked', 'SELECT bf.peek(id) AS id, v FROM bf.t')$$,
                 'P0001', 'progress: create bf.peeked filling t',
                 'ivm.progress shows the creation filling its view, 20,000 rows written and more');
SELECT is((SELECT count(*)::int FROM ivm.progress WHERE pid = pg_backend_pid()), 0, 'and nothing once it is over');

-- a cancel in the middle of a fill: the view as it was, right at the next tick
CREATE TABLE bf.flag (slow boolean);
INSERT INTO bf.flag VALUES (false);
CREATE FUNCTION bf.slow(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    IF i = 25000 AND (SELECT slow FROM bf.flag) THEN PERFORM pg_sleep(5); END IF;
    RETURN i;
END $f$;
SELECT ivm.create_view('bf.slowv', 'SELECT bf.slow(id) AS id, v FROM bf.t');
INSERT INTO bf.queries VALUES ('bf.slowv', 'SELECT bf.slow(id) AS id, v FROM bf.t');
CREATE FUNCTION pg_temp.canceled(sql text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE sql;
    RETURN false;
EXCEPTION WHEN query_canceled THEN
    RETURN true;
END $f$;
CREATE TEMP TABLE bf_before AS SELECT * FROM bf.slowv;
UPDATE bf.t SET v = v + 2 WHERE id % 50 = 1;
UPDATE bf.flag SET slow = true;
SET LOCAL statement_timeout = '1s';
SELECT ok(pg_temp.canceled('REFRESH MATERIALIZED VIEW bf.slowv'), 'a REFRESH canceled by statement_timeout in the middle of its fill');
RESET statement_timeout;
SELECT is(pg_temp.mismatches('bf.slowv', 'SELECT * FROM bf_before'), 0::bigint, 'the canceled REFRESH left the view as it was');
SELECT is((SELECT count(*)::int FROM pg_class WHERE relnamespace = 'ivm'::regnamespace AND relname LIKE 'pg\_temp\_%'), 0,
          'and no transient heap');
UPDATE bf.flag SET slow = false;
SELECT lives_ok($$SELECT ivm.tick()$$, 'the next tick');
SELECT is(pg_temp.wrong('bf.queries'), '', 'every view equals its query after it');

SELECT * FROM finish();
ROLLBACK;
