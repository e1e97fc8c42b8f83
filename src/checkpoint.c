/*-------------------------------------------------------------------------
 *
 * checkpoint.c
 *		How state is saved: ivm.checkpoint(dir) writes, per view and source,
 *		what changed since the previous checkpoint in that directory, and
 *		a manifest that lists everything (restore.c reads them back).
 *
 * A directory holds one chain.  Each object with rows (a view's storage,
 * hidden columns included; a push source; the dedup seen-set of a push
 * source) has in each manifest a fingerprint of its rows (count and sum of
 * 128-bit row hashes) and the chain of files that rebuild them: a base,
 * then deltas.  Checkpoint 1 writes a base of everything.  Checkpoint k
 * scans each object: when its fingerprint is that of k-1, nothing is
 * written; otherwise it reads back the chain k-1 lists (hashes only: each
 * file checked, replayed, checked against k-1's fingerprint), and writes a
 * delta of the rows added (with the rows) and removed (their hashes only);
 * or a base, when the object is new, its columns changed, or its chain
 * would hold more than IVM_CKPT_MAX_DELTAS deltas or more delta records
 * than it has rows (so a restore never replays more than about twice an
 * object's size).  Sources also have their pending delta-log rows written
 * whole.  Table sources are not copied: the manifest holds a fingerprint of
 * each, so a restore can trust the views only where the table it finds is
 * the table that was checkpointed.
 *
 * Consistency: the step lock (the row of ivm._state, FOR UPDATE) keeps
 * ticks out, and every read happens at one registered snapshot taken
 * after it, so view storage, delta logs, truncation markers and tables
 * agree: storage reflects the last tick, logs hold what was committed
 * since, tables hold both.  Writers are not blocked.
 *
 * Durability: every file goes to a temporary name and is renamed into
 * place after an fsync; the manifest is written last.  A checkpoint that
 * fails leaves the previous manifest the newest, and the chain as it was;
 * the next checkpoint overwrites or removes what it left behind.  Files no
 * chain of the new manifest needs are removed once it is in place.  In
 * object storage (s3://bucket/prefix) the same holds of objects: each file
 * is uploaded once whole, the manifest after every other file of the
 * checkpoint is there (ckptfile.c), so a failed or interrupted upload
 * leaves the previous manifest the newest.
 *
 * Rights (rights.c).  The caller needs the rights of server files; the work
 * runs as the owner of schema ivm (IvmCatalogBegin) but for what a user's
 * code can reach.  Each statement, and as whom it runs:
 *	- the step lock (ivm._state FOR UPDATE), the listings of push sources,
 *	  views and tables (ivm._sources, ivm._views, ivm._watches, ivm._truncated
 *	  joined with pg_class and pg_namespace): ivm's owner; ivm's catalog and
 *	  PostgreSQL's, built-in functions only;
 *	- a view's query (pg_get_viewdef of its definition): the definition's
 *	  owner, restricted, as deparsing writes its constants through their
 *	  types' output functions (ExecAtAs);
 *	- the rows of a view's storage and of a push source (CheckpointRelation:
 *	  whole, by ctid, or only ctids and hashes), of a table (CheckpointTables,
 *	  its fingerprint) and of a delta log (CheckpointPending, and whether it
 *	  is empty): the relation's owner, restricted, row_security off
 *	  (IvmCkptScan, IvmBecomeReader), as planning the read runs the owner's
 *	  index expressions, index predicates and statistics expressions, and
 *	  encoding its rows its types' output functions;
 *	- a seen-set (ivm._seen): ivm's owner, whose table it is (uuid, bigint);
 *	- column lists and types (IvmCkptColumns, a push source's definitions):
 *	  formatted as the relation's owner, restricted (a type's typmodout).
 * All of them read at cs->snap, whoever runs them: switching roles changes
 * no snapshot.
 *
 * Cost: each checkpoint reads every view's storage and every source table
 * once; for an object that changed, also its chain's files, and the rows
 * that gained copies again (by ctid), and it sorts one hash per row of it.
 * What it writes follows the change.
 *
 * Layer: work.  Calls ckptfile.c (the file format), exec and rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ivm.h"
#include "exec.h"
#include "rows.h"
#include "checkpoint.h"

PG_FUNCTION_INFO_V1(ivm_checkpoint);

#define CHECKPOINT_RESULT_COLUMNS 11

/* a row hash, and where the row is */
typedef struct HashTid
{
	IvmCkptHash h;
	ItemPointerData tid;
} HashTid;

/* a growing array of them */
typedef struct HashArray
{
	HashTid    *h;
	uint64		n;
	uint64		max;
} HashArray;

/* one checkpoint being written */
typedef struct CkptState
{
	const IvmCkptDir *dir;
	MemoryContext cxt;			/* where the state lives (SPI's) */
	uint64		chain;
	uint64		seq;
	int64		epoch;
	Snapshot	snap;
	IvmCkptManifest *prev;		/* the newest manifest before, or NULL */
	StringInfoData objects;		/* the manifest's "objects" array so far */
	int			nobjects;
	List	   *keep;			/* files the new manifest refers to */
	/* what was written */
	int			bases;
	int			deltas;
	int			unchanged;
	uint64		records;
	uint64		raw_bytes;
	uint64		file_bytes;
	uint64		restore_bytes;	/* what a restore of it would read */
} CkptState;

/* what a scan of an object's rows does with each row */
typedef struct RowScan
{
	HashArray  *hashes;			/* collect every row's hash, or NULL */
	IvmCkptWriter *writer;		/* write rows here, or NULL */
	IvmCkptHash *plus;			/* delta: hashes to write, sorted */
	int64	   *pluscount;		/* and how many copies of each */
	uint64		nplus;
	uint64		written;
	IvmCkptFingerprint fp;		/* of the rows scanned */
} RowScan;

