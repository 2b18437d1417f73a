/*
 * hnsw_int.h — internals of the HNSW graph shared between its files (never installed).
 */
#ifndef PGML_HNSW_INT_H
#define PGML_HNSW_INT_H

#include "pgml/hnsw.h"

/* An internal distance (see pgml_hnsw_distance) between two float32 vectors of n dimensions. */
typedef float (*hnsw_dist_fn) (const float *a, const float *b, size_t n);

/* The widest kernel the CPU supports for metric (hnsw_kernels.c). */
hnsw_dist_fn hnsw_kernel(pgml_hnsw_metric metric);

/*
 * −(a · b) with a in float32 or float16 and b in float16 (IEEE binary16), n dimensions: the distances of
 * a cosine graph, whose records hold float16 copies of the (normalized) vectors.
 */
typedef float (*hnsw_half_fn) (const void *a, const void *b, size_t n);
hnsw_half_fn hnsw_kernel_negdot_f32_f16(void);	/* a float32 */
hnsw_half_fn hnsw_kernel_negdot_f16_f16(void);	/* a float16 */

/* The same, by operation. */
float		hnsw_dot_f32(const float *a, const float *b, size_t n);
float		hnsw_l2sq_f32(const float *a, const float *b, size_t n);
float		hnsw_l1_f32(const float *a, const float *b, size_t n);

#endif							/* PGML_HNSW_INT_H */
