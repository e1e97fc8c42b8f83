/*-------------------------------------------------------------------------
 *
 * ckptfile.c
 *		The format of delta checkpoint files: headers, compressed blocks,
 *		checksums, records, manifests; and rows as text, the way checkpoint.c
 *		writes them and restore.c reads them.  docs/checkpoint-format.md is
 *		the description for people; this file is the reference.
 *
 * A file is a header then a payload.  The header names the file's kind,
 * format version, checkpoint chain and sequence, epoch, object and column
 * types, and carries the lengths and XXH3-64 checksums of the payload before
 * and after compression, then a checksum of itself.  The payload is a run of
 * blocks of at most IVM_CKPT_BLOCK_SIZE raw bytes, each compressed with zstd
 * or stored raw when compression does not pay.  Integers are little-endian
 * whatever the machine.
 *
 * Files are written under a temporary name and renamed into place with
 * durable_rename() (fsync of the file and the directory), so a file is
 * either complete or absent.  A directory in object storage (s3://, see
 * IvmCkptDir) is the same files as objects: each file is written whole in a
 * temporary directory of the server, then uploaded (one PUT: the object
 * appears whole or not at all) and removed; a file to read is downloaded
 * there first.  s3.c does the transfers.  Reading checks everything before returning a
 * byte: magic, version, header checksum, kind, length, both payload
 * checksums, every block.  Callers check chain, sequence and object.
 *
 * Replaying an object's files (IvmCkptCollect, IvmCkptFold) sums the
 * weights of its records per row hash; fingerprints (count and sum of row
 * hashes) tell whether two multisets of rows are the same without their
 * order mattering.
 *
 * Rows are written in text form, each column through its type's output
 * function under fixed settings (IvmCkptSetTextFormat: ISO dates, UTC,
 * extra_float_digits 3, ...), so that a checkpoint restores into any
 * database with the same types, and the hash of a row (XXH3-128 of its
 * encoding) is the same wherever it is computed.
 *
 * Rights: the only statement here is the cursor of IvmCkptScan, run as
 * the owner of the relation it reads, restricted, row_security off (the
 * caller names the owner; ivm._seen alone is read as ivm's owner, whose
 * table it is); IvmCkptColumns formats types as the relation's owner.
 * Files and objects are reached with the server's own rights.
 *
 * Memory: a writer's buffers and zstd context live in a context of their
 * own, freed by IvmCkptCloseWriter or with the caller's context on error
 * (a reset callback frees the zstd context, which zstd allocates itself).
 * Files are opened with OpenTransientFile, which closes them on error.
 *
 * Layer: work (the format under checkpoint.c and restore.c, which call
 * it).  Calls rights and s3.c only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY	/* XXH3_state_t on the stack */
#include <xxhash.h>
#include <zstd.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "common/file_utils.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "ivm.h"
#include "exec.h"
#include "rows.h"
#include "checkpoint.h"

static uint64 ScanRows(const char *sql, int nargs, Oid *argtypes, Datum *args,
					   Snapshot snap, int skip, IvmCkptRowFn fn, void *arg);
static char *ReadLocalFile(const char *local, const char *path, IvmCkptKind kind,
						   IvmCkptHeader *hdr, uint64 *file_sum);

/* fixed part of a header: up to and including stored_sum */
#define HEADER_FIXED	80
/* a block's own header: method, raw length, stored length */
#define BLOCK_HEADER	9
/* rows fetched per round trip of a scan */
#define SCAN_BATCH		10000

struct IvmCkptWriter
{
	MemoryContext cxt;
	const IvmCkptDir *dir;
	char	   *fname;
	char	   *path;			/* final name (of the local file) */
	char	   *tmppath;		/* written under this name */
	int			fd;
	IvmCkptHeader hdr;
	StringInfoData header;		/* serialised header (rewritten at close) */
	char	   *block;			/* raw bytes of the block being filled */
	size_t		blocklen;
	char	   *cbuf;			/* compressed block */
	size_t		cbufsize;
	ZSTD_CCtx  *cctx;
	XXH3_state_t *raw_state;
	XXH3_state_t *stored_state;
	uint64		raw_len;
	uint64		stored_len;
};

/* ------------------------------------------------------------------------
 * Little-endian integers
 * ------------------------------------------------------------------------
 */

static void
PutU16(StringInfo buf, uint16 v)
{
	unsigned char b[2] = {v & 0xff, (v >> 8) & 0xff};

	appendBinaryStringInfo(buf, (char *) b, 2);
}

static void
PutU32(StringInfo buf, uint32 v)
{
	unsigned char b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (v >> (8 * i)) & 0xff;
	appendBinaryStringInfo(buf, (char *) b, 4);
}

static void
PutU64(StringInfo buf, uint64 v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (v >> (8 * i)) & 0xff;
	appendBinaryStringInfo(buf, (char *) b, 8);
}

static void
PutBytes32(StringInfo buf, const char *s)
{
	PutU32(buf, (uint32) strlen(s));
	appendBinaryStringInfo(buf, s, strlen(s));
}

static uint16
GetU16(const char *p)
{
	const unsigned char *b = (const unsigned char *) p;

	return (uint16) (b[0] | (b[1] << 8));
}

static uint32
GetU32(const char *p)
{
	const unsigned char *b = (const unsigned char *) p;

	return (uint32) b[0] | ((uint32) b[1] << 8) | ((uint32) b[2] << 16) | ((uint32) b[3] << 24);
}

static uint64
GetU64(const char *p)
{
	uint64		v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | (unsigned char) p[i];
	return v;
}

/* ------------------------------------------------------------------------
 * Errors, names, paths
 * ------------------------------------------------------------------------
 */

/*
 * IvmCkptCorrupt
 *		Refuse a file that is not what it should be; the detail says what.
 */
void
IvmCkptCorrupt(const char *path, const char *fmt,...)
{
	char		detail[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("checkpoint file \"%s\" is not usable", path),
			 errdetail_internal("%s", detail),
			 errhint("Nothing was changed. Use an intact copy of the checkpoint directory, "
					 "or write a new chain with ivm.checkpoint() into an empty directory.")));
}

/*
 * IvmCkptPath
 *		The name of a file of dir, as messages give it.
 */
char *
IvmCkptPath(const IvmCkptDir *dir, const char *fname)
{
	return psprintf("%s/%s", dir->name, fname);
}

/* where a file of dir is on the server: itself, or its copy being moved */
static char *
LocalPath(const IvmCkptDir *dir, const char *fname)
{
	return psprintf("%s/%s", dir->local, fname);
}

/* remove a directory of files, with nothing that could fail but quietly */
static void
RemoveStagingDir(void *arg)
{
	const char *dir = arg;
	char		path[MAXPGPATH];
	DIR		   *d = opendir(dir);
	struct dirent *de;

	if (d != NULL)
	{
		while ((de = readdir(d)) != NULL)
		{
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			(void) unlink(path);
		}
		closedir(d);
	}
	(void) rmdir(dir);
}

