/*-------------------------------------------------------------------------
 *
 * tick.c
 *		One epoch: take the step lock, take one snapshot, consume every delta
 *		visible in it, walk the DAG of views in topological order, maintain
 *		each view one of whose inputs changed, record evidence, and queue the
 *		notifications that go out when the caller's transaction commits.
 *
 * Locking and visibility:
 *	- The step lock is the single row of ivm._state, locked FOR UPDATE.
 *	  Ticks serialise on it; writers never touch it, so they never wait for
 *	  a tick and a tick never waits for them.
 *	- The snapshot is taken after the lock is granted, so it sees everything
 *	  the previous tick committed.  Every statement of the tick runs at that
 *	  snapshot (with the command counter advanced, so the tick sees its own
 *	  writes): the delta logs consumed and the base tables the queries read
 *	  agree exactly.  A delta committed after the snapshot stays in its log
 *	  for the next tick; deleting only the rows the snapshot sees cannot
 *	  touch it.
 *	- In REPEATABLE READ or SERIALIZABLE, a tick whose transaction snapshot
 *	  predates another tick's commit fails on the lock with a serialization
 *	  error and changes nothing.
 *	- All of it happens in the caller's transaction: views, logs, epoch and
 *	  notifications commit together or not at all.
 *
 * Strategy, per view and tick: a view whose shape has delta rules
 * (shape.c) runs them over the deltas consumed this tick, held in
 * tuplestores registered as ephemeral named relations (ivm_delta_<source>
 * for tables, ivm_vdelta_<view> for the views processed before it); it is
 * recomputed instead when it must be (TRUNCATE, REFRESH, first fill,
 * ivm.full_recompute) or when its incoming delta is too large to be worth
 * folding in (TooLargeDelta).  Other views are diffed.  Every view's own delta goes
 * into its ivm_vdelta_<id> for the views that read it, and into the change
 * log when it is watched.
 *
 * Layer: work.  Calls the strategies (diff.c, incr.c), the operators
 * (shape.c), rows, catalog, exec, rights, evidence.c, and watch.c to
 * announce changes; nothing calls it but push.c, utility.c and SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "rewrite/rewriteHandler.h"
#include "parser/parsetree.h"
#include "access/table.h"
#include "utils/resowner.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/json.h"
#include "utils/hsearch.h"
#include "nodes/nodeFuncs.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "utils/syscache.h"
#include "optimizer/plancat.h"

#include "ivm.h"
#include "exec.h"
#include "catalog.h"
#include "rows.h"
#include "operators.h"
#include "strategies.h"
#include "work.h"

PG_FUNCTION_INFO_V1(ivm_tick);
PG_FUNCTION_INFO_V1(ivm_refresh);

/* A view as the tick sees it. */
typedef struct TickView
{
	int			id;
	Oid			viewrel;
	Oid			storagerel;
	Oid			defrel;
	Oid			owner;
	char	   *name;			/* its name, as evidence records it */
	char	   *qualname;		/* schema-qualified, for messages */
	bool		incremental;	/* strategy: delta rules where they apply */
	bool		needs_recompute;
	bool		populated;
	int64		rows;			/* stored rows (after the tick, once maintained) */
	int64		size;			/* what the fallback ratio compares with */
	char	   *channel;		/* NULL when not watched */
	uint64		changed_rows;	/* rows it emitted this tick */
	bool		processed;
	bool		failed;			/* quarantined (before or during this tick) */
	bool		recovered;		/* was failed, maintained again this tick */
	Tuplestorestate *vdelta;	/* its delta this tick: columns, weight */
	TupleDesc	vdesc;
	char		enrname[NAMEDATALEN];
	int			parent_id;		/* a hidden view: the view it serves, else 0 */
	char	   *hidden_name;	/* its first hidden view (a top-k's input), or NULL */
	List	   *hidden;			/* Oids of its hidden views, by id */
	int			partitions;		/* shards of a partitioned view, else 0 */
	char	   *partition_key;	/* the column they are hashed on */
	Oid			topk_defrel;	/* its parent's first hidden view: the parent's
								 * definition (a top-k's, a window's) */
	Oid			grand_defrel;	/* and the parent's parent's, when the parent
								 * is its first hidden view too */
	bool		bounded;		/* it holds a prefix of its query (topk.c) */
	bool		every_tick;		/* its query is not immutable: diffed every tick */
	bool		rescanned;		/* a top-k whose input was rescanned this tick */
} TickView;

/* A captured table as the tick sees it. */
typedef struct TickSource
{
	int			id;
	Oid			relid;
	uint64		consumed;		/* delta rows taken from its log */
	bool		truncated;
	Tuplestorestate *delta;		/* those rows: columns, weight */
	TupleDesc	desc;
	char		enrname[NAMEDATALEN];
} TickSource;

/* What delta lookups during one view's maintenance can see. */
/* One tick: what it consumed, the views and the DAG, what it did. */
typedef struct TickState
{
	TickSource *sources;
	int			nsources;
	TickView   *views;
	int			nviews;
	int			ndeps;			/* the DAG's edges: */
	int		   *dep_view;		/* this view reads */
	Oid		   *dep_source;		/* this table or view */
	int		   *dep_source_view;	/* (the view's id, else 0) */
	Snapshot	snap;			/* every statement of the tick runs at it */
	int64		epoch;
	Oid			caller;			/* the role that called the tick */
	int			force_view_id;	/* REFRESH of this view, or 0 */
	bool		wrote_before;	/* the caller's transaction wrote before the tick */
	uint64		rows_in;		/* the counters of ivm.tick()'s result */
	uint64		rows_out;
	int			processed;
	int			skipped;
	int			recomputed;
	int			failed;
} TickState;

/*
 * What the tick knows of each incremental view's shape, kept across ticks
 * until a relation it was worked out from changes (its definition, storage,
 * hidden views, shards, the relations its queries read): only an
 * invalidation of one of those (or of every relation) makes it stale.  A
 * stale entry's memory is freed at the next GetShape, so the shapes of
 * dropped views do not stay in TopMemoryContext.
 */
typedef struct ShapeEntry
{
	int			view_id;		/* key */
	bool		valid;			/* false once stale (InvalCallback) */
	Oid		   *deps;			/* the relations it was worked out from */
	int			ndeps;
	List	   *hidden;			/* the view's hidden views, */
	Oid			topk_defrel;	/* and the definitions above it, as of then */
	Oid			grand_defrel;
	Oid			defrel;
	MemoryContext cxt;
	IvmShape   *shape;
	const char *ineligible;		/* why delta rules cannot run, or NULL */
	char	   *full_sql;
	List	   *storage_colnames;
	char	   *storage_name;
	Oid			storagerel;
	char	   *window_sql;		/* WINDOW: the touched partitions' rows, */
	char	   *window_filter;	/* and which stored rows they replace */
	List	   *delta_keys;		/* changed-relation signature (and shard) -> SQL */
	List	   *delta_sqls;
	int			nshards;		/* a partitioned view: its shards, */
	int			keycol;			/* its key's column (0-based), */
	Oid		   *parts;			/* their partitions, */
	List	   *route_relids;	/* and the column each table's delta is */
	List	   *route_attnos;	/* routed by (route.c) */
	IvmTopk    *bound;			/* a top-k's input kept to a margin: the */
	int64		margin;			/* top-k, the rows a rescan fills, */
	char	   *rescan_sql;		/* the rescan, a delta (topk.c), */
	char	   *spj_sql;		/* and its query's rows (IvmSpjSql) */
} ShapeEntry;

static HTAB *shape_cache = NULL;
static bool inval_registered = false;
static bool shapes_stale = false;	/* some entry awaits freeing */

/* the relations invalidated while GetShape works a shape out (-1: too many) */
static Oid	building_invals[32];
static int	n_building_invals = 0;
static uint64 shapes_built = 0; /* names each shape's memory context */

/* error context: which view a failing statement was maintaining */
static void
TickErrorContext(void *arg)
{
	errcontext("while maintaining incremental view \"%s\"", (const char *) arg);
}

/*
 * InvalCallback
 *		A relation changed (relid), or every relation (InvalidOid): the
 *		shapes worked out from it are stale.  Only marked here: an entry may
 *		be in use, and is freed at the next GetShape.
 */
static void
InvalCallback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	ShapeEntry *entry;

	if (n_building_invals >= 0)
	{
		if (!OidIsValid(relid) || n_building_invals == lengthof(building_invals))
			n_building_invals = -1;
		else
			building_invals[n_building_invals++] = relid;
	}
	if (shape_cache == NULL)
		return;
	hash_seq_init(&status, shape_cache);
	while ((entry = (ShapeEntry *) hash_seq_search(&status)) != NULL)
	{
		if (!entry->valid)
			continue;
		if (!OidIsValid(relid))
			entry->valid = false;
		else
		{
			for (int i = 0; i < entry->ndeps; i++)
				if (entry->deps[i] == relid)
				{
					entry->valid = false;
					break;
				}
		}
		if (!entry->valid)
			shapes_stale = true;
	}
}

/* free the stale shapes (none is in use between two GetShape calls) */
static void
FreeStaleShapes(void)
{
	HASH_SEQ_STATUS status;
	ShapeEntry *entry;

	shapes_stale = false;
	hash_seq_init(&status, shape_cache);
	while ((entry = (ShapeEntry *) hash_seq_search(&status)) != NULL)
	{
		if (entry->valid)
			continue;
		if (entry->cxt != NULL)
			MemoryContextDelete(entry->cxt);
		(void) hash_search(shape_cache, &entry->view_id, HASH_REMOVE, NULL);
	}
}

/* add the relations query reads, at any depth, to *relids */
static bool
CollectRelids(Node *node, List **relids)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
			*relids = list_append_unique_oid(*relids, rte->relid);
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, CollectRelids, (void *) relids,
								 QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, CollectRelids, (void *) relids);
}

/* Column col of row row of SPI_tuptable, or (Datum) 0 when null. */
static Datum
GetCol(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? (Datum) 0 : d;
}

/*
 * ConsumeDeltas
 *		Take every delta the snapshot sees out of the logs, consolidated,
 *		into a tuplestore per source registered as ivm_delta_<id>; mark
 *		truncated tables.  Returns the sources, in *nsources.
 */
