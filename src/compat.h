/*-------------------------------------------------------------------------
 *
 * compat.h
 *		The one place that knows which PostgreSQL ivm is built against.
 *
 * ivm builds against PostgreSQL 15, 17 and 18 (16 where its headers are at
 * hand).  Every "#if PG_VERSION_NUM" of the tree is here: the rest of the
 * code calls the names below, and each maps to the version's own API.
 * Each name says what it does, not which version it papers over.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_COMPAT_H
#define IVM_COMPAT_H

#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_tablespace.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_relation.h"
#include "nodes/nodeFuncs.h"
#include "rewrite/rewriteHandler.h"
#include "rewrite/rewriteManip.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#if PG_VERSION_NUM < 150000
#error "ivm needs PostgreSQL 15 or later"
#endif

/*
 * A function that never returns: put before its declaration (PostgreSQL 18
 * has pg_noreturn, a specifier; before it an attribute, which GCC and clang
 * take in that place too).
 */
#if PG_VERSION_NUM >= 180000
#define IVM_NORETURN pg_noreturn
#else
#define IVM_NORETURN pg_attribute_noreturn()
#endif

/* ExecutorRun's last argument, which 18 dropped (execute_once). */
#if PG_VERSION_NUM >= 180000
#define IVM_EXECUTOR_RUN_ONCE_PARAM
#define IVM_EXECUTOR_RUN_ONCE_ARG
#else
#define IVM_EXECUTOR_RUN_ONCE_PARAM , bool execute_once
#define IVM_EXECUTOR_RUN_ONCE_ARG , execute_once
#endif

/* The absolute value (PostgreSQL 16 dropped its Abs macro). */
#define IvmAbs(x) ((x) >= 0 ? (x) : -(x))

/* The limitOption of a query with no LIMIT (16 dropped LIMIT_OPTION_DEFAULT). */
#if PG_VERSION_NUM >= 160000
#define IVM_LIMIT_NONE LIMIT_OPTION_COUNT
#else
#define IVM_LIMIT_NONE LIMIT_OPTION_DEFAULT
#endif

/* This backend's index in ProcGlobal->allProcs. */
#if PG_VERSION_NUM >= 170000
#define IvmMyProcNumber() ((int) MyProcNumber)
#else
#define IvmMyProcNumber() (MyProc->pgprocno)
#endif

/* Ownership and privilege checks by object class (16: object_*check). */
#if PG_VERSION_NUM >= 160000
#define IvmRelationOwnerCheck(relid, role) \
	object_ownercheck(RelationRelationId, (relid), (role))
#define IvmExtensionOwnerCheck(extoid, role) \
	object_ownercheck(ExtensionRelationId, (extoid), (role))
#define IvmNamespaceAclCheck(nspid, role, mode) \
	object_aclcheck(NamespaceRelationId, (nspid), (role), (mode))
#define IvmTablespaceAclCheck(spcid, role, mode) \
	object_aclcheck(TableSpaceRelationId, (spcid), (role), (mode))
#else
#define IvmRelationOwnerCheck(relid, role) pg_class_ownercheck((relid), (role))
#define IvmExtensionOwnerCheck(extoid, role) pg_extension_ownercheck((extoid), (role))
#define IvmNamespaceAclCheck(nspid, role, mode) pg_namespace_aclcheck((nspid), (role), (mode))
#define IvmTablespaceAclCheck(spcid, role, mode) pg_tablespace_aclcheck((spcid), (role), (mode))
#endif

/*
 * The privileges an owner of ivm's storage or delta log loses (SQL text):
 * those that change its rows or lock it strongly.  17 added MAINTAIN, with
 * which an owner may LOCK, VACUUM FULL, CLUSTER or REFRESH her relation.
 */
#if PG_VERSION_NUM >= 170000
#define IVM_OWNER_REVOKED_PRIVILEGES "DELETE, UPDATE, TRUNCATE, REFERENCES, TRIGGER, MAINTAIN"
#else
#define IVM_OWNER_REVOKED_PRIVILEGES "DELETE, UPDATE, TRUNCATE, REFERENCES, TRIGGER"
#endif

