/*
 * Model files saved by an earlier build must load in this one. tests/fixtures/model_v1.pgml is a pipeline
 * (preprocessor + model) saved by format 1; this test loads it and checks its predictions, which are
 * known exactly: the data is y = 1 + 2·x0 − 3·x1 + 0.5·code(color), fit by ordinary least squares.
 *
 * To write the fixture again (only when the format version changes, keeping the old file as well):
 *   PGML_WRITE_FIXTURES=1 make -C core test
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>

#include "pgml/learn.h"
#include "pgml/preprocess.h"

#define FIXTURE "tests/fixtures/model_v1.pgml"

static const char *const colors[] = {"red", "green", "blue"};

/* Fits the pipeline the fixture holds. */
static void
write_fixture(void)
{
	pgml_column cols[3] = {
		{.name = "x0", .pg_type = "float4", .width = 1, .scale = PGML_SCALE_STANDARD},
		{.name = "x1", .pg_type = "float4", .width = 1},
		{.name = "color", .pg_type = "text", .categorical = true, .width = 1},
	};
	pgml_preprocessor *pp = NULL;
	pgml_model *m = NULL;
	pgml_err	err;
	float		raw[60 * 3],
				x[60 * 3],
				y[60];
	pgml_buf	b;
	FILE	   *f;

	REQUIRE(pgml_preprocessor_new(cols, 3, &pp, &err) == PGML_OK);
	for (int i = 0; i < 60; i++)
	{
		float		code;

		raw[i * 3] = (float) (i % 7) - 3;
		raw[i * 3 + 1] = (float) (i % 5) * 0.5f;
		REQUIRE(pgml_preprocessor_code(pp, 2, colors[i % 3], true, &code, &err) == PGML_OK);
		raw[i * 3 + 2] = code;
		y[i] = 1 + 2 * raw[i * 3] - 3 * raw[i * 3 + 1] + 0.5f * code;
	}
	REQUIRE(pgml_preprocessor_fit(pp, raw, 60, y, 1, &err) == PGML_OK);
	REQUIRE(pgml_preprocessor_transform(pp, raw, 60, x, 0, &err) == PGML_OK);
	{
		pgml_data	d = {x, y, 60, pgml_preprocessor_n_features(pp), 1};

		REQUIRE(pgml_model_fit("linear", PGML_TASK_REGRESSION, NULL, &d, 0, NULL, &m, &err) == PGML_OK);
	}
	pgml_buf_init(&b);
	REQUIRE(pgml_pipeline_save(pp, m, &b, &err) == PGML_OK);
	f = fopen(FIXTURE, "wb");
	REQUIRE(f != NULL);
	fwrite(b.data, 1, b.len, f);
	fclose(f);
	pgml_buf_free(&b);
	pgml_model_free(m);
	pgml_preprocessor_free(pp);
}

TEST(model_file_format_1_still_loads)
{
	FILE	   *f;
	long		len;
	char	   *data;
	pgml_preprocessor *pp = NULL;
	pgml_model *m = NULL;
	pgml_err	err;

	if (getenv("PGML_WRITE_FIXTURES"))
		write_fixture();
	f = fopen(FIXTURE, "rb");
	REQUIRE(f != NULL);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t) len);
	REQUIRE(fread(data, 1, (size_t) len, f) == (size_t) len);
	fclose(f);

	CHECK_INT(pgml_pipeline_load(data, (size_t) len, &pp, &m, &err), PGML_OK);
	REQUIRE(pp != NULL && m != NULL);
	CHECK_STR(pgml_model_algorithm(m), "linear");
	CHECK_INT(pgml_model_task(m), PGML_TASK_REGRESSION);
	CHECK_INT(pgml_preprocessor_n_columns(pp), 3);
	CHECK_STR(pgml_preprocessor_column(pp, 2)->name, "color");
	{
		/* (x0, x1, color) → 1 + 2 x0 − 3 x1 + 0.5 code; codes: red 1, green 2, blue 3 */
		static const struct
		{
			float		x0,
						x1;
			const char *color;
			int			code;		/* first appearance in training: red, green, blue */
		}			cases[] = {{0, 0, "red", 1}, {1, 2, "green", 2}, {-2.5f, 0.25f, "blue", 3}, {10, -4, "red", 1}};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		{
			float		raw[3],
						x[3],
						pred;
			float		code;
			double		expected;

			raw[0] = cases[i].x0;
			raw[1] = cases[i].x1;
			CHECK_INT(pgml_preprocessor_code(pp, 2, cases[i].color, false, &code, &err), PGML_OK);
			CHECK_INT((int) code, cases[i].code);
			raw[2] = code;
			expected = 1 + 2.0 * cases[i].x0 - 3.0 * cases[i].x1 + 0.5 * cases[i].code;
			CHECK_INT(pgml_preprocessor_transform(pp, raw, 1, x, 0, &err), PGML_OK);
			CHECK_INT(pgml_model_predict(m, x, 1, &pred, &err), PGML_OK);
			CHECK_NEAR(pred, expected, 1e-4);
		}
	}
	pgml_model_free(m);
	pgml_preprocessor_free(pp);
	free(data);
}
