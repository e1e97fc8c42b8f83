/*-------------------------------------------------------------------------
 *
 * joinorder.c
 *		The order in which a delta term joins its relations: from its
 *		delta, along the join conditions, by the statistics.
 *
 * A term joining three or more relations by WHERE is written as a chain
 * of CROSS JOINs that starts from its delta (FixJoinOrder), which the tick
 * keeps under join_collapse_limit = 1.
 *
 * Layer: operators: query trees in, query trees out.  No SPI; it reads the
 * catalog through the caches: a table's row count (pg_class.reltuples,
 * RelationRows), its unique indexes (CoversUniqueKey) and its columns'
 * distinct counts (pg_statistic, Fanout).  Calls nothing of ivm but
 * qtree.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_statistic.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "port/pg_bitutils.h"
#include "utils/lsyscache.h"
#include "utils/relcache.h"
#include "utils/fmgroids.h"
#include "utils/syscache.h"

#include "ivm.h"
#include "operators.h"
#include "shape_int.h"

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
 * IvmTermJoinOrder
 *		Make a delta term q of branch br (its factors order_rels, those read
 *		as deltas in order_mask) join in the order JoinOrderFromDelta works
 *		out, when it joins three or more relations by WHERE.  Three or more
 *		relations joined by WHERE: start from the delta, unless the only
 *		delta stands for the largest table (the others are then smaller than
 *		what it replaced, and the planner's order does well).
 */
void
IvmTermJoinOrder(IvmBranch *br, Query *q, List *order_rels, uint32 order_mask)
{
	if (FlatJoin(br) && list_length(order_rels) >= 3 &&
		!(pg_popcount32(order_mask) == 1 && (order_mask & (1u << LargestRelation(br))) != 0))
		FixJoinOrder(q, JoinOrderFromDelta(q, order_rels, order_mask));
}
