/*
 * cluster_common.h — helpers shared by the clustering and decomposition algorithms (cluster.c,
 * cluster_more.c): random numbers, allocation, hyperparameter lookups, fit and predict argument checks,
 * and readers for saved states. Private to src/learn.
 *
 * Everything here is static inline, so that each file keeps its own copy and libpgml exports no
 * generic names.
 */
#ifndef PGML_LEARN_CLUSTER_COMMON_H
#define PGML_LEARN_CLUSTER_COMMON_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pgml/buf.h"
#include "pgml/json.h"
#include "pgml/learn.h"

/* The format version of every saved clustering or decomposition state, and each algorithm's kind byte. */
#define STATE_VERSION		1
#define KIND_KMEANS			1
#define KIND_MINI_BATCH		2
#define KIND_PCA			3
#define KIND_BIRCH			4
#define KIND_MEAN_SHIFT		5
#define KIND_AFFINITY		6

#define MAX_DIM				((size_t) 1 << 24)	/* clusters, features, components */
#define POLL_WORK			((size_t) 1 << 21)	/* about this many flops between polls of the stop hook */

/* ---------------------------------------------------------------------------------------------------
 * Random numbers: xoshiro256**, seeded through splitmix64
 * ------------------------------------------------------------------------------------------------- */

typedef struct rng
{
	uint64_t	s[4];
} rng;

/* One step of splitmix64 (used to spread a seed over the generator's state). */
static inline uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Seeds the generator. */
static inline void
rng_seed(rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

/* Rotates x left by k bits. */
static inline uint64_t
rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* The next 64 random bits. */
static inline uint64_t
rng_next(rng *r)
{
	uint64_t   *s = r->s;
	uint64_t	result = rotl64(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* A uniform double in [0, 1). */
static inline double
rng_uniform(rng *r)
{
	return (double) (rng_next(r) >> 11) * 0x1.0p-53;
}

/* A uniform integer in [0, n), n >= 1, without modulo bias. */
static inline size_t
rng_below(rng *r, size_t n)
{
	uint64_t	bound = (uint64_t) n;
	uint64_t	threshold = (0 - bound) % bound;

	for (;;)
	{
		uint64_t	v = rng_next(r);

		if (v >= threshold)
			return (size_t) (v % bound);
	}
}

/* ---------------------------------------------------------------------------------------------------
 * Small helpers, hyperparameters, argument checks
 * ------------------------------------------------------------------------------------------------- */

/* Records the out-of-memory error. */
static inline pgml_status
out_of_memory(pgml_err *err)
{
	return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
}

/* pgml_malloc of count × size bytes (at least one); NULL on overflow or failure. */
static inline void *
alloc_array(size_t count, size_t size)
{
	size_t		bytes;

	if (!pgml_mul_size(count, size, &bytes))
		return NULL;
	return pgml_malloc(bytes ? bytes : 1);
}

/* Rows between polls of the stop hook for loops doing `work` flops per row. */
static inline size_t
poll_rows(size_t work)
{
	size_t		rows = POLL_WORK / (work ? work : 1);

	return rows ? rows : 1;
}

/* Sets key in a params object; false when v is NULL or the set fails (v is released either way). */
static inline bool
jset(json_t *obj, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(obj, key, v) == 0;
}

/* An optional non-negative integer hyperparameter: -1 stands for null. */
static inline json_t *
null_or_int(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

/* The position of s in choices (NULL-terminated); s must be there. */
static inline int64_t
choice_index(const char *const *choices, const char *s)
{
	int64_t		i = 0;

	while (choices[i] != NULL && strcmp(choices[i], s) != 0)
		i++;
	return i;
}

/* A task's name for messages. */
static inline const char *
task_label(pgml_task task)
{
	switch (task)
	{
		case PGML_TASK_REGRESSION:
			return "regression";
		case PGML_TASK_CLASSIFICATION:
			return "classification";
		case PGML_TASK_CLUSTERING:
			return "clustering";
		case PGML_TASK_DECOMPOSITION:
			return "decomposition";
	}
	return "unknown";
}

/* Checks what every fit needs: the task, a non-empty data set, known hyperparameters. */
static inline pgml_status
check_fit(const pgml_fit_args *args, const pgml_data *train, pgml_task task, const char *algorithm,
		  const char *const *params, pgml_err *err)
{
	if (args == NULL || train == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "missing training arguments");
	if (args->task != task)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "algorithm \"%s\" does not support the %s task", algorithm,
				   task_label(args->task));
		pgml_err_detail(err, "It supports only the %s task.", task_label(task));
		return PGML_ERR_NOT_SUPPORTED;
	}
	if (train->x == NULL || train->n_rows == 0 || train->n_features == 0)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "training data is empty");
	if (train->n_features > MAX_DIM)
	{
		pgml_error(err, PGML_ERR_LIMIT, "too many features for %s", algorithm);
		pgml_err_detail(err, "The data has %zu features; the limit is %zu.", train->n_features, MAX_DIM);
		return PGML_ERR_LIMIT;
	}
	if (train->n_rows > (size_t) INT64_MAX / 2)
		return pgml_error(err, PGML_ERR_LIMIT, "too many rows for %s", algorithm);
	return pgml_json_check_keys(args->hyperparams, params, "hyperparameter", err);
}

/* Records "input contains NaN or infinity" for row i, feature f. */
static inline pgml_status
not_finite(size_t i, size_t f, pgml_err *err)
{
	pgml_error(err, PGML_ERR_DATA, "input contains NaN or infinity");
	pgml_err_detail(err, "Row %zu, feature %zu is not a finite number.", i + 1, f + 1);
	return PGML_ERR_DATA;
}

/* Fails with PGML_ERR_DATA if a value of x (n × d) is not finite. Polls the stop hook. */
static inline pgml_status
check_finite(const float *x, size_t n, size_t d, pgml_err *err)
{
	size_t		every = poll_rows(d);

	for (size_t i = 0; i < n; i++)
	{
		const float *row = x + i * d;
		bool		ok = true;

		if (i % every == 0 && pgml_check_stop(err) != PGML_OK)
			return PGML_ERR_CANCELLED;
		for (size_t f = 0; f < d; f++)
			ok &= isfinite(row[f]) != 0;
		if (!ok)
		{
			for (size_t f = 0; f < d; f++)
				if (!isfinite(row[f]))
					return not_finite(i, f, err);
		}
	}
	return PGML_OK;
}

/* Checks a predict call's shape against the fitted feature count. */
static inline pgml_status
check_predict(const void *state, const float *x, size_t n_rows, size_t n_features, size_t fitted,
			  const float *out, pgml_err *err)
{
	if (state == NULL || (n_rows > 0 && (x == NULL || out == NULL)))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "missing prediction arguments");
	if (n_features != fitted)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "wrong number of features");
		pgml_err_detail(err, "The input has %zu features, but the model was fitted with %zu.", n_features,
						fitted);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

