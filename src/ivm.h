/*-------------------------------------------------------------------------
 *
 * ivm.h
 *		Types and functions shared by the files of the ivm extension.
 *
 * The life of a delta, one file per step:
 *	capture.c	statement triggers append weighted rows to a per-source log
 *	view.c		declaring a view: checks, deparse, storage, dependencies
 *	diff.c		the diff strategy: re-run, hash each row, apply the difference
 *	tick.c		one epoch: consume deltas, walk the DAG, maintain, record
 *	watch.c		change log and NOTIFY for watched views
 *	utility.c	CREATE/DROP/REFRESH MATERIALIZED VIEW for incremental views
 *	ivm.c		_PG_init, settings, shared helpers
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_H
#define IVM_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/snapshot.h"

#define IVM_SCHEMA			"ivm"
#define IVM_HIDDEN_PREFIX	"__ivm_"
#define IVM_WEIGHT_COLUMN	"__ivm_weight"

/* settings (ivm.c) */
extern bool ivm_full_recompute;
extern double ivm_fallback_ratio;
extern int	ivm_change_retention;
extern int	ivm_evidence_retention;
extern bool ivm_log_ticks;

/* true while _PG_init has run in this process (shared_preload_libraries) */
extern bool ivm_loaded_at_startup;

/*
 * Depth of maintenance work in progress in this backend.  Storage tables
 * refuse writes unless it is positive.
 */
extern int	ivm_maintenance_depth;

/* ivm.c */
extern void IvmCheckPreloaded(void);
extern Oid	IvmSchemaOwner(void);
extern void IvmSpiCheck(int rc, int expected, const char *what);

/* Run a block as another role; restored on error by transaction abort. */
typedef struct IvmUserSave
{
	Oid			userid;
	int			sec_context;
} IvmUserSave;
extern void IvmBecome(Oid role, bool restricted, IvmUserSave *save);
extern void IvmRestoreUser(IvmUserSave *save);
extern void IvmSpiConnect(void);
extern void IvmCatalogBegin(IvmUserSave *save);
extern void IvmCatalogEnd(IvmUserSave *save);

/* capture.c */
extern void IvmEnsureCaptured(Oid relid);

/* view.c */
extern Oid	IvmCreateView(const char *name, const char *query_text,
						  List *col_names, const char *mode, bool with_data,
						  const char *options_json, uint64 *rows);
extern int	IvmLookupView(Oid relid, Oid *storage);
extern char *IvmDeparseQuery(Query *query);

/* diff.c */
typedef struct IvmDiffResult
{
	uint64		inserted;		/* rows added to the storage */
	uint64		deleted;		/* rows removed from the storage */
	uint64		rows_after;		/* rows in the storage afterwards */
} IvmDiffResult;

extern uint64 IvmHashRow(HeapTuple tuple, TupleDesc desc, int firstatt);
extern void IvmDiffView(int view_id, Oid storage_rel, Oid view_owner,
						const char *viewname, const char *query, Snapshot snap,
						int64 epoch, bool watched, IvmDiffResult *result);

/* tick.c */
extern int	IvmExecSnap(const char *sql, int nargs, Oid *argtypes,
						Datum *values, const char *nulls, Snapshot snap,
						long tcount);
extern void IvmRunTick(int force_view_id, Datum *result_values);

/* watch.c */
extern void IvmNotifyWatchers(const char *channel, Oid viewrel, int64 epoch,
							  uint64 inserted, uint64 deleted);

/* SQL-callable functions used from C */
extern Datum ivm_refresh(PG_FUNCTION_ARGS);

/* utility.c */
extern void IvmInstallUtilityHook(void);

#endif							/* IVM_H */
