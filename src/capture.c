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

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/tuplestore.h"

#include "ivm.h"
#include "exec.h"
#include "catalog.h"
#include "rows.h"
#include "work.h"

PG_FUNCTION_INFO_V1(ivm_capture);
PG_FUNCTION_INFO_V1(ivm_refuse_write);
PG_FUNCTION_INFO_V1(ivm_guard_storage);
PG_FUNCTION_INFO_V1(ivm_capture_members);
PG_FUNCTION_INFO_V1(ivm_catalog_changed);

static bool CaptureMembers(Oid relid, int source_id);

/* the columns of ivm._sources (ivm--0.1.0.sql) the capture trigger reads */
#define IVM_SOURCES_ATT_ID		1
#define IVM_SOURCES_ATT_RELID	2
#define IVM_SOURCES_ATT_LOGREL	3
#define IVM_SOURCES_ATT_LOGHALF	7	/* added by ivm--0.1.0--0.2.0.sql */

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
	IvmChangedAtCommit();
}

/*
 * CaptureTriggerSource
 *		A capture trigger is one ivm attached: named ivm_capture_<id>_<event>,
 *		where <id> is the source (ivm._sources.id) whose log it writes.  Only
 *		the extension's owner may attach ivm._capture (EXECUTE is revoked
 *		from PUBLIC).  Returns <id>.
 */
static int
CaptureTriggerSource(Trigger *trigger)
{
	int			source_id;
	int			consumed = 0;

	if (sscanf(trigger->tgname, "ivm_capture_%d_%*[a-z]%n", &source_id, &consumed) != 1 ||
		consumed != (int) strlen(trigger->tgname) || source_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" is not a capture trigger of ivm", trigger->tgname),
				 errdetail("ivm._capture() runs only in the triggers ivm attaches to the tables its views read."),
				 errhint("Drop the trigger; ivm.create_view() captures the tables a view reads.")));
	return source_id;
}

/*
 * LookupSource
 *		The captured table and the log of source source_id, by OID, from
 *		ivm._sources (its regclass columns are OIDs, which renames of tables
 *		and schemas leave alone, and which pg_dump writes as names that the
 *		restore resolves to the new OIDs).  False when there is no such
 *		source.  One index probe with a catalog snapshot: a trigger that
 *		the catalog shows has its row visible, whatever the isolation level.
 */
