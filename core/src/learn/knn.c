/*
 * knn.c — k nearest neighbours: scikit-learn's KNeighborsRegressor and KNeighborsClassifier (algorithm knn).
 *
 * The fit keeps the training data; predict searches it exhaustively for every row (brute force, whatever
 * `algorithm` says: "auto", "ball_tree", "kd_tree" and "brute" are accepted and give the same neighbours;
 * leaf_size is accepted and unused). Distances are Minkowski distances in double precision from the float
 * data, computed as (Σ |a - b|^p)^(1/p) (p = 1 and p = 2 without pow); the search compares the p-th
 * powers and abandons a training row as soon as its partial sum cannot beat the current k-th neighbour.
 *
 * Ties: the training rows are scanned in order into a max-heap of the k nearest that follows the rules of
 * scikit-learn's neighbour heap (see heap_push), so when several rows are at exactly the k-th distance the
 * same ones are kept as by scikit-learn's brute-force search scanning the rows in order (what it does for
 * up to 256 training rows, or on one thread). Its trees, or its brute force split over threads, visit the
 * rows in another order and may keep other rows among exactly tied ones. Exact ties are common with integer
 * or one-hot features; with such data scikit-learn's Euclidean distances (computed as
 * |x|² - 2 x·y + |y|²) are exact too.
 *
 * Outputs per row:
 *   regression      per target, the mean of the neighbours' values (weights "uniform") or their average
 *                   weighted by 1 / distance ("distance"; when a neighbour is at distance 0, the neighbours
 *                   at distance 0 share all the weight, as in scikit-learn)
 *   classification  per class, the neighbours' share of the total weight (scikit-learn's predict_proba);
 *                   the predicted class is the one with the most weight, ties going to the lowest class
 *                   (scikit-learn's mode and weighted_mode); if float rounding of the shares would make
 *                   their argmax disagree, that class's share is raised by one unit in the last place
 *
 * metric must be "minkowski" (other scikit-learn metrics are not supported), metric_params null or empty,
 * p at least 1 (scikit-learn rejects p < 1 for the Minkowski metric too). n_jobs is accepted; predict runs
 * on the calling thread and polls the stop hook between blocks of rows.
 *
 * Saved form (inside the model file), little-endian:
 *   u32 format (1) · u8 task · u8 weights (0 uniform, 1 distance) · f64 p · u64 n_neighbors · u64 n_rows ·
 *   u64 n_features · u64 n_outputs (targets or classes) · f32s x (n_rows × n_features) ·
 *   f32s y (n_rows × targets, or n_rows class indices) · str effective hyperparameters (JSON)
 */
#include "algorithms.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "pgml/json.h"

#define KNN_FORMAT			1
#define MAX_FEATURES		((size_t) 1 << 26)
#define MAX_OUTPUTS			((size_t) 1 << 20)
#define MAX_CELLS			((size_t) 1 << 34)
#define MAX_PARAMS_JSON		65536
#define STOP_WORK			((size_t) 1 << 24)	/* flops (about) between two polls of the stop hook */

typedef struct knn_state
{
	pgml_task	task;
	bool		distance;		/* weights "distance" */
	double		p;
	size_t		k;
	size_t		n_rows;
	size_t		n_features;
	size_t		n_outputs;		/* targets (regression) or classes */
	float	   *x;				/* n_rows × n_features */
	float	   *y;				/* n_rows × n_outputs targets, or n_rows class indices */
	json_t	   *params;
} knn_state;

/* A neighbour candidate. */
typedef struct neighbor
{
	double		rdist;			/* Σ |a - b|^p */
	size_t		index;
} neighbor;

static const char *const no_params[] = {NULL};

static const char *const knn_params[] = {
	"n_neighbors", "weights", "algorithm", "leaf_size", "p", "metric", "metric_params", "n_jobs", NULL
};

/* The value of key in hp, or NULL when it is missing or JSON null. */
static const json_t *
hp_value(const json_t *hp, const char *key)
{
	const json_t *v;

	if (hp == NULL || !json_is_object(hp))
		return NULL;
	v = json_object_get(hp, key);
	return v == NULL || json_is_null(v) ? NULL : v;
}

/* key from hp, or the default when missing or null; NULL when out of memory. */
static json_t *
param_or(const json_t *hp, const char *key, json_t *def)
{
	const json_t *v = hp_value(hp, key);

	if (v == NULL)
		return def;
	json_decref(def);
	return json_deep_copy(v);
}

