/*-------------------------------------------------------------------------
 *
 * rights.c
 *		Who ivm's code runs as, with which search_path, and what an error
 *		may say to whom.  Every file that switches roles does it through
 *		the functions here.
 *
 * THE RULE FOR RIGHTS.  Three kinds of work, three identities:
 *
 *	1. As the caller: checks of the caller's own rights (SELECT on a view
 *	   before its changes are read, ownership before REFRESH, INSERT and
 *	   DELETE before a push), parsing the query a caller declares, and
 *	   running it once (LIMIT 0) to prove the caller may.
 *
 *	2. As the object's owner, restricted: everything a user influences.
 *	   A view's query and its delta queries run as the view's owner (the
 *	   owner of its definition), and a push source's rows are written as
 *	   the source's owner, under SECURITY_RESTRICTED_OPERATION, as REFRESH
 *	   MATERIALIZED VIEW runs a view's query: casts, output functions,
 *	   operators, functions in the query, the owner's triggers on a push
 *	   source, to_jsonb of a view's changed rows -- all of it has the
 *	   owner's rights and no more, and cannot change the session
 *	   (SET ROLE, SET of settings, temporary tables) behind ivm's back.
 *	   Reading a relation for a checkpoint, a full checkpoint or a restore
 *	   is the same (IvmBecomeReader): a user's table, push source, delta log
 *	   or a view's storage is read as the relation's owner, since planning
 *	   the read runs the owner's index and statistics expressions and
 *	   writing its values out runs their types' output functions: none
 *	   of it may run with the rights of whoever asked for the checkpoint.
 *
 *	3. As the extension's owner (the owner of schema ivm): ivm's own
 *	   catalog, delta logs and view storage, which belong to it.  Only
 *	   statements ivm wrote run here, with search_path pinned to
 *	   "pg_catalog, pg_temp" (IvmCatalogBegin, IvmPinSearchPath), every
 *	   value passed as a parameter, every name quoted, and no user object
 *	   in reach: the relations they read are ivm's own, the operators and
 *	   functions resolve in pg_catalog before anything a user may create.
 *	   Writing a view's storage moves values of the view's own types
 *	   between tables of the same types: no cast, no input or output
 *	   function, no user trigger runs.
 *
 * Errors that cross owners.  A tick maintains views of many owners for one
 * caller.  When a view's maintenance fails, the message, detail and
 * context may carry row values (a failed cast quotes its input); they go to
 * the server log and, kept in ivm._view_errors, to the view's owner.  A
 * caller who is not a member of the owning role sees the view's name, the
 * SQLSTATE and what to do (IvmReportViewFailure).
 *
 * Layer: exec.  Calls exec.c (SPI) only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "storage/lmgr.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "ivm.h"
#include "exec.h"

/* true once _PG_init has run while shared_preload_libraries loads */
bool		ivm_loaded_at_startup = false;


/*
 * IvmSchemaOwner
 *		The role that owns schema ivm: the superuser who created the
 *		extension.  ivm's own catalog work runs as this role, so a schema of
 *		that name owned by anyone else (made before CREATE EXTENSION, or put
 *		in the place of ivm's by a rename) is refused here rather than
 *		trusted: its owner would choose the code ivm runs.
 */
Oid
IvmSchemaOwner(void)
{
	Oid			nspid = get_namespace_oid(IVM_SCHEMA, false);
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	if (!superuser_arg(owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("schema \"%s\" belongs to role \"%s\", who is not a superuser",
						IVM_SCHEMA, GetUserNameFromId(owner, false)),
				 errdetail("ivm does its own work with the rights of the owner of schema %s, so only a superuser may own it.",
						   IVM_SCHEMA),
				 errhint("A superuser gives it back with ALTER SCHEMA %s OWNER TO the superuser who created the extension.",
						 IVM_SCHEMA)));
	return owner;
}

/*
 * IvmCheckSchemaBeforeCreate
 *		CREATE EXTENSION ivm reuses a schema ivm that exists already.  One that
 *		a role other than a superuser owns would give that role the
 *		extension's objects (and let it rename them away and put its own
 *		functions where ivm's SECURITY DEFINER functions look): refuse it
 *		before the extension's script runs.
 */
