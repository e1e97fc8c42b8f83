/*-------------------------------------------------------------------------
 *
 * utility.c
 *		The ProcessUtility hook: the materialized-view statements users know,
 *		applied to incremental views.
 *
 *	CREATE MATERIALIZED VIEW v WITH (ivm.incremental) AS ...	-> ivm.create_view
 *	DROP MATERIALIZED VIEW v	-> DROP VIEW v (cleanup by the sql_drop trigger)
 *	REFRESH MATERIALIZED VIEW v	-> ivm.refresh(v)
 *	CREATE INDEX ON v (cols)	-> the index goes on v's storage table
 *
 * Everything else, and everything in a database without the extension,
 * passes straight to the previous hook.
 *
 * Layer: work (a hook ivm.c installs).  Calls view.c, tick.c
 * (REFRESH), shape.c (deparse), catalog, exec and rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "commands/tablespace.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "ivm.h"
#include "exec.h"
#include "catalog.h"
#include "operators.h"
#include "work.h"

PG_FUNCTION_INFO_V1(ivm_on_ddl_start);

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*
 * IncrementalOption
 *		Whether a CREATE MATERIALIZED VIEW's WITH list asks for an incremental
 *		view: (ivm.incremental) or (incremental), optionally = true/false.
 */
static bool
IncrementalOption(List *options)
{
	ListCell   *lc;
	bool		incremental = false;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "incremental") == 0 &&
			(def->defnamespace == NULL || strcmp(def->defnamespace, "ivm") == 0))
			incremental = defGetBoolean(def);
	}
	if (!incremental)
		return false;

	/* an incremental view's storage takes no storage parameters */
	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "incremental") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("storage parameter \"%s\" is not supported for incremental views",
							def->defname),
					 errhint("Leave only ivm.incremental in the WITH list.")));
	}
	return true;
}

/*
 * RelationIsIncrementalView
 *		relid names an incremental view (the relation users read).
 */
static bool
RelationIsIncrementalView(Oid relid, Oid *storage)
{
	Oid			found_storage = InvalidOid;

	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_VIEW)
		return false;
	if (IvmLookupView(relid, &found_storage) == 0 || found_storage == relid)
		return false;
	if (storage)
		*storage = found_storage;
	return true;
}

static void
CreateIncrementalView(CreateTableAsStmt *stmt, QueryCompletion *qc)
{
	IntoClause *into = stmt->into;
	char	   *name;
	uint64		rows = 0;

	if (stmt->if_not_exists)
	{
		Oid			nspid = RangeVarGetCreationNamespace(into->rel);

		if (OidIsValid(get_relname_relid(into->rel->relname, nspid)))
		{
			ereport(NOTICE,
					(errcode(ERRCODE_DUPLICATE_TABLE),
					 errmsg("relation \"%s\" already exists, skipping", into->rel->relname)));
			return;
		}
	}
	if (into->rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("incremental views cannot be temporary")));
	if (into->accessMethod || into->tableSpaceName)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("USING and TABLESPACE are not supported for incremental views")));

	IvmCheckUserEntry("create an incremental view");
	name = into->rel->schemaname
		? quote_qualified_identifier(into->rel->schemaname, into->rel->relname)
		: pstrdup(quote_identifier(into->rel->relname));
	(void) IvmCreateView(name, IvmDeparseQuery(castNode(Query, stmt->query)),
						 into->colNames, "auto", !into->skipData, NULL, &rows);
	if (qc)
		SetQueryCompletion(qc, CMDTAG_SELECT, rows);
}

/*
 * DropStatement
 *		DROP MATERIALIZED VIEW naming incremental views becomes DROP VIEW.
 *		Returns the statement to run (maybe stmt itself).
 */
static DropStmt *
DropStatement(DropStmt *stmt)
{
	ListCell   *lc;
	int			nincremental = 0;
	DropStmt   *copy;

	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);

		if (RelationIsIncrementalView(relid, NULL))
			nincremental++;
	}
	if (nincremental == 0)
		return stmt;
	if (nincremental != list_length(stmt->objects))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot drop incremental and other materialized views in one statement"),
				 errhint("Drop them with separate statements.")));
	copy = copyObject(stmt);
	copy->removeType = OBJECT_VIEW;
	return copy;
}

