/*-------------------------------------------------------------------------
 *
 * strategies.h
 *		The strategies: diff (diff.c), delta rules (incr.c), the margin
 *		of a top-k's input (margin.c), and the fixpoint loop of a WITH
 *		RECURSIVE view (fixpoint.c).
 *
 * Layer: strategies.  Calls exec, rows and the operators' types.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_STRATEGIES_H
#define IVM_STRATEGIES_H

#include "ivm.h"
#include "operators.h"

/* ---- strategies ---------------------------------------------------- */

/* diff.c: what maintaining a view did (every strategy fills one) */
typedef struct IvmDiffResult
{
	uint64		inserted;		/* rows added to the view */
	uint64		deleted;		/* rows removed from the view */
	uint64		rows_after;		/* rows in the storage afterwards (diff) */
	int64		rows_delta;		/* storage rows added less removed */
	int64		size_delta;		/* aggregated rows added less removed (AGG) */
} IvmDiffResult;


extern double IvmRecomputeCost(Oid storage_rel, Oid view_owner, const char *query);
extern void IvmDiffView(Oid storage_rel, Oid view_owner, const char *viewname,
						const char *query, const char *stored_filter, Snapshot snap,
						int nvisible, AttrNumber passattno, Tuplestorestate *vdelta,
						TupleDesc vdesc, IvmDiffResult *result);

extern void IvmCheckResultShape(TupleDesc result, TupleDesc storage, const char *viewname);
extern Portal IvmOpenCursor(const char *sql, Snapshot snap, Oid runas);
extern char *IvmQuerySideSql(const char *query, bool sorted);

/* fill.c: a storage written whole, by multi-insert into a new heap */
/*
 * rows (expected, or stored before) below which the diff is used instead: a
 * new heap and its swap cost catalog writes, and invalidate the storage's
 * kept plans, which a small view's diff does not
 */
#define IVM_FILL_MIN_ROWS 10000
extern bool IvmStorageEmpty(Oid storage_rel, Snapshot snap);
extern bool IvmBulkFill(Oid storage_rel, Oid view_owner, const char *viewname, const char *query,
						Snapshot snap, AttrNumber passattno, Tuplestorestate *vdelta,
						TupleDesc vdesc, uint64 old_rows, IvmDiffResult *result);
extern int	IvmHashColumn(TupleDesc storage_desc);

/* incr.c: the incremental strategy */

/* what applying a delta writes, for a caller that applies it later */
typedef struct IvmRowChanges
{
	ItemPointerData *deletes;	/* stored rows to delete */
	uint64		ndeletes;
	Tuplestorestate *inserts;	/* rows to insert, of the storage's columns */
	uint64		ninserts;
} IvmRowChanges;

extern bool IvmApplySpj(Oid storage_rel, Oid view_owner, const char *viewname,
						const char *delta_sql, Snapshot snap, int nvisible, int sizeclass,
						Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *result,
						IvmRowChanges *defer);
extern bool IvmApplyAgg(Oid storage_rel, Oid view_owner, const char *viewname,
						IvmShape *shape, const char *merge_sql, Snapshot snap, int sizeclass,
						Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *result,
						IvmRowChanges *defer);

/* fixpoint.c: a WITH RECURSIVE view (recursive.c) kept by its own loop */
extern bool IvmApplyRecursive(IvmShape *shape, Oid storage_rel, const char *storage_name,
							  Oid owner, const char *viewname, const char *qualname, Oid caller,
							  Snapshot snap, IvmDeltaLookup lookup, void *lookup_arg,
							  Tuplestorestate *out, TupleDesc vdesc, IvmDiffResult *result);

/* margin.c: a top-k's input kept to a margin (topk.c) */
typedef struct IvmMargin
{
	Oid			storage_rel;	/* the hidden view's storage, */
	const char *storage_name;	/* qualified */
	Oid			owner;
	const char *viewname;
	IvmTopk    *topk;			/* the top-k it serves */
	IvmShape   *shape;			/* its own shape (SPJ) */
	int64		margin;			/* the rows a rescan takes */
	const char *full_sql;		/* its first rows, every tie (IvmFullSql) */
	const char *rescan_sql;		/* IvmTopkRescanSql, of margin + 1 rows */
	const char *query_sql;		/* its query's rows (IvmSpjSql) */
	TupleDesc	vdesc;			/* its delta's shape, or NULL */
} IvmMargin;

extern uint64 IvmMarginCut(IvmMargin *m, const char *bound, bool strict, Snapshot snap,
						   Tuplestorestate *out);
extern uint64 IvmMarginCutWhere(IvmMargin *m, const char *filter, Snapshot snap,
								Tuplestorestate *out);
extern bool IvmMarginRescan(IvmMargin *m, Snapshot snap, Tuplestorestate *out,
							IvmDiffResult *res, int64 *rows);
extern void IvmMarginRescanParts(IvmMargin *m, const char *parts, Snapshot snap,
								 Tuplestorestate *out, IvmDiffResult *res, int64 *rows);

#endif							/* IVM_STRATEGIES_H */
