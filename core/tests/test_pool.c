/* Tests for pool.c: the parallel-for covers every item exactly once, and stops when asked. */
#include "test.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "pgml/pool.h"

typedef struct mark_ctx
{
	atomic_int *hits;
	atomic_int	calls;
	atomic_int	max_worker;
} mark_ctx;

static void
mark(void *p, size_t begin, size_t end, int worker)
{
	mark_ctx   *c = p;

	atomic_fetch_add(&c->calls, 1);
	if (worker > atomic_load(&c->max_worker))
		atomic_store(&c->max_worker, worker);
	for (size_t i = begin; i < end; i++)
		atomic_fetch_add(&c->hits[i], 1);
}

static void
check_cover(pgml_pool *pool, size_t n, size_t grain)
{
	mark_ctx	c;
	pgml_err	err;

	c.hits = calloc(n ? n : 1, sizeof(atomic_int));
	atomic_init(&c.calls, 0);
	atomic_init(&c.max_worker, 0);
	CHECK_INT(pgml_parallel_for(pool, n, grain, mark, &c, &err), PGML_OK);
	for (size_t i = 0; i < n; i++)
		if (atomic_load(&c.hits[i]) != 1)
		{
			test_fail(__FILE__, __LINE__, "item %zu of %zu visited %d times", i, n, atomic_load(&c.hits[i]));
			break;
		}
	CHECK(atomic_load(&c.max_worker) < pgml_pool_size(pool));
	free(c.hits);
}

TEST(pool_covers_every_item_once)
{
	pgml_pool  *pool;
	pgml_err	err;

	CHECK_INT(pgml_pool_new(4, &pool, &err), PGML_OK);
	REQUIRE(pool != NULL);
	CHECK_INT(pgml_pool_size(pool), 4);
	check_cover(pool, 0, 0);
	check_cover(pool, 1, 0);
	check_cover(pool, 7, 1);
	check_cover(pool, 1000, 0);
	check_cover(pool, 100003, 17);
	for (int round = 0; round < 200; round++)	/* many jobs back to back */
		check_cover(pool, 64 + (size_t) round, 1);
	pgml_pool_free(pool);
}

TEST(pool_null_and_single_run_serially)
{
	pgml_pool  *pool;
	pgml_err	err;

	check_cover(NULL, 1000, 0);
	CHECK_INT(pgml_pool_size(NULL), 1);
	CHECK_INT(pgml_pool_new(1, &pool, &err), PGML_OK);
	check_cover(pool, 1000, 3);
	pgml_pool_free(pool);
	pgml_pool_free(NULL);
}

