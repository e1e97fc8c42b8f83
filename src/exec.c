/*-------------------------------------------------------------------------
 *
 * exec.c
 *		How ivm runs SQL: SPI connection and checks, the plan cache every
 *		statement of a tick goes through, and ephemeral named relations.
 *
 * Layer: exec, the lowest (with rights.c, which says who runs what).  Calls
 * PostgreSQL only.
 *
 * Plan cache: statements are prepared once and kept (SPI_keepplan), keyed
 * by their text and a size class of the deltas they read, so a small tick
 * does not plan anything and a plan made for ten delta rows is not used for
 * ten million.  A change to a view's definition or a source's columns
 * changes the generated text, hence the key; PostgreSQL's plan cache
 * replans a kept plan whose relations changed.
 *
 * Planning ivm's own statements: a table never vacuumed nor analyzed
 * (reltuples -1) of fewer than 10 pages is planned by PostgreSQL as 10
 * pages, about two thousand rows of a narrow table: a cross join of four
 * three-row tables then looks like 10^13 rows, and its plan is costed (and
 * compiled by JIT) for them.  While PostgreSQL plans a statement of ivm's
 * (OwnPlanning), such a table's size is what it holds: its pages, and its
 * live rows counted at the planning snapshot (a few pages of a heap read, no
 * user code).  The user's own queries, and the queries a user's function
 * runs inside ivm's, are planned as PostgreSQL plans them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "optimizer/planner.h"
#include "storage/bufmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "ivm.h"
#include "exec.h"

PG_FUNCTION_INFO_V1(ivm_plan_stats);

/*
 * IvmSpiConnect
 *		SPI_connect, or a "cannot happen" error.
 */
void
IvmSpiConnect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "ivm: SPI_connect failed");
}

/*
 * IvmSpiCheck
 *		"Cannot happen" check of an SPI return code.
 */
void
IvmSpiCheck(int rc, int expected, const char *what)
{
	if (rc != expected)
		elog(ERROR, "ivm: SPI failed while %s: %s", what, SPI_result_code_string(rc));
}

#define PLAN_CACHE_MAX 4096

typedef struct PlanEntry
{
	uint64		key;			/* hash of text, argument types, size class */
	char	   *sql;			/* in TopMemoryContext */
	SPIPlanPtr	plan;
} PlanEntry;

static HTAB *plan_cache = NULL;
static int64 plans_prepared = 0;
static int64 plans_reused = 0;

static void
CreatePlanCache(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(PlanEntry);
	plan_cache = hash_create("ivm plans", 256, &ctl, HASH_ELEM | HASH_BLOBS);
}

/* forget every kept plan (when there are too many) */
static void
IvmResetPlanCache(void)
{
	HASH_SEQ_STATUS seq;
	PlanEntry  *e;

	hash_seq_init(&seq, plan_cache);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		SPI_freeplan(e->plan);
		pfree(e->sql);
	}
	hash_destroy(plan_cache);
	plan_cache = NULL;
}

/*
 * IvmExecCached
 *		Run one statement through a kept plan, at snap (command id advanced,
 *		so earlier writes of the tick are visible) or, without a snapshot,
 *		the ordinary way.  Returns the SPI code; results in SPI_tuptable.
 */
int
IvmExecCached(const char *sql, int nargs, Oid *argtypes, Datum *values,
			  const char *nulls, Snapshot snap, long tcount, int sizeclass)
{
	SPIPlanPtr	plan = IvmKeptPlan(sql, nargs, argtypes, sizeclass);

	if (snap != InvalidSnapshot)
		return SPI_execute_snapshot(plan, values, nulls, snap, InvalidSnapshot,
									false, true, tcount);
	return SPI_execute_plan(plan, values, nulls, false, tcount);
}

/*
 * IvmKeptPlan
 *		The kept plan of sql (prepared now if it was not), valid until the
 *		cache is reset: its callers use it at once.  Size class
 *		IVM_PLAN_PARALLEL lets the planner choose a parallel plan, for a
 *		statement run whole (not through a cursor) that reads much.
 */
