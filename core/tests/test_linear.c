/*
 * Tests for the linear algorithms (src/learn/linear.c): linear, ridge, lasso, elastic_net.
 *
 * The oracle is scikit-learn 1.2: tests/fixtures/linear.json holds small deterministic problems and
 * sklearn's predictions on held-out rows (written by tools/fixtures/make_linear_fixtures.py). Tolerances,
 * as |ours - sklearn| <= tol · max(1, |sklearn|):
 *   LinearRegression, Ridge, RidgeClassifier scores   1e-4  (exact solvers on both sides)
 *   Lasso, ElasticNet                                 1e-3  (both stop on the same duality-gap rule)
 *   LogisticRegression probabilities                  1e-3  absolute (both stop on |gradient| <= tol)
 * Besides: save/load round trips, truncated and corrupted blobs, bad hyperparameters and data, the
 * effective parameters, cancellation, and agreement between the solvers' internal paths.
 */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#include "pgml/json.h"
#include "pgml/learn.h"
#include "../src/learn/algorithms.h"
#include "fixture.h"

#define FIXTURE "tests/fixtures/linear.json"
#define BLOB_WHAT "linear model"	/* how load errors name a saved model */

static const pgml_algorithm *const algos[] = {
	&pgml_algo_linear, &pgml_algo_ridge, &pgml_algo_lasso, &pgml_algo_elastic_net, NULL
};

TEST(linear_matches_sklearn)
{
	json_t	   *doc = load_fixture(FIXTURE);
	const json_t *cases;
	size_t		ci;
	const json_t *c;

	REQUIRE(doc != NULL);
	cases = json_object_get(doc, "cases");
	REQUIRE(json_array_size(cases) >= 30);
	json_array_foreach(cases, ci, c)
	{
		const char *name = json_string_value(json_object_get(c, "algorithm"));
		const char *task_name = json_string_value(json_object_get(c, "task"));
		const char *data_name = json_string_value(json_object_get(c, "data"));
		const json_t *hp = json_object_get(c, "params");
		const pgml_algorithm *algo = algo_in(algos, name);
		pgml_task	task = strcmp(task_name, "regression") == 0 ? PGML_TASK_REGRESSION : PGML_TASK_CLASSIFICATION;
		fixture_data fd;
		matrix		expect;
		char	   *hp_text = pgml_json_dumps(hp);
		void	   *state = NULL;
		float	   *pred;
		pgml_err	err;
		double		tol;
		int			relative;
		double		worst;
		char		label[512];

		REQUIRE(algo != NULL);
		REQUIRE(fixture_dataset(doc, data_name, &fd));
		REQUIRE(matrix_from_json(json_object_get(c, "pred"), &expect));
		if (strcmp(name, "lasso") == 0 || strcmp(name, "elastic_net") == 0)
			tol = 1e-3, relative = 1;
		else if (strcmp(name, "linear") == 0 && task == PGML_TASK_CLASSIFICATION)
			tol = 1e-3, relative = 0;
		else
			tol = 1e-4, relative = 1;

		if (fit_on(algo, task, &fd, hp, 42, NULL, &state, &err) != PGML_OK)
		{
			test_fail(__FILE__, __LINE__, "case %zu (%s %s on %s, %s): fit failed: %s (%s)", ci, name, task_name,
					  data_name, hp_text, err.msg, err.detail);
			goto next;
		}
		CHECK_INT(algo->n_outputs(state), expect.cols);
		pred = calloc(expect.rows * expect.cols, sizeof(float));
		CHECK_INT(algo->predict(state, fd.xt.v, fd.xt.rows, fd.xt.cols, pred, &err), PGML_OK);
		snprintf(label, sizeof(label), "case %zu (%s %s on %s, %s)", ci, name, task_name, data_name, hp_text);
		worst = check_outputs(pred, &expect, tol, relative, label);
		if (getenv("PGML_TEST_VERBOSE"))
			printf("    case %2zu %-11s %-14s %-9s %-45s worst %.1e of tolerance\n", ci, name, task_name, data_name,
				   hp_text, worst);

		/* save → load → identical predictions and parameters */
		check_save_load(algo, BLOB_WHAT, state, &fd.xt, pred, expect.cols, label);
		free(pred);
next:
		algo->free(state);
		free(expect.v);
		fixture_data_free(&fd);
		pgml_free(hp_text);
	}
	json_decref(doc);
}

