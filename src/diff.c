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
 * Memory: bounded, whatever the size of the view.  Both sides are read
 * through cursors sorted by row hash (ivm.row_hash, the hash rows.c gives
 * a row; for a storage that keeps each row's hash in __ivm_hash, that
 * column, so that neither side hashes), a batch of rows at a time, and merged: the rows of one hash
 * value, few, are matched copy by copy.  PostgreSQL's sort spills to disk
 * past work_mem; the rows to insert, the stored rows to delete and the
 * delta emitted go into tuplestores, which spill too; nothing holds a whole
 * side in memory.
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
#include "utils/snapmgr.h"
#include "utils/rel.h"
#include "utils/typcache.h"
#include "utils/tuplestore.h"

#include "ivm.h"
#include "exec.h"
#include "rows.h"
#include "strategies.h"

/*
 * IvmCheckResultShape
 *		The query must still return the columns the storage was made for.
 */
void
IvmCheckResultShape(TupleDesc result, TupleDesc storage, const char *viewname)
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

/* rows fetched from a cursor at a time */
#define DIFF_BATCH 1000
/* rows a diff must write, most of its storage, before it analyzes the storage */
#define DIFF_ANALYZE_MIN 1000

/* One side of the merge: a cursor over rows sorted by their hash. */
typedef struct DiffSide
{
	Portal		portal;
	Oid			runas;			/* the role fetching runs as, or InvalidOid */
	SPITupleTable *tt;			/* the current batch */
	uint64		n;
	uint64		pos;
	int			firstatt;		/* first compared column (2: a ctid first) */
	int			hashatt;		/* the column holding the row's hash, or 0 */
	bool		sorted;			/* rows come in hash order */
	bool		done;
	bool		hashed;			/* hash is the row at pos's */
	int64		hash;			/* of the row at pos, when filled */
	uint64		rows;			/* rows read */
} DiffSide;

/*
 * IvmOpenCursor
 *		A cursor over sql (a kept plan), at snap (its command id advanced,
 *		so this tick's earlier writes are seen) or, without a snapshot, a
 *		fresh one; opened as runas (restricted) when it is valid, else as
 *		the caller.
 */
Portal
IvmOpenCursor(const char *sql, Snapshot snap, Oid runas)
{
	SPIPlanPtr	plan;
	Portal		portal;
	IvmUserSave save;

	CommandCounterIncrement();
	if (OidIsValid(runas))
		IvmBecome(runas, true, &save);
	plan = IvmKeptPlan(sql, 0, NULL, 0);
	if (snap != InvalidSnapshot)
	{
		PushCopiedSnapshot(snap);
		UpdateActiveSnapshotCommandId();
		portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
		PopActiveSnapshot();
	}
	else
		portal = SPI_cursor_open(NULL, plan, NULL, NULL, false);
	if (OidIsValid(runas))
		IvmRestoreUser(&save);
	return portal;
}

/*
 * SideFill
 *		Make the side's next row current (fetching a batch when the last is
 *		used up) and hash it; false at the end.  Hashes must not decrease.
 */
static bool
SideFill(DiffSide *side, const char *viewname)
{
	HeapTuple	tup;
	int64		hash;

	if (side->done)
		return false;
	if (side->hashed)
		return true;
	if (side->tt == NULL || side->pos >= side->n)
	{
		IvmUserSave save;

		if (side->tt != NULL)
			SPI_freetuptable(side->tt);
		if (OidIsValid(side->runas))
			IvmBecome(side->runas, true, &save);
		SPI_cursor_fetch(side->portal, true, DIFF_BATCH);
		if (OidIsValid(side->runas))
			IvmRestoreUser(&save);
		side->tt = SPI_tuptable;
		side->n = SPI_processed;
		side->pos = 0;
		if (side->n == 0)
		{
			side->done = true;
			return false;
		}
	}
	tup = side->tt->vals[side->pos];
	if (side->hashatt > 0)
	{
		bool		isnull;

		hash = DatumGetInt64(heap_getattr(tup, side->hashatt, side->tt->tupdesc, &isnull));
	}
	else
		hash = (int64) IvmHashRow(tup, side->tt->tupdesc, side->firstatt, side->tt->tupdesc->natts);
	if (side->sorted && side->rows > 0 && hash < side->hash)
		elog(ERROR, "ivm: the rows of \"%s\" did not come in the order of their hash", viewname);
	side->hash = hash;
	side->hashed = true;
	return true;
}