/* The effective hyperparameters, in the order of scikit-learn's signature. NULL: no memory. */
static json_t *
effective_params(const json_t *hp)
{
	json_t	   *params = json_object();

	if (params == NULL ||
		json_object_set_new(params, "n_neighbors", param_or(hp, "n_neighbors", json_integer(5))) != 0 ||
		json_object_set_new(params, "weights", param_or(hp, "weights", json_string("uniform"))) != 0 ||
		json_object_set_new(params, "algorithm", param_or(hp, "algorithm", json_string("auto"))) != 0 ||
		json_object_set_new(params, "leaf_size", param_or(hp, "leaf_size", json_integer(30))) != 0 ||
		json_object_set_new(params, "p", param_or(hp, "p", json_integer(2))) != 0 ||
		json_object_set_new(params, "metric", param_or(hp, "metric", json_string("minkowski"))) != 0 ||
		json_object_set_new(params, "metric_params", param_or(hp, "metric_params", json_null())) != 0 ||
		json_object_set_new(params, "n_jobs", param_or(hp, "n_jobs", json_null())) != 0)
	{
		json_decref(params);
		return NULL;
	}
	return params;
}

/* A string hyperparameter that must be one of `choices`; *index receives its position. */
static pgml_status
hp_choice(const json_t *hp, const char *key, const char *def, const char *const *choices, int *index,
		  pgml_err *err)
{
	const char *value;
	char		list[256];
	size_t		used = 0;
	pgml_status rc = pgml_json_get_string(hp, key, def, &value, err);

	if (rc != PGML_OK)
		return rc;
	for (int i = 0; choices[i] != NULL; i++)
	{
		if (strcmp(choices[i], value) == 0)
		{
			*index = i;
			return PGML_OK;
		}
	}
	list[0] = '\0';
	for (int i = 0; choices[i] != NULL && used < sizeof(list); i++)
	{
		int			w = snprintf(list + used, sizeof(list) - used, "%s\"%s\"",
								 i == 0 ? "" : choices[i + 1] == NULL ? " and " : ", ", choices[i]);

		if (w < 0)
			break;
		used += (size_t) w;
	}
	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"%s\": \"%s\"", key, value);
	pgml_err_detail(err, "Valid values are %s.", list);
	return PGML_ERR_INVALID_ARGUMENT;
}

/* The metric: "minkowski"; scikit-learn's other metric names are valid there but not implemented here. */
static pgml_status
hp_metric(const json_t *hp, pgml_err *err)
{
	static const char *const others[] = {
		"braycurtis", "canberra", "chebyshev", "cityblock", "correlation", "cosine", "dice", "euclidean",
		"hamming", "haversine", "infinity", "jaccard", "kulsinski", "l1", "l2", "mahalanobis", "manhattan",
		"matching", "nan_euclidean", "p", "precomputed", "pyfunc", "rogerstanimoto", "russellrao",
		"seuclidean", "sokalmichener", "sokalsneath", "sqeuclidean", "wminkowski", "yule", NULL
	};
	const char *metric;
	pgml_status rc = pgml_json_get_string(hp, "metric", "minkowski", &metric, err);

	if (rc != PGML_OK || strcmp(metric, "minkowski") == 0)
		return rc;
	for (const char *const *m = others; *m != NULL; m++)
	{
		if (strcmp(*m, metric) == 0)
		{
			pgml_error(err, PGML_ERR_NOT_SUPPORTED, "metric \"%s\" is not supported", metric);
			pgml_err_detail(err, "Only metric \"minkowski\" is implemented.");
			pgml_err_hint(err, "Use metric \"minkowski\" with p 1 (Manhattan) or 2 (Euclidean).");
			return PGML_ERR_NOT_SUPPORTED;
		}
	}
	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"metric\": \"%s\"", metric);
	pgml_err_detail(err, "The only metric implemented is \"minkowski\".");
	return PGML_ERR_INVALID_ARGUMENT;
}

