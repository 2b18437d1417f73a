/*
 * test_main.c — runs the registered core tests.
 */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>

#define MAX_TESTS 4096

static struct
{
	const char *name;
	test_fn		fn;
}			tests[MAX_TESTS];
static int	n_tests;
static int	current_failures;

void
test_register(const char *name, test_fn fn)
{
	if (n_tests < MAX_TESTS)
	{
		tests[n_tests].name = name;
		tests[n_tests].fn = fn;
		n_tests++;
	}
}

void
test_fail(const char *file, int line, const char *fmt,...)
{
	va_list		ap;

	current_failures++;
	if (current_failures > 20)
		return;
	fprintf(stdout, "    %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

int
test_failed_now(void)
{
	return current_failures;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

int
main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int			passed = 0;
	int			failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Sort by name for a stable order whatever the link order was. */
	qsort(tests, (size_t) n_tests, sizeof(tests[0]), by_name);
	for (int i = 0; i < n_tests; i++)
	{
		if (filter && strstr(tests[i].name, filter) == NULL)
			continue;
		current_failures = 0;
		tests[i].fn();
		if (current_failures == 0)
		{
			passed++;
			printf("ok   %s\n", tests[i].name);
		}
		else
		{
			failed++;
			printf("FAIL %s\n", tests[i].name);
		}
	}
	printf("core: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
