/*
 * fixture.c — shared helpers for the tests of the learning algorithms (see fixture.h). No tests here.
 */
#include "fixture.h"

#include <stdlib.h>

#include "test.h"
#include "../src/learn/cluster_algorithms.h"

/* ---------------------------------------------------------------------------------------------------
 * Supervised fixtures
 * ------------------------------------------------------------------------------------------------- */

int
matrix_from_json(const json_t *a, matrix *m)
{
	size_t		rows = json_array_size(a);
	size_t		cols;

	m->v = NULL;
	if (!json_is_array(a) || rows == 0)
		return 0;
	cols = json_is_array(json_array_get(a, 0)) ? json_array_size(json_array_get(a, 0)) : 1;
	m->v = malloc(rows * cols * sizeof(float));
	m->rows = rows;
	m->cols = cols;
	for (size_t i = 0; i < rows; i++)
	{
		const json_t *r = json_array_get(a, i);

		if (json_is_array(r))
		{
			if (json_array_size(r) != cols)
				return 0;
			for (size_t j = 0; j < cols; j++)
				m->v[i * cols + j] = (float) json_number_value(json_array_get(r, j));
		}
		else
			m->v[i] = (float) json_number_value(r);
	}
	return 1;
}

json_t *
load_fixture(const char *path)
{
	json_t	   *doc = NULL;
	pgml_err	err;

	if (pgml_json_load_file(path, 1 << 20, &doc, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "cannot load %s: %s", path, err.msg);
		return NULL;
	}
	return doc;
}

int
fixture_dataset(const json_t *doc, const char *name, fixture_data *fd)
{
	const json_t *ds = json_object_get(json_object_get(doc, "datasets"), name);
	const json_t *yt;

	memset(fd, 0, sizeof(*fd));
	if (ds == NULL)
		return 0;
	fd->n_classes = (int) json_integer_value(json_object_get(ds, "n_classes"));
	yt = json_object_get(ds, "y_test");
	return matrix_from_json(json_object_get(ds, "x"), &fd->x) &&
		matrix_from_json(json_object_get(ds, "y"), &fd->y) &&
		matrix_from_json(json_object_get(ds, "x_test"), &fd->xt) &&
		(yt == NULL || matrix_from_json(yt, &fd->yt));
}

void
fixture_data_free(fixture_data *fd)
{
	free(fd->x.v);
	free(fd->y.v);
	free(fd->xt.v);
	free(fd->yt.v);
}

const pgml_algorithm *
algo_in(const pgml_algorithm *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcmp((*list)->name, name) == 0)
			return *list;
	return NULL;
}

pgml_status
fit_on(const pgml_algorithm *algo, pgml_task task, const fixture_data *fd, const json_t *hp, uint64_t seed,
	   pgml_pool *pool, void **state, pgml_err *err)
{
	pgml_data	data = {fd->x.v, fd->y.v, fd->x.rows, fd->x.cols, task == PGML_TASK_REGRESSION ? fd->y.cols : 1};
	pgml_fit_args args = {task, hp, task == PGML_TASK_CLASSIFICATION ? fd->n_classes : 0, seed, pool};

	return algo->fit(&args, &data, state, err);
}

pgml_status
fit_text(const json_t *doc, const char *name, pgml_task task, const char *data, const char *hp_text, uint64_t seed,
		 pgml_pool *pool, void **state, pgml_err *err)
{
	const pgml_algorithm *algo = pgml_algorithm_find(name);
	fixture_data fd;
	json_t	   *hp = NULL;
	pgml_status rc;

	*state = NULL;
	if (algo == NULL || !fixture_dataset(doc, data, &fd) ||
		pgml_json_parse(hp_text, strlen(hp_text), "test", &hp, err) != PGML_OK)
	{
		if (algo != NULL)
			fixture_data_free(&fd);
		test_fail(__FILE__, __LINE__, "bad test input %s / %s / %s", name, data, hp_text);
		return PGML_ERR_INTERNAL;
	}
	rc = fit_on(algo, task, &fd, hp, seed, pool, state, err);
	json_decref(hp);
	fixture_data_free(&fd);
	return rc;
}

