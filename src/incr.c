/*-------------------------------------------------------------------------
 *
 * incr.c
 *		The incremental strategy at tick time: run a view's delta query and
 *		fold the result into its storage.
 *
 * Layer: strategies.  Calls exec (kept plans), rows (consolidation,
 * applying rows) and the operators (shape.c); nothing above.
 *
 * SPJ views: the delta rows are consolidated (weights of equal rows summed,
 * zeros dropped); a positive weight inserts that many copies, a negative one
 * deletes that many of the stored copies.  The hidden, indexed row hash
 * only finds candidates: a stored row is a copy of a delta row when its
 * columns are the same values, byte for byte (IvmRowKeysEqual), the identity
 * the diff strategy uses.  Not the types' equality: a view holds what its
 * query returned, and numeric 1.0 and 1.00, equal by "=", are distinct rows
 * of it (a delta that removes 1.00 must not remove the stored 1.0, or the
 * view would show a value its query does not return); and json or point,
 * which have no equality, can be columns of an SPJ view.
 *
 * AGG views: one statement folds the delta into the touched groups and
 * returns, per group, where it is stored, its new row and its old row; a
 * group whose count reaches 0 is deleted, a new one inserted, a changed one
 * replaced.  That statement finds a group by its key hash and, among those
 * candidates, by the key columns, each equal by its type's equality or both
 * NULL, as GROUP BY groups (1.0 and 1.00 are one group).  Whether a
 * group's row changed is decided by its columns too, never by a hash.
 *
 * Either way, nothing is written before the whole change is known: when the
 * storage turns out not to hold what the delta retracts, the function
 * returns false without writing and the caller recomputes the view.  A
 * caller can take what would be written instead (IvmRowChanges) and apply
 * it itself: a shard's worker computes, the tick applies (shard.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "funcapi.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "ivm.h"
#include "exec.h"
#include "rows.h"
#include "operators.h"
#include "strategies.h"

static char *
StorageName(Oid storage_rel)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(storage_rel)),
									  get_rel_name(storage_rel));
}

static TupleDesc
StorageDesc(Oid storage_rel)
{
	Relation	rel = table_open(storage_rel, AccessShareLock);
	TupleDesc	desc = CreateTupleDescCopy(RelationGetDescr(rel));

	table_close(rel, AccessShareLock);
	return desc;
}

/*
 * CheckColumnTypes
 *		Columns offset+1.. of a delta query's result must have the types of
 *		the first n storage columns: rows are formed from them as they are.
 */
static void
CheckColumnTypes(TupleDesc result, int offset, TupleDesc storage, int n,
				 const char *viewname)
{
	for (int i = 0; i < n; i++)
		if (offset + i >= result->natts ||
			TupleDescAttr(result, offset + i)->atttypid != TupleDescAttr(storage, i)->atttypid)
			elog(ERROR, "ivm: column %d of the delta query of \"%s\" does not have its storage column's type",
				 i + 1, viewname);
}

/*
 * Defer
 *		Hand what applying a delta would write to the caller (a shard's
 *		worker, which sends it to the tick that applies it): the ctids to
 *		delete, as an array in the caller's context, and the rows to insert.
 */
static void
Defer(IvmRowChanges *defer, Tuplestorestate *ctids, uint64 ndeletes,
	  Tuplestorestate **inserts, uint64 ninserts)
{
	defer->deletes = IvmCtidArray(ctids, ndeletes);
	defer->ndeletes = ndeletes;
	defer->inserts = *inserts;
	defer->ninserts = ninserts;
	*inserts = NULL;
}

/*
 * ForEachBatch
 *		Run delta query sql (a kept plan of sizeclass) as owner, restricted,
 *		at snap, and hand its rows to fn a batch at a time (exec.c), so that
 *		a large delta is never held whole.
 */
static void
ForEachBatch(const char *sql, Snapshot snap, int sizeclass, Oid owner, IvmBatchFn fn, void *arg)
{
	IvmUserSave save;

	IvmBecome(owner, true, &save);
	IvmFetchBatches(sql, 0, NULL, NULL, snap, sizeclass, fn, arg);
	IvmRestoreUser(&save);
}

/* The SPJ apply's reading of its delta query: rows into the consolidator. */
typedef struct SpjRead
{
	const char *viewname;
	TupleDesc	storage_desc;
	int			nvisible;
	TupleDesc	rdesc;			/* visible columns, weight (int8) */
	IvmConsolidator *cons;		/* NULL until the first row */
	Datum	   *values;
	bool	   *nulls;
	MemoryContext cxt;			/* where these live */
} SpjRead;

