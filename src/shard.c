/*-------------------------------------------------------------------------
 *
 * shard.c
 *		Partitioned views: each shard of the view maintained from its own
 *		share of the tick's deltas.
 *
 * A partitioned view's storage is hash partitioned on its key (view.c),
 * shard k being the partition of remainder k, ivm._data_<id>_p<k>.  Every
 * table the view reads has a routing column equal to the key in every row
 * it feeds (route.c).  A tick routes each consumed delta by that column
 * into one delta per shard (IvmRouteRows: PostgreSQL's own hash, so a row
 * goes where PostgreSQL would put it), and maintains shard k by the view's
 * delta rules over the shard's deltas, against partition k alone: every
 * stored row a delta query reads, and every row it changes, is in that
 * partition.  The shards' changes add up to the change of the whole view,
 * the same a view without partitions gets.  A recompute is a diff per
 * shard: the view's query, filtered to the shard's keys, against its
 * partition.
 *
 * The deltas of a shard are registered under the names the delta queries
 * read (ivm_delta_<source>) while the shard runs, and the tick's own are
 * registered again afterwards, also on error: other views read them next.
 *
 * Layer: work.  Calls the strategies (incr.c, diff.c), rows (routing) and
 * exec; tick.c calls it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "rewrite/rewriteHandler.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "ivm.h"
#include "exec.h"
#include "rows.h"
#include "operators.h"
#include "strategies.h"
#include "work.h"

PGDLLEXPORT void ivm_shard_main(Datum main_arg);

/*
 * IvmShardRelations
 *		The partitions of a partitioned view's storage, by remainder.
 */
Oid *
IvmShardRelations(Oid storagerel, int nshards)
{
	Oid		   *parts = palloc(sizeof(Oid) * nshards);
	Oid			nsp = get_rel_namespace(storagerel);
	char	   *name = get_rel_name(storagerel);

	for (int k = 0; k < nshards; k++)
	{
		parts[k] = get_relname_relid(psprintf("%s_p%d", name, k), nsp);
		if (!OidIsValid(parts[k]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("shard %d of the storage of an incremental view is missing", k),
					 errdetail("Relation \"%s_p%d\" does not exist.", name, k),
					 errhint("Recreate the view.")));
	}
	return parts;
}

static bool ShardHere(IvmShardJob *job, Tuplestorestate ***routed, int k,
					  Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *part);
static bool ApplyShardsParallel(IvmShardJob *job, Tuplestorestate ***routed,
								Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *res);

/* register the deltas the delta queries read: shard k's, or (k < 0) the tick's */
static void
RegisterDeltas(IvmShardJob *job, Tuplestorestate ***routed, int k)
{
	for (int s = 0; s < job->nsources; s++)
	{
		IvmShardSource *src = &job->sources[s];

		(void) SPI_unregister_relation(src->enrname);
		IvmRegisterTuplestore(src->enrname, k < 0 ? src->delta : routed[s][k], src->desc);
	}
}

/* add one shard's result to the view's */
static void
AddResult(IvmDiffResult *sum, IvmDiffResult *part)
{
	sum->inserted += part->inserted;
	sum->deleted += part->deleted;
	sum->rows_after += part->rows_after;
	sum->rows_delta += part->rows_delta;
	sum->size_delta += part->size_delta;
}

/*
 * IvmApplyShards
 *		Maintain every shard of a partitioned view by its delta rules, one
 *		after the other, adding the view's delta to vdelta.  False, as soon
 *		as a shard's storage lacks what its delta removes (the caller
 *		recomputes: its subtransaction undoes the shards before).
 */
bool
IvmApplyShards(IvmShardJob *job, Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *res)
{
	Tuplestorestate ***routed = palloc0(sizeof(Tuplestorestate **) * Max(job->nsources, 1));
	volatile bool ok = true;
	uint64		rows = 0;

	memset(res, 0, sizeof(*res));
	for (int s = 0; s < job->nsources; s++)
	{
		IvmShardSource *src = &job->sources[s];

		routed[s] = palloc(sizeof(Tuplestorestate *) * job->nshards);
		IvmRouteRows(src->delta, src->desc, src->route, job->storagerel, job->nshards, routed[s]);
		rows += tuplestore_tuple_count(src->delta);
	}

	PG_TRY();
	{
		if (job->parallel && ivm_max_workers > 0 && rows >= (uint64) ivm_parallel_min_rows &&
			IvmSharedGet() != NULL)
			ok = ApplyShardsParallel(job, routed, vdelta, vdesc, res);
		else
		{
			for (int k = 0; k < job->nshards && ok; k++)
			{
				IvmDiffResult part;

				CHECK_FOR_INTERRUPTS();
				ok = ShardHere(job, routed, k, vdelta, vdesc, &part);
				AddResult(res, &part);
			}
		}
	}
	PG_FINALLY();
	{
		RegisterDeltas(job, routed, -1);
	}
	PG_END_TRY();

	for (int s = 0; s < job->nsources; s++)
	{
		for (int k = 0; k < job->nshards; k++)
			tuplestore_end(routed[s][k]);
		pfree(routed[s]);
	}
	pfree(routed);
	return ok;
}