/*
 * IvmCkptStagingDir
 *		A new empty directory of the server for the files of an object
 *		storage transfer, removed with everything in it when the current
 *		memory context goes (the end of the SQL function's call, or its
 *		error).  It lives among PostgreSQL's temporary files, whose names
 *		start with pgsql_tmp, so a crash's leftovers go at the next start.
 */
char *
IvmCkptStagingDir(void)
{
	static uint32 counter = 0;
	char	   *base = psprintf("base/%s", PG_TEMP_FILES_DIR);
	char	   *dir;
	MemoryContextCallback *cb;

	if (MakePGDirectory(base) != 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", base)));
	dir = psprintf("%s/%sivm_s3.%d.%u", base, PG_TEMP_FILE_PREFIX, MyProcPid, counter++);
	if (MakePGDirectory(dir) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", dir)));
	cb = palloc0(sizeof(MemoryContextCallback));
	cb->func = RemoveStagingDir;
	cb->arg = dir;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return dir;
}

char *
IvmCkptManifestName(uint64 seq)
{
	return psprintf("%08llu.manifest", (unsigned long long) seq);
}

char *
IvmCkptHex64(uint64 v)
{
	return psprintf("%016llx", (unsigned long long) v);
}

uint64
IvmCkptParseHex64(const char *s, const char *path)
{
	uint64		v = 0;

	if (s == NULL || strlen(s) != 16)
		IvmCkptCorrupt(path, "\"%s\" is not a 64-bit hexadecimal value.", s ? s : "null");
	for (const char *p = s; *p; p++)
	{
		int			d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else
			IvmCkptCorrupt(path, "\"%s\" is not a 64-bit hexadecimal value.", s);
		v = (v << 4) | (uint64) d;
	}
	return v;
}

/*
 * ListNames
 *		The files of dir (for object storage, the objects directly under its
 *		prefix), with their sizes when sizes.  A missing local directory is
 *		an error unless missing_ok (then none).
 */
static List *
ListNames(const IvmCkptDir *dir, bool missing_ok, bool sizes)
{
	List	   *files = NIL;
	DIR		   *d;
	struct dirent *de;

	if (dir->s3)
	{
		ListCell   *lc;

		foreach(lc, IvmS3List(dir->s3))
		{
			IvmS3Object *o = lfirst(lc);
			IvmCkptFileInfo *f = palloc(sizeof(IvmCkptFileInfo));

			f->name = o->name;
			f->size = o->size;
			files = lappend(files, f);
		}
		return files;
	}
	d = AllocateDir(dir->local);
	if (d == NULL)
	{
		if (missing_ok && errno == ENOENT)
			return NIL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open checkpoint directory \"%s\": %m", dir->name)));
	}
	while ((de = ReadDir(d, dir->local)) != NULL)
	{
		IvmCkptFileInfo *f;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		f = palloc(sizeof(IvmCkptFileInfo));
		f->name = pstrdup(de->d_name);
		f->size = 0;
		if (sizes && stat(LocalPath(dir, de->d_name), &st) == 0)
			f->size = (uint64) st.st_size;
		files = lappend(files, f);
	}
	FreeDir(d);
	return files;
}

/*
 * IvmCkptListFiles
 *		The files of dir and their sizes, as IvmCkptFileInfo.
 */
List *
IvmCkptListFiles(const IvmCkptDir *dir)
{
	return ListNames(dir, false, true);
}

/*
 * IvmCkptRemoveFile
 *		Remove a file of dir; a failure is a warning (what is left is
 *		removed by a later checkpoint).
 */
void
IvmCkptRemoveFile(const IvmCkptDir *dir, const char *fname)
{
	if (dir->s3)
	{
		(void) IvmS3Delete(dir->s3, IvmS3Key(dir->s3, fname), WARNING);
		return;
	}
	if (unlink(LocalPath(dir, fname)) != 0 && errno != ENOENT)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not remove leftover checkpoint file \"%s\": %m",
						IvmCkptPath(dir, fname))));
}

/* ascending order of sequence numbers, for qsort */
static int
SeqCmp(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * IvmCkptListManifests
 *		The sequence numbers of the manifests in dir, ascending.  A missing
 *		directory is an error unless missing_ok (then none).
 */
uint64 *
IvmCkptListManifests(const IvmCkptDir *dir, int *n, bool missing_ok)
{
	uint64	   *seqs;
	int			max = 16;
	ListCell   *lc;

	*n = 0;
	seqs = palloc(sizeof(uint64) * max);
	foreach(lc, ListNames(dir, missing_ok, false))
	{
		const char *name = ((IvmCkptFileInfo *) lfirst(lc))->name;
		size_t		len = strlen(name);
		bool		digits = len > 9;

		if (len <= 9 || strcmp(name + len - 9, ".manifest") != 0)
			continue;
		for (size_t i = 0; i < len - 9; i++)
			if (name[i] < '0' || name[i] > '9')
				digits = false;
		if (!digits)
			continue;
		if (*n == max)
		{
			max *= 2;
			seqs = repalloc(seqs, sizeof(uint64) * max);
		}
		seqs[(*n)++] = strtoull(name, NULL, 10);
	}
	/* one per checkpoint of the chain: many, in a long one */
	if (*n > 1)
		qsort(seqs, *n, sizeof(uint64), SeqCmp);
	return seqs;
}

/* ------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------
 */

static void
SerializeHeader(StringInfo buf, const IvmCkptHeader *hdr)
{
	uint32		len_at;

	resetStringInfo(buf);
	appendBinaryStringInfo(buf, IVM_CKPT_MAGIC, IVM_CKPT_MAGIC_LEN);
	PutU16(buf, hdr->version);
	PutU16(buf, hdr->kind);
	len_at = buf->len;
	PutU32(buf, 0);				/* header length, set below */
	PutU32(buf, hdr->flags);
	PutU32(buf, 0);				/* reserved */
	PutU64(buf, hdr->chain);
	PutU64(buf, hdr->seq);
	PutU64(buf, (uint64) hdr->epoch);
	PutU64(buf, hdr->raw_len);
	PutU64(buf, hdr->stored_len);
	PutU64(buf, hdr->raw_sum);
	PutU64(buf, hdr->stored_sum);
	Assert(buf->len == HEADER_FIXED);
	PutBytes32(buf, hdr->object ? hdr->object : "");
	PutU32(buf, (uint32) hdr->ncols);
	for (int i = 0; i < hdr->ncols; i++)
	{
		PutBytes32(buf, hdr->colnames[i]);
		PutBytes32(buf, hdr->coltypes[i]);
	}
	{
		uint32		total = buf->len + 8;
		unsigned char *p = (unsigned char *) buf->data + len_at;

		for (int i = 0; i < 4; i++)
			p[i] = (total >> (8 * i)) & 0xff;
	}
	PutU64(buf, XXH3_64bits(buf->data, buf->len));
}

static void
FreeZstd(void *arg)
{
	IvmCkptWriter *w = (IvmCkptWriter *) arg;

	if (w->cctx)
		ZSTD_freeCCtx(w->cctx);
	w->cctx = NULL;
}

/* an XXH3 state needs 64-byte alignment, more than palloc promises */
static XXH3_state_t *
NewXxhState(void)
{
	char	   *mem = palloc(sizeof(XXH3_state_t) + 64);
	XXH3_state_t *state = (XXH3_state_t *) TYPEALIGN(64, mem);

	XXH3_64bits_reset(state);
	return state;
}

static void
WriteAll(IvmCkptWriter *w, const char *data, size_t len)
{
	while (len > 0)
	{
		ssize_t		n;

		errno = 0;
		n = write(w->fd, data, len);
		if (n <= 0)
		{
			if (errno == 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write checkpoint file \"%s\": %m", w->tmppath)));
		}
		data += n;
		len -= n;
	}
}

