/*-------------------------------------------------------------------------
 *
 * rows.c
 *		Rows: their hashes, their identity, consolidation of weighted rows,
 *		and applying rows to a view's storage.
 *
 * Layer: rows.  Calls exec only.
 *
 * Rows are compared by the binary value of each column (detoasted), not by
 * the types' equality operators: a view holds exactly what its query
 * returned, display scale of numerics included, and types without an
 * equality operator (json, point) work too.
 *
 * Row identity: a 64-bit hash only finds candidates; two rows are the same
 * row when their columns are (IvmRowKeysEqual: both null, or the same
 * bytes, exactly what HashDatum hashes).  Hash tables of rows (IvmRowKey)
 * therefore hold one entry per distinct row, however many share a hash, and
 * two rows whose hashes collide are never merged.  ivm.debug_hash_bits cuts
 * every row and key hash to a few bits so that tests can make collisions
 * common.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#define XXH_STATIC_LINKING_ONLY	/* XXH3_state_t on the stack */
#include <xxhash.h>

#include "access/htup_details.h"
#include "access/heapam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/relcache.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "executor/tuptable.h"
#include "partitioning/partbounds.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"
#include "utils/tuplesort.h"
#include "utils/tuplestore.h"

#include "ivm.h"
#include "exec.h"
#include "rows.h"

PG_FUNCTION_INFO_V1(ivm_row_hash);
PG_FUNCTION_INFO_V1(ivm_key_hash);

static uint64 HashValues(Datum *values, bool *nulls, TupleDesc desc, int firstatt,
						 int lastatt, int skipatt);

/*
 * IvmDatumImage
 *		The bytes of a non-null value passed by reference: a varlena
 *		detoasted and without its header (so a compressed or short copy of a
 *		value is the value), a C string without its terminator, else attlen
 *		bytes.  *len is their length; *copy is a detoasted copy the caller
 *		pfrees, or NULL.
 */
const char *
IvmDatumImage(Datum value, int16 attlen, uint32 *len, Pointer *copy)
{
	*copy = NULL;
	if (attlen == -1)
	{
		struct varlena *v = PG_DETOAST_DATUM_PACKED(value);

		if ((Pointer) v != DatumGetPointer(value))
			*copy = (Pointer) v;
		*len = VARSIZE_ANY_EXHDR(v);
		return VARDATA_ANY(v);
	}
	if (attlen == -2)
	{
		*len = strlen(DatumGetCString(value));
		return DatumGetCString(value);
	}
	*len = attlen;
	return DatumGetPointer(value);
}

/*
 * HashDatum
 *		Feed one column value into the hash state: a presence byte, then the
 *		length (variable-length types) and bytes of its image.
 */
static void
HashDatum(XXH3_state_t *state, Datum value, bool isnull, Form_pg_attribute att)
{
	uint8		present = isnull ? 0 : 1;
	const char *bytes;
	uint32		len;
	Pointer		copy;

	XXH3_64bits_update(state, &present, 1);
	if (isnull)
		return;

	if (att->attbyval)
	{
		XXH3_64bits_update(state, &value, sizeof(Datum));
		return;
	}
	bytes = IvmDatumImage(value, att->attlen, &len, &copy);
	if (att->attlen < 0)
		XXH3_64bits_update(state, &len, sizeof(len));
	XXH3_64bits_update(state, bytes, len);
	if (copy != NULL)
		pfree(copy);
}

/*
 * HashMask
 *		A row or key hash cut to its low ivm.debug_hash_bits bits (all 64 in
 *		production; tests keep a few so that distinct rows share hashes).
 */
static inline uint64
HashMask(uint64 h)
{
	if (ivm_debug_hash_bits < 64)
		h &= (UINT64CONST(1) << ivm_debug_hash_bits) - 1;
	return h;
}

/*
 * HashColumns
 *		XXH3 hash of the columns firstatt..lastatt (1-based) of tuple but
 *		skipatt (0: none).  The tuple is deformed once: reading columns one
 *		by one past a null or variable-length one walks the tuple from its
 *		start each time.
 */
static uint64
HashColumns(HeapTuple tuple, TupleDesc desc, int firstatt, int lastatt, int skipatt)
{
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	uint64		h;

	heap_deform_tuple(tuple, desc, values, nulls);
	h = HashValues(values, nulls, desc, firstatt, lastatt, skipatt);
	pfree(values);
	pfree(nulls);
	return h;
}

/* HashColumns of a row already deformed into values and nulls */
static uint64
HashValues(Datum *values, bool *nulls, TupleDesc desc, int firstatt, int lastatt, int skipatt)
{
	XXH3_state_t state;

	XXH3_64bits_reset(&state);
	for (int i = firstatt; i <= lastatt; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i - 1);

		if (att->attisdropped || i == skipatt)
			continue;
		HashDatum(&state, values[i - 1], nulls[i - 1], att);
	}
	return HashMask(XXH3_64bits_digest(&state));
}

/*
 * IvmLiveColumns
 *		The live (not dropped) columns of a relation's descriptor desc, in
 *		order: their pg_attribute entries, which live as long as desc.
 */
List *
IvmLiveColumns(TupleDesc desc)
{
	List	   *cols = NIL;

	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			cols = lappend(cols, TupleDescAttr(desc, i));
	return cols;
}

/*
 * IvmHashRow
 *		XXH3 hash of the columns firstatt..lastatt (1-based) of tuple.
 */
uint64
IvmHashRow(HeapTuple tuple, TupleDesc desc, int firstatt, int lastatt)
{
	return HashColumns(tuple, desc, firstatt, lastatt, 0);
}

/*
 * IvmHashRowValues
 *		IvmHashRow of a row already deformed: the columns 1..natts of values
 *		and nulls, described by desc (a bulk fill hashes its rows as it
 *		writes them, as ivm.row_hash would).
 */
uint64
IvmHashRowValues(Datum *values, bool *nulls, TupleDesc desc, int natts)
{
	return HashValues(values, nulls, desc, 1, natts, 0);
}

