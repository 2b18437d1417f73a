/* Tests for vecmath.c against values computed by hand. */
#include "test.h"

#include <float.h>

#include "pgml/vecmath.h"

TEST(vec_binops_f32)
{
	float		a[] = {1, 2, 3, 4};
	float		b[] = {0.5f, -2, 10, 0.25f};
	float		out[4];
	pgml_err	err;

	CHECK_INT(pgml_vec_binop_f32(PGML_OP_ADD, a, b, out, 4, &err), PGML_OK);
	CHECK_NEAR(out[0], 1.5, 0);
	CHECK_NEAR(out[1], 0, 0);
	CHECK_NEAR(out[2], 13, 0);
	CHECK_NEAR(out[3], 4.25, 0);
	CHECK_INT(pgml_vec_binop_f32(PGML_OP_SUB, a, b, out, 4, &err), PGML_OK);
	CHECK_NEAR(out[1], 4, 0);
	CHECK_INT(pgml_vec_binop_f32(PGML_OP_MUL, a, b, out, 4, &err), PGML_OK);
	CHECK_NEAR(out[2], 30, 0);
	CHECK_INT(pgml_vec_binop_f32(PGML_OP_DIV, a, b, out, 4, &err), PGML_OK);
	CHECK_NEAR(out[0], 2, 0);
	CHECK_NEAR(out[3], 16, 0);
	/* in place */
	CHECK_INT(pgml_vec_scalar_f32(PGML_OP_MUL, a, 2, a, 4, &err), PGML_OK);
	CHECK_NEAR(a[3], 8, 0);
	CHECK_INT(pgml_vec_scalar_f32(PGML_OP_SUB, a, 1, out, 4, &err), PGML_OK);
	CHECK_NEAR(out[0], 1, 0);
}

TEST(vec_binop_errors)
{
	float		a[] = {1, FLT_MAX, 3};
	float		z[] = {1, 1, 0};
	double		d[] = {1, DBL_MAX};
	double		nan_in[] = {NAN, 1};
	float		out[3];
	double		dout[2];
	pgml_err	err;

	CHECK_INT(pgml_vec_binop_f32(PGML_OP_DIV, a, z, out, 3, &err), PGML_ERR_DATA);
	CHECK_STR(err.msg, "division by zero");
	CHECK_STR(pgml_err_get_sqlstate(&err), "22012");
	CHECK_STR(err.detail, "The divisor at position 3 is zero.");
	CHECK_INT(pgml_vec_scalar_f32(PGML_OP_MUL, a, 10, out, 3, &err), PGML_ERR_DATA);
	CHECK_STR(err.msg, "value out of range: overflow");
	CHECK_STR(pgml_err_get_sqlstate(&err), "22003");
	CHECK_STR(err.detail, "The result at position 2 does not fit the element type.");
	CHECK_INT(pgml_vec_scalar_f64(PGML_OP_ADD, d, DBL_MAX, dout, 2, &err), PGML_ERR_DATA);
	CHECK_INT(pgml_vec_scalar_f64(PGML_OP_DIV, d, 0, dout, 2, &err), PGML_ERR_DATA);
	/* NaN / 0 is NaN, as in PostgreSQL; infinities propagate without error */
	CHECK_INT(pgml_vec_scalar_f64(PGML_OP_DIV, nan_in, 0, dout, 1, &err), PGML_OK);
	CHECK(isnan(dout[0]));
	{
		float		inf[] = {INFINITY};

		CHECK_INT(pgml_vec_scalar_f32(PGML_OP_MUL, inf, 2, out, 1, &err), PGML_OK);
		CHECK(isinf(out[0]));
	}
}

TEST(vec_norms)
{
	float		a[] = {3, -4, 0, 0};
	double		d[] = {3, -4, 0, 0};
	double		big[] = {1e300, 1e300};
	float		nan_in[] = {1, NAN};

	CHECK_NEAR(pgml_vec_norm_f32(PGML_NORM_L0, a, 4), 2, 0);
	CHECK_NEAR(pgml_vec_norm_f32(PGML_NORM_L1, a, 4), 7, 0);
	CHECK_NEAR(pgml_vec_norm_f32(PGML_NORM_L2, a, 4), 5, 0);
	CHECK_NEAR(pgml_vec_norm_f32(PGML_NORM_MAX, a, 4), 4, 0);
	CHECK_NEAR(pgml_vec_norm_f64(PGML_NORM_L0, d, 4), 2, 0);
	CHECK_NEAR(pgml_vec_norm_f64(PGML_NORM_L1, d, 4), 7, 0);
	CHECK_NEAR(pgml_vec_norm_f64(PGML_NORM_L2, d, 4), 5, 1e-16);
	CHECK_NEAR(pgml_vec_norm_f64(PGML_NORM_MAX, d, 4), 4, 0);
	/* no overflow for large doubles */
	CHECK_NEAR(pgml_vec_norm_f64(PGML_NORM_L2, big, 2), 1e300 * sqrt(2.0), 1e-15);
	CHECK(isnan(pgml_vec_norm_f32(PGML_NORM_MAX, nan_in, 2)));
	CHECK(isnan(pgml_vec_norm_f32(PGML_NORM_L2, nan_in, 2)));
	CHECK_NEAR(pgml_vec_norm_f32(PGML_NORM_L2, a, 0), 0, 0);
}

