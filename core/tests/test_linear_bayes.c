/*
 * Tests for src/learn/linear_bayes.c: bayesian_ridge, automatic_relevance_determination, least_angle,
 * lasso_least_angle, orthogonal_matching_pursuit, kernel_ridge, gaussian_process.
 *
 * The oracle is scikit-learn 1.2: tests/fixtures/linear_bayes.json holds small deterministic problems and
 * sklearn's predictions on held-out rows (written by tools/fixtures/make_linear_bayes_fixtures.py). Every
 * algorithm here is deterministic and follows sklearn's computation step by step, so predictions must agree
 * within 1e-4 · max(1, |sklearn|) (classification probabilities: 1e-4 absolute). Besides: save/load round
 * trips, every truncation of a saved model and byte flips, bad hyperparameters and data, the effective
 * parameters, cancellation of the iterative fits, and the model-level API (per-target fits, probabilities).
 */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#include "pgml/json.h"
#include "pgml/learn.h"
#include "../src/learn/algorithms.h"
#include "fixture.h"

#define FIXTURE "tests/fixtures/linear_bayes.json"
#define BLOB_WHAT "model"	/* how load errors name a saved model */

static const pgml_algorithm *const all_algos[] = {
	&pgml_algo_bayesian_ridge, &pgml_algo_automatic_relevance_determination, &pgml_algo_least_angle,
	&pgml_algo_lasso_least_angle, &pgml_algo_orthogonal_matching_pursuit, &pgml_algo_kernel_ridge,
	&pgml_algo_gaussian_process, NULL
};

#define N_ALGOS (sizeof(all_algos) / sizeof(all_algos[0]) - 1)

TEST(linear_bayes_matches_sklearn)
{
	json_t	   *doc = load_fixture(FIXTURE);
	const json_t *cases;
	size_t		ci;
	const json_t *c;
	int			seen[N_ALGOS] = {0};

	REQUIRE(doc != NULL);
	cases = json_object_get(doc, "cases");
	REQUIRE(json_array_size(cases) >= 50);
	json_array_foreach(cases, ci, c)
	{
		const char *name = json_string_value(json_object_get(c, "algorithm"));
		const char *task_name = json_string_value(json_object_get(c, "task"));
		const char *data_name = json_string_value(json_object_get(c, "data"));
		const json_t *hp = json_object_get(c, "params");
		const pgml_algorithm *algo = algo_in(all_algos, name);
		pgml_task	task = strcmp(task_name, "regression") == 0 ? PGML_TASK_REGRESSION : PGML_TASK_CLASSIFICATION;
		fixture_data fd;
		matrix		expect;
		char	   *hp_text = pgml_json_dumps(hp);
		void	   *state = NULL;
		void	   *loaded = NULL;
		float	   *pred;
		float	   *pred2;
		pgml_buf	buf;
		pgml_err	err;
		double		tol = 1e-4;
		int			relative = task == PGML_TASK_REGRESSION;
		double		worst;
		char		label[512];
		json_t	   *p1;
		json_t	   *p2;

		REQUIRE(algo != NULL);
		for (size_t i = 0; i < N_ALGOS; i++)
			if (all_algos[i] == algo)
				seen[i]++;
		REQUIRE(fixture_dataset(doc, data_name, &fd));
		REQUIRE(matrix_from_json(json_object_get(c, "pred"), &expect));
		if (fit_on(algo, task, &fd, hp, 42, NULL, &state, &err) != PGML_OK)
		{
			test_fail(__FILE__, __LINE__, "case %zu (%s %s on %s, %s): fit failed: %s (%s)", ci, name, task_name,
					  data_name, hp_text, err.msg, err.detail);
			goto next;
		}
		CHECK_INT(algo->n_outputs(state), expect.cols);
		pred = calloc(expect.rows * expect.cols, sizeof(float));
		pred2 = calloc(expect.rows * expect.cols, sizeof(float));
		CHECK_INT(algo->predict(state, fd.xt.v, fd.xt.rows, fd.xt.cols, pred, &err), PGML_OK);
		snprintf(label, sizeof(label), "case %zu (%s %s on %s, %s)", ci, name, task_name, data_name, hp_text);
		worst = check_outputs(pred, &expect, tol, relative, label);
		if (getenv("PGML_TEST_VERBOSE"))
			printf("    case %2zu %-33s %-9s %-62s worst %.1e of tolerance\n", ci, name, data_name, hp_text, worst);

		/* save → load → identical predictions and parameters */
		REQUIRE(save_state(algo, state, &buf));
		if (load_blob(algo, BLOB_WHAT, buf.data, buf.len, &loaded, &err) != PGML_OK)
			test_fail(__FILE__, __LINE__, "case %zu (%s on %s): load failed: %s (%s)", ci, name, data_name, err.msg,
					  err.detail);
		if (loaded != NULL)
		{
			CHECK_INT(algo->predict(loaded, fd.xt.v, fd.xt.rows, fd.xt.cols, pred2, &err), PGML_OK);
			for (size_t i = 0; i < expect.rows * expect.cols; i++)
				if (pred[i] != pred2[i])
				{
					test_fail(__FILE__, __LINE__, "case %zu (%s on %s): after load, output %zu is %.9g, was %.9g", ci,
							  name, data_name, i, pred2[i], pred[i]);
					break;
				}
			p1 = algo->params(state);
			p2 = algo->params(loaded);
			CHECK(p1 != NULL && p2 != NULL && json_equal(p1, p2));
			json_decref(p1);
			json_decref(p2);
		}
		algo->free(loaded);
		pgml_buf_free(&buf);
		free(pred);
		free(pred2);
next:
		algo->free(state);
		free(expect.v);
		fixture_data_free(&fd);
		pgml_free(hp_text);
	}
	for (size_t i = 0; i < N_ALGOS; i++)
		CHECK(seen[i] >= 4);
	json_decref(doc);
}

