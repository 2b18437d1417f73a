/*
 * hnsw_kernels.c — the distance loops of the HNSW graph: AVX-512F or AVX2 + FMA when the CPU has them,
 * else the plain kernels of pgml/distance.h.
 *
 * Graph search is almost nothing but these loops, so the graph picks its own wide versions (16 or eight
 * lanes, four independent accumulators to hide the FMA latency) once, from CPUID, and calls them through
 * one pointer that already returns the internal distance (hnsw_kernel). They compute the same sums as
 * distance.h up to float rounding. The f16 variants widen with F16C.
 */
#include "hnsw_int.h"

#include "pgml/distance.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_KERNELS 1

__attribute__((target("avx2,fma"))) static inline float
hsum256(__m256 v)
{
	__m128		lo = _mm256_castps256_ps128(v);
	__m128		hi = _mm256_extractf128_ps(v, 1);
	__m128		s = _mm_add_ps(lo, hi);

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) static float
dot_avx2(const float *a, const float *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps(),
				s2 = _mm256_setzero_ps(),
				s3 = _mm256_setzero_ps();
	size_t		i = 0;
	float		r;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	r = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		r += a[i] * b[i];
	return r;
}

__attribute__((target("avx2,fma"))) static float
l2sq_avx2(const float *a, const float *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps(),
				s2 = _mm256_setzero_ps(),
				s3 = _mm256_setzero_ps();
	size_t		i = 0;
	float		r;

	for (; i + 32 <= n; i += 32)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256		d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256		d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
	}
	r = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		r += d * d;
	}
	return r;
}

__attribute__((target("avx2,fma"))) static float
l1_avx2(const float *a, const float *b, size_t n)
{
	__m256		mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps();
	size_t		i = 0;
	float		r;

	for (; i + 16 <= n; i += 16)
	{
		s0 = _mm256_add_ps(s0, _mm256_and_ps(mask, _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))));
		s1 = _mm256_add_ps(s1, _mm256_and_ps(mask, _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8))));
	}
	r = hsum256(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		r += fabsf(a[i] - b[i]);
	return r;
}

/* float16 · float16: widen 8 halves at a time with F16C */
__attribute__((target("avx2,fma,f16c"))) static float
dot_f16_avx2(const uint16_t *a, const uint16_t *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps();
	size_t		i = 0;
	float		r;

	for (; i + 16 <= n; i += 16)
	{
		s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (a + i))),
							 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (b + i))), s0);
		s1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (a + i + 8))),
							 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (b + i + 8))), s1);
	}
	r = hsum256(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		r += pgml_f16_to_f32(a[i]) * pgml_f16_to_f32(b[i]);
	return r;
}

__attribute__((target("avx2,fma,f16c"))) static float
l2sq_f16_avx2(const uint16_t *a, const uint16_t *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps();
	size_t		i = 0;
	float		r;

	for (; i + 16 <= n; i += 16)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (a + i))),
									   _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (b + i))));
		__m256		d1 = _mm256_sub_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (a + i + 8))),
									   _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (b + i + 8))));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	r = hsum256(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
	{
		float		d = pgml_f16_to_f32(a[i]) - pgml_f16_to_f32(b[i]);

		r += d * d;
	}
	return r;
}

/* AVX-512F: 16 lanes, four accumulators, a masked load for the tail */
#define AVX512_TARGET __attribute__((target("avx512f")))

#define HNSW_AVX512_KERNEL(NAME, STEP, FINISH) \
AVX512_TARGET static float \
NAME(const float *a, const float *b, size_t n) \
{ \
	__m512		s0 = _mm512_setzero_ps(), \
				s1 = _mm512_setzero_ps(), \
				s2 = _mm512_setzero_ps(), \
				s3 = _mm512_setzero_ps(); \
	size_t		i = 0; \
\
	for (; i + 64 <= n; i += 64) \
	{ \
		STEP(s0, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)); \
		STEP(s1, _mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16)); \
		STEP(s2, _mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32)); \
		STEP(s3, _mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48)); \
	} \
	for (; i + 16 <= n; i += 16) \
		STEP(s0, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)); \
	if (i < n) \
	{ \
		__mmask16	m_ = (__mmask16) ((1u << (n - i)) - 1); \
\
		STEP(s1, _mm512_maskz_loadu_ps(m_, a + i), _mm512_maskz_loadu_ps(m_, b + i)); \
	} \
	return FINISH(_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)))); \
}

