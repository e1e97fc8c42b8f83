-- Scalar subqueries compared in WHERE (issue 10): decorrelated into joins
-- with hidden views that hold the subquery grouped by its equality keys (or
-- one row, uncorrelated).  Each view is compared with its query run
-- directly, as a multiset, after every tick; what the rewrite would get
-- wrong (a count that is 0, not NULL, for a missing group) is diffed.
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL ivm.fallback_ratio = 1000;
SELECT plan(19);

SELECT lives_ok($$SELECT ivm.tick()$$, 'a first tick consumes whatever was pending');

CREATE TABLE sc_p (pk int PRIMARY KEY, brand text, sz int);
CREATE TABLE sc_l (id int PRIMARY KEY, pk int, q int, price int);
INSERT INTO sc_p SELECT g, 'b' || (g % 5), CASE WHEN g % 17 = 0 THEN NULL ELSE g % 20 END FROM generate_series(1, 100) g;
INSERT INTO sc_l SELECT g, g % 110 + 1, CASE WHEN g % 23 = 0 THEN NULL ELSE g % 50 END, g * 3 % 1000
              FROM generate_series(1, 3000) g;

CREATE TABLE sc_q (name text PRIMARY KEY, query text NOT NULL);
INSERT INTO sc_q VALUES
 ('sc_q17',  'SELECT sum(l.price) / 7.0 AS avg_yearly FROM sc_l l, sc_p p WHERE p.pk = l.pk AND p.brand = ''b2'' AND l.q < (SELECT 0.2 * avg(l2.q) FROM sc_l l2 WHERE l2.pk = p.pk)'),
 ('sc_uncorr', 'SELECT pk, sz FROM sc_p WHERE sz > (SELECT avg(sz) FROM sc_p WHERE sz > 3)'),
 ('sc_count', 'SELECT pk FROM sc_p WHERE sz * 10 < (SELECT count(*) FROM sc_l WHERE q > 40)'),
 ('sc_min',  'SELECT l.id FROM sc_l l WHERE l.price = (SELECT min(l2.price) FROM sc_l l2 WHERE l2.pk = l.pk AND l2.q > 10)'),
 ('sc_q22',  'SELECT cc, count(*) AS n, sum(sz) AS ssz FROM (SELECT p.brand AS cc, p.sz FROM sc_p p WHERE p.sz > (SELECT avg(sz) FROM sc_p WHERE sz > 3) AND NOT EXISTS (SELECT 1 FROM sc_l l WHERE l.pk = p.pk AND l.q = 7)) s GROUP BY cc'),
 ('sc_having', 'SELECT pk, sum(price) AS s FROM sc_l GROUP BY pk HAVING sum(price) > (SELECT avg(price) * 30 FROM sc_l WHERE q > 5) AND count(*) > 1'),
 ('sc_having_hidden', 'SELECT pk FROM sc_l GROUP BY pk HAVING max(q) * 10 >= (SELECT count(*) / 10 FROM sc_l) AND max(q) IN (SELECT sz FROM sc_p WHERE brand <> ''b1'')'),
 ('sc_select', 'SELECT p.pk, (SELECT count(*) FROM sc_l l WHERE l.pk = p.pk) AS n, (SELECT max(q) FROM sc_l l WHERE l.pk = p.pk AND l.price > 100) AS mq FROM sc_p p'),
 ('sc_select_coalesce', 'SELECT p.pk, l.id, (SELECT coalesce(sum(l2.price), 0) + 1 FROM sc_l l2 WHERE l2.pk = p.pk AND l2.q > 10) AS s FROM sc_p p, sc_l l WHERE l.pk = p.pk AND p.sz > 3'),
 ('sc_select_uncorr', 'SELECT p.pk, (SELECT avg(q) FROM sc_l) AS aq, (SELECT count(*) FROM sc_l WHERE q > 40) AS n FROM sc_p p'),
 ('sc_left', 'SELECT p.pk FROM sc_p p WHERE (SELECT max(l.q) FROM sc_l l WHERE l.pk = p.pk AND l.price < 500) >= p.sz AND EXISTS (SELECT 1 FROM sc_l l WHERE l.pk = p.pk)');
SELECT ivm.create_view(name, query) FROM sc_q ORDER BY name;

\ir lib/views.psql

SELECT is((SELECT count(*) FROM ivm.views v JOIN sc_q q ON v.name = q.name::regclass WHERE v.strategy = 'incremental'),
          (SELECT count(*) FROM sc_q), 'every view with a decorrelated scalar subquery is incremental');
SELECT is((SELECT count(*) FROM ivm.hidden_views h JOIN sc_q q ON h.parent = q.name::regclass WHERE q.name NOT LIKE 'sc_having%' AND q.name NOT LIKE 'sc_select%'),
          (SELECT count(*) FROM sc_q WHERE name NOT LIKE 'sc_having%' AND name NOT LIKE 'sc_select%'), 'each reads one hidden view');
SELECT matches(ivm.explain('sc_select'), E'outer join.*\n  -> hidden view [^\n]*count.*GROUP BY (l\.)?pk',
               'a scalar subquery in the select list: a LEFT JOIN with its hidden view grouped by its key');
SELECT matches(ivm.explain('sc_having_hidden'), E'HAVING with a subquery.*\n  -> hidden view [^\n]*GROUP BY (sc_l\.)?pk',
               'a HAVING with subqueries: its groups are a hidden view (with the aggregate HAVING reads), filtered by a join');
