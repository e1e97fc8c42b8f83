/*-------------------------------------------------------------------------
 *
 * window.c
 *		Window functions: a view whose select list calls window functions
 *		that all partition their rows alike (PARTITION BY the same columns),
 *		and SELECT DISTINCT ON, whose partitions are its keys.
 *
 * A window function's value for a row depends on the rows of its
 * partition only, so a change reaches the partitions it touches and no
 * other: those are computed again, and the rest stays.  The rows the
 * windows read (the query's FROM and WHERE, with the columns its select
 * list and windows use, and the values of the windows' ORDER BY
 * expressions, so that those are computed once per row) are kept in a
 * hidden view, maintained by their own delta rules, with an index on the
 * partition columns; the view is the
 * window query over that hidden view.  A tick in which the hidden view
 * changed takes the partition keys of its delta, reads those partitions'
 * rows of the hidden view, computes their windows again and applies the
 * difference with the rows the view holds for them (the diff strategy,
 * restricted to them: diff.c), at a cost that follows the partitions
 * touched, not the data.  A partition emptied loses its rows; one filled
 * again gets them back.
 *
 * SELECT DISTINCT ON (k) ... ORDER BY k, x keeps the first row of each k
 * in that order: a partition's row depends on its rows only, and it is
 * maintained the same way (the query's ORDER BY kept, as it picks the row).
 *
 * The partition columns must be columns of the query's relations, shown
 * by the view (so its stored rows can be found by partition), compared as
 * their type's default equality does, NULLs equal (as PARTITION BY takes
 * them).  Windows without PARTITION BY have one partition, which every
 * change touches: a tick in which the hidden view changed computes them
 * again over all its rows (from the hidden view, not from the tables and
 * joins under it) and applies the difference.  Windows partitioned
 * differently are diffed.
 *
 * Layer: operators (query trees in, SQL text out; no SPI).  Calls qtree.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_operator.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/tlist.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "ivm.h"
#include "operators.h"

/* 1-based position of a Var equal to var in vars, or 0 */
static int
VarPosition(List *vars, Var *var)
{
	ListCell   *lc;

	foreach(lc, vars)
	{
		Var		   *v = lfirst(lc);

		if (v->varno == var->varno && v->varattno == var->varattno)
			return foreach_current_index(lc) + 1;
	}
	return 0;
}

/*
 * What the hidden view holds: the columns the windows read (vars), then the
 * values of the windows' ORDER BY expressions that are not plain columns
 * (exprs), computed once per row by its delta rules rather than at every
 * tick that reads the row again (a distance between two vectors, say; and
 * the columns under it are not kept).
 */
typedef struct HiddenCols
{
	List	   *vars;
	List	   *exprs;
} HiddenCols;

/* 1-based position of an expression equal to node in exprs, or 0 */
static int
ExprPosition(List *exprs, Node *node)
{
	ListCell   *lc;

	foreach(lc, exprs)
		if (equal(lfirst(lc), node))
			return foreach_current_index(lc) + 1;
	return 0;
}

/* the columns of level 0 a node reads outside hc's exprs, once each, into hc */
static bool
VarsWalker(Node *node, HiddenCols *hc)
{
	if (node == NULL)
		return false;
	if (ExprPosition(hc->exprs, node) > 0)
		return false;
	if (IsA(node, Var))
	{
		if (((Var *) node)->varlevelsup == 0 && VarPosition(hc->vars, (Var *) node) == 0)
			hc->vars = lappend(hc->vars, node);
		return false;
	}
	return expression_tree_walker(node, VarsWalker, hc);
}

/* Vars of relation 1, the hidden view, in place of the query's columns and exprs */
static Node *
ToHiddenMutator(Node *node, HiddenCols *hc)
{
	int			e;

	if (node == NULL)
		return NULL;
	if ((e = ExprPosition(hc->exprs, node)) > 0)
		return (Node *) makeVar(1, list_length(hc->vars) + e, exprType(node), exprTypmod(node),
								exprCollation(node), 0);
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0)
	{
		Var		   *var = (Var *) node;

		return (Node *) makeVar(1, VarPosition(hc->vars, var), var->vartype, var->vartypmod,
								var->varcollid, 0);
	}
	return expression_tree_mutator(node, ToHiddenMutator, hc);
}

/*
 * IvmWindowAnalyze
 *		Whether query's windows have a delta rule; if so *out says what the
 *		hidden view holds and how the view reads it (relid: the hidden view,
 *		InvalidOid while it does not exist).  NULL, or why not.
 */
