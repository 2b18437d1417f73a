/*
 * Tests for the algorithms of src/learn/linear_online.c: stochastic_gradient_descent, perceptron,
 * passive_aggressive, huber, quantile, ransac, theil_sen.
 *
 * The oracle is scikit-learn 1.2: tests/fixtures/linear_online.json (tools/fixtures/
 * make_linear_online_fixtures.py) holds data sets with outliers for the robust models and two kinds of cases.
 * "pred" cases are deterministic in sklearn and here; outputs on held-out rows and the coefficients (read
 * back as f(e_j) - f(0)) must agree, as |ours - sklearn| <= tol · max(1, |sklearn|):
 *   SGD, perceptron, passive-aggressive with shuffle=false   1e-6   (the same updates in the same order)
 *   Huber                                                    1e-3   (both stop L-BFGS on scipy's rules)
 *   quantile                                                 1e-4   (both solve the LP exactly)
 *   Theil-Sen over every subset                              1e-6   (the same Weiszfeld iterations)
 * "score" cases draw random numbers (shuffling, subsets, splits), with generators that differ from numpy's:
 * the test-set r2 or accuracy, averaged over five seeds, must be within 0.02 of sklearn's average over 30
 * (whose standard deviation over seeds is at most 0.012: the check has about four standard errors).
 * Besides: save/load identity, truncated and corrupted blobs, bad hyperparameters, effective parameters,
 * cancellation, thread-count independence, and the model layer (one fit per target, no probabilities).
 */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#include "pgml/json.h"
#include "pgml/learn.h"
#include "../src/learn/algorithms.h"
#include "fixture.h"

#define FIXTURE "tests/fixtures/linear_online.json"
#define BLOB_WHAT "linear model"	/* how load errors name a saved model */
#define SCORE_SEEDS 5			/* fits averaged per "score" case */

static const pgml_algorithm *const all_algos[] = {
	&pgml_algo_stochastic_gradient_descent, &pgml_algo_perceptron, &pgml_algo_passive_aggressive,
	&pgml_algo_huber, &pgml_algo_quantile, &pgml_algo_ransac, &pgml_algo_theil_sen, NULL
};

#define N_ALGOS (sizeof(all_algos) / sizeof(all_algos[0]) - 1)

/* The test-set score of a fitted state: r2, or the accuracy of the argmax of the scores. */
static double
test_score(const pgml_algorithm *algo, const void *state, pgml_task task, const fixture_data *fd)
{
	size_t		n = fd->xt.rows;
	size_t		w = algo->n_outputs(state);
	float	   *out = calloc(n * w, sizeof(float));
	pgml_err	err;
	double		score = NAN;

	if (algo->predict(state, fd->xt.v, n, fd->xt.cols, out, &err) == PGML_OK)
	{
		if (task == PGML_TASK_REGRESSION)
		{
			double		mean = 0;
			double		ss_res = 0;
			double		ss_tot = 0;

			for (size_t i = 0; i < n; i++)
				mean += fd->yt.v[i];
			mean /= (double) n;
			for (size_t i = 0; i < n; i++)
			{
				ss_res += ((double) fd->yt.v[i] - out[i]) * ((double) fd->yt.v[i] - out[i]);
				ss_tot += ((double) fd->yt.v[i] - mean) * ((double) fd->yt.v[i] - mean);
			}
			score = 1.0 - ss_res / ss_tot;
		}
		else
		{
			size_t		correct = 0;

			for (size_t i = 0; i < n; i++)
			{
				size_t		best = 0;

				for (size_t c = 1; c < w; c++)
					if (out[i * w + c] > out[i * w + best])
						best = c;
				correct += (float) best == fd->yt.v[i];
			}
			score = (double) correct / (double) n;
		}
	}
	free(out);
	return score;
}

/* The tolerance of a "pred" case. */
static double
pred_tolerance(const char *name)
{
	if (strcmp(name, "huber") == 0)
		return 1e-3;
	if (strcmp(name, "quantile") == 0)
		return 1e-4;
	return 1e-6;
}

/* Compares a "pred" case: outputs on the test rows, then the coefficients. Returns the worst ratio. */
static double
check_pred_case(size_t ci, const char *label, const pgml_algorithm *algo, const void *state, const json_t *c,
				const fixture_data *fd, double tol)
{
	matrix		expect;
	matrix		coef;
	matrix		icpt;
	size_t		p = fd->x.cols;
	size_t		w = algo->n_outputs(state);
	float	   *pred;
	float	   *probe;
	float	   *zero;
	float	   *unit;
	pgml_err	err;
	double		worst;
	char		where[600];

	if (!matrix_from_json(json_object_get(c, "pred"), &expect) ||
		!matrix_from_json(json_object_get(c, "coef"), &coef) ||
		!matrix_from_json(json_object_get(c, "intercept"), &icpt))
	{
		test_fail(__FILE__, __LINE__, "case %zu: malformed fixture", ci);
		return 0;
	}
	CHECK_INT(w, expect.cols);
	pred = calloc(expect.rows * w, sizeof(float));
	CHECK_INT(algo->predict(state, fd->xt.v, expect.rows, p, pred, &err), PGML_OK);
	snprintf(where, sizeof(where), "case %zu (%s)", ci, label);
	worst = check_outputs(pred, &expect, tol, true, where);
	/* coefficients: the functions at 0 and at each unit vector (decision scores: the last k functions) */
	zero = calloc(p, sizeof(float));
	unit = calloc(p, sizeof(float));
	probe = calloc(2 * w, sizeof(float));
	CHECK_INT(algo->predict(state, zero, 1, p, probe, &err), PGML_OK);
	for (size_t f = 0; f < coef.rows; f++)
	{
		size_t		o = w - coef.rows + f;	/* two classes: output 1 is s */
		double		b = icpt.v[f];

		if (!(fabs(probe[o] - b) <= tol * fmax(1.0, fabs(b))))
			test_fail(__FILE__, __LINE__, "case %zu (%s): intercept %zu is %.9g, sklearn %.9g", ci, label, f,
					  (double) probe[o], b);
		for (size_t j = 0; j < p; j++)
		{
			double		a;
			double		e = coef.v[f * p + j];
			double		lim = tol * fmax(1.0, fabs(e));

			memset(unit, 0, p * sizeof(float));
			unit[j] = 1.0f;
			CHECK_INT(algo->predict(state, unit, 1, p, probe + w, &err), PGML_OK);
			a = (double) probe[w + o] - probe[o];
			/* float outputs: the difference carries their rounding */
			lim += 4e-7 * fmax(1.0, fabs((double) probe[o]));
			if (fabs(a - e) / lim > worst)
				worst = fabs(a - e) / lim;
			if (!(fabs(a - e) <= lim))
				test_fail(__FILE__, __LINE__, "case %zu (%s): coefficient [%zu][%zu] is %.9g, sklearn %.9g", ci,
						  label, f, j, a, e);
		}
	}
	free(zero);
	free(unit);
	free(probe);
	free(pred);
	free(expect.v);
	free(coef.v);
	free(icpt.v);
	return worst;
}