TEST(linear_bayes_bad_hyperparameters)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
		pgml_status expect;
		const char *in_msg;
	}			cases[] = {
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"n_iter\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"n_iter\""},
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"n_iter\": 2.5}", PGML_ERR_INVALID_ARGUMENT, "\"n_iter\""},
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"tol\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"tol\""},
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"alpha_1\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"alpha_1\""},
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"lambda_2\": \"x\"}", PGML_ERR_INVALID_ARGUMENT, "\"lambda_2\""},
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"alpha_init\": -2}", PGML_ERR_INVALID_ARGUMENT, "\"alpha_init\""},
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"alpha_init\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"alpha_init\""},
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"lambda_init\": true}", PGML_ERR_INVALID_ARGUMENT, "\"lambda_init\""},
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"compute_score\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"compute_score\""},
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"verbose\": \"loud\"}", PGML_ERR_INVALID_ARGUMENT, "\"verbose\""},
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"threshold_lambda\": 5}", PGML_ERR_INVALID_ARGUMENT, "threshold_lambda"},
		{"bayesian_ridge", PGML_TASK_CLASSIFICATION, "{}", PGML_ERR_NOT_SUPPORTED, "classification"},
		{"automatic_relevance_determination", PGML_TASK_REGRESSION, "{\"tol\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"tol\""},
		{"automatic_relevance_determination", PGML_TASK_REGRESSION, "{\"threshold_lambda\": -5}",
		PGML_ERR_INVALID_ARGUMENT, "\"threshold_lambda\""},
		{"automatic_relevance_determination", PGML_TASK_REGRESSION, "{\"alpha_init\": 1}", PGML_ERR_INVALID_ARGUMENT, "alpha_init"},
		{"automatic_relevance_determination", PGML_TASK_REGRESSION, "{\"copy_X\": 3}", PGML_ERR_INVALID_ARGUMENT, "\"copy_X\""},
		{"least_angle", PGML_TASK_REGRESSION, "{\"n_nonzero_coefs\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"n_nonzero_coefs\""},
		{"least_angle", PGML_TASK_REGRESSION, "{\"eps\": -1e-9}", PGML_ERR_INVALID_ARGUMENT, "\"eps\""},
		{"least_angle", PGML_TASK_REGRESSION, "{\"normalize\": true}", PGML_ERR_NOT_SUPPORTED, "normalize"},
		{"least_angle", PGML_TASK_REGRESSION, "{\"normalize\": \"yes\"}", PGML_ERR_INVALID_ARGUMENT, "\"normalize\""},
		{"least_angle", PGML_TASK_REGRESSION, "{\"precompute\": [[1]]}", PGML_ERR_NOT_SUPPORTED, "Gram"},
		{"least_angle", PGML_TASK_REGRESSION, "{\"precompute\": \"always\"}", PGML_ERR_INVALID_ARGUMENT, "\"precompute\""},
		{"least_angle", PGML_TASK_REGRESSION, "{\"jitter\": -0.5}", PGML_ERR_INVALID_ARGUMENT, "\"jitter\""},
		{"least_angle", PGML_TASK_REGRESSION, "{\"random_state\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"random_state\""},
		{"least_angle", PGML_TASK_REGRESSION, "{\"fit_path\": \"no\"}", PGML_ERR_INVALID_ARGUMENT, "\"fit_path\""},
		{"least_angle", PGML_TASK_REGRESSION, "{\"alpha\": 1}", PGML_ERR_INVALID_ARGUMENT, "alpha"},
		{"least_angle", PGML_TASK_REGRESSION, "{\"positive\": true}", PGML_ERR_INVALID_ARGUMENT, "positive"},
		{"lasso_least_angle", PGML_TASK_REGRESSION, "{\"alpha\": -0.1}", PGML_ERR_INVALID_ARGUMENT, "\"alpha\""},
		{"lasso_least_angle", PGML_TASK_REGRESSION, "{\"max_iter\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"max_iter\""},
		{"lasso_least_angle", PGML_TASK_REGRESSION, "{\"positive\": \"yes\"}", PGML_ERR_INVALID_ARGUMENT, "\"positive\""},
		{"lasso_least_angle", PGML_TASK_REGRESSION, "{\"n_nonzero_coefs\": 3}", PGML_ERR_INVALID_ARGUMENT, "n_nonzero_coefs"},
		{"orthogonal_matching_pursuit", PGML_TASK_REGRESSION, "{\"n_nonzero_coefs\": 0}", PGML_ERR_INVALID_ARGUMENT,
		"\"n_nonzero_coefs\""},
		{"orthogonal_matching_pursuit", PGML_TASK_REGRESSION, "{\"n_nonzero_coefs\": 9}", PGML_ERR_INVALID_ARGUMENT,
		"\"n_nonzero_coefs\""},
		{"orthogonal_matching_pursuit", PGML_TASK_REGRESSION, "{\"tol\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"tol\""},
		{"orthogonal_matching_pursuit", PGML_TASK_REGRESSION, "{\"normalize\": true}", PGML_ERR_NOT_SUPPORTED, "normalize"},
		{"orthogonal_matching_pursuit", PGML_TASK_REGRESSION, "{\"precompute\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"precompute\""},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"alpha\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"alpha\""},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"alpha\": [1, 2]}", PGML_ERR_NOT_SUPPORTED, "alpha"},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"kernel\": \"magic\"}", PGML_ERR_INVALID_ARGUMENT, "\"kernel\""},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"kernel\": \"precomputed\"}", PGML_ERR_NOT_SUPPORTED, "precomputed"},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"gamma\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"gamma\""},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"degree\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"degree\""},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"degree\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"degree\""},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"coef0\": \"one\"}", PGML_ERR_INVALID_ARGUMENT, "\"coef0\""},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"kernel_params\": 3}", PGML_ERR_INVALID_ARGUMENT, "\"kernel_params\""},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"kernel\": \"chi2\"}", PGML_ERR_DATA, "non-negative"},
		{"gaussian_process", PGML_TASK_REGRESSION, "{\"kernel\": \"RBF\"}", PGML_ERR_NOT_SUPPORTED, "kernel"},
		{"gaussian_process", PGML_TASK_REGRESSION, "{\"alpha\": -1e-3}", PGML_ERR_INVALID_ARGUMENT, "\"alpha\""},
		{"gaussian_process", PGML_TASK_REGRESSION, "{\"alpha\": [0.1]}", PGML_ERR_NOT_SUPPORTED, "alpha"},
		{"gaussian_process", PGML_TASK_REGRESSION, "{\"optimizer\": \"adam\"}", PGML_ERR_INVALID_ARGUMENT, "\"optimizer\""},
		{"gaussian_process", PGML_TASK_REGRESSION, "{\"n_restarts_optimizer\": -1}", PGML_ERR_INVALID_ARGUMENT,
		"\"n_restarts_optimizer\""},
		{"gaussian_process", PGML_TASK_REGRESSION, "{\"normalize_y\": \"yes\"}", PGML_ERR_INVALID_ARGUMENT, "\"normalize_y\""},
		{"gaussian_process", PGML_TASK_REGRESSION, "{\"random_state\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"random_state\""},
		{"gaussian_process", PGML_TASK_REGRESSION, "{\"max_iter_predict\": 5}", PGML_ERR_INVALID_ARGUMENT, "max_iter_predict"},
		{"gaussian_process", PGML_TASK_CLASSIFICATION, "{\"kernel\": {\"rbf\": 1}}", PGML_ERR_NOT_SUPPORTED, "kernel"},
		{"gaussian_process", PGML_TASK_CLASSIFICATION, "{\"max_iter_predict\": 0}", PGML_ERR_INVALID_ARGUMENT,
		"\"max_iter_predict\""},
		{"gaussian_process", PGML_TASK_CLASSIFICATION, "{\"multi_class\": \"crammer\"}", PGML_ERR_INVALID_ARGUMENT,
		"\"multi_class\""},
		{"gaussian_process", PGML_TASK_CLASSIFICATION, "{\"multi_class\": \"one_vs_one\"}", PGML_ERR_NOT_SUPPORTED,
		"one_vs_one"},
		{"gaussian_process", PGML_TASK_CLASSIFICATION, "{\"warm_start\": 2}", PGML_ERR_INVALID_ARGUMENT, "\"warm_start\""},
		{"gaussian_process", PGML_TASK_CLASSIFICATION, "{\"n_jobs\": \"all\"}", PGML_ERR_INVALID_ARGUMENT, "\"n_jobs\""},
		{"gaussian_process", PGML_TASK_CLASSIFICATION, "{\"normalize_y\": true}", PGML_ERR_INVALID_ARGUMENT, "normalize_y"},
		{"gaussian_process", PGML_TASK_CLUSTERING, "{}", PGML_ERR_NOT_SUPPORTED, "clustering"},
	};
	json_t	   *doc = load_fixture(FIXTURE);

	REQUIRE(doc != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const char *data = cases[i].task == PGML_TASK_CLASSIFICATION ? "multi" :
			strcmp(cases[i].algo, "kernel_ridge") == 0 || strcmp(cases[i].algo, "gaussian_process") == 0 ? "smooth" :
			"reg";
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
		algo_in(all_algos, cases[i].algo)->free(state);
	}
	json_decref(doc);
}

