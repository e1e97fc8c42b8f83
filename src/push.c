/*-------------------------------------------------------------------------
 *
 * push.c
 *		Push sources: tables whose rows arrive as weighted JSON batches.
 *
 *	- A push source is an ordinary table that holds its running snapshot, a
 *	  row pushed with weight n stored n times, so views read it like any
 *	  table.  Only ivm writes it (the ivm_guard trigger): a batch becomes
 *	  plain DELETE and INSERT statements, the table's capture triggers log
 *	  them like any other write, and the next tick carries them through the
 *	  views.
 *	- A batch is a JSON array of objects, one key per column plus _weight
 *	  (an integer, 1 when absent).  It is checked whole before anything is
 *	  written: an unknown column, a value its column's type refuses, a
 *	  weight that is not an integer, or a row removed more often than the
 *	  source holds it refuses the batch and names the element.
 *	- The batch is consolidated first (equal rows' weights summed, zeros
 *	  dropped).  With dedup on, the consolidated batch's hash (XXH3-128 of
 *	  each row and its weight, summed, so the order of rows does not matter)
 *	  goes into ivm._seen; a batch whose hash is there already is coalesced:
 *	  applied once.  The seen-set keeps ivm.dedup_capacity entries per
 *	  source and forgets the oldest first.
 *	- Rights (the rule at the top of rights.c).  As the caller: a batch
 *	  element with a positive weight needs INSERT on the source, one with a
 *	  negative weight DELETE and SELECT (as DELETE ... WHERE needs SELECT on
 *	  what it compares), checked before anything is read.  As the source's
 *	  owner, restricted, with search_path pinned: everything that runs a
 *	  type's or the owner's code -- reading values, consolidating and
 *	  hashing them, checking removals, the DELETE and INSERT and so the
 *	  owner's triggers.  As the owner of schema ivm: ivm._sources, ivm._seen
 *	  and ivm._counters only.  An error raised while the source is written
 *	  reaches a caller without SELECT on it without its detail or context,
 *	  which may carry rows.
 *	- Bounds: a batch whose consolidated weights add up to more row copies
 *	  than ivm.max_push_rows is refused before anything is written.  The
 *	  batch's tuplestores are ended before the function returns, so that a
 *	  batch larger than work_mem leaves no temporary file behind.
 *
 * Copyright (c) 2026, the ivm authors
 *
 * Layer: work.  Calls capture.c (a source is captured like a table),
 * tick.c (ivm.tick(source, batch)), exec and rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/nbtree.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "miscadmin.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ivm.h"
#include "exec.h"
#include "catalog.h"
#include "rows.h"
#include "work.h"

PG_FUNCTION_INFO_V1(ivm_create_source);
PG_FUNCTION_INFO_V1(ivm_push);
PG_FUNCTION_INFO_V1(ivm_tick_batch);
PG_FUNCTION_INFO_V1(ivm_set_dedup);

/* the columns of the batch relation after the source's own */
#define BATCH_WEIGHT	"__ivm_weight"
#define BATCH_ELEMENT	"__ivm_element"
#define BATCH_WEIGHT_KEY "_weight"

/* What a push needs to know of its source. */
typedef struct PushSource
{
	Oid			relid;
	int			id;
	bool		dedup;
	char	   *name;			/* schema-qualified, quoted */
	char	   *colnames;		/* "a, b", quoted */
	char	   *match;			/* AND (s.a = c.a OR both null) ..., the types' = */
	char	   *keyhash_s;		/* ivm.key_hash(s.a, s.b) */
	char	   *keyhash_c;		/* ivm.key_hash(c.a, c.b) */
} PushSource;

/*
 * CheckColumnList
 *		The column list of ivm.create_source must be column definitions and
 *		nothing else: a type, a collation, NOT NULL.
 */
static void
CheckColumnList(const char *columns)
{
	char	   *sql = psprintf("CREATE TABLE ivm_source_check (%s)", columns);
	List	   *parsed;
	CreateStmt *stmt;
	ListCell   *lc;

	parsed = raw_parser(sql, RAW_PARSE_DEFAULT);
	if (list_length(parsed) != 1 ||
		!IsA(((RawStmt *) linitial(parsed))->stmt, CreateStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid column list for a push source: \"%s\"", columns),
				 errhint("Give column definitions as in CREATE TABLE, such as 'user_id int, url text'.")));
	stmt = (CreateStmt *) ((RawStmt *) linitial(parsed))->stmt;
	if (stmt->inhRelations != NIL || stmt->partbound != NULL || stmt->partspec != NULL ||
		stmt->ofTypename != NULL || stmt->options != NIL || stmt->tablespacename != NULL ||
		stmt->accessMethod != NULL || stmt->oncommit != ONCOMMIT_NOOP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid column list for a push source: \"%s\"", columns),
				 errhint("Give only column definitions, such as 'user_id int, url text'.")));
	if (stmt->tableElts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a push source needs at least one column")));

	foreach(lc, stmt->tableElts)
	{
		ColumnDef  *col = lfirst(lc);
		ListCell   *lc2;

		if (!IsA(col, ColumnDef))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a push source takes no table constraints"),
					 errdetail("Its rows form a multiset: the same row may be pushed more than once."),
					 errhint("Give only column definitions, such as 'user_id int, url text'.")));
		if (strcmp(col->colname, BATCH_WEIGHT_KEY) == 0 ||
			strncmp(col->colname, IVM_HIDDEN_PREFIX, strlen(IVM_HIDDEN_PREFIX)) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_RESERVED_NAME),
					 errmsg("column name \"%s\" is reserved for ivm", col->colname),
					 errhint("A batch gives each row's weight under \"_weight\"; choose another name.")));
		foreach(lc2, col->constraints)
		{
			Constraint *con = lfirst(lc2);

			if (con->contype != CONSTR_NOTNULL && con->contype != CONSTR_NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("column \"%s\" of a push source takes no constraint but NOT NULL",
								col->colname),
						 errdetail("Its rows come whole from batches, and a row may be pushed more than once."),
						 errhint("Drop the constraint or default from the column definition.")));
		}
	}
}

