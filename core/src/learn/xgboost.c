/*
 * xgboost.c — gradient boosted trees through libxgboost's C API: "xgboost" (XGBRegressor /
 * XGBClassifier) and "xgboost_random_forest" (XGBRFRegressor / XGBRFClassifier).
 *
 * Hyperparameters take the names of XGBoost's scikit-learn classes (n_estimators, learning_rate,
 * max_depth, reg_lambda, ...) and, as PostgresML's Rust runtime accepted them, XGBoost's native names
 * (eta, lambda, alpha, boost_rounds, nthread, ...). Both are passed to the booster by their native
 * name. Boosting runs one round at a time so a cancel stops training between rounds.
 *
 * libxgboost starts OpenMP threads on first use. Threads inherit the creating thread's signal mask, and
 * inside PostgreSQL only the backend's own thread may run signal handlers, so every call that may
 * start threads runs with all signals blocked (they stay pending and are delivered right after).
 *
 * Saved state: the booster in XGBoost's UBJSON model format, plus the number of outputs.
 */
#include "pgml/learn.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "algorithms.h"
#include "pgml/json.h"

#define MAX_MODEL_BYTES ((uint64_t) 1 << 34)

typedef struct xgb_state
{
	BoosterHandle booster;
	uint32_t	n_outputs;		/* per row: targets, or class probabilities */
	uint32_t	n_features;
	uint32_t	binary;			/* binary:logistic: expand p to (1 - p, p) */
	json_t	   *params;			/* effective hyperparameters, for pgml.models */
} xgb_state;

/* Blocks all signals for the duration of a libxgboost call (see the file comment). */
typedef struct signal_guard
{
	sigset_t	old;
} signal_guard;

static void
block_signals(signal_guard *b)
{
	sigset_t	all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &b->old);
}

static void
restore_signals(const signal_guard *b)
{
	pthread_sigmask(SIG_SETMASK, &b->old, NULL);
}

static pgml_status
xgb_error(pgml_err *err, const char *what)
{
	const char *msg = XGBGetLastError();

	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "xgboost could not %s", what);
	if (msg != NULL && msg[0] != '\0')
	{
		/* XGBoost's messages start with a source location ("[12:00:00] src/...: "); keep the text after it */
		const char *text = strstr(msg, ": ");
		const char *end;

		text = text ? text + 2 : msg;
		end = strchr(text, '\n');	/* drop the stack trace that follows */
		pgml_err_detail(err, "%.*s", (int) (end ? end - text : (long) strlen(text)), text);
	}
	return PGML_ERR_INVALID_ARGUMENT;
}

/* Hyperparameter names: scikit-learn API names and XGBoost's native names. */
#define XGB_COMMON_PARAMS \
	"n_estimators", "boost_rounds", "max_depth", "max_leaves", "max_bin", "grow_policy", "learning_rate", \
	"eta", "verbosity", "objective", "booster", "tree_method", "n_jobs", "nthread", "gamma", \
	"min_split_loss", "min_child_weight", "max_delta_step", "subsample", "sampling_method", \
	"colsample_bytree", "colsample_bylevel", "colsample_bynode", "reg_alpha", "alpha", "reg_lambda", \
	"lambda", "scale_pos_weight", "base_score", "random_state", "seed", "missing", "num_parallel_tree", \
	"monotone_constraints", "interaction_constraints", "importance_type", "validate_parameters", \
	"eval_metric", "sketch_eps", "refresh_leaf", "process_type", "updater", "predictor", \
	"max_cat_to_onehot", "max_cat_threshold", "rate_drop", "one_drop", "skip_drop", "sample_type", \
	"normalize_type", "feature_selector", "top_k", "tweedie_variance_power", "huber_slope", \
	"multi_strategy", "gpu_id", "device"

static const char *const xgb_params[] = {XGB_COMMON_PARAMS, NULL};

/* scikit-learn names that XGBoost spells differently */
static const struct
{
	const char *sklearn;
	const char *native;
}			renames[] = {
	{"learning_rate", "eta"},
	{"reg_alpha", "alpha"},
	{"reg_lambda", "lambda"},
	{"n_jobs", "nthread"},
	{"random_state", "seed"},
	{"min_split_loss", "gamma"},
};

