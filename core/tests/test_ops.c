/* Tests for ops.c: each dispatched kernel against its plain C reference, linear and attention against naive loops. */
#include "test.h"

#include <stdlib.h>

#include "pgml/pool.h"
#include "pgml/tensor.h"

static uint64_t rng_state = 88172645463325252ull;

static float
frand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (float) ((double) (rng_state >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

static void
fill(float *x, size_t n, float scale)
{
	for (size_t i = 0; i < n; i++)
		x[i] = frand() * scale;
}

TEST(ops_bias_act_matches_reference)
{
	static const pgml_act acts[] = {PGML_ACT_NONE, PGML_ACT_GELU, PGML_ACT_GELU_TANH, PGML_ACT_RELU, PGML_ACT_SILU};
	float		x[203],
				a[203],
				b[203],
				bias[203];

	for (size_t k = 0; k < sizeof(acts) / sizeof(acts[0]); k++)
		for (size_t n = 1; n <= 203; n += 17)
		{
			fill(x, n, 8.0f);
			fill(bias, n, 1.0f);
			x[0] = -30.0f;
			memcpy(a, x, sizeof(x));
			memcpy(b, x, sizeof(x));
			pgml_bias_act(a, bias, n, acts[k]);
			pgml_bias_act_ref(b, bias, n, acts[k]);
			for (size_t i = 0; i < n; i++)
				CHECK_NEAR(a[i], b[i], 1e-6);
		}
	/* exact GELU values */
	x[0] = 1.0f;
	x[1] = -1.0f;
	pgml_bias_act(x, NULL, 2, PGML_ACT_GELU);
	CHECK_NEAR(x[0], 0.8413447460685429, 1e-6);
	CHECK_NEAR(x[1], -0.15865525393145707, 1e-6);
}

TEST(ops_layernorm_matches_reference)
{
	float		x[5 * 100],
				r[5 * 100],
				a[5 * 100],
				b[5 * 100],
				g[100],
				be[100];

	for (size_t n = 1; n <= 100; n += 33)
	{
		fill(x, 5 * n, 3.0f);
		fill(r, 5 * n, 3.0f);
		fill(g, n, 1.0f);
		fill(be, n, 1.0f);
		memcpy(a, x, sizeof(x));
		memcpy(b, x, sizeof(x));
		pgml_add_layernorm(a, r, 5, n, g, be, 1e-5f);
		pgml_add_layernorm_ref(b, r, 5, n, g, be, 1e-5f);
		for (size_t i = 0; i < 5 * n; i++)
			CHECK_NEAR(a[i], b[i], 1e-5);
		memcpy(a, x, sizeof(x));
		memcpy(b, x, sizeof(x));
		pgml_add_layernorm(a, NULL, 5, n, g, NULL, 1e-12f);
		pgml_add_layernorm_ref(b, NULL, 5, n, g, NULL, 1e-12f);
		for (size_t i = 0; i < 5 * n; i++)
			CHECK_NEAR(a[i], b[i], 1e-5);
	}
}

TEST(ops_softmax_matches_reference)
{
	float		a[130],
				b[130];

	for (size_t n = 1; n <= 130; n += 13)
	{
		fill(a, n, 20.0f);
		if (n > 3)
			a[2] = -INFINITY;
		memcpy(b, a, sizeof(a));
		pgml_softmax(a, n);
		pgml_softmax_ref(b, n);
		for (size_t i = 0; i < n; i++)
			CHECK_NEAR(a[i], b[i], 1e-6);
		if (n > 3)
			CHECK(a[2] == 0.0f);
	}
	for (size_t i = 0; i < 5; i++)
		a[i] = -INFINITY;
	pgml_softmax(a, 5);
	for (size_t i = 0; i < 5; i++)
		CHECK(a[i] == 0.0f);
}

TEST(ops_linear_matches_naive)
{
	/*
	 * T <= 16 takes a small-batch kernel: the packed one for K <= 512 (every padded width 4, 8, 12, 16;
	 * K tails), the 4 × 4 one above (N not a multiple of 4; K in chunks of 1024, with a tail in the last);
	 * larger T sgemm. Odd shapes use a row stride wider than K.
	 */
	static const size_t shapes[][3] = {{1, 8, 5}, {7, 33, 17}, {200, 64, 96}, {3, 128, 300}, {1, 384, 384},
	{13, 100, 37}, {16, 17, 6}, {5, 1536, 385}, {17, 40, 9}, {4, 512, 70}, {8, 500, 129}, {12, 513, 33},
	{9, 384, 1152}, {14, 384, 1536}, {14, 1536, 384}, {2, 1, 3}, {3, 2100, 40}, {16, 3072, 20}};
	pgml_pool  *pool = NULL;
	pgml_err	err;

	REQUIRE(pgml_pool_new(2, &pool, &err) == PGML_OK);
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		size_t		T = shapes[s][0],
					K = shapes[s][1],
					N = shapes[s][2];
		size_t		ldx = K + (s % 2 ? 5 : 0);
		float	   *x = malloc(T * ldx * sizeof(float)),
				   *W = malloc(N * K * sizeof(float)),
				   *b = malloc(N * sizeof(float)),
				   *y = malloc(T * (N + 3) * sizeof(float));

		fill(x, T * ldx, 1.0f);
		fill(W, N * K, 1.0f);
		fill(b, N, 1.0f);
		for (int p = 0; p < 2; p++)
		{
			CHECK_INT(pgml_linear(p ? pool : NULL, x, ldx, T, K, W, b, N, PGML_ACT_RELU, y, N + 3, &err), PGML_OK);
			for (size_t t = 0; t < T; t++)
				for (size_t n = 0; n < N; n++)
				{
					double		acc = b[n];

					for (size_t k = 0; k < K; k++)
						acc += (double) x[t * ldx + k] * W[n * K + k];
					CHECK_NEAR(y[t * (N + 3) + n], acc > 0 ? acc : 0, 1e-4);
				}
		}
		free(x);
		free(W);
		free(b);
		free(y);
	}
	pgml_pool_free(pool);
}

/*
 * Panels: pgml_linear_panels (and its plain C reference) against a double-precision loop over the
 * original weights, packed from one to three parts. Every padded width (T rounded to 4, 8, 12, 16), more
 * rows than 16 (blocks of 16 and a partial last block, up to PGML_PANEL_T), panels in several cache
 * groups (K = 9000: one panel a group; K = 64: the whole matrix), N with a partial last panel, K of 1 and with tails, wider row strides, every activation, with and
 * without a bias, no pool and pools of 2 and 3 (N split into parts of whole panels); columns past N in
 * y are never written.
 */
TEST(ops_linear_panels_matches_naive)
{
	static const size_t shapes[][4] = {	/* T, K, rows per part, parts */
		{1, 8, 5, 1}, {4, 33, 17, 1}, {16, 768, 256, 3}, {13, 100, 37, 1}, {16, 17, 6, 1}, {5, 1536, 385, 1},
		{8, 500, 129, 1}, {12, 513, 33, 1}, {16, 3072, 20, 1}, {3, 1, 3, 1}, {16, 64, 21, 3}, {9, 40, 16, 2},
		{2, 384, 1536, 1}, {7, 1000, 64, 2}, {17, 100, 40, 1}, {33, 768, 48, 2}, {64, 3072, 24, 1},
		{100, 64, 300, 1}, {128, 40, 17, 3}, {48, 9000, 33, 1}};
	static const pgml_act acts[] = {PGML_ACT_NONE, PGML_ACT_GELU, PGML_ACT_RELU, PGML_ACT_SILU, PGML_ACT_GELU_TANH};
	pgml_pool  *pools[3] = {NULL, NULL, NULL};
	pgml_err	err;

	REQUIRE(pgml_pool_new(2, &pools[1], &err) == PGML_OK);
	REQUIRE(pgml_pool_new(3, &pools[2], &err) == PGML_OK);
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		size_t		T = shapes[s][0],
					K = shapes[s][1],
					rows = shapes[s][2],
					nparts = shapes[s][3],
					N = rows * nparts,
					ldx = K + (s % 2 ? 5 : 0),
					ldy = N + 3;
		pgml_act	act = acts[s % 5];
		float	   *x = malloc(T * ldx * sizeof(float)),
				   *W = malloc(N * K * sizeof(float)),
				   *b = s % 3 == 2 ? NULL : malloc(N * sizeof(float)),
				   *Wp = malloc(pgml_panels_floats(N, K) * sizeof(float)),
				   *y = malloc(T * ldy * sizeof(float)),
				   *want = malloc(T * N * sizeof(float));
		void	   *ws = malloc(pgml_linear_panels_ws_size(T, K));
		const float *parts[3];

		REQUIRE(pgml_panels_floats(N, K) == (N + 15) / 16 * 16 * K);
		fill(x, T * ldx, 1.0f);
		fill(W, N * K, 0.5f);
		if (b != NULL)
			fill(b, N, 1.0f);
		for (size_t i = 0; i < nparts; i++)
			parts[i] = W + i * rows * K;
		pgml_panels_pack(parts, nparts, rows, K, Wp);
		for (size_t t = 0; t < T; t++)
			for (size_t n = 0; n < N; n++)
			{
				double		acc = b != NULL ? b[n] : 0;

				for (size_t k = 0; k < K; k++)
					acc += (double) x[t * ldx + k] * W[n * K + k];
				want[t * N + n] = (float) acc;
				pgml_bias_act_ref(&want[t * N + n], NULL, 1, act);
			}
		for (int p = 0; p < 4; p++)
		{
			for (size_t i = 0; i < T * ldy; i++)
				y[i] = 1234.0f;
			if (p == 3)
				CHECK_INT(pgml_linear_panels_ref(x, ldx, T, K, Wp, b, N, act, y, ldy, &err), PGML_OK);
			else
				CHECK_INT(pgml_linear_panels(pools[p], x, ldx, T, K, Wp, b, N, act, y, ldy, ws, &err), PGML_OK);
			for (size_t t = 0; t < T; t++)
			{
				for (size_t n = 0; n < N; n++)
					CHECK_NEAR(y[t * ldy + n], want[t * N + n], 2e-4);
				for (size_t n = N; n < ldy; n++)
					CHECK(y[t * ldy + n] == 1234.0f);
			}
		}
		free(x);
		free(W);
		free(b);
		free(Wp);
		free(y);
		free(want);
		free(ws);
	}
	/* limits: more rows than the kernel takes, sizes that overflow */
	{
		float		x[PGML_PANEL_T + 1],
					Wp[16],
					y[PGML_PANEL_T + 1];

		CHECK_INT(pgml_linear_panels(NULL, x, 1, PGML_PANEL_T + 1, 1, Wp, NULL, 1, PGML_ACT_NONE, y, 1, NULL, &err),
				  PGML_ERR_INVALID_ARGUMENT);
		CHECK_INT(pgml_linear_panels_ref(x, 1, PGML_PANEL_T + 1, 1, Wp, NULL, 1, PGML_ACT_NONE, y, 1, &err),
				  PGML_ERR_INVALID_ARGUMENT);
		CHECK_INT(pgml_linear_panels_ws_size(PGML_PANEL_T + 1, 16), 0);
		CHECK_INT(pgml_linear_panels(NULL, x, 1, 0, 1, Wp, NULL, 1, PGML_ACT_NONE, y, 1, NULL, &err), PGML_OK);
		/* K = 0: y = act(b) */
		{
			float		bias[3] = {-1.0f, 2.0f, 0.5f};

			CHECK_INT(pgml_linear_panels(pools[1], x, 1, 2, 0, Wp, bias, 3, PGML_ACT_RELU, y, 3, NULL, &err), PGML_OK);
			CHECK(y[0] == 0.0f && y[1] == 2.0f && y[2] == 0.5f && y[3] == 0.0f && y[4] == 2.0f && y[5] == 0.5f);
		}
		CHECK_INT(pgml_panels_floats(SIZE_MAX - 3, 2), 0);
		CHECK_INT(pgml_panels_floats(1 << 20, SIZE_MAX / 1000), 0);
		CHECK_INT(pgml_linear_panels_ws_size(16, SIZE_MAX / 32), 0);
		CHECK_INT(pgml_linear_panels_ws_size(33, 10), 3 * 10 * 16 * sizeof(float) + 64);
	}
	pgml_pool_free(pools[1]);
	pgml_pool_free(pools[2]);
}