/*
 * ivm_create_source
 *		SQL: ivm.create_source(name text, columns text) returns regclass
 */
Datum
ivm_create_source(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *columns;
	RangeVar   *rv;
	Oid			nspid;
	Oid			relid;
	char	   *qname;
	StringInfoData sql;
	IvmUserSave save;
	int			rc;
	int			save_nestlevel;

	IvmCheckPreloaded();
	IvmCheckUserEntry("create a push source");
	IvmCheckWritable("create a push source");
	IvmCheckArgNotNull(fcinfo, 0, "name", "ivm.create_source");
	IvmCheckArgNotNull(fcinfo, 1, "columns", "ivm.create_source");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	columns = text_to_cstring(PG_GETARG_TEXT_PP(1));

	rv = makeRangeVarFromNameList(IvmQualifiedNameList(name));
	nspid = RangeVarGetCreationNamespace(rv);
	if (isAnyTempNamespace(nspid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("push sources cannot be temporary")));
	if (nspid == get_namespace_oid(IVM_SCHEMA, false))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot create a push source in schema \"%s\"", IVM_SCHEMA),
				 errhint("Schema ivm belongs to the extension; choose another schema.")));
	CheckColumnList(columns);
	qname = quote_qualified_identifier(get_namespace_name(nspid), rv->relname);

	IvmSpiConnect();

	/* the table, as its creator (who owns it), with the creator's search_path for types */
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (%s)", qname, columns);
	rc = SPI_execute(sql.data, false, 0);
	IvmSpiCheck(rc, SPI_OK_UTILITY, "creating the push source");
	relid = get_relname_relid(rv->relname, nspid);

	/* every column must have equality and hashing: batches are consolidated */
	{
		Relation	rel = table_open(relid, AccessShareLock);
		TupleDesc	desc = RelationGetDescr(rel);

		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			TypeCacheEntry *tc = lookup_type_cache(att->atttypid,
												   TYPECACHE_EQ_OPR | TYPECACHE_HASH_EXTENDED_PROC);

			if (!OidIsValid(tc->eq_opr) || !OidIsValid(tc->hash_extended_proc))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_FUNCTION),
						 errmsg("column \"%s\" of type %s cannot be part of a push source",
								NameStr(att->attname), format_type_be(att->atttypid)),
						 errdetail("A push source consolidates rows, which needs equality and hashing for every column's type."),
						 errhint("Use a type that has both, such as jsonb rather than json.")));
		}
		table_close(rel, AccessShareLock);
	}

	save_nestlevel = IvmPinSearchPath();
	IvmBecome(IvmSchemaOwner(), false, &save);

	/* captured like any table, marked as pushed; its log to its owner */
	IvmEnsureCaptured(relid);
	IvmSettleRelations();
	{
		Oid			types[1] = {OIDOID};
		Datum		args[1];

		args[0] = ObjectIdGetDatum(relid);
		rc = SPI_execute_with_args("UPDATE ivm._sources SET kind = 'push' WHERE relid = $1",
								   1, types, args, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_UPDATE, "recording the push source");
	}

	/* only ivm writes it */
	resetStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TRIGGER ivm_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE "
					 "ON %s FOR EACH STATEMENT EXECUTE FUNCTION ivm._guard_storage('push')", qname);
	rc = SPI_execute(sql.data, false, 0);
	IvmSpiCheck(rc, SPI_OK_UTILITY, "guarding the push source");

	/* how a batch that removes rows finds them */
	{
		Relation	rel = table_open(relid, AccessShareLock);
		TupleDesc	desc = RelationGetDescr(rel);

		resetStringInfo(&sql);
		appendStringInfo(&sql, "CREATE INDEX ON %s (ivm.key_hash(", qname);
		for (int i = 0; i < desc->natts; i++)
			appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "",
							 quote_identifier(NameStr(TupleDescAttr(desc, i)->attname)));
		appendStringInfoString(&sql, "))");
		table_close(rel, AccessShareLock);
	}
	rc = SPI_execute(sql.data, false, 0);
	IvmSpiCheck(rc, SPI_OK_UTILITY, "indexing the push source");

	IvmRestoreUser(&save);
	IvmUnpinSearchPath(save_nestlevel);
	SPI_finish();
	PG_RETURN_OID(relid);
}

/*
 * EqualityOperator
 *		OPERATOR(schema.=) of a type's default equality, the one GROUP BY
 *		consolidates a batch with: removals find rows by the same equality
 *		(citext's, not text's) whatever search_path is pinned.
 */
static char *
EqualityOperator(Oid typid)
{
	TypeCacheEntry *tc = lookup_type_cache(typid, TYPECACHE_EQ_OPR);
	HeapTuple	tup;
	Form_pg_operator op;
	char	   *result;

	if (!OidIsValid(tc->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify an equality operator for type %s",
						format_type_be(typid))));
	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(tc->eq_opr));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", tc->eq_opr);
	op = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tup);
	return result;
}

/*
 * LookupPushSource
 *		The push source relid is, or an error.  Caller is connected to SPI
 *		and runs as the owner of schema ivm.
 */
