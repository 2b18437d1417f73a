/* Tests for model.c (fit, predict, labels, file format) through the xgboost algorithms. */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#include "pgml/json.h"
#include "pgml/learn.h"

static uint64_t rng_state;

static double
uniform(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (rng_state >> 11) / (double) (1ULL << 53);
}

/* n × d features in [-1, 1); y by `kind`: 0 linear regression, 1 three classes {2, 5, 7}, 2 binary. */
static void
make_data(size_t n, size_t d, int kind, float **x, float **y)
{
	*x = malloc(n * d * sizeof(float));
	*y = malloc(n * 2 * sizeof(float));
	rng_state = 42;
	for (size_t i = 0; i < n; i++)
	{
		float	   *row = *x + i * d;
		double		s;

		for (size_t j = 0; j < d; j++)
			row[j] = (float) (uniform() * 2 - 1);
		s = 3 * row[0] - 2 * row[1];
		if (kind == 0)
		{
			(*y)[2 * i] = (float) (s + 0.05 * (uniform() - 0.5));
			(*y)[2 * i + 1] = (float) (row[2] * 4);
		}
		else if (kind == 1)
			(*y)[i] = s < -1 ? 2.0f : s < 1 ? 5.0f : 7.0f;
		else
			(*y)[i] = s > 0 ? 1.0f : 0.0f;
	}
}

static json_t *
params(const char *text)
{
	json_t	   *v = NULL;
	pgml_err	err;

	pgml_json_parse(text, strlen(text), "test", &v, &err);
	return v;
}

TEST(model_xgboost_regression)
{
	float	   *x,
			   *y;
	pgml_data	d;
	pgml_model *m = NULL;
	pgml_err	err;
	float	   *pred;
	json_t	   *hp = params("{\"n_estimators\": 60, \"max_depth\": 4}");
	pgml_regression_metrics rm;
	double		sse = 0,
				sst = 0,
				mean = 0;

	make_data(500, 4, 0, &x, &y);
	/* single target: take column 0 of the 2-column y */
	for (size_t i = 0; i < 500; i++)
		y[i] = y[2 * i];
	d = (pgml_data) {x, y, 500, 4, 1};
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_REGRESSION, hp, &d, 0, NULL, &m, &err), PGML_OK);
	REQUIRE(m != NULL);
	CHECK_STR(pgml_model_algorithm(m), "xgboost");
	CHECK_INT(pgml_model_n_features(m), 4);
	CHECK_INT(pgml_model_n_targets(m), 1);
	CHECK_INT(pgml_model_n_classes(m), 0);
	pred = malloc(500 * sizeof(float));
	CHECK_INT(pgml_model_predict(m, x, 500, pred, &err), PGML_OK);
	for (size_t i = 0; i < 500; i++)
		mean += y[i] / 500.0;
	for (size_t i = 0; i < 500; i++)
	{
		sse += (y[i] - pred[i]) * (y[i] - pred[i]);
		sst += (y[i] - mean) * (y[i] - mean);
	}
	CHECK(1 - sse / sst > 0.97);
	(void) rm;
	{
		json_t	   *p = pgml_model_params(m);

		REQUIRE(p != NULL);
		CHECK_INT(json_integer_value(json_object_get(p, "n_estimators")), 60);
		CHECK_INT(json_integer_value(json_object_get(p, "max_depth")), 4);
		CHECK_STR(json_string_value(json_object_get(p, "objective")), "reg:squarederror");
		json_decref(p);
	}
	CHECK_INT(pgml_model_predict_proba(m, x, 1, pred, &err), PGML_ERR_NOT_SUPPORTED);
	pgml_model_free(m);
	json_decref(hp);
	free(pred);
	free(x);
	free(y);
}

TEST(model_xgboost_multi_target)
{
	float	   *x,
			   *y;
	pgml_data	d;
	pgml_model *m = NULL;
	pgml_err	err;
	float		pred[2 * 300];
	double		err0 = 0,
				err1 = 0;

	make_data(300, 4, 0, &x, &y);
	d = (pgml_data) {x, y, 300, 4, 2};
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_REGRESSION, NULL, &d, 0, NULL, &m, &err), PGML_OK);
	REQUIRE(m != NULL);
	CHECK_INT(pgml_model_n_targets(m), 2);
	CHECK_INT(pgml_model_predict(m, x, 300, pred, &err), PGML_OK);
	for (size_t i = 0; i < 300; i++)
	{
		err0 += fabs(pred[2 * i] - y[2 * i]) / 300;
		err1 += fabs(pred[2 * i + 1] - y[2 * i + 1]) / 300;
	}
	CHECK(err0 < 0.2);
	CHECK(err1 < 0.2);
	pgml_model_free(m);
	free(x);
	free(y);
}