/*
 * IvmCkptOpenWriter
 *		Start writing dir/fname (under a temporary name).  hdr gives every
 *		field but the payload's lengths and checksums.
 */
IvmCkptWriter *
IvmCkptOpenWriter(const IvmCkptDir *dir, const char *fname, const IvmCkptHeader *hdr)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ivm checkpoint writer",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	IvmCkptWriter *w = palloc0(sizeof(IvmCkptWriter));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

	w->cxt = cxt;
	w->dir = dir;
	w->fname = pstrdup(fname);
	w->path = LocalPath(dir, fname);
	w->tmppath = psprintf("%s.tmp", w->path);
	w->hdr = *hdr;
	w->hdr.version = IVM_CKPT_VERSION;
	initStringInfo(&w->header);
	SerializeHeader(&w->header, &w->hdr);
	w->block = palloc(IVM_CKPT_BLOCK_SIZE);
	w->cbufsize = ZSTD_compressBound(IVM_CKPT_BLOCK_SIZE);
	w->cbuf = palloc(w->cbufsize);
	w->raw_state = NewXxhState();
	w->stored_state = NewXxhState();
	cb->func = FreeZstd;
	cb->arg = w;
	MemoryContextRegisterResetCallback(cxt, cb);
	w->cctx = ZSTD_createCCtx();
	if (w->cctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not create a zstd compression context.")));
	MemoryContextSwitchTo(old);

	w->fd = OpenTransientFile(w->tmppath, O_CREAT | O_TRUNC | O_WRONLY | PG_BINARY);
	if (w->fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create checkpoint file \"%s\": %m", w->tmppath)));
	WriteAll(w, w->header.data, w->header.len);
	return w;
}

/* compress and write the block being filled */
static void
FlushBlock(IvmCkptWriter *w)
{
	StringInfoData bh;
	const char *data = w->block;
	size_t		stored = w->blocklen;
	uint8		method = IVM_CKPT_BLOCK_RAW;
	size_t		c;

	if (w->blocklen == 0)
		return;
	c = ZSTD_compressCCtx(w->cctx, w->cbuf, w->cbufsize, w->block, w->blocklen,
						  IVM_CKPT_ZSTD_LEVEL);
	if (!ZSTD_isError(c) && c < w->blocklen)
	{
		data = w->cbuf;
		stored = c;
		method = IVM_CKPT_BLOCK_ZSTD;
	}
	initStringInfo(&bh);
	appendStringInfoChar(&bh, (char) method);
	PutU32(&bh, (uint32) w->blocklen);
	PutU32(&bh, (uint32) stored);
	XXH3_64bits_update(w->raw_state, w->block, w->blocklen);
	XXH3_64bits_update(w->stored_state, bh.data, bh.len);
	XXH3_64bits_update(w->stored_state, data, stored);
	WriteAll(w, bh.data, bh.len);
	WriteAll(w, data, stored);
	w->raw_len += w->blocklen;
	w->stored_len += bh.len + stored;
	w->blocklen = 0;
	pfree(bh.data);
}

void
IvmCkptWrite(IvmCkptWriter *w, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0)
	{
		size_t		n = Min(len, IVM_CKPT_BLOCK_SIZE - w->blocklen);

		memcpy(w->block + w->blocklen, p, n);
		w->blocklen += n;
		p += n;
		len -= n;
		if (w->blocklen == IVM_CKPT_BLOCK_SIZE)
			FlushBlock(w);
	}
}

/*
 * IvmCkptWriteRecord
 *		One record: weight, flags, the hash when given, the row when given.
 */
void
IvmCkptWriteRecord(IvmCkptWriter *w, int64 weight, const IvmCkptHash *hash,
				   const char *row, uint32 rowlen)
{
	unsigned char rec[8 + 1 + 16 + 4];
	int			len = 0;

	for (int i = 0; i < 8; i++)
		rec[len++] = ((uint64) weight >> (8 * i)) & 0xff;
	rec[len++] = (row ? IVM_CKPT_REC_ROW : 0) | (hash ? IVM_CKPT_REC_HASH : 0);
	if (hash)
	{
		for (int i = 0; i < 8; i++)
			rec[len++] = (hash->hi >> (8 * i)) & 0xff;
		for (int i = 0; i < 8; i++)
			rec[len++] = (hash->lo >> (8 * i)) & 0xff;
	}
	if (row)
		for (int i = 0; i < 4; i++)
			rec[len++] = (rowlen >> (8 * i)) & 0xff;
	IvmCkptWrite(w, rec, len);
	if (row)
		IvmCkptWrite(w, row, rowlen);
}

/*
 * IvmCkptCloseWriter
 *		Finish the file: last block, final header, rename into place durably.
 *		Returns the file's size; *raw_len the payload's raw size, *file_sum
 *		(when not NULL) the XXH3-64 of the whole file.
 */
uint64
IvmCkptCloseWriter(IvmCkptWriter *w, uint64 *raw_len, uint64 *file_sum)
{
	uint64		size;

	FlushBlock(w);
	w->hdr.raw_len = w->raw_len;
	w->hdr.stored_len = w->stored_len;
	w->hdr.raw_sum = XXH3_64bits_digest(w->raw_state);
	w->hdr.stored_sum = XXH3_64bits_digest(w->stored_state);
	{
		int			oldlen = w->header.len;

		SerializeHeader(&w->header, &w->hdr);
		Assert(w->header.len == oldlen);
		(void) oldlen;
	}
	if (lseek(w->fd, 0, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not seek in checkpoint file \"%s\": %m", w->tmppath)));
	WriteAll(w, w->header.data, w->header.len);
	size = w->header.len + w->stored_len;
	if (CloseTransientFile(w->fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close checkpoint file \"%s\": %m", w->tmppath)));
	w->fd = -1;

	/*
	 * The checksum of the whole file is what the next manifest links to;
	 * only manifests need it, and they are small: read the file back.
	 */
	if (file_sum)
	{
		IvmCkptHeader hdr;

		(void) ReadLocalFile(w->tmppath, IvmCkptPath(w->dir, w->fname),
							 (IvmCkptKind) w->hdr.kind, &hdr, file_sum);
	}
	if (w->dir->s3)
	{
		/* the object appears whole under its name, or not at all */
		IvmS3PutFile(w->dir->s3, IvmS3Key(w->dir->s3, w->fname), w->tmppath);
		if (unlink(w->tmppath) != 0)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", w->tmppath)));
	}
	else
		durable_rename(w->tmppath, w->path, ERROR);
	if (raw_len)
		*raw_len = w->raw_len;
	MemoryContextDelete(w->cxt);
	return size;
}

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------
 */

