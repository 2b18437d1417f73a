/*
 * vecmath.c — elementwise arithmetic, norms and distances (see vecmath.h for the rules).
 *
 * The functions are written once as macros over the element type T and instantiated for float and
 * double; accumulation is always in double. Minimum and maximum order NaN above every number, as
 * PostgreSQL does.
 */
#include "pgml/vecmath.h"

#include <float.h>
#include <math.h>

static pgml_status
overflow_error(pgml_err *err, size_t i)
{
	pgml_error(err, PGML_ERR_DATA, "value out of range: overflow");
	pgml_err_detail(err, "The result at position %zu does not fit the element type.", i + 1);
	pgml_err_sqlstate(err, "22003");
	return PGML_ERR_DATA;
}

static pgml_status
division_error(pgml_err *err, size_t i)
{
	pgml_error(err, PGML_ERR_DATA, "division by zero");
	pgml_err_detail(err, "The divisor at position %zu is zero.", i + 1);
	pgml_err_sqlstate(err, "22012");
	return PGML_ERR_DATA;
}

/* One element of a binary operation; returns false on error (and fills err). */
#define APPLY_OP(T, op, x, y, res, i, err) \
	do { \
		switch (op) \
		{ \
			case PGML_OP_ADD: (res) = (T) ((x) + (y)); break; \
			case PGML_OP_SUB: (res) = (T) ((x) - (y)); break; \
			case PGML_OP_MUL: (res) = (T) ((x) * (y)); break; \
			case PGML_OP_DIV: \
				if ((y) == 0 && !isnan(x)) \
					return division_error(err, i); \
				(res) = (T) ((x) / (y)); \
				break; \
		} \
		if (isinf(res) && !isinf(x) && !isinf(y)) \
			return overflow_error(err, i); \
	} while (0)

#define DEFINE_BINOPS(T, SUFFIX) \
pgml_status \
pgml_vec_binop_##SUFFIX(pgml_binop op, const T *a, const T *b, T *out, size_t n, pgml_err *err) \
{ \
	for (size_t i = 0; i < n; i++) \
	{ \
		T x = a[i], y = b[i], r = 0; \
		APPLY_OP(T, op, x, y, r, i, err); \
		out[i] = r; \
	} \
	return PGML_OK; \
} \
\
pgml_status \
pgml_vec_scalar_##SUFFIX(pgml_binop op, const T *a, T s, T *out, size_t n, pgml_err *err) \
{ \
	for (size_t i = 0; i < n; i++) \
	{ \
		T x = a[i], r = 0; \
		APPLY_OP(T, op, x, s, r, i, err); \
		out[i] = r; \
	} \
	return PGML_OK; \
}

DEFINE_BINOPS(float, f32)
DEFINE_BINOPS(double, f64)

/*
 * Sum of squares scaled by the largest magnitude, so that it cannot overflow: returns s and scale with
 * sqrt(sum x^2) == scale * sqrt(s). Used for double inputs; float inputs cannot overflow a double sum.
 */
static double
l2_scaled(const double *a, const double *b, size_t n)
{
	double		scale = 0.0;
	double		sum = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		double		v = fabs(b ? a[i] - b[i] : a[i]);

		if (isnan(v))
			return NAN;
		if (v > scale)
			scale = v;
	}
	if (scale == 0.0 || isinf(scale))
		return scale;
	for (size_t i = 0; i < n; i++)
	{
		double		v = (b ? a[i] - b[i] : a[i]) / scale;

		sum += v * v;
	}
	return scale * sqrt(sum);
}

double
pgml_vec_norm_f32(pgml_norm kind, const float *a, size_t n)
{
	double		acc = 0.0;

	switch (kind)
	{
		case PGML_NORM_L0:
			for (size_t i = 0; i < n; i++)
				acc += a[i] != 0.0f;
			return acc;
		case PGML_NORM_L1:
			for (size_t i = 0; i < n; i++)
				acc += fabs((double) a[i]);
			return acc;
		case PGML_NORM_L2:
			for (size_t i = 0; i < n; i++)
				acc += (double) a[i] * a[i];
			return sqrt(acc);
		case PGML_NORM_MAX:
			for (size_t i = 0; i < n; i++)
			{
				double		v = fabs((double) a[i]);

				if (isnan(v))
					return NAN;
				if (v > acc)
					acc = v;
			}
			return acc;
	}
	return NAN;
}

double
pgml_vec_norm_f64(pgml_norm kind, const double *a, size_t n)
{
	double		acc = 0.0;

	switch (kind)
	{
		case PGML_NORM_L0:
			for (size_t i = 0; i < n; i++)
				acc += a[i] != 0.0;
			return acc;
		case PGML_NORM_L1:
			for (size_t i = 0; i < n; i++)
				acc += fabs(a[i]);
			return acc;
		case PGML_NORM_L2:
			return l2_scaled(a, NULL, n);
		case PGML_NORM_MAX:
			for (size_t i = 0; i < n; i++)
			{
				double		v = fabs(a[i]);

				if (isnan(v))
					return NAN;
				if (v > acc)
					acc = v;
			}
			return acc;
	}
	return NAN;
}

