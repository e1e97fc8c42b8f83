/*-------------------------------------------------------------------------
 *
 * watch.c
 *		How changes are announced: one NOTIFY per watched view that changed
 *		in a tick, queued in the tick's transaction so it goes out at commit
 *		and never if the tick rolls back.
 *
 * The payload carries counts only, never rows: LISTEN has no privilege
 * check.  The rows are in ivm._changes (IvmLogChanges, which the tick
 * calls), which ivm.changes() shows only to roles with SELECT on the view.
 *
 * Layer: work.  Calls catalog, exec and rights; tick.c calls it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "ivm.h"
#include "exec.h"
#include "catalog.h"
#include "work.h"

PG_FUNCTION_INFO_V1(ivm_watch);
PG_FUNCTION_INFO_V1(ivm_unwatch);
PG_FUNCTION_INFO_V1(ivm_changes);

/*
 * IvmNotifyWatchers
 *		Queue {"view", "schema", "epoch", "inserted", "deleted"} on channel.
 */
void
IvmNotifyWatchers(const char *channel, Oid viewrel, int64 epoch,
				  uint64 inserted, uint64 deleted)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"view\": ");
	escape_json(&payload, get_rel_name(viewrel));
	appendStringInfoString(&payload, ", \"schema\": ");
	escape_json(&payload, get_namespace_name(get_rel_namespace(viewrel)));
	appendStringInfo(&payload,
					 ", \"epoch\": " INT64_FORMAT ", \"inserted\": " UINT64_FORMAT
					 ", \"deleted\": " UINT64_FORMAT "}",
					 epoch, inserted, deleted);
	Async_Notify(channel, payload.data);
	pfree(payload.data);
}

/* Rows of a query gathered into a tuplestore, a batch at a time. */
typedef struct StoredBatches
{
	Tuplestorestate *rows;
	TupleDesc	desc;			/* the rows' shape, from the first batch */
} StoredBatches;

static bool
StoreBatch(SPITupleTable *tt, uint64 n, void *arg)
{
	StoredBatches *store = arg;

	if (store->desc == NULL)
		store->desc = CreateTupleDescCopy(tt->tupdesc);
	for (uint64 i = 0; i < n; i++)
		tuplestore_puttuple(store->rows, tt->vals[i]);
	return true;
}

/* (weight int8, row jsonb): the shape of a change log's rows */
static TupleDesc
ChangedRowsDesc(void)
{
	TupleDesc	desc = CreateTemplateTupleDesc(2);

	TupleDescInitEntry(desc, 1, "w", INT8OID, -1, 0);
	TupleDescInitEntry(desc, 2, "r", JSONBOID, -1, 0);
	return desc;
}

/*
 * IvmLogChanges
 *		Append a watched view's delta (the rows of delta, shaped by vdesc:
 *		its columns, then the weight) to its change log.
 *		The rows become jsonb as the view's owner: to_jsonb runs the output
 *		functions and casts to json of the view's column types, which a user
 *		may have written.  Only the finished jsonb values are written as ivm.
 */
void
IvmLogChanges(int view_id, Oid owner, Tuplestorestate *delta, TupleDesc vdesc,
			  int64 epoch, Snapshot snap)
{
	IvmUserSave osave;
	StoredBatches store;
	Tuplestorestate *rows;
	TupleDesc	desc;
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		args[2];
	int			rc;
	char		enrname[NAMEDATALEN];
	char	   *sql;

	/* named for the view: kept plans are keyed by their text */
	snprintf(enrname, sizeof(enrname), "ivm_changes_%d", view_id);
	sql = psprintf("SELECT d.%s, pg_catalog.to_jsonb(d) OPERATOR(pg_catalog.-) '%s' FROM %s d",
				   IVM_WEIGHT_COLUMN, IVM_WEIGHT_COLUMN, enrname);

	/* names a failed view's subtransaction may have left registered */
	(void) SPI_unregister_relation(enrname);
	(void) SPI_unregister_relation("ivm_changed_rows");

	IvmRegisterTuplestore(enrname, delta, vdesc);
	/* a batch at a time into a store that spills: a large delta is not held whole */
	memset(&store, 0, sizeof(store));
	store.rows = tuplestore_begin_heap(false, false, work_mem);
	IvmBecome(owner, true, &osave);
	IvmFetchBatches(sql, 0, NULL, NULL, snap, 0, StoreBatch, &store);
	IvmRestoreUser(&osave);
	rows = store.rows;
	desc = store.desc != NULL ? store.desc : ChangedRowsDesc();

	IvmRegisterTuplestore("ivm_changed_rows", rows, desc);
	args[0] = Int32GetDatum(view_id);
	args[1] = Int64GetDatum(epoch);
	rc = IvmExecSnap("INSERT INTO ivm._changes (view_id, epoch, _weight, row) "
					 "SELECT $1, $2, c.w, c.r FROM ivm_changed_rows c (w, r)",
					 2, types, args, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_INSERT, "logging the view's changes");
	rc = SPI_unregister_relation("ivm_changed_rows");
	IvmSpiCheck(rc, SPI_OK_REL_UNREGISTER, "unregistering the view's changes");
	rc = SPI_unregister_relation(enrname);
	IvmSpiCheck(rc, SPI_OK_REL_UNREGISTER, "unregistering the view's delta");
	tuplestore_end(rows);
}

