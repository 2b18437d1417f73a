/*
 * snapshot.c — snapshots: which relation and columns, how rows are sampled and split, and reading them
 * into the raw matrix libpgml's preprocessor works on.
 *
 * The relation is read through SPI as the calling user, so PostgreSQL enforces privileges. The sampling
 * query orders the rows; the first n_train rows train and the rest test. It also counts the rows with a
 * window function, so the count and the rows come from one query snapshot.
 *
 * Sampling (pgml.sampling):
 *   random      ORDER BY random()
 *   last        the relation's order: the last rows test
 *   stratified  rows ordered by their rank within their label, relative to the label's size (random
 *               within the label), so the last rows hold each label in proportion to its frequency.
 *               PostgresML partitions by every column instead (its §9); this stratifies by the label.
 */
#include "ml.h"

#include <math.h>

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "storage/lmgr.h"

#define FETCH_ROWS 10000

/* Whether a scalar type can be a feature or label, and whether it is categorical. */
bool
ml_supported_type(Oid type, bool *categorical)
{
	switch (type)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			*categorical = false;
			return true;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			*categorical = true;
			return true;
		default:
			return false;
	}
}

/* A numeric datum of one of the supported scalar types as float. */
float
ml_datum_to_float(Datum d, Oid type)
{
	switch (type)
	{
		case BOOLOID:
			return DatumGetBool(d) ? 1.0f : 0.0f;
		case INT2OID:
			return (float) DatumGetInt16(d);
		case INT4OID:
			return (float) DatumGetInt32(d);
		case INT8OID:
			return (float) DatumGetInt64(d);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case FLOAT8OID:
			return (float) DatumGetFloat8(d);
		case NUMERICOID:
			return (float) DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
	}
	elog(ERROR, "unexpected type %u", type);
	return 0;
}

/* Any value as text, through its type's output function (categorical values). */
char *
ml_value_text(Datum d, Oid type)
{
	Oid			func;
	bool		isvarlena;

	getTypeOutputInfo(type, &func, &isvarlena);
	return OidOutputFunctionCall(func, d);
}

/*
 * Resolves a relation name as PostgresML does: "schema.table", or a bare name that must exist in
 * schema public. Returns the relation's OID; *quoted receives the quoted qualified name, *stored the
 * "schema.table" text recorded in pgml.snapshots.
 */
static Oid
resolve_relation(const char *name, char **quoted, char **stored)
{
	Oid			relid;
	char		relkind;
	char	   *nspname;
	char	   *relname;

	if (strchr(name, '.') != NULL)
	{
		List	   *names = stringToQualifiedNameList(name);
		RangeVar   *rv = makeRangeVarFromNameList(names);

		relid = RangeVarGetRelid(rv, AccessShareLock, true);
		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"%s\" does not exist", name)));
	}
	else
	{
		Oid			public_ns = get_namespace_oid("public", true);

		relid = OidIsValid(public_ns) ? get_relname_relid(name, public_ns) : InvalidOid;
		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"%s\" could not be found in the public schema", name),
					 errhint("Please specify the table schema, e.g. pgml.%s", name)));
		LockRelationOid(relid, AccessShareLock);
	}
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_VIEW && relkind != RELKIND_MATVIEW
		&& relkind != RELKIND_FOREIGN_TABLE && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table or view", name)));
	nspname = get_namespace_name(get_rel_namespace(relid));
	relname = get_rel_name(relid);
	*quoted = quote_qualified_identifier(nspname, relname);
	*stored = psprintf("%s.%s", nspname, relname);
	return relid;
}

/* The type name recorded in the statistics: "float4", "text[]". */
static char *
type_label(Oid type, bool is_array, Oid elemtype)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(is_array ? elemtype : type));
	char	   *name;

	if (!HeapTupleIsValid(tup))
		return pstrdup("unknown");
	name = pstrdup(NameStr(((Form_pg_type) GETSTRUCT(tup))->typname));
	ReleaseSysCache(tup);
	return is_array ? psprintf("%s[]", name) : name;
}

