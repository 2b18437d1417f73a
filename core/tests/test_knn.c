/*
 * Tests for k nearest neighbours (src/learn/knn.c).
 *
 * The oracle is scikit-learn 1.2 (tests/fixtures/svm.json, cases with algorithm "knn", written by
 * tools/fixtures/make_svm_fixtures.py). Classification: the predicted classes identical and the
 * probabilities within 1e-6; regression: within 1e-6 relative (the sums run in another order). The cases on
 * the integer "grid" data sets are full of exact distance ties; scikit-learn runs them with
 * algorithm="brute", which keeps the same tied neighbours as knn.c (see knn.c on ties).
 * Besides: neighbours against a naive search, ties and zero distances, save/load, every truncation of a
 * saved model, byte flips, bad hyperparameters and data, the effective parameters, cancellation, the model
 * layer's predict_proba.
 */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#include "pgml/json.h"
#include "pgml/learn.h"
#include "../src/learn/algorithms.h"
#include "fixture.h"

#define FIXTURE "tests/fixtures/svm.json"
#define BLOB_WHAT "knn model"	/* how load errors name a saved model */

/* Fits knn on x (n × p) and y with hyperparameters as JSON text. */
static pgml_status
knn_fit_raw(pgml_task task, const float *x, const float *y, size_t n, size_t p, size_t t, int n_classes,
			const char *hp_text, void **state, pgml_err *err)
{
	json_t	   *hp = json_loads(hp_text, 0, NULL);
	pgml_data	data = {x, y, n, p, t};
	pgml_fit_args args = {task, hp, n_classes, 42, NULL};
	pgml_status rc;

	*state = NULL;
	if (hp == NULL)
		return PGML_ERR_INTERNAL;
	rc = pgml_algo_knn.fit(&args, &data, state, err);
	json_decref(hp);
	return rc;
}

TEST(knn_matches_sklearn)
{
	json_t	   *doc = load_fixture(FIXTURE);
	const json_t *c;
	size_t		ci;
	int			n_cases = 0;

	REQUIRE(doc != NULL);
	json_array_foreach(json_object_get(doc, "cases"), ci, c)
	{
		const char *task_name = json_string_value(json_object_get(c, "task"));
		const char *data_name = json_string_value(json_object_get(c, "data"));
		const json_t *labels = json_object_get(c, "label");
		pgml_task	task = strcmp(task_name, "regression") == 0 ? PGML_TASK_REGRESSION : PGML_TASK_CLASSIFICATION;
		char	   *hp_text;
		fixture_data fd;
		matrix		expect;
		void	   *state = NULL;
		void	   *loaded = NULL;
		float	   *pred;
		float	   *pred2;
		pgml_buf	buf;
		pgml_err	err;

		if (strcmp(json_string_value(json_object_get(c, "algorithm")), "knn") != 0)
			continue;
		n_cases++;
		hp_text = pgml_json_dumps(json_object_get(c, "params"));
		REQUIRE(fixture_dataset(doc, data_name, &fd));
		REQUIRE(matrix_from_json(json_object_get(c, "pred"), &expect));
		if (knn_fit_raw(task, fd.x.v, fd.y.v, fd.x.rows, fd.x.cols, task == PGML_TASK_REGRESSION ? fd.y.cols : 1,
						fd.n_classes, hp_text, &state, &err) != PGML_OK)
		{
			test_fail(__FILE__, __LINE__, "case %zu (%s on %s, %s): fit failed: %s", ci, task_name, data_name,
					  hp_text, err.msg);
			goto next;
		}
		CHECK_INT(pgml_algo_knn.n_outputs(state), expect.cols);
		pred = calloc(expect.rows * expect.cols, sizeof(float));
		pred2 = calloc(expect.rows * expect.cols, sizeof(float));
		CHECK_INT(pgml_algo_knn.predict(state, fd.xt.v, fd.xt.rows, fd.xt.cols, pred, &err), PGML_OK);
		for (size_t i = 0; i < expect.rows; i++)
		{
			const float *mine = pred + i * expect.cols;
			const float *theirs = expect.v + i * expect.cols;

			if (task == PGML_TASK_CLASSIFICATION &&
				(long) argmax(mine, expect.cols) != (long) json_integer_value(json_array_get(labels, i)))
				test_fail(__FILE__, __LINE__, "case %zu (%s, %s): row %zu is class %zu, sklearn %lld", ci, data_name,
						  hp_text, i, argmax(mine, expect.cols),
						  (long long) json_integer_value(json_array_get(labels, i)));
			for (size_t o = 0; o < expect.cols; o++)
			{
				double		lim = 1e-6 * (task == PGML_TASK_REGRESSION && fabs(theirs[o]) > 1 ? fabs(theirs[o]) : 1);

				if (!(fabs((double) mine[o] - theirs[o]) <= lim))
				{
					test_fail(__FILE__, __LINE__, "case %zu (%s %s, %s): row %zu output %zu is %.9g, sklearn %.9g",
							  ci, task_name, data_name, hp_text, i, o, mine[o], theirs[o]);
					break;
				}
			}
		}
		/* save → load → identical predictions and parameters */
		pgml_buf_init(&buf);
		pgml_algo_knn.save(state, &buf);
		REQUIRE(pgml_buf_status(&buf, &err) == PGML_OK);
		CHECK_INT(load_blob(&pgml_algo_knn, BLOB_WHAT, buf.data, buf.len, &loaded, &err), PGML_OK);
		if (loaded != NULL)
		{
			json_t	   *p1 = pgml_algo_knn.params(state);
			json_t	   *p2 = pgml_algo_knn.params(loaded);

			CHECK_INT(pgml_algo_knn.predict(loaded, fd.xt.v, fd.xt.rows, fd.xt.cols, pred2, &err), PGML_OK);
			CHECK(memcmp(pred, pred2, expect.rows * expect.cols * sizeof(float)) == 0);
			CHECK(p1 != NULL && p2 != NULL && json_equal(p1, p2));
			json_decref(p1);
			json_decref(p2);
		}
		pgml_algo_knn.free(loaded);
		pgml_buf_free(&buf);
		free(pred);
		free(pred2);
next:
		pgml_algo_knn.free(state);
		free(expect.v);
		fixture_data_free(&fd);
		pgml_free(hp_text);
	}
	CHECK(n_cases >= 10);
	json_decref(doc);
}