SPIPlanPtr
IvmKeptPlan(const char *sql, int nargs, Oid *argtypes, int sizeclass)
{
	XXH3_state_t state;
	uint64		key;
	PlanEntry  *entry;
	bool		found;

	if (plan_cache == NULL)
		CreatePlanCache();

	XXH3_64bits_reset(&state);
	XXH3_64bits_update(&state, sql, strlen(sql));
	XXH3_64bits_update(&state, &sizeclass, sizeof(sizeclass));
	if (nargs > 0)
		XXH3_64bits_update(&state, argtypes, sizeof(Oid) * nargs);
	key = XXH3_64bits_digest(&state);

	entry = hash_search(plan_cache, &key, HASH_FIND, &found);
	if (found && strcmp(entry->sql, sql) != 0)
	{
		SPI_freeplan(entry->plan);
		pfree(entry->sql);
		hash_search(plan_cache, &key, HASH_REMOVE, NULL);
		found = false;
	}
	if (!found)
	{
		SPIPlanPtr	plan;

		if (hash_get_num_entries(plan_cache) >= PLAN_CACHE_MAX)
		{
			IvmResetPlanCache();
			CreatePlanCache();
		}
		plan = SPI_prepare_cursor(sql, nargs, argtypes,
								  sizeclass == IVM_PLAN_PARALLEL ? CURSOR_OPT_PARALLEL_OK : 0);
		if (plan == NULL)
			elog(ERROR, "ivm: SPI_prepare failed for \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "ivm: SPI_keepplan failed");
		entry = hash_search(plan_cache, &key, HASH_ENTER, NULL);
		entry->sql = MemoryContextStrdup(TopMemoryContext, sql);
		entry->plan = plan;
		plans_prepared++;
	}
	else
		plans_reused++;
	return entry->plan;
}

/*
 * IvmKeptPlanCost
 *		The planner's estimate of what running sql costs (the total cost of
 *		its plan, in the planner's units).  The plan is the kept one the
 *		statement then runs on, so asking costs no planning of its own; it
 *		is made for the deltas registered now (their size class's first
 *		size, when kept already).  Planning may evaluate the query's
 *		immutable functions: the caller runs this as the role the statement
 *		will run as.
 */
double
IvmKeptPlanCost(const char *sql, int sizeclass)
{
	SPIPlanPtr	plan = IvmKeptPlan(sql, 0, NULL, sizeclass);
	CachedPlan *cplan = SPI_plan_get_cached_plan(plan);
	double		cost = 0;
	ListCell   *lc;

	if (cplan == NULL)
		elog(ERROR, "ivm: no plan for \"%s\"", sql);
	foreach(lc, cplan->stmt_list)
	{
		PlannedStmt *stmt = lfirst_node(PlannedStmt, lc);

		if (stmt->planTree != NULL)
			cost += stmt->planTree->total_cost;
	}
	ReleaseCachedPlan(cplan, CurrentResourceOwner);
	return cost;
}

/*
 * ivm_plan_stats
 *		SQL: ivm._plan_stats(OUT prepared bigint, OUT reused bigint): how
 *		many statements this backend prepared and how many ran on a kept
 *		plan.  For tests of the cache.
 */
Datum
ivm_plan_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ivm._plan_stats() must return a record");
	values[0] = Int64GetDatum(plans_prepared);
	values[1] = Int64GetDatum(plans_reused);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * IvmExecSnap
 *		Prepare and run one statement at snap (advancing its command id so
 *		earlier writes of this tick are visible), or, without a snapshot,
 *		the ordinary way.  Returns the SPI code; results in SPI_tuptable.
 */
int
IvmExecSnap(const char *sql, int nargs, Oid *argtypes, Datum *values,
			const char *nulls, Snapshot snap, long tcount)
{
	return IvmExecCached(sql, nargs, argtypes, values, nulls, snap, tcount, 0);
}

/* rows fetched at a time by IvmFetchBatches */
#define FETCH_BATCH 10000

/*
 * IvmFetchBatches
 *		Run SELECT sql (a kept plan of sizeclass) at snap (its command id
 *		advanced), or without one at the active snapshot, and hand its rows
 *		to fn FETCH_BATCH at a time through a cursor, so that no result is
 *		held whole; fn returns false to stop.  A plan that may be parallel
 *		(IVM_PLAN_PARALLEL) runs whole instead: a cursor would run it
 *		serially (such statements return few rows).  Runs as the current
 *		user, fn too.
 */
void
IvmFetchBatches(const char *sql, int nargs, Oid *argtypes, Datum *values, Snapshot snap,
				int sizeclass, IvmBatchFn fn, void *arg)
{
	SPIPlanPtr	plan;
	Portal		portal;

	if (sizeclass == IVM_PLAN_PARALLEL)
	{
		int			rc = IvmExecCached(sql, nargs, argtypes, values, NULL, snap, 0, sizeclass);

		IvmSpiCheck(rc, SPI_OK_SELECT, "running a query");
		(void) fn(SPI_tuptable, SPI_processed, arg);
		SPI_freetuptable(SPI_tuptable);
		return;
	}
	plan = IvmKeptPlan(sql, nargs, argtypes, sizeclass);
	if (snap != InvalidSnapshot)
	{
		CommandCounterIncrement();
		PushCopiedSnapshot(snap);
		UpdateActiveSnapshotCommandId();
		portal = SPI_cursor_open(NULL, plan, values, NULL, true);
		PopActiveSnapshot();
	}
	else
		portal = SPI_cursor_open(NULL, plan, values, NULL, true);
	for (;;)
	{
		bool		more;

		SPI_cursor_fetch(portal, true, FETCH_BATCH);
		if (SPI_processed == 0)
			break;
		more = fn(SPI_tuptable, SPI_processed, arg);
		SPI_freetuptable(SPI_tuptable);
		if (!more)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
}

/* Register a tuplestore as an ephemeral named relation of SPI statements. */
void
IvmRegisterTuplestore(const char *name, Tuplestorestate *ts, TupleDesc desc)
{
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));
	int			rc;

	enr->md.name = pstrdup(name);
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = desc;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = (double) tuplestore_tuple_count(ts);
	enr->reldata = ts;
	rc = SPI_register_relation(enr);
	IvmSpiCheck(rc, SPI_OK_REL_REGISTER, "registering a delta");
}


