/*
 * cluster.c — k-means, mini-batch k-means and PCA, as scikit-learn 1.2's KMeans, MiniBatchKMeans and
 * PCA.
 *
 * Hyperparameters carry sklearn's names, defaults and constraints. Computation is in double whatever the
 * input (float rows). Randomness comes from a xoshiro256** generator seeded with random_state, or with
 * the fit's seed when random_state is null, so a fit is deterministic for a given seed; it is not
 * numpy's stream, so results match sklearn's in quality, not bit for bit. KMeans runs Lloyd's algorithm
 * for every `algorithm` ("elkan" gives the same clustering in sklearn, only faster on some data).
 *
 * Threads: the row loops of k-means (assignment and center sums, k-means++ distances, inertia) run on
 * the fit's pool. Every row's result depends only on that row, and sums are taken per block of rows
 * whose boundaries depend only on the data's shape, then added in block order: a fit gives the same
 * result with or without a pool, and whatever its size.
 *
 * PCA computes an exact SVD (LAPACK dgesdd) for every svd_solver: tall data (rows >= features) is first
 * reduced to its R factor block by block (dtpqrt), which keeps memory small and lets a cancel request
 * stop the fit between blocks; wide data goes to dgesdd whole.
 *
 * Saved states are versioned binary (buf.h), the effective hyperparameters included as typed fields, so
 * that loading never parses JSON and validates each value.
 */
#include "cluster_algorithms.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "pgml/json.h"

#include "cluster_common.h"

#define MAX_BLOCKS			64	/* row blocks with their own center sums */
#define BLOCK_BUDGET		((size_t) 1 << 22)	/* doubles of per-block center sums, all blocks */
#define INERTIA_BLOCK_ROWS	4096

/* ---------------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------------- */

/* The mean over features of each feature's (population) variance, as sklearn's _tolerance uses. */
static pgml_status
mean_variance(const float *x, size_t n, size_t d, double *out, pgml_err *err)
{
	double	   *mean = pgml_calloc(d, sizeof(double));
	double	   *ss = pgml_calloc(d, sizeof(double));
	size_t		every = poll_rows(d);
	double		total = 0;

	*out = 0;
	if (mean == NULL || ss == NULL)
	{
		pgml_free(mean);
		pgml_free(ss);
		return out_of_memory(err);
	}
	for (size_t i = 0; i < n; i++)
	{
		if (i % every == 0 && pgml_check_stop(err) != PGML_OK)
			goto cancelled;
		for (size_t f = 0; f < d; f++)
			mean[f] += x[i * d + f];
	}
	for (size_t f = 0; f < d; f++)
		mean[f] /= (double) n;
	for (size_t i = 0; i < n; i++)
	{
		if (i % every == 0 && pgml_check_stop(err) != PGML_OK)
			goto cancelled;
		for (size_t f = 0; f < d; f++)
		{
			double		t = x[i * d + f] - mean[f];

			ss[f] += t * t;
		}
	}
	for (size_t f = 0; f < d; f++)
		total += ss[f] / (double) n;
	*out = total / (double) d;
	pgml_free(mean);
	pgml_free(ss);
	return PGML_OK;

cancelled:
	pgml_free(mean);
	pgml_free(ss);
	return PGML_ERR_CANCELLED;
}

/* ---------------------------------------------------------------------------------------------------
 * Hyperparameters shared by the k-means family
 * ------------------------------------------------------------------------------------------------- */

typedef enum init_method
{
	INIT_KMEANS_PP,
	INIT_RANDOM,
	INIT_ARRAY,
} init_method;

/* init: "k-means++", "random", or an array of k centers of d values (returned in *centers). */
static pgml_status
get_init(const json_t *hp, size_t k, size_t d, init_method *method, double **centers, pgml_err *err)
{
	const json_t *v = json_is_object(hp) ? json_object_get(hp, "init") : NULL;

	*method = INIT_KMEANS_PP;
	*centers = NULL;
	if (v == NULL || json_is_null(v))
		return PGML_OK;
	if (json_is_string(v))
	{
		if (strcmp(json_string_value(v), "k-means++") == 0)
			return PGML_OK;
		if (strcmp(json_string_value(v), "random") == 0)
		{
			*method = INIT_RANDOM;
			return PGML_OK;
		}
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for \"init\": \"%s\"", json_string_value(v));
	}
	else if (json_is_array(v))
	{
		size_t		rows = json_array_size(v);
		size_t		cols = rows > 0 && json_is_array(json_array_get(v, 0)) ? json_array_size(json_array_get(v, 0)) : 0;
		double	   *c;

		for (size_t i = 0; i < rows; i++)
		{
			const json_t *row = json_array_get(v, i);

			if (!json_is_array(row) || json_array_size(row) != cols)
			{
				pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"init\" must be an array of arrays of equal length");
				return PGML_ERR_INVALID_ARGUMENT;
			}
		}
		if (rows != k || cols != d)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "the shape of \"init\" does not match the data");
			pgml_err_detail(err, "\"init\" has %zu centers of %zu values; it needs n_clusters (%zu) centers of %zu values, one per feature.",
							rows, cols, k, d);
			return PGML_ERR_INVALID_ARGUMENT;
		}
		c = alloc_array(k * d, sizeof(double));
		if (c == NULL)
			return out_of_memory(err);
		for (size_t i = 0; i < k; i++)
			for (size_t f = 0; f < d; f++)
			{
				const json_t *e = json_array_get(json_array_get(v, i), f);

				if (!json_is_number(e) || !isfinite(json_number_value(e)))
				{
					pgml_free(c);
					return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"init\" must hold finite numbers");
				}
				c[i * d + f] = json_number_value(e);
			}
		*method = INIT_ARRAY;
		*centers = c;
		return PGML_OK;
	}
	else
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"init\" must be a string or an array, not %s",
				   pgml_json_type_name(v));
	pgml_err_detail(err, "\"init\" must be \"k-means++\", \"random\" or an array of n_clusters initial centers.");
	return PGML_ERR_INVALID_ARGUMENT;
}

/* n_init: "warn" (sklearn 1.2's default) gives default_n; "auto" 1 for k-means++, else default_n. */
static pgml_status
get_n_init(const json_t *hp, int64_t default_n, init_method method, int64_t *out, pgml_err *err)
{
	const json_t *v = json_is_object(hp) ? json_object_get(hp, "n_init") : NULL;
	pgml_status rc = PGML_OK;

	*out = default_n;
	if (v != NULL && json_is_string(v))
	{
		if (strcmp(json_string_value(v), "auto") == 0)
			*out = method == INIT_KMEANS_PP ? 1 : default_n;
		else if (strcmp(json_string_value(v), "warn") != 0)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for \"n_init\": \"%s\"",
					   json_string_value(v));
			pgml_err_detail(err, "\"n_init\" must be \"auto\", \"warn\" or a positive integer.");
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	else
		rc = pgml_json_get_int(hp, "n_init", default_n, 1, INT32_MAX, out, err);
	if (rc == PGML_OK && method == INIT_ARRAY)
	{
		/* explicit centers: one run, as sklearn (which warns unless n_init is left to its default) */
		if (*out != 1 && v != NULL && !json_is_string(v))
			pgml_log(PGML_LOG_WARNING, "explicit initial centers given: performing only one init instead of n_init=%lld",
					 (long long) *out);
		*out = 1;
	}
	return rc;
}

/* n_clusters in [1, n_rows]. */
static pgml_status
get_n_clusters(const json_t *hp, size_t n_rows, size_t *k, pgml_err *err)
{
	int64_t		v;
	pgml_status rc = pgml_json_get_int(hp, "n_clusters", 8, 1, (int64_t) MAX_DIM, &v, err);

	if (rc != PGML_OK)
		return rc;
	if ((uint64_t) v > n_rows)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"n_clusters\" is larger than the number of rows");
		pgml_err_detail(err, "n_clusters is %lld, but the training data has %zu rows.", (long long) v, n_rows);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	*k = (size_t) v;
	return PGML_OK;
}

/* The init hyperparameter as JSON: the method's name, or the centers as an array of arrays. */
static json_t *
init_to_json(init_method init, const double *centers, size_t k, size_t d)
{
	json_t	   *rows;

	if (init != INIT_ARRAY)
		return json_string(init == INIT_RANDOM ? "random" : "k-means++");
	rows = json_array();
	for (size_t i = 0; rows != NULL && i < k; i++)
	{
		json_t	   *row = json_array();

		if (json_array_append_new(rows, row) != 0)
		{
			json_decref(rows);
			return NULL;
		}
		for (size_t f = 0; f < d; f++)
			if (json_array_append_new(row, json_real(centers[i * d + f])) != 0)
			{
				json_decref(rows);
				return NULL;
			}
	}
	return rows;
}

/* ---------------------------------------------------------------------------------------------------
 * Distances
 * ------------------------------------------------------------------------------------------------- */

/*
 * Centers are also laid out transposed, in groups of `width`: t[(g * d + f) * width + j] is feature f of
 * center g * width + j (zero past the last center). Distance loops then run over a group's centers
 * innermost, element by element, which compilers vectorize; each distance is still summed over the
 * features in order, so results are the same as sq_dist's whatever the layout.
 */
#define GROUP		8			/* centers per group for assignment (sq_dist_group is unrolled for 8) */
#define CAND_GROUP	4			/* candidates per group for k-means++ (unrolled for 4) */

/* The number of groups of `width` that k centers take. */
static size_t
n_groups(size_t k, size_t width)
{
	return (k + width - 1) / width;
}

/* Writes the k rows (k × d) in the grouped transposed layout (n_groups(k, width) * width * d values). */
static void
transpose_groups(const double *rows, size_t k, size_t d, size_t width, double *t)
{
	size_t		ng = n_groups(k, width);

	for (size_t g = 0; g < ng; g++)
		for (size_t f = 0; f < d; f++)
			for (size_t j = 0; j < width; j++)
			{
				size_t		c = g * width + j;

				t[(g * d + f) * width + j] = c < k ? rows[c * d + f] : 0;
			}
}

/*
 * Squared distances from x to the GROUP centers of one group (tg: that group's d × GROUP values). Named
 * accumulators, not an array, so that they stay in registers.
 */
static inline void
sq_dist_group(const double *x, const double *tg, size_t d, double *out)
{
	double		a0 = 0,
				a1 = 0,
				a2 = 0,
				a3 = 0,
				a4 = 0,
				a5 = 0,
				a6 = 0,
				a7 = 0;

	for (size_t f = 0; f < d; f++)
	{
		double		v = x[f];
		const double *c = tg + f * GROUP;
		double		t0 = v - c[0],
					t1 = v - c[1],
					t2 = v - c[2],
					t3 = v - c[3],
					t4 = v - c[4],
					t5 = v - c[5],
					t6 = v - c[6],
					t7 = v - c[7];

		a0 += t0 * t0;
		a1 += t1 * t1;
		a2 += t2 * t2;
		a3 += t3 * t3;
		a4 += t4 * t4;
		a5 += t5 * t5;
		a6 += t6 * t6;
		a7 += t7 * t7;
	}
	out[0] = a0;
	out[1] = a1;
	out[2] = a2;
	out[3] = a3;
	out[4] = a4;
	out[5] = a5;
	out[6] = a6;
	out[7] = a7;
}

/* Squared distances from x to the CAND_GROUP candidates of one group. */
static inline void
sq_dist_cand_group(const double *x, const double *tg, size_t d, double *out)
{
	double		a0 = 0,
				a1 = 0,
				a2 = 0,
				a3 = 0;

	for (size_t f = 0; f < d; f++)
	{
		double		v = x[f];
		const double *c = tg + f * CAND_GROUP;
		double		t0 = v - c[0],
					t1 = v - c[1],
					t2 = v - c[2],
					t3 = v - c[3];

		a0 += t0 * t0;
		a1 += t1 * t1;
		a2 += t2 * t2;
		a3 += t3 * t3;
	}
	out[0] = a0;
	out[1] = a1;
	out[2] = a2;
	out[3] = a3;
}

/*
 * sq_dist_group for two rows at once: the center loads are shared and twice as many independent sums
 * keep the floating-point units busy. Each row's sums are formed exactly as sq_dist_group's.
 */
static inline void
sq_dist_group2(const double *x, const double *y, const double *tg, size_t d, double *ox, double *oy)
{
	double		a0 = 0,
				a1 = 0,
				a2 = 0,
				a3 = 0,
				a4 = 0,
				a5 = 0,
				a6 = 0,
				a7 = 0;
	double		b0 = 0,
				b1 = 0,
				b2 = 0,
				b3 = 0,
				b4 = 0,
				b5 = 0,
				b6 = 0,
				b7 = 0;

	for (size_t f = 0; f < d; f++)
	{
		double		v = x[f];
		double		w = y[f];
		const double *c = tg + f * GROUP;
		double		t0 = v - c[0],
					t1 = v - c[1],
					t2 = v - c[2],
					t3 = v - c[3],
					t4 = v - c[4],
					t5 = v - c[5],
					t6 = v - c[6],
					t7 = v - c[7];
		double		u0 = w - c[0],
					u1 = w - c[1],
					u2 = w - c[2],
					u3 = w - c[3],
					u4 = w - c[4],
					u5 = w - c[5],
					u6 = w - c[6],
					u7 = w - c[7];

		a0 += t0 * t0;
		a1 += t1 * t1;
		a2 += t2 * t2;
		a3 += t3 * t3;
		a4 += t4 * t4;
		a5 += t5 * t5;
		a6 += t6 * t6;
		a7 += t7 * t7;
		b0 += u0 * u0;
		b1 += u1 * u1;
		b2 += u2 * u2;
		b3 += u3 * u3;
		b4 += u4 * u4;
		b5 += u5 * u5;
		b6 += u6 * u6;
		b7 += u7 * u7;
	}
	ox[0] = a0;
	ox[1] = a1;
	ox[2] = a2;
	ox[3] = a3;
	ox[4] = a4;
	ox[5] = a5;
	ox[6] = a6;
	ox[7] = a7;
	oy[0] = b0;
	oy[1] = b1;
	oy[2] = b2;
	oy[3] = b3;
	oy[4] = b4;
	oy[5] = b5;
	oy[6] = b6;
	oy[7] = b7;
}