static bool
LookupSource(int source_id, Oid *relid, Oid *logrelid, Oid *halfrelid)
{
	Oid			nspid = get_namespace_oid(IVM_SCHEMA, false);
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		found = false;

	ScanKeyInit(&key, IVM_SOURCES_ATT_ID, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(source_id));
	rel = table_open(get_relname_relid("_sources", nspid), AccessShareLock);
	scan = systable_beginscan(rel, get_relname_relid("_sources_pkey", nspid), true,
							  NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull1;
		bool		isnull2;

		*relid = DatumGetObjectId(heap_getattr(tup, IVM_SOURCES_ATT_RELID,
											   RelationGetDescr(rel), &isnull1));
		*logrelid = DatumGetObjectId(heap_getattr(tup, IVM_SOURCES_ATT_LOGREL,
												  RelationGetDescr(rel), &isnull2));
		found = !isnull1 && !isnull2;
		if (halfrelid != NULL)
		{
			bool		isnull3 = true;

			if (RelationGetDescr(rel)->natts >= IVM_SOURCES_ATT_LOGHALF)
				*halfrelid = DatumGetObjectId(heap_getattr(tup, IVM_SOURCES_ATT_LOGHALF,
														   RelationGetDescr(rel), &isnull3));
			if (isnull3)
				*halfrelid = InvalidOid;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Ancestors
 *		Every table relid inherits from, as a partition or an inheritance
 *		child, at any depth (pg_inherits only: no lock is taken).
 */
static List *
Ancestors(Oid relid)
{
	List	   *found = NIL;
	List	   *queue = list_make1_oid(relid);
	Relation	inh = table_open(InheritsRelationId, AccessShareLock);
	ListCell   *lc;

	/* the queue grows while it is walked: foreach allows appending */
	foreach(lc, queue)
	{
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(lfirst_oid(lc)));
		scan = systable_beginscan(inh, InheritsRelidSeqnoIndexId, true, NULL, 1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Oid			parent = ((Form_pg_inherits) GETSTRUCT(tup))->inhparent;

			if (!list_member_oid(found, parent))
			{
				found = lappend_oid(found, parent);
				queue = lappend_oid(queue, parent);
			}
		}
		systable_endscan(scan);
	}
	table_close(inh, AccessShareLock);
	list_free(queue);
	return found;
}

/*
 * OpenLogHalf
 *		The half of the log a statement appends to, open and locked
 *		(RowExclusiveLock): the one shared memory says writers use now,
 *		unless someone holds a lock that conflicts (a tick emptying it: it
 *		flipped the choice before), then the other.  A writer never waits
 *		for a tick: the tick locks at most one half, and only after sending
 *		writers to the other.  Only when both halves are locked (their
 *		owner locked them) does it wait, for the one it would use.  A source
 *		with one half (made before 0.2.0, until a tick gives it the second)
 *		uses its log.
 */
static Relation
OpenLogHalf(Oid logrelid, Oid halfrelid)
{
	Oid			order[2];

	if (!OidIsValid(halfrelid))
		return table_open(logrelid, RowExclusiveLock);
	order[0] = IvmActiveHalf() == 0 ? logrelid : halfrelid;
	order[1] = order[0] == logrelid ? halfrelid : logrelid;
	for (int i = 0; i < 2; i++)
		if (ConditionalLockRelationOid(order[i], RowExclusiveLock))
			return table_open(order[i], NoLock);
	return table_open(order[0], RowExclusiveLock);
}

/*
 * ivm_capture
 *		The capture trigger.  Its name gives the source; the source's row in
 *		ivm._sources gives the captured table and its log, by OID.  A trigger
 *		on a table that is neither the captured table nor one of its
 *		partitions or inheritance children (it left the tree, or its trigger
 *		was renamed to another source's name) logs nothing: a capture
 *		trigger writes its own source's log and no other.
 */
Datum
ivm_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	Oid			logrelid;
	Oid			halfrelid;
	Oid			source_relid;
	Oid			self;
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
	event = trigdata->tg_event & TRIGGER_EVENT_OPMASK;
	self = RelationGetRelid(trigdata->tg_relation);
	if (!LookupSource(CaptureTriggerSource(trigger), &source_relid, &logrelid, &halfrelid))
		return PointerGetDatum(NULL);	/* its source is gone: nothing to log */
	if (self != source_relid && !list_member_oid(Ancestors(self), source_relid))
		return PointerGetDatum(NULL);	/* not part of its source */

	/* at commit, the background worker of this database ticks */
	IvmWakeWorkerAtCommit();

	if (event == TRIGGER_EVENT_TRUNCATE)
	{
		MarkTruncated(source_relid);
		return PointerGetDatum(NULL);
	}

	logrel = OpenLogHalf(logrelid, halfrelid);
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
 * ivm_catalog_changed
 *		AFTER statement trigger on ivm's catalog tables (ivm._views, _deps,
 *		_sources, _watches, _truncated): a transaction that changes them
 *		bumps the change counter when it commits, so the next tick does its
 *		whole work (tick.c's fast path).  A tick's own bookkeeping (the rows,
 *		sizes and states of the views it maintained) does not count: the
 *		tick itself says whether it left anything to do.
 */
Datum
ivm_catalog_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "ivm._catalog_changed() must be called as a trigger");
	if (!ivm_ticking)
		IvmChangedAtCommit();
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
 *		BEFORE statement trigger on a view's storage table, (with the
 *		argument 'push') on a push source and (with 'log', for INSERT, UPDATE
 *		and TRUNCATE) on a delta log: writes come only from maintenance in
 *		this backend.
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
		strcmp(trigdata->tg_trigger->tgargs[0], "log") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot change delta log \"%s\" directly",
						RelationGetRelationName(trigdata->tg_relation)),
				 errdetail("Its rows come from the capture triggers of the table it belongs to."),
				 errhint("Write to the table; ivm.tick() consumes the log.")));
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
 *		Put the four capture triggers of source source_id on one table (the
 *		captured table, or one of its partitions or inheritance children).
 *		They take no argument: the trigger's name gives the source, and the
 *		source's row in ivm._sources its table and log.
 */
