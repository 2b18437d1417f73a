/*
 * hnsw_int.h — internals of the HNSW graph shared between its files (never installed).
 */
#ifndef PGML_HNSW_INT_H
#define PGML_HNSW_INT_H

#include "pgml/hnsw.h"

/* The widest kernels the CPU supports (hnsw_kernels.c). */
float		hnsw_dot_f32(const float *a, const float *b, size_t n);
float		hnsw_l2sq_f32(const float *a, const float *b, size_t n);
float		hnsw_l1_f32(const float *a, const float *b, size_t n);

#endif							/* PGML_HNSW_INT_H */
