/*-------------------------------------------------------------------------
 *
 * progress.c
 *		ivm.progress: what each backend's long work (a creation, a REFRESH, a
 *		recompute, a tick's maintenance of a view) is doing, how many rows
 *		it has done and how many it expects, as PostgreSQL's
 *		pg_stat_progress_* views show core commands.
 *
 * PostgreSQL's progress API keeps its slots for core commands, so ivm has
 * its own: one slot per PGPROC in shared memory (requested by shmem.c), each
 * written only by its backend, without a lock, under a change counter (odd
 * while a write is under way) that readers check before and after copying
 * the slot, trying again when it moved.  A slot is cleared when its work
 * ends, and when the transaction or subtransaction it started in ends
 * (an error, a cancel), so nothing stale stays.
 *
 * Rights: every role sees that a backend of its database is busy (pid,
 * command), as pg_stat_progress_* show; the view, phase and counts only to
 * those who may read the view (SELECT on it), members of its owner, and
 * members of pg_read_all_stats.  The name of a view is not shown to whoever
 * could not see it in its schema.
 *
 * Layer: exec.  Calls PostgreSQL only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "ivm.h"
#include "exec.h"

PG_FUNCTION_INFO_V1(ivm_progress);

/* One backend's work, as ivm.progress shows it. */
typedef struct ProgressSlot
{
	pg_atomic_uint32 changes;	/* odd while its backend writes it */
	int			pid;
	Oid			dboid;
	int			command;		/* IvmProgressCommand; NONE: idle */
	int			phase;			/* IvmProgressStage */
	Oid			viewrel;		/* the view users (or its parent) read */
	Oid			owner;			/* its owner */
	int64		done;
	int64		expected;		/* 0: not known */
	TimestampTz started;
} ProgressSlot;

static ProgressSlot *slots = NULL;
static int	nslots = 0;
static ProgressSlot *my_slot = NULL;
static bool xact_callback_set = false;
static int	start_level = 0;		/* the transaction nest level work started at */

static const char *const command_names[] = {
	[IVM_CMD_NONE] = "none",
	[IVM_CMD_CREATE] = "create",
	[IVM_CMD_REFRESH] = "refresh",
	[IVM_CMD_RECOMPUTE] = "recompute",
	[IVM_CMD_TICK] = "tick"
};

static const char *const phase_names[] = {
	[IVM_PHASE_START] = "starting",
	[IVM_PHASE_FILL] = "filling",
	[IVM_PHASE_COMPARE] = "comparing",
	[IVM_PHASE_WRITE] = "writing",
	[IVM_PHASE_INDEX] = "building indexes",
	[IVM_PHASE_ANALYZE] = "analyzing",
	[IVM_PHASE_DELTA] = "applying delta"
};

/* slots for every PGPROC: backends, background workers, auxiliary processes */
static int
SlotCount(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS;
}

/*
 * IvmProgressShmemSize
 *		Shared memory the slots take (shmem.c requests it); MaxBackends is
 *		known by then.
 */
Size
IvmProgressShmemSize(void)
{
	return mul_size(sizeof(ProgressSlot), SlotCount());
}

/*
 * IvmProgressShmemInit
 *		Make or attach the slots; shmem.c calls it under AddinShmemInitLock.
 */
void
IvmProgressShmemInit(void)
{
	bool		found;

	nslots = SlotCount();
	slots = ShmemInitStruct("ivm progress", IvmProgressShmemSize(), &found);
	if (!found)
	{
		memset(slots, 0, IvmProgressShmemSize());
		for (int i = 0; i < nslots; i++)
			pg_atomic_init_u32(&slots[i].changes, 0);
	}
}

/* this backend's slot, or NULL (no shared memory, no PGPROC) */
static ProgressSlot *
MySlot(void)
{
	int			procno;

	if (my_slot != NULL)
		return my_slot;
	if (slots == NULL || MyProc == NULL)
		return NULL;
	procno = IvmMyProcNumber();
	if (procno < 0 || procno >= nslots)
		return NULL;
	my_slot = &slots[procno];
	return my_slot;
}

/* open a write of the slot (the counter odd), and close it (even again) */
static inline void
BeginWrite(ProgressSlot *s)
{
	pg_atomic_fetch_add_u32(&s->changes, 1);
	pg_write_barrier();
}

static inline void
EndWrite(ProgressSlot *s)
{
	pg_write_barrier();
	pg_atomic_fetch_add_u32(&s->changes, 1);
}

/* at the end of a transaction, nothing of its work is under way */
static void
ProgressXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		IvmProgressEnd();
}

/* a subtransaction the work started in (or under) rolled back: it is over */
static void
ProgressSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && GetCurrentTransactionNestLevel() <= start_level)
		IvmProgressEnd();
}