TEST(linear_bad_hyperparameters)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
		pgml_status expect;
		const char *in_msg;
	}			cases[] = {
		{"ridge", PGML_TASK_REGRESSION, "{\"alpha\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"alpha\""},
		{"ridge", PGML_TASK_REGRESSION, "{\"alpha\": \"big\"}", PGML_ERR_INVALID_ARGUMENT, "\"alpha\""},
		{"ridge", PGML_TASK_REGRESSION, "{\"tol\": -0.5}", PGML_ERR_INVALID_ARGUMENT, "\"tol\""},
		{"ridge", PGML_TASK_REGRESSION, "{\"solver\": \"magic\"}", PGML_ERR_INVALID_ARGUMENT, "\"solver\""},
		{"ridge", PGML_TASK_REGRESSION, "{\"max_iter\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"max_iter\""},
		{"ridge", PGML_TASK_REGRESSION, "{\"positive\": true}", PGML_ERR_NOT_SUPPORTED, "positive"},
		{"ridge", PGML_TASK_REGRESSION, "{\"fit_intercept\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"fit_intercept\""},
		{"ridge", PGML_TASK_REGRESSION, "{\"penalty\": \"l2\"}", PGML_ERR_INVALID_ARGUMENT, "penalty"},
		{"ridge", PGML_TASK_CLASSIFICATION, "{\"class_weight\": \"balanced\"}", PGML_ERR_NOT_SUPPORTED, "balanced"},
		{"linear", PGML_TASK_REGRESSION, "{\"positive\": true}", PGML_ERR_NOT_SUPPORTED, "positive"},
		{"linear", PGML_TASK_REGRESSION, "{\"alpha\": 1}", PGML_ERR_INVALID_ARGUMENT, "alpha"},
		{"linear", PGML_TASK_REGRESSION, "{\"n_jobs\": \"all\"}", PGML_ERR_INVALID_ARGUMENT, "\"n_jobs\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"C\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"C\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"C\": -2}", PGML_ERR_INVALID_ARGUMENT, "\"C\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"max_iter\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"max_iter\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"tol\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"tol\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"l1_ratio\": 2}", PGML_ERR_INVALID_ARGUMENT, "\"l1_ratio\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"penalty\": \"l1\"}", PGML_ERR_NOT_SUPPORTED, "\"l1\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"penalty\": \"elasticnet\"}", PGML_ERR_NOT_SUPPORTED, "\"elasticnet\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"penalty\": \"l3\"}", PGML_ERR_INVALID_ARGUMENT, "\"l3\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"penalty\": 2}", PGML_ERR_INVALID_ARGUMENT, "\"penalty\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"class_weight\": \"balanced\"}", PGML_ERR_NOT_SUPPORTED, "\"balanced\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"class_weight\": {\"0\": 2}}", PGML_ERR_NOT_SUPPORTED, "class_weight"},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"solver\": \"sgd\"}", PGML_ERR_INVALID_ARGUMENT, "\"sgd\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"multi_class\": \"both\"}", PGML_ERR_INVALID_ARGUMENT, "\"multi_class\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"dual\": true}", PGML_ERR_INVALID_ARGUMENT, "dual"},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"solver\": \"liblinear\", \"multi_class\": \"multinomial\"}",
		PGML_ERR_INVALID_ARGUMENT, "multinomial"},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"intercept_scaling\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"intercept_scaling\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"random_state\": -3}", PGML_ERR_INVALID_ARGUMENT, "\"random_state\""},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"verbose\": \"loud\"}", PGML_ERR_INVALID_ARGUMENT, "\"verbose\""},
		{"lasso", PGML_TASK_REGRESSION, "{\"alpha\": -0.1}", PGML_ERR_INVALID_ARGUMENT, "\"alpha\""},
		{"lasso", PGML_TASK_REGRESSION, "{\"max_iter\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"max_iter\""},
		{"lasso", PGML_TASK_REGRESSION, "{\"max_iter\": 2.5}", PGML_ERR_INVALID_ARGUMENT, "\"max_iter\""},
		{"lasso", PGML_TASK_REGRESSION, "{\"l1_ratio\": 0.5}", PGML_ERR_INVALID_ARGUMENT, "l1_ratio"},
		{"lasso", PGML_TASK_REGRESSION, "{\"selection\": \"greedy\"}", PGML_ERR_INVALID_ARGUMENT, "\"selection\""},
		{"lasso", PGML_TASK_REGRESSION, "{\"precompute\": [[1]]}", PGML_ERR_NOT_SUPPORTED, "Gram"},
		{"lasso", PGML_TASK_REGRESSION, "{\"precompute\": \"yes\"}", PGML_ERR_INVALID_ARGUMENT, "\"precompute\""},
		{"lasso", PGML_TASK_CLASSIFICATION, "{}", PGML_ERR_NOT_SUPPORTED, "classification"},
		{"elastic_net", PGML_TASK_REGRESSION, "{\"l1_ratio\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"l1_ratio\""},
		{"elastic_net", PGML_TASK_REGRESSION, "{\"l1_ratio\": -0.1}", PGML_ERR_INVALID_ARGUMENT, "\"l1_ratio\""},
		{"elastic_net", PGML_TASK_REGRESSION, "{\"tol\": \"small\"}", PGML_ERR_INVALID_ARGUMENT, "\"tol\""},
		{"elastic_net", PGML_TASK_CLUSTERING, "{}", PGML_ERR_NOT_SUPPORTED, "clustering"},
	};
	json_t	   *doc = load_fixture(FIXTURE);

	REQUIRE(doc != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const char *data = cases[i].task == PGML_TASK_CLASSIFICATION ? "bin" : "reg";
		void	   *state = NULL;
		pgml_err	err;
		pgml_status rc;

		pgml_err_clear(&err);
		rc = fit_text(doc, cases[i].algo, cases[i].task, data, cases[i].hp, 42, NULL, &state, &err);
		if (rc != cases[i].expect || strstr(err.msg, cases[i].in_msg) == NULL)
			test_fail(__FILE__, __LINE__, "%s %s: got %s \"%s\", expected %s mentioning %s", cases[i].algo,
					  cases[i].hp, pgml_status_name(rc), err.msg, pgml_status_name(cases[i].expect),
					  cases[i].in_msg);
		CHECK(state == NULL);
		algo_in(algos, cases[i].algo)->free(state);
	}
	json_decref(doc);
}

