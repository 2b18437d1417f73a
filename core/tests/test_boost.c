/*
 * Tests for hist_gradient_boosting, lightgbm (src/learn/boost.c), ada_boost and bagging (src/learn/ensemble.c).
 *
 * The oracle is scikit-learn 1.2: tests/fixtures/boost.json (written by tools/fixtures/make_boost_fixtures.py)
 * holds small deterministic problems, 400 training and 150 test rows each, and per case either:
 *   "pred"   scikit-learn is deterministic: HistGradientBoosting* below 10,000 rows uses no random numbers
 *            (no early stopping's split, no subsample for the bins), AdaBoostClassifier only to break ties
 *            between equally good splits, bagging without bootstrap likewise. We take R² of our test
 *            predictions (probabilities for classifiers) against scikit-learn's and require
 *            R² >= PRED_R2 = 0.999, or min(0.999, floor) − FLOOR_MARGIN where scikit-learn does not reproduce
 *            itself across random_states (its worst R² against random_state 0 is the fixture's `floor`).
 *            Test scores within SCORE_TOL as well.
 *   "score"  the fit draws random numbers that we draw differently (AdaBoost.R2's weighted bootstrap,
 *            bagging, early stopping's validation split): we fit with N_SEEDS seeds and require the mean
 *            test-set accuracy or R² within SCORE_TOL = 0.03 of the mean of scikit-learn's 5 random_states.
 *            lightgbm has no reference library here: its cases hold scikit-learn's HistGradientBoosting*
 *            at the matching settings (`reference`), and we require lightgbm's quality within SCORE_TOL of it.
 * Besides: save/load round trips, every truncation of small models and byte flips, bad hyperparameters,
 * lightgbm's aliases, the effective parameters, cancellation, a pool of 3 threads against none, early
 * stopping, and fits through pgml_model.
 */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#include "pgml/json.h"
#include "pgml/learn.h"
#include "../src/learn/algorithms.h"
#include "fixture.h"
#include "../src/learn/trees.h"

#define FIXTURE "tests/fixtures/boost.json"
#define BLOB_WHAT "tree model"	/* how load errors name a saved model */
#define SCORE_TOL 0.03
#define PRED_R2 0.999
#define FLOOR_MARGIN 0.005
#define N_SEEDS 3

static const pgml_algorithm *const file_algos[] = {
	&pgml_algo_hist_gradient_boosting, &pgml_algo_lightgbm, &pgml_algo_ada_boost, &pgml_algo_bagging, NULL
};

static double
test_score(pgml_task task, const float *pred, size_t n_out, const matrix *yt)
{
	if (task == PGML_TASK_CLASSIFICATION)
	{
		size_t		correct = 0;

		for (size_t i = 0; i < yt->rows; i++)
		{
			size_t		best = 0;

			for (size_t k = 1; k < n_out; k++)
				if (pred[i * n_out + k] > pred[i * n_out + best])
					best = k;
			correct += (float) best == yt->v[i];
		}
		return (double) correct / (double) yt->rows;
	}
	else
	{
		double		mean = 0;
		double		res = 0;
		double		tot = 0;

		for (size_t i = 0; i < yt->rows; i++)
			mean += yt->v[i];
		mean /= (double) yt->rows;
		for (size_t i = 0; i < yt->rows; i++)
		{
			res += (yt->v[i] - pred[i]) * (yt->v[i] - pred[i]);
			tot += (yt->v[i] - mean) * (yt->v[i] - mean);
		}
		return 1.0 - res / tot;
	}
}

