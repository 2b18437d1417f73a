/*
 * fixture.h — shared helpers for the tests of the learning algorithms (test_linear*.c, test_svm.c,
 * test_knn.c, test_trees.c, test_boost.c, test_cluster*.c).
 *
 * The oracle of those tests is scikit-learn: tools/fixtures/make_*_fixtures.py write JSON documents with
 * small data sets and sklearn's results, and these helpers read them, fit an algorithm table on them,
 * compare outputs, and abuse saved models. Helpers report problems with test_fail (test.h), so a caller
 * only needs to look at the return value when later code depends on it.
 *
 * Two shapes of data:
 *   supervised  fixture documents {"datasets": {name: {x, y, x_test, [y_test], n_classes}}, "cases": [...]},
 *               read into fixture_data (matrix = rows × cols of floats)
 *   clustering  documents {"data": {name: rows}, ...}, read into dataset (n × d floats)
 */
#ifndef PGML_TEST_FIXTURE_H
#define PGML_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgml/buf.h"
#include "pgml/json.h"
#include "pgml/learn.h"
#include "pgml/pool.h"

/* ---------------------------------------------------------------------------------------------------
 * Supervised fixtures
 * ------------------------------------------------------------------------------------------------- */

/* A row-major float matrix (malloc'd v). */
typedef struct matrix
{
	float	   *v;
	size_t		rows;
	size_t		cols;
} matrix;

/*
 * Reads a JSON array of rows (or of numbers: one column) into m as floats. False when a is not a
 * non-empty array or its rows differ in length; m->v may then still need freeing.
 */
int			matrix_from_json(const json_t *a, matrix *m);

/* The JSON document at path (relative to core/), or NULL after a test failure. Free it with json_decref. */
json_t	   *load_fixture(const char *path);

/* A data set of a fixture: training rows x and targets y, test rows xt and (when given) their targets yt. */
typedef struct fixture_data
{
	matrix		x;
	matrix		y;
	matrix		xt;
	matrix		yt;				/* v is NULL when the data set has no "y_test" */
	int			n_classes;
} fixture_data;

/* Reads data set `name` of a fixture document into fd; false when it is missing or malformed. */
int			fixture_dataset(const json_t *doc, const char *name, fixture_data *fd);

/* Frees what fixture_dataset allocated (also after it failed). */
void		fixture_data_free(fixture_data *fd);

/* The table called name among list (NULL-terminated), or NULL: limits a fixture's cases to one file's algorithms. */
const pgml_algorithm *algo_in(const pgml_algorithm *const *list, const char *name);

/*
 * Fits algo on the training rows of fd with hyperparameters hp, seed and pool (may be NULL). Regression
 * fits every column of y; classification uses fd->n_classes. Returns the fit's status, *state the model.
 */
pgml_status fit_on(const pgml_algorithm *algo, pgml_task task, const fixture_data *fd, const json_t *hp,
				   uint64_t seed, pgml_pool *pool, void **state, pgml_err *err);

/*
 * Fits the algorithm called name on fixture data set `data` with hyperparameters given as JSON text. A
 * missing data set or bad JSON is a test failure and gives PGML_ERR_INTERNAL with *state NULL.
 */
pgml_status fit_text(const json_t *doc, const char *name, pgml_task task, const char *data, const char *hp_text,
					 uint64_t seed, pgml_pool *pool, void **state, pgml_err *err);

/* The effective parameters (algo->params) of a fit_text fit, as JSON text (pgml_free it); NULL after a test failure. */
char	   *params_text(const json_t *doc, const char *name, pgml_task task, const char *data, const char *hp_text,
						uint64_t seed);

/* Saves state into buf (initialised here; pgml_buf_free it); false when the buffer failed. */
int			save_state(const pgml_algorithm *algo, const void *state, pgml_buf *buf);

/* Loads len bytes of a saved model with algo; what names the blob in error messages ("linear model"). */
pgml_status load_blob(const pgml_algorithm *algo, const char *what, const void *data, size_t len, void **state,
					  pgml_err *err);

/*
 * Compares outputs pred with sklearn's (expect, rows × cols): each must be within tol · max(1, |sklearn|)
 * when relative, tol otherwise. The first miss is a test failure "<label>: row r output o is a, sklearn b".
 * Returns the worst |pred - sklearn| as a fraction of its tolerance.
 */
double		check_outputs(const float *pred, const matrix *expect, double tol, bool relative, const char *label);

/*
 * Saves state, loads it back with algo and checks that the loaded model predicts exactly pred (xt->rows ×
 * n_out) on xt and reports the same parameters. Failures name what; blob_what names the blob (load_blob).
 */
void		check_save_load(const pgml_algorithm *algo, const char *blob_what, const void *state, const matrix *xt,
							 const float *pred, size_t n_out, const char *what);

/* The index of the first maximum of n scores. */
size_t		argmax(const float *v, size_t n);