const char *
IvmWindowAnalyze(Query *query, Oid relid, IvmWindow **out)
{
	IvmWindow  *w;
	WindowClause *first;
	List	   *partition;
	Query	   *inner;
	Query	   *outer;
	HiddenCols	hc = {NIL, NIL};
	List	   *tlist = NIL;
	ListCell   *lc;
	ListCell   *lc2;
	int			col;

	*out = NULL;
	if (query->hasAggs || query->groupClause != NIL || query->havingQual != NULL ||
		query->groupingSets != NIL)
		return "the query uses window functions or DISTINCT ON together with GROUP BY or aggregates";
	if ((query->distinctClause != NIL && !query->hasDistinctOn) || query->setOperations != NULL ||
		query->hasTargetSRFs || query->limitCount != NULL || query->limitOffset != NULL ||
		query->cteList != NIL)
		return "the query uses window functions or DISTINCT ON together with DISTINCT, a set operation, a set-returning function, LIMIT or WITH";
	if (checkExprHasSubLink((Node *) query->targetList))
		return "the query uses window functions or DISTINCT ON together with a subquery in its select list";
	if (query->hasDistinctOn && query->hasWindowFuncs)
		return "the query uses window functions together with DISTINCT ON";

	/* DISTINCT ON (k): one row per k, the first of its rows in the query's order */
	if (query->hasDistinctOn)
		partition = query->distinctClause;
	else
	{
		if (query->windowClause == NIL)
			return "the query uses window functions without a window";
		first = linitial_node(WindowClause, query->windowClause);
		partition = first->partitionClause;
		/* no PARTITION BY: one partition, which every change touches */
	}

	/* every window partitions alike, by columns the view shows */
	foreach(lc, query->hasDistinctOn ? NIL : query->windowClause)
	{
		WindowClause *wc = lfirst_node(WindowClause, lc);
		ListCell   *a;
		ListCell   *b;

		if (list_length(wc->partitionClause) != list_length(first->partitionClause))
			return "the query's windows partition their rows differently";
		forboth(a, wc->partitionClause, b, first->partitionClause)
		{
			Node	   *ea = get_sortgroupclause_expr(lfirst(a), query->targetList);
			Node	   *eb = get_sortgroupclause_expr(lfirst(b), query->targetList);

			if (!equal(ea, eb))
				return "the query's windows partition their rows differently";
		}
	}

	w = palloc0(sizeof(IvmWindow));
	/* the windows' ORDER BY expressions, then the columns read besides */
	foreach(lc, query->hasDistinctOn ? NIL : query->windowClause)
	{
		WindowClause *wc = lfirst_node(WindowClause, lc);

		foreach(lc2, wc->orderClause)
		{
			Node	   *e = get_sortgroupclause_expr(lfirst(lc2), query->targetList);

			if (!IsA(e, Var) && ExprPosition(hc.exprs, e) == 0)
				hc.exprs = lappend(hc.exprs, e);
		}
	}
	(void) VarsWalker((Node *) query->targetList, &hc);
	if (!query->hasDistinctOn && linitial_node(WindowClause, query->windowClause)->orderClause != NIL)
	{
		SortGroupClause *sgc = linitial(linitial_node(WindowClause, query->windowClause)->orderClause);
		Node	   *e = get_sortgroupclause_expr(sgc, query->targetList);

		w->ordersgc = sgc;
		w->orderkey = IsA(e, Var) ? VarPosition(hc.vars, (Var *) e)
			: list_length(hc.vars) + ExprPosition(hc.exprs, e);
	}
	foreach(lc, partition)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *key = get_sortgroupclause_tle(sgc, query->targetList);
		int			visible = -1;

		if (!IsA(key->expr, Var) || ((Var *) key->expr)->varlevelsup != 0)
			return "a window or DISTINCT ON partitions by an expression (only by columns has a delta rule)";
		/* the view's column showing it */
		col = 0;
		foreach(lc2, query->targetList)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc2);

			if (tle->resjunk)
				continue;
			if (equal(tle->expr, key->expr))
			{
				visible = col;
				break;
			}
			col++;
		}
		if (visible < 0)
			return "a window or DISTINCT ON partitions by a column the view does not show";
		if (!OidIsValid(sgc->eqop) || !op_hashjoinable(sgc->eqop, exprType((Node *) key->expr)))
			return "a window or DISTINCT ON partitions by a column whose type has no hashable equality";
		w->keycols = lappend_int(w->keycols, visible);
		w->hkeys = lappend_int(w->hkeys, VarPosition(hc.vars, (Var *) key->expr));
		w->eqops = lappend_oid(w->eqops, sgc->eqop);
	}

	/* the hidden view: the query's rows, each column its windows read */
	inner = copyObject(query);
	foreach(lc, list_concat_copy(hc.vars, hc.exprs))
		tlist = lappend(tlist, makeTargetEntry((Expr *) copyObject(lfirst(lc)), list_length(tlist) + 1,
											   psprintf("c%d", list_length(tlist) + 1), false));
	inner->targetList = tlist;
	inner->windowClause = NIL;
	inner->sortClause = NIL;
	inner->distinctClause = NIL;
	inner->hasDistinctOn = false;
	inner->hasWindowFuncs = false;

	/* the view: its windows over the hidden view */
	outer = copyObject(query);
	IvmQueryForgetRtable(outer);
	outer->rtable = list_make1(IvmHiddenRte(outer, inner, relid, "__ivm_w"));
	outer->jointree = makeFromExpr(list_make1(makeNode(RangeTblRef)), NULL);
	((RangeTblRef *) linitial(outer->jointree->fromlist))->rtindex = 1;
	outer->targetList = (List *) ToHiddenMutator((Node *) outer->targetList, &hc);
	if (!query->hasDistinctOn)
		outer->sortClause = NIL;	/* (DISTINCT ON needs it: which row is first) */
	outer->hasSubLinks = false;
	outer->rowMarks = NIL;

	w->inner = inner;
	w->outer = outer;
	*out = w;
	return NULL;
}