/*
 * IvmDiffShards
 *		Recompute a partitioned view: per shard, its query filtered to the
 *		keys of the shard (as PostgreSQL routes them), diffed against its
 *		partition.  keycol: the key's column, 0-based.
 */
void
IvmDiffShards(Oid storagerel, int nshards, int keycol, Oid owner, const char *viewname,
			  const char *query, Snapshot snap, int nvisible, AttrNumber passattno,
			  Tuplestorestate *vdelta, TupleDesc vdesc, IvmDiffResult *res)
{
	Oid		   *parts;
	StringInfoData alias;

	if (keycol < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the partition key of incremental view \"%s\" is not one of its columns", viewname),
				 errhint("Recreate the view.")));
	parts = IvmShardRelations(storagerel, nshards);

	/* the query's columns may have no names: the key is named here */
	initStringInfo(&alias);
	for (int i = 0; i <= keycol; i++)
		appendStringInfo(&alias, "%s__ivm_q%d", i > 0 ? ", " : "", i + 1);
	memset(res, 0, sizeof(*res));
	for (int k = 0; k < nshards; k++)
	{
		IvmDiffResult part;
		char	   *sql;

		CHECK_FOR_INTERRUPTS();
		sql = psprintf("SELECT * FROM (%s) __ivm_q(%s) WHERE pg_catalog.satisfies_hash_partition(%u::pg_catalog.oid, %d, %d, __ivm_q.__ivm_q%d)",
					   query, alias.data, storagerel, nshards, k, keycol + 1);
		memset(&part, 0, sizeof(part));
		IvmDiffView(parts[k], owner, viewname, sql, NULL, snap, nvisible, passattno, vdelta, vdesc, &part);
		AddResult(res, &part);
		pfree(sql);
	}
}

/* ------------------------------------------------------------------------
 * Shards in parallel: workers compute, the tick applies
 *
 * When a tick's delta for a partitioned view is large enough
 * (ivm.parallel_min_rows) and ivm.max_workers allows, each shard's delta
 * query runs in a dynamic background worker of its own, at most
 * ivm.max_workers at once.  The tick puts in a dynamic shared memory
 * segment its snapshot, each shard's delta query, and each shard's share
 * of the consolidated deltas; a worker imports the snapshot (it reads the
 * tables and its partition exactly as the tick would), runs the shard's
 * delta rules without writing anything (IvmRowChanges), and sends back
 * through a queue of its own what the shard's partition must lose and
 * gain, and the shard's part of the view's delta.  The tick applies each
 * shard as it arrives, in its own transaction.
 *
 * Why the tick applies, rather than two-phase commit of the workers'
 * transactions: one transaction publishes every shard at once, to every
 * reader, with the rest of the tick (logs consumed, epoch, other views,
 * notifications); the tick's own transaction sees the views it changed;
 * nothing needs max_prepared_transactions; and a crash can leave no
 * prepared transaction in doubt.  What stays serial is the writing of the
 * rows, which the tick overlaps with the workers' queries.
 *
 * A shard whose worker stops before it is done (an error that is no fault
 * of the view, the worker terminated, no worker slot) is started again from
 * its delta, still in the segment; after IVM_SHARD_ATTEMPTS attempts the
 * tick fails as a whole (a transient error: nothing published, every delta
 * left in its log).  A worker the server could not start is replaced by the
 * tick computing that shard itself.  An error of the view's own query in a
 * worker is raised in the tick, as if the tick had run the query: the view
 * is recomputed, or quarantined, as any view would be.
 *
 * Only a tick whose transaction wrote nothing before it goes parallel: the
 * workers see committed data, and rows the tick's transaction wrote before
 * the tick (a push and a tick in one transaction) would be invisible to
 * them.
 * ------------------------------------------------------------------------
 */

#define IVM_SHARD_ATTEMPTS	3
#define IVM_SHARD_QUEUE		(256 * 1024)
/* a larger segment (the deltas handed over) and the tick does the shards */
#define IVM_SHARD_MAX_SEGMENT	((Size) 512 * 1024 * 1024)

/* where a parallel maintenance spent its time (DEBUG1) */
static double apply_ms;

static double
MsSince(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_MILLISEC(now);
}