/*
 * BeforeDropExtension
 *		DROP EXTENSION naming ivm, by its owner: first make what ivm made
 *		depend on the extension, so that the drop refuses while views exist
 *		and, with CASCADE, removes them, their storage and the delta logs
 *		(which would otherwise stay behind and stop a new CREATE EXTENSION).
 */
static void
BeforeDropExtension(DropStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		if (strcmp(strVal(lfirst(lc)), "ivm") == 0)
		{
			Oid			extoid = get_extension_oid("ivm", false);

			if (IvmExtensionOwnerCheck(extoid, GetUserId()))
				IvmRecordExtensionDependencies(extoid);
			return;
		}
	}
}

/*
 * IndexStatement
 *		CREATE INDEX ON an incremental view: build it on the storage table,
 *		for the view's owner, over plain columns only.
 */
static IndexStmt *
IndexStatement(IndexStmt *stmt, Oid *storage)
{
	Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	IndexStmt  *copy;
	ListCell   *lc;

	if (!RelationIsIncrementalView(relid, storage))
		return NULL;
	if (!IvmRelationOwnerCheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_VIEW, get_rel_name(relid));
	foreach(lc, stmt->indexParams)
	{
		IndexElem  *elem = lfirst_node(IndexElem, lc);

		if (elem->name == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("indexes on incremental views can only list columns"),
					 errhint("Expressions are not supported; index the columns themselves.")));
	}
	/*
	 * CONCURRENTLY commits and starts transactions of its own, which would
	 * take ivm's owner, whom the build starts as, for the session's user.
	 */
	if (stmt->concurrent)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("CREATE INDEX CONCURRENTLY is not supported on incremental views"),
				 errhint("Use CREATE INDEX without CONCURRENTLY: the storage is written only by ticks.")));
	if (stmt->whereClause || stmt->indexIncludingParams || stmt->unique)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("partial, unique and INCLUDE indexes are not supported on incremental views"),
				 errhint("Create a plain index over the view's columns.")));
	/*
	 * The index is made by the owner of schema ivm (PostgreSQL builds it as
	 * the storage's owner): what the caller could not do as themselves is
	 * refused here.  ivm's own relations there are named _<kind>_<n>; an
	 * index may not take such a name ahead of them.
	 */
	if (stmt->idxname != NULL && stmt->idxname[0] == '_')
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("index name \"%s\" is reserved for ivm", stmt->idxname),
				 errdetail("Indexes on incremental views live in schema ivm, where names starting with \"_\" are ivm's own."),
				 errhint("Choose a name that does not start with \"_\", or let PostgreSQL choose one.")));
	if (stmt->tableSpace != NULL)
	{
		Oid			spc = get_tablespace_oid(stmt->tableSpace, false);
		AclResult	aclresult = IvmTablespaceAclCheck(spc, GetUserId(), ACL_CREATE);

		if (aclresult != ACLCHECK_OK)
			aclcheck_error(aclresult, OBJECT_TABLESPACE, stmt->tableSpace);
	}
	else
	{
		/* default_tablespace as the caller set it: the caller's to use too */
		Oid			spc = GetDefaultTablespace(get_rel_persistence(*storage), false);

		if (OidIsValid(spc) && spc != MyDatabaseTableSpace &&
			IvmTablespaceAclCheck(spc, GetUserId(), ACL_CREATE) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLESPACE, get_tablespace_name(spc));
	}
	copy = copyObject(stmt);
	copy->relation = makeRangeVar(get_namespace_name(get_rel_namespace(*storage)),
								  get_rel_name(*storage), -1);
	return copy;
}

/*
 * FollowOwnerChange
 *		After ALTER VIEW v OWNER TO r on an incremental view: r owns its
 *		definition too (the query runs with r's rights), its storage and
 *		the storage's shards (they hold r's values now: whatever PostgreSQL
 *		runs on them runs as r), and its hidden views (ALTER VIEW of each,
 *		which comes back here for theirs): no part of the view goes on
 *		running with the rights of its former owner, who no longer reads
 *		its storage.
 */