TEST(boost_match_sklearn)
{
	json_t	   *doc = load_fixture(FIXTURE);
	const json_t *cases;
	size_t		ci;
	const json_t *c;
	int			n_score = 0;
	int			n_pred = 0;

	REQUIRE(doc != NULL);
	cases = json_object_get(doc, "cases");
	REQUIRE(json_array_size(cases) >= 30);
	json_array_foreach(cases, ci, c)
	{
		const char *name = json_string_value(json_object_get(c, "algorithm"));
		const char *task_name = json_string_value(json_object_get(c, "task"));
		const char *data_name = json_string_value(json_object_get(c, "data"));
		const char *kind = json_string_value(json_object_get(c, "kind"));
		const json_t *hp = json_object_get(c, "params");
		double		sk_score = json_number_value(json_object_get(c, "score"));
		const pgml_algorithm *algo = algo_in(file_algos, name);
		pgml_task	task = strcmp(task_name, "regression") == 0 ? PGML_TASK_REGRESSION : PGML_TASK_CLASSIFICATION;
		bool		exact = strcmp(kind, "pred") == 0;
		char	   *hp_text = pgml_json_dumps(hp);
		fixture_data fd;
		double		ours = 0;
		double		r2 = NAN;
		int			seeds = exact ? 1 : N_SEEDS;

		REQUIRE(algo != NULL);
		REQUIRE(fixture_dataset(doc, data_name, &fd));
		for (int s = 0; s < seeds; s++)
		{
			void	   *state = NULL;
			pgml_err	err;
			size_t		n_out;
			float	   *pred;

			if (fit_on(algo, task, &fd, hp, 1000 + (uint64_t) s, NULL, &state, &err) != PGML_OK)
			{
				test_fail(__FILE__, __LINE__, "case %zu (%s %s on %s, %s): fit failed: %s (%s)", ci, name, task_name,
						  data_name, hp_text, err.msg, err.detail);
				break;
			}
			n_out = algo->n_outputs(state);
			CHECK_INT(n_out, task == PGML_TASK_CLASSIFICATION ? (size_t) fd.n_classes : 1);
			pred = calloc(fd.xt.rows * n_out, sizeof(float));
			CHECK_INT(algo->predict(state, fd.xt.v, fd.xt.rows, fd.xt.cols, pred, &err), PGML_OK);
			ours += test_score(task, pred, n_out, &fd.yt) / seeds;
			if (exact)
			{
				matrix		expect;

				REQUIRE(matrix_from_json(json_object_get(c, "pred"), &expect));
				CHECK_INT(expect.rows * expect.cols, fd.xt.rows * n_out);
				r2 = r2_against(pred, expect.v, expect.rows * expect.cols);
				free(expect.v);
			}
			if (s == 0)
				check_save_load(algo, BLOB_WHAT, state, &fd.xt, pred, n_out, hp_text);
			free(pred);
			algo->free(state);
		}
		if (exact)
		{
			double		floor_r2 = json_number_value(json_object_get(c, "floor"));
			double		need = floor_r2 >= 1.0 ? PRED_R2 : fmin(PRED_R2, floor_r2) - FLOOR_MARGIN;

			n_pred++;
			if (!(r2 >= need) || fabs(ours - sk_score) > SCORE_TOL)
				test_fail(__FILE__, __LINE__, "case %zu (%s %s on %s, %s): R² against sklearn's predictions %.6f "
						  "(need %.6f), score %.4f, sklearn %.4f", ci, name, task_name, data_name, hp_text, r2, need,
						  ours, sk_score);
		}
		else
		{
			n_score++;
			if (!(fabs(ours - sk_score) <= SCORE_TOL))
				test_fail(__FILE__, __LINE__, "case %zu (%s %s on %s, %s): score %.4f, sklearn %.4f", ci, name,
						  task_name, data_name, hp_text, ours, sk_score);
		}
		if (getenv("PGML_TEST_VERBOSE"))
			printf("    case %2zu %-22s %-5.5s %-8s %-5s ours %.4f sklearn %.4f %s%.6f %s%.6f  %s\n", ci, name,
				   task_name, data_name, kind, ours, sk_score, exact ? "r2 " : "", exact ? r2 : ours - sk_score,
				   exact ? "floor " : "", exact ? json_number_value(json_object_get(c, "floor")) : 0.0, hp_text);
		fixture_data_free(&fd);
		pgml_free(hp_text);
	}
	CHECK(n_score >= 15 && n_pred >= 15);
	json_decref(doc);
}

