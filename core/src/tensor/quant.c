/*
 * quant.c — int8 linear layers (see pgml/tensor.h): weights quantized per output channel, activations per
 * token, products on AVX-512 VNNI.
 *
 * Weights: W[n, k] ≈ sw[n] · qw[n, k] with qw in [-127, 127] and sw[n] = max_k |W[n, k]| / 127.
 * Activations: x[t, k] ≈ sx[t] · (ux[t, k] − zx[t]) with ux in [0, 255] (asymmetric, per row, at every
 * call), which is what VNNI's vpdpbusd (unsigned × signed bytes) multiplies; the zero point is taken
 * back with the per-channel sums of qw:  Σ_k (ux − zx)·qw = Σ_k ux·qw − zx · Σ_k qw.  Sums stay far
 * inside int32 (K ≤ 2^20).
 *
 * Packing: panels of 32 output channels; within a panel, for each group of 4 k, the 4 bytes of channel
 * j lie at (j / 16) · 64 + (j % 16) · 4: one 64-byte load feeds 16 int32 lanes with 4 products each. The
 * micro-kernel keeps 12 rows × 32 channels of int32 sums in 24 zmm registers and broadcasts 4 bytes of
 * each row per step. Without VNNI the plain C reference does the same integer arithmetic.
 */
#include "pgml/tensor.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define PGML_X86 1
#include <immintrin.h>
#endif

#define QNR 32
#define QMR 12

static size_t
round4(size_t k)
{
	return (k + 3) / 4 * 4;
}

bool
pgml_q8_available(void)
{
#ifdef PGML_X86
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
		__builtin_cpu_supports("avx512vnni");
#else
	return false;
#endif
}

void
pgml_q8_free(pgml_q8_weight *q)
{
	if (q == NULL)
		return;
	if (!q->borrowed)
	{
		pgml_free(q->w);
		pgml_free(q->scale);
		pgml_free(q->wsum);
	}
	memset(q, 0, sizeof(*q));
}