static void
CreateCaptureTriggers(Oid rel, int source_id)
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
						 "EXECUTE FUNCTION ivm._capture()",
						 quote_identifier(trigname), kinds[i].event, relname,
						 kinds[i].referencing);
		rc = SPI_execute(sql.data, false, 0);
		IvmSpiCheck(rc, SPI_OK_UTILITY, "creating a capture trigger");
		pfree(sql.data);
	}
}

/*
 * DropCaptureTriggers
 *		Take the capture triggers of source source_id off one table.
 */
static void
DropCaptureTriggers(Oid rel, int source_id)
{
	static const char *const suffixes[] = {"ins", "upd", "del", "trunc"};
	char	   *relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(rel)),
													 get_rel_name(rel));

	for (int i = 0; i < lengthof(suffixes); i++)
	{
		char		trigname[NAMEDATALEN];
		char	   *sql;
		int			rc;

		snprintf(trigname, sizeof(trigname), "ivm_capture_%d_%s", source_id, suffixes[i]);
		sql = psprintf("DROP TRIGGER IF EXISTS %s ON %s", quote_identifier(trigname), relname);
		rc = SPI_execute(sql, false, 0);
		IvmSpiCheck(rc, SPI_OK_UTILITY, "dropping a capture trigger");
		pfree(sql);
	}
}

/*
 * HasCaptureTrigger
 *		Whether table relid has the capture triggers of source source_id.
 *		A source's own table that lacks them is being restored: pg_dump
 *		writes the catalog's rows before the triggers, and creates the
 *		triggers itself, so they are left to it.
 */
static bool
HasCaptureTrigger(Oid relid, int source_id)
{
	char		trigname[NAMEDATALEN];
	Oid			types[2] = {OIDOID, NAMEOID};
	Datum		args[2];
	int			rc;

	snprintf(trigname, sizeof(trigname), "ivm_capture_%d_ins", source_id);
	args[0] = ObjectIdGetDatum(relid);
	args[1] = CStringGetDatum(trigname);
	rc = SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_trigger "
							   "WHERE tgrelid OPERATOR(pg_catalog.=) $1 "
							   "AND tgname OPERATOR(pg_catalog.=) $2",
							   2, types, args, NULL, true, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking up a capture trigger");
	return SPI_processed > 0;
}

/*
 * RoleName
 *		A role's name, quoted for SQL.
 */
static const char *
RoleName(Oid role)
{
	return quote_identifier(GetUserNameFromId(role, false));
}

/*
 * CreateLogHalf
 *		The second half of source source_id's log logname (schema-qualified,
 *		quoted): an empty child of the log (so whoever reads the log reads
 *		both, and a column added to the log reaches it), with the guard of
 *		a log, belonging to owner with the privileges a log's owner has.
 *		Returns its name (qualified, quoted).  Caller is connected to SPI
 *		and runs as the owner of schema ivm.
 */
static char *
CreateLogHalf(int source_id, const char *logname, Oid owner)
{
	char		halfrelname[NAMEDATALEN];
	char	   *halfname;
	char	   *sql;

	snprintf(halfrelname, sizeof(halfrelname), "_log_%d_b", source_id);
	halfname = quote_qualified_identifier(IVM_SCHEMA, halfrelname);
	sql = psprintf("CREATE TABLE %s () INHERITS (%s)", halfname, logname);
	IvmInternalDdl(sql, IvmSchemaOwner(), "creating the second half of a delta log");
	sql = psprintf("CREATE TRIGGER ivm_guard BEFORE INSERT OR UPDATE OR TRUNCATE "
				   "ON %s FOR EACH STATEMENT EXECUTE FUNCTION ivm._guard_storage('log')",
				   halfname);
	IvmInternalDdl(sql, IvmSchemaOwner(), "guarding a delta log");
	if (OidIsValid(owner))
	{
		sql = psprintf("ALTER TABLE %s OWNER TO %s", halfname, RoleName(owner));
		IvmInternalDdl(sql, IvmSchemaOwner(), "giving a delta log to its table's owner");
		if (!superuser_arg(owner))
		{
			sql = psprintf("REVOKE " IVM_OWNER_REVOKED_PRIVILEGES " ON %s FROM %s",
						   halfname, RoleName(owner));
			IvmInternalDdl(sql, IvmSchemaOwner(), "settling a delta log with its owner");
		}
	}
	return halfname;
}

