/*-------------------------------------------------------------------------
 *
 * outer.c
 *		Outer joins, rewritten as inner joins and anti joins.
 *
 * A left join's rows are those of the inner join, plus each row of its
 * left side that no row of its right side matches, padded with NULLs:
 *
 *	  L LEFT JOIN S ON c  =  L JOIN S ON c
 *						 UNION ALL
 *						 L, with S's columns NULL,
 *						   WHERE NOT EXISTS (SELECT 1 FROM S WHERE c)
 *
 * and a full join has the third part of S's unmatched rows.  Each part is
 * a select-project-join with an anti join, which have delta rules (shape.c,
 * semi.c), so an outer join's delta is the sum of its parts' deltas: a
 * change of S reaches the rows of L its keys match, which move between the
 * padded part and the joined one as their count of matches leaves or
 * reaches 0.  A view over outer joins is read as a UNION ALL of such
 * branches (several outer joins: every combination), its aggregate, if
 * any, over all of them.
 *
 * The nullable side must be one relation (a table, an incremental view, or
 * a hidden view: shape.c makes a subquery in FROM one), since the anti
 * join's subquery reads one relation.  The outer join must not itself be
 * under the nullable side of another: the parts are found from the top of
 * the FROM clause, through inner joins and the preserved sides of outer
 * joins, where filtering the preserved side's rows is the same above the
 * join as below it.  Columns of join aliases (USING, a named join) are
 * first replaced by the columns they stand for.
 *
 * Layer: operators (query trees in and out; no SPI).  Calls nothing of
 * ivm.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"

#include "ivm.h"
#include "operators.h"

/* at most this many branches come out of a query's outer joins */
#define IVM_MAX_OUTER_BRANCHES 16

/*
 * FindOuter
 *		The first outer join reached from node through inner joins and the
 *		preserved sides of outer joins: its address in *where (the list cell
 *		or join side holding it).  NULL when there is none.
 */
static JoinExpr *
FindOuter(Node **where, Node ***found)
{
	Node	   *node = *where;

	if (node == NULL)
		return NULL;
	if (IsA(node, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) node)->fromlist)
		{
			JoinExpr   *j = FindOuter((Node **) &lfirst(lc), found);

			if (j != NULL)
				return j;
		}
		return NULL;
	}
	if (IsA(node, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) node;
		JoinExpr   *inner;

		if (j->jointype != JOIN_INNER)
		{
			*found = where;
			return j;
		}
		inner = FindOuter(&j->larg, found);
		return inner != NULL ? inner : FindOuter(&j->rarg, found);
	}
	return NULL;
}

/* every reference to a join's column replaced by the column it stands for */
static void
FlattenJoinAliases(Query *q)
{
	q->targetList = (List *) IvmFlattenJoinAliases(q, (Node *) q->targetList);
	q->jointree = (FromExpr *) IvmFlattenJoinAliases(q, (Node *) q->jointree);
	q->havingQual = IvmFlattenJoinAliases(q, q->havingQual);
}

/* the Vars of relation varno in cond: of the subquery's one relation */
static Node *
ToInnerMutator(Node *node, int *varno)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0)
	{
		Var		   *var = copyObject((Var *) node);

		if (var->varno == *varno)
			var->varno = var->varnosyn = 1;
		else
			var->varlevelsup = 1;
		return (Node *) var;
	}
	return expression_tree_mutator(node, ToInnerMutator, varno);
}

/*
 * AntiJoin
 *		NOT EXISTS (SELECT 1 FROM <relation varno of q> WHERE cond), cond
 *		read with that relation inside and the others outside.
 */
static Node *
AntiJoin(Query *q, int varno, Node *cond)
{
	Query	   *sub = makeNode(Query);
	SubLink    *sl = makeNode(SubLink);
	RangeTblRef *ref = makeNode(RangeTblRef);
	RangeTblEntry *rte = copyObject(rt_fetch(varno, q->rtable));

	rte->lateral = false;
	rte->inFromCl = true;
	ref->rtindex = 1;
	sub->commandType = CMD_SELECT;
	sub->querySource = QSRC_ORIGINAL;
	sub->canSetTag = true;
	IvmQueryAppendRte(sub, rte, q);
	sub->jointree = makeFromExpr(list_make1(ref), ToInnerMutator(copyObject(cond), &varno));
	sub->targetList = list_make1(makeTargetEntry((Expr *) makeConst(INT4OID, -1, InvalidOid, 4,
																	Int32GetDatum(1), false, true),
												 1, "one", false));
	sl->subLinkType = EXISTS_SUBLINK;
	sl->subselect = (Node *) sub;
	sl->location = -1;
	return (Node *) make_notclause((Expr *) sl);
}

/*
 * Padded
 *		q with the outer join at *where replaced by its preserved side
 *		(keep), the rows of it that no row of the nullable relation varno
 *		matches, and that relation's columns NULL.
 */