TEST(online_matches_sklearn)
{
	json_t	   *doc = load_fixture(FIXTURE);
	const json_t *cases;
	size_t		ci;
	const json_t *c;
	int			n_pred = 0;
	int			n_score = 0;

	REQUIRE(doc != NULL);
	cases = json_object_get(doc, "cases");
	REQUIRE(json_array_size(cases) >= 40);
	json_array_foreach(cases, ci, c)
	{
		const char *name = json_string_value(json_object_get(c, "algorithm"));
		const char *task_name = json_string_value(json_object_get(c, "task"));
		const char *data_name = json_string_value(json_object_get(c, "data"));
		const char *kind = json_string_value(json_object_get(c, "kind"));
		const json_t *hp = json_object_get(c, "params");
		const pgml_algorithm *algo = algo_in(all_algos, name);
		pgml_task	task = strcmp(task_name, "regression") == 0 ? PGML_TASK_REGRESSION : PGML_TASK_CLASSIFICATION;
		char	   *hp_text = pgml_json_dumps(hp);
		char		label[512];
		fixture_data fd;
		pgml_err	err;

		REQUIRE(algo != NULL && kind != NULL);
		REQUIRE(fixture_dataset(doc, data_name, &fd));
		snprintf(label, sizeof(label), "%s %s on %s, %s", name, task_name, data_name, hp_text);
		if (strcmp(kind, "pred") == 0)
		{
			void	   *state = NULL;
			void	   *loaded = NULL;
			double		worst;
			pgml_buf	buf;

			n_pred++;
			if (fit_on(algo, task, &fd, hp, 42, NULL, &state, &err) != PGML_OK)
				test_fail(__FILE__, __LINE__, "case %zu (%s): fit failed: %s (%s)", ci, label, err.msg, err.detail);
			else
			{
				worst = check_pred_case(ci, label, algo, state, c, &fd, pred_tolerance(name));
				if (getenv("PGML_TEST_VERBOSE"))
					printf("    case %2zu %-60.60s worst %.1e of tolerance\n", ci, label, worst);
				/* save → load → identical predictions and parameters */
				REQUIRE(save_state(algo, state, &buf));
				CHECK_INT(load_blob(algo, BLOB_WHAT, buf.data, buf.len, &loaded, &err), PGML_OK);
				if (loaded != NULL)
				{
					size_t		w = algo->n_outputs(state);
					float	   *a = calloc(fd.xt.rows * w, sizeof(float));
					float	   *b = calloc(fd.xt.rows * w, sizeof(float));
					json_t	   *p1 = algo->params(state);
					json_t	   *p2 = algo->params(loaded);

					CHECK_INT(algo->n_outputs(loaded), w);
					CHECK_INT(algo->predict(state, fd.xt.v, fd.xt.rows, fd.xt.cols, a, &err), PGML_OK);
					CHECK_INT(algo->predict(loaded, fd.xt.v, fd.xt.rows, fd.xt.cols, b, &err), PGML_OK);
					CHECK(memcmp(a, b, fd.xt.rows * w * sizeof(float)) == 0);
					CHECK(p1 != NULL && p2 != NULL && json_equal(p1, p2));
					json_decref(p1);
					json_decref(p2);
					free(a);
					free(b);
				}
				algo->free(loaded);
				pgml_buf_free(&buf);
			}
			algo->free(state);
		}
		else
		{
			double		expect = json_real_value(json_object_get(c, "score"));
			double		sum = 0;
			int			fits = 0;
			json_t	   *seeded = json_deep_copy(hp);

			/* random_state null: the fit's seed decides (Perceptron's default would be 0) */
			json_object_set_new(seeded, "random_state", json_null());
			n_score++;
			for (uint64_t seed = 1; seed <= SCORE_SEEDS; seed++)
			{
				void	   *state = NULL;

				if (fit_on(algo, task, &fd, seeded, seed, NULL, &state, &err) != PGML_OK)
				{
					test_fail(__FILE__, __LINE__, "case %zu (%s): fit failed: %s (%s)", ci, label, err.msg,
							  err.detail);
					break;
				}
				sum += test_score(algo, state, task, &fd);
				fits++;
				algo->free(state);
			}
			json_decref(seeded);
			if (fits == SCORE_SEEDS)
			{
				double		ours = sum / SCORE_SEEDS;

				if (getenv("PGML_TEST_VERBOSE"))
					printf("    case %2zu %-60.60s score %.4f, sklearn %.4f\n", ci, label, ours, expect);
				if (!(fabs(ours - expect) <= 0.02))
					test_fail(__FILE__, __LINE__, "case %zu (%s): test score %.4f, sklearn %.4f", ci, label, ours,
							  expect);
			}
		}
		fixture_data_free(&fd);
		pgml_free(hp_text);
	}
	CHECK(n_pred >= 25);
	CHECK(n_score >= 15);
	json_decref(doc);
}

#define REG PGML_TASK_REGRESSION
#define CLS PGML_TASK_CLASSIFICATION
#define SGD "stochastic_gradient_descent"
#define PA "passive_aggressive"

