/*-------------------------------------------------------------------------
 *
 * margin.c
 *		A top-k's input kept to a margin (topk.c): reading its first rows
 *		again from its query (a rescan), and cutting it back.
 *
 * A rescan takes the query's first 2 * need + 1 rows by a bounded sort, as a
 * delta that replaces every stored row (-1) by them (+1), run whole through
 * a plan that may be parallel (the diff's cursors cannot be, and WITH TIES
 * would sort every row of the query); rows in both cancel when the delta is
 * applied.  The sort cuts anywhere among rows tied on the last key, so
 * those are then cut; in the rare case that leaves fewer than need rows
 * (most of the first rows tie), the query is read again with every tie.
 * The view is created, and rescanned at a tick, this way.
 *
 * A top-k per partition (window.c) ranks each partition's rows instead: a
 * rescan, of the partitions that need one, takes the rows whose rank() by
 * the first key is at most 2 * need, ties counted alike.
 *
 * Layer: strategies.  Calls the diff and the incremental strategy, and
 * the operators' SQL (topk.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "exec.h"
#include "strategies.h"

/*
 * IvmMarginCut
 *		Delete the stored rows whose first key is after bound (strict: not
 *		before it), bound a scalar subquery; what goes is added to out.
 *		Returns how many went.
 */
uint64
IvmMarginCut(IvmMargin *m, const char *bound, bool strict, Snapshot snap, Tuplestorestate *out)
{
	char	   *key = psprintf("s.c%d", m->topk->keycol);

	return IvmMarginCutWhere(m, strict ? IvmTopkWithinSql(m->topk, bound, key)
							 : psprintf("NOT %s", IvmTopkWithinSql(m->topk, key, bound)),
							 snap, out);
}

/*
 * IvmMarginCutWhere
 *		Delete the stored rows (alias s) for which filter holds; what goes is
 *		added to out.  Returns how many went.  The filter runs as the view's
 *		owner (it may call the operators of its column types).
 */
uint64
IvmMarginCutWhere(IvmMargin *m, const char *filter, Snapshot snap, Tuplestorestate *out)
{
	IvmDiffResult res;

	/* the stored rows the filter picks, against no rows of the query: deleted */
	IvmDiffView(m->storage_rel, m->owner, m->viewname,
				psprintf("SELECT * FROM (%s) q WHERE false", m->full_sql), filter,
				snap, m->shape->nvisible, 0, out, m->vdesc, &res);
	return res.deleted;
}

/*
 * IvmMarginRescanParts
 *		A top-k per partition's input (window.c): replace what the
 *		partitions parts (a query of one column, p; NULL: every partition)
 *		hold by their first rows of the query, ties included, adding the
 *		change to out, res and *rows.
 */
void
IvmMarginRescanParts(IvmMargin *m, const char *parts, Snapshot snap, Tuplestorestate *out,
					 IvmDiffResult *res, int64 *rows)
{
	IvmDiffResult r;

	memset(&r, 0, sizeof(r));
	if (!IvmApplySpj(m->storage_rel, m->owner, m->viewname,
					 IvmTopkPartRescanSql(m->topk, m->query_sql, m->shape->nvisible,
										  m->storage_name, m->margin, parts),
					 snap, m->shape->nvisible, IVM_PLAN_PARALLEL, out, m->vdesc, &r, NULL))
		elog(ERROR, "ivm: the rescan of \"%s\" removes rows it does not hold", m->viewname);
	res->inserted += r.inserted;
	res->deleted += r.deleted;
	*rows += r.rows_delta;
}

/*
 * IvmMarginRescan
 *		Replace what the storage holds (*rows rows) by the query's first
 *		rows (see the file header), adding the change to out and to res;
 *		*rows becomes what it holds then.  Returns whether that is a prefix
 *		of the query (true), or every row of it.
 */
bool
IvmMarginRescan(IvmMargin *m, Snapshot snap, Tuplestorestate *out, IvmDiffResult *res, int64 *rows)
{
	IvmDiffResult r;
	bool		bounded;

	/* per partition: rank() counts ties alike, no cut needed; no flag either */
	if (m->topk->partcol > 0)
	{
		IvmMarginRescanParts(m, NULL, snap, out, res, rows);
		return true;
	}
	memset(&r, 0, sizeof(r));
	if (!IvmApplySpj(m->storage_rel, m->owner, m->viewname, m->rescan_sql, snap,
					 m->shape->nvisible, IVM_PLAN_PARALLEL, out, m->vdesc, &r, NULL))
		elog(ERROR, "ivm: the rescan of \"%s\" removes rows it does not hold", m->viewname);
	res->inserted += r.inserted;
	res->deleted += r.deleted;
	*rows += r.rows_delta;

	/* margin + 1 asked for, fewer given: the query's every row */
	bounded = *rows > m->margin;
	if (bounded)
	{
		uint64		cut = IvmMarginCut(m, IvmTopkKeyAtSql(m->topk, m->storage_name, 0, true),
									   true, snap, out);

		res->deleted += cut;
		*rows -= (int64) cut;
	}
	if (*rows < m->topk->need)
	{
		IvmDiffView(m->storage_rel, m->owner, m->viewname, m->full_sql, NULL, snap,
					m->shape->nvisible, 0, out, m->vdesc, &r);
		res->inserted += r.inserted;
		res->deleted += r.deleted;
		*rows = (int64) r.rows_after;
		bounded = *rows >= m->margin;
	}
	return bounded;
}
