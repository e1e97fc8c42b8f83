/*-------------------------------------------------------------------------
 *
 * semi.c
 *		Semi and anti joins: conditions EXISTS, NOT EXISTS, IN, NOT IN,
 *		op ANY and op ALL over a subquery, in the WHERE clause of a
 *		select-project-join part.
 *
 * Such a condition is a factor of each row's weight: e(r) is 1 when the
 * row passes it, 0 when not.  A branch's rows are the product of its
 * relations' multiplicities and its factors, so the rule for a product
 * (shape.c) applies to a factor as to a relation: the delta of the branch
 * sums terms in which some factors read their delta and the others their
 * current value.  A factor's current value is the condition as written.
 * Its delta, de(r) = e_new(r) - e_old(r), is -1, 0 or 1, and is not 0
 * only for rows the delta of the inner relation can reach:
 *
 *	  every condition is first written as EXISTS (SELECT 1 FROM inner
 *	  WHERE p) or NOT EXISTS (...), p holding the inner query's filter and
 *	  the correlation (SQL's NULL rules kept: x NOT IN (S) passes when no
 *	  row of S makes x = y true or unknown, so p is (x = y) IS NOT FALSE,
 *	  or x = y alone when neither side can be NULL);
 *	  e_new(r) = [n(r) > 0], n(r) = count of inner rows now satisfying p;
 *	  e_old(r) = [n(r) - d(r) > 0], d(r) = the sum of the weights of the
 *	  inner delta's rows satisfying p (old = now minus what the delta did).
 *
 * The rows a delta reaches are found by the equality conditions between
 * the outer row and the inner one (o.k = i.k): the inner delta's rows are
 * grouped by those keys, with the sum of their weights, into a relation
 * the term joins (the term starts from it, as from a delta); when every
 * correlated condition is such an equality, that sum is d(r) itself.
 * Otherwise d(r) is summed by a subquery over the delta for each reached
 * row, and without any equality every outer row is looked at.
 *
 * The inner query must read one relation (a table or incremental view)
 * and only filter it: no aggregate, LIMIT, set operation or nested
 * subquery expression.  Conditions under OR, in the select list or in
 * JOIN ... ON are not factors: such views are diffed.
 *
 * Layer: operators (query trees in, query trees and SQL text out; no SPI).
 * Calls qtree.c only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_aggregate.h"
#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "ivm.h"
#include "operators.h"

/* Replace the Params of a sublink's test by the inner query's outputs. */
static Node *
ParamsToOutputs(Node *node, List *tlist)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_SUBLINK)
	{
		Param	   *p = (Param *) node;
		TargetEntry *tle = get_tle_by_resno(tlist, p->paramid);

		if (tle == NULL)
			elog(ERROR, "ivm: subquery output %d not found", p->paramid);
		return (Node *) copyObject(tle->expr);
	}
	return expression_tree_mutator(node, ParamsToOutputs, tlist);
}

/* Is attno of relation relid declared NOT NULL? */
static bool
ColumnNotNull(Oid relid, AttrNumber attno)
{
	HeapTuple	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attno));
	bool		notnull = false;

	if (HeapTupleIsValid(tup))
	{
		notnull = ((Form_pg_attribute) GETSTRUCT(tup))->attnotnull;
		ReleaseSysCache(tup);
	}
	return notnull;
}

/*
 * NeverNull
 *		Is e (in the inner query, whose outer query is outer) a column that
 *		cannot be NULL: a NOT NULL column of a table, read through inner
 *		joins only?
 */
static bool
NeverNull(Node *e, Query *outer, Query *sub)
{
	Var		   *var;
	RangeTblEntry *rte;

	if (e == NULL || !IsA(e, Var))
		return false;
	var = (Var *) e;
	if (var->varlevelsup > 1 || var->varattno <= 0)
		return false;
	rte = rt_fetch(var->varno, var->varlevelsup == 0 ? sub->rtable : outer->rtable);
	return rte->rtekind == RTE_RELATION && ColumnNotNull(rte->relid, var->varattno);
}