/* Keys that are not booster parameters (handled here) or that only the scikit-learn wrapper knows. */
static bool
not_a_booster_param(const char *key)
{
	static const char *const skip[] = {
		"n_estimators", "boost_rounds", "missing", "importance_type", "gpu_id", "device", NULL
	};

	for (const char *const *s = skip; *s; s++)
		if (strcmp(*s, key) == 0)
			return true;
	return false;
}

static const char *
native_name(const char *key)
{
	for (size_t i = 0; i < sizeof(renames) / sizeof(renames[0]); i++)
		if (strcmp(renames[i].sklearn, key) == 0)
			return renames[i].native;
	return key;
}

/* The text XGBoost expects for a JSON hyperparameter value. */
static pgml_status
param_text(const char *key, const json_t *v, char *buf, size_t size, pgml_err *err)
{
	switch (json_typeof(v))
	{
		case JSON_STRING:
			snprintf(buf, size, "%s", json_string_value(v));
			return PGML_OK;
		case JSON_INTEGER:
			snprintf(buf, size, "%lld", (long long) json_integer_value(v));
			return PGML_OK;
		case JSON_REAL:
			snprintf(buf, size, "%.17g", json_real_value(v));
			return PGML_OK;
		case JSON_TRUE:
		case JSON_FALSE:
			snprintf(buf, size, "%d", json_is_true(v) ? 1 : 0);
			return PGML_OK;
		case JSON_ARRAY:
			{
				/* eval_metric lists, monotone constraints: XGBoost takes "(a,b)" / "[a,b]" text */
				char	   *text = pgml_json_dumps(v);

				if (text == NULL)
					return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
				snprintf(buf, size, "%s", text);
				pgml_free(text);
				return PGML_OK;
			}
		default:
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "hyperparameter \"%s\" must be a number, string or boolean, not %s",
							  key, pgml_json_type_name(v));
	}
}

