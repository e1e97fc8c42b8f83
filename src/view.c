/*-------------------------------------------------------------------------
 *
 * view.c
 *		Declaring an incremental view: check the query, store it as
 *		schema-qualified SQL text, make the storage table and the view users
 *		read, record dependencies, capture the tables it reads, fill it.
 *
 * What a view is made of:
 *	- ivm._data_<id>: the storage table, owned by the owner of schema ivm;
 *	  the view's owner may SELECT it; writes come only from maintenance.
 *	- the view itself, in the schema the user named: SELECT of the storage's
 *	  columns, so SELECT * shows exactly the query's columns and psql lists
 *	  it with \dv.  An INSTEAD OF trigger refuses writes.
 *	- pg_depend entries from the view to everything its query uses, as for
 *	  an ordinary view: DROP TABLE of a source fails without CASCADE,
 *	  dropping a column the query reads fails.
 *	- a row in ivm._views, and an edge in ivm._deps per table or view read.
 *
 * Layer: work.  Calls normalize.c (the query in the form delta rules
 * read), capture.c, the diff strategy (the first fill), shape.c, catalog,
 * exec and rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "rewrite/rewriteManip.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "rewrite/rewriteHandler.h"

#include "ivm.h"
#include "exec.h"
#include "catalog.h"
#include "operators.h"
#include "strategies.h"
#include "work.h"

PG_FUNCTION_INFO_V1(ivm_create_view);
PG_FUNCTION_INFO_V1(ivm_relink_views);
PG_FUNCTION_INFO_V1(ivm_query_every_tick);

static Oid	CreateView(const char *name, const char *query_text, List *col_names,
					   const char *mode, bool with_data, const char *options_json,
					   uint64 *rows, bool hidden, IvmTopk *bound, int rank_col, int64 rank_k,
					   int *view_id);

/* A column of the view. */
typedef struct ViewColumn
{
	char	   *name;
	Oid			type;
	int32		typmod;
	Oid			collation;
} ViewColumn;

/*
 * TableSampleWalker
 *		Whether a query (subqueries included) samples a table: TABLESAMPLE
 *		picks rows by their place on disk, which no delta can follow, even
 *		with REPEATABLE.
 */
static bool
TableSampleWalker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
		return ((RangeTblEntry *) node)->tablesample != NULL;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, TableSampleWalker, context,
								 QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, TableSampleWalker, context);
}

/*
 * CheckQuery
 *		Refuse what cannot be maintained: volatile functions, TABLESAMPLE,
 *		row locking, data-modifying WITH.  Called on the query as written
 *		and on each query it is rewritten to (the plain views it reads
 *		expanded).
 */
static void
CheckQuery(Query *query)
{
	if (query->commandType != CMD_SELECT || query->utilityStmt != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the query of an incremental view must be a SELECT")));
	if (query->hasModifyingCTE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("incremental views cannot contain data-modifying statements in WITH")));
	if (query->rowMarks != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("incremental views cannot use FOR UPDATE or FOR SHARE")));
	if (contain_volatile_functions((Node *) query))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("incremental views cannot use volatile functions"),
				 errdetail("A volatile function such as random(), clock_timestamp() or nextval() "
						   "can return something else each time, so the view could never equal its query."),
				 errhint("Remove the volatile function from the query, or store its value in a table the view reads.")));
	if (TableSampleWalker((Node *) query, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("incremental views cannot use TABLESAMPLE"),
				 errdetail("TABLESAMPLE picks rows by where they are stored, so the view could never equal its query, "
						   "even with REPEATABLE."),
				 errhint("Filter the rows by a condition on their values instead, such as a hash of the key.")));
}

/*
 * CollectRelationsWalker
 *		Every relation a (rewritten) query reads, subqueries included.
 */
static bool
CollectRelationsWalker(Node *node, List **relids)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;
		ListCell   *lc;

		foreach(lc, q->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind == RTE_RELATION)
				*relids = list_append_unique_oid(*relids, rte->relid);
		}
		return query_tree_walker(q, CollectRelationsWalker, relids, 0);
	}
	return expression_tree_walker(node, CollectRelationsWalker, relids);
}

/*
 * ClassifySources
 *		Sort the relations a query reads into captured tables and upstream
 *		incremental views; refuse the rest.  Caller is connected to SPI.
 */
static void
ClassifySources(List *relids, List **tables, List **upstream_views)
{
	ListCell   *lc;
	Oid			ivm_nsp = get_namespace_oid(IVM_SCHEMA, false);

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		char		kind = get_rel_relkind(relid);
		Oid			nsp = get_rel_namespace(relid);
		int			view_id;

		/* a view's own entry stays in the rewritten query; its tables come too */
		if (kind == RELKIND_VIEW)
			continue;
		if (nsp == ivm_nsp)
		{
			view_id = IvmLookupView(relid, NULL);
			if (view_id == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("incremental views cannot read \"%s\": it belongs to the ivm extension",
								get_rel_name(relid)),
						 errhint("Read the incremental view itself, or ivm's introspection views through a table of your own.")));
			*upstream_views = list_append_unique_int(*upstream_views, view_id);
			continue;
		}
		if (IsCatalogNamespace(nsp) || IsToastNamespace(nsp))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("incremental views cannot read system catalog \"%s\"",
							get_rel_name(relid)),
					 errdetail("Changes to system catalogs are not captured.")));
		if (isAnyTempNamespace(nsp))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("incremental views cannot read temporary table \"%s\"",
							get_rel_name(relid)),
					 errdetail("A temporary table lives only as long as its session; the view would outlive it."),
					 errhint("Use an ordinary or unlogged table.")));
		if (kind == RELKIND_MATVIEW)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("incremental views cannot read materialized view \"%s\"",
							get_rel_name(relid)),
					 errdetail("REFRESH MATERIALIZED VIEW does not report what it changed."),
					 errhint("Make \"%s\" an incremental view too.", get_rel_name(relid))));
		if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("incremental views cannot read \"%s\"", get_rel_name(relid)),
					 errdetail("Only tables, partitioned tables and incremental views can be sources; changes to foreign tables and sequences are not captured.")));
		*tables = list_append_unique_oid(*tables, relid);
	}
}

/*
 * ViewColumns
 *		Names and types of the query's output columns, with the names given
 *		in CREATE MATERIALIZED VIEW name (a, b, ...) if any.
 */
