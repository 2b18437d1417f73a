/*
 * pgml_pg.h — shared declarations of the extension's glue (the only code that includes postgres.h).
 */
#ifndef PGML_PG_H
#define PGML_PG_H

#include "postgres.h"

#include "fmgr.h"

/*
 * jansson and PostgreSQL's fmgrprotos.h both declare json_object and json_typeof. Include PostgreSQL's
 * SQL-function prototypes under other names first (the include guard keeps them from coming back), then
 * jansson. Every glue file includes this header before any other PostgreSQL header but postgres.h.
 */
#define json_object pg_sql_json_object
#define json_typeof pg_sql_json_typeof
#include "utils/fmgrprotos.h"
#undef json_object
#undef json_typeof
#include "pgml/json.h"

#include "pgml/pgml.h"
#include "pgml/pool.h"

/* GUCs (pgml.c) */
extern int	pgml_threads;

/* Called from _PG_init, before the "pgml" GUC prefix is reserved: each defines its subsystem's GUCs. */
extern void pgml_vector_init(void);
extern void pgml_hnsw_init(void);
extern void pgml_ivfflat_init(void);
extern void pgml_transformers_init(void);

/* Drops the transformer models this backend has loaded; returns how many (transformers.c). */
extern int	pgml_transformers_clear_cache(void);

/*
 * Raise a libpgml error as a PostgreSQL ERROR with its SQLSTATE, message, detail and hint. A cancelled
 * operation first services the pending interrupt, so the user sees PostgreSQL's own cancel message.
 */
extern void pgml_pg_raise(pgml_status rc, const pgml_err *err) pg_attribute_noreturn();

/* Checks a libpgml result: returns on PGML_OK, raises otherwise. */
static inline void
pgml_pg_check(pgml_status rc, const pgml_err *err)
{
	if (unlikely(rc != PGML_OK))
		pgml_pg_raise(rc, err);
}

/* Installs libpgml's hooks (allocator, log, stop). Called once from _PG_init. */
extern void pgml_pg_install_hooks(void);

/* The backend's worker pool, created on first use with pgml.threads threads (NULL when 1). */
extern pgml_pool *pgml_pg_pool(void);

/* Frees the pool so the next pgml_pg_pool() call builds one of the current size (GUC assign hook). */
extern void pgml_pg_pool_reset(void);

/*
 * Ties a libpgml object to CurrentMemoryContext: when the context is reset or deleted (normally, or by
 * an ERROR's cleanup), free_fn(obj) runs. Call it right after creating the object.
 */
extern void pgml_pg_own(void *obj, void (*free_fn) (void *));

/* Bytes libpgml currently holds through the allocator hook. */
extern Size pgml_pg_core_bytes(void);

/* Returns freed memory to the system (after loading a model, whose parse frees a lot). */
extern void pgml_pg_trim(void);

#endif							/* PGML_PG_H */