static bool
SpjBatch(SPITupleTable *tt, uint64 n, void *arg)
{
	SpjRead    *r = arg;

	if (r->cons == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(r->cxt);

		CheckColumnTypes(tt->tupdesc, 0, r->storage_desc, r->nvisible, r->viewname);
		if (tt->tupdesc->natts <= r->nvisible ||
			TupleDescAttr(tt->tupdesc, r->nvisible)->atttypid != INT8OID)
			elog(ERROR, "ivm: the delta query of \"%s\" has no int8 weight after its columns",
				 r->viewname);
		r->rdesc = CreateTemplateTupleDesc(r->nvisible + 1);
		for (int i = 1; i <= r->nvisible + 1; i++)
			TupleDescCopyEntry(r->rdesc, i, tt->tupdesc, i);
		r->cons = IvmConsolidatorBegin(r->rdesc, r->nvisible + 1);
		r->values = palloc(sizeof(Datum) * tt->tupdesc->natts);
		r->nulls = palloc(sizeof(bool) * tt->tupdesc->natts);
		MemoryContextSwitchTo(old);
	}
	for (uint64 i = 0; i < n; i++)
	{
		heap_deform_tuple(tt->vals[i], tt->tupdesc, r->values, r->nulls);
		IvmConsolidatorPut(r->cons, r->values, r->nulls);
	}
	return true;
}

/* A distinct delta row of an SPJ view that removes stored copies. */
typedef struct SpjEntry
{
	IvmRowKey	key;			/* the row (visible columns, weight), by its
								 * visible columns */
	int64		weight;			/* negative */
	int64		found;			/* stored copies found for it */
} SpjEntry;

/* the delta rows whose stored copies are looked up together */
#define SPJ_CHUNK 10000

/*
 * FindRemoved
 *		Find, for each delta row of rows (SpjEntry, all negative), as many
 *		stored copies as it removes, adding their ctids to ctids.  False
 *		when the storage holds fewer.  The candidates come by the index on
 *		the row hash, read as the storage's owner; each one's columns decide.
 */
static bool
FindRemoved(HTAB *rows, Oid storage_rel, const char *storage_name, int nvisible,
			Snapshot snap, const char *viewname, Tuplestorestate *ctids, TupleDesc ctid_desc,
			uint64 *nctids)
{
	int			nneg = hash_get_num_entries(rows);
	Datum	   *hashes = palloc(sizeof(Datum) * Max(nneg, 1));
	HASH_SEQ_STATUS seq;
	SpjEntry   *e;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		args[1];
	IvmUserSave save;
	int			k = 0;
	int			rc;
	bool		ok = true;
	char	   *sql;

	hash_seq_init(&seq, rows);
	while ((e = hash_seq_search(&seq)) != NULL)
		hashes[k++] = Int64GetDatum((int64) e->key.hash);
	args[0] = PointerGetDatum(construct_array(hashes, nneg, INT8OID, 8, true, TYPALIGN_DOUBLE));
	sql = psprintf("SELECT ctid, * FROM %s WHERE %s = ANY ($1)", storage_name, IVM_HASH_COLUMN);
	IvmBecomeOwnerOf(storage_rel, &save);
	rc = IvmExecCached(sql, 1, types, args, NULL, snap, 0, 0);
	IvmRestoreUser(&save);
	IvmSpiCheck(rc, SPI_OK_SELECT, "finding view rows");
	if (SPI_tuptable->tupdesc->natts != nvisible + 2)
		elog(ERROR, "ivm: storage of \"%s\" has %d columns, expected %d",
			 viewname, SPI_tuptable->tupdesc->natts - 1, nvisible + 1);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	stored = SPI_tuptable->vals[i];
		bool		isnull;
		Datum		tid = SPI_getbinval(stored, SPI_tuptable->tupdesc, 1, &isnull);
		IvmRowKey	key;

		/* the stored row: ctid, visible columns, then its hash */
		key.hash = (uint64) DatumGetInt64(SPI_getbinval(stored, SPI_tuptable->tupdesc,
														nvisible + 2, &isnull));
		key.tuple = stored;
		key.desc = SPI_tuptable->tupdesc;
		key.firstatt = 2;
		key.lastatt = nvisible + 1;
		key.skipatt = 0;
		e = hash_search(rows, &key, HASH_FIND, NULL);
		if (e != NULL && e->found < -e->weight)
		{
			isnull = false;
			tuplestore_putvalues(ctids, ctid_desc, &tid, &isnull);
			(*nctids)++;
			e->found++;
		}
	}
	SPI_freetuptable(SPI_tuptable);
	hash_seq_init(&seq, rows);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->found < -e->weight)
			ok = false;
	pfree(hashes);
	return ok;
}