/*
 * ivm_row_hash
 *		SQL-callable: the hash the diff strategy gives a row.
 */
Datum
ivm_row_hash(PG_FUNCTION_ARGS)
{
	HeapTupleHeader rec = PG_GETARG_HEAPTUPLEHEADER(0);
	TupleDesc	desc;
	HeapTupleData tuple;
	uint64		h;

	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(rec),
								  HeapTupleHeaderGetTypMod(rec));
	tuple.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = rec;
	h = IvmHashRow(&tuple, desc, 1, desc->natts);
	ReleaseTupleDesc(desc);
	PG_RETURN_INT64((int64) h);
}

/*
 * ivm_key_hash
 *		SQL: ivm.key_hash(VARIADIC "any") returns bigint: the hash of a group
 *		key, consistent with the types' equality (each value through its
 *		type's extended hash function), so equal keys hash alike even when
 *		their bytes differ (1.0 and 1.00).
 */
Datum
ivm_key_hash(PG_FUNCTION_ARGS)
{
	XXH3_state_t state;

	XXH3_64bits_reset(&state);
	for (int i = 0; i < PG_NARGS(); i++)
	{
		uint64		h = 0x9e3779b97f4a7c15ULL;	/* NULL */

		if (!PG_ARGISNULL(i))
		{
			Oid			type = get_fn_expr_argtype(fcinfo->flinfo, i);
			TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_HASH_EXTENDED_PROC_FINFO);

			if (!OidIsValid(tc->hash_extended_proc))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_FUNCTION),
						 errmsg("could not identify a hash function for type %s",
								format_type_be(type))));
			h = DatumGetUInt64(FunctionCall2Coll(&tc->hash_extended_proc_finfo,
												 C_COLLATION_OID, PG_GETARG_DATUM(i),
												 UInt64GetDatum(0)));
		}
		XXH3_64bits_update(&state, &h, sizeof(h));
	}
	PG_RETURN_INT64((int64) HashMask(XXH3_64bits_digest(&state)));
}

/*
 * DatumsIdentical
 *		The identity HashDatum hashes, for two non-null values of one column
 *		type: the same Datum when passed by value, else the same bytes (a
 *		varlena detoasted and without its header, so a compressed or short
 *		copy of a value is the value).
 */
static bool
DatumsIdentical(Datum a, Datum b, Form_pg_attribute att)
{
	const char *ia;
	const char *ib;
	uint32		la;
	uint32		lb;
	Pointer		ca;
	Pointer		cb;
	bool		same;

	if (att->attbyval)
		return a == b;
	ia = IvmDatumImage(a, att->attlen, &la, &ca);
	ib = IvmDatumImage(b, att->attlen, &lb, &cb);
	same = la == lb && memcmp(ia, ib, la) == 0;
	if (ca != NULL)
		pfree(ca);
	if (cb != NULL)
		pfree(cb);
	return same;
}

/* the next compared column of key at or after att, or past lastatt */
static int
NextKeyColumn(const IvmRowKey *key, int att)
{
	while (att <= key->lastatt &&
		   (att == key->skipatt || TupleDescAttr(key->desc, att - 1)->attisdropped))
		att++;
	return att;
}

/*
 * IvmRowKeysEqual
 *		Are the compared columns of two rows, taken in order, the same values
 *		(both null, or identical as DatumsIdentical says)?  The rows may come
 *		from different descriptors (a stored row read with its ctid first, a
 *		query's row) whose compared columns have the same types.  The hashes
 *		are not looked at.
 */
bool
IvmRowKeysEqual(const IvmRowKey *a, const IvmRowKey *b)
{
	int			ia = NextKeyColumn(a, a->firstatt);
	int			ib = NextKeyColumn(b, b->firstatt);
	Datum	   *av = palloc(sizeof(Datum) * a->desc->natts);
	bool	   *an = palloc(sizeof(bool) * a->desc->natts);
	Datum	   *bv = palloc(sizeof(Datum) * b->desc->natts);
	bool	   *bn = palloc(sizeof(bool) * b->desc->natts);
	bool		same = true;

	/* each deformed once (see HashColumns) */
	heap_deform_tuple(a->tuple, a->desc, av, an);
	heap_deform_tuple(b->tuple, b->desc, bv, bn);
	for (; same && ia <= a->lastatt && ib <= b->lastatt;
		 ia = NextKeyColumn(a, ia + 1), ib = NextKeyColumn(b, ib + 1))
	{
		if (an[ia - 1] || bn[ib - 1])
			same = an[ia - 1] == bn[ib - 1];
		else
			same = DatumsIdentical(av[ia - 1], bv[ib - 1], TupleDescAttr(a->desc, ia - 1));
	}
	same = same && ia > a->lastatt && ib > b->lastatt;
	pfree(av);
	pfree(an);
	pfree(bv);
	pfree(bn);
	return same;
}

/* dynahash: the bucket of a row key is its row hash */
static uint32
RowKeyHash(const void *key, Size keysize)
{
	uint64		h = ((const IvmRowKey *) key)->hash;

	return (uint32) (h ^ (h >> 32));
}

/* dynahash: 0 when two row keys are the same row (hash first, then columns) */
static int
RowKeyMatch(const void *key1, const void *key2, Size keysize)
{
	const IvmRowKey *a = key1;
	const IvmRowKey *b = key2;

	if (a->hash != b->hash)
		return 1;
	return IvmRowKeysEqual(a, b) ? 0 : 1;
}

/*
 * IvmRowKeyInit
 *		Fill key with the row tuple's columns firstatt..lastatt but skipatt
 *		(0 for none) and their hash.
 */
void
IvmRowKeyInit(IvmRowKey *key, HeapTuple tuple, TupleDesc desc,
			  int firstatt, int lastatt, int skipatt)
{
	key->tuple = tuple;
	key->desc = desc;
	key->firstatt = firstatt;
	key->lastatt = lastatt;
	key->skipatt = skipatt;
	key->hash = HashColumns(tuple, desc, firstatt, lastatt, skipatt);
}

