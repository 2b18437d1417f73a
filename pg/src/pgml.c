/*
 * pgml.c — module entry: _PG_init, GUCs, pgml.version().
 *
 * _PG_init must stay cheap and start nothing: with shared_preload_libraries it runs in the postmaster,
 * where threads must never exist. Worker threads are created lazily in a backend (glue.c).
 */
#include "pgml_pg.h"
#include "ml.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "git_sha.h"

PG_MODULE_MAGIC;

int			pgml_threads = 0;

/* PostgresML's settings that have no meaning here; accepted so existing configurations keep working. */
static char *compat_venv = NULL;
static int	compat_omp_num_threads = 1;

static void
assign_threads(int newval, void *extra)
{
	(void) extra;
	if (newval != pgml_threads)
		pgml_pg_pool_reset();
}

void		_PG_init(void);

void
_PG_init(void)
{
	pgml_pg_install_hooks();

	DefineCustomIntVariable("pgml.threads",
							"Threads each backend uses for model inference, training and index builds.",
							"0 means one per CPU core. Worker threads are created on first use.",
							&pgml_threads,
							0, 0, 1024,
							PGC_USERSET, 0,
							NULL, assign_threads, NULL);

	DefineCustomStringVariable("pgml.venv",
							   "Accepted for compatibility with PostgresML; pgml runs no Python.",
							   NULL,
							   &compat_venv,
							   "",
							   PGC_USERSET, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("pgml.omp_num_threads",
							"Accepted for compatibility with PostgresML; use pgml.threads.",
							NULL,
							&compat_omp_num_threads,
							1, 1, 1024,
							PGC_BACKEND, 0,
							NULL, NULL, NULL);

	/* each subsystem defines its own GUCs */
	pgml_vector_init();
	pgml_hnsw_init();
	pgml_ivfflat_init();
	pgml_transformers_init();

	MarkGUCPrefixReserved("pgml");
	ml_register_callbacks();
}

PG_FUNCTION_INFO_V1(pgml_version_text);

/* pgml.version() → '0.1.0 (1a2b3c4d5e6f)' */
Datum
pgml_version_text(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%s (%s)", pgml_version(), PGML_GIT_SHA)));
}

PG_FUNCTION_INFO_V1(pgml_core_memory);

/* pgml.core_memory() → bytes held by libpgml in this backend */
Datum
pgml_core_memory(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) pgml_pg_core_bytes());
}
