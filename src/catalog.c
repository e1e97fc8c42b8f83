/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		Lookups in ivm's own catalog that many files need.
 *
 * Layer: catalog.  Calls exec and rights (the catalog is read as the owner
 * of schema ivm, with search_path pinned) only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"

#include "ivm.h"
#include "exec.h"
#include "catalog.h"

/*
 * IvmLookupView
 *		The id of the incremental view whose view or storage relation is
 *		relid, or 0; *storage receives its storage table when not NULL.
 *		Connects to SPI and reads the catalog as the owner of schema ivm, so
 *		any caller may ask.  0 too when the extension is not installed in
 *		this database.
 */
int
IvmLookupView(Oid relid, Oid *storage)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1];
	int			rc;
	bool		isnull;
	int			view_id = 0;
	IvmUserSave save;

	if (!OidIsValid(get_extension_oid("ivm", true)))
		return 0;
	IvmCatalogBegin(&save);
	args[0] = ObjectIdGetDatum(relid);
	rc = SPI_execute_with_args("SELECT id, storagerel::oid FROM ivm._views "
							   "WHERE viewrel = $1::regclass OR storagerel = $1::regclass",
							   1, types, args, NULL, false, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking up a view");
	if (SPI_processed > 0)
	{
		view_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (storage)
			*storage = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 2, &isnull));
	}
	IvmCatalogEnd(&save);
	return view_id;
}


/*
 * IvmIsIncrementalView
 *		relid is an incremental view (or its storage).
 */
bool
IvmIsIncrementalView(Oid relid)
{
	return IvmLookupView(relid, NULL) != 0;
}

/*
 * IvmLogHalves
 *		Whether ivm._sources has loghalf, the second half of each delta log
 *		(ivm--0.1.0--0.2.0.sql): not while the scripts of CREATE or ALTER
 *		EXTENSION run before it, nor over a 0.1.0 catalog not yet updated.
 */
bool
IvmLogHalves(void)
{
	Oid			nspid = get_namespace_oid(IVM_SCHEMA, true);
	Oid			sources = OidIsValid(nspid) ? get_relname_relid("_sources", nspid) : InvalidOid;

	return OidIsValid(sources) && get_attnum(sources, "loghalf") != InvalidAttrNumber;
}

/*
 * IvmSettleRelations
 *		Give every relation ivm keeps users' values in to its owner, with
 *		the rights ivm's work needs and no more: a view's storage (and its
 *		shards) to the view's owner, a delta log to its table's owner; each
 *		keeps SELECT and INSERT (ivm reads them and inserts into them as
 *		that owner; their guard triggers refuse inserts from anyone else) but
 *		not DELETE, UPDATE, TRUNCATE, REFERENCES or TRIGGER: so the owner
 *		can neither delete deltas of its own table that other roles' views
 *		wait for, nor lock their rows (FOR UPDATE and FOR SHARE need UPDATE)
 *		or the relations in a mode that stalls ticks (even through a view
 *		over them: strong modes need UPDATE, DELETE or TRUNCATE).  Relations
 *		an earlier
 *		version made belong to the owner of schema ivm; a restore gives
 *		back only what was dumped: both are set right here.  Reads the
 *		catalog as the command before left it (a view just recorded
 *		included).  Caller is connected to SPI and acts as the owner of
 *		schema ivm.
 */
void
IvmSettleRelations(void)
{
	int			rc;
	SPITupleTable *tt;
	uint64		n;

	rc = SPI_execute(psprintf("%s%s%s",
							  "WITH rel(kind, owner_rel, rel) AS ("
							  "  SELECT 'storage', v.viewrel::pg_catalog.oid, v.storagerel::pg_catalog.oid FROM ivm._views v "
							  "  UNION ALL SELECT 'storage', v.viewrel, i.inhrelid FROM ivm._views v "
							  "  JOIN pg_catalog.pg_inherits i ON i.inhparent OPERATOR(pg_catalog.=) v.storagerel "
							  "  UNION ALL SELECT 'log', s.relid, s.logrel FROM ivm._sources s ",
							  IvmLogHalves()
							  ? "UNION ALL SELECT 'log', s.relid, s.loghalf FROM ivm._sources s "
							  "WHERE s.loghalf IS NOT NULL"
							  : "",
							  "), "
							  "x AS (SELECT r.kind, c.oid AS rel, c.relowner AS has, o.relowner AS should "
							  "  FROM rel r JOIN pg_catalog.pg_class o ON o.oid OPERATOR(pg_catalog.=) r.owner_rel "
							  "  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.rel) "
							  "SELECT pg_catalog.format('ALTER TABLE %s OWNER TO %I', x.rel::pg_catalog.regclass, "
							  "  pg_catalog.pg_get_userbyid(x.should)) "
							  "FROM x WHERE x.has OPERATOR(pg_catalog.<>) x.should "
							  "UNION ALL "
							  "SELECT pg_catalog.format('REVOKE " IVM_OWNER_REVOKED_PRIVILEGES " ON %s FROM %I', "
							  "  x.rel::pg_catalog.regclass, pg_catalog.pg_get_userbyid(x.should)) "
							  "FROM x JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) x.should "
							  "WHERE NOT r.rolsuper AND pg_catalog.has_table_privilege(x.should, x.rel, "
							  "  '" IVM_OWNER_REVOKED_PRIVILEGES "')"),
					 false, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "finding relations to settle with their owners");
	tt = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		rc = SPI_execute(SPI_getvalue(tt->vals[i], tt->tupdesc, 1), false, 0);
		IvmSpiCheck(rc, SPI_OK_UTILITY, "settling a relation with its owner");
	}
	SPI_freetuptable(tt);
}
