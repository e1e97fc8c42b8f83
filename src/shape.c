/*-------------------------------------------------------------------------
 *
 * shape.c
 *		Which views delta rules can maintain, and the SQL of those rules.
 *
 * A view's query is read as one of three shapes:
 *	SPJ		filters, projections and inner joins of tables and incremental
 *			views, with semi and anti joins (EXISTS, IN, NOT EXISTS, NOT IN
 *			conditions of the WHERE clause: semi.c), or a UNION ALL of such
 *			branches; an outer join is such a UNION ALL of an inner join and
 *			anti joins (outer.c), and a subquery in FROM that has delta rules
 *			of its own is a hidden view read as a relation (HideSubqueries).
 *			Storage holds the rows
 *			plus a hidden row hash (indexed) to find the candidates for the
 *			copies a negative weight removes; their columns decide (incr.c).
 *	AGG		an SPJ part (its branches, for an outer join) under GROUP BY
 *			(or none) with count(*), count(x),
 *			sum, avg, min, max, bool_and, bool_or (each maybe with FILTER);
 *			any other aggregate of pg_catalog, recomputed for the groups a
 *			delta touches; or SELECT DISTINCT (a GROUP BY of every column
 *			with no aggregate).  Storage holds one row per group with
 *			hidden bookkeeping: the group's row count, a hash of its key
 *			(indexed), and per sum/avg the count of non-null inputs and, for
 *			avg, the running sum.  The key hash finds candidate groups; the
 *			key columns decide, with IS NOT DISTINCT FROM (IvmMergeSql).
 *	DIFF	anything else: maintained by re-running the query.
 *
 * The shape is a pure function of the query tree: the tick works it out
 * again from the stored definition and gets the same storage layout.
 * Whether delta rules can run *this tick* (every relation is a captured
 * table or an incremental view, no row security...) is checked separately.
 *
 * Delta rules (DBSP / Z-set): an SPJ branch over relations R1..Rn changes
 * by the sum, over every non-empty subset S of the relations that changed,
 * of (-1)^(|S|+1) times the join with Ri replaced by its delta for i in S
 * and by its current (post-tick) contents otherwise.  That is the rule
 * dA*B_new + A_old*dB with A_old = A_new - dA expanded, so every term reads
 * only current tables and deltas.  Weights multiply.  A delta is read
 * from an ephemeral named relation (ivm_delta_<source>, ivm_vdelta_<view>)
 * that the tick registers; in the query tree the replaced relation becomes
 * a reference to a CTE of that name that the WITH clause does not define,
 * so the deparsed text names the ephemeral relation and nothing else
 * changes.  A term joining three or more relations by WHERE is written
 * as a chain of CROSS JOINs that starts from its delta (FixJoinOrder),
 * which the tick keeps under join_collapse_limit = 1.
 *
 * A semi join is one more factor of a branch's product: a term reads
 * either its condition as written or its delta (semi.c says how).
 *
 * Layer: operators: query trees in, SQL text out.  No SPI; it calls
 * nothing of ivm but the other operators, outer.c, scalar.c, semi.c,
 * topk.c and qtree.c (a caller passes what it must know of the catalog,
 * such as which relations are incremental views).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/tlist.h"
#include "access/sysattr.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/relcache.h"
#include "utils/fmgroids.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "ivm.h"
#include "operators.h"

/*
 * A join's delta has 2^n - 1 terms for n relations that changed in a tick:
 * a join of up to IVM_MAX_RELATIONS relations has delta rules, and a tick
 * where more than IVM_MAX_CHANGED of them changed recomputes it instead.
 */
#define IVM_MAX_RELATIONS 16
#define IVM_MAX_CHANGED 6

static char *
ReasonF(const char *fmt, const char *arg)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, fmt, arg);
	return buf.data;
}

/* Does the query read whole rows or system columns of a relation? */
static bool
OddVarWalker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		return var->varattno <= 0;
	}
	return expression_tree_walker(node, OddVarWalker, context);
}

/*
 * CheckSpj
 *		NULL when q is a select-project-join of relations, else why not.
 *		Collects the relations' range table indexes into *rels.
 */
static const char *
CheckSpj(Query *q, List **rels)
{
	List	   *pending;
	int			rtindex;
	ListCell   *lc;

	*rels = NIL;
	if (q->cteList != NIL)
		return "the query uses WITH";
	if (q->hasSubLinks)
		return "the query uses a subquery expression (EXISTS, IN, a scalar subquery)";
	if (q->hasWindowFuncs)
		return "the query uses a window function";
	if (q->hasTargetSRFs)
		return "the query calls a set-returning function in its select list";
	if (q->limitCount != NULL || q->limitOffset != NULL)
		return "the query uses LIMIT or OFFSET";
	if (q->setOperations != NULL)
		return "the query uses a set operation other than UNION ALL";
	if (q->hasDistinctOn)
		return "the query uses DISTINCT ON";
	if (q->groupingSets != NIL)
		return "the query uses GROUPING SETS, ROLLUP or CUBE";
	if (q->havingQual != NULL)
		return "the query uses HAVING";

	/* what FROM reads (a view's stored query also has unused entries) */
	pending = list_make1(q->jointree);
	while (pending != NIL)
	{
		Node	   *node = linitial(pending);
		RangeTblEntry *rte;

		pending = list_delete_first(pending);
		if (node == NULL)
			continue;
		if (IsA(node, FromExpr))
		{
			pending = list_concat(pending, ((FromExpr *) node)->fromlist);
			continue;
		}
		if (IsA(node, JoinExpr))
		{
			JoinExpr   *j = (JoinExpr *) node;

			if (j->jointype != JOIN_INNER)
				return "the query uses an outer join";
			pending = lappend(lappend(pending, j->larg), j->rarg);
			continue;
		}
		rtindex = ((RangeTblRef *) node)->rtindex;
		rte = rt_fetch(rtindex, q->rtable);
		switch (rte->rtekind)
		{
			case RTE_RELATION:
				if (rte->tablesample != NULL)
					return "the query uses TABLESAMPLE";
				*rels = lappend_int(*rels, rtindex);
				break;
			case RTE_SUBQUERY:
				return "the query reads a subquery in FROM";
			case RTE_FUNCTION:

				/*
				 * An immutable function (generate_series, unnest...) maps
				 * each row of what it reads laterally to the same rows
				 * every time: linear, it stays in every delta term as it
				 * is.  Its arguments are not relations of the join.
				 */
				if (contain_mutable_functions((Node *) rte->functions))
					return "the query reads a function in FROM that is not immutable";
				if (checkExprHasSubLink((Node *) rte->functions))
					return "the query reads a function in FROM over a subquery";
				break;
			case RTE_TABLEFUNC:
				return "the query reads a function in FROM";
			case RTE_VALUES:
				return "the query reads a VALUES list";
			default:
				return "the query reads something other than tables and views";
		}
	}
	list_sort(*rels, list_int_cmp);
	if (*rels == NIL)
		return "the query reads no table";
	if (list_length(*rels) > IVM_MAX_RELATIONS)
		return "the query joins more than 16 relations";
	if (expression_tree_walker((Node *) q->targetList, OddVarWalker, NULL) ||
		expression_tree_walker((Node *) q->jointree, OddVarWalker, NULL))
		return "the query reads a whole row or a system column";
	foreach(lc, q->rtable)
		if (lfirst_node(RangeTblEntry, lc)->rtekind == RTE_FUNCTION &&
			expression_tree_walker((Node *) lfirst_node(RangeTblEntry, lc)->functions, OddVarWalker, NULL))
			return "the query reads a whole row or a system column";
	return NULL;
}

/*
 * BranchSpj
 *		NULL when br->query is a select-project-join, its semi joins (taken
 *		out of its WHERE clause into br->semis) included; else why not.
 */
static const char *
BranchSpj(IvmBranch *br, IvmHiddenCtx *hc)
{
	const char *why;

	IvmScalarExtract(br->query, hc);
	why = IvmSemiExtract(br->query, &br->semis, hc);

	if (why == NULL)
		why = CheckSpj(br->query, &br->rels);
	if (why == NULL && list_length(br->rels) + list_length(br->semis) > IVM_MAX_RELATIONS)
		why = "the query joins more than 16 relations, semi joins included";
	return why;
}

static IvmShape *AnalyzeShape(Query *query, IvmHiddenCtx *hc);

/*
 * HideSubqueries
 *		Each subquery of q's FROM that has delta rules of its own (one that
 *		aggregates, uses DISTINCT, a set operation, LIMIT...: the simple ones
 *		were flattened when the view was declared) becomes a hidden view,
 *		read in its place as a relation: q is changed.  Its columns are the
 *		subquery's, in order, so q's references to them stand.  NULL, or
 *		why a subquery of q's FROM has no delta rule.
 */