static List *
ViewColumns(Query *query, List *col_names)
{
	List	   *cols = NIL;
	ListCell   *lc;
	ListCell   *name_lc = list_head(col_names);

	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		ViewColumn *col;

		if (tle->resjunk)
			continue;
		col = palloc(sizeof(ViewColumn));
		col->name = tle->resname ? pstrdup(tle->resname) : pstrdup("?column?");
		if (name_lc)
		{
			col->name = strVal(lfirst(name_lc));
			name_lc = lnext(col_names, name_lc);
		}
		if (strncmp(col->name, IVM_HIDDEN_PREFIX, strlen(IVM_HIDDEN_PREFIX)) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_RESERVED_NAME),
					 errmsg("column name \"%s\" is reserved", col->name),
					 errdetail("Names beginning with \"%s\" are kept for ivm's bookkeeping.",
							   IVM_HIDDEN_PREFIX),
					 errhint("Give the column another alias.")));
		col->type = exprType((Node *) tle->expr);
		col->typmod = exprTypmod((Node *) tle->expr);
		col->collation = exprCollation((Node *) tle->expr);
		cols = lappend(cols, col);
	}
	if (name_lc)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("too many column names were specified")));
	if (cols == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the query of an incremental view must return at least one column")));
	return cols;
}

/*
 * AppendColumnNames
 *		"a, b, c": the quoted names of the view's columns.
 */
static void
AppendColumnNames(StringInfo buf, List *cols)
{
	ListCell   *lc;

	foreach(lc, cols)
	{
		ViewColumn *col = lfirst(lc);

		appendStringInfo(buf, "%s%s", lc == list_head(cols) ? "" : ", ",
						 quote_identifier(col->name));
	}
}

/*
 * ExecUtility
 *		Run one utility statement through SPI.
 */
static void
ExecUtility(const char *sql, const char *what)
{
	int			rc = SPI_execute(sql, false, 0);

	IvmSpiCheck(rc, SPI_OK_UTILITY, what);
}


/*
 * RecordViewDependencies
 *		The view depends on what its query uses, as an ordinary view would;
 *		its definition is part of it and goes when it goes.
 */
static void
RecordViewDependencies(Oid view_oid, Oid def_oid, Query *query)
{
	ObjectAddress myself;
	ObjectAddress definition;

	ObjectAddressSet(myself, RelationRelationId, view_oid);
	ObjectAddressSet(definition, RelationRelationId, def_oid);
	recordDependencyOnExpr(&myself, (Node *) query, NIL, DEPENDENCY_NORMAL);
	recordDependencyOn(&definition, &myself, DEPENDENCY_INTERNAL);
	CommandCounterIncrement();
}

/* A view being declared: what was asked, what it reads, what was made. */
typedef struct Declaration
{
	RangeVar   *rv;				/* its name */
	Oid			nspid;			/* its schema */
	const char *mode;			/* auto, incremental or diff */
	bool		with_data;
	bool		every_tick;		/* a function it calls is not immutable */
	Query	   *query;			/* as parsed and checked */
	List	   *cols;			/* ViewColumn, the query's output */
	char	   *deparsed;		/* its text, schema-qualified */
	List	   *tables;			/* captured tables it reads (Oid) */
	List	   *upstream;		/* incremental views it reads (view id) */
	List	   *inlined;		/* plain views written into its query (OID) */
	Oid			creator;		/* the caller, who will own it */
	Oid			ivm_owner;		/* the owner of schema ivm */
	IvmUserSave save;			/* the caller, while acting as ivm_owner */
	int			view_id;
	char	   *def_name;		/* its definition, ivm._def_<id> */
	Oid			def_oid;
	IvmShape   *shape;
	const char *strategy_reason;
	char	   *storage_name;	/* its storage, ivm._data_<id> */
	Oid			storage_oid;
	Oid			view_oid;		/* the view users read */
	bool		hidden;			/* an internal view of another (its input) */
	List	   *hidden_ids;		/* its own hidden views (view ids), in order */
	List	   *hidden_views;	/* and their OIDs */
	char	   *hidden_name;	/* the first one's name (a top-k's input) */
	int			partitions;		/* shards of a partitioned view, else 0 */
	char	   *partition_key;	/* the column they are hashed on */
	int			keycol;			/* its position, 0-based */
	IvmTopk    *bound;			/* a top-k's input kept to a margin: the */
	int64		margin;			/* top-k, and the rows it is filled with */
	int			rank_col;		/* a window read only up to a rank: the */
	int64		rank_k;			/* column, and the rank (window.c) */
} Declaration;

/* the most shards a partitioned view may have */
#define IVM_MAX_PARTITIONS 64

/*
 * ParseOptions
 *		Read the options jsonb of ivm.create_view(): "mode", and
 *		"partitions" with "partition_key" (both or neither) into *d.
 */
static void
ParseOptions(Declaration *d, const char *options_json)
{
	Oid			types[1] = {JSONBOID};
	Datum		args[1];
	int			rc;

	d->mode = "auto";
	if (options_json == NULL)
		return;
	args[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(options_json));
	rc = SPI_execute_with_args("SELECT jsonb_typeof($1)", 1, types, args, NULL, true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "reading options");
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "object") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of an incremental view must be a JSON object"),
				 errhint("Pass something like '{\"mode\": \"diff\"}'.")));
	rc = SPI_execute_with_args("SELECT key, value, jsonb_typeof(value), value #>> '{}' "
							   "FROM jsonb_each($1)",
							   1, types, args, NULL, true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "reading options");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *key = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *jtype = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
		char	   *value = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4);

		if (key == NULL)
			continue;
		if (strcmp(key, "mode") == 0)
		{
			if (strcmp(jtype, "string") != 0 ||
				(strcmp(value, "auto") != 0 && strcmp(value, "incremental") != 0 &&
				 strcmp(value, "diff") != 0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"mode\": %s",
								SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2)),
						 errhint("Valid values are \"auto\", \"incremental\" and \"diff\".")));
			d->mode = value;
		}
		else if (strcmp(key, "partitions") == 0)
		{
			char	   *end = NULL;
			long		n = strcmp(jtype, "number") == 0 ? strtol(value, &end, 10) : 0;

			if (end == NULL || *end != '\0' || n < 2 || n > IVM_MAX_PARTITIONS)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"partitions\": %s",
								SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2)),
						 errhint("Give a whole number of shards from 2 to %d.", IVM_MAX_PARTITIONS)));
			d->partitions = (int) n;
		}
		else if (strcmp(key, "partition_key") == 0)
		{
			if (strcmp(jtype, "string") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"partition_key\": %s",
								SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2)),
						 errhint("Name one of the view's columns, as a JSON string.")));
			d->partition_key = value;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized option \"%s\"", key),
					 errhint("The options of an incremental view are: \"mode\", \"partitions\" and \"partition_key\".")));
	}
	if ((d->partitions > 0) != (d->partition_key != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"partitions\" and \"partition_key\" go together"),
				 errhint("Give both, as in '{\"partitions\": 4, \"partition_key\": \"customer_id\"}', or neither.")));
}

/*
 * CheckTarget
 *		Where the view goes: a schema the caller may create in, not a
 *		temporary one, not ivm's, and a name not taken.
 */
