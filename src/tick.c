/*-------------------------------------------------------------------------
 *
 * tick.c
 *		One epoch: take the step lock, take one snapshot, consume every delta
 *		visible in it, walk the DAG of views in topological order, maintain
 *		each view one of whose inputs changed, record evidence, and queue the
 *		notifications that go out when the caller's transaction commits.
 *
 * Locking and visibility:
 *	- The step lock is the single row of ivm._state, locked FOR UPDATE.
 *	  Ticks serialise on it; writers never touch it, so they never wait for
 *	  a tick and a tick never waits for them.
 *	- The snapshot is taken after the lock is granted, so it sees everything
 *	  the previous tick committed.  Every statement of the tick runs at that
 *	  snapshot (with the command counter advanced, so the tick sees its own
 *	  writes): the delta logs consumed and the base tables the queries read
 *	  agree exactly.  A delta committed after the snapshot stays in its log
 *	  for the next tick; deleting only the rows the snapshot sees cannot
 *	  touch it.
 *	- In REPEATABLE READ or SERIALIZABLE, a tick whose transaction snapshot
 *	  predates another tick's commit fails on the lock with a serialization
 *	  error and changes nothing.
 *	- All of it happens in the caller's transaction: views, logs, epoch and
 *	  notifications commit together or not at all.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ivm.h"

PG_FUNCTION_INFO_V1(ivm_tick);
PG_FUNCTION_INFO_V1(ivm_refresh);

#define TICK_RESULT_COLUMNS 7

/* A view as the tick sees it. */
typedef struct TickView
{
	int			id;
	Oid			viewrel;
	Oid			storagerel;
	Oid			owner;
	char	   *name;
	char	   *query;
	bool		needs_recompute;
	bool		populated;
	char	   *channel;		/* NULL when not watched */
	uint64		changed_rows;	/* rows it emitted this tick */
} TickView;

/* A captured table as the tick sees it. */
typedef struct TickSource
{
	Oid			relid;
	uint64		consumed;		/* delta rows taken from its log */
	bool		truncated;
} TickSource;

/* error context: which view a failing statement was maintaining */
static void
TickErrorContext(void *arg)
{
	errcontext("while maintaining incremental view \"%s\"", (const char *) arg);
}

/*
 * IvmExecSnap
 *		Prepare and run one statement at snap (advancing its command id so
 *		earlier writes of this tick are visible), or, without a snapshot,
 *		the ordinary way.  Returns the SPI code; results in SPI_tuptable.
 */
int
IvmExecSnap(const char *sql, int nargs, Oid *argtypes, Datum *values,
			const char *nulls, Snapshot snap, long tcount)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);
	int			rc;

	if (plan == NULL)
		elog(ERROR, "ivm: SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (snap != InvalidSnapshot)
		rc = SPI_execute_snapshot(plan, values, nulls, snap, InvalidSnapshot,
								  false, true, tcount);
	else
		rc = SPI_execute_plan(plan, values, nulls, false, tcount);
	SPI_freeplan(plan);
	return rc;
}

/* Column col of row row of SPI_tuptable, or (Datum) 0 when null. */
static Datum
GetCol(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? (Datum) 0 : d;
}

/*
 * ConsumeDeltas
 *		Take every delta the snapshot sees out of the logs; mark truncated
 *		tables.  Returns the sources, in *nsources.
 */
