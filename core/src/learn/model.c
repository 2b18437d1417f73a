/*
 * model.c — a fitted algorithm that predicts on its own: task, features, class labels, file format.
 *
 * Classification labels can be any float values (0/1, 1..3, -1/1); the model keeps their sorted distinct
 * values and hands algorithms class indices. Regression with several targets is fit once when the
 * algorithm is natively multi-output, else once per target.
 *
 * File format (little-endian, see buf.h), version PGML_MODEL_FORMAT:
 *
 *   "PGMLMODL"  magic, 8 bytes
 *   u32         format version
 *   str         algorithm name
 *   u32         task
 *   u64         n_features
 *   u64         n_targets
 *   f32s        class label values (classification only; else empty)
 *   u32         number of fitted states (1, or n_targets)
 *   per state:  u64 length, then the algorithm's own bytes (its save/load)
 *   32 bytes    SHA-256 of everything before it
 *
 * Loading checks the digest before parsing anything (a damaged file never reaches an algorithm's loader
 * or a third-party library), validates every field, bounds every algorithm's reader to its own section,
 * and requires the whole input to be consumed.
 */
#include "pgml/learn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pgml/json.h"
#include "pgml/sha256.h"

#define MAX_FEATURES (1u << 24)
#define MAX_TARGETS 4096
#define MAX_CLASSES (1u << 20)

struct pgml_model
{
	const pgml_algorithm *alg;
	pgml_task	task;
	size_t		n_features;
	size_t		n_targets;		/* values per row of pgml_model_predict */
	size_t		n_classes;
	float	   *classes;		/* n_classes label values, ascending */
	size_t		n_states;
	void	  **states;
};

void
pgml_model_free(pgml_model *model)
{
	if (model == NULL)
		return;
	for (size_t i = 0; i < model->n_states; i++)
		if (model->states[i] != NULL)
			model->alg->free(model->states[i]);
	pgml_free(model->states);
	pgml_free(model->classes);
	pgml_free(model);
}

pgml_task
pgml_model_task(const pgml_model *model)
{
	return model->task;
}

const char *
pgml_model_algorithm(const pgml_model *model)
{
	return model->alg->name;
}

size_t
pgml_model_n_features(const pgml_model *model)
{
	return model->n_features;
}

size_t
pgml_model_n_targets(const pgml_model *model)
{
	return model->n_targets;
}

size_t
pgml_model_n_classes(const pgml_model *model)
{
	return model->n_classes;
}

const float *
pgml_model_classes(const pgml_model *model)
{
	return model->classes;
}

json_t *
pgml_model_params(const pgml_model *model)
{
	if (model->alg->params == NULL || model->n_states == 0)
		return NULL;
	return model->alg->params(model->states[0]);
}

/* "a, b, c": the algorithms that support a task, for messages. */
static void
list_algorithms(pgml_task task, char *buf, size_t size)
{
	size_t		used = 0;

	buf[0] = '\0';
	for (const pgml_algorithm *const *a = pgml_algorithms(); *a != NULL && used < size; a++)
	{
		if (!((*a)->tasks & PGML_TASK_BIT(task)))
			continue;
		used += (size_t) snprintf(buf + used, size - used, "%s%s", used ? ", " : "", (*a)->name);
	}
}

static const char *const *
params_for(const pgml_algorithm *alg, pgml_task task)
{
	static const char *const none[] = {NULL};
	const char *const *list;

	switch (task)
	{
		case PGML_TASK_REGRESSION:
			list = alg->params_regression;
			break;
		case PGML_TASK_CLASSIFICATION:
			list = alg->params_classification;
			break;
		default:
			list = alg->params_other;
			break;
	}
	return list ? list : none;
}

pgml_status
pgml_algorithm_lookup(const char *name, pgml_task task, const pgml_algorithm **out, pgml_err *err)
{
	const pgml_algorithm *alg = pgml_algorithm_find(name);
	char		names[PGML_ERR_DETAIL_LEN / 2];

	*out = NULL;
	if (alg != NULL && (alg->tasks & PGML_TASK_BIT(task)))
	{
		*out = alg;
		return PGML_OK;
	}
	list_algorithms(task, names, sizeof(names));
	if (alg == NULL)
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "algorithm \"%s\" is not available", name ? name : "(null)");
	else
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "algorithm \"%s\" does not support %s", name,
				   pgml_task_name(task));
	if (names[0])
		pgml_err_detail(err, "Algorithms available for %s: %s.", pgml_task_name(task), names);
	else
		pgml_err_detail(err, "No algorithm for %s is available in this build.", pgml_task_name(task));
	return PGML_ERR_NOT_SUPPORTED;
}