static void
AddHash(HashArray *a, IvmCkptHash h, ItemPointer tid)
{
	if (a->n == a->max)
	{
		a->max = Max(a->max * 2, 1024);
		if (a->h == NULL)
			a->h = palloc_extended(sizeof(HashTid) * a->max, MCXT_ALLOC_HUGE);
		else
			a->h = repalloc_huge(a->h, sizeof(HashTid) * a->max);
	}
	a->h[a->n].h = h;
	ItemPointerCopy(tid, &a->h[a->n].tid);
	a->n++;
}

static int
HashTidCmp(const void *a, const void *b)
{
	return IvmCkptHashCmp(&((const HashTid *) a)->h, &((const HashTid *) b)->h);
}

/* ------------------------------------------------------------------------
 * Scan callbacks
 * ------------------------------------------------------------------------
 */

/*
 * every row: its hash; and the row itself when writing a base.  With
 * hashes to collect, the scan's first column is the row's ctid.
 */
static void
CollectRow(const char *row, uint32 len, HeapTuple tup, TupleDesc desc, void *arg)
{
	RowScan    *rs = arg;
	IvmCkptHash h = IvmCkptHashRow(row, len);

	IvmCkptAddToFingerprint(&rs->fp, h, 1);
	if (rs->hashes)
	{
		bool		isnull;

		AddHash(rs->hashes, h, (ItemPointer) DatumGetPointer(heap_getattr(tup, 1, desc, &isnull)));
	}
	if (rs->writer)
	{
		IvmCkptWriteRecord(rs->writer, 1, NULL, row, len);
		rs->written++;
	}
}

/* a delta: each row fetched (by ctid) whose hash gained copies, once, with its count */
static void
DeltaRow(const char *row, uint32 len, HeapTuple tup, TupleDesc desc, void *arg)
{
	RowScan    *rs = arg;
	IvmCkptHash h = IvmCkptHashRow(row, len);
	IvmCkptHash *found = bsearch(&h, rs->plus, rs->nplus, sizeof(IvmCkptHash), IvmCkptHashCmp);
	int64	   *count;

	if (found == NULL)
		return;
	count = &rs->pluscount[found - rs->plus];
	if (*count == 0)
		return;
	IvmCkptWriteRecord(rs->writer, *count, &h, row, len);
	rs->written++;
	*count = 0;
}

/* a table's fingerprint: the sum of its rows' hashes, modulo 2^128 */
static void
FingerprintRow(const char *row, uint32 len, HeapTuple tup, TupleDesc desc, void *arg)
{
	RowScan    *rs = arg;

	IvmCkptAddToFingerprint(&rs->fp, IvmCkptHashRow(row, len), 1);
}

/* a pending log row: its weight is the first column */
static void
LogRow(const char *row, uint32 len, HeapTuple tup, TupleDesc desc, void *arg)
{
	RowScan    *rs = arg;
	bool		isnull;
	int64		weight = DatumGetInt32(heap_getattr(tup, 1, desc, &isnull));

	IvmCkptWriteRecord(rs->writer, weight, NULL, row, len);
	rs->written++;
}

/* ------------------------------------------------------------------------
 * Manifest JSON
 * ------------------------------------------------------------------------
 */

static void
JsonKey(StringInfo buf, const char *key)
{
	if (buf->len > 0 && buf->data[buf->len - 1] != '{' && buf->data[buf->len - 1] != '[')
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
}