/* a tuple descriptor as the segment holds it */
typedef struct ShardAttr
{
	NameData	name;
	Oid			type;
	int32		typmod;
	Oid			collation;
} ShardAttr;

/* the segment's header; offsets are from its start */
typedef struct ShardSegment
{
	Oid			dboid;
	int			coordinator_procno;
	Oid			defrel;			/* the view's definition (its shape) */
	Oid			owner;
	int			nshards;
	int			nsources;
	int			sizeclass;
	int			nvisible;
	bool		spj;
	NameData	viewname;
	Size		snapshot_off;
	Size		vdesc_off;		/* ShardAttr[vdesc_natts] */
	int			vdesc_natts;
	Size		sources_off;	/* ShardSource[nsources] */
	Size		shards_off;		/* ShardPart[nshards] */
	Size		queues_off;		/* nshards * IVM_SHARD_ATTEMPTS queues */
} ShardSegment;

typedef struct ShardSource
{
	NameData	enrname;
	int			natts;
	Size		next_off;		/* the next source */
	Size		desc_off;		/* ShardAttr[natts] */
	Size		rows_off[FLEXIBLE_ARRAY_MEMBER];	/* per shard: Size length, then rows */
} ShardSource;

typedef struct ShardPart
{
	Oid			part;			/* its partition */
	Size		sql_off;		/* its delta query */
} ShardPart;

/* what a worker sends, one message each */
#define MSG_DELETE	'D'			/* an ItemPointerData */
#define MSG_INSERT	'I'			/* a MinimalTuple of the storage */
#define MSG_VDELTA	'V'			/* a MinimalTuple of the view's delta */
#define MSG_DONE	'R'			/* a ShardDone */
#define MSG_ERROR	'E'			/* sqlstate, then message, detail, context */

typedef struct ShardDone
{
	bool		ok;
	IvmDiffResult res;
} ShardDone;

static Size
SourceHeaderSize(int nshards)
{
	return MAXALIGN(offsetof(ShardSource, rows_off) + sizeof(Size) * nshards);
}

static void
PutDesc(char *base, Size off, TupleDesc desc)
{
	ShardAttr  *attrs = (ShardAttr *) (base + off);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		namestrcpy(&attrs[i].name, NameStr(att->attname));
		attrs[i].type = att->atttypid;
		attrs[i].typmod = att->atttypmod;
		attrs[i].collation = att->attcollation;
	}
}

static TupleDesc
GetDesc(char *base, Size off, int natts)
{
	ShardAttr  *attrs = (ShardAttr *) (base + off);
	TupleDesc	desc = CreateTemplateTupleDesc(natts);

	for (int i = 0; i < natts; i++)
	{
		TupleDescInitEntry(desc, i + 1, NameStr(attrs[i].name), attrs[i].type, attrs[i].typmod, 0);
		TupleDescInitEntryCollation(desc, i + 1, attrs[i].collation);
	}
	return desc;
}

/* rows of a tuplestore packed as (uint32 length, MinimalTuple) each, aligned */
static void
PackRows(StringInfo buf, Tuplestorestate *rows, TupleDesc desc)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);

	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		bool		shouldfree;
		MinimalTuple mt = ExecFetchSlotMinimalTuple(slot, &shouldfree);
		uint32		len = mt->t_len;

		appendBinaryStringInfo(buf, (char *) &len, sizeof(len));
		while (buf->len % MAXIMUM_ALIGNOF != 0)
			appendStringInfoChar(buf, '\0');
		appendBinaryStringInfo(buf, (char *) mt, len);
		while (buf->len % MAXIMUM_ALIGNOF != 0)
			appendStringInfoChar(buf, '\0');
		if (shouldfree)
			pfree(mt);
	}
	tuplestore_rescan(rows);
	ExecDropSingleTupleTableSlot(slot);
}

static Tuplestorestate *
UnpackRows(char *start, Size length, TupleDesc desc)
{
	Tuplestorestate *ts = tuplestore_begin_heap(false, false, work_mem);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	Size		pos = 0;

	while (pos < length)
	{
		uint32		len;
		MinimalTuple mt;

		memcpy(&len, start + pos, sizeof(len));
		pos = MAXALIGN(pos + sizeof(len));
		mt = palloc(len);
		memcpy(mt, start + pos, len);
		pos = MAXALIGN(pos + len);
		ExecStoreMinimalTuple(mt, slot, true);
		tuplestore_puttupleslot(ts, slot);
	}
	ExecDropSingleTupleTableSlot(slot);
	return ts;
}

static shm_mq *
ShardQueue(char *base, int shard, int attempt)
{
	ShardSegment *hdr = (ShardSegment *) base;

	return (shm_mq *) (base + hdr->queues_off +
					   (Size) (shard * IVM_SHARD_ATTEMPTS + attempt) * IVM_SHARD_QUEUE);
}