/*
 * IvmApplySpj
 *		Run delta_sql (visible columns, then the weight) as the view's owner
 *		and apply it.  False, having written nothing, when the storage lacks
 *		rows the delta removes.
 *
 *		Memory stays within a few times work_mem whatever the size of the
 *		delta: its rows are read a batch at a time and consolidated by a
 *		sort that spills; the rows it inserts, the ctids it deletes and the
 *		view's delta go into tuplestores; the stored copies it removes are
 *		looked up SPJ_CHUNK delta rows at a time.
 */
bool
IvmApplySpj(Oid storage_rel, Oid view_owner, const char *viewname,
			const char *delta_sql, Snapshot snap, int nvisible, int sizeclass,
			Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *result,
			IvmRowChanges *defer)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext cxt = AllocSetContextCreate(oldcxt, "ivm spj", ALLOCSET_DEFAULT_SIZES);
	MemoryContext rowcxt = AllocSetContextCreate(cxt, "ivm spj row", ALLOCSET_DEFAULT_SIZES);
	MemoryContext chunkcxt = AllocSetContextCreate(cxt, "ivm spj chunk", ALLOCSET_DEFAULT_SIZES);
	char	   *storage_name = StorageName(storage_rel);
	TupleDesc	storage_desc = StorageDesc(storage_rel);
	TupleDesc	ctid_desc = IvmCtidDesc();
	SpjRead		r;
	Tuplestorestate *net;
	Tuplestorestate *inserts;
	Tuplestorestate *ctids;
	TupleTableSlot *slot;
	HTAB	   *chunk = NULL;
	Datum	   *values = palloc(sizeof(Datum) * (nvisible + 1));
	bool	   *nulls = palloc(sizeof(bool) * (nvisible + 1));
	uint64		ndeletes = 0;
	uint64		ninserts = 0;
	bool		ok = true;

	memset(&r, 0, sizeof(r));
	r.viewname = viewname;
	r.storage_desc = storage_desc;
	r.nvisible = nvisible;
	r.cxt = cxt;
	ForEachBatch(delta_sql, snap, sizeclass, view_owner, SpjBatch, &r);

	/* inserts in the caller's context: a caller may apply them later */
	inserts = tuplestore_begin_heap(false, false, work_mem);
	ctids = tuplestore_begin_heap(false, false, work_mem);
	if (r.cons == NULL)
		goto done;				/* no row */
	net = tuplestore_begin_heap(false, false, work_mem);
	(void) IvmConsolidatorEnd(r.cons, net);

	slot = MakeSingleTupleTableSlot(r.rdesc, &TTSOpsMinimalTuple);
	while (ok && tuplestore_gettupleslot(net, true, false, slot))
	{
		HeapTuple	tup;
		int64		w;

		slot_getallattrs(slot);
		w = DatumGetInt64(slot->tts_values[nvisible]);
		if (w < 0)
		{
			SpjEntry   *e;
			IvmRowKey	key;
			bool		found;

			MemoryContextSwitchTo(chunkcxt);
			if (chunk == NULL)
				chunk = IvmRowTableCreate("ivm delta rows removed", 256, sizeof(SpjEntry), chunkcxt);
			tup = ExecCopySlotHeapTuple(slot);
			IvmRowKeyInit(&key, tup, r.rdesc, 1, nvisible, 0);
			e = hash_search(chunk, &key, HASH_ENTER, &found);
			if (!found)
			{
				e->weight = 0;
				e->found = 0;
			}
			e->weight += w;
		}
		else
		{
			MemoryContextSwitchTo(rowcxt);
			tup = ExecCopySlotHeapTuple(slot);
			memcpy(values, slot->tts_values, sizeof(Datum) * nvisible);
			memcpy(nulls, slot->tts_isnull, sizeof(bool) * nvisible);
			values[nvisible] = Int64GetDatum((int64) IvmHashRow(tup, r.rdesc, 1, nvisible));
			nulls[nvisible] = false;
			for (int64 k = 0; k < w; k++)
				tuplestore_putvalues(inserts, storage_desc, values, nulls);
			ninserts += w;
		}
		if (vdelta)
		{
			MemoryContextSwitchTo(rowcxt);
			tuplestore_puttuple(vdelta, IvmVisibleTuple(tup, r.rdesc, vdesc, w));
		}
		MemoryContextSwitchTo(cxt);
		MemoryContextReset(rowcxt);
		if (chunk != NULL && hash_get_num_entries(chunk) >= SPJ_CHUNK)
		{
			ok = FindRemoved(chunk, storage_rel, storage_name, nvisible, snap, viewname,
							 ctids, ctid_desc, &ndeletes);
			chunk = NULL;
			MemoryContextReset(chunkcxt);
		}
		CHECK_FOR_INTERRUPTS();
	}
	if (ok && chunk != NULL)
		ok = FindRemoved(chunk, storage_rel, storage_name, nvisible, snap, viewname,
						 ctids, ctid_desc, &ndeletes);
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(net);

