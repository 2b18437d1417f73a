/*
 * registry.c — the algorithms this build provides, by pgml.algorithm name.
 */
#include "pgml/learn.h"

#include <string.h>

#include "algorithms.h"
#include "cluster_algorithms.h"

static const pgml_algorithm *const registry[] = {
	&pgml_algo_linear,
	&pgml_algo_ridge,
	&pgml_algo_lasso,
	&pgml_algo_elastic_net,
	&pgml_algo_random_forest,
	&pgml_algo_extra_trees,
	&pgml_algo_gradient_boosting_trees,
	&pgml_algo_stochastic_gradient_descent,
	&pgml_algo_perceptron,
	&pgml_algo_passive_aggressive,
	&pgml_algo_ransac,
	&pgml_algo_theil_sen,
	&pgml_algo_huber,
	&pgml_algo_quantile,
	&pgml_algo_bayesian_ridge,
	&pgml_algo_automatic_relevance_determination,
	&pgml_algo_least_angle,
	&pgml_algo_lasso_least_angle,
	&pgml_algo_orthogonal_matching_pursuit,
	&pgml_algo_kernel_ridge,
	&pgml_algo_gaussian_process,
	&pgml_algo_svm,
	&pgml_algo_nu_svm,
	&pgml_algo_linear_svm,
	&pgml_algo_knn,
	&pgml_algo_hist_gradient_boosting,
	&pgml_algo_lightgbm,
	&pgml_algo_ada_boost,
	&pgml_algo_bagging,
	&pgml_algo_xgboost,
	&pgml_algo_xgboost_random_forest,
	&pgml_algo_kmeans,
	&pgml_algo_mini_batch_kmeans,
	&pgml_algo_pca,
	&pgml_algo_birch,
	&pgml_algo_mean_shift,
	&pgml_algo_affinity_propagation,
	NULL
};

const pgml_algorithm *const *
pgml_algorithms(void)
{
	return registry;
}

const pgml_algorithm *
pgml_algorithm_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (const pgml_algorithm *const *a = registry; *a != NULL; a++)
		if (strcmp((*a)->name, name) == 0)
			return *a;
	return NULL;
}

const char *
pgml_task_name(pgml_task task)
{
	switch (task)
	{
		case PGML_TASK_REGRESSION:
			return "regression";
		case PGML_TASK_CLASSIFICATION:
			return "classification";
		case PGML_TASK_CLUSTERING:
			return "clustering";
		case PGML_TASK_DECOMPOSITION:
			return "decomposition";
	}
	return "unknown";
}