static const char *
HideSubqueries(Query *q, IvmHiddenCtx *hc)
{
	List	   *pending = list_make1(q->jointree);

	while (pending != NIL)
	{
		Node	   *node = linitial(pending);
		RangeTblEntry *rte;
		Query	   *sub;
		IvmHiddenCtx inner_hc = {NIL, 0, NIL};
		IvmShape   *inner;
		int			resno = 0;
		ListCell   *lc;

		pending = list_delete_first(pending);
		if (node == NULL)
			continue;
		if (IsA(node, FromExpr))
		{
			pending = list_concat(pending, list_copy(((FromExpr *) node)->fromlist));
			continue;
		}
		if (IsA(node, JoinExpr))
		{
			pending = lappend(lappend(pending, ((JoinExpr *) node)->larg), ((JoinExpr *) node)->rarg);
			continue;
		}
		rte = rt_fetch(((RangeTblRef *) node)->rtindex, q->rtable);
		if (rte->rtekind != RTE_SUBQUERY)
			continue;
		sub = rte->subquery;
		if (rte->lateral || contain_vars_of_level((Node *) sub, 1))
			return "the query reads a LATERAL subquery in FROM (the first rows per row of a table have delta rules written as a join under row_number() OVER (PARTITION BY ...), read where it is <= k)";
		if (q->cteList != NIL)
			return "the query reads a subquery in FROM and uses WITH";
		/* its columns must be c1..cn in order: no hidden column among them */
		foreach(lc, sub->targetList)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);

			if (!tle->resjunk && tle->resno != ++resno)
				return "the query reads a subquery in FROM whose columns are out of order";
		}
		inner = AnalyzeShape(copyObject(sub), &inner_hc);
		if (inner->kind == IVM_KIND_DIFF)
			return ReasonF("the query reads a subquery in FROM that has no delta rules (%s)", inner->reason);
		list_nth_cell(q->rtable, ((RangeTblRef *) node)->rtindex - 1)->ptr_value =
			IvmHiddenRte(q, sub, IvmHiddenClaim(hc, sub), rte->eref->aliasname);
	}
	return NULL;
}

/*
 * SplitBranches
 *		q's subqueries in FROM as hidden views, its outer joins as inner and
 *		anti joins (outer.c): its SPJ branches, appended to *branches.  NULL,
 *		or why not.
 */
static const char *
SplitBranches(Query *q, IvmHiddenCtx *hc, List **branches)
{
	const char *why = HideSubqueries(q, hc);
	List	   *parts;
	ListCell   *lc;

	if (why != NULL)
		return why;
	IvmScalarSelectList(q, hc);
	parts = IvmOuterSplit(q, &why);
	foreach(lc, parts)
	{
		IvmBranch  *br = palloc0(sizeof(IvmBranch));

		br->query = lfirst_node(Query, lc);
		why = BranchSpj(br, hc);
		if (why != NULL)
			return why;
		*branches = lappend(*branches, br);
	}
	return why;
}

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

/* the visible column of q's target list whose sort/group ref is ref, or -1 */
static int
VisibleColumnOfRef(Query *q, Index ref)
{
	ListCell   *lc;
	int			col = 0;

	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		if (tle->ressortgroupref == ref)
			return col;
		col++;
	}
	return -1;
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
 * ReadHidden
 *		SELECT h.c1, ..., h.cn FROM <the hidden view relid, holding holds'
 *		rows> h: the first n columns, named and typed as like's n columns.
 */
static Query *
ReadHidden(Query *holds, Oid relid, Query *like)
{
	Query	   *p = makeNode(Query);
	RangeTblRef *ref = makeNode(RangeTblRef);
	ListCell   *lc;

	p->commandType = CMD_SELECT;
	p->querySource = QSRC_ORIGINAL;
	p->canSetTag = true;
	p->rtable = list_make1(IvmHiddenRte(p, holds, relid, "__ivm_h"));
	ref->rtindex = 1;
	p->jointree = makeFromExpr(list_make1(ref), NULL);
	foreach(lc, like->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Node	   *e = (Node *) tle->expr;
		int			resno = list_length(p->targetList) + 1;

		if (tle->resjunk)
			continue;
		p->targetList = lappend(p->targetList,
								makeTargetEntry((Expr *) makeVar(1, resno, exprType(e), exprTypmod(e),
																 exprCollation(e), 0),
												resno, pstrdup(tle->resname), false));
	}
	return p;
}

/* the grouped rows a HAVING with subqueries filters, and why not */
typedef struct HavingContext
{
	Query	   *grouped;
	const char *why;
} HavingContext;

/*
 * HavingMutator
 *		A HAVING condition read over the grouped rows (relation 1): each
 *		grouping key and aggregate becomes a column of them, an aggregate the
 *		query does not show added as one more.
 */
static Node *
HavingMutator(Node *node, HavingContext *cx)
{
	ListCell   *lc;
	TargetEntry *tle;

	if (node == NULL)
		return NULL;
	if (IsA(node, SubLink))
	{
		SubLink    *sl = (SubLink *) copyObject(node);

		if (contain_vars_of_level(sl->subselect, 1) || contain_aggs_of_level(sl->subselect, 1))
			cx->why = "a subquery in HAVING reads the group's rows";
		sl->testexpr = HavingMutator(sl->testexpr, cx);
		return (Node *) sl;
	}
	foreach(lc, cx->grouped->targetList)
	{
		tle = lfirst_node(TargetEntry, lc);
		if ((tle->ressortgroupref != 0 || IsA(tle->expr, Aggref)) && equal(node, tle->expr))
			return (Node *) makeVar(1, tle->resno, exprType(node), exprTypmod(node),
									exprCollation(node), 0);
	}
	if (IsA(node, Aggref))
	{
		int			resno = list_length(cx->grouped->targetList) + 1;

		tle = makeTargetEntry((Expr *) copyObject(node), resno, psprintf("__ivm_h%d", resno), false);
		cx->grouped->targetList = lappend(cx->grouped->targetList, tle);
		return (Node *) makeVar(1, resno, exprType(node), exprTypmod(node), exprCollation(node), 0);
	}
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0)
		cx->why = "HAVING reads a column that is not a grouping key";
	return expression_tree_mutator(node, HavingMutator, cx);
}

/*
 * HavingSubqueries
 *		The shape of an aggregate whose HAVING has subquery expressions:
 *		its groups, without HAVING, are a hidden view (every group, with any
 *		aggregate HAVING reads that the query does not show), and the view
 *		is that hidden view filtered by the condition, a select-project-join
 *		whose subqueries have their own rules (an uncorrelated scalar
 *		subquery is a one-row hidden view joined to it: scalar.c).  A change
 *		of the subquery's value reaches every group through that join.
 */
static IvmShape *
HavingSubqueries(Query *query, IvmHiddenCtx *hc, IvmShape *shape)
{
	HavingContext cx = {copyObject(query), NULL};
	IvmHiddenCtx inner_hc = {NIL, 0, NIL};
	IvmShape   *grouped;
	IvmShape   *filtered;
	Query	   *p;
	Node	   *cond;
	List	   *tlist = NIL;
	ListCell   *lc;

	if (query->hasDistinctOn || query->distinctClause != NIL || query->groupingSets != NIL ||
		query->hasWindowFuncs)
	{
		shape->reason = "the query uses a subquery expression in HAVING, with DISTINCT, GROUPING SETS or a window function";
		return shape;
	}
	/* the grouped rows: the query's columns, in order, then what HAVING adds */
	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk)
			tlist = lappend(tlist, copyObject(tle));
		else if (tle->ressortgroupref != 0 && query->groupClause != NIL &&
				 get_sortgroupref_clause_noerr(tle->ressortgroupref, query->groupClause) != NULL)
		{
			shape->reason = "the query groups by an expression it does not select";
			return shape;
		}
	}
	cx.grouped->targetList = tlist;
	cx.grouped->sortClause = NIL;
	cx.grouped->havingQual = NULL;
	cond = HavingMutator(query->havingQual, &cx);
	cx.grouped->hasSubLinks = checkExprHasSubLink((Node *) cx.grouped);
	if (cx.why != NULL)
	{
		shape->reason = (char *) cx.why;
		return shape;
	}
	grouped = AnalyzeShape(copyObject(cx.grouped), &inner_hc);
	if (grouped->kind == IVM_KIND_DIFF)
	{
		shape->reason = ReasonF("the query uses a subquery expression in HAVING, and its groups have no delta rules (%s)",
								grouped->reason);
		return shape;
	}

	/* SELECT g.c1, ..., g.cn FROM <hidden view> g WHERE <HAVING over g> */
	p = ReadHidden(cx.grouped, IvmHiddenClaim(hc, cx.grouped), query);
	p->jointree->quals = cond;
	p->hasSubLinks = true;
	filtered = AnalyzeShape(p, hc);
	if (filtered->kind == IVM_KIND_DIFF)
	{
		shape->reason = ReasonF("the query uses a subquery expression in HAVING that has no delta rules (%s)",
								filtered->reason);
		return shape;
	}
	filtered->query = query;
	filtered->reason = psprintf("HAVING with a subquery: its groups are a hidden view (%s), and the view is that hidden view filtered by the condition (%s)",
								grouped->reason, filtered->reason);
	return filtered;
}