pgml_status
pgml_q8_quantize(const float *W, size_t N, size_t K, pgml_q8_weight *q, pgml_err *err)
{
	size_t		Kp = round4(K),
				np = (N + QNR - 1) / QNR,
				bytes;

	memset(q, 0, sizeof(*q));
	if (K == 0 || N == 0 || K > ((size_t) 1 << 20) || !pgml_mul_size(np * QNR, Kp, &bytes))
		return pgml_error(err, PGML_ERR_LIMIT, "matrix of %zu x %zu cannot be quantized", N, K);
	q->w = pgml_calloc(bytes, 1);
	q->scale = pgml_calloc(np * QNR, sizeof(float));
	q->wsum = pgml_calloc(np * QNR, sizeof(int32_t));
	if (q->w == NULL || q->scale == NULL || q->wsum == NULL)
	{
		pgml_q8_free(q);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	q->N = N;
	q->K = K;
	q->Kp = Kp;
	for (size_t n = 0; n < N; n++)
	{
		const float *row = W + n * K;
		float		mx = 0;
		size_t		p = n / QNR,
					j = n % QNR;
		int8_t	   *panel = q->w + p * QNR * Kp;
		int32_t		sum = 0;

		for (size_t k = 0; k < K; k++)
			mx = fabsf(row[k]) > mx ? fabsf(row[k]) : mx;
		q->scale[n] = mx / 127.0f;
		for (size_t k = 0; k < K; k++)
		{
			long		v = mx > 0 ? lrintf(row[k] * (127.0f / mx)) : 0;

			v = v > 127 ? 127 : v < -127 ? -127 : v;
			panel[(k / 4) * (QNR * 4) + (j / 16) * 64 + (j % 16) * 4 + k % 4] = (int8_t) v;
			sum += (int32_t) v;
		}
		q->wsum[n] = sum;
	}
	return PGML_OK;
}

/* The weight byte of (n, k) in the packed layout. */
static inline int8_t
qw_at(const pgml_q8_weight *q, size_t n, size_t k)
{
	size_t		j = n % QNR;

	return q->w[(n / QNR) * QNR * q->Kp + (k / 4) * (QNR * 4) + (j / 16) * 64 + (j % 16) * 4 + k % 4];
}

/*
 * Quantizes rows [r0, r1) of x into ux (rows of Kp bytes) with a scale sx and zero point zx per row:
 * x ≈ sx · (ux − zx), ux in [0, 255], the range [min(x, 0), max(x, 0)] spread over 255 steps (GELU
 * outputs, mostly positive, keep twice the resolution of a symmetric scheme). Padding bytes are zx.
 */
static void
quantize_rows(const float *x, size_t ldx, size_t K, size_t Kp, size_t r0, size_t r1, uint8_t *ux, float *sx,
			  int32_t *zx)
{
	for (size_t r = r0; r < r1; r++)
	{
		const float *row = x + r * ldx;
		uint8_t    *out = ux + r * Kp;
		float		lo = 0,
					hi = 0,
					inv;
		long		z;

		for (size_t k = 0; k < K; k++)
		{
			lo = row[k] < lo ? row[k] : lo;
			hi = row[k] > hi ? row[k] : hi;
		}
		sx[r] = (hi - lo) / 255.0f;
		inv = hi > lo ? 255.0f / (hi - lo) : 0.0f;
		z = lrintf(-lo * inv);
		z = z < 0 ? 0 : z > 255 ? 255 : z;
		zx[r] = (int32_t) z;
		for (size_t k = 0; k < K; k++)
		{
			long		v = lrintf(row[k] * inv) + z;

			v = v > 255 ? 255 : v < 0 ? 0 : v;
			out[k] = (uint8_t) v;
		}
		for (size_t k = K; k < Kp; k++)
			out[k] = (uint8_t) z;
	}
}

/* y = sx · sw · (acc − zx · wsum) + b, then the activation, for one row segment [c0, c1). */
static void
finish_row(const int32_t *acc, float sx, int32_t zx, const pgml_q8_weight *q, const float *b, size_t c0,
		   size_t c1, pgml_act act, float *y)
{
	for (size_t n = c0; n < c1; n++)
		y[n - c0] = sx * q->scale[n] * (float) (acc[n - c0] - zx * q->wsum[n]) + (b ? b[n] : 0.0f);
	if (act != PGML_ACT_NONE)
		pgml_bias_act(y, NULL, c1 - c0, act);
}

pgml_status
pgml_linear_q8_ref(const float *x, size_t ldx, size_t T, const pgml_q8_weight *q, const float *b, pgml_act act,
				   float *y, size_t ldy, pgml_err *err)
{
	uint8_t    *ux = pgml_malloc(T * q->Kp + 1);
	float	   *sx = pgml_malloc(T * sizeof(float) + 1);
	int32_t    *zx = pgml_malloc(T * sizeof(int32_t) + 1);
	int32_t    *acc = pgml_malloc(q->N * sizeof(int32_t) + 1);

	if (ux == NULL || sx == NULL || zx == NULL || acc == NULL)
	{
		pgml_free(ux);
		pgml_free(sx);
		pgml_free(zx);
		pgml_free(acc);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	quantize_rows(x, ldx, q->K, q->Kp, 0, T, ux, sx, zx);
	for (size_t t = 0; t < T; t++)
	{
		for (size_t n = 0; n < q->N; n++)
		{
			int32_t		s = 0;

			for (size_t k = 0; k < q->K; k++)
				s += (int32_t) ux[t * q->Kp + k] * qw_at(q, n, k);
			acc[n] = s;
		}
		finish_row(acc, sx[t], zx[t], q, b, 0, q->N, act, y + t * ldy);
	}
	pgml_free(ux);
	pgml_free(sx);
	pgml_free(zx);
	pgml_free(acc);
	return PGML_OK;
}

#ifdef PGML_X86
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

#define QDECL(r) __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = _mm512_setzero_si512()
#define QSTEP(r) do { __m512i a_; int32_t v_; memcpy(&v_, ux + (r) * Kp + kq * 4, 4); a_ = _mm512_set1_epi32(v_); \
		c##r##0 = _mm512_dpbusd_epi32(c##r##0, a_, b0); c##r##1 = _mm512_dpbusd_epi32(c##r##1, a_, b1); } while (0)
#define QSTORE(r) do { _mm512_storeu_si512((void *) (acc + (r) * QNR), c##r##0); \
		_mm512_storeu_si512((void *) (acc + (r) * QNR + 16), c##r##1); } while (0)

/* acc[12][32] = ux[12 rows of Kp] · panel. */
VNNI static void
qkernel12(const uint8_t *ux, size_t Kp, const int8_t *panel, int32_t *acc)
{
	QDECL(0);
	QDECL(1);
	QDECL(2);
	QDECL(3);
	QDECL(4);
	QDECL(5);
	QDECL(6);
	QDECL(7);
	QDECL(8);
	QDECL(9);
	QDECL(10);
	QDECL(11);

	for (size_t kq = 0; kq < Kp / 4; kq++)
	{
		__m512i		b0 = _mm512_loadu_si512((const void *) (panel + kq * 128));
		__m512i		b1 = _mm512_loadu_si512((const void *) (panel + kq * 128 + 64));

		QSTEP(0);
		QSTEP(1);
		QSTEP(2);
		QSTEP(3);
		QSTEP(4);
		QSTEP(5);
		QSTEP(6);
		QSTEP(7);
		QSTEP(8);
		QSTEP(9);
		QSTEP(10);
		QSTEP(11);
	}
	QSTORE(0);
	QSTORE(1);
	QSTORE(2);
	QSTORE(3);
	QSTORE(4);
	QSTORE(5);
	QSTORE(6);
	QSTORE(7);
	QSTORE(8);
	QSTORE(9);
	QSTORE(10);
	QSTORE(11);
}

VNNI static void
qkernel4(const uint8_t *ux, size_t Kp, const int8_t *panel, int32_t *acc)
{
	QDECL(0);
	QDECL(1);
	QDECL(2);
	QDECL(3);

	for (size_t kq = 0; kq < Kp / 4; kq++)
	{
		__m512i		b0 = _mm512_loadu_si512((const void *) (panel + kq * 128));
		__m512i		b1 = _mm512_loadu_si512((const void *) (panel + kq * 128 + 64));

		QSTEP(0);
		QSTEP(1);
		QSTEP(2);
		QSTEP(3);
	}
	QSTORE(0);
	QSTORE(1);
	QSTORE(2);
	QSTORE(3);
}

VNNI static void
qkernel1(const uint8_t *ux, size_t Kp, const int8_t *panel, int32_t *acc)
{
	QDECL(0);

	for (size_t kq = 0; kq < Kp / 4; kq++)
	{
		__m512i		b0 = _mm512_loadu_si512((const void *) (panel + kq * 128));
		__m512i		b1 = _mm512_loadu_si512((const void *) (panel + kq * 128 + 64));

		QSTEP(0);
	}
	QSTORE(0);
}

/* quantize_rows with AVX-512 (cvtps_epi32 rounds to nearest even like lrintf). */
VNNI static void
quantize_rows512(const float *x, size_t ldx, size_t K, size_t Kp, size_t r0, size_t r1, uint8_t *ux, float *sx,
				 int32_t *zx)
{
	for (size_t r = r0; r < r1; r++)
	{
		const float *row = x + r * ldx;
		uint8_t    *out = ux + r * Kp;
		__m512		vlo = _mm512_setzero_ps(),
					vhi = _mm512_setzero_ps(),
					vinv;
		__m512i		vz;
		float		lo,
					hi,
					inv;
		long		z;

		for (size_t k = 0; k < K; k += 16)
		{
			__mmask16	m = K - k >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (K - k)) - 1);
			__m512		v = _mm512_maskz_loadu_ps(m, row + k);

			vlo = _mm512_min_ps(vlo, v);
			vhi = _mm512_max_ps(vhi, v);
		}
		lo = _mm512_reduce_min_ps(vlo);
		hi = _mm512_reduce_max_ps(vhi);
		sx[r] = (hi - lo) / 255.0f;
		inv = hi > lo ? 255.0f / (hi - lo) : 0.0f;
		z = lrintf(-lo * inv);
		z = z < 0 ? 0 : z > 255 ? 255 : z;
		zx[r] = (int32_t) z;
		vinv = _mm512_set1_ps(inv);
		vz = _mm512_set1_epi32((int) z);
		for (size_t k = 0; k < K; k += 16)
		{
			__mmask16	m = K - k >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (K - k)) - 1);
			__m512i		v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + k), vinv));

			v = _mm512_add_epi32(v, vz);
			v = _mm512_min_epi32(_mm512_max_epi32(v, _mm512_setzero_si512()), _mm512_set1_epi32(255));
			_mm_mask_storeu_epi8(out + k, m, _mm512_cvtepi32_epi8(v));
		}
		for (size_t k = K; k < Kp; k++)
			out[k] = (uint8_t) z;
	}
}