static PushSource *
LookupPushSource(Oid relid, TupleDesc desc)
{
	PushSource *src = palloc0(sizeof(PushSource));
	Oid			types[1] = {OIDOID};
	Datum		args[1];
	bool		isnull;
	int			rc;
	StringInfoData cols;
	StringInfoData match;
	StringInfoData ks;
	StringInfoData kc;

	args[0] = ObjectIdGetDatum(relid);
	rc = SPI_execute_with_args("SELECT id, dedup FROM ivm._sources WHERE relid = $1 AND kind = 'push'",
							   1, types, args, NULL, false, 1);
	IvmSpiCheck(rc, SPI_OK_SELECT, "looking up the push source");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s\" is not a push source", get_rel_name(relid)),
				 errhint("Create one with ivm.create_source(name, columns); ivm.sources lists them.")));
	src->relid = relid;
	src->id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	src->dedup = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_freetuptable(SPI_tuptable);
	src->name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										   get_rel_name(relid));

	initStringInfo(&cols);
	initStringInfo(&match);
	initStringInfo(&ks);
	initStringInfo(&kc);
	for (int i = 0; i < desc->natts; i++)
	{
		const char *col = quote_identifier(NameStr(TupleDescAttr(desc, i)->attname));
		const char *sep = i > 0 ? ", " : "";

		appendStringInfo(&cols, "%s%s", sep, col);
		appendStringInfo(&ks, "%ss.%s", sep, col);
		appendStringInfo(&kc, "%sc.%s", sep, col);
		appendStringInfo(&match, " AND (s.%s %s c.%s OR (s.%s IS NULL AND c.%s IS NULL))",
						 col, EqualityOperator(TupleDescAttr(desc, i)->atttypid), col, col, col);
	}
	src->colnames = cols.data;
	src->match = match.data;
	src->keyhash_s = psprintf("ivm.key_hash(%s)", ks.data);
	src->keyhash_c = psprintf("ivm.key_hash(%s)", kc.data);
	return src;
}

/* Error context while a batch element is read: which element, which column. */
typedef struct ElementContext
{
	const char *source;
	int			element;		/* 1-based */
	const char *column;
} ElementContext;

static void
ElementErrorCallback(void *arg)
{
	ElementContext *ec = arg;

	if (ec->column)
		errcontext("element %d of the batch for push source \"%s\", column \"%s\"",
				   ec->element, ec->source, ec->column);
	else
		errcontext("element %d of the batch for push source \"%s\"", ec->element, ec->source);
}

/*
 * WeightOf
 *		The integer a _weight value holds, or an error naming the element.
 */
static int64
WeightOf(JsonbValue *v, int element, const char *source)
{
	char	   *text;
	char	   *end;
	long long	w;

	if (v->type == jbvNumeric)
	{
		text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		errno = 0;
		w = strtoll(text, &end, 10);
		/* 3.0 is the integer 3; 3.5 is not */
		if (*end == '.')
		{
			end++;
			while (*end == '0')
				end++;
		}
		if (*end == '\0' && errno == 0 && w >= PG_INT32_MIN && w <= PG_INT32_MAX)
			return (int64) w;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("element %d of the batch for push source \"%s\" has a _weight that is not an integer: %s",
						element, source, text),
				 errhint("A weight is a whole number between %d and %d; 1 inserts a row, -1 removes it.",
						 PG_INT32_MIN, PG_INT32_MAX)));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("element %d of the batch for push source \"%s\" has a _weight that is not an integer",
					element, source),
			 errhint("A weight is a JSON number without a fraction; 1 inserts a row, -1 removes it.")));
	return 0;					/* keep the compiler quiet */
}

/*
 * ValueText
 *		The text form of a JSON value for a column of type typid, or NULL for
 *		JSON null.  json and jsonb columns take the JSON value itself.
 */
static char *
ValueText(JsonbValue *v, Oid typid)
{
	if (v->type == jbvNull)
		return NULL;
	if (typid == JSONBOID || typid == JSONOID)
		return JsonbToCString(NULL, &JsonbValueToJsonb(v)->root, 64);
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvBinary:
			return JsonbToCString(NULL, v->val.binary.data, 64);
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return NULL;
}

/*
 * BatchSigns
 *		Whether a batch adds rows (an element with a positive weight) and
 *		whether it removes rows (a negative weight): what the rights check
 *		needs, read from the weights alone before any value is read.  An
 *		element that is not an object is left for ReadBatch to refuse.
 */
static void
BatchSigns(Jsonb *batch, const char *source, bool *adds, bool *removes)
{
	int			n;

	if (!JB_ROOT_IS_ARRAY(batch) || JB_ROOT_IS_SCALAR(batch))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a batch for push source \"%s\" must be a JSON array of objects", source),
				 errhint("Push, for instance, '[{\"user_id\": 1, \"url\": \"/a\", \"_weight\": 1}]'.")));

	*adds = false;
	*removes = false;
	n = JsonContainerSize(&batch->root);
	for (int e = 0; e < n; e++)
	{
		JsonbValue *el = getIthJsonbValueFromContainer(&batch->root, e);
		JsonbValue *wv;
		int64		weight = 1;

		if (el->type != jbvBinary || !JsonContainerIsObject(el->val.binary.data))
			continue;
		wv = getKeyJsonValueFromContainer(el->val.binary.data, BATCH_WEIGHT_KEY,
										  strlen(BATCH_WEIGHT_KEY), NULL);
		if (wv != NULL)
			weight = WeightOf(wv, e + 1, source);
		if (weight > 0)
			*adds = true;
		else if (weight < 0)
			*removes = true;
		pfree(el);
	}
}

/*
 * CheckPushRights
 *		As the caller: INSERT on the source when the batch adds rows; DELETE
 *		and SELECT when it removes rows, as DELETE ... WHERE needs SELECT on
 *		what it compares (and so the removal check's error, which counts
 *		the copies held, says nothing to a role that may not read them).  A
 *		batch that does neither needs INSERT.  Each privilege is checked on
 *		its own and the missing ones are named.
 */