TEST(linear_accepts_sklearn_params)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
	}			cases[] = {
		{"linear", PGML_TASK_REGRESSION, "{\"fit_intercept\": true, \"copy_X\": false, \"n_jobs\": -1, \"positive\": false}"},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"penalty\": \"none\", \"dual\": false, \"tol\": 0.001, \"C\": 2, "
			"\"fit_intercept\": true, \"intercept_scaling\": 1, \"class_weight\": null, \"random_state\": 7, "
			"\"solver\": \"newton-cg\", \"max_iter\": 50, \"multi_class\": \"auto\", \"verbose\": 0, "
		"\"warm_start\": true, \"n_jobs\": 2, \"l1_ratio\": null}"},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"solver\": \"liblinear\", \"dual\": true, \"verbose\": true}"},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"solver\": \"saga\", \"l1_ratio\": 0.5, \"multi_class\": \"ovr\"}"},
		{"ridge", PGML_TASK_REGRESSION, "{\"alpha\": 0, \"fit_intercept\": false, \"copy_X\": true, \"max_iter\": 10, "
		"\"tol\": 0.1, \"solver\": \"sag\", \"positive\": false, \"random_state\": null}"},
		{"ridge", PGML_TASK_CLASSIFICATION, "{\"alpha\": 3, \"class_weight\": null, \"solver\": \"svd\"}"},
		{"lasso", PGML_TASK_REGRESSION, "{\"alpha\": 0.5, \"precompute\": \"auto\", \"warm_start\": true, "
		"\"positive\": true, \"random_state\": 3, \"selection\": \"random\", \"copy_X\": false}"},
		{"elastic_net", PGML_TASK_REGRESSION, "{\"alpha\": 0, \"l1_ratio\": 0, \"precompute\": true, \"max_iter\": 5}"},
	};
	json_t	   *doc = load_fixture(FIXTURE);

	REQUIRE(doc != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const char *data = cases[i].task == PGML_TASK_CLASSIFICATION ? "multi" : "reg";
		void	   *state = NULL;
		pgml_err	err;

		pgml_err_clear(&err);
		if (fit_text(doc, cases[i].algo, cases[i].task, data, cases[i].hp, 42, NULL, &state, &err) != PGML_OK)
			test_fail(__FILE__, __LINE__, "%s %s: %s (%s)", cases[i].algo, cases[i].hp, err.msg, err.detail);
		algo_in(algos, cases[i].algo)->free(state);
	}
	json_decref(doc);
}