static void
CheckTarget(Declaration *d, const char *name)
{
	AclResult	aclresult;

	d->rv = makeRangeVarFromNameList(IvmQualifiedNameList(name));
	d->nspid = RangeVarGetCreationNamespace(d->rv);
	if (isAnyTempNamespace(d->nspid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("incremental views cannot be temporary")));
	if (d->nspid == get_namespace_oid(IVM_SCHEMA, false))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot create an incremental view in schema \"%s\"", IVM_SCHEMA),
				 errhint("Schema ivm belongs to the extension; choose another schema.")));
	aclresult = IvmNamespaceAclCheck(d->nspid, d->creator, ACL_CREATE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_SCHEMA, get_namespace_name(d->nspid));
	if (OidIsValid(get_relname_relid(d->rv->relname, d->nspid)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", d->rv->relname),
				 errhint("Choose another name, or drop the existing relation first.")));
}

/*
 * AnalyzeDeclaredQuery
 *		Parse and check the query (as written, and as rewritten with the
 *		plain views it reads expanded), name its columns, deparse it, and
 *		list every relation it reads in *relids.
 */
static bool QueriesMutable(List *queries);
static bool DefinitionMutable(Query *query);

static void
AnalyzeDeclaredQuery(Declaration *d, const char *query_text, List *col_names, List **relids)
{
	Query	   *flat;
	List	   *rewritten;
	ListCell   *lc;

	d->query = IvmParseQuery(query_text);
	CheckQuery(d->query);
	flat = IvmNormalizeQuery(d->query, d->creator, &d->inlined);
	if (flat != NULL)
		d->query = flat;
	d->cols = ViewColumns(d->query, col_names);
	d->deparsed = IvmDeparseQuery(d->query);
	rewritten = QueryRewrite(copyObject(d->query));
	foreach(lc, rewritten)
	{
		CheckQuery(lfirst_node(Query, lc));
		CollectRelationsWalker(lfirst(lc), relids);
	}
	d->every_tick = QueriesMutable(rewritten);
}

/*
 * QueriesMutable
 *		Whether a query of the list (rewritten: the plain views it reads are
 *		expanded, so their functions count) calls a function that is not
 *		immutable.
 */
static bool
QueriesMutable(List *queries)
{
	ListCell   *lc;

	foreach(lc, queries)
		if (contain_mutable_functions(lfirst(lc)))
			return true;
	return false;
}

/*
 * ivm_query_every_tick
 *		SQL: ivm._query_every_tick(def oid) returns bool: whether the query of
 *		a view's definition (a view of schema ivm) calls a function that is
 *		not immutable, itself or in a plain view it reads.  The update script
 *		marks the views made before this was recorded.
 */