static TickSource *
ConsumeDeltas(Snapshot snap, int *nsources, uint64 *rows_in, bool *left_dead)
{
	TickSource *sources;
	Oid		   *logrels;
	Oid		   *halfrels;
	int			n;
	int			rc;
	int			active = IvmActiveHalf();
	int			truncated = 0;
	bool		halves;

	halves = IvmLogHalves();
	rc = IvmExecSnap(halves
					 ? "SELECT id, relid::oid, logrel::oid, loghalf::oid FROM ivm._sources ORDER BY id"
					 : "SELECT id, relid::oid, logrel::oid, NULL::oid FROM ivm._sources ORDER BY id",
					 0, NULL, NULL, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing sources");
	n = (int) SPI_processed;
	sources = palloc0(sizeof(TickSource) * Max(n, 1));
	logrels = palloc(sizeof(Oid) * Max(n, 1));
	halfrels = palloc(sizeof(Oid) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		sources[i].id = DatumGetInt32(GetCol(i, 1));
		sources[i].relid = DatumGetObjectId(GetCol(i, 2));
		logrels[i] = DatumGetObjectId(GetCol(i, 3));
		halfrels[i] = DatumGetObjectId(GetCol(i, 4));
	}
	SPI_freetuptable(SPI_tuptable);

	for (int i = 0; i < n; i++)
	{
		/* a source captured before 0.2.0 gets its log's second half */
		if (halves && !OidIsValid(halfrels[i]))
			halfrels[i] = IvmEnsureLogHalf(sources[i].id, logrels[i]);
		/* consolidated as they are read, within work_mem (rows.c) */
		sources[i].delta = tuplestore_begin_heap(false, false, work_mem);
		sources[i].consumed = IvmConsumeLog(logrels[i], halfrels[i], active, snap,
											sources[i].delta, &sources[i].desc, &truncated,
											left_dead);
		*rows_in += sources[i].consumed;
		snprintf(sources[i].enrname, NAMEDATALEN, "ivm_delta_%d", sources[i].id);
		IvmRegisterTuplestore(sources[i].enrname, sources[i].delta, sources[i].desc);
	}
	if (truncated > 0)
		elog(DEBUG1, "ivm tick: %d delta log halves emptied whole", truncated);

	rc = IvmExecSnap("WITH d AS (DELETE FROM ivm._truncated RETURNING relid) "
					 "SELECT DISTINCT relid::oid FROM d",
					 0, NULL, NULL, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "consuming truncation markers");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		Oid			relid = DatumGetObjectId(GetCol((int) r, 1));

		for (int i = 0; i < n; i++)
			if (sources[i].relid == relid)
				sources[i].truncated = true;
	}
	SPI_freetuptable(SPI_tuptable);

	*nsources = n;
	return sources;
}

