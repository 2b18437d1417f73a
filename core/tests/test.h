/*
 * test.h — the core unit-test harness.
 *
 *   TEST(arena_grows) { ... CHECK(x == 1); CHECK_NEAR(a, b, 1e-6); ... }
 *
 * Tests register themselves at load time; test_main.c runs them (all, or those whose name contains the
 * first argument), prints one line per test and a final "N passed, N failed" line.
 */
#ifndef PGML_TEST_H
#define PGML_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn) (void);

void		test_register(const char *name, test_fn fn);
void		test_fail(const char *file, int line, const char *fmt,...) __attribute__((format(printf, 3, 4)));
int			test_failed_now(void);

#define TEST(name) \
	static void test_##name(void); \
	__attribute__((constructor)) static void register_##name(void) { test_register(#name, test_##name); } \
	static void test_##name(void)

#define CHECK(cond) \
	do { if (!(cond)) test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); } while (0)

#define CHECK_INT(a, b) \
	do { long long a_ = (long long) (a), b_ = (long long) (b); \
		if (a_ != b_) test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, a_, #b, b_); } while (0)

#define CHECK_STR(a, b) \
	do { const char *a_ = (a), *b_ = (b); \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) \
			test_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } while (0)

/* |a - b| <= tol * max(1, |b|): absolute near zero, relative elsewhere. */
#define CHECK_NEAR(a, b, tol) \
	do { double a_ = (double) (a), b_ = (double) (b); \
		double lim_ = (tol) * (fabs(b_) > 1.0 ? fabs(b_) : 1.0); \
		if (!(fabs(a_ - b_) <= lim_)) \
			test_fail(__FILE__, __LINE__, "%s == %.17g, expected %.17g (tolerance %g)", #a, a_, b_, (double) (tol)); } while (0)

/* Stops the current test when a check has failed (for checks later code depends on). */
#define REQUIRE(cond) \
	do { if (!(cond)) { test_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond); return; } } while (0)

#endif							/* PGML_TEST_H */
