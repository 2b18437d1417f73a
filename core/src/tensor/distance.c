/*
 * distance.c — distance kernels (see pgml/distance.h). Plain C for now: four accumulators per sum so the
 * compiler can vectorize without reassociating.
 */
#include "pgml/distance.h"

#include <math.h>
#include <string.h>

float
pgml_l2sq_f32(const float *a, const float *b, size_t n)
{
	float		s[4] = {0, 0, 0, 0};
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
		for (int k = 0; k < 4; k++)
		{
			float		d = a[i + k] - b[i + k];

			s[k] += d * d;
		}
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		s[0] += d * d;
	}
	return (s[0] + s[1]) + (s[2] + s[3]);
}

float
pgml_dot_f32(const float *a, const float *b, size_t n)
{
	float		s[4] = {0, 0, 0, 0};
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
		for (int k = 0; k < 4; k++)
			s[k] += a[i + k] * b[i + k];
	for (; i < n; i++)
		s[0] += a[i] * b[i];
	return (s[0] + s[1]) + (s[2] + s[3]);
}

float
pgml_l1_f32(const float *a, const float *b, size_t n)
{
	float		s[4] = {0, 0, 0, 0};
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
		for (int k = 0; k < 4; k++)
			s[k] += fabsf(a[i + k] - b[i + k]);
	for (; i < n; i++)
		s[0] += fabsf(a[i] - b[i]);
	return (s[0] + s[1]) + (s[2] + s[3]);
}

float
pgml_norm2_f32(const float *a, size_t n)
{
	return pgml_dot_f32(a, a, n);
}

void
pgml_cosine_parts_f32(const float *a, const float *b, size_t n, float *dot, float *aa, float *bb)
{
	float		d = 0,
				x = 0,
				y = 0;

	for (size_t i = 0; i < n; i++)
	{
		d += a[i] * b[i];
		x += a[i] * a[i];
		y += b[i] * b[i];
	}
	*dot = d;
	*aa = x;
	*bb = y;
}

float
pgml_f16_to_f32(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exp = (h >> 10) & 0x1f;
	uint32_t	man = h & 0x3ff;
	uint32_t	bits;
	float		f;

	if (exp == 0)
	{
		/* zero or subnormal: man · 2^-24 */
		f = (float) man * 0x1p-24f;
		return sign ? -f : f;
	}
	if (exp == 31)
		bits = sign | 0x7f800000u | (man << 13);
	else
		bits = sign | ((exp + 112) << 23) | (man << 13);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

uint16_t
pgml_f32_to_f16(float f)
{
	uint32_t	x;
	uint32_t	sign;
	uint32_t	exp;
	uint32_t	man;

	memcpy(&x, &f, sizeof(x));
	sign = (x >> 16) & 0x8000;
	exp = (x >> 23) & 0xff;
	man = x & 0x7fffff;
	if (exp == 0xff)			/* Inf or NaN */
		return (uint16_t) (sign | 0x7c00 | (man ? 0x200 : 0));
	if (exp > 142)				/* ≥ 2^16: overflow */
		return (uint16_t) (sign | 0x7c00);
	if (exp < 113)
	{
		/* subnormal or zero in half precision */
		uint32_t	shift;
		uint32_t	m;
		uint32_t	r;

		if (exp < 102)
			return (uint16_t) sign;
		m = man | 0x800000;
		shift = 126 - exp;		/* 14..24 */
		r = m >> shift;
		/* round to nearest even */
		if ((m & ((1u << shift) - 1)) > (1u << (shift - 1)) ||
			((m & ((1u << shift) - 1)) == (1u << (shift - 1)) && (r & 1)))
			r++;
		return (uint16_t) (sign | r);
	}
	{
		uint32_t	h = ((exp - 112) << 10) | (man >> 13);
		uint32_t	rest = man & 0x1fff;

		if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
			h++;				/* may carry into the exponent, up to Inf: correct */
		return (uint16_t) (sign | h);
	}
}

void
pgml_f16_to_f32_n(const uint16_t *src, float *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = pgml_f16_to_f32(src[i]);
}

void
pgml_f32_to_f16_n(const float *src, uint16_t *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = pgml_f32_to_f16(src[i]);
}

#define F16_CHUNK 256

float
pgml_l2sq_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	float		fa[F16_CHUNK],
				fb[F16_CHUNK],
				s = 0;

	for (size_t i = 0; i < n; i += F16_CHUNK)
	{
		size_t		m = n - i < F16_CHUNK ? n - i : F16_CHUNK;

		pgml_f16_to_f32_n(a + i, fa, m);
		pgml_f16_to_f32_n(b + i, fb, m);
		s += pgml_l2sq_f32(fa, fb, m);
	}
	return s;
}

float
pgml_dot_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	float		fa[F16_CHUNK],
				fb[F16_CHUNK],
				s = 0;

	for (size_t i = 0; i < n; i += F16_CHUNK)
	{
		size_t		m = n - i < F16_CHUNK ? n - i : F16_CHUNK;

		pgml_f16_to_f32_n(a + i, fa, m);
		pgml_f16_to_f32_n(b + i, fb, m);
		s += pgml_dot_f32(fa, fb, m);
	}
	return s;
}

float
pgml_l1_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	float		fa[F16_CHUNK],
				fb[F16_CHUNK],
				s = 0;

	for (size_t i = 0; i < n; i += F16_CHUNK)
	{
		size_t		m = n - i < F16_CHUNK ? n - i : F16_CHUNK;

		pgml_f16_to_f32_n(a + i, fa, m);
		pgml_f16_to_f32_n(b + i, fb, m);
		s += pgml_l1_f32(fa, fb, m);
	}
	return s;
}

float
pgml_norm2_f16(const uint16_t *a, size_t n)
{
	return pgml_dot_f16(a, a, n);
}

void
pgml_cosine_parts_f16(const uint16_t *a, const uint16_t *b, size_t n, float *dot, float *aa, float *bb)
{
	float		fa[F16_CHUNK],
				fb[F16_CHUNK];

	*dot = *aa = *bb = 0;
	for (size_t i = 0; i < n; i += F16_CHUNK)
	{
		size_t		m = n - i < F16_CHUNK ? n - i : F16_CHUNK;
		float		d,
					x,
					y;

		pgml_f16_to_f32_n(a + i, fa, m);
		pgml_f16_to_f32_n(b + i, fb, m);
		pgml_cosine_parts_f32(fa, fb, m, &d, &x, &y);
		*dot += d;
		*aa += x;
		*bb += y;
	}
}

const char *
pgml_distance_impl(void)
{
	return "c";
}