/* Parses the hyperparameters into st (k, distance, p). */
static pgml_status
parse_knn(const json_t *hp, knn_state *st, pgml_err *err)
{
	static const char *const weights[] = {"uniform", "distance", NULL};
	static const char *const algorithms[] = {"auto", "ball_tree", "kd_tree", "brute", NULL};
	const json_t *metric_params = hp_value(hp, "metric_params");
	int64_t		k;
	int64_t		leaf_size;
	int64_t		n_jobs;
	int			w;
	int			a;
	pgml_status rc;

	if ((rc = pgml_json_get_int(hp, "n_neighbors", 5, 1, INT64_MAX, &k, err)) != PGML_OK ||
		(rc = hp_choice(hp, "weights", "uniform", weights, &w, err)) != PGML_OK ||
		(rc = hp_choice(hp, "algorithm", "auto", algorithms, &a, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "leaf_size", 30, 1, INT64_MAX, &leaf_size, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "p", 2.0, 1.0, DBL_MAX, &st->p, err)) != PGML_OK ||
		(rc = hp_metric(hp, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "n_jobs", 0, INT_MIN, INT_MAX, &n_jobs, err)) != PGML_OK)
		return rc;
	if (metric_params != NULL && !(json_is_object(metric_params) && json_object_size(metric_params) == 0))
	{
		if (!json_is_object(metric_params))
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"metric_params\" must be an object or null, not %s",
							  pgml_json_type_name(metric_params));
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "metric_params are not supported");
		pgml_err_detail(err, "Only metric_params null is implemented.");
		pgml_err_hint(err, "Give the Minkowski power as hyperparameter \"p\".");
		return PGML_ERR_NOT_SUPPORTED;
	}
	st->k = (size_t) k;
	st->distance = w == 1;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Fit
 * ------------------------------------------------------------------------------------------------- */

static pgml_status
out_of_memory(pgml_err *err)
{
	return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
}

static void
knn_free(void *state)
{
	knn_state  *st = state;

	if (st == NULL)
		return;
	pgml_free(st->x);
	pgml_free(st->y);
	json_decref(st->params);
	pgml_free(st);
}

/* Checks the training data: sizes, limits, finite values, class indices. */
static pgml_status
check_data(const pgml_fit_args *args, const pgml_data *d, pgml_err *err)
{
	size_t		cells;
	size_t		ycells;

	if (d == NULL || d->x == NULL || d->n_rows == 0)
		return pgml_error(err, PGML_ERR_DATA, "training data is empty");
	if (d->n_features == 0)
		return pgml_error(err, PGML_ERR_DATA, "training data has no features");
	if (d->y == NULL || d->n_targets == 0 || (args->task == PGML_TASK_CLASSIFICATION && d->n_targets != 1))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "%s needs %s",
						  args->task == PGML_TASK_REGRESSION ? "regression" : "classification",
						  args->task == PGML_TASK_REGRESSION ? "a target" : "exactly one label per row");
	if (d->n_features > MAX_FEATURES || d->n_targets > MAX_OUTPUTS ||
		!pgml_mul_size(d->n_rows, d->n_features, &cells) || cells > MAX_CELLS ||
		!pgml_mul_size(d->n_rows, d->n_targets, &ycells) || ycells > MAX_CELLS)
	{
		pgml_error(err, PGML_ERR_LIMIT, "training data is too large for k nearest neighbours");
		pgml_err_detail(err, "It has %zu rows and %zu features.", d->n_rows, d->n_features);
		return PGML_ERR_LIMIT;
	}
	for (size_t i = 0; i < cells; i++)
	{
		if (!isfinite(d->x[i]))
		{
			pgml_error(err, PGML_ERR_DATA, "training data contains a non-finite value");
			pgml_err_detail(err, "Feature %zu of row %zu is %g.", i % d->n_features + 1,
							i / d->n_features + 1, (double) d->x[i]);
			return PGML_ERR_DATA;
		}
	}
	if (args->task == PGML_TASK_REGRESSION)
	{
		for (size_t i = 0; i < ycells; i++)
		{
			if (!isfinite(d->y[i]))
			{
				pgml_error(err, PGML_ERR_DATA, "the target contains a non-finite value");
				pgml_err_detail(err, "Target %zu of row %zu is %g.", i % d->n_targets + 1, i / d->n_targets + 1,
								(double) d->y[i]);
				return PGML_ERR_DATA;
			}
		}
		return PGML_OK;
	}
	if (args->n_classes < 2 || (size_t) args->n_classes > MAX_OUTPUTS)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid number of classes: %d", args->n_classes);
		pgml_err_detail(err, "Classification needs 2 to %zu classes.", MAX_OUTPUTS);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	for (size_t i = 0; i < d->n_rows; i++)
	{
		float		c = d->y[i];

		if (!(c >= 0 && c < (float) args->n_classes) || c != floorf(c))
		{
			pgml_error(err, PGML_ERR_DATA, "invalid class index %g", (double) c);
			pgml_err_detail(err, "Row %zu has it; classes are numbered 0 to %d.", i + 1, args->n_classes - 1);
			return PGML_ERR_DATA;
		}
	}
	return PGML_OK;
}