TEST(linear_effective_params)
{
	json_t	   *doc = load_fixture(FIXTURE);
	void	   *state;
	json_t	   *p;
	pgml_err	err;
	char	   *text;

	REQUIRE(doc != NULL);
	REQUIRE(fit_text(doc, "ridge", PGML_TASK_REGRESSION, "reg", "{\"alpha\": 2}", 42, NULL, &state, &err) == PGML_OK);
	p = pgml_algo_ridge.params(state);
	text = pgml_json_dumps(p);
	CHECK_STR(text, "{\"alpha\":2,\"fit_intercept\":true,\"copy_X\":true,\"max_iter\":null,\"tol\":0.0001,"
			  "\"solver\":\"auto\",\"positive\":false,\"random_state\":null}");
	pgml_free(text);
	json_decref(p);
	pgml_algo_ridge.free(state);

	REQUIRE(fit_text(doc, "linear", PGML_TASK_CLASSIFICATION, "bin", "{\"penalty\": null, \"C\": null}", 42, NULL, &state,
					 &err) == PGML_OK);
	p = pgml_algo_linear.params(state);
	text = pgml_json_dumps(p);
	CHECK_STR(text, "{\"penalty\":null,\"dual\":false,\"tol\":0.0001,\"C\":1.0,\"fit_intercept\":true,"
			  "\"intercept_scaling\":1,\"class_weight\":null,\"random_state\":null,\"solver\":\"lbfgs\","
			  "\"max_iter\":100,\"multi_class\":\"auto\",\"verbose\":0,\"warm_start\":false,\"n_jobs\":null,"
			  "\"l1_ratio\":null}");
	pgml_free(text);
	json_decref(p);
	pgml_algo_linear.free(state);

	REQUIRE(fit_text(doc, "elastic_net", PGML_TASK_REGRESSION, "reg", "{}", 42, NULL, &state, &err) == PGML_OK);
	p = pgml_algo_elastic_net.params(state);
	text = pgml_json_dumps(p);
	CHECK_STR(text, "{\"alpha\":1.0,\"l1_ratio\":0.5,\"fit_intercept\":true,\"precompute\":false,"
			  "\"max_iter\":1000,\"copy_X\":true,\"tol\":0.0001,\"warm_start\":false,\"positive\":false,"
			  "\"random_state\":null,\"selection\":\"cyclic\"}");
	pgml_free(text);
	json_decref(p);
	pgml_algo_elastic_net.free(state);

	REQUIRE(fit_text(doc, "lasso", PGML_TASK_REGRESSION, "reg", "{}", 42, NULL, &state, &err) == PGML_OK);
	p = pgml_algo_lasso.params(state);
	CHECK(json_object_get(p, "l1_ratio") == NULL);
	CHECK(json_real_value(json_object_get(p, "alpha")) == 1.0);
	json_decref(p);
	pgml_algo_lasso.free(state);
	json_decref(doc);

	/* the tables */
	CHECK(pgml_algo_linear.has_proba);
	CHECK(!pgml_algo_ridge.has_proba);
	CHECK(pgml_algo_linear.multi_target && pgml_algo_ridge.multi_target && pgml_algo_lasso.multi_target &&
		  pgml_algo_elastic_net.multi_target);
	CHECK(!(pgml_algo_lasso.tasks & PGML_TASK_BIT(PGML_TASK_CLASSIFICATION)));
	CHECK(pgml_algo_elastic_net.params_classification[0] == NULL);
}

