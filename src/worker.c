/*-------------------------------------------------------------------------
 *
 * worker.c
 *		Ticks on a schedule: the launcher, and one worker per database.
 *
 * The launcher is a background worker registered in _PG_init when ivm is
 * preloaded.  It connects to no database (it has a backend entry only, so
 * that pg_stat_activity shows it).  It reads ivm.database (a list of
 * database names) and ivm.tick_interval (0 = off), claims a slot in shared
 * memory (shmem.c) for each listed database and keeps one dynamic worker
 * running per slot; a database that leaves the list, or an interval set to
 * 0, stops its worker.  Settings are read again on SIGHUP (a reload).
 *
 * A worker connects to its database as the bootstrap superuser; the tick it
 * runs switches roles as every tick does (ivm's catalog as the owner of
 * schema ivm, each view's query as the view's owner).  Its loop:
 *	- wait on its latch, at most the interval and at most a second;
 *	- a writer that committed deltas set a flag in the slot and the latch
 *	  (the capture trigger, through shmem.c), so the worker ticks at once,
 *	  unless it is resting after a tick (as long as that tick took, so that
 *	  it takes half of a CPU at most under a steady stream of commits);
 *	  otherwise it looks for pending deltas once per interval;
 *	- a transaction around each look and each tick; the tick runs only when
 *	  some log holds rows (IvmDeltasPending), so an idle database costs a
 *	  cheap query per interval and no ticks;
 *	- once a second at most, after a tick, it vacuums the delta logs (the
 *	  rows a tick consumed are dead rows the next tick would scan again);
 *	- a tick that fails is logged (with the view it was maintaining, from the
 *	  tick's error context), shown in ivm.workers, and retried after a delay
 *	  that doubles up to a minute;
 *	- once a second it tries a lock on its database that DROP DATABASE and
 *	  ALTER DATABASE hold while they wait for other sessions to leave: if it
 *	  cannot, it exits, so that they can go on.  It exits as well when the
 *	  extension is dropped, and the launcher starts it again when CREATE
 *	  EXTENSION ivm commits (or after a while).
 *
 * A kill -9 of a worker (or of the launcher) makes the postmaster restart
 * every process, as for any backend; the launcher is then started again and
 * starts the workers.  Deltas live in tables: none is lost, and a tick that
 * was cut short left them in their logs.
 *
 * Layer: work.  Calls tick.c (IvmRunTick, IvmDeltasPending) and shmem.c;
 * ivm.c registers the launcher.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "commands/vacuum.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "ivm.h"
#include "exec.h"
#include "catalog.h"
#include "work.h"

PGDLLEXPORT void ivm_launcher_main(Datum main_arg);
PGDLLEXPORT void ivm_worker_main(Datum main_arg);

/* how often a worker at least wakes (to see DROP DATABASE waiting for it) */
#define WORKER_POLL_MS			1000
/* the launcher's longest sleep */
#define LAUNCHER_POLL_MS		10000
/* retry delays of the launcher and of a failing tick */
#define RETRY_MIN_MS			1000
#define RETRY_MAX_MS			60000
#define NO_EXTENSION_RETRY_MS	30000
#define DATABASE_BUSY_RETRY_MS	10000
/* the worker vacuums the delta logs at most this often (while it ticks) */
#define LOG_VACUUM_MS			1000

/* ---- the launcher -------------------------------------------------- */

/* what the launcher alone knows of each slot */
typedef struct LauncherSlot
{
	BackgroundWorkerHandle *handle; /* the running worker, or NULL */
	TimestampTz start_after;	/* start it again no sooner */
	int			backoff_ms;		/* the next delay after a failure */
} LauncherSlot;

static LauncherSlot launcher_slots[IVM_MAX_DATABASES];

/*
 * IvmRegisterLauncher
 *		Called from _PG_init while preloading.
 */
void
IvmRegisterLauncher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ivm");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "ivm_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "ivm launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "ivm launcher");
	RegisterBackgroundWorker(&worker);
}

/*
 * ListedDatabases
 *		The databases that should have a worker now: those of ivm.database,
 *		or none when ivm.tick_interval is 0 or the list is malformed (the
 *		setting's check refuses that; a file edited by hand can still).
 */