TEST(linear_bayes_accepts_sklearn_params)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *data;
		const char *hp;
	}			cases[] = {
		{"bayesian_ridge", PGML_TASK_REGRESSION, "reg", "{\"n_iter\": 300, \"tol\": 0.001, \"alpha_1\": 1e-6, "
			"\"alpha_2\": 1e-6, \"lambda_1\": 1e-6, \"lambda_2\": 1e-6, \"alpha_init\": null, \"lambda_init\": null, "
		"\"compute_score\": true, \"fit_intercept\": true, \"copy_X\": false, \"verbose\": true}"},
		{"bayesian_ridge", PGML_TASK_REGRESSION, "reg", "{\"alpha_init\": 1e-9, \"lambda_init\": 0}"},
		{"automatic_relevance_determination", PGML_TASK_REGRESSION, "reg", "{\"n_iter\": 5, \"tol\": 0, "
			"\"alpha_1\": 0, \"alpha_2\": 0, \"lambda_1\": 0, \"lambda_2\": 0, \"compute_score\": false, "
		"\"threshold_lambda\": 0, \"fit_intercept\": false, \"copy_X\": true, \"verbose\": 2}"},
		{"least_angle", PGML_TASK_REGRESSION, "reg", "{\"fit_intercept\": true, \"verbose\": 1, "
			"\"normalize\": \"deprecated\", \"precompute\": true, \"n_nonzero_coefs\": 1000, \"eps\": 0, "
		"\"copy_X\": true, \"fit_path\": false, \"jitter\": null, \"random_state\": null}"},
		{"least_angle", PGML_TASK_REGRESSION, "wide", "{\"normalize\": false, \"precompute\": \"auto\", "
		"\"jitter\": 0.01}"},
		{"lasso_least_angle", PGML_TASK_REGRESSION, "reg", "{\"alpha\": 0, \"max_iter\": 0, \"positive\": true, "
		"\"precompute\": false, \"eps\": 1e-10, \"fit_path\": true, \"jitter\": 0, \"random_state\": 7}"},
		{"lasso_least_angle", PGML_TASK_REGRESSION, "wide", "{\"alpha\": 0, \"verbose\": true}"},
		{"orthogonal_matching_pursuit", PGML_TASK_REGRESSION, "reg", "{\"n_nonzero_coefs\": 20, \"tol\": 0, "
		"\"fit_intercept\": true, \"normalize\": \"deprecated\", \"precompute\": true}"},
		{"orthogonal_matching_pursuit", PGML_TASK_REGRESSION, "wide", "{\"tol\": 0.5}"},
		{"kernel_ridge", PGML_TASK_REGRESSION, "smooth", "{\"alpha\": 0, \"kernel\": \"sigmoid\", \"gamma\": 2, "
		"\"degree\": 0, \"coef0\": -1, \"kernel_params\": {\"unused\": 1}}"},
		{"kernel_ridge", PGML_TASK_REGRESSION, "smooth", "{\"kernel\": \"linear\", \"alpha\": 0}"},
		{"gaussian_process", PGML_TASK_REGRESSION, "smooth2", "{\"kernel\": null, \"alpha\": 0.5, "
			"\"optimizer\": null, \"n_restarts_optimizer\": 3, \"normalize_y\": false, \"copy_X_train\": false, "
		"\"random_state\": 0}"},
		{"gaussian_process", PGML_TASK_CLASSIFICATION, "bin", "{\"kernel\": null, \"optimizer\": \"fmin_l_bfgs_b\", "
			"\"n_restarts_optimizer\": 0, \"max_iter_predict\": 1, \"warm_start\": true, \"copy_X_train\": true, "
		"\"random_state\": 3, \"multi_class\": \"one_vs_one\", \"n_jobs\": -1}"},
	};
	json_t	   *doc = load_fixture(FIXTURE);

	REQUIRE(doc != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		void	   *state = NULL;
		pgml_err	err;

		pgml_err_clear(&err);
		if (fit_text(doc, cases[i].algo, cases[i].task, cases[i].data, cases[i].hp, 42, NULL, &state, &err) != PGML_OK)
			test_fail(__FILE__, __LINE__, "%s %s: %s (%s)", cases[i].algo, cases[i].hp, err.msg, err.detail);
		algo_in(all_algos, cases[i].algo)->free(state);
	}
	json_decref(doc);
}