/* the owner of relation relid, or InvalidOid when it is gone (syscache) */
static Oid
OwnerOrInvalid(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * LoadViews
 *		Every view, in topological order (level, then creation).  One scan
 *		of ivm._views (and an index probe of ivm._watches per view); names
 *		and owners come from the syscache, and each view's hidden views
 *		from the rows read: no join with pg_class, whose size the planner
 *		does not weigh against ivm's unanalysed catalog.  A row whose view
 *		is gone from pg_class is left out.
 */
static TickView *
LoadViews(Snapshot snap, int *nviews)
{
	TickView   *views;
	int			n;
	int			rc;
	int			kept = 0;

	rc = IvmExecSnap("SELECT v.id, v.viewrel::pg_catalog.oid, v.storagerel::pg_catalog.oid, "
					 "v.defrel::pg_catalog.oid, v.strategy OPERATOR(pg_catalog.=) 'incremental', "
					 "v.needs_recompute, v.populated, v.rows, "
					 "(SELECT w.channel FROM ivm._watches w WHERE w.view_id OPERATOR(pg_catalog.=) v.id), "
					 "v.size, v.state OPERATOR(pg_catalog.=) 'failed', v.viewrel::pg_catalog.regclass::pg_catalog.text, "
					 "COALESCE(v.parent_id, 0), "
					 "COALESCE((v.options OPERATOR(pg_catalog.->>) 'partitions')::pg_catalog.int4, 0), "
					 "v.options OPERATOR(pg_catalog.->>) 'partition_key', "
					 "COALESCE((v.options OPERATOR(pg_catalog.->>) 'bounded')::pg_catalog.bool, false), "
					 "COALESCE((v.options OPERATOR(pg_catalog.->>) 'every_tick')::pg_catalog.bool, false) "
					 "FROM ivm._views v ORDER BY v.level, v.id",
					 0, NULL, NULL, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing views");
	n = (int) SPI_processed;
	views = palloc0(sizeof(TickView) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		TickView   *view = &views[kept];

		view->viewrel = DatumGetObjectId(GetCol(i, 2));
		view->name = get_rel_name(view->viewrel);
		if (view->name == NULL)
			continue;			/* its view is gone */
		view->id = DatumGetInt32(GetCol(i, 1));
		view->storagerel = DatumGetObjectId(GetCol(i, 3));
		view->defrel = DatumGetObjectId(GetCol(i, 4));
		view->owner = OwnerOrInvalid(view->defrel);
		view->incremental = DatumGetBool(GetCol(i, 5));
		view->needs_recompute = DatumGetBool(GetCol(i, 6));
		view->populated = DatumGetBool(GetCol(i, 7));
		view->rows = DatumGetInt64(GetCol(i, 8));
		view->channel = SPI_getvalue(tup, desc, 9);
		view->size = DatumGetInt64(GetCol(i, 10));
		view->failed = DatumGetBool(GetCol(i, 11));
		view->qualname = SPI_getvalue(tup, desc, 12);
		view->parent_id = DatumGetInt32(GetCol(i, 13));
		view->partitions = DatumGetInt32(GetCol(i, 14));
		view->partition_key = SPI_getvalue(tup, desc, 15);
		view->bounded = DatumGetBool(GetCol(i, 16));
		view->every_tick = DatumGetBool(GetCol(i, 17));
		view->hidden = NIL;
		kept++;
	}
	SPI_freetuptable(SPI_tuptable);
	n = kept;

	/* each view's hidden views, by id; the name of the first */
	for (int i = 0; i < n; i++)
	{
		List	   *ids = NIL;
		ListCell   *lc;

		for (int j = 0; j < n; j++)
			if (views[j].parent_id != 0 && views[j].parent_id == views[i].id)
				ids = lappend_int(ids, views[j].id);
		list_sort(ids, list_int_cmp);
		foreach(lc, ids)
			for (int j = 0; j < n; j++)
				if (views[j].id == lfirst_int(lc))
				{
					if (views[i].hidden == NIL)
						views[i].hidden_name = views[j].qualname;
					views[i].hidden = lappend_oid(views[i].hidden, views[j].viewrel);
				}
		list_free(ids);
	}

	/* a parent's first hidden view knows the parent's definition, and so on up */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (views[j].id == views[i].parent_id && views[j].hidden != NIL &&
				linitial_oid(views[j].hidden) == views[i].viewrel)
			{
				views[i].topk_defrel = views[j].defrel;
				for (int g = 0; g < n; g++)
					if (views[g].id == views[j].parent_id && views[g].hidden != NIL &&
						linitial_oid(views[g].hidden) == views[j].viewrel)
						views[i].grand_defrel = views[g].defrel;
			}
	*nviews = n;
	return views;
}

/* the shape of an incremental view as of now, from the cache or worked out */
static ShapeEntry *
GetShape(TickView *view)
{
	ShapeEntry *entry;
	bool		found;
	MemoryContext oldcxt;
	Relation	rel;
	Query	   *query;
	char	   *def_name;
	List	   *deps;

	if (!inval_registered)
	{
		CacheRegisterRelcacheCallback(InvalCallback, (Datum) 0);
		inval_registered = true;
	}
	if (shape_cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int);
		ctl.entrysize = sizeof(ShapeEntry);
		shape_cache = hash_create("ivm shapes", 64, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	if (shapes_stale)
		FreeStaleShapes();
	entry = hash_search(shape_cache, &view->id, HASH_ENTER, &found);
	if (found && entry->valid && entry->defrel == view->defrel &&
		entry->storagerel == view->storagerel && entry->nshards == view->partitions &&
		entry->topk_defrel == view->topk_defrel && entry->grand_defrel == view->grand_defrel &&
		equal(entry->hidden, view->hidden))
		return entry;
	if (found && entry->cxt != NULL)
		MemoryContextDelete(entry->cxt);
	entry->cxt = NULL;
	entry->valid = false;
	entry->deps = NULL;
	entry->ndeps = 0;

	{
		MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "ivm view shape",
												  ALLOCSET_SMALL_SIZES);
		bool		valid = true;

		entry->cxt = cxt;
		n_building_invals = 0;
		shapes_stale = true;	/* until valid: freed if working it out fails */
		oldcxt = MemoryContextSwitchTo(cxt);
		/* pg_backend_memory_contexts tells which view, and which working out */
		MemoryContextSetIdentifier(cxt, psprintf("view %d, shape " UINT64_FORMAT,
												 view->id, ++shapes_built));
		rel = table_open(view->defrel, AccessShareLock);
		query = IvmViewQuery(rel);
		table_close(rel, AccessShareLock);
		deps = list_make3_oid(view->defrel, view->storagerel, view->viewrel);
		(void) CollectRelids((Node *) query, &deps);
		entry->shape = IvmAnalyzeShape(query, view->hidden);
		entry->ineligible = entry->shape->kind == IVM_KIND_DIFF
			? entry->shape->reason
			: entry->shape->missing_hidden ? "a hidden view it reads is missing"
			: IvmShapeCheckRelations(entry->shape, IvmIsIncrementalView);
		def_name = quote_qualified_identifier(IVM_SCHEMA, get_rel_name(view->defrel));
		entry->full_sql = entry->shape->kind == IVM_KIND_TOPK && view->hidden_name != NULL
			? IvmTopkSql(entry->shape->topk, entry->shape->nvisible, view->hidden_name)
			: IvmFullSql(entry->shape, def_name, view->storagerel, NULL, 0);
		entry->storage_name = quote_qualified_identifier(IVM_SCHEMA, get_rel_name(view->storagerel));
		entry->storagerel = view->storagerel;
		rel = table_open(view->storagerel, AccessShareLock);
		entry->storage_colnames = NIL;
		for (int i = 0; i < RelationGetDescr(rel)->natts; i++)
			entry->storage_colnames = lappend(entry->storage_colnames,
											  makeString(pstrdup(NameStr(TupleDescAttr(RelationGetDescr(rel), i)->attname))));
		table_close(rel, AccessShareLock);
		entry->window_sql = NULL;
		entry->window_filter = NULL;
		entry->delta_keys = NIL;
		entry->delta_sqls = NIL;
		entry->nshards = view->partitions;
		entry->parts = NULL;
		entry->route_relids = NIL;
		entry->route_attnos = NIL;
		if (view->partitions > 0)
		{
			int			keycol = -1;
			const char *why;

			entry->parts = IvmShardRelations(view->storagerel, view->partitions);
			for (int i = 0; i < entry->shape->nvisible; i++)
				if (strcmp((char *) strVal(list_nth(entry->storage_colnames, i)), view->partition_key) == 0)
					keycol = i;
			entry->keycol = keycol;
			why = keycol < 0 ? "its partition key is not one of its columns"
				: IvmShapeRoutes(entry->shape, keycol, &entry->route_relids, &entry->route_attnos);
			/* no longer routable (cannot happen but by hand): recomputed each tick */
			if (entry->ineligible == NULL && why != NULL)
				entry->ineligible = why;
		}
		entry->bound = NULL;
		entry->rescan_sql = NULL;
		entry->spj_sql = NULL;
		entry->margin = 0;
		if (OidIsValid(view->topk_defrel) && entry->ineligible == NULL)
		{
			IvmTopk    *topk = NULL;
			int			col;
			int64		k;

			rel = table_open(view->topk_defrel, AccessShareLock);
			query = IvmViewQuery(rel);
			table_close(rel, AccessShareLock);
			deps = lappend_oid(deps, view->topk_defrel);
			(void) CollectRelids((Node *) query, &deps);
			if (IvmTopkAnalyze(query, &topk) != NULL)
				topk = NULL;
			/* the input of a window read only up to a rank (window.c) */
			if (topk == NULL && OidIsValid(view->grand_defrel))
			{
				Query	   *grand;

				rel = table_open(view->grand_defrel, AccessShareLock);
				grand = IvmViewQuery(rel);
				table_close(rel, AccessShareLock);
				deps = lappend_oid(deps, view->grand_defrel);
				(void) CollectRelids((Node *) grand, &deps);
				if (IvmWindowRankFilter(grand, &col, &k))
					topk = IvmWindowMargin(query, col, k);
			}
			if (topk != NULL && (entry->margin = IvmTopkMargin(topk, entry->shape)) > 0)
			{
				entry->bound = topk;
				entry->full_sql = IvmFullSql(entry->shape, def_name, view->storagerel, topk,
											 entry->margin);
				entry->spj_sql = IvmSpjSql(entry->shape);
				entry->rescan_sql = IvmTopkRescanSql(topk, entry->spj_sql,
													 entry->shape->nvisible, entry->storage_name,
													 entry->margin + 1);
			}
		}
		/* its hidden views, its shards: the rest of what it was worked out from */
		deps = list_concat(deps, view->hidden);
		for (int i = 0; entry->parts != NULL && i < entry->nshards; i++)
			deps = lappend_oid(deps, entry->parts[i]);
		entry->ndeps = list_length(deps);
		entry->deps = palloc(sizeof(Oid) * Max(entry->ndeps, 1));
		for (int i = 0; i < entry->ndeps; i++)
			entry->deps[i] = list_nth_oid(deps, i);
		entry->hidden = list_copy(view->hidden);
		entry->topk_defrel = view->topk_defrel;
		entry->grand_defrel = view->grand_defrel;
		entry->defrel = view->defrel;
		/* a relation of it changed while it was worked out: used once, then redone */
		if (n_building_invals < 0)
			valid = false;
		for (int i = 0; valid && i < n_building_invals; i++)
			valid = !list_member_oid(deps, building_invals[i]);
		n_building_invals = 0;
		entry->valid = valid;
		if (!valid)
			shapes_stale = true;
		MemoryContextSwitchTo(oldcxt);
	}
	return entry;
}

static TickSource *
FindSource(TickState *ts, Oid relid)
{
	for (int i = 0; i < ts->nsources; i++)
		if (ts->sources[i].relid == relid)
			return &ts->sources[i];
	return NULL;
}

static TickView *
FindView(TickState *ts, Oid relid)
{
	for (int i = 0; i < ts->nviews; i++)
		if (ts->views[i].viewrel == relid)
			return &ts->views[i];
	return NULL;
}

static bool
DeltaChanged(Oid relid, void *arg)
{
	TickSource *src = FindSource((TickState *) arg, relid);
	TickView   *v;

	if (src != NULL)
		return tuplestore_tuple_count(src->delta) > 0;
	v = FindView((TickState *) arg, relid);
	return v != NULL && v->processed && v->vdelta != NULL &&
		tuplestore_tuple_count(v->vdelta) > 0;
}

/* how many delta rows relid has this tick */
static uint64
DeltaRows(Oid relid, void *arg)
{
	TickState  *ts = (TickState *) arg;
	TickSource *src = FindSource(ts, relid);
	TickView   *v;

	if (src != NULL)
		return (uint64) tuplestore_tuple_count(src->delta);
	v = FindView(ts, relid);
	return v != NULL && v->processed && v->vdelta != NULL ? (uint64) tuplestore_tuple_count(v->vdelta) : 0;
}

/*
 * ShapeDeltaRows
 *		The delta rows of the relations a shape's delta rules read (each
 *		once).  A view whose subqueries are hidden views also depends on
 *		the tables under them, whose deltas those views absorb: the view's
 *		own delta is what comes out of them.
 */
static uint64
ShapeDeltaRows(ShapeEntry *entry, TickState *ts)
{
	List	   *relids = NIL;
	uint64		rows = 0;
	ListCell   *lc;

	foreach(lc, IvmShapeRelids(entry->shape))
		relids = list_append_unique_oid(relids, lfirst_oid(lc));
	foreach(lc, relids)
		rows += DeltaRows(lfirst_oid(lc), ts);
	return rows;
}

static TupleDesc
DeltaLookup(Oid relid, const char **enrname, void *arg)
{
	TickSource *src = FindSource((TickState *) arg, relid);
	TickView   *v;

	if (src != NULL)
	{
		*enrname = src->enrname;
		return src->desc;
	}
	v = FindView((TickState *) arg, relid);
	if (v == NULL || !v->processed || v->vdelta == NULL)
		return NULL;
	*enrname = v->enrname;
	return v->vdesc;
}

/*
 * DeltaSqlFor
 *		The delta query of a view for the relations that changed this tick,
 *		from the cache or generated.  NULL when nothing it reads changed;
 *		*missing when a delta lacks a column it needs.
 */
static char *
DeltaSqlFor(ShapeEntry *entry, TickState *ts, bool *missing, int shard)
{
	StringInfoData key;
	ListCell   *lc;
	ListCell   *lc2;
	char	   *sql;
	MemoryContext oldcxt;

	*missing = false;
	initStringInfo(&key);
	foreach(lc, IvmShapeRelids(entry->shape))
		appendStringInfoChar(&key, DeltaChanged(lfirst_oid(lc), ts) ? '1' : '0');
	/* an aggregate's shard merges into its own partition */
	if (shard >= 0 && entry->shape->kind == IVM_KIND_AGG)
		appendStringInfo(&key, "/%d", shard);
	forboth(lc, entry->delta_keys, lc2, entry->delta_sqls)
	{
		if (strcmp(strVal(lfirst(lc)), key.data) == 0)
			return strVal(lfirst(lc2));
	}

	oldcxt = MemoryContextSwitchTo(entry->cxt);
	sql = IvmDeltaSql(entry->shape, DeltaChanged, DeltaLookup, ts, missing);
	if (sql != NULL && entry->shape->kind == IVM_KIND_AGG && shard >= 0)
		sql = IvmMergeSql(entry->shape, sql, entry->parts[shard],
						  quote_qualified_identifier(IVM_SCHEMA, get_rel_name(entry->parts[shard])),
						  entry->storage_colnames);
	else if (sql != NULL && entry->shape->kind == IVM_KIND_AGG)
		sql = IvmMergeSql(entry->shape, sql, entry->storagerel, entry->storage_name, entry->storage_colnames);
	if (sql != NULL)
	{
		entry->delta_keys = lappend(entry->delta_keys, makeString(pstrdup(key.data)));
		entry->delta_sqls = lappend(entry->delta_sqls, makeString(sql));
	}
	MemoryContextSwitchTo(oldcxt);
	return sql;
}

/* the tuple descriptor of a view's delta: its columns, then the weight */
static TupleDesc
ViewDeltaDesc(Oid viewrel)
{
	Relation	rel = table_open(viewrel, AccessShareLock);
	TupleDesc	vd = RelationGetDescr(rel);
	TupleDesc	desc = CreateTemplateTupleDesc(vd->natts + 1);

	for (int i = 1; i <= vd->natts; i++)
		TupleDescCopyEntry(desc, i, vd, i);
	TupleDescInitEntry(desc, vd->natts + 1, IVM_WEIGHT_COLUMN, INT8OID, -1, 0);
	table_close(rel, AccessShareLock);
	return desc;
}

/* the rows an aggregate view aggregates, after a recompute */
static int64
AggregatedRows(Oid storagerel, const char *storage_name, Snapshot snap)
{
	char	   *sql = psprintf("SELECT coalesce(sum(%s), 0)::int8 FROM %s", IVM_COUNT_COLUMN, storage_name);
	IvmUserSave save;
	int			rc;
	int64		n;

	IvmBecomeOwnerOf(storagerel, &save);
	rc = IvmExecSnap(sql, 0, NULL, NULL, NULL, snap, 0);
	IvmRestoreUser(&save);

	IvmSpiCheck(rc, SPI_OK_SELECT, "measuring an aggregate view");
	n = DatumGetInt64(GetCol(0, 1));
	SPI_freetuptable(SPI_tuptable);
	return n;
}

/*
 * CopyDelta
 *		Append the rows of from to to, with any temporary file to gets
 *		created owned by owner.  A tuplestore that spills to disk keeps its
 *		file in the resource owner current when it spills, and a
 *		subtransaction closes its files when it ends: rows written inside a
 *		subtransaction go to a store of its own first, and are copied into
 *		the tick's store under the tick's owner before it ends.
 */
static void
CopyDelta(Tuplestorestate *from, Tuplestorestate *to, TupleDesc desc, ResourceOwner owner)
{
	ResourceOwner save = CurrentResourceOwner;
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);

	CurrentResourceOwner = owner;
	tuplestore_rescan(from);
	while (tuplestore_gettupleslot(from, true, false, slot))
		tuplestore_puttupleslot(to, slot);
	CurrentResourceOwner = save;
	ExecDropSingleTupleTableSlot(slot);
}


/*
 * ShardJob
 *		What maintaining a partitioned view by shards takes: each shard's
 *		delta query, and the deltas of this tick to route, with the column
 *		each is routed by.  NULL when a shard's query cannot be had.
 */
static IvmShardJob *
ShardJob(TickView *view, ShapeEntry *entry, TickState *ts, Snapshot snap, int sizeclass)
{
	IvmShardJob *job = palloc0(sizeof(IvmShardJob));
	ListCell   *lc;
	ListCell   *lc2;

	job->storagerel = view->storagerel;
	job->nshards = entry->nshards;
	job->parts = entry->parts;
	job->owner = view->owner;
	job->defrel = view->defrel;
	job->parallel = !ts->wrote_before;
	job->viewname = view->name;
	job->shape = entry->shape;
	job->snap = snap;
	job->sizeclass = sizeclass;
	job->sql = palloc(sizeof(char *) * entry->nshards);
	for (int k = 0; k < entry->nshards; k++)
	{
		bool		missing;

		job->sql[k] = DeltaSqlFor(entry, ts, &missing, k);
		if (job->sql[k] == NULL)
			return NULL;
	}
	job->sources = palloc0(sizeof(IvmShardSource) * Max(list_length(entry->route_relids), 1));
	forboth(lc, entry->route_relids, lc2, entry->route_attnos)
	{
		TickSource *src = FindSource(ts, lfirst_oid(lc));
		char	   *attname = get_attname(lfirst_oid(lc), (AttrNumber) lfirst_int(lc2), false);
		IvmShardSource *ss;

		if (src == NULL || tuplestore_tuple_count(src->delta) == 0)
			continue;
		ss = &job->sources[job->nsources++];
		ss->enrname = src->enrname;
		ss->delta = src->delta;
		ss->desc = src->desc;
		ss->route = InvalidAttrNumber;
		for (int i = 0; i < src->desc->natts; i++)
			if (strcmp(NameStr(TupleDescAttr(src->desc, i)->attname), attname) == 0)
				ss->route = (AttrNumber) (i + 1);
		if (ss->route == InvalidAttrNumber)
			return NULL;
	}
	return job;
}

/* how many times a recompute the delta query must be estimated at (see below) */
#define IVM_COST_MARGIN 4

/*
 * RunIncremental
 *		Apply a view's delta query, in a subtransaction, adding the view's
 *		delta to out.  False, with nothing written, when the storage did not
 *		hold what the delta removes (a bug, reported) or the delta query
 *		failed: an expression can fail on a combination of old and new rows
 *		that the view's query never meets, and a recompute then decides.
 *		Cancellation and other transient errors are not swallowed.
 *
 *		A delta of a hundred rows or more is first weighed by cost: when
 *		the planner estimates the delta query dearer than
 *		IVM_COST_MARGIN * 2 * ivm.fallback_ratio times a recompute (its
 *		query and the stored rows, both read sorted by hash, as the diff
 *		does), nothing runs, *costlier is set, and the caller recomputes.
 *		A large ratio turns both fallbacks off and 0 forces them.  Both
 *		estimates come from the kept plans the statements run on.  The
 *		margin: estimates of joins err by several times either way (TPC-H
 *		Q9's delta query was estimated at 2.2 times its recompute and ran
 *		fifteen times faster), so only a clear gap recomputes.
 */
static bool
RunIncremental(TickView *view, ShapeEntry *entry, const char *sql, Snapshot snap,
			   int sizeclass, Tuplestorestate *out, Oid caller, IvmDiffResult *res,
			   bool *costlier, IvmShardJob *job)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Tuplestorestate *local = tuplestore_begin_heap(false, false, work_mem);
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		int			nestlevel = NewGUCNestLevel();
		double		recompute_cost = 0;

		/* (planned before the setting below, which is the delta terms' alone) */
		if (sizeclass > 0)
			recompute_cost = IvmRecomputeCost(view->storagerel, view->owner, entry->full_sql);
		/* delta terms written to start from the delta keep their order */
		if (IvmShapeFixesJoinOrder(entry->shape))
			(void) set_config_option("join_collapse_limit", "1", PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
		if (sizeclass > 0)
		{
			double		delta_cost;
			IvmUserSave save;

			IvmBecome(view->owner, true, &save);
			delta_cost = IvmKeptPlanCost(sql, sizeclass);
			IvmRestoreUser(&save);

			elog(DEBUG1, "ivm: delta query of \"%s\" estimated at %.0f, a recompute at %.0f",
				 view->qualname, delta_cost, recompute_cost);
			*costlier = delta_cost > IVM_COST_MARGIN * 2 * ivm_fallback_ratio * recompute_cost;
		}
		/* (when costlier, nothing runs: the caller recomputes) */
		if (!*costlier && job != NULL)
			ok = IvmApplyShards(job, local, view->vdesc, res);
		else if (!*costlier && entry->shape->kind == IVM_KIND_SPJ)
			ok = IvmApplySpj(view->storagerel, view->owner, view->name, sql, snap,
							 entry->shape->nvisible, sizeclass, local, view->vdesc, res, NULL);
		else if (!*costlier)
			ok = IvmApplyAgg(view->storagerel, view->owner, view->name, entry->shape,
							 sql, snap, sizeclass, local, view->vdesc, res, NULL);
		AtEOXact_GUC(true, nestlevel);
		if (ok)
			CopyDelta(local, out, view->vdesc, oldowner);
		tuplestore_end(local);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (IvmErrorIsTransient(edata->sqlerrcode))
			ReThrowError(edata);
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			IvmReportViewFailure(edata, view->qualname, view->owner, caller, WARNING,
								 "Its delta query failed and it is recomputed instead.",
								 "If a function of the view's query raised it, the recompute meets it again; "
								 "if not, this is a bug in ivm, and the recompute makes the view right.");
		FreeErrorData(edata);
		return false;
	}
	PG_END_TRY();

	if (!ok && !*costlier)
		ereport(WARNING,
				(errmsg("incremental view \"%s\" did not hold the rows its delta removes; recomputing it",
						view->qualname),
				 errhint("This is a bug in ivm; the view is correct after this tick.")));
	return ok;
}

