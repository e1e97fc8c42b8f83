/*-------------------------------------------------------------------------
 *
 * fill.c
 *		Bulk fill: write a view's storage whole, from its query, into a new
 *		heap that then takes the storage's place, its indexes built once
 *		after the rows are in.
 *
 * A first fill, a REFRESH, and a recompute whose result nothing reads row
 * by row (no view reads the view, no watch) need not compare the query's
 * rows with the stored ones: every stored row goes, every returned row
 * comes.  The diff strategy (diff.c) would sort both sides by row hash and
 * insert row by row, maintaining each index per row; here the query's rows
 * go straight into a transient heap by heap multi-insert (1,000 rows or
 * 1 MB at a time, through a bulk-insert state, frozen as PostgreSQL's own
 * REFRESH MATERIALIZED VIEW writes them), and PostgreSQL's heap swap (the
 * one CLUSTER and REFRESH use) gives the storage the new heap and rebuilds
 * each of its indexes, ivm's and the owner's, in one sorted build.
 *
 * Locks and readers: the storage stays readable while the query runs and
 * the rows go in (ExclusiveLock: no other writer, and there is none but
 * ticks); the swap then takes AccessExclusiveLock until the transaction
 * (the tick, the REFRESH, the creation) ends, so readers wait from the swap
 * to the commit and then see the new rows.  Rows are written frozen, as
 * PostgreSQL's REFRESH writes them: a REPEATABLE READ transaction that
 * read the view before sees the new rows once it reads it again.
 *
 * Rights: the query runs as the view's owner, restricted; the heap swap
 * and its index builds (which run the support functions of the owner's
 * types) as the storage's owner, restricted; creating the transient heap,
 * in schema ivm, as the caller (ivm's owner).  Inserting rows runs no
 * code of anyone's: no trigger fires, no index is maintained.
 *
 * Memory: a batch of rows at a time; the view's delta, when something
 * reads it, goes into a tuplestore that spills to disk.
 *
 * A cancel (statement_timeout, pg_cancel_backend) is seen within a batch:
 * the executor checks for it while the query runs, the fill after each
 * batch, index builds as they go; the transient heap goes with the
 * (sub)transaction that made it, and the storage is as it was.
 *
 * Layer: strategies.  Calls exec (rights, progress), rows (the delta's
 * rows) and the diff's cursor helpers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/multixact.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "commands/cluster.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/pquery.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#include "ivm.h"
#include "exec.h"
#include "rows.h"
#include "strategies.h"

/* rows, and bytes, a multi-insert takes at a time */
#define FILL_BATCH_ROWS 1000
#define FILL_BATCH_BYTES (1024 * 1024)
/* rows a fill must write before it analyzes the storage */
#define FILL_ANALYZE_MIN 1000

/* The query's rows, on their way into the transient heap. */
typedef struct FillReceiver
{
	DestReceiver pub;
	Relation	rel;			/* the transient heap */
	BulkInsertState bistate;
	CommandId	cid;
	TupleTableSlot **slots;		/* the batch: FILL_BATCH_ROWS slots */
	int			nslots;			/* of them filled */
	Size		bytes;			/* their size, about */
	uint64		rows;			/* rows written */
	uint64		shown;			/* of them, rows the view shows */
	AttrNumber	passattno;		/* the HAVING column, or 0 */
	Tuplestorestate *vdelta;	/* the view's delta, or NULL: nobody reads it */
	TupleDesc	vdesc;
	TupleDesc	storage_desc;
	const char *viewname;
	bool		hash_last;		/* the last column is the row hash of the others */
	ResourceOwner owner;		/* pins of the bulk-insert state belong to it */
} FillReceiver;

/* write the batch into the heap; then see a cancel and say how far it got */
static void
FlushBatch(FillReceiver *fr)
{
	ResourceOwner saved = CurrentResourceOwner;

	if (fr->nslots == 0)
		return;
	/* the portal's resource owner is current while it runs: not the pins' */
	CurrentResourceOwner = fr->owner;
	table_multi_insert(fr->rel, fr->slots, fr->nslots, fr->cid,
					   TABLE_INSERT_SKIP_FSM | TABLE_INSERT_FROZEN, fr->bistate);
	CurrentResourceOwner = saved;
	for (int i = 0; i < fr->nslots; i++)
		ExecClearTuple(fr->slots[i]);
	fr->nslots = 0;
	fr->bytes = 0;
	IvmProgressRows(fr->rows);
	CHECK_FOR_INTERRUPTS();
}