static void
FollowOwnerChange(AlterTableStmt *stmt)
{
	ListCell   *lc;
	Oid			relid;
	Oid			storage = InvalidOid;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		IvmUserSave save;
		Oid			owner_id;
		int			rc;

		if (cmd->subtype != AT_ChangeOwner)
			continue;
		relid = RangeVarGetRelid(stmt->relation, NoLock, true);
		if (!RelationIsIncrementalView(relid, &storage))
			return;
		owner_id = IvmRelationOwner(relid);
		IvmCatalogBegin(&save);
		{
			Oid			types[2] = {OIDOID, OIDOID};
			Datum		args[2];

			/* the role travels as a parameter; format() quotes it */
			args[0] = ObjectIdGetDatum(relid);
			args[1] = ObjectIdGetDatum(owner_id);
			rc = SPI_execute_with_args("SELECT q.stmt FROM ivm._views v, pg_catalog.pg_roles r, LATERAL ("
									   " SELECT pg_catalog.format('ALTER VIEW %s OWNER TO %I', v.defrel, r.rolname), 1"
									   " UNION ALL"
									   " SELECT pg_catalog.format('ALTER TABLE %s OWNER TO %I', s.rel::pg_catalog.regclass, r.rolname), 2"
									   " FROM (SELECT v.storagerel::pg_catalog.oid UNION ALL SELECT i.inhrelid"
									   "       FROM pg_catalog.pg_inherits i"
									   "       WHERE i.inhparent OPERATOR(pg_catalog.=) v.storagerel) s(rel)"
									   " UNION ALL"
									   " SELECT pg_catalog.format('ALTER VIEW %s OWNER TO %I', h.viewrel, r.rolname), 3"
									   " FROM ivm._views h WHERE h.parent_id OPERATOR(pg_catalog.=) v.id) q(stmt, ord) "
									   "WHERE v.viewrel OPERATOR(pg_catalog.=) $1 AND r.oid OPERATOR(pg_catalog.=) $2 "
									   "ORDER BY q.ord",
									   2, types, args, NULL, true, 0);
		}
		IvmSpiCheck(rc, SPI_OK_SELECT, "finding the parts of a view");
		{
			SPITupleTable *tt = SPI_tuptable;
			uint64		n = SPI_processed;

			for (uint64 i = 0; i < n; i++)
				IvmInternalDdl(SPI_getvalue(tt->vals[i], tt->tupdesc, 1), IvmSchemaOwner(),
							   "handing a part of a view to its new owner");
		}
		IvmCatalogEnd(&save);
		return;
	}
}

/*
 * InIvmSchema
 *		rv names an existing relation of schema ivm.
 */
static bool
InIvmSchema(RangeVar *rv)
{
	Oid			relid;

	if (rv == NULL)
		return false;
	relid = RangeVarGetRelid(rv, NoLock, true);
	return OidIsValid(relid) &&
		get_rel_namespace(relid) == get_namespace_oid(IVM_SCHEMA, false);
}

/* the relation a DROP TRIGGER/RULE/POLICY names: all but the last name */
static RangeVar *
DroppedOnRelation(List *names)
{
	if (list_length(names) < 2)
		return NULL;
	return makeRangeVarFromNameList(list_truncate(list_copy(names), list_length(names) - 1));
}

/*
 * GuardedTarget
 *		The relation of schema ivm that statement parsetree would change the
 *		shape of, or NULL: ALTER, RENAME, SET SCHEMA, triggers, rules,
 *		policies, indexes, views replaced, partitions or children added,
 *		drops of tables and views, privileges granted or revoked, locks
 *		(which could stall every tick; LOCK of an incremental view locks its
 *		storage).  (DROP INDEX, VACUUM, ANALYZE, REINDEX and CLUSTER are left
 *		to PostgreSQL's own checks.)
 */