/*
 * IvmRowTableCreate
 *		A hash table of distinct rows in cxt: entries of entrysize bytes that
 *		start with an IvmRowKey, found by hash_search with an IvmRowKey.  The
 *		key's tuple and descriptor must live as long as the table.
 */
HTAB *
IvmRowTableCreate(const char *name, long nelem, Size entrysize, MemoryContext cxt)
{
	HASHCTL		ctl;

	Assert(entrysize >= sizeof(IvmRowKey));
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(IvmRowKey);
	ctl.entrysize = entrysize;
	ctl.hash = RowKeyHash;
	ctl.match = RowKeyMatch;
	ctl.hcxt = cxt;
	return hash_create(name, nelem, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/*
 * Consolidation that spills (IvmConsolidator).  Rows go into a tuplesort
 * keyed by their row hash (an extra int8 column), which keeps to work_mem
 * and spills beyond it, like any sort; they come out grouped by hash, and
 * within a group the rows that are the same row (IvmRowKeysEqual: their
 * columns but the weight) have their weights summed, and those that cancel
 * are dropped.  Memory holds the rows of one hash at a time, however many
 * rows go in.  Rows come out in the order of their hash.
 */
struct IvmConsolidator
{
	TupleDesc	desc;			/* the rows' */
	TupleDesc	sdesc;			/* desc and the hash */
	int			wattr;			/* the weight: int4 or int8 */
	bool		wide;			/* the weight is int8 */
	Tuplesortstate *sort;
	TupleTableSlot *slot;		/* virtual, of sdesc */
	Datum	   *values;			/* a row of sdesc, deformed */
	bool	   *nulls;
	MemoryContext rowcxt;		/* reset per row put, per group taken */
};

/* A distinct row of one hash group. */
typedef struct GroupRow
{
	HeapTuple	tuple;			/* of sdesc */
	int64		weight;
} GroupRow;

/*
 * IvmConsolidatorBegin
 *		A consolidator of rows of desc whose weight is column wattr (int4 or
 *		int8), in the current memory context.
 */
IvmConsolidator *
IvmConsolidatorBegin(TupleDesc desc, int wattr)
{
	IvmConsolidator *c = palloc0(sizeof(IvmConsolidator));
	AttrNumber	sortatt = desc->natts + 1;
	Oid			sortop = Int8LessOperator;
	Oid			collation = InvalidOid;
	bool		nullsfirst = false;
	Oid			wtype = TupleDescAttr(desc, wattr - 1)->atttypid;

	if (wtype != INT4OID && wtype != INT8OID)
		elog(ERROR, "ivm: a weight column must be int4 or int8, not type %u", wtype);
	c->desc = desc;
	c->wattr = wattr;
	c->wide = wtype == INT8OID;
	c->sdesc = CreateTemplateTupleDesc(desc->natts + 1);
	for (int i = 1; i <= desc->natts; i++)
		TupleDescCopyEntry(c->sdesc, i, desc, i);
	TupleDescInitEntry(c->sdesc, sortatt, "__ivm_row_hash", INT8OID, -1, 0);
	c->slot = MakeSingleTupleTableSlot(c->sdesc, &TTSOpsVirtual);
	c->values = palloc(sizeof(Datum) * (desc->natts + 1));
	c->nulls = palloc(sizeof(bool) * (desc->natts + 1));
	c->sort = tuplesort_begin_heap(c->sdesc, 1, &sortatt, &sortop, &collation, &nullsfirst,
								   work_mem, NULL, TUPLESORT_NONE);
	c->rowcxt = AllocSetContextCreate(CurrentMemoryContext, "ivm consolidated row",
									  ALLOCSET_DEFAULT_SIZES);
	return c;
}

/*
 * IvmConsolidatorPut
 *		Add one row, given as the values and nulls of the consolidator's
 *		desc (the sort copies them).
 */
void
IvmConsolidatorPut(IvmConsolidator *c, Datum *values, bool *nulls)
{
	int			natts = c->desc->natts;
	MemoryContext old = MemoryContextSwitchTo(c->rowcxt);

	ExecClearTuple(c->slot);
	memcpy(c->slot->tts_values, values, sizeof(Datum) * natts);
	memcpy(c->slot->tts_isnull, nulls, sizeof(bool) * natts);
	c->slot->tts_values[natts] =
		Int64GetDatum((int64) HashValues(values, nulls, c->desc, 1, natts, c->wattr));
	c->slot->tts_isnull[natts] = false;
	ExecStoreVirtualTuple(c->slot);
	tuplesort_puttupleslot(c->sort, c->slot);
	MemoryContextSwitchTo(old);
	MemoryContextReset(c->rowcxt);
}

/* Write the rows of one hash group whose weights do not cancel to out. */
static uint64
FlushGroup(IvmConsolidator *c, List *group, Tuplestorestate *out)
{
	Datum	   *values = c->values;
	bool	   *nulls = c->nulls;
	ListCell   *lc;
	uint64		n = 0;

	foreach(lc, group)
	{
		GroupRow   *g = lfirst(lc);
		int64		w = g->weight;

		if (w == 0)
			continue;
		heap_deform_tuple(g->tuple, c->sdesc, values, nulls);
		nulls[c->wattr - 1] = false;
		/* an int4 weight past its range goes as several rows */
		while (w != 0)
		{
			int64		part = c->wide ? w : Max(Min(w, PG_INT32_MAX), -PG_INT32_MAX);

			values[c->wattr - 1] = c->wide ? Int64GetDatum(part) : Int32GetDatum((int32) part);
			tuplestore_putvalues(out, c->desc, values, nulls);
			w -= part;
			n++;
		}
	}
	return n;
}

/*
 * IvmConsolidatorEnd
 *		Sort what was put, write the consolidated rows (of desc) to out and
 *		free the consolidator.  Returns how many rows were written.
 */
uint64
IvmConsolidatorEnd(IvmConsolidator *c, Tuplestorestate *out)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(c->sdesc, &TTSOpsMinimalTuple);
	int			natts = c->desc->natts;
	MemoryContext old = CurrentMemoryContext;
	List	   *group = NIL;
	int64		group_hash = 0;
	uint64		n = 0;

	tuplesort_performsort(c->sort);
	for (;;)
	{
		bool		more = tuplesort_gettupleslot(c->sort, true, false, slot, NULL);
		bool		isnull;
		int64		hash = more ? DatumGetInt64(slot_getattr(slot, natts + 1, &isnull)) : 0;
		HeapTuple	tup;
		IvmRowKey	key;
		ListCell   *lc;
		bool		found = false;
		int64		w;

		if (group != NIL && (!more || hash != group_hash))
		{
			MemoryContextSwitchTo(old);
			n += FlushGroup(c, group, out);
			MemoryContextReset(c->rowcxt);
			group = NIL;
		}
		if (!more)
			break;
		group_hash = hash;
		MemoryContextSwitchTo(c->rowcxt);
		tup = ExecCopySlotHeapTuple(slot);
		w = c->wide ? DatumGetInt64(heap_getattr(tup, c->wattr, c->sdesc, &isnull))
			: (int64) DatumGetInt32(heap_getattr(tup, c->wattr, c->sdesc, &isnull));
		IvmRowKeyInit(&key, tup, c->sdesc, 1, natts, c->wattr);
		foreach(lc, group)
		{
			GroupRow   *g = lfirst(lc);
			IvmRowKey	gkey;

			IvmRowKeyInit(&gkey, g->tuple, c->sdesc, 1, natts, c->wattr);
			if (IvmRowKeysEqual(&key, &gkey))
			{
				g->weight += w;
				found = true;
				break;
			}
		}
		if (!found)
		{
			GroupRow   *g = palloc(sizeof(GroupRow));

			g->tuple = tup;
			g->weight = w;
			group = lappend(group, g);
		}
		MemoryContextSwitchTo(old);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(old);
	tuplesort_end(c->sort);
	ExecDropSingleTupleTableSlot(slot);
	ExecDropSingleTupleTableSlot(c->slot);
	MemoryContextDelete(c->rowcxt);
	pfree(c->values);
	pfree(c->nulls);
	pfree(c);
	return n;
}

/*
 * A half of a delta log is emptied whole (TruncateHalf) from this many pages
 * on; smaller, its rows are deleted one by one, and the dead rows it keeps
 * (up to this many pages) are what each scan of it skips.
 */
#define IVM_LOG_TRUNCATE_PAGES 16

/*
 * TruncateHalf
 *		Empty one half of a delta log the tick holds in AccessExclusiveLock,
 *		as TRUNCATE does, transactionally (new storage for it and its TOAST
 *		table, the TOAST index rebuilt; the old storage goes at commit, and
 *		stays if the tick fails), but without TRUNCATE's triggers, so that
 *		nothing of anyone's runs.  A log carries no index of its own (the
 *		utility hook refuses any on a relation of schema ivm).
 */
static void
TruncateHalf(Relation rel)
{
	Oid			toastrelid = rel->rd_rel->reltoastrelid;
	ReindexParams params = {0};

	IvmSetNewRelfilenode(rel, rel->rd_rel->relpersistence);
	if (OidIsValid(toastrelid))
	{
		Relation	toastrel = relation_open(toastrelid, AccessExclusiveLock);

		IvmSetNewRelfilenode(toastrel, toastrel->rd_rel->relpersistence);
		relation_close(toastrel, NoLock);
	}
	(void) IvmReindexRelation(RelationGetRelid(rel), REINDEX_REL_PROCESS_TOAST, &params);
	pgstat_count_truncate(rel);
}

/*
 * ConsumeHalf
 *		Put every row of one half of a log that the active snapshot sees
 *		into c (its columns matched to ldesc's by name), and take them out
 *		of the half.  Returns how many.
 *
 *		exclusive: the tick holds the half in AccessExclusiveLock, so no
 *		writer has an open transaction on it.  Then its rows are read with
 *		no snapshot and each is classed: seen (consumed), or dead (a
 *		rolled-back write, a row an earlier tick took), or neither (a write
 *		committed after the snapshot).  With no row of the last kind the
 *		half is truncated (*truncated); otherwise, rarely, the rows seen are
 *		deleted one by one, as they are in the half that writers use and in
 *		a half too small to be worth new storage.  *left_dead: the half
 *		keeps storage enough to be emptied whole, which a later tick does.
 */
static uint64
ConsumeHalf(Relation rel, TupleDesc ldesc, IvmConsolidator *c, bool exclusive,
			bool *truncated, bool *left_dead)
{
	TupleDesc	pdesc = RelationGetDescr(rel);
	Snapshot	snap = GetActiveSnapshot();
	AttrNumber *map = palloc0(sizeof(AttrNumber) * Max(ldesc->natts, 1));
	Datum	   *pvalues = palloc(sizeof(Datum) * Max(pdesc->natts, 1));
	bool	   *pnulls = palloc(sizeof(bool) * Max(pdesc->natts, 1));
	Datum	   *values = palloc(sizeof(Datum) * Max(ldesc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(ldesc->natts, 1));
	TableScanDesc scan;
	HeapTuple	tup;
	uint64		n = 0;
	bool		kept = false;
	TransactionId horizon = exclusive ? GetOldestNonRemovableTransactionId(rel) : InvalidTransactionId;

	for (int i = 0; i < ldesc->natts; i++)
		for (int j = 0; j < pdesc->natts; j++)
			if (!TupleDescAttr(pdesc, j)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(pdesc, j)->attname),
					   NameStr(TupleDescAttr(ldesc, i)->attname)) == 0)
				map[i] = j + 1;

	scan = table_beginscan(rel, exclusive ? SnapshotAny : snap, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		if (exclusive)
		{
			Buffer		buf = ((HeapScanDesc) scan)->rs_cbuf;
			bool		seen;
			HTSV_Result state = HEAPTUPLE_LIVE;

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			seen = HeapTupleSatisfiesVisibility(tup, snap, buf);
			if (!seen)
				state = HeapTupleSatisfiesVacuum(tup, horizon, buf);
			LockBuffer(buf, BUFFER_LOCK_UNLOCK);
			if (!seen)
			{
				/* an earlier tick of this transaction took it */
				if (state == HEAPTUPLE_DELETE_IN_PROGRESS &&
					TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetUpdateXid(tup->t_data)))
					continue;
				if (state != HEAPTUPLE_DEAD && state != HEAPTUPLE_RECENTLY_DEAD)
					kept = true;
				continue;
			}
		}
		heap_deform_tuple(tup, pdesc, pvalues, pnulls);
		for (int i = 0; i < ldesc->natts; i++)
		{
			values[i] = map[i] > 0 ? pvalues[map[i] - 1] : (Datum) 0;
			nulls[i] = map[i] > 0 ? pnulls[map[i] - 1] : true;
		}
		IvmConsolidatorPut(c, values, nulls);
		if (!exclusive)
			simple_heap_delete(rel, &tup->t_self);
		n++;
		CHECK_FOR_INTERRUPTS();
	}
	table_endscan(scan);

	if (exclusive && !kept)
	{
		TruncateHalf(rel);
		*truncated = true;
	}
	else if (exclusive && n > 0)
	{
		/* a write committed after the snapshot stays: delete what was seen */
		scan = table_beginscan(rel, snap, 0, NULL);
		while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
		{
			simple_heap_delete(rel, &tup->t_self);
			CHECK_FOR_INTERRUPTS();
		}
		table_endscan(scan);
	}
	if (!*truncated && RelationGetNumberOfBlocks(rel) >= IVM_LOG_TRUNCATE_PAGES)
		*left_dead = true;
	pfree(map);
	pfree(pvalues);
	pfree(pnulls);
	pfree(values);
	pfree(nulls);
	return n;
}

