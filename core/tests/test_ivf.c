/* Tests for index/ivf.c: the pgml_ivfflat k-means against brute-force references, and its determinism. */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#include "pgml/distance.h"
#include "pgml/ivf.h"

/* A small deterministic generator for test data (not the one under test). */
static uint64_t
lcg_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 11;
}

static float
lcg_gauss(uint64_t *s)
{
	/* sum of 4 uniforms, centred and scaled to unit variance: good enough for test blobs */
	double		t = 0;

	for (int i = 0; i < 4; i++)
		t += (double) lcg_next(s) / 9007199254740992.0;
	return (float) ((t - 2.0) * 1.7320508);
}

/* n points around k blob centers (k, d) spaced `sep` apart; truth[i] = blob of point i. */
static float *
make_blobs(size_t n, size_t d, size_t k, float sep, uint64_t seed, uint32_t *truth)
{
	float	   *x = malloc(n * d * sizeof(float));
	float	   *mu = malloc(k * d * sizeof(float));

	for (size_t j = 0; j < k * d; j++)
		mu[j] = sep * lcg_gauss(&seed);
	for (size_t i = 0; i < n; i++)
	{
		size_t		b = i % k;

		if (truth)
			truth[i] = (uint32_t) b;
		for (size_t t = 0; t < d; t++)
			x[i * d + t] = mu[b * d + t] + lcg_gauss(&seed);
	}
	free(mu);
	return x;
}

static float *
make_gauss(size_t n, size_t d, uint64_t seed)
{
	float	   *x = malloc((n ? n : 1) * d * sizeof(float));

	for (size_t i = 0; i < n * d; i++)
		x[i] = lcg_gauss(&seed);
	return x;
}

static int
cmp_float(const void *a, const void *b)
{
	float		x = *(const float *) a,
				y = *(const float *) b;

	return (x > y) - (x < y);
}

/*
 * Checks that centers are a fixed point of the metric's Lloyd step on x: every sample is nearest (brute
 * force) to its own center, and every center is the mean / normalized mean / lower median of its members.
 */
static void
check_fixed_point(const float *x, size_t n, size_t d, const float *centers, size_t k, pgml_ivf_metric metric,
				  float tol)
{
	uint32_t   *lab = malloc(n * sizeof(uint32_t));
	double	   *sum = malloc(d * sizeof(double));
	float	   *buf = malloc(n * sizeof(float));
	int			bad = 0;

	for (size_t i = 0; i < n; i++)
	{
		size_t		best = 0;
		float		bd = INFINITY;

		for (size_t j = 0; j < k; j++)
		{
			float		dj;
			const float *a = x + i * d,
					   *c = centers + j * d;

			if (metric == PGML_IVF_L2)
			{
				dj = 0;
				for (size_t t = 0; t < d; t++)
					dj += (a[t] - c[t]) * (a[t] - c[t]);
			}
			else if (metric == PGML_IVF_L1)
			{
				dj = 0;
				for (size_t t = 0; t < d; t++)
					dj += fabsf(a[t] - c[t]);
			}
			else
			{
				dj = 0;
				for (size_t t = 0; t < d; t++)
					dj -= a[t] * c[t];
			}
			if (dj < bd)
			{
				bd = dj;
				best = j;
			}
		}
		lab[i] = (uint32_t) best;
		CHECK_INT(pgml_ivf_nearest(metric, centers, k, d, x + i * d, NULL), best);
	}
	for (size_t j = 0; j < k && bad < 3; j++)
	{
		size_t		cnt = 0;

		for (size_t t = 0; t < d; t++)
		{
			double		want;

			cnt = 0;
			sum[t] = 0;
			for (size_t i = 0; i < n; i++)
				if (lab[i] == j)
				{
					buf[cnt++] = x[i * d + t];
					sum[t] += x[i * d + t];
				}
			if (cnt == 0)
				break;
			if (metric == PGML_IVF_L1)
			{
				qsort(buf, cnt, sizeof(float), cmp_float);
				want = buf[(cnt - 1) / 2];
			}
			else
				want = sum[t] / (double) cnt;
			if (metric != PGML_IVF_L1 && metric != PGML_IVF_L2)
				continue;		/* spherical: compared as a direction below */
			if (fabs(centers[j * d + t] - want) > tol)
			{
				test_fail(__FILE__, __LINE__, "center %zu dim %zu is %g, members give %g", j, t,
						  (double) centers[j * d + t], want);
				bad++;
				break;
			}
		}
		if (cnt > 0 && (metric == PGML_IVF_IP || metric == PGML_IVF_COSINE))
		{
			double		nn = 0;

			for (size_t t = 0; t < d; t++)
				nn += sum[t] * sum[t];
			nn = sqrt(nn);
			for (size_t t = 0; t < d; t++)
				if (fabs(centers[j * d + t] - sum[t] / nn) > tol)
				{
					test_fail(__FILE__, __LINE__, "spherical center %zu dim %zu is %g, members give %g", j, t,
							  (double) centers[j * d + t], sum[t] / nn);
					bad++;
					break;
				}
		}
	}
	free(lab);
	free(sum);
	free(buf);
}