/* finish_row for a full or partial panel with AVX-512. */
VNNI static void
finish_row512(const int32_t *acc, float sx, int32_t zx, const pgml_q8_weight *q, const float *b, size_t c0,
			  size_t c1, float *y)
{
	for (size_t n = c0; n < c1; n += 16)
	{
		__mmask16	m = c1 - n >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (c1 - n)) - 1);
		__m512i		a = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, acc + (n - c0)),
										 _mm512_mullo_epi32(_mm512_maskz_loadu_epi32(m, q->wsum + n),
															_mm512_set1_epi32(zx)));
		__m512		v = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(sx), _mm512_maskz_loadu_ps(m, q->scale + n)),
									  _mm512_cvtepi32_ps(a));

		if (b != NULL)
			v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, b + n));
		_mm512_mask_storeu_ps(y + (n - c0), m, v);
	}
}

/* Rows [r0, r1) × panels [p0, p1) of y from the quantized rows. */
VNNI static void
q8_block(const uint8_t *ux, const float *sx, const int32_t *zx, const pgml_q8_weight *q, size_t r0, size_t r1, size_t p0, size_t p1,
		 const float *b, pgml_act act, float *y, size_t ldy)
{
	int32_t		acc[QMR * QNR];
	const size_t MB = 48;

	for (size_t rb = r0; rb < r1; rb += MB)
	{
		size_t		re = rb + MB < r1 ? rb + MB : r1;

		for (size_t p = p0; p < p1; p++)
		{
			const int8_t *panel = q->w + p * QNR * q->Kp;
			size_t		c0 = p * QNR,
						c1 = c0 + QNR < q->N ? c0 + QNR : q->N;

			for (size_t r = rb; r < re;)
			{
				size_t		n = re - r >= QMR ? QMR : re - r >= 4 ? 4 : 1;

				if (n == QMR)
					qkernel12(ux + r * q->Kp, q->Kp, panel, acc);
				else if (n == 4)
					qkernel4(ux + r * q->Kp, q->Kp, panel, acc);
				else
					qkernel1(ux + r * q->Kp, q->Kp, panel, acc);
				for (size_t i = 0; i < n; i++)
					finish_row512(acc + i * QNR, sx[r + i], zx[r + i], q, b, c0, c1, y + (r + i) * ldy + c0);
				r += n;
			}
		}
		if (act != PGML_ACT_NONE)
			for (size_t r = rb; r < re; r++)
				pgml_bias_act(y + r * ldy + p0 * QNR, NULL, (p1 * QNR < q->N ? p1 * QNR : q->N) - p0 * QNR, act);
	}
}
#endif

