/*
 * embed.c — sentence embeddings as sentence-transformers computes them (see pgml/embed.h).
 *
 * Loading reads the sentence-transformers module files around the encoder; encoding tokenizes every text
 * (in parallel on the pool), sorts by length, runs the encoder batch by batch on the longest-first order
 * and pools each row into its caller's slot.
 */
#include "pgml/embed.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <utf8proc.h>

#include "pgml/json.h"
#include "pgml/tokenizer.h"

#define POOL_CLS		0x01
#define POOL_MAX		0x02
#define POOL_MEAN		0x04
#define POOL_MEAN_SQRT	0x08
#define POOL_WMEAN		0x10
#define POOL_LAST		0x20

#define MAX_CONFIG_BYTES (16u << 20)
#define MAX_PROMPT_BYTES (64u << 10)

typedef struct prompt_entry
{
	char	   *name;
	char	   *text;
} prompt_entry;

struct pgml_embedder
{
	pgml_encoder *encoder;
	pgml_tokenizer *tokenizer;
	unsigned	pooling;		/* POOL_* bits */
	bool		include_prompt;
	size_t		hidden;
	prompt_entry *prompts;
	size_t		n_prompts;
	char	   *default_prompt_name;
	pgml_embedder_info info;
};

const char *const pgml_embedder_files[] = {
	"config.json",
	"tokenizer.json",
	"tokenizer_config.json?",
	"modules.json?",
	"sentence_bert_config.json?",
	"config_sentence_transformers.json?",
	"model.safetensors",
};
const size_t pgml_embedder_n_files = sizeof(pgml_embedder_files) / sizeof(pgml_embedder_files[0]);

void
pgml_embed_opts_init(pgml_embed_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->batch_size = 32;
}

/* ---------------------------------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------------------------------- */

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *
join_path(const char *dir, const char *sub, const char *file)
{
	if (sub == NULL || sub[0] == '\0')
		return pgml_asprintf("%s/%s", dir, file);
	return pgml_asprintf("%s/%s/%s", dir, sub, file);
}

