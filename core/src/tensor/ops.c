/*
 * ops.c — float32 transformer kernels (see pgml/tensor.h): dtype conversion, linear layers on OpenBLAS,
 * activations, residual + LayerNorm, softmax, attention, rotary embeddings.
 *
 * GEMMs dominate an encoder's time; they run as single-threaded cblas_sgemm calls, one per pool worker,
 * on disjoint row blocks (or column blocks when there are few rows). The elementwise kernels (GELU,
 * softmax, LayerNorm) have an AVX-512 version compiled per function with __attribute__((target)) and
 * chosen once from CPUID; the *_ref functions are the plain C references the tests compare them with.
 * The AVX-512 exp is a degree-6 polynomial after range reduction (relative error ~2e-7) and erf is
 * Abramowitz & Stegun 7.1.26 (absolute error 1.5e-7): far below the 1e-4 the models are checked to.
 */
#include "pgml/tensor.h"

#include "pgml/distance.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define PGML_X86 1
#include <immintrin.h>
#endif

/* ---------------------------------------------------------------------------------------------------
 * dtypes
 * ------------------------------------------------------------------------------------------------- */

float
pgml_bf16_to_f32(uint16_t h)
{
	uint32_t	bits = (uint32_t) h << 16;
	float		f;

	memcpy(&f, &bits, 4);
	return f;
}

uint16_t
pgml_f32_to_bf16(float f)
{
	uint32_t	x;

	memcpy(&x, &f, 4);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t) ((x >> 16) | 0x40);
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t) (x >> 16);
}

void
pgml_convert_to_f32(pgml_dtype dt, const void *src, float *dst, size_t n)
{
	const uint8_t *p = src;

	if (dt == PGML_DTYPE_F32)
	{
		memcpy(dst, src, n * sizeof(float));
		return;
	}
	if (dt == PGML_DTYPE_F16 && ((uintptr_t) src % 2) == 0)
	{
		pgml_f16_to_f32_n(src, dst, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
	{
		uint16_t	h;

		memcpy(&h, p + 2 * i, 2);
		dst[i] = dt == PGML_DTYPE_F16 ? pgml_f16_to_f32(h) : pgml_bf16_to_f32(h);
	}
}

/* ---------------------------------------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------------------------------------- */

bool
pgml_act_parse(const char *name, pgml_act *out)
{
	static const struct
	{
		const char *name;
		pgml_act	act;
	}			names[] = {
		{"gelu", PGML_ACT_GELU}, {"gelu_python", PGML_ACT_GELU}, {"gelu_new", PGML_ACT_GELU_TANH},
		{"gelu_pytorch_tanh", PGML_ACT_GELU_TANH}, {"gelu_fast", PGML_ACT_GELU_TANH},
		{"relu", PGML_ACT_RELU}, {"silu", PGML_ACT_SILU}, {"swish", PGML_ACT_SILU},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, name) == 0)
		{
			*out = names[i].act;
			return true;
		}
	return false;
}

static inline float
act1(float v, pgml_act act)
{
	switch (act)
	{
		case PGML_ACT_GELU:
			return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
		case PGML_ACT_GELU_TANH:
			return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
		case PGML_ACT_RELU:
			return v > 0 ? v : 0;
		case PGML_ACT_SILU:
			return v / (1.0f + expf(-v));
		case PGML_ACT_NONE:
			break;
	}
	return v;
}

void
pgml_bias_act_ref(float *x, const float *b, size_t n, pgml_act act)
{
	for (size_t i = 0; i < n; i++)
		x[i] = act1(x[i] + (b ? b[i] : 0.0f), act);
}

void
pgml_add_layernorm_ref(float *x, const float *r, size_t T, size_t n, const float *g, const float *b, float eps)
{
	for (size_t t = 0; t < T; t++)
	{
		float	   *row = x + t * n;
		double		mean = 0,
					var = 0,
					inv;

		if (r != NULL)
			for (size_t i = 0; i < n; i++)
				row[i] += r[t * n + i];
		for (size_t i = 0; i < n; i++)
			mean += row[i];
		mean /= (double) n;
		for (size_t i = 0; i < n; i++)
			var += (row[i] - mean) * (row[i] - mean);
		var /= (double) n;
		inv = 1.0 / sqrt(var + eps);
		for (size_t i = 0; i < n; i++)
			row[i] = (float) ((row[i] - mean) * inv) * g[i] + (b ? b[i] : 0.0f);
	}
}

void
pgml_softmax_ref(float *x, size_t n)
{
	float		m = -INFINITY;
	double		s = 0;

	for (size_t i = 0; i < n; i++)
		m = x[i] > m ? x[i] : m;
	if (m == -INFINITY)
	{
		memset(x, 0, n * sizeof(float));
		return;
	}
	for (size_t i = 0; i < n; i++)
	{
		x[i] = expf(x[i] - m);
		s += x[i];
	}
	for (size_t i = 0; i < n; i++)
		x[i] = (float) (x[i] / s);
}

void
pgml_swiglu(const float *gate, const float *up, float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void
pgml_glu_ref(const float *gate, const float *up, float *out, size_t n, pgml_act act)
{
	for (size_t i = 0; i < n; i++)
		out[i] = act1(gate[i], act) * up[i];
}

/* ---------------------------------------------------------------------------------------------------
 * AVX-512
 * ------------------------------------------------------------------------------------------------- */

#ifdef PGML_X86
#define AVX512 __attribute__((target("avx512f,avx512dq,fma")))

/* e^x for x in about [-87, 88]; below, 0. */
AVX512 static inline __m512
exp512(__m512 x)
{
	const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
	const __m512 ln2hi = _mm512_set1_ps(0.693359375f);
	const __m512 ln2lo = _mm512_set1_ps(-2.12194440e-4f);
	__m512		n,
				r,
				p;

	x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f)), _mm512_set1_ps(-87.0f));
	n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	r = _mm512_fnmadd_ps(n, ln2hi, x);
	r = _mm512_fnmadd_ps(n, ln2lo, r);
	p = _mm512_set1_ps(1.9875691500e-4f);
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
	p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
	return _mm512_scalef_ps(p, n);
}

/* erf(x), Abramowitz & Stegun 7.1.26. */
AVX512 static inline __m512
erf512(__m512 x)
{
	__m512		a = _mm512_abs_ps(x);
	__m512		d = _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f));
	__m512		t = _mm512_rcp14_ps(d);
	__m512		p = _mm512_set1_ps(1.061405429f);

	/* one Newton step: t = t (2 - d t), relative error ~2^-28 */
	t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
	__m512		y;

	p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
	p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
	p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
	p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
	p = _mm512_mul_ps(p, t);
	y = _mm512_fnmadd_ps(p, exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a))),
						 _mm512_set1_ps(1.0f));
	/* copy the sign of x */
	return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(y),
											   _mm512_and_si512(_mm512_castps_si512(x),
																_mm512_set1_epi32((int) 0x80000000u))));
}

AVX512 static inline __m512
act512(__m512 v, pgml_act act)
{
	const __m512 half = _mm512_set1_ps(0.5f),
				one = _mm512_set1_ps(1.0f);

	switch (act)
	{
		case PGML_ACT_GELU:
			return _mm512_mul_ps(_mm512_mul_ps(half, v),
								 _mm512_add_ps(one, erf512(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)))));
		case PGML_ACT_GELU_TANH:
			{
				/* tanh(u) = 1 - 2 / (e^{2u} + 1) */
				__m512		u = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f),
											  _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), v),
															  _mm512_mul_ps(v, v), v));
				__m512		e = exp512(_mm512_add_ps(u, u));
				__m512		th = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));

				return _mm512_mul_ps(_mm512_mul_ps(half, v), _mm512_add_ps(one, th));
			}
		case PGML_ACT_RELU:
			return _mm512_max_ps(v, _mm512_setzero_ps());
		case PGML_ACT_SILU:
			return _mm512_div_ps(v, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), v))));
		case PGML_ACT_NONE:
			break;
	}
	return v;
}