char *
params_text(const json_t *doc, const char *name, pgml_task task, const char *data, const char *hp_text,
			uint64_t seed)
{
	void	   *state = NULL;
	pgml_err	err;
	json_t	   *p;
	char	   *text;

	if (fit_text(doc, name, task, data, hp_text, seed, NULL, &state, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "%s %s: %s", name, hp_text, err.msg);
		return NULL;
	}
	p = pgml_algorithm_find(name)->params(state);
	text = pgml_json_dumps(p);
	json_decref(p);
	pgml_algorithm_find(name)->free(state);
	return text;
}

int
save_state(const pgml_algorithm *algo, const void *state, pgml_buf *buf)
{
	pgml_err	err;

	pgml_buf_init(buf);
	algo->save(state, buf);
	return pgml_buf_status(buf, &err) == PGML_OK;
}

pgml_status
load_blob(const pgml_algorithm *algo, const char *what, const void *data, size_t len, void **state, pgml_err *err)
{
	pgml_reader r;

	pgml_reader_init(&r, data, len, what, err);
	return algo->load(&r, state, err);
}

double
check_outputs(const float *pred, const matrix *expect, double tol, bool relative, const char *label)
{
	double		worst = 0;

	for (size_t i = 0; i < expect->rows * expect->cols; i++)
	{
		double		a = pred[i];
		double		b = expect->v[i];
		double		lim = tol * (relative && fabs(b) > 1.0 ? fabs(b) : 1.0);

		if (fabs(a - b) / lim > worst)
			worst = fabs(a - b) / lim;
		if (!(fabs(a - b) <= lim))
		{
			test_fail(__FILE__, __LINE__, "%s: row %zu output %zu is %.9g, sklearn %.9g", label, i / expect->cols,
					  i % expect->cols, a, b);
			break;
		}
	}
	return worst;
}

void
check_save_load(const pgml_algorithm *algo, const char *blob_what, const void *state, const matrix *xt,
				 const float *pred, size_t n_out, const char *what)
{
	pgml_buf	buf;
	void	   *loaded = NULL;
	pgml_err	err;
	float	   *pred2 = calloc(xt->rows * n_out, sizeof(float));
	json_t	   *p1;
	json_t	   *p2;

	if (!save_state(algo, state, &buf))
	{
		test_fail(__FILE__, __LINE__, "%s: save failed", what);
		pgml_buf_free(&buf);
		free(pred2);
		return;
	}
	if (load_blob(algo, blob_what, buf.data, buf.len, &loaded, &err) != PGML_OK)
		test_fail(__FILE__, __LINE__, "%s: load failed: %s (%s)", what, err.msg, err.detail);
	else
	{
		CHECK_INT(algo->predict(loaded, xt->v, xt->rows, xt->cols, pred2, &err), PGML_OK);
		if (memcmp(pred, pred2, xt->rows * n_out * sizeof(float)) != 0)
			test_fail(__FILE__, __LINE__, "%s: predictions differ after save and load", what);
		p1 = algo->params(state);
		p2 = algo->params(loaded);
		CHECK(p1 != NULL && p2 != NULL && json_equal(p1, p2));
		json_decref(p1);
		json_decref(p2);
	}
	algo->free(loaded);
	pgml_buf_free(&buf);
	free(pred2);
}

size_t
argmax(const float *v, size_t n)
{
	size_t		best = 0;

	for (size_t c = 1; c < n; c++)
		if (v[c] > v[best])
			best = c;
	return best;
}

double
r2_against(const float *a, const float *b, size_t n)
{
	double		mean = 0;
	double		res = 0;
	double		tot = 0;

	for (size_t i = 0; i < n; i++)
		mean += b[i];
	mean /= (double) n;
	for (size_t i = 0; i < n; i++)
	{
		res += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
		tot += ((double) b[i] - mean) * ((double) b[i] - mean);
	}
	return 1.0 - res / tot;
}