/* Reads the relation's columns; the labels are marked, unsupported feature types rejected. */
static ml_column *
read_columns(Oid relid, const char *relname, char **labels, int n_labels, int *n_out)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	ml_column  *cols = palloc0(sizeof(ml_column) * Max(desc->natts, 1));
	int			n = 0;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		ml_column  *c;
		Oid			elem;

		if (att->attisdropped)
			continue;
		c = &cols[n];
		c->name = pstrdup(NameStr(att->attname));
		c->type = att->atttypid;
		elem = get_element_type(att->atttypid);
		c->is_array = OidIsValid(elem);
		c->elemtype = c->is_array ? elem : att->atttypid;
		c->nullable = !att->attnotnull;
		c->width = 1;
		c->position = n + 1;
		c->pg_type = type_label(c->type, c->is_array, c->elemtype);
		for (int l = 0; l < n_labels; l++)
			if (strcmp(labels[l], c->name) == 0)
				c->label = true;
		if (!ml_supported_type(c->elemtype, &c->categorical))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of relation \"%s\" has type %s, which pgml cannot use as a %s",
							c->name, relname, format_type_be(c->type), c->label ? "label" : "feature"),
					 errhint("Supported types are boolean, smallint, integer, bigint, real, double precision, "
							 "numeric, text, varchar and char, and arrays of them. Train on a view that "
							 "casts or leaves out the column.")));
		n++;
	}
	relation_close(rel, AccessShareLock);

	for (int l = 0; l < n_labels; l++)
	{
		bool		found = false;

		for (int i = 0; i < n; i++)
			if (strcmp(labels[l], cols[i].name) == 0)
				found = true;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" does not exist in relation \"%s\"", labels[l], relname)));
	}
	for (int i = 0; i < n; i++)
	{
		if (cols[i].label && cols[i].is_array)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("label column \"%s\" is an array", cols[i].name),
					 errhint("Use pgml.train_joint with one column per label.")));
	}
	*n_out = n;
	return cols;
}

/* Array columns: their length, from the first non-NULL value. */
static void
read_array_widths(ml_snapshot *s)
{
	for (int i = 0; i < s->n_columns; i++)
	{
		ml_column  *c = &s->columns[i];
		char	   *sql;
		bool		isnull;
		Datum		d;

		if (!c->is_array)
			continue;
		sql = psprintf("SELECT cardinality(%s) FROM %s WHERE %s IS NOT NULL LIMIT 1",
					   quote_identifier(c->name), s->relation, quote_identifier(c->name));
		if (SPI_execute(sql, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the length of array column \"%s\"", c->name);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("array column \"%s\" has no values", c->name)));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull || DatumGetInt32(d) < 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("array column \"%s\" has empty arrays", c->name)));
		c->width = DatumGetInt32(d);
	}
}

/* The SQL that lists the snapshot's rows in training order, with the row count as the last column. */
static char *
sampling_sql(const ml_snapshot *s, const char *sampling, bool materialized)
{
	StringInfoData cols;
	StringInfoData labels;

	initStringInfo(&cols);
	initStringInfo(&labels);
	for (int i = 0; i < s->n_columns; i++)
	{
		appendStringInfo(&cols, "%s%s", i ? ", " : "", quote_identifier(s->columns[i].name));
		if (s->columns[i].label)
			appendStringInfo(&labels, "%s%s", labels.len ? ", " : "", quote_identifier(s->columns[i].name));
	}
	if (materialized)
		return psprintf("SELECT %s, count(*) OVER () AS pgml_total FROM pgml.snapshot_" INT64_FORMAT, cols.data, s->id);
	if (strcmp(sampling, "last") == 0)
		return psprintf("SELECT %s, count(*) OVER () AS pgml_total FROM %s", cols.data, s->relation);
	if (strcmp(sampling, "random") == 0 || labels.len == 0)
		return psprintf("SELECT %s, count(*) OVER () AS pgml_total FROM %s ORDER BY random()", cols.data, s->relation);
	return psprintf("SELECT %s, count(*) OVER () AS pgml_total FROM ("
					"SELECT %s, row_number() OVER (PARTITION BY %s ORDER BY random()) AS pgml_rank, "
					"count(*) OVER (PARTITION BY %s) AS pgml_size FROM %s) AS pgml_sample "
					"ORDER BY pgml_rank::float8 / pgml_size, random()",
					cols.data, cols.data, labels.data, labels.data, s->relation);
}