static List *
ListedDatabases(void)
{
	char	   *copy;
	List	   *names = NIL;

	if (ivm_tick_interval <= 0 || ivm_database == NULL || ivm_database[0] == '\0')
		return NIL;
	copy = pstrdup(ivm_database);
	if (!SplitIdentifierString(copy, ',', &names))
	{
		ereport(LOG,
				(errmsg("ivm launcher: ivm.database is not a list of database names: \"%s\"",
						ivm_database)));
		return NIL;
	}
	return names;
}

/* Start the worker of slot i; on failure, retry later. */
static void
StartWorker(int i, TimestampTz now)
{
	IvmSharedState *sh = IvmSharedGet();
	IvmWorkerSlot *slot = &sh->slots[i];
	LauncherSlot *ls = &launcher_slots[i];
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ivm");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "ivm_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "ivm worker for database %s", slot->dbname);
	snprintf(worker.bgw_type, BGW_MAXLEN, "ivm worker");
	worker.bgw_main_arg = Int32GetDatum(i);
	worker.bgw_notify_pid = MyProcPid;

	LWLockAcquire(sh->lock, LW_EXCLUSIVE);
	slot->state = IVM_WORKER_STARTING;
	slot->exit_reason = IVM_EXIT_ERROR;
	LWLockRelease(sh->lock);

	if (!RegisterDynamicBackgroundWorker(&worker, &ls->handle))
	{
		ls->handle = NULL;
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("ivm launcher: could not start a worker for database \"%s\"", slot->dbname),
				 errhint("Raise max_worker_processes.")));
		LWLockAcquire(sh->lock, LW_EXCLUSIVE);
		slot->state = IVM_WORKER_STOPPED;
		LWLockRelease(sh->lock);
		ls->start_after = TimestampTzPlusMilliseconds(now, RETRY_MAX_MS);
	}
}

/*
 * WorkerStopped
 *		The worker of slot i has exited: decide when to start it again, from
 *		why it exited.
 */
static void
WorkerStopped(int i, TimestampTz now)
{
	IvmSharedState *sh = IvmSharedGet();
	IvmWorkerSlot *slot = &sh->slots[i];
	LauncherSlot *ls = &launcher_slots[i];
	int			delay;

	pfree(ls->handle);
	ls->handle = NULL;
	LWLockAcquire(sh->lock, LW_EXCLUSIVE);
	switch (slot->exit_reason)
	{
		case IVM_EXIT_NO_EXTENSION:
			delay = NO_EXTENSION_RETRY_MS;
			slot->state = IVM_WORKER_NO_EXTENSION;
			ls->backoff_ms = RETRY_MIN_MS;
			break;
		case IVM_EXIT_DATABASE_BUSY:
			delay = DATABASE_BUSY_RETRY_MS;
			slot->state = IVM_WORKER_STOPPED;
			break;
		case IVM_EXIT_ASKED:
			delay = RETRY_MIN_MS;
			slot->state = IVM_WORKER_STOPPED;
			break;
		default:
			delay = ls->backoff_ms;
			ls->backoff_ms = Min(ls->backoff_ms * 2, RETRY_MAX_MS);
			slot->state = IVM_WORKER_STOPPED;
			break;
	}
	slot->pid = 0;
	slot->procno = -1;
	LWLockRelease(sh->lock);
	ls->start_after = TimestampTzPlusMilliseconds(now, delay);
}

/*
 * Reconcile
 *		Make the running workers match the list: stop those of databases no
 *		longer listed, start those missing whose delay has passed.  Returns
 *		how long the launcher may sleep.
 */
