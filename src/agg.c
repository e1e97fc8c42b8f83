/*-------------------------------------------------------------------------
 *
 * agg.c
 *		Aggregates (GROUP BY, a scalar aggregate, SELECT DISTINCT): which
 *		aggregate calls have delta rules, the storage's hidden columns, the
 *		query computing the whole storage and the one folding a delta into
 *		it (IvmMergeSql).
 *
 * Storage holds one row per group: the visible columns, then the group's
 * row count, a hash of its key (indexed), and per aggregate its hidden
 * bookkeeping (a value only a computed column or HAVING reads, the count
 * of non-null inputs of sum/avg, avg's running sum, numeric inputs counted
 * by kind), then HAVING's result.  A computed column (an expression over
 * keys and aggregates) and HAVING are worked out from that row.
 *
 * Layer: operators: query trees in, SQL text out.  No SPI; it reads the
 * catalog through the caches only (aggregate names, type caches).  Calls
 * join.c (the SPJ part under the aggregation) and the other operators.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_aggregate.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "ivm.h"
#include "operators.h"
#include "shape_int.h"

/* Can values of this type be a group key: hashable, deterministic equality? */
static const char *
CheckKeyType(Oid type, Oid collation)
{
	TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_HASH_EXTENDED_PROC);

	if (!OidIsValid(tc->hash_extended_proc))
		return ReasonF("a grouping column has type %s, which has no hash function",
					   format_type_be(type));
	if (OidIsValid(collation) && !get_collation_isdeterministic(collation))
		return "a grouping column uses a nondeterministic collation";
	/* equal values of these types can differ in their bytes: hashing by value still works */
	return NULL;
}

/*
 * FilteredArg
 *		CASE WHEN filter THEN arg END.  Every aggregate with a delta rule
 *		skips NULL inputs, so agg(x) FILTER (WHERE p) is agg(CASE WHEN p
 *		THEN x END): a row the filter rejects (false or NULL) is a NULL
 *		input, and the rules for the plain aggregate hold unchanged.
 */
static Expr *
FilteredArg(Expr *arg, Expr *filter)
{
	CaseExpr   *c = makeNode(CaseExpr);
	CaseWhen   *w = makeNode(CaseWhen);

	w->expr = (Expr *) copyObject(filter);
	w->result = (Expr *) copyObject(arg);
	w->location = -1;
	c->casetype = exprType((Node *) arg);
	c->casecollid = exprCollation((Node *) arg);
	c->arg = NULL;
	c->args = list_make1(w);
	c->defresult = (Expr *) makeNullConst(c->casetype, exprTypmod((Node *) arg), c->casecollid);
	c->location = -1;
	return (Expr *) c;
}

/* the direction of an aggregate's ORDER BY item: ASC, DESC, or NULL for another operator */
static const char *
SortDirection(SortGroupClause *sort, List *args)
{
	TargetEntry *tle = get_sortgroupclause_tle(sort, args);
	TypeCacheEntry *tc = lookup_type_cache(exprType((Node *) tle->expr),
										   TYPECACHE_LT_OPR | TYPECACHE_GT_OPR);

	if (sort->sortop == tc->lt_opr)
		return "ASC";
	if (sort->sortop == tc->gt_opr)
		return "DESC";
	return NULL;
}

/*
 * CheckRecomputedAgg
 *		An aggregate of pg_catalog without a running form (string_agg,
 *		array_agg, a float sum, anything with DISTINCT or ORDER BY, ...):
 *		each group a delta touches is aggregated again from the sources.
 *		Its arguments (then its filter) become columns of the part under
 *		the aggregation (RecomputedCallSql calls it over them).  NULL when
 *		it can be so maintained, else why not.
 */
static const char *
CheckRecomputedAgg(Aggref *agg, IvmAgg *out)
{
	ListCell   *lc;

	if (agg->aggvariadic || agg->aggstar || agg->args == NIL)
		return ReasonF("aggregate %s() has no delta rule", get_func_name(agg->aggfnoid));
	foreach(lc, agg->aggorder)
		if (SortDirection(lfirst_node(SortGroupClause, lc), agg->args) == NULL)
			return ReasonF("aggregate %s() orders by an operator other than its type's < or >",
						   get_func_name(agg->aggfnoid));
	out->kind = IVM_AGG_RECOMPUTE;
	out->arg = NULL;
	foreach(lc, agg->args)
		out->args = lappend(out->args, lfirst_node(TargetEntry, lc)->expr);
	if (agg->aggfilter != NULL)
		out->args = lappend(out->args, agg->aggfilter);
	return NULL;
}

/*
 * RecomputedCallSql
 *		SQL: the call of a RECOMPUTE aggregate over the SPJ part's columns
 *		(alias p), its argument i being column __ivm_c<argcol + i>.
 */
static char *
RecomputedCallSql(IvmAgg *out)
{
	Aggref	   *agg = (Aggref *) out->aggref;
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfo(&buf, "pg_catalog.%s(%s", quote_identifier(get_func_name(agg->aggfnoid)),
					 agg->aggdistinct != NIL ? "DISTINCT " : "");
	foreach(lc, agg->args)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		appendStringInfo(&buf, "%sp.__ivm_c%d", first ? "" : ", ", out->argcol + tle->resno - 1);
		first = false;
	}
	first = true;
	foreach(lc, agg->aggorder)
	{
		SortGroupClause *sort = lfirst_node(SortGroupClause, lc);
		TargetEntry *tle = get_sortgroupclause_tle(sort, agg->args);

		appendStringInfo(&buf, "%sp.__ivm_c%d %s NULLS %s", first ? " ORDER BY " : ", ",
						 out->argcol + tle->resno - 1, SortDirection(sort, agg->args),
						 sort->nulls_first ? "FIRST" : "LAST");
		first = false;
	}
	appendStringInfoChar(&buf, ')');
	if (agg->aggfilter != NULL)
		appendStringInfo(&buf, " FILTER (WHERE p.__ivm_c%d)", out->argcol + list_length(agg->args));
	return buf.data;
}

/*
 * CheckAgg
 *		Read one aggregate call of the select list.  NULL when it can be
 *		maintained, else why not.
 */