done:
	MemoryContextSwitchTo(oldcxt);
	if (ok)
	{
		if (defer != NULL)
			Defer(defer, ctids, ndeletes, &inserts, ninserts);
		else
			IvmApplyRowsFrom(storage_rel, storage_name, ctids, ndeletes, inserts, storage_desc,
							 ninserts, snap, viewname);
		result->inserted = ninserts;
		result->deleted = ndeletes;
		result->rows_delta = (int64) ninserts - (int64) ndeletes;
	}
	if (inserts != NULL)
		tuplestore_end(inserts);
	tuplestore_end(ctids);
	MemoryContextDelete(cxt);
	return ok;
}

/* whether a storage row (values, nulls) is shown: it passes HAVING, if any */
static bool
Passes(IvmShape *shape, Datum *values, bool *nulls)
{
	if (shape->passattno == 0)
		return true;
	return !nulls[shape->passattno - 1] && DatumGetBool(values[shape->passattno - 1]);
}

/* The AGG apply's state, across the batches of its merge query. */
typedef struct AggApply
{
	const char *viewname;
	IvmShape   *shape;
	TupleDesc	storage_desc;
	bool		checked;
	Tuplestorestate *inserts;
	Tuplestorestate *ctids;
	TupleDesc	ctid_desc;
	Tuplestorestate *vdelta;
	TupleDesc	vdesc;
	uint64		ndeletes;
	uint64		ninserts;
	uint64		vins;
	uint64		vdel;
	int64		size_delta;
	bool		ok;
	Datum	   *values;
	bool	   *nulls;
	MemoryContext rowcxt;		/* reset per row */
} AggApply;

