/*-------------------------------------------------------------------------
 *
 * operators.h
 *		The operator layer: query trees in, delta SQL out, no SPI
 *		(shape.c, join.c, joinorder.c, agg.c, outer.c, scalar.c, semi.c,
 *		topk.c, window.c, recursive.c, route.c, qtree.c).
 *
 * Layer: operators.  Calls nothing of ivm but each other.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_OPERATORS_H
#define IVM_OPERATORS_H

#include "ivm.h"
#include "rewrite/rewriteManip.h"

/* ---- operators ----------------------------------------------------- */

/*
 * shape.c: which views delta rules maintain, and their SQL (with join.c,
 * joinorder.c and agg.c, which share shape_int.h)
 */
typedef enum IvmKind
{
	IVM_KIND_DIFF,				/* re-run the query and compare */
	IVM_KIND_SPJ,				/* filters, projections, inner joins, UNION ALL */
	IVM_KIND_AGG,				/* GROUP BY with count/sum/avg/min/max, DISTINCT */
	IVM_KIND_TOPK,				/* ORDER BY ... LIMIT over a hidden view */
	IVM_KIND_WINDOW,			/* window functions over a hidden view */
	IVM_KIND_RECURSIVE			/* WITH RECURSIVE: its own fixpoint loop */
} IvmKind;

/*
 * recursive.c: WITH RECURSIVE r AS (base UNION step) SELECT * FROM r, kept
 * by delete-and-rederive and semi-naive insertion (fixpoint.c)
 */
typedef struct IvmRecursive
{
	Query	   *base;			/* the non-recursive term, standalone */
	Query	   *step;			/* the recursive term, standalone */
	int			brel;			/* base's relation (range table index), or 0 */
	int			erel;			/* step's relation besides r, or 0 */
	int			rref;			/* step's reference to r */
	int			ncols;			/* r's columns, */
	List	   *colnames;		/* their names (String), */
	List	   *eqops;			/* and their types' equality operators */
	List	   *rkeys;			/* r's columns step joins its relation on
								 * (1-based): the storage is indexed on them */
} IvmRecursive;

/* window.c: window functions, their rows kept in a hidden view */
typedef struct IvmWindow
{
	Query	   *inner;			/* what the hidden view holds: c1..cn */
	Query	   *outer;			/* the view's query over the hidden view */
	List	   *keycols;		/* per partition column: the view's column, 0-based */
	List	   *hkeys;			/* and the hidden view's, 1-based (c<n>) */
	List	   *eqops;			/* and its equality */
	int			orderkey;		/* the hidden view's column (c<n>) of the first
								 * window's first ORDER BY key, or 0 */
	SortGroupClause *ordersgc;	/* that key's sort clause */
} IvmWindow;

/* topk.c: ORDER BY ... LIMIT, its input kept whole in a hidden view */
typedef struct IvmTopk
{
	Query	   *inner;			/* the query without ORDER BY and LIMIT,
								 * showing every sort key */
	int			ncols;			/* its columns: the hidden view's c1..cn */
	char	   *order;			/* ORDER BY list over h.c<n> */
	char	   *limit;			/* OFFSET / FETCH FIRST text, maybe empty */
	char	   *index;			/* index columns on the hidden storage, or NULL */
	int64		need;			/* rows the view reads: OFFSET + LIMIT, or 0
								 * without a LIMIT */
	int			keycol;			/* the first sort key: c<keycol>, */
	Oid			keyop;			/* its sort operator, */
	bool		keynullsfirst;	/* and where its NULLs go; */
	bool		fenced;			/* an index might order by it inexactly:
								 * rescans sort by (key IS NULL), key */
	int			partcol;		/* a top-k per partition (window.c): the
								 * hidden view's partition column, or 0 */
	Oid			parteq;			/* and its equality */
} IvmTopk;

typedef enum IvmAggKind
{
	IVM_AGG_COUNT_STAR,
	IVM_AGG_COUNT,
	IVM_AGG_SUM,
	IVM_AGG_AVG,
	IVM_AGG_MIN,
	IVM_AGG_MAX,
	IVM_AGG_RECOMPUTE			/* no running form: a touched group is recomputed */
} IvmAggKind;

typedef struct IvmAgg
{
	IvmAggKind	kind;
	int			col;			/* visible column, 0-based; -1: hidden (__ivm_a<n>) */
	Expr	   *aggref;			/* the aggregate call */
	const char *fname;			/* MIN/MAX: min, max, bool_and, every, bool_or */
	Expr	   *arg;			/* argument, NULL for count(*) and RECOMPUTE */
	List	   *args;			/* RECOMPUTE: its argument expressions, then its
								 * filter; columns __ivm_c<argcol> on */
	Oid			argtype;
	Oid			restype;
	Oid			sumtype;		/* running sum's type (sum, avg) */
	int			argcol;			/* n of __ivm_c<n> in the SPJ part */
	bool		recompute_on_retract;	/* a group losing an input is recomputed */
	bool		numeric_inputs; /* numeric sum/avg: finite sum, inputs counted by kind */
} IvmAgg;