typedef struct q8_ctx
{
	const float *x,
			   *b;
	size_t		ldx,
				T,
				ldy,
				block;
	const pgml_q8_weight *q;
	pgml_act	act;
	float	   *y;
	uint8_t    *ux;
	float	   *sx;
	int32_t    *zx;
	bool		by_rows;
} q8_ctx;

static void
q8_quant_range(void *arg, size_t begin, size_t end, int worker)
{
	const q8_ctx *c = arg;

	(void) worker;
#ifdef PGML_X86
	quantize_rows512(c->x, c->ldx, c->q->K, c->q->Kp, begin, end, c->ux, c->sx, c->zx);
#else
	quantize_rows(c->x, c->ldx, c->q->K, c->q->Kp, begin, end, c->ux, c->sx, c->zx);
#endif
}

static void
q8_range(void *arg, size_t begin, size_t end, int worker)
{
#ifdef PGML_X86
	const q8_ctx *c = arg;
	size_t		np = (c->q->N + QNR - 1) / QNR;

	(void) worker;
	for (size_t i = begin; i < end; i++)
	{
		size_t		lo = i * c->block;

		if (c->by_rows)
			q8_block(c->ux, c->sx, c->zx, c->q, lo, lo + c->block < c->T ? lo + c->block : c->T, 0, np, c->b, c->act,
					 c->y, c->ldy);
		else
			q8_block(c->ux, c->sx, c->zx, c->q, 0, c->T, lo, lo + c->block < np ? lo + c->block : np, c->b, c->act,
					 c->y, c->ldy);
	}
#else
	(void) arg;
	(void) begin;
	(void) end;
	(void) worker;
#endif
}

