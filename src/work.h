/*-------------------------------------------------------------------------
 *
 * work.h
 *		The work the SQL-callable functions, triggers and hooks do:
 *		normalize.c, capture.c, view.c, tick.c, watch.c, push.c, full.c,
 *		checkpoint.c, ckptfile.c, restore.c, utility.c, worker.c, shard.c.
 *
 * Layer: work.  Calls everything below it; within the layer one way only
 * (push.c -> tick.c -> watch.c, tick.c -> shard.c, worker.c -> tick.c,
 * restore.c -> view.c -> capture.c, utility.c -> view.c, normalize.c, tick.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_WORK_H
#define IVM_WORK_H

#include "ivm.h"

/* ---- work ---------------------------------------------------------- */

/* normalize.c: a declared query in the form delta rules read */
extern Query *IvmParseQuery(const char *query_text);
extern Query *IvmNormalizeQuery(Query *query, Oid user, List **inlined);
extern void IvmCheckReplaceView(Oid relid);

/* capture.c */
extern void IvmEnsureCaptured(Oid relid);
extern Oid	IvmEnsureLogHalf(int source_id, Oid logrelid);

/* view.c */
extern Oid	IvmCreateView(const char *name, const char *query_text,
						  List *col_names, const char *mode, bool with_data,
						  const char *options_json, uint64 *rows);
extern void IvmRecordExtensionDependencies(Oid extoid);

/* tick.c */
/* columns of ivm.tick()'s result */
#define TICK_RESULT_COLUMNS 7
extern void IvmRunTick(int force_view_id, Datum *result_values);
extern Datum IvmTickResult(FunctionCallInfo fcinfo);
extern bool IvmDeltasPending(void);

/* shard.c: partitioned views, shard by shard */
typedef struct IvmShardSource
{
	const char *enrname;		/* the delta's name in the delta queries */
	Tuplestorestate *delta;		/* the tick's delta of the table */
	TupleDesc	desc;
	AttrNumber	route;			/* the column of desc rows are routed by */
} IvmShardSource;

typedef struct IvmShardJob
{
	Oid			storagerel;		/* the partitioned storage */
	int			nshards;
	Oid		   *parts;			/* its partitions, by remainder */
	Oid			owner;
	Oid			defrel;			/* its definition */
	const char *viewname;
	struct IvmShape *shape;
	bool		parallel;		/* workers may run the shards */
	char	  **sql;			/* per shard: its delta query */
	Snapshot	snap;
	int			sizeclass;
	int			nsources;		/* the tables with a delta this tick */
	IvmShardSource *sources;
} IvmShardJob;

struct IvmDiffResult;
extern Oid *IvmShardRelations(Oid storagerel, int nshards);
extern bool IvmApplyShards(IvmShardJob *job, Tuplestorestate *vdelta, TupleDesc vdesc,
						   struct IvmDiffResult *res);
extern void IvmDiffShards(Oid storagerel, int nshards, int keycol, Oid owner,
						  const char *viewname, const char *query, Snapshot snap, int nvisible,
						  AttrNumber passattno, Tuplestorestate *vdelta, TupleDesc vdesc,
						  struct IvmDiffResult *res);

/* watch.c */
extern void IvmLogChanges(int view_id, Oid owner, Tuplestorestate *delta, TupleDesc vdesc,
						  int64 epoch, Snapshot snap);
extern void IvmNotifyWatchers(const char *channel, Oid viewrel, int64 epoch,
							  uint64 inserted, uint64 deleted);

/* SQL-callable functions used from C */
extern Datum ivm_refresh(PG_FUNCTION_ARGS);

/* worker.c */
extern void IvmRegisterLauncher(void);

/* utility.c */
extern void IvmInstallUtilityHook(void);

#endif							/* IVM_WORK_H */
