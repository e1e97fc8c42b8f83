/*-------------------------------------------------------------------------
 *
 * join.c
 *		Select-project-join branches: whether a query is one (its semi
 *		joins taken out of its WHERE clause), its rows now, and its delta
 *		as the sum of its terms (the rule for a product: shape.c's header).
 *
 * A branch's factors are its relations, then the inner relation of each
 * semi join (semi.c); a term reads the delta of the factors whose bit is
 * set in its mask, the current contents of the others.  Three or more
 * relations joined by WHERE join in the order joinorder.c works out.
 *
 * Layer: operators: query trees in, SQL text out.  No SPI, no catalog
 * reads of its own; calls joinorder.c and the other operators.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"

#include "ivm.h"
#include "operators.h"
#include "shape_int.h"

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
 * IvmAnyVar
 *		Does an expression read a column, of any query level?
 */
bool
IvmAnyVar(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var) || IsA(node, PlaceHolderVar))
		return true;
	return expression_tree_walker(node, IvmAnyVar, context);
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

				/*
				 * A VALUES list of constants is a relation that never
				 * changes: it has no delta, and stays in every delta term
				 * as written.  One over the columns of other relations
				 * (LATERAL) or of an outer query is not.
				 */
				if (IvmAnyVar((Node *) rte->values_lists, NULL))
					return "the query reads a VALUES list over columns of its relations";
				if (contain_mutable_functions((Node *) rte->values_lists))
					return "the query reads a VALUES list that calls a function that is not immutable";
				if (checkExprHasSubLink((Node *) rte->values_lists))
					return "the query reads a VALUES list with a subquery";
				break;
			default:
				return "the query reads something other than tables and views";
		}
	}
	list_sort(*rels, list_int_cmp);
	/* (none: a constant, whose rows never change) */
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
 * IvmBranchSpj
 *		NULL when br->query is a select-project-join, its semi joins (taken
 *		out of its WHERE clause into br->semis) included; else why not.
 */
const char *
IvmBranchSpj(IvmBranch *br, IvmHiddenCtx *hc)
{
	const char *why;

	IvmScalarExtract(br->query, hc);
	why = IvmSemiExtract(br->query, &br->semis, hc);

	if (why == NULL)
		why = CheckSpj(br->query, &br->rels);
	if (why == NULL && br->rels == NIL && br->semis != NIL)
		why = "the query reads relations only in subquery expressions";
	if (why == NULL && list_length(br->rels) + list_length(br->semis) > IVM_MAX_RELATIONS)
		why = "the query joins more than 16 relations, semi joins included";
	return why;
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

/* ------------------------------------------------------------------------
 * SQL: a branch's rows now, and its delta
 * ------------------------------------------------------------------------
 */

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
 * IvmPartNewSql
 *		The SPJ part of an aggregate over the current contents: its
 *		branches' rows (an outer join's parts) together.
 */
char *
IvmPartNewSql(IvmShape *shape)
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
 * IvmSpjSql
 *		An SPJ shape's rows as they are now (no row hash): what its hidden
 *		views hold is read from them, not computed again.
 */
char *
IvmSpjSql(IvmShape *shape)
{
	Assert(shape->kind == IVM_KIND_SPJ);
	return shape->wants != NIL && !shape->missing_hidden
		? IvmPartNewSql(shape) : IvmDeparseQuery(shape->query);
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
 * TermSelectSql
 *		The SQL of a delta term over its query q (columns __ivm_c1..ncols,
 *		then the deltas' weights __ivm_w<n> of weights, then per semi join
 *		read as its delta, of semi_deltas, its counts): the columns, cast to
 *		the union's types, and the weight, the product of the deltas'
 *		(ndeltas of them: negated when even).  with: the term's WITH clause,
 *		or "".
 */
static char *
TermSelectSql(IvmShape *shape, IvmBranch *br, Query *q, const char *with, int ncols,
			  int ndeltas, List *weights, List *semi_deltas)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	if (with[0] != '\0')
		appendStringInfo(&buf, "SELECT * FROM (%s ", with);
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
	if (with[0] != '\0')
		appendStringInfoString(&buf, ") __ivm_s");
	return buf.data;
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

	/* three or more relations joined by WHERE: start from the delta */
	IvmTermJoinOrder(br, q, order_rels, order_mask);
	foreach(lc, left_joins)
		LeftJoinLast(q, intVal(linitial(lfirst(lc))), lsecond(lfirst(lc)));
	if (new_conds != NIL)
	{
		if (q->jointree->quals != NULL)
			new_conds = lcons(q->jointree->quals, new_conds);
		q->jointree->quals = (Node *) make_ands_explicit(new_conds);
		q->hasSubLinks = true;
	}

	return TermSelectSql(shape, br, q, with.data, ncols, ndeltas, weights, semi_deltas);
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