/* sq_dist_cand_group for two rows at once. */
static inline void
sq_dist_cand_group2(const double *x, const double *y, const double *tg, size_t d, double *ox, double *oy)
{
	double		a0 = 0,
				a1 = 0,
				a2 = 0,
				a3 = 0;
	double		b0 = 0,
				b1 = 0,
				b2 = 0,
				b3 = 0;

	for (size_t f = 0; f < d; f++)
	{
		double		v = x[f];
		double		w = y[f];
		const double *c = tg + f * CAND_GROUP;
		double		t0 = v - c[0],
					t1 = v - c[1],
					t2 = v - c[2],
					t3 = v - c[3];
		double		u0 = w - c[0],
					u1 = w - c[1],
					u2 = w - c[2],
					u3 = w - c[3];

		a0 += t0 * t0;
		a1 += t1 * t1;
		a2 += t2 * t2;
		a3 += t3 * t3;
		b0 += u0 * u0;
		b1 += u1 * u1;
		b2 += u2 * u2;
		b3 += u3 * u3;
	}
	ox[0] = a0;
	ox[1] = a1;
	ox[2] = a2;
	ox[3] = a3;
	oy[0] = b0;
	oy[1] = b1;
	oy[2] = b2;
	oy[3] = b3;
}

/*
 * The index of the center nearest x (the first of equals) and its squared distance. ct holds the k
 * centers in the grouped layout of width GROUP.
 */
static int32_t
nearest_center(const double *x, const double *ct, size_t k, size_t d, double *dist)
{
	double		best = INFINITY;
	size_t		best_c = 0;
	double		s[GROUP];

	for (size_t g = 0, c0 = 0; c0 < k; g++, c0 += GROUP)
	{
		size_t		lim = k - c0 < GROUP ? k - c0 : GROUP;

		sq_dist_group(x, ct + g * d * GROUP, d, s);
		for (size_t j = 0; j < lim; j++)
			if (s[j] < best)
			{
				best = s[j];
				best_c = c0 + j;
			}
	}
	*dist = best;
	return (int32_t) best_c;
}

/* nearest_center for two rows at once (the same results as two calls). */
static void
nearest_center2(const double *x, const double *y, const double *ct, size_t k, size_t d, int32_t *lx,
				int32_t *ly, double *dx, double *dy)
{
	double		bx = INFINITY;
	double		by = INFINITY;
	size_t		cx = 0;
	size_t		cy = 0;
	double		sx[GROUP];
	double		sy[GROUP];

	for (size_t g = 0, c0 = 0; c0 < k; g++, c0 += GROUP)
	{
		size_t		lim = k - c0 < GROUP ? k - c0 : GROUP;

		sq_dist_group2(x, y, ct + g * d * GROUP, d, sx, sy);
		for (size_t j = 0; j < lim; j++)
		{
			if (sx[j] < bx)
			{
				bx = sx[j];
				cx = c0 + j;
			}
			if (sy[j] < by)
			{
				by = sy[j];
				cy = c0 + j;
			}
		}
	}
	*lx = (int32_t) cx;
	*ly = (int32_t) cy;
	*dx = bx;
	*dy = by;
}

/* ---------------------------------------------------------------------------------------------------
 * Parallel row loops
 * ------------------------------------------------------------------------------------------------- */

typedef enum assign_mode
{
	ASSIGN_SUMS,				/* nearest center, distance, and per-block center sums */
	ASSIGN_ONLY,				/* nearest center and distance */
	DIST_ONLY,					/* distance to the center in labels */
} assign_mode;

/* Assignment over the rows of a double matrix, in blocks of block_rows rows (the work items). */
typedef struct assign_ctx
{
	assign_mode mode;
	const double *x;
	size_t		n;
	size_t		d;
	size_t		k;
	const double *centers;		/* k × d (DIST_ONLY) */
	const double *ct;			/* the centers grouped (ASSIGN_SUMS, ASSIGN_ONLY) */
	int32_t    *labels;
	double	   *dist;
	double	   *sums;			/* ASSIGN_SUMS: n_blocks × k × d */
	double	   *counts;			/* ASSIGN_SUMS: n_blocks × k */
	size_t		block_rows;
	size_t		poll;
} assign_ctx;

/* Work function: assigns the rows of blocks [begin, end). */
static void
assign_work(void *p, size_t begin, size_t end, int worker)
{
	assign_ctx *c = p;
	size_t		k = c->k;
	size_t		d = c->d;

	(void) worker;
	for (size_t b = begin; b < end; b++)
	{
		size_t		r0 = b * c->block_rows;
		size_t		r1 = c->n - r0 > c->block_rows ? r0 + c->block_rows : c->n;
		double	   *sums = NULL;
		double	   *counts = NULL;
		size_t		until_poll = c->poll;

		if (c->mode == ASSIGN_SUMS)
		{
			sums = c->sums + b * k * d;
			counts = c->counts + b * k;
			memset(sums, 0, k * d * sizeof(double));
			memset(counts, 0, k * sizeof(double));
		}
		for (size_t i = r0; i < r1;)
		{
			const double *xi = c->x + i * d;
			size_t		rows = 1;

			if (--until_poll == 0)
			{
				if (pgml_should_stop())
					return;
				until_poll = c->poll;
			}
			if (c->mode == DIST_ONLY)
				c->dist[i] = sq_dist(xi, c->centers + (size_t) c->labels[i] * d, d);
			else if (i + 1 < r1)
			{
				nearest_center2(xi, xi + d, c->ct, k, d, &c->labels[i], &c->labels[i + 1], &c->dist[i],
								&c->dist[i + 1]);
				rows = 2;
			}
			else
				c->labels[i] = nearest_center(xi, c->ct, k, d, &c->dist[i]);
			if (sums != NULL)
			{
				for (size_t r = i; r < i + rows; r++)
				{
					double	   *sr = sums + (size_t) c->labels[r] * d;
					const double *xr = c->x + r * d;

					for (size_t f = 0; f < d; f++)
						sr[f] += xr[f];
					counts[c->labels[r]] += 1;
				}
			}
			i += rows;
		}
	}
}

/* Chooses row blocks for center sums: a count that depends only on the shape, bounded in memory. */
static void
plan_blocks(size_t n, size_t k, size_t d, size_t *block_rows, size_t *n_blocks)
{
	size_t		per_block = k * (d + 1);
	size_t		nb = (n + 1023) / 1024;
	size_t		cap = BLOCK_BUDGET / per_block;

	if (nb > MAX_BLOCKS)
		nb = MAX_BLOCKS;
	if (nb > cap)
		nb = cap;
	if (nb < 1)
		nb = 1;
	*block_rows = (n + nb - 1) / nb;
	*n_blocks = (n + *block_rows - 1) / *block_rows;
}

/* Inertia over float rows (converted on the fly), in fixed blocks of INERTIA_BLOCK_ROWS rows. */
typedef struct float_inertia_ctx
{
	const float *x;
	size_t		n;
	size_t		d;
	size_t		k;
	const double *ct;			/* the centers grouped */
	double	   *scratch;		/* pool size × 2 × d */
	double	   *block_inertia;
	size_t		poll;
} float_inertia_ctx;

/* Work function: the inertia of the rows of blocks [begin, end). */
static void
float_inertia_work(void *p, size_t begin, size_t end, int worker)
{
	float_inertia_ctx *c = p;
	size_t		d = c->d;
	double	   *row = c->scratch + (size_t) worker * 2 * d;

	for (size_t b = begin; b < end; b++)
	{
		size_t		r0 = b * INERTIA_BLOCK_ROWS;
		size_t		r1 = c->n - r0 > INERTIA_BLOCK_ROWS ? r0 + INERTIA_BLOCK_ROWS : c->n;
		size_t		until_poll = c->poll;
		double		sum = 0;

		for (size_t i = r0; i < r1; i += 2)
		{
			double		dx,
						dy;
			int32_t		lx,
						ly;

			if (--until_poll == 0)
			{
				if (pgml_should_stop())
					return;
				until_poll = c->poll;
			}
			for (size_t f = 0; f < d; f++)
				row[f] = c->x[i * d + f];
			if (i + 1 < r1)
			{
				for (size_t f = 0; f < d; f++)
					row[d + f] = c->x[(i + 1) * d + f];
				nearest_center2(row, row + d, c->ct, c->k, d, &lx, &ly, &dx, &dy);
				sum += dx;
				sum += dy;
			}
			else
			{
				(void) nearest_center(row, c->ct, c->k, d, &dx);
				sum += dx;
			}
		}
		c->block_inertia[b] = sum;
	}
}