/*
 * GroupsBehind
 *		The shape of an aggregate grouped by an expression it does not show
 *		(SELECT sum(v) FROM t GROUP BY k): its groups, shown with every key,
 *		are a hidden view, and the view is that hidden view without the keys
 *		it does not show (a projection, so two groups may show alike).
 */
static IvmShape *
GroupsBehind(Query *query, IvmHiddenCtx *hc, IvmShape *shape)
{
	Query	   *g = copyObject(query);
	IvmHiddenCtx inner_hc = {NIL, 0, NIL};
	IvmShape   *grouped;
	IvmShape   *shown;
	List	   *tlist = NIL;
	ListCell   *lc;

	/* the query's columns, then its keys it does not show; no ORDER BY */
	foreach(lc, g->targetList)
		if (!lfirst_node(TargetEntry, lc)->resjunk)
			tlist = lappend(tlist, lfirst(lc));
	foreach(lc, g->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk && tle->ressortgroupref != 0 &&
			get_sortgroupref_clause_noerr(tle->ressortgroupref, g->groupClause) != NULL)
		{
			tle->resjunk = false;
			tle->resname = psprintf("__ivm_g%d", list_length(tlist) + 1);
			tlist = lappend(tlist, tle);
		}
	}
	foreach(lc, tlist)
		lfirst_node(TargetEntry, lc)->resno = foreach_current_index(lc) + 1;
	g->targetList = tlist;
	g->sortClause = NIL;

	grouped = AnalyzeShape(copyObject(g), &inner_hc);
	if (grouped->kind == IVM_KIND_DIFF)
	{
		shape->reason = ReasonF("the query groups by an expression it does not select, and its groups have no delta rules (%s)",
								grouped->reason);
		return shape;
	}
	shown = AnalyzeShape(ReadHidden(g, IvmHiddenClaim(hc, g), query), hc);
	if (shown->kind == IVM_KIND_DIFF)
		return shown;
	shown->query = query;
	shown->reason = psprintf("grouped by an expression it does not show: its groups, with every key, are a hidden view (%s), and the view shows that hidden view's other columns (%s)",
							 grouped->reason, shown->reason);
	return shown;
}

/*
 * AnalyzeShape
 *		Work out the shape of a view's (analysed, unrewritten) query.
 */
static IvmShape *
AnalyzeShape(Query *query, IvmHiddenCtx *hc)
{
	IvmShape   *shape = palloc0(sizeof(IvmShape));
	const char *why = NULL;
	ListCell   *lc;

	shape->kind = IVM_KIND_DIFF;
	shape->query = query;
	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		shape->types = lappend_oid(shape->types, exprType((Node *) tle->expr));
		shape->typmods = lappend_int(shape->typmods, exprTypmod((Node *) tle->expr));
		shape->nvisible++;
	}

	if (contain_mutable_functions((Node *) query))
	{
		shape->reason = "the query calls a function that is not immutable (such as now() or current_user): its result can change without any table changing";
		return shape;
	}
	if (query->hasRecursive)
	{
		shape->reason = "the query uses WITH RECURSIVE";
		return shape;
	}

	/* ORDER BY ... LIMIT: the rest is a hidden view, with its own shape */
	if (query->sortClause != NIL && (query->limitCount != NULL || query->limitOffset != NULL))
	{
		why = IvmTopkAnalyze(query, &shape->topk);
		if (why != NULL)
		{
			shape->reason = (char *) why;
			return shape;
		}
		{
			/* the hidden view's own hidden views are its own */
			IvmHiddenCtx inner_hc = {NIL, 0, NIL};

			(void) IvmHiddenClaim(hc, shape->topk->inner);
			shape->inner = AnalyzeShape(shape->topk->inner, &inner_hc);
		}
		if (shape->inner->kind == IVM_KIND_DIFF)
		{
			shape->reason = psprintf("the query under its ORDER BY ... LIMIT has no delta rules: %s",
									 shape->inner->reason);
			return shape;
		}
		shape->kind = IVM_KIND_TOPK;
		if (IvmTopkMargin(shape->topk, shape->inner) > 0)
			shape->reason = psprintf("top-k: the first rows of the query under ORDER BY ... LIMIT, by its first sort key, are kept in a hidden view (%s)%s: the " INT64_FORMAT " it shows and a margin of up to " INT64_FORMAT " more, so that a row after the last one kept writes nothing and a row removed is replaced from the margin (the query is read again only when the margin runs out); each tick where it changed reads its first rows again in that order and applies the difference",
									 shape->inner->reason,
									 shape->topk->index != NULL ? ", indexed on the sort keys" : "",
									 shape->topk->need, 2 * shape->topk->need);
		else
			shape->reason = psprintf("top-k: the query under ORDER BY ... LIMIT is kept whole in a hidden view (%s)%s; each tick where it changed reads its first rows again in that order and applies the difference",
									 shape->inner->reason,
									 shape->topk->index != NULL ? ", indexed on the sort keys" : "");
		return shape;
	}

	/* window functions, DISTINCT ON: their rows are a hidden view, with its own shape */
	if (query->hasWindowFuncs || query->hasDistinctOn)
	{
		IvmHiddenCtx inner_hc = {NIL, 0, NIL};
		Oid			relid = hc->next < list_length(hc->hidden) ? list_nth_oid(hc->hidden, hc->next) : InvalidOid;

		why = IvmWindowAnalyze(query, relid, &shape->window);
		if (why != NULL)
		{
			shape->reason = (char *) why;
			return shape;
		}
		(void) IvmHiddenClaim(hc, shape->window->inner);
		shape->inner = AnalyzeShape(copyObject(shape->window->inner), &inner_hc);
		if (shape->inner->kind == IVM_KIND_DIFF)
		{
			shape->reason = psprintf("the rows under its window functions have no delta rules: %s",
									 shape->inner->reason);
			return shape;
		}
		shape->kind = IVM_KIND_WINDOW;
		if (shape->window->hkeys == NIL)
			shape->reason = psprintf("window functions without PARTITION BY: the rows they read are kept in a hidden view (%s); they have one partition, so each tick where it changed computes the windows again over all of its rows, and applies the difference with the stored rows",
									 shape->inner->reason);
		else
			shape->reason = psprintf("%s: the rows %s read are kept in a hidden view (%s), indexed on the partition columns; each tick where it changed computes the %s again for the partitions its delta touches, and applies the difference with their stored rows",
									 query->hasDistinctOn ? "DISTINCT ON" : "window functions",
									 query->hasDistinctOn ? "it" : "they", shape->inner->reason,
									 query->hasDistinctOn ? "first row of each key" : "windows");
		return shape;
	}

	/* UNION ALL of SPJ branches */
	if (query->setOperations != NULL)
	{
		List	   *pending = list_make1(query->setOperations);

		if (query->limitCount != NULL || query->limitOffset != NULL)
			why = "the query uses LIMIT or OFFSET";
		else if (query->cteList != NIL)
			why = "the query uses WITH";
		while (why == NULL && pending != NIL)
		{
			Node	   *node = linitial(pending);

			pending = list_delete_first(pending);
			if (IsA(node, SetOperationStmt))
			{
				SetOperationStmt *op = (SetOperationStmt *) node;

				if (op->op != SETOP_UNION || !op->all)
					why = "the query uses UNION, INTERSECT or EXCEPT (only UNION ALL has a delta rule)";
				else
					pending = lappend(lappend(pending, op->larg), op->rarg);
			}
			else
			{
				RangeTblEntry *rte = rt_fetch(((RangeTblRef *) node)->rtindex, query->rtable);
				Query	   *branch = copyObject(rte->subquery);

				if (branch->hasAggs || branch->groupClause || branch->distinctClause)
				{
					/* a branch that aggregates is a hidden view the branch reads */
					IvmHiddenCtx inner_hc = {NIL, 0, NIL};
					IvmShape   *inner = AnalyzeShape(copyObject(branch), &inner_hc);

					if (inner->kind == IVM_KIND_DIFF)
						why = ReasonF("a branch of UNION ALL aggregates or uses DISTINCT, and has no delta rules (%s)",
									  inner->reason);
					else
						branch = ReadHidden(branch, IvmHiddenClaim(hc, branch), branch);
				}
				if (why == NULL)
					why = SplitBranches(branch, hc, &shape->branches);
			}
		}
		if (why != NULL)
		{
			shape->branches = NIL;
			shape->reason = (char *) why;
			return shape;
		}
		shape->kind = IVM_KIND_SPJ;
		shape->reason = "UNION ALL of select-project-join branches: each branch's delta passes through";
		return shape;
	}

	if (query->hasAggs || query->groupClause != NIL || query->distinctClause != NIL)
	{
		int			col = 0;
		bool		distinct = query->distinctClause != NIL;
		List	   *keyrefs = NIL;
		List	   *computed = NIL;

		if (query->havingQual != NULL && checkExprHasSubLink(query->havingQual))
			return HavingSubqueries(query, hc, shape);
		if (query->hasDistinctOn)
		{
			shape->reason = "the query uses DISTINCT ON";
			return shape;
		}
		if (distinct && (query->hasAggs || query->groupClause != NIL))
		{
			shape->reason = "the query uses DISTINCT together with GROUP BY or aggregates";
			return shape;
		}
		if (query->groupingSets != NIL)
		{
			shape->reason = "the query uses GROUPING SETS, ROLLUP or CUBE";
			return shape;
		}
		if (query->hasWindowFuncs)
		{
			shape->reason = "the query uses a window function";
			return shape;
		}

		/* every grouping expression must be shown, so the group is a visible key */
		foreach(lc, distinct ? query->distinctClause : query->groupClause)
		{
			SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);

			if (VisibleColumnOfRef(query, sgc->tleSortGroupRef) < 0)
			{
				if (!distinct)
					return GroupsBehind(query, hc, shape);
				shape->reason = "the query groups by an expression it does not select";
				return shape;
			}
			keyrefs = lappend_int(keyrefs, (int) sgc->tleSortGroupRef);
		}

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
			{
				shape->reason = (char *) why;
				return shape;
			}
			col++;
		}

		why = ComputedColumns(shape, query, keyrefs, computed);
		if (why == NULL && query->havingQual != NULL)
			why = HavingColumn(shape, query, keyrefs);
		if (why != NULL)
		{
			shape->reason = (char *) why;
			return shape;
		}

		/* the part under the aggregation, as an SPJ query (HAVING is above it) */
		if (query->havingQual != NULL && checkExprHasSubLink(query->havingQual))
		{
			shape->reason = "the query uses a subquery expression in HAVING";
			return shape;
		}
		{
			Query	   *pre = copyObject(query);
			List	   *tlist = NIL;
			int			resno = 0;
			ListCell   *lc2;

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
			why = SplitBranches(pre, hc, &shape->branches);
			if (why != NULL)
			{
				shape->branches = NIL;
				shape->reason = (char *) why;
				return shape;
			}
		}
		shape->kind = IVM_KIND_AGG;
		shape->distinct = distinct;
		shape->scalar = (shape->nkeys == 0);
		shape->reason = distinct
			? "SELECT DISTINCT: a hidden multiplicity per row; a row goes when it reaches 0"
			: shape->computed
			? "aggregate with computed columns: hidden per-group counts, sums and aggregates absorb each delta, the computed columns are worked out again from them; a group whose count reaches 0 disappears; min/max recompute only the groups that lost an input; numeric sums count their inputs per display scale"
			: "aggregate: hidden per-group counts and sums absorb each delta; a group whose count reaches 0 disappears; min/max recompute only the groups that lost an input; numeric sums count their inputs per display scale";
		for (int a = 0; a < shape->naggs; a++)
			if (shape->aggs[a].kind == IVM_AGG_RECOMPUTE)
			{
				shape->reason = psprintf("%s; aggregates without a running form (%s(), ...) are aggregated again for the groups a delta touches",
										 shape->reason,
										 get_func_name(((Aggref *) shape->aggs[a].aggref)->aggfnoid));
				break;
			}
		return shape;
	}

	why = SplitBranches(copyObject(query), hc, &shape->branches);
	if (why != NULL)
	{
		shape->branches = NIL;
		shape->reason = (char *) why;
		return shape;
	}
	shape->kind = IVM_KIND_SPJ;
	shape->reason = list_length(shape->branches) > 1
		? "outer join: the inner join's rows and each side's unmatched rows (an anti join), padded with NULLs, as branches whose deltas pass through"
		: list_length(((IvmBranch *) linitial(shape->branches))->rels) > 1
		? "join: the delta of each changed relation joins the others' current contents (dA*B + A*dB - dA*dB)"
		: "filter and projection: each delta row passes through";
	return shape;
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

	if (shape->kind == IVM_KIND_SPJ)
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
 * SQL generation
 * ------------------------------------------------------------------------
 */

