/*-------------------------------------------------------------------------
 *
 * restore.c
 *		ivm.restore(dir): rebuild the push sources and incremental views of
 *		a checkpoint chain (checkpoint.c) in this database, with their
 *		contents, watches and the epoch, so that the next tick resumes where
 *		the checkpointed database left off.
 *
 * Two phases, in the caller's transaction:
 *	1. Check, changing nothing: every manifest of the chain (contiguous
 *	   from 1, one chain id, each linked to the one before by checksum),
 *	   every file the newest one needs (header, checksums, records, row
 *	   hashes), and the database: no relation in the way of a view, every
 *	   table source present.  Table sources are locked in SHARE mode (no
 *	   write can slip between the check and the capture triggers) and
 *	   fingerprinted; a table whose rows differ from the checkpoint's, or
 *	   that other views here capture already, is not trusted.
 *	2. Rebuild: push sources through ivm.create_source, with their rows
 *	   (the capture of loading them forgotten) and seen-sets; views in
 *	   level order through IvmCreateView (unpopulated), ownership, their
 *	   rows (base and deltas replayed: records summed by row hash), their
 *	   state, watches; pending delta-log rows of push sources and trusted
 *	   tables, pending TRUNCATEs; the epoch.  A view that reads an untrusted
 *	   table, whose storage columns came out different, or that reads a
 *	   view left empty, is marked for recompute: the next tick recomputes
 *	   it.
 * An error in either phase rolls the whole transaction back: a failed
 * restore changes nothing.
 *
 * What a checkpoint says is not trusted: anyone who may write files on the
 * server can write one, checksums and all (they catch damage, not intent).
 * So no name or text read from a manifest is executed as SQL: relation and
 * role names are quoted (IvmCkptObject.name is quote_qualified_identifier
 * of the manifest's schema and relname), values go as parameters, a push
 * source's column definitions are parsed and written again from their
 * parts (RestoreColumnDefinitions), a watch channel is checked, and a view's
 * query goes through IvmCreateView like the query of ivm.create_view:
 * parsed as exactly one SELECT, checked, deparsed.  A view is created as
 * the role that will own it, restricted (ivm's check of its query plans it,
 * and planning runs immutable functions): the caller must be a member of
 * that role, as for ALTER ... OWNER TO, and the role may create in the
 * view's schema.  Values are read back through their types' input
 * functions (a domain's CHECK may call a user's function) as the owner of
 * the relation they go into, restricted, as REFRESH runs a query; then
 * ivm's own rights write them.
 *
 * Rights, statement by statement (rights.c).  The work runs as the owner of
 * schema ivm (IvmCatalogBegin) but for what a user's code can reach:
 *	- the step lock, lookups in and writes to ivm._sources, ivm._views,
 *	  ivm._deps, ivm._watches, ivm._truncated, ivm._state and the seen-set
 *	  sequence, the list of a restored storage's indexes: ivm's owner; ivm's
 *	  catalog and PostgreSQL's, built-in functions only;
 *	- a table's fingerprint (CheckTable): the table's owner, restricted,
 *	  row_security off (IvmCkptScan), as the checkpoint computed it: planning
 *	  the read runs its index and statistics expressions, hashing its rows
 *	  its types' output functions;
 *	- ivm.create_source and ALTER TABLE ... OWNER TO of a push source: the
 *	  caller, as if it typed them (BecomeCaller);
 *	- a view's creation (IvmCreateView): its owner, restricted;
 *	- values read back (input functions, a domain's checks) and the INSERTs
 *	  of restored rows into storage, push sources, logs (InsertRows): the
 *	  owner of the relation they go into, restricted; into ivm._seen, ivm's
 *	  owner, whose table it is;
 *	- the size of restored aggregate storage (sum of its counts): the
 *	  storage's owner, restricted; dropping and building again the indexes
 *	  of restored storage: its owner, restricted (IvmInternalDdl);
 *	- the DELETE of a restored push source's captured rows from its log:
 *	  ivm's owner, who alone deletes from logs; a DELETE runs no index
 *	  expression, and a log has only ivm's indexes and triggers;
 *	- the column definitions of a push source (RestoreColumnDefinitions):
 *	  types looked up as the source's owner, restricted (typmodin).
 *
 * Memory: files are read whole; the rows of one view are held while it is
 * loaded, in a context deleted after it.  From object storage, each file
 * is downloaded once into a staging directory of the server (ckptfile.c)
 * that the end of the call removes: a restore needs disk for the files it
 * reads.
 *
 * Layer: work.  Calls view.c (views are declared again through
 * IvmCreateView), ckptfile.c, exec and rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/parser.h"
#include "parser/parse_type.h"
#include "utils/syscache.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "ivm.h"
#include "exec.h"
#include "work.h"
#include "checkpoint.h"

PG_FUNCTION_INFO_V1(ivm_restore);
PG_FUNCTION_INFO_V1(ivm_checkpoint_manifest);

#define RESTORE_RESULT_COLUMNS 11

/* one file of an object's chain */
typedef struct ChainFile
{
	IvmCkptManifest *manifest;	/* the checkpoint that wrote it */
	IvmCkptObject *entry;		/* its entry there */
} ChainFile;

/* one object of the newest manifest, as the restore sees it */
typedef struct RestoreObject
{
	IvmCkptObject *obj;
	List	   *chain;			/* ChainFile, oldest (a base) first */
	/* table sources */
	Oid			relid;
	bool		trusted;		/* same rows here, and not captured already */
	bool		matched;		/* same rows here */
	/* views */
	int			view_id;
	bool		loaded;			/* its rows came from the checkpoint */
} RestoreObject;

typedef struct RestoreState
{
	const IvmCkptDir *dir;
	MemoryContext spicxt;		/* lasts as long as the SPI connection */
	Oid			caller;			/* who called ivm.restore() */
	int			nmanifests;
	IvmCkptManifest **manifests;
	IvmCkptManifest *last;
	RestoreObject *objects;
	int			nobjects;
	/* results */
	int			views;
	int			push_sources;
	int			sources;
	int			sources_changed;
	uint64		rows;
	uint64		pending;
	int			watches;
	int			recompute;
} RestoreState;

static void
RestoreErrorContext(void *arg)
{
	errcontext("while restoring %s from a checkpoint", (const char *) arg);
}

/* what an object of the manifest is, for messages */
static const char *
KindName(char kind)
{
	switch (kind)
	{
		case 'v':
			return "incremental view";
		case 'p':
			return "push source";
		case 's':
			return "seen-set of push source";
		default:
			return "table";
	}
}

/* the columns of a file header as the manifest writes them */
static char *
HeaderSignature(IvmCkptHeader *hdr)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < hdr->ncols; i++)
		appendStringInfo(&buf, "%s%s %s", i > 0 ? ", " : "",
						 quote_identifier(hdr->colnames[i]), hdr->coltypes[i]);
	return buf.data;
}

/* the columns of a relation here, the same way */
static char *
RelationSignature(Oid relid)
{
	List	   *names;
	List	   *types;
	StringInfoData buf;
	ListCell   *lc1;
	ListCell   *lc2;

	(void) IvmCkptColumns(relid, false, &names, &types);
	initStringInfo(&buf);
	forboth(lc1, names, lc2, types)
		appendStringInfo(&buf, "%s%s %s", buf.len > 0 ? ", " : "",
						 quote_identifier(lfirst(lc1)), (char *) lfirst(lc2));
	return buf.data;
}

