/*
 * tensor.h — dtypes and the float32 kernels of the transformer models.
 *
 * Letters: T = tokens (batch × seq rows), K = input features, N = output features.
 * Matrices are row-major; linear-layer weights are [N, K] as PyTorch's nn.Linear stores them.
 * Every kernel has a plain C version; the public functions pick AVX-512 where CPUID says so.
 */
#ifndef PGML_TENSOR_H
#define PGML_TENSOR_H

#include "pgml/pgml.h"
#include "pgml/pool.h"

typedef enum pgml_dtype
{
	PGML_DTYPE_F32 = 0,
	PGML_DTYPE_F16,
	PGML_DTYPE_BF16,
	PGML_DTYPE_F64,
	PGML_DTYPE_I64,
	PGML_DTYPE_I32,
	PGML_DTYPE_I16,
	PGML_DTYPE_I8,
	PGML_DTYPE_U8,
	PGML_DTYPE_BOOL,
	PGML_DTYPE_F8_E4M3,
	PGML_DTYPE_F8_E5M2,
	PGML_DTYPE_U16,
	PGML_DTYPE_U32,
	PGML_DTYPE_U64,
} pgml_dtype;

/* The size of one element, and the safetensors name ("F32"); parse returns false for unknown names. */
size_t		pgml_dtype_size(pgml_dtype dt);
const char *pgml_dtype_name(pgml_dtype dt);
bool		pgml_dtype_parse(const char *name, pgml_dtype *out);

/* Conversions (src may be unaligned); f16 <-> f32 of one value are in pgml/distance.h. */
float		pgml_bf16_to_f32(uint16_t h);
uint16_t	pgml_f32_to_bf16(float f);	/* round to nearest even */
void		pgml_convert_to_f32(pgml_dtype dt, const void *src, float *dst, size_t n);	/* F32, F16, BF16 */

/* Activations applied in place. */
typedef enum pgml_act
{
	PGML_ACT_NONE = 0,
	PGML_ACT_GELU,				/* exact: 0.5 x (1 + erf(x / sqrt 2)), HF "gelu" */
	PGML_ACT_GELU_TANH,			/* HF "gelu_new", "gelu_pytorch_tanh" */
	PGML_ACT_RELU,
	PGML_ACT_SILU,
} pgml_act;

/* Parses an HF activation name ("gelu", "gelu_new", "relu", "silu", "swish", ...). */
bool		pgml_act_parse(const char *name, pgml_act *out);

/*
 * y[T, N] (row stride ldy) = act(x[T, K] (row stride ldx) · W[N, K]ᵀ + b[N]); b may be NULL. Split across
 * the pool by rows (many rows) or by output columns (few rows), each part one single-threaded sgemm.
 */
pgml_status pgml_linear(pgml_pool *pool, const float *x, size_t ldx, size_t T, size_t K, const float *W,
						const float *b, size_t N, pgml_act act, float *y, size_t ldy, pgml_err *err);

/*
 * Panels: W[N, K] repacked for few input rows (a sentence or a passage: up to PGML_PANEL_T). Panel p holds output rows
 * 16p .. 16p + 15 interleaved, Wp[p][k][j] = W[16p + j, k], K × 16 floats per panel (rows past N are
 * zero), so that a step over k reads one cache line of weights for 16 outputs. pgml_linear_panels
 * computes y[T, N] = act(x · Wᵀ + b) for T <= PGML_PANEL_T rows from them: each weight is read from
 * memory once, in order, and multiplied by up to 16 rows at once (more rows in blocks of 16 while the
 * panel is in cache), and no horizontal sums are needed. The layout is built at
 * load time and kept in the derived-weights file (pgml/derived.h), shared by every backend.
 */
#define PGML_PANEL_T 128
size_t		pgml_panels_floats(size_t N, size_t K);	/* ceil(N / 16) · 16 · K (0 on overflow) */

/* Packs the row-wise concatenation of nparts weights of [rows, K] each (N = nparts · rows) into out. */
void		pgml_panels_pack(const float *const *parts, size_t nparts, size_t rows, size_t K, float *out);

/* Workspace bytes pgml_linear_panels needs (x transposed), 0 when too large. */
size_t		pgml_linear_panels_ws_size(size_t T, size_t K);
pgml_status pgml_linear_panels(pgml_pool *pool, const float *x, size_t ldx, size_t T, size_t K, const float *Wp,
							   const float *b, size_t N, pgml_act act, float *y, size_t ldy, void *ws,
							   pgml_err *err);
pgml_status pgml_linear_panels_ref(const float *x, size_t ldx, size_t T, size_t K, const float *Wp,
								   const float *b, size_t N, pgml_act act, float *y, size_t ldy, pgml_err *err);

/*
 * int8 weights (quant.c): W[N, K] ≈ scale[n] · w[n, k], symmetric per output channel, packed for the
 * AVX-512 VNNI kernel. pgml_linear_q8 quantizes each row of x to uint8 with a zero point and computes
 * y[T, N] = act(x · Wᵀ + b) with int32 sums; without VNNI it runs the plain C reference (same results).
 */