AVX512 static void
avx512_bias_act(float *x, const float *b, size_t n, pgml_act act)
{
	size_t		i = 0;

	for (; i < n; i += 16)
	{
		__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (n - i)) - 1);
		__m512		v = _mm512_maskz_loadu_ps(m, x + i);

		if (b != NULL)
			v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, b + i));
		_mm512_mask_storeu_ps(x + i, m, act512(v, act));
	}
}

AVX512 static void
avx512_glu(const float *gate, const float *up, float *out, size_t n, pgml_act act)
{
	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (n - i)) - 1);
		__m512		g = act512(_mm512_maskz_loadu_ps(m, gate + i), act);

		_mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, up + i)));
	}
}

AVX512 static void
avx512_add_layernorm(float *x, const float *r, size_t T, size_t n, const float *g, const float *b, float eps)
{
	for (size_t t = 0; t < T; t++)
	{
		float	   *row = x + t * n;
		__m512		s = _mm512_setzero_ps(),
					s2 = _mm512_setzero_ps();
		float		mean,
					inv;
		__m512		vm,
					vi;

		for (size_t i = 0; i < n; i += 16)
		{
			__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (n - i)) - 1);
			__m512		v = _mm512_maskz_loadu_ps(m, row + i);

			if (r != NULL)
			{
				v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, r + t * n + i));
				_mm512_mask_storeu_ps(row + i, m, v);
			}
			s = _mm512_add_ps(s, v);
		}
		mean = _mm512_reduce_add_ps(s) / (float) n;
		vm = _mm512_set1_ps(mean);
		for (size_t i = 0; i < n; i += 16)
		{
			__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (n - i)) - 1);
			__m512		d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, row + i), vm);

			s2 = _mm512_fmadd_ps(d, d, s2);
		}
		inv = 1.0f / sqrtf(_mm512_reduce_add_ps(s2) / (float) n + eps);
		vi = _mm512_set1_ps(inv);
		for (size_t i = 0; i < n; i += 16)
		{
			__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (n - i)) - 1);
			__m512		v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + i), vm), vi);

			v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, g + i));
			if (b != NULL)
				v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, b + i));
			_mm512_mask_storeu_ps(row + i, m, v);
		}
	}
}

AVX512 static void
avx512_softmax(float *x, size_t n)
{
	__m512		vmax = _mm512_set1_ps(-INFINITY),
				vs = _mm512_setzero_ps();
	float		mx,
				inv;

	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (n - i)) - 1);

		vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, x + i));
	}
	mx = _mm512_reduce_max_ps(vmax);
	if (mx == -INFINITY)
	{
		memset(x, 0, n * sizeof(float));
		return;
	}
	vmax = _mm512_set1_ps(mx);
	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (n - i)) - 1);
		__m512		d = _mm512_sub_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, x + i), vmax);
		__m512		e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(d, _mm512_set1_ps(-87.0f), _CMP_GE_OQ) & m,
											exp512(d));

		_mm512_mask_storeu_ps(x + i, m, e);
		vs = _mm512_add_ps(vs, e);
	}
	inv = 1.0f / _mm512_reduce_add_ps(vs);
	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (n - i)) - 1);

		_mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_set1_ps(inv)));
	}
}
/*
 * AVX-512 attention pieces for head sizes that are multiples of 16 (up to 64): scores = scale · Q Kᵀ with
 * Kᵀ packed as kt[dh][Lp] (Lp = L rounded up to 16, zero-padded), 4 query rows × 64 keys per block; and
 * ctx = P V, 8 rows × 32 or 4 rows × 64 values per block. Remainders go one row × 16 at a time.
 */
