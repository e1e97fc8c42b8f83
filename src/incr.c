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
 * candidates, by the key columns with IS NOT DISTINCT FROM: the types'
 * equality, as GROUP BY groups (1.0 and 1.00 are one group).  Whether a
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
 *		delete, copied into the caller's context, and the rows to insert.
 */
static void
Defer(IvmRowChanges *defer, ItemPointerData *deletes, uint64 ndeletes,
	  Tuplestorestate **inserts, uint64 ninserts)
{
	defer->deletes = palloc(sizeof(ItemPointerData) * Max(ndeletes, 1));
	memcpy(defer->deletes, deletes, sizeof(ItemPointerData) * ndeletes);
	defer->ndeletes = ndeletes;
	defer->inserts = *inserts;
	defer->ninserts = ninserts;
	*inserts = NULL;
}

/* A distinct delta row of an SPJ view. */
typedef struct SpjEntry
{
	IvmRowKey	key;			/* one copy (visible columns, weight), by its
								 * visible columns */
	int64		weight;
	int64		found;			/* stored copies found for a negative weight */
	int			nctids;
	ItemPointerData *ctids;
} SpjEntry;

/*
 * IvmApplySpj
 *		Run delta_sql (visible columns, then the weight) as the view's owner
 *		and apply it.  False, having written nothing, when the storage lacks
 *		rows the delta removes.
 */