static void
JsonStr(StringInfo buf, const char *key, const char *value)
{
	JsonKey(buf, key);
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

static void
JsonInt(StringInfo buf, const char *key, int64 value)
{
	JsonKey(buf, key);
	appendStringInfo(buf, INT64_FORMAT, value);
}

static void
JsonBool(StringInfo buf, const char *key, bool value)
{
	JsonKey(buf, key);
	appendStringInfoString(buf, value ? "true" : "false");
}

/* "key": [{"name": ..., "type": ...}, ...] */
static void
JsonColumns(StringInfo buf, const char *key, List *names, List *types)
{
	ListCell   *lc1;
	ListCell   *lc2;

	JsonKey(buf, key);
	appendStringInfoChar(buf, '[');
	forboth(lc1, names, lc2, types)
	{
		if (lc1 != list_head(names))
			appendStringInfoString(buf, ", ");
		appendStringInfoChar(buf, '{');
		JsonStr(buf, "name", lfirst(lc1));
		JsonStr(buf, "type", lfirst(lc2));
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, ']');
}

/* "name type, ..." as the manifest reader builds it */
static char *
SignatureOf(List *names, List *types)
{
	StringInfoData buf;
	ListCell   *lc1;
	ListCell   *lc2;

	initStringInfo(&buf);
	forboth(lc1, names, lc2, types)
		appendStringInfo(&buf, "%s%s %s", buf.len > 0 ? ", " : "",
						 quote_identifier(lfirst(lc1)), (char *) lfirst(lc2));
	return buf.data;
}

/* a header for a file of this checkpoint about one object */
static IvmCkptHeader
FileHeader(CkptState *cs, IvmCkptKind kind, const char *object, List *names, List *types)
{
	IvmCkptHeader hdr;
	ListCell   *lc1;
	ListCell   *lc2;
	int			i = 0;

	memset(&hdr, 0, sizeof(hdr));
	hdr.kind = kind;
	hdr.chain = cs->chain;
	hdr.seq = cs->seq;
	hdr.epoch = cs->epoch;
	hdr.object = (char *) object;
	hdr.ncols = list_length(names);
	hdr.colnames = palloc(sizeof(char *) * Max(hdr.ncols, 1));
	hdr.coltypes = palloc(sizeof(char *) * Max(hdr.ncols, 1));
	forboth(lc1, names, lc2, types)
	{
		hdr.colnames[i] = lfirst(lc1);
		hdr.coltypes[i] = lfirst(lc2);
		i++;
	}
	return hdr;
}

static char *
FileName(CkptState *cs, const char *suffix)
{
	return psprintf("%08llu-%04d.%s", (unsigned long long) cs->seq, cs->nobjects, suffix);
}

/* remember a file the new manifest refers to */
static void
Keep(CkptState *cs, const char *fname)
{
	MemoryContext old = MemoryContextSwitchTo(cs->cxt);

	cs->keep = lappend(cs->keep, pstrdup(fname));
	MemoryContextSwitchTo(old);
}

/* the entry of the previous manifest for this object, or NULL */
static IvmCkptObject *
PreviousEntry(CkptState *cs, char kind, const char *name)
{
	if (cs->prev == NULL)
		return NULL;
	for (int i = 0; i < cs->prev->nobjects; i++)
		if (cs->prev->objects[i].kind == kind && strcmp(cs->prev->objects[i].name, name) == 0)
			return &cs->prev->objects[i];
	return NULL;
}

/* "fingerprint": {"rows": n, "sum": hex} */
static void
JsonFingerprint(StringInfo buf, const IvmCkptFingerprint *fp)
{
	JsonKey(buf, "fingerprint");
	appendStringInfoChar(buf, '{');
	JsonInt(buf, "rows", (int64) fp->rows);
	JsonStr(buf, "sum", IvmCkptFingerprintHex(fp));
	appendStringInfoChar(buf, '}');
}

/*
 * ReplayPrevious
 *		The rows of an object as of the previous checkpoint, as row hashes
 *		and counts in hash order: its chain (base, deltas) read back, each
 *		file checked, replayed, and the result checked against the
 *		fingerprint the previous manifest holds.  A damaged chain is an
 *		error: better now than at a restore.
 */
static IvmCkptEntries *
ReplayPrevious(CkptState *cs, IvmCkptObject *prev, const char *object, const char *signature)
{
	IvmCkptEntries *entries = palloc0(sizeof(IvmCkptEntries));
	IvmCkptFingerprint fp;
	char	   *path = NULL;

	for (int c = 0; c < prev->nchain; c++)
	{
		IvmCkptChainFile *cf = &prev->chain[c];
		IvmCkptHeader hdr;
		StringInfoData sig;
		char	   *raw;
		uint64		before = entries->n;

		path = IvmCkptPath(cs->dir, cf->name);
		raw = IvmCkptReadFile(cs->dir, cf->name, IVM_CKPT_ROWS, &hdr, NULL);
		if (hdr.chain != cs->chain)
			IvmCkptCorrupt(path, "It belongs to another checkpoint chain: it was copied from another checkpoint directory.");
		initStringInfo(&sig);
		for (int i = 0; i < hdr.ncols; i++)
			appendStringInfo(&sig, "%s%s %s", i > 0 ? ", " : "",
							 quote_identifier(hdr.colnames[i]), hdr.coltypes[i]);
		if (strcmp(hdr.object, object) != 0 || hdr.seq >= cs->seq ||
			((hdr.flags & IVM_CKPT_FLAG_BASE) != 0) != cf->base || strcmp(sig.data, signature) != 0)
			IvmCkptCorrupt(path, "It is not the file of \"%s\" that checkpoint %llu lists.",
						   object, (unsigned long long) cs->prev->hdr.seq);
		IvmCkptCollect(entries, raw, hdr.raw_len, path, cf->base);
		if ((int64) (entries->n - before) != cf->records)
			IvmCkptCorrupt(path, "It holds %llu records where its manifest lists %lld.",
						   (unsigned long long) (entries->n - before), (long long) cf->records);
		pfree(raw);				/* only the hashes are needed */
	}
	(void) IvmCkptFold(entries, object, path, &fp);
	if (fp.rows != prev->fingerprint.rows ||
		IvmCkptHashCmp(&fp.sum, &prev->fingerprint.sum) != 0)
		IvmCkptCorrupt(path, "Replaying the chain of \"%s\" does not give the rows checkpoint %llu recorded.",
					   object, (unsigned long long) cs->prev->hdr.seq);
	return entries;
}

/*
 * CheckpointRows
 *		The rows of one object: columns cols (quoted, and names, types) of
 *		relname (quoted, qualified), those that match filter if not NULL:
 *		nothing when they did not change since the previous checkpoint (same
 *		columns, same fingerprint), else a delta against the rows of the
 *		previous checkpoint, or a base when there is no previous rows to
 *		compare with (a new object, other columns) or the chain would grow
 *		too long (IVM_CKPT_MAX_DELTAS files, or more delta records than the
 *		object has rows).  Writes the fingerprint, file and chain entries of
 *		its manifest object.
 */
static void
CheckpointRows(CkptState *cs, char kind, const char *object, const char *relname,
			   Oid runas, const char *cols, const char *filter, List *names, List *types)
{
	char	   *sql = psprintf("SELECT %s FROM %s%s%s", cols, relname,
							   filter ? " WHERE " : "", filter ? filter : "");
	char	   *signature = SignatureOf(names, types);
	IvmCkptObject *prev = PreviousEntry(cs, kind, object);
	bool		comparable = prev != NULL && prev->nchain > 0 && prev->has_fingerprint &&
		strcmp(prev->signature, signature) == 0;
	HashArray	cur = {NULL, 0, 0};
	RowScan		rs;
	IvmCkptFingerprint fp;
	bool		base = true;
	const char *file = NULL;
	uint64		records = 0;
	uint64		added = 0;
	uint64		removed = 0;
	IvmCkptHeader hdr = FileHeader(cs, IVM_CKPT_ROWS, object, names, types);
	MemoryContext objcxt = AllocSetContextCreate(CurrentMemoryContext, "ivm checkpoint object",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContext outer = MemoryContextSwitchTo(objcxt);

	JsonColumns(&cs->objects, "columns", names, types);
	memset(&rs, 0, sizeof(rs));
	if (!comparable)
	{
		/* nothing to compare with: a base, in one pass */
		file = FileName(cs, "rows");
		hdr.flags = IVM_CKPT_FLAG_BASE;
		rs.writer = IvmCkptOpenWriter(cs->dir, file, &hdr);
		(void) IvmCkptScan(sql, cs->snap, 0, runas, CollectRow, &rs);
		records = added = rs.written;
		fp = rs.fp;
	}
	else
	{
		IvmCkptEntries *old;
		IvmCkptHash *plus;
		int64	   *pluscount;
		Datum	   *plustids;
		uint64		nplus = 0;
		IvmCkptHash *minus;
		int64	   *minuscount;
		uint64		nminus = 0;
		uint64		i = 0;
		uint64		j = 0;
		int64		chain_records = 0;

		/* first pass: the hashes, where the rows are, the fingerprint */
		rs.hashes = &cur;
		(void) IvmCkptScan(psprintf("SELECT ctid, %s FROM %s%s%s", cols, relname,
									filter ? " WHERE " : "", filter ? filter : ""),
						   cs->snap, 1, runas, CollectRow, &rs);
		fp = rs.fp;
		if (fp.rows == prev->fingerprint.rows &&
			IvmCkptHashCmp(&fp.sum, &prev->fingerprint.sum) == 0)
		{
			/* unchanged: the chain the previous checkpoint lists holds it */
			cs->unchanged++;
			JsonFingerprint(&cs->objects, &fp);
			JsonKey(&cs->objects, "file");
			appendStringInfoString(&cs->objects, "null");
			JsonKey(&cs->objects, "chain");
			appendStringInfoChar(&cs->objects, '[');
			for (int c = 0; c < prev->nchain; c++)
			{
				appendStringInfoString(&cs->objects, c > 0 ? ", {" : "{");
				JsonStr(&cs->objects, "name", prev->chain[c].name);
				JsonStr(&cs->objects, "type", prev->chain[c].base ? "base" : "delta");
				JsonInt(&cs->objects, "records", prev->chain[c].records);
				appendStringInfoChar(&cs->objects, '}');
				Keep(cs, prev->chain[c].name);
			}
			appendStringInfoChar(&cs->objects, ']');
			MemoryContextSwitchTo(outer);
			MemoryContextDelete(objcxt);
			return;
		}

		/* what changed: the rows now against the rows the chain gives */
		old = ReplayPrevious(cs, prev, object, signature);
		if (cur.n > 1)
			qsort(cur.h, cur.n, sizeof(HashTid), HashTidCmp);
		plus = palloc_extended(sizeof(IvmCkptHash) * Max(cur.n, 1), MCXT_ALLOC_HUGE);
		pluscount = palloc_extended(sizeof(int64) * Max(cur.n, 1), MCXT_ALLOC_HUGE);
		plustids = palloc_extended(sizeof(Datum) * Max(cur.n, 1), MCXT_ALLOC_HUGE);
		minus = palloc_extended(sizeof(IvmCkptHash) * Max(old->n, 1), MCXT_ALLOC_HUGE);
		minuscount = palloc_extended(sizeof(int64) * Max(old->n, 1), MCXT_ALLOC_HUGE);
		while (i < cur.n || j < old->n)
		{
			IvmCkptHash h;
			int64		nc = 0;
			int64		no = 0;
			int			c;

			uint64		first = i;

			if (i >= cur.n)
				c = 1;
			else if (j >= old->n)
				c = -1;
			else
				c = IvmCkptHashCmp(&cur.h[i].h, &old->e[j].hash);
			h = c <= 0 ? cur.h[i].h : old->e[j].hash;
			while (i < cur.n && IvmCkptHashCmp(&cur.h[i].h, &h) == 0)
				i++, nc++;
			if (j < old->n && IvmCkptHashCmp(&old->e[j].hash, &h) == 0)
				no = old->e[j++].weight;
			if (nc > no)
			{
				/* one copy of the row is enough: it is written with its count */
				plustids[nplus] = PointerGetDatum(&cur.h[first].tid);
				plus[nplus] = h;
				pluscount[nplus++] = nc - no;
				added += nc - no;
			}
			else if (no > nc)
			{
				minus[nminus] = h;
				minuscount[nminus++] = no - nc;
				removed += no - nc;
			}
		}

		for (int c = 1; c < prev->nchain; c++)
			chain_records += prev->chain[c].records;
		file = FileName(cs, "rows");
		base = prev->nchain > IVM_CKPT_MAX_DELTAS ||
			chain_records + (int64) (nplus + nminus) >= (int64) cur.n;
		rs.hashes = NULL;
		if (base)
		{
			/* replaying the deltas would cost more than the rows themselves */
			hdr.flags = IVM_CKPT_FLAG_BASE;
			rs.writer = IvmCkptOpenWriter(cs->dir, file, &hdr);
			(void) IvmCkptScan(sql, cs->snap, 0, runas, CollectRow, &rs);
			records = rs.written;
			added = cur.n;
			removed = 0;
		}
		else
		{
			/* the rows that gained copies, fetched by ctid; then what went */
			Oid			argtypes[1] = {TIDARRAYOID};
			Datum		args[1];

			args[0] = PointerGetDatum(construct_array(plustids, (int) nplus, TIDOID,
													  sizeof(ItemPointerData), false,
													  TYPALIGN_SHORT));
			rs.plus = plus;
			rs.pluscount = pluscount;
			rs.nplus = nplus;
			rs.writer = IvmCkptOpenWriter(cs->dir, file, &hdr);
			(void) IvmCkptScanArgs(psprintf("SELECT %s FROM %s WHERE ctid = ANY ($1)", cols, relname),
								   1, argtypes, args, cs->snap, 0, runas, DeltaRow, &rs);
			if (rs.written != nplus)
				elog(ERROR, "ivm: rows of \"%s\" changed during a checkpoint", object);
			for (uint64 k = 0; k < nminus; k++)
				IvmCkptWriteRecord(rs.writer, -minuscount[k], &minus[k], NULL, 0);
			records = nplus + nminus;
		}
	}

	{
		uint64		raw;

		cs->file_bytes += IvmCkptCloseWriter(rs.writer, &raw, NULL);
		cs->raw_bytes += raw;
	}
	if (base)
		cs->bases++;
	else
		cs->deltas++;
	cs->records += records;

	JsonFingerprint(&cs->objects, &fp);
	JsonKey(&cs->objects, "file");
	appendStringInfoChar(&cs->objects, '{');
	JsonStr(&cs->objects, "name", file);
	JsonStr(&cs->objects, "type", base ? "base" : "delta");
	JsonInt(&cs->objects, "records", (int64) records);
	JsonInt(&cs->objects, "rows_added", (int64) added);
	JsonInt(&cs->objects, "rows_removed", (int64) removed);
	appendStringInfoChar(&cs->objects, '}');
	JsonKey(&cs->objects, "chain");
	appendStringInfoChar(&cs->objects, '[');
	if (!base)
		for (int c = 0; c < prev->nchain; c++)
		{
			appendStringInfoString(&cs->objects, "{");
			JsonStr(&cs->objects, "name", prev->chain[c].name);
			JsonStr(&cs->objects, "type", prev->chain[c].base ? "base" : "delta");
			JsonInt(&cs->objects, "records", prev->chain[c].records);
			appendStringInfoString(&cs->objects, "}, ");
			Keep(cs, prev->chain[c].name);
		}
	appendStringInfoChar(&cs->objects, '{');
	JsonStr(&cs->objects, "name", file);
	JsonStr(&cs->objects, "type", base ? "base" : "delta");
	JsonInt(&cs->objects, "records", (int64) records);
	appendStringInfoString(&cs->objects, "}]");
	Keep(cs, file);
	MemoryContextSwitchTo(outer);
	MemoryContextDelete(objcxt);
}

/*
 * CheckpointRelation
 *		The rows of a relation, every column (a view's storage, hidden ones
 *		included; a push source).  Read as its owner, restricted, row
 *		security off (IvmCkptScan, IvmBecomeReader): planning the read runs
 *		the owner's index and statistics expressions, writing it the output
 *		functions of its types; and a policy that would hide rows from the
 *		owner fails the checkpoint rather than leave them out.
 */
static void
CheckpointRelation(CkptState *cs, char kind, const char *object, Oid relid)
{
	List	   *names;
	List	   *types;
	char	   *cols = IvmCkptColumns(relid, true, &names, &types);
	char	   *relname = IvmLockedTableName(relid, AccessShareLock);

	CheckpointRows(cs, kind, object, relname, IvmRelationOwner(relid), cols, NULL, names, types);
}

/* run a catalog query at the checkpoint's snapshot, as the present user */
static void
ExecAt(CkptState *cs, const char *sql, const char *what)
{
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);
	int			rc;

	if (plan == NULL)
		elog(ERROR, "ivm: SPI_prepare failed while %s: %s", what, SPI_result_code_string(SPI_result));
	rc = SPI_execute_snapshot(plan, NULL, NULL, cs->snap, InvalidSnapshot, true, false, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, what);
	SPI_freeplan(plan);
}

/*
 * ExecAtAs
 *		ExecAt as role, restricted, row security off (IvmBecomeReader): for
 *		a statement over a relation role owns (a delta log), or one that
 *		deparses role's definitions (the constants in them are written out
 *		by their types' output functions).
 */
static void
ExecAtAs(CkptState *cs, Oid role, const char *sql, const char *what)
{
	IvmUserSave save;

	IvmBecomeReader(role, &save);
	ExecAt(cs, sql, what);
	IvmRestoreUser(&save);
}

static char *
Col(SPITupleTable *tt, uint64 row, int col)
{
	return SPI_getvalue(tt->vals[row], tt->tupdesc, col);
}

/* begin one entry of the objects array */
static void
BeginObject(CkptState *cs, const char *kind, const char *schema, const char *relname)
{
	if (cs->nobjects > 0)
		appendStringInfoString(&cs->objects, ",\n  ");
	cs->nobjects++;
	appendStringInfoChar(&cs->objects, '{');
	JsonStr(&cs->objects, "kind", kind);
	JsonStr(&cs->objects, "schema", schema);
	JsonStr(&cs->objects, "relname", relname);
}

/*
 * CheckpointViews
 *		Every incremental view, in the order a restore must create them.
 *		Not hidden views: creating their view again creates them, and the
 *		first tick fills them (the view is recomputed from them then).
 */
static void
CheckpointViews(CkptState *cs)
{
	SPITupleTable *tt;
	uint64		n;

	ExecAt(cs, "SELECT n.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner), "
		   "v.storagerel::oid, v.defrel::oid, v.mode, v.options::text, "
		   "v.level, v.strategy, v.populated, v.needs_recompute, v.rows, v.size, v.last_epoch, "
		   "w.channel, v.viewrel::oid "
		   "FROM ivm._views v JOIN pg_catalog.pg_class c ON c.oid = v.viewrel "
		   "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		   "LEFT JOIN ivm._watches w ON w.view_id = v.id "
		   "WHERE v.parent_id IS NULL "	/* hidden views come back with their view */
		   "ORDER BY v.level, v.id", "listing views");
	tt = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		char	   *schema = Col(tt, i, 1);
		char	   *relname = Col(tt, i, 2);
		char	   *object = quote_qualified_identifier(schema, relname);
		bool		isnull;
		Oid			storage = DatumGetObjectId(SPI_getbinval(tt->vals[i], tt->tupdesc, 4, &isnull));
		Oid			defrel = DatumGetObjectId(SPI_getbinval(tt->vals[i], tt->tupdesc, 5, &isnull));
		Oid			viewrel = DatumGetObjectId(SPI_getbinval(tt->vals[i], tt->tupdesc, 16, &isnull));
		char	   *last_epoch = Col(tt, i, 14);
		char	   *query;
		List	   *vnames;
		List	   *vtypes;
		ListCell   *lc;

		/* deparsed as the definition's owner: its constants' output functions */
		ExecAtAs(cs, IvmRelationOwner(defrel),
				 psprintf("SELECT pg_catalog.pg_get_viewdef(%u::pg_catalog.oid)", defrel),
				 "deparsing a view's query");
		query = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		BeginObject(cs, "view", schema, relname);
		JsonStr(&cs->objects, "owner", Col(tt, i, 3));
		JsonStr(&cs->objects, "query", query);
		JsonStr(&cs->objects, "mode", Col(tt, i, 6));
		JsonStr(&cs->objects, "options", Col(tt, i, 7));
		JsonInt(&cs->objects, "level", pg_strtoint32(Col(tt, i, 8)));
		JsonStr(&cs->objects, "strategy", Col(tt, i, 9));
		JsonBool(&cs->objects, "populated", strcmp(Col(tt, i, 10), "t") == 0);
		JsonBool(&cs->objects, "needs_recompute", strcmp(Col(tt, i, 11), "t") == 0);
		JsonInt(&cs->objects, "stored_rows", pg_strtoint64(Col(tt, i, 12)));
		JsonInt(&cs->objects, "size", pg_strtoint64(Col(tt, i, 13)));
		if (last_epoch)
			JsonInt(&cs->objects, "last_epoch", pg_strtoint64(last_epoch));
		else
			JsonStr(&cs->objects, "last_epoch", NULL);
		JsonStr(&cs->objects, "channel", Col(tt, i, 15));
		(void) IvmCkptColumns(viewrel, false, &vnames, &vtypes);
		JsonKey(&cs->objects, "view_columns");
		appendStringInfoChar(&cs->objects, '[');
		foreach(lc, vnames)
		{
			if (lc != list_head(vnames))
				appendStringInfoString(&cs->objects, ", ");
			escape_json(&cs->objects, lfirst(lc));
		}
		appendStringInfoChar(&cs->objects, ']');
		CheckpointRelation(cs, 'v', object, storage);
		appendStringInfoChar(&cs->objects, '}');
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * CheckpointPending
 *		What a source's delta log holds at the snapshot (the deltas the next
 *		tick would consume), and whether a TRUNCATE awaits that tick: the
 *		"truncated", "log_columns" and "pending" entries of its object.
 */
static void
CheckpointPending(CkptState *cs, const char *object, Oid logrel, bool truncated)
{
	List	   *lnames;
	List	   *ltypes;
	List	   *names = NIL;
	List	   *types = NIL;
	StringInfoData cols;
	ListCell   *lc1;
	ListCell   *lc2;
	char	   *logname = quote_qualified_identifier(IVM_SCHEMA, get_rel_name(logrel));

	JsonBool(&cs->objects, "truncated", truncated);

	/* the log's columns but the weight, which leads each record */
	(void) IvmCkptColumns(logrel, false, &lnames, &ltypes);
	initStringInfo(&cols);
	appendStringInfoString(&cols, quote_identifier(IVM_WEIGHT_COLUMN));
	forboth(lc1, lnames, lc2, ltypes)
	{
		if (strcmp(lfirst(lc1), IVM_WEIGHT_COLUMN) == 0)
			continue;
		names = lappend(names, lfirst(lc1));
		types = lappend(types, lfirst(lc2));
		appendStringInfo(&cols, ", %s", quote_identifier(lfirst(lc1)));
	}
	JsonColumns(&cs->objects, "log_columns", names, types);

	/* most checkpoints find the log empty: then no file (the log is its table owner's) */
	ExecAtAs(cs, IvmRelationOwner(logrel), psprintf("SELECT 1 FROM %s LIMIT 1", logname),
			 "looking for pending deltas");
	JsonKey(&cs->objects, "pending");
	if (SPI_processed == 0)
		appendStringInfoString(&cs->objects, "null");
	else
	{
		char	   *file = FileName(cs, "log");
		IvmCkptHeader hdr = FileHeader(cs, IVM_CKPT_LOG, object, names, types);
		RowScan		rs;
		uint64		raw;

		memset(&rs, 0, sizeof(rs));
		rs.writer = IvmCkptOpenWriter(cs->dir, file, &hdr);
		(void) IvmCkptScan(psprintf("SELECT %s FROM %s", cols.data, logname), cs->snap, 1,
						   IvmRelationOwner(logrel), LogRow, &rs);
		cs->file_bytes += IvmCkptCloseWriter(rs.writer, &raw, NULL);
		cs->raw_bytes += raw;
		cs->records += rs.written;
		Keep(cs, file);
		appendStringInfoChar(&cs->objects, '{');
		JsonStr(&cs->objects, "name", file);
		JsonInt(&cs->objects, "records", (int64) rs.written);
		appendStringInfoChar(&cs->objects, '}');
	}
}

/*
 * CheckpointPushSources
 *		Every push source: its definition, its rows (a base or a delta, as a
 *		view's), its pending deltas, and with dedup on its seen-set (the
 *		hashes of the batches it applied, an object of its own), so that a
 *		batch seen before the checkpoint is still coalesced after a restore.
 */
static void
CheckpointPushSources(CkptState *cs)
{
	SPITupleTable *tt;
	uint64		n;

	ExecAt(cs, "SELECT n.nspname, c.relname, s.relid::oid, s.logrel::oid, "
		   "EXISTS (SELECT 1 FROM ivm._truncated t WHERE t.relid = s.relid), "
		   "pg_catalog.pg_get_userbyid(c.relowner), s.dedup, s.id "
		   "FROM ivm._sources s JOIN pg_catalog.pg_class c ON c.oid = s.relid "
		   "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		   "WHERE s.kind = 'push' ORDER BY s.id", "listing push sources");
	tt = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		char	   *schema = Col(tt, i, 1);
		char	   *relname = Col(tt, i, 2);
		char	   *object = quote_qualified_identifier(schema, relname);
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
		Oid			logrel = DatumGetObjectId(SPI_getbinval(tt->vals[i], tt->tupdesc, 4, &isnull));
		bool		truncated = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 5, &isnull));
		bool		dedup = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 7, &isnull));
		int32		id = DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 8, &isnull));
		Relation	rel = table_open(relid, AccessShareLock);
		TupleDesc	desc = RelationGetDescr(rel);
		StringInfoData defs;
		IvmUserSave save;
		ListCell   *lc;

		/* the columns as ivm.create_source() takes them, typmods formatted as its owner */
		IvmBecome(rel->rd_rel->relowner, true, &save);
		initStringInfo(&defs);
		foreach(lc, IvmLiveColumns(desc))
		{
			Form_pg_attribute att = lfirst(lc);

			appendStringInfo(&defs, "%s%s %s", defs.len > 0 ? ", " : "",
							 quote_identifier(NameStr(att->attname)),
							 format_type_with_typemod(att->atttypid, att->atttypmod));
			if (OidIsValid(att->attcollation) && att->attcollation != get_typcollation(att->atttypid))
				appendStringInfo(&defs, " COLLATE %s", generate_collation_name(att->attcollation));
			if (att->attnotnull)
				appendStringInfoString(&defs, " NOT NULL");
		}
		IvmRestoreUser(&save);
		table_close(rel, AccessShareLock);

		BeginObject(cs, "push", schema, relname);
		JsonStr(&cs->objects, "owner", Col(tt, i, 6));
		JsonStr(&cs->objects, "column_definitions", defs.data);
		JsonBool(&cs->objects, "dedup", dedup);
		CheckpointRelation(cs, 'p', object, relid);
		CheckpointPending(cs, object, logrel, truncated);
		appendStringInfoChar(&cs->objects, '}');

		if (dedup)
		{
			BeginObject(cs, "seen", schema, relname);
			CheckpointRows(cs, 's', object, "ivm._seen", InvalidOid, "hash, seq",
						   psprintf("source_id = %d", id),
						   list_make2("hash", "seq"), list_make2("uuid", "bigint"));
			appendStringInfoChar(&cs->objects, '}');
		}
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * CheckpointTables
 *		Every captured table: its fingerprint, whether a TRUNCATE awaits the
 *		next tick, and the rows its delta log holds.
 */