static const char *
CheckAgg(Aggref *agg, IvmAgg *out)
{
	char	   *name = get_func_name(agg->aggfnoid);
	Oid			nsp = get_func_namespace(agg->aggfnoid);

	memset(out, 0, sizeof(IvmAgg));
	if (agg->aggkind != AGGKIND_NORMAL || nsp != PG_CATALOG_NAMESPACE)
		return ReasonF("aggregate %s() has no delta rule", name);
	out->restype = agg->aggtype;
	if (agg->aggdistinct != NIL || agg->aggorder != NIL)
		return CheckRecomputedAgg(agg, out);
	if (agg->aggstar && agg->aggfilter == NULL)
	{
		out->kind = IVM_AGG_COUNT_STAR;
		return NULL;
	}
	if (agg->aggstar)			/* count(*) FILTER (WHERE p): count(1) FILTER (WHERE p) */
		out->arg = (Expr *) makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(1), false, true);
	else if (list_length(agg->args) != 1)
		return CheckRecomputedAgg(agg, out);	/* string_agg(x, sep), ... */
	else
		out->arg = (Expr *) linitial_node(TargetEntry, agg->args)->expr;
	if (agg->aggfilter != NULL)
		out->arg = FilteredArg(out->arg, agg->aggfilter);
	out->argtype = exprType((Node *) out->arg);
	if (strcmp(name, "count") == 0)
		out->kind = IVM_AGG_COUNT;
	else if (strcmp(name, "min") == 0 || strcmp(name, "max") == 0)
	{
		out->kind = strcmp(name, "min") == 0 ? IVM_AGG_MIN : IVM_AGG_MAX;
		out->fname = name;
		out->recompute_on_retract = true;
	}
	else if (strcmp(name, "bool_and") == 0 || strcmp(name, "every") == 0 ||
			 strcmp(name, "bool_or") == 0)
	{
		/* the least and the greatest of booleans (false < true): min and max's rules */
		out->kind = strcmp(name, "bool_or") == 0 ? IVM_AGG_MAX : IVM_AGG_MIN;
		out->fname = name;
		out->recompute_on_retract = true;
	}
	else if (strcmp(name, "sum") == 0 || strcmp(name, "avg") == 0)
	{
		out->kind = strcmp(name, "sum") == 0 ? IVM_AGG_SUM : IVM_AGG_AVG;
		switch (out->argtype)
		{
			case INT2OID:
			case INT4OID:
				out->sumtype = out->kind == IVM_AGG_SUM ? INT8OID : NUMERICOID;
				break;
			case INT8OID:
				out->sumtype = NUMERICOID;
				break;
			case NUMERICOID:
				out->sumtype = NUMERICOID;

				/*
				 * A numeric sum is NaN or infinite while such an input is
				 * in it, and shows the largest display scale of its inputs:
				 * a running sum alone cannot follow either as inputs go.
				 * So the group keeps the running sum of its finite inputs
				 * and counts its inputs by kind (ivm.numeric_counts), and
				 * ivm.numeric_sum_of() / ivm.numeric_avg_of() make the
				 * aggregate's value from them.
				 */
				out->numeric_inputs = true;
				break;
			default:

				/*
				 * Floating-point sums depend on the order of addition, so a
				 * running sum could drift from the query's in the last bits;
				 * other types have no exact running sum here.  The group
				 * is summed again instead.
				 */
				return CheckRecomputedAgg(agg, out);
		}
	}
	else
		return CheckRecomputedAgg(agg, out);
	return NULL;
}

/* how many aggregate calls an expression holds */
static bool
CountAggrefsWalker(Node *node, int *n)
{
	if (node == NULL)
		return false;
	if (IsA(node, Aggref))
	{
		(*n)++;
		return false;
	}
	return expression_tree_walker(node, CountAggrefsWalker, n);
}

static int
CountAggrefs(Node *node)
{
	int			n = 0;

	(void) CountAggrefsWalker(node, &n);
	return n;
}

/*
 * the storage attribute number of aggregate a's hidden value (0-based a);
 * with a = naggs, of the column after every aggregate's (__ivm_pass)
 */
static AttrNumber
HiddenAggAttno(IvmShape *shape, int a)
{
	AttrNumber	attno = shape->nvisible + 2;	/* after the count and the key hash */

	for (int b = 0; b < a; b++)
	{
		IvmAgg	   *agg = &shape->aggs[b];

		attno += (agg->col < 0 ? 1 : 0) +
			((agg->kind == IVM_AGG_SUM || agg->kind == IVM_AGG_AVG) ? 1 : 0) +
			((agg->kind == IVM_AGG_AVG || agg->numeric_inputs) ? 1 : 0) +
			(agg->numeric_inputs ? 1 : 0);
	}
	return attno + 1;
}

/* What ComputedMutator needs: the shape, the query, its key references. */
typedef struct ComputedContext
{
	IvmShape   *shape;
	Query	   *query;
	List	   *keyrefs;
	const char *why;
} ComputedContext;

/* collect the aggregate calls of a computed column as hidden aggregates */
static bool
HiddenAggsWalker(Node *node, ComputedContext *cx)
{
	IvmShape   *shape = cx->shape;

	if (node == NULL || cx->why != NULL)
		return false;
	if (IsA(node, Aggref))
	{
		IvmAgg	   *agg;

		for (int a = 0; a < shape->naggs; a++)
			if (equal(shape->aggs[a].aggref, node))
				return false;
		agg = &shape->aggs[shape->naggs];
		cx->why = CheckAgg((Aggref *) node, agg);
		agg->col = -1;
		agg->aggref = (Expr *) node;
		shape->naggs++;
		return false;
	}
	return expression_tree_walker(node, HiddenAggsWalker, cx);
}

/*
 * ComputedMutator
 *		A computed column's expression over the storage row (Vars of
 *		relation 1): a grouping key becomes its column, an aggregate call its
 *		column (visible, or hidden __ivm_a<n>).  Any other column reference
 *		cannot be computed from the group (cx->why).
 */
static Node *
ComputedMutator(Node *node, ComputedContext *cx)
{
	IvmShape   *shape = cx->shape;
	ListCell   *lc;
	int			col = 0;

	if (node == NULL)
		return NULL;
	foreach(lc, cx->query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		if (tle->ressortgroupref != 0 && list_member_int(cx->keyrefs, (int) tle->ressortgroupref) &&
			equal(tle->expr, node))
			return (Node *) makeVar(1, col + 1, exprType(node), exprTypmod(node),
									exprCollation(node), 0);
		col++;
	}
	if (IsA(node, Aggref))
	{
		for (int a = 0; a < shape->naggs; a++)
			if (equal(shape->aggs[a].aggref, node))
				return (Node *) makeVar(1, shape->aggs[a].col >= 0
										? shape->aggs[a].col + 1 : HiddenAggAttno(shape, a),
										exprType(node), exprTypmod(node), exprCollation(node), 0);
		elog(ERROR, "ivm: an aggregate call of a computed column was not collected");
	}
	if (IsA(node, Var) || IsA(node, SubLink) || IsA(node, WindowFunc))
	{
		cx->why = "the select list computes an expression over a column that is neither grouped nor aggregated";
		return node;
	}
	return expression_tree_mutator(node, ComputedMutator, cx);
}