static pgml_encode
parse_encode(const char *column, json_t *v, const char ***ordinal, size_t *n_ordinal)
{
	pgml_encode e;

	*ordinal = NULL;
	*n_ordinal = 0;
	if (json_is_object(v) && json_object_size(v) == 1 && json_is_array(json_object_get(v, "ordinal")))
	{
		json_t	   *list = json_object_get(v, "ordinal");
		size_t		i;
		json_t	   *item;

		*n_ordinal = json_array_size(list);
		*ordinal = palloc0(sizeof(char *) * Max(*n_ordinal, 1));
		json_array_foreach(list, i, item)
		{
			if (!json_is_string(item))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("ordinal values of column \"%s\" must be strings", column)));
			(*ordinal)[i] = pstrdup(json_string_value(item));
		}
		return PGML_ENCODE_ORDINAL;
	}
	if (!json_is_string(v) || !pgml_encode_parse(json_string_value(v), &e) || e == PGML_ENCODE_ORDINAL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid encode for column \"%s\"", column),
				 errhint("Use \"native\", \"target\", \"one_hot\" or {\"ordinal\": [\"value\", ...]}.")));
	return e;
}

/* Applies the preprocess JSONB ({column: {encode, impute, scale}}) to the feature column specs. */
static void
apply_preprocess(ml_snapshot *s, pgml_column *specs, int *spec_of, Jsonb *preprocess)
{
	json_t	   *pp = ml_jsonb_to_json(preprocess);
	const char *name;
	json_t	   *settings;

	if (pp == NULL)
		return;
	if (!json_is_object(pp))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("preprocess must be a JSON object of columns")));
	json_object_foreach(pp, name, settings)
	{
		int			col = -1;
		const char *key;
		json_t	   *v;
		pgml_column *spec;

		for (int i = 0; i < s->n_columns; i++)
			if (strcmp(s->columns[i].name, name) == 0)
				col = i;
		if (col < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("preprocess names column \"%s\", which is not in relation \"%s\"", name,
							s->relation_name)));
		if (s->columns[col].label)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("preprocess cannot apply to label column \"%s\"", name)));
		if (!json_is_object(settings))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("preprocess settings of column \"%s\" must be a JSON object", name)));
		spec = &specs[spec_of[col]];
		json_object_foreach(settings, key, v)
		{
			if (strcmp(key, "encode") == 0)
			{
				spec->encode = parse_encode(name, v, (const char ***) &spec->ordinal, &spec->n_ordinal);
				if (spec->encode != PGML_ENCODE_NATIVE)
					spec->categorical = s->columns[col].categorical = true;
			}
			else if (strcmp(key, "impute") == 0)
			{
				if (!json_is_string(v) || !pgml_impute_parse(json_string_value(v), &spec->impute))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid impute for column \"%s\"", name),
							 errhint("Use \"error\", \"mean\", \"median\", \"mode\", \"min\", \"max\" or \"zero\".")));
			}
			else if (strcmp(key, "scale") == 0)
			{
				if (!json_is_string(v) || !pgml_scale_parse(json_string_value(v), &spec->scale))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid scale for column \"%s\"", name),
							 errhint("Use \"preserve\", \"standard\", \"min_max\", \"max_abs\" or \"robust\".")));
			}
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown preprocess setting \"%s\" for column \"%s\"", key, name),
						 errhint("Valid settings are encode, impute and scale.")));
		}
	}
	json_decref(pp);
}

/* Builds the preprocessor of the feature columns. */
static void
build_preprocessor(ml_snapshot *s, Jsonb *preprocess)
{
	pgml_column *specs = palloc0(sizeof(pgml_column) * Max(s->n_columns, 1));
	int		   *spec_of = palloc0(sizeof(int) * Max(s->n_columns, 1));
	int			n = 0;
	pgml_err	err;

	for (int i = 0; i < s->n_columns; i++)
	{
		ml_column  *c = &s->columns[i];

		spec_of[i] = -1;
		if (c->label)
			continue;
		spec_of[i] = n;
		specs[n].name = c->name;
		specs[n].pg_type = c->pg_type;
		specs[n].categorical = c->categorical;
		specs[n].nullable = c->nullable;
		specs[n].width = (uint32_t) c->width;
		specs[n].encode = PGML_ENCODE_NATIVE;
		specs[n].impute = PGML_IMPUTE_ERROR;
		specs[n].scale = PGML_SCALE_PRESERVE;
		n++;
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("relation \"%s\" has no feature columns", s->relation_name),
				 errdetail("Every column is a label.")));
	apply_preprocess(s, specs, spec_of, preprocess);
	ML_CHECK(pgml_preprocessor_new(specs, (size_t) n, &s->pp, &err), &err);
	pgml_pg_own(s->pp, ml_preprocessor_release);
}