TEST(boost_bad_hyperparameters)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
		pgml_status expect;
		const char *in_msg;
	}			cases[] = {
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"loss\": \"huber\"}", PGML_ERR_INVALID_ARGUMENT, "\"loss\""},
		{"hist_gradient_boosting", PGML_TASK_CLASSIFICATION, "{\"loss\": \"squared_error\"}", PGML_ERR_INVALID_ARGUMENT, "\"loss\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"loss\": \"quantile\"}", PGML_ERR_INVALID_ARGUMENT, "quantile"},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"loss\": \"quantile\", \"quantile\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"quantile\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"learning_rate\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"learning_rate\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"max_iter\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"max_iter\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"max_leaf_nodes\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"max_leaf_nodes\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"max_depth\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"max_depth\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"min_samples_leaf\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"min_samples_leaf\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"l2_regularization\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"l2_regularization\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"max_bins\": 256}", PGML_ERR_INVALID_ARGUMENT, "\"max_bins\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"max_bins\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"max_bins\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"categorical_features\": [0]}", PGML_ERR_NOT_SUPPORTED, "categorical_features"},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"monotonic_cst\": [1, 0]}", PGML_ERR_NOT_SUPPORTED, "monotonic_cst"},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"interaction_cst\": [[0, 1]]}", PGML_ERR_NOT_SUPPORTED, "interaction_cst"},
		{"hist_gradient_boosting", PGML_TASK_CLASSIFICATION, "{\"class_weight\": \"balanced\"}", PGML_ERR_NOT_SUPPORTED, "class_weight"},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"class_weight\": null}", PGML_ERR_INVALID_ARGUMENT, "class_weight"},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"early_stopping\": \"yes\"}", PGML_ERR_INVALID_ARGUMENT, "\"early_stopping\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"scoring\": \"r2\"}", PGML_ERR_NOT_SUPPORTED, "scoring"},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"validation_fraction\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"validation_fraction\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"early_stopping\": true, \"validation_fraction\": 400}", PGML_ERR_INVALID_ARGUMENT, "validation_fraction"},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"n_iter_no_change\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"n_iter_no_change\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"tol\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"tol\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"random_state\": -3}", PGML_ERR_INVALID_ARGUMENT, "\"random_state\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"warm_start\": 2}", PGML_ERR_INVALID_ARGUMENT, "\"warm_start\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"verbose\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"verbose\""},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"n_estimators\": 10}", PGML_ERR_INVALID_ARGUMENT, "n_estimators"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"boosting_type\": \"dart\"}", PGML_ERR_NOT_SUPPORTED, "dart"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"boosting_type\": \"forest\"}", PGML_ERR_INVALID_ARGUMENT, "\"boosting_type\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"objective\": \"binary\"}", PGML_ERR_INVALID_ARGUMENT, "binary"},
		{"lightgbm", PGML_TASK_CLASSIFICATION, "{\"objective\": \"regression\"}", PGML_ERR_INVALID_ARGUMENT, "regression"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"objective\": \"tweedie\"}", PGML_ERR_NOT_SUPPORTED, "tweedie"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"objective\": \"linear\"}", PGML_ERR_INVALID_ARGUMENT, "\"objective\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"num_leaves\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"num_leaves\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"learning_rate\": -0.1}", PGML_ERR_INVALID_ARGUMENT, "\"learning_rate\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"n_estimators\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"n_estimators\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"num_iterations\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"n_estimators\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"subsample\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"subsample\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"bagging_fraction\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"subsample\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"colsample_bytree\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"colsample_bytree\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"reg_alpha\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"reg_alpha\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"lambda_l2\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"reg_lambda\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"min_child_samples\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"min_child_samples\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"min_child_weight\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"min_child_weight\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"min_split_gain\": -1}", PGML_ERR_INVALID_ARGUMENT, "\"min_split_gain\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"max_bin\": 1000}", PGML_ERR_NOT_SUPPORTED, "max_bin"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"max_bin\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"max_bin\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"importance_type\": \"cover\"}", PGML_ERR_INVALID_ARGUMENT, "\"importance_type\""},
		{"lightgbm", PGML_TASK_CLASSIFICATION, "{\"class_weight\": \"balanced\"}", PGML_ERR_NOT_SUPPORTED, "class_weight"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"alpha\": 1.0}", PGML_ERR_INVALID_ARGUMENT, "\"alpha\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"n_jobs\": \"all\"}", PGML_ERR_INVALID_ARGUMENT, "\"n_jobs\""},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"n_estimators\": 10, \"num_iterations\": 10}", PGML_ERR_INVALID_ARGUMENT, "alias"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"num_iterations\": 10, \"num_boost_round\": 10}", PGML_ERR_INVALID_ARGUMENT, "alias"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"subsample\": 0.5, \"bagging_fraction\": 0.5}", PGML_ERR_INVALID_ARGUMENT, "alias"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"reg_alpha\": 1, \"lambda_l1\": 1}", PGML_ERR_INVALID_ARGUMENT, "alias"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"random_state\": 1, \"seed\": 1}", PGML_ERR_INVALID_ARGUMENT, "alias"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"min_child_samples\": 5, \"min_data_in_leaf\": 5}", PGML_ERR_INVALID_ARGUMENT, "alias"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"verbose\": 1, \"verbosity\": 1}", PGML_ERR_INVALID_ARGUMENT, "alias"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"num_class\": 3}", PGML_ERR_INVALID_ARGUMENT, "num_class"},
		{"ada_boost", PGML_TASK_CLASSIFICATION, "{\"algorithm\": \"SAMME.Q\"}", PGML_ERR_INVALID_ARGUMENT, "\"algorithm\""},
		{"ada_boost", PGML_TASK_REGRESSION, "{\"loss\": \"cubic\"}", PGML_ERR_INVALID_ARGUMENT, "\"loss\""},
		{"ada_boost", PGML_TASK_REGRESSION, "{\"algorithm\": \"SAMME\"}", PGML_ERR_INVALID_ARGUMENT, "algorithm"},
		{"ada_boost", PGML_TASK_CLASSIFICATION, "{\"n_estimators\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"n_estimators\""},
		{"ada_boost", PGML_TASK_CLASSIFICATION, "{\"learning_rate\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"learning_rate\""},
		{"ada_boost", PGML_TASK_CLASSIFICATION, "{\"estimator\": \"svm\"}", PGML_ERR_NOT_SUPPORTED, "estimator"},
		{"ada_boost", PGML_TASK_CLASSIFICATION, "{\"base_estimator\": {\"max_depth\": 2}}", PGML_ERR_NOT_SUPPORTED, "base_estimator"},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"estimator\": \"knn\"}", PGML_ERR_NOT_SUPPORTED, "estimator"},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"n_estimators\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"n_estimators\""},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"max_samples\": 0}", PGML_ERR_INVALID_ARGUMENT, "\"max_samples\""},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"max_samples\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"max_samples\""},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"max_samples\": 100000}", PGML_ERR_INVALID_ARGUMENT, "max_samples"},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"max_samples\": 0.0001}", PGML_ERR_INVALID_ARGUMENT, "max_samples"},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"max_features\": 9}", PGML_ERR_INVALID_ARGUMENT, "max_features"},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"max_features\": \"sqrt\"}", PGML_ERR_INVALID_ARGUMENT, "\"max_features\""},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"bootstrap\": false, \"oob_score\": true}", PGML_ERR_INVALID_ARGUMENT, "oob_score"},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"oob_score\": true, \"warm_start\": true}", PGML_ERR_INVALID_ARGUMENT, "warm_start"},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"bootstrap_features\": 1}", PGML_ERR_INVALID_ARGUMENT, "\"bootstrap_features\""},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"n_jobs\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "\"n_jobs\""},
		{"bagging", PGML_TASK_CLUSTERING, "{}", PGML_ERR_NOT_SUPPORTED, "clustering"},
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
		rc = fit_text(doc, cases[i].algo, cases[i].task, data, cases[i].hp, 1, NULL, &state, &err);
		if (rc != cases[i].expect || strstr(err.msg, cases[i].in_msg) == NULL)
			test_fail(__FILE__, __LINE__, "%s %s: got %s \"%s\", expected %s mentioning %s", cases[i].algo,
					  cases[i].hp, pgml_status_name(rc), err.msg, pgml_status_name(cases[i].expect), cases[i].in_msg);
		CHECK(state == NULL);
		algo_in(file_algos, cases[i].algo)->free(state);
	}
	/* losses that need a number of classes */
	{
		void	   *state = NULL;
		pgml_err	err;

		CHECK_INT(fit_text(doc, "hist_gradient_boosting", PGML_TASK_CLASSIFICATION, "multi",
						   "{\"loss\": \"binary_crossentropy\"}", 1, NULL, &state, &err), PGML_ERR_INVALID_ARGUMENT);
		CHECK_INT(fit_text(doc, "hist_gradient_boosting", PGML_TASK_CLASSIFICATION, "bin",
						   "{\"loss\": \"categorical_crossentropy\"}", 1, NULL, &state, &err), PGML_ERR_INVALID_ARGUMENT);
		CHECK_INT(fit_text(doc, "lightgbm", PGML_TASK_CLASSIFICATION, "multi", "{\"objective\": \"binary\"}", 1, NULL,
						   &state, &err), PGML_ERR_INVALID_ARGUMENT);
		/* poisson needs non-negative targets */
		CHECK_INT(fit_text(doc, "hist_gradient_boosting", PGML_TASK_REGRESSION, "reg", "{\"loss\": \"poisson\"}", 1,
						   NULL, &state, &err), PGML_ERR_DATA);
		CHECK_INT(fit_text(doc, "lightgbm", PGML_TASK_REGRESSION, "reg", "{\"objective\": \"poisson\"}", 1,
						   NULL, &state, &err), PGML_ERR_DATA);
		CHECK(state == NULL);
	}
	json_decref(doc);
}

