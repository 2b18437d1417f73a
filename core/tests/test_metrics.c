/*
 * Tests for metrics.c: small cases computed by hand, errors, and the scikit-learn fixture
 * tests/fixtures/metrics.json (written by tools/fixtures/make_metrics_fixtures.py).
 */
#include "test.h"

#include <float.h>
#include <stdlib.h>

#include "pgml/json.h"
#include "pgml/learn.h"

#define FIXTURE "tests/fixtures/metrics.json"

/* Relative tolerance against sklearn: sums over float inputs get a looser one. */
#define TOL 1e-6
#define TOL_SUM 1e-5

/* ---------------------------------------------------------------------------------------------------
 * By hand
 * ------------------------------------------------------------------------------------------------- */

TEST(metrics_regression_by_hand)
{
	float		yt[] = {1, 2, 3};
	float		yp[] = {1, 2, 4};
	/* two targets, row-major: target 0 as above, target 1 constant and predicted perfectly */
	float		yt2[] = {1, 5, 2, 5, 3, 5};
	float		yp2[] = {1, 5, 2, 5, 4, 5};
	pgml_regression_metrics m;
	pgml_err	err;

	CHECK_INT(pgml_metrics_regression(yt, yp, 3, 1, &m, &err), PGML_OK);
	CHECK_NEAR(m.mean_squared_error, 1.0 / 3, 1e-15);
	CHECK_NEAR(m.mean_absolute_error, 1.0 / 3, 1e-15);
	CHECK_NEAR(m.r2, 0.5, 1e-15);
	/* residuals 0, 0, -1: variance 2/9 against 2/3 */
	CHECK_NEAR(m.explained_variance, 2.0 / 3, 1e-15);

	CHECK_INT(pgml_metrics_regression(yt2, yp2, 3, 2, &m, &err), PGML_OK);
	CHECK_NEAR(m.mean_squared_error, 1.0 / 6, 1e-15);
	CHECK_NEAR(m.mean_absolute_error, 1.0 / 6, 1e-15);
	CHECK_NEAR(m.r2, 0.75, 1e-15);
	CHECK_NEAR(m.explained_variance, 5.0 / 6, 1e-15);
}

TEST(metrics_regression_constant_y_true)
{
	float		yt[] = {2, 2, 2};
	float		perfect[] = {2, 2, 2};
	float		off[] = {2, 2, 3};
	float		shifted[] = {3, 3, 3};
	/* residuals 1e9 - 0.3f need all 53 bits; their computed mean misses them by an ulp */
	float		big[] = {1e9f, 1e9f, 1e9f};
	float		small[] = {0.3f, 0.3f, 0.3f};
	pgml_regression_metrics m;
	pgml_err	err;

	CHECK_INT(pgml_metrics_regression(yt, perfect, 3, 1, &m, &err), PGML_OK);
	CHECK_NEAR(m.r2, 1, 0);
	CHECK_NEAR(m.explained_variance, 1, 0);
	CHECK_NEAR(m.mean_squared_error, 0, 0);
	CHECK_INT(pgml_metrics_regression(yt, off, 3, 1, &m, &err), PGML_OK);
	CHECK_NEAR(m.r2, 0, 0);
	CHECK_NEAR(m.explained_variance, 0, 0);
	/* a constant offset: r2 0, explained variance 1 (it ignores offsets) */
	CHECK_INT(pgml_metrics_regression(yt, shifted, 3, 1, &m, &err), PGML_OK);
	CHECK_NEAR(m.r2, 0, 0);
	CHECK_NEAR(m.explained_variance, 1, 0);
	/* a constant offset still: explained variance 1 (sklearn 1.2 gets 0 here from rounding noise) */
	CHECK_INT(pgml_metrics_regression(big, small, 3, 1, &m, &err), PGML_OK);
	CHECK_NEAR(m.r2, 0, 0);
	CHECK_NEAR(m.explained_variance, 1, 0);
}