/* "t.__ivm_c1, t.__ivm_c2, ..." */
static void
AppendCols(StringInfo buf, const char *alias, int first, int n)
{
	for (int i = 0; i < n; i++)
		appendStringInfo(buf, "%s%s.__ivm_c%d", i == 0 ? "" : ", ", alias, first + i);
}

/* name the non-junk output columns __ivm_c1.. and drop the junk ones */
static void
RenameOutputs(Query *q)
{
	List	   *tlist = NIL;
	ListCell   *lc;
	int			resno = 0;

	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		tle = flatCopyTargetEntry(tle);
		tle->resno = ++resno;
		tle->resname = psprintf("__ivm_c%d", resno);
		tle->ressortgroupref = 0;
		tlist = lappend(tlist, tle);
	}
	q->targetList = tlist;
	q->sortClause = NIL;
	q->distinctClause = NIL;
}

/*
 * BranchNewSql
 *		The branch over the current contents of every relation: its output
 *		columns named __ivm_c1...
 */
static char *
BranchNewSql(IvmBranch *br)
{
	Query	   *q = copyObject(br->query);
	List	   *conds = NIL;
	ListCell   *lc;

	RenameOutputs(q);
	foreach(lc, br->semis)
		conds = lappend(conds, copyObject(((IvmSemi *) lfirst(lc))->cond));
	if (conds != NIL)
	{
		if (q->jointree->quals != NULL)
			conds = lcons(q->jointree->quals, conds);
		q->jointree->quals = (Node *) make_ands_explicit(conds);
		q->hasSubLinks = true;
	}
	return IvmDeparseQuery(q);
}

/*
 * PartNewSql
 *		The SPJ part of an aggregate over the current contents: its
 *		branches' rows (an outer join's parts) together.
 */
static char *
PartNewSql(IvmShape *shape)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, shape->branches)
	{
		if (buf.len > 0)
			appendStringInfoString(&buf, " UNION ALL ");
		appendStringInfoString(&buf, BranchNewSql(lfirst(lc)));
	}
	return buf.data;
}

/*
 * BranchRelids
 *		The relations of a branch's factors, in the order of the bits of a
 *		term's mask: its relations, then the inner relation of each semi
 *		join.
 */
static List *
BranchRelids(IvmBranch *br)
{
	List	   *relids = NIL;
	ListCell   *lc;

	foreach(lc, br->rels)
		relids = lappend_oid(relids, rt_fetch(lfirst_int(lc), br->query->rtable)->relid);
	foreach(lc, br->semis)
		relids = lappend_oid(relids, ((IvmSemi *) lfirst(lc))->relid);
	return relids;
}

/*
 * IvmShapeCostlySemi
 *		Would a semi join correlated beyond its equality keys (its delta's
 *		weights summed by a subquery over the inner delta for each outer row
 *		reached, its count n(r) taken over the whole inner relation for each)
 *		scan an inner delta of more than IVM_SEMI_SCAN_LIMIT rows?  Then a
 *		recompute is cheaper.  A bound, not the planner's estimate: for an
 *		inequality the planner puts such a delta query at twice a recompute
 *		when it runs twenty-five times longer.  delta_rows(relid) counts a
 *		delta.
 */
#define IVM_SEMI_SCAN_LIMIT 1000

bool
IvmShapeCostlySemi(IvmShape *shape, uint64 (*delta_rows) (Oid relid, void *arg), void *arg)
{
	ListCell   *lc;
	ListCell   *lc2;

	foreach(lc, shape->branches)
		foreach(lc2, ((IvmBranch *) lfirst(lc))->semis)
		{
			IvmSemi    *semi = lfirst(lc2);

			if (!semi->keyed && delta_rows(semi->relid, arg) > IVM_SEMI_SCAN_LIMIT)
				return true;
		}
	return false;
}

/*
 * IvmShapeRelids
 *		Every relation a shape's delta rules read, branch by branch, each
 *		branch's in the order of its factors: what decides which delta
 *		queries a tick needs.
 */
List *
IvmShapeRelids(IvmShape *shape)
{
	List	   *relids = NIL;
	ListCell   *lc;

	foreach(lc, shape->branches)
		relids = list_concat(relids, BranchRelids(lfirst(lc)));
	return relids;
}

/* Does the branch join its relations by WHERE alone (FROM a, b, c)? */
static bool
FlatJoin(IvmBranch *br)
{
	ListCell   *lc;

	if (list_length(br->query->jointree->fromlist) != list_length(br->rels))
		return false;
	foreach(lc, br->query->jointree->fromlist)
		if (!IsA(lfirst(lc), RangeTblRef))
			return false;
	return true;
}

/*
 * IvmShapeFixesJoinOrder
 *		Do the shape's delta terms join in the order they are written
 *		(join_collapse_limit = 1 while they run)?  True when some branch
 *		joins three or more relations by WHERE, and no branch joins by
 *		explicit JOINs, whose written order is the user's, not ivm's.
 */
