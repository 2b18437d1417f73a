/*
 * search.c — grid and random hyperparameter search with k-fold cross-validation.
 *
 * Folds follow PostgresML: fold k tests on the contiguous slice [k·m, (k+1)·m) of the training rows,
 * m = n / cv, and trains on the rest. Each candidate is scored on each fold with the task's default
 * metric; the candidate with the best mean score wins (always maximised, as PostgresML does).
 */
#include "pgml/learn.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "pgml/json.h"

#define MAX_CANDIDATES 100000

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: a small, good PRNG for shuffling candidates. */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t	z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void
mean_std(const double *v, size_t n, double *mean, double *std)
{
	double		s = 0,
				ss = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	*mean = n ? s / (double) n : NAN;
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - *mean) * (v[i] - *mean);
	*std = n ? sqrt(ss / (double) n) : NAN;
}

/* Appends to results[key] (an array), creating it. */
static void
append(json_t *results, const char *key, json_t *value)
{
	json_t	   *arr = json_object_get(results, key);

	if (arr == NULL)
	{
		arr = json_array();
		json_object_set_new(results, key, arr);
	}
	json_array_append_new(arr, value);
}

/* The training and test views of fold k (x_buf / y_buf hold the gathered training rows). */
static void
make_fold(const pgml_data *train, int k, int cv, float *x_buf, float *y_buf, pgml_data *fit, pgml_data *test)
{
	size_t		m = train->n_rows / (size_t) cv;
	size_t		lo = (size_t) k * m;
	size_t		hi = lo + m;
	size_t		d = train->n_features;
	size_t		t = train->n_targets;

	memcpy(x_buf, train->x, lo * d * sizeof(float));
	memcpy(x_buf + lo * d, train->x + hi * d, (train->n_rows - hi) * d * sizeof(float));
	if (train->y != NULL)
	{
		memcpy(y_buf, train->y, lo * t * sizeof(float));
		memcpy(y_buf + lo * t, train->y + hi * t, (train->n_rows - hi) * t * sizeof(float));
	}
	*fit = *train;
	fit->x = x_buf;
	fit->y = train->y ? y_buf : NULL;
	fit->n_rows = train->n_rows - m;
	*test = *train;
	test->x = train->x + lo * d;
	test->y = train->y ? train->y + lo * t : NULL;
	test->n_rows = m;
}