static const char *
KindName(int kind)
{
	switch (kind)
	{
		case IVM_CKPT_MANIFEST:
			return "manifest";
		case IVM_CKPT_ROWS:
			return "rows file";
		case IVM_CKPT_LOG:
			return "pending-log file";
	}
	return "file of unknown kind";
}

/* read a length-prefixed string of a header at *pos, within end */
static char *
GetString32(const char *buf, uint32 *pos, uint32 end, const char *path)
{
	uint32		len;
	char	   *s;

	if (*pos + 4 > end)
		IvmCkptCorrupt(path, "The header ends in the middle of a name.");
	len = GetU32(buf + *pos);
	*pos += 4;
	if (len > end - *pos)
		IvmCkptCorrupt(path, "The header ends in the middle of a name.");
	s = palloc(len + 1);
	memcpy(s, buf + *pos, len);
	s[len] = '\0';
	*pos += len;
	return s;
}

/*
 * IvmCkptReadFile
 *		Read dir/fname whole, check that it is an intact file of the given
 *		kind, and return its raw payload (with a zero byte after it); the
 *		header in *hdr, the XXH3-64 of the whole file in *file_sum when not
 *		NULL.  Any defect is an error naming the file.  A file of object
 *		storage is downloaded first, once per call (it stays in the staging
 *		directory while the call runs).
 */
char *
IvmCkptReadFile(const IvmCkptDir *dir, const char *fname, IvmCkptKind kind,
				IvmCkptHeader *hdr, uint64 *file_sum)
{
	char	   *path = IvmCkptPath(dir, fname);
	char	   *local = LocalPath(dir, fname);
	struct stat st;

	if (dir->s3 && stat(local, &st) != 0)
	{
		char	   *part = psprintf("%s.part", local);

		if (!IvmS3GetFile(dir->s3, IvmS3Key(dir->s3, fname), part, true))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("checkpoint file \"%s\" is missing", path),
					 errdetail("The manifest of the checkpoint lists it."),
					 errhint("Nothing was changed. Use an intact copy of the checkpoint directory.")));
		if (rename(part, local) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not rename file \"%s\": %m", part)));
	}
	return ReadLocalFile(local, path, kind, hdr, file_sum);
}

/*
 * ReadLocalFile
 *		IvmCkptReadFile of the file at local, which messages call path.
 */
static char *
ReadLocalFile(const char *local, const char *path, IvmCkptKind kind,
			  IvmCkptHeader *hdr, uint64 *file_sum)
{
	int			fd;
	struct stat st;
	char	   *buf;
	uint64		size;
	uint64		got = 0;
	uint32		header_len;
	uint32		pos;
	char	   *raw;
	uint64		raw_at = 0;
	uint64		at;

	fd = OpenTransientFile(local, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno == ENOENT)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("checkpoint file \"%s\" is missing", path),
					 errdetail("The manifest of the checkpoint lists it."),
					 errhint("Nothing was changed. Use an intact copy of the checkpoint directory.")));
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open checkpoint file \"%s\": %m", path)));
	}
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat checkpoint file \"%s\": %m", path)));
	size = (uint64) st.st_size;
	if (size < 16)
		IvmCkptCorrupt(path, "It is %llu bytes long, shorter than any checkpoint file header: it is truncated or not a checkpoint file.",
					   (unsigned long long) size);
	buf = palloc_extended(size, MCXT_ALLOC_HUGE);
	while (got < size)
	{
		ssize_t		n = read(fd, buf + got, Min(size - got, (uint64) 64 * 1024 * 1024));

		if (n < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read checkpoint file \"%s\": %m", path)));
		if (n == 0)
			break;
		got += n;
	}
	CloseTransientFile(fd);
	size = got;

	if (memcmp(buf, IVM_CKPT_MAGIC, IVM_CKPT_MAGIC_LEN) != 0)
		IvmCkptCorrupt(path, "It does not begin with the magic bytes of an ivm checkpoint file.");
	hdr->version = GetU16(buf + 8);
	if (hdr->version > IVM_CKPT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("checkpoint file \"%s\" has format version %u, newer than this version of ivm reads",
						path, hdr->version),
				 errdetail("This version of ivm reads checkpoint format versions up to %d.",
						   IVM_CKPT_VERSION),
				 errhint("Nothing was changed. Restore with the version of ivm that wrote the checkpoint, or a newer one.")));
	if (hdr->version == 0)
		IvmCkptCorrupt(path, "Its header says format version 0, which does not exist.");
	hdr->kind = GetU16(buf + 10);
	header_len = GetU32(buf + 12);
	if (header_len < HEADER_FIXED + 16 || header_len > size)
		IvmCkptCorrupt(path, "Its header claims %u bytes and the file has %llu: it is truncated or damaged.",
					   header_len, (unsigned long long) size);
	if (XXH3_64bits(buf, header_len - 8) != GetU64(buf + header_len - 8))
		IvmCkptCorrupt(path, "The checksum of its header does not match the header's contents.");
	if (hdr->kind != kind)
		IvmCkptCorrupt(path, "It is a %s where a %s was expected.", KindName(hdr->kind), KindName(kind));
	hdr->flags = GetU32(buf + 16);
	hdr->chain = GetU64(buf + 24);
	hdr->seq = GetU64(buf + 32);
	hdr->epoch = (int64) GetU64(buf + 40);
	hdr->raw_len = GetU64(buf + 48);
	hdr->stored_len = GetU64(buf + 56);
	hdr->raw_sum = GetU64(buf + 64);
	hdr->stored_sum = GetU64(buf + 72);
	pos = HEADER_FIXED;
	hdr->object = GetString32(buf, &pos, header_len - 8, path);
	if (pos + 4 > header_len - 8)
		IvmCkptCorrupt(path, "The header ends before its column list.");
	hdr->ncols = (int) GetU32(buf + pos);
	pos += 4;
	if (hdr->ncols < 0 || hdr->ncols > MaxHeapAttributeNumber)
		IvmCkptCorrupt(path, "The header lists %d columns.", hdr->ncols);
	hdr->colnames = palloc(sizeof(char *) * Max(hdr->ncols, 1));
	hdr->coltypes = palloc(sizeof(char *) * Max(hdr->ncols, 1));
	for (int i = 0; i < hdr->ncols; i++)
	{
		hdr->colnames[i] = GetString32(buf, &pos, header_len - 8, path);
		hdr->coltypes[i] = GetString32(buf, &pos, header_len - 8, path);
	}
	if (pos != header_len - 8)
		IvmCkptCorrupt(path, "Its header has %u bytes it does not account for.", header_len - 8 - pos);

	if (size < header_len + hdr->stored_len)
		IvmCkptCorrupt(path, "It is truncated: it has %llu bytes where its header says %llu.",
					   (unsigned long long) size,
					   (unsigned long long) (header_len + hdr->stored_len));
	if (size > header_len + hdr->stored_len)
		IvmCkptCorrupt(path, "It has %llu bytes after the end its header gives.",
					   (unsigned long long) (size - header_len - hdr->stored_len));
	if (XXH3_64bits(buf + header_len, hdr->stored_len) != hdr->stored_sum)
		IvmCkptCorrupt(path, "The checksum of its payload does not match: the file was damaged after it was written.");
	if (file_sum)
		*file_sum = XXH3_64bits(buf, size);

	/* the blocks */
	if (hdr->raw_len >= MaxAllocHugeSize)
		IvmCkptCorrupt(path, "Its header gives an impossible payload length.");
	raw = palloc_extended(hdr->raw_len + 1, MCXT_ALLOC_HUGE);
	at = header_len;
	while (at < size)
	{
		uint8		method;
		uint32		rlen;
		uint32		slen;

		if (size - at < BLOCK_HEADER)
			IvmCkptCorrupt(path, "Its last block is cut short.");
		method = (uint8) buf[at];
		rlen = GetU32(buf + at + 1);
		slen = GetU32(buf + at + 5);
		at += BLOCK_HEADER;
		if (slen > size - at || rlen > IVM_CKPT_BLOCK_SIZE || rlen > hdr->raw_len - raw_at)
			IvmCkptCorrupt(path, "A block at offset %llu has impossible lengths.",
						   (unsigned long long) (at - BLOCK_HEADER));
		if (method == IVM_CKPT_BLOCK_RAW)
		{
			if (slen != rlen)
				IvmCkptCorrupt(path, "A raw block's two lengths differ.");
			memcpy(raw + raw_at, buf + at, rlen);
		}
		else if (method == IVM_CKPT_BLOCK_ZSTD)
		{
			size_t		n = ZSTD_decompress(raw + raw_at, rlen, buf + at, slen);

			if (ZSTD_isError(n) || n != rlen)
				IvmCkptCorrupt(path, "A block does not decompress to its length: %s.",
							   ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length");
		}
		else
			IvmCkptCorrupt(path, "A block uses compression method %u, which does not exist.", method);
		raw_at += rlen;
		at += slen;
	}
	if (raw_at != hdr->raw_len)
		IvmCkptCorrupt(path, "Its blocks hold %llu bytes where its header says %llu.",
					   (unsigned long long) raw_at, (unsigned long long) hdr->raw_len);
	if (XXH3_64bits(raw, raw_at) != hdr->raw_sum)
		IvmCkptCorrupt(path, "The checksum of its decompressed payload does not match.");
	raw[raw_at] = '\0';
	pfree(buf);
	return raw;
}