static void
CheckPushRights(Oid relid, const char *source, bool adds, bool removes)
{
	AclMode		need = 0;
	AclMode		missing;
	StringInfoData names;

	if (adds || !removes)
		need |= ACL_INSERT;
	if (removes)
		need |= ACL_DELETE | ACL_SELECT;
	missing = need & ~pg_class_aclmask(relid, GetUserId(), need, ACLMASK_ALL);
	if (missing == 0)
		return;

	initStringInfo(&names);
	if (missing & ACL_INSERT)
		appendStringInfoString(&names, "INSERT");
	if (missing & ACL_DELETE)
		appendStringInfo(&names, "%sDELETE", names.len > 0 ? ", " : "");
	if (missing & ACL_SELECT)
		appendStringInfo(&names, "%sSELECT", names.len > 0 ? ", " : "");
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for push source \"%s\": %s privilege missing",
					source, names.data),
			 errdetail("A batch that adds rows (a positive \"_weight\") needs INSERT on the source; "
					   "one that removes rows (a negative \"_weight\") needs DELETE and SELECT."),
			 errhint("Ask the owner of the source to grant %s, or push only the rows you may.",
					 names.data)));
}

/*
 * ReadBatch
 *		Check a batch and turn it into a tuplestore of (source columns,
 *		__ivm_weight, __ivm_element); weights of 0 are left out.  The input
 *		functions (and a domain's checks) run here: the caller runs as the
 *		source's owner, restricted.  The caller ends the tuplestore.
 */
static Tuplestorestate *
ReadBatch(Jsonb *batch, Relation rel, const char *source, TupleDesc bdesc, uint64 *nrows)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			natts = desc->natts;
	FmgrInfo   *infuncs = palloc(sizeof(FmgrInfo) * natts);
	Oid		   *ioparams = palloc(sizeof(Oid) * natts);
	Datum	   *values = palloc(sizeof(Datum) * (natts + 2));
	bool	   *nulls = palloc(sizeof(bool) * (natts + 2));
	bool	   *given = palloc(sizeof(bool) * natts);
	Tuplestorestate *ts = tuplestore_begin_heap(false, false, work_mem);
	MemoryContext elcxt;
	MemoryContext oldcxt;
	ElementContext ec;
	ErrorContextCallback errcallback;
	int			n;

	for (int i = 0; i < natts; i++)
	{
		Oid			infunc;

		getTypeInputInfo(TupleDescAttr(desc, i)->atttypid, &infunc, &ioparams[i]);
		fmgr_info(infunc, &infuncs[i]);
	}
	elcxt = AllocSetContextCreate(CurrentMemoryContext, "ivm batch element",
								  ALLOCSET_DEFAULT_SIZES);

	ec.source = source;
	errcallback.callback = ElementErrorCallback;
	errcallback.arg = &ec;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	*nrows = 0;
	n = JsonContainerSize(&batch->root);
	for (int e = 0; e < n; e++)
	{
		JsonbValue *el;
		JsonbIterator *it;
		JsonbIteratorToken tok;
		JsonbValue	key;
		JsonbValue	val;
		int64		weight = 1;

		CHECK_FOR_INTERRUPTS();
		oldcxt = MemoryContextSwitchTo(elcxt);
		el = getIthJsonbValueFromContainer(&batch->root, e);
		ec.element = e + 1;
		ec.column = NULL;
		if (el->type != jbvBinary || !JsonContainerIsObject(el->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("element %d of the batch for push source \"%s\" is not a JSON object",
							e + 1, source),
					 errhint("Each element is an object with the source's columns and \"_weight\".")));

		memset(given, 0, sizeof(bool) * natts);
		memset(nulls, true, sizeof(bool) * natts);
		it = JsonbIteratorInit(el->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
		{
			char	   *keyname;
			int			att = -1;
			char	   *text;

			if (tok != WJB_KEY)
				continue;
			tok = JsonbIteratorNext(&it, &val, true);
			Assert(tok == WJB_VALUE);
			keyname = pnstrdup(key.val.string.val, key.val.string.len);
			if (strcmp(keyname, BATCH_WEIGHT_KEY) == 0)
			{
				weight = WeightOf(&val, e + 1, source);
				continue;
			}
			for (int i = 0; i < natts; i++)
			{
				if (strcmp(NameStr(TupleDescAttr(desc, i)->attname), keyname) == 0)
				{
					att = i;
					break;
				}
			}
			if (att < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("element %d of the batch names column \"%s\", which push source \"%s\" does not have",
								e + 1, keyname, source),
						 errhint("The batch was not applied.  A batch takes the source's columns and \"_weight\".")));
			ec.column = keyname;
			text = ValueText(&val, TupleDescAttr(desc, att)->atttypid);
			given[att] = true;
			nulls[att] = (text == NULL);
			values[att] = InputFunctionCall(&infuncs[att], text, ioparams[att],
											TupleDescAttr(desc, att)->atttypmod);
			ec.column = NULL;
		}

		for (int i = 0; i < natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (nulls[i] && att->attnotnull)
				ereport(ERROR,
						(errcode(ERRCODE_NOT_NULL_VIOLATION),
						 errmsg("element %d of the batch %s column \"%s\", which push source \"%s\" declares NOT NULL",
								e + 1, given[i] ? "gives null for" : "has no value for",
								NameStr(att->attname), source),
						 errhint("The batch was not applied.")));
		}
		MemoryContextSwitchTo(oldcxt);
		if (weight != 0)
		{
			values[natts] = Int64GetDatum(weight);
			nulls[natts] = false;
			values[natts + 1] = Int32GetDatum(e + 1);
			nulls[natts + 1] = false;
			tuplestore_putvalues(ts, bdesc, values, nulls);
			(*nrows)++;
		}
		MemoryContextReset(elcxt);
	}

	error_context_stack = errcallback.previous;
	MemoryContextDelete(elcxt);
	return ts;
}

