-- DROP EXTENSION ivm refuses while incremental views exist; with CASCADE it
-- removes everything ivm made (views, storage, definitions, hidden views,
-- delta logs, capture triggers), writes to the sources go on, and a new
-- CREATE EXTENSION ivm starts afresh.  In a database of its own.
SET client_min_messages = warning;
CREATE DATABASE ivm_regress_dropext;
\c ivm_regress_dropext
SET client_min_messages = warning;
\set VERBOSITY terse
CREATE EXTENSION ivm;
CREATE TABLE t (id int PRIMARY KEY, x int);
CREATE TABLE p (id int, x int) PARTITION BY RANGE (id);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);
INSERT INTO t VALUES (1, 1), (2, 1);
INSERT INTO p VALUES (1, 1);
SELECT ivm.create_view('v', 'SELECT x, count(*) AS n FROM t GROUP BY x');
SELECT ivm.create_view('v_on_v', 'SELECT x FROM v');
SELECT ivm.create_view('v_part', 'SELECT id, x FROM p');
SELECT ivm.create_view('v_rank', 'SELECT id, rank() OVER (PARTITION BY x ORDER BY id) AS r FROM t');
CREATE MATERIALIZED VIEW v_mat WITH (ivm.incremental) AS SELECT id FROM t;
SELECT ivm.watch('v');
SELECT count(*) > 0 AS ivm_made_relations FROM pg_class c
WHERE c.relnamespace = 'ivm'::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e');
-- without CASCADE: refused, nothing dropped
DROP EXTENSION ivm;
SELECT count(*) AS views FROM ivm.views;
-- with CASCADE: nothing of ivm is left
DROP EXTENSION ivm CASCADE;
SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY relname;
SELECT count(*) AS left_in_schema_ivm FROM pg_class WHERE relnamespace = 'ivm'::regnamespace;
SELECT count(*) AS triggers_left FROM pg_trigger WHERE NOT tgisinternal;
INSERT INTO t VALUES (3, 2);
INSERT INTO p VALUES (2, 2);
UPDATE t SET x = 5 WHERE id = 1;
-- a schema ivm that an ordinary role made while the extension was away: the
-- extension would be created in it, and its owner could rename it away and
-- put her own functions where ivm's SECURITY DEFINER functions look
DROP SCHEMA ivm;
CREATE ROLE ivm_dropext_tenant;
GRANT CREATE ON DATABASE ivm_regress_dropext TO ivm_dropext_tenant;
SET ROLE ivm_dropext_tenant;
CREATE SCHEMA ivm;
RESET ROLE;
\set VERBOSITY default
CREATE EXTENSION ivm;
\set VERBOSITY terse
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'ivm';
-- given to a superuser, the schema is used
ALTER SCHEMA ivm OWNER TO CURRENT_USER;
CREATE EXTENSION ivm;
-- a superuser handing the schema to an ordinary role: ivm stops, in words
ALTER SCHEMA ivm OWNER TO ivm_dropext_tenant;
SELECT ivm.create_view('v_refused', 'SELECT id FROM t');
SELECT ivm.tick();
ALTER SCHEMA ivm OWNER TO CURRENT_USER;
REVOKE CREATE ON DATABASE ivm_regress_dropext FROM ivm_dropext_tenant;
DROP ROLE ivm_dropext_tenant;
-- a new CREATE EXTENSION, and the same names again
DROP EXTENSION ivm CASCADE;
CREATE EXTENSION ivm;
SELECT ivm.create_view('v', 'SELECT x, count(*) AS n FROM t GROUP BY x');
SELECT ivm.create_view('v_part', 'SELECT id, x FROM p');
INSERT INTO t VALUES (4, 2);
DELETE FROM p WHERE id = 1;
SELECT rows_in, views_processed FROM ivm.tick();
SELECT (SELECT count(*) FROM ((TABLE v EXCEPT ALL SELECT x, count(*) FROM t GROUP BY x)
        UNION ALL (SELECT x, count(*) FROM t GROUP BY x EXCEPT ALL TABLE v)) d) AS v_mismatches,
       (SELECT count(*) FROM ((TABLE v_part EXCEPT ALL TABLE p) UNION ALL (TABLE p EXCEPT ALL TABLE v_part)) d)
         AS v_part_mismatches;
\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE ivm_regress_dropext WITH (FORCE);