static int
cmp_float(const void *a, const void *b)
{
	float		x = *(const float *) a;
	float		y = *(const float *) b;

	return (x > y) - (x < y);
}

/* The index of label value v in the sorted classes (binary search); -1 if absent. */
static long
class_index(const float *classes, size_t n, float v)
{
	size_t		lo = 0;
	size_t		hi = n;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (classes[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < n && classes[lo] == v) ? (long) lo : -1;
}

static pgml_status
check_data(const pgml_data *d, pgml_task task, pgml_err *err)
{
	size_t		total;

	if (d->n_rows == 0)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no rows to train on");
	if (d->n_features == 0)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no features to train on");
	if (d->n_features > MAX_FEATURES)
		return pgml_error(err, PGML_ERR_LIMIT, "too many features: %zu", d->n_features);
	if (!pgml_mul_size(d->n_rows, d->n_features, &total))
		return pgml_error(err, PGML_ERR_LIMIT, "the training data is too large");
	for (size_t i = 0; i < total; i++)
	{
		if (!isfinite(d->x[i]))
		{
			pgml_error(err, PGML_ERR_DATA, "training data contains %s",
					   isnan(d->x[i]) ? "a missing value (NaN)" : "an infinite value");
			pgml_err_detail(err, "Row %zu, feature %zu.", i / d->n_features + 1, i % d->n_features + 1);
			pgml_err_hint(err, "Impute missing values with the preprocess argument, or filter them out.");
			return PGML_ERR_DATA;
		}
	}
	if (task == PGML_TASK_REGRESSION || task == PGML_TASK_CLASSIFICATION)
	{
		size_t		ny;

		if (d->y == NULL || d->n_targets == 0)
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "%s needs a label", pgml_task_name(task));
		if (task == PGML_TASK_CLASSIFICATION && d->n_targets != 1)
			return pgml_error(err, PGML_ERR_NOT_SUPPORTED, "classification supports one label column, not %zu",
							  d->n_targets);
		if (d->n_targets > MAX_TARGETS)
			return pgml_error(err, PGML_ERR_LIMIT, "too many labels: %zu", d->n_targets);
		ny = d->n_rows * d->n_targets;
		for (size_t i = 0; i < ny; i++)
			if (!isfinite(d->y[i]))
				return pgml_error(err, PGML_ERR_DATA, "label of row %zu is %s", i / d->n_targets + 1,
								  isnan(d->y[i]) ? "NaN" : "infinite");
	}
	return PGML_OK;
}

/* Fits one state on train (whose y is already what the algorithm expects). */
static pgml_status
fit_state(const pgml_algorithm *alg, const pgml_fit_args *args, const pgml_data *train, void **state,
		  pgml_err *err)
{
	*state = NULL;
	return alg->fit(args, train, state, err);
}

