/*-------------------------------------------------------------------------
 *
 * exec.h
 *		The exec layer: SPI, kept plans, ephemeral relations (exec.c),
 *		who runs what (rights.c), evidence lines (evidence.c).
 *
 * Layer: exec.  Calls PostgreSQL only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_EXEC_H
#define IVM_EXEC_H

#include "ivm.h"

#include "port/atomics.h"
#include "storage/lockdefs.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

/* ---- exec ---------------------------------------------------------- */

/* exec.c */
extern void IvmSpiConnect(void);
extern void IvmSpiCheck(int rc, int expected, const char *what);
/* a size class whose plan may run in parallel (a statement run once, whole) */
#define IVM_PLAN_PARALLEL (-1)
extern SPIPlanPtr IvmKeptPlan(const char *sql, int nargs, Oid *argtypes, int sizeclass);
extern double IvmKeptPlanCost(const char *sql, int sizeclass);
extern int	IvmExecCached(const char *sql, int nargs, Oid *argtypes, Datum *values,
						  const char *nulls, Snapshot snap, long tcount, int sizeclass);
extern int	IvmExecSnap(const char *sql, int nargs, Oid *argtypes,
						Datum *values, const char *nulls, Snapshot snap,
						long tcount);
extern void IvmRegisterTuplestore(const char *name, Tuplestorestate *ts, TupleDesc desc);
extern int	IvmNestingLevel(void);
extern void IvmInstallPlannerHooks(void);
/* what is done with one batch of a query's rows; false stops */
typedef bool (*IvmBatchFn) (SPITupleTable *tt, uint64 n, void *arg);
extern void IvmFetchBatches(const char *sql, int nargs, Oid *argtypes, Datum *values,
							Snapshot snap, int sizeclass, IvmBatchFn fn, void *arg);

/* rights.c: who runs what (the rule is at the top of rights.c) */
extern Oid	IvmSchemaOwner(void);
extern void IvmCheckSchemaBeforeCreate(void);
extern int	IvmPinSearchPath(void);
extern void IvmUnpinSearchPath(int nestlevel);
extern void IvmPinViewSettings(void);
extern void IvmReportViewFailure(ErrorData *edata, const char *viewname, Oid owner,
								 Oid caller, int elevel, const char *outcome,
								 const char *hint);
extern void IvmCheckServerFile(const char *path, bool write);
extern bool IvmErrorIsTransient(int sqlerrcode);

/* Run a block as another role; restored on error by transaction abort. */
typedef struct IvmUserSave
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;		/* IvmCatalogBegin's pinned search_path, or -1 */
	int			guc_level;		/* restricted: the GUC nest level whose
								 * changes IvmRestoreUser discards, or 0 */
} IvmUserSave;
extern void IvmBecome(Oid role, bool restricted, IvmUserSave *save);
extern void IvmRestoreUser(IvmUserSave *save);
extern void IvmCatalogBegin(IvmUserSave *save);
extern void IvmCatalogEnd(IvmUserSave *save);
extern Oid	IvmRelationOwner(Oid relid);
extern char *IvmLockedTableName(Oid relid, LOCKMODE mode);
extern void IvmBecomeOwnerOf(Oid relid, IvmUserSave *save);
extern void IvmBecomeReader(Oid role, IvmUserSave *save);
extern int	ivm_internal_ddl;
extern void IvmInternalDdl(const char *sql, Oid role, const char *what);

/* rights.c: checks every SQL-callable function makes first */
extern void IvmCheckPreloaded(void);
extern void IvmCheckWritable(const char *what);
extern void IvmCheckUserEntry(const char *what);
extern void IvmCheckArgNotNull(FunctionCallInfo fcinfo, int argno, const char *argname,
							   const char *funcname);

/* shmem.c: the slots of the databases background workers tick */
#define IVM_MAX_DATABASES	64
#define IVM_ERROR_LEN		512

typedef enum IvmWorkerState
{
	IVM_WORKER_FREE,
	IVM_WORKER_STARTING,		/* registered, not connected yet */
	IVM_WORKER_IDLE,			/* waiting for deltas or the interval */
	IVM_WORKER_TICKING,
	IVM_WORKER_BACKOFF,			/* the last tick failed: waiting to retry */
	IVM_WORKER_STOPPED,			/* exited; the launcher starts it again */
	IVM_WORKER_NO_EXTENSION		/* the database has no extension ivm */
} IvmWorkerState;

/* why a worker exited, which says when the launcher starts it again */
typedef enum IvmWorkerExit
{
	IVM_EXIT_ERROR,				/* failed (cannot connect, say): back off */
	IVM_EXIT_NO_EXTENSION,		/* until CREATE EXTENSION ivm or a while */
	IVM_EXIT_DATABASE_BUSY,		/* DROP or ALTER DATABASE waited for it */
	IVM_EXIT_ASKED				/* terminated: start again soon */
} IvmWorkerExit;