/* size class of a delta: plans are kept per class */
static int
SizeClass(uint64 rows)
{
	return rows < 100 ? 0 : rows < 10000 ? 1 : rows < 1000000 ? 2 : 3;
}

/* What maintaining one view did. */
typedef struct ViewOutcome
{
	const char *strategy;		/* incremental, diff, recompute, failed */
	bool		recomputed;
	uint64		delta_in;
	IvmDiffResult res;
	int64		rows_after;
	int64		size_after;
} ViewOutcome;

/*
 * RowsRead
 *		How many rows a recompute of the view reads: the planner's estimate
 *		of each table its query reads (with its partitions or children), and
 *		the rows of each incremental view it reads.
 */
static double
RowsRead(ShapeEntry *entry, TickState *ts)
{
	double		total = 0;
	ListCell   *lc;

	/* a relation read with ONLY has no children (else no delta rules) */
	foreach(lc, IvmShapeRelids(entry->shape))
	{
		Oid			relid = lfirst_oid(lc);
		TickView   *upstream = FindView(ts, relid);
		ListCell   *lc2;

		if (upstream != NULL)
		{
			total += (double) upstream->rows;
			continue;
		}
		foreach(lc2, find_all_inheritors(relid, AccessShareLock, NULL))
		{
			Relation	rel = table_open(lfirst_oid(lc2), AccessShareLock);
			BlockNumber pages;
			double		tuples = 0;
			double		allvisfrac;

			if (rel->rd_rel->relkind == RELKIND_RELATION)
				estimate_rel_size(rel, NULL, &pages, &tuples, &allvisfrac);
			table_close(rel, AccessShareLock);
			total += Max(tuples, 0);
		}
	}
	return total;
}

/*
 * TooLargeDelta
 *		Whether a view's incoming delta is too large for delta rules this
 *		tick, so that a recompute is cheaper: more than ivm.fallback_ratio
 *		times both the view's size (its rows, or for an aggregate the rows
 *		it aggregates) and the rows a recompute would read.  The second
 *		keeps a view much smaller than its sources (a selective filter, an
 *		aggregate over a join) incremental for deltas that are large next
 *		to it but small next to what a recompute costs.
 */
static bool
TooLargeDelta(TickView *view, ShapeEntry *entry, TickState *ts, uint64 delta_in)
{
	double		delta = (double) delta_in;

	if (delta <= ivm_fallback_ratio * (double) view->size)
		return false;
	return delta > ivm_fallback_ratio * RowsRead(entry, ts);
}

/*
 * WithinBound
 *		The delta query of a top-k's input that holds a prefix of its query
 *		(topk.c), its rows after the last one stored dropped: they are not
 *		held, and are not to be.  The bound is read from the storage before
 *		anything is written.
 */
