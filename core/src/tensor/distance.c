/*
 * distance.c — distance kernels (see pgml/distance.h).
 *
 * Three implementations of every kernel: plain C (the reference, and the fallback on any CPU), AVX2 + FMA
 * (+ F16C for float16), and AVX-512F. The SIMD ones are compiled per function with
 * __attribute__((target(...))), never with global -m flags, so the library runs on any x86-64 and builds on
 * other architectures (where only the C set exists). The set in use is chosen once, on first call, from
 * CPUID (__builtin_cpu_supports), under pthread_once; the public functions call through its pointers.
 *
 * Sums are float32 in several lanes, reduced at the end; SIMD and C differ only by summation order.
 */
#include "pgml/distance.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define PGML_X86 1
#include <immintrin.h>
#endif

/* ---------------------------------------------------------------------------------------------------
 * Plain C: four accumulators per sum so the compiler can vectorize without reassociating
 * ------------------------------------------------------------------------------------------------- */

static float
c_l2sq_f32(const float *a, const float *b, size_t n)
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

static float
c_dot_f32(const float *a, const float *b, size_t n)
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

static float
c_l1_f32(const float *a, const float *b, size_t n)
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

static float
c_norm2_f32(const float *a, size_t n)
{
	return c_dot_f32(a, a, n);
}

static void
c_cosine_parts_f32(const float *a, const float *b, size_t n, float *dot, float *aa, float *bb)
{
	float		d[4] = {0, 0, 0, 0},
				x[4] = {0, 0, 0, 0},
				y[4] = {0, 0, 0, 0};
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
		for (int k = 0; k < 4; k++)
		{
			d[k] += a[i + k] * b[i + k];
			x[k] += a[i + k] * a[i + k];
			y[k] += b[i + k] * b[i + k];
		}
	for (; i < n; i++)
	{
		d[0] += a[i] * b[i];
		x[0] += a[i] * a[i];
		y[0] += b[i] * b[i];
	}
	*dot = (d[0] + d[1]) + (d[2] + d[3]);
	*aa = (x[0] + x[1]) + (x[2] + x[3]);
	*bb = (y[0] + y[1]) + (y[2] + y[3]);
}

static float
c_f16_to_f32(uint16_t h)
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

static uint16_t
c_f32_to_f16(float f)
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

static void
c_f16_to_f32_n(const uint16_t *src, float *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = c_f16_to_f32(src[i]);
}

static void
c_f32_to_f16_n(const float *src, uint16_t *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = c_f32_to_f16(src[i]);
}

/* float16 kernels in plain C: convert a chunk at a time, then the float32 kernel */
#define F16_CHUNK 256

static float
c_l2sq_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	float		fa[F16_CHUNK],
				fb[F16_CHUNK],
				s = 0;

	for (size_t i = 0; i < n; i += F16_CHUNK)
	{
		size_t		m = n - i < F16_CHUNK ? n - i : F16_CHUNK;

		c_f16_to_f32_n(a + i, fa, m);
		c_f16_to_f32_n(b + i, fb, m);
		s += c_l2sq_f32(fa, fb, m);
	}
	return s;
}

static float
c_dot_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	float		fa[F16_CHUNK],
				fb[F16_CHUNK],
				s = 0;

	for (size_t i = 0; i < n; i += F16_CHUNK)
	{
		size_t		m = n - i < F16_CHUNK ? n - i : F16_CHUNK;

		c_f16_to_f32_n(a + i, fa, m);
		c_f16_to_f32_n(b + i, fb, m);
		s += c_dot_f32(fa, fb, m);
	}
	return s;
}

static float
c_l1_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	float		fa[F16_CHUNK],
				fb[F16_CHUNK],
				s = 0;

	for (size_t i = 0; i < n; i += F16_CHUNK)
	{
		size_t		m = n - i < F16_CHUNK ? n - i : F16_CHUNK;

		c_f16_to_f32_n(a + i, fa, m);
		c_f16_to_f32_n(b + i, fb, m);
		s += c_l1_f32(fa, fb, m);
	}
	return s;
}

static float
c_norm2_f16(const uint16_t *a, size_t n)
{
	return c_dot_f16(a, a, n);
}

static void
c_cosine_parts_f16(const uint16_t *a, const uint16_t *b, size_t n, float *dot, float *aa, float *bb)
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

		c_f16_to_f32_n(a + i, fa, m);
		c_f16_to_f32_n(b + i, fb, m);
		c_cosine_parts_f32(fa, fb, m, &d, &x, &y);
		*dot += d;
		*aa += x;
		*bb += y;
	}
}

