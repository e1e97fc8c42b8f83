/*-------------------------------------------------------------------------
 *
 * checkpoint.h
 *		What the three files of delta checkpoints share: the file format
 *		(ckptfile.c), writing a checkpoint (checkpoint.c) and restoring one
 *		(restore.c).  docs/checkpoint-format.md describes the format for
 *		readers outside the server; keep the two in step.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_CHECKPOINT_H
#define IVM_CHECKPOINT_H

#include "postgres.h"

#include "compat.h"
#include "s3.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/snapshot.h"

/* the first eight bytes of every checkpoint file */
#define IVM_CKPT_MAGIC			"IVMCKPT"	/* and its terminating zero byte */
#define IVM_CKPT_MAGIC_LEN		8
/* the format this code writes, and the newest it reads */
#define IVM_CKPT_VERSION		1
/* raw bytes per block of a payload; each block is compressed on its own */
#define IVM_CKPT_BLOCK_SIZE		(1024 * 1024)
/*
 * zstd level: 1, the fastest of the standard levels.  On 1M rows of view
 * storage (text, hashes) it compresses as well as level 3 and twice as fast,
 * and compression is most of the time a base checkpoint takes.
 */
#define IVM_CKPT_ZSTD_LEVEL		1
/* an object gets a new base when its chain would hold more delta files */
#define IVM_CKPT_MAX_DELTAS		32

/* what a file holds */
typedef enum IvmCkptKind
{
	IVM_CKPT_MANIFEST = 1,		/* one checkpoint: its objects, as JSON */
	IVM_CKPT_ROWS = 2,			/* a view's or push source's rows: base or delta */
	IVM_CKPT_LOG = 3			/* a source's pending delta-log rows */
} IvmCkptKind;

/* header flags */
#define IVM_CKPT_FLAG_BASE		0x0001	/* a ROWS file that replaces, not adds */

/* block compression methods */
#define IVM_CKPT_BLOCK_RAW		0
#define IVM_CKPT_BLOCK_ZSTD		1

/* payload record flags */
#define IVM_CKPT_REC_ROW		0x01	/* the row follows */
#define IVM_CKPT_REC_HASH		0x02	/* the row's hash follows the flags */

/* a 128-bit row hash (XXH3-128 of the row's encoding) */
typedef struct IvmCkptHash
{
	uint64		hi;
	uint64		lo;
} IvmCkptHash;

/* a file's header, decoded */
typedef struct IvmCkptHeader
{
	uint16		version;
	uint16		kind;			/* IvmCkptKind */
	uint32		flags;
	uint64		chain;			/* chain id, fixed by the first checkpoint */
	uint64		seq;			/* the checkpoint's sequence number */
	int64		epoch;			/* ivm's epoch at that checkpoint */
	uint64		raw_len;		/* payload bytes before compression */
	uint64		stored_len;		/* payload bytes in the file (blocks) */
	uint64		raw_sum;		/* XXH3-64 of the raw payload */
	uint64		stored_sum;		/* XXH3-64 of the stored payload */
	char	   *object;			/* the object, as in the manifest */
	int			ncols;
	char	  **colnames;
	char	  **coltypes;
} IvmCkptHeader;

/* one record of a ROWS or LOG payload */
typedef struct IvmCkptRecord
{
	int64		weight;
	IvmCkptHash hash;			/* given, or computed from the row */
	bool		hasrow;
	bool		hashash;		/* the hash was in the record */
	const char *row;			/* points into the payload */
	uint32		rowlen;
} IvmCkptRecord;

/* a record being replayed: a row hash, a weight, maybe the row */
typedef struct IvmCkptEntry
{
	IvmCkptHash hash;
	int64		weight;
	bool		hasrow;			/* a record carried the row */
	const char *row;			/* in its payload, when still there */
	uint32		rowlen;
} IvmCkptEntry;

/* a growing array of entries */
typedef struct IvmCkptEntries
{
	IvmCkptEntry *e;
	uint64		n;
	uint64		max;
} IvmCkptEntries;

/* the multiset fingerprint of some rows: count and sum of hashes mod 2^128 */
typedef struct IvmCkptFingerprint
{
	uint64		rows;
	IvmCkptHash sum;
} IvmCkptFingerprint;

/* one file of the chain of an object's rows */
typedef struct IvmCkptChainFile
{
	char	   *name;
	bool		base;
	int64		records;
} IvmCkptChainFile;

typedef struct IvmCkptWriter IvmCkptWriter;

/*
 * Where a chain of checkpoint files is: a directory of the server, or a
 * prefix in object storage.  Files of object storage are written and read
 * in a temporary directory of the server (under base/pgsql_tmp, removed
 * when the call ends): a file is uploaded once it is whole, and downloaded
 * before it is read.
 */
typedef struct IvmCkptDir
{
	char	   *name;			/* for messages: the directory, or s3://bucket/prefix */
	char	   *local;			/* where files are written and read */
	IvmS3Location *s3;			/* object storage, or NULL */
} IvmCkptDir;

/* a file of a checkpoint directory, as a listing finds it */
typedef struct IvmCkptFileInfo
{
	char	   *name;
	uint64		size;
} IvmCkptFileInfo;