typedef struct pgml_q8_weight
{
	int8_t	   *w;				/* packed: panels of 32 channels × Kp/4 groups × 128 bytes */
	float	   *scale;			/* [N rounded up to 32] */
	int32_t    *wsum;			/* Σ_k w[n, k], [N rounded up to 32] */
	size_t		N,
				K,
				Kp;				/* K rounded up to a multiple of 4 */
	bool		borrowed;		/* the buffers belong to someone else (pgml/derived.h): free only clears */
} pgml_q8_weight;

bool		pgml_q8_available(void);
pgml_status pgml_q8_quantize(const float *W, size_t N, size_t K, pgml_q8_weight *out, pgml_err *err);
void		pgml_q8_free(pgml_q8_weight *q);	/* frees the buffers (not q); NULL is fine */
pgml_status pgml_linear_q8(pgml_pool *pool, const float *x, size_t ldx, size_t T, const pgml_q8_weight *q,
						   const float *b, pgml_act act, float *y, size_t ldy, pgml_err *err);
/* pgml_linear_q8 with caller-provided workspace of pgml_linear_q8_ws_size(T, K) bytes (0: too large). */
size_t		pgml_linear_q8_ws_size(size_t T, size_t K);
pgml_status pgml_linear_q8_ws(pgml_pool *pool, const float *x, size_t ldx, size_t T, const pgml_q8_weight *q,
							  const float *b, pgml_act act, float *y, size_t ldy, void *ws, pgml_err *err);
pgml_status pgml_linear_q8_ref(const float *x, size_t ldx, size_t T, const pgml_q8_weight *q, const float *b,
							   pgml_act act, float *y, size_t ldy, pgml_err *err);

/* x[n] = act(x[n] + b[n]) (b may be NULL). */
void		pgml_bias_act(float *x, const float *b, size_t n, pgml_act act);
void		pgml_bias_act_ref(float *x, const float *b, size_t n, pgml_act act);	/* plain C */

/* x[T, n] = LayerNorm(x + r) (r may be NULL) with weight g and bias b (b may be NULL). */
void		pgml_add_layernorm(float *x, const float *r, size_t T, size_t n, const float *g, const float *b,
							   float eps);
void		pgml_add_layernorm_ref(float *x, const float *r, size_t T, size_t n, const float *g, const float *b,
								   float eps);

/* In-place softmax of x[n]; entries equal to -INFINITY get 0. */
void		pgml_softmax(float *x, size_t n);
void		pgml_softmax_ref(float *x, size_t n);

/* out[i] = silu(gate[i]) * up[i] (SwiGLU). */
void		pgml_swiglu(const float *gate, const float *up, float *out, size_t n);

/* out[i] = act(gate[i]) * up[i]: a gated linear unit with any activation (GELU: GeGLU). out may be up. */
void		pgml_glu(const float *gate, const float *up, float *out, size_t n, pgml_act act);
void		pgml_glu_ref(const float *gate, const float *up, float *out, size_t n, pgml_act act);	/* plain C */

/*
 * Multi-head self-attention on packed projections: q, k, v rows of T = batch × seq tokens with row
 * stride ld (element (t, h·dh + j)), output ctx[T, heads·dh] (stride ldc). mask is batch × seq (1 = real
 * token); bias, when not NULL, is heads × seq × seq added to the scores (MPNet's relative positions).
 * Scores are scaled by 1/sqrt(dh). Runs one (sequence, head) per pool item; scratch needs
 * pgml_pool_size(pool) × pgml_attention_scratch(seq, dh) floats.
 */
pgml_status pgml_attention(pgml_pool *pool, size_t batch, size_t seq, size_t heads, size_t dh,
						   const float *q, const float *k, const float *v, size_t ld, const uint8_t *mask,
						   const float *bias, float *ctx, size_t ldc, float *scratch, pgml_err *err);

/* pgml_attention with a bias of heads × bias_seq × bias_seq (bias_seq >= seq) whose top-left block is used. */
pgml_status pgml_attention_bias(pgml_pool *pool, size_t batch, size_t seq, size_t heads, size_t dh,
								const float *q, const float *k, const float *v, size_t ld, const uint8_t *mask,
								const float *bias, size_t bias_seq, float *ctx, size_t ldc, float *scratch,
								pgml_err *err);

/* Floats of attention scratch per pool worker (0 on overflow). */
size_t		pgml_attention_scratch(size_t seq, size_t dh);

/*
 * Rotary position embedding (GPT-NeoX "rotate half" layout) on x[seq, heads, dh] rows with row stride ld:
 * the first rot_dims dims of each head are rotated by position p with frequencies base^(-2i/rot_dims).
 */
void		pgml_rotary(float *x, size_t seq, size_t ld, size_t heads, size_t dh, size_t rot_dims, double base);

/*
 * pgml_rotary with caller-computed inverse frequencies inv_freq[rot_dims / 2] (for scaled variants such as
 * NTK): pair i at position p turns by the float32 angle p · inv_freq[i].
 */
void		pgml_rotary_freqs(float *x, size_t seq, size_t ld, size_t heads, size_t dh, size_t rot_dims,
							  const float *inv_freq);

#endif							/* PGML_TENSOR_H */
