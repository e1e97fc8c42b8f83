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
 * the query, its first 2 * need + 1 rows less those tied with the last (a
 * rescan, which ivm.evidence shows; margin.c).  A recompute fills the same
 * prefix.  The first key alone decides, so that the bound is one value
 * compared by one operator.
 *
 * Per partition.  A window read up to a rank (window.c, IvmWindowMargin)
 * keeps the same prefix in each partition of its rows (partcol): the
 * delta filter reads each touched partition's count and last key, a
 * partition holding fewer than need rows holds all of its rows (no flag),
 * and rescans and cuts rank the rows of the partitions concerned.
 *
 * Exact reads.  A rescan or fill orders the query by its first key.  When
 * that key is an operator an index can order a scan by (pgvector's
 * emb <-> '[...]' under an HNSW or IVFFlat index), or any expression that
 * may become one when the planner inlines it, PostgreSQL may take
 * the first rows from such an index, and an approximate one (its ordered
 * scans return what its search found, fewer rows than asked under a low
 * hnsw.ef_search) would leave the prefix wrong.  The sort then begins with
 * key IS NULL (IS NOT NULL for NULLS FIRST): the same order, but one no
 * index scan yields, so every row's key is computed and sorted, whatever
 * indexes exist and whatever the session that ticks has set, in a plan
 * that stays parallel (a subquery fenced by OFFSET 0 would not be).  (Per
 * partition nothing is added: the ranks within each partition are an
 * order no index scan gives.)
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
#include "catalog/pg_amop.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_operator.h"
#include "access/htup_details.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
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
	bool		descending;
	Oid			opclass = GetDefaultOpClass(coltype, BTREE_AM_OID);

	if (!OidIsValid(opclass) ||
		!IvmOrderingOp(sgc->sortop, &opfamily, &opcintype, &descending) ||
		get_opclass_family(opclass) != opfamily)
		return NULL;
	return psprintf("c%d %s NULLS %s", col,
					descending ? "DESC" : "ASC",
					sgc->nulls_first ? "FIRST" : "LAST");
}

/*
 * IndexMayApproximate
 *		Might an index scan return rows in the order of expr (a first sort
 *		key) without being exact?  Operators that operator families order
 *		index scans by (FOR ORDER BY) may be approximate: pgvector's HNSW and
 *		IVFFlat are, and an expression that is not such an operator as
 *		written may become one once the planner inlines it (a SQL function,
 *		or an operator of a role's whose function's body is emb <-> q).  So
 *		any first key but a plain column (or a constant) is taken to be
 *		one: only a column's order comes from btree-like indexes, which are
 *		exact.  A rescan by an expression then sorts instead of reading an
 *		index in order: it costs a sort, never a wrong row.
 */