/* A possibly qualified name, split; errors are raised (16: escontext). */
#if PG_VERSION_NUM >= 160000
#define IvmQualifiedNameList(string) stringToQualifiedNameList((string), NULL)
#else
#define IvmQualifiedNameList(string) stringToQualifiedNameList(string)
#endif

/* node of query q with join alias Vars replaced by what they stand for. */
#if PG_VERSION_NUM >= 160000
#define IvmFlattenJoinAliases(q, node) flatten_join_alias_vars(NULL, (q), (node))
#else
#define IvmFlattenJoinAliases(q, node) flatten_join_alias_vars((q), (node))
#endif

/*
 * ReplaceVarsFromTargetList, for a query that is not an INSERT or UPDATE
 * (18 asks for the result relation).
 */
#if PG_VERSION_NUM >= 180000
#define IvmReplaceVarsFromTargetList(node, varno, up, rte, tlist, nomatch, nomatch_varno, sublinks) \
	ReplaceVarsFromTargetList((node), (varno), (up), (rte), (tlist), 0, (nomatch), (nomatch_varno), (sublinks))
#else
#define IvmReplaceVarsFromTargetList(node, varno, up, rte, tlist, nomatch, nomatch_varno, sublinks) \
	ReplaceVarsFromTargetList((node), (varno), (up), (rte), (tlist), (nomatch), (nomatch_varno), (sublinks))
#endif

/* A relation's new, empty storage, made transactionally (16 renamed it). */
#if PG_VERSION_NUM >= 160000
#define IvmSetNewRelfilenode(rel, persistence) RelationSetNewRelfilenumber((rel), (persistence))
#else
#define IvmSetNewRelfilenode(rel, persistence) RelationSetNewRelfilenode((rel), (persistence))
#endif

/* reindex_relation, with no statement (17 asks for one). */
#if PG_VERSION_NUM >= 170000
#define IvmReindexRelation(relid, flags, params) reindex_relation(NULL, (relid), (flags), (params))
#else
#define IvmReindexRelation(relid, flags, params) reindex_relation((relid), (flags), (params))
#endif

/*
 * IvmOrderingOp
 *		True when opno is a btree ordering operator, with its family and
 *		input type, and in *descending whether it sorts greatest first.
 */
static inline bool
IvmOrderingOp(Oid opno, Oid *opfamily, Oid *opcintype, bool *descending)
{
#if PG_VERSION_NUM >= 180000
	CompareType cmptype;

	if (!get_ordering_op_properties(opno, opfamily, opcintype, &cmptype))
		return false;
	*descending = (cmptype == COMPARE_GT);
#else
	int16		strategy;

	if (!get_ordering_op_properties(opno, opfamily, opcintype, &strategy))
		return false;
	*descending = (strategy == BTGreaterStrategyNumber);
#endif
	return true;
}

/*
 * Privileges a query's range table entries ask for.  Up to 15 they are in
 * each entry; from 16 in the query's list rteperminfos, which an entry
 * points into (perminfoindex, 1-based; 0 for none).
 */

/*
 * IvmRteRequireSelect
 *		rte, an entry of q's range table reading relation rte->relid (which
 *		may be InvalidOid while the relation is to be made), needs SELECT on
 *		columns cols (attribute numbers offset as pull_varattnos makes them).
 */
static inline void
IvmRteRequireSelect(Query *q, RangeTblEntry *rte, Bitmapset *cols)
{
#if PG_VERSION_NUM >= 160000
	RTEPermissionInfo *perm = makeNode(RTEPermissionInfo);

	perm->relid = rte->relid;
	perm->inh = rte->inh;
	perm->requiredPerms = ACL_SELECT;
	perm->selectedCols = cols;
	q->rteperminfos = lappend(q->rteperminfos, perm);
	rte->perminfoindex = list_length(q->rteperminfos);
#else
	rte->requiredPerms = ACL_SELECT;
	rte->selectedCols = cols;
#endif
}