/*
 * ComputedColumns
 *		Work out the computed columns (the target entries in computed):
 *		their aggregate calls become hidden aggregates, their expressions
 *		are rewritten over the storage row.  NULL, or why they cannot be.
 */
static const char *
ComputedColumns(IvmShape *shape, Query *query, List *keyrefs, List *computed)
{
	ComputedContext cx = {shape, query, keyrefs, NULL};
	ListCell   *lc;

	if (computed == NIL)
		return NULL;
	foreach(lc, computed)
		(void) HiddenAggsWalker((Node *) lfirst_node(TargetEntry, lc)->expr, &cx);
	if (cx.why != NULL)
		return cx.why;
	shape->colexpr = palloc0(sizeof(Expr *) * shape->nvisible);
	foreach(lc, computed)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		shape->colexpr[tle->resno - 1] = (Expr *) ComputedMutator((Node *) tle->expr, &cx);
		if (cx.why != NULL)
			return cx.why;
	}
	shape->computed = true;
	return NULL;
}

/*
 * HavingColumn
 *		HAVING, as a computed hidden column __ivm_pass after all the others:
 *		its aggregate calls become hidden aggregates, its expression is
 *		rewritten over the storage row.  The storage keeps every group; the
 *		view shows those that pass.  NULL, or why it cannot be.
 */
static const char *
HavingColumn(IvmShape *shape, Query *query, List *keyrefs)
{
	ComputedContext cx = {shape, query, keyrefs, NULL};

	(void) HiddenAggsWalker(query->havingQual, &cx);
	if (cx.why != NULL)
		return cx.why;
	shape->having = (Expr *) ComputedMutator(query->havingQual, &cx);
	if (cx.why != NULL)
		return cx.why;
	if (shape->colexpr == NULL)
		shape->colexpr = palloc0(sizeof(Expr *) * shape->nvisible);
	shape->computed = true;
	shape->passattno = HiddenAggAttno(shape, shape->naggs);
	return NULL;
}

/*
 * IvmAggColumns
 *		The role of each column of an aggregate's query: a key (keyrefs: the
 *		grouping references), an aggregate call (CheckAgg), or computed from
 *		them (ComputedColumns); and HAVING as a hidden column.  NULL, or why
 *		they have no delta rules.
 */
const char *
IvmAggColumns(IvmShape *shape, Query *query, List *keyrefs, bool distinct)
{
	int			col = 0;
	List	   *computed = NIL;
	const char *why = NULL;
	ListCell   *lc;

	shape->aggs = palloc0(sizeof(IvmAgg) * (shape->nvisible + CountAggrefs((Node *) query->targetList) + 1));
	shape->colrole = palloc0(sizeof(int) * Max(shape->nvisible, 1));
	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		if (tle->ressortgroupref != 0 && list_member_int(keyrefs, (int) tle->ressortgroupref))
		{
			why = CheckKeyType(exprType((Node *) tle->expr), exprCollation((Node *) tle->expr));
			shape->colrole[col] = -1 - shape->nkeys;
			shape->keycols = lappend_int(shape->keycols, col);
			shape->nkeys++;
		}
		else if (IsA(tle->expr, Aggref))
		{
			IvmAgg	   *agg = &shape->aggs[shape->naggs];

			why = CheckAgg((Aggref *) tle->expr, agg);
			agg->col = col;
			agg->aggref = tle->expr;
			shape->colrole[col] = 1 + shape->naggs;
			shape->naggs++;
		}
		else if (distinct)
			why = "the select list computes an expression over grouped values (only grouping columns and plain aggregate calls have delta rules)";
		else
		{
			/* computed from the keys and aggregates, once those are known */
			shape->colrole[col] = 0;
			computed = lappend(computed, tle);
		}
		if (why != NULL)
			return why;
		col++;
	}

	why = ComputedColumns(shape, query, keyrefs, computed);
	if (why == NULL && query->havingQual != NULL)
		why = HavingColumn(shape, query, keyrefs);
	return why;
}

/*
 * IvmAggPart
 *		The part of an aggregate's query under the aggregation, as an SPJ
 *		query (HAVING is above it): the keys first, in column order, then
 *		the aggregates' arguments, as columns __ivm_c<n> (each aggregate's
 *		first in its argcol).
 */
Query *
IvmAggPart(IvmShape *shape, Query *query)
{
	Query	   *pre = copyObject(query);
	List	   *tlist = NIL;
	int			resno = 0;
	ListCell   *lc2;
	ListCell   *lc;

	/* keys first, in column order, then the aggregates' arguments */
	foreach(lc2, shape->keycols)
	{
		TargetEntry *tle = list_nth_node(TargetEntry, query->targetList, 0);
		int			seen = -1;

		foreach(lc, query->targetList)
		{
			tle = lfirst_node(TargetEntry, lc);
			if (!tle->resjunk && ++seen == lfirst_int(lc2))
				break;
		}
		resno++;
		tlist = lappend(tlist, makeTargetEntry(copyObject(tle->expr), resno,
											   psprintf("__ivm_c%d", resno), false));
	}
	for (int a = 0; a < shape->naggs; a++)
	{
		List	   *args = shape->aggs[a].arg != NULL
			? list_make1(shape->aggs[a].arg) : shape->aggs[a].args;

		shape->aggs[a].argcol = resno + 1;
		foreach(lc, args)
		{
			resno++;
			tlist = lappend(tlist, makeTargetEntry(copyObject(lfirst(lc)), resno,
												   psprintf("__ivm_c%d", resno), false));
		}
	}
	if (tlist == NIL)	/* SELECT count(*) FROM t */
		tlist = list_make1(makeTargetEntry((Expr *) makeConst(INT4OID, -1, InvalidOid, 4,
															  Int32GetDatum(1), false, true),
										   1, "__ivm_c1", false));
	pre->targetList = tlist;
	pre->groupClause = NIL;
	pre->distinctClause = NIL;
	pre->sortClause = NIL;
	pre->hasAggs = false;
	pre->havingQual = NULL;
	return pre;
}

/*
 * IvmShapeHiddenColumns
 *		The hidden storage columns of a shape, as "name type" pairs in order,
 *		for CREATE TABLE; NULL for DIFF.
 */