/*
 * How BatchHash feeds one column's values into a row's hash.
 *
 * The hash must not depend on settings: the text form of a value does
 * (TimeZone, DateStyle, IntervalStyle, extra_float_digits, bytea_output),
 * so no output function is called.  And it must agree with the
 * consolidation, which groups rows by their types' equality (GROUP BY):
 * two rows it takes for one must hash alike, whichever of them the group
 * kept.  So:
 *	- HASH_IMAGE: the type's btree equality is equality of images (its
 *	  opclass's equalimage function says so: int, text in a deterministic
 *	  collation, date, timestamptz, bytea, ...): the value's bytes,
 *	  detoasted, as diff.c hashes rows.  Exact, and no code of the type runs.
 *	- HASH_INTERVAL: interval, whose equality compares the span ('1 day'
 *	  equals '24 hours'): the span in canonical form (whole days, then the
 *	  microseconds left, 0 <= time < one day).
 *	- HASH_TYPE: any other type (numeric, where 1.0 equals 1.00; float8,
 *	  where -0 equals 0; jsonb; arrays and records of such types): the
 *	  type's extended hash function, which agrees with its equality, under
 *	  two seeds for 128 bits.  It is the type's code: the caller runs as the
 *	  source's owner, restricted.
 */
typedef enum HashMethod
{
	HASH_IMAGE,
	HASH_INTERVAL,
	HASH_TYPE
} HashMethod;

typedef struct ColumnHash
{
	HashMethod	method;
	Oid			collation;
	FmgrInfo   *hashproc;		/* HASH_TYPE: the extended hash function */
} ColumnHash;

#define HASH_SEED_1 UINT64CONST(0x9e3779b97f4a7c15)
#define HASH_SEED_2 UINT64CONST(0xc2b2ae3d27d4eb4f)

/*
 * EqualityIsImage
 *		Does the default btree opclass of typid say that equal values have
 *		equal images, under collation?  (As btree deduplication asks.)
 */
static bool
EqualityIsImage(Oid typid, Oid collation)
{
	TypeCacheEntry *tc = lookup_type_cache(typid, TYPECACHE_BTREE_OPFAMILY);
	Oid			proc;

	if (!OidIsValid(tc->btree_opf))
		return false;
	proc = get_opfamily_proc(tc->btree_opf, tc->btree_opintype, tc->btree_opintype,
							 BTEQUALIMAGE_PROC);
	if (!OidIsValid(proc))
		return false;
	return DatumGetBool(OidFunctionCall1Coll(proc, collation,
											 ObjectIdGetDatum(tc->btree_opintype)));
}

/*
 * PlanColumnHashes
 *		How each column of desc is hashed (see above).
 */
static ColumnHash *
PlanColumnHashes(TupleDesc desc)
{
	ColumnHash *plan = palloc0(sizeof(ColumnHash) * desc->natts);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Oid			base = getBaseType(att->atttypid);

		plan[i].collation = att->attcollation;
		if (base == INTERVALOID)
			plan[i].method = HASH_INTERVAL;
		else if (EqualityIsImage(att->atttypid, att->attcollation))
			plan[i].method = HASH_IMAGE;
		else
		{
			TypeCacheEntry *tc = lookup_type_cache(att->atttypid,
												   TYPECACHE_HASH_EXTENDED_PROC_FINFO);

			if (!OidIsValid(tc->hash_extended_proc))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_FUNCTION),
						 errmsg("could not identify a hash function for type %s",
								format_type_be(att->atttypid))));
			plan[i].method = HASH_TYPE;
			plan[i].hashproc = &tc->hash_extended_proc_finfo;
		}
	}
	return plan;
}

/*
 * HashValue
 *		Feed one column value into a row's hash state: a tag byte (null or
 *		not), then the value as its column's plan says.
 */
static void
HashValue(XXH3_state_t *state, Datum value, bool isnull, Form_pg_attribute att,
		  ColumnHash *how)
{
	uint8		present = isnull ? 0 : 1;

	XXH3_128bits_update(state, &present, 1);
	if (isnull)
		return;

	switch (how->method)
	{
		case HASH_INTERVAL:
			{
				Interval   *iv = DatumGetIntervalP(value);
				int64		days = (int64) iv->month * DAYS_PER_MONTH + iv->day;
				int64		time = iv->time;
				int64		whole = time / USECS_PER_DAY;

				/* floor division: 0 <= time < USECS_PER_DAY */
				time -= whole * USECS_PER_DAY;
				if (time < 0)
				{
					time += USECS_PER_DAY;
					whole--;
				}
				days += whole;
				XXH3_128bits_update(state, &days, sizeof(days));
				XXH3_128bits_update(state, &time, sizeof(time));
				break;
			}
		case HASH_TYPE:
			{
				uint64		h[2];

				h[0] = DatumGetUInt64(FunctionCall2Coll(how->hashproc, how->collation, value,
														UInt64GetDatum(HASH_SEED_1)));
				h[1] = DatumGetUInt64(FunctionCall2Coll(how->hashproc, how->collation, value,
														UInt64GetDatum(HASH_SEED_2)));
				XXH3_128bits_update(state, h, sizeof(h));
				break;
			}
		case HASH_IMAGE:
			if (att->attbyval)
			{
				char		buf[sizeof(Datum)];

				store_att_byval(buf, value, att->attlen);
				XXH3_128bits_update(state, buf, att->attlen);
			}
			else
			{
				uint32		len;
				Pointer		copy;
				const char *bytes = IvmDatumImage(value, att->attlen, &len, &copy);

				if (att->attlen < 0)
					XXH3_128bits_update(state, &len, sizeof(len));
				XXH3_128bits_update(state, bytes, len);
				if (copy != NULL)
					pfree(copy);
			}
			break;
	}
}

