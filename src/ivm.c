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
 * Layer: the top.  Defines the settings and registers the rest
 * (the utility hook, the planner and executor hooks); calls rights.c's
 * checks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_namespace.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "ivm.h"
#include "exec.h"
#include "work.h"

PG_MODULE_MAGIC;

bool		ivm_full_recompute = false;
double		ivm_fallback_ratio = 0.5;
int			ivm_change_retention = 1000;
int			ivm_evidence_retention = 10000;
bool		ivm_log_ticks = false;
char	   *ivm_evidence_path = NULL;
int			ivm_dedup_capacity = 10000000;
int			ivm_on_error = IVM_ON_ERROR_QUARANTINE;
int			ivm_max_push_rows = 10000000;
int			ivm_debug_hash_bits = 64;
int			ivm_tick_interval = 0;
char	   *ivm_database = NULL;
int			ivm_max_workers = 2;
int			ivm_parallel_min_rows = 10000;
char	   *ivm_s3_endpoint = NULL;
char	   *ivm_s3_region = NULL;
char	   *ivm_s3_access_key_id = NULL;
char	   *ivm_s3_secret_access_key = NULL;
int			ivm_s3_timeout = 30;
int			ivm_statement_level = -1;

static const struct config_enum_entry on_error_options[] = {
	{"quarantine", IVM_ON_ERROR_QUARANTINE, false},
	{"abort", IVM_ON_ERROR_ABORT, false},
	{NULL, 0, false}
};

Oid			ivm_maintained_rel = InvalidOid;
bool		ivm_ticking = false;