/*
 * TestNeverNull
 *		Is a sublink's test (an operator, or an AND of operators for a row)
 *		never NULL: strict operators over columns that cannot be NULL?
 */
static bool
TestNeverNull(Node *test, Query *outer, Query *sub)
{
	if (IsA(test, BoolExpr) && ((BoolExpr *) test)->boolop == AND_EXPR)
	{
		ListCell   *lc;

		foreach(lc, ((BoolExpr *) test)->args)
			if (!TestNeverNull(lfirst(lc), outer, sub))
				return false;
		return true;
	}
	if (IsA(test, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) test;
		ListCell   *lc;

		if (!op_strict(op->opno))
			return false;
		foreach(lc, op->args)
			if (!NeverNull(lfirst(lc), outer, sub))
				return false;
		return true;
	}
	return false;
}

static Node *
MakeBoolTest(Node *arg, BoolTestType type)
{
	BooleanTest *b = makeNode(BooleanTest);

	b->arg = (Expr *) arg;
	b->booltesttype = type;
	b->location = -1;
	return (Node *) b;
}

/* Is this a Var of the given level reading a whole row or system column? */
static bool
OddVarOfLevels(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
		return ((Var *) node)->varattno <= 0;
	return expression_tree_walker(node, OddVarOfLevels, context);
}

/*
 * Keys
 *		Sort the conjuncts of the semi's normalised filter: equalities between
 *		an expression of the outer row and one of the inner row become keys,
 *		the conjuncts reading the inner row alone are its local filter.
 */
static void
Keys(IvmSemi *semi)
{
	List	   *conds = make_ands_implicit((Expr *) semi->sub->jointree->quals);
	ListCell   *lc;
	bool		other = false;

	foreach(lc, conds)
	{
		Node	   *c = lfirst(lc);
		bool		outer = contain_vars_of_level(c, 1);

		if (!outer)
		{
			semi->local = lappend(semi->local, c);
			continue;
		}
		if (IsA(c, OpExpr) && list_length(((OpExpr *) c)->args) == 2)
		{
			OpExpr	   *op = (OpExpr *) c;
			Node	   *l = linitial(op->args);
			Node	   *r = lsecond(op->args);
			int			inner = -1;

			if (contain_vars_of_level(l, 1) && !contain_vars_of_level(l, 0) &&
				contain_vars_of_level(r, 0) && !contain_vars_of_level(r, 1))
				inner = 1;
			else if (contain_vars_of_level(r, 1) && !contain_vars_of_level(r, 0) &&
					 contain_vars_of_level(l, 0) && !contain_vars_of_level(l, 1))
				inner = 0;
			if (inner >= 0 && !contain_volatile_functions(c) &&
				(op_mergejoinable(op->opno, exprType(l)) || op_hashjoinable(op->opno, exprType(l))))
			{
				semi->keys = lappend(semi->keys, op);
				semi->key_inner = lappend_int(semi->key_inner, inner);
				continue;
			}
			/* one inner <> outer: what matches the keys, less what is equal */
			if (inner >= 0 && semi->neq == NULL && !contain_volatile_functions(c) &&
				op_strict(op->opno) && OidIsValid(get_negator(op->opno)) &&
				(op_mergejoinable(get_negator(op->opno), exprType(l)) ||
				 op_hashjoinable(get_negator(op->opno), exprType(l))))
			{
				semi->neq = op;
				semi->neq_inner = inner;
				continue;
			}
		}
		other = true;
	}
	semi->keyed = semi->keys != NIL && !other;
	if (semi->neq != NULL && !semi->keyed)
		semi->neq = NULL;		/* not of that form: summed per row */
}

/*
 * SemiOf
 *		The semi join a WHERE conjunct of q stands for, or NULL with *why set.
 */