/* A string hyperparameter that must be one of `choices` (NULL-terminated). *out points to the choice. */
static inline pgml_status
get_choice(const json_t *hp, const char *key, const char *def, const char *const *choices, const char **out,
		   pgml_err *err)
{
	const char *s;
	pgml_status rc = pgml_json_get_string(hp, key, def, &s, err);
	char		list[256];
	size_t		used = 0;

	if (rc != PGML_OK)
		return rc;
	for (const char *const *c = choices; *c; c++)
		if (strcmp(*c, s) == 0)
		{
			*out = *c;
			return PGML_OK;
		}
	list[0] = '\0';
	for (const char *const *c = choices; *c && used < sizeof(list); c++)
	{
		int			w = snprintf(list + used, sizeof(list) - used, "%s\"%s\"", c == choices ? "" : ", ", *c);

		if (w < 0)
			break;
		used += (size_t) w;
	}
	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for \"%s\": \"%s\"", key, s);
	pgml_err_detail(err, "Valid values are %s.", list);
	return PGML_ERR_INVALID_ARGUMENT;
}

/* random_state: null gives `fallback`; else an integer in [0, 2^32 - 1] as numpy's RandomState takes. */
static inline pgml_status
get_random_state(const json_t *hp, uint64_t fallback, int64_t *given, uint64_t *seed, pgml_err *err)
{
	pgml_status rc = pgml_json_get_int(hp, "random_state", -1, 0, UINT32_MAX, given, err);

	if (rc != PGML_OK)
		return rc;
	*seed = *given >= 0 ? (uint64_t) *given : fallback;
	return PGML_OK;
}

/* verbose: an integer or a boolean. */
static inline pgml_status
get_verbose(const json_t *hp, int64_t *out, pgml_err *err)
{
	const json_t *v = json_is_object(hp) ? json_object_get(hp, "verbose") : NULL;

	if (v != NULL && json_is_boolean(v))
	{
		*out = json_is_true(v) ? 1 : 0;
		return PGML_OK;
	}
	return pgml_json_get_int(hp, "verbose", 0, INT32_MIN, INT32_MAX, out, err);
}

/* Squared Euclidean distance. */
static inline double
sq_dist(const double *a, const double *b, size_t d)
{
	double		s = 0;

	for (size_t f = 0; f < d; f++)
	{
		double		t = a[f] - b[f];

		s += t * t;
	}
	return s;
}