/*
 * BatchHash
 *		The consolidated batch's content hash: per row, XXH3-128 of each
 *		column's value (HashValue) and the weight; summed over rows, so that
 *		the order of rows does not matter.  Rows are SPI's current result:
 *		columns 1..natts, then the weight.  The caller runs as the source's
 *		owner, restricted (a type's hash function may run).
 */
static pg_uuid_t
BatchHash(TupleDesc desc)
{
	int			natts = desc->natts;
	ColumnHash *plan = PlanColumnHashes(desc);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "ivm batch hash",
												 ALLOCSET_SMALL_SIZES);
	uint64		lo = 0;
	uint64		hi = 0;
	pg_uuid_t	result;

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);
		HeapTuple	tuple = SPI_tuptable->vals[r];
		TupleDesc	rdesc = SPI_tuptable->tupdesc;
		XXH3_state_t state;
		XXH128_hash_t h;
		bool		isnull;
		int64		weight;

		XXH3_128bits_reset(&state);
		for (int i = 1; i <= natts; i++)
		{
			Datum		value = SPI_getbinval(tuple, rdesc, i, &isnull);

			HashValue(&state, value, isnull, TupleDescAttr(desc, i - 1), &plan[i - 1]);
		}
		weight = DatumGetInt64(SPI_getbinval(tuple, rdesc, natts + 1, &isnull));
		XXH3_128bits_update(&state, &weight, sizeof(weight));
		h = XXH3_128bits_digest(&state);
		lo += h.low64;
		hi += h.high64;
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);
	for (int i = 0; i < 8; i++)
	{
		result.data[i] = (unsigned char) (hi >> (56 - 8 * i));
		result.data[8 + i] = (unsigned char) (lo >> (56 - 8 * i));
	}
	return result;
}

/* Add n to one of the counters ivm.stats shows. */
static void
BumpCounter(const char *name, int64 n)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		args[2];
	int			rc;

	args[0] = CStringGetTextDatum(name);
	args[1] = Int64GetDatum(n);
	rc = SPI_execute_with_args("INSERT INTO ivm._counters AS c (name, value) VALUES ($1, $2) "
							   "ON CONFLICT (name) DO UPDATE SET value = c.value + excluded.value",
							   2, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_INSERT, "counting");
}

/*
 * SeenBefore
 *		Record a batch hash in the source's seen-set; true if it was there.
 *		Evicts the oldest entries beyond ivm.dedup_capacity, and counts them.
 */
static bool
SeenBefore(PushSource *src, pg_uuid_t *hash)
{
	Oid			types[2] = {INT4OID, UUIDOID};
	Datum		args[2];
	int			rc;
	bool		isnull;
	int64		entries;

	args[0] = Int32GetDatum(src->id);
	args[1] = UUIDPGetDatum(hash);
	rc = SPI_execute_with_args("INSERT INTO ivm._seen (source_id, hash) VALUES ($1, $2) "
							   "ON CONFLICT DO NOTHING",
							   2, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_INSERT, "recording a batch hash");
	if (SPI_processed == 0)
	{
		BumpCounter("dedup_coalesced", 1);
		return true;
	}

	rc = SPI_execute_with_args("UPDATE ivm._sources SET dedup_entries = dedup_entries + 1 "
							   "WHERE id = $1 RETURNING dedup_entries",
							   1, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_UPDATE_RETURNING, "counting batch hashes");
	entries = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (entries > ivm_dedup_capacity)
	{
		Oid			types2[2] = {INT4OID, INT8OID};
		Datum		args2[2];
		uint64		evicted;

		args2[0] = Int32GetDatum(src->id);
		args2[1] = Int64GetDatum(entries - ivm_dedup_capacity);
		rc = SPI_execute_with_args("DELETE FROM ivm._seen WHERE source_id = $1 AND seq IN "
								   "(SELECT seq FROM ivm._seen WHERE source_id = $1 "
								   " ORDER BY seq LIMIT $2)",
								   2, types2, args2, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_DELETE, "evicting batch hashes");
		evicted = SPI_processed;
		args2[1] = Int64GetDatum((int64) evicted);
		rc = SPI_execute_with_args("UPDATE ivm._sources SET dedup_entries = dedup_entries - $2 "
								   "WHERE id = $1",
								   2, types2, args2, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_UPDATE, "counting batch hashes");
		BumpCounter("dedup_dropped", (int64) evicted);
	}
	return false;
}

/*
 * RethrowForNonReader
 *		In a PG_CATCH block of work done as the source's owner: the error
 *		goes whole to the server log, and to a caller who may not read the
 *		source without its detail and context (a constraint's "Failing row
 *		contains", a trigger's values), as rights.c says of errors that
 *		cross owners.  Does not return.
 */
static void
RethrowForNonReader(MemoryContext cxt, const char *source)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	ereport(LOG_SERVER_ONLY,
			(errmsg("push to \"%s\" failed: %s", source, edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 edata->context ? errcontext("%s", edata->context) : 0));
	edata->detail = NULL;
	edata->detail_log = NULL;
	edata->context = NULL;
	edata->internalquery = NULL;
	edata->internalpos = 0;
	edata->hint = psprintf("The batch was not applied.  Only roles with SELECT on push source \"%s\" see the error's detail.",
						   source);
	ReThrowError(edata);
}

