/*-------------------------------------------------------------------------
 *
 * ivm.h
 *		Types and functions shared by the files of the ivm extension, in
 *		the order of their layers: each file may call the layers above it in
 *		this header (lower ones) and none below it.
 *
 *	exec		exec.c (SPI, kept plans, ephemeral relations), rights.c (who
 *				runs what, pinned search_path, errors across owners, checks),
 *				evidence.c (evidence lines written at commit)
 *	catalog		catalog.c (lookups in ivm's own tables)
 *	rows		rows.c (hashes, row identity, consolidation, applying rows)
 *	operators	shape.c (query trees in, delta SQL out; no SPI)
 *	strategies	diff.c (re-run and compare), incr.c (delta rules)
 *	work		capture.c, view.c, tick.c, watch.c, push.c, full.c,
 *				checkpoint.c, ckptfile.c, restore.c, utility.c: what the
 *				SQL-callable functions and triggers do; a file here calls
 *				others here one way only (push.c -> tick.c -> watch.c,
 *				restore.c -> view.c -> capture.c, utility.c -> view.c, tick.c)
 *	ivm.c		_PG_init, settings, hooks: registers the rest
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_H
#define IVM_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/hsearch.h"
#include "utils/snapshot.h"
#include "utils/tuplestore.h"

#define IVM_SCHEMA			"ivm"
#define IVM_HIDDEN_PREFIX	"__ivm_"
#define IVM_WEIGHT_COLUMN	"__ivm_weight"
#define IVM_HASH_COLUMN		"__ivm_hash"
#define IVM_COUNT_COLUMN	"__ivm_count"
#define IVM_KEY_COLUMN		"__ivm_key"

/* settings (ivm.c) */
extern bool ivm_full_recompute;
extern double ivm_fallback_ratio;
extern int	ivm_change_retention;
extern int	ivm_evidence_retention;
extern bool ivm_log_ticks;
extern char *ivm_evidence_path;
extern int	ivm_dedup_capacity;
extern int	ivm_max_push_rows;
extern int	ivm_debug_hash_bits;

/* ivm.on_error */
typedef enum IvmOnError
{
	IVM_ON_ERROR_QUARANTINE,	/* the failing view waits, the tick commits */
	IVM_ON_ERROR_ABORT			/* the tick fails as a whole */
} IvmOnError;
extern int	ivm_on_error;

/* true while _PG_init has run in this process (shared_preload_libraries) */
extern bool ivm_loaded_at_startup;

/*
 * The relation (a view's storage, a push source) ivm is writing in this
 * backend now, or InvalidOid.  Its guard lets through writes to it alone:
 * a trigger that runs meanwhile cannot write any other guarded relation.
 */
extern Oid	ivm_maintained_rel;

/* ---- exec ---------------------------------------------------------- */

/* exec.c */
extern void IvmSpiConnect(void);
extern void IvmSpiCheck(int rc, int expected, const char *what);
extern SPIPlanPtr IvmKeptPlan(const char *sql, int nargs, Oid *argtypes, int sizeclass);
extern int	IvmExecCached(const char *sql, int nargs, Oid *argtypes, Datum *values,
						  const char *nulls, Snapshot snap, long tcount, int sizeclass);
extern int	IvmExecSnap(const char *sql, int nargs, Oid *argtypes,
						Datum *values, const char *nulls, Snapshot snap,
						long tcount);
extern void IvmRegisterTuplestore(const char *name, Tuplestorestate *ts, TupleDesc desc);

/* rights.c: who runs what (the rule is at the top of rights.c) */
extern Oid	IvmSchemaOwner(void);
extern int	IvmPinSearchPath(void);
extern void IvmUnpinSearchPath(int nestlevel);
extern void IvmReportViewFailure(ErrorData *edata, const char *viewname, Oid owner,
								 Oid caller, int elevel, const char *outcome,
								 const char *hint);
extern void IvmCheckServerFile(const char *path, bool write);

/* Run a block as another role; restored on error by transaction abort. */
typedef struct IvmUserSave
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;		/* IvmCatalogBegin's pinned search_path, or -1 */
} IvmUserSave;
extern void IvmBecome(Oid role, bool restricted, IvmUserSave *save);
extern void IvmRestoreUser(IvmUserSave *save);
extern void IvmCatalogBegin(IvmUserSave *save);
extern void IvmCatalogEnd(IvmUserSave *save);

