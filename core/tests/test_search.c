/* Tests for score.c and search.c. */
#include "test.h"

#include <stdlib.h>

#include "pgml/json.h"
#include "pgml/learn.h"

static json_t *
J(const char *text)
{
	json_t	   *v = NULL;
	pgml_err	err;

	pgml_json_parse(text, strlen(text), "test", &v, &err);
	return v;
}

/* y = 2 x0 - x1 + 0.5 + small noise; binary label y > 0.5 in yc */
static void
linear_data(size_t n, float **x, float **y, float **yc)
{
	uint64_t	s = 7;

	*x = malloc(n * 3 * sizeof(float));
	*y = malloc(n * sizeof(float));
	*yc = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
	{
		for (int j = 0; j < 3; j++)
		{
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			(*x)[i * 3 + j] = (float) ((double) (s >> 11) / (double) (1ULL << 53) * 2 - 1);
		}
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		(*y)[i] = 2 * (*x)[i * 3] - (*x)[i * 3 + 1] + 0.5f + (float) (((double) (s >> 11) / (double) (1ULL << 53) - 0.5) * 0.01);
		(*yc)[i] = (*y)[i] > 0.5f ? 1.0f : 0.0f;
	}
}

TEST(score_regression_and_classification)
{
	float	   *x,
			   *y,
			   *yc;
	pgml_data	d;
	pgml_model *m = NULL;
	json_t	   *metrics;
	pgml_err	err;
	bool		higher;

	linear_data(200, &x, &y, &yc);
	d = (pgml_data) {x, y, 200, 3, 1};
	REQUIRE(pgml_model_fit("linear", PGML_TASK_REGRESSION, NULL, &d, 0, NULL, &m, &err) == PGML_OK);
	CHECK_INT(pgml_model_score(m, &d, &metrics, &err), PGML_OK);
	CHECK(json_number_value(json_object_get(metrics, "r2")) > 0.999);
	CHECK(json_object_get(metrics, "mean_absolute_error") != NULL);
	CHECK(json_object_get(metrics, "mean_squared_error") != NULL);
	CHECK(json_object_get(metrics, "explained_variance") != NULL);
	CHECK(json_object_get(metrics, "f1") == NULL);
	json_decref(metrics);
	pgml_model_free(m);

	d.y = yc;
	m = NULL;
	REQUIRE(pgml_model_fit("linear", PGML_TASK_CLASSIFICATION, NULL, &d, 0, NULL, &m, &err) == PGML_OK);
	CHECK_INT(pgml_model_score(m, &d, &metrics, &err), PGML_OK);
	CHECK(json_number_value(json_object_get(metrics, "accuracy")) > 0.9);
	CHECK(json_object_get(metrics, "roc_auc") != NULL);
	CHECK(json_object_get(metrics, "log_loss") != NULL);
	CHECK(json_object_get(metrics, "mcc") != NULL);
	json_decref(metrics);
	/* a label the model never saw counts as a class it never predicts */
	yc[0] = 9;
	CHECK_INT(pgml_model_score(m, &d, &metrics, &err), PGML_OK);
	CHECK(json_object_get(metrics, "roc_auc") == NULL);
	CHECK(json_number_value(json_object_get(metrics, "accuracy")) < 1.0);
	json_decref(metrics);
	pgml_model_free(m);

	CHECK_STR(pgml_task_metric(PGML_TASK_REGRESSION, &higher), "r2");
	CHECK(higher);
	CHECK_STR(pgml_task_metric(PGML_TASK_CLASSIFICATION, &higher), "f1");
	CHECK_STR(pgml_task_metric(PGML_TASK_CLUSTERING, &higher), "silhouette");
	CHECK_STR(pgml_task_metric(PGML_TASK_DECOMPOSITION, &higher), "cumulative_explained_variance");
	free(x);
	free(y);
	free(yc);
}

