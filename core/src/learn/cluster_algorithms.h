/*
 * cluster_algorithms.h — clustering and decomposition algorithms (cluster.c), for the registry.
 *
 *   pgml_algo_kmeans             sklearn.cluster.KMeans (Lloyd, k-means++ or random init, best of n_init)
 *   pgml_algo_mini_batch_kmeans  sklearn.cluster.MiniBatchKMeans
 *   pgml_algo_pca                sklearn.decomposition.PCA (exact SVD whatever svd_solver says)
 *
 * and (cluster_more.c):
 *
 *   pgml_algo_birch                 sklearn.cluster.Birch (CF-tree, Ward global step for an integer n_clusters)
 *   pgml_algo_mean_shift            sklearn.cluster.MeanShift (flat kernel, seeds run on the pool)
 *   pgml_algo_affinity_propagation  sklearn.cluster.AffinityPropagation (euclidean, up to 20,000 rows)
 */
#ifndef PGML_LEARN_CLUSTER_ALGORITHMS_H
#define PGML_LEARN_CLUSTER_ALGORITHMS_H

#include "pgml/learn.h"

extern const pgml_algorithm pgml_algo_kmeans;
extern const pgml_algorithm pgml_algo_mini_batch_kmeans;
extern const pgml_algorithm pgml_algo_pca;
extern const pgml_algorithm pgml_algo_birch;
extern const pgml_algorithm pgml_algo_mean_shift;
extern const pgml_algorithm pgml_algo_affinity_propagation;

/*
 * The sum of explained_variance_ratio_ over the kept components of a fitted PCA state (the
 * decomposition metric cumulative_explained_variance).
 */
double		pgml_pca_explained_variance_ratio_sum(const void *state);

#endif							/* PGML_LEARN_CLUSTER_ALGORITHMS_H */
