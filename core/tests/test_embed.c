/*
 * test_embed.c — sentence embeddings against sentence-transformers' own outputs.
 *
 * The fixtures (tools/make_embed_fixtures.py) are tiny sentence-transformers models saved by
 * SentenceTransformer.save() — tokenizers trained with the tokenizers library, encoders built with
 * transformers' config classes — and the embeddings SentenceTransformer.encode gave for a corpus under
 * several kwargs (prompts, prompt names, normalize_embeddings, truncate_dim, batch sizes, every pooling
 * mode). The real all-MiniLM-L6-v2 is compared too when its files are present (PGML_MINILM_DIR, or the
 * Hugging Face cache of the user running the tests: tools/deps.sh --python puts it there).
 */
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgml/embed.h"
#include "pgml/json.h"

static const char *
fixture_root(void)
{
	static const char *const dirs[] = {"tests/fixtures/embed", "core/tests/fixtures/embed"};
	struct stat st;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode))
			return dirs[i];
	return NULL;
}

static char *
fixture_dir(const char *model)
{
	const char *root = fixture_root();

	return root ? pgml_asprintf("%s/%s", root, model) : NULL;
}

/* Fills opts from a case's kwargs (the strings point into kwargs). */
static void
opts_from_kwargs(const json_t *kwargs, pgml_embed_opts *opts)
{
	const json_t *v;

	pgml_embed_opts_init(opts);
	if ((v = json_object_get(kwargs, "prompt")) != NULL)
		opts->prompt = json_string_value(v);
	if ((v = json_object_get(kwargs, "prompt_name")) != NULL)
		opts->prompt_name = json_string_value(v);
	if ((v = json_object_get(kwargs, "normalize_embeddings")) != NULL)
		opts->normalize = json_is_true(v);
	if ((v = json_object_get(kwargs, "truncate_dim")) != NULL)
		opts->truncate_dim = (size_t) json_integer_value(v);
	if ((v = json_object_get(kwargs, "batch_size")) != NULL)
		opts->batch_size = (size_t) json_integer_value(v);
}

typedef struct compare_result
{
	size_t		rows;
	double		max_abs;
	double		min_cos;
} compare_result;

/* Runs every case of dir/expected.json (or `expected` when given) through the embedder. */
static void
check_cases(const pgml_embedder *e, const char *expected_path, pgml_pool *pool, double tol, double min_cos,
			compare_result *res)
{
	json_t	   *doc = NULL,
			   *cases;
	pgml_err	err;
	size_t		c;

	memset(res, 0, sizeof(*res));
	res->min_cos = 1;
	if (pgml_json_load_file(expected_path, 64u << 20, &doc, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "%s: %s", expected_path, err.msg);
		return;
	}
	cases = json_object_get(doc, "cases");
	for (c = 0; c < json_array_size(cases); c++)
	{
		json_t	   *cs = json_array_get(cases, c);
		json_t	   *inputs = json_object_get(cs, "inputs");
		json_t	   *expect = json_object_get(cs, "embeddings");
		size_t		n = json_array_size(inputs),
					dim = 0,
					i,
					j;
		const char **texts = pgml_calloc(n, sizeof(char *));
		size_t	   *lens = pgml_calloc(n, sizeof(size_t));
		pgml_embed_opts opts;
		float	   *out;
		pgml_status rc;
		char	   *kw = pgml_json_dumps(json_object_get(cs, "kwargs"));

		opts_from_kwargs(json_object_get(cs, "kwargs"), &opts);
		for (i = 0; i < n; i++)
		{
			texts[i] = json_string_value(json_array_get(inputs, i));
			lens[i] = json_string_length(json_array_get(inputs, i));
		}
		rc = pgml_embedder_out_dim(e, &opts, &dim, &err);
		CHECK_INT(rc, PGML_OK);
		CHECK_INT(dim, json_array_size(json_array_get(expect, 0)));
		out = pgml_calloc(n * dim + 1, sizeof(float));
		rc = pgml_embedder_embed(e, pool, texts, lens, n, &opts, out, &err);
		if (rc != PGML_OK)
			test_fail(__FILE__, __LINE__, "%s %s: %s", expected_path, kw, err.msg);
		for (i = 0; rc == PGML_OK && i < n; i++)
		{
			const json_t *row = json_array_get(expect, i);
			double		dot = 0,
						na = 0,
						nb = 0,
						worst = 0,
						cosv;

			for (j = 0; j < dim; j++)
			{
				double		a = out[i * dim + j],
							b = json_number_value(json_array_get(row, j));

				dot += a * b;
				na += a * a;
				nb += b * b;
				if (fabs(a - b) > worst)
					worst = fabs(a - b);
			}
			cosv = (na == 0 && nb == 0) ? 1 : dot / sqrt(na * nb);
			if (worst > res->max_abs)
				res->max_abs = worst;
			if (cosv < res->min_cos)
				res->min_cos = cosv;
			res->rows++;
			if (worst > tol || cosv < min_cos)
				test_fail(__FILE__, __LINE__, "%s %s input %zu (\"%.40s\"): max |diff| %.3g, cosine %.7f",
						  expected_path, kw, i, texts[i], worst, cosv);
		}
		pgml_free(kw);
		pgml_free(out);
		pgml_free(texts);
		pgml_free(lens);
	}
	json_decref(doc);
}