TEST(linear_bayes_effective_params)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *data;
		const char *hp;
		const char *expect;
	}			cases[] = {
		{"bayesian_ridge", PGML_TASK_REGRESSION, "reg", "{\"tol\": 0.01}",
			"{\"n_iter\":300,\"tol\":0.01,\"alpha_1\":9.9999999999999995e-7,\"alpha_2\":9.9999999999999995e-7,"
			"\"lambda_1\":9.9999999999999995e-7,\"lambda_2\":9.9999999999999995e-7,\"alpha_init\":null,\"lambda_init\":null,\"compute_score\":false,"
		"\"fit_intercept\":true,\"copy_X\":true,\"verbose\":false}"},
		{"automatic_relevance_determination", PGML_TASK_REGRESSION, "reg", "{}",
			"{\"n_iter\":300,\"tol\":0.001,\"alpha_1\":9.9999999999999995e-7,\"alpha_2\":9.9999999999999995e-7,"
			"\"lambda_1\":9.9999999999999995e-7,\"lambda_2\":9.9999999999999995e-7,\"compute_score\":false,\"threshold_lambda\":10000.0,\"fit_intercept\":true,"
		"\"copy_X\":true,\"verbose\":false}"},
		{"least_angle", PGML_TASK_REGRESSION, "reg", "{\"n_nonzero_coefs\": 4}",
			"{\"fit_intercept\":true,\"verbose\":false,\"normalize\":\"deprecated\",\"precompute\":\"auto\","
			"\"n_nonzero_coefs\":4,\"eps\":2.2204460492503131e-16,\"copy_X\":true,\"fit_path\":true,"
		"\"jitter\":null,\"random_state\":null}"},
		{"lasso_least_angle", PGML_TASK_REGRESSION, "reg", "{}",
			"{\"alpha\":1.0,\"fit_intercept\":true,\"verbose\":false,\"normalize\":\"deprecated\","
			"\"precompute\":\"auto\",\"max_iter\":500,\"eps\":2.2204460492503131e-16,\"copy_X\":true,"
		"\"fit_path\":true,\"positive\":false,\"jitter\":null,\"random_state\":null}"},
		{"orthogonal_matching_pursuit", PGML_TASK_REGRESSION, "reg", "{}",
			"{\"n_nonzero_coefs\":null,\"tol\":null,\"fit_intercept\":true,\"normalize\":\"deprecated\","
		"\"precompute\":\"auto\"}"},
		{"kernel_ridge", PGML_TASK_REGRESSION, "smooth", "{\"kernel\": \"rbf\"}",
		"{\"alpha\":1,\"kernel\":\"rbf\",\"gamma\":null,\"degree\":3,\"coef0\":1,\"kernel_params\":null}"},
		{"gaussian_process", PGML_TASK_REGRESSION, "smooth", "{\"optimizer\": null}",
			"{\"kernel\":null,\"alpha\":1e-10,\"optimizer\":null,\"n_restarts_optimizer\":0,"
		"\"normalize_y\":false,\"copy_X_train\":true,\"random_state\":null}"},
		{"gaussian_process", PGML_TASK_CLASSIFICATION, "bin", "{}",
			"{\"kernel\":null,\"optimizer\":\"fmin_l_bfgs_b\",\"n_restarts_optimizer\":0,\"max_iter_predict\":100,"
			"\"warm_start\":false,\"copy_X_train\":true,\"random_state\":null,\"multi_class\":\"one_vs_rest\","
		"\"n_jobs\":null}"},
	};
	json_t	   *doc = load_fixture(FIXTURE);

	REQUIRE(doc != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *text = params_text(doc, cases[i].algo, cases[i].task, cases[i].data, cases[i].hp, 42);

		CHECK_STR(text, cases[i].expect);
		pgml_free(text);
	}
	json_decref(doc);

	/* the tables */
	for (size_t i = 0; i < N_ALGOS; i++)
	{
		CHECK(pgml_algorithm_find(all_algos[i]->name) == all_algos[i]);
		CHECK(all_algos[i]->tasks & PGML_TASK_BIT(PGML_TASK_REGRESSION));
		CHECK(all_algos[i]->params_other[0] == NULL);
	}
	CHECK(pgml_algo_gaussian_process.has_proba);
	CHECK(pgml_algo_gaussian_process.tasks & PGML_TASK_BIT(PGML_TASK_CLASSIFICATION));
	CHECK(!(pgml_algo_kernel_ridge.tasks & PGML_TASK_BIT(PGML_TASK_CLASSIFICATION)));
	CHECK(pgml_algo_kernel_ridge.multi_target && pgml_algo_least_angle.multi_target &&
		  pgml_algo_orthogonal_matching_pursuit.multi_target && pgml_algo_gaussian_process.multi_target);
	CHECK(!pgml_algo_bayesian_ridge.multi_target && !pgml_algo_automatic_relevance_determination.multi_target);
}