/* ---------------------------------------------------------------------------------------------------
 * Corrupt saved models
 * ------------------------------------------------------------------------------------------------- */

void
check_corrupt_blobs(const pgml_algorithm *algo, const char *what, const pgml_buf *buf, const uint8_t *masks,
					size_t n_masks, loaded_check check, void *arg)
{
	uint8_t    *copy = malloc(buf->len);
	pgml_err	err;
	void	   *state;

	for (size_t len = 0; len < buf->len; len++)
	{
		state = (void *) 1;
		pgml_err_clear(&err);
		if (load_blob(algo, what, buf->data, len, &state, &err) != PGML_ERR_CORRUPT || state != NULL ||
			err.code != PGML_ERR_CORRUPT)
		{
			test_fail(__FILE__, __LINE__, "%s: truncation to %zu of %zu bytes loaded", algo->name, len, buf->len);
			if (state != (void *) 1)
				algo->free(state);
			break;
		}
	}
	for (size_t i = 0; i < buf->len; i++)
	{
		for (size_t flip = 0; flip < n_masks; flip++)
		{
			pgml_status rc;

			memcpy(copy, buf->data, buf->len);
			copy[i] ^= masks[flip];
			state = NULL;
			rc = load_blob(algo, what, copy, buf->len, &state, &err);
			if (rc == PGML_OK)
			{
				check(algo, state, copy, arg);
				algo->free(state);
			}
			else if (rc != PGML_ERR_CORRUPT || state != NULL)
				test_fail(__FILE__, __LINE__, "%s: flipping byte %zu gave %s", algo->name, i, pgml_status_name(rc));
		}
	}
	free(copy);
}

/* The arg of check_predicts_row. */
typedef struct hostile_row
{
	const float *row;
	size_t		n_features;
	bool		allow_data_error;
} hostile_row;

/* A loaded_check (arg: hostile_row): 1 to 64 outputs, and predicting the row works. */
static void
check_predicts_row(const pgml_algorithm *algo, void *state, const uint8_t *blob, void *arg)
{
	const hostile_row *h = arg;
	size_t		n_out = algo->n_outputs(state);
	float		out[64];
	pgml_err	err;

	(void) blob;
	CHECK(n_out >= 1 && n_out <= 64);
	if (n_out <= 64)
	{
		pgml_status rc = algo->predict(state, h->row, 1, h->n_features, out, &err);

		if (h->allow_data_error)
			CHECK(rc == PGML_OK || rc == PGML_ERR_DATA);
		else
			CHECK_INT(rc, PGML_OK);
	}
}

void
check_hostile(const pgml_algorithm *algo, const char *what, const pgml_buf *buf, const float *row,
			  size_t n_features, bool allow_data_error)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	float		zeros[64] = {0};
	hostile_row h = {row ? row : zeros, n_features, allow_data_error};

	check_corrupt_blobs(algo, what, buf, masks, 3, check_predicts_row, &h);
}

void
check_predicts_extremes(const pgml_algorithm *algo, void *state, const uint8_t *blob, void *arg)
{
	size_t		n_out = algo->n_outputs(state);
	uint64_t	n_features = 0;
	float		row[64] = {0};
	float		out[64];
	pgml_err	err;

	(void) arg;
	for (int k = 7; k >= 0; k--)
		n_features = n_features << 8 | blob[7 + k];
	CHECK(n_out >= 1 && n_out <= 64);
	if (n_out <= 64 && n_features <= 64)
	{
		for (int k = 0; k < 3; k++)
		{
			row[0] = (float) (k - 1) * 1e30f;
			CHECK_INT(algo->predict(state, row, 1, n_features, out, &err), PGML_OK);
		}
	}
}

/* ---------------------------------------------------------------------------------------------------
 * Clustering and decomposition fixtures
 * ------------------------------------------------------------------------------------------------- */

