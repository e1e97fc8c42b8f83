/*-------------------------------------------------------------------------
 *
 * normalize.c
 *		A view's query as declared, rewritten into the form delta rules
 *		read: the same rows, fewer constructs.
 *
 * When a view is declared, its query is parsed and analysed, then:
 *	- each plain view it reads whose rights allow (its owner is the view's,
 *	  or it is security_invoker; not security_barrier) is written in as a
 *	  subquery, as PostgreSQL's rewriter does;
 *	- each common table expression (not RECURSIVE) is written where it is
 *	  read, as a subquery;
 *	- a set operation other than UNION ALL becomes a DISTINCT or a GROUP BY
 *	  over a UNION ALL of its sides: A UNION B is SELECT DISTINCT over
 *	  A UNION ALL B; A INTERSECT B and A EXCEPT B count, per row, the sides
 *	  it comes from (SELECT ... GROUP BY every column HAVING sum(from A) > 0
 *	  AND sum(from B) > 0, or = 0), which a GROUP BY does with NULLs equal,
 *	  as set operations do.  INTERSECT ALL and EXCEPT ALL keep the two
 *	  counts per row and return its row min(m, n) or m - n times, by
 *	  generate_series laterally over the grouped counts;
 *	- GROUPING SETS, ROLLUP and CUBE become a UNION ALL of one GROUP BY
 *	  per grouping set (GroupingSetsSql);
 *	- set-returning functions of a select list become one LATERAL ROWS
 *	  FROM (...) in FROM, which is how PostgreSQL defines them;
 *	- each subquery of FROM that only joins, filters and projects is
 *	  flattened into the query, as the planner pulls it up.
 * The result is deparsed and analysed again: the view is defined by it
 * (its stored text, ivm.views.query), and it returns the same rows with
 * the same column names and types (else the query is kept as written).
 *
 * Layer: work (declaring a view).  Calls qtree.c (deparsing) and exec
 * (the pinned search_path).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_opfamily.h"
#include "executor/spi.h"
#include "access/stratnum.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parse_agg.h"
#include "parser/parser.h"
#include "parser/parse_clause.h"
#include "parser/parse_oper.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/acl.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#include "ivm.h"
#include "catalog.h"
#include "exec.h"
#include "operators.h"
#include "work.h"

/*
 * IvmParseQuery
 *		Parse and analyse the text of a view's query: exactly one SELECT.
 */
Query *
IvmParseQuery(const char *query_text)
{
	List	   *raw;
	RawStmt    *stmt;
	SelectStmt *select;
	Query	   *query;

	raw = raw_parser(query_text, RAW_PARSE_DEFAULT);
	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the query of an incremental view must be exactly one SELECT statement"),
				 errdetail("%d statements were given.", list_length(raw)),
				 errhint("Pass a single SELECT, without a trailing second statement.")));
	stmt = linitial_node(RawStmt, raw);
	if (!IsA(stmt->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the query of an incremental view must be a SELECT"),
				 errhint("INSERT, UPDATE, DELETE and utility statements cannot define a view.")));
	select = (SelectStmt *) stmt->stmt;
	if (select->intoClause)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("the query of an incremental view cannot use SELECT INTO")));

	query = parse_analyze_fixedparams(stmt, query_text, NULL, 0, NULL);
	IvmQueryUngroup(query);
	return query;
}

/*
 * IsSimpleSubquery
 *		A subquery in FROM that is only a select-project-join: its rows are
 *		its joined rows, filtered and projected, so its references can be
 *		replaced by its expressions and its relations joined in its place.
 */
static bool
IsSimpleSubquery(RangeTblEntry *rte)
{
	Query	   *sub = rte->subquery;
	ListCell   *lc;

	if (rte->rtekind != RTE_SUBQUERY || rte->lateral || sub == NULL ||
		sub->commandType != CMD_SELECT || sub->utilityStmt != NULL ||
		sub->hasAggs || sub->hasWindowFuncs || sub->hasTargetSRFs ||
		(sub->hasSubLinks && checkExprHasSubLink((Node *) sub->targetList)) ||
		sub->hasDistinctOn || sub->hasRecursive || sub->hasModifyingCTE || sub->hasForUpdate ||
		sub->cteList != NIL || sub->distinctClause != NIL || sub->groupClause != NIL ||
		sub->groupingSets != NIL || sub->havingQual != NULL || sub->sortClause != NIL ||
		sub->limitOffset != NULL || sub->limitCount != NULL || sub->setOperations != NULL ||
		sub->rowMarks != NIL || sub->jointree == NULL || sub->jointree->fromlist == NIL)
		return false;
	foreach(lc, sub->jointree->fromlist)
	{
		Node	   *item = lfirst(lc);

		if (IsA(item, JoinExpr) && ((JoinExpr *) item)->jointype == JOIN_INNER)
			continue;
		if (!IsA(item, RangeTblRef))
			return false;
	}
	return true;
}

/*
 * FlattenOneSubquery
 *		Replace the first simple subquery of q's FROM list by its relations
 *		and conditions, its columns by its expressions.  False when there is
 *		none.
 */