pgml_status
pgml_search(const char *algorithm, pgml_task task, const json_t *hyperparams, const json_t *search_params,
			const char *kind, const json_t *search_args, const pgml_data *train, const pgml_data *test,
			uint64_t seed, pgml_pool *pool, json_t **best, json_t **results, pgml_err *err)
{
	static const char *const arg_names[] = {"n_iter", "cv", NULL};
	int64_t		n_iter;
	int64_t		cv;
	size_t		n_keys;
	const char **keys = NULL;
	json_t	  **values = NULL;
	size_t		n_grid = 1;
	size_t		n_cand;
	size_t	   *order = NULL;
	double	   *scores = NULL;
	double	   *fit_times = NULL;
	double	   *score_times = NULL;
	float	   *x_buf = NULL;
	float	   *y_buf = NULL;
	json_t	   *res = NULL;
	json_t	   *params_list = NULL;
	size_t		best_index = 0;
	double		best_score = -INFINITY;
	double		search_start;
	bool		higher;
	const char *metric = pgml_task_metric(task, &higher);
	pgml_status rc;
	bool		random_search;
	const char *key;
	json_t	   *v;

	*best = NULL;
	*results = NULL;
	if (kind == NULL || (strcmp(kind, "grid") != 0 && strcmp(kind, "random") != 0))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "search must be grid or random");
	random_search = strcmp(kind, "random") == 0;
	if ((rc = pgml_json_check_keys(search_args, arg_names, "search argument", err)) != PGML_OK)
		return rc;
	if ((rc = pgml_json_get_int(search_args, "n_iter", 10, 1, MAX_CANDIDATES, &n_iter, err)) != PGML_OK
		|| (rc = pgml_json_get_int(search_args, "cv", 5, 1, 1000, &cv, err)) != PGML_OK)
		return rc;
	if (search_params == NULL || !json_is_object(search_params) || json_object_size(search_params) == 0)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "search needs search_params: an object of hyperparameter lists");
	if (cv > 1 && train->n_rows < (size_t) cv)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "cv %lld is more than the %zu training rows",
						  (long long) cv, train->n_rows);
	if (cv == 1 && (test == NULL || test->n_rows == 0))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "search with cv 1 needs test rows");

	/* the grid */
	n_keys = json_object_size(search_params);
	keys = pgml_calloc(n_keys, sizeof(char *));
	values = pgml_calloc(n_keys, sizeof(json_t *));
	if (keys == NULL || values == NULL)
	{
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	{
		size_t		i = 0;

		json_object_foreach((json_t *) search_params, key, v)
		{
			if (hyperparams != NULL && json_object_get(hyperparams, key) != NULL)
			{
				rc = pgml_error(err, PGML_ERR_INVALID_ARGUMENT,
								"hyperparameter \"%s\" is in both hyperparams and search_params", key);
				goto done;
			}
			if (!json_is_array(v) || json_array_size(v) == 0)
			{
				rc = pgml_error(err, PGML_ERR_INVALID_ARGUMENT,
								"search_params \"%s\" must be a non-empty array of values", key);
				goto done;
			}
			keys[i] = key;
			values[i] = v;
			if (n_grid > MAX_CANDIDATES / json_array_size(v))
			{
				rc = pgml_error(err, PGML_ERR_LIMIT, "the search grid has more than %d combinations", MAX_CANDIDATES);
				goto done;
			}
			n_grid *= json_array_size(v);
			i++;
		}
	}

	/* the candidates, in grid order or a random subset */
	order = pgml_malloc(n_grid * sizeof(size_t));
	if (order == NULL)
	{
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n_grid; i++)
		order[i] = i;
	n_cand = n_grid;
	if (random_search)
	{
		uint64_t	state = seed;

		for (size_t i = n_grid - 1; i > 0; i--)
		{
			size_t		j = (size_t) (next_random(&state) % (i + 1));
			size_t		tmp = order[i];

			order[i] = order[j];
			order[j] = tmp;
		}
		if ((size_t) n_iter < n_cand)
			n_cand = (size_t) n_iter;
	}

	scores = pgml_calloc(n_cand * (size_t) cv, sizeof(double));
	fit_times = pgml_calloc(n_cand * (size_t) cv, sizeof(double));
	score_times = pgml_calloc(n_cand * (size_t) cv, sizeof(double));
	if (cv > 1)
	{
		x_buf = pgml_malloc(train->n_rows * train->n_features * sizeof(float));
		if (train->y != NULL)
			y_buf = pgml_malloc(train->n_rows * train->n_targets * sizeof(float));
	}
	res = json_object();
	params_list = json_array();
	if (scores == NULL || fit_times == NULL || score_times == NULL || res == NULL || params_list == NULL
		|| (cv > 1 && (x_buf == NULL || (train->y != NULL && y_buf == NULL))))
	{
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}

	search_start = now_seconds();
	for (size_t c = 0; c < n_cand; c++)
	{
		json_t	   *cand = json_object();
		json_t	   *merged = hyperparams ? json_deep_copy(hyperparams) : json_object();
		size_t		idx = order[c];
		double		mean,
					std;

		if (cand == NULL || merged == NULL)
		{
			json_decref(cand);
			json_decref(merged);
			rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			goto done;
		}
		for (size_t k = n_keys; k-- > 0;)
		{
			size_t		len = json_array_size(values[k]);
			json_t	   *value = json_array_get(values[k], idx % len);

			idx /= len;
			json_object_set(cand, keys[k], value);
			json_object_set(merged, keys[k], value);
		}
		for (int k = 0; k < (int) cv; k++)
		{
			pgml_data	fit_data;
			pgml_data	test_data;
			pgml_model *model = NULL;
			json_t	   *metrics = NULL;
			double		t0;

			if (cv > 1)
				make_fold(train, k, (int) cv, x_buf, y_buf, &fit_data, &test_data);
			else
			{
				fit_data = *train;
				test_data = *test;
			}
			{
				char		activity[128];

				snprintf(activity, sizeof(activity), "search %s: candidate %zu of %zu, fold %d of %lld",
						 algorithm, c + 1, n_cand, k + 1, (long long) cv);
				pgml_progress_begin(activity);
			}
			t0 = now_seconds();
			rc = pgml_model_fit(algorithm, task, merged, &fit_data, seed, pool, &model, err);
			pgml_progress_end();
			fit_times[c * cv + k] = now_seconds() - t0;
			if (rc == PGML_OK)
			{
				t0 = now_seconds();
				rc = pgml_model_score(model, task == PGML_TASK_DECOMPOSITION ? &fit_data : &test_data, &metrics, err);
				score_times[c * cv + k] = now_seconds() - t0;
			}
			pgml_model_free(model);
			if (rc != PGML_OK)
			{
				json_decref(cand);
				json_decref(merged);
				goto done;
			}
			scores[c * cv + k] = json_is_number(json_object_get(metrics, metric))
				? json_number_value(json_object_get(metrics, metric)) : NAN;
			json_decref(metrics);
			pgml_log(PGML_LOG_NOTICE, "search %s: candidate %zu of %zu, fold %d of %lld, %s %.6g, fit %.3f s, "
					 "%.1f s elapsed", algorithm, c + 1, n_cand, k + 1, (long long) cv, metric,
					 scores[c * cv + k], fit_times[c * cv + k], now_seconds() - search_start);
		}
		json_decref(merged);

		json_array_append_new(params_list, cand);
		mean_std(&scores[c * cv], (size_t) cv, &mean, &std);
		if (isfinite(mean) && mean > best_score)
		{
			best_score = mean;
			best_index = c;
		}
		{
			json_t	   *jm = isfinite(mean) ? json_real(mean) : json_null();
			json_t	   *js = isfinite(std) ? json_real(std) : json_null();

			append(res, "mean_test_score", jm);
			append(res, "std_test_score", js);
		}
		mean_std(&fit_times[c * cv], (size_t) cv, &mean, &std);
		append(res, "mean_fit_time", json_real(mean));
		append(res, "std_fit_time", json_real(std));
		mean_std(&score_times[c * cv], (size_t) cv, &mean, &std);
		append(res, "mean_score_time", json_real(mean));
		append(res, "std_score_time", json_real(std));
		for (int k = 0; k < (int) cv; k++)
		{
			char		name[32];
			double		s = scores[c * cv + k];

			snprintf(name, sizeof(name), "split%d_test_score", k);
			append(res, name, isfinite(s) ? json_real(s) : json_null());
		}
		for (size_t k = 0; k < n_keys; k++)
		{
			char		name[PGML_ERR_MSG_LEN];

			snprintf(name, sizeof(name), "param_%s", keys[k]);
			append(res, name, json_incref(json_object_get(cand, keys[k])));
		}
	}
	if (!isfinite(best_score))
	{
		rc = pgml_error(err, PGML_ERR_DATA, "no search candidate could be scored with %s", metric);
		goto done;
	}

	json_object_set(res, "params", params_list);
	json_object_set_new(res, "n_splits", json_integer(cv));
	json_object_set_new(res, "best_index", json_integer((json_int_t) best_index));
	{
		json_t	   *winner = hyperparams ? json_deep_copy(hyperparams) : json_object();

		if (winner == NULL || json_object_update(winner, json_array_get(params_list, best_index)) != 0)
		{
			json_decref(winner);
			rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			goto done;
		}
		*best = winner;
	}
	*results = res;
	res = NULL;
	rc = PGML_OK;

done:
	json_decref(res);
	json_decref(params_list);
	pgml_free(keys);
	pgml_free(values);
	pgml_free(order);
	pgml_free(scores);
	pgml_free(fit_times);
	pgml_free(score_times);
	pgml_free(x_buf);
	pgml_free(y_buf);
	return rc;
}
