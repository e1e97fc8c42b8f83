/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		ivm's shared memory: one slot per database a background worker ticks
 *		(ivm.database), the launcher's latch, and the wake-up a writer gives
 *		its database's worker when it commits deltas.
 *
 * The memory is requested in shmem_request_hook and set up in
 * shmem_startup_hook under AddinShmemInitLock, as PostgreSQL asks of every
 * preloaded library; without shared_preload_libraries there is none, and
 * every function here does nothing (IvmShared is NULL).
 *
 * Locking:
 *	- IvmShared->lock (an LWLock of the tranche "ivm") guards every field of
 *	  the slots, except the two a writer reads at commit: dboid and procno
 *	  are each written under the lock but read without it (a single aligned
 *	  word), and wake is an atomic.  A writer never takes the lock: the worst
 *	  a stale read does is set the latch of a process that is not (or no
 *	  longer) the worker, a spurious wake-up, or miss a worker that is just
 *	  starting, which checks the logs when it starts anyway.
 *	- Only the launcher claims and frees slots; only a slot's worker
 *	  writes its pid, state, last tick, error and counters.
 *
 * Layer: exec.  Calls PostgreSQL only; the launcher and the workers
 * (worker.c), the capture trigger (capture.c; a push writes through it) and the
 * ivm.workers function call it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "catalog/pg_authid.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "ivm.h"
#include "exec.h"

PG_FUNCTION_INFO_V1(ivm_workers);

static IvmSharedState *IvmShared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* this transaction wrote deltas (or created the extension): wake at commit */
static bool wake_worker_at_commit = false;
static bool wake_launcher_at_commit = false;
static bool xact_registered = false;

/* it wrote deltas or changed ivm's catalog: bump the change counter */
static bool changed_at_commit = false;

/* a tick of it, recorded at commit unless its subtransaction aborts */
static bool tick_pending = false;
static uint64 tick_changes;
static int	tick_skipped;
static SubTransactionId tick_subid;

static const char *const state_names[] = {
	[IVM_WORKER_FREE] = "free",
	[IVM_WORKER_STARTING] = "starting",
	[IVM_WORKER_IDLE] = "idle",
	[IVM_WORKER_TICKING] = "ticking",
	[IVM_WORKER_BACKOFF] = "backoff",
	[IVM_WORKER_STOPPED] = "stopped",
	[IVM_WORKER_NO_EXTENSION] = "no extension"
};

static Size
SharedSize(void)
{
	return sizeof(IvmSharedState);
}

static void
ShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(SharedSize());
	RequestAddinShmemSpace(IvmProgressShmemSize());
	RequestNamedLWLockTranche("ivm", 1);
}

/* Create the shared state, or attach to it (EXEC_BACKEND, crash restart). */
static void
ShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	IvmShared = ShmemInitStruct("ivm", SharedSize(), &found);
	if (!found)
	{
		memset(IvmShared, 0, SharedSize());
		IvmShared->lock = &(GetNamedLWLockTranche("ivm"))->lock;
		IvmShared->launcher_procno = -1;
		for (int i = 0; i < IVM_MAX_DATABASES; i++)
		{
			IvmShared->slots[i].procno = -1;
			pg_atomic_init_u32(&IvmShared->slots[i].wake, 0);
		}
		pg_atomic_init_u32(&IvmShared->launcher_wake, 0);
		pg_atomic_init_u64(&IvmShared->changes, 1);
		for (int i = 0; i < IVM_HALF_SLOTS; i++)
			pg_atomic_init_u32(&IvmShared->half[i], 0);
	}
	/* and one progress slot per process (progress.c) */
	IvmProgressShmemInit();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * IvmInstallShmemHooks
 *		Called from _PG_init while preloading.
 */
void
IvmInstallShmemHooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ShmemStartup;
}

/*
 * IvmSharedGet
 *		The shared state, or NULL without shared_preload_libraries.
 */
IvmSharedState *
IvmSharedGet(void)
{
	return IvmShared;
}

/*
 * IvmCountTransientFailure
 *		Count one more transient failure of view view_id of this database and
 *		return how many it had within the last window_s seconds, whichever
 *		backends met them (a failed tick rolls back everything else).  The
 *		table is small: when it is full, the entry counted longest ago goes.
 */
int
IvmCountTransientFailure(int view_id, int window_s)
{
	TimestampTz now = GetCurrentTimestamp();
	IvmStrikes *e = NULL;
	int			count;

	if (IvmShared == NULL)
		return 1;
	LWLockAcquire(IvmShared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < IVM_MAX_STRIKES; i++)
	{
		IvmStrikes *s = &IvmShared->strikes[i];

		if (s->dboid == MyDatabaseId && s->view_id == view_id)
		{
			e = s;
			break;
		}
		if (e == NULL || s->dboid == InvalidOid ||
			(e->dboid != InvalidOid && s->since < e->since))
			e = s;
	}
	if (e->dboid != MyDatabaseId || e->view_id != view_id ||
		TimestampDifferenceExceeds(e->since, now, window_s * 1000))
	{
		e->dboid = MyDatabaseId;
		e->view_id = view_id;
		e->count = 0;
		e->since = now;
	}
	count = ++e->count;
	LWLockRelease(IvmShared->lock);
	return count;
}

