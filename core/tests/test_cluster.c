/*
 * Tests for learn/cluster.c: KMeans, MiniBatchKMeans and PCA against scikit-learn 1.2.1's results in
 * tests/fixtures/cluster.json (written by tools/fixtures/make_cluster_fixtures.py), plus save/load,
 * corrupt states, hyperparameter errors, cancellation and thread-pool determinism.
 */
#include "test.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "pgml/buf.h"
#include "pgml/json.h"
#include "pgml/learn.h"
#include "pgml/pool.h"

#include "../src/learn/cluster_algorithms.h"
#include "fixture.h"

#define FIXTURE "cluster.json"	/* in tests/fixtures */

/* ---------------------------------------------------------------------------------------------------
 * Fixture and helpers
 * ------------------------------------------------------------------------------------------------- */

/* The data a fixture case was fitted on ("digits_wide" is the first 30 rows of "digits"). */
static dataset
case_data(const json_t *c)
{
	const char *name = json_string_value(json_object_get(c, "data"));
	dataset		ds;

	if (strcmp(name, "digits_wide") == 0)
	{
		ds = fixture_rows(FIXTURE, "digits");
		ds.n = 30;
		return ds;
	}
	return fixture_rows(FIXTURE, name);
}

/* Centers and inertia of a k-means state, read back from its saved form. */
typedef struct kmeans_info
{
	size_t		k;
	size_t		d;
	double	   *centers;
	double		inertia;
	int64_t		n_iter;
} kmeans_info;

static kmeans_info
get_kmeans_info(const pgml_algorithm *a, const void *state)
{
	kmeans_info info;
	size_t		len,
				n;
	uint8_t    *blob = save_state_bytes(a, state, &len);
	pgml_reader r;

	pgml_reader_init(&r, blob, len, "test", NULL);
	(void) pgml_reader_u32(&r);
	(void) pgml_reader_u8(&r);
	info.k = pgml_reader_u64(&r);
	info.d = pgml_reader_u64(&r);
	info.centers = pgml_reader_f64s(&r, SIZE_MAX, SIZE_MAX, &n);
	info.inertia = pgml_reader_f64(&r);
	info.n_iter = pgml_reader_i64(&r);
	free(blob);
	return info;
}

/* Components and ratios of a PCA state, read back from its saved form. */
typedef struct pca_info
{
	size_t		d;
	size_t		c;
	double	   *mean;
	double	   *components;
	double	   *ev;
	double	   *ratio;
} pca_info;

static pca_info
get_pca_info(const void *state)
{
	pca_info	info;
	size_t		len,
				n;
	uint8_t    *blob = save_state_bytes(&pgml_algo_pca, state, &len);
	pgml_reader r;

	pgml_reader_init(&r, blob, len, "test", NULL);
	(void) pgml_reader_u32(&r);
	(void) pgml_reader_u8(&r);
	info.d = pgml_reader_u64(&r);
	info.c = pgml_reader_u64(&r);
	(void) pgml_reader_u64(&r);
	(void) pgml_reader_u8(&r);
	info.mean = pgml_reader_f64s(&r, SIZE_MAX, SIZE_MAX, &n);
	info.components = pgml_reader_f64s(&r, SIZE_MAX, SIZE_MAX, &n);
	info.ev = pgml_reader_f64s(&r, SIZE_MAX, SIZE_MAX, &n);
	info.ratio = pgml_reader_f64s(&r, SIZE_MAX, SIZE_MAX, &n);
	free(blob);
	return info;
}

/* Whether two labelings are the same partition (a bijection between labels). */
static bool
same_partition(const int *a, const json_t *b, size_t n, size_t k)
{
	int		   *ab = malloc(k * sizeof(int));
	int		   *ba = malloc(k * sizeof(int));
	bool		ok = true;

	for (size_t c = 0; c < k; c++)
		ab[c] = ba[c] = -1;
	for (size_t i = 0; i < n && ok; i++)
	{
		int			x = a[i];
		int			y = (int) json_integer_value(json_array_get(b, i));

		if (x < 0 || (size_t) x >= k || y < 0 || (size_t) y >= k)
			ok = false;
		else if (ab[x] == -1 && ba[y] == -1)
		{
			ab[x] = y;
			ba[y] = x;
		}
		else if (ab[x] != y || ba[y] != x)
			ok = false;
	}
	free(ab);
	free(ba);
	return ok;
}

/* A deterministic pseudo-random data set (an LCG; gaussian-ish via sums of uniforms). */
static dataset
make_data(size_t n, size_t d, uint32_t seed)
{
	dataset		ds;
	uint32_t	s = seed;

	ds.n = n;
	ds.d = d;
	ds.x = malloc(n * d * sizeof(float));
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < d; f++)
		{
			float		v = 0;

			for (int t = 0; t < 4; t++)
			{
				s = s * 1664525u + 1013904223u;
				v += (float) (s >> 8) / 16777216.0f;
			}
			ds.x[i * d + f] = v + (float) ((i % 7) * 3);
		}
	return ds;
}

/* ---------------------------------------------------------------------------------------------------
 * KMeans
 * ------------------------------------------------------------------------------------------------- */

TEST(cluster_kmeans_matches_sklearn)
{
	json_t	   *fx = fixture_cached(FIXTURE);
	json_t	   *cases;
	size_t		i;
	json_t	   *c;

	REQUIRE(fx != NULL);
	cases = json_object_get(fx, "kmeans");
	REQUIRE(json_array_size(cases) >= 3);
	json_array_foreach(cases, i, c)
	{
		dataset		ds = case_data(c);
		const json_t *hp = json_object_get(c, "params");
		void	   *st = NULL;
		pgml_err	err;
		kmeans_info info;
		double		expect = json_number_value(json_object_get(c, "inertia"));
		size_t		k = (size_t) json_integer_value(json_object_get(hp, "n_clusters"));

		REQUIRE(ds.x != NULL);
		CHECK_INT(fit_rows(&pgml_algo_kmeans, hp, &ds, 42, NULL, &st, &err), PGML_OK);
		REQUIRE(st != NULL);
		info = get_kmeans_info(&pgml_algo_kmeans, st);
		CHECK_INT(info.k, k);
		CHECK_INT(info.d, ds.d);
		/* within 1% of sklearn's inertia */
		CHECK_NEAR(info.inertia, expect, 0.01);
		if (strcmp(json_string_value(json_object_get(c, "name")), "blobs_k4") == 0)
		{
			/* well-separated blobs: the same partition, hence the same centers */
			int		   *labels = labels_of(&pgml_algo_kmeans, st, &ds);
			const json_t *sk_labels = json_object_get(c, "labels");
			const json_t *sk_centers = json_object_get(c, "centers");

			CHECK(same_partition(labels, sk_labels, ds.n, k));
			CHECK_NEAR(info.inertia, expect, 1e-9);
			for (size_t r = 0; r < ds.n; r++)
			{
				int			sk = (int) json_integer_value(json_array_get(sk_labels, r));

				for (size_t f = 0; f < ds.d; f++)
					CHECK_NEAR(info.centers[(size_t) labels[r] * ds.d + f],
							   json_number_value(json_array_get(json_array_get(sk_centers, (size_t) sk), f)), 1e-9);
			}
			free(labels);
		}
		pgml_free(info.centers);
		pgml_algo_kmeans.free(st);
		free(ds.x);
	}
}