static void
CheckpointTables(CkptState *cs)
{
	SPITupleTable *tt;
	uint64		n;

	ExecAt(cs, "SELECT n.nspname, c.relname, s.relid::oid, s.logrel::oid, "
		   "EXISTS (SELECT 1 FROM ivm._truncated t WHERE t.relid = s.relid) "
		   "FROM ivm._sources s JOIN pg_catalog.pg_class c ON c.oid = s.relid "
		   "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		   "WHERE s.kind = 'table' ORDER BY s.id", "listing sources");
	tt = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		char	   *schema = Col(tt, i, 1);
		char	   *relname = Col(tt, i, 2);
		char	   *object = quote_qualified_identifier(schema, relname);
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
		Oid			logrel = DatumGetObjectId(SPI_getbinval(tt->vals[i], tt->tupdesc, 4, &isnull));
		bool		truncated = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 5, &isnull));
		List	   *names;
		List	   *types;
		char	   *cols = IvmCkptColumns(relid, true, &names, &types);
		RowScan		rs;

		BeginObject(cs, "table", schema, relname);
		JsonColumns(&cs->objects, "columns", names, types);

		memset(&rs, 0, sizeof(rs));

		/*
		 * Read by the name the locked table has now, not the listed one; as
		 * its owner, restricted (IvmCkptScan): planning the read runs its
		 * index and statistics expressions, hashing its rows its types'
		 * output functions.
		 */
		(void) IvmCkptScan(psprintf("SELECT %s FROM %s", cols,
									IvmLockedTableName(relid, AccessShareLock)),
						   cs->snap, 0, IvmRelationOwner(relid), FingerprintRow, &rs);
		JsonFingerprint(&cs->objects, &rs.fp);

		CheckpointPending(cs, object, logrel, truncated);
		appendStringInfoChar(&cs->objects, '}');
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * CheckpointFileName
 *		Whether name is one this code writes: 8 or more digits, then either
 *		".manifest" or "-" digits ".rows" or ".log"; maybe ".tmp" after.
 *		*tmp and *manifest say which.
 */