/*
 * PushBatch
 *		Integrate a batch into push source relid.  Returns the number of row
 *		copies inserted and removed (0 when dedup coalesced the batch).
 *		Who runs what: see the file header.
 */
static int64
PushBatch(Oid relid, Jsonb *batch)
{
	Relation	rel;
	TupleDesc	desc;
	TupleDesc	bdesc;
	PushSource *src;
	Tuplestorestate *ts;
	Tuplestorestate *cts;
	uint64		nrows;
	IvmUserSave save;
	int			nestlevel;
	StringInfoData sql;
	int			rc;
	int			natts;
	volatile int64 copies = 0;	/* read after the PG_TRY below */
	bool		adds;
	bool		removes;
	bool		reader;
	bool		coalesced = false;
	pg_uuid_t	hash;
	Oid			owner;
	const char *source;
	MemoryContext cxt = CurrentMemoryContext;
	Oid			save_maintained;

	IvmCheckPreloaded();
	IvmCheckUserEntry("push a batch");
	IvmCheckWritable("push a batch");
	source = get_rel_name(relid);
	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));

	/* as the caller, before anything is read: the rights each sign needs */
	BatchSigns(batch, source, &adds, &removes);
	CheckPushRights(relid, source, adds, removes);
	reader = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK;

	/*
	 * One push at a time per source (the lock conflicts with itself, not
	 * with readers): a batch's removals are checked against the rows the
	 * pushes before it left, and two batches cannot both remove one copy.
	 */
	rel = table_open(relid, ShareRowExclusiveLock);
	desc = RelationGetDescr(rel);
	natts = desc->natts;
	source = RelationGetRelationName(rel);
	owner = rel->rd_rel->relowner;

	for (int i = 0; i < natts; i++)
		if (TupleDescAttr(desc, i)->attisdropped)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("push source \"%s\" has a dropped column", source),
					 errhint("Recreate the push source with the columns it should have.")));

	IvmSpiConnect();
	nestlevel = IvmPinSearchPath();

	/* ivm's catalog, as the owner of schema ivm */
	IvmBecome(IvmSchemaOwner(), false, &save);
	src = LookupPushSource(relid, desc);
	IvmRestoreUser(&save);

	bdesc = CreateTemplateTupleDesc(natts + 2);
	for (int i = 0; i < natts; i++)
		TupleDescCopyEntry(bdesc, i + 1, desc, i + 1);
	TupleDescInitEntry(bdesc, natts + 1, BATCH_WEIGHT, INT8OID, -1, 0);
	TupleDescInitEntry(bdesc, natts + 2, BATCH_ELEMENT, INT4OID, -1, 0);
	for (int i = 0; i < natts + 2; i++)
		TupleDescAttr(bdesc, i)->attnotnull = false;

	/*
	 * As the source's owner, restricted: the values read (input functions,
	 * domain checks), consolidated (the types' equality) and hashed.
	 */
	IvmBecome(owner, true, &save);
	ts = ReadBatch(batch, rel, source, bdesc, &nrows);
	IvmRegisterTuplestore("ivm_batch", ts, bdesc);

	/* consolidate: equal rows' weights summed, zeros dropped */
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s, sum(" BATCH_WEIGHT ")::int8 AS " BATCH_WEIGHT ", "
					 "min(" BATCH_ELEMENT ") AS " BATCH_ELEMENT " FROM ivm_batch "
					 "GROUP BY %s HAVING sum(" BATCH_WEIGHT ") <> 0",
					 src->colnames, src->colnames);
	rc = SPI_execute(sql.data, false, 0);
	IvmSpiCheck(rc, SPI_OK_SELECT, "consolidating the batch");
	cts = tuplestore_begin_heap(false, false, work_mem);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;

		tuplestore_puttuple(cts, SPI_tuptable->vals[r]);
		copies += IvmAbs(DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc,
												  natts + 1, &isnull)));
	}
	if (SPI_processed > 0 && src->dedup)
		hash = BatchHash(desc);
	SPI_freetuptable(SPI_tuptable);
	IvmRestoreUser(&save);

	/* bounded before anything is written, the seen-set included */
	if (copies > ivm_max_push_rows)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the batch for push source \"%s\" would write " INT64_FORMAT " row copies, more than ivm.max_push_rows (%d)",
						source, copies, ivm_max_push_rows),
				 errdetail("The sum of the absolute weights of the consolidated batch is the number of rows written and removed."),
				 errhint("The batch was not applied.  Split it into smaller batches, or ask a superuser to raise ivm.max_push_rows.")));

	if (copies > 0 && src->dedup)
	{
		IvmBecome(IvmSchemaOwner(), false, &save);
		coalesced = SeenBefore(src, &hash);
		IvmRestoreUser(&save);
	}

	if (copies > 0 && !coalesced)
	{
		/*
		 * As the source's owner, restricted: the removal check, the DELETE
		 * and the INSERT, and so the owner's triggers on the source.  The
		 * guard trigger lets the writes through while maintenance runs.
		 */
		IvmBecome(owner, true, &save);
		IvmRegisterTuplestore("ivm_cbatch", cts, bdesc);
		save_maintained = ivm_maintained_rel;
		PG_TRY();
		{
			/* no row removed more often than the source holds it */
			resetStringInfo(&sql);
			appendStringInfo(&sql,
							 "SELECT x.e, -x.w, x.have FROM ("
							 " SELECT c." BATCH_ELEMENT " AS e, c." BATCH_WEIGHT " AS w, "
							 "  (SELECT count(*) FROM %s s WHERE %s = %s%s) AS have "
							 " FROM ivm_cbatch c WHERE c." BATCH_WEIGHT " < 0) x "
							 "WHERE x.have < -x.w ORDER BY x.e LIMIT 1",
							 src->name, src->keyhash_s, src->keyhash_c, src->match);
			rc = SPI_execute(sql.data, false, 1);
			IvmSpiCheck(rc, SPI_OK_SELECT, "checking the batch's removals");
			if (SPI_processed > 0)
			{
				bool		isnull;
				int32		element = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
				int64		removed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
				int64		have = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));

				/* the caller has SELECT on the source (CheckPushRights) */
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("element %d of the batch would make a row's multiplicity in push source \"%s\" negative",
								element, source),
						 errdetail("The batch removes " INT64_FORMAT " copies of the row; the source holds " INT64_FORMAT ".",
								   removed, have),
						 errhint("The batch was not applied.  Remove only rows the source holds.")));
			}
			SPI_freetuptable(SPI_tuptable);

			/* the guard lets these writes through; the catch below resets it */
			ivm_maintained_rel = relid;
			resetStringInfo(&sql);
			appendStringInfo(&sql,
							 "DELETE FROM %s t USING ivm_cbatch c "
							 "CROSS JOIN LATERAL (SELECT s.ctid AS tid FROM %s s WHERE %s = %s%s "
							 " LIMIT -c." BATCH_WEIGHT ") d "
							 "WHERE c." BATCH_WEIGHT " < 0 AND t.ctid = d.tid",
							 src->name, src->name, src->keyhash_s, src->keyhash_c, src->match);
			rc = SPI_execute(sql.data, false, 0);
			IvmSpiCheck(rc, SPI_OK_DELETE, "removing rows from the push source");

			resetStringInfo(&sql);
			appendStringInfo(&sql,
							 "INSERT INTO %s (%s) SELECT %s FROM ivm_cbatch c, "
							 "generate_series(1, c." BATCH_WEIGHT ") WHERE c." BATCH_WEIGHT " > 0",
							 src->name, src->colnames, src->colnames);
			rc = SPI_execute(sql.data, false, 0);
			IvmSpiCheck(rc, SPI_OK_INSERT, "adding rows to the push source");
			ivm_maintained_rel = save_maintained;
		}
		PG_CATCH();
		{
			ivm_maintained_rel = save_maintained;
			if (!reader)
				RethrowForNonReader(cxt, source);
			PG_RE_THROW();
		}
		PG_END_TRY();
		IvmRestoreUser(&save);
		SPI_unregister_relation("ivm_cbatch");
	}
	if (coalesced)
		copies = 0;

	/* end the stores: a store that spilled to disk closes its file */
	SPI_unregister_relation("ivm_batch");
	tuplestore_end(ts);
	tuplestore_end(cts);
	IvmUnpinSearchPath(nestlevel);
	SPI_finish();
	table_close(rel, NoLock);
	return copies;
}