TEST(online_bad_hyperparameters)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
		pgml_status expect;
		const char *in_msg;
	}			cases[] = {
		{SGD, REG, "{\"loss\": \"hinge\"}", PGML_ERR_INVALID_ARGUMENT, "\"loss\""},
		{SGD, REG, "{\"penalty\": \"l3\"}", PGML_ERR_INVALID_ARGUMENT, "\"penalty\""},
		{SGD, REG, "{\"penalty\": 2}", PGML_ERR_INVALID_ARGUMENT, "\"penalty\""},
		{SGD, REG, "{\"penalty\": \"none\"}", PGML_ERR_INVALID_ARGUMENT, "\"penalty\""},
		{SGD, REG, "{\"alpha\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"alpha\""},
		{SGD, REG, "{\"l1_ratio\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"l1_ratio\""},
		{SGD, REG, "{\"max_iter\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"max_iter\""},
		{SGD, REG, "{\"tol\": -0.1}", PGML_ERR_INVALID_ARGUMENT, "\"tol\""},
		{SGD, REG, "{\"shuffle\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"shuffle\""},
		{SGD, REG, "{\"epsilon\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"epsilon\""},
		{SGD, REG, "{\"learning_rate\": \"fast\"}", PGML_ERR_INVALID_ARGUMENT, "\"learning_rate\""},
		{SGD, REG, "{\"learning_rate\": \"pa1\"}", PGML_ERR_INVALID_ARGUMENT, "\"learning_rate\""},
		{SGD, REG, "{\"learning_rate\": \"constant\", \"eta0\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"eta0\""},
		{SGD, REG, "{\"eta0\": -0.1}", PGML_ERR_INVALID_ARGUMENT, "\"eta0\""},
		{SGD, REG, "{\"power_t\": \"x\"}", PGML_ERR_INVALID_ARGUMENT, "\"power_t\""},
		{SGD, REG, "{\"validation_fraction\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"validation_fraction\""},
		{SGD, REG, "{\"validation_fraction\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"validation_fraction\""},
		{SGD, REG, "{\"n_iter_no_change\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"n_iter_no_change\""},
		{SGD, REG, "{\"average\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"average\""},
		{SGD, REG, "{\"average\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"average\""},
		{SGD, REG, "{\"random_state\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"random_state\""},
		{SGD, REG, "{\"warm_start\": \"no\"}", PGML_ERR_INVALID_ARGUMENT, "\"warm_start\""},
		{SGD, REG, "{\"class_weight\": null}", PGML_ERR_INVALID_ARGUMENT, "class_weight"},
		{SGD, REG, "{\"early_stopping\": true, \"validation_fraction\": 0.999}", PGML_ERR_INVALID_ARGUMENT,
		"validation_fraction"},
		{SGD, REG, "{\"power_t\": -100, \"eta0\": 1}", PGML_ERR_DATA, "diverged"},
		{SGD, CLS, "{\"loss\": \"squared_loss\"}", PGML_ERR_INVALID_ARGUMENT, "\"loss\""},
		{SGD, CLS, "{\"alpha\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"alpha\""},
		{SGD, CLS, "{\"class_weight\": \"balanced\"}", PGML_ERR_NOT_SUPPORTED, "balanced"},
		{SGD, CLS, "{\"n_jobs\": \"all\"}", PGML_ERR_INVALID_ARGUMENT, "\"n_jobs\""},
		{SGD, CLS, "{\"verbose\": \"loud\"}", PGML_ERR_INVALID_ARGUMENT, "\"verbose\""},
		{SGD, CLS, "{\"early_stopping\": true, \"validation_fraction\": 0.001}", PGML_ERR_INVALID_ARGUMENT,
		"stratified"},
		{SGD, PGML_TASK_CLUSTERING, "{}", PGML_ERR_NOT_SUPPORTED, "clustering"},
		{"perceptron", REG, "{}", PGML_ERR_NOT_SUPPORTED, "regression"},
		{"perceptron", CLS, "{\"eta0\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"eta0\""},
		{"perceptron", CLS, "{\"loss\": \"hinge\"}", PGML_ERR_INVALID_ARGUMENT, "loss"},
		{"perceptron", CLS, "{\"average\": true}", PGML_ERR_INVALID_ARGUMENT, "average"},
		{"perceptron", CLS, "{\"penalty\": \"l0\"}", PGML_ERR_INVALID_ARGUMENT, "\"penalty\""},
		{PA, REG, "{\"C\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"C\""},
		{PA, REG, "{\"C\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"C\""},
		{PA, REG, "{\"loss\": \"hinge\"}", PGML_ERR_INVALID_ARGUMENT, "\"loss\""},
		{PA, REG, "{\"penalty\": \"l2\"}", PGML_ERR_INVALID_ARGUMENT, "penalty"},
		{PA, CLS, "{\"loss\": \"epsilon_insensitive\"}", PGML_ERR_INVALID_ARGUMENT, "\"loss\""},
		{PA, CLS, "{\"epsilon\": 0.5}", PGML_ERR_INVALID_ARGUMENT, "epsilon"},
		{"huber", REG, "{\"epsilon\": 0.5}", PGML_ERR_INVALID_ARGUMENT, "\"epsilon\""},
		{"huber", REG, "{\"alpha\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"alpha\""},
		{"huber", REG, "{\"max_iter\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"max_iter\""},
		{"huber", REG, "{\"tol\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"tol\""},
		{"huber", REG, "{\"fit_intercept\": \"yes\"}", PGML_ERR_INVALID_ARGUMENT, "\"fit_intercept\""},
		{"huber", CLS, "{}", PGML_ERR_NOT_SUPPORTED, "classification"},
		{"quantile", REG, "{\"quantile\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"quantile\""},
		{"quantile", REG, "{\"quantile\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"quantile\""},
		{"quantile", REG, "{\"quantile\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"quantile\""},
		{"quantile", REG, "{\"alpha\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"alpha\""},
		{"quantile", REG, "{\"solver\": \"glpk\"}", PGML_ERR_INVALID_ARGUMENT, "\"solver\""},
		{"quantile", REG, "{\"solver_options\": [1]}", PGML_ERR_INVALID_ARGUMENT, "\"solver_options\""},
		{"ransac", REG, "{\"estimator\": \"Ridge\"}", PGML_ERR_NOT_SUPPORTED, "estimator"},
		{"ransac", REG, "{\"base_estimator\": \"LinearRegression\"}", PGML_ERR_NOT_SUPPORTED, "base_estimator"},
		{"ransac", REG, "{\"is_data_valid\": \"f\"}", PGML_ERR_NOT_SUPPORTED, "\"is_data_valid\""},
		{"ransac", REG, "{\"is_model_valid\": true}", PGML_ERR_NOT_SUPPORTED, "\"is_model_valid\""},
		{"ransac", REG, "{\"min_samples\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"min_samples\""},
		{"ransac", REG, "{\"min_samples\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"min_samples\""},
		{"ransac", REG, "{\"min_samples\": \"all\"}", PGML_ERR_INVALID_ARGUMENT, "\"min_samples\""},
		{"ransac", REG, "{\"min_samples\": 100000}", PGML_ERR_INVALID_ARGUMENT, "\"min_samples\""},
		{"ransac", REG, "{\"residual_threshold\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"residual_threshold\""},
		{"ransac", REG, "{\"max_trials\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"max_trials\""},
		{"ransac", REG, "{\"max_skips\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"max_skips\""},
		{"ransac", REG, "{\"stop_probability\": 2}", PGML_ERR_INVALID_ARGUMENT, "\"stop_probability\""},
		{"ransac", REG, "{\"loss\": \"huber\"}", PGML_ERR_INVALID_ARGUMENT, "\"loss\""},
		{"ransac", REG, "{\"max_trials\": 0}", PGML_ERR_DATA, "consensus"},
		{"theil_sen", REG, "{\"max_subpopulation\": 0.5}", PGML_ERR_INVALID_ARGUMENT, "\"max_subpopulation\""},
		{"theil_sen", REG, "{\"n_subsamples\": 2}", PGML_ERR_INVALID_ARGUMENT, "\"n_subsamples\""},
		{"theil_sen", REG, "{\"n_subsamples\": 100000}", PGML_ERR_INVALID_ARGUMENT, "\"n_subsamples\""},
		{"theil_sen", REG, "{\"n_subsamples\": 7.5}", PGML_ERR_INVALID_ARGUMENT, "\"n_subsamples\""},
		{"theil_sen", REG, "{\"max_iter\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"max_iter\""},
		{"theil_sen", REG, "{\"tol\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"tol\""},
		{"theil_sen", REG, "{\"copy_X\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"copy_X\""},
		{"theil_sen", REG, "{\"max_subpopulation\": 1e12, \"n_subsamples\": 20}", PGML_ERR_LIMIT, "subsets"},
	};
	json_t	   *doc = load_fixture(FIXTURE);

	REQUIRE(doc != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const char *data = cases[i].task == CLS ? "sep2" : "reg";
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

TEST(online_accepts_sklearn_params)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *data;
		const char *hp;
	}			cases[] = {
		{SGD, REG, "reg", "{\"loss\": \"squared_epsilon_insensitive\", \"penalty\": \"elasticnet\", \"alpha\": 0.001, "
			"\"l1_ratio\": 0.5, \"fit_intercept\": true, \"max_iter\": 20, \"tol\": null, \"shuffle\": true, "
			"\"verbose\": 0, \"epsilon\": 0.2, \"random_state\": 3, \"learning_rate\": \"adaptive\", \"eta0\": 0.001, "
			"\"power_t\": 0.3, \"early_stopping\": true, \"validation_fraction\": 0.2, \"n_iter_no_change\": 3, "
		"\"warm_start\": false, \"average\": 5}"},
		{SGD, CLS, "sep3", "{\"loss\": \"log\", \"penalty\": null, \"alpha\": 0.01, \"l1_ratio\": 0.1, "
			"\"fit_intercept\": false, \"max_iter\": 50, \"tol\": 0.01, \"shuffle\": false, \"verbose\": true, "
			"\"epsilon\": 0.1, \"n_jobs\": -1, \"random_state\": null, \"learning_rate\": \"optimal\", \"eta0\": 0, "
			"\"power_t\": -0.5, \"early_stopping\": false, \"validation_fraction\": 0.5, \"n_iter_no_change\": 2, "
		"\"class_weight\": null, \"warm_start\": true, \"average\": false}"},
		{SGD, CLS, "sep2", "{\"loss\": \"huber\", \"learning_rate\": \"invscaling\", \"eta0\": 0.1, \"early_stopping\": "
		"true}"},
		{"perceptron", CLS, "sep3", "{\"penalty\": \"l1\", \"alpha\": 0.001, \"l1_ratio\": 0.3, \"fit_intercept\": "
			"true, \"max_iter\": 30, \"tol\": null, \"shuffle\": true, \"verbose\": 0, \"eta0\": 0.5, \"n_jobs\": 2, "
			"\"random_state\": 7, \"early_stopping\": true, \"validation_fraction\": 0.2, \"n_iter_no_change\": 4, "
		"\"class_weight\": null, \"warm_start\": false}"},
		{PA, REG, "reg", "{\"C\": 0.5, \"fit_intercept\": false, \"max_iter\": 100, \"tol\": 0.0001, \"early_stopping\": "
			"true, \"validation_fraction\": 0.15, \"n_iter_no_change\": 6, \"shuffle\": true, \"verbose\": 1, "
			"\"loss\": \"squared_epsilon_insensitive\", \"epsilon\": 0, \"random_state\": 11, \"warm_start\": true, "
		"\"average\": 10}"},
		{PA, CLS, "sep3", "{\"C\": 2, \"fit_intercept\": true, \"max_iter\": 100, \"tol\": null, \"early_stopping\": "
			"false, \"validation_fraction\": 0.1, \"n_iter_no_change\": 5, \"shuffle\": true, \"verbose\": 0, "
			"\"loss\": \"hinge\", \"n_jobs\": null, \"random_state\": 1, \"warm_start\": false, \"class_weight\": null, "
		"\"average\": true}"},
		{"huber", REG, "reg_out", "{\"epsilon\": 1.0, \"max_iter\": 0, \"alpha\": 0, \"warm_start\": true, "
		"\"fit_intercept\": true, \"tol\": 0}"},
		{"huber", REG, "reg_out", "{\"epsilon\": 3, \"max_iter\": 1000, \"alpha\": 10, \"tol\": 1e-10}"},
		{"quantile", REG, "tiny", "{\"quantile\": 0.95, \"alpha\": 0.5, \"fit_intercept\": false, \"solver\": "
		"\"interior-point\", \"solver_options\": {\"lstsq\": true}}"},
		{"quantile", REG, "reg", "{\"solver\": \"revised simplex\", \"solver_options\": null}"},
		{"quantile", REG, "reg", "{\"solver\": \"highs-ds\", \"quantile\": 0.01, \"alpha\": 1000}"},
		{"ransac", REG, "reg_out", "{\"estimator\": null, \"min_samples\": 10, \"residual_threshold\": 1.5, "
			"\"is_data_valid\": null, \"is_model_valid\": null, \"max_trials\": 50, \"max_skips\": 20, "
			"\"stop_n_inliers\": 250, \"stop_score\": 0.99, \"stop_probability\": 0.5, \"loss\": \"squared_error\", "
		"\"random_state\": 5, \"base_estimator\": \"deprecated\"}"},
		{"ransac", REG, "reg_out", "{\"estimator\": \"LinearRegression\", \"min_samples\": 1.0, \"max_skips\": 0}"},
		{"theil_sen", REG, "reg_out", "{\"fit_intercept\": false, \"copy_X\": false, \"max_subpopulation\": 500, "
			"\"n_subsamples\": 6, \"max_iter\": 10, \"tol\": 0, \"random_state\": 2, \"n_jobs\": -1, "
		"\"verbose\": true}"},
		{"theil_sen", REG, "tiny", "{\"n_subsamples\": 20, \"max_iter\": 0}"},
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

TEST(online_effective_params)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *data;
		const char *hp;
		const char *expect;
	}			cases[] = {
		{SGD, REG, "reg", "{}",
			"{\"loss\":\"squared_error\",\"penalty\":\"l2\",\"alpha\":0.0001,\"l1_ratio\":0.15,\"fit_intercept\":true,"
			"\"max_iter\":1000,\"tol\":0.001,\"shuffle\":true,\"verbose\":0,\"epsilon\":0.1,\"random_state\":null,"
			"\"learning_rate\":\"invscaling\",\"eta0\":0.01,\"power_t\":0.25,\"early_stopping\":false,"
		"\"validation_fraction\":0.1,\"n_iter_no_change\":5,\"warm_start\":false,\"average\":false}"},
		{SGD, CLS, "sep2", "{\"penalty\": null, \"tol\": null, \"average\": 3}",
			"{\"loss\":\"hinge\",\"penalty\":null,\"alpha\":0.0001,\"l1_ratio\":0.15,\"fit_intercept\":true,"
			"\"max_iter\":1000,\"tol\":null,\"shuffle\":true,\"verbose\":0,\"epsilon\":0.1,\"n_jobs\":null,"
			"\"random_state\":null,\"learning_rate\":\"optimal\",\"eta0\":0.0,\"power_t\":0.5,\"early_stopping\":false,"
			"\"validation_fraction\":0.1,\"n_iter_no_change\":5,\"class_weight\":null,\"warm_start\":false,"
		"\"average\":3}"},
		{"perceptron", CLS, "sep2", "{}",
			"{\"penalty\":null,\"alpha\":0.0001,\"l1_ratio\":0.15,\"fit_intercept\":true,\"max_iter\":1000,"
			"\"tol\":0.001,\"shuffle\":true,\"verbose\":0,\"eta0\":1.0,\"n_jobs\":null,\"random_state\":0,"
			"\"early_stopping\":false,\"validation_fraction\":0.1,\"n_iter_no_change\":5,\"class_weight\":null,"
		"\"warm_start\":false}"},
		{PA, REG, "reg", "{\"C\": 0.5}",
			"{\"C\":0.5,\"fit_intercept\":true,\"max_iter\":1000,\"tol\":0.001,\"early_stopping\":false,"
			"\"validation_fraction\":0.1,\"n_iter_no_change\":5,\"shuffle\":true,\"verbose\":0,"
			"\"loss\":\"epsilon_insensitive\",\"epsilon\":0.1,\"random_state\":null,\"warm_start\":false,"
		"\"average\":false}"},
		{PA, CLS, "sep3", "{}",
			"{\"C\":1.0,\"fit_intercept\":true,\"max_iter\":1000,\"tol\":0.001,\"early_stopping\":false,"
			"\"validation_fraction\":0.1,\"n_iter_no_change\":5,\"shuffle\":true,\"verbose\":0,\"loss\":\"hinge\","
			"\"n_jobs\":null,\"random_state\":null,\"warm_start\":false,\"class_weight\":null,\"average\":false}"},
		{"huber", REG, "reg_out", "{}",
		"{\"epsilon\":1.35,\"max_iter\":100,\"alpha\":0.0001,\"warm_start\":false,\"fit_intercept\":true,\"tol\":1e-05}"},
		{"quantile", REG, "reg_out", "{\"alpha\": 0.1}",
		"{\"quantile\":0.5,\"alpha\":0.1,\"fit_intercept\":true,\"solver\":\"warn\",\"solver_options\":null}"},
		{"ransac", REG, "reg_out", "{}",
			"{\"estimator\":null,\"min_samples\":null,\"residual_threshold\":null,\"is_data_valid\":null,"
			"\"is_model_valid\":null,\"max_trials\":100,\"max_skips\":null,\"stop_n_inliers\":null,"
			"\"stop_score\":null,\"stop_probability\":0.99,\"loss\":\"absolute_error\",\"random_state\":null,"
		"\"base_estimator\":\"deprecated\"}"},
		{"theil_sen", REG, "reg_out", "{\"random_state\": 4}",
			"{\"fit_intercept\":true,\"copy_X\":true,\"max_subpopulation\":10000.0,\"n_subsamples\":null,"
		"\"max_iter\":300,\"tol\":0.001,\"random_state\":4,\"n_jobs\":null,\"verbose\":false}"},
	};
	json_t	   *doc = load_fixture(FIXTURE);

	REQUIRE(doc != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *text = params_text(doc, cases[i].algo, cases[i].task, cases[i].data, cases[i].hp, 42);
		json_t	   *got = NULL;
		json_t	   *expect = NULL;
		pgml_err	err;

		/* compared as JSON: jansson writes 0.1 as 0.10000000000000001 */
		REQUIRE(text != NULL);
		CHECK_INT(pgml_json_parse(text, strlen(text), "params", &got, &err), PGML_OK);
		CHECK_INT(pgml_json_parse(cases[i].expect, strlen(cases[i].expect), "expected", &expect, &err), PGML_OK);
		if (!json_equal(got, expect))
			test_fail(__FILE__, __LINE__, "%s %s: params %s, expected %s", cases[i].algo, cases[i].hp, text,
					  cases[i].expect);
		/* keys in sklearn's order */
		if (got != NULL && expect != NULL)
		{
			void	   *it1 = json_object_iter(got);
			void	   *it2 = json_object_iter(expect);

			while (it1 != NULL && it2 != NULL)
			{
				CHECK_STR(json_object_iter_key(it1), json_object_iter_key(it2));
				it1 = json_object_iter_next(got, it1);
				it2 = json_object_iter_next(expect, it2);
			}
			CHECK(it1 == NULL && it2 == NULL);
		}
		json_decref(got);
		json_decref(expect);
		pgml_free(text);
	}
	json_decref(doc);

	/* the tables */
	for (size_t i = 0; i < N_ALGOS; i++)
	{
		CHECK(!all_algos[i]->has_proba);
		CHECK(!all_algos[i]->multi_target);
		CHECK(pgml_algorithm_find(all_algos[i]->name) == all_algos[i]);
		CHECK(all_algos[i]->params_other[0] == NULL);
	}
	CHECK(pgml_algo_perceptron.tasks == PGML_TASK_BIT(PGML_TASK_CLASSIFICATION));
	CHECK(pgml_algo_stochastic_gradient_descent.tasks & PGML_TASK_BIT(PGML_TASK_REGRESSION));
	CHECK(pgml_algo_passive_aggressive.tasks & PGML_TASK_BIT(PGML_TASK_CLASSIFICATION));
	CHECK(pgml_algo_quantile.tasks == PGML_TASK_BIT(PGML_TASK_REGRESSION));
	CHECK(pgml_algo_huber.params_classification[0] == NULL);
}