/* the side's current row, copied into the current memory context; then the next */
static HeapTuple
SideTake(DiffSide *side)
{
	HeapTuple	tup = heap_copytuple(side->tt->vals[side->pos]);

	side->pos++;
	side->rows++;
	side->hashed = false;
	return tup;
}

/*
 * IvmHashColumn
 *		The storage's column (1-based) that holds each row's hash already, or
 *		0: the last one, __ivm_hash, of a view of delta rules without
 *		aggregates, which holds ivm.row_hash of the visible columns (equal
 *		rows, equal hashes), and which its query computes too.  The diff
 *		then sorts both sides by it and hashes nothing.
 */
int
IvmHashColumn(TupleDesc storage_desc)
{
	Form_pg_attribute att;

	if (storage_desc->natts < 2)
		return 0;
	att = TupleDescAttr(storage_desc, storage_desc->natts - 1);
	if (att->attisdropped || att->atttypid != INT8OID ||
		strcmp(NameStr(att->attname), IVM_HASH_COLUMN) != 0)
		return 0;
	return storage_desc->natts;
}

/*
 * The stored rows, each with its ctid, in the order of their hash.  A stored
 * hash is sorted as an expression (+ 0): read through its index, in hash
 * order, the heap would be read at random, a page per row (measured at a
 * million rows: 3.8 s against 2.2 s for a scan and a sort).
 */
static char *
StoredSideSql(const char *storage_name, const char *stored_filter, bool hash_stored)
{
	return psprintf("SELECT s.ctid, s.* FROM %s s%s%s ORDER BY %s",
					storage_name, stored_filter != NULL ? " WHERE " : "",
					stored_filter != NULL ? stored_filter : "",
					hash_stored ? "s." IVM_HASH_COLUMN " OPERATOR(pg_catalog.+) 0" : "ivm.row_hash(s.*)");
}

/* the rows the query returns, in the order of their hash when sorted */
char *
IvmQuerySideSql(const char *query, bool sorted)
{
	return psprintf("SELECT q.* FROM (%s) q%s", query, sorted ? " ORDER BY ivm.row_hash(q.*)" : "");
}

/* the same, sorted by the hash column the query returns */
static char *
QuerySideByHashSql(const char *query)
{
	return psprintf("SELECT q.* FROM (%s) q ORDER BY q.%s", query, IVM_HASH_COLUMN);
}

/*
 * IvmRecomputeCost
 *		The planner's estimate of what a recompute of a view by the diff
 *		costs: reading its stored rows and its query's, both sorted by
 *		hash (the kept plans IvmDiffView then runs on).  The query is
 *		planned as the view's owner.  Caller is connected to SPI.
 */
double
IvmRecomputeCost(Oid storage_rel, Oid view_owner, const char *query)
{
	char	   *storage_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(storage_rel)),
														  get_rel_name(storage_rel));
	double		cost;
	IvmUserSave save;
	Relation	srel = table_open(storage_rel, AccessShareLock);
	bool		hash_stored = IvmHashColumn(RelationGetDescr(srel)) > 0;

	table_close(srel, AccessShareLock);
	IvmBecomeOwnerOf(storage_rel, &save);
	cost = IvmKeptPlanCost(StoredSideSql(storage_name, NULL, hash_stored), 0);
	IvmRestoreUser(&save);
	IvmBecome(view_owner, true, &save);
	cost += IvmKeptPlanCost(hash_stored ? QuerySideByHashSql(query) : IvmQuerySideSql(query, true), 0);
	IvmRestoreUser(&save);
	return cost;
}

/*
 * IvmDiffView
 *		Bring a view's storage up to date by the diff strategy: query returns
 *		every storage column (hidden ones included).
 *
 * query runs as view_owner under a restricted security context; the storage
 * is read and written as its owner, restricted too.  snap is the tick's
 * snapshot, or InvalidSnapshot outside a tick.  When vdelta is given, the
 * removed rows (weight -1) and added rows (+1), cut to the first nvisible
 * columns, go into it, shaped by vdesc.
 *
 * stored_filter (NULL: none) restricts the diff to the stored rows it holds
 * for (a condition over the stored row, alias s): query then returns the
 * rows those should be, and other stored rows stay (the filter may call
 * operators of the view's column types: the storage's owner runs it).
 * result->rows_after then counts the rows it read.
 *
 * Caller is connected to SPI.
 */
