-- Ticks: the summary row, dirty-bit scheduling, one epoch per tick, all
-- views change together or not at all.
CREATE FUNCTION pg_temp.mismatches(v text, q text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT * FROM %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL SELECT * FROM %s)) d', v, q, q, v) INTO n;
  RETURN n;
END $$;

CREATE TABLE a (id int PRIMARY KEY, g int, x int);
CREATE TABLE b (id int PRIMARY KEY, a_id int, y int);
INSERT INTO a SELECT i, i % 5, i FROM generate_series(1, 50) i;
INSERT INTO b SELECT i, i % 50 + 1, i * 2 FROM generate_series(1, 80) i;

SELECT ivm.create_view('a_groups', $$SELECT g, count(*) AS n, sum(x) AS s, min(x) AS lo, max(x) AS hi, avg(x) AS mean FROM a GROUP BY g$$);
SELECT ivm.create_view('ab_join', $$SELECT a.id, a.g, b.y FROM a JOIN b ON b.a_id = a.id$$);
SELECT ivm.create_view('ab_left', $$SELECT a.id, b.y FROM a LEFT JOIN b ON b.a_id = a.id AND b.y > 100$$);
SELECT ivm.create_view('b_only', $$SELECT y FROM b WHERE y % 3 = 0$$);
SELECT ivm.create_view('a_top', $$SELECT id, x FROM a ORDER BY x DESC, id LIMIT 5$$);
SELECT ivm.create_view('a_ranked', $$SELECT id, g, rank() OVER (PARTITION BY g ORDER BY x DESC) AS r FROM a$$);
SELECT ivm.create_view('a_distinct', $$SELECT DISTINCT g FROM a$$);

-- the columns of the summary
SELECT * FROM ivm.tick() WHERE false;

-- nothing pending: every view skipped
SELECT rows_in, rows_out, views_processed, views_skipped, views_recomputed FROM ivm.tick();

-- a change to b: the views on b only are processed
UPDATE b SET y = y + 1 WHERE id <= 10;
SELECT rows_in, views_processed, views_skipped FROM ivm.tick();

-- epochs advance by one
SELECT (SELECT epoch FROM ivm.tick()) - (SELECT max(last_epoch) FROM ivm.views) AS epoch_step;

-- a mixed batch
INSERT INTO a VALUES (51, 1, 1000), (52, 2, -5);
DELETE FROM a WHERE id IN (3, 4);
UPDATE a SET x = x * 2 WHERE g = 4;
DELETE FROM b WHERE a_id = 7;
SELECT rows_in, views_processed, views_skipped FROM ivm.tick();
SELECT pg_temp.mismatches('a_groups', 'SELECT g, count(*), sum(x), min(x), max(x), avg(x) FROM a GROUP BY g') AS a_groups,
       pg_temp.mismatches('ab_join', 'SELECT a.id, a.g, b.y FROM a JOIN b ON b.a_id = a.id') AS ab_join,
       pg_temp.mismatches('ab_left', 'SELECT a.id, b.y FROM a LEFT JOIN b ON b.a_id = a.id AND b.y > 100') AS ab_left,
       pg_temp.mismatches('b_only', 'SELECT y FROM b WHERE y % 3 = 0') AS b_only,
       pg_temp.mismatches('a_top', 'SELECT id, x FROM a ORDER BY x DESC, id LIMIT 5') AS a_top,
       pg_temp.mismatches('a_ranked', 'SELECT id, g, rank() OVER (PARTITION BY g ORDER BY x DESC) FROM a') AS a_ranked,
       pg_temp.mismatches('a_distinct', 'SELECT DISTINCT g FROM a') AS a_distinct;
SELECT * FROM a_top ORDER BY x DESC, id;

-- rows_out counts rows after consolidation: an update undone in the same
-- tick changes nothing
UPDATE a SET x = x + 1 WHERE id = 10;
UPDATE a SET x = x - 1 WHERE id = 10;
SELECT rows_in, rows_out FROM ivm.tick();

-- a tick in a transaction that rolls back changes nothing, and loses nothing
INSERT INTO b VALUES (1000, 1, 999);
BEGIN;
SELECT rows_in FROM ivm.tick();
SELECT count(*) AS visible_inside FROM ab_join WHERE y = 999;
ROLLBACK;
SELECT count(*) AS visible_after_rollback FROM ab_join WHERE y = 999;
SELECT rows_in FROM ivm.tick();
SELECT count(*) AS visible_after_tick FROM ab_join WHERE y = 999;