/*
 * TouchedCondition
 *		EXISTS (a row of the delta enrname whose partition columns equal, NULLs
 *		alike, the columns targets names: one SQL expression per partition
 *		column, in order).  Without partition columns: any row of the delta.
 */
static char *
TouchedCondition(IvmWindow *w, const char *enrname, List *targets)
{
	StringInfoData buf;
	ListCell   *lc;
	ListCell   *lc2;
	ListCell   *lc3;

	initStringInfo(&buf);
	appendStringInfo(&buf, "EXISTS (SELECT 1 FROM %s d%s", quote_identifier(enrname),
					 w->hkeys != NIL ? " WHERE " : "");
	forthree(lc, w->hkeys, lc2, w->eqops, lc3, targets)
	{
		int			k = lfirst_int(lc);
		const char *t = strVal(lfirst(lc3));

		if (foreach_current_index(lc) > 0)
			appendStringInfoString(&buf, " AND ");
		appendStringInfo(&buf, "(d.c%d %s %s OR (d.c%d IS NULL AND %s IS NULL))",
						 k, IvmOperatorSql(lfirst_oid(lc2)), t, k, t);
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * IvmWindowSql
 *		The view's rows, as its storage holds them: of every partition, or
 *		(enrname given: the ephemeral relation of the hidden view's delta)
 *		of the partitions that delta touches.
 */
char *
IvmWindowSql(IvmWindow *w, const char *enrname)
{
	Query	   *q = copyObject(w->outer);
	RangeTblEntry *rte;
	List	   *targets = NIL;
	ListCell   *lc;

	if (enrname == NULL)
		return IvmDeparseQuery(q);

	/* the hidden view read through a CTE of the touched partitions' rows */
	rte = linitial_node(RangeTblEntry, q->rtable);
	foreach(lc, w->hkeys)
		targets = lappend(targets, makeString(psprintf("h.c%d", lfirst_int(lc))));
	{
		char	   *hidden = psprintf("%s.%s", quote_identifier(get_namespace_name(get_rel_namespace(rte->relid))),
									  quote_identifier(get_rel_name(rte->relid)));

		rte->rtekind = RTE_CTE;
		rte->ctename = pstrdup("__ivm_touched");
		rte->ctelevelsup = 0;
		rte->self_reference = false;
		rte->relid = InvalidOid;
		rte->relkind = 0;
		IvmRteRequireNothing(rte);
		return psprintf("WITH __ivm_touched AS (SELECT h.* FROM %s h WHERE %s) %s",
						hidden, TouchedCondition(w, enrname, targets), IvmDeparseQuery(q));
	}
}

/*
 * IvmWindowStoredFilter
 *		A condition over the view's stored row (alias s, its columns named
 *		colnames) that holds for the rows of the partitions the hidden
 *		view's delta (ephemeral relation enrname) touches.
 */
char *
IvmWindowStoredFilter(IvmWindow *w, const char *enrname, List *colnames)
{
	List	   *targets = NIL;
	ListCell   *lc;

	foreach(lc, w->keycols)
		targets = lappend(targets,
						  makeString(psprintf("s.%s", quote_identifier(strVal(list_nth(colnames, lfirst_int(lc)))))));
	return TouchedCondition(w, enrname, targets);
}

/*
 * IvmWindowRankFilter
 *		Whether query reads one subquery in FROM, a window query, and
 *		nothing else that would be a hidden view (no subquery expression, no
 *		WITH, no window, top-k or DISTINCT ON of its own), and keeps only the
 *		rows of it whose column *col (1-based) is at most *k, by a conjunct
 *		of its WHERE clause "col <= k" or "col < k + 1" between integers:
 *		the filter of the k first rows per partition over a row_number() or
 *		rank() (IvmWindowMargin says whether the column is one).
 */
bool
IvmWindowRankFilter(Query *query, int *col, int64 *k)
{
	int			sub = 0;
	ListCell   *lc;

	/* (so that the window is the one hidden view the query reads) */
	if (query->setOperations != NULL || query->jointree == NULL || query->hasSubLinks ||
		query->cteList != NIL || query->hasWindowFuncs || query->hasDistinctOn ||
		query->limitCount != NULL || query->limitOffset != NULL)
		return false;
	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_SUBQUERY)
		{
			if (sub != 0 || rte->subquery == NULL || !rte->subquery->hasWindowFuncs)
				return false;
			sub = foreach_current_index(lc) + 1;
		}
	}
	if (sub == 0)
		return false;
	foreach(lc, make_ands_implicit((Expr *) query->jointree->quals))
	{
		OpExpr	   *op = lfirst(lc);
		Var		   *var;
		Const	   *c;
		int64		bound;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2 ||
			!IsA(linitial(op->args), Var) || !IsA(lsecond(op->args), Const))
			continue;
		var = linitial(op->args);
		c = lsecond(op->args);
		if (var->varno != sub || var->varlevelsup != 0 || var->vartype != INT8OID || c->constisnull)
			continue;
		switch (c->consttype)
		{
			case INT8OID:
				bound = DatumGetInt64(c->constvalue);
				break;
			case INT4OID:
				bound = DatumGetInt32(c->constvalue);
				break;
			case INT2OID:
				bound = DatumGetInt16(c->constvalue);
				break;
			default:
				continue;
		}
		/* bigint's own <= and < with an integer of any width */
		if (op->opfuncid == F_INT8LE || op->opfuncid == F_INT84LE || op->opfuncid == F_INT82LE)
			;
		else if (op->opfuncid == F_INT8LT || op->opfuncid == F_INT84LT || op->opfuncid == F_INT82LT)
			bound--;
		else
			continue;
		if (bound < 1)
			continue;
		*col = var->varattno;
		*k = bound;
		return true;
	}
	return false;
}