static void
check_model(const char *model, const char *pooling, size_t dim, size_t max_seq)
{
	char	   *dir = fixture_dir(model);
	char	   *expected;
	pgml_embedder *e = NULL;
	pgml_err	err;
	pgml_status rc;
	pgml_pool  *pool = NULL;
	compare_result res;

	REQUIRE(dir != NULL);
	rc = pgml_embedder_load(dir, NULL, &e, &err);
	if (rc != PGML_OK)
		test_fail(__FILE__, __LINE__, "load %s: %s (%s)", dir, err.msg, err.detail);
	REQUIRE(rc == PGML_OK);
	CHECK_STR(pgml_embedder_get_info(e)->pooling, pooling);
	CHECK_INT(pgml_embedder_get_info(e)->dim, dim);
	CHECK_INT(pgml_embedder_get_info(e)->max_seq_length, max_seq);
	REQUIRE(pgml_pool_new(2, &pool, &err) == PGML_OK);
	expected = pgml_asprintf("%s/expected.json", dir);
	check_cases(e, expected, pool, 1e-4, 0.9999, &res);
	CHECK(res.rows > 0);
	pgml_free(expected);
	pgml_pool_free(pool);
	pgml_embedder_free(e);
	pgml_free(dir);
}

TEST(embed_tiny_bert_mean_normalize)
{
	check_model("tiny-bert-mean", "mean", 32, 48);
}

TEST(embed_tiny_roberta_cls_prompts)
{
	check_model("tiny-roberta-cls", "cls", 32, 40);
}

TEST(embed_tiny_bert_every_pooling_without_prompt)
{
	check_model("tiny-bert-multi", "max+mean_sqrt_len+weightedmean+lasttoken", 128, 48);
}

/* gte-v1.5 architecture ("new": rope with NTK scaling, GeGLU), CLS pooling and Normalize as gte-base-en-v1.5 */
TEST(embed_tiny_gte_cls_normalize)
{
	check_model("tiny-gte-cls", "cls", 32, 48);
}