/* The inertia of float rows x against centers (deterministic whatever the pool). */
static pgml_status
float_inertia(pgml_pool *pool, const float *x, size_t n, size_t d, const double *centers, size_t k,
			  double *out, pgml_err *err)
{
	float_inertia_ctx c;
	double	   *ct;
	size_t		n_blocks = (n + INERTIA_BLOCK_ROWS - 1) / INERTIA_BLOCK_ROWS;
	pgml_status rc;

	*out = 0;
	c.x = x;
	c.n = n;
	c.d = d;
	c.k = k;
	c.poll = poll_rows(3 * k * d);
	c.scratch = alloc_array((size_t) pgml_pool_size(pool) * 2 * d, sizeof(double));
	c.block_inertia = alloc_array(n_blocks, sizeof(double));
	ct = alloc_array(n_groups(k, GROUP) * GROUP * d, sizeof(double));
	c.ct = ct;
	if (c.scratch == NULL || c.block_inertia == NULL || ct == NULL)
		rc = out_of_memory(err);
	else
	{
		transpose_groups(centers, k, d, GROUP, ct);
		rc = pgml_parallel_for(pool, n_blocks, 1, float_inertia_work, &c, err);
	}
	if (rc == PGML_OK)
		for (size_t b = 0; b < n_blocks; b++)
			*out += c.block_inertia[b];
	pgml_free(c.scratch);
	pgml_free(c.block_inertia);
	pgml_free(ct);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Initialization: k-means++ (greedy, as sklearn) and random
 * ------------------------------------------------------------------------------------------------- */

/* Distances from each row to a few candidate centers, lowered to the current closest distance. */
typedef struct kpp_ctx
{
	const double *x;
	size_t		n;
	size_t		d;
	const double *cands;		/* the candidates grouped by CAND_GROUP */
	size_t		n_cands;
	const double *closest;		/* n, or NULL */
	double	   *out;			/* n_cands × n */
	size_t		poll;
} kpp_ctx;

/* Work function: rows [begin, end). */
static void
kpp_work(void *p, size_t begin, size_t end, int worker)
{
	kpp_ctx    *c = p;
	size_t		d = c->d;
	size_t		n = c->n;
	size_t		until_poll = c->poll;

	(void) worker;
	for (size_t i = begin; i < end;)
	{
		const double *xi = c->x + i * d;
		bool		two = i + 1 < end;
		double		lx = c->closest ? c->closest[i] : INFINITY;
		double		ly = two && c->closest ? c->closest[i + 1] : INFINITY;
		double		sx[CAND_GROUP];
		double		sy[CAND_GROUP];

		if (--until_poll == 0)
		{
			if (pgml_should_stop())
				return;
			until_poll = c->poll;
		}
		for (size_t g = 0, t0 = 0; t0 < c->n_cands; g++, t0 += CAND_GROUP)
		{
			size_t		width = c->n_cands - t0 < CAND_GROUP ? c->n_cands - t0 : CAND_GROUP;
			const double *tg = c->cands + g * d * CAND_GROUP;

			if (two)
				sq_dist_cand_group2(xi, xi + d, tg, d, sx, sy);
			else
				sq_dist_cand_group(xi, tg, d, sx);
			for (size_t j = 0; j < width; j++)
			{
				c->out[(t0 + j) * n + i] = sx[j] < lx ? sx[j] : lx;
				if (two)
					c->out[(t0 + j) * n + i + 1] = sy[j] < ly ? sy[j] : ly;
			}
		}
		i += two ? 2 : 1;
	}
}

/* Buffers for initializing from m rows. */
typedef struct init_buffers
{
	size_t		m;				/* rows they are sized for */
	size_t		trials;
	double	   *closest;		/* m */
	double	   *cand_dist;		/* trials × m */
	double	   *cumsum;			/* m */
	double	   *cand_rows;		/* trials × d */
	double	   *cand_t;			/* the candidates grouped by CAND_GROUP */
	size_t	   *cand_ids;		/* trials */
	size_t	   *perm;			/* m: a permutation of 0..m-1, for random init */
} init_buffers;

/* Frees the initialization buffers (their struct stays usable). */
static void
init_buffers_free(init_buffers *b)
{
	pgml_free(b->closest);
	pgml_free(b->cand_dist);
	pgml_free(b->cumsum);
	pgml_free(b->cand_rows);
	pgml_free(b->cand_t);
	pgml_free(b->cand_ids);
	pgml_free(b->perm);
	memset(b, 0, sizeof(*b));
}

/* Allocates buffers for m rows of d features and k clusters. */
static bool
init_buffers_alloc(init_buffers *b, size_t m, size_t d, size_t k, init_method method)
{
	memset(b, 0, sizeof(*b));
	b->m = m;
	b->trials = 2 + (size_t) log((double) k);
	if (method == INIT_KMEANS_PP)
	{
		size_t		cells;

		if (!pgml_mul_size(b->trials, m, &cells))
			return false;
		b->closest = alloc_array(m, sizeof(double));
		b->cand_dist = alloc_array(cells, sizeof(double));
		b->cumsum = alloc_array(m, sizeof(double));
		b->cand_rows = alloc_array(b->trials * d, sizeof(double));
		b->cand_t = alloc_array(n_groups(b->trials, CAND_GROUP) * CAND_GROUP * d, sizeof(double));
		b->cand_ids = alloc_array(b->trials, sizeof(size_t));
		if (!b->closest || !b->cand_dist || !b->cumsum || !b->cand_rows || !b->cand_t || !b->cand_ids)
			return false;
	}
	else if (method == INIT_RANDOM)
	{
		b->perm = alloc_array(m, sizeof(size_t));
		if (b->perm == NULL)
			return false;
		for (size_t i = 0; i < m; i++)
			b->perm[i] = i;
	}
	return true;
}

/* The first index i with cumsum[i] >= v (numpy's searchsorted, side "left"), at most m - 1. */
static size_t
search_cumsum(const double *cumsum, size_t m, double v)
{
	size_t		lo = 0;
	size_t		hi = m;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (cumsum[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m ? lo : m - 1;
}

/*
 * Greedy k-means++ on the m rows of x: the first center uniformly at random; each next one the best, by
 * the resulting potential, of `trials` candidates drawn with probability proportional to the squared
 * distance to the nearest center so far.
 */
static pgml_status
init_kmeans_pp(init_buffers *b, const double *x, size_t m, size_t d, size_t k, rng *r, pgml_pool *pool,
			   double *centers, pgml_err *err)
{
	kpp_ctx		c;
	size_t		first = rng_below(r, m);
	double		pot = 0;
	pgml_status rc;

	memcpy(centers, x + first * d, d * sizeof(double));
	transpose_groups(centers, 1, d, CAND_GROUP, b->cand_t);
	c.x = x;
	c.n = m;
	c.d = d;
	c.cands = b->cand_t;
	c.n_cands = 1;
	c.closest = NULL;
	c.out = b->closest;
	c.poll = poll_rows(3 * d * b->trials);
	rc = pgml_parallel_for(pool, m, 256, kpp_work, &c, err);
	if (rc != PGML_OK)
		return rc;
	for (size_t i = 0; i < m; i++)
		pot += b->closest[i];

	for (size_t ci = 1; ci < k; ci++)
	{
		double		acc = 0;
		double		best_pot = INFINITY;
		size_t		best_t = 0;

		if (pgml_check_stop(err) != PGML_OK)
			return PGML_ERR_CANCELLED;
		for (size_t i = 0; i < m; i++)
		{
			acc += b->closest[i];
			b->cumsum[i] = acc;
		}
		for (size_t t = 0; t < b->trials; t++)
		{
			b->cand_ids[t] = search_cumsum(b->cumsum, m, rng_uniform(r) * pot);
			memcpy(b->cand_rows + t * d, x + b->cand_ids[t] * d, d * sizeof(double));
		}
		transpose_groups(b->cand_rows, b->trials, d, CAND_GROUP, b->cand_t);
		c.n_cands = b->trials;
		c.closest = b->closest;
		c.out = b->cand_dist;
		rc = pgml_parallel_for(pool, m, 256, kpp_work, &c, err);
		if (rc != PGML_OK)
			return rc;
		for (size_t t = 0; t < b->trials; t++)
		{
			const double *dt = b->cand_dist + t * m;
			double		p = 0;

			for (size_t i = 0; i < m; i++)
				p += dt[i];
			if (p < best_pot)
			{
				best_pot = p;
				best_t = t;
			}
		}
		pot = best_pot;
		memcpy(b->closest, b->cand_dist + best_t * m, m * sizeof(double));
		memcpy(centers + ci * d, b->cand_rows + best_t * d, d * sizeof(double));
	}
	return PGML_OK;
}

/* k distinct rows of x chosen uniformly at random (a partial Fisher-Yates shuffle of b->perm). */
static void
init_random(init_buffers *b, const double *x, size_t m, size_t d, size_t k, rng *r, double *centers)
{
	for (size_t j = 0; j < k; j++)
	{
		size_t		pick = j + rng_below(r, m - j);
		size_t		t = b->perm[j];

		b->perm[j] = b->perm[pick];
		b->perm[pick] = t;
		memcpy(centers + j * d, x + b->perm[j] * d, d * sizeof(double));
	}
}

/* Initial centers by the chosen method. */
static pgml_status
init_centers(init_method method, const double *given, init_buffers *b, const double *x, size_t m, size_t d,
			 size_t k, rng *r, pgml_pool *pool, double *centers, pgml_err *err)
{
	switch (method)
	{
		case INIT_KMEANS_PP:
			return init_kmeans_pp(b, x, m, d, k, r, pool, centers, err);
		case INIT_RANDOM:
			init_random(b, x, m, d, k, r, centers);
			return PGML_OK;
		case INIT_ARRAY:
			memcpy(centers, given, k * d * sizeof(double));
			return PGML_OK;
	}
	return pgml_error(err, PGML_ERR_INTERNAL, "unknown initialization method");
}

/* ---------------------------------------------------------------------------------------------------
 * The k-means family's fitted state, predict, save and load
 * ------------------------------------------------------------------------------------------------- */

static const char *const kmeans_algorithms[] = {"lloyd", "elkan", "auto", "full", NULL};

/* The effective hyperparameters of a k-means state; each kind uses its own. */
typedef struct kmeans_params
{
	init_method init;
	double	   *init_centers;	/* k × d when init is INIT_ARRAY */
	int64_t		n_init;
	int64_t		max_iter;
	double		tol;
	int64_t		verbose;
	int64_t		random_state;	/* -1: null */
	bool		copy_x;			/* KMeans */
	int64_t		algorithm;		/* KMeans: index in kmeans_algorithms */
	int64_t		batch_size;		/* MiniBatchKMeans */
	bool		compute_labels;
	int64_t		max_no_improvement; /* -1: null */
	int64_t		init_size;		/* -1: null */
	double		reassignment_ratio;
} kmeans_params;

typedef struct kmeans_state
{
	uint8_t		kind;			/* KIND_KMEANS or KIND_MINI_BATCH */
	size_t		k;
	size_t		d;
	double	   *centers;		/* k × d */
	double	   *ct;				/* the centers grouped (not saved) */
	double		inertia;		/* on the training data */
	int64_t		n_iter;
	kmeans_params p;
} kmeans_state;

/* Frees a k-means state (NULL is fine). */
static void
kmeans_free(void *p)
{
	kmeans_state *s = p;

	if (s == NULL)
		return;
	pgml_free(s->centers);
	pgml_free(s->ct);
	pgml_free(s->p.init_centers);
	pgml_free(s);
}

/* Fills s->ct from s->centers. */
static bool
kmeans_group_centers(kmeans_state *s)
{
	s->ct = alloc_array(n_groups(s->k, GROUP) * GROUP * s->d, sizeof(double));
	if (s->ct == NULL)
		return false;
	transpose_groups(s->centers, s->k, s->d, GROUP, s->ct);
	return true;
}

/* One output per row: the cluster index. */
static size_t
kmeans_n_outputs(const void *state)
{
	(void) state;
	return 1;
}

/* Writes the index of the nearest center of each row, as a float. */
static pgml_status
kmeans_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out, pgml_err *err)
{
	const kmeans_state *s = state;
	double	   *row;
	size_t		every;
	pgml_status rc = check_predict(state, x, n_rows, n_features, s ? s->d : 0, out, err);

	if (rc != PGML_OK)
		return rc;
	row = alloc_array(s->d, sizeof(double));
	if (row == NULL)
		return out_of_memory(err);
	every = poll_rows(3 * s->k * s->d);
	for (size_t i = 0; i < n_rows; i++)
	{
		double		dist;

		if (i % every == 0 && pgml_check_stop(err) != PGML_OK)
		{
			pgml_free(row);
			return PGML_ERR_CANCELLED;
		}
		for (size_t f = 0; f < s->d; f++)
			row[f] = x[i * s->d + f];
		out[i] = (float) nearest_center(row, s->ct, s->k, s->d, &dist);
	}
	pgml_free(row);
	return PGML_OK;
}

/* The effective hyperparameters, with sklearn's names, as a new JSON object. */
static json_t *
kmeans_params_json(const void *state)
{
	const kmeans_state *s = state;
	const kmeans_params *p;
	json_t	   *o;
	bool		ok;

	if (s == NULL || (o = json_object()) == NULL)
		return NULL;
	p = &s->p;
	ok = jset(o, "n_clusters", json_integer((json_int_t) s->k)) &&
		jset(o, "init", init_to_json(p->init, p->init_centers, s->k, s->d));
	if (s->kind == KIND_KMEANS)
		ok = ok &&
			jset(o, "n_init", json_integer(p->n_init)) &&
			jset(o, "max_iter", json_integer(p->max_iter)) &&
			jset(o, "tol", json_real(p->tol)) &&
			jset(o, "verbose", json_integer(p->verbose)) &&
			jset(o, "random_state", null_or_int(p->random_state)) &&
			jset(o, "copy_x", json_boolean(p->copy_x)) &&
			jset(o, "algorithm", json_string(kmeans_algorithms[p->algorithm]));
	else
		ok = ok &&
			jset(o, "max_iter", json_integer(p->max_iter)) &&
			jset(o, "batch_size", json_integer(p->batch_size)) &&
			jset(o, "verbose", json_integer(p->verbose)) &&
			jset(o, "compute_labels", json_boolean(p->compute_labels)) &&
			jset(o, "random_state", null_or_int(p->random_state)) &&
			jset(o, "tol", json_real(p->tol)) &&
			jset(o, "max_no_improvement", null_or_int(p->max_no_improvement)) &&
			jset(o, "init_size", null_or_int(p->init_size)) &&
			jset(o, "n_init", json_integer(p->n_init)) &&
			jset(o, "reassignment_ratio", json_real(p->reassignment_ratio));
	if (!ok)
	{
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Writes a k-means state: shape, centers, inertia, iterations and the hyperparameters. */
static void
kmeans_save(const void *state, pgml_buf *out)
{
	const kmeans_state *s = state;
	const kmeans_params *p = &s->p;

	pgml_buf_put_u32(out, STATE_VERSION);
	pgml_buf_put_u8(out, s->kind);
	pgml_buf_put_u64(out, s->k);
	pgml_buf_put_u64(out, s->d);
	pgml_buf_put_f64s(out, s->centers, s->k * s->d);
	pgml_buf_put_f64(out, s->inertia);
	pgml_buf_put_i64(out, s->n_iter);
	/* the hyperparameters */
	pgml_buf_put_u8(out, (uint8_t) p->init);
	if (p->init == INIT_ARRAY)
		pgml_buf_put_f64s(out, p->init_centers, s->k * s->d);
	pgml_buf_put_i64(out, p->n_init);
	pgml_buf_put_i64(out, p->max_iter);
	pgml_buf_put_f64(out, p->tol);
	pgml_buf_put_i64(out, p->verbose);
	pgml_buf_put_i64(out, p->random_state);
	pgml_buf_put_u8(out, p->copy_x ? 1 : 0);
	pgml_buf_put_u8(out, (uint8_t) p->algorithm);
	pgml_buf_put_i64(out, p->batch_size);
	pgml_buf_put_u8(out, p->compute_labels ? 1 : 0);
	pgml_buf_put_i64(out, p->max_no_improvement);
	pgml_buf_put_i64(out, p->init_size);
	pgml_buf_put_f64(out, p->reassignment_ratio);
}

/* Reads the hyperparameters written by kmeans_save. */
static void
kmeans_load_params(pgml_reader *in, kmeans_state *s)
{
	kmeans_params *p = &s->p;

	p->init = (init_method) get_choice_index(in, 3);
	if (pgml_reader_status(in) == PGML_OK && p->init == INIT_ARRAY)
		p->init_centers = get_f64s(in, s->k * s->d);
	p->n_init = get_ranged(in, 1, INT32_MAX);
	p->max_iter = get_ranged(in, 1, INT32_MAX);
	p->tol = get_nonneg(in);
	p->verbose = get_ranged(in, INT32_MIN, INT32_MAX);
	p->random_state = get_ranged(in, -1, UINT32_MAX);
	p->copy_x = get_flag(in);
	p->algorithm = get_choice_index(in, 4);
	p->batch_size = get_ranged(in, 0, INT32_MAX);
	p->compute_labels = get_flag(in);
	p->max_no_improvement = get_ranged(in, -1, INT32_MAX);
	p->init_size = get_ranged(in, -1, INT32_MAX);
	p->reassignment_ratio = get_nonneg(in);
}

/* Loads a state written by kmeans_save, for `kind`. */
static pgml_status
kmeans_load_kind(pgml_reader *in, uint8_t kind, void **state, pgml_err *err)
{
	kmeans_state *s;
	size_t		cells = 0;

	*state = NULL;
	if (!check_header(in, kind))
		return PGML_ERR_CORRUPT;
	s = pgml_calloc(1, sizeof(kmeans_state));
	if (s == NULL)
		return out_of_memory(err);
	s->kind = kind;
	s->k = get_dim(in, MAX_DIM, "The cluster count is out of range");
	s->d = get_dim(in, MAX_DIM, "The feature count is out of range");
	if (pgml_reader_status(in) == PGML_OK && !pgml_mul_size(s->k, s->d, &cells))
		pgml_reader_fail(in, "The centers are too large");
	if (pgml_reader_status(in) == PGML_OK)
		s->centers = get_f64s(in, cells);
	s->inertia = pgml_reader_f64(in);
	s->n_iter = pgml_reader_i64(in);
	if (pgml_reader_status(in) == PGML_OK && (!isfinite(s->inertia) || s->inertia < 0 || s->n_iter < 0))
		pgml_reader_fail(in, "The inertia or iteration count is invalid");
	if (pgml_reader_status(in) == PGML_OK)
		kmeans_load_params(in, s);
	if (pgml_reader_status(in) != PGML_OK)
	{
		kmeans_free(s);
		return PGML_ERR_CORRUPT;
	}
	if (!kmeans_group_centers(s))
	{
		kmeans_free(s);
		return out_of_memory(err);
	}
	*state = s;
	return PGML_OK;
}

/* Loads a KMeans state. */
static pgml_status
kmeans_load(pgml_reader *in, void **state, pgml_err *err)
{
	return kmeans_load_kind(in, KIND_KMEANS, state, err);
}

/* Loads a MiniBatchKMeans state. */
static pgml_status
mini_batch_load(pgml_reader *in, void **state, pgml_err *err)
{
	return kmeans_load_kind(in, KIND_MINI_BATCH, state, err);
}

/* A new state with copies of centers (k × d) and of the hyperparameters. */
static pgml_status
kmeans_state_new(uint8_t kind, size_t k, size_t d, const double *centers, double inertia, int64_t n_iter,
				 const kmeans_params *p, void **state, pgml_err *err)
{
	kmeans_state *s = pgml_calloc(1, sizeof(kmeans_state));

	if (s == NULL)
		return out_of_memory(err);
	s->kind = kind;
	s->k = k;
	s->d = d;
	s->inertia = inertia;
	s->n_iter = n_iter;
	s->p = *p;
	s->p.init_centers = NULL;
	s->centers = alloc_array(k * d, sizeof(double));
	if (s->centers == NULL ||
		(p->init == INIT_ARRAY && (s->p.init_centers = alloc_array(k * d, sizeof(double))) == NULL))
	{
		kmeans_free(s);
		return out_of_memory(err);
	}
	memcpy(s->centers, centers, k * d * sizeof(double));
	if (p->init == INIT_ARRAY)
		memcpy(s->p.init_centers, p->init_centers, k * d * sizeof(double));
	if (!kmeans_group_centers(s))
	{
		kmeans_free(s);
		return out_of_memory(err);
	}
	*state = s;
	return PGML_OK;
}

/* Logs a warning when fewer distinct clusters than n_clusters were found (as sklearn warns). */
static void
warn_distinct(const int32_t *labels, size_t n, size_t k, int32_t *seen)
{
	size_t		distinct = 0;

	memset(seen, 0, k * sizeof(int32_t));
	for (size_t i = 0; i < n; i++)
		if (!seen[labels[i]])
		{
			seen[labels[i]] = 1;
			distinct++;
		}
	if (distinct < k)
		pgml_log(PGML_LOG_WARNING,
				 "number of distinct clusters (%zu) found smaller than n_clusters (%zu); possibly due to duplicate points in the data",
				 distinct, k);
}

/* ---------------------------------------------------------------------------------------------------
 * KMeans (Lloyd)
 * ------------------------------------------------------------------------------------------------- */

static const char *const kmeans_param_names[] = {
	"n_clusters", "init", "n_init", "max_iter", "tol", "verbose", "random_state", "copy_x", "algorithm", NULL
};

/* Everything a KMeans fit works with. */
typedef struct kmeans_fit_ws
{
	const double *x;			/* n × d, the data in double */
	size_t		n;
	size_t		d;
	size_t		k;
	pgml_pool  *pool;
	int64_t		max_iter;
	double		tol;			/* scaled by the data's mean variance */
	int64_t		verbose;

	double	   *centers;		/* k × d: a run's centers (initial, then final) */
	double	   *centers_new;	/* k × d */
	double	   *best_centers;	/* k × d */
	double	   *ct;				/* the centers of an assignment, grouped */
	double	   *sums;			/* k × d */
	double	   *counts;			/* k */
	int32_t    *labels;			/* n */
	int32_t    *labels_old;		/* n */
	int32_t    *best_labels;	/* n */
	double	   *dist;			/* n: squared distance of each row to its center */
	double	   *block_sums;		/* n_blocks × k × d */
	double	   *block_counts;	/* n_blocks × k */
	size_t		block_rows;
	size_t		n_blocks;
	size_t	   *heap_idx;		/* k: relocation of empty clusters */
	double	   *heap_dist;		/* k */
	int32_t    *map;			/* k: same_clustering */
} kmeans_fit_ws;

/* Runs one assignment pass over all rows against `centers`. */
static pgml_status
kmeans_assign(kmeans_fit_ws *w, const double *centers, assign_mode mode, pgml_err *err)
{
	assign_ctx	c;

	c.mode = mode;
	c.x = w->x;
	c.n = w->n;
	c.d = w->d;
	c.k = w->k;
	c.centers = centers;
	c.ct = w->ct;
	c.labels = w->labels;
	c.dist = w->dist;
	c.sums = w->block_sums;
	c.counts = w->block_counts;
	c.block_rows = w->block_rows;
	c.poll = poll_rows(3 * w->k * w->d);
	if (mode != DIST_ONLY)
		transpose_groups(centers, w->k, w->d, GROUP, w->ct);
	return pgml_parallel_for(w->pool, w->n_blocks, 1, assign_work, &c, err);
}

/* "a is farther than b": by distance, then the lower row first (a total order, for determinism). */
static inline bool
farther(double da, size_t ia, double db, size_t ib)
{
	return da > db || (da == db && ia < ib);
}

/* Restores the min-heap (by `farther`) below position i. */
static void
heap_down(double *hd, size_t *hi, size_t m, size_t i)
{
	for (;;)
	{
		size_t		l = 2 * i + 1;
		size_t		r = l + 1;
		size_t		least = i;

		if (l < m && farther(hd[least], hi[least], hd[l], hi[l]))
			least = l;
		if (r < m && farther(hd[least], hi[least], hd[r], hi[r]))
			least = r;
		if (least == i)
			return;
		{
			double		td = hd[i];
			size_t		ti = hi[i];

			hd[i] = hd[least];
			hi[i] = hi[least];
			hd[least] = td;
			hi[least] = ti;
		}
		i = least;
	}
}

/*
 * Gives each empty cluster one of the rows farthest from their centers (the farthest to the lowest empty
 * cluster), taking the row out of its cluster's sums, as sklearn's _relocate_empty_clusters.
 */
static void
relocate_empty(kmeans_fit_ws *w)
{
	size_t		k = w->k;
	size_t		d = w->d;
	size_t		m = 0;
	size_t		filled = 0;

	for (size_t c = 0; c < k; c++)
		m += w->counts[c] == 0;
	if (m == 0)
		return;
	/* the m farthest rows: a min-heap whose root is the nearest of them */
	for (size_t i = 0; i < w->n; i++)
	{
		if (filled < m)
		{
			size_t		j = filled++;

			w->heap_dist[j] = w->dist[i];
			w->heap_idx[j] = i;
			while (j > 0 && farther(w->heap_dist[(j - 1) / 2], w->heap_idx[(j - 1) / 2], w->heap_dist[j],
									w->heap_idx[j]))
			{
				size_t		p = (j - 1) / 2;
				double		td = w->heap_dist[p];
				size_t		ti = w->heap_idx[p];

				w->heap_dist[p] = w->heap_dist[j];
				w->heap_idx[p] = w->heap_idx[j];
				w->heap_dist[j] = td;
				w->heap_idx[j] = ti;
				j = p;
			}
		}
		else if (farther(w->dist[i], i, w->heap_dist[0], w->heap_idx[0]))
		{
			w->heap_dist[0] = w->dist[i];
			w->heap_idx[0] = i;
			heap_down(w->heap_dist, w->heap_idx, m, 0);
		}
	}
	/* pop the nearest first into the back: heap_idx then runs from the farthest */
	for (size_t size = m; size > 1; size--)
	{
		double		td = w->heap_dist[0];
		size_t		ti = w->heap_idx[0];

		w->heap_dist[0] = w->heap_dist[size - 1];
		w->heap_idx[0] = w->heap_idx[size - 1];
		w->heap_dist[size - 1] = td;
		w->heap_idx[size - 1] = ti;
		heap_down(w->heap_dist, w->heap_idx, size - 1, 0);
	}
	for (size_t c = 0, e = 0; c < k && e < m; c++)
	{
		size_t		row;
		size_t		old;
		const double *xr;

		if (w->counts[c] != 0)
			continue;
		row = w->heap_idx[e++];
		old = (size_t) w->labels[row];
		xr = w->x + row * d;
		for (size_t f = 0; f < d; f++)
		{
			w->sums[old * d + f] -= xr[f];
			w->sums[c * d + f] = xr[f];
		}
		w->counts[old] -= 1;
		w->counts[c] = 1;
	}
}

/*
 * One Lloyd run from the centers in w->centers, as sklearn's _kmeans_single_lloyd: stops on unchanged
 * labels (strict convergence) or when the squared center shift is within tol. Leaves the final centers in
 * w->centers, the labels in w->labels and returns the inertia.
 */
static pgml_status
lloyd(kmeans_fit_ws *w, double *inertia, int64_t *n_iter, pgml_err *err)
{
	size_t		k = w->k;
	size_t		d = w->d;
	double	   *centers = w->centers;
	double	   *centers_new = w->centers_new;
	bool		strict = false;
	int64_t		it;
	pgml_status rc;

	for (size_t i = 0; i < w->n; i++)
		w->labels_old[i] = -1;
	for (it = 0; it < w->max_iter; it++)
	{
		double		shift = 0;
		bool		same;

		rc = kmeans_assign(w, centers, ASSIGN_SUMS, err);
		if (rc != PGML_OK)
			return rc;
		memset(w->sums, 0, k * d * sizeof(double));
		memset(w->counts, 0, k * sizeof(double));
		for (size_t b = 0; b < w->n_blocks; b++)
		{
			const double *bs = w->block_sums + b * k * d;
			const double *bc = w->block_counts + b * k;

			for (size_t j = 0; j < k * d; j++)
				w->sums[j] += bs[j];
			for (size_t c = 0; c < k; c++)
				w->counts[c] += bc[c];
		}
		relocate_empty(w);
		for (size_t c = 0; c < k; c++)
		{
			double	   *cn = centers_new + c * d;
			const double *co = centers + c * d;

			if (w->counts[c] > 0)
			{
				double		alpha = 1.0 / w->counts[c];

				for (size_t f = 0; f < d; f++)
					cn[f] = w->sums[c * d + f] * alpha;
			}
			else
				memcpy(cn, co, d * sizeof(double));
			shift += sq_dist(cn, co, d);
		}
		if (w->verbose > 0)
		{
			double		in = 0;

			for (size_t i = 0; i < w->n; i++)
				in += w->dist[i];
			pgml_log(PGML_LOG_INFO, "kmeans: iteration %lld, inertia %.6g", (long long) it, in);
		}
		{
			double	   *t = centers;

			centers = centers_new;
			centers_new = t;
		}
		same = memcmp(w->labels, w->labels_old, w->n * sizeof(int32_t)) == 0;
		if (same)
		{
			strict = true;
			break;
		}
		if (shift <= w->tol)
			break;
		memcpy(w->labels_old, w->labels, w->n * sizeof(int32_t));
	}
	*n_iter = it < w->max_iter ? it + 1 : w->max_iter;
	if (w->verbose > 0)
		pgml_log(PGML_LOG_INFO, "kmeans: %s after %lld iterations", strict ? "converged (labels unchanged)" :
				 it < w->max_iter ? "converged (center shift within tolerance)" : "stopped", (long long) *n_iter);

	/* labels against the final centers (strict: they are unchanged; only the distances are refreshed) */
	rc = kmeans_assign(w, centers, strict ? DIST_ONLY : ASSIGN_ONLY, err);
	if (rc != PGML_OK)
		return rc;
	*inertia = 0;
	for (size_t i = 0; i < w->n; i++)
		*inertia += w->dist[i];
	if (centers != w->centers)
		memcpy(w->centers, centers, k * d * sizeof(double));
	return PGML_OK;
}

/* Whether two labelings are the same up to a renaming of labels a → b (sklearn's _is_same_clustering). */
static bool
same_clustering(const int32_t *a, const int32_t *b, size_t n, size_t k, int32_t *map)
{
	for (size_t c = 0; c < k; c++)
		map[c] = -1;
	for (size_t i = 0; i < n; i++)
	{
		if (map[a[i]] == -1)
			map[a[i]] = b[i];
		else if (map[a[i]] != b[i])
			return false;
	}
	return true;
}

/* Frees a KMeans workspace. */
static void
kmeans_ws_free(kmeans_fit_ws *w)
{
	pgml_free((void *) w->x);
	pgml_free(w->centers);
	pgml_free(w->centers_new);
	pgml_free(w->best_centers);
	pgml_free(w->ct);
	pgml_free(w->sums);
	pgml_free(w->counts);
	pgml_free(w->labels);
	pgml_free(w->labels_old);
	pgml_free(w->best_labels);
	pgml_free(w->dist);
	pgml_free(w->block_sums);
	pgml_free(w->block_counts);
	pgml_free(w->heap_idx);
	pgml_free(w->heap_dist);
	pgml_free(w->map);
}

/* Fits KMeans: the best, by inertia, of n_init Lloyd runs from k-means++ (or random, or given) centers. */
static pgml_status
kmeans_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	const json_t *hp;
	kmeans_fit_ws w;
	init_buffers ib;
	init_method method;
	kmeans_params p;
	double	   *given = NULL;
	int64_t		n_init;
	int64_t		random_state;
	int64_t		best_iter = 0;
	double		tol;
	double		best_inertia = -1;
	bool		copy_x;
	const char *algorithm;
	uint64_t	seed;
	rng			r;
	size_t		n,
				d,
				k,
				cells;
	pgml_status rc;

	*state = NULL;
	memset(&w, 0, sizeof(w));
	memset(&ib, 0, sizeof(ib));
	rc = check_fit(args, train, PGML_TASK_CLUSTERING, "kmeans", kmeans_param_names, err);
	if (rc != PGML_OK)
		return rc;
	hp = args->hyperparams;
	n = train->n_rows;
	d = train->n_features;
	if ((rc = get_n_clusters(hp, n, &k, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "max_iter", 300, 1, INT32_MAX, &w.max_iter, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "tol", 1e-4, 0, DBL_MAX, &tol, err)) != PGML_OK ||
		(rc = get_verbose(hp, &w.verbose, err)) != PGML_OK ||
		(rc = get_random_state(hp, args->seed, &random_state, &seed, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "copy_x", true, &copy_x, err)) != PGML_OK ||
		(rc = get_choice(hp, "algorithm", "lloyd", kmeans_algorithms, &algorithm, err)) != PGML_OK ||
		(rc = get_init(hp, k, d, &method, &given, err)) != PGML_OK)
		return rc;
	if ((rc = get_n_init(hp, 10, method, &n_init, err)) != PGML_OK)
		goto done;
	if (!pgml_mul_size(n, d, &cells) || !pgml_mul_size(k, d + 1, &cells))
	{
		rc = pgml_error(err, PGML_ERR_LIMIT, "the training data is too large");
		goto done;
	}

	w.n = n;
	w.d = d;
	w.k = k;
	w.pool = args->pool;
	{
		double	   *xd;

		if ((rc = to_double(train->x, n, d, &xd, err)) != PGML_OK)
			goto done;
		w.x = xd;
	}
	if (tol > 0)
	{
		double		var;

		if ((rc = mean_variance(train->x, n, d, &var, err)) != PGML_OK)
			goto done;
		w.tol = tol * var;
	}
	plan_blocks(n, k, d, &w.block_rows, &w.n_blocks);
	w.centers = alloc_array(k * d, sizeof(double));
	w.centers_new = alloc_array(k * d, sizeof(double));
	w.best_centers = alloc_array(k * d, sizeof(double));
	w.ct = alloc_array(n_groups(k, GROUP) * GROUP * d, sizeof(double));
	w.sums = alloc_array(k * d, sizeof(double));
	w.counts = alloc_array(k, sizeof(double));
	w.labels = alloc_array(n, sizeof(int32_t));
	w.labels_old = alloc_array(n, sizeof(int32_t));
	w.best_labels = alloc_array(n, sizeof(int32_t));
	w.dist = alloc_array(n, sizeof(double));
	w.block_sums = alloc_array(w.n_blocks * k * d, sizeof(double));
	w.block_counts = alloc_array(w.n_blocks * k, sizeof(double));
	w.heap_idx = alloc_array(k, sizeof(size_t));
	w.heap_dist = alloc_array(k, sizeof(double));
	w.map = alloc_array(k, sizeof(int32_t));
	if (!w.centers || !w.centers_new || !w.best_centers || !w.ct || !w.sums || !w.counts || !w.labels ||
		!w.labels_old || !w.best_labels || !w.dist || !w.block_sums || !w.block_counts || !w.heap_idx ||
		!w.heap_dist || !w.map || !init_buffers_alloc(&ib, n, d, k, method))
	{
		rc = out_of_memory(err);
		goto done;
	}

	rng_seed(&r, seed);
	for (int64_t run = 0; run < n_init; run++)
	{
		double		inertia;
		int64_t		iters;

		rc = init_centers(method, given, &ib, w.x, n, d, k, &r, w.pool, w.centers, err);
		if (rc != PGML_OK)
			goto done;
		if (w.verbose > 0)
			pgml_log(PGML_LOG_INFO, "kmeans: initialization %lld of %lld complete", (long long) run + 1,
					 (long long) n_init);
		rc = lloyd(&w, &inertia, &iters, err);
		if (rc != PGML_OK)
			goto done;
		if (w.verbose > 0)
			pgml_log(PGML_LOG_INFO, "kmeans: run %lld of %lld: inertia %.10g", (long long) run + 1,
					 (long long) n_init, inertia);
		if (best_inertia < 0 ||
			(inertia < best_inertia && !same_clustering(w.labels, w.best_labels, n, k, w.map)))
		{
			best_inertia = inertia;
			best_iter = iters;
			memcpy(w.best_centers, w.centers, k * d * sizeof(double));
			memcpy(w.best_labels, w.labels, n * sizeof(int32_t));
		}
	}
	warn_distinct(w.best_labels, n, k, w.map);

	memset(&p, 0, sizeof(p));
	p.init = method;
	p.init_centers = given;
	p.n_init = n_init;
	p.max_iter = w.max_iter;
	p.tol = tol;
	p.verbose = w.verbose;
	p.random_state = random_state;
	p.copy_x = copy_x;
	p.algorithm = choice_index(kmeans_algorithms, algorithm);
	rc = kmeans_state_new(KIND_KMEANS, k, d, w.best_centers, best_inertia, best_iter, &p, state, err);

done:
	pgml_free(given);
	init_buffers_free(&ib);
	kmeans_ws_free(&w);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * MiniBatchKMeans
 * ------------------------------------------------------------------------------------------------- */

static const char *const mini_batch_param_names[] = {
	"n_clusters", "init", "max_iter", "batch_size", "verbose", "compute_labels", "random_state", "tol",
	"max_no_improvement", "init_size", "n_init", "reassignment_ratio", NULL
};

typedef struct cluster_weight
{
	double		w;
	size_t		c;
} cluster_weight;

/* qsort order: by weight, then by cluster. */
static int
cmp_cluster_weight(const void *a, const void *b)
{
	const cluster_weight *x = a;
	const cluster_weight *y = b;

	if (x->w != y->w)
		return x->w < y->w ? -1 : 1;
	return x->c < y->c ? -1 : x->c > y->c;
}

/* Copies rows idx[0..m) of float x (all of 0..m-1 when idx is NULL) into the double matrix out. */
static void
gather_rows(const float *x, size_t d, const size_t *idx, size_t m, double *out)
{
	for (size_t i = 0; i < m; i++)
	{
		const float *row = x + (idx ? idx[i] : i) * d;

		for (size_t f = 0; f < d; f++)
			out[i * d + f] = row[f];
	}
}

/* Nearest centers and distances of the m rows of a double matrix (ct: room for the grouped centers). */
static pgml_status
assign_rows(pgml_pool *pool, const double *x, size_t m, size_t d, const double *centers, double *ct, size_t k,
			int32_t *labels, double *dist, pgml_err *err)
{
	assign_ctx	c;

	transpose_groups(centers, k, d, GROUP, ct);
	c.mode = ASSIGN_ONLY;
	c.x = x;
	c.n = m;
	c.d = d;
	c.k = k;
	c.centers = centers;
	c.ct = ct;
	c.labels = labels;
	c.dist = dist;
	c.sums = NULL;
	c.counts = NULL;
	c.block_rows = 256;
	c.poll = poll_rows(3 * k * d);
	return pgml_parallel_for(pool, (m + 255) / 256, 1, assign_work, &c, err);
}

/* Everything a MiniBatchKMeans fit works with. */
typedef struct mini_batch_ws
{
	double	   *valid;			/* init_size × d: validation rows for choosing an init */
	double	   *init_rows;		/* init_size × d: rows an init draws from */
	size_t	   *init_idx;		/* init_size */
	int32_t    *init_labels;	/* init_size */
	double	   *init_dist;		/* init_size */
	double	   *centers;		/* k × d */
	double	   *centers_new;	/* k × d */
	double	   *ct;				/* the centers grouped */
	double	   *batch;			/* batch × d */
	int32_t    *labels;			/* batch */
	double	   *dist;			/* batch */
	size_t	   *batch_perm;		/* batch: a permutation, for choosing reassigned centers */
	double	   *sums;			/* k × d */
	double	   *counts;			/* k: this batch */
	double	   *weights;		/* k: all batches (sklearn's _counts) */
	uint8_t    *flags;			/* k */
	cluster_weight *order;		/* k */
} mini_batch_ws;

/* Frees a MiniBatchKMeans workspace. */
static void
mini_batch_ws_free(mini_batch_ws *w)
{
	pgml_free(w->valid);
	pgml_free(w->init_rows);
	pgml_free(w->init_idx);
	pgml_free(w->init_labels);
	pgml_free(w->init_dist);
	pgml_free(w->centers);
	pgml_free(w->centers_new);
	pgml_free(w->ct);
	pgml_free(w->batch);
	pgml_free(w->labels);
	pgml_free(w->dist);
	pgml_free(w->batch_perm);
	pgml_free(w->sums);
	pgml_free(w->counts);
	pgml_free(w->weights);
	pgml_free(w->flags);
	pgml_free(w->order);
}

/*
 * Replaces the centers of clusters with little weight by random rows of the batch, as sklearn's
 * _mini_batch_step (reassignment_ratio): at most half a batch of them, and their weights are set to the
 * smallest weight among the others.
 */
static void
reassign_light(mini_batch_ws *w, size_t k, size_t d, size_t batch, double ratio, rng *r, int64_t verbose)
{
	double		wmax = 0;
	double		wmin = INFINITY;
	size_t		n_re = 0;
	size_t		e = 0;

	for (size_t c = 0; c < k; c++)
		if (w->weights[c] > wmax)
			wmax = w->weights[c];
	for (size_t c = 0; c < k; c++)
	{
		w->flags[c] = w->weights[c] < ratio * wmax;
		n_re += w->flags[c];
	}
	if ((double) n_re > 0.5 * (double) batch)
	{
		size_t		keep = (size_t) (0.5 * (double) batch);

		for (size_t c = 0; c < k; c++)
		{
			w->order[c].w = w->weights[c];
			w->order[c].c = c;
		}
		qsort(w->order, k, sizeof(cluster_weight), cmp_cluster_weight);
		for (size_t pos = keep; pos < k; pos++)
			w->flags[w->order[pos].c] = 0;
	}
	n_re = 0;
	for (size_t c = 0; c < k; c++)
		n_re += w->flags[c];
	if (n_re == k)
	{
		/* all flagged (reassignment_ratio > 1): keep the heaviest, whose weight the others take */
		size_t		heaviest = 0;

		for (size_t c = 1; c < k; c++)
			if (w->weights[c] > w->weights[heaviest])
				heaviest = c;
		w->flags[heaviest] = 0;
		n_re--;
	}
	if (n_re == 0)
		return;
	for (size_t j = 0; j < n_re; j++)
	{
		size_t		pick = j + rng_below(r, batch - j);
		size_t		t = w->batch_perm[j];

		w->batch_perm[j] = w->batch_perm[pick];
		w->batch_perm[pick] = t;
	}
	for (size_t c = 0; c < k; c++)
		if (!w->flags[c] && w->weights[c] < wmin)
			wmin = w->weights[c];
	for (size_t c = 0; c < k; c++)
	{
		if (!w->flags[c])
			continue;
		memcpy(w->centers_new + c * d, w->batch + w->batch_perm[e++] * d, d * sizeof(double));
		w->weights[c] = wmin;
	}
	if (verbose > 0)
		pgml_log(PGML_LOG_INFO, "mini_batch_kmeans: reassigning %zu cluster centers", n_re);
}

/*
 * Fits MiniBatchKMeans as sklearn: the best of n_init inits (each on init_size random rows, judged on
 * validation rows), then steps on random batches, each center moving to the running mean of the rows it
 * has been given (a learning rate of 1 / its count), with reassignment of light clusters and early
 * stopping on the smoothed batch inertia or a small center change.
 */
static pgml_status
mini_batch_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	const json_t *hp;
	mini_batch_ws w;
	init_buffers ib;
	init_method method;
	kmeans_params p;
	double	   *given = NULL;
	int64_t		max_iter,
				batch_size,
				verbose,
				random_state,
				max_no_improvement,
				init_size_param,
				n_init;
	double		tol,
				ratio,
				tol_eff = 0,
				best_init = -1,
				inertia = 0;
	bool		compute_labels;
	uint64_t	seed,
				n_steps,
				step;
	size_t		n,
				d,
				k,
				batch,
				init_size,
				cells,
				since_reassign = 0,
				no_improvement = 0;
	double		ewa = 0,
				ewa_min = 0,
				last_batch_mean = 0;
	bool		have_ewa = false,
				have_ewa_min = false;
	rng			r;
	pgml_status rc;

	*state = NULL;
	memset(&w, 0, sizeof(w));
	memset(&ib, 0, sizeof(ib));
	rc = check_fit(args, train, PGML_TASK_CLUSTERING, "mini_batch_kmeans", mini_batch_param_names, err);
	if (rc != PGML_OK)
		return rc;
	hp = args->hyperparams;
	n = train->n_rows;
	d = train->n_features;
	if ((rc = get_n_clusters(hp, n, &k, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "max_iter", 100, 1, INT32_MAX, &max_iter, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "batch_size", 1024, 1, INT32_MAX, &batch_size, err)) != PGML_OK ||
		(rc = get_verbose(hp, &verbose, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "compute_labels", true, &compute_labels, err)) != PGML_OK ||
		(rc = get_random_state(hp, args->seed, &random_state, &seed, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "tol", 0.0, 0, DBL_MAX, &tol, err)) != PGML_OK ||
		(rc = get_optional_int(hp, "max_no_improvement", 10, 0, &max_no_improvement, err)) != PGML_OK ||
		(rc = get_optional_int(hp, "init_size", -1, 1, &init_size_param, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "reassignment_ratio", 0.01, 0, DBL_MAX, &ratio, err)) != PGML_OK ||
		(rc = get_init(hp, k, d, &method, &given, err)) != PGML_OK)
		return rc;
	if ((rc = get_n_init(hp, 3, method, &n_init, err)) != PGML_OK)
		goto done;

	batch = (uint64_t) batch_size < n ? (size_t) batch_size : n;
	if (init_size_param < 0)
	{
		init_size = 3 * batch;
		if (init_size < k)
			init_size = 3 * k;
	}
	else if ((size_t) init_size_param < k)
	{
		pgml_log(PGML_LOG_WARNING, "init_size=%lld should be larger than n_clusters=%zu; using 3 * n_clusters",
				 (long long) init_size_param, k);
		init_size = 3 * k;
	}
	else
		init_size = (size_t) init_size_param;
	if (init_size > n)
		init_size = n;
	if (!pgml_mul_size(init_size, d, &cells) || !pgml_mul_size(batch, d, &cells) ||
		!pgml_mul_size(k, d, &cells))
	{
		rc = pgml_error(err, PGML_ERR_LIMIT, "the training data is too large");
		goto done;
	}
	if ((rc = check_finite(train->x, n, d, err)) != PGML_OK)
		goto done;
	if (tol > 0)
	{
		double		var;

		if ((rc = mean_variance(train->x, n, d, &var, err)) != PGML_OK)
			goto done;
		tol_eff = tol * var;
	}

	w.valid = alloc_array(init_size * d, sizeof(double));
	w.init_rows = alloc_array(init_size * d, sizeof(double));
	w.init_idx = alloc_array(init_size, sizeof(size_t));
	w.init_labels = alloc_array(init_size, sizeof(int32_t));
	w.init_dist = alloc_array(init_size, sizeof(double));
	w.centers = alloc_array(k * d, sizeof(double));
	w.centers_new = alloc_array(k * d, sizeof(double));
	w.ct = alloc_array(n_groups(k, GROUP) * GROUP * d, sizeof(double));
	w.batch = alloc_array(batch * d, sizeof(double));
	w.labels = alloc_array(batch, sizeof(int32_t));
	w.dist = alloc_array(batch, sizeof(double));
	w.batch_perm = alloc_array(batch, sizeof(size_t));
	w.sums = alloc_array(k * d, sizeof(double));
	w.counts = alloc_array(k, sizeof(double));
	w.weights = pgml_calloc(k, sizeof(double));
	w.flags = alloc_array(k, 1);
	w.order = alloc_array(k, sizeof(cluster_weight));
	if (!w.valid || !w.init_rows || !w.init_idx || !w.init_labels || !w.init_dist || !w.centers ||
		!w.centers_new || !w.ct || !w.batch || !w.labels || !w.dist || !w.batch_perm || !w.sums || !w.counts ||
		!w.weights || !w.flags || !w.order || !init_buffers_alloc(&ib, init_size, d, k, method))
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t j = 0; j < batch; j++)
		w.batch_perm[j] = j;

	/* the init: best of n_init, each drawn from init_size random rows, judged on validation rows */
	rng_seed(&r, seed);
	for (size_t i = 0; i < init_size; i++)
		w.init_idx[i] = rng_below(&r, n);
	gather_rows(train->x, d, w.init_idx, init_size, w.valid);
	for (int64_t run = 0; run < n_init; run++)
	{
		double		in = 0;

		if (init_size < n)
		{
			for (size_t i = 0; i < init_size; i++)
				w.init_idx[i] = rng_below(&r, n);
			gather_rows(train->x, d, w.init_idx, init_size, w.init_rows);
		}
		else
			gather_rows(train->x, d, NULL, init_size, w.init_rows);
		rc = init_centers(method, given, &ib, w.init_rows, init_size, d, k, &r, args->pool, w.centers_new, err);
		if (rc != PGML_OK)
			goto done;
		rc = assign_rows(args->pool, w.valid, init_size, d, w.centers_new, w.ct, k, w.init_labels, w.init_dist,
						 err);
		if (rc != PGML_OK)
			goto done;
		for (size_t i = 0; i < init_size; i++)
			in += w.init_dist[i];
		if (verbose > 0)
			pgml_log(PGML_LOG_INFO, "mini_batch_kmeans: inertia for init %lld of %lld: %.6g", (long long) run + 1,
					 (long long) n_init, in);
		if (best_init < 0 || in < best_init)
		{
			best_init = in;
			memcpy(w.centers, w.centers_new, k * d * sizeof(double));
		}
	}

	/* the mini-batch steps */
	n_steps = ((uint64_t) max_iter * (uint64_t) n) / (uint64_t) batch;
	for (step = 0; step < n_steps; step++)
	{
		bool		reassign;
		double		batch_inertia = 0;
		double		diff = 0;

		if (pgml_check_stop(err) != PGML_OK)
		{
			rc = PGML_ERR_CANCELLED;
			goto done;
		}
		for (size_t j = 0; j < batch; j++)
		{
			const float *row = train->x + rng_below(&r, n) * d;

			for (size_t f = 0; f < d; f++)
				w.batch[j * d + f] = row[f];
		}
		/* sklearn's _random_reassign: with an empty cluster, or every 10 * k samples */
		since_reassign += batch;
		reassign = false;
		for (size_t c = 0; c < k; c++)
			reassign |= w.weights[c] == 0;
		if (reassign || since_reassign >= 10 * k)
		{
			since_reassign = 0;
			reassign = true;
		}

		rc = assign_rows(args->pool, w.batch, batch, d, w.centers, w.ct, k, w.labels, w.dist, err);
		if (rc != PGML_OK)
			goto done;
		memset(w.sums, 0, k * d * sizeof(double));
		memset(w.counts, 0, k * sizeof(double));
		for (size_t j = 0; j < batch; j++)
		{
			size_t		c = (size_t) w.labels[j];

			batch_inertia += w.dist[j];
			for (size_t f = 0; f < d; f++)
				w.sums[c * d + f] += w.batch[j * d + f];
			w.counts[c] += 1;
		}
		/* each center moves to the mean of all the rows it has seen: per-center learning rates */
		for (size_t c = 0; c < k; c++)
		{
			double	   *cn = w.centers_new + c * d;
			const double *co = w.centers + c * d;

			if (w.counts[c] > 0)
			{
				double		total = w.weights[c] + w.counts[c];
				double		alpha = 1.0 / total;

				for (size_t f = 0; f < d; f++)
					cn[f] = (co[f] * w.weights[c] + w.sums[c * d + f]) * alpha;
				w.weights[c] = total;
			}
			else
				memcpy(cn, co, d * sizeof(double));
		}
		if (reassign && ratio > 0)
			reassign_light(&w, k, d, batch, ratio, &r, verbose);
		if (tol_eff > 0)
			diff = sq_dist(w.centers_new, w.centers, k * d);
		{
			double	   *t = w.centers;

			w.centers = w.centers_new;
			w.centers_new = t;
		}

		/* convergence, as sklearn's _mini_batch_convergence */
		last_batch_mean = batch_inertia / (double) batch;
		if (step == 0)
			continue;			/* the first step's inertia is the init's */
		if (!have_ewa)
		{
			ewa = last_batch_mean;
			have_ewa = true;
		}
		else
		{
			double		alpha = (double) batch * 2.0 / ((double) n + 1);

			if (alpha > 1)
				alpha = 1;
			ewa = ewa * (1 - alpha) + last_batch_mean * alpha;
		}
		if (verbose > 0)
			pgml_log(PGML_LOG_INFO, "mini_batch_kmeans: step %llu of %llu: mean batch inertia %.6g, ewa inertia %.6g",
					 (unsigned long long) step + 1, (unsigned long long) n_steps, last_batch_mean, ewa);
		if (tol_eff > 0 && diff <= tol_eff)
		{
			if (verbose > 0)
				pgml_log(PGML_LOG_INFO, "mini_batch_kmeans: converged (small centers change) at step %llu",
						 (unsigned long long) step + 1);
			step++;
			break;
		}
		if (!have_ewa_min || ewa < ewa_min)
		{
			no_improvement = 0;
			ewa_min = ewa;
			have_ewa_min = true;
		}
		else
			no_improvement++;
		if (max_no_improvement >= 0 && no_improvement >= (size_t) max_no_improvement)
		{
			if (verbose > 0)
				pgml_log(PGML_LOG_INFO, "mini_batch_kmeans: converged (lack of improvement in inertia) at step %llu",
						 (unsigned long long) step + 1);
			step++;
			break;
		}
	}

	if (compute_labels)
	{
		rc = float_inertia(args->pool, train->x, n, d, w.centers, k, &inertia, err);
		if (rc != PGML_OK)
			goto done;
	}
	else
		inertia = (have_ewa ? ewa : last_batch_mean) * (double) n;

	memset(&p, 0, sizeof(p));
	p.init = method;
	p.init_centers = given;
	p.n_init = n_init;
	p.max_iter = max_iter;
	p.tol = tol;
	p.verbose = verbose;
	p.random_state = random_state;
	p.batch_size = batch_size;
	p.compute_labels = compute_labels;
	p.max_no_improvement = max_no_improvement;
	p.init_size = init_size_param;
	p.reassignment_ratio = ratio;
	/* n_iter: passes over the data, as sklearn's n_iter_ */
	rc = kmeans_state_new(KIND_MINI_BATCH, k, d, w.centers, inertia,
						  (int64_t) ((step * (uint64_t) batch + n - 1) / n), &p, state, err);

done:
	pgml_free(given);
	init_buffers_free(&ib);
	mini_batch_ws_free(&w);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * PCA
 * ------------------------------------------------------------------------------------------------- */

static const char *const pca_param_names[] = {
	"n_components", "copy", "whiten", "svd_solver", "tol", "iterated_power", "n_oversamples",
	"power_iteration_normalizer", "random_state", NULL
};

static const char *const pca_solvers[] = {"auto", "full", "arpack", "randomized", NULL};
static const char *const pca_normalizers[] = {"auto", "QR", "LU", "none", NULL};

typedef enum n_components_kind
{
	NC_ALL,
	NC_COUNT,
	NC_FRACTION,
} n_components_kind;

/* The effective hyperparameters of a PCA state (whiten is in the state). */
typedef struct pca_params
{
	n_components_kind nc_kind;	/* as given: null, a count or a fraction */
	int64_t		nc_count;
	double		nc_fraction;
	bool		copy;
	int64_t		svd_solver;		/* index in pca_solvers */
	double		tol;
	int64_t		iterated_power; /* -1: "auto" */
	int64_t		n_oversamples;
	int64_t		normalizer;		/* index in pca_normalizers */
	int64_t		random_state;	/* -1: null */
} pca_params;

typedef struct pca_state
{
	size_t		d;				/* features */
	size_t		c;				/* components */
	size_t		n_samples;
	bool		whiten;
	double	   *mean;			/* d */
	double	   *components;		/* c × d */
	double	   *explained_variance; /* c */
	double	   *ratio;			/* c: explained_variance_ratio_ */
	double	   *singular_values;	/* c */
	double		noise_variance;
	pca_params	p;
} pca_state;

/* Frees a PCA state (NULL is fine). */
static void
pca_free(void *p)
{
	pca_state  *s = p;

	if (s == NULL)
		return;
	pgml_free(s->mean);
	pgml_free(s->components);
	pgml_free(s->explained_variance);
	pgml_free(s->ratio);
	pgml_free(s->singular_values);
	pgml_free(s);
}

/* The sum of the kept components' explained variance ratios (NAN for NULL). */
double
pgml_pca_explained_variance_ratio_sum(const void *state)
{
	const pca_state *s = state;
	double		sum = 0;

	if (s == NULL)
		return NAN;
	for (size_t j = 0; j < s->c; j++)
		sum += s->ratio[j];
	return sum;
}

/* n_components: null, an integer >= 1, or a fraction in (0, 1); "mle" is not supported. */
static pgml_status
get_n_components(const json_t *hp, n_components_kind *kind, int64_t *count, double *fraction, pgml_err *err)
{
	const json_t *v = json_is_object(hp) ? json_object_get(hp, "n_components") : NULL;

	*kind = NC_ALL;
	if (v == NULL || json_is_null(v))
		return PGML_OK;
	if (json_is_string(v))
	{
		if (strcmp(json_string_value(v), "mle") == 0)
		{
			pgml_error(err, PGML_ERR_NOT_SUPPORTED, "\"n_components\" \"mle\" is not supported");
			pgml_err_hint(err, "Give the number of components, or the fraction of the variance to keep.");
			return PGML_ERR_NOT_SUPPORTED;
		}
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for \"n_components\": \"%s\"",
				   json_string_value(v));
	}
	else if (json_is_integer(v))
	{
		*count = json_integer_value(v);
		if (*count >= 1)
		{
			*kind = NC_COUNT;
			return PGML_OK;
		}
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"n_components\" is out of range");
		pgml_err_detail(err, "It is %lld; it must be at least 1.", (long long) *count);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	else if (json_is_real(v))
	{
		*fraction = json_real_value(v);
		if (*fraction > 0 && *fraction < 1)
		{
			*kind = NC_FRACTION;
			return PGML_OK;
		}
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"n_components\" is out of range");
		pgml_err_detail(err, "It is %g; a fraction of the variance must be between 0 and 1, exclusive.",
						*fraction);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	else
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"n_components\" must be a number, not %s",
				   pgml_json_type_name(v));
	pgml_err_detail(err, "\"n_components\" must be an integer, a fraction between 0 and 1, or null.");
	return PGML_ERR_INVALID_ARGUMENT;
}

/* iterated_power: "auto" or an integer >= 0 (-1 stands for "auto"). */
static pgml_status
get_iterated_power(const json_t *hp, int64_t *out, pgml_err *err)
{
	const json_t *v = json_is_object(hp) ? json_object_get(hp, "iterated_power") : NULL;

	if (v != NULL && json_is_string(v))
	{
		*out = -1;
		if (strcmp(json_string_value(v), "auto") == 0)
			return PGML_OK;
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for \"iterated_power\": \"%s\"",
				   json_string_value(v));
		pgml_err_detail(err, "\"iterated_power\" must be \"auto\" or a non-negative integer.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return pgml_json_get_int(hp, "iterated_power", -1, 0, INT32_MAX, out, err);
}

/* Fills a column-major m × d block with rows r0.. of x, centered. */
static void
centered_block(const float *x, size_t d, const double *mean, size_t r0, size_t m, double *b)
{
	for (size_t r = 0; r < m; r++)
	{
		const float *row = x + (r0 + r) * d;

		for (size_t f = 0; f < d; f++)
			b[r + f * m] = row[f] - mean[f];
	}
}

/* Rows per block of the tall path: about 2^25 flops of QR per block, within [64, 8192]. */
static size_t
tall_block_rows(size_t n, size_t d)
{
	size_t		rows = ((size_t) 1 << 25) / (d * d);

	if (rows < 64)
		rows = 64;
	if (rows > 8192)
		rows = 8192;
	return rows < n ? rows : n;
}

/* dgesdd (jobz 'S', column-major) with its workspace, errors as pgml_err. */
static pgml_status
gesdd(size_t m, size_t n, double *a, double *s, double *u, double *vt, pgml_err *err)
{
	size_t		mn = m < n ? m : n;
	lapack_int *iwork = alloc_array(8 * mn, sizeof(lapack_int));
	double	   *work = NULL;
	double		query = 0;
	lapack_int	info;
	pgml_status rc = PGML_OK;

	if (iwork == NULL)
		return out_of_memory(err);
	info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int) m, (lapack_int) n, a, (lapack_int) m, s,
							   u, (lapack_int) m, vt, (lapack_int) mn, &query, -1, iwork);
	if (info == 0 && !(query >= 1 && query < (double) INT32_MAX))
		rc = pgml_error(err, PGML_ERR_LIMIT, "the data is too large for the singular value decomposition");
	else if (info == 0 && (work = alloc_array((size_t) query, sizeof(double))) == NULL)
		rc = out_of_memory(err);
	else if (info == 0)
		info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int) m, (lapack_int) n, a, (lapack_int) m, s,
								   u, (lapack_int) m, vt, (lapack_int) mn, work, (lapack_int) query, iwork);
	if (rc == PGML_OK && info > 0)
		rc = pgml_error(err, PGML_ERR_DATA, "singular value decomposition did not converge");
	else if (rc == PGML_OK && info < 0)
		rc = pgml_error(err, PGML_ERR_INTERNAL, "dgesdd rejected argument %d", (int) -info);
	pgml_free(work);
	pgml_free(iwork);
	return rc;
}

