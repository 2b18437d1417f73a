/*
 * datasets.c — pgml.load_dataset for the built-in datasets.
 *
 * The six classic datasets (iris, diabetes, digits, breast_cancer, wine, linnerud) ship as CSV files in
 * the extension's share directory (share/pgml/datasets, from pg/data). Tables, column names, types and
 * row counts are PostgresML's. The CSV header names the columns of each file; it must match the table
 * definition below exactly (as a set), so a damaged installation is reported rather than loaded wrong.
 * Rows are inserted through SPI as the calling user.
 */
#include "pgml_pg.h"

#include <sys/stat.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "storage/fd.h"
#include "utils/builtins.h"

typedef struct dataset_column
{
	const char *name;
	const char *type;
} dataset_column;

typedef struct dataset
{
	const char *name;
	const dataset_column *columns;
	int			ncolumns;
} dataset;

#define COLUMNS(a) a, lengthof(a)

static const dataset_column iris_columns[] = {
	{"sepal_length", "FLOAT4"}, {"sepal_width", "FLOAT4"}, {"petal_length", "FLOAT4"},
	{"petal_width", "FLOAT4"}, {"target", "INT4"},
};

static const dataset_column diabetes_columns[] = {
	{"age", "FLOAT4"}, {"sex", "FLOAT4"}, {"bmi", "FLOAT4"}, {"bp", "FLOAT4"}, {"s1", "FLOAT4"},
	{"s2", "FLOAT4"}, {"s3", "FLOAT4"}, {"s4", "FLOAT4"}, {"s5", "FLOAT4"}, {"s6", "FLOAT4"},
	{"target", "FLOAT4"},
};

static const dataset_column digits_columns[] = {
	{"image", "SMALLINT[][]"}, {"target", "SMALLINT"},
};

static const dataset_column breast_cancer_columns[] = {
	{"mean radius", "FLOAT4"}, {"mean texture", "FLOAT4"}, {"mean perimeter", "FLOAT4"},
	{"mean area", "FLOAT4"}, {"mean smoothness", "FLOAT4"}, {"mean compactness", "FLOAT4"},
	{"mean concavity", "FLOAT4"}, {"mean concave points", "FLOAT4"}, {"mean symmetry", "FLOAT4"},
	{"mean fractal dimension", "FLOAT4"}, {"radius error", "FLOAT4"}, {"texture error", "FLOAT4"},
	{"perimeter error", "FLOAT4"}, {"area error", "FLOAT4"}, {"smoothness error", "FLOAT4"},
	{"compactness error", "FLOAT4"}, {"concavity error", "FLOAT4"}, {"concave points error", "FLOAT4"},
	{"symmetry error", "FLOAT4"}, {"fractal dimension error", "FLOAT4"}, {"worst radius", "FLOAT4"},
	{"worst texture", "FLOAT4"}, {"worst perimeter", "FLOAT4"}, {"worst area", "FLOAT4"},
	{"worst smoothness", "FLOAT4"}, {"worst compactness", "FLOAT4"}, {"worst concavity", "FLOAT4"},
	{"worst concave points", "FLOAT4"}, {"worst symmetry", "FLOAT4"}, {"worst fractal dimension", "FLOAT4"},
	{"malignant", "BOOLEAN"},
};

static const dataset_column linnerud_columns[] = {
	{"chins", "FLOAT4"}, {"situps", "FLOAT4"}, {"jumps", "FLOAT4"},
	{"weight", "FLOAT4"}, {"waist", "FLOAT4"}, {"pulse", "FLOAT4"},
};

/* PostgresML's column order (hue before color_intensity); each column holds its own values. */
static const dataset_column wine_columns[] = {
	{"alcohol", "FLOAT4"}, {"malic_acid", "FLOAT4"}, {"ash", "FLOAT4"}, {"alcalinity_of_ash", "FLOAT4"},
	{"magnesium", "FLOAT4"}, {"total_phenols", "FLOAT4"}, {"flavanoids", "FLOAT4"},
	{"nonflavanoid_phenols", "FLOAT4"}, {"proanthocyanins", "FLOAT4"}, {"hue", "FLOAT4"},
	{"color_intensity", "FLOAT4"}, {"od280/od315_of_diluted_wines", "FLOAT4"}, {"proline", "FLOAT4"},
	{"target", "INT4"},
};