TEST(model_xgboost_classification_labels)
{
	float	   *x,
			   *y;
	pgml_data	d;
	pgml_model *m = NULL;
	pgml_err	err;
	float		pred[400];
	float		proba[400 * 3];
	int			correct = 0;

	make_data(400, 3, 1, &x, &y);
	d = (pgml_data) {x, y, 400, 3, 1};
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_CLASSIFICATION, NULL, &d, 0, NULL, &m, &err), PGML_OK);
	REQUIRE(m != NULL);
	CHECK_INT(pgml_model_n_classes(m), 3);
	CHECK(pgml_model_classes(m)[0] == 2.0f && pgml_model_classes(m)[1] == 5.0f && pgml_model_classes(m)[2] == 7.0f);
	CHECK_INT(pgml_model_predict(m, x, 400, pred, &err), PGML_OK);
	for (int i = 0; i < 400; i++)
	{
		CHECK(pred[i] == 2.0f || pred[i] == 5.0f || pred[i] == 7.0f);
		correct += pred[i] == y[i];
	}
	CHECK(correct > 380);
	CHECK_INT(pgml_model_predict_proba(m, x, 400, proba, &err), PGML_OK);
	for (int i = 0; i < 400; i++)
		CHECK_NEAR(proba[3 * i] + proba[3 * i + 1] + proba[3 * i + 2], 1.0, 1e-5);
	pgml_model_free(m);
	free(x);
	free(y);
}

TEST(model_xgboost_binary_and_random_forest)
{
	float	   *x,
			   *y;
	pgml_data	d;
	pgml_model *m = NULL;
	pgml_err	err;
	float		proba[2 * 300];
	float		pred[300];
	int			correct = 0;
	json_t	   *hp = params("{\"n_estimators\": 30, \"max_depth\": 5}");

	make_data(300, 3, 2, &x, &y);
	d = (pgml_data) {x, y, 300, 3, 1};
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_CLASSIFICATION, NULL, &d, 0, NULL, &m, &err), PGML_OK);
	REQUIRE(m != NULL);
	CHECK_INT(pgml_model_predict_proba(m, x, 300, proba, &err), PGML_OK);
	for (int i = 0; i < 300; i++)
		CHECK_NEAR(proba[2 * i] + proba[2 * i + 1], 1.0, 1e-6);
	pgml_model_free(m);

	m = NULL;
	CHECK_INT(pgml_model_fit("xgboost_random_forest", PGML_TASK_CLASSIFICATION, hp, &d, 0, NULL, &m, &err), PGML_OK);
	REQUIRE(m != NULL);
	CHECK_INT(pgml_model_predict(m, x, 300, pred, &err), PGML_OK);
	for (int i = 0; i < 300; i++)
		correct += pred[i] == y[i];
	CHECK(correct > 270);
	pgml_model_free(m);
	json_decref(hp);
	free(x);
	free(y);
}

TEST(model_save_load_round_trip_and_corruption)
{
	float	   *x,
			   *y;
	pgml_data	d;
	pgml_model *m = NULL;
	pgml_model *back = NULL;
	pgml_err	err;
	pgml_buf	b;
	float		p1[300],
				p2[300];

	make_data(300, 3, 1, &x, &y);
	d = (pgml_data) {x, y, 300, 3, 1};
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_CLASSIFICATION, NULL, &d, 0, NULL, &m, &err), PGML_OK);
	REQUIRE(m != NULL);
	pgml_buf_init(&b);
	CHECK_INT(pgml_model_save(m, &b, &err), PGML_OK);
	CHECK(memcmp(b.data, PGML_MODEL_MAGIC, 8) == 0);
	CHECK_INT(pgml_model_load(b.data, b.len, &back, &err), PGML_OK);
	REQUIRE(back != NULL);
	CHECK_INT(pgml_model_task(back), PGML_TASK_CLASSIFICATION);
	CHECK_INT(pgml_model_n_classes(back), 3);
	CHECK_INT(pgml_model_predict(m, x, 300, p1, &err), PGML_OK);
	CHECK_INT(pgml_model_predict(back, x, 300, p2, &err), PGML_OK);
	CHECK(memcmp(p1, p2, sizeof(p1)) == 0);
	pgml_model_free(back);

	/* every truncation and every sampled byte flip is reported as corrupt, never loaded or crashed */
	for (size_t len = 0; len < b.len; len += (len < 64 ? 1 : b.len / 150))
	{
		back = NULL;
		if (pgml_model_load(b.data, len, &back, &err) != PGML_ERR_CORRUPT)
		{
			test_fail(__FILE__, __LINE__, "truncation to %zu bytes not detected", len);
			pgml_model_free(back);
			break;
		}
	}
	for (size_t pos = 0; pos < b.len; pos += (pos < 64 ? 1 : b.len / 150))
	{
		b.data[pos] ^= 0x5a;
		back = NULL;
		if (pgml_model_load(b.data, b.len, &back, &err) != PGML_ERR_CORRUPT)
		{
			test_fail(__FILE__, __LINE__, "flip at byte %zu not detected", pos);
			pgml_model_free(back);
			b.data[pos] ^= 0x5a;
			break;
		}
		b.data[pos] ^= 0x5a;
	}
	CHECK_INT(pgml_model_load(b.data, b.len, &back, &err), PGML_OK);
	pgml_model_free(back);
	CHECK_INT(pgml_model_load("not a model at all, just some text", 34, &back, &err), PGML_ERR_CORRUPT);
	CHECK_STR(err.msg, "model file is corrupt");
	pgml_buf_free(&b);
	pgml_model_free(m);
	free(x);
	free(y);
}