/* an object as a manifest lists it */
typedef struct IvmCkptObject
{
	char		kind;			/* 'v' view, 'p' push source, 's' its dedup
								 * seen-set, 't' table source */
	char	   *name;			/* schema-qualified, quoted as needed */
	char	   *schema;
	char	   *relname;
	char	   *file;			/* ROWS file of this checkpoint, or NULL */
	bool		file_base;		/* that file is a base */
	int64		file_records;
	int			nchain;			/* the files that rebuild its rows: a base, */
	IvmCkptChainFile *chain;	/* then the deltas after it */
	bool		has_fingerprint;
	IvmCkptFingerprint fingerprint; /* of its rows (tables: of the table) */
	char	   *pending;		/* LOG file: the source's pending deltas */
	int64		pending_records;
	char	   *signature;		/* its columns as "name type, ..." */
	JsonbContainer *json;		/* the whole entry, for the rest */
} IvmCkptObject;

/* a manifest, decoded */
typedef struct IvmCkptManifest
{
	char	   *path;
	uint64		file_sum;		/* XXH3-64 of the whole file: what the next one links */
	IvmCkptHeader hdr;
	bool		has_previous;
	uint64		previous;		/* file_sum of the manifest before it */
	char	   *encoding;
	int			nobjects;
	IvmCkptObject *objects;
	Jsonb	   *doc;			/* the manifest itself */
	JsonbContainer *json;		/* its root */
} IvmCkptManifest;

/* ckptfile.c: files */
extern IvmCkptDir *IvmCkptDirArgument(FunctionCallInfo fcinfo, const char *fname, bool write);
extern char *IvmCkptStagingDir(void);
extern char *IvmCkptPath(const IvmCkptDir *dir, const char *fname);
extern char *IvmCkptManifestName(uint64 seq);
extern uint64 *IvmCkptListManifests(const IvmCkptDir *dir, int *n, bool missing_ok);
extern List *IvmCkptListFiles(const IvmCkptDir *dir);
extern void IvmCkptRemoveFile(const IvmCkptDir *dir, const char *fname);
extern IvmCkptWriter *IvmCkptOpenWriter(const IvmCkptDir *dir, const char *fname,
										const IvmCkptHeader *hdr);
extern void IvmCkptWrite(IvmCkptWriter *w, const void *data, size_t len);
extern void IvmCkptWriteRecord(IvmCkptWriter *w, int64 weight, const IvmCkptHash *hash,
							   const char *row, uint32 rowlen);
extern uint64 IvmCkptCloseWriter(IvmCkptWriter *w, uint64 *raw_len, uint64 *file_sum);
extern char *IvmCkptReadFile(const IvmCkptDir *dir, const char *fname, IvmCkptKind kind,
							 IvmCkptHeader *hdr, uint64 *file_sum);
extern bool IvmCkptNextRecord(const char *payload, uint64 len, uint64 *pos,
							  IvmCkptRecord *rec, const char *path);
extern int	IvmCkptRowColumns(const char *row, uint32 len, int ncols,
							  const char **values, int *lens);
IVM_NORETURN extern void IvmCkptCorrupt(const char *path, const char *fmt,...) pg_attribute_printf(2, 3);

/* ckptfile.c: replay */
extern void IvmCkptCollect(IvmCkptEntries *entries, const char *payload, uint64 len,
						   const char *path, bool base);
extern uint64 IvmCkptFold(IvmCkptEntries *entries, const char *object, const char *path,
						  IvmCkptFingerprint *fp);
extern void IvmCkptAddToFingerprint(IvmCkptFingerprint *fp, IvmCkptHash h, int64 times);
extern char *IvmCkptFingerprintHex(const IvmCkptFingerprint *fp);

/* ckptfile.c: rows as text */
extern void IvmCkptSetTextFormat(void);
extern IvmCkptHash IvmCkptHashRow(const char *row, size_t len);
extern int	IvmCkptHashCmp(const void *a, const void *b);
typedef void (*IvmCkptRowFn) (const char *row, uint32 len, HeapTuple tup,
							  TupleDesc desc, void *arg);
extern uint64 IvmCkptScan(const char *sql, Snapshot snap, int skip, Oid runas,
						  IvmCkptRowFn fn, void *arg);
extern uint64 IvmCkptScanArgs(const char *sql, int nargs, Oid *argtypes, Datum *args,
							  Snapshot snap, int skip, Oid runas, IvmCkptRowFn fn,
							  void *arg);
extern char *IvmCkptColumns(Oid relid, bool quoted_list, List **names, List **types);

/* ckptfile.c: manifests */
extern IvmCkptManifest *IvmCkptReadManifest(const IvmCkptDir *dir, uint64 seq);
extern char *IvmCkptJsonStr(JsonbContainer *c, const char *key, bool required,
							const char *path);
extern int64 IvmCkptJsonInt(JsonbContainer *c, const char *key, const char *path);
extern bool IvmCkptJsonBool(JsonbContainer *c, const char *key, const char *path);
extern JsonbContainer *IvmCkptJsonSub(JsonbContainer *c, const char *key, const char *path);
extern char *IvmCkptHex64(uint64 v);
extern uint64 IvmCkptParseHex64(const char *s, const char *path);

#endif							/* IVM_CHECKPOINT_H */
