/*
 * alloc.c — the allocator and the log/stop hooks.
 *
 * The hooks are process-wide and are set once by the host before it uses the library; they are read
 * without locks from any thread.
 */
#include "pgml/pgml.h"

#include "internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *
default_alloc(size_t size, void *state)
{
	(void) state;
	return malloc(size == 0 ? 1 : size);
}

static void *
default_realloc(void *ptr, size_t size, void *state)
{
	(void) state;
	return realloc(ptr, size == 0 ? 1 : size);
}

static void
default_free(void *ptr, void *state)
{
	(void) state;
	free(ptr);
}

static pgml_allocator current_allocator = {default_alloc, default_realloc, default_free, NULL};

static pgml_log_fn log_hook = NULL;
static void *log_state = NULL;
static pgml_should_stop_fn stop_hook = NULL;
static void *stop_state = NULL;

void
pgml_set_allocator(const pgml_allocator *allocator)
{
	if (allocator == NULL || allocator->alloc == NULL || allocator->realloc == NULL || allocator->free == NULL)
	{
		current_allocator.alloc = default_alloc;
		current_allocator.realloc = default_realloc;
		current_allocator.free = default_free;
		current_allocator.state = NULL;
	}
	else
		current_allocator = *allocator;
	pgml_json_use_allocator();
}

void *
pgml_malloc(size_t size)
{
	return current_allocator.alloc(size, current_allocator.state);
}

void *
pgml_calloc(size_t count, size_t size)
{
	size_t		total;
	void	   *p;

	if (!pgml_mul_size(count, size, &total))
		return NULL;
	p = pgml_malloc(total);
	if (p != NULL)
		memset(p, 0, total);
	return p;
}

void *
pgml_realloc(void *ptr, size_t size)
{
	if (ptr == NULL)
		return pgml_malloc(size);
	return current_allocator.realloc(ptr, size, current_allocator.state);
}

void
pgml_free(void *ptr)
{
	if (ptr != NULL)
		current_allocator.free(ptr, current_allocator.state);
}

char *
pgml_strndup(const char *s, size_t n)
{
	size_t		len = 0;
	char	   *out;

	if (s == NULL)
		return NULL;
	while (len < n && s[len] != '\0')
		len++;
	out = pgml_malloc(len + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

char *
pgml_strdup(const char *s)
{
	return s == NULL ? NULL : pgml_strndup(s, strlen(s));
}

char *
pgml_asprintf(const char *fmt,...)
{
	va_list		ap;
	int			len;
	char	   *out;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		return NULL;
	out = pgml_malloc((size_t) len + 1);
	if (out == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(out, (size_t) len + 1, fmt, ap);
	va_end(ap);
	return out;
}

void
pgml_set_log_hook(pgml_log_fn fn, void *state)
{
	log_hook = fn;
	log_state = state;
}

void
pgml_set_should_stop(pgml_should_stop_fn fn, void *state)
{
	stop_hook = fn;
	stop_state = state;
}

void
pgml_log(pgml_log_level level, const char *fmt,...)
{
	char		buf[1024];
	va_list		ap;

	if (log_hook == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_hook(level, buf, log_state);
}

/*
 * Progress of long work on the thread that began it. pgml_should_stop() is polled by every long loop, so
 * it doubles as the progress clock: on the thread that called pgml_progress_begin, at most every
 * progress_interval seconds (5 by default), it logs a NOTICE with the activity, the step counters if the loop sets
 * them, and the elapsed time. Other threads have no progress state and log nothing.
 */
static double progress_interval = 5.0;

typedef struct progress_state
{
	bool		active;
	char		activity[128];
	char		unit[32];
	size_t		done;
	size_t		total;
	double		start;
	double		last;
} progress_state;

static _Thread_local progress_state progress;

static double
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

void
pgml_progress_set_interval(double seconds)
{
	progress_interval = seconds;
}

void
pgml_progress_begin(const char *activity)
{
	snprintf(progress.activity, sizeof(progress.activity), "%s", activity);
	progress.unit[0] = '\0';
	progress.done = progress.total = 0;
	progress.start = progress.last = monotonic_seconds();
	progress.active = true;
}

void
pgml_progress_step(size_t done, size_t total, const char *unit)
{
	if (!progress.active)
		return;
	progress.done = done;
	progress.total = total;
	snprintf(progress.unit, sizeof(progress.unit), "%s", unit ? unit : "");
	pgml_progress_tick();
}

void
pgml_progress_tick(void)
{
	double		now;

	if (!progress.active)
		return;
	now = monotonic_seconds();
	if (now - progress.last < progress_interval)
		return;
	progress.last = now;
	if (progress.unit[0] != '\0' && progress.total > 0)
		pgml_log(PGML_LOG_NOTICE, "%s: %s %zu of %zu, %.0f s elapsed", progress.activity, progress.unit,
				 progress.done, progress.total, now - progress.start);
	else
		pgml_log(PGML_LOG_NOTICE, "%s: %.0f s elapsed", progress.activity, now - progress.start);
}

double
pgml_progress_end(void)
{
	double		elapsed = progress.active ? monotonic_seconds() - progress.start : 0;

	progress.active = false;
	return elapsed;
}

bool
pgml_should_stop(void)
{
	if (progress.active)
		pgml_progress_tick();
	return stop_hook != NULL && stop_hook(stop_state);
}

pgml_status
pgml_check_stop(pgml_err *err)
{
	if (pgml_should_stop())
		return pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
	return PGML_OK;
}

void
pgml_blas_set_threads(int n)
{
	void		(*set) (int) = (void (*) (int)) dlsym(RTLD_DEFAULT, "openblas_set_num_threads");

	if (set != NULL && n >= 1)
		set(n);
}
