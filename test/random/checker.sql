-- test/random/checker.sql -- the checker of the randomised test: it compares
-- every view listed in rt_views with its query.  Loaded by setup.sql, and by
-- test/dump/run.sh into a database restored from a full checkpoint.

\ir ../lib/view_diff.sql

-- rt_fragile_broken(): whether table q (IVM_FAILING=1) holds a row that its
-- fragile views cannot cast.
CREATE FUNCTION rt_fragile_broken() RETURNS bool
LANGUAGE plpgsql AS $fn$
DECLARE
    broken bool;
BEGIN
    IF to_regclass('q') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE $q$SELECT EXISTS (SELECT 1 FROM q WHERE s !~ '^[0-9]+$')$q$ INTO broken;
    RETURN broken;
END
$fn$;

-- rt_check(seed, tick): compare every view with its query as multisets.
-- On a difference: a WARNING per differing view with up to 20 rows of each
-- side, then an ERROR naming the seed, the tick and the views.  A view in
-- state 'failed' (quarantined) must be a fragile one while q holds a bad
-- row, and a fragile view must be failed then.
CREATE FUNCTION rt_check(p_seed text, p_tick int) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    r       record;
    diffs   text[];
    bad     text[] := '{}';
    broken  bool := rt_fragile_broken();
    failed  bool;
BEGIN
    FOR r IN SELECT name, query, exact, fragile FROM rt_views ORDER BY ord LOOP
        failed := EXISTS (SELECT 1 FROM ivm.views v WHERE v.name = r.name::regclass AND v.state = 'failed');
        IF failed OR (r.fragile AND broken) THEN
            IF NOT (failed AND r.fragile AND broken) THEN
                bad := bad || r.name;
                RAISE WARNING '%', format('QUARANTINE seed=%s tick=%s view=%s: state failed=%s, fragile=%s, bad row in q=%s',
                    p_seed, p_tick, r.name, failed, r.fragile, broken);
            END IF;
            CONTINUE;
        END IF;
        -- an exact view: its rows' text (numeric 1.0 and 1.00 differ)
        SELECT array_agg(x ORDER BY x) INTO diffs FROM test_view_diff(r.name, r.query, r.exact) x;
        IF diffs IS NOT NULL THEN
            bad := bad || r.name;
            RAISE WARNING '%', format(E'MISMATCH seed=%s tick=%s view=%s (%s differing rows, up to 20 shown)\nquery: %s\n%s',
                p_seed, p_tick, r.name, cardinality(diffs), r.query,
                array_to_string(diffs[1:20], E'\n'));
        END IF;
    END LOOP;
    IF cardinality(bad) > 0 THEN
        RAISE EXCEPTION 'randomised test failed: seed=% tick=% views=%', p_seed, p_tick, bad
            USING HINT = format('Replay with IVM_SEED=%s bash test/random/run.sh', p_seed);
    END IF;
END
$fn$;

-- rt_after_tick(seed, tick, quiet, rows_in, rows_out): called after each
-- committed tick with the tick's counters.  When quiet (no write committed
-- since the previous tick) the tick must have consumed and emitted nothing.
-- Then every view is compared with its query.
CREATE FUNCTION rt_after_tick(p_seed text, p_tick int, p_quiet bool,
                              p_rows_in bigint, p_rows_out bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF p_quiet AND (p_rows_in <> 0 OR p_rows_out <> 0) THEN
        RAISE EXCEPTION 'randomised test failed: seed=% tick=%: a tick with no write committed since the previous tick reported rows_in=% rows_out=%',
            p_seed, p_tick, p_rows_in, p_rows_out;
    END IF;
    PERFORM rt_check(p_seed, p_tick);
END
$fn$;