AVX512 static void
att_scores_4x64(const float *q, size_t ld, const float *kt, size_t Lp, size_t dh, float scale, float *out)
{
	__m512		c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps(), c02 = _mm512_setzero_ps(), c03 = _mm512_setzero_ps();
	__m512		c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps(), c12 = _mm512_setzero_ps(), c13 = _mm512_setzero_ps();
	__m512		c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps(), c22 = _mm512_setzero_ps(), c23 = _mm512_setzero_ps();
	__m512		c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps(), c32 = _mm512_setzero_ps(), c33 = _mm512_setzero_ps();

	for (size_t k = 0; k < dh; k++)
	{
		__m512		b0 = _mm512_loadu_ps(kt + k * Lp + 0 * 16);
		__m512		b1 = _mm512_loadu_ps(kt + k * Lp + 1 * 16);
		__m512		b2 = _mm512_loadu_ps(kt + k * Lp + 2 * 16);
		__m512		b3 = _mm512_loadu_ps(kt + k * Lp + 3 * 16);
		__m512		a0 = _mm512_set1_ps(q[0 * ld + k]);
		__m512		a1 = _mm512_set1_ps(q[1 * ld + k]);
		__m512		a2 = _mm512_set1_ps(q[2 * ld + k]);
		__m512		a3 = _mm512_set1_ps(q[3 * ld + k]);

		c00 = _mm512_fmadd_ps(a0, b0, c00);
		c01 = _mm512_fmadd_ps(a0, b1, c01);
		c02 = _mm512_fmadd_ps(a0, b2, c02);
		c03 = _mm512_fmadd_ps(a0, b3, c03);
		c10 = _mm512_fmadd_ps(a1, b0, c10);
		c11 = _mm512_fmadd_ps(a1, b1, c11);
		c12 = _mm512_fmadd_ps(a1, b2, c12);
		c13 = _mm512_fmadd_ps(a1, b3, c13);
		c20 = _mm512_fmadd_ps(a2, b0, c20);
		c21 = _mm512_fmadd_ps(a2, b1, c21);
		c22 = _mm512_fmadd_ps(a2, b2, c22);
		c23 = _mm512_fmadd_ps(a2, b3, c23);
		c30 = _mm512_fmadd_ps(a3, b0, c30);
		c31 = _mm512_fmadd_ps(a3, b1, c31);
		c32 = _mm512_fmadd_ps(a3, b2, c32);
		c33 = _mm512_fmadd_ps(a3, b3, c33);
	}
	_mm512_storeu_ps(out + 0 * Lp + 0 * 16, _mm512_mul_ps(c00, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 0 * Lp + 1 * 16, _mm512_mul_ps(c01, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 0 * Lp + 2 * 16, _mm512_mul_ps(c02, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 0 * Lp + 3 * 16, _mm512_mul_ps(c03, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 1 * Lp + 0 * 16, _mm512_mul_ps(c10, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 1 * Lp + 1 * 16, _mm512_mul_ps(c11, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 1 * Lp + 2 * 16, _mm512_mul_ps(c12, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 1 * Lp + 3 * 16, _mm512_mul_ps(c13, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 2 * Lp + 0 * 16, _mm512_mul_ps(c20, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 2 * Lp + 1 * 16, _mm512_mul_ps(c21, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 2 * Lp + 2 * 16, _mm512_mul_ps(c22, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 2 * Lp + 3 * 16, _mm512_mul_ps(c23, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 3 * Lp + 0 * 16, _mm512_mul_ps(c30, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 3 * Lp + 1 * 16, _mm512_mul_ps(c31, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 3 * Lp + 2 * 16, _mm512_mul_ps(c32, _mm512_set1_ps(scale)));
	_mm512_storeu_ps(out + 3 * Lp + 3 * 16, _mm512_mul_ps(c33, _mm512_set1_ps(scale)));
}

AVX512 static void
att_scores_1x16(const float *q, const float *kt, size_t Lp, size_t dh, float scale, float *out)
{
	__m512		c00 = _mm512_setzero_ps();

	for (size_t k = 0; k < dh; k++)
	{
		__m512		b0 = _mm512_loadu_ps(kt + k * Lp);
		__m512		a0 = _mm512_set1_ps(q[k]);

		c00 = _mm512_fmadd_ps(a0, b0, c00);
	}
	_mm512_storeu_ps(out, _mm512_mul_ps(c00, _mm512_set1_ps(scale)));
}

AVX512 static void
att_pv_8x2(const float *p, size_t Lp, const float *v, size_t ld, size_t L, float *out, size_t ldc)
{
	__m512		c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
	__m512		c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
	__m512		c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
	__m512		c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
	__m512		c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
	__m512		c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
	__m512		c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps();
	__m512		c70 = _mm512_setzero_ps(), c71 = _mm512_setzero_ps();

	for (size_t k = 0; k < L; k++)
	{
		__m512		b0 = _mm512_loadu_ps(v + k * ld + 0 * 16);
		__m512		b1 = _mm512_loadu_ps(v + k * ld + 1 * 16);
		__m512		a0 = _mm512_set1_ps(p[0 * Lp + k]);
		__m512		a1 = _mm512_set1_ps(p[1 * Lp + k]);
		__m512		a2 = _mm512_set1_ps(p[2 * Lp + k]);
		__m512		a3 = _mm512_set1_ps(p[3 * Lp + k]);
		__m512		a4 = _mm512_set1_ps(p[4 * Lp + k]);
		__m512		a5 = _mm512_set1_ps(p[5 * Lp + k]);
		__m512		a6 = _mm512_set1_ps(p[6 * Lp + k]);
		__m512		a7 = _mm512_set1_ps(p[7 * Lp + k]);

		c00 = _mm512_fmadd_ps(a0, b0, c00);
		c01 = _mm512_fmadd_ps(a0, b1, c01);
		c10 = _mm512_fmadd_ps(a1, b0, c10);
		c11 = _mm512_fmadd_ps(a1, b1, c11);
		c20 = _mm512_fmadd_ps(a2, b0, c20);
		c21 = _mm512_fmadd_ps(a2, b1, c21);
		c30 = _mm512_fmadd_ps(a3, b0, c30);
		c31 = _mm512_fmadd_ps(a3, b1, c31);
		c40 = _mm512_fmadd_ps(a4, b0, c40);
		c41 = _mm512_fmadd_ps(a4, b1, c41);
		c50 = _mm512_fmadd_ps(a5, b0, c50);
		c51 = _mm512_fmadd_ps(a5, b1, c51);
		c60 = _mm512_fmadd_ps(a6, b0, c60);
		c61 = _mm512_fmadd_ps(a6, b1, c61);
		c70 = _mm512_fmadd_ps(a7, b0, c70);
		c71 = _mm512_fmadd_ps(a7, b1, c71);
	}
	_mm512_storeu_ps(out + 0 * ldc + 0 * 16, c00);
	_mm512_storeu_ps(out + 0 * ldc + 1 * 16, c01);
	_mm512_storeu_ps(out + 1 * ldc + 0 * 16, c10);
	_mm512_storeu_ps(out + 1 * ldc + 1 * 16, c11);
	_mm512_storeu_ps(out + 2 * ldc + 0 * 16, c20);
	_mm512_storeu_ps(out + 2 * ldc + 1 * 16, c21);
	_mm512_storeu_ps(out + 3 * ldc + 0 * 16, c30);
	_mm512_storeu_ps(out + 3 * ldc + 1 * 16, c31);
	_mm512_storeu_ps(out + 4 * ldc + 0 * 16, c40);
	_mm512_storeu_ps(out + 4 * ldc + 1 * 16, c41);
	_mm512_storeu_ps(out + 5 * ldc + 0 * 16, c50);
	_mm512_storeu_ps(out + 5 * ldc + 1 * 16, c51);
	_mm512_storeu_ps(out + 6 * ldc + 0 * 16, c60);
	_mm512_storeu_ps(out + 6 * ldc + 1 * 16, c61);
	_mm512_storeu_ps(out + 7 * ldc + 0 * 16, c70);
	_mm512_storeu_ps(out + 7 * ldc + 1 * 16, c71);
}

AVX512 static void
att_pv_4x4(const float *p, size_t Lp, const float *v, size_t ld, size_t L, float *out, size_t ldc)
{
	__m512		c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps(), c02 = _mm512_setzero_ps(), c03 = _mm512_setzero_ps();
	__m512		c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps(), c12 = _mm512_setzero_ps(), c13 = _mm512_setzero_ps();
	__m512		c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps(), c22 = _mm512_setzero_ps(), c23 = _mm512_setzero_ps();
	__m512		c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps(), c32 = _mm512_setzero_ps(), c33 = _mm512_setzero_ps();

	for (size_t k = 0; k < L; k++)
	{
		__m512		b0 = _mm512_loadu_ps(v + k * ld + 0 * 16);
		__m512		b1 = _mm512_loadu_ps(v + k * ld + 1 * 16);
		__m512		b2 = _mm512_loadu_ps(v + k * ld + 2 * 16);
		__m512		b3 = _mm512_loadu_ps(v + k * ld + 3 * 16);
		__m512		a0 = _mm512_set1_ps(p[0 * Lp + k]);
		__m512		a1 = _mm512_set1_ps(p[1 * Lp + k]);
		__m512		a2 = _mm512_set1_ps(p[2 * Lp + k]);
		__m512		a3 = _mm512_set1_ps(p[3 * Lp + k]);

		c00 = _mm512_fmadd_ps(a0, b0, c00);
		c01 = _mm512_fmadd_ps(a0, b1, c01);
		c02 = _mm512_fmadd_ps(a0, b2, c02);
		c03 = _mm512_fmadd_ps(a0, b3, c03);
		c10 = _mm512_fmadd_ps(a1, b0, c10);
		c11 = _mm512_fmadd_ps(a1, b1, c11);
		c12 = _mm512_fmadd_ps(a1, b2, c12);
		c13 = _mm512_fmadd_ps(a1, b3, c13);
		c20 = _mm512_fmadd_ps(a2, b0, c20);
		c21 = _mm512_fmadd_ps(a2, b1, c21);
		c22 = _mm512_fmadd_ps(a2, b2, c22);
		c23 = _mm512_fmadd_ps(a2, b3, c23);
		c30 = _mm512_fmadd_ps(a3, b0, c30);
		c31 = _mm512_fmadd_ps(a3, b1, c31);
		c32 = _mm512_fmadd_ps(a3, b2, c32);
		c33 = _mm512_fmadd_ps(a3, b3, c33);
	}
	_mm512_storeu_ps(out + 0 * ldc + 0 * 16, c00);
	_mm512_storeu_ps(out + 0 * ldc + 1 * 16, c01);
	_mm512_storeu_ps(out + 0 * ldc + 2 * 16, c02);
	_mm512_storeu_ps(out + 0 * ldc + 3 * 16, c03);
	_mm512_storeu_ps(out + 1 * ldc + 0 * 16, c10);
	_mm512_storeu_ps(out + 1 * ldc + 1 * 16, c11);
	_mm512_storeu_ps(out + 1 * ldc + 2 * 16, c12);
	_mm512_storeu_ps(out + 1 * ldc + 3 * 16, c13);
	_mm512_storeu_ps(out + 2 * ldc + 0 * 16, c20);
	_mm512_storeu_ps(out + 2 * ldc + 1 * 16, c21);
	_mm512_storeu_ps(out + 2 * ldc + 2 * 16, c22);
	_mm512_storeu_ps(out + 2 * ldc + 3 * 16, c23);
	_mm512_storeu_ps(out + 3 * ldc + 0 * 16, c30);
	_mm512_storeu_ps(out + 3 * ldc + 1 * 16, c31);
	_mm512_storeu_ps(out + 3 * ldc + 2 * 16, c32);
	_mm512_storeu_ps(out + 3 * ldc + 3 * 16, c33);
}

AVX512 static void
att_pv_1x1(const float *p, const float *v, size_t ld, size_t L, float *out)
{
	__m512		c00 = _mm512_setzero_ps();

	for (size_t k = 0; k < L; k++)
	{
		__m512		b0 = _mm512_loadu_ps(v + k * ld);
		__m512		a0 = _mm512_set1_ps(p[k]);

		c00 = _mm512_fmadd_ps(a0, b0, c00);
	}
	_mm512_storeu_ps(out, c00);
}

/* One (sequence, head): scores into sc[S][Lp], softmax by the caller's loop, then ctx. */
AVX512 static void
att_scores512(const float *q, const float *k, size_t ld, size_t S, size_t L, size_t dh, float scale, float *kt,
			  float *sc)
{
	size_t		Lp = (L + 15) / 16 * 16;
	size_t		i = 0;

	for (size_t d = 0; d < dh; d++)
	{
		for (size_t j = 0; j < L; j++)
			kt[d * Lp + j] = k[j * ld + d];
		for (size_t j = L; j < Lp; j++)
			kt[d * Lp + j] = 0.0f;
	}
	for (; i + 4 <= S; i += 4)
	{
		size_t		jb = 0;

		for (; jb + 64 <= Lp; jb += 64)
			att_scores_4x64(q + i * ld, ld, kt + jb, Lp, dh, scale, sc + i * Lp + jb);
		for (; jb < Lp; jb += 16)
			for (size_t r = 0; r < 4; r++)
				att_scores_1x16(q + (i + r) * ld, kt + jb, Lp, dh, scale, sc + (i + r) * Lp + jb);
	}
	for (; i < S; i++)
		for (size_t jb = 0; jb < Lp; jb += 16)
			att_scores_1x16(q + i * ld, kt + jb, Lp, dh, scale, sc + i * Lp + jb);
}

AVX512 static void
att_pv512(const float *sc, size_t Lp, const float *v, size_t ld, size_t S, size_t L, size_t dh, float *out,
		  size_t ldc)
{
	size_t		i = 0;

	if (dh == 32)
		for (; i + 8 <= S; i += 8)
			att_pv_8x2(sc + i * Lp, Lp, v, ld, L, out + i * ldc, ldc);
	else if (dh == 64)
		for (; i + 4 <= S; i += 4)
			att_pv_4x4(sc + i * Lp, Lp, v, ld, L, out + i * ldc, ldc);
	for (; i < S; i++)
		for (size_t d = 0; d < dh; d += 16)
			att_pv_1x1(sc + i * Lp, v + d, ld, L, out + i * ldc + d);
}
#endif

/* ---------------------------------------------------------------------------------------------------
 * Dispatch
 * ------------------------------------------------------------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool use_avx512;

static void
choose(void)
{
#ifdef PGML_X86
	__builtin_cpu_init();
	use_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");


#endif
}

void
pgml_bias_act(float *x, const float *b, size_t n, pgml_act act)
{
	pthread_once(&once, choose);
#ifdef PGML_X86
	if (use_avx512)
	{
		avx512_bias_act(x, b, n, act);
		return;
	}
#endif
	pgml_bias_act_ref(x, b, n, act);
}

/* A scalar erff per element dominates a GeGLU: the AVX-512 version is about 10x faster (3072 x 128 values). */
void
pgml_glu(const float *gate, const float *up, float *out, size_t n, pgml_act act)
{
	pthread_once(&once, choose);
#ifdef PGML_X86
	if (use_avx512)
	{
		avx512_glu(gate, up, out, n, act);
		return;
	}
#endif
	pgml_glu_ref(gate, up, out, n, act);
}

void
pgml_add_layernorm(float *x, const float *r, size_t T, size_t n, const float *g, const float *b, float eps)
{
	pthread_once(&once, choose);
#ifdef PGML_X86
	if (use_avx512)
	{
		avx512_add_layernorm(x, r, T, n, g, b, eps);
		return;
	}
#endif
	pgml_add_layernorm_ref(x, r, T, n, g, b, eps);
}

void
pgml_softmax(float *x, size_t n)
{
	pthread_once(&once, choose);
#ifdef PGML_X86
	if (use_avx512)
	{
		avx512_softmax(x, n);
		return;
	}
#endif
	pgml_softmax_ref(x, n);
}

/* ---------------------------------------------------------------------------------------------------
 * Linear layers
 * ------------------------------------------------------------------------------------------------- */

typedef struct linear_ctx
{
	const float *x;
	size_t		ldx,
				T,
				K,
				N,
				ldy,
				block;
	const float *W,
			   *b;
	pgml_act	act;
	float	   *y;
	bool		by_rows;
	bool		small;			/* few rows: the AVX-512 kernel that streams each weight row once */
	const float *xp;			/* x packed for packed_rows, or NULL */
} linear_ctx;

/*
 * Few rows (one short sentence): the layer is bound by reading W, which sgemm would also pack (read,
 * write, read again). This kernel reads each weight row once from memory: blocks of 4 output rows stay
 * in L1 while every input row (at most SMALL_T of them, also in L1) is dotted with them, 4 × 4 sums at
 * a time in registers.
 */
#define SMALL_T 16
#define SMALL_KC 1024				/* K chunk of the 4 × 4 kernel */
#define SMALL_PF 4				/* prefetch distance of the 4 × 4 kernel, in groups of 4 rows */


#ifdef PGML_X86
/* 4 input rows × 4 weight rows over k in [k0, k0 + 16) (masked): 16 accumulators kept in registers */
#define SMALL_STEP(LOAD, k0) \
	do { \
		__m512		w0 = LOAD(w0p + (k0)), w1 = LOAD(w1p + (k0)), w2 = LOAD(w2p + (k0)), w3 = LOAD(w3p + (k0)); \
		__m512		xv = LOAD(x0p + (k0)); \
		a00 = _mm512_fmadd_ps(xv, w0, a00); a01 = _mm512_fmadd_ps(xv, w1, a01); \
		a02 = _mm512_fmadd_ps(xv, w2, a02); a03 = _mm512_fmadd_ps(xv, w3, a03); \
		xv = LOAD(x1p + (k0)); \
		a10 = _mm512_fmadd_ps(xv, w0, a10); a11 = _mm512_fmadd_ps(xv, w1, a11); \
		a12 = _mm512_fmadd_ps(xv, w2, a12); a13 = _mm512_fmadd_ps(xv, w3, a13); \
		xv = LOAD(x2p + (k0)); \
		a20 = _mm512_fmadd_ps(xv, w0, a20); a21 = _mm512_fmadd_ps(xv, w1, a21); \
		a22 = _mm512_fmadd_ps(xv, w2, a22); a23 = _mm512_fmadd_ps(xv, w3, a23); \
		xv = LOAD(x3p + (k0)); \
		a30 = _mm512_fmadd_ps(xv, w0, a30); a31 = _mm512_fmadd_ps(xv, w1, a31); \
		a32 = _mm512_fmadd_ps(xv, w2, a32); a33 = _mm512_fmadd_ps(xv, w3, a33); \
	} while (0)
#define LOAD_FULL(p) _mm512_loadu_ps(p)

/* The horizontal sums of four vectors, as one vector [Σa, Σb, Σc, Σd]. */
AVX512 static inline __m128
hsum4(__m512 a, __m512 b, __m512 c, __m512 d)
{
	__m512		ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));	/* a b a b per lane */
	__m512		cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
	__m512		abcd = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(ab), _mm512_castps_pd(cd))),
									 _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(ab), _mm512_castps_pd(cd))));
	__m256		h = _mm256_add_ps(_mm512_castps512_ps256(abcd), _mm512_extractf32x8_ps(abcd, 1));

	return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}
#define LOAD_TAIL(p) _mm512_maskz_loadu_ps(tail, p)

AVX512 static void
avx512_linear_small(const linear_ctx *c, size_t c0, size_t c1)
{
	size_t		K = c->K,
				T = c->T,
				kmain = K & ~(size_t) 15;
	__mmask16	tail = (__mmask16) ((1u << (K - kmain)) - 1);

	size_t		passes = (T + 3) / 4,
				kc = K > 1536 ? SMALL_KC : K;
	int			pf_per_step = (int) ((4 + passes - 1) / passes);

	for (size_t n = c0; n < c1; n += 4)
	{
		size_t		nn = c1 - n < 4 ? c1 - n : 4;
		/*
		 * The 4 rows SMALL_PF groups ahead are contiguous: prefetch them into L2 a line or a few per
		 * step, spread over all the passes, so that memory streams while the later passes compute
		 * from L1 (into L1 they would evict this group: 4 rows of K = 1536 are 24 KiB). Measured on
		 * MiniLM's 1536 → 384 layer with 14 rows: 0.94 ms on 2 threads, the memory bound; 1.17 ms
		 * prefetching the next group into L1 during the first pass only.
		 */
		size_t		pf_lo = n + 4 * SMALL_PF < c1 ? n + 4 * SMALL_PF : c1,
					pf_hi = pf_lo + 4 < c1 ? pf_lo + 4 : c1;
		const char *pf = (const char *) (c->W + pf_lo * K),
				   *pf_end = (const char *) (c->W + pf_hi * K);
		const float *w0p = c->W + n * K,
				   *w1p = c->W + (n + (nn > 1 ? 1 : 0)) * K,
				   *w2p = c->W + (n + (nn > 2 ? 2 : 0)) * K,
				   *w3p = c->W + (n + (nn > 3 ? 3 : 0)) * K;

		/*
		 * K over 1536 in chunks of SMALL_KC: the group's chunk (4 × SMALL_KC floats) stays in L1
		 * across the passes, and each pass reads only 4 input rows' chunks from L2. With the whole K
		 * at once, a group of 4 rows of K = 3072 (48 KiB) does not fit in L1 and every pass reloads
		 * it too. Up to 1536 (MiniLM's FFN) the group and 4 input rows fit: no chunks.
		 */
		for (size_t k0 = 0; k0 < K; k0 += kc)
		{
			size_t		k1 = K - k0 > kc ? k0 + kc : K,
						kend = k1 < kmain ? k1 : kmain;
			bool		last = k1 == K;

			for (size_t t = 0; t < T; t += 4)
			{
				size_t		tt = T - t < 4 ? T - t : 4;
				const float *x0p = c->x + t * c->ldx,
						   *x1p = c->x + (t + (tt > 1 ? 1 : 0)) * c->ldx,
						   *x2p = c->x + (t + (tt > 2 ? 2 : 0)) * c->ldx,
						   *x3p = c->x + (t + (tt > 3 ? 3 : 0)) * c->ldx;
				__m512		a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a03 = a00,
							a10 = a00, a11 = a00, a12 = a00, a13 = a00,
							a20 = a00, a21 = a00, a22 = a00, a23 = a00,
							a30 = a00, a31 = a00, a32 = a00, a33 = a00;
				float		r[4][4];

				for (size_t k = k0; k < kend; k += 16)
				{
					for (int i = 0; i < pf_per_step; i++, pf += 64)
						if (pf < pf_end)
							_mm_prefetch(pf, _MM_HINT_T1);
					SMALL_STEP(LOAD_FULL, k);
				}
				if (last && tail)
					SMALL_STEP(LOAD_TAIL, kmain);
				_mm_storeu_ps(r[0], hsum4(a00, a01, a02, a03));
				_mm_storeu_ps(r[1], hsum4(a10, a11, a12, a13));
				_mm_storeu_ps(r[2], hsum4(a20, a21, a22, a23));
				_mm_storeu_ps(r[3], hsum4(a30, a31, a32, a33));
				for (size_t i = 0; i < tt; i++)
					for (size_t j = 0; j < nn; j++)
					{
						float	   *yp = &c->y[(t + i) * c->ldy + n + j];

						*yp = k0 == 0 ? r[i][j] : *yp + r[i][j];
					}
			}
		}
	}
}
#undef SMALL_STEP
#undef LOAD_FULL
#undef LOAD_TAIL
#endif

#ifdef PGML_X86
/*
 * The packed small-batch kernel, for K <= PACK_K: x is first copied into blocks of 16 columns,
 * xp[K/16][Tp][16] with Tp = T rounded up to 4 and zeros in the padding (at most 32 KiB: it stays in
 * L1), so that one step over 16 columns reads 16 × Tp contiguous floats. Each weight row is then read
 * exactly once, in order, and dotted with all Tp inputs at once (Tp accumulators in registers): the
 * weights stream at the rate the hardware prefetcher sustains and the arithmetic overlaps the stream,
 * where the 4 × 4 kernel above alternates a pass that waits for memory with passes that only compute.
 * With a larger K the packed inputs would not fit in L1 and every step would reload them from L2: there
 * the 4 × 4 kernel is faster (measured: MiniLM's 1536 → 384 layer; BERT-base's 768 → 2304 and 768 →
 * 3072 layers take twice as long packed, 1 × 16 tokens on 2 threads).
 */
#define PACK_K 512

AVX512 static inline __attribute__((always_inline)) void
packed_rows(const linear_ctx *c, size_t c0, size_t c1, const int TP)
{
	size_t		K = c->K,
				kmain = K / 16;
	__mmask16	tail = (__mmask16) ((1u << (K % 16)) - 1);

	for (size_t n = c0; n < c1; n++)
	{
		const float *w = c->W + n * K;
		const char *pf = (const char *) (c->W + (n + 2 < c1 ? n + 2 : n) * K);
		__m512		acc[16];
		float		r[16];

#pragma GCC unroll 16
		for (int j = 0; j < TP; j++)
			acc[j] = _mm512_setzero_ps();
		for (size_t k = 0; k < kmain; k++)
		{
			__m512		wv = _mm512_loadu_ps(w + 16 * k);
			const float *xb = c->xp + k * (size_t) TP * 16;

			_mm_prefetch(pf + 64 * k, _MM_HINT_T0);	/* the row after next, a line per step */
#pragma GCC unroll 16
			for (int j = 0; j < TP; j++)
				acc[j] = _mm512_fmadd_ps(_mm512_load_ps(xb + 16 * j), wv, acc[j]);
		}
		if (tail)
		{
			__m512		wv = _mm512_maskz_loadu_ps(tail, w + 16 * kmain);
			const float *xb = c->xp + kmain * (size_t) TP * 16;

#pragma GCC unroll 16
			for (int j = 0; j < TP; j++)
				acc[j] = _mm512_fmadd_ps(_mm512_load_ps(xb + 16 * j), wv, acc[j]);
		}
#pragma GCC unroll 4
		for (int j = 0; j < TP; j += 4)
			_mm_storeu_ps(r + j, hsum4(acc[j], acc[j + 1], acc[j + 2], acc[j + 3]));
		/* bias and activation here, on the row's TP sums as one vector */
		if (c->b != NULL || c->act != PGML_ACT_NONE)
		{
			__m512		v = _mm512_maskz_loadu_ps((__mmask16) ((1u << TP) - 1), r);

			if (c->b != NULL)
				v = _mm512_add_ps(v, _mm512_set1_ps(c->b[n]));
			_mm512_storeu_ps(r, act512(v, c->act));
		}
		for (size_t t = 0; t < c->T; t++)
			c->y[t * c->ldy + n] = r[t];
	}
}

AVX512 static void
packed_rows4(const linear_ctx *c, size_t c0, size_t c1)
{
	packed_rows(c, c0, c1, 4);
}

AVX512 static void
packed_rows8(const linear_ctx *c, size_t c0, size_t c1)
{
	packed_rows(c, c0, c1, 8);
}

AVX512 static void
packed_rows12(const linear_ctx *c, size_t c0, size_t c1)
{
	packed_rows(c, c0, c1, 12);
}

AVX512 static void
packed_rows16(const linear_ctx *c, size_t c0, size_t c1)
{
	packed_rows(c, c0, c1, 16);
}

/* Copies x [T, K] into xp[K/16][Tp][16] (zero padded). */
AVX512 static void
pack_small_x(const float *x, size_t ldx, size_t T, size_t K, float *xp)
{
	size_t		Tp = (T + 3) & ~(size_t) 3,
				kb = (K + 15) / 16;

	for (size_t k = 0; k < kb; k++)
	{
		__mmask16	m = K - 16 * k >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (K - 16 * k)) - 1);
		float	   *dst = xp + k * Tp * 16;

		for (size_t t = 0; t < T; t++)
			_mm512_store_ps(dst + t * 16, _mm512_maskz_loadu_ps(m, x + t * ldx + 16 * k));
		for (size_t t = T; t < Tp; t++)
			_mm512_store_ps(dst + t * 16, _mm512_setzero_ps());
	}
}
#endif

/* Computes rows [r0, r1) and columns [c0, c1) of y. */
static void
linear_part(const linear_ctx *c, size_t r0, size_t r1, size_t c0, size_t c1)
{
	float	   *y = c->y + r0 * c->ldy + c0;
	size_t		rows = r1 - r0,
				cols = c1 - c0;
	bool		bias_in = c->b != NULL;

	if (rows == 0 || cols == 0)
		return;
#ifdef PGML_X86
	if (c->xp != NULL)
	{
		size_t		Tp = (c->T + 3) / 4;	/* packed_rows applies bias and activation itself */

		if (Tp == 1)
			packed_rows4(c, c0, c1);
		else if (Tp == 2)
			packed_rows8(c, c0, c1);
		else if (Tp == 3)
			packed_rows12(c, c0, c1);
		else
			packed_rows16(c, c0, c1);
		return;
	}
	if (c->small)
	{
		avx512_linear_small(c, c0, c1);
		if (c->b != NULL || c->act != PGML_ACT_NONE)
			for (size_t r = 0; r < rows; r++)
				pgml_bias_act(y + r * c->ldy, c->b ? c->b + c0 : NULL, cols, c->act);
		return;
	}
#endif

	/*
	 * sgemm: the bias goes in as C with beta = 1. With beta = 0 sgemm clears C itself and a second pass
	 * would add the bias, each a pass over a block larger than the caches; the activation still takes
	 * one pass.
	 */
	if (bias_in)
		for (size_t r = 0; r < rows; r++)
			memcpy(y + r * c->ldy, c->b + c0, cols * sizeof(float));
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) rows, (int) cols, (int) c->K, 1.0f,
				c->x + r0 * c->ldx, (int) c->ldx, c->W + c0 * c->K, (int) c->K, bias_in ? 1.0f : 0.0f, y,
				(int) c->ldy);
	if (c->act != PGML_ACT_NONE)
		for (size_t r = 0; r < rows; r++)
			pgml_bias_act(y + r * c->ldy, NULL, cols, c->act);
}

static void
linear_range(void *ctx, size_t begin, size_t end, int worker)
{
	const linear_ctx *c = ctx;

	(void) worker;
	for (size_t i = begin; i < end; i++)
	{
		size_t		lo = i * c->block;

		if (c->by_rows)
			linear_part(c, lo, lo + c->block < c->T ? lo + c->block : c->T, 0, c->N);
		else
			linear_part(c, 0, c->T, lo, lo + c->block < c->N ? lo + c->block : c->N);
	}
}

pgml_status
pgml_linear(pgml_pool *pool, const float *x, size_t ldx, size_t T, size_t K, const float *W, const float *b,
			size_t N, pgml_act act, float *y, size_t ldy, pgml_err *err)
{
	linear_ctx	c = {x, ldx, T, K, N, ldy, 0, W, b, act, y, true, false, NULL};
#ifdef PGML_X86
	float		xp[SMALL_T * PACK_K] __attribute__((aligned(64)));	/* 32 KiB */
#endif
	size_t		nt = (size_t) pgml_pool_size(pool);
	size_t		parts;

	if (T == 0 || N == 0)
		return PGML_OK;
	pthread_once(&once, choose);
#ifdef PGML_X86
	c.small = use_avx512 && T <= SMALL_T;
	if (c.small && K <= PACK_K)
	{
		pack_small_x(x, ldx, T, K, xp);
		c.xp = xp;
	}
#endif
	if (T > INT32_MAX || K > INT32_MAX || N > INT32_MAX || ldx > INT32_MAX || ldy > INT32_MAX)
		return pgml_error(err, PGML_ERR_LIMIT, "matrix too large for sgemm");
	if (nt <= 1 || (size_t) T * N * K < 64 * 64 * 64)
	{
		linear_part(&c, 0, T, 0, N);
		return PGML_OK;
	}
	/*
	 * Rows when there are enough of them, else columns (multiples of 16). One row block per worker:
	 * OpenBLAS repacks the weights once per block. Two blocks per worker, which balance better when
	 * another process slows one core, measured slower with the bias folded into sgemm (MiniLM 32 × 128
	 * on 2 threads, six interleaved pairs: never faster, 5% slower on average).
	 */
	if (T >= 32 * nt)
	{
		c.block = ((T + nt - 1) / nt + 15) / 16 * 16;
		parts = (T + c.block - 1) / c.block;
	}
	else
	{
		/*
		 * The small-batch kernels read each weight row once whatever the split, so they take four
		 * blocks per worker: a worker that starts late (descheduled, or waking) has its share taken
		 * by the others. sgemm repacks per block, so it keeps one block per worker.
		 */
		size_t		blocks = c.small ? 4 * nt : nt;

		c.by_rows = false;
		c.block = ((N + blocks - 1) / blocks + 15) / 16 * 16;
		parts = (N + c.block - 1) / c.block;
	}
	return pgml_parallel_for(pool, parts, 1, linear_range, &c, err);
}

/* ---------------------------------------------------------------------------------------------------
 * Linear layers from panels (few rows)
 *
 * Why panels: with the weights as stored, W[N, K] row after row, a step over k of a dot product needs a
 * horizontal sum per output, and a kernel that dots 16 input rows with a weight row either reloads
 * the inputs from L2 for every weight vector (the packed kernel above, fast only while x fits L1) or
 * splits the rows into passes that alternate between waiting for memory and computing (the 4 × 4
 * kernel). With Wp[p][k][16] one step loads one cache line of weights for 16 outputs and multiplies it
 * by the 16 inputs' k-th values, broadcast from a transposed copy of x (one line per step): each weight
 * line is read once, in address order, while the arithmetic runs alongside. Up to PGML_PANEL_T rows go in
 * blocks of 16 against groups of panels that stay in L2, where sgemm would pack all of W for each call.
 * Measured, BERT-base forward on 2 threads, the same process, interleaved: 16 rows 22.7 ms from panels
 * against 32.5 (4 × 4 kernel); 24 rows 34 against 110 (sgemm); 64 rows 95 against 178; 256 rows 461
 * against 587; all-MiniLM-L6-v2's shape 128 rows 28.6 against 46.6, 256 rows even: hence 128.
 * ------------------------------------------------------------------------------------------------- */

#define PANEL_PF 4096			/* software prefetch distance in the panel stream, bytes */

size_t
pgml_panels_floats(size_t N, size_t K)
{
	size_t		n;

	if (N > SIZE_MAX - 15 || !pgml_mul_size((N + 15) / 16 * 16, K, &n))
		return 0;
	return n;
}

void
pgml_panels_pack(const float *const *parts, size_t nparts, size_t rows, size_t K, float *out)
{
	size_t		N = nparts * rows,
				np = (N + 15) / 16;

	for (size_t p = 0; p < np; p++)
	{
		float	   *dst = out + p * K * 16;

		for (size_t j = 0; j < 16; j++)
		{
			size_t		n = 16 * p + j;
			const float *src = n < N ? parts[n / rows] + (n % rows) * K : NULL;

			for (size_t k = 0; k < K; k++)
				dst[k * 16 + j] = src != NULL ? src[k] : 0.0f;
		}
	}
}

size_t
pgml_linear_panels_ws_size(size_t T, size_t K)
{
	size_t		n;

	/* x transposed: K × 16 floats per block of 16 rows */
	if (T > PGML_PANEL_T || !pgml_mul_size(K, 16 * sizeof(float), &n) ||
		!pgml_mul_size(n, (T + 15) / 16, &n) || !pgml_add_size(n, 64, &n))
		return 0;
	return n;
}

typedef struct panels_ctx
{
	const float *xt;			/* x transposed per block of 16 rows (see pgml_linear_panels) */
	const float *Wp,
			   *b;
	size_t		K,
				N,
				T,
				ldy,
				block;			/* panels per part */
	pgml_act	act;
	float	   *y;
} panels_ctx;

pgml_status
pgml_linear_panels_ref(const float *x, size_t ldx, size_t T, size_t K, const float *Wp, const float *b,
					   size_t N, pgml_act act, float *y, size_t ldy, pgml_err *err)
{
	if (T > PGML_PANEL_T)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "panel linear takes at most %d rows", PGML_PANEL_T);
	for (size_t t = 0; t < T; t++)
		for (size_t n = 0; n < N; n++)
		{
			const float *w = Wp + (n / 16) * K * 16 + n % 16;
			float		s = 0;

			for (size_t k = 0; k < K; k++)
				s += x[t * ldx + k] * w[k * 16];
			y[t * ldy + n] = act1(s + (b ? b[n] : 0.0f), act);
		}
	return PGML_OK;
}

#ifdef PGML_X86
/*
 * Panel p against rows t0 .. t0 + n - 1 (n <= 16, TP = n rounded up to 4) of x, transposed in xt
 * ([K][TP]). The first block of rows streams the panel from memory with a prefetch 4 KiB ahead (the
 * hardware prefetcher stops at page boundaries); the next blocks find it in L2 (K × 64 bytes).
 */
AVX512 static inline __attribute__((always_inline)) void
panel_rows(const panels_ctx *c, size_t p, size_t t0, size_t n, const float *xt, const char *pf_end,
		   const int TP)
{
	size_t		K = c->K,
				n0 = 16 * p;
	const float *w = c->Wp + p * K * 16;
	const char *pf = (const char *) w + PANEL_PF;
	__mmask16	m = c->N - n0 >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (c->N - n0)) - 1);
	__m512		acc[16],
				bv;

#pragma GCC unroll 16
	for (int t = 0; t < TP; t++)
		acc[t] = _mm512_setzero_ps();
	for (size_t k = 0; k < K; k++, xt += TP, pf += 64)
	{
		__m512		wv = _mm512_loadu_ps(w + k * 16);

		if (pf < pf_end)
			_mm_prefetch(pf, _MM_HINT_T0);
#pragma GCC unroll 16
		for (int t = 0; t < TP; t++)
			acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(xt[t]), wv, acc[t]);
	}
	bv = c->b != NULL ? _mm512_maskz_loadu_ps(m, c->b + n0) : _mm512_setzero_ps();
	for (size_t t = 0; t < n; t++)
		_mm512_mask_storeu_ps(c->y + (t0 + t) * c->ldy + n0, m, act512(_mm512_add_ps(acc[t], bv), c->act));
}

