-- ---------------------------------------------------------------------------
-- test/tpch/gen.sql -- a TPC-H database of our own, in SQL.
--
--   psql -v sf=0.01 -f test/tpch/gen.sql
--
-- TPC's dbgen is not packaged and nothing may be downloaded, so this script
-- builds the eight tables of the TPC-H specification (revision 3) itself:
-- region, nation, supplier, customer, part, partsupp, orders, lineitem, with
-- the specification's column types, cardinalities at scale factor :sf and
-- value domains close to its own (clause 4.2.3):
--   supplier 10,000 x SF, customer 150,000 x SF, part 200,000 x SF, partsupp
--   4 per part (the spec's supplier formula), orders 1,500,000 x SF with the
--   sparse keys of the spec (8 keys used in every 32), lineitem 1-7 per order;
--   dates 1992-01-01 .. 1998-12-31 (order dates up to 151 days before the end,
--   ship / commit / receipt dates derived from them), l_returnflag and
--   l_linestatus relative to CURRENTDATE 1995-06-17, o_orderstatus from the
--   line statuses, o_totalprice from the lines, p_retailprice by the spec's
--   formula, p_name of five distinct colours of the spec's 92, p_type /
--   p_container / p_brand / p_mfgr / c_mktsegment / priorities / ship modes
--   and instructions from the spec's lists, phones 'CC-ddd-ddd-dddd' with
--   CC = nation key + 10, nations and regions with the spec's keys and names.
-- Comments are cut from a pool of 10,000 sentences made by a grammar like
-- dbgen's (noun phrases, verb phrases, prepositional phrases over its word
-- lists), so the words the queries filter on ("special ... requests",
-- "green", "forest") occur about as often; "Customer ... Complaints" and
-- "Customer ... Recommends" go into SF x 5 supplier comments each, as the
-- spec says (suppliers whose key is 8, resp. 1,008, modulo 2,000).
--
-- Deterministic: every value is a hash (hashint8extended) of the row's key
-- and a column number, never random(), so a scale factor always yields the
-- same database, and the rows that the refresh function RF1 (refresh.sql)
-- adds are those that the same generator gives for the next order indexes.
-- Everything is set-based (INSERT ... SELECT over generate_series); primary
-- keys and the indexes a DBA would add on the foreign keys are built after
-- the load.  2 s at SF 0.01 and 8 s at SF 0.1 on 2 cores (SF 1 not yet
-- measured; about ten times SF 0.1 expected).
--
-- Besides the eight tables it leaves in the current schema:
--   tpch_config              one row: sf and the cardinalities derived from it
--   tpch_text                the sentence pool
--   tpch_h, tpch_rnd, tpch_okey, tpch_gen_orders   the generator's functions
--     (tpch_gen_orders(lo, hi) inserts the orders of indexes lo..hi and
--     their lineitems; refresh.sql uses it for RF1)
-- ---------------------------------------------------------------------------
\set ON_ERROR_STOP 1
\if :{?sf}
\else
\set sf 0.01
\endif

SET client_min_messages = warning;
DROP TABLE IF EXISTS lineitem, orders, partsupp, part, customer, supplier, nation, region,
    tpch_config, tpch_text CASCADE;
DROP FUNCTION IF EXISTS tpch_gen_orders(bigint, bigint);
RESET client_min_messages;