static const pgml_distance_kernels kernels_c = {
	"c",
	c_l2sq_f32, c_dot_f32, c_l1_f32, c_norm2_f32, c_cosine_parts_f32,
	c_l2sq_f16, c_dot_f16, c_l1_f16, c_norm2_f16, c_cosine_parts_f16,
	c_f16_to_f32_n, c_f32_to_f16_n,
};

#ifdef PGML_X86

/* ---------------------------------------------------------------------------------------------------
 * AVX2 + FMA (+ F16C): 8 lanes, four accumulators in the main loop, scalar tails
 * ------------------------------------------------------------------------------------------------- */

#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

AVX2_TARGET static inline float
avx2_hsum(__m256 v)
{
	__m128		lo = _mm256_castps256_ps128(v);
	__m128		hi = _mm256_extractf128_ps(v, 1);

	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
	return _mm_cvtss_f32(lo);
}

AVX2_TARGET static inline __m256
avx2_load_f16(const uint16_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) p));
}

/*
 * One template for the two-input kernels: LOAD reads 8 elements as floats, STEP(acc, x, y) accumulates,
 * TAIL(acc, x, y) does the same for one scalar element.
 */
#define AVX2_KERNEL2(NAME, T, LOAD, STEP, SCALAR_LOAD, TAIL) \
AVX2_TARGET static float \
NAME(const T *a, const T *b, size_t n) \
{ \
	__m256		s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), \
				s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps(); \
	size_t		i = 0; \
	float		t = 0; \
\
	for (; i + 32 <= n; i += 32) \
	{ \
		STEP(s0, LOAD(a + i), LOAD(b + i)); \
		STEP(s1, LOAD(a + i + 8), LOAD(b + i + 8)); \
		STEP(s2, LOAD(a + i + 16), LOAD(b + i + 16)); \
		STEP(s3, LOAD(a + i + 24), LOAD(b + i + 24)); \
	} \
	for (; i + 8 <= n; i += 8) \
		STEP(s0, LOAD(a + i), LOAD(b + i)); \
	for (; i < n; i++) \
	{ \
		float		x = SCALAR_LOAD(a[i]), y = SCALAR_LOAD(b[i]); \
		TAIL(t, x, y); \
	} \
	return avx2_hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + t; \
}

#define F32_LOAD8(p)		_mm256_loadu_ps(p)
#define F32_SCALAR(x)		(x)
#define F16_SCALAR(x)		c_f16_to_f32(x)

#define AVX2_L2_STEP(s, x, y)	do { __m256 d_ = _mm256_sub_ps(x, y); s = _mm256_fmadd_ps(d_, d_, s); } while (0)
#define AVX2_DOT_STEP(s, x, y)	(s = _mm256_fmadd_ps(x, y, s))
#define AVX2_L1_STEP(s, x, y) \
	(s = _mm256_add_ps(s, _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(x, y))))
#define L2_TAIL(t, x, y)	do { float d_ = (x) - (y); t += d_ * d_; } while (0)
#define DOT_TAIL(t, x, y)	(t += (x) * (y))
#define L1_TAIL(t, x, y)	(t += fabsf((x) - (y)))

AVX2_KERNEL2(avx2_l2sq_f32, float, F32_LOAD8, AVX2_L2_STEP, F32_SCALAR, L2_TAIL)
AVX2_KERNEL2(avx2_dot_f32, float, F32_LOAD8, AVX2_DOT_STEP, F32_SCALAR, DOT_TAIL)
AVX2_KERNEL2(avx2_l1_f32, float, F32_LOAD8, AVX2_L1_STEP, F32_SCALAR, L1_TAIL)
AVX2_KERNEL2(avx2_l2sq_f16, uint16_t, avx2_load_f16, AVX2_L2_STEP, F16_SCALAR, L2_TAIL)
AVX2_KERNEL2(avx2_dot_f16, uint16_t, avx2_load_f16, AVX2_DOT_STEP, F16_SCALAR, DOT_TAIL)
AVX2_KERNEL2(avx2_l1_f16, uint16_t, avx2_load_f16, AVX2_L1_STEP, F16_SCALAR, L1_TAIL)

AVX2_TARGET static float
avx2_norm2_f32(const float *a, size_t n)
{
	return avx2_dot_f32(a, a, n);
}

AVX2_TARGET static float
avx2_norm2_f16(const uint16_t *a, size_t n)
{
	return avx2_dot_f16(a, a, n);
}