TEST(online_corrupt_blobs)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *data;
		const char *hp;
	}			cases[] = {
		{SGD, REG, "tiny", "{}"},
		{SGD, CLS, "sep2", "{\"max_iter\": 5, \"tol\": null}"},
		{SGD, CLS, "sep3", "{\"max_iter\": 5, \"tol\": null}"},
		{"perceptron", CLS, "sep2", "{}"},
		{"perceptron", CLS, "sep3", "{}"},
		{PA, REG, "tiny", "{}"},
		{PA, CLS, "sep3", "{}"},
		{"huber", REG, "tiny", "{}"},
		{"quantile", REG, "tiny", "{}"},
		{"ransac", REG, "tiny", "{}"},
		{"theil_sen", REG, "tiny", "{}"},
	};
	json_t	   *doc = load_fixture(FIXTURE);

	REQUIRE(doc != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const pgml_algorithm *algo = algo_in(all_algos, cases[i].algo);
		fixture_data fd;
		void	   *state;
		pgml_err	err;
		pgml_buf	buf;

		REQUIRE(fixture_dataset(doc, cases[i].data, &fd));
		REQUIRE(fit_text(doc, cases[i].algo, cases[i].task, cases[i].data, cases[i].hp, 42, NULL, &state, &err) == PGML_OK);
		REQUIRE(save_state(algo, state, &buf));
		check_hostile(algo, BLOB_WHAT, &buf, NULL, fd.x.cols, false);
		algo->free(state);
		/* every other algorithm (linear.c's too) refuses the blob */
		for (size_t k = 0; k < N_ALGOS + 2; k++)
		{
			const pgml_algorithm *other = k < N_ALGOS ? all_algos[k] : k == N_ALGOS ? &pgml_algo_ridge :
				&pgml_algo_linear;
			void	   *loaded = (void *) 1;

			if (other == algo)
				continue;
			CHECK_INT(load_blob(other, BLOB_WHAT, buf.data, buf.len, &loaded, &err), PGML_ERR_CORRUPT);
			CHECK(loaded == NULL);
		}
		pgml_buf_free(&buf);
		fixture_data_free(&fd);
	}
	json_decref(doc);

	/* hand-made headers: shapes that do not fit the kind */
	{
		static const struct
		{
			uint8_t		kind;
			uint8_t		task;
			uint8_t		output;
			uint64_t	n_funcs;
			uint64_t	n_outputs;
		}			bad[] = {
			{7, 1, 3, 1, 2},	/* SGD classifier with a sigmoid */
			{7, 0, 1, 2, 2},	/* SGD regression with two targets */
			{7, 1, 1, 2, 2},	/* one-vs-all needs three classes */
			{8, 0, 1, 1, 1},	/* perceptron regression */
			{10, 1, 2, 1, 2},	/* Huber classifier */
			{11, 0, 2, 1, 2},	/* quantile with binary scores */
			{14, 0, 1, 1, 1},	/* no such kind */
			{0, 0, 1, 1, 1},
			{7, 2, 1, 1, 1},	/* clustering */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		{
			pgml_buf	b;
			void	   *state = (void *) 1;
			pgml_err	err;
			const pgml_algorithm *algo = bad[i].kind == 8 ? &pgml_algo_perceptron :
				bad[i].kind == 10 ? &pgml_algo_huber : bad[i].kind == 11 ? &pgml_algo_quantile :
				&pgml_algo_stochastic_gradient_descent;
			double		zeros[8] = {0};

			pgml_buf_init(&b);
			pgml_buf_put_u32(&b, 1);
			pgml_buf_put_u8(&b, bad[i].kind);
			pgml_buf_put_u8(&b, bad[i].task);
			pgml_buf_put_u8(&b, bad[i].output);
			pgml_buf_put_u64(&b, 2);
			pgml_buf_put_u64(&b, bad[i].n_funcs);
			pgml_buf_put_u64(&b, bad[i].n_outputs);
			pgml_buf_put_f64s(&b, zeros, 2 * bad[i].n_funcs);
			pgml_buf_put_f64s(&b, zeros, bad[i].n_funcs);
			pgml_buf_put_str(&b, "{}");
			CHECK_INT(load_blob(algo, BLOB_WHAT, b.data, b.len, &state, &err), PGML_ERR_CORRUPT);
			CHECK(state == NULL);
			pgml_buf_free(&b);
		}
	}
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

/* A regression problem of n rows and p features with a few outliers; y2 holds three classes. */
static void
make_problem(size_t n, size_t p, fixture_data *fd, float *classes)
{
	uint64_t	s = 987654321;

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
			fd->x.v[i * p + j] = (float) (2.0 * u);
			t += fd->x.v[i * p + j] * (1.0 + 0.1 * (double) j);
		}
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		t += 0.2 * ((double) (s >> 11) / 9007199254740992.0 - 0.5);
		if (i % 17 == 0)
			t += 10;
		fd->y.v[i] = (float) t;
		if (classes)
			classes[i] = fd->x.v[i * p] > 0.3f ? 2.0f : fd->x.v[i * p + 1] > 0 ? 1.0f : 0.0f;
	}
	fd->xt.rows = 50;
	fd->xt.cols = p;
	fd->xt.v = malloc(50 * p * sizeof(float));
	memcpy(fd->xt.v, fd->x.v, 50 * p * sizeof(float));
}