static pgml_status
knn_fit(const pgml_fit_args *args, const pgml_data *data, void **state, pgml_err *err)
{
	knn_state  *st;
	size_t		ycells;
	pgml_status rc;

	*state = NULL;
	if (args == NULL || (args->task != PGML_TASK_REGRESSION && args->task != PGML_TASK_CLASSIFICATION))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "algorithm knn does not support %s",
				   args == NULL ? "this task" : pgml_task_name(args->task));
		pgml_err_detail(err, "It supports regression and classification.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if ((rc = pgml_json_check_keys(args->hyperparams, knn_params, "hyperparameter", err)) != PGML_OK ||
		(rc = check_data(args, data, err)) != PGML_OK)
		return rc;
	st = pgml_calloc(1, sizeof(knn_state));
	if (st == NULL)
		return out_of_memory(err);
	if ((rc = parse_knn(args->hyperparams, st, err)) != PGML_OK)
	{
		knn_free(st);
		return rc;
	}
	if (st->k > data->n_rows)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "n_neighbors is larger than the number of training rows");
		pgml_err_detail(err, "n_neighbors is %zu; the training data have %zu rows.", st->k, data->n_rows);
		knn_free(st);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	st->task = args->task;
	st->n_rows = data->n_rows;
	st->n_features = data->n_features;
	st->n_outputs = args->task == PGML_TASK_REGRESSION ? data->n_targets : (size_t) args->n_classes;
	ycells = data->n_rows * (args->task == PGML_TASK_REGRESSION ? data->n_targets : 1);
	st->x = pgml_malloc(data->n_rows * data->n_features * sizeof(float));
	st->y = pgml_malloc(ycells * sizeof(float));
	st->params = effective_params(args->hyperparams);
	if (st->x == NULL || st->y == NULL || st->params == NULL)
	{
		knn_free(st);
		return out_of_memory(err);
	}
	memcpy(st->x, data->x, data->n_rows * data->n_features * sizeof(float));
	memcpy(st->y, data->y, ycells * sizeof(float));
	*state = st;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Predict
 * ------------------------------------------------------------------------------------------------- */

/*
 * Puts a row at distance r into the max-heap of the k nearest found so far, which replaces its root (the
 * farthest) only when r is strictly smaller, then sifts down, moving to the left child when both children
 * are as far. Slots not filled yet hold +inf (real distances are clamped to DBL_MAX). These are exactly the
 * rules of scikit-learn's neighbour heap, so rows tied with the k-th distance are kept or dropped as there.
 */
static void
heap_push(neighbor *heap, size_t k, double r, size_t index)
{
	size_t		i = 0;

	if (!(r < heap[0].rdist))
		return;
	for (;;)
	{
		size_t		l = 2 * i + 1;
		size_t		child;

		if (l >= k)
			break;
		if (l + 1 >= k || heap[l].rdist >= heap[l + 1].rdist)
			child = l;
		else
			child = l + 1;
		if (!(r < heap[child].rdist))
			break;
		heap[i] = heap[child];
		i = child;
	}
	heap[i].rdist = r;
	heap[i].index = index;
}

/*
 * Σ |q - b|^p over the features (q already in double), or a value >= bound as soon as the partial sum
 * reaches bound (the row then cannot be a neighbour). Four running sums, combined as (s0 + s1) + (s2 + s3):
 * each only grows and the combination is monotone, so a partial combination never exceeds the final one
 * and abandoning never changes which rows are neighbours.
 */