size_t
pgml_linear_q8_ws_size(size_t T, size_t K)
{
	size_t		n;

	/* ux: T × round4(K) bytes; sx, zx: T × 4 bytes each (aligned after ux) */
	if (!pgml_mul_size(T, round4(K), &n) || !pgml_add_size(n, 64, &n) || !pgml_add_size(n, T * 8, &n) ||
		T > SIZE_MAX / 16)
		return 0;
	return n;
}

pgml_status
pgml_linear_q8(pgml_pool *pool, const float *x, size_t ldx, size_t T, const pgml_q8_weight *q, const float *b,
			   pgml_act act, float *y, size_t ldy, pgml_err *err)
{
	return pgml_linear_q8_ws(pool, x, ldx, T, q, b, act, y, ldy, NULL, err);
}

pgml_status
pgml_linear_q8_ws(pgml_pool *pool, const float *x, size_t ldx, size_t T, const pgml_q8_weight *q, const float *b,
				  pgml_act act, float *y, size_t ldy, void *ws, pgml_err *err)
{
	q8_ctx		c = {x, b, ldx, T, ldy, 0, q, act, y, NULL, NULL, NULL, true};
	size_t		nt = (size_t) pgml_pool_size(pool);
	size_t		np = (q->N + QNR - 1) / QNR;
	size_t		bytes,
				parts,
				off;
	void	   *own_ws = NULL;
	pgml_status rc;

	if (T == 0)
		return PGML_OK;
	if (!pgml_q8_available())
		return pgml_linear_q8_ref(x, ldx, T, q, b, act, y, ldy, err);
	bytes = pgml_linear_q8_ws_size(T, q->K);
	if (bytes == 0)
		return pgml_error(err, PGML_ERR_LIMIT, "matrix too large");
	if (ws == NULL)
	{
		ws = own_ws = pgml_malloc(bytes);
		if (ws == NULL)
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	off = (T * q->Kp + 63) / 64 * 64;
	c.ux = ws;
	c.sx = (float *) ((char *) ws + off);
	c.zx = (int32_t *) ((char *) ws + off + T * sizeof(float));
	rc = pgml_parallel_for(pool, T, 16, q8_quant_range, &c, err);
	if (rc == PGML_OK)
	{
		if (nt <= 1 || T * q->N * q->K < 32 * 32 * 32)
		{
			c.block = T;
			parts = 1;
		}
		else if (T >= 16 * nt)
		{
			size_t		per = (T + 4 * nt - 1) / (4 * nt);

			c.block = (per + QMR - 1) / QMR * QMR;
			parts = (T + c.block - 1) / c.block;
		}
		else
		{
			c.by_rows = false;
			c.block = (np + nt - 1) / nt;
			parts = (np + c.block - 1) / c.block;
		}
		rc = pgml_parallel_for(pool, parts, 1, q8_range, &c, err);
	}
	pgml_free(own_ws);
	return rc;
}