#define AVX2_COSINE(NAME, T, LOAD, SCALAR_LOAD) \
AVX2_TARGET static void \
NAME(const T *a, const T *b, size_t n, float *dot, float *aa, float *bb) \
{ \
	__m256		d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps(), \
				x0 = _mm256_setzero_ps(), x1 = _mm256_setzero_ps(), \
				y0 = _mm256_setzero_ps(), y1 = _mm256_setzero_ps(); \
	size_t		i = 0; \
	float		td = 0, tx = 0, ty = 0; \
\
	for (; i + 16 <= n; i += 16) \
	{ \
		__m256		p0 = LOAD(a + i), q0 = LOAD(b + i), p1 = LOAD(a + i + 8), q1 = LOAD(b + i + 8); \
\
		d0 = _mm256_fmadd_ps(p0, q0, d0); \
		x0 = _mm256_fmadd_ps(p0, p0, x0); \
		y0 = _mm256_fmadd_ps(q0, q0, y0); \
		d1 = _mm256_fmadd_ps(p1, q1, d1); \
		x1 = _mm256_fmadd_ps(p1, p1, x1); \
		y1 = _mm256_fmadd_ps(q1, q1, y1); \
	} \
	for (; i + 8 <= n; i += 8) \
	{ \
		__m256		p0 = LOAD(a + i), q0 = LOAD(b + i); \
\
		d0 = _mm256_fmadd_ps(p0, q0, d0); \
		x0 = _mm256_fmadd_ps(p0, p0, x0); \
		y0 = _mm256_fmadd_ps(q0, q0, y0); \
	} \
	for (; i < n; i++) \
	{ \
		float		p = SCALAR_LOAD(a[i]), q = SCALAR_LOAD(b[i]); \
\
		td += p * q; \
		tx += p * p; \
		ty += q * q; \
	} \
	*dot = avx2_hsum(_mm256_add_ps(d0, d1)) + td; \
	*aa = avx2_hsum(_mm256_add_ps(x0, x1)) + tx; \
	*bb = avx2_hsum(_mm256_add_ps(y0, y1)) + ty; \
}

AVX2_COSINE(avx2_cosine_parts_f32, float, F32_LOAD8, F32_SCALAR)
AVX2_COSINE(avx2_cosine_parts_f16, uint16_t, avx2_load_f16, F16_SCALAR)

AVX2_TARGET static void
avx2_f16_to_f32_n(const uint16_t *src, float *dst, size_t n)
{
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, avx2_load_f16(src + i));
	for (; i < n; i++)
		dst[i] = c_f16_to_f32(src[i]);
}

AVX2_TARGET static void
avx2_f32_to_f16_n(const float *src, uint16_t *dst, size_t n)
{
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *) (dst + i),
						 _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	for (; i < n; i++)
		dst[i] = c_f32_to_f16(src[i]);
}

static const pgml_distance_kernels kernels_avx2 = {
	"avx2",
	avx2_l2sq_f32, avx2_dot_f32, avx2_l1_f32, avx2_norm2_f32, avx2_cosine_parts_f32,
	avx2_l2sq_f16, avx2_dot_f16, avx2_l1_f16, avx2_norm2_f16, avx2_cosine_parts_f16,
	avx2_f16_to_f32_n, avx2_f32_to_f16_n,
};

/* ---------------------------------------------------------------------------------------------------
 * AVX-512F: 16 lanes, four accumulators in the main loop, a masked load for the tail
 * ------------------------------------------------------------------------------------------------- */

#define AVX512_TARGET __attribute__((target("avx512f")))

AVX512_TARGET static inline __m512
avx512_load_f32(const float *p)
{
	return _mm512_loadu_ps(p);
}

AVX512_TARGET static inline __m512
avx512_load_f32_tail(const float *p, size_t m)
{
	return _mm512_maskz_loadu_ps((__mmask16) ((1u << m) - 1), p);
}

AVX512_TARGET static inline __m512
avx512_load_f16(const uint16_t *p)
{
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) p));
}

/* Masked 16-bit loads need AVX512BW; AVX-512F alone copies the tail into a zeroed buffer. */
AVX512_TARGET static inline __m512
avx512_load_f16_tail(const uint16_t *p, size_t m)
{
	uint16_t	buf[16] = {0};

	memcpy(buf, p, m * sizeof(uint16_t));
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) buf));
}

#define AVX512_KERNEL2(NAME, T, LOAD, LOAD_TAIL, STEP) \
AVX512_TARGET static float \
NAME(const T *a, const T *b, size_t n) \
{ \
	__m512		s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), \
				s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps(); \
	size_t		i = 0; \
