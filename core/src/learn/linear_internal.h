/*
 * linear_internal.h — what linear.c shares with the other linear models (linear_online.c): the fitted state
 * (k linear functions and an output mapping), its predict/save/load, hyperparameter helpers, the data
 * checks, the least-squares solver and L-BFGS. Private to core/src/learn.
 *
 * Every model here predicts through z = W x + b and one of the output mappings below, and is saved in the
 * one format of linear.c (see the top of that file); `kind` names the estimator and load accepts only the
 * kinds of the algorithm it is called for.
 */
#ifndef PGML_LEARN_LINEAR_INTERNAL_H
#define PGML_LEARN_LINEAR_INTERNAL_H

#include "algorithms.h"

#include "pgml/json.h"

#define PGML_LINEAR_MAX_FEATURES	((size_t) 1 << 26)
#define PGML_LINEAR_MAX_FUNCS		((size_t) 1 << 20)
#define PGML_LINEAR_STOP_WORK		((size_t) 1 << 24)	/* flops (about) between two polls of the stop hook */

/* The estimators; the values are stored in model files: never renumber. */
typedef enum linear_kind
{
	KIND_OLS = 1,				/* LinearRegression */
	KIND_LOGISTIC,				/* LogisticRegression */
	KIND_RIDGE,					/* Ridge */
	KIND_RIDGE_CLASSIFIER,		/* RidgeClassifier */
	KIND_LASSO,					/* Lasso */
	KIND_ELASTIC_NET,			/* ElasticNet */
	KIND_SGD,					/* SGDRegressor, SGDClassifier */
	KIND_PERCEPTRON,			/* Perceptron */
	KIND_PASSIVE_AGGRESSIVE,	/* PassiveAggressiveRegressor, PassiveAggressiveClassifier */
	KIND_HUBER,					/* HuberRegressor */
	KIND_QUANTILE,				/* QuantileRegressor */
	KIND_RANSAC,				/* RANSACRegressor (LinearRegression inside) */
	KIND_THEIL_SEN,				/* TheilSenRegressor */
} linear_kind;

#define KIND_LAST KIND_THEIL_SEN
#define KIND_BIT(k) (1u << (k))

typedef enum linear_output
{
	OUT_LINEAR = 1,				/* the functions themselves */
	OUT_BINARY_SCORE,			/* one function s: [-s, s] */
	OUT_SIGMOID,				/* one function z: [1 - σ(z), σ(z)] */
	OUT_SOFTMAX,				/* one function per class: softmax */
	OUT_OVR,					/* one function per class: σ(z_c) / Σ σ(z_k) */
} linear_output;

typedef struct linear_state
{
	linear_kind kind;
	pgml_task	task;
	linear_output output;
	size_t		n_features;
	size_t		n_funcs;
	size_t		n_outputs;
	double	   *coef;			/* n_funcs × n_features, row-major */
	double	   *intercept;		/* n_funcs */
	json_t	   *params;			/* the effective hyperparameters */
} linear_state;

/* ---------------------------------------------------------------------------------------------------
 * Hyperparameters
 * ------------------------------------------------------------------------------------------------- */

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

/* The value of key in hp, or NULL when it is missing or JSON null. */
const json_t *pgml_linear_hp_value(const json_t *hp, const char *key);

/* The effective hyperparameters: the caller's values where given, the defaults elsewhere. NULL: no memory. */
json_t	   *pgml_linear_effective_params(const json_t *hp, const param_default *defaults);

/* A string hyperparameter that must be one of `choices` (NULL-terminated). */
pgml_status pgml_linear_hp_choice(const json_t *hp, const char *key, const char *def, const char *const *choices,
								  const char **out, pgml_err *err);

/* A number that must be finite and strictly positive. */
pgml_status pgml_linear_hp_positive(const json_t *hp, const char *key, double def, double *out, pgml_err *err);