TEST(boost_accept_params)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
	}			cases[] = {
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"loss\": \"squared_error\", \"quantile\": null, "
			"\"learning_rate\": 0.3, \"max_iter\": 5, \"max_leaf_nodes\": null, \"max_depth\": 4, \"min_samples_leaf\": 3, "
			"\"l2_regularization\": 0.1, \"max_bins\": 2, \"categorical_features\": null, \"monotonic_cst\": null, "
			"\"interaction_cst\": null, \"warm_start\": true, \"early_stopping\": \"auto\", \"scoring\": \"loss\", "
		"\"validation_fraction\": 0.2, \"n_iter_no_change\": 2, \"tol\": 0, \"verbose\": 1, \"random_state\": 3}"},
		{"hist_gradient_boosting", PGML_TASK_CLASSIFICATION, "{\"loss\": \"auto\", \"max_iter\": 3, \"early_stopping\": true, "
		"\"validation_fraction\": 50, \"class_weight\": null}"},
		{"hist_gradient_boosting", PGML_TASK_CLASSIFICATION, "{\"loss\": \"categorical_crossentropy\", \"max_iter\": 3}"},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"loss\": \"absolute_error\", \"max_iter\": 3, \"min_samples_leaf\": 500}"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"boosting_type\": \"gbdt\", \"num_leaves\": 5, \"max_depth\": 2, "
			"\"learning_rate\": 0.5, \"num_boost_round\": 4, \"subsample_for_bin\": 100, \"objective\": \"l2\", "
			"\"class_weight\": null, \"min_gain_to_split\": 0.01, \"min_sum_hessian_in_leaf\": 1, \"min_data_in_leaf\": 0, "
			"\"bagging_fraction\": 0.5, \"bagging_freq\": 1, \"feature_fraction\": 0.5, \"lambda_l1\": 0.1, "
		"\"lambda_l2\": 0.1, \"seed\": 5, \"n_jobs\": -1, \"importance_type\": \"gain\", \"max_bin\": 63, \"verbosity\": 1}"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"objective\": \"quantile\", \"alpha\": 0.3, \"n_estimators\": 3}"},
		{"lightgbm", PGML_TASK_CLASSIFICATION, "{\"objective\": \"multiclass\", \"n_estimators\": 3, \"verbose\": -1}"},
		{"ada_boost", PGML_TASK_CLASSIFICATION, "{\"estimator\": null, \"n_estimators\": 3, \"learning_rate\": 2, "
		"\"algorithm\": \"SAMME\", \"random_state\": 1, \"base_estimator\": \"deprecated\"}"},
		{"ada_boost", PGML_TASK_REGRESSION, "{\"base_estimator\": null, \"n_estimators\": 3, \"loss\": \"square\"}"},
		{"bagging", PGML_TASK_REGRESSION, "{\"estimator\": null, \"n_estimators\": 3, \"max_samples\": 10, "
			"\"max_features\": 1, \"bootstrap\": true, \"bootstrap_features\": true, \"oob_score\": true, "
		"\"warm_start\": false, \"n_jobs\": 2, \"random_state\": 0, \"verbose\": 1, \"base_estimator\": \"deprecated\"}"},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"n_estimators\": 2, \"max_samples\": 1.0, \"max_features\": 0.01}"},
	};
	json_t	   *doc = load_fixture(FIXTURE);

	REQUIRE(doc != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const char *data = cases[i].task == PGML_TASK_CLASSIFICATION ? "multi" : "reg";
		void	   *state = NULL;
		pgml_err	err;

		pgml_err_clear(&err);
		if (fit_text(doc, cases[i].algo, cases[i].task, data, cases[i].hp, 1, NULL, &state, &err) != PGML_OK)
			test_fail(__FILE__, __LINE__, "%s %s: %s (%s)", cases[i].algo, cases[i].hp, err.msg, err.detail);
		algo_in(file_algos, cases[i].algo)->free(state);
	}
	json_decref(doc);
}