/* Pseudo-random floats in [-scale/2, scale/2), rounded to `step` when step > 0 (to make ties). */
static float *
random_floats(size_t n, uint64_t seed, double scale, double step)
{
	float	   *v = malloc(n * sizeof(float));

	for (size_t i = 0; i < n; i++)
	{
		double		u;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		u = ((double) (seed >> 11) / 9007199254740992.0 - 0.5) * scale;
		v[i] = (float) (step > 0 ? round(u / step) * step : u);
	}
	return v;
}

/* The nearest training row of q by the naive definition: smallest distance, then lowest row. */
static size_t
naive_nearest(const float *x, size_t n, size_t p, const float *q, double pw)
{
	size_t		best = 0;
	double		best_d = INFINITY;

	for (size_t i = 0; i < n; i++)
	{
		double		d = 0;

		for (size_t j = 0; j < p; j++)
			d += pow(fabs((double) x[i * p + j] - (double) q[j]), pw);
		if (d < best_d)
		{
			best_d = d;
			best = i;
		}
	}
	return best;
}

TEST(knn_nearest_like_naive_search)
{
	static const char *const settings[] = {"{\"n_neighbors\": 1}", "{\"n_neighbors\": 1, \"p\": 1}",
	"{\"n_neighbors\": 1, \"p\": 3}"};
	static const double powers[] = {2, 1, 3};
	size_t		n = 500;
	size_t		m = 300;
	size_t		p = 11;

	for (int tied = 0; tied < 2; tied++)
	{
		float	   *x = random_floats(n * p, 1 + (uint64_t) tied, 4.0, tied ? 1.0 : 0);
		float	   *q = random_floats(m * p, 77 + (uint64_t) tied, 4.0, tied ? 1.0 : 0);
		float	   *y = malloc(n * sizeof(float));
		float	   *out = malloc(m * sizeof(float));

		for (size_t i = 0; i < n; i++)
			y[i] = (float) i;
		for (size_t s = 0; s < 3; s++)
		{
			void	   *state;
			pgml_err	err;
			int			bad = 0;

			REQUIRE(knn_fit_raw(PGML_TASK_REGRESSION, x, y, n, p, 1, 0, settings[s], &state, &err) == PGML_OK);
			REQUIRE(pgml_algo_knn.predict(state, q, m, p, out, &err) == PGML_OK);
			for (size_t i = 0; i < m; i++)
				if ((size_t) out[i] != naive_nearest(x, n, p, q + i * p, powers[s]))
					bad++;
			if (bad)
				test_fail(__FILE__, __LINE__, "%s%s: %d rows disagree with the naive search", settings[s],
						  tied ? " (tied)" : "", bad);
			pgml_algo_knn.free(state);
		}
		free(x);
		free(q);
		free(y);
		free(out);
	}
}

