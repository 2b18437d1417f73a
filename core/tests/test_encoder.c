/*
 * Tests for the transformer encoders: every tiny model of core/tests/fixtures/models/ (built by
 * tools/make_tiny_models.py with transformers) must reproduce transformers' last_hidden_state
 * (tools/make_fixtures.py) within 1e-4 on real tokens; the real all-MiniLM-L6-v2 too when
 * PGML_MINILM_DIR points at it. Plus errors: bad config, unknown model type, bad ids, wrong shapes.
 */
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "pgml/json.h"
#include "pgml/pool.h"
#include "pgml/safetensors.h"
#include "pgml/transformer.h"

/* The fixture directory of model `name` (relative to core/ or to the repository root). */
static const char *
model_dir(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "tests/fixtures/models/%s", name);
	if (access(buf, F_OK) == 0)
		return buf;
	snprintf(buf, len, "core/tests/fixtures/models/%s", name);
	return buf;
}

typedef struct fixture_in
{
	size_t		batch,
				seq,
				hidden_size;
	int32_t    *ids;
	int32_t    *types;
	uint8_t    *mask;
	float	   *expect;
} fixture_in;

static void
fixture_in_free(fixture_in *f)
{
	free(f->ids);
	free(f->types);
	free(f->mask);
	free(f->expect);
}

static int
read_fixture(const char *path, fixture_in *f)
{
	json_t	   *doc = NULL;
	pgml_err	err;
	size_t		T;
	const json_t *types;

	memset(f, 0, sizeof(*f));
	if (pgml_json_load_file(path, 16 << 20, &doc, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "cannot load %s: %s", path, err.msg);
		return 0;
	}
	f->batch = json_integer_value(json_object_get(doc, "batch"));
	f->seq = json_integer_value(json_object_get(doc, "seq"));
	f->hidden_size = json_integer_value(json_object_get(doc, "hidden_size"));
	T = f->batch * f->seq;
	f->ids = calloc(T, sizeof(int32_t));
	f->mask = calloc(T, 1);
	f->expect = calloc(T * f->hidden_size, sizeof(float));
	types = json_object_get(doc, "type_ids");
	if (json_is_array(types))
		f->types = calloc(T, sizeof(int32_t));
	for (size_t t = 0; t < T; t++)
	{
		f->ids[t] = (int32_t) json_integer_value(json_array_get(json_object_get(doc, "ids"), t));
		f->mask[t] = (uint8_t) json_integer_value(json_array_get(json_object_get(doc, "mask"), t));
		if (f->types)
			f->types[t] = (int32_t) json_integer_value(json_array_get(types, t));
	}
	for (size_t i = 0; i < T * f->hidden_size; i++)
		f->expect[i] = (float) json_number_value(json_array_get(json_object_get(doc, "hidden"), i));
	json_decref(doc);
	return 1;
}

/*
 * Runs model dir on the fixture, returns max |ours - transformers| over real tokens (or -1); *min_cos gets
 * the smallest cosine between our and transformers' hidden state of a real token.
 */
/* Set by run_fixture_cos: the smallest cosine between mean-pooled sequence embeddings. */
static double pooled_min_cos;