static void
run_to_convergence(pgml_ivf_metric metric, bool unit_rows)
{
	size_t		n = 600,
				d = 6,
				k = 7;
	float	   *x = make_blobs(n, d, k, 3.0f, 11 + metric, NULL);
	float	   *c = malloc(k * d * sizeof(float));
	pgml_ivf_kmeans_params p = pgml_ivf_kmeans_default_params(k, metric);
	pgml_ivf_kmeans_stats st;
	pgml_err	err;

	if (unit_rows)
		for (size_t i = 0; i < n; i++)
			pgml_ivf_normalize(x + i * d, d);
	p.max_iter = 300;
	p.tol = 0;
	CHECK_INT(pgml_ivf_kmeans(x, n, d, &p, NULL, c, &st, &err), PGML_OK);
	CHECK(st.iterations < 300);
	check_fixed_point(x, n, d, c, k, metric, 1e-4f);
	free(x);
	free(c);
}

TEST(ivf_kmeans_l2_is_lloyd_fixed_point)
{
	run_to_convergence(PGML_IVF_L2, false);
}

TEST(ivf_kmeans_cosine_is_spherical_fixed_point)
{
	run_to_convergence(PGML_IVF_COSINE, true);
}

TEST(ivf_kmeans_ip_is_spherical_fixed_point)
{
	run_to_convergence(PGML_IVF_IP, false);
}

TEST(ivf_kmeans_l1_is_kmedians_fixed_point)
{
	run_to_convergence(PGML_IVF_L1, false);
}

/* Well separated blobs: every blob gets exactly one center and the inertia is about n * d (unit noise). */
TEST(ivf_kmeans_finds_separated_blobs)
{
	size_t		n = 2000,
				d = 16,
				k = 10;
	uint32_t   *truth = malloc(n * sizeof(uint32_t));
	uint32_t   *lab = malloc(n * sizeof(uint32_t));
	float	   *x = make_blobs(n, d, k, 20.0f, 5, truth);
	float	   *c = malloc(k * d * sizeof(float));
	size_t		map[10];
	pgml_ivf_kmeans_params p = pgml_ivf_kmeans_default_params(k, PGML_IVF_L2);
	pgml_ivf_kmeans_stats st;
	pgml_err	err;
	int			seen[10] = {0};

	CHECK_INT(pgml_ivf_kmeans(x, n, d, &p, NULL, c, &st, &err), PGML_OK);
	CHECK_INT(pgml_ivf_assign(PGML_IVF_L2, c, k, d, x, n, NULL, lab, &err), PGML_OK);
	for (size_t b = 0; b < k; b++)
		map[b] = lab[b];		/* point b belongs to blob b */
	for (size_t i = 0; i < n; i++)
		if (lab[i] != map[truth[i]])
		{
			test_fail(__FILE__, __LINE__, "point %zu of blob %u in cluster %u, not %zu", i, truth[i], lab[i],
					  map[truth[i]]);
			break;
		}
	for (size_t b = 0; b < k; b++)
		seen[map[b]]++;
	for (size_t j = 0; j < k; j++)
		CHECK_INT(seen[j], 1);
	CHECK(st.inertia < 1.2 * (double) (n * d));
	free(truth);
	free(lab);
	free(x);
	free(c);
}

