/*-------------------------------------------------------------------------
 *
 * exec.h
 *		The exec layer: SPI, kept plans, ephemeral relations (exec.c),
 *		who runs what (rights.c), evidence lines (evidence.c).
 *
 * Layer: exec.  Calls PostgreSQL only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_EXEC_H
#define IVM_EXEC_H

#include "ivm.h"

/* ---- exec ---------------------------------------------------------- */

/* exec.c */
extern void IvmSpiConnect(void);
extern void IvmSpiCheck(int rc, int expected, const char *what);
extern SPIPlanPtr IvmKeptPlan(const char *sql, int nargs, Oid *argtypes, int sizeclass);
extern double IvmKeptPlanCost(const char *sql, int sizeclass);
extern int	IvmExecCached(const char *sql, int nargs, Oid *argtypes, Datum *values,
						  const char *nulls, Snapshot snap, long tcount, int sizeclass);
extern int	IvmExecSnap(const char *sql, int nargs, Oid *argtypes,
						Datum *values, const char *nulls, Snapshot snap,
						long tcount);
extern void IvmRegisterTuplestore(const char *name, Tuplestorestate *ts, TupleDesc desc);

/* rights.c: who runs what (the rule is at the top of rights.c) */
extern Oid	IvmSchemaOwner(void);
extern int	IvmPinSearchPath(void);
extern void IvmUnpinSearchPath(int nestlevel);
extern void IvmReportViewFailure(ErrorData *edata, const char *viewname, Oid owner,
								 Oid caller, int elevel, const char *outcome,
								 const char *hint);
extern void IvmCheckServerFile(const char *path, bool write);

/* Run a block as another role; restored on error by transaction abort. */
typedef struct IvmUserSave
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;		/* IvmCatalogBegin's pinned search_path, or -1 */
} IvmUserSave;
extern void IvmBecome(Oid role, bool restricted, IvmUserSave *save);
extern void IvmRestoreUser(IvmUserSave *save);
extern void IvmCatalogBegin(IvmUserSave *save);
extern void IvmCatalogEnd(IvmUserSave *save);

/* rights.c: checks every SQL-callable function makes first */
extern void IvmCheckPreloaded(void);
extern void IvmCheckWritable(const char *what);
extern void IvmCheckArgNotNull(FunctionCallInfo fcinfo, int argno, const char *argname,
							   const char *funcname);

/* evidence.c */
extern void IvmQueueEvidenceLine(const char *line);

#endif							/* IVM_EXEC_H */
