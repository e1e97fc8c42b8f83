-- test/upgrade/catalog.sql -- the catalog of extension ivm in this database,
-- one line per fact, sorted: what a database gets from CREATE EXTENSION ivm
-- and what it gets from an older version's CREATE EXTENSION followed by
-- ALTER EXTENSION ivm UPDATE must print the same lines (test/upgrade/run.sh
-- diffs them).  Only names and definitions are printed, never OIDs, which
-- differ between databases.
--
-- psql variable "rows": 1 adds the rows of the extension's tables (for two
-- databases without views, whose tables hold only what the scripts put
-- there).

\set QUIET 1
\pset format unaligned
\pset tuples_only on
\pset fieldsep ' '
\if :{?rows}
\else
\set rows 0
\endif

CREATE TEMP VIEW upg_members AS
SELECT d.classid, d.objid, d.objsubid,
       pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS what
  FROM pg_catalog.pg_depend d
  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
 WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
   AND e.extname = 'ivm' AND d.deptype = 'e';

-- flat(text): a definition on one line, its line breaks written \n
CREATE FUNCTION pg_temp.flat(t text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT pg_catalog.replace(t, E'\n', '\n') $$;

CREATE TEMP VIEW upg_catalog AS
-- the extension itself: schema, relocatability, configuration tables and their filters
SELECT 'extension ' || e.extversion || ' schema ' || e.extnamespace::pg_catalog.regnamespace
       || ' relocatable ' || e.extrelocatable
       || ' owner ' || pg_catalog.pg_get_userbyid(e.extowner)
       || ' config ' || coalesce((SELECT pg_catalog.string_agg(c::pg_catalog.regclass::text || ' [' || coalesce(f, '') || ']', ', '
                                                       ORDER BY c::pg_catalog.regclass::text)
                                  FROM unnest(e.extconfig, e.extcondition) AS x(c, f)), '-') AS line
  FROM pg_catalog.pg_extension e WHERE e.extname = 'ivm'
UNION ALL
-- every member object
SELECT 'member ' || m.what FROM upg_members m
UNION ALL
-- comments on members
SELECT 'comment ' || m.what || ': ' || d.description
  FROM upg_members m
  JOIN pg_catalog.pg_description d ON d.classoid = m.classid AND d.objoid = m.objid AND d.objsubid = m.objsubid
UNION ALL
-- schemas: owner and rights
SELECT 'schema ' || n.nspname || ' owner ' || pg_catalog.pg_get_userbyid(n.nspowner)
       || ' acl ' || coalesce(n.nspacl::text, '-')
  FROM pg_catalog.pg_namespace n
 WHERE n.oid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass)
    OR n.nspname = 'ivm'
UNION ALL
-- default privileges in schema ivm
SELECT 'default acl ' || pg_catalog.pg_get_userbyid(a.defaclrole) || ' ' || a.defaclobjtype::text
       || ' ' || a.defaclacl::text
  FROM pg_catalog.pg_default_acl a JOIN pg_catalog.pg_namespace n ON n.oid = a.defaclnamespace
 WHERE n.nspname = 'ivm'
UNION ALL
-- functions and procedures: the whole definition (arguments, result,
-- language, volatility, strictness, SECURITY DEFINER, parallel safety,
-- cost, settings, body or C symbol), owner and rights
SELECT 'function ' || p.oid::pg_catalog.regprocedure
       || ' owner ' || pg_catalog.pg_get_userbyid(p.proowner)
       || ' acl ' || coalesce(p.proacl::text, '-')
       || ' leakproof ' || p.proleakproof
       || ' def ' || CASE WHEN p.prokind IN ('f', 'p', 'w')
                          THEN pg_temp.flat(pg_catalog.pg_get_functiondef(p.oid))
                          ELSE 'kind ' || p.prokind::text || ' returns ' || pg_catalog.pg_get_function_result(p.oid)
                               || ' strict ' || p.proisstrict || ' volatile ' || p.provolatile::text
                               || ' parallel ' || p.proparallel::text END
  FROM pg_catalog.pg_proc p
 WHERE p.oid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_proc'::pg_catalog.regclass)
