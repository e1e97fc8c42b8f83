/*-------------------------------------------------------------------------
 *
 * capture.c
 *		Where a delta is born: statement-level AFTER triggers with transition
 *		tables append each changed row, with a weight, to the source's log.
 *
 * One set of triggers per captured table (and per partition of a captured
 * partitioned table), however many views read it.  The trigger inserts
 * straight into the log heap: no SPI, no planning, no index to maintain,
 * so the write path stays cheap.  INSERT (and COPY) logs +1 rows, DELETE -1
 * rows, UPDATE -old +new; MERGE fires the same per-action triggers.
 * TRUNCATE cannot list its rows: it records a marker, and the next tick
 * recomputes the dependants of that table.
 *
 * Log columns are matched to the source's by name and type, so a source
 * whose columns moved (a partition with another column order, a column
 * added later) still logs correctly; a column whose type no longer matches
 * is logged as NULL and the table is marked for recompute.
 *
 * The guard triggers live here too: an incremental view refuses direct
 * writes, and its storage table accepts them only from maintenance.
 *
 * Layer: work (the capture triggers and their guards).  Calls exec and
 * rights only: nothing on the write path plans or runs SQL but the
 * inserts into the log.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/tuplestore.h"

#include "ivm.h"
#include "exec.h"
#include "work.h"

PG_FUNCTION_INFO_V1(ivm_capture);
PG_FUNCTION_INFO_V1(ivm_refuse_write);
PG_FUNCTION_INFO_V1(ivm_guard_storage);
PG_FUNCTION_INFO_V1(ivm_capture_members);

static bool CaptureMembers(Oid relid, int source_id, const char *logname);

/*
 * BuildColumnMap
 *		For each log column (but the weight), the source attribute number
 *		holding it, or 0 when the source has no column of that name and type.
 *		*type_mismatch is set when a name matches with another type.
 */
static AttrNumber *
BuildColumnMap(TupleDesc logdesc, TupleDesc srcdesc, bool *type_mismatch)
{
	AttrNumber *map = palloc0(sizeof(AttrNumber) * logdesc->natts);

	*type_mismatch = false;
	for (int i = 0; i < logdesc->natts; i++)
	{
		Form_pg_attribute la = TupleDescAttr(logdesc, i);

		if (la->attisdropped)
			continue;
		for (int j = 0; j < srcdesc->natts; j++)
		{
			Form_pg_attribute sa = TupleDescAttr(srcdesc, j);

			if (sa->attisdropped || strcmp(NameStr(la->attname), NameStr(sa->attname)) != 0)
				continue;
			if (sa->atttypid == la->atttypid)
				map[i] = j + 1;
			else
				*type_mismatch = true;
			break;
		}
	}
	return map;
}

/*
 * AppendTransitionRows
 *		Append every row of a transition table to the log with weight.
 */
static uint64
AppendTransitionRows(Relation logrel, Tuplestorestate *ts, TupleDesc srcdesc,
					 AttrNumber *map, int weight_att, int32 weight,
					 MemoryContext rowcxt)
{
	TupleDesc	logdesc = RelationGetDescr(logrel);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(srcdesc, &TTSOpsMinimalTuple);
	Datum	   *values = palloc(sizeof(Datum) * logdesc->natts);
	bool	   *nulls = palloc(sizeof(bool) * logdesc->natts);
	int			ptr;
	uint64		n = 0;

	/* our own read pointer: other triggers may read the same store */
	ptr = tuplestore_alloc_read_pointer(ts, EXEC_FLAG_REWIND);
	tuplestore_select_read_pointer(ts, ptr);
	tuplestore_rescan(ts);

	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		MemoryContext old = MemoryContextSwitchTo(rowcxt);
		HeapTuple	tup;

		slot_getallattrs(slot);
		for (int i = 0; i < logdesc->natts; i++)
		{
			if (i == weight_att)
			{
				values[i] = Int32GetDatum(weight);
				nulls[i] = false;
			}
			else if (map[i] > 0)
			{
				values[i] = slot->tts_values[map[i] - 1];
				nulls[i] = slot->tts_isnull[map[i] - 1];
			}
			else
			{
				values[i] = (Datum) 0;
				nulls[i] = true;
			}
		}
		tup = heap_form_tuple(logdesc, values, nulls);
		simple_heap_insert(logrel, tup);
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
		n++;
	}
	tuplestore_select_read_pointer(ts, 0);
	ExecDropSingleTupleTableSlot(slot);
	return n;
}

