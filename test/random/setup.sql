-- test/random/setup.sql -- schema, first data, views and the checker of the
-- randomised differential test.  Run by test/random/run.sh in a fresh
-- database; the view list below is the list the checker compares.

CREATE EXTENSION ivm;

-- a: the main table.  k is a small key (NULL sometimes), v an int (NULL
-- sometimes), s a short text (NULL sometimes).
CREATE TABLE a (id int PRIMARY KEY, k int, v int, s text);
-- b: children of a by a_id (dangling and NULL references happen on purpose).
CREATE TABLE b (id int PRIMARY KEY, a_id int, w int);
-- c: a small dimension joined to a on k.
CREATE TABLE c (id int PRIMARY KEY, k int, name text);
-- d: no primary key; duplicate rows on purpose.
CREATE TABLE d (x int, y text);
-- e: a partitioned table; updates of k move rows between partitions.
CREATE TABLE e (id int NOT NULL, k int, amt int) PARTITION BY RANGE (k);
CREATE TABLE e_lo PARTITION OF e FOR VALUES FROM (MINVALUE) TO (6);
CREATE TABLE e_hi PARTITION OF e FOR VALUES FROM (6) TO (MAXVALUE);
CREATE TABLE e_default PARTITION OF e DEFAULT;
-- f: numerics that are equal but differ in their bytes (1, 1.0, 1.00): a
-- view holds each as its query returned it, a group key merges them.  With
-- few hash bits (the random-collide suite) their rows share hashes too.
CREATE TABLE f (id int PRIMARY KEY, x numeric, g int);

INSERT INTO a SELECT g, CASE WHEN g % 13 = 0 THEN NULL ELSE g % 10 END,
                     CASE WHEN g % 11 = 0 THEN NULL ELSE (g * 37) % 100 END,
                     (ARRAY['x', 'y', 'z', NULL])[g % 4 + 1]
              FROM generate_series(1, 150) g;
INSERT INTO b SELECT g, CASE WHEN g % 17 = 0 THEN NULL ELSE (g * 7) % 160 END,
                     CASE WHEN g % 9 = 0 THEN NULL ELSE g % 20 END
              FROM generate_series(1, 150) g;
INSERT INTO c SELECT g, g % 15, (ARRAY['alpha', 'beta', 'gamma', NULL])[g % 4 + 1]
              FROM generate_series(1, 25) g;
INSERT INTO e SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g % 12 END, (g * 13) % 50
              FROM generate_series(1, 60) g;
INSERT INTO d SELECT g % 10, (ARRAY['p', 'x', 'y'])[g % 3 + 1] FROM generate_series(1, 40) g;
INSERT INTO f SELECT g, (ARRAY[1, 1.0, 1.00, 2.5, 2.50, 0, NULL])[g % 7 + 1], g % 3
              FROM generate_series(1, 30) g;
-- vv: embeddings of 3 dimensions from {-2, -1, 1, 2} (never a zero vector, so
-- cosine is defined; few values, so exact ties in distance are common).
CREATE TABLE vv (id int PRIMARY KEY, emb real[] NOT NULL, tag text);
INSERT INTO vv SELECT g, ARRAY[(ARRAY[-2, -1, 1, 2])[g % 4 + 1], (ARRAY[-2, -1, 1, 2])[(g * 3) % 4 + 1],
                               (ARRAY[-2, -1, 1, 2])[(g * 7 / 3) % 4 + 1]]::real[], 'v' || g
               FROM generate_series(1, 30) g;
-- p: a push source with dedup (rows arrive as weighted JSON batches).
SELECT ivm.create_source('p', 'k int, v int, tag text');
SELECT ivm.set_dedup('p', true);
SELECT ivm.push('p', (SELECT jsonb_agg(jsonb_build_object('k', g % 8, 'v', (g * 29) % 60, 'tag',
                                       (ARRAY['x', 'y', NULL])[g % 3 + 1], '_weight', g % 2 + 1))
                      FROM generate_series(1, 40) g));