UNION ALL
-- aggregates: their support functions and states
SELECT 'aggregate ' || a.aggfnoid::pg_catalog.regprocedure
       || ' kind ' || a.aggkind::text || ' direct ' || a.aggnumdirectargs
       || ' trans ' || a.aggtransfn::pg_catalog.regprocedure::text
       || ' final ' || a.aggfinalfn::text || ' finalextra ' || a.aggfinalextra || ' finalmodify ' || a.aggfinalmodify::text
       || ' combine ' || a.aggcombinefn::text || ' serial ' || a.aggserialfn::text
       || ' deserial ' || a.aggdeserialfn::text
       || ' mtrans ' || a.aggmtransfn::text || ' minvtrans ' || a.aggminvtransfn::text
       || ' mfinal ' || a.aggmfinalfn::text
       || ' sortop ' || a.aggsortop::pg_catalog.regoperator::text
       || ' stype ' || a.aggtranstype::pg_catalog.regtype::text || ' sspace ' || a.aggtransspace
       || ' mstype ' || a.aggmtranstype::pg_catalog.regtype::text
       || ' init ' || coalesce(a.agginitval, '-') || ' minit ' || coalesce(a.aggminitval, '-')
  FROM pg_catalog.pg_aggregate a
 WHERE a.aggfnoid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_proc'::pg_catalog.regclass)
UNION ALL
-- relations: kind, persistence, options, owner, rights, row security
SELECT 'relation ' || c.oid::pg_catalog.regclass || ' kind ' || c.relkind::text
       || ' persistence ' || c.relpersistence::text
       || ' options ' || coalesce(c.reloptions::text, '-')
       || ' owner ' || pg_catalog.pg_get_userbyid(c.relowner)
       || ' acl ' || coalesce(c.relacl::text, '-')
       || ' rls ' || c.relrowsecurity || '/' || c.relforcerowsecurity
       || ' replident ' || c.relreplident::text
       || ' partkey ' || coalesce(pg_catalog.pg_get_partkeydef(c.oid), '-')
  FROM pg_catalog.pg_class c
 WHERE c.oid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
UNION ALL
-- columns, in their order: type, collation, NOT NULL, default, identity,
-- generation, rights, statistics target
SELECT 'column ' || c.oid::pg_catalog.regclass || ' #'
       || pg_catalog.row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
       || ' ' || pg_catalog.quote_ident(a.attname)
       || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attcollation <> 0 THEN ' collate ' || a.attcollation::pg_catalog.regcollation::text ELSE '' END
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), '')
       || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
       || CASE WHEN a.attgenerated <> '' THEN ' generated ' || a.attgenerated::text ELSE '' END
       || coalesce(' acl ' || a.attacl::text, '')
       || ' storage ' || a.attstorage::text
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
 WHERE c.oid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
UNION ALL
-- views' queries
SELECT 'view ' || c.oid::pg_catalog.regclass || ' ' || pg_temp.flat(pg_catalog.pg_get_viewdef(c.oid))
  FROM pg_catalog.pg_class c
 WHERE c.relkind IN ('v', 'm')
   AND c.oid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
UNION ALL
-- sequences: parameters and the column owning them
SELECT 'sequence ' || s.seqrelid::pg_catalog.regclass || ' ' || s.seqtypid::pg_catalog.regtype
       || ' start ' || s.seqstart || ' inc ' || s.seqincrement || ' min ' || s.seqmin
       || ' max ' || s.seqmax || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle
       || ' owned by ' || coalesce((SELECT d.refobjid::pg_catalog.regclass || '.' || a.attname
                                     FROM pg_catalog.pg_depend d
                                     JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                                    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                      AND d.objid = s.seqrelid AND d.deptype IN ('a', 'i')
                                      AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                      AND d.refobjsubid > 0), '-')
  FROM pg_catalog.pg_sequence s
 WHERE s.seqrelid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
UNION ALL
-- constraints of member tables and domains
SELECT 'constraint ' || coalesce(r.conrelid::pg_catalog.regclass::text, r.contypid::pg_catalog.regtype::text)
       || ' ' || pg_catalog.quote_ident(r.conname) || ' ' || pg_catalog.pg_get_constraintdef(r.oid)
       || ' deferrable ' || r.condeferrable || '/' || r.condeferred || ' valid ' || r.convalidated
  FROM pg_catalog.pg_constraint r
 WHERE r.conrelid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
    OR r.contypid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_type'::pg_catalog.regclass)
UNION ALL
-- indexes of member tables
SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
  FROM pg_catalog.pg_index i
 WHERE i.indrelid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