/*
 * IvmWindowMargin
 *		Whether the hidden view of the window query query (what IvmWindowAnalyze
 *		makes of it) may hold a prefix of each partition's rows (topk.c: the
 *		margin, per partition), when a view reads only the rows of query whose
 *		column col is at most k; if so, that top-k per partition, over the
 *		hidden view's columns.  It may when every window function of query is
 *		row_number() or rank() over one window, column col is one of them,
 *		the window has PARTITION BY one column and an ORDER BY: a row's rank
 *		then depends on the rows before it only, and the first k rows of a
 *		partition, with every row tied with the k-th, are among the rows of
 *		the prefix by the first ORDER BY key (ties included) once it holds
 *		k rows.  Else NULL.
 */
IvmTopk *
IvmWindowMargin(Query *query, int col, int64 k)
{
	IvmWindow  *w;
	IvmTopk    *t;
	TargetEntry *tle;
	List	   *funcs;
	ListCell   *lc;

	if (!query->hasWindowFuncs || list_length(query->windowClause) != 1 ||
		IvmWindowAnalyze(query, InvalidOid, &w) != NULL ||
		list_length(w->hkeys) != 1 || w->orderkey == 0)
		return NULL;
	tle = get_tle_by_resno(query->targetList, col);
	if (tle == NULL || tle->resjunk || !IsA(tle->expr, WindowFunc))
		return NULL;
	funcs = pull_var_clause((Node *) query->targetList, PVC_INCLUDE_WINDOWFUNCS);
	foreach(lc, funcs)
	{
		WindowFunc *wf = lfirst(lc);

		if (IsA(wf, WindowFunc) &&
			(wf->winfnoid != F_ROW_NUMBER && wf->winfnoid != F_RANK_))
			return NULL;
	}
	t = palloc0(sizeof(IvmTopk));
	t->need = k;
	t->keycol = w->orderkey;
	t->keyop = type_is_rowtype(exprType(get_sortgroupclause_expr(w->ordersgc, query->targetList)))
		? InvalidOid : w->ordersgc->sortop;
	t->keynullsfirst = w->ordersgc->nulls_first;
	t->partcol = linitial_int(w->hkeys);
	t->parteq = linitial_oid(w->eqops);
	/* (a row value "IS NULL" when all its fields are: no margin by it) */
	if (type_is_rowtype(exprType((Node *) ((TargetEntry *) list_nth(w->inner->targetList, t->partcol - 1))->expr)))
		return NULL;
	return t;
}