TEST(linear_bayes_bad_data)
{
	float		x[] = {1, 2, 3, 4, 5, 6, 7, 9};
	float		y[] = {1, 0, 2, 1};
	float		out[8];
	json_t	   *hp = json_object();
	json_t	   *chi2 = json_pack("{s:s}", "kernel", "additive_chi2");
	pgml_fit_args reg = {PGML_TASK_REGRESSION, hp, 0, 1, NULL};
	pgml_fit_args cls = {PGML_TASK_CLASSIFICATION, hp, 2, 1, NULL};
	pgml_data	d = {x, y, 4, 2, 1};
	void	   *state = NULL;
	pgml_err	err;

	/* a class index out of range */
	CHECK_INT(pgml_algo_gaussian_process.fit(&cls, &d, &state, &err), PGML_ERR_DATA);
	CHECK(strstr(err.msg, "class") != NULL);
	/* non-finite features and targets */
	x[3] = NAN;
	for (size_t i = 0; i < N_ALGOS; i++)
	{
		CHECK_INT(all_algos[i]->fit(&reg, &d, &state, &err), PGML_ERR_DATA);
		CHECK_STR(err.detail, "Feature 2 of row 2 is nan.");
	}
	x[3] = 4;
	y[0] = INFINITY;
	CHECK_INT(pgml_algo_least_angle.fit(&reg, &d, &state, &err), PGML_ERR_DATA);
	y[0] = 1;
	/* empty data */
	d.n_rows = 0;
	CHECK_INT(pgml_algo_kernel_ridge.fit(&reg, &d, &state, &err), PGML_ERR_DATA);
	d.n_rows = 1;
	/* ARD needs two rows; the others fit one: the intercept is the target */
	CHECK_INT(pgml_algo_automatic_relevance_determination.fit(&reg, &d, &state, &err), PGML_ERR_DATA);
	CHECK(state == NULL);
	REQUIRE(pgml_algo_bayesian_ridge.fit(&reg, &d, &state, &err) == PGML_OK);
	CHECK_INT(pgml_algo_bayesian_ridge.predict(state, x + 2, 2, 2, out, &err), PGML_OK);
	CHECK_NEAR(out[0], 1, 1e-6);
	/* the wrong number of features */
	CHECK_INT(pgml_algo_bayesian_ridge.predict(state, x, 2, 3, out, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "wrong number of features");
	pgml_algo_bayesian_ridge.free(state);
	d.n_rows = 4;
	/* the chi-squared kernels refuse negative features, at fit and at predict */
	reg.hyperparams = chi2;
	REQUIRE(pgml_algo_kernel_ridge.fit(&reg, &d, &state, &err) == PGML_OK);
	x[0] = -1;
	CHECK_INT(pgml_algo_kernel_ridge.predict(state, x, 1, 2, out, &err), PGML_ERR_DATA);
	CHECK(strstr(err.msg, "non-negative") != NULL);
	pgml_algo_kernel_ridge.free(state);
	state = NULL;
	CHECK_INT(pgml_algo_kernel_ridge.fit(&reg, &d, &state, &err), PGML_ERR_DATA);
	x[0] = 1;
	/* duplicate rows with alpha 0: the GP's kernel matrix is singular */
	{
		float		xd[] = {1, 2, 1, 2, 3, 4};
		float		yd[] = {1, 2, 3};
		pgml_data	dd = {xd, yd, 3, 2, 1};
		json_t	   *a0 = json_pack("{s:f}", "alpha", 0.0);
		pgml_fit_args ra = {PGML_TASK_REGRESSION, a0, 0, 1, NULL};

		CHECK_INT(pgml_algo_gaussian_process.fit(&ra, &dd, &state, &err), PGML_ERR_DATA);
		CHECK(strstr(err.msg, "positive definite") != NULL);
		CHECK(strstr(err.hint, "alpha") != NULL);
		/* kernel ridge falls back on least squares */
		CHECK_INT(pgml_algo_kernel_ridge.fit(&ra, &dd, &state, &err), PGML_OK);
		CHECK_INT(pgml_algo_kernel_ridge.predict(state, xd + 4, 1, 2, out, &err), PGML_OK);
		CHECK(isfinite(out[0]));
		pgml_algo_kernel_ridge.free(state);
		json_decref(a0);
	}
	pgml_algo_bayesian_ridge.free(NULL);
	json_decref(hp);
	json_decref(chi2);
}

TEST(linear_bayes_corrupt_blobs)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
	}			cases[] = {
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{}"},
		{"automatic_relevance_determination", PGML_TASK_REGRESSION, "{}"},
		{"least_angle", PGML_TASK_REGRESSION, "{}"},
		{"lasso_least_angle", PGML_TASK_REGRESSION, "{\"alpha\": 0.01}"},
		{"orthogonal_matching_pursuit", PGML_TASK_REGRESSION, "{}"},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"kernel\": \"chi2\"}"},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"kernel\": \"poly\"}"},
		{"gaussian_process", PGML_TASK_REGRESSION, "{\"normalize_y\": true}"},
		{"gaussian_process", PGML_TASK_CLASSIFICATION, "{}"},
	};
	/* small data: 6 rows of 3 non-negative features, two targets for regression, three classes */
	float		x[] = {0.5f, 1, 2, 1, 0.25f, 3, 2, 2, 0, 0, 1, 1, 3, 0.5f, 1, 1.5f, 2.5f, 0.5f};
	float		y2[] = {1, 2, 0.5f, 1, 3, 0, 2, 2, 1, 1.5f, 0, 3};
	float		yc[] = {0, 1, 2, 0, 1, 2};
	json_t	   *doc = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const pgml_algorithm *algo = algo_in(all_algos, cases[i].algo);
		bool		cls = cases[i].task == PGML_TASK_CLASSIFICATION;
		pgml_data	d = {x, cls ? yc : y2, 6, 3, cls ? 1 : (algo->multi_target ? 2 : 1)};
		json_t	   *hp = json_loads(cases[i].hp, 0, NULL);
		pgml_fit_args args = {cases[i].task, hp, cls ? 3 : 0, 1, NULL};
		void	   *state;
		pgml_err	err;
		pgml_buf	buf;

		REQUIRE(algo->fit(&args, &d, &state, &err) == PGML_OK);
		REQUIRE(save_state(algo, state, &buf));
		check_hostile(algo, BLOB_WHAT, &buf, NULL, 3, true);
		algo->free(state);
		/* another algorithm's blob */
		for (size_t j = 0; j < N_ALGOS; j++)
		{
			void	   *other = (void *) 1;

			if (all_algos[j] == algo)
				continue;
			CHECK_INT(load_blob(all_algos[j], BLOB_WHAT, buf.data, buf.len, &other, &err), PGML_ERR_CORRUPT);
			CHECK(other == NULL);
		}
		pgml_buf_free(&buf);
		json_decref(hp);
	}
	json_decref(doc);

	/* a header claiming a huge kernel model: rejected before any allocation */
	{
		pgml_buf	b;
		void	   *state = (void *) 1;
		pgml_err	err;

		pgml_buf_init(&b);
		pgml_buf_put_u32(&b, 1);
		pgml_buf_put_u8(&b, 6);	/* kernel ridge */
		pgml_buf_put_u8(&b, 0);
		pgml_buf_put_u64(&b, 4);
		pgml_buf_put_u64(&b, 1);
		pgml_buf_put_u64(&b, 1);
		pgml_buf_put_u8(&b, 3);
		pgml_buf_put_f64(&b, 0.5);
		pgml_buf_put_f64(&b, 3);
		pgml_buf_put_f64(&b, 1);
		pgml_buf_put_u64(&b, 100000);
		pgml_buf_put_u64(&b, 400000);
		CHECK_INT(load_blob(&pgml_algo_kernel_ridge, BLOB_WHAT, b.data, b.len, &state, &err), PGML_ERR_CORRUPT);
		CHECK(state == NULL);
		CHECK(strstr(err.msg, "corrupt") != NULL);
		pgml_buf_free(&b);
		/* an empty reader with no error sink at all */
		{
			pgml_reader r;

			pgml_reader_init(&r, NULL, 0, "model", NULL);
			state = (void *) 1;
			CHECK_INT(pgml_algo_gaussian_process.load(&r, &state, NULL), PGML_ERR_CORRUPT);
			CHECK(state == NULL);
		}
	}
}

