/*-------------------------------------------------------------------------
 *
 * shape.c
 *		Which views delta rules can maintain, and the SQL of those rules:
 *		the driver.  AnalyzeShape reads a query's outermost operator and
 *		calls one function per operator; the operators' own analysis and
 *		SQL are in join.c (select-project-join branches and their delta
 *		terms), joinorder.c (the order a delta term joins in) and agg.c
 *		(aggregates and DISTINCT), and in topk.c, window.c, semi.c,
 *		outer.c, scalar.c and recursive.c (WITH RECURSIVE, whose loop is
 *		fixpoint.c's).
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
 * as a chain of CROSS JOINs that starts from its delta (joinorder.c),
 * which the tick keeps under join_collapse_limit = 1.
 *
 * A semi join is one more factor of a branch's product: a term reads
 * either its condition as written or its delta (semi.c says how).
 *
 * Layer: operators: query trees in, SQL text out.  No SPI; it calls
 * nothing of ivm but the other operators (a caller passes what it must
 * know of ivm's catalog, such as which relations are incremental views).
 * Within the operators the calls go one way: shape.c calls join.c and
 * agg.c, agg.c calls join.c, join.c calls joinorder.c.  Catalog reads
 * (no SPI): IvmShapeCheckRelations opens the relations a shape reads.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_class.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "port/pg_bitutils.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#include "ivm.h"
#include "operators.h"
#include "shape_int.h"

static IvmShape *AnalyzeShape(Query *query, IvmHiddenCtx *hc);

/*
 * ValuesOnly
 *		The VALUES list of sub when sub is nothing else (SELECT its columns,
 *		in order, FROM it alone) and reads no column: PostgreSQL writes
 *		(VALUES ...) v(k, name) in FROM as such a subquery.  Else NULL.
 */
static RangeTblEntry *
ValuesOnly(Query *sub)
{
	RangeTblEntry *values;
	int			rtindex;
	int			attno = 0;
	ListCell   *lc;

	if (sub == NULL || sub->commandType != CMD_SELECT || sub->setOperations != NULL ||
		sub->hasAggs || sub->hasWindowFuncs || sub->hasTargetSRFs || sub->hasSubLinks ||
		sub->cteList != NIL || sub->distinctClause != NIL || sub->groupClause != NIL ||
		sub->havingQual != NULL || sub->sortClause != NIL || sub->limitCount != NULL ||
		sub->limitOffset != NULL || sub->rowMarks != NIL || sub->jointree == NULL ||
		sub->jointree->quals != NULL || list_length(sub->jointree->fromlist) != 1 ||
		!IsA(linitial(sub->jointree->fromlist), RangeTblRef))
		return NULL;
	rtindex = ((RangeTblRef *) linitial(sub->jointree->fromlist))->rtindex;
	values = rt_fetch(rtindex, sub->rtable);
	if (values->rtekind != RTE_VALUES || values->lateral ||
		IvmAnyVar((Node *) values->values_lists, NULL))
		return NULL;
	foreach(lc, sub->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Var		   *var = (Var *) tle->expr;

		if (tle->resjunk || !IsA(var, Var) || var->varlevelsup != 0 ||
			var->varno != rtindex || var->varattno != ++attno)
			return NULL;
	}
	return attno == list_length(values->coltypes) ? values : NULL;
}

/*
 * ValuesInJoins
 *		Each subquery joined by an inner JOIN (at any depth of inner joins)
 *		that is only a VALUES list of constants becomes that VALUES list,
 *		under the same name and column names: a constant relation the delta
 *		rules join as it is (join.c), where a subquery would be a hidden
 *		view of its own.  (One alone in FROM is flattened when the view is
 *		declared; one on the nullable side of an outer join stays a hidden
 *		view, as outer joins want.)  q is changed.
 */