/*
 * The hidden views a view's shape reads (an operator's input kept as a view
 * of its own: the query under a top-k, an uncorrelated subquery that is not
 * a plain filter of one relation), claimed in the order the analysis meets
 * them, and what each holds.
 */
typedef struct IvmHiddenCtx
{
	List	   *hidden;			/* Oids of the view's hidden views, by id */
	int			next;			/* how many were claimed */
	List	   *wants;			/* Query: what each holds, in that order */
} IvmHiddenCtx;

extern Oid	IvmHiddenClaim(IvmHiddenCtx *hc, Query *holds);

/*
 * semi.c: a semi or anti join, a WHERE conjunct of a branch: EXISTS (or NOT
 * EXISTS) of sub, which reads one relation and is correlated with the
 * branch's row by Vars of level 1.
 */
typedef struct IvmSemi
{
	Node	   *cond;			/* the conjunct as written */
	bool		anti;			/* NOT EXISTS */
	Query	   *sub;			/* SELECT 1 FROM inner WHERE filter and correlation */
	Oid			relid;			/* the inner relation (a hidden view's, or
								 * InvalidOid while it does not exist) */
	int			inner;			/* its range table index in sub */
	List	   *keys;			/* OpExprs of sub: outer expression = inner one */
	List	   *key_inner;		/* per key, which argument is the inner one (0/1) */
	List	   *local;			/* conjuncts of sub's filter reading the inner row only */
	bool		keyed;			/* the keys are all the correlation, but neq */
	OpExpr	   *neq;			/* with keys, one inner <> outer condition */
	int			neq_inner;		/* which of its arguments is the inner one */
} IvmSemi;

/*
 * a select-project-join query, the range table indexes of its relations,
 * and the semi joins taken out of its WHERE clause
 */
typedef struct IvmBranch
{
	Query	   *query;
	List	   *rels;
	List	   *semis;
} IvmBranch;

typedef struct IvmShape
{
	IvmKind		kind;
	char	   *reason;			/* why this shape, or why diff */
	Query	   *query;
	int			nvisible;		/* the query's columns */
	List	   *types;			/* their types (Oid) */
	List	   *typmods;
	List	   *branches;		/* IvmBranch: SPJ branches, or AGG's part */
	bool		distinct;		/* AGG: SELECT DISTINCT */
	bool		scalar;			/* AGG: no GROUP BY, always one row */
	int			nkeys;
	List	   *keycols;		/* visible column of each key, 0-based */
	int		   *colrole;		/* per column: -k key k, +a aggregate a, 0 computed */
	bool		computed;		/* some column is computed from keys and aggregates */
	Expr	   *having;			/* HAVING over the storage row, or NULL */
	AttrNumber	passattno;		/* the hidden column holding it (__ivm_pass), or 0 */
	Expr	  **colexpr;		/* per computed column: its expression over the
								 * storage row (Vars of relation 1) */
	int			naggs;
	IvmAgg	   *aggs;
	IvmTopk    *topk;			/* TOPK: the order and limit */
	IvmWindow  *window;			/* WINDOW: the windows over the hidden view */
	IvmRecursive *recursive;	/* RECURSIVE: its terms */
	struct IvmShape *inner;		/* TOPK, WINDOW: the shape of the hidden view's query */
	List	   *wants;			/* Query: what each hidden view it reads holds */
	bool		missing_hidden; /* some of those do not exist (yet) */
} IvmShape;

/* has relid's delta rows this tick? */
typedef bool (*IvmChanged) (Oid relid, void *arg);
/* the ENR holding relid's delta (its name in *enrname), or NULL */
typedef TupleDesc (*IvmDeltaLookup) (Oid relid, const char **enrname, void *arg);

/* qtree.c: query-tree pieces the operators share */
extern bool IvmReadDelta(RangeTblEntry *rte, Bitmapset *used, const char *enrname,
						 TupleDesc enrdesc, Oid *weight_type);
extern char *IvmDeparseQuery(Query *query);
extern RangeTblEntry *IvmHiddenRte(Query *into, Query *holds, Oid relid, const char *alias);
extern char *IvmOperatorSql(Oid opno);
extern void IvmReplaceRelationVars(Query *q, int varno, List *tlist,
								   ReplaceVarsNoMatchOption nomatch);
extern JoinExpr *IvmJoinStep(Query *q, Node *left, Node *right, JoinType jointype, Node *quals);

