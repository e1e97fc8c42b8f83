/*-------------------------------------------------------------------------
 *
 * recursive.c
 *		WITH RECURSIVE: which recursive queries have delta rules, and the
 *		SQL of their terms.
 *
 * A view whose query is
 *		WITH RECURSIVE r(c1, ..., cn) AS (base UNION step) SELECT c1, ..., cn FROM r
 * holds r, the least set of rows that contains base's rows and step's rows
 * over itself.  base reads at most one relation (a table or an incremental
 * view) and step reads r once and at most one other relation, each through
 * filters, projections and an inner join (linear recursion: step
 * distributes over union, step(X u Y) = step(X) u step(Y)).  The
 * maintenance loop (fixpoint.c) keeps r by:
 *	- delete and rederive: the rows base loses and those step derives from
 *	  r through the step relation's deleted rows are deleted, then, round
 *	  by round, the rows step derives from the rows just deleted (over the
 *	  step relation now and its deleted rows): a superset of the rows r
 *	  loses, within r.  Those of them still in base, or derived by step
 *	  from what is left of r, come back below;
 *	- semi-naive insertion: the rows base gains, the rows step derives from
 *	  r through the step relation's new rows, and the deleted rows that
 *	  come back are inserted when r lacks them; then, round by round, the
 *	  rows step derives from the rows just inserted and r lacks.  Each round
 *	  joins only the previous round's rows.
 * Both stop when a round changes nothing: over finite data a set grows or
 * shrinks only so far.  Starting from rows of the new r, such rounds reach
 * exactly the new r (the least fixpoint above them), whatever cycles the
 * data has; counting derivations would not (a cycle keeps its own count).
 * UNION ALL (every derivation's copy) is not kept: with a cycle it has no
 * end, and without one its copies are paths, not rows.
 *
 * This file gives the terms as SQL: base over its relation, or over an
 * ephemeral relation holding some of its relation's delta rows; step over
 * r's storage or an ephemeral relation of r's rows, and over its relation
 * or such a delta.  The ephemeral relations are named with a tag the
 * caller chooses, so that the text of each term is the same every tick.
 *
 * Layer: operators: query trees in, SQL text out; no SPI.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "ivm.h"
#include "operators.h"

/*
 * TermRelations
 *		The relations a term (base or step) reads, checked: filters,
 *		projections and inner joins of at most one relation besides r's
 *		self-reference (which step must read once, base never).  Sets *rel
 *		and *self to their range table indexes (0: none).  NULL, or why not.
 */
static const char *
TermRelations(Query *q, bool is_step, int *rel, int *self)
{
	ListCell   *lc;

	*rel = 0;
	*self = 0;
	if (q->hasAggs || q->groupClause != NIL || q->groupingSets != NIL || q->havingQual != NULL)
		return "a term of WITH RECURSIVE aggregates";
	if (q->hasWindowFuncs || q->distinctClause != NIL || q->hasDistinctOn)
		return "a term of WITH RECURSIVE uses DISTINCT or a window function";
	if (q->sortClause != NIL || q->limitCount != NULL || q->limitOffset != NULL)
		return "a term of WITH RECURSIVE uses ORDER BY, LIMIT or OFFSET";
	if (q->setOperations != NULL || q->cteList != NIL)
		return "a term of WITH RECURSIVE has a set operation or a WITH of its own";
	if (q->hasSubLinks || q->hasTargetSRFs)
		return "a term of WITH RECURSIVE has a subquery expression or a set-returning function";
	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		int			rti = foreach_current_index(lc) + 1;

		if (rte->rtekind == RTE_JOIN)
		{
			if (rte->jointype != JOIN_INNER)
				return "a term of WITH RECURSIVE has an outer join";
		}
		else if (rte->rtekind == RTE_CTE && rte->self_reference && is_step)
		{
			if (*self != 0)
				return "the recursive term reads the recursive relation twice (only linear recursion has delta rules)";
			*self = rti;
		}
		else if (rte->rtekind == RTE_RELATION)
		{
			if (*rel != 0)
				return is_step
					? "the recursive term joins more than one relation besides the recursive one"
					: "the non-recursive term of WITH RECURSIVE reads more than one relation";
			*rel = rti;
		}
		else
			return "a term of WITH RECURSIVE reads a subquery, a function, VALUES or another common table expression";
	}
	if (is_step && *self == 0)
		return "the recursive term does not read the recursive relation";
	return NULL;
}

