/*
 * pool.c — worker threads and the parallel-for.
 *
 * A job is published with a new generation number; every participant (the caller too) claims chunks
 * from an atomic counter until none are left.
 *
 * Generations are even while a job is open and odd once it is closed. A worker joins the open job by
 * incrementing `active` and then checking that the generation is still the one it saw (a Dekker-style
 * handshake, all sequentially consistent): the caller, having run out of chunks, closes the job and
 * waits only until `active` is zero. So the caller never waits for a worker that has not started yet:
 * one that is asleep, descheduled by another process on a busy machine, or still waking. Once closed,
 * no worker can join until the next job is published, so the job's fields can be rewritten safely.
 *
 * Waking a sleeping thread costs a futex call and, on a virtual machine whose other CPU is halted, an
 * interprocessor interrupt: tens of microseconds, as long as a whole small layer of a one-sentence
 * encoder pass (24 parallel-fors per MiniLM forward). So idle workers spin for SPIN_NS watching the
 * generation before they sleep on the condition variable, and the caller signals only when one sleeps.
 * Back-to-back jobs hand over in well under a microsecond; an idle pool burns at most SPIN_NS of CPU
 * per worker before it sleeps.
 */
#include "pgml/pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void) 0)
#endif

#define SPIN_NS 50000			/* 50 µs */

typedef struct worker_arg
{
	struct pgml_pool *pool;
	int			id;
} worker_arg;

struct pgml_pool
{
	int			n_threads;		/* the caller included */
	pthread_t  *threads;		/* n_threads - 1 of them */
	worker_arg *args;			/* each thread's start argument, owned by the pool */
	pthread_mutex_t mutex;
	pthread_cond_t wake;		/* a new job or shutdown */
	pthread_cond_t done;		/* the last active worker left a closed job */
	_Atomic uint64_t generation;	/* even: a job is open; odd: closed */
	atomic_bool shutdown;
	atomic_int	active;			/* workers inside the current job */
	int			sleepers;		/* workers waiting on wake (under the mutex) */
	bool		waiting;		/* the caller waits on done (under the mutex) */
	atomic_bool busy;			/* a job is in progress (nested calls run serially) */

	/* the current job: written only while the generation is odd and no worker is active */
	pgml_range_fn fn;
	void	   *ctx;
	size_t		n;
	size_t		chunk;
	atomic_size_t next;			/* first item not yet claimed */
	atomic_bool stopped;		/* the stop hook fired */
};

/* The worker id of this thread: 0 on the caller, so nested (serial) calls keep their thread's id. */
static _Thread_local int current_worker = 0;

int
pgml_cpu_count(void)
{
	long		n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (int) n;
}