#define AVX512_DOT_STEP(s, x, y)	((s) = _mm512_fmadd_ps((x), (y), (s)))
#define AVX512_L2_STEP(s, x, y) \
	do { __m512 d_ = _mm512_sub_ps((x), (y)); (s) = _mm512_fmadd_ps(d_, d_, (s)); } while (0)
#define AVX512_L1_STEP(s, x, y)	((s) = _mm512_add_ps((s), _mm512_abs_ps(_mm512_sub_ps((x), (y)))))
#define AS_IS(r)	(r)
#define NEGATED(r)	(-(r))

HNSW_AVX512_KERNEL(dot_avx512, AVX512_DOT_STEP, AS_IS)
HNSW_AVX512_KERNEL(negdot_avx512, AVX512_DOT_STEP, NEGATED)
HNSW_AVX512_KERNEL(l2sq_avx512, AVX512_L2_STEP, AS_IS)
HNSW_AVX512_KERNEL(l1_avx512, AVX512_L1_STEP, AS_IS)

/* −(float32 · float16) and −(float16 · float16): the halves widen with VCVTPH2PS */
AVX512_TARGET static inline __m512
avx512_f16_tail(const uint16_t *p, size_t m)
{
	uint16_t	buf[16] = {0};

	memcpy(buf, p, m * sizeof(uint16_t));
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) buf));
}

#define HNSW_AVX512_HALF_KERNEL(NAME, TA, LOADA, LOADA_TAIL) \
AVX512_TARGET static float \
NAME(const void *va, const void *vb, size_t n) \
{ \
	const TA   *a = va; \
	const uint16_t *b = vb; \
	__m512		s0 = _mm512_setzero_ps(), \
				s1 = _mm512_setzero_ps(), \
				s2 = _mm512_setzero_ps(), \
				s3 = _mm512_setzero_ps(); \
	size_t		i = 0; \
\
	for (; i + 64 <= n; i += 64) \
	{ \
		s0 = _mm512_fmadd_ps(LOADA(a + i), avx512_f16(b + i), s0); \
		s1 = _mm512_fmadd_ps(LOADA(a + i + 16), avx512_f16(b + i + 16), s1); \
		s2 = _mm512_fmadd_ps(LOADA(a + i + 32), avx512_f16(b + i + 32), s2); \
		s3 = _mm512_fmadd_ps(LOADA(a + i + 48), avx512_f16(b + i + 48), s3); \
	} \
	for (; i + 16 <= n; i += 16) \
		s0 = _mm512_fmadd_ps(LOADA(a + i), avx512_f16(b + i), s0); \
	if (i < n) \
		s1 = _mm512_fmadd_ps(LOADA_TAIL(a + i, n - i), avx512_f16_tail(b + i, n - i), s1); \
	return -_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))); \
}

AVX512_TARGET static inline __m512
avx512_f16(const uint16_t *p)
{
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) p));
}

AVX512_TARGET static inline __m512
avx512_f32_tail(const float *p, size_t m)
{
	return _mm512_maskz_loadu_ps((__mmask16) ((1u << m) - 1), p);
}

HNSW_AVX512_HALF_KERNEL(negdot_f32_f16_avx512, float, _mm512_loadu_ps, avx512_f32_tail)
HNSW_AVX512_HALF_KERNEL(negdot_f16_f16_avx512, uint16_t, avx512_f16, avx512_f16_tail)

__attribute__((target("avx2,fma"))) static float
negdot_avx2(const float *a, const float *b, size_t n)
{
	return -dot_avx2(a, b, n);
}

__attribute__((target("avx2,fma,f16c"))) static float
negdot_f32_f16_avx2(const void *va, const void *vb, size_t n)
{
	const float *a = va;
	const uint16_t *b = vb;
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps();
	size_t		i = 0;
	float		r;

	for (; i + 16 <= n; i += 16)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (b + i))), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
							 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (b + i + 8))), s1);
	}
	r = hsum256(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		r += a[i] * pgml_f16_to_f32(b[i]);
	return -r;
}

__attribute__((target("avx2,fma,f16c"))) static float
negdot_f16_f16_avx2(const void *a, const void *b, size_t n)
{
	return -dot_f16_avx2(a, b, n);
}
#endif