static char *
WithinBound(ShapeEntry *entry, const char *delta_sql)
{
	IvmTopk    *topk = entry->bound;
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT d.* FROM (%s) d(", delta_sql);
	for (int i = 1; i <= topk->keycol; i++)
		appendStringInfo(&buf, "%sc%d", i == 1 ? "" : ", ", i);
	appendStringInfo(&buf, ") WHERE %s",
					 IvmTopkWithinSql(topk, psprintf("d.c%d", topk->keycol),
									  IvmTopkKeyAtSql(topk, entry->storage_name, 0, true)));
	return buf.data;
}

/*
 * KeepMargin
 *		After a top-k's input that may hold a prefix of its query (topk.c)
 *		was maintained: read it again from its query when it holds fewer
 *		rows than the top-k shows and not all of them (a rescan, margin.c,
 *		told to the top-k, whose evidence says so too); cut it back to the
 *		rows not after the margin's last when it grew past 3 * need;
 *		remember whether it holds a prefix or every row.  The rows these
 *		remove or add go into out like the rest of its delta.
 */
static void
KeepMargin(TickView *view, ShapeEntry *entry, TickState *ts, Snapshot snap,
		   Tuplestorestate *out, ViewOutcome *oc)
{
	IvmTopk    *topk = entry->bound;
	bool		bounded = view->bounded;
	IvmMargin	m = {view->storagerel, entry->storage_name, view->owner, view->name, topk,
		entry->shape, entry->margin, entry->full_sql, entry->rescan_sql, entry->spj_sql, view->vdesc};

	if (oc->recomputed)
		bounded = oc->rows_after >= entry->margin;
	else if (bounded && oc->rows_after < topk->need)
	{
		bounded = IvmMarginRescan(&m, snap, out, &oc->res, &oc->rows_after);
		oc->strategy = "rescan";
		for (int v = 0; v < ts->nviews; v++)
			if (ts->views[v].id == view->parent_id)
				ts->views[v].rescanned = true;
	}
	if (oc->rows_after > 3 * topk->need)
	{
		uint64		cut = IvmMarginCut(&m, IvmTopkKeyAtSql(topk, entry->storage_name,
														   entry->margin - 1, false),
									   false, snap, out);

		oc->res.deleted += cut;
		oc->rows_after -= (int64) cut;
		bounded = bounded || cut > 0;
	}
	oc->size_after = oc->rows_after;
	if (bounded != view->bounded)
	{
		Oid			types[2] = {INT4OID, BOOLOID};
		Datum		args[2] = {Int32GetDatum(view->id), BoolGetDatum(bounded)};
		int			rc;

		rc = IvmExecSnap("UPDATE ivm._views SET options = pg_catalog.jsonb_set("
						 "COALESCE(options, '{}'::pg_catalog.jsonb), '{bounded}', pg_catalog.to_jsonb($2)) "
						 "WHERE id = $1", 2, types, args, NULL, snap, 0);
		IvmSpiCheck(rc, SPI_OK_UPDATE, "recording what a top-k's input holds");
		view->bounded = bounded;
	}
}

/*
 * KeepMarginParts
 *		KeepMargin for a top-k per partition's input (window.c): its
 *		partitions that lost rows and hold fewer than need now are read
 *		again from the query (a rescan of those alone); those that hold more
 *		than 3 * need are cut back to the rows up to the margin's last key.
 *		No flag: a partition holding fewer than need rows holds all of its
 *		rows (IvmTopkPartWithinSql keeps it so).  The partitions are those
 *		of its delta this tick (out), read as an ephemeral relation.
 */
static void
KeepMarginParts(TickView *view, ShapeEntry *entry, TickState *ts, Snapshot snap,
				Tuplestorestate *out, ViewOutcome *oc)
{
	IvmTopk    *topk = entry->bound;
	IvmMargin	m = {view->storagerel, entry->storage_name, view->owner, view->name, topk,
		entry->shape, entry->margin, entry->full_sql, NULL, entry->spj_sql, view->vdesc};
	char		enrname[NAMEDATALEN];

	/* a recompute filled every partition's first rows */
	if (oc->recomputed || tuplestore_tuple_count(out) == 0)
		return;
	snprintf(enrname, NAMEDATALEN, "ivm_margin_%d", view->id);
	IvmRegisterTuplestore(enrname, out, view->vdesc);
	PG_TRY();
	{
		char	   *rescan = IvmTopkPartsSql(topk, enrname, entry->storage_name, "rescan");
		char	   *cut = IvmTopkPartsSql(topk, enrname, entry->storage_name, "cut");
		int64		nrescan;
		int64		ncut;
		bool		isnull;
		IvmUserSave save;
		int			rc;

		/* (as the owner: the partitions' equality may be a function of its) */
		IvmBecome(view->owner, true, &save);
		rc = IvmExecSnap(psprintf("SELECT (SELECT pg_catalog.count(*) FROM (%s) a), "
								  "(SELECT pg_catalog.count(*) FROM (%s) b)", rescan, cut),
						 0, NULL, NULL, NULL, snap, 0);
		IvmRestoreUser(&save);
		IvmSpiCheck(rc, SPI_OK_SELECT, "finding the partitions to rescan");
		nrescan = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		ncut = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		SPI_freetuptable(SPI_tuptable);
		if (nrescan > 0)
		{
			IvmMarginRescanParts(&m, rescan, snap, out, &oc->res, &oc->rows_after);
			oc->strategy = "rescan";
			for (int v = 0; v < ts->nviews; v++)
				if (ts->views[v].id == view->parent_id)
					ts->views[v].rescanned = true;
		}
		if (ncut > 0)
		{
			uint64		n = IvmMarginCutWhere(&m, IvmTopkPartCutSql(topk, entry->storage_name,
																	 entry->margin, cut),
											  snap, out);

			oc->res.deleted += n;
			oc->rows_after -= (int64) n;
		}
	}
	PG_FINALLY();
	{
		SPI_unregister_relation(enrname);
	}
	PG_END_TRY();
	oc->size_after = oc->rows_after;
}

/*
 * HasConsumers
 *		Whether anything reads the view's delta this tick: a view reading
 *		it (its parent, for a hidden view), a watch.  Without, the delta is
 *		not built, and a recompute may write the storage whole (fill.c).
 */
static bool
HasConsumers(TickView *view, TickState *ts)
{
	if (view->channel != NULL || view->parent_id != 0)
		return true;
	for (int d = 0; d < ts->ndeps; d++)
		if (ts->dep_source_view[d] == view->id)
			return true;
	return false;
}

/*
 * Recompute
 *		Replace a view's rows with what query returns: written whole (a new
 *		heap, indexes built after: fill.c) when its storage is empty (the
 *		delta is then every row, added) or holds IVM_FILL_MIN_ROWS rows or
 *		more and nothing reads its delta; else by the diff, whose delta
 *		lists what changed.  (Decided on what is stored, not on estimates,
 *		so that the tick's counts do not depend on them.)
 */
static void
Recompute(TickView *view, TickState *ts, Snapshot snap, const char *query, int nvisible,
		  AttrNumber passattno, Tuplestorestate *out, IvmDiffResult *res)
{
	bool		consumers = HasConsumers(view, ts);
	bool		empty = view->rows <= 0 && IvmStorageEmpty(view->storagerel, snap);

	if ((empty || (!consumers && view->rows >= IVM_FILL_MIN_ROWS)) &&
		IvmBulkFill(view->storagerel, view->owner, view->name, query, snap, passattno,
					consumers ? out : NULL, view->vdesc, empty ? 0 : (uint64) view->rows, res))
		return;
	IvmDiffView(view->storagerel, view->owner, view->name, query, NULL, snap,
				nvisible, passattno, consumers ? out : NULL, view->vdesc, res);
}

/*
 * MaintainView
 *		Bring one dirty view's storage up to date, adding its delta to out:
 *		delta rules where its shape has them and they may run, else a
 *		recompute (incremental views) or the diff.  Fills *oc.
 */
static void
MaintainView(TickView *view, TickState *ts, Snapshot snap, bool recompute,
			 Tuplestorestate *out, Oid caller, ViewOutcome *oc)
{
	ShapeEntry *entry = NULL;
	IvmDiffResult *res = &oc->res;

	memset(res, 0, sizeof(*res));
	oc->strategy = "diff";
	IvmProgressStart(view->id == ts->force_view_id ||
					 (view->parent_id != 0 && view->parent_id == ts->force_view_id)
					 ? IVM_CMD_REFRESH : recompute ? IVM_CMD_RECOMPUTE : IVM_CMD_TICK,
					 view->viewrel, view->owner);
	if (view->incremental)
	{
		entry = GetShape(view);
		oc->strategy = "recompute";
		if (entry->shape->kind != IVM_KIND_TOPK && entry->shape->kind != IVM_KIND_WINDOW)
			oc->delta_in = ShapeDeltaRows(entry, ts);
		if (entry->shape->kind == IVM_KIND_TOPK && view->hidden_name != NULL)
		{
			/* top-k: the first rows of its hidden input, read again */
			if (!recompute)
				oc->strategy = view->rescanned ? "rescan" : "incremental";
		}
		else if (entry->shape->kind == IVM_KIND_WINDOW && entry->ineligible == NULL && !recompute)
		{
			/* windows: the partitions its hidden input's delta touches, again */
			const char *enrname = NULL;

			oc->strategy = view->rescanned ? "rescan" : "incremental";
			if (DeltaLookup(linitial_oid(view->hidden), &enrname, ts) != NULL)
			{
				/* the delta's name is the hidden view's: the same text every tick */
				if (entry->window_sql == NULL)
				{
					MemoryContext oldcxt = MemoryContextSwitchTo(entry->cxt);

					entry->window_sql = IvmWindowSql(entry->shape->window, enrname);
					entry->window_filter = IvmWindowStoredFilter(entry->shape->window, enrname,
																 entry->storage_colnames);
					MemoryContextSwitchTo(oldcxt);
				}
				IvmDiffView(view->storagerel, view->owner, view->name, entry->window_sql,
							entry->window_filter, snap, entry->shape->nvisible, 0, out, view->vdesc, res);
			}
		}
		else if (entry->shape->kind == IVM_KIND_RECURSIVE)
		{
			/* WITH RECURSIVE: delete and rederive, semi-naive insertion */
			if (!recompute && entry->ineligible == NULL &&
				!TooLargeDelta(view, entry, ts, oc->delta_in) &&
				IvmApplyRecursive(entry->shape, view->storagerel, entry->storage_name, view->owner,
								  view->name, view->qualname, caller, snap, DeltaLookup, ts,
								  out, view->vdesc, res))
				oc->strategy = "incremental";
		}
		else if (!recompute && entry->ineligible == NULL &&
				 !TooLargeDelta(view, entry, ts, oc->delta_in) &&
				 !IvmShapeCostlySemi(entry->shape, DeltaRows, ts))
		{
			bool		missing;
			bool		costlier = false;
			char	   *sql;
			IvmUserSave psave;
			IvmShardJob *job = NULL;

			IvmProgressPhase(IVM_PHASE_DELTA);
			IvmProgressExpected(oc->delta_in);
			IvmBecome(view->owner, true, &psave);
			IvmShapeCheckPermissions(entry->shape);
			IvmRestoreUser(&psave);
			sql = DeltaSqlFor(entry, ts, &missing, -1);
			if (sql != NULL && entry->bound != NULL && entry->bound->partcol > 0)
				sql = IvmTopkPartWithinSql(entry->bound, sql, entry->shape->nvisible,
										   entry->storage_name, entry->margin);
			else if (sql != NULL && entry->bound != NULL && view->bounded)
				sql = WithinBound(entry, sql);
			if (sql != NULL && entry->nshards > 0)
				job = ShardJob(view, entry, ts, snap, SizeClass(oc->delta_in));
			if (sql == NULL && !missing)
				oc->strategy = "incremental";	/* nothing it reads changed */
			else if (sql != NULL && (entry->nshards == 0 || job != NULL) &&
					 RunIncremental(view, entry, sql, snap, SizeClass(oc->delta_in), out,
									caller, res, &costlier, job))
				oc->strategy = "incremental";
			else
				memset(res, 0, sizeof(*res));
		}
		if (strcmp(oc->strategy, "recompute") == 0 && view->partitions > 0)
		{
			IvmDiffShards(view->storagerel, view->partitions, entry->keycol, view->owner,
						  view->name, entry->full_sql, snap, entry->shape->nvisible,
						  entry->shape->passattno, out, view->vdesc, res);
			recompute = true;
		}
		else if (strcmp(oc->strategy, "recompute") == 0)
		{
			Recompute(view, ts, snap, entry->full_sql, entry->shape->nvisible,
					  entry->shape->passattno, out, res);
			recompute = true;
		}
		else if (entry->shape->kind == IVM_KIND_TOPK)
		{
			IvmDiffView(view->storagerel, view->owner, view->name, entry->full_sql, NULL, snap,
						entry->shape->nvisible, entry->shape->passattno,
						HasConsumers(view, ts) ? out : NULL, view->vdesc, res);
			recompute = false;
		}
	}
	else
	{
		char	   *def = psprintf("SELECT * FROM %s",
								   quote_qualified_identifier(IVM_SCHEMA, get_rel_name(view->defrel)));

		if (recompute)
		{
			Recompute(view, ts, snap, def, view->vdesc->natts - 1, 0, out, res);
			oc->strategy = "recompute";
		}
		else
			IvmDiffView(view->storagerel, view->owner, view->name, def, NULL, snap,
						view->vdesc->natts - 1, 0, HasConsumers(view, ts) ? out : NULL,
						view->vdesc, res);
	}
	oc->recomputed = recompute;
	oc->rows_after = strcmp(oc->strategy, "incremental") == 0 &&
		!(entry != NULL && entry->shape->kind == IVM_KIND_TOPK)
		? view->rows + res->rows_delta : (int64) res->rows_after;
	if (entry != NULL && entry->shape->kind == IVM_KIND_AGG)
		oc->size_after = strcmp(oc->strategy, "incremental") == 0
			? view->size + res->size_delta : AggregatedRows(view->storagerel, entry->storage_name, snap);
	else
		oc->size_after = oc->rows_after;
	if (entry != NULL && entry->bound != NULL && entry->bound->partcol > 0)
		KeepMarginParts(view, entry, ts, snap, out, oc);
	else if (entry != NULL && entry->bound != NULL)
		KeepMargin(view, entry, ts, snap, out, oc);
	IvmProgressEnd();
}

/*
 * RecordOutcome
 *		Evidence of one view's maintenance (or failure), its line for
 *		ivm.evidence_path, and its row of ivm._views.
 */
static void
RecordOutcome(TickView *view, ViewOutcome *oc, int64 epoch, int64 duration_us, Snapshot snap)
{
	Oid			types[8] = {INT8OID, INT4OID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		args[8];
	int			rc;
	bool		failed = strcmp(oc->strategy, "failed") == 0;

	args[0] = Int64GetDatum(epoch);
	args[1] = Int32GetDatum(view->id);
	args[2] = CStringGetTextDatum(view->name);
	args[3] = CStringGetTextDatum(oc->strategy);
	args[4] = Int64GetDatum((int64) oc->delta_in);
	args[5] = Int64GetDatum((int64) view->changed_rows);
	args[6] = Int64GetDatum(oc->rows_after);
	args[7] = Int64GetDatum(duration_us);
	rc = IvmExecSnap("INSERT INTO ivm._evidence (epoch, view_id, view_name, strategy, "
					 "delta_in, delta_out, view_rows, duration_us) "
					 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
					 8, types, args, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_INSERT, "recording evidence");

	if (ivm_evidence_path != NULL && ivm_evidence_path[0] != '\0')
	{
		StringInfoData line;

		initStringInfo(&line);
		appendStringInfo(&line, "{\"epoch\": " INT64_FORMAT ", \"view\": ", epoch);
		escape_json(&line, view->name);
		appendStringInfo(&line,
						 ", \"strategy\": \"%s\", \"delta_in\": " UINT64_FORMAT
						 ", \"delta_out\": " UINT64_FORMAT ", \"view_rows\": " INT64_FORMAT
						 ", \"duration_us\": " INT64_FORMAT "}\n",
						 oc->strategy, oc->delta_in, view->changed_rows, oc->rows_after, duration_us);
		IvmQueueEvidenceLine(line.data);
		pfree(line.data);
	}

	if (failed)
		return;					/* QuarantineView wrote its row */
	args[2] = Float8GetDatum((double) duration_us / 1000.0);
	types[2] = FLOAT8OID;
	args[3] = Int64GetDatum(oc->rows_after);
	types[3] = INT8OID;
	args[4] = Int64GetDatum(oc->size_after);
	types[4] = INT8OID;
	rc = IvmExecSnap("UPDATE ivm._views SET last_epoch = $1, last_duration_ms = $3, "
					 "rows = $4, size = $5, needs_recompute = false, populated = true, state = 'ok' "
					 "WHERE id = $2",
					 5, types, args, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_UPDATE, "recording the view's epoch");
	/* a view reading this one weighs its delta against these rows */
	view->rows = oc->rows_after;
	view->size = oc->size_after;
	if (view->failed)
	{
		args[0] = Int32GetDatum(view->id);
		types[0] = INT4OID;
		rc = IvmExecSnap("DELETE FROM ivm._view_errors WHERE view_id = $1",
						 1, types, args, NULL, snap, 0);
		IvmSpiCheck(rc, SPI_OK_DELETE, "forgetting the view's error");
	}
}

/*
 * QuarantineView
 *		Mark a view failed: it keeps the rows it had, its error is kept for
 *		its owner in ivm._view_errors, and the first tick that finds
 *		something it reads changed (or a REFRESH) recomputes it.  edata is
 *		its own error, or NULL when upstream names the view it reads that
 *		failed.
 */
static void
QuarantineView(TickView *view, ErrorData *edata, TickView *upstream, int64 epoch,
			   Snapshot snap)
{
	Oid			types[7] = {INT4OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', 'n', 'n', 'n'};
	int			rc;

	args[0] = Int32GetDatum(view->id);
	args[1] = Int64GetDatum(epoch);
	if (edata != NULL)
	{
		args[2] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
		args[3] = CStringGetTextDatum(edata->message ? edata->message : "unknown error");
		if (edata->detail)
			args[4] = CStringGetTextDatum(edata->detail), nulls[4] = ' ';
		if (edata->hint)
			args[5] = CStringGetTextDatum(edata->hint), nulls[5] = ' ';
		if (edata->context)
			args[6] = CStringGetTextDatum(edata->context), nulls[6] = ' ';
	}
	else
	{
		args[2] = CStringGetTextDatum(unpack_sql_state(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE));
		args[3] = CStringGetTextDatum(psprintf("incremental view \"%s\", which it reads, failed",
											   upstream->qualname));
		args[5] = CStringGetTextDatum("It is recomputed once the view it reads is maintained again.");
		nulls[5] = ' ';
	}
	rc = IvmExecSnap("INSERT INTO ivm._view_errors AS e (view_id, epoch, sqlstate, message, detail, hint, context) "
					 "VALUES ($1, $2, $3, $4, $5, $6, $7) "
					 "ON CONFLICT (view_id) DO UPDATE SET epoch = excluded.epoch, sqlstate = excluded.sqlstate, "
					 "message = excluded.message, detail = excluded.detail, hint = excluded.hint, "
					 "context = excluded.context, failed_at = pg_catalog.now()",
					 7, types, args, nulls, snap, 0);
	IvmSpiCheck(rc, SPI_OK_INSERT, "recording the view's error");
	rc = IvmExecSnap("UPDATE ivm._views SET state = 'failed', last_epoch = $2 WHERE id = $1",
					 2, types, args, NULL, snap, 0);
	IvmSpiCheck(rc, SPI_OK_UPDATE, "quarantining the view");
	view->failed = true;
	view->recovered = false;
}

/*
 * Transient failures, view by view.  An error that is no fault of one view
 * (a cancel, a deadlock, a lock not granted, the disk full) fails the tick,
 * which is retried with every delta still in its log.  But the code of a
 * view's query can raise such an error on purpose (RAISE ... USING ERRCODE,
 * a lock it arranges not to get), and would then stop every tick of every
 * role.  So a view that fails "transiently" more than IVM_TRANSIENT_STRIKES
 * times within IVM_TRANSIENT_WINDOW seconds, in any backend (the count is
 * kept in shared memory: the failed ticks roll back everything else), or
 * that was failed already, is quarantined like any failing view instead.
 */
#define IVM_TRANSIENT_STRIKES	3
#define IVM_TRANSIENT_WINDOW	600

/*
 * MaintainQuarantined
 *		MaintainView and its records in a subtransaction: when it fails the
 *		view is quarantined and the tick goes on.  Transient errors fail the
 *		tick (reported as rights.c says of errors across owners), but for a
 *		view that fails so again and again (see above).  Returns false when
 *		the view failed.
 */
static bool
MaintainQuarantined(TickView *view, TickState *ts, Snapshot snap, bool recompute,
					Oid caller, int64 epoch, ViewOutcome *oc, TimestampTz vstart)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	/* ended on both paths: once spilled, it holds a temporary file */
	Tuplestorestate *volatile local = tuplestore_begin_heap(false, false, work_mem);
	ErrorData  *volatile edata = NULL;
	uint64		delta_in;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		MaintainView(view, ts, snap, recompute, local, caller, oc);
		CopyDelta(local, view->vdelta, view->vdesc, oldowner);
		tuplestore_end(local);
		local = NULL;
		view->changed_rows = oc->res.inserted + oc->res.deleted;
		if (view->channel != NULL && view->changed_rows > 0)
			IvmLogChanges(view->id, view->owner, view->vdelta, view->vdesc, epoch, snap);
		RecordOutcome(view, oc, epoch, GetCurrentTimestamp() - vstart, snap);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		edata = NULL;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		/* its file belongs to the tick's resource owner, not the subtransaction's */
		if (local != NULL)
			tuplestore_end(local);
	}
	PG_END_TRY();
	if (edata == NULL)
		return true;

	if (IvmErrorIsTransient(edata->sqlerrcode) && !view->failed &&
		IvmCountTransientFailure(view->id, IVM_TRANSIENT_WINDOW) <= IVM_TRANSIENT_STRIKES)
		IvmReportViewFailure(edata, view->qualname, view->owner, caller, ERROR,
							 "The tick fails, and every delta waits in its log for the next one.",
							 "Retry the tick; a view that fails so again and again is set aside (quarantined).");
	tuplestore_clear(view->vdelta);
	view->changed_rows = 0;
	/* a warning when it fails; a view failing again at its retries is logged only */
	IvmReportViewFailure(edata, view->qualname, view->owner, caller,
						 view->failed ? LOG_SERVER_ONLY : WARNING,
						 "It is quarantined (state \"failed\" in ivm.views) and the rest of the tick goes on.",
						 "The view keeps its rows and is tried again at every tick until it succeeds; "
						 "its owner can fix the cause, and REFRESH MATERIALIZED VIEW shows the owner the error.");
	QuarantineView(view, edata, NULL, epoch, snap);
	delta_in = oc->delta_in;
	memset(oc, 0, sizeof(*oc));
	oc->delta_in = delta_in;
	oc->strategy = "failed";
	oc->rows_after = view->rows;
	RecordOutcome(view, oc, epoch, GetCurrentTimestamp() - vstart, snap);
	FreeErrorData(edata);
	return false;
}

/*
 * MaintainOrAbort
 *		MaintainView and its records where a failure fails the tick: with
 *		ivm.on_error = abort, and for the view a REFRESH names.  The error
 *		reaches a caller who is not a member of the view's owner without
 *		its row values.
 */
static void
MaintainOrAbort(TickView *view, TickState *ts, Snapshot snap, bool recompute,
				Oid caller, int64 epoch, ViewOutcome *oc, TimestampTz vstart)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	PG_TRY();
	{
		MaintainView(view, ts, snap, recompute, view->vdelta, caller, oc);
		view->changed_rows = oc->res.inserted + oc->res.deleted;
		if (view->channel != NULL && view->changed_rows > 0)
			IvmLogChanges(view->id, view->owner, view->vdelta, view->vdesc, epoch, snap);
		RecordOutcome(view, oc, epoch, GetCurrentTimestamp() - vstart, snap);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (IvmErrorIsTransient(edata->sqlerrcode) || has_privs_of_role(caller, view->owner))
			PG_RE_THROW();
		FlushErrorState();
		IvmReportViewFailure(edata, view->qualname, view->owner, caller, ERROR,
							 "The tick fails (ivm.on_error is abort).",
							 "Every delta waits in its log for the next tick.  The view's owner can "
							 "fix the cause, or set ivm.on_error to quarantine to let the other views go on.");
	}
	PG_END_TRY();
}