/*
 * MarkTruncated
 *		Record that a captured table was truncated: its views are recomputed
 *		at the next tick.  A direct insert, like the rows themselves.
 */
static void
MarkTruncated(Oid source_relid)
{
	Oid			markrelid = get_relname_relid("_truncated",
											  get_namespace_oid(IVM_SCHEMA, false));
	Relation	markrel = table_open(markrelid, RowExclusiveLock);
	Datum		value = ObjectIdGetDatum(source_relid);
	bool		isnull = false;
	HeapTuple	tup = heap_form_tuple(RelationGetDescr(markrel), &value, &isnull);

	simple_heap_insert(markrel, tup);
	table_close(markrel, RowExclusiveLock);
}

/*
 * CheckCaptureTrigger
 *		A capture trigger is one ivm attached: named ivm_capture_<id>_<event>
 *		and writing the log of source <id>, ivm._log_<id>.  Only the
 *		extension's owner may attach ivm._capture (EXECUTE is revoked from
 *		PUBLIC); this keeps a trigger attached by hand from writing into
 *		another source's log.  String work only: the write path stays cheap.
 */
static void
CheckCaptureTrigger(Trigger *trigger)
{
	int			source_id;
	int			consumed = 0;
	char		expected[NAMEDATALEN * 2 + 8];

	if (sscanf(trigger->tgname, "ivm_capture_%d_%*[a-z]%n", &source_id, &consumed) != 1 ||
		consumed != (int) strlen(trigger->tgname))
		source_id = -1;
	snprintf(expected, sizeof(expected), "%s._log_%d", IVM_SCHEMA, source_id);
	if (source_id < 0 || strcmp(trigger->tgargs[0], expected) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" is not a capture trigger of ivm", trigger->tgname),
				 errdetail("ivm._capture() runs only in the triggers ivm attaches to the tables its views read."),
				 errhint("Drop the trigger; ivm.create_view() captures the tables a view reads.")));
}

/*
 * ivm_capture
 *		The capture trigger.  tgargs[0] names the log table; for a partition,
 *		tgargs[1] names the captured ancestor (TRUNCATE markers name it).
 */
Datum
ivm_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	Oid			logrelid;
	Oid			source_relid;
	Relation	logrel;
	TupleDesc	srcdesc;
	AttrNumber *map;
	bool		type_mismatch;
	int			weight_att = -1;
	MemoryContext rowcxt;
	TriggerEvent event;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ivm._capture() must be called as a trigger")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ivm._capture() must be an AFTER ... FOR EACH STATEMENT trigger")));

	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs < 1)
		elog(ERROR, "ivm._capture() needs the log table as its argument");
	CheckCaptureTrigger(trigger);

	event = trigdata->tg_event & TRIGGER_EVENT_OPMASK;
	source_relid = RelationGetRelid(trigdata->tg_relation);
	if (trigger->tgnargs >= 2)
		source_relid = DatumGetObjectId(DirectFunctionCall1(regclassin,
															CStringGetDatum(trigger->tgargs[1])));

	/* at commit, the background worker of this database ticks */
	IvmWakeWorkerAtCommit();

	if (event == TRIGGER_EVENT_TRUNCATE)
	{
		MarkTruncated(source_relid);
		return PointerGetDatum(NULL);
	}

	logrelid = DatumGetObjectId(DirectFunctionCall1(regclassin,
													CStringGetDatum(trigger->tgargs[0])));
	logrel = table_open(logrelid, RowExclusiveLock);
	srcdesc = RelationGetDescr(trigdata->tg_relation);
	map = BuildColumnMap(RelationGetDescr(logrel), srcdesc, &type_mismatch);
	for (int i = 0; i < RelationGetDescr(logrel)->natts; i++)
		if (strcmp(NameStr(TupleDescAttr(RelationGetDescr(logrel), i)->attname),
				   IVM_WEIGHT_COLUMN) == 0)
			weight_att = i;
	if (weight_att < 0)
		elog(ERROR, "delta log \"%s\" has no weight column", RelationGetRelationName(logrel));

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "ivm capture row",
								   ALLOCSET_SMALL_SIZES);

	if (trigdata->tg_oldtable &&
		(event == TRIGGER_EVENT_DELETE || event == TRIGGER_EVENT_UPDATE))
		AppendTransitionRows(logrel, trigdata->tg_oldtable, srcdesc, map,
							 weight_att, -1, rowcxt);
	if (trigdata->tg_newtable &&
		(event == TRIGGER_EVENT_INSERT || event == TRIGGER_EVENT_UPDATE))
		AppendTransitionRows(logrel, trigdata->tg_newtable, srcdesc, map,
							 weight_att, 1, rowcxt);

	MemoryContextDelete(rowcxt);
	table_close(logrel, RowExclusiveLock);

	if (type_mismatch)
		MarkTruncated(source_relid);

	return PointerGetDatum(NULL);
}