static RangeVar *
GuardedTarget(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			if (InIvmSchema(((AlterTableStmt *) parsetree)->relation))
				return ((AlterTableStmt *) parsetree)->relation;
			/* a table made a child of one of them */
			foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
			{
				AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

				if (cmd->subtype == AT_AddInherit && InIvmSchema((RangeVar *) cmd->def))
					return (RangeVar *) cmd->def;
				if (cmd->subtype == AT_AttachPartition &&
					InIvmSchema(((PartitionCmd *) cmd->def)->name))
					return ((PartitionCmd *) cmd->def)->name;
			}
			return NULL;
		case T_RenameStmt:
			return InIvmSchema(((RenameStmt *) parsetree)->relation)
				? ((RenameStmt *) parsetree)->relation : NULL;
		case T_AlterObjectSchemaStmt:
			return InIvmSchema(((AlterObjectSchemaStmt *) parsetree)->relation)
				? ((AlterObjectSchemaStmt *) parsetree)->relation : NULL;
		case T_RuleStmt:
			return InIvmSchema(((RuleStmt *) parsetree)->relation)
				? ((RuleStmt *) parsetree)->relation : NULL;
		case T_CreateTrigStmt:
			return InIvmSchema(((CreateTrigStmt *) parsetree)->relation)
				? ((CreateTrigStmt *) parsetree)->relation : NULL;
		case T_CreatePolicyStmt:
			return InIvmSchema(((CreatePolicyStmt *) parsetree)->table)
				? ((CreatePolicyStmt *) parsetree)->table : NULL;
		case T_AlterPolicyStmt:
			return InIvmSchema(((AlterPolicyStmt *) parsetree)->table)
				? ((AlterPolicyStmt *) parsetree)->table : NULL;
		case T_IndexStmt:
			return InIvmSchema(((IndexStmt *) parsetree)->relation)
				? ((IndexStmt *) parsetree)->relation : NULL;
		case T_CreateStatsStmt:
			foreach(lc, ((CreateStatsStmt *) parsetree)->relations)
				if (IsA(lfirst(lc), RangeVar) && InIvmSchema(lfirst(lc)))
					return lfirst(lc);
			return NULL;
		case T_LockStmt:
			/* (locking an incremental view locks its storage too) */
			foreach(lc, ((LockStmt *) parsetree)->relations)
				if (InIvmSchema(lfirst_node(RangeVar, lc)) ||
					RelationIsIncrementalView(RangeVarGetRelid(lfirst_node(RangeVar, lc), NoLock, true), NULL))
					return lfirst(lc);
			return NULL;
		case T_GrantStmt:
			{
				GrantStmt  *stmt = (GrantStmt *) parsetree;

				if (stmt->objtype != OBJECT_TABLE && stmt->objtype != OBJECT_SEQUENCE)
					return NULL;
				foreach(lc, stmt->objects)
				{
					if (stmt->targtype == ACL_TARGET_OBJECT && InIvmSchema(lfirst_node(RangeVar, lc)))
						return lfirst(lc);
					if (stmt->targtype == ACL_TARGET_ALL_IN_SCHEMA &&
						strcmp(strVal(lfirst(lc)), IVM_SCHEMA) == 0)
						return makeRangeVar(IVM_SCHEMA, "*", -1);
				}
				return NULL;
			}
		case T_ViewStmt:
			return InIvmSchema(((ViewStmt *) parsetree)->view)
				? ((ViewStmt *) parsetree)->view : NULL;
		case T_CreateStmt:
			foreach(lc, ((CreateStmt *) parsetree)->inhRelations)
				if (InIvmSchema(lfirst_node(RangeVar, lc)))
					return lfirst(lc);
			return NULL;
		case T_DropStmt:
			{
				DropStmt   *stmt = (DropStmt *) parsetree;

				foreach(lc, stmt->objects)
				{
					RangeVar   *rv = NULL;

					if (stmt->removeType == OBJECT_TABLE || stmt->removeType == OBJECT_VIEW ||
						stmt->removeType == OBJECT_SEQUENCE || stmt->removeType == OBJECT_MATVIEW ||
						stmt->removeType == OBJECT_FOREIGN_TABLE)
						rv = makeRangeVarFromNameList((List *) lfirst(lc));
					else if (stmt->removeType == OBJECT_TRIGGER || stmt->removeType == OBJECT_RULE ||
							 stmt->removeType == OBJECT_POLICY)
						rv = DroppedOnRelation((List *) lfirst(lc));
					if (InIvmSchema(rv))
						return rv;
				}
				return NULL;
			}
		default:
			return NULL;
	}
}

