/*-------------------------------------------------------------------------
 *
 * scalar.c
 *		Scalar subqueries in the WHERE clause, decorrelated into joins with
 *		hidden views.
 *
 * A condition of the WHERE clause that compares an expression with a
 * scalar subquery aggregating one relation's rows that match the outer row
 * by equalities:
 *
 *	  l_quantity < (SELECT 0.2 * avg(l2.l_quantity) FROM lineitem l2
 *					WHERE l2.l_partkey = p_partkey)
 *
 * is the same condition over a join with the subquery grouped by those
 * keys, kept as a hidden view (c1..ck the keys, c<k+1> the value):
 *
 *	  FROM ..., ivm._hidden_<n> h WHERE h.c1 = p_partkey AND l_quantity < h.c2
 *
 * when a missing group and the subquery's value agree: the subquery gives
 * NULL for an outer row no inner row matches, and so must its value over an
 * empty group (no count(); every function between the aggregates and the
 * value strict), and the comparison is strict (NULL rejects the row, as the
 * missing group does).  An uncorrelated subquery is a hidden view of one
 * row (an aggregate without GROUP BY always has one), joined without
 * condition; count() is fine there.  The hidden view is maintained by its
 * own delta rules, and the join by the join's: a change of the inner
 * relation reaches the outer rows through the groups it changed.
 *
 * Layer: operators (query trees in and out; no SPI).  Calls qtree.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_oper.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/lsyscache.h"

#include "ivm.h"

/* Is the value NULL whenever its aggregates are: strict all the way? */
static bool
NonStrictAboveAggs(Node *node, bool *counts)
{
	if (node == NULL)
		return false;
	if (IsA(node, Aggref))
	{
		char	   *name = get_func_name(((Aggref *) node)->aggfnoid);

		if (name != NULL && strcmp(name, "count") == 0)
			*counts = true;
		return false;			/* its arguments are the inner rows' */
	}
	if (IsA(node, Var) || IsA(node, Const) || IsA(node, Param))
		return false;
	if (IsA(node, FuncExpr))
	{
		if (!func_strict(((FuncExpr *) node)->funcid))
			return true;
	}
	else if (IsA(node, OpExpr))
	{
		if (!op_strict(((OpExpr *) node)->opno))
			return true;
	}
	else if (!IsA(node, RelabelType))
		return true;
	return expression_tree_walker(node, NonStrictAboveAggs, counts);
}

/*
 * Decorrelate
 *		For the scalar subquery sl of q's WHERE: what the hidden view holds
 *		(keys c1..ck, then the value), and the outer side of each key
 *		(Vars of q) with the equality joining it, in *outer and *ops; NULL
 *		when the subquery is not of that form.
 */
static Query *
Decorrelate(SubLink *sl, List **outer, List **ops)
{
	Query	   *sub = castNode(Query, sl->subselect);
	Query	   *holds;
	TargetEntry *value = NULL;
	List	   *local = NIL;
	List	   *tlist = NIL;
	List	   *group = NIL;
	ListCell   *lc;
	bool		counts = false;
	int			k = 0;

	*outer = NIL;
	*ops = NIL;
	if (!sub->hasAggs || sub->groupClause != NIL || sub->havingQual != NULL ||
		sub->groupingSets != NIL || sub->hasWindowFuncs || sub->hasTargetSRFs ||
		sub->setOperations != NULL || sub->cteList != NIL || sub->hasSubLinks ||
		sub->limitCount != NULL || sub->limitOffset != NULL || sub->distinctClause != NIL ||
		sub->rowMarks != NIL)
		return NULL;
	foreach(lc, sub->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		if (value != NULL)
			return NULL;
		value = tle;
	}
	if (value == NULL || contain_vars_of_level((Node *) value->expr, 1) ||
		NonStrictAboveAggs((Node *) value->expr, &counts))
		return NULL;

	holds = copyObject(sub);
	foreach(lc, make_ands_implicit((Expr *) holds->jointree->quals))
	{
		Node	   *c = lfirst(lc);
		OpExpr	   *op = IsA(c, OpExpr) ? (OpExpr *) c : NULL;
		Node	   *l;
		Node	   *r;
		Node	   *inner;
		Node	   *out;
		Oid			sortop;
		Oid			eqop;
		bool		hashable;

		if (!contain_vars_of_level(c, 1))
		{
			local = lappend(local, c);
			continue;
		}
		if (op == NULL || list_length(op->args) != 2 || contain_volatile_functions(c))
			return NULL;
		l = linitial(op->args);
		r = lsecond(op->args);
		if (contain_vars_of_level(l, 1) && !contain_vars_of_level(l, 0) &&
			contain_vars_of_level(r, 0) && !contain_vars_of_level(r, 1))
		{
			inner = r;
			out = l;
		}
		else if (contain_vars_of_level(r, 1) && !contain_vars_of_level(r, 0) &&
				 contain_vars_of_level(l, 0) && !contain_vars_of_level(l, 1))
		{
			inner = l;
			out = r;
		}
		else
			return NULL;
		if (!op_mergejoinable(op->opno, exprType(l)) && !op_hashjoinable(op->opno, exprType(l)))
			return NULL;
		if (pull_vars_of_level(out, 2) != NIL)
			return NULL;

		/* the key, shown and grouped by */
		k++;
		get_sort_group_operators(exprType(inner), true, true, false, &sortop, &eqop, NULL, &hashable);
		{
			TargetEntry *tle = makeTargetEntry((Expr *) copyObject(inner), k, psprintf("c%d", k), false);
			SortGroupClause *sgc = makeNode(SortGroupClause);

			tle->ressortgroupref = k;
			sgc->tleSortGroupRef = k;
			sgc->eqop = eqop;
			sgc->sortop = sortop;
			sgc->nulls_first = false;
			sgc->hashable = hashable;
			tlist = lappend(tlist, tle);
			group = lappend(group, sgc);
		}
		out = copyObject(out);
		IncrementVarSublevelsUp(out, -1, 1);
		*outer = lappend(*outer, out);
		*ops = lappend(*ops, op);
	}
	/* a missing group is NULL only where the value is NULL over no rows */
	if (k > 0 && counts)
		return NULL;
	value = flatCopyTargetEntry(value);
	value->resno = k + 1;
	value->resname = psprintf("c%d", k + 1);
	value->ressortgroupref = 0;
	holds->targetList = lappend(tlist, value);
	holds->groupClause = group;
	holds->jointree->quals = local == NIL ? NULL : (Node *) make_ands_explicit(local);
	holds->sortClause = NIL;
	return holds;
}