static Query *
Padded(Query *q, Node **where, JoinExpr *j, Node *keep, int varno)
{
	Node	   *saved = *where;
	Query	   *out;
	Node	   *anti;

	anti = AntiJoin(q, varno, j->quals);
	*where = keep;
	out = copyObject(q);
	*where = saved;

	/* the join is gone: its entry reads nothing (the deparser skips it) */
	if (j->rtindex > 0)
	{
		RangeTblEntry *gone = rt_fetch(j->rtindex, out->rtable);
		ListCell   *lc;

		/* a join above it names the columns it stood for instead */
		foreach(lc, out->rtable)
		{
			RangeTblEntry *above = lfirst(lc);
			ListCell   *lc2;

			if (above == gone || above->rtekind != RTE_JOIN)
				continue;
			foreach(lc2, above->joinaliasvars)
			{
				Var		   *v = lfirst(lc2);

				if (v != NULL && IsA(v, Var) && v->varno == j->rtindex && v->varlevelsup == 0 &&
					v->varattno > 0 && v->varattno <= list_length(gone->joinaliasvars))
					lfirst(lc2) = copyObject(list_nth(gone->joinaliasvars, v->varattno - 1));
			}
		}

		gone->rtekind = RTE_RESULT;
		gone->jointype = JOIN_INNER;
		gone->joinmergedcols = 0;
		gone->joinaliasvars = NIL;
		gone->joinleftcols = NIL;
		gone->joinrightcols = NIL;
		gone->join_using_alias = NULL;
		gone->eref = makeAlias(gone->eref->aliasname, NIL);
		gone->alias = NULL;
	}

	IvmReplaceRelationVars(out, varno, NIL, REPLACEVARS_SUBSTITUTE_NULL);
	out->jointree->quals = make_and_qual(out->jointree->quals, anti);
	out->hasSubLinks = true;
	return out;
}

/* the relation a side of an outer join is, or 0 when it is a join */
static int
SideRelation(Query *q, Node *side)
{
	if (!IsA(side, RangeTblRef))
		return 0;
	return rt_fetch(((RangeTblRef *) side)->rtindex, q->rtable)->rtekind == RTE_RELATION
		? ((RangeTblRef *) side)->rtindex : 0;
}

/*
 * SplitOne
 *		q's parts, appended to *out, until none has an outer join.  NULL,
 *		or why an outer join of q has no delta rule.
 */
static const char *
SplitOne(Query *q, List **out)
{
	Node	  **where = NULL;
	JoinExpr   *j = FindOuter((Node **) &q->jointree, &where);
	JoinExpr   *inner;
	Query	   *joined;
	List	   *parts = NIL;
	ListCell   *lc;

	if (j == NULL)
	{
		*out = lappend(*out, q);
		return list_length(*out) > IVM_MAX_OUTER_BRANCHES
			? "the query's outer joins make more than 16 inner and anti join parts" : NULL;
	}
	if (j->quals != NULL && checkExprHasSubLink(j->quals))
		return "an outer join's ON condition has a subquery expression";

	/* the matched rows: an inner join */
	inner = copyObject(j);
	inner->jointype = JOIN_INNER;
	inner->usingClause = NIL;
	inner->join_using_alias = NULL;
	inner->alias = NULL;
	if (inner->quals == NULL)
		inner->quals = (Node *) makeBoolConst(true, false);
	{
		Node	   *saved = *where;

		*where = (Node *) inner;
		joined = copyObject(q);
		*where = saved;
	}
	parts = lappend(parts, joined);

	/* the unmatched rows of each preserved side, padded */
	if (j->jointype == JOIN_LEFT || j->jointype == JOIN_FULL)
	{
		int			s = SideRelation(q, j->rarg);

		if (s == 0)
			return "an outer join's nullable side is a join or a subquery (only one table or view has a delta rule there)";
		parts = lappend(parts, Padded(q, where, j, j->larg, s));
	}
	if (j->jointype == JOIN_RIGHT || j->jointype == JOIN_FULL)
	{
		int			s = SideRelation(q, j->larg);

		if (s == 0)
			return "an outer join's nullable side is a join or a subquery (only one table or view has a delta rule there)";
		parts = lappend(parts, Padded(q, where, j, j->rarg, s));
	}
	if (j->jointype != JOIN_LEFT && j->jointype != JOIN_RIGHT && j->jointype != JOIN_FULL)
		return "the query uses a join other than inner, left, right and full";

	foreach(lc, parts)
	{
		const char *why = SplitOne(lfirst_node(Query, lc), out);

		if (why != NULL)
			return why;
	}
	return NULL;
}

/*
 * IvmOuterSplit
 *		Queries, none with an outer join, whose UNION ALL returns q's rows
 *		(q itself, alone, when it has none).  NULL and *why when an outer
 *		join of q has no such form.
 */
List *
IvmOuterSplit(Query *q, const char **why)
{
	List	   *out = NIL;
	Node	  **where = NULL;

	*why = NULL;
	if (q->jointree == NULL || FindOuter((Node **) &q->jointree, &where) == NULL)
		return list_make1(q);
	q = copyObject(q);
	FlattenJoinAliases(q);
	*why = SplitOne(q, &out);
	return *why == NULL ? out : NIL;
}