TEST(knn_ties_and_zero_distances)
{
	/* one feature: row 0 at 0, rows 1-4 at distance 2 */
	float		x[] = {0, 2, -2, 2, -2, 7};
	float		y[] = {0, 1, 2, 3, 4, 100};
	float		c[] = {0, 1, 0, 1, 1, 0};
	float		q[] = {0, 1, 7};
	float		out[9];
	void	   *state;
	pgml_err	err;

	/*
	 * The expected neighbours are scikit-learn's (KNeighborsRegressor, algorithm "brute"). k = 2 at 0: row 0,
	 * then row 1 of the four tied rows.
	 */
	REQUIRE(knn_fit_raw(PGML_TASK_REGRESSION, x, y, 6, 1, 1, 0, "{\"n_neighbors\": 2}", &state, &err) == PGML_OK);
	REQUIRE(pgml_algo_knn.predict(state, q, 1, 1, out, &err) == PGML_OK);
	CHECK(out[0] == 0.5f);
	pgml_algo_knn.free(state);
	/* k = 3 at 1: rows 0, 1 and 3, all at distance 1 */
	REQUIRE(knn_fit_raw(PGML_TASK_REGRESSION, x, y, 6, 1, 1, 0, "{\"n_neighbors\": 3}", &state, &err) == PGML_OK);
	REQUIRE(pgml_algo_knn.predict(state, q + 1, 1, 1, out, &err) == PGML_OK);
	CHECK_NEAR(out[0], (0 + 1 + 3) / 3.0, 1e-6);
	pgml_algo_knn.free(state);
	/* distance weights with a zero distance: the rows at distance 0 take all the weight */
	REQUIRE(knn_fit_raw(PGML_TASK_REGRESSION, x, y, 6, 1, 1, 0, "{\"n_neighbors\": 4, \"weights\": \"distance\"}",
						&state, &err) == PGML_OK);
	REQUIRE(pgml_algo_knn.predict(state, q, 3, 1, out, &err) == PGML_OK);
	CHECK(out[0] == 0.0f);
	/* at 1: rows 3, 0, 1 at distance 1 (weight 1) and row 2 at 3 (weight 1/3), as scikit-learn picks */
	CHECK_NEAR(out[1], (3 + 0 + 1 + 2 / 3.0) / (3 + 1 / 3.0), 1e-6);
	CHECK(out[2] == 100.0f);
	pgml_algo_knn.free(state);
	/* classification: a 2-2 tie in votes goes to the lower class; distance weights break it */
	REQUIRE(knn_fit_raw(PGML_TASK_CLASSIFICATION, x, c, 6, 1, 1, 2, "{\"n_neighbors\": 4}", &state, &err) ==
			PGML_OK);
	REQUIRE(pgml_algo_knn.predict(state, q + 1, 1, 1, out, &err) == PGML_OK);
	/* neighbours of 1: rows 0, 1, 3 (distance 1) and 2 (distance 3): classes 0, 1, 1, 0 */
	CHECK(out[0] == 0.5f && out[1] == 0.5f);
	CHECK_INT(argmax(out, 2), 0);
	pgml_algo_knn.free(state);
	REQUIRE(knn_fit_raw(PGML_TASK_CLASSIFICATION, x, c, 6, 1, 1, 2, "{\"n_neighbors\": 4, \"weights\": \"distance\"}",
						&state, &err) == PGML_OK);
	REQUIRE(pgml_algo_knn.predict(state, q + 1, 1, 1, out, &err) == PGML_OK);
	CHECK(out[1] > out[0]);
	CHECK_NEAR(out[0] + out[1], 1.0, 1e-6);
	pgml_algo_knn.free(state);
	/* k = n: every row */
	REQUIRE(knn_fit_raw(PGML_TASK_REGRESSION, x, y, 6, 1, 1, 0, "{\"n_neighbors\": 6}", &state, &err) == PGML_OK);
	REQUIRE(pgml_algo_knn.predict(state, q, 1, 1, out, &err) == PGML_OK);
	CHECK_NEAR(out[0], 110 / 6.0, 1e-6);
	pgml_algo_knn.free(state);
}