/* Checks pgml_attention on B sequences of S tokens (padding, a hole) against a double-precision loop. */
static void
check_attention(size_t S, size_t nh, size_t dh)
{
	size_t		B = 3,
				H = nh * dh,
				ld = 3 * H;
	float	   *qkv = malloc(B * S * ld * sizeof(float));
	float	   *ctx = malloc(B * S * H * sizeof(float));
	float	   *bias = malloc(nh * S * S * sizeof(float));
	float	   *scratch = malloc(2 * pgml_attention_scratch(S, dh) * sizeof(float));
	double	   *sc = malloc(S * sizeof(double));
	uint8_t    *mask = malloc(B * S);
	pgml_pool  *pool = NULL;
	pgml_err	err;

	REQUIRE(pgml_pool_new(2, &pool, &err) == PGML_OK);
	fill(qkv, B * S * ld, 2.0f);
	fill(bias, nh * S * S, 1.0f);
	for (size_t i = 0; i < B * S; i++)
		mask[i] = (uint8_t) (i % S < (i / S == 1 ? 4 : S) && !(i / S == 2 && i % S == 3));	/* padding and a hole */
	for (int withbias = 0; withbias < 2; withbias++)
	{
		CHECK_INT(pgml_attention(pool, B, S, nh, dh, qkv, qkv + H, qkv + 2 * H, ld, mask, withbias ? bias : NULL,
								 ctx, H, scratch, &err), PGML_OK);
		for (size_t b = 0; b < B; b++)
			for (size_t h = 0; h < nh; h++)
				for (size_t i = 0; i < S; i++)
				{
					double		mx = -1e300,
								sum = 0;

					for (size_t j = 0; j < S; j++)
					{
						double		d = 0;

						for (size_t k = 0; k < dh; k++)
							d += (double) qkv[(b * S + i) * ld + h * dh + k] * qkv[(b * S + j) * ld + H + h * dh + k];
						sc[j] = d / sqrt((double) dh) + (withbias ? bias[(h * S + i) * S + j] : 0);
						if (mask[b * S + j] && sc[j] > mx)
							mx = sc[j];
					}
					for (size_t j = 0; j < S; j++)
					{
						sc[j] = mask[b * S + j] ? exp(sc[j] - mx) : 0;
						sum += sc[j];
					}
					for (size_t k = 0; k < dh; k++)
					{
						double		o = 0;

						for (size_t j = 0; j < S; j++)
							o += sc[j] / sum * qkv[(b * S + j) * ld + 2 * H + h * dh + k];
						CHECK_NEAR(ctx[(b * S + i) * H + h * dh + k], o, 1e-5);
					}
				}
	}
	pgml_pool_free(pool);
	free(qkv);
	free(ctx);
	free(bias);
	free(scratch);
	free(sc);
	free(mask);
}

