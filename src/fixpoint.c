/*-------------------------------------------------------------------------
 *
 * fixpoint.c
 *		The maintenance loop of a WITH RECURSIVE view (recursive.c): delete
 *		and rederive, then semi-naive insertion, round by round until a
 *		round changes nothing.
 *
 * The storage holds r, each row once, with its row hash (indexed).  A
 * tick reads the deltas of base's relation and of step's other relation,
 * split into their deleted rows and their new rows (ephemeral relations
 * <tag>_bneg, _bpos, _eneg, _epos):
 *	1. over-delete: rows of base over its deleted rows, and rows of step
 *	   over r and the deleted rows of its relation, are deleted from the
 *	   storage; then, each round, the rows of step over the rows the last
 *	   round deleted (<tag>_f), and over its relation now and its deleted
 *	   rows.  What goes is kept (<tag>_o).
 *	2. insert: the new rows of base, the rows of step over r and the new
 *	   rows of its relation, and the deleted rows that base still gives or
 *	   that step gives over what is left of r (rederived), are inserted
 *	   when r lacks them; then, each round, the rows of step over the rows
 *	   the last round inserted (<tag>_f) that r lacks.  What comes is kept
 *	   (<tag>_n).
 *	3. the view's delta: the rows deleted and not inserted again (-1), the
 *	   rows inserted that were not deleted (+1).
 * Each round is one SELECT, read through a cursor into tuplestores (which
 * spill past work_mem), then applied by ctid and by insert (rows.c); the
 * queries run as the view's owner, restricted.  A cancel stops the loop
 * between rounds and within them.  A row is r's when the storage holds a
 * row with its hash and the same value in each column (binary images, as
 * the diff compares rows).  The whole runs in a subtransaction: if a
 * statement fails (a term meets a row the query would not), nothing is
 * written and the caller recomputes the view.
 *
 * Layer: strategies.  Calls exec, rows and the operators' SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "exec.h"
#include "rows.h"
#include "strategies.h"

/* One maintenance of a recursive view: its SQL pieces and work rows. */
typedef struct Fixpoint
{
	IvmRecursive *rec;
	Oid			storage_rel;
	const char *storage_name;
	Oid			owner;
	const char *viewname;
	Snapshot	snap;
	char	   *tag;			/* prefix of its ephemeral relations */
	TupleDesc	wdesc;			/* work rows: r's columns, then the hash */
	char	   *rcols;			/* r's column names, quoted, comma-separated */
	char	   *scols;			/* the storage's first columns, as s.<name> */
	Tuplestorestate *deleted;	/* every row deleted (wdesc) */
	uint64		ndeleted;
	Tuplestorestate *inserted;	/* every row inserted (wdesc) */
	uint64		ninserted;
	const char *benr;			/* the delta of base's relation, or NULL */
	TupleDesc	bdesc;
	const char *eenr;			/* the delta of step's relation, or NULL */
	TupleDesc	edesc;
} Fixpoint;

/* the size class a round's plan is kept under, by its input rows */
static int
RoundClass(uint64 rows)
{
	return rows < 100 ? 0 : rows < 10000 ? 1 : 2;
}

/* "<prefix>.<c1>, ..." over r's columns */
static char *
Cols(Fixpoint *fp, const char *prefix)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, fp->rec->colnames)
		appendStringInfo(&buf, "%s%s.%s", buf.len > 0 ? ", " : "", prefix,
						 quote_identifier(strVal(lfirst(lc))));
	return buf.data;
}

/*
 * StoredSql
 *		The condition "the storage holds x's row": x has r's columns, by
 *		their names.
 */
static char *
StoredSql(Fixpoint *fp, const char *x)
{
	return psprintf("EXISTS (SELECT 1 FROM %s s WHERE s.%s OPERATOR(pg_catalog.=) ivm.row_hash(%s.*) "
					"AND CAST(ROW(%s) AS pg_catalog.record) OPERATOR(pg_catalog.*=) CAST(ROW(%s) AS pg_catalog.record))",
					fp->storage_name, IVM_HASH_COLUMN, x, fp->scols, Cols(fp, x));
}