/* rStartup: the query's columns must be the storage's */
static void
FillStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	FillReceiver *fr = (FillReceiver *) self;

	bool		ok = fr->hash_last && typeinfo->natts == fr->storage_desc->natts - 1;

	/* the storage's columns but the last, the hash the fill computes */
	for (int i = 0; ok && i < typeinfo->natts; i++)
		ok = TupleDescAttr(typeinfo, i)->atttypid == TupleDescAttr(fr->storage_desc, i)->atttypid;
	/* (else the same check of every column, which raises on a difference) */
	if (!ok)
		IvmCheckResultShape(typeinfo, fr->storage_desc, fr->viewname);
}

/* receiveSlot: one row of the query, into the batch (and the delta) */
static bool
FillReceive(TupleTableSlot *slot, DestReceiver *self)
{
	FillReceiver *fr = (FillReceiver *) self;
	TupleTableSlot *dst = fr->slots[fr->nslots];
	bool		shown = true;

	slot_getallattrs(slot);
	if (fr->passattno != 0)
		shown = !slot->tts_isnull[fr->passattno - 1] &&
			DatumGetBool(slot->tts_values[fr->passattno - 1]);
	if (fr->hash_last)
	{
		int			n = slot->tts_tupleDescriptor->natts;

		ExecClearTuple(dst);
		memcpy(dst->tts_values, slot->tts_values, sizeof(Datum) * n);
		memcpy(dst->tts_isnull, slot->tts_isnull, sizeof(bool) * n);
		dst->tts_values[n] = Int64GetDatum((int64) IvmHashRowValues(slot->tts_values, slot->tts_isnull,
																	slot->tts_tupleDescriptor, n));
		dst->tts_isnull[n] = false;
		ExecStoreVirtualTuple(dst);
		ExecMaterializeSlot(dst);
	}
	else
		ExecCopySlot(dst, slot);
	fr->rows++;
	if (shown)
	{
		fr->shown++;
		if (fr->vdelta != NULL)
		{
			bool		should_free;
			HeapTuple	tup = ExecFetchSlotHeapTuple(dst, false, &should_free);
			HeapTuple	row = IvmVisibleTuple(tup, fr->storage_desc, fr->vdesc, 1);

			tuplestore_puttuple(fr->vdelta, row);
			heap_freetuple(row);
			if (should_free)
				heap_freetuple(tup);
		}
	}
	fr->nslots++;
	fr->bytes += ExecFetchSlotHeapTuple(dst, false, NULL)->t_len;
	if (fr->nslots == FILL_BATCH_ROWS || fr->bytes >= FILL_BATCH_BYTES)
		FlushBatch(fr);
	return true;
}

/* rShutdown, rDestroy: nothing held (the caller flushes and frees) */
static void
FillShutdown(DestReceiver *self)
{
}

static void
FillDestroy(DestReceiver *self)
{
}

/* the planner's estimate of the rows a cursor returns, or 0 */
static uint64
PortalRowsExpected(Portal portal)
{
	if (portal->stmts != NIL && IsA(linitial(portal->stmts), PlannedStmt))
	{
		PlannedStmt *stmt = linitial_node(PlannedStmt, portal->stmts);

		if (stmt->planTree != NULL && stmt->planTree->plan_rows > 0)
			return (uint64) stmt->planTree->plan_rows;
	}
	return 0;
}

/*
 * IvmStorageEmpty
 *		Whether the storage holds no row visible at snap (or a fresh
 *		snapshot, when none is given).  Reads the heap only: no code of
 *		anyone's runs.
 */
bool
IvmStorageEmpty(Oid storage_rel, Snapshot snap)
{
	Relation	rel = table_open(storage_rel, AccessShareLock);
	bool		empty = true;

	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		empty = false;			/* not looked at: its shards are diffed */
	else
	{
		Snapshot	s = snap != InvalidSnapshot ? snap : GetTransactionSnapshot();
		TableScanDesc scan;
		TupleTableSlot *slot = table_slot_create(rel, NULL);

		PushCopiedSnapshot(s);
		UpdateActiveSnapshotCommandId();
		scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
		empty = !table_scan_getnextslot(scan, ForwardScanDirection, slot);
		table_endscan(scan);
		PopActiveSnapshot();
		ExecDropSingleTupleTableSlot(slot);
	}
	table_close(rel, AccessShareLock);
	return empty;
}