List *
IvmShapeHiddenColumns(IvmShape *shape)
{
	List	   *cols = NIL;

	if (shape->kind == IVM_KIND_SPJ || shape->kind == IVM_KIND_RECURSIVE)
		return list_make1(pstrdup(IVM_HASH_COLUMN " bigint NOT NULL"));
	if (shape->kind != IVM_KIND_AGG)
		return NIL;
	cols = lappend(cols, pstrdup(IVM_COUNT_COLUMN " bigint NOT NULL"));
	cols = lappend(cols, pstrdup(IVM_KEY_COLUMN " bigint NOT NULL"));
	for (int a = 0; a < shape->naggs; a++)
	{
		IvmAgg	   *agg = &shape->aggs[a];

		/* an aggregate only a computed column uses: its value (HiddenAggAttno) */
		if (agg->col < 0)
		{
			Oid			type = exprType((Node *) agg->aggref);
			Oid			coll = exprCollation((Node *) agg->aggref);
			char	   *def = psprintf("__ivm_a_%d %s", a + 1,
									   format_type_with_typemod(type, exprTypmod((Node *) agg->aggref)));

			if (OidIsValid(coll) && coll != get_typcollation(type))
				def = psprintf("%s COLLATE %s", def, generate_collation_name(coll));
			cols = lappend(cols, def);
		}
		if (agg->kind == IVM_AGG_SUM || agg->kind == IVM_AGG_AVG)
			cols = lappend(cols, psprintf("__ivm_nn_%d bigint NOT NULL", a + 1));
		if (agg->kind == IVM_AGG_AVG || agg->numeric_inputs)
			cols = lappend(cols, psprintf("__ivm_s_%d numeric", a + 1));
		if (agg->numeric_inputs)
			cols = lappend(cols, psprintf("__ivm_nc_%d bigint[] NOT NULL", a + 1));
	}
	if (shape->having != NULL)
		cols = lappend(cols, pstrdup("__ivm_pass boolean NOT NULL"));
	return cols;
}

/* ------------------------------------------------------------------------
 * SQL: the whole storage, and a delta folded into it
 * ------------------------------------------------------------------------
 */

/* "t.__ivm_c1, t.__ivm_c2, ..." */
static void
AppendCols(StringInfo buf, const char *alias, int first, int n)
{
	for (int i = 0; i < n; i++)
		appendStringInfo(buf, "%s%s.__ivm_c%d", i == 0 ? "" : ", ", alias, first + i);
}

/* SQL: the numeric expression e is finite (not NaN, not infinite) */
#define NUMERIC_FINITE(e) e " NOT IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)"

/* the SQL type of a hidden running sum */
static const char *
SumTypeName(IvmAgg *agg)
{
	return agg->sumtype == INT8OID ? "int8" : "numeric";
}

/* SQL: aggregate agg called over the SPJ part's columns (alias p) */
static char *
AggCallSql(IvmAgg *agg)
{
	switch (agg->kind)
	{
		case IVM_AGG_COUNT_STAR:
			return "count(*)";
		case IVM_AGG_COUNT:
			return psprintf("count(p.__ivm_c%d)", agg->argcol);
		case IVM_AGG_SUM:
			return psprintf("sum(p.__ivm_c%d)", agg->argcol);
		case IVM_AGG_AVG:
			return psprintf("avg(p.__ivm_c%d)", agg->argcol);
		case IVM_AGG_MIN:
		case IVM_AGG_MAX:
			return psprintf("%s(p.__ivm_c%d)", agg->fname, agg->argcol);
		case IVM_AGG_RECOMPUTE:
			return RecomputedCallSql(agg);
	}
	return NULL;				/* keep the compiler quiet */
}

/*
 * AppendStorageRows
 *		SELECT lead (SQL, may be NULL), then the storage rows whose columns
 *		are cols (SQL, in storage order; NULL for a computed column), then
 *		the columns of tail (SQL, may be NIL), from the rest of a statement
 *		(from: " FROM ...").
 *		Without computed columns, one SELECT.  With them, the other columns
 *		are named as the storage's in a subquery m, and each computed
 *		column is its expression over m, deparsed.
 */
static void
AppendStorageRows(StringInfo buf, IvmShape *shape, Oid storage_rel, const char *lead,
				  List *cols, List *tail, const char *from)
{
	ListCell   *lc;
	List	   *context;
	int			attno = 0;

	if (!shape->computed)
	{
		appendStringInfoString(buf, "SELECT ");
		if (lead != NULL)
			appendStringInfo(buf, "%s, ", lead);
		foreach(lc, cols)
			appendStringInfo(buf, "%s%s", lc == list_head(cols) ? "" : ", ", (char *) lfirst(lc));
		foreach(lc, tail)
			appendStringInfo(buf, ", %s", (char *) lfirst(lc));
		appendStringInfoString(buf, from);
		return;
	}

	context = deparse_context_for("m", storage_rel);
	appendStringInfoString(buf, "SELECT ");
	if (lead != NULL)
		appendStringInfoString(buf, "m.__ivm_lead, ");
	foreach(lc, cols)
	{
		attno++;
		if (attno > 1)
			appendStringInfoString(buf, ", ");
		if (lfirst(lc) != NULL)
			appendStringInfo(buf, "m.%s", quote_identifier(get_attname(storage_rel, attno, false)));
		else
		{
			bool		pass = (attno == shape->passattno);
			char	   *expr = deparse_expression((Node *) (pass ? shape->having : shape->colexpr[attno - 1]),
												  context, true, false);

			/* a group that goes: no value to work out (a division by its count...) */
			if (!shape->scalar)
				expr = psprintf("CASE WHEN m.%s = 0 THEN NULL ELSE %s END", IVM_COUNT_COLUMN, expr);
			if (pass)
				expr = psprintf("coalesce(%s, false)", expr);
			appendStringInfoString(buf, expr);
		}
	}
	for (int t = 1; t <= list_length(tail); t++)
		appendStringInfo(buf, ", m.__ivm_t%d", t);
	appendStringInfoString(buf, " FROM (SELECT ");
	if (lead != NULL)
		appendStringInfo(buf, "%s AS __ivm_lead, ", lead);
	attno = 0;
	foreach(lc, cols)
	{
		attno++;
		if (lfirst(lc) == NULL)
			appendStringInfoString(buf, "NULL");
		else
			appendStringInfo(buf, "%s AS %s", (char *) lfirst(lc),
							 quote_identifier(get_attname(storage_rel, attno, false)));
		if (lnext(cols, lc) != NULL || tail != NIL)
			appendStringInfoString(buf, ", ");
	}
	attno = 0;
	foreach(lc, tail)
	{
		attno++;
		appendStringInfo(buf, "%s AS __ivm_t%d%s", (char *) lfirst(lc), attno,
						 lnext(tail, lc) != NULL ? ", " : "");
	}
	appendStringInfo(buf, "%s) m", from);
}