/*
 * BuildSegment
 *		The segment a job's workers read: the job, the snapshot, the
 *		routed deltas (routed[source][shard]) and the empty queues.  NULL
 *		when it would be larger than IVM_SHARD_MAX_SEGMENT.  Not inlined:
 *		in its caller's PG_TRY, gcc 14 takes its locals for ones a longjmp
 *		may clobber (-Wclobbered).
 */
pg_noinline static dsm_segment *
BuildSegment(IvmShardJob *job, Tuplestorestate ***routed, TupleDesc vdesc)
{
	StringInfoData *packed = palloc(sizeof(StringInfoData) * Max(job->nsources * job->nshards, 1));
	Size		size;
	Size		off;
	dsm_segment *seg;
	char	   *base;
	ShardSegment *hdr;

	size = MAXALIGN(sizeof(ShardSegment));
	size += MAXALIGN(EstimateSnapshotSpace(job->snap));
	size += MAXALIGN(sizeof(ShardAttr) * vdesc->natts);
	for (int s = 0; s < job->nsources; s++)
	{
		size += SourceHeaderSize(job->nshards) + MAXALIGN(sizeof(ShardAttr) * job->sources[s].desc->natts);
		for (int k = 0; k < job->nshards; k++)
		{
			StringInfo buf = &packed[s * job->nshards + k];

			initStringInfo(buf);
			PackRows(buf, routed[s][k], job->sources[s].desc);
			size += MAXALIGN(sizeof(Size)) + MAXALIGN(buf->len);
		}
	}
	size += MAXALIGN(sizeof(ShardPart) * job->nshards);
	for (int k = 0; k < job->nshards; k++)
		size += MAXALIGN(strlen(job->sql[k]) + 1);
	size = BUFFERALIGN(size);
	size += (Size) job->nshards * IVM_SHARD_ATTEMPTS * IVM_SHARD_QUEUE;
	if (size > IVM_SHARD_MAX_SEGMENT)
	{
		for (int i = 0; i < job->nsources * job->nshards; i++)
			pfree(packed[i].data);
		pfree(packed);
		return NULL;
	}

	seg = dsm_create(size, 0);
	base = dsm_segment_address(seg);
	hdr = (ShardSegment *) base;
	memset(hdr, 0, sizeof(ShardSegment));
	hdr->dboid = MyDatabaseId;
	hdr->coordinator_procno = IvmMyProcNumber();
	hdr->defrel = job->defrel;
	hdr->owner = job->owner;
	hdr->nshards = job->nshards;
	hdr->nsources = job->nsources;
	hdr->sizeclass = job->sizeclass;
	hdr->nvisible = job->shape->nvisible;
	hdr->spj = job->shape->kind == IVM_KIND_SPJ;
	namestrcpy(&hdr->viewname, job->viewname);
	off = MAXALIGN(sizeof(ShardSegment));

	hdr->snapshot_off = off;
	SerializeSnapshot(job->snap, base + off);
	off += MAXALIGN(EstimateSnapshotSpace(job->snap));

	hdr->vdesc_off = off;
	hdr->vdesc_natts = vdesc->natts;
	PutDesc(base, off, vdesc);
	off += MAXALIGN(sizeof(ShardAttr) * vdesc->natts);

	hdr->sources_off = off;
	for (int s = 0; s < job->nsources; s++)
	{
		ShardSource *src = (ShardSource *) (base + off);

		namestrcpy(&src->enrname, job->sources[s].enrname);
		src->natts = job->sources[s].desc->natts;
		off += SourceHeaderSize(job->nshards);
		src->desc_off = off;
		PutDesc(base, off, job->sources[s].desc);
		off += MAXALIGN(sizeof(ShardAttr) * src->natts);
		for (int k = 0; k < job->nshards; k++)
		{
			StringInfo	buf = &packed[s * job->nshards + k];
			Size	   *len = (Size *) (base + off);

			/* its length, then its rows */
			src->rows_off[k] = off;
			*len = buf->len;
			off += MAXALIGN(sizeof(Size));
			memcpy(base + off, buf->data, buf->len);
			off += MAXALIGN(buf->len);
			pfree(buf->data);
		}
		src->next_off = off;
	}

	hdr->shards_off = off;
	off += MAXALIGN(sizeof(ShardPart) * job->nshards);
	for (int k = 0; k < job->nshards; k++)
	{
		ShardPart  *part = &((ShardPart *) (base + hdr->shards_off))[k];

		part->part = job->parts[k];
		part->sql_off = off;
		strcpy(base + off, job->sql[k]);
		off += MAXALIGN(strlen(job->sql[k]) + 1);
	}
	hdr->queues_off = BUFFERALIGN(off);
	pfree(packed);
	return seg;
}