TEST(online_cancel)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
		int			after;
	}			cases[] = {
		{SGD, REG, "{\"tol\": null, \"max_iter\": 100000}", 2},
		{SGD, CLS, "{\"tol\": null, \"max_iter\": 100000}", 1},
		{SGD, CLS, "{\"tol\": null, \"max_iter\": 100000, \"early_stopping\": true}", 0},
		{"perceptron", CLS, "{\"tol\": null, \"max_iter\": 100000}", 1},
		{PA, REG, "{\"tol\": null, \"max_iter\": 100000}", 1},
		{PA, CLS, "{\"tol\": null, \"max_iter\": 100000, \"average\": true}", 3},
		{"huber", REG, "{\"tol\": 0, \"max_iter\": 100000}", 5},
		{"quantile", REG, "{\"alpha\": 0}", 0},
		{"ransac", REG, "{\"max_trials\": 1000000, \"stop_probability\": 1, \"residual_threshold\": 1e-9}", 1},
		{"theil_sen", REG, "{\"max_subpopulation\": 200000, \"tol\": 0, \"max_iter\": 100000000}", 1},
		{"theil_sen", REG, "{\"max_subpopulation\": 100000, \"tol\": 0, \"max_iter\": 100000000}", 30},
	};
	fixture_data fd;
	float	   *classes = malloc(3000 * sizeof(float));

	make_problem(3000, 8, &fd, classes);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const pgml_algorithm *algo = algo_in(all_algos, cases[i].algo);
		json_t	   *hp = json_loads(cases[i].hp, 0, NULL);
		float	   *saved = fd.y.v;
		void	   *state = NULL;
		pgml_err	err;
		pgml_status rc;

		fd.n_classes = 3;
		if (cases[i].task == CLS)
			fd.y.v = classes;
		stop_calls = 0;
		stop_after = cases[i].after;
		pgml_set_should_stop(stop_hook, NULL);
		rc = fit_on(algo, cases[i].task, &fd, hp, 1, NULL, &state, &err);
		pgml_set_should_stop(NULL, NULL);
		fd.y.v = saved;
		if (rc != PGML_ERR_CANCELLED)
			test_fail(__FILE__, __LINE__, "%s %s: %s after %d polls", cases[i].algo, cases[i].hp,
					  pgml_status_name(rc), stop_calls);
		CHECK(state == NULL);
		CHECK(stop_calls >= cases[i].after + 1 && stop_calls <= cases[i].after + 2);
		algo->free(state);
		json_decref(hp);
	}
	CHECK(!pgml_should_stop());
	free(classes);
	fixture_data_free(&fd);
}

