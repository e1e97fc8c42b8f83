/*-------------------------------------------------------------------------
 *
 * work.h
 *		The work the SQL-callable functions, triggers and hooks do:
 *		normalize.c, capture.c, view.c, tick.c, watch.c, push.c, full.c,
 *		checkpoint.c, ckptfile.c, restore.c, utility.c.
 *
 * Layer: work.  Calls everything below it; within the layer one way only
 * (push.c -> tick.c -> watch.c, restore.c -> view.c -> capture.c,
 * utility.c -> view.c, tick.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_WORK_H
#define IVM_WORK_H

#include "ivm.h"

/* ---- work ---------------------------------------------------------- */

/* normalize.c: a declared query in the form delta rules read */
extern Query *IvmParseQuery(const char *query_text);
extern Query *IvmNormalizeQuery(Query *query);

/* capture.c */
extern void IvmEnsureCaptured(Oid relid);

/* view.c */
extern Oid	IvmCreateView(const char *name, const char *query_text,
						  List *col_names, const char *mode, bool with_data,
						  const char *options_json, uint64 *rows);

/* tick.c */
/* columns of ivm.tick()'s result */
#define TICK_RESULT_COLUMNS 7
extern void IvmRunTick(int force_view_id, Datum *result_values);
extern Datum IvmTickResult(FunctionCallInfo fcinfo);
extern bool IvmDeltasPending(void);

/* watch.c */
extern void IvmLogChanges(int view_id, Oid owner, Tuplestorestate *delta, TupleDesc vdesc,
						  int64 epoch, Snapshot snap);
extern void IvmNotifyWatchers(const char *channel, Oid viewrel, int64 epoch,
							  uint64 inserted, uint64 deleted);

/* SQL-callable functions used from C */
extern Datum ivm_refresh(PG_FUNCTION_ARGS);

/* worker.c */
extern void IvmRegisterLauncher(void);

/* utility.c */
extern void IvmInstallUtilityHook(void);

#endif							/* IVM_WORK_H */
