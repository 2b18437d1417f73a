/*
 * transformers.c — transformer models from SQL: the hub GUCs, the per-backend model cache, pgml.embed.
 *
 * A model is named by a Hugging Face id (optionally with a revision) or, for superusers' configured
 * directories, an absolute path. The hub module (core/src/hub) makes its files local — from the cache
 * directory or by downloading — and the embedder (core/src/tasks/embed.c) loads it with its weights
 * mmap'd, so every backend shares one copy through the page cache. Each backend keeps the models it
 * loaded until pgml.clear_model_cache() (or {"cache": false} in a call's kwargs, which loads a private
 * copy for that call only).
 */
#include "pgml_pg.h"

#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "access/tupdesc.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "pgml/derived.h"
#include "pgml/embed.h"
#include "pgml/hub.h"
#include "pgml/sha256.h"

/* ---------------------------------------------------------------------------------------------------
 * GUCs
 * ------------------------------------------------------------------------------------------------- */

static char *hub_cache_dir = NULL;
static char *hub_endpoint = NULL;
static char *hub_token = NULL;
static bool hub_offline = false;
static char *hub_model_dirs = NULL;

/* The default cache directory, as huggingface_hub picks it for the server's user. */
static const char *
default_cache_dir(void)
{
	const char *v;
	const char *home;

	if ((v = getenv("HF_HUB_CACHE")) != NULL && v[0])
		return v;
	if ((v = getenv("HF_HOME")) != NULL && v[0])
		return psprintf("%s/hub", v);
	if ((v = getenv("XDG_CACHE_HOME")) != NULL && v[0])
		return psprintf("%s/huggingface/hub", v);
	home = getenv("HOME");
	if (home == NULL || home[0] == '\0')
	{
		struct passwd *pw = getpwuid(geteuid());

		home = pw ? pw->pw_dir : "/tmp";
	}
	return psprintf("%s/.cache/huggingface/hub", home);
}

void
pgml_transformers_init(void)
{
	const char *env_endpoint = getenv("HF_ENDPOINT");
	const char *env_offline = getenv("HF_HUB_OFFLINE");
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	const char *cache = default_cache_dir();

	MemoryContextSwitchTo(old);

	DefineCustomStringVariable("pgml.cache_dir",
							   "Directory of the Hugging Face model cache pgml reads and downloads into.",
							   "The hub cache layout (models--org--name/...); the default is the server user's "
							   "huggingface_hub cache ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub).",
							   &hub_cache_dir, cache, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgml.hub_endpoint",
							   "Base URL models are downloaded from.",
							   "Files come from <endpoint>/<model id>/resolve/<revision>/<file>.",
							   &hub_endpoint,
							   env_endpoint && env_endpoint[0] ? env_endpoint : "https://huggingface.co",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgml.hub_token",
							   "Access token for gated or private models (default: the server's HF_TOKEN).",
							   NULL,
							   &hub_token, "", PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("pgml.hub_offline",
							 "Never download models: use only what the cache already holds.",
							 NULL,
							 &hub_offline,
							 env_offline != NULL && (strcmp(env_offline, "1") == 0 || pg_strcasecmp(env_offline, "true") == 0),
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgml.model_dirs",
							   "Comma-separated directories whose model subdirectories may be named by absolute path.",
							   NULL,
							   &hub_model_dirs, "", PGC_SUSET, 0, NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------------------------------------
 * kwargs
 * ------------------------------------------------------------------------------------------------- */

typedef struct embed_args
{
	pgml_embed_opts opts;
	const char *revision;
	const char *dtype;			/* "float32" or "int8" */
	const char *token;
	bool		cache;
	json_t	   *json;			/* owns the strings above */
} embed_args;

static void
embed_args_free(void *arg)
{
	embed_args *a = arg;

	if (a->json != NULL)
		json_decref(a->json);
	a->json = NULL;
}

static void
bad_arg(const char *key, const char *want)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("embed argument \"%s\" must be %s", key, want)));
}

