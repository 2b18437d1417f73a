/*
 * Tests for distance.c: every SIMD kernel set this CPU supports against the plain-C reference, on random
 * data of awkward lengths; float16 conversions exhaustively; hand-computed values through the public API.
 */
#include "test.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "pgml/distance.h"

static const size_t lengths[] = {0, 1, 7, 15, 16, 17, 31, 33, 384, 1536, 16000};
#define N_LENGTHS (sizeof(lengths) / sizeof(lengths[0]))
#define MAX_LEN 16000

static const char *const impls[] = {"avx2", "avx512"};

/* xorshift64*: reproducible without touching rand()'s global state */
static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* uniform in [-scale, scale) */
static float
rng_float(float scale)
{
	return ((float) (rng_next() >> 40) / (float) (1 << 24) * 2 - 1) * scale;
}

static void
fill(float *x, size_t n, float scale)
{
	for (size_t i = 0; i < n; i++)
		x[i] = rng_float(scale);
}

/* Random binary16 values: mostly normal, some subnormal, some near the top of the range; all finite. */
static void
fill_f16(uint16_t *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	r = rng_next();
		uint16_t	h;

		switch (r % 8)
		{
			case 0:				/* subnormal or zero */
				h = (uint16_t) ((r >> 8) & 0x3ff);
				break;
			case 1:				/* large: exponent 27..30 */
				h = (uint16_t) (((27 + ((r >> 8) & 3)) << 10) | ((r >> 16) & 0x3ff));
				break;
			default:			/* exponent 10..20: magnitudes around 2^-5..2^5 */
				h = (uint16_t) (((10 + ((r >> 8) % 11)) << 10) | ((r >> 16) & 0x3ff));
				break;
		}
		x[i] = (uint16_t) (h | ((r >> 40) & 1 ? 0x8000 : 0));
	}
}

static double
sum_abs_products(const float *a, const float *b, size_t n, int kind)
{
	double		s = 0;

	for (size_t i = 0; i < n; i++)
	{
		double		d = (double) a[i] - b[i];

		s += kind == 0 ? d * d : kind == 1 ? fabs((double) a[i] * b[i]) : fabs(d);
	}
	return s;
}

/*
 * got and want are float32 sums of n terms whose absolute values add up to scale, in different orders:
 * each is within about (n/4 + 16) ulp-of-scale of the exact sum.
 */
static void
check_close(const char *impl, const char *what, size_t n, double got, double want, double scale)
{
	double		tol = 1.2e-7 * ((double) n / 4 + 16) * scale + 1e-30;

	if (!(fabs(got - want) <= tol))
		test_fail(__FILE__, __LINE__, "%s %s n=%zu: %.9g, reference %.9g (tolerance %.3g)", impl, what, n, got,
				  want, tol);
}

TEST(distance_simd_f32_matches_c)
{
	const pgml_distance_kernels *c = pgml_distance_kernels_get("c");
	float	   *a = malloc(sizeof(float) * MAX_LEN);
	float	   *b = malloc(sizeof(float) * MAX_LEN);

	REQUIRE(c != NULL && a != NULL && b != NULL);
	rng_state = 42;
	for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++)
	{
		const pgml_distance_kernels *s = pgml_distance_kernels_get(impls[k]);

		if (s == NULL)
		{
			printf("     (%s not supported here: skipped)\n", impls[k]);
			continue;
		}
		for (size_t li = 0; li < N_LENGTHS; li++)
		{
			size_t		n = lengths[li];

			for (int rep = 0; rep < 3; rep++)
			{
				float		d1, x1, y1, d2, x2, y2;

				/* offset by rep so loads are unaligned too */
				fill(a, MAX_LEN, rep == 2 ? 1e3f : 1);
				fill(b, MAX_LEN, 1);
				{
					const float *pa = a + (n + rep <= MAX_LEN ? rep : 0);
					const float *pb = b + (n + rep <= MAX_LEN ? rep : 0);

					check_close(s->name, "l2sq", n, s->l2sq_f32(pa, pb, n), c->l2sq_f32(pa, pb, n),
								sum_abs_products(pa, pb, n, 0));
					check_close(s->name, "dot", n, s->dot_f32(pa, pb, n), c->dot_f32(pa, pb, n),
								sum_abs_products(pa, pb, n, 1));
					check_close(s->name, "l1", n, s->l1_f32(pa, pb, n), c->l1_f32(pa, pb, n),
								sum_abs_products(pa, pb, n, 2));
					check_close(s->name, "norm2", n, s->norm2_f32(pa, n), c->norm2_f32(pa, n),
								sum_abs_products(pa, pa, n, 1));
					s->cosine_parts_f32(pa, pb, n, &d1, &x1, &y1);
					c->cosine_parts_f32(pa, pb, n, &d2, &x2, &y2);
					check_close(s->name, "cosine dot", n, d1, d2, sum_abs_products(pa, pb, n, 1));
					check_close(s->name, "cosine aa", n, x1, x2, sum_abs_products(pa, pa, n, 1));
					check_close(s->name, "cosine bb", n, y1, y2, sum_abs_products(pb, pb, n, 1));
				}
			}
		}
	}
	free(a);
	free(b);
}

