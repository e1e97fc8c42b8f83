-- ivm 0.1.0 -> 0.2.0
--
-- Run by ALTER EXTENSION ivm UPDATE (and by CREATE EXTENSION ivm, which
-- installs 0.1.0 and applies this script).  ivm--0.1.0.sql is frozen as
-- released (tag v0.1.0, commit 46b56e6): every change to the SQL surface
-- from then on goes here, in the order it was made, and must run on a
-- database with views alive.

\echo Use "ALTER EXTENSION ivm UPDATE" to load this file. \quit

-- First, before any DDL of this script: ivm._sources.loghalf, the second
-- half of each delta log (see "Delta logs in two halves" below).  It comes
-- first because this version's library reads it from the event triggers
-- that the DDL below fires.
ALTER TABLE ivm._sources ADD COLUMN loghalf regclass UNIQUE;

-- Vector views over pgvector's types (issue 21): the vector column may be
-- real[] (ivm's distance functions, as before) or a type of another
-- extension with the metric's distance operator (<-> l2, <=> cosine, <#>
-- ip), pgvector's vector, halfvec or sparsevec: that operator, owned by the
-- type's owner in the type's own schema, is found by name when the view is
-- declared and named in full (OPERATOR(public.<->)), and the query vector
-- (real[], or a vector cast to it) is written as a literal of the column's
-- type by that type's cast, run as the caller.  Nothing of ivm depends on
-- pgvector.  Same signature, same checks of the query vector.
CREATE OR REPLACE FUNCTION ivm.vector_view_query(source regclass, "column" text, query real[],
                                      k integer DEFAULT 10, metric text DEFAULT 'l2',
                                      payload text[] DEFAULT '{}', id text DEFAULT 'id')
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 1   -- the vector's literal reads back exactly
AS $f$
DECLARE
    fn text;
    opname text;
    dist text;
    sel text;
    c text;
    t regtype;
    vtype oid;
    vtypmod integer;
    nsp name;
    lit text;
    d double precision;