/*
 * TakeStepLock
 *		Lock the row of ivm._state (ticks serialise on it) and return the
 *		epoch of the last tick.  A lock timeout says which lock it was.
 */
static int64
TakeStepLock(void)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	int64		epoch;
	int			rc;

	PG_TRY();
	{
		rc = IvmExecCached("SELECT epoch FROM ivm._state FOR UPDATE", 0, NULL, NULL, NULL,
						   InvalidSnapshot, 0, 0);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not take the step lock of ivm within lock_timeout"),
				 errdetail("Another tick, ivm.create_view() or ivm.restore() holds it (the row of ivm._state) in a transaction that has not ended."),
				 errhint("Retry when that transaction has ended, or raise lock_timeout.")));
	}
	PG_END_TRY();
	IvmSpiCheck(rc, SPI_OK_SELECT, "taking the step lock");
	if (SPI_processed != 1)
		elog(ERROR, "ivm: ivm._state must hold exactly one row");
	epoch = DatumGetInt64(GetCol(0, 1));
	SPI_freetuptable(SPI_tuptable);
	return epoch;
}

/*
 * FailedUpstream
 *		A view view v reads that is failed now, or NULL; *recovered when one
 *		it reads was failed and was maintained again this tick.
 */
static TickView *
FailedUpstream(TickState *ts, int v, bool *recovered)
{
	TickView   *failed = NULL;

	*recovered = false;
	for (int d = 0; d < ts->ndeps; d++)
	{
		if (ts->dep_view[d] != ts->views[v].id || ts->dep_source_view[d] == 0)
			continue;
		for (int u = 0; u < v; u++)
		{
			if (ts->views[u].id != ts->dep_source_view[d])
				continue;
			if (ts->views[u].failed && failed == NULL)
				failed = &ts->views[u];
			if (ts->views[u].recovered)
				*recovered = true;
		}
	}
	return failed;
}