\
	for (; i + 64 <= n; i += 64) \
	{ \
		STEP(s0, LOAD(a + i), LOAD(b + i)); \
		STEP(s1, LOAD(a + i + 16), LOAD(b + i + 16)); \
		STEP(s2, LOAD(a + i + 32), LOAD(b + i + 32)); \
		STEP(s3, LOAD(a + i + 48), LOAD(b + i + 48)); \
	} \
	for (; i + 16 <= n; i += 16) \
		STEP(s0, LOAD(a + i), LOAD(b + i)); \
	if (i < n) \
		STEP(s1, LOAD_TAIL(a + i, n - i), LOAD_TAIL(b + i, n - i)); \
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))); \
}

#define AVX512_L2_STEP(s, x, y)	do { __m512 d_ = _mm512_sub_ps(x, y); s = _mm512_fmadd_ps(d_, d_, s); } while (0)
#define AVX512_DOT_STEP(s, x, y)	(s = _mm512_fmadd_ps(x, y, s))
#define AVX512_L1_STEP(s, x, y)	(s = _mm512_add_ps(s, _mm512_abs_ps(_mm512_sub_ps(x, y))))

AVX512_KERNEL2(avx512_l2sq_f32, float, avx512_load_f32, avx512_load_f32_tail, AVX512_L2_STEP)
AVX512_KERNEL2(avx512_dot_f32, float, avx512_load_f32, avx512_load_f32_tail, AVX512_DOT_STEP)
AVX512_KERNEL2(avx512_l1_f32, float, avx512_load_f32, avx512_load_f32_tail, AVX512_L1_STEP)
AVX512_KERNEL2(avx512_l2sq_f16, uint16_t, avx512_load_f16, avx512_load_f16_tail, AVX512_L2_STEP)
AVX512_KERNEL2(avx512_dot_f16, uint16_t, avx512_load_f16, avx512_load_f16_tail, AVX512_DOT_STEP)
AVX512_KERNEL2(avx512_l1_f16, uint16_t, avx512_load_f16, avx512_load_f16_tail, AVX512_L1_STEP)

AVX512_TARGET static float
avx512_norm2_f32(const float *a, size_t n)
{
	return avx512_dot_f32(a, a, n);
}

AVX512_TARGET static float
avx512_norm2_f16(const uint16_t *a, size_t n)
{
	return avx512_dot_f16(a, a, n);
}

#define AVX512_COSINE(NAME, T, LOAD, LOAD_TAIL) \
AVX512_TARGET static void \
NAME(const T *a, const T *b, size_t n, float *dot, float *aa, float *bb) \
{ \
	__m512		d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps(), \
				x0 = _mm512_setzero_ps(), x1 = _mm512_setzero_ps(), \
				y0 = _mm512_setzero_ps(), y1 = _mm512_setzero_ps(); \
	size_t		i = 0; \
\
	for (; i + 32 <= n; i += 32) \
	{ \
		__m512		p0 = LOAD(a + i), q0 = LOAD(b + i), p1 = LOAD(a + i + 16), q1 = LOAD(b + i + 16); \
\
		d0 = _mm512_fmadd_ps(p0, q0, d0); \
		x0 = _mm512_fmadd_ps(p0, p0, x0); \
		y0 = _mm512_fmadd_ps(q0, q0, y0); \
		d1 = _mm512_fmadd_ps(p1, q1, d1); \
		x1 = _mm512_fmadd_ps(p1, p1, x1); \
		y1 = _mm512_fmadd_ps(q1, q1, y1); \
	} \
	for (; i < n; i += 16) \
	{ \
		__m512		p0 = n - i >= 16 ? LOAD(a + i) : LOAD_TAIL(a + i, n - i); \
		__m512		q0 = n - i >= 16 ? LOAD(b + i) : LOAD_TAIL(b + i, n - i); \
\
		d0 = _mm512_fmadd_ps(p0, q0, d0); \
		x0 = _mm512_fmadd_ps(p0, p0, x0); \
		y0 = _mm512_fmadd_ps(q0, q0, y0); \
	} \
	*dot = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1)); \
	*aa = _mm512_reduce_add_ps(_mm512_add_ps(x0, x1)); \
	*bb = _mm512_reduce_add_ps(_mm512_add_ps(y0, y1)); \
}

AVX512_COSINE(avx512_cosine_parts_f32, float, avx512_load_f32, avx512_load_f32_tail)
AVX512_COSINE(avx512_cosine_parts_f16, uint16_t, avx512_load_f16, avx512_load_f16_tail)