/*
 * StorageHeldByOthers
 *		Whether another transaction holds a lock on the storage that the
 *		swap's ACCESS EXCLUSIVE would wait for.  Takes no lock (a lock taken
 *		and let go would still be WAL-logged, and a standby would hold it
 *		against its readers until the tick ends).
 */
static bool
StorageHeldByOthers(Oid storage_rel)
{
	LOCKTAG		tag;
	VirtualTransactionId *holders;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, storage_rel);
	holders = GetLockConflicts(&tag, AccessExclusiveLock, NULL);
	return VirtualTransactionIdIsValid(holders[0]);
}

/*
 * IvmBulkFill
 *		Replace the storage's rows with those query returns (every storage
 *		column, hidden ones included): a transient heap filled by
 *		multi-insert, swapped in, the storage's indexes rebuilt.  Returns
 *		false, having done nothing, when the storage cannot be swapped (a
 *		partitioned view's: its shards are diffed) or is small (fewer than
 *		IVM_FILL_MIN_ROWS rows stored, and expected by the planner): the caller
 *		diffs.
 *
 * query runs as view_owner, restricted, at snap (the tick's; InvalidSnapshot
 * outside a tick).  When vdelta is given, every row the view shows goes into
 * it with weight +1 (shaped by vdesc): the caller gives it only when the
 * storage was empty, as a delta replacing stored rows would need their
 * removals.  old_rows is the rows the storage held: 0 when it is empty
 * (the caller has looked).  result counts what changed, as the diff would:
 * every row the view shows, inserted, into an empty storage; nothing when
 * rows were replaced (what changed is not worked out: nothing reads it);
 * and the storage's rows after.
 * Caller is connected to SPI, acts as ivm's owner, and has pinned
 * search_path.
 */