/*
 * HiddenScan
 *		SELECT c1, ..., cn FROM hidden: the subquery sub as read from the
 *		hidden view that holds its rows (relid, or InvalidOid before it
 *		exists).
 */
static Query *
HiddenScan(Query *sub, Oid relid)
{
	Query	   *q = makeNode(Query);
	RangeTblRef *ref = makeNode(RangeTblRef);
	ListCell   *lc;
	int			i = 0;

	foreach(lc, sub->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Var		   *var;

		if (tle->resjunk)
			continue;
		i++;
		var = makeVar(1, i, exprType((Node *) tle->expr), exprTypmod((Node *) tle->expr),
					  exprCollation((Node *) tle->expr), 0);
		q->targetList = lappend(q->targetList, makeTargetEntry((Expr *) var, i, psprintf("c%d", i), false));
	}
	ref->rtindex = 1;
	q->commandType = CMD_SELECT;
	q->querySource = QSRC_ORIGINAL;
	q->canSetTag = true;
	q->rtable = list_make1(IvmHiddenRte(q, sub, relid, "__ivm_h"));
	q->jointree = makeFromExpr(list_make1(ref), NULL);
	return q;
}

/*
 * HiddenHolds
 *		What the hidden view of a subquery holds: its columns (for EXISTS,
 *		whose select list does not matter and may be empty, one constant),
 *		then its grouping keys it does not show (a grouped view shows its
 *		keys; a semi join reads the first columns and only asks whether a
 *		row matches, so more rows per value change nothing), the rest of its
 *		select list as junk; for EXISTS, no DISTINCT or ORDER BY, which
 *		change no existence.
 */
static Query *
HiddenHolds(Query *subselect, bool exists)
{
	Query	   *holds = copyObject(subselect);
	List	   *tlist = NIL;
	List	   *junk = NIL;
	List	   *groupkeys = NIL;
	ListCell   *lc;

	foreach(lc, holds->groupClause)
		groupkeys = lappend_int(groupkeys, (int) lfirst_node(SortGroupClause, lc)->tleSortGroupRef);
	if (exists)
		tlist = list_make1(makeTargetEntry((Expr *) makeConst(INT4OID, -1, InvalidOid, 4,
															  Int32GetDatum(1), false, true),
										   1, "one", false));
	foreach(lc, holds->targetList)
		if (!exists && !lfirst_node(TargetEntry, lc)->resjunk)
			tlist = lappend(tlist, lfirst(lc));
	foreach(lc, holds->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (list_member_ptr(tlist, tle))
			continue;
		tle->resjunk = tle->ressortgroupref == 0 ||
			!list_member_int(groupkeys, (int) tle->ressortgroupref);
		if (tle->resjunk)
			junk = lappend(junk, tle);
		else
			tlist = lappend(tlist, tle);
	}
	tlist = list_concat(tlist, junk);
	foreach(lc, tlist)
		lfirst_node(TargetEntry, lc)->resno = foreach_current_index(lc) + 1;
	holds->targetList = tlist;
	if (exists)
	{
		holds->sortClause = NIL;
		holds->distinctClause = NIL;
		holds->hasDistinctOn = false;
	}
	return holds;
}