/* strip binary-compatible relabelling off a Var */
static Var *
PlainVar(Node *node)
{
	while (node != NULL && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node != NULL && IsA(node, Var) && ((Var *) node)->varlevelsup == 0 ? (Var *) node : NULL;
}

/*
 * JoinKeys
 *		The columns of r (1-based) that step joins to its relation by an
 *		equality a hash or merge join can use, found in jointree node:
 *		appended to *keys.
 */
static void
JoinKeys(IvmRecursive *rec, Node *node, List **keys)
{
	ListCell   *lc;

	if (node == NULL)
		return;
	if (IsA(node, FromExpr))
	{
		foreach(lc, ((FromExpr *) node)->fromlist)
			JoinKeys(rec, lfirst(lc), keys);
		node = ((FromExpr *) node)->quals;
	}
	else if (IsA(node, JoinExpr))
	{
		JoinKeys(rec, ((JoinExpr *) node)->larg, keys);
		JoinKeys(rec, ((JoinExpr *) node)->rarg, keys);
		node = ((JoinExpr *) node)->quals;
	}
	else if (!IsA(node, BoolExpr) && !IsA(node, OpExpr) && !IsA(node, List))
		return;
	foreach(lc, make_ands_implicit((Expr *) node))
	{
		OpExpr	   *op = (OpExpr *) lfirst(lc);
		Var		   *a;
		Var		   *b;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2)
			continue;
		a = PlainVar(linitial(op->args));
		b = PlainVar(lsecond(op->args));
		if (a == NULL || b == NULL ||
			!(op_mergejoinable(op->opno, exprType((Node *) a)) ||
			  op_hashjoinable(op->opno, exprType((Node *) a))))
			continue;
		if (a->varno == rec->rref && b->varno == rec->erel && a->varattno > 0)
			*keys = list_append_unique_int(*keys, a->varattno);
		else if (b->varno == rec->rref && a->varno == rec->erel && b->varattno > 0)
			*keys = list_append_unique_int(*keys, b->varattno);
	}
}

/*
 * EqualMeansSameBytes
 *		Whether two values of type (under collation) that its equality finds
 *		equal are always the same bytes: integers, bool, dates and times,
 *		uuid, enums, text under a deterministic collation.  The loop finds a
 *		row of r by its bytes, where UNION keeps one of equal rows: numeric
 *		(1.0, 1.00), floats (0, -0), intervals, bpchar, json and the like
 *		would keep both.
 */
static bool
EqualMeansSameBytes(Oid type, Oid collation)
{
	Oid			base = getBaseType(type);

	switch (base)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case BOOLOID:
		case CHAROID:
		case DATEOID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case UUIDOID:
			return true;
		case TEXTOID:
		case VARCHAROID:
		case NAMEOID:
			return !OidIsValid(collation) || get_collation_isdeterministic(collation);
		default:
			return type_is_enum(base);
	}
}

/*
 * IvmRecursiveAnalyze
 *		Has query (WITH RECURSIVE) delta rules?  NULL and *out, or why not.
 *		The query must read its one recursive relation whole, columns in
 *		order, and nothing else.
 */