bool
IvmShapeFixesJoinOrder(IvmShape *shape)
{
	ListCell   *lc;
	bool		any = false;

	foreach(lc, shape->branches)
	{
		IvmBranch  *br = lfirst(lc);

		if (!FlatJoin(br))
			return false;
		if (list_length(br->rels) >= 3)
			any = true;
	}
	return any;
}

/*
 * IvmAnalyzeShape
 *		Work out the shape of a view's (analysed, unrewritten) query, and
 *		say in its reason whether its join terms start from their deltas.
 */
IvmShape *
IvmAnalyzeShape(Query *query, List *hidden)
{
	IvmHiddenCtx hc = {hidden, 0, NIL};
	IvmShape   *shape = AnalyzeShape(query, &hc);
	ListCell   *lc;

	shape->wants = hc.wants;
	shape->missing_hidden = hc.next > list_length(hidden);
	if (shape->kind != IVM_KIND_DIFF && shape->kind != IVM_KIND_TOPK &&
		shape->kind != IVM_KIND_WINDOW && hc.wants != NIL)
		shape->reason = psprintf("%s; %d subquer%s kept as hidden view%s it reads like tables (a subquery in FROM is read in its place; a scalar subquery compared in WHERE is joined, grouped by its equality keys)",
								 shape->reason, list_length(hc.wants),
								 list_length(hc.wants) == 1 ? "y is" : "ies are",
								 list_length(hc.wants) == 1 ? "" : "s");
	foreach(lc, shape->branches)
		if (((IvmBranch *) lfirst(lc))->semis != NIL)
		{
			shape->reason = psprintf("%s; EXISTS, IN, NOT EXISTS and NOT IN conditions are semi and anti joins: a delta of their subquery's relation re-checks only the rows its equality conditions reach, counting the matching rows before and after",
									 shape->reason);
			break;
		}
	if (shape->kind != IVM_KIND_DIFF && IvmShapeFixesJoinOrder(shape))
		shape->reason = psprintf("%s; each term joins its relations starting from its delta, in the order the join conditions lead (tables joined by a unique key first), and keeps that order",
								 shape->reason);
	return shape;
}

/* the range table indexes of the Vars of this query level in node */
static bool
VarnosWalker(Node *node, Bitmapset **varnos)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		if (((Var *) node)->varlevelsup == 0)
			*varnos = bms_add_member(*varnos, ((Var *) node)->varno);
		return false;
	}
	if (IsA(node, Query))
		return false;
	return expression_tree_walker(node, VarnosWalker, varnos);
}

/*
 * RelationRows
 *		The row count of a table by its statistics (pg_class.reltuples);
 *		a table never analyzed, or a view, counts as a large table.
 */
static double
RelationRows(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	double		rows = 1e9;

	if (HeapTupleIsValid(tup))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);

		if (form->relkind != RELKIND_VIEW && form->reltuples >= 0)
			rows = form->reltuples;
		ReleaseSysCache(tup);
	}
	return rows;
}

/* the position in br->rels of its largest table, by the statistics */
static int
LargestRelation(IvmBranch *br)
{
	ListCell   *lc;
	int			k = 0;
	int			best = 0;
	double		best_rows = -1;

	foreach(lc, br->rels)
	{
		double		rows = RelationRows(rt_fetch(lfirst_int(lc), br->query->rtable)->relid);

		if (rows > best_rows)
		{
			best = k;
			best_rows = rows;
		}
		k++;
	}
	return best;
}

/*
 * JoinColumns
 *		The columns of relation r (range table index) that a condition of
 *		conds (with their varnos) equates with an expression over the
 *		relations taken.
 */
static Bitmapset *
JoinColumns(int r, List *conds, List *condvarnos, Bitmapset *taken)
{
	Bitmapset  *cols = NULL;
	ListCell   *lc;
	ListCell   *lc2;

	forboth(lc, conds, lc2, condvarnos)
	{
		OpExpr	   *op = lfirst(lc);
		Bitmapset  *v = bms_del_member(bms_copy(lfirst(lc2)), r);

		if (!IsA(op, OpExpr) || list_length(op->args) != 2 || get_oprrest(op->opno) != F_EQSEL ||
			bms_is_empty(v) || !bms_is_subset(v, taken))
			continue;
		for (int side = 0; side < 2; side++)
		{
			Node	   *e = strip_implicit_coercions(list_nth(op->args, side));
			Bitmapset  *other = NULL;

			(void) VarnosWalker(list_nth(op->args, 1 - side), &other);
			if (IsA(e, Var) && ((Var *) e)->varno == r && ((Var *) e)->varlevelsup == 0 &&
				((Var *) e)->varattno > 0 && !bms_is_member(r, other))
				cols = bms_add_member(cols, ((Var *) e)->varattno);
		}
	}
	return cols;
}

/*
 * HasEqualityFilter
 *		Is a condition of conds one of relation r alone that sets a column
 *		to a constant (r_name = 'ASIA')?  Such a filter usually keeps few
 *		rows; a range or pattern often keeps many.
 */
static bool
HasEqualityFilter(int r, List *conds, List *condvarnos)
{
	ListCell   *lc;
	ListCell   *lc2;

	forboth(lc, conds, lc2, condvarnos)
	{
		OpExpr	   *op = lfirst(lc);
		Bitmapset  *v = lfirst(lc2);

		if (IsA(op, OpExpr) && list_length(op->args) == 2 && get_oprrest(op->opno) == F_EQSEL &&
			bms_membership(v) == BMS_SINGLETON && bms_is_member(r, v) &&
			(IsA(strip_implicit_coercions(linitial(op->args)), Const) ||
			 IsA(strip_implicit_coercions(lsecond(op->args)), Const)))
			return true;
	}
	return false;
}

/* Do the columns cols of table relid hold every key column of a unique index? */
static bool
CoversUniqueKey(Oid relid, Bitmapset *cols)
{
	Relation	rel = table_open(relid, AccessShareLock);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;
		bool		covered = true;

		if (!HeapTupleIsValid(tup))
			continue;
		index = (Form_pg_index) GETSTRUCT(tup);
		if (!index->indisunique || !heap_attisnull(tup, Anum_pg_index_indexprs, NULL) ||
			!heap_attisnull(tup, Anum_pg_index_indpred, NULL))
			covered = false;
		for (int i = 0; covered && i < index->indnkeyatts; i++)
			if (!bms_is_member(index->indkey.values[i], cols))
				covered = false;
		ReleaseSysCache(tup);
		if (covered)
		{
			found = true;
			break;
		}
	}
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Fanout
 *		About how many rows of table relid (rows in all) share one value of
 *		the columns cols, by the statistics' distinct counts (the most
 *		distinct column); 10 when there are no statistics.
 */
static double
Fanout(Oid relid, double rows, Bitmapset *cols)
{
	double		best = -1;
	int			attno = -1;

	while ((attno = bms_next_member(cols, attno)) >= 0)
	{
		HeapTuple	tup = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(relid),
										  Int16GetDatum(attno), BoolGetDatum(false));
		double		nd;

		if (!HeapTupleIsValid(tup))
			continue;
		nd = ((Form_pg_statistic) GETSTRUCT(tup))->stadistinct;
		ReleaseSysCache(tup);
		if (nd < 0)
			nd = -nd * rows;
		if (nd >= 1 && (best < 0 || rows / nd < best))
			best = rows / nd;
	}
	return best < 0 ? 10 : best;
}

/*
 * JoinOrderFromDelta
 *		The order in which a delta term joins its relations: the first
 *		delta, then, again and again, a relation that a condition of the
 *		WHERE clause joins to those already taken: another delta first,
 *		then a table joined by a unique key (it adds no rows), one with a
 *		column = constant filter first, else the smallest by the
 *		statistics' row count, then any other joined table,
 *		the one adding the fewest rows per row first (its rows over the
 *		distinct values of its joined column); a relation no condition
 *		reaches comes last.
 *		Starting from the delta, which is small, each step can probe an
 *		index; left to itself the planner may start from a large table
 *		whose join it misestimates (two correlated key columns taken as
 *		independent) and read much of it.  Small tables joined by their key
 *		first: mostly dimensions, which often filter the rows (a region by
 *		name) before the large tables are probed.
 */