static IvmSemi *
SemiOf(Query *q, Node *conj, IvmHiddenCtx *hc, const char **why)
{
	bool		negated = false;
	Node	   *node = conj;
	SubLink    *sl;
	Query	   *sub;
	Node	   *test = NULL;
	Node	   *pred = NULL;
	RangeTblEntry *rte;
	IvmSemi    *semi;
	bool		hidden = false;
	Oid			hidden_relid = InvalidOid;
	Query	   *holds;

	if (is_notclause(node))
	{
		negated = true;
		node = (Node *) get_notclausearg((Expr *) node);
	}
	if (!IsA(node, SubLink))
	{
		*why = "the query uses a subquery expression other than a condition of its WHERE clause (EXISTS, IN, op ANY/ALL, maybe under NOT, joined by AND)";
		return NULL;
	}
	sl = (SubLink *) node;
	if (sl->subLinkType != EXISTS_SUBLINK && sl->subLinkType != ANY_SUBLINK &&
		sl->subLinkType != ALL_SUBLINK)
	{
		*why = "the query uses a scalar or array subquery";
		return NULL;
	}
	sub = copyObject(castNode(Query, sl->subselect));
	if (sub->cteList != NIL || sub->hasRecursive)
		*why = "a subquery of its WHERE clause uses WITH";
	else if (sub->hasSubLinks || (sl->testexpr != NULL && checkExprHasSubLink(sl->testexpr)))
		*why = "a subquery of its WHERE clause has subquery expressions of its own";
	else if (sub->hasAggs || sub->groupClause != NIL || sub->havingQual != NULL ||
			 sub->groupingSets != NIL)
		*why = "a subquery of its WHERE clause aggregates";
	else if (sub->hasWindowFuncs || sub->hasTargetSRFs)
		*why = "a subquery of its WHERE clause uses a window or set-returning function";
	else if (sub->limitCount != NULL || sub->limitOffset != NULL || sub->hasDistinctOn)
		*why = "a subquery of its WHERE clause uses LIMIT, OFFSET or DISTINCT ON";
	else if (sub->setOperations != NULL)
		*why = "a subquery of its WHERE clause uses a set operation";
	else if (list_length(sub->jointree->fromlist) != 1 ||
			 !IsA(linitial(sub->jointree->fromlist), RangeTblRef))
		*why = "a subquery of its WHERE clause reads more than one relation";
	else
	{
		rte = rt_fetch(((RangeTblRef *) linitial(sub->jointree->fromlist))->rtindex, sub->rtable);
		*why = rte->rtekind != RTE_RELATION || rte->tablesample != NULL
			? "a subquery of its WHERE clause reads something other than a table or view" : NULL;
	}
	if (*why != NULL)
	{
		/*
		 * Not a filter of one relation: uncorrelated, it is a hidden view of
		 * its own (maintained by whatever rules its shape has), and the
		 * condition reads that view.
		 */
		if (contain_vars_of_level((Node *) sub, 1) ||
			(sl->testexpr != NULL && checkExprHasSubLink(sl->testexpr)) ||
			(sub->rowMarks != NIL))
			return NULL;
		holds = HiddenHolds(castNode(Query, sl->subselect), sl->subLinkType == EXISTS_SUBLINK);
		hidden_relid = IvmHiddenClaim(hc, holds);
		sub = HiddenScan(holds, hidden_relid);
		hidden = true;
		*why = NULL;
	}
	rte = rt_fetch(((RangeTblRef *) linitial(sub->jointree->fromlist))->rtindex, sub->rtable);

	/* the test of IN / ANY / ALL, over the inner row and the outer one */
	if (sl->testexpr != NULL)
	{
		test = copyObject(sl->testexpr);
		IncrementVarSublevelsUp(test, 1, 0);
		test = ParamsToOutputs(test, sub->targetList);
	}

	semi = palloc0(sizeof(IvmSemi));
	semi->cond = conj;
	semi->relid = hidden ? hidden_relid : rte->relid;
	semi->inner = ((RangeTblRef *) linitial(sub->jointree->fromlist))->rtindex;
	switch (sl->subLinkType)
	{
		case EXISTS_SUBLINK:
			semi->anti = negated;
			break;
		case ANY_SUBLINK:
			/* NOT (x op ANY S): no row of S makes x op y true or unknown */
			semi->anti = negated;
			pred = !negated || TestNeverNull(test, q, sub) ? test : MakeBoolTest(test, IS_NOT_FALSE);
			break;
		case ALL_SUBLINK:
			/* x op ALL S: no row of S makes x op y false or unknown */
			/* NOT (x op ALL S): some row makes it false */
			semi->anti = !negated;
			pred = TestNeverNull(test, q, sub) ? (Node *) make_notclause((Expr *) test)
				: MakeBoolTest(test, negated ? IS_FALSE : IS_NOT_TRUE);
			break;
		default:
			break;
	}
	if (pred != NULL)
		sub->jointree->quals = sub->jointree->quals == NULL ? pred
			: (Node *) make_and_qual(sub->jointree->quals, pred);
	sub->targetList = list_make1(makeTargetEntry((Expr *) makeConst(INT4OID, -1, InvalidOid, 4,
																	Int32GetDatum(1), false, true),
												 1, "one", false));
	sub->distinctClause = NIL;
	sub->sortClause = NIL;
	sub->hasDistinctOn = false;
	semi->sub = sub;

	if (expression_tree_walker((Node *) sub->jointree, OddVarOfLevels, NULL))
	{
		*why = "a subquery of its WHERE clause reads a whole row or a system column";
		return NULL;
	}
	{
		List	   *outer = pull_vars_of_level((Node *) sub, 1);
		ListCell   *lc;

		foreach(lc, outer)
		{
			Var		   *v = lfirst(lc);

			if (v->varattno <= 0)
			{
				*why = "a subquery of its WHERE clause reads a whole row or a system column";
				return NULL;
			}
		}
		if (pull_vars_of_level((Node *) sub, 2) != NIL)
		{
			*why = "a subquery of its WHERE clause reads a query further out";
			return NULL;
		}
	}
	Keys(semi);

	/* as written, the condition would run the subquery: read its hidden view */
	if (hidden)
	{
		SubLink    *exists = makeNode(SubLink);

		exists->subLinkType = EXISTS_SUBLINK;
		exists->subselect = (Node *) copyObject(sub);
		exists->location = -1;
		semi->cond = semi->anti ? (Node *) make_notclause((Expr *) exists) : (Node *) exists;
	}
	return semi;
}