static bool
CheckpointFileName(const char *name, bool *tmp, bool *manifest)
{
	const char *p = name;
	size_t		len;

	while (*p >= '0' && *p <= '9')
		p++;
	if (p - name < 8)
		return false;
	len = strlen(p);
	*tmp = len > 4 && strcmp(p + len - 4, ".tmp") == 0;
	if (*tmp)
		len -= 4;
	*manifest = (len == 9 && strncmp(p, ".manifest", 9) == 0);
	if (*manifest)
		return true;
	if (*p++ != '-')
		return false;
	len--;
	while (*p >= '0' && *p <= '9')
		p++, len--;
	return (len == 5 && strncmp(p, ".rows", 5) == 0) || (len == 4 && strncmp(p, ".log", 4) == 0);
}

/*
 * RemoveLeftovers
 *		After the manifest is in place: remove what a restore of the chain
 *		no longer reads (rows files of bases and deltas that a new base
 *		superseded, pending-log files of earlier checkpoints, what a failed
 *		attempt wrote) and temporary files; count the bytes of what stays.
 *		Only names of the checkpoint format are touched.
 */
static void
RemoveLeftovers(CkptState *cs)
{
	ListCell   *lf;

	foreach(lf, IvmCkptListFiles(cs->dir))
	{
		IvmCkptFileInfo *f = lfirst(lf);
		bool		tmp;
		bool		manifest;
		bool		kept = false;
		ListCell   *lc;

		if (!CheckpointFileName(f->name, &tmp, &manifest))
			continue;
		foreach(lc, cs->keep)
			if (strcmp(lfirst(lc), f->name) == 0)
				kept = true;
		if (!tmp && (kept || manifest))
		{
			cs->restore_bytes += f->size;
			continue;
		}
		IvmCkptRemoveFile(cs->dir, f->name);
	}
}

