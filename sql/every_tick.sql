-- A view whose query calls a function that is not immutable is computed at
-- every tick, also when no source changed and the tick would otherwise take
-- its fast path (nothing captured, nothing left by the last tick).  Each
-- statement commits on its own, as the fast path needs.
CREATE FUNCTION pg_temp.mismatches(v text, q text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT * FROM %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL SELECT * FROM %s)) d', v, q, q, v) INTO n;
  RETURN n;
END $$;

CREATE TABLE et_t (id int PRIMARY KEY, x numeric NOT NULL);
INSERT INTO et_t SELECT g, g FROM generate_series(1, 20) g;
CREATE TABLE et_rate (r numeric NOT NULL);   -- read by no view's FROM: not captured
INSERT INTO et_rate VALUES (2);
CREATE FUNCTION et_rate() RETURNS numeric STABLE LANGUAGE sql AS $$SELECT r FROM public.et_rate$$;
SELECT ivm.create_view('et_v', $$SELECT id, x * et_rate() AS y FROM et_t$$) IS NOT NULL AS created;
SELECT ivm.create_view('et_pure', $$SELECT id, x * 2 AS y FROM et_t$$) IS NOT NULL AS created;
SELECT options ->> 'every_tick' AS every_tick FROM ivm._views WHERE viewrel = 'et_v'::regclass;
SELECT options ->> 'every_tick' AS every_tick FROM ivm._views WHERE viewrel = 'et_pure'::regclass;

-- empty ticks: the marked view is maintained each time, the other skipped
SELECT views_processed, views_skipped FROM ivm.tick();
SELECT views_processed, views_skipped FROM ivm.tick();
UPDATE et_rate SET r = 3;
SELECT views_processed, views_skipped FROM ivm.tick();
SELECT pg_temp.mismatches('et_v', 'SELECT id, x * et_rate() AS y FROM et_t') AS wrong;
UPDATE et_rate SET r = 4;
SELECT views_processed, views_skipped FROM ivm.tick();
SELECT pg_temp.mismatches('et_v', 'SELECT id, x * et_rate() AS y FROM et_t') AS wrong;

SELECT ivm.drop_view('et_v');
SELECT ivm.drop_view('et_pure');
DROP FUNCTION et_rate();
DROP TABLE et_t, et_rate;