Datum
ivm_query_every_tick(PG_FUNCTION_ARGS)
{
	Oid			defrel = PG_GETARG_OID(0);
	Relation	rel;
	Query	   *query;

	if (get_rel_relkind(defrel) != RELKIND_VIEW ||
		get_rel_namespace(defrel) != get_namespace_oid(IVM_SCHEMA, false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation %u is not the definition of an incremental view", defrel)));
	rel = table_open(defrel, AccessShareLock);
	query = IvmViewQuery(rel);
	table_close(rel, AccessShareLock);
	PG_RETURN_BOOL(DefinitionMutable(query));
}

/*
 * DefinitionMutable
 *		Whether the query of a view's definition, as read from it, calls a
 *		function that is not immutable, itself or in a plain view it reads.
 */
static bool
DefinitionMutable(Query *query)
{
	Query	   *copy = copyObject(query);

	AcquireRewriteLocks(copy, true, false);
	return QueriesMutable(QueryRewrite(copy));
}

/*
 * CheckCreatorMayRun
 *		Run the query once, as the caller, with no row: a role declares
 *		views only over what it may read.  Caller acts as ivm's owner.
 */
static void
CheckCreatorMayRun(Declaration *d)
{
	char	   *sql = psprintf("SELECT * FROM (%s) q LIMIT 0", d->deparsed);
	int			rc;

	IvmRestoreUser(&d->save);
	rc = SPI_execute(sql, true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "checking the view query");
	IvmBecome(d->ivm_owner, false, &d->save);
}

/*
 * GiveToCreator
 *		Hand relation name (a quoted, qualified name of kind "TABLE" or
 *		"VIEW") that ivm's owner just created to the view's creator.
 *		Caller acts as ivm's owner.
 */
static void
GiveToCreator(Declaration *d, const char *name, const char *kind)
{
	if (d->creator == d->ivm_owner)
		return;
	ExecUtility(psprintf("ALTER %s %s OWNER TO %s", kind, name,
						 quote_identifier(GetUserNameFromId(d->creator, false))),
				"handing a relation of the view to its owner");
}

/*
 * CreateDefinition
 *		The definition: an ordinary view in schema ivm, owned by the
 *		creator, that ticks read.  PostgreSQL keeps it right through renames
 *		and refuses changes that would break it, and pg_dump writes it as
 *		SQL.  Caller acts as ivm's owner.
 */
static void
CreateDefinition(Declaration *d)
{
	char		def_relname[NAMEDATALEN];
	StringInfoData sql;

	snprintf(def_relname, sizeof(def_relname), "_def_%d", d->view_id);
	d->def_name = quote_qualified_identifier(IVM_SCHEMA, def_relname);
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE VIEW %s (", d->def_name);
	AppendColumnNames(&sql, d->cols);
	appendStringInfo(&sql, ") AS %s", d->deparsed);
	ExecUtility(sql.data, "creating the view definition");
	d->def_oid = get_relname_relid(def_relname, get_namespace_oid(IVM_SCHEMA, false));
	GiveToCreator(d, d->def_name, "VIEW");
}

/*
 * ChooseStrategy
 *		The shape, from the definition as stored (what ticks will read), and
 *		with it the strategy: delta rules where the shape has them and the
 *		mode allows, else diff; mode incremental refuses a shape without.
 */
static void
ChooseStrategy(Declaration *d)
{
	Relation	defrel = table_open(d->def_oid, AccessShareLock);
	IvmShape   *shape = IvmAnalyzeShape(IvmViewQuery(defrel), d->hidden_views);

	table_close(defrel, AccessShareLock);
	if (shape->kind != IVM_KIND_DIFF && shape->missing_hidden)
	{
		shape->kind = IVM_KIND_DIFF;
		shape->reason = "the hidden views it would read were not made";
	}
	if (shape->kind != IVM_KIND_DIFF)
	{
		const char *why = IvmShapeCheckRelations(shape, IvmIsIncrementalView);

		if (why != NULL)
		{
			shape->kind = IVM_KIND_DIFF;
			shape->reason = (char *) why;
		}
	}
	if (strcmp(d->mode, "incremental") == 0 && shape->kind == IVM_KIND_DIFF)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("view \"%s\" cannot be maintained incrementally", d->rv->relname),
				 errdetail("%c%s.", pg_toupper((unsigned char) shape->reason[0]), shape->reason + 1),
				 errhint("Use mode \"auto\" or \"diff\", or rewrite the query without that construct.")));
	if (strcmp(d->mode, "diff") == 0)
	{
		shape->kind = IVM_KIND_DIFF;
		d->strategy_reason = "mode diff was requested: each tick that touches its sources re-runs the query and applies the difference";
	}
	else if (shape->kind == IVM_KIND_DIFF)
		d->strategy_reason = psprintf("%s: each tick that touches its sources re-runs the query and applies the difference",
									  shape->reason);
	else
		d->strategy_reason = psprintf("delta rules, %s", shape->reason);
	d->shape = shape;
}

/* Has each group key of the view a default btree operator class? */
static bool
KeysSortable(Declaration *d)
{
	ListCell   *lc;

	foreach(lc, d->shape->keycols)
		if (!OidIsValid(GetDefaultOpClass(((ViewColumn *) list_nth(d->cols, lfirst_int(lc)))->type,
										  BTREE_AM_OID)))
			return false;
	return true;
}

/*
 * CreateStorage
 *		The table holding the view's rows, in schema ivm, owned by the
 *		creator (who owns the values in it: PostgreSQL runs the code of their
 *		types, in ANALYZE, index builds and writes, as the table's owner):
 *		the visible columns, the hidden ones the strategy keeps, the indexes
 *		delta rules find rows by (a hidden view's group keys, a window's
 *		partition columns), and the guard.  Its shape stays ivm's: the
 *		utility hook refuses the owner DDL on it (utility.c).  Caller acts
 *		as ivm's owner.
 */
static void
CreateStorage(Declaration *d)
{
	char		storage_relname[NAMEDATALEN];
	StringInfoData sql;
	ListCell   *lc;

	snprintf(storage_relname, sizeof(storage_relname), "_data_%d", d->view_id);
	d->storage_name = quote_qualified_identifier(IVM_SCHEMA, storage_relname);
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (", d->storage_name);
	foreach(lc, d->cols)
	{
		ViewColumn *col = lfirst(lc);

		appendStringInfo(&sql, "%s%s %s", lc == list_head(d->cols) ? "" : ", ",
						 quote_identifier(col->name),
						 format_type_with_typemod(col->type, col->typmod));
		if (OidIsValid(col->collation) && col->collation != get_typcollation(col->type))
			appendStringInfo(&sql, " COLLATE %s", generate_collation_name(col->collation));
	}
	foreach(lc, IvmShapeHiddenColumns(d->shape))
		appendStringInfo(&sql, ", %s", (char *) lfirst(lc));
	appendStringInfoString(&sql, ")");
	if (d->partitions > 0)
		appendStringInfo(&sql, " PARTITION BY HASH (%s)", quote_identifier(d->partition_key));
	ExecUtility(sql.data, "creating view storage");
	d->storage_oid = get_relname_relid(storage_relname, get_namespace_oid(IVM_SCHEMA, false));
	GiveToCreator(d, d->storage_name, "TABLE");
	for (int k = 0; k < d->partitions; k++)
	{
		/* one shard: PostgreSQL's hash partition, remainder k */
		char	   *shard = psprintf("%s.%s", IVM_SCHEMA,
									 quote_identifier(psprintf("%s_p%d", storage_relname, k)));

		resetStringInfo(&sql);
		appendStringInfo(&sql, "CREATE TABLE %s PARTITION OF %s FOR VALUES WITH (MODULUS %d, REMAINDER %d)",
						 shard, d->storage_name, d->partitions, k);
		ExecUtility(sql.data, "creating a shard of view storage");
		GiveToCreator(d, shard, "TABLE");
	}
	if (d->shape->kind == IVM_KIND_SPJ || d->shape->kind == IVM_KIND_AGG ||
		d->shape->kind == IVM_KIND_RECURSIVE)
	{
		/* how a delta finds its rows: by row hash, or by group key hash */
		resetStringInfo(&sql);
		appendStringInfo(&sql, "CREATE INDEX ON %s (%s)", d->storage_name,
						 d->shape->kind != IVM_KIND_AGG ? IVM_HASH_COLUMN : IVM_KEY_COLUMN);
		ExecUtility(sql.data, "indexing view storage");
	}
	if (d->hidden && d->shape->kind == IVM_KIND_AGG && d->shape->nkeys > 0 && KeysSortable(d))
	{
		/* the view it serves looks its groups up by key (a join, a semi join) */
		resetStringInfo(&sql);
		appendStringInfo(&sql, "CREATE INDEX ON %s (", d->storage_name);
		foreach(lc, d->shape->keycols)
			appendStringInfo(&sql, "%s%s", lc == list_head(d->shape->keycols) ? "" : ", ",
							 quote_identifier(((ViewColumn *) list_nth(d->cols, lfirst_int(lc)))->name));
		appendStringInfoChar(&sql, ')');
		ExecUtility(sql.data, "indexing a hidden view on its group keys");
	}
	if (d->shape->kind == IVM_KIND_RECURSIVE && d->shape->recursive->rkeys != NIL)
	{
		/* the loop's rounds join the storage to the step's relation on them */
		bool		sortable = true;

		resetStringInfo(&sql);
		appendStringInfo(&sql, "CREATE INDEX ON %s (", d->storage_name);
		foreach(lc, d->shape->recursive->rkeys)
		{
			ViewColumn *col = list_nth(d->cols, lfirst_int(lc) - 1);

			sortable &= OidIsValid(GetDefaultOpClass(col->type, BTREE_AM_OID));
			appendStringInfo(&sql, "%s%s", lc == list_head(d->shape->recursive->rkeys) ? "" : ", ",
							 quote_identifier(col->name));
		}
		appendStringInfoChar(&sql, ')');
		if (sortable)
			ExecUtility(sql.data, "indexing view storage on the columns its recursion joins on");
	}
	if (d->shape->kind == IVM_KIND_WINDOW && d->shape->window->keycols != NIL)
	{
		/* a tick finds the stored rows of the partitions a delta touches */
		resetStringInfo(&sql);
		appendStringInfo(&sql, "CREATE INDEX ON %s (", d->storage_name);
		foreach(lc, d->shape->window->keycols)
			appendStringInfo(&sql, "%s%s", lc == list_head(d->shape->window->keycols) ? "" : ", ",
							 quote_identifier(((ViewColumn *) list_nth(d->cols, lfirst_int(lc)))->name));
		appendStringInfoChar(&sql, ')');
		ExecUtility(sql.data, "indexing view storage on its partition columns");
	}

	/* the storage and (statement triggers are not inherited) each shard */
	for (int k = -1; k < d->partitions; k++)
	{
		const char *rel = k < 0 ? d->storage_name
			: psprintf("%s.%s", IVM_SCHEMA, quote_identifier(psprintf("%s_p%d", storage_relname, k)));

		resetStringInfo(&sql);
		appendStringInfo(&sql, "CREATE TRIGGER ivm_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE "
						 "ON %s FOR EACH STATEMENT EXECUTE FUNCTION ivm._guard_storage()", rel);
		ExecUtility(sql.data, "guarding view storage");
	}
}

/*
 * CheckPartitioning
 *		A partitioned view: its key is one of its columns, delta rules keep
 *		it, it reads tables only, and each of them is joined to the key
 *		(route.c), so that each shard is kept from its share of the deltas.
 */
static void
CheckPartitioning(Declaration *d)
{
	List	   *relids;
	List	   *attnos;
	const char *why = NULL;
	ListCell   *lc;
	int			col = 0;

	if (d->partitions == 0)
		return;
	d->keycol = -1;
	foreach(lc, d->cols)
	{
		if (strcmp(((ViewColumn *) lfirst(lc))->name, d->partition_key) == 0)
			d->keycol = col;
		col++;
	}
	if (d->keycol < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("partition key \"%s\" is not a column of view \"%s\"",
						d->partition_key, d->rv->relname),
				 errhint("Name one of the view's columns in \"partition_key\".")));
	if (d->shape->kind == IVM_KIND_DIFF)
		why = psprintf("it has no delta rules (%s)", d->shape->reason);
	else if (d->upstream != NIL || d->hidden)
		why = "it reads incremental views; a partitioned view reads tables only";
	else
		why = IvmShapeRoutes(d->shape, d->keycol, &relids, &attnos);
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("view \"%s\" cannot be partitioned on \"%s\"", d->rv->relname, d->partition_key),
				 errdetail("%c%s.", pg_toupper((unsigned char) why[0]), why + 1),
				 errhint("Partition it on a column that every table of its query is joined on with \"=\", or create it without \"partitions\".")));
}

