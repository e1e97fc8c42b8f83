-- The public SQL surface of ivm: functions and their signatures, the columns
-- of ivm.tick()'s result and of the introspection views (SPEC.md section 2).
BEGIN;
SELECT plan(69);

SELECT has_schema('ivm', 'schema ivm exists');
SELECT has_extension('ivm', 'extension ivm is installed');
SELECT is((SELECT e.extrelocatable FROM pg_extension e WHERE e.extname = 'ivm'), false,
          'extension ivm is not relocatable');

-- functions and signatures
SELECT has_function('ivm', 'create_view', ARRAY['text', 'text', 'jsonb'],
                    'ivm.create_view(text, text, jsonb) exists');
SELECT is((SELECT p.pronargdefaults::int FROM pg_proc p
           WHERE p.oid = 'ivm.create_view(text,text,jsonb)'::regprocedure), 1,
          'ivm.create_view: options has a default');
SELECT is((SELECT p.pronargdefaults::int FROM pg_proc p
           WHERE p.oid = 'ivm.drop_view(regclass,boolean)'::regprocedure), 1,
          'ivm.drop_view: cascade has a default');
SELECT has_function('ivm', 'tick', ARRAY[]::text[], 'ivm.tick() exists');
SELECT function_returns('ivm', 'tick', ARRAY[]::text[], 'record', 'ivm.tick() returns a record');
SELECT isnt_strict('ivm', 'create_view', ARRAY['text', 'text', 'jsonb'],
                   'ivm.create_view is not STRICT (it reports null arguments itself)');
SELECT volatility_is('ivm', 'tick', ARRAY[]::text[], 'volatile', 'ivm.tick() is volatile');
SELECT has_function('ivm', 'drop_view', ARRAY['regclass', 'boolean'],
                    'ivm.drop_view(regclass, boolean) exists');
SELECT function_returns('ivm', 'drop_view', ARRAY['regclass', 'boolean'], 'void',
                        'ivm.drop_view returns void');
SELECT has_function('ivm', 'watch', ARRAY['regclass'], 'ivm.watch(regclass) exists');
SELECT function_returns('ivm', 'watch', ARRAY['regclass'], 'text',
                        'ivm.watch returns the channel name (text)');
SELECT has_function('ivm', 'unwatch', ARRAY['regclass'], 'ivm.unwatch(regclass) exists');
SELECT has_function('ivm', 'changes', ARRAY['regclass', 'bigint'],
                    'ivm.changes(regclass, bigint) exists');
SELECT function_returns('ivm', 'changes', ARRAY['regclass', 'bigint'], 'setof record',
                        'ivm.changes returns a set of rows');
SELECT has_function('ivm', 'explain', ARRAY['regclass'], 'ivm.explain(regclass) exists');
SELECT function_returns('ivm', 'explain', ARRAY['regclass'], 'text', 'ivm.explain returns text');
SELECT has_function('ivm', 'refresh', ARRAY['regclass'], 'ivm.refresh(regclass) exists');

-- parameter names: callers use named notation (SPEC: since_epoch => 41)
SELECT results_eq(
    $$SELECT a.name::text COLLATE "default"
      FROM pg_proc p, unnest(p.proargnames) WITH ORDINALITY AS a(name, n)
      WHERE p.oid = 'ivm.create_view(text,text,jsonb)'::regprocedure ORDER BY a.n$$,
    $$VALUES ('name'), ('query'), ('options')$$,
    'ivm.create_view parameters are (name, query, options)');
SELECT results_eq(
    $$SELECT a.name::text COLLATE "default", format_type(a.type, NULL), a.mode::text
      FROM pg_proc p,
           unnest(p.proargnames, p.proallargtypes, p.proargmodes) WITH ORDINALITY AS a(name, type, mode, n)
      WHERE p.oid = 'ivm.changes(regclass,bigint)'::regprocedure ORDER BY a.n$$,
    $$VALUES ('view', 'regclass', 'i'), ('since_epoch', 'bigint', 'i'),
             ('epoch', 'bigint', 't'), ('_weight', 'bigint', 't'), ('row', 'jsonb', 't')$$,
    'ivm.changes(view, since_epoch) returns (epoch bigint, _weight bigint, row jsonb)');

-- the result columns of ivm.tick(), as declared ...
SELECT results_eq(
    $$SELECT a.name::text COLLATE "default", format_type(a.type, NULL)
      FROM pg_proc p,
           unnest(p.proargnames, p.proallargtypes, p.proargmodes) WITH ORDINALITY AS a(name, type, mode, n)
      WHERE p.oid = 'ivm.tick()'::regprocedure AND a.mode IN ('o', 't') ORDER BY a.n$$,
    $$VALUES ('epoch', 'bigint'), ('rows_in', 'bigint'), ('rows_out', 'bigint'),
             ('views_processed', 'integer'), ('views_skipped', 'integer'),
             ('views_recomputed', 'integer'), ('duration_ms', 'double precision')$$,
    'ivm.tick() declares (epoch, rows_in, rows_out, views_processed, views_skipped, views_recomputed, duration_ms)');

-- ... and as a real tick returns them
CREATE TEMP TABLE tick_out AS SELECT * FROM ivm.tick();
SELECT columns_are('tick_out',
    ARRAY['epoch', 'rows_in', 'rows_out', 'views_processed', 'views_skipped',
          'views_recomputed', 'duration_ms'],
    'SELECT * FROM ivm.tick() has exactly the documented columns');