/*
 * IvmEnsureLogHalf
 *		The second half of source source_id's log logrelid, made now if the
 *		source has none (it was captured before 0.2.0): ticks call it.
 *		Returns its OID.  Caller is connected to SPI and runs as the owner
 *		of schema ivm.
 */
Oid
IvmEnsureLogHalf(int source_id, Oid logrelid)
{
	char	   *logname = quote_qualified_identifier(IVM_SCHEMA, get_rel_name(logrelid));
	char	   *halfname = CreateLogHalf(source_id, logname, IvmRelationOwner(logrelid));
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		vals[2];
	int			rc;

	vals[0] = Int32GetDatum(source_id);
	vals[1] = CStringGetTextDatum(halfname);
	rc = SPI_execute_with_args("UPDATE ivm._sources SET loghalf = $2::pg_catalog.regclass "
							   "WHERE id OPERATOR(pg_catalog.=) $1 RETURNING loghalf::pg_catalog.oid",
							   2, types, vals, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_UPDATE_RETURNING, "recording the second half of a delta log");
	if (SPI_processed != 1)
		elog(ERROR, "ivm: source %d is gone", source_id);
	{
		bool		isnull;
		Oid			half = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 1, &isnull));

		SPI_freetuptable(SPI_tuptable);
		return half;
	}
}

/*
 * IvmEnsureCaptured
 *		Give a table (and its partitions or inheritance children) a delta log
 *		and capture triggers, unless it has them already.  The log belongs
 *		to the table's owner: it holds the owner's values, and what
 *		PostgreSQL runs on it (a domain's checks when its columns change,
 *		ANALYZE of the owner's types) then runs with the owner's rights.
 *		Its guard refuses INSERT, UPDATE and TRUNCATE but from ivm (the
 *		capture triggers write it below the executor, where no trigger
 *		fires; ticks consume it below the executor too).  The log comes in
 *		two halves (CreateLogHalf, OpenLogHalf, rows.c's IvmConsumeLog).
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
	char	   *halfname;
	StringInfoData sql;
	Relation	rel;
	TupleDesc	desc;
	bool		isnull;
	ListCell   *lc;

	args[0] = ObjectIdGetDatum(relid);
	rc = SPI_execute_with_args("SELECT 1 FROM ivm._sources WHERE relid OPERATOR(pg_catalog.=) $1",
							   1, argtypes, args, NULL, false, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking up a source");
	if (SPI_processed > 0)
		return;

	rc = SPI_execute("SELECT pg_catalog.nextval(pg_catalog.pg_get_serial_sequence('ivm._sources', 'id'))::pg_catalog.int4",
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
	foreach(lc, IvmLiveColumns(desc))
	{
		Form_pg_attribute att = lfirst(lc);

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

	IvmInternalDdl(sql.data, IvmSchemaOwner(), "creating a delta log");
	resetStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TRIGGER ivm_guard BEFORE INSERT OR UPDATE OR TRUNCATE "
					 "ON %s FOR EACH STATEMENT EXECUTE FUNCTION ivm._guard_storage('log')",
					 logname);
	IvmInternalDdl(sql.data, IvmSchemaOwner(), "guarding a delta log");
	resetStringInfo(&sql);
	appendStringInfo(&sql, "ALTER TABLE %s OWNER TO %s", logname,
					 RoleName(IvmRelationOwner(relid)));
	IvmInternalDdl(sql.data, IvmSchemaOwner(), "giving a delta log to its table's owner");
	/* (over a catalog not updated yet, the log alone, as before) */
	halfname = IvmLogHalves() ? CreateLogHalf(source_id, logname, IvmRelationOwner(relid)) : NULL;

	{
		Oid			types[4] = {INT4OID, OIDOID, TEXTOID, TEXTOID};
		Datum		vals[4];

		vals[0] = Int32GetDatum(source_id);
		vals[1] = ObjectIdGetDatum(relid);
		vals[2] = CStringGetTextDatum(logname);
		vals[3] = halfname ? CStringGetTextDatum(halfname) : (Datum) 0;
		if (halfname)
			rc = SPI_execute_with_args("INSERT INTO ivm._sources (id, relid, logrel, loghalf) "
									   "VALUES ($1, $2, $3::pg_catalog.regclass, $4::pg_catalog.regclass)",
									   4, types, vals, NULL, false, 0);
		else
			rc = SPI_execute_with_args("INSERT INTO ivm._sources (id, relid, logrel) "
									   "VALUES ($1, $2, $3::pg_catalog.regclass)",
									   3, types, vals, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_INSERT, "recording a source");
	}

	CaptureMembers(relid, source_id);
}