/*
 * IvmAggFullSql
 *		The query computing an AGG shape's whole storage, hidden columns
 *		included: the aggregates over the SPJ part's current rows, then the
 *		bookkeeping.
 */
char *
IvmAggFullSql(IvmShape *shape, Oid storage_rel)
{
	StringInfoData buf;
	StringInfoData from;
	List	   *cols;

	initStringInfo(&buf);
	cols = NIL;
	for (int col = 0; col < shape->nvisible; col++)
	{
		int			role = shape->colrole[col];

		if (role < 0)
			cols = lappend(cols, psprintf("p.__ivm_c%d", -role));
		else if (role > 0)
			cols = lappend(cols, AggCallSql(&shape->aggs[role - 1]));
		else
			cols = lappend(cols, NULL);	/* computed, outside */
	}
	cols = lappend(cols, "count(*)::int8");
	if (shape->scalar)
		cols = lappend(cols, "0::int8");
	else
	{
		StringInfoData key;

		initStringInfo(&key);
		appendStringInfoString(&key, "ivm.key_hash(");
		AppendCols(&key, "p", 1, shape->nkeys);
		appendStringInfoChar(&key, ')');
		cols = lappend(cols, key.data);
	}
	for (int a = 0; a < shape->naggs; a++)
	{
		IvmAgg	   *agg = &shape->aggs[a];

		if (agg->col < 0)
			cols = lappend(cols, AggCallSql(agg));
		if (agg->kind == IVM_AGG_SUM || agg->kind == IVM_AGG_AVG)
			cols = lappend(cols, psprintf("count(p.__ivm_c%d)::int8", agg->argcol));
		if (agg->numeric_inputs)
		{
			cols = lappend(cols, psprintf("CASE WHEN count(p.__ivm_c%d) = 0 THEN NULL "
										  "ELSE coalesce(sum(p.__ivm_c%d) FILTER (WHERE " NUMERIC_FINITE("p.__ivm_c%d") "), 0) END",
										  agg->argcol, agg->argcol, agg->argcol));
			cols = lappend(cols, psprintf("ivm.numeric_counts(p.__ivm_c%d, 1::int8)", agg->argcol));
		}
		else if (agg->kind == IVM_AGG_AVG)
			cols = lappend(cols, psprintf("sum(p.__ivm_c%d)::numeric", agg->argcol));
	}
	if (shape->having != NULL)
		cols = lappend(cols, NULL);	/* HAVING, computed outside */
	initStringInfo(&from);
	appendStringInfo(&from, " FROM (%s) p", IvmPartNewSql(shape));
	if (!shape->scalar)
	{
		appendStringInfoString(&from, " GROUP BY ");
		AppendCols(&from, "p", 1, shape->nkeys);
	}
	AppendStorageRows(&buf, shape, storage_rel, NULL, cols, NIL, from.data);
	return buf.data;
}

/* the counts of the inputs of aggregate a (1-based) by kind after the delta */
static void
AppendNumericCounts(StringInfo buf, int a)
{
	appendStringInfo(buf, "ivm.numeric_counts_add(coalesce(s.__ivm_nc_%d, '{}'::int8[]), d.dh%d)", a, a);
}

/*
 * AppendRunningSum
 *		The running sum of aggregate a (1-based) after the delta: stored
 *		(the expression stored, NULL for a new group) plus the delta's sum.
 *		For numeric inputs, the sum of the finite ones, kept rounded to
 *		their largest display scale so that it is stored as a recompute
 *		would store it.
 */
static void
AppendRunningSum(StringInfo buf, IvmAgg *agg, int a, const char *stored)
{
	if (!agg->numeric_inputs)
	{
		appendStringInfo(buf, "coalesce(%s, 0) + coalesce(d.ds%d, 0)", stored, a);
		return;
	}
	appendStringInfo(buf, "ivm.numeric_finite_sum(coalesce(%s, 0) + coalesce(d.ds%d, 0), ", stored, a);
	AppendNumericCounts(buf, a);
	appendStringInfoChar(buf, ')');
}

/*
 * AggNewSql
 *		SQL: the value of aggregate agg (a: 1-based) after the delta, the
 *		stored value being the expression stored (NULL for a new group); a
 *		min/max is read again (r.m<a>) when the group may have lost its
 *		value (lost, RetractedSql).
 */
static char *
AggNewSql(IvmAgg *agg, int a, const char *stored, const char *lost)
{
	StringInfoData buf;

	initStringInfo(&buf);
	switch (agg->kind)
	{
		case IVM_AGG_COUNT_STAR:
			appendStringInfo(&buf, "coalesce(%s, 0) + d.dc", stored);
			break;
		case IVM_AGG_COUNT:
			appendStringInfo(&buf, "coalesce(%s, 0) + d.dn%d", stored, a);
			break;
		case IVM_AGG_SUM:
			appendStringInfo(&buf, "CASE WHEN coalesce(s.__ivm_nn_%d, 0) + d.dn%d = 0 THEN NULL ELSE ",
							 a, a);
			if (agg->numeric_inputs)
			{
				appendStringInfo(&buf, "ivm.numeric_sum_of(coalesce(s.__ivm_s_%d, 0) + coalesce(d.ds%d, 0), ",
								 a, a);
				AppendNumericCounts(&buf, a);
				appendStringInfoChar(&buf, ')');
			}
			else
				AppendRunningSum(&buf, agg, a, stored);
			appendStringInfoString(&buf, " END");
			break;
		case IVM_AGG_AVG:
			appendStringInfo(&buf, "CASE WHEN coalesce(s.__ivm_nn_%d, 0) + d.dn%d = 0 THEN NULL ELSE ",
							 a, a);
			if (agg->numeric_inputs)
			{
				appendStringInfo(&buf, "ivm.numeric_avg_of(coalesce(s.__ivm_s_%d, 0) + coalesce(d.ds%d, 0), "
								 "coalesce(s.__ivm_nn_%d, 0) + d.dn%d, ",
								 a, a, a, a);
				AppendNumericCounts(&buf, a);
				appendStringInfoChar(&buf, ')');
			}
			else
			{
				appendStringInfoChar(&buf, '(');
				AppendRunningSum(&buf, agg, a, psprintf("s.__ivm_s_%d", a));
				appendStringInfo(&buf, ") / (coalesce(s.__ivm_nn_%d, 0) + d.dn%d)::numeric", a, a);
			}
			appendStringInfoString(&buf, " END");
			break;
		case IVM_AGG_MIN:
		case IVM_AGG_MAX:
			appendStringInfo(&buf, "CASE WHEN %s THEN r.m%d WHEN s.ctid IS NULL THEN d.dm%d "
							 "ELSE %s(%s, d.dm%d) END",
							 lost, a, a, agg->kind == IVM_AGG_MIN ? "least" : "greatest", stored, a);
			break;
		case IVM_AGG_RECOMPUTE:
			appendStringInfo(&buf, "r.m%d", a);
			break;
	}
	return buf.data;
}

