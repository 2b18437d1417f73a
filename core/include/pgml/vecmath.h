/*
 * vecmath.h — elementwise arithmetic, norms and distances on dense float / double arrays.
 *
 * These back pgml's SQL vector functions (pgml.add, pgml.norm_l2, pgml.cosine_similarity, the
 * elementwise aggregates, ...). Single-precision inputs are accumulated in double. Arithmetic follows
 * PostgreSQL's float rules: a finite result that overflows to infinity is an error (SQLSTATE 22003), so is
 * division by zero (22012); NaN and infinite inputs propagate.
 */
#ifndef PGML_VECMATH_H
#define PGML_VECMATH_H

#include "pgml/pgml.h"

typedef enum pgml_binop
{
	PGML_OP_ADD,
	PGML_OP_SUB,
	PGML_OP_MUL,
	PGML_OP_DIV,
} pgml_binop;

typedef enum pgml_norm
{
	PGML_NORM_L0,				/* number of non-zero elements */
	PGML_NORM_L1,				/* sum of absolute values */
	PGML_NORM_L2,				/* Euclidean length */
	PGML_NORM_MAX,				/* largest absolute value */
} pgml_norm;

typedef enum pgml_accum
{
	PGML_ACC_SUM,
	PGML_ACC_MIN,
	PGML_ACC_MAX,
	PGML_ACC_MIN_ABS,			/* elementwise minimum of absolute values */
	PGML_ACC_MAX_ABS,			/* elementwise maximum of absolute values */
} pgml_accum;

/* out[i] = a[i] op b[i]; out may alias a or b. */
pgml_status pgml_vec_binop_f32(pgml_binop op, const float *a, const float *b, float *out, size_t n,
							   pgml_err *err);
pgml_status pgml_vec_binop_f64(pgml_binop op, const double *a, const double *b, double *out, size_t n,
							   pgml_err *err);

/* out[i] = a[i] op s; out may alias a. */
pgml_status pgml_vec_scalar_f32(pgml_binop op, const float *a, float s, float *out, size_t n, pgml_err *err);
pgml_status pgml_vec_scalar_f64(pgml_binop op, const double *a, double s, double *out, size_t n,
								pgml_err *err);

double		pgml_vec_norm_f32(pgml_norm kind, const float *a, size_t n);
double		pgml_vec_norm_f64(pgml_norm kind, const double *a, size_t n);	/* L2 without overflow */

/* out = a / norm(a); a zero vector gives zeros. out may alias a. */
void		pgml_vec_normalize_f32(pgml_norm kind, const float *a, float *out, size_t n);
void		pgml_vec_normalize_f64(pgml_norm kind, const double *a, double *out, size_t n);

double		pgml_vec_dot_f32(const float *a, const float *b, size_t n);
double		pgml_vec_dot_f64(const double *a, const double *b, size_t n);

/* kind is PGML_NORM_L1 or PGML_NORM_L2: the norm of a - b. */
double		pgml_vec_distance_f32(pgml_norm kind, const float *a, const float *b, size_t n);
double		pgml_vec_distance_f64(pgml_norm kind, const double *a, const double *b, size_t n);

/* dot(a, b) / (|a| |b|); NaN when either vector is zero. */
double		pgml_vec_cosine_f32(const float *a, const float *b, size_t n);
double		pgml_vec_cosine_f64(const double *a, const double *b, size_t n);

/*
 * Elementwise aggregation into a double state: state[i] = acc(state[i], x[i]). `first` initialises the
 * state from x. Sums that overflow are an error (22003).
 */
pgml_status pgml_vec_accum_f32(pgml_accum acc, double *state, const float *x, size_t n, bool first,
							   pgml_err *err);
pgml_status pgml_vec_accum_f64(pgml_accum acc, double *state, const double *x, size_t n, bool first,
							   pgml_err *err);

#endif							/* PGML_VECMATH_H */
