/*
 * pgml_test.c — SQL-callable probes of the pgml extension's glue, for pg_regress.
 *
 * This module does not link libpgml: it links pgml.so itself, and _PG_init has PostgreSQL load pgml.so
 * (running its _PG_init), so it exercises the very hooks (allocator, log, stop) and pool that pgml.so
 * installed. Like PostgreSQL's src/test/modules, it is installed only to run the tests.
 */
#include "pgml_pg.h"

#include <math.h>
#include <time.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/* Make sure pgml.so (and its libpgml) is loaded and initialised before anything here runs. */
	load_external_function("$libdir/pgml", "pgml_version_text", true, NULL);
}

PG_FUNCTION_INFO_V1(pgml_test_raise);

/* Records a libpgml error with the given status (and optional SQLSTATE, detail, hint) and raises it. */
Datum
pgml_test_raise(PG_FUNCTION_ARGS)
{
	pgml_err	err;
	int			status = PG_GETARG_INT32(0);

	pgml_error(&err, (pgml_status) status, "test error with status %d", status);
	if (!PG_ARGISNULL(1))
		pgml_err_sqlstate(&err, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	if (!PG_ARGISNULL(2))
		pgml_err_detail(&err, "%s", text_to_cstring(PG_GETARG_TEXT_PP(2)));
	if (!PG_ARGISNULL(3))
		pgml_err_hint(&err, "%s", text_to_cstring(PG_GETARG_TEXT_PP(3)));
	if (status == PGML_OK)
		PG_RETURN_VOID();
	pgml_pg_raise((pgml_status) status, &err);
}

PG_FUNCTION_INFO_V1(pgml_test_status_names);

Datum
pgml_test_status_names(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int s = PGML_OK; s <= PGML_ERR_INTERNAL; s++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int32GetDatum(s);
		values[1] = CStringGetTextDatum(pgml_status_name((pgml_status) s));
		values[2] = CStringGetTextDatum(pgml_status_sqlstate((pgml_status) s));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

typedef struct alloc_job
{
	void	  **blocks;
	int			size;
} alloc_job;

static void
alloc_range(void *ctx, size_t begin, size_t end, int worker)
{
	alloc_job  *job = ctx;

	(void) worker;
	for (size_t i = begin; i < end; i++)
	{
		job->blocks[i] = pgml_malloc((size_t) job->size);
		if (job->blocks[i] != NULL)
			memset(job->blocks[i], (int) (i & 0xff), (size_t) job->size);
	}
}

static void
free_range(void *ctx, size_t begin, size_t end, int worker)
{
	alloc_job  *job = ctx;

	(void) worker;
	for (size_t i = begin; i < end; i++)
		pgml_free(job->blocks[i]);
}

PG_FUNCTION_INFO_V1(pgml_test_parallel_alloc);

/*
 * Allocates n blocks of `size` bytes through libpgml's allocator on the worker pool, checks their
 * contents, frees them on the pool, and returns how many bytes libpgml held while they were live.
 */
Datum
pgml_test_parallel_alloc(PG_FUNCTION_ARGS)
{
	int			n = PG_GETARG_INT32(0);
	alloc_job	job;
	pgml_err	err;
	Size		held;

	if (n < 1 || PG_GETARG_INT32(1) < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("n and size must be positive")));
	job.size = PG_GETARG_INT32(1);
	job.blocks = palloc0(sizeof(void *) * n);
	pgml_pg_check(pgml_parallel_for(pgml_pg_pool(), (size_t) n, 1, alloc_range, &job, &err), &err);
	held = pgml_pg_core_bytes();
	for (int i = 0; i < n; i++)
	{
		unsigned char *b = job.blocks[i];

		if (b == NULL)
			elog(ERROR, "block %d was not allocated", i);
		if (((uintptr_t) b & 15) != 0)
			elog(ERROR, "block %d is not 16-byte aligned", i);
		if (b[0] != (i & 0xff) || b[job.size - 1] != (i & 0xff))
			elog(ERROR, "block %d was overwritten", i);
	}
	pgml_pg_check(pgml_parallel_for(pgml_pg_pool(), (size_t) n, 1, free_range, &job, &err), &err);
	PG_RETURN_INT64((int64) held);
}

PG_FUNCTION_INFO_V1(pgml_test_pool_size);

Datum
pgml_test_pool_size(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(pgml_pool_size(pgml_pg_pool()));
}

typedef struct sum_job
{
	int64	   *partial;		/* one slot per worker */
} sum_job;

static void
sum_range(void *ctx, size_t begin, size_t end, int worker)
{
	sum_job    *job = ctx;
	int64		s = 0;

	for (size_t i = begin; i < end; i++)
		s += (int64) i;
	job->partial[worker] += s;
}

PG_FUNCTION_INFO_V1(pgml_test_parallel_sum);

/* Σ i for i in [0, n), summed on the pool with per-worker partial sums. */
Datum
pgml_test_parallel_sum(PG_FUNCTION_ARGS)
{
	int64		n = PG_GETARG_INT64(0);
	pgml_pool  *pool = pgml_pg_pool();
	sum_job		job;
	pgml_err	err;
	int64		total = 0;

	if (n < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("n must not be negative")));
	job.partial = palloc0(sizeof(int64) * pgml_pool_size(pool));
	pgml_pg_check(pgml_parallel_for(pool, (size_t) n, 1024, sum_range, &job, &err), &err);
	for (int w = 0; w < pgml_pool_size(pool); w++)
		total += job.partial[w];
	PG_RETURN_INT64(total);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct spin_job
{
	double		until;
} spin_job;

static void
spin_range(void *ctx, size_t begin, size_t end, int worker)
{
	spin_job   *job = ctx;

	(void) worker;
	for (size_t i = begin; i < end; i++)
	{
		double		start = now_seconds();

		/* long-running work polls the stop hook itself, as pool.h asks */
		if (pgml_should_stop())
			return;

		/* about a millisecond of work per item, unless the time is up */
		while (now_seconds() - start < 0.001 && now_seconds() < job->until)
			;
	}
}

PG_FUNCTION_INFO_V1(pgml_test_spin);

/*
 * Keeps the pool busy for `seconds`, in 1 ms items; a cancel or statement_timeout stops it through the
 * stop hook. Returns the number of items.
 */
Datum
pgml_test_spin(PG_FUNCTION_ARGS)
{
	double		seconds = PG_GETARG_FLOAT8(0);
	spin_job	job;
	pgml_err	err;
	size_t		items;

	if (!(seconds >= 0 && seconds <= 600))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("seconds must be between 0 and 600")));
	job.until = now_seconds() + seconds;
	items = (size_t) (seconds * 1000) * (size_t) pgml_pool_size(pgml_pg_pool());
	pgml_pg_check(pgml_parallel_for(pgml_pg_pool(), items, 1, spin_range, &job, &err), &err);
	PG_RETURN_INT64((int64) items);
}

