/* Tests for preprocess.c: categories, statistics, impute, encode, scale, JSON, save/load, hostile input. */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#include "pgml/json.h"
#include "pgml/preprocess.h"

/* A numeric column description with defaults. */
static pgml_column
numeric(const char *name, pgml_impute impute, pgml_scale scale)
{
	pgml_column c;

	memset(&c, 0, sizeof(c));
	c.name = name;
	c.pg_type = "float4";
	c.nullable = true;
	c.width = 1;
	c.encode = PGML_ENCODE_NATIVE;
	c.impute = impute;
	c.scale = scale;
	return c;
}

static pgml_column
categorical(const char *name, pgml_encode encode, pgml_impute impute)
{
	pgml_column c = numeric(name, impute, PGML_SCALE_PRESERVE);

	c.pg_type = "text";
	c.categorical = true;
	c.encode = encode;
	return c;
}

/* Column i's statistics object in a columns_json array. */
static json_t *
stats_of(json_t *cols, size_t i)
{
	return json_object_get(json_array_get(cols, i), "statistics");
}

/* A number in an object, NaN for null or missing. */
static double
num(json_t *obj, const char *key)
{
	json_t	   *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A category's "members" (or "value") in a statistics object. */
static long long
category_field(json_t *stats, const char *category, const char *field)
{
	return json_integer_value(json_object_get(json_object_get(json_object_get(stats, "categories"), category),
											  field));
}

/* A one-column numeric preprocessor fitted on values. */
static pgml_preprocessor *
fit_numeric(const float *values, size_t n, pgml_impute impute, pgml_scale scale)
{
	pgml_column c = numeric("x", impute, scale);
	pgml_preprocessor *pp = NULL;
	pgml_err	err;

	if (pgml_preprocessor_new(&c, 1, &pp, &err) != PGML_OK)
		return NULL;
	if (pgml_preprocessor_fit(pp, values, n, NULL, 0, &err) != PGML_OK)
	{
		pgml_preprocessor_free(pp);
		return NULL;
	}
	return pp;
}

/* Transforms one value of a one-column preprocessor. */
static float
transform1(const pgml_preprocessor *pp, float v)
{
	float		out = -12345.0f;
	pgml_err	err;

	if (pgml_preprocessor_transform(pp, &v, 1, &out, 0, &err) != PGML_OK)
		return -99999.0f;
	return out;
}

TEST(preprocess_names)
{
	pgml_encode e;
	pgml_impute i;
	pgml_scale	s;
	const char *encodes[] = {"native", "target", "one_hot", "ordinal"};
	const char *imputes[] = {"error", "mean", "median", "mode", "min", "max", "zero"};
	const char *scales[] = {"preserve", "standard", "min_max", "max_abs", "robust"};

	for (int k = 0; k < 4; k++)
	{
		REQUIRE(pgml_encode_parse(encodes[k], &e));
		CHECK_INT(e, k);
		CHECK_STR(pgml_encode_name(e), encodes[k]);
	}
	for (int k = 0; k < 7; k++)
	{
		REQUIRE(pgml_impute_parse(imputes[k], &i));
		CHECK_INT(i, k);
		CHECK_STR(pgml_impute_name(i), imputes[k]);
	}
	for (int k = 0; k < 5; k++)
	{
		REQUIRE(pgml_scale_parse(scales[k], &s));
		CHECK_INT(s, k);
		CHECK_STR(pgml_scale_name(s), scales[k]);
	}
	CHECK(!pgml_encode_parse("none", &e));
	CHECK(!pgml_encode_parse("Native", &e));
	CHECK(!pgml_impute_parse("average", &i));
	CHECK(!pgml_scale_parse("minmax", &s));
	CHECK(!pgml_scale_parse(NULL, &s));
	CHECK_STR(pgml_scale_name((pgml_scale) 99), "unknown");
}

TEST(preprocess_statistics_by_hand)
{
	/* present values sorted: 1 1 2 3 4 5 5 6 9 (n = 9), one missing */
	float		v[] = {3, 1, 4, 1, 5, 9, 2, 6, NAN, 5};
	double		ventiles[19] = {1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6, 6, 9, 9};
	long		hist[20] = {2, 0, 1, 0, 0, 1, 0, 1, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 1};
	pgml_preprocessor *pp = fit_numeric(v, 10, PGML_IMPUTE_MEAN, PGML_SCALE_PRESERVE);
	json_t	   *cols;
	json_t	   *st;

	REQUIRE(pp != NULL);
	CHECK_INT(pgml_preprocessor_n_features(pp), 1);
	cols = pgml_preprocessor_columns_json(pp);
	REQUIRE(cols != NULL);
	st = stats_of(cols, 0);
	REQUIRE(json_is_object(st));
	CHECK_NEAR(num(st, "min"), 1, 1e-12);
	CHECK_NEAR(num(st, "max"), 9, 1e-12);
	CHECK_NEAR(num(st, "max_abs"), 9, 1e-12);
	CHECK_NEAR(num(st, "mean"), 4, 1e-12);
	CHECK_NEAR(num(st, "variance"), 6, 1e-12);	/* population: 54 / 9 */
	CHECK_NEAR(num(st, "std_dev"), sqrt(6.0), 1e-12);
	CHECK_NEAR(num(st, "median"), 4, 1e-12);	/* sorted[9 / 2] */
	CHECK_NEAR(num(st, "mode"), 1, 1e-12);	/* 1 and 5 twice each: the smaller */
	CHECK_INT(json_integer_value(json_object_get(st, "missing")), 1);
	CHECK_INT(json_integer_value(json_object_get(st, "distinct")), 7);
	REQUIRE(json_array_size(json_object_get(st, "ventiles")) == 19);
	for (int k = 0; k < 19; k++)
		CHECK_NEAR(json_number_value(json_array_get(json_object_get(st, "ventiles"), (size_t) k)),
				   ventiles[k], 1e-12);
	REQUIRE(json_array_size(json_object_get(st, "histogram")) == 20);
	for (int k = 0; k < 20; k++)
		CHECK_INT(json_integer_value(json_array_get(json_object_get(st, "histogram"), (size_t) k)), hist[k]);
	CHECK(json_is_null(json_object_get(st, "categories")));
	json_decref(cols);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_statistics_edges)
{
	/* a constant column: histogram all in bin 0, zero spread */
	float		c[] = {2, 2, 2, 2};
	/* mode tie among three values: the smallest; negative values */
	float		t[] = {-1, 7, 7, -3, -3, -1, 0};
	pgml_preprocessor *pp = fit_numeric(c, 4, PGML_IMPUTE_ERROR, PGML_SCALE_PRESERVE);
	json_t	   *cols;
	json_t	   *st;

	REQUIRE(pp != NULL);
	cols = pgml_preprocessor_columns_json(pp);
	st = stats_of(cols, 0);
	CHECK_INT(json_integer_value(json_array_get(json_object_get(st, "histogram"), 0)), 4);
	CHECK_INT(json_integer_value(json_array_get(json_object_get(st, "histogram"), 19)), 0);
	CHECK_NEAR(num(st, "variance"), 0, 1e-12);
	CHECK_INT(json_integer_value(json_object_get(st, "distinct")), 1);
	json_decref(cols);
	pgml_preprocessor_free(pp);

	pp = fit_numeric(t, 7, PGML_IMPUTE_MODE, PGML_SCALE_PRESERVE);
	REQUIRE(pp != NULL);
	cols = pgml_preprocessor_columns_json(pp);
	st = stats_of(cols, 0);
	CHECK_NEAR(num(st, "mode"), -3, 1e-12);
	CHECK_NEAR(num(st, "max_abs"), 7, 1e-12);
	CHECK_NEAR(num(st, "median"), -1, 1e-12);	/* sorted -3 -3 -1 -1 0 7 7, [3] */
	CHECK_INT(json_integer_value(json_object_get(st, "distinct")), 4);
	CHECK_NEAR(transform1(pp, NAN), -3, 0);
	json_decref(cols);
	pgml_preprocessor_free(pp);
}

/* Radix-sorted statistics against qsort on many values (negative, zero, -0, duplicates). */
static int
cmp_float(const void *a, const void *b)
{
	float		x = *(const float *) a;
	float		y = *(const float *) b;

	return (x > y) - (x < y);
}

TEST(preprocess_statistics_many_values)
{
	size_t		n = 10007;
	float	   *v = malloc(n * sizeof(float));
	float	   *s = malloc(n * sizeof(float));
	uint64_t	state = 42;
	pgml_preprocessor *pp;
	json_t	   *cols;
	json_t	   *st;
	double		sum = 0;

	REQUIRE(v != NULL && s != NULL);
	for (size_t i = 0; i < n; i++)
	{
		state = state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
		v[i] = (float) ((int) (state >> 40) % 2001 - 1000) / 8.0f;
		if (i % 97 == 0)
			v[i] = -0.0f;
		s[i] = v[i];
		sum += v[i];
	}
	qsort(s, n, sizeof(float), cmp_float);
	pp = fit_numeric(v, n, PGML_IMPUTE_MEDIAN, PGML_SCALE_ROBUST);
	REQUIRE(pp != NULL);
	cols = pgml_preprocessor_columns_json(pp);
	st = stats_of(cols, 0);
	CHECK_NEAR(num(st, "min"), s[0], 0);
	CHECK_NEAR(num(st, "max"), s[n - 1], 0);
	CHECK_NEAR(num(st, "median"), s[n / 2], 0);
	CHECK_NEAR(num(st, "mean"), sum / (double) n, 1e-9);
	for (size_t k = 1; k <= 19; k++)
	{
		json_t	   *v20 = json_array_get(json_object_get(st, "ventiles"), k - 1);

		CHECK_NEAR(json_number_value(v20), s[n * k / 20], 0);
	}
	/* robust: (x - median) / (75% - 25%) */
	CHECK_NEAR(transform1(pp, 100.0f), (100.0 - s[n / 2]) / (s[n * 15 / 20] - s[n * 5 / 20]), 1e-6);
	CHECK_NEAR(transform1(pp, NAN), 0, 1e-6);	/* the median, centred */
	json_decref(cols);
	pgml_preprocessor_free(pp);
	free(v);
	free(s);
}

TEST(preprocess_impute_strategies)
{
	float		v[] = {3, 1, 4, 1, 5, 9, 2, 6, NAN, 5};
	struct
	{
		pgml_impute impute;
		float		expect;
	}			cases[] = {
		{PGML_IMPUTE_MEAN, 4}, {PGML_IMPUTE_MEDIAN, 4}, {PGML_IMPUTE_MODE, 1},
		{PGML_IMPUTE_MIN, 1}, {PGML_IMPUTE_MAX, 9}, {PGML_IMPUTE_ZERO, 0},
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
	{
		pgml_preprocessor *pp = fit_numeric(v, 10, cases[k].impute, PGML_SCALE_PRESERVE);
		float		out[10];
		pgml_err	err;

		REQUIRE(pp != NULL);
		REQUIRE(pgml_preprocessor_transform(pp, v, 10, out, 0, &err) == PGML_OK);
		CHECK_NEAR(out[8], cases[k].expect, 0);
		CHECK_NEAR(out[0], 3, 0);
		CHECK_NEAR(out[5], 9, 0);
		pgml_preprocessor_free(pp);
	}
}

TEST(preprocess_impute_error_message)
{
	float		v[] = {1, NAN, 3};
	float		out[3];
	pgml_column c = numeric("age", PGML_IMPUTE_ERROR, PGML_SCALE_PRESERVE);
	pgml_preprocessor *pp;
	pgml_err	err;

	REQUIRE(pgml_preprocessor_new(&c, 1, &pp, &err) == PGML_OK);
	/* fit tolerates missing values; transform refuses them */
	REQUIRE(pgml_preprocessor_fit(pp, v, 3, NULL, 0, &err) == PGML_OK);
	CHECK_INT(pgml_preprocessor_transform(pp, v, 3, out, 10, &err), PGML_ERR_DATA);
	CHECK_STR(err.msg, "missing value in column \"age\"");
	CHECK_STR(err.detail, "Row 12 has no value for the column.");
	CHECK(strstr(err.hint, "preprocess => '{\"age\": {\"impute\": \"mean\"}}'") != NULL);
	CHECK_STR(pgml_err_get_sqlstate(&err), "22000");
	CHECK_INT(pgml_preprocessor_transform(pp, v, 1, out, 0, &err), PGML_OK);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_scales)
{
	float		v[] = {3, 1, 4, 1, 5, 9, 2, 6, NAN, 5};
	pgml_preprocessor *pp;

	pp = fit_numeric(v, 10, PGML_IMPUTE_MEAN, PGML_SCALE_STANDARD);
	REQUIRE(pp != NULL);
	CHECK_NEAR(transform1(pp, 9), 5 / sqrt(6.0), 1e-6);
	CHECK_NEAR(transform1(pp, NAN), 0, 1e-6);
	pgml_preprocessor_free(pp);

	pp = fit_numeric(v, 10, PGML_IMPUTE_MEAN, PGML_SCALE_MIN_MAX);
	REQUIRE(pp != NULL);
	CHECK_NEAR(transform1(pp, 9), 1, 1e-6);
	CHECK_NEAR(transform1(pp, 3), 0.25, 1e-6);
	pgml_preprocessor_free(pp);

	pp = fit_numeric(v, 10, PGML_IMPUTE_MEAN, PGML_SCALE_MAX_ABS);
	REQUIRE(pp != NULL);
	CHECK_NEAR(transform1(pp, -4.5f), -0.5, 1e-6);
	pgml_preprocessor_free(pp);

	/* robust: median 4, ventiles[14] - ventiles[4] = 5 - 2 */
	pp = fit_numeric(v, 10, PGML_IMPUTE_MEAN, PGML_SCALE_ROBUST);
	REQUIRE(pp != NULL);
	CHECK_NEAR(transform1(pp, 10), 2, 1e-6);
	pgml_preprocessor_free(pp);

	pp = fit_numeric(v, 10, PGML_IMPUTE_MEAN, PGML_SCALE_PRESERVE);
	REQUIRE(pp != NULL);
	CHECK_NEAR(transform1(pp, 123.5f), 123.5, 0);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_scale_zero_divisor)
{
	float		c[] = {2, 2, 2};
	float		z[] = {0, 0, 0};
	pgml_scale	scales[] = {PGML_SCALE_STANDARD, PGML_SCALE_MIN_MAX, PGML_SCALE_ROBUST};
	pgml_preprocessor *pp;

	/* divisor 0: centred but not divided */
	for (int k = 0; k < 3; k++)
	{
		pp = fit_numeric(c, 3, PGML_IMPUTE_ERROR, scales[k]);
		REQUIRE(pp != NULL);
		CHECK_NEAR(transform1(pp, 5), 3, 0);
		pgml_preprocessor_free(pp);
	}
	pp = fit_numeric(z, 3, PGML_IMPUTE_ERROR, PGML_SCALE_MAX_ABS);
	REQUIRE(pp != NULL);
	CHECK_NEAR(transform1(pp, 5), 5, 0);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_all_missing_slot)
{
	float		v[] = {NAN, NAN, NAN};
	pgml_column c = numeric("empty", PGML_IMPUTE_MEAN, PGML_SCALE_STANDARD);
	pgml_preprocessor *pp;
	pgml_err	err;
	json_t	   *cols;
	json_t	   *st;

	REQUIRE(pgml_preprocessor_new(&c, 1, &pp, &err) == PGML_OK);
	CHECK_INT(pgml_preprocessor_fit(pp, v, 3, NULL, 0, &err), PGML_ERR_DATA);
	CHECK(strstr(err.msg, "\"empty\"") != NULL);
	CHECK(strstr(err.msg, "mean") != NULL);
	CHECK_INT(pgml_preprocessor_n_features(pp), 0);
	/* still unfitted */
	CHECK_INT(pgml_preprocessor_transform(pp, v, 1, v, 0, &err), PGML_ERR_INVALID_ARGUMENT);
	pgml_preprocessor_free(pp);

	/* zero works: NaN statistics, the value 0, unscaled */
	pp = fit_numeric(v, 3, PGML_IMPUTE_ZERO, PGML_SCALE_STANDARD);
	REQUIRE(pp != NULL);
	CHECK_NEAR(transform1(pp, NAN), 0, 0);
	CHECK_NEAR(transform1(pp, 7), 7, 0);
	cols = pgml_preprocessor_columns_json(pp);
	st = stats_of(cols, 0);
	CHECK(json_is_null(json_object_get(st, "mean")));
	CHECK(json_is_null(json_object_get(st, "min")));
	CHECK(json_is_null(json_array_get(json_object_get(st, "ventiles"), 3)));
	CHECK_INT(json_integer_value(json_object_get(st, "missing")), 3);
	CHECK_INT(json_integer_value(json_object_get(st, "distinct")), 0);
	json_decref(cols);
	pgml_preprocessor_free(pp);

	/* and error works too */
	pp = fit_numeric(v, 3, PGML_IMPUTE_ERROR, PGML_SCALE_PRESERVE);
	CHECK(pp != NULL);
	pgml_preprocessor_free(pp);
}

/* Codes of texts in column col, adding them. */
static void
code_all(pgml_preprocessor *pp, size_t col, const char *const *texts, size_t n, float *codes, size_t stride)
{
	pgml_err	err;

	for (size_t i = 0; i < n; i++)
		if (pgml_preprocessor_code(pp, col, texts[i], true, &codes[i * stride], &err) != PGML_OK)
			codes[i * stride] = -1;
}

static const char *const colors[] = {"red", "green", "red", NULL, "blue"};
static const float color_y[] = {1, 2, 3, 4, 5};

TEST(preprocess_codes)
{
	pgml_column c = categorical("color", PGML_ENCODE_NATIVE, PGML_IMPUTE_MODE);
	pgml_column n = numeric("x", PGML_IMPUTE_ERROR, PGML_SCALE_PRESERVE);
	pgml_column cols[2];
	pgml_preprocessor *pp;
	pgml_err	err;
	float		code;
	float		raw[10];

	cols[0] = n;
	cols[1] = c;
	REQUIRE(pgml_preprocessor_new(cols, 2, &pp, &err) == PGML_OK);
	CHECK_INT(pgml_preprocessor_n_columns(pp), 2);
	CHECK_INT(pgml_preprocessor_n_raw(pp), 2);
	CHECK_INT(pgml_preprocessor_raw_offset(pp, 1), 1);
	CHECK_INT(pgml_preprocessor_n_features(pp), 0);
	for (int i = 0; i < 5; i++)
	{
		raw[i * 2] = (float) i;
		REQUIRE(pgml_preprocessor_code(pp, 1, colors[i], true, &raw[i * 2 + 1], &err) == PGML_OK);
	}
	CHECK_NEAR(raw[1], 1, 0);
	CHECK_NEAR(raw[3], 2, 0);
	CHECK_NEAR(raw[5], 1, 0);
	CHECK_NEAR(raw[7], 0, 0);
	CHECK_NEAR(raw[9], 3, 0);
	REQUIRE(pgml_preprocessor_code(pp, 1, "purple", false, &code, &err) == PGML_OK);
	CHECK(isnan(code));
	REQUIRE(pgml_preprocessor_code(pp, 1, "blue", false, &code, &err) == PGML_OK);
	CHECK_NEAR(code, 3, 0);
	/* not categorical, out of range */
	CHECK_INT(pgml_preprocessor_code(pp, 0, "a", true, &code, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "column \"x\" is not categorical");
	CHECK_INT(pgml_preprocessor_code(pp, 2, "a", true, &code, &err), PGML_ERR_INVALID_ARGUMENT);

	REQUIRE(pgml_preprocessor_fit(pp, raw, 5, NULL, 0, &err) == PGML_OK);
	CHECK_INT(pgml_preprocessor_fit(pp, raw, 5, NULL, 0, &err), PGML_ERR_INVALID_ARGUMENT);
	/* frozen after fit: add is ignored */
	REQUIRE(pgml_preprocessor_code(pp, 1, "purple", true, &code, &err) == PGML_OK);
	CHECK(isnan(code));
	REQUIRE(pgml_preprocessor_code(pp, 1, NULL, false, &code, &err) == PGML_OK);
	CHECK_NEAR(code, 0, 0);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_many_categories)
{
	pgml_column c = categorical("id", PGML_ENCODE_NATIVE, PGML_IMPUTE_ERROR);
	pgml_preprocessor *pp;
	pgml_err	err;
	char		s[32];
	float		code;
	int			n = 50000;
	int			bad = 0;

	REQUIRE(pgml_preprocessor_new(&c, 1, &pp, &err) == PGML_OK);
	for (int i = 0; i < n; i++)
	{
		snprintf(s, sizeof(s), "category-%d", i);
		if (pgml_preprocessor_code(pp, 0, s, true, &code, &err) != PGML_OK || code != (float) (i + 1))
			bad++;
	}
	CHECK_INT(bad, 0);
	for (int i = n - 1; i >= 0; i -= 7)
	{
		snprintf(s, sizeof(s), "category-%d", i);
		if (pgml_preprocessor_code(pp, 0, s, false, &code, &err) != PGML_OK || code != (float) (i + 1))
			bad++;
	}
	CHECK_INT(bad, 0);
	REQUIRE(pgml_preprocessor_code(pp, 0, "category-50000", false, &code, &err) == PGML_OK);
	CHECK(isnan(code));
	REQUIRE(pgml_preprocessor_code(pp, 0, "", true, &code, &err) == PGML_OK);
	CHECK_NEAR(code, n + 1, 0);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_encode_native)
{
	pgml_column c = categorical("color", PGML_ENCODE_NATIVE, PGML_IMPUTE_MODE);
	pgml_preprocessor *pp;
	pgml_err	err;
	float		raw[6];
	float		out[6];
	json_t	   *cols;
	json_t	   *cats;

	REQUIRE(pgml_preprocessor_new(&c, 1, &pp, &err) == PGML_OK);
	code_all(pp, 0, colors, 5, raw, 1);
	REQUIRE(pgml_preprocessor_fit(pp, raw, 5, NULL, 0, &err) == PGML_OK);
	CHECK_INT(pgml_preprocessor_n_features(pp), 1);
	raw[5] = NAN;				/* unknown at predict: the mode, red = 1 */
	REQUIRE(pgml_preprocessor_transform(pp, raw, 6, out, 0, &err) == PGML_OK);
	CHECK_NEAR(out[0], 1, 0);
	CHECK_NEAR(out[1], 2, 0);
	CHECK_NEAR(out[3], 0, 0);
	CHECK_NEAR(out[4], 3, 0);
	CHECK_NEAR(out[5], 1, 0);
	cols = pgml_preprocessor_columns_json(pp);
	cats = json_object_get(stats_of(cols, 0), "categories");
	REQUIRE(json_is_object(cats));
	CHECK_INT(json_object_size(cats), 4);
	CHECK_INT(category_field(stats_of(cols, 0), "__NULL__", "value"), 0);
	CHECK_INT(category_field(stats_of(cols, 0), "__NULL__", "members"), 1);
	CHECK_INT(category_field(stats_of(cols, 0), "red", "value"), 1);
	CHECK_INT(category_field(stats_of(cols, 0), "red", "members"), 2);
	CHECK_INT(category_field(stats_of(cols, 0), "blue", "value"), 3);
	CHECK_NEAR(num(stats_of(cols, 0), "mean"), 7.0 / 5.0, 1e-12);
	CHECK_NEAR(num(stats_of(cols, 0), "mode"), 1, 0);
	json_decref(cols);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_encode_target)
{
	pgml_column c = categorical("color", PGML_ENCODE_TARGET, PGML_IMPUTE_MODE);
	pgml_preprocessor *pp;
	pgml_err	err;
	float		raw[7];
	float		out[7];
	float		y2[10];

	REQUIRE(pgml_preprocessor_new(&c, 1, &pp, &err) == PGML_OK);
	code_all(pp, 0, colors, 5, raw, 1);
	/* a category coded but absent from the training rows: the mean of all targets */
	REQUIRE(pgml_preprocessor_code(pp, 0, "purple", true, &raw[5], &err) == PGML_OK);
	CHECK_NEAR(raw[5], 4, 0);
	/* no label: an error */
	CHECK_INT(pgml_preprocessor_fit(pp, raw, 5, NULL, 0, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err.msg, "target encoding") != NULL);
	/* two targets per row: the first is used */
	for (int i = 0; i < 5; i++)
	{
		y2[i * 2] = color_y[i];
		y2[i * 2 + 1] = 100;
	}
	REQUIRE(pgml_preprocessor_fit(pp, raw, 5, y2, 2, &err) == PGML_OK);
	raw[6] = NAN;
	REQUIRE(pgml_preprocessor_transform(pp, raw, 7, out, 0, &err) == PGML_OK);
	CHECK_NEAR(out[0], 2, 1e-6);	/* red: (1 + 3) / 2 */
	CHECK_NEAR(out[1], 2, 1e-6);	/* green */
	CHECK_NEAR(out[2], 2, 1e-6);
	CHECK_NEAR(out[3], 4, 1e-6);	/* NULL */
	CHECK_NEAR(out[4], 5, 1e-6);	/* blue */
	CHECK_NEAR(out[5], 3, 1e-6);	/* purple: no rows, overall mean */
	CHECK_NEAR(out[6], 2, 1e-6);	/* unknown: the mode (red), encoded */
	pgml_preprocessor_free(pp);

	/* mean is allowed with target encoding: the mean of the encoded training values */
	c.impute = PGML_IMPUTE_MEAN;
	REQUIRE(pgml_preprocessor_new(&c, 1, &pp, &err) == PGML_OK);
	code_all(pp, 0, colors, 5, raw, 1);
	REQUIRE(pgml_preprocessor_fit(pp, raw, 5, color_y, 1, &err) == PGML_OK);
	CHECK_NEAR(transform1(pp, NAN), (2 + 2 + 2 + 4 + 5) / 5.0, 1e-6);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_encode_one_hot)
{
	pgml_column c = categorical("color", PGML_ENCODE_ONE_HOT, PGML_IMPUTE_MODE);
	pgml_preprocessor *pp;
	pgml_err	err;
	float		raw[6];
	float		out[18];
	/* NULL seen in training: indicators NULL, green, blue (red dropped) */
	float		expect[6][3] = {{0, 0, 0}, {0, 1, 0}, {0, 0, 0}, {1, 0, 0}, {0, 0, 1}, {0, 0, 0}};
	const char *no_null[] = {"red", "green", "blue", "green"};

	c.scale = PGML_SCALE_STANDARD;	/* ignored for one-hot */
	REQUIRE(pgml_preprocessor_new(&c, 1, &pp, &err) == PGML_OK);
	code_all(pp, 0, colors, 5, raw, 1);
	REQUIRE(pgml_preprocessor_fit(pp, raw, 5, NULL, 0, &err) == PGML_OK);
	CHECK_INT(pgml_preprocessor_n_features(pp), 3);
	raw[5] = NAN;				/* unknown → mode red → all zeros */
	REQUIRE(pgml_preprocessor_transform(pp, raw, 6, out, 0, &err) == PGML_OK);
	for (int i = 0; i < 6; i++)
		for (int k = 0; k < 3; k++)
			CHECK_NEAR(out[i * 3 + k], expect[i][k], 0);
	pgml_preprocessor_free(pp);

	/* no NULL in training: two indicators; a NULL at predict is missing (error, or imputed) */
	c.impute = PGML_IMPUTE_ERROR;
	REQUIRE(pgml_preprocessor_new(&c, 1, &pp, &err) == PGML_OK);
	code_all(pp, 0, no_null, 4, raw, 1);
	REQUIRE(pgml_preprocessor_fit(pp, raw, 4, NULL, 0, &err) == PGML_OK);
	CHECK_INT(pgml_preprocessor_n_features(pp), 2);
	raw[0] = 3;
	raw[1] = 0;
	REQUIRE(pgml_preprocessor_transform(pp, raw, 1, out, 0, &err) == PGML_OK);
	CHECK_NEAR(out[0], 0, 0);
	CHECK_NEAR(out[1], 1, 0);
	CHECK_INT(pgml_preprocessor_transform(pp, raw, 2, out, 0, &err), PGML_ERR_DATA);
	CHECK_STR(err.msg, "missing value in column \"color\"");
	CHECK(strstr(err.detail, "Row 2 has a NULL") != NULL);
	CHECK(strstr(err.hint, "\"mode\"") != NULL);
	raw[1] = 2.5f;				/* not a code */
	CHECK_INT(pgml_preprocessor_transform(pp, raw, 2, out, 0, &err), PGML_ERR_DATA);
	raw[1] = NAN;
	CHECK_INT(pgml_preprocessor_transform(pp, raw, 2, out, 0, &err), PGML_ERR_DATA);
	CHECK(strstr(err.detail, "not seen in training") != NULL);
	pgml_preprocessor_free(pp);

	/* mode picks green (twice) → its indicator */
	c.impute = PGML_IMPUTE_MODE;
	REQUIRE(pgml_preprocessor_new(&c, 1, &pp, &err) == PGML_OK);
	code_all(pp, 0, no_null, 4, raw, 1);
	REQUIRE(pgml_preprocessor_fit(pp, raw, 4, NULL, 0, &err) == PGML_OK);
	raw[0] = 0;
	REQUIRE(pgml_preprocessor_transform(pp, raw, 1, out, 0, &err) == PGML_OK);
	CHECK_NEAR(out[0], 1, 0);
	CHECK_NEAR(out[1], 0, 0);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_encode_ordinal)
{
	const char *levels[] = {"low", "medium", "high"};
	const char *data[] = {"high", "low", NULL, "medium", "high"};
	pgml_column c = categorical("size", PGML_ENCODE_ORDINAL, PGML_IMPUTE_MAX);
	pgml_preprocessor *pp;
	pgml_err	err;
	float		raw[6];
	float		out[6];
	float		code;
	json_t	   *cols;
	json_t	   *enc;

	c.ordinal = levels;
	c.n_ordinal = 3;
	REQUIRE(pgml_preprocessor_new(&c, 1, &pp, &err) == PGML_OK);
	code_all(pp, 0, data, 5, raw, 1);
	CHECK_NEAR(raw[0], 3, 0);
	CHECK_NEAR(raw[1], 1, 0);
	CHECK_NEAR(raw[2], 0, 0);
	CHECK_NEAR(raw[3], 2, 0);
	CHECK_INT(pgml_preprocessor_code(pp, 0, "huge", true, &code, &err), PGML_ERR_DATA);
	CHECK_STR(err.msg, "value \"huge\" is not in the ordinal list of column \"size\"");
	REQUIRE(pgml_preprocessor_code(pp, 0, "huge", false, &code, &err) == PGML_OK);
	CHECK(isnan(code));
	REQUIRE(pgml_preprocessor_fit(pp, raw, 5, NULL, 0, &err) == PGML_OK);
	raw[5] = NAN;
	REQUIRE(pgml_preprocessor_transform(pp, raw, 6, out, 0, &err) == PGML_OK);
	CHECK_NEAR(out[0], 3, 0);
	CHECK_NEAR(out[2], 0, 0);
	CHECK_NEAR(out[5], 3, 0);	/* max */
	cols = pgml_preprocessor_columns_json(pp);
	enc = json_object_get(json_object_get(json_array_get(cols, 0), "preprocessor"), "encode");
	REQUIRE(json_is_object(enc));
	CHECK_INT(json_array_size(json_object_get(enc, "ordinal")), 3);
	CHECK_STR(json_string_value(json_array_get(json_object_get(enc, "ordinal"), 1)), "medium");
	CHECK_INT(category_field(stats_of(cols, 0), "high", "members"), 2);
	json_decref(cols);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_new_validation)
{
	const char *dup[] = {"a", "b", "a"};
	const char *with_null[] = {"a", NULL};
	pgml_column c;
	pgml_preprocessor *pp = (pgml_preprocessor *) &c;
	pgml_err	err;

	c = numeric("x", PGML_IMPUTE_ERROR, PGML_SCALE_PRESERVE);
	c.width = 0;
	CHECK_INT(pgml_preprocessor_new(&c, 1, &pp, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK(pp == NULL);
	CHECK_STR(err.msg, "column \"x\" has width 0");

	c = numeric("x", PGML_IMPUTE_ERROR, PGML_SCALE_PRESERVE);
	c.encode = PGML_ENCODE_ONE_HOT;
	CHECK_INT(pgml_preprocessor_new(&c, 1, &pp, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "cannot encode continuous column \"x\" as \"one_hot\"");
	c.categorical = true;		/* a numeric column made categorical by the caller */
	CHECK_INT(pgml_preprocessor_new(&c, 1, &pp, &err), PGML_OK);
	pgml_preprocessor_free(pp);

	c = categorical("c", PGML_ENCODE_ORDINAL, PGML_IMPUTE_ERROR);
	CHECK_INT(pgml_preprocessor_new(&c, 1, &pp, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "ordinal encoding of column \"c\" has no values");
	c.ordinal = dup;
	c.n_ordinal = 3;
	CHECK_INT(pgml_preprocessor_new(&c, 1, &pp, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "duplicate ordinal value \"a\" in column \"c\"");
	c.ordinal = with_null;
	c.n_ordinal = 2;
	CHECK_INT(pgml_preprocessor_new(&c, 1, &pp, &err), PGML_ERR_INVALID_ARGUMENT);

	c = categorical("c", PGML_ENCODE_NATIVE, PGML_IMPUTE_MEAN);
	CHECK_INT(pgml_preprocessor_new(&c, 1, &pp, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "cannot impute categorical column \"c\" with \"mean\"");
	CHECK(strstr(err.hint, "mode") != NULL);
	c.impute = PGML_IMPUTE_MEDIAN;
	c.encode = PGML_ENCODE_ONE_HOT;
	CHECK_INT(pgml_preprocessor_new(&c, 1, &pp, &err), PGML_ERR_INVALID_ARGUMENT);
	c.encode = PGML_ENCODE_TARGET;
	CHECK_INT(pgml_preprocessor_new(&c, 1, &pp, &err), PGML_OK);
	pgml_preprocessor_free(pp);

	c = numeric(NULL, PGML_IMPUTE_ERROR, PGML_SCALE_PRESERVE);
	CHECK_INT(pgml_preprocessor_new(&c, 1, &pp, &err), PGML_ERR_INVALID_ARGUMENT);
	c = numeric("x", (pgml_impute) 42, PGML_SCALE_PRESERVE);
	CHECK_INT(pgml_preprocessor_new(&c, 1, &pp, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_preprocessor_new(NULL, 1, &pp, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_preprocessor_fit(NULL, NULL, 1, NULL, 0, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_preprocessor_transform(NULL, NULL, 1, NULL, 0, &err), PGML_ERR_INVALID_ARGUMENT);
	pgml_preprocessor_free(NULL);
}

/* numeric, text[3] one-hot, numeric: raw row = 5 floats. */
TEST(preprocess_arrays_share_dictionary)
{
	pgml_column cols[3];
	const char *tags[2][3] = {{"a", "b", "c"}, {"c", "a", "d"}};
	pgml_preprocessor *pp;
	pgml_err	err;
	float		raw[3 * 5];
	float		out[3 * 11];
	json_t	   *js;
	json_t	   *c1;
	json_t	   *st;

	cols[0] = numeric("x", PGML_IMPUTE_ERROR, PGML_SCALE_PRESERVE);
	cols[1] = categorical("tags", PGML_ENCODE_ONE_HOT, PGML_IMPUTE_MODE);
	cols[1].pg_type = "text[]";
	cols[1].width = 3;
	cols[2] = numeric("z", PGML_IMPUTE_ERROR, PGML_SCALE_MIN_MAX);
	REQUIRE(pgml_preprocessor_new(cols, 3, &pp, &err) == PGML_OK);
	CHECK_INT(pgml_preprocessor_n_raw(pp), 5);
	CHECK_INT(pgml_preprocessor_raw_offset(pp, 1), 1);
	CHECK_INT(pgml_preprocessor_raw_offset(pp, 2), 4);
	for (int i = 0; i < 2; i++)
	{
		raw[i * 5] = (float) (10 + i);
		code_all(pp, 1, tags[i], 3, &raw[i * 5 + 1], 1);
		raw[i * 5 + 4] = (float) (i * 4);
	}
	/* one dictionary across the elements: a b c d = 1 2 3 4 */
	CHECK_NEAR(raw[1], 1, 0);
	CHECK_NEAR(raw[3], 3, 0);
	CHECK_NEAR(raw[6], 3, 0);
	CHECK_NEAR(raw[7], 1, 0);
	CHECK_NEAR(raw[8], 4, 0);
	REQUIRE(pgml_preprocessor_fit(pp, raw, 2, NULL, 0, &err) == PGML_OK);
	/* 1 + 3 elements × 3 indicators (b c d) + 1 */
	CHECK_INT(pgml_preprocessor_n_features(pp), 11);
	/* a third row: element 2 unknown → that element's mode (a and c once each in element 1: the
	 * smaller code, a → no indicator) */
	raw[10] = 12;
	raw[11] = 4;
	raw[12] = NAN;
	raw[13] = 2;
	raw[14] = 2;
	REQUIRE(pgml_preprocessor_transform(pp, raw, 3, out, 0, &err) == PGML_OK);
	{
		float		row0[11] = {10, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0};	/* a b c */
		float		row1[11] = {11, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1};	/* c a d, z = 1 */
		float		row2[11] = {12, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0.5f};	/* d ? b, z = 0.5 */

		for (int k = 0; k < 11; k++)
		{
			CHECK_NEAR(out[k], row0[k], 0);
			CHECK_NEAR(out[11 + k], row1[k], 0);
			CHECK_NEAR(out[22 + k], row2[k], 0);
		}
	}
	js = pgml_preprocessor_columns_json(pp);
	c1 = json_array_get(js, 1);
	CHECK(json_is_true(json_object_get(c1, "array")));
	CHECK_INT(json_integer_value(json_object_get(c1, "size")), 3);
	CHECK_INT(json_integer_value(json_object_get(c1, "position")), 2);
	st = json_object_get(c1, "statistics");
	/* pooled over the elements: codes 1 2 3 3 1 4 */
	CHECK_NEAR(num(st, "mean"), 14.0 / 6.0, 1e-12);
	CHECK_NEAR(num(st, "median"), 3, 0);
	CHECK_NEAR(num(st, "mode"), 1, 0);
	CHECK_INT(json_integer_value(json_object_get(st, "distinct")), 4);
	CHECK_INT(category_field(st, "c", "members"), 2);
	CHECK(json_is_false(json_object_get(json_array_get(js, 0), "array")));
	json_decref(js);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_columns_json_shape)
{
	pgml_column cols[2];
	const char *keys[] = {"name", "pg_type", "nullable", "label", "position", "size", "array",
	"preprocessor", "statistics"};
	const char *skeys[] = {"min", "max", "max_abs", "mean", "median", "mode", "variance", "std_dev",
	"missing", "distinct", "histogram", "ventiles", "categories"};
	const char *vals[] = {"x", "y"};
	pgml_preprocessor *pp;
	pgml_err	err;
	float		raw[4];
	json_t	   *js;
	json_t	   *parsed;
	json_t	   *c0;
	json_t	   *pre;
	char	   *text;
	size_t		k;
	const char *key;
	json_t	   *value;

	cols[0] = numeric("weight", PGML_IMPUTE_MEDIAN, PGML_SCALE_STANDARD);
	cols[0].pg_type = "float8";
	cols[0].nullable = false;
	cols[1] = categorical("kind", PGML_ENCODE_NATIVE, PGML_IMPUTE_MODE);
	REQUIRE(pgml_preprocessor_new(cols, 2, &pp, &err) == PGML_OK);
	/* before fit: the shape with unknown statistics */
	js = pgml_preprocessor_columns_json(pp);
	REQUIRE(json_array_size(js) == 2);
	CHECK(json_is_null(json_object_get(stats_of(js, 0), "mean")));
	json_decref(js);

	raw[0] = 1.5f;
	raw[2] = 2.5f;
	code_all(pp, 1, vals, 2, &raw[1], 2);
	REQUIRE(pgml_preprocessor_fit(pp, raw, 2, NULL, 0, &err) == PGML_OK);
	js = pgml_preprocessor_columns_json(pp);
	text = pgml_json_dumps(js);
	REQUIRE(text != NULL);
	REQUIRE(pgml_json_parse(text, strlen(text), "columns", &parsed, &err) == PGML_OK);
	CHECK(json_equal(js, parsed));
	/* keys in PostgresML's order */
	c0 = json_array_get(parsed, 0);
	k = 0;
	json_object_foreach(c0, key, value)
	{
		if (k < 9)
			CHECK_STR(key, keys[k]);
		k++;
	}
	CHECK_INT(k, 9);
	k = 0;
	json_object_foreach(json_object_get(c0, "statistics"), key, value)
	{
		if (k < 13)
			CHECK_STR(key, skeys[k]);
		k++;
	}
	CHECK_INT(k, 13);
	CHECK_STR(json_string_value(json_object_get(c0, "name")), "weight");
	CHECK_STR(json_string_value(json_object_get(c0, "pg_type")), "float8");
	CHECK(json_is_false(json_object_get(c0, "nullable")));
	CHECK(json_is_false(json_object_get(c0, "label")));
	CHECK_INT(json_integer_value(json_object_get(c0, "position")), 1);
	CHECK_INT(json_integer_value(json_object_get(c0, "size")), 1);
	CHECK(json_is_false(json_object_get(c0, "array")));
	pre = json_object_get(c0, "preprocessor");
	CHECK_STR(json_string_value(json_object_get(pre, "encode")), "native");
	CHECK_STR(json_string_value(json_object_get(pre, "impute")), "median");
	CHECK_STR(json_string_value(json_object_get(pre, "scale")), "standard");
	CHECK_NEAR(num(json_object_get(c0, "statistics"), "mean"), 2, 1e-12);
	CHECK(json_is_null(json_object_get(json_object_get(c0, "statistics"), "categories")));
	CHECK(json_is_true(json_object_get(json_array_get(parsed, 1), "nullable")));
	CHECK_INT(json_object_size(json_object_get(stats_of(parsed, 1), "categories")), 3);
	/* "__NULL__" first */
	json_object_foreach(json_object_get(stats_of(parsed, 1), "categories"), key, value)
	{
		CHECK_STR(key, "__NULL__");
		CHECK_INT(json_integer_value(json_object_get(value, "members")), 0);
		break;
	}
	json_decref(parsed);
	json_decref(js);
	pgml_free(text);
	pgml_preprocessor_free(pp);
}

/* A preprocessor exercising every part of the format, fitted on 8 rows; raw row = 7 floats. */
static pgml_preprocessor *
rich_preprocessor(float *raw, float *y)
{
	static const char *levels[] = {"s", "m", "l"};
	static const char *colors8[] = {"red", "green", NULL, "red", "blue", "green", "red", "teal"};
	static const char *sizes8[] = {"s", "m", "l", "m", NULL, "s", "l", "l"};
	static const char *words8[][2] = {{"u", "v"}, {"v", "w"}, {"u", NULL}, {"w", "w"}, {"v", "u"},
	{"u", "u"}, {"x", "v"}, {"v", "w"}};
	pgml_column cols[6];
	pgml_preprocessor *pp;
	pgml_err	err;

	cols[0] = numeric("num", PGML_IMPUTE_MEAN, PGML_SCALE_STANDARD);
	cols[1] = categorical("color", PGML_ENCODE_TARGET, PGML_IMPUTE_MEAN);
	cols[2] = categorical("color_hot", PGML_ENCODE_ONE_HOT, PGML_IMPUTE_MODE);
	cols[3] = categorical("size", PGML_ENCODE_ORDINAL, PGML_IMPUTE_MODE);
	cols[3].ordinal = levels;
	cols[3].n_ordinal = 3;
	cols[3].scale = PGML_SCALE_MIN_MAX;
	cols[4] = categorical("words", PGML_ENCODE_NATIVE, PGML_IMPUTE_ZERO);
	cols[4].width = 2;
	cols[4].pg_type = "varchar[]";
	cols[4].scale = PGML_SCALE_ROBUST;
	cols[5] = numeric("mx", PGML_IMPUTE_MEDIAN, PGML_SCALE_MAX_ABS);
	if (pgml_preprocessor_new(cols, 6, &pp, &err) != PGML_OK)
		return NULL;
	for (int i = 0; i < 8; i++)
	{
		float	   *r = raw + i * 7;

		r[0] = i == 3 ? NAN : (float) i * 1.5f - 2;
		pgml_preprocessor_code(pp, 1, colors8[i], true, &r[1], &err);
		pgml_preprocessor_code(pp, 2, colors8[i], true, &r[2], &err);
		pgml_preprocessor_code(pp, 3, sizes8[i], true, &r[3], &err);
		pgml_preprocessor_code(pp, 4, words8[i][0], true, &r[4], &err);
		pgml_preprocessor_code(pp, 4, words8[i][1], true, &r[5], &err);
		r[6] = i == 5 ? NAN : (float) (i % 3) - 7;
		y[i] = (float) (i * i);
	}
	if (pgml_preprocessor_fit(pp, raw, 8, y, 1, &err) != PGML_OK)
	{
		pgml_preprocessor_free(pp);
		return NULL;
	}
	/* rows 8 and 9: unknown categories and missing values everywhere, then odd codes */
	for (int k = 0; k < 7; k++)
	{
		raw[8 * 7 + k] = NAN;
		raw[9 * 7 + k] = k == 0 ? 1e30f : (float) k * 0.5f;
	}
	return pp;
}

TEST(preprocess_save_load_round_trip)
{
	float		raw[10 * 7];
	float		y[8];
	float	   *out1;
	float	   *out2;
	size_t		nf;
	pgml_preprocessor *pp = rich_preprocessor(raw, y);
	pgml_preprocessor *pp2;
	pgml_buf	b;
	pgml_reader r;
	pgml_err	err;
	json_t	   *j1;
	json_t	   *j2;
	float		code;

	REQUIRE(pp != NULL);
	nf = pgml_preprocessor_n_features(pp);
	/* 1 + 1 + (4 categories - 1 + NULL) + 1 + 2 + 1 */
	CHECK_INT(nf, 10);
	out1 = calloc(10 * nf, sizeof(float));
	out2 = calloc(10 * nf, sizeof(float));
	REQUIRE(out1 != NULL && out2 != NULL);
	REQUIRE(pgml_preprocessor_transform(pp, raw, 10, out1, 0, &err) == PGML_OK);
	for (size_t i = 0; i < 10 * nf; i++)
		CHECK(isfinite(out1[i]) || i == 9 * nf);

	pgml_buf_init(&b);
	pgml_preprocessor_save(pp, &b);
	pgml_buf_put_u32(&b, 0xdeadbeef);	/* whatever follows in a model file */
	REQUIRE(pgml_buf_status(&b, &err) == PGML_OK);
	pgml_reader_init(&r, b.data, b.len, "model file", &err);
	REQUIRE(pgml_preprocessor_load(&r, &pp2, &err) == PGML_OK);
	CHECK_INT(pgml_reader_u32(&r), 0xdeadbeef);
	CHECK_INT(pgml_reader_remaining(&r), 0);
	CHECK_INT(pgml_preprocessor_n_features(pp2), nf);
	CHECK_INT(pgml_preprocessor_n_raw(pp2), 7);
	REQUIRE(pgml_preprocessor_transform(pp2, raw, 10, out2, 0, &err) == PGML_OK);
	CHECK(memcmp(out1, out2, 10 * nf * sizeof(float)) == 0);
	j1 = pgml_preprocessor_columns_json(pp);
	j2 = pgml_preprocessor_columns_json(pp2);
	CHECK(j1 != NULL && json_equal(j1, j2));
	json_decref(j1);
	json_decref(j2);
	/* the dictionaries came back, frozen */
	REQUIRE(pgml_preprocessor_code(pp2, 2, "blue", true, &code, &err) == PGML_OK);
	CHECK_NEAR(code, 3, 0);
	REQUIRE(pgml_preprocessor_code(pp2, 2, "mauve", true, &code, &err) == PGML_OK);
	CHECK(isnan(code));
	REQUIRE(pgml_preprocessor_code(pp2, 3, "l", false, &code, &err) == PGML_OK);
	CHECK_NEAR(code, 3, 0);
	CHECK_INT(pgml_preprocessor_fit(pp2, raw, 8, y, 1, &err), PGML_ERR_INVALID_ARGUMENT);
	pgml_preprocessor_free(pp2);

	/* an unfitted preprocessor round-trips too and can then be fitted */
	{
		pgml_column c = categorical("c", PGML_ENCODE_ONE_HOT, PGML_IMPUTE_ERROR);
		pgml_preprocessor *u;
		pgml_buf	ub;
		float		codes[3];
		float		o[4];

		REQUIRE(pgml_preprocessor_new(&c, 1, &u, &err) == PGML_OK);
		code_all(u, 0, colors, 2, codes, 1);
		pgml_buf_init(&ub);
		pgml_preprocessor_save(u, &ub);
		pgml_preprocessor_free(u);
		pgml_reader_init(&r, ub.data, ub.len, "model file", &err);
		REQUIRE(pgml_preprocessor_load(&r, &u, &err) == PGML_OK);
		CHECK_INT(pgml_preprocessor_n_features(u), 0);
		REQUIRE(pgml_preprocessor_code(u, 0, "blue", true, &codes[2], &err) == PGML_OK);
		CHECK_NEAR(codes[2], 3, 0);
		REQUIRE(pgml_preprocessor_fit(u, codes, 3, NULL, 0, &err) == PGML_OK);
		REQUIRE(pgml_preprocessor_transform(u, codes, 2, o, 0, &err) == PGML_OK);
		CHECK_NEAR(o[0], 0, 0);
		CHECK_NEAR(o[1], 0, 0);
		CHECK_NEAR(o[2], 1, 0);
		CHECK_NEAR(o[3], 0, 0);
		pgml_preprocessor_free(u);
		pgml_buf_free(&ub);
	}
	pgml_buf_free(&b);
	pgml_preprocessor_free(pp);
	free(out1);
	free(out2);
}

TEST(preprocess_load_truncated_and_corrupt)
{
	float		raw[10 * 7];
	float		y[8];
	pgml_preprocessor *pp = rich_preprocessor(raw, y);
	pgml_preprocessor *pp2;
	pgml_buf	b;
	pgml_reader r;
	pgml_err	err;
	size_t		nf;
	float	   *out;
	int			bad = 0;
	int			loaded = 0;

	REQUIRE(pp != NULL);
	nf = pgml_preprocessor_n_features(pp);
	pgml_buf_init(&b);
	pgml_preprocessor_save(pp, &b);
	REQUIRE(pgml_buf_status(&b, &err) == PGML_OK);

	/* every truncation is corrupt, never a crash */
	for (size_t len = 0; len < b.len; len++)
	{
		pgml_status st;

		pp2 = (pgml_preprocessor *) &b;
		pgml_reader_init(&r, b.data, len, "model file", &err);
		st = pgml_preprocessor_load(&r, &pp2, &err);
		if (st != PGML_ERR_CORRUPT || pp2 != NULL || strcmp(err.msg, "model file is corrupt") != 0)
			bad++;
	}
	CHECK_INT(bad, 0);

	/* every byte flipped: corrupt, or something that transforms without crashing */
	out = malloc(10 * (nf + 64) * sizeof(float));
	REQUIRE(out != NULL);
	for (size_t pos = 0; pos < b.len; pos++)
	{
		for (int flip = 0; flip < 3; flip++)
		{
			uint8_t		saved = b.data[pos];
			pgml_status st;

			b.data[pos] = flip == 0 ? (uint8_t) (saved ^ 0xff) : flip == 1 ? (uint8_t) (saved + 1) : 0x7f;
			pgml_reader_init(&r, b.data, b.len, "model file", &err);
			st = pgml_preprocessor_load(&r, &pp2, &err);
			if (st == PGML_OK)
			{
				loaded++;
				if (pgml_preprocessor_n_raw(pp2) == 7 && pgml_preprocessor_n_features(pp2) <= nf + 64)
					(void) pgml_preprocessor_transform(pp2, raw, 10, out, 0, &err);
				pgml_preprocessor_free(pp2);
			}
			else if (st != PGML_ERR_CORRUPT || pp2 != NULL)
				bad++;
			b.data[pos] = saved;
		}
	}
	CHECK_INT(bad, 0);
	CHECK(loaded > 0);			/* statistics bytes are free-form */

	/* hostile counts */
	{
		pgml_buf	h;

		pgml_buf_init(&h);
		pgml_buf_put(&h, "PGMLPREP", 8);
		pgml_buf_put_u32(&h, 1);
		pgml_buf_put_u8(&h, 1);
		pgml_buf_put_u64(&h, UINT64_MAX);
		pgml_reader_init(&r, h.data, h.len, "model file", &err);
		CHECK_INT(pgml_preprocessor_load(&r, &pp2, &err), PGML_ERR_CORRUPT);
		pgml_buf_free(&h);

		pgml_buf_init(&h);
		pgml_buf_put(&h, "PGMLPREP", 8);
		pgml_buf_put_u32(&h, 1);
		pgml_buf_put_u8(&h, 1);
		pgml_buf_put_u64(&h, 1);
		pgml_buf_put_str(&h, "c");
		pgml_buf_put_str(&h, "text");
		pgml_buf_put_u8(&h, 1);
		pgml_buf_put_u32(&h, 1u << 24);	/* width */
		pgml_buf_put_u8(&h, 0);
		pgml_buf_put_u8(&h, 0);
		pgml_buf_put_u8(&h, 0);
		pgml_buf_put_u32(&h, 0xfffffff0u);	/* categories */
		for (int i = 0; i < 64; i++)
			pgml_buf_put_u32(&h, 0);
		pgml_reader_init(&r, h.data, h.len, "model file", &err);
		CHECK_INT(pgml_preprocessor_load(&r, &pp2, &err), PGML_ERR_CORRUPT);
		pgml_buf_free(&h);

		/* a duplicate category */
		pgml_buf_init(&h);
		pgml_buf_put(&h, "PGMLPREP", 8);
		pgml_buf_put_u32(&h, 1);
		pgml_buf_put_u8(&h, 0);
		pgml_buf_put_u64(&h, 1);
		pgml_buf_put_str(&h, "c");
		pgml_buf_put_str(&h, "text");
		pgml_buf_put_u8(&h, 1);
		pgml_buf_put_u32(&h, 1);
		pgml_buf_put_u8(&h, 0);
		pgml_buf_put_u8(&h, 0);
		pgml_buf_put_u8(&h, 0);
		pgml_buf_put_u32(&h, 2);
		pgml_buf_put_str(&h, "same");
		pgml_buf_put_str(&h, "same");
		pgml_reader_init(&r, h.data, h.len, "model file", &err);
		CHECK_INT(pgml_preprocessor_load(&r, &pp2, &err), PGML_ERR_CORRUPT);
		CHECK(strstr(err.detail, "twice") != NULL);
		pgml_buf_free(&h);
	}
	/* a separate err gets the reader's error */
	{
		pgml_err	other;

		pgml_reader_init(&r, b.data, 20, "model file", NULL);
		CHECK_INT(pgml_preprocessor_load(&r, &pp2, &other), PGML_ERR_CORRUPT);
		CHECK_STR(other.msg, "model file is corrupt");
	}
	free(out);
	pgml_buf_free(&b);
	pgml_preprocessor_free(pp);
}

TEST(preprocess_million_rows)
{
	size_t		n = 1000000;
	pgml_column cols[2];
	float	   *raw = malloc(n * 2 * sizeof(float));
	float	   *out = malloc(n * 2 * sizeof(float));
	pgml_preprocessor *pp;
	pgml_err	err;
	uint64_t	state = 7;

	REQUIRE(raw != NULL && out != NULL);
	for (size_t i = 0; i < n; i++)
	{
		state = state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
		raw[i * 2] = (float) (state >> 40) / 16777216.0f;
		raw[i * 2 + 1] = i % 1000 == 0 ? NAN : (float) (i % 977);
	}
	cols[0] = numeric("u", PGML_IMPUTE_ERROR, PGML_SCALE_STANDARD);
	cols[1] = numeric("v", PGML_IMPUTE_MEDIAN, PGML_SCALE_ROBUST);
	REQUIRE(pgml_preprocessor_new(cols, 2, &pp, &err) == PGML_OK);
	REQUIRE(pgml_preprocessor_fit(pp, raw, n, NULL, 0, &err) == PGML_OK);
	REQUIRE(pgml_preprocessor_transform(pp, raw, n, out, 0, &err) == PGML_OK);
	/* standard scaling of a uniform [0, 1): |x| < sqrt(3) */
	CHECK(fabsf(out[0]) < 1.7321f);
	CHECK(isfinite(out[1]));
	pgml_preprocessor_free(pp);
	free(raw);
	free(out);
}

static bool
always_stop(void *state)
{
	(void) state;
	return true;
}

TEST(preprocess_fit_cancels)
{
	float		v[] = {1, 2, 3};
	pgml_column c = numeric("x", PGML_IMPUTE_MEAN, PGML_SCALE_STANDARD);
	pgml_preprocessor *pp;
	pgml_err	err;
	pgml_status st;

	REQUIRE(pgml_preprocessor_new(&c, 1, &pp, &err) == PGML_OK);
	pgml_set_should_stop(always_stop, NULL);
	st = pgml_preprocessor_fit(pp, v, 3, NULL, 0, &err);
	pgml_set_should_stop(NULL, NULL);
	CHECK_INT(st, PGML_ERR_CANCELLED);
	CHECK_INT(pgml_preprocessor_n_features(pp), 0);
	/* a cancelled fit can be run again */
	CHECK_INT(pgml_preprocessor_fit(pp, v, 3, NULL, 0, &err), PGML_OK);
	CHECK_NEAR(transform1(pp, NAN), 0, 1e-6);
	pgml_preprocessor_free(pp);
}

/* An allocator that fails the fail_at-th call and counts live blocks. */
typedef struct failing
{
	int			calls;
	int			fail_at;
	int			live;
} failing;

static void *
failing_alloc(size_t size, void *state)
{
	failing    *f = state;

	if (f->calls++ == f->fail_at)
		return NULL;
	f->live++;
	return malloc(size ? size : 1);
}

static void *
failing_realloc(void *ptr, size_t size, void *state)
{
	failing    *f = state;

	if (f->calls++ == f->fail_at)
		return NULL;
	if (ptr == NULL)
		f->live++;
	return realloc(ptr, size ? size : 1);
}

static void
failing_free(void *ptr, void *state)
{
	failing    *f = state;

	if (ptr != NULL)
		f->live--;
	free(ptr);
}

TEST(preprocess_out_of_memory_leaks_nothing)
{
	int			succeeded = 0;

	for (int fail_at = 0; fail_at < 400 && !succeeded; fail_at++)
	{
		failing		f = {0, fail_at, 0};
		pgml_allocator a = {failing_alloc, failing_realloc, failing_free, &f};
		float		raw[10 * 7];
		float		y[8];
		float		out[10 * 10];
		pgml_preprocessor *pp;
		pgml_preprocessor *pp2 = NULL;
		pgml_buf	b;
		pgml_reader r;
		pgml_err	err;
		json_t	   *js;
		pgml_status st = PGML_ERR_OUT_OF_MEMORY;

		pgml_set_allocator(&a);
		pp = rich_preprocessor(raw, y);
		if (pp != NULL)
		{
			js = pgml_preprocessor_columns_json(pp);
			pgml_buf_init(&b);
			pgml_preprocessor_save(pp, &b);
			if (js != NULL && pgml_buf_status(&b, &err) == PGML_OK)
			{
				pgml_reader_init(&r, b.data, b.len, "model file", &err);
				st = pgml_preprocessor_load(&r, &pp2, &err);
				CHECK(st == PGML_OK || st == PGML_ERR_CORRUPT);
				if (st == PGML_OK)
					st = pgml_preprocessor_transform(pp2, raw, 10, out, 0, &err);
			}
			json_decref(js);
			pgml_buf_free(&b);
			pgml_preprocessor_free(pp2);
			pgml_preprocessor_free(pp);
		}
		pgml_set_allocator(NULL);
		CHECK_INT(f.live, 0);
		succeeded = st == PGML_OK;
	}
	CHECK(succeeded);
}