TEST(linear_bad_data)
{
	float		x[] = {1, 2, 3, 4, 5, 6};
	float		y[] = {1, 0, 2};
	float		out[4];
	json_t	   *hp = json_object();
	pgml_fit_args reg = {PGML_TASK_REGRESSION, hp, 0, 1, NULL};
	pgml_fit_args cls = {PGML_TASK_CLASSIFICATION, hp, 2, 1, NULL};
	pgml_data	d = {x, y, 3, 2, 1};
	void	   *state = NULL;
	pgml_err	err;

	/* a class index out of range, then a fraction */
	CHECK_INT(pgml_algo_linear.fit(&cls, &d, &state, &err), PGML_ERR_DATA);
	CHECK(strstr(err.msg, "class") != NULL);
	y[2] = 0.5f;
	CHECK_INT(pgml_algo_ridge.fit(&cls, &d, &state, &err), PGML_ERR_DATA);
	y[2] = 1;
	/* non-finite features and targets */
	x[3] = NAN;
	CHECK_INT(pgml_algo_lasso.fit(&reg, &d, &state, &err), PGML_ERR_DATA);
	CHECK_STR(err.detail, "Feature 2 of row 2 is nan.");
	x[3] = 4;
	y[0] = INFINITY;
	CHECK_INT(pgml_algo_linear.fit(&reg, &d, &state, &err), PGML_ERR_DATA);
	y[0] = 1;
	/* empty data, no features */
	d.n_rows = 0;
	CHECK_INT(pgml_algo_ridge.fit(&reg, &d, &state, &err), PGML_ERR_DATA);
	d.n_rows = 3;
	d.n_features = 0;
	CHECK_INT(pgml_algo_ridge.fit(&reg, &d, &state, &err), PGML_ERR_DATA);
	d.n_features = 2;
	CHECK(state == NULL);
	/* one row: the intercept is the target */
	d.n_rows = 1;
	REQUIRE(pgml_algo_linear.fit(&reg, &d, &state, &err) == PGML_OK);
	CHECK_INT(pgml_algo_linear.predict(state, x + 2, 2, 2, out, &err), PGML_OK);
	CHECK_NEAR(out[0], 1, 1e-6);
	CHECK_NEAR(out[1], 1, 1e-6);
	/* the wrong number of features */
	CHECK_INT(pgml_algo_linear.predict(state, x, 2, 3, out, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "wrong number of features");
	pgml_algo_linear.free(state);
	pgml_algo_linear.free(NULL);
	json_decref(hp);
}

TEST(linear_corrupt_blobs)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *data;
		const char *hp;
	}			cases[] = {
		{"linear", PGML_TASK_REGRESSION, "reg2", "{}"},
		{"linear", PGML_TASK_CLASSIFICATION, "bin", "{}"},
		{"linear", PGML_TASK_CLASSIFICATION, "multi", "{}"},
		{"linear", PGML_TASK_CLASSIFICATION, "multi", "{\"multi_class\": \"ovr\"}"},
		{"ridge", PGML_TASK_CLASSIFICATION, "bin", "{}"},
		{"ridge", PGML_TASK_CLASSIFICATION, "multi", "{}"},
		{"lasso", PGML_TASK_REGRESSION, "reg", "{}"},
		{"elastic_net", PGML_TASK_REGRESSION, "reg", "{}"},
	};
	json_t	   *doc = load_fixture(FIXTURE);

	REQUIRE(doc != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const pgml_algorithm *algo = algo_in(algos, cases[i].algo);
		void	   *state;
		pgml_err	err;
		pgml_buf	buf;

		REQUIRE(fit_text(doc, cases[i].algo, cases[i].task, cases[i].data, cases[i].hp, 42, NULL, &state, &err) == PGML_OK);
		REQUIRE(save_state(algo, state, &buf));
		check_hostile(algo, BLOB_WHAT, &buf, NULL, strcmp(cases[i].data, "multi") == 0 ? 5 : strcmp(cases[i].data, "bin") == 0 ? 6 : 8, false);
		algo->free(state);
		/* another algorithm's blob */
		if (algo != &pgml_algo_ridge)
		{
			void	   *other = (void *) 1;

			CHECK_INT(load_blob(&pgml_algo_ridge, BLOB_WHAT, buf.data, buf.len, &other, &err), PGML_ERR_CORRUPT);
			CHECK(other == NULL);
		}
		pgml_buf_free(&buf);
	}
	json_decref(doc);

	/* a header claiming a huge model: rejected before any allocation */
	{
		pgml_buf	b;
		void	   *state = (void *) 1;
		pgml_err	err;

		pgml_buf_init(&b);
		pgml_buf_put_u32(&b, 1);
		pgml_buf_put_u8(&b, 3);	/* ridge regression */
		pgml_buf_put_u8(&b, 0);
		pgml_buf_put_u8(&b, 1);
		pgml_buf_put_u64(&b, (uint64_t) 1 << 26);
		pgml_buf_put_u64(&b, (uint64_t) 1 << 10);
		pgml_buf_put_u64(&b, (uint64_t) 1 << 10);
		pgml_buf_put_u64(&b, (uint64_t) 1 << 36);
		CHECK_INT(load_blob(&pgml_algo_ridge, BLOB_WHAT, b.data, b.len, &state, &err), PGML_ERR_CORRUPT);
		CHECK(state == NULL);
		CHECK(strstr(err.msg, "corrupt") != NULL);
		/* plausible dimensions, array count beyond the data */
		pgml_buf_free(&b);
		pgml_buf_init(&b);
		pgml_buf_put_u32(&b, 1);
		pgml_buf_put_u8(&b, 3);
		pgml_buf_put_u8(&b, 0);
		pgml_buf_put_u8(&b, 1);
		pgml_buf_put_u64(&b, 1000);
		pgml_buf_put_u64(&b, 1000);
		pgml_buf_put_u64(&b, 1000);
		pgml_buf_put_u64(&b, 1000000);
		state = (void *) 1;
		CHECK_INT(load_blob(&pgml_algo_ridge, BLOB_WHAT, b.data, b.len, &state, &err), PGML_ERR_CORRUPT);
		CHECK(state == NULL);
		/* an empty reader with no error sink at all */
		{
			pgml_reader r;

			pgml_reader_init(&r, NULL, 0, "linear model", NULL);
			state = (void *) 1;
			CHECK_INT(pgml_algo_lasso.load(&r, &state, NULL), PGML_ERR_CORRUPT);
			CHECK(state == NULL);
		}
		pgml_buf_free(&b);
	}
}