/*
 * Text labels. PostgresML classifies on text labels by their category codes; here a label's code is the
 * index of its value among the label's distinct values in byte order (over all the snapshot's rows), so
 * the codes do not depend on the sampling, and pgml.snapshots.columns lists the mapping. While the rows
 * are read, values get provisional codes in the order they appear; finish_text_labels renumbers them.
 */
#define LABEL_VALUE_MAX 1024

typedef struct label_entry
{
	char		value[LABEL_VALUE_MAX];
	int			code;
} label_entry;

static int
label_code(ml_column *c, Datum d)
{
	char	   *value = TextDatumGetCString(d);
	label_entry *e;
	bool		found;

	if (c->elemtype == BPCHAROID)
	{
		/* char(n) pads with spaces that are not part of the value */
		size_t		len = strlen(value);

		while (len > 0 && value[len - 1] == ' ')
			value[--len] = '\0';
	}
	if (strlen(value) >= LABEL_VALUE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("label column \"%s\" has a value of %zu bytes; text labels are limited to %d bytes",
						c->name, strlen(value), LABEL_VALUE_MAX - 1)));
	if (c->label_codes == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = LABEL_VALUE_MAX;
		ctl.entrysize = sizeof(label_entry);
		ctl.hcxt = CurrentMemoryContext;
		c->label_codes = hash_create("pgml text labels", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	e = hash_search(c->label_codes, value, HASH_ENTER, &found);
	if (!found)
	{
		if (c->n_label_values % 64 == 0)
			c->label_values = c->label_values == NULL ? palloc(sizeof(char *) * 64)
				: repalloc(c->label_values, sizeof(char *) * (c->n_label_values + 64));
		e->code = c->n_label_values;
		c->label_values[c->n_label_values++] = pstrdup(value);
	}
	return e->code;
}

static int
cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Sorts each text label's values and renumbers the rows' codes to match. */
static void
finish_text_labels(ml_snapshot *s)
{
	int			label = 0;

	for (int i = 0; i < s->n_columns; i++)
	{
		ml_column  *c = &s->columns[i];
		int		   *remap;
		char	  **sorted;

		if (!c->label)
			continue;
		if (c->categorical && c->n_label_values > 0)
		{
			sorted = palloc(sizeof(char *) * c->n_label_values);
			memcpy(sorted, c->label_values, sizeof(char *) * c->n_label_values);
			qsort(sorted, c->n_label_values, sizeof(char *), cmp_cstring);
			remap = palloc(sizeof(int) * c->n_label_values);
			for (int k = 0; k < c->n_label_values; k++)
			{
				label_entry *e = hash_search(c->label_codes, sorted[k], HASH_FIND, NULL);

				remap[e->code] = k;
			}
			for (size_t r = 0; r < s->n_rows; r++)
			{
				float	   *y = &s->y[r * s->n_labels + label];

				*y = (float) remap[(int) *y];
			}
			c->label_values = sorted;
		}
		label++;
	}
}

/* Converts one fetched row into raw feature values (and labels); codes categories (adding in training). */
static void
convert_row(ml_snapshot *s, HeapTuple tup, TupleDesc desc, size_t row, bool training)
{
	size_t		n_raw = pgml_preprocessor_n_raw(s->pp);
	float	   *out = s->raw + row * n_raw;
	int			feature = 0;
	int			label = 0;
	pgml_err	err;

	for (int i = 0; i < s->n_columns; i++)
	{
		ml_column  *c = &s->columns[i];
		bool		isnull;
		Datum		d = SPI_getbinval(tup, desc, i + 1, &isnull);

		if (c->label)
		{
			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("label column \"%s\" contains NULL values", c->name),
						 errhint("Filter these values out, e.g. WHERE %s IS NOT NULL.", quote_identifier(c->name))));
			if (c->categorical)
				s->y[row * s->n_labels + label] = (float) label_code(c, d);
			else
				s->y[row * s->n_labels + label] = ml_datum_to_float(d, c->type);
			if (!isfinite(s->y[row * s->n_labels + label]))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("label column \"%s\" contains NaN or infinite values", c->name)));
			label++;
			continue;
		}

		{
			size_t		off = pgml_preprocessor_raw_offset(s->pp, (size_t) feature);
			float	   *dst = out + off;

			if (isnull)
			{
				if (c->categorical && !c->is_array)
					ML_CHECK(pgml_preprocessor_code(s->pp, (size_t) feature, NULL, training, &dst[0], &err), &err);
				else
					for (int k = 0; k < c->width; k++)
						dst[k] = NAN;
			}
			else if (!c->is_array)
			{
				if (c->categorical)
				{
					char	   *str = c->type == TEXTOID || c->type == VARCHAROID || c->type == BPCHAROID
						? TextDatumGetCString(d) : ml_value_text(d, c->type);

					ML_CHECK(pgml_preprocessor_code(s->pp, (size_t) feature, str, training, &dst[0], &err), &err);
					pfree(str);
				}
				else
					dst[0] = ml_datum_to_float(d, c->type);
			}
			else
			{
				ArrayType  *a = DatumGetArrayTypeP(d);
				Datum	   *elems;
				bool	   *nulls;
				int			n;
				int16		typlen;
				bool		typbyval;
				char		typalign;

				get_typlenbyvalalign(c->elemtype, &typlen, &typbyval, &typalign);
				deconstruct_array(a, c->elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
				if (n != c->width)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_EXCEPTION),
							 errmsg("array column \"%s\" has arrays of different lengths %d and %d", c->name,
									c->width, n),
							 errhint("Every row must have the same number of elements.")));
				for (int k = 0; k < n; k++)
				{
					if (c->categorical)
					{
						char	   *str = nulls[k] ? NULL
							: c->elemtype == TEXTOID || c->elemtype == VARCHAROID || c->elemtype == BPCHAROID
							? TextDatumGetCString(elems[k]) : ml_value_text(elems[k], c->elemtype);

						ML_CHECK(pgml_preprocessor_code(s->pp, (size_t) feature, str, training, &dst[k], &err), &err);
					}
					else
						dst[k] = nulls[k] ? NAN : ml_datum_to_float(elems[k], c->elemtype);
				}
				pfree(elems);
				pfree(nulls);
			}
			feature++;
		}
	}
}