/*
 * IvmConsumeLog
 *		Take every row of delta log logrel and of its second half halfrel
 *		(InvalidOid for a log of one half) that snap sees (its command id
 *		advanced, so rows this transaction logged are seen too) and put
 *		them, consolidated, into out, whose shape *desc (the log's columns,
 *		dropped ones aside; allocated in the current context) says.  Returns
 *		how many rows were taken; *truncated counts the halves emptied whole,
 *		and *left_dead is set when rows were deleted one by one (dead rows
 *		that the next tick empties, since writers will have left that half).
 *
 *		active is the half (0: logrel, 1: halfrel) writers were just sent
 *		to (IvmFlipHalf): the other is emptied whole when the tick can have
 *		it to itself (a conditional AccessExclusiveLock: never waiting, so
 *		never making a writer wait behind it) and it holds nothing the
 *		snapshot does not see; otherwise, and in the active half, the rows
 *		seen are deleted one by one.
 *
 *		Plain scans of the heaps, as the capture triggers insert into them:
 *		no SPI, no executor, nothing of any user runs, and the rows go
 *		through the consolidator, so memory stays within work_mem whatever
 *		the size of the log.  Ticks serialise on the step lock: nothing else
 *		takes rows out of a log meanwhile.
 */
uint64
IvmConsumeLog(Oid logrel, Oid halfrel, int active, Snapshot snap, Tuplestorestate *out,
			  TupleDesc *desc, int *truncated, bool *left_dead)
{
	Relation	rel = table_open(logrel, RowExclusiveLock);
	TupleDesc	pdesc = RelationGetDescr(rel);
	TupleDesc	ldesc;
	int			nlive = 0;
	int			wattr = 0;
	IvmConsolidator *c;
	uint64		n = 0;
	Oid			halves[2] = {logrel, halfrel};

	for (int i = 0; i < pdesc->natts; i++)
		if (!TupleDescAttr(pdesc, i)->attisdropped)
			nlive++;
	ldesc = CreateTemplateTupleDesc(nlive);
	nlive = 0;
	for (int i = 0; i < pdesc->natts; i++)
	{
		if (TupleDescAttr(pdesc, i)->attisdropped)
			continue;
		TupleDescCopyEntry(ldesc, nlive + 1, pdesc, i + 1);
		TupleDescAttr(ldesc, nlive)->attnotnull = false;
		if (strcmp(NameStr(TupleDescAttr(ldesc, nlive)->attname), IVM_WEIGHT_COLUMN) == 0)
			wattr = nlive + 1;
		nlive++;
	}
	if (wattr == 0)
		elog(ERROR, "ivm: delta log \"%s\" has no %s column", RelationGetRelationName(rel),
			 IVM_WEIGHT_COLUMN);
	table_close(rel, NoLock);
	c = IvmConsolidatorBegin(ldesc, wattr);

	CommandCounterIncrement();
	PushCopiedSnapshot(snap);
	UpdateActiveSnapshotCommandId();
	for (int h = 0; h < 2; h++)
	{
		bool		exclusive = false;
		bool		emptied = false;
		Relation	half;

		if (!OidIsValid(halves[h]))
			continue;
		half = table_open(halves[h], RowExclusiveLock);

		/*
		 * The half writers left, if no transaction holds it, and if this one
		 * does not hold the other (an earlier tick of it emptied that one):
		 * a writer always finds a half it can have.  Only when it has pages
		 * enough: new storage costs about a millisecond (a file made, the
		 * old one unlinked at commit), deleting a row about a microsecond.
		 */
		if (h != active && OidIsValid(halfrel) &&
			RelationGetNumberOfBlocks(half) >= IVM_LOG_TRUNCATE_PAGES)
		{
			Relation	other = table_open(halves[1 - h], RowExclusiveLock);

			exclusive = !CheckRelationLockedByMe(other, AccessExclusiveLock, false) &&
				ConditionalLockRelationOid(halves[h], AccessExclusiveLock);
			table_close(other, NoLock);
		}
		n += ConsumeHalf(half, ldesc, c, exclusive, &emptied, left_dead);
		if (emptied)
			(*truncated)++;
		table_close(half, NoLock);
	}
	PopActiveSnapshot();
	CommandCounterIncrement();

	(void) IvmConsolidatorEnd(c, out);
	*desc = ldesc;
	return n;
}

