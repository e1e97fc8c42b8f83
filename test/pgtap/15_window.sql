-- Window functions (issue 10): the rows the windows read are a hidden view;
-- a tick computes the windows again only for the partitions its delta
-- touches.  Each view is compared with its query run directly, as a
-- multiset, after every tick; partitions are emptied and filled again;
-- what has no rule is diffed and says why; the windows run as the view's
-- owner.
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL ivm.fallback_ratio = 1000;
SELECT plan(23);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE wf_t (id int PRIMARY KEY, g int, v int, s text);
CREATE TABLE wf_d (g int PRIMARY KEY, name text);
INSERT INTO wf_t SELECT i, CASE WHEN i % 13 = 0 THEN NULL ELSE i % 8 END, (i * 37) % 50, (ARRAY['x', 'y', NULL])[i % 3 + 1]
                 FROM generate_series(1, 120) i;
INSERT INTO wf_d SELECT i, 'g' || i FROM generate_series(0, 9) i;

CREATE TABLE wf_q (name text PRIMARY KEY, query text NOT NULL);
INSERT INTO wf_q VALUES
 ('wf_rank',   'SELECT g, id, v, row_number() OVER (PARTITION BY g ORDER BY v DESC, id) AS rn, rank() OVER (PARTITION BY g ORDER BY v) AS rk FROM wf_t'),
 ('wf_sums',   'SELECT g, id, sum(v) OVER w AS running, count(*) OVER (PARTITION BY g) AS n, lag(v) OVER w AS prev, first_value(s) OVER w AS fs FROM wf_t WHERE v > 3 WINDOW w AS (PARTITION BY g ORDER BY id)'),
 ('wf_join',   'SELECT d.name, t.id, dense_rank() OVER (PARTITION BY d.name ORDER BY t.v) AS dr FROM wf_t t JOIN wf_d d ON d.g = t.g'),
 ('wf_two_keys', 'SELECT g, s, id, ntile(2) OVER (PARTITION BY g, s ORDER BY id) AS half FROM wf_t'),
 ('wf_frame',  'SELECT g, id, avg(v) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS mov FROM wf_t'),
 ('wf_nopart', 'SELECT id, g, row_number() OVER (ORDER BY v, id) AS rn, sum(v) OVER () AS total FROM wf_t WHERE v > 2'),
 ('wf_don',    'SELECT DISTINCT ON (g) g, id, v, s FROM wf_t ORDER BY g, v DESC, id'),
 ('wf_don_join', 'SELECT DISTINCT ON (d.name, t.s) d.name, t.s, t.id FROM wf_t t JOIN wf_d d ON d.g = t.g WHERE t.v > 5 ORDER BY d.name, t.s, t.v, t.id');
SELECT ivm.create_view(name, query) FROM wf_q ORDER BY name;

\ir lib/views.psql

SELECT is((SELECT string_agg(q.name, ', ' ORDER BY q.name) FROM wf_q q JOIN ivm.views v ON v.name = q.name::regclass
            WHERE v.strategy <> 'incremental'), NULL, 'every window view is incremental');
SELECT matches(ivm.explain('wf_rank'), E'window functions: .*partitions its delta touches.*\n  -> hidden view ',
               'ivm.explain says how, and shows the hidden view of the rows');
SELECT matches(ivm.explain('wf_don'), 'DISTINCT ON: .*first row of each key', 'DISTINCT ON is kept the same way, by key');
SELECT is(pg_temp.wrong('wf_q'), '', 'every view equals its query when created');

-- one row of one partition: only that partition is computed again
UPDATE wf_t SET v = v + 100 WHERE id = 9;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('wf_q'), '', 'one row updated: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');
SELECT cmp_ok((SELECT delta_out FROM ivm.evidence WHERE view = 'wf_rank' ORDER BY epoch DESC LIMIT 1),
              '<=', (SELECT 2 * count(*) FROM wf_t WHERE g = 1), 'wf_rank changed rows of that partition only');

INSERT INTO wf_t VALUES (500, 3, 1, 'x'), (501, NULL, 60, NULL), (502, 42, 7, 'y');
DELETE FROM wf_t WHERE id % 10 = 0;
UPDATE wf_t SET g = (g + 1) % 8 WHERE id % 9 = 4;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('wf_q'), '', 'rows in, out and moved between partitions (NULL partition included)');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

