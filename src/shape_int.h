/*-------------------------------------------------------------------------
 *
 * shape_int.h
 *		What the files of a view's shape share among themselves: shape.c
 *		(the driver), join.c, joinorder.c and agg.c.  The rest of ivm reads
 *		shapes through operators.h.
 *
 * Layer: operators.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_SHAPE_INT_H
#define IVM_SHAPE_INT_H

#include "lib/stringinfo.h"

#include "operators.h"

/*
 * A join's delta has 2^n - 1 terms for n relations that changed in a tick:
 * a join of up to IVM_MAX_RELATIONS relations has delta rules, and a tick
 * where more than IVM_MAX_CHANGED of them changed recomputes it instead.
 */
#define IVM_MAX_RELATIONS 16
#define IVM_MAX_CHANGED 6

/* a reason: fmt with its one %s replaced by arg */
static inline char *
ReasonF(const char *fmt, const char *arg)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, fmt, arg);
	return buf.data;
}

/* join.c */
extern const char *IvmBranchSpj(IvmBranch *br, IvmHiddenCtx *hc);
extern bool IvmAnyVar(Node *node, void *context);
extern char *IvmPartNewSql(IvmShape *shape);

/* joinorder.c */
extern void IvmTermJoinOrder(IvmBranch *br, Query *q, List *order_rels, uint32 order_mask);

/* agg.c */
extern const char *IvmAggColumns(IvmShape *shape, Query *query, List *keyrefs, bool distinct);
extern Query *IvmAggPart(IvmShape *shape, Query *query);
extern char *IvmAggFullSql(IvmShape *shape, Oid storage_rel);

#endif							/* IVM_SHAPE_INT_H */