TEST(ops_attention_matches_naive)
{
	check_attention(9, 2, 4);	/* OpenBLAS path */
	check_attention(9, 2, 32);	/* AVX-512 path, keys in one partial block */
	check_attention(21, 2, 64);
	check_attention(70, 3, 32);	/* full 4 x 64 score blocks and 8-row ctx blocks, with tails */
	check_attention(37, 2, 16);
	check_attention(13, 1, 48);
}

TEST(ops_dtype_conversions)
{
	pgml_dtype	dt;
	uint16_t	h[3] = {pgml_f32_to_bf16(1.0f), pgml_f32_to_bf16(-2.5f), pgml_f32_to_bf16(1.00390625f)};
	float		out[3];

	CHECK(pgml_dtype_parse("BF16", &dt) && dt == PGML_DTYPE_BF16);
	CHECK(!pgml_dtype_parse("bf16", &dt));
	CHECK_INT(pgml_dtype_size(PGML_DTYPE_I64), 8);
	CHECK_STR(pgml_dtype_name(PGML_DTYPE_F16), "F16");
	pgml_convert_to_f32(PGML_DTYPE_BF16, h, out, 3);
	CHECK(out[0] == 1.0f && out[1] == -2.5f);
	CHECK(out[2] == 1.0f);		/* halfway rounds to even */
	CHECK(pgml_bf16_to_f32(pgml_f32_to_bf16(1.01171875f)) == 1.015625f);
}