/*
 * ivm_push
 *		SQL: ivm.push(source regclass, batch jsonb) returns bigint
 */
Datum
ivm_push(PG_FUNCTION_ARGS)
{
	IvmCheckArgNotNull(fcinfo, 0, "source", "ivm.push");
	IvmCheckArgNotNull(fcinfo, 1, "batch", "ivm.push");
	PG_RETURN_INT64(PushBatch(PG_GETARG_OID(0), PG_GETARG_JSONB_P(1)));
}

/*
 * ivm_tick_batch
 *		SQL: ivm.tick(source regclass, batch jsonb): push, then tick; returns
 *		what ivm.tick() returns.
 */
Datum
ivm_tick_batch(PG_FUNCTION_ARGS)
{
	IvmCheckArgNotNull(fcinfo, 0, "source", "ivm.tick");
	IvmCheckArgNotNull(fcinfo, 1, "batch", "ivm.tick");
	(void) PushBatch(PG_GETARG_OID(0), PG_GETARG_JSONB_P(1));
	PG_RETURN_DATUM(IvmTickResult(fcinfo));
}

/*
 * ivm_set_dedup
 *		SQL: ivm.set_dedup(source regclass, enabled boolean) returns void.
 *		Turning dedup off forgets the seen-set.  Null arguments are refused
 *		here, not by STRICT, so that the caller hears which one.
 */
Datum
ivm_set_dedup(PG_FUNCTION_ARGS)
{
	Oid			relid;
	bool		enabled;
	IvmUserSave save;
	PushSource *src;
	Relation	rel;
	Oid			types[2] = {INT4OID, BOOLOID};
	Datum		args[2];
	int			rc;

	IvmCheckPreloaded();
	IvmCheckUserEntry("change a push source");
	IvmCheckWritable("change a push source");
	IvmCheckArgNotNull(fcinfo, 0, "source", "ivm.set_dedup");
	IvmCheckArgNotNull(fcinfo, 1, "enabled", "ivm.set_dedup");
	relid = PG_GETARG_OID(0);
	enabled = PG_GETARG_BOOL(1);
	if (!IvmRelationOwnerCheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
	rel = table_open(relid, AccessShareLock);
	IvmCatalogBegin(&save);
	src = LookupPushSource(relid, RelationGetDescr(rel));
	args[0] = Int32GetDatum(src->id);
	args[1] = BoolGetDatum(enabled);
	rc = SPI_execute_with_args("UPDATE ivm._sources SET dedup = $2, "
							   "dedup_entries = CASE WHEN $2 THEN dedup_entries ELSE 0 END "
							   "WHERE id = $1",
							   2, types, args, NULL, false, 0);
	IvmSpiCheck(rc, SPI_OK_UPDATE, "setting dedup");
	if (!enabled)
	{
		rc = SPI_execute_with_args("DELETE FROM ivm._seen WHERE source_id = $1",
								   1, types, args, NULL, false, 0);
		IvmSpiCheck(rc, SPI_OK_DELETE, "forgetting batch hashes");
	}
	IvmCatalogEnd(&save);
	table_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}