TEST(cluster_kmeans_init_array)
{
	/* starting from sklearn's converged centers: one more Lloyd pass changes nothing */
	json_t	   *fx = fixture_cached(FIXTURE);
	json_t	   *c;
	json_t	   *hp;
	dataset		ds;
	void	   *st = NULL;
	pgml_err	err;
	kmeans_info info;
	json_t	   *params;

	REQUIRE(fx != NULL);
	c = json_array_get(json_object_get(fx, "kmeans"), 1);	/* digits_k10 */
	ds = case_data(c);
	hp = json_pack("{s:i, s:O}", "n_clusters", 10, "init", json_object_get(c, "centers"));
	CHECK_INT(fit_rows(&pgml_algo_kmeans, hp, &ds, 0, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	info = get_kmeans_info(&pgml_algo_kmeans, st);
	CHECK_NEAR(info.inertia, json_number_value(json_object_get(c, "inertia")), 1e-9);
	CHECK_INT(info.n_iter, 1);
	params = pgml_algo_kmeans.params(st);
	CHECK_INT(json_integer_value(json_object_get(params, "n_init")), 1);
	{
		const json_t *init = json_object_get(params, "init");
		const json_t *sk = json_object_get(c, "centers");

		REQUIRE(json_array_size(init) == 10);
		for (size_t i = 0; i < 10; i++)
		{
			REQUIRE(json_array_size(json_array_get(init, i)) == ds.d);
			for (size_t f = 0; f < ds.d; f++)
				CHECK_NEAR(json_number_value(json_array_get(json_array_get(init, i), f)),
						   json_number_value(json_array_get(json_array_get(sk, i), f)), 0);
		}
	}
	json_decref(params);
	pgml_free(info.centers);
	pgml_algo_kmeans.free(st);
	json_decref(hp);
	free(ds.x);
}

TEST(cluster_kmeans_relocates_empty_clusters)
{
	/* a center far from all the data gets no rows: it must take the farthest row */
	float		x[] = {0, 0, 0.1f, 0, 0, 0.1f, 5, 5, 5.1f, 5, 5, 5.2f, 9, 0};
	dataset		ds = {x, 7, 2};
	void	   *st = NULL;
	pgml_err	err;
	int		   *labels;
	bool		seen[3] = {false, false, false};

	CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{\"n_clusters\": 3, \"init\": [[0, 0], [5, 5], [1000, 1000]]}", &ds,
					   0, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	labels = labels_of(&pgml_algo_kmeans, st, &ds);
	for (size_t i = 0; i < ds.n; i++)
		seen[labels[i]] = true;
	CHECK(seen[0] && seen[1] && seen[2]);
	CHECK_INT(labels[6], 2);	/* (9, 0) is the farthest row from its center */
	free(labels);
	pgml_algo_kmeans.free(st);

	/* two empty clusters at once */
	CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{\"n_clusters\": 3, \"init\": [[0, 0], [1000, 1000], [-1000, 5]]}", &ds,
					   0, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	labels = labels_of(&pgml_algo_kmeans, st, &ds);
	seen[0] = seen[1] = seen[2] = false;
	for (size_t i = 0; i < ds.n; i++)
		seen[labels[i]] = true;
	CHECK(seen[0] && seen[1] && seen[2]);
	free(labels);
	pgml_algo_kmeans.free(st);
}

TEST(cluster_kmeans_round_trip_and_params)
{
	dataset		ds = fixture_rows(FIXTURE, "digits");
	void	   *st = NULL;
	void	   *back = NULL;
	pgml_err	err;
	size_t		len,
				len2;
	uint8_t    *blob;
	uint8_t    *blob2;
	pgml_reader r;
	json_t	   *p1;
	json_t	   *p2;
	int		   *l1;
	int		   *l2;

	REQUIRE(ds.x != NULL);
	CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{\"n_clusters\": 5, \"random_state\": 3}", &ds, 0, NULL, &st, &err),
			  PGML_OK);
	REQUIRE(st != NULL);
	CHECK_INT(pgml_algo_kmeans.n_outputs(st), 1);
	blob = save_state_bytes(&pgml_algo_kmeans, st, &len);
	pgml_reader_init(&r, blob, len, "model", &err);
	CHECK_INT(pgml_algo_kmeans.load(&r, &back, &err), PGML_OK);
	REQUIRE(back != NULL);
	CHECK_INT(pgml_reader_remaining(&r), 0);
	blob2 = save_state_bytes(&pgml_algo_kmeans, back, &len2);
	CHECK(len == len2 && memcmp(blob, blob2, len) == 0);
	l1 = labels_of(&pgml_algo_kmeans, st, &ds);
	l2 = labels_of(&pgml_algo_kmeans, back, &ds);
	CHECK(memcmp(l1, l2, ds.n * sizeof(int)) == 0);
	p1 = pgml_algo_kmeans.params(st);
	p2 = pgml_algo_kmeans.params(back);
	CHECK(json_equal(p1, p2));
	{
		char	   *text = pgml_json_dumps(p1);

		CHECK_STR(text, "{\"n_clusters\":5,\"init\":\"k-means++\",\"n_init\":10,\"max_iter\":300,\"tol\":0.0001,"
				  "\"verbose\":0,\"random_state\":3,\"copy_x\":true,\"algorithm\":\"lloyd\"}");
		pgml_free(text);
	}
	/* the mini-batch table refuses a KMeans state */
	{
		void	   *other = NULL;

		pgml_reader_init(&r, blob, len, "model", &err);
		CHECK_INT(pgml_algo_mini_batch_kmeans.load(&r, &other, &err), PGML_ERR_CORRUPT);
		CHECK(other == NULL);
	}
	json_decref(p1);
	json_decref(p2);
	free(l1);
	free(l2);
	free(blob);
	free(blob2);
	pgml_algo_kmeans.free(st);
	pgml_algo_kmeans.free(back);
	free(ds.x);
}

TEST(cluster_kmeans_seed_and_random_state)
{
	dataset		ds = fixture_rows(FIXTURE, "digits");
	void	   *a = NULL;
	void	   *b = NULL;
	void	   *c = NULL;
	pgml_err	err;
	uint8_t    *ba,
			   *bb,
			   *bc;
	size_t		la,
				lb,
				lc;

	REQUIRE(ds.x != NULL);
	/* the same seed gives the same model; random_state overrides the seed */
	CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{\"n_init\": 2}", &ds, 7, NULL, &a, &err), PGML_OK);
	CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{\"n_init\": 2}", &ds, 7, NULL, &b, &err), PGML_OK);
	CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{\"n_init\": 2, \"random_state\": 7}", &ds, 99, NULL, &c, &err),
			  PGML_OK);
	REQUIRE(a && b && c);
	ba = save_state_bytes(&pgml_algo_kmeans, a, &la);
	bb = save_state_bytes(&pgml_algo_kmeans, b, &lb);
	bc = save_state_bytes(&pgml_algo_kmeans, c, &lc);
	CHECK(la == lb && memcmp(ba, bb, la) == 0);
	{
		kmeans_info ia = get_kmeans_info(&pgml_algo_kmeans, a);
		kmeans_info ic = get_kmeans_info(&pgml_algo_kmeans, c);

		CHECK(memcmp(ia.centers, ic.centers, ia.k * ia.d * sizeof(double)) == 0);
		pgml_free(ia.centers);
		pgml_free(ic.centers);
	}
	free(ba);
	free(bb);
	free(bc);
	pgml_algo_kmeans.free(a);
	pgml_algo_kmeans.free(b);
	pgml_algo_kmeans.free(c);
	free(ds.x);
}