/* A problem big enough for several blocks: n × p, y = x·w + 1 + noise; x_test the last 100 rows. */
static void
make_problem(size_t n, size_t p, fixture_data *fd)
{
	uint64_t	s = 12345;

	memset(fd, 0, sizeof(*fd));
	fd->x.rows = n;
	fd->x.cols = p;
	fd->x.v = malloc(n * p * sizeof(float));
	fd->y.rows = n;
	fd->y.cols = 1;
	fd->y.v = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
	{
		double		t = 1;

		for (size_t j = 0; j < p; j++)
		{
			double		u;

			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			u = (double) (s >> 11) / 9007199254740992.0 - 0.5;
			fd->x.v[i * p + j] = (float) (u * (1.0 + (double) j) + (double) j);
			t += fd->x.v[i * p + j] * (j % 3 == 0 ? 0.0 : 1.0 + 0.1 * (double) j);
		}
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		fd->y.v[i] = (float) (t + ((double) (s >> 11) / 9007199254740992.0 - 0.5));
	}
	fd->xt.rows = 100;
	fd->xt.cols = p;
	fd->xt.v = malloc(100 * p * sizeof(float));
	memcpy(fd->xt.v, fd->x.v + (n - 100) * p, 100 * p * sizeof(float));
}

/* Predictions of algo fitted with hp (JSON text) on fd, into a new array (NULL on failure). */
static float *
fit_predict(const pgml_algorithm *algo, const fixture_data *fd, const char *hp_text)
{
	json_t	   *hp = json_loads(hp_text, 0, NULL);
	void	   *state = NULL;
	pgml_err	err;
	float	   *out = calloc(fd->xt.rows, sizeof(float));

	if (fit_on(algo, PGML_TASK_REGRESSION, fd, hp, 42, NULL, &state, &err) != PGML_OK ||
		algo->predict(state, fd->xt.v, fd->xt.rows, fd->xt.cols, out, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "%s %s: %s", algo->name, hp_text, err.msg);
		free(out);
		out = NULL;
	}
	algo->free(state);
	json_decref(hp);
	return out;
}