/* Claims and runs chunks until the job is exhausted or stopped. */
static void
run_chunks(pgml_pool *pool, int worker)
{
	for (;;)
	{
		size_t		begin;
		size_t		end;

		if (atomic_load_explicit(&pool->stopped, memory_order_relaxed))
			return;
		if (pgml_should_stop())
		{
			atomic_store(&pool->stopped, true);
			return;
		}
		begin = atomic_fetch_add(&pool->next, pool->chunk);
		if (begin >= pool->n)
			return;
		end = pool->n - begin <= pool->chunk ? pool->n : begin + pool->chunk;
		pool->fn(pool->ctx, begin, end, worker);
	}
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* A job this worker has not run yet is open. */
static inline bool
new_job(pgml_pool *pool, uint64_t seen)
{
	uint64_t	g = atomic_load(&pool->generation);

	return (g & 1) == 0 && g != seen;
}

/* Spins for up to SPIN_NS until a new job opens or the pool shuts down; true if one did. */
static bool
spin_for_job(pgml_pool *pool, uint64_t seen)
{
	uint64_t	start = 0;

	for (unsigned i = 0;; i++)
	{
		if (new_job(pool, seen) || atomic_load_explicit(&pool->shutdown, memory_order_relaxed))
			return true;
		if ((i & 63) == 0)
		{
			uint64_t	t = now_ns();

			if (start == 0)
				start = t;
			else if (t - start > SPIN_NS)
				return false;
		}
		cpu_relax();
	}
}

static void *
worker_main(void *p)
{
	worker_arg *arg = p;
	pgml_pool  *pool = arg->pool;
	int			id = arg->id;
	uint64_t	seen = 0;

	current_worker = id;
	for (;;)
	{
		uint64_t	g;

		if (!spin_for_job(pool, seen))
		{
			pthread_mutex_lock(&pool->mutex);
			pool->sleepers++;
			while (!atomic_load(&pool->shutdown) && !new_job(pool, seen))
				pthread_cond_wait(&pool->wake, &pool->mutex);
			pool->sleepers--;
			pthread_mutex_unlock(&pool->mutex);
		}
		if (atomic_load(&pool->shutdown))
			return NULL;

		/* join: count in, then make sure the job is still open (the caller closes, then reads active) */
		g = atomic_load(&pool->generation);
		atomic_fetch_add(&pool->active, 1);
		if ((g & 1) == 0 && atomic_load(&pool->generation) == g)
		{
			seen = g;
			run_chunks(pool, id);
		}
		if (atomic_fetch_sub(&pool->active, 1) == 1 && (atomic_load(&pool->generation) & 1))
		{
			pthread_mutex_lock(&pool->mutex);
			if (pool->waiting)
				pthread_cond_signal(&pool->done);
			pthread_mutex_unlock(&pool->mutex);
		}
	}
}

pgml_status
pgml_pool_new(int n_threads, pgml_pool **out, pgml_err *err)
{
	pgml_pool  *pool;
	sigset_t	all;
	sigset_t	old;
	int			started = 0;
	int			rc;

	*out = NULL;
	if (n_threads == 0)
		n_threads = pgml_cpu_count();
	if (n_threads < 1 || n_threads > 1024)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "thread count %d is out of range", n_threads);

	pool = pgml_calloc(1, sizeof(pgml_pool));
	if (pool == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	pool->n_threads = n_threads;
	atomic_init(&pool->generation, 1);	/* closed */
	atomic_init(&pool->busy, false);
	atomic_init(&pool->next, 0);
	atomic_init(&pool->stopped, false);
	pthread_mutex_init(&pool->mutex, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->done, NULL);

	if (n_threads > 1)
	{
		pool->threads = pgml_calloc((size_t) n_threads - 1, sizeof(pthread_t));
		pool->args = pgml_calloc((size_t) n_threads - 1, sizeof(worker_arg));
		if (pool->threads == NULL || pool->args == NULL)
		{
			pgml_pool_free(pool);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
	}

	/* Threads inherit the creating thread's signal mask: block everything while creating them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 1; i < n_threads; i++)
	{
		worker_arg *arg = &pool->args[i - 1];

		arg->pool = pool;
		arg->id = i;
		rc = pthread_create(&pool->threads[i - 1], NULL, worker_main, arg);
		if (rc != 0)
			break;
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (started != n_threads - 1)
	{
		pool->n_threads = started + 1;
		pgml_pool_free(pool);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "could not start %d worker threads", n_threads - 1);
	}
	*out = pool;
	return PGML_OK;
}

void
pgml_pool_free(pgml_pool *pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->mutex);
	atomic_store(&pool->shutdown, true);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->mutex);
	for (int i = 0; i < pool->n_threads - 1; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_mutex_destroy(&pool->mutex);
	pthread_cond_destroy(&pool->wake);
	pthread_cond_destroy(&pool->done);
	pgml_free(pool->threads);
	pgml_free(pool->args);
	pgml_free(pool);
}

int
pgml_pool_size(const pgml_pool *pool)
{
	return pool ? pool->n_threads : 1;
}

static pgml_status
run_serial(size_t n, size_t chunk, pgml_range_fn fn, void *ctx, pgml_err *err)
{
	for (size_t begin = 0; begin < n; begin += chunk)
	{
		size_t		end = n - begin <= chunk ? n : begin + chunk;

		if (pgml_should_stop())
			return pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
		fn(ctx, begin, end, current_worker);
	}
	/* A work function may have returned early because the stop hook fired during the last chunk. */
	if (pgml_should_stop())
		return pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
	return PGML_OK;
}

pgml_status
pgml_parallel_for(pgml_pool *pool, size_t n, size_t grain, pgml_range_fn fn, void *ctx, pgml_err *err)
{
	int			parts;
	size_t		chunk;
	bool		expected = false;

	if (n == 0)
		return PGML_OK;
	parts = pgml_pool_size(pool);
	if (grain == 0)
		grain = 1;

	/* About four chunks per participant balances uneven work without much claiming traffic. */
	chunk = n / ((size_t) parts * 4);
	if (chunk < grain)
		chunk = grain;

	if (parts == 1 || chunk >= n || !atomic_compare_exchange_strong(&pool->busy, &expected, true))
		return run_serial(n, chunk, fn, ctx, err);

	/* the previous job is closed and no worker is active: the fields are ours */
	pool->fn = fn;
	pool->ctx = ctx;
	pool->n = n;
	pool->chunk = chunk;
	atomic_store(&pool->next, 0);
	atomic_store(&pool->stopped, false);
	atomic_fetch_add(&pool->generation, 1);	/* open */
	pthread_mutex_lock(&pool->mutex);
	if (pool->sleepers > 0)
		pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->mutex);

	run_chunks(pool, 0);

	/* every chunk is claimed: close the job, then wait for the workers still running one */
	atomic_fetch_add(&pool->generation, 1);
	{
		uint64_t	start = 0;

		for (unsigned i = 0; atomic_load(&pool->active) > 0; i++)
		{
			if ((i & 63) == 0)
			{
				uint64_t	t = now_ns();

				if (start == 0)
					start = t;
				else if (t - start > SPIN_NS)
				{
					pthread_mutex_lock(&pool->mutex);
					pool->waiting = true;
					while (atomic_load(&pool->active) > 0)
						pthread_cond_wait(&pool->done, &pool->mutex);
					pool->waiting = false;
					pthread_mutex_unlock(&pool->mutex);
					break;
				}
			}
			cpu_relax();
		}
	}

	atomic_store(&pool->busy, false);
	if (atomic_load(&pool->stopped) || pgml_should_stop())
		return pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
	return PGML_OK;
}