static bool
FlattenOneSubquery(Query *q)
{
	ListCell   *lc;

	foreach(lc, q->jointree->fromlist)
	{
		Node	   *item = lfirst(lc);
		int			rti;
		RangeTblEntry *rte;
		Query	   *sub;
		int			offset = list_length(q->rtable);
		List	   *fromlist = NIL;
		ListCell   *lc2;

		if (!IsA(item, RangeTblRef))
			continue;
		rti = ((RangeTblRef *) item)->rtindex;
		rte = rt_fetch(rti, q->rtable);
		if (!IsSimpleSubquery(rte))
			continue;

		/* its relations join the query's, renumbered after them */
		sub = copyObject(rte->subquery);
		OffsetVarNodes((Node *) sub, offset, 0);
		IvmQueryAppendRtable(q, sub);

		/* its columns become its expressions, wherever the query uses them */
		IvmReplaceRelationVars(q, rti, sub->targetList, REPLACEVARS_REPORT_ERROR);

		/* and its FROM list and WHERE take its place */
		foreach(lc2, q->jointree->fromlist)
		{
			Node	   *other = lfirst(lc2);

			if (IsA(other, RangeTblRef) && ((RangeTblRef *) other)->rtindex == rti)
				fromlist = list_concat(fromlist, sub->jointree->fromlist);
			else
				fromlist = lappend(fromlist, other);
		}
		q->jointree->fromlist = fromlist;
		q->jointree->quals = make_and_qual(q->jointree->quals, sub->jointree->quals);
		/* subquery expressions of its WHERE (their Vars of it renumbered too) */
		q->hasSubLinks |= sub->hasSubLinks;
		return true;
	}
	return false;
}

/* what InlineViewsWalker needs: who runs the query, what it inlined */
typedef struct InlineViews
{
	Oid			user;			/* the role the view's query runs as */
	Oid			ivm_nsp;		/* schema ivm: its views are not plain */
	List	   *inlined;		/* the plain views written in (OIDs) */
	List	   *within;			/* the views being written in, outermost first */
} InlineViews;

/*
 * ViewInlinable
 *		Whether plain view relid, read by a query running as cx->user, can
 *		be written where it is read without changing what the query may
 *		read: PostgreSQL runs a view's query as the view's owner, or as its
 *		reader with security_invoker, so written in place it runs with the
 *		same rights only when it is a security_invoker view or the reader
 *		owns it, and the reader may read it (else it stays, and fails as
 *		PostgreSQL would).  A security_barrier view stays: its conditions
 *		must run before the reader's, which a flattened query does not
 *		promise.  Incremental views (ordinary views over their storage)
 *		stay: they are sources of their own.
 */
static bool
ViewInlinable(Oid relid, InlineViews *cx)
{
	Relation	rel;
	bool		ok;

	if (get_rel_relkind(relid) != RELKIND_VIEW || get_rel_namespace(relid) == cx->ivm_nsp ||
		IvmIsIncrementalView(relid))
		return false;
	rel = table_open(relid, AccessShareLock);
	ok = !RelationIsSecurityView(rel) &&
		(RelationHasSecurityInvoker(rel) || rel->rd_rel->relowner == cx->user) &&
		pg_class_aclcheck(relid, cx->user, ACL_SELECT) == ACLCHECK_OK;
	table_close(rel, AccessShareLock);
	return ok;
}

/*
 * InlineViewsWalker
 *		Each plain view the query reads (at any depth) that ViewInlinable
 *		allows becomes a subquery: a copy of its query, as PostgreSQL's
 *		rewriter writes it in; the views it reads are looked at in turn.
 */
static bool
InlineViewsWalker(Node *node, InlineViews *cx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, InlineViewsWalker, cx,
								 QTW_EXAMINE_RTES_BEFORE | QTW_IGNORE_RT_SUBQUERIES);
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;
		Relation	rel;
		bool		r;
		ListCell   *lc;
		ListCell   *name;

		if (rte->rtekind == RTE_SUBQUERY)
			return InlineViewsWalker((Node *) rte->subquery, cx);
		/* (a view's stored query names the view itself, as OLD and NEW) */
		if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_VIEW ||
			list_member_oid(cx->within, rte->relid) || !ViewInlinable(rte->relid, cx))
			return false;
		rel = table_open(rte->relid, AccessShareLock);
		rte->subquery = IvmViewQuery(rel);
		table_close(rel, AccessShareLock);
		cx->inlined = list_append_unique_oid(cx->inlined, rte->relid);
		/* its columns named as the view's now are (ALTER VIEW ... RENAME COLUMN) */
		name = list_head(rte->eref->colnames);
		foreach(lc, rte->subquery->targetList)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);

			if (tle->resjunk || name == NULL)
				continue;
			tle->resname = pstrdup(strVal(lfirst(name)));
			name = lnext(rte->eref->colnames, name);
		}
		/* the views it reads, in turn */
		cx->within = lappend_oid(cx->within, rte->relid);
		r = InlineViewsWalker((Node *) rte->subquery, cx);
		cx->within = list_delete_last(cx->within);
		/* read under the name it was read by */
		if (rte->alias == NULL)
			rte->alias = makeAlias(rte->eref->aliasname, NIL);
		rte->rtekind = RTE_SUBQUERY;
		rte->relid = InvalidOid;
		rte->relkind = 0;
		rte->inh = false;
		rte->security_barrier = false;
		return r;
	}
	return expression_tree_walker(node, InlineViewsWalker, cx);
}

/*
 * InlinePlainViews
 *		The plain views q reads written in as subqueries where their rights
 *		allow (ViewInlinable), so that their tables are the query's and the
 *		flattening below sees them.  Returns the views written in.
 */
static List *
InlinePlainViews(Query *q, Oid user)
{
	InlineViews cx;

	cx.user = user;
	cx.ivm_nsp = get_namespace_oid(IVM_SCHEMA, false);
	cx.inlined = NIL;
	cx.within = NIL;
	(void) InlineViewsWalker((Node *) q, &cx);
	return cx.inlined;
}

/*
 * IvmCheckReplaceView
 *		CREATE OR REPLACE VIEW of plain view relid: refused while an
 *		incremental view has its query written in (InlinePlainViews), since
 *		that view would go on computing the old query.  An incremental view
 *		that reads it as it is (another role's, a security_barrier view)
 *		reads the new query, as before.
 */