static void
log_range(void *ctx, size_t begin, size_t end, int worker)
{
	if (worker != 0)
		pgml_log(PGML_LOG_NOTICE, "from worker %d: %s", worker, (const char *) ctx);
}

PG_FUNCTION_INFO_V1(pgml_test_log);

/* Logs through libpgml's log hook: from the backend's thread (a NOTICE), or from pool workers (dropped). */
Datum
pgml_test_log(PG_FUNCTION_ARGS)
{
	char	   *msg = text_to_cstring(PG_GETARG_TEXT_PP(0));
	pgml_err	err;

	if (PG_GETARG_BOOL(1))
		pgml_pg_check(pgml_parallel_for(pgml_pg_pool(), 64, 1, log_range, msg, &err), &err);
	else
		pgml_log(PGML_LOG_NOTICE, "%s", msg);
	PG_RETURN_VOID();
}

/*
 * Embedding-like vectors for vector tests: most of their variance lives in a low-dimensional subspace,
 * as with real sentence embeddings, so approximate nearest-neighbour recall behaves as it does on them
 * (uniform random vectors in high dimensions make every neighbour almost equally far).
 *
 *     W = N(0,1)^(latent × dim), drawn once from the seed
 *     each vector  z·W + 0.1·√latent·ε,   z ~ N(0,1)^latent,  ε ~ N(0,1)^dim
 *
 * The generator is our own (xoshiro256** seeded by splitmix64, normals by Box-Muller), so the output
 * depends only on the arguments, on every platform. It does not reproduce numpy's streams.
 */