/*
 * CaptureMembers
 *		Keep the capture triggers of one captured table in step with its
 *		partitions and inheritance children: put them on members that lack
 *		them, take them off tables that left the tree.  Returns true when
 *		the membership changed, which changes what the table holds without
 *		any row being written: the caller marks its views for recompute.
 *		Locks the table's members (AccessShareLock), as the command that
 *		touched the table did.
 *
 * Caller is connected to SPI and runs as the owner of schema ivm.
 */
static bool
CaptureMembers(Oid relid, int source_id)
{
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
	rc = SPI_execute_with_args("SELECT tgrelid FROM pg_catalog.pg_trigger "
							   "WHERE tgname OPERATOR(pg_catalog.=) $1",
							   1, types, args, NULL, true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing capture triggers");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		captured = lappend_oid(captured,
							   DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															  SPI_tuptable->tupdesc, 1, &isnull)));
	}

	members = find_all_inheritors(relid, AccessShareLock, NULL);
	foreach(lc, members)
	{
		Oid			member = lfirst_oid(lc);
		char		kind = get_rel_relkind(member);

		if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
			continue;			/* a foreign partition cannot be captured */
		if (list_member_oid(captured, member))
			continue;
		CreateCaptureTriggers(member, source_id);
		changed = true;
	}

	foreach(lc, captured)
	{
		Oid			former = lfirst_oid(lc);

		if (list_member_oid(members, former))
			continue;
		DropCaptureTriggers(former, source_id);
		changed = true;
	}
	return changed;
}

/*
 * CaptureSubtree
 *		Table relid (and what inherits from it) joined captured table
 *		source_relid: give each of them the capture triggers of source_id
 *		that it lacks.  Only relid's own subtree is looked at and locked.
 *		Returns whether any was given.
 */
static bool
CaptureSubtree(Oid relid, int source_id)
{
	List	   *members = find_all_inheritors(relid, AccessShareLock, NULL);
	ListCell   *lc;
	bool		changed = false;

	foreach(lc, members)
	{
		Oid			member = lfirst_oid(lc);
		char		kind = get_rel_relkind(member);

		if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
			continue;
		if (HasCaptureTrigger(member, source_id))
			continue;
		CreateCaptureTriggers(member, source_id);
		changed = true;
	}
	return changed;
}

/*
 * SyncLogOwner
 *		A delta log belongs to its table's owner: after ALTER TABLE ...
 *		OWNER TO, it follows.
 */
static void
SyncLogOwner(Oid relid, Oid logrelid)
{
	Oid			owner = IvmRelationOwner(relid);
	char	   *sql;

	if (!OidIsValid(logrelid) || IvmRelationOwner(logrelid) == owner)
		return;
	sql = psprintf("ALTER TABLE %s OWNER TO %s",
				   quote_qualified_identifier(IVM_SCHEMA, get_rel_name(logrelid)),
				   RoleName(owner));
	IvmInternalDdl(sql, IvmSchemaOwner(), "giving a delta log to its table's new owner");
	pfree(sql);

	/*
	 * The new owner takes over the old owner's privileges, all of them when
	 * the old owner was a superuser (whose are never revoked): not those a
	 * log's owner has no business with, DELETE first (deleting deltas would
	 * leave every view of the table wrong).
	 */
	if (!superuser_arg(owner))
	{
		sql = psprintf("REVOKE " IVM_OWNER_REVOKED_PRIVILEGES " ON %s FROM %s",
					   quote_qualified_identifier(IVM_SCHEMA, get_rel_name(logrelid)),
					   RoleName(owner));
		IvmInternalDdl(sql, IvmSchemaOwner(), "settling a delta log with its new owner");
		pfree(sql);
	}
}