/* Parses kwargs into a palloc'd embed_args; its JSON is freed when the current memory context is reset. */
static embed_args *
parse_embed_args(Jsonb *kwargs)
{
	embed_args *a = palloc0(sizeof(embed_args));
	char	   *text;
	json_t	   *obj;
	const char *key;
	json_t	   *val;
	pgml_err	err;
	pgml_status rc;

	pgml_embed_opts_init(&a->opts);
	a->cache = true;
	a->dtype = "float32";
	if (kwargs == NULL)
		return a;
	text = JsonbToCString(NULL, &kwargs->root, VARSIZE(kwargs));
	rc = pgml_json_parse(text, strlen(text), "embed kwargs", &obj, &err);
	pgml_pg_check(rc, &err);
	a->json = obj;
	pgml_pg_own(a, embed_args_free);
	if (!json_is_object(obj))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("embed kwargs must be a JSON object, not %s", pgml_json_type_name(obj))));

	json_object_foreach(obj, key, val)
	{
		if (strcmp(key, "prompt") == 0)
		{
			if (!json_is_string(val) && !json_is_null(val))
				bad_arg(key, "a string");
			a->opts.prompt = json_string_value(val);
		}
		else if (strcmp(key, "prompt_name") == 0)
		{
			if (!json_is_string(val) && !json_is_null(val))
				bad_arg(key, "a string");
			a->opts.prompt_name = json_string_value(val);
		}
		else if (strcmp(key, "normalize_embeddings") == 0)
		{
			if (!json_is_boolean(val))
				bad_arg(key, "true or false");
			a->opts.normalize = json_is_true(val);
		}
		else if (strcmp(key, "truncate_dim") == 0)
		{
			if (json_is_null(val))
				continue;
			if (!json_is_integer(val) || json_integer_value(val) < 1 || json_integer_value(val) > 1000000)
				bad_arg(key, "a positive integer or null");
			a->opts.truncate_dim = (size_t) json_integer_value(val);
		}
		else if (strcmp(key, "batch_size") == 0)
		{
			if (!json_is_integer(val) || json_integer_value(val) < 1 || json_integer_value(val) > 4096)
				bad_arg(key, "an integer between 1 and 4096");
			a->opts.batch_size = (size_t) json_integer_value(val);
		}
		else if (strcmp(key, "revision") == 0)
		{
			if (!json_is_string(val) && !json_is_null(val))
				bad_arg(key, "a string");
			a->revision = json_string_value(val);
		}
		else if (strcmp(key, "token") == 0 || strcmp(key, "use_auth_token") == 0)
		{
			if (json_is_string(val))
				a->token = json_string_value(val);
			else if (!json_is_null(val) && !json_is_boolean(val))
				bad_arg(key, "a string");
		}
		else if (strcmp(key, "device") == 0)
		{
			const char *d = json_string_value(val);

			if (json_is_null(val))
				continue;
			if (d == NULL)
				bad_arg(key, "a string");
			if (strcmp(d, "cpu") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("device \"%s\" is not available", d),
						 errdetail("pgml runs models on the CPU of the database server."),
						 errhint("Use \"device\": \"cpu\" or leave it out.")));
		}
		else if (strcmp(key, "cache") == 0)
		{
			if (!json_is_boolean(val))
				bad_arg(key, "true or false");
			a->cache = json_is_true(val);
		}
		else if (strcmp(key, "dtype") == 0 || strcmp(key, "precision") == 0)
		{
			const char *d = json_string_value(val);

			if (d == NULL)
				bad_arg(key, "a string");
			if (strcmp(d, "float32") == 0 || strcmp(d, "fp32") == 0)
				a->dtype = "float32";
			else if (strcmp(d, "int8") == 0 && strcmp(key, "dtype") == 0)
				a->dtype = "int8";
			else
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("%s \"%s\" is not supported", key, d),
						 errhint(strcmp(key, "dtype") == 0 ? "Use \"float32\" or \"int8\"." :
								 "Embeddings are computed and returned as float32.")));
		}
		else if (strcmp(key, "trust_remote_code") == 0 || strcmp(key, "show_progress_bar") == 0 ||
				 strcmp(key, "convert_to_numpy") == 0 || strcmp(key, "convert_to_tensor") == 0)
		{
			/* sentence-transformers switches with no meaning here: pgml runs no remote code */
			if (!json_is_boolean(val) && !json_is_null(val))
				bad_arg(key, "true or false");
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized embed argument \"%s\"", key),
					 errhint("pgml.embed takes prompt, prompt_name, normalize_embeddings, truncate_dim, "
							 "batch_size, revision, token, device, dtype and cache.")));
	}
	return a;
}

/* ---------------------------------------------------------------------------------------------------
 * The model cache
 * ------------------------------------------------------------------------------------------------- */