TEST(knn_bad_input)
{
	static const struct
	{
		pgml_task	task;
		const char *hp;
		pgml_status expect;
		const char *in_msg;
	}			cases[] = {
		{PGML_TASK_REGRESSION, "{\"n_neighbors\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"n_neighbors\""},
		{PGML_TASK_REGRESSION, "{\"n_neighbors\": 2.5}", PGML_ERR_INVALID_ARGUMENT, "\"n_neighbors\""},
		{PGML_TASK_REGRESSION, "{\"n_neighbors\": 7}", PGML_ERR_INVALID_ARGUMENT, "n_neighbors"},
		{PGML_TASK_REGRESSION, "{\"weights\": \"gaussian\"}", PGML_ERR_INVALID_ARGUMENT, "\"weights\""},
		{PGML_TASK_REGRESSION, "{\"algorithm\": \"lsh\"}", PGML_ERR_INVALID_ARGUMENT, "\"algorithm\""},
		{PGML_TASK_REGRESSION, "{\"leaf_size\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"leaf_size\""},
		{PGML_TASK_REGRESSION, "{\"p\": 0.5}", PGML_ERR_INVALID_ARGUMENT, "\"p\""},
		{PGML_TASK_REGRESSION, "{\"p\": \"two\"}", PGML_ERR_INVALID_ARGUMENT, "\"p\""},
		{PGML_TASK_REGRESSION, "{\"metric\": \"cosine\"}", PGML_ERR_NOT_SUPPORTED, "cosine"},
		{PGML_TASK_REGRESSION, "{\"metric\": \"nonsense\"}", PGML_ERR_INVALID_ARGUMENT, "\"metric\""},
		{PGML_TASK_REGRESSION, "{\"metric_params\": {\"p\": 3}}", PGML_ERR_NOT_SUPPORTED, "metric_params"},
		{PGML_TASK_REGRESSION, "{\"metric_params\": 3}", PGML_ERR_INVALID_ARGUMENT, "\"metric_params\""},
		{PGML_TASK_REGRESSION, "{\"n_jobs\": \"all\"}", PGML_ERR_INVALID_ARGUMENT, "\"n_jobs\""},
		{PGML_TASK_REGRESSION, "{\"radius\": 1}", PGML_ERR_INVALID_ARGUMENT, "radius"},
		{PGML_TASK_CLASSIFICATION, "{\"weights\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"weights\""},
		{PGML_TASK_CLUSTERING, "{}", PGML_ERR_NOT_SUPPORTED, "clustering"},
	};
	float		x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	float		y[] = {0, 1, 0, 1, 0, 1};
	float		out[8];
	void	   *state;
	pgml_err	err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		pgml_status rc;

		pgml_err_clear(&err);
		rc = knn_fit_raw(cases[i].task, x, y, 6, 2, 1, 2, cases[i].hp, &state, &err);
		if (rc != cases[i].expect || strstr(err.msg, cases[i].in_msg) == NULL)
			test_fail(__FILE__, __LINE__, "%s: got %s \"%s\", expected %s mentioning %s", cases[i].hp,
					  pgml_status_name(rc), err.msg, pgml_status_name(cases[i].expect), cases[i].in_msg);
		CHECK(state == NULL);
	}
	/* accepted as scikit-learn accepts them */
	REQUIRE(knn_fit_raw(PGML_TASK_CLASSIFICATION, x, y, 6, 2, 1, 2,
						"{\"n_neighbors\": 6, \"weights\": null, \"algorithm\": \"kd_tree\", \"leaf_size\": 1, "
						"\"p\": 1.5, \"metric\": \"minkowski\", \"metric_params\": {}, \"n_jobs\": -1}",
						&state, &err) == PGML_OK);
	{
		json_t	   *p = pgml_algo_knn.params(state);
		char	   *text = pgml_json_dumps(p);

		CHECK_STR(text, "{\"n_neighbors\":6,\"weights\":\"uniform\",\"algorithm\":\"kd_tree\",\"leaf_size\":1,"
				  "\"p\":1.5,\"metric\":\"minkowski\",\"metric_params\":{},\"n_jobs\":-1}");
		pgml_free(text);
		json_decref(p);
	}
	CHECK_INT(pgml_algo_knn.predict(state, x, 2, 3, out, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "wrong number of features");
	CHECK_INT(pgml_algo_knn.predict(state, x, 0, 2, out, &err), PGML_OK);
	CHECK_INT(pgml_algo_knn.n_outputs(state), 2);
	pgml_algo_knn.free(state);
	REQUIRE(knn_fit_raw(PGML_TASK_REGRESSION, x, y, 6, 2, 1, 0, "{}", &state, &err) == PGML_OK);
	{
		json_t	   *p = pgml_algo_knn.params(state);
		char	   *text = pgml_json_dumps(p);

		CHECK_STR(text, "{\"n_neighbors\":5,\"weights\":\"uniform\",\"algorithm\":\"auto\",\"leaf_size\":30,"
				  "\"p\":2,\"metric\":\"minkowski\",\"metric_params\":null,\"n_jobs\":null}");
		pgml_free(text);
		json_decref(p);
	}
	pgml_algo_knn.free(state);
	pgml_algo_knn.free(NULL);

	/* bad data */
	y[1] = 2;
	CHECK_INT(knn_fit_raw(PGML_TASK_CLASSIFICATION, x, y, 6, 2, 1, 2, "{}", &state, &err), PGML_ERR_DATA);
	y[1] = 1;
	x[5] = NAN;
	CHECK_INT(knn_fit_raw(PGML_TASK_REGRESSION, x, y, 6, 2, 1, 0, "{}", &state, &err), PGML_ERR_DATA);
	CHECK_STR(err.detail, "Feature 2 of row 3 is nan.");
	x[5] = 6;
	y[0] = INFINITY;
	CHECK_INT(knn_fit_raw(PGML_TASK_REGRESSION, x, y, 6, 2, 1, 0, "{}", &state, &err), PGML_ERR_DATA);
	y[0] = 0;
	CHECK_INT(knn_fit_raw(PGML_TASK_REGRESSION, x, y, 0, 2, 1, 0, "{}", &state, &err), PGML_ERR_DATA);
	CHECK_INT(knn_fit_raw(PGML_TASK_REGRESSION, x, y, 6, 0, 1, 0, "{}", &state, &err), PGML_ERR_DATA);
	CHECK_INT(knn_fit_raw(PGML_TASK_CLASSIFICATION, x, y, 6, 2, 1, 1, "{}", &state, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK(state == NULL);
}

/* A loaded_check for check_corrupt_blobs (arg: the feature count): a model that loads predicts a row. */
static void
check_predicts(const pgml_algorithm *algo, void *state, const uint8_t *blob, void *arg)
{
	float		row[8] = {0.5f, -1, 2, 0, 1, 1, 1, 1};
	size_t		p = *(const size_t *) arg;
	size_t		n_out = algo->n_outputs(state);
	float	   *out = malloc(n_out * sizeof(float));
	pgml_err	err;

	(void) blob;
	/* a flipped class count stays loadable: more classes than the rows use */
	CHECK(n_out >= 1 && n_out <= ((size_t) 1 << 20));
	CHECK_INT(algo->predict(state, row, 1, p, out, &err), PGML_OK);
	free(out);
}

/* Truncations and flipped bytes of a saved model (p features) fail cleanly or give a working model. */
static void
check_knn_blob(const pgml_buf *buf, size_t p)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff};

	check_corrupt_blobs(&pgml_algo_knn, BLOB_WHAT, buf, masks, 3, check_predicts, &p);
}