/* 16 × 16 in registers: r[i] holds row i on entry, column i on return. */
AVX512 static inline void
transpose16(__m512 r[16])
{
	__m512		t[16];

	for (int i = 0; i < 16; i += 2)
	{
		t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
	}
	for (int i = 0; i < 16; i += 4)
	{
		r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
		r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
		r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
		r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
	}
	for (int i = 0; i < 4; i++)
	{
		t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
		t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
		t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
		t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
	}
	for (int i = 0; i < 4; i++)
	{
		r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
		r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
		r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
		r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
	}
}

/* xt[k][TP] = x[t][k] for t < T, zero for T <= t < TP: 16 × 16 blocks transposed in registers. */
AVX512 static void
transpose_x(const float *x, size_t ldx, size_t T, size_t K, int TP, float *xt)
{
	__mmask16	tp = (__mmask16) ((1u << TP) - 1);

	for (size_t k0 = 0; k0 < K; k0 += 16)
	{
		size_t		kn = K - k0 < 16 ? K - k0 : 16;
		__mmask16	m = (__mmask16) ((1u << kn) - 1);
		__m512		r[16];

		for (size_t t = 0; t < 16; t++)
			r[t] = t < T ? _mm512_maskz_loadu_ps(m, x + t * ldx + k0) : _mm512_setzero_ps();
		transpose16(r);
		for (size_t i = 0; i < kn; i++)
			_mm512_mask_storeu_ps(xt + (k0 + i) * (size_t) TP, tp, r[i]);
	}
}