static List *
JoinOrderFromDelta(Query *q, List *rels, uint32 mask)
{
	List	   *conds = make_ands_implicit((Expr *) q->jointree->quals);
	List	   *condvarnos = NIL;
	List	   *order = NIL;
	List	   *left = list_copy(rels);
	Bitmapset  *taken = NULL;
	ListCell   *lc;

	foreach(lc, conds)
	{
		Bitmapset  *varnos = NULL;

		(void) VarnosWalker(lfirst(lc), &varnos);
		condvarnos = lappend(condvarnos, varnos);
	}
	while (left != NIL)
	{
		int			best = -1;
		int			best_rank = 4;
		double		best_size = 0;

		foreach(lc, left)
		{
			int			r = lfirst_int(lc);
			bool		delta = false;
			int			k = 0;
			bool		joined = false;
			int			rank;
			double		size;
			ListCell   *lc2;

			foreach(lc2, rels)
			{
				if (lfirst_int(lc2) == r)
					delta = (mask & (1u << k)) != 0;
				k++;
			}

			foreach(lc2, condvarnos)
			{
				Bitmapset  *v = lfirst(lc2);

				if (bms_is_member(r, v) && bms_overlap(v, taken) &&
					bms_is_subset(v, bms_add_member(bms_copy(taken), r)))
					joined = true;
			}
			/*
			 * 0: a joined delta, 1: a table joined by a key (by its size),
			 * 2: another joined table (by the rows it adds per row), 3: a
			 * delta, 4: a table (by its size)
			 */
			size = delta ? 0 : RelationRows(rt_fetch(r, q->rtable)->relid);
			if (taken == NULL)
				rank = delta ? 0 : 4;
			else if (joined && !delta)
			{
				Oid			relid = rt_fetch(r, q->rtable)->relid;
				Bitmapset  *cols = JoinColumns(r, conds, condvarnos, taken);

				if (get_rel_relkind(relid) == RELKIND_RELATION && cols != NULL &&
					CoversUniqueKey(relid, cols))
				{
					/* one a column = constant condition filters first */
					rank = 1;
					if (HasEqualityFilter(r, conds, condvarnos))
						size = size / 1e12;
				}
				else
				{
					rank = 2;
					size = cols != NULL && get_rel_relkind(relid) == RELKIND_RELATION
						? Fanout(relid, size, cols) : size;
				}
			}
			else
				rank = delta ? (joined ? 0 : 3) : 4;
			if (best < 0 || rank < best_rank || (rank == best_rank && size < best_size))
			{
				best = r;
				best_rank = rank;
				best_size = size;
			}
		}
		order = lappend_int(order, best);
		taken = bms_add_member(taken, best);
		left = list_delete_int(left, best);
	}
	return order;
}

/*
 * FixJoinOrder
 *		Make q's FROM list (relations only, joined by WHERE) the chain of
 *		CROSS JOINs of order, left-deep, so that under join_collapse_limit
 *		= 1 the planner keeps that order (and still chooses how to do each
 *		join).  The WHERE clause stays: each condition applies at the first
 *		join where its relations meet.
 */
static void
FixJoinOrder(Query *q, List *order)
{
	Node	   *chain = NULL;
	ListCell   *lc;

	foreach(lc, order)
	{
		RangeTblRef *ref = makeNode(RangeTblRef);

		ref->rtindex = lfirst_int(lc);
		chain = chain == NULL ? (Node *) ref : (Node *) IvmJoinStep(q, chain, (Node *) ref, JOIN_INNER, NULL);
	}
	q->jointree->fromlist = list_make1(chain);
}

/*
 * LeftJoinLast
 *		q's FROM items (a chain of CROSS JOINs, in their order, when there are
 *		several) LEFT JOIN relation r ON quals.
 */
static void
LeftJoinLast(Query *q, int r, Node *quals)
{
	Node	   *chain = NULL;
	RangeTblRef *ref = makeNode(RangeTblRef);
	ListCell   *lc;

	foreach(lc, q->jointree->fromlist)
		chain = chain == NULL ? lfirst(lc) : (Node *) IvmJoinStep(q, chain, lfirst(lc), JOIN_INNER, NULL);
	ref->rtindex = r;
	q->jointree->fromlist = list_make1(IvmJoinStep(q, chain, (Node *) ref, JOIN_LEFT, quals));
}

/*
 * SemiDeltaText
 *		d(r) of semi number j in a term's wrapper: the delta's weights of the
 *		inner rows that match; with a <> condition, those matching the keys
 *		less those equal on it (none when its outer side is NULL).
 */
static char *
SemiDeltaText(IvmSemi *semi, int j)
{
	if (semi->neq != NULL)
		return psprintf("(CASE WHEN t.__ivm_z%d THEN 0 ELSE COALESCE(t.__ivm_d%d, 0) - COALESCE(t.__ivm_e%d, 0) END)",
						j, j, j);
	return psprintf("COALESCE(t.__ivm_d%d, 0)", j);
}

/*
 * BranchTermSql
 *		One term of a branch's delta: the relations whose bit is set in mask
 *		read their delta instead of their contents.  Output: __ivm_c1.. then
 *		__ivm_weight (the product of the deltas' weights, negated for an even
 *		number of them).  Returns NULL when a delta lacks a column the branch
 *		reads.
 */
