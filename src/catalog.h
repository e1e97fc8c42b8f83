/*-------------------------------------------------------------------------
 *
 * catalog.h
 *		The catalog layer: lookups in ivm's own tables (catalog.c).
 *
 * Layer: catalog.  Calls exec.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_CATALOG_H
#define IVM_CATALOG_H

#include "ivm.h"

/* ---- catalog ------------------------------------------------------- */

/* catalog.c */
extern int	IvmLookupView(Oid relid, Oid *storage);
extern bool IvmIsIncrementalView(Oid relid);
extern void IvmSettleRelations(void);
extern bool IvmLogHalves(void);

#endif							/* IVM_CATALOG_H */