/* R² of a (ours) against b (the reference), over n values. */
double		r2_against(const float *a, const float *b, size_t n);

/* ---------------------------------------------------------------------------------------------------
 * Corrupt saved models
 * ------------------------------------------------------------------------------------------------- */

/* What check_corrupt_blobs does with a model that loaded although a byte of its blob was flipped. */
typedef void (*loaded_check) (const pgml_algorithm *algo, void *state, const uint8_t *blob, void *arg);

/*
 * Loads every truncation of buf (each must fail with PGML_ERR_CORRUPT and no state), then buf with each
 * byte XORed with each of masks[0..n_masks-1]: a load must fail with PGML_ERR_CORRUPT and no state, or
 * succeed, and then check(algo, state, flipped blob, arg) runs on the model before it is freed.
 */
void		check_corrupt_blobs(const pgml_algorithm *algo, const char *what, const pgml_buf *buf,
								const uint8_t *masks, size_t n_masks, loaded_check check, void *arg);

/*
 * check_corrupt_blobs with the masks 0x01, 0x80 and 0xff, where a model that loads must have 1 to 64
 * outputs and predict row (n_features values; NULL: zeros) with PGML_OK (or PGML_ERR_DATA when
 * allow_data_error).
 */
void		check_hostile(const pgml_algorithm *algo, const char *what, const pgml_buf *buf, const float *row,
						  size_t n_features, bool allow_data_error);

/*
 * A loaded_check for tree-ensemble blobs (arg unused), whose feature count is the little-endian u64 at
 * byte 7: 1 to 64 outputs, and with at most 64 features, predicting rows whose first value is -1e30, 0
 * and 1e30 works.
 */
void		check_predicts_extremes(const pgml_algorithm *algo, void *state, const uint8_t *blob, void *arg);

/* ---------------------------------------------------------------------------------------------------
 * Clustering and decomposition fixtures
 * ------------------------------------------------------------------------------------------------- */

/* An n × d row-major float matrix (malloc'd x). */
typedef struct dataset
{
	float	   *x;
	size_t		n;
	size_t		d;
} dataset;

/*
 * The fixture document called file ("cluster.json"), read once from tests/fixtures/ or core/tests/fixtures/
 * and kept for the whole run; NULL when neither can be read.
 */
json_t	   *fixture_cached(const char *file);

/* A JSON array of rows as floats (the fixtures' values are float32 already); {NULL, 0, 0} when empty. */
dataset		dataset_from_json(const json_t *m);

/* Data set `name` of the "data" object of fixture file (see fixture_cached). */
dataset		fixture_rows(const char *file, const char *name);

/* Fits a clustering algorithm (decomposition for PCA) on ds with hyperparameters hp, seed and pool. */
pgml_status fit_rows(const pgml_algorithm *a, const json_t *hp, const dataset *ds, uint64_t seed, pgml_pool *pool,
					 void **state, pgml_err *err);

/* fit_rows with hyperparameters as JSON text; bad JSON is a test failure and PGML_ERR_INTERNAL. */
pgml_status fit_rows_text(const pgml_algorithm *a, const char *params, const dataset *ds, uint64_t seed,
						  pgml_pool *pool, void **state, pgml_err *err);

/* A saved state as bytes (malloc'd, *len of them). */
uint8_t    *save_state_bytes(const pgml_algorithm *a, const void *state, size_t *len);

/* Predicted labels of every row of ds (malloc'd). */
int		   *labels_of(const pgml_algorithm *a, const void *state, const dataset *ds);

/*
 * Loads every truncation of st's saved form (into exact-size buffers, so ASan sees over-reads) and the
 * form with each byte set to 0xff, 0x00 and 0x80: truncations and changes to the first 5 bytes (version
 * and kind) must fail with PGML_ERR_CORRUPT; other changes may load, and the model then predicts a row of
 * zeros (one_output: it must have one output and predicting must work).
 */
void		check_corrupt_state(const pgml_algorithm *a, const void *st, size_t n_features, bool one_output);

/* Fits with params and seed 11 without and with pool; the saved states must be identical. */
void		check_pool(const pgml_algorithm *a, const char *params, const dataset *ds, pgml_pool *pool);

/* ---------------------------------------------------------------------------------------------------
 * Allocation failures
 * ------------------------------------------------------------------------------------------------- */

/*
 * The state of an allocator (failing_alloc, failing_realloc, failing_free) that fails the allocation
 * numbered fail_at (0-based), counts them all, and tracks how many blocks are live.
 */
typedef struct failing
{
	long		count;
	long		fail_at;
	long		live;
} failing;

void	   *failing_alloc(size_t size, void *state);
void	   *failing_realloc(void *ptr, size_t size, void *state);
void		failing_free(void *ptr, void *state);

#endif							/* PGML_TEST_FIXTURE_H */