/*
 * IvmProgressStart
 *		This backend starts command on a view (viewrel, owned by owner).
 */
void
IvmProgressStart(IvmProgressCommand command, Oid viewrel, Oid owner)
{
	ProgressSlot *s = MySlot();

	if (s == NULL)
		return;
	if (!xact_callback_set)
	{
		RegisterXactCallback(ProgressXactCallback, NULL);
		RegisterSubXactCallback(ProgressSubXactCallback, NULL);
		xact_callback_set = true;
	}
	start_level = GetCurrentTransactionNestLevel();
	BeginWrite(s);
	s->pid = MyProcPid;
	s->dboid = MyDatabaseId;
	s->command = command;
	s->phase = IVM_PHASE_START;
	s->viewrel = viewrel;
	s->owner = owner;
	s->done = 0;
	s->expected = 0;
	s->started = GetCurrentTimestamp();
	EndWrite(s);
}

/* write what is not -1 of phase, done and expected into this backend's busy slot */
static void
WriteCounts(int phase, int64 done, int64 expected)
{
	ProgressSlot *s = MySlot();

	if (s == NULL || s->command == IVM_CMD_NONE)
		return;
	BeginWrite(s);
	if (phase >= 0)
		s->phase = phase;
	if (done >= 0)
		s->done = done;
	if (expected >= 0)
		s->expected = expected;
	EndWrite(s);
}

/* the work enters phase; its counts start again */
void
IvmProgressPhase(IvmProgressStage phase)
{
	WriteCounts(phase, 0, 0);
}

/* rows done so far in this phase */
void
IvmProgressRows(uint64 done)
{
	WriteCounts(-1, (int64) done, -1);
}

/* rows this phase expects (an estimate; 0: not known) */
void
IvmProgressExpected(uint64 expected)
{
	WriteCounts(-1, -1, (int64) expected);
}

/* the work is over */
void
IvmProgressEnd(void)
{
	ProgressSlot *s = MySlot();

	if (s == NULL || s->command == IVM_CMD_NONE)
		return;
	BeginWrite(s);
	s->command = IVM_CMD_NONE;
	s->viewrel = InvalidOid;
	EndWrite(s);
}

/* a consistent copy of slot i; false if it stayed under writes */
static bool
ReadSlot(int i, ProgressSlot *copy)
{
	ProgressSlot *s = &slots[i];

	for (int tries = 0; tries < 1000; tries++)
	{
		uint32		before = pg_atomic_read_u32(&s->changes);
		uint32		after;

		pg_read_barrier();
		memcpy(copy, s, sizeof(*copy));
		pg_read_barrier();
		after = pg_atomic_read_u32(&s->changes);
		if (before == after && (before & 1) == 0)
			return true;
		CHECK_FOR_INTERRUPTS();
	}
	return false;
}

/* may the caller see which view a slot works on, and how far it is? */
static bool
MaySee(const ProgressSlot *s)
{
	Oid			user = GetUserId();

	if (has_privs_of_role(user, ROLE_PG_READ_ALL_STATS) || has_privs_of_role(user, s->owner))
		return true;
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(s->viewrel)))
		return false;
	return pg_class_aclcheck(s->viewrel, user, ACL_SELECT) == ACLCHECK_OK;
}

/*
 * ivm_progress
 *		SQL: ivm.progress (pid, datid, command, view, phase, rows_done,
 *		rows_expected, started): one row per backend of this database busy
 *		with a view; view, phase and counts only for those who may see them.
 */
Datum
ivm_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (slots == NULL)
		return (Datum) 0;
	for (int i = 0; i < nslots; i++)
	{
		ProgressSlot s;
		Datum		values[8];
		bool		nulls[8] = {0};

		if (slots[i].command == IVM_CMD_NONE || !ReadSlot(i, &s) ||
			s.command <= IVM_CMD_NONE || s.command > IVM_CMD_TICK || s.dboid != MyDatabaseId)
			continue;
		/* a backend that died without ending its transaction left it */
		if (i >= (int) ProcGlobal->allProcCount || ProcGlobal->allProcs[i].pid != s.pid)
			continue;
		values[0] = Int32GetDatum(s.pid);
		values[1] = CStringGetTextDatum(command_names[s.command]);
		if (MaySee(&s))
		{
			values[2] = ObjectIdGetDatum(s.viewrel);
			values[3] = CStringGetTextDatum(phase_names[Min(Max(s.phase, 0), IVM_PHASE_DELTA)]);
			values[4] = Int64GetDatum(s.done);
			values[5] = Int64GetDatum(s.expected);
			nulls[5] = s.expected <= 0;
		}
		else
			nulls[2] = nulls[3] = nulls[4] = nulls[5] = true;
		values[6] = TimestampTzGetDatum(s.started);
		values[7] = ObjectIdGetDatum(s.dboid);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