AVX512 static void
panel_rows4(const panels_ctx *c, size_t p, size_t t0, size_t n, const float *xt, const char *pf_end)
{
	panel_rows(c, p, t0, n, xt, pf_end, 4);
}

AVX512 static void
panel_rows8(const panels_ctx *c, size_t p, size_t t0, size_t n, const float *xt, const char *pf_end)
{
	panel_rows(c, p, t0, n, xt, pf_end, 8);
}

AVX512 static void
panel_rows12(const panels_ctx *c, size_t p, size_t t0, size_t n, const float *xt, const char *pf_end)
{
	panel_rows(c, p, t0, n, xt, pf_end, 12);
}

AVX512 static void
panel_rows16(const panels_ctx *c, size_t p, size_t t0, size_t n, const float *xt, const char *pf_end)
{
	panel_rows(c, p, t0, n, xt, pf_end, 16);
}

/*
 * Panels [p0, p1) in groups of about PANEL_GROUP bytes: each group against every block of 16 rows while
 * the group (and the block's transposed rows) stay in L2. The first block streams the group from memory.
 */
#define PANEL_GROUP (512 * 1024)

static void
panels_part(const panels_ctx *c, size_t p0, size_t p1)
{
	const char *pf_end = (const char *) (c->Wp + p1 * c->K * 16);
	size_t		g = PANEL_GROUP / (c->K * 64) > 0 ? PANEL_GROUP / (c->K * 64) : 1;

	for (size_t q0 = p0; q0 < p1; q0 += g)
	{
		size_t		q1 = p1 - q0 > g ? q0 + g : p1;

		for (size_t t0 = 0; t0 < c->T; t0 += 16)
		{
			size_t		n = c->T - t0 < 16 ? c->T - t0 : 16;
			const float *xt = c->xt + t0 * c->K;
			/* the stream is prefetched by the first block only */
			const char *pfe = t0 == 0 ? pf_end : NULL;

			for (size_t p = q0; p < q1; p++)
				switch ((n + 3) / 4)
				{
					case 1:
						panel_rows4(c, p, t0, n, xt, pfe);
						break;
					case 2:
						panel_rows8(c, p, t0, n, xt, pfe);
						break;
					case 3:
						panel_rows12(c, p, t0, n, xt, pfe);
						break;
					default:
						panel_rows16(c, p, t0, n, xt, pfe);
						break;
				}
		}
	}
}