void
IvmDiffView(Oid storage_rel, Oid view_owner, const char *viewname,
			const char *query, const char *stored_filter, Snapshot snap, int nvisible,
			AttrNumber passattno, Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *result)
{
	MemoryContext groupcxt;
	MemoryContext oldcxt;
	char	   *storage_name;
	DiffSide	old_side;
	DiffSide	new_side;
	TupleDesc	storage_desc;
	TupleDesc	old_desc;
	TupleDesc	new_desc;
	TupleDesc	ctid_desc;
	Tuplestorestate *inserts;
	Tuplestorestate *deletes;
	uint64		ninserts = 0;
	uint64		ndeletes = 0;
	uint64		vins = 0;		/* of those, rows the view shows */
	uint64		vdel = 0;
	uint64		groups = 0;		/* hash values merged */
	int			hashatt;		/* the storage's hash column, or 0 */

	storage_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(storage_rel)),
											  get_rel_name(storage_rel));
	{
		Relation	srel = table_open(storage_rel, AccessShareLock);

		storage_desc = CreateTupleDescCopy(RelationGetDescr(srel));
		table_close(srel, AccessShareLock);
	}
	ctid_desc = IvmCtidDesc();
	inserts = tuplestore_begin_heap(false, false, work_mem);
	deletes = tuplestore_begin_heap(false, false, work_mem);

	/* what is stored, with where each row is; and what the query returns now, as the view's owner */
	memset(&old_side, 0, sizeof(old_side));
	memset(&new_side, 0, sizeof(new_side));
	old_side.firstatt = 2;
	old_side.sorted = true;
	hashatt = IvmHashColumn(storage_desc);
	old_side.hashatt = hashatt > 0 ? hashatt + 1 : 0;
	/* read as the storage's owner: nothing of the owner's types runs with ivm's rights */
	old_side.runas = IvmRelationOwner(storage_rel);
	old_side.portal = IvmOpenCursor(StoredSideSql(storage_name, stored_filter, hashatt > 0),
									snap, old_side.runas);
	new_side.firstatt = 1;
	new_side.hashatt = hashatt;
	new_side.runas = view_owner;

	/*
	 * Nothing stored (a first fill): every row is new, and is inserted in
	 * whatever order it comes, no sort needed (rows of one hash that do not
	 * come together are groups of their own, matched with no stored row).
	 */
	new_side.sorted = SideFill(&old_side, viewname);
	new_side.portal = IvmOpenCursor(hashatt > 0 && new_side.sorted ? QuerySideByHashSql(query)
									: IvmQuerySideSql(query, new_side.sorted), snap, view_owner);
	old_desc = old_side.portal->tupDesc;
	new_desc = new_side.portal->tupDesc;
	IvmCheckResultShape(new_desc, storage_desc, viewname);

	IvmProgressPhase(IVM_PHASE_COMPARE);
	groupcxt = AllocSetContextCreate(CurrentMemoryContext, "ivm diff rows of one hash",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		bool		have_old = SideFill(&old_side, viewname);
		bool		have_new = SideFill(&new_side, viewname);
		int64		hash;
		List	   *olds = NIL;
		List	   *news = NIL;
		ListCell   *lc;
		bool	   *matched;
		int			i;

		if (!have_old && !have_new)
			break;
		/* a cancel stops the diff within a batch; nothing is written yet */
		CHECK_FOR_INTERRUPTS();
		if (++groups % DIFF_BATCH == 0)
			IvmProgressRows(new_side.rows);
		hash = !have_new || (have_old && old_side.hash < new_side.hash) ? old_side.hash : new_side.hash;

		/* every row of this hash, on each side */
		MemoryContextReset(groupcxt);
		oldcxt = MemoryContextSwitchTo(groupcxt);
		while (have_old && old_side.hash == hash)
		{
			olds = lappend(olds, SideTake(&old_side));
			have_old = SideFill(&old_side, viewname);
		}
		while (have_new && new_side.hash == hash)
		{
			news = lappend(news, SideTake(&new_side));
			have_new = SideFill(&new_side, viewname);
		}

		/* each returned row takes a stored copy of itself, or is inserted */
		matched = palloc0(sizeof(bool) * (list_length(olds) + 1));
		foreach(lc, news)
		{
			HeapTuple	tup = lfirst(lc);
			IvmRowKey	key;
			bool		found = false;

			IvmRowKeyInit(&key, tup, new_desc, 1, new_desc->natts, 0);
			i = 0;
			for (ListCell *lc2 = list_head(olds); lc2 != NULL && !found; lc2 = lnext(olds, lc2), i++)
			{
				IvmRowKey	okey;

				if (matched[i])
					continue;
				IvmRowKeyInit(&okey, lfirst(lc2), old_desc, 2, old_desc->natts, 0);
				if (IvmRowKeysEqual(&key, &okey))
					matched[i] = found = true;
			}
			if (found)
				continue;
			/* (a tuplestore copies what it is given into its own context) */
			tuplestore_puttuple(inserts, tup);
			ninserts++;
			if (RowShown(tup, new_desc, passattno))
			{
				if (vdelta)
					tuplestore_puttuple(vdelta, IvmVisibleTuple(tup, new_desc, vdesc, 1));
				vins++;
			}
		}

		/* and each stored copy no returned row took goes */
		i = 0;
		foreach(lc, olds)
		{
			HeapTuple	old = lfirst(lc);
			bool		isnull;
			Datum		ctid;

			if (matched[i++])
				continue;
			ctid = heap_getattr(old, 1, old_desc, &isnull);
			tuplestore_putvalues(deletes, ctid_desc, &ctid, &isnull);
			ndeletes++;
			if (RowShown(old, old_desc, passattno == 0 ? 0 : passattno + 1))
			{
				vdel++;
				if (vdelta)
				{
					/* the stored row without its ctid */
					Datum	   *values = palloc(sizeof(Datum) * (old_desc->natts + 1));
					bool	   *nulls = palloc(sizeof(bool) * (old_desc->natts + 1));

					heap_deform_tuple(old, old_desc, values, nulls);
					values[nvisible + 1] = Int64GetDatum(-1);
					nulls[nvisible + 1] = false;
					tuplestore_putvalues(vdelta, vdesc, values + 1, nulls + 1);
				}
			}
		}
		MemoryContextSwitchTo(oldcxt);
	}
	MemoryContextDelete(groupcxt);
	if (old_side.tt != NULL)
		SPI_freetuptable(old_side.tt);
	if (new_side.tt != NULL)
		SPI_freetuptable(new_side.tt);
	SPI_cursor_close(old_side.portal);
	SPI_cursor_close(new_side.portal);

	IvmProgressPhase(IVM_PHASE_WRITE);
	IvmProgressExpected(ninserts + ndeletes);
	IvmApplyRowsFrom(storage_rel, storage_name, deletes, ndeletes, inserts, storage_desc,
					 ninserts, snap, viewname);
	tuplestore_end(inserts);
	tuplestore_end(deletes);

	result->inserted = vins;
	result->deleted = vdel;
	result->rows_after = old_side.rows - ndeletes + ninserts;
	result->rows_delta = (int64) ninserts - (int64) ndeletes;

	/*
	 * A storage mostly written just now (a first fill, a recompute that
	 * replaced most rows) has no statistics for it yet, and the delta
	 * queries that look its groups up by key would be planned blind, as
	 * scans of the whole storage, until autovacuum came by.  (ANALYZE runs
	 * as the storage's owner, as autovacuum's would.)
	 */
	if (ninserts >= DIFF_ANALYZE_MIN && ninserts * 2 > result->rows_after)
	{
		int			rc;

		CommandCounterIncrement();
		IvmProgressPhase(IVM_PHASE_ANALYZE);
		rc = SPI_execute(psprintf("ANALYZE %s", storage_name), false, 0);
		IvmSpiCheck(rc, SPI_OK_UTILITY, "analyzing the view's storage");
	}
}