/* a batch of a round's rows, and where it goes */
typedef struct RoundRows
{
	Fixpoint   *fp;
	int			skip;			/* leading columns that are not the row (ctid) */
	TupleDesc	desc;			/* the rows' shape */
	Tuplestorestate *ctids;		/* the ctids, when skip is 1 */
	Tuplestorestate *rows;		/* the rows */
	uint64		n;
} RoundRows;

/* collect a batch: ctid (maybe), r's columns, the hash */
static bool
CollectRows(SPITupleTable *tt, uint64 n, void *arg)
{
	RoundRows  *rr = (RoundRows *) arg;
	int			natts = tt->tupdesc->natts;
	Datum	   *values = palloc(sizeof(Datum) * natts);
	bool	   *nulls = palloc(sizeof(bool) * natts);
	TupleDesc	ctiddesc = rr->skip > 0 ? IvmCtidDesc() : NULL;

	for (uint64 i = 0; i < n; i++)
	{
		heap_deform_tuple(tt->vals[i], tt->tupdesc, values, nulls);
		if (rr->skip > 0)
			tuplestore_putvalues(rr->ctids, ctiddesc, values, nulls);
		tuplestore_putvalues(rr->rows, rr->desc, values + rr->skip, nulls + rr->skip);
	}
	rr->n += n;
	pfree(values);
	pfree(nulls);
	return true;
}

/* copy every row of from (desc) to the end of to */
static void
AppendRows(Tuplestorestate *from, Tuplestorestate *to, TupleDesc desc)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);

	tuplestore_rescan(from);
	while (tuplestore_gettupleslot(from, true, false, slot))
		tuplestore_puttupleslot(to, slot);
	ExecDropSingleTupleTableSlot(slot);
}

/* (re)register rows as the ephemeral relation <tag>_<suffix> */
static void
Register(Fixpoint *fp, const char *suffix, Tuplestorestate *rows, TupleDesc desc)
{
	char	   *name = psprintf("%s_%s", fp->tag, suffix);

	(void) SPI_unregister_relation(name);
	IvmRegisterTuplestore(name, rows, desc);
}

/*
 * Fetch
 *		Run sql as the view's owner, restricted: its rows (of desc; a ctid
 *		first when with_ctid) into new tuplestores.
 */
static void
Fetch(Fixpoint *fp, const char *sql, int sizeclass, bool with_ctid, TupleDesc desc, RoundRows *rr)
{
	IvmUserSave save;

	rr->fp = fp;
	rr->desc = desc;
	rr->skip = with_ctid ? 1 : 0;
	rr->ctids = with_ctid ? tuplestore_begin_heap(false, false, work_mem) : NULL;
	rr->rows = tuplestore_begin_heap(false, false, work_mem);
	rr->n = 0;
	IvmBecome(fp->owner, true, &save);
	IvmFetchBatches(sql, 0, NULL, NULL, fp->snap, sizeclass, CollectRows, rr);
	IvmRestoreUser(&save);
}

/*
 * DeleteRound
 *		Delete the stored rows among the rows of query cand (r's columns),
 *		keeping them in fp->deleted; returns them (NULL when none).
 */
static Tuplestorestate *
DeleteRound(Fixpoint *fp, const char *cand, int sizeclass)
{
	RoundRows	rr;
	char	   *sql;

	sql = psprintf("SELECT s.ctid, %s, s.%s FROM %s s WHERE EXISTS (SELECT 1 FROM (%s) f(%s) "
				   "WHERE s.%s OPERATOR(pg_catalog.=) ivm.row_hash(f.*) "
				   "AND CAST(ROW(%s) AS pg_catalog.record) OPERATOR(pg_catalog.*=) CAST(ROW(%s) AS pg_catalog.record))",
				   fp->scols, IVM_HASH_COLUMN, fp->storage_name, cand, fp->rcols,
				   IVM_HASH_COLUMN, fp->scols, Cols(fp, "f"));
	Fetch(fp, sql, sizeclass, true, fp->wdesc, &rr);
	if (rr.n == 0)
	{
		tuplestore_end(rr.ctids);
		tuplestore_end(rr.rows);
		return NULL;
	}
	IvmApplyRowsFrom(fp->storage_rel, fp->storage_name, rr.ctids, rr.n, NULL, NULL, 0,
					 fp->snap, fp->viewname);
	tuplestore_end(rr.ctids);
	AppendRows(rr.rows, fp->deleted, fp->wdesc);
	fp->ndeleted += rr.n;
	return rr.rows;
}