static void
ValuesInJoins(Query *q, Node *node, bool joined)
{
	RangeTblEntry *rte;
	RangeTblEntry *values;

	if (node == NULL)
		return;
	if (IsA(node, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) node)->fromlist)
			ValuesInJoins(q, lfirst(lc), false);
		return;
	}
	if (IsA(node, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) node;

		ValuesInJoins(q, j->larg, j->jointype == JOIN_INNER);
		ValuesInJoins(q, j->rarg, j->jointype == JOIN_INNER);
		return;
	}
	rte = rt_fetch(((RangeTblRef *) node)->rtindex, q->rtable);
	if (!joined || rte->rtekind != RTE_SUBQUERY || rte->lateral ||
		(values = ValuesOnly(rte->subquery)) == NULL)
		return;
	rte->rtekind = RTE_VALUES;
	rte->values_lists = copyObject(values->values_lists);
	rte->coltypes = list_copy(values->coltypes);
	rte->coltypmods = list_copy(values->coltypmods);
	rte->colcollations = list_copy(values->colcollations);
	rte->subquery = NULL;
	rte->security_barrier = false;
}

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

	ValuesInJoins(q, (Node *) q->jointree, false);
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
		why = IvmBranchSpj(br, hc);
		if (why != NULL)
			return why;
		*branches = lappend(*branches, br);
	}
	return why;
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
 * AnalyzeTopk
 *		ORDER BY ... LIMIT: the rest is a hidden view, with its own shape.
 */