static char *
BranchTermSql(IvmShape *shape, IvmBranch *br, uint32 mask, IvmDeltaLookup lookup,
			  void *lookup_arg)
{
	Query	   *q = copyObject(br->query);
	StringInfoData buf;
	StringInfoData with;
	ListCell   *lc;
	int			k = 0;
	int			ndeltas = 0;
	int			ncols;
	List	   *weights = NIL;
	List	   *order_rels = list_copy(br->rels);
	uint32		order_mask = mask & ((1u << list_length(br->rels)) - 1);
	List	   *new_conds = NIL;
	List	   *semi_deltas = NIL;	/* per semi read as its delta: its number */
	List	   *left_joins = NIL;	/* (rtindex, quals) joined LEFT after the rest */
	int			nsemi = 0;

	RenameOutputs(q);
	ncols = list_length(q->targetList);
	initStringInfo(&with);
	foreach(lc, br->rels)
	{
		int			rtindex = lfirst_int(lc);
		RangeTblEntry *rte = rt_fetch(rtindex, q->rtable);
		const char *enrname;
		TupleDesc	enrdesc;
		Oid			weight_type;
		Bitmapset  *used = NULL;
		ListCell   *lc2;

		if ((mask & (1u << k++)) == 0)
			continue;
		enrdesc = lookup(rte->relid, &enrname, lookup_arg);
		if (enrdesc == NULL)
			return NULL;

		/* every column the branch reads, its semi joins included */
		pull_varattnos((Node *) q->targetList, rtindex, &used);
		pull_varattnos((Node *) q->jointree, rtindex, &used);
		foreach(lc2, q->rtable)
		{
			RangeTblEntry *j = lfirst_node(RangeTblEntry, lc2);

			if (j->rtekind == RTE_JOIN)
				pull_varattnos((Node *) j->joinaliasvars, rtindex, &used);
			else if (j->rtekind == RTE_FUNCTION)
				pull_varattnos((Node *) j->functions, rtindex, &used);
		}
		foreach(lc2, br->semis)
			IvmSemiOuterColumns(lfirst(lc2), rtindex, &used);
		if (!IvmReadDelta(rte, used, enrname, enrdesc, &weight_type))
			return NULL;
		q->targetList = lappend(q->targetList,
								makeTargetEntry((Expr *) makeVar(rtindex, list_length(rte->eref->colnames),
																 weight_type, -1, InvalidOid, 0),
												list_length(q->targetList) + 1,
												psprintf("__ivm_w%d", ++ndeltas), false));
		weights = lappend_int(weights, ndeltas);
	}

	/*
	 * Semi joins: one whose inner relation is read whole is its condition
	 * as written; one read as its delta contributes n(r) (__ivm_n<j>) and
	 * d(r) (__ivm_d<j>), and joins the grouped inner delta when it has keys.
	 */
	foreach(lc, br->semis)
	{
		IvmSemi    *semi = lfirst(lc);
		const char *enrname;
		TupleDesc	enrdesc;
		Node	   *dsum;
		int			cap_rt = 0;

		nsemi++;
		if ((mask & (1u << k++)) == 0)
		{
			new_conds = lappend(new_conds, copyObject(semi->cond));
			continue;
		}
		enrdesc = lookup(semi->relid, &enrname, lookup_arg);
		if (enrdesc == NULL)
			return NULL;
		if (semi->keys != NIL)
		{
			char	   *ctename = psprintf("__ivm_t%d", nsemi);
			char	   *touch = IvmSemiTouchSql(semi, enrname, enrdesc, false);
			int			rt;

			if (touch == NULL)
				return NULL;
			appendStringInfo(&with, "%s%s AS (%s)", with.len > 0 ? ", " : "WITH ", ctename, touch);
			rt = IvmSemiAddTouch(q, semi, ctename, false, NULL);
			order_rels = lappend_int(order_rels, rt);
			order_mask |= 1u << (list_length(order_rels) - 1);
			dsum = semi->keyed
				? (Node *) makeVar(rt, list_length(semi->keys) + 1, NUMERICOID, -1, InvalidOid, 0)
				: IvmSemiDeltaSum(semi, enrname, enrdesc);
			/* d(r) is the touch's sum alone: n(r) need not be counted past it */
			if (semi->keyed && semi->neq == NULL)
				cap_rt = rt;
			if (semi->neq != NULL)
			{
				/* and the delta's rows equal on the <> condition's sides */
				char	   *eqname = psprintf("__ivm_u%d", nsemi);
				char	   *equal = IvmSemiTouchSql(semi, enrname, enrdesc, true);
				Node	   *quals;
				int			ert;

				if (equal == NULL)
					return NULL;
				appendStringInfo(&with, ", %s AS (%s)", eqname, equal);
				ert = IvmSemiAddTouch(q, semi, eqname, true, &quals);
				left_joins = lappend(left_joins, list_make2(makeInteger(ert), quals));
				q->targetList = lappend(q->targetList,
										makeTargetEntry((Expr *) makeVar(ert, list_length(semi->keys) + 2,
																		 NUMERICOID, -1, InvalidOid, 0),
														list_length(q->targetList) + 1,
														psprintf("__ivm_e%d", nsemi), false));
				q->targetList = lappend(q->targetList,
										makeTargetEntry((Expr *) IvmSemiNeqOuterIsNull(semi),
														list_length(q->targetList) + 1,
														psprintf("__ivm_z%d", nsemi), false));
			}
		}
		else
			dsum = IvmSemiDeltaSum(semi, enrname, enrdesc);
		if (dsum == NULL)
			return NULL;
		q->targetList = lappend(q->targetList,
								makeTargetEntry((Expr *) IvmSemiCountNow(semi, cap_rt), list_length(q->targetList) + 1,
												psprintf("__ivm_n%d", nsemi), false));
		q->targetList = lappend(q->targetList,
								makeTargetEntry((Expr *) dsum, list_length(q->targetList) + 1,
												psprintf("__ivm_d%d", nsemi), false));
		q->hasSubLinks = true;
		semi_deltas = lappend_int(semi_deltas, nsemi);
		ndeltas++;
	}

	/*
	 * Three or more relations joined by WHERE: start from the delta, unless
	 * the only delta stands for the largest table (the others are then
	 * smaller than what it replaced, and the planner's order does well).
	 */
	if (FlatJoin(br) && list_length(order_rels) >= 3 &&
		!(pg_popcount32(order_mask) == 1 && (order_mask & (1u << LargestRelation(br))) != 0))
		FixJoinOrder(q, JoinOrderFromDelta(q, order_rels, order_mask));
	foreach(lc, left_joins)
		LeftJoinLast(q, intVal(linitial(lfirst(lc))), lsecond(lfirst(lc)));
	if (new_conds != NIL)
	{
		if (q->jointree->quals != NULL)
			new_conds = lcons(q->jointree->quals, new_conds);
		q->jointree->quals = (Node *) make_ands_explicit(new_conds);
		q->hasSubLinks = true;
	}

	initStringInfo(&buf);
	if (with.len > 0)
		appendStringInfo(&buf, "SELECT * FROM (%s ", with.data);
	appendStringInfoString(&buf, "SELECT ");
	for (int i = 1; i <= ncols; i++)
	{
		/* a UNION ALL branch may return a type the union coerces */
		Oid			want = shape->kind == IVM_KIND_SPJ ? list_nth_oid(shape->types, i - 1) : InvalidOid;
		TargetEntry *tle = list_nth_node(TargetEntry, q->targetList, i - 1);

		if (OidIsValid(want) && exprType((Node *) tle->expr) != want)
			appendStringInfo(&buf, "CAST(t.__ivm_c%d AS %s), ", i,
							 format_type_with_typemod(want, list_nth_int(shape->typmods, i - 1)));
		else
			appendStringInfo(&buf, "t.__ivm_c%d, ", i);
	}
	appendStringInfoString(&buf, ndeltas % 2 == 0 ? "-(" : "(");
	foreach(lc, weights)
		appendStringInfo(&buf, "%st.__ivm_w%d::int8", lc == list_head(weights) ? "" : " * ",
						 lfirst_int(lc));
	foreach(lc, semi_deltas)
	{
		int			j = lfirst_int(lc);
		IvmSemi    *semi = list_nth(br->semis, j - 1);

		/* de(r) = [n > 0] - [n - d > 0]; for NOT EXISTS the opposite */
		appendStringInfo(&buf, "%s%s((t.__ivm_n%d > 0)::int4::int8 - (t.__ivm_n%d - %s > 0)::int4::int8)",
						 weights != NIL || lc != list_head(semi_deltas) ? " * " : "",
						 semi->anti ? "-" : "", j, j, SemiDeltaText(semi, j));
	}
	/*
	 * OFFSET 0 keeps the planner from pulling the subquery up: the weight
	 * and the filter below read each count n(r) twice, and a count pulled
	 * up is a subquery run at each place it is read.
	 */
	appendStringInfo(&buf, ") AS %s FROM (%s%s) t", IVM_WEIGHT_COLUMN, IvmDeparseQuery(q),
					 semi_deltas != NIL ? " OFFSET 0" : "");
	foreach(lc, semi_deltas)
	{
		int			j = lfirst_int(lc);

		appendStringInfo(&buf, "%s(t.__ivm_n%d > 0) IS DISTINCT FROM (t.__ivm_n%d - %s > 0)",
						 lc == list_head(semi_deltas) ? " WHERE " : " AND ", j, j,
						 SemiDeltaText(list_nth(br->semis, j - 1), j));
	}
	if (with.len > 0)
		appendStringInfoString(&buf, ") __ivm_s");
	return buf.data;
}

/*
 * IvmDeltaSql
 *		The delta of the SPJ part of a view (every branch), for the relations
 *		whose delta is non-empty this tick: changed(relid) says which.
 *		Columns __ivm_c1.. and __ivm_weight (int8).  NULL when no relation
 *		changed, or a delta lacks a needed column or more than
 *		IVM_MAX_CHANGED relations of a join changed (then *missing is set).
 */
char *
IvmDeltaSql(IvmShape *shape, IvmChanged changed, IvmDeltaLookup lookup, void *arg,
			bool *missing)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		any = false;

	*missing = false;
	initStringInfo(&buf);
	foreach(lc, shape->branches)
	{
		IvmBranch  *br = lfirst(lc);
		uint32		changed_mask = 0;
		int			k = 0;
		ListCell   *lc2;

		foreach(lc2, BranchRelids(br))
		{
			if (changed(lfirst_oid(lc2), arg))
				changed_mask |= (1u << k);
			k++;
		}
		if (pg_popcount32(changed_mask) > IVM_MAX_CHANGED)
		{
			*missing = true;	/* too many terms: the caller recomputes */
			return NULL;
		}

		/* every non-empty subset of the changed relations */
		for (uint32 mask = changed_mask; mask != 0; mask = (mask - 1) & changed_mask)
		{
			char	   *term = BranchTermSql(shape, br, mask, lookup, arg);

			if (term == NULL)
			{
				*missing = true;
				return NULL;
			}
			if (any)
				appendStringInfoString(&buf, " UNION ALL ");
			appendStringInfoString(&buf, term);
			any = true;
		}
	}
	return any ? buf.data : NULL;
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
 * IvmSpjSql
 *		An SPJ shape's rows as they are now (no row hash): what its hidden
 *		views hold is read from them, not computed again.
 */
char *
IvmSpjSql(IvmShape *shape)
{
	Assert(shape->kind == IVM_KIND_SPJ);
	return shape->wants != NIL && !shape->missing_hidden
		? PartNewSql(shape) : IvmDeparseQuery(shape->query);
}

/*
 * IvmFullSql
 *		The query that computes the whole storage, hidden columns included,
 *		from the current contents of the sources and of the hidden views the
 *		shape reads (maintained before it).  For DIFF the definition itself
 *		(def_name).  With first (SPJ: a top-k's input kept to a margin),
 *		only the query's first rows by first's first sort key, their ties
 *		included (IvmTopkFirstSql), taken before the rows are hashed.
 */
char *
IvmFullSql(IvmShape *shape, const char *def_name, Oid storage_rel, IvmTopk *first, int64 rows)
{
	StringInfoData buf;
	StringInfoData from;
	List	   *cols;

	initStringInfo(&buf);
	if (shape->kind == IVM_KIND_DIFF)
	{
		appendStringInfo(&buf, "SELECT * FROM %s", def_name);
		return buf.data;
	}
	if (shape->kind == IVM_KIND_WINDOW)
		return shape->missing_hidden
			? psprintf("SELECT * FROM %s", def_name) : IvmWindowSql(shape->window, NULL);
	if (shape->kind == IVM_KIND_SPJ)
	{
		char	   *part = IvmSpjSql(shape);

		if (first != NULL)
			part = IvmTopkFirstSql(first, part, shape->nvisible, rows, true);
		appendStringInfo(&buf, "SELECT q.*, ivm.row_hash(q.*) AS %s FROM (%s) q",
						 IVM_HASH_COLUMN, part);
		return buf.data;
	}

	/* AGG: the aggregates over the SPJ part, then the bookkeeping */
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
	appendStringInfo(&from, " FROM (%s) p", PartNewSql(shape));
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
 *		stored value being the expression stored (NULL for a new group).
 */
static char *
AggNewSql(IvmAgg *agg, int a, const char *stored)
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
			appendStringInfo(&buf, "CASE WHEN d.rt THEN r.m%d WHEN s.ctid IS NULL THEN d.dm%d "
							 "ELSE %s(%s, d.dm%d) END",
							 a, a, agg->kind == IVM_AGG_MIN ? "least" : "greatest", stored, a);
			break;
		case IVM_AGG_RECOMPUTE:
			appendStringInfo(&buf, "r.m%d", a);
			break;
	}
	return buf.data;
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