/*
 * AddHidden
 *		A reference in q to the hidden view relid (InvalidOid while it does
 *		not exist) holding holds' rows, joined by WHERE; its index.
 */
static int
AddHidden(Query *q, Query *holds, Oid relid)
{
	RangeTblRef *ref = makeNode(RangeTblRef);

	q->rtable = lappend(q->rtable,
						IvmHiddenRte(holds, relid, psprintf("__ivm_s%d", list_length(q->rtable) + 1)));
	ref->rtindex = list_length(q->rtable);
	q->jointree->fromlist = lappend(q->jointree->fromlist, ref);
	return ref->rtindex;
}

/* the scalar subquery that is a direct argument of a strict operator, or NULL */
static SubLink *
ScalarArgument(Node *conj, int *argno)
{
	OpExpr	   *op;
	ListCell   *lc;

	if (!IsA(conj, OpExpr))
		return NULL;
	op = (OpExpr *) conj;
	if (!op_strict(op->opno))
		return NULL;
	foreach(lc, op->args)
	{
		Node	   *arg = lfirst(lc);

		if (IsA(arg, SubLink) && ((SubLink *) arg)->subLinkType == EXPR_SUBLINK)
		{
			/* the other argument has no subquery of its own */
			if (checkExprHasSubLink(list_nth(op->args, 1 - foreach_current_index(lc))))
				return NULL;
			*argno = foreach_current_index(lc);
			return (SubLink *) arg;
		}
	}
	return NULL;
}

/*
 * IvmScalarExtract
 *		Rewrite each WHERE conjunct of q that compares with a scalar subquery
 *		of the form above into a join with the hidden view that holds the
 *		subquery grouped by its keys (claimed from hc).  q is changed; a
 *		conjunct of another form is left as it is.
 */
void
IvmScalarExtract(Query *q, IvmHiddenCtx *hc)
{
	List	   *conds;
	List	   *keep = NIL;
	ListCell   *lc;

	if (!q->hasSubLinks || q->jointree == NULL || q->jointree->quals == NULL ||
		q->setOperations != NULL)
		return;
	conds = make_ands_implicit((Expr *) q->jointree->quals);
	foreach(lc, conds)
	{
		Node	   *conj = lfirst(lc);
		int			argno;
		SubLink    *sl = ScalarArgument(conj, &argno);
		List	   *outer;
		List	   *ops;
		Query	   *holds;
		OpExpr	   *cmp;
		TargetEntry *value;
		int			h;
		ListCell   *lc2;
		ListCell   *lc3;
		int			k = 0;

		holds = sl != NULL ? Decorrelate(sl, &outer, &ops) : NULL;
		if (holds == NULL)
		{
			keep = lappend(keep, conj);
			continue;
		}
		h = AddHidden(q, holds, IvmHiddenClaim(hc, holds));

		/* the comparison, with the value read from the hidden view */
		value = llast_node(TargetEntry, holds->targetList);
		cmp = copyObject((OpExpr *) conj);
		list_nth_cell(cmp->args, argno)->ptr_value =
			makeVar(h, value->resno, exprType((Node *) value->expr), exprTypmod((Node *) value->expr),
					exprCollation((Node *) value->expr), 0);
		keep = lappend(keep, cmp);

		/* and each key's equality, the outer side as it was */
		forboth(lc2, outer, lc3, ops)
		{
			OpExpr	   *eq = copyObject((OpExpr *) lfirst(lc3));
			TargetEntry *key = list_nth_node(TargetEntry, holds->targetList, k);
			Var		   *kv = makeVar(h, key->resno, exprType((Node *) key->expr),
									 exprTypmod((Node *) key->expr), exprCollation((Node *) key->expr), 0);
			bool		outer_left = contain_vars_of_level(linitial(eq->args), 1);

			eq->args = outer_left ? list_make2(lfirst(lc2), kv) : list_make2(kv, lfirst(lc2));
			keep = lappend(keep, eq);
			k++;
		}
	}
	q->jointree->quals = keep == NIL ? NULL : (Node *) make_ands_explicit(keep);
	q->hasSubLinks = checkExprHasSubLink((Node *) q);
}