TEST(search_grid_and_random)
{
	float	   *x,
			   *y,
			   *yc;
	pgml_data	d;
	pgml_err	err;
	json_t	   *best = NULL,
			   *results = NULL;
	json_t	   *grid = J("{\"alpha\": [0.001, 10.0, 1000.0]}");
	json_t	   *fixed = J("{\"fit_intercept\": true}");
	json_t	   *args = J("{\"cv\": 3}");
	json_t	   *args_random = J("{\"cv\": 2, \"n_iter\": 2}");

	linear_data(300, &x, &y, &yc);
	d = (pgml_data) {x, y, 300, 3, 1};
	CHECK_INT(pgml_search("ridge", PGML_TASK_REGRESSION, fixed, grid, "grid", args, &d, NULL, 0, NULL, &best,
						  &results, &err), PGML_OK);
	REQUIRE(best != NULL && results != NULL);
	CHECK(json_real_value(json_object_get(best, "alpha")) == 0.001);
	CHECK(json_is_true(json_object_get(best, "fit_intercept")));
	CHECK_INT(json_integer_value(json_object_get(results, "best_index")), 0);
	CHECK_INT(json_integer_value(json_object_get(results, "n_splits")), 3);
	CHECK_INT(json_array_size(json_object_get(results, "params")), 3);
	CHECK_INT(json_array_size(json_object_get(results, "mean_test_score")), 3);
	CHECK_INT(json_array_size(json_object_get(results, "split2_test_score")), 3);
	CHECK_INT(json_array_size(json_object_get(results, "param_alpha")), 3);
	CHECK(json_object_get(results, "mean_fit_time") != NULL);
	/* scores fall as regularisation grows */
	{
		json_t	   *s = json_object_get(results, "mean_test_score");

		CHECK(json_real_value(json_array_get(s, 0)) > json_real_value(json_array_get(s, 2)));
	}
	json_decref(best);
	json_decref(results);

	CHECK_INT(pgml_search("ridge", PGML_TASK_REGRESSION, NULL, grid, "random", args_random, &d, NULL, 3, NULL,
						  &best, &results, &err), PGML_OK);
	CHECK_INT(json_array_size(json_object_get(results, "params")), 2);
	json_decref(best);
	json_decref(results);
	json_decref(grid);
	json_decref(fixed);
	json_decref(args);
	json_decref(args_random);
	free(x);
	free(y);
	free(yc);
}

TEST(search_errors)
{
	float	   *x,
			   *y,
			   *yc;
	pgml_data	d;
	pgml_err	err;
	json_t	   *best = NULL,
			   *results = NULL;
	json_t	   *grid = J("{\"alpha\": [1, 2]}");
	json_t	   *both = J("{\"alpha\": 1}");
	json_t	   *not_list = J("{\"alpha\": 1}");
	json_t	   *empty_list = J("{\"alpha\": []}");
	json_t	   *bad_arg = J("{\"folds\": 3}");
	json_t	   *big_cv = J("{\"cv\": 500}");
	json_t	   *bad_param = J("{\"alpah\": [1, 2]}");

	linear_data(50, &x, &y, &yc);
	d = (pgml_data) {x, y, 50, 3, 1};
	CHECK_INT(pgml_search("ridge", PGML_TASK_REGRESSION, both, grid, "grid", NULL, &d, NULL, 0, NULL, &best, &results, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "hyperparameter \"alpha\" is in both hyperparams and search_params");
	CHECK_INT(pgml_search("ridge", PGML_TASK_REGRESSION, NULL, not_list, "grid", NULL, &d, NULL, 0, NULL, &best, &results, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_search("ridge", PGML_TASK_REGRESSION, NULL, empty_list, "grid", NULL, &d, NULL, 0, NULL, &best, &results, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_search("ridge", PGML_TASK_REGRESSION, NULL, grid, "grid", bad_arg, &d, NULL, 0, NULL, &best, &results, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "unknown search argument \"folds\"");
	CHECK_INT(pgml_search("ridge", PGML_TASK_REGRESSION, NULL, grid, "grid", big_cv, &d, NULL, 0, NULL, &best, &results, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_search("ridge", PGML_TASK_REGRESSION, NULL, bad_param, "grid", NULL, &d, NULL, 0, NULL, &best, &results, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err.msg, "alpah") != NULL);
	CHECK_INT(pgml_search("ridge", PGML_TASK_REGRESSION, NULL, grid, "exhaustive", NULL, &d, NULL, 0, NULL, &best, &results, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK(best == NULL && results == NULL);
	json_decref(grid);
	json_decref(both);
	json_decref(not_list);
	json_decref(empty_list);
	json_decref(bad_arg);
	json_decref(big_cv);
	json_decref(bad_param);
	free(x);
	free(y);
	free(yc);
}