static pgml_status
set_param(BoosterHandle b, const char *key, const char *value, pgml_err *err)
{
	if (XGBoosterSetParam(b, key, value) != 0)
	{
		char		detail[PGML_ERR_DETAIL_LEN];

		xgb_error(err, "accept a hyperparameter");
		snprintf(detail, sizeof(detail), "%s", err ? err->detail : "");
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid xgboost hyperparameter %.64s = %.100s", key, value);
		if (detail[0])
			pgml_err_detail(err, "%s", detail);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

static void
xgb_free(void *p)
{
	xgb_state  *s = p;

	if (s == NULL)
		return;
	if (s->booster != NULL)
		XGBoosterFree(s->booster);
	json_decref(s->params);
	pgml_free(s);
}

static size_t
xgb_n_outputs(const void *p)
{
	return ((const xgb_state *) p)->n_outputs;
}

static json_t *
xgb_params_json(const void *p)
{
	const xgb_state *s = p;

	return s->params ? json_incref(s->params) : NULL;
}

static pgml_status
fit_common(const pgml_fit_args *args, const pgml_data *train, bool random_forest, void **out, pgml_err *err)
{
	const json_t *hp = args->hyperparams;
	xgb_state  *s;
	DMatrixHandle dtrain = NULL;
	signal_guard	sb;
	int64_t		rounds;
	int64_t		n_estimators;
	char		value[512];
	const char *key;
	json_t	   *v;
	const char *objective = NULL;
	/*
	 * One OpenMP thread unless the hyperparameters ask for more: OpenMP threads spin at barriers, and on
	 * a database server whose cores are busy with other backends two spinning threads per backend made
	 * small fits 20-50 times slower (bench/results/ml.md notes).
	 */
	int			nthread = 1;
	pgml_status rc;

	*out = NULL;
	if (train->n_rows > UINT32_MAX || train->n_features > UINT32_MAX)
		return pgml_error(err, PGML_ERR_LIMIT, "too much data for xgboost");

	if (json_object_get(hp, "n_estimators") && json_object_get(hp, "boost_rounds"))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "give n_estimators or boost_rounds, not both");
	if ((rc = pgml_json_get_int(hp, "n_estimators", 100, 1, 100000, &n_estimators, err)) != PGML_OK)
		return rc;
	if (json_object_get(hp, "boost_rounds")
		&& (rc = pgml_json_get_int(hp, "boost_rounds", 100, 1, 100000, &n_estimators, err)) != PGML_OK)
		return rc;
	if ((rc = pgml_json_get_string(hp, "objective", NULL, &objective, err)) != PGML_OK)
		return rc;
	for (size_t i = 0; i < sizeof(renames) / sizeof(renames[0]); i++)
		if (json_object_get(hp, renames[i].sklearn) && json_object_get(hp, renames[i].native))
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "give %s or %s, not both", renames[i].sklearn,
							  renames[i].native);

	s = pgml_calloc(1, sizeof(xgb_state));
	if (s == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	s->n_features = (uint32_t) train->n_features;
	s->params = json_object();
	if (s->params == NULL)
	{
		pgml_free(s);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}

	if (args->task == PGML_TASK_CLASSIFICATION)
	{
		if (objective == NULL)
			objective = args->n_classes == 2 ? "binary:logistic" : "multi:softprob";
		if (strcmp(objective, "binary:logistic") == 0)
		{
			if (args->n_classes != 2)
			{
				xgb_free(s);
				return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "objective binary:logistic needs two classes, not %d",
								  args->n_classes);
			}
			s->binary = 1;
			s->n_outputs = 2;
		}
		else if (strcmp(objective, "multi:softprob") == 0)
			s->n_outputs = (uint32_t) args->n_classes;
		else
		{
			xgb_free(s);
			pgml_error(err, PGML_ERR_NOT_SUPPORTED, "objective %s is not supported for classification", objective);
			pgml_err_hint(err, "Use binary:logistic or multi:softprob, which give class probabilities.");
			return PGML_ERR_NOT_SUPPORTED;
		}
	}
	else
	{
		if (objective == NULL)
			objective = "reg:squarederror";
		if (strncmp(objective, "binary:", 7) == 0 || strncmp(objective, "multi:", 6) == 0)
		{
			xgb_free(s);
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "objective %s is for classification, not regression",
							  objective);
		}
		s->n_outputs = (uint32_t) train->n_targets;
	}

	block_signals(&sb);
	if (XGDMatrixCreateFromMat(train->x, (bst_ulong) train->n_rows, (bst_ulong) train->n_features, NAN,
							   &dtrain) != 0)
	{
		restore_signals(&sb);
		xgb_free(s);
		return xgb_error(err, "load the training data");
	}
	if (train->n_targets > 1)
	{
		/* multi-target regression: labels as a row-major n_rows × n_targets matrix */
		char		iface[256];

		snprintf(iface, sizeof(iface),
				 "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", \"version\": 3}",
				 (unsigned long long) (uintptr_t) train->y, train->n_rows, train->n_targets);
		rc = XGDMatrixSetInfoFromInterface(dtrain, "label", iface) == 0 ? PGML_OK : xgb_error(err, "set the labels");
	}
	else
		rc = XGDMatrixSetFloatInfo(dtrain, "label", train->y, (bst_ulong) train->n_rows) == 0
			? PGML_OK : xgb_error(err, "set the labels");
	if (rc == PGML_OK && XGBoosterCreate(&dtrain, 1, &s->booster) != 0)
		rc = xgb_error(err, "create a booster");
	restore_signals(&sb);
	if (rc != PGML_OK)
		goto done;

	/* our defaults first, the user's values after (XGBoost keeps the last) */
	json_object_set_new(s->params, "objective", json_string(objective));
	if ((rc = set_param(s->booster, "objective", objective, err)) != PGML_OK)
		goto done;
	if (args->task == PGML_TASK_CLASSIFICATION && !s->binary)
	{
		snprintf(value, sizeof(value), "%d", args->n_classes);
		if ((rc = set_param(s->booster, "num_class", value, err)) != PGML_OK)
			goto done;
	}
	(void) args->pool;
	snprintf(value, sizeof(value), "%d", nthread);
	if ((rc = set_param(s->booster, "nthread", value, err)) != PGML_OK)
		goto done;
	snprintf(value, sizeof(value), "%llu", (unsigned long long) (args->seed & 0x7fffffff));
	if ((rc = set_param(s->booster, "seed", value, err)) != PGML_OK)
		goto done;
	if ((rc = set_param(s->booster, "verbosity", "0", err)) != PGML_OK)
		goto done;
	if (random_forest)
	{
		/* XGBRF*: one round of n_estimators parallel trees, each on a row and column sample */
		static const char *const rf_defaults[][2] = {
			{"eta", "1"}, {"subsample", "0.8"}, {"colsample_bynode", "0.8"}, {"lambda", "1e-05"}
		};

		for (size_t i = 0; i < sizeof(rf_defaults) / sizeof(rf_defaults[0]); i++)
			if ((rc = set_param(s->booster, rf_defaults[i][0], rf_defaults[i][1], err)) != PGML_OK)
				goto done;
		snprintf(value, sizeof(value), "%lld", (long long) n_estimators);
		if ((rc = set_param(s->booster, "num_parallel_tree", value, err)) != PGML_OK)
			goto done;
		rounds = 1;
	}
	else
		rounds = n_estimators;
	json_object_set_new(s->params, "n_estimators", json_integer(n_estimators));

	json_object_foreach((json_t *) hp, key, v)
	{
		if (json_is_null(v))
			continue;
		if (not_a_booster_param(key))
		{
			if (strcmp(key, "boost_rounds") != 0 && strcmp(key, "n_estimators") != 0)
				json_object_set(s->params, key, v);
			continue;
		}
		if ((rc = param_text(key, v, value, sizeof(value), err)) != PGML_OK)
			goto done;
		if (strcmp(key, "eval_metric") == 0 && json_is_array(v))
		{
			/* several metrics: one SetParam call each */
			size_t		i;
			json_t	   *m;

			json_array_foreach(v, i, m)
			{
				if (!json_is_string(m))
				{
					rc = pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "eval_metric entries must be strings");
					goto done;
				}
				if ((rc = set_param(s->booster, "eval_metric", json_string_value(m), err)) != PGML_OK)
					goto done;
			}
		}
		else if ((rc = set_param(s->booster, native_name(key), value, err)) != PGML_OK)
			goto done;
		json_object_set(s->params, key, v);
	}

	for (int64_t iter = 0; iter < rounds; iter++)
	{
		int			ok;

		pgml_progress_step((size_t) iter, (size_t) rounds, "round");
		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
		block_signals(&sb);
		ok = XGBoosterUpdateOneIter(s->booster, (int) iter, dtrain);
		restore_signals(&sb);
		if (ok != 0)
		{
			rc = xgb_error(err, "train");
			goto done;
		}
	}
	/* prediction is per row or per small batch: one thread is fastest and leaves the cores to others */
	rc = set_param(s->booster, "nthread", "1", err);