static double
rdist_bounded(const knn_state *st, const double *q, const float *b, double bound)
{
	size_t		n = st->n_features;
	size_t		j = 0;
	double		s0 = 0,
				s1 = 0,
				s2 = 0,
				s3 = 0;

	if (st->p == 2.0)
	{
		while (j + 4 <= n)
		{
			double		d0 = q[j] - b[j];
			double		d1 = q[j + 1] - b[j + 1];
			double		d2 = q[j + 2] - b[j + 2];
			double		d3 = q[j + 3] - b[j + 3];

			s0 += d0 * d0;
			s1 += d1 * d1;
			s2 += d2 * d2;
			s3 += d3 * d3;
			j += 4;
			if ((j & 15) == 0 && (s0 + s1) + (s2 + s3) >= bound)
				return (s0 + s1) + (s2 + s3);
		}
		for (; j < n; j++)
			s0 += (q[j] - b[j]) * (q[j] - b[j]);
	}
	else if (st->p == 1.0)
	{
		while (j + 4 <= n)
		{
			s0 += fabs(q[j] - b[j]);
			s1 += fabs(q[j + 1] - b[j + 1]);
			s2 += fabs(q[j + 2] - b[j + 2]);
			s3 += fabs(q[j + 3] - b[j + 3]);
			j += 4;
			if ((j & 15) == 0 && (s0 + s1) + (s2 + s3) >= bound)
				return (s0 + s1) + (s2 + s3);
		}
		for (; j < n; j++)
			s0 += fabs(q[j] - b[j]);
	}
	else
	{
		for (; j < n; j++)
		{
			s0 += pow(fabs(q[j] - b[j]), st->p);
			if ((j & 7) == 7 && s0 >= bound)
				return s0;
		}
	}
	return (s0 + s1) + (s2 + s3);
}

/* The k nearest training rows of q (see heap_push), sorted by distance then row, into nb (k entries). */
static void
nearest(const knn_state *st, const double *q, neighbor *nb)
{
	size_t		k = st->k;

	for (size_t i = 0; i < k; i++)
	{
		nb[i].rdist = INFINITY;
		nb[i].index = 0;
	}
	for (size_t i = 0; i < st->n_rows; i++)
	{
		double		r = rdist_bounded(st, q, st->x + i * st->n_features, nb[0].rdist);

		heap_push(nb, k, r > DBL_MAX ? DBL_MAX : r, i);
	}
	/* insertion sort, nearest first */
	for (size_t i = 1; i < k; i++)
	{
		neighbor	t = nb[i];
		size_t		j = i;

		while (j > 0 && (nb[j - 1].rdist > t.rdist || (nb[j - 1].rdist == t.rdist && nb[j - 1].index > t.index)))
		{
			nb[j] = nb[j - 1];
			j--;
		}
		nb[j] = t;
	}
}

/*
 * The neighbours' weights: 1 for "uniform"; 1 / distance for "distance", except that when some neighbour is
 * at distance 0 (1 / distance infinite), those neighbours weigh 1 and the others 0, as in scikit-learn.
 */
static void
neighbor_weights(const knn_state *st, const neighbor *nb, double *w)
{
	bool		at_zero = false;

	for (size_t i = 0; i < st->k; i++)
	{
		double		d;

		if (!st->distance)
		{
			w[i] = 1;
			continue;
		}
		d = st->p == 1.0 ? nb[i].rdist : st->p == 2.0 ? sqrt(nb[i].rdist) : pow(nb[i].rdist, 1.0 / st->p);
		w[i] = 1.0 / d;
		if (isinf(w[i]))
			at_zero = true;
	}
	if (at_zero)
		for (size_t i = 0; i < st->k; i++)
			w[i] = isinf(w[i]) ? 1.0 : 0.0;
}

/* Raises out[label] just above the other values if it is not already their first maximum. */
static void
force_argmax(float *o, size_t n, size_t label)
{
	size_t		best = 0;
	float		top = -INFINITY;

	for (size_t c = 1; c < n; c++)
		if (o[c] > o[best])
			best = c;
	if (best == label)
		return;
	for (size_t c = 0; c < n; c++)
		if (c != label && o[c] > top)
			top = o[c];
	o[label] = nextafterf(top, INFINITY);
}

static size_t
knn_n_outputs(const void *state)
{
	const knn_state *st = state;

	return st ? st->n_outputs : 0;
}

