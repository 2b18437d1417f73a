/* Tests for status.c and alloc.c: errors, the allocator hook, the log and stop hooks. */
#include "test.h"

#include <pthread.h>
#include <stdlib.h>

#include "pgml/pgml.h"

TEST(err_records_message_and_sqlstate)
{
	pgml_err	err;
	pgml_status rc;

	pgml_err_clear(&err);
	CHECK_INT(err.code, PGML_OK);
	rc = pgml_error(&err, PGML_ERR_DATA, "bad value %d", 42);
	CHECK_INT(rc, PGML_ERR_DATA);
	CHECK_STR(err.msg, "bad value 42");
	CHECK_STR(pgml_err_get_sqlstate(&err), "22000");
	pgml_err_detail(&err, "It was %s.", "wrong");
	pgml_err_hint(&err, "Try %d.", 7);
	CHECK_STR(err.detail, "It was wrong.");
	CHECK_STR(err.hint, "Try 7.");
	pgml_err_sqlstate(&err, "22012");
	CHECK_STR(pgml_err_get_sqlstate(&err), "22012");
	/* a new error clears detail, hint and sqlstate */
	pgml_error(&err, PGML_ERR_NOT_FOUND, "missing");
	CHECK_STR(err.detail, "");
	CHECK_STR(err.hint, "");
	CHECK_STR(pgml_err_get_sqlstate(&err), "42704");
	/* a malformed sqlstate is ignored */
	pgml_err_sqlstate(&err, "123");
	CHECK_STR(pgml_err_get_sqlstate(&err), "42704");
}

TEST(err_null_is_allowed)
{
	CHECK_INT(pgml_error(NULL, PGML_ERR_IO, "x"), PGML_ERR_IO);
	pgml_err_detail(NULL, "x");
	pgml_err_hint(NULL, "x");
	pgml_err_sqlstate(NULL, "22000");
	pgml_err_clear(NULL);
	CHECK_STR(pgml_err_get_sqlstate(NULL), "XX000");
}

TEST(err_message_is_truncated_not_overflowed)
{
	pgml_err	err;
	char		big[4096];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pgml_error(&err, PGML_ERR_DATA, "%s", big);
	CHECK_INT(strlen(err.msg), PGML_ERR_MSG_LEN - 1);
	pgml_err_detail(&err, "%s", big);
	CHECK_INT(strlen(err.detail), PGML_ERR_DETAIL_LEN - 1);
}

TEST(status_sqlstates_are_distinct_and_well_formed)
{
	for (int a = PGML_OK; a <= PGML_ERR_INTERNAL; a++)
	{
		CHECK_INT(strlen(pgml_status_sqlstate((pgml_status) a)), 5);
		CHECK(strcmp(pgml_status_name((pgml_status) a), "unknown error") != 0);
		for (int b = a + 1; b <= PGML_ERR_INTERNAL; b++)
			CHECK(strcmp(pgml_status_sqlstate((pgml_status) a), pgml_status_sqlstate((pgml_status) b)) != 0);
	}
	CHECK_STR(pgml_status_sqlstate(PGML_ERR_CANCELLED), "57014");
	CHECK_STR(pgml_status_sqlstate((pgml_status) 999), "XX000");
	CHECK_STR(pgml_status_name((pgml_status) 999), "unknown error");
}

typedef struct counting
{
	int			allocs;
	int			reallocs;
	int			frees;
	int			fail_next;
} counting;

static void *
count_alloc(size_t size, void *state)
{
	counting   *c = state;

	if (c->fail_next)
	{
		c->fail_next = 0;
		return NULL;
	}
	c->allocs++;
	return malloc(size ? size : 1);
}

static void *
count_realloc(void *ptr, size_t size, void *state)
{
	counting   *c = state;

	c->reallocs++;
	return realloc(ptr, size ? size : 1);
}

static void
count_free(void *ptr, void *state)
{
	counting   *c = state;

	c->frees++;
	free(ptr);
}