/* random_state: null (use def, the fit's seed) or an integer from 0 to 2^32 - 1, as sklearn accepts. */
pgml_status pgml_linear_hp_seed(const json_t *hp, uint64_t def, uint64_t *out, pgml_err *err);

/* Checks the type of the hyperparameters that change nothing here: copy_X, n_jobs, warm_start, verbose. */
pgml_status pgml_linear_hp_check_inert(const json_t *hp, pgml_err *err);

/* class_weight: only null is implemented. */
pgml_status pgml_linear_hp_class_weight(const json_t *hp, pgml_err *err);

/* ---------------------------------------------------------------------------------------------------
 * Fitting
 * ------------------------------------------------------------------------------------------------- */

/* Records an out-of-memory error. */
pgml_status pgml_linear_oom(pgml_err *err);

/* Common start of a fit: the task is supported, the keys are known, the data are sound (sizes, finite
 * values, class indices). *state is set to NULL. */
pgml_status pgml_linear_fit_begin(const pgml_algorithm *algo, const pgml_fit_args *args, const pgml_data *d,
								  void **state, pgml_err *err);

/* Finishes a fit: records the effective hyperparameters and hands st over (freed on failure). */
pgml_status pgml_linear_fit_end(linear_state *st, const json_t *hp, const param_default *defaults, void **state,
								pgml_err *err);

/* A new state with zeroed coefficients, or NULL when out of memory. */
linear_state *pgml_linear_state_new(linear_kind kind, pgml_task task, linear_output output, size_t n_features,
									size_t n_funcs, size_t n_outputs);

/* splitmix64: the next number of the sequence whose state is *state. */
uint64_t	pgml_linear_random(uint64_t *state);

/*
 * Ordinary least squares on n rows of x (row-major, p features) and targets y: coef (p) and *intercept
 * (0 without fit_intercept). The minimum-norm solution when the design is rank deficient (LAPACK dgelsd on
 * centered data, singular values below eps · max(n, p) times the largest dropped), as LinearRegression.
 */
pgml_status pgml_linear_ols(const float *x, const double *y, size_t n, size_t p, bool fit_intercept,
							double *coef, double *intercept, pgml_err *err);

/* An objective for L-BFGS: f and its gradient at theta. */
typedef pgml_status (*pgml_objective_fn) (void *ctx, const double *theta, double *f, double *grad,
										  pgml_err *err);

/*
 * Minimizes fn from theta (dim values, updated in place) by limited-memory BFGS (10 pairs, strong Wolfe line
 * search). Stops when max |g| <= gtol, when the relative decrease of f is <= 2.2e-9 (scipy's defaults), or
 * after max_iter iterations. *converged is false only when max_iter ran out or no step decreased f.
 */
pgml_status pgml_linear_lbfgs(pgml_objective_fn fn, void *ctx, size_t dim, double *theta, int64_t max_iter,
							  double gtol, int64_t *n_iter, bool *converged, pgml_err *err);

/* ---------------------------------------------------------------------------------------------------
 * The state's table functions
 * ------------------------------------------------------------------------------------------------- */

void		pgml_linear_free(void *state);
size_t		pgml_linear_n_outputs(const void *state);
pgml_status pgml_linear_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out,
								pgml_err *err);
json_t	   *pgml_linear_params(const void *state);
void		pgml_linear_save(const void *state, pgml_buf *out);

/* Reads a state whose kind is one of `kinds` (KIND_BIT mask), validating all of it. */
pgml_status pgml_linear_load_kinds(pgml_reader *in, unsigned kinds, void **state, pgml_err *err);

/* Polls the stop hook once `work` (accumulated in *acc) passes PGML_LINEAR_STOP_WORK. */
static inline pgml_status
pgml_linear_poll_stop(size_t *acc, size_t work, pgml_err *err)
{
	*acc += work;
	if (*acc < PGML_LINEAR_STOP_WORK)
		return PGML_OK;
	*acc = 0;
	return pgml_check_stop(err);
}

#endif							/* PGML_LEARN_LINEAR_INTERNAL_H */