/*
 * AppendDeltaPerGroup
 *		IvmMergeSql's CTE d: the delta (delta_sql) summed per group, each
 *		aggregate's part of it (dc, dn<a>, ds<a>, dm<a>, dh<a>; for min/max
 *		dr<a>, the least/greatest value it retracts), and with any_recompute
 *		whether the group lost an input of min/max (rt).
 */
static void
AppendDeltaPerGroup(StringInfo buf, IvmShape *shape, const char *delta_sql, bool any_recompute)
{
	appendStringInfoString(buf, "WITH d AS (SELECT ");
	for (int k = 1; k <= shape->nkeys; k++)
		appendStringInfo(buf, "x.__ivm_c%d, ", k);
	appendStringInfoString(buf, "coalesce(sum(x.__ivm_weight), 0)::int8 AS dc");
	for (int a = 0; a < shape->naggs; a++)
	{
		IvmAgg	   *agg = &shape->aggs[a];

		if (agg->kind == IVM_AGG_COUNT || agg->kind == IVM_AGG_SUM || agg->kind == IVM_AGG_AVG)
			appendStringInfo(buf, ", coalesce(sum(x.__ivm_weight) FILTER (WHERE x.__ivm_c%d IS NOT NULL), 0)::int8 AS dn%d",
							 agg->argcol, a + 1);
		if (agg->numeric_inputs)
			appendStringInfo(buf, ", sum(x.__ivm_weight::numeric * x.__ivm_c%d) "
							 "FILTER (WHERE " NUMERIC_FINITE("x.__ivm_c%d") ") AS ds%d",
							 agg->argcol, agg->argcol, a + 1);
		else if (agg->kind == IVM_AGG_SUM)
			appendStringInfo(buf, ", sum(x.__ivm_weight::%s * x.__ivm_c%d::%s)::%s AS ds%d",
							 SumTypeName(agg), agg->argcol, SumTypeName(agg), SumTypeName(agg), a + 1);
		else if (agg->kind == IVM_AGG_AVG)
			appendStringInfo(buf, ", sum(x.__ivm_weight::numeric * x.__ivm_c%d::numeric) AS ds%d",
							 agg->argcol, a + 1);
		if (agg->kind == IVM_AGG_MIN || agg->kind == IVM_AGG_MAX)
			appendStringInfo(buf, ", %s(x.__ivm_c%d) FILTER (WHERE x.__ivm_weight > 0) AS dm%d"
							 ", %s(x.__ivm_c%d) FILTER (WHERE x.__ivm_weight < 0) AS dr%d",
							 agg->fname, agg->argcol, a + 1, agg->fname, agg->argcol, a + 1);
		if (agg->numeric_inputs)
			appendStringInfo(buf, ", ivm.numeric_counts(x.__ivm_c%d, x.__ivm_weight::int8) AS dh%d",
							 agg->argcol, a + 1);
	}
	if (any_recompute)
	{
		bool		first = true;

		appendStringInfoString(buf, ", coalesce(bool_or(x.__ivm_weight < 0 AND (");
		for (int a = 0; a < shape->naggs; a++)
			if (shape->aggs[a].recompute_on_retract)
			{
				appendStringInfo(buf, "%sx.__ivm_c%d IS NOT NULL", first ? "" : " OR ",
								 shape->aggs[a].argcol);
				first = false;
			}
		appendStringInfoString(buf, ")), false) AS rt");
	}
	appendStringInfo(buf, " FROM (%s) x", delta_sql);
	if (!shape->scalar)
	{
		appendStringInfoString(buf, " GROUP BY ");
		AppendCols(buf, "x", 1, shape->nkeys);
	}
	appendStringInfoString(buf, ")\n");
}

/*
 * RetractedSql
 *		SQL over d and the stored row s: the group may have lost the value of
 *		one of its min/max aggregates, so they are read again from the
 *		sources.  A retracted input that sorts strictly after a min's stored
 *		value (before a max's), by the aggregate's own sort operator, takes
 *		nothing from it; one equal to it may take the last copy.  A new group
 *		that lost an input within the tick is read again too (its d.dm<a>
 *		counts what it lost).  storage_colnames names the storage's columns.
 */
static char *
RetractedSql(IvmShape *shape, List *storage_colnames)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "(d.rt AND (s.ctid IS NULL");
	for (int a = 0; a < shape->naggs; a++)
	{
		IvmAgg	   *agg = &shape->aggs[a];
		HeapTuple	tup;
		Oid			sortop = InvalidOid;
		char	   *stored;

		if (!agg->recompute_on_retract)
			continue;
		tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(((Aggref *) agg->aggref)->aggfnoid));
		if (HeapTupleIsValid(tup))
		{
			sortop = ((Form_pg_aggregate) GETSTRUCT(tup))->aggsortop;
			ReleaseSysCache(tup);
		}
		stored = agg->col >= 0
			? psprintf("s.%s", quote_identifier(strVal(list_nth(storage_colnames, agg->col))))
			: psprintf("s.__ivm_a_%d", a + 1);
		if (OidIsValid(sortop))
			appendStringInfo(&buf, " OR (d.dr%d IS NOT NULL AND coalesce(NOT (%s %s d.dr%d), true))",
							 a + 1, stored, IvmOperatorSql(sortop), a + 1);
		else
			appendStringInfo(&buf, " OR d.dr%d IS NOT NULL", a + 1);
	}
	appendStringInfoString(&buf, "))");
	return buf.data;
}

/* SQL: "OPERATOR(schema.=)", the equality of key k (1-based): GROUP BY's */
static char *
KeyEqSql(IvmShape *shape, int k)
{
	Oid			type = list_nth_oid(shape->types, list_nth_int(shape->keycols, k - 1));
	TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_EQ_OPR);

	if (!OidIsValid(tc->eq_opr))
		elog(ERROR, "ivm: no equality operator for type %s", format_type_be(type));
	return IvmOperatorSql(tc->eq_opr);
}

/*
 * AppendKeyMatch
 *		SQL: the key of a (alias) is the key of b, GROUP BY's way: their
 *		hashes equal (what a hash join joins on) and each column equal by
 *		its type's equality or both NULL (1.0 and 1.00 are one key, and
 *		keys whose hashes collide stay apart).
 */