/* whether relation relid carries capture triggers of ivm (ivm_capture_<n>_...) */
static bool
HasCaptureTriggers(Oid relid)
{
	Relation	rel;
	bool		found = false;

	if (!OidIsValid(relid))
		return false;
	rel = table_open(relid, AccessShareLock);
	if (rel->trigdesc != NULL)
		for (int i = 0; i < rel->trigdesc->numtriggers && !found; i++)
			found = strncmp(rel->trigdesc->triggers[i].tgname, "ivm_capture_", 12) == 0;
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * CaptureTriggerTouched
 *		The table whose capture triggers statement parsetree would disable,
 *		drop or rename, or NULL: writes that go uncaptured would leave other
 *		roles' views over the table wrong, silently.
 */
static RangeVar *
CaptureTriggerTouched(Node *parsetree)
{
	ListCell   *lc;

	if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;

		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if (((cmd->subtype == AT_DisableTrig || cmd->subtype == AT_EnableReplicaTrig) &&
				 strncmp(cmd->name, "ivm_capture_", 12) == 0) ||
				((cmd->subtype == AT_DisableTrigAll || cmd->subtype == AT_DisableTrigUser) &&
				 HasCaptureTriggers(RangeVarGetRelid(stmt->relation, NoLock, true))))
				return stmt->relation;
		}
	}
	else if (IsA(parsetree, DropStmt) && ((DropStmt *) parsetree)->removeType == OBJECT_TRIGGER)
	{
		foreach(lc, ((DropStmt *) parsetree)->objects)
		{
			List	   *names = (List *) lfirst(lc);

			if (strncmp(strVal(llast(names)), "ivm_capture_", 12) == 0)
				return DroppedOnRelation(names);
		}
	}
	else if (IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_TRIGGER &&
			 (strncmp(((RenameStmt *) parsetree)->subname, "ivm_capture_", 12) == 0 ||
			  strncmp(((RenameStmt *) parsetree)->newname, "ivm_capture_", 12) == 0))
		return ((RenameStmt *) parsetree)->relation;
	return NULL;
}

/*
 * GuardIvmRelations
 *		Refuse a statement that would change a relation of schema ivm, from
 *		a role that is not a superuser, unless ivm runs it (IvmInternalDdl).
 *		Those relations hold their owners' values and belong to them (so
 *		that PostgreSQL runs their types' code with their rights), but their
 *		shape is ivm's: a view's storage, its definition, a delta log.
 */
static void
GuardIvmRelations(Node *parsetree)
{
	RangeVar   *rv;

	if (superuser())
		return;
	rv = GuardedTarget(parsetree);
	if (rv != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("relation \"%s.%s\" belongs to ivm", IVM_SCHEMA, rv->relname),
				 errdetail("Storage, definitions and delta logs of incremental views are changed by ivm only, even by their owners."),
				 errhint("Use the statements on the incremental view itself (CREATE INDEX ON, REFRESH, ALTER VIEW ... OWNER TO, DROP) or ivm's functions.")));
	if (IsA(parsetree, CreateTrigStmt) &&
		strncmp(((CreateTrigStmt *) parsetree)->trigname, "ivm_capture_", 12) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("trigger names beginning with \"ivm_capture_\" are reserved for ivm"),
				 errdetail("ivm takes a trigger of such a name for one of its capture triggers: a table carrying one would go uncaptured, or mark another table's views for recompute when dropped."),
				 errhint("Give the trigger another name.")));
	rv = CaptureTriggerTouched(parsetree);
	if (rv != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot disable, drop or rename the capture triggers of \"%s\"", rv->relname),
				 errdetail("Incremental views read the table: writes it did not capture would leave them differing from their queries."),
				 errhint("Drop the incremental views that read the table first (ivm.dependencies lists them), or ask a superuser.")));
}