/* The same seed gives bit-identical centers, on one thread and on four. */
TEST(ivf_kmeans_is_deterministic)
{
	size_t		n = 3000,
				d = 12,
				k = 40;
	float	   *x = make_gauss(n, d, 99);
	float	   *a = malloc(k * d * sizeof(float)),
			   *b = malloc(k * d * sizeof(float)),
			   *c = malloc(k * d * sizeof(float));
	pgml_pool  *pool;
	pgml_err	err;

	REQUIRE(pgml_pool_new(4, &pool, &err) == PGML_OK);
	for (int m = PGML_IVF_L2; m <= PGML_IVF_L1; m++)
	{
		pgml_ivf_kmeans_params p = pgml_ivf_kmeans_default_params(k, (pgml_ivf_metric) m);

		CHECK_INT(pgml_ivf_kmeans(x, n, d, &p, NULL, a, NULL, &err), PGML_OK);
		CHECK_INT(pgml_ivf_kmeans(x, n, d, &p, NULL, b, NULL, &err), PGML_OK);
		CHECK_INT(pgml_ivf_kmeans(x, n, d, &p, pool, c, NULL, &err), PGML_OK);
		CHECK(memcmp(a, b, k * d * sizeof(float)) == 0);
		CHECK(memcmp(a, c, k * d * sizeof(float)) == 0);
		p.seed++;
		CHECK_INT(pgml_ivf_kmeans(x, n, d, &p, pool, b, NULL, &err), PGML_OK);
		CHECK(memcmp(a, b, k * d * sizeof(float)) != 0);
	}
	pgml_pool_free(pool);
	free(x);
	free(a);
	free(b);
	free(c);
}

/* Fewer samples than clusters (and none at all): every center is finite, samples become centers. */
TEST(ivf_kmeans_fewer_samples_than_lists)
{
	size_t		d = 5,
				k = 8;
	float	   *x = make_gauss(3, d, 7);
	float	   *c = malloc(k * d * sizeof(float));
	pgml_err	err;

	for (int m = PGML_IVF_L2; m <= PGML_IVF_L1; m++)
	{
		pgml_ivf_kmeans_params p = pgml_ivf_kmeans_default_params(k, (pgml_ivf_metric) m);
		bool		spherical = m == PGML_IVF_IP || m == PGML_IVF_COSINE;

		CHECK_INT(pgml_ivf_kmeans(x, 3, d, &p, NULL, c, NULL, &err), PGML_OK);
		for (size_t i = 0; i < k * d; i++)
			CHECK(isfinite(c[i]));
		/* each sample is its own cluster's center (spherical: its direction) */
		for (size_t i = 0; i < 3; i++)
		{
			float		v[5];
			size_t		j;

			memcpy(v, x + i * d, sizeof(v));
			if (spherical)
				pgml_ivf_normalize(v, d);
			j = pgml_ivf_nearest((pgml_ivf_metric) m, c, k, d, v, NULL);
			for (size_t t = 0; t < d; t++)
				CHECK_NEAR(c[j * d + t], v[t], 1e-5);
		}
		CHECK_INT(pgml_ivf_kmeans(NULL, 0, d, &p, NULL, c, NULL, &err), PGML_OK);
		for (size_t j = 0; j < k; j++)
		{
			for (size_t t = 0; t < d; t++)
				CHECK(isfinite(c[j * d + t]));
			if (spherical)
				CHECK_NEAR(pgml_norm2_f32(c + j * d, d), 1.0, 1e-5);
		}
	}
	free(x);
	free(c);
}