/* the storage column HAVING is kept in, or 0 */
static AttrNumber
PassAttno(Declaration *d)
{
	return d->shape->kind == IVM_KIND_AGG ? d->shape->passattno : 0;
}

/*
 * RecordInlinedDependencies
 *		The plain views written into the view's query (normalize.c) are
 *		read no more by its definition; the view depends on them still, as
 *		it did on the query as written: DROP VIEW of one is refused unless
 *		CASCADE, which drops the view.
 */
static void
RecordInlinedDependencies(Declaration *d)
{
	ObjectAddress myself;
	ListCell   *lc;

	ObjectAddressSet(myself, RelationRelationId, d->view_oid);
	foreach(lc, d->inlined)
	{
		ObjectAddress plain;

		ObjectAddressSet(plain, RelationRelationId, lfirst_oid(lc));
		recordDependencyOn(&myself, &plain, DEPENDENCY_NORMAL);
	}
	CommandCounterIncrement();
}

/*
 * CreateReadableView
 *		The view users read, as the creator, who owns it: the visible
 *		columns of the storage, refusing writes, depending on what its query
 *		reads.  Caller acts as ivm's owner, and does again on return.
 */
static void
CreateReadableView(Declaration *d)
{
	char	   *view_name = quote_qualified_identifier(get_namespace_name(d->nspid), d->rv->relname);
	StringInfoData sql;

	/* a hidden view goes in schema ivm: made by ivm's owner, then handed over */
	if (!d->hidden)
		IvmRestoreUser(&d->save);
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE VIEW %s AS SELECT ", view_name);
	AppendColumnNames(&sql, d->cols);
	appendStringInfo(&sql, " FROM %s", d->storage_name);
	/* the storage keeps every group; the view shows those that pass HAVING */
	if (PassAttno(d) != 0)
		appendStringInfoString(&sql, " WHERE __ivm_pass");
	ExecUtility(sql.data, "creating the view");
	d->view_oid = get_relname_relid(d->rv->relname, d->nspid);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TRIGGER ivm_refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE "
					 "ON %s FOR EACH ROW EXECUTE FUNCTION ivm._refuse_write()", view_name);
	ExecUtility(sql.data, "protecting the view");
	if (d->hidden)
	{
		GiveToCreator(d, view_name, "VIEW");
		IvmRestoreUser(&d->save);
	}

	RecordViewDependencies(d->view_oid, d->def_oid, d->query);
	RecordInlinedDependencies(d);
	IvmBecome(d->ivm_owner, false, &d->save);
}

/*
 * RecordView
 *		The view's row in ivm._views (its level one above the views it
 *		reads), capture of the tables it reads, and its DAG edges.  Caller
 *		acts as ivm's owner.
 */
static void
RecordView(Declaration *d)
{
	int			level = 0;
	int			rc;
	bool		isnull;
	ListCell   *lc;

	foreach(lc, d->upstream)
	{
		Oid			types[1] = {INT4OID};
		Datum		args[1];

		args[0] = Int32GetDatum(lfirst_int(lc));
		rc = SPI_execute_with_args("SELECT level FROM ivm._views WHERE id = $1",
								   1, types, args, NULL, false, 1);
		IvmSpiCheck(rc, SPI_OK_SELECT, "reading a view's level");
		if (SPI_processed == 1)
			level = Max(level, DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 1, &isnull)) + 1);
	}

	{
		Oid			types[12] = {INT4OID, OIDOID, OIDOID, OIDOID, TEXTOID, TEXTOID, INT4OID, BOOLOID, TEXTOID,
		INT4OID, TEXTOID, BOOLOID};
		Datum		args[12];
		char		nulls[12];

		args[0] = Int32GetDatum(d->view_id);
		args[1] = ObjectIdGetDatum(d->view_oid);
		args[2] = ObjectIdGetDatum(d->storage_oid);
		args[3] = ObjectIdGetDatum(d->def_oid);
		args[4] = CStringGetTextDatum(d->mode);
		args[5] = CStringGetTextDatum(d->strategy_reason);
		args[6] = Int32GetDatum(level);
		args[7] = BoolGetDatum(d->with_data);
		args[8] = CStringGetTextDatum(d->shape->kind == IVM_KIND_DIFF ? "diff" : "incremental");
		memset(nulls, ' ', sizeof(nulls));
		args[9] = Int32GetDatum(d->partitions);
		args[10] = d->partition_key ? CStringGetTextDatum(d->partition_key) : (Datum) 0;
		if (d->partition_key == NULL)
			nulls[9] = nulls[10] = 'n';

		/*
		 * A query that calls a function that is not immutable (now(),
		 * current_user, a STABLE function reading a table ivm does not
		 * capture), itself or in a plain view it reads, can change while no
		 * source does: it is computed again at every tick, never left stale.
		 */
		args[11] = BoolGetDatum(true);
		if (!d->every_tick)
			nulls[11] = 'n';
		/* the options as they were given (partitions only when there are) */
		rc = SPI_execute_with_args("INSERT INTO ivm._views (id, viewrel, storagerel, defrel, mode, "
								   "strategy, strategy_reason, options, level, populated, needs_recompute) "
								   "VALUES ($1, $2, $3, $4, $5, $9, $6, "
								   "jsonb_strip_nulls(jsonb_build_object('mode', $5, 'partitions', $10, "
								   "'partition_key', $11, 'every_tick', $12)), $7, $8, NOT $8)",
								   12, types, args, nulls, false, 0);
		IvmSpiCheck(rc, SPI_OK_INSERT, "recording the view");
	}

	foreach(lc, d->tables)
	{
		Oid			relid = lfirst_oid(lc);
		Oid			types[2] = {INT4OID, OIDOID};
		Datum		args[2];

		IvmEnsureCaptured(relid);
		args[0] = Int32GetDatum(d->view_id);
		args[1] = ObjectIdGetDatum(relid);
		rc = SPI_execute_with_args("INSERT INTO ivm._deps (view_id, source) VALUES ($1, $2)",
								   2, types, args, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_INSERT, "recording a dependency");
	}
	foreach(lc, d->upstream)
	{
		Oid			types[2] = {INT4OID, INT4OID};
		Datum		args[2];

		args[0] = Int32GetDatum(d->view_id);
		args[1] = Int32GetDatum(lfirst_int(lc));
		rc = SPI_execute_with_args("INSERT INTO ivm._deps (view_id, source, source_view_id) "
								   "SELECT $1, v.viewrel, v.id FROM ivm._views v WHERE v.id = $2",
								   2, types, args, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_INSERT, "recording a dependency");
	}
}