void
IvmCheckReplaceView(Oid relid)
{
	IvmUserSave save;
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};
	char	   *inlined = NULL;
	int			rc;

	IvmCatalogBegin(&save);
	rc = SPI_execute_with_args("SELECT v.viewrel::pg_catalog.text FROM ivm._views v "
							   "WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
							   "  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
							   "    AND d.objid OPERATOR(pg_catalog.=) v.viewrel "
							   "    AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
							   "    AND d.refobjid OPERATOR(pg_catalog.=) $1) "
							   "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
							   "  JOIN pg_catalog.pg_rewrite r ON r.oid OPERATOR(pg_catalog.=) d.objid "
							   "  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass "
							   "    AND r.ev_class OPERATOR(pg_catalog.=) v.defrel "
							   "    AND d.refobjid OPERATOR(pg_catalog.=) $1) "
							   "ORDER BY 1 LIMIT 1",
							   1, types, args, NULL, true, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking for views that wrote a plain view in");
	if (SPI_processed > 0)
		inlined = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	IvmCatalogEnd(&save);
	if (inlined != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot replace view \"%s\": incremental view %s has its query written in",
						get_rel_name(relid), inlined),
				 errdetail("An incremental view copies the query of a plain view it reads when it is declared, "
						   "so it would go on computing the old query."),
				 errhint("Drop the incremental view, replace the view, then declare the incremental view again.")));
}

/* which CTE is being inlined, and how many query levels down the walk is */
typedef struct InlineCte
{
	CommonTableExpr *cte;
	int			levelsup;
} InlineCte;

/* each reference to cx->cte becomes a subquery: a copy of the CTE's query */
static bool
InlineCteWalker(Node *node, InlineCte *cx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		bool		r;

		cx->levelsup++;
		r = query_tree_walker((Query *) node, InlineCteWalker, cx, QTW_EXAMINE_RTES_AFTER);
		cx->levelsup--;
		return r;
	}
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_CTE && rte->ctelevelsup == cx->levelsup &&
			strcmp(rte->ctename, cx->cte->ctename) == 0)
		{
			Query	   *sub = copyObject(castNode(Query, cx->cte->ctequery));

			ListCell   *lc;
			ListCell   *name = list_head(cx->cte->ctecolnames);

			/* it now sits levelsup levels further down than where it was declared */
			if (cx->levelsup > 0)
				IncrementVarSublevelsUp((Node *) sub, cx->levelsup, 1);
			/* its columns keep the names WITH gave them: name (a, b) AS (...) */
			foreach(lc, sub->targetList)
			{
				TargetEntry *tle = lfirst_node(TargetEntry, lc);

				if (tle->resjunk || name == NULL)
					continue;
				tle->resname = pstrdup(strVal(lfirst(name)));
				name = lnext(cx->cte->ctecolnames, name);
			}
			rte->rtekind = RTE_SUBQUERY;
			rte->subquery = sub;
			rte->security_barrier = false;
			rte->ctename = NULL;
			rte->ctelevelsup = 0;
			rte->self_reference = false;
			rte->coltypes = NIL;
			rte->coltypmods = NIL;
			rte->colcollations = NIL;
		}
		return false;
	}
	return expression_tree_walker(node, InlineCteWalker, cx);
}

/*
 * InlineCtes
 *		The query with the common table expressions of its WITH written as
 *		subqueries where they are read, as the planner does with a CTE read
 *		once: the view has no volatile function (CheckQuery) and no
 *		data-modifying WITH, so a CTE read twice returns the same rows each
 *		time and MATERIALIZED changes nothing but the plan.  Each CTE can
 *		read only those before it, so inlining them in order leaves none.
 *		False when the query has none, or a recursive one (left as it is).
 */
static bool
InlineCtes(Query *q)
{
	ListCell   *lc;

	if (q->cteList == NIL || q->hasRecursive)
		return false;
	foreach(lc, q->cteList)
	{
		InlineCte	cx;

		cx.cte = lfirst_node(CommonTableExpr, lc);
		if (!IsA(cx.cte->ctequery, Query) ||
			castNode(Query, cx.cte->ctequery)->commandType != CMD_SELECT)
			return false;
	}
	foreach(lc, q->cteList)
	{
		InlineCte	cx;

		cx.cte = lfirst_node(CommonTableExpr, lc);
		cx.levelsup = -1;
		(void) InlineCteWalker((Node *) q, &cx);
	}
	q->cteList = NIL;
	return true;
}

/*
 * SetOperationSql
 *		A set operation node of q as a query expression without INTERSECT,
 *		EXCEPT or UNION (distinct), its columns named cols (gcols: the same,
 *		each qualified by __ivm_g).  INTERSECT and EXCEPT count each row's
 *		copies on either side, grouped by every column over a side-tagged
 *		UNION ALL; the set forms keep the groups the condition passes, the
 *		ALL forms return each group's row as many times as the operation
 *		says (least of the two counts, or the left's less the right's) by a
 *		generate_series laterally over the groups: a grouped subquery that
 *		is a hidden view, and an immutable function that maps each of its
 *		rows to copies, which delta rules pass through.
 */