/*
 * Tall data (n >= d): the R factor of the centered data, block by block (dtpqrt folds each block into
 * R), then the SVD of R. Gives the d singular values and the right singular vectors as rows of vt
 * (d × d, row-major).
 */
static pgml_status
svd_tall(const float *x, size_t n, size_t d, const double *mean, double *s, double *vt, pgml_err *err)
{
	size_t		rows = tall_block_rows(n, d);
	size_t		nb = d < 32 ? d : 32;
	double	   *r = pgml_calloc(d * d, sizeof(double));
	double	   *b = alloc_array(rows * d, sizeof(double));
	double	   *t = alloc_array(nb * d, sizeof(double));
	double	   *work = alloc_array(nb * d, sizeof(double));
	double	   *u = alloc_array(d * d, sizeof(double));
	double	   *vcm = alloc_array(d * d, sizeof(double));
	pgml_status rc = PGML_OK;

	if (!r || !b || !t || !work || !u || !vcm)
		rc = out_of_memory(err);
	for (size_t r0 = 0; rc == PGML_OK && r0 < n; r0 += rows)
	{
		size_t		m = n - r0 < rows ? n - r0 : rows;
		lapack_int	info;

		centered_block(x, d, mean, r0, m, b);
		info = LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, (lapack_int) m, (lapack_int) d, 0, (lapack_int) nb, r,
								   (lapack_int) d, b, (lapack_int) m, t, (lapack_int) nb, work);
		if (info != 0)
			rc = pgml_error(err, PGML_ERR_INTERNAL, "dtpqrt failed with code %d", (int) info);
		else
			rc = pgml_check_stop(err);
	}
	if (rc == PGML_OK)
		rc = gesdd(d, d, r, s, u, vcm, err);
	if (rc == PGML_OK)
		for (size_t j = 0; j < d; j++)
			for (size_t i = 0; i < d; i++)
				vt[j * d + i] = vcm[j + i * d];
	pgml_free(r);
	pgml_free(b);
	pgml_free(t);
	pgml_free(work);
	pgml_free(u);
	pgml_free(vcm);
	return rc;
}

