/*
 * ivf.c — k-means for the pgml_ivfflat index (see pgml/ivf.h).
 *
 * This is a lean float32 k-means, separate from learn/cluster.c (scikit-learn's KMeans, in double, with
 * its exact semantics for pgml.train). An index build needs speed and determinism, not sklearn parity.
 *
 * One run:
 *   1. k-means++: the first center is a random sample; each next one is a sample drawn with probability
 *      proportional to its "potential", the distance to the nearest center chosen so far (squared L2 for
 *      L2, plain L1 for k-medians, 1 - cos for the spherical metrics). Updating the potentials is
 *      parallel over samples; the draw is serial, over a running sum in a fixed order.
 *   2. Lloyd: assign every sample to its nearest center (parallel over samples), then recompute each
 *      center from its members (parallel over clusters; members are visited in sample order, sums are
 *      double). Clusters left empty take the sample farthest from its own center, as scikit-learn does.
 *      Stop after max_iter updates, or when at most tol * n samples changed cluster.
 * With fewer samples than clusters, the missing centers are random points, so lists without data still
 * exist (an index built on an empty table has only such lists).
 */
#include "pgml/ivf.h"

#include <math.h>
#include <string.h>

#include "pgml/distance.h"

/* ---------------------------------------------------------------------------------------------------
 * Random numbers: xoshiro256** seeded through splitmix64
 * ------------------------------------------------------------------------------------------------- */