static double
run_fixture_cos(const char *dir, const char *fixture, pgml_pool *pool, const char *dtype, double *min_cos)
{
	pgml_encoder *enc = NULL;
	pgml_encoder_opts opts = {.dtype = dtype};
	pgml_err	err;
	fixture_in	f;
	float	   *out;
	double		worst = 0;

	if (!read_fixture(fixture, &f))
		return -1;
	if (pgml_encoder_load(dir, &opts, &enc, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "load %s: %s (%s)", dir, err.msg, err.detail);
		fixture_in_free(&f);
		return -1;
	}
	CHECK_INT(pgml_encoder_get_info(enc)->hidden_size, f.hidden_size);
	out = calloc(f.batch * f.seq * f.hidden_size, sizeof(float));
	if (pgml_encoder_forward(enc, pool, f.batch, f.seq, f.ids, f.mask, f.types, out, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "forward %s: %s", dir, err.msg);
		worst = -1;
	}
	else
	{
		*min_cos = 1.0;
		for (size_t t = 0; t < f.batch * f.seq; t++)
			if (f.mask[t])
			{
				double		dot = 0,
							n1 = 0,
							n2 = 0,
							c;

				for (size_t i = 0; i < f.hidden_size; i++)
				{
					double		a = out[t * f.hidden_size + i],
								e = f.expect[t * f.hidden_size + i];
					double		d = fabs(a - e);

					if (!(d <= worst))
						worst = d;
					dot += a * e;
					n1 += a * a;
					n2 += e * e;
				}
				c = dot / sqrt(n1 * n2);
				if (!(c >= *min_cos))
					*min_cos = c;
			}
		/* mean pooling over real tokens, as sentence-transformers embeds: smallest cosine per sequence */
		pooled_min_cos = 1.0;
		for (size_t b = 0; b < f.batch; b++)
		{
			double		dot = 0,
						n1 = 0,
						n2 = 0,
						c;

			for (size_t i = 0; i < f.hidden_size; i++)
			{
				double		a = 0,
							e = 0;

				for (size_t t = b * f.seq; t < (b + 1) * f.seq; t++)
					if (f.mask[t])
					{
						a += out[t * f.hidden_size + i];
						e += f.expect[t * f.hidden_size + i];
					}
				dot += a * e;
				n1 += a * a;
				n2 += e * e;
			}
			c = dot / sqrt(n1 * n2);
			if (!(c >= pooled_min_cos))
				pooled_min_cos = c;
		}
	}
	free(out);
	pgml_encoder_free(enc);
	fixture_in_free(&f);
	return worst;
}

static double
run_fixture(const char *dir, const char *fixture, pgml_pool *pool, const char *dtype)
{
	double		c;

	return run_fixture_cos(dir, fixture, pool, dtype, &c);
}

static void
check_model(const char *name)
{
	char		dir[256],
				fx[300];
	pgml_pool  *pool = NULL;
	pgml_err	err;
	double		d1,
				d2;

	model_dir(name, dir, sizeof(dir));
	snprintf(fx, sizeof(fx), "%s/expected.json", dir);
	d1 = run_fixture(dir, fx, NULL, NULL);
	REQUIRE(pgml_pool_new(2, &pool, &err) == PGML_OK);
	d2 = run_fixture(dir, fx, pool, NULL);
	pgml_pool_free(pool);
	if (getenv("PGML_TEST_VERBOSE"))
		fprintf(stderr, "  %s: max abs diff %.3g (1 thread), %.3g (2 threads)\n", name, d1, d2);
	CHECK(d1 >= 0 && d1 <= 1e-4);
	CHECK(d2 >= 0 && d2 <= 1e-4);
}

/* int8 weights: every real token's hidden state within cosine 0.999 of transformers' f32 one. */
static void
check_model_int8(const char *name)
{
	char		dir[256],
				fx[300];
	pgml_pool  *pool = NULL;
	pgml_err	err;
	double		c1 = 0,
				c2 = 0,
				d;

	model_dir(name, dir, sizeof(dir));
	snprintf(fx, sizeof(fx), "%s/expected.json", dir);
	d = run_fixture_cos(dir, fx, NULL, "int8", &c1);
	REQUIRE(pgml_pool_new(2, &pool, &err) == PGML_OK);
	run_fixture_cos(dir, fx, pool, "int8", &c2);
	pgml_pool_free(pool);
	if (getenv("PGML_TEST_VERBOSE"))
		fprintf(stderr, "  %s int8: min cosine %.6f (1 thread), %.6f (2 threads), max abs diff %.3g\n", name, c1,
				c2, d);
	CHECK(d >= 0);
	CHECK(c1 >= 0.999);
	CHECK(c2 >= 0.999);
}

TEST(encoder_int8_close_to_transformers)
{
	static const char *const names[] = {"bert", "bert_gelu_new", "bert_f16", "roberta", "xlm_roberta",
	"distilbert", "electra", "mpnet", "nomic_bert", "gte_new", NULL};

	for (int i = 0; names[i] != NULL; i++)
		check_model_int8(names[i]);
}

TEST(encoder_bert_matches_transformers) { check_model("bert"); }
TEST(encoder_bert_gelu_new_matches_transformers) { check_model("bert_gelu_new"); }
TEST(encoder_bert_f16_matches_transformers) { check_model("bert_f16"); }
TEST(encoder_bert_bf16_matches_transformers) { check_model("bert_bf16"); }
TEST(encoder_roberta_prefixed_matches_transformers) { check_model("roberta"); }
TEST(encoder_xlm_roberta_sharded_matches_transformers) { check_model("xlm_roberta"); }
TEST(encoder_distilbert_matches_transformers) { check_model("distilbert"); }
TEST(encoder_electra_matches_transformers) { check_model("electra"); }
TEST(encoder_mpnet_matches_transformers) { check_model("mpnet"); }
TEST(encoder_nomic_bert_matches_reference) { check_model("nomic_bert"); }
TEST(encoder_gte_new_matches_reference) { check_model("gte_new"); }