/* Predictions of algo fitted on fd (y, or classes) with a pool of `threads`; NULL on failure. */
static float *
fit_predict_threads(const pgml_algorithm *algo, pgml_task task, const fixture_data *fd, const char *hp_text,
					int threads, size_t *width)
{
	json_t	   *hp = json_loads(hp_text, 0, NULL);
	pgml_pool  *pool = NULL;
	void	   *state = NULL;
	pgml_err	err;
	float	   *out = NULL;

	if (threads > 1 && pgml_pool_new(threads, &pool, &err) != PGML_OK)
		test_fail(__FILE__, __LINE__, "pool: %s", err.msg);
	else if (fit_on(algo, task, fd, hp, 5, pool, &state, &err) != PGML_OK)
		test_fail(__FILE__, __LINE__, "%s %s: %s", algo->name, hp_text, err.msg);
	else
	{
		*width = algo->n_outputs(state);
		out = calloc(fd->xt.rows * *width, sizeof(float));
		CHECK_INT(algo->predict(state, fd->xt.v, fd->xt.rows, fd->xt.cols, out, &err), PGML_OK);
	}
	algo->free(state);
	pgml_pool_free(pool);
	json_decref(hp);
	return out;
}

TEST(online_threads_agree)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
	}			cases[] = {
		{SGD, CLS, "{\"average\": true}"},
		{SGD, CLS, "{\"early_stopping\": true, \"penalty\": \"elasticnet\"}"},
		{PA, CLS, "{}"},
		{"perceptron", CLS, "{}"},
		{"theil_sen", REG, "{\"max_subpopulation\": 3000}"},
	};
	fixture_data fd;
	float	   *classes = malloc(600 * sizeof(float));

	make_problem(600, 5, &fd, classes);
	fd.n_classes = 3;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const pgml_algorithm *algo = algo_in(all_algos, cases[i].algo);
		float	   *saved = fd.y.v;
		float	   *one;
		float	   *three;
		size_t		w1 = 0;
		size_t		w3 = 0;

		if (cases[i].task == CLS)
			fd.y.v = classes;
		one = fit_predict_threads(algo, cases[i].task, &fd, cases[i].hp, 1, &w1);
		three = fit_predict_threads(algo, cases[i].task, &fd, cases[i].hp, 3, &w3);
		fd.y.v = saved;
		REQUIRE(one != NULL && three != NULL);
		CHECK_INT(w1, w3);
		if (memcmp(one, three, fd.xt.rows * w1 * sizeof(float)) != 0)
			test_fail(__FILE__, __LINE__, "%s %s: 1 and 3 threads disagree", cases[i].algo, cases[i].hp);
		free(one);
		free(three);
	}
	free(classes);
	fixture_data_free(&fd);
}