TEST(metrics_regression_one_sample)
{
	float		yt[] = {2.5f, 1};
	float		yp[] = {1, 1};
	pgml_regression_metrics m;
	pgml_err	err;

	CHECK_INT(pgml_metrics_regression(yt, yp, 1, 2, &m, &err), PGML_OK);
	CHECK(isnan(m.r2));
	CHECK_NEAR(m.mean_squared_error, 2.25 / 2, 0);
	CHECK_NEAR(m.mean_absolute_error, 1.5 / 2, 0);
	CHECK_NEAR(m.explained_variance, 1, 0);
}

TEST(metrics_regression_errors)
{
	float		yt[] = {1, 2, 3};
	float		bad[] = {1, NAN, 3};
	float		inf[] = {1, 2, -INFINITY};
	pgml_regression_metrics m;
	pgml_err	err;

	CHECK_INT(pgml_metrics_regression(yt, yt, 0, 1, &m, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "cannot compute regression metrics of zero samples");
	CHECK_INT(pgml_metrics_regression(yt, yt, 3, 0, &m, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "cannot compute regression metrics of zero targets");
	CHECK_INT(pgml_metrics_regression(yt, yt, 3, 1, NULL, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_metrics_regression(NULL, yt, 3, 1, &m, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_metrics_regression(yt, bad, 3, 1, &m, &err), PGML_ERR_DATA);
	CHECK_STR(err.msg, "y_pred contains NaN");
	CHECK_STR(err.detail, "Value 2 of y_pred is not a finite number.");
	CHECK_INT(pgml_metrics_regression(inf, yt, 3, 1, &m, &err), PGML_ERR_DATA);
	CHECK_STR(err.msg, "y_true contains infinity");
	CHECK_INT(pgml_metrics_regression(yt, yt, SIZE_MAX / 2, 3, &m, &err), PGML_ERR_LIMIT);
	/* err may be NULL */
	CHECK_INT(pgml_metrics_regression(yt, yt, 0, 1, &m, NULL), PGML_ERR_INVALID_ARGUMENT);
}

TEST(metrics_classification_binary_by_hand)
{
	int			yt[] = {0, 1, 1, 0};
	int			yp[] = {0, 1, 0, 0};
	float		proba[] = {0.8f, 0.2f, 0.3f, 0.7f, 0.6f, 0.4f, 0.6f, 0.4f};
	double		ll;
	pgml_classification_metrics m;
	pgml_err	err;

	CHECK_INT(pgml_metrics_classification(yt, yp, proba, 4, 2, &m, &err), PGML_OK);
	CHECK_NEAR(m.precision, 1, 1e-15);
	CHECK_NEAR(m.recall, 0.5, 1e-15);
	CHECK_NEAR(m.f1, 2.0 / 3, 1e-15);
	CHECK_NEAR(m.accuracy, 0.75, 1e-15);
	/* confusion [[2, 0], [1, 1]]: (3·4 - 8) / sqrt((16 - 8)(16 - 10)) */
	CHECK_NEAR(m.mcc, 4 / sqrt(48), 1e-15);
	/* positives score 0.7, 0.4; negatives 0.2, 0.4: 3 pairs ordered, 1 tie counting half */
	CHECK_NEAR(m.roc_auc, 3.5 / 4, 1e-15);
	ll = -(log(0.8) + log(0.7) + log(0.4) + log(0.6)) / 4;
	CHECK_NEAR(m.log_loss, ll, 1e-7);

	/* without probabilities */
	CHECK_INT(pgml_metrics_classification(yt, yp, NULL, 4, 2, &m, &err), PGML_OK);
	CHECK(isnan(m.roc_auc));
	CHECK(isnan(m.log_loss));
	CHECK_NEAR(m.f1, 2.0 / 3, 1e-15);
}

TEST(metrics_classification_binary_edges)
{
	int			zeros[] = {0, 0, 0};
	int			ones[] = {1, 1, 1};
	int			mixed[] = {0, 1, 1};
	/* certain and wrong: clipped to float32 epsilon */
	float		proba[] = {0, 1, 1, 0, 1, 0};
	pgml_classification_metrics m;
	pgml_err	err;

	/* nothing positive anywhere: every ratio is 0 / 0 = 0; mcc 0; roc_auc undefined */
	CHECK_INT(pgml_metrics_classification(zeros, zeros, proba, 3, 2, &m, &err), PGML_OK);
	CHECK_NEAR(m.precision, 0, 0);
	CHECK_NEAR(m.recall, 0, 0);
	CHECK_NEAR(m.f1, 0, 0);
	CHECK_NEAR(m.accuracy, 1, 0);
	CHECK_NEAR(m.mcc, 0, 0);
	CHECK(isnan(m.roc_auc));
	/* one row certain and wrong, two certain and right: 1 is clipped to 1 - eps too */
	CHECK_NEAR(m.log_loss, (-log(FLT_EPSILON) - 2 * log1p(-FLT_EPSILON)) / 3, 1e-14);
	/* all positive and right */
	CHECK_INT(pgml_metrics_classification(ones, ones, NULL, 3, 2, &m, &err), PGML_OK);
	CHECK_NEAR(m.f1, 1, 0);
	CHECK_NEAR(m.mcc, 0, 0);
	/* everything predicted positive */
	CHECK_INT(pgml_metrics_classification(mixed, ones, proba, 3, 2, &m, &err), PGML_OK);
	CHECK_NEAR(m.precision, 2.0 / 3, 1e-15);
	CHECK_NEAR(m.recall, 1, 0);
	CHECK_NEAR(m.f1, 0.8, 1e-15);
	CHECK_NEAR(m.mcc, 0, 0);
	/* scores 1, 0, 0 for classes 0, 1, 1: every pair misordered */
	CHECK_NEAR(m.roc_auc, 0, 0);
}

TEST(metrics_classification_multiclass_by_hand)
{
	int			yt[] = {0, 1, 2, 2};
	int			yp[] = {0, 2, 2, 1};
	float		proba[12] = {0};
	pgml_classification_metrics m;
	pgml_err	err;

	/* per class (P, R): (1, 1), (0, 0), (1/2, 1/2) */
	CHECK_INT(pgml_metrics_classification(yt, yp, proba, 4, 3, &m, &err), PGML_OK);
	CHECK_NEAR(m.precision, 0.5, 1e-15);
	CHECK_NEAR(m.recall, 0.5, 1e-15);
	CHECK_NEAR(m.f1, 0.5, 1e-15);
	CHECK_NEAR(m.accuracy, 0.5, 0);
	/* (2·4 - 6) / sqrt((16 - 6)(16 - 6)) */
	CHECK_NEAR(m.mcc, 0.2, 1e-15);
	CHECK(isnan(m.roc_auc));
	CHECK(isnan(m.log_loss));
	/* a class in neither y_true nor y_pred is left out of the macro average */
	CHECK_INT(pgml_metrics_classification(yt, yp, NULL, 4, 6, &m, &err), PGML_OK);
	CHECK_NEAR(m.precision, 0.5, 1e-15);
	CHECK_NEAR(m.f1, 0.5, 1e-15);
	CHECK_NEAR(m.mcc, 0.2, 1e-15);
}

TEST(metrics_classification_errors)
{
	int			yt[] = {0, 1, 2};
	int			yp[] = {0, 1, -1};
	int			ok[] = {0, 1, 1};
	float		proba[] = {0.5f, 0.5f, NAN, 1, 0, 1};
	pgml_classification_metrics m;
	pgml_err	err;

	CHECK_INT(pgml_metrics_classification(ok, ok, NULL, 0, 2, &m, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "cannot compute classification metrics of zero samples");
	CHECK_INT(pgml_metrics_classification(ok, ok, NULL, 3, 1, &m, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "classification metrics need at least 2 classes");
	CHECK_STR(err.detail, "n_classes is 1.");
	CHECK_INT(pgml_metrics_classification(yt, ok, NULL, 3, 2, &m, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "class index 2 out of range");
	CHECK_STR(err.detail, "Value 3 of y_true is 2, but class indices go from 0 to 1.");
	CHECK_INT(pgml_metrics_classification(ok, yp, NULL, 3, 3, &m, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "class index -1 out of range");
	CHECK_STR(err.detail, "Value 3 of y_pred is -1, but class indices go from 0 to 2.");
	CHECK_INT(pgml_metrics_classification(ok, ok, proba, 3, 2, &m, &err), PGML_ERR_DATA);
	CHECK_STR(err.msg, "proba contains NaN");
	/* unused probabilities are not checked */
	CHECK_INT(pgml_metrics_classification(ok, ok, proba, 2, 3, &m, &err), PGML_OK);
	CHECK_INT(pgml_metrics_classification(ok, NULL, NULL, 3, 2, &m, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_metrics_classification(ok, ok, NULL, 3, 2, NULL, &err), PGML_ERR_INVALID_ARGUMENT);
}

TEST(metrics_silhouette_by_hand)
{
	float		x[] = {0, 1, 10, 11};
	int			two[] = {0, 0, 1, 1};
	int			single[] = {5, 5, 9};
	float		same[] = {3, 3, 3, 3};
	/* 2-D: (0,0) (3,4) | (0,8): distances 5, 8, sqrt(9 + 16) = 5 */
	float		xy[] = {0, 0, 3, 4, 0, 8};
	double		s;
	pgml_err	err;

	CHECK_INT(pgml_metrics_silhouette(x, 4, 1, two, &s, &err), PGML_OK);
	CHECK_NEAR(s, (9.5 / 10.5 + 8.5 / 9.5) / 2, 1e-15);
	/* the singleton counts as 0 in the mean */
	CHECK_INT(pgml_metrics_silhouette(x, 3, 1, single, &s, &err), PGML_OK);
	CHECK_NEAR(s, (0.9 + 8.0 / 9) / 3, 1e-15);
	/* a = b = 0: 0 */
	CHECK_INT(pgml_metrics_silhouette(same, 4, 1, two, &s, &err), PGML_OK);
	CHECK_NEAR(s, 0, 0);
	/* (0,0): a 5, b 8 → 3/8; (3,4): a 5, b 5 → 0 */
	CHECK_INT(pgml_metrics_silhouette(xy, 3, 2, single, &s, &err), PGML_OK);
	CHECK_NEAR(s, 3.0 / 8 / 3, 1e-15);
}

static bool
always_stop(void *state)
{
	(void) state;
	return true;
}

TEST(metrics_silhouette_errors)
{
	float		x[] = {0, 1, 10, 11};
	float		bad[] = {0, 1, INFINITY, 11};
	int			one[] = {3, 3, 3, 3};
	int			all[] = {0, 1, 2, 3};
	int			two[] = {0, 0, 1, 1};
	double		s = 42;
	pgml_err	err;

	CHECK_INT(pgml_metrics_silhouette(x, 4, 1, one, &s, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "number of labels is 1");
	CHECK_STR(err.detail, "The silhouette score needs 2 to n - 1 = 3 distinct labels.");
	CHECK_INT(pgml_metrics_silhouette(x, 4, 1, all, &s, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "number of labels is 4");
	CHECK_INT(pgml_metrics_silhouette(x, 2, 1, all, &s, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "number of labels is 2");
	CHECK(strstr(err.detail, "at least 3 samples") != NULL);
	CHECK_INT(pgml_metrics_silhouette(x, 0, 1, all, &s, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "cannot compute clustering metrics of zero samples");
	CHECK_INT(pgml_metrics_silhouette(x, 4, 0, two, &s, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_metrics_silhouette(bad, 4, 1, two, &s, &err), PGML_ERR_DATA);
	CHECK_STR(err.msg, "x contains infinity");
	CHECK_INT(pgml_metrics_silhouette(x, 4, 1, NULL, &s, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_metrics_silhouette(x, SIZE_MAX / 2, 4, two, &s, &err), PGML_ERR_LIMIT);
	CHECK_NEAR(s, 42, 0);		/* untouched on error */

	pgml_set_should_stop(always_stop, NULL);
	CHECK_INT(pgml_metrics_silhouette(x, 4, 1, two, &s, &err), PGML_ERR_CANCELLED);
	pgml_set_should_stop(NULL, NULL);
	CHECK_NEAR(s, 42, 0);
}

/* An allocator that fails the allocation numbered fail_at (from 0) and counts the live blocks. */
typedef struct failing
{
	int			calls;
	int			fail_at;
	int			live;
} failing;

static void *
failing_alloc(size_t size, void *state)
{
	failing    *f = state;

	if (f->calls++ == f->fail_at)
		return NULL;
	f->live++;
	return malloc(size ? size : 1);
}

static void *
failing_realloc(void *ptr, size_t size, void *state)
{
	(void) state;
	return realloc(ptr, size ? size : 1);
}

static void
failing_free(void *ptr, void *state)
{
	failing    *f = state;

	if (ptr != NULL)
		f->live--;
	free(ptr);
}

TEST(metrics_out_of_memory_leaks_nothing)
{
	float		x[] = {0, 1, 10, 11};
	int			two[] = {0, 0, 1, 1};
	float		proba[] = {0.8f, 0.2f, 0.3f, 0.7f, 0.6f, 0.4f, 0.6f, 0.4f};
	int			yt[] = {0, 1, 1, 0};
	double		s;
	pgml_classification_metrics m;
	pgml_err	err;

	for (int fail_at = 0; fail_at < 8; fail_at++)
	{
		failing		f = {0, fail_at, 0};
		pgml_allocator a = {failing_alloc, failing_realloc, failing_free, &f};
		pgml_status st1,
					st2;

		pgml_set_allocator(&a);
		st1 = pgml_metrics_silhouette(x, 4, 1, two, &s, &err);
		f.calls = 0;
		st2 = pgml_metrics_classification(yt, yt, proba, 4, 2, &m, &err);
		pgml_set_allocator(NULL);
		CHECK(st1 == PGML_OK || st1 == PGML_ERR_OUT_OF_MEMORY);
		CHECK(st2 == PGML_OK || st2 == PGML_ERR_OUT_OF_MEMORY);
		if (fail_at == 0)
			CHECK_INT(st1, PGML_ERR_OUT_OF_MEMORY);
		CHECK_INT(f.live, 0);
	}
}

/* ---------------------------------------------------------------------------------------------------
 * Against scikit-learn
 * ------------------------------------------------------------------------------------------------- */

/* The n numbers of a JSON array as floats (NULL on a type or length mismatch). Free with free(). */
static float *
json_floats(const json_t *a, size_t n)
{
	float	   *v;

	if (!json_is_array(a) || json_array_size(a) != n)
		return NULL;
	v = malloc((n ? n : 1) * sizeof(float));
	for (size_t i = 0; v && i < n; i++)
		v[i] = (float) json_number_value(json_array_get(a, i));
	return v;
}

static int *
json_ints(const json_t *a, size_t n)
{
	int		   *v;

	if (!json_is_array(a) || json_array_size(a) != n)
		return NULL;
	v = malloc((n ? n : 1) * sizeof(int));
	for (size_t i = 0; v && i < n; i++)
		v[i] = (int) json_integer_value(json_array_get(a, i));
	return v;
}

/* Compares a metric with the fixture's value: null stands for NaN. */
static void
check_expected(const char *section, const char *name, const char *metric, double got,
			   const json_t *expected, double tol)
{
	const json_t *e = json_object_get(expected, metric);
	double		want;

	if (e == NULL)
	{
		test_fail(__FILE__, __LINE__, "%s \"%s\": no expected %s", section, name, metric);
		return;
	}
	if (json_is_null(e))
	{
		if (!isnan(got))
			test_fail(__FILE__, __LINE__, "%s \"%s\": %s == %.17g, expected NaN", section, name, metric, got);
		return;
	}
	want = json_number_value(e);
	if (!(fabs(got - want) <= tol * (fabs(want) > 1.0 ? fabs(want) : 1.0)))
		test_fail(__FILE__, __LINE__, "%s \"%s\": %s == %.17g, expected %.17g (tolerance %g)",
				  section, name, metric, got, want, tol);
}

static json_t *
load_fixture(void)
{
	json_t	   *root = NULL;
	pgml_err	err;

	if (pgml_json_load_file(FIXTURE, 1 << 20, &root, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "cannot load %s: %s (run the tests from core/)", FIXTURE, err.msg);
		return NULL;
	}
	return root;
}

TEST(metrics_regression_matches_sklearn)
{
	json_t	   *root = load_fixture();
	json_t	   *cases;
	size_t		i;
	json_t	   *c;

	REQUIRE(root != NULL);
	cases = json_object_get(root, "regression");
	CHECK(json_array_size(cases) >= 5);
	json_array_foreach(cases, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		size_t		n = (size_t) json_integer_value(json_object_get(c, "n"));
		size_t		nt = (size_t) json_integer_value(json_object_get(c, "n_targets"));
		float	   *yt = json_floats(json_object_get(c, "y_true"), n * nt);
		float	   *yp = json_floats(json_object_get(c, "y_pred"), n * nt);
		json_t	   *exp = json_object_get(c, "expected");
		pgml_regression_metrics m;
		pgml_err	err;

		if (yt == NULL || yp == NULL)
			test_fail(__FILE__, __LINE__, "regression \"%s\": bad arrays", name);
		else if (pgml_metrics_regression(yt, yp, n, nt, &m, &err) != PGML_OK)
			test_fail(__FILE__, __LINE__, "regression \"%s\": %s", name, err.msg);
		else
		{
			check_expected("regression", name, "r2", m.r2, exp, TOL);
			check_expected("regression", name, "mean_squared_error", m.mean_squared_error, exp, TOL);
			check_expected("regression", name, "mean_absolute_error", m.mean_absolute_error, exp, TOL);
			check_expected("regression", name, "explained_variance", m.explained_variance, exp, TOL);
		}
		free(yt);
		free(yp);
	}
	json_decref(root);
}

TEST(metrics_classification_matches_sklearn)
{
	json_t	   *root = load_fixture();
	json_t	   *cases;
	size_t		i;
	json_t	   *c;

	REQUIRE(root != NULL);
	cases = json_object_get(root, "classification");
	CHECK(json_array_size(cases) >= 10);
	json_array_foreach(cases, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		int			k = (int) json_integer_value(json_object_get(c, "n_classes"));
		json_t	   *jt = json_object_get(c, "y_true");
		size_t		n = json_array_size(jt);
		int		   *yt = json_ints(jt, n);
		int		   *yp = json_ints(json_object_get(c, "y_pred"), n);
		json_t	   *jp = json_object_get(c, "proba");
		float	   *proba = json_is_null(jp) ? NULL : json_floats(jp, n * (size_t) k);
		json_t	   *exp = json_object_get(c, "expected");
		pgml_classification_metrics m;
		pgml_err	err;

		if (yt == NULL || yp == NULL || (!json_is_null(jp) && proba == NULL))
			test_fail(__FILE__, __LINE__, "classification \"%s\": bad arrays", name);
		else if (pgml_metrics_classification(yt, yp, proba, n, k, &m, &err) != PGML_OK)
			test_fail(__FILE__, __LINE__, "classification \"%s\": %s", name, err.msg);
		else
		{
			check_expected("classification", name, "f1", m.f1, exp, TOL);
			check_expected("classification", name, "precision", m.precision, exp, TOL);
			check_expected("classification", name, "recall", m.recall, exp, TOL);
			check_expected("classification", name, "accuracy", m.accuracy, exp, TOL);
			check_expected("classification", name, "mcc", m.mcc, exp, TOL);
			check_expected("classification", name, "roc_auc", m.roc_auc, exp, TOL);
			/* sklearn computed it in float32 (the dtype of the probabilities) */
			check_expected("classification", name, "log_loss", m.log_loss, exp, TOL_SUM);
		}
		free(yt);
		free(yp);
		free(proba);
	}
	json_decref(root);
}

TEST(metrics_silhouette_matches_sklearn)
{
	json_t	   *root = load_fixture();
	json_t	   *cases;
	size_t		i;
	json_t	   *c;

	REQUIRE(root != NULL);
	cases = json_object_get(root, "silhouette");
	CHECK(json_array_size(cases) >= 3);
	json_array_foreach(cases, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		size_t		n = (size_t) json_integer_value(json_object_get(c, "n"));
		size_t		d = (size_t) json_integer_value(json_object_get(c, "n_features"));
		float	   *x = json_floats(json_object_get(c, "x"), n * d);
		int		   *labels = json_ints(json_object_get(c, "labels"), n);
		double		s;
		pgml_err	err;

		if (x == NULL || labels == NULL)
			test_fail(__FILE__, __LINE__, "silhouette \"%s\": bad arrays", name);
		else if (pgml_metrics_silhouette(x, n, d, labels, &s, &err) != PGML_OK)
			test_fail(__FILE__, __LINE__, "silhouette \"%s\": %s", name, err.msg);
		else
		{
			json_t	   *exp = json_pack("{s:O}", "silhouette", json_object_get(c, "expected"));

			check_expected("silhouette", name, "silhouette", s, exp, TOL);
			json_decref(exp);
		}
		free(x);
		free(labels);
	}
	json_decref(root);
}

/* Above 10,000 rows the clustering score samples rows: close to the full silhouette, and repeatable. */
TEST(clustering_score_samples_the_silhouette_of_large_data)
{
	size_t		n = 12000;
	float	   *x = malloc(n * 2 * sizeof(float));
	int		   *labels = malloc(n * sizeof(int));
	uint64_t	state = 7;
	pgml_data	data;
	pgml_model *model = NULL;
	json_t	   *m1 = NULL;
	json_t	   *m2 = NULL;
	json_t	   *hp;
	double		full;
	pgml_err	err;

	REQUIRE(x != NULL && labels != NULL);
	for (size_t i = 0; i < n; i++)
	{
		int			c = (int) (i % 3);

		state = state * 6364136223846793005ULL + 1442695040888963407ULL;
		x[i * 2] = (float) (c * 4) + (float) ((state >> 33) % 1000) / 1000.0f;
		state = state * 6364136223846793005ULL + 1442695040888963407ULL;
		x[i * 2 + 1] = (float) ((state >> 33) % 1000) / 1000.0f;
		labels[i] = c;
	}
	memset(&data, 0, sizeof(data));
	data.x = x;
	data.n_rows = n;
	data.n_features = 2;
	hp = json_pack("{s:i, s:i}", "n_clusters", 3, "random_state", 0);
	REQUIRE(pgml_model_fit("kmeans", PGML_TASK_CLUSTERING, hp, &data, 0, NULL, &model, &err) == PGML_OK);
	REQUIRE(pgml_model_score(model, &data, &m1, &err) == PGML_OK);
	REQUIRE(pgml_model_score(model, &data, &m2, &err) == PGML_OK);
	REQUIRE(pgml_metrics_silhouette(x, n, 2, labels, &full, &err) == PGML_OK);
	CHECK_NEAR(json_number_value(json_object_get(m1, "silhouette")), full, 0.01);
	CHECK(json_number_value(json_object_get(m1, "silhouette")) == json_number_value(json_object_get(m2, "silhouette")));
	CHECK(json_number_value(json_object_get(m1, "silhouette")) != full);	/* it did sample */
	json_decref(m1);
	json_decref(m2);
	json_decref(hp);
	pgml_model_free(model);
	free(x);
	free(labels);
}