AVX512_TARGET static void
avx512_f16_to_f32_n(const uint16_t *src, float *dst, size_t n)
{
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(dst + i, avx512_load_f16(src + i));
	for (; i < n; i++)
		dst[i] = c_f16_to_f32(src[i]);
}

AVX512_TARGET static void
avx512_f32_to_f16_n(const float *src, uint16_t *dst, size_t n)
{
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
		_mm256_storeu_si256((__m256i *) (dst + i),
							_mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	for (; i < n; i++)
		dst[i] = c_f32_to_f16(src[i]);
}

static const pgml_distance_kernels kernels_avx512 = {
	"avx512",
	avx512_l2sq_f32, avx512_dot_f32, avx512_l1_f32, avx512_norm2_f32, avx512_cosine_parts_f32,
	avx512_l2sq_f16, avx512_dot_f16, avx512_l1_f16, avx512_norm2_f16, avx512_cosine_parts_f16,
	avx512_f16_to_f32_n, avx512_f32_to_f16_n,
};

static bool
cpu_has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

static bool
cpu_has_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f");
}
#endif							/* PGML_X86 */

/* ---------------------------------------------------------------------------------------------------
 * Dispatch
 * ------------------------------------------------------------------------------------------------- */

const pgml_distance_kernels *
pgml_distance_kernels_get(const char *name)
{
	if (strcmp(name, "c") == 0)
		return &kernels_c;
#ifdef PGML_X86
	if (strcmp(name, "avx2") == 0)
		return cpu_has_avx2() ? &kernels_avx2 : NULL;
	if (strcmp(name, "avx512") == 0)
		return cpu_has_avx512() ? &kernels_avx512 : NULL;
#endif
	return NULL;
}

static const pgml_distance_kernels *active;
static pthread_once_t active_once = PTHREAD_ONCE_INIT;

static void
choose_kernels(void)
{
	const pgml_distance_kernels *k = &kernels_c;

#ifdef PGML_X86
	if (cpu_has_avx512())
		k = &kernels_avx512;
	else if (cpu_has_avx2())
		k = &kernels_avx2;
#endif
	__atomic_store_n(&active, k, __ATOMIC_RELEASE);
}

static inline const pgml_distance_kernels *
kernels(void)
{
	const pgml_distance_kernels *k = __atomic_load_n(&active, __ATOMIC_ACQUIRE);

	if (__builtin_expect(k == NULL, 0))
	{
		pthread_once(&active_once, choose_kernels);
		k = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
	}
	return k;
}

float
pgml_l2sq_f32(const float *a, const float *b, size_t n)
{
	return kernels()->l2sq_f32(a, b, n);
}

float
pgml_dot_f32(const float *a, const float *b, size_t n)
{
	return kernels()->dot_f32(a, b, n);
}

float
pgml_l1_f32(const float *a, const float *b, size_t n)
{
	return kernels()->l1_f32(a, b, n);
}

float
pgml_norm2_f32(const float *a, size_t n)
{
	return kernels()->norm2_f32(a, n);
}

void
pgml_cosine_parts_f32(const float *a, const float *b, size_t n, float *dot, float *aa, float *bb)
{
	kernels()->cosine_parts_f32(a, b, n, dot, aa, bb);
}

float
pgml_l2sq_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	return kernels()->l2sq_f16(a, b, n);
}

float
pgml_dot_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	return kernels()->dot_f16(a, b, n);
}

float
pgml_l1_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
	return kernels()->l1_f16(a, b, n);
}

float
pgml_norm2_f16(const uint16_t *a, size_t n)
{
	return kernels()->norm2_f16(a, n);
}

void
pgml_cosine_parts_f16(const uint16_t *a, const uint16_t *b, size_t n, float *dot, float *aa, float *bb)
{
	kernels()->cosine_parts_f16(a, b, n, dot, aa, bb);
}

float
pgml_f16_to_f32(uint16_t h)
{
	return c_f16_to_f32(h);
}

uint16_t
pgml_f32_to_f16(float f)
{
	return c_f32_to_f16(f);
}

void
pgml_f16_to_f32_n(const uint16_t *src, float *dst, size_t n)
{
	kernels()->f16_to_f32_n(src, dst, n);
}

void
pgml_f32_to_f16_n(const float *src, uint16_t *dst, size_t n)
{
	kernels()->f32_to_f16_n(src, dst, n);
}

const char *
pgml_distance_impl(void)
{
	return kernels()->name;
}