/*
 * IvmCkptNextRecord
 *		Decode the record at *pos of a ROWS or LOG payload into *rec and
 *		advance; false at the end.  A record carries its row, its hash, or
 *		both; a row's hash is computed, and checked against a given one.
 */
bool
IvmCkptNextRecord(const char *payload, uint64 len, uint64 *pos,
				  IvmCkptRecord *rec, const char *path)
{
	uint64		start = *pos;
	uint8		flags;

	if (*pos >= len)
		return false;
	if (len - *pos < 9)
		IvmCkptCorrupt(path, "A record at offset %llu is cut short.", (unsigned long long) start);
	rec->weight = (int64) GetU64(payload + *pos);
	flags = (uint8) payload[*pos + 8];
	*pos += 9;
	if ((flags & ~(IVM_CKPT_REC_ROW | IVM_CKPT_REC_HASH)) != 0 || flags == 0)
		IvmCkptCorrupt(path, "A record at offset %llu has impossible flags.", (unsigned long long) start);
	rec->hasrow = (flags & IVM_CKPT_REC_ROW) != 0;
	rec->hashash = (flags & IVM_CKPT_REC_HASH) != 0;
	rec->row = NULL;
	rec->rowlen = 0;
	if (rec->hashash)
	{
		if (len - *pos < 16)
			IvmCkptCorrupt(path, "A record at offset %llu is cut short.", (unsigned long long) start);
		rec->hash.hi = GetU64(payload + *pos);
		rec->hash.lo = GetU64(payload + *pos + 8);
		*pos += 16;
	}
	if (rec->hasrow)
	{
		IvmCkptHash h;

		if (len - *pos < 4)
			IvmCkptCorrupt(path, "A record at offset %llu is cut short.", (unsigned long long) start);
		rec->rowlen = GetU32(payload + *pos);
		*pos += 4;
		if (rec->rowlen > len - *pos)
			IvmCkptCorrupt(path, "A row at offset %llu runs past the end of the payload.",
						   (unsigned long long) *pos);
		rec->row = payload + *pos;
		*pos += rec->rowlen;
		h = IvmCkptHashRow(rec->row, rec->rowlen);
		if (rec->hashash && (h.hi != rec->hash.hi || h.lo != rec->hash.lo))
			IvmCkptCorrupt(path, "The row at offset %llu does not match its hash.",
						   (unsigned long long) (*pos - rec->rowlen));
		rec->hash = h;
	}
	return true;
}

/*
 * IvmCkptRowColumns
 *		Split an encoded row into its ncols columns: values[i] points at the
 *		text of column i (not terminated), lens[i] its length or -1 for NULL.
 *		Returns the number of columns found, -1 when the row is malformed.
 */
int
IvmCkptRowColumns(const char *row, uint32 len, int ncols, const char **values, int *lens)
{
	uint32		pos = 0;
	int			i;

	for (i = 0; i < ncols && pos < len; i++)
	{
		int32		l;

		if (len - pos < 4)
			return -1;
		l = (int32) GetU32(row + pos);
		pos += 4;
		if (l < -1 || (l >= 0 && (uint32) l > len - pos))
			return -1;
		values[i] = l >= 0 ? row + pos : NULL;
		lens[i] = l;
		if (l > 0)
			pos += l;
	}
	if (pos != len)
		return -1;
	return i;
}

/* ------------------------------------------------------------------------
 * Rows as text
 * ------------------------------------------------------------------------
 */

/*
 * IvmCkptSetTextFormat
 *		Settings under which values are written and read back, whatever the
 *		session says: the caller has opened a GUC nest level.  Those pg_dump
 *		fixes on its connection, and a few more: ISO dates (read back the
 *		same under any DateStyle), postgres intervals, UTC (timestamptz
 *		written with its offset), floats that round-trip exactly, hex bytea,
 *		standard strings (for SQL text deparsed with literals), money in the
 *		C locale, XML as content.  Numbers do not depend on lc_numeric.
 *		ivm.checkpoint_full() writes the same settings at the top of its
 *		file for the values to be read back under them.
 */
