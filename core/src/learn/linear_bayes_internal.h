/*
 * linear_bayes_internal.h — helpers of linear.c shared with linear_bayes.c (private to core/src/learn).
 *
 * linear.c defines them; linear_bayes.c (Bayesian ridge, ARD, LARS, OMP, kernel ridge, Gaussian processes)
 * uses them so that hyperparameters, training data and saved states are checked the same way everywhere.
 */
#ifndef PGML_LEARN_LINEAR_BAYES_INTERNAL_H
#define PGML_LEARN_LINEAR_BAYES_INTERNAL_H

#include "pgml/buf.h"
#include "pgml/json.h"
#include "pgml/learn.h"

/* The kind of a hyperparameter's default value. */
typedef enum default_type
{
	DEF_NULL,
	DEF_TRUE,
	DEF_FALSE,
	DEF_INT,
	DEF_REAL,
	DEF_STRING,
} default_type;

/* A hyperparameter's default, for the effective parameters. */
typedef struct param_default
{
	const char *name;
	default_type type;
	double		number;
	const char *string;
	bool		null_is_value;	/* an explicit null means something else than the default */
} param_default;

#define PD_NULL(name)		{name, DEF_NULL, 0, NULL, false}
#define PD_BOOL(name, v)	{name, (v) ? DEF_TRUE : DEF_FALSE, 0, NULL, false}
#define PD_INT(name, v)		{name, DEF_INT, v, NULL, false}
#define PD_REAL(name, v)	{name, DEF_REAL, v, NULL, false}
#define PD_STR(name, v)		{name, DEF_STRING, 0, v, false}
#define PD_END				{NULL, DEF_NULL, 0, NULL, false}

/* The effective hyperparameters: hp's values where given, the defaults elsewhere. NULL: out of memory. */
json_t	   *pgml_linear_effective_params(const json_t *hp, const param_default *defaults);

/* The value of key in hp, or NULL when it is missing or JSON null. */
const json_t *pgml_linear_hp_value(const json_t *hp, const char *key);

/* A string hyperparameter that must be one of `choices` (NULL-terminated); the error lists them. */
pgml_status pgml_linear_hp_choice(const json_t *hp, const char *key, const char *def,
								  const char *const *choices, const char **out, pgml_err *err);

/* random_state: null gives def, else an integer from 0 to 2^32 - 1 (numpy's RandomState range). */
pgml_status pgml_linear_hp_seed(const json_t *hp, uint64_t def, uint64_t *out, pgml_err *err);

/* Checks the types of copy_X, warm_start, n_jobs and verbose (an integer or a boolean) when given. */
pgml_status pgml_linear_hp_check_inert(const json_t *hp, pgml_err *err);

/*
 * The common start of a fit: args->task is one the algorithm supports (else PGML_ERR_NOT_SUPPORTED), the
 * hyperparameter keys are known, the data are non-empty, finite, within limits, with class indices in
 * 0..n_classes-1 for classification. Sets *state to NULL.
 */
pgml_status pgml_linear_fit_begin(const pgml_algorithm *algo, const pgml_fit_args *args, const pgml_data *d,
								  void **state, pgml_err *err);

/* Marks a saved state corrupt for `reason` and makes sure err carries the message. PGML_ERR_CORRUPT. */
pgml_status pgml_linear_load_fail(pgml_reader *in, pgml_err *err, const char *reason);

/*
 * Minimum-norm least squares by LAPACK dgelsd: A (m × n, column-major, lda = m) is overwritten; B (ldb × t,
 * column-major) receives the solution in its first n rows. Singular values below rcond times the largest
 * count as zero.
 */
pgml_status pgml_linear_gelsd(size_t m, size_t n, size_t t, double *A, double *B, size_t ldb, double rcond,
							  pgml_err *err);

#endif							/* PGML_LEARN_LINEAR_BAYES_INTERNAL_H */