static char *
SetOperationSql(Query *q, Node *node, const char *cols, const char *gcols)
{
	SetOperationStmt *op;
	char	   *l;
	char	   *r;
	char	   *sides;

	if (IsA(node, RangeTblRef))
		return psprintf("(%s)", IvmDeparseQuery(rt_fetch(((RangeTblRef *) node)->rtindex, q->rtable)->subquery));
	op = castNode(SetOperationStmt, node);
	l = SetOperationSql(q, op->larg, cols, gcols);
	r = SetOperationSql(q, op->rarg, cols, gcols);
	if (op->op == SETOP_UNION)
		return op->all
			? psprintf("(%s UNION ALL %s)", l, r)
			: psprintf("(SELECT DISTINCT * FROM (%s UNION ALL %s) __ivm_u(%s))", l, r, cols);
	/* each row with the side it comes from */
	sides = psprintf("(SELECT __ivm_l.*, 1, 0 FROM %s __ivm_l UNION ALL "
					 "SELECT __ivm_r.*, 0, 1 FROM %s __ivm_r) __ivm_u(%s, __ivm_in_l, __ivm_in_r)",
					 l, r, cols);
	if (!op->all)
		return psprintf("(SELECT %s FROM %s GROUP BY %s "
						"HAVING pg_catalog.sum(__ivm_u.__ivm_in_l) OPERATOR(pg_catalog.>) 0 "
						"AND pg_catalog.sum(__ivm_u.__ivm_in_r) OPERATOR(pg_catalog.%s) 0)",
						cols, sides, cols, op->op == SETOP_INTERSECT ? ">" : "=");
	return psprintf("(SELECT %s FROM (SELECT %s, pg_catalog.sum(__ivm_u.__ivm_in_l), "
					"pg_catalog.sum(__ivm_u.__ivm_in_r) FROM %s GROUP BY %s) "
					"__ivm_g(%s, __ivm_nl, __ivm_nr), "
					"LATERAL pg_catalog.generate_series(CAST(1 AS pg_catalog.int8), %s) __ivm_n)",
					gcols, cols, sides, cols, cols,
					op->op == SETOP_INTERSECT
					? "LEAST(__ivm_g.__ivm_nl, __ivm_g.__ivm_nr)"
					: "__ivm_g.__ivm_nl OPERATOR(pg_catalog.-) __ivm_g.__ivm_nr");
}

/*
 * SetOperationsSql
 *		q, a set operation with INTERSECT, EXCEPT or UNION (distinct), or
 *		the ALL forms of the first two, as a query over UNION ALL; NULL when
 *		it has none, or ORDER BY / LIMIT, or two columns of one name.
 */
static char *
SetOperationsSql(Query *q)
{
	SetOperationStmt *top = castNode(SetOperationStmt, q->setOperations);
	List	   *pending = list_make1(top);
	bool		any = false;
	StringInfoData cols;
	StringInfoData gcols;
	ListCell   *lc;

	if (q->sortClause != NIL || q->limitCount != NULL || q->limitOffset != NULL)
		return NULL;
	while (pending != NIL)
	{
		Node	   *node = linitial(pending);

		pending = list_delete_first(pending);
		if (IsA(node, SetOperationStmt))
		{
			SetOperationStmt *op = (SetOperationStmt *) node;

			if (!(op->op == SETOP_UNION && op->all))
				any = true;
			pending = lappend(lappend(pending, op->larg), op->rarg);
		}
	}
	if (!any)
		return NULL;
	initStringInfo(&cols);
	initStringInfo(&gcols);
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		ListCell   *lc2;

		if (tle->resjunk)
			continue;
		foreach(lc2, q->targetList)
			if (lc2 != lc && !lfirst_node(TargetEntry, lc2)->resjunk &&
				strcmp(lfirst_node(TargetEntry, lc2)->resname, tle->resname) == 0)
				return NULL;
		appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "", quote_identifier(tle->resname));
		appendStringInfo(&gcols, "%s__ivm_g.%s", gcols.len > 0 ? ", " : "", quote_identifier(tle->resname));
	}
	/* a query in parentheses is a statement too */
	return SetOperationSql(q, (Node *) top, cols.data, gcols.data);
}

/* what GroupingSetMutator needs: one grouping set of the query */
typedef struct GroupingSetCx
{
	List	   *set;			/* its sortgrouprefs */
	List	   *nulled;			/* the grouped expressions it leaves out */
} GroupingSetCx;

/*
 * GroupingSetMutator
 *		An expression of the select list or HAVING as one grouping set
 *		computes it: a grouped expression the set leaves out is NULL
 *		(outside aggregates, whose arguments read the rows), GROUPING() is
 *		the constant the set gives it (a bit per argument, the last the
 *		lowest, set when the set leaves the argument out).
 */
static Node *
GroupingSetMutator(Node *node, GroupingSetCx *cx)
{
	ListCell   *lc;

	if (node == NULL)
		return NULL;
	if (IsA(node, GroupingFunc))
	{
		int32		bits = 0;

		foreach(lc, ((GroupingFunc *) node)->refs)
			bits = (bits << 1) | (list_member_int(cx->set, lfirst_int(lc)) ? 0 : 1);
		return (Node *) makeConst(INT4OID, -1, InvalidOid, sizeof(int32), Int32GetDatum(bits),
								  false, true);
	}
	if (IsA(node, Aggref))
		return node;
	foreach(lc, cx->nulled)
		if (equal(node, lfirst(lc)))
			return (Node *) makeNullConst(exprType(node), exprTypmod(node), exprCollation(node));
	return expression_tree_mutator(node, GroupingSetMutator, cx);
}

/*
 * GroupingSetsSql
 *		A query with GROUPING SETS, ROLLUP or CUBE as the UNION ALL of one
 *		GROUP BY per grouping set (a set listed twice, twice), each over the
 *		query's FROM and WHERE, its select list and HAVING as that set
 *		computes them (GroupingSetMutator): the rows the query returns,
 *		each branch an aggregate with delta rules of its own.  NULL when
 *		the query has no grouping sets, or ORDER BY, LIMIT, DISTINCT, a
 *		window, a subquery expression, no aggregate, or more than 64 sets.
 */