/*
 * IvmSemiExtract
 *		Take the semi and anti joins out of q's WHERE clause (q is changed:
 *		its WHERE keeps the other conjuncts) into *semis.  NULL, or why the
 *		query's subquery expressions have no delta rule.
 */
const char *
IvmSemiExtract(Query *q, List **semis, IvmHiddenCtx *hc)
{
	List	   *keep = NIL;
	ListCell   *lc;

	*semis = NIL;
	if (!q->hasSubLinks || q->jointree == NULL || q->jointree->quals == NULL)
		return NULL;
	foreach(lc, make_ands_implicit((Expr *) q->jointree->quals))
	{
		Node	   *conj = lfirst(lc);
		IvmSemi    *semi;
		const char *why;

		if (!checkExprHasSubLink(conj))
		{
			keep = lappend(keep, conj);
			continue;
		}
		semi = SemiOf(q, conj, hc, &why);
		if (semi == NULL)
			return why;
		*semis = lappend(*semis, semi);
	}
	q->jointree->quals = keep == NIL ? NULL : (Node *) make_ands_explicit(keep);
	q->hasSubLinks = checkExprHasSubLink((Node *) q);
	return NULL;
}

/* An EXPR sublink returning agg over sub: count(*), or sum(weight) */
static Node *
AggSubLink(Query *sub, Oid fnoid, Oid restype, Expr *arg)
{
	Aggref	   *agg = makeNode(Aggref);
	SubLink    *sl = makeNode(SubLink);

	agg->aggfnoid = fnoid;
	agg->aggtype = restype;
	agg->aggcollid = InvalidOid;
	agg->inputcollid = InvalidOid;
	agg->aggtranstype = InvalidOid;
	agg->aggargtypes = arg != NULL ? list_make1_oid(exprType((Node *) arg)) : NIL;
	agg->args = arg != NULL ? list_make1(makeTargetEntry(arg, 1, NULL, false)) : NIL;
	agg->aggstar = (arg == NULL);
	agg->aggkind = AGGKIND_NORMAL;
	agg->agglevelsup = 0;
	agg->aggsplit = AGGSPLIT_SIMPLE;
	agg->aggno = -1;
	agg->aggtransno = -1;
	agg->location = -1;

	sub->targetList = list_make1(makeTargetEntry((Expr *) agg, 1, "n", false));
	sub->hasAggs = true;
	sl->subLinkType = EXPR_SUBLINK;
	sl->subLinkId = 0;
	sl->subselect = (Node *) sub;
	sl->location = -1;
	return (Node *) sl;
}

