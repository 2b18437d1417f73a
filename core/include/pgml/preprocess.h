/*
 * preprocess.h — turning snapshot columns into model features: category codes, imputation, encoding,
 * scaling, and the column statistics PostgresML records in pgml.snapshots.columns.
 *
 * The flow, for training:
 *
 *   pgml_preprocessor_new(columns)                 describe the feature columns (labels excluded)
 *   for each training row: categorical text → code  pgml_preprocessor_code(pp, col, text, true, &code)
 *   pgml_preprocessor_fit(pp, raw, n_rows, y)       statistics over the training rows only
 *   pgml_preprocessor_transform(pp, raw, n, out)    raw values → features (train and test rows)
 *
 * and for prediction, on a preprocessor loaded from the model file: codes with add = false (unknown
 * categories give NaN, then imputation applies), then transform.
 *
 * Raw rows: each column contributes `width` consecutive floats (width 1, or the array length). Numeric
 * columns give their values, NaN for NULL. Categorical columns give category codes from
 * pgml_preprocessor_code (0 is the NULL category "__NULL__"; categories seen in training are 1..N in
 * order of first appearance), or NaN for a value unknown to the model.
 *
 * Features: numeric columns give `width` features; categorical columns with native, ordinal or target
 * encoding give one feature per element (the code, the ordinal position, or the mean target of the
 * category); one_hot gives N - 1 indicator features per element (the first category is dropped).
 *
 * Semantics follow PostgresML (its §3.4): impute replaces missing values with a training statistic
 * (error: a missing value is an error naming the column); scale: standard (x - mean) / std,
 * min_max (x - min) / (max - min), max_abs x / max_abs, robust (x - median) / IQR; a zero divisor leaves
 * the value unscaled. One-hot features are never scaled.
 */
#ifndef PGML_PREPROCESS_H
#define PGML_PREPROCESS_H

#include "pgml/buf.h"
#include "pgml/json.h"
#include "pgml/pgml.h"

typedef enum pgml_encode
{
	PGML_ENCODE_NATIVE = 0,		/* the category code itself */
	PGML_ENCODE_TARGET,			/* the mean label of the category's training rows */
	PGML_ENCODE_ONE_HOT,		/* N - 1 indicator features */
	PGML_ENCODE_ORDINAL,		/* position + 1 in a user-given list of values */
} pgml_encode;

typedef enum pgml_impute
{
	PGML_IMPUTE_ERROR = 0,
	PGML_IMPUTE_MEAN,
	PGML_IMPUTE_MEDIAN,
	PGML_IMPUTE_MODE,
	PGML_IMPUTE_MIN,
	PGML_IMPUTE_MAX,
	PGML_IMPUTE_ZERO,
} pgml_impute;

typedef enum pgml_scale
{
	PGML_SCALE_PRESERVE = 0,
	PGML_SCALE_STANDARD,
	PGML_SCALE_MIN_MAX,
	PGML_SCALE_MAX_ABS,
	PGML_SCALE_ROBUST,
} pgml_scale;

/* Parse / name the PostgresML spellings ("native", "one_hot", "min_max", ...). Parsing returns false for an
 * unknown name. */
bool		pgml_encode_parse(const char *s, pgml_encode *out);
bool		pgml_impute_parse(const char *s, pgml_impute *out);
bool		pgml_scale_parse(const char *s, pgml_scale *out);
const char *pgml_encode_name(pgml_encode e);
const char *pgml_impute_name(pgml_impute i);
const char *pgml_scale_name(pgml_scale s);

typedef struct pgml_column
{
	const char *name;			/* for messages and statistics */
	const char *pg_type;		/* e.g. "float4", "text", "int4[]" (recorded in the statistics) */
	bool		categorical;	/* values are category codes (text columns, or any non-native encode) */
	bool		nullable;
	uint32_t	width;			/* raw values per row: 1, or the array length */
	pgml_encode encode;
	pgml_impute impute;
	pgml_scale	scale;
	const char *const *ordinal;	/* PGML_ENCODE_ORDINAL: the values in order */
	size_t		n_ordinal;
} pgml_column;

