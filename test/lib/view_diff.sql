-- test/lib/view_diff.sql -- the one test of every suite: a view is right when
-- it equals its query run directly, as a multiset.  Loaded with psql (-f, or
-- \ir from a pgTAP file); it creates its functions in the schema named by
-- the psql variable diff_schema (public when unset; pgTAP files set
-- pg_temp so that their transaction leaves nothing behind).
--
--   test_view_diff(view, query, exact)
--       one line per row in one side and not the other, EXCEPT ALL both
--       ways: '<view> only in the view:  <row>' or '... only in the query:
--       <row>'.  exact compares the rows' text (numeric 1.0 and 1.00 then
--       differ), else the rows' values by their types' equality.
--
-- A suite keeping its views in a table of (name, query) checks them all with
--   SELECT d FROM its_views, test_view_diff(name, query) d;

\if :{?diff_schema}
\else
\set diff_schema public
\endif

CREATE OR REPLACE FUNCTION :diff_schema.test_view_diff(view text, query text, exact boolean DEFAULT false)
RETURNS SETOF text LANGUAGE plpgsql AS $fn$
DECLARE
    cols text := CASE WHEN exact THEN 'q::text' ELSE 'q.*' END;
BEGIN
    RETURN QUERY EXECUTE format($f$
        SELECT %1$L || ' only in the view:  ' || t::text
          FROM (SELECT %3$s FROM %1$s q EXCEPT ALL SELECT %3$s FROM (%2$s) q) t
        UNION ALL
        SELECT %1$L || ' only in the query: ' || t::text
          FROM (SELECT %3$s FROM (%2$s) q EXCEPT ALL SELECT %3$s FROM %1$s q) t
        $f$, view, query, cols);
END
$fn$;