void
IvmCkptSetTextFormat(void)
{
	static const char *const settings[][2] = {
		{"search_path", "pg_catalog, pg_temp"},
		{"DateStyle", "ISO, YMD"},
		{"IntervalStyle", "postgres"},
		{"TimeZone", "UTC"},
		{"extra_float_digits", "3"},
		{"bytea_output", "hex"},
		{"standard_conforming_strings", "on"},
		{"lc_monetary", "C"},
		{"xmloption", "content"},
		{"array_nulls", "on"},
		{"timezone_abbreviations", "Default"},
	};

	for (int i = 0; i < lengthof(settings); i++)
		(void) set_config_option(settings[i][0], settings[i][1], PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
}

IvmCkptHash
IvmCkptHashRow(const char *row, size_t len)
{
	XXH128_hash_t h = XXH3_128bits(row, len);
	IvmCkptHash r;

	r.hi = h.high64;
	r.lo = h.low64;
	return r;
}

int
IvmCkptHashCmp(const void *a, const void *b)
{
	const IvmCkptHash *x = a;
	const IvmCkptHash *y = b;

	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

/*
 * IvmCkptAddToFingerprint
 *		Add times copies of a row hash to a fingerprint (sum modulo 2^128);
 *		a negative times takes copies away.  The sum being linear, adding
 *		every record of a chain with its weight gives the fingerprint of the
 *		rows the chain rebuilds.
 */
void
IvmCkptAddToFingerprint(IvmCkptFingerprint *fp, IvmCkptHash h, int64 times)
{
	uint64		t = (uint64) times;

	fp->rows += t;
	if (times < 0)
	{
		/* add -h, |times| times */
		t = -t;
		h.lo = ~h.lo + 1;
		h.hi = ~h.hi + (h.lo == 0 ? 1 : 0);
	}
	while (t != 0)
	{
		if (t & 1)
		{
			uint64		lo = fp->sum.lo + h.lo;

			fp->sum.hi += h.hi + (lo < fp->sum.lo ? 1 : 0);
			fp->sum.lo = lo;
		}
		h.hi = (h.hi << 1) | (h.lo >> 63);
		h.lo <<= 1;
		t >>= 1;
	}
}

char *
IvmCkptFingerprintHex(const IvmCkptFingerprint *fp)
{
	return psprintf("%016llx%016llx", (unsigned long long) fp->sum.hi,
					(unsigned long long) fp->sum.lo);
}

/*
 * IvmCkptCollect
 *		Append the records of one ROWS payload (a base, or a delta) to
 *		entries, checking that their weights make sense for the file.
 *		Rows stay where they are, in the payload: a caller that needs them
 *		keeps the payload, one that needs only hashes may free it.
 */
void
IvmCkptCollect(IvmCkptEntries *entries, const char *payload, uint64 len,
			   const char *path, bool base)
{
	uint64		pos = 0;
	IvmCkptRecord rec;

	while (IvmCkptNextRecord(payload, len, &pos, &rec, path))
	{
		IvmCkptEntry *e;

		if (rec.weight == 0 || rec.hasrow != (rec.weight > 0) || (base && rec.weight < 0))
			IvmCkptCorrupt(path, "A record has weight %lld%s, impossible in a %s.",
						   (long long) rec.weight, rec.hasrow ? " and a row" : " and no row",
						   base ? "base" : "delta");
		if (entries->n == entries->max)
		{
			entries->max = Max(entries->max * 2, 1024);
			entries->e = entries->e
				? repalloc_huge(entries->e, sizeof(IvmCkptEntry) * entries->max)
				: palloc_extended(sizeof(IvmCkptEntry) * entries->max, MCXT_ALLOC_HUGE);
		}
		e = &entries->e[entries->n++];
		e->hash = rec.hash;
		e->weight = rec.weight;
		e->hasrow = rec.hasrow;
		e->row = rec.row;
		e->rowlen = rec.rowlen;
	}
}

static int
EntryCmp(const void *a, const void *b)
{
	return IvmCkptHashCmp(&((const IvmCkptEntry *) a)->hash, &((const IvmCkptEntry *) b)->hash);
}

/*
 * IvmCkptFold
 *		Replay collected records: sum the weights per row hash, keep the rows
 *		that end with a positive count, in hash order, at the front of the
 *		array (weight = their count, row = one record's copy).  Returns how
 *		many; *fp receives the fingerprint of the result.  A count below
 *		zero, or a row counted without any record carrying it, means the
 *		chain is damaged (path names the newest file).
 */
uint64
IvmCkptFold(IvmCkptEntries *entries, const char *object, const char *path,
			IvmCkptFingerprint *fp)
{
	uint64		out = 0;

	memset(fp, 0, sizeof(*fp));
	if (entries->n > 1)
		qsort(entries->e, entries->n, sizeof(IvmCkptEntry), EntryCmp);
	for (uint64 i = 0; i < entries->n;)
	{
		IvmCkptEntry folded = entries->e[i];
		uint64		j = i + 1;

		for (; j < entries->n && IvmCkptHashCmp(&entries->e[j].hash, &folded.hash) == 0; j++)
		{
			folded.weight += entries->e[j].weight;
			if (!folded.hasrow && entries->e[j].hasrow)
			{
				folded.hasrow = true;
				folded.row = entries->e[j].row;
				folded.rowlen = entries->e[j].rowlen;
			}
		}
		if (folded.weight < 0 || (folded.weight > 0 && !folded.hasrow))
			IvmCkptCorrupt(path, "Replaying the chain of %s leaves a row with %lld copies.",
						   object, (long long) folded.weight);
		if (folded.weight > 0)
		{
			IvmCkptAddToFingerprint(fp, folded.hash, folded.weight);
			entries->e[out++] = folded;
		}
		i = j;
	}
	entries->n = out;
	return out;
}

/*
 * IvmCkptScan
 *		Run a SELECT at snap through a cursor and hand each row, encoded, to
 *		fn (with the tuple, for columns it needs as values).  The first skip
 *		columns are not part of the encoding.  Returns the number of rows.
 *		runas is the owner of the relation read: the statement is planned,
 *		run and its values put in text form as that role, restricted, with
 *		row_security off (IvmBecomeReader), for planning it runs the
 *		relation's index and statistics expressions and the text form its
 *		types' output functions, the owner's code all of it.  InvalidOid
 *		only for ivm's own relations (ivm._seen), read as the present user,
 *		the owner of schema ivm.  The snapshot is snap whoever reads.
 *		Caller is connected to SPI and has set the text format; fn runs as
 *		runas too.
 */
uint64
IvmCkptScan(const char *sql, Snapshot snap, int skip, Oid runas, IvmCkptRowFn fn, void *arg)
{
	return IvmCkptScanArgs(sql, 0, NULL, NULL, snap, skip, runas, fn, arg);
}

/* the same, with parameters */
uint64
IvmCkptScanArgs(const char *sql, int nargs, Oid *argtypes, Datum *args, Snapshot snap,
				int skip, Oid runas, IvmCkptRowFn fn, void *arg)
{
	IvmUserSave save;
	uint64		n;

	if (!OidIsValid(runas))
		return ScanRows(sql, nargs, argtypes, args, snap, skip, fn, arg);
	IvmBecomeReader(runas, &save);
	n = ScanRows(sql, nargs, argtypes, args, snap, skip, fn, arg);
	IvmRestoreUser(&save);
	return n;
}

/* IvmCkptScanArgs as the current user */
static uint64
ScanRows(const char *sql, int nargs, Oid *argtypes, Datum *args, Snapshot snap,
		 int skip, IvmCkptRowFn fn, void *arg)
{
	MemoryContext scancxt = AllocSetContextCreate(CurrentMemoryContext, "ivm checkpoint scan",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext rowcxt = AllocSetContextCreate(scancxt, "ivm checkpoint row",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(scancxt);
	Portal		portal;
	FmgrInfo   *out = NULL;
	StringInfoData row;
	uint64		n = 0;

	initStringInfo(&row);
	PushActiveSnapshot(snap);
	portal = SPI_cursor_open_with_args(NULL, sql, nargs, argtypes, args, NULL, true,
									   CURSOR_OPT_NO_SCROLL);
	PopActiveSnapshot();
	if (portal == NULL)
		elog(ERROR, "ivm: could not open a cursor for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	for (;;)
	{
		TupleDesc	desc;

		SPI_cursor_fetch(portal, true, SCAN_BATCH);
		if (SPI_processed == 0)
			break;
		desc = SPI_tuptable->tupdesc;
		if (out == NULL)
		{
			MemoryContextSwitchTo(scancxt);
			out = palloc0(sizeof(FmgrInfo) * desc->natts);
			for (int i = skip; i < desc->natts; i++)
			{
				Oid			func;
				bool		varlena;

				getTypeOutputInfo(TupleDescAttr(desc, i)->atttypid, &func, &varlena);
				fmgr_info_cxt(func, &out[i], scancxt);
			}
		}
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];

			MemoryContextSwitchTo(rowcxt);
			resetStringInfo(&row);
			for (int i = skip; i < desc->natts; i++)
			{
				bool		isnull;
				Datum		value = heap_getattr(tup, i + 1, desc, &isnull);

				if (isnull)
					PutU32(&row, (uint32) -1);
				else
				{
					char	   *s = OutputFunctionCall(&out[i], value);

					PutBytes32(&row, s);
				}
			}
			/* the callback allocates what it keeps in the caller's context */
			MemoryContextSwitchTo(old);
			fn(row.data, row.len, tup, desc, arg);
			MemoryContextSwitchTo(scancxt);
			MemoryContextReset(rowcxt);
			n++;
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scancxt);
	return n;
}

/*
 * IvmCkptColumns
 *		The live columns of a relation in order: their quoted names joined
 *		by commas (returned), names and formatted types in *names, *types.
 *		Types are formatted as the relation's owner, restricted: a type
 *		modifier is formatted by its type's typmodout function.
 */
char *
IvmCkptColumns(Oid relid, bool quoted_list, List **names, List **types)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData buf;
	IvmUserSave save;
	ListCell   *lc;

	IvmBecome(rel->rd_rel->relowner, true, &save);
	initStringInfo(&buf);
	*names = NIL;
	*types = NIL;
	foreach(lc, IvmLiveColumns(desc))
	{
		Form_pg_attribute att = lfirst(lc);

		if (quoted_list)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
							 quote_identifier(NameStr(att->attname)));
		*names = lappend(*names, pstrdup(NameStr(att->attname)));
		*types = lappend(*types, format_type_with_typemod(att->atttypid, att->atttypmod));
	}
	IvmRestoreUser(&save);
	table_close(rel, AccessShareLock);
	return buf.data;
}

/* ------------------------------------------------------------------------
 * Manifests
 * ------------------------------------------------------------------------
 */

static JsonbValue *
JGet(JsonbContainer *c, const char *key, JsonbValue *v)
{
	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	return getKeyJsonValueFromContainer(c, key, strlen(key), v);
}

char *
IvmCkptJsonStr(JsonbContainer *c, const char *key, bool required, const char *path)
{
	JsonbValue	v;
	JsonbValue *r = JGet(c, key, &v);

	if (r == NULL || r->type == jbvNull)
	{
		if (required)
			IvmCkptCorrupt(path, "Its manifest lacks \"%s\".", key);
		return NULL;
	}
	if (r->type != jbvString)
		IvmCkptCorrupt(path, "\"%s\" in its manifest is not a string.", key);
	return pnstrdup(r->val.string.val, r->val.string.len);
}

int64
IvmCkptJsonInt(JsonbContainer *c, const char *key, const char *path)
{
	JsonbValue	v;
	JsonbValue *r = JGet(c, key, &v);

	if (r == NULL || r->type != jbvNumeric)
		IvmCkptCorrupt(path, "\"%s\" in its manifest is missing or not a number.", key);
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(r->val.numeric)));
}