TEST(boost_effective_params)
{
	json_t	   *doc = load_fixture(FIXTURE);
	char	   *t;

	REQUIRE(doc != NULL);
	t = params_text(doc, "hist_gradient_boosting", PGML_TASK_REGRESSION, "reg", "{\"max_iter\": 2}", 1);
	CHECK_STR(t, "{\"loss\":\"squared_error\",\"quantile\":null,\"learning_rate\":0.10000000000000001,\"max_iter\":2,"
			  "\"max_leaf_nodes\":31,\"max_depth\":null,\"min_samples_leaf\":20,\"l2_regularization\":0.0,\"max_bins\":255,"
			  "\"categorical_features\":null,\"monotonic_cst\":null,\"interaction_cst\":null,\"warm_start\":false,"
			  "\"early_stopping\":\"auto\",\"scoring\":\"loss\",\"validation_fraction\":0.10000000000000001,\"n_iter_no_change\":10,"
			  "\"tol\":9.9999999999999995e-8,\"verbose\":0,\"random_state\":null}");
	pgml_free(t);
	t = params_text(doc, "hist_gradient_boosting", PGML_TASK_CLASSIFICATION, "bin", "{\"max_iter\": 2}", 1);
	CHECK(t != NULL && strstr(t, "{\"loss\":\"log_loss\",\"learning_rate\":0.10000000000000001,") == t &&
		  strstr(t, ",\"class_weight\":null}") != NULL && strstr(t, "quantile") == NULL);
	pgml_free(t);
	t = params_text(doc, "lightgbm", PGML_TASK_REGRESSION, "reg", "{\"num_iterations\": 2, \"lambda_l1\": 0.5}", 1);
	CHECK_STR(t, "{\"boosting_type\":\"gbdt\",\"num_leaves\":31,\"max_depth\":-1,\"learning_rate\":0.10000000000000001,"
			  "\"n_estimators\":2,\"subsample_for_bin\":200000,\"objective\":\"regression\",\"class_weight\":null,"
			  "\"min_split_gain\":0.0,\"min_child_weight\":0.001,\"min_child_samples\":20,\"subsample\":1.0,"
			  "\"subsample_freq\":0,\"colsample_bytree\":1.0,\"reg_alpha\":0.5,\"reg_lambda\":0.0,\"random_state\":null,"
			  "\"n_jobs\":null,\"importance_type\":\"split\",\"max_bin\":255,\"verbose\":-1,\"alpha\":0.90000000000000002}");
	pgml_free(t);
	t = params_text(doc, "lightgbm", PGML_TASK_CLASSIFICATION, "bin", "{\"n_estimators\": 2}", 1);
	CHECK(t != NULL && strstr(t, "\"objective\":\"binary\"") != NULL);
	pgml_free(t);
	t = params_text(doc, "ada_boost", PGML_TASK_CLASSIFICATION, "bin", "{\"n_estimators\": 2}", 1);
	CHECK_STR(t, "{\"estimator\":null,\"n_estimators\":2,\"learning_rate\":1.0,\"algorithm\":\"SAMME.R\","
			  "\"random_state\":null,\"base_estimator\":\"deprecated\"}");
	pgml_free(t);
	t = params_text(doc, "ada_boost", PGML_TASK_REGRESSION, "reg", "{\"n_estimators\": 2}", 1);
	CHECK_STR(t, "{\"estimator\":null,\"n_estimators\":2,\"learning_rate\":1.0,\"loss\":\"linear\","
			  "\"random_state\":null,\"base_estimator\":\"deprecated\"}");
	pgml_free(t);
	t = params_text(doc, "bagging", PGML_TASK_REGRESSION, "reg", "{\"n_estimators\": 2}", 1);
	CHECK_STR(t, "{\"estimator\":null,\"n_estimators\":2,\"max_samples\":1.0,\"max_features\":1.0,\"bootstrap\":true,"
			  "\"bootstrap_features\":false,\"oob_score\":false,\"warm_start\":false,\"n_jobs\":null,"
			  "\"random_state\":null,\"verbose\":0,\"base_estimator\":\"deprecated\"}");
	pgml_free(t);
	json_decref(doc);

	CHECK(pgml_algo_hist_gradient_boosting.has_proba && pgml_algo_lightgbm.has_proba && pgml_algo_ada_boost.has_proba &&
		  pgml_algo_bagging.has_proba);
	CHECK(pgml_algorithm_find("hist_gradient_boosting") == &pgml_algo_hist_gradient_boosting);
	CHECK(pgml_algorithm_find("lightgbm") == &pgml_algo_lightgbm);
	CHECK(pgml_algorithm_find("ada_boost") == &pgml_algo_ada_boost);
	CHECK(pgml_algorithm_find("bagging") == &pgml_algo_bagging);
}

TEST(boost_corrupt_blobs)
{
	static const uint8_t flip_masks[] = {0x01, 0xff};
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *data;
		const char *hp;
	}			cases[] = {
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "reg", "{\"max_iter\": 2, \"max_leaf_nodes\": 3}"},
		{"hist_gradient_boosting", PGML_TASK_CLASSIFICATION, "multi", "{\"max_iter\": 1, \"max_depth\": 1}"},
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "counts", "{\"max_iter\": 1, \"max_depth\": 1, \"loss\": \"poisson\"}"},
		{"lightgbm", PGML_TASK_CLASSIFICATION, "bin", "{\"n_estimators\": 2, \"num_leaves\": 3}"},
		{"ada_boost", PGML_TASK_CLASSIFICATION, "multi", "{\"n_estimators\": 2}"},
		{"ada_boost", PGML_TASK_REGRESSION, "reg", "{\"n_estimators\": 2}"},
		{"bagging", PGML_TASK_REGRESSION, "reg", "{\"n_estimators\": 1, \"max_samples\": 6}"},
	};
	json_t	   *doc = load_fixture(FIXTURE);

	REQUIRE(doc != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const pgml_algorithm *algo = algo_in(file_algos, cases[i].algo);
		const pgml_algorithm *other = algo == &pgml_algo_bagging ? &pgml_algo_random_forest : &pgml_algo_bagging;
		void	   *state;
		void	   *loaded = (void *) 1;
		pgml_err	err;
		pgml_buf	buf;

		REQUIRE(fit_text(doc, cases[i].algo, cases[i].task, cases[i].data, cases[i].hp, 1, NULL, &state, &err) == PGML_OK);
		REQUIRE(save_state(algo, state, &buf));
		check_corrupt_blobs(algo, BLOB_WHAT, &buf, flip_masks, 2, check_predicts_extremes, NULL);
		algo->free(state);
		CHECK_INT(load_blob(other, BLOB_WHAT, buf.data, buf.len, &loaded, &err), PGML_ERR_CORRUPT);
		CHECK(loaded == NULL);
		pgml_buf_free(&buf);
	}
	json_decref(doc);
}

