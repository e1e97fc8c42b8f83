/*-------------------------------------------------------------------------
 *
 * topk.c
 *		Top-k: a view whose query ends in ORDER BY ... LIMIT (or OFFSET, or
 *		FETCH FIRST ... ONLY / WITH TIES).
 *
 * The rows of the query under the ORDER BY and LIMIT are the state the
 * top k are taken from, as in DBSP, where top-k keeps its input's
 * integral: that query is kept whole in a hidden internal view,
 * maintained by its own delta rules, with an index on the sort keys.  A
 * tick in which the hidden view changed reads its first k rows again
 * through that index, in the query's own order (each key's sort operator,
 * NULLS FIRST or LAST), and applies the difference with the k rows stored:
 * a cost that follows k, not the size of the data.  A row entering the
 * top, leaving it (deleted, or moved below the k-th), or replaced by the
 * next one, all come out of the same re-read; nothing runs out of
 * candidates, since the hidden view holds them all.
 *
 * The hidden view's columns are c1..cn: the query's columns, then each
 * sort key the query does not show (ORDER BY sum(x) DESC without sum(x)
 * in the select list).  The view reads c1..c<its columns> of it.
 *
 * Layer: operators (query trees in, SQL text out; no SPI).  Calls nothing
 * of ivm.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/nbtree.h"
#include "catalog/pg_am.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_operator.h"
#include "access/htup_details.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "ivm.h"
#include "operators.h"

/* Is a LIMIT or OFFSET absent, or a constant? */
static bool
ConstOrAbsent(Node *node)
{
	return node == NULL || IsA(node, Const);
}

/*
 * IndexKeySql
 *		The index column that yields this sort key's order, or NULL when no
 *		default btree operator class of the column's type does (a sort by
 *		another operator class: the re-read sorts instead).
 */
static char *
IndexKeySql(SortGroupClause *sgc, Oid coltype, int col)
{
	Oid			opfamily;
	Oid			opcintype;
	int16		strategy;
	Oid			opclass = GetDefaultOpClass(coltype, BTREE_AM_OID);

	if (!OidIsValid(opclass) ||
		!get_ordering_op_properties(sgc->sortop, &opfamily, &opcintype, &strategy) ||
		get_opclass_family(opclass) != opfamily)
		return NULL;
	return psprintf("c%d %s NULLS %s", col,
					strategy == BTGreaterStrategyNumber ? "DESC" : "ASC",
					sgc->nulls_first ? "FIRST" : "LAST");
}

/*
 * IvmTopkAnalyze
 *		NULL, with *topk filled, when query is a top-k the hidden view can
 *		serve (the shape of topk->inner decides whether it has delta rules);
 *		else why not.  The query is not changed.
 */
const char *
IvmTopkAnalyze(Query *query, IvmTopk **topk)
{
	Query	   *inner;
	IvmTopk    *t;
	List	   *visible = NIL;
	List	   *junk = NIL;
	List	   *keys = NIL;
	StringInfoData order;
	StringInfoData index;
	bool		indexable = true;
	ListCell   *lc;
	int			resno = 0;

	*topk = NULL;
	/* LIMIT 10 is int8(10) as parsed */
	query = copyObject(query);
	if (query->limitCount != NULL)
		query->limitCount = eval_const_expressions(NULL, query->limitCount);
	if (query->limitOffset != NULL)
		query->limitOffset = eval_const_expressions(NULL, query->limitOffset);
	if (!ConstOrAbsent(query->limitCount) || !ConstOrAbsent(query->limitOffset))
		return "the query's LIMIT or OFFSET is not a constant";
	if (query->hasDistinctOn)
		return "the query uses DISTINCT ON";

	/* the query under ORDER BY and LIMIT, showing every sort key */
	inner = copyObject(query);
	inner->sortClause = NIL;
	inner->limitCount = NULL;
	inner->limitOffset = NULL;
	inner->limitOption = LIMIT_OPTION_DEFAULT;
	foreach(lc, query->sortClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, inner->targetList);

		if (tle->resjunk)
		{
			tle->resjunk = false;
			keys = lappend(keys, tle);
		}
	}
	foreach(lc, inner->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			junk = lappend(junk, tle);
		else if (!list_member_ptr(keys, tle))
			visible = lappend(visible, tle);
	}
	inner->targetList = list_concat(list_concat(visible, keys), junk);
	foreach(lc, inner->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		tle->resno = ++resno;
		if (!tle->resjunk && list_member_ptr(keys, tle))
			tle->resname = psprintf("c%d", resno);
	}

	t = palloc0(sizeof(IvmTopk));
	t->inner = inner;
	foreach(lc, inner->targetList)
		if (!lfirst_node(TargetEntry, lc)->resjunk)
			t->ncols++;

	/* the order, over the hidden view's columns */
	initStringInfo(&order);
	initStringInfo(&index);
	foreach(lc, query->sortClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, inner->targetList);
		char	   *key;

		appendStringInfo(&order, "%sh.c%d USING %s NULLS %s", order.len > 0 ? ", " : "",
						 tle->resno, IvmOperatorSql(sgc->sortop), sgc->nulls_first ? "FIRST" : "LAST");
		key = indexable ? IndexKeySql(sgc, exprType((Node *) tle->expr), tle->resno) : NULL;
		if (key == NULL)
			indexable = false;
		else
			appendStringInfo(&index, "%s%s", index.len > 0 ? ", " : "", key);
	}
	t->order = order.data;
	t->index = index.len > 0 ? index.data : NULL;

	t->limit = "";
	if (query->limitOffset != NULL && !((Const *) query->limitOffset)->constisnull)
		t->limit = psprintf(" OFFSET " INT64_FORMAT,
							DatumGetInt64(((Const *) query->limitOffset)->constvalue));
	if (query->limitCount != NULL && !((Const *) query->limitCount)->constisnull)
		t->limit = psprintf("%s FETCH FIRST " INT64_FORMAT " ROWS %s", t->limit,
							DatumGetInt64(((Const *) query->limitCount)->constvalue),
							query->limitOption == LIMIT_OPTION_WITH_TIES ? "WITH TIES" : "ONLY");
	*topk = t;
	return NULL;
}

/*
 * IvmTopkSql
 *		The view's rows: the first rows of the hidden view (hidden, a
 *		qualified name) in the query's order, its first nvisible columns.
 */
char *
IvmTopkSql(IvmTopk *topk, int nvisible, const char *hidden)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	for (int i = 1; i <= nvisible; i++)
		appendStringInfo(&buf, "%sh.c%d", i == 1 ? "" : ", ", i);
	appendStringInfo(&buf, " FROM %s h ORDER BY %s%s", hidden, topk->order, topk->limit);
	return buf.data;
}