static IvmShape *
AnalyzeTopk(Query *query, IvmHiddenCtx *hc, IvmShape *shape)
{
	const char *why = IvmTopkAnalyze(query, &shape->topk);

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

/*
 * AnalyzeWindow
 *		Window functions, DISTINCT ON: their rows are a hidden view, with its
 *		own shape.
 */
static IvmShape *
AnalyzeWindow(Query *query, IvmHiddenCtx *hc, IvmShape *shape)
{
	const char *why;
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

/*
 * AnalyzeUnionAll
 *		A UNION ALL of SPJ branches (a branch that aggregates read as a
 *		hidden view).
 */
static IvmShape *
AnalyzeUnionAll(Query *query, IvmHiddenCtx *hc, IvmShape *shape)
{
	const char *why = NULL;
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

/*
 * AnalyzeAgg
 *		GROUP BY, aggregates, SELECT DISTINCT: the keys and aggregates
 *		(agg.c), over an SPJ part.
 */
static IvmShape *
AnalyzeAgg(Query *query, IvmHiddenCtx *hc, IvmShape *shape)
{
	bool		distinct = query->distinctClause != NIL;
	List	   *keyrefs = NIL;
	const char *why;
	ListCell   *lc;

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

	why = IvmAggColumns(shape, query, keyrefs, distinct);
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
	why = SplitBranches(IvmAggPart(shape, query), hc, &shape->branches);
	if (why != NULL)
	{
		shape->branches = NIL;
		shape->reason = (char *) why;
		return shape;
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

/*
 * AnalyzeSpj
 *		Filters, projections, joins (outer joins as branches): the query's
 *		SPJ branches.
 */
static IvmShape *
AnalyzeSpj(Query *query, IvmHiddenCtx *hc, IvmShape *shape)
{
	const char *why = SplitBranches(copyObject(query), hc, &shape->branches);

	if (why != NULL)
	{
		shape->branches = NIL;
		shape->reason = (char *) why;
		return shape;
	}
	shape->kind = IVM_KIND_SPJ;
	shape->reason = list_length(shape->branches) == 1 &&
		((IvmBranch *) linitial(shape->branches))->rels == NIL &&
		((IvmBranch *) linitial(shape->branches))->semis == NIL
		? "a constant: the query reads no table or view, so its rows never change (filled once, never maintained)"
		: list_length(shape->branches) > 1
		? "outer join: the inner join's rows and each side's unmatched rows (an anti join), padded with NULLs, as branches whose deltas pass through"
		: list_length(((IvmBranch *) linitial(shape->branches))->rels) > 1
		? "join: the delta of each changed relation joins the others' current contents (dA*B + A*dB - dA*dB)"
		: "filter and projection: each delta row passes through";
	return shape;
}

/*
 * AnalyzeRecursive
 *		WITH RECURSIVE: its terms (recursive.c), each a branch that reads
 *		its relation, so that the tick finds their deltas and checks them;
 *		a query that does more than read the recursive relation reads it
 *		as a hidden view, with the rules of its own shape.
 */
static IvmShape *
AnalyzeRecursive(Query *query, IvmHiddenCtx *hc, IvmShape *shape)
{
	IvmRecursive *rec = NULL;
	const char *why = IvmRecursiveAnalyze(query, &rec);
	IvmBranch  *base;
	IvmBranch  *step;

	if (why != NULL)
	{
		/* a query over the recursive relation: that relation is a hidden view */
		Query	   *over = IvmRecursiveHide(query, hc, &why);
		IvmShape   *outer;

		if (over == NULL)
		{
			shape->reason = (char *) why;
			return shape;
		}
		outer = AnalyzeShape(over, hc);
		if (outer->kind == IVM_KIND_DIFF)
		{
			shape->reason = ReasonF("the query over its WITH RECURSIVE relation has no delta rules (%s)",
									outer->reason);
			return shape;
		}
		outer->query = query;
		outer->reason = psprintf("WITH RECURSIVE: its relation is a hidden view kept by delete and rederive and semi-naive insertion, and the query over it is maintained from its delta (%s)",
								 outer->reason);
		return outer;
	}
	base = palloc0(sizeof(IvmBranch));
	base->query = rec->base;
	if (rec->brel != 0)
		base->rels = list_make1_int(rec->brel);
	step = palloc0(sizeof(IvmBranch));
	step->query = rec->step;
	if (rec->erel != 0)
		step->rels = list_make1_int(rec->erel);
	shape->branches = list_make2(base, step);
	shape->recursive = rec;
	shape->kind = IVM_KIND_RECURSIVE;
	shape->reason = "WITH RECURSIVE (UNION): its rows are kept by delete and rederive (the rows derived from deleted rows are deleted, round by round, and those still derivable come back) and semi-naive insertion (each round joins only the rows the previous one added)";
	return shape;
}

/*
 * AnalyzeShape
 *		Work out the shape of a view's (analysed, unrewritten) query: the
 *		operator at its top decides which function reads it.
 */
static IvmShape *
AnalyzeShape(Query *query, IvmHiddenCtx *hc)
{
	IvmShape   *shape = palloc0(sizeof(IvmShape));
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
		return AnalyzeRecursive(query, hc, shape);
	if (query->sortClause != NIL && (query->limitCount != NULL || query->limitOffset != NULL))
		return AnalyzeTopk(query, hc, shape);
	if (query->hasWindowFuncs || query->hasDistinctOn)
		return AnalyzeWindow(query, hc, shape);
	if (query->setOperations != NULL)
		return AnalyzeUnionAll(query, hc, shape);
	if (query->hasAggs || query->groupClause != NIL || query->distinctClause != NIL)
		return AnalyzeAgg(query, hc, shape);
	return AnalyzeSpj(query, hc, shape);
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

	initStringInfo(&buf);
	if (shape->kind == IVM_KIND_DIFF)
	{
		appendStringInfo(&buf, "SELECT * FROM %s", def_name);
		return buf.data;
	}
	if (shape->kind == IVM_KIND_WINDOW)
		return shape->missing_hidden
			? psprintf("SELECT * FROM %s", def_name) : IvmWindowSql(shape->window, NULL);
	if (shape->kind == IVM_KIND_RECURSIVE)
	{
		/* the query's rows (a set), each with its hash, as SPJ storage */
		appendStringInfo(&buf, "SELECT q.*, ivm.row_hash(q.*) AS %s FROM %s q",
						 IVM_HASH_COLUMN, def_name);
		return buf.data;
	}
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
	return IvmAggFullSql(shape, storage_rel);
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