/* The real all-MiniLM-L6-v2 on the whole corpus (>= 200 sentences), when its files are here. */
static char *
find_minilm(void)
{
	const char *env = getenv("PGML_MINILM_DIR");
	const char *home = getenv("HOME");
	char	   *snaps;
	DIR		   *d;
	struct dirent *de;
	char	   *found = NULL;

	if (env != NULL && env[0])
		return pgml_strdup(env);
	if (home == NULL)
		return NULL;
	snaps = pgml_asprintf("%s/.cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots", home);
	d = opendir(snaps);
	while (d != NULL && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
		{
			found = pgml_asprintf("%s/%s", snaps, de->d_name);
			break;
		}
	if (d != NULL)
		closedir(d);
	pgml_free(snaps);
	return found;
}

TEST(embed_real_minilm_matches_sentence_transformers)
{
	char	   *dir = find_minilm();
	char	   *expected;
	pgml_embedder *e = NULL;
	pgml_err	err;
	pgml_pool  *pool = NULL;
	compare_result res;

	if (dir == NULL)
	{
		printf("    (all-MiniLM-L6-v2 not installed: tools/deps.sh --python; checked the tiny models only)\n");
		return;
	}
	if (pgml_embedder_load(dir, NULL, &e, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "load %s: %s", dir, err.msg);
		pgml_free(dir);
		return;
	}
	CHECK_INT(pgml_embedder_get_info(e)->dim, 384);
	CHECK_INT(pgml_embedder_get_info(e)->max_seq_length, 256);
	CHECK(pgml_embedder_get_info(e)->normalize);
	REQUIRE(pgml_pool_new(2, &pool, &err) == PGML_OK);
	expected = pgml_asprintf("%s/minilm/expected.json", fixture_root());
	check_cases(e, expected, pool, 1e-4, 0.9999, &res);
	CHECK(res.rows >= 200);
	printf("    all-MiniLM-L6-v2: %zu sentences, max |diff| %.2g, min cosine %.8f\n", res.rows, res.max_abs,
		   res.min_cos);
	pgml_free(expected);
	pgml_pool_free(pool);
	pgml_embedder_free(e);
	pgml_free(dir);
}

/* ---------------------------------------------------------------------------------------------------
 * Options and bad inputs
 * ------------------------------------------------------------------------------------------------- */

static pgml_embedder *
load_fixture(const char *model)
{
	char	   *dir = fixture_dir(model);
	pgml_embedder *e = NULL;
	pgml_err	err;

	if (dir == NULL || pgml_embedder_load(dir, NULL, &e, &err) != PGML_OK)
		e = NULL;
	pgml_free(dir);
	return e;
}

TEST(embed_options_errors)
{
	pgml_embedder *e = load_fixture("tiny-roberta-cls");
	pgml_embed_opts opts;
	pgml_err	err;
	size_t		dim;
	float		out[64];
	const char *texts[] = {"hello"};
	size_t		lens[] = {5};

	REQUIRE(e != NULL);
	pgml_embed_opts_init(&opts);
	opts.truncate_dim = 33;
	CHECK_INT(pgml_embedder_out_dim(e, &opts, &dim, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err.msg, "truncate_dim 33") != NULL);
	opts.truncate_dim = 0;
	opts.prompt_name = "nope";
	CHECK_INT(pgml_embedder_embed(e, NULL, texts, lens, 1, &opts, out, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err.msg, "\"nope\"") != NULL);
	/* invalid UTF-8 is the tokenizer's error, with its SQLSTATE */
	opts.prompt_name = NULL;
	texts[0] = "bad \xff byte";
	lens[0] = strlen(texts[0]);
	CHECK_INT(pgml_embedder_embed(e, NULL, texts, lens, 1, &opts, out, &err), PGML_ERR_DATA);
	/* zero inputs: nothing to do */
	CHECK_INT(pgml_embedder_embed(e, NULL, texts, lens, 0, &opts, out, &err), PGML_OK);
	pgml_embedder_free(e);
}

/* Copies the files of a fixture model into a fresh temporary directory. */
static char *
copy_fixture(const char *model)
{
	char		tmpl[] = "/tmp/pgml-embed-test-XXXXXX";
	char	   *src = fixture_dir(model);
	char	   *cmd;
	char	   *dst;
	int			rc;

	if (src == NULL || mkdtemp(tmpl) == NULL)
		return NULL;
	dst = pgml_strdup(tmpl);
	cmd = pgml_asprintf("cp -R '%s/.' '%s/'", src, dst);
	rc = system(cmd);
	pgml_free(cmd);
	pgml_free(src);
	if (rc != 0)
	{
		pgml_free(dst);
		return NULL;
	}
	return dst;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char	   *path = pgml_asprintf("%s/%s", dir, name);
	FILE	   *f = fopen(path, "w");

	if (f != NULL)
	{
		fputs(text, f);
		fclose(f);
	}
	pgml_free(path);
}

static void
remove_dir(char *dir)
{
	char	   *cmd = pgml_asprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	pgml_free(cmd);
	pgml_free(dir);
}

static pgml_status
load_dir(const char *dir, pgml_err *err)
{
	pgml_embedder *e = NULL;
	pgml_status rc = pgml_embedder_load(dir, NULL, &e, err);

	CHECK(rc == PGML_OK || e == NULL);
	pgml_embedder_free(e);
	return rc;
}

TEST(embed_bad_model_directories)
{
	static const struct
	{
		const char *file;
		const char *text;
		pgml_status expect;
		const char *in_msg;
	}			cases[] = {
		{"modules.json", "[{\"idx\":0,\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
			"{\"idx\":1,\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"}]",
		PGML_ERR_NOT_SUPPORTED, "Dense"},
		{"modules.json", "{}", PGML_ERR_CORRUPT, "modules.json"},
		{"modules.json", "[{\"idx\":0,\"path\":\"../../etc\",\"type\":\"sentence_transformers.models.Pooling\"}]",
		PGML_ERR_CORRUPT, "relative"},
		{"modules.json", "[1, 2", PGML_ERR_DATA, "modules.json"},
		{"1_Pooling/config.json", "{\"word_embedding_dimension\": 32}", PGML_ERR_CORRUPT, "no pooling mode"},
		{"1_Pooling/config.json", "{\"word_embedding_dimension\": 48, \"pooling_mode_cls_token\": true}",
		PGML_ERR_CORRUPT, "hidden size"},
		{"1_Pooling/config.json", "[]", PGML_ERR_CORRUPT, "JSON object"},
		{"sentence_bert_config.json", "{\"max_seq_length\": \"long\"}", PGML_ERR_INVALID_ARGUMENT, NULL},
		{"config_sentence_transformers.json", "{\"prompts\": {\"q\": 5}}", PGML_ERR_CORRUPT, "prompt"},
		{"tokenizer.json", NULL, PGML_ERR_NOT_SUPPORTED, "tokenizer.json"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *dir = copy_fixture("tiny-roberta-cls");
		pgml_err	err;
		pgml_status rc;

		REQUIRE(dir != NULL);
		if (cases[i].text != NULL)
			write_file(dir, cases[i].file, cases[i].text);
		else
		{
			char	   *p = pgml_asprintf("%s/%s", dir, cases[i].file);

			unlink(p);
			pgml_free(p);
		}
		pgml_err_clear(&err);
		rc = load_dir(dir, &err);
		if (rc == PGML_OK || (cases[i].expect != PGML_ERR_INVALID_ARGUMENT && rc != cases[i].expect) ||
			(cases[i].in_msg && strstr(err.msg, cases[i].in_msg) == NULL))
			test_fail(__FILE__, __LINE__, "case %zu (%s): status %s, message \"%s\"", i, cases[i].file,
					  pgml_status_name(rc), err.msg);
		remove_dir(dir);
	}
}

/* Without modules.json, sentence-transformers uses mean pooling and no normalization. */
TEST(embed_plain_transformers_directory_means)
{
	char	   *dir = copy_fixture("tiny-bert-mean");
	char	   *p;
	pgml_embedder *e = NULL;
	pgml_err	err;

	REQUIRE(dir != NULL);
	p = pgml_asprintf("%s/modules.json", dir);
	unlink(p);
	pgml_free(p);
	REQUIRE(pgml_embedder_load(dir, NULL, &e, &err) == PGML_OK);
	CHECK_STR(pgml_embedder_get_info(e)->pooling, "mean");
	CHECK(!pgml_embedder_get_info(e)->normalize);
	/* max_seq_length comes from sentence_bert_config.json still */
	CHECK_INT(pgml_embedder_get_info(e)->max_seq_length, 48);
	pgml_embedder_free(e);
	remove_dir(dir);
}