typedef struct cached_model
{
	char	   *key;			/* name \x1f revision \x1f dtype (TopMemoryContext) */
	pgml_embedder *embedder;
	struct cached_model *next;
} cached_model;

static cached_model *model_cache = NULL;

static char *
cache_key(const char *name, const embed_args *a)
{
	return psprintf("%s\x1f%s\x1f%s", name, a->revision ? a->revision : "", a->dtype);
}

static void
free_embedder(void *p)
{
	pgml_embedder_free(p);
}

/* Resolves a model name to a local directory (downloading what is missing). */
static char *
resolve_model(const char *name, const embed_args *a)
{
	pgml_hub_config cfg;
	pgml_err	err;
	pgml_status rc;
	char	   *dir = NULL;
	char	  **more = NULL;
	size_t		n_more = 0;
	char	   *result;
	const char *token = a->token;

	memset(&cfg, 0, sizeof(cfg));
	if (token == NULL || token[0] == '\0')
		token = hub_token && hub_token[0] ? hub_token : getenv("HF_TOKEN");
	cfg.cache_dir = hub_cache_dir;
	cfg.endpoint = hub_endpoint;
	cfg.token = token;
	cfg.offline = hub_offline;
	cfg.local_dirs = hub_model_dirs;
	cfg.timeout_s = 60;

	rc = pgml_hub_resolve(&cfg, name, a->revision, pgml_embedder_files, pgml_embedder_n_files, &dir, &err);
	pgml_pg_check(rc, &err);
	result = pstrdup(dir);
	rc = pgml_embedder_module_files(dir, &more, &n_more, &err);
	pgml_free(dir);
	pgml_pg_check(rc, &err);
	if (n_more > 0)
	{
		dir = NULL;
		rc = pgml_hub_resolve(&cfg, name, a->revision, (const char *const *) more, n_more, &dir, &err);
		pgml_embedder_free_files(more, n_more);
		pgml_free(dir);
		pgml_pg_check(rc, &err);
	}
	return result;
}

/*
 * Where the model in dir keeps its derived weights (converted, int8, f32 panels; pgml/derived.h), written
 * once and mapped by every backend: <dir>/.pgml when the server can write there (a hub snapshot in
 * pgml.cache_dir always), else, for a read-only directory under pgml.model_dirs, a directory of its own
 * under pgml.cache_dir: pgml-derived/<sha256 of the model's path, 32 hex digits>. The file in it is keyed
 * by the checkpoint files' identity, so a model replaced at the same path rebuilds it. When neither can
 * be written the load keeps its converted weights on the heap and builds no panels.
 */
static char *
derived_dir_for(const char *dir)
{
	char	   *own = psprintf("%s/%s", dir, PGML_DERIVED_DIRNAME);
	uint8_t		dg[32];
	char		hex[65];
	char	   *parent;

	if ((mkdir(own, 0755) == 0 || errno == EEXIST) && access(own, W_OK | X_OK) == 0)
		return own;
	if (hub_cache_dir == NULL || hub_cache_dir[0] == '\0')
		return own;
	pgml_sha256(dir, strlen(dir), dg);
	pgml_sha256_hex(dg, hex);
	hex[32] = '\0';
	(void) mkdir(hub_cache_dir, 0755);
	parent = psprintf("%s/pgml-derived", hub_cache_dir);
	if ((mkdir(parent, 0755) != 0 && errno != EEXIST) || access(parent, W_OK | X_OK) != 0)
		return own;
	return psprintf("%s/%s", parent, hex);
}

/* The embedder for name: from the cache, else loaded (and cached unless a->cache is false). */
static pgml_embedder *
get_embedder(const char *name, const embed_args *a)
{
	char	   *key = cache_key(name, a);
	cached_model *m;
	char	   *dir;
	pgml_embedder *e = NULL;
	pgml_encoder_opts eo;
	pgml_err	err;
	pgml_status rc;

	if (a->cache)
		for (m = model_cache; m != NULL; m = m->next)
			if (strcmp(m->key, key) == 0)
				return m->embedder;

	dir = resolve_model(name, a);
	memset(&eo, 0, sizeof(eo));
	eo.dtype = a->dtype;
	/* converted weights are written once next to the model (or in the cache) and mapped by every backend */
	eo.derived_dir = derived_dir_for(dir);
	rc = pgml_embedder_load(dir, &eo, &e, &err);
	pgml_pg_trim();
	pgml_pg_check(rc, &err);
	if (!a->cache)
	{
		pgml_pg_own(e, free_embedder);
		return e;
	}
	m = MemoryContextAlloc(TopMemoryContext, sizeof(cached_model));
	m->key = MemoryContextStrdup(TopMemoryContext, key);
	m->embedder = e;
	m->next = model_cache;
	model_cache = m;
	return e;
}