/*
 * InsertRound
 *		Insert the rows of query cand (r's columns) that the storage lacks,
 *		each once, keeping them in fp->inserted; returns them (NULL when
 *		none).
 */
static Tuplestorestate *
InsertRound(Fixpoint *fp, const char *cand, int sizeclass)
{
	RoundRows	rr;
	char	   *sql;

	sql = psprintf("SELECT %s, ivm.row_hash(f.*) FROM (SELECT DISTINCT * FROM (%s) q) f(%s) WHERE NOT %s",
				   Cols(fp, "f"), cand, fp->rcols, StoredSql(fp, "f"));
	Fetch(fp, sql, sizeclass, false, fp->wdesc, &rr);
	if (rr.n == 0)
	{
		tuplestore_end(rr.rows);
		return NULL;
	}
	IvmApplyRowsFrom(fp->storage_rel, fp->storage_name, NULL, 0, rr.rows, fp->wdesc, rr.n,
					 fp->snap, fp->viewname);
	AppendRows(rr.rows, fp->inserted, fp->wdesc);
	fp->ninserted += rr.n;
	return rr.rows;
}

/* "(a) UNION ALL (b)", either maybe NULL */
static char *
UnionAll(char *a, const char *b)
{
	if (a == NULL)
		return b == NULL ? NULL : pstrdup(b);
	if (b == NULL)
		return a;
	return psprintf("(%s) UNION ALL (%s)", a, b);
}

/*
 * SplitDelta
 *		The deleted rows (weight < 0) and the new rows (> 0) of the delta
 *		enrname (desc) as <tag>_<prefix>neg and <tag>_<prefix>pos; returns
 *		their shape (desc without its dropped columns).
 */
static TupleDesc
SplitDelta(Fixpoint *fp, const char *enrname, TupleDesc desc, const char *prefix)
{
	int			natts = 0;
	TupleDesc	live;
	StringInfoData cols;

	initStringInfo(&cols);
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
		{
			appendStringInfo(&cols, "%s%s", natts > 0 ? ", " : "",
							 quote_identifier(NameStr(TupleDescAttr(desc, i)->attname)));
			natts++;
		}
	live = CreateTemplateTupleDesc(natts);
	natts = 0;
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			TupleDescCopyEntry(live, ++natts, desc, i + 1);
	for (int neg = 0; neg < 2; neg++)
	{
		RoundRows	rr;

		/* the columns named: a plan kept for other columns is not reused */
		Fetch(fp, psprintf("SELECT %s FROM %s WHERE %s OPERATOR(pg_catalog.%s) 0",
						   cols.data, quote_identifier(enrname), IVM_WEIGHT_COLUMN, neg ? "<" : ">"),
			  0, false, live, &rr);
		Register(fp, psprintf("%s%s", prefix, neg ? "neg" : "pos"), rr.rows, live);
	}
	return live;
}

/*
 * Rederived
 *		The deleted rows (<tag>_o) that base gives now, or that step gives
 *		over the rows left in the storage and its relation now: base read
 *		once, step looked up from each row by its columns' equality (a row
 *		with a NULL compared column by column, NULL matching NULL).
 */