/*
 * The signs sklearn's svd_flip gives the first c components on tall data: that of the largest entry (in
 * absolute value) of each left singular vector, U = X V / s, computed block by block.
 */
static pgml_status
signs_tall(const float *x, size_t n, size_t d, const double *mean, const double *comps, size_t c,
		   double *sign, pgml_err *err)
{
	size_t		rows = tall_block_rows(n, d);
	double	   *b = alloc_array(rows * d, sizeof(double));
	double	   *p = alloc_array(rows * c, sizeof(double));
	double	   *best = alloc_array(c, sizeof(double));
	pgml_status rc = PGML_OK;

	if (!b || !p || !best)
		rc = out_of_memory(err);
	for (size_t j = 0; rc == PGML_OK && j < c; j++)
	{
		best[j] = -1;
		sign[j] = 1;
	}
	for (size_t r0 = 0; rc == PGML_OK && r0 < n; r0 += rows)
	{
		size_t		m = n - r0 < rows ? n - r0 : rows;

		centered_block(x, d, mean, r0, m, b);
		cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (blasint) m, (blasint) c, (blasint) d, 1.0, b,
					(blasint) m, comps, (blasint) d, 0.0, p, (blasint) m);
		for (size_t j = 0; j < c; j++)
			for (size_t i = 0; i < m; i++)
			{
				double		v = p[i + j * m];

				if (fabs(v) > best[j])
				{
					best[j] = fabs(v);
					sign[j] = v < 0 ? -1 : 1;
				}
			}
		rc = pgml_check_stop(err);
	}
	pgml_free(b);
	pgml_free(p);
	pgml_free(best);
	return rc;
}

