-- The tick keeps each view's shape across ticks: VACUUM of the delta logs
-- (the worker runs it every second) or a change to an unrelated table does
-- not make it work the shapes out again; a change to a source does, for the
-- views that read it only; a dropped view's shape is freed.  Each shape's
-- memory context is named "view <id>, shape <n>", n counting workings out.
CREATE TABLE sh_a (id int PRIMARY KEY, x int);
CREATE TABLE sh_b (id int PRIMARY KEY, y int);
CREATE TABLE sh_other (z int);
SELECT ivm.create_view('sh_va', 'SELECT x, count(*) AS n FROM sh_a GROUP BY x');
SELECT ivm.create_view('sh_vb', 'SELECT id, y FROM sh_b');
SELECT ivm.create_view('sh_vc', 'SELECT id, y FROM sh_b WHERE y > 0');
CREATE TEMP VIEW sh_shapes AS
SELECT c.relname AS view, (regexp_match(m.ident, 'shape (\d+)$'))[1]::bigint AS built
FROM pg_backend_memory_contexts m
JOIN ivm._views v ON v.id = (regexp_match(m.ident, '^view (\d+),'))[1]::int
JOIN pg_class c ON c.oid = v.viewrel
WHERE m.name = 'ivm view shape' AND c.relname LIKE 'sh\_%';
INSERT INTO sh_a VALUES (1, 1), (2, 1);
INSERT INTO sh_b VALUES (1, 1), (2, -1);
SELECT views_processed > 0 AS ticked FROM ivm.tick();
SELECT view FROM sh_shapes ORDER BY view;
CREATE TEMP TABLE sh_before AS SELECT * FROM sh_shapes;
-- what the worker does to the logs, and an unrelated table changed
\set ECHO none
SELECT format('VACUUM %s', log) FROM ivm.sources WHERE source IN ('sh_a'::regclass, 'sh_b'::regclass) \gexec
\set ECHO all
VACUUM ANALYZE sh_other;
ALTER TABLE sh_other ADD COLUMN w int;
INSERT INTO sh_a VALUES (3, 2);
INSERT INTO sh_b VALUES (3, 3);
SELECT views_processed > 0 AS ticked FROM ivm.tick();
SELECT s.view, s.built = b.built AS kept FROM sh_shapes s JOIN sh_before b USING (view) ORDER BY s.view;
-- a column added to sh_b: the views of sh_b are worked out again, not sh_va
ALTER TABLE sh_b ADD COLUMN w int;
INSERT INTO sh_a VALUES (4, 2);
INSERT INTO sh_b VALUES (4, 4);
SELECT views_processed > 0 AS ticked FROM ivm.tick();
SELECT s.view, s.built = b.built AS kept FROM sh_shapes s JOIN sh_before b USING (view) ORDER BY s.view;
-- dropped views: their shapes are freed at the next tick
SELECT ivm.drop_view('sh_vb');
SELECT ivm.drop_view('sh_vc');
INSERT INTO sh_a VALUES (5, 3);
SELECT views_processed > 0 AS ticked FROM ivm.tick();
SELECT count(*) AS shapes_of_dropped_views FROM pg_backend_memory_contexts m
WHERE m.name = 'ivm view shape'
  AND NOT EXISTS (SELECT 1 FROM ivm._views v WHERE v.id = (regexp_match(m.ident, '^view (\d+),'))[1]::int);
SELECT view FROM sh_shapes ORDER BY view;
SELECT (SELECT count(*) FROM ((TABLE sh_va EXCEPT ALL SELECT x, count(*) FROM sh_a GROUP BY x)
        UNION ALL (SELECT x, count(*) FROM sh_a GROUP BY x EXCEPT ALL TABLE sh_va)) d) AS mismatches;
DROP TABLE sh_a, sh_b, sh_other CASCADE;