/* ---------------------------------------------------------------------------------------------------
 * MiniBatchKMeans
 * ------------------------------------------------------------------------------------------------- */

TEST(cluster_mini_batch_matches_sklearn)
{
	json_t	   *fx = fixture_cached(FIXTURE);
	json_t	   *cases;
	size_t		i;
	json_t	   *c;

	REQUIRE(fx != NULL);
	cases = json_object_get(fx, "mini_batch_kmeans");
	REQUIRE(json_array_size(cases) >= 2);
	json_array_foreach(cases, i, c)
	{
		dataset		ds = case_data(c);
		void	   *st = NULL;
		pgml_err	err;
		kmeans_info info;

		REQUIRE(ds.x != NULL);
		CHECK_INT(fit_rows(&pgml_algo_mini_batch_kmeans, json_object_get(c, "params"), &ds, 0, NULL, &st, &err),
				  PGML_OK);
		REQUIRE(st != NULL);
		info = get_kmeans_info(&pgml_algo_mini_batch_kmeans, st);
		/* within 5% of sklearn's inertia */
		CHECK_NEAR(info.inertia, json_number_value(json_object_get(c, "inertia")), 0.05);
		pgml_free(info.centers);
		pgml_algo_mini_batch_kmeans.free(st);
		free(ds.x);
	}
}