/*
 * IvmVisibleTuple
 *		The first vdesc->natts - 1 columns of a storage-shaped tuple, then
 *		the weight: a row of a view's delta.
 */
HeapTuple
IvmVisibleTuple(HeapTuple tuple, TupleDesc desc, TupleDesc vdesc, int64 weight)
{
	int			nvisible = vdesc->natts - 1;
	Datum	   *values = palloc(sizeof(Datum) * Max(desc->natts, vdesc->natts));
	bool	   *nulls = palloc(sizeof(bool) * Max(desc->natts, vdesc->natts));
	HeapTuple	result;

	heap_deform_tuple(tuple, desc, values, nulls);
	values[nvisible] = Int64GetDatum(weight);
	nulls[nvisible] = false;
	result = heap_form_tuple(vdesc, values, nulls);
	pfree(values);
	pfree(nulls);
	return result;
}

/*
 * IvmApplyRows
 *		Delete the stored rows at deletes, then insert the rows of inserts
 *		(shaped like the storage), as maintenance.  The inserts run as the
 *		storage's owner, restricted: the support functions of its indexes (an
 *		index its owner built on the view, over the owner's types) run with
 *		the owner's rights, whoever runs the tick.  The deletes, by ctid, run
 *		no code of anyone's (an index does not look at what is deleted; the
 *		storage has no rule or policy), and run as the caller, ivm's owner:
 *		the storage's owner has no DELETE on it, which would let it lock the
 *		storage against every tick.  The caller has pinned search_path.
 */
