/*
 * pool.h — a fixed pool of worker threads with a parallel-for.
 *
 * The calling thread takes part in the work, so a pool of size n runs n-1 threads of its own; a pool of
 * size 1 (or a NULL pool) runs everything on the caller. Workers block every signal, so a host's signal
 * handlers run only on its own thread. Work functions must not call back into the host (in PostgreSQL:
 * no palloc, no elog, no catalog access).
 *
 * One parallel-for runs at a time per pool; nested calls from inside a work function run serially.
 */
#ifndef PGML_POOL_H
#define PGML_POOL_H

#include "pgml/pgml.h"

typedef struct pgml_pool pgml_pool;

/* Runs work on items [begin, end). worker is 0 for the caller, 1..n-1 for pool threads. */
typedef void (*pgml_range_fn) (void *ctx, size_t begin, size_t end, int worker);

/* n_threads >= 1 (the caller included); 0 means one per online CPU. */
pgml_status pgml_pool_new(int n_threads, pgml_pool **out, pgml_err *err);
void		pgml_pool_free(pgml_pool *pool);	/* joins the threads; NULL is fine */
int			pgml_pool_size(const pgml_pool *pool);	/* 1 for NULL */

/* The number of online CPUs (at least 1). */
int			pgml_cpu_count(void);

/*
 * Splits [0, n) into chunks of at least `grain` items (0 = choose) and runs fn on them in parallel.
 * Between chunks the stop hook is polled: once it fires, no new chunk starts, the call waits for the
 * chunks in flight and returns PGML_ERR_CANCELLED. Returns when all the work is done.
 *
 * A chunk is about n / (4 * pool size) items, so with long items a chunk can run for a long time: a
 * work function whose items take more than a few milliseconds polls pgml_should_stop() itself and
 * returns early when it fires (the call then reports PGML_ERR_CANCELLED).
 */
pgml_status pgml_parallel_for(pgml_pool *pool, size_t n, size_t grain, pgml_range_fn fn, void *ctx,
							  pgml_err *err);

#endif							/* PGML_POOL_H */