TEST(online_seeds)
{
	fixture_data fd;
	float	   *classes = malloc(600 * sizeof(float));
	json_t	   *dflt = json_loads("{}", 0, NULL);
	json_t	   *null_seed = json_loads("{\"random_state\": null}", 0, NULL);
	json_t	   *fixed = json_loads("{\"random_state\": 9}", 0, NULL);
	float		out[4][150];
	pgml_err	err;

	make_problem(600, 5, &fd, classes);
	fd.y.v[0] += 0;
	free(fd.y.v);
	fd.y.v = classes;
	fd.n_classes = 3;
	/* Perceptron: random_state 0 by default (the seed does not matter), null takes the seed */
	for (int k = 0; k < 4; k++)
	{
		void	   *state = NULL;
		const json_t *hp = k < 2 ? dflt : null_seed;

		REQUIRE(fit_on(&pgml_algo_perceptron, CLS, &fd, hp, (uint64_t) (k % 2 + 1), NULL, &state, &err) == PGML_OK);
		CHECK_INT(pgml_algo_perceptron.predict(state, fd.xt.v, 50, 5, out[k], &err), PGML_OK);
		pgml_algo_perceptron.free(state);
	}
	CHECK(memcmp(out[0], out[1], 150 * sizeof(float)) == 0);
	CHECK(memcmp(out[2], out[3], 150 * sizeof(float)) != 0);
	/* SGD: the seed matters unless random_state is given */
	for (int k = 0; k < 4; k++)
	{
		void	   *state = NULL;
		const json_t *hp = k < 2 ? dflt : fixed;

		REQUIRE(fit_on(&pgml_algo_stochastic_gradient_descent, CLS, &fd, hp, (uint64_t) (k % 2 + 1), NULL, &state,
					   &err) == PGML_OK);
		CHECK_INT(pgml_algo_stochastic_gradient_descent.predict(state, fd.xt.v, 50, 5, out[k], &err), PGML_OK);
		pgml_algo_stochastic_gradient_descent.free(state);
	}
	CHECK(memcmp(out[0], out[1], 150 * sizeof(float)) != 0);
	CHECK(memcmp(out[2], out[3], 150 * sizeof(float)) == 0);
	json_decref(dflt);
	json_decref(null_seed);
	json_decref(fixed);
	fixture_data_free(&fd);
}

TEST(online_quantile_exact)
{
	/* y = 2 x0 - x1 + 1 exactly except a few gross outliers: the median fit is the plane itself */
	enum
	{
		N = 41
	};
	float		x[N * 3];
	float		y[N];
	float		probe[3] = {0.5f, -1.0f, 2.0f};
	float		out[2];
	json_t	   *hp = json_loads("{\"alpha\": 0}", 0, NULL);
	pgml_fit_args args = {REG, hp, 0, 1, NULL};
	pgml_data	d = {x, y, N, 2, 1};
	void	   *state = NULL;
	pgml_err	err;

	for (int i = 0; i < N; i++)
	{
		x[i * 2] = (float) ((i * 7) % 13) - 6.0f;
		x[i * 2 + 1] = (float) ((i * 5) % 11) - 5.0f;
		y[i] = 2 * x[i * 2] - x[i * 2 + 1] + 1;
		if (i % 10 == 3)
			y[i] += (i % 20 == 3) ? 50.0f : -70.0f;
	}
	REQUIRE(pgml_algo_quantile.fit(&args, &d, &state, &err) == PGML_OK);
	CHECK_INT(pgml_algo_quantile.predict(state, probe, 1, 2, out, &err), PGML_OK);
	CHECK_NEAR(out[0], 2 * 0.5 + 1 + 1, 1e-6);
	pgml_algo_quantile.free(state);

	/* a duplicated column (a rank-deficient design) and a constant one: the same function */
	{
		float		x3[N * 3];
		float		probe3[3] = {0.5f, -1.0f, 0.5f};

		for (int i = 0; i < N; i++)
		{
			x3[i * 3] = x[i * 2];
			x3[i * 3 + 1] = x[i * 2 + 1];
			x3[i * 3 + 2] = x[i * 2];
		}
		d.x = x3;
		d.n_features = 3;
		REQUIRE(pgml_algo_quantile.fit(&args, &d, &state, &err) == PGML_OK);
		CHECK_INT(pgml_algo_quantile.predict(state, probe3, 1, 3, out, &err), PGML_OK);
		CHECK_NEAR(out[0], 3.0, 1e-5);
		pgml_algo_quantile.free(state);
		for (int i = 0; i < N; i++)
			x3[i * 3 + 2] = 4.0f;
		probe3[2] = 4.0f;
		REQUIRE(pgml_algo_quantile.fit(&args, &d, &state, &err) == PGML_OK);
		CHECK_INT(pgml_algo_quantile.predict(state, probe3, 1, 3, out, &err), PGML_OK);
		CHECK_NEAR(out[0], 3.0, 1e-5);
		pgml_algo_quantile.free(state);
	}
	/* one row: the intercept is its target */
	d.x = x;
	d.n_features = 2;
	d.n_rows = 1;
	REQUIRE(pgml_algo_quantile.fit(&args, &d, &state, &err) == PGML_OK);
	CHECK_INT(pgml_algo_quantile.predict(state, x, 1, 2, out, &err), PGML_OK);
	CHECK_NEAR(out[0], y[0], 1e-6);
	pgml_algo_quantile.free(state);
	json_decref(hp);
}