static void
panels_range(void *ctx, size_t begin, size_t end, int worker)
{
	const panels_ctx *c = ctx;
	size_t		np = (c->N + 15) / 16;

	(void) worker;
	for (size_t i = begin; i < end; i++)
		panels_part(c, i * c->block, (i + 1) * c->block < np ? (i + 1) * c->block : np);
}
#endif

pgml_status
pgml_linear_panels(pgml_pool *pool, const float *x, size_t ldx, size_t T, size_t K, const float *Wp,
				   const float *b, size_t N, pgml_act act, float *y, size_t ldy, void *ws, pgml_err *err)
{
#ifdef PGML_X86
	panels_ctx	c;
	size_t		nt = (size_t) pgml_pool_size(pool),
				np = (N + 15) / 16,
				blocks;
	float	   *xt;
#endif

	if (T > PGML_PANEL_T)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "panel linear takes at most %d rows", PGML_PANEL_T);
	if (T == 0 || N == 0)
		return PGML_OK;
	pthread_once(&once, choose);
#ifdef PGML_X86
	if (use_avx512 && K > 0)	/* K = 0 (y = act(b)): the reference */
	{
		if (ws == NULL)
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "panel linear needs a workspace");
		xt = (float *) (((uintptr_t) ws + 63) & ~(uintptr_t) 63);
		/* rows in blocks of 16, each transposed on its own: block t0 / 16 at xt + t0 · K, [K][TP] */
		for (size_t t0 = 0; t0 < T; t0 += 16)
		{
			size_t		n = T - t0 < 16 ? T - t0 : 16;

			transpose_x(x + t0 * ldx, ldx, n, K, (int) ((n + 3) / 4 * 4), xt + t0 * K);
		}
		c.xt = xt;
		c.Wp = Wp;
		c.b = b;
		c.K = K;
		c.N = N;
		c.T = T;
		c.ldy = ldy;
		c.act = act;
		c.y = y;
		/* four parts per worker, as the other small-batch kernels: a late worker's share is taken */
		blocks = nt <= 1 || T * N * K < 64 * 64 * 64 ? 1 : 4 * nt;
		c.block = (np + blocks - 1) / blocks;
		if (blocks == 1)
		{
			panels_range(&c, 0, 1, 0);
			return PGML_OK;
		}
		return pgml_parallel_for(pool, (np + c.block - 1) / c.block, 1, panels_range, &c, err);
	}