TEST(allocator_hook_routes_every_allocation)
{
	counting	c = {0};
	pgml_allocator a = {count_alloc, count_realloc, count_free, &c};
	char	   *s;
	int		   *z;

	pgml_set_allocator(&a);
	s = pgml_strdup("hello");
	CHECK_STR(s, "hello");
	s = pgml_realloc(s, 100);
	z = pgml_calloc(10, sizeof(int));
	REQUIRE(z != NULL);
	for (int i = 0; i < 10; i++)
		CHECK_INT(z[i], 0);
	pgml_free(z);
	pgml_free(s);
	pgml_free(NULL);
	CHECK_INT(c.allocs, 2);
	CHECK_INT(c.reallocs, 1);
	CHECK_INT(c.frees, 2);

	c.fail_next = 1;
	CHECK(pgml_malloc(16) == NULL);
	/* calloc overflow never reaches the hook */
	CHECK(pgml_calloc(SIZE_MAX / 2, 4) == NULL);
	CHECK_INT(c.allocs, 2);

	s = pgml_asprintf("%d-%s", 5, "x");
	CHECK_STR(s, "5-x");
	pgml_free(s);
	s = pgml_strndup("abcdef", 3);
	CHECK_STR(s, "abc");
	pgml_free(s);
	CHECK_INT(c.allocs, c.frees);
	pgml_set_allocator(NULL);
}

typedef struct log_capture
{
	int			count;
	pgml_log_level last_level;
	char		last[128];
} log_capture;

static void
capture_log(pgml_log_level level, const char *msg, void *state)
{
	log_capture *lc = state;

	lc->count++;
	lc->last_level = level;
	snprintf(lc->last, sizeof(lc->last), "%s", msg);
}

TEST(log_hook_receives_formatted_messages)
{
	log_capture lc = {0};

	pgml_log(PGML_LOG_INFO, "dropped %d", 1);	/* no hook: nothing happens */
	pgml_set_log_hook(capture_log, &lc);
	pgml_log(PGML_LOG_NOTICE, "epoch %d of %d", 3, 10);
	CHECK_INT(lc.count, 1);
	CHECK_INT(lc.last_level, PGML_LOG_NOTICE);
	CHECK_STR(lc.last, "epoch 3 of 10");
	pgml_set_log_hook(NULL, NULL);
	pgml_log(PGML_LOG_NOTICE, "again");
	CHECK_INT(lc.count, 1);
}

static bool
stop_when_set(void *state)
{
	return *(int *) state != 0;
}

TEST(stop_hook_cancels)
{
	int			flag = 0;
	pgml_err	err;

	CHECK(!pgml_should_stop());
	pgml_set_should_stop(stop_when_set, &flag);
	CHECK(!pgml_should_stop());
	CHECK_INT(pgml_check_stop(&err), PGML_OK);
	flag = 1;
	CHECK(pgml_should_stop());
	CHECK_INT(pgml_check_stop(&err), PGML_ERR_CANCELLED);
	CHECK_STR(pgml_err_get_sqlstate(&err), "57014");
	pgml_set_should_stop(NULL, NULL);
	CHECK(!pgml_should_stop());
}

static void *
poll_stop_thread(void *arg)
{
	(void) arg;
	pgml_progress_tick();		/* another thread: no progress state, nothing logged */
	(void) pgml_should_stop();
	return NULL;
}

TEST(progress_notices_come_from_the_polling_loop)
{
	log_capture lc = {0};
	pthread_t	th;

	pgml_set_log_hook(capture_log, &lc);
	pgml_progress_set_interval(0);
	(void) pgml_should_stop();	/* nothing begun: silent */
	CHECK_INT(lc.count, 0);

	pgml_progress_begin("training xgboost on 100 rows");
	(void) pgml_should_stop();
	CHECK_INT(lc.count, 1);
	CHECK_INT(lc.last_level, PGML_LOG_NOTICE);
	CHECK(strncmp(lc.last, "training xgboost on 100 rows: ", 30) == 0);
	CHECK(strstr(lc.last, "s elapsed") != NULL);

	pgml_progress_step(7, 100, "round");
	CHECK_INT(lc.count, 2);
	CHECK(strstr(lc.last, "round 7 of 100") != NULL);

	REQUIRE(pthread_create(&th, NULL, poll_stop_thread, NULL) == 0);
	pthread_join(th, NULL);
	CHECK_INT(lc.count, 2);

	CHECK(pgml_progress_end() >= 0);
	(void) pgml_should_stop();
	pgml_progress_step(8, 100, "round");
	CHECK_INT(lc.count, 2);

	/* rate limit: with the default interval, a fresh begin logs nothing right away */
	pgml_progress_set_interval(5);
	pgml_progress_begin("quick");
	(void) pgml_should_stop();
	CHECK_INT(lc.count, 2);
	pgml_progress_end();
	pgml_set_log_hook(NULL, NULL);
}

TEST(version_is_set)
{
	CHECK_STR(pgml_version(), PGML_VERSION);
}
