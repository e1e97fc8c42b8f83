/*-------------------------------------------------------------------------
 *
 * ivm.h
 *		What every file of the ivm extension shares: its names, settings
 *		and constants.  Each layer declares its functions in a header of
 *		its own, and a file includes the headers of the layers it calls:
 *		exec.h, catalog.h, rows.h, operators.h, strategies.h, work.h.  A
 *		file may call the layers below its own and none above:
 *
 *	exec		exec.c (SPI, kept plans, ephemeral relations), rights.c (who
 *				runs what, pinned search_path, errors across owners, checks),
 *				evidence.c (evidence lines written at commit), shmem.c (shared
 *				memory: the background workers' slots, wake-ups at commit)
 *	catalog		catalog.c (lookups in ivm's own tables)
 *	rows		rows.c (hashes, row identity, consolidation, applying rows)
 *	operators	shape.c (the driver), join.c, joinorder.c, agg.c, outer.c,
 *				scalar.c, semi.c, topk.c, window.c, route.c, qtree.c (query
 *				trees in, delta SQL out; no SPI)
 *	strategies	diff.c (re-run and compare), incr.c (delta rules)
 *	work		normalize.c, capture.c, view.c, tick.c, watch.c, push.c, full.c,
 *				checkpoint.c, ckptfile.c, restore.c, utility.c, worker.c: what
 *				the SQL-callable functions, triggers and background workers
 *				do; a file here calls others here one way only (push.c ->
 *				tick.c -> watch.c, worker.c -> tick.c, restore.c -> view.c ->
 *				capture.c, utility.c -> view.c, tick.c)
 *	ivm.c		_PG_init, settings, hooks: registers the rest
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_H
#define IVM_H

#include "postgres.h"

#include "compat.h"

#include "access/tupdesc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/hsearch.h"
#include "utils/snapshot.h"
#include "utils/tuplestore.h"

#define IVM_SCHEMA			"ivm"
#define IVM_HIDDEN_PREFIX	"__ivm_"
#define IVM_WEIGHT_COLUMN	"__ivm_weight"
#define IVM_HASH_COLUMN		"__ivm_hash"
#define IVM_COUNT_COLUMN	"__ivm_count"
#define IVM_KEY_COLUMN		"__ivm_key"

/* settings (ivm.c) */
extern bool ivm_full_recompute;
extern double ivm_fallback_ratio;
extern int	ivm_change_retention;
extern int	ivm_evidence_retention;
extern bool ivm_log_ticks;
extern char *ivm_evidence_path;
extern int	ivm_dedup_capacity;
extern int	ivm_max_push_rows;
extern int	ivm_debug_hash_bits;
extern int	ivm_tick_interval;	/* ms; 0 = no background ticks */
extern char *ivm_database;
extern int	ivm_max_workers;
extern int	ivm_parallel_min_rows;
extern char *ivm_s3_endpoint;
extern char *ivm_s3_region;
extern char *ivm_s3_access_key_id;
extern char *ivm_s3_secret_access_key;
extern int	ivm_s3_timeout;		/* seconds */
extern int	ivm_statement_level;	/* depth of ivm's own statements, or -1 */

/* ivm.on_error */
typedef enum IvmOnError
{
	IVM_ON_ERROR_QUARANTINE,	/* the failing view waits, the tick commits */
	IVM_ON_ERROR_ABORT			/* the tick fails as a whole */
} IvmOnError;
extern int	ivm_on_error;

/* true while _PG_init has run in this process (shared_preload_libraries) */
extern bool ivm_loaded_at_startup;

/*
 * The relation (a view's storage, a push source) ivm is writing in this
 * backend now, or InvalidOid.  Its guard lets through writes to it alone:
 * a trigger that runs meanwhile cannot write any other guarded relation.
 */
extern Oid	ivm_maintained_rel;

/* true while this backend runs a tick (tick.c): its catalog writes are its own */
extern bool ivm_ticking;

#endif							/* IVM_H */
