/* ivm--0.1.0.sql: catalog, SQL surface and event triggers of the ivm extension */

\echo Use "CREATE EXTENSION ivm" to load this file. \quit

------------------------------------------------------------------------------
-- Catalog.  Every table here belongs to the extension; users read it through
-- the views further down.  Only the extension's own functions write it.
------------------------------------------------------------------------------

-- One row: the epoch of the last tick.  Ticks lock this row (the step lock).
-- It also keeps the counters of the ticks that committed (ivm.stats).
CREATE TABLE ivm._state (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    epoch       bigint NOT NULL DEFAULT 0,
    ticks_total             bigint NOT NULL DEFAULT 0,
    rows_in_total           bigint NOT NULL DEFAULT 0,
    rows_out_total          bigint NOT NULL DEFAULT 0,
    views_recomputed_total  bigint NOT NULL DEFAULT 0,
    tick_duration_us_sum    bigint NOT NULL DEFAULT 0
);
INSERT INTO ivm._state DEFAULT VALUES;

-- Counters written outside ticks (dedup), one row each once it is non-zero.
CREATE TABLE ivm._counters (
    name        text PRIMARY KEY,
    value       bigint NOT NULL
);

-- One row per incremental view.
CREATE TABLE ivm._views (
    id              serial PRIMARY KEY,
    viewrel         regclass NOT NULL UNIQUE,   -- the view users read
    storagerel      regclass NOT NULL UNIQUE,   -- the table holding its rows
    defrel          regclass NOT NULL UNIQUE,   -- ordinary view holding its query
    mode            text NOT NULL CHECK (mode IN ('auto', 'incremental', 'diff')),
    strategy        text NOT NULL,              -- what maintains it
    strategy_reason text NOT NULL,
    options         jsonb NOT NULL DEFAULT '{}',
    level           integer NOT NULL,           -- 0 if it reads only tables
    needs_recompute boolean NOT NULL DEFAULT false,
    populated       boolean NOT NULL DEFAULT true,
    rows            bigint NOT NULL DEFAULT 0,  -- rows stored after the last fill
    size            bigint NOT NULL DEFAULT 0,  -- what ivm.fallback_ratio compares a delta with:
                                                -- rows, or for an aggregate the rows it aggregates
    last_epoch      bigint,
    last_duration_ms double precision,
    state           text NOT NULL DEFAULT 'ok',
    parent_id       integer                     -- a hidden view: the view it serves
);

-- One row per captured table: its delta log and the capture triggers.  A push
-- source (kind 'push') is a table only ivm writes, from batches.
CREATE TABLE ivm._sources (
    id          serial PRIMARY KEY,
    relid       regclass NOT NULL UNIQUE,
    logrel      regclass NOT NULL UNIQUE,
    kind        text NOT NULL DEFAULT 'table' CHECK (kind IN ('table', 'push')),
    dedup       boolean NOT NULL DEFAULT false,
    dedup_entries bigint NOT NULL DEFAULT 0      -- rows of ivm._seen for it
);

-- The seen-set of push sources with dedup: content hashes of batches applied,
-- oldest (lowest seq) evicted first.
CREATE TABLE ivm._seen (
    source_id   integer NOT NULL REFERENCES ivm._sources (id) ON DELETE CASCADE,
    hash        uuid NOT NULL,
    seq         bigserial,
    PRIMARY KEY (source_id, hash)
);
CREATE INDEX ON ivm._seen (source_id, seq);

-- DAG edges: view_id reads source (a captured table or another view).
CREATE TABLE ivm._deps (
    view_id         integer NOT NULL REFERENCES ivm._views (id) ON DELETE CASCADE,
    source          regclass NOT NULL,
    source_view_id  integer REFERENCES ivm._views (id) ON DELETE CASCADE,
    PRIMARY KEY (view_id, source)
);

-- A TRUNCATE of a captured table: its dependants are recomputed at the next tick.
CREATE TABLE ivm._truncated (
    relid       regclass NOT NULL
);