/* A problem: n × p, y = x·w + 1 + noise; x_test the last 100 rows. */
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
			fd->x.v[i * p + j] = (float) (u * (1.0 + 0.1 * (double) j));
			t += fd->x.v[i * p + j] * (j % 3 == 0 ? 0.0 : 1.0 + 0.1 * (double) j);
		}
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		fd->y.v[i] = (float) (t + 0.1 * ((double) (s >> 11) / 9007199254740992.0 - 0.5));
	}
	fd->xt.rows = 100;
	fd->xt.cols = p;
	fd->xt.v = malloc(100 * p * sizeof(float));
	memcpy(fd->xt.v, fd->x.v + (n - 100) * p, 100 * p * sizeof(float));
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

TEST(linear_bayes_cancel)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
		int			after;
	}			cases[] = {
		{"bayesian_ridge", PGML_TASK_REGRESSION, "{\"tol\": 1e-300, \"n_iter\": 100000000}", 6},
		{"automatic_relevance_determination", PGML_TASK_REGRESSION, "{\"tol\": 0, \"n_iter\": 100000000, "
		"\"threshold_lambda\": 1e300}", 5},
		{"least_angle", PGML_TASK_REGRESSION, "{}", 7},
		{"lasso_least_angle", PGML_TASK_REGRESSION, "{\"alpha\": 0}", 4},
		{"orthogonal_matching_pursuit", PGML_TASK_REGRESSION, "{\"n_nonzero_coefs\": 30}", 3},
		{"orthogonal_matching_pursuit", PGML_TASK_REGRESSION, "{\"tol\": 0, \"precompute\": false}", 3},
		{"kernel_ridge", PGML_TASK_REGRESSION, "{\"kernel\": \"laplacian\"}", 0},
		{"gaussian_process", PGML_TASK_REGRESSION, "{}", 0},
		{"gaussian_process", PGML_TASK_CLASSIFICATION, "{\"max_iter_predict\": 1000000}", 3},
	};
	fixture_data reg;
	fixture_data cls;

	make_problem(600, 40, &reg);
	make_problem(600, 40, &cls);
	for (size_t i = 0; i < cls.y.rows; i++)
		cls.y.v[i] = cls.y.v[i] > 1.0f + 0.1f * (float) (i % 7) ? 1.0f : 0.0f;
	cls.n_classes = 2;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const pgml_algorithm *algo = algo_in(all_algos, cases[i].algo);
		json_t	   *hp = json_loads(cases[i].hp, 0, NULL);
		void	   *state = NULL;
		pgml_err	err;
		pgml_status rc;

		stop_calls = 0;
		stop_after = cases[i].after;
		pgml_set_should_stop(stop_hook, NULL);
		rc = fit_on(algo, cases[i].task, cases[i].task == PGML_TASK_REGRESSION ? &reg : &cls, hp, 42, NULL, &state, &err);
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
	fixture_data_free(&reg);
	fixture_data_free(&cls);
}