TEST(encoder_minilm_real_model)
{
	const char *dir = getenv("PGML_MINILM_DIR");
	char		fx[256];
	pgml_pool  *pool = NULL;
	pgml_err	err;
	double		d;

	if (dir == NULL || dir[0] == '\0')
		return;					/* skipped: set PGML_MINILM_DIR to the all-MiniLM-L6-v2 directory */
	model_dir("minilm_expected.json", fx, sizeof(fx));
	REQUIRE(pgml_pool_new(2, &pool, &err) == PGML_OK);
	d = run_fixture(dir, fx, pool, NULL);
	if (getenv("PGML_TEST_VERBOSE"))
		fprintf(stderr, "  minilm: max abs diff %.3g\n", d);
	CHECK(d >= 0 && d <= 1e-4);
	{
		double		c = 0;

		run_fixture_cos(dir, fx, pool, "int8", &c);
		if (getenv("PGML_TEST_VERBOSE"))
			fprintf(stderr, "  minilm int8: min token cosine %.6f, min mean-pooled cosine %.6f\n", c,
					pooled_min_cos);
		CHECK(c >= 0.99);
		CHECK(pooled_min_cos >= 0.99);
	}
	pgml_pool_free(pool);
}

/* Writes text to dir/name. */
static void
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char		path[512];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return;
	fwrite(data, 1, len, f);
	fclose(f);
}

/* A scratch model directory: config.json from text, model.safetensors copied from fixture model `from`. */
static void
make_dir_from(char *dir, size_t len, const char *config, const char *from)
{
	char		src[256],
				path[600];
	FILE	   *in;
	char	   *buf;
	long		n;

	snprintf(dir, len, "/tmp/pgml_enc_test_%d", (int) getpid());
	mkdir(dir, 0700);
	write_file(dir, "config.json", config, strlen(config));
	model_dir(from, src, sizeof(src));
	snprintf(path, sizeof(path), "%s/model.safetensors", src);
	in = fopen(path, "rb");
	if (in == NULL)
		return;
	fseek(in, 0, SEEK_END);
	n = ftell(in);
	fseek(in, 0, SEEK_SET);
	buf = malloc((size_t) n);
	if (fread(buf, 1, (size_t) n, in) == (size_t) n)
		write_file(dir, "model.safetensors", buf, (size_t) n);
	free(buf);
	fclose(in);
}

static void
make_dir(char *dir, size_t len, const char *config)
{
	make_dir_from(dir, len, config, "bert");
}