/*
 * IvmSemiCountNow
 *		count(*) of the inner rows satisfying the filter now: n(r).  With
 *		cap_rt (the range table index of the grouped inner delta a keyed
 *		semi joins, IvmSemiAddTouch), counted up to its __ivm_cap rows only,
 *		max(d(r), 0) + 1: past that both n(r) > 0 and n(r) - d(r) > 0 hold,
 *		as they do for the true count, so the rule's result is the same and
 *		an outer row with many inner rows stops after a few.
 */
Node *
IvmSemiCountNow(IvmSemi *semi, int cap_rt)
{
	Query	   *inner;
	Query	   *wrap;
	RangeTblEntry *rte;
	RangeTblRef *ref;

	if (cap_rt == 0)
		return AggSubLink(copyObject(semi->sub), F_COUNT_, INT8OID, NULL);

	/* SELECT count(*) FROM (SELECT 1 FROM inner WHERE filter LIMIT cap) s */
	inner = copyObject(semi->sub);
	inner->targetList = list_make1(makeTargetEntry((Expr *) makeConst(INT4OID, -1, InvalidOid, sizeof(int32),
																	   Int32GetDatum(1), false, true),
												   1, "one", false));
	IncrementVarSublevelsUp((Node *) inner, 1, 1);
	inner->limitCount = (Node *) makeVar(cap_rt, list_length(semi->keys) + 2, INT8OID, -1, InvalidOid, 2);
	inner->limitOption = LIMIT_OPTION_COUNT;

	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_SUBQUERY;
	rte->subquery = inner;
	rte->eref = makeAlias("__ivm_c", list_make1(makeString(pstrdup("one"))));
	rte->inFromCl = true;
	ref = makeNode(RangeTblRef);
	ref->rtindex = 1;
	wrap = makeNode(Query);
	wrap->commandType = CMD_SELECT;
	wrap->querySource = QSRC_ORIGINAL;
	wrap->canSetTag = true;
	wrap->rtable = list_make1(rte);
	wrap->jointree = makeFromExpr(list_make1(ref), NULL);
	return AggSubLink(wrap, F_COUNT_, INT8OID, NULL);
}

/* the inner relation's columns the semi's filter reads (pull_varattnos offsets) */
Bitmapset *
IvmSemiInnerColumns(IvmSemi *semi)
{
	Bitmapset  *used = NULL;

	pull_varattnos((Node *) semi->sub->jointree, semi->inner, &used);
	return used;
}

/* add to *used the columns of the outer relation rtindex the semi reads */
void
IvmSemiOuterColumns(IvmSemi *semi, int rtindex, Bitmapset **used)
{
	ListCell   *lc;

	foreach(lc, pull_vars_of_level((Node *) semi->sub, 1))
	{
		Var		   *v = lfirst(lc);

		if (v->varno == rtindex)
			*used = bms_add_member(*used, v->varattno - FirstLowInvalidHeapAttributeNumber);
	}
}

/*
 * IvmSemiDeltaSum
 *		d(r) as a subquery: the sum of the weights of the inner delta's rows
 *		satisfying the filter (NULL when none).  NULL when the delta lacks a
 *		column the filter reads.
 */