static IvmCkptObject *
FindEntry(IvmCkptManifest *m, char kind, const char *name)
{
	for (int i = 0; i < m->nobjects; i++)
		if (m->objects[i].kind == kind && strcmp(m->objects[i].name, name) == 0)
			return &m->objects[i];
	return NULL;
}

/*
 * ReadObjectFile
 *		Read one file of an object (fname, listed by manifest m as a base or
 *		not, with records records) and check that it is the file the
 *		manifest means: same chain, checkpoint, object, kind and columns,
 *		records that make sense.  Returns the raw payload; *hdr its header.
 */
static char *
ReadObjectFile(RestoreState *rs, IvmCkptManifest *m, IvmCkptObject *entry, const char *fname,
			   IvmCkptKind kind, bool base, int64 records, const char *signature,
			   IvmCkptHeader *hdr)
{
	char	   *path = IvmCkptPath(rs->dir, fname);
	char	   *raw = IvmCkptReadFile(rs->dir, fname, kind, hdr, NULL);
	uint64		pos = 0;
	int64		n = 0;
	IvmCkptRecord rec;

	if (hdr->chain != m->hdr.chain)
		IvmCkptCorrupt(path, "It belongs to checkpoint chain %s, not to chain %s of this directory: it was copied from another checkpoint directory.",
					   IvmCkptHex64(hdr->chain), IvmCkptHex64(m->hdr.chain));
	if (hdr->seq != m->hdr.seq)
		IvmCkptCorrupt(path, "It was written by checkpoint %llu, but checkpoint %llu lists it.",
					   (unsigned long long) hdr->seq, (unsigned long long) m->hdr.seq);
	if (strcmp(hdr->object, entry->name) != 0)
		IvmCkptCorrupt(path, "It holds \"%s\", but the manifest lists it for \"%s\".",
					   hdr->object, entry->name);
	if (kind == IVM_CKPT_ROWS && ((hdr->flags & IVM_CKPT_FLAG_BASE) != 0) != base)
		IvmCkptCorrupt(path, "It is a %s, but the manifest lists a %s.",
					   base ? "delta" : "base", base ? "base" : "delta");
	if (strcmp(HeaderSignature(hdr), signature) != 0)
		IvmCkptCorrupt(path, "Its columns (%s) are not those its manifest lists (%s).",
					   HeaderSignature(hdr), signature);

	/* every record: well formed, weights that make sense for the kind */
	while (IvmCkptNextRecord(raw, hdr->raw_len, &pos, &rec, path))
	{
		const char *values[MaxTupleAttributeNumber];
		int			lens[MaxTupleAttributeNumber];

		if (rec.weight == 0 ||
			(kind == IVM_CKPT_LOG && (!rec.hasrow || rec.weight < PG_INT32_MIN || rec.weight > PG_INT32_MAX)) ||
			(kind == IVM_CKPT_ROWS && rec.hasrow != (rec.weight > 0)) ||
			(kind == IVM_CKPT_ROWS && base && rec.weight < 0))
			IvmCkptCorrupt(path, "Record %lld has weight %lld, impossible in a %s.",
						   (long long) n + 1, (long long) rec.weight,
						   kind == IVM_CKPT_LOG ? "pending-log file" : base ? "base" : "delta");
		if (rec.hasrow &&
			IvmCkptRowColumns(rec.row, rec.rowlen, hdr->ncols, values, lens) != hdr->ncols)
			IvmCkptCorrupt(path, "Record %lld does not have the %d columns of its header.",
						   (long long) n + 1, hdr->ncols);
		n++;
	}
	if (n != records)
		IvmCkptCorrupt(path, "It holds %lld records where its manifest lists %lld.",
					   (long long) n, (long long) records);
	return raw;
}

/* one file of the chain of an object's rows */
static char *
ReadChainFile(RestoreState *rs, ChainFile *cf, const char *signature, IvmCkptHeader *hdr)
{
	return ReadObjectFile(rs, cf->manifest, cf->entry, cf->entry->file, IVM_CKPT_ROWS,
						  cf->entry->file_base, cf->entry->file_records, signature, hdr);
}

/*
 * ReadManifests
 *		Every manifest of the chain, checked and linked: 1..N without a gap,
 *		one chain id, each naming the checksum of the one before.
 */
static void
ReadManifests(RestoreState *rs)
{
	uint64	   *seqs = IvmCkptListManifests(rs->dir, &rs->nmanifests, false);

	if (rs->nmanifests == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("no checkpoint found in directory \"%s\"", rs->dir->name),
				 errhint("ivm.checkpoint() writes one; a checkpoint directory holds files named like 00000001.manifest.")));
	rs->manifests = palloc(sizeof(IvmCkptManifest *) * rs->nmanifests);
	for (int i = 0; i < rs->nmanifests; i++)
	{
		IvmCkptManifest *m;

		if (seqs[i] != (uint64) i + 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("checkpoint %d is missing from the chain in \"%s\"", i + 1, rs->dir->name),
					 errdetail("The directory holds the manifest of checkpoint %llu but not \"%s\".",
							   (unsigned long long) seqs[i], IvmCkptManifestName(i + 1)),
					 errhint("Nothing was changed. Use an intact copy of the checkpoint directory.")));
		m = IvmCkptReadManifest(rs->dir, i + 1);
		if (i == 0 && m->has_previous)
			IvmCkptCorrupt(m->path, "It is the first checkpoint of the directory but names a previous one: the chain was cut.");
		if (i > 0)
		{
			IvmCkptManifest *p = rs->manifests[i - 1];

			if (m->hdr.chain != p->hdr.chain)
				IvmCkptCorrupt(m->path, "It belongs to checkpoint chain %s, but checkpoint 1 of this directory to chain %s: it was copied from another checkpoint directory.",
							   IvmCkptHex64(m->hdr.chain), IvmCkptHex64(p->hdr.chain));
			if (!m->has_previous || m->previous != p->file_sum)
				IvmCkptCorrupt(m->path, "It does not follow the manifest of checkpoint %d (it names checksum %s, that file has %s): manifests were reordered or replaced.",
							   i, m->has_previous ? IvmCkptHex64(m->previous) : "none",
							   IvmCkptHex64(p->file_sum));
			if (m->hdr.epoch < p->hdr.epoch)
				IvmCkptCorrupt(m->path, "Its epoch is older than that of the checkpoint before it.");
		}
		rs->manifests[i] = m;
	}
	rs->last = rs->manifests[rs->nmanifests - 1];
	if (strcmp(rs->last->encoding, GetDatabaseEncodingName()) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the checkpoint was written in encoding %s, but this database uses %s",
						rs->last->encoding, GetDatabaseEncodingName()),
				 errhint("Restore into a database created with ENCODING '%s'.", rs->last->encoding)));
}

/*
 * BuildChain
 *		The files that rebuild an object's rows, as the newest manifest lists
 *		them (a base, then the deltas after it), each matched with the
 *		manifest of the checkpoint that wrote it, which must list it too.
 */
