/*
 * pgml.h — libpgml's base: status codes, errors, the allocator, and the hooks a host installs.
 *
 * libpgml is plain C11 with no PostgreSQL dependency. The host (the `pgml` extension, a tool, a test) may
 * install three hooks before using it:
 *
 *   - an allocator: every allocation libpgml makes goes through pgml_malloc/pgml_realloc/pgml_free;
 *   - a log hook:  progress and diagnostics (never printf);
 *   - a stop hook: long loops poll pgml_should_stop() and return PGML_ERR_CANCELLED when it says so.
 *
 * Errors: a function that can fail returns pgml_status and fills a caller-owned pgml_err (which may be
 * NULL). Messages follow PostgreSQL's style: the primary message is short, lower case, without a final
 * period; detail and hint are full sentences. libpgml never calls exit, abort, printf or longjmp.
 */
#ifndef PGML_PGML_H
#define PGML_PGML_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PGML_VERSION "0.1.0"

#if defined(__GNUC__)
#define PGML_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define PGML_NODISCARD __attribute__((warn_unused_result))
#else
#define PGML_PRINTF(fmt, args)
#define PGML_NODISCARD
#endif

/* ---------------------------------------------------------------------------------------------------
 * Status and errors
 * ------------------------------------------------------------------------------------------------- */

typedef enum pgml_status
{
	PGML_OK = 0,
	PGML_ERR_INVALID_ARGUMENT,	/* a caller's value is wrong (SQLSTATE 22023) */
	PGML_ERR_DATA,				/* bad data: malformed input, NaN where not allowed (22000) */
	PGML_ERR_OUT_OF_MEMORY,		/* an allocation failed (53200) */
	PGML_ERR_IO,				/* reading or writing a file failed (58030) */
	PGML_ERR_NOT_FOUND,			/* a named object does not exist (42704) */
	PGML_ERR_NOT_SUPPORTED,		/* a valid request this build cannot serve (0A000) */
	PGML_ERR_CORRUPT,			/* a file or blob fails validation (XX001) */
	PGML_ERR_CANCELLED,			/* the stop hook asked to stop (57014) */
	PGML_ERR_LIMIT,				/* a size or count is beyond what is supported (54000) */
	PGML_ERR_NETWORK,			/* a download failed (08000) */
	PGML_ERR_INTERNAL,			/* a bug: an invariant does not hold (XX000) */
} pgml_status;

#define PGML_ERR_MSG_LEN	256
#define PGML_ERR_DETAIL_LEN 1024
#define PGML_ERR_HINT_LEN	256

typedef struct pgml_err
{
	pgml_status code;
	char		sqlstate[6];	/* 5 characters, or "" to use the default of `code` */
	char		msg[PGML_ERR_MSG_LEN];
	char		detail[PGML_ERR_DETAIL_LEN];
	char		hint[PGML_ERR_HINT_LEN];
} pgml_err;

/* Resets err to "no error". err may be NULL. */
void		pgml_err_clear(pgml_err *err);

/*
 * Records an error: sets code and the primary message, clears sqlstate, detail and hint, and returns code
 * so that callers can write `return pgml_error(err, PGML_ERR_DATA, "...")`. err may be NULL.
 */
pgml_status pgml_error(pgml_err *err, pgml_status code, const char *fmt,...) PGML_PRINTF(3, 4);
pgml_status pgml_verror(pgml_err *err, pgml_status code, const char *fmt, va_list ap);

/* Add a detail or hint sentence, or a specific SQLSTATE ("22012"), to the error recorded last. */
void		pgml_err_detail(pgml_err *err, const char *fmt,...) PGML_PRINTF(2, 3);
void		pgml_err_hint(pgml_err *err, const char *fmt,...) PGML_PRINTF(2, 3);
void		pgml_err_sqlstate(pgml_err *err, const char *sqlstate);

/* The SQLSTATE of an error: its own if set, else the default of its code. Never NULL. */
const char *pgml_err_get_sqlstate(const pgml_err *err);

const char *pgml_status_name(pgml_status code);
const char *pgml_status_sqlstate(pgml_status code);

/* ---------------------------------------------------------------------------------------------------
 * Allocator
 * ------------------------------------------------------------------------------------------------- */

/*
 * The allocator hook. Each function may be called from any thread; it returns NULL on failure and never
 * throws. realloc(NULL, n) allocates; free(NULL) does nothing.
 */
typedef struct pgml_allocator
{
	void	   *(*alloc) (size_t size, void *state);
	void	   *(*realloc) (void *ptr, size_t size, void *state);
	void		(*free) (void *ptr, void *state);
	void	   *state;
} pgml_allocator;

/* Installs an allocator (copied); NULL restores malloc. Call before any object is allocated. */
void		pgml_set_allocator(const pgml_allocator *allocator);

void	   *pgml_malloc(size_t size);
void	   *pgml_calloc(size_t count, size_t size);	/* zeroed; NULL if count*size overflows */
void	   *pgml_realloc(void *ptr, size_t size);
void		pgml_free(void *ptr);
char	   *pgml_strdup(const char *s);
char	   *pgml_strndup(const char *s, size_t n);
char	   *pgml_asprintf(const char *fmt,...) PGML_PRINTF(1, 2);

/* Overflow-checked size arithmetic: false when the result does not fit in size_t. */
static inline bool
pgml_mul_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

static inline bool
pgml_add_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

/* ---------------------------------------------------------------------------------------------------
 * Hooks: log and stop
 * ------------------------------------------------------------------------------------------------- */

typedef enum pgml_log_level
{
	PGML_LOG_DEBUG = 0,
	PGML_LOG_INFO,
	PGML_LOG_NOTICE,
	PGML_LOG_WARNING,
} pgml_log_level;

/* May be called from any thread; the host decides what to do with messages off its main thread. */
typedef void (*pgml_log_fn) (pgml_log_level level, const char *msg, void *state);

/* Returns true when the current work should stop. Polled from any thread; must be cheap. */
typedef bool (*pgml_should_stop_fn) (void *state);

void		pgml_set_log_hook(pgml_log_fn fn, void *state);	/* NULL: messages are dropped */
void		pgml_set_should_stop(pgml_should_stop_fn fn, void *state);	/* NULL: never stop */

void		pgml_log(pgml_log_level level, const char *fmt,...) PGML_PRINTF(2, 3);
bool		pgml_should_stop(void);

/*
 * Progress of long work (a fit, a search), on the calling thread: between begin and end, every poll of
 * pgml_should_stop() on this thread may log a NOTICE ("<activity>: <unit> <done> of <total>, N s elapsed")
 * at most every 5 seconds. Loops that know their position report it with pgml_progress_step. end
 * returns the seconds since begin.
 */
void		pgml_progress_begin(const char *activity);
void		pgml_progress_step(size_t done, size_t total, const char *unit);
void		pgml_progress_tick(void);
double		pgml_progress_end(void);
void		pgml_progress_set_interval(double seconds);	/* default 5; tests use 0 */

/* Returns PGML_ERR_CANCELLED (recorded in err) if the stop hook says so, else PGML_OK. */
pgml_status pgml_check_stop(pgml_err *err);

/*
 * Sets the number of threads OpenBLAS may use (when the BLAS in use is OpenBLAS; otherwise nothing
 * happens). libpgml parallelises with its own pool, so hosts normally set 1.
 */
void		pgml_blas_set_threads(int n);

/* "0.1.0": the library's version. */
const char *pgml_version(void);

#ifdef __cplusplus
}
#endif

#endif							/* PGML_PGML_H */