/* ---- the worker of one shard ---------------------------------------- */

static shm_mq_handle *worker_mq = NULL;

static void
Send(char type, const void *data, Size len)
{
	shm_mq_iovec iov[2];
	shm_mq_result r;

	iov[0].data = &type;
	iov[0].len = 1;
	iov[1].data = data;
	iov[1].len = len;
	r = shm_mq_sendv(worker_mq, iov, 2, false, true);
	if (r != SHM_MQ_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("ivm shard worker: the tick it works for has gone")));
}

static void
SendRows(char type, Tuplestorestate *rows, TupleDesc desc)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);

	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		bool		shouldfree;
		MinimalTuple mt = ExecFetchSlotMinimalTuple(slot, &shouldfree);

		Send(type, mt, mt->t_len);
		if (shouldfree)
			pfree(mt);
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* the error of the view's query, for the tick to raise as its own */
static void
SendError(ErrorData *edata)
{
	StringInfoData buf;
	int			code = edata->sqlerrcode;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (char *) &code, sizeof(code));
	appendStringInfoString(&buf, edata->message ? edata->message : "error");
	appendStringInfoChar(&buf, '\0');
	appendStringInfoString(&buf, edata->detail ? edata->detail : "");
	appendStringInfoChar(&buf, '\0');
	appendStringInfoString(&buf, edata->context ? edata->context : "");
	appendStringInfoChar(&buf, '\0');
	Send(MSG_ERROR, buf.data, buf.len);
}

/*
 * ComputeShard
 *		In the worker's transaction, at the tick's snapshot: the shard's
 *		delta rules, sending what they would write.
 */
static void
ComputeShard(char *base, int shard, Snapshot snap)
{
	ShardSegment *hdr = (ShardSegment *) base;
	ShardPart  *part = &((ShardPart *) (base + hdr->shards_off))[shard];
	TupleDesc	vdesc = GetDesc(base, hdr->vdesc_off, hdr->vdesc_natts);
	Tuplestorestate *vdelta = tuplestore_begin_heap(false, false, work_mem);
	IvmRowChanges changes;
	ShardDone	done;
	IvmUserSave save;
	Size		off = hdr->sources_off;
	int			nestlevel;
	TupleDesc	storage_desc;

	memset(&changes, 0, sizeof(changes));
	memset(&done, 0, sizeof(done));
	IvmSpiConnect();
	nestlevel = IvmPinSearchPath();
	/* and the settings that change what a view's query returns */
	IvmPinViewSettings();
	IvmBecome(IvmSchemaOwner(), false, &save);
	for (int s = 0; s < hdr->nsources; s++)
	{
		ShardSource *src = (ShardSource *) (base + off);
		TupleDesc	desc = GetDesc(base, src->desc_off, src->natts);
		Size		len = *(Size *) (base + src->rows_off[shard]);
		char	   *rows = base + src->rows_off[shard] + MAXALIGN(sizeof(Size));

		IvmRegisterTuplestore(NameStr(src->enrname), UnpackRows(rows, len, desc), desc);
		off = src->next_off;
	}

	if (hdr->spj)
		done.ok = IvmApplySpj(part->part, hdr->owner, NameStr(hdr->viewname), base + part->sql_off,
							  snap, hdr->nvisible, hdr->sizeclass, vdelta, vdesc, &done.res, &changes);
	else
	{
		Relation	rel = table_open(hdr->defrel, AccessShareLock);
		IvmShape   *shape = IvmAnalyzeShape(IvmViewQuery(rel), NIL);

		table_close(rel, AccessShareLock);
		done.ok = IvmApplyAgg(part->part, hdr->owner, NameStr(hdr->viewname), shape, base + part->sql_off,
							  snap, hdr->sizeclass, vdelta, vdesc, &done.res, &changes);
	}
	if (done.ok)
	{
		Relation	rel = table_open(part->part, AccessShareLock);

		storage_desc = CreateTupleDescCopy(RelationGetDescr(rel));
		table_close(rel, AccessShareLock);
		for (uint64 i = 0; i < changes.ndeletes; i++)
			Send(MSG_DELETE, &changes.deletes[i], sizeof(ItemPointerData));
		if (changes.inserts != NULL)
			SendRows(MSG_INSERT, changes.inserts, storage_desc);
		SendRows(MSG_VDELTA, vdelta, vdesc);
	}
	Send(MSG_DONE, &done, sizeof(done));
	IvmRestoreUser(&save);
	IvmUnpinSearchPath(nestlevel);
	SPI_finish();
}