static long
Reconcile(bool extension_created)
{
	IvmSharedState *sh = IvmSharedGet();
	List	   *names = ListedDatabases();
	TimestampTz now = GetCurrentTimestamp();
	long		sleep_ms = LAUNCHER_POLL_MS;
	ListCell   *lc;

	/* workers that exited, and slots no longer listed */
	for (int i = 0; i < IVM_MAX_DATABASES; i++)
	{
		IvmWorkerSlot *slot = &sh->slots[i];
		LauncherSlot *ls = &launcher_slots[i];
		bool		listed = false;
		pid_t		pid;

		if (!slot->in_use)
			continue;
		foreach(lc, names)
			if (strcmp((char *) lfirst(lc), slot->dbname) == 0)
				listed = true;
		if (ls->handle != NULL &&
			GetBackgroundWorkerPid(ls->handle, &pid) == BGWH_STOPPED)
			WorkerStopped(i, now);
		if (listed)
		{
			if (extension_created && slot->state == IVM_WORKER_NO_EXTENSION)
				ls->start_after = now;
			continue;
		}
		if (ls->handle != NULL)
		{
			/* stopped at its next wake; the slot is freed once it has */
			TerminateBackgroundWorker(ls->handle);
			sleep_ms = Min(sleep_ms, 100);
			continue;
		}
		LWLockAcquire(sh->lock, LW_EXCLUSIVE);
		memset(slot->dbname, 0, NAMEDATALEN);
		slot->in_use = false;
		slot->dboid = InvalidOid;
		slot->state = IVM_WORKER_FREE;
		slot->last_tick = 0;
		slot->ticks = 0;
		slot->last_error[0] = '\0';
		slot->last_sqlstate[0] = '\0';
		LWLockRelease(sh->lock);
	}

	/* listed databases: claim a slot, start its worker when due */
	foreach(lc, names)
	{
		const char *name = (const char *) lfirst(lc);
		int			found = -1;

		for (int i = 0; i < IVM_MAX_DATABASES && found < 0; i++)
			if (sh->slots[i].in_use && strcmp(sh->slots[i].dbname, name) == 0)
				found = i;
		for (int i = 0; i < IVM_MAX_DATABASES && found < 0; i++)
			if (!sh->slots[i].in_use)
			{
				found = i;
				LWLockAcquire(sh->lock, LW_EXCLUSIVE);
				sh->slots[i].in_use = true;
				strlcpy(sh->slots[i].dbname, name, NAMEDATALEN);
				sh->slots[i].state = IVM_WORKER_STOPPED;
				LWLockRelease(sh->lock);
				launcher_slots[i].start_after = now;
				launcher_slots[i].backoff_ms = RETRY_MIN_MS;
			}
		if (found < 0)
		{
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("ivm launcher: ivm.database lists more than %d databases; \"%s\" gets no worker",
							IVM_MAX_DATABASES, name)));
			continue;
		}
		if (launcher_slots[found].handle != NULL)
			continue;
		if (launcher_slots[found].start_after <= now)
			StartWorker(found, now);
		else
		{
			long		secs;
			int			usecs;

			TimestampDifference(now, launcher_slots[found].start_after, &secs, &usecs);
			sleep_ms = Min(sleep_ms, secs * 1000 + usecs / 1000 + 1);
		}
	}
	return sleep_ms;
}

/*
 * StopLeftoverWorkers
 *		A launcher that starts again (after being terminated) has no handles
 *		of the workers its predecessor started: ask them to exit and wait
 *		until they have, then start afresh.
 */