TEST(ops_rotary_rotates_pairs)
{
	float		x[2 * 8];

	for (int i = 0; i < 16; i++)
		x[i] = 1.0f;
	pgml_rotary(x, 2, 8, 2, 4, 4, 10000.0);
	/* position 0 is unchanged; position 1 pair 0 turns by 1 radian */
	CHECK_NEAR(x[0], 1.0, 1e-6);
	CHECK_NEAR(x[8], cos(1.0) - sin(1.0), 1e-6);
	CHECK_NEAR(x[10], cos(1.0) + sin(1.0), 1e-6);
	CHECK_NEAR(x[9], cos(0.01) - sin(0.01), 1e-6);
}

/* pgml_rotary_freqs with the plain 1 / base^(2i / d) table is pgml_rotary; with scaled ones, the angle is p · inv. */
TEST(ops_rotary_freqs)
{
	float		x[5 * 24],
				y[5 * 24],
				inv[4];

	fill(x, 5 * 24, 2.0f);
	memcpy(y, x, sizeof(x));
	for (int i = 0; i < 4; i++)
		inv[i] = 1.0f / powf(500.0f, (float) (2 * i) / 8.0f);
	/* 5 positions, 2 heads of 12 dims of which 8 rotate, row stride 24 */
	pgml_rotary(x, 5, 24, 2, 12, 8, 500.0);
	pgml_rotary_freqs(y, 5, 24, 2, 12, 8, inv);
	for (int i = 0; i < 5 * 24; i++)
		CHECK(x[i] == y[i]);

	/* an NTK-like table: pair 1 at position 3 turns by 3 · 0.3 radians, dims past rot_dims untouched */
	for (int i = 0; i < 16; i++)
		x[i] = (float) (i + 1);
	memcpy(y, x, 16 * sizeof(float));
	inv[0] = 0.5f;
	inv[1] = 0.3f;
	pgml_rotary_freqs(x, 4, 4, 1, 4, 4, inv);
	CHECK_NEAR(x[12 + 1], y[12 + 1] * cos(0.9) - y[12 + 3] * sin(0.9), 1e-6);
	CHECK_NEAR(x[12 + 3], y[12 + 3] * cos(0.9) + y[12 + 1] * sin(0.9), 1e-6);
	CHECK_NEAR(x[12 + 0], y[12 + 0] * cos(1.5) - y[12 + 2] * sin(1.5), 1e-6);
	CHECK(x[0] == y[0] && x[1] == y[1]);	/* position 0 */
}

