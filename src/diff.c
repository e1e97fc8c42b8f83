/*-------------------------------------------------------------------------
 *
 * diff.c
 *		The diff strategy: re-run a view's query, hash every row with XXH3,
 *		compare the multiset of rows with the stored rows and apply only the
 *		difference.
 *
 * Layer: strategies.  Calls exec (statements, kept plans), rights (the
 * view's owner runs its query) and rows (hashing, row identity, applying
 * rows); nothing above.
 *
 * Works for every deterministic query, whatever its shape; it costs what
 * the query costs, plus a pass over the stored rows.  Duplicates are
 * multiplicities: a row seen three times in the result and once in the
 * storage inserts two rows; the reverse deletes two (chosen by ctid).
 * Rows are compared as rows.c compares them: by the binary value of each
 * column, a hash only finding candidates.
 *
 * Memory: both sides are materialised by SPI for the length of one call,
 * plus a hash table of distinct rows, all in a context deleted on return.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"
#include "utils/tuplestore.h"

#include "ivm.h"

/* One distinct row: how often it is stored, how often the query returns it. */
typedef struct DiffEntry
{
	IvmRowKey	key;			/* the row (first seen), and its hash */
	int64		old_count;
	int64		new_count;
	int64		first_old;		/* its last stored copy in the stored side's
								 * result, the others chained by next_old;
								 * -1: none */
} DiffEntry;

/*
 * CheckResultMatchesStorage
 *		The query must still return the columns the storage was made for.
 */
static void
CheckResultMatchesStorage(TupleDesc result, TupleDesc storage, const char *viewname)
{
	bool		ok = (result->natts == storage->natts);

	for (int i = 0; ok && i < result->natts; i++)
		if (TupleDescAttr(result, i)->atttypid != TupleDescAttr(storage, i)->atttypid)
			ok = false;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("query of incremental view \"%s\" no longer returns the columns its storage holds",
						viewname),
				 errdetail("An object the query uses has changed its result type."),
				 errhint("Drop the view and create it again.")));
}

/* whether a row is shown: its column passatt (HAVING) is true, if any */
static bool
RowShown(HeapTuple tuple, TupleDesc desc, AttrNumber passatt)
{
	bool		isnull;
	Datum		pass;

	if (passatt == 0)
		return true;
	pass = heap_getattr(tuple, passatt, desc, &isnull);
	return !isnull && DatumGetBool(pass);
}

/*
 * IvmDiffView
 *		Bring a view's storage up to date by the diff strategy: query returns
 *		every storage column (hidden ones included).
 *
 * query runs as view_owner under a restricted security context; the storage
 * is written as the caller (the owner of schema ivm).  snap is the tick's
 * snapshot, or InvalidSnapshot outside a tick.  When vdelta is given, the
 * removed rows (weight -1) and added rows (+1), cut to the first nvisible
 * columns, go into it, shaped by vdesc.
 *
 * Caller is connected to SPI.
 */