/*
 * ProcessStatement
 *		The hook's work for one statement; internal when ivm itself runs it
 *		(IvmInternalDdl), which lifts the guard on schema ivm for it alone.
 */
static void
ProcessStatement(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				 ProcessUtilityContext context, ParamListInfo params,
				 QueryEnvironment *queryEnv, DestReceiver *dest,
				 QueryCompletion *qc, bool internal)
{
	Node	   *parsetree = pstmt->utilityStmt;
	bool		installed = false;

	/*
	 * Look at the catalog only for the statements handled here, and only in
	 * a live transaction: this hook also runs for ROLLBACK after an error,
	 * when the catalog cannot be read.
	 */
	if ((IsA(parsetree, CreateTableAsStmt) || IsA(parsetree, DropStmt) ||
		 IsA(parsetree, RefreshMatViewStmt) || IsA(parsetree, IndexStmt) ||
		 IsA(parsetree, AlterTableStmt) || IsA(parsetree, RenameStmt) ||
		 IsA(parsetree, AlterObjectSchemaStmt) || IsA(parsetree, RuleStmt) ||
		 IsA(parsetree, CreateTrigStmt) || IsA(parsetree, CreatePolicyStmt) ||
		 IsA(parsetree, AlterPolicyStmt) || IsA(parsetree, CreateStatsStmt) ||
		 IsA(parsetree, ViewStmt) || IsA(parsetree, CreateStmt) ||
		 IsA(parsetree, LockStmt) || IsA(parsetree, GrantStmt)) &&
		IsTransactionState() && !IsAbortedTransactionBlockState())
		installed = OidIsValid(get_extension_oid("ivm", true));
	if (installed && !internal)
		GuardIvmRelations(parsetree);

	/*
	 * CREATE EXTENSION ivm: never in a schema ivm another role owns; the
	 * launcher starts the workers that waited for the extension
	 */
	if (IsA(parsetree, CreateExtensionStmt) &&
		strcmp(((CreateExtensionStmt *) parsetree)->extname, "ivm") == 0)
	{
		if (IsTransactionState() && !IsAbortedTransactionBlockState())
			IvmCheckSchemaBeforeCreate();
		IvmWakeLauncherAtCommit();
	}

	if (installed && IsA(parsetree, CreateTableAsStmt))
	{
		CreateTableAsStmt *stmt = (CreateTableAsStmt *) parsetree;

		if (stmt->objtype == OBJECT_MATVIEW && IncrementalOption(stmt->into->options))
		{
			CreateIncrementalView(stmt, qc);
			return;
		}
	}
	else if (installed && IsA(parsetree, DropStmt) &&
			 ((DropStmt *) parsetree)->removeType == OBJECT_MATVIEW)
	{
		DropStmt   *stmt = DropStatement((DropStmt *) parsetree);

		if (stmt != (DropStmt *) parsetree)
		{
			PlannedStmt *copy = copyObject(pstmt);

			copy->utilityStmt = (Node *) stmt;
			pstmt = copy;
			readOnlyTree = false;
		}
	}
	else if (installed && IsA(parsetree, DropStmt) &&
			 ((DropStmt *) parsetree)->removeType == OBJECT_EXTENSION)
		BeforeDropExtension((DropStmt *) parsetree);
	else if (installed && IsA(parsetree, ViewStmt) && ((ViewStmt *) parsetree)->replace)
	{
		Oid			relid = RangeVarGetRelid(((ViewStmt *) parsetree)->view, NoLock, true);

		if (OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_VIEW)
			IvmCheckReplaceView(relid);
	}
	else if (installed && IsA(parsetree, RefreshMatViewStmt))
	{
		RefreshMatViewStmt *stmt = (RefreshMatViewStmt *) parsetree;
		Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);

		if (RelationIsIncrementalView(relid, NULL))
		{
			if (stmt->skipData)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("REFRESH ... WITH NO DATA is not supported for incremental views"),
						 errhint("Drop the view if it is no longer needed.")));
			DirectFunctionCall1(ivm_refresh, ObjectIdGetDatum(relid));
			if (qc)
				SetQueryCompletion(qc, CMDTAG_REFRESH_MATERIALIZED_VIEW, 0);
			return;
		}
	}
	else if (installed && IsA(parsetree, IndexStmt))
	{
		Oid			storage = InvalidOid;
		IndexStmt  *stmt = IndexStatement((IndexStmt *) parsetree, &storage);

		if (stmt != NULL)
		{
			PlannedStmt *copy = copyObject(pstmt);
			IvmUserSave save;

			copy->utilityStmt = (Node *) stmt;

			/*
			 * As ivm's owner, who may create in schema ivm; PostgreSQL builds
			 * the index as the storage's owner, restricted.
			 */
			IvmBecome(IvmSchemaOwner(), false, &save);
			if (prev_ProcessUtility)
				prev_ProcessUtility(copy, queryString, false, context, params,
									queryEnv, dest, qc);
			else
				standard_ProcessUtility(copy, queryString, false, context, params,
										queryEnv, dest, qc);
			IvmRestoreUser(&save);
			return;
		}
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	/* (ALTER TABLE works on views too) */
	if (installed && IsA(parsetree, AlterTableStmt) &&
		(((AlterTableStmt *) parsetree)->objtype == OBJECT_VIEW ||
		 ((AlterTableStmt *) parsetree)->objtype == OBJECT_TABLE))
		FollowOwnerChange((AlterTableStmt *) parsetree);
}