static void
AppendKeyMatch(StringInfo buf, IvmShape *shape, const char *a, const char *b)
{
	appendStringInfoString(buf, "ivm.key_hash(");
	AppendCols(buf, a, 1, shape->nkeys);
	appendStringInfoString(buf, ") OPERATOR(pg_catalog.=) ivm.key_hash(");
	AppendCols(buf, b, 1, shape->nkeys);
	appendStringInfoChar(buf, ')');
	for (int k = 1; k <= shape->nkeys; k++)
		appendStringInfo(buf, " AND (%s.__ivm_c%d %s %s.__ivm_c%d OR (%s.__ivm_c%d IS NULL AND %s.__ivm_c%d IS NULL))",
						 a, k, KeyEqSql(shape, k), b, k, a, k, b, k);
}

/* SQL: "(alias.__ivm_c1 IS NULL OR alias.__ivm_c2 IS NULL ...)": a key column is NULL */
static void
AppendSomeKeyNull(StringInfo buf, IvmShape *shape, const char *alias)
{
	appendStringInfoChar(buf, '(');
	for (int k = 1; k <= shape->nkeys; k++)
		appendStringInfo(buf, "%s%s.__ivm_c%d IS NULL", k == 1 ? "" : " OR ", alias, k);
	appendStringInfoChar(buf, ')');
}

/*
 * AppendReread
 *		IvmMergeSql's re-read of groups from the sources, joined to d as r
 *		(the keys, then m<a> per aggregate read again): the groups whose keys
 *		src lists (k: those that may have lost a min/max; d: every touched
 *		group, when an aggregate has no running form).
 *
 *		All of them in one pass over the sources, never a probe or a scan per
 *		group, in one of two forms, chosen when the statement runs by one-time
 *		filters over how many groups are to be read against how many the
 *		view holds (storage_rel: its storage, or a shard's partition of it):
 *		- a few (at most a quarter): the SPJ part semi-joined with their keys,
 *		  then aggregated.  The semi-join is by "=" on the key columns, the
 *		  types' equality, as GROUP BY's (1.0 and 1.00 are one group), which
 *		  PostgreSQL runs as a hash join against one scan of the sources or,
 *		  for few keys and an index on them, as a nested loop over the index.
 *		  No NULL key matches "=": the groups with a NULL key column are read
 *		  by a second branch, which runs only when such a group is to be read
 *		  (its uncorrelated EXISTS is a one-time filter too) and then matches
 *		  keys by their hash and IS NOT DISTINCT FROM;
 *		- more: every group aggregated, as the view's query does, and the
 *		  ones to read kept by the join to d.  Filtering each row first costs
 *		  as much as aggregating it when most groups are to be read.
 *		r is matched to d by key hash and IS NOT DISTINCT FROM.
 */
static void
AppendReread(StringInfo buf, IvmShape *shape, Oid storage_rel, const char *src)
{
	char	   *part = IvmPartNewSql(shape);
	StringInfoData calls;
	StringInfoData few;

	initStringInfo(&calls);
	for (int a = 0; a < shape->naggs; a++)
	{
		IvmAgg	   *agg = &shape->aggs[a];

		if (agg->recompute_on_retract || agg->kind == IVM_AGG_RECOMPUTE)
			appendStringInfo(&calls, "%s%s AS m%d", calls.len > 0 ? ", " : "", AggCallSql(agg), a + 1);
	}

	if (shape->scalar)
	{
		/* one group: every row, when it is to be read */
		appendStringInfo(buf, "\nLEFT JOIN (SELECT %s FROM (%s) p WHERE EXISTS (SELECT FROM %s)) r ON true",
						 calls.data, part, src);
		return;
	}

	/*
	 * few: the groups to read are at most a quarter of those the view holds
	 * (ivm._views.rows, as of the last tick; for a shard's partition, its
	 * share of them; unknown counts as many).
	 */
	initStringInfo(&few);
	appendStringInfo(&few, "(SELECT pg_catalog.count(*) FROM %s)::pg_catalog.float8 OPERATOR(pg_catalog.*) 4 "
					 "OPERATOR(pg_catalog.<=) coalesce("
					 "(SELECT v.rows::pg_catalog.float8 FROM ivm._views v "
					 "WHERE v.storagerel::pg_catalog.oid OPERATOR(pg_catalog.=) %u::pg_catalog.oid), "
					 "(SELECT v.rows::pg_catalog.float8 OPERATOR(pg_catalog./) (SELECT pg_catalog.count(*) "
					 "FROM pg_catalog.pg_inherits j WHERE j.inhparent OPERATOR(pg_catalog.=) i.inhparent) "
					 "FROM pg_catalog.pg_inherits i JOIN ivm._views v "
					 "ON v.storagerel::pg_catalog.oid OPERATOR(pg_catalog.=) i.inhparent "
					 "WHERE i.inhrelid OPERATOR(pg_catalog.=) %u::pg_catalog.oid), "
					 "'Infinity'::pg_catalog.float8)",
					 src, storage_rel, storage_rel);

	/* a few groups, their key columns all non-null (none: nothing read) */
	appendStringInfoString(buf, "\nLEFT JOIN (SELECT ");
	AppendCols(buf, "p", 1, shape->nkeys);
	appendStringInfo(buf, ", %s FROM (%s) p WHERE %s AND EXISTS (SELECT FROM %s) AND EXISTS (SELECT FROM %s WHERE ",
					 calls.data, part, few.data, src, src);
	for (int k = 1; k <= shape->nkeys; k++)
		appendStringInfo(buf, "%sp.__ivm_c%d %s %s.__ivm_c%d", k == 1 ? "" : " AND ", k,
						 KeyEqSql(shape, k), src, k);
	appendStringInfoString(buf, ") GROUP BY ");
	AppendCols(buf, "p", 1, shape->nkeys);

	/* a few groups, with a NULL key column, when one is to be read */
	appendStringInfoString(buf, "\nUNION ALL SELECT ");
	AppendCols(buf, "p", 1, shape->nkeys);
	appendStringInfo(buf, ", %s FROM (%s) p WHERE %s AND ", calls.data, part, few.data);
	AppendSomeKeyNull(buf, shape, "p");
	appendStringInfo(buf, " AND EXISTS (SELECT FROM %s WHERE ", src);
	AppendSomeKeyNull(buf, shape, src);
	appendStringInfoChar(buf, ')');
	if (shape->nkeys > 1)
	{
		/* which ones: a key with a NULL column is matched by its hash */
		appendStringInfo(buf, " AND EXISTS (SELECT FROM %s WHERE ", src);
		AppendKeyMatch(buf, shape, src, "p");
		appendStringInfoChar(buf, ')');
	}
	appendStringInfoString(buf, " GROUP BY ");
	AppendCols(buf, "p", 1, shape->nkeys);

	/* more: every group */
	appendStringInfoString(buf, "\nUNION ALL SELECT ");
	AppendCols(buf, "p", 1, shape->nkeys);
	appendStringInfo(buf, ", %s FROM (%s) p WHERE NOT %s GROUP BY ", calls.data, part, few.data);
	AppendCols(buf, "p", 1, shape->nkeys);

	appendStringInfoString(buf, ") r ON ");
	AppendKeyMatch(buf, shape, "r", "d");
}