static const dataset datasets[] = {
	{"breast_cancer", COLUMNS(breast_cancer_columns)},
	{"diabetes", COLUMNS(diabetes_columns)},
	{"digits", COLUMNS(digits_columns)},
	{"iris", COLUMNS(iris_columns)},
	{"linnerud", COLUMNS(linnerud_columns)},
	{"wine", COLUMNS(wine_columns)},
};

#define MAX_CSV_FIELDS 64

/* A CSV reader over a whole file in memory (RFC 4180: quoted fields, doubled quotes, LF or CRLF). */
typedef struct csv_reader
{
	const char *path;
	char	   *buf;
	size_t		len;
	size_t		pos;
	int			line;
} csv_reader;

static void
csv_corrupt(const csv_reader *r, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("dataset file \"%s\" is damaged", r->path),
			 errdetail("%s at line %d.", what, r->line),
			 errhint("Reinstall the pgml extension.")));
}

/*
 * Reads one record into fields (each palloc'd). Returns the number of fields, or 0 at end of file.
 */
static int
csv_next(csv_reader *r, char **fields)
{
	int			n = 0;
	StringInfoData field;

	if (r->pos >= r->len)
		return 0;
	r->line++;
	initStringInfo(&field);
	for (;;)
	{
		bool		quoted = false;

		resetStringInfo(&field);
		if (r->pos < r->len && r->buf[r->pos] == '"')
		{
			quoted = true;
			r->pos++;
			for (;;)
			{
				if (r->pos >= r->len)
					csv_corrupt(r, "Unterminated quoted field");
				if (r->buf[r->pos] == '"')
				{
					if (r->pos + 1 < r->len && r->buf[r->pos + 1] == '"')
					{
						appendStringInfoChar(&field, '"');
						r->pos += 2;
						continue;
					}
					r->pos++;
					break;
				}
				appendStringInfoChar(&field, r->buf[r->pos++]);
			}
		}
		while (r->pos < r->len && r->buf[r->pos] != ',' && r->buf[r->pos] != '\n' && r->buf[r->pos] != '\r')
		{
			if (quoted)
				csv_corrupt(r, "Text after a quoted field");
			appendStringInfoChar(&field, r->buf[r->pos++]);
		}
		if (n >= MAX_CSV_FIELDS)
			csv_corrupt(r, "Too many fields");
		fields[n++] = pstrdup(field.data);
		if (r->pos < r->len && r->buf[r->pos] == ',')
		{
			r->pos++;
			continue;
		}
		if (r->pos < r->len && r->buf[r->pos] == '\r')
			r->pos++;
		if (r->pos < r->len && r->buf[r->pos] == '\n')
			r->pos++;
		break;
	}
	pfree(field.data);
	return n;
}

static void
read_file(csv_reader *r, const char *path)
{
	FILE	   *f;
	struct stat st;

	r->path = path;
	r->pos = 0;
	r->line = 0;
	f = AllocateFile(path, PG_BINARY_R);
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open dataset file \"%s\": %m", path),
				 errhint("Reinstall the pgml extension.")));
	if (fstat(fileno(f), &st) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat file \"%s\": %m", path)));
	if (st.st_size > 64 * 1024 * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("dataset file \"%s\" is too large", path)));
	r->len = (size_t) st.st_size;
	r->buf = palloc(r->len + 1);
	if (fread(r->buf, 1, r->len, f) != r->len)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not read file \"%s\": %m", path)));
	r->buf[r->len] = '\0';
	FreeFile(f);
}

static const dataset *
find_dataset(const char *name)
{
	for (int i = 0; i < (int) lengthof(datasets); i++)
		if (strcmp(datasets[i].name, name) == 0)
			return &datasets[i];
	return NULL;
}