static char *
GroupingSetsSql(Query *q)
{
	List	   *sets;
	StringInfoData buf;
	ListCell   *lc;

	if (q->groupingSets == NIL || q->setOperations != NULL || !q->hasAggs || q->hasWindowFuncs ||
		q->hasSubLinks || q->hasTargetSRFs || q->sortClause != NIL || q->limitCount != NULL ||
		q->limitOffset != NULL || q->distinctClause != NIL || q->cteList != NIL ||
		q->rowMarks != NIL)
		return NULL;
	sets = expand_grouping_sets(q->groupingSets, q->groupDistinct, 64);
	if (sets == NIL)
		return NULL;
	initStringInfo(&buf);
	foreach(lc, sets)
	{
		GroupingSetCx cx;
		Query	   *b = copyObject(q);
		List	   *group = NIL;
		ListCell   *lc2;

		cx.set = (List *) lfirst(lc);
		cx.nulled = NIL;
		foreach(lc2, q->groupClause)
		{
			SortGroupClause *sgc = lfirst_node(SortGroupClause, lc2);

			if (list_member_int(cx.set, sgc->tleSortGroupRef))
				group = lappend(group, copyObject(sgc));
			else
				cx.nulled = lappend(cx.nulled,
									get_sortgroupclause_expr(sgc, q->targetList));
		}
		b->groupingSets = NIL;
		b->groupDistinct = false;
		b->groupClause = group;
		b->targetList = (List *) GroupingSetMutator((Node *) b->targetList, &cx);
		b->havingQual = GroupingSetMutator(b->havingQual, &cx);
		appendStringInfo(&buf, "%s(%s)", buf.len > 0 ? " UNION ALL " : "", IvmDeparseQuery(b));
	}
	return buf.data;
}

/* Do two queries return columns of the same names and types? */
static bool
SameColumns(Query *a, Query *b)
{
	List	   *ta = NIL;
	List	   *tb = NIL;
	ListCell   *lc;
	ListCell   *lc2;

	foreach(lc, a->targetList)
		if (!lfirst_node(TargetEntry, lc)->resjunk)
			ta = lappend(ta, lfirst(lc));
	foreach(lc, b->targetList)
		if (!lfirst_node(TargetEntry, lc)->resjunk)
			tb = lappend(tb, lfirst(lc));
	if (list_length(ta) != list_length(tb))
		return false;
	forboth(lc, ta, lc2, tb)
	{
		TargetEntry *x = lfirst(lc);
		TargetEntry *y = lfirst(lc2);

		if (strcmp(x->resname, y->resname) != 0 ||
			exprType((Node *) x->expr) != exprType((Node *) y->expr) ||
			exprTypmod((Node *) x->expr) != exprTypmod((Node *) y->expr) ||
			exprCollation((Node *) x->expr) != exprCollation((Node *) y->expr))
			return false;
	}
	return true;
}

/*
 * FlattenWithin
 *		Flatten the simple subqueries of q's FROM list into q, then do the
 *		same inside each subquery of FROM left (the branches of a UNION ALL,
 *		a grouped subquery's own FROM).  Not inside subquery expressions,
 *		whose subqueries may read the query around them.  True when
 *		something changed.
 */
static bool
FlattenWithin(Query *q)
{
	bool		changed = false;
	bool		lateral = false;
	ListCell   *lc;

	/* a LATERAL item could read the subquery's columns from inside */
	foreach(lc, q->rtable)
		if (((RangeTblEntry *) lfirst(lc))->lateral)
			lateral = true;
	if (q->setOperations == NULL && q->jointree != NULL && !lateral)
		while (FlattenOneSubquery(q))
			changed = true;
	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (rte->rtekind == RTE_SUBQUERY && rte->subquery != NULL && !rte->lateral &&
			rte->subquery->cteList == NIL && FlattenWithin(rte->subquery))
			changed = true;
	}
	return changed;
}

/* what TargetSrfMutator gathers: the select list's set-returning calls */
typedef struct TargetSrfs
{
	int			rtindex;		/* the range table entry they go to */
	List	   *calls;			/* the calls (FuncExpr or OpExpr), in order */
	bool		failed;			/* one cannot be moved */
} TargetSrfs;

/* each set-returning call of an expression becomes a column of cx->rtindex */
static Node *
TargetSrfMutator(Node *node, TargetSrfs *cx)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
		return node;
	if ((IsA(node, FuncExpr) && ((FuncExpr *) node)->funcretset) ||
		(IsA(node, OpExpr) && ((OpExpr *) node)->opretset))
	{
		List	   *args = IsA(node, FuncExpr) ? ((FuncExpr *) node)->args : ((OpExpr *) node)->args;
		TypeFuncClass kind = get_expr_result_type(node, NULL, NULL);

		/* one over another's rows runs in levels; one of rows of a composite is one column */
		if (expression_returns_set((Node *) args) || kind != TYPEFUNC_SCALAR)
		{
			cx->failed = true;
			return node;
		}
		cx->calls = lappend(cx->calls, node);
		return (Node *) makeVar(cx->rtindex, list_length(cx->calls), exprType(node),
								exprTypmod(node), exprCollation(node), 0);
	}
	return expression_tree_mutator(node, TargetSrfMutator, cx);
}

/*
 * TargetSrfsToLateral
 *		A query whose select list calls set-returning functions (SELECT id,
 *		unnest(tags) FROM t) written with them in FROM: SELECT t.id, f.c1
 *		FROM t, LATERAL ROWS FROM (unnest(t.tags)) f(c1).  PostgreSQL
 *		defines the first so: the calls of one row run in step, the shorter
 *		padded with NULLs, as ROWS FROM does, and a row whose calls return
 *		no row (an empty or NULL array) is gone, as in an inner LATERAL
 *		join.  Only where that holds simply: no aggregate, window,
 *		grouping, ORDER BY or LIMIT in the query (their order against the
 *		calls matters), no call nested in another's arguments, each call
 *		returning one column of a scalar type.  Then the function in FROM
 *		has delta rules when it is immutable (join.c).  Changes q in place
 *		and returns true, or returns false and leaves it.
 */