/*
 * Wide data (n < d): dgesdd on the whole centered data. Gives the n singular values, the right singular
 * vectors as rows of vt (n × d, row-major) and svd_flip's signs for all of them.
 */
static pgml_status
svd_wide(const float *x, size_t n, size_t d, const double *mean, double *s, double *vt, double *sign,
		 pgml_err *err)
{
	double	   *a = alloc_array(n * d, sizeof(double));
	double	   *ut = alloc_array(n * n, sizeof(double));
	pgml_status rc;

	if (!a || !ut)
	{
		pgml_free(a);
		pgml_free(ut);
		return out_of_memory(err);
	}
	/* the row-major n × d data is the column-major d × n transpose: its left vectors are our right ones */
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < d; f++)
			a[i * d + f] = x[i * d + f] - mean[f];
	rc = gesdd(d, n, a, s, vt, ut, err);
	if (rc == PGML_OK)
	{
		/* ut is column-major n × n holding U^T: U[i][j] = ut[j + i * n] */
		for (size_t j = 0; j < n; j++)
		{
			double		best = -1;

			sign[j] = 1;
			for (size_t i = 0; i < n; i++)
			{
				double		v = ut[j + i * n];

				if (fabs(v) > best)
				{
					best = fabs(v);
					sign[j] = v < 0 ? -1 : 1;
				}
			}
		}
	}
	pgml_free(a);
	pgml_free(ut);
	return rc;
}