typedef float (*f16_fn) (const uint16_t *, const uint16_t *, size_t);

static hnsw_dist_fn k_dot = NULL,
			k_negdot = NULL,
			k_l2sq = NULL,
			k_l1 = NULL;
static f16_fn k_dot16 = NULL,
			k_l2sq16 = NULL;

static float
negdot_c(const float *a, const float *b, size_t n)
{
	return -pgml_dot_f32(a, b, n);
}

static float
negdot_f32_f16_c(const void *va, const void *vb, size_t n)
{
	const float *a = va;
	const uint16_t *b = vb;
	float		r = 0;

	for (size_t i = 0; i < n; i++)
		r += a[i] * pgml_f16_to_f32(b[i]);
	return -r;
}

static float
negdot_f16_f16_c(const void *a, const void *b, size_t n)
{
	return -pgml_dot_f16(a, b, n);
}

static hnsw_half_fn k_negdot_f32_f16 = negdot_f32_f16_c,
			k_negdot_f16_f16 = negdot_f16_f16_c;

/* Chooses the kernels; idempotent, and every thread computes the same choice. */
static void
choose(void)
{
	hnsw_dist_fn dot = pgml_dot_f32;

	k_negdot = negdot_c;
	k_l1 = pgml_l1_f32;
	k_l2sq = pgml_l2sq_f32;
	k_dot16 = pgml_dot_f16;
	k_l2sq16 = pgml_l2sq_f16;
#ifdef HAVE_X86_KERNELS
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
	{
		dot = dot_avx2;
		k_negdot = negdot_avx2;
		k_l1 = l1_avx2;
		k_l2sq = l2sq_avx2;
		if (__builtin_cpu_supports("f16c"))
		{
			k_dot16 = dot_f16_avx2;
			k_l2sq16 = l2sq_f16_avx2;
			k_negdot_f32_f16 = negdot_f32_f16_avx2;
			k_negdot_f16_f16 = negdot_f16_f16_avx2;
		}
	}
	if (__builtin_cpu_supports("avx512f"))
	{
		dot = dot_avx512;
		k_negdot = negdot_avx512;
		k_l1 = l1_avx512;
		k_l2sq = l2sq_avx512;
		k_negdot_f32_f16 = negdot_f32_f16_avx512;
		k_negdot_f16_f16 = negdot_f16_f16_avx512;
	}
#endif
	__atomic_store_n(&k_dot, dot, __ATOMIC_RELEASE);
}

static inline void
ensure(void)
{
	if (__builtin_expect(__atomic_load_n(&k_dot, __ATOMIC_ACQUIRE) == NULL, 0))
		choose();
}

hnsw_dist_fn
hnsw_kernel(pgml_hnsw_metric metric)
{
	ensure();
	switch (metric)
	{
		case PGML_HNSW_L2:
			return k_l2sq;
		case PGML_HNSW_IP:
		case PGML_HNSW_COSINE:
			return k_negdot;
		case PGML_HNSW_L1:
			return k_l1;
	}
	return k_l2sq;
}

hnsw_half_fn
hnsw_kernel_negdot_f32_f16(void)
{
	ensure();
	return k_negdot_f32_f16;
}

hnsw_half_fn
hnsw_kernel_negdot_f16_f16(void)
{
	ensure();
	return k_negdot_f16_f16;
}

float
hnsw_dot_f32(const float *a, const float *b, size_t n)
{
	ensure();
	return k_dot(a, b, n);
}

float
hnsw_l2sq_f32(const float *a, const float *b, size_t n)
{
	ensure();
	return k_l2sq(a, b, n);
}

float
hnsw_l1_f32(const float *a, const float *b, size_t n)
{
	ensure();
	return k_l1(a, b, n);
}

float
pgml_hnsw_distance_f16(pgml_hnsw_metric metric, const uint16_t *a, const uint16_t *b, size_t dim)
{
	ensure();
	switch (metric)
	{
		case PGML_HNSW_L2:
			return k_l2sq16(a, b, dim);
		case PGML_HNSW_IP:
		case PGML_HNSW_COSINE:
			return -k_dot16(a, b, dim);
		case PGML_HNSW_L1:
			return pgml_l1_f16(a, b, dim);
	}
	return 0;
}