UNION ALL
-- triggers on member tables (not the internal ones of foreign keys)
SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
  FROM pg_catalog.pg_trigger t
 WHERE NOT t.tgisinternal
   AND t.tgrelid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
UNION ALL
-- rules other than views' own, and policies
SELECT 'rule ' || pg_temp.flat(pg_catalog.pg_get_ruledef(w.oid))
  FROM pg_catalog.pg_rewrite w
 WHERE w.rulename <> '_RETURN'
   AND w.ev_class IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
UNION ALL
SELECT 'policy ' || p.tablename || ' ' || p.policyname || ' ' || p.permissive || ' ' || p.roles::text
       || ' ' || p.cmd || ' using ' || coalesce(p.qual, '-') || ' check ' || coalesce(p.with_check, '-')
  FROM pg_catalog.pg_policies p WHERE p.schemaname = 'ivm'
UNION ALL
-- event triggers: event, function, tags, whether enabled, owner
SELECT 'event trigger ' || t.evtname || ' on ' || t.evtevent || ' function ' || t.evtfoid::pg_catalog.regprocedure
       || ' enabled ' || t.evtenabled::text || ' tags ' || coalesce(t.evttags::text, '-')
       || ' owner ' || pg_catalog.pg_get_userbyid(t.evtowner)
  FROM pg_catalog.pg_event_trigger t
 WHERE t.oid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_event_trigger'::pg_catalog.regclass)
UNION ALL
-- types of their own (domains, enums, composites, ranges): definition and rights
SELECT 'type ' || t.oid::pg_catalog.regtype || ' kind ' || t.typtype::text
       || ' base ' || t.typbasetype::pg_catalog.regtype::text || ' typmod ' || t.typtypmod
       || ' notnull ' || t.typnotnull || ' default ' || coalesce(t.typdefault, '-')
       || ' owner ' || pg_catalog.pg_get_userbyid(t.typowner) || ' acl ' || coalesce(t.typacl::text, '-')
       || ' labels ' || coalesce((SELECT pg_catalog.string_agg(l.enumlabel, ',' ORDER BY l.enumsortorder)
                                  FROM pg_catalog.pg_enum l WHERE l.enumtypid = t.oid), '-')
  FROM pg_catalog.pg_type t
 WHERE t.oid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_type'::pg_catalog.regclass)
UNION ALL
-- operators and casts
SELECT 'operator ' || o.oid::pg_catalog.regoperator || ' returns ' || o.oprresult::pg_catalog.regtype
       || ' code ' || o.oprcode::pg_catalog.regprocedure::text
       || ' commutator ' || o.oprcom::pg_catalog.regoperator::text || ' negator ' || o.oprnegate::pg_catalog.regoperator::text
       || ' restrict ' || o.oprrest::text || ' join ' || o.oprjoin::text
       || ' merges ' || o.oprcanmerge || ' hashes ' || o.oprcanhash
  FROM pg_catalog.pg_operator o
 WHERE o.oid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_operator'::pg_catalog.regclass)
UNION ALL
SELECT 'cast ' || c.castsource::pg_catalog.regtype || ' as ' || c.casttarget::pg_catalog.regtype
       || ' function ' || c.castfunc::pg_catalog.regprocedure::text
       || ' context ' || c.castcontext::text || ' method ' || c.castmethod::text
  FROM pg_catalog.pg_cast c
 WHERE c.oid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_cast'::pg_catalog.regclass);

SELECT line FROM upg_catalog ORDER BY line COLLATE "C";

-- With rows=1: the rows of every table of the extension (its seed rows)
\if :rows
SELECT pg_catalog.format('SELECT %L || coalesce(pg_catalog.string_agg(t::text, %L ORDER BY t::text COLLATE "C"), %L) FROM %s t',
                         'rows ' || c.oid::pg_catalog.regclass::text || ': ', ' | ', '-', c.oid::pg_catalog.regclass)
  FROM pg_catalog.pg_class c
 WHERE c.relkind IN ('r', 'p')
   AND c.oid IN (SELECT objid FROM upg_members WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
 ORDER BY c.oid::pg_catalog.regclass::text COLLATE "C" \gexec
\endif

DROP VIEW upg_catalog;
DROP VIEW upg_members;
DROP FUNCTION pg_temp.flat(text);