TEST(pool_rejects_bad_sizes)
{
	pgml_pool  *pool = (pgml_pool *) 1;
	pgml_err	err;

	CHECK_INT(pgml_pool_new(-1, &pool, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK(pool == NULL);
	CHECK_INT(pgml_pool_new(100000, &pool, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK(pgml_cpu_count() >= 1);
	CHECK_INT(pgml_pool_new(0, &pool, &err), PGML_OK);
	CHECK_INT(pgml_pool_size(pool), pgml_cpu_count());
	pgml_pool_free(pool);
}

typedef struct nested_ctx
{
	pgml_pool  *pool;
	atomic_long total;
} nested_ctx;

static void
add_range(void *p, size_t begin, size_t end, int worker)
{
	nested_ctx *c = p;

	(void) worker;
	for (size_t i = begin; i < end; i++)
		atomic_fetch_add(&c->total, (long) i);
}

static void
outer(void *p, size_t begin, size_t end, int worker)
{
	nested_ctx *c = p;
	pgml_err	err;

	(void) worker;
	for (size_t i = begin; i < end; i++)
		pgml_parallel_for(c->pool, 100, 1, add_range, c, &err);	/* runs serially inside a job */
}

TEST(pool_nested_calls_complete)
{
	nested_ctx	c;
	pgml_err	err;

	CHECK_INT(pgml_pool_new(3, &c.pool, &err), PGML_OK);
	atomic_init(&c.total, 0);
	CHECK_INT(pgml_parallel_for(c.pool, 50, 1, outer, &c, &err), PGML_OK);
	CHECK_INT(atomic_load(&c.total), 50L * (99 * 100 / 2));
	pgml_pool_free(c.pool);
}

static atomic_int stop_after;

static bool
stop_hook(void *state)
{
	(void) state;
	return atomic_load(&stop_after) <= 0;
}

static void
count_down(void *p, size_t begin, size_t end, int worker)
{
	(void) p;
	(void) worker;
	(void) begin;
	(void) end;
	atomic_fetch_sub(&stop_after, 1);
}

TEST(pool_stops_when_hook_fires)
{
	pgml_pool  *pool;
	pgml_err	err;

	CHECK_INT(pgml_pool_new(2, &pool, &err), PGML_OK);
	pgml_set_should_stop(stop_hook, NULL);
	atomic_store(&stop_after, 5);
	CHECK_INT(pgml_parallel_for(pool, 100000, 1, count_down, NULL, &err), PGML_ERR_CANCELLED);
	CHECK_STR(pgml_err_get_sqlstate(&err), "57014");
	/* serial path too */
	atomic_store(&stop_after, 3);
	CHECK_INT(pgml_parallel_for(NULL, 1000, 1, count_down, NULL, &err), PGML_ERR_CANCELLED);
	CHECK(atomic_load(&stop_after) <= 0);
	pgml_set_should_stop(NULL, NULL);
	/* the pool is still usable afterwards */
	atomic_store(&stop_after, 1000000);
	CHECK_INT(pgml_parallel_for(pool, 1000, 1, count_down, NULL, &err), PGML_OK);
	pgml_pool_free(pool);
}

/*
 * The handover between jobs: thousands of small jobs back to back, on a pool with more threads than
 * CPUs (so workers are often descheduled mid-job or late to join), some after an idle pause long enough
 * for the workers to go to sleep. Each job writes a job-specific value into its own array; a late
 * worker running an old job's function, or a new job's function with an old context, would show up as
 * a wrong value or a count other than one.
 */
typedef struct stamp_ctx
{
	atomic_int *hits;
	int			value;
	int		   *out;
} stamp_ctx;

static void
stamp_a(void *p, size_t begin, size_t end, int worker)
{
	stamp_ctx  *c = p;

	(void) worker;
	for (size_t i = begin; i < end; i++)
	{
		atomic_fetch_add(&c->hits[i], 1);
		c->out[i] = c->value;
	}
}

static void
stamp_b(void *p, size_t begin, size_t end, int worker)
{
	stamp_ctx  *c = p;

	(void) worker;
	for (size_t i = begin; i < end; i++)
	{
		atomic_fetch_add(&c->hits[i], 1);
		c->out[i] = -c->value;
	}
}

static void
handover(int threads, int jobs)
{
	pgml_pool  *pool;
	pgml_err	err;
	enum
	{
	MAXN = 97};
	atomic_int	hits[2][MAXN];
	int			out[2][MAXN];
	int			bad = 0;

	CHECK_INT(pgml_pool_new(threads, &pool, &err), PGML_OK);
	for (int j = 0; j < jobs && bad == 0; j++)
	{
		int			s = j & 1;
		size_t		n = 2 + (size_t) (j * 7919) % (MAXN - 2);
		stamp_ctx	c = {hits[s], j + 1, out[s]};

		for (size_t i = 0; i < MAXN; i++)
		{
			atomic_init(&hits[s][i], 0);
			out[s][i] = 0;
		}
		if (j % 500 == 499)
			usleep(200);	/* longer than the spin: the workers go to sleep */
		CHECK_INT(pgml_parallel_for(pool, n, 1, s ? stamp_b : stamp_a, &c, &err), PGML_OK);
		for (size_t i = 0; i < MAXN; i++)
		{
			int			want = i < n ? (s ? -(j + 1) : j + 1) : 0;

			if (atomic_load(&hits[s][i]) != (i < n ? 1 : 0) || out[s][i] != want)
			{
				test_fail(__FILE__, __LINE__, "job %d (%d threads): item %zu hit %d times, value %d, want %d",
						  j, threads, i, atomic_load(&hits[s][i]), out[s][i], want);
				bad++;
				break;
			}
		}
	}
	pgml_pool_free(pool);
}

TEST(pool_job_handover_under_load)
{
	handover(2, 20000);
	handover(9, 5000);
}