static void
BuildChain(RestoreState *rs, RestoreObject *ro)
{
	IvmCkptObject *o = ro->obj;
	List	   *chain = NIL;

	if (o->nchain == 0 || !o->has_fingerprint)
		IvmCkptCorrupt(rs->last->path, "It lists no chain of files for \"%s\".", o->name);
	for (int c = 0; c < o->nchain; c++)
	{
		IvmCkptChainFile *f = &o->chain[c];
		uint64		seq = strtoull(f->name, NULL, 10);
		IvmCkptManifest *m;
		IvmCkptObject *e;
		ChainFile  *cf;

		if (seq < 1 || seq > (uint64) rs->nmanifests)
			IvmCkptCorrupt(rs->last->path, "The chain of \"%s\" names \"%s\", a file of no checkpoint of the chain.",
						   o->name, f->name);
		m = rs->manifests[seq - 1];
		e = FindEntry(m, o->kind, o->name);
		if (e == NULL || e->file == NULL || strcmp(e->file, f->name) != 0 ||
			e->file_base != f->base || e->file_records != f->records ||
			strcmp(e->signature, o->signature) != 0)
			IvmCkptCorrupt(rs->last->path, "The chain of \"%s\" names \"%s\", which checkpoint %llu did not write for it.",
						   o->name, f->name, (unsigned long long) seq);
		cf = palloc(sizeof(ChainFile));
		cf->manifest = m;
		cf->entry = e;
		chain = lappend(chain, cf);
	}
	ro->chain = chain;
}

/* the columns of a table's delta log as its manifest entry lists them */
static char *
LogSignature(RestoreState *rs, IvmCkptObject *o)
{
	JsonbContainer *lc = IvmCkptJsonSub(o->json, "log_columns", rs->last->path);
	StringInfoData buf;
	int			n = lc ? JsonContainerSize(lc) : 0;

	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(lc, i);

		if (e == NULL || e->type != jbvBinary)
			IvmCkptCorrupt(rs->last->path, "A log column of %s is not an object.", o->name);
		appendStringInfo(&buf, "%s%s %s", i > 0 ? ", " : "",
						 quote_identifier(IvmCkptJsonStr(e->val.binary.data, "name", true, rs->last->path)),
						 IvmCkptJsonStr(e->val.binary.data, "type", true, rs->last->path));
	}
	return buf.data;
}

/*
 * RestoreColumnDefinitions
 *		The column definitions of push source o, as ivm.create_source()
 *		takes them, written again from their parts: each column's name
 *		quoted, its type looked up and formatted, its collation looked up,
 *		NOT NULL.  The manifest's text is parsed, never executed: anything
 *		else in it (a second statement, a default, a constraint, a table
 *		option) makes the file unusable.  The types are looked up and
 *		formatted as owner, who will own the table, restricted: a type
 *		modifier goes through its type's typmodin and typmodout functions.
 */
static char *
RestoreColumnDefinitions(RestoreState *rs, IvmCkptObject *o, Oid owner)
{
	const char *path = rs->last->path;
	char	   *defs = IvmCkptJsonStr(o->json, "column_definitions", true, path);
	List	   *parsed;
	CreateStmt *stmt;
	StringInfoData buf;
	ListCell   *lc;
	IvmUserSave save;

	parsed = raw_parser(psprintf("CREATE TABLE ivm_restore_check (%s)", defs), RAW_PARSE_DEFAULT);
	if (list_length(parsed) != 1 || !IsA(((RawStmt *) linitial(parsed))->stmt, CreateStmt))
		IvmCkptCorrupt(path, "The column definitions of %s are not a column list.", o->name);
	stmt = (CreateStmt *) ((RawStmt *) linitial(parsed))->stmt;
	if (stmt->inhRelations != NIL || stmt->partbound != NULL || stmt->partspec != NULL ||
		stmt->ofTypename != NULL || stmt->options != NIL || stmt->tablespacename != NULL ||
		stmt->accessMethod != NULL || stmt->oncommit != ONCOMMIT_NOOP || stmt->constraints != NIL ||
		stmt->tableElts == NIL)
		IvmCkptCorrupt(path, "The column definitions of %s hold more than columns.", o->name);

	initStringInfo(&buf);
	IvmBecome(owner, true, &save);
	foreach(lc, stmt->tableElts)
	{
		ColumnDef  *col = lfirst(lc);
		Oid			typid;
		int32		typmod;
		bool		notnull = false;
		ListCell   *lc2;

		if (!IsA(col, ColumnDef) || col->typeName == NULL || col->raw_default != NULL ||
			col->cooked_default != NULL || col->identity != 0 || col->generated != 0 ||
			col->fdwoptions != NIL || col->compression != NULL || col->storage != 0)
			IvmCkptCorrupt(path, "The column definitions of %s hold more than columns.", o->name);
		foreach(lc2, col->constraints)
		{
			Constraint *con = lfirst(lc2);

			if (con->contype == CONSTR_NOTNULL)
				notnull = true;
			else if (con->contype != CONSTR_NULL)
				IvmCkptCorrupt(path, "Column \"%s\" of %s has a constraint other than NOT NULL.",
							   col->colname, o->name);
		}
		typenameTypeIdAndMod(NULL, col->typeName, &typid, &typmod);
		appendStringInfo(&buf, "%s%s %s", buf.len > 0 ? ", " : "",
						 quote_identifier(col->colname), format_type_with_typemod(typid, typmod));
		if (col->collClause != NULL)
			appendStringInfo(&buf, " COLLATE %s",
							 generate_collation_name(LookupCollation(NULL, col->collClause->collname, -1)));
		if (notnull)
			appendStringInfoString(&buf, " NOT NULL");
	}
	IvmRestoreUser(&save);
	return buf.data;
}

/*
 * CheckRowsObject
 *		Phase 1 for a view, a push source or a seen-set: its files are
 *		intact, and for the first two nothing here is in the way of the
 *		relation it becomes (what, for messages).
 */