static void
remove_dir(const char *dir)
{
	char		path[600];

	snprintf(path, sizeof(path), "%s/config.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	unlink(path);
	rmdir(dir);
}

/* The JSON object text base with key set to the JSON value text (key NULL: unchanged). */
static const char *
cfg_with(const char *base, const char *key, const char *value)
{
	static char buf[1024];
	json_t	   *o = NULL,
			   *v = NULL;
	pgml_err	err;
	char	   *text;

	if (pgml_json_parse(base, strlen(base), "x", &o, &err) != PGML_OK)
		return base;
	snprintf(buf, sizeof(buf), "[%s]", value ? value : "0");
	if (key != NULL && pgml_json_parse(buf, strlen(buf), "x", &v, &err) == PGML_OK)
	{
		json_object_set(o, key, json_array_get(v, 0));
		json_decref(v);
	}
	text = pgml_json_dumps(o);
	snprintf(buf, sizeof(buf), "%s", text ? text : base);
	pgml_free(text);
	json_decref(o);
	return buf;
}

/* The tiny bert config with key set to the JSON value text (key NULL: unchanged). */
static const char *
bert_cfg(const char *key, const char *value)
{
	return cfg_with("{\"model_type\": \"bert\", \"hidden_size\": 32, \"num_hidden_layers\": 2, "
					"\"num_attention_heads\": 4, \"intermediate_size\": 64, \"vocab_size\": 512, "
					"\"max_position_embeddings\": 64, \"type_vocab_size\": 2}", key, value);
}

/* The tiny gte_new config (as tools/make_tiny_models.py writes it) with key set to the JSON value text. */
static const char *
new_cfg(const char *key, const char *value)
{
	return cfg_with("{\"model_type\": \"new\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
					"\"num_attention_heads\": 4, \"intermediate_size\": 128, \"vocab_size\": 512, "
					"\"max_position_embeddings\": 64, \"type_vocab_size\": 2, \"hidden_act\": \"gelu\", "
					"\"layer_norm_type\": \"layer_norm\", \"position_embedding_type\": \"rope\", "
					"\"rope_theta\": 1000, \"rope_scaling\": {\"factor\": 2.0, \"type\": \"ntk\"}, "
					"\"pack_qkv\": true, \"logn_attention_scale\": false}", key, value);
}

TEST(encoder_config_errors)
{
	char		dir[256];
	pgml_encoder *enc = NULL;
	pgml_err	err;

	make_dir(dir, sizeof(dir), "{\"model_type\": \"gpt5\"}");
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_NOT_SUPPORTED);
	CHECK_STR(err.msg, "model type \"gpt5\" is not supported");
	CHECK(strstr(err.hint, "bert") != NULL);
	CHECK(enc == NULL);
	remove_dir(dir);

	make_dir(dir, sizeof(dir), "[1, 2]");
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_CORRUPT);
	remove_dir(dir);

	make_dir(dir, sizeof(dir), "{\"hidden_size\": 32}");
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_CORRUPT);
	CHECK(strstr(err.msg, "model_type") != NULL);
	remove_dir(dir);

	make_dir(dir, sizeof(dir), "{\"model_type\": \"bert\", \"hidden_size\": 32}");
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_CORRUPT);
	CHECK_STR(err.msg, "config.json has no \"num_hidden_layers\"");
	remove_dir(dir);

	make_dir(dir, sizeof(dir), bert_cfg("hidden_act", "\"mish\""));
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_NOT_SUPPORTED);
	CHECK(strstr(err.msg, "mish") != NULL);
	remove_dir(dir);

	make_dir(dir, sizeof(dir), bert_cfg("num_hidden_layers", "-1"));
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_CORRUPT);
	remove_dir(dir);

	make_dir(dir, sizeof(dir), bert_cfg("position_embedding_type", "\"relative_key\""));
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_NOT_SUPPORTED);
	remove_dir(dir);

	/* shapes from config.json that disagree with the weights */
	make_dir(dir, sizeof(dir), bert_cfg("intermediate_size", "65"));
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_CORRUPT);
	CHECK(strstr(err.msg, "intermediate.dense.weight") != NULL);
	CHECK(strstr(err.msg, "[64, 32], expected [65, 32]") != NULL);
	remove_dir(dir);

	/* more layers than the checkpoint has */
	make_dir(dir, sizeof(dir), bert_cfg("num_hidden_layers", "3"));
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_CORRUPT);
	CHECK_STR(err.msg, "tensor \"encoder.layer.2.attention.self.query.weight\" is missing from the checkpoint");
	remove_dir(dir);

	make_dir(dir, sizeof(dir), bert_cfg("num_attention_heads", "5"));
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_CORRUPT);
	remove_dir(dir);

	/* nomic_bert: variants we do not implement are refused, not run wrongly */
	make_dir(dir, sizeof(dir), "{\"model_type\": \"nomic_bert\", \"n_embd\": 32, \"n_head\": 4, \"n_layer\": 2, "
			 "\"n_inner\": 64, \"vocab_size\": 512, \"activation_function\": \"gelu\", \"rotary_emb_fraction\": 1}");
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_NOT_SUPPORTED);
	remove_dir(dir);
	make_dir(dir, sizeof(dir), "{\"model_type\": \"nomic_bert\", \"n_embd\": 32, \"n_head\": 4, \"n_layer\": 2, "
			 "\"n_inner\": 64, \"vocab_size\": 512, \"rotary_emb_fraction\": 1, \"rotary_emb_interleaved\": true}");
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_NOT_SUPPORTED);
	remove_dir(dir);
	make_dir(dir, sizeof(dir), "{\"model_type\": \"nomic_bert\", \"n_embd\": 32}");
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_CORRUPT);
	CHECK_STR(err.msg, "config.json has no \"n_layer\"");
	remove_dir(dir);

	/* missing directory */
	CHECK_INT(pgml_encoder_load("/nonexistent/pgml", NULL, &enc, &err), PGML_ERR_NOT_FOUND);
	/* unknown dtype option */
	make_dir(dir, sizeof(dir), bert_cfg(NULL, NULL));
	{
		pgml_encoder_opts o = {.dtype = "float64"};

		CHECK_INT(pgml_encoder_load(dir, &o, &enc, &err), PGML_ERR_NOT_SUPPORTED);
	}
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_OK);
	pgml_encoder_free(enc);
	remove_dir(dir);
	pgml_encoder_free(NULL);
}