TEST(distance_simd_f16_matches_c)
{
	const pgml_distance_kernels *c = pgml_distance_kernels_get("c");
	uint16_t   *a = malloc(sizeof(uint16_t) * MAX_LEN);
	uint16_t   *b = malloc(sizeof(uint16_t) * MAX_LEN);
	float	   *fa = malloc(sizeof(float) * MAX_LEN);
	float	   *fb = malloc(sizeof(float) * MAX_LEN);

	REQUIRE(c != NULL && a != NULL && b != NULL && fa != NULL && fb != NULL);
	rng_state = 7;
	for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++)
	{
		const pgml_distance_kernels *s = pgml_distance_kernels_get(impls[k]);

		if (s == NULL)
			continue;
		for (size_t li = 0; li < N_LENGTHS; li++)
		{
			size_t		n = lengths[li];

			for (int rep = 0; rep < 2; rep++)
			{
				const uint16_t *pa = a + (n + rep <= MAX_LEN ? rep : 0);
				const uint16_t *pb = b + (n + rep <= MAX_LEN ? rep : 0);
				float		d1, x1, y1, d2, x2, y2;

				fill_f16(a, MAX_LEN);
				fill_f16(b, MAX_LEN);
				c->f16_to_f32_n(pa, fa, n);
				c->f16_to_f32_n(pb, fb, n);
				check_close(s->name, "l2sq_f16", n, s->l2sq_f16(pa, pb, n), c->l2sq_f16(pa, pb, n),
							sum_abs_products(fa, fb, n, 0));
				check_close(s->name, "dot_f16", n, s->dot_f16(pa, pb, n), c->dot_f16(pa, pb, n),
							sum_abs_products(fa, fb, n, 1));
				check_close(s->name, "l1_f16", n, s->l1_f16(pa, pb, n), c->l1_f16(pa, pb, n),
							sum_abs_products(fa, fb, n, 2));
				check_close(s->name, "norm2_f16", n, s->norm2_f16(pa, n), c->norm2_f16(pa, n),
							sum_abs_products(fa, fa, n, 1));
				s->cosine_parts_f16(pa, pb, n, &d1, &x1, &y1);
				c->cosine_parts_f16(pa, pb, n, &d2, &x2, &y2);
				check_close(s->name, "cosine_f16 dot", n, d1, d2, sum_abs_products(fa, fb, n, 1));
				check_close(s->name, "cosine_f16 aa", n, x1, x2, sum_abs_products(fa, fa, n, 1));
				check_close(s->name, "cosine_f16 bb", n, y1, y2, sum_abs_products(fb, fb, n, 1));
				/* and the f16 kernels agree with the f32 kernels on the widened values */
				check_close(s->name, "l2sq_f16 vs f32", n, s->l2sq_f16(pa, pb, n), c->l2sq_f32(fa, fb, n),
							sum_abs_products(fa, fb, n, 0));
			}
		}
	}
	free(a);
	free(b);
	free(fa);
	free(fb);
}

static bool
f32_same(float x, float y)
{
	uint32_t	bx, by;

	if (isnan(x) || isnan(y))
		return isnan(x) && isnan(y);
	memcpy(&bx, &x, 4);
	memcpy(&by, &y, 4);
	return bx == by;
}

