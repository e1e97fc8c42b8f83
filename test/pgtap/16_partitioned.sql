-- Partitioned views (issue 11): option {"partitions": N, "partition_key":
-- "col"} keeps the view's storage hash partitioned on col (PostgreSQL's own
-- partitioning), each shard maintained from its own share of the deltas.
-- Bad options and queries that cannot be routed are refused, changing
-- nothing; each shard holds only its keys; direct writes to a shard are
-- refused; after inserts, updates that move keys between shards, deletes,
-- NULL keys, recomputes and REFRESH each view equals its query and its
-- serial twin (the same query, one storage); the owner reads the shards.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(55);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE pt_c (customer_id int PRIMARY KEY, region int NOT NULL);
CREATE TABLE pt_o (id int PRIMARY KEY, customer_id int, amount numeric NOT NULL, note text);
CREATE TABLE pt_big (id bigint PRIMARY KEY, customer_id bigint);
INSERT INTO pt_c SELECT g, g % 5 FROM generate_series(1, 40) g;
INSERT INTO pt_o SELECT g, CASE WHEN g % 23 = 0 THEN NULL ELSE g % 40 + 1 END, g % 17, (ARRAY['a', 'b', NULL])[g % 3 + 1]
                 FROM generate_series(1, 400) g;

------------------------------------------------------------------------------
-- 1. What is refused, and that a refusal changes nothing
------------------------------------------------------------------------------
CREATE TEMP TABLE pt_before AS SELECT (SELECT count(*) FROM ivm._views) AS views,
                                      (SELECT count(*) FROM pg_class WHERE relnamespace = 'ivm'::regnamespace) AS rels;
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT customer_id, count(*) AS n FROM pt_o GROUP BY customer_id', options => '{"partitions": 4}')$$,
                 '22023', 'options "partitions" and "partition_key" go together', 'partitions without a key');
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT customer_id, count(*) AS n FROM pt_o GROUP BY customer_id', options => '{"partition_key": "customer_id"}')$$,
                 '22023', 'options "partitions" and "partition_key" go together', 'a key without partitions');
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT customer_id, count(*) AS n FROM pt_o GROUP BY customer_id', options => '{"partitions": 1, "partition_key": "customer_id"}')$$,
                 '22023', 'invalid value for option "partitions": 1', 'one shard');
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT customer_id, count(*) AS n FROM pt_o GROUP BY customer_id', options => '{"partitions": "4", "partition_key": "customer_id"}')$$,
                 '22023', 'invalid value for option "partitions": "4"', 'shards given as a string');
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT customer_id, count(*) AS n FROM pt_o GROUP BY customer_id', options => '{"partitions": 65, "partition_key": "customer_id"}')$$,
                 '22023', 'invalid value for option "partitions": 65', 'too many shards');
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT customer_id, count(*) AS n FROM pt_o GROUP BY customer_id', options => '{"partitions": 4, "partition_key": "region"}')$$,
                 '42703', 'partition key "region" is not a column of view "pt_bad"', 'a key that is not a column');
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT customer_id, count(*) AS n FROM pt_o GROUP BY customer_id', options => '{"partitions": 4, "partition_key": "n"}')$$,
                 '0A000', 'view "pt_bad" cannot be partitioned on "n"', 'an aggregate partitioned on an aggregate');
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT o.id, c.region FROM pt_o o, pt_c c WHERE c.region < 2', options => '{"partitions": 2, "partition_key": "id"}')$$,
                 '0A000', 'view "pt_bad" cannot be partitioned on "id"', 'a table not joined to the key');
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT o.id, o.customer_id, c.region FROM pt_o o LEFT JOIN pt_c c USING (customer_id)', options => '{"partitions": 2, "partition_key": "customer_id"}')$$,
                 '0A000', 'view "pt_bad" cannot be partitioned on "customer_id"', 'an outer join');
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT o.id, o.customer_id FROM pt_o o WHERE EXISTS (SELECT 1 FROM pt_c c WHERE c.customer_id = o.customer_id)', options => '{"partitions": 2, "partition_key": "customer_id"}')$$,
                 '0A000', 'view "pt_bad" cannot be partitioned on "customer_id"', 'a semi join');
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT b.id, b.customer_id, c.region FROM pt_big b JOIN pt_c c ON c.customer_id = b.customer_id', options => '{"partitions": 2, "partition_key": "customer_id"}')$$,
                 '0A000', 'view "pt_bad" cannot be partitioned on "customer_id"', 'a join on a column of another type');
SELECT throws_ok($$SELECT ivm.create_view('pt_bad', 'SELECT customer_id, count(*) AS n FROM pt_o GROUP BY customer_id', options => '{"mode": "diff", "partitions": 2, "partition_key": "customer_id"}')$$,
                 '0A000', 'view "pt_bad" cannot be partitioned on "customer_id"', 'a view maintained by diff');
SELECT ok((SELECT views FROM pt_before) = (SELECT count(*) FROM ivm._views)
          AND (SELECT rels FROM pt_before) = (SELECT count(*) FROM pg_class WHERE relnamespace = 'ivm'::regnamespace),
          'the refusals left no view and no relation behind');