done:
	if (dtrain != NULL)
		XGDMatrixFree(dtrain);
	if (rc != PGML_OK)
	{
		xgb_free(s);
		return rc;
	}
	*out = s;
	return PGML_OK;
}

static pgml_status
xgb_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return fit_common(args, train, false, state, err);
}

static pgml_status
xgbrf_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return fit_common(args, train, true, state, err);
}

static pgml_status
xgb_predict(const void *p, const float *x, size_t n_rows, size_t n_features, float *out, pgml_err *err)
{
	const xgb_state *s = p;
	char		iface[256];
	const bst_ulong *shape;
	bst_ulong	dim;
	const float *result;
	size_t		per_row;
	signal_guard	sb;
	int			ok;
	static const char config[] =
		"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
		"\"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}";

	if (n_features != s->n_features)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "expected %u features, got %zu", s->n_features,
						  n_features);
	if (n_rows == 0)
		return PGML_OK;
	snprintf(iface, sizeof(iface),
			 "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", \"version\": 3}",
			 (unsigned long long) (uintptr_t) x, n_rows, n_features);
	block_signals(&sb);
	ok = XGBoosterPredictFromDense(s->booster, iface, config, NULL, &shape, &dim, &result);
	restore_signals(&sb);
	if (ok != 0)
		return xgb_error(err, "predict");

	per_row = s->binary ? 1 : s->n_outputs;
	{
		size_t		got = 1;

		for (bst_ulong d = 0; d < dim; d++)
			got *= (size_t) shape[d];
		if (got != n_rows * per_row)
			return pgml_error(err, PGML_ERR_INTERNAL, "xgboost returned %zu values for %zu rows", got, n_rows);
	}
	if (s->binary)
	{
		for (size_t i = 0; i < n_rows; i++)
		{
			out[2 * i] = 1.0f - result[i];
			out[2 * i + 1] = result[i];
		}
	}
	else
		memcpy(out, result, n_rows * per_row * sizeof(float));
	return PGML_OK;
}