void		_PG_init(void);
static bool CheckDatabaseList(char **newval, void **extra, GucSource source);
static bool CheckS3AccessKeyId(char **newval, void **extra, GucSource source);
static bool CheckS3SecretAccessKey(char **newval, void **extra, GucSource source);

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
							 "Both of the view's size (rows, or rows aggregated) and of the rows a recompute reads.",
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

	DefineCustomEnumVariable("ivm.on_error",
							 "What a tick does when the maintenance of one view fails.",
							 "quarantine marks that view (and the views that read it) failed and commits the rest; "
							 "abort fails the whole tick, as a single transaction would.",
							 &ivm_on_error,
							 IVM_ON_ERROR_QUARANTINE,
							 on_error_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("ivm.max_push_rows",
							"Most row copies one push may write to a push source.",
							"A batch whose weights add up to more copies is refused before anything is written.",
							&ivm_max_push_rows,
							10000000, 1, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ivm.debug_hash_bits",
							"Bits kept of each row and key hash (for tests that force collisions).",
							"64 in production.  Fewer bits make distinct rows share hashes; results must not change.  "
							"Set it only on a new cluster: stored row and key hashes are not recomputed when it changes.",
							&ivm_debug_hash_bits,
							64, 1, 64,
							/* a server-start setting can only be defined while preloading */
							ivm_loaded_at_startup ? PGC_POSTMASTER : PGC_INTERNAL, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ivm.tick_interval",
							"Time between the background worker's looks for pending deltas; 0 turns the workers off.",
							"A worker ticks as soon as a writer commits deltas, and looks for deltas once per interval.  "
							"Needs shared_preload_libraries and ivm.database.",
							&ivm_tick_interval,
							0, 0, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("ivm.database",
							   "Databases a background worker ticks in (a comma-separated list).",
							   "Each listed database that has the extension gets a worker while ivm.tick_interval is above 0.",
							   &ivm_database,
							   "",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   CheckDatabaseList, NULL, NULL);

	DefineCustomIntVariable("ivm.max_workers",
							"Most background workers one tick uses for the shards of partitioned views.",
							"Each takes a slot of max_worker_processes while a tick runs.",
							&ivm_max_workers,
							2, 0, 64,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ivm.parallel_min_rows",
							"Fewest delta rows for which a partitioned view's shards are maintained by parallel workers.",
							"Below it the tick maintains the shards itself, one after the other (starting workers costs a few milliseconds).",
							&ivm_parallel_min_rows,
							10000, 0, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	/*
	 * Object storage for checkpoints (s3.c).  Superusers only: whoever sets
	 * the endpoint decides where the server's credentials and the
	 * checkpoints go.  The secret is also hidden (SHOW, pg_settings) from
	 * roles that may not read superuser-only settings, and the credentials
	 * may not be stored where every role reads them (CheckS3Credential).
	 */
	DefineCustomStringVariable("ivm.s3_endpoint",
							   "Object storage endpoint for s3:// checkpoints (path-style URL).",
							   "Such as http://127.0.0.1:9000; buckets are ENDPOINT/bucket.  Empty: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL "
							   "from the server's environment, else https://s3.REGION.amazonaws.com.",
							   &ivm_s3_endpoint,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("ivm.s3_region",
							   "Region that s3:// checkpoint requests are signed for.",
							   "Empty: AWS_REGION or AWS_DEFAULT_REGION from the server's environment, else us-east-1.",
							   &ivm_s3_region,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("ivm.s3_access_key_id",
							   "Access key id for s3:// checkpoints.",
							   "Empty: AWS_ACCESS_KEY_ID from the server's environment.",
							   &ivm_s3_access_key_id,
							   "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY,
							   CheckS3AccessKeyId, NULL, NULL);

	DefineCustomStringVariable("ivm.s3_secret_access_key",
							   "Secret access key for s3:// checkpoints.",
							   "Empty: AWS_SECRET_ACCESS_KEY from the server's environment.",
							   &ivm_s3_secret_access_key,
							   "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL,
							   CheckS3SecretAccessKey, NULL, NULL);

	DefineCustomIntVariable("ivm.s3_timeout",
							"Seconds an s3:// checkpoint transfer may make no progress before it counts as failed.",
							"Connecting, and any stall of a transfer: the request is tried again, four times in all.",
							&ivm_s3_timeout,
							30, 1, 3600,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	/*
	 * Not a setting anyone sets: ivm pins it (rights.c IvmPinViewSettings)
	 * to the depth its own statements are planned at while it works for
	 * views, and PostgreSQL's GUC nesting puts it back (at the end of the
	 * work, or when an error aborts it).  Internal, so that no user, role,
	 * function or configuration file can: the planner sizes never-analyzed
	 * tables differently for ivm's statements (exec.c).
	 */
	DefineCustomIntVariable("ivm.statement_level",
							"Planner and executor depth of the statements ivm runs for views (internal), or -1.",
							NULL,
							&ivm_statement_level,
							-1, -1, INT_MAX,
							PGC_INTERNAL,
							GUC_NO_SHOW_ALL | GUC_NO_RESET_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("ivm");

	if (ivm_loaded_at_startup)
	{
		IvmInstallUtilityHook();
		IvmInstallShmemHooks();
		IvmInstallPlannerHooks();
		IvmRegisterLauncher();
	}
}

/*
 * CheckDatabaseList
 *		ivm.database must be a list of names (as search_path is): refused
 *		otherwise, so that ALTER SYSTEM cannot store a malformed one.
 */
static bool
CheckDatabaseList(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval);
	List	   *names;
	bool		ok = SplitIdentifierString(copy, ',', &names);

	list_free(names);
	pfree(copy);
	if (!ok)
	{
		GUC_check_errdetail("ivm.database must be a comma-separated list of database names.");
		return false;
	}
	return true;
}

/*
 * CheckS3Credential
 *		The credentials for object storage (setting name) are refused from
 *		the sources PostgreSQL keeps in catalogs that every role may read:
 *		ALTER ROLE / ALTER DATABASE ... SET (pg_db_role_setting, shown by
 *		pg_roles.rolconfig) and CREATE / ALTER FUNCTION ... SET
 *		(pg_proc.proconfig).  Those statements check a value with source
 *		PGC_S_TEST before they store it; what is stored already (from an
 *		older ivm) is applied at session start from PGC_S_GLOBAL,
 *		PGC_S_DATABASE, PGC_S_USER or PGC_S_DATABASE_USER, and is refused
 *		then with a warning.  postgresql.conf, ALTER SYSTEM, SET and the
 *		server's environment stay.  The message never quotes the value,
 *		which PostgreSQL's own would.
 */
static bool
CheckS3Credential(const char *name, GucSource source)
{
	switch (source)
	{
		case PGC_S_TEST:
		case PGC_S_GLOBAL:
		case PGC_S_DATABASE:
		case PGC_S_USER:
		case PGC_S_DATABASE_USER:
			GUC_check_errmsg("%s cannot be set per role, per database or per function", name);
			GUC_check_errdetail("Such settings are kept in pg_db_role_setting or pg_proc, which every role can read.");
			if (source == PGC_S_TEST)
				GUC_check_errhint("Set it in postgresql.conf (or with ALTER SYSTEM), or leave it empty and give the server "
								  "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment.");
			else
				GUC_check_errhint("The stored value is ignored: remove it with ALTER ROLE or ALTER DATABASE ... RESET %s, "
								  "and set it in postgresql.conf (or with ALTER SYSTEM) or in the server's environment.",
								  name);
			return false;
		default:
			return true;
	}
}

static bool
CheckS3AccessKeyId(char **newval, void **extra, GucSource source)
{
	return CheckS3Credential("ivm.s3_access_key_id", source);
}

static bool
CheckS3SecretAccessKey(char **newval, void **extra, GucSource source)
{
	return CheckS3Credential("ivm.s3_secret_access_key", source);
}

Datum
ivm_check_preloaded(PG_FUNCTION_ARGS)
{
	IvmCheckPreloaded();
	PG_RETURN_VOID();
}