TEST(cluster_mini_batch_options)
{
	dataset		ds = fixture_rows(FIXTURE, "digits");
	void	   *st = NULL;
	pgml_err	err;
	json_t	   *p;
	char	   *text;
	kmeans_info info;

	REQUIRE(ds.x != NULL);
	/* no labels: the inertia is the smoothed batch inertia scaled to the data */
	CHECK_INT(fit_rows_text(&pgml_algo_mini_batch_kmeans,
					   "{\"n_clusters\": 10, \"batch_size\": 32, \"compute_labels\": false, \"init_size\": 5,"
					   " \"max_no_improvement\": null, \"max_iter\": 3, \"tol\": 0.001, \"init\": \"random\","
					   " \"n_init\": \"auto\", \"reassignment_ratio\": 0.5}",
					   &ds, 5, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	info = get_kmeans_info(&pgml_algo_mini_batch_kmeans, st);
	CHECK(info.inertia > 0 && isfinite(info.inertia));
	CHECK(info.n_iter >= 1 && info.n_iter <= 3);
	pgml_free(info.centers);
	p = pgml_algo_mini_batch_kmeans.params(st);
	text = pgml_json_dumps(p);
	CHECK_STR(text, "{\"n_clusters\":10,\"init\":\"random\",\"max_iter\":3,\"batch_size\":32,\"verbose\":0,"
			  "\"compute_labels\":false,\"random_state\":null,\"tol\":0.001,\"max_no_improvement\":null,"
			  "\"init_size\":5,\"n_init\":3,\"reassignment_ratio\":0.5}");
	pgml_free(text);
	json_decref(p);
	pgml_algo_mini_batch_kmeans.free(st);

	/* defaults */
	CHECK_INT(fit_rows_text(&pgml_algo_mini_batch_kmeans, "{}", &ds, 5, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	p = pgml_algo_mini_batch_kmeans.params(st);
	text = pgml_json_dumps(p);
	CHECK_STR(text, "{\"n_clusters\":8,\"init\":\"k-means++\",\"max_iter\":100,\"batch_size\":1024,\"verbose\":0,"
			  "\"compute_labels\":true,\"random_state\":null,\"tol\":0.0,\"max_no_improvement\":10,"
			  "\"init_size\":null,\"n_init\":3,\"reassignment_ratio\":0.01}");
	pgml_free(text);
	json_decref(p);
	pgml_algo_mini_batch_kmeans.free(st);
	free(ds.x);
}

/* ---------------------------------------------------------------------------------------------------
 * PCA
 * ------------------------------------------------------------------------------------------------- */

TEST(cluster_pca_matches_sklearn)
{
	json_t	   *fx = fixture_cached(FIXTURE);
	json_t	   *cases;
	size_t		i;
	json_t	   *c;

	REQUIRE(fx != NULL);
	cases = json_object_get(fx, "pca");
	REQUIRE(json_array_size(cases) >= 5);
	json_array_foreach(cases, i, c)
	{
		dataset		ds = case_data(c);
		void	   *st = NULL;
		pgml_err	err;
		pca_info	info;
		size_t		nc = (size_t) json_integer_value(json_object_get(c, "n_components"));
		size_t		cmp = (size_t) json_integer_value(json_object_get(c, "compared"));
		const json_t *ratio = json_object_get(c, "explained_variance_ratio");
		const json_t *comps = json_object_get(c, "components");
		const json_t *tr = json_object_get(c, "transform");
		size_t		nt = json_array_size(tr);
		float	   *out;
		double		sum = 0;

		REQUIRE(ds.x != NULL);
		CHECK_INT(fit_rows(&pgml_algo_pca, json_object_get(c, "params"), &ds, 0, NULL, &st, &err), PGML_OK);
		REQUIRE(st != NULL);
		CHECK_INT(pgml_algo_pca.n_outputs(st), nc);
		info = get_pca_info(st);
		CHECK_INT(info.c, nc);
		for (size_t j = 0; j < nc; j++)
		{
			CHECK_NEAR(info.ratio[j], json_number_value(json_array_get(ratio, j)), 1e-4);
			sum += json_number_value(json_array_get(ratio, j));
		}
		CHECK_NEAR(pgml_pca_explained_variance_ratio_sum(st), sum, 1e-6);
		for (size_t f = 0; f < ds.d; f++)
			CHECK_NEAR(info.mean[f], json_number_value(json_array_get(json_object_get(c, "mean"), f)), 1e-9);
		for (size_t j = 0; j < cmp; j++)
			for (size_t f = 0; f < ds.d; f++)
				CHECK_NEAR(info.components[j * ds.d + f],
						   json_number_value(json_array_get(json_array_get(comps, j), f)), 1e-4);
		out = malloc(nt * nc * sizeof(float));
		CHECK_INT(pgml_algo_pca.predict(st, ds.x, nt, ds.d, out, &err), PGML_OK);
		for (size_t r = 0; r < nt; r++)
			for (size_t j = 0; j < cmp; j++)
				CHECK_NEAR(out[r * nc + j], json_number_value(json_array_get(json_array_get(tr, r), j)), 1e-4);
		free(out);
		pgml_free(info.mean);
		pgml_free(info.components);
		pgml_free(info.ev);
		pgml_free(info.ratio);
		pgml_algo_pca.free(st);
		free(ds.x);
	}
}

TEST(cluster_pca_solvers_and_params)
{
	dataset		ds = fixture_rows(FIXTURE, "blobs");
	void	   *full = NULL;
	void	   *st = NULL;
	pgml_err	err;
	json_t	   *p;
	char	   *text;
	pca_info	a,
				b;

	REQUIRE(ds.x != NULL);
	CHECK_INT(fit_rows_text(&pgml_algo_pca, "{}", &ds, 0, NULL, &full, &err), PGML_OK);
	REQUIRE(full != NULL);
	p = pgml_algo_pca.params(full);
	text = pgml_json_dumps(p);
	CHECK_STR(text, "{\"n_components\":null,\"copy\":true,\"whiten\":false,\"svd_solver\":\"auto\",\"tol\":0.0,"
			  "\"iterated_power\":\"auto\",\"n_oversamples\":10,\"power_iteration_normalizer\":\"auto\","
			  "\"random_state\":null}");
	pgml_free(text);
	json_decref(p);
	CHECK_NEAR(pgml_pca_explained_variance_ratio_sum(full), 1.0, 1e-12);

	/* arpack keeps min(n, d) - 1 components by default; randomized is computed exactly too */
	CHECK_INT(fit_rows_text(&pgml_algo_pca, "{\"svd_solver\": \"arpack\"}", &ds, 0, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	CHECK_INT(pgml_algo_pca.n_outputs(st), 4);
	pgml_algo_pca.free(st);
	CHECK_INT(fit_rows_text(&pgml_algo_pca, "{\"svd_solver\": \"randomized\", \"n_components\": 2, \"iterated_power\": 3,"
					   " \"power_iteration_normalizer\": \"QR\", \"random_state\": 1}", &ds, 0, NULL, &st, &err),
			  PGML_OK);
	REQUIRE(st != NULL);
	a = get_pca_info(full);
	b = get_pca_info(st);
	CHECK_INT(b.c, 2);
	for (size_t j = 0; j < 2 * ds.d; j++)
		CHECK_NEAR(b.components[j], a.components[j], 1e-12);
	p = pgml_algo_pca.params(st);
	CHECK_INT(json_integer_value(json_object_get(p, "iterated_power")), 3);
	CHECK_INT(json_integer_value(json_object_get(p, "n_components")), 2);
	json_decref(p);
	pgml_free(a.mean);
	pgml_free(a.components);
	pgml_free(a.ev);
	pgml_free(a.ratio);
	pgml_free(b.mean);
	pgml_free(b.components);
	pgml_free(b.ev);
	pgml_free(b.ratio);
	pgml_algo_pca.free(st);
	pgml_algo_pca.free(full);
	free(ds.x);
}

TEST(cluster_pca_round_trip)
{
	dataset		ds = fixture_rows(FIXTURE, "digits");
	void	   *st = NULL;
	void	   *back = NULL;
	pgml_err	err;
	size_t		len,
				len2;
	uint8_t    *blob;
	uint8_t    *blob2;
	pgml_reader r;
	float	   *o1;
	float	   *o2;

	REQUIRE(ds.x != NULL);
	CHECK_INT(fit_rows_text(&pgml_algo_pca, "{\"n_components\": 7, \"whiten\": true}", &ds, 0, NULL, &st, &err),
			  PGML_OK);
	REQUIRE(st != NULL);
	blob = save_state_bytes(&pgml_algo_pca, st, &len);
	pgml_reader_init(&r, blob, len, "model", &err);
	CHECK_INT(pgml_algo_pca.load(&r, &back, &err), PGML_OK);
	REQUIRE(back != NULL);
	blob2 = save_state_bytes(&pgml_algo_pca, back, &len2);
	CHECK(len == len2 && memcmp(blob, blob2, len) == 0);
	CHECK_INT(pgml_algo_pca.n_outputs(back), 7);
	o1 = malloc(ds.n * 7 * sizeof(float));
	o2 = malloc(ds.n * 7 * sizeof(float));
	CHECK_INT(pgml_algo_pca.predict(st, ds.x, ds.n, ds.d, o1, &err), PGML_OK);
	CHECK_INT(pgml_algo_pca.predict(back, ds.x, ds.n, ds.d, o2, &err), PGML_OK);
	CHECK(memcmp(o1, o2, ds.n * 7 * sizeof(float)) == 0);
	/* whitened training projections have unit variance */
	{
		double		ss = 0;

		for (size_t i = 0; i < ds.n; i++)
			ss += (double) o1[i * 7] * o1[i * 7];
		CHECK_NEAR(ss / (double) (ds.n - 1), 1.0, 1e-5);
	}
	CHECK_NEAR(pgml_pca_explained_variance_ratio_sum(back), pgml_pca_explained_variance_ratio_sum(st), 0);
	free(o1);
	free(o2);
	free(blob);
	free(blob2);
	pgml_algo_pca.free(st);
	pgml_algo_pca.free(back);
	free(ds.x);
}

/* ---------------------------------------------------------------------------------------------------
 * Corrupt states, errors, cancellation, threads
 * ------------------------------------------------------------------------------------------------- */

TEST(cluster_corrupt_states)
{
	dataset		ds = fixture_rows(FIXTURE, "blobs");
	void	   *st = NULL;
	pgml_err	err;

	REQUIRE(ds.x != NULL);
	CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{\"n_clusters\": 3, \"n_init\": 1}", &ds, 0, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	check_corrupt_state(&pgml_algo_kmeans, st, ds.d, false);
	pgml_algo_kmeans.free(st);
	CHECK_INT(fit_rows_text(&pgml_algo_mini_batch_kmeans, "{\"n_clusters\": 2, \"n_init\": 1}", &ds, 0, NULL, &st, &err),
			  PGML_OK);
	REQUIRE(st != NULL);
	check_corrupt_state(&pgml_algo_mini_batch_kmeans, st, ds.d, false);
	pgml_algo_mini_batch_kmeans.free(st);
	CHECK_INT(fit_rows_text(&pgml_algo_pca, "{\"n_components\": 2}", &ds, 0, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	check_corrupt_state(&pgml_algo_pca, st, ds.d, false);
	pgml_algo_pca.free(st);

	/* hostile counts: a huge cluster count with little data behind it */
	{
		pgml_buf	b;
		pgml_reader r;
		void	   *back = NULL;

		pgml_buf_init(&b);
		pgml_buf_put_u32(&b, 1);
		pgml_buf_put_u8(&b, 1);
		pgml_buf_put_u64(&b, (uint64_t) 1 << 23);
		pgml_buf_put_u64(&b, (uint64_t) 1 << 23);
		pgml_buf_put_u64(&b, (uint64_t) 1 << 46);
		pgml_reader_init(&r, b.data, b.len, "model", &err);
		CHECK_INT(pgml_algo_kmeans.load(&r, &back, &err), PGML_ERR_CORRUPT);
		CHECK(back == NULL);
		CHECK_STR(err.msg, "model is corrupt");
		pgml_buf_free(&b);

		pgml_buf_init(&b);
		pgml_buf_put_u32(&b, 1);
		pgml_buf_put_u8(&b, 3);
		pgml_buf_put_u64(&b, 4);
		pgml_buf_put_u64(&b, 5);	/* more components than features */
		pgml_reader_init(&r, b.data, b.len, "model", &err);
		CHECK_INT(pgml_algo_pca.load(&r, &back, &err), PGML_ERR_CORRUPT);
		CHECK(back == NULL);
		pgml_buf_free(&b);

		/* a NaN center */
		pgml_buf_init(&b);
		pgml_buf_put_u32(&b, 1);
		pgml_buf_put_u8(&b, 1);
		pgml_buf_put_u64(&b, 1);
		pgml_buf_put_u64(&b, 1);
		pgml_buf_put_f64s(&b, (double[]) {NAN}, 1);
		pgml_buf_put_f64(&b, 0);
		pgml_buf_put_i64(&b, 1);
		pgml_buf_put_str(&b, "{}");
		pgml_reader_init(&r, b.data, b.len, "model", &err);
		CHECK_INT(pgml_algo_kmeans.load(&r, &back, &err), PGML_ERR_CORRUPT);
		pgml_buf_free(&b);

		/* hyperparameters out of range: an unknown init method, then max_iter 0 */
		for (int bad = 0; bad < 2; bad++)
		{
			pgml_buf_init(&b);
			pgml_buf_put_u32(&b, 1);
			pgml_buf_put_u8(&b, 1);
			pgml_buf_put_u64(&b, 1);
			pgml_buf_put_u64(&b, 1);
			pgml_buf_put_f64s(&b, (double[]) {1.5}, 1);
			pgml_buf_put_f64(&b, 0);
			pgml_buf_put_i64(&b, 1);
			pgml_buf_put_u8(&b, bad == 0 ? 7 : 0);	/* init */
			pgml_buf_put_i64(&b, 1);	/* n_init */
			pgml_buf_put_i64(&b, bad == 1 ? 0 : 300);	/* max_iter */
			for (int i = 0; i < 20; i++)
				pgml_buf_put_u8(&b, 0);
			pgml_reader_init(&r, b.data, b.len, "model", &err);
			CHECK_INT(pgml_algo_kmeans.load(&r, &back, &err), PGML_ERR_CORRUPT);
			CHECK(back == NULL);
			CHECK(strstr(err.detail, "out of range") != NULL);
			pgml_buf_free(&b);
		}
	}
	free(ds.x);
}

typedef struct bad_case
{
	const pgml_algorithm *algo;
	const char *params;
	pgml_status code;
	const char *names;			/* expected in the message */
} bad_case;

TEST(cluster_bad_hyperparameters)
{
	static const bad_case cases[] = {
		{&pgml_algo_kmeans, "{\"n_clusters\": 0}", PGML_ERR_INVALID_ARGUMENT, "n_clusters"},
		{&pgml_algo_kmeans, "{\"n_clusters\": 301}", PGML_ERR_INVALID_ARGUMENT, "n_clusters"},
		{&pgml_algo_kmeans, "{\"n_clusters\": \"8\"}", PGML_ERR_INVALID_ARGUMENT, "n_clusters"},
		{&pgml_algo_kmeans, "{\"n_clusters\": 2.5}", PGML_ERR_INVALID_ARGUMENT, "n_clusters"},
		{&pgml_algo_kmeans, "{\"max_iter\": 0}", PGML_ERR_INVALID_ARGUMENT, "max_iter"},
		{&pgml_algo_kmeans, "{\"tol\": -1}", PGML_ERR_INVALID_ARGUMENT, "tol"},
		{&pgml_algo_kmeans, "{\"init\": \"kmeans++\"}", PGML_ERR_INVALID_ARGUMENT, "init"},
		{&pgml_algo_kmeans, "{\"init\": 3}", PGML_ERR_INVALID_ARGUMENT, "init"},
		{&pgml_algo_kmeans, "{\"n_clusters\": 2, \"init\": [[1, 2, 3, 4, 5]]}", PGML_ERR_INVALID_ARGUMENT, "init"},
		{&pgml_algo_kmeans, "{\"n_clusters\": 1, \"init\": [[1, 2, 3, 4]]}", PGML_ERR_INVALID_ARGUMENT, "init"},
		{&pgml_algo_kmeans, "{\"n_clusters\": 1, \"init\": [[1, 2, 3, 4, \"5\"]]}", PGML_ERR_INVALID_ARGUMENT, "init"},
		{&pgml_algo_kmeans, "{\"n_init\": 0}", PGML_ERR_INVALID_ARGUMENT, "n_init"},
		{&pgml_algo_kmeans, "{\"n_init\": \"sometimes\"}", PGML_ERR_INVALID_ARGUMENT, "n_init"},
		{&pgml_algo_kmeans, "{\"algorithm\": \"fast\"}", PGML_ERR_INVALID_ARGUMENT, "algorithm"},
		{&pgml_algo_kmeans, "{\"random_state\": -1}", PGML_ERR_INVALID_ARGUMENT, "random_state"},
		{&pgml_algo_kmeans, "{\"copy_x\": 1}", PGML_ERR_INVALID_ARGUMENT, "copy_x"},
		{&pgml_algo_kmeans, "{\"verbose\": \"yes\"}", PGML_ERR_INVALID_ARGUMENT, "verbose"},
		{&pgml_algo_kmeans, "{\"batch_size\": 10}", PGML_ERR_INVALID_ARGUMENT, "batch_size"},
		{&pgml_algo_mini_batch_kmeans, "{\"batch_size\": 0}", PGML_ERR_INVALID_ARGUMENT, "batch_size"},
		{&pgml_algo_mini_batch_kmeans, "{\"reassignment_ratio\": -0.5}", PGML_ERR_INVALID_ARGUMENT, "reassignment_ratio"},
		{&pgml_algo_mini_batch_kmeans, "{\"max_no_improvement\": -1}", PGML_ERR_INVALID_ARGUMENT, "max_no_improvement"},
		{&pgml_algo_mini_batch_kmeans, "{\"init_size\": 0}", PGML_ERR_INVALID_ARGUMENT, "init_size"},
		{&pgml_algo_mini_batch_kmeans, "{\"compute_labels\": \"no\"}", PGML_ERR_INVALID_ARGUMENT, "compute_labels"},
		{&pgml_algo_mini_batch_kmeans, "{\"n_clusters\": 1000}", PGML_ERR_INVALID_ARGUMENT, "n_clusters"},
		{&pgml_algo_mini_batch_kmeans, "{\"algorithm\": \"lloyd\"}", PGML_ERR_INVALID_ARGUMENT, "algorithm"},
		{&pgml_algo_pca, "{\"n_components\": 0}", PGML_ERR_INVALID_ARGUMENT, "n_components"},
		{&pgml_algo_pca, "{\"n_components\": 6}", PGML_ERR_INVALID_ARGUMENT, "n_components"},
		{&pgml_algo_pca, "{\"n_components\": 1.5}", PGML_ERR_INVALID_ARGUMENT, "n_components"},
		{&pgml_algo_pca, "{\"n_components\": true}", PGML_ERR_INVALID_ARGUMENT, "n_components"},
		{&pgml_algo_pca, "{\"n_components\": \"all\"}", PGML_ERR_INVALID_ARGUMENT, "n_components"},
		{&pgml_algo_pca, "{\"n_components\": \"mle\"}", PGML_ERR_NOT_SUPPORTED, "mle"},
		{&pgml_algo_pca, "{\"svd_solver\": \"magic\"}", PGML_ERR_INVALID_ARGUMENT, "svd_solver"},
		{&pgml_algo_pca, "{\"svd_solver\": \"arpack\", \"n_components\": 5}", PGML_ERR_INVALID_ARGUMENT, "n_components"},
		{&pgml_algo_pca, "{\"svd_solver\": \"randomized\", \"n_components\": 0.5}", PGML_ERR_INVALID_ARGUMENT, "n_components"},
		{&pgml_algo_pca, "{\"iterated_power\": -1}", PGML_ERR_INVALID_ARGUMENT, "iterated_power"},
		{&pgml_algo_pca, "{\"iterated_power\": \"many\"}", PGML_ERR_INVALID_ARGUMENT, "iterated_power"},
		{&pgml_algo_pca, "{\"n_oversamples\": 0}", PGML_ERR_INVALID_ARGUMENT, "n_oversamples"},
		{&pgml_algo_pca, "{\"power_iteration_normalizer\": \"qr\"}", PGML_ERR_INVALID_ARGUMENT, "power_iteration_normalizer"},
		{&pgml_algo_pca, "{\"whiten\": \"no\"}", PGML_ERR_INVALID_ARGUMENT, "whiten"},
		{&pgml_algo_pca, "{\"tol\": -1}", PGML_ERR_INVALID_ARGUMENT, "tol"},
		{&pgml_algo_pca, "{\"random_state\": 4294967296}", PGML_ERR_INVALID_ARGUMENT, "random_state"},
		{&pgml_algo_pca, "{\"n_clusters\": 2}", PGML_ERR_INVALID_ARGUMENT, "n_clusters"},
	};
	dataset		ds = fixture_rows(FIXTURE, "blobs");

	REQUIRE(ds.x != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		void	   *st = NULL;
		pgml_err	err;
		pgml_status rc = fit_rows_text(cases[i].algo, cases[i].params, &ds, 0, NULL, &st, &err);

		if (rc != cases[i].code || st != NULL || strstr(err.msg, cases[i].names) == NULL)
			test_fail(__FILE__, __LINE__, "%s %s: got %s \"%s\"", cases[i].algo->name, cases[i].params,
					  pgml_status_name(rc), rc == PGML_OK ? "" : err.msg);
		if (st)
			cases[i].algo->free(st);
	}
	free(ds.x);
}

TEST(cluster_data_and_task_errors)
{
	dataset		ds = fixture_rows(FIXTURE, "blobs");
	void	   *st = NULL;
	pgml_err	err;
	pgml_fit_args args = {PGML_TASK_REGRESSION, NULL, 0, 0, NULL};
	pgml_data	data = {NULL, NULL, 0, 0, 0};
	json_t	   *hp = json_object();
	float		out[8];

	REQUIRE(ds.x != NULL);
	args.hyperparams = hp;
	data.x = ds.x;
	data.n_rows = ds.n;
	data.n_features = ds.d;
	CHECK_INT(pgml_algo_kmeans.fit(&args, &data, &st, &err), PGML_ERR_NOT_SUPPORTED);
	args.task = PGML_TASK_CLUSTERING;
	CHECK_INT(pgml_algo_pca.fit(&args, &data, &st, &err), PGML_ERR_NOT_SUPPORTED);
	data.n_rows = 0;
	CHECK_INT(pgml_algo_kmeans.fit(&args, &data, &st, &err), PGML_ERR_INVALID_ARGUMENT);
	data.n_rows = ds.n;

	/* not finite */
	ds.x[7] = NAN;
	CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{}", &ds, 0, NULL, &st, &err), PGML_ERR_DATA);
	CHECK_STR(err.detail, "Row 2, feature 3 is not a finite number.");
	CHECK_INT(fit_rows_text(&pgml_algo_mini_batch_kmeans, "{}", &ds, 0, NULL, &st, &err), PGML_ERR_DATA);
	CHECK_INT(fit_rows_text(&pgml_algo_pca, "{}", &ds, 0, NULL, &st, &err), PGML_ERR_DATA);
	ds.x[7] = 1;

	/* one row: PCA needs two */
	{
		dataset		one = {ds.x, 1, ds.d};

		CHECK_INT(fit_rows_text(&pgml_algo_pca, "{}", &one, 0, NULL, &st, &err), PGML_ERR_INVALID_ARGUMENT);
		CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{\"n_clusters\": 1}", &one, 0, NULL, &st, &err), PGML_OK);
		REQUIRE(st != NULL);
		CHECK_INT(pgml_algo_kmeans.predict(st, ds.x, 1, ds.d, out, &err), PGML_OK);
		CHECK(out[0] == 0);
		pgml_algo_kmeans.free(st);
	}

	/* predict with the wrong feature count */
	CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{\"n_clusters\": 2}", &ds, 0, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	CHECK_INT(pgml_algo_kmeans.predict(st, ds.x, 1, ds.d + 1, out, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "wrong number of features");
	CHECK_INT(pgml_algo_kmeans.predict(st, ds.x, 0, ds.d, out, &err), PGML_OK);
	pgml_algo_kmeans.free(st);
	CHECK_INT(fit_rows_text(&pgml_algo_pca, "{\"n_components\": 2}", &ds, 0, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	CHECK_INT(pgml_algo_pca.predict(st, ds.x, 1, ds.d - 1, out, &err), PGML_ERR_INVALID_ARGUMENT);
	pgml_algo_pca.free(st);

	/* the tables */
	CHECK_STR(pgml_algo_kmeans.name, "kmeans");
	CHECK_STR(pgml_algo_mini_batch_kmeans.name, "mini_batch_kmeans");
	CHECK_STR(pgml_algo_pca.name, "pca");
	CHECK(pgml_algo_kmeans.tasks == PGML_TASK_BIT(PGML_TASK_CLUSTERING));
	CHECK(pgml_algo_pca.tasks == PGML_TASK_BIT(PGML_TASK_DECOMPOSITION));
	CHECK_STR(pgml_algo_kmeans.params_other[8], "algorithm");
	CHECK(pgml_algo_kmeans.params_other[9] == NULL);
	CHECK_STR(pgml_algo_mini_batch_kmeans.params_other[11], "reassignment_ratio");
	CHECK(pgml_algo_mini_batch_kmeans.params_other[12] == NULL);
	CHECK_STR(pgml_algo_pca.params_other[8], "random_state");
	CHECK(pgml_algo_pca.params_other[9] == NULL);
	json_decref(hp);
	free(ds.x);
}

static atomic_int stop_calls;
static int	stop_after;

static bool
stop_later(void *state)
{
	(void) state;
	return atomic_fetch_add(&stop_calls, 1) >= stop_after;
}

TEST(cluster_cancel)
{
	dataset		ds = make_data(40000, 8, 1);
	static const struct
	{
		const pgml_algorithm *algo;
		const char *params;
	}			fits[] = {
		{&pgml_algo_kmeans, "{\"n_clusters\": 8, \"n_init\": 2}"},
		{&pgml_algo_kmeans, "{\"n_clusters\": 8, \"n_init\": 1, \"init\": \"random\", \"tol\": 0}"},
		{&pgml_algo_mini_batch_kmeans, "{\"n_clusters\": 8, \"batch_size\": 256, \"max_iter\": 3, \"tol\": 0.1}"},
		{&pgml_algo_pca, "{\"n_components\": 3}"},
	};

	for (size_t f = 0; f < sizeof(fits) / sizeof(fits[0]); f++)
	{
		int			cancelled = 0;

		for (int after = 0; after < 40; after += 3)
		{
			void	   *st = NULL;
			pgml_err	err;
			pgml_status rc;

			atomic_store(&stop_calls, 0);
			stop_after = after;
			pgml_set_should_stop(stop_later, NULL);
			rc = fit_rows_text(fits[f].algo, fits[f].params, &ds, 0, NULL, &st, &err);
			pgml_set_should_stop(NULL, NULL);
			if (rc == PGML_ERR_CANCELLED)
			{
				CHECK(st == NULL);
				CHECK_STR(pgml_err_get_sqlstate(&err), "57014");
				cancelled++;
			}
			else
			{
				CHECK_INT(rc, PGML_OK);
				if (st)
					fits[f].algo->free(st);
			}
		}
		/* at least the first few stop points fall inside the fit */
		if (cancelled < 3)
			test_fail(__FILE__, __LINE__, "%s %s: cancelled only %d times", fits[f].algo->name, fits[f].params,
					  cancelled);
	}
	CHECK(!pgml_should_stop());
	free(ds.x);
}

TEST(cluster_pool_same_result)
{
	dataset		digits = fixture_rows(FIXTURE, "digits");
	dataset		big = make_data(30000, 6, 2);
	pgml_pool  *pool = NULL;
	pgml_err	err;

	REQUIRE(digits.x != NULL);
	CHECK_INT(pgml_pool_new(3, &pool, &err), PGML_OK);
	REQUIRE(pool != NULL);
	check_pool(&pgml_algo_kmeans, "{\"n_clusters\": 10, \"n_init\": 3}", &digits, pool);
	check_pool(&pgml_algo_kmeans, "{\"n_clusters\": 7, \"n_init\": 2}", &big, pool);
	check_pool(&pgml_algo_kmeans, "{\"n_clusters\": 5, \"n_init\": 2, \"init\": \"random\"}", &big, pool);
	check_pool(&pgml_algo_mini_batch_kmeans, "{\"n_clusters\": 10, \"batch_size\": 64}", &digits, pool);
	check_pool(&pgml_algo_mini_batch_kmeans, "{\"n_clusters\": 7, \"batch_size\": 2048, \"max_iter\": 5}", &big, pool);
	check_pool(&pgml_algo_pca, "{\"n_components\": 10}", &digits, pool);
	pgml_pool_free(pool);
	free(digits.x);
	free(big.x);
}

TEST(cluster_degenerate_data)
{
	/* identical rows: fits succeed, everything stays finite */
	float		x[10 * 3];
	dataset		ds = {x, 10, 3};
	void	   *st = NULL;
	pgml_err	err;
	float		out[10 * 3];

	for (size_t i = 0; i < 30; i++)
		x[i] = (float) (i % 3);
	CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{\"n_clusters\": 3}", &ds, 0, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	CHECK_INT(pgml_algo_kmeans.predict(st, x, 10, 3, out, &err), PGML_OK);
	CHECK(out[0] >= 0 && out[0] < 3);
	{
		kmeans_info info = get_kmeans_info(&pgml_algo_kmeans, st);

		CHECK_NEAR(info.inertia, 0, 0);
		pgml_free(info.centers);
	}
	pgml_algo_kmeans.free(st);
	CHECK_INT(fit_rows_text(&pgml_algo_mini_batch_kmeans, "{\"n_clusters\": 3}", &ds, 0, NULL, &st, &err), PGML_OK);
	REQUIRE(st != NULL);
	pgml_algo_mini_batch_kmeans.free(st);
	CHECK_INT(fit_rows_text(&pgml_algo_pca, "{\"n_components\": 0.5, \"whiten\": true}", &ds, 0, NULL, &st, &err),
			  PGML_OK);
	REQUIRE(st != NULL);
	CHECK_INT(pgml_algo_pca.predict(st, x, 10, 3, out, &err), PGML_OK);
	for (size_t i = 0; i < 10 * pgml_algo_pca.n_outputs(st); i++)
		CHECK(isfinite(out[i]));
	CHECK_NEAR(pgml_pca_explained_variance_ratio_sum(st), 0, 0);
	pgml_algo_pca.free(st);

	/* one feature */
	{
		float		y[] = {1, 2, 3, 10, 11, 12};
		dataset		one = {y, 6, 1};

		CHECK_INT(fit_rows_text(&pgml_algo_kmeans, "{\"n_clusters\": 2}", &one, 0, NULL, &st, &err), PGML_OK);
		REQUIRE(st != NULL);
		CHECK_INT(pgml_algo_kmeans.predict(st, y, 6, 1, out, &err), PGML_OK);
		CHECK(out[0] == out[2] && out[3] == out[5] && out[0] != out[3]);
		pgml_algo_kmeans.free(st);
		CHECK_INT(fit_rows_text(&pgml_algo_pca, "{}", &one, 0, NULL, &st, &err), PGML_OK);
		REQUIRE(st != NULL);
		CHECK_INT(pgml_algo_pca.n_outputs(st), 1);
		CHECK_NEAR(pgml_pca_explained_variance_ratio_sum(st), 1, 1e-12);
		pgml_algo_pca.free(st);
	}
}

TEST(cluster_out_of_memory)
{
	/* every allocation of a fit fails in turn: each gives OUT_OF_MEMORY and frees what it took */
	static const struct
	{
		const pgml_algorithm *algo;
		const char *params;
	}			fits[] = {
		{&pgml_algo_kmeans, "{\"n_clusters\": 3, \"n_init\": 2}"},
		{&pgml_algo_mini_batch_kmeans, "{\"n_clusters\": 3, \"batch_size\": 16, \"max_iter\": 2, \"tol\": 0.1}"},
		{&pgml_algo_pca, "{\"n_components\": 2}"},
	};
	dataset		ds = make_data(60, 4, 3);

	for (size_t i = 0; i < sizeof(fits) / sizeof(fits[0]); i++)
	{
		json_t	   *hp;
		pgml_err	err;
		long		total = -1;

		REQUIRE(pgml_json_parse(fits[i].params, strlen(fits[i].params), "test", &hp, &err) == PGML_OK);
		for (long at = 0; at < 1000; at++)
		{
			failing		f = {0, at, 0};
			pgml_allocator a = {failing_alloc, failing_realloc, failing_free, &f};
			void	   *st = NULL;
			pgml_status rc;
			size_t		len = 0;
			uint8_t    *blob = NULL;

			pgml_set_allocator(&a);
			rc = fit_rows(fits[i].algo, hp, &ds, 0, NULL, &st, &err);
			if (rc == PGML_OK)
			{
				/* saving and loading under failing allocations too */
				pgml_buf	b;
				pgml_reader r;
				void	   *back = NULL;

				json_t	   *params = fits[i].algo->params(st);

				if (params != NULL)
					json_decref(params);
				pgml_buf_init(&b);
				fits[i].algo->save(st, &b);
				if (pgml_buf_status(&b, &err) == PGML_OK)
				{
					len = b.len;
					blob = malloc(len);
					memcpy(blob, b.data, len);
				}
				pgml_buf_free(&b);
				if (blob != NULL)
				{
					pgml_reader_init(&r, blob, len, "model", &err);
					if (fits[i].algo->load(&r, &back, &err) == PGML_OK)
						fits[i].algo->free(back);
					else
						CHECK(back == NULL);
				}
				fits[i].algo->free(st);
			}
			pgml_set_allocator(NULL);
			free(blob);
			if (rc != PGML_OK && rc != PGML_ERR_OUT_OF_MEMORY)
				test_fail(__FILE__, __LINE__, "%s: allocation %ld failed: %s", fits[i].algo->name, at,
						  pgml_status_name(rc));
			if (rc != PGML_OK)
				CHECK(st == NULL);
			if (f.live != 0)
				test_fail(__FILE__, __LINE__, "%s: allocation %ld failed: %ld blocks leaked", fits[i].algo->name,
						  at, f.live);
			if (f.count <= at)
			{
				total = at;		/* nothing failed: every allocation has been tried */
				break;
			}
		}
		CHECK(total > 10);
		json_decref(hp);
	}
	free(ds.x);
}