const char *
IvmRecursiveAnalyze(Query *query, IvmRecursive **out)
{
	CommonTableExpr *cte;
	Query	   *cq;
	SetOperationStmt *op;
	IvmRecursive *rec;
	RangeTblEntry *rte;
	const char *why;
	ListCell   *lc;
	int			col = 0;
	int			rti;

	if (list_length(query->cteList) != 1)
		return "the query has more than one common table expression under WITH RECURSIVE";
	cte = linitial_node(CommonTableExpr, query->cteList);
	if (!cte->cterecursive)
		return "the common table expression under WITH RECURSIVE does not recurse";
	if (cte->search_clause != NULL || cte->cycle_clause != NULL)
		return "WITH RECURSIVE uses SEARCH or CYCLE";
	cq = castNode(Query, cte->ctequery);
	op = (SetOperationStmt *) cq->setOperations;
	if (op == NULL || !IsA(op, SetOperationStmt) || op->op != SETOP_UNION)
		return "WITH RECURSIVE is not a UNION of a non-recursive and a recursive term";
	if (op->all)
		return "WITH RECURSIVE uses UNION ALL (only UNION, which keeps each row once, has delta rules: with a cycle UNION ALL never ends)";
	if (!IsA(op->larg, RangeTblRef) || !IsA(op->rarg, RangeTblRef))
		return "a term of WITH RECURSIVE is itself a set operation";
	if (cq->sortClause != NIL || cq->limitCount != NULL || cq->limitOffset != NULL)
		return "WITH RECURSIVE uses ORDER BY or LIMIT";

	/* the query: SELECT c1, ..., cn FROM r */
	if (query->hasAggs || query->groupClause != NIL || query->havingQual != NULL ||
		query->distinctClause != NIL || query->sortClause != NIL || query->limitCount != NULL ||
		query->limitOffset != NULL || query->hasWindowFuncs || query->hasSubLinks ||
		query->hasTargetSRFs || query->setOperations != NULL ||
		list_length(query->jointree->fromlist) != 1 || query->jointree->quals != NULL ||
		!IsA(linitial(query->jointree->fromlist), RangeTblRef))
		return "the query over its WITH RECURSIVE relation does more than read it whole";
	rti = ((RangeTblRef *) linitial(query->jointree->fromlist))->rtindex;
	rte = rt_fetch(rti, query->rtable);
	if (rte->rtekind != RTE_CTE || rte->ctelevelsup != 0 || strcmp(rte->ctename, cte->ctename) != 0)
		return "the query over its WITH RECURSIVE relation does more than read it whole";
	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Var		   *var = (Var *) tle->expr;

		if (tle->resjunk)
			continue;
		col++;
		if (!IsA(var, Var) || var->varno != rti || var->varattno != col || var->varlevelsup != 0)
			return "the query over its WITH RECURSIVE relation does more than read its columns in order";
	}
	if (col != list_length(cte->ctecolnames))
		return "the query over its WITH RECURSIVE relation does more than read its columns in order";

	rec = palloc0(sizeof(IvmRecursive));
	rec->ncols = col;
	rec->colnames = cte->ctecolnames;
	foreach(lc, cte->ctecoltypes)
	{
		TypeCacheEntry *tc = lookup_type_cache(lfirst_oid(lc), TYPECACHE_EQ_OPR);
		Oid			coll = list_nth_oid(cte->ctecolcollations, foreach_current_index(lc));

		/* UNION keeps one of equal rows: rows are told apart by their bytes */
		if (!EqualMeansSameBytes(lfirst_oid(lc), coll))
			return psprintf("column %d of the WITH RECURSIVE relation is of type %s, whose equal values may differ in their bytes (as numeric 1.0 and 1.00 do)",
							foreach_current_index(lc) + 1, format_type_be(lfirst_oid(lc)));

		if (!OidIsValid(tc->eq_opr))
			return psprintf("column %d of the WITH RECURSIVE relation has a type without an equality operator",
							foreach_current_index(lc) + 1);
		rec->eqops = lappend_oid(rec->eqops, tc->eq_opr);
	}
	rec->base = copyObject(rt_fetch(((RangeTblRef *) op->larg)->rtindex, cq->rtable)->subquery);
	rec->step = copyObject(rt_fetch(((RangeTblRef *) op->rarg)->rtindex, cq->rtable)->subquery);
	why = TermRelations(rec->base, false, &rec->brel, &rec->rref);
	if (why == NULL)
		why = TermRelations(rec->step, true, &rec->erel, &rec->rref);
	if (why != NULL)
		return why;
	if (rec->erel != 0)
		JoinKeys(rec, (Node *) rec->step->jointree, &rec->rkeys);
	*out = rec;
	return NULL;
}

/*
 * IvmRecursiveHide
 *		A query that does more than read its WITH RECURSIVE relation whole
 *		(filters it, aggregates it, joins it): the relation is a hidden view
 *		(claimed from hc), which holds WITH RECURSIVE ... SELECT <its
 *		columns> FROM r and is kept by the loop, and the query reads that
 *		view in its place, without its WITH.  NULL and *why when not.
 */