/* Drops this backend's transformer models (pgml.clear_model_cache); returns how many. */
int
pgml_transformers_clear_cache(void)
{
	int			n = 0;

	while (model_cache != NULL)
	{
		cached_model *m = model_cache;

		model_cache = m->next;
		pgml_embedder_free(m->embedder);
		pfree(m->key);
		pfree(m);
		n++;
	}
	return n;
}

/* ---------------------------------------------------------------------------------------------------
 * pgml.embed
 * ------------------------------------------------------------------------------------------------- */

static ArrayType *
floats_to_array(const float *v, size_t n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);
	size_t		i;

	for (i = 0; i < n; i++)
		d[i] = Float4GetDatum(v[i]);
	return construct_array(d, (int) n, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
}

PG_FUNCTION_INFO_V1(pgml_embed_text);

/* pgml.embed(transformer text, "text" text, kwargs jsonb) → real[] */
Datum
pgml_embed_text(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	text	   *t = PG_GETARG_TEXT_PP(1);
	Jsonb	   *kwargs = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	embed_args *a;
	pgml_embedder *e;
	const char *texts[1];
	size_t		lens[1],
				dim;
	float	   *out;
	pgml_err	err;
	pgml_status rc;

	a = parse_embed_args(kwargs);
	e = get_embedder(name, a);
	rc = pgml_embedder_out_dim(e, &a->opts, &dim, &err);
	pgml_pg_check(rc, &err);
	texts[0] = VARDATA_ANY(t);
	lens[0] = VARSIZE_ANY_EXHDR(t);
	out = palloc(sizeof(float) * dim);
	rc = pgml_embedder_embed(e, pgml_pg_pool(), texts, lens, 1, &a->opts, out, &err);
	pgml_pg_check(rc, &err);
	PG_RETURN_ARRAYTYPE_P(floats_to_array(out, dim));
}

PG_FUNCTION_INFO_V1(pgml_embed_batch);

/* pgml.embed(transformer text, inputs text[], kwargs jsonb) → setof real[] (NULL inputs give NULL rows) */
Datum
pgml_embed_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *inputs = PG_GETARG_ARRAYTYPE_P(1);
	Jsonb	   *kwargs = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	embed_args *a;
	pgml_embedder *e;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				k = 0;
	const char **texts;
	size_t	   *lens,
				dim;
	int		   *slot;
	float	   *out;
	pgml_err	err;
	pgml_status rc;

	TupleDesc	tupdesc;
	MemoryContext old;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || !(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (ARR_NDIM(inputs) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("inputs must be a one-dimensional array")));
	/* a scalar set: one real[] column */
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTemplateTupleDesc(1);
	TupleDescInitEntry(tupdesc, (AttrNumber) 1, "embed", FLOAT4ARRAYOID, -1, 0);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setDesc = tupdesc;
	rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(old);
	deconstruct_array(inputs, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		return (Datum) 0;

	a = parse_embed_args(kwargs);
	e = get_embedder(name, a);
	rc = pgml_embedder_out_dim(e, &a->opts, &dim, &err);
	pgml_pg_check(rc, &err);

	texts = palloc(sizeof(char *) * n);
	lens = palloc(sizeof(size_t) * n);
	slot = palloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
	{
		slot[i] = -1;
		if (nulls[i])
			continue;
		{
			text	   *t = DatumGetTextPP(elems[i]);

			texts[k] = VARDATA_ANY(t);
			lens[k] = VARSIZE_ANY_EXHDR(t);
			slot[i] = k++;
		}
	}
	if ((Size) k * dim > MaxAllocHugeSize / sizeof(float))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many inputs for one call (%d)", k)));
	out = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * Max(k, 1) * dim);
	rc = pgml_embedder_embed(e, pgml_pg_pool(), texts, lens, (size_t) k, &a->opts, out, &err);
	pgml_pg_check(rc, &err);

	for (int i = 0; i < n; i++)
	{
		Datum		value = (Datum) 0;
		bool		isnull = slot[i] < 0;

		if (!isnull)
			value = PointerGetDatum(floats_to_array(out + (size_t) slot[i] * dim, dim));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}