static void
CheckRowsObject(RestoreState *rs, RestoreObject *ro, const char *what)
{
	IvmCkptObject *o = ro->obj;
	ListCell   *lc;
	IvmCkptFingerprint fp;

	if (o->kind != 's')
	{
		Oid			nsp = get_namespace_oid(o->schema, true);
		char	   *owner = IvmCkptJsonStr(o->json, "owner", true, rs->last->path);
		Oid			owner_oid;

		if (!OidIsValid(nsp))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_SCHEMA),
					 errmsg("schema \"%s\" of %s %s does not exist", o->schema, what, o->name),
					 errhint("Create the schema, then restore again; nothing was changed.")));
		if (OidIsValid(get_relname_relid(o->relname, nsp)))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_TABLE),
					 errmsg("relation %s already exists", o->name),
					 errdetail("The checkpoint holds %s %s of that name.",
							   o->kind == 'v' ? "an" : "a", what),
					 errhint("Drop it or rename it, or restore into a database without it; nothing was changed.")));
		if (!OidIsValid(get_role_oid(owner, true)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("role \"%s\", owner of %s %s, does not exist", owner, what, o->name),
					 errhint("Create the role, then restore again; nothing was changed.")));
		owner_oid = get_role_oid(owner, false);
		/* what ALTER ... OWNER TO asks of its caller */
		if (!is_member_of_role(rs->caller, owner_oid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to restore %s %s, owned by role \"%s\"", what, o->name, owner),
					 errdetail("A restore creates each object for the role that owns it; only a member of that role may."),
					 errhint("Restore as a superuser or as a member of role \"%s\"; nothing was changed.", owner)));
		if (o->kind == 'v')
		{
			char	   *channel = IvmCkptJsonStr(o->json, "channel", false, rs->last->path);

			/* a view is created as its owner: the owner may create there */
			if (IvmNamespaceAclCheck(nsp, owner_oid, ACL_CREATE) != ACLCHECK_OK)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("role \"%s\", owner of %s %s, may not create in schema \"%s\"",
								owner, what, o->name, o->schema),
						 errdetail("A restore creates each incremental view as its owner, with the owner's rights."),
						 errhint("GRANT CREATE ON SCHEMA %s TO %s, then restore again; nothing was changed.",
								 quote_identifier(o->schema), quote_identifier(owner))));
			/* a channel every tick could not notify would stop every tick */
			if (channel != NULL && (channel[0] == '\0' || strlen(channel) >= NAMEDATALEN))
				IvmCkptCorrupt(rs->last->path, "The watch channel of %s is empty or longer than %d bytes.",
							   o->name, NAMEDATALEN - 1);
		}
		else
			(void) RestoreColumnDefinitions(rs, o, owner_oid);
	}

	/*
	 * The chain: every file intact, and together the rows recorded (the
	 * fingerprint being a sum, the records' weighted hashes add up to it;
	 * a negative count, which the sum cannot see, stops the load below).
	 */
	memset(&fp, 0, sizeof(fp));
	BuildChain(rs, ro);
	foreach(lc, ro->chain)
	{
		ChainFile  *cf = lfirst(lc);
		IvmCkptHeader hdr;
		char	   *raw = ReadChainFile(rs, cf, o->signature, &hdr);
		char	   *path = IvmCkptPath(rs->dir, cf->entry->file);
		uint64		pos = 0;
		IvmCkptRecord rec;

		while (IvmCkptNextRecord(raw, hdr.raw_len, &pos, &rec, path))
			IvmCkptAddToFingerprint(&fp, rec.hash, rec.weight);
		pfree(raw);
	}
	if (fp.rows != o->fingerprint.rows || IvmCkptHashCmp(&fp.sum, &o->fingerprint.sum) != 0)
		IvmCkptCorrupt(rs->last->path, "Replaying the files of \"%s\" gives %lld rows, not the %llu rows it recorded.",
					   o->name, (long long) fp.rows, (unsigned long long) o->fingerprint.rows);
	if (o->pending)
	{
		IvmCkptHeader hdr;

		pfree(ReadObjectFile(rs, rs->last, o, o->pending, IVM_CKPT_LOG, false,
							 o->pending_records, LogSignature(rs, o), &hdr));
	}
}

/* a table's fingerprint, as checkpoint.c computes it */
static void
FingerprintRow(const char *row, uint32 len, HeapTuple tup, TupleDesc desc, void *arg)
{
	IvmCkptAddToFingerprint((IvmCkptFingerprint *) arg, IvmCkptHashRow(row, len), 1);
}

/*
 * CheckTable
 *		Phase 1 for a table source: it exists; lock it against writes until
 *		the restore commits; find whether it holds the checkpoint's rows.
 */
static void
CheckTable(RestoreState *rs, RestoreObject *ro)
{
	IvmCkptObject *o = ro->obj;
	Oid			nsp = get_namespace_oid(o->schema, true);
	char		kind;
	AclResult	acl;

	ro->relid = OidIsValid(nsp) ? get_relname_relid(o->relname, nsp) : InvalidOid;
	kind = OidIsValid(ro->relid) ? get_rel_relkind(ro->relid) : '\0';
	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table %s, which incremental views of the checkpoint read, does not exist", o->name),
				 errdetail("A checkpoint holds views and push sources, not the tables views read."),
				 errhint("Create and load the table (say with pg_dump -t), then restore again; nothing was changed.")));
	acl = pg_class_aclcheck(ro->relid, rs->caller, ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, o->relname);
	LockRelationOid(ro->relid, ShareLock);

	if (!o->has_fingerprint)
		IvmCkptCorrupt(rs->last->path, "Table %s has no fingerprint.", o->name);
	if (strcmp(RelationSignature(ro->relid), o->signature) == 0)
	{
		IvmCkptFingerprint fp;
		List	   *names;
		List	   *types;
		char	   *cols = IvmCkptColumns(ro->relid, true, &names, &types);
		Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());

		/*
		 * The latest snapshot: taken after the lock, it sees every write.  As
		 * the table's owner, restricted (IvmCkptScan), as the checkpoint read
		 * it: planning the read runs its index and statistics expressions,
		 * hashing its rows its types' output functions.
		 */
		memset(&fp, 0, sizeof(fp));
		(void) IvmCkptScan(psprintf("SELECT %s FROM %s", cols,
									IvmLockedTableName(ro->relid, ShareLock)), snap, 0,
						   IvmRelationOwner(ro->relid), FingerprintRow, &fp);
		UnregisterSnapshot(snap);
		ro->matched = fp.rows == o->fingerprint.rows &&
			IvmCkptHashCmp(&fp.sum, &o->fingerprint.sum) == 0;
	}

	/* captured already: its log holds this database's deltas, not ours */
	{
		Oid			types[1] = {OIDOID};
		Datum		args[1] = {ObjectIdGetDatum(ro->relid)};
		int			rc = SPI_execute_with_args("SELECT 1 FROM ivm._sources WHERE relid = $1",
											   1, types, args, NULL, true, 0);

		IvmSpiCheck(rc, SPI_OK_SELECT, "looking up a source");
		ro->trusted = ro->matched && SPI_processed == 0;
	}
	if (!ro->matched)
		ereport(NOTICE,
				(errmsg("table %s does not hold the rows it held at the checkpoint; the views that read it will be recomputed",
						o->name)));
	else if (!ro->trusted)
		ereport(NOTICE,
				(errmsg("table %s is captured already in this database; the restored views that read it will be recomputed",
						o->name)));

	if (o->pending)
	{
		IvmCkptHeader hdr;

		pfree(ReadObjectFile(rs, rs->last, o, o->pending, IVM_CKPT_LOG, false,
							 o->pending_records, LogSignature(rs, o), &hdr));
	}
}

/* ------------------------------------------------------------------------
 * Phase 2
 * ------------------------------------------------------------------------
 */

/*
 * InsertRows
 *		INSERT the rows of ts (shaped like relid, which has no dropped
 *		columns) into relid, as its owner, restricted (the support functions
 *		of its indexes and its columns' domain checks run with that owner's
 *		rights); as maintenance when it is view storage or a delta log
 *		(their guards admit only that).  Caller runs as the owner of schema
 *		ivm.
 */
static void
InsertRows(RestoreState *rs, Oid relid, Tuplestorestate *ts, TupleDesc desc, uint64 n,
		   bool storage)
{
	char	   *sql;
	int			rc;
	MemoryContext old;
	Oid			save_maintained;
	IvmUserSave save;

	if (n == 0)
		return;
	/* SPI keeps its registry of named relations in the current context */
	old = MemoryContextSwitchTo(rs->spicxt);
	IvmRegisterTuplestore("ivm_restored", ts, desc);
	sql = psprintf("INSERT INTO %s SELECT * FROM ivm_restored",
				   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											  get_rel_name(relid)));
	save_maintained = ivm_maintained_rel;
	if (storage)
		ivm_maintained_rel = relid;
	IvmBecomeOwnerOf(relid, &save);
	PG_TRY();
	{
		rc = SPI_execute(sql, false, 0);
	}
	PG_FINALLY();
	{
		ivm_maintained_rel = save_maintained;
	}
	PG_END_TRY();
	IvmRestoreUser(&save);
	IvmSpiCheck(rc, SPI_OK_INSERT, "inserting restored rows");
	rc = SPI_unregister_relation("ivm_restored");
	IvmSpiCheck(rc, SPI_OK_REL_UNREGISTER, "unregistering restored rows");
	MemoryContextSwitchTo(old);
}