void
IvmCheckSchemaBeforeCreate(void)
{
	Oid			nspid = get_namespace_oid(IVM_SCHEMA, true);
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(nspid))
		return;
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		return;
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	if (!superuser_arg(owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("schema \"%s\" already exists and belongs to role \"%s\", who is not a superuser",
						IVM_SCHEMA, GetUserNameFromId(owner, false)),
				 errdetail("The extension would be created in that schema, and its owner could then run code with the rights of ivm's functions."),
				 errhint("Drop schema %s (or give it to a superuser with ALTER SCHEMA %s OWNER TO), then create the extension.",
						 IVM_SCHEMA, IVM_SCHEMA)));
}

/*
 * IvmPinSearchPath
 *		Set search_path to "pg_catalog, pg_temp" until IvmUnpinSearchPath
 *		(or transaction abort); returns the GUC nest level to pass to it.
 *		And jit to off: ivm's statements are many, small and planned once,
 *		and compiling one took longer than running it many times over (a
 *		session's jit = on, or jit_above_cost = 0, reaches none of them).
 */
int
IvmPinSearchPath(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/*
 * IvmPinViewSettings
 *		In the GUC nest level IvmPinSearchPath opened, fix the settings that
 *		change what a query returns (time zone, date, interval and float
 *		output, locale-dependent formats, string literal and array parsing,
 *		time zone abbreviations, "= NULL", GIN's fuzzy limit, row security)
 *		for the
 *		views' queries ivm runs: any role may run a tick, and the session
 *		that does must not choose the values stored in another role's view
 *		(nor may two tickers store rows computed two ways).  The time zone
 *		is the server's own (log_timezone, which only its configuration
 *		sets); the rest are PostgreSQL's defaults.
 *
 *		And ivm.statement_level, the depth at which ivm's own statements
 *		are planned (exec.c sizes never-analyzed tables for them).  A
 *		pinned value holds for every statement until IvmUnpinSearchPath,
 *		whatever the session set (jit too, pinned off by IvmPinSearchPath);
 *		a SET a user's code makes is undone by IvmRestoreUser.
 */
void
IvmPinViewSettings(void)
{
	char		level[16];

	const char *settings[][2] = {
		{"TimeZone", GetConfigOption("log_timezone", false, false)},
		{"DateStyle", "ISO, MDY"},
		{"IntervalStyle", "postgres"},
		{"extra_float_digits", "1"},
		{"lc_monetary", "C"},
		{"lc_numeric", "C"},
		{"lc_time", "C"},
		{"bytea_output", "hex"},
		{"xmlbinary", "base64"},
		{"xmloption", "content"},
		{"standard_conforming_strings", "on"},
		{"default_text_search_config", "pg_catalog.simple"},
		{"array_nulls", "on"},
		{"timezone_abbreviations", "Default"},
		{"transform_null_equals", "off"},
		{"gin_fuzzy_search_limit", "0"},
		{"row_security", "on"},
	};

	/*
	 * A setting that has the value already is left alone: setting the
	 * locales and the time zone again (their checks call setlocale and read
	 * the zone) made this cost 80 us a tick.  Only a user's code could
	 * change it before IvmUnpinSearchPath, and that is undone when the
	 * code's work ends (IvmRestoreUser), as it would be over a pinned value.
	 */
	for (int i = 0; i < lengthof(settings); i++)
	{
		const char *now = GetConfigOption(settings[i][0], false, false);

		/* a setting already so is left alone (setting TimeZone costs) */
		if (now != NULL && settings[i][1] != NULL && strcmp(now, settings[i][1]) == 0)
			continue;
		(void) set_config_option(settings[i][0], settings[i][1], PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	snprintf(level, sizeof(level), "%d", IvmNestingLevel());
	(void) set_config_option("ivm.statement_level", level, PGC_INTERNAL, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
IvmUnpinSearchPath(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
}

/*
 * IvmBecome
 *		Switch the current user to role, saving the previous state in *save.
 *		restricted adds SECURITY_RESTRICTED_OPERATION, as REFRESH MATERIALIZED
 *		VIEW does while it runs a view's query as the view's owner, and, as
 *		REFRESH does too, a GUC nest level: whatever settings the role's code
 *		changes (set_config(..., false) is allowed there) are discarded by
 *		IvmRestoreUser, so no setting of a user's choosing outlives the work
 *		(a search_path left for the caller's next statement would run that
 *		user's functions with the caller's rights).  The caller pins
 *		search_path (IvmPinSearchPath) before it runs anything as role.  An
 *		error leaves the restore to transaction (or subtransaction) abort.
 */
void
IvmBecome(Oid role, bool restricted, IvmUserSave *save)
{
	GetUserIdAndSecContext(&save->userid, &save->sec_context);
	save->nestlevel = -1;
	save->guc_level = restricted ? NewGUCNestLevel() : 0;
	SetUserIdAndSecContext(role,
						   save->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   (restricted ? SECURITY_RESTRICTED_OPERATION : 0));
}

void
IvmRestoreUser(IvmUserSave *save)
{
	if (save->guc_level > 0)
		AtEOXact_GUC(false, save->guc_level);
	SetUserIdAndSecContext(save->userid, save->sec_context);
}

/*
 * IvmRelationOwner
 *		The owner of relation relid (pg_class.relowner).  Errors when it is
 *		gone.
 */
Oid
IvmRelationOwner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * IvmBecomeOwnerOf
 *		Act as the owner of relation relid, restricted: whatever PostgreSQL
 *		runs on it while we read or write it (index support functions,
 *		triggers, type I/O, a domain's checks) then has that owner's rights,
 *		as a relation holding a user's values belongs to that user.  The
 *		caller has pinned search_path; IvmRestoreUser undoes it.
 */
void
IvmBecomeOwnerOf(Oid relid, IvmUserSave *save)
{
	IvmBecome(IvmRelationOwner(relid), true, save);
}

/*
 * IvmBecomeReader
 *		Act as role, restricted (IvmBecome), to read a relation role owns
 *		with a query ivm wrote: a checkpoint, a full checkpoint or a restore
 *		reading a user's table, push source, delta log or view storage.
 *		Planning that query loads the relation's index expressions, index
 *		predicates and statistics expressions and folds their constants
 *		(running the owner's immutable functions), and writing its values
 *		out runs their types' output functions: all of it is the owner's
 *		code, and gets the owner's rights, whoever asked for the
 *		checkpoint.  row_security is off, as pg_dump sets it: a policy that
 *		would hide rows from the owner (FORCE ROW LEVEL SECURITY) makes the
 *		read fail instead of leaving rows out.  IvmRestoreUser undoes both.
 */
void
IvmBecomeReader(Oid role, IvmUserSave *save)
{
	IvmBecome(role, true, save);
	(void) set_config_option("row_security", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * ivm_internal_ddl
 *		Above zero while ivm runs DDL of its own on the relations of schema
 *		ivm (IvmInternalDdl).  The utility hook refuses any other DDL on them
 *		from a role that is not a superuser, even from their owner: their
 *		shape is ivm's to change (utility.c GuardIvmRelations).  The hook
 *		takes it for the one statement ivm runs and sets it to zero while
 *		that statement runs, so that statements a user's code runs inside it
 *		are guarded.
 */
int			ivm_internal_ddl = 0;

/*
 * IvmInternalDdl
 *		Run utility statement sql (ivm's own, over relations of schema ivm)
 *		as role, restricted unless role is the owner of schema ivm, with the
 *		guard of the utility hook lifted for it.  what names the work for an
 *		error.  The caller is connected to SPI with search_path pinned.
 */
void
IvmInternalDdl(const char *sql, Oid role, const char *what)
{
	IvmUserSave save;
	int			rc;

	IvmBecome(role, role != IvmSchemaOwner(), &save);
	ivm_internal_ddl++;
	PG_TRY();
	{
		rc = SPI_execute(sql, false, 0);
	}
	PG_FINALLY();
	{
		ivm_internal_ddl--;
	}
	PG_END_TRY();
	IvmRestoreUser(&save);
	IvmSpiCheck(rc, SPI_OK_UTILITY, what);
}

/*
 * IvmLockedTableName
 *		Lock relation relid in mode and return its quoted, qualified name,
 *		after checking that it is still a table (plain or partitioned).  A
 *		statement that reads a table by name with more rights than its
 *		owner's (a checkpoint, a restore, a full checkpoint, as the owner of
 *		schema ivm) must name it this way: a name looked up before the lock
 *		could, by then, name a view its owner put in the table's place (the
 *		view's functions would then run with those rights); while the lock
 *		is held, the table can be neither renamed nor turned into a view.
 */
char *
IvmLockedTableName(Oid relid, LOCKMODE mode)
{
	char		relkind;
	char	   *nspname;
	char	   *relname;

	LockRelationOid(relid, mode);
	relkind = get_rel_relkind(relid);
	nspname = get_namespace_name(get_rel_namespace(relid));
	relname = get_rel_name(relid);
	if ((relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) ||
		nspname == NULL || relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation %u, a table incremental views read, is no longer a table", relid),
				 errdetail("It was dropped, or replaced by another kind of relation, while this ran."),
				 errhint("Run it again.")));
	return quote_qualified_identifier(nspname, relname);
}

/*
 * IvmCatalogBegin / IvmCatalogEnd
 *		Connect to SPI, pin search_path and act as the owner of schema ivm,
 *		who owns the catalog, logs and storage; then undo all three.  Only
 *		statements of ivm's own, over ivm's own relations, run in between.
 */
void
IvmCatalogBegin(IvmUserSave *save)
{
	int			nestlevel;

	IvmSpiConnect();
	nestlevel = IvmPinSearchPath();
	IvmBecome(IvmSchemaOwner(), false, save);
	save->nestlevel = nestlevel;
}

void
IvmCatalogEnd(IvmUserSave *save)
{
	IvmRestoreUser(save);
	if (save->nestlevel >= 0)
		IvmUnpinSearchPath(save->nestlevel);
	SPI_finish();
}

/*
 * IvmCheckServerFile
 *		The rules of COPY for files on the server: a superuser, or a member
 *		of pg_write_server_files (to write) or pg_read_server_files (to
 *		read); and an absolute path, so that nobody wonders where it went.
 *		An s3:// URL (object storage, reached with the server's credentials
 *		as files are with its OS user) takes the same rights.
 */
void
IvmCheckServerFile(const char *path, bool write)
{
	Oid			role = write ? ROLE_PG_WRITE_SERVER_FILES : ROLE_PG_READ_SERVER_FILES;
	bool		s3 = strncmp(path, "s3://", 5) == 0;

	if (!superuser() && !has_privs_of_role(GetUserId(), role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 s3 ? errmsg("permission denied to %s checkpoints in object storage", write ? "write" : "read") :
				 errmsg("permission denied to %s files on the server", write ? "write" : "read"),
				 errdetail("Only roles with privileges of the \"%s\" role, or superusers, may.",
						   write ? "pg_write_server_files" : "pg_read_server_files"),
				 errhint("Ask a superuser to grant you %s.",
						 write ? "pg_write_server_files" : "pg_read_server_files")));
	if (!s3 && !is_absolute_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("path \"%s\" is not absolute", path),
				 errhint("Give the full path of the file on the database server, or an s3://bucket/key URL.")));
}

/*
 * IvmReportViewFailure
 *		Report that maintaining view viewname (owned by owner) failed with
 *		edata, at elevel (WARNING, or ERROR which does not return), to
 *		caller.  A caller with the owner's privileges gets the error in
 *		full; anyone else gets the view's name, the SQLSTATE and what to do,
 *		while the full error goes to the server log only: its message,
 *		detail and context may quote row values the caller may not read.
 *		outcome says what happened to the view, hint what to do.
 */
void
IvmReportViewFailure(ErrorData *edata, const char *viewname, Oid owner, Oid caller,
					 int elevel, const char *outcome, const char *hint)
{
	const char *message = edata->message ? edata->message : "unknown error";
	ErrorContextCallback *save_context = error_context_stack;

	/* edata->context holds the context already: no second copy of it */
	error_context_stack = NULL;
	if (has_privs_of_role(caller, owner))
	{
		ereport(elevel,
				(errcode(edata->sqlerrcode),
				 errmsg("incremental view \"%s\" failed: %s", viewname, message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 errhint("%s %s", outcome, hint),
				 edata->context ? errcontext("%s", edata->context) : 0));
		error_context_stack = save_context;
		return;
	}

	/* LOG_SERVER_ONLY: never sent to a client, whatever client_min_messages says */
	ereport(LOG_SERVER_ONLY,
			(errcode(edata->sqlerrcode),
			 errmsg("incremental view \"%s\" failed: %s", viewname, message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 edata->context ? errcontext("%s", edata->context) : 0));
	ereport(elevel,
			(errcode(edata->sqlerrcode),
			 errmsg("incremental view \"%s\" failed with SQLSTATE %s",
					viewname, unpack_sql_state(edata->sqlerrcode)),
			 errdetail("The view belongs to another role: its owner sees the error in ivm.views, "
					   "and the server log has it.  %s", outcome),
			 errhint("%s", hint)));
	error_context_stack = save_context;
}

/*
 * IvmCheckPreloaded
 *		Refuse to run unless the library came in through
 *		shared_preload_libraries.
 */
void
IvmCheckPreloaded(void)
{
	if (!ivm_loaded_at_startup)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ivm must be loaded via shared_preload_libraries"),
				 errdetail("Capture and ticks depend on hooks installed when the server starts."),
				 errhint("Add ivm to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * NotFromUserCode
 *		The error of IvmCheckUserEntry.
 */
static void
NotFromUserCode(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot %s inside ivm's maintenance of a view", what),
			 errdetail("A view's query, and code it or a view's storage calls, runs as the view's owner while ivm maintains views; it may not tick, create views, watch or push."),
			 errhint("Call it outside the view's query.")));
}

/*
 * IvmCheckUserEntry
 *		Refuse a call of ivm's SQL functions (a tick, a REFRESH, a view's
 *		creation, a watch, a push) from user code that ivm's work runs: a
 *		view's query, code it calls, an index expression of a storage, all
 *		run as their owner, restricted, during a tick, a REFRESH or a
 *		creation.  A tick nested in a tick would consume deltas the outer
 *		tick's snapshot does not see, and the outer tick's recompute of
 *		another role's view would then lose them for good.  (ivm's own C
 *		code acts restricted too, restoring a view as its owner: it does not
 *		come through here.)
 */
void
IvmCheckUserEntry(const char *what)
{
	if (ivm_ticking || InSecurityRestrictedOperation())
		NotFromUserCode(what);
}

/*
 * IvmCheckWritable
 *		Refuse, with a message that says why and what to do, work that
 *		writes when the transaction is read-only or the server is a standby.
 *		what completes "cannot ..." (say "run a tick").
 */
void
IvmCheckWritable(const char *what)
{
	/* a tick nested in a tick, say (IvmCheckUserEntry says why not) */
	if (ivm_ticking)
		NotFromUserCode(what);
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s on a standby server", what),
				 errdetail("Ticks, views and push sources write, and a server in recovery cannot."),
				 errhint("Run it on the primary; standbys receive the views' rows through replication.")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s in a read-only transaction", what),
				 errhint("Run it in a read-write transaction (BEGIN READ WRITE), "
						 "or check default_transaction_read_only.")));
}

/*
 * IvmCheckArgNotNull
 *		22004 naming the argument when argument argno of funcname is null.
 */
void
IvmCheckArgNotNull(FunctionCallInfo fcinfo, int argno, const char *argname,
				   const char *funcname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" of %s must not be null", argname, funcname),
				 errhint("Pass a value for \"%s\".", argname)));
}

/*
 * IvmErrorIsTransient
 *		Errors that are no fault of one view: the tick fails as a whole and
 *		is retried, with every delta still in its log.  What one view's
 *		query can cause by itself (a bad row, out of memory, a program
 *		limit, a bug of ivm on its shape) is not transient: it quarantines
 *		that view, else one role's view could stop every tick.
 */
bool
IvmErrorIsTransient(int sqlerrcode)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	return category == ERRCODE_OPERATOR_INTERVENTION ||	/* cancel, shutdown */
		category == ERRCODE_TRANSACTION_ROLLBACK ||	/* serialization, deadlock */
		category == ERRCODE_SYSTEM_ERROR ||	/* I/O, a shard's worker lost */
		sqlerrcode == ERRCODE_DISK_FULL ||
		sqlerrcode == ERRCODE_TOO_MANY_CONNECTIONS ||
		sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
}
