/*-------------------------------------------------------------------------
 *
 * full.c
 *		ivm.checkpoint_full(path): the whole state of ivm in one SQL file that
 *		psql -f restores into an empty database.
 *
 *	The file has the form pg_dump writes, limited to what the views need:
 *	CREATE EXTENSION, then the tables the views read (push sources among
 *	them: definitions, partitions, rows), the views' storage, definitions
 *	and delta logs with their rows, the views users read, the catalog's
 *	rows, and last the indexes, constraints and triggers (capture, guards),
 *	so that rows load before anything would capture or refuse them and the
 *	extension's event triggers find the catalog in place (see
 *	ivm._relink_views and RootCaptured in capture.c, which the same order
 *	from pg_dump relies on).  Everything is read at one snapshot, so table
 *	rows, pending deltas and view rows agree.  Names are written
 *	schema-qualified.  Objects the tables or queries use besides tables (user
 *	functions, types, plain views) are not written: they must exist first.
 *
 *	Values are written under fixed settings whatever the session says
 *	(IvmCkptSetTextFormat: ISO dates, UTC, extra_float_digits 3, hex bytea,
 *	...), and the file sets those its input depends on before its first
 *	statement, as pg_dump does: it restores the same rows under any settings
 *	of the session that runs it.
 *
 *	Rights (rights.c): the caller needs the rights of server files; the work
 *	runs as the owner of schema ivm but for what a user's code can reach.
 *	Each statement, and as whom it runs:
 *	- the lists of tables, storage, logs and views, the schemas, the epoch,
 *	  the column names COPY lists, ivm's catalog tables and sequences, and
 *	  the foreign keys between sources (pg_get_constraintdef of a foreign key
 *	  writes names only): ivm's owner; ivm's catalog and PostgreSQL's,
 *	  built-in functions only;
 *	- a relation's definition (PutTable: columns, defaults, partition bounds
 *	  and keys; PutTableAfterData: constraints, indexes; PutTriggers; a
 *	  view's query): its owner, restricted (PutRowsOf), as deparsing writes
 *	  the constants of those expressions through their types' output
 *	  functions;
 *	- a relation's rows (PutCopy of a table, a partition, a push source, a
 *	  view's storage or shard, a delta log): its owner, restricted,
 *	  row_security off (IvmBecomeReader), as planning the read runs the
 *	  owner's index expressions, index predicates and statistics
 *	  expressions, and SPI_getvalue its types' output functions.
 *	All of them read at the one snapshot pushed first: switching roles
 *	changes no snapshot.
 *
 *	The file is written under "<path>.tmp" and renamed into place; on any
 *	failure (a write, flush, fsync, close or the rename) the temporary file
 *	is removed before the error goes on.  To object storage (s3://bucket/key)
 *	the file is written in a staging directory of the server and uploaded
 *	as one object (s3.c): it appears whole or not at all.
 *
 * Copyright (c) 2026, the ivm authors
 *
 * Layer: work.  Calls ckptfile.c (settings, paths), s3.c, exec and rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "ivm.h"
#include "exec.h"
#include "catalog.h"
#include "checkpoint.h"

PG_FUNCTION_INFO_V1(ivm_checkpoint_full);

/* The catalog tables whose rows a full checkpoint carries, in load order. */
static const char *const catalog_tables[] = {
	"ivm._state", "ivm._counters", "ivm._views", "ivm._sources", "ivm._seen",
	"ivm._deps", "ivm._truncated", "ivm._watches", "ivm._changes",
};
static const char *const catalog_sequences[] = {
	"ivm._views_id_seq", "ivm._sources_id_seq", "ivm._seen_seq_seq",
};

typedef struct FullWriter
{
	FILE	   *file;
	const char *path;
} FullWriter;

static void
Put(FullWriter *w, const char *s)
{
	size_t		len = strlen(s);

	if (fwrite(s, 1, len, w->file) != len)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write to file \"%s\": %m", w->path)));
}

static void
PutF(FullWriter *w, const char *fmt,...) pg_attribute_printf(2, 3);

static void
PutF(FullWriter *w, const char *fmt,...)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	Put(w, buf.data);
	pfree(buf.data);
}

/* Run a read-only query at the active snapshot; the rows stay in SPI_tuptable. */
static uint64
ReadRows(const char *sql)
{
	int			rc = SPI_execute(sql, true, 0);

	IvmSpiCheck(rc, SPI_OK_SELECT, "reading what a full checkpoint writes");
	return SPI_processed;
}