pgml_status
pgml_model_fit(const char *algorithm, pgml_task task, const json_t *hyperparams, const pgml_data *train,
			   uint64_t seed, pgml_pool *pool, pgml_model **out, pgml_err *err)
{
	const pgml_algorithm *alg;
	pgml_model *m;
	pgml_fit_args args;
	pgml_data	view = *train;
	float	   *y_owned = NULL;
	json_t	   *empty = NULL;
	pgml_status rc;

	*out = NULL;
	if ((rc = pgml_algorithm_lookup(algorithm, task, &alg, err)) != PGML_OK)
		return rc;
	if (hyperparams != NULL && !json_is_object(hyperparams))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "hyperparams must be a JSON object, not %s",
						  pgml_json_type_name(hyperparams));
	if ((rc = pgml_json_check_keys(hyperparams, params_for(alg, task), "hyperparameter", err)) != PGML_OK)
	{
		/* name the algorithm too: "unknown hyperparameter "x" for xgboost" reads better in SQL */
		size_t		len = strlen(err->msg);

		snprintf(err->msg + len, sizeof(err->msg) - len, " for %s", alg->name);
		return rc;
	}
	if ((rc = check_data(train, task, err)) != PGML_OK)
		return rc;

	m = pgml_calloc(1, sizeof(pgml_model));
	if (m == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	m->alg = alg;
	m->task = task;
	m->n_features = train->n_features;

	if (hyperparams == NULL)
	{
		empty = json_object();
		if (empty == NULL)
		{
			pgml_model_free(m);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
	}
	args.task = task;
	args.hyperparams = hyperparams ? hyperparams : empty;
	args.n_classes = 0;
	args.seed = seed;
	args.pool = pool;

	if (task == PGML_TASK_CLASSIFICATION)
	{
		float	   *sorted = pgml_malloc(train->n_rows * sizeof(float));
		size_t		k = 0;

		y_owned = pgml_malloc(train->n_rows * sizeof(float));
		if (sorted == NULL || y_owned == NULL)
		{
			pgml_free(sorted);
			rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			goto fail;
		}
		memcpy(sorted, train->y, train->n_rows * sizeof(float));
		qsort(sorted, train->n_rows, sizeof(float), cmp_float);
		for (size_t i = 0; i < train->n_rows; i++)
			if (k == 0 || sorted[i] != sorted[k - 1])
				sorted[k++] = sorted[i];
		if (k < 2)
		{
			pgml_free(sorted);
			rc = pgml_error(err, PGML_ERR_DATA, "classification needs at least two classes");
			pgml_err_detail(err, "Every training row has the label %g.", (double) train->y[0]);
			goto fail;
		}
		if (k > MAX_CLASSES)
		{
			pgml_free(sorted);
			rc = pgml_error(err, PGML_ERR_LIMIT, "too many classes: %zu", k);
			goto fail;
		}
		m->classes = pgml_realloc(sorted, k * sizeof(float));
		if (m->classes == NULL)
		{
			pgml_free(sorted);
			rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			goto fail;
		}
		m->n_classes = k;
		for (size_t i = 0; i < train->n_rows; i++)
			y_owned[i] = (float) class_index(m->classes, k, train->y[i]);
		view.y = y_owned;
		args.n_classes = (int) k;
		m->n_targets = 1;
	}
	else if (task == PGML_TASK_REGRESSION)
		m->n_targets = train->n_targets;
	else
	{
		view.y = NULL;
		view.n_targets = 0;
	}

	if (task == PGML_TASK_REGRESSION && train->n_targets > 1 && !alg->multi_target)
	{
		/* one fit per target */
		m->n_states = train->n_targets;
		m->states = pgml_calloc(m->n_states, sizeof(void *));
		y_owned = pgml_malloc(train->n_rows * sizeof(float));
		if (m->states == NULL || y_owned == NULL)
		{
			rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			goto fail;
		}
		view.y = y_owned;
		view.n_targets = 1;
		for (size_t t = 0; t < train->n_targets; t++)
		{
			for (size_t i = 0; i < train->n_rows; i++)
				y_owned[i] = train->y[i * train->n_targets + t];
			if ((rc = fit_state(alg, &args, &view, &m->states[t], err)) != PGML_OK)
				goto fail;
		}
	}
	else
	{
		m->n_states = 1;
		m->states = pgml_calloc(1, sizeof(void *));
		if (m->states == NULL)
		{
			rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			goto fail;
		}
		if ((rc = fit_state(alg, &args, &view, &m->states[0], err)) != PGML_OK)
			goto fail;
	}

	if (task == PGML_TASK_CLUSTERING)
		m->n_targets = 1;
	else if (task == PGML_TASK_DECOMPOSITION)
		m->n_targets = alg->n_outputs(m->states[0]);

	pgml_free(y_owned);
	json_decref(empty);
	*out = m;
	return PGML_OK;

fail:
	pgml_free(y_owned);
	json_decref(empty);
	pgml_model_free(m);
	return rc;
}

/* Runs every state on x into a scratch buffer of n_rows × (outputs of all states). */
static pgml_status
raw_predict(const pgml_model *model, const float *x, size_t n_rows, float **raw, size_t *width,
			pgml_err *err)
{
	size_t		w = 0;
	size_t		total;
	float	   *buf;
	float	   *part = NULL;

	*raw = NULL;
	for (size_t s = 0; s < model->n_states; s++)
		w += model->alg->n_outputs(model->states[s]);
	if (!pgml_mul_size(n_rows, w, &total))
		return pgml_error(err, PGML_ERR_LIMIT, "too many rows to predict");
	buf = pgml_malloc(total ? total * sizeof(float) : 1);
	if (buf == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	if (model->n_states == 1)
	{
		pgml_status rc = model->alg->predict(model->states[0], x, n_rows, model->n_features, buf, err);

		if (rc != PGML_OK)
		{
			pgml_free(buf);
			return rc;
		}
	}
	else
	{
		/* per-target states with one output each: interleave into rows */
		part = pgml_malloc(n_rows ? n_rows * sizeof(float) : 1);
		if (part == NULL)
		{
			pgml_free(buf);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
		for (size_t s = 0; s < model->n_states; s++)
		{
			pgml_status rc = model->alg->predict(model->states[s], x, n_rows, model->n_features, part, err);

			if (rc != PGML_OK)
			{
				pgml_free(part);
				pgml_free(buf);
				return rc;
			}
			for (size_t i = 0; i < n_rows; i++)
				buf[i * w + s] = part[i];
		}
		pgml_free(part);
	}
	*raw = buf;
	*width = w;
	return PGML_OK;
}

pgml_status
pgml_model_predict(const pgml_model *model, const float *x, size_t n_rows, float *out, pgml_err *err)
{
	float	   *raw;
	size_t		w;
	pgml_status rc;

	if (model->task != PGML_TASK_CLASSIFICATION)
	{
		if (model->n_states == 1)
			return model->alg->predict(model->states[0], x, n_rows, model->n_features, out, err);
		if ((rc = raw_predict(model, x, n_rows, &raw, &w, err)) != PGML_OK)
			return rc;
		memcpy(out, raw, n_rows * w * sizeof(float));
		pgml_free(raw);
		return PGML_OK;
	}

	if ((rc = raw_predict(model, x, n_rows, &raw, &w, err)) != PGML_OK)
		return rc;
	if (w != model->n_classes)
	{
		pgml_free(raw);
		return pgml_error(err, PGML_ERR_INTERNAL, "algorithm %s returned %zu scores for %zu classes",
						  model->alg->name, w, model->n_classes);
	}
	for (size_t i = 0; i < n_rows; i++)
	{
		const float *row = raw + i * w;
		size_t		best = 0;

		for (size_t c = 1; c < w; c++)
			if (row[c] > row[best])
				best = c;
		out[i] = model->classes[best];
	}
	pgml_free(raw);
	return PGML_OK;
}

pgml_status
pgml_model_predict_proba(const pgml_model *model, const float *x, size_t n_rows, float *out, pgml_err *err)
{
	float	   *raw;
	size_t		w;
	pgml_status rc;

	if (model->task != PGML_TASK_CLASSIFICATION)
		return pgml_error(err, PGML_ERR_NOT_SUPPORTED, "probabilities are only available for classification");
	if (!model->alg->has_proba)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "algorithm %s does not estimate probabilities",
				   model->alg->name);
		pgml_err_hint(err, "Use pgml.predict for the predicted class.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if ((rc = raw_predict(model, x, n_rows, &raw, &w, err)) != PGML_OK)
		return rc;
	memcpy(out, raw, n_rows * w * sizeof(float));
	pgml_free(raw);
	return PGML_OK;
}

pgml_status
pgml_model_save(const pgml_model *model, pgml_buf *out, pgml_err *err)
{
	size_t		start = out->len;

	pgml_buf_put(out, PGML_MODEL_MAGIC, 8);
	pgml_buf_put_u32(out, PGML_MODEL_FORMAT);
	pgml_buf_put_str(out, model->alg->name);
	pgml_buf_put_u32(out, (uint32_t) model->task);
	pgml_buf_put_u64(out, model->n_features);
	pgml_buf_put_u64(out, model->n_targets);
	pgml_buf_put_f32s(out, model->classes, model->n_classes);
	pgml_buf_put_u32(out, (uint32_t) model->n_states);
	for (size_t s = 0; s < model->n_states; s++)
	{
		pgml_buf	state;

		pgml_buf_init(&state);
		model->alg->save(model->states[s], &state);
		if (state.failed)
		{
			pgml_buf_free(&state);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
		pgml_buf_put_u64(out, state.len);
		pgml_buf_put(out, state.data, state.len);
		pgml_buf_free(&state);
	}
	if (!out->failed)
	{
		uint8_t		digest[32];

		pgml_sha256(out->data + start, out->len - start, digest);
		pgml_buf_put(out, digest, sizeof(digest));
	}
	return pgml_buf_status(out, err);
}

pgml_status
pgml_model_load(const void *data, size_t len, pgml_model **out, pgml_err *err)
{
	pgml_reader r;
	char		magic[8];
	uint32_t	format;
	char	   *name = NULL;
	uint32_t	task;
	pgml_model *m = NULL;
	size_t		n;
	uint32_t	n_states;
	pgml_status rc;

	*out = NULL;
	pgml_reader_init(&r, data, len, "model file", err);
	pgml_reader_get(&r, magic, 8);
	if (r.failed || memcmp(magic, PGML_MODEL_MAGIC, 8) != 0)
	{
		pgml_reader_fail(&r, "It does not start with the pgml model signature");
		return PGML_ERR_CORRUPT;
	}
	{
		uint8_t		digest[32];

		if (len < 8 + 4 + 32)
		{
			pgml_reader_fail(&r, "It is too short");
			return PGML_ERR_CORRUPT;
		}
		pgml_sha256(data, len - 32, digest);
		if (memcmp(digest, (const uint8_t *) data + len - 32, 32) != 0)
		{
			pgml_reader_fail(&r, "Its checksum does not match its contents");
			return PGML_ERR_CORRUPT;
		}
		r.len = len - 32;		/* the digest is not part of the body */
	}
	format = pgml_reader_u32(&r);
	if (!r.failed && (format == 0 || format > PGML_MODEL_FORMAT))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "model file format %u is not supported", format);
		pgml_err_detail(err, "This build reads formats 1 to %d.", PGML_MODEL_FORMAT);
		pgml_err_hint(err, "The model was saved by a newer pgml; upgrade the extension or retrain.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	name = pgml_reader_str(&r, 64);
	task = pgml_reader_u32(&r);
	if (r.failed)
		goto corrupt;
	if (name == NULL || task > PGML_TASK_DECOMPOSITION)
	{
		pgml_reader_fail(&r, "The algorithm or task is invalid");
		goto corrupt;
	}

	m = pgml_calloc(1, sizeof(pgml_model));
	if (m == NULL)
	{
		pgml_free(name);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	m->task = (pgml_task) task;
	m->alg = pgml_algorithm_find(name);
	if (m->alg == NULL || !(m->alg->tasks & PGML_TASK_BIT(task)))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "model file uses algorithm \"%s\" for %s, which this build does not provide",
				   name, pgml_task_name(m->task));
		pgml_free(name);
		pgml_model_free(m);
		return PGML_ERR_NOT_SUPPORTED;
	}
	pgml_free(name);
	name = NULL;

	m->n_features = (size_t) pgml_reader_u64(&r);
	m->n_targets = (size_t) pgml_reader_u64(&r);
	m->classes = pgml_reader_f32s(&r, SIZE_MAX, MAX_CLASSES, &n);
	m->n_classes = n;
	n_states = pgml_reader_u32(&r);
	if (r.failed)
		goto corrupt;
	if (m->n_features == 0 || m->n_features > MAX_FEATURES || m->n_targets == 0 || m->n_targets > MAX_FEATURES
		|| n_states == 0 || n_states > MAX_TARGETS
		|| (m->task == PGML_TASK_CLASSIFICATION) != (m->n_classes >= 2)
		|| (m->task == PGML_TASK_CLASSIFICATION && m->n_targets != 1)
		|| (n_states > 1 && n_states != m->n_targets))
	{
		pgml_reader_fail(&r, "The model's dimensions are inconsistent");
		goto corrupt;
	}
	for (size_t i = 1; i < m->n_classes; i++)
		if (!(m->classes[i] > m->classes[i - 1]))
		{
			pgml_reader_fail(&r, "The class labels are not in ascending order");
			goto corrupt;
		}

	m->states = pgml_calloc(n_states, sizeof(void *));
	if (m->states == NULL)
	{
		pgml_model_free(m);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	m->n_states = n_states;
	for (size_t s = 0; s < n_states; s++)
	{
		uint64_t	slen = pgml_reader_u64(&r);
		pgml_reader sub;

		if (r.failed)
			goto corrupt;
		if (slen > pgml_reader_remaining(&r))
		{
			pgml_reader_fail(&r, "A section is longer than the data");
			goto corrupt;
		}
		pgml_reader_init(&sub, r.data + r.pos, (size_t) slen, "model file", err);
		rc = m->alg->load(&sub, &m->states[s], err);
		if (rc == PGML_OK && pgml_reader_remaining(&sub) != 0)
			rc = pgml_reader_fail(&sub, "Unexpected bytes after the algorithm's state");
		if (rc != PGML_OK)
		{
			pgml_model_free(m);
			return rc;
		}
		r.pos += (size_t) slen;
	}
	if (pgml_reader_remaining(&r) != 0)
	{
		pgml_reader_fail(&r, "Unexpected bytes after the last section");
		goto corrupt;
	}
	/* the states must agree with the header */
	{
		size_t		w = 0;

		for (size_t s = 0; s < n_states; s++)
			w += m->alg->n_outputs(m->states[s]);
		if ((m->task == PGML_TASK_CLASSIFICATION && w != m->n_classes)
			|| (m->task == PGML_TASK_REGRESSION && w != m->n_targets)
			|| (m->task == PGML_TASK_CLUSTERING && w != 1)
			|| (m->task == PGML_TASK_DECOMPOSITION && w != m->n_targets))
		{
			pgml_reader_fail(&r, "The algorithm's state does not match the model's dimensions");
			goto corrupt;
		}
	}
	*out = m;
	return PGML_OK;

corrupt:
	pgml_free(name);
	pgml_model_free(m);
	return PGML_ERR_CORRUPT;
}