/*
 * ivm_refuse_write
 *		INSTEAD OF trigger on an incremental view: its rows come from ticks.
 */
Datum
ivm_refuse_write(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "ivm._refuse_write() must be called as a trigger");

	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("cannot change incremental view \"%s\"",
					RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("Its rows are maintained by ivm.tick() from the tables it reads."),
			 errhint("Write to the tables the view reads, then call ivm.tick().")));
	PG_RETURN_NULL();
}

/*
 * ivm_guard_storage
 *		BEFORE statement trigger on a view's storage table, and (with the
 *		argument 'push') on a push source: writes come only from maintenance
 *		in this backend.
 */
Datum
ivm_guard_storage(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "ivm._guard_storage() must be called as a trigger");
	if (OidIsValid(ivm_maintained_rel) &&
		ivm_maintained_rel == RelationGetRelid(trigdata->tg_relation))
		return PointerGetDatum(NULL);

	if (trigdata->tg_trigger->tgnargs > 0 &&
		strcmp(trigdata->tg_trigger->tgargs[0], "push") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot change push source \"%s\" directly",
						RelationGetRelationName(trigdata->tg_relation)),
				 errdetail("Its rows come from the batches given to ivm.push() and ivm.tick(source, batch)."),
				 errhint("Push a batch of weighted rows; a row with \"_weight\": -1 removes one copy.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot change the storage of an incremental view"),
			 errdetail("Only ivm.tick() and ivm.refresh() write to view storage."),
			 errhint("Write to the tables the view reads, then call ivm.tick().")));
	return PointerGetDatum(NULL);
}

/*
 * CreateCaptureTriggers
 *		Put the four capture triggers on one table.  ancestor, when not NULL,
 *		is the captured table rel belongs to (rel is one of its partitions or
 *		inheritance children).
 */
static void
CreateCaptureTriggers(Oid rel, int source_id, const char *logname, const char *ancestor)
{
	static const struct
	{
		const char *suffix;
		const char *event;
		const char *referencing;
	}			kinds[] =
	{
		{"ins", "INSERT", "REFERENCING NEW TABLE AS ivm_new"},
		{"upd", "UPDATE", "REFERENCING OLD TABLE AS ivm_old NEW TABLE AS ivm_new"},
		{"del", "DELETE", "REFERENCING OLD TABLE AS ivm_old"},
		{"trunc", "TRUNCATE", ""},
	};
	char	   *relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(rel)),
													 get_rel_name(rel));

	for (int i = 0; i < lengthof(kinds); i++)
	{
		StringInfoData sql;
		char		trigname[NAMEDATALEN];
		int			rc;

		snprintf(trigname, sizeof(trigname), "ivm_capture_%d_%s", source_id, kinds[i].suffix);
		initStringInfo(&sql);
		appendStringInfo(&sql,
						 "CREATE TRIGGER %s AFTER %s ON %s %s FOR EACH STATEMENT "
						 "EXECUTE FUNCTION ivm._capture(%s",
						 quote_identifier(trigname), kinds[i].event, relname,
						 kinds[i].referencing, quote_literal_cstr(logname));
		if (ancestor)
			appendStringInfo(&sql, ", %s", quote_literal_cstr(ancestor));
		appendStringInfoString(&sql, ")");
		rc = SPI_execute(sql.data, false, 0);
		IvmSpiCheck(rc, SPI_OK_UTILITY, "creating a capture trigger");
		pfree(sql.data);
	}
}

/*
 * IvmEnsureCaptured
 *		Give a table (and its partitions or inheritance children) a delta log
 *		and capture triggers, unless it has them already.
 *
 * Caller is connected to SPI and runs as the owner of schema ivm.
 */