-- the tick's evidence
CREATE FUNCTION pg_temp.row_count(v text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN EXECUTE format('SELECT count(*) FROM %s', v) INTO n; RETURN n; END $$;
SELECT view, strategy, delta_in, delta_out, view_rows = pg_temp.row_count(view) AS rows_match
FROM ivm.evidence WHERE epoch = (SELECT max(epoch) FROM ivm.evidence) ORDER BY view;

-- ivm.full_recompute recomputes every processed view
SET ivm.full_recompute = on;
UPDATE b SET y = y WHERE id = 1;
SELECT views_processed, views_recomputed, rows_out FROM ivm.tick();
RESET ivm.full_recompute;

-- a failing tick leaves every delta for the next one
CREATE TABLE fragile (id int, d int);
INSERT INTO fragile VALUES (1, 1);
SELECT ivm.create_view('ratio', $$SELECT id, 100 / d AS r FROM fragile$$);
UPDATE fragile SET d = 0;
INSERT INTO a VALUES (60, 0, 60);
-- all-or-nothing: the tick fails as a whole (the default quarantines the view)
SET ivm.on_error = abort;
\set VERBOSITY terse
SELECT rows_in FROM ivm.tick();
\set VERBOSITY default
RESET ivm.on_error;
SELECT count(*) AS a_id_60 FROM a_groups WHERE g = 0 AND hi = 60;
UPDATE fragile SET d = 4;
SELECT rows_in, views_processed FROM ivm.tick();
SELECT * FROM ratio;
SELECT pg_temp.mismatches('a_groups', 'SELECT g, count(*), sum(x), min(x), max(x), avg(x) FROM a GROUP BY g') AS a_groups;

-- ticks serialise on ivm._state; the snapshot is taken after the lock
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT rows_in FROM ivm.tick();
COMMIT;

-- ivm.log_ticks writes one line per tick to the server log
SET ivm.log_ticks = on;
SELECT views_processed FROM ivm.tick();
RESET ivm.log_ticks;

-- ivm.evidence_path: each committed tick appends its per-view records as
-- JSON lines (relative to the data directory); a rolled-back tick nothing
SELECT format('ivm_regress_evidence_%s_%s.jsonl', pg_backend_pid(),
              (extract(epoch FROM clock_timestamp()) * 1000)::bigint) AS evpath \gset
SET ivm.evidence_path = :'evpath';
UPDATE a SET x = x + 1 WHERE id = 60;
SELECT epoch AS evidence_epoch FROM ivm.tick() \gset
BEGIN;
UPDATE a SET x = x + 1 WHERE id = 60;
SELECT ivm.tick() IS NOT NULL AS ticked;
ROLLBACK;
-- a tick rolled back to a savepoint writes nothing either
BEGIN;
SAVEPOINT before_tick;
UPDATE a SET x = x + 1 WHERE id = 60;
SELECT ivm.tick() IS NOT NULL AS ticked;
ROLLBACK TO SAVEPOINT before_tick;
COMMIT;
-- a tick in a PREPAREd transaction writes no line, whether it is rolled
-- back or committed later (test/lib.sh sets max_prepared_transactions);
-- the next commit of this session writes none of its lines either
BEGIN;
UPDATE a SET x = x + 1 WHERE id = 60;
SELECT ivm.tick() IS NOT NULL AS ticked;
PREPARE TRANSACTION 'ivm_regress_evidence_1';
ROLLBACK PREPARED 'ivm_regress_evidence_1';
BEGIN;
UPDATE a SET x = x + 1 WHERE id = 60;
SELECT ivm.tick() IS NOT NULL AS ticked;
PREPARE TRANSACTION 'ivm_regress_evidence_2';
COMMIT PREPARED 'ivm_regress_evidence_2';
-- COMMIT PREPARED still commits the tick's rows of ivm.evidence
SELECT count(*) > 0 AS prepared_tick_recorded FROM ivm.evidence
WHERE epoch = (SELECT max(epoch) FROM ivm.evidence);
RESET ivm.evidence_path;
SELECT (l->>'epoch')::bigint = :evidence_epoch AS this_epoch, l->>'view' AS view,
       l->>'strategy' AS strategy, (l->>'delta_in')::int AS delta_in,
       (l->>'delta_out')::int AS delta_out,
       (l->>'view_rows')::bigint = (SELECT v.rows FROM ivm._views v JOIN pg_class c ON c.oid = v.viewrel
                                    WHERE c.relname = l->>'view') AS view_rows_right,
       (l->>'duration_us')::bigint >= 0 AS has_duration
FROM regexp_split_to_table(pg_read_file(:'evpath'), E'\n') AS line,
     LATERAL (SELECT line::jsonb AS l) j
WHERE line <> ''
ORDER BY 2;
DROP TABLE a, b, fragile CASCADE;
