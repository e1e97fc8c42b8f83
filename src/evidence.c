/*-------------------------------------------------------------------------
 *
 * evidence.c
 *		The per-view evidence lines of ticks for ivm.evidence_path, written
 *		to the file when the transaction commits and never when it rolls
 *		back, whole or to a savepoint.  A transaction that is PREPAREd writes
 *		none: its lines are dropped at PREPARE, since this session does not
 *		see whether COMMIT PREPARED or ROLLBACK PREPARED ends it.
 *
 * Layer: exec (transaction callbacks and a file; no SPI).  Calls
 * PostgreSQL only.
 *
 * Memory: the pending lines live in TopMemoryContext until commit, abort or
 * PREPARE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "ivm.h"
#include "exec.h"

/*
 * Evidence lines for ivm.evidence_path, written when the tick commits.  A
 * mark per subtransaction that added lines says where its lines start, so
 * that a rollback to a savepoint (or of a view's subtransaction) takes
 * its lines back.
 */
static StringInfo pending_evidence = NULL;
static bool xact_registered = false;
typedef struct EvidenceMark
{
	SubTransactionId subid;
	int			offset;
} EvidenceMark;
static EvidenceMark *evidence_marks = NULL;
static int	n_evidence_marks = 0;
static int	max_evidence_marks = 0;

/*
 * At commit, append the pending lines to ivm.evidence_path; at commit, abort
 * or PREPARE, forget them (a prepared transaction's lines are never written).
 */
static void
EvidenceXactCallback(XactEvent event, void *arg)
{
	if (pending_evidence == NULL || pending_evidence->len == 0)
		return;
	if (event == XACT_EVENT_COMMIT && ivm_evidence_path != NULL && ivm_evidence_path[0] != '\0')
	{
		FILE	   *f = AllocateFile(ivm_evidence_path, "a");

		if (f == NULL)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not append to ivm.evidence_path \"%s\": %m", ivm_evidence_path)));
		else
		{
			if (fwrite(pending_evidence->data, 1, pending_evidence->len, f) != (size_t) pending_evidence->len)
				ereport(WARNING,
						(errcode_for_file_access(),
						 errmsg("could not write to ivm.evidence_path \"%s\": %m", ivm_evidence_path)));
			FreeFile(f);
		}
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		resetStringInfo(pending_evidence);
		n_evidence_marks = 0;
	}
}

/* a subtransaction rolled back: drop the evidence lines it (or its children) added */
static void
EvidenceSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB || pending_evidence == NULL)
		return;
	for (int i = 0; i < n_evidence_marks; i++)
	{
		if (evidence_marks[i].subid >= mySubid)
		{
			pending_evidence->len = evidence_marks[i].offset;
			pending_evidence->data[pending_evidence->len] = '\0';
			n_evidence_marks = i;
			break;
		}
	}
}

/*
 * IvmQueueEvidenceLine
 *		Queue one line for ivm.evidence_path, to be written at commit.
 */
void
IvmQueueEvidenceLine(const char *line)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	SubTransactionId subid = GetCurrentSubTransactionId();

	if (pending_evidence == NULL)
		pending_evidence = makeStringInfo();
	if (!xact_registered)
	{
		RegisterXactCallback(EvidenceXactCallback, NULL);
		RegisterSubXactCallback(EvidenceSubXactCallback, NULL);
		xact_registered = true;
	}
	if (n_evidence_marks == 0 || evidence_marks[n_evidence_marks - 1].subid != subid)
	{
		if (n_evidence_marks == max_evidence_marks)
		{
			max_evidence_marks = Max(16, max_evidence_marks * 2);
			evidence_marks = evidence_marks == NULL
				? palloc(sizeof(EvidenceMark) * max_evidence_marks)
				: repalloc(evidence_marks, sizeof(EvidenceMark) * max_evidence_marks);
		}
		evidence_marks[n_evidence_marks].subid = subid;
		evidence_marks[n_evidence_marks].offset = pending_evidence->len;
		n_evidence_marks++;
	}
	appendStringInfoString(pending_evidence, line);
	MemoryContextSwitchTo(old);
}

