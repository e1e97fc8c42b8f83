/*-------------------------------------------------------------------------
 *
 * ivm.c
 *		Entry point of the ivm extension: _PG_init, settings, and the small
 *		helpers every other file uses (role switching, SPI checks).
 *
 * The library must be loaded through shared_preload_libraries: capture,
 * ticks and the utility hook all assume it.  Every SQL-callable function
 * starts with IvmCheckPreloaded(), which refuses to run otherwise.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_namespace.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "ivm.h"

PG_MODULE_MAGIC;

bool		ivm_full_recompute = false;
double		ivm_fallback_ratio = 0.5;
int			ivm_change_retention = 1000;
int			ivm_evidence_retention = 10000;
bool		ivm_log_ticks = false;
char	   *ivm_evidence_path = NULL;
int			ivm_dedup_capacity = 10000000;

bool		ivm_loaded_at_startup = false;
int			ivm_maintenance_depth = 0;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(ivm_check_preloaded);

/*
 * _PG_init
 *		Define the settings and install the utility hook.
 */
void
_PG_init(void)
{
	if (process_shared_preload_libraries_in_progress)
		ivm_loaded_at_startup = true;

	DefineCustomBoolVariable("ivm.full_recompute",
							 "Recompute every processed view on every tick.",
							 "The baseline for benchmarks and a safety switch.",
							 &ivm_full_recompute,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("ivm.fallback_ratio",
							 "Recompute a view when its incoming delta exceeds this fraction of its size.",
							 NULL,
							 &ivm_fallback_ratio,
							 0.5, 0.0, 1000000.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ivm.change_retention",
							"Number of epochs of changes kept for each watched view.",
							"ivm.changes() can return changes this many epochs old at most.",
							&ivm_change_retention,
							1000, 1, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ivm.evidence_retention",
							"Number of epochs of per-view evidence kept in ivm.evidence.",
							NULL,
							&ivm_evidence_retention,
							10000, 1, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("ivm.log_ticks",
							 "Log one line per tick.",
							 NULL,
							 &ivm_log_ticks,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("ivm.evidence_path",
							   "File to which each tick appends its per-view evidence, as JSON lines.",
							   "Written when the tick commits; empty means no file.  A relative path is relative to the data directory.",
							   &ivm_evidence_path,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("ivm.dedup_capacity",
							"Number of batch hashes each push source with dedup remembers.",
							"Beyond it the oldest are forgotten (and counted as ivm_dedup_dropped_total in ivm.stats).",
							&ivm_dedup_capacity,
							10000000, 1, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("ivm");

	if (ivm_loaded_at_startup)
		IvmInstallUtilityHook();
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

Datum
ivm_check_preloaded(PG_FUNCTION_ARGS)
{
	IvmCheckPreloaded();
	PG_RETURN_VOID();
}

/*
 * IvmSchemaOwner
 *		The role that owns schema ivm: the one that created the extension.
 *		Catalog tables, logs and storage belong to it.
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
	return owner;
}

/*
 * IvmBecome
 *		Switch the current user to role, saving the previous state in *save.
 *		restricted adds SECURITY_RESTRICTED_OPERATION, as REFRESH MATERIALIZED
 *		VIEW does while it runs a view's query as the view's owner.  An error
 *		leaves the restore to transaction (or subtransaction) abort.
 */
void
IvmBecome(Oid role, bool restricted, IvmUserSave *save)
{
	GetUserIdAndSecContext(&save->userid, &save->sec_context);
	SetUserIdAndSecContext(role,
						   save->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   (restricted ? SECURITY_RESTRICTED_OPERATION : 0));
}

void
IvmRestoreUser(IvmUserSave *save)
{
	SetUserIdAndSecContext(save->userid, save->sec_context);
}

/*
 * IvmSpiConnect
 *		SPI_connect, or a "cannot happen" error.
 */
void
IvmSpiConnect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "ivm: SPI_connect failed");
}

/*
 * IvmCatalogBegin / IvmCatalogEnd
 *		Connect to SPI and act as the owner of schema ivm, who owns the
 *		catalog, logs and storage; then undo both.
 */
void
IvmCatalogBegin(IvmUserSave *save)
{
	IvmSpiConnect();
	IvmBecome(IvmSchemaOwner(), false, save);
}

void
IvmCatalogEnd(IvmUserSave *save)
{
	IvmRestoreUser(save);
	SPI_finish();
}

/*
 * IvmSpiCheck
 *		"Cannot happen" check of an SPI return code.
 */
void
IvmSpiCheck(int rc, int expected, const char *what)
{
	if (rc != expected)
		elog(ERROR, "ivm: SPI failed while %s: %s", what, SPI_result_code_string(rc));
}

/*
 * IvmCheckServerFile
 *		The rules of COPY for files on the server: a superuser, or a member
 *		of pg_write_server_files (to write) or pg_read_server_files (to
 *		read); and an absolute path, so that nobody wonders where it went.
 */
void
IvmCheckServerFile(const char *path, bool write)
{
	Oid			role = write ? ROLE_PG_WRITE_SERVER_FILES : ROLE_PG_READ_SERVER_FILES;

	if (!superuser() && !has_privs_of_role(GetUserId(), role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s files on the server", write ? "write" : "read"),
				 errdetail("Only roles with privileges of the \"%s\" role, or superusers, may.",
						   write ? "pg_write_server_files" : "pg_read_server_files"),
				 errhint("Ask a superuser to grant you %s.",
						 write ? "pg_write_server_files" : "pg_read_server_files")));
	if (!is_absolute_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("path \"%s\" is not absolute", path),
				 errhint("Give the full path of the file on the database server.")));
}