bool
IvmBulkFill(Oid storage_rel, Oid view_owner, const char *viewname, const char *query,
			Snapshot snap, AttrNumber passattno, Tuplestorestate *vdelta, TupleDesc vdesc,
			uint64 old_rows, IvmDiffResult *result)
{
	Relation	srel;
	Oid			tablespace;
	Oid			am;
	char		persistence;
	Oid			new_heap;
	Portal		portal;
	uint64		expected;
	FillReceiver fr;
	IvmUserSave save;
	char	   *storage_name;
	bool		vdelta_was_empty;

	vdelta_was_empty = vdelta == NULL || tuplestore_tuple_count(vdelta) == 0;
	srel = table_open(storage_rel, AccessShareLock);
	if (srel->rd_rel->relkind != RELKIND_RELATION)
	{
		table_close(srel, AccessShareLock);
		return false;
	}
	tablespace = srel->rd_rel->reltablespace;
	am = srel->rd_rel->relam;
	persistence = srel->rd_rel->relpersistence;
	memset(&fr, 0, sizeof(fr));
	fr.storage_desc = CreateTupleDescCopy(RelationGetDescr(srel));
	storage_name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(srel)),
											  RelationGetRelationName(srel));
	table_close(srel, AccessShareLock);

	/*
	 * A storage keeping each row's hash (__ivm_hash, the last column): the
	 * query's other columns only (the planner drops what no one reads), the
	 * hash computed here as ivm.row_hash(q.*) computes it, without making a
	 * record of each row.
	 */
	fr.hash_last = IvmHashColumn(fr.storage_desc) > 0;
	if (fr.hash_last)
	{
		StringInfoData sql;

		/* (columns by position: the query may name them otherwise) */
		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT ");
		for (int i = 1; i < fr.storage_desc->natts; i++)
			appendStringInfo(&sql, "%sf.f%d", i > 1 ? ", " : "", i);
		appendStringInfo(&sql, " FROM (%s) f (", query);
		for (int i = 1; i <= fr.storage_desc->natts; i++)
			appendStringInfo(&sql, "%sf%d", i > 1 ? ", " : "", i);
		appendStringInfoChar(&sql, ')');
		query = sql.data;
	}

	/*
	 * In a tick (or a REFRESH, which runs as one), a transaction reading the
	 * view now would hold the swap, and with it the tick, until it ends: the
	 * view is diffed instead, which waits for no reader.  (A reader that
	 * comes while the rows go in still delays the swap until it ends.)
	 */
	if (snap != InvalidSnapshot && StorageHeldByOthers(storage_rel))
		return false;

	/* a small view is diffed */
	portal = IvmOpenCursor(IvmQuerySideSql(query, false), snap, view_owner);
	expected = PortalRowsExpected(portal);
	if (expected < IVM_FILL_MIN_ROWS && old_rows < IVM_FILL_MIN_ROWS)
	{
		SPI_cursor_close(portal);
		return false;
	}
	IvmProgressPhase(IVM_PHASE_FILL);
	IvmProgressExpected(expected);

	/* no other writer meanwhile; readers go on reading the old rows */
	new_heap = make_new_heap(storage_rel, tablespace, am, persistence, ExclusiveLock);
	CommandCounterIncrement();

	fr.pub.receiveSlot = FillReceive;
	fr.pub.rStartup = FillStartup;
	fr.pub.rShutdown = FillShutdown;
	fr.pub.rDestroy = FillDestroy;
	fr.pub.mydest = DestNone;
	fr.rel = table_open(new_heap, NoLock);
	fr.bistate = GetBulkInsertState();
	fr.owner = CurrentResourceOwner;
	fr.cid = GetCurrentCommandId(true);
	fr.passattno = passattno;
	fr.vdelta = vdelta;
	fr.vdesc = vdesc;
	fr.viewname = viewname;
	fr.slots = palloc(sizeof(TupleTableSlot *) * FILL_BATCH_ROWS);
	for (int i = 0; i < FILL_BATCH_ROWS; i++)
		fr.slots[i] = table_slot_create(fr.rel, NULL);

	/* the query's code runs as the view's owner, as the portal was opened */
	IvmBecome(view_owner, true, &save);
	(void) PortalRunFetch(portal, FETCH_FORWARD, FETCH_ALL, (DestReceiver *) &fr);
	FlushBatch(&fr);
	IvmRestoreUser(&save);
	SPI_cursor_close(portal);

	FreeBulkInsertState(fr.bistate);
	table_finish_bulk_insert(fr.rel, TABLE_INSERT_SKIP_FSM | TABLE_INSERT_FROZEN);
	for (int i = 0; i < FILL_BATCH_ROWS; i++)
		ExecDropSingleTupleTableSlot(fr.slots[i]);
	pfree(fr.slots);
	table_close(fr.rel, NoLock);

	/*
	 * The swap: readers wait from here to the end of the transaction.  Index
	 * builds run the support functions of the owner's types: as the owner.
	 */
	IvmProgressPhase(IVM_PHASE_INDEX);
	if (snap != InvalidSnapshot && vdelta_was_empty)
	{
		/*
		 * In a tick, a transaction that came to hold the storage while the
		 * rows went in (a reader; or any role, with no right on it, whose
		 * PREPARE names it: parsing locks) must not hold the tick up, nor fail
		 * it by lock_timeout: the new heap goes and the view is diffed, which
		 * waits for no reader.
		 */
		if (!ConditionalLockRelationOid(storage_rel, AccessExclusiveLock))
		{
			ObjectAddress heap;

			ObjectAddressSet(heap, RelationRelationId, new_heap);
			performDeletion(&heap, DROP_RESTRICT,
							PERFORM_DELETION_INTERNAL | PERFORM_DELETION_QUIETLY);
			CommandCounterIncrement();
			if (vdelta != NULL)
				tuplestore_clear(vdelta);
			return false;
		}
	}
	else
		LockRelationOid(storage_rel, AccessExclusiveLock);
	IvmBecomeOwnerOf(storage_rel, &save);
	finish_heap_swap(storage_rel, new_heap, false, false, false, true,
					 RecentXmin, ReadNextMultiXactId(), persistence);
	IvmRestoreUser(&save);
	CommandCounterIncrement();

	/* what changed: every row, into an empty storage; else not worked out */
	result->inserted = old_rows == 0 ? fr.shown : 0;
	result->deleted = 0;
	result->rows_after = fr.rows;
	result->rows_delta = (int64) fr.rows - (int64) old_rows;

	/*
	 * Statistics for the delta queries of the next ticks (as in diff.c): for
	 * a first fill, or when the number of rows changed by half or more.  A
	 * rewrite keeps the storage's statistics (they belong to the relation,
	 * not to its heap, and the index builds count its rows); the diff
	 * analyzed a storage only when it replaced most rows, too.
	 */
	if (fr.rows >= FILL_ANALYZE_MIN &&
		(old_rows == 0 || (fr.rows > old_rows ? fr.rows - old_rows : old_rows - fr.rows) * 2 > fr.rows))
	{
		int			rc;

		IvmProgressPhase(IVM_PHASE_ANALYZE);
		rc = SPI_execute(psprintf("ANALYZE %s", storage_name), false, 0);
		IvmSpiCheck(rc, SPI_OK_UTILITY, "analyzing the view's storage");
	}
	return true;
}