static bool
f16_same(uint16_t x, uint16_t y)
{
	bool		nx = (x & 0x7c00) == 0x7c00 && (x & 0x3ff);
	bool		ny = (y & 0x7c00) == 0x7c00 && (y & 0x3ff);

	if (nx || ny)
		return nx && ny;		/* NaN payloads may differ */
	return x == y;
}

/* Every binary16 bit pattern: widened exactly, and narrowed back to itself, by every implementation. */
TEST(distance_f16_all_bit_patterns)
{
	static uint16_t h[65536],
				back[65536];
	static float f[65536],
				g[65536];
	const pgml_distance_kernels *c = pgml_distance_kernels_get("c");

	for (uint32_t i = 0; i < 65536; i++)
		h[i] = (uint16_t) i;
	c->f16_to_f32_n(h, f, 65536);
	for (uint32_t i = 0; i < 65536; i++)
	{
		uint32_t	e = (i >> 10) & 0x1f,
					m = i & 0x3ff;
		double		want;

		/* independent formula for the value */
		if (e == 31)
			continue;
		want = e == 0 ? ldexp((double) m, -24) : ldexp(1.0 + m / 1024.0, (int) e - 15);
		if (i & 0x8000)
			want = -want;
		if ((double) f[i] != want)
		{
			test_fail(__FILE__, __LINE__, "f16 0x%04x widened to %.9g, expected %.9g", i, f[i], want);
			break;
		}
	}
	CHECK(isinf(f[0x7c00]) && f[0x7c00] > 0);
	CHECK(isinf(f[0xfc00]) && f[0xfc00] < 0);
	CHECK(isnan(f[0x7e00]) && isnan(f[0x7c01]));
	c->f32_to_f16_n(f, back, 65536);
	for (uint32_t i = 0; i < 65536; i++)
		if (!f16_same(back[i], h[i]))
		{
			test_fail(__FILE__, __LINE__, "c: f16 0x%04x round-trips to 0x%04x", i, back[i]);
			break;
		}
	for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++)
	{
		const pgml_distance_kernels *s = pgml_distance_kernels_get(impls[k]);

		if (s == NULL)
			continue;
		s->f16_to_f32_n(h, g, 65536);
		for (uint32_t i = 0; i < 65536; i++)
			if (!f32_same(g[i], f[i]))
			{
				test_fail(__FILE__, __LINE__, "%s: f16 0x%04x widened to %.9g, reference %.9g", s->name, i, g[i],
						  f[i]);
				break;
			}
		s->f32_to_f16_n(f, back, 65536);
		for (uint32_t i = 0; i < 65536; i++)
			if (!f16_same(back[i], h[i]))
			{
				test_fail(__FILE__, __LINE__, "%s: f16 0x%04x round-trips to 0x%04x", s->name, i, back[i]);
				break;
			}
	}
}