/* Each row's first column, one statement per row, ";\n" after each. */
static void
PutRows(FullWriter *w, const char *sql)
{
	uint64		n = ReadRows(sql);
	SPITupleTable *tt = SPI_tuptable;

	for (uint64 i = 0; i < n; i++)
	{
		char	   *s = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);

		if (s != NULL)
			PutF(w, "%s;\n", s);
	}
	SPI_freetuptable(tt);
}

/*
 * PutRowsOf
 *		PutRows of a catalog query that deparses the definitions of relation
 *		relid (its columns' defaults, constraints, indexes, triggers, view
 *		query), run as the relation's owner, restricted: the constants of
 *		those definitions are written out by their types' output functions.
 */
static void
PutRowsOf(FullWriter *w, Oid relid, const char *sql)
{
	IvmUserSave save;

	IvmBecomeReader(IvmRelationOwner(relid), &save);
	PutRows(w, sql);
	IvmRestoreUser(&save);
}

/* A value in COPY's text format. */
static void
PutCopyValue(FullWriter *w, const char *s)
{
	StringInfoData buf;

	if (s == NULL)
	{
		Put(w, "\\N");
		return;
	}
	initStringInfo(&buf);
	for (const char *p = s; *p; p++)
	{
		switch (*p)
		{
			case '\\':
				appendStringInfoString(&buf, "\\\\");
				break;
			case '\t':
				appendStringInfoString(&buf, "\\t");
				break;
			case '\n':
				appendStringInfoString(&buf, "\\n");
				break;
			case '\r':
				appendStringInfoString(&buf, "\\r");
				break;
			default:
				appendStringInfoChar(&buf, *p);
		}
	}
	Put(w, buf.data);
	pfree(buf.data);
}

/*
 * PutCopy
 *		COPY relname (stored columns) FROM stdin, with every row, read
 *		through a cursor.  relid, when valid, is the table to read (a
 *		user's, or ivm's storage or log), locked and named by its OID, and
 *		relname is then NULL; else relname is one of ivm's catalog tables.
 *		A table of relid is read as its owner, restricted, row security off
 *		(IvmBecomeReader): planning the read runs its index and statistics
 *		expressions, and SPI_getvalue its types' output functions, its
 *		owner's code all of it.  ivm's catalog is read as the present user,
 *		the owner of schema ivm, who owns it.
 */