static TickSource *
ConsumeDeltas(Snapshot snap, int *nsources, uint64 *rows_in)
{
	TickSource *sources;
	char	  **lognames;
	int			n;
	int			rc;

	rc = IvmExecSnap("SELECT relid::oid, logrel::text FROM ivm._sources ORDER BY id",
					 0, NULL, NULL, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing sources");
	n = (int) SPI_processed;
	sources = palloc0(sizeof(TickSource) * Max(n, 1));
	lognames = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		sources[i].relid = DatumGetObjectId(GetCol(i, 1));
		lognames[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	SPI_freetuptable(SPI_tuptable);

	for (int i = 0; i < n; i++)
	{
		StringInfoData sql;

		initStringInfo(&sql);
		appendStringInfo(&sql, "WITH d AS (DELETE FROM %s RETURNING 1) SELECT count(*) FROM d",
						 lognames[i]);
		rc = IvmExecSnap(sql.data, 0, NULL, NULL, NULL, snap, 0);
		IvmSpiCheck(rc, SPI_OK_SELECT, "consuming a delta log");
		sources[i].consumed = (uint64) DatumGetInt64(GetCol(0, 1));
		*rows_in += sources[i].consumed;
		SPI_freetuptable(SPI_tuptable);
		pfree(sql.data);
	}

	rc = IvmExecSnap("WITH d AS (DELETE FROM ivm._truncated RETURNING relid) "
					 "SELECT DISTINCT relid::oid FROM d",
					 0, NULL, NULL, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "consuming truncation markers");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		Oid			relid = DatumGetObjectId(GetCol((int) r, 1));

		for (int i = 0; i < n; i++)
			if (sources[i].relid == relid)
				sources[i].truncated = true;
	}
	SPI_freetuptable(SPI_tuptable);

	*nsources = n;
	return sources;
}

/*
 * LoadViews
 *		Every view, in topological order (level, then creation).
 */
static TickView *
LoadViews(Snapshot snap, int *nviews)
{
	TickView   *views;
	int			n;
	int			rc;

	/* the query runs as the owner of the definition, as a view's would */
	rc = IvmExecSnap("SELECT v.id, v.viewrel::oid, v.storagerel::oid, "
					 "(SELECT d.relowner FROM pg_catalog.pg_class d WHERE d.oid = v.defrel), "
					 "c.relname::text, format('SELECT * FROM %s', v.defrel), v.needs_recompute, "
					 "v.populated, w.channel "
					 "FROM ivm._views v JOIN pg_catalog.pg_class c ON c.oid = v.viewrel "
					 "LEFT JOIN ivm._watches w ON w.view_id = v.id "
					 "ORDER BY v.level, v.id",
					 0, NULL, NULL, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing views");
	n = (int) SPI_processed;
	views = palloc0(sizeof(TickView) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		views[i].id = DatumGetInt32(GetCol(i, 1));
		views[i].viewrel = DatumGetObjectId(GetCol(i, 2));
		views[i].storagerel = DatumGetObjectId(GetCol(i, 3));
		views[i].owner = DatumGetObjectId(GetCol(i, 4));
		views[i].name = SPI_getvalue(tup, desc, 5);
		views[i].query = SPI_getvalue(tup, desc, 6);
		views[i].needs_recompute = DatumGetBool(GetCol(i, 7));
		views[i].populated = DatumGetBool(GetCol(i, 8));
		views[i].channel = SPI_getvalue(tup, desc, 9);
	}
	SPI_freetuptable(SPI_tuptable);
	*nviews = n;
	return views;
}

/*
 * IvmRunTick
 *		Run one tick.  force_view_id > 0 recomputes that view even if none of
 *		its inputs changed (REFRESH).  Fills result_values with the columns of
 *		ivm.tick().
 */
void
IvmRunTick(int force_view_id, Datum *result_values)
{
	TimestampTz start = GetCurrentTimestamp();
	MemoryContext tickcxt;
	MemoryContext oldcxt;
	IvmUserSave save;
	int			save_nestlevel;
	Snapshot	snap;
	int64		epoch;
	int			rc;
	TickSource *sources;
	int			nsources;
	TickView   *views;
	int			nviews;
	int			ndeps;
	int		   *dep_view;
	Oid		   *dep_source;
	int		   *dep_source_view;
	uint64		rows_in = 0;
	uint64		rows_out = 0;
	int			processed = 0;
	int			skipped = 0;
	int			recomputed = 0;
	double		duration_ms;

	IvmCheckPreloaded();

	tickcxt = AllocSetContextCreate(CurrentMemoryContext, "ivm tick",
									ALLOCSET_DEFAULT_SIZES);

	IvmSpiConnect();
	oldcxt = MemoryContextSwitchTo(tickcxt);

	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	IvmBecome(IvmSchemaOwner(), false, &save);

	/* the step lock, then the snapshot */
	rc = SPI_execute("SELECT epoch FROM ivm._state FOR UPDATE", false, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "taking the step lock");
	if (SPI_processed != 1)
		elog(ERROR, "ivm: ivm._state must hold exactly one row");
	epoch = DatumGetInt64(GetCol(0, 1)) + 1;
	SPI_freetuptable(SPI_tuptable);
	snap = RegisterSnapshot(GetTransactionSnapshot());

	sources = ConsumeDeltas(snap, &nsources, &rows_in);
	views = LoadViews(snap, &nviews);

	rc = IvmExecSnap("SELECT view_id, source::oid, coalesce(source_view_id, 0) FROM ivm._deps",
					 0, NULL, NULL, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing dependencies");
	ndeps = (int) SPI_processed;
	dep_view = palloc(sizeof(int) * Max(ndeps, 1));
	dep_source = palloc(sizeof(Oid) * Max(ndeps, 1));
	dep_source_view = palloc(sizeof(int) * Max(ndeps, 1));
	for (int i = 0; i < ndeps; i++)
	{
		dep_view[i] = DatumGetInt32(GetCol(i, 1));
		dep_source[i] = DatumGetObjectId(GetCol(i, 2));
		dep_source_view[i] = DatumGetInt32(GetCol(i, 3));
	}
	SPI_freetuptable(SPI_tuptable);

	for (int v = 0; v < nviews; v++)
	{
		TickView   *view = &views[v];
		bool		dirty = false;
		bool		recompute = view->needs_recompute || !view->populated ||
			view->id == force_view_id || ivm_full_recompute;
		uint64		delta_in = 0;
		TimestampTz vstart;
		IvmDiffResult res;
		int64		duration_us;
		ErrorContextCallback errcallback;

		CHECK_FOR_INTERRUPTS();

		for (int d = 0; d < ndeps; d++)
		{
			if (dep_view[d] != view->id)
				continue;
			if (dep_source_view[d] != 0)
			{
				for (int u = 0; u < v; u++)
					if (views[u].id == dep_source_view[d] && views[u].changed_rows > 0)
					{
						dirty = true;
						delta_in += views[u].changed_rows;
					}
				continue;
			}
			for (int s = 0; s < nsources; s++)
			{
				if (sources[s].relid != dep_source[d])
					continue;
				if (sources[s].consumed > 0)
					dirty = true;
				if (sources[s].truncated)
					dirty = recompute = true;
				delta_in += sources[s].consumed;
			}
		}
		if (view->needs_recompute || !view->populated || view->id == force_view_id)
			dirty = true;
		if (!dirty)
		{
			skipped++;
			continue;
		}

		vstart = GetCurrentTimestamp();
		errcallback.callback = TickErrorContext;
		errcallback.arg = view->name;
		errcallback.previous = error_context_stack;
		error_context_stack = &errcallback;
		IvmDiffView(view->id, view->storagerel, view->owner, view->name, view->query,
					snap, epoch, view->channel != NULL, &res);
		error_context_stack = errcallback.previous;
		duration_us = GetCurrentTimestamp() - vstart;

		view->changed_rows = res.inserted + res.deleted;
		rows_out += view->changed_rows;
		processed++;
		if (recompute)
			recomputed++;

		{
			Oid			types[8] = {INT8OID, INT4OID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID};
			Datum		args[8];

			args[0] = Int64GetDatum(epoch);
			args[1] = Int32GetDatum(view->id);
			args[2] = CStringGetTextDatum(view->name);
			args[3] = CStringGetTextDatum(recompute ? "recompute" : "diff");
			args[4] = Int64GetDatum((int64) delta_in);
			args[5] = Int64GetDatum((int64) view->changed_rows);
			args[6] = Int64GetDatum((int64) res.rows_after);
			args[7] = Int64GetDatum(duration_us);
			rc = IvmExecSnap("INSERT INTO ivm._evidence (epoch, view_id, view_name, strategy, "
							 "delta_in, delta_out, view_rows, duration_us) "
							 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
							 8, types, args, NULL, snap, 0);
			IvmSpiCheck(rc, SPI_OK_INSERT, "recording evidence");

			args[2] = Float8GetDatum((double) duration_us / 1000.0);
			types[2] = FLOAT8OID;
			args[3] = Int64GetDatum((int64) res.rows_after);
			types[3] = INT8OID;
			rc = IvmExecSnap("UPDATE ivm._views SET last_epoch = $1, last_duration_ms = $3, "
							 "rows = $4, needs_recompute = false, populated = true, state = 'ok' "
							 "WHERE id = $2",
							 4, types, args, NULL, snap, 0);
			IvmSpiCheck(rc, SPI_OK_UPDATE, "recording the view's epoch");
		}

		if (view->channel != NULL && view->changed_rows > 0)
			IvmNotifyWatchers(view->channel, view->viewrel, epoch,
							  res.inserted, res.deleted);
	}

	{
		Oid			types[3] = {INT8OID, INT4OID, INT4OID};
		Datum		args[3];

		args[0] = Int64GetDatum(epoch);
		args[1] = Int32GetDatum(ivm_change_retention);
		args[2] = Int32GetDatum(ivm_evidence_retention);
		rc = IvmExecSnap("UPDATE ivm._state SET epoch = $1", 1, types, args, NULL, snap, 0);
		IvmSpiCheck(rc, SPI_OK_UPDATE, "advancing the epoch");
		rc = IvmExecSnap("DELETE FROM ivm._changes WHERE epoch <= $1 - $2",
						 2, types, args, NULL, snap, 0);
		IvmSpiCheck(rc, SPI_OK_DELETE, "pruning the change log");
		args[1] = args[2];
		rc = IvmExecSnap("DELETE FROM ivm._evidence WHERE epoch <= $1 - $2",
						 2, types, args, NULL, snap, 0);
		IvmSpiCheck(rc, SPI_OK_DELETE, "pruning evidence");
	}

	UnregisterSnapshot(snap);
	IvmRestoreUser(&save);
	AtEOXact_GUC(true, save_nestlevel);
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();

	duration_ms = (double) (GetCurrentTimestamp() - start) / 1000.0;
	if (ivm_log_ticks)
		ereport(LOG,
				(errmsg("ivm tick: epoch " INT64_FORMAT ", views_processed %d, views_recomputed %d, "
						"total_delta_size " UINT64_FORMAT ", duration_us " INT64_FORMAT,
						epoch, processed, recomputed, rows_in + rows_out,
						(int64) (duration_ms * 1000.0))));

	result_values[0] = Int64GetDatum(epoch);
	result_values[1] = Int64GetDatum((int64) rows_in);
	result_values[2] = Int64GetDatum((int64) rows_out);
	result_values[3] = Int32GetDatum(processed);
	result_values[4] = Int32GetDatum(skipped);
	result_values[5] = Int32GetDatum(recomputed);
	result_values[6] = Float8GetDatum(duration_ms);
	MemoryContextDelete(tickcxt);
}

/*
 * ivm_tick
 *		SQL: ivm.tick() returns (epoch, rows_in, rows_out, views_processed,
 *		views_skipped, views_recomputed, duration_ms)
 */
Datum
ivm_tick(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[TICK_RESULT_COLUMNS];
	bool		nulls[TICK_RESULT_COLUMNS] = {0};

	IvmCheckPreloaded();
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ivm.tick() must return a record");
	desc = BlessTupleDesc(desc);
	IvmRunTick(0, values);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/*
 * ivm_refresh
 *		SQL: ivm.refresh(view regclass): recompute that view now, in a tick
 *		(so pending deltas are consumed and its changes reach the views that
 *		read it and its watchers).  Only the view's owner may.
 */
Datum
ivm_refresh(PG_FUNCTION_ARGS)
{
	Oid			viewoid = PG_GETARG_OID(0);
	Datum		values[TICK_RESULT_COLUMNS];
	int			view_id;

	IvmCheckPreloaded();
	view_id = IvmLookupView(viewoid, NULL);
	if (view_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s\" is not an incremental view", get_rel_name(viewoid)),
				 errhint("ivm.views lists the incremental views.")));
	if (!pg_class_ownercheck(viewoid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_VIEW, get_rel_name(viewoid));

	IvmRunTick(view_id, values);
	PG_RETURN_VOID();
}