/* float32 → float16 rounding: hand-picked cases, then random floats of every magnitude against C. */
TEST(distance_f32_to_f16_rounding)
{
	static float x[1 << 16];
	static uint16_t r[1 << 16],
				q[1 << 16];
	const pgml_distance_kernels *c = pgml_distance_kernels_get("c");

	CHECK_INT(pgml_f32_to_f16(1.0f), 0x3c00);
	CHECK_INT(pgml_f32_to_f16(-2.0f), 0xc000);
	CHECK_INT(pgml_f32_to_f16(65504.0f), 0x7bff);
	CHECK_INT(pgml_f32_to_f16(65519.99f), 0x7bff);	/* below the midpoint: rounds down */
	CHECK_INT(pgml_f32_to_f16(65520.0f), 0x7c00);	/* midpoint, rounds to even: Inf */
	CHECK_INT(pgml_f32_to_f16(1e10f), 0x7c00);
	CHECK_INT(pgml_f32_to_f16(-INFINITY), 0xfc00);
	CHECK_INT(pgml_f32_to_f16(0x1p-24f), 0x0001);	/* smallest subnormal */
	CHECK_INT(pgml_f32_to_f16(0x1p-25f), 0x0000);	/* half of it: ties to even, 0 */
	CHECK_INT(pgml_f32_to_f16(0x1.8p-25f), 0x0001);
	CHECK_INT(pgml_f32_to_f16(0x3p-25f), 0x0002);	/* 1.5 ulp: ties to even, 2 */
	CHECK_INT(pgml_f32_to_f16(0x1p-14f), 0x0400);	/* smallest normal */
	CHECK_INT(pgml_f32_to_f16(0x1.ffcp-15f), 0x0400);	/* rounds up into the normals */
	CHECK_INT(pgml_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);	/* tie: even */
	CHECK_INT(pgml_f32_to_f16(1.0f + 0x3p-11f), 0x3c02);	/* tie: even */
	CHECK_INT(pgml_f32_to_f16(-0.0f), 0x8000);
	CHECK(isnan(pgml_f16_to_f32(pgml_f32_to_f16(NAN))));
	CHECK_NEAR(pgml_f16_to_f32(0x3555), 0.333251953125, 0);

	rng_state = 99;
	for (size_t i = 0; i < (1 << 16); i++)
	{
		uint32_t	bits = (uint32_t) rng_next();
		uint32_t	e = 100 + (uint32_t) (rng_next() % 50);	/* 2^-27 .. 2^22, across every boundary */

		bits = (bits & 0x807fffffu) | (e << 23);
		memcpy(&x[i], &bits, 4);
	}
	c->f32_to_f16_n(x, r, 1 << 16);
	for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++)
	{
		const pgml_distance_kernels *s = pgml_distance_kernels_get(impls[k]);

		if (s == NULL)
			continue;
		s->f32_to_f16_n(x, q, 1 << 16);
		for (size_t i = 0; i < (1 << 16); i++)
			if (q[i] != r[i])
			{
				test_fail(__FILE__, __LINE__, "%s: %a narrowed to 0x%04x, reference 0x%04x", s->name, x[i], q[i],
						  r[i]);
				break;
			}
	}
}

/* The public functions, on values computed by hand. */
TEST(distance_public_api)
{
	float		a[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
	float		b[17];
	uint16_t	ha[17],
				hb[17];
	float		dot,
				aa,
				bb;
	const char *impl = pgml_distance_impl();

	for (int i = 0; i < 17; i++)
		b[i] = 1;
	CHECK(strcmp(impl, "c") == 0 || strcmp(impl, "avx2") == 0 || strcmp(impl, "avx512") == 0);
	CHECK_NEAR(pgml_dot_f32(a, b, 17), 153, 0);
	CHECK_NEAR(pgml_l1_f32(a, b, 17), 136, 0);
	CHECK_NEAR(pgml_l2sq_f32(a, b, 17), 1496, 0);	/* Σ (i-1)², i = 1..17 */
	CHECK_NEAR(pgml_norm2_f32(a, 17), 1785, 0);
	pgml_cosine_parts_f32(a, b, 17, &dot, &aa, &bb);
	CHECK_NEAR(dot, 153, 0);
	CHECK_NEAR(aa, 1785, 0);
	CHECK_NEAR(bb, 17, 0);
	CHECK_NEAR(pgml_l2sq_f32(a, b, 0), 0, 0);

	pgml_f32_to_f16_n(a, ha, 17);
	pgml_f32_to_f16_n(b, hb, 17);
	CHECK_NEAR(pgml_dot_f16(ha, hb, 17), 153, 0);
	CHECK_NEAR(pgml_l1_f16(ha, hb, 17), 136, 0);
	CHECK_NEAR(pgml_l2sq_f16(ha, hb, 17), 1496, 0);
	CHECK_NEAR(pgml_norm2_f16(ha, 17), 1785, 0);
	pgml_cosine_parts_f16(ha, hb, 17, &dot, &aa, &bb);
	CHECK_NEAR(dot, 153, 0);
	CHECK_NEAR(bb, 17, 0);
	{
		float		back[17];

		pgml_f16_to_f32_n(ha, back, 17);
		for (int i = 0; i < 17; i++)
			CHECK_NEAR(back[i], a[i], 0);
	}
	CHECK(pgml_distance_kernels_get("neon") == NULL);
}