-- a partition emptied, then filled again
DELETE FROM wf_t WHERE g = 5;
SELECT ivm.tick();
SELECT is((SELECT count(*) FROM wf_rank WHERE g = 5), 0::bigint, 'an emptied partition has no rows');
SELECT is(pg_temp.wrong('wf_q'), '', 'every view equals its query');
INSERT INTO wf_t SELECT 600 + i, 5, i, 'y' FROM generate_series(1, 7) i;
SELECT ivm.tick();
SELECT is((SELECT count(*) FROM wf_rank WHERE g = 5), 7::bigint, 'filled again, it has its rows');
SELECT is(pg_temp.wrong('wf_q'), '', 'every view equals its query');
-- the joined dimension changes: the partitions of its name
UPDATE wf_d SET name = 'renamed' WHERE g = 2;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('wf_q'), '', 'a joined row renamed: every view equals its query');

CREATE FUNCTION pg_temp.churn(seed float8) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM setseed(seed);
    INSERT INTO wf_t SELECT 1000 + i + (seed * 1000)::int * 10, CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 9)::int END,
                            (random() * 50)::int, (ARRAY['x', 'y', NULL])[1 + (random() * 2)::int] FROM generate_series(1, 8) i;
    DELETE FROM wf_t WHERE id IN (SELECT id FROM wf_t ORDER BY random() LIMIT 5);
    UPDATE wf_t SET v = (random() * 50)::int, g = CASE WHEN random() < 0.5 THEN g ELSE (random() * 9)::int END
     WHERE id IN (SELECT id FROM wf_t ORDER BY random() LIMIT 5);
END $f$;
SELECT pg_temp.churn(0.1); SELECT ivm.tick();
SELECT pg_temp.churn(0.2); SELECT ivm.tick();
SELECT pg_temp.churn(0.3); SELECT ivm.tick();
SELECT is(pg_temp.wrong('wf_q'), '', 'after three ticks of random churn every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');

-- what has no rule is diffed, and says why; one partition is all the rows
SELECT matches(ivm.explain('wf_nopart'), 'strategy incremental.*without PARTITION BY.*one partition',
               'a window without PARTITION BY has one partition, computed again when its rows change');
SELECT ivm.create_view('wf_hidden_key', 'SELECT id, sum(v) OVER (PARTITION BY g) AS s FROM wf_t');
SELECT matches(ivm.explain('wf_hidden_key'), 'strategy diff.*does not show', 'partitions by a column the view does not show: diffed');
SELECT ivm.create_view('wf_mixed', 'SELECT id, g, s, sum(v) OVER (PARTITION BY g) AS sv, count(*) OVER (PARTITION BY s) AS n FROM wf_t');
SELECT matches(ivm.explain('wf_mixed'), 'strategy diff.*differently', 'windows partitioned differently: diffed');

-- as an attacker: a window over the attacker's own function runs as its owner
CREATE ROLE ivm_wf_mallory;
CREATE SCHEMA wf_mal AUTHORIZATION ivm_wf_mallory;
GRANT SELECT ON wf_t TO ivm_wf_mallory;
-- every call of the attacker's code, as whom (set_config cannot carry it out:
-- ivm discards the settings a view's code changes)
CREATE TABLE public.wf_calls (usr text, sup boolean);
GRANT INSERT, SELECT ON public.wf_calls TO PUBLIC;
SET ROLE ivm_wf_mallory;
CREATE FUNCTION wf_mal.note() RETURNS void LANGUAGE sql AS $f$
    INSERT INTO public.wf_calls SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user
$f$;
CREATE FUNCTION wf_mal.f(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    PERFORM wf_mal.note();
    RETURN x;
END $f$;
SELECT ivm.create_view('wf_mal.v', 'SELECT g, id, sum(wf_mal.f(v)) OVER (PARTITION BY g ORDER BY id) AS s FROM public.wf_t');
RESET ROLE;
DELETE FROM public.wf_calls;
UPDATE wf_t SET v = v + 1 WHERE id % 4 = 1;
SELECT ivm.tick();
SELECT is((SELECT strategy FROM ivm.evidence WHERE view = 'v' ORDER BY epoch DESC LIMIT 1), 'incremental',
          'the superuser''s tick recomputed the attacker''s touched partitions (stored rows read as the owner)');
SELECT is((SELECT ARRAY[count(*) > 0, bool_or(usr <> 'ivm_wf_mallory' OR sup) IS NOT TRUE] FROM public.wf_calls),
          ARRAY[true, true], 'the window''s function ran, as the view''s owner only');
SELECT is(pg_temp.mismatches('wf_mal.v', 'SELECT g, id, sum(wf_mal.f(v)) OVER (PARTITION BY g ORDER BY id) AS s FROM public.wf_t'),
          0::bigint, 'and the view equals its query');

SELECT * FROM finish();
ROLLBACK;