/*
 * SyncLogColumns
 *		Give the log a column for every column the table has now, with its
 *		type: after ADD COLUMN, RENAME COLUMN or a type change of a column
 *		no view reads.  Returns true when the log changed: the caller marks
 *		the table for recompute, which makes the rows logged before moot,
 *		so they are deleted first and the log's ALTER rewrites nothing (a
 *		domain that refuses NULL cannot fail it).  The ALTERs run as the
 *		log's owner, restricted: a domain's CHECK or DEFAULT that PostgreSQL
 *		evaluates then has that owner's rights, never ivm's.  Caller is
 *		connected to SPI as the owner of schema ivm.
 */
static bool
SyncLogColumns(Oid relid, Oid logrelid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	char	   *logname = quote_qualified_identifier(IVM_SCHEMA, get_rel_name(logrelid));
	Oid			owner = IvmRelationOwner(logrelid);
	List	   *alters = NIL;
	ListCell   *lc;

	foreach(lc, IvmLiveColumns(desc))
	{
		Form_pg_attribute att = lfirst(lc);
		AttrNumber	logatt;
		char	   *type;

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
	if (alters == NIL)
		return false;

	{
		/*
		 * As ivm's owner: a plain DELETE of a table with no index, rule or
		 * policy runs no code of anyone's, and the log's owner has no DELETE
		 * on it (IvmSettleRelations).
		 */
		char	   *sql = psprintf("DELETE FROM %s", logname);
		int			rc;

		rc = SPI_execute(sql, false, 0);
		IvmSpiCheck(rc, SPI_OK_DELETE, "emptying a delta log whose columns change");
	}
	foreach(lc, alters)
		IvmInternalDdl((char *) lfirst(lc), owner, "changing the columns of a delta log");
	return true;
}

/* a captured table: its source's id, the table and its log */
typedef struct SourceRef
{
	int			id;
	Oid			relid;
	Oid			logrelid;
	Oid			halfrelid;		/* its second half, or InvalidOid */
} SourceRef;

/*
 * SourcesAmong
 *		The sources among tables relids.
 */
static List *
SourcesAmong(List *relids)
{
	List	   *found = NIL;
	ListCell   *lc;
	bool		halves = IvmLogHalves();

	foreach(lc, relids)
	{
		Oid			types[1] = {OIDOID};
		Datum		args[1];
		int			rc;

		args[0] = ObjectIdGetDatum(lfirst_oid(lc));
		rc = SPI_execute_with_args(halves
								   ? "SELECT id, logrel::pg_catalog.oid, loghalf::pg_catalog.oid FROM ivm._sources "
								   "WHERE relid OPERATOR(pg_catalog.=) $1"
								   : "SELECT id, logrel::pg_catalog.oid, NULL::pg_catalog.oid FROM ivm._sources "
								   "WHERE relid OPERATOR(pg_catalog.=) $1",
								   1, types, args, NULL, true, 0);
		IvmSpiCheck(rc, SPI_OK_SELECT, "looking up a source");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			SourceRef  *s = palloc(sizeof(SourceRef));
			bool		isnull;

			s->id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
			s->relid = lfirst_oid(lc);
			s->logrelid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
			s->halfrelid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
			if (isnull)
				s->halfrelid = InvalidOid;
			found = lappend(found, s);
		}
	}
	return found;
}

/*
 * StaleCaptureTriggers
 *		The sources whose capture triggers table relid has, though it is no
 *		longer that source's table nor part of it (NO INHERIT, or a trigger
 *		left behind): their ids.  sources are the ones it is part of.
 */
