-- test/dump/pending.sql: before a dump of the randomised test's database,
-- watches on two views and writes left pending (captured, not ticked), a
-- push among them.  Read by test/dump/run.sh and test/dump/across.sh.
SELECT ivm.watch('v_agg'), ivm.watch('v_push');
INSERT INTO a SELECT (SELECT max(id) FROM a) + g, g % 10, g * 3, 'x' FROM generate_series(1, 5) g;
UPDATE b SET w = coalesce(w, 0) + 1 WHERE id % 7 = 0;
DELETE FROM c WHERE id = (SELECT min(id) FROM c);
SELECT ivm.push('p', '[{"k": 3, "v": 33, "tag": "pending", "_weight": 2}]');