/*
 * DropIndexes
 *		Drop the indexes of a relation this restore created and is about to
 *		fill (built once after the load, they cost a fraction of being kept
 *		up to date row by row); returns the statements that build them again.
 *		The catalog is read as the owner of schema ivm (the indexes ivm made
 *		on view storage list columns: deparsing them writes no constant);
 *		they are dropped, and built again by LoadRows, as the relation's
 *		owner, restricted (IvmInternalDdl).
 */
static List *
DropIndexes(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};
	List	   *defs = NIL;
	List	   *names = NIL;
	ListCell   *lc;
	int			rc;

	rc = SPI_execute_with_args("SELECT pg_catalog.pg_get_indexdef(i.indexrelid), "
							   "i.indexrelid::pg_catalog.regclass::pg_catalog.text "
							   "FROM pg_catalog.pg_index i WHERE i.indrelid = $1",
							   1, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing the indexes of restored storage");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		defs = lappend(defs, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1));
		names = lappend(names, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2));
	}
	foreach(lc, names)
		IvmInternalDdl(psprintf("DROP INDEX %s", (char *) lfirst(lc)), IvmRelationOwner(relid),
					   "dropping an index of restored storage");
	return defs;
}

/* input functions for the columns of desc */
typedef struct Inputs
{
	FmgrInfo   *fn;
	Oid		   *ioparam;
} Inputs;

static Inputs
MakeInputs(TupleDesc desc)
{
	Inputs		in;

	in.fn = palloc0(sizeof(FmgrInfo) * desc->natts);
	in.ioparam = palloc0(sizeof(Oid) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
	{
		Oid			func;

		getTypeInputInfo(TupleDescAttr(desc, i)->atttypid, &func, &in.ioparam[i]);
		fmgr_info(func, &in.fn[i]);
	}
	return in;
}

/* one column of an encoded row, through its type's input function */
static Datum
InputValue(Inputs *in, TupleDesc desc, int i, const char *text, int len, bool *isnull)
{
	char	   *s;

	*isnull = (len < 0);
	if (len < 0)
		return (Datum) 0;
	s = pnstrdup(text, len);
	return InputFunctionCall(&in->fn[i], s, in->ioparam[i], TupleDescAttr(desc, i)->atttypmod);
}

/*
 * LoadRows
 *		Replay an object's chain (base, then deltas; weights summed per row
 *		hash) into relid: a view's storage, a push source (as maintenance),
 *		or ivm._seen.  Columns go by name; a column the files lack takes
 *		fixed_value when it is fixed_col.  Values are read through their
 *		types' input functions as role, restricted (InvalidOid: ivm's own
 *		types, as the present user).  Returns the rows stored.
 */
static uint64
LoadRows(RestoreState *rs, RestoreObject *ro, Oid relid, Oid role, bool maintenance,
		 const char *fixed_col, Datum fixed_value, bool rebuild_indexes)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ivm restore rows",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext rowcxt = AllocSetContextCreate(cxt, "ivm restore row", ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	IvmCkptEntries entries = {NULL, 0, 0};
	IvmCkptFingerprint fp;
	uint64		n;
	ListCell   *lc;
	Relation	rel = table_open(relid, RowExclusiveLock);
	TupleDesc	desc = CreateTupleDescCopy(RelationGetDescr(rel));
	Inputs		in = MakeInputs(desc);
	Tuplestorestate *ts = tuplestore_begin_heap(false, false, work_mem);
	uint64		stored = 0;
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	int		   *map = palloc(sizeof(int) * desc->natts);
	const char **texts = NULL;
	int		   *lens = NULL;
	int			ncols = 0;
	uint64		batch = 0;
	List	   *indexes = NIL;
	ListCell   *ilc;
	IvmUserSave usave;

	table_close(rel, NoLock);

	/* the records of the chain, the payloads kept: rows point into them */
	foreach(lc, ro->chain)
	{
		ChainFile  *cf = lfirst(lc);
		IvmCkptHeader hdr;
		char	   *raw = ReadChainFile(rs, cf, ro->obj->signature, &hdr);

		if (texts == NULL)
		{
			/* where each column of the relation comes from */
			ncols = hdr.ncols;
			texts = palloc(sizeof(char *) * Max(ncols, 1));
			lens = palloc(sizeof(int) * Max(ncols, 1));
			for (int c = 0; c < desc->natts; c++)
			{
				const char *name = NameStr(TupleDescAttr(desc, c)->attname);

				map[c] = -1;
				for (int f = 0; f < ncols && map[c] < 0; f++)
					if (strcmp(hdr.colnames[f], name) == 0)
						map[c] = f;
				if (map[c] < 0 && (fixed_col == NULL || strcmp(name, fixed_col) != 0))
					elog(ERROR, "ivm: restored relation %s has a column \"%s\" the checkpoint lacks",
						 ro->obj->name, name);
			}
		}
		IvmCkptCollect(&entries, raw, hdr.raw_len, IvmCkptPath(rs->dir, cf->entry->file),
					   cf->entry->file_base);
	}
	n = IvmCkptFold(&entries, ro->obj->name, rs->last->path, &fp);
	if (fp.rows != ro->obj->fingerprint.rows ||
		IvmCkptHashCmp(&fp.sum, &ro->obj->fingerprint.sum) != 0)
		IvmCkptCorrupt(rs->last->path, "Replaying the files of \"%s\" does not give the rows it recorded.",
					   ro->obj->name);

	for (uint64 i = 0; i < n; i++)
	{
		IvmCkptEntry *e = &entries.e[i];
		HeapTuple	tup;

		MemoryContextSwitchTo(rowcxt);
		if (IvmCkptRowColumns(e->row, e->rowlen, ncols, texts, lens) != ncols)
			elog(ERROR, "ivm: a checked row of %s does not have %d columns", ro->obj->name, ncols);
		if (OidIsValid(role))
			IvmBecome(role, true, &usave);
		for (int c = 0; c < desc->natts; c++)
		{
			if (map[c] >= 0)
				values[c] = InputValue(&in, desc, c, texts[map[c]], lens[map[c]], &nulls[c]);
			else
			{
				values[c] = fixed_value;
				nulls[c] = false;
			}
		}
		if (OidIsValid(role))
			IvmRestoreUser(&usave);
		tup = heap_form_tuple(desc, values, nulls);
		for (int64 k = 0; k < e->weight; k++)
			tuplestore_puttuple(ts, tup);
		MemoryContextSwitchTo(cxt);
		MemoryContextReset(rowcxt);
		stored += e->weight;
		batch += e->weight;
		/* in batches, so that the rows stay in memory */
		if (batch >= 50000)
		{
			if (rebuild_indexes && indexes == NIL)
				indexes = DropIndexes(relid);
			InsertRows(rs, relid, ts, desc, batch, maintenance);
			tuplestore_clear(ts);
			batch = 0;
		}
		CHECK_FOR_INTERRUPTS();
	}
	InsertRows(rs, relid, ts, desc, batch, maintenance);
	foreach(ilc, indexes)
		IvmInternalDdl((char *) lfirst(ilc), IvmRelationOwner(relid),
					   "building an index of restored storage");
	tuplestore_end(ts);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return stored;
}