Query *
IvmRecursiveHide(Query *query, IvmHiddenCtx *hc, const char **why)
{
	CommonTableExpr *cte;
	Query	   *holds;
	Query	   *q;
	RangeTblEntry *ref = NULL;
	RangeTblRef *rtr = makeNode(RangeTblRef);
	IvmRecursive *rec;
	List	   *refs = NIL;
	ListCell   *lc;
	ListCell   *lc2;
	ListCell   *lc3;
	ListCell   *lc4;
	Oid			relid;

	if (list_length(query->cteList) != 1)
	{
		*why = "the query has more than one common table expression under WITH RECURSIVE";
		return NULL;
	}
	cte = linitial_node(CommonTableExpr, query->cteList);
	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_CTE && rte->ctelevelsup == 0 && strcmp(rte->ctename, cte->ctename) == 0)
		{
			refs = lappend_int(refs, foreach_current_index(lc) + 1);
			ref = rte;
		}
	}
	if (ref == NULL || list_length(refs) != cte->cterefcount)
	{
		*why = "the query reads its WITH RECURSIVE relation in a subquery";
		return NULL;
	}

	/* WITH RECURSIVE ... SELECT r.c1, ..., r.cn FROM r */
	holds = makeNode(Query);
	holds->commandType = CMD_SELECT;
	holds->querySource = QSRC_ORIGINAL;
	holds->canSetTag = true;
	holds->cteList = list_make1(copyObject(cte));
	holds->hasRecursive = true;
	ref = copyObject(ref);
	ref->alias = NULL;
	ref->eref = makeAlias(cte->ctename, copyObject(cte->ctecolnames));
	holds->rtable = list_make1(ref);
	rtr->rtindex = 1;
	holds->jointree = makeFromExpr(list_make1(rtr), NULL);
	forfour(lc, cte->ctecolnames, lc2, cte->ctecoltypes, lc3, cte->ctecoltypmods,
			lc4, cte->ctecolcollations)
	{
		int			resno = list_length(holds->targetList) + 1;

		holds->targetList =
			lappend(holds->targetList,
					makeTargetEntry((Expr *) makeVar(1, resno, lfirst_oid(lc2), lfirst_int(lc3),
													 lfirst_oid(lc4), 0),
									resno, pstrdup(strVal(lfirst(lc))), false));
	}
	*why = IvmRecursiveAnalyze(holds, &rec);
	if (*why != NULL)
		return NULL;

	/* the query, reading the hidden view where it read r */
	q = copyObject(query);
	relid = IvmHiddenClaim(hc, holds);
	foreach(lc, refs)
	{
		int			rti = lfirst_int(lc);

		list_nth_cell(q->rtable, rti - 1)->ptr_value =
			IvmHiddenRte(q, holds, relid, rt_fetch(rti, q->rtable)->eref->aliasname);
	}
	q->cteList = NIL;
	q->hasRecursive = false;
	return q;
}

/* the columns of relation rtindex that q reads (pull_varattnos offsets) */
static Bitmapset *
ColumnsRead(Query *q, int rtindex)
{
	Bitmapset  *used = NULL;
	ListCell   *lc;

	pull_varattnos((Node *) q->targetList, rtindex, &used);
	pull_varattnos((Node *) q->jointree, rtindex, &used);
	foreach(lc, q->rtable)
	{
		RangeTblEntry *j = lfirst_node(RangeTblEntry, lc);

		if (j->rtekind == RTE_JOIN)
			pull_varattnos((Node *) j->joinaliasvars, rtindex, &used);
	}
	return used;
}

/*
 * ReadAs
 *		Make q's relation rtindex read the ephemeral relation enrname of
 *		enrdesc (a delta: its columns and a weight).  False when it lacks a
 *		column q reads.
 */
static bool
ReadAs(Query *q, int rtindex, const char *enrname, TupleDesc enrdesc)
{
	Oid			wtype;

	return IvmReadDelta(rt_fetch(rtindex, q->rtable), ColumnsRead(q, rtindex), enrname,
						enrdesc, &wtype);
}

/*
 * IvmRecursiveBaseSql
 *		The non-recursive term, over its relation (enrname NULL) or over
 *		the ephemeral relation enrname of enrdesc, shaped as that
 *		relation's delta.  NULL when that lacks a column the term reads.
 */
char *
IvmRecursiveBaseSql(IvmRecursive *rec, const char *enrname, TupleDesc enrdesc)
{
	Query	   *q = copyObject(rec->base);

	if (enrname != NULL && (rec->brel == 0 || !ReadAs(q, rec->brel, enrname, enrdesc)))
		return NULL;
	return IvmDeparseQuery(q);
}

/*
 * IvmRecursiveStepSql
 *		The recursive term over r's rows: the storage storage_rel (rname
 *		NULL; its first columns are r's) or the ephemeral relation rname
 *		(r's columns, named as r's); and over its other relation (enrname
 *		NULL) or the ephemeral relation enrname of enrdesc, shaped as that
 *		relation's delta.  NULL when that lacks a column the term reads.
 */
char *
IvmRecursiveStepSql(IvmRecursive *rec, Oid storage_rel, const char *rname,
					const char *enrname, TupleDesc enrdesc)
{
	Query	   *q = copyObject(rec->step);
	RangeTblEntry *r = rt_fetch(rec->rref, q->rtable);

	if (enrname != NULL && (rec->erel == 0 || !ReadAs(q, rec->erel, enrname, enrdesc)))
		return NULL;
	r->self_reference = false;
	r->ctelevelsup = 0;
	if (rname != NULL)
		r->ctename = pstrdup(rname);
	else
	{
		r->rtekind = RTE_RELATION;
		r->ctename = NULL;
		r->relid = storage_rel;
		r->relkind = RELKIND_RELATION;
		r->rellockmode = AccessShareLock;
		r->inh = false;
		r->alias = makeAlias(r->eref->aliasname, NIL);
		IvmRteRequireNothing(r);
	}
	return IvmDeparseQuery(q);
}