/* Duplicate samples: fewer distinct points than clusters must not loop or fail. */
TEST(ivf_kmeans_duplicates)
{
	size_t		n = 100,
				d = 3,
				k = 10;
	float	   *x = malloc(n * d * sizeof(float));
	float	   *c = malloc(k * d * sizeof(float));
	pgml_ivf_kmeans_params p = pgml_ivf_kmeans_default_params(k, PGML_IVF_L2);
	pgml_err	err;

	for (size_t i = 0; i < n * d; i++)
		x[i] = (float) ((i / d) % 2);	/* two distinct points */
	CHECK_INT(pgml_ivf_kmeans(x, n, d, &p, NULL, c, NULL, &err), PGML_OK);
	for (size_t i = 0; i < k * d; i++)
		CHECK(isfinite(c[i]));
	free(x);
	free(c);
}

TEST(ivf_rank_centers_matches_sort)
{
	size_t		k = 57,
				d = 9;
	float	   *c = make_gauss(k, d, 3);
	float	   *q = make_gauss(1, d, 4);
	float		dists[57],
				sorted[57];
	uint32_t	order[57];

	for (int m = PGML_IVF_L2; m <= PGML_IVF_L1; m++)
	{
		for (size_t j = 0; j < k; j++)
			sorted[j] = pgml_ivf_distance((pgml_ivf_metric) m, q, c + j * d, d);
		qsort(sorted, k, sizeof(float), cmp_float);
		for (size_t want = 1; want <= k; want += 7)
		{
			pgml_ivf_rank_centers((pgml_ivf_metric) m, c, k, d, q, want, order, dists);
			for (size_t i = 0; i < want; i++)
				CHECK(dists[order[i]] == sorted[i]);
		}
		pgml_ivf_rank_centers((pgml_ivf_metric) m, c, k, d, q, 1, order, dists);
		CHECK_INT(order[0], pgml_ivf_nearest((pgml_ivf_metric) m, c, k, d, q, NULL));
	}
	free(c);
	free(q);
}

TEST(ivf_normalize)
{
	float		v[3] = {3, 0, 4},
				z[3] = {0, 0, 0};

	CHECK(pgml_ivf_normalize(v, 3));
	CHECK_NEAR(v[0], 0.6, 1e-6);
	CHECK_NEAR(v[2], 0.8, 1e-6);
	CHECK(!pgml_ivf_normalize(z, 3));
	CHECK(z[0] == 0);
}

TEST(ivf_kmeans_bad_arguments)
{
	float		x[4] = {0},
				c[4];
	pgml_err	err;
	pgml_ivf_kmeans_params p = pgml_ivf_kmeans_default_params(0, PGML_IVF_L2);

	CHECK_INT(pgml_ivf_kmeans(x, 1, 4, &p, NULL, c, NULL, &err), PGML_ERR_INVALID_ARGUMENT);
	p.k = 1;
	p.metric = (pgml_ivf_metric) 99;
	CHECK_INT(pgml_ivf_kmeans(x, 1, 4, &p, NULL, c, NULL, &err), PGML_ERR_INVALID_ARGUMENT);
}

static bool
always_stop(void *state)
{
	(void) state;
	return true;
}

TEST(ivf_kmeans_stops_when_asked)
{
	size_t		n = 500,
				d = 4,
				k = 5;
	float	   *x = make_gauss(n, d, 1);
	float	   *c = malloc(k * d * sizeof(float));
	pgml_ivf_kmeans_params p = pgml_ivf_kmeans_default_params(k, PGML_IVF_L2);
	pgml_err	err;

	pgml_set_should_stop(always_stop, NULL);
	CHECK_INT(pgml_ivf_kmeans(x, n, d, &p, NULL, c, NULL, &err), PGML_ERR_CANCELLED);
	pgml_set_should_stop(NULL, NULL);
	free(x);
	free(c);
}