typedef struct rng_state
{
	uint64		s[4];
	bool		has_spare;		/* Box-Muller makes normals in pairs */
	double		spare;
} rng_state;

static uint64
splitmix64(uint64 *x)
{
	uint64		z = (*x += UINT64CONST(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
rng_seed(rng_state *r, uint64 seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
	r->has_spare = false;
}

static inline uint64
rotl64(uint64 x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64
rng_next(rng_state *r)
{
	uint64	   *s = r->s;
	uint64		result = rotl64(s[1] * 5, 7) * 9;
	uint64		t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* Uniform on (0, 1]: never 0, so log() below is finite. */
static double
rng_uniform(rng_state *r)
{
	return ((rng_next(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

static double
rng_normal(rng_state *r)
{
	double		u,
				v,
				radius;

	if (r->has_spare)
	{
		r->has_spare = false;
		return r->spare;
	}
	u = rng_uniform(r);
	v = rng_uniform(r);
	radius = sqrt(-2.0 * log(u));
	r->spare = radius * sin(2.0 * M_PI * v);
	r->has_spare = true;
	return radius * cos(2.0 * M_PI * v);
}

typedef struct embedding_state
{
	rng_state	rng;
	int			dim;
	int			latent;
	float	   *w;				/* (latent, dim) */
	double	   *z;				/* (latent) */
	double	   *acc;			/* (dim) */
} embedding_state;

PG_FUNCTION_INFO_V1(pgml_test_embedding_like);

/* pgml_test.embedding_like(n, dim, seed, latent): n embedding-like real[] vectors of dim elements. */
Datum
pgml_test_embedding_like(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	embedding_state *st;
	Datum	   *elems;
	double		noise;

	if (SRF_IS_FIRSTCALL())
	{
		int			n = PG_GETARG_INT32(0);
		int			dim = PG_GETARG_INT32(1);
		int64		seed = PG_GETARG_INT32(2);
		int			latent = PG_GETARG_INT32(3);
		MemoryContext old;

		if (n < 0)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("n must not be negative")));
		if (dim < 1 || dim > 16000)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("dim must be between 1 and 16000")));
		if (latent < 1 || latent > 1024)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("latent must be between 1 and 1024")));

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		st = palloc(sizeof(embedding_state));
		st->dim = dim;
		st->latent = latent;
		st->w = palloc(sizeof(float) * latent * dim);
		st->z = palloc(sizeof(double) * latent);
		st->acc = palloc(sizeof(double) * dim);
		rng_seed(&st->rng, (uint64) seed);
		for (int i = 0; i < latent * dim; i++)
			st->w[i] = (float) rng_normal(&st->rng);
		MemoryContextSwitchTo(old);
		funcctx->user_fctx = st;
		funcctx->max_calls = (uint64) n;
	}

	funcctx = SRF_PERCALL_SETUP();
	st = funcctx->user_fctx;
	if (funcctx->call_cntr >= funcctx->max_calls)
		SRF_RETURN_DONE(funcctx);

	CHECK_FOR_INTERRUPTS();
	for (int k = 0; k < st->latent; k++)
		st->z[k] = rng_normal(&st->rng);
	memset(st->acc, 0, sizeof(double) * st->dim);
	for (int k = 0; k < st->latent; k++)
	{
		const float *wk = st->w + (size_t) k * st->dim;
		double		zk = st->z[k];

		for (int j = 0; j < st->dim; j++)
			st->acc[j] += zk * wk[j];
	}
	noise = 0.1 * sqrt((double) st->latent);
	elems = palloc(sizeof(Datum) * st->dim);
	for (int j = 0; j < st->dim; j++)
		elems[j] = Float4GetDatum((float) (st->acc[j] + noise * rng_normal(&st->rng)));
	SRF_RETURN_NEXT(funcctx, PointerGetDatum(construct_array(elems, st->dim, FLOAT4OID, sizeof(float4),
															 true, TYPALIGN_INT)));
}