SELECT col_type_is('tick_out', 'epoch', 'bigint', 'tick: epoch is bigint');
SELECT col_type_is('tick_out', 'rows_in', 'bigint', 'tick: rows_in is bigint');
SELECT col_type_is('tick_out', 'rows_out', 'bigint', 'tick: rows_out is bigint');
SELECT col_type_is('tick_out', 'views_processed', 'integer', 'tick: views_processed is integer');
SELECT col_type_is('tick_out', 'views_skipped', 'integer', 'tick: views_skipped is integer');
SELECT col_type_is('tick_out', 'views_recomputed', 'integer', 'tick: views_recomputed is integer');
SELECT col_type_is('tick_out', 'duration_ms', 'double precision', 'tick: duration_ms is double precision');
SELECT is((SELECT count(*)::int FROM tick_out), 1, 'ivm.tick() returns one row');
SELECT ok((SELECT duration_ms >= 0 AND epoch > 0 FROM tick_out),
          'ivm.tick(): epoch is positive and duration_ms not negative');

-- introspection views
SELECT has_view('ivm', 'views', 'view ivm.views exists');
SELECT has_view('ivm', 'sources', 'view ivm.sources exists');
SELECT has_view('ivm', 'dependencies', 'view ivm.dependencies exists');
SELECT has_view('ivm', 'evidence', 'view ivm.evidence exists');

SELECT has_column('ivm', 'views', 'name', 'ivm.views has name');
SELECT has_column('ivm', 'views', 'query', 'ivm.views has query');
SELECT has_column('ivm', 'views', 'strategy', 'ivm.views has strategy');
SELECT has_column('ivm', 'views', 'rows', 'ivm.views has rows');
SELECT has_column('ivm', 'views', 'last_epoch', 'ivm.views has last_epoch');
SELECT has_column('ivm', 'views', 'last_duration_ms', 'ivm.views has last_duration_ms');
SELECT has_column('ivm', 'views', 'state', 'ivm.views has state');
SELECT col_type_is('ivm', 'views', 'query', 'text', 'ivm.views.query is text');
SELECT col_type_is('ivm', 'views', 'strategy', 'text', 'ivm.views.strategy is text');
SELECT col_type_is('ivm', 'views', 'rows', 'bigint', 'ivm.views.rows is bigint');
SELECT col_type_is('ivm', 'views', 'last_epoch', 'bigint', 'ivm.views.last_epoch is bigint');
SELECT col_type_is('ivm', 'views', 'last_duration_ms', 'double precision',
                   'ivm.views.last_duration_ms is double precision');
SELECT col_type_is('ivm', 'views', 'state', 'text', 'ivm.views.state is text');

SELECT has_column('ivm', 'sources', 'source', 'ivm.sources has source');
SELECT has_column('ivm', 'sources', 'kind', 'ivm.sources has kind');
SELECT has_column('ivm', 'dependencies', 'view', 'ivm.dependencies has view');
SELECT has_column('ivm', 'dependencies', 'source', 'ivm.dependencies has source');

SELECT columns_are('ivm', 'evidence',
    ARRAY['epoch', 'view', 'strategy', 'delta_in', 'delta_out', 'view_rows', 'duration_us',
          'recorded_at'],
    'ivm.evidence has the documented columns (and recorded_at)');
SELECT col_type_is('ivm', 'evidence', 'epoch', 'bigint', 'ivm.evidence.epoch is bigint');
SELECT col_type_is('ivm', 'evidence', 'strategy', 'text', 'ivm.evidence.strategy is text');
SELECT col_type_is('ivm', 'evidence', 'delta_in', 'bigint', 'ivm.evidence.delta_in is bigint');
SELECT col_type_is('ivm', 'evidence', 'delta_out', 'bigint', 'ivm.evidence.delta_out is bigint');
SELECT col_type_is('ivm', 'evidence', 'view_rows', 'bigint', 'ivm.evidence.view_rows is bigint');
SELECT col_type_is('ivm', 'evidence', 'duration_us', 'bigint', 'ivm.evidence.duration_us is bigint');

-- every role may read the introspection views, nobody but ivm reads its catalog
SELECT ok(has_table_privilege('public', 'ivm.views', 'SELECT'), 'PUBLIC may read ivm.views');
SELECT ok(has_table_privilege('public', 'ivm.sources', 'SELECT'), 'PUBLIC may read ivm.sources');
SELECT ok(has_table_privilege('public', 'ivm.dependencies', 'SELECT'),
          'PUBLIC may read ivm.dependencies');
SELECT ok(has_table_privilege('public', 'ivm.evidence', 'SELECT'), 'PUBLIC may read ivm.evidence');
SELECT ok(NOT has_table_privilege('public', 'ivm._changes', 'SELECT'),
          'PUBLIC may not read the change log ivm._changes');

-- settings (SPEC: all under the reserved prefix ivm.)
SELECT is(current_setting('ivm.full_recompute'), 'off', 'ivm.full_recompute defaults to off');
SELECT is(current_setting('ivm.fallback_ratio')::float8, 0.5::float8,
          'ivm.fallback_ratio defaults to 0.5');
SELECT throws_ok($$SET ivm.no_such_setting = 1$$, '42602', NULL,
                 'unknown settings under the reserved prefix ivm. are refused');

SELECT * FROM finish();
ROLLBACK;