/*
 * FirstFill
 *		Fill the storage by running the query (as the creator, restricted,
 *		inside IvmDiffView) and record the view's size; returns its rows.
 *		Deltas already in a log that the fill saw as rows would count twice:
 *		the first tick then recomputes the view instead.  (The step lock
 *		keeps ticks from consuming logs meanwhile; deltas committed after
 *		the fill's snapshot are simply applied.)  Caller acts as ivm's owner.
 */
static uint64
FirstFill(Declaration *d)
{
	IvmDiffResult res;
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		args[2];
	StringInfoData sql;
	int			rc;
	bool		bounded = false;

	if (d->bound != NULL)
	{
		/* a top-k's input kept to a margin: its first rows only (margin.c) */
		char	   *spj = IvmSpjSql(d->shape);
		IvmMargin	m = {d->storage_oid, d->storage_name, d->creator, d->rv->relname, d->bound,
			d->shape, d->margin,
			IvmFullSql(d->shape, d->def_name, d->storage_oid, d->bound, d->margin),
			IvmTopkRescanSql(d->bound, spj, d->shape->nvisible, d->storage_name, d->margin + 1),
		spj, NULL};
		int64		rows = 0;

		memset(&res, 0, sizeof(res));
		bounded = IvmMarginRescan(&m, InvalidSnapshot, NULL, &res, &rows);
		res.rows_after = (uint64) rows;
	}
	else
	{
		const char *sql = d->shape->kind == IVM_KIND_TOPK
			? IvmTopkSql(d->shape->topk, d->shape->nvisible, d->hidden_name)
			: IvmFullSql(d->shape, d->def_name, d->storage_oid, NULL, 0);

		/* the storage is new and empty: written whole, indexed after (fill.c) */
		memset(&res, 0, sizeof(res));
		if (!IvmBulkFill(d->storage_oid, d->creator, d->rv->relname, sql, InvalidSnapshot,
						 PassAttno(d), NULL, NULL, 0, &res))
			IvmDiffView(d->storage_oid, d->creator, d->rv->relname, sql,
						NULL, InvalidSnapshot, d->shape->nvisible, PassAttno(d), NULL, NULL, &res);
	}
	args[0] = Int32GetDatum(d->view_id);
	args[1] = Int64GetDatum((int64) res.rows_after);
	if (bounded)
	{
		rc = SPI_execute_with_args("UPDATE ivm._views SET options = options || '{\"bounded\": true}' "
								   "WHERE id = $1", 1, types, args, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_UPDATE, "recording what a top-k's input holds");
	}
	initStringInfo(&sql);
	if (d->shape->kind == IVM_KIND_AGG)
		appendStringInfo(&sql, "UPDATE ivm._views SET rows = $2, "
						 "size = (SELECT coalesce(sum(%s), 0) FROM %s) WHERE id = $1",
						 IVM_COUNT_COLUMN, d->storage_name);
	else
		appendStringInfoString(&sql, "UPDATE ivm._views SET rows = $2, size = $2 WHERE id = $1");
	rc = SPI_execute_with_args(sql.data, 2, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_UPDATE, "recording the view's size");

	if (d->shape->kind == IVM_KIND_DIFF)
		return res.rows_after;
	rc = SPI_execute_with_args("SELECT s.logrel::text FROM ivm._sources s "
							   "JOIN ivm._deps d ON d.source = s.relid WHERE d.view_id = $1",
							   1, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing the view's logs");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *logname = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		SPITupleTable *saved = SPI_tuptable;
		int			rc2;

		resetStringInfo(&sql);
		appendStringInfo(&sql, "SELECT 1 FROM %s LIMIT 1", logname);
		rc2 = SPI_execute(sql.data, true, 1);
		IvmSpiCheck(rc2, SPI_OK_SELECT, "looking for pending deltas");
		if (SPI_processed > 0)
		{
			rc2 = SPI_execute_with_args("UPDATE ivm._views SET needs_recompute = true WHERE id = $1",
										1, types, args, NULL, false, 0);
			IvmSpiCheck(rc2, SPI_OK_UPDATE, "marking the view for recompute");
			SPI_tuptable = saved;
			break;
		}
		SPI_tuptable = saved;
	}
	return res.rows_after;
}

/* c1, ..., cn: the column names of a hidden view holding query's rows */
static List *
HiddenColumnNames(Query *query)
{
	List	   *names = NIL;
	ListCell   *lc;

	foreach(lc, query->targetList)
		if (!lfirst_node(TargetEntry, lc)->resjunk)
			names = lappend(names, makeString(psprintf("c%d", list_length(names) + 1)));
	return names;
}

/*
 * CreateHiddenViews
 *		The hidden views the view's operators read, when its shape has delta
 *		rules given them and the mode is not diff: the query under a top-k's
 *		ORDER BY ... LIMIT (indexed on the sort keys; the view then reads
 *		only it), each uncorrelated subquery of EXISTS / IN that is not a
 *		filter of one relation.  Each is a view of the same owner, created
 *		with its own shape (and hidden views of its own).  Caller acts as
 *		ivm's owner, and does again on return.
 */