static void
xgb_save(const void *p, pgml_buf *out)
{
	const xgb_state *s = p;
	bst_ulong	len = 0;
	const char *raw = NULL;
	char	   *params;

	pgml_buf_put_u32(out, s->n_outputs);
	pgml_buf_put_u32(out, s->n_features);
	pgml_buf_put_u32(out, s->binary);
	params = s->params ? pgml_json_dumps(s->params) : NULL;
	pgml_buf_put_str(out, params);
	pgml_free(params);
	if (XGBoosterSaveModelToBuffer(s->booster, "{\"format\": \"ubj\"}", &len, &raw) != 0)
	{
		out->failed = true;
		return;
	}
	pgml_buf_put_u64(out, (uint64_t) len);
	pgml_buf_put(out, raw, (size_t) len);
}

static pgml_status
xgb_load(pgml_reader *in, void **state, pgml_err *err)
{
	xgb_state  *s;
	char	   *params;
	uint64_t	len;
	bst_ulong	n_features = 0;
	signal_guard	sb;
	int			ok;

	*state = NULL;
	s = pgml_calloc(1, sizeof(xgb_state));
	if (s == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	s->n_outputs = pgml_reader_u32(in);
	s->n_features = pgml_reader_u32(in);
	s->binary = pgml_reader_u32(in);
	params = pgml_reader_str(in, 1 << 20);
	len = pgml_reader_u64(in);
	if (pgml_reader_status(in) != PGML_OK)
		goto corrupt;
	if (s->n_outputs == 0 || s->n_outputs > (1u << 20) || s->n_features == 0 || s->binary > 1
		|| (s->binary && s->n_outputs != 2) || len == 0 || len > MAX_MODEL_BYTES
		|| len != pgml_reader_remaining(in))
	{
		pgml_reader_fail(in, "The xgboost state is invalid");
		goto corrupt;
	}
	if (params != NULL)
	{
		json_error_t jerr;

		s->params = json_loads(params, 0, &jerr);
		pgml_free(params);
		params = NULL;
	}

	block_signals(&sb);
	ok = XGBoosterCreate(NULL, 0, &s->booster) == 0
		&& XGBoosterLoadModelFromBuffer(s->booster, in->data + in->pos, (bst_ulong) len) == 0
		&& XGBoosterSetParam(s->booster, "nthread", "1") == 0
		&& XGBoosterGetNumFeature(s->booster, &n_features) == 0;
	restore_signals(&sb);
	if (!ok)
	{
		pgml_error(err, PGML_ERR_CORRUPT, "model file is corrupt");
		pgml_err_detail(err, "XGBoost could not read the booster: %s", XGBGetLastError());
		xgb_free(s);
		return PGML_ERR_CORRUPT;
	}
	if (n_features != s->n_features)
	{
		pgml_reader_fail(in, "The booster's feature count does not match");
		goto corrupt;
	}
	in->pos += (size_t) len;
	*state = s;
	return PGML_OK;

corrupt:
	pgml_free(params);
	xgb_free(s);
	return PGML_ERR_CORRUPT;
}

const pgml_algorithm pgml_algo_xgboost = {
	.name = "xgboost",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = xgb_params,
	.params_classification = xgb_params,
	.params_other = NULL,
	.multi_target = true,
	.has_proba = true,
	.fit = xgb_fit,
	.n_outputs = xgb_n_outputs,
	.predict = xgb_predict,
	.params = xgb_params_json,
	.save = xgb_save,
	.load = xgb_load,
	.free = xgb_free,
};

const pgml_algorithm pgml_algo_xgboost_random_forest = {
	.name = "xgboost_random_forest",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = xgb_params,
	.params_classification = xgb_params,
	.params_other = NULL,
	.multi_target = true,
	.has_proba = true,
	.fit = xgbrf_fit,
	.n_outputs = xgb_n_outputs,
	.predict = xgb_predict,
	.params = xgb_params_json,
	.save = xgb_save,
	.load = xgb_load,
	.free = xgb_free,
};