void
IvmApplyRows(Oid storage_rel, const char *storage_name, ItemPointerData *deletes,
			 uint64 ndeletes, Tuplestorestate *inserts, TupleDesc storage_desc,
			 uint64 ninserts, Snapshot snap, const char *viewname)
{
	StringInfoData sql;
	int			rc;
	Oid			save_maintained = ivm_maintained_rel;
	IvmUserSave save;

	initStringInfo(&sql);
	ivm_maintained_rel = storage_rel;
	PG_TRY();
	{
		if (ndeletes > 0)
		{
			Datum	   *elems = palloc(sizeof(Datum) * ndeletes);
			ArrayType  *arr;
			Oid			types[1] = {TIDARRAYOID};
			Datum		args[1];

			for (uint64 i = 0; i < ndeletes; i++)
				elems[i] = PointerGetDatum(&deletes[i]);
			arr = construct_array(elems, (int) ndeletes, TIDOID,
								  sizeof(ItemPointerData), false, TYPALIGN_SHORT);
			args[0] = PointerGetDatum(arr);
			appendStringInfo(&sql, "DELETE FROM %s WHERE ctid = ANY ($1)", storage_name);
			rc = IvmExecSnap(sql.data, 1, types, args, NULL, snap, 0);
			IvmSpiCheck(rc, SPI_OK_DELETE, "deleting view rows");
			if (SPI_processed != ndeletes)
				elog(ERROR, "ivm: expected to delete " UINT64_FORMAT " rows of \"%s\", deleted " UINT64_FORMAT,
					 ndeletes, viewname, (uint64) SPI_processed);
			pfree(elems);
		}

		if (ninserts > 0)
		{
			/* an INSERT that failed in a rolled-back subtransaction left it registered */
			(void) SPI_unregister_relation("ivm_inserted");
			IvmRegisterTuplestore("ivm_inserted", inserts, storage_desc);

			resetStringInfo(&sql);
			appendStringInfo(&sql, "INSERT INTO %s SELECT * FROM ivm_inserted", storage_name);
			IvmBecomeOwnerOf(storage_rel, &save);
			rc = IvmExecSnap(sql.data, 0, NULL, NULL, NULL, snap, 0);
			IvmRestoreUser(&save);
			IvmSpiCheck(rc, SPI_OK_INSERT, "inserting view rows");
			rc = SPI_unregister_relation("ivm_inserted");
			IvmSpiCheck(rc, SPI_OK_REL_UNREGISTER, "unregistering inserted rows");
		}
	}
	PG_FINALLY();
	{
		ivm_maintained_rel = save_maintained;
	}
	PG_END_TRY();
	pfree(sql.data);
}


/* the rows deleted are listed by ctid in tuplestores of this shape */
TupleDesc
IvmCtidDesc(void)
{
	TupleDesc	desc = CreateTemplateTupleDesc(1);

	TupleDescInitEntry(desc, 1, "ctid", TIDOID, -1, 0);
	return desc;
}

/* ctids of deletes (IvmCtidDesc rows, n of them) as an array */
ItemPointerData *
IvmCtidArray(Tuplestorestate *ctids, uint64 n)
{
	ItemPointerData *arr = palloc(sizeof(ItemPointerData) * Max(n, 1));
	TupleTableSlot *slot = MakeSingleTupleTableSlot(IvmCtidDesc(), &TTSOpsMinimalTuple);
	uint64		k = 0;

	tuplestore_rescan(ctids);
	while (k < n && tuplestore_gettupleslot(ctids, true, false, slot))
	{
		bool		isnull;

		ItemPointerCopy((ItemPointer) DatumGetPointer(slot_getattr(slot, 1, &isnull)), &arr[k++]);
	}
	ExecDropSingleTupleTableSlot(slot);
	return arr;
}

/* ctids deleted by one statement */
#define DELETE_CHUNK 10000

/*
 * IvmApplyRowsFrom
 *		IvmApplyRows of the stored rows whose ctids ctids holds (nctids of
 *		them, IvmCtidDesc), a chunk at a time, then of inserts: a change of
 *		any size, within work_mem.
 */
