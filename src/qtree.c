/*-------------------------------------------------------------------------
 *
 * qtree.c
 *		Query-tree pieces the operators share: a relation read as its
 *		delta, a hidden view read as a relation, a join step, an operator
 *		named in full, and a query as SQL text.
 *
 * A delta is an ephemeral named relation the tick registers (the rows of
 * a table's log consumed this tick, or the rows a view emitted): the
 * relation's columns and a weight.  In a query tree, a relation that reads
 * its delta becomes a reference to a CTE of the ephemeral relation's name
 * that no WITH clause defines, so the deparsed text names the ephemeral
 * relation and nothing else changes.
 *
 * Layer: operators (query trees in and out; no SPI).  Calls nothing of
 * ivm.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "nodes/nodeFuncs.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "ivm.h"
#include "operators.h"

/*
 * IvmReadDelta
 *		Make rte (a table or view) read its delta, the ephemeral relation
 *		enrname of descriptor enrdesc: its columns are named as the
 *		relation's are now (the stored names may predate a RENAME; dropped
 *		columns are empty names), then the weight, whose type goes to
 *		*weight_type.  used: the columns the query reads (pull_varattnos
 *		offsets).  False, rte unchanged, when the delta lacks one of them
 *		with its type, or a weight.
 */
bool
IvmReadDelta(RangeTblEntry *rte, Bitmapset *used, const char *enrname, TupleDesc enrdesc,
			 Oid *weight_type)
{
	List	   *colnames = NIL;
	int			natts = list_length(rte->eref->colnames);

	*weight_type = InvalidOid;
	for (int attno = 1; attno <= natts; attno++)
	{
		char	   *attname = get_attname(rte->relid, attno, true);
		bool		found = false;

		if (attname == NULL || get_attnum(rte->relid, attname) != attno)
			attname = "";		/* dropped */
		colnames = lappend(colnames, makeString(attname));
		if (!bms_is_member(attno - FirstLowInvalidHeapAttributeNumber, used))
			continue;
		for (int i = 0; i < enrdesc->natts && !found; i++)
		{
			Form_pg_attribute att = TupleDescAttr(enrdesc, i);

			if (!att->attisdropped && strcmp(NameStr(att->attname), attname) == 0 &&
				att->atttypid == get_atttype(rte->relid, attno))
				found = true;
		}
		if (!found)
			return false;
	}
	for (int i = 0; i < enrdesc->natts; i++)
		if (strcmp(NameStr(TupleDescAttr(enrdesc, i)->attname), IVM_WEIGHT_COLUMN) == 0)
			*weight_type = TupleDescAttr(enrdesc, i)->atttypid;
	if (!OidIsValid(*weight_type))
		return false;

	rte->rtekind = RTE_CTE;
	rte->ctename = pstrdup(enrname);
	rte->ctelevelsup = 0;
	rte->self_reference = false;
	rte->relid = InvalidOid;
	rte->relkind = 0;
	rte->inh = false;
	IvmRteRequireNothing(rte);
	rte->eref = copyObject(rte->eref);
	rte->eref->colnames = lappend(colnames, makeString(pstrdup(IVM_WEIGHT_COLUMN)));
	return true;
}

/*
 * IvmDeparseQuery
 *		The query as SQL text with every name schema-qualified: deparsed
 *		under search_path = pg_catalog, as pg_dump does.
 */
char *
IvmDeparseQuery(Query *query)
{
	int			save_nestlevel = NewGUCNestLevel();
	char	   *text;

	(void) set_config_option("search_path", "pg_catalog",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	text = pg_get_querydef(query, false);
	AtEOXact_GUC(true, save_nestlevel);
	return text;
}

/*
 * IvmHiddenClaim
 *		The next hidden view of the view being analysed, which holds the
 *		rows of query holds (recorded in hc->wants); InvalidOid while it does
 *		not exist (the view is being declared, or lost it).
 */
Oid
IvmHiddenClaim(IvmHiddenCtx *hc, Query *holds)
{
	Oid			relid = hc->next < list_length(hc->hidden) ? list_nth_oid(hc->hidden, hc->next) : InvalidOid;

	hc->wants = lappend(hc->wants, holds);
	hc->next++;
	return relid;
}

/*
 * IvmHiddenRte
 *		A range table entry, named alias, for query into's range table,
 *		reading the hidden view relid (InvalidOid while it does not exist)
 *		that holds the rows of query holds: columns c1..cn, holds' output
 *		columns; its reader needs SELECT on all of them.
 */
RangeTblEntry *
IvmHiddenRte(Query *into, Query *holds, Oid relid, const char *alias)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	List	   *colnames = NIL;
	Bitmapset  *cols = NULL;
	ListCell   *lc;

	foreach(lc, holds->targetList)
	{
		if (lfirst_node(TargetEntry, lc)->resjunk)
			continue;
		colnames = lappend(colnames, makeString(psprintf("c%d", list_length(colnames) + 1)));
		cols = bms_add_member(cols, list_length(colnames) - FirstLowInvalidHeapAttributeNumber);
	}
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = RELKIND_VIEW;
	rte->rellockmode = AccessShareLock;
	rte->inh = false;
	IvmRteRequireSelect(into, rte, cols);
	rte->alias = makeAlias(alias, NIL);
	rte->eref = makeAlias(alias, colnames);
	rte->inFromCl = true;
	return rte;
}

