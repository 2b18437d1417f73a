/*
 * pgml-embed — sentence embeddings from the command line, without a server (libpgml only).
 *
 *   build/core/pgml-embed [options] MODEL < lines.txt
 *
 * MODEL is a model directory, or a Hugging Face id resolved through the hub cache (and downloaded when
 * missing, unless --offline). Each input line is one text; each output line is its embedding as a JSON
 * array. Options:
 *   --prompt TEXT       prepended to every text          --prompt-name NAME   one of the model's prompts
 *   --normalize         L2-normalize the embeddings      --truncate-dim N     keep the first N dimensions
 *   --batch-size N      texts per forward pass (32)      --threads N          worker threads (0 = per core)
 *   --dtype float32|int8                                 --revision REV       model revision (hub ids)
 *   --cache-dir DIR     hub cache (default: huggingface_hub's)   --endpoint URL   hub endpoint
 *   --offline           never download                   --info               print the model's settings
 *   --no-derived        keep converted weights (f16 → f32, int8) on the heap instead of writing them
 *                       once to MODEL/.pgml and mapping them (see pgml/derived.h)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pgml/derived.h"
#include "pgml/embed.h"
#include "pgml/hub.h"
#include "pgml/pool.h"

static int
usage(void)
{
	fprintf(stderr, "usage: pgml-embed [--prompt T] [--prompt-name N] [--normalize] [--truncate-dim N] "
			"[--batch-size N] [--threads N] [--dtype float32|int8] [--revision R] [--cache-dir D] "
			"[--endpoint URL] [--offline] [--info] [--no-derived] MODEL < lines\n");
	return 2;
}

static int
fail(const char *what, const pgml_err *err)
{
	fprintf(stderr, "pgml-embed: %s: %s\n", what, err->msg);
	if (err->detail[0])
		fprintf(stderr, "DETAIL: %s\n", err->detail);
	if (err->hint[0])
		fprintf(stderr, "HINT: %s\n", err->hint);
	return 1;
}

/* Resolves a hub id to a directory (a directory path is used as is). */
static int
resolve(const char *model, const pgml_hub_config *cfg, const char *revision, char **dir)
{
	struct stat st;
	pgml_err	err;
	char	  **more = NULL;
	size_t		n_more = 0;
	char	   *again = NULL;

	if (stat(model, &st) == 0 && S_ISDIR(st.st_mode))
	{
		*dir = pgml_strdup(model);
		return 0;
	}
	if (pgml_hub_resolve(cfg, model, revision, pgml_embedder_files, pgml_embedder_n_files, dir, &err) != PGML_OK)
		return fail(model, &err);
	if (pgml_embedder_module_files(*dir, &more, &n_more, &err) != PGML_OK)
		return fail(model, &err);
	if (n_more > 0 &&
		pgml_hub_resolve(cfg, model, revision, (const char *const *) more, n_more, &again, &err) != PGML_OK)
	{
		pgml_embedder_free_files(more, n_more);
		return fail(model, &err);
	}
	pgml_embedder_free_files(more, n_more);
	pgml_free(again);
	return 0;
}

static void
log_hook(pgml_log_level level, const char *msg, void *state)
{
	(void) state;
	if (level >= PGML_LOG_NOTICE)
		fprintf(stderr, "%s\n", msg);
}