Node *
IvmSemiDeltaSum(IvmSemi *semi, const char *enrname, TupleDesc enrdesc)
{
	Query	   *sub = copyObject(semi->sub);
	RangeTblEntry *rte = rt_fetch(semi->inner, sub->rtable);
	Oid			wtype;
	int			natts = list_length(rte->eref->colnames);

	if (!IvmReadDelta(rte, IvmSemiInnerColumns(semi), enrname, enrdesc, &wtype))
		return NULL;
	if (wtype != INT4OID && wtype != INT8OID)
		return NULL;
	return AggSubLink(sub, wtype == INT4OID ? F_SUM_INT4 : F_SUM_INT8,
					  wtype == INT4OID ? INT8OID : NUMERICOID,
					  (Expr *) makeVar(semi->inner, natts + 1, wtype, -1, InvalidOid, 0));
}

/*
 * IvmSemiTouchSql
 *		The rows of the inner delta that satisfy the local filter, grouped by
 *		the inner side of each key: columns __ivm_k1.., then __ivm_sw, the
 *		sum of their weights (numeric).  NULL when the delta lacks a column.
 */
char *
IvmSemiTouchSql(IvmSemi *semi, const char *enrname, TupleDesc enrdesc, bool by_neq)
{
	Query	   *sub = copyObject(semi->sub);
	RangeTblEntry *rte = rt_fetch(semi->inner, sub->rtable);
	Bitmapset  *used = NULL;
	List	   *tlist = NIL;
	StringInfoData buf;
	ListCell   *lc;
	ListCell   *lc2;
	Oid			wtype;
	int			natts = list_length(rte->eref->colnames);
	int			k = 0;

	List	   *keys = list_copy(semi->keys);
	List	   *key_inner = list_copy(semi->key_inner);
	List	   *local = list_copy(semi->local);

	/*
	 * With an inner <> outer condition: the rows whose inner side of it is
	 * not NULL (they may pass it), or (by_neq) those rows by that side too.
	 */
	if (semi->neq != NULL)
	{
		Node	   *ineq = list_nth(semi->neq->args, semi->neq_inner);
		NullTest   *nt = makeNode(NullTest);

		nt->arg = (Expr *) copyObject(ineq);
		nt->nulltesttype = IS_NOT_NULL;
		nt->location = -1;
		local = lappend(local, nt);
		if (by_neq)
		{
			keys = lappend(keys, semi->neq);
			key_inner = lappend_int(key_inner, semi->neq_inner);
		}
	}
	sub->jointree->quals = local == NIL ? NULL : (Node *) make_ands_explicit(copyObject(local));
	forboth(lc, keys, lc2, key_inner)
	{
		Node	   *inner = list_nth(((OpExpr *) lfirst(lc))->args, lfirst_int(lc2));

		k++;
		tlist = lappend(tlist, makeTargetEntry((Expr *) copyObject(inner), k,
											   psprintf("__ivm_k%d", k), false));
		pull_varattnos(inner, semi->inner, &used);
	}
	pull_varattnos((Node *) sub->jointree, semi->inner, &used);
	if (!IvmReadDelta(rte, used, enrname, enrdesc, &wtype))
		return NULL;
	tlist = lappend(tlist, makeTargetEntry((Expr *) makeVar(semi->inner, natts + 1, wtype, -1, InvalidOid, 0),
										   k + 1, "__ivm_w", false));
	sub->targetList = tlist;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	for (int i = 1; i <= k; i++)
		appendStringInfo(&buf, "s.__ivm_k%d, ", i);
	appendStringInfo(&buf, "pg_catalog.sum(s.__ivm_w::pg_catalog.int8) AS __ivm_sw, "
					 "(GREATEST(pg_catalog.sum(s.__ivm_w::pg_catalog.int8), 0::pg_catalog.numeric) "
					 "OPERATOR(pg_catalog.+) 1)::pg_catalog.int8 AS __ivm_cap FROM (%s) s GROUP BY ",
					 IvmDeparseQuery(sub));
	for (int i = 1; i <= k; i++)
		appendStringInfo(&buf, "%s%d", i == 1 ? "" : ", ", i);
	return buf.data;
}

