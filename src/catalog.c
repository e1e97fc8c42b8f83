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
#include "executor/spi.h"

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