/*
 * ivm_shard_main
 *		A shard's worker: main_arg is the segment's handle, bgw_extra the
 *		shard and the attempt.
 */
void
ivm_shard_main(Datum main_arg)
{
	dsm_segment *seg;
	char	   *base;
	ShardSegment *hdr;
	int			shard;
	int			attempt;
	Snapshot	snap;
	PGPROC	   *coordinator;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	memcpy(&shard, MyBgworkerEntry->bgw_extra, sizeof(int));
	memcpy(&attempt, MyBgworkerEntry->bgw_extra + sizeof(int), sizeof(int));

	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		proc_exit(0);			/* the tick is gone */
	base = dsm_segment_address(seg);
	hdr = (ShardSegment *) base;
	shm_mq_set_sender(ShardQueue(base, shard, attempt), MyProc);
	worker_mq = shm_mq_attach(ShardQueue(base, shard, attempt), seg, NULL);
	coordinator = &ProcGlobal->allProcs[hdr->coordinator_procno];

	BackgroundWorkerInitializeConnectionByOid(hdr->dboid, InvalidOid, 0);
	pgstat_report_appname("ivm shard worker");

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	XactIsoLevel = XACT_REPEATABLE_READ;
	XactReadOnly = true;
	/* the tick's snapshot: its tables and the shard's partition as it sees them */
	snap = RestoreSnapshot(base + hdr->snapshot_off);
	RestoreTransactionSnapshot(snap, coordinator);
	snap = GetTransactionSnapshot();
	PushActiveSnapshot(snap);
	pgstat_report_activity(STATE_RUNNING, psprintf("ivm shard %d of %s", shard, NameStr(hdr->viewname)));
	PG_TRY();
	{
		instr_time	start;

		INSTR_TIME_SET_CURRENT(start);
		ComputeShard(base, shard, snap);
		elog(DEBUG1, "ivm: shard %d of \"%s\" computed and sent in %.0f ms", shard,
			 NameStr(hdr->viewname), MsSince(start));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		FlushErrorState();
		/* an error that is no fault of the view: let the tick try again */
		if (!IvmErrorIsTransient(edata->sqlerrcode))
			SendError(edata);
		EmitErrorReport();
		AbortCurrentTransaction();
		RESUME_INTERRUPTS();
		proc_exit(1);
	}
	PG_END_TRY();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	shm_mq_detach(worker_mq);
	dsm_detach(seg);
	proc_exit(0);
}

/* ---- the tick's side ------------------------------------------------ */

/* a shard as the tick follows it */
typedef struct ShardRun
{
	int			attempts;		/* workers started for it */
	BackgroundWorkerHandle *handle; /* the one running, or NULL */
	shm_mq_handle *mqh;
	bool		done;
	/* what it sent so far, applied once it is done */
	ItemPointerData *deletes;
	uint64		ndeletes;
	uint64		maxdeletes;
	Tuplestorestate *inserts;
	uint64		ninserts;
	Tuplestorestate *vdelta;
} ShardRun;

/* forget what a shard's worker sent (it stopped before it was done) */
static void
ResetRun(ShardRun *run)
{
	run->ndeletes = 0;
	if (run->inserts)
		tuplestore_end(run->inserts);
	if (run->vdelta)
		tuplestore_end(run->vdelta);
	run->inserts = NULL;
	run->vdelta = NULL;
	run->ninserts = 0;
	run->handle = NULL;
	run->mqh = NULL;
}

/* Start a worker for shard k; false when the server has no slot for one. */
static bool
StartShard(dsm_segment *seg, int k, ShardRun *run, const char *viewname)
{
	char	   *base = dsm_segment_address(seg);
	shm_mq	   *mq = shm_mq_create(ShardQueue(base, k, run->attempts), IVM_SHARD_QUEUE);
	BackgroundWorker w;

	shm_mq_set_receiver(mq, MyProc);
	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_ConsistentState;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "ivm");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "ivm_shard_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "ivm shard %d of %s", k, viewname);
	snprintf(w.bgw_type, BGW_MAXLEN, "ivm shard worker");
	w.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	w.bgw_notify_pid = MyProcPid;
	memcpy(w.bgw_extra, &k, sizeof(int));
	memcpy(w.bgw_extra + sizeof(int), &run->attempts, sizeof(int));
	if (!RegisterDynamicBackgroundWorker(&w, &run->handle))
	{
		run->handle = NULL;
		return false;
	}
	run->mqh = shm_mq_attach(mq, seg, run->handle);
	run->attempts++;
	run->ndeletes = 0;
	run->ninserts = 0;
	run->inserts = tuplestore_begin_heap(false, false, work_mem);
	run->vdelta = tuplestore_begin_heap(false, false, work_mem);
	return true;
}