/*
 * Fits PCA: the mean, an exact SVD of the centered data, components signed as sklearn's svd_flip
 * (u-based), and the explained variances; n_components picks how many are kept.
 */
static pgml_status
pca_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	const json_t *hp;
	n_components_kind nc_kind;
	int64_t		nc_count = 0,
				iterated_power,
				n_oversamples,
				random_state;
	double		nc_fraction = 0,
				tol,
				total = 0;
	bool		copy,
				whiten;
	const char *solver,
			   *normalizer;
	uint64_t	seed;
	size_t		n,
				d,
				mn,
				c;
	double	   *s = NULL,
			   *vt = NULL,
			   *sign = NULL,
			   *ev = NULL;
	pca_state  *st = NULL;
	pca_params	p;
	pgml_status rc;

	*state = NULL;
	rc = check_fit(args, train, PGML_TASK_DECOMPOSITION, "pca", pca_param_names, err);
	if (rc != PGML_OK)
		return rc;
	hp = args->hyperparams;
	n = train->n_rows;
	d = train->n_features;
	mn = n < d ? n : d;
	if ((rc = get_n_components(hp, &nc_kind, &nc_count, &nc_fraction, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "copy", true, &copy, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "whiten", false, &whiten, err)) != PGML_OK ||
		(rc = get_choice(hp, "svd_solver", "auto", pca_solvers, &solver, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "tol", 0.0, 0, DBL_MAX, &tol, err)) != PGML_OK ||
		(rc = get_iterated_power(hp, &iterated_power, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "n_oversamples", 10, 1, INT32_MAX, &n_oversamples, err)) != PGML_OK ||
		(rc = get_choice(hp, "power_iteration_normalizer", "auto", pca_normalizers, &normalizer,
						 err)) != PGML_OK ||
		(rc = get_random_state(hp, args->seed, &random_state, &seed, err)) != PGML_OK)
		return rc;
	memset(&p, 0, sizeof(p));
	p.nc_kind = nc_kind;
	p.nc_count = nc_kind == NC_COUNT ? nc_count : 0;
	p.nc_fraction = nc_kind == NC_FRACTION ? nc_fraction : 0;
	p.copy = copy;
	p.svd_solver = choice_index(pca_solvers, solver);
	p.tol = tol;
	p.iterated_power = iterated_power;
	p.n_oversamples = n_oversamples;
	p.normalizer = choice_index(pca_normalizers, normalizer);
	p.random_state = random_state;
	if (n < 2)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "too few rows for pca");
		pgml_err_detail(err, "PCA needs at least 2 rows; the training data has %zu.", n);
		return PGML_ERR_INVALID_ARGUMENT;
	}

	/* the component count, as sklearn checks it per solver */
	if (strcmp(solver, "arpack") == 0)
	{
		if (nc_kind == NC_ALL)
		{
			nc_kind = NC_COUNT;
			nc_count = (int64_t) mn - 1;
		}
		if (nc_kind == NC_FRACTION || nc_count < 1 || (uint64_t) nc_count >= mn)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"n_components\" is out of range for svd_solver \"arpack\"");
			pgml_err_detail(err, "With svd_solver \"arpack\", n_components must be an integer between 1 and %zu, one less than the smaller of the number of rows and features.",
							mn - 1);
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	else if (nc_kind == NC_FRACTION && strcmp(solver, "randomized") == 0)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"n_components\" must be an integer for svd_solver \"randomized\"");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	else if (nc_kind == NC_COUNT && (uint64_t) nc_count > mn)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"n_components\" is out of range");
		pgml_err_detail(err, "It is %lld; it must be between 1 and %zu, the smaller of the number of rows and features.",
						(long long) nc_count, mn);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if ((rc = check_finite(train->x, n, d, err)) != PGML_OK)
		return rc;

	st = pgml_calloc(1, sizeof(pca_state));
	s = alloc_array(mn, sizeof(double));
	ev = alloc_array(mn, sizeof(double));
	sign = alloc_array(mn, sizeof(double));
	vt = alloc_array(mn * d, sizeof(double));
	if (st == NULL || !s || !ev || !sign || !vt || (st->mean = pgml_calloc(d, sizeof(double))) == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	st->d = d;
	st->n_samples = n;
	st->whiten = whiten;

	/* mean */
	{
		size_t		every = poll_rows(d);

		for (size_t i = 0; i < n; i++)
		{
			if (i % every == 0 && (rc = pgml_check_stop(err)) != PGML_OK)
				goto done;
			for (size_t f = 0; f < d; f++)
				st->mean[f] += train->x[i * d + f];
		}
		for (size_t f = 0; f < d; f++)
			st->mean[f] /= (double) n;
	}

	if (n >= d)
		rc = svd_tall(train->x, n, d, st->mean, s, vt, err);
	else
		rc = svd_wide(train->x, n, d, st->mean, s, vt, sign, err);
	if (rc != PGML_OK)
		goto done;

	for (size_t j = 0; j < mn; j++)
	{
		ev[j] = s[j] * s[j] / (double) (n - 1);
		total += ev[j];
	}
	if (nc_kind == NC_ALL)
		c = mn;
	else if (nc_kind == NC_COUNT)
		c = (size_t) nc_count;
	else
	{
		/* numpy's searchsorted(cumsum(ratio), fraction, side="right") + 1 */
		double		cum = 0;

		c = 1;
		for (size_t j = 0; j < mn; j++)
		{
			cum += total > 0 ? ev[j] / total : 0;
			if (cum <= nc_fraction)
				c++;
		}
		if (c > mn)
			c = mn;
	}
	if (n >= d && (rc = signs_tall(train->x, n, d, st->mean, vt, c, sign, err)) != PGML_OK)
		goto done;

	st->c = c;
	st->components = alloc_array(c * d, sizeof(double));
	st->explained_variance = alloc_array(c, sizeof(double));
	st->ratio = alloc_array(c, sizeof(double));
	st->singular_values = alloc_array(c, sizeof(double));
	if (!st->components || !st->explained_variance || !st->ratio || !st->singular_values)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t j = 0; j < c; j++)
	{
		for (size_t f = 0; f < d; f++)
			st->components[j * d + f] = vt[j * d + f] * sign[j];
		st->explained_variance[j] = ev[j];
		st->ratio[j] = total > 0 ? ev[j] / total : 0;
		st->singular_values[j] = s[j];
	}
	st->noise_variance = 0;
	if (c < mn)
	{
		for (size_t j = c; j < mn; j++)
			st->noise_variance += ev[j];
		st->noise_variance /= (double) (mn - c);
	}

	st->p = p;
	*state = st;
	st = NULL;

