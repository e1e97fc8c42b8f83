/*-------------------------------------------------------------------------
 *
 * rows.h
 *		The rows layer: hashes, row identity, consolidation, applying
 *		rows to a view's storage (rows.c).
 *
 * Layer: rows.  Calls exec.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_ROWS_H
#define IVM_ROWS_H

#include "ivm.h"

/* ---- rows ---------------------------------------------------------- */

/* rows.c */
/*
 * A row as the key of a hash table of distinct rows: the hash finds the
 * candidates, the columns decide (IvmRowKeysEqual).  The compared columns
 * are firstatt..lastatt (1-based) of tuple, skipatt (0: none) aside.
 */
typedef struct IvmRowKey
{
	uint64		hash;			/* IvmHashRow of the compared columns */
	HeapTuple	tuple;
	TupleDesc	desc;
	int			firstatt;
	int			lastatt;
	int			skipatt;
} IvmRowKey;

extern List *IvmLiveColumns(TupleDesc desc);
extern const char *IvmDatumImage(Datum value, int16 attlen, uint32 *len, Pointer *copy);
extern uint64 IvmHashRow(HeapTuple tuple, TupleDesc desc, int firstatt, int lastatt);
extern uint64 IvmHashRowValues(Datum *values, bool *nulls, TupleDesc desc, int natts);
extern void IvmRowKeyInit(IvmRowKey *key, HeapTuple tuple, TupleDesc desc,
						  int firstatt, int lastatt, int skipatt);
extern bool IvmRowKeysEqual(const IvmRowKey *a, const IvmRowKey *b);
extern HTAB *IvmRowTableCreate(const char *name, long nelem, Size entrysize,
							   MemoryContext cxt);
typedef struct IvmConsolidator IvmConsolidator;
extern IvmConsolidator *IvmConsolidatorBegin(TupleDesc desc, int wattr);
extern void IvmConsolidatorPut(IvmConsolidator *c, Datum *values, bool *nulls);
extern uint64 IvmConsolidatorEnd(IvmConsolidator *c, Tuplestorestate *out);
extern uint64 IvmConsumeLog(Oid logrel, Oid halfrel, int active, Snapshot snap,
							 Tuplestorestate *out, TupleDesc *desc, int *truncated,
							 bool *left_dead);
extern void IvmRouteRows(Tuplestorestate *rows, TupleDesc desc, AttrNumber attno, Oid partrel,
						 int n, Tuplestorestate **out);
extern HeapTuple IvmVisibleTuple(HeapTuple tuple, TupleDesc desc, TupleDesc vdesc,
								 int64 weight);
extern TupleDesc IvmCtidDesc(void);
extern ItemPointerData *IvmCtidArray(Tuplestorestate *ctids, uint64 n);
extern void IvmApplyRowsFrom(Oid storage_rel, const char *storage_name,
							 Tuplestorestate *ctids, uint64 nctids,
							 Tuplestorestate *inserts, TupleDesc storage_desc,
							 uint64 ninserts, Snapshot snap, const char *viewname);
extern void IvmApplyRows(Oid storage_rel, const char *storage_name,
						 ItemPointerData *deletes, uint64 ndeletes,
						 Tuplestorestate *inserts, TupleDesc storage_desc,
						 uint64 ninserts, Snapshot snap, const char *viewname);

#endif							/* IVM_ROWS_H */