/* max |a - b| / max(1, |b|) over n values. */
static double
max_rel_diff(const float *a, const float *b, size_t n)
{
	double		worst = 0;

	for (size_t i = 0; i < n; i++)
	{
		double		d = fabs((double) a[i] - b[i]) / fmax(1.0, fabs((double) b[i]));

		if (d > worst)
			worst = d;
	}
	return worst;
}

TEST(linear_solver_paths_agree)
{
	fixture_data fd;
	float	   *ols;
	float	   *ridge0;
	float	   *lasso_cyclic;
	float	   *lasso_random;
	float	   *lasso_tiny;

	/* least squares through several QR blocks vs ridge α = 0 through the normal equations */
	make_problem(20000, 10, &fd);
	ols = fit_predict(&pgml_algo_linear, &fd, "{}");
	ridge0 = fit_predict(&pgml_algo_ridge, &fd, "{\"alpha\": 0}");
	lasso_cyclic = fit_predict(&pgml_algo_lasso, &fd, "{\"alpha\": 0.01, \"tol\": 1e-10, \"max_iter\": 100000}");
	lasso_random = fit_predict(&pgml_algo_lasso, &fd,
							   "{\"alpha\": 0.01, \"tol\": 1e-10, \"max_iter\": 100000, \"selection\": \"random\"}");
	lasso_tiny = fit_predict(&pgml_algo_elastic_net, &fd,
							 "{\"alpha\": 1e-9, \"tol\": 1e-12, \"max_iter\": 100000}");
	REQUIRE(ols && ridge0 && lasso_cyclic && lasso_random && lasso_tiny);
	CHECK(max_rel_diff(ridge0, ols, 100) < 1e-6);
	CHECK(max_rel_diff(lasso_random, lasso_cyclic, 100) < 1e-5);
	CHECK(max_rel_diff(lasso_tiny, ols, 100) < 1e-5);
	free(ols);
	free(ridge0);
	free(lasso_cyclic);
	free(lasso_random);
	free(lasso_tiny);

	/* a constant column: ridge α = 0 falls back on the SVD and agrees with least squares */
	for (size_t i = 0; i < fd.x.rows; i++)
		fd.x.v[i * 10 + 4] = 3.0f;
	for (size_t i = 0; i < fd.xt.rows; i++)
		fd.xt.v[i * 10 + 4] = 3.0f;
	ols = fit_predict(&pgml_algo_linear, &fd, "{}");
	ridge0 = fit_predict(&pgml_algo_ridge, &fd, "{\"alpha\": 0}");
	REQUIRE(ols && ridge0);
	CHECK(max_rel_diff(ridge0, ols, 100) < 1e-6);
	free(ols);
	free(ridge0);
	fixture_data_free(&fd);
}