/*
 * ivm_checkpoint
 *		SQL: ivm.checkpoint(dir text) returns (sequence, epoch, objects,
 *		bases, deltas, unchanged, records, raw_bytes, file_bytes,
 *		restore_bytes, duration_ms).
 */
Datum
ivm_checkpoint(PG_FUNCTION_ARGS)
{
	TimestampTz start = GetCurrentTimestamp();
	IvmCkptDir *dir;
	CkptState	cs;
	IvmUserSave save;
	int			save_nestlevel;
	int			rc;
	int			nmanifests;
	uint64	   *seqs;
	TupleDesc	desc;
	Datum		values[CHECKPOINT_RESULT_COLUMNS];
	bool		nulls[CHECKPOINT_RESULT_COLUMNS] = {0};
	bool		isnull;

	dir = IvmCkptDirArgument(fcinfo, "ivm.checkpoint", true);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ivm.checkpoint() must return a record");

	memset(&cs, 0, sizeof(cs));
	cs.dir = dir;

	if (dir->s3 == NULL && MakePGDirectory(dir->local) != 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create checkpoint directory \"%s\": %m", dir->name),
				 errhint("The parent directory must exist and be writable by the server.")));

	/* from here on, memory is SPI's: released by SPI_finish */
	IvmCatalogBegin(&save);
	cs.cxt = CurrentMemoryContext;
	initStringInfo(&cs.objects);
	save_nestlevel = NewGUCNestLevel();
	IvmCkptSetTextFormat();

	/* the step lock: no tick runs until this transaction ends */
	rc = SPI_execute("SELECT epoch FROM ivm._state FOR UPDATE", false, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "taking the step lock");
	if (SPI_processed != 1)
		elog(ERROR, "ivm: ivm._state must hold exactly one row");
	cs.epoch = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	cs.snap = RegisterSnapshot(GetTransactionSnapshot());

	/* the chain so far */
	seqs = IvmCkptListManifests(dir, &nmanifests, false);
	if (nmanifests > 0)
	{
		cs.prev = IvmCkptReadManifest(dir, seqs[nmanifests - 1]);
		cs.chain = cs.prev->hdr.chain;
		cs.seq = cs.prev->hdr.seq + 1;
		if (strcmp(cs.prev->encoding, GetDatabaseEncodingName()) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("checkpoint directory \"%s\" holds a chain written in encoding %s", dir->name,
							cs.prev->encoding),
					 errdetail("This database uses encoding %s.", GetDatabaseEncodingName()),
					 errhint("Checkpoint into another directory.")));
	}
	else
	{
		cs.seq = 1;
		if (!pg_strong_random(&cs.chain, sizeof(cs.chain)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random checkpoint chain id")));
	}

	CheckpointPushSources(&cs);
	CheckpointViews(&cs);
	CheckpointTables(&cs);

	/* the manifest, last */
	{
		StringInfoData m;
		IvmCkptHeader hdr;
		IvmCkptWriter *w;
		char	   *fname = IvmCkptManifestName(cs.seq);
		uint64		raw;
		uint64		sum;

		initStringInfo(&m);
		appendStringInfoChar(&m, '{');
		JsonInt(&m, "format", IVM_CKPT_VERSION);
		JsonStr(&m, "chain", IvmCkptHex64(cs.chain));
		JsonInt(&m, "sequence", (int64) cs.seq);
		JsonInt(&m, "epoch", cs.epoch);
		JsonStr(&m, "previous", cs.prev ? IvmCkptHex64(cs.prev->file_sum) : NULL);
		JsonStr(&m, "created", timestamptz_to_str(GetCurrentTimestamp()));
		JsonStr(&m, "database", get_database_name(MyDatabaseId));
		JsonStr(&m, "encoding", GetDatabaseEncodingName());
		JsonInt(&m, "server_version_num", PG_VERSION_NUM);
		JsonKey(&m, "objects");
		appendStringInfo(&m, "[\n  %s\n]}\n", cs.objects.data);

		memset(&hdr, 0, sizeof(hdr));
		hdr.kind = IVM_CKPT_MANIFEST;
		hdr.chain = cs.chain;
		hdr.seq = cs.seq;
		hdr.epoch = cs.epoch;
		hdr.object = "";
		w = IvmCkptOpenWriter(dir, fname, &hdr);
		IvmCkptWrite(w, m.data, m.len);
		cs.file_bytes += IvmCkptCloseWriter(w, &raw, &sum);
		cs.raw_bytes += raw;
		Keep(&cs, fname);
	}
	RemoveLeftovers(&cs);

	UnregisterSnapshot(cs.snap);
	AtEOXact_GUC(true, save_nestlevel);
	IvmCatalogEnd(&save);

	values[0] = Int64GetDatum((int64) cs.seq);
	values[1] = Int64GetDatum(cs.epoch);
	values[2] = Int32GetDatum(cs.nobjects);
	values[3] = Int32GetDatum(cs.bases);
	values[4] = Int32GetDatum(cs.deltas);
	values[5] = Int32GetDatum(cs.unchanged);
	values[6] = Int64GetDatum((int64) cs.records);
	values[7] = Int64GetDatum((int64) cs.raw_bytes);
	values[8] = Int64GetDatum((int64) cs.file_bytes);
	values[9] = Int64GetDatum((int64) cs.restore_bytes);
	values[10] = Float8GetDatum((double) (GetCurrentTimestamp() - start) / 1000.0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
