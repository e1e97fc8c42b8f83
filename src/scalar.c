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

#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_oper.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/lsyscache.h"

#include "ivm.h"
#include "operators.h"

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
Decorrelate(SubLink *sl, bool counts_ok, List **outer, List **ops)
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
		(NonStrictAboveAggs((Node *) value->expr, &counts) && !counts_ok))
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
	if (k > 0 && counts && !counts_ok)
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

/* a Var of relation h reading the column of holds that tle is */
static Var *
HiddenColumn(int h, TargetEntry *tle)
{
	return makeVar(h, tle->resno, exprType((Node *) tle->expr), exprTypmod((Node *) tle->expr),
				   exprCollation((Node *) tle->expr), 0);
}

/*
 * KeyEqualities
 *		Each key's equality (ops, as Decorrelate found them) between its
 *		outer side (outer) and the hidden view h's key column, the outer side
 *		on the side it was written.
 */
static List *
KeyEqualities(Query *holds, int h, List *outer, List *ops)
{
	List	   *eqs = NIL;
	ListCell   *lc;
	ListCell   *lc2;

	forboth(lc, outer, lc2, ops)
	{
		OpExpr	   *eq = copyObject((OpExpr *) lfirst(lc2));
		Var		   *kv = HiddenColumn(h, list_nth_node(TargetEntry, holds->targetList,
													   foreach_current_index(lc)));
		bool		outer_left = contain_vars_of_level(linitial(eq->args), 1);

		eq->args = outer_left ? list_make2(lfirst(lc), kv) : list_make2(kv, lfirst(lc));
		eqs = lappend(eqs, eq);
	}
	return eqs;
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
						IvmHiddenRte(q, holds, relid, psprintf("__ivm_s%d", list_length(q->rtable) + 1)));
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

		holds = sl != NULL ? Decorrelate(sl, false, &outer, &ops) : NULL;
		if (holds == NULL)
		{
			keep = lappend(keep, conj);
			continue;
		}
		h = AddHidden(q, holds, IvmHiddenClaim(hc, holds));

		/* the comparison, with the value read from the hidden view */
		value = llast_node(TargetEntry, holds->targetList);
		cmp = copyObject((OpExpr *) conj);
		list_nth_cell(cmp->args, argno)->ptr_value = HiddenColumn(h, value);
		keep = lappend(keep, cmp);

		/* and each key's equality, the outer side as it was */
		keep = list_concat(keep, KeyEqualities(holds, h, outer, ops));
	}
	q->jointree->quals = keep == NIL ? NULL : (Node *) make_ands_explicit(keep);
	q->hasSubLinks = checkExprHasSubLink((Node *) q);
}

/* the value of an aggregate over no rows: 0 for count, else NULL */
static Node *
EmptyMutator(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Aggref))
	{
		Aggref	   *agg = (Aggref *) node;
		char	   *name = get_func_name(agg->aggfnoid);

		if (name != NULL && strcmp(name, "count") == 0 && agg->aggtype == INT8OID)
			return (Node *) makeConst(INT8OID, -1, InvalidOid, 8, Int64GetDatum(0), false, true);
		return (Node *) makeNullConst(agg->aggtype, -1, agg->aggcollid);
	}
	return expression_tree_mutator(node, EmptyMutator, context);
}

/*
 * IvmScalarSelectList
 *		Rewrite each column of q that is a scalar subquery of the form above
 *		into a read of the hidden view holding the subquery grouped by its
 *		keys: LEFT JOIN <hidden view> h ON the keys, the column CASE WHEN
 *		no group matched THEN the subquery's value over no rows (count() is
 *		0 there, so this form takes it) ELSE h's value END.  Uncorrelated, the
 *		one-row hidden view is joined without condition.  q is changed (its
 *		FROM list becomes one join); outer.c then splits the outer join.
 *		Columns of another form are left as they are.
 */
void
IvmScalarSelectList(Query *q, IvmHiddenCtx *hc)
{
	ListCell   *lc;

	if (!q->hasSubLinks || q->jointree == NULL || q->jointree->fromlist == NIL ||
		q->setOperations != NULL)
		return;
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		SubLink    *sl;
		List	   *outer;
		List	   *ops;
		Query	   *holds;
		RangeTblRef *ref;
		Node	   *chain = NULL;
		List	   *quals = NIL;
		TargetEntry *value;
		Var		   *hv;
		ListCell   *lc2;
		int			k;

		if (!IsA(tle->expr, SubLink) || ((SubLink *) tle->expr)->subLinkType != EXPR_SUBLINK)
			continue;
		sl = (SubLink *) tle->expr;
		holds = Decorrelate(sl, true, &outer, &ops);
		if (holds == NULL)
			continue;

		/* FROM <what q reads, joined> LEFT JOIN <hidden view> ON the keys */
		q->rtable = lappend(q->rtable,
							IvmHiddenRte(q, holds, IvmHiddenClaim(hc, holds),
										 psprintf("__ivm_s%d", list_length(q->rtable) + 1)));
		ref = makeNode(RangeTblRef);
		ref->rtindex = list_length(q->rtable);
		quals = KeyEqualities(holds, ref->rtindex, outer, ops);
		k = list_length(quals);
		foreach(lc2, q->jointree->fromlist)
			chain = chain == NULL ? lfirst(lc2) : (Node *) IvmJoinStep(q, chain, lfirst(lc2), JOIN_INNER, NULL);
		q->jointree->fromlist = list_make1(IvmJoinStep(q, chain, (Node *) ref,
													   k > 0 ? JOIN_LEFT : JOIN_INNER,
													   k > 0 ? (Node *) make_ands_explicit(quals) : NULL));

		/* the column: the group's value, or the value over no rows */
		value = llast_node(TargetEntry, holds->targetList);
		hv = HiddenColumn(ref->rtindex, value);
		if (k == 0)
			tle->expr = (Expr *) hv;
		else
		{
			CaseExpr   *ce = makeNode(CaseExpr);
			CaseWhen   *cw = makeNode(CaseWhen);
			TargetEntry *key = linitial_node(TargetEntry, holds->targetList);
			NullTest   *nt = makeNode(NullTest);

			nt->arg = (Expr *) HiddenColumn(ref->rtindex, key);
			nt->nulltesttype = IS_NULL;
			nt->location = -1;
			cw->expr = (Expr *) nt;
			cw->result = (Expr *) eval_const_expressions(NULL, EmptyMutator((Node *) copyObject(value->expr), NULL));
			cw->location = -1;
			ce->casetype = exprType((Node *) value->expr);
			ce->casecollid = exprCollation((Node *) value->expr);
			ce->args = list_make1(cw);
			ce->defresult = (Expr *) hv;
			ce->location = -1;
			tle->expr = (Expr *) ce;
		}
	}
	q->hasSubLinks = checkExprHasSubLink((Node *) q);
}