void
IvmApplyRowsFrom(Oid storage_rel, const char *storage_name, Tuplestorestate *ctids,
				 uint64 nctids, Tuplestorestate *inserts, TupleDesc storage_desc,
				 uint64 ninserts, Snapshot snap, const char *viewname)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(IvmCtidDesc(), &TTSOpsMinimalTuple);
	ItemPointerData *chunk = palloc(sizeof(ItemPointerData) * Max(Min(nctids, DELETE_CHUNK), 1));
	uint64		k = 0;

	if (nctids > 0)
	{
		tuplestore_rescan(ctids);
		while (tuplestore_gettupleslot(ctids, true, false, slot))
		{
			bool		isnull;

			ItemPointerCopy((ItemPointer) DatumGetPointer(slot_getattr(slot, 1, &isnull)), &chunk[k++]);
			if (k == DELETE_CHUNK)
			{
				IvmApplyRows(storage_rel, storage_name, chunk, k, NULL, NULL, 0, snap, viewname);
				k = 0;
			}
		}
	}
	if (k > 0 || ninserts > 0)
		IvmApplyRows(storage_rel, storage_name, chunk, k, inserts, storage_desc, ninserts,
					 snap, viewname);
	pfree(chunk);
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * IvmRouteRows
 *		Split rows (a tuplestore of desc) by the shard their column attno
 *		falls in, as PostgreSQL routes rows into partrel, a table hash
 *		partitioned on one column into n partitions of modulus n: out[k]
 *		(new tuplestores, in the current memory context) gets the rows of
 *		remainder k.  The column must be of the partition key's type.
 */
void
IvmRouteRows(Tuplestorestate *rows, TupleDesc desc, AttrNumber attno, Oid partrel, int n,
			 Tuplestorestate **out)
{
	Relation	rel = table_open(partrel, AccessShareLock);
	PartitionKey key = RelationGetPartitionKey(rel);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);

	if (key == NULL || key->strategy != PARTITION_STRATEGY_HASH || key->partnatts != 1 ||
		TupleDescAttr(desc, attno - 1)->atttypid != key->parttypid[0])
		elog(ERROR, "ivm: \"%s\" is not hash partitioned on one column of the routed rows' type",
			 RelationGetRelationName(rel));
	for (int k = 0; k < n; k++)
		out[k] = tuplestore_begin_heap(false, false, work_mem);
	tuplestore_select_read_pointer(rows, 0);
	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		bool		isnull;
		Datum		value = slot_getattr(slot, attno, &isnull);
		uint64		hash = compute_partition_hash_value(1, key->partsupfunc, key->partcollation,
														&value, &isnull);

		tuplestore_puttupleslot(out[hash % (uint64) n], slot);
	}
	tuplestore_rescan(rows);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);
}

/* ------------------------------------------------------------------------
 * Numeric inputs of a running sum
 *
 * sum(numeric) is NaN when an input is NaN (or inputs are +Infinity and
 * -Infinity), infinite when an input is, and otherwise shows the largest
 * display scale of its inputs (1.5 + 1.00 is 2.50); avg divides that sum.
 * A running sum alone cannot follow that as inputs come and go: once NaN is
 * in it, removing the NaN does not bring the sum back, and it cannot know
 * the largest scale left once the input that had it is removed.  So an
 * aggregate view keeps, per group and numeric sum or avg, the running sum
 * of the finite inputs and how many inputs of each kind it has: element 1
 * of a bigint[] counts the NaN inputs, 2 the +Infinity, 3 the -Infinity,
 * and 4 + s those of display scale s.  ivm.numeric_sum_of() and
 * ivm.numeric_avg_of() make the aggregate's value from them, exactly as
 * sum() and avg() would.
 * ------------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(ivm_numeric_counts_acc);
PG_FUNCTION_INFO_V1(ivm_numeric_counts_final);
PG_FUNCTION_INFO_V1(ivm_numeric_counts_add);
PG_FUNCTION_INFO_V1(ivm_numeric_sum_of);
PG_FUNCTION_INFO_V1(ivm_numeric_avg_of);
PG_FUNCTION_INFO_V1(ivm_numeric_finite_sum);

#define COUNT_NAN		0
#define COUNT_PINF		1
#define COUNT_NINF		2
#define COUNT_SCALE0	3		/* then one per display scale */

/* the state of ivm.numeric_counts(): the counts, grown as scales appear */
typedef struct NumericCounts
{
	int			len;
	int64		counts[FLEXIBLE_ARRAY_MEMBER];
} NumericCounts;

/*
 * CountPlus
 *		a + b, or the error of PostgreSQL's bigint + when it does not fit:
 *		these functions may be called by any role with any counts.
 */
static int64
CountPlus(int64 a, int64 b)
{
	int64		sum;

	if (unlikely(pg_add_s64_overflow(a, b, &sum)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("bigint out of range")));
	return sum;
}

/* where an input is counted */
static int
CountSlot(Numeric x)
{
	if (numeric_is_nan(x))
		return COUNT_NAN;
	if (numeric_is_inf(x))
		return DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(x),
												DirectFunctionCall1(int4_numeric, Int32GetDatum(0))))
			? COUNT_PINF : COUNT_NINF;
	return COUNT_SCALE0 + DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(x)));
}

/*
 * ivm_numeric_counts_acc
 *		Transition of the aggregate ivm.numeric_counts(x numeric, weight
 *		bigint): add weight to the count of x's kind.
 */
Datum
ivm_numeric_counts_acc(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	NumericCounts *nc = PG_ARGISNULL(0) ? NULL : (NumericCounts *) PG_GETARG_POINTER(0);
	int			slot;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "ivm.numeric_counts_acc() called outside an aggregate");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(nc);
	slot = CountSlot(PG_GETARG_NUMERIC(1));
	if (nc == NULL || slot >= nc->len)
	{
		int			len = Max(slot + 1, COUNT_SCALE0 + 4);
		NumericCounts *grown = MemoryContextAllocZero(aggcxt, offsetof(NumericCounts, counts) +
													  sizeof(int64) * len);

		if (nc != NULL)
		{
			memcpy(grown->counts, nc->counts, sizeof(int64) * nc->len);
			pfree(nc);
		}
		grown->len = len;
		nc = grown;
	}
	nc->counts[slot] = CountPlus(nc->counts[slot], PG_GETARG_INT64(2));
	PG_RETURN_POINTER(nc);
}