-- a plain view of a (views over it have it written in, then flattened)
CREATE VIEW a_plain AS SELECT id, k, v, s FROM a WHERE v IS NOT NULL;

-- The views under test: name, query, options.  Views are created in ord
-- order (later ones may read earlier ones).  An exact view is compared with
-- its query by the text of its rows, not by equality: 1.0 is not 1.00.
-- A fragile view (IVM_FAILING=1 adds them) fails while its table holds a
-- bad row: it must then be quarantined, and equal its query otherwise.
CREATE TABLE rt_views (ord int PRIMARY KEY, name text UNIQUE NOT NULL,
                       query text NOT NULL, options jsonb NOT NULL DEFAULT '{}',
                       exact bool NOT NULL DEFAULT false,
                       fragile bool NOT NULL DEFAULT false);
INSERT INTO rt_views (ord, name, query, options) VALUES
 (1,  'v_filter',     $q$SELECT id, k, v * 2 AS v2, upper(s) AS us FROM a WHERE v > 40 OR s = 'x'$q$, '{}'),
 (2,  'v_join',       $q$SELECT a.id, a.k, b.id AS b_id, b.w FROM a JOIN b ON b.a_id = a.id$q$, '{}'),
 (3,  'v_left',       $q$SELECT a.id, a.v, b.id AS b_id, b.w FROM a LEFT JOIN b ON b.a_id = a.id AND b.w > 3$q$, '{}'),
 (4,  'v_full',       $q$SELECT a.id AS a_id, a.k AS ak, c.id AS c_id, c.name FROM a FULL JOIN c ON c.k = a.k AND c.id % 2 = a.id % 2$q$, '{}'),
 (5,  'v_self',       $q$SELECT b1.id AS id1, b2.id AS id2, b1.a_id FROM b b1 JOIN b b2 ON b1.a_id = b2.a_id AND b1.id < b2.id$q$, '{}'),
 (6,  'v_agg',        $q$SELECT k, count(*) AS n, count(v) AS nv, sum(v) AS sv, avg(v) AS av, min(v) AS mn, max(v) AS mx, min(s) AS mins, max(s) AS maxs FROM a GROUP BY k$q$, '{}'),
 (7,  'v_agg_join',   $q$SELECT a.k, c.name, count(*) AS n, sum(a.v) AS sv, max(a.id) AS maxid FROM a JOIN c ON c.k = a.k GROUP BY a.k, c.name HAVING count(*) > 3$q$, '{}'),
 (8,  'v_scalar',     $q$SELECT count(*) AS n, count(w) AS nw, sum(w) AS sw, min(w) AS mn, max(w) AS mx FROM b$q$, '{}'),
 (9,  'v_distinct',   $q$SELECT DISTINCT k, s FROM a$q$, '{}'),
 (10, 'v_union',      $q$SELECT k FROM a UNION SELECT k FROM c$q$, '{}'),
 (11, 'v_union_all',  $q$SELECT id, k, 'a' AS src FROM a WHERE v < 30 UNION ALL SELECT id, k, 'c' FROM c UNION ALL SELECT x, x, y FROM d$q$, '{}'),
 (12, 'v_except',     $q$SELECT k FROM c EXCEPT SELECT k FROM a WHERE v > 50$q$, '{}'),
 (13, 'v_except_all', $q$SELECT x FROM d EXCEPT ALL SELECT k FROM c$q$, '{}'),
 (14, 'v_intersect',  $q$SELECT x, y FROM d INTERSECT ALL SELECT k, s FROM a$q$, '{}'),
 (15, 'v_exists',     $q$SELECT id, k FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.a_id = a.id AND b.w > 10)$q$, '{}'),
 (16, 'v_not_exists', $q$SELECT id, v FROM a WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.a_id = a.id)$q$, '{}'),
 (17, 'v_in_scalar',  $q$SELECT c.id, c.k, (SELECT count(*) FROM a WHERE a.k = c.k) AS n_a FROM c WHERE c.k IN (SELECT k FROM a WHERE v > 20)$q$, '{}'),
 (18, 'v_window',     $q$SELECT id, k, row_number() OVER (PARTITION BY k ORDER BY id) AS rn, sum(v) OVER (PARTITION BY k) AS ksum FROM a$q$, '{}'),
 (19, 'v_topn',       $q$SELECT id, v, k FROM a WHERE v IS NOT NULL ORDER BY v DESC, id LIMIT 10$q$, '{}'),
 (20, 'v_cte',        $q$WITH t AS (SELECT a_id, sum(w) AS sw, count(*) AS nb FROM b GROUP BY a_id) SELECT a.id, a.s, t.sw, t.nb FROM a JOIN t ON t.a_id = a.id$q$, '{}'),
 (21, 'v_nopk',       $q$SELECT x, y, count(*) AS n FROM d GROUP BY x, y$q$, '{}'),
 (22, 'v_on_view',    $q$SELECT k, n, sv FROM v_agg WHERE n >= 12$q$, '{}'),
 (23, 'v_on_view2',   $q$SELECT count(*) AS groups, sum(n) AS total, max(sv) AS max_sv FROM v_on_view$q$, '{}'),
 (24, 'v_join_view',  $q$SELECT j.k, count(*) AS pairs, sum(j.w) AS sw FROM v_join j GROUP BY j.k$q$, '{}'),
 (27, 'v_part',       $q$SELECT k, count(*) AS n, sum(amt) AS s, max(id) AS maxid FROM e GROUP BY k$q$, '{}'),
 (28, 'v_part_join',  $q$SELECT e.id, e.amt, c.id AS c_id, c.name FROM e JOIN c ON c.k = e.k WHERE e.amt > 10$q$, '{}'),
 (29, 'v_push',       $q$SELECT k, count(*) AS n, sum(v) AS sv, max(tag) AS mt FROM p GROUP BY k$q$, '{}'),
 (30, 'v_push_join',  $q$SELECT p.k, p.tag, c.name FROM p JOIN c ON c.k = p.k WHERE p.v > 20$q$, '{}'),
 (31, 'v_scale',      $q$SELECT g, x FROM f$q$, '{}'),
 (32, 'v_scale_agg',  $q$SELECT x, count(*) AS n, sum(g) AS sg, min(id) AS mn FROM f GROUP BY x$q$, '{}'),
 (33, 'v_scale_join', $q$SELECT f.x, c.name FROM f JOIN c ON c.k = f.g + 1 WHERE f.x IS NOT NULL$q$, '{}'),
 (34, 'v_scale_sum',  $q$SELECT g, sum(x) AS sx, avg(x) AS ax, count(x) AS nx, count(*) AS n FROM f GROUP BY g$q$, '{}'),
 (35, 'v_scale_total', $q$SELECT sum(x) AS sx, avg(x) AS ax, sum(x * 2) AS sx2 FROM f$q$, '{}'),
 (36, 'v_flat',       $q$SELECT k, count(*) AS n, sum(v2) AS s2 FROM (SELECT a.k, a.v * 2 AS v2, b.w FROM a JOIN b ON b.a_id = a.id WHERE b.w > 3) s WHERE v2 IS NOT NULL GROUP BY k$q$, '{}'),
 (38, 'v_expr_agg',   $q$SELECT k, sum(v) * 2 + count(*) AS e1, round(sum(v)::numeric / nullif(count(v), 0), 3) AS e2, max(v) - min(v) AS spread, k * 10 AS k10, count(*) AS n FROM a GROUP BY k$q$, '{}'),
 (39, 'v_expr_scalar', $q$SELECT 100.00 * sum(CASE WHEN k < 5 THEN v ELSE 0 END) / nullif(sum(v), 0) AS pct, count(*) + 1 AS c1, coalesce(max(v), -1) AS mx FROM a$q$, '{}'),
 (40, 'v_having',     $q$SELECT k, count(*) AS n, sum(v) AS sv FROM a GROUP BY k HAVING count(*) > 11 AND sum(v) > 400$q$, '{}'),
 (41, 'v_having_view', $q$SELECT count(*) AS groups, sum(n) AS total FROM v_having$q$, '{}'),
 (43, 'v_agg_filter',    $q$SELECT k, count(*) FILTER (WHERE s = 'x') AS nx, sum(v) FILTER (WHERE v > 50) AS sbig, min(v) FILTER (WHERE s IS NULL) AS mn, max(id) FILTER (WHERE v < 30) AS mx, avg(v) FILTER (WHERE id % 2 = 0) AS av, count(*) AS n FROM a GROUP BY k$q$, '{}'),
 (44, 'v_agg_recomputed', $q$SELECT k, string_agg(s, ',' ORDER BY id) AS ss, array_agg(v ORDER BY v DESC NULLS LAST, id) FILTER (WHERE v > 10) AS av, count(DISTINCT v) AS cd, sum(DISTINCT v) AS sd, sum(v / 4.0::float8) AS sf, avg(v::float4) AS af, count(*) AS n FROM a GROUP BY k$q$, '{}'),
 (45, 'v_agg_recomputed_scalar', $q$SELECT string_agg(DISTINCT s, '|' ORDER BY s) AS tags, max(v) - min(v) AS spread, count(DISTINCT k) AS ks FROM a$q$, '{}'),
 (46, 'v_join3',      $q$SELECT a.id, a.v, b.w, c.name FROM a, b, c WHERE b.a_id = a.id AND c.k = a.k AND b.w IS DISTINCT FROM 3$q$, '{}'),
 (47, 'v_join4_agg',  $q$SELECT c.name, count(*) AS n, sum(b.w) AS sw FROM b, a a1, a a2, c WHERE b.a_id = a1.id AND a2.k = a1.k AND a2.id <> a1.id AND c.k = a2.k GROUP BY c.name$q$, '{}'),
 (48, 'v_join_cross', $q$SELECT a.id, d.x, c.id AS cid FROM a, c, d WHERE c.k = a.k AND a.v < 15 AND d.x = 3$q$, '{}'),
 (49, 'v_in_many',    $q$SELECT id, k, v FROM a WHERE k IN (SELECT w FROM b WHERE w < 8) AND v NOT IN (SELECT w * 5 FROM b WHERE a_id > 100 AND id % 5 = 0) AND (k, s) NOT IN (SELECT x, y FROM d WHERE x < 9) AND (k, v % 3) IN (SELECT x, x % 3 FROM d)$q$, '{}'),
 (50, 'v_semi_join',  $q$SELECT a.id, c.name, a.v FROM a, c WHERE c.k = a.k AND EXISTS (SELECT 1 FROM b WHERE b.a_id = a.id AND b.w > c.id % 7) AND NOT EXISTS (SELECT 1 FROM d WHERE d.x = c.k AND d.y = a.s)$q$, '{}'),
 (51, 'v_semi_agg',   $q$SELECT a.k, count(*) AS n, sum(a.v) AS sv FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.a_id = a.id AND b.w IS DISTINCT FROM a.v) AND a.v > ALL (SELECT w FROM b WHERE b.a_id = a.id + 1) GROUP BY a.k$q$, '{}'),
 (52, 'v_semi_self',  $q$SELECT b1.id, b1.w FROM b b1 WHERE NOT EXISTS (SELECT 1 FROM b b2 WHERE b2.a_id = b1.a_id AND b2.id <> b1.id) AND b1.w <= ANY (SELECT v FROM a WHERE a.k = b1.w % 10)$q$, '{}'),
 (53, 'v_semi_view',  $q$SELECT c.id, c.k FROM c WHERE c.k NOT IN (SELECT k FROM v_agg WHERE n > 14) AND EXISTS (SELECT 1 FROM v_join j WHERE j.k = c.k AND j.w > 15)$q$, '{}'),
 (54, 'v_topk_agg',   $q$SELECT k, count(*) AS n, sum(v) AS sv FROM a GROUP BY k ORDER BY sum(v) DESC NULLS LAST, k LIMIT 4 OFFSET 1$q$, '{}'),
 (55, 'v_topk_ties',  $q$SELECT a.id, c.name FROM a JOIN c ON c.k = a.k WHERE EXISTS (SELECT 1 FROM b WHERE b.a_id = a.id) ORDER BY a.v % 10, c.name NULLS FIRST FETCH FIRST 6 ROWS WITH TIES$q$, '{}'),
 (56, 'v_topk_union', $q$SELECT id, k FROM a WHERE v < 30 UNION ALL SELECT id, k FROM c ORDER BY 2 DESC NULLS LAST, 1 LIMIT 7$q$, '{}'),
 (57, 'v_topk_view',  $q$SELECT k, n FROM v_agg ORDER BY n DESC, k NULLS FIRST LIMIT 3$q$, '{}'),
 (58, 'v_semi_hidden', $q$SELECT id, v FROM a WHERE k IN (SELECT k FROM a GROUP BY k HAVING count(*) > 14) AND id NOT IN (SELECT a_id FROM b WHERE a_id IS NOT NULL GROUP BY a_id HAVING sum(w) > 20) AND EXISTS (SELECT FROM c, d WHERE d.x = c.k AND c.name = 'beta')$q$, '{}'),
 (59, 'v_scalar_sub', $q$SELECT a.id, a.v FROM a WHERE a.v > (SELECT avg(b.w) * 3 FROM b WHERE b.a_id = a.id) AND a.k <= (SELECT max(k) - 2 FROM c WHERE name IS NOT NULL)$q$, '{}'),
 (60, 'v_semi_neq',   $q$SELECT b1.id, b1.w FROM b b1 WHERE EXISTS (SELECT 1 FROM b b2 WHERE b2.a_id = b1.a_id AND b2.w <> b1.w) AND NOT EXISTS (SELECT 1 FROM b b3 WHERE b3.a_id = b1.a_id AND b3.id <> b1.id AND b3.w > 15)$q$, '{}'),
 (61, 'v_flat_semi',  $q$SELECT ck, count(*) AS n, sum(v) AS sv FROM (SELECT a.k AS ck, a.v FROM a WHERE a.v > (SELECT avg(w) FROM b) AND NOT EXISTS (SELECT 1 FROM b WHERE b.a_id = a.id AND b.w > 5)) s GROUP BY ck$q$, '{}'),
 (62, 'v_right',      $q$SELECT a.id, a.k, b.id AS b_id, b.w FROM a RIGHT JOIN b ON b.a_id = a.id AND a.v > 20$q$, '{}'),
 (63, 'v_full_y',     $q$SELECT c.id AS cid, c.name, a.id AS aid, a.s FROM c FULL JOIN a ON a.k = c.k AND a.s = 'y'$q$, '{}'),
 (64, 'v_left_two',   $q$SELECT a.id, b.id AS bid, c.name FROM a LEFT JOIN b ON b.a_id = a.id LEFT JOIN c ON c.id = b.w$q$, '{}'),
 (65, 'v_left_agg',   $q$SELECT n, count(*) AS custs FROM (SELECT a.id, count(b.id) AS n FROM a LEFT JOIN b ON b.a_id = a.id AND b.w > 4 GROUP BY a.id) s GROUP BY n$q$, '{}'),
 (66, 'v_left_anti',  $q$SELECT a.id, a.v FROM a LEFT JOIN b ON b.a_id = a.id WHERE b.id IS NULL$q$, '{}'),
 (67, 'v_sub_agg',    $q$SELECT c.id, c.name, s.total, s.n FROM c JOIN (SELECT k, sum(v) AS total, count(*) AS n FROM a GROUP BY k) s ON s.k = c.k$q$, '{}'),
 (68, 'v_cte_max',    $q$WITH t AS (SELECT a_id, sum(w) AS tw FROM b GROUP BY a_id) SELECT a.id, a.s, t.tw FROM a, t WHERE t.a_id = a.id AND t.tw >= (SELECT max(tw) - 10 FROM t)$q$, '{}'),
 (69, 'v_left_group', $q$SELECT b.w % 3 AS wk, count(*) AS n, sum(a.v) AS sv FROM a LEFT JOIN b ON b.a_id = a.id GROUP BY b.w % 3$q$, '{}'),
 (70, 'v_full_using', $q$SELECT id, a.k, b.w FROM a FULL JOIN b USING (id)$q$, '{}'),
 (71, 'v_left_part',  $q$SELECT e.id, e.amt, c.name FROM e LEFT JOIN c ON c.id = e.k$q$, '{}'),
 (72, 'v_having_sub', $q$SELECT k, count(*) AS n, sum(v) AS sv FROM a GROUP BY k HAVING sum(v) > (SELECT avg(w) * 20 FROM b) AND count(*) > 3$q$, '{}'),
 (73, 'v_intersect_set', $q$SELECT k, s FROM a WHERE v > 20 INTERSECT SELECT x, y FROM d$q$, '{}'),
 (74, 'v_union_agg',  $q$SELECT k, count(*) AS n FROM a GROUP BY k UNION ALL SELECT a_id % 10, count(*) FROM b GROUP BY a_id % 10$q$, '{}'),
 (75, 'v_window_small', $q$SELECT a_id, id, w, row_number() OVER (PARTITION BY a_id ORDER BY w, id) AS rn, sum(w) OVER (PARTITION BY a_id) AS sw FROM b$q$, '{}'),
 (76, 'v_window_join', $q$SELECT c.name, a.id, a.v, rank() OVER (PARTITION BY c.name ORDER BY a.v NULLS FIRST) AS r FROM a JOIN c ON c.k = a.k$q$, '{}'),
 (77, 'v_distinct_on', $q$SELECT DISTINCT ON (k) k, id, v, s FROM a ORDER BY k, v DESC NULLS LAST, id$q$, '{}'),
 (78, 'v_group_unshown', $q$SELECT count(*) AS n, sum(v) AS sv, max(s) AS ms FROM a GROUP BY k, v % 3$q$, '{}'),
 (79, 'v_intersect_all', $q$SELECT k, s FROM a WHERE v > 10 INTERSECT ALL SELECT x, y FROM d$q$, '{}'),
 (80, 'v_series',     $q$SELECT b.id, b.a_id, g FROM b, generate_series(1, coalesce(b.w, 0) % 4) g WHERE b.id % 3 <> 0$q$, '{}'),
 (82, 'v_left_series', $q$SELECT a.id, g FROM a LEFT JOIN b ON b.a_id = a.id AND b.w < 5, generate_series(0, coalesce(b.w, 1) % 3) g$q$, '{}'),
 (83, 'v_window_all', $q$SELECT id, k, row_number() OVER (ORDER BY v NULLS FIRST, id) AS rn, sum(v) OVER () AS total FROM a WHERE s IS DISTINCT FROM 'z'$q$, '{}'),
 (84, 'v_shard_agg',  $q$SELECT k, count(*) AS n, sum(v) AS sv, min(v) AS mn, max(s) AS ms FROM a GROUP BY k$q$, '{"partitions": 3, "partition_key": "k"}'),
 (85, 'v_shard_join', $q$SELECT b.id, b.a_id, b.w, a.v, a.s FROM b JOIN a ON a.id = b.a_id WHERE b.w IS NOT NULL$q$, '{"partitions": 4, "partition_key": "a_id"}'),
 (86, 'v_shard_rows', $q$SELECT id, k, v FROM a WHERE v > 10$q$, '{"partitions": 2, "partition_key": "k"}'),
 (87, 'v_shard_e',    $q$SELECT e.k, c.name, count(*) AS n, sum(e.amt) AS s FROM e JOIN c ON c.k = e.k GROUP BY e.k, c.name$q$, '{"partitions": 3, "partition_key": "k"}'),
 (81, 'v_unnest_agg', $q$SELECT c.name, x, count(*) AS n FROM a JOIN c ON c.k = a.k, unnest(ARRAY[a.v % 5, a.k, NULL]) x GROUP BY c.name, x$q$, '{}'),
 (301, 'v_agg_multi',  $q$SELECT k, s, min(v) AS mn, max(v) AS mx, string_agg(id::text, ',' ORDER BY id) AS ids, count(DISTINCT v) FILTER (WHERE v > 20) AS cdf, count(*) AS n FROM a GROUP BY k, s$q$, '{}'),
 (302, 'v_scale_reread', $q$SELECT x, g % 2 AS gp, max(id) AS mx, array_agg(g ORDER BY g, id) AS gs, count(*) AS n FROM f GROUP BY x, g % 2$q$, '{}'),
 (303, 'v_having_reread', $q$SELECT s, min(v) AS mn, string_agg(DISTINCT k::text, ',') AS ks FROM a GROUP BY s HAVING max(v) > 50$q$, '{}'),
 (88, 'v_plain',      $q$SELECT p.k, c.name, count(*) AS n, sum(p.v) AS sv FROM a_plain p, c WHERE c.k = p.k AND p.s IS DISTINCT FROM 'z' GROUP BY p.k, c.name$q$, '{}'),
 (89, 'v_const',      $q$SELECT x, y FROM (VALUES (1, 'a'), (2, NULL), (2, NULL), (NULL, 'z')) v(x, y) UNION ALL SELECT k, s FROM a WHERE id % 17 = 0$q$, '{}'),
 (98, 'v_values_join', $q$SELECT v.name, count(*) AS n, sum(a.v) AS sv, min(a.v) AS mn FROM a JOIN (VALUES (1, 'one'), (2, 'two'), (2, 'deux'), (NULL, 'none'), (7, 'seven')) v(k, name) ON v.k = a.k WHERE a.s IS DISTINCT FROM 'y' GROUP BY v.name$q$, '{}'),
 (99, 'v_srf',        $q$SELECT b.id, unnest(ARRAY[b.w, b.a_id % 7, NULL]) AS u, generate_series(1, coalesce(b.w, 0) % 5) AS g FROM b WHERE b.id % 2 = 0$q$, '{}'),
 (0,  'v_rollup',     $q$SELECT k, s, count(*) AS n, sum(v) AS sv, max(v) AS mx, grouping(k, s) AS gks FROM a GROUP BY ROLLUP (k, s)$q$, '{}'),
 (42, 'v_bool',       $q$SELECT k, bool_and(v > 20) AS all_big, bool_or(s = 'x') AS any_x, every(v IS NOT NULL) AS all_v, count(*) AS n FROM a GROUP BY k$q$, '{}'),
 (37, 'v_flat_spj',   $q$SELECT s.id, s.kv, c.name FROM (SELECT id, k, coalesce(v, -1) + k AS kv FROM a WHERE s IS DISTINCT FROM 'z') s, c WHERE c.k = s.k$q$, '{}'),
 (25, 'v_agg_diff',   $q$SELECT k, count(*) AS n, sum(v) AS sv, max(v) AS mx FROM a GROUP BY k$q$, '{"mode": "diff"}'),
 (26, 'v_left_diff',  $q$SELECT c.id, c.name, a.id AS a_id FROM c LEFT JOIN a ON a.k = c.k AND a.v > 90$q$, '{"mode": "diff"}');

