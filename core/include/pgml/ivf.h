/*
 * ivf.h — the clustering behind the pgml_ivfflat index: k-means over float32 samples, and the helpers that
 * place vectors in lists and pick the lists a query probes.
 *
 * An IVF (inverted file) index splits the vectors into `k` lists, one per k-means center; a query scans
 * only the lists whose centers are nearest to it. The clustering follows the distance the index orders
 * by:
 *
 *   PGML_IVF_L2      Lloyd's k-means: assign by squared L2, centers are means.
 *   PGML_IVF_IP      spherical k-means on the raw samples: assign by largest inner product with unit-norm
 *                    centers, centers are normalized means (vector norms do not decide the list, only the
 *                    direction does, which is what maximum-inner-product search wants of a partition).
 *   PGML_IVF_COSINE  spherical k-means; the caller passes unit-norm samples.
 *   PGML_IVF_L1      k-medians: assign by L1, centers are coordinate-wise medians (the L1 minimizer, where
 *                    a mean would not be).
 *
 * Initialisation is k-means++ (D² sampling under the metric's own distance). Everything is deterministic
 * for a given seed, whatever the pool size: work is split per point or per cluster and every sum is taken
 * in a fixed order.
 *
 * Shapes: n = samples, d = dimensions, k = clusters. x is (n, d) row-major, centers (k, d).
 */
#ifndef PGML_IVF_H
#define PGML_IVF_H

#include "pgml/pgml.h"
#include "pgml/pool.h"

typedef enum pgml_ivf_metric
{
	PGML_IVF_L2 = 1,
	PGML_IVF_IP = 2,
	PGML_IVF_COSINE = 3,
	PGML_IVF_L1 = 4,
} pgml_ivf_metric;

typedef struct pgml_ivf_kmeans_params
{
	size_t		k;				/* clusters, >= 1 */
	pgml_ivf_metric metric;
	int			max_iter;		/* Lloyd iterations after the initialisation (0: none) */
	double		tol;			/* stop when at most tol * n points change cluster in an iteration */
	uint64_t	seed;
} pgml_ivf_kmeans_params;

/* k given; 25 iterations, tol 1e-3, a fixed seed. */
pgml_ivf_kmeans_params pgml_ivf_kmeans_default_params(size_t k, pgml_ivf_metric metric);

typedef struct pgml_ivf_kmeans_stats
{
	int			iterations;		/* Lloyd iterations run */
	double		inertia;		/* Σ distance of each sample to its center, after the last iteration */
	size_t		empty_fixed;	/* empty clusters re-seeded on the way */
} pgml_ivf_kmeans_stats;

/*
 * Clusters x (n, d) into params->k centers, written to centers (k, d). n may be smaller than k, even 0:
 * the first n centers are then distinct samples and the rest random Gaussian points (unit norm for the
 * spherical metrics) so that every list still has a center. Samples must be finite. stats may be NULL.
 * Polls the stop hook (PGML_ERR_CANCELLED).
 */
pgml_status pgml_ivf_kmeans(const float *x, size_t n, size_t d, const pgml_ivf_kmeans_params *params,
							pgml_pool *pool, float *centers, pgml_ivf_kmeans_stats *stats, pgml_err *err);

/*
 * The distance the lists are built with, between a vector and a center: squared L2, negative inner
 * product (IP and COSINE; for COSINE both sides are unit-norm), or L1. Smaller is nearer.
 */
float		pgml_ivf_distance(pgml_ivf_metric metric, const float *a, const float *b, size_t d);

/* The index of the center nearest to v (ties: the lowest index); its distance in *dist when not NULL. */
size_t		pgml_ivf_nearest(pgml_ivf_metric metric, const float *centers, size_t k, size_t d, const float *v,
							 float *dist);

/* labels[i] = pgml_ivf_nearest(x[i]) for n vectors, on the pool. Polls the stop hook. */
pgml_status pgml_ivf_assign(pgml_ivf_metric metric, const float *centers, size_t k, size_t d, const float *x,
							size_t n, pgml_pool *pool, uint32_t *labels, pgml_err *err);

/*
 * The m centers nearest to q (m <= k), nearest first, ties by index, in order[0..m). dists (k) is
 * scratch that receives the distance of every center, by center index.
 */
void		pgml_ivf_rank_centers(pgml_ivf_metric metric, const float *centers, size_t k, size_t d,
								  const float *q, size_t m, uint32_t *order, float *dists);

/* Scales v to unit L2 norm in place; returns false (v unchanged) when its norm is zero. */
bool		pgml_ivf_normalize(float *v, size_t d);

#endif							/* PGML_IVF_H */