static char *
Rederived(Fixpoint *fp, const char *base_now, const char *step_now)
{
	IvmRecursive *rec = fp->rec;
	StringInfoData eq;
	StringInfoData nulleq;
	StringInfoData anynull;
	char	   *o = psprintf("%s_o", fp->tag);
	ListCell   *lc;
	ListCell   *lc2;

	initStringInfo(&eq);
	initStringInfo(&nulleq);
	initStringInfo(&anynull);
	forboth(lc, rec->colnames, lc2, rec->eqops)
	{
		const char *c = quote_identifier(strVal(lfirst(lc)));
		char	   *op = IvmOperatorSql(lfirst_oid(lc2));

		appendStringInfo(&eq, "%st.%s %s o.%s", eq.len > 0 ? " AND " : "", c, op, c);
		appendStringInfo(&nulleq, "%s(t.%s %s o.%s OR (t.%s IS NULL AND o.%s IS NULL))",
						 nulleq.len > 0 ? " AND " : "", c, op, c, c, c);
		appendStringInfo(&anynull, "%so.%s IS NULL", anynull.len > 0 ? " OR " : "", c);
	}
	return psprintf("(SELECT b.* FROM (%s) b(%s) WHERE EXISTS (SELECT 1 FROM %s o "
					"WHERE o.%s OPERATOR(pg_catalog.=) ivm.row_hash(b.*) "
					"AND CAST(ROW(%s) AS pg_catalog.record) OPERATOR(pg_catalog.*=) CAST(ROW(%s) AS pg_catalog.record))) UNION ALL "
					"(SELECT %s FROM %s o WHERE EXISTS (SELECT 1 FROM (%s) t(%s) WHERE %s)) UNION ALL "
					"(SELECT %s FROM %s o WHERE (%s) AND EXISTS (SELECT 1 FROM (%s) t(%s) WHERE %s))",
					base_now, fp->rcols, o, IVM_HASH_COLUMN, Cols(fp, "o"), Cols(fp, "b"),
					Cols(fp, "o"), o, step_now, fp->rcols, eq.data,
					Cols(fp, "o"), o, anynull.data, step_now, fp->rcols, nulleq.data);
}

/*
 * EmitDelta
 *		The view's delta into out (vdesc: r's columns, weight): rows deleted
 *		and not inserted again, rows inserted that were not deleted.
 */