/*
 * IvmMergeSql
 *		For an AGG view: fold the delta (delta_sql, columns __ivm_c.. and
 *		__ivm_weight) into the stored groups.  Returns one row per touched
 *		group: the stored row's ctid (NULL for a new group), the group's new
 *		storage row (every column, hidden ones included), then the stored
 *		row as it was (NULLs for a new group).
 */
char *
IvmMergeSql(IvmShape *shape, const char *delta_sql, Oid storage_rel, const char *storage_name,
			List *storage_colnames)
{
	StringInfoData buf;
	StringInfoData from;
	List	   *cols;
	List	   *tail = NIL;
	bool		any_recompute = false;	/* a group losing an input is recomputed */
	bool		any_touched = false;	/* every touched group is recomputed */
	const char *lost = "false";	/* the group may have lost a min/max */
	StringInfoData join;

#define SCOL(i) quote_identifier(strVal(list_nth(storage_colnames, (i))))

	for (int a = 0; a < shape->naggs; a++)
	{
		if (shape->aggs[a].recompute_on_retract)
			any_recompute = true;
		if (shape->aggs[a].kind == IVM_AGG_RECOMPUTE)
			any_touched = true;
	}

	/* the stored row of a group of d */
	initStringInfo(&join);
	appendStringInfo(&join, "LEFT JOIN %s s ON ", storage_name);
	if (shape->scalar)
		appendStringInfoString(&join, "true");
	else
	{
		/*
		 * The key hash finds the candidates (through the index); the key
		 * columns decide, by the types' equality as GROUP BY does (1.0 and
		 * 1.00 are one group), so groups whose key hashes collide stay apart.
		 */
		appendStringInfoString(&join, "s." IVM_KEY_COLUMN " OPERATOR(pg_catalog.=) ivm.key_hash(");
		AppendCols(&join, "d", 1, shape->nkeys);
		appendStringInfoChar(&join, ')');
		for (int k = 0; k < shape->nkeys; k++)
		{
			const char *scol = SCOL(list_nth_int(shape->keycols, k));

			/* the type's own equality, whatever search_path finds (citext's) */
			appendStringInfo(&join, " AND (s.%s %s d.__ivm_c%d OR (s.%s IS NULL AND d.__ivm_c%d IS NULL))",
							 scol, KeyEqSql(shape, k + 1), k + 1, scol, k + 1);
		}
	}

	initStringInfo(&buf);
	/* d: the delta per group */
	AppendDeltaPerGroup(&buf, shape, delta_sql, any_recompute);
	if (any_recompute)
		lost = RetractedSql(shape, storage_colnames);
	if (any_recompute && !any_touched)
	{
		/* k: the keys of the groups that may have lost a min/max */
		appendStringInfoString(&buf, ", k AS (SELECT ");
		if (shape->scalar)
			appendStringInfoString(&buf, "1 AS one");
		else
			AppendCols(&buf, "d", 1, shape->nkeys);
		appendStringInfo(&buf, " FROM d %s WHERE %s)\n", join.data, lost);
	}

	/* the new row of each touched group */
	cols = NIL;
	for (int col = 0; col < shape->nvisible; col++)
	{
		int			role = shape->colrole[col];

		if (role < 0)
		{
			/* keep the stored key: equal keys can differ in their bytes */
			cols = lappend(cols, psprintf("CASE WHEN s.ctid IS NULL THEN d.__ivm_c%d ELSE s.%s END",
										  -role, SCOL(col)));
		}
		else if (role > 0)
			cols = lappend(cols, AggNewSql(&shape->aggs[role - 1], role, psprintf("s.%s", SCOL(col)), lost));
		else
			cols = lappend(cols, NULL);	/* computed, from the new row */
	}
	cols = lappend(cols, "coalesce(s." IVM_COUNT_COLUMN ", 0) + d.dc");
	if (shape->scalar)
		cols = lappend(cols, "0::int8");
	else
	{
		StringInfoData key;

		initStringInfo(&key);
		appendStringInfoString(&key, "coalesce(s." IVM_KEY_COLUMN ", ivm.key_hash(");
		AppendCols(&key, "d", 1, shape->nkeys);
		appendStringInfoString(&key, "))");
		cols = lappend(cols, key.data);
	}
	for (int a = 0; a < shape->naggs; a++)
	{
		IvmAgg	   *agg = &shape->aggs[a];
		int			role = a + 1;
		StringInfoData col;

		if (agg->col < 0)
			cols = lappend(cols, AggNewSql(agg, role, psprintf("s.__ivm_a_%d", role), lost));
		if (agg->kind == IVM_AGG_SUM || agg->kind == IVM_AGG_AVG)
			cols = lappend(cols, psprintf("coalesce(s.__ivm_nn_%d, 0) + d.dn%d", role, role));
		if (agg->kind == IVM_AGG_AVG || agg->numeric_inputs)
		{
			initStringInfo(&col);
			appendStringInfo(&col, "CASE WHEN coalesce(s.__ivm_nn_%d, 0) + d.dn%d = 0 THEN NULL ELSE ",
							 role, role);
			AppendRunningSum(&col, agg, role, psprintf("s.__ivm_s_%d", role));
			appendStringInfoString(&col, " END");
			cols = lappend(cols, col.data);
		}
		if (agg->numeric_inputs)
		{
			initStringInfo(&col);
			AppendNumericCounts(&col, role);
			cols = lappend(cols, col.data);
		}
	}
	if (shape->having != NULL)
		cols = lappend(cols, NULL);	/* HAVING, from the new row */
	/* then the stored row as it was */
	if (shape->computed)
		for (int i = 0; i < list_length(storage_colnames); i++)
			tail = lappend(tail, psprintf("s.%s", SCOL(i)));
	else
		tail = list_make1("s.*");

	initStringInfo(&from);
	appendStringInfo(&from, "\nFROM d %s", join.data);

	/*
	 * Again from the sources: the groups that lost an input of min/max, and
	 * every touched group when an aggregate has no running form.
	 */
	if (any_recompute || any_touched)
		AppendReread(&from, shape, storage_rel, any_touched ? "d" : "k");
	AppendStorageRows(&buf, shape, storage_rel, "s.ctid", cols, tail, from.data);
#undef SCOL
	return buf.data;
}