/*
 * IvmSemiAddTouch
 *		Add to q (a term of the branch the semi belongs to) a reference to
 *		the grouped inner delta, named ctename (IvmSemiTouchSql's text, in a
 *		WITH the caller writes), and the keys' equalities joining it to the
 *		outer row, ANDed to q's WHERE.  Returns its range table index.
 */
int
IvmSemiAddTouch(Query *q, IvmSemi *semi, const char *ctename, bool by_neq, Node **quals)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	RangeTblRef *ref = makeNode(RangeTblRef);
	List	   *colnames = NIL;
	List	   *conds = NIL;
	ListCell   *lc;
	ListCell   *lc2;
	int			rtindex;
	int			k = 0;

	List	   *keys = list_copy(semi->keys);
	List	   *key_inner = list_copy(semi->key_inner);

	if (by_neq)
	{
		/* joined by the negator of <>: the rows equal to the outer side */
		OpExpr	   *eq = copyObject(semi->neq);

		eq->opno = get_negator(semi->neq->opno);
		eq->opfuncid = get_opcode(eq->opno);
		keys = lappend(keys, eq);
		key_inner = lappend_int(key_inner, semi->neq_inner);
	}
	for (int i = 1; i <= list_length(keys); i++)
		colnames = lappend(colnames, makeString(psprintf("__ivm_k%d", i)));
	colnames = lappend(colnames, makeString(pstrdup("__ivm_sw")));
	colnames = lappend(colnames, makeString(pstrdup("__ivm_cap")));
	rte->rtekind = RTE_CTE;
	rte->ctename = pstrdup(ctename);
	rte->ctelevelsup = 0;
	rte->self_reference = false;
	rte->eref = makeAlias(ctename, colnames);
	rte->alias = NULL;
	rte->inFromCl = true;
	q->rtable = lappend(q->rtable, rte);
	rtindex = list_length(q->rtable);
	ref->rtindex = rtindex;
	if (!by_neq)
		q->jointree->fromlist = lappend(q->jointree->fromlist, ref);

	forboth(lc, keys, lc2, key_inner)
	{
		OpExpr	   *op = copyObject((OpExpr *) lfirst(lc));
		int			inner = lfirst_int(lc2);
		Node	   *iexpr = list_nth(op->args, inner);
		Node	   *oexpr = list_nth(op->args, 1 - inner);
		Var		   *kvar = makeVar(rtindex, ++k, exprType(iexpr), exprTypmod(iexpr),
								   exprCollation(iexpr), 0);

		IncrementVarSublevelsUp(oexpr, -1, 1);
		op->args = inner == 0 ? list_make2(kvar, oexpr) : list_make2(oexpr, kvar);
		conds = lappend(conds, op);
	}
	if (by_neq)
		*quals = (Node *) make_ands_explicit(conds);	/* the caller's LEFT JOIN's */
	else
		q->jointree->quals = q->jointree->quals == NULL
			? (Node *) make_ands_explicit(conds)
			: (Node *) make_and_qual(q->jointree->quals, (Node *) make_ands_explicit(conds));
	return rtindex;
}

/* NULL test of the outer side of the semi's <> condition (a Var of the branch) */
Node *
IvmSemiNeqOuterIsNull(IvmSemi *semi)
{
	NullTest   *nt = makeNode(NullTest);
	Node	   *outer = copyObject(list_nth(semi->neq->args, 1 - semi->neq_inner));

	IncrementVarSublevelsUp(outer, -1, 1);
	nt->arg = (Expr *) outer;
	nt->nulltesttype = IS_NULL;
	nt->location = -1;
	return (Node *) nt;
}