TEST(linear_bayes_through_models)
{
	json_t	   *doc = load_fixture(FIXTURE);
	fixture_data fd;
	pgml_model *m = NULL;
	pgml_model *m2 = NULL;
	pgml_buf	buf;
	pgml_err	err;
	float	   *pred;
	float	   *pred2;
	json_t	   *hp = json_object();

	REQUIRE(doc != NULL);
	/* two targets with bayesian_ridge: one fit per target, as sklearn's BayesianRidge takes one target */
	REQUIRE(fixture_dataset(doc, "reg2", &fd));
	{
		pgml_data	d = {fd.x.v, fd.y.v, fd.x.rows, fd.x.cols, 2};
		pgml_data	d1 = d;
		float	   *y1 = malloc(fd.x.rows * sizeof(float));
		void	   *st = NULL;
		float	   *one = malloc(fd.xt.rows * sizeof(float));
		pgml_fit_args args = {PGML_TASK_REGRESSION, hp, 0, 1, NULL};

		REQUIRE(pgml_model_fit("bayesian_ridge", PGML_TASK_REGRESSION, hp, &d, 1, NULL, &m, &err) == PGML_OK);
		CHECK_INT(pgml_model_n_targets(m), 2);
		pred = malloc(fd.xt.rows * 2 * sizeof(float));
		pred2 = malloc(fd.xt.rows * 2 * sizeof(float));
		CHECK_INT(pgml_model_predict(m, fd.xt.v, fd.xt.rows, pred, &err), PGML_OK);
		/* the second target alone gives the same predictions */
		for (size_t i = 0; i < fd.x.rows; i++)
			y1[i] = fd.y.v[i * 2 + 1];
		d1.y = y1;
		d1.n_targets = 1;
		REQUIRE(pgml_algo_bayesian_ridge.fit(&args, &d1, &st, &err) == PGML_OK);
		CHECK_INT(pgml_algo_bayesian_ridge.predict(st, fd.xt.v, fd.xt.rows, fd.xt.cols, one, &err), PGML_OK);
		for (size_t i = 0; i < fd.xt.rows; i++)
			CHECK(one[i] == pred[i * 2 + 1]);
		pgml_algo_bayesian_ridge.free(st);
		/* the same through the algorithm with both targets at once */
		REQUIRE(pgml_algo_bayesian_ridge.fit(&args, &d, &st, &err) == PGML_OK);
		CHECK_INT(pgml_algo_bayesian_ridge.predict(st, fd.xt.v, fd.xt.rows, fd.xt.cols, pred2, &err), PGML_OK);
		CHECK(memcmp(pred, pred2, fd.xt.rows * 2 * sizeof(float)) == 0);
		pgml_algo_bayesian_ridge.free(st);
		/* model file round trip */
		pgml_buf_init(&buf);
		REQUIRE(pgml_model_save(m, &buf, &err) == PGML_OK);
		REQUIRE(pgml_model_load(buf.data, buf.len, &m2, &err) == PGML_OK);
		CHECK_INT(pgml_model_predict(m2, fd.xt.v, fd.xt.rows, pred2, &err), PGML_OK);
		CHECK(memcmp(pred, pred2, fd.xt.rows * 2 * sizeof(float)) == 0);
		CHECK_STR(pgml_model_algorithm(m2), "bayesian_ridge");
		pgml_buf_free(&buf);
		pgml_model_free(m);
		pgml_model_free(m2);
		free(pred);
		free(pred2);
		free(y1);
		free(one);
	}
	fixture_data_free(&fd);

	/* gaussian_process classification with labels 10, 20, 30: probabilities, labels, round trip */
	REQUIRE(fixture_dataset(doc, "multi", &fd));
	{
		float	   *labels = malloc(fd.x.rows * sizeof(float));
		pgml_data	d = {fd.x.v, labels, fd.x.rows, fd.x.cols, 1};
		float	   *proba = malloc(fd.xt.rows * 3 * sizeof(float));
		float	   *proba2 = malloc(fd.xt.rows * 3 * sizeof(float));
		float	   *cls = malloc(fd.xt.rows * sizeof(float));

		for (size_t i = 0; i < fd.x.rows; i++)
			labels[i] = 10.0f * (fd.y.v[i] + 1.0f);
		REQUIRE(pgml_model_fit("gaussian_process", PGML_TASK_CLASSIFICATION, hp, &d, 1, NULL, &m, &err) == PGML_OK);
		CHECK_INT(pgml_model_n_classes(m), 3);
		CHECK_INT(pgml_model_predict_proba(m, fd.xt.v, fd.xt.rows, proba, &err), PGML_OK);
		CHECK_INT(pgml_model_predict(m, fd.xt.v, fd.xt.rows, cls, &err), PGML_OK);
		for (size_t i = 0; i < fd.xt.rows; i++)
		{
			double		sum = proba[i * 3] + proba[i * 3 + 1] + proba[i * 3 + 2];
			size_t		best = 0;

			CHECK_NEAR(sum, 1.0, 1e-5);
			for (size_t c = 1; c < 3; c++)
				if (proba[i * 3 + c] > proba[i * 3 + best])
					best = c;
			CHECK(cls[i] == 10.0f * (float) (best + 1));
		}
		pgml_buf_init(&buf);
		REQUIRE(pgml_model_save(m, &buf, &err) == PGML_OK);
		REQUIRE(pgml_model_load(buf.data, buf.len, &m2, &err) == PGML_OK);
		CHECK_INT(pgml_model_predict_proba(m2, fd.xt.v, fd.xt.rows, proba2, &err), PGML_OK);
		CHECK(memcmp(proba, proba2, fd.xt.rows * 3 * sizeof(float)) == 0);
		pgml_buf_free(&buf);
		pgml_model_free(m);
		pgml_model_free(m2);
		free(labels);
		free(proba);
		free(proba2);
		free(cls);
	}
	fixture_data_free(&fd);
	json_decref(hp);
	json_decref(doc);
}