void
IvmEnsureCaptured(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	int			rc;
	int			source_id;
	char		logrelname[NAMEDATALEN];
	char	   *logname;
	StringInfoData sql;
	Relation	rel;
	TupleDesc	desc;
	bool		isnull;

	args[0] = ObjectIdGetDatum(relid);
	rc = SPI_execute_with_args("SELECT 1 FROM ivm._sources WHERE relid = $1",
							   1, argtypes, args, NULL, false, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking up a source");
	if (SPI_processed > 0)
		return;

	rc = SPI_execute("SELECT nextval(pg_get_serial_sequence('ivm._sources', 'id'))::int4",
					 false, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "numbering a source");
	source_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											1, &isnull));

	snprintf(logrelname, sizeof(logrelname), "_log_%d", source_id);
	logname = quote_qualified_identifier(IVM_SCHEMA, logrelname);

	/* the log: the table's live columns, then the weight */
	rel = table_open(relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (", logname);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		appendStringInfo(&sql, "%s %s",
						 quote_identifier(NameStr(att->attname)),
						 format_type_with_typemod(att->atttypid, att->atttypmod));
		if (OidIsValid(att->attcollation) &&
			att->attcollation != get_typcollation(att->atttypid))
			appendStringInfo(&sql, " COLLATE %s", generate_collation_name(att->attcollation));
		appendStringInfoString(&sql, ", ");
	}
	appendStringInfo(&sql, "%s integer NOT NULL)", IVM_WEIGHT_COLUMN);
	table_close(rel, AccessShareLock);

	rc = SPI_execute(sql.data, false, 0);
	IvmSpiCheck(rc, SPI_OK_UTILITY, "creating a delta log");

	{
		Oid			types[3] = {INT4OID, OIDOID, TEXTOID};
		Datum		vals[3];

		vals[0] = Int32GetDatum(source_id);
		vals[1] = ObjectIdGetDatum(relid);
		vals[2] = CStringGetTextDatum(logname);
		rc = SPI_execute_with_args("INSERT INTO ivm._sources (id, relid, logrel) "
								   "VALUES ($1, $2, $3::regclass)",
								   3, types, vals, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_INSERT, "recording a source");
	}

	CaptureMembers(relid, source_id, logname);
}

/*
 * CaptureMembers
 *		Keep the capture triggers of one captured table in step with its
 *		partitions and inheritance children: put them on members that lack
 *		them, take them off tables that left the tree.  Returns true when
 *		the membership changed, which changes what the table holds without
 *		any row being written: the caller marks its views for recompute.
 *
 * Caller is connected to SPI and runs as the owner of schema ivm.
 */
static bool
CaptureMembers(Oid relid, int source_id, const char *logname)
{
	char	   *ancestor;
	List	   *members;
	ListCell   *lc;
	char		trigname[NAMEDATALEN];
	Oid			types[1] = {NAMEOID};
	Datum		args[1];
	int			rc;
	bool		changed = false;
	List	   *captured = NIL;

	snprintf(trigname, sizeof(trigname), "ivm_capture_%d_ins", source_id);
	args[0] = CStringGetDatum(trigname);
	rc = SPI_execute_with_args("SELECT tgrelid FROM pg_catalog.pg_trigger WHERE tgname = $1",
							   1, types, args, NULL, true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing capture triggers");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		captured = lappend_oid(captured,
							   DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															  SPI_tuptable->tupdesc, 1, &isnull)));
	}

	ancestor = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										  get_rel_name(relid));
	members = find_all_inheritors(relid, AccessShareLock, NULL);
	foreach(lc, members)
	{
		Oid			member = lfirst_oid(lc);
		char		kind = get_rel_relkind(member);

		if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
			continue;			/* a foreign partition cannot be captured */
		if (list_member_oid(captured, member))
			continue;
		CreateCaptureTriggers(member, source_id, logname,
							  member == relid ? NULL : ancestor);
		changed = true;
	}

	foreach(lc, captured)
	{
		Oid			former = lfirst_oid(lc);
		static const char *const suffixes[] = {"ins", "upd", "del", "trunc"};

		if (list_member_oid(members, former))
			continue;
		for (int i = 0; i < lengthof(suffixes); i++)
		{
			char	   *sql;

			snprintf(trigname, sizeof(trigname), "ivm_capture_%d_%s", source_id, suffixes[i]);
			sql = psprintf("DROP TRIGGER IF EXISTS %s ON %s", quote_identifier(trigname),
						   quote_qualified_identifier(get_namespace_name(get_rel_namespace(former)),
													  get_rel_name(former)));
			rc = SPI_execute(sql, false, 0);
			IvmSpiCheck(rc, SPI_OK_UTILITY, "dropping a capture trigger");
		}
		changed = true;
	}
	return changed;
}

