-- A view that fails is quarantined; what a tick says about it depends on
-- who calls the tick: another role sees the view's name and SQLSTATE, never
-- its row values (not even at client_min_messages = log); its owner sees
-- the error in full.
CREATE ROLE ivm_reg_alice;
CREATE ROLE ivm_reg_bob;
CREATE SCHEMA reg_alice AUTHORIZATION ivm_reg_alice;
SET ROLE ivm_reg_alice;
CREATE TABLE reg_alice.t (s text);
INSERT INTO reg_alice.t VALUES ('1'), ('2');
SELECT ivm.create_view('reg_alice.nums', 'SELECT s::int AS n FROM reg_alice.t');
SELECT ivm.create_view('reg_alice.total', 'SELECT sum(n) AS total FROM reg_alice.nums');
INSERT INTO reg_alice.t VALUES ('SECRET-7');
RESET ROLE;

-- bob ticks: a warning without alice's row
SET ROLE ivm_reg_bob;
SET client_min_messages = log;
SELECT views_processed FROM ivm.tick();
-- the retry at the next tick fails again, quietly (server log only)
SELECT views_processed FROM ivm.tick();
-- all-or-nothing: the error bob gets has no row value either
SET ivm.on_error = abort;
SELECT views_processed FROM ivm.tick();
RESET ivm.on_error;
RESET client_min_messages;
SELECT name, state, error_sqlstate, error FROM ivm.views
WHERE name::text LIKE 'reg_alice.%' ORDER BY name::text;
RESET ROLE;

-- alice, the owner, sees it all
SET ROLE ivm_reg_alice;
SET ivm.on_error = abort;
SELECT views_processed FROM ivm.tick();
RESET ivm.on_error;
SELECT name, state, error_sqlstate, error FROM ivm.views
WHERE name::text LIKE 'reg_alice.%' ORDER BY name::text;
-- she fixes her row; the next tick maintains both views again
UPDATE reg_alice.t SET s = '7' WHERE s = 'SECRET-7';
SELECT views_processed FROM ivm.tick();
SELECT name, state, error FROM ivm.views WHERE name::text LIKE 'reg_alice.%' ORDER BY name::text;
SELECT n FROM reg_alice.nums ORDER BY n;
SELECT total FROM reg_alice.total;
SELECT (SELECT count(*) FROM ((SELECT n FROM reg_alice.nums EXCEPT ALL SELECT s::int FROM reg_alice.t)
        UNION ALL (SELECT s::int FROM reg_alice.t EXCEPT ALL SELECT n FROM reg_alice.nums)) d) AS mismatches;
SELECT view, strategy FROM ivm.evidence WHERE view IN ('nums', 'total') ORDER BY epoch, view;
RESET ROLE;
DROP SCHEMA reg_alice CASCADE;
DROP ROLE ivm_reg_alice;
DROP ROLE ivm_reg_bob;

-- a view failing after its delta spilled to a temporary file: the store is
-- ended on the error path (no "temporary file leak" warning at commit)
CREATE FUNCTION reg_raise_on(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
$$BEGIN IF $1 < 0 THEN RAISE EXCEPTION 'negative input'; END IF; RETURN $1; END$$;
CREATE TABLE reg_spill (id int PRIMARY KEY, x int, pad text);
SELECT ivm.create_view('reg_spilled', 'SELECT id, reg_raise_on(x) AS y, pad FROM reg_spill');
INSERT INTO reg_spill SELECT g, g, repeat('x', 200) FROM generate_series(1, 5000) g;
INSERT INTO reg_spill VALUES (0, -1, '');
SET work_mem = '64kB';
SET ivm.fallback_ratio = 1000000;
SELECT rows_in > 5000 AS consumed FROM ivm.tick();
RESET work_mem;
RESET ivm.fallback_ratio;
SELECT state, error FROM ivm.views WHERE name = 'reg_spilled'::regclass;
DROP TABLE reg_spill CASCADE;
DROP FUNCTION reg_raise_on(int);