bool
IvmApplySpj(Oid storage_rel, Oid view_owner, const char *viewname,
			const char *delta_sql, Snapshot snap, int nvisible, int sizeclass,
			Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *result,
			IvmRowChanges *defer)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ivm spj",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt;
	char	   *storage_name = StorageName(storage_rel);
	TupleDesc	storage_desc = StorageDesc(storage_rel);
	HTAB	   *rows;
	HASH_SEQ_STATUS seq;
	SpjEntry   *e;
	IvmUserSave save;
	SPITupleTable *delta;
	uint64		ndelta;
	Datum	   *neg_hashes;
	int			nneg = 0;
	ItemPointerData *deletes;
	uint64		ndeletes = 0;
	uint64		maxdeletes = 0;
	Tuplestorestate *inserts;
	uint64		ninserts = 0;
	int			rc;
	bool		ok = true;

	IvmBecome(view_owner, true, &save);
	rc = IvmExecCached(delta_sql, 0, NULL, NULL, NULL, snap, 0, sizeclass);
	IvmRestoreUser(&save);
	IvmSpiCheck(rc, SPI_OK_SELECT, "running the delta query");
	delta = SPI_tuptable;
	ndelta = SPI_processed;
	CheckColumnTypes(delta->tupdesc, 0, storage_desc, nvisible, viewname);

	oldcxt = MemoryContextSwitchTo(cxt);
	rows = IvmRowTableCreate("ivm delta rows", 256, sizeof(SpjEntry), cxt);

	/* consolidate */
	for (uint64 i = 0; i < ndelta; i++)
	{
		HeapTuple	tup = delta->vals[i];
		IvmRowKey	key;
		bool		isnull;
		int64		w = DatumGetInt64(SPI_getbinval(tup, delta->tupdesc, nvisible + 1, &isnull));
		bool		found;

		IvmRowKeyInit(&key, tup, delta->tupdesc, 1, nvisible, 0);
		e = hash_search(rows, &key, HASH_ENTER, &found);
		if (!found)
		{
			e->weight = 0;
			e->found = 0;
			e->nctids = 0;
			e->ctids = NULL;
		}
		e->weight += w;
	}

	/* the stored copies that negative weights remove */
	neg_hashes = palloc(sizeof(Datum) * Max(hash_get_num_entries(rows), 1));
	hash_seq_init(&seq, rows);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->weight < 0)
		{
			neg_hashes[nneg++] = Int64GetDatum((int64) e->key.hash);
			maxdeletes += (uint64) (-e->weight);
			e->ctids = palloc(sizeof(ItemPointerData) * (-e->weight));
		}
	deletes = palloc(sizeof(ItemPointerData) * Max(maxdeletes, 1));
	if (nneg > 0)
	{
		StringInfoData sql;
		Oid			types[1] = {INT8ARRAYOID};
		Datum		args[1];

		args[0] = PointerGetDatum(construct_array(neg_hashes, nneg, INT8OID, 8, true, TYPALIGN_DOUBLE));
		initStringInfo(&sql);
		/* the candidates, by the index on the hash; then each one's columns decide */
		appendStringInfo(&sql, "SELECT ctid, * FROM %s WHERE %s = ANY ($1)",
						 storage_name, IVM_HASH_COLUMN);
		MemoryContextSwitchTo(oldcxt);
		IvmBecomeOwnerOf(storage_rel, &save);
		rc = IvmExecCached(sql.data, 1, types, args, NULL, snap, 0, 0);
		IvmRestoreUser(&save);
		IvmSpiCheck(rc, SPI_OK_SELECT, "finding view rows");
		MemoryContextSwitchTo(cxt);
		if (SPI_tuptable->tupdesc->natts != nvisible + 2)
			elog(ERROR, "ivm: storage of \"%s\" has %d columns, expected %d",
				 viewname, SPI_tuptable->tupdesc->natts - 1, nvisible + 1);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	stored = SPI_tuptable->vals[i];
			bool		isnull;
			ItemPointer tid = (ItemPointer) DatumGetPointer(SPI_getbinval(stored, SPI_tuptable->tupdesc,
																		  1, &isnull));
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
			if (e != NULL && e->weight < 0 && e->found < -e->weight)
			{
				ItemPointerCopy(tid, &deletes[ndeletes++]);
				e->found++;
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}

	/* inserts (in the caller's context: a caller may apply them later), and the view's delta */
	MemoryContextSwitchTo(oldcxt);
	inserts = tuplestore_begin_heap(false, false, work_mem);
	MemoryContextSwitchTo(cxt);
	hash_seq_init(&seq, rows);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->weight < 0 && e->found < -e->weight)
			ok = false;
		if (e->weight > 0)
		{
			Datum	   *values = palloc(sizeof(Datum) * (nvisible + 1));
			bool	   *nulls = palloc(sizeof(bool) * (nvisible + 1));

			heap_deform_tuple(e->key.tuple, delta->tupdesc, values, nulls);
			values[nvisible] = Int64GetDatum((int64) e->key.hash);
			nulls[nvisible] = false;
			for (int64 k = 0; k < e->weight; k++)
				tuplestore_putvalues(inserts, storage_desc, values, nulls);
			ninserts += e->weight;
		}
		if (e->weight != 0 && vdelta)
			tuplestore_puttuple(vdelta, IvmVisibleTuple(e->key.tuple, delta->tupdesc, vdesc, e->weight));
	}
	MemoryContextSwitchTo(oldcxt);

	if (ok)
	{
		if (defer != NULL)
			Defer(defer, deletes, ndeletes, &inserts, ninserts);
		else
			IvmApplyRows(storage_rel, storage_name, deletes, ndeletes, inserts, storage_desc, ninserts,
						 snap, viewname);
		result->inserted = ninserts;
		result->deleted = ndeletes;
		result->rows_delta = (int64) ninserts - (int64) ndeletes;
	}
	if (inserts != NULL)
		tuplestore_end(inserts);
	SPI_freetuptable(delta);
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

/*
 * IvmApplyAgg
 *		Run merge_sql (IvmMergeSql) as the view's owner and apply what it
 *		returns.  False, having written nothing, when a group's count would
 *		go negative.
 */