/* window.c */
extern const char *IvmWindowAnalyze(Query *query, Oid relid, IvmWindow **out);
extern char *IvmWindowSql(IvmWindow *w, const char *enrname);
extern char *IvmWindowStoredFilter(IvmWindow *w, const char *enrname, List *colnames);
extern bool IvmWindowRankFilter(Query *query, int *col, int64 *k);
extern IvmTopk *IvmWindowMargin(Query *query, int col, int64 k);

/* recursive.c */
extern const char *IvmRecursiveAnalyze(Query *query, IvmRecursive **out);
extern Query *IvmRecursiveHide(Query *query, IvmHiddenCtx *hc, const char **why);
extern char *IvmRecursiveBaseSql(IvmRecursive *rec, const char *enrname, TupleDesc enrdesc);
extern char *IvmRecursiveStepSql(IvmRecursive *rec, Oid storage_rel, const char *rname,
								 const char *enrname, TupleDesc enrdesc);

/* route.c: partitioned views, each table's delta routed to its shard */
extern const char *IvmShapeRoutes(IvmShape *shape, int keycol, List **relids, List **attnos);

/* topk.c */
extern const char *IvmTopkAnalyze(Query *query, IvmTopk **topk);
extern char *IvmTopkSql(IvmTopk *topk, int nvisible, const char *hidden);
extern int64 IvmTopkMargin(IvmTopk *topk, IvmShape *inner);
extern char *IvmTopkFirstSql(IvmTopk *topk, const char *query, int ncols, int64 rows, bool ties);
extern char *IvmTopkKeyAtSql(IvmTopk *topk, const char *rel, int64 offset, bool from_last);
extern char *IvmTopkWithinSql(IvmTopk *topk, const char *x, const char *bound);
extern char *IvmTopkRescanSql(IvmTopk *topk, const char *query, int ncols, const char *storage,
							  int64 rows);
extern char *IvmTopkPartsSql(IvmTopk *topk, const char *enrname, const char *storage, const char *what);
extern char *IvmTopkPartRescanSql(IvmTopk *topk, const char *query, int ncols, const char *storage,
								  int64 rows, const char *parts);
extern char *IvmTopkPartCutSql(IvmTopk *topk, const char *storage, int64 rows, const char *parts);
extern char *IvmTopkPartWithinSql(IvmTopk *topk, const char *delta_sql, int ncols, const char *storage,
								  int64 rows);

/* outer.c: outer joins as inner joins and anti joins */
extern List *IvmOuterSplit(Query *q, const char **why);

/* scalar.c: scalar subqueries decorrelated into joins with hidden views */
extern void IvmScalarExtract(Query *q, IvmHiddenCtx *hc);
extern void IvmScalarSelectList(Query *q, IvmHiddenCtx *hc);

/* semi.c: semi and anti joins */
extern const char *IvmSemiExtract(Query *q, List **semis, IvmHiddenCtx *hc);
extern Node *IvmSemiCountNow(IvmSemi *semi, int cap_rt);
extern Bitmapset *IvmSemiInnerColumns(IvmSemi *semi);
extern void IvmSemiOuterColumns(IvmSemi *semi, int rtindex, Bitmapset **used);
extern Node *IvmSemiDeltaSum(IvmSemi *semi, const char *enrname, TupleDesc enrdesc);
extern char *IvmSemiTouchSql(IvmSemi *semi, const char *enrname, TupleDesc enrdesc, bool by_neq);
extern int	IvmSemiAddTouch(Query *q, IvmSemi *semi, const char *ctename, bool by_neq, Node **quals);
extern Node *IvmSemiNeqOuterIsNull(IvmSemi *semi);

/* shape.c: the driver */
extern IvmShape *IvmAnalyzeShape(Query *query, List *hidden);
extern const char *IvmShapeCheckRelations(IvmShape *shape, bool (*is_view) (Oid relid));
extern void IvmShapeCheckPermissions(IvmShape *shape);
extern char *IvmFullSql(IvmShape *shape, const char *def_name, Oid storage_rel,
						IvmTopk *first, int64 rows);

/* join.c: select-project-join branches, their rows and delta */
extern List *IvmShapeRelids(IvmShape *shape);
extern bool IvmShapeCostlySemi(IvmShape *shape, uint64 (*delta_rows) (Oid relid, void *arg), void *arg);
extern char *IvmDeltaSql(IvmShape *shape, IvmChanged changed, IvmDeltaLookup lookup,
						 void *arg, bool *missing);
extern char *IvmSpjSql(IvmShape *shape);

/* joinorder.c: the order a delta term joins in */
extern bool IvmShapeFixesJoinOrder(IvmShape *shape);

/* agg.c: aggregates */
extern List *IvmShapeHiddenColumns(IvmShape *shape);
extern char *IvmMergeSql(IvmShape *shape, const char *delta_sql, Oid storage_rel,
						 const char *storage_name, List *storage_colnames);

#endif							/* IVM_OPERATORS_H */