/* "new" (gte-v1.5): variants the reference has but we do not implement are refused, naming the setting. */
TEST(encoder_new_config_errors)
{
	static const struct
	{
		const char *key;
		const char *value;
		pgml_status expect;
		const char *in_msg;
	}			cases[] = {
		{"rope_scaling", "{\"type\": \"linear\", \"factor\": 2}", PGML_ERR_NOT_SUPPORTED, "rope_scaling type \"linear\""},
		{"rope_scaling", "{\"type\": \"dynamic\", \"factor\": 2}", PGML_ERR_NOT_SUPPORTED, "\"dynamic\""},
		{"rope_scaling", "{\"type\": \"ntk\", \"factor\": 2, \"mixed_b\": 0.5}", PGML_ERR_NOT_SUPPORTED, "mixed_b"},
		{"rope_scaling", "{\"type\": \"ntk\", \"factor\": 0.5}", PGML_ERR_NOT_SUPPORTED, "factor 0.5"},
		{"rope_scaling", "{\"factor\": 2}", PGML_ERR_CORRUPT, "rope_scaling has no \"type\""},
		{"rope_scaling", "{\"type\": \"ntk\", \"factor\": \"two\"}", PGML_ERR_CORRUPT, "rope_scaling"},
		{"rope_scaling", "\"ntk\"", PGML_ERR_CORRUPT, "rope_scaling"},
		{"layer_norm_type", "\"rms_norm\"", PGML_ERR_NOT_SUPPORTED, "layer_norm_type \"rms_norm\""},
		{"position_embedding_type", "\"absolute\"", PGML_ERR_NOT_SUPPORTED, "position_embedding_type"},
		{"pack_qkv", "false", PGML_ERR_NOT_SUPPORTED, "pack_qkv false"},
		{"logn_attention_scale", "true", PGML_ERR_NOT_SUPPORTED, "logn_attention_scale"},
		{"hidden_act", "\"mish\"", PGML_ERR_NOT_SUPPORTED, "mish"},
		{"rope_theta", "-1", PGML_ERR_CORRUPT, "rope_theta"},
		{"num_attention_heads", "5", PGML_ERR_CORRUPT, "multiple"},
		/* head size 60 / 4 = 15: rotate-half needs an even head */
		{"hidden_size", "60", PGML_ERR_CORRUPT, "odd"},
		/* shapes that disagree with the gte_new weights */
		{"intermediate_size", "100", PGML_ERR_CORRUPT, "mlp.up_gate_proj.weight"},
		{"type_vocab_size", "3", PGML_ERR_CORRUPT, "token_type_embeddings"},
		{"num_hidden_layers", "3", PGML_ERR_CORRUPT, "encoder.layer.2.attention.qkv_proj.weight"},
	};
	char		dir[256];
	pgml_encoder *enc = NULL;
	pgml_err	err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		pgml_status rc;

		make_dir_from(dir, sizeof(dir), new_cfg(cases[i].key, cases[i].value), "gte_new");
		rc = pgml_encoder_load(dir, NULL, &enc, &err);
		CHECK_INT(rc, cases[i].expect);
		CHECK(enc == NULL);
		if (rc != PGML_OK && strstr(err.msg, cases[i].in_msg) == NULL)
			test_fail(__FILE__, __LINE__, "%s = %s: message \"%s\" does not name \"%s\"", cases[i].key,
					  cases[i].value, err.msg, cases[i].in_msg);
		pgml_encoder_free(enc);
		enc = NULL;
		remove_dir(dir);
	}

	/* the scratch config loads with the real weights; null rope_scaling and no pack_qkv key are fine too */
	make_dir_from(dir, sizeof(dir), new_cfg(NULL, NULL), "gte_new");
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_OK);
	pgml_encoder_free(enc);
	remove_dir(dir);
	make_dir_from(dir, sizeof(dir), new_cfg("rope_scaling", "null"), "gte_new");
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_OK);
	pgml_encoder_free(enc);
	remove_dir(dir);

	/* a "new" config over bert's weights: the first layer tensor is missing */
	make_dir(dir, sizeof(dir), "{\"model_type\": \"new\", \"hidden_size\": 32, \"num_hidden_layers\": 2, "
			 "\"num_attention_heads\": 4, \"intermediate_size\": 64, \"vocab_size\": 512, \"type_vocab_size\": 2}");
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_CORRUPT);
	CHECK_STR(err.msg, "tensor \"encoder.layer.0.attention.qkv_proj.weight\" is missing from the checkpoint");
	remove_dir(dir);
	make_dir(dir, sizeof(dir), "{\"model_type\": \"new\", \"hidden_size\": 32}");
	CHECK_INT(pgml_encoder_load(dir, NULL, &enc, &err), PGML_ERR_CORRUPT);
	CHECK_STR(err.msg, "config.json has no \"num_hidden_layers\"");
	remove_dir(dir);
}