/*
 * IvmRteRequireNothing
 *		rte no longer reads a relation (it was made to read a CTE or an
 *		ephemeral relation): nothing is to be checked for it.
 */
static inline void
IvmRteRequireNothing(RangeTblEntry *rte)
{
#if PG_VERSION_NUM >= 160000
	rte->perminfoindex = 0;
#else
	rte->requiredPerms = 0;
#endif
}

/*
 * IvmQueryForgetRtable
 *		q's range table is about to be replaced by new entries: forget the
 *		old one, and the privileges its entries asked for.
 */
static inline void
IvmQueryForgetRtable(Query *q)
{
	q->rtable = NIL;
#if PG_VERSION_NUM >= 160000
	q->rteperminfos = NIL;
#endif
}

/*
 * IvmQueryAppendRtable
 *		Append src's range table to dst's (the caller renumbers src's Vars),
 *		with the privileges its entries ask for.
 */
static inline void
IvmQueryAppendRtable(Query *dst, Query *src)
{
#if PG_VERSION_NUM >= 160000
	CombineRangeTables(&dst->rtable, &dst->rteperminfos, src->rtable, src->rteperminfos);
#else
	dst->rtable = list_concat(dst->rtable, src->rtable);
#endif
}

/*
 * IvmQueryAppendRte
 *		Append rte, a copy of an entry of query src's range table, to dst's,
 *		with the privileges it asks for there.
 */
static inline void
IvmQueryAppendRte(Query *dst, RangeTblEntry *rte, Query *src)
{
#if PG_VERSION_NUM >= 160000
	if (rte->perminfoindex != 0)
	{
		RTEPermissionInfo *perm = copyObject(getRTEPermissionInfo(src->rteperminfos, rte));

		dst->rteperminfos = lappend(dst->rteperminfos, perm);
		rte->perminfoindex = list_length(dst->rteperminfos);
	}
#endif
	dst->rtable = lappend(dst->rtable, rte);
}

/*
 * IvmQueryCheckPermissions
 *		The privilege checks running q would make, for the current user:
 *		an error when one fails.
 */
static inline void
IvmQueryCheckPermissions(Query *q)
{
#if PG_VERSION_NUM >= 160000
	(void) ExecCheckPermissions(q->rtable, q->rteperminfos, true);
#else
	(void) ExecCheckRTPerms(q->rtable, true);
#endif
}

/*
 * Queries with GROUP BY: from 18 the parser adds an entry (RTE_GROUP, last
 * of the range table) whose columns are the grouping expressions, and the
 * target list and HAVING read them through it.  ivm reads and rewrites
 * queries as 15 makes them: IvmQueryUngroup puts the expressions back in
 * place and drops the entry, at every level of q.
 */
#if PG_VERSION_NUM >= 180000
static inline bool
IvmUngroupWalker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;

		if (q->hasGroupRTE && q->rtable != NIL &&
			llast_node(RangeTblEntry, q->rtable)->rtekind == RTE_GROUP)
		{
			q->targetList = (List *) flatten_group_exprs(NULL, q, (Node *) q->targetList);
			q->havingQual = flatten_group_exprs(NULL, q, q->havingQual);
			q->rtable = list_delete_last(q->rtable);
			q->hasGroupRTE = false;
		}
		return query_tree_walker(q, IvmUngroupWalker, context, 0);
	}
	return expression_tree_walker(node, IvmUngroupWalker, context);
}
#endif

static inline void
IvmQueryUngroup(Query *q)
{
#if PG_VERSION_NUM >= 180000
	(void) IvmUngroupWalker((Node *) q, NULL);
#endif
}

/*
 * IvmViewQuery
 *		A copy of the query of view rel, as ivm reads queries.
 */
static inline Query *
IvmViewQuery(Relation rel)
{
	Query	   *q = copyObject(get_view_query(rel));

	IvmQueryUngroup(q);
	return q;
}

#endif							/* IVM_COMPAT_H */