static void
CreateHiddenViews(Declaration *d)
{
	IvmShape   *shape;
	IvmTopk    *bound = NULL;
	int			rank_col = 0;
	int64		rank_k = 0;
	ListCell   *lc;

	if (strcmp(d->mode, "diff") == 0)
		return;
	shape = IvmAnalyzeShape(copyObject(d->query), NIL);
	if (shape->kind == IVM_KIND_DIFF || shape->wants == NIL ||
		IvmShapeCheckRelations(shape, IvmIsIncrementalView) != NULL)
		return;

	/*
	 * The first hidden view may be kept to a margin (topk.c): a top-k's
	 * input, or the input of a window read only up to a rank (window.c); a
	 * view reading a window that way (its one hidden view) says so to it.
	 */
	if (shape->kind == IVM_KIND_TOPK && IvmTopkMargin(shape->topk, shape->inner) > 0)
		bound = shape->topk;
	else if (shape->kind == IVM_KIND_WINDOW && d->rank_k > 0 &&
			 (bound = IvmWindowMargin(d->query, d->rank_col, d->rank_k)) != NULL &&
			 IvmTopkMargin(bound, shape->inner) == 0)
		bound = NULL;
	else if (shape->kind != IVM_KIND_TOPK && shape->kind != IVM_KIND_WINDOW &&
			 list_length(shape->wants) == 1)
		(void) IvmWindowRankFilter(d->query, &rank_col, &rank_k);
	foreach(lc, shape->wants)
	{
		Query	   *holds = lfirst_node(Query, lc);
		bool		first = foreach_current_index(lc) == 0;
		int			id;
		Oid			oid;

		IvmRestoreUser(&d->save);
		oid = CreateView(NULL, IvmDeparseQuery(holds), HiddenColumnNames(holds), "auto",
						 d->with_data, NULL, NULL, true, first ? bound : NULL,
						 first ? rank_col : 0, first ? rank_k : 0, &id);
		IvmBecome(d->ivm_owner, false, &d->save);
		d->hidden_ids = lappend_int(d->hidden_ids, id);
		d->hidden_views = lappend_oid(d->hidden_views, oid);
	}
	d->hidden_name = quote_qualified_identifier(IVM_SCHEMA, get_rel_name(linitial_oid(d->hidden_views)));
	if (shape->kind == IVM_KIND_TOPK)
	{
		/* a top-k reads its hidden view only, through an index on the sort keys */
		d->tables = NIL;
		d->upstream = list_make1_int(linitial_int(d->hidden_ids));
		if (shape->topk->index != NULL)
			ExecUtility(psprintf("CREATE INDEX ON %s (%s)",
								 quote_qualified_identifier(IVM_SCHEMA,
															psprintf("_data_%d", linitial_int(d->hidden_ids))),
								 shape->topk->index),
						"indexing the hidden view on its sort keys");
	}
	else if (shape->kind == IVM_KIND_WINDOW)
	{
		/* windows read their hidden view only, by partition */
		StringInfoData cols;

		d->tables = NIL;
		d->upstream = list_make1_int(linitial_int(d->hidden_ids));
		initStringInfo(&cols);
		foreach(lc, shape->window->hkeys)
			appendStringInfo(&cols, "%sc%d", cols.len > 0 ? ", " : "", lfirst_int(lc));
		/* kept to a margin: the last row of a partition found by the index too */
		if (bound != NULL)
			appendStringInfo(&cols, ", c%d", bound->keycol);
		if (cols.len > 0)
			ExecUtility(psprintf("CREATE INDEX ON %s (%s)",
								 quote_qualified_identifier(IVM_SCHEMA,
															psprintf("_data_%d", linitial_int(d->hidden_ids))),
								 cols.data),
						"indexing the hidden view on the partition columns");
	}
	else
		d->upstream = list_concat(d->upstream, list_copy(d->hidden_ids));
}

/* a hidden view is part of the view it serves: dropped with it, not alone */
static void
RecordHiddenDependency(Oid hidden_view, Oid parent_view)
{
	ObjectAddress hidden;
	ObjectAddress parent;

	ObjectAddressSet(hidden, RelationRelationId, hidden_view);
	ObjectAddressSet(parent, RelationRelationId, parent_view);
	recordDependencyOn(&hidden, &parent, DEPENDENCY_INTERNAL);
}

/*
 * LinkHidden
 *		Make the hidden views part of their view: each one's row names its
 *		parent, and it goes when the view goes (DROP of it alone is refused).
 */
static void
LinkHidden(Declaration *d)
{
	ListCell   *lc;
	ListCell   *lc2;

	forboth(lc, d->hidden_ids, lc2, d->hidden_views)
	{
		Oid			types[2] = {INT4OID, INT4OID};
		Datum		args[2];
		int			rc;

		args[0] = Int32GetDatum(lfirst_int(lc));
		args[1] = Int32GetDatum(d->view_id);
		rc = SPI_execute_with_args("UPDATE ivm._views SET parent_id = $2 WHERE id = $1",
								   2, types, args, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_UPDATE, "linking a hidden view");
		RecordHiddenDependency(lfirst_oid(lc2), d->view_oid);
	}
	CommandCounterIncrement();
}

/*
 * CreateView
 *		Create an incremental view, or (hidden) the hidden input of one, in
 *		schema ivm, named for its id (in *view_id); returns the OID of the
 *		view users (or its parent) read.
 */
static Oid
CreateView(const char *name, const char *query_text, List *col_names,
		   const char *mode, bool with_data, const char *options_json,
		   uint64 *rows, bool hidden, IvmTopk *bound, int rank_col, int64 rank_k,
		   int *view_id)
{
	Declaration d;
	List	   *relids = NIL;
	int			nestlevel;
	int			rc;
	bool		isnull;
	uint64		filled = 0;

	IvmCheckPreloaded();
	IvmCheckWritable("create an incremental view");

	memset(&d, 0, sizeof(d));
	d.creator = GetUserId();
	d.with_data = with_data;
	d.hidden = hidden;
	d.rank_col = rank_col;
	d.rank_k = rank_k;
	if (hidden)
		d.nspid = get_namespace_oid(IVM_SCHEMA, false);
	else
		CheckTarget(&d, name);
	AnalyzeDeclaredQuery(&d, query_text, col_names, &relids);

	IvmSpiConnect();
	/* the view's queries always run with a fixed search_path */
	nestlevel = IvmPinSearchPath();
	/* and the settings that change what a view's query returns */
	IvmPinViewSettings();
	d.ivm_owner = IvmSchemaOwner();
	IvmBecome(d.ivm_owner, false, &d.save);

	/* the step lock: no tick consumes a log between the fill and the check of logs in FirstFill */
	rc = SPI_execute("SELECT 1 FROM ivm._state FOR UPDATE", false, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "taking the step lock");

	ClassifySources(relids, &d.tables, &d.upstream);
	ParseOptions(&d, options_json);
	if (mode != NULL)
		d.mode = mode;
	CheckCreatorMayRun(&d);
	CreateHiddenViews(&d);

	rc = SPI_execute("SELECT nextval(pg_get_serial_sequence('ivm._views', 'id'))::int4", false, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "numbering a view");
	d.view_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (hidden)
		d.rv = makeRangeVar(IVM_SCHEMA, psprintf("_hidden_%d", d.view_id), -1);

	CreateDefinition(&d);
	ChooseStrategy(&d);
	if (bound != NULL && (d.margin = IvmTopkMargin(bound, d.shape)) > 0)
	{
		d.bound = bound;
		d.strategy_reason = psprintf("%s; it holds only the first rows of its query%s by column c%d: the "
									 INT64_FORMAT " its view reads and a margin of up to " INT64_FORMAT
									 " more (a row after the last it holds writes nothing; it is read again when fewer than "
									 INT64_FORMAT " are left)",
									 d.strategy_reason,
									 bound->partcol > 0 ? psprintf(" per value of column c%d", bound->partcol) : "",
									 bound->keycol, bound->need, 2 * bound->need, bound->need);
	}
	CheckPartitioning(&d);
	CreateStorage(&d);
	CreateReadableView(&d);
	RecordView(&d);
	if (d.hidden_ids != NIL)
		LinkHidden(&d);
	/* the storage, its shards and the logs of its tables, to their owners */
	IvmSettleRelations();
	if (with_data)
	{
		IvmProgressStart(IVM_CMD_CREATE, d.view_oid, d.creator);
		filled = FirstFill(&d);
		IvmProgressEnd();
	}
	if (rows)
		*rows = filled;
	if (view_id)
		*view_id = d.view_id;

	IvmRestoreUser(&d.save);
	IvmUnpinSearchPath(nestlevel);
	SPI_finish();
	return d.view_oid;
}