json_t *
fixture_cached(const char *file)
{
	static struct
	{
		const char *file;
		json_t	   *doc;
	}			cache[8];
	static const char *const dirs[] = {"tests/fixtures/", "core/tests/fixtures/", NULL};
	size_t		slot;

	for (slot = 0; slot < sizeof(cache) / sizeof(cache[0]) && cache[slot].file != NULL; slot++)
		if (strcmp(cache[slot].file, file) == 0)
			return cache[slot].doc;
	if (slot == sizeof(cache) / sizeof(cache[0]))
		return NULL;
	for (int i = 0; dirs[i] != NULL; i++)
	{
		char		path[256];
		pgml_err	err;

		snprintf(path, sizeof(path), "%s%s", dirs[i], file);
		if (pgml_json_load_file(path, 1 << 20, &cache[slot].doc, &err) == PGML_OK)
		{
			cache[slot].file = file;
			return cache[slot].doc;
		}
		cache[slot].doc = NULL;
	}
	return NULL;
}

dataset
dataset_from_json(const json_t *m)
{
	dataset		ds = {NULL, 0, 0};

	if (m == NULL || json_array_size(m) == 0)
		return ds;
	ds.n = json_array_size(m);
	ds.d = json_array_size(json_array_get(m, 0));
	ds.x = malloc(ds.n * ds.d * sizeof(float));
	for (size_t i = 0; i < ds.n; i++)
		for (size_t f = 0; f < ds.d; f++)
			ds.x[i * ds.d + f] = (float) json_number_value(json_array_get(json_array_get(m, i), f));
	return ds;
}

dataset
fixture_rows(const char *file, const char *name)
{
	json_t	   *fx = fixture_cached(file);

	return dataset_from_json(fx ? json_object_get(json_object_get(fx, "data"), name) : NULL);
}

pgml_status
fit_rows(const pgml_algorithm *a, const json_t *hp, const dataset *ds, uint64_t seed, pgml_pool *pool, void **state,
		 pgml_err *err)
{
	pgml_fit_args args;
	pgml_data	data;

	args.task = a == &pgml_algo_pca ? PGML_TASK_DECOMPOSITION : PGML_TASK_CLUSTERING;
	args.hyperparams = hp;
	args.n_classes = 0;
	args.seed = seed;
	args.pool = pool;
	data.x = ds->x;
	data.y = NULL;
	data.n_rows = ds->n;
	data.n_features = ds->d;
	data.n_targets = 0;
	return a->fit(&args, &data, state, err);
}

pgml_status
fit_rows_text(const pgml_algorithm *a, const char *params, const dataset *ds, uint64_t seed, pgml_pool *pool,
			  void **state, pgml_err *err)
{
	json_t	   *hp;
	pgml_err	perr;
	pgml_status rc;

	*state = NULL;
	if (pgml_json_parse(params, strlen(params), "test", &hp, &perr) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "bad test params %s", params);
		return PGML_ERR_INTERNAL;
	}
	rc = fit_rows(a, hp, ds, seed, pool, state, err);
	json_decref(hp);
	return rc;
}

uint8_t *
save_state_bytes(const pgml_algorithm *a, const void *state, size_t *len)
{
	pgml_buf	b;
	uint8_t    *out;

	pgml_buf_init(&b);
	a->save(state, &b);
	*len = b.len;
	out = malloc(b.len ? b.len : 1);
	memcpy(out, b.data, b.len);
	pgml_buf_free(&b);
	return out;
}

int *
labels_of(const pgml_algorithm *a, const void *state, const dataset *ds)
{
	float	   *out = malloc((ds->n ? ds->n : 1) * sizeof(float));
	int		   *labels = malloc((ds->n ? ds->n : 1) * sizeof(int));
	pgml_err	err;

	CHECK_INT(a->predict(state, ds->x, ds->n, ds->d, out, &err), PGML_OK);
	for (size_t i = 0; i < ds->n; i++)
		labels[i] = (int) out[i];
	free(out);
	return labels;
}