static void
PutCopy(FullWriter *w, const char *relname, Oid relid)
{
	StringInfoData cols;
	char	   *sql;
	Portal		portal;
	SPIPlanPtr	plan;
	uint64		n;
	IvmUserSave save;

	/* a table of a user's: by the name it has once locked (IvmLockedTableName) */
	if (OidIsValid(relid))
		relname = IvmLockedTableName(relid, AccessShareLock);
	sql = psprintf("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
				   "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''",
				   quote_literal_cstr(relname));
	ReadRows(sql);
	initStringInfo(&cols);
	appendStringInfoString(&cols, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_freetuptable(SPI_tuptable);

	PutF(w, "COPY %s (%s) FROM stdin;\n", relname, cols.data);
	if (OidIsValid(relid))
		IvmBecomeReader(IvmRelationOwner(relid), &save);
	plan = SPI_prepare(psprintf("SELECT %s FROM ONLY %s", cols.data, relname), 0, NULL);
	if (plan == NULL)
		elog(ERROR, "ivm: could not read %s: %s", relname, SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	do
	{
		SPI_cursor_fetch(portal, true, 1000);
		n = SPI_processed;
		for (uint64 i = 0; i < n; i++)
		{
			for (int c = 1; c <= SPI_tuptable->tupdesc->natts; c++)
			{
				if (c > 1)
					Put(w, "\t");
				PutCopyValue(w, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c));
			}
			Put(w, "\n");
		}
		SPI_freetuptable(SPI_tuptable);
	} while (n > 0);
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
	if (OidIsValid(relid))
		IvmRestoreUser(&save);
	Put(w, "\\.\n\n");
}

/*
 * PutTable
 *		CREATE TABLE for one table: columns with types, collations, NOT
 *		NULL, defaults and generated expressions; PARTITION BY for a
 *		partitioned table, PARTITION OF for a partition.
 */
static void
PutTable(FullWriter *w, Oid relid)
{
	char	   *sql;
	uint64		n;
	IvmUserSave save;

	/* as the owner: defaults and bounds deparsed write out their constants */
	IvmBecomeReader(IvmRelationOwner(relid), &save);

	sql = psprintf("SELECT c.oid::regclass::text, c.relkind, c.relispartition, "
				   " CASE WHEN c.relispartition THEN (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid) END, "
				   " CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END, "
				   " CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, "
				   " c.relowner::regrole::text, "
				   " CASE WHEN NOT c.relispartition AND c.relnamespace = 'ivm'::regnamespace "
				   "      THEN (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid) END "
				   "FROM pg_class c WHERE c.oid = %u", relid);
	ReadRows(sql);
	{
		SPITupleTable *tt = SPI_tuptable;
		char	   *name = SPI_getvalue(tt->vals[0], tt->tupdesc, 1);
		bool		is_partition = strcmp(SPI_getvalue(tt->vals[0], tt->tupdesc, 3), "t") == 0;
		char	   *parent = SPI_getvalue(tt->vals[0], tt->tupdesc, 4);
		char	   *bound = SPI_getvalue(tt->vals[0], tt->tupdesc, 5);
		char	   *partkey = SPI_getvalue(tt->vals[0], tt->tupdesc, 6);
		char	   *owner = SPI_getvalue(tt->vals[0], tt->tupdesc, 7);
		char	   *log = SPI_getvalue(tt->vals[0], tt->tupdesc, 8);

		if (is_partition)
		{
			PutF(w, "CREATE TABLE %s PARTITION OF %s %s;\n", name, parent, bound);
		}
		else if (log != NULL)
		{
			/* the second half of a delta log: a child of the log, all inherited */
			PutF(w, "CREATE TABLE %s () INHERITS (%s);\n", name, log);
		}
		else
		{
			PutF(w, "CREATE TABLE %s (", name);
			n = ReadRows(psprintf("SELECT quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) "
							   " || CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 "
							   "         THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END "
							   " || CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED' "
							   "         WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END "
							   " || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END "
							   "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
							   "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
							   "WHERE a.attrelid = %u AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
							   relid));
			for (uint64 i = 0; i < n; i++)
				PutF(w, "%s\n    %s", i > 0 ? "," : "",
					 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
			PutF(w, "\n)%s%s;\n", partkey ? " PARTITION BY " : "", partkey ? partkey : "");
		}
		PutF(w, "ALTER TABLE %s OWNER TO %s;\n", name, owner);
	}
	IvmRestoreUser(&save);
}

/*
 * PutTableAfterData
 *		A table's constraints (but foreign keys), indexes, row-level
 *		security and ivm's triggers, once its rows are in.  A partition's
 *		constraints and indexes come with its parent's.
 */
static void
PutTableAfterData(FullWriter *w, Oid relid, bool partition)
{
	if (!partition)
		PutRowsOf(w, relid, psprintf("SELECT format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', "
							"  conrelid::regclass, conname, pg_get_constraintdef(oid)) "
							"FROM pg_constraint WHERE conrelid = %u AND contype IN ('p', 'u', 'c', 'x') "
							"  AND NOT coninhcount > 0 ORDER BY conname", relid));
	PutRowsOf(w, relid, psprintf("SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
						"WHERE i.indrelid = %u AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
						"  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid) "
						"ORDER BY i.indexrelid", relid));
}

/* ivm's triggers on one relation (capture, guards, refusing writes). */
static void
PutTriggers(FullWriter *w, Oid relid)
{
	PutRowsOf(w, relid, psprintf("SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t "
						"WHERE t.tgrelid = %u AND NOT t.tgisinternal AND t.tgname LIKE 'ivm\\_%%' "
						"  AND t.tgparentid = 0 ORDER BY t.tgname", relid));
}

/*
 * ivm_checkpoint_full
 *		SQL: ivm.checkpoint_full(path text) returns bigint (bytes written)
 */
Datum
ivm_checkpoint_full(PG_FUNCTION_ARGS)
{
	char	   *path;
	char	   *tmppath;
	IvmS3Location *volatile s3 = NULL;
	FullWriter	w;
	volatile bool closed = false;
	IvmUserSave save;
	int			save_nestlevel;
	/* volatile: set before the PG_TRY below, read in it */
	List	   *volatile tables = NIL;	/* sources and their partitions, parents first */
	List	   *volatile partitions = NIL;
	List	   *volatile internal = NIL;	/* storage and logs, in schema ivm */
	List	   *volatile internal_parts = NIL;	/* per internal relation: a shard of storage */
	List	   *volatile defs = NIL;
	List	   *volatile views = NIL;
	ListCell   *lc;
	ListCell   *lc2;
	uint64		n;
	off_t		volatile bytes = 0;

	IvmCheckPreloaded();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"path\" of ivm.checkpoint_full must not be null"),
				 errhint("Give the absolute path of the SQL file to write on the database server.")));
	path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	IvmCheckServerFile(path, true);
	if (IvmS3IsUrl(path))
	{
		/* written in a staging directory, then uploaded as one object */
		s3 = IvmS3Parse(path, true);
		tmppath = psprintf("%s/full.sql", IvmCkptStagingDir());
	}
	else
	{
		struct stat st;

		canonicalize_path(path);
		tmppath = psprintf("%s.tmp", path);

		/* 42809, as errcode_for_file_access() gives EISDIR, said before writing */
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is a directory", path),
					 errdetail("A full checkpoint is one SQL file."),
					 errhint("Give the path of a file to write, such as \"%s/ivm-full.sql\"; "
							 "a directory of delta checkpoints is written by ivm.checkpoint(dir).",
							 path)));
	}

	IvmSpiConnect();
	save_nestlevel = NewGUCNestLevel();
	/* values in a text that reads back the same under any settings */
	IvmCkptSetTextFormat();
	/* everything deparsed schema-qualified */
	(void) set_config_option("search_path", "pg_catalog",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	IvmBecome(IvmSchemaOwner(), false, &save);
	/* one snapshot for everything read below */
	PushActiveSnapshot(GetTransactionSnapshot());

	n = ReadRows("WITH RECURSIVE tree(relid, depth) AS ("
			  " SELECT s.relid::oid, 0 FROM ivm._sources s "
			  " UNION ALL SELECT i.inhrelid, t.depth + 1 FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid "
			  "   JOIN pg_class c ON c.oid = i.inhrelid AND c.relkind IN ('r', 'p')) "
			  "SELECT relid, depth > 0 FROM tree ORDER BY depth, relid");
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

		tables = lappend_oid(tables, relid);
		partitions = lappend_int(partitions,
								 DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)));
	}
	/* a partitioned view's storage, then its shards (they hold the rows) */
	n = ReadRows(IvmLogHalves()
				 ? "SELECT storagerel::oid, false FROM ivm._views UNION ALL SELECT logrel::oid, false FROM ivm._sources "
				 "UNION ALL SELECT loghalf::oid, false FROM ivm._sources WHERE loghalf IS NOT NULL "
				 "UNION ALL SELECT i.inhrelid, true FROM ivm._views v JOIN pg_inherits i ON i.inhparent = v.storagerel "
				 "ORDER BY 2, 1"
				 : "SELECT storagerel::oid, false FROM ivm._views UNION ALL SELECT logrel::oid, false FROM ivm._sources "
				 "UNION ALL SELECT i.inhrelid, true FROM ivm._views v JOIN pg_inherits i ON i.inhparent = v.storagerel "
				 "ORDER BY 2, 1");
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		internal = lappend_oid(internal, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
		internal_parts = lappend_int(internal_parts,
									 DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)));
	}
	n = ReadRows("SELECT defrel::oid, viewrel::oid FROM ivm._views ORDER BY level, id");
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		defs = lappend_oid(defs, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
		views = lappend_oid(views, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)));
	}

	w.path = tmppath;
	w.file = AllocateFile(tmppath, PG_BINARY_W);
	if (w.file == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for writing: %m", tmppath),
				 errhint("The path is opened by the server, as the operating system user it runs as.")));

	PG_TRY();
	{
		ReadRows("SELECT epoch FROM ivm._state");
		PutF(&w, "--\n-- ivm full checkpoint, epoch %s: restore with psql -f into an empty database\n--\n\n",
			 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		/* what pg_dump sets, and what the values' text relies on (see above) */
		PutF(&w, "SET statement_timeout = 0;\nSET lock_timeout = 0;\n"
			 "SET idle_in_transaction_session_timeout = 0;\n"
			 "SET client_encoding = '%s';\n"
			 "SET standard_conforming_strings = on;\n"
			 "SELECT pg_catalog.set_config('search_path', '', false);\n"
			 "SET check_function_bodies = false;\nSET xmloption = content;\n"
			 "SET client_min_messages = warning;\nSET row_security = off;\n"
			 "SET DateStyle = 'ISO, YMD';\nSET IntervalStyle = postgres;\n"
			 "SET TimeZone = 'UTC';\nSET extra_float_digits = 3;\n"
			 "SET bytea_output = hex;\nSET lc_monetary = 'C';\n"
			 "SET array_nulls = on;\nSET timezone_abbreviations = 'Default';\n\n",
			 GetDatabaseEncodingName());
		Put(&w, "\\set ON_ERROR_STOP on\nBEGIN;\n\n");

		/* schemas the objects live in, then the extension */
		PutRows(&w, "SELECT DISTINCT format('CREATE SCHEMA IF NOT EXISTS %I', n.nspname) "
				"FROM ivm._views v JOIN pg_class c ON c.oid = v.viewrel JOIN pg_namespace n ON n.oid = c.relnamespace "
				"UNION SELECT DISTINCT format('CREATE SCHEMA IF NOT EXISTS %I', n.nspname) "
				"FROM ivm._sources s JOIN pg_class c ON c.oid = s.relid JOIN pg_namespace n ON n.oid = c.relnamespace "
				"ORDER BY 1");
		Put(&w, "CREATE EXTENSION IF NOT EXISTS ivm;\n\n");

		/* tables and their rows */
		foreach(lc, tables)
			PutTable(&w, lfirst_oid(lc));
		foreach(lc, internal)
			PutTable(&w, lfirst_oid(lc));
		Put(&w, "\n");
		foreach(lc, tables)
		{
			Oid			relid = lfirst_oid(lc);

			if (get_rel_relkind(relid) == RELKIND_RELATION)
				PutCopy(&w, NULL, relid);
		}
		foreach(lc, internal)
			PutCopy(&w, NULL, lfirst_oid(lc));

		/* definitions, then the views users read */
		forboth(lc, defs, lc2, views)
		{
			Oid			rels[2];

			rels[0] = lfirst_oid(lc);	/* the definition */
			rels[1] = lfirst_oid(lc2);	/* the view users read */
			for (int k = 0; k < 2; k++)
				PutRowsOf(&w, rels[k], psprintf("SELECT format('CREATE VIEW %%s AS %%s', c.oid::regclass, "
									 "  rtrim(pg_get_viewdef(c.oid), ';')) "
									 "  || format(E';\\nALTER VIEW %%s OWNER TO %%s', c.oid::regclass, c.relowner::regrole) "
									 "FROM pg_class c WHERE c.oid = %u", rels[k]));
		}
		Put(&w, "\n");

		/* the catalog */
		for (int i = 0; i < lengthof(catalog_tables); i++)
			PutCopy(&w, catalog_tables[i], InvalidOid);
		for (int i = 0; i < lengthof(catalog_sequences); i++)
			PutRows(&w, psprintf("SELECT format('SELECT pg_catalog.setval(%%L, %%s, %%L)', %s, last_value, is_called) FROM %s",
								 quote_literal_cstr(catalog_sequences[i]), catalog_sequences[i]));
		Put(&w, "\n");

		/* constraints, indexes, then triggers */
		{
			ListCell   *lp;

			forboth(lc, tables, lp, partitions)
				PutTableAfterData(&w, lfirst_oid(lc), lfirst_int(lp));
		}
		{
			ListCell   *lp;

			forboth(lc, internal, lp, internal_parts)
				PutTableAfterData(&w, lfirst_oid(lc), lfirst_int(lp));
		}
		PutRows(&w, "SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, "
				" pg_get_constraintdef(oid)) FROM pg_constraint "
				"WHERE contype = 'f' AND coninhcount = 0 AND conrelid IN (SELECT relid FROM ivm._sources) ORDER BY 1");
		foreach(lc, tables)
			PutTriggers(&w, lfirst_oid(lc));
		foreach(lc, internal)
			PutTriggers(&w, lfirst_oid(lc));
		foreach(lc, views)
			PutTriggers(&w, lfirst_oid(lc));
		Put(&w, "\nCOMMIT;\n");

		/* durably in place, or not at all */
		if (fflush(w.file) != 0 || pg_fsync(fileno(w.file)) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write file \"%s\": %m", tmppath)));
		bytes = ftello(w.file);
		closed = true;			/* FreeFile releases it even when it fails */
		if (FreeFile(w.file) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not close file \"%s\": %m", tmppath)));
		if (s3)
		{
			/* the object appears whole, or not at all */
			IvmS3PutFile((IvmS3Location *) s3, s3->key, tmppath);
			(void) unlink(tmppath);
		}
		else
			(void) durable_rename(tmppath, path, ERROR);
	}
	PG_CATCH();
	{
		/* no stray temporary file, whichever step failed */
		if (!closed)
			FreeFile(w.file);
		(void) unlink(tmppath);
		PG_RE_THROW();
	}
	PG_END_TRY();

	PopActiveSnapshot();
	IvmRestoreUser(&save);
	AtEOXact_GUC(true, save_nestlevel);
	SPI_finish();
	PG_RETURN_INT64((int64) bytes);
}