/*
 * IvmWorkerStateName
 *		The name ivm.workers shows for a state.
 */
const char *
IvmWorkerStateName(IvmWorkerState state)
{
	if (state < 0 || state > IVM_WORKER_NO_EXTENSION)
		return "unknown";
	return state_names[state];
}

/* Set the latch of the process whose PGPROC number is procno, if any. */
static void
SetProcLatch(int procno)
{
	if (procno >= 0 && procno < (int) ProcGlobal->allProcCount)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

/*
 * PublishTick
 *		Record what this database's tick left (IvmRecordTickAtCommit), at
 *		its commit: the entry of this database, else a free one, else the
 *		one its OID hashes to (that database's next tick then does the
 *		whole work once).
 */
static void
PublishTick(void)
{
	IvmTickRecord *rec = NULL;

	LWLockAcquire(IvmShared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < IVM_MAX_TICK_RECORDS; i++)
	{
		IvmTickRecord *r = &IvmShared->ticks[i];

		if (r->dboid == MyDatabaseId)
		{
			rec = r;
			break;
		}
		if (rec == NULL && r->dboid == InvalidOid)
			rec = r;
	}
	if (rec == NULL)
		rec = &IvmShared->ticks[MyDatabaseId % IVM_MAX_TICK_RECORDS];
	rec->dboid = MyDatabaseId;
	rec->changes = tick_changes;
	rec->skipped = tick_skipped;
	LWLockRelease(IvmShared->lock);
}

/*
 * WakeXactCallback
 *		At commit, give this database's worker (and the launcher, after
 *		CREATE EXTENSION) its wake-up: a flag and a latch, never a wait.
 *
 *		A transaction that wrote deltas or changed ivm's catalog bumps the
 *		change counter twice: before its commit is visible (PRE_COMMIT), so
 *		that a snapshot that sees it was taken after the bump, and after
 *		(COMMIT comes after the transaction left the proc array), so that
 *		a snapshot taken after reading the bumped counter sees it; the
 *		second bump comes before the worker's wake-up.  Then a tick of this
 *		transaction is recorded.
 */
static void
WakeXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT && IvmShared != NULL && changed_at_commit)
		(void) pg_atomic_fetch_add_u64(&IvmShared->changes, 1);
	if (event == XACT_EVENT_COMMIT && IvmShared != NULL)
	{
		if (changed_at_commit)
			(void) pg_atomic_fetch_add_u64(&IvmShared->changes, 1);
		if (wake_worker_at_commit)
		{
			for (int i = 0; i < IVM_MAX_DATABASES; i++)
			{
				IvmWorkerSlot *slot = &IvmShared->slots[i];

				if (*((volatile Oid *) &slot->dboid) != MyDatabaseId)
					continue;
				pg_atomic_write_u32(&slot->wake, 1);
				SetProcLatch(*((volatile int *) &slot->procno));
			}
		}
		if (wake_launcher_at_commit)
		{
			pg_atomic_write_u32(&IvmShared->launcher_wake, 1);
			SetProcLatch(*((volatile int *) &IvmShared->launcher_procno));
		}
		if (tick_pending)
			PublishTick();
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		wake_worker_at_commit = false;
		wake_launcher_at_commit = false;
		changed_at_commit = false;
		tick_pending = false;
	}
}

/*
 * TickSubXactCallback
 *		A tick recorded in a subtransaction that aborts is forgotten; one
 *		whose subtransaction commits now belongs to its parent.
 */
static void
TickSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (!tick_pending || mySubid != tick_subid)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		tick_pending = false;
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		tick_subid = parentSubid;
}

static void
RegisterWake(void)
{
	if (!xact_registered)
	{
		RegisterXactCallback(WakeXactCallback, NULL);
		RegisterSubXactCallback(TickSubXactCallback, NULL);
		xact_registered = true;
	}
}

/*
 * IvmWakeWorkerAtCommit
 *		This transaction wrote deltas: when it commits, wake the worker that
 *		ticks this database (if any).  Costs a flag now and a scan of the
 *		slots at commit.
 */
void
IvmWakeWorkerAtCommit(void)
{
	if (IvmShared == NULL || wake_worker_at_commit)
		return;
	RegisterWake();
	wake_worker_at_commit = true;
	changed_at_commit = true;
}

/*
 * IvmWakeLauncherAtCommit
 *		This transaction created the extension: when it commits, the
 *		launcher starts the workers of databases that waited for it.
 */
void
IvmWakeLauncherAtCommit(void)
{
	if (IvmShared == NULL)
		return;
	RegisterWake();
	wake_launcher_at_commit = true;
	changed_at_commit = true;
}

/*
 * IvmChangedAtCommit
 *		This transaction changed what a tick would do (ivm's catalog, a
 *		marker, a log): when it commits, bump the change counter, so that
 *		the next tick of every database does its whole work.
 */
void
IvmChangedAtCommit(void)
{
	if (IvmShared == NULL || changed_at_commit)
		return;
	RegisterWake();
	changed_at_commit = true;
}