------------------------------------------------------------------------------
-- 2. Partitioned views and their serial twins
------------------------------------------------------------------------------
CREATE TABLE pt_q (name text PRIMARY KEY, query text NOT NULL, parts int NOT NULL, key text NOT NULL);
INSERT INTO pt_q VALUES
 ('pt_agg',  'SELECT customer_id, count(*) AS n, sum(amount) AS total, min(amount) AS mn, max(note) AS mx FROM pt_o GROUP BY customer_id', 4, 'customer_id'),
 ('pt_join', 'SELECT o.id, o.customer_id, o.amount, c.region FROM pt_o o JOIN pt_c c USING (customer_id) WHERE o.amount > 2', 3, 'customer_id'),
 ('pt_rows', 'SELECT id, customer_id, note FROM pt_o WHERE amount < 12', 2, 'customer_id'),
 ('pt_jagg', 'SELECT c.customer_id, c.region, count(*) AS n, sum(o.amount) AS total FROM pt_c c JOIN pt_o o ON o.customer_id = c.customer_id GROUP BY c.customer_id, c.region HAVING count(*) > 9', 5, 'customer_id');
SELECT ivm.create_view(name, query, options => jsonb_build_object('partitions', parts, 'partition_key', key)) FROM pt_q ORDER BY name;
SELECT ivm.create_view(name || '_s', query) FROM pt_q ORDER BY name;