/* Runs the sampling query and reads every row into s->raw / s->y. */
static void
read_rows(ml_snapshot *s, const char *sql, float test_size)
{
	Portal		portal;
	SPIPlanPtr	plan;
	size_t		row = 0;
	size_t		n_raw = pgml_preprocessor_n_raw(s->pp);
	bool		first = true;

	plan = SPI_prepare(sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare the snapshot query: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, false);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		if (first)
		{
			bool		isnull;
			int			ncol = SPI_tuptable->tupdesc->natts;
			int64		total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, ncol, &isnull));
			size_t		bytes;

			s->n_rows = (size_t) total;
			if (test_size <= 1.0f)
				s->n_test = (size_t) rint((double) s->n_rows * test_size);
			else
				s->n_test = (size_t) test_size;
			if (s->n_test >= s->n_rows)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("test_size leaves no rows to train on"),
						 errdetail("The relation has %zu rows and test_size asks for %zu test rows.", s->n_rows,
								   s->n_test)));
			s->n_train = s->n_rows - s->n_test;
			if (!pgml_mul_size(s->n_rows, n_raw * sizeof(float), &bytes) || bytes >= MaxAllocHugeSize)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("snapshot of %zu rows × %zu values is too large", s->n_rows, n_raw)));
			s->raw = palloc_extended(Max(bytes, 1), MCXT_ALLOC_HUGE);
			if (s->n_labels > 0)
				s->y = palloc_extended(sizeof(float) * s->n_rows * s->n_labels, MCXT_ALLOC_HUGE);
			first = false;
		}
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			if (row >= s->n_rows)
				elog(ERROR, "the snapshot query returned more rows than it counted");
			convert_row(s, SPI_tuptable->vals[i], SPI_tuptable->tupdesc, row, row < s->n_train);
			row++;
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	if (first || row == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("relation \"%s\" has no rows to train on", s->relation_name)));
	finish_text_labels(s);
}