/* act(gate) · up, vector and plain C; silu is pgml_swiglu */
TEST(ops_glu_matches_reference)
{
	static const pgml_act acts[] = {PGML_ACT_NONE, PGML_ACT_GELU, PGML_ACT_GELU_TANH, PGML_ACT_RELU, PGML_ACT_SILU};
	float		gate[203],
				up[203],
				a[203],
				b[203];

	for (size_t k = 0; k < sizeof(acts) / sizeof(acts[0]); k++)
		for (size_t n = 1; n <= 203; n += 17)
		{
			fill(gate, n, 8.0f);
			fill(up, n, 2.0f);
			gate[0] = -30.0f;
			pgml_glu(gate, up, a, n, acts[k]);
			pgml_glu_ref(gate, up, b, n, acts[k]);
			for (size_t i = 0; i < n; i++)
				CHECK_NEAR(a[i], b[i], 2e-6 * (1 + fabs(b[i])));
			if (acts[k] == PGML_ACT_SILU)
			{
				pgml_swiglu(gate, up, b, n);
				for (size_t i = 0; i < n; i++)
					CHECK_NEAR(a[i], b[i], 2e-6 * (1 + fabs(b[i])));
			}
		}
	/* exact GeGLU values; out may be up */
	gate[0] = 1.0f;
	gate[1] = -1.0f;
	up[0] = 2.0f;
	up[1] = 3.0f;
	pgml_glu(gate, up, up, 2, PGML_ACT_GELU);
	CHECK_NEAR(up[0], 2 * 0.8413447460685429, 2e-6);
	CHECK_NEAR(up[1], 3 * -0.15865525393145707, 2e-6);
}

