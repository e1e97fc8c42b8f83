/*-------------------------------------------------------------------------
 *
 * route.c
 *		Partitioned views: which column of each table a delta row is routed
 *		by, so that a shard of the view is maintained from its own share of
 *		every delta.
 *
 * A view partitioned on column k keeps its storage hash-partitioned on k.
 * Shard s holds the view's rows whose k hashes to s.  Those rows come only
 * from rows of the tables whose routing column (a column equal to k in every
 * row the query joins: k's own, or one joined to it by "=") hashes to s, so
 * shard s can be maintained from the delta rows so routed, alone: every
 * term of its delta query (a table's delta joined with the others' rows)
 * yields rows of shard s only, and all of them.  The same holds for an
 * aggregate grouped by k: a group lives in one shard and its inputs come
 * from that shard's delta rows.
 *
 * What a partitioned view may be: one select-project-join branch (or an
 * aggregate over one), over tables only (no subquery, no function, no view,
 * no outer join, no semi join, no hidden view), each table joined to the
 * key through equalities of the key's hash equality (so that equal values
 * hash alike), and its routing column of the key's very type.
 *
 * Layer: operators (query trees in; no SPI).  Calls nothing of ivm.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "compat.h"

#include "access/hash.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"

#include "operators.h"

/* a column of a range table entry: a node of the equality classes */
typedef struct RouteNode
{
	Index		varno;
	AttrNumber	attno;
	int			parent;
} RouteNode;

typedef struct RouteClasses
{
	RouteNode  *nodes;
	int			n;
	int			max;
} RouteClasses;

static int
NodeOf(RouteClasses *rc, Index varno, AttrNumber attno)
{
	for (int i = 0; i < rc->n; i++)
		if (rc->nodes[i].varno == varno && rc->nodes[i].attno == attno)
			return i;
	if (rc->n == rc->max)
	{
		rc->max = Max(16, rc->max * 2);
		rc->nodes = rc->nodes == NULL ? palloc(sizeof(RouteNode) * rc->max)
			: repalloc(rc->nodes, sizeof(RouteNode) * rc->max);
	}
	rc->nodes[rc->n].varno = varno;
	rc->nodes[rc->n].attno = attno;
	rc->nodes[rc->n].parent = rc->n;
	return rc->n++;
}

static int
Find(RouteClasses *rc, int i)
{
	while (rc->nodes[i].parent != i)
		i = rc->nodes[i].parent = rc->nodes[rc->nodes[i].parent].parent;
	return i;
}

/* the Var of a base relation expr is, through join aliases, or NULL */
static Var *
BaseVar(Query *q, Node *expr)
{
	expr = IvmFlattenJoinAliases(q, expr);
	if (!IsA(expr, Var) || ((Var *) expr)->varlevelsup != 0 || ((Var *) expr)->varattno <= 0)
		return NULL;
	if (rt_fetch(((Var *) expr)->varno, q->rtable)->rtekind != RTE_RELATION)
		return NULL;
	return (Var *) expr;
}

/*
 * CollectEqualities
 *		Join the classes of the two sides of every "a = b" (the key type's
 *		hash equality) among the AND-ed conditions of inner joins and WHERE.
 *		False when an outer join is met.
 */
static bool
CollectEqualities(Query *q, Node *jtnode, Oid eqop, RouteClasses *rc)
{
	Node	   *quals = NULL;
	ListCell   *lc;

	if (jtnode == NULL || IsA(jtnode, RangeTblRef))
		return true;
	if (IsA(jtnode, FromExpr))
	{
		foreach(lc, ((FromExpr *) jtnode)->fromlist)
			if (!CollectEqualities(q, lfirst(lc), eqop, rc))
				return false;
		quals = ((FromExpr *) jtnode)->quals;
	}
	else if (IsA(jtnode, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) jtnode;

		if (j->jointype != JOIN_INNER)
			return false;
		if (!CollectEqualities(q, j->larg, eqop, rc) || !CollectEqualities(q, j->rarg, eqop, rc))
			return false;
		quals = j->quals;
	}
	else
		return false;

	foreach(lc, make_ands_implicit((Expr *) quals))
	{
		OpExpr	   *op = lfirst(lc);
		Var		   *a;
		Var		   *b;
		int			ra;
		int			rb;

		if (!IsA(op, OpExpr) || op->opno != eqop || list_length(op->args) != 2)
			continue;
		a = BaseVar(q, linitial(op->args));
		b = BaseVar(q, lsecond(op->args));
		if (a == NULL || b == NULL)
			continue;
		ra = Find(rc, NodeOf(rc, a->varno, a->varattno));
		rb = Find(rc, NodeOf(rc, b->varno, b->varattno));
		if (ra != rb)
			rc->nodes[ra].parent = rb;
	}
	return true;
}