TEST(knn_corrupt_blobs)
{
	float		x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	float		y[] = {0, 1, 2, 1, 0, 1};
	float		y2[] = {0.5f, 1, 2, 1, 0, 1, -3, 4, 5, 6, 1, 2};
	static const char *const hps[] = {"{\"n_neighbors\": 3}", "{\"weights\": \"distance\", \"p\": 1}"};

	for (int task = 0; task < 3; task++)
	{
		for (size_t h = 0; h < 2; h++)
		{
			void	   *state;
			pgml_buf	buf;
			pgml_err	err;

			if (task == 0)
				REQUIRE(knn_fit_raw(PGML_TASK_CLASSIFICATION, x, y, 6, 2, 1, 3, hps[h], &state, &err) == PGML_OK);
			else if (task == 1)
				REQUIRE(knn_fit_raw(PGML_TASK_REGRESSION, x, y, 6, 2, 1, 0, hps[h], &state, &err) == PGML_OK);
			else
				REQUIRE(knn_fit_raw(PGML_TASK_REGRESSION, x, y2, 6, 2, 2, 0, hps[h], &state, &err) == PGML_OK);
			pgml_buf_init(&buf);
			pgml_algo_knn.save(state, &buf);
			REQUIRE(pgml_buf_status(&buf, &err) == PGML_OK);
			check_knn_blob(&buf, 2);
			pgml_algo_knn.free(state);
			pgml_buf_free(&buf);
		}
	}
	/* a header claiming a huge model */
	{
		pgml_buf	b;
		void	   *state = (void *) 1;
		pgml_err	err;

		pgml_buf_init(&b);
		pgml_buf_put_u32(&b, 1);
		pgml_buf_put_u8(&b, 0);
		pgml_buf_put_u8(&b, 0);
		pgml_buf_put_f64(&b, 2);
		pgml_buf_put_u64(&b, 5);
		pgml_buf_put_u64(&b, (uint64_t) 1 << 40);
		pgml_buf_put_u64(&b, 1000);
		pgml_buf_put_u64(&b, 1);
		pgml_buf_put_u64(&b, (uint64_t) 1 << 50);
		CHECK_INT(load_blob(&pgml_algo_knn, BLOB_WHAT, b.data, b.len, &state, &err), PGML_ERR_CORRUPT);
		CHECK(state == NULL);
		pgml_buf_free(&b);
	}
}