TEST(model_fit_errors)
{
	float	   *x,
			   *y;
	pgml_data	d;
	pgml_model *m = NULL;
	pgml_err	err;
	json_t	   *bad_key = params("{\"n_estimators\": 5, \"learning_rat\": 0.1}");
	json_t	   *bad_value = params("{\"max_depth\": \"deep\"}");
	json_t	   *bad_type = params("{\"n_estimators\": 2.5}");
	json_t	   *both = params("{\"learning_rate\": 0.1, \"eta\": 0.2}");
	json_t	   *wrong_objective = params("{\"objective\": \"reg:squarederror\"}");

	make_data(100, 3, 1, &x, &y);
	d = (pgml_data) {x, y, 100, 3, 1};

	CHECK_INT(pgml_model_fit("no_such_algorithm", PGML_TASK_REGRESSION, NULL, &d, 0, NULL, &m, &err),
			  PGML_ERR_NOT_SUPPORTED);
	CHECK_STR(err.msg, "algorithm \"no_such_algorithm\" is not available");
	CHECK(strstr(err.detail, "xgboost") != NULL);
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_CLUSTERING, NULL, &d, 0, NULL, &m, &err), PGML_ERR_NOT_SUPPORTED);
	CHECK_STR(err.msg, "algorithm \"xgboost\" does not support clustering");

	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_CLASSIFICATION, bad_key, &d, 0, NULL, &m, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "unknown hyperparameter \"learning_rat\" for xgboost");
	CHECK(strstr(err.detail, "learning_rate") != NULL);
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_CLASSIFICATION, bad_value, &d, 0, NULL, &m, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err.msg, "max_depth") != NULL || strstr(err.detail, "max_depth") != NULL);
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_CLASSIFICATION, bad_type, &d, 0, NULL, &m, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_CLASSIFICATION, both, &d, 0, NULL, &m, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "give learning_rate or eta, not both");
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_CLASSIFICATION, wrong_objective, &d, 0, NULL, &m, &err),
			  PGML_ERR_NOT_SUPPORTED);

	/* a single class */
	for (int i = 0; i < 100; i++)
		y[i] = 3;
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_CLASSIFICATION, NULL, &d, 0, NULL, &m, &err), PGML_ERR_DATA);
	CHECK_STR(err.msg, "classification needs at least two classes");
	/* NaN features and labels */
	y[5] = NAN;
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_REGRESSION, NULL, &d, 0, NULL, &m, &err), PGML_ERR_DATA);
	CHECK_STR(err.msg, "label of row 6 is NaN");
	x[7] = NAN;
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_REGRESSION, NULL, &d, 0, NULL, &m, &err), PGML_ERR_DATA);
	CHECK_STR(err.detail, "Row 3, feature 2.");
	d.n_rows = 0;
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_REGRESSION, NULL, &d, 0, NULL, &m, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK(m == NULL);
	json_decref(bad_key);
	json_decref(bad_value);
	json_decref(bad_type);
	json_decref(both);
	json_decref(wrong_objective);
	free(x);
	free(y);
}

static bool
always_stop(void *state)
{
	(void) state;
	return true;
}

TEST(model_fit_cancel)
{
	float	   *x,
			   *y;
	pgml_data	d;
	pgml_model *m = NULL;
	pgml_err	err;

	make_data(100, 3, 2, &x, &y);
	d = (pgml_data) {x, y, 100, 3, 1};
	pgml_set_should_stop(always_stop, NULL);
	CHECK_INT(pgml_model_fit("xgboost", PGML_TASK_CLASSIFICATION, NULL, &d, 0, NULL, &m, &err), PGML_ERR_CANCELLED);
	pgml_set_should_stop(NULL, NULL);
	CHECK(m == NULL);
	free(x);
	free(y);
}