/*
 * IvmShapeRoutes
 *		For a view of shape partitioned on its visible column keycol
 *		(0-based): per table the shape reads (*relids), the column its delta
 *		rows are routed by (*attnos).  Returns NULL, or why the view cannot
 *		be partitioned on that column.
 */
const char *
IvmShapeRoutes(IvmShape *shape, int keycol, List **relids, List **attnos)
{
	IvmBranch  *branch;
	Query	   *q;
	int			pos = keycol;
	TargetEntry *tle;
	Var		   *key;
	Oid			opclass;
	Oid			eqop;
	RouteClasses rc = {0};
	int			keyclass;
	int			rti;
	ListCell   *lc;

	*relids = NIL;
	*attnos = NIL;
	if (shape->kind != IVM_KIND_SPJ && shape->kind != IVM_KIND_AGG)
		return "only a select-project-join query, or an aggregate over one, can be partitioned";
	if (list_length(shape->branches) != 1)
		return "the query has an outer join or a UNION ALL";
	if (shape->wants != NIL)
		return "the query reads a subquery that is kept as a hidden view";
	branch = linitial(shape->branches);
	if (branch->semis != NIL)
		return "the query has a semi or anti join (EXISTS, IN, NOT IN)";
	q = branch->query;
	if (shape->kind == IVM_KIND_AGG)
	{
		if (shape->colrole == NULL || shape->colrole[keycol] >= 0)
			return "the partition key of an aggregate must be one of its GROUP BY columns";
		/* the part under the aggregation shows the keys first, in order */
		pos = 0;
		foreach(lc, shape->keycols)
		{
			if (lfirst_int(lc) == keycol)
				break;
			pos++;
		}
	}
	tle = list_nth_node(TargetEntry, q->targetList, pos);
	key = BaseVar(q, (Node *) tle->expr);
	if (key == NULL)
		return "the partition key must be a column of a table the query reads, as it is";

	opclass = GetDefaultOpClass(key->vartype, HASH_AM_OID);
	if (!OidIsValid(opclass))
		return "the partition key's type has no hash operator class";
	eqop = get_opfamily_member(get_opclass_family(opclass), key->vartype, key->vartype,
							   HTEqualStrategyNumber);
	if (!OidIsValid(eqop))
		return "the partition key's type has no hash equality";

	if (!CollectEqualities(q, (Node *) q->jointree, eqop, &rc))
		return "the query has an outer join";
	keyclass = Find(&rc, NodeOf(&rc, key->varno, key->varattno));

	rti = 0;
	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		AttrNumber	route = InvalidAttrNumber;
		ListCell   *lc2;
		ListCell   *lc3;

		rti++;
		if (rte->rtekind == RTE_JOIN)
			continue;
		if (rte->rtekind != RTE_RELATION)
			return "the query reads something other than tables (a subquery, a function, VALUES)";
		if (!list_member_int(branch->rels, rti))
			continue;
		for (int i = 0; i < rc.n; i++)
			if (rc.nodes[i].varno == (Index) rti && Find(&rc, i) == keyclass &&
				get_atttype(rte->relid, rc.nodes[i].attno) == key->vartype &&
				(route == InvalidAttrNumber || rc.nodes[i].attno < route))
				route = rc.nodes[i].attno;
		if (route == InvalidAttrNumber)
			return psprintf("table \"%s\" is not joined to the partition key by \"=\" on a column of its type",
							get_rel_name(rte->relid));
		/* a table read twice must route by one column */
		forboth(lc2, *relids, lc3, *attnos)
			if (lfirst_oid(lc2) == rte->relid)
			{
				if (lfirst_int(lc3) != route)
					return psprintf("table \"%s\" is read twice, joined to the partition key by different columns",
									get_rel_name(rte->relid));
				route = InvalidAttrNumber;
			}
		if (route != InvalidAttrNumber)
		{
			*relids = lappend_oid(*relids, rte->relid);
			*attnos = lappend_int(*attnos, route);
		}
	}
	return NULL;
}