/* gte_new: info, limits and bad ids as for BERT; token types 0 and 1 only. */
TEST(encoder_new_info_and_bad_input)
{
	char		dir[256];
	pgml_encoder *enc = NULL;
	pgml_err	err;
	const pgml_encoder_info *info;
	int32_t		ids[65] = {2, 7, 9, 4};
	int32_t		types[65] = {0, 1, 1, 0};
	uint8_t		mask[65];
	float	   *out = calloc(65 * 64, sizeof(float));

	REQUIRE(pgml_encoder_load(model_dir("gte_new", dir, sizeof(dir)), NULL, &enc, &err) == PGML_OK);
	info = pgml_encoder_get_info(enc);
	CHECK_STR(info->model_type, "new");
	CHECK_INT(info->hidden_size, 64);
	CHECK_INT(info->num_layers, 2);
	CHECK_INT(info->max_positions, 64);
	CHECK_INT(info->type_vocab_size, 2);
	memset(mask, 1, sizeof(mask));
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 4, ids, mask, types, out, &err), PGML_OK);
	types[1] = 2;
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 4, ids, mask, types, out, &err), PGML_ERR_INVALID_ARGUMENT);
	ids[1] = 512;
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 4, ids, mask, NULL, out, &err), PGML_ERR_INVALID_ARGUMENT);
	ids[1] = 7;
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 65, ids, mask, NULL, out, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err.msg, "too long") != NULL);
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 64, ids, mask, NULL, out, &err), PGML_OK);
	memset(mask, 0, sizeof(mask));
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 64, ids, mask, NULL, out, &err), PGML_OK);
	for (size_t i = 0; i < 64 * 64; i++)
		CHECK(isfinite(out[i]));
	free(out);
	pgml_encoder_free(enc);
}

TEST(encoder_forward_rejects_bad_input)
{
	char		dir[256];
	pgml_encoder *enc = NULL;
	pgml_err	err;
	int32_t		ids[4] = {1, 2, 3, 4};
	int32_t		types[4] = {0, 1, 0, 0};
	uint8_t		mask[4] = {1, 1, 1, 0};
	float		out[4 * 32];
	const pgml_encoder_info *info;
	int32_t    *big_ids;
	uint8_t    *big_mask;
	float	   *big_out;

	REQUIRE(pgml_encoder_load(model_dir("bert", dir, sizeof(dir)), NULL, &enc, &err) == PGML_OK);
	info = pgml_encoder_get_info(enc);
	CHECK_STR(info->model_type, "bert");
	CHECK_INT(info->num_layers, 2);
	CHECK_INT(info->num_heads, 4);
	CHECK_INT(info->vocab_size, 512);
	CHECK_INT(info->max_positions, 64);
	CHECK_INT(info->type_vocab_size, 2);
	CHECK(info->weight_bytes > 100000);
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 4, ids, mask, types, out, &err), PGML_OK);
	ids[2] = 512;
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 4, ids, mask, types, out, &err), PGML_ERR_INVALID_ARGUMENT);
	ids[2] = -1;
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 4, ids, mask, types, out, &err), PGML_ERR_INVALID_ARGUMENT);
	ids[2] = 3;
	types[1] = 2;
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 4, ids, mask, types, out, &err), PGML_ERR_INVALID_ARGUMENT);
	types[1] = -1;
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 4, ids, mask, types, out, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 4, ids, mask, NULL, out, &err), PGML_OK);
	CHECK_INT(pgml_encoder_forward(enc, NULL, 0, 4, ids, mask, NULL, out, &err), PGML_OK);
	/* too long: 65 tokens for 64 positions */
	big_ids = calloc(65, sizeof(int32_t));
	big_mask = calloc(65, 1);
	big_out = calloc(65 * 32, sizeof(float));
	memset(big_mask, 1, 65);
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 65, big_ids, big_mask, NULL, big_out, &err),
			  PGML_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err.msg, "too long") != NULL);
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 64, big_ids, big_mask, NULL, big_out, &err), PGML_OK);
	/* all padding: defined output, no error */
	memset(big_mask, 0, 65);
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 64, big_ids, big_mask, NULL, big_out, &err), PGML_OK);
	for (size_t i = 0; i < 64 * 32; i++)
		CHECK(isfinite(big_out[i]));
	free(big_ids);
	free(big_mask);
	free(big_out);
	pgml_encoder_free(enc);
}

