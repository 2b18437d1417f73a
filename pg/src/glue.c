/*
 * glue.c — libpgml's hooks inside a backend: allocator, log, cancel, errors, and the worker pool.
 *
 * Allocator: libpgml allocates with malloc, counting the bytes it holds (pgml.core_memory()). A NULL
 * return becomes a libpgml out-of-memory status and then an ordinary ERROR in the calling glue. Not a
 * memory context: a context keeps the blocks of freed chunks for good, and loading a model frees a lot
 * (the parsed JSON of tokenizer.json alone is several MB), which would stay resident in every backend;
 * freed malloc memory goes back to the system (glue calls pgml_pg_trim() after a load). Worker threads
 * may allocate too: malloc is thread-safe and the counter is atomic. Each block carries a small header
 * recording its size and is aligned to 16 bytes like malloc's.
 *
 * Log and stop hooks: messages reach ereport only from the backend's own thread; worker threads never
 * call into PostgreSQL. The stop hook reads the interrupt flags (volatile sig_atomic_t), which is safe
 * from any thread.
 */
#include "pgml_pg.h"

#include <malloc.h>
#include <pthread.h>

#include "miscadmin.h"
#include "utils/memutils.h"

typedef struct core_chunk
{
	void	   *raw;			/* what MemoryContextAlloc returned */
	size_t		size;			/* bytes requested by libpgml */
} core_chunk;

StaticAssertDecl(sizeof(core_chunk) == 16, "core_chunk must keep 16-byte alignment");

#define CORE_ALIGN 16

static Size core_bytes = 0;		/* updated atomically */
static pthread_t backend_thread;
static pgml_pool *backend_pool = NULL;

static void *
core_alloc(size_t size, void *state)
{
	void	   *raw;
	char	   *user;
	core_chunk *chunk;

	(void) state;
	if (size > MaxAllocHugeSize - sizeof(core_chunk) - CORE_ALIGN)
		return NULL;
	raw = malloc(size + sizeof(core_chunk) + CORE_ALIGN);
	if (raw == NULL)
		return NULL;
	__atomic_add_fetch(&core_bytes, size, __ATOMIC_RELAXED);
	user = (char *) TYPEALIGN(CORE_ALIGN, (uintptr_t) raw + sizeof(core_chunk));
	chunk = (core_chunk *) user - 1;
	chunk->raw = raw;
	chunk->size = size;
	return user;
}

static void
core_free(void *ptr, void *state)
{
	core_chunk *chunk;

	(void) state;
	if (ptr == NULL)
		return;
	chunk = (core_chunk *) ptr - 1;
	__atomic_sub_fetch(&core_bytes, chunk->size, __ATOMIC_RELAXED);
	free(chunk->raw);
}

static void *
core_realloc(void *ptr, size_t size, void *state)
{
	void	   *fresh;
	size_t		old;

	if (ptr == NULL)
		return core_alloc(size, state);
	old = ((core_chunk *) ptr - 1)->size;
	fresh = core_alloc(size, state);
	if (fresh == NULL)
		return NULL;
	memcpy(fresh, ptr, Min(old, size));
	core_free(ptr, state);
	return fresh;
}

Size
pgml_pg_core_bytes(void)
{
	return __atomic_load_n(&core_bytes, __ATOMIC_RELAXED);
}

void
pgml_pg_trim(void)
{
	malloc_trim(0);
}

static void
core_log(pgml_log_level level, const char *msg, void *state)
{
	int			elevel;

	(void) state;
	if (!pthread_equal(pthread_self(), backend_thread))
		return;
	switch (level)
	{
		case PGML_LOG_DEBUG:
			elevel = DEBUG1;
			break;
		case PGML_LOG_INFO:
			elevel = INFO;
			break;
		case PGML_LOG_NOTICE:
			elevel = NOTICE;
			break;
		default:
			elevel = WARNING;
			break;
	}
	ereport(elevel, (errmsg_internal("%s", msg)));
}

/*
 * Only a cancel or a termination stops libpgml's work. InterruptPending alone is also set for benign
 * interrupts (sinval catch-up, notifications, barriers) that CHECK_FOR_INTERRUPTS handles and returns from.
 */
static bool
core_should_stop(void *state)
{
	(void) state;
	return InterruptPending && (QueryCancelPending || ProcDiePending);
}

void
pgml_pg_install_hooks(void)
{
	pgml_allocator a = {core_alloc, core_realloc, core_free, NULL};

	backend_thread = pthread_self();
	pgml_set_allocator(&a);
	pgml_set_log_hook(core_log, NULL);
	pgml_set_should_stop(core_should_stop, NULL);
	/* OpenBLAS threads spin after each call; with many backends per core they only steal time */
	pgml_blas_set_threads(1);
}

void
pgml_pg_raise(pgml_status rc, const pgml_err *err)
{
	const char *state;

	if (rc == PGML_ERR_CANCELLED)
		CHECK_FOR_INTERRUPTS();
	if (err == NULL || err->msg[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pgml: %s", pgml_status_name(rc))));
	state = pgml_err_get_sqlstate(err);
	ereport(ERROR,
			(errcode(MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4])),
			 errmsg_internal("%s", err->msg),
			 err->detail[0] ? errdetail_internal("%s", err->detail) : 0,
			 err->hint[0] ? errhint("%s", err->hint) : 0));
	pg_unreachable();
}

pgml_pool *
pgml_pg_pool(void)
{
	pgml_err	err;
	pgml_status rc;
	int			n = pgml_threads > 0 ? pgml_threads : pgml_cpu_count();

	if (n <= 1)
		return NULL;
	if (backend_pool == NULL)
	{
		rc = pgml_pool_new(n, &backend_pool, &err);
		pgml_pg_check(rc, &err);
	}
	return backend_pool;
}

void
pgml_pg_pool_reset(void)
{
	pgml_pool_free(backend_pool);
	backend_pool = NULL;
}

typedef struct owned_object
{
	MemoryContextCallback cb;
	void	   *obj;
	void		(*free_fn) (void *);
} owned_object;

static void
free_owned(void *arg)
{
	owned_object *o = arg;

	o->free_fn(o->obj);
}

void
pgml_pg_own(void *obj, void (*free_fn) (void *))
{
	owned_object *o = MemoryContextAlloc(CurrentMemoryContext, sizeof(owned_object));

	o->obj = obj;
	o->free_fn = free_fn;
	o->cb.func = free_owned;
	o->cb.arg = o;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &o->cb);
}