#define SCOL(i) quote_identifier(strVal(list_nth(storage_colnames, (i))))

	for (int a = 0; a < shape->naggs; a++)
	{
		if (shape->aggs[a].recompute_on_retract)
			any_recompute = true;
		if (shape->aggs[a].kind == IVM_AGG_RECOMPUTE)
			any_touched = true;
	}

	initStringInfo(&buf);

	/* d: the delta per group */
	appendStringInfoString(&buf, "WITH d AS (SELECT ");
	for (int k = 1; k <= shape->nkeys; k++)
		appendStringInfo(&buf, "x.__ivm_c%d, ", k);
	appendStringInfoString(&buf, "coalesce(sum(x.__ivm_weight), 0)::int8 AS dc");
	for (int a = 0; a < shape->naggs; a++)
	{
		IvmAgg	   *agg = &shape->aggs[a];

		if (agg->kind == IVM_AGG_COUNT || agg->kind == IVM_AGG_SUM || agg->kind == IVM_AGG_AVG)
			appendStringInfo(&buf, ", coalesce(sum(x.__ivm_weight) FILTER (WHERE x.__ivm_c%d IS NOT NULL), 0)::int8 AS dn%d",
							 agg->argcol, a + 1);
		if (agg->numeric_inputs)
			appendStringInfo(&buf, ", sum(x.__ivm_weight::numeric * x.__ivm_c%d) "
							 "FILTER (WHERE " NUMERIC_FINITE("x.__ivm_c%d") ") AS ds%d",
							 agg->argcol, agg->argcol, a + 1);
		else if (agg->kind == IVM_AGG_SUM)
			appendStringInfo(&buf, ", sum(x.__ivm_weight::%s * x.__ivm_c%d::%s)::%s AS ds%d",
							 SumTypeName(agg), agg->argcol, SumTypeName(agg), SumTypeName(agg), a + 1);
		else if (agg->kind == IVM_AGG_AVG)
			appendStringInfo(&buf, ", sum(x.__ivm_weight::numeric * x.__ivm_c%d::numeric) AS ds%d",
							 agg->argcol, a + 1);
		if (agg->kind == IVM_AGG_MIN || agg->kind == IVM_AGG_MAX)
			appendStringInfo(&buf, ", %s(x.__ivm_c%d) FILTER (WHERE x.__ivm_weight > 0) AS dm%d",
							 agg->fname, agg->argcol, a + 1);
		if (agg->numeric_inputs)
			appendStringInfo(&buf, ", ivm.numeric_counts(x.__ivm_c%d, x.__ivm_weight::int8) AS dh%d",
							 agg->argcol, a + 1);
	}
	if (any_recompute)
	{
		bool		first = true;

		appendStringInfoString(&buf, ", coalesce(bool_or(x.__ivm_weight < 0 AND (");
		for (int a = 0; a < shape->naggs; a++)
			if (shape->aggs[a].recompute_on_retract)
			{
				appendStringInfo(&buf, "%sx.__ivm_c%d IS NOT NULL", first ? "" : " OR ",
								 shape->aggs[a].argcol);
				first = false;
			}
		appendStringInfoString(&buf, ")), false) AS rt");
	}
	appendStringInfo(&buf, " FROM (%s) x", delta_sql);
	if (!shape->scalar)
	{
		appendStringInfoString(&buf, " GROUP BY ");
		AppendCols(&buf, "x", 1, shape->nkeys);
	}
	appendStringInfoString(&buf, ")\n");

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
			cols = lappend(cols, AggNewSql(&shape->aggs[role - 1], role, psprintf("s.%s", SCOL(col))));
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
			cols = lappend(cols, AggNewSql(agg, role, psprintf("s.__ivm_a_%d", role)));
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
	appendStringInfo(&from, "\nFROM d LEFT JOIN %s s ON ", storage_name);
	if (shape->scalar)
		appendStringInfoString(&from, "true");
	else
	{
		/*
		 * The key hash finds the candidates (through the index); the key
		 * columns decide, by the types' equality as GROUP BY does (1.0 and
		 * 1.00 are one group), so groups whose key hashes collide stay apart.
		 */
		appendStringInfoString(&from, "s." IVM_KEY_COLUMN " = ivm.key_hash(");
		AppendCols(&from, "d", 1, shape->nkeys);
		appendStringInfoChar(&from, ')');
		for (int k = 0; k < shape->nkeys; k++)
			appendStringInfo(&from, " AND s.%s IS NOT DISTINCT FROM d.__ivm_c%d",
							 SCOL(list_nth_int(shape->keycols, k)), k + 1);
	}

	/*
	 * Again from the sources: the groups that lost an input of min/max, and
	 * every touched group when an aggregate has no running form.
	 */
	if (any_recompute || any_touched)
	{
		appendStringInfoString(&from, "\nLEFT JOIN LATERAL (SELECT ");
		for (int a = 0; a < shape->naggs; a++)
		{
			IvmAgg	   *agg = &shape->aggs[a];

			if (agg->recompute_on_retract || agg->kind == IVM_AGG_RECOMPUTE)
				appendStringInfo(&from, "%s AS m%d, ", AggCallSql(agg), a + 1);
		}
		appendStringInfo(&from, "1 AS one FROM (%s) p WHERE %s",
						 PartNewSql(shape), any_touched ? "true" : "d.rt");
		for (int k = 1; k <= shape->nkeys; k++)
			appendStringInfo(&from, " AND (p.__ivm_c%d = d.__ivm_c%d OR (p.__ivm_c%d IS NULL AND d.__ivm_c%d IS NULL))",
							 k, k, k, k);
		appendStringInfoString(&from, ") r ON true");
	}
	AppendStorageRows(&buf, shape, storage_rel, "s.ctid", cols, tail, from.data);
#undef SCOL
	return buf.data;
}

/*
 * IvmShapeCheckRelations
 *		NULL when every relation the shape reads has a delta the tick can
 *		give: a table (all of it: no ONLY over a table with children, no row
 *		security) or an incremental view (is_view says which views are).
 *		Else why not.
 */
const char *
IvmShapeCheckRelations(IvmShape *shape, bool (*is_view) (Oid relid))
{
	ListCell   *lc;

	if (shape->kind == IVM_KIND_TOPK || shape->kind == IVM_KIND_WINDOW)
		return IvmShapeCheckRelations(shape->inner, is_view);

	foreach(lc, shape->branches)
	{
		IvmBranch  *br = lfirst(lc);
		ListCell   *lc2;

		List	   *rtes = NIL;

		/* a hidden view that does not exist yet is one ivm makes */
		foreach(lc2, br->rels)
			if (OidIsValid(rt_fetch(lfirst_int(lc2), br->query->rtable)->relid))
				rtes = lappend(rtes, rt_fetch(lfirst_int(lc2), br->query->rtable));
		foreach(lc2, br->semis)
			{
			IvmSemi    *semi = lfirst(lc2);

			if (OidIsValid(semi->relid))
				rtes = lappend(rtes, rt_fetch(semi->inner, semi->sub->rtable));
		}
		foreach(lc2, rtes)
		{
			RangeTblEntry *rte = lfirst(lc2);
			Relation	rel;
			bool		rls;
			bool		children;

			if (rte->relkind == RELKIND_VIEW)
			{
				if (!is_view(rte->relid))
					return ReasonF("the query reads \"%s\", an ordinary view",
								   get_rel_name(rte->relid));
				continue;
			}
			if (rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_PARTITIONED_TABLE)
				return ReasonF("the query reads \"%s\", which is not a table",
							   get_rel_name(rte->relid));
			rel = table_open(rte->relid, AccessShareLock);
			rls = rel->rd_rel->relrowsecurity;
			children = rel->rd_rel->relhassubclass;
			table_close(rel, AccessShareLock);
			if (rls)
				return ReasonF("table \"%s\" has row-level security: its delta would bypass the policies",
							   get_rel_name(rte->relid));
			if (!rte->inh && children)
				return ReasonF("the query reads ONLY \"%s\", whose delta log includes its children",
							   get_rel_name(rte->relid));
		}
	}
	return NULL;
}

/*
 * IvmShapeCheckPermissions
 *		The privilege checks running the query would make, for the current
 *		user: a delta query reads deltas, which carry no privileges, so a
 *		view whose owner lost SELECT on a source fails as its query would.
 */
void
IvmShapeCheckPermissions(IvmShape *shape)
{
	ListCell   *lc;

	foreach(lc, shape->branches)
	{
		IvmBranch  *br = lfirst(lc);
		ListCell   *lc2;

		IvmQueryCheckPermissions(br->query);
		foreach(lc2, br->semis)
			IvmQueryCheckPermissions(((IvmSemi *) lfirst(lc2))->sub);
	}
}