/* A synthetic problem of n rows × p features: classes from a noisy rule, or a smooth target. */
static void
make_problem(size_t n, size_t p, bool classes, fixture_data *fd)
{
	uint64_t	s = 123456789;

	memset(fd, 0, sizeof(*fd));
	fd->x.rows = n;
	fd->x.cols = p;
	fd->x.v = malloc(n * p * sizeof(float));
	fd->y.rows = n;
	fd->y.cols = 1;
	fd->y.v = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
	{
		double		t = 0;

		for (size_t j = 0; j < p; j++)
		{
			double		u;

			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			u = (double) (s >> 11) / 9007199254740992.0;
			fd->x.v[i * p + j] = (float) (j % 4 == 3 ? floor(u * 5) : u);
			t += (j % 3 == 0 ? 1.0 : -0.5) * fd->x.v[i * p + j] * (j < 6 ? 1.0 : 0.1);
		}
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		t += 0.3 * ((double) (s >> 11) / 9007199254740992.0 - 0.5) + sin(3 * fd->x.v[i * p]);
		fd->y.v[i] = classes ? (t > 0.9 ? 2.0f : t > 0.2 ? 1.0f : 0.0f) : (float) t;
	}
	fd->n_classes = classes ? 3 : 0;
}

static void
fit_blob(const pgml_algorithm *algo, pgml_task task, const fixture_data *fd, const char *hp_text, uint64_t seed,
		 pgml_pool *pool, pgml_buf *buf)
{
	json_t	   *hp = json_loads(hp_text, 0, NULL);
	void	   *state = NULL;
	pgml_err	err;

	pgml_buf_init(buf);
	if (fit_on(algo, task, fd, hp, seed, pool, &state, &err) != PGML_OK)
		test_fail(__FILE__, __LINE__, "%s %s: %s", algo->name, hp_text, err.msg);
	else
		algo->save(state, buf);
	algo->free(state);
	json_decref(hp);
}

static int
same_blob(const pgml_buf *a, const pgml_buf *b)
{
	return a->data != NULL && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

TEST(boost_pool_gives_identical_models)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
	}			cases[] = {
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"max_iter\": 10}"},
		{"hist_gradient_boosting", PGML_TASK_CLASSIFICATION, "{\"max_iter\": 5, \"max_leaf_nodes\": null, \"max_depth\": 4}"},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"n_estimators\": 10, \"subsample\": 0.7, \"subsample_freq\": 2, "
		"\"colsample_bytree\": 0.6, \"reg_alpha\": 0.1}"},
		{"lightgbm", PGML_TASK_CLASSIFICATION, "{\"n_estimators\": 5}"},
		{"ada_boost", PGML_TASK_CLASSIFICATION, "{\"n_estimators\": 5}"},
		{"ada_boost", PGML_TASK_REGRESSION, "{\"n_estimators\": 5}"},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"n_estimators\": 7, \"max_features\": 0.5, \"bootstrap_features\": true}"},
		{"bagging", PGML_TASK_REGRESSION, "{\"n_estimators\": 2, \"bootstrap\": false, \"max_samples\": 0.5, "
		"\"oob_score\": false}"},
	};
	fixture_data cls;
	fixture_data reg;
	pgml_pool  *pool = NULL;
	pgml_err	err;

	make_problem(3000, 12, true, &cls);
	make_problem(3000, 12, false, &reg);
	REQUIRE(pgml_pool_new(3, &pool, &err) == PGML_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const pgml_algorithm *algo = algo_in(file_algos, cases[i].algo);
		const fixture_data *fd = cases[i].task == PGML_TASK_CLASSIFICATION ? &cls : &reg;
		pgml_buf	serial;
		pgml_buf	threaded;
		pgml_buf	again;

		fit_blob(algo, cases[i].task, fd, cases[i].hp, 5, NULL, &serial);
		fit_blob(algo, cases[i].task, fd, cases[i].hp, 5, pool, &threaded);
		fit_blob(algo, cases[i].task, fd, cases[i].hp, 6, NULL, &again);
		if (!same_blob(&serial, &threaded))
			test_fail(__FILE__, __LINE__, "%s %s: the pool changed the model", algo->name, cases[i].hp);
		/* the seed matters only where the algorithm draws random numbers */
		if (strstr(cases[i].hp, "subsample") != NULL || strcmp(algo->name, "bagging") == 0 ||
			(strcmp(algo->name, "ada_boost") == 0 && cases[i].task == PGML_TASK_REGRESSION))
			CHECK(!same_blob(&serial, &again));
		pgml_buf_free(&serial);
		pgml_buf_free(&threaded);
		pgml_buf_free(&again);
	}
	pgml_pool_free(pool);
	fixture_data_free(&cls);
	fixture_data_free(&reg);
}