static void
EmitDelta(Fixpoint *fp, Tuplestorestate *out, TupleDesc vdesc, IvmDiffResult *result)
{
	char	   *o = psprintf("%s_o", fp->tag);
	char	   *n = psprintf("%s_n", fp->tag);
	char	   *sql;
	RoundRows	rr;
	TupleTableSlot *slot;

	Register(fp, "o", fp->deleted, fp->wdesc);
	Register(fp, "n", fp->inserted, fp->wdesc);
	sql = psprintf("(SELECT %s, CAST(-1 AS pg_catalog.int8) FROM %s x WHERE NOT EXISTS (SELECT 1 FROM %s y "
				   "WHERE y.%s OPERATOR(pg_catalog.=) x.%s AND CAST(ROW(%s) AS pg_catalog.record) OPERATOR(pg_catalog.*=) CAST(ROW(%s) AS pg_catalog.record))) "
				   "UNION ALL "
				   "(SELECT %s, CAST(1 AS pg_catalog.int8) FROM %s x WHERE NOT EXISTS (SELECT 1 FROM %s y "
				   "WHERE y.%s OPERATOR(pg_catalog.=) x.%s AND CAST(ROW(%s) AS pg_catalog.record) OPERATOR(pg_catalog.*=) CAST(ROW(%s) AS pg_catalog.record)))",
				   Cols(fp, "x"), o, n, IVM_HASH_COLUMN, IVM_HASH_COLUMN, Cols(fp, "y"), Cols(fp, "x"),
				   Cols(fp, "x"), n, o, IVM_HASH_COLUMN, IVM_HASH_COLUMN, Cols(fp, "y"), Cols(fp, "x"));
	Fetch(fp, sql, RoundClass(fp->ndeleted + fp->ninserted), false, vdesc, &rr);
	slot = MakeSingleTupleTableSlot(vdesc, &TTSOpsMinimalTuple);
	tuplestore_rescan(rr.rows);
	while (tuplestore_gettupleslot(rr.rows, true, false, slot))
	{
		bool		isnull;

		if (DatumGetInt64(slot_getattr(slot, vdesc->natts, &isnull)) < 0)
			result->deleted++;
		else
			result->inserted++;
		tuplestore_puttupleslot(out, slot);
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(rr.rows);
	result->rows_delta = (int64) result->inserted - (int64) result->deleted;
	result->size_delta = result->rows_delta;
}

/*
 * Maintain
 *		Steps 1 to 3 for the deltas of base's relation and of step's (each
 *		maybe NULL).  False when a term cannot
 *		read a delta (it lacks a column).
 */
static bool
Maintain(Fixpoint *fp, Tuplestorestate *out, TupleDesc vdesc, IvmDiffResult *result)
{
	IvmRecursive *rec = fp->rec;
	const char *benr = fp->benr;
	const char *eenr = fp->eenr;
	TupleDesc	bdesc = fp->bdesc;
	TupleDesc	edesc = fp->edesc;
	char	   *f = psprintf("%s_f", fp->tag);
	char	   *bneg = NULL;
	char	   *bpos = NULL;
	char	   *sneg = NULL;
	char	   *spos = NULL;
	char	   *fneg = NULL;
	char	   *fnow;
	char	   *cand;
	Tuplestorestate *round;

	/* the deltas, split; each term over them */
	if (benr != NULL)
	{
		bdesc = SplitDelta(fp, benr, bdesc, "b");
		bneg = IvmRecursiveBaseSql(rec, psprintf("%s_bneg", fp->tag), bdesc);
		bpos = IvmRecursiveBaseSql(rec, psprintf("%s_bpos", fp->tag), bdesc);
		if (bneg == NULL || bpos == NULL)
			return false;
	}
	if (eenr != NULL)
	{
		edesc = SplitDelta(fp, eenr, edesc, "e");
		sneg = IvmRecursiveStepSql(rec, fp->storage_rel, NULL, psprintf("%s_eneg", fp->tag), edesc);
		spos = IvmRecursiveStepSql(rec, fp->storage_rel, NULL, psprintf("%s_epos", fp->tag), edesc);
		fneg = IvmRecursiveStepSql(rec, fp->storage_rel, f, psprintf("%s_eneg", fp->tag), edesc);
		if (sneg == NULL || spos == NULL || fneg == NULL)
			return false;
	}
	fnow = IvmRecursiveStepSql(rec, fp->storage_rel, f, NULL, NULL);

	/* 1. over-delete, round by round */
	cand = UnionAll(bneg, sneg);
	round = cand != NULL ? DeleteRound(fp, cand, 0) : NULL;
	while (round != NULL)
	{
		Tuplestorestate *prev = round;

		CHECK_FOR_INTERRUPTS();
		Register(fp, "f", prev, fp->wdesc);
		round = DeleteRound(fp, UnionAll(pstrdup(fnow), fneg),
							RoundClass(tuplestore_tuple_count(prev)));
		(void) SPI_unregister_relation(f);
		tuplestore_end(prev);
	}

	/* 2. insert: new rows, rederived rows, then round by round */
	cand = UnionAll(bpos, spos);
	if (fp->ndeleted > 0)
	{
		Register(fp, "o", fp->deleted, fp->wdesc);
		cand = UnionAll(cand, Rederived(fp, IvmRecursiveBaseSql(rec, NULL, NULL),
										IvmRecursiveStepSql(rec, fp->storage_rel, NULL, NULL, NULL)));
	}
	round = cand != NULL ? InsertRound(fp, cand, RoundClass(fp->ndeleted)) : NULL;
	while (round != NULL)
	{
		Tuplestorestate *prev = round;

		CHECK_FOR_INTERRUPTS();
		Register(fp, "f", prev, fp->wdesc);
		round = InsertRound(fp, fnow, RoundClass(tuplestore_tuple_count(prev)));
		(void) SPI_unregister_relation(f);
		tuplestore_end(prev);
	}

	/* 3. the view's delta */
	EmitDelta(fp, out, vdesc, result);
	return true;
}

/* unregister every ephemeral relation of fp */
static void
Unregister(Fixpoint *fp)
{
	const char *suffixes[] = {"bneg", "bpos", "eneg", "epos", "f", "o", "n"};

	for (int i = 0; i < lengthof(suffixes); i++)
		(void) SPI_unregister_relation(psprintf("%s_%s", fp->tag, suffixes[i]));
}

/*
 * IvmApplyRecursive
 *		Bring a WITH RECURSIVE view's storage up to date with this tick's
 *		deltas (lookup finds them), adding its delta to out (vdesc).  False
 *		when it could not (a delta lacks a column, a term failed: reported),
 *		nothing written: the caller recomputes.
 */
bool
IvmApplyRecursive(IvmShape *shape, Oid storage_rel, const char *storage_name, Oid owner,
				  const char *viewname, const char *qualname, Oid caller, Snapshot snap,
				  IvmDeltaLookup lookup, void *lookup_arg, Tuplestorestate *out,
				  TupleDesc vdesc, IvmDiffResult *result)
{
	IvmRecursive *rec = shape->recursive;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	const char *benr = NULL;
	const char *eenr = NULL;
	TupleDesc	bdesc = NULL;
	TupleDesc	edesc = NULL;
	Fixpoint	fp;
	Relation	rel;
	StringInfoData scols;
	StringInfoData rcols;
	ListCell   *lc;
	volatile bool ok = false;

	if (rec->brel != 0)
		bdesc = lookup(rt_fetch(rec->brel, rec->base->rtable)->relid, &benr, lookup_arg);
	if (rec->erel != 0)
		edesc = lookup(rt_fetch(rec->erel, rec->step->rtable)->relid, &eenr, lookup_arg);
	if (bdesc == NULL)
		benr = NULL;
	if (edesc == NULL)
		eenr = NULL;
	if (benr == NULL && eenr == NULL)
		return true;			/* nothing it reads changed */

	/* deltas carry no privileges: the owner must still read what the query reads */
	{
		IvmUserSave save;

		IvmBecome(owner, true, &save);
		IvmShapeCheckPermissions(shape);
		IvmRestoreUser(&save);
	}

	memset(&fp, 0, sizeof(fp));
	fp.benr = benr;
	fp.bdesc = benr != NULL ? bdesc : NULL;
	fp.eenr = eenr;
	fp.edesc = eenr != NULL ? edesc : NULL;
	fp.rec = rec;
	fp.storage_rel = storage_rel;
	fp.storage_name = storage_name;
	fp.owner = owner;
	fp.viewname = viewname;
	fp.snap = snap;
	fp.tag = psprintf("ivm_rec%u", storage_rel);
	fp.wdesc = CreateTemplateTupleDesc(rec->ncols + 1);
	initStringInfo(&scols);
	initStringInfo(&rcols);
	rel = table_open(storage_rel, AccessShareLock);
	foreach(lc, rec->colnames)
	{
		int			i = foreach_current_index(lc);
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), i);

		TupleDescInitEntry(fp.wdesc, i + 1, strVal(lfirst(lc)), att->atttypid, att->atttypmod, 0);
		TupleDescInitEntryCollation(fp.wdesc, i + 1, att->attcollation);
		appendStringInfo(&scols, "%ss.%s", i > 0 ? ", " : "", quote_identifier(NameStr(att->attname)));
		appendStringInfo(&rcols, "%s%s", i > 0 ? ", " : "", quote_identifier(strVal(lfirst(lc))));
	}
	table_close(rel, AccessShareLock);
	TupleDescInitEntry(fp.wdesc, rec->ncols + 1, IVM_HASH_COLUMN, INT8OID, -1, 0);
	fp.scols = scols.data;
	fp.rcols = rcols.data;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		Tuplestorestate *local = tuplestore_begin_heap(false, false, work_mem);
		TupleTableSlot *slot;

		fp.deleted = tuplestore_begin_heap(false, false, work_mem);
		fp.inserted = tuplestore_begin_heap(false, false, work_mem);
		ok = Maintain(&fp, local, vdesc, result);
		Unregister(&fp);
		if (ok)
		{
			/* the delta outlives the subtransaction: copied under the caller's owner */
			CurrentResourceOwner = oldowner;
			slot = MakeSingleTupleTableSlot(vdesc, &TTSOpsMinimalTuple);
			tuplestore_rescan(local);
			while (tuplestore_gettupleslot(local, true, false, slot))
				tuplestore_puttupleslot(out, slot);
			ExecDropSingleTupleTableSlot(slot);
		}
		tuplestore_end(local);
		tuplestore_end(fp.deleted);
		tuplestore_end(fp.inserted);
		if (ok)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		Unregister(&fp);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (IvmErrorIsTransient(edata->sqlerrcode))
			ReThrowError(edata);
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			IvmReportViewFailure(edata, qualname, owner, caller, WARNING,
								 "Its recursive maintenance failed and it is recomputed instead.",
								 "If a function of the view's query raised it, the recompute meets it again; "
								 "if not, this is a bug in ivm, and the recompute makes the view right.");
		FreeErrorData(edata);
		memset(result, 0, sizeof(*result));
		return false;
	}
	PG_END_TRY();
	if (!ok)
		memset(result, 0, sizeof(*result));
	return ok;
}