bool
IvmCkptJsonBool(JsonbContainer *c, const char *key, const char *path)
{
	JsonbValue	v;
	JsonbValue *r = JGet(c, key, &v);

	if (r == NULL || r->type != jbvBool)
		IvmCkptCorrupt(path, "\"%s\" in its manifest is missing or not a boolean.", key);
	return r->val.boolean;
}

/* an object or array under key, or NULL when absent or null */
JsonbContainer *
IvmCkptJsonSub(JsonbContainer *c, const char *key, const char *path)
{
	JsonbValue	v;
	JsonbValue *r = JGet(c, key, &v);

	if (r == NULL || r->type == jbvNull)
		return NULL;
	if (r->type != jbvBinary)
		IvmCkptCorrupt(path, "\"%s\" in its manifest is not an object or array.", key);
	return r->val.binary.data;
}

/* "name type, ..." from an array of {"name", "type"} */
static char *
Signature(JsonbContainer *cols, const char *path)
{
	StringInfoData buf;
	int			n;

	initStringInfo(&buf);
	if (cols == NULL || !JsonContainerIsArray(cols))
		IvmCkptCorrupt(path, "An object of its manifest has no column list.");
	n = JsonContainerSize(cols);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(cols, i);

		if (e == NULL || e->type != jbvBinary)
			IvmCkptCorrupt(path, "A column of its manifest is not an object.");
		appendStringInfo(&buf, "%s%s %s", i > 0 ? ", " : "",
						 quote_identifier(IvmCkptJsonStr(e->val.binary.data, "name", true, path)),
						 IvmCkptJsonStr(e->val.binary.data, "type", true, path));
	}
	return buf.data;
}

/*
 * IvmCkptReadManifest
 *		Read and check manifest seq of dir: an intact file that says it is
 *		checkpoint seq, whose JSON agrees with its header.
 */