-- tpch_h(k, s): a non-negative 63-bit hash of key k for column s.
CREATE OR REPLACE FUNCTION tpch_h(k bigint, s int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN hashint8extended(k, s) & 9223372036854775807;

-- tpch_rnd(k, s, lo, hi): an integer in [lo, hi] drawn by the hash of (k, s).
CREATE OR REPLACE FUNCTION tpch_rnd(k bigint, s int, lo bigint, hi bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN lo + (hashint8extended(k, s) & 9223372036854775807) % (hi - lo + 1);

-- tpch_okey(i): the order key of the i-th order (1-based): the spec's sparse
-- keys, the first 8 of every 32.
CREATE OR REPLACE FUNCTION tpch_okey(i bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ((i - 1) / 8) * 32 + (i - 1) % 8 + 1;

CREATE TABLE tpch_config AS
SELECT :sf::numeric AS sf,
       greatest(1, round(:sf::numeric * 10000))::int AS n_supp,
       greatest(1, round(:sf::numeric * 150000))::int AS n_cust,
       greatest(1, round(:sf::numeric * 200000))::int AS n_part,
       greatest(1, round(:sf::numeric * 1500000))::bigint AS n_orders,
       greatest(1, round(:sf::numeric * 1000))::int AS n_clerk,
       greatest(1, round(:sf::numeric * 1500))::int AS n_refresh;

-- ---- the sentence pool for comments ----------------------------------------
-- tpch_words('w1:n1 w2 ...'): the words, each repeated by its weight (1 when
-- none is given; '_' stands for a space), as dbgen weighs its word lists.
CREATE OR REPLACE FUNCTION tpch_words(spec text) RETURNS text[]
LANGUAGE sql IMMUTABLE
RETURN (SELECT array_agg(replace(split_part(item, ':', 1), '_', ' ') ORDER BY ord, rep)
        FROM regexp_split_to_table(spec, ' +') WITH ORDINALITY AS t(item, ord),
             generate_series(1, coalesce(nullif(split_part(item, ':', 2), '')::int, 1)) rep
        WHERE item <> '');

-- dbgen's grammar, shortened: a sentence is a noun phrase, a verb phrase, a
-- prepositional phrase or a second noun phrase, and a terminator.
CREATE TABLE tpch_text (id int PRIMARY KEY, txt text NOT NULL);
INSERT INTO tpch_text
SELECT id, string_agg(sentence, ' ' ORDER BY s)
FROM (
    SELECT id, s,
           -- noun phrase
           CASE tpch_h(k, 1) % 4
               WHEN 0 THEN ''
               WHEN 1 THEN w.adj[1 + tpch_h(k, 2) % w.nadj] || ' '
               WHEN 2 THEN w.adj[1 + tpch_h(k, 2) % w.nadj] || ', ' || w.adj[1 + tpch_h(k, 3) % w.nadj] || ' '
               ELSE w.adv[1 + tpch_h(k, 4) % w.nadv] || ' ' || w.adj[1 + tpch_h(k, 2) % w.nadj] || ' '
           END || w.noun[1 + tpch_h(k, 5) % w.nnoun] || ' ' ||
           -- verb phrase
           CASE WHEN tpch_h(k, 6) % 2 = 0 THEN w.aux[1 + tpch_h(k, 7) % w.naux] || ' ' ELSE '' END ||
           w.verb[1 + tpch_h(k, 8) % w.nverb] ||
           CASE WHEN tpch_h(k, 9) % 2 = 0 THEN ' ' || w.adv[1 + tpch_h(k, 10) % w.nadv] ELSE '' END ||
           -- a prepositional phrase or an object
           CASE tpch_h(k, 11) % 3
               WHEN 0 THEN ' ' || w.prep[1 + tpch_h(k, 12) % w.nprep] || ' the '
                   || CASE WHEN tpch_h(k, 13) % 2 = 0 THEN w.adj[1 + tpch_h(k, 14) % w.nadj] || ' ' ELSE '' END
                   || w.noun[1 + tpch_h(k, 15) % w.nnoun]
               WHEN 1 THEN ' ' || CASE WHEN tpch_h(k, 13) % 2 = 0 THEN w.adj[1 + tpch_h(k, 14) % w.nadj] || ' ' ELSE '' END
                   || w.noun[1 + tpch_h(k, 15) % w.nnoun]
               ELSE ''
           END ||
           w.term[1 + tpch_h(k, 16) % w.nterm] AS sentence
    FROM generate_series(0, 9999) id,
         generate_series(1, 6) s,
         LATERAL (SELECT id::bigint * 16 + s AS k) kk,
         (SELECT noun, cardinality(noun) AS nnoun, verb, cardinality(verb) AS nverb,
                 adj, cardinality(adj) AS nadj, adv, cardinality(adv) AS nadv,
                 prep, cardinality(prep) AS nprep, aux, cardinality(aux) AS naux,
                 term, cardinality(term) AS nterm
          FROM (SELECT
            tpch_words('packages:40 requests:40 accounts:40 deposits:40 foxes:20 ideas:20 theodolites:20 '
                'pinto_beans:20 instructions:20 dependencies:10 excuses:10 platelets:10 asymptotes:10 '
                'courts:5 dolphins:5 multipliers sauternes warthogs frets dinos attainments somas '
                'Tiresias patterns forges braids hockey_players frays warhorses dugouts notornis '
                'epitaphs pearls tithes waters orbits gifts sheaves depths sentiments decoys realms '
                'pains grouches escapades') AS noun,
            tpch_words('sleep:20 wake:20 are:20 cajole:20 haggle:20 nag:10 use:10 boost:10 affix:5 '
                'detect:5 integrate:5 maintain nod was lose sublate solve thrash promise engage hinder '
                'print x-ray breach eat grow impress mold poach serve run dazzle snooze doze unwind '
                'kindle play hang believe doubt') AS verb,
            tpch_words('special:20 pending:20 unusual:20 express:20 furious sly careful blithe quick '
                'fluffy slow quiet ruthless thin close dogged daring brave stealthy permanent '
                'enticing idle busy regular:50 final:40 ironic:40 even:30 bold:20 silent:10') AS adj,
            tpch_words('sometimes always never furiously:50 slyly:50 carefully:50 blithely:40 '
                'quickly:30 fluffily:20 slowly quietly ruthlessly thinly closely doggedly daringly '
                'bravely stealthily permanently enticingly idly busily regularly finally ironically '
                'evenly boldly silently') AS adv,
            tpch_words('about:50 above:50 according_to:50 across:50 after:50 against:40 along:40 '
                'alongside_of:30 among:30 around:20 at:10 atop before behind beneath beside besides '
                'between beyond by despite during except for from in_place_of inside instead_of '
                'into near of on outside over past since through throughout to toward under until '
                'up upon without with within') AS prep,
            tpch_words('do:1 may:1 might:1 shall:1 will:1 would:1 can:1 could:1 should:1 ought_to:1 '
                'must:1 will_have_to:1 shall_have_to:1 could_have_to:1 should_have_to:1 '
                'must_have_to:1 need_to:1 try_to:1') AS aux,
            tpch_words('.:50') || ARRAY[';', ':', '?', '!', '--'] AS term) lists) w
) sentences
GROUP BY id;
ANALYZE tpch_config, tpch_text;

-- tpch_comment-like cuts: substr(txt, 1 + h % 60, len).  The pool sentences
-- are 6 grammar sentences, 250-450 characters, so every cut is full.

-- ---- region and nation (clause 4.2.3: fixed rows) ---------------------------
CREATE TABLE region (
    r_regionkey integer NOT NULL,
    r_name      char(25) NOT NULL,
    r_comment   varchar(152)
);
INSERT INTO region
SELECT k, name, substr(t.txt, (1 + tpch_h(k, 3) % 60)::int, tpch_rnd(k, 4, 31, 115)::int)
FROM (VALUES (0, 'AFRICA'), (1, 'AMERICA'), (2, 'ASIA'), (3, 'EUROPE'), (4, 'MIDDLE EAST')) r(k, name)
JOIN tpch_text t ON t.id = tpch_h(k + 1000000000, 2) % 10000;

CREATE TABLE nation (
    n_nationkey integer NOT NULL,
    n_name      char(25) NOT NULL,
    n_regionkey integer NOT NULL,
    n_comment   varchar(152)
);
INSERT INTO nation
SELECT k, name, rk, substr(t.txt, (1 + tpch_h(k, 3) % 60)::int, tpch_rnd(k, 4, 31, 114)::int)
FROM (VALUES (0, 'ALGERIA', 0), (1, 'ARGENTINA', 1), (2, 'BRAZIL', 1), (3, 'CANADA', 1),
             (4, 'EGYPT', 4), (5, 'ETHIOPIA', 0), (6, 'FRANCE', 3), (7, 'GERMANY', 3),
             (8, 'INDIA', 2), (9, 'INDONESIA', 2), (10, 'IRAN', 4), (11, 'IRAQ', 4),
             (12, 'JAPAN', 2), (13, 'JORDAN', 4), (14, 'KENYA', 0), (15, 'MOROCCO', 0),
             (16, 'MOZAMBIQUE', 0), (17, 'PERU', 1), (18, 'CHINA', 2), (19, 'ROMANIA', 3),
             (20, 'SAUDI ARABIA', 4), (21, 'VIETNAM', 2), (22, 'RUSSIA', 3),
             (23, 'UNITED KINGDOM', 3), (24, 'UNITED STATES', 1)) n(k, name, rk)
JOIN tpch_text t ON t.id = tpch_h(k + 2000000000, 2) % 10000;

-- ---- supplier ---------------------------------------------------------------
CREATE TABLE supplier (
    s_suppkey   integer NOT NULL,
    s_name      char(25) NOT NULL,
    s_address   varchar(40) NOT NULL,
    s_nationkey integer NOT NULL,
    s_phone     char(15) NOT NULL,
    s_acctbal   numeric(15, 2) NOT NULL,
    s_comment   varchar(101) NOT NULL
);
INSERT INTO supplier
SELECT k,
       'Supplier#' || lpad(k::text, 9, '0'),
       left(md5(k || 'sa') || md5(k || 'sb'), tpch_rnd(k, 1, 10, 40)::int),
       nk,
       (nk + 10) || '-' || tpch_rnd(k, 3, 100, 999) || '-' || tpch_rnd(k, 4, 100, 999) || '-'
           || tpch_rnd(k, 5, 1000, 9999),
       tpch_rnd(k, 6, -99999, 999999) / 100.0,
       CASE (k - 1) % 2000
           WHEN 7 THEN left(left(c, 30) || 'Customer ' || substr(c, 31, 12) || 'Complaints ' || substr(c, 43), len)
           WHEN 1007 THEN left(left(c, 30) || 'Customer ' || substr(c, 31, 12) || 'Recommends ' || substr(c, 43), len)
           ELSE left(c, len)
       END
FROM (SELECT k, tpch_rnd(k, 2, 0, 24)::int AS nk, tpch_rnd(k, 8, 25, 100)::int AS len,
             substr(t.txt, (1 + tpch_h(k, 9) % 60)::int, 120) AS c
      FROM generate_series(1, (SELECT n_supp FROM tpch_config)) k
      JOIN tpch_text t ON t.id = tpch_h(k + 3000000000, 7) % 10000) s;

-- ---- customer ---------------------------------------------------------------
CREATE TABLE customer (
    c_custkey    integer NOT NULL,
    c_name       varchar(25) NOT NULL,
    c_address    varchar(40) NOT NULL,
    c_nationkey  integer NOT NULL,
    c_phone      char(15) NOT NULL,
    c_acctbal    numeric(15, 2) NOT NULL,
    c_mktsegment char(10) NOT NULL,
    c_comment    varchar(117) NOT NULL
);
INSERT INTO customer
SELECT k,
       'Customer#' || lpad(k::text, 9, '0'),
       left(md5(k || 'ca') || md5(k || 'cb'), tpch_rnd(k, 21, 10, 40)::int),
       nk,
       (nk + 10) || '-' || tpch_rnd(k, 23, 100, 999) || '-' || tpch_rnd(k, 24, 100, 999) || '-'
           || tpch_rnd(k, 25, 1000, 9999),
       tpch_rnd(k, 26, -99999, 999999) / 100.0,
       (ARRAY['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'MACHINERY', 'HOUSEHOLD'])[1 + tpch_h(k, 27) % 5],
       substr(t.txt, (1 + tpch_h(k, 28) % 60)::int, tpch_rnd(k, 29, 29, 116)::int)
FROM (SELECT k, tpch_rnd(k, 22, 0, 24)::int AS nk
      FROM generate_series(1, (SELECT n_cust FROM tpch_config)) k) c
JOIN tpch_text t ON t.id = tpch_h(k + 4000000000, 10) % 10000;

-- ---- part and partsupp -------------------------------------------------------
CREATE TABLE part (
    p_partkey     integer NOT NULL,
    p_name        varchar(55) NOT NULL,
    p_mfgr        char(25) NOT NULL,
    p_brand       char(10) NOT NULL,
    p_type        varchar(25) NOT NULL,
    p_size        integer NOT NULL,
    p_container   char(10) NOT NULL,
    p_retailprice numeric(15, 2) NOT NULL,
    p_comment     varchar(23) NOT NULL
);
-- p_name: five distinct colours of the 92, c0 + i*d (mod 92) for i = 0..4,
-- d odd and not a multiple of 23, hence prime to 92.
INSERT INTO part
SELECT k,
       (SELECT string_agg(col[1 + (c0 + i * d) % 92], ' ' ORDER BY i) FROM generate_series(0, 4) i),
       'Manufacturer#' || m,
       'Brand#' || m || tpch_rnd(k, 3, 1, 5),
       (ARRAY['STANDARD', 'SMALL', 'MEDIUM', 'LARGE', 'ECONOMY', 'PROMO'])[1 + tpch_h(k, 4) % 6] || ' ' ||
       (ARRAY['ANODIZED', 'BURNISHED', 'PLATED', 'POLISHED', 'BRUSHED'])[1 + tpch_h(k, 5) % 5] || ' ' ||
       (ARRAY['TIN', 'NICKEL', 'BRASS', 'STEEL', 'COPPER'])[1 + tpch_h(k, 6) % 5],
       tpch_rnd(k, 7, 1, 50),
       (ARRAY['SM', 'LG', 'MED', 'JUMBO', 'WRAP'])[1 + tpch_h(k, 8) % 5] || ' ' ||
       (ARRAY['CASE', 'BOX', 'BAG', 'JAR', 'PKG', 'PACK', 'CAN', 'DRUM'])[1 + tpch_h(k, 9) % 8],
       (90000 + ((k / 10) % 20001) + 100 * (k % 1000)) / 100.0,
       substr(t.txt, (1 + tpch_h(k, 10) % 60)::int, tpch_rnd(k, 11, 5, 22)::int)
FROM (SELECT k, tpch_rnd(k, 2, 1, 5) AS m, tpch_h(k, 12) % 92 AS c0,
             CASE WHEN 1 + 2 * (tpch_h(k, 13) % 46) IN (23, 69) THEN 3 + 2 * (tpch_h(k, 13) % 46)
                  ELSE 1 + 2 * (tpch_h(k, 13) % 46) END AS d
      FROM generate_series(1, (SELECT n_part FROM tpch_config)) k) p
JOIN tpch_text t ON t.id = tpch_h(k + 5000000000, 14) % 10000
CROSS JOIN (SELECT ARRAY['almond', 'antique', 'aquamarine', 'azure', 'beige', 'bisque', 'black',
        'blanched', 'blue', 'blush', 'brown', 'burlywood', 'burnished', 'chartreuse', 'chiffon',
        'chocolate', 'coral', 'cornflower', 'cornsilk', 'cream', 'cyan', 'dark', 'deep', 'dim',
        'dodger', 'drab', 'firebrick', 'floral', 'forest', 'frosted', 'gainsboro', 'ghost',
        'goldenrod', 'green', 'grey', 'honeydew', 'hot', 'indian', 'ivory', 'khaki', 'lace',
        'lavender', 'lawn', 'lemon', 'light', 'lime', 'linen', 'magenta', 'maroon', 'medium',
        'metallic', 'midnight', 'mint', 'misty', 'moccasin', 'navajo', 'navy', 'olive', 'orange',
        'orchid', 'pale', 'papaya', 'peach', 'peru', 'pink', 'plum', 'powder', 'puff', 'purple',
        'red', 'rose', 'rosy', 'royal', 'saddle', 'salmon', 'sandy', 'seashell', 'sienna', 'sky',
        'slate', 'smoke', 'snow', 'spring', 'steel', 'tan', 'thistle', 'tomato', 'turquoise',
        'violet', 'wheat', 'white', 'yellow'] AS col) colours;

CREATE TABLE partsupp (
    ps_partkey    integer NOT NULL,
    ps_suppkey    integer NOT NULL,
    ps_availqty   integer NOT NULL,
    ps_supplycost numeric(15, 2) NOT NULL,
    ps_comment    varchar(199) NOT NULL
);
-- The spec's suppliers of part p: (p + i * (S/4 + (p-1)/S)) mod S + 1, i = 0..3.
INSERT INTO partsupp
SELECT p, (p + i * (c.n_supp / 4 + (p - 1) / c.n_supp)) % c.n_supp + 1,
       tpch_rnd(p * 4 + i, 1, 1, 9999),
       tpch_rnd(p * 4 + i, 2, 100, 100000) / 100.0,
       left(substr(t1.txt, (1 + tpch_h(p * 4 + i, 3) % 60)::int) || ' ' || t2.txt, tpch_rnd(p * 4 + i, 4, 49, 198)::int)
FROM (SELECT p, i, c.n_supp FROM tpch_config c, generate_series(1, c.n_part) p,
                                  generate_series(0, 3) i) c
JOIN tpch_text t1 ON t1.id = tpch_h(p * 4 + i, 5) % 10000
JOIN tpch_text t2 ON t2.id = tpch_h(p * 4 + i, 6) % 10000;

-- ---- orders and lineitem -----------------------------------------------------
CREATE TABLE orders (
    o_orderkey      integer NOT NULL,
    o_custkey       integer NOT NULL,
    o_orderstatus   char(1) NOT NULL,
    o_totalprice    numeric(15, 2) NOT NULL,
    o_orderdate     date NOT NULL,
    o_orderpriority char(15) NOT NULL,
    o_clerk         char(15) NOT NULL,
    o_shippriority  integer NOT NULL,
    o_comment       varchar(79) NOT NULL
);
CREATE TABLE lineitem (
    l_orderkey      integer NOT NULL,
    l_partkey       integer NOT NULL,
    l_suppkey       integer NOT NULL,
    l_linenumber    integer NOT NULL,
    l_quantity      numeric(15, 2) NOT NULL,
    l_extendedprice numeric(15, 2) NOT NULL,
    l_discount      numeric(15, 2) NOT NULL,
    l_tax           numeric(15, 2) NOT NULL,
    l_returnflag    char(1) NOT NULL,
    l_linestatus    char(1) NOT NULL,
    l_shipdate      date NOT NULL,
    l_commitdate    date NOT NULL,
    l_receiptdate   date NOT NULL,
    l_shipinstruct  char(25) NOT NULL,
    l_shipmode      char(10) NOT NULL,
    l_comment       varchar(44) NOT NULL
);

-- tpch_gen_orders(lo, hi): insert the orders of indexes lo..hi (order keys
-- tpch_okey(lo..hi)) with their lineitems; returns the number of orders.
-- Every value is a hash of the order key (and line number), so the i-th
-- order is the same whenever it is made.  One statement: the lines are made
-- once (a CTE), inserted, and summed into o_totalprice and o_orderstatus.
-- Without JIT: the planner cannot know how many rows generate_series gives,
-- and compiling the plan took 0.75 s of a 0.77 s RF1 at SF 0.1.
CREATE FUNCTION tpch_gen_orders(lo bigint, hi bigint) RETURNS bigint
LANGUAGE sql
SET jit = off
AS $fn$
WITH o AS (
    SELECT k AS okey,
           (SELECT CASE WHEN ck % 3 = 0 THEN ck - 1 ELSE ck END
              FROM (SELECT tpch_rnd(k, 1, 1, c.n_cust) AS ck) x) AS custkey,
           date '1992-01-01' + tpch_rnd(k, 2, 0, date '1998-08-02' - date '1992-01-01')::int AS odate,
           (ARRAY['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'])[1 + tpch_h(k, 3) % 5] AS prio,
           'Clerk#' || lpad(tpch_rnd(k, 4, 1, c.n_clerk)::text, 9, '0') AS clerk,
           tpch_rnd(k, 5, 1, 7)::int AS nlines,
           substr(t.txt, (1 + tpch_h(k, 6) % 60)::int, tpch_rnd(k, 7, 19, 78)::int) AS ocomment,
           c.n_part, c.n_supp
    FROM tpch_config c,
         LATERAL (SELECT tpch_okey(i) AS k FROM generate_series(lo, hi) i) keys,
         tpch_text t
    WHERE t.id = tpch_h(k, 8) % 10000
),
l AS (
    SELECT o.okey, n, pk,
           (pk + tpch_rnd(lk, 2, 0, 3) * (o.n_supp / 4 + (pk - 1) / o.n_supp)) % o.n_supp + 1 AS sk,
           qty,
           qty * (90000 + ((pk / 10) % 20001) + 100 * (pk % 1000)) / 100.0 AS price,
           tpch_rnd(lk, 4, 0, 10) / 100.0 AS disc,
           tpch_rnd(lk, 5, 0, 8) / 100.0 AS tax,
           ship, o.odate + tpch_rnd(lk, 6, 30, 90)::int AS commitd, receipt,
           CASE WHEN receipt <= date '1995-06-17'
                THEN CASE WHEN tpch_h(lk, 7) % 2 = 0 THEN 'R' ELSE 'A' END
                ELSE 'N' END AS rflag,
           CASE WHEN ship > date '1995-06-17' THEN 'O' ELSE 'F' END AS lstatus,
           (ARRAY['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'])[1 + tpch_h(lk, 8) % 4] AS instr,
           (ARRAY['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'])[1 + tpch_h(lk, 9) % 7] AS mode,
           substr(t.txt, (1 + tpch_h(lk, 10) % 60)::int, tpch_rnd(lk, 11, 10, 43)::int) AS lcomment
    FROM o,
         LATERAL generate_series(1, o.nlines) n,
         LATERAL (SELECT o.okey * 8 + n AS lk) lkey,
         LATERAL (SELECT tpch_rnd(lk, 1, 1, o.n_part) AS pk, tpch_rnd(lk, 3, 1, 50) AS qty,
                         o.odate + tpch_rnd(lk, 12, 1, 121)::int AS ship) a,
         LATERAL (SELECT ship + tpch_rnd(lk, 13, 1, 30)::int AS receipt) b,
         tpch_text t
    WHERE t.id = tpch_h(lk, 14) % 10000
),
li AS (
    INSERT INTO lineitem
    SELECT okey, pk, sk, n, qty, price, disc, tax, rflag, lstatus, ship, commitd, receipt,
           instr, mode, lcomment
    FROM l
),
tot AS (
    SELECT okey, round(sum(price * (1 + tax) * (1 - disc)), 2) AS total,
           CASE WHEN bool_and(lstatus = 'F') THEN 'F' WHEN bool_and(lstatus = 'O') THEN 'O' ELSE 'P' END AS status
    FROM l GROUP BY okey
),
oi AS (
    INSERT INTO orders
    SELECT o.okey, o.custkey, tot.status, tot.total, o.odate, o.prio, o.clerk, 0, o.ocomment
    FROM o JOIN tot USING (okey)
    RETURNING 1
)
SELECT count(*) FROM oi
$fn$;

SELECT tpch_gen_orders(1, n_orders) AS orders_loaded FROM tpch_config;

-- ---- keys and the indexes on foreign keys -------------------------------------
ALTER TABLE region ADD PRIMARY KEY (r_regionkey);
ALTER TABLE nation ADD PRIMARY KEY (n_nationkey);
ALTER TABLE supplier ADD PRIMARY KEY (s_suppkey);
ALTER TABLE customer ADD PRIMARY KEY (c_custkey);
ALTER TABLE part ADD PRIMARY KEY (p_partkey);
ALTER TABLE partsupp ADD PRIMARY KEY (ps_partkey, ps_suppkey);
ALTER TABLE orders ADD PRIMARY KEY (o_orderkey);
ALTER TABLE lineitem ADD PRIMARY KEY (l_orderkey, l_linenumber);
CREATE INDEX ON nation (n_regionkey);
CREATE INDEX ON supplier (s_nationkey);
CREATE INDEX ON customer (c_nationkey);
CREATE INDEX ON partsupp (ps_suppkey);
CREATE INDEX ON orders (o_custkey);
CREATE INDEX ON lineitem (l_partkey, l_suppkey);
CREATE INDEX ON lineitem (l_suppkey);
VACUUM ANALYZE region, nation, supplier, customer, part, partsupp, orders, lineitem;