static pgml_status
knn_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out, pgml_err *err)
{
	const knn_state *st = state;
	neighbor   *nb;
	double	   *w;
	double	   *acc;
	double	   *q;
	size_t		poll;
	pgml_status rc = PGML_OK;

	if (st == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "model is not fitted");
	if (n_features != st->n_features)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "wrong number of features");
		pgml_err_detail(err, "The model was trained with %zu features; the input has %zu.", st->n_features,
						n_features);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (n_rows == 0)
		return PGML_OK;
	if (x == NULL || out == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no input to predict");
	poll = STOP_WORK / (st->n_rows * st->n_features + 1);
	if (poll == 0)
		poll = 1;
	nb = pgml_malloc(st->k * sizeof(neighbor));
	w = pgml_malloc(st->k * sizeof(double));
	acc = pgml_malloc(st->n_outputs * sizeof(double));
	q = pgml_malloc(n_features * sizeof(double));
	if (nb == NULL || w == NULL || acc == NULL || q == NULL)
	{
		pgml_free(nb);
		pgml_free(w);
		pgml_free(acc);
		pgml_free(q);
		return out_of_memory(err);
	}
	for (size_t i = 0; i < n_rows; i++)
	{
		float	   *o = out + i * st->n_outputs;
		double		total = 0;

		if (i % poll == poll - 1 && (rc = pgml_check_stop(err)) != PGML_OK)
			break;
		for (size_t j = 0; j < n_features; j++)
			q[j] = x[i * n_features + j];
		nearest(st, q, nb);
		neighbor_weights(st, nb, w);
		for (size_t c = 0; c < st->n_outputs; c++)
			acc[c] = 0;
		for (size_t j = 0; j < st->k; j++)
			total += w[j];
		if (st->task == PGML_TASK_REGRESSION)
		{
			for (size_t j = 0; j < st->k; j++)
			{
				const float *y = st->y + nb[j].index * st->n_outputs;

				for (size_t t = 0; t < st->n_outputs; t++)
					acc[t] += st->distance ? y[t] * w[j] : y[t];
			}
			for (size_t t = 0; t < st->n_outputs; t++)
				o[t] = (float) (st->distance ? acc[t] / total : acc[t] / (double) st->k);
		}
		else
		{
			size_t		label = 0;

			for (size_t j = 0; j < st->k; j++)
				acc[(size_t) st->y[nb[j].index]] += w[j];
			for (size_t c = 1; c < st->n_outputs; c++)
				if (acc[c] > acc[label])
					label = c;
			if (total == 0)
				total = 1;
			for (size_t c = 0; c < st->n_outputs; c++)
				o[c] = (float) (acc[c] / total);
			force_argmax(o, st->n_outputs, label);
		}
	}
	pgml_free(nb);
	pgml_free(w);
	pgml_free(acc);
	pgml_free(q);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Params, save, load
 * ------------------------------------------------------------------------------------------------- */

static json_t *
knn_params_json(const void *state)
{
	const knn_state *st = state;

	return st && st->params ? json_deep_copy(st->params) : NULL;
}

static void
knn_save(const void *state, pgml_buf *out)
{
	const knn_state *st = state;
	char	   *params;

	if (st == NULL)
	{
		out->failed = true;
		return;
	}
	pgml_buf_put_u32(out, KNN_FORMAT);
	pgml_buf_put_u8(out, (uint8_t) st->task);
	pgml_buf_put_u8(out, st->distance ? 1 : 0);
	pgml_buf_put_f64(out, st->p);
	pgml_buf_put_u64(out, st->k);
	pgml_buf_put_u64(out, st->n_rows);
	pgml_buf_put_u64(out, st->n_features);
	pgml_buf_put_u64(out, st->n_outputs);
	pgml_buf_put_f32s(out, st->x, st->n_rows * st->n_features);
	pgml_buf_put_f32s(out, st->y, st->n_rows * (st->task == PGML_TASK_REGRESSION ? st->n_outputs : 1));
	params = st->params ? pgml_json_dumps(st->params) : NULL;
	if (st->params != NULL && params == NULL)
		out->failed = true;
	pgml_buf_put_str(out, params);
	pgml_free(params);
}

/* Marks the input corrupt for `reason` and makes sure err carries the message. */
static pgml_status
load_fail(pgml_reader *in, pgml_err *err, const char *reason)
{
	pgml_reader_fail(in, reason);
	if (err != NULL && err != in->err)
	{
		if (in->err != NULL)
			*err = *in->err;
		else
		{
			pgml_error(err, PGML_ERR_CORRUPT, "%s is corrupt", in->what);
			pgml_err_detail(err, "%s.", reason);
		}
	}
	return PGML_ERR_CORRUPT;
}

static pgml_status
knn_load(pgml_reader *in, void **state, pgml_err *err)
{
	knn_state  *st;
	uint32_t	format;
	unsigned	task;
	unsigned	weights;
	uint64_t	k;
	uint64_t	n_rows;
	uint64_t	n_features;
	uint64_t	n_outputs;
	size_t		cells;
	size_t		ycells;
	size_t		got;
	char	   *text = NULL;
	const char *reason = "Unexpected end of data";

	*state = NULL;
	st = pgml_calloc(1, sizeof(knn_state));
	if (st == NULL)
		return out_of_memory(err);
	format = pgml_reader_u32(in);
	task = pgml_reader_u8(in);
	weights = pgml_reader_u8(in);
	st->p = pgml_reader_f64(in);
	k = pgml_reader_u64(in);
	n_rows = pgml_reader_u64(in);
	n_features = pgml_reader_u64(in);
	n_outputs = pgml_reader_u64(in);
	if (pgml_reader_status(in) != PGML_OK)
		goto corrupt;
	if (format != KNN_FORMAT)
	{
		reason = "Unknown k nearest neighbours format version";
		goto corrupt;
	}
	if ((task != PGML_TASK_REGRESSION && task != PGML_TASK_CLASSIFICATION) || weights > 1 ||
		!(st->p >= 1.0 && st->p <= DBL_MAX))
	{
		reason = "The model header is invalid";
		goto corrupt;
	}
	st->task = (pgml_task) task;
	st->distance = weights == 1;
	if (n_rows == 0 || k == 0 || k > n_rows || n_features == 0 || n_features > MAX_FEATURES ||
		n_outputs == 0 || n_outputs > MAX_OUTPUTS || (task == PGML_TASK_CLASSIFICATION && n_outputs < 2) ||
		!pgml_mul_size((size_t) n_rows, (size_t) n_features, &cells) || cells > MAX_CELLS ||
		!pgml_mul_size((size_t) n_rows, task == PGML_TASK_REGRESSION ? (size_t) n_outputs : 1, &ycells) ||
		ycells > MAX_CELLS)
	{
		reason = "The model dimensions are out of range";
		goto corrupt;
	}
	st->k = (size_t) k;
	st->n_rows = (size_t) n_rows;
	st->n_features = (size_t) n_features;
	st->n_outputs = (size_t) n_outputs;
	st->x = pgml_reader_f32s(in, cells, cells, &got);
	if (st->x != NULL)
		st->y = pgml_reader_f32s(in, ycells, ycells, &got);
	if (st->y != NULL)
		text = pgml_reader_str(in, MAX_PARAMS_JSON);
	if (pgml_reader_status(in) != PGML_OK || st->x == NULL || st->y == NULL)
		goto corrupt;
	for (size_t i = 0; i < cells; i++)
	{
		if (!isfinite(st->x[i]))
		{
			reason = "A training row is not finite";
			goto corrupt;
		}
	}
	for (size_t i = 0; i < ycells; i++)
	{
		float		v = st->y[i];

		if (!isfinite(v) ||
			(task == PGML_TASK_CLASSIFICATION && !(v >= 0 && v < (float) n_outputs && v == floorf(v))))
		{
			reason = "A training target is invalid";
			goto corrupt;
		}
	}
	if (text != NULL)
	{
		pgml_err	jerr;

		if (pgml_json_parse(text, strlen(text), "knn parameters", &st->params, &jerr) != PGML_OK ||
			!json_is_object(st->params))
		{
			reason = "The stored hyperparameters are not a JSON object";
			goto corrupt;
		}
		pgml_free(text);
	}
	*state = st;
	return PGML_OK;

corrupt:
	pgml_free(text);
	knn_free(st);
	return load_fail(in, err, reason);
}

const pgml_algorithm pgml_algo_knn = {
	.name = "knn",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = knn_params,
	.params_classification = knn_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = true,
	.fit = knn_fit,
	.n_outputs = knn_n_outputs,
	.predict = knn_predict,
	.params = knn_params_json,
	.save = knn_save,
	.load = knn_load,
	.free = knn_free,
};