/*
 * LoadPendingRows
 *		The delta-log rows a table had at the checkpoint, into its log here;
 *		columns by name, NULL for a column the file lacks or types apart.
 */
static uint64
LoadPendingRows(RestoreState *rs, RestoreObject *ro)
{
	IvmCkptObject *o = ro->obj;
	IvmCkptHeader hdr;
	char	   *path = IvmCkptPath(rs->dir, o->pending);
	char	   *raw;
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(ro->relid)};
	int			rc;
	bool		isnull;
	Oid			logrel;
	Relation	rel;
	TupleDesc	desc;
	Inputs		in;
	int		   *map;
	Tuplestorestate *ts;
	uint64		pos = 0;
	uint64		n = 0;
	IvmCkptRecord rec;
	Datum	   *values;
	bool	   *nulls;
	const char **texts;
	int		   *lens;
	Oid			owner = IvmRelationOwner(ro->relid);
	IvmUserSave usave;

	/* rows in a log: the next tick must look (tick.c's fast path) */
	IvmChangedAtCommit();
	rc = SPI_execute_with_args("SELECT logrel::oid FROM ivm._sources WHERE relid = $1",
							   1, types, args, NULL, false, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "finding a delta log");
	if (SPI_processed != 1)
		elog(ERROR, "ivm: restored source %s has no delta log", o->name);
	logrel = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	raw = ReadObjectFile(rs, rs->last, o, o->pending, IVM_CKPT_LOG, false, o->pending_records,
						 LogSignature(rs, o), &hdr);
	rel = table_open(logrel, RowExclusiveLock);
	desc = CreateTupleDescCopy(RelationGetDescr(rel));
	table_close(rel, NoLock);
	in = MakeInputs(desc);
	map = palloc(sizeof(int) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		char	   *type = format_type_with_typemod(att->atttypid, att->atttypmod);

		map[i] = -1;
		if (strcmp(NameStr(att->attname), IVM_WEIGHT_COLUMN) == 0)
			map[i] = -2;
		for (int c = 0; c < hdr.ncols && map[i] == -1; c++)
			if (strcmp(hdr.colnames[c], NameStr(att->attname)) == 0 &&
				strcmp(hdr.coltypes[c], type) == 0)
				map[i] = c;
	}
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	texts = palloc(sizeof(char *) * Max(hdr.ncols, 1));
	lens = palloc(sizeof(int) * Max(hdr.ncols, 1));
	ts = tuplestore_begin_heap(false, false, work_mem);
	while (IvmCkptNextRecord(raw, hdr.raw_len, &pos, &rec, path))
	{
		(void) IvmCkptRowColumns(rec.row, rec.rowlen, hdr.ncols, texts, lens);
		/* the table's types, read as its owner */
		IvmBecome(owner, true, &usave);
		for (int i = 0; i < desc->natts; i++)
		{
			if (map[i] == -2)
			{
				values[i] = Int32GetDatum((int32) rec.weight);
				nulls[i] = false;
			}
			else if (map[i] >= 0)
				values[i] = InputValue(&in, desc, i, texts[map[i]], lens[map[i]], &nulls[i]);
			else
			{
				values[i] = (Datum) 0;
				nulls[i] = true;
			}
		}
		IvmRestoreUser(&usave);
		tuplestore_putvalues(ts, desc, values, nulls);
		n++;
	}
	/* as maintenance: the log's guard admits only ivm */
	InsertRows(rs, logrel, ts, desc, n, true);
	tuplestore_end(ts);
	return n;
}

/* act as the caller of ivm.restore() again, saving the present user in *save */
static void
BecomeCaller(IvmUserSave *catalog_save, IvmUserSave *save)
{
	GetUserIdAndSecContext(&save->userid, &save->sec_context);
	SetUserIdAndSecContext(catalog_save->userid, catalog_save->sec_context);
}

/*
 * RestoreView
 *		Phase 2 for a view: create it (as the caller, unpopulated), hand it
 *		to its owner, load its rows, set its state and watch.
 */
