-- ivm 0.1.0 -> 0.2.0
--
-- Run by ALTER EXTENSION ivm UPDATE (and by CREATE EXTENSION ivm, which
-- installs 0.1.0 and applies this script).  ivm--0.1.0.sql is frozen as
-- released (tag v0.1.0, commit 46b56e6): every change to the SQL surface
-- from then on goes here, in the order it was made, and must run on a
-- database with views alive.

\echo Use "ALTER EXTENSION ivm UPDATE" to load this file. \quit

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