UPDATE rt_views SET exact = true WHERE name IN ('v_scale', 'v_scale_join', 'v_scale_sum', 'v_scale_total');

-- vector views (the k nearest to a query vector, ORDER BY distance, id LIMIT k),
-- by each metric, and one whose k exceeds the table
INSERT INTO rt_views (ord, name, query, options)
SELECT o, n, ivm.vector_view_query('vv', 'emb', q, k, m, ARRAY['tag']), '{}'
FROM (VALUES (90, 'v_vec_l2', '{1,-1,2}'::real[], 5, 'l2'), (91, 'v_vec_cos', '{2,1,-1}', 4, 'cosine'),
             (92, 'v_vec_ip', '{-1,2,1}', 3, 'ip'), (93, 'v_vec_all', '{1,1,1}', 500, 'l2')) AS x(o, n, q, k, m);

-- the k first rows per partition of a window, read up to a rank (kept per
-- partition to a margin): the nearest vectors per query (the queries made
-- of c's k, NULL and repeated keys among them), ties by rank, rn < k, and
-- the CROSS JOIN LATERAL form (defined by its window form)
INSERT INTO rt_views (ord, name, query, options) VALUES
 (94, 'v_vec_many', $q$SELECT qk, id, distance FROM (SELECT c.k AS qk, vv.id, ivm.l2_distance(vv.emb, ARRAY[coalesce(c.k, 0) % 4 - 1.5, 1, coalesce(c.k, 0) % 3]::real[]) AS distance, row_number() OVER (PARTITION BY c.k ORDER BY ivm.l2_distance(vv.emb, ARRAY[coalesce(c.k, 0) % 4 - 1.5, 1, coalesce(c.k, 0) % 3]::real[]), vv.id) AS rn FROM c, vv) s WHERE rn <= 3$q$, '{}'),
 (95, 'v_rank_many', $q$SELECT k, id, v FROM (SELECT a.k, a.id, a.v, rank() OVER (PARTITION BY a.k ORDER BY a.v DESC NULLS LAST) AS r FROM a WHERE a.s IS DISTINCT FROM 'q') s WHERE r <= 2$q$, '{}'),
 (97, 'v_vec_lateral', $q$SELECT c.id AS cid, c.name, x.id, x.distance FROM c CROSS JOIN LATERAL (SELECT vv.id, ivm.l2_distance(vv.emb, ARRAY[coalesce(c.k, 0) % 3, 1, 2]::real[]) AS distance FROM vv WHERE vv.tag IS DISTINCT FROM 'b' ORDER BY 2, 1 LIMIT 2) x$q$, '{}'),
 (96, 'v_rn_lt', $q$SELECT s.a_id, s.id, s.w, s.rn FROM (SELECT b.a_id, b.id, b.w, row_number() OVER (PARTITION BY b.a_id ORDER BY b.w NULLS FIRST, b.id) AS rn FROM b) s WHERE s.rn < 3$q$, '{}');

-- Every partitioned view gets a serial twin: the same query, one storage.
INSERT INTO rt_views (ord, name, query, options, exact)
SELECT ord + 200, name || '_s', query, '{}', exact FROM rt_views WHERE options ? 'partitions';

-- Every view that takes the default strategy gets a twin maintained by the
-- diff strategy: the same query, checked the same way, so both strategies
-- face every workload.
INSERT INTO rt_views (ord, name, query, options, exact)
SELECT ord + 100, name || '_d', query, '{"mode": "diff"}', exact FROM rt_views WHERE options = '{}';

-- One statement per view, as a user would type them.
SELECT format('SELECT ivm.create_view(%L, %L, %L)', name, query, options)
  FROM rt_views ORDER BY ord \gexec

\ir checker.sql
