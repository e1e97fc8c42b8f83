-- test/dump/snapshot.sql: what a database of the randomised test must keep
-- through a dump and restore, as text: catalog facts, then every view's rows
-- sorted, then the pending deltas of every log.  Read by test/dump/run.sh and
-- test/dump/across.sh with psql -At; two databases are alike when their
-- outputs are equal.
SELECT 'epoch ' || epoch FROM ivm._state;
SELECT 'stat ' || name || ' ' || value FROM ivm.stats
 WHERE name IN ('ivm_ticks_total', 'ivm_rows_in_total', 'ivm_dedup_coalesced_total') ORDER BY name;
SELECT 'view ' || name::text || ' ' || strategy || ' ' || mode || ' ' || state || ' ' || coalesce(channel, '-')
  FROM ivm.views ORDER BY name::text;
SELECT 'source ' || source::text || ' ' || kind || ' ' || coalesce(dedup::text, '-') FROM ivm.sources ORDER BY 1;
SELECT 'seen ' || count(*) FROM ivm._seen;
SELECT 'dep ' || view::text || ' ' || source::text FROM ivm.dependencies ORDER BY 1;
SELECT format('SELECT %L || '' '' || t::text FROM %s t ORDER BY 1', 'row ' || name::text, name)
  FROM ivm.views ORDER BY name::text \gexec
SELECT format('SELECT %L || '' '' || t::text FROM %s t ORDER BY 1', 'pending ' || source::text, log)
  FROM ivm.sources WHERE log IS NOT NULL ORDER BY source::text \gexec
SELECT 'p ' || t::text FROM p t ORDER BY 1;