TEST(ops_linear_q8_matches_reference_and_f32)
{
	static const size_t shapes[][3] = {{1, 8, 5}, {7, 33, 17}, {50, 64, 96}, {3, 130, 300}, {29, 384, 64}};
	pgml_pool  *pool = NULL;
	pgml_err	err;

	REQUIRE(pgml_pool_new(2, &pool, &err) == PGML_OK);
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		size_t		T = shapes[s][0],
					K = shapes[s][1],
					N = shapes[s][2];
		float	   *x = malloc(T * K * sizeof(float)),
				   *W = malloc(N * K * sizeof(float)),
				   *b = malloc(N * sizeof(float)),
				   *y = malloc(T * (N + 3) * sizeof(float)),
				   *yr = malloc(T * (N + 3) * sizeof(float)),
				   *yf = malloc(T * N * sizeof(float));
		pgml_q8_weight q;
		double		dot = 0,
					n1 = 0,
					n2 = 0;

		fill(x, T * K, 1.0f);
		fill(W, N * K, 1.0f);
		fill(b, N, 1.0f);
		REQUIRE(pgml_q8_quantize(W, N, K, &q, &err) == PGML_OK);
		CHECK_INT(pgml_linear_q8_ref(x, K, T, &q, b, PGML_ACT_GELU, yr, N + 3, &err), PGML_OK);
		CHECK_INT(pgml_linear(NULL, x, K, T, K, W, b, N, PGML_ACT_GELU, yf, N, &err), PGML_OK);
		for (int p = 0; p < 2; p++)
		{
			CHECK_INT(pgml_linear_q8(p ? pool : NULL, x, K, T, &q, b, PGML_ACT_GELU, y, N + 3, &err), PGML_OK);
			for (size_t t = 0; t < T; t++)
				for (size_t n = 0; n < N; n++)
					CHECK_NEAR(y[t * (N + 3) + n], yr[t * (N + 3) + n], 1e-5);
		}
		for (size_t t = 0; t < T; t++)
			for (size_t n = 0; n < N; n++)
			{
				double		a = yr[t * (N + 3) + n],
							f = yf[t * N + n];

				dot += a * f;
				n1 += a * a;
				n2 += f * f;
			}
		CHECK(dot / sqrt(n1 * n2) > 0.999);
		pgml_q8_free(&q);
		free(x);
		free(W);
		free(b);
		free(y);
		free(yr);
		free(yf);
	}
	pgml_q8_free(NULL);
	pgml_pool_free(pool);
}