/* Copies the float data into a new double matrix, failing on values that are not finite. */
static inline pgml_status
to_double(const float *x, size_t n, size_t d, double **out, pgml_err *err)
{
	double	   *v = alloc_array(n * d, sizeof(double));
	size_t		every = poll_rows(d);

	*out = NULL;
	if (v == NULL)
		return out_of_memory(err);
	for (size_t i = 0; i < n; i++)
	{
		if (i % every == 0 && pgml_check_stop(err) != PGML_OK)
		{
			pgml_free(v);
			return PGML_ERR_CANCELLED;
		}
		for (size_t f = 0; f < d; f++)
		{
			float		e = x[i * d + f];

			if (!isfinite(e))
			{
				pgml_free(v);
				return not_finite(i, f, err);
			}
			v[i * d + f] = e;
		}
	}
	*out = v;
	return PGML_OK;
}

/* An optional non-negative integer: explicit null gives -1 (sklearn's None), a missing key `def`. */
static inline pgml_status
get_optional_int(const json_t *hp, const char *key, int64_t def, int64_t min, int64_t *out, pgml_err *err)
{
	const json_t *v = json_is_object(hp) ? json_object_get(hp, key) : NULL;

	if (v != NULL && json_is_null(v))
	{
		*out = -1;
		return PGML_OK;
	}
	return pgml_json_get_int(hp, key, def, min, INT32_MAX, out, err);
}

/* ---------------------------------------------------------------------------------------------------
 * Reading saved states: each reader marks the reader failed on a bad value
 * ------------------------------------------------------------------------------------------------- */

/* Reads exactly n doubles (all finite) into a new array; NULL after marking the reader failed. */
static inline double *
get_f64s(pgml_reader *in, size_t n)
{
	size_t		got;
	double	   *v;

	if (pgml_reader_status(in) != PGML_OK)
		return NULL;
	v = pgml_reader_f64s(in, n, n, &got);
	if (v == NULL)
	{
		if (pgml_reader_status(in) == PGML_OK)
			pgml_reader_fail(in, "An array is empty");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
		{
			pgml_free(v);
			pgml_reader_fail(in, "An array holds a value that is not finite");
			return NULL;
		}
	return v;
}

/* An integer in [min, max], else the reader is marked failed. */
static inline int64_t
get_ranged(pgml_reader *in, int64_t min, int64_t max)
{
	int64_t		v = pgml_reader_i64(in);

	if (pgml_reader_status(in) == PGML_OK && (v < min || v > max))
		pgml_reader_fail(in, "A hyperparameter is out of range");
	return v;
}

/* A flag (0 or 1), else the reader is marked failed. */
static inline bool
get_flag(pgml_reader *in)
{
	uint8_t		v = pgml_reader_u8(in);

	if (pgml_reader_status(in) == PGML_OK && v > 1)
		pgml_reader_fail(in, "A flag is neither 0 nor 1");
	return v == 1;
}

/* A finite double >= 0, else the reader is marked failed. */
static inline double
get_nonneg(pgml_reader *in)
{
	double		v = pgml_reader_f64(in);

	if (pgml_reader_status(in) == PGML_OK && !(isfinite(v) && v >= 0))
		pgml_reader_fail(in, "A hyperparameter is out of range");
	return v;
}

/* A choice among n (stored as one byte), else the reader is marked failed. */
static inline int64_t
get_choice_index(pgml_reader *in, int64_t n)
{
	uint8_t		v = pgml_reader_u8(in);

	if (pgml_reader_status(in) == PGML_OK && v >= n)
		pgml_reader_fail(in, "A hyperparameter is out of range");
	return v;
}

/* Checks a saved state's version and kind. */
static inline bool
check_header(pgml_reader *in, uint8_t kind)
{
	uint32_t	version = pgml_reader_u32(in);
	uint8_t		got = pgml_reader_u8(in);

	if (pgml_reader_status(in) != PGML_OK)
		return false;
	if (version != STATE_VERSION)
	{
		pgml_reader_fail(in, "The state has an unknown format version");
		return false;
	}
	if (got != kind)
	{
		pgml_reader_fail(in, "The state belongs to another algorithm");
		return false;
	}
	return true;
}

/* A dimension in [1, max], or 0 after marking the reader failed. */
static inline size_t
get_dim(pgml_reader *in, size_t max, const char *reason)
{
	uint64_t	v = pgml_reader_u64(in);

	if (pgml_reader_status(in) != PGML_OK)
		return 0;
	if (v < 1 || v > max)
	{
		pgml_reader_fail(in, reason);
		return 0;
	}
	return (size_t) v;
}

#endif							/* PGML_LEARN_CLUSTER_COMMON_H */