/*
 * IvmOperatorSql
 *		"OPERATOR(schema.op)": the operator opno, named so that no
 *		search_path picks another.
 */
char *
IvmOperatorSql(Oid opno)
{
	HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	Form_pg_operator op;
	char	   *sql;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "ivm: cache lookup failed for operator %u", opno);
	op = (Form_pg_operator) GETSTRUCT(tup);
	sql = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(op->oprnamespace)),
				   NameStr(op->oprname));
	ReleaseSysCache(tup);
	return sql;
}

/* the range table index of a FROM item: a relation or a join */
static int
ItemIndex(Node *item)
{
	return IsA(item, RangeTblRef) ? ((RangeTblRef *) item)->rtindex : castNode(JoinExpr, item)->rtindex;
}

/*
 * IvmJoinStep
 *		left JOIN right ON quals (a CROSS JOIN for JOIN_INNER without quals),
 *		with the range table entry a deparse needs.
 */
JoinExpr *
IvmJoinStep(Query *q, Node *left, Node *right, JoinType jointype, Node *quals)
{
	int			lvarno = ItemIndex(left);
	int			rvarno = ItemIndex(right);
	List	   *lnames = rt_fetch(lvarno, q->rtable)->eref->colnames;
	List	   *rnames = rt_fetch(rvarno, q->rtable)->eref->colnames;
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	JoinExpr   *j = makeNode(JoinExpr);
	List	   *colnames = NIL;
	List	   *vars = NIL;
	List	   *leftcols = NIL;
	List	   *rightcols = NIL;

	for (int i = 1; i <= list_length(lnames); i++)
	{
		colnames = lappend(colnames, makeString(pstrdup(strVal(list_nth(lnames, i - 1)))));
		vars = lappend(vars, makeVar(lvarno, i, InvalidOid, -1, InvalidOid, 0));
		leftcols = lappend_int(leftcols, i);
	}
	for (int i = 1; i <= list_length(rnames); i++)
	{
		colnames = lappend(colnames, makeString(pstrdup(strVal(list_nth(rnames, i - 1)))));
		vars = lappend(vars, makeVar(rvarno, i, InvalidOid, -1, InvalidOid, 0));
		rightcols = lappend_int(rightcols, i);
	}
	rte->rtekind = RTE_JOIN;
	rte->jointype = jointype;
	rte->joinmergedcols = 0;
	rte->joinaliasvars = vars;
	rte->joinleftcols = leftcols;
	rte->joinrightcols = rightcols;
	rte->eref = makeAlias("unnamed_join", colnames);
	rte->inFromCl = true;
	q->rtable = lappend(q->rtable, rte);

	j->jointype = jointype;
	j->larg = left;
	j->rarg = right;
	j->quals = quals;
	j->rtindex = list_length(q->rtable);
	return j;
}

/*
 * IvmReplaceRelationVars
 *		In q's select list, FROM clause (joins' conditions, WHERE, the
 *		arguments of functions in FROM) and HAVING, each column of relation
 *		varno becomes the expression tlist has for it, or NULL with
 *		REPLACEVARS_SUBSTITUTE_NULL (and tlist NIL).  Subquery expressions
 *		brought in set q->hasSubLinks.
 */
void
IvmReplaceRelationVars(Query *q, int varno, List *tlist, ReplaceVarsNoMatchOption nomatch)
{
	RangeTblEntry *rte = rt_fetch(varno, q->rtable);
	bool		sublinks = false;
	ListCell   *lc;

	foreach(lc, q->rtable)
	{
		RangeTblEntry *f = lfirst_node(RangeTblEntry, lc);

		if (f->rtekind == RTE_FUNCTION)
			f->functions = (List *) IvmReplaceVarsFromTargetList((Node *) f->functions, varno, 0, rte,
															   tlist, nomatch, 0, &sublinks);
	}

	q->targetList = (List *) IvmReplaceVarsFromTargetList((Node *) q->targetList, varno, 0, rte,
													   tlist, nomatch, 0, &sublinks);
	q->jointree = (FromExpr *) IvmReplaceVarsFromTargetList((Node *) q->jointree, varno, 0, rte,
														 tlist, nomatch, 0, &sublinks);
	q->havingQual = IvmReplaceVarsFromTargetList(q->havingQual, varno, 0, rte, tlist, nomatch, 0, &sublinks);
	q->hasSubLinks |= sublinks;
}