static void
RestoreView(RestoreState *rs, RestoreObject *ro, IvmUserSave *catalog_save)
{
	IvmCkptObject *o = ro->obj;
	const char *path = rs->last->path;
	char	   *owner = IvmCkptJsonStr(o->json, "owner", true, path);
	char	   *query = IvmCkptJsonStr(o->json, "query", true, path);
	char	   *options = IvmCkptJsonStr(o->json, "options", false, path);
	char	   *channel = IvmCkptJsonStr(o->json, "channel", false, path);
	bool		populated = IvmCkptJsonBool(o->json, "populated", path);
	bool		recompute = IvmCkptJsonBool(o->json, "needs_recompute", path);
	JsonbContainer *vcols = IvmCkptJsonSub(o->json, "view_columns", path);
	List	   *colnames = NIL;
	Oid			viewoid;
	Oid			storage;
	bool		agg;
	uint64		rows = 0;
	int64		size = 0;
	int			rc;
	bool		isnull;
	IvmUserSave save;
	Oid			owner_oid;

	if (vcols == NULL || !JsonContainerIsArray(vcols))
		IvmCkptCorrupt(path, "View %s has no column names.", o->name);
	for (int i = 0; i < (int) JsonContainerSize(vcols); i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(vcols, i);

		if (e == NULL || e->type != jbvString)
			IvmCkptCorrupt(path, "A column name of view %s is not a string.", o->name);
		colnames = lappend(colnames, makeString(pnstrdup(e->val.string.val, e->val.string.len)));
	}

	/*
	 * As its owner, restricted (phase 1 checked that the caller may act for
	 * it): the query is parsed and checked as ivm.create_view() checks it,
	 * and ivm's trial run of it, which plans it and so may run the owner's
	 * functions, has the owner's rights, not the caller's.
	 */
	owner_oid = get_role_oid(owner, false);
	IvmBecome(owner_oid, true, &save);
	viewoid = IvmCreateView(o->name, query, colnames, NULL, false, options, NULL);
	IvmRestoreUser(&save);

	{
		Oid			types[1] = {OIDOID};
		Datum		args[1] = {ObjectIdGetDatum(viewoid)};

		rc = SPI_execute_with_args("SELECT id, storagerel::oid FROM ivm._views WHERE viewrel = $1",
								   1, types, args, NULL, false, 1);
		IvmSpiCheck(rc, SPI_OK_SELECT, "looking up a restored view");
		if (SPI_processed != 1)
			elog(ERROR, "ivm: restored view %s is not in ivm._views", o->name);
		ro->view_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		storage = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	agg = get_attnum(storage, IVM_COUNT_COLUMN) != InvalidAttrNumber;

	/* its rows, when its storage here is what was checkpointed */
	if (strcmp(RelationSignature(storage), o->signature) == 0)
	{
		rows = LoadRows(rs, ro, storage, owner_oid, true, NULL, (Datum) 0, true);
		ro->loaded = true;
		rs->rows += rows;
		size = (int64) rows;
		if (agg && rows > 0)
		{
			char	   *sql = psprintf("SELECT coalesce(sum(%s), 0)::int8 FROM %s", IVM_COUNT_COLUMN,
									   quote_qualified_identifier(IVM_SCHEMA, get_rel_name(storage)));

			/*
			 * Not read-only: the statement must see the rows just loaded.  As
			 * the storage's owner, restricted, like every read of it.
			 */
			IvmBecomeReader(IvmRelationOwner(storage), &save);
			rc = SPI_execute(sql, false, 0);
			IvmRestoreUser(&save);
			IvmSpiCheck(rc, SPI_OK_SELECT, "measuring a restored view");
			size = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		}
	}
	else
		ereport(NOTICE,
				(errmsg("the columns of incremental view %s differ from the checkpoint's; it will be recomputed",
						o->name)));

	/* what it reads: untrusted tables, or views left empty, mean recompute */
	{
		Oid			types[1] = {INT4OID};
		Datum		args[1] = {Int32GetDatum(ro->view_id)};

		rc = SPI_execute_with_args("SELECT source::oid, coalesce(source_view_id, 0) FROM ivm._deps "
								   "WHERE view_id = $1", 1, types, args, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_SELECT, "listing a restored view's inputs");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			Oid			src = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
			int			src_view = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
			bool		known = false;

			for (int k = 0; k < rs->nobjects; k++)
			{
				RestoreObject *other = &rs->objects[k];

				if (src_view == 0 && (other->obj->kind == 't' || other->obj->kind == 'p') &&
					other->relid == src)
				{
					known = true;
					if (!other->trusted)
						recompute = true;
				}
				if (src_view != 0 && other->obj->kind == 'v' && other->view_id == src_view)
				{
					known = true;
					if (!other->loaded)
						recompute = true;
				}
			}
			if (!known)
				recompute = true;	/* something the checkpoint does not describe */
		}
	}
	if (!ro->loaded)
		populated = false;
	if (!populated || recompute)
		rs->recompute++;

	{
		Oid			types[6] = {INT4OID, BOOLOID, BOOLOID, INT8OID, INT8OID, INT8OID};
		Datum		args[6];
		char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
		JsonbValue	v;
		bool		has_epoch = getKeyJsonValueFromContainer(o->json, "last_epoch", strlen("last_epoch"),
															 &v) != NULL && v.type != jbvNull;

		args[0] = Int32GetDatum(ro->view_id);
		args[1] = BoolGetDatum(populated);
		args[2] = BoolGetDatum(recompute || !populated);
		args[3] = Int64GetDatum((int64) rows);
		args[4] = Int64GetDatum(size);
		args[5] = has_epoch ? Int64GetDatum(IvmCkptJsonInt(o->json, "last_epoch", path)) : (Datum) 0;
		if (!has_epoch)
			nulls[5] = 'n';
		rc = SPI_execute_with_args("UPDATE ivm._views SET populated = $2, needs_recompute = $3, "
								   "rows = $4, size = $5, last_epoch = $6, state = 'ok' WHERE id = $1",
								   6, types, args, nulls, false, 0);
		IvmSpiCheck(rc, SPI_OK_UPDATE, "recording a restored view's state");
	}
	if (channel)
	{
		Oid			types[2] = {INT4OID, TEXTOID};
		Datum		args[2] = {Int32GetDatum(ro->view_id), CStringGetTextDatum(channel)};

		rc = SPI_execute_with_args("INSERT INTO ivm._watches (view_id, channel) VALUES ($1, $2)",
								   2, types, args, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_INSERT, "restoring a watch");
		rs->watches++;
	}
	rs->views++;
}

/* the id and delta log of the source relid */
static int
SourceId(Oid relid, Oid *logrel)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};
	bool		isnull;
	int			rc = SPI_execute_with_args("SELECT id, logrel::oid FROM ivm._sources WHERE relid = $1",
										   1, types, args, NULL, false, 1);

	IvmSpiCheck(rc, SPI_OK_SELECT, "looking up a source");
	if (SPI_processed != 1)
		elog(ERROR, "ivm: relation %u is not a source", relid);
	if (logrel)
		*logrel = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * RestorePush
 *		Phase 2 for a push source: ivm.create_source() as the caller, its
 *		owner, its rows (whose capture is then forgotten: they are the
 *		source's state, not deltas), its dedup setting.
 */
static void
RestorePush(RestoreState *rs, RestoreObject *ro, IvmUserSave *catalog_save)
{
	IvmCkptObject *o = ro->obj;
	const char *path = rs->last->path;
	char	   *owner = IvmCkptJsonStr(o->json, "owner", true, path);
	char	   *defs = RestoreColumnDefinitions(rs, o, get_role_oid(owner, false));
	bool		dedup = IvmCkptJsonBool(o->json, "dedup", path);
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(o->name), CStringGetTextDatum(defs)};
	IvmUserSave save;
	Oid			logrel;
	bool		isnull;
	int			rc;

	BecomeCaller(catalog_save, &save);
	rc = SPI_execute_with_args("SELECT ivm.create_source($1, $2)::oid", 2, types, args, NULL, false, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "creating a push source");
	ro->relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (strcmp(owner, GetUserNameFromId(catalog_save->userid, false)) != 0)
	{
		rc = SPI_execute(psprintf("ALTER TABLE %s OWNER TO %s", o->name, quote_identifier(owner)),
						 false, 0);
		IvmSpiCheck(rc, SPI_OK_UTILITY, "restoring a push source's owner");
	}
	IvmRestoreUser(&save);
	ro->trusted = ro->matched = true;

	if (strcmp(RelationSignature(ro->relid), o->signature) != 0)
		elog(ERROR, "ivm: push source %s came out with columns %s, not %s",
			 o->name, RelationSignature(ro->relid), o->signature);
	rs->rows += LoadRows(rs, ro, ro->relid, IvmRelationOwner(ro->relid), true, NULL, (Datum) 0, false);

	/*
	 * Loading fired the capture trigger: those log rows are not deltas.  As
	 * the owner of schema ivm, who alone deletes from a log (its owner may
	 * only append and read): DELETE runs no expression of an index, nor a
	 * type's function, and the log carries only ivm's indexes and triggers
	 * (the utility hook refuses any other on a relation of schema ivm).
	 */
	(void) SourceId(ro->relid, &logrel);
	rc = SPI_execute(psprintf("DELETE FROM %s", quote_qualified_identifier(IVM_SCHEMA, get_rel_name(logrel))),
					 false, 0);
	IvmSpiCheck(rc, SPI_OK_DELETE, "forgetting the capture of a restored push source");
	{
		Oid			utypes[2] = {OIDOID, BOOLOID};
		Datum		uargs[2] = {ObjectIdGetDatum(ro->relid), BoolGetDatum(dedup)};

		rc = SPI_execute_with_args("UPDATE ivm._sources SET dedup = $2 WHERE relid = $1",
								   2, utypes, uargs, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_UPDATE, "restoring a push source's dedup setting");
	}
	rs->push_sources++;
}

/*
 * RestoreSeen
 *		Phase 2 for the seen-set of a push source with dedup (restored just
 *		before it): its batch hashes, with their order of arrival.
 */