-- Per tick and maintained view: what was done and what it cost.
CREATE TABLE ivm._evidence (
    epoch       bigint NOT NULL,
    view_id     integer NOT NULL,
    view_name   text NOT NULL,
    strategy    text NOT NULL,
    delta_in    bigint NOT NULL,
    delta_out   bigint NOT NULL,
    view_rows   bigint NOT NULL,
    duration_us bigint NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON ivm._evidence (epoch);

-- The error of each quarantined view (state 'failed' in ivm._views): its
-- message may quote row values, so only the view's owner reads it, through
-- ivm.views.  A view maintained again loses its row here.
CREATE TABLE ivm._view_errors (
    view_id     integer PRIMARY KEY REFERENCES ivm._views (id) ON DELETE CASCADE,
    epoch       bigint NOT NULL,
    sqlstate    text NOT NULL,
    message     text NOT NULL,
    detail      text,
    hint        text,
    context     text,
    failed_at   timestamptz NOT NULL DEFAULT now()
);

-- Watched views and their channels: one view per channel.  watcher is the
-- role whose ivm.watch() made the watch (NULL after a checkpoint restore): it
-- and the view's owner may unwatch.
CREATE TABLE ivm._watches (
    view_id     integer PRIMARY KEY REFERENCES ivm._views (id) ON DELETE CASCADE,
    channel     text NOT NULL UNIQUE,
    watcher     regrole
);

-- Change log of watched views, read by ivm.changes().
CREATE TABLE ivm._changes (
    view_id     integer NOT NULL REFERENCES ivm._views (id) ON DELETE CASCADE,
    epoch       bigint NOT NULL,
    _weight     bigint NOT NULL,
    row         jsonb NOT NULL
);
CREATE INDEX ON ivm._changes (view_id, epoch);

REVOKE ALL ON ALL TABLES IN SCHEMA ivm FROM PUBLIC;

------------------------------------------------------------------------------
-- Functions written in C.
------------------------------------------------------------------------------

CREATE FUNCTION ivm.create_view(name text, query text, options jsonb DEFAULT '{}')
RETURNS regclass
AS 'MODULE_PATHNAME', 'ivm_create_view'
LANGUAGE C VOLATILE;

CREATE FUNCTION ivm.tick(
    OUT epoch bigint, OUT rows_in bigint, OUT rows_out bigint,
    OUT views_processed integer, OUT views_skipped integer,
    OUT views_recomputed integer, OUT duration_ms double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'ivm_tick'
LANGUAGE C VOLATILE STRICT;

-- The hash of a row as the diff strategy computes it (XXH3, 64 bits).
CREATE FUNCTION ivm.row_hash(record)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ivm_row_hash'
LANGUAGE C IMMUTABLE STRICT;

-- The hash of a group key, consistent with the types' equality (1.0 and
-- 1.00 hash alike); kept per group of an aggregate view and indexed.
CREATE FUNCTION ivm.key_hash(VARIADIC "any")
RETURNS bigint
AS 'MODULE_PATHNAME', 'ivm_key_hash'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Per group of an aggregate view, for each sum or avg of numeric: how many
-- inputs are NaN, +Infinity, -Infinity, and of each display scale (a
-- bigint[]: those three, then scale 0, 1, ...).  With the running sum of
-- the finite inputs, ivm.numeric_sum_of() and ivm.numeric_avg_of() give
-- exactly what sum() and avg() give, however inputs come and go.
CREATE FUNCTION ivm.numeric_counts_acc(internal, numeric, bigint)
RETURNS internal
AS 'MODULE_PATHNAME', 'ivm_numeric_counts_acc'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION ivm.numeric_counts_final(internal)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'ivm_numeric_counts_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE ivm.numeric_counts(numeric, bigint) (
    SFUNC = ivm.numeric_counts_acc,
    STYPE = internal,
    FINALFUNC = ivm.numeric_counts_final
);