/* raise, as the tick's own, the error a worker met in the view's query */
static void
RaiseShardError(const char *data, Size len, const char *viewname, int k)
{
	int			code;
	const char *message;
	const char *detail;
	const char *context;

	memcpy(&code, data, sizeof(code));
	message = data + sizeof(code);
	detail = message + strlen(message) + 1;
	context = detail + strlen(detail) + 1;
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", message),
			 detail[0] ? errdetail_internal("%s", detail) : 0,
			 errcontext("%s%sshard %d of incremental view \"%s\", in a worker", context,
						context[0] ? "\n" : "", k, viewname)));
}

/* compute and apply shard k in the tick itself */
static bool
ShardHere(IvmShardJob *job, Tuplestorestate ***routed, int k, Tuplestorestate *vdelta,
		  TupleDesc vdesc, IvmDiffResult *part)
{
	memset(part, 0, sizeof(*part));
	RegisterDeltas(job, routed, k);
	if (job->shape->kind == IVM_KIND_SPJ)
		return IvmApplySpj(job->parts[k], job->owner, job->viewname, job->sql[k], job->snap,
						   job->shape->nvisible, job->sizeclass, vdelta, vdesc, part, NULL);
	return IvmApplyAgg(job->parts[k], job->owner, job->viewname, job->shape, job->sql[k],
					   job->snap, job->sizeclass, vdelta, vdesc, part, NULL);
}

/*
 * Receive
 *		Take what shard k's worker has sent.  Returns 1 when the shard is
 *		done (and applied, or *ok false), 0 when nothing more is there yet,
 *		-1 when its worker has gone before it was done.
 */
static int
Receive(IvmShardJob *job, ShardRun *run, int k, TupleDesc storage_desc, TupleDesc vdesc,
		Tuplestorestate *vdelta, IvmDiffResult *res, bool *ok)
{
	TupleTableSlot *sslot = MakeSingleTupleTableSlot(storage_desc, &TTSOpsMinimalTuple);
	TupleTableSlot *vslot = MakeSingleTupleTableSlot(vdesc, &TTSOpsMinimalTuple);
	int			status = 0;

	for (;;)
	{
		Size		len;
		void	   *data;
		char	   *msg;
		shm_mq_result r = shm_mq_receive(run->mqh, &len, &data, true);

		if (r == SHM_MQ_WOULD_BLOCK)
			break;
		if (r == SHM_MQ_DETACHED)
		{
			status = -1;
			break;
		}
		msg = (char *) data;
		if (msg[0] == MSG_DELETE)
		{
			if (run->ndeletes == run->maxdeletes)
			{
				run->maxdeletes = Max(1024, run->maxdeletes * 2);
				run->deletes = run->deletes == NULL
					? palloc(sizeof(ItemPointerData) * run->maxdeletes)
					: repalloc(run->deletes, sizeof(ItemPointerData) * run->maxdeletes);
			}
			memcpy(&run->deletes[run->ndeletes++], msg + 1, sizeof(ItemPointerData));
		}
		else if (msg[0] == MSG_INSERT || msg[0] == MSG_VDELTA)
		{
			MinimalTuple mt = palloc(len - 1);
			bool		insert = msg[0] == MSG_INSERT;

			memcpy(mt, msg + 1, len - 1);
			ExecStoreMinimalTuple(mt, insert ? sslot : vslot, true);
			tuplestore_puttupleslot(insert ? run->inserts : run->vdelta, insert ? sslot : vslot);
			if (insert)
				run->ninserts++;
		}
		else if (msg[0] == MSG_ERROR)
			RaiseShardError(msg + 1, len - 1, job->viewname, k);
		else if (msg[0] == MSG_DONE)
		{
			ShardDone	done;

			memcpy(&done, msg + 1, sizeof(done));
			*ok = done.ok;
			if (done.ok)
			{
				TupleTableSlot *slot = vslot;
				instr_time	start;

				INSTR_TIME_SET_CURRENT(start);
				IvmApplyRows(job->parts[k],
							 quote_qualified_identifier(IVM_SCHEMA, get_rel_name(job->parts[k])),
							 run->deletes, run->ndeletes, run->inserts, storage_desc, run->ninserts,
							 job->snap, job->viewname);
				tuplestore_rescan(run->vdelta);
				while (tuplestore_gettupleslot(run->vdelta, true, false, slot))
					tuplestore_puttupleslot(vdelta, slot);
				AddResult(res, &done.res);
				apply_ms += MsSince(start);
			}
			status = 1;
			break;
		}
		else
			elog(ERROR, "ivm: unknown message from a shard worker");
	}
	ExecDropSingleTupleTableSlot(sslot);
	ExecDropSingleTupleTableSlot(vslot);
	return status;
}