static void
RestoreSeen(RestoreState *rs, RestoreObject *ro)
{
	RestoreObject *push = NULL;
	int			id;
	uint64		n;
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		args[2];
	int			rc;

	for (int i = 0; i < rs->nobjects; i++)
		if (rs->objects[i].obj->kind == 'p' && strcmp(rs->objects[i].obj->name, ro->obj->name) == 0)
			push = &rs->objects[i];
	if (push == NULL || !OidIsValid(push->relid))
		IvmCkptCorrupt(rs->last->path, "It holds the seen-set of %s but not that push source.",
					   ro->obj->name);
	id = SourceId(push->relid, NULL);
	n = LoadRows(rs, ro, get_relname_relid("_seen", get_namespace_oid(IVM_SCHEMA, false)),
				 InvalidOid, false, "source_id", Int32GetDatum(id), false);
	args[0] = Int32GetDatum(id);
	args[1] = Int64GetDatum((int64) n);
	rc = SPI_execute_with_args("UPDATE ivm._sources SET dedup_entries = $2 WHERE id = $1",
							   2, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_UPDATE, "counting a restored seen-set");
	/* batches seen from now on come after the restored ones */
	rc = SPI_execute("SELECT pg_catalog.setval('ivm._seen_seq_seq', "
					 "greatest((SELECT max(seq) FROM ivm._seen), "
					 "(SELECT last_value FROM ivm._seen_seq_seq)))", false, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "advancing the seen-set sequence");
}

/*
 * ivm_restore
 *		SQL: ivm.restore(dir text) returns (sequence, epoch, views,
 *		push_sources, sources, sources_changed, rows, pending_rows, watches,
 *		views_to_recompute, duration_ms).
 */
Datum
ivm_restore(PG_FUNCTION_ARGS)
{
	TimestampTz start = GetCurrentTimestamp();
	IvmCkptDir *dir;
	RestoreState rs;
	IvmUserSave save;
	int			save_nestlevel;
	int			rc;
	TupleDesc	desc;
	Datum		values[RESTORE_RESULT_COLUMNS];
	bool		nulls[RESTORE_RESULT_COLUMNS] = {0};
	ErrorContextCallback errcallback;

	dir = IvmCkptDirArgument(fcinfo, "ivm.restore", false);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ivm.restore() must return a record");

	memset(&rs, 0, sizeof(rs));
	rs.dir = dir;

	IvmCatalogBegin(&save);
	rs.spicxt = CurrentMemoryContext;
	rs.caller = save.userid;
	save_nestlevel = NewGUCNestLevel();
	IvmCkptSetTextFormat();

	/* the step lock: no tick runs in this database until the restore ends */
	rc = SPI_execute("SELECT 1 FROM ivm._state FOR UPDATE", false, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "taking the step lock");

	/* phase 1: check everything, change nothing */
	ReadManifests(&rs);
	rs.nobjects = rs.last->nobjects;
	rs.objects = palloc0(sizeof(RestoreObject) * Max(rs.nobjects, 1));
	for (int i = 0; i < rs.nobjects; i++)
	{
		RestoreObject *ro = &rs.objects[i];

		ro->obj = &rs.last->objects[i];
		errcallback.callback = RestoreErrorContext;
		errcallback.arg = psprintf("%s %s", KindName(ro->obj->kind), ro->obj->name);
		errcallback.previous = error_context_stack;
		error_context_stack = &errcallback;
		if (ro->obj->kind == 't')
		{
			CheckTable(&rs, ro);
			rs.sources++;
			if (!ro->matched)
				rs.sources_changed++;
		}
		else
			CheckRowsObject(&rs, ro, KindName(ro->obj->kind));
		error_context_stack = errcallback.previous;
	}

	/* phase 2: rebuild, push sources before the views that read them */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < rs.nobjects; i++)
		{
			RestoreObject *ro = &rs.objects[i];

			if (pass == 0 ? ro->obj->kind != 'p' && ro->obj->kind != 's' : ro->obj->kind != 'v')
				continue;
			errcallback.callback = RestoreErrorContext;
			errcallback.arg = psprintf("%s %s", KindName(ro->obj->kind), ro->obj->name);
			errcallback.previous = error_context_stack;
			error_context_stack = &errcallback;
			if (ro->obj->kind == 'p')
				RestorePush(&rs, ro, &save);
			else if (ro->obj->kind == 's')
				RestoreSeen(&rs, ro);
			else
				RestoreView(&rs, ro, &save);
			error_context_stack = errcallback.previous;
		}

	/* what the sources' logs held, and TRUNCATEs not yet ticked */
	for (int i = 0; i < rs.nobjects; i++)
	{
		RestoreObject *ro = &rs.objects[i];

		if ((ro->obj->kind != 't' && ro->obj->kind != 'p') || !ro->trusted)
			continue;
		if (ro->obj->pending)
			rs.pending += LoadPendingRows(&rs, ro);
		if (IvmCkptJsonBool(ro->obj->json, "truncated", rs.last->path))
		{
			Oid			types[1] = {OIDOID};
			Datum		args[1] = {ObjectIdGetDatum(ro->relid)};

			rc = SPI_execute_with_args("INSERT INTO ivm._truncated (relid) VALUES ($1)",
									   1, types, args, NULL, false, 0);
			IvmSpiCheck(rc, SPI_OK_INSERT, "restoring a truncation marker");
		}
	}
	{
		Oid			types[1] = {INT8OID};
		Datum		args[1] = {Int64GetDatum(rs.last->hdr.epoch)};

		rc = SPI_execute_with_args("UPDATE ivm._state SET epoch = greatest(epoch, $1)",
								   1, types, args, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_UPDATE, "restoring the epoch");
	}

	/* what follows SPI_finish must not point into SPI's memory */
	values[0] = Int64GetDatum((int64) rs.last->hdr.seq);
	values[1] = Int64GetDatum(rs.last->hdr.epoch);
	AtEOXact_GUC(true, save_nestlevel);
	IvmCatalogEnd(&save);

	values[2] = Int32GetDatum(rs.views);
	values[3] = Int32GetDatum(rs.push_sources);
	values[4] = Int32GetDatum(rs.sources);
	values[5] = Int32GetDatum(rs.sources_changed);
	values[6] = Int64GetDatum((int64) rs.rows);
	values[7] = Int64GetDatum((int64) rs.pending);
	values[8] = Int32GetDatum(rs.watches);
	values[9] = Int32GetDatum(rs.recompute);
	values[10] = Float8GetDatum((double) (GetCurrentTimestamp() - start) / 1000.0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * ivm_checkpoint_manifest
 *		SQL: ivm.checkpoint_manifest(dir text, sequence bigint) returns
 *		jsonb: one manifest of a checkpoint directory (the newest when
 *		sequence is null), checked as a restore checks it.
 */
Datum
ivm_checkpoint_manifest(PG_FUNCTION_ARGS)
{
	IvmCkptDir *dir;
	uint64		seq;
	IvmCkptManifest *m;

	dir = IvmCkptDirArgument(fcinfo, "ivm.checkpoint_manifest", false);
	if (PG_ARGISNULL(1))
	{
		int			n;
		uint64	   *seqs = IvmCkptListManifests(dir, &n, false);

		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("no checkpoint found in directory \"%s\"", dir->name)));
		seq = seqs[n - 1];
	}
	else if (PG_GETARG_INT64(1) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("checkpoint sequence numbers start at 1")));
	else
		seq = (uint64) PG_GETARG_INT64(1);
	m = IvmCkptReadManifest(dir, seq);
	PG_RETURN_JSONB_P(m->doc);
}