/* Statistics of the label columns, for pgml.snapshots.columns (label: true). */
static json_t *
label_columns_json(ml_snapshot *s)
{
	pgml_column *specs = palloc0(sizeof(pgml_column) * s->n_labels);
	pgml_preprocessor *lp = NULL;
	int			n = 0;
	pgml_err	err;
	json_t	   *arr;
	size_t		i;
	json_t	   *item;

	for (int c = 0; c < s->n_columns; c++)
	{
		if (!s->columns[c].label)
			continue;
		specs[n].name = s->columns[c].name;
		specs[n].pg_type = s->columns[c].pg_type;
		specs[n].nullable = s->columns[c].nullable;
		specs[n].width = 1;
		n++;
	}
	ML_CHECK(pgml_preprocessor_new(specs, (size_t) n, &lp, &err), &err);
	if (pgml_preprocessor_fit(lp, s->y, s->n_train, NULL, 0, &err) != PGML_OK)
	{
		pgml_preprocessor_free(lp);
		pgml_pg_raise(err.code, &err);
	}
	arr = pgml_preprocessor_columns_json(lp);
	pgml_preprocessor_free(lp);
	if (arr == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	n = 0;
	json_array_foreach(arr, i, item)
	{
		/* label positions are among all columns */
		for (int c = 0, k = 0; c < s->n_columns; c++)
			if (s->columns[c].label && k++ == (int) i)
				json_object_set_new(item, "position", json_integer(s->columns[c].position));
		json_object_set_new(item, "label", json_true());
		json_object_del(item, "preprocessor");
		/* a text label: its values and their codes (what predict returns), with the training counts */
		for (int c = 0, k = 0; c < s->n_columns; c++)
		{
			ml_column  *col = &s->columns[c];

			if (!col->label || k++ != (int) i || !col->categorical)
				continue;
			{
				json_t	   *cats = json_object();
				size_t	   *members = palloc0(sizeof(size_t) * Max(col->n_label_values, 1));

				for (size_t r = 0; r < s->n_train; r++)
					members[(int) s->y[r * s->n_labels + i]]++;
				for (int v = 0; v < col->n_label_values; v++)
					json_object_set_new(cats, col->label_values[v],
										json_pack("{s:i, s:I}", "value", v, "members", (json_int_t) members[v]));
				json_object_set_new(item, "categories", cats);
			}
		}
	}
	return arr;
}

/* Merges feature and label statistics in column order. */
static void
build_columns_json(ml_snapshot *s)
{
	json_t	   *features = pgml_preprocessor_columns_json(s->pp);
	json_t	   *labels = s->n_labels > 0 ? label_columns_json(s) : json_array();
	json_t	   *all = json_array();
	size_t		f = 0;
	size_t		l = 0;

	if (features == NULL || labels == NULL || all == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	for (int c = 0; c < s->n_columns; c++)
	{
		json_t	   *item = s->columns[c].label ? json_array_get(labels, l++) : json_array_get(features, f++);

		if (item == NULL)
			continue;
		if (!s->columns[c].label)
			json_object_set_new(item, "position", json_integer(s->columns[c].position));
		json_array_append(all, item);
	}
	json_decref(features);
	json_decref(labels);
	pgml_pg_own(all, ml_json_release);
	s->columns_json = all;
}

static void
prepare_columns(ml_snapshot *s, Oid relid, char **y_columns, int n_y, Jsonb *preprocess)
{
	s->label_names = y_columns;
	s->n_labels = n_y;
	s->columns = read_columns(relid, s->relation_name, y_columns, n_y, &s->n_columns);
	read_array_widths(s);
	build_preprocessor(s, preprocess);
}

/* Reads the rows and fits the preprocessor on the training part. */
static void
finish_snapshot(ml_snapshot *s, const char *sql, float test_size)
{
	pgml_err	err;

	read_rows(s, sql, test_size);
	ML_CHECK(pgml_preprocessor_fit(s->pp, s->raw, s->n_train, s->y, (size_t) s->n_labels, &err), &err);
	build_columns_json(s);
}

ml_snapshot *
ml_snapshot_create(const char *relation_name, char **y_columns, int n_y, float test_size,
				   const char *test_sampling, Jsonb *preprocess, bool materialize)
{
	ml_snapshot *s = palloc0(sizeof(ml_snapshot));
	Oid			relid;
	Datum		args[5];
	Oid			types[5] = {TEXTOID, TEXTARRAYOID, FLOAT4OID, TEXTOID, BOOLOID};
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	char	   *sql;
	bool		isnull;

	if (!(test_size > 0) || !isfinite(test_size))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("test_size must be positive"),
				 errdetail("A value up to 1 is a fraction of the rows; above 1 it is a number of rows.")));
	relid = resolve_relation(relation_name, &s->relation, &s->relation_name);
	prepare_columns(s, relid, y_columns, n_y, preprocess);

	args[0] = CStringGetTextDatum(s->relation_name);
	if (n_y > 0)
	{
		Datum	   *names = palloc(sizeof(Datum) * n_y);

		for (int i = 0; i < n_y; i++)
			names[i] = CStringGetTextDatum(y_columns[i]);
		args[1] = PointerGetDatum(construct_array(names, n_y, TEXTOID, -1, false, TYPALIGN_INT));
	}
	else
		nulls[1] = 'n';
	args[2] = Float4GetDatum(test_size);
	args[3] = CStringGetTextDatum(test_sampling);
	args[4] = BoolGetDatum(materialize);
	if (SPI_execute_with_args("INSERT INTO pgml.snapshots (relation_name, y_column_name, test_size, test_sampling, "
							  "status, materialized) VALUES ($1, $2, $3, $4::pgml.sampling, 'in_progress', $5) "
							  "RETURNING id", 5, types, args, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not record the snapshot");
	s->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	sql = sampling_sql(s, test_sampling, false);
	if (materialize)
	{
		/* the sampled rows, in training order, without the count column */
		char	   *create = psprintf("CREATE TABLE pgml.snapshot_" INT64_FORMAT " AS SELECT * FROM (%s) AS pgml_rows",
									  s->id, sql);

		if (SPI_execute(create, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not materialize snapshot " INT64_FORMAT, s->id);
		if (SPI_execute(psprintf("ALTER TABLE pgml.snapshot_" INT64_FORMAT " DROP COLUMN pgml_total", s->id),
						false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not materialize snapshot " INT64_FORMAT, s->id);
		sql = sampling_sql(s, test_sampling, true);
	}
	finish_snapshot(s, sql, test_size);

	{
		Datum		uargs[3];
		Oid			utypes[3] = {JSONBOID, JSONBOID, INT8OID};
		json_t	   *analysis = json_pack("{s:I}", "samples", (json_int_t) s->n_rows);

		uargs[0] = JsonbPGetDatum(ml_json_to_jsonb(s->columns_json));
		uargs[1] = JsonbPGetDatum(ml_json_to_jsonb(analysis));
		uargs[2] = Int64GetDatum(s->id);
		json_decref(analysis);
		if (SPI_execute_with_args("UPDATE pgml.snapshots SET status = 'successful', columns = $1, analysis = $2 "
								  "WHERE id = $3", 3, utypes, uargs, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record the snapshot's statistics");
	}
	return s;
}

ml_snapshot *
ml_snapshot_load(int64 snapshot_id, Jsonb *preprocess)
{
	ml_snapshot *s = palloc0(sizeof(ml_snapshot));
	Datum		arg = Int64GetDatum(snapshot_id);
	Oid			type = INT8OID;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	char	   *relation_name;
	char	  **labels = NULL;
	int			n_labels = 0;
	float		test_size;
	char	   *sampling;
	bool		materialized;
	Oid			relid;

	if (SPI_execute_with_args("SELECT relation_name, y_column_name, test_size, test_sampling::text, "
							  "coalesce(materialized, false) FROM pgml.snapshots WHERE id = $1",
							  1, &type, &arg, NULL, true, 1) != SPI_OK_SELECT || SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("snapshot " INT64_FORMAT " does not exist", snapshot_id)));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	relation_name = SPI_getvalue(tup, desc, 1);
	{
		Datum		d = SPI_getbinval(tup, desc, 2, &isnull);

		if (!isnull)
		{
			Datum	   *elems;
			bool	   *enulls;

			deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &n_labels);
			labels = palloc(sizeof(char *) * Max(n_labels, 1));
			for (int i = 0; i < n_labels; i++)
				labels[i] = TextDatumGetCString(elems[i]);
		}
	}
	test_size = DatumGetFloat4(SPI_getbinval(tup, desc, 3, &isnull));
	sampling = SPI_getvalue(tup, desc, 4);
	materialized = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));

	s->id = snapshot_id;
	relid = resolve_relation(relation_name, &s->relation, &s->relation_name);
	prepare_columns(s, relid, labels, n_labels, preprocess);
	finish_snapshot(s, sampling_sql(s, sampling, materialized), test_size);
	return s;
}