SELECT matches(ivm.explain('sc_q17'), E'hidden view.*\\n  -> hidden view ivm\\._hidden_[0-9]+: strategy incremental: .*GROUP BY (l2\\.)?pk',
               'ivm.explain shows the subquery grouped by its key, incremental');
SELECT is(pg_temp.wrong('sc_q'), '', 'every view equals its query when created');

CREATE FUNCTION pg_temp.churn(seed float8) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM setseed(seed);
    INSERT INTO sc_l SELECT 100000 + g + (seed * 1000)::int * 100, (random() * 115)::int,
                            CASE WHEN random() < 0.05 THEN NULL ELSE (random() * 50)::int END, (random() * 1000)::int
                     FROM generate_series(1, 40) g;
    DELETE FROM sc_l WHERE id IN (SELECT id FROM sc_l ORDER BY random() LIMIT 30);
    UPDATE sc_l SET q = (random() * 50)::int, price = (random() * 1000)::int, pk = (random() * 115)::int
     WHERE id IN (SELECT id FROM sc_l ORDER BY random() LIMIT 12);
    UPDATE sc_p SET sz = CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 20)::int END, brand = 'b' || (random() * 5)::int
     WHERE pk IN (SELECT pk FROM sc_p ORDER BY random() LIMIT 4);
END $f$;
SELECT pg_temp.churn(0.1); SELECT ivm.tick();
SELECT is(pg_temp.wrong('sc_q'), '', 'random churn, tick 1: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view and hidden view took the delta');
SELECT pg_temp.churn(0.2); SELECT ivm.tick();
SELECT pg_temp.churn(0.3); SELECT ivm.tick();
SELECT is(pg_temp.wrong('sc_q'), '', 'random churn, ticks 2 and 3: every view equals its query');
SELECT is(pg_temp.not_incremental(), '', 'and every view took the delta');
-- a key's group emptied: the subquery is NULL there, the hidden view has no row
DELETE FROM sc_l WHERE pk = 12;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('sc_q'), '', 'a group emptied: every view equals its query');
DELETE FROM sc_l WHERE q > 40;
SELECT ivm.tick();
SELECT is(pg_temp.wrong('sc_q'), '', 'the uncorrelated count down to 0: every view equals its query');

-- what would be wrong as a join is diffed
SELECT ivm.create_view('sc_count_corr', 'SELECT pk FROM sc_p WHERE 30 > (SELECT count(*) FROM sc_l WHERE sc_l.pk = sc_p.pk)');
SELECT is((SELECT strategy FROM ivm.views WHERE name = 'sc_count_corr'::regclass), 'diff',
          'a correlated count (0, not NULL, for no row) is diffed');
SELECT ivm.create_view('sc_coalesce', 'SELECT pk FROM sc_p WHERE sz < (SELECT coalesce(max(q), 0) FROM sc_l WHERE sc_l.pk = sc_p.pk)');
SELECT is((SELECT strategy FROM ivm.views WHERE name = 'sc_coalesce'::regclass), 'diff',
          'a value that is not NULL over no row (coalesce) is diffed');
SELECT ivm.create_view('sc_nonequi', 'SELECT pk FROM sc_p WHERE sz < (SELECT max(q) FROM sc_l WHERE sc_l.pk > sc_p.pk)');
SELECT is((SELECT strategy FROM ivm.views WHERE name = 'sc_nonequi'::regclass), 'diff',
          'a subquery correlated otherwise than by equality is diffed');
SELECT ivm.create_view('sc_isnull', 'SELECT pk FROM sc_p WHERE (SELECT max(q) FROM sc_l WHERE sc_l.pk = sc_p.pk) IS NULL');
SELECT is((SELECT strategy FROM ivm.views WHERE name = 'sc_isnull'::regclass), 'diff',
          'a subquery tested by IS NULL (not a strict comparison) is diffed');
SELECT ivm.create_view('sc_having_corr', 'SELECT pk FROM sc_l GROUP BY pk HAVING sum(price) > (SELECT avg(price) FROM sc_p, sc_l l2 WHERE l2.pk = sc_l.pk AND sc_p.pk = l2.pk)');
SELECT matches(ivm.explain('sc_having_corr'), 'strategy diff.*subquery in HAVING reads the group',
               'a subquery in HAVING that reads the group is diffed, and ivm.explain says so');
INSERT INTO sc_l VALUES (999999, 7, 45, 10);
SELECT ivm.tick();
SELECT is(pg_temp.mismatches('sc_count_corr', 'SELECT pk FROM sc_p WHERE 30 > (SELECT count(*) FROM sc_l WHERE sc_l.pk = sc_p.pk)')
          + pg_temp.mismatches('sc_isnull', 'SELECT pk FROM sc_p WHERE (SELECT max(q) FROM sc_l WHERE sc_l.pk = sc_p.pk) IS NULL')
          + pg_temp.mismatches('sc_having_corr', 'SELECT pk FROM sc_l GROUP BY pk HAVING sum(price) > (SELECT avg(price) FROM sc_p, sc_l l2 WHERE l2.pk = sc_l.pk AND sc_p.pk = l2.pk)'),
          0::bigint, 'the diffed views equal their queries');

SELECT * FROM finish();
ROLLBACK;