void
IvmDiffView(Oid storage_rel, Oid view_owner, const char *viewname,
			const char *query, Snapshot snap, int nvisible, AttrNumber passattno,
			Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *result)
{
	MemoryContext diffcxt;
	MemoryContext oldcxt;
	HTAB	   *rows;
	char	   *storage_name;
	StringInfoData sql;
	SPITupleTable *old_rows;
	SPITupleTable *new_rows;
	uint64		nold;
	uint64		nnew;
	Tuplestorestate *inserts;
	uint64		ninserts = 0;
	ItemPointerData *deletes;
	uint64		ndeletes = 0;
	uint64		vins = 0;		/* of those, rows the view shows */
	uint64		vdel = 0;
	int64	   *next_old;
	HASH_SEQ_STATUS seq;
	DiffEntry  *entry;
	IvmUserSave save;
	TupleDesc	storage_desc;
	int			rc;

	diffcxt = AllocSetContextCreate(CurrentMemoryContext, "ivm diff",
									ALLOCSET_DEFAULT_SIZES);
	storage_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(storage_rel)),
											  get_rel_name(storage_rel));
	initStringInfo(&sql);

	/* what is stored, with where each row is */
	appendStringInfo(&sql, "SELECT ctid, * FROM %s", storage_name);
	rc = IvmExecSnap(sql.data, 0, NULL, NULL, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "reading view storage");
	old_rows = SPI_tuptable;
	nold = SPI_processed;

	oldcxt = MemoryContextSwitchTo(diffcxt);
	rows = IvmRowTableCreate("ivm diff rows", (long) Max(nold, 1024), sizeof(DiffEntry), diffcxt);
	next_old = palloc(sizeof(int64) * Max(nold, 1));
	for (uint64 i = 0; i < nold; i++)
	{
		IvmRowKey	key;
		bool		found;

		/* the stored row, its ctid (column 1) aside */
		IvmRowKeyInit(&key, old_rows->vals[i], old_rows->tupdesc, 2, old_rows->tupdesc->natts, 0);
		entry = hash_search(rows, &key, HASH_ENTER, &found);
		if (!found)
		{
			entry->old_count = entry->new_count = 0;
			entry->first_old = -1;
		}
		next_old[i] = entry->first_old;
		entry->first_old = (int64) i;
		entry->old_count++;
	}
	MemoryContextSwitchTo(oldcxt);

	/* what the query returns now, as the view's owner */
	IvmBecome(view_owner, true, &save);
	rc = IvmExecSnap(query, 0, NULL, NULL, NULL, snap, 0);
	IvmRestoreUser(&save);
	IvmSpiCheck(rc, SPI_OK_SELECT, "running the view query");
	new_rows = SPI_tuptable;
	nnew = SPI_processed;

	{
		Relation	srel = table_open(storage_rel, AccessShareLock);

		storage_desc = CreateTupleDescCopy(RelationGetDescr(srel));
		table_close(srel, AccessShareLock);
	}
	CheckResultMatchesStorage(new_rows->tupdesc, storage_desc, viewname);

	oldcxt = MemoryContextSwitchTo(diffcxt);
	inserts = tuplestore_begin_heap(false, false, work_mem);
	for (uint64 i = 0; i < nnew; i++)
	{
		HeapTuple	tup = new_rows->vals[i];
		IvmRowKey	key;
		bool		found;

		IvmRowKeyInit(&key, tup, new_rows->tupdesc, 1, new_rows->tupdesc->natts, 0);
		entry = hash_search(rows, &key, HASH_ENTER, &found);
		if (!found)
		{
			entry->old_count = entry->new_count = 0;
			entry->first_old = -1;
		}
		entry->new_count++;
		if (entry->new_count > entry->old_count)
		{
			tuplestore_puttuple(inserts, tup);
			ninserts++;
			if (RowShown(tup, new_rows->tupdesc, passattno))
			{
				if (vdelta)
					tuplestore_puttuple(vdelta, IvmVisibleTuple(tup, new_rows->tupdesc, vdesc, 1));
				vins++;
			}
		}
	}

	deletes = palloc(sizeof(ItemPointerData) * Max(nold, 1));
	hash_seq_init(&seq, rows);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		int64		idx = entry->first_old;

		for (int64 k = entry->new_count; k < entry->old_count; k++, idx = next_old[idx])
		{
			HeapTuple	old = old_rows->vals[idx];
			bool		isnull;

			Assert(idx >= 0);
			ItemPointerCopy((ItemPointer) DatumGetPointer(heap_getattr(old, 1, old_rows->tupdesc, &isnull)),
							&deletes[ndeletes++]);
			if (!RowShown(old, old_rows->tupdesc, passattno == 0 ? 0 : passattno + 1))
				continue;		/* a row the view does not show (the ctid comes first) */
			vdel++;
			if (vdelta)
			{
				/* the stored row without its ctid */
				Datum	   *values = palloc(sizeof(Datum) * (old_rows->tupdesc->natts + 1));
				bool	   *nulls = palloc(sizeof(bool) * (old_rows->tupdesc->natts + 1));

				heap_deform_tuple(old, old_rows->tupdesc, values, nulls);
				values[nvisible + 1] = Int64GetDatum(-1);
				nulls[nvisible + 1] = false;
				tuplestore_putvalues(vdelta, vdesc, values + 1, nulls + 1);
			}
		}
	}
	MemoryContextSwitchTo(oldcxt);

	IvmApplyRows(storage_rel, storage_name, deletes, ndeletes, inserts, storage_desc, ninserts,
				 snap, viewname);
	tuplestore_end(inserts);

	result->inserted = vins;
	result->deleted = vdel;
	result->rows_after = nold - ndeletes + ninserts;
	result->rows_delta = (int64) ninserts - (int64) ndeletes;

	SPI_freetuptable(old_rows);
	SPI_freetuptable(new_rows);
	MemoryContextDelete(diffcxt);
}