#else
	(void) pool;
	(void) ws;
#endif
	return pgml_linear_panels_ref(x, ldx, T, K, Wp, b, N, act, y, ldy, err);
}

/* ---------------------------------------------------------------------------------------------------
 * Attention
 * ------------------------------------------------------------------------------------------------- */

typedef struct attn_ctx
{
	size_t		batch,
				seq,
				heads,
				dh,
				ld,
				ldc;
	const float *q,
			   *k,
			   *v,
			   *bias;
	const uint8_t *mask;
	float	   *ctx,
			   *scratch;
	float		scale;
	size_t		bias_seq;		/* bias is heads × bias_seq × bias_seq; the top-left seq × seq block is used */
} attn_ctx;

static void
attn_range(void *arg, size_t begin, size_t end, int worker)
{
	const attn_ctx *c = arg;
	size_t		S = c->seq;
	size_t		Sp = (S + 15) / 16 * 16;
	float	   *sc = c->scratch + (size_t) worker * Sp * (S + c->dh);
	float	   *kt = sc + Sp * S;
	bool		fast = false;

#ifdef PGML_X86
	fast = use_avx512 && c->dh % 16 == 0 && c->dh <= 64;
#endif
	(void) kt;

	for (size_t item = begin; item < end; item++)
	{
		size_t		bi = item / c->heads,
					h = item % c->heads;
		const uint8_t *mask = c->mask + bi * S;
		size_t		off = bi * S * c->ld + h * c->dh;
		float	   *out = c->ctx + bi * S * c->ldc + h * c->dh;
		size_t		L = S,
					Lp;
		bool		holes = false;

		/* keys past the last real token contribute nothing: leave them out */
		while (L > 0 && mask[L - 1] == 0)
			L--;
		for (size_t j = 0; j < L && !holes; j++)
			holes = mask[j] == 0;
		if (L == 0)
		{
			for (size_t i = 0; i < S; i++)
				memset(out + i * c->ldc, 0, c->dh * sizeof(float));
			continue;
		}
		Lp = fast ? (L + 15) / 16 * 16 : L;
#ifdef PGML_X86
		if (fast)
			att_scores512(c->q + off, c->k + off, c->ld, S, L, c->dh, c->scale, kt, sc);
		else
#endif
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) S, (int) L, (int) c->dh, c->scale,
						c->q + off, (int) c->ld, c->k + off, (int) c->ld, 0.0f, sc, (int) L);
		for (size_t i = 0; i < S; i++)
		{
			float	   *row = sc + i * Lp;

			if (c->bias != NULL)
			{
				const float *br = c->bias + (h * c->bias_seq + i) * c->bias_seq;

				for (size_t j = 0; j < L; j++)
					row[j] += br[j];
			}
			if (holes)
				for (size_t j = 0; j < L; j++)
					if (mask[j] == 0)
						row[j] = -INFINITY;
			pgml_softmax(row, L);
		}