done:
	pca_free(st);
	pgml_free(s);
	pgml_free(ev);
	pgml_free(sign);
	pgml_free(vt);
	return rc;
}

/* One output per component. */
static size_t
pca_n_outputs(const void *state)
{
	return state ? ((const pca_state *) state)->c : 0;
}

/* Writes each row's projection on the components (divided by their standard deviations if whiten). */
static pgml_status
pca_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out, pgml_err *err)
{
	const pca_state *s = state;
	double	   *row;
	double	   *scale;
	size_t		every;
	pgml_status rc = check_predict(state, x, n_rows, n_features, s ? s->d : 0, out, err);

	if (rc != PGML_OK)
		return rc;
	row = alloc_array(s->d, sizeof(double));
	scale = alloc_array(s->c, sizeof(double));
	if (row == NULL || scale == NULL)
	{
		pgml_free(row);
		pgml_free(scale);
		return out_of_memory(err);
	}
	for (size_t j = 0; j < s->c; j++)
	{
		double		sd = sqrt(s->explained_variance[j]);

		/* a zero variance would divide by zero: as later sklearn releases, clip at machine epsilon */
		scale[j] = s->whiten ? 1.0 / (sd > DBL_EPSILON ? sd : DBL_EPSILON) : 1.0;
	}
	every = poll_rows(2 * s->c * s->d);
	for (size_t i = 0; i < n_rows; i++)
	{
		if (i % every == 0 && pgml_check_stop(err) != PGML_OK)
		{
			rc = PGML_ERR_CANCELLED;
			break;
		}
		for (size_t f = 0; f < s->d; f++)
			row[f] = x[i * s->d + f] - s->mean[f];
		for (size_t j = 0; j < s->c; j++)
		{
			const double *cj = s->components + j * s->d;
			double		dot = 0;

			for (size_t f = 0; f < s->d; f++)
				dot += row[f] * cj[f];
			out[i * s->c + j] = (float) (dot * scale[j]);
		}
	}
	pgml_free(row);
	pgml_free(scale);
	return rc;
}

/* The effective hyperparameters, with sklearn's names, as a new JSON object. */
static json_t *
pca_params_json(const void *state)
{
	const pca_state *s = state;
	const pca_params *p;
	json_t	   *o;
	json_t	   *nc;

	if (s == NULL || (o = json_object()) == NULL)
		return NULL;
	p = &s->p;
	nc = p->nc_kind == NC_COUNT ? json_integer(p->nc_count) :
		p->nc_kind == NC_FRACTION ? json_real(p->nc_fraction) : json_null();
	if (!jset(o, "n_components", nc) ||
		!jset(o, "copy", json_boolean(p->copy)) ||
		!jset(o, "whiten", json_boolean(s->whiten)) ||
		!jset(o, "svd_solver", json_string(pca_solvers[p->svd_solver])) ||
		!jset(o, "tol", json_real(p->tol)) ||
		!jset(o, "iterated_power", p->iterated_power >= 0 ? json_integer(p->iterated_power) : json_string("auto")) ||
		!jset(o, "n_oversamples", json_integer(p->n_oversamples)) ||
		!jset(o, "power_iteration_normalizer", json_string(pca_normalizers[p->normalizer])) ||
		!jset(o, "random_state", null_or_int(p->random_state)))
	{
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Writes a PCA state: shape, mean, components, variances and the hyperparameters. */
static void
pca_save(const void *state, pgml_buf *out)
{
	const pca_state *s = state;

	pgml_buf_put_u32(out, STATE_VERSION);
	pgml_buf_put_u8(out, KIND_PCA);
	pgml_buf_put_u64(out, s->d);
	pgml_buf_put_u64(out, s->c);
	pgml_buf_put_u64(out, s->n_samples);
	pgml_buf_put_u8(out, s->whiten ? 1 : 0);
	pgml_buf_put_f64s(out, s->mean, s->d);
	pgml_buf_put_f64s(out, s->components, s->c * s->d);
	pgml_buf_put_f64s(out, s->explained_variance, s->c);
	pgml_buf_put_f64s(out, s->ratio, s->c);
	pgml_buf_put_f64s(out, s->singular_values, s->c);
	pgml_buf_put_f64(out, s->noise_variance);
	/* the hyperparameters */
	pgml_buf_put_u8(out, (uint8_t) s->p.nc_kind);
	pgml_buf_put_i64(out, s->p.nc_count);
	pgml_buf_put_f64(out, s->p.nc_fraction);
	pgml_buf_put_u8(out, s->p.copy ? 1 : 0);
	pgml_buf_put_u8(out, (uint8_t) s->p.svd_solver);
	pgml_buf_put_f64(out, s->p.tol);
	pgml_buf_put_i64(out, s->p.iterated_power);
	pgml_buf_put_i64(out, s->p.n_oversamples);
	pgml_buf_put_u8(out, (uint8_t) s->p.normalizer);
	pgml_buf_put_i64(out, s->p.random_state);
}

/* Loads a PCA state, validating every count against the data and every value's range. */
static pgml_status
pca_load(pgml_reader *in, void **state, pgml_err *err)
{
	pca_state  *s;
	size_t		cells = 0;
	uint8_t		whiten;
	uint64_t	n_samples;

	*state = NULL;
	if (!check_header(in, KIND_PCA))
		return PGML_ERR_CORRUPT;
	s = pgml_calloc(1, sizeof(pca_state));
	if (s == NULL)
		return out_of_memory(err);
	s->d = get_dim(in, MAX_DIM, "The feature count is out of range");
	s->c = get_dim(in, s->d ? s->d : 1, "The component count is out of range");
	n_samples = pgml_reader_u64(in);
	whiten = pgml_reader_u8(in);
	if (pgml_reader_status(in) == PGML_OK && (n_samples < 2 || n_samples > (uint64_t) INT64_MAX || whiten > 1))
		pgml_reader_fail(in, "The sample count or whiten flag is invalid");
	if (pgml_reader_status(in) == PGML_OK && !pgml_mul_size(s->c, s->d, &cells))
		pgml_reader_fail(in, "The components are too large");
	s->n_samples = (size_t) n_samples;
	s->whiten = whiten == 1;
	s->mean = get_f64s(in, s->d);
	s->components = get_f64s(in, cells);
	s->explained_variance = get_f64s(in, s->c);
	s->ratio = get_f64s(in, s->c);
	s->singular_values = get_f64s(in, s->c);
	s->noise_variance = pgml_reader_f64(in);
	if (pgml_reader_status(in) == PGML_OK)
	{
		bool		ok = isfinite(s->noise_variance) && s->noise_variance >= 0;

		for (size_t j = 0; j < s->c; j++)
			ok &= s->explained_variance[j] >= 0 && s->ratio[j] >= 0 && s->ratio[j] <= 1 &&
				s->singular_values[j] >= 0;
		if (!ok)
			pgml_reader_fail(in, "A variance is out of range");
	}
	if (pgml_reader_status(in) == PGML_OK)
	{
		pca_params *p = &s->p;

		p->nc_kind = (n_components_kind) get_choice_index(in, 3);
		p->nc_count = get_ranged(in, 0, INT64_MAX);
		p->nc_fraction = get_nonneg(in);
		if (pgml_reader_status(in) == PGML_OK && p->nc_fraction >= 1)
			pgml_reader_fail(in, "A hyperparameter is out of range");
		p->copy = get_flag(in);
		p->svd_solver = get_choice_index(in, 4);
		p->tol = get_nonneg(in);
		p->iterated_power = get_ranged(in, -1, INT32_MAX);
		p->n_oversamples = get_ranged(in, 1, INT32_MAX);
		p->normalizer = get_choice_index(in, 4);
		p->random_state = get_ranged(in, -1, UINT32_MAX);
	}
	if (pgml_reader_status(in) != PGML_OK)
	{
		pca_free(s);
		return PGML_ERR_CORRUPT;
	}
	*state = s;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * The algorithm tables
 * ------------------------------------------------------------------------------------------------- */

const pgml_algorithm pgml_algo_kmeans = {
	.name = "kmeans",
	.tasks = PGML_TASK_BIT(PGML_TASK_CLUSTERING),
	.params_regression = NULL,
	.params_classification = NULL,
	.params_other = kmeans_param_names,
	.multi_target = false,
	.has_proba = false,
	.fit = kmeans_fit,
	.n_outputs = kmeans_n_outputs,
	.predict = kmeans_predict,
	.params = kmeans_params_json,
	.save = kmeans_save,
	.load = kmeans_load,
	.free = kmeans_free,
};

const pgml_algorithm pgml_algo_mini_batch_kmeans = {
	.name = "mini_batch_kmeans",
	.tasks = PGML_TASK_BIT(PGML_TASK_CLUSTERING),
	.params_regression = NULL,
	.params_classification = NULL,
	.params_other = mini_batch_param_names,
	.multi_target = false,
	.has_proba = false,
	.fit = mini_batch_fit,
	.n_outputs = kmeans_n_outputs,
	.predict = kmeans_predict,
	.params = kmeans_params_json,
	.save = kmeans_save,
	.load = mini_batch_load,
	.free = kmeans_free,
};

const pgml_algorithm pgml_algo_pca = {
	.name = "pca",
	.tasks = PGML_TASK_BIT(PGML_TASK_DECOMPOSITION),
	.params_regression = NULL,
	.params_classification = NULL,
	.params_other = pca_param_names,
	.multi_target = false,
	.has_proba = false,
	.fit = pca_fit,
	.n_outputs = pca_n_outputs,
	.predict = pca_predict,
	.params = pca_params_json,
	.save = pca_save,
	.load = pca_load,
	.free = pca_free,
};