/* rights.c: checks every SQL-callable function makes first */
extern void IvmCheckPreloaded(void);
extern void IvmCheckWritable(const char *what);
extern void IvmCheckArgNotNull(FunctionCallInfo fcinfo, int argno, const char *argname,
							   const char *funcname);

/* evidence.c */
extern void IvmQueueEvidenceLine(const char *line);

/* ---- catalog ------------------------------------------------------- */

/* catalog.c */
extern int	IvmLookupView(Oid relid, Oid *storage);
extern bool IvmIsIncrementalView(Oid relid);

/* ---- rows ---------------------------------------------------------- */

/* rows.c */
/*
 * A row as the key of a hash table of distinct rows: the hash finds the
 * candidates, the columns decide (IvmRowKeysEqual).  The compared columns
 * are firstatt..lastatt (1-based) of tuple, skipatt (0: none) aside.
 */
typedef struct IvmRowKey
{
	uint64		hash;			/* IvmHashRow of the compared columns */
	HeapTuple	tuple;
	TupleDesc	desc;
	int			firstatt;
	int			lastatt;
	int			skipatt;
} IvmRowKey;

extern const char *IvmDatumImage(Datum value, int16 attlen, uint32 *len, Pointer *copy);
extern uint64 IvmHashRow(HeapTuple tuple, TupleDesc desc, int firstatt, int lastatt);
extern uint64 IvmHashRowExcept(HeapTuple tuple, TupleDesc desc, int skipatt);
extern void IvmRowKeyInit(IvmRowKey *key, HeapTuple tuple, TupleDesc desc,
						  int firstatt, int lastatt, int skipatt);
extern bool IvmRowKeysEqual(const IvmRowKey *a, const IvmRowKey *b);
extern HTAB *IvmRowTableCreate(const char *name, long nelem, Size entrysize,
							   MemoryContext cxt);
extern void IvmConsolidateRows(SPITupleTable *tt, uint64 n, Tuplestorestate *ts);
extern HeapTuple IvmVisibleTuple(HeapTuple tuple, TupleDesc desc, TupleDesc vdesc,
								 int64 weight);
extern void IvmApplyRows(Oid storage_rel, const char *storage_name,
						 ItemPointerData *deletes, uint64 ndeletes,
						 Tuplestorestate *inserts, TupleDesc storage_desc,
						 uint64 ninserts, Snapshot snap, const char *viewname);


/* ---- operators ----------------------------------------------------- */

/* shape.c: which views delta rules maintain, and their SQL */
typedef enum IvmKind
{
	IVM_KIND_DIFF,				/* re-run the query and compare */
	IVM_KIND_SPJ,				/* filters, projections, inner joins, UNION ALL */
	IVM_KIND_AGG,				/* GROUP BY with count/sum/avg/min/max, DISTINCT */
	IVM_KIND_TOPK,				/* ORDER BY ... LIMIT over a hidden view */
	IVM_KIND_WINDOW				/* window functions over a hidden view */
} IvmKind;