/*
 * RequireWatchableView
 *		The id of incremental view viewoid, after checking that the calling
 *		role may SELECT from it (watches and changes reveal its contents).
 */
static int
RequireWatchableView(Oid viewoid, const char *action)
{
	Oid			storage = InvalidOid;
	int			view_id = IvmLookupView(viewoid, &storage);

	if (view_id == 0 || storage == viewoid)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s\" is not an incremental view", get_rel_name(viewoid)),
				 errhint("ivm.views lists the incremental views.")));
	if (pg_class_aclcheck(viewoid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for view %s", get_rel_name(viewoid)),
				 errhint("%s requires SELECT on the view.", action)));
	return view_id;
}

/*
 * ChannelFor
 *		ivm_<view name> when it fits in an identifier (63 bytes) and no other
 *		view's watch uses it; else the name cut to fit, then _<view id>, so
 *		that no two views ever share a channel (two long names that share
 *		their first bytes, or one name in two schemas).  Caller is connected
 *		to SPI as the owner of schema ivm.
 */
static char *
ChannelFor(Oid viewoid, int view_id)
{
	char	   *channel = psprintf("ivm_%s", get_rel_name(viewoid));
	int			len = strlen(channel);
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	int			rc;
	bool		taken;

	args[0] = CStringGetTextDatum(channel);
	args[1] = Int32GetDatum(view_id);
	rc = SPI_execute_with_args("SELECT 1 FROM ivm._watches WHERE channel = $1 AND view_id <> $2",
							   2, types, args, NULL, true, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking for a channel in use");
	taken = SPI_processed > 0;
	if (len >= NAMEDATALEN || taken)
	{
		char		suffix[16];
		int			keep;

		snprintf(suffix, sizeof(suffix), "_%d", view_id);
		keep = pg_mbcliplen(channel, len, NAMEDATALEN - 1 - (int) strlen(suffix));
		channel[keep] = '\0';
		channel = psprintf("%s%s", channel, suffix);
	}
	return channel;
}

/*
 * ivm_watch
 *		SQL: ivm.watch(view regclass) returns text: the channel.
 */
Datum
ivm_watch(PG_FUNCTION_ARGS)
{
	Oid			viewoid = PG_GETARG_OID(0);
	Oid			watcher = GetUserId();
	int			view_id;
	char	   *channel;
	IvmUserSave save;
	Oid			types[3] = {INT4OID, TEXTOID, REGROLEOID};
	Datum		args[3];
	int			rc;

	IvmCheckPreloaded();
	IvmCheckArgNotNull(fcinfo, 0, "view", "ivm.watch");
	IvmCheckUserEntry("watch a view");
	IvmCheckWritable("watch a view");
	view_id = RequireWatchableView(viewoid, "Watching a view");

	IvmCatalogBegin(&save);
	channel = ChannelFor(viewoid, view_id);
	args[0] = Int32GetDatum(view_id);
	args[1] = CStringGetTextDatum(channel);
	args[2] = ObjectIdGetDatum(watcher);
	/* a second watch keeps the channel and the role that made the watch */
	rc = SPI_execute_with_args("INSERT INTO ivm._watches (view_id, channel, watcher) VALUES ($1, $2, $3) "
							   "ON CONFLICT (view_id) DO UPDATE SET channel = ivm._watches.channel "
							   "RETURNING channel",
							   3, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_INSERT_RETURNING, "recording a watch");
	channel = MemoryContextStrdup(TopTransactionContext,
								  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	IvmCatalogEnd(&save);
	PG_RETURN_TEXT_P(cstring_to_text(channel));
}

/*
 * ivm_unwatch
 *		SQL: ivm.unwatch(view regclass) returns boolean: whether it was watched.
 *		Its change log goes with the watch, so only the view's owner and the
 *		role that made the watch (or their members) may drop it: other
 *		readers of the view may rely on the log.
 */
Datum
ivm_unwatch(PG_FUNCTION_ARGS)
{
	Oid			viewoid = PG_GETARG_OID(0);
	Oid			caller = GetUserId();
	int			view_id;
	IvmUserSave save;
	Oid			types[1] = {INT4OID};
	Datum		args[1];
	int			rc;
	bool		was_watched;

	IvmCheckPreloaded();
	IvmCheckArgNotNull(fcinfo, 0, "view", "ivm.unwatch");
	IvmCheckUserEntry("unwatch a view");
	IvmCheckWritable("unwatch a view");
	view_id = RequireWatchableView(viewoid, "Unwatching a view");

	IvmCatalogBegin(&save);
	args[0] = Int32GetDatum(view_id);
	rc = SPI_execute_with_args("SELECT watcher::oid FROM ivm._watches WHERE view_id = $1 FOR UPDATE",
							   1, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking up a watch");
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		w = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!has_privs_of_role(caller, IvmRelationOwner(viewoid)) &&
			(isnull || !has_privs_of_role(caller, DatumGetObjectId(w))))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to unwatch view %s", get_rel_name(viewoid)),
					 errdetail("Unwatching drops the view's change log, which other roles may read."),
					 errhint("Ask the view's owner or the role that watched it to call ivm.unwatch().")));
	}
	rc = SPI_execute_with_args("DELETE FROM ivm._changes WHERE view_id = $1",
							   1, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_DELETE, "dropping a change log");
	rc = SPI_execute_with_args("DELETE FROM ivm._watches WHERE view_id = $1",
							   1, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_DELETE, "dropping a watch");
	was_watched = SPI_processed > 0;
	IvmCatalogEnd(&save);
	PG_RETURN_BOOL(was_watched);
}