static List *
StaleCaptureTriggers(Oid relid, List *sources)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1];
	int			rc;
	List	   *stale = NIL;

	args[0] = ObjectIdGetDatum(relid);
	rc = SPI_execute_with_args("SELECT tgname::pg_catalog.text FROM pg_catalog.pg_trigger "
							   "WHERE tgrelid OPERATOR(pg_catalog.=) $1 "
							   "AND tgfoid OPERATOR(pg_catalog.=) 'ivm._capture()'::pg_catalog.regprocedure",
							   1, types, args, NULL, true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing the capture triggers of a table");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		int			id;
		int			consumed = 0;
		bool		current = false;
		ListCell   *lc;

		if (sscanf(name, "ivm_capture_%d_ins%n", &id, &consumed) != 1 ||
			consumed != (int) strlen(name))
			continue;
		foreach(lc, sources)
			if (((SourceRef *) lfirst(lc))->id == id)
				current = true;
		if (!current)
			stale = lappend_int(stale, id);
	}
	return stale;
}

/*
 * CaptureTouched
 *		After a CREATE TABLE or ALTER TABLE that touched table relid, keep
 *		capture in step, looking at relid and its ancestors only (no other
 *		table is opened or locked):
 *		- relid is a captured table: its log follows its owner and columns,
 *		  its capture its partitions and children (attached, detached);
 *		- relid is part of a captured table (a partition created or
 *		  attached, a child that inherits): it and its own members get
 *		  the triggers;
 *		- relid left a captured table (NO INHERIT): the triggers go.
 *		A captured table whose contents changed so is marked for
 *		recompute; created says relid is new, hence empty.
 */
static void
CaptureTouched(Oid relid, bool created)
{
	List	   *line = lcons_oid(relid, Ancestors(relid));
	List	   *sources = SourcesAmong(line);
	List	   *stale;
	ListCell   *lc;

	foreach(lc, sources)
	{
		SourceRef  *s = (SourceRef *) lfirst(lc);
		bool		changed;

		/* a source being restored gets its triggers from pg_dump */
		if (!HasCaptureTrigger(s->relid, s->id))
			continue;
		if (s->relid == relid)
		{
			SyncLogOwner(s->relid, s->logrelid);
			SyncLogOwner(s->relid, s->halfrelid);
			changed = CaptureMembers(s->relid, s->id);
			changed = SyncLogColumns(s->relid, s->logrelid) || changed;
		}
		else
			changed = CaptureSubtree(relid, s->id) && !created;
		if (changed)
			MarkTruncated(s->relid);
	}

	stale = StaleCaptureTriggers(relid, sources);
	foreach(lc, stale)
	{
		int			id = lfirst_int(lc);
		Oid			source_relid;
		Oid			logrelid;
		List	   *members = find_all_inheritors(relid, AccessShareLock, NULL);
		ListCell   *lm;

		foreach(lm, members)
			DropCaptureTriggers(lfirst_oid(lm), id);
		if (LookupSource(id, &source_relid, &logrelid, NULL))
			MarkTruncated(source_relid);
	}
}

/*
 * ivm_capture_members
 *		SQL: ivm._capture_members(relids oid[], created boolean), from the
 *		ddl_command_end event trigger with the relations the command touched
 *		(pg_event_trigger_ddl_commands()); created when the command was
 *		CREATE TABLE.  Tables only: indexes, sequences and the rest are
 *		skipped, as are relations gone by the end of the command.
 */
Datum
ivm_capture_members(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	bool		created = PG_GETARG_BOOL(1);
	Datum	   *elems;
	int			n;
	List	   *done = NIL;
	IvmUserSave save;

	deconstruct_array(arr, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &elems, NULL, &n);
	IvmCatalogBegin(&save);
	for (int i = 0; i < n; i++)
	{
		Oid			relid = DatumGetObjectId(elems[i]);
		char		kind;

		if (list_member_oid(done, relid))
			continue;
		done = lappend_oid(done, relid);
		kind = get_rel_relkind(relid);	/* '\0' when it is gone */
		if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
			continue;
		CaptureTouched(relid, created);
	}
	IvmCatalogEnd(&save);
	PG_RETURN_VOID();
}