static int64
load_builtin(const dataset *ds, int64 limit)
{
	char		share[MAXPGPATH];
	char	   *path;
	csv_reader	r;
	char	   *header[MAX_CSV_FIELDS];
	char	   *fields[MAX_CSV_FIELDS];
	int			nfields;
	const char *types[MAX_CSV_FIELDS];
	StringInfoData sql;
	Oid		   *argtypes;
	Datum	   *values;
	SPIPlanPtr	plan;
	int64		inserted = 0;

	get_share_path(my_exec_path, share);
	path = psprintf("%s/pgml/datasets/%s.csv", share, ds->name);
	read_file(&r, path);

	/* The header must name exactly the table's columns; insert in the file's order. */
	nfields = csv_next(&r, header);
	if (nfields != ds->ncolumns)
		csv_corrupt(&r, "Wrong number of columns in the header");
	for (int i = 0; i < nfields; i++)
	{
		types[i] = NULL;
		for (int j = 0; j < ds->ncolumns; j++)
			if (strcmp(header[i], ds->columns[j].name) == 0)
				types[i] = ds->columns[j].type;
		if (types[i] == NULL)
			csv_corrupt(&r, psprintf("Unexpected column \"%s\"", header[i]));
		for (int j = 0; j < i; j++)
			if (strcmp(header[i], header[j]) == 0)
				csv_corrupt(&r, psprintf("Duplicate column \"%s\"", header[i]));
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	initStringInfo(&sql);
	if (OidIsValid(RangeVarGetRelid(makeRangeVar("pgml", (char *) ds->name, -1), NoLock, true)))
	{
		appendStringInfo(&sql, "DROP TABLE pgml.%s", quote_identifier(ds->name));
		if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not drop table pgml.%s", ds->name);
		resetStringInfo(&sql);
	}

	appendStringInfo(&sql, "CREATE TABLE pgml.%s (", quote_identifier(ds->name));
	for (int j = 0; j < ds->ncolumns; j++)
		appendStringInfo(&sql, "%s%s %s", j ? ", " : "", quote_identifier(ds->columns[j].name),
						 ds->columns[j].type);
	appendStringInfoChar(&sql, ')');
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create table pgml.%s", ds->name);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO pgml.%s (", quote_identifier(ds->name));
	for (int i = 0; i < nfields; i++)
		appendStringInfo(&sql, "%s%s", i ? ", " : "", quote_identifier(header[i]));
	appendStringInfoString(&sql, ") VALUES (");
	for (int i = 0; i < nfields; i++)
		appendStringInfo(&sql, "%s$%d::%s", i ? ", " : "", i + 1, types[i]);
	appendStringInfoChar(&sql, ')');

	argtypes = palloc(sizeof(Oid) * nfields);
	values = palloc(sizeof(Datum) * nfields);
	for (int i = 0; i < nfields; i++)
		argtypes[i] = TEXTOID;
	plan = SPI_prepare(sql.data, nfields, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare insert into pgml.%s: %s", ds->name, SPI_result_code_string(SPI_result));

	while (limit < 0 || inserted < limit)
	{
		int			n;

		CHECK_FOR_INTERRUPTS();
		n = csv_next(&r, fields);
		if (n == 0)
			break;
		if (n == 1 && fields[0][0] == '\0' && r.pos >= r.len)
			break;				/* a trailing empty line */
		if (n != nfields)
			csv_corrupt(&r, psprintf("Expected %d fields, found %d", nfields, n));
		for (int i = 0; i < n; i++)
			values[i] = CStringGetTextDatum(fields[i]);
		if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not insert into pgml.%s", ds->name);
		for (int i = 0; i < n; i++)
		{
			pfree(DatumGetPointer(values[i]));
			pfree(fields[i]);
		}
		inserted++;
	}

	SPI_finish();
	return inserted;
}

PG_FUNCTION_INFO_V1(pgml_load_dataset);

/* pgml.load_dataset(source, subset, "limit", kwargs) → (table_name, rows) */
Datum
pgml_load_dataset(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *source;
	const dataset *ds;
	int64		limit = -1;
	int64		rows;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("dataset source must not be null")));
	source = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(2))
	{
		limit = PG_GETARG_INT64(2);
		if (limit < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("limit must not be negative"),
					 errdetail("The limit given is " INT64_FORMAT ".", limit)));
	}

	ds = find_dataset(source);
	if (ds == NULL)
	{
		StringInfoData names;

		initStringInfo(&names);
		for (int i = 0; i < (int) lengthof(datasets); i++)
			appendStringInfo(&names, "%s%s", i ? ", " : "", datasets[i].name);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", source),
				 errdetail("The built-in datasets are: %s.", names.data),
				 errhint("Downloading datasets from the Hugging Face hub is not available offline; "
						 "load your data into a table instead.")));
	}

	InitMaterializedSRF(fcinfo, 0);
	rows = load_builtin(ds, limit);
	values[0] = CStringGetTextDatum(psprintf("pgml.%s", ds->name));
	values[1] = Int64GetDatum(rows);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