void
check_corrupt_state(const pgml_algorithm *a, const void *st, size_t n_features, bool one_output)
{
	size_t		len;
	uint8_t    *blob;
	uint8_t    *copy;
	float		probe[64] = {0};
	float		out[64];

	REQUIRE(n_features <= 64);
	blob = save_state_bytes(a, st, &len);
	copy = malloc(len);
	for (size_t cut = 0; cut < len; cut++)
	{
		pgml_reader r;
		pgml_err	err;
		void	   *back = (void *) 1;
		uint8_t    *part = malloc(cut ? cut : 1);	/* exact size, so ASan sees over-reads */

		memcpy(part, blob, cut);
		pgml_reader_init(&r, part, cut, "model", &err);
		if (a->load(&r, &back, &err) != PGML_ERR_CORRUPT || back != NULL)
		{
			test_fail(__FILE__, __LINE__, "%s: truncation to %zu of %zu bytes loaded", a->name, cut, len);
			free(part);
			break;
		}
		CHECK_INT(err.code, PGML_ERR_CORRUPT);
		free(part);
	}
	for (size_t pos = 0; pos < len; pos++)
		for (int v = 0; v < 3; v++)
		{
			static const uint8_t bytes[] = {0xff, 0x00, 0x80};
			pgml_reader r;
			pgml_err	err;
			void	   *back = NULL;
			pgml_status rc;

			memcpy(copy, blob, len);
			if (copy[pos] == bytes[v])
				continue;
			copy[pos] = bytes[v];
			pgml_reader_init(&r, copy, len, "model", &err);
			rc = a->load(&r, &back, &err);
			if (pos < 5)
				CHECK_INT(rc, PGML_ERR_CORRUPT);	/* version and kind */
			if (rc == PGML_OK)
			{
				size_t		no;

				REQUIRE(back != NULL);
				no = a->n_outputs(back);
				if (one_output)
				{
					CHECK_INT(no, 1);
					CHECK_INT(a->predict(back, probe, 1, n_features, out, &err), PGML_OK);
				}
				else if (no <= 64)
					(void) a->predict(back, probe, 1, n_features, out, &err);
				a->free(back);
			}
			else
			{
				CHECK_INT(rc, PGML_ERR_CORRUPT);
				CHECK(back == NULL);
			}
		}
	free(copy);
	free(blob);
}

void
check_pool(const pgml_algorithm *a, const char *params, const dataset *ds, pgml_pool *pool)
{
	void	   *s1 = NULL;
	void	   *s2 = NULL;
	pgml_err	err;
	size_t		l1,
				l2;
	uint8_t    *b1;
	uint8_t    *b2;

	CHECK_INT(fit_rows_text(a, params, ds, 11, NULL, &s1, &err), PGML_OK);
	CHECK_INT(fit_rows_text(a, params, ds, 11, pool, &s2, &err), PGML_OK);
	REQUIRE(s1 && s2);
	b1 = save_state_bytes(a, s1, &l1);
	b2 = save_state_bytes(a, s2, &l2);
	if (l1 != l2 || memcmp(b1, b2, l1) != 0)
		test_fail(__FILE__, __LINE__, "%s %s: a pool changes the result", a->name, params);
	free(b1);
	free(b2);
	a->free(s1);
	a->free(s2);
}

/* ---------------------------------------------------------------------------------------------------
 * Allocation failures
 * ------------------------------------------------------------------------------------------------- */

void *
failing_alloc(size_t size, void *state)
{
	failing    *f = state;

	if (f->count++ == f->fail_at)
		return NULL;
	f->live++;
	return malloc(size);
}

void *
failing_realloc(void *ptr, size_t size, void *state)
{
	failing    *f = state;

	if (f->count++ == f->fail_at)
		return NULL;
	if (ptr == NULL)
		f->live++;
	return realloc(ptr, size);
}

void
failing_free(void *ptr, void *state)
{
	failing    *f = state;

	if (ptr != NULL)
		f->live--;
	free(ptr);
}