static void
StopLeftoverWorkers(void)
{
	IvmSharedState *sh = IvmSharedGet();

	for (int tries = 0; tries < 100; tries++)
	{
		bool		left = false;

		LWLockAcquire(sh->lock, LW_SHARED);
		for (int i = 0; i < IVM_MAX_DATABASES; i++)
			if (sh->slots[i].pid != 0)
			{
				left = true;
				kill(sh->slots[i].pid, SIGTERM);
			}
		LWLockRelease(sh->lock);
		if (!left)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * ivm_launcher_main
 *		The launcher's loop.
 */
void
ivm_launcher_main(Datum main_arg)
{
	IvmSharedState *sh;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	sh = IvmSharedGet();
	if (sh == NULL)
		proc_exit(0);
	/* no database: only so that pg_stat_activity shows the launcher */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	StopLeftoverWorkers();
	LWLockAcquire(sh->lock, LW_EXCLUSIVE);
	sh->launcher_pid = MyProcPid;
	sh->launcher_procno = IvmMyProcNumber();
	for (int i = 0; i < IVM_MAX_DATABASES; i++)
		sh->slots[i].in_use = false;
	LWLockRelease(sh->lock);
	memset(launcher_slots, 0, sizeof(launcher_slots));

	for (;;)
	{
		bool		created;
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		created = pg_atomic_exchange_u32(&sh->launcher_wake, 0) != 0;
		sleep_ms = Reconcile(created);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---- a database's worker ------------------------------------------- */

static int	my_slot = -1;

/* on exit: the slot no longer has a worker */
static void
WorkerExit(int code, Datum arg)
{
	IvmSharedState *sh = IvmSharedGet();
	IvmWorkerSlot *slot = &sh->slots[DatumGetInt32(arg)];

	LWLockAcquire(sh->lock, LW_EXCLUSIVE);
	slot->pid = 0;
	slot->procno = -1;
	slot->dboid = InvalidOid;
	if (slot->state != IVM_WORKER_NO_EXTENSION)
		slot->state = IVM_WORKER_STOPPED;
	LWLockRelease(sh->lock);
}

static void
SetState(IvmWorkerState state)
{
	IvmSharedState *sh = IvmSharedGet();

	LWLockAcquire(sh->lock, LW_EXCLUSIVE);
	sh->slots[my_slot].state = state;
	LWLockRelease(sh->lock);
}

/* Exit for a reason the launcher reads to decide when to start us again. */
static void
WorkerQuit(IvmWorkerExit reason, IvmWorkerState state)
{
	IvmSharedState *sh = IvmSharedGet();

	LWLockAcquire(sh->lock, LW_EXCLUSIVE);
	sh->slots[my_slot].exit_reason = reason;
	sh->slots[my_slot].state = state;
	LWLockRelease(sh->lock);
	proc_exit(0);
}

/*
 * DatabaseWanted
 *		False when DROP DATABASE or ALTER DATABASE (rename, tablespace) holds
 *		the lock on this database and waits for its sessions to end.
 */
static bool
DatabaseWanted(void)
{
	LOCKTAG		tag;
	LockAcquireResult res;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, MyDatabaseId, 0);
	res = LockAcquire(&tag, AccessShareLock, true, true);
	if (res == LOCKACQUIRE_NOT_AVAIL)
		return false;
	LockRelease(&tag, AccessShareLock, true);
	return true;
}

/*
 * RecordError
 *		Keep a tick's error for ivm.workers: its SQLSTATE, message and the
 *		view it was maintaining (the error's context).
 */
static void
RecordError(ErrorData *edata)
{
	IvmSharedState *sh = IvmSharedGet();
	IvmWorkerSlot *slot = &sh->slots[my_slot];
	char	   *text;

	text = psprintf("%s%s%s", edata->message ? edata->message : "error",
					edata->context ? " (" : "", edata->context ? edata->context : "");
	LWLockAcquire(sh->lock, LW_EXCLUSIVE);
	strlcpy(slot->last_error, text, IVM_ERROR_LEN - 1);
	if (edata->context)
		strlcat(slot->last_error, ")", IVM_ERROR_LEN);
	strlcpy(slot->last_sqlstate, unpack_sql_state(edata->sqlerrcode), sizeof(slot->last_sqlstate));
	slot->state = IVM_WORKER_BACKOFF;
	LWLockRelease(sh->lock);
	pfree(text);
}

typedef enum TickOutcome
{
	TICK_NONE,					/* nothing pending */
	TICK_DONE,
	TICK_FAILED,
	TICK_NO_EXTENSION
} TickOutcome;

/*
 * TickIfPending
 *		In a transaction of its own: if the extension is there and deltas are
 *		pending, run a tick.  Catches the tick's error (logged, recorded).
 */
static TickOutcome
TickIfPending(MemoryContext loopcxt)
{
	IvmSharedState *sh = IvmSharedGet();
	TickOutcome outcome = TICK_NONE;
	ResourceOwner owner = CurrentResourceOwner;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		if (!OidIsValid(get_extension_oid("ivm", true)))
			outcome = TICK_NO_EXTENSION;
		else if (IvmDeltasPending())
		{
			Datum		values[TICK_RESULT_COLUMNS];

			SetState(IVM_WORKER_TICKING);
			pgstat_report_activity(STATE_RUNNING, "ivm tick");
			IvmRunTick(0, values);
			outcome = TICK_DONE;
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(loopcxt);
		edata = CopyErrorData();
		/* the server log gets the whole error, with its context */
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		CurrentResourceOwner = owner;
		RecordError(edata);
		FreeErrorData(edata);
		outcome = TICK_FAILED;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	pgstat_report_stat(false);

	if (outcome == TICK_DONE)
	{
		LWLockAcquire(sh->lock, LW_EXCLUSIVE);
		sh->slots[my_slot].ticks++;
		sh->slots[my_slot].last_tick = GetCurrentTimestamp();
		sh->slots[my_slot].state = IVM_WORKER_IDLE;
		LWLockRelease(sh->lock);
	}
	else if (outcome == TICK_NONE)
		SetState(IVM_WORKER_IDLE);
	return outcome;
}

/*
 * VacuumLogs
 *		VACUUM the delta logs.  Each tick deletes the rows it consumed; a log
 *		written thousands of rows a second piles up dead rows between two
 *		rounds of autovacuum (a minute apart by default), and every tick's
 *		scan of the log reads them again.  The same for the storage of a
 *		small view changed by every tick (a total per branch replaced many
 *		times a second): it is vacuumed once it holds more dead rows than
 *		live ones (and over a thousand).  Without truncation, so that no
 *		lock a writer waits for is ever taken: the space is reused by the
 *		next rows.  Run as a VACUUM statement is, outside any transaction
 *		block; a failure is logged and forgotten (autovacuum remains).
 */
static void
VacuumLogs(MemoryContext loopcxt)
{
	ResourceOwner owner = CurrentResourceOwner;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		VacuumStmt *stmt;
		MemoryContext oldcxt;
		int			rc;

		/* (the statement outlives SPI, and the transaction VACUUM ends) */
		oldcxt = MemoryContextSwitchTo(loopcxt);
		stmt = makeNode(VacuumStmt);
		MemoryContextSwitchTo(oldcxt);
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "ivm worker: SPI_connect failed");
		/* the logs, and view storage that holds more dead rows than live ones */
		rc = SPI_execute(psprintf("%s%s%s", "SELECT logrel::oid FROM ivm._sources ",
								  IvmLogHalves()
								  ? "UNION ALL SELECT loghalf::oid FROM ivm._sources WHERE loghalf IS NOT NULL "
								  : "",
								  "UNION ALL SELECT st.relid FROM pg_catalog.pg_stat_all_tables st "
								  "WHERE st.schemaname OPERATOR(pg_catalog.=) 'ivm' "
								  "AND st.relname OPERATOR(pg_catalog.~~) '\\_data\\_%' "
								  "AND st.n_dead_tup OPERATOR(pg_catalog.>) 1000 "
								  "AND st.n_dead_tup OPERATOR(pg_catalog.>) st.n_live_tup"),
						 true, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "ivm worker: could not list the delta logs");
		oldcxt = MemoryContextSwitchTo(loopcxt);
		stmt->is_vacuumcmd = true;
		stmt->options = list_make1(makeDefElem("truncate", (Node *) makeBoolean(false), -1));
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 1, &isnull));

			stmt->rels = lappend(stmt->rels, makeVacuumRelation(NULL, relid, NIL));
		}
		MemoryContextSwitchTo(oldcxt);
		SPI_finish();
		/* (VACUUM ends this transaction and starts its own, per log) */
		if (stmt->rels != NIL)
		{
			pgstat_report_activity(STATE_RUNNING, "ivm: vacuum of the delta logs");
			ExecVacuum(make_parsestate(NULL), stmt, true);
		}
		else
			PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(loopcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * ivm_worker_main
 *		The loop of the worker of one database (main_arg: its slot).
 */
void
ivm_worker_main(Datum main_arg)
{
	IvmSharedState *sh = IvmSharedGet();
	IvmWorkerSlot *slot;
	char		dbname[NAMEDATALEN];
	MemoryContext loopcxt;
	TimestampTz last_look = 0;
	TimestampTz retry_after = 0;
	TimestampTz last_vacuum = 0;
	int			backoff_ms = RETRY_MIN_MS;

	my_slot = DatumGetInt32(main_arg);
	if (sh == NULL || my_slot < 0 || my_slot >= IVM_MAX_DATABASES)
		proc_exit(0);
	slot = &sh->slots[my_slot];

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	LWLockAcquire(sh->lock, LW_EXCLUSIVE);
	strlcpy(dbname, slot->dbname, NAMEDATALEN);
	slot->pid = MyProcPid;
	slot->exit_reason = IVM_EXIT_ERROR;
	LWLockRelease(sh->lock);
	before_shmem_exit(WorkerExit, Int32GetDatum(my_slot));

	/* FATAL (and a restart after a delay) when the database does not exist */
	BackgroundWorkerInitializeConnection(dbname, NULL, 0);
	pgstat_report_appname("ivm worker");

	LWLockAcquire(sh->lock, LW_EXCLUSIVE);
	slot->dboid = MyDatabaseId;
	slot->procno = IvmMyProcNumber();
	slot->state = IVM_WORKER_IDLE;
	/* asked to stop (SIGTERM) from now on means: start again soon */
	slot->exit_reason = IVM_EXIT_ASKED;
	LWLockRelease(sh->lock);

	loopcxt = AllocSetContextCreate(TopMemoryContext, "ivm worker loop",
									ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		TimestampTz now;
		bool		woken;
		long		wait_ms = WORKER_POLL_MS;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!DatabaseWanted())
		{
			ereport(LOG,
					(errmsg("ivm worker: leaving database \"%s\", which DROP or ALTER DATABASE is waiting for",
							dbname)));
			WorkerQuit(IVM_EXIT_DATABASE_BUSY, IVM_WORKER_STOPPED);
		}

		now = GetCurrentTimestamp();
		if (ivm_tick_interval > 0 && now >= retry_after)
		{
			woken = pg_atomic_exchange_u32(&slot->wake, 0) != 0;
			if (woken || last_look == 0 ||
				TimestampDifferenceExceeds(last_look, now, ivm_tick_interval))
			{
				TickOutcome outcome;
				TimestampTz end;

				last_look = now;
				MemoryContextReset(loopcxt);
				outcome = TickIfPending(loopcxt);
				end = GetCurrentTimestamp();
				if (outcome == TICK_NO_EXTENSION)
				{
					ereport(LOG,
							(errmsg("ivm worker: database \"%s\" has no extension ivm; leaving until it is created",
									dbname)));
					WorkerQuit(IVM_EXIT_NO_EXTENSION, IVM_WORKER_NO_EXTENSION);
				}
				if (outcome == TICK_FAILED)
				{
					retry_after = TimestampTzPlusMilliseconds(end, backoff_ms);
					backoff_ms = Min(backoff_ms * 2, RETRY_MAX_MS);
					/* what woke us is still pending: keep the flag */
					pg_atomic_write_u32(&slot->wake, 1);
				}
				else
					backoff_ms = RETRY_MIN_MS;

				/*
				 * After a tick, rest as long as it took before the next: under
				 * a steady stream of commits the worker then takes at most
				 * half of a CPU, and each tick gathers what committed
				 * meanwhile (fewer, larger ticks: the fixed cost of a tick is
				 * paid less often).  A tick of 2 ms adds 2 ms to the wait of
				 * a commit at worst.  Then look again.
				 */
				if (outcome == TICK_DONE)
				{
					TimestampTz rest = (end - now);

					if (TimestampDifferenceExceeds(last_vacuum, end, LOG_VACUUM_MS))
					{
						VacuumLogs(loopcxt);
						last_vacuum = GetCurrentTimestamp();
					}
					retry_after = GetCurrentTimestamp() + rest;
					continue;
				}
			}
		}

		/*
		 * Sleep until the next look is due (now, if a writer woke us), the
		 * end of a rest or of a backoff, or for a second at most.
		 */
		now = GetCurrentTimestamp();
		if (ivm_tick_interval > 0)
		{
			TimestampTz next_look = pg_atomic_read_u32(&slot->wake) != 0 ? now :
				TimestampTzPlusMilliseconds(last_look, ivm_tick_interval);
			TimestampTz next = Max(retry_after, next_look);
			long		secs;
			int			usecs;

			if (next <= now)
				continue;
			TimestampDifference(now, next, &secs, &usecs);
			wait_ms = Min(wait_ms, secs * 1000 + usecs / 1000 + 1);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