static int	stop_calls;
static int	stop_after;

static bool
stop_hook(void *state)
{
	(void) state;
	return __atomic_add_fetch(&stop_calls, 1, __ATOMIC_SEQ_CST) > stop_after;
}

TEST(boost_cancel)
{
	static const struct
	{
		const char *algo;
		pgml_task	task;
		const char *hp;
		int			after;
		bool		pool;
	}			cases[] = {
		{"hist_gradient_boosting", PGML_TASK_REGRESSION, "{\"max_iter\": 1000}", 0, false},
		{"hist_gradient_boosting", PGML_TASK_CLASSIFICATION, "{\"max_iter\": 1000}", 20, true},
		{"lightgbm", PGML_TASK_REGRESSION, "{\"n_estimators\": 1000}", 7, true},
		{"ada_boost", PGML_TASK_CLASSIFICATION, "{\"n_estimators\": 1000}", 2, false},
		{"ada_boost", PGML_TASK_REGRESSION, "{\"n_estimators\": 1000}", 4, true},
		{"bagging", PGML_TASK_CLASSIFICATION, "{\"n_estimators\": 50}", 3, true},
	};
	fixture_data cls;
	fixture_data reg;
	pgml_pool  *pool = NULL;
	pgml_err	err;

	make_problem(20000, 6, true, &cls);
	make_problem(20000, 6, false, &reg);
	REQUIRE(pgml_pool_new(3, &pool, &err) == PGML_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const pgml_algorithm *algo = algo_in(file_algos, cases[i].algo);
		json_t	   *hp = json_loads(cases[i].hp, 0, NULL);
		void	   *state = NULL;
		pgml_status rc;

		stop_calls = 0;
		stop_after = cases[i].after;
		pgml_set_should_stop(stop_hook, NULL);
		rc = fit_on(algo, cases[i].task, cases[i].task == PGML_TASK_CLASSIFICATION ? &cls : &reg, hp, 1,
					  cases[i].pool ? pool : NULL, &state, &err);
		pgml_set_should_stop(NULL, NULL);
		if (rc != PGML_ERR_CANCELLED || err.code != PGML_ERR_CANCELLED)
			test_fail(__FILE__, __LINE__, "%s %s: %s after %d polls", cases[i].algo, cases[i].hp, pgml_status_name(rc),
					  stop_calls);
		CHECK(state == NULL);
		CHECK(stop_calls > cases[i].after);
		algo->free(state);
		json_decref(hp);
	}
	CHECK(!pgml_should_stop());
	pgml_pool_free(pool);
	fixture_data_free(&cls);
	fixture_data_free(&reg);
}

TEST(boost_shapes)
{
	fixture_data fd;
	json_t	   *hp;
	void	   *state;
	pgml_err	err;

	/* above 10,000 rows early stopping is on by default and stops early; off, every iteration runs */
	make_problem(12000, 6, false, &fd);
	hp = json_loads("{\"max_iter\": 300, \"learning_rate\": 0.5}", 0, NULL);
	REQUIRE(fit_on(&pgml_algo_hist_gradient_boosting, PGML_TASK_REGRESSION, &fd, hp, 1, NULL, &state, &err) == PGML_OK);
	CHECK(trees_count(state) > 10 && trees_count(state) < 300);
	for (size_t i = 0; i < trees_count(state); i++)
		CHECK(trees_leaves(state, i) <= 31);
	pgml_algo_hist_gradient_boosting.free(state);
	json_decref(hp);
	hp = json_loads("{\"max_iter\": 40, \"early_stopping\": false, \"max_depth\": 2, \"max_leaf_nodes\": null}", 0, NULL);
	REQUIRE(fit_on(&pgml_algo_hist_gradient_boosting, PGML_TASK_REGRESSION, &fd, hp, 1, NULL, &state, &err) == PGML_OK);
	CHECK_INT(trees_count(state), 40);
	for (size_t i = 0; i < 40; i++)
		CHECK(trees_depth(state, i) <= 2 && trees_leaves(state, i) == 4);
	pgml_algo_hist_gradient_boosting.free(state);
	json_decref(hp);
	/* lightgbm: num_leaves leaves; a tree that cannot split stops training */
	hp = json_loads("{\"n_estimators\": 5, \"num_leaves\": 7}", 0, NULL);
	REQUIRE(fit_on(&pgml_algo_lightgbm, PGML_TASK_REGRESSION, &fd, hp, 1, NULL, &state, &err) == PGML_OK);
	CHECK_INT(trees_count(state), 5);
	for (size_t i = 0; i < 5; i++)
		CHECK_INT(trees_leaves(state, i), 7);
	pgml_algo_lightgbm.free(state);
	json_decref(hp);
	hp = json_loads("{\"n_estimators\": 50, \"min_split_gain\": 1e9}", 0, NULL);
	REQUIRE(fit_on(&pgml_algo_lightgbm, PGML_TASK_REGRESSION, &fd, hp, 1, NULL, &state, &err) == PGML_OK);
	CHECK_INT(trees_count(state), 1);
	CHECK_INT(trees_leaves(state, 0), 1);
	pgml_algo_lightgbm.free(state);
	json_decref(hp);
	fixture_data_free(&fd);
	/* three classes: a tree per class per iteration */
	make_problem(600, 8, true, &fd);
	hp = json_loads("{\"max_iter\": 6}", 0, NULL);
	REQUIRE(fit_on(&pgml_algo_hist_gradient_boosting, PGML_TASK_CLASSIFICATION, &fd, hp, 1, NULL, &state, &err) == PGML_OK);
	CHECK_INT(trees_count(state), 18);
	CHECK_INT(pgml_algo_hist_gradient_boosting.n_outputs(state), 3);
	pgml_algo_hist_gradient_boosting.free(state);
	json_decref(hp);
	/* ada_boost: stumps, one per round */
	hp = json_loads("{\"n_estimators\": 7}", 0, NULL);
	REQUIRE(fit_on(&pgml_algo_ada_boost, PGML_TASK_CLASSIFICATION, &fd, hp, 1, NULL, &state, &err) == PGML_OK);
	CHECK_INT(trees_count(state), 7);
	for (size_t i = 0; i < 7; i++)
		CHECK(trees_depth(state, i) == 1);
	pgml_algo_ada_boost.free(state);
	json_decref(hp);
	fixture_data_free(&fd);
}