static bool
stop_now(void *state)
{
	(void) state;
	return true;
}

TEST(encoder_forward_cancels)
{
	char		dir[256];
	pgml_encoder *enc = NULL;
	pgml_err	err;
	int32_t		ids[4] = {1, 2, 3, 4};
	uint8_t		mask[4] = {1, 1, 1, 1};
	float		out[4 * 32];

	REQUIRE(pgml_encoder_load(model_dir("bert", dir, sizeof(dir)), NULL, &enc, &err) == PGML_OK);
	pgml_set_should_stop(stop_now, NULL);
	CHECK_INT(pgml_encoder_forward(enc, NULL, 1, 4, ids, mask, NULL, out, &err), PGML_ERR_CANCELLED);
	pgml_set_should_stop(NULL, NULL);
	pgml_encoder_free(enc);
}

typedef struct conc_arg
{
	const pgml_encoder *enc;
	const fixture_in *f;
	float	   *out;
	pgml_status rc;
} conc_arg;

static void *
conc_run(void *p)
{
	conc_arg   *a = p;
	pgml_err	err;

	for (int i = 0; i < 20 && a->rc == PGML_OK; i++)
		a->rc = pgml_encoder_forward(a->enc, NULL, a->f->batch, a->f->seq, a->f->ids, a->f->mask, a->f->types,
									 a->out, &err);
	return NULL;
}

/* One encoder, forward on three threads at once: each gets transformers' answer. */
TEST(encoder_forward_concurrent_calls)
{
	char		dir[256],
				fx[300];
	pgml_encoder *enc = NULL;
	pgml_err	err;
	fixture_in	f;
	pthread_t	th[3];
	conc_arg	args[3];

	model_dir("mpnet", dir, sizeof(dir));
	snprintf(fx, sizeof(fx), "%s/expected.json", dir);
	REQUIRE(read_fixture(fx, &f));
	REQUIRE(pgml_encoder_load(dir, NULL, &enc, &err) == PGML_OK);
	for (int i = 0; i < 3; i++)
	{
		args[i] = (conc_arg) {enc, &f, calloc(f.batch * f.seq * f.hidden_size, sizeof(float)), PGML_OK};
		pthread_create(&th[i], NULL, conc_run, &args[i]);
	}
	for (int i = 0; i < 3; i++)
	{
		pthread_join(th[i], NULL);
		CHECK_INT(args[i].rc, PGML_OK);
		for (size_t t = 0; t < f.batch * f.seq; t++)
			if (f.mask[t])
				for (size_t j = 0; j < f.hidden_size; j++)
					CHECK_NEAR(args[i].out[t * f.hidden_size + j], f.expect[t * f.hidden_size + j], 1e-4);
		free(args[i].out);
	}
	pgml_encoder_free(enc);
	fixture_in_free(&f);
}

/*
 * Right-padded batches run on their real tokens only (padding rows come out zero); a mask with a hole
 * makes the whole batch run on all rows: sequences without the hole must give the same answer either way.
 */