/* window.c: window functions, their rows kept in a hidden view */
typedef struct IvmWindow
{
	Query	   *inner;			/* what the hidden view holds: c1..cn */
	Query	   *outer;			/* the view's query over the hidden view */
	List	   *keycols;		/* per partition column: the view's column, 0-based */
	List	   *hkeys;			/* and the hidden view's, 1-based (c<n>) */
	List	   *eqops;			/* and its equality */
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
extern RangeTblEntry *IvmHiddenRte(Query *holds, Oid relid, const char *alias);
extern char *IvmOperatorSql(Oid opno);
extern JoinExpr *IvmJoinStep(Query *q, Node *left, Node *right, JoinType jointype, Node *quals);

/* window.c */
extern const char *IvmWindowAnalyze(Query *query, Oid relid, IvmWindow **out);
extern char *IvmWindowSql(IvmWindow *w, const char *enrname);
extern char *IvmWindowStoredFilter(IvmWindow *w, const char *enrname, List *colnames);

/* topk.c */
extern const char *IvmTopkAnalyze(Query *query, IvmTopk **topk);
extern char *IvmTopkSql(IvmTopk *topk, int nvisible, const char *hidden);

/* outer.c: outer joins as inner joins and anti joins */
extern List *IvmOuterSplit(Query *q, const char **why);

/* scalar.c: scalar subqueries decorrelated into joins with hidden views */
extern void IvmScalarExtract(Query *q, IvmHiddenCtx *hc);
extern void IvmScalarSelectList(Query *q, IvmHiddenCtx *hc);

/* semi.c: semi and anti joins */
extern const char *IvmSemiExtract(Query *q, List **semis, IvmHiddenCtx *hc);
extern Node *IvmSemiCountNow(IvmSemi *semi);
extern Bitmapset *IvmSemiInnerColumns(IvmSemi *semi);
extern void IvmSemiOuterColumns(IvmSemi *semi, int rtindex, Bitmapset **used);
extern Node *IvmSemiDeltaSum(IvmSemi *semi, const char *enrname, TupleDesc enrdesc);
extern char *IvmSemiTouchSql(IvmSemi *semi, const char *enrname, TupleDesc enrdesc, bool by_neq);
extern int	IvmSemiAddTouch(Query *q, IvmSemi *semi, const char *ctename, bool by_neq, Node **quals);
extern Node *IvmSemiNeqOuterIsNull(IvmSemi *semi);

extern IvmShape *IvmAnalyzeShape(Query *query, List *hidden);
extern List *IvmShapeRelids(IvmShape *shape);
extern bool IvmShapeCostlySemi(IvmShape *shape, uint64 (*delta_rows) (Oid relid, void *arg), void *arg);
extern const char *IvmShapeCheckRelations(IvmShape *shape, bool (*is_view) (Oid relid));
extern bool IvmShapeFixesJoinOrder(IvmShape *shape);
extern List *IvmShapeHiddenColumns(IvmShape *shape);
extern void IvmShapeCheckPermissions(IvmShape *shape);
extern char *IvmDeltaSql(IvmShape *shape, IvmChanged changed, IvmDeltaLookup lookup,
						 void *arg, bool *missing);
extern char *IvmFullSql(IvmShape *shape, const char *def_name, Oid storage_rel);
extern char *IvmMergeSql(IvmShape *shape, const char *delta_sql, Oid storage_rel,
						 const char *storage_name, List *storage_colnames);

/* ---- strategies ---------------------------------------------------- */

/* diff.c: what maintaining a view did (every strategy fills one) */
typedef struct IvmDiffResult
{
	uint64		inserted;		/* rows added to the view */
	uint64		deleted;		/* rows removed from the view */
	uint64		rows_after;		/* rows in the storage afterwards (diff) */
	int64		rows_delta;		/* storage rows added less removed */
	int64		size_delta;		/* aggregated rows added less removed (AGG) */
} IvmDiffResult;


extern void IvmDiffView(Oid storage_rel, Oid view_owner, const char *viewname,
						const char *query, const char *stored_filter, Snapshot snap,
						int nvisible, AttrNumber passattno, Tuplestorestate *vdelta,
						TupleDesc vdesc, IvmDiffResult *result);

/* incr.c: the incremental strategy */
extern bool IvmApplySpj(Oid storage_rel, Oid view_owner, const char *viewname,
						const char *delta_sql, Snapshot snap, int nvisible, int sizeclass,
						Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *result);
extern bool IvmApplyAgg(Oid storage_rel, Oid view_owner, const char *viewname,
						IvmShape *shape, const char *merge_sql, Snapshot snap, int sizeclass,
						Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *result);

/* ---- work ---------------------------------------------------------- */

/* normalize.c: a declared query in the form delta rules read */
extern Query *IvmParseQuery(const char *query_text);
extern Query *IvmNormalizeQuery(Query *query);

/* capture.c */
extern void IvmEnsureCaptured(Oid relid);

/* view.c */
extern Oid	IvmCreateView(const char *name, const char *query_text,
						  List *col_names, const char *mode, bool with_data,
						  const char *options_json, uint64 *rows);

/* tick.c */
/* columns of ivm.tick()'s result */
#define TICK_RESULT_COLUMNS 7
extern void IvmRunTick(int force_view_id, Datum *result_values);
extern Datum IvmTickResult(FunctionCallInfo fcinfo);

/* watch.c */
extern void IvmLogChanges(int view_id, Oid owner, Tuplestorestate *delta, TupleDesc vdesc,
						  int64 epoch, Snapshot snap);
extern void IvmNotifyWatchers(const char *channel, Oid viewrel, int64 epoch,
							  uint64 inserted, uint64 deleted);

/* SQL-callable functions used from C */
extern Datum ivm_refresh(PG_FUNCTION_ARGS);

/* utility.c */
extern void IvmInstallUtilityHook(void);

#endif							/* IVM_H */