CREATE FUNCTION ivm.numeric_counts_add(bigint[], bigint[])
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'ivm_numeric_counts_add'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION ivm.numeric_sum_of(numeric, bigint[])
RETURNS numeric
AS 'MODULE_PATHNAME', 'ivm_numeric_sum_of'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION ivm.numeric_finite_sum(numeric, bigint[])
RETURNS numeric
AS 'MODULE_PATHNAME', 'ivm_numeric_finite_sum'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION ivm.numeric_avg_of(numeric, bigint, bigint[])
RETURNS numeric
AS 'MODULE_PATHNAME', 'ivm_numeric_avg_of'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Distances between embeddings (vector views): smaller is nearer.
CREATE FUNCTION ivm.l2_distance(a real[], b real[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'ivm_l2_distance'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION ivm.cosine_distance(a real[], b real[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'ivm_cosine_distance'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- minus the inner product, as pgvector's <#>
CREATE FUNCTION ivm.inner_product(a real[], b real[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'ivm_inner_product'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The query of a vector view: the k rows of source whose column is nearest
-- to query, (id, distance, payload...), ordered by distance then id, as an
-- ORDER BY ... LIMIT with names quoted and the vector as a literal.
CREATE FUNCTION ivm.vector_view_query(source regclass, "column" text, query real[],
                                      k integer DEFAULT 10, metric text DEFAULT 'l2',
                                      payload text[] DEFAULT '{}', id text DEFAULT 'id')
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 1   -- the vector's literal reads back exactly
AS $f$
DECLARE
    fn text;
    sel text;
    c text;
    t regtype;
BEGIN
    IF source IS NULL OR "column" IS NULL OR query IS NULL OR k IS NULL
       OR metric IS NULL OR payload IS NULL OR id IS NULL THEN
        RAISE EXCEPTION 'arguments of a vector view must not be null'
            USING ERRCODE = '22004', HINT = 'Give the view''s name, its source, the vector column and the query vector; k, metric, payload and id have defaults.';
    END IF;
    fn := CASE metric WHEN 'l2' THEN 'ivm.l2_distance' WHEN 'cosine' THEN 'ivm.cosine_distance'
                      WHEN 'ip' THEN 'ivm.inner_product' END;
    IF fn IS NULL THEN
        RAISE EXCEPTION 'invalid value for metric: %', quote_literal(metric)
            USING ERRCODE = '22023', HINT = 'Valid values are "l2", "cosine" and "ip".';
    END IF;
    IF k < 1 THEN
        RAISE EXCEPTION 'k must be at least 1, not %', k USING ERRCODE = '22023';
    END IF;
    -- every column named exists; the vector column is real[]
    FOREACH c IN ARRAY ARRAY["column", id] || payload LOOP
        SELECT a.atttypid::regtype INTO t FROM pg_attribute a
         WHERE a.attrelid = source AND a.attname = c AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of relation % does not exist', c, source
                USING ERRCODE = '42703', HINT = 'Name the vector column, the id column and the payload columns of the source.';
        END IF;
        IF c = "column" AND t <> 'real[]'::regtype THEN
            RAISE EXCEPTION 'column "%" of relation % is %, not real[]', c, source, t
                USING ERRCODE = '42804', HINT = 'Keep embeddings as real[] (float4[]), or write the view''s query yourself with a cast.';
        END IF;
    END LOOP;
    IF 'distance' = ANY (ARRAY[id] || payload) OR array_length(payload, 1) <> (SELECT count(DISTINCT p) FROM unnest(payload) p)
       OR id = ANY (payload) THEN
        RAISE EXCEPTION 'the columns of a vector view must have distinct names, and none "distance"'
            USING ERRCODE = '42701', HINT = 'The view''s columns are the id, "distance", then the payload columns.';
    END IF;
    -- the query vector itself: one dimension, no NULL, not zero under cosine
    EXECUTE format('SELECT %s($1, $1)', fn) USING query;
    sel := format('%I, %s(%I, %L::real[]) AS distance', id, fn, "column", query::text);
    FOREACH c IN ARRAY payload LOOP
        sel := sel || format(', %I', c);
    END LOOP;
    RETURN format('SELECT %s FROM %s ORDER BY distance, %I LIMIT %s', sel, source, id, k);
END
$f$;

-- A vector view: ivm.create_view of that query, named in the caller's
-- search_path, as the caller.
CREATE FUNCTION ivm.create_vector_view(name text, source regclass, "column" text, query real[],
                                       k integer DEFAULT 10, metric text DEFAULT 'l2',
                                       payload text[] DEFAULT '{}', id text DEFAULT 'id')
RETURNS regclass
LANGUAGE sql
AS $f$
SELECT ivm.create_view(name, ivm.vector_view_query(source, "column", query, k, metric, payload, id))
$f$;

-- Statements this backend prepared, and ran again on a kept plan.
CREATE FUNCTION ivm._plan_stats(OUT prepared bigint, OUT reused bigint)
AS 'MODULE_PATHNAME', 'ivm_plan_stats'
LANGUAGE C VOLATILE;

-- Recompute one view now (REFRESH MATERIALIZED VIEW calls this too).
CREATE FUNCTION ivm.refresh(view regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'ivm_refresh'
LANGUAGE C VOLATILE;

CREATE FUNCTION ivm._capture()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ivm_capture'
LANGUAGE C;

CREATE FUNCTION ivm._refuse_write()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ivm_refuse_write'
LANGUAGE C;

-- Push sources.
CREATE FUNCTION ivm.create_source(name text, columns text)
RETURNS regclass
AS 'MODULE_PATHNAME', 'ivm_create_source'
LANGUAGE C VOLATILE;

CREATE FUNCTION ivm.push(source regclass, batch jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ivm_push'
LANGUAGE C VOLATILE;

CREATE FUNCTION ivm.tick(
    source regclass, batch jsonb,
    OUT epoch bigint, OUT rows_in bigint, OUT rows_out bigint,
    OUT views_processed integer, OUT views_skipped integer,
    OUT views_recomputed integer, OUT duration_ms double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'ivm_tick_batch'
LANGUAGE C VOLATILE;

CREATE FUNCTION ivm.set_dedup(source regclass, enabled boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'ivm_set_dedup'
LANGUAGE C VOLATILE;

-- The whole state as one SQL file that psql -f restores into an empty database.
CREATE FUNCTION ivm.checkpoint_full(path text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ivm_checkpoint_full'
LANGUAGE C VOLATILE;

CREATE FUNCTION ivm._guard_storage()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ivm_guard_storage'
LANGUAGE C;

CREATE FUNCTION ivm._check_preloaded()
RETURNS void
AS 'MODULE_PATHNAME', 'ivm_check_preloaded'
LANGUAGE C;

------------------------------------------------------------------------------
-- Functions written in SQL.
------------------------------------------------------------------------------

CREATE FUNCTION ivm.drop_view(view regclass, cascade boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM ivm._check_preloaded();
    IF view IS NULL OR cascade IS NULL THEN
        RAISE EXCEPTION 'argument "%" of ivm.drop_view must not be null',
                        CASE WHEN view IS NULL THEN 'view' ELSE 'cascade' END
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ivm._views v WHERE v.viewrel OPERATOR(pg_catalog.=) view) THEN
        RAISE EXCEPTION 'relation "%" is not an incremental view', view
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'ivm.views lists the incremental views.';
    END IF;
    -- the sql_drop event trigger removes the storage and the catalog rows
    EXECUTE format('DROP VIEW %s %s', view, CASE WHEN cascade THEN 'CASCADE' ELSE 'RESTRICT' END);
END
$$;

CREATE FUNCTION ivm.drop_source(source regclass, cascade boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM ivm._check_preloaded();
    IF source IS NULL OR cascade IS NULL THEN
        RAISE EXCEPTION 'argument "%" of ivm.drop_source must not be null',
                        CASE WHEN source IS NULL THEN 'source' ELSE 'cascade' END
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ivm._sources s
                   WHERE s.relid OPERATOR(pg_catalog.=) source AND s.kind OPERATOR(pg_catalog.=) 'push') THEN
        RAISE EXCEPTION 'relation "%" is not a push source', source
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'ivm.sources lists the push sources (kind push).';
    END IF;
    -- the sql_drop event trigger removes the log, the seen-set and the catalog rows
    EXECUTE format('DROP TABLE %s %s', source, CASE WHEN cascade THEN 'CASCADE' ELSE 'RESTRICT' END);
END
$$;

CREATE FUNCTION ivm.watch(view regclass)
RETURNS text
AS 'MODULE_PATHNAME', 'ivm_watch'
LANGUAGE C VOLATILE;

CREATE FUNCTION ivm.unwatch(view regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ivm_unwatch'
LANGUAGE C VOLATILE;

CREATE FUNCTION ivm.changes(view regclass, since_epoch bigint DEFAULT 0)
RETURNS TABLE (epoch bigint, _weight bigint, "row" jsonb)
AS 'MODULE_PATHNAME', 'ivm_changes'
LANGUAGE C STABLE;

CREATE FUNCTION ivm.explain(view regclass)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    h record;
    result text;
BEGIN
    PERFORM ivm._check_preloaded();
    IF view IS NULL THEN
        RAISE EXCEPTION 'argument "view" of ivm.explain must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO r FROM ivm._views v WHERE v.viewrel OPERATOR(pg_catalog.=) view;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation "%" is not an incremental view', view
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'ivm.views lists the incremental views.';
    END IF;
    result := format('%s: strategy %s (mode %s): %s', view, r.strategy, r.mode, r.strategy_reason);
    -- the hidden views under it, a line each, indented by depth
    FOR h IN WITH RECURSIVE tree AS (
                 SELECT c.id, c.viewrel, c.defrel, c.strategy, c.strategy_reason, 1 AS depth,
                        ARRAY[c.id] AS path
                 FROM ivm._views c WHERE c.parent_id OPERATOR(pg_catalog.=) r.id
                 UNION ALL
                 SELECT c.id, c.viewrel, c.defrel, c.strategy, c.strategy_reason, t.depth + 1,
                        t.path || c.id
                 FROM ivm._views c JOIN tree t ON c.parent_id OPERATOR(pg_catalog.=) t.id)
             SELECT * FROM tree ORDER BY path
    LOOP
        result := result || E'\n' || repeat('  ', h.depth) || format('-> hidden view %s: strategy %s: %s; its query: %s',
            h.viewrel, h.strategy, h.strategy_reason,
            regexp_replace(btrim(pg_get_viewdef(h.defrel)), '\s+', ' ', 'g'));
    END LOOP;
    RETURN result;
END
$$;

------------------------------------------------------------------------------
-- Introspection.
------------------------------------------------------------------------------

-- state is 'failed' for a quarantined view; its error (which may quote row
-- values) shows only to members of the view's owner, its SQLSTATE to all.
CREATE VIEW ivm.views WITH (security_barrier) AS
SELECT v.viewrel AS name,
       pg_get_viewdef(v.defrel) AS query,
       v.strategy,
       v.mode,
       v.rows,
       v.last_epoch,
       v.last_duration_ms,
       CASE WHEN v.state = 'failed' THEN 'failed'
            WHEN NOT v.populated THEN 'unpopulated'
            WHEN v.needs_recompute THEN 'recompute pending'
            ELSE v.state END AS state,
       v.storagerel AS storage,
       v.level,
       (SELECT w.channel FROM ivm._watches w WHERE w.view_id = v.id) AS channel,
       e.sqlstate AS error_sqlstate,
       CASE WHEN pg_catalog.pg_has_role(c.relowner, 'USAGE')
            THEN e.message
                 || coalesce(E'\nDETAIL: ' || e.detail, '')
                 || coalesce(E'\nHINT: ' || e.hint, '')
                 || coalesce(E'\nCONTEXT: ' || e.context, '')
       END AS error
FROM ivm._views v
JOIN pg_catalog.pg_class c ON c.oid = v.viewrel
LEFT JOIN ivm._view_errors e ON e.view_id = v.id
WHERE v.parent_id IS NULL;

-- The hidden views: internal views that hold the input of a view's operator
-- (the query under a top-k's ORDER BY ... LIMIT), maintained like any view.
CREATE VIEW ivm.hidden_views AS
SELECT v.viewrel AS name,
       p.viewrel AS parent,
       pg_get_viewdef(v.defrel) AS query,
       v.strategy,
       v.rows,
       v.last_epoch,
       CASE WHEN v.state = 'failed' THEN 'failed'
            WHEN NOT v.populated THEN 'unpopulated'
            WHEN v.needs_recompute THEN 'recompute pending'
            ELSE v.state END AS state,
       v.storagerel AS storage
FROM ivm._views v JOIN ivm._views p ON p.id = v.parent_id;

CREATE VIEW ivm.sources AS
SELECT s.relid AS source,
       s.kind,
       s.logrel AS log,
       (SELECT count(*) FROM ivm._deps d WHERE d.source = s.relid)::integer AS views,
       CASE WHEN s.kind = 'push' THEN s.dedup END AS dedup
FROM ivm._sources s
UNION ALL
SELECT v.viewrel, 'view', NULL::regclass,
       (SELECT count(*) FROM ivm._deps d WHERE d.source_view_id = v.id)::integer,
       NULL::boolean
FROM ivm._views v
WHERE EXISTS (SELECT 1 FROM ivm._deps d WHERE d.source_view_id = v.id);

CREATE VIEW ivm.dependencies AS
SELECT v.viewrel AS view,
       d.source,
       CASE WHEN d.source_view_id IS NULL THEN 'table' ELSE 'view' END AS source_kind
FROM ivm._deps d JOIN ivm._views v ON v.id = d.view_id;

CREATE VIEW ivm.evidence AS
SELECT e.epoch, e.view_name AS view, e.strategy, e.delta_in, e.delta_out,
       e.view_rows, e.duration_us, e.recorded_at
FROM ivm._evidence e;

-- Counters, Prometheus-style: monotonic over the life of the database
-- (ticks that roll back count nothing).
CREATE VIEW ivm.stats AS
SELECT c.name, c.value, c.help
FROM ivm._state st,
     LATERAL (VALUES
        ('ivm_ticks_total', st.ticks_total::numeric,
         'Ticks committed.'),
        ('ivm_rows_in_total', st.rows_in_total::numeric,
         'Delta rows consumed from the logs of sources by committed ticks.'),
        ('ivm_rows_out_total', st.rows_out_total::numeric,
         'Delta rows applied to views by committed ticks, after consolidation.'),
        ('ivm_views_recomputed_total', st.views_recomputed_total::numeric,
         'Views recomputed (by fallback, REFRESH, full_recompute or a failed delta query) in committed ticks.'),
        ('ivm_tick_duration_seconds_sum', round(st.tick_duration_us_sum / 1000000.0, 6),
         'Total wall time of committed ticks, in seconds.'),
        ('ivm_dedup_coalesced_total',
         coalesce((SELECT k.value FROM ivm._counters k WHERE k.name = 'dedup_coalesced'), 0)::numeric,
         'Batches pushed to a push source with dedup on that were seen before and applied once.'),
        ('ivm_dedup_dropped_total',
         coalesce((SELECT k.value FROM ivm._counters k WHERE k.name = 'dedup_dropped'), 0)::numeric,
         'Batch hashes evicted from dedup seen-sets beyond ivm.dedup_capacity, oldest first.'),
        ('ivm_epoch', st.epoch::numeric,
         'Epoch of the last committed tick (a gauge).')
     ) AS c(name, value, help);

-- The background workers that tick on a schedule (ivm.tick_interval,
-- ivm.database), one row per database listed, from shared memory: the
-- same rows in every database.  last_error shows the text of the last
-- failed tick to superusers and members of pg_read_all_stats, its SQLSTATE
-- to other roles.
CREATE FUNCTION ivm._workers(OUT database text, OUT pid integer, OUT state text,
                             OUT last_tick timestamptz, OUT last_error text, OUT ticks bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ivm_workers'
LANGUAGE C VOLATILE;

CREATE VIEW ivm.workers AS
SELECT database, pid, state, last_tick, last_error, ticks FROM ivm._workers();

GRANT USAGE ON SCHEMA ivm TO PUBLIC;
GRANT SELECT ON ivm.views, ivm.hidden_views, ivm.sources, ivm.dependencies, ivm.evidence, ivm.stats,
                ivm.workers TO PUBLIC;
-- definitions are public, as pg_views' are; rows and change logs are not
GRANT SELECT ON ivm._views, ivm._sources TO PUBLIC;

------------------------------------------------------------------------------
-- Event triggers: keep the catalog in step with DROP of views and sources,
-- whatever the route (DROP VIEW, DROP TABLE ... CASCADE, DROP SCHEMA ...
-- CASCADE, DROP OWNED).
------------------------------------------------------------------------------

CREATE FUNCTION ivm._on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped oid[];
    uncaptured integer[];
    r record;
BEGIN
    -- this runs again, nested, for the DROP TABLE statements below: it must
    -- only ever act on what its own invocation saw dropped
    dropped := ARRAY(SELECT d.objid FROM pg_event_trigger_dropped_objects() d
                     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0);
    -- the sources whose capture triggers went (with a partition, say)
    uncaptured := ARRAY(SELECT substring(d.address_names[array_upper(d.address_names, 1)]
                                         FROM '^ivm_capture_([0-9]+)_ins$')::integer
                        FROM pg_event_trigger_dropped_objects() d
                        WHERE d.classid = 'pg_trigger'::regclass);

    -- views: forget them, then drop their storage
    FOR r IN DELETE FROM ivm._views v
             WHERE v.viewrel::oid = ANY (dropped) OR v.storagerel::oid = ANY (dropped)
                OR v.defrel::oid = ANY (dropped)
             RETURNING v.storagerel::oid AS storage, v.defrel::oid AS def
    LOOP
        IF EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = r.storage) THEN
            EXECUTE format('DROP TABLE %s', r.storage::regclass);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = r.def) THEN
            EXECUTE format('DROP VIEW %s', r.def::regclass);
        END IF;
    END LOOP;
    DELETE FROM ivm._deps d WHERE d.source::oid = ANY (dropped);

    -- sources that were dropped, or that no view reads any more
    FOR r IN DELETE FROM ivm._sources s
             WHERE s.relid::oid = ANY (dropped)
                OR s.logrel::oid = ANY (dropped)
                OR (s.kind = 'table'
                    AND NOT EXISTS (SELECT 1 FROM ivm._deps d WHERE d.source = s.relid))
             RETURNING s.id, s.relid::oid AS relid, s.logrel::oid AS logrel
    LOOP
        DELETE FROM ivm._truncated t WHERE t.relid::oid = r.relid;
        PERFORM ivm._uncapture(r.id);
        IF EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = r.logrel) THEN
            EXECUTE format('DROP TABLE %s', r.logrel::regclass);
        END IF;
    END LOOP;

    -- a partition or inheritance child of a captured table that stays was
    -- dropped: the table lost rows that no delta lists, so its views are
    -- recomputed at the next tick
    INSERT INTO ivm._truncated (relid)
    SELECT s.relid FROM ivm._sources s
    WHERE s.id = ANY (uncaptured) AND NOT s.relid::oid = ANY (dropped);
END
$$;

-- Remove the capture triggers of one source from every table that has them
-- (the source's table, its partitions and inheritance children, any table
-- that left them).  A capture trigger's name carries its source's id.
CREATE FUNCTION ivm._uncapture(source_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tg.tgname, tg.tgrelid::regclass AS tab
             FROM pg_trigger tg
             WHERE tg.tgfoid = 'ivm._capture()'::regprocedure
               AND tg.tgname IN (format('ivm_capture_%s_ins', source_id),
                                 format('ivm_capture_%s_upd', source_id),
                                 format('ivm_capture_%s_del', source_id),
                                 format('ivm_capture_%s_trunc', source_id))
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tab);
    END LOOP;
END
$$;

CREATE EVENT TRIGGER ivm_sql_drop ON sql_drop
    EXECUTE FUNCTION ivm._on_sql_drop();

-- After CREATE TABLE or ALTER TABLE, with the relations the command touched:
-- a partition created or attached under a captured table is captured too, a
-- delta log follows its table's columns and owner.
CREATE FUNCTION ivm._capture_members(relids oid[], created boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'ivm_capture_members'
LANGUAGE C;

-- After a restore (pg_dump, a full checkpoint), a view comes back without the
-- dependencies PostgreSQL does not dump: this records them again.
CREATE FUNCTION ivm._relink_views()
RETURNS void
AS 'MODULE_PATHNAME', 'ivm_relink_views'
LANGUAGE C;

CREATE FUNCTION ivm._on_ddl_end()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF tg_tag = 'CREATE TRIGGER' THEN
        PERFORM ivm._relink_views();
    ELSE
        -- only what the command touched: no other table is opened or locked
        PERFORM ivm._capture_members(
            ARRAY(SELECT c.objid FROM pg_event_trigger_ddl_commands() c
                  WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass),
            tg_tag = 'CREATE TABLE');
    END IF;
END
$$;

REVOKE ALL ON FUNCTION ivm._capture_members(oid[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ivm._relink_views() FROM PUBLIC;

-- Without shared_preload_libraries, CREATE MATERIALIZED VIEW ... WITH
-- (ivm.incremental) says what every function says (55000 and the hint).
CREATE FUNCTION ivm._on_ddl_start()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'ivm_on_ddl_start'
LANGUAGE C;

CREATE EVENT TRIGGER ivm_ddl_start ON ddl_command_start
    WHEN TAG IN ('CREATE MATERIALIZED VIEW')
    EXECUTE FUNCTION ivm._on_ddl_start();

CREATE EVENT TRIGGER ivm_ddl_end ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE', 'CREATE TRIGGER')
    EXECUTE FUNCTION ivm._on_ddl_end();

------------------------------------------------------------------------------
-- pg_dump.  The catalog's rows are dumped with the database (regclass columns
-- dump as names, so they point at the restored relations); the views'
-- storage, definitions and delta logs are ordinary tables and views in schema
-- ivm that pg_dump writes as it writes any, with their rows; the capture
-- triggers on sources come back with their tables.  Evidence is history and
-- is not dumped.
------------------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('ivm._state', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._counters', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._views', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._views_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._sources', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._sources_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._seen', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._seen_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._deps', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._truncated', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._watches', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._changes', '');
SELECT pg_catalog.pg_extension_config_dump('ivm._view_errors', '');

-- ivm._state has its one row from CREATE EXTENSION: the restored row (the
-- epoch and the counters of the dumped database) replaces it.
CREATE FUNCTION ivm._state_restore()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ivm._state) THEN
        UPDATE ivm._state
           SET epoch = greatest(epoch, NEW.epoch),
               ticks_total = NEW.ticks_total,
               rows_in_total = NEW.rows_in_total,
               rows_out_total = NEW.rows_out_total,
               views_recomputed_total = NEW.views_recomputed_total,
               tick_duration_us_sum = NEW.tick_duration_us_sum;
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER ivm_state_restore BEFORE INSERT ON ivm._state
    FOR EACH ROW EXECUTE FUNCTION ivm._state_restore();

------------------------------------------------------------------------------
-- Checkpoints (src/checkpoint.c, src/restore.c; the files are described in
-- docs/checkpoint-format.md).  Server-side directories: the functions check
-- pg_write_server_files / pg_read_server_files themselves, as COPY does, so
-- they stay executable by PUBLIC and refuse other roles with 42501.
------------------------------------------------------------------------------

-- Write into dir what changed since the previous checkpoint there (the first
-- writes a base of everything).
CREATE FUNCTION ivm.checkpoint(dir text,
    OUT sequence bigint, OUT epoch bigint, OUT objects integer,
    OUT bases integer, OUT deltas integer, OUT unchanged integer,
    OUT records bigint, OUT raw_bytes bigint, OUT file_bytes bigint,
    OUT restore_bytes bigint, OUT duration_ms double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'ivm_checkpoint'
LANGUAGE C VOLATILE;

-- Rebuild the push sources and views of the chain in dir, with their rows,
-- watches and the epoch; the next tick resumes.
CREATE FUNCTION ivm.restore(dir text,
    OUT sequence bigint, OUT epoch bigint, OUT views integer,
    OUT push_sources integer, OUT sources integer,
    OUT sources_changed integer, OUT rows bigint,
    OUT pending_rows bigint, OUT watches integer,
    OUT views_to_recompute integer, OUT duration_ms double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'ivm_restore'
LANGUAGE C VOLATILE;

-- One manifest of a checkpoint directory (the newest when sequence is null),
-- checked as ivm.restore() checks it: what a checkpoint holds.
CREATE FUNCTION ivm.checkpoint_manifest(dir text, sequence bigint DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ivm_checkpoint_manifest'
LANGUAGE C VOLATILE;

------------------------------------------------------------------------------
-- Internal functions are not for PUBLIC.  Triggers and event triggers call
-- them without an EXECUTE check; CREATE TRIGGER checks it, so no role but
-- the extension's owner (and superusers) can attach capture to a table or
-- forge a guard.  Two stay executable: ivm._refuse_write (it only raises an
-- error; a view's creator attaches it to their view) and
-- ivm._check_preloaded (it only raises an error).
------------------------------------------------------------------------------

REVOKE EXECUTE ON FUNCTION ivm._capture() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ivm._guard_storage() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ivm._plan_stats() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ivm._on_sql_drop() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ivm._uncapture(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ivm._on_ddl_end() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ivm._on_ddl_start() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ivm._state_restore() FROM PUBLIC;