TEST(encoder_padding_compaction_and_holes)
{
	static const char *const names[] = {"bert", "roberta", "nomic_bert", "electra", "mpnet", "distilbert", "gte_new",
	NULL};

	for (int m = 0; names[m] != NULL; m++)
	{
		char		dir[256],
					fx[300];
		pgml_encoder *enc = NULL;
		pgml_err	err;
		fixture_in	f;
		float	   *out;
		size_t		Hs;

		model_dir(names[m], dir, sizeof(dir));
		snprintf(fx, sizeof(fx), "%s/expected.json", dir);
		REQUIRE(read_fixture(fx, &f));
		REQUIRE(pgml_encoder_load(dir, NULL, &enc, &err) == PGML_OK);
		Hs = f.hidden_size;
		out = calloc(f.batch * f.seq * Hs, sizeof(float));
		REQUIRE(f.batch == 3 && f.mask[1 * f.seq + 1] == 1 && f.mask[1 * f.seq + f.seq - 1] == 0);
		/* compacted: padding rows are zero */
		CHECK_INT(pgml_encoder_forward(enc, NULL, f.batch, f.seq, f.ids, f.mask, f.types, out, &err), PGML_OK);
		for (size_t t = 0; t < f.batch * f.seq; t++)
			if (!f.mask[t])
				for (size_t i = 0; i < Hs; i++)
					CHECK(out[t * Hs + i] == 0.0f);
		/* a hole in sequence 1: sequences 0 and 2 still match transformers */
		f.mask[1 * f.seq + 1] = 0;
		CHECK_INT(pgml_encoder_forward(enc, NULL, f.batch, f.seq, f.ids, f.mask, f.types, out, &err), PGML_OK);
		for (size_t b = 0; b < f.batch; b += 2)
			for (size_t s = 0; s < f.seq; s++)
			{
				size_t		t = b * f.seq + s;

				if (f.mask[t])
					for (size_t i = 0; i < Hs; i++)
						CHECK_NEAR(out[t * Hs + i], f.expect[t * Hs + i], 1e-4);
			}
		free(out);
		pgml_encoder_free(enc);
		fixture_in_free(&f);
	}
}

/*
 * Every allocation of forward failing in turn: an error, no crash, nothing leaked. (Load is not run
 * under failing allocations: jansson 2.14 itself crashes when an allocation fails inside json_loadb.)
 */
TEST(encoder_forward_allocation_failures)
{
	static const struct
	{
		const char *name;
		const char *dtype;
	}			cases[] = {{"bert", NULL}, {"bert", "int8"}, {"electra", "int8"}, {"nomic_bert", NULL},
	{"nomic_bert", "int8"}, {"mpnet", NULL}, {"gte_new", NULL}, {"gte_new", "int8"}};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		char		dir[256],
					fx[300];
		fixture_in	f;
		float	   *out;
		long		total = -1;
		pgml_encoder_opts opts = {.dtype = cases[c].dtype};
		pgml_encoder *enc = NULL;
		pgml_pool  *pool = NULL;
		pgml_err	err;

		model_dir(cases[c].name, dir, sizeof(dir));
		snprintf(fx, sizeof(fx), "%s/expected.json", dir);
		REQUIRE(read_fixture(fx, &f));
		REQUIRE(pgml_encoder_load(dir, &opts, &enc, &err) == PGML_OK);
		REQUIRE(pgml_pool_new(2, &pool, &err) == PGML_OK);
		out = calloc(f.batch * f.seq * f.hidden_size, sizeof(float));
		for (long at = 0; at < 5000; at++)
		{
			failing		fl = {0, at, 0};
			pgml_allocator a = {failing_alloc, failing_realloc, failing_free, &fl};
			pgml_status rc;

			pgml_set_allocator(&a);
			rc = pgml_encoder_forward(enc, pool, f.batch, f.seq, f.ids, f.mask, f.types, out, &err);
			pgml_set_allocator(NULL);
			if (rc != PGML_OK && rc != PGML_ERR_OUT_OF_MEMORY)
				test_fail(__FILE__, __LINE__, "%s: allocation %ld failed: forward gave %s", cases[c].name, at,
						  pgml_status_name(rc));
			if (fl.live != 0)
				test_fail(__FILE__, __LINE__, "%s: allocation %ld failed: %ld blocks leaked", cases[c].name, at,
						  fl.live);
			if (fl.count <= at)
			{
				total = at;
				break;
			}
		}
		CHECK(total >= 1);
		pgml_pool_free(pool);
		pgml_encoder_free(enc);
		free(out);
		fixture_in_free(&f);
	}
}