BEGIN
    IF source IS NULL OR "column" IS NULL OR query IS NULL OR k IS NULL
       OR metric IS NULL OR payload IS NULL OR id IS NULL THEN
        RAISE EXCEPTION 'arguments of a vector view must not be null'
            USING ERRCODE = '22004', HINT = 'Give the view''s name, its source, the vector column and the query vector; k, metric, payload and id have defaults.';
    END IF;
    fn := CASE metric WHEN 'l2' THEN 'ivm.l2_distance' WHEN 'cosine' THEN 'ivm.cosine_distance'
                      WHEN 'ip' THEN 'ivm.inner_product' END;
    opname := CASE metric WHEN 'l2' THEN '<->' WHEN 'cosine' THEN '<=>' WHEN 'ip' THEN '<#>' END;
    IF fn IS NULL THEN
        RAISE EXCEPTION 'invalid value for metric: %', quote_literal(metric)
            USING ERRCODE = '22023', HINT = 'Valid values are "l2", "cosine" and "ip".';
    END IF;
    IF k < 1 THEN
        RAISE EXCEPTION 'k must be at least 1, not %', k USING ERRCODE = '22023';
    END IF;
    -- every column named exists
    FOREACH c IN ARRAY ARRAY["column", id] || payload LOOP
        SELECT a.atttypid::regtype INTO t FROM pg_attribute a
         WHERE a.attrelid = source AND a.attname = c AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of relation % does not exist', c, source
                USING ERRCODE = '42703', HINT = 'Name the vector column, the id column and the payload columns of the source.';
        END IF;
    END LOOP;
    IF 'distance' = ANY (ARRAY[id] || payload) OR array_length(payload, 1) <> (SELECT count(DISTINCT p) FROM unnest(payload) p)
       OR id = ANY (payload) THEN
        RAISE EXCEPTION 'the columns of a vector view must have distinct names, and none "distance"'
            USING ERRCODE = '42701', HINT = 'The view''s columns are the id, "distance", then the payload columns.';
    END IF;
    -- the query vector itself: one dimension, no NULL, not zero under cosine
    EXECUTE format('SELECT %s($1, $1)', fn) USING query;
    SELECT a.atttypid, a.atttypmod INTO vtype, vtypmod FROM pg_attribute a
     WHERE a.attrelid = source AND a.attname = "column" AND a.attnum > 0 AND NOT a.attisdropped;
    IF vtype = 'real[]'::regtype THEN
        dist := format('%s(%I, %L::real[])', fn, "column", query::text);
    ELSE
        -- the type's own distance operator for the metric, in its schema
        SELECT n.nspname INTO nsp
          FROM pg_type ty JOIN pg_namespace n ON n.oid = ty.typnamespace
          JOIN pg_operator o ON o.oprnamespace = ty.typnamespace AND o.oprowner = ty.typowner
         WHERE ty.oid = vtype AND o.oprname = opname AND o.oprleft = vtype AND o.oprright = vtype
           AND o.oprresult = 'double precision'::regtype;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of relation % is %, not real[] or a type with the % distance operator %',
                    "column", source, vtype::regtype, metric, opname
                USING ERRCODE = '42804', HINT = 'Keep embeddings as real[] (float4[]) or as pgvector''s vector or halfvec, or write the view''s query yourself.';
        END IF;
        -- the query vector as a value of the column's type (its dimensions
        -- checked against the column's), by the type's cast
        EXECUTE format('SELECT ($1)::%s::text', format_type(vtype, vtypmod)) INTO lit USING query;
        dist := format('%I OPERATOR(%I.%s) %L::%s', "column", nsp, opname, lit, format_type(vtype, NULL));
        EXECUTE format('SELECT %L::%s OPERATOR(%I.%s) %L::%s', lit, format_type(vtype, NULL), nsp, opname,
                       lit, format_type(vtype, NULL)) INTO d;
        IF d IS NULL OR d = 'NaN'::double precision THEN
            RAISE EXCEPTION 'the query vector has no % distance as %', metric, vtype::regtype
                USING ERRCODE = '22000', HINT = 'Give a query vector with a direction (not every element 0) and finite elements.';
        END IF;
    END IF;
    sel := format('%I, %s AS distance', id, dist);
    FOREACH c IN ARRAY payload LOOP
        sel := sel || format(', %I', c);
    END LOOP;
    RETURN format('SELECT %s FROM %s ORDER BY distance, %I LIMIT %s', sel, source, id, k);
END
$f$;

-- Schema ivm must belong to a superuser: ivm's SECURITY DEFINER functions and
-- its C code act with the rights of the schema's owner, and call ivm.* by
-- name.  A schema ivm that a role made before CREATE EXTENSION would be
-- reused and stay that role's (with the library preloaded, the utility hook
-- refuses such a CREATE EXTENSION before the script runs; this catches the
-- rest, and an ALTER EXTENSION UPDATE of such a database).  Only qualified
-- names below: the script runs with search_path = ivm.
DO $ivm_schema_owner$
DECLARE
    owner_name name;
BEGIN
    SELECT r.rolname INTO owner_name
      FROM pg_catalog.pg_namespace n
      JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
     WHERE n.nspname OPERATOR(pg_catalog.=) 'ivm'::pg_catalog.name
       AND NOT r.rolsuper;
    IF FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = pg_catalog.format('schema "ivm" belongs to role "%s", who is not a superuser', owner_name),
            DETAIL = 'ivm acts with the rights of the owner of schema ivm, so only a superuser may own it.',
            HINT = 'Drop schema ivm (or give it to a superuser with ALTER SCHEMA ivm OWNER TO), then create the extension.';
    END IF;
END
$ivm_schema_owner$;

-- A view whose query calls a function that is not immutable (now(),
-- current_user, a STABLE function reading a table ivm does not capture),
-- itself or in a plain view it reads, is computed again at every tick
-- (options "every_tick", set when the view is made); the views made before
-- are marked here.
CREATE FUNCTION ivm._query_every_tick(def pg_catalog.oid) RETURNS pg_catalog.bool
    AS 'MODULE_PATHNAME', 'ivm_query_every_tick' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION ivm._query_every_tick(pg_catalog.oid) FROM PUBLIC;