bool
IvmApplyAgg(Oid storage_rel, Oid view_owner, const char *viewname,
			IvmShape *shape, const char *merge_sql, Snapshot snap, int sizeclass,
			Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *result,
			IvmRowChanges *defer)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ivm agg",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt;
	char	   *storage_name = StorageName(storage_rel);
	TupleDesc	storage_desc = StorageDesc(storage_rel);
	int			natts = storage_desc->natts;
	int			nvisible = shape->nvisible;
	IvmUserSave save;
	SPITupleTable *merged;
	uint64		nmerged;
	ItemPointerData *deletes;
	uint64		ndeletes = 0;
	Tuplestorestate *inserts;
	uint64		ninserts = 0;
	Datum	   *values;
	bool	   *nulls;
	uint64		vins = 0;
	uint64		vdel = 0;
	int64		size_delta = 0;
	int			rc;
	bool		ok = true;

	IvmBecome(view_owner, true, &save);
	rc = IvmExecCached(merge_sql, 0, NULL, NULL, NULL, snap, 0, sizeclass);
	IvmRestoreUser(&save);
	IvmSpiCheck(rc, SPI_OK_SELECT, "running the delta query");
	merged = SPI_tuptable;
	nmerged = SPI_processed;
	if (merged->tupdesc->natts != 1 + 2 * natts)
		elog(ERROR, "ivm: delta query of \"%s\" returned %d columns, expected %d",
			 viewname, merged->tupdesc->natts, 1 + 2 * natts);
	CheckColumnTypes(merged->tupdesc, 1, storage_desc, natts, viewname);

	inserts = tuplestore_begin_heap(false, false, work_mem);
	oldcxt = MemoryContextSwitchTo(cxt);
	deletes = palloc(sizeof(ItemPointerData) * Max(nmerged, 1));
	values = palloc(sizeof(Datum) * (1 + 2 * natts));
	nulls = palloc(sizeof(bool) * (1 + 2 * natts));

	for (uint64 i = 0; i < nmerged && ok; i++)
	{
		HeapTuple	tup = merged->vals[i];
		bool		stored;
		int64		count;
		bool		gone;

		heap_deform_tuple(tup, merged->tupdesc, values, nulls);
		stored = !nulls[0];
		count = DatumGetInt64(values[1 + nvisible]);
		if (count < 0)
		{
			ok = false;
			break;
		}
		gone = (count == 0 && !shape->scalar);
		size_delta += count - (nulls[1 + natts + nvisible] ? 0 : DatumGetInt64(values[1 + natts + nvisible]));

		if (!stored)
		{
			if (gone)
				continue;		/* came and went within the tick */
			tuplestore_putvalues(inserts, storage_desc, values + 1, nulls + 1);
			ninserts++;
			if (!Passes(shape, values + 1, nulls + 1))
				continue;		/* a group HAVING hides */
			vins++;
			if (vdelta)
			{
				values[1 + nvisible] = Int64GetDatum(1);
				nulls[1 + nvisible] = false;
				tuplestore_putvalues(vdelta, vdesc, values + 1, nulls + 1);
			}
			continue;
		}

		/* the group's stored row: unchanged, replaced, or gone */
		{
			HeapTuple	n = heap_form_tuple(storage_desc, values + 1, nulls + 1);
			HeapTuple	o = heap_form_tuple(storage_desc, values + 1 + natts, nulls + 1 + natts);
			IvmRowKey	newrow = {0, n, storage_desc, 1, natts, 0};
			IvmRowKey	oldrow = {0, o, storage_desc, 1, natts, 0};
			bool		old_shown = Passes(shape, values + 1 + natts, nulls + 1 + natts);
			bool		new_shown = !gone && Passes(shape, values + 1, nulls + 1);
			bool		visible_changed;

			/* changed: by the values of its columns (hashes unused) */
			if (!gone && IvmRowKeysEqual(&newrow, &oldrow))
				continue;
			newrow.lastatt = oldrow.lastatt = nvisible;
			visible_changed = gone || old_shown != new_shown || !IvmRowKeysEqual(&newrow, &oldrow);
			ItemPointerCopy((ItemPointer) DatumGetPointer(values[0]), &deletes[ndeletes++]);
			if (visible_changed && old_shown)
			{
				vdel++;
				if (vdelta)
					tuplestore_puttuple(vdelta, IvmVisibleTuple(o, storage_desc, vdesc, -1));
			}
			if (!gone)
			{
				tuplestore_puttuple(inserts, n);
				ninserts++;
			}
			if (visible_changed && new_shown)
			{
				vins++;
				if (vdelta)
					tuplestore_puttuple(vdelta, IvmVisibleTuple(n, storage_desc, vdesc, 1));
			}
		}
	}
	MemoryContextSwitchTo(oldcxt);

	if (ok)
	{
		if (defer != NULL)
			Defer(defer, deletes, ndeletes, &inserts, ninserts);
		else
			IvmApplyRows(storage_rel, storage_name, deletes, ndeletes, inserts, storage_desc, ninserts,
						 snap, viewname);
		result->inserted = vins;
		result->deleted = vdel;
		result->size_delta = size_delta;
		result->rows_delta = (int64) ninserts - (int64) ndeletes;
	}
	if (inserts != NULL)
		tuplestore_end(inserts);
	SPI_freetuptable(merged);
	MemoryContextDelete(cxt);
	return ok;
}
