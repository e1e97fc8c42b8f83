/*-------------------------------------------------------------------------
 *
 * topk.c
 *		Top-k: a view whose query ends in ORDER BY ... LIMIT (or OFFSET, or
 *		FETCH FIRST ... ONLY / WITH TIES).
 *
 * The rows of the query under the ORDER BY and LIMIT are the state the
 * top k are taken from, as in DBSP, where top-k keeps its input's
 * integral: that query is kept in a hidden internal view, maintained by
 * its own delta rules, with an index on the sort keys.  A tick in which
 * the hidden view changed reads its first k rows again through that index,
 * in the query's own order (each key's sort operator, NULLS FIRST or LAST),
 * and applies the difference with the k rows stored: a cost that follows
 * k, not the size of the data.  A row entering the top, leaving it
 * (deleted, or moved below the k-th), or replaced by the next one, all come
 * out of the same re-read.
 *
 * The margin.  When the hidden query is select-project-join (its delta
 * rules never read what it holds) and the view has a LIMIT, the hidden
 * view need not hold every row: it holds a prefix of the query's rows in
 * the order of the first sort key, every row whose first key is not after
 * a bound B, ties at B included, where B is the first key of its last
 * stored row; or, when it is complete, every row.  Any order that refines
 * the first key's puts those rows first, so while the prefix holds at
 * least OFFSET + LIMIT rows (need), the re-read finds the same rows it
 * would in the whole query, ties of WITH TIES included (they share the
 * first key of the last row shown).  The tick keeps the prefix: a delta
 * row after B is dropped before it is applied (an insert of a far vector
 * writes nothing; the delete of a row never held removes nothing); a
 * prefix grown past 3 * need rows is cut back to the rows not after the
 * 2 * need-th row's key; one shrunk below need rows is read again from
 * the query, its first 2 * need rows with their ties (a rescan, which
 * ivm.evidence shows).  A recompute fills the same prefix.  The first key
 * alone decides, so that the bound is one value compared by one operator.
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

/* the largest OFFSET + LIMIT kept with a margin (3 times it must fit) */
#define IVM_TOPK_MARGIN_MAX ((int64) 100000000)

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
	if (query->sortClause == NIL || (query->limitCount == NULL && query->limitOffset == NULL))
		return "the query does not end in ORDER BY ... LIMIT";
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
	{
		SortGroupClause *first = linitial_node(SortGroupClause, query->sortClause);
		TargetEntry *tle = get_sortgroupclause_tle(first, inner->targetList);

		t->keycol = tle->resno;
		/* (a row value "IS NULL" when all its fields are: no margin by it) */
		t->keyop = type_is_rowtype(exprType((Node *) tle->expr)) ? InvalidOid : first->sortop;
		t->keynullsfirst = first->nulls_first;
	}

	t->limit = "";
	if (query->limitOffset != NULL && !((Const *) query->limitOffset)->constisnull)
		t->limit = psprintf(" OFFSET " INT64_FORMAT,
							DatumGetInt64(((Const *) query->limitOffset)->constvalue));
	if (query->limitCount != NULL && !((Const *) query->limitCount)->constisnull)
	{
		int64		count = DatumGetInt64(((Const *) query->limitCount)->constvalue);
		int64		offset = 0;

		t->limit = psprintf("%s FETCH FIRST " INT64_FORMAT " ROWS %s", t->limit, count,
							query->limitOption == LIMIT_OPTION_WITH_TIES ? "WITH TIES" : "ONLY");
		if (query->limitOffset != NULL && !((Const *) query->limitOffset)->constisnull)
			offset = DatumGetInt64(((Const *) query->limitOffset)->constvalue);
		/* (a negative LIMIT or OFFSET is an error when the view is read) */
		if (count > 0 && offset >= 0 && count <= IVM_TOPK_MARGIN_MAX && offset <= IVM_TOPK_MARGIN_MAX)
			t->need = count + offset;
	}
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

/*
 * IvmTopkMargin
 *		How many rows a rescan fills the hidden view with (2 * need, its
 *		ties added), when the hidden view holds a prefix of its query (see
 *		the file header), or 0 when it holds every row: a query under the
 *		top-k that is not select-project-join (an aggregate's delta rules
 *		read the groups it holds), no LIMIT, or a first sort key without a
 *		commutator to find the last stored row by, or of a row type.
 */