UPDATE ivm._views SET options = options OPERATOR(pg_catalog.||) '{"every_tick": true}'::pg_catalog.jsonb
 WHERE ivm._query_every_tick(defrel::pg_catalog.oid);

-- ivm.progress: what each backend of this database is doing to a view (a
-- creation, a REFRESH, a tick's recompute or delta), its phase and how many
-- rows it has done of how many expected, from shared memory (progress.c).
-- Every role sees which backends are busy (pid, command, started); the view,
-- phase and counts only those who may read the view, its owner's members and
-- pg_read_all_stats (as pg_stat_activity hides others' queries).
CREATE FUNCTION ivm._progress(OUT pid integer, OUT command text, OUT view regclass,
                              OUT phase text, OUT rows_done bigint, OUT rows_expected bigint,
                              OUT started timestamptz, OUT datid oid)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ivm_progress'
LANGUAGE C VOLATILE;

CREATE VIEW ivm.progress AS
SELECT pid, datid, command, view, phase, rows_done, rows_expected, started FROM ivm._progress();

GRANT SELECT ON ivm.progress TO PUBLIC;

-- The tick's fast path (issue 22): a transaction that changes ivm's catalog
-- bumps a change counter in shared memory when it commits (as one that
-- writes deltas does), so that a tick that finds the counter where the last
-- tick left it, and that tick with nothing left to do, only advances the
-- epoch.  A tick's own bookkeeping does not count (the C function skips it).
CREATE FUNCTION ivm._catalog_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'ivm_catalog_changed'
LANGUAGE C VOLATILE;
REVOKE EXECUTE ON FUNCTION ivm._catalog_changed() FROM PUBLIC;
CREATE TRIGGER ivm_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ivm._views FOR EACH STATEMENT EXECUTE FUNCTION ivm._catalog_changed();
CREATE TRIGGER ivm_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ivm._deps FOR EACH STATEMENT EXECUTE FUNCTION ivm._catalog_changed();
CREATE TRIGGER ivm_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ivm._sources FOR EACH STATEMENT EXECUTE FUNCTION ivm._catalog_changed();
CREATE TRIGGER ivm_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ivm._watches FOR EACH STATEMENT EXECUTE FUNCTION ivm._catalog_changed();
CREATE TRIGGER ivm_catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ivm._truncated FOR EACH STATEMENT EXECUTE FUNCTION ivm._catalog_changed();

-- Delta logs in two halves (issue 22): a log (ivm._log_<n>) gets a second
-- half, ivm._log_<n>_b, an empty child of it (whoever reads the log reads
-- both; a column added to the log reaches it).  Writers append to the half
-- shared memory names; a tick sends them to the other half, then empties the
-- half they left whole (a transactional truncate) when no transaction holds
-- it and its every row is one the tick consumed, instead of deleting its rows
-- one by one.  ivm._sources.loghalf records it; a source captured before
-- this version gets its second half at the next tick (not here: a table made
-- by this script would be a member of the extension, which pg_dump leaves
-- out), and its pending deltas stay in the log until that tick consumes them.
-- (ivm._sources.loghalf itself is added at the top of this script.)

-- A source's second half is dropped with its log (first: it inherits from
-- the log).  The rest as in 0.1.0.
CREATE OR REPLACE FUNCTION ivm._on_sql_drop()
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
                OR s.loghalf::oid = ANY (dropped)
                OR (s.kind = 'table'
                    AND NOT EXISTS (SELECT 1 FROM ivm._deps d WHERE d.source = s.relid))
             RETURNING s.id, s.relid::oid AS relid, s.logrel::oid AS logrel,
                       s.loghalf::oid AS loghalf
    LOOP
        DELETE FROM ivm._truncated t WHERE t.relid::oid = r.relid;
        PERFORM ivm._uncapture(r.id);
        -- the log's second half inherits from it: it goes first
        IF EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = r.loghalf) THEN
            EXECUTE format('DROP TABLE %s', r.loghalf::regclass);
        END IF;
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