/*
 * IvmChangedInThisXact
 *		Whether this transaction (so far) wrote deltas or changed ivm's
 *		catalog: its changes are not counted before it commits.
 */
bool
IvmChangedInThisXact(void)
{
	return changed_at_commit;
}

/*
 * IvmChangedNow
 *		Bump the change counter now: what changed is visible already (COMMIT
 *		PREPARED committed another transaction, which may have written
 *		deltas, before it returned).
 */
void
IvmChangedNow(void)
{
	if (IvmShared != NULL)
		(void) pg_atomic_fetch_add_u64(&IvmShared->changes, 1);
}

/*
 * IvmChangesNow
 *		Read the change counter into *changes, with a full barrier: a snapshot
 *		taken afterwards sees every commit that bumped it before.  False
 *		without shared memory.
 */
bool
IvmChangesNow(uint64 *changes)
{
	if (IvmShared == NULL)
		return false;
	*changes = pg_atomic_fetch_add_u64(&IvmShared->changes, 0);
	return true;
}

/*
 * IvmNothingChangedSince
 *		Whether this database's last committed tick read the change counter
 *		at changes (so nothing that bumps it committed since) and left
 *		nothing to do; then *skipped is how many views it had.
 */
bool
IvmNothingChangedSince(uint64 changes, int *skipped)
{
	bool		same = false;

	if (IvmShared == NULL)
		return false;
	LWLockAcquire(IvmShared->lock, LW_SHARED);
	for (int i = 0; i < IVM_MAX_TICK_RECORDS; i++)
	{
		IvmTickRecord *r = &IvmShared->ticks[i];

		if (r->dboid == MyDatabaseId)
		{
			same = r->changes == changes;
			if (same)
				*skipped = r->skipped;
			break;
		}
	}
	LWLockRelease(IvmShared->lock);
	return same;
}

/*
 * IvmRecordTickAtCommit
 *		This transaction's tick read the change counter at changes before
 *		its snapshot and left nothing to do (skipped views): record it for
 *		the next tick when the transaction commits (not if the subtransaction
 *		it ran in aborts).  A later tick of the transaction replaces it.
 */
void
IvmRecordTickAtCommit(uint64 changes, int skipped)
{
	if (IvmShared == NULL)
		return;
	RegisterWake();
	tick_pending = true;
	tick_changes = changes;
	tick_skipped = skipped;
	tick_subid = GetCurrentSubTransactionId();
}

/*
 * IvmActiveHalf
 *		The half of each delta log (0: the log, 1: its second half) that
 *		this database's writers append to now; 0 without shared memory.
 *		Databases whose OIDs share a slot share the choice.
 */
int
IvmActiveHalf(void)
{
	if (IvmShared == NULL)
		return 0;
	return (int) (pg_atomic_read_u32(&IvmShared->half[MyDatabaseId % IVM_HALF_SLOTS]) & 1);
}

/*
 * IvmFlipHalf
 *		A tick sends this database's writers to the other half of each log,
 *		so that the half they leave can be emptied.  Under the step lock.
 */
void
IvmFlipHalf(void)
{
	if (IvmShared != NULL)
		(void) pg_atomic_fetch_add_u32(&IvmShared->half[MyDatabaseId % IVM_HALF_SLOTS], 1);
}

/*
 * IvmForgetTick
 *		A tick of this transaction that left work: no earlier one of it is
 *		recorded.
 */
void
IvmForgetTick(void)
{
	tick_pending = false;
}

/*
 * ivm_workers
 *		SQL: ivm.workers (database, pid, state, last_tick, last_error, ticks),
 *		one row per database the launcher serves.  The text of the last
 *		error is shown to superusers and members of pg_read_all_stats (as
 *		pg_stat_activity shows queries); other roles see its SQLSTATE only,
 *		because an error can quote a row of another role's table.
 */
Datum
ivm_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		see_all;

	InitMaterializedSRF(fcinfo, 0);
	if (IvmShared == NULL)
		return (Datum) 0;
	see_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	LWLockAcquire(IvmShared->lock, LW_SHARED);
	for (int i = 0; i < IVM_MAX_DATABASES; i++)
	{
		IvmWorkerSlot *slot = &IvmShared->slots[i];
		Datum		values[6];
		bool		nulls[6] = {0};

		if (!slot->in_use)
			continue;
		values[0] = CStringGetTextDatum(slot->dbname);
		values[1] = Int32GetDatum(slot->pid);
		nulls[1] = slot->pid == 0;
		values[2] = CStringGetTextDatum(IvmWorkerStateName(slot->state));
		values[3] = TimestampTzGetDatum(slot->last_tick);
		nulls[3] = slot->last_tick == 0;
		if (slot->last_error[0] == '\0')
			nulls[4] = true;
		else if (see_all)
			values[4] = CStringGetTextDatum(slot->last_error);
		else
			values[4] = CStringGetTextDatum(psprintf("SQLSTATE %s", slot->last_sqlstate));
		values[5] = Int64GetDatum(slot->ticks);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(IvmShared->lock);
	return (Datum) 0;
}