#ifdef PGML_X86
		if (fast)
			att_pv512(sc, Lp, c->v + off, c->ld, S, L, c->dh, out, c->ldc);
		else
#endif
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) S, (int) c->dh, (int) L, 1.0f, sc,
						(int) L, c->v + off, (int) c->ld, 0.0f, out, (int) c->ldc);
	}
}

size_t
pgml_attention_scratch(size_t seq, size_t dh)
{
	size_t		sp = (seq + 15) / 16 * 16,
				n;

	if (!pgml_add_size(seq, dh, &n) || !pgml_mul_size(n, sp, &n))
		return 0;
	return n;
}

pgml_status
pgml_attention(pgml_pool *pool, size_t batch, size_t seq, size_t heads, size_t dh, const float *q,
			   const float *k, const float *v, size_t ld, const uint8_t *mask, const float *bias, float *ctx,
			   size_t ldc, float *scratch, pgml_err *err)
{
	return pgml_attention_bias(pool, batch, seq, heads, dh, q, k, v, ld, mask, bias, seq, ctx, ldc, scratch, err);
}

pgml_status
pgml_attention_bias(pgml_pool *pool, size_t batch, size_t seq, size_t heads, size_t dh, const float *q,
					const float *k, const float *v, size_t ld, const uint8_t *mask, const float *bias,
					size_t bias_seq, float *ctx, size_t ldc, float *scratch, pgml_err *err)
{
	attn_ctx	c = {batch, seq, heads, dh, ld, ldc, q, k, v, bias, mask, ctx, scratch,
	(float) (1.0 / sqrt((double) dh)), bias_seq};

	if (bias != NULL && bias_seq < seq)
		return pgml_error(err, PGML_ERR_INTERNAL, "attention bias smaller than the sequence");
	if (seq > INT32_MAX || ld > INT32_MAX || ldc > INT32_MAX)
		return pgml_error(err, PGML_ERR_LIMIT, "attention too large");
	pthread_once(&once, choose);	/* before the workers read use_avx512 */
	return pgml_parallel_for(pool, batch * heads, 1, attn_range, &c, err);
}

void
pgml_rotary(float *x, size_t seq, size_t ld, size_t heads, size_t dh, size_t rot_dims, double base)
{
	size_t		half = rot_dims / 2;

	/* angles in float32 as torch computes them: inv_freq = 1 / base^(2i / rot_dims), theta = p · inv_freq */
	for (size_t p = 0; p < seq; p++)
		for (size_t i = 0; i < half; i++)
		{
			float		inv = 1.0f / powf((float) base, (float) (2 * i) / (float) rot_dims);
			float		theta = (float) p * inv;
			float		cs = cosf(theta),
						sn = sinf(theta);

			for (size_t h = 0; h < heads; h++)
			{
				float	   *r = x + p * ld + h * dh;
				float		a = r[i],
							b = r[i + half];

				r[i] = a * cs - b * sn;
				r[i + half] = b * cs + a * sn;
			}
		}
}

void
pgml_rotary_freqs(float *x, size_t seq, size_t ld, size_t heads, size_t dh, size_t rot_dims,
				  const float *inv_freq)
{
	size_t		half = rot_dims / 2;

	for (size_t p = 0; p < seq; p++)
		for (size_t i = 0; i < half; i++)
		{
			/* the angle rounded to float32 first, as torch's cos/sin caches are built */
			float		theta = (float) p * inv_freq[i];
			float		cs = cosf(theta),
						sn = sinf(theta);

			for (size_t h = 0; h < heads; h++)
			{
				float	   *r = x + p * ld + h * dh;
				float		a = r[i],
							b = r[i + half];

				r[i] = a * cs - b * sn;
				r[i + half] = b * cs + a * sn;
			}
		}
}