#define DEFINE_NORMALIZE(T, SUFFIX) \
void \
pgml_vec_normalize_##SUFFIX(pgml_norm kind, const T *a, T *out, size_t n) \
{ \
	double norm = pgml_vec_norm_##SUFFIX(kind, a, n); \
	if (norm == 0.0) \
	{ \
		for (size_t i = 0; i < n; i++) \
			out[i] = 0; \
		return; \
	} \
	for (size_t i = 0; i < n; i++) \
		out[i] = (T) (a[i] / norm); \
}

DEFINE_NORMALIZE(float, f32)
DEFINE_NORMALIZE(double, f64)

#define DEFINE_DOT(T, SUFFIX) \
double \
pgml_vec_dot_##SUFFIX(const T *a, const T *b, size_t n) \
{ \
	double acc = 0.0; \
	for (size_t i = 0; i < n; i++) \
		acc += (double) a[i] * b[i]; \
	return acc; \
}

DEFINE_DOT(float, f32)
DEFINE_DOT(double, f64)

double
pgml_vec_distance_f32(pgml_norm kind, const float *a, const float *b, size_t n)
{
	double		acc = 0.0;

	if (kind == PGML_NORM_L1)
	{
		for (size_t i = 0; i < n; i++)
			acc += fabs((double) a[i] - b[i]);
		return acc;
	}
	for (size_t i = 0; i < n; i++)
	{
		double		d = (double) a[i] - b[i];

		acc += d * d;
	}
	return sqrt(acc);
}

double
pgml_vec_distance_f64(pgml_norm kind, const double *a, const double *b, size_t n)
{
	double		acc = 0.0;

	if (kind == PGML_NORM_L1)
	{
		for (size_t i = 0; i < n; i++)
			acc += fabs(a[i] - b[i]);
		return acc;
	}
	return l2_scaled(a, b, n);
}

/* dot / (|a| |b|), clamped to [-1, 1] so rounding cannot leave the range; NaN for a zero vector. */
static double
cosine_from(double dot, double aa, double bb)
{
	double		r;

	if (aa == 0.0 || bb == 0.0)
		return NAN;
	r = dot / sqrt(aa * bb);
	if (r > 1.0)
		return 1.0;
	if (r < -1.0)
		return -1.0;
	return r;
}

double
pgml_vec_cosine_f32(const float *a, const float *b, size_t n)
{
	double		dot = 0.0;
	double		aa = 0.0;
	double		bb = 0.0;

	/* float squares summed in double cannot overflow, nor can their product */
	for (size_t i = 0; i < n; i++)
	{
		dot += (double) a[i] * b[i];
		aa += (double) a[i] * a[i];
		bb += (double) b[i] * b[i];
	}
	return cosine_from(dot, aa, bb);
}

double
pgml_vec_cosine_f64(const double *a, const double *b, size_t n)
{
	double		dot = 0.0;
	double		aa = 0.0;
	double		bb = 0.0;
	double		sa;
	double		sb;

	for (size_t i = 0; i < n; i++)
	{
		dot += a[i] * b[i];
		aa += a[i] * a[i];
		bb += b[i] * b[i];
	}
	if (isfinite(dot) && isfinite(aa * bb) && aa * bb >= DBL_MIN)
		return cosine_from(dot, aa, bb);

	/*
	 * Too large or too small to square: cosine is scale invariant, so scale each vector by its largest
	 * magnitude first.
	 */
	sa = pgml_vec_norm_f64(PGML_NORM_MAX, a, n);
	sb = pgml_vec_norm_f64(PGML_NORM_MAX, b, n);
	if (isnan(sa) || isnan(sb) || isinf(sa) || isinf(sb))
		return NAN;
	if (sa == 0.0 || sb == 0.0)
		return NAN;
	dot = aa = bb = 0.0;
	for (size_t i = 0; i < n; i++)
	{
		double		x = a[i] / sa;
		double		y = b[i] / sb;

		dot += x * y;
		aa += x * x;
		bb += y * y;
	}
	return cosine_from(dot, aa, bb);
}

#define DEFINE_ACCUM(T, SUFFIX) \
pgml_status \
pgml_vec_accum_##SUFFIX(pgml_accum acc, double *state, const T *x, size_t n, bool first, pgml_err *err) \
{ \
	for (size_t i = 0; i < n; i++) \
	{ \
		double v = (double) x[i]; \
		double s = state[i]; \
		if (acc == PGML_ACC_MIN_ABS || acc == PGML_ACC_MAX_ABS) \
			v = fabs(v); \
		if (first) \
		{ \
			state[i] = v; \
			continue; \
		} \
		switch (acc) \
		{ \
			case PGML_ACC_SUM: \
				state[i] = s + v; \
				if (isinf(state[i]) && !isinf(s) && !isinf(v)) \
					return overflow_error(err, i); \
				break; \
			case PGML_ACC_MIN: \
			case PGML_ACC_MIN_ABS: \
				if (isnan(s) ? !isnan(v) : v < s) \
					state[i] = v; \
				break; \
			case PGML_ACC_MAX: \
			case PGML_ACC_MAX_ABS: \
				if (v > s || isnan(v)) \
					state[i] = v; \
				break; \
		} \
	} \
	return PGML_OK; \
}

DEFINE_ACCUM(float, f32)
DEFINE_ACCUM(double, f64)
