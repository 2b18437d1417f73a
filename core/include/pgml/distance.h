/*
 * distance.h — distance kernels over dense float32 and float16 vectors.
 *
 * These are the inner loops of the vector type's operators and of the pgml_hnsw / pgml_ivfflat indexes.
 * The implementation is chosen once, on first use, from what the CPU supports (AVX-512F, AVX2 with FMA
 * and F16C, or plain C); every choice gives the same results within float rounding. Thread-safe: index
 * builds call them from pool workers.
 *
 * Sums are accumulated in float32 (several lanes, then reduced), as pgvector does; callers that need more
 * range widen the result. float16 is IEEE 754 binary16 stored as uint16_t.
 */
#ifndef PGML_DISTANCE_H
#define PGML_DISTANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* float32 · float32 */
float		pgml_l2sq_f32(const float *a, const float *b, size_t n);	/* Σ (a−b)² */
float		pgml_dot_f32(const float *a, const float *b, size_t n);	/* Σ a·b */
float		pgml_l1_f32(const float *a, const float *b, size_t n);	/* Σ |a−b| */
float		pgml_norm2_f32(const float *a, size_t n);	/* Σ a² */
/* dot, |a|², |b|² in one pass (cosine distance) */
void		pgml_cosine_parts_f32(const float *a, const float *b, size_t n, float *dot, float *aa, float *bb);

/* float16 · float16 */
float		pgml_l2sq_f16(const uint16_t *a, const uint16_t *b, size_t n);
float		pgml_dot_f16(const uint16_t *a, const uint16_t *b, size_t n);
float		pgml_l1_f16(const uint16_t *a, const uint16_t *b, size_t n);
float		pgml_norm2_f16(const uint16_t *a, size_t n);
void		pgml_cosine_parts_f16(const uint16_t *a, const uint16_t *b, size_t n, float *dot, float *aa, float *bb);

/* Conversions. f32 → f16 rounds to nearest even; values beyond ±65504 become ±Inf (callers reject them). */
float		pgml_f16_to_f32(uint16_t h);
uint16_t	pgml_f32_to_f16(float f);
void		pgml_f16_to_f32_n(const uint16_t *src, float *dst, size_t n);
void		pgml_f32_to_f16_n(const float *src, uint16_t *dst, size_t n);

/* Name of the implementation in use: "avx512", "avx2" or "c". */
const char *pgml_distance_impl(void);

/*
 * One implementation's kernels, for tests and benchmarks that compare them (callers normally use the
 * functions above, which dispatch to the best set for this CPU).
 */
typedef struct pgml_distance_kernels
{
	const char *name;			/* "c", "avx2", "avx512" */
	float		(*l2sq_f32) (const float *a, const float *b, size_t n);
	float		(*dot_f32) (const float *a, const float *b, size_t n);
	float		(*l1_f32) (const float *a, const float *b, size_t n);
	float		(*norm2_f32) (const float *a, size_t n);
	void		(*cosine_parts_f32) (const float *a, const float *b, size_t n, float *dot, float *aa, float *bb);
	float		(*l2sq_f16) (const uint16_t *a, const uint16_t *b, size_t n);
	float		(*dot_f16) (const uint16_t *a, const uint16_t *b, size_t n);
	float		(*l1_f16) (const uint16_t *a, const uint16_t *b, size_t n);
	float		(*norm2_f16) (const uint16_t *a, size_t n);
	void		(*cosine_parts_f16) (const uint16_t *a, const uint16_t *b, size_t n, float *dot, float *aa,
									 float *bb);
	void		(*f16_to_f32_n) (const uint16_t *src, float *dst, size_t n);
	void		(*f32_to_f16_n) (const float *src, uint16_t *dst, size_t n);
} pgml_distance_kernels;

/* The kernel set named "c", "avx2" or "avx512", or NULL when this CPU or build lacks it. */
const pgml_distance_kernels *pgml_distance_kernels_get(const char *name);

#endif							/* PGML_DISTANCE_H */