/* a batch of change log rows into the result of ivm.changes() (arg) */
static bool
ChangesBatch(SPITupleTable *tt, uint64 n, void *arg)
{
	ReturnSetInfo *rsinfo = arg;

	for (uint64 i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3];

		for (int c = 0; c < 3; c++)
			values[c] = SPI_getbinval(tt->vals[i], tt->tupdesc, c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return true;
}

/*
 * ivm_changes
 *		SQL: ivm.changes(view regclass, since_epoch bigint) returns
 *		setof (epoch bigint, _weight bigint, row jsonb): the change log of a
 *		watched view after since_epoch, to roles that may SELECT the view.
 */
Datum
ivm_changes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			viewoid;
	int64		since;
	int			view_id;
	IvmUserSave save;
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		args[2];
	int			rc;

	IvmCheckPreloaded();
	IvmCheckArgNotNull(fcinfo, 0, "view", "ivm.changes");
	IvmCheckArgNotNull(fcinfo, 1, "since_epoch", "ivm.changes");
	viewoid = PG_GETARG_OID(0);
	since = PG_GETARG_INT64(1);
	view_id = RequireWatchableView(viewoid, "Reading the changes of a view");
	InitMaterializedSRF(fcinfo, 0);

	IvmCatalogBegin(&save);
	args[0] = Int32GetDatum(view_id);
	rc = SPI_execute_with_args("SELECT 1 FROM ivm._watches WHERE view_id = $1",
							   1, types, args, NULL, true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking up a watch");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("view \"%s\" is not watched", get_rel_name(viewoid)),
				 errhint("Call ivm.watch() first: changes are kept only for watched views.")));
	args[1] = Int64GetDatum(since);
	/* a batch at a time into the result, which spills: a long log is not held whole */
	IvmFetchBatches("SELECT epoch, _weight, row FROM ivm._changes "
					"WHERE view_id = $1 AND epoch > $2 "
					"ORDER BY epoch, _weight, row::text",
					2, types, args, InvalidSnapshot, 0, ChangesBatch, rsinfo);
	IvmCatalogEnd(&save);
	return (Datum) 0;
}