int
main(int argc, char **argv)
{
	pgml_embed_opts opts;
	pgml_encoder_opts eo = {0};
	pgml_hub_config cfg = {0};
	const char *revision = NULL,
			   *model = NULL;
	int			threads = 0,
				info = 0,
				no_derived = 0,
				i,
				rc = 0;
	char	   *dir = NULL,
			   *derived_dir = NULL;
	pgml_embedder *e = NULL;
	pgml_pool  *pool = NULL;
	pgml_err	err;
	char	  **texts = NULL;
	size_t	   *lens = NULL,
				n = 0,
				cap = 0,
				dim;
	char	   *line = NULL;
	size_t		line_cap = 0;
	ssize_t		len;
	float	   *out = NULL;

	pgml_embed_opts_init(&opts);
	cfg.endpoint = "https://huggingface.co";
	cfg.token = getenv("HF_TOKEN");
	for (i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--normalize") == 0)
			opts.normalize = true;
		else if (strcmp(a, "--offline") == 0)
			cfg.offline = true;
		else if (strcmp(a, "--info") == 0)
			info = 1;
		else if (strcmp(a, "--no-derived") == 0)
			no_derived = 1;
		else if (v == NULL && a[0] == '-' && a[1] == '-')
			return usage();
		else if (strcmp(a, "--prompt") == 0)
			opts.prompt = argv[++i];
		else if (strcmp(a, "--prompt-name") == 0)
			opts.prompt_name = argv[++i];
		else if (strcmp(a, "--truncate-dim") == 0)
			opts.truncate_dim = (size_t) strtoul(argv[++i], NULL, 10);
		else if (strcmp(a, "--batch-size") == 0)
			opts.batch_size = (size_t) strtoul(argv[++i], NULL, 10);
		else if (strcmp(a, "--threads") == 0)
			threads = atoi(argv[++i]);
		else if (strcmp(a, "--dtype") == 0)
			eo.dtype = argv[++i];
		else if (strcmp(a, "--revision") == 0)
			revision = argv[++i];
		else if (strcmp(a, "--cache-dir") == 0)
			cfg.cache_dir = argv[++i];
		else if (strcmp(a, "--endpoint") == 0)
			cfg.endpoint = argv[++i];
		else if (a[0] == '-' || model != NULL)
			return usage();
		else
			model = a;
	}
	if (model == NULL)
		return usage();
	pgml_set_log_hook(log_hook, NULL);
	if (cfg.cache_dir == NULL)
		cfg.cache_dir = pgml_hub_default_cache_dir();
	if (resolve(model, &cfg, revision, &dir) != 0)
		return 1;
	if (!no_derived)
	{
		derived_dir = malloc(strlen(dir) + sizeof(PGML_DERIVED_DIRNAME) + 1);
		if (derived_dir == NULL)
			return 1;
		sprintf(derived_dir, "%s/%s", dir, PGML_DERIVED_DIRNAME);
		eo.derived_dir = derived_dir;
	}
	if (pgml_embedder_load(dir, &eo, &e, &err) != PGML_OK)
		return fail("load", &err);
	if (pgml_embedder_out_dim(e, &opts, &dim, &err) != PGML_OK)
		return fail("options", &err);
	if (info)
	{
		const pgml_embedder_info *in = pgml_embedder_get_info(e);

		printf("{\"model_type\": \"%s\", \"dim\": %zu, \"pooling\": \"%s\", \"normalize\": %s, \"max_seq_length\": %zu, "
			   "\"layers\": %zu, \"hidden_size\": %zu, \"derived_heap_bytes\": %zu, \"derived_mapped_bytes\": %zu, "
			   "\"derived_reused\": %s, \"panels\": %s}\n",
			   in->encoder->model_type, in->dim, in->pooling, in->normalize ? "true" : "false", in->max_seq_length,
			   in->encoder->num_layers, in->encoder->hidden_size, in->encoder->derived_heap_bytes,
			   in->encoder->derived_mapped_bytes, in->encoder->derived_reused ? "true" : "false",
			   in->encoder->panels ? "true" : "false");
		goto done;
	}
	if (pgml_pool_new(threads, &pool, &err) != PGML_OK)
		return fail("threads", &err);
	while ((len = getline(&line, &line_cap, stdin)) >= 0)
	{
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (n == cap)
		{
			cap = cap ? cap * 2 : 64;
			texts = realloc(texts, cap * sizeof(char *));
			lens = realloc(lens, cap * sizeof(size_t));
			if (texts == NULL || lens == NULL)
			{
				fprintf(stderr, "pgml-embed: out of memory\n");
				return 1;
			}
		}
		texts[n] = strdup(line);
		lens[n] = (size_t) len;
		n++;
	}
	out = malloc((n ? n : 1) * dim * sizeof(float));
	if (out == NULL)
	{
		fprintf(stderr, "pgml-embed: out of memory\n");
		return 1;
	}
	if (pgml_embedder_embed(e, pool, (const char *const *) texts, lens, n, &opts, out, &err) != PGML_OK)
		rc = fail("embed", &err);
	for (size_t r = 0; rc == 0 && r < n; r++)
	{
		putchar('[');
		for (size_t d = 0; d < dim; d++)
			printf("%s%.9g", d ? "," : "", out[r * dim + d]);
		puts("]");
	}
	for (size_t r = 0; r < n; r++)
		free(texts[r]);
	free(texts);
	free(lens);
	free(line);
	free(out);
done:
	pgml_embedder_free(e);
	pgml_pool_free(pool);
	pgml_free(dir);
	free(derived_dir);
	return rc;
}