/*
 * IvmProcessUtility
 *		The hook.  A statement ivm runs itself (ivm_internal_ddl raised) is
 *		internal; whatever it runs in turn (a domain's check, a function
 *		called while a table is rewritten, as its owner) is not: the counter
 *		reads zero while the statement runs.
 */
static void
IvmProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				  ProcessUtilityContext context, ParamListInfo params,
				  QueryEnvironment *queryEnv, DestReceiver *dest,
				  QueryCompletion *qc)
{
	int			internal = ivm_internal_ddl;

	if (internal == 0)
	{
		/*
		 * COMMIT PREPARED commits a transaction that may have written deltas:
		 * it bumps the change counter before and after, as a commit does
		 * (shmem.c), so that the next tick looks (tick.c's fast path).
		 */
		bool		commit_prepared = IsA(pstmt->utilityStmt, TransactionStmt) &&
			((TransactionStmt *) pstmt->utilityStmt)->kind == TRANS_STMT_COMMIT_PREPARED;

		if (commit_prepared)
			IvmChangedNow();
		ProcessStatement(pstmt, queryString, readOnlyTree, context, params, queryEnv,
						 dest, qc, false);
		if (commit_prepared)
			IvmChangedNow();
		return;
	}
	ivm_internal_ddl = 0;
	PG_TRY();
	{
		ProcessStatement(pstmt, queryString, readOnlyTree, context, params, queryEnv,
						 dest, qc, true);
	}
	PG_FINALLY();
	{
		ivm_internal_ddl = internal;
	}
	PG_END_TRY();
}

/*
 * ivm_on_ddl_start
 *		Event trigger on ddl_command_start for CREATE MATERIALIZED VIEW.  With
 *		the library preloaded, the hook above takes incremental views before
 *		event triggers fire; this only sees them when it is not preloaded,
 *		and then says so as every function does (55000 and the hint),
 *		instead of PostgreSQL's "unrecognized parameter namespace".
 */
Datum
ivm_on_ddl_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "ivm._on_ddl_start() must be called as an event trigger");
	trigdata = (EventTriggerData *) fcinfo->context;
	if (IsA(trigdata->parsetree, CreateTableAsStmt))
	{
		CreateTableAsStmt *stmt = (CreateTableAsStmt *) trigdata->parsetree;

		if (stmt->objtype == OBJECT_MATVIEW && IncrementalOption(stmt->into->options))
			IvmCheckPreloaded();
	}
	PG_RETURN_VOID();
}

/*
 * IvmInstallUtilityHook
 *		Called once from _PG_init.
 */
void
IvmInstallUtilityHook(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = IvmProcessUtility;
}