typedef struct ivf_rng
{
	uint64_t	s[4];
} ivf_rng;

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
rng_seed(ivf_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(ivf_rng *r)
{
	uint64_t   *s = r->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static double
rng_uniform(ivf_rng *r)
{
	return (double) (rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n), n >= 1. */
static size_t
rng_below(ivf_rng *r, size_t n)
{
	return (size_t) (rng_uniform(r) * (double) n) % n;
}

/* Standard normal (Box-Muller). */
static double
rng_gauss(ivf_rng *r)
{
	double		u = rng_uniform(r),
				v = rng_uniform(r);

	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* ---------------------------------------------------------------------------------------------------
 * Distances
 * ------------------------------------------------------------------------------------------------- */

float
pgml_ivf_distance(pgml_ivf_metric metric, const float *a, const float *b, size_t d)
{
	switch (metric)
	{
		case PGML_IVF_IP:
		case PGML_IVF_COSINE:
			return -pgml_dot_f32(a, b, d);
		case PGML_IVF_L1:
			return pgml_l1_f32(a, b, d);
		case PGML_IVF_L2:
		default:
			return pgml_l2sq_f32(a, b, d);
	}
}

static bool
is_spherical(pgml_ivf_metric metric)
{
	return metric == PGML_IVF_IP || metric == PGML_IVF_COSINE;
}

size_t
pgml_ivf_nearest(pgml_ivf_metric metric, const float *centers, size_t k, size_t d, const float *v, float *dist)
{
	size_t		best = 0;
	float		best_d = INFINITY;

	for (size_t j = 0; j < k; j++)
	{
		float		dj = pgml_ivf_distance(metric, v, centers + j * d, d);

		if (dj < best_d)
		{
			best_d = dj;
			best = j;
		}
	}
	if (dist)
		*dist = best_d;
	return best;
}

bool
pgml_ivf_normalize(float *v, size_t d)
{
	double		s = 0;

	for (size_t i = 0; i < d; i++)
		s += (double) v[i] * v[i];
	if (!(s > 0) || !isfinite(s))
		return false;
	s = 1.0 / sqrt(s);
	for (size_t i = 0; i < d; i++)
		v[i] = (float) (v[i] * s);
	return true;
}

/* a before b: nearer, or as near with a lower index */
static inline bool
rank_before(const float *dists, uint32_t a, uint32_t b)
{
	return dists[a] < dists[b] || (dists[a] == dists[b] && a < b);
}

/* Sift down in a max-heap (by rank_before: the root is the farthest kept) of size m. */
static void
heap_sift_down(uint32_t *h, size_t m, size_t i, const float *dists)
{
	for (;;)
	{
		size_t		l = 2 * i + 1,
					big = i;

		if (l < m && rank_before(dists, h[big], h[l]))
			big = l;
		if (l + 1 < m && rank_before(dists, h[big], h[l + 1]))
			big = l + 1;
		if (big == i)
			return;
		uint32_t	t = h[i];

		h[i] = h[big];
		h[big] = t;
		i = big;
	}
}

void
pgml_ivf_rank_centers(pgml_ivf_metric metric, const float *centers, size_t k, size_t d, const float *q, size_t m,
					  uint32_t *order, float *dists)
{
	if (m > k)
		m = k;
	for (size_t j = 0; j < k; j++)
	{
		float		dj = pgml_ivf_distance(metric, q, centers + j * d, d);

		dists[j] = isnan(dj) ? INFINITY : dj;
	}
	if (m == 0)
		return;
	/* keep the m nearest in a max-heap, then heap-sort it ascending */
	for (size_t j = 0; j < m; j++)
		order[j] = (uint32_t) j;
	for (size_t i = m / 2; i-- > 0;)
		heap_sift_down(order, m, i, dists);
	for (size_t j = m; j < k; j++)
		if (rank_before(dists, (uint32_t) j, order[0]))
		{
			order[0] = (uint32_t) j;
			heap_sift_down(order, m, 0, dists);
		}
	for (size_t end = m; end > 1; end--)
	{
		uint32_t	t = order[0];

		order[0] = order[end - 1];
		order[end - 1] = t;
		heap_sift_down(order, end - 1, 0, dists);
	}
}

/* ---------------------------------------------------------------------------------------------------
 * Assignment
 * ------------------------------------------------------------------------------------------------- */

typedef struct assign_ctx
{
	pgml_ivf_metric metric;
	const float *centers;
	size_t		k;
	size_t		d;
	const float *x;
	uint32_t   *labels;
	float	   *dists;			/* may be NULL */
} assign_ctx;

static void
assign_range(void *p, size_t begin, size_t end, int worker)
{
	assign_ctx *c = p;

	(void) worker;
	for (size_t i = begin; i < end; i++)
	{
		float		di;

		c->labels[i] = (uint32_t) pgml_ivf_nearest(c->metric, c->centers, c->k, c->d, c->x + i * c->d, &di);
		if (c->dists)
			c->dists[i] = di;
	}
}

static pgml_status
assign_all(pgml_ivf_metric metric, const float *centers, size_t k, size_t d, const float *x, size_t n,
		   pgml_pool *pool, uint32_t *labels, float *dists, pgml_err *err)
{
	assign_ctx	c = {metric, centers, k, d, x, labels, dists};
	size_t		grain = 1;

	/* aim at chunks of ~1M flops so that the stop hook is polled often enough */
	if (k * d < 1000000)
		grain = 1000000 / (k * d + 1) + 1;
	return pgml_parallel_for(pool, n, grain, assign_range, &c, err);
}

pgml_status
pgml_ivf_assign(pgml_ivf_metric metric, const float *centers, size_t k, size_t d, const float *x, size_t n,
				pgml_pool *pool, uint32_t *labels, pgml_err *err)
{
	if (k == 0 || d == 0)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "k-means needs at least one center and one dimension");
	return assign_all(metric, centers, k, d, x, n, pool, labels, NULL, err);
}

/* ---------------------------------------------------------------------------------------------------
 * k-means++ initialisation
 * ------------------------------------------------------------------------------------------------- */

/* The potential of sample x against center c: nonnegative, 0 when x is the center. */
static inline float
potential(pgml_ivf_metric metric, const float *x, float inv_norm, const float *c, size_t d)
{
	switch (metric)
	{
		case PGML_IVF_IP:
		case PGML_IVF_COSINE:
			{
				/* 1 - cos(x, c), with c unit-norm; zero samples never become centers */
				float		p;

				if (inv_norm == 0)
					return 0;
				p = 1.0f - pgml_dot_f32(x, c, d) * inv_norm;
				return p > 0 ? p : 0;
			}
		case PGML_IVF_L1:
			return pgml_l1_f32(x, c, d);
		case PGML_IVF_L2:
		default:
			return pgml_l2sq_f32(x, c, d);
	}
}

/*
 * Potentials are summed per fixed block of POT_BLOCK samples (not per pool chunk), so the sums, and with
 * them every draw, are the same whatever the number of threads.
 */
#define POT_BLOCK 256
#define MAX_TRIALS 16

typedef struct pot_ctx
{
	pgml_ivf_metric metric;
	const float *x;
	const float *inv_norm;		/* (n) 1/|x|, or 0 for zero samples (spherical only); NULL otherwise */
	size_t		n;
	size_t		d;
	const float *cand;			/* (n_cand, d) candidate centers */
	int			n_cand;
	float	   *pot;			/* (n) potential against the nearest center so far */
	double	   *cand_sum;		/* (blocks, n_cand) Σ min(pot, potential to candidate) per block */
	double	   *block_pot;		/* (blocks) Σ pot per block, when updating */
	bool		update;			/* true: fold cand[0] into pot; false: only evaluate the candidates */
} pot_ctx;

static void
pot_range(void *p, size_t begin, size_t end, int worker)
{
	pot_ctx    *c = p;

	(void) worker;
	for (size_t b = begin; b < end; b++)
	{
		size_t		lo = b * POT_BLOCK,
					hi = lo + POT_BLOCK < c->n ? lo + POT_BLOCK : c->n;

		if (c->update)
		{
			double		s = 0;

			for (size_t i = lo; i < hi; i++)
			{
				float		v = potential(c->metric, c->x + i * c->d, c->inv_norm ? c->inv_norm[i] : 1.0f,
										  c->cand, c->d);

				if (v < c->pot[i])
					c->pot[i] = v;
				s += c->pot[i];
			}
			c->block_pot[b] = s;
			continue;
		}
		for (int t = 0; t < c->n_cand; t++)
		{
			double		s = 0;

			for (size_t i = lo; i < hi; i++)
			{
				float		v = potential(c->metric, c->x + i * c->d, c->inv_norm ? c->inv_norm[i] : 1.0f,
										  c->cand + (size_t) t * c->d, c->d);

				s += v < c->pot[i] ? v : c->pot[i];
			}
			c->cand_sum[b * c->n_cand + t] = s;
		}
	}
}

/* Copies sample i into center j (normalized for the spherical metrics). */
static void
set_center_from_sample(pgml_ivf_metric metric, float *centers, size_t j, const float *x, size_t i, size_t d)
{
	memcpy(centers + j * d, x + i * d, d * sizeof(float));
	if (is_spherical(metric))
		pgml_ivf_normalize(centers + j * d, d);
}

/* A random center: Gaussian around the sample mean with the samples' spread (unit norm when spherical). */
static void
set_random_center(pgml_ivf_metric metric, float *c, size_t d, const double *mean, double spread, ivf_rng *r)
{
	for (size_t t = 0; t < d; t++)
		c[t] = (float) (mean[t] + spread * rng_gauss(r));
	if (is_spherical(metric) && !pgml_ivf_normalize(c, d))
		c[0] = 1.0f;
}

/* Draws a sample with probability proportional to its potential; total = Σ block_pot > 0. */
static size_t
draw_by_potential(const float *pot, size_t n, const double *block_pot, size_t nb, double total, ivf_rng *r)
{
	double		target = rng_uniform(r) * total;
	size_t		b = 0,
				pick = n;

	for (; b + 1 < nb && target >= block_pot[b]; b++)
		target -= block_pot[b];
	for (size_t i = b * POT_BLOCK; i < n && i < (b + 1) * POT_BLOCK; i++)
	{
		if (pot[i] <= 0)
			continue;
		pick = i;
		if (target < pot[i])
			break;
		target -= pot[i];
	}
	if (pick == n)
	{
		/* rounding left the block without a positive potential: take the last positive one anywhere */
		for (size_t i = n; i-- > 0;)
			if (pot[i] > 0)
				return i;
		return 0;
	}
	return pick;
}

/*
 * Greedy k-means++ (as in scikit-learn): each step draws 2 + ln k candidates by potential and keeps the
 * one that lowers the total potential most, which avoids most of plain k-means++'s unlucky picks (two
 * centers in one cluster, none in another) that Lloyd iterations cannot undo.
 */
static pgml_status
init_plusplus(const float *x, size_t n, size_t d, size_t k, pgml_ivf_metric metric, const float *inv_norm,
			  pgml_pool *pool, ivf_rng *r, float *centers, float *pot, const double *mean, double spread,
			  pgml_err *err)
{
	size_t		chosen = 0,
				nb = (n + POT_BLOCK - 1) / POT_BLOCK;
	int			trials = 2 + (int) log((double) k);
	double	   *block_pot = NULL,
			   *cand_sum = NULL;
	float	   *cand = NULL;
	pgml_status rc = PGML_OK;

	if (trials > MAX_TRIALS)
		trials = MAX_TRIALS;
	if (n > 0)
	{
		block_pot = pgml_malloc(nb * sizeof(double));
		cand_sum = pgml_malloc(nb * MAX_TRIALS * sizeof(double));
		cand = pgml_malloc((size_t) MAX_TRIALS * d * sizeof(float));
		if (!block_pot || !cand_sum || !cand)
		{
			rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory in k-means");
			goto done;
		}
	}
	for (size_t i = 0; i < n; i++)
		pot[i] = INFINITY;

	/* first center: a random sample that can be one (spherical: nonzero) */
	if (n > 0)
	{
		size_t		first = rng_below(r, n);

		for (size_t tries = 0; tries < n && inv_norm && inv_norm[first] == 0; tries++)
			first = (first + 1) % n;
		if (!inv_norm || inv_norm[first] != 0)
		{
			set_center_from_sample(metric, centers, 0, x, first, d);
			chosen = 1;
		}
	}

	while (chosen < k && chosen < n)
	{
		pot_ctx		c = {metric, x, inv_norm, n, d, centers + (chosen - 1) * d, 1, pot, cand_sum, block_pot, true};
		double		total = 0,
					best_sum = INFINITY;
		size_t		pick[MAX_TRIALS];
		int			best = 0;

		/* fold the center chosen last into the potentials */
		rc = pgml_parallel_for(pool, nb, 1, pot_range, &c, err);
		if (rc != PGML_OK)
			goto done;
		for (size_t b = 0; b < nb; b++)
			total += block_pot[b];
		if (!(total > 0))
			break;				/* every sample sits on a center: no new distinct center exists */

		for (int t = 0; t < trials; t++)
		{
			pick[t] = draw_by_potential(pot, n, block_pot, nb, total, r);
			set_center_from_sample(metric, cand, (size_t) t, x, pick[t], d);
		}
		if (trials > 1)
		{
			c.cand = cand;
			c.n_cand = trials;
			c.update = false;
			rc = pgml_parallel_for(pool, nb, 1, pot_range, &c, err);
			if (rc != PGML_OK)
				goto done;
			for (int t = 0; t < trials; t++)
			{
				double		s = 0;

				for (size_t b = 0; b < nb; b++)
					s += cand_sum[b * trials + t];
				if (s < best_sum)
				{
					best_sum = s;
					best = t;
				}
			}
		}
		memcpy(centers + chosen * d, cand + (size_t) best * d, d * sizeof(float));
		chosen++;
	}

	for (; chosen < k; chosen++)
		set_random_center(metric, centers + chosen * d, d, mean, spread, r);

done:
	pgml_free(block_pot);
	pgml_free(cand_sum);
	pgml_free(cand);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Center update
 * ------------------------------------------------------------------------------------------------- */

typedef struct update_ctx
{
	pgml_ivf_metric metric;
	const float *x;
	size_t		d;
	const size_t *start;		/* (k + 1) offsets into members */
	const uint32_t *members;	/* (n) sample indexes grouped by cluster, ascending inside a cluster */
	float	   *centers;
	double	   *acc;			/* (workers, d) per-worker sums */
	float	   *scratch;		/* (workers, max cluster size) per-worker median buffer */
	size_t		max_size;
} update_ctx;

/* The m-th smallest of v[0..n), n >= 1 (quickselect with a three-way partition; v is reordered). */
static float
select_nth(float *v, size_t n, size_t m)
{
	size_t		lo = 0,
				hi = n - 1;

	while (hi > lo)
	{
		float		pivot = v[lo + (hi - lo) / 2];
		size_t		lt = lo,
					i = lo,
					gt = hi;

		/* [lo, lt) < pivot, [lt, i) == pivot, (gt, hi] > pivot; the pivot's own slot keeps gt >= lt */
		while (i <= gt)
		{
			float		t = v[i];

			if (t < pivot)
			{
				v[i++] = v[lt];
				v[lt++] = t;
			}
			else if (t > pivot)
			{
				v[i] = v[gt];
				v[gt--] = t;
			}
			else
				i++;
		}
		if (m < lt)
			hi = lt - 1;
		else if (m > gt)
			lo = gt + 1;
		else
			return pivot;
	}
	return v[lo];
}

static void
update_range(void *p, size_t begin, size_t end, int worker)
{
	update_ctx *c = p;
	size_t		d = c->d;
	double	   *acc = c->acc + (size_t) worker * d;

	for (size_t j = begin; j < end; j++)
	{
		size_t		s = c->start[j],
					e = c->start[j + 1],
					cnt = e - s;
		float	   *cen = c->centers + j * d;

		if (cnt == 0)
			continue;			/* fixed afterwards */
		if (c->metric == PGML_IVF_L1)
		{
			float	   *buf = c->scratch + (size_t) worker * c->max_size;

			for (size_t t = 0; t < d; t++)
			{
				for (size_t m = 0; m < cnt; m++)
					buf[m] = c->x[(size_t) c->members[s + m] * d + t];
				/* the lower median: any value between the two middle ones minimizes Σ|x - c| */
				cen[t] = select_nth(buf, cnt, (cnt - 1) / 2);
			}
			continue;
		}
		memset(acc, 0, d * sizeof(double));
		for (size_t m = s; m < e; m++)
		{
			const float *row = c->x + (size_t) c->members[m] * d;

			for (size_t t = 0; t < d; t++)
				acc[t] += row[t];
		}
		if (is_spherical(c->metric))
		{
			/* the direction of the mean: normalize the sum */
			double		nn = 0;

			for (size_t t = 0; t < d; t++)
				nn += acc[t] * acc[t];
			if (nn > 0)
			{
				nn = 1.0 / sqrt(nn);
				for (size_t t = 0; t < d; t++)
					cen[t] = (float) (acc[t] * nn);
			}
			/* members that cancel out exactly: keep the previous center */
		}
		else
		{
			for (size_t t = 0; t < d; t++)
				cen[t] = (float) (acc[t] / (double) cnt);
		}
	}
}

/* ---------------------------------------------------------------------------------------------------
 * The whole run
 * ------------------------------------------------------------------------------------------------- */

pgml_ivf_kmeans_params
pgml_ivf_kmeans_default_params(size_t k, pgml_ivf_metric metric)
{
	pgml_ivf_kmeans_params p;

	p.k = k;
	p.metric = metric;
	p.max_iter = 25;
	p.tol = 1e-3;
	p.seed = 0x5eed1f1a7ULL;
	return p;
}

pgml_status
pgml_ivf_kmeans(const float *x, size_t n, size_t d, const pgml_ivf_kmeans_params *params, pgml_pool *pool,
				float *centers, pgml_ivf_kmeans_stats *stats, pgml_err *err)
{
	size_t		k = params->k;
	pgml_ivf_metric metric = params->metric;
	int			workers = pgml_pool_size(pool);
	ivf_rng		r;
	pgml_status rc = PGML_OK;
	float	   *inv_norm = NULL,
			   *pot = NULL,
			   *dists = NULL,
			   *scratch = NULL;
	uint32_t   *labels = NULL,
			   *members = NULL;
	size_t	   *start = NULL,
				max_size = 0,
				tmp;
	double	   *mean = NULL,
			   *acc = NULL,
				spread = 0;
	int			iter = 0;
	pgml_ivf_kmeans_stats st = {0, 0, 0};

	if (k == 0 || d == 0)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "k-means needs at least one center and one dimension");
	if (metric < PGML_IVF_L2 || metric > PGML_IVF_L1)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "unknown k-means metric %d", (int) metric);
	if (!pgml_mul_size(n, d, &tmp) || !pgml_mul_size(k, d, &tmp) || k > UINT32_MAX || n > UINT32_MAX)
		return pgml_error(err, PGML_ERR_LIMIT, "k-means input is too large");
	rng_seed(&r, params->seed);

	mean = pgml_calloc(d, sizeof(double));
	pot = pgml_malloc((n ? n : 1) * sizeof(float));
	dists = pgml_malloc((n ? n : 1) * sizeof(float));
	labels = pgml_malloc((n ? n : 1) * sizeof(uint32_t));
	members = pgml_malloc((n ? n : 1) * sizeof(uint32_t));
	start = pgml_calloc(k + 1, sizeof(size_t));
	acc = pgml_malloc((size_t) workers * d * sizeof(double));
	if (!mean || !pot || !dists || !labels || !members || !start || !acc)
		goto nomem;
	if (is_spherical(metric))
	{
		inv_norm = pgml_malloc((n ? n : 1) * sizeof(float));
		if (!inv_norm)
			goto nomem;
		for (size_t i = 0; i < n; i++)
		{
			float		nn = pgml_norm2_f32(x + i * d, d);

			inv_norm[i] = nn > 0 ? 1.0f / sqrtf(nn) : 0.0f;
		}
	}

	/* mean and spread (root mean variance per dimension) for random centers */
	if (n > 0)
	{
		double		var = 0;

		for (size_t i = 0; i < n; i++)
			for (size_t t = 0; t < d; t++)
				mean[t] += x[i * d + t];
		for (size_t t = 0; t < d; t++)
			mean[t] /= (double) n;
		for (size_t i = 0; i < n; i++)
			for (size_t t = 0; t < d; t++)
			{
				double		dv = x[i * d + t] - mean[t];

				var += dv * dv;
			}
		spread = sqrt(var / ((double) n * (double) d));
	}
	if (!(spread > 0))
		spread = 1.0;

	rc = init_plusplus(x, n, d, k, metric, inv_norm, pool, &r, centers, pot, mean, spread, err);
	if (rc != PGML_OK)
		goto done;
	if (n == 0)
		goto done;

	for (size_t i = 0; i < n; i++)
		labels[i] = UINT32_MAX;

	for (;;)
	{
		size_t		changed = 0;
		uint32_t   *prev = members;	/* reuse: previous labels live in members until regrouped */

		/* assignment; remember the previous labels to count changes */
		memcpy(prev, labels, n * sizeof(uint32_t));
		rc = assign_all(metric, centers, k, d, x, n, pool, labels, dists, err);
		if (rc != PGML_OK)
			goto done;
		st.inertia = 0;
		for (size_t i = 0; i < n; i++)
		{
			changed += labels[i] != prev[i];
			st.inertia += dists[i];
		}
		if (is_spherical(metric))
			st.inertia += (double) n;	/* Σ (1 - cos) for COSINE; an offset only for IP */
		if (iter >= params->max_iter || (iter > 0 && (double) changed <= params->tol * (double) n))
			break;
		rc = pgml_check_stop(err);
		if (rc != PGML_OK)
			goto done;

		/* group members by cluster (counting sort keeps sample order within a cluster) */
		memset(start, 0, (k + 1) * sizeof(size_t));
		for (size_t i = 0; i < n; i++)
			start[labels[i] + 1]++;
		max_size = 0;
		for (size_t j = 0; j < k; j++)
		{
			if (start[j + 1] > max_size)
				max_size = start[j + 1];
			start[j + 1] += start[j];
		}
		{
			size_t	   *fill = pgml_malloc(k * sizeof(size_t));

			if (!fill)
				goto nomem;
			memcpy(fill, start, k * sizeof(size_t));
			for (size_t i = 0; i < n; i++)
				members[fill[labels[i]]++] = (uint32_t) i;
			pgml_free(fill);
		}
		if (metric == PGML_IVF_L1)
		{
			pgml_free(scratch);
			scratch = pgml_malloc((size_t) workers * (max_size ? max_size : 1) * sizeof(float));
			if (!scratch)
				goto nomem;
		}
		{
			update_ctx	c = {metric, x, d, start, members, centers, acc, scratch, max_size};

			rc = pgml_parallel_for(pool, k, 1, update_range, &c, err);
			if (rc != PGML_OK)
				goto done;
		}

		/* empty clusters take the sample farthest from its center, among clusters with 2+ members */
		for (size_t j = 0; j < k; j++)
		{
			size_t		far = n;
			float		far_d = -INFINITY;

			if (start[j + 1] != start[j])
				continue;
			for (size_t i = 0; i < n; i++)
			{
				uint32_t	l = labels[i];

				if (start[l + 1] - start[l] < 2 || (inv_norm && inv_norm[i] == 0))
					continue;
				if (dists[i] > far_d)
				{
					far_d = dists[i];
					far = i;
				}
			}
			if (far == n)
				break;			/* no cluster can spare a sample */
			set_center_from_sample(metric, centers, j, x, far, d);
			dists[far] = -INFINITY;
			st.empty_fixed++;
		}
		iter++;
		/* labels now hold the last assignment; members is overwritten at the next memcpy */
	}
	st.iterations = iter;

done:
	if (stats)
		*stats = st;
	pgml_free(inv_norm);
	pgml_free(pot);
	pgml_free(dists);
	pgml_free(labels);
	pgml_free(members);
	pgml_free(start);
	pgml_free(mean);
	pgml_free(acc);
	pgml_free(scratch);
	return rc;

nomem:
	rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory in k-means");
	goto done;
}