static bool
TargetSrfsToLateral(Query *q)
{
	TargetSrfs	cx;
	List	   *tlist;
	RangeTblEntry *rte;
	RangeTblRef *rtr;
	List	   *colnames = NIL;
	ListCell   *lc;

	if (!q->hasTargetSRFs || q->setOperations != NULL || q->hasAggs || q->hasWindowFuncs ||
		q->groupClause != NIL || q->groupingSets != NIL || q->havingQual != NULL ||
		q->sortClause != NIL || q->limitCount != NULL || q->limitOffset != NULL ||
		q->hasDistinctOn || q->jointree == NULL || q->cteList != NIL || q->rowMarks != NIL)
		return false;
	cx.rtindex = list_length(q->rtable) + 1;
	cx.calls = NIL;
	cx.failed = false;
	tlist = (List *) TargetSrfMutator((Node *) copyObject(q->targetList), &cx);
	if (cx.failed || cx.calls == NIL || expression_returns_set(q->jointree->quals))
		return false;

	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_FUNCTION;
	foreach(lc, cx.calls)
	{
		RangeTblFunction *f = makeNode(RangeTblFunction);

		f->funcexpr = lfirst(lc);
		f->funccolcount = 1;
		rte->functions = lappend(rte->functions, f);
		colnames = lappend(colnames, makeString(psprintf("__ivm_f%d", foreach_current_index(lc) + 1)));
	}
	rte->funcordinality = false;
	rte->alias = makeAlias("__ivm_srf", colnames);
	rte->eref = makeAlias("__ivm_srf", list_copy(colnames));
	rte->lateral = true;
	rte->inh = false;
	rte->inFromCl = true;
	IvmQueryAppendRte(q, rte, q);
	rtr = makeNode(RangeTblRef);
	rtr->rtindex = cx.rtindex;
	q->jointree->fromlist = lappend(q->jointree->fromlist, rtr);
	q->targetList = tlist;
	q->hasTargetSRFs = false;
	return true;
}

/*
 * TargetSrfsWithin
 *		TargetSrfsToLateral on q and on each subquery of its FROM.  True
 *		when something changed.
 */
static bool
TargetSrfsWithin(Query *q)
{
	bool		changed = false;
	ListCell   *lc;

	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (rte->rtekind == RTE_SUBQUERY && rte->subquery != NULL && TargetSrfsWithin(rte->subquery))
			changed = true;
	}
	if (TargetSrfsToLateral(q))
		changed = true;
	return changed;
}

/* what LateralVars maps: the outer relation's columns, to level 0 of relation to */
typedef struct LateralMap
{
	int			from;			/* the outer relation's range table index */
	int			to;				/* its index inside the subquery */
	bool		failed;			/* a Var of level 1 read another relation */
} LateralMap;

static Node *
LateralVars(Node *node, LateralMap *map)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 1)
	{
		Var		   *var = (Var *) copyObject(node);

		if (var->varno != map->from)
			map->failed = true;
		var->varno = map->to;
		var->varnosyn = map->to;
		var->varlevelsup = 0;
		return (Node *) var;
	}
	return expression_tree_mutator(node, LateralVars, map);
}

/* what OuterVars maps: the outer query's Vars, to the subquery's columns */
typedef struct OuterMap
{
	int			q;				/* the table's range table index */
	int			x;				/* the LATERAL subquery's */
	List	   *qcols;			/* the table's columns read (attnos) */
	int			qfirst;			/* the subquery column showing the first */
	bool		failed;
} OuterMap;

static Node *
OuterVars(Node *node, OuterMap *map)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0)
	{
		Var		   *var = (Var *) copyObject(node);
		int			pos = -1;
		ListCell   *lc;

		foreach(lc, map->qcols)
			if (var->varno == map->q && lfirst_int(lc) == var->varattno)
				pos = foreach_current_index(lc);
		if (var->varno == map->x && var->varattno > 0)
			;
		else if (pos >= 0)
			var->varattno = map->qfirst + pos;
		else
		{
			map->failed = true;
			return node;
		}
		var->varno = 1;
		var->varnosyn = 1;
		var->varattnosyn = var->varattno;
		return (Node *) var;
	}
	return expression_tree_mutator(node, OuterVars, map);
}

/* the columns of relation varno, level 0, that node reads */
static bool
CollectColumns(Node *node, OuterMap *map)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0 && ((Var *) node)->varno == map->q)
	{
		if (((Var *) node)->varattno <= 0)
			map->failed = true;
		else
			map->qcols = list_append_unique_int(map->qcols, ((Var *) node)->varattno);
		return false;
	}
	return expression_tree_walker(node, CollectColumns, map);
}

/*
 * LateralTopk
 *		A query "SELECT ... FROM t CROSS JOIN LATERAL (SELECT ... ORDER BY ...
 *		LIMIT k) x [WHERE ...]" (or "FROM t, LATERAL (...) x"), the first k
 *		rows of the subquery per row of a table t that has a primary key of
 *		one column, written as a window read up to a rank, which has delta
 *		rules per row of t (window.c, IvmWindowMargin):
 *			SELECT ... FROM (SELECT <x's columns>, <t's columns read>,
 *			                 row_number() OVER (PARTITION BY t.key ORDER BY
 *			                 <x's order>) AS __ivm_rn
 *			                 FROM <x's relations>, t WHERE <x's condition>) x
 *			WHERE x.__ivm_rn <= k [AND ...]
 *		Changes q in place and returns true, or returns false.
 */