/* Loads dir[/sub]/file as JSON into *out, or leaves *out NULL when the file does not exist. */
static pgml_status
load_optional_json(const char *dir, const char *sub, const char *file, json_t **out, pgml_err *err)
{
	char	   *path = join_path(dir, sub, file);
	pgml_status rc = PGML_OK;

	*out = NULL;
	if (path == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	if (file_exists(path))
		rc = pgml_json_load_file(path, MAX_CONFIG_BYTES, out, err);
	pgml_free(path);
	return rc;
}

/* A module path from modules.json: relative, no "..", no leading '/'. */
static bool
module_path_ok(const char *p)
{
	const char *s;

	if (p[0] == '/' || strlen(p) > 200)
		return false;
	for (s = p; *s; s++)
		if ((unsigned char) *s < 0x20 || *s == '\\')
			return false;
	for (s = p; (s = strstr(s, "..")) != NULL; s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return false;
	return true;
}

typedef struct module_layout
{
	char	   *transformer_path;	/* "" when the encoder sits in the model directory */
	char	   *pooling_path;	/* NULL: no Pooling module (mean pooling is assumed only without modules.json) */
	bool		normalize;
	bool		have_modules;
} module_layout;

static void
module_layout_free(module_layout *m)
{
	pgml_free(m->transformer_path);
	pgml_free(m->pooling_path);
	memset(m, 0, sizeof(*m));
}

static pgml_status read_modules_into(const char *dir, module_layout *m, pgml_err *err);

/* Reads modules.json into m (nothing to free on error). */
static pgml_status
read_modules(const char *dir, module_layout *m, pgml_err *err)
{
	pgml_status rc = read_modules_into(dir, m, err);

	if (rc != PGML_OK)
		module_layout_free(m);
	return rc;
}

static pgml_status
read_modules_into(const char *dir, module_layout *m, pgml_err *err)
{
	json_t	   *mods = NULL;
	pgml_status rc;
	size_t		i;

	memset(m, 0, sizeof(*m));
	rc = load_optional_json(dir, NULL, "modules.json", &mods, err);
	if (rc != PGML_OK)
		return rc;
	if (mods == NULL)
	{
		m->transformer_path = pgml_strdup("");
		m->pooling_path = NULL;
		if (m->transformer_path == NULL)
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		return PGML_OK;
	}
	m->have_modules = true;
	if (!json_is_array(mods) || json_array_size(mods) == 0)
	{
		json_decref(mods);
		return pgml_error(err, PGML_ERR_CORRUPT, "modules.json must be a non-empty array of modules");
	}
	for (i = 0; i < json_array_size(mods); i++)
	{
		json_t	   *mod = json_array_get(mods, i);
		const char *type = json_string_value(json_object_get(mod, "type"));
		const char *path = json_string_value(json_object_get(mod, "path"));
		char	  **slot = NULL;

		if (type == NULL || path == NULL || !module_path_ok(path))
		{
			json_decref(mods);
			return pgml_error(err, PGML_ERR_CORRUPT, "modules.json entry %zu needs string \"type\" and a relative \"path\"", i);
		}
		if (strcmp(type, "sentence_transformers.models.Transformer") == 0 && i == 0)
			slot = &m->transformer_path;
		else if (strcmp(type, "sentence_transformers.models.Pooling") == 0 && m->pooling_path == NULL)
			slot = &m->pooling_path;
		else if (strcmp(type, "sentence_transformers.models.Normalize") == 0)
			m->normalize = true;
		else
		{
			pgml_error(err, PGML_ERR_NOT_SUPPORTED, "sentence-transformers module \"%s\" is not supported", type);
			pgml_err_detail(err, "pgml runs models made of a Transformer, a Pooling and an optional Normalize module.");
			json_decref(mods);
			return PGML_ERR_NOT_SUPPORTED;
		}
		if (slot != NULL && (*slot = pgml_strdup(path)) == NULL)
		{
			json_decref(mods);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
	}
	json_decref(mods);
	if (m->transformer_path == NULL)
		return pgml_error(err, PGML_ERR_NOT_SUPPORTED, "modules.json does not start with a Transformer module");
	return PGML_OK;
}

pgml_status
pgml_embedder_module_files(const char *dir, char ***files, size_t *n, pgml_err *err)
{
	module_layout m;
	pgml_status rc;
	char	  **list;
	size_t		k = 0,
				i;

	*files = NULL;
	*n = 0;
	rc = read_modules(dir, &m, err);
	if (rc != PGML_OK)
		return rc;
	list = pgml_calloc(pgml_embedder_n_files + 1, sizeof(char *));
	if (list == NULL)
	{
		module_layout_free(&m);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	if (m.pooling_path != NULL)
		list[k++] = join_path(m.pooling_path, NULL, "config.json");
	if (m.transformer_path[0] != '\0')
		for (i = 0; i < pgml_embedder_n_files; i++)
			if (strcmp(pgml_embedder_files[i], "modules.json?") != 0 &&
				strcmp(pgml_embedder_files[i], "config_sentence_transformers.json?") != 0)
				list[k++] = join_path(m.transformer_path, NULL, pgml_embedder_files[i]);
	module_layout_free(&m);
	for (i = 0; i < k; i++)
		if (list[i] == NULL)
		{
			pgml_embedder_free_files(list, k);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
	*files = list;
	*n = k;
	return PGML_OK;
}

void
pgml_embedder_free_files(char **files, size_t n)
{
	size_t		i;

	if (files == NULL)
		return;
	for (i = 0; i < n; i++)
		pgml_free(files[i]);
	pgml_free(files);
}

/* ---------------------------------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------------------------------- */

static pgml_status
read_pooling(pgml_embedder *e, const char *dir, const module_layout *m, pgml_err *err)
{
	static const struct
	{
		const char *key;
		unsigned	bit;
		const char *name;
	}			modes[] = {
		{"pooling_mode_cls_token", POOL_CLS, "cls"},
		{"pooling_mode_max_tokens", POOL_MAX, "max"},
		{"pooling_mode_mean_tokens", POOL_MEAN, "mean"},
		{"pooling_mode_mean_sqrt_len_tokens", POOL_MEAN_SQRT, "mean_sqrt_len"},
		{"pooling_mode_weightedmean_tokens", POOL_WMEAN, "weightedmean"},
		{"pooling_mode_lasttoken", POOL_LAST, "lasttoken"},
	};
	json_t	   *cfg = NULL;
	pgml_status rc;
	size_t		i,
				k = 0;
	int64_t		wdim = 0;

	e->include_prompt = true;
	if (m->pooling_path == NULL)
	{
		/* SentenceTransformer without modules.json: Transformer + mean pooling */
		e->pooling = m->have_modules ? 0 : POOL_MEAN;
		if (e->pooling == 0)
			return pgml_error(err, PGML_ERR_NOT_SUPPORTED, "modules.json has no Pooling module");
	}
	else
	{
		rc = load_optional_json(dir, m->pooling_path, "config.json", &cfg, err);
		if (rc != PGML_OK)
			return rc;
		if (cfg == NULL)
			return pgml_error(err, PGML_ERR_NOT_FOUND, "pooling configuration %s/config.json is missing",
							  m->pooling_path);
		if (!json_is_object(cfg))
		{
			json_decref(cfg);
			return pgml_error(err, PGML_ERR_CORRUPT, "%s/config.json must be a JSON object", m->pooling_path);
		}
		for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		{
			bool		on = false;

			rc = pgml_json_get_bool(cfg, modes[i].key, false, &on, err);
			if (rc != PGML_OK)
			{
				json_decref(cfg);
				return rc;
			}
			if (on)
				e->pooling |= modes[i].bit;
		}
		rc = pgml_json_get_bool(cfg, "include_prompt", true, &e->include_prompt, err);
		if (rc == PGML_OK)
			rc = pgml_json_get_int(cfg, "word_embedding_dimension", 0, 0, 1 << 20, &wdim, err);
		json_decref(cfg);
		if (rc != PGML_OK)
			return rc;
		if (e->pooling == 0)
			return pgml_error(err, PGML_ERR_CORRUPT, "%s/config.json enables no pooling mode", m->pooling_path);
		if (wdim != 0 && (size_t) wdim != e->hidden)
			return pgml_error(err, PGML_ERR_CORRUPT,
							  "pooling word_embedding_dimension %lld does not match the encoder's hidden size %zu",
							  (long long) wdim, e->hidden);
	}
	e->info.pooling[0] = '\0';
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (e->pooling & modes[i].bit)
		{
			size_t		len = strlen(e->info.pooling);

			snprintf(e->info.pooling + len, sizeof(e->info.pooling) - len, "%s%s", len ? "+" : "",
					 modes[i].name);
			k++;
		}
	e->info.dim = e->hidden * k;
	return PGML_OK;
}

static pgml_status
read_seq_config(pgml_embedder *e, const char *dir, const module_layout *m, pgml_err *err)
{
	json_t	   *sb = NULL,
			   *tc = NULL,
			   *cfg = NULL;
	pgml_status rc;
	int64_t		max_seq = 0,
				max_pos = 0;
	double		model_max = 0;
	const pgml_encoder_info *ei = pgml_encoder_get_info(e->encoder);
	size_t		limit;

	rc = load_optional_json(dir, m->transformer_path, "sentence_bert_config.json", &sb, err);
	if (rc == PGML_OK && sb != NULL && !json_is_object(sb))
		rc = pgml_error(err, PGML_ERR_CORRUPT, "sentence_bert_config.json must be a JSON object");
	if (rc == PGML_OK && sb != NULL)
		rc = pgml_json_get_int(sb, "max_seq_length", 0, 0, INT32_MAX, &max_seq, err);
	if (rc == PGML_OK && sb != NULL)
		rc = pgml_json_get_bool(sb, "do_lower_case", false, &e->info.lower_case, err);
	if (rc == PGML_OK && max_seq == 0)
	{
		/* sentence-transformers: min(config max_position_embeddings, tokenizer model_max_length) */
		rc = load_optional_json(dir, m->transformer_path, "config.json", &cfg, err);
		if (rc == PGML_OK && cfg != NULL && json_is_object(cfg))
			rc = pgml_json_get_int(cfg, "max_position_embeddings", 0, 0, INT64_MAX, &max_pos, err);
		if (rc == PGML_OK)
			rc = load_optional_json(dir, m->transformer_path, "tokenizer_config.json", &tc, err);
		if (rc == PGML_OK && tc != NULL && json_is_object(tc) &&
			json_is_number(json_object_get(tc, "model_max_length")))
			model_max = json_number_value(json_object_get(tc, "model_max_length"));
		if (max_pos > 0)
			max_seq = max_pos;
		if (model_max >= 1 && (max_seq == 0 || model_max < (double) max_seq))
			max_seq = (int64_t) model_max;
	}
	json_decref(sb);
	json_decref(tc);
	json_decref(cfg);
	if (rc != PGML_OK)
		return rc;
	limit = ei->max_positions;
	if (max_seq <= 0 || (limit > 0 && (size_t) max_seq > limit))
		max_seq = limit > 0 ? (int64_t) limit : 512;
	e->info.max_seq_length = (size_t) max_seq;
	return PGML_OK;
}

static pgml_status
read_prompts(pgml_embedder *e, const char *dir, pgml_err *err)
{
	json_t	   *cfg = NULL,
			   *prompts;
	const char *key;
	json_t	   *val;
	pgml_status rc;
	const char *def;

	rc = load_optional_json(dir, NULL, "config_sentence_transformers.json", &cfg, err);
	if (rc != PGML_OK || cfg == NULL)
		return rc;
	if (!json_is_object(cfg))
	{
		json_decref(cfg);
		return pgml_error(err, PGML_ERR_CORRUPT, "config_sentence_transformers.json must be a JSON object");
	}
	prompts = json_object_get(cfg, "prompts");
	if (prompts != NULL && !json_is_null(prompts))
	{
		if (!json_is_object(prompts))
		{
			json_decref(cfg);
			return pgml_error(err, PGML_ERR_CORRUPT, "config_sentence_transformers.json: \"prompts\" must be an object");
		}
		e->prompts = pgml_calloc(json_object_size(prompts) + 1, sizeof(prompt_entry));
		if (e->prompts == NULL)
		{
			json_decref(cfg);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
		json_object_foreach(prompts, key, val)
		{
			if (!json_is_string(val))
			{
				pgml_error(err, PGML_ERR_CORRUPT, "config_sentence_transformers.json: prompt \"%s\" must be a string", key);
				json_decref(cfg);	/* key lives in cfg */
				return PGML_ERR_CORRUPT;
			}
			e->prompts[e->n_prompts].name = pgml_strdup(key);
			e->prompts[e->n_prompts].text = pgml_strdup(json_string_value(val));
			e->n_prompts++;
			if (e->prompts[e->n_prompts - 1].name == NULL || e->prompts[e->n_prompts - 1].text == NULL)
			{
				json_decref(cfg);
				return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			}
		}
	}
	def = json_string_value(json_object_get(cfg, "default_prompt_name"));
	if (def != NULL && (e->default_prompt_name = pgml_strdup(def)) == NULL)
	{
		json_decref(cfg);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	json_decref(cfg);
	return PGML_OK;
}

static const char *
find_prompt(const pgml_embedder *e, const char *name)
{
	size_t		i;

	for (i = 0; i < e->n_prompts; i++)
		if (strcmp(e->prompts[i].name, name) == 0)
			return e->prompts[i].text;
	return NULL;
}

pgml_status
pgml_embedder_load(const char *dir, const pgml_encoder_opts *opts, pgml_embedder **out, pgml_err *err)
{
	pgml_embedder *e;
	module_layout m;
	pgml_status rc;
	char	   *sub = NULL,
			   *tok_path = NULL;

	*out = NULL;
	e = pgml_calloc(1, sizeof(*e));
	if (e == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	rc = read_modules(dir, &m, err);
	if (rc != PGML_OK)
	{
		pgml_free(e);
		return rc;
	}
	sub = m.transformer_path[0] ? join_path(dir, NULL, m.transformer_path) : pgml_strdup(dir);
	tok_path = sub ? join_path(sub, NULL, "tokenizer.json") : NULL;
	if (sub == NULL || tok_path == NULL)
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	if (rc == PGML_OK)
		rc = pgml_encoder_load(sub, opts, &e->encoder, err);
	if (rc == PGML_OK)
	{
		if (!file_exists(tok_path))
		{
			rc = pgml_error(err, PGML_ERR_NOT_SUPPORTED, "the model has no tokenizer.json");
			pgml_err_detail(err, "pgml reads the fast-tokenizer file tokenizer.json; vocab.txt or sentencepiece files alone are not supported.");
		}
		else
			rc = pgml_tokenizer_load_file(tok_path, &e->tokenizer, err);
	}
	if (rc == PGML_OK)
	{
		e->info.encoder = pgml_encoder_get_info(e->encoder);
		e->hidden = e->info.encoder->hidden_size;
		rc = read_pooling(e, dir, &m, err);
	}
	if (rc == PGML_OK)
		rc = read_seq_config(e, dir, &m, err);
	if (rc == PGML_OK)
		rc = read_prompts(e, dir, err);
	if (rc == PGML_OK)
	{
		e->info.normalize = m.normalize;
		if (e->default_prompt_name != NULL)
			e->info.default_prompt = find_prompt(e, e->default_prompt_name);
	}
	pgml_free(sub);
	pgml_free(tok_path);
	module_layout_free(&m);
	if (rc != PGML_OK)
	{
		pgml_embedder_free(e);
		return rc;
	}
	*out = e;
	return PGML_OK;
}

void
pgml_embedder_free(pgml_embedder *e)
{
	size_t		i;

	if (e == NULL)
		return;
	pgml_encoder_free(e->encoder);
	pgml_tokenizer_free(e->tokenizer);
	for (i = 0; i < e->n_prompts; i++)
	{
		pgml_free(e->prompts[i].name);
		pgml_free(e->prompts[i].text);
	}
	pgml_free(e->prompts);
	pgml_free(e->default_prompt_name);
	pgml_free(e);
}

const pgml_embedder_info *
pgml_embedder_get_info(const pgml_embedder *e)
{
	return &e->info;
}

pgml_status
pgml_embedder_out_dim(const pgml_embedder *e, const pgml_embed_opts *opts, size_t *dim, pgml_err *err)
{
	*dim = e->info.dim;
	if (opts->truncate_dim > e->info.dim)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "truncate_dim %zu is larger than the embedding size %zu",
				   opts->truncate_dim, e->info.dim);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (opts->truncate_dim > 0)
		*dim = opts->truncate_dim;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Text preparation: prompt + text, str.strip(), optional lower-casing
 * ------------------------------------------------------------------------------------------------- */

/* Length of the UTF-8 sequence at s (1 for an invalid lead byte: the tokenizer reports those). */
static size_t
utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t		len,
				i;
	uint32_t	v;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0)
		len = 2, v = c & 0x1f;
	else if ((c & 0xf0) == 0xe0)
		len = 3, v = c & 0x0f;
	else if ((c & 0xf8) == 0xf0)
		len = 4, v = c & 0x07;
	else
	{
		*cp = 0xfffd;
		return 1;
	}
	if (len > n)
	{
		*cp = 0xfffd;
		return 1;
	}
	for (i = 1; i < len; i++)
	{
		if ((s[i] & 0xc0) != 0x80)
		{
			*cp = 0xfffd;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3f);
	}
	*cp = v;
	return len;
}

/* Python's str.isspace() code points (what str.strip() removes). */
static bool
py_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
		(c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
		c == 0x3000;
}

/* The span of s without leading and trailing whitespace. */
static void
py_strip(const char *s, size_t n, size_t *begin, size_t *end)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t		b = 0,
				e = n,
				last_end = 0;
	uint32_t	cp;

	while (b < n)
	{
		size_t		l = utf8_len(u + b, n - b, &cp);

		if (!py_space(cp))
			break;
		b += l;
	}
	/* walk forward from b remembering the end of the last non-space character */
	last_end = b;
	for (e = b; e < n;)
	{
		size_t		l = utf8_len(u + e, n - e, &cp);

		e += l;
		if (!py_space(cp))
			last_end = e;
	}
	*begin = b;
	*end = last_end;
}

static size_t
count_chars(const char *s, size_t n)
{
	size_t		i,
				k = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char) s[i] & 0xc0) != 0x80)
			k++;
	return k;
}

/* Lower-cases UTF-8 text code point by code point (simple case mapping); 0 on success, -1 out of memory. */
static int
utf8_lower(const char *s, size_t n, char **out, size_t *out_len)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t		cap,
				i = 0,
				k = 0;
	char	   *buf;

	if (!pgml_mul_size(n, 2, &cap) || !pgml_add_size(cap, 4, &cap) || (buf = pgml_malloc(cap)) == NULL)
		return -1;
	while (i < n)
	{
		uint32_t	cp;
		size_t		l = utf8_len(u + i, n - i, &cp);

		if (cp == 0xfffd && l == 1 && u[i] >= 0x80)
		{
			buf[k++] = (char) u[i];	/* invalid: copied, the tokenizer reports it */
			i++;
			continue;
		}
		cp = (uint32_t) utf8proc_tolower((utf8proc_int32_t) cp);
		if (k + 5 > cap)
		{
			char	   *grown = pgml_realloc(buf, cap * 2);

			if (grown == NULL)
			{
				pgml_free(buf);
				return -1;
			}
			buf = grown;
			cap *= 2;
		}
		k += (size_t) utf8proc_encode_char((utf8proc_int32_t) cp, (utf8proc_uint8_t *) buf + k);
		i += l;
	}
	buf[k] = '\0';
	*out = buf;
	*out_len = k;
	return 0;
}

typedef struct prepared
{
	char	   *buf;			/* prompt + text (owned), or NULL when text is used as is */
	const char *text;
	size_t		len;
	size_t		chars;
} prepared;

/* ---------------------------------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------------------------------- */

typedef struct embed_job
{
	const pgml_embedder *e;
	const pgml_encode_opts *eopts;
	prepared   *texts;
	pgml_encoding *enc;
	pgml_status *rc;
	pgml_err   *errs;
} embed_job;

static void
tokenize_range(void *ctx, size_t begin, size_t end, int worker)
{
	embed_job  *j = ctx;
	size_t		i;

	(void) worker;
	for (i = begin; i < end; i++)
		j->rc[i] = pgml_tokenizer_encode(j->e->tokenizer, j->texts[i].text, j->texts[i].len, NULL, 0,
										 j->eopts, &j->enc[i], &j->errs[i]);
}

static int
cmp_by_length_desc(const void *a, const void *b, void *arg)
{
	const prepared *t = arg;
	size_t		x = *(const size_t *) a,
				y = *(const size_t *) b;

	if (t[x].chars != t[y].chars)
		return t[x].chars > t[y].chars ? -1 : 1;
	return x < y ? -1 : (x > y);
}

static void
l2_normalize(float *v, size_t n)
{
	double		s = 0;
	size_t		i;
	float		inv;

	for (i = 0; i < n; i++)
		s += (double) v[i] * v[i];
	s = sqrt(s);
	inv = (float) (1.0 / (s > 1e-12 ? s : 1e-12));
	for (i = 0; i < n; i++)
		v[i] *= inv;
}

/* Pools one row's token states (seq × hidden, mask) into out (info.dim floats), in sentence-transformers' order. */
static void
pool_row(const pgml_embedder *e, const float *h, const uint8_t *mask, size_t seq, size_t prompt_len, float *out,
		 float *sum)
{
	size_t		H = e->hidden,
				t,
				d;
	float	   *o = out;
	float		count = 0,
				wsum = 0;
	size_t		last = seq - 1;
	bool		any = false;

#define MASKED(t_) (mask[t_] && (e->include_prompt || (t_) >= prompt_len))
	for (t = 0; t < seq; t++)
		if (MASKED(t))
		{
			count += 1;
			wsum += (float) (t + 1);
		}
	if (count < 1e-9f)
		count = 1e-9f;
	if (wsum < 1e-9f)
		wsum = 1e-9f;
	if (e->pooling & POOL_CLS)
	{
		memcpy(o, h, H * sizeof(float));
		o += H;
	}
	if (e->pooling & POOL_MAX)
	{
		for (d = 0; d < H; d++)
		{
			float		m = -INFINITY;

			for (t = 0; t < seq; t++)
			{
				float		v = MASKED(t) ? h[t * H + d] : -1e9f;

				if (v > m)
					m = v;
			}
			o[d] = m;
		}
		o += H;
	}
	if (e->pooling & (POOL_MEAN | POOL_MEAN_SQRT))
	{
		memset(sum, 0, H * sizeof(float));
		for (t = 0; t < seq; t++)
			if (MASKED(t))
				for (d = 0; d < H; d++)
					sum[d] += h[t * H + d];
		if (e->pooling & POOL_MEAN)
		{
			for (d = 0; d < H; d++)
				o[d] = sum[d] / count;
			o += H;
		}
		if (e->pooling & POOL_MEAN_SQRT)
		{
			float		sq = sqrtf(count);

			for (d = 0; d < H; d++)
				o[d] = sum[d] / sq;
			o += H;
		}
	}
	if (e->pooling & POOL_WMEAN)
	{
		memset(o, 0, H * sizeof(float));
		for (t = 0; t < seq; t++)
			if (MASKED(t))
				for (d = 0; d < H; d++)
					o[d] += h[t * H + d] * (float) (t + 1);
		for (d = 0; d < H; d++)
			o[d] /= wsum;
		o += H;
	}
	if (e->pooling & POOL_LAST)
	{
		for (t = seq; t-- > 0;)
			if (MASKED(t))
			{
				last = t;
				any = true;
				break;
			}
		if (any)
			memcpy(o, h + last * H, H * sizeof(float));
		else
			memset(o, 0, H * sizeof(float));
		o += H;
	}
#undef MASKED
}

pgml_status
pgml_embedder_embed(const pgml_embedder *e, pgml_pool *pool, const char *const *texts, const size_t *lens,
					size_t n, const pgml_embed_opts *opts, float *out, pgml_err *err)
{
	const char *prompt = opts->prompt;
	size_t		prompt_len_bytes = 0,
				prompt_tokens = 0,
				out_dim,
				batch_size = opts->batch_size ? opts->batch_size : 32,
				max_seq = e->info.max_seq_length,
				H = e->hidden,
				i;
	prepared   *prep = NULL;
	pgml_encoding *enc = NULL;
	pgml_status *rcs = NULL;
	pgml_err   *errs = NULL;
	size_t	   *order = NULL;
	int32_t    *ids = NULL,
			   *types = NULL;
	uint8_t    *mask = NULL;
	float	   *hidden = NULL,
			   *row = NULL;
	pgml_encode_opts eopts;
	pgml_status rc;
	embed_job	job;
	size_t		cells,
				bytes;

	rc = pgml_embedder_out_dim(e, opts, &out_dim, err);
	if (rc != PGML_OK)
		return rc;
	if (n == 0)
		return PGML_OK;
	if (prompt == NULL && opts->prompt_name != NULL)
	{
		prompt = find_prompt(e, opts->prompt_name);
		if (prompt == NULL)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "prompt name \"%s\" is not one of the model's prompts",
					   opts->prompt_name);
			if (e->n_prompts > 0)
				pgml_err_hint(err, "The model defines %zu prompts, for example \"%s\".", e->n_prompts,
							  e->prompts[0].name);
			else
				pgml_err_hint(err, "The model defines no prompts; pass the text itself as \"prompt\".");
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	else if (prompt == NULL)
		prompt = e->info.default_prompt;
	if (prompt != NULL)
	{
		prompt_len_bytes = strlen(prompt);
		if (prompt_len_bytes > MAX_PROMPT_BYTES)
			return pgml_error(err, PGML_ERR_LIMIT, "prompt is too long (%zu bytes, at most %u)", prompt_len_bytes,
							  MAX_PROMPT_BYTES);
	}

	pgml_encode_opts_init(&eopts);
	eopts.max_length = max_seq;
	eopts.truncate = true;
	eopts.pad_to = 0;
	eopts.pad = false;			/* batches are padded to their longest member below, as sentence-transformers does */

	prep = pgml_calloc(n, sizeof(prepared));
	enc = pgml_calloc(n, sizeof(pgml_encoding));
	rcs = pgml_calloc(n, sizeof(pgml_status));
	errs = pgml_calloc(n, sizeof(pgml_err));
	order = pgml_calloc(n, sizeof(size_t));
	if (!prep || !enc || !rcs || !errs || !order)
	{
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}

	/* prompt + text, stripped (and lower-cased) as sentence-transformers' Transformer.tokenize does */
	for (i = 0; i < n; i++)
	{
		const char *src = texts[i];
		size_t		len = lens[i],
					b,
					end;

		if (prompt != NULL && prompt_len_bytes > 0)
		{
			size_t		total;

			if (!pgml_add_size(prompt_len_bytes, len, &total) || (prep[i].buf = pgml_malloc(total + 1)) == NULL)
			{
				rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
				goto done;
			}
			memcpy(prep[i].buf, prompt, prompt_len_bytes);
			memcpy(prep[i].buf + prompt_len_bytes, src, len);
			prep[i].buf[total] = '\0';
			src = prep[i].buf;
			len = total;
		}
		prep[i].chars = count_chars(src, len);
		py_strip(src, len, &b, &end);
		if (e->info.lower_case)
		{
			char	   *low = NULL;
			size_t		low_len = 0;

			if (utf8_lower(src + b, end - b, &low, &low_len) != 0)
			{
				rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
				goto done;
			}
			pgml_free(prep[i].buf);
			prep[i].buf = low;
			prep[i].text = low;
			prep[i].len = low_len;
		}
		else
		{
			prep[i].text = src + b;
			prep[i].len = end - b;
		}
		order[i] = i;
	}

	/* prompt_length = tokens of the stripped prompt, minus one (sentence-transformers' convention) */
	if (prompt != NULL && !e->include_prompt)
	{
		pgml_encoding pe;
		size_t		b,
					end;

		memset(&pe, 0, sizeof(pe));
		py_strip(prompt, prompt_len_bytes, &b, &end);
		rc = pgml_tokenizer_encode(e->tokenizer, prompt + b, end - b, NULL, 0, &eopts, &pe, err);
		if (rc != PGML_OK)
			goto done;
		prompt_tokens = pe.n > 0 ? pe.n - 1 : 0;
		pgml_encoding_free(&pe);
	}

	job.e = e;
	job.eopts = &eopts;
	job.texts = prep;
	job.enc = enc;
	job.rc = rcs;
	job.errs = errs;
	rc = pgml_parallel_for(pool, n, 0, tokenize_range, &job, err);
	if (rc != PGML_OK)
		goto done;
	for (i = 0; i < n; i++)
		if (rcs[i] != PGML_OK)
		{
			if (err != NULL)
				*err = errs[i];
			rc = rcs[i];
			if (n > 1 && err != NULL)
				pgml_err_detail(err, "The failing input is number %zu of %zu.", i + 1, n);
			goto done;
		}

	qsort_r(order, n, sizeof(size_t), cmp_by_length_desc, prep);

	/* scratch for the largest batch */
	if (!pgml_mul_size(batch_size < n ? batch_size : n, max_seq, &cells) ||
		!pgml_mul_size(cells, H * sizeof(float), &bytes))
	{
		rc = pgml_error(err, PGML_ERR_LIMIT, "batch of %zu texts of %zu tokens is too large", batch_size, max_seq);
		goto done;
	}
	ids = pgml_malloc(cells * sizeof(int32_t));
	types = pgml_malloc(cells * sizeof(int32_t));
	mask = pgml_malloc(cells);
	hidden = pgml_malloc(bytes);
	row = pgml_malloc((e->info.dim + H) * sizeof(float));
	if (!ids || !types || !mask || !hidden || !row)
	{
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}

	for (size_t start = 0; start < n; start += batch_size)
	{
		size_t		nb = n - start < batch_size ? n - start : batch_size,
					seq = 1,
					b;
		int32_t		pad = pgml_tokenizer_pad_id(e->tokenizer);

		for (b = 0; b < nb; b++)
			if (enc[order[start + b]].n > seq)
				seq = enc[order[start + b]].n;
		for (b = 0; b < nb; b++)
		{
			const pgml_encoding *x = &enc[order[start + b]];
			size_t		t;

			for (t = 0; t < seq; t++)
			{
				size_t		c = b * seq + t;

				if (t < x->n)
				{
					ids[c] = x->ids[t];
					types[c] = x->type_ids ? x->type_ids[t] : 0;
					mask[c] = x->attention_mask ? x->attention_mask[t] : 1;
				}
				else
				{
					ids[c] = pad;
					types[c] = 0;
					mask[c] = 0;
				}
			}
		}
		rc = pgml_encoder_forward(e->encoder, pool, nb, seq, ids, mask, types, hidden, err);
		if (rc != PGML_OK)
			goto done;
		for (b = 0; b < nb; b++)
		{
			float	   *dst = out + order[start + b] * out_dim;

			pool_row(e, hidden + b * seq * H, mask + b * seq, seq, prompt_tokens, row, row + e->info.dim);
			if (e->info.normalize)
				l2_normalize(row, e->info.dim);
			memcpy(dst, row, out_dim * sizeof(float));
			if (opts->normalize)
				l2_normalize(dst, out_dim);
		}
		rc = pgml_check_stop(err);
		if (rc != PGML_OK)
			goto done;
	}
	rc = PGML_OK;

done:
	if (enc != NULL)
		for (i = 0; i < n; i++)
			pgml_encoding_free(&enc[i]);
	if (prep != NULL)
		for (i = 0; i < n; i++)
			pgml_free(prep[i].buf);
	pgml_free(prep);
	pgml_free(enc);
	pgml_free(rcs);
	pgml_free(errs);
	pgml_free(order);
	pgml_free(ids);
	pgml_free(types);
	pgml_free(mask);
	pgml_free(hidden);
	pgml_free(row);
	return rc;
}