static int	stop_calls;

static bool
stop_now(void *state)
{
	(void) state;
	stop_calls++;
	return true;
}

TEST(knn_cancel_and_models)
{
	size_t		n = 3000;
	size_t		p = 20;
	float	   *x = random_floats(n * p, 5, 2.0, 0);
	float	   *y = malloc(n * sizeof(float));
	float	   *out = malloc(n * 3 * sizeof(float));
	float	   *proba = malloc(n * 3 * sizeof(float));
	json_t	   *hp = json_loads("{\"n_neighbors\": 7, \"weights\": \"distance\"}", 0, NULL);
	pgml_model *model = NULL;
	void	   *state;
	pgml_err	err;
	pgml_data	d = {x, y, n, p, 1};

	for (size_t i = 0; i < n; i++)
		y[i] = x[i * p] > 0.3f ? 30.0f : x[i * p] > -0.3f ? 20.0f : 10.0f;
	/* predict polls the stop hook between blocks of rows */
	REQUIRE(knn_fit_raw(PGML_TASK_REGRESSION, x, y, n, p, 1, 0, "{}", &state, &err) == PGML_OK);
	stop_calls = 0;
	pgml_set_should_stop(stop_now, NULL);
	CHECK_INT(pgml_algo_knn.predict(state, x, n, p, out, &err), PGML_ERR_CANCELLED);
	pgml_set_should_stop(NULL, NULL);
	CHECK_INT(stop_calls, 1);
	pgml_algo_knn.free(state);

	/* the model layer: classes from label values, probabilities */
	REQUIRE(pgml_model_fit("knn", PGML_TASK_CLASSIFICATION, hp, &d, 1, NULL, &model, &err) == PGML_OK);
	CHECK_INT(pgml_model_n_classes(model), 3);
	CHECK_INT(pgml_model_predict(model, x, 200, out, &err), PGML_OK);
	CHECK_INT(pgml_model_predict_proba(model, x, 200, proba, &err), PGML_OK);
	for (size_t i = 0; i < 200; i++)
	{
		double		s = proba[3 * i] + proba[3 * i + 1] + proba[3 * i + 2];

		CHECK_NEAR(s, 1.0, 1e-6);
		/* every training row is its own neighbour at distance 0 */
		CHECK(out[i] == y[i]);
		CHECK(proba[3 * i + (size_t) (y[i] / 10) - 1] == 1.0f);
	}
	pgml_model_free(model);
	json_decref(hp);
	free(x);
	free(y);
	free(out);
	free(proba);
}