static bool
LateralTopk(Query *q)
{
	RangeTblEntry *rq = NULL;
	RangeTblEntry *rx = NULL;
	int			iq = 0;
	int			ix = 0;
	Query	   *s;
	Node	   *quals = NULL;
	List	   *items;
	Relation	rel;
	Bitmapset  *pk;
	int			key;
	OuterMap	omap = {0};
	LateralMap lmap = {0};
	List	   *visible = NIL;
	List	   *junk = NIL;
	List	   *added = NIL;
	TargetEntry *keytle = NULL;
	TargetEntry *rntle;
	WindowFunc *wf;
	WindowClause *wc;
	SortGroupClause *part;
	int64		k;
	ListCell   *lc;
	int			resno = 0;
	Oid			leop;
	RangeTblEntry *rte;
	RangeTblRef *rtr;

	if (q->setOperations != NULL || q->hasAggs || q->hasWindowFuncs || q->hasSubLinks ||
		q->hasTargetSRFs || q->groupClause != NIL || q->sortClause != NIL ||
		q->limitCount != NULL || q->limitOffset != NULL || q->distinctClause != NIL ||
		q->cteList != NIL || q->rowMarks != NIL || q->jointree == NULL)
		return false;

	/* FROM t, LATERAL (...) x, or t CROSS JOIN LATERAL (...) x */
	items = q->jointree->fromlist;
	if (list_length(items) == 1 && IsA(linitial(items), JoinExpr))
	{
		JoinExpr   *j = linitial(items);

		if (j->jointype != JOIN_INNER || j->alias != NULL || j->usingClause != NIL ||
			(j->quals != NULL && !(IsA(j->quals, Const) && DatumGetBool(((Const *) j->quals)->constvalue))))
			return false;
		items = list_make2(j->larg, j->rarg);
	}
	if (list_length(items) != 2 || !IsA(linitial(items), RangeTblRef) || !IsA(lsecond(items), RangeTblRef))
		return false;
	iq = ((RangeTblRef *) linitial(items))->rtindex;
	ix = ((RangeTblRef *) lsecond(items))->rtindex;
	rq = rt_fetch(iq, q->rtable);
	rx = rt_fetch(ix, q->rtable);
	if (rq->rtekind != RTE_RELATION || rx->rtekind != RTE_SUBQUERY || !rx->lateral ||
		rq->relkind != RELKIND_RELATION)
		return false;

	/* the subquery: a select-project-join ending in ORDER BY ... LIMIT k */
	s = copyObject(rx->subquery);
	if (s->setOperations != NULL || s->hasAggs || s->hasWindowFuncs || s->hasSubLinks ||
		s->hasTargetSRFs || s->groupClause != NIL || s->sortClause == NIL ||
		s->limitOffset != NULL || s->limitOption != LIMIT_OPTION_COUNT ||
		s->distinctClause != NIL || s->cteList != NIL || s->rowMarks != NIL ||
		s->jointree == NULL || s->limitCount == NULL)
		return false;
	s->limitCount = eval_const_expressions(NULL, s->limitCount);
	if (!IsA(s->limitCount, Const) || ((Const *) s->limitCount)->constisnull ||
		((Const *) s->limitCount)->consttype != INT8OID)
		return false;
	k = DatumGetInt64(((Const *) s->limitCount)->constvalue);
	if (k < 1)
		return false;

	/* t's primary key, of one column */
	rel = table_open(rq->relid, AccessShareLock);
	pk = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	table_close(rel, AccessShareLock);
	if (bms_num_members(pk) != 1)
		return false;
	key = bms_singleton_member(pk) + FirstLowInvalidHeapAttributeNumber;

	/* the columns of t the query reads outside the subquery, and its key */
	omap.q = iq;
	omap.x = ix;
	(void) CollectColumns((Node *) q->targetList, &omap);
	(void) CollectColumns(q->jointree->quals, &omap);
	if (omap.failed)
		return false;
	omap.qcols = list_append_unique_int(omap.qcols, key);

	/* t joins the subquery's relations; its columns there are read at level 0 */
	rte = copyObject(rq);
	rte->lateral = false;
	IvmQueryAppendRte(s, rte, q);
	rtr = makeNode(RangeTblRef);
	rtr->rtindex = list_length(s->rtable);
	s->jointree->fromlist = lappend(s->jointree->fromlist, rtr);
	lmap.from = iq;
	lmap.to = rtr->rtindex;
	s->targetList = (List *) LateralVars((Node *) s->targetList, &lmap);
	s->jointree = (FromExpr *) LateralVars((Node *) s->jointree, &lmap);
	if (lmap.failed)
		return false;

	/* its columns: x's, then t's read, then the rank; junk (ORDER BY) last */
	foreach(lc, s->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			junk = lappend(junk, tle);
		else
			visible = lappend(visible, tle);
	}
	omap.qfirst = list_length(visible) + 1;
	foreach(lc, omap.qcols)
	{
		int			attno = lfirst_int(lc);
		Oid			type;
		int32		typmod;
		Oid			coll;
		TargetEntry *tle;

		get_atttypetypmodcoll(rq->relid, attno, &type, &typmod, &coll);
		tle = makeTargetEntry((Expr *) makeVar(rtr->rtindex, attno, type, typmod, coll, 0), 0,
							  psprintf("__ivm_t%d", attno), false);

		added = lappend(added, tle);
		if (attno == key)
			keytle = tle;
	}
	wf = makeNode(WindowFunc);
	wf->winfnoid = F_ROW_NUMBER;
	wf->wintype = INT8OID;
	wf->winref = 1;
	wf->winstar = false;
	wf->winagg = false;
	wf->location = -1;
	rntle = makeTargetEntry((Expr *) wf, 0, pstrdup("__ivm_rn"), false);
	s->targetList = list_concat(list_concat(visible, added), list_make1(rntle));
	s->targetList = list_concat(s->targetList, junk);
	foreach(lc, s->targetList)
		lfirst_node(TargetEntry, lc)->resno = ++resno;

	/* PARTITION BY t's key ORDER BY x's order */
	part = makeNode(SortGroupClause);
	{
		Index		ref = 0;

		foreach(lc, s->targetList)
			ref = Max(ref, lfirst_node(TargetEntry, lc)->ressortgroupref);
		keytle->ressortgroupref = ref + 1;
		part->tleSortGroupRef = ref + 1;
	}
	get_sort_group_operators(exprType((Node *) keytle->expr), false, true, false,
							 &part->sortop, &part->eqop, NULL, &part->hashable);
	part->nulls_first = false;
	wc = makeNode(WindowClause);
	wc->partitionClause = list_make1(part);
	wc->orderClause = s->sortClause;
	wc->frameOptions = FRAMEOPTION_DEFAULTS;
	wc->winref = 1;
	s->windowClause = list_make1(wc);
	s->hasWindowFuncs = true;
	s->sortClause = NIL;
	s->limitCount = NULL;
	s->limitOption = IVM_LIMIT_NONE;

	/* the query reads the subquery alone, up to the rank */
	rx->subquery = s;
	rx->lateral = false;
	rx->eref = makeAlias(rx->eref->aliasname, NIL);
	foreach(lc, s->targetList)
		if (!lfirst_node(TargetEntry, lc)->resjunk)
			rx->eref->colnames = lappend(rx->eref->colnames,
										 makeString(pstrdup(lfirst_node(TargetEntry, lc)->resname)));
	rx->alias = NULL;
	q->targetList = (List *) OuterVars((Node *) q->targetList, &omap);
	quals = OuterVars(q->jointree->quals, &omap);
	if (omap.failed)
		return false;
	leop = get_opfamily_member(INTEGER_BTREE_FAM_OID, INT8OID, INT8OID, BTLessEqualStrategyNumber);
	quals = (Node *) make_and_qual(quals, (Node *) make_opclause(leop, BOOLOID, false,
																 (Expr *) makeVar(1, rntle->resno, INT8OID, -1, InvalidOid, 0),
																 (Expr *) makeConst(INT8OID, -1, InvalidOid, 8, Int64GetDatum(k), false, FLOAT8PASSBYVAL),
																 InvalidOid, InvalidOid));
	IvmQueryForgetRtable(q);
	q->rtable = list_make1(rx);
	rtr = makeNode(RangeTblRef);
	rtr->rtindex = 1;
	q->jointree = makeFromExpr(list_make1(rtr), quals);
	return true;
}