TEST(boost_through_models)
{
	json_t	   *doc = load_fixture(FIXTURE);
	const char *algos[] = {"hist_gradient_boosting", "lightgbm", "ada_boost", "bagging"};
	fixture_data fd;

	REQUIRE(doc != NULL && fixture_dataset(doc, "bin", &fd));
	for (size_t i = 0; i < fd.y.rows; i++)
		fd.y.v[i] = fd.y.v[i] == 1 ? 3.0f : -1.0f;
	for (size_t a = 0; a < sizeof(algos) / sizeof(algos[0]); a++)
	{
		pgml_model *model = NULL;
		pgml_model *loaded = NULL;
		pgml_err	err;
		pgml_buf	buf;
		json_t	   *hp = json_loads("{}", 0, NULL);
		pgml_data	d = {fd.x.v, fd.y.v, fd.x.rows, fd.x.cols, 1};
		float	   *pred = calloc(fd.xt.rows, sizeof(float));
		float	   *pred2 = calloc(fd.xt.rows, sizeof(float));
		float	   *proba = calloc(fd.xt.rows * 2, sizeof(float));

		REQUIRE(pgml_model_fit(algos[a], PGML_TASK_CLASSIFICATION, hp, &d, 3, NULL, &model, &err) == PGML_OK);
		CHECK_INT(pgml_model_predict(model, fd.xt.v, fd.xt.rows, pred, &err), PGML_OK);
		CHECK_INT(pgml_model_predict_proba(model, fd.xt.v, fd.xt.rows, proba, &err), PGML_OK);
		for (size_t i = 0; i < fd.xt.rows; i++)
		{
			CHECK(pred[i] == -1.0f || pred[i] == 3.0f);
			CHECK_NEAR(proba[2 * i] + proba[2 * i + 1], 1.0, 1e-6);
			CHECK(pred[i] == (proba[2 * i + 1] > proba[2 * i] ? 3.0f : -1.0f));
		}
		pgml_buf_init(&buf);
		REQUIRE(pgml_model_save(model, &buf, &err) == PGML_OK);
		REQUIRE(pgml_model_load(buf.data, buf.len, &loaded, &err) == PGML_OK);
		CHECK_STR(pgml_model_algorithm(loaded), algos[a]);
		CHECK_INT(pgml_model_predict(loaded, fd.xt.v, fd.xt.rows, pred2, &err), PGML_OK);
		CHECK(memcmp(pred, pred2, fd.xt.rows * sizeof(float)) == 0);
		pgml_model_free(model);
		pgml_model_free(loaded);
		pgml_buf_free(&buf);
		json_decref(hp);
		free(pred);
		free(pred2);
		free(proba);
	}
	fixture_data_free(&fd);
	json_decref(doc);
}

TEST(boost_tiny_data)
{
	const char *algos[] = {"hist_gradient_boosting", "lightgbm", "ada_boost", "bagging"};
	float		x[] = {1, 2, 3, 4, 5, 6, 7, 8};
	float		y[] = {1, 0, 1, 0};
	float		out[8];

	for (size_t a = 0; a < sizeof(algos) / sizeof(algos[0]); a++)
	{
		const pgml_algorithm *algo = algo_in(file_algos, algos[a]);
		json_t	   *hp = json_object();
		pgml_fit_args reg = {PGML_TASK_REGRESSION, hp, 0, 1, NULL};
		pgml_fit_args cls = {PGML_TASK_CLASSIFICATION, hp, 2, 1, NULL};
		pgml_data	d = {x, y, 1, 2, 1};
		void	   *state = NULL;
		pgml_err	err;

		/* one row; then four rows of constant features */
		if (algo->fit(&reg, &d, &state, &err) != PGML_OK)
			test_fail(__FILE__, __LINE__, "%s on one row: %s", algos[a], err.msg);
		else
		{
			CHECK_INT(algo->predict(state, x + 2, 3, 2, out, &err), PGML_OK);
			CHECK_NEAR(out[0], 1.0, 1e-6);
			CHECK_NEAR(out[2], 1.0, 1e-6);
		}
		algo->free(state);
		state = NULL;
		for (size_t i = 0; i < 8; i++)
			x[i] = 3;
		d.n_rows = 4;
		if (algo->fit(&cls, &d, &state, &err) != PGML_OK)
			test_fail(__FILE__, __LINE__, "%s on constant features: %s", algos[a], err.msg);
		else
		{
			CHECK_INT(algo->predict(state, x, 2, 2, out, &err), PGML_OK);
			CHECK_NEAR(out[0], 0.5, 1e-6);
			CHECK_NEAR(out[0] + out[1], 1.0, 1e-6);
		}
		algo->free(state);
		for (size_t i = 0; i < 8; i++)
			x[i] = (float) (i + 1);
		algo->free(NULL);
		json_decref(hp);
	}
}