/*
 * IvmCreateView
 *		Create an incremental view; returns the OID of the view users read.
 *
 * mode is NULL to take it from options_json (a jsonb text, may be NULL).
 * Runs its own SPI connection, with search_path pinned; the catalog work
 * is done as ivm's owner, what the creator owns as the creator.
 */
Oid
IvmCreateView(const char *name, const char *query_text, List *col_names,
			  const char *mode, bool with_data, const char *options_json,
			  uint64 *rows)
{
	return CreateView(name, query_text, col_names, mode, with_data, options_json, rows,
					  false, NULL, 0, 0, NULL);
}

/*
 * ivm_create_view
 *		SQL: ivm.create_view(name text, query text, options jsonb) returns regclass
 */
Datum
ivm_create_view(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *query;
	char	   *options = NULL;

	IvmCheckPreloaded();
	IvmCheckUserEntry("create an incremental view");
	IvmCheckArgNotNull(fcinfo, 0, "name", "ivm.create_view");
	IvmCheckArgNotNull(fcinfo, 1, "query", "ivm.create_view");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(2))
		options = DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(2)));

	PG_RETURN_OID(IvmCreateView(name, query, NIL, NULL, true, options, NULL));
}

/*
 * ivm_relink_views
 *		SQL: ivm._relink_views(), run after CREATE TRIGGER.  pg_dump does not
 *		write the dependencies of a view on what its query reads, nor of its
 *		definition on it: once a restored view is back (its catalog row, its
 *		definition and the view itself), record them again, so that DROP
 *		TABLE and DROP VIEW behave as they did in the dumped database.
 *		Relations go to their owners, with the rights ivm allows them
 *		(IvmSettleRelations).
 */
Datum
ivm_relink_views(PG_FUNCTION_ARGS)
{
	IvmUserSave save;
	int			rc;
	int			n;
	Oid		   *views;
	Oid		   *defs;

	IvmCatalogBegin(&save);
	rc = SPI_execute("SELECT v.viewrel::oid, v.defrel::oid FROM ivm._views v "
					 "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
					 " WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
					 "   AND d.objid = v.defrel AND d.refobjid = v.viewrel AND d.deptype = 'i')",
					 true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing views to relink");
	n = (int) SPI_processed;
	views = palloc(sizeof(Oid) * Max(n, 1));
	defs = palloc(sizeof(Oid) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		views[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		defs[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}
	for (int i = 0; i < n; i++)
	{
		Relation	defrel = table_open(defs[i], AccessShareLock);
		Query	   *query = IvmViewQuery(defrel);

		table_close(defrel, AccessShareLock);
		RecordViewDependencies(views[i], defs[i], query);
		/* a dump of a release that did not record it */
		if (DefinitionMutable(query))
		{
			Oid			types[1] = {OIDOID};
			Datum		args[1] = {ObjectIdGetDatum(defs[i])};

			rc = SPI_execute_with_args("UPDATE ivm._views SET options = options "
									   "OPERATOR(pg_catalog.||) '{\"every_tick\": true}' WHERE defrel = $1",
									   1, types, args, NULL, false, 0);
			IvmSpiCheck(rc, SPI_OK_UPDATE, "recording a view computed at every tick");
		}
	}

	/* a hidden view is part of the view it serves */
	rc = SPI_execute("SELECT h.viewrel::oid, p.viewrel::oid FROM ivm._views h "
					 "JOIN ivm._views p ON p.id = h.parent_id "
					 "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
					 " WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
					 "   AND d.objid = h.viewrel AND d.refobjid = p.viewrel AND d.deptype = 'i')",
					 true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing hidden views to relink");
	n = (int) SPI_processed;
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		RecordHiddenDependency(DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)),
							   DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)));
	}
	CommandCounterIncrement();
	IvmSettleRelations();
	IvmCatalogEnd(&save);
	PG_RETURN_VOID();
}

/*
 * IvmRecordExtensionDependencies
 *		Make everything ivm made depend on extension ivm (extoid): each
 *		incremental view users read, and every relation of schema ivm that
 *		is not a member of the extension (storage and its shards,
 *		definitions, hidden views, delta logs).  DROP EXTENSION ivm then
 *		refuses while they exist, and with CASCADE drops them all; the
 *		capture triggers go with ivm's functions.  The utility hook calls it
 *		just before DROP EXTENSION ivm, so a restore needs nothing redone.
 */
void
IvmRecordExtensionDependencies(Oid extoid)
{
	IvmUserSave save;
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(extoid)};
	ObjectAddress extension;
	int			rc;

	ObjectAddressSet(extension, ExtensionRelationId, extoid);
	IvmCatalogBegin(&save);
	rc = SPI_execute_with_args("SELECT c.oid FROM pg_catalog.pg_class c "
							   "WHERE (c.oid OPERATOR(pg_catalog.=) ANY (SELECT v.viewrel FROM ivm._views v) "
							   "    OR (c.relnamespace OPERATOR(pg_catalog.=) 'ivm'::pg_catalog.regnamespace "
							   "        AND c.relkind OPERATOR(pg_catalog.<>) ALL ('{i,I,t}'::pg_catalog.\"char\"[]))) "
							   "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
							   "   WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
							   "     AND d.objid OPERATOR(pg_catalog.=) c.oid "
							   "     AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass "
							   "     AND d.refobjid OPERATOR(pg_catalog.=) $1)",
							   1, types, args, NULL, true, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "listing what ivm made");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		ObjectAddress rel;

		ObjectAddressSet(rel, RelationRelationId,
						 DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
		recordDependencyOn(&rel, &extension, DEPENDENCY_NORMAL);
	}
	CommandCounterIncrement();
	IvmCatalogEnd(&save);
}