-- every view equals its query and its twin, as multisets
CREATE FUNCTION pg_temp.pt_check(what text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE r record; n bigint; m bigint;
BEGIN
    FOR r IN SELECT name, query FROM pt_q ORDER BY name LOOP
        EXECUTE format('SELECT count(*) FROM ((SELECT * FROM %1$I EXCEPT ALL (%2$s)) UNION ALL ((%2$s) EXCEPT ALL SELECT * FROM %1$I)) d',
                       r.name, r.query) INTO n;
        EXECUTE format('SELECT count(*) FROM ((SELECT * FROM %1$I EXCEPT ALL SELECT * FROM %2$I) UNION ALL (SELECT * FROM %2$I EXCEPT ALL SELECT * FROM %1$I)) d',
                       r.name, r.name || '_s') INTO m;
        RETURN NEXT ok(n = 0 AND m = 0, format('%s: %s equals its query and its serial twin', what, r.name));
    END LOOP;
END $f$;
-- each shard holds only the keys PostgreSQL routes to it
CREATE FUNCTION pg_temp.pt_misplaced() RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE r record; total bigint := 0; n bigint;
BEGIN
    FOR r IN SELECT q.parts, q.key, v.storagerel, i.inhrelid, p.relpartbound
               FROM pt_q q JOIN ivm._views v ON v.viewrel = q.name::regclass
               JOIN pg_inherits i ON i.inhparent = v.storagerel JOIN pg_class p ON p.oid = i.inhrelid LOOP
        EXECUTE format('SELECT count(*) FROM %s s WHERE NOT satisfies_hash_partition(%s, %s, %s, s.%I)',
                       r.inhrelid::regclass, r.storagerel::oid, r.parts,
                       substring(pg_get_expr(r.relpartbound, r.inhrelid) FROM 'remainder ([0-9]+)'), r.key) INTO n;
        total := total + n;
    END LOOP;
    RETURN total;
END $f$;

SELECT is((SELECT relkind::text FROM pg_class c JOIN ivm._views v ON v.storagerel = c.oid WHERE v.viewrel = 'pt_agg'::regclass),
          'p', 'the storage of a partitioned view is a partitioned table');
SELECT is((SELECT pg_get_partkeydef(v.storagerel) FROM ivm._views v WHERE v.viewrel = 'pt_agg'::regclass),
          'HASH (customer_id)', 'hash partitioned on the key');
SELECT is((SELECT string_agg(pg_get_expr(p.relpartbound, p.oid), ', ' ORDER BY p.relname)
             FROM ivm._views v JOIN pg_inherits i ON i.inhparent = v.storagerel JOIN pg_class p ON p.oid = i.inhrelid
            WHERE v.viewrel = 'pt_join'::regclass),
          'FOR VALUES WITH (modulus 3, remainder 0), FOR VALUES WITH (modulus 3, remainder 1), FOR VALUES WITH (modulus 3, remainder 2)',
          'one partition per shard');
SELECT is((SELECT options FROM ivm._views WHERE viewrel = 'pt_jagg'::regclass),
          '{"mode": "auto", "partitions": 5, "partition_key": "customer_id"}'::jsonb, 'the options are recorded');
SELECT * FROM pg_temp.pt_check('after creation');
SELECT is(pg_temp.pt_misplaced(), 0::bigint, 'after creation every row is in its shard');
SELECT throws_ok(format('INSERT INTO %s_p0 SELECT * FROM %s LIMIT 1',
                        (SELECT storagerel FROM ivm._views WHERE viewrel = 'pt_rows'::regclass),
                        (SELECT storagerel FROM ivm._views WHERE viewrel = 'pt_rows'::regclass)),
                 '42501', 'cannot change the storage of an incremental view', 'a shard refuses direct writes');

-- small changes: the delta rules, shard by shard
INSERT INTO pt_o SELECT g, g % 40 + 1, g % 7, 'c' FROM generate_series(401, 420) g;
UPDATE pt_o SET customer_id = customer_id % 40 + 1 WHERE id % 50 = 0;   -- keys move between shards
UPDATE pt_o SET amount = amount + 5 WHERE id % 45 = 1;
DELETE FROM pt_o WHERE id % 60 = 7;
INSERT INTO pt_o VALUES (999, NULL, 3, 'n');                            -- a NULL key
UPDATE pt_c SET region = region + 10 WHERE customer_id IN (3, 17);
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick of small changes');
SELECT is((SELECT string_agg(DISTINCT strategy, ',') FROM ivm.evidence
            WHERE epoch = (SELECT max(epoch) FROM ivm.evidence) AND view IN (SELECT name FROM pt_q)),
          'incremental', 'every partitioned view was maintained by its delta rules');
SELECT * FROM pg_temp.pt_check('after small changes');
SELECT is(pg_temp.pt_misplaced(), 0::bigint, 'after small changes every row is in its shard');

-- a large change: recomputed shard by shard
UPDATE pt_o SET customer_id = (customer_id * 7) % 40 + 1 WHERE customer_id IS NOT NULL AND id % 2 = 0;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick of a large change');
SELECT * FROM pg_temp.pt_check('after a large change');
SELECT is(pg_temp.pt_misplaced(), 0::bigint, 'after a recompute every row is in its shard');

-- REFRESH, and the views by the owner
SELECT lives_ok($$REFRESH MATERIALIZED VIEW pt_join$$, 'REFRESH MATERIALIZED VIEW of a partitioned view');
SELECT lives_ok($$CREATE INDEX pt_agg_total ON pt_agg (total)$$, 'an index on a partitioned view');
SELECT is((SELECT count(*)::int FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid
            JOIN ivm._views v ON v.storagerel = h.inhparent WHERE v.viewrel = 'pt_agg'::regclass
             AND pg_get_indexdef(i.indexrelid) LIKE '%(total)%'), 4, 'the index is on every shard');

CREATE ROLE ivm_pt_alice;
GRANT SELECT ON pt_o, pt_c TO ivm_pt_alice;
GRANT CREATE ON SCHEMA public TO ivm_pt_alice;
SET ROLE ivm_pt_alice;
SELECT lives_ok($$SELECT ivm.create_view('pt_alice', 'SELECT customer_id, count(*) AS n FROM pt_o GROUP BY customer_id', options => '{"partitions": 2, "partition_key": "customer_id"}')$$,
                'a role creates a partitioned view of what it may read');
SELECT lives_ok(format('SELECT count(*) FROM %s_p1', (SELECT storagerel FROM ivm._views WHERE viewrel = 'pt_alice'::regclass)),
                'its owner reads a shard directly');
RESET ROLE;
INSERT INTO pt_o VALUES (1001, 5, 1, 'x'), (1002, 6, 1, 'y');
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick with the role''s view');
SELECT bag_eq('SELECT * FROM pt_alice', 'SELECT customer_id, count(*) FROM pt_o GROUP BY customer_id',
              'the role''s partitioned view equals its query');
CREATE ROLE ivm_pt_bob;
GRANT SELECT ON pt_o TO ivm_pt_bob;
SELECT lives_ok($$ALTER VIEW pt_alice OWNER TO ivm_pt_bob$$, 'the view is handed to another role');
SET ROLE ivm_pt_bob;
SELECT lives_ok(format('SELECT count(*) FROM %s_p0', (SELECT storagerel FROM ivm._views WHERE viewrel = 'pt_alice'::regclass)),
                'the new owner reads a shard directly');
RESET ROLE;
DELETE FROM pt_o WHERE id = 1001;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick after the hand-over');
SELECT bag_eq('SELECT * FROM pt_alice', 'SELECT customer_id, count(*) FROM pt_o GROUP BY customer_id',
              'it is maintained as the new owner');

-- full recompute, then DROP
SET LOCAL ivm.full_recompute = on;
UPDATE pt_o SET note = 'z' WHERE id % 9 = 0;
SELECT lives_ok($$SELECT ivm.tick()$$, 'a tick under ivm.full_recompute');
SELECT * FROM pg_temp.pt_check('after a full recompute');
RESET ivm.full_recompute;

CREATE TEMP TABLE pt_storage AS SELECT storagerel::oid AS oid FROM ivm._views WHERE viewrel = 'pt_rows'::regclass;
SELECT lives_ok($$DROP MATERIALIZED VIEW pt_rows$$, 'DROP MATERIALIZED VIEW of a partitioned view');
SELECT is((SELECT count(*)::int FROM pg_class c, pt_storage s WHERE c.oid = s.oid
              OR c.relname LIKE (SELECT '\_data\_' || substring(s2.oid::regclass::text FROM '_data_([0-9]+)') || '\_p%' FROM pt_storage s2)),
          0, 'its storage and every shard are gone');

SELECT * FROM finish();
ROLLBACK;