/*
 * LoadDeps
 *		The DAG's edges: view, and the table or view (source_view) it reads.
 */
static void
LoadDeps(TickState *ts)
{
	int			rc = IvmExecSnap("SELECT view_id, source::oid, coalesce(source_view_id, 0) FROM ivm._deps",
								 0, NULL, NULL, NULL, ts->snap, 0);

	IvmSpiCheck(rc, SPI_OK_SELECT, "listing dependencies");
	ts->ndeps = (int) SPI_processed;
	ts->dep_view = palloc(sizeof(int) * Max(ts->ndeps, 1));
	ts->dep_source = palloc(sizeof(Oid) * Max(ts->ndeps, 1));
	ts->dep_source_view = palloc(sizeof(int) * Max(ts->ndeps, 1));
	for (int i = 0; i < ts->ndeps; i++)
	{
		ts->dep_view[i] = DatumGetInt32(GetCol(i, 1));
		ts->dep_source[i] = DatumGetObjectId(GetCol(i, 2));
		ts->dep_source_view[i] = DatumGetInt32(GetCol(i, 3));
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * ViewInputs
 *		What view v's inputs did this tick: returns whether it is dirty (a
 *		table it reads had deltas, a view it reads emitted rows), adds the
 *		rows that came in to oc->delta_in, and sets *recompute when a table
 *		it reads was truncated.
 */
static bool
ViewInputs(TickState *ts, int v, ViewOutcome *oc, bool *recompute)
{
	TickView   *view = &ts->views[v];
	bool		dirty = false;

	for (int d = 0; d < ts->ndeps; d++)
	{
		if (ts->dep_view[d] != view->id)
			continue;
		if (ts->dep_source_view[d] != 0)
		{
			for (int u = 0; u < v; u++)
				if (ts->views[u].id == ts->dep_source_view[d] && ts->views[u].changed_rows > 0)
				{
					dirty = true;
					oc->delta_in += ts->views[u].changed_rows;
				}
			continue;
		}
		for (int s = 0; s < ts->nsources; s++)
		{
			if (ts->sources[s].relid != ts->dep_source[d])
				continue;
			if (ts->sources[s].consumed > 0)
				dirty = true;
			if (ts->sources[s].truncated)
				dirty = *recompute = true;
			oc->delta_in += ts->sources[s].consumed;
		}
	}
	return dirty;
}

/*
 * TickOneView
 *		Maintain view v if it must be (its inputs changed, its query is not
 *		immutable, it waits for a recompute, it failed before, REFRESH names
 *		it), quarantine it or skip it; count what happened in ts, announce
 *		its changes.
 */
static void
TickOneView(TickState *ts, int v)
{
	TickView   *view = &ts->views[v];
	/* REFRESH of a view recomputes its hidden input views too */
	bool		refresh = view->id == ts->force_view_id ||
		(view->parent_id != 0 && view->parent_id == ts->force_view_id);

	/* a failed view is tried again, by a recompute, at every tick */
	bool		forced = view->needs_recompute || !view->populated || refresh || view->failed;
	bool		recompute = forced || ivm_full_recompute;
	bool		upstream_recovered;
	TickView   *upstream_failed;
	TimestampTz vstart;
	ViewOutcome oc;
	ErrorContextCallback errcallback;
	bool		dirty;
	bool		ok = true;

	memset(&oc, 0, sizeof(oc));
	dirty = ViewInputs(ts, v, &oc, &recompute);
	upstream_failed = FailedUpstream(ts, v, &upstream_recovered);
	if (forced || upstream_recovered)
		dirty = true;
	/* its query is not immutable: its result may change with no input */
	if (view->every_tick)
		dirty = recompute = true;

	/* a view reading a failed view waits for it; deltas it misses mean a recompute */
	if (upstream_failed != NULL && (dirty || !view->failed))
	{
		QuarantineView(view, NULL, upstream_failed, ts->epoch, ts->snap);
		ts->failed++;
		return;
	}
	/* the tick's counters count the views users declared, not hidden ones */
	if (!dirty)
	{
		if (view->parent_id == 0)
			ts->skipped++;
		return;
	}

	vstart = GetCurrentTimestamp();
	errcallback.callback = TickErrorContext;
	errcallback.arg = view->qualname;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	view->vdesc = ViewDeltaDesc(view->viewrel);
	view->vdelta = tuplestore_begin_heap(false, false, work_mem);
	snprintf(view->enrname, NAMEDATALEN, "ivm_vdelta_%d", view->id);

	if (ivm_on_error == IVM_ON_ERROR_QUARANTINE && !refresh)
		ok = MaintainQuarantined(view, ts, ts->snap, recompute, ts->caller, ts->epoch, &oc, vstart);
	else
		MaintainOrAbort(view, ts, ts->snap, recompute, ts->caller, ts->epoch, &oc, vstart);
	error_context_stack = errcallback.previous;
	if (!ok)
	{
		ts->failed++;
		return;
	}

	view->processed = true;
	view->recovered = view->failed;
	view->failed = false;
	IvmRegisterTuplestore(view->enrname, view->vdelta, view->vdesc);
	if (view->parent_id == 0)
	{
		ts->rows_out += view->changed_rows;
		ts->processed++;
		if (oc.recomputed)
			ts->recomputed++;
	}

	if (view->channel != NULL && view->changed_rows > 0)
		IvmNotifyWatchers(view->channel, view->viewrel, ts->epoch,
						  oc.res.inserted, oc.res.deleted);
}

/*
 * AdvanceEpoch
 *		Record the tick: the epoch and the counters of ivm.stats, in the
 *		row the step lock holds; prune the change log and the evidence.
 */
static void
AdvanceEpoch(TickState *ts, TimestampTz start)
{
	Oid			types[7] = {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT4OID, INT4OID};
	Datum		args[7];
	int			rc;

	args[0] = Int64GetDatum(ts->epoch);
	args[1] = Int64GetDatum((int64) ts->rows_in);
	args[2] = Int64GetDatum((int64) ts->rows_out);
	args[3] = Int64GetDatum((int64) ts->recomputed);
	args[4] = Int64GetDatum((int64) (GetCurrentTimestamp() - start));
	args[5] = Int32GetDatum(ivm_change_retention);
	args[6] = Int32GetDatum(ivm_evidence_retention);
	/* one statement: each costs an executor start and end */
	rc = IvmExecSnap("WITH c AS (DELETE FROM ivm._changes WHERE epoch OPERATOR(pg_catalog.<=) ($1 OPERATOR(pg_catalog.-) $6)), "
					 "e AS (DELETE FROM ivm._evidence WHERE epoch OPERATOR(pg_catalog.<=) ($1 OPERATOR(pg_catalog.-) $7)) "
					 "UPDATE ivm._state SET epoch = $1, ticks_total = ticks_total OPERATOR(pg_catalog.+) 1, "
					 "rows_in_total = rows_in_total OPERATOR(pg_catalog.+) $2, "
					 "rows_out_total = rows_out_total OPERATOR(pg_catalog.+) $3, "
					 "views_recomputed_total = views_recomputed_total OPERATOR(pg_catalog.+) $4, "
					 "tick_duration_us_sum = tick_duration_us_sum OPERATOR(pg_catalog.+) $5",
					 7, types, args, NULL, ts->snap, 0);
	IvmSpiCheck(rc, SPI_OK_UPDATE, "advancing the epoch");
}

/*
 * LeftNothing
 *		Whether the tick left nothing for the next one but deltas committed
 *		later: no view to fill, recompute or retry, none computed at every
 *		tick, no truncation marker.
 *		Sets *views to how many views users declared (those a tick with no
 *		delta skips).
 */
static bool
LeftNothing(TickState *ts, int *views)
{
	int			rc;
	bool		none;

	*views = 0;
	for (int v = 0; v < ts->nviews; v++)
		if (ts->views[v].parent_id == 0)
			(*views)++;
	/* a view whose query is not immutable is computed at every tick */
	for (int v = 0; v < ts->nviews; v++)
		if (ts->views[v].every_tick)
			return false;
	rc = IvmExecSnap("SELECT NOT EXISTS (SELECT FROM ivm._views WHERE NOT populated OR needs_recompute "
					 "OR state OPERATOR(pg_catalog.=) 'failed') "
					 "AND NOT EXISTS (SELECT FROM ivm._truncated)",
					 0, NULL, NULL, NULL, ts->snap, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking for work left");
	none = SPI_processed == 1 && DatumGetBool(GetCol(0, 1));
	SPI_freetuptable(SPI_tuptable);
	return none;
}

/*
 * IvmRunTick
 *		Run one tick.  force_view_id > 0 recomputes that view even if none of
 *		its inputs changed (REFRESH).  Fills result_values with the columns of
 *		ivm.tick().
 */
void
IvmRunTick(int force_view_id, Datum *result_values)
{
	TimestampTz start = GetCurrentTimestamp();
	MemoryContext tickcxt;
	MemoryContext oldcxt;
	IvmUserSave save;
	int			nestlevel;
	TickState	ts;
	double		duration_ms;
	uint64		changes = 0;
	bool		counted;
	bool		fast;

	IvmCheckPreloaded();
	IvmCheckUserEntry("run a tick");
	IvmCheckWritable("run a tick");

	tickcxt = AllocSetContextCreate(CurrentMemoryContext, "ivm tick",
									ALLOCSET_DEFAULT_SIZES);
	memset(&ts, 0, sizeof(ts));
	ts.caller = GetUserId();
	ts.force_view_id = force_view_id;
	/* rows it wrote would be invisible to workers (shard.c) */
	ts.wrote_before = TransactionIdIsValid(GetTopTransactionIdIfAny());

	IvmSpiConnect();
	oldcxt = MemoryContextSwitchTo(tickcxt);
	nestlevel = IvmPinSearchPath();
	IvmBecome(IvmSchemaOwner(), false, &save);

	/*
	 * The step lock, then the change counter, then the snapshot: a commit
	 * that bumped the counter before it was read is seen by the snapshot.
	 */
	ts.epoch = TakeStepLock() + 1;
	counted = IvmChangesNow(&changes);

	/*
	 * Nothing committed that writes deltas or changes ivm's catalog since the
	 * last tick read the counter, and that tick left nothing to do (nor has
	 * this transaction written anything): no log can hold a row, no view is
	 * dirty; the tick only advances the epoch.  A commit bumps the counter
	 * before it is visible and again after (shmem.c): read before the
	 * snapshot, the counter counts every commit the snapshot will see that
	 * the last tick's did not, once read again after it.  Otherwise writers
	 * go to the other half of each log before the snapshot: the half they
	 * leave holds what the snapshot sees, but for writes that commit after.
	 */
	fast = counted && force_view_id == 0 && !IvmChangedInThisXact() &&
		IvmNothingChangedSince(changes, &ts.skipped);
	if (!fast)
		IvmFlipHalf();
	ts.snap = RegisterSnapshot(GetTransactionSnapshot());
	if (fast)
	{
		uint64		after;

		(void) IvmChangesNow(&after);
		fast = after == changes;
		ts.skipped = fast ? ts.skipped : 0;
	}

	ivm_ticking = true;
	PG_TRY();
	{
		if (fast)
			AdvanceEpoch(&ts, start);
		else
		{
			int			views;
			bool		left_dead = false;

			/* the settings that change what a view's query returns */
			IvmPinViewSettings();
			ts.sources = ConsumeDeltas(ts.snap, &ts.nsources, &ts.rows_in, &left_dead);
			ts.views = LoadViews(ts.snap, &ts.nviews);
			LoadDeps(&ts);

			for (int v = 0; v < ts.nviews; v++)
			{
				CHECK_FOR_INTERRUPTS();
				TickOneView(&ts, v);
			}
			AdvanceEpoch(&ts, start);

			/*
			 * A snapshot older than the counter's reading (REPEATABLE READ)
			 * may miss a commit the reading counts: such a tick records
			 * nothing.  Nor does one that deleted log rows one by one: the
			 * next tick empties that half (writers will have left it).
			 */
			if (counted && !IsolationUsesXactSnapshot() && !left_dead && LeftNothing(&ts, &views))
				IvmRecordTickAtCommit(changes, views);
			else
				IvmForgetTick();
		}
	}
	PG_FINALLY();
	{
		ivm_ticking = false;
	}
	PG_END_TRY();

	for (int v = 0; v < ts.nviews; v++)
		if (ts.views[v].vdelta != NULL)
			tuplestore_end(ts.views[v].vdelta);
	for (int s = 0; s < ts.nsources; s++)
		tuplestore_end(ts.sources[s].delta);

	UnregisterSnapshot(ts.snap);
	IvmRestoreUser(&save);
	IvmUnpinSearchPath(nestlevel);
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();

	duration_ms = (double) (GetCurrentTimestamp() - start) / 1000.0;
	if (ivm_log_ticks)
		ereport(LOG,
				(errmsg("ivm tick: epoch " INT64_FORMAT ", views_processed %d, views_recomputed %d, "
						"views_failed %d, total_delta_size " UINT64_FORMAT ", duration_us " INT64_FORMAT,
						ts.epoch, ts.processed, ts.recomputed, ts.failed, ts.rows_in + ts.rows_out,
						(int64) (duration_ms * 1000.0))));

	result_values[0] = Int64GetDatum(ts.epoch);
	result_values[1] = Int64GetDatum((int64) ts.rows_in);
	result_values[2] = Int64GetDatum((int64) ts.rows_out);
	result_values[3] = Int32GetDatum(ts.processed);
	result_values[4] = Int32GetDatum(ts.skipped);
	result_values[5] = Int32GetDatum(ts.recomputed);
	result_values[6] = Float8GetDatum(duration_ms);
	MemoryContextDelete(tickcxt);
}

/*
 * IvmDeltasPending
 *		Whether a tick would consume anything: a row in a delta log or a
 *		truncation marker.  For the background worker, which runs no tick
 *		in an idle database.  Reads ivm's own tables only, as their owner,
 *		in the caller's transaction (which must have an active snapshot).
 */
bool
IvmDeltasPending(void)
{
	IvmUserSave save;
	StringInfoData sql;
	bool		pending;
	int			rc;

	IvmCatalogBegin(&save);
	rc = SPI_execute("SELECT logrel::text FROM ivm._sources ORDER BY id", true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing delta logs");
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT EXISTS (SELECT FROM ivm._truncated)");
	for (uint64 r = 0; r < SPI_processed; r++)
		appendStringInfo(&sql, " OR EXISTS (SELECT FROM %s)",
						 SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1));
	SPI_freetuptable(SPI_tuptable);
	/* a kept plan: the list of logs changes only with the set of sources */
	rc = IvmExecCached(sql.data, 0, NULL, NULL, NULL, InvalidSnapshot, 1, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking for pending deltas");
	pending = SPI_processed == 1 && DatumGetBool(GetCol(0, 1));
	IvmCatalogEnd(&save);
	return pending;
}

/*
 * IvmTickResult
 *		Run a tick and return its summary as the record the calling SQL
 *		function (ivm.tick(), ivm.tick(source, batch)) declares.
 */
Datum
IvmTickResult(FunctionCallInfo fcinfo)
{
	TupleDesc	desc;
	Datum		values[TICK_RESULT_COLUMNS];
	bool		nulls[TICK_RESULT_COLUMNS] = {0};

	IvmCheckPreloaded();
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ivm.tick() must return a record");
	desc = BlessTupleDesc(desc);
	IvmRunTick(0, values);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/*
 * ivm_tick
 *		SQL: ivm.tick() returns (epoch, rows_in, rows_out, views_processed,
 *		views_skipped, views_recomputed, duration_ms)
 */
Datum
ivm_tick(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(IvmTickResult(fcinfo));
}

/*
 * ivm_refresh
 *		SQL: ivm.refresh(view regclass): recompute that view now, in a tick
 *		(so pending deltas are consumed and its changes reach the views that
 *		read it and its watchers).  Only the view's owner may.
 */
Datum
ivm_refresh(PG_FUNCTION_ARGS)
{
	Oid			viewoid = PG_GETARG_OID(0);
	Datum		values[TICK_RESULT_COLUMNS];
	int			view_id;

	IvmCheckPreloaded();
	IvmCheckArgNotNull(fcinfo, 0, "view", "ivm.refresh");
	view_id = IvmLookupView(viewoid, NULL);
	if (view_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s\" is not an incremental view", get_rel_name(viewoid)),
				 errhint("ivm.views lists the incremental views.")));
	if (!IvmRelationOwnerCheck(viewoid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_VIEW, get_rel_name(viewoid));

	IvmRunTick(view_id, values);
	PG_RETURN_VOID();
}