int64
IvmTopkMargin(IvmTopk *topk, IvmShape *inner)
{
	if (inner == NULL || inner->kind != IVM_KIND_SPJ || topk->need <= 0 ||
		!OidIsValid(topk->keyop) || !OidIsValid(get_commutator(topk->keyop)))
		return 0;
	return 2 * topk->need;
}

/*
 * IvmTopkFirstSql
 *		query's first rows in the order of the first sort key, with ties
 *		their ties (a prefix of the hidden view; PostgreSQL then sorts every
 *		row), else cut anywhere among equal keys (a bounded sort keeps only
 *		rows rows; the caller drops the ties of the last).  query returns
 *		its ncols columns, the first key among them, then maybe more.
 */
char *
IvmTopkFirstSql(IvmTopk *topk, const char *query, int ncols, int64 rows, bool ties)
{
	StringInfoData buf;

	Assert(topk->keycol <= ncols);
	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT * FROM (%s) b(", query);
	for (int i = 1; i <= topk->keycol; i++)
		appendStringInfo(&buf, "%sc%d", i == 1 ? "" : ", ", i);
	appendStringInfo(&buf, ") ORDER BY b.c%d USING %s NULLS %s FETCH FIRST " INT64_FORMAT " ROWS %s",
					 topk->keycol, IvmOperatorSql(topk->keyop),
					 topk->keynullsfirst ? "FIRST" : "LAST", rows, ties ? "WITH TIES" : "ONLY");
	return buf.data;
}

/*
 * IvmTopkKeyAtSql
 *		A scalar subquery: the first sort key of the row of rel (a hidden
 *		view's storage, columns c1..cn) at offset in the key's order, or
 *		from_last, of its last row (its index read backwards); NULL when
 *		there is no such row.
 */
char *
IvmTopkKeyAtSql(IvmTopk *topk, const char *rel, int64 offset, bool from_last)
{
	Oid			op = from_last ? get_commutator(topk->keyop) : topk->keyop;
	bool		nullsfirst = from_last ? !topk->keynullsfirst : topk->keynullsfirst;

	return psprintf("(SELECT x.c%d FROM %s x ORDER BY x.c%d USING %s NULLS %s OFFSET " INT64_FORMAT " LIMIT 1)",
					topk->keycol, rel, topk->keycol, IvmOperatorSql(op),
					nullsfirst ? "FIRST" : "LAST", offset);
}

/*
 * IvmTopkWithinSql
 *		A condition: x (a first sort key) is not after bound in the key's
 *		order.  NULLs sort as the ORDER BY says: all first, or all last.
 */
char *
IvmTopkWithinSql(IvmTopk *topk, const char *x, const char *bound)
{
	const char *op = IvmOperatorSql(topk->keyop);

	if (topk->keynullsfirst)
		return psprintf("(CASE WHEN %s IS NULL THEN true WHEN %s IS NULL THEN false "
						"ELSE NOT (%s %s %s) END)", x, bound, bound, op, x);
	return psprintf("(CASE WHEN %s IS NULL THEN true WHEN %s IS NULL THEN false "
					"ELSE NOT (%s %s %s) END)", bound, x, bound, op, x);
}

/*
 * IvmTopkRescanSql
 *		A rescan of a top-k's input kept to a margin, as a delta (its
 *		columns, then a weight) that replaces every row storage holds (-1)
 *		by the query's first rows rows (+1), cut anywhere among ties: the
 *		caller drops the ties of the last.  Applied, rows in both cancel.
 *		Run whole, so that the scan of the sources may be parallel, and the
 *		sort bounded (WITH TIES would sort every row).
 */
char *
IvmTopkRescanSql(IvmTopk *topk, IvmShape *inner, const char *storage, int64 rows)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT f.*, 1::pg_catalog.int8 FROM (%s) f UNION ALL SELECT ",
					 IvmTopkFirstSql(topk, IvmSpjSql(inner), inner->nvisible, rows, false));
	for (int i = 1; i <= inner->nvisible; i++)
		appendStringInfo(&buf, "s.c%d, ", i);
	appendStringInfo(&buf, "-1::pg_catalog.int8 FROM %s s", storage);
	return buf.data;
}