/* counts[0 .. n - 1] as a bigint[], without trailing zeros */
static ArrayType *
CountsArray(const int64 *counts, int n)
{
	Datum	   *elems;

	while (n > 0 && counts[n - 1] == 0)
		n--;
	elems = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(counts[i]);
	return construct_array(elems, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/* the counts of a bigint[] of ivm.numeric_counts() (NULL elements are 0) */
static int64 *
CountsOf(ArrayType *arr, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int64	   *counts;

	if (ARR_NDIM(arr) > 1 || ARR_ELEMTYPE(arr) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("counts of numeric inputs must be a one-dimensional bigint[]")));
	deconstruct_array(arr, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, n);
	counts = palloc0(sizeof(int64) * Max(*n, COUNT_SCALE0));
	for (int i = 0; i < *n; i++)
		counts[i] = nulls[i] ? 0 : DatumGetInt64(elems[i]);
	return counts;
}

/*
 * ivm_numeric_counts_final
 *		Final function of ivm.numeric_counts(): the counts as a bigint[].
 */
Datum
ivm_numeric_counts_final(PG_FUNCTION_ARGS)
{
	NumericCounts *nc = PG_ARGISNULL(0) ? NULL : (NumericCounts *) PG_GETARG_POINTER(0);

	PG_RETURN_ARRAYTYPE_P(CountsArray(nc ? nc->counts : NULL, nc ? nc->len : 0));
}

/*
 * ivm_numeric_counts_add
 *		SQL: ivm.numeric_counts_add(a bigint[], b bigint[]) returns bigint[]:
 *		the counts of a and b added kind by kind.
 */
Datum
ivm_numeric_counts_add(PG_FUNCTION_ARGS)
{
	int			na;
	int			nb;
	int64	   *a = CountsOf(PG_GETARG_ARRAYTYPE_P(0), &na);
	int64	   *b = CountsOf(PG_GETARG_ARRAYTYPE_P(1), &nb);
	int			n = Max(na, nb);
	int64	   *sum = palloc0(sizeof(int64) * Max(n, 1));

	for (int i = 0; i < n; i++)
		sum[i] = CountPlus(i < na ? a[i] : 0, i < nb ? b[i] : 0);
	PG_RETURN_ARRAYTYPE_P(CountsArray(sum, n));
}

/* the largest display scale that has finite inputs (0 when none has) */
static int
LargestScale(const int64 *counts, int n)
{
	for (int i = n - 1; i >= COUNT_SCALE0; i--)
		if (counts[i] > 0)
			return i - COUNT_SCALE0;
	return 0;
}

/*
 * SpecialValue
 *		What sum() and avg() give when special inputs are among the counted
 *		ones (NaN; +Infinity; -Infinity), or NULL when there are none;
 *		else *scale is the largest display scale of the finite inputs.
 */
static const char *
SpecialValue(ArrayType *arr, int *scale)
{
	int			n;
	int64	   *counts = CountsOf(arr, &n);

	if (counts[COUNT_NAN] > 0 || (counts[COUNT_PINF] > 0 && counts[COUNT_NINF] > 0))
		return "NaN";
	if (counts[COUNT_PINF] > 0)
		return "Infinity";
	if (counts[COUNT_NINF] > 0)
		return "-Infinity";
	*scale = LargestScale(counts, n);
	return NULL;
}

/*
 * ivm_numeric_sum_of
 *		SQL: ivm.numeric_sum_of(finite_sum numeric, counts bigint[]) returns
 *		numeric: what sum() returns over inputs with those counts whose
 *		finite ones add up to finite_sum (rounded to their largest display
 *		scale: exact, as no input has more decimals).
 */
Datum
ivm_numeric_sum_of(PG_FUNCTION_ARGS)
{
	int			scale;
	const char *special = SpecialValue(PG_GETARG_ARRAYTYPE_P(1), &scale);

	if (special != NULL)
		return DirectFunctionCall3(numeric_in, CStringGetDatum(special),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	return DirectFunctionCall2(numeric_round, PG_GETARG_DATUM(0), Int32GetDatum(scale));
}

/*
 * ivm_numeric_avg_of
 *		SQL: ivm.numeric_avg_of(finite_sum numeric, n bigint, counts bigint[])
 *		returns numeric: what avg() returns over n inputs with those counts.
 */
Datum
ivm_numeric_avg_of(PG_FUNCTION_ARGS)
{
	int			scale;
	const char *special = SpecialValue(PG_GETARG_ARRAYTYPE_P(2), &scale);
	Datum		sum;

	if (special != NULL)
		return DirectFunctionCall3(numeric_in, CStringGetDatum(special),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	sum = DirectFunctionCall2(numeric_round, PG_GETARG_DATUM(0), Int32GetDatum(scale));
	return DirectFunctionCall2(numeric_div, sum, NumericGetDatum(int64_to_numeric(PG_GETARG_INT64(1))));
}

/*
 * ivm_numeric_finite_sum
 *		SQL: ivm.numeric_finite_sum(finite_sum numeric, counts bigint[])
 *		returns numeric: the running sum of the finite inputs, rounded to
 *		their largest display scale, as sum() over them would show it.
 */
Datum
ivm_numeric_finite_sum(PG_FUNCTION_ARGS)
{
	int			n;
	int64	   *counts = CountsOf(PG_GETARG_ARRAYTYPE_P(1), &n);

	return DirectFunctionCall2(numeric_round, PG_GETARG_DATUM(0),
							   Int32GetDatum(LargestScale(counts, n)));
}