/*
 * How deep this backend is in planner calls and executor runs: ivm's own
 * statements are planned at the depth its work started at (the setting
 * ivm.statement_level, pinned with the views' settings); a query a user's
 * function runs while one of them is planned or runs is deeper.
 */
static int	nesting = 0;

static planner_hook_type prev_planner = NULL;
static ExecutorRun_hook_type prev_executor_run = NULL;
static ExecutorFinish_hook_type prev_executor_finish = NULL;
static get_relation_info_hook_type prev_relation_info = NULL;

/* never-analyzed tables of fewer pages than this are planned as 10 pages */
#define DEFAULT_SIZE_PAGES 10

/*
 * IvmNestingLevel
 *		The planner and executor depth of the caller, for
 *		ivm.statement_level.
 */
int
IvmNestingLevel(void)
{
	return nesting;
}

/* whether the planner is planning one of ivm's own statements */
static bool
OwnPlanning(void)
{
	return ivm_statement_level >= 0 && nesting == ivm_statement_level + 1;
}

/* planner_hook: count the depth */
static PlannedStmt *
IvmPlanner(Query *parse, const char *query_string, int cursorOptions,
		   ParamListInfo boundParams)
{
	PlannedStmt *result;

	nesting++;
	PG_TRY();
	{
		if (prev_planner)
			result = prev_planner(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		nesting--;
	}
	PG_END_TRY();
	return result;
}

/* ExecutorRun_hook: count the depth */
static void
IvmExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count
			   IVM_EXECUTOR_RUN_ONCE_PARAM)
{
	nesting++;
	PG_TRY();
	{
		if (prev_executor_run)
			prev_executor_run(queryDesc, direction, count IVM_EXECUTOR_RUN_ONCE_ARG);
		else
			standard_ExecutorRun(queryDesc, direction, count IVM_EXECUTOR_RUN_ONCE_ARG);
	}
	PG_FINALLY();
	{
		nesting--;
	}
	PG_END_TRY();
}

/* ExecutorFinish_hook (AFTER triggers run there): count the depth */
static void
IvmExecutorFinish(QueryDesc *queryDesc)
{
	nesting++;
	PG_TRY();
	{
		if (prev_executor_finish)
			prev_executor_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		nesting--;
	}
	PG_END_TRY();
}

/* the live rows of heap rel at snap (a few pages: the caller checked) */
static double
CountLiveRows(Relation rel, Snapshot snap)
{
	TableScanDesc scan = table_beginscan(rel, snap, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	double		rows = 0;

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		rows++;
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	return rows;
}

/*
 * IvmRelationInfo
 *		get_relation_info_hook: while one of ivm's statements is planned, a
 *		heap table never vacuumed nor analyzed and smaller than the 10 pages
 *		PostgreSQL assumes of it gets its real size: its pages, and its
 *		live rows counted at the active snapshot.  Its indexes hold no more
 *		entries than it has rows.  Anything else is left as PostgreSQL
 *		estimated it.
 */
static void
IvmRelationInfo(PlannerInfo *root, Oid relid, bool inhparent, RelOptInfo *rel)
{
	Relation	relation;

	if (prev_relation_info)
		prev_relation_info(root, relid, inhparent, rel);
	if (inhparent || !OwnPlanning() || !ActiveSnapshotSet())
		return;

	/* locked by the planner's caller already */
	relation = table_open(relid, NoLock);
	if ((relation->rd_rel->relkind == RELKIND_RELATION ||
		 relation->rd_rel->relkind == RELKIND_MATVIEW) &&
		relation->rd_tableam == GetHeapamTableAmRoutine() &&
		relation->rd_rel->reltuples < 0 &&
		!relation->rd_rel->relhassubclass)
	{
		BlockNumber pages = RelationGetNumberOfBlocks(relation);

		if (pages < DEFAULT_SIZE_PAGES)
		{
			double		rows = pages == 0 ? 0 : CountLiveRows(relation, GetActiveSnapshot());
			ListCell   *lc;

			rel->pages = pages;
			rel->tuples = rows;
			foreach(lc, rel->indexlist)
			{
				IndexOptInfo *index = lfirst_node(IndexOptInfo, lc);

				index->tuples = Min(index->tuples, rows);
			}
		}
	}
	table_close(relation, NoLock);
}

/*
 * IvmInstallPlannerHooks
 *		From _PG_init (preloaded): the depth counters and the sizes of
 *		never-analyzed tables in ivm's own statements.
 */
void
IvmInstallPlannerHooks(void)
{
	prev_planner = planner_hook;
	planner_hook = IvmPlanner;
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = IvmExecutorRun;
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = IvmExecutorFinish;
	prev_relation_info = get_relation_info_hook;
	get_relation_info_hook = IvmRelationInfo;
}
