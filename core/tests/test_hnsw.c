/* Tests for index/hnsw.c: recall against brute force, determinism, parallel build, memory budget. */
#include "test.h"

#include <stdlib.h>

#include "pgml/hnsw.h"
#include "pgml/pool.h"

/* xorshift64*: a small deterministic generator for test data */
static uint64_t rng_state;

static double
rnd_uniform(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double) ((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static float
rnd_normal(void)
{
	double		u = rnd_uniform() + 1e-12;
	double		v = rnd_uniform();

	return (float) (sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* Embedding-like data: z·W + noise with z of 8 dims, as the benchmark's generator (smaller). */
static float *
make_data(int n, int dim, uint64_t seed)
{
	float	   *w = malloc(sizeof(float) * 8 * dim);
	float	   *x = malloc(sizeof(float) * (size_t) n * dim);

	rng_state = seed * 2654435761ULL + 1;
	for (int i = 0; i < 8 * dim; i++)
		w[i] = rnd_normal();
	for (int i = 0; i < n; i++)
	{
		float		z[8];

		for (int k = 0; k < 8; k++)
			z[k] = rnd_normal();
		for (int j = 0; j < dim; j++)
		{
			float		s = 0;

			for (int k = 0; k < 8; k++)
				s += z[k] * w[k * dim + j];
			x[(size_t) i * dim + j] = s + 0.3f * rnd_normal();
		}
	}
	free(w);
	return x;
}

static pgml_hnsw_graph *
build(const float *x, int n, int dim, pgml_hnsw_metric metric, pgml_pool *pool)
{
	pgml_hnsw_params p = {dim, 8, 40, metric, PGML_HNSW_MAX_LEVEL, 42, 0};
	pgml_hnsw_graph *g = NULL;
	pgml_err	err;

	if (pgml_hnsw_new(&p, &g, &err) != PGML_OK)
		return NULL;
	for (int i = 0; i < n; i++)
		if (pgml_hnsw_add(g, x + (size_t) i * dim, (uint64_t) i * 7, &err) != PGML_OK)
		{
			pgml_hnsw_free(g);
			return NULL;
		}
	if (pgml_hnsw_link(g, pool, &err) != PGML_OK)
	{
		pgml_hnsw_free(g);
		return NULL;
	}
	return g;
}

typedef struct exact_item
{
	float		d;
	int			id;
} exact_item;

static int
exact_cmp(const void *a, const void *b)
{
	const exact_item *x = a;
	const exact_item *y = b;

	return x->d < y->d ? -1 : x->d > y->d ? 1 : x->id - y->id;
}

/* Recall@10 of the graph over nq queries against brute force. */
static double
recall_at_10(pgml_hnsw_graph *g, const float *x, int n, int dim, pgml_hnsw_metric metric, int ef)
{
	float	   *q = make_data(50, dim, 777);
	exact_item *all = malloc(sizeof(exact_item) * n);
	int			hits = 0;
	int			nq = 50;

	for (int i = 0; i < nq; i++)
	{
		float	   *qi = q + (size_t) i * dim;
		float		qn[64];
		uint32_t	ids[10];
		int			found = 0;
		pgml_err	err;
		const float *qq = qi;

		if (metric == PGML_HNSW_COSINE)
		{
			memcpy(qn, qi, sizeof(float) * dim);
			pgml_hnsw_normalize(qn, dim);
			qq = qn;
		}
		for (int j = 0; j < n; j++)
		{
			float		xn[64];
			const float *xx = x + (size_t) j * dim;

			if (metric == PGML_HNSW_COSINE)
			{
				memcpy(xn, xx, sizeof(float) * dim);
				pgml_hnsw_normalize(xn, dim);
				xx = xn;
			}
			all[j].d = pgml_hnsw_distance(metric, qq, xx, dim);
			all[j].id = j;
		}
		qsort(all, n, sizeof(exact_item), exact_cmp);
		if (pgml_hnsw_search(g, qq, 10, ef, ids, NULL, &found, &err) != PGML_OK)
			continue;
		for (int a = 0; a < found; a++)
			for (int b = 0; b < 10; b++)
				if ((int) ids[a] == all[b].id)
				{
					hits++;
					break;
				}
	}
	free(q);
	free(all);
	return (double) hits / (nq * 10);
}

TEST(hnsw_recall_l2_single_thread)
{
	int			n = 3000,
				dim = 32;
	float	   *x = make_data(n, dim, 1);
	pgml_hnsw_graph *g = build(x, n, dim, PGML_HNSW_L2, NULL);
	double		r;

	REQUIRE(g != NULL);
	CHECK_INT(pgml_hnsw_count(g), n);
	CHECK_INT(pgml_hnsw_linked(g), n);
	r = recall_at_10(g, x, n, dim, PGML_HNSW_L2, 64);
	if (r < 0.95)
		test_fail(__FILE__, __LINE__, "recall %.3f < 0.95", r);
	CHECK(pgml_hnsw_payload(g, 10) == 70);
	pgml_hnsw_free(g);
	free(x);
}

TEST(hnsw_recall_every_metric_with_pool)
{
	int			n = 2000,
				dim = 24;
	float	   *x = make_data(n, dim, 2);
	pgml_pool  *pool = NULL;
	pgml_err	err;
	pgml_hnsw_metric metrics[] = {PGML_HNSW_L2, PGML_HNSW_IP, PGML_HNSW_COSINE, PGML_HNSW_L1};

	REQUIRE(pgml_pool_new(2, &pool, &err) == PGML_OK);
	for (int i = 0; i < 4; i++)
	{
		pgml_hnsw_graph *g = build(x, n, dim, metrics[i], pool);
		double		r;

		REQUIRE(g != NULL);
		r = recall_at_10(g, x, n, dim, metrics[i], 80);
		/* inner product is not a metric: HNSW finds the top results less reliably */
		if (r < (metrics[i] == PGML_HNSW_IP ? 0.85 : 0.95))
			test_fail(__FILE__, __LINE__, "metric %d: recall %.3f", (int) metrics[i], r);
		pgml_hnsw_free(g);
	}
	pgml_pool_free(pool);
	free(x);
}

TEST(hnsw_single_thread_build_is_deterministic)
{
	int			n = 1500,
				dim = 16;
	float	   *x = make_data(n, dim, 3);
	pgml_hnsw_graph *a = build(x, n, dim, PGML_HNSW_L2, NULL);
	pgml_hnsw_graph *b = build(x, n, dim, PGML_HNSW_L2, NULL);
	int			diff = 0;

	REQUIRE(a != NULL && b != NULL);
	CHECK_INT(pgml_hnsw_entry(a), pgml_hnsw_entry(b));
	for (uint32_t i = 0; i < (uint32_t) n; i++)
	{
		CHECK_INT(pgml_hnsw_level(a, i), pgml_hnsw_level(b, i));
		for (int l = 0; l <= pgml_hnsw_level(a, i); l++)
		{
			const uint32_t *na,
					   *nb;
			int			ca = pgml_hnsw_neighbors(a, i, l, &na);
			int			cb = pgml_hnsw_neighbors(b, i, l, &nb);

			if (ca != cb || memcmp(na, nb, sizeof(uint32_t) * ca) != 0)
				diff++;
		}
	}
	CHECK_INT(diff, 0);
	pgml_hnsw_free(a);
	pgml_hnsw_free(b);
	free(x);
}

TEST(hnsw_graph_invariants_after_parallel_build)
{
	int			n = 2500,
				dim = 16;
	float	   *x = make_data(n, dim, 4);
	pgml_pool  *pool = NULL;
	pgml_err	err;
	pgml_hnsw_graph *g;
	int			bad = 0;
	int			top = -1;

	REQUIRE(pgml_pool_new(2, &pool, &err) == PGML_OK);
	g = build(x, n, dim, PGML_HNSW_L2, pool);
	REQUIRE(g != NULL);
	for (uint32_t i = 0; i < (uint32_t) n; i++)
	{
		int			lv = pgml_hnsw_level(g, i);

		if (lv > top)
			top = lv;
		for (int l = 0; l <= lv; l++)
		{
			const uint32_t *nb;
			int			c = pgml_hnsw_neighbors(g, i, l, &nb);

			if (c > (l == 0 ? 16 : 8) || (l == 0 && c == 0))
				bad++;
			for (int k = 0; k < c; k++)
				if (nb[k] >= (uint32_t) n || nb[k] == i || pgml_hnsw_level(g, nb[k]) < l)
					bad++;
		}
	}
	CHECK_INT(bad, 0);
	CHECK_INT(pgml_hnsw_level(g, (uint32_t) pgml_hnsw_entry(g)), top);
	pgml_hnsw_free(g);
	pgml_pool_free(pool);
	free(x);
}

TEST(hnsw_memory_budget)
{
	int			dim = 8;
	pgml_hnsw_params p = {dim, 4, 16, PGML_HNSW_L2, 4, 1, 1024 * 1024};
	pgml_hnsw_graph *g = NULL;
	pgml_err	err;
	float		v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	pgml_status rc = PGML_OK;
	int			added = 0;

	REQUIRE(pgml_hnsw_new(&p, &g, &err) == PGML_OK);
	while (added < 1000000)
	{
		v[0] = (float) added;
		rc = pgml_hnsw_add(g, v, 0, &err);
		if (rc != PGML_OK)
			break;
		added++;
	}
	CHECK_INT(rc, PGML_ERR_LIMIT);
	CHECK(added > 1000);
	CHECK(pgml_hnsw_bytes(g) <= 1024 * 1024);
	CHECK(pgml_hnsw_link(g, NULL, &err) == PGML_OK);
	pgml_hnsw_free(g);
}

TEST(hnsw_levels_and_helpers)
{
	int			hist[4] = {0};
	float		a[3] = {3, 4, 0};
	float		z[3] = {0, 0, 0};
	pgml_hnsw_params bad = {0, 16, 64, PGML_HNSW_L2, 4, 1, 0};
	pgml_hnsw_graph *g = NULL;
	pgml_err	err;

	for (int i = 0; i < 100000; i++)
	{
		int			l = pgml_hnsw_random_level(9, (uint64_t) i, 16, 3);

		hist[l]++;
	}
	/* P(level >= 1) = 1/16 */
	CHECK(hist[0] > 92000 && hist[0] < 95500);
	CHECK(hist[1] > 4500 && hist[1] < 7000);
	CHECK(pgml_hnsw_normalize(a, 3));
	CHECK_NEAR(a[0], 0.6, 1e-6);
	CHECK(!pgml_hnsw_normalize(z, 3));
	CHECK_NEAR(pgml_hnsw_user_distance(PGML_HNSW_L2, 25.0f), 5.0, 1e-9);
	CHECK_NEAR(pgml_hnsw_user_distance(PGML_HNSW_COSINE, -0.25f), 0.75, 1e-9);
	CHECK(pgml_hnsw_new(&bad, &g, &err) == PGML_ERR_INVALID_ARGUMENT);
	CHECK(g == NULL);
	pgml_hnsw_free(NULL);
}

TEST(hnsw_select_heuristic_prunes_shadowed)
{
	/* base at 0; b is right behind a, so the heuristic drops b and keeps c on the other side */
	float		a[1] = {1.0f},
				b[1] = {1.1f},
				c[1] = {-1.2f};
	const float *vecs[3] = {a, b, c};
	float		d[3] = {1.0f, 1.21f, 1.44f};
	int			sel[3];
	int			k = pgml_hnsw_select(PGML_HNSW_L2, 1, vecs, d, 3, 3, 0, sel);

	CHECK_INT(k, 2);
	CHECK_INT(sel[0], 0);
	CHECK_INT(sel[1], 2);
	k = pgml_hnsw_select(PGML_HNSW_L2, 1, vecs, d, 3, 3, 3, sel);
	CHECK_INT(k, 3);
}