/* One batch of a merge query's rows (see IvmApplyAgg). */
static bool
AggBatch(SPITupleTable *tt, uint64 n, void *arg)
{
	AggApply   *a = arg;
	TupleDesc	storage_desc = a->storage_desc;
	int			natts = storage_desc->natts;
	int			nvisible = a->shape->nvisible;
	Datum	   *values = a->values;
	bool	   *nulls = a->nulls;
	MemoryContext old = MemoryContextSwitchTo(a->rowcxt);

	if (!a->checked)
	{
		if (tt->tupdesc->natts != 1 + 2 * natts)
			elog(ERROR, "ivm: delta query of \"%s\" returned %d columns, expected %d",
				 a->viewname, tt->tupdesc->natts, 1 + 2 * natts);
		CheckColumnTypes(tt->tupdesc, 1, storage_desc, natts, a->viewname);
		a->checked = true;
	}
	for (uint64 i = 0; i < n && a->ok; i++)
	{
		bool		stored;
		int64		count;
		bool		gone;

		MemoryContextReset(a->rowcxt);
		heap_deform_tuple(tt->vals[i], tt->tupdesc, values, nulls);
		stored = !nulls[0];
		count = DatumGetInt64(values[1 + nvisible]);
		if (count < 0)
		{
			a->ok = false;
			break;
		}
		gone = (count == 0 && !a->shape->scalar);
		a->size_delta += count - (nulls[1 + natts + nvisible] ? 0 : DatumGetInt64(values[1 + natts + nvisible]));

		if (!stored)
		{
			if (gone)
				continue;		/* came and went within the tick */
			tuplestore_putvalues(a->inserts, storage_desc, values + 1, nulls + 1);
			a->ninserts++;
			if (!Passes(a->shape, values + 1, nulls + 1))
				continue;		/* a group HAVING hides */
			a->vins++;
			if (a->vdelta)
			{
				values[1 + nvisible] = Int64GetDatum(1);
				nulls[1 + nvisible] = false;
				tuplestore_putvalues(a->vdelta, a->vdesc, values + 1, nulls + 1);
			}
			continue;
		}

		/* the group's stored row: unchanged, replaced, or gone */
		{
			HeapTuple	nt = heap_form_tuple(storage_desc, values + 1, nulls + 1);
			HeapTuple	ot = heap_form_tuple(storage_desc, values + 1 + natts, nulls + 1 + natts);
			IvmRowKey	newrow = {0, nt, storage_desc, 1, natts, 0};
			IvmRowKey	oldrow = {0, ot, storage_desc, 1, natts, 0};
			bool		old_shown = Passes(a->shape, values + 1 + natts, nulls + 1 + natts);
			bool		new_shown = !gone && Passes(a->shape, values + 1, nulls + 1);
			bool		visible_changed;
			bool		isnull = false;

			/* changed: by the values of its columns (hashes unused) */
			if (!gone && IvmRowKeysEqual(&newrow, &oldrow))
				continue;
			newrow.lastatt = oldrow.lastatt = nvisible;
			visible_changed = gone || old_shown != new_shown || !IvmRowKeysEqual(&newrow, &oldrow);
			tuplestore_putvalues(a->ctids, a->ctid_desc, &values[0], &isnull);
			a->ndeletes++;
			if (visible_changed && old_shown)
			{
				a->vdel++;
				if (a->vdelta)
					tuplestore_puttuple(a->vdelta, IvmVisibleTuple(ot, storage_desc, a->vdesc, -1));
			}
			if (!gone)
			{
				tuplestore_puttuple(a->inserts, nt);
				a->ninserts++;
			}
			if (visible_changed && new_shown)
			{
				a->vins++;
				if (a->vdelta)
					tuplestore_puttuple(a->vdelta, IvmVisibleTuple(nt, storage_desc, a->vdesc, 1));
			}
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(a->rowcxt);
	return a->ok;
}

/*
 * IvmApplyAgg
 *		Run merge_sql (IvmMergeSql) as the view's owner and apply what it
 *		returns.  False, having written nothing, when a group's count would
 *		go negative.  Its rows are read a batch at a time, and what they
 *		write goes into tuplestores: memory stays within work_mem whatever
 *		the number of groups touched.
 */
bool
IvmApplyAgg(Oid storage_rel, Oid view_owner, const char *viewname,
			IvmShape *shape, const char *merge_sql, Snapshot snap, int sizeclass,
			Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *result,
			IvmRowChanges *defer)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ivm agg",
											  ALLOCSET_DEFAULT_SIZES);
	char	   *storage_name = StorageName(storage_rel);
	AggApply	a;

	memset(&a, 0, sizeof(a));
	a.viewname = viewname;
	a.shape = shape;
	a.storage_desc = StorageDesc(storage_rel);
	a.inserts = tuplestore_begin_heap(false, false, work_mem);
	a.ctids = tuplestore_begin_heap(false, false, work_mem);
	a.ctid_desc = IvmCtidDesc();
	a.vdelta = vdelta;
	a.vdesc = vdesc;
	a.ok = true;
	a.values = palloc(sizeof(Datum) * (1 + 2 * a.storage_desc->natts));
	a.nulls = palloc(sizeof(bool) * (1 + 2 * a.storage_desc->natts));
	a.rowcxt = AllocSetContextCreate(cxt, "ivm agg row", ALLOCSET_DEFAULT_SIZES);
	ForEachBatch(merge_sql, snap, sizeclass, view_owner, AggBatch, &a);

	if (a.ok)
	{
		if (defer != NULL)
			Defer(defer, a.ctids, a.ndeletes, &a.inserts, a.ninserts);
		else
			IvmApplyRowsFrom(storage_rel, storage_name, a.ctids, a.ndeletes, a.inserts,
							 a.storage_desc, a.ninserts, snap, viewname);
		result->inserted = a.vins;
		result->deleted = a.vdel;
		result->size_delta = a.size_delta;
		result->rows_delta = (int64) a.ninserts - (int64) a.ndeletes;
	}
	if (a.inserts != NULL)
		tuplestore_end(a.inserts);
	tuplestore_end(a.ctids);
	pfree(a.values);
	pfree(a.nulls);
	MemoryContextDelete(cxt);
	return a.ok;
}