typedef struct pgml_preprocessor pgml_preprocessor;

/*
 * Validates and copies the column descriptions. Errors: a non-native encode on a numeric column that
 * is not categorical is allowed (the column becomes categorical by value text) only when the caller set
 * categorical; ordinal without values; width 0; impute mean/median on a categorical column unless it is
 * target encoded.
 */
pgml_status pgml_preprocessor_new(const pgml_column *columns, size_t n_columns, pgml_preprocessor **out,
								  pgml_err *err);
void		pgml_preprocessor_free(pgml_preprocessor *pp);

size_t		pgml_preprocessor_n_columns(const pgml_preprocessor *pp);
/* The description of a column (as given to pgml_preprocessor_new or restored by load). */
const pgml_column *pgml_preprocessor_column(const pgml_preprocessor *pp, size_t column);
size_t		pgml_preprocessor_n_raw(const pgml_preprocessor *pp);	/* floats per raw row */
size_t		pgml_preprocessor_raw_offset(const pgml_preprocessor *pp, size_t column);
/* Features per transformed row; valid after fit (one-hot widths depend on the categories seen). */
size_t		pgml_preprocessor_n_features(const pgml_preprocessor *pp);

/*
 * The code of a categorical value: text == NULL is the NULL category (0). Ordinal columns use the
 * position in the ordinal list + 1 (a value not in the list is an error when add is true, NaN
 * otherwise). Other encodings: known categories keep their code; a new one gets the next code when add
 * is true (training), else *code is NaN.
 */
pgml_status pgml_preprocessor_code(pgml_preprocessor *pp, size_t column, const char *text, bool add,
								   float *code, pgml_err *err);

/*
 * Learns the statistics from training rows: raw is n_rows × n_raw; y (n_rows × n_targets, may be NULL)
 * feeds target encoding (its first target). May be called once.
 */
pgml_status pgml_preprocessor_fit(pgml_preprocessor *pp, const float *raw, size_t n_rows, const float *y,
								  size_t n_targets, pgml_err *err);

/* raw (n_rows × n_raw) → out (n_rows × n_features). row_offset numbers rows in messages. */
pgml_status pgml_preprocessor_transform(const pgml_preprocessor *pp, const float *raw, size_t n_rows,
										float *out, size_t row_offset, pgml_err *err);

/*
 * The statistics of every column in PostgresML's pgml.snapshots.columns shape: an array of
 * {name, pg_type, nullable, label: false, position, size, array, preprocessor: {encode, impute, scale},
 *  statistics: {min, max, max_abs, mean, median, mode, variance, std_dev, missing, distinct,
 *  histogram[20], ventiles[19], categories: {text: {value, members}} or null}}.
 * New reference; NULL when out of memory.
 */
json_t	   *pgml_preprocessor_columns_json(const pgml_preprocessor *pp);

void		pgml_preprocessor_save(const pgml_preprocessor *pp, pgml_buf *out);
pgml_status pgml_preprocessor_load(pgml_reader *in, pgml_preprocessor **out, pgml_err *err);

/*
 * A trained pipeline as one file (pgml.files "estimator.pgml"): the preprocessor and the model, with a
 * SHA-256 over both. Defined in pipeline.c.
 */
#define PGML_PIPELINE_MAGIC "PGMLPIPE"
#define PGML_PIPELINE_FORMAT 1

struct pgml_model;
pgml_status pgml_pipeline_save(const pgml_preprocessor *pp, const struct pgml_model *model, pgml_buf *out,
							   pgml_err *err);
pgml_status pgml_pipeline_load(const void *data, size_t len, pgml_preprocessor **pp,
							   struct pgml_model **model, pgml_err *err);

#endif							/* PGML_PREPROCESS_H */
