/*-------------------------------------------------------------------------
 *
 * watch.c
 *		How changes are announced: one NOTIFY per watched view that changed
 *		in a tick, queued in the tick's transaction so it goes out at commit
 *		and never if the tick rolls back.
 *
 * The payload carries counts only, never rows: LISTEN has no privilege
 * check.  The rows are in ivm._changes (written by diff.c), which
 * ivm.changes() shows only to roles with SELECT on the view.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "lib/stringinfo.h"
#include "utils/json.h"
#include "utils/lsyscache.h"

#include "ivm.h"

/*
 * IvmNotifyWatchers
 *		Queue {"view", "schema", "epoch", "inserted", "deleted"} on channel.
 */
void
IvmNotifyWatchers(const char *channel, Oid viewrel, int64 epoch,
				  uint64 inserted, uint64 deleted)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"view\": ");
	escape_json(&payload, get_rel_name(viewrel));
	appendStringInfoString(&payload, ", \"schema\": ");
	escape_json(&payload, get_namespace_name(get_rel_namespace(viewrel)));
	appendStringInfo(&payload,
					 ", \"epoch\": " INT64_FORMAT ", \"inserted\": " UINT64_FORMAT
					 ", \"deleted\": " UINT64_FORMAT "}",
					 epoch, inserted, deleted);
	Async_Notify(channel, payload.data);
	pfree(payload.data);
}