static int	stop_calls;
static int	stop_after;

/* A stop hook that fires after stop_after polls. */
static bool
stop_hook(void *state)
{
	(void) state;
	return ++stop_calls > stop_after;
}

/* qsort order of floats. */
static int
compare_floats(const void *a, const void *b)
{
	float		x = *(const float *) a;
	float		y = *(const float *) b;

	return (x > y) - (x < y);
}

TEST(linear_cancel)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
		int			after;
	}			cases[] = {
		{"lasso", PGML_TASK_REGRESSION, "{\"alpha\": 1e-6, \"tol\": 0, \"max_iter\": 100000000}", 3},
		{"elastic_net", PGML_TASK_REGRESSION, "{\"alpha\": 1e-6, \"tol\": 0, \"max_iter\": 100000000}", 0},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"tol\": 0, \"max_iter\": 100000000, \"penalty\": null}", 5},
		{"linear", PGML_TASK_CLASSIFICATION, "{\"multi_class\": \"multinomial\", \"tol\": 0, \"max_iter\": 1000000}", 0},
		{"linear", PGML_TASK_REGRESSION, "{}", 0},
		{"ridge", PGML_TASK_REGRESSION, "{}", 0},
	};
	fixture_data fd;

	make_problem(3000, 40, &fd);
	{
		/* usable as classes too: above or below the median target */
		float	   *sorted = malloc(fd.y.rows * sizeof(float));
		float		median;

		memcpy(sorted, fd.y.v, fd.y.rows * sizeof(float));
		qsort(sorted, fd.y.rows, sizeof(float), compare_floats);
		median = sorted[fd.y.rows / 2];
		for (size_t i = 0; i < fd.y.rows; i++)
			fd.y.v[i] = fd.y.v[i] > median ? 1.0f : 0.0f;
		free(sorted);
	}
	fd.n_classes = 2;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const pgml_algorithm *algo = algo_in(algos, cases[i].algo);
		json_t	   *hp = json_loads(cases[i].hp, 0, NULL);
		void	   *state = NULL;
		pgml_err	err;
		pgml_status rc;

		stop_calls = 0;
		stop_after = cases[i].after;
		pgml_set_should_stop(stop_hook, NULL);
		rc = fit_on(algo, cases[i].task, &fd, hp, 42, NULL, &state, &err);
		pgml_set_should_stop(NULL, NULL);
		if (rc != PGML_ERR_CANCELLED)
			test_fail(__FILE__, __LINE__, "%s %s: %s after %d polls", cases[i].algo, cases[i].hp,
					  pgml_status_name(rc), stop_calls);
		CHECK(state == NULL);
		CHECK(stop_calls == cases[i].after + 1);
		algo->free(state);
		json_decref(hp);
	}
	CHECK(!pgml_should_stop());
	fixture_data_free(&fd);
}