/*
 * Rewritten
 *		*q becomes sql (a rewrite of it; NULL: none), parsed with the pinned
 *		search_path, when that returns the columns of query, the query as
 *		written.  True when it did.
 */
static bool
Rewritten(Query **q, const char *sql, Query *query)
{
	Query	   *over;
	int			nestlevel;

	if (sql == NULL)
		return false;
	nestlevel = IvmPinSearchPath();
	over = IvmParseQuery(sql);
	IvmUnpinSearchPath(nestlevel);
	if (!SameColumns(over, query))
		return false;
	*q = over;
	return true;
}

/*
 * IvmNormalizeQuery
 *		The query with the plain views it reads written in as subqueries
 *		where that keeps its rights (InlinePlainViews: *inlined lists them;
 *		user runs the query), its common table expressions inlined (InlineCtes),
 *		its set operations other than UNION ALL written as DISTINCT or GROUP
 *		BY over UNION ALL (SetOperationsSql), its grouping sets written as a
 *		UNION ALL of GROUP BYs (GroupingSetsSql), the set-returning functions
 *		of its select list moved to FROM (TargetSrfsWithin), and
 *		the simple subqueries of its FROM list flattened into it, as the
 *		planner would pull them up, so that delta rules see one
 *		select-project-join (a subquery that computes a column, wrapped by a
 *		GROUP BY outside, is common: TPC-H Q7 and Q9).  Returns the query
 *		deparsed and analysed again, or NULL when nothing changed.  The view
 *		is defined by that query: it returns the same rows.
 */
Query *
IvmNormalizeQuery(Query *query, Oid user, List **inlined)
{
	Query	   *q;
	bool		changed = false;
	int			nestlevel;

	q = copyObject(query);
	*inlined = InlinePlainViews(q, user);
	changed = *inlined != NIL;
	if (InlineCtes(q))
		changed = true;
	if (q->setOperations != NULL && !q->hasRecursive && q->cteList == NIL &&
		Rewritten(&q, SetOperationsSql(q), query))
		changed = true;
	if (q->groupingSets != NIL && !q->hasRecursive && q->cteList == NIL &&
		Rewritten(&q, GroupingSetsSql(q), query))
		changed = true;
	if (!q->hasRecursive && q->cteList == NIL && TargetSrfsWithin(q))
		changed = true;
	if (!q->hasRecursive && q->cteList == NIL && FlattenWithin(q))
		changed = true;
	/* (checked whole: the rewrite must keep the query's columns) */
	{
		Query	   *lat = copyObject(q);

		if (LateralTopk(lat) && Rewritten(&q, IvmDeparseQuery(lat), query))
			changed = true;
	}
	if (!changed)
		return NULL;

	/*
	 * Parsed back with the path it was deparsed with (pg_catalog): a name
	 * it prints bare means pg_catalog's, whatever the caller's search_path
	 * would pick.
	 */
	nestlevel = IvmPinSearchPath();
	q = IvmParseQuery(IvmDeparseQuery(q));
	IvmUnpinSearchPath(nestlevel);
	return q;
}

