/*
 * embed_bench — times pgml_encoder_forward on a model directory.
 *
 *   embed_bench DIR BATCH SEQ THREADS BLAS_THREADS SECONDS
 *
 * Prints one line: "sentences_per_s <v> ms_per_batch <v> cpu_ms_per_batch <v>" (CPU time of all threads per
 * batch: a machine-load-independent measure of work). Inputs are random ids, all real tokens (with
 * EMBED_VARLEN=1 in the environment: 8 to SEQ real tokens per sequence, right-padded). With DTYPE,
 * also " min_cos <v> mean_cos <v>": per-token cosine of the hidden states to the f32 model's.
 *
 * The model loads as pgml.embed loads it: with its derived-weights file in DIR/.pgml (written by the first
 * run, mapped by later ones; pgml/derived.h). EMBED_NO_DERIVED=1 loads without it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "pgml/derived.h"
#include "pgml/pool.h"
#include "pgml/transformer.h"

/* CPU seconds of the whole process (all threads): less sensitive than wall time to a busy machine. */
static double
cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	pgml_encoder *enc = NULL;
	pgml_pool  *pool = NULL;
	pgml_err	err;
	size_t		B,
				S,
				H;
	int			threads,
				blas;
	double		secs,
				c0,
				t0,
				el;
	int32_t    *ids;
	uint8_t    *mask;
	float	   *out;
	int			iters = 0;
	pgml_encoder_opts opts = {0};
	char		derived[4096];

	if (argc < 7)
	{
		fprintf(stderr, "usage: embed_bench DIR BATCH SEQ THREADS BLAS_THREADS SECONDS [DTYPE]\n");
		return 2;
	}
	B = (size_t) atol(argv[2]);
	S = (size_t) atol(argv[3]);
	threads = atoi(argv[4]);
	blas = atoi(argv[5]);
	secs = atof(argv[6]);
	if (argc > 7)
		opts.dtype = argv[7];
	pgml_blas_set_threads(blas);
	snprintf(derived, sizeof(derived), "%s/" PGML_DERIVED_DIRNAME, argv[1]);
	if (getenv("EMBED_NO_DERIVED") == NULL)
		opts.derived_dir = derived;
	if (pgml_encoder_load(argv[1], &opts, &enc, &err) != PGML_OK || pgml_pool_new(threads, &pool, &err) != PGML_OK)
	{
		fprintf(stderr, "embed_bench: %s\n", err.msg);
		return 1;
	}
	H = pgml_encoder_get_info(enc)->hidden_size;
	ids = malloc(B * S * sizeof(int32_t));
	mask = malloc(B * S);
	out = malloc(B * S * H * sizeof(float));
	srand(1);
	for (size_t i = 0; i < B * S; i++)
	{
		ids[i] = 1000 + rand() % 20000;
		mask[i] = 1;
	}
	/* EMBED_VARLEN=1: sequence b has 8 + rand % (S - 7) real tokens, right-padded (as tokenizers pad) */
	if (getenv("EMBED_VARLEN") != NULL && S > 8)
		for (size_t b = 0; b < B; b++)
		{
			size_t		n = 8 + (size_t) rand() % (S - 7);

			for (size_t s = n; s < S; s++)
			{
				ids[b * S + s] = 0;
				mask[b * S + s] = 0;
			}
		}
	/* warm up */
	if (pgml_encoder_forward(enc, pool, B, S, ids, mask, NULL, out, &err) != PGML_OK)
	{
		fprintf(stderr, "embed_bench: %s\n", err.msg);
		return 1;
	}
	c0 = cpu_now();
	t0 = now();
	do
	{
		if (pgml_encoder_forward(enc, pool, B, S, ids, mask, NULL, out, &err) != PGML_OK)
			return 1;
		iters++;
		el = now() - t0;
	} while (el < secs || iters < 3);
	printf("sentences_per_s %.2f ms_per_batch %.3f cpu_ms_per_batch %.3f", iters * B / el, el / iters * 1000,
		   (cpu_now() - c0) / iters * 1000);
	if (opts.dtype != NULL)
	{
		/* accuracy against f32 on the same input: per-token cosine, smallest and mean */
		pgml_encoder *ref = NULL;
		float	   *out2 = malloc(B * S * H * sizeof(float));
		double		minc = 1,
					sumc = 0;

		if (pgml_encoder_load(argv[1], NULL, &ref, &err) != PGML_OK ||
			pgml_encoder_forward(ref, pool, B, S, ids, mask, NULL, out2, &err) != PGML_OK ||
			pgml_encoder_forward(enc, pool, B, S, ids, mask, NULL, out, &err) != PGML_OK)
			return 1;
		size_t		nreal = 0;

		for (size_t t = 0; t < B * S; t++)
		{
			double		d = 0,
						n1 = 0,
						n2 = 0,
						c;

			for (size_t i = 0; i < H; i++)
			{
				d += (double) out[t * H + i] * out2[t * H + i];
				n1 += (double) out[t * H + i] * out[t * H + i];
				n2 += (double) out2[t * H + i] * out2[t * H + i];
			}
			if (!mask[t])
				continue;		/* padding: zero in both */
			c = d / sqrt(n1 * n2);
			minc = c < minc ? c : minc;
			sumc += c;
			nreal++;
		}
		printf(" min_cos %.6f mean_cos %.6f", minc, sumc / (double) nreal);
		free(out2);
		pgml_encoder_free(ref);
	}
	printf("\n");
	free(ids);
	free(mask);
	free(out);
	pgml_pool_free(pool);
	pgml_encoder_free(enc);
	return 0;
}