/*
 * SyncLogColumns
 *		Give the log a column for every column the table has now, with its
 *		type: after ADD COLUMN, RENAME COLUMN or a type change of a column
 *		no view reads.  Returns true when the log changed: rows logged
 *		before lack the new columns, so the caller marks the table for
 *		recompute.  Caller is connected to SPI as the owner of schema ivm.
 */
static bool
SyncLogColumns(Oid relid, const char *logname)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			logrelid = DatumGetObjectId(DirectFunctionCall1(regclassin, CStringGetDatum(logname)));
	List	   *alters = NIL;
	ListCell   *lc;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AttrNumber	logatt;
		char	   *type;

		if (att->attisdropped)
			continue;
		logatt = get_attnum(logrelid, NameStr(att->attname));
		type = format_type_with_typemod(att->atttypid, att->atttypmod);
		if (logatt == InvalidAttrNumber)
			alters = lappend(alters, psprintf("ALTER TABLE %s ADD COLUMN %s %s", logname,
											  quote_identifier(NameStr(att->attname)), type));
		else if (get_atttype(logrelid, logatt) != att->atttypid)
			alters = lappend(alters, psprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s USING NULL",
											  logname, quote_identifier(NameStr(att->attname)), type));
	}
	table_close(rel, AccessShareLock);
	foreach(lc, alters)
	{
		int			rc = SPI_execute((char *) lfirst(lc), false, 0);

		IvmSpiCheck(rc, SPI_OK_UTILITY, "adding a column to a delta log");
	}
	return alters != NIL;
}

/*
 * RootCaptured
 *		Whether a source's own table has its capture trigger.  One that lacks
 *		it is being restored: pg_dump writes the catalog's rows before the
 *		triggers, and creates the triggers itself, so they are left to it.
 */
static bool
RootCaptured(Oid relid, int source_id)
{
	char		trigname[NAMEDATALEN];
	Oid			types[2] = {OIDOID, NAMEOID};
	Datum		args[2];
	int			rc;

	snprintf(trigname, sizeof(trigname), "ivm_capture_%d_ins", source_id);
	args[0] = ObjectIdGetDatum(relid);
	args[1] = CStringGetDatum(trigname);
	rc = SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND tgname = $2",
							   2, types, args, NULL, true, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking up a capture trigger");
	return SPI_processed > 0;
}

/*
 * ivm_capture_members
 *		SQL: ivm._capture_members(): after CREATE TABLE or ALTER TABLE, keep
 *		the capture of every captured table in step with its partitions
 *		(created, attached, detached) and its log in step with its columns,
 *		and mark it for recompute if either changed.
 */
Datum
ivm_capture_members(PG_FUNCTION_ARGS)
{
	IvmUserSave save;
	int			rc;
	int			n;
	Oid		   *relids;
	int		   *ids;
	char	  **lognames;

	IvmCatalogBegin(&save);
	rc = SPI_execute("SELECT s.relid::oid, s.id, s.logrel::text FROM ivm._sources s ORDER BY s.id",
					 true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing partitioned sources");
	n = (int) SPI_processed;
	relids = palloc(sizeof(Oid) * Max(n, 1));
	ids = palloc(sizeof(int) * Max(n, 1));
	lognames = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		relids[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		ids[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		lognames[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
	}
	SPI_freetuptable(SPI_tuptable);
	for (int i = 0; i < n; i++)
	{
		bool		members_changed;
		bool		columns_changed;

		if (!RootCaptured(relids[i], ids[i]))
			continue;
		members_changed = CaptureMembers(relids[i], ids[i], lognames[i]);
		columns_changed = SyncLogColumns(relids[i], lognames[i]);
		if (members_changed || columns_changed)
			MarkTruncated(relids[i]);
	}
	IvmCatalogEnd(&save);
	PG_RETURN_VOID();
}