/*
 * Degenerate designs: a duplicated column and a constant one. LARS leaves the duplicate out (sklearn 1.2's
 * lars_path zeroes its correlation and picks again, and ends far from the least-squares fit here; we do not
 * follow it), so least_angle, lasso_least_angle with alpha 0 and OMP reach the least-squares predictions.
 * A constant target gives constant predictions (the Gaussian process, whose prior mean is 0, only finite).
 */
TEST(linear_bayes_degenerate_columns)
{
	static const struct
	{
		const char *algo;
		const char *hp;
		double		tol;		/* vs least squares; 0: only finite */
	}			cases[] = {
		{"least_angle", "{}", 1e-5},
		{"least_angle", "{\"precompute\": false}", 1e-5},
		{"lasso_least_angle", "{\"alpha\": 0}", 1e-5},
		{"orthogonal_matching_pursuit", "{\"n_nonzero_coefs\": 4}", 1e-5},
		{"orthogonal_matching_pursuit", "{\"tol\": 0, \"precompute\": false}", 1e-5},
		{"bayesian_ridge", "{}", 1e-3},
		{"automatic_relevance_determination", "{}", 1e-3},
		{"kernel_ridge", "{\"alpha\": 0}", 1e-4},
		{"gaussian_process", "{\"alpha\": 1e-6}", 0},
	};
	size_t		n = 60;
	size_t		p = 5;
	float	   *x = malloc(n * p * sizeof(float));
	float	   *y = malloc(n * sizeof(float));
	float	   *yc = malloc(n * sizeof(float));
	float		ref[60];
	float		out[60];
	uint64_t	s = 99;
	json_t	   *empty = json_object();
	pgml_fit_args args = {PGML_TASK_REGRESSION, empty, 0, 1, NULL};
	pgml_data	d = {x, y, n, p, 1};
	void	   *state;
	pgml_err	err;

	for (size_t i = 0; i < n; i++)
	{
		double		b[3];

		for (int j = 0; j < 3; j++)
		{
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			b[j] = (double) (s >> 11) / 9007199254740992.0 - 0.5;
			x[i * p + j] = (float) b[j];
		}
		x[i * p + 3] = x[i * p + 0];
		x[i * p + 4] = 2.0f;
		y[i] = (float) (b[0] - 2.0 * b[1] + 0.5 * b[2] + 0.01 * (double) (i % 5));
		yc[i] = 3.0f;
	}
	REQUIRE(pgml_algo_linear.fit(&args, &d, &state, &err) == PGML_OK);
	REQUIRE(pgml_algo_linear.predict(state, x, n, p, ref, &err) == PGML_OK);
	pgml_algo_linear.free(state);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const pgml_algorithm *algo = algo_in(all_algos, cases[i].algo);
		json_t	   *hp = json_loads(cases[i].hp, 0, NULL);

		args.hyperparams = hp;
		for (int constant = 0; constant < 2; constant++)
		{
			d.y = constant ? yc : y;
			if (algo->fit(&args, &d, &state, &err) != PGML_OK)
			{
				test_fail(__FILE__, __LINE__, "%s %s: %s", cases[i].algo, cases[i].hp, err.msg);
				continue;
			}
			CHECK_INT(algo->predict(state, x, n, p, out, &err), PGML_OK);
			for (size_t r = 0; r < n; r++)
			{
				double		expect = constant ? 3.0 : ref[r];
				double		tol = constant && cases[i].tol > 0 ? 1e-5 : cases[i].tol;

				if (!isfinite(out[r]) || (tol > 0 && fabs(out[r] - expect) > tol))
				{
					test_fail(__FILE__, __LINE__, "%s %s%s: row %zu is %.9g, least squares %.9g", cases[i].algo,
							  cases[i].hp, constant ? " (constant target)" : "", r, out[r], expect);
					break;
				}
			}
			algo->free(state);
		}
		json_decref(hp);
	}
	json_decref(empty);
	free(x);
	free(y);
	free(yc);
}