/*
 * ApplyShardsParallel
 *		IvmApplyShards with the shards' delta queries in workers (see the
 *		section's comment).
 */
static bool
ApplyShardsParallel(IvmShardJob *job, Tuplestorestate ***routed, Tuplestorestate *vdelta,
					TupleDesc vdesc, IvmDiffResult *res)
{
	instr_time	start;
	dsm_segment *seg;
	ShardRun   *runs = palloc0(sizeof(ShardRun) * job->nshards);
	int			maxw = Min(ivm_max_workers, job->nshards);
	int			ndone = 0;
	volatile bool ok = true;
	TupleDesc	storage_desc;
	double		build_ms;
	double		wait_ms = 0;

	INSTR_TIME_SET_CURRENT(start);
	seg = BuildSegment(job, routed, vdesc);
	build_ms = MsSince(start);
	apply_ms = 0;

	if (seg == NULL)
	{
		/* too much to hand over: the tick does the shards */
		for (int k = 0; k < job->nshards && ok; k++)
		{
			IvmDiffResult part;

			ok = ShardHere(job, routed, k, vdelta, vdesc, &part);
			AddResult(res, &part);
		}
		RegisterDeltas(job, routed, -1);
		return ok;
	}

	{
		Relation	rel = table_open(job->parts[0], AccessShareLock);

		storage_desc = CreateTupleDescCopy(RelationGetDescr(rel));
		table_close(rel, AccessShareLock);
	}

	elog(DEBUG1, "ivm: the %d shards of \"%s\" by up to %d workers", job->nshards, job->viewname, maxw);
	PG_TRY();
	{
		while (ndone < job->nshards && ok)
		{
			int			running = 0;
			bool		progressed = false;

			for (int k = 0; k < job->nshards; k++)
				if (runs[k].handle != NULL)
					running++;
			for (int k = 0; k < job->nshards && running < maxw && ok; k++)
			{
				IvmDiffResult part;

				if (runs[k].done || runs[k].handle != NULL)
					continue;
				if (runs[k].attempts >= IVM_SHARD_ATTEMPTS)
					ereport(ERROR,
							(errcode(ERRCODE_SYSTEM_ERROR),
							 errmsg("shard %d of incremental view \"%s\" failed %d times", k,
									job->viewname, IVM_SHARD_ATTEMPTS),
							 errdetail("Its worker stopped each time before it was done (terminated, or an error that is no fault of the view: see the server log)."),
							 errhint("Nothing of this tick was applied; every delta waits in its log for the next tick.")));
				if (StartShard(seg, k, &runs[k], job->viewname))
				{
					running++;
					continue;
				}
				/* no worker to be had: the tick does it */
				ok = ShardHere(job, routed, k, vdelta, vdesc, &part);
				RegisterDeltas(job, routed, -1);
				AddResult(res, &part);
				runs[k].done = true;
				ndone++;
				progressed = true;
			}
			for (int k = 0; k < job->nshards && ok; k++)
			{
				int			status;

				if (runs[k].handle == NULL)
					continue;
				status = Receive(job, &runs[k], k, storage_desc, vdesc, vdelta, res, (bool *) &ok);
				if (status == 0)
					continue;
				progressed = true;
				shm_mq_detach(runs[k].mqh);
				if (status > 0)
				{
					runs[k].done = true;
					ndone++;
				}
				else
					ereport(LOG,
							(errmsg("ivm: the worker of shard %d of incremental view \"%s\" stopped before it was done; trying again",
									k, job->viewname)));
				ResetRun(&runs[k]);
			}
			if (!progressed && ok)
			{
				instr_time	wstart;

				INSTR_TIME_SET_CURRENT(wstart);
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 1000, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				wait_ms += MsSince(wstart);
				CHECK_FOR_INTERRUPTS();
			}
		}
	}
	PG_CATCH();
	{
		for (int k = 0; k < job->nshards; k++)
			if (runs[k].handle != NULL)
				TerminateBackgroundWorker(runs[k].handle);
		PG_RE_THROW();
	}
	PG_END_TRY();
	/* a shard whose storage lacked what it removes: the others stop */
	for (int k = 0; k < job->nshards; k++)
		if (runs[k].handle != NULL)
			TerminateBackgroundWorker(runs[k].handle);
	dsm_detach(seg);
	elog(DEBUG1, "ivm: the shards of \"%s\" in %.0f ms: handing over %.0f ms, waiting for workers %.0f ms, applying %.0f ms",
		 job->viewname, MsSince(start), build_ms, wait_ms, apply_ms);
	return ok;
}