static bool
IndexMayApproximate(Node *expr)
{
	while (expr != NULL && IsA(expr, RelabelType))
		expr = (Node *) ((RelabelType *) expr)->arg;
	return expr != NULL && !IsA(expr, Var) && !IsA(expr, Const);
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
	inner->limitOption = IVM_LIMIT_NONE;
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
		t->fenced = IndexMayApproximate((Node *) tle->expr);
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

/* c1, ..., cn, each qualified by alias when given */
static void
AppendColumns(StringInfo buf, const char *alias, int n)
{
	for (int i = 1; i <= n; i++)
		appendStringInfo(buf, "%s%s%sc%d", i == 1 ? "" : ", ",
						 alias ? alias : "", alias ? "." : "", i);
}

/* rank() of a row of alias in its partition, by the first sort key */
static char *
RankSql(IvmTopk *topk, const char *alias)
{
	return psprintf("pg_catalog.rank() OVER (PARTITION BY %s.c%d ORDER BY %s.c%d USING %s NULLS %s)",
					alias, topk->partcol, alias, topk->keycol, IvmOperatorSql(topk->keyop),
					topk->keynullsfirst ? "FIRST" : "LAST");
}

/*
 * InParts
 *		A condition: x (a partition column) is one of the partitions of the
 *		relation parts (its column p), NULL for NULL.  not_null: only the
 *		non-NULL ones, by an EXISTS the planner makes a semi join of (the
 *		NULL partition is then taken apart).
 */
static char *
InParts(IvmTopk *topk, const char *x, const char *parts, bool not_null)
{
	char	   *eq = psprintf("EXISTS (SELECT 1 FROM %s r WHERE r.p %s %s)", parts,
							  IvmOperatorSql(topk->parteq), x);

	if (not_null)
		return eq;
	return psprintf("(%s OR (%s IS NULL AND EXISTS (SELECT 1 FROM %s r WHERE r.p IS NULL)))", eq, x, parts);
}

/*
 * PartKeySql
 *		A scalar subquery: of the rows of rel (a hidden view's storage) in
 *		the partition p (an expression), how many (what "count(*)"), or the
 *		first key of the last (what "last"); p NULL is the NULL partition.
 */
static char *
PartKeySql(IvmTopk *topk, const char *rel, const char *p, const char *what)
{
	char	   *select = strcmp(what, "last") == 0
		? psprintf("x.c%d FROM %s x WHERE %%s ORDER BY x.c%d USING %s NULLS %s LIMIT 1",
				   topk->keycol, rel, topk->keycol, IvmOperatorSql(get_commutator(topk->keyop)),
				   topk->keynullsfirst ? "LAST" : "FIRST")
		: psprintf("pg_catalog.count(*) FROM %s x WHERE %%s", rel);

	return psprintf("CASE WHEN %s IS NULL THEN (SELECT %s) ELSE (SELECT %s) END", p,
					psprintf(select, psprintf("x.c%d IS NULL", topk->partcol)),
					psprintf(select, psprintf("x.c%d %s %s", topk->partcol,
											  IvmOperatorSql(topk->parteq), p)));
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
 *		its ncols columns, the first key among them, then maybe more.  When
 *		topk->fenced the sort begins with the key's IS NULL (file header).
 */
char *
IvmTopkFirstSql(IvmTopk *topk, const char *query, int ncols, int64 rows, bool ties)
{
	StringInfoData buf;

	Assert(topk->keycol <= ncols);
	initStringInfo(&buf);
	if (topk->partcol > 0)
	{
		/* per partition: its rows up to the rows-th's key (rank counts ties alike) */
		appendStringInfoString(&buf, "SELECT ");
		AppendColumns(&buf, "z", ncols);
		appendStringInfo(&buf, " FROM (SELECT b.*, %s AS __ivm_rank FROM (%s) b(", RankSql(topk, "b"), query);
		AppendColumns(&buf, NULL, ncols);
		appendStringInfo(&buf, ")) z WHERE z.__ivm_rank <= " INT64_FORMAT, rows);
		return buf.data;
	}
	appendStringInfo(&buf, "SELECT * FROM (%s) b(", query);
	for (int i = 1; i <= topk->keycol; i++)
		appendStringInfo(&buf, "%sc%d", i == 1 ? "" : ", ", i);
	appendStringInfoString(&buf, ") ORDER BY ");
	/* an order no index yields, when one could yield it inexactly (header) */
	if (topk->fenced)
		appendStringInfo(&buf, "(b.c%d IS %sNULL), ", topk->keycol, topk->keynullsfirst ? "NOT " : "");
	appendStringInfo(&buf, "b.c%d USING %s NULLS %s FETCH FIRST " INT64_FORMAT " ROWS %s",
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
 *		A rescan of a top-k's input kept to a margin (query: its rows,
 *		its SPJ query; ncols columns), as a delta (its columns, then a weight)
 *		that replaces every row storage holds (-1) by the query's first rows
 *		rows (+1), cut anywhere among ties: the
 *		caller drops the ties of the last.  Applied, rows in both cancel.
 *		Run whole, so that the scan of the sources may be parallel, and the
 *		sort bounded (WITH TIES would sort every row).
 */
char *
IvmTopkRescanSql(IvmTopk *topk, const char *query, int ncols, const char *storage, int64 rows)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT f.*, 1::pg_catalog.int8 FROM (%s) f UNION ALL SELECT ",
					 IvmTopkFirstSql(topk, query, ncols, rows, false));
	for (int i = 1; i <= ncols; i++)
		appendStringInfo(&buf, "s.c%d, ", i);
	appendStringInfo(&buf, "-1::pg_catalog.int8 FROM %s s", storage);
	return buf.data;
}

/*
 * IvmTopkPartsSql
 *		The partitions of the delta enrname (a hidden view's delta: c1..cn,
 *		then its weight) that a top-k per partition must rescan, having
 *		lost rows and holding fewer than need now (what "rescan"), or cut
 *		back, holding more than 3 * need (what "cut"): a query of one
 *		column, p.
 */
char *
IvmTopkPartsSql(IvmTopk *topk, const char *enrname, const char *storage, const char *what)
{
	bool		rescan = strcmp(what, "rescan") == 0;

	return psprintf("SELECT t.p FROM (SELECT DISTINCT e.c%d AS p FROM %s e%s) t WHERE %s %s " INT64_FORMAT,
					topk->partcol, quote_identifier(enrname),
					rescan ? " WHERE e." IVM_WEIGHT_COLUMN " < 0" : "",
					PartKeySql(topk, storage, "t.p", "count"), rescan ? "<" : ">",
					rescan ? topk->need : 3 * topk->need);
}

/*
 * IvmTopkPartRescanSql
 *		A rescan of the partitions parts (a query of one column, p) of a
 *		top-k per partition's input (query: its rows, its SPJ query; ncols
 *		columns), as a delta: their stored rows (-1) replaced by their
 *		first rows rows of the query, ties included (+1).  Without parts,
 *		of every partition.
 */
char *
IvmTopkPartRescanSql(IvmTopk *topk, const char *query, int ncols, const char *storage,
					 int64 rows, const char *parts)
{
	StringInfoData buf;
	char	   *key = psprintf("b.c%d", topk->partcol);

	initStringInfo(&buf);
	if (parts == NULL)
	{
		appendStringInfo(&buf, "SELECT f.*, 1::pg_catalog.int8 FROM (%s) f UNION ALL SELECT ",
						 IvmTopkFirstSql(topk, query, ncols, rows, true));
		AppendColumns(&buf, "s", ncols);
		appendStringInfo(&buf, ", -1::pg_catalog.int8 FROM %s s", storage);
		return buf.data;
	}
	appendStringInfo(&buf, "WITH __ivm_parts AS MATERIALIZED (%s) ", parts);
	/* the non-NULL partitions, then the NULL one, each ranked apart */
	for (int nullpart = 0; nullpart <= 1; nullpart++)
	{
		appendStringInfoString(&buf, "SELECT ");
		AppendColumns(&buf, "z", ncols);
		appendStringInfo(&buf, ", 1::pg_catalog.int8 FROM (SELECT b.*, %s AS __ivm_rank FROM (%s) b(",
						 RankSql(topk, "b"), query);
		AppendColumns(&buf, NULL, ncols);
		if (nullpart)
			appendStringInfo(&buf, ") WHERE %s IS NULL AND EXISTS (SELECT 1 FROM __ivm_parts r WHERE r.p IS NULL)", key);
		else
			appendStringInfo(&buf, ") WHERE %s", InParts(topk, key, "__ivm_parts", true));
		appendStringInfo(&buf, ") z WHERE z.__ivm_rank <= " INT64_FORMAT " UNION ALL ", rows);
	}
	appendStringInfoString(&buf, "SELECT ");
	AppendColumns(&buf, "s", ncols);
	appendStringInfo(&buf, ", -1::pg_catalog.int8 FROM %s s WHERE %s", storage,
					 InParts(topk, psprintf("s.c%d", topk->partcol), "__ivm_parts", false));
	return buf.data;
}

/*
 * IvmTopkPartCutSql
 *		A condition over a stored row (alias s) of a top-k per partition's
 *		input: it is in one of the partitions parts (a query of one column,
 *		p) and after the rows-th row's key of its partition.
 */
char *
IvmTopkPartCutSql(IvmTopk *topk, const char *storage, int64 rows, const char *parts)
{
	return psprintf("s.ctid IN (SELECT y.ctid FROM (SELECT x.ctid, %s AS __ivm_rank FROM %s x WHERE %s) y "
					"WHERE y.__ivm_rank > " INT64_FORMAT ")",
					RankSql(topk, "x"), storage,
					InParts(topk, psprintf("x.c%d", topk->partcol), psprintf("(%s)", parts), false),
					rows);
}

/*
 * IvmTopkPartWithinSql
 *		The delta query of a top-k per partition's input (delta_sql: c1..cn,
 *		then the weight), its rows that cannot be among the first rows of
 *		their partition dropped (topk.c header, per partition): in a
 *		partition holding need rows or more, the rows after its last; in one
 *		holding none, which then has no rows (fewer than need held means
 *		all of them are), given only rows it gains, all but its first rows
 *		by rank.  The bounds are read from storage before anything is
 *		written.
 */
char *
IvmTopkPartWithinSql(IvmTopk *topk, const char *delta_sql, int ncols, const char *storage,
					 int64 rows)
{
	StringInfoData buf;
	char	   *on[2];

	on[0] = psprintf("d.c%d %s b.p", topk->partcol, IvmOperatorSql(topk->parteq));
	on[1] = psprintf("d.c%d IS NULL AND b.p IS NULL", topk->partcol);
	initStringInfo(&buf);
	appendStringInfo(&buf, "WITH __ivm_d AS MATERIALIZED (SELECT * FROM (%s) d0(", delta_sql);
	AppendColumns(&buf, NULL, ncols);
	appendStringInfo(&buf, ", __ivm_w)), __ivm_b AS MATERIALIZED (SELECT t.p, %s AS n, %s AS last, t.ins "
					 "FROM (SELECT d.c%d AS p, pg_catalog.bool_and(d.__ivm_w > 0) AS ins FROM __ivm_d d GROUP BY 1) t) ",
					 PartKeySql(topk, storage, "t.p", "count"), PartKeySql(topk, storage, "t.p", "last"),
					 topk->partcol);
	for (int i = 0; i < 2; i++)
		appendStringInfo(&buf, "%sSELECT d.* FROM __ivm_d d JOIN __ivm_b b ON %s "
						 "WHERE CASE WHEN b.n >= " INT64_FORMAT " THEN %s ELSE b.n > 0 OR NOT b.ins END ",
						 i == 0 ? "" : "UNION ALL ", on[i], topk->need,
						 IvmTopkWithinSql(topk, psprintf("d.c%d", topk->keycol), "b.last"));
	for (int i = 0; i < 2; i++)
	{
		appendStringInfoString(&buf, "UNION ALL SELECT ");
		AppendColumns(&buf, "z", ncols);
		appendStringInfo(&buf, ", z.__ivm_w FROM (SELECT d.*, %s AS __ivm_rank FROM __ivm_d d JOIN __ivm_b b ON %s "
						 "WHERE b.n = 0 AND b.ins) z WHERE z.__ivm_rank <= " INT64_FORMAT " ",
						 RankSql(topk, "d"), on[i], rows);
	}
	return buf.data;
}