typedef struct IvmWorkerSlot
{
	bool		in_use;			/* the database is listed (launcher) */
	char		dbname[NAMEDATALEN];
	Oid			dboid;			/* once connected; read at commit unlocked */
	int			pid;			/* the worker, or 0 */
	int			procno;			/* its PGPROC number, or -1; read unlocked */
	IvmWorkerState state;
	IvmWorkerExit exit_reason;
	TimestampTz last_tick;
	int64		ticks;
	char		last_error[IVM_ERROR_LEN];
	char		last_sqlstate[6];
	pg_atomic_uint32 wake;		/* a writer committed deltas */
} IvmWorkerSlot;

/* transient failures of one view, counted across backends (tick.c) */
#define IVM_MAX_STRIKES		128
typedef struct IvmStrikes
{
	Oid			dboid;			/* InvalidOid: a free entry */
	int			view_id;
	int			count;			/* since `since` */
	TimestampTz since;
} IvmStrikes;

/*
 * What the last committed tick of a database left (tick.c's fast path): the
 * change counter it read before its snapshot, and whether it left nothing to
 * do (no view to fill, recompute or retry, no marker); then how many views
 * a tick with no delta skips.
 */
#define IVM_MAX_TICK_RECORDS	64
#define IVM_HALF_SLOTS			256
typedef struct IvmTickRecord
{
	Oid			dboid;			/* InvalidOid: a free entry */
	uint64		changes;
	int			skipped;
} IvmTickRecord;

typedef struct IvmSharedState
{
	LWLock	   *lock;
	pg_atomic_uint64 changes;	/* bumped by each commit that wrote deltas or
								 * changed ivm's catalog, after it is visible */
	IvmTickRecord ticks[IVM_MAX_TICK_RECORDS];	/* under lock */
	pg_atomic_uint32 half[IVM_HALF_SLOTS];	/* the log half writers of a
											 * database (by OID) append to */
	int			launcher_pid;
	int			launcher_procno;	/* read unlocked at commit */
	pg_atomic_uint32 launcher_wake; /* CREATE EXTENSION ivm committed */
	IvmWorkerSlot slots[IVM_MAX_DATABASES];
	IvmStrikes	strikes[IVM_MAX_STRIKES];	/* under lock */
} IvmSharedState;

/* progress.c: what long work is doing, for ivm.progress */
typedef enum IvmProgressCommand
{
	IVM_CMD_NONE = 0,
	IVM_CMD_CREATE,				/* a view's creation, filling it */
	IVM_CMD_REFRESH,			/* REFRESH MATERIALIZED VIEW, ivm.refresh() */
	IVM_CMD_RECOMPUTE,			/* a tick recomputing a view */
	IVM_CMD_TICK				/* a tick applying a view's delta */
} IvmProgressCommand;

typedef enum IvmProgressPhase
{
	IVM_PHASE_START = 0,
	IVM_PHASE_FILL,				/* the query's rows into a new heap */
	IVM_PHASE_COMPARE,			/* the diff: query and stored rows merged */
	IVM_PHASE_WRITE,			/* rows deleted and inserted */
	IVM_PHASE_INDEX,			/* the heap swapped in, indexes built */
	IVM_PHASE_ANALYZE,			/* statistics of the storage */
	IVM_PHASE_DELTA				/* delta rules */
} IvmProgressStage;

extern Size IvmProgressShmemSize(void);
extern void IvmProgressShmemInit(void);
extern void IvmProgressStart(IvmProgressCommand command, Oid viewrel, Oid owner);
extern void IvmProgressPhase(IvmProgressStage phase);
extern void IvmProgressRows(uint64 done);
extern void IvmProgressExpected(uint64 expected);
extern void IvmProgressEnd(void);

extern void IvmInstallShmemHooks(void);
extern IvmSharedState *IvmSharedGet(void);
extern const char *IvmWorkerStateName(IvmWorkerState state);
extern void IvmWakeWorkerAtCommit(void);
extern void IvmWakeLauncherAtCommit(void);
extern void IvmChangedAtCommit(void);
extern void IvmChangedNow(void);
extern bool IvmChangedInThisXact(void);
extern bool IvmChangesNow(uint64 *changes);
extern bool IvmNothingChangedSince(uint64 changes, int *skipped);
extern void IvmRecordTickAtCommit(uint64 changes, int skipped);
extern void IvmForgetTick(void);
extern int	IvmActiveHalf(void);
extern void IvmFlipHalf(void);
extern int	IvmCountTransientFailure(int view_id, int window_s);

/* evidence.c */
extern void IvmQueueEvidenceLine(const char *line);

#endif							/* IVM_EXEC_H */