TEST(online_small_and_degenerate)
{
	/* fewer rows than features, constant targets, a single row: every algorithm fits and predicts finitely */
	float		x[4 * 6];
	float		y[4] = {1, 2, 3, 5};
	float		c[4] = {0, 1, 0, 1};
	float		out[8];
	json_t	   *hp = json_loads("{}", 0, NULL);
	pgml_err	err;

	for (int i = 0; i < 24; i++)
		x[i] = (float) ((i * 7) % 5) - 2.0f;
	for (size_t a = 0; a < N_ALGOS; a++)
	{
		const pgml_algorithm *algo = all_algos[a];

		for (int variant = 0; variant < 3; variant++)
		{
			float		yc[4] = {2, 2, 2, 2};
			pgml_task	task = (algo->tasks & PGML_TASK_BIT(REG)) ? REG : CLS;
			pgml_data	d = {x, task == CLS ? c : variant == 1 ? yc : y, variant == 2 ? 2 : 4, 6, 1};
			pgml_fit_args args = {task, hp, task == CLS ? 2 : 0, 3, NULL};
			void	   *state = NULL;
			pgml_status rc = algo->fit(&args, &d, &state, &err);

			if (rc != PGML_OK)
			{
				/* RANSAC needs min_samples = 7 rows by default here */
				if (!(algo == &pgml_algo_ransac && rc == PGML_ERR_INVALID_ARGUMENT))
					test_fail(__FILE__, __LINE__, "%s variant %d: %s", algo->name, variant, err.msg);
				continue;
			}
			CHECK_INT(algo->predict(state, x, 2, 6, out, &err), PGML_OK);
			for (size_t k = 0; k < 2 * algo->n_outputs(state); k++)
				CHECK(isfinite(out[k]));
			if (variant == 1 && task == REG && algo != &pgml_algo_stochastic_gradient_descent &&
				algo != &pgml_algo_passive_aggressive)
				CHECK_NEAR(out[0], 2.0, 1e-4);
			algo->free(state);
		}
	}
	json_decref(hp);
	/* RANSAC on few rows with min_samples given */
	{
		json_t	   *h = json_loads("{\"min_samples\": 2}", 0, NULL);
		pgml_data	d = {x, y, 4, 6, 1};
		pgml_fit_args args = {REG, h, 0, 3, NULL};
		void	   *state = NULL;

		CHECK_INT(pgml_algo_ransac.fit(&args, &d, &state, &err), PGML_OK);
		pgml_algo_ransac.free(state);
		json_decref(h);
	}
}

TEST(online_model_layer)
{
	json_t	   *doc = load_fixture(FIXTURE);
	fixture_data fd;
	float	   *y2;
	json_t	   *hp = json_loads("{\"random_state\": 1}", 0, NULL);
	json_t	   *median = json_loads("{\"alpha\": 0}", 0, NULL);
	pgml_model *model = NULL;
	pgml_model *loaded = NULL;
	pgml_err	err;
	pgml_buf	buf;
	float	   *a;
	float	   *b;

	REQUIRE(doc != NULL);
	REQUIRE(fixture_dataset(doc, "reg", &fd));
	/* two targets: one fit per target (multi_target is false); the median regression of -2 y is -2 times y's */
	y2 = malloc(fd.x.rows * 2 * sizeof(float));
	for (size_t i = 0; i < fd.x.rows; i++)
	{
		y2[2 * i] = fd.y.v[i];
		y2[2 * i + 1] = -2.0f * fd.y.v[i];
	}
	{
		pgml_data	d = {fd.x.v, y2, fd.x.rows, fd.x.cols, 2};

		REQUIRE(pgml_model_fit("quantile", REG, median, &d, 1, NULL, &model, &err) == PGML_OK);
	}
	CHECK_INT(pgml_model_n_targets(model), 2);
	a = calloc(fd.xt.rows * 2, sizeof(float));
	b = calloc(fd.xt.rows * 2, sizeof(float));
	CHECK_INT(pgml_model_predict(model, fd.xt.v, fd.xt.rows, a, &err), PGML_OK);
	for (size_t i = 0; i < fd.xt.rows; i++)
		CHECK_NEAR(a[2 * i + 1], -2.0 * a[2 * i], 1e-5);
	pgml_buf_init(&buf);
	REQUIRE(pgml_model_save(model, &buf, &err) == PGML_OK);
	REQUIRE(pgml_model_load(buf.data, buf.len, &loaded, &err) == PGML_OK);
	CHECK_INT(pgml_model_predict(loaded, fd.xt.v, fd.xt.rows, b, &err), PGML_OK);
	CHECK(memcmp(a, b, fd.xt.rows * 2 * sizeof(float)) == 0);
	pgml_buf_free(&buf);
	pgml_model_free(model);
	pgml_model_free(loaded);
	free(a);
	free(b);
	free(y2);
	fixture_data_free(&fd);

	/* classifiers give decision scores, not probabilities */
	REQUIRE(fixture_dataset(doc, "sep3", &fd));
	{
		pgml_data	d = {fd.x.v, fd.y.v, fd.x.rows, fd.x.cols, 1};
		float		proba[3];
		float		label;
		float		labels[400];

		for (size_t i = 0; i < fd.x.rows; i++)
			labels[i % 400] = 0;
		REQUIRE(pgml_model_fit("passive_aggressive", CLS, hp, &d, 1, NULL, &model, &err) == PGML_OK);
		CHECK_INT(pgml_model_n_classes(model), 3);
		CHECK_INT(pgml_model_predict(model, fd.xt.v, 1, &label, &err), PGML_OK);
		CHECK(label == 0.0f || label == 1.0f || label == 2.0f);
		CHECK_INT(pgml_model_predict_proba(model, fd.xt.v, 1, proba, &err), PGML_ERR_NOT_SUPPORTED);
		(void) labels;
		pgml_model_free(model);
	}
	fixture_data_free(&fd);
	json_decref(hp);
	json_decref(median);
	json_decref(doc);
}