IvmCkptManifest *
IvmCkptReadManifest(const IvmCkptDir *dir, uint64 seq)
{
	IvmCkptManifest *m = palloc0(sizeof(IvmCkptManifest));
	char	   *fname = IvmCkptManifestName(seq);
	char	   *text;
	Jsonb	   *jb;
	JsonbContainer *objs;
	char	   *prev;

	m->path = IvmCkptPath(dir, fname);
	text = IvmCkptReadFile(dir, fname, IVM_CKPT_MANIFEST, &m->hdr, &m->file_sum);
	if (m->hdr.seq != seq)
		IvmCkptCorrupt(m->path, "It holds checkpoint %llu, not %llu: manifests were renamed or reordered.",
					   (unsigned long long) m->hdr.seq, (unsigned long long) seq);
	if (strlen(text) != m->hdr.raw_len || !pg_verifymbstr(text, strlen(text), true))
		IvmCkptCorrupt(m->path, "Its payload is not text.");
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	m->doc = jb;
	m->json = &jb->root;
	if (IvmCkptJsonInt(m->json, "format", m->path) != m->hdr.version ||
		IvmCkptParseHex64(IvmCkptJsonStr(m->json, "chain", true, m->path), m->path) != m->hdr.chain ||
		(uint64) IvmCkptJsonInt(m->json, "sequence", m->path) != m->hdr.seq ||
		IvmCkptJsonInt(m->json, "epoch", m->path) != m->hdr.epoch)
		IvmCkptCorrupt(m->path, "Its header and its contents disagree.");
	prev = IvmCkptJsonStr(m->json, "previous", false, m->path);
	m->has_previous = prev != NULL;
	if (prev)
		m->previous = IvmCkptParseHex64(prev, m->path);
	m->encoding = IvmCkptJsonStr(m->json, "encoding", true, m->path);

	objs = IvmCkptJsonSub(m->json, "objects", m->path);
	if (objs == NULL || !JsonContainerIsArray(objs))
		IvmCkptCorrupt(m->path, "Its manifest has no object list.");
	m->nobjects = JsonContainerSize(objs);
	m->objects = palloc0(sizeof(IvmCkptObject) * Max(m->nobjects, 1));
	for (int i = 0; i < m->nobjects; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(objs, i);
		IvmCkptObject *o = &m->objects[i];
		char	   *kind;
		JsonbContainer *file;
		JsonbContainer *chain;
		JsonbContainer *fp;

		if (e == NULL || e->type != jbvBinary)
			IvmCkptCorrupt(m->path, "An entry of its object list is not an object.");
		o->json = e->val.binary.data;
		kind = IvmCkptJsonStr(o->json, "kind", true, m->path);
		if (strcmp(kind, "view") == 0)
			o->kind = 'v';
		else if (strcmp(kind, "push") == 0)
			o->kind = 'p';
		else if (strcmp(kind, "seen") == 0)
			o->kind = 's';
		else if (strcmp(kind, "table") == 0)
			o->kind = 't';
		else
			IvmCkptCorrupt(m->path, "It lists an object of unknown kind \"%s\".", kind);
		o->schema = IvmCkptJsonStr(o->json, "schema", true, m->path);
		o->relname = IvmCkptJsonStr(o->json, "relname", true, m->path);
		o->name = quote_qualified_identifier(o->schema, o->relname);
		o->signature = Signature(IvmCkptJsonSub(o->json, "columns", m->path), m->path);
		file = IvmCkptJsonSub(o->json, "file", m->path);
		if (file)
		{
			char	   *type = IvmCkptJsonStr(file, "type", true, m->path);

			o->file = IvmCkptJsonStr(file, "name", true, m->path);
			o->file_base = strcmp(type, "base") == 0;
			if (!o->file_base && strcmp(type, "delta") != 0)
				IvmCkptCorrupt(m->path, "A file of its manifest has unknown type \"%s\".", type);
			o->file_records = IvmCkptJsonInt(file, "records", m->path);
			if (strchr(o->file, '/') != NULL)
				IvmCkptCorrupt(m->path, "It names a file outside its directory.");
		}
		file = IvmCkptJsonSub(o->json, "pending", m->path);
		if (file)
		{
			o->pending = IvmCkptJsonStr(file, "name", true, m->path);
			o->pending_records = IvmCkptJsonInt(file, "records", m->path);
			if (strchr(o->pending, '/') != NULL)
				IvmCkptCorrupt(m->path, "It names a file outside its directory.");
		}
		chain = IvmCkptJsonSub(o->json, "chain", m->path);
		if (chain)
		{
			if (!JsonContainerIsArray(chain) || JsonContainerSize(chain) == 0)
				IvmCkptCorrupt(m->path, "The chain of %s is not a list of files.", o->name);
			o->nchain = JsonContainerSize(chain);
			o->chain = palloc0(sizeof(IvmCkptChainFile) * o->nchain);
			for (int c = 0; c < o->nchain; c++)
			{
				JsonbValue *f = getIthJsonbValueFromContainer(chain, c);
				IvmCkptChainFile *cf = &o->chain[c];

				if (f == NULL || f->type != jbvBinary)
					IvmCkptCorrupt(m->path, "A file of the chain of %s is not an object.", o->name);
				cf->name = IvmCkptJsonStr(f->val.binary.data, "name", true, m->path);
				cf->base = strcmp(IvmCkptJsonStr(f->val.binary.data, "type", true, m->path), "base") == 0;
				cf->records = IvmCkptJsonInt(f->val.binary.data, "records", m->path);
				if (strchr(cf->name, '/') != NULL)
					IvmCkptCorrupt(m->path, "It names a file outside its directory.");
				if (cf->base != (c == 0))
					IvmCkptCorrupt(m->path, "The chain of %s does not begin with its one base.", o->name);
			}
		}
		fp = IvmCkptJsonSub(o->json, "fingerprint", m->path);
		if (fp)
		{
			char	   *sum = IvmCkptJsonStr(fp, "sum", true, m->path);

			if (strlen(sum) != 32)
				IvmCkptCorrupt(m->path, "The fingerprint of %s is malformed.", o->name);
			o->has_fingerprint = true;
			o->fingerprint.rows = (uint64) IvmCkptJsonInt(fp, "rows", m->path);
			o->fingerprint.sum.hi = IvmCkptParseHex64(pnstrdup(sum, 16), m->path);
			o->fingerprint.sum.lo = IvmCkptParseHex64(sum + 16, m->path);
		}
	}
	return m;
}

/*
 * IvmCkptDirArgument
 *		The directory argument (the first, named dir) of ivm.checkpoint,
 *		ivm.restore and ivm.checkpoint_manifest (fname, for messages): not
 *		null, allowed by the rules of server files (to write it, or to read
 *		it), canonical, and not the name of something that is not a
 *		directory.  A missing directory is left to the caller.  An s3:// URL
 *		names a prefix in object storage, under the same rights; its files
 *		pass through a staging directory (IvmCkptStagingDir).
 */
IvmCkptDir *
IvmCkptDirArgument(FunctionCallInfo fcinfo, const char *fname, bool write)
{
	IvmCkptDir *dir = palloc0(sizeof(IvmCkptDir));
	char	   *path;
	struct stat st;

	IvmCheckPreloaded();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"dir\" of %s must not be null", fname),
				 errhint("Give the absolute path of a checkpoint directory on the database server, or an s3://bucket/prefix URL.")));
	path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	IvmCheckServerFile(path, write);
	if (IvmS3IsUrl(path))
	{
		dir->s3 = IvmS3Parse(path, false);
		dir->name = dir->s3->url;
		dir->local = IvmCkptStagingDir();
		return dir;
	}
	canonicalize_path(path);
	dir->name = dir->local = path;

	/*
	 * ENOTDIR is 42809 in errcode_for_file_access(): say so in words before
	 * opendir() says "Not a directory" about a path the caller thinks is one.
	 */
	if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a directory", path),
				 errdetail("A checkpoint is a directory of files, one manifest per checkpoint."),
				 errhint(write ?
						 "Give the path of a directory: an empty or missing one starts a chain, one ivm.checkpoint() wrote continues it. "
						 "For a single SQL file, use ivm.checkpoint_full(path)." :
						 "Give the path of a directory ivm.checkpoint() wrote. "
						 "A file ivm.checkpoint_full() wrote is restored with psql -f.")));
	return dir;
}