TEST(vec_normalize)
{
	float		a[] = {3, -4};
	float		out[2];
	double		z[] = {0, 0, 0};
	double		zout[3] = {9, 9, 9};

	pgml_vec_normalize_f32(PGML_NORM_L2, a, out, 2);
	CHECK_NEAR(out[0], 0.6, 1e-7);
	CHECK_NEAR(out[1], -0.8, 1e-7);
	pgml_vec_normalize_f32(PGML_NORM_L1, a, out, 2);
	CHECK_NEAR(out[0], 3.0 / 7, 1e-7);
	pgml_vec_normalize_f32(PGML_NORM_MAX, a, out, 2);
	CHECK_NEAR(out[1], -1, 0);
	pgml_vec_normalize_f64(PGML_NORM_L2, z, zout, 3);	/* zero vector: zeros, not NaN */
	for (int i = 0; i < 3; i++)
		CHECK_NEAR(zout[i], 0, 0);
}

TEST(vec_dot_distance_cosine)
{
	float		a[] = {1, 2, 3};
	float		b[] = {4, -5, 6};
	double		da[] = {1, 2, 3};
	double		db[] = {4, -5, 6};
	float		zero[] = {0, 0, 0};

	CHECK_NEAR(pgml_vec_dot_f32(a, b, 3), 12, 0);
	CHECK_NEAR(pgml_vec_dot_f64(da, db, 3), 12, 0);
	CHECK_NEAR(pgml_vec_distance_f32(PGML_NORM_L1, a, b, 3), 3 + 7 + 3, 0);
	CHECK_NEAR(pgml_vec_distance_f32(PGML_NORM_L2, a, b, 3), sqrt(9 + 49 + 9), 1e-15);
	CHECK_NEAR(pgml_vec_distance_f64(PGML_NORM_L2, da, db, 3), sqrt(67.0), 1e-15);
	CHECK_NEAR(pgml_vec_distance_f64(PGML_NORM_L1, da, db, 3), 13, 0);
	CHECK_NEAR(pgml_vec_cosine_f32(a, b, 3), 12 / (sqrt(14.0) * sqrt(77.0)), 1e-15);
	CHECK_NEAR(pgml_vec_cosine_f64(da, db, 3), 12 / (sqrt(14.0) * sqrt(77.0)), 1e-15);
	CHECK_NEAR(pgml_vec_cosine_f32(a, a, 3), 1, 1e-15);
	CHECK(isnan(pgml_vec_cosine_f32(a, zero, 3)));
	{
		double		big[] = {1e200, 1e200};
		double		big2[] = {1e200, -1e200};

		CHECK_NEAR(pgml_vec_cosine_f64(big, big, 2), 1, 1e-15);
		CHECK_NEAR(pgml_vec_cosine_f64(big, big2, 2), 0, 1e-15);
	}
	{
		double		tiny[] = {1e-200, 2e-200};
		double		neg[] = {-1, -2, -3};

		CHECK_NEAR(pgml_vec_cosine_f64(tiny, tiny, 2), 1, 1e-15);
		/* rounding never leaves [-1, 1] */
		CHECK(pgml_vec_cosine_f64(da, da, 3) == 1.0);
		CHECK(pgml_vec_cosine_f64(da, neg, 3) == -1.0);
	}
}

TEST(vec_accumulate)
{
	double		st[3];
	float		r1[] = {1, -5, 2};
	float		r2[] = {-3, 4, NAN};
	double		huge[] = {DBL_MAX, 0, 0};
	pgml_err	err;

	CHECK_INT(pgml_vec_accum_f32(PGML_ACC_SUM, st, r1, 3, true, &err), PGML_OK);
	CHECK_INT(pgml_vec_accum_f32(PGML_ACC_SUM, st, r1, 3, false, &err), PGML_OK);
	CHECK_NEAR(st[0], 2, 0);
	CHECK_NEAR(st[1], -10, 0);

	pgml_vec_accum_f32(PGML_ACC_MIN, st, r1, 3, true, &err);
	pgml_vec_accum_f32(PGML_ACC_MIN, st, r2, 3, false, &err);
	CHECK_NEAR(st[0], -3, 0);
	CHECK_NEAR(st[1], -5, 0);
	CHECK_NEAR(st[2], 2, 0);	/* NaN sorts above numbers: min keeps 2 */

	pgml_vec_accum_f32(PGML_ACC_MAX, st, r1, 3, true, &err);
	pgml_vec_accum_f32(PGML_ACC_MAX, st, r2, 3, false, &err);
	CHECK_NEAR(st[0], 1, 0);
	CHECK_NEAR(st[1], 4, 0);
	CHECK(isnan(st[2]));		/* ... and max is NaN */

	pgml_vec_accum_f32(PGML_ACC_MIN_ABS, st, r1, 3, true, &err);
	pgml_vec_accum_f32(PGML_ACC_MIN_ABS, st, r2, 2, false, &err);
	CHECK_NEAR(st[0], 1, 0);
	CHECK_NEAR(st[1], 4, 0);
	pgml_vec_accum_f32(PGML_ACC_MAX_ABS, st, r1, 3, true, &err);
	pgml_vec_accum_f32(PGML_ACC_MAX_ABS, st, r2, 2, false, &err);
	CHECK_NEAR(st[0], 3, 0);
	CHECK_NEAR(st[1], 5, 0);

	CHECK_INT(pgml_vec_accum_f64(PGML_ACC_SUM, st, huge, 3, true, &err), PGML_OK);
	CHECK_INT(pgml_vec_accum_f64(PGML_ACC_SUM, st, huge, 3, false, &err), PGML_ERR_DATA);
	CHECK_STR(pgml_err_get_sqlstate(&err), "22003");
}
