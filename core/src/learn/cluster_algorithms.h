/*
 * cluster_algorithms.h — clustering and decomposition algorithms (cluster.c), for the registry.
 *
 *   pgml_algo_kmeans             sklearn.cluster.KMeans (Lloyd, k-means++ or random init, best of n_init)
 *   pgml_algo_mini_batch_kmeans  sklearn.cluster.MiniBatchKMeans
 *   pgml_algo_pca                sklearn.decomposition.PCA (exact SVD whatever svd_solver says)
 */
#ifndef PGML_LEARN_CLUSTER_ALGORITHMS_H
#define PGML_LEARN_CLUSTER_ALGORITHMS_H

#include "pgml/learn.h"

extern const pgml_algorithm pgml_algo_kmeans;
extern const pgml_algorithm pgml_algo_mini_batch_kmeans;
extern const pgml_algorithm pgml_algo_pca;

/*
 * The sum of explained_variance_ratio_ over the kept components of a fitted PCA state (the
 * decomposition metric cumulative_explained_variance).
 */
double		pgml_pca_explained_variance_ratio_sum(const void *state);

#endif							/* PGML_LEARN_CLUSTER_ALGORITHMS_H */
