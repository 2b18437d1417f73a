/*
 * linear.c — linear models: least squares, ridge, lasso, elastic net and logistic regression, standing for
 * scikit-learn's LinearRegression, Ridge, RidgeClassifier, Lasso, ElasticNet and LogisticRegression.
 *
 * Every fitted model is k linear functions z = W x + b (W is k × n_features), held in double:
 *   regression            one function per target
 *   RidgeClassifier       one function (two classes; scores [-z, z]) or one per class (the scores)
 *   LogisticRegression    one function (two classes; [1 - σ(z), σ(z)]), or one per class: softmax
 *                         (multinomial) or one-vs-rest sigmoids normalized to sum to 1 (as sklearn does)
 *
 * Solvers, all in double (X arrives as float and is widened block by block where possible):
 *   least squares   centered data when fitting an intercept. Tall data are reduced to a p × p triangle R
 *                   by Householder QR of [R; next block of rows], block after block (the stop hook is polled
 *                   in between), and LAPACK's dgelsd (SVD) solves R w = Q'y for the minimum-norm solution;
 *                   singular values below eps · max(n, p) times the largest count as zero. Wide data go to
 *                   dgelsd directly.
 *   ridge           exact: Cholesky of X'X + αI (or of XX' + αI when there are more features than rows),
 *                   the SVD when that matrix is not positive definite (α = 0 and a singular design).
 *   lasso, elastic  coordinate descent on n times sklearn's objective
 *                       1/(2n) ||y - Xw - b||² + α ρ ||w||₁ + ½ α (1 - ρ) ||w||²
 *                   i.e. ½ ||r||² + l1 ||w||₁ + ½ l2 ||w||² with l1 = αρn, l2 = α(1 - ρ)n. After a sweep
 *                   whose largest update is below tol · max |w|, the duality gap is computed; the fit stops
 *                   when it is below tol · ||y||² (sklearn's rule). Rows >= features: the updates run on
 *                   the Gram matrix (O(p) each); otherwise on the residual (O(n) each). Several targets
 *                   are fit one after the other (multi_target), as sklearn's Lasso does.
 *   logistic        L-BFGS (10 pairs, strong Wolfe line search) on Σ log-loss + ||W||² / (2C), intercepts
 *                   not penalized (sklearn 1.2's lbfgs objective: a sum over rows, not a mean). Stops when
 *                   max |gradient| <= tol (scipy's gtol, which sklearn sets to tol), when the objective
 *                   decreases by less than 2.2e-9 relatively (scipy's default ftol), or after max_iter.
 *                   solver "liblinear" penalizes the intercept, as liblinear does, through a constant
 *                   feature worth intercept_scaling.
 *
 * Saved form (inside the model file), little-endian:
 *   u32 format (1) · u8 kind · u8 task · u8 output · u64 n_features · u64 n_funcs · u64 n_outputs ·
 *   f64s coef (n_funcs × n_features) · f64s intercept (n_funcs) · str effective hyperparameters (JSON)
 *
 * The state, its predict/save/load, the hyperparameter helpers, least squares and L-BFGS are shared with
 * linear_online.c (SGD, perceptron, passive-aggressive, Huber, quantile, RANSAC, Theil-Sen) through
 * linear_internal.h; the kinds of both files are listed there.
 */
#include "linear_internal.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "pgml/json.h"
#include "linear_bayes_internal.h"

#define LINEAR_FORMAT		1
#define MAX_FEATURES		PGML_LINEAR_MAX_FEATURES
#define MAX_FUNCS			PGML_LINEAR_MAX_FUNCS
#define MAX_COEFS			((size_t) 1 << 30)
#define MAX_PARAMS_JSON		65536
#define BLOCK_WORK			((size_t) 1 << 26)	/* flops (about) per block of rows */
#define GRAM_MAX_FEATURES	4096
#define LBFGS_MEMORY		10
#define LBFGS_MAX_LS		20
#define LBFGS_FTOL			2.220446049250313e-09
#define WOLFE_C1			1e-4
#define WOLFE_C2			0.9

/* The hyperparameters a fit uses (the others are accepted and recorded only). */
typedef struct linear_hp
{
	bool		fit_intercept;
	bool		positive;
	double		alpha;
	double		l1_ratio;
	double		tol;
	int64_t		max_iter;
	bool		random_selection;
	uint64_t	seed;
	/* logistic regression */
	double		C;
	bool		penalized;
	bool		liblinear;
	bool		multinomial;	/* else one-vs-rest */
	double		intercept_scaling;
	bool		verbose;
} linear_hp;

/* ---------------------------------------------------------------------------------------------------
 * Hyperparameters
 * ------------------------------------------------------------------------------------------------- */

static const char *const no_params[] = {NULL};

static const char *const ols_params[] = {
	"fit_intercept", "copy_X", "n_jobs", "positive", NULL
};

static const char *const logistic_params[] = {
	"penalty", "dual", "tol", "C", "fit_intercept", "intercept_scaling", "class_weight", "random_state",
	"solver", "max_iter", "multi_class", "verbose", "warm_start", "n_jobs", "l1_ratio", NULL
};

static const char *const ridge_params[] = {
	"alpha", "fit_intercept", "copy_X", "max_iter", "tol", "solver", "positive", "random_state", NULL
};

static const char *const ridge_classifier_params[] = {
	"alpha", "fit_intercept", "copy_X", "max_iter", "tol", "class_weight", "solver", "positive",
	"random_state", NULL
};

static const char *const lasso_params[] = {
	"alpha", "fit_intercept", "precompute", "copy_X", "max_iter", "tol", "warm_start", "positive",
	"random_state", "selection", NULL
};

static const char *const elastic_net_params[] = {
	"alpha", "l1_ratio", "fit_intercept", "precompute", "max_iter", "copy_X", "tol", "warm_start",
	"positive", "random_state", "selection", NULL
};

static const param_default ols_defaults[] = {
	PD_BOOL("fit_intercept", true), PD_BOOL("copy_X", true), PD_NULL("n_jobs"), PD_BOOL("positive", false),
	PD_END
};

static const param_default logistic_defaults[] = {
	{"penalty", DEF_STRING, 0, "l2", true}, PD_BOOL("dual", false), PD_REAL("tol", 1e-4),
	PD_REAL("C", 1.0), PD_BOOL("fit_intercept", true), PD_INT("intercept_scaling", 1),
	PD_NULL("class_weight"), PD_NULL("random_state"), PD_STR("solver", "lbfgs"),
	PD_INT("max_iter", 100), PD_STR("multi_class", "auto"), PD_INT("verbose", 0),
	PD_BOOL("warm_start", false), PD_NULL("n_jobs"), PD_NULL("l1_ratio"),
	PD_END
};

static const param_default ridge_defaults[] = {
	PD_REAL("alpha", 1.0), PD_BOOL("fit_intercept", true), PD_BOOL("copy_X", true), PD_NULL("max_iter"),
	PD_REAL("tol", 1e-4), PD_STR("solver", "auto"), PD_BOOL("positive", false),
	PD_NULL("random_state"),
	PD_END
};

static const param_default ridge_classifier_defaults[] = {
	PD_REAL("alpha", 1.0), PD_BOOL("fit_intercept", true), PD_BOOL("copy_X", true), PD_NULL("max_iter"),
	PD_REAL("tol", 1e-4), PD_NULL("class_weight"), PD_STR("solver", "auto"),
	PD_BOOL("positive", false), PD_NULL("random_state"),
	PD_END
};

static const param_default lasso_defaults[] = {
	PD_REAL("alpha", 1.0), PD_BOOL("fit_intercept", true), PD_BOOL("precompute", false), PD_BOOL("copy_X", true),
	PD_INT("max_iter", 1000), PD_REAL("tol", 1e-4), PD_BOOL("warm_start", false),
	PD_BOOL("positive", false), PD_NULL("random_state"), PD_STR("selection", "cyclic"),
	PD_END
};

static const param_default elastic_net_defaults[] = {
	PD_REAL("alpha", 1.0), PD_REAL("l1_ratio", 0.5), PD_BOOL("fit_intercept", true),
	PD_BOOL("precompute", false), PD_INT("max_iter", 1000), PD_BOOL("copy_X", true), PD_REAL("tol", 1e-4),
	PD_BOOL("warm_start", false), PD_BOOL("positive", false), PD_NULL("random_state"),
	PD_STR("selection", "cyclic"),
	PD_END
};

/* The value of key in hp, or NULL when it is missing or JSON null. */
const json_t *
pgml_linear_hp_value(const json_t *hp, const char *key)
{
	const json_t *v;

	if (hp == NULL || !json_is_object(hp))
		return NULL;
	v = json_object_get(hp, key);
	return v == NULL || json_is_null(v) ? NULL : v;
}

/* The effective hyperparameters: the caller's values where given, the defaults elsewhere. NULL: no memory. */
json_t *
pgml_linear_effective_params(const json_t *hp, const param_default *defaults)
{
	json_t	   *params = json_object();
	bool		failed = params == NULL;

	for (const param_default *d = defaults; !failed && d->name != NULL; d++)
	{
		const json_t *given = hp && json_is_object(hp) ? json_object_get(hp, d->name) : NULL;
		json_t	   *value;

		if (given != NULL && (!json_is_null(given) || d->null_is_value || d->type == DEF_NULL))
			value = json_deep_copy(given);
		else
		{
			switch (d->type)
			{
				case DEF_TRUE:
					value = json_true();
					break;
				case DEF_FALSE:
					value = json_false();
					break;
				case DEF_INT:
					value = json_integer((json_int_t) d->number);
					break;
				case DEF_REAL:
					value = json_real(d->number);
					break;
				case DEF_STRING:
					value = json_string(d->string);
					break;
				default:
					value = json_null();
					break;
			}
		}
		if (json_object_set_new(params, d->name, value) != 0)
			failed = true;
	}
	if (failed)
	{
		json_decref(params);
		return NULL;
	}
	return params;
}

/* A string hyperparameter that must be one of `choices` (NULL-terminated). */
pgml_status
pgml_linear_hp_choice(const json_t *hp, const char *key, const char *def, const char *const *choices,
					  const char **out, pgml_err *err)
{
	pgml_status rc = pgml_json_get_string(hp, key, def, out, err);
	char		list[512];
	size_t		used = 0;

	if (rc != PGML_OK)
		return rc;
	for (const char *const *c = choices; *c != NULL; c++)
	{
		if (strcmp(*c, *out) == 0)
			return PGML_OK;
	}
	list[0] = '\0';
	for (const char *const *c = choices; *c != NULL && used < sizeof(list); c++)
	{
		int			w = snprintf(list + used, sizeof(list) - used, "%s\"%s\"", c == choices ? "" : ", ", *c);

		if (w < 0)
			break;
		used += (size_t) w;
	}
	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"%s\": \"%s\"", key, *out);
	pgml_err_detail(err, "Valid values are %s.", list);
	return PGML_ERR_INVALID_ARGUMENT;
}

/* A number that must be finite and strictly positive (C, intercept_scaling). */
pgml_status
pgml_linear_hp_positive(const json_t *hp, const char *key, double def, double *out, pgml_err *err)
{
	pgml_status rc = pgml_json_get_real(hp, key, def, 0.0, DBL_MAX, out, err);

	if (rc != PGML_OK)
		return rc;
	if (!(*out > 0.0))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" must be positive", key);
		pgml_err_detail(err, "It is %g.", *out);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

/* random_state: null (use the fit's seed) or an integer from 0 to 2^32 - 1, as sklearn accepts. */
pgml_status
pgml_linear_hp_seed(const json_t *hp, uint64_t def, uint64_t *out, pgml_err *err)
{
	int64_t		v;
	pgml_status rc = pgml_json_get_int(hp, "random_state", -1, 0, (int64_t) UINT32_MAX, &v, err);

	if (rc != PGML_OK)
		return rc;
	*out = v < 0 ? def : (uint64_t) v;
	return PGML_OK;
}

/* Checks the type of the hyperparameters that change nothing here: copy_X, n_jobs, warm_start, verbose. */
pgml_status
pgml_linear_hp_check_inert(const json_t *hp, pgml_err *err)
{
	bool		b;
	int64_t		i;
	pgml_status rc;

	if ((rc = pgml_json_get_bool(hp, "copy_X", true, &b, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "warm_start", false, &b, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "n_jobs", 0, INT_MIN, INT_MAX, &i, err)) != PGML_OK)
		return rc;
	if (pgml_linear_hp_value(hp, "verbose") == NULL || !json_is_boolean(pgml_linear_hp_value(hp, "verbose")))
	{
		if ((rc = pgml_json_get_int(hp, "verbose", 0, 0, INT_MAX, &i, err)) != PGML_OK)
			return rc;
	}
	return PGML_OK;
}

/* class_weight: only null is implemented. */
pgml_status
pgml_linear_hp_class_weight(const json_t *hp, pgml_err *err)
{
	const json_t *v = pgml_linear_hp_value(hp, "class_weight");

	if (v == NULL)
		return PGML_OK;
	if (json_is_string(v))
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "class_weight \"%s\" is not supported", json_string_value(v));
	else
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "class_weight given as %s %s is not supported",
				   json_is_object(v) || json_is_array(v) ? "an" : "a", pgml_json_type_name(v));
	pgml_err_detail(err, "Only class_weight null (every class weighs the same) is implemented.");
	return PGML_ERR_NOT_SUPPORTED;
}

/* The hyperparameters of LinearRegression. */
static pgml_status
parse_ols(const json_t *hp, linear_hp *out, pgml_err *err)
{
	pgml_status rc;

	if ((rc = pgml_json_get_bool(hp, "fit_intercept", true, &out->fit_intercept, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "positive", false, &out->positive, err)) != PGML_OK ||
		(rc = pgml_linear_hp_check_inert(hp, err)) != PGML_OK)
		return rc;
	if (out->positive)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "positive=true is not supported by linear regression");
		pgml_err_detail(err, "Non-negative least squares is not implemented.");
		pgml_err_hint(err, "Use algorithm lasso with positive=true and a small alpha.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	return PGML_OK;
}

/* The hyperparameters of LogisticRegression; n_classes decides multi_class "auto". */
static pgml_status
parse_logistic(const json_t *hp, int n_classes, linear_hp *out, pgml_err *err)
{
	static const char *const solvers[] = {
		"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga", NULL
	};
	static const char *const multi[] = {"auto", "ovr", "multinomial", NULL};
	const json_t *penalty = hp && json_is_object(hp) ? json_object_get(hp, "penalty") : NULL;
	const char *solver;
	const char *multi_class;
	bool		dual;
	double		l1_ratio;
	uint64_t	seed;
	pgml_status rc;

	/* penalty: "l2" (default), "none" or null; l1 and elasticnet are valid in sklearn but not here */
	out->penalized = true;
	if (penalty != NULL && json_is_null(penalty))
		out->penalized = false;
	else if (penalty != NULL)
	{
		const char *name;

		if (!json_is_string(penalty))
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"penalty\" must be a string or null, not %s",
							  pgml_json_type_name(penalty));
		name = json_string_value(penalty);
		if (strcmp(name, "none") == 0)
			out->penalized = false;
		else if (strcmp(name, "l1") == 0 || strcmp(name, "elasticnet") == 0)
		{
			pgml_error(err, PGML_ERR_NOT_SUPPORTED, "penalty \"%s\" is not supported by logistic regression",
					   name);
			pgml_err_detail(err, "Only penalty \"l2\" and no penalty (null or \"none\") are implemented.");
			return PGML_ERR_NOT_SUPPORTED;
		}
		else if (strcmp(name, "l2") != 0)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"penalty\": \"%s\"",
					   name);
			pgml_err_detail(err, "Valid values are \"l2\", \"l1\", \"elasticnet\", \"none\" and null.");
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	if ((rc = pgml_json_get_bool(hp, "dual", false, &dual, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "tol", 1e-4, 0.0, DBL_MAX, &out->tol, err)) != PGML_OK ||
		(rc = pgml_linear_hp_positive(hp, "C", 1.0, &out->C, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "fit_intercept", true, &out->fit_intercept, err)) != PGML_OK ||
		(rc = pgml_linear_hp_positive(hp, "intercept_scaling", 1.0, &out->intercept_scaling, err)) != PGML_OK ||
		(rc = pgml_linear_hp_class_weight(hp, err)) != PGML_OK ||
		(rc = pgml_linear_hp_seed(hp, 0, &seed, err)) != PGML_OK ||
		(rc = pgml_linear_hp_choice(hp, "solver", "lbfgs", solvers, &solver, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "max_iter", 100, 1, INT_MAX, &out->max_iter, err)) != PGML_OK ||
		(rc = pgml_linear_hp_choice(hp, "multi_class", "auto", multi, &multi_class, err)) != PGML_OK ||
		(rc = pgml_linear_hp_check_inert(hp, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "l1_ratio", 0.0, 0.0, 1.0, &l1_ratio, err)) != PGML_OK)
		return rc;
	{
		const json_t *v = pgml_linear_hp_value(hp, "verbose");

		out->verbose = v != NULL && (json_is_true(v) || (json_is_integer(v) && json_integer_value(v) > 0));
	}
	out->liblinear = strcmp(solver, "liblinear") == 0;
	if (dual && !(out->liblinear && out->penalized))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "dual=true needs solver \"liblinear\" and penalty \"l2\"");
		pgml_err_detail(err, "The dual formulation is only defined for the L2-penalized liblinear solver.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (out->liblinear && !out->penalized)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "solver \"liblinear\" needs a penalty");
	if (strcmp(multi_class, "multinomial") == 0)
	{
		if (out->liblinear)
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT,
							  "solver \"liblinear\" does not support multi_class \"multinomial\"");
		out->multinomial = true;
	}
	else if (strcmp(multi_class, "ovr") == 0)
		out->multinomial = false;
	else
		out->multinomial = n_classes > 2 && !out->liblinear;
	return PGML_OK;
}

/* The hyperparameters of Ridge and RidgeClassifier. */
static pgml_status
parse_ridge(const json_t *hp, bool classifier, linear_hp *out, pgml_err *err)
{
	static const char *const solvers[] = {
		"auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs", NULL
	};
	const char *solver;
	int64_t		max_iter;
	uint64_t	seed;
	pgml_status rc;

	if ((rc = pgml_json_get_real(hp, "alpha", 1.0, 0.0, DBL_MAX, &out->alpha, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "fit_intercept", true, &out->fit_intercept, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "max_iter", 1, 1, INT_MAX, &max_iter, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "tol", 1e-4, 0.0, DBL_MAX, &out->tol, err)) != PGML_OK ||
		(rc = pgml_linear_hp_choice(hp, "solver", "auto", solvers, &solver, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "positive", false, &out->positive, err)) != PGML_OK ||
		(rc = pgml_linear_hp_seed(hp, 0, &seed, err)) != PGML_OK ||
		(rc = pgml_linear_hp_check_inert(hp, err)) != PGML_OK)
		return rc;
	if (classifier && (rc = pgml_linear_hp_class_weight(hp, err)) != PGML_OK)
		return rc;
	if (out->positive)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "positive=true is not supported by ridge");
		pgml_err_detail(err, "Ridge regression with non-negative coefficients is not implemented.");
		pgml_err_hint(err, "Use algorithm elastic_net with positive=true and a small l1_ratio.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if (strcmp(solver, "lbfgs") == 0)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "solver \"lbfgs\" needs positive=true");
		pgml_err_detail(err, "scikit-learn uses that solver only for non-negative coefficients.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

/* The hyperparameters of Lasso (elastic = false: l1_ratio is 1) and ElasticNet. */
static pgml_status
parse_cd(const json_t *hp, bool elastic, uint64_t seed, linear_hp *out, pgml_err *err)
{
	static const char *const selections[] = {"cyclic", "random", NULL};
	const json_t *precompute = pgml_linear_hp_value(hp, "precompute");
	const char *selection;
	pgml_status rc;

	out->l1_ratio = 1.0;
	if ((rc = pgml_json_get_real(hp, "alpha", 1.0, 0.0, DBL_MAX, &out->alpha, err)) != PGML_OK ||
		(elastic &&
		 (rc = pgml_json_get_real(hp, "l1_ratio", 0.5, 0.0, 1.0, &out->l1_ratio, err)) != PGML_OK) ||
		(rc = pgml_json_get_bool(hp, "fit_intercept", true, &out->fit_intercept, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "max_iter", 1000, 1, INT_MAX, &out->max_iter, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "tol", 1e-4, 0.0, DBL_MAX, &out->tol, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "positive", false, &out->positive, err)) != PGML_OK ||
		(rc = pgml_linear_hp_seed(hp, seed, &out->seed, err)) != PGML_OK ||
		(rc = pgml_linear_hp_choice(hp, "selection", "cyclic", selections, &selection, err)) != PGML_OK ||
		(rc = pgml_linear_hp_check_inert(hp, err)) != PGML_OK)
		return rc;
	out->random_selection = strcmp(selection, "random") == 0;
	/* precompute is a speed hint (true, false or "auto"); the Gram matrix is used whenever it pays */
	if (precompute != NULL && !json_is_boolean(precompute))
	{
		if (json_is_array(precompute))
		{
			pgml_error(err, PGML_ERR_NOT_SUPPORTED, "a precomputed Gram matrix is not supported");
			pgml_err_detail(err, "precompute must be true, false or \"auto\".");
			return PGML_ERR_NOT_SUPPORTED;
		}
		if (!json_is_string(precompute) || strcmp(json_string_value(precompute), "auto") != 0)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"precompute\"");
			pgml_err_detail(err, "It must be true, false or \"auto\".");
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Data
 * ------------------------------------------------------------------------------------------------- */

/* Checks the training data: sizes, limits, finite values, class indices. */
static pgml_status
check_data(const pgml_fit_args *args, const pgml_data *d, pgml_err *err)
{
	size_t		cells;

	if (d == NULL || d->x == NULL || d->n_rows == 0)
		return pgml_error(err, PGML_ERR_DATA, "training data is empty");
	if (d->n_features == 0)
		return pgml_error(err, PGML_ERR_DATA, "training data has no features");
	if (d->n_rows > INT_MAX / 2 || d->n_features > MAX_FEATURES ||
		!pgml_mul_size(d->n_rows, d->n_features, &cells) || cells > SIZE_MAX / (2 * sizeof(double)))
	{
		pgml_error(err, PGML_ERR_LIMIT, "training data is too large for a linear model");
		pgml_err_detail(err, "It has %zu rows and %zu features.", d->n_rows, d->n_features);
		return PGML_ERR_LIMIT;
	}
	for (size_t i = 0; i < cells; i++)
	{
		if (!isfinite(d->x[i]))
		{
			pgml_error(err, PGML_ERR_DATA, "training data contains a non-finite value");
			pgml_err_detail(err, "Feature %zu of row %zu is %g.", i % d->n_features + 1,
							i / d->n_features + 1, (double) d->x[i]);
			return PGML_ERR_DATA;
		}
	}
	if (args->task == PGML_TASK_REGRESSION)
	{
		if (d->y == NULL || d->n_targets == 0)
			return pgml_error(err, PGML_ERR_DATA, "regression needs a target");
		if (d->n_targets > MAX_FUNCS || d->n_targets > SIZE_MAX / d->n_rows / sizeof(double))
			return pgml_error(err, PGML_ERR_LIMIT, "too many targets");
		for (size_t i = 0; i < d->n_rows * d->n_targets; i++)
		{
			if (!isfinite(d->y[i]))
			{
				pgml_error(err, PGML_ERR_DATA, "the target contains a non-finite value");
				pgml_err_detail(err, "Target %zu of row %zu is %g.", i % d->n_targets + 1,
								i / d->n_targets + 1, (double) d->y[i]);
				return PGML_ERR_DATA;
			}
		}
	}
	else
	{
		if (d->y == NULL || d->n_targets != 1)
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "classification needs exactly one label per row");
		if (args->n_classes < 2 || (size_t) args->n_classes > MAX_FUNCS)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid number of classes: %d", args->n_classes);
			pgml_err_detail(err, "Classification needs 2 to %zu classes.", MAX_FUNCS);
			return PGML_ERR_INVALID_ARGUMENT;
		}
		for (size_t i = 0; i < d->n_rows; i++)
		{
			float		c = d->y[i];

			if (!(c >= 0 && c < (float) args->n_classes) || c != floorf(c))
			{
				pgml_error(err, PGML_ERR_DATA, "invalid class index %g", (double) c);
				pgml_err_detail(err, "Row %zu has it; classes are numbered 0 to %d.", i + 1,
								args->n_classes - 1);
				return PGML_ERR_DATA;
			}
		}
	}
	return PGML_OK;
}

/* Rows per block when each row costs `work` flops, so that a block is about BLOCK_WORK flops. */
static size_t
rows_per_block(size_t work, size_t min_rows, size_t max_rows)
{
	size_t		b = BLOCK_WORK / (work ? work : 1);

	if (b < min_rows)
		b = min_rows;
	if (b > max_rows)
		b = max_rows;
	return b;
}

/* Column means of x (n × p, row-major) in double. */
static void
column_means(const float *x, size_t n, size_t p, double *mean)
{
	memset(mean, 0, p * sizeof(double));
	for (size_t i = 0; i < n; i++)
	{
		const float *row = x + i * p;

		for (size_t j = 0; j < p; j++)
			mean[j] += row[j];
	}
	for (size_t j = 0; j < p; j++)
		mean[j] /= (double) n;
}

/* Column means of Y (n × t, row-major, double). */
static void
target_means(const double *Y, size_t n, size_t t, double *mean)
{
	memset(mean, 0, t * sizeof(double));
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < t; k++)
			mean[k] += Y[i * t + k];
	for (size_t k = 0; k < t; k++)
		mean[k] /= (double) n;
}

/* Rows [r0, r0 + b) of x minus mean, in double: out is b × p row-major (a p × b column-major matrix). */
static void
load_rows(const float *x, size_t p, size_t r0, size_t b, const double *mean, double *out)
{
	for (size_t i = 0; i < b; i++)
	{
		const float *row = x + (r0 + i) * p;
		double	   *o = out + i * p;

		for (size_t j = 0; j < p; j++)
			o[j] = (double) row[j] - mean[j];
	}
}

/* The whole centered x as an n × p column-major double matrix, or NULL when out of memory. */
static double *
centered_colmajor(const float *x, size_t n, size_t p, const double *mean)
{
	double	   *a = pgml_malloc(n * p * sizeof(double));

	if (a == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
	{
		const float *row = x + i * p;

		for (size_t j = 0; j < p; j++)
			a[j * n + i] = (double) row[j] - mean[j];
	}
	return a;
}

/* Centered targets as an n × t column-major double matrix with leading dimension ld (>= n), zero-padded. */
static double *
centered_targets(const double *Y, size_t n, size_t t, size_t ld, const double *mean)
{
	double	   *b = pgml_calloc(ld * t, sizeof(double));

	if (b == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < t; k++)
			b[k * ld + i] = Y[i * t + k] - mean[k];
	return b;
}

/* Records an out-of-memory error. */
pgml_status
pgml_linear_oom(pgml_err *err)
{
	return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
}

/* A LAPACK routine reported an illegal argument: a bug here. */
static pgml_status
lapack_bug(pgml_err *err, const char *routine, lapack_int info)
{
	pgml_error(err, PGML_ERR_INTERNAL, "LAPACK %s failed", routine);
	pgml_err_detail(err, "It returned %d.", (int) info);
	return PGML_ERR_INTERNAL;
}

/*
 * G = Xc'Xc (p × p, full symmetric, column-major), XtY = Xc'Yc (p × t, column-major) and yty[k] = ||Yc_k||²,
 * accumulated over blocks of rows (centered with xmean, ymean) with the stop hook polled in between.
 */
static pgml_status
gram_matrices(const float *x, const double *Y, size_t n, size_t p, size_t t, const double *xmean,
			  const double *ymean, double *G, double *XtY, double *yty, pgml_err *err)
{
	size_t		block = rows_per_block(p * p + p * t + 1, 64, 8192);
	double	   *xb;
	double	   *yb;
	pgml_status rc = PGML_OK;

	if (block > n)
		block = n;
	xb = pgml_malloc(block * p * sizeof(double));
	yb = pgml_malloc(block * t * sizeof(double));
	if (xb == NULL || yb == NULL)
	{
		pgml_free(xb);
		pgml_free(yb);
		return pgml_linear_oom(err);
	}
	memset(G, 0, p * p * sizeof(double));
	memset(XtY, 0, p * t * sizeof(double));
	memset(yty, 0, t * sizeof(double));
	for (size_t r0 = 0; r0 < n && rc == PGML_OK; r0 += block)
	{
		size_t		b = n - r0 < block ? n - r0 : block;

		load_rows(x, p, r0, b, xmean, xb);
		for (size_t i = 0; i < b; i++)
		{
			for (size_t k = 0; k < t; k++)
			{
				double		v = Y[(r0 + i) * t + k] - ymean[k];

				yb[i * t + k] = v;
				yty[k] += v * v;
			}
		}
		cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int) p, (int) b, 1.0, xb, (int) p, 1.0, G,
					(int) p);
		cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int) p, (int) t, (int) b, 1.0, xb, (int) p, yb,
					(int) t, 1.0, XtY, (int) p);
		rc = pgml_check_stop(err);
	}
	pgml_free(xb);
	pgml_free(yb);
	/* mirror the upper triangle */
	for (size_t j = 0; j < p; j++)
		for (size_t i = j + 1; i < p; i++)
			G[j * p + i] = G[i * p + j];
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Least squares
 * ------------------------------------------------------------------------------------------------- */

/*
 * Minimum-norm least squares by LAPACK dgelsd: A (m × n, column-major, lda = m) is overwritten, B (ldb × t,
 * column-major) receives the solution in its first n rows. Singular values below rcond times the largest
 * count as zero.
 */
static pgml_status
gelsd(size_t m, size_t n, size_t t, double *A, double *B, size_t ldb, double rcond, pgml_err *err)
{
	size_t		k = m < n ? m : n;
	double		wq = 0;
	lapack_int	iwq = 0;
	lapack_int	rank = 0;
	lapack_int	info;
	double	   *s;
	double	   *work;
	lapack_int *iwork;

	s = pgml_malloc(k * sizeof(double));
	if (s == NULL)
		return pgml_linear_oom(err);
	info = LAPACKE_dgelsd_work(LAPACK_COL_MAJOR, (lapack_int) m, (lapack_int) n, (lapack_int) t, A,
							   (lapack_int) m, B, (lapack_int) ldb, s, rcond, &rank, &wq, -1, &iwq);
	if (info != 0)
	{
		pgml_free(s);
		return lapack_bug(err, "dgelsd", info);
	}
	work = pgml_malloc(((size_t) wq + 1) * sizeof(double));
	iwork = pgml_malloc(((size_t) (iwq > 0 ? iwq : 1)) * sizeof(lapack_int));
	if (work == NULL || iwork == NULL)
	{
		pgml_free(s);
		pgml_free(work);
		pgml_free(iwork);
		return pgml_linear_oom(err);
	}
	info = LAPACKE_dgelsd_work(LAPACK_COL_MAJOR, (lapack_int) m, (lapack_int) n, (lapack_int) t, A,
							   (lapack_int) m, B, (lapack_int) ldb, s, rcond, &rank, work,
							   (lapack_int) wq, iwork);
	pgml_free(s);
	pgml_free(work);
	pgml_free(iwork);
	if (info > 0)
	{
		pgml_error(err, PGML_ERR_DATA, "least squares did not converge");
		pgml_err_detail(err, "The singular value decomposition failed to converge.");
		return PGML_ERR_DATA;
	}
	if (info < 0)
		return lapack_bug(err, "dgelsd", info);
	return PGML_OK;
}

/*
 * Reduces the centered rows to R (p × p upper triangular, column-major) and C = Q'Yc (p × t, column-major)
 * with X = QR, by Householder QR of [R; next block of rows] block after block.
 */
static pgml_status
qr_reduce(const float *x, const double *Y, size_t n, size_t p, size_t t, const double *xmean,
		  const double *ymean, double *R, double *C, pgml_err *err)
{
	size_t		block = rows_per_block(2 * p * p + 2 * p * t, p, 8192);
	size_t		ld = p + block;
	double	   *S;
	double	   *T;
	double	   *tau;
	double	   *work = NULL;
	double		q1 = 0;
	double		q2 = 0;
	size_t		lwork;
	lapack_int	info;
	pgml_status rc = PGML_OK;

	S = pgml_malloc(ld * p * sizeof(double));
	T = pgml_malloc(ld * t * sizeof(double));
	tau = pgml_malloc(p * sizeof(double));
	if (S == NULL || T == NULL || tau == NULL)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, (lapack_int) ld, (lapack_int) p, S, (lapack_int) ld, tau,
							   &q1, -1);
	if (info == 0)
		info = LAPACKE_dormqr_work(LAPACK_COL_MAJOR, 'L', 'T', (lapack_int) ld, (lapack_int) t,
								   (lapack_int) p, S, (lapack_int) ld, tau, T, (lapack_int) ld, &q2, -1);
	if (info != 0)
	{
		rc = lapack_bug(err, "dgeqrf", info);
		goto done;
	}
	lwork = (size_t) (q1 > q2 ? q1 : q2) + 1;
	work = pgml_malloc(lwork * sizeof(double));
	if (work == NULL)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	memset(R, 0, p * p * sizeof(double));
	memset(C, 0, p * t * sizeof(double));
	for (size_t r0 = 0; r0 < n; r0 += block)
	{
		size_t		b = n - r0 < block ? n - r0 : block;
		size_t		m = p + b;

		/* S = [R; rows], T = [C; targets] */
		for (size_t j = 0; j < p; j++)
		{
			for (size_t i = 0; i < p; i++)
				S[j * ld + i] = i <= j ? R[j * p + i] : 0.0;
		}
		for (size_t i = 0; i < b; i++)
		{
			const float *row = x + (r0 + i) * p;

			for (size_t j = 0; j < p; j++)
				S[j * ld + p + i] = (double) row[j] - xmean[j];
			for (size_t k = 0; k < t; k++)
				T[k * ld + p + i] = Y[(r0 + i) * t + k] - ymean[k];
		}
		for (size_t k = 0; k < t; k++)
			memcpy(T + k * ld, C + k * p, p * sizeof(double));
		info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, (lapack_int) m, (lapack_int) p, S, (lapack_int) ld, tau,
								   work, (lapack_int) lwork);
		if (info != 0)
		{
			rc = lapack_bug(err, "dgeqrf", info);
			goto done;
		}
		info = LAPACKE_dormqr_work(LAPACK_COL_MAJOR, 'L', 'T', (lapack_int) m, (lapack_int) t, (lapack_int) p,
								   S, (lapack_int) ld, tau, T, (lapack_int) ld, work, (lapack_int) lwork);
		if (info != 0)
		{
			rc = lapack_bug(err, "dormqr", info);
			goto done;
		}
		for (size_t j = 0; j < p; j++)
			for (size_t i = 0; i <= j; i++)
				R[j * p + i] = S[j * ld + i];
		for (size_t k = 0; k < t; k++)
			memcpy(C + k * p, T + k * ld, p * sizeof(double));
		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
	}
done:
	pgml_free(S);
	pgml_free(T);
	pgml_free(tau);
	pgml_free(work);
	return rc;
}

/* Least-squares coefficients of centered data into coef (t × p, row-major). */
static pgml_status
lstsq_solve(const float *x, const double *Y, size_t n, size_t p, size_t t, const double *xmean,
			const double *ymean, double *coef, pgml_err *err)
{
	double		rcond = DBL_EPSILON * (double) (n > p ? n : p);
	double	   *A;
	double	   *B;
	size_t		ldb;
	pgml_status rc;

	if (n >= 2 * p)
	{
		ldb = p;
		A = pgml_malloc(p * p * sizeof(double));
		B = pgml_malloc(p * t * sizeof(double));
		if (A == NULL || B == NULL)
			rc = pgml_linear_oom(err);
		else
			rc = qr_reduce(x, Y, n, p, t, xmean, ymean, A, B, err);
		if (rc == PGML_OK)
			rc = gelsd(p, p, t, A, B, ldb, rcond, err);
	}
	else
	{
		ldb = n > p ? n : p;
		A = centered_colmajor(x, n, p, xmean);
		B = centered_targets(Y, n, t, ldb, ymean);
		if (A == NULL || B == NULL)
			rc = pgml_linear_oom(err);
		else
			rc = pgml_check_stop(err);
		if (rc == PGML_OK)
			rc = gelsd(n, p, t, A, B, ldb, rcond, err);
	}
	if (rc == PGML_OK)
	{
		for (size_t k = 0; k < t; k++)
			for (size_t j = 0; j < p; j++)
				coef[k * p + j] = B[k * ldb + j];
	}
	pgml_free(A);
	pgml_free(B);
	return rc;
}

/* Least squares with the intercept from the means: the solver LinearRegression stands for (see the header). */
pgml_status
pgml_linear_ols(const float *x, const double *y, size_t n, size_t p, bool fit_intercept, double *coef,
				double *intercept, pgml_err *err)
{
	double	   *xmean = pgml_calloc(p, sizeof(double));
	double		ymean = 0;
	double		b;
	pgml_status rc;

	if (xmean == NULL)
		return pgml_linear_oom(err);
	if (fit_intercept)
	{
		column_means(x, n, p, xmean);
		target_means(y, n, 1, &ymean);
	}
	rc = lstsq_solve(x, y, n, p, 1, xmean, &ymean, coef, err);
	if (rc == PGML_OK)
	{
		b = ymean;
		for (size_t j = 0; j < p; j++)
			b -= xmean[j] * coef[j];
		*intercept = b;
	}
	pgml_free(xmean);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Ridge
 * ------------------------------------------------------------------------------------------------- */

/*
 * Ridge through the SVD Xc = U diag(s) V': W = V diag(s / (s² + α)) U'Yc, singular values below
 * eps · max(n, p) times the largest dropped (the minimum-norm least squares when α = 0).
 */
static pgml_status
ridge_svd(const float *x, const double *Y, size_t n, size_t p, size_t t, const double *xmean,
		  const double *ymean, double alpha, double *coef, pgml_err *err)
{
	size_t		k = n < p ? n : p;
	double	   *A = NULL;
	double	   *Yc = NULL;
	double	   *s = NULL;
	double	   *U = NULL;
	double	   *VT = NULL;
	double	   *T = NULL;
	double	   *W = NULL;
	double	   *work = NULL;
	lapack_int *iwork = NULL;
	double		wq = 0;
	lapack_int	info;
	pgml_status rc = PGML_OK;

	A = centered_colmajor(x, n, p, xmean);
	Yc = centered_targets(Y, n, t, n, ymean);
	s = pgml_malloc(k * sizeof(double));
	U = pgml_malloc(n * k * sizeof(double));
	VT = pgml_malloc(k * p * sizeof(double));
	T = pgml_malloc(k * t * sizeof(double));
	W = pgml_malloc(p * t * sizeof(double));
	iwork = pgml_malloc(8 * k * sizeof(lapack_int));
	if (!A || !Yc || !s || !U || !VT || !T || !W || !iwork)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int) n, (lapack_int) p, A, (lapack_int) n, s, U,
							   (lapack_int) n, VT, (lapack_int) k, &wq, -1, iwork);
	if (info != 0)
	{
		rc = lapack_bug(err, "dgesdd", info);
		goto done;
	}
	work = pgml_malloc(((size_t) wq + 1) * sizeof(double));
	if (work == NULL)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int) n, (lapack_int) p, A, (lapack_int) n, s, U,
							   (lapack_int) n, VT, (lapack_int) k, work, (lapack_int) wq, iwork);
	if (info > 0)
	{
		pgml_error(err, PGML_ERR_DATA, "ridge regression did not converge");
		pgml_err_detail(err, "The singular value decomposition failed to converge.");
		rc = PGML_ERR_DATA;
		goto done;
	}
	if (info < 0)
	{
		rc = lapack_bug(err, "dgesdd", info);
		goto done;
	}
	/* T = diag(d) U'Yc, W = V T */
	cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int) k, (int) t, (int) n, 1.0, U, (int) n, Yc,
				(int) n, 0.0, T, (int) k);
	{
		double		cutoff = k > 0 ? s[0] * DBL_EPSILON * (double) (n > p ? n : p) : 0.0;

		for (size_t i = 0; i < k; i++)
		{
			double		d = s[i] > cutoff ? s[i] / (s[i] * s[i] + alpha) : 0.0;

			for (size_t c = 0; c < t; c++)
				T[c * k + i] *= d;
		}
	}
	cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int) p, (int) t, (int) k, 1.0, VT, (int) k, T,
				(int) k, 0.0, W, (int) p);
	for (size_t c = 0; c < t; c++)
		for (size_t j = 0; j < p; j++)
			coef[c * p + j] = W[c * p + j];
done:
	pgml_free(A);
	pgml_free(Yc);
	pgml_free(s);
	pgml_free(U);
	pgml_free(VT);
	pgml_free(T);
	pgml_free(W);
	pgml_free(work);
	pgml_free(iwork);
	return rc;
}

/* Ridge in the primal: (Xc'Xc + αI) W = Xc'Yc by Cholesky. *singular: the matrix is not positive definite. */
static pgml_status
ridge_primal(const float *x, const double *Y, size_t n, size_t p, size_t t, const double *xmean,
			 const double *ymean, double alpha, double *coef, bool *singular, pgml_err *err)
{
	double	   *G = pgml_malloc(p * p * sizeof(double));
	double	   *XtY = pgml_malloc(p * t * sizeof(double));
	double	   *yty = pgml_malloc(t * sizeof(double));
	lapack_int	info;
	pgml_status rc;

	*singular = false;
	if (G == NULL || XtY == NULL || yty == NULL)
		rc = pgml_linear_oom(err);
	else
		rc = gram_matrices(x, Y, n, p, t, xmean, ymean, G, XtY, yty, err);
	if (rc == PGML_OK)
	{
		for (size_t j = 0; j < p; j++)
			G[j * p + j] += alpha;
		info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U', (lapack_int) p, G, (lapack_int) p);
		if (info > 0)
			*singular = true;
		else if (info < 0)
			rc = lapack_bug(err, "dpotrf", info);
		else
		{
			info = LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'U', (lapack_int) p, (lapack_int) t, G, (lapack_int) p,
									   XtY, (lapack_int) p);
			if (info != 0)
				rc = lapack_bug(err, "dpotrs", info);
			else
				for (size_t k = 0; k < t; k++)
					for (size_t j = 0; j < p; j++)
						coef[k * p + j] = XtY[k * p + j];
		}
	}
	pgml_free(G);
	pgml_free(XtY);
	pgml_free(yty);
	return rc;
}

/* Ridge in the dual, for more features than rows: W = Xc'(Xc Xc' + αI)^-1 Yc by Cholesky. */
static pgml_status
ridge_kernel(const float *x, const double *Y, size_t n, size_t p, size_t t, const double *xmean,
			 const double *ymean, double alpha, double *coef, bool *singular, pgml_err *err)
{
	double	   *M;				/* centered x, n × p row-major = p × n column-major */
	double	   *K = pgml_calloc(n * n, sizeof(double));
	double	   *A = centered_targets(Y, n, t, n, ymean);
	double	   *W = pgml_malloc(p * t * sizeof(double));
	size_t		block = rows_per_block(n * n + 1, 16, 65536);
	lapack_int	info;
	pgml_status rc = PGML_OK;

	*singular = false;
	M = pgml_malloc(n * p * sizeof(double));
	if (M == NULL || K == NULL || A == NULL || W == NULL)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	load_rows(x, p, 0, n, xmean, M);
	/* K = M'M, over blocks of features */
	for (size_t j0 = 0; j0 < p && rc == PGML_OK; j0 += block)
	{
		size_t		jb = p - j0 < block ? p - j0 : block;

		cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int) n, (int) jb, 1.0, M + j0, (int) p, 1.0, K,
					(int) n);
		rc = pgml_check_stop(err);
	}
	if (rc != PGML_OK)
		goto done;
	for (size_t i = 0; i < n; i++)
		K[i * n + i] += alpha;
	info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U', (lapack_int) n, K, (lapack_int) n);
	if (info > 0)
	{
		*singular = true;
		goto done;
	}
	if (info == 0)
		info = LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'U', (lapack_int) n, (lapack_int) t, K, (lapack_int) n, A,
								   (lapack_int) n);
	if (info != 0)
	{
		rc = lapack_bug(err, "dpotrs", info);
		goto done;
	}
	cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int) p, (int) t, (int) n, 1.0, M, (int) p, A,
				(int) n, 0.0, W, (int) p);
	for (size_t k = 0; k < t; k++)
		for (size_t j = 0; j < p; j++)
			coef[k * p + j] = W[k * p + j];
done:
	pgml_free(M);
	pgml_free(K);
	pgml_free(A);
	pgml_free(W);
	return rc;
}

/* Ridge coefficients of centered data into coef (t × p, row-major). */
static pgml_status
ridge_solve(const float *x, const double *Y, size_t n, size_t p, size_t t, const double *xmean,
			const double *ymean, double alpha, double *coef, pgml_err *err)
{
	bool		singular = false;
	pgml_status rc;

	if (p <= n)
		rc = ridge_primal(x, Y, n, p, t, xmean, ymean, alpha, coef, &singular, err);
	else
		rc = ridge_kernel(x, Y, n, p, t, xmean, ymean, alpha, coef, &singular, err);
	if (rc == PGML_OK && singular)
		rc = ridge_svd(x, Y, n, p, t, xmean, ymean, alpha, coef, err);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Coordinate descent (lasso, elastic net)
 * ------------------------------------------------------------------------------------------------- */

typedef struct cd_problem
{
	size_t		n;
	size_t		p;
	double		l1;				/* α ρ n */
	double		l2;				/* α (1 - ρ) n */
	double		tol;
	int64_t		max_iter;
	bool		positive;
	bool		random;
	uint64_t	rng;
	const double *G;			/* Gram mode: Xc'Xc, p × p */
	const double *Xc;			/* residual mode: centered x, n × p column-major */
	const double *norms;		/* residual mode: squared column norms */
} cd_problem;

/* The next number of a splitmix64 sequence. */
uint64_t
pgml_linear_random(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* The coordinate to update at step jj of a sweep. */
static inline size_t
cd_coordinate(cd_problem *cd, size_t jj)
{
	return cd->random ? (size_t) (pgml_linear_random(&cd->rng) % cd->p) : jj;
}

/* The minimizer along one coordinate: soft-thresholding of tmp, scaled. */
static inline double
cd_update(const cd_problem *cd, double tmp, double norm)
{
	if (cd->positive && tmp < 0)
		return 0.0;
	if (tmp > cd->l1)
		return (tmp - cd->l1) / (norm + cd->l2);
	if (tmp < -cd->l1)
		return (tmp + cd->l1) / (norm + cd->l2);
	return 0.0;
}

/*
 * The duality gap of ½||r||² + l1 ||w||₁ + ½ l2 ||w||², from xtr = X'r - l2 w, r_norm2 = ||r||², y_r = y'r.
 * The elastic net is a lasso on X augmented with √l2·I (and y with zeros); its dual point is the scaled
 * residual c·r with c = min(1, l1 / ||X'r - l2 w||∞), which gives the gap below.
 */
static double
cd_gap(const cd_problem *cd, const double *w, const double *xtr, double r_norm2, double y_r)
{
	double		dual = 0;
	double		w_l1 = 0;
	double		w_l2 = 0;
	double		c;
	double		gap;

	for (size_t j = 0; j < cd->p; j++)
	{
		double		v = cd->positive ? xtr[j] : fabs(xtr[j]);

		if (v > dual)
			dual = v;
		w_l1 += fabs(w[j]);
		w_l2 += w[j] * w[j];
	}
	if (dual > cd->l1)
	{
		c = cd->l1 / dual;
		gap = 0.5 * r_norm2 * (1.0 + c * c);
	}
	else
	{
		c = 1.0;
		gap = r_norm2;
	}
	return gap + cd->l1 * w_l1 - c * y_r + 0.5 * cd->l2 * (1.0 + c * c) * w_l2;
}

/* Coordinate descent on the Gram matrix G and q = Xc'yc (yty = ||yc||²); w (p) starts at zero. */
static pgml_status
cd_gram(cd_problem *cd, const double *q, double yty, double *w, int64_t *n_iter, double *gap_out,
		bool *converged, pgml_err *err)
{
	size_t		p = cd->p;
	double	   *Gw = pgml_calloc(p, sizeof(double));
	double	   *xtr = pgml_malloc(p * sizeof(double));
	double		tol_gap = cd->tol * yty;
	size_t		work = 0;
	pgml_status rc = PGML_OK;

	*n_iter = 0;
	*gap_out = INFINITY;
	*converged = false;
	if (Gw == NULL || xtr == NULL)
	{
		pgml_free(Gw);
		pgml_free(xtr);
		return pgml_linear_oom(err);
	}
	memset(w, 0, p * sizeof(double));
	for (int64_t iter = 0; iter < cd->max_iter; iter++)
	{
		double		w_max = 0;
		double		d_max = 0;

		*n_iter = iter + 1;
		for (size_t jj = 0; jj < p; jj++)
		{
			size_t		j = cd_coordinate(cd, jj);
			double		gjj = cd->G[j * p + j];
			double		old = w[j];
			double		new;

			if (gjj == 0.0)
				continue;
			new = cd_update(cd, q[j] - Gw[j] + gjj * old, gjj);
			if (new != old)
			{
				cblas_daxpy((int) p, new - old, cd->G + j * p, 1, Gw, 1);
				w[j] = new;
			}
			if (fabs(new - old) > d_max)
				d_max = fabs(new - old);
			if (fabs(new) > w_max)
				w_max = fabs(new);
			if ((rc = pgml_linear_poll_stop(&work, 2 * p, err)) != PGML_OK)
				goto done;
		}
		if (w_max == 0.0 || d_max / w_max < cd->tol || iter == cd->max_iter - 1)
		{
			double		qw = 0;
			double		wGw = 0;
			double		r_norm2;

			for (size_t j = 0; j < p; j++)
			{
				xtr[j] = q[j] - Gw[j] - cd->l2 * w[j];
				qw += q[j] * w[j];
				wGw += w[j] * Gw[j];
			}
			r_norm2 = yty - 2.0 * qw + wGw;
			if (r_norm2 < 0)
				r_norm2 = 0;
			*gap_out = cd_gap(cd, w, xtr, r_norm2, yty - qw);
			if (*gap_out < tol_gap)
			{
				*converged = true;
				break;
			}
		}
	}
done:
	pgml_free(Gw);
	pgml_free(xtr);
	return rc;
}

/* Coordinate descent on the residual r = yc - Xc w (yc: n values); w (p) starts at zero. */
static pgml_status
cd_residual(cd_problem *cd, const double *yc, double *w, int64_t *n_iter, double *gap_out, bool *converged,
			pgml_err *err)
{
	size_t		n = cd->n;
	size_t		p = cd->p;
	double	   *r = pgml_malloc(n * sizeof(double));
	double	   *xtr = pgml_malloc(p * sizeof(double));
	double		yty;
	double		tol_gap;
	size_t		work = 0;
	pgml_status rc = PGML_OK;

	*n_iter = 0;
	*gap_out = INFINITY;
	*converged = false;
	if (r == NULL || xtr == NULL)
	{
		pgml_free(r);
		pgml_free(xtr);
		return pgml_linear_oom(err);
	}
	memcpy(r, yc, n * sizeof(double));
	yty = cblas_ddot((int) n, yc, 1, yc, 1);
	tol_gap = cd->tol * yty;
	memset(w, 0, p * sizeof(double));
	for (int64_t iter = 0; iter < cd->max_iter; iter++)
	{
		double		w_max = 0;
		double		d_max = 0;

		*n_iter = iter + 1;
		for (size_t jj = 0; jj < p; jj++)
		{
			size_t		j = cd_coordinate(cd, jj);
			const double *xj = cd->Xc + j * n;
			double		old = w[j];
			double		new;

			if (cd->norms[j] == 0.0)
				continue;
			new = cd_update(cd, cblas_ddot((int) n, xj, 1, r, 1) + cd->norms[j] * old, cd->norms[j]);
			if (new != old)
			{
				cblas_daxpy((int) n, old - new, xj, 1, r, 1);
				w[j] = new;
			}
			if (fabs(new - old) > d_max)
				d_max = fabs(new - old);
			if (fabs(new) > w_max)
				w_max = fabs(new);
			if ((rc = pgml_linear_poll_stop(&work, 4 * n, err)) != PGML_OK)
				goto done;
		}
		if (w_max == 0.0 || d_max / w_max < cd->tol || iter == cd->max_iter - 1)
		{
			cblas_dgemv(CblasColMajor, CblasTrans, (int) n, (int) p, 1.0, cd->Xc, (int) n, r, 1, 0.0, xtr, 1);
			for (size_t j = 0; j < p; j++)
				xtr[j] -= cd->l2 * w[j];
			*gap_out = cd_gap(cd, w, xtr, cblas_ddot((int) n, r, 1, r, 1), cblas_ddot((int) n, yc, 1, r, 1));
			if (*gap_out < tol_gap)
			{
				*converged = true;
				break;
			}
			if ((rc = pgml_check_stop(err)) != PGML_OK)
				goto done;
		}
	}
done:
	pgml_free(r);
	pgml_free(xtr);
	return rc;
}

/* Lasso / elastic net coefficients of centered data into coef (t × p, row-major), one target at a time. */
static pgml_status
cd_solve(const char *name, const linear_hp *hp, const float *x, const double *Y, size_t n, size_t p, size_t t,
		 const double *xmean, const double *ymean, double *coef, pgml_err *err)
{
	cd_problem	cd;
	bool		gram = n >= p && p <= GRAM_MAX_FEATURES;
	double	   *G = NULL;
	double	   *XtY = NULL;
	double	   *yty = NULL;
	double	   *Xc = NULL;
	double	   *norms = NULL;
	double	   *yc = NULL;
	double	   *w = NULL;
	pgml_status rc = PGML_OK;

	memset(&cd, 0, sizeof(cd));
	cd.n = n;
	cd.p = p;
	cd.l1 = hp->alpha * hp->l1_ratio * (double) n;
	cd.l2 = hp->alpha * (1.0 - hp->l1_ratio) * (double) n;
	cd.tol = hp->tol;
	cd.max_iter = hp->max_iter;
	cd.positive = hp->positive;
	cd.random = hp->random_selection;
	cd.rng = hp->seed;
	w = pgml_malloc(p * sizeof(double));
	if (w == NULL)
		return pgml_linear_oom(err);
	if (gram)
	{
		G = pgml_malloc(p * p * sizeof(double));
		XtY = pgml_malloc(p * t * sizeof(double));
		yty = pgml_malloc(t * sizeof(double));
		if (G == NULL || XtY == NULL || yty == NULL)
			rc = pgml_linear_oom(err);
		else
			rc = gram_matrices(x, Y, n, p, t, xmean, ymean, G, XtY, yty, err);
		cd.G = G;
	}
	else
	{
		Xc = centered_colmajor(x, n, p, xmean);
		yc = centered_targets(Y, n, t, n, ymean);
		norms = pgml_malloc(p * sizeof(double));
		if (Xc == NULL || yc == NULL || norms == NULL)
			rc = pgml_linear_oom(err);
		else
			for (size_t j = 0; j < p; j++)
				norms[j] = cblas_ddot((int) n, Xc + j * n, 1, Xc + j * n, 1);
		cd.Xc = Xc;
		cd.norms = norms;
	}
	for (size_t k = 0; k < t && rc == PGML_OK; k++)
	{
		int64_t		n_iter;
		double		gap;
		bool		converged;

		if (gram)
			rc = cd_gram(&cd, XtY + k * p, yty[k], w, &n_iter, &gap, &converged, err);
		else
			rc = cd_residual(&cd, yc + k * n, w, &n_iter, &gap, &converged, err);
		if (rc != PGML_OK)
			break;
		for (size_t j = 0; j < p; j++)
		{
			if (!isfinite(w[j]))
			{
				pgml_error(err, PGML_ERR_DATA, "%s: coordinate descent produced non-finite coefficients", name);
				pgml_err_hint(err, "Scale the features to a smaller range.");
				rc = PGML_ERR_DATA;
				break;
			}
			coef[k * p + j] = w[j];
		}
		if (!converged)
			pgml_log(PGML_LOG_WARNING, "%s: coordinate descent did not converge in %lld iterations "
					 "(duality gap %g); increase max_iter or tol", name, (long long) n_iter,
					 gap / (double) n);
		else
			pgml_log(PGML_LOG_DEBUG, "%s: coordinate descent converged in %lld iterations", name,
					 (long long) n_iter);
	}
	pgml_free(G);
	pgml_free(XtY);
	pgml_free(yty);
	pgml_free(Xc);
	pgml_free(yc);
	pgml_free(norms);
	pgml_free(w);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * L-BFGS
 * ------------------------------------------------------------------------------------------------- */

/* An objective: f and its gradient at theta. */
typedef struct lbfgs_point
{
	double	   *x;
	double	   *g;
	double		f;
	double		a;				/* the step that led here */
	double		dg;				/* g'd */
} lbfgs_point;

/*
 * The minimizer of the cubic that interpolates f and f' at a and b, kept inside the middle 80% of
 * [a, b]; bisection when the cubic has no usable minimum (Nocedal & Wright, eq. 3.59).
 */
static double
cubic_step(double a, double fa, double da, double b, double fb, double db)
{
	double		lo = a < b ? a : b;
	double		hi = a < b ? b : a;
	double		margin = 0.1 * (hi - lo);
	double		d1 = da + db - 3.0 * (fa - fb) / (a - b);
	double		disc = d1 * d1 - da * db;
	double		step;

	if (isfinite(fb) && isfinite(d1) && disc >= 0)
	{
		double		d2 = (b > a ? 1.0 : -1.0) * sqrt(disc);
		double		den = db - da + 2.0 * d2;

		step = den != 0 ? b - (b - a) * (db + d2 - d1) / den : 0.5 * (a + b);
	}
	else
		step = 0.5 * (a + b);
	if (!isfinite(step) || step < lo + margin || step > hi - margin)
		step = !isfinite(step) ? 0.5 * (a + b) : (step < lo + margin ? lo + margin : hi - margin);
	return step;
}

/*
 * Line search along d from x0 (f0, gradient slope dg0 < 0) for a step meeting the strong Wolfe conditions:
 * bracketing with growing steps, then sectioning by cubic interpolation (Nocedal & Wright, algorithms 3.5
 * and 3.6). On return *found tells whether a point with a sufficient decrease was found; it is in *lo.
 * lo and trial are scratch points whose buffers the search swaps.
 */
static pgml_status
line_search(pgml_objective_fn fn, void *ctx, size_t dim, const double *x0, double f0, double dg0,
			const double *d, double step, lbfgs_point *lo, lbfgs_point *trial, bool *found, pgml_err *err)
{
	double		a_hi = 0;
	double		f_hi = 0;
	double		dg_hi = 0;
	bool		bracketed = false;
	pgml_status rc;

	*found = false;
	lo->a = 0;
	lo->f = f0;
	lo->dg = dg0;
	for (int evals = 0; evals < LBFGS_MAX_LS; evals++)
	{
		for (size_t i = 0; i < dim; i++)
			trial->x[i] = x0[i] + step * d[i];
		if ((rc = fn(ctx, trial->x, &trial->f, trial->g, err)) != PGML_OK)
			return rc;
		trial->a = step;
		trial->dg = cblas_ddot((int) dim, trial->g, 1, d, 1);
		if (!isfinite(trial->f) || trial->f > f0 + WOLFE_C1 * step * dg0 || trial->f >= lo->f)
		{
			a_hi = step;
			f_hi = isfinite(trial->f) ? trial->f : INFINITY;
			dg_hi = trial->dg;
			bracketed = true;
		}
		else
		{
			lbfgs_point tmp;

			if (fabs(trial->dg) <= -WOLFE_C2 * dg0)
			{
				tmp = *lo;
				*lo = *trial;
				*trial = tmp;
				*found = true;
				return PGML_OK;
			}
			if (bracketed ? trial->dg * (a_hi - step) >= 0 : trial->dg >= 0)
			{
				a_hi = lo->a;
				f_hi = lo->f;
				dg_hi = lo->dg;
				bracketed = true;
			}
			tmp = *lo;
			*lo = *trial;
			*trial = tmp;
		}
		if (bracketed)
		{
			if (fabs(a_hi - lo->a) <= 1e-15 * fabs(a_hi))
				break;
			step = cubic_step(lo->a, lo->f, lo->dg, a_hi, f_hi, isfinite(f_hi) ? dg_hi : 0);
		}
		else
		{
			step *= 4.0;
			if (step > 1e20)
				break;
		}
	}
	*found = lo->a > 0;
	return PGML_OK;
}

/*
 * Minimizes fn from theta (dim values, updated in place) by limited-memory BFGS. Stops when max |g| <= gtol,
 * when the relative decrease of f is <= LBFGS_FTOL, or after max_iter iterations. *converged is false only
 * when max_iter ran out or no step decreased f.
 */
pgml_status
pgml_linear_lbfgs(pgml_objective_fn fn, void *ctx, size_t dim, double *theta, int64_t max_iter, double gtol,
				  int64_t *n_iter, bool *converged, pgml_err *err)
{
	size_t		m = LBFGS_MEMORY;
	double	   *mem = pgml_malloc((2 * m * dim + 6 * dim) * sizeof(double));
	double	   *S;
	double	   *Yh;
	double	   *d;
	double		rho[LBFGS_MEMORY];
	double		alpha[LBFGS_MEMORY];
	lbfgs_point cur;
	lbfgs_point lo;
	lbfgs_point trial;
	size_t		hist = 0;
	size_t		head = 0;		/* where the next pair goes */
	int64_t		iter = 0;
	pgml_status rc;

	*converged = false;
	*n_iter = 0;
	if (mem == NULL)
		return pgml_linear_oom(err);
	S = mem;
	Yh = S + m * dim;
	d = Yh + m * dim;
	cur.g = d + dim;
	lo.x = cur.g + dim;
	lo.g = lo.x + dim;
	trial.x = lo.g + dim;
	trial.g = trial.x + dim;
	cur.x = theta;
	if ((rc = fn(ctx, theta, &cur.f, cur.g, err)) != PGML_OK)
		goto done;
	for (;;)
	{
		double		gmax = 0;
		double		dg;
		double		step;
		bool		found;

		for (size_t i = 0; i < dim; i++)
			if (fabs(cur.g[i]) > gmax)
				gmax = fabs(cur.g[i]);
		if (gmax <= gtol)
		{
			*converged = true;
			break;
		}
		if (iter >= max_iter)
			break;
		/* d = -H g by the two-loop recursion */
		for (size_t i = 0; i < dim; i++)
			d[i] = -cur.g[i];
		for (size_t h = 0; h < hist; h++)
		{
			size_t		k = (head + m - 1 - h) % m;

			alpha[k] = rho[k] * cblas_ddot((int) dim, S + k * dim, 1, d, 1);
			cblas_daxpy((int) dim, -alpha[k], Yh + k * dim, 1, d, 1);
		}
		if (hist > 0)
		{
			size_t		k = (head + m - 1) % m;
			double		yy = cblas_ddot((int) dim, Yh + k * dim, 1, Yh + k * dim, 1);

			cblas_dscal((int) dim, 1.0 / (rho[k] * yy), d, 1);
		}
		for (size_t h = hist; h > 0; h--)
		{
			size_t		k = (head + m - h) % m;
			double		beta = rho[k] * cblas_ddot((int) dim, Yh + k * dim, 1, d, 1);

			cblas_daxpy((int) dim, alpha[k] - beta, S + k * dim, 1, d, 1);
		}
		dg = cblas_ddot((int) dim, cur.g, 1, d, 1);
		if (!(dg < 0))
		{
			hist = 0;
			for (size_t i = 0; i < dim; i++)
				d[i] = -cur.g[i];
			dg = cblas_ddot((int) dim, cur.g, 1, d, 1);
		}
		step = hist == 0 ? fmin(1.0, 1.0 / sqrt(-dg)) : 1.0;
		if ((rc = line_search(fn, ctx, dim, cur.x, cur.f, dg, d, step, &lo, &trial, &found, err)) != PGML_OK)
			goto done;
		iter++;
		if (!found)
		{
			if (hist > 0)
			{
				hist = 0;		/* retry along the steepest descent */
				continue;
			}
			break;
		}
		/* the new pair s = x_new - x, y = g_new - g */
		{
			double	   *s = S + head * dim;
			double	   *y = Yh + head * dim;
			double		sy = 0;
			double		yy = 0;
			double		f_old = cur.f;

			for (size_t i = 0; i < dim; i++)
			{
				s[i] = lo.x[i] - cur.x[i];
				y[i] = lo.g[i] - cur.g[i];
				sy += s[i] * y[i];
				yy += y[i] * y[i];
			}
			if (sy > DBL_EPSILON * yy && sy > 0)
			{
				rho[head] = 1.0 / sy;
				head = (head + 1) % m;
				if (hist < m)
					hist++;
			}
			memcpy(cur.x, lo.x, dim * sizeof(double));
			memcpy(cur.g, lo.g, dim * sizeof(double));
			cur.f = lo.f;
			if ((f_old - cur.f) <= LBFGS_FTOL * fmax(fmax(fabs(f_old), fabs(cur.f)), 1.0))
			{
				*converged = true;
				break;
			}
		}
		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
	}
	*n_iter = iter;
done:
	pgml_free(mem);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Logistic regression
 * ------------------------------------------------------------------------------------------------- */

typedef struct logit_problem
{
	const double *x;			/* n × p, row-major */
	const float *y;				/* class index of each row */
	size_t		n;
	size_t		p;
	size_t		k;				/* functions: 1 (sigmoid of class pos_class vs rest) or the classes (softmax) */
	int			pos_class;
	bool		intercept;		/* each function has an intercept: parameter p of its row */
	double		icpt_value;		/* the constant feature the intercept multiplies */
	bool		penalize_icpt;
	double		lambda;			/* 1/C, or 0 without penalty */
	size_t		block;			/* rows per block */
	size_t		n_blocks;
	pgml_pool  *pool;
	double	   *z;				/* per worker: block × k scratch */
	double	   *part;			/* per block: loss, then its k × q gradient */
	const double *theta;		/* the point being evaluated */
} logit_problem;

/* log(1 + e^z) without overflow. */
static inline double
softplus(double z)
{
	return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* 1 / (1 + e^-z) without overflow. */
static inline double
sigmoid(double z)
{
	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	else
	{
		double		e = exp(z);

		return e / (1.0 + e);
	}
}

/*
 * One block of rows: its log-loss into part[0] and its gradient into part[1..]. Blocks run in parallel on
 * the pool; each writes only its own part, and the caller sums the parts in block order, so the result
 * does not depend on the number of threads.
 */
static void
logit_blocks(void *ctx, size_t begin, size_t end, int worker)
{
	logit_problem *lp = ctx;
	size_t		p = lp->p;
	size_t		k = lp->k;
	size_t		q = p + (lp->intercept ? 1 : 0);
	const double *theta = lp->theta;
	double	   *zs = lp->z + (size_t) worker * lp->block * k;

	for (size_t blk = begin; blk < end; blk++)
	{
		size_t		r0 = blk * lp->block;
		size_t		b = lp->n - r0 < lp->block ? lp->n - r0 : lp->block;
		const double *xb = lp->x + r0 * p;
		double	   *part = lp->part + blk * (1 + k * q);
		double	   *grad = part + 1;
		double		loss = 0;

		memset(part, 0, (1 + k * q) * sizeof(double));
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) b, (int) k, (int) p, 1.0, xb, (int) p, theta,
					(int) q, 0.0, zs, (int) k);
		for (size_t i = 0; i < b; i++)
		{
			double	   *z = zs + i * k;
			int			y = (int) lp->y[r0 + i];

			if (lp->intercept)
				for (size_t c = 0; c < k; c++)
					z[c] += lp->icpt_value * theta[c * q + p];
			if (k == 1)
			{
				/* softplus(z) and sigmoid(z) from one exp(-|z|), without overflow */
				double		yi = y == lp->pos_class ? 1.0 : 0.0;
				double		zi = z[0];
				double		e = exp(-fabs(zi));

				loss += (zi > 0 ? zi : 0) + log1p(e) - yi * zi;
				z[0] = (zi >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e)) - yi;
			}
			else
			{
				double		zmax = z[0];
				double		zy = z[y];
				double		sum = 0;

				for (size_t c = 1; c < k; c++)
					if (z[c] > zmax)
						zmax = z[c];
				for (size_t c = 0; c < k; c++)
				{
					z[c] = exp(z[c] - zmax);
					sum += z[c];
				}
				loss += zmax + log(sum) - zy;
				for (size_t c = 0; c < k; c++)
					z[c] /= sum;
				z[y] -= 1.0;
			}
			if (lp->intercept)
				for (size_t c = 0; c < k; c++)
					grad[c * q + p] += lp->icpt_value * z[c];
		}
		cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int) k, (int) p, (int) b, 1.0, zs, (int) k, xb,
					(int) p, 1.0, grad, (int) q);
		part[0] = loss;
	}
}

/* Σ log-loss + λ/2 ||W||² and its gradient; theta is k rows of p (+ 1 intercept) values. */
static pgml_status
logit_objective(void *ctx, const double *theta, double *f, double *grad, pgml_err *err)
{
	logit_problem *lp = ctx;
	size_t		p = lp->p;
	size_t		k = lp->k;
	size_t		q = p + (lp->intercept ? 1 : 0);
	double		loss = 0;
	pgml_status rc;

	lp->theta = theta;
	if ((rc = pgml_parallel_for(lp->pool, lp->n_blocks, 1, logit_blocks, lp, err)) != PGML_OK)
		return rc;
	memset(grad, 0, k * q * sizeof(double));
	for (size_t blk = 0; blk < lp->n_blocks; blk++)
	{
		const double *part = lp->part + blk * (1 + k * q);

		loss += part[0];
		for (size_t j = 0; j < k * q; j++)
			grad[j] += part[1 + j];
	}
	if (lp->lambda > 0)
	{
		for (size_t c = 0; c < k; c++)
		{
			size_t		last = lp->penalize_icpt ? q : p;

			for (size_t j = 0; j < last; j++)
			{
				double		w = theta[c * q + j];

				loss += 0.5 * lp->lambda * w * w;
				grad[c * q + j] += lp->lambda * w;
			}
		}
	}
	*f = loss;
	return PGML_OK;
}

/* Fits logistic regression into st (coefficients allocated for the output mode chosen by the caller). */
static pgml_status
logistic_solve(const linear_hp *hp, const pgml_data *d, int n_classes, pgml_pool *pool, linear_state *st,
			   pgml_err *err)
{
	logit_problem lp;
	size_t		n = d->n_rows;
	size_t		p = d->n_features;
	size_t		q = p + (hp->fit_intercept ? 1 : 0);
	size_t		runs = st->output == OUT_SOFTMAX ? 1 : st->n_funcs;
	double	   *x;
	double	   *theta;
	pgml_status rc = PGML_OK;

	memset(&lp, 0, sizeof(lp));
	lp.k = st->output == OUT_SOFTMAX ? (size_t) n_classes : 1;
	lp.block = rows_per_block(4 * p * lp.k + 1, 16, 4096);
	if (lp.block > n)
		lp.block = n;
	lp.n_blocks = (n + lp.block - 1) / lp.block;
	lp.pool = pool;
	x = pgml_malloc(n * p * sizeof(double));
	theta = pgml_calloc(lp.k * q, sizeof(double));
	lp.z = pgml_malloc((size_t) pgml_pool_size(pool) * lp.block * lp.k * sizeof(double));
	lp.part = pgml_malloc(lp.n_blocks * (1 + lp.k * q) * sizeof(double));
	if (x == NULL || theta == NULL || lp.z == NULL || lp.part == NULL)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	for (size_t i = 0; i < n * p; i++)
		x[i] = d->x[i];
	lp.x = x;
	lp.y = d->y;
	lp.n = n;
	lp.p = p;
	lp.intercept = hp->fit_intercept;
	lp.icpt_value = hp->liblinear ? hp->intercept_scaling : 1.0;
	lp.penalize_icpt = hp->liblinear;
	lp.lambda = hp->penalized ? 1.0 / hp->C : 0.0;
	for (size_t run = 0; run < runs; run++)
	{
		int64_t		n_iter;
		bool		converged;

		/* one-vs-rest: function `run` separates class run (binary: class 1) from the others */
		lp.pos_class = st->output == OUT_SIGMOID ? 1 : (int) run;
		memset(theta, 0, lp.k * q * sizeof(double));
		rc = pgml_linear_lbfgs(logit_objective, &lp, lp.k * q, theta, hp->max_iter, hp->tol, &n_iter, &converged,
							   err);
		if (rc != PGML_OK)
			goto done;
		if (!converged)
			pgml_log(PGML_LOG_WARNING, "logistic regression did not converge in %lld iterations; "
					 "increase max_iter or scale the features", (long long) n_iter);
		else
			pgml_log(hp->verbose ? PGML_LOG_INFO : PGML_LOG_DEBUG,
					 "logistic regression: L-BFGS converged in %lld iterations", (long long) n_iter);
		for (size_t c = 0; c < lp.k; c++)
		{
			size_t		f = st->output == OUT_SOFTMAX ? c : run;

			for (size_t j = 0; j < p; j++)
				st->coef[f * p + j] = theta[c * q + j];
			st->intercept[f] = hp->fit_intercept ? lp.icpt_value * theta[c * q + p] : 0.0;
		}
	}
	for (size_t i = 0; i < st->n_funcs * p; i++)
	{
		if (!isfinite(st->coef[i]))
		{
			rc = pgml_error(err, PGML_ERR_DATA, "logistic regression produced non-finite coefficients");
			break;
		}
	}
done:
	pgml_free(x);
	pgml_free(theta);
	pgml_free(lp.z);
	pgml_free(lp.part);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * States, fit entry points
 * ------------------------------------------------------------------------------------------------- */

/* Frees a state (NULL is fine). */
void
pgml_linear_free(void *state)
{
	linear_state *st = state;

	if (st == NULL)
		return;
	pgml_free(st->coef);
	pgml_free(st->intercept);
	json_decref(st->params);
	pgml_free(st);
}

/* A new state with zeroed coefficients, or NULL when out of memory. */
linear_state *
pgml_linear_state_new(linear_kind kind, pgml_task task, linear_output output, size_t n_features, size_t n_funcs,
					  size_t n_outputs)
{
	linear_state *st = pgml_calloc(1, sizeof(linear_state));

	if (st == NULL)
		return NULL;
	st->kind = kind;
	st->task = task;
	st->output = output;
	st->n_features = n_features;
	st->n_funcs = n_funcs;
	st->n_outputs = n_outputs;
	st->coef = pgml_calloc(n_funcs * n_features, sizeof(double));
	st->intercept = pgml_calloc(n_funcs, sizeof(double));
	if (st->coef == NULL || st->intercept == NULL)
	{
		pgml_linear_free(st);
		return NULL;
	}
	return st;
}

/* Targets in double (n × t, row-major): the regression targets, or ±1 class codes for RidgeClassifier. */
static double *
targets(const pgml_data *d, pgml_task task, int n_classes, size_t *t)
{
	size_t		n = d->n_rows;
	double	   *Y;

	if (task == PGML_TASK_REGRESSION)
		*t = d->n_targets;
	else
		*t = n_classes == 2 ? 1 : (size_t) n_classes;
	Y = pgml_malloc(n * *t * sizeof(double));
	if (Y == NULL)
		return NULL;
	if (task == PGML_TASK_REGRESSION)
	{
		for (size_t i = 0; i < n * *t; i++)
			Y[i] = d->y[i];
	}
	else if (*t == 1)
	{
		for (size_t i = 0; i < n; i++)
			Y[i] = d->y[i] == 1.0f ? 1.0 : -1.0;
	}
	else
	{
		for (size_t i = 0; i < n; i++)
			for (size_t c = 0; c < *t; c++)
				Y[i * *t + c] = (size_t) d->y[i] == c ? 1.0 : -1.0;
	}
	return Y;
}

typedef enum linear_solver
{
	SOLVE_LSTSQ,
	SOLVE_RIDGE,
	SOLVE_CD,
} linear_solver;

/*
 * Fits a model whose functions are the targets (regression) or the ±1 class codes (RidgeClassifier) by one
 * of the least-squares solvers, with the intercept from the means.
 */
static pgml_status
fit_least_squares(linear_solver solver, const char *name, const linear_hp *hp, const pgml_fit_args *args,
				  const pgml_data *d, linear_state *st, pgml_err *err)
{
	size_t		n = d->n_rows;
	size_t		p = d->n_features;
	size_t		t;
	double	   *Y = targets(d, args->task, args->n_classes, &t);
	double	   *xmean = pgml_calloc(p, sizeof(double));
	double	   *ymean = pgml_calloc(t ? t : 1, sizeof(double));
	pgml_status rc = PGML_OK;

	if (Y == NULL || xmean == NULL || ymean == NULL)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	if (hp->fit_intercept)
	{
		column_means(d->x, n, p, xmean);
		target_means(Y, n, t, ymean);
	}
	switch (solver)
	{
		case SOLVE_LSTSQ:
			rc = lstsq_solve(d->x, Y, n, p, t, xmean, ymean, st->coef, err);
			break;
		case SOLVE_RIDGE:
			rc = ridge_solve(d->x, Y, n, p, t, xmean, ymean, hp->alpha, st->coef, err);
			break;
		case SOLVE_CD:
			rc = cd_solve(name, hp, d->x, Y, n, p, t, xmean, ymean, st->coef, err);
			break;
	}
	if (rc != PGML_OK)
		goto done;
	for (size_t k = 0; k < t; k++)
	{
		double		b = ymean[k];

		for (size_t j = 0; j < p; j++)
			b -= xmean[j] * st->coef[k * p + j];
		st->intercept[k] = b;
		if (!isfinite(b))
		{
			rc = pgml_error(err, PGML_ERR_DATA, "%s produced non-finite coefficients", name);
			goto done;
		}
	}
	for (size_t i = 0; i < t * p; i++)
	{
		if (!isfinite(st->coef[i]))
		{
			rc = pgml_error(err, PGML_ERR_DATA, "%s produced non-finite coefficients", name);
			goto done;
		}
	}
done:
	pgml_free(Y);
	pgml_free(xmean);
	pgml_free(ymean);
	return rc;
}

/* Common start of a fit: the task is supported, the keys are known, the data are sound. */
pgml_status
pgml_linear_fit_begin(const pgml_algorithm *algo, const pgml_fit_args *args, const pgml_data *d, void **state,
					  pgml_err *err)
{
	const char *const *keys;
	pgml_status rc;

	*state = NULL;
	if (args == NULL || (args->task != PGML_TASK_REGRESSION && args->task != PGML_TASK_CLASSIFICATION) ||
		!(algo->tasks & PGML_TASK_BIT(args->task)))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "algorithm %s does not support %s", algo->name,
				   args == NULL ? "this task" : args->task == PGML_TASK_REGRESSION ? "regression" :
				   args->task == PGML_TASK_CLASSIFICATION ? "classification" :
				   args->task == PGML_TASK_CLUSTERING ? "clustering" : "decomposition");
		pgml_err_detail(err, "It supports %s.",
						!(algo->tasks & PGML_TASK_BIT(PGML_TASK_CLASSIFICATION)) ? "regression only" :
						!(algo->tasks & PGML_TASK_BIT(PGML_TASK_REGRESSION)) ? "classification only" :
						"regression and classification");
		return PGML_ERR_NOT_SUPPORTED;
	}
	keys = args->task == PGML_TASK_REGRESSION ? algo->params_regression : algo->params_classification;
	if ((rc = pgml_json_check_keys(args->hyperparams, keys, "hyperparameter", err)) != PGML_OK)
		return rc;
	return check_data(args, d, err);
}

/* Finishes a fit: records the effective hyperparameters and hands the state over. */
pgml_status
pgml_linear_fit_end(linear_state *st, const json_t *hp, const param_default *defaults, void **state, pgml_err *err)
{
	st->params = pgml_linear_effective_params(hp, defaults);
	if (st->params == NULL)
	{
		pgml_linear_free(st);
		return pgml_linear_oom(err);
	}
	*state = st;
	return PGML_OK;
}

/* Fits LinearRegression (regression) or LogisticRegression (classification). */
static pgml_status
linear_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	linear_hp	hp;
	linear_state *st;
	pgml_status rc;

	if ((rc = pgml_linear_fit_begin(&pgml_algo_linear, args, train, state, err)) != PGML_OK)
		return rc;
	memset(&hp, 0, sizeof(hp));
	if (args->task == PGML_TASK_REGRESSION)
	{
		if ((rc = parse_ols(args->hyperparams, &hp, err)) != PGML_OK)
			return rc;
		st = pgml_linear_state_new(KIND_OLS, PGML_TASK_REGRESSION, OUT_LINEAR, train->n_features,
								   train->n_targets, train->n_targets);
		if (st == NULL)
			return pgml_linear_oom(err);
		rc = fit_least_squares(SOLVE_LSTSQ, "linear regression", &hp, args, train, st, err);
		if (rc != PGML_OK)
		{
			pgml_linear_free(st);
			return rc;
		}
		return pgml_linear_fit_end(st, args->hyperparams, ols_defaults, state, err);
	}
	if ((rc = parse_logistic(args->hyperparams, args->n_classes, &hp, err)) != PGML_OK)
		return rc;
	if (hp.multinomial)
		st = pgml_linear_state_new(KIND_LOGISTIC, PGML_TASK_CLASSIFICATION, OUT_SOFTMAX, train->n_features,
								   (size_t) args->n_classes, (size_t) args->n_classes);
	else if (args->n_classes == 2)
		st = pgml_linear_state_new(KIND_LOGISTIC, PGML_TASK_CLASSIFICATION, OUT_SIGMOID, train->n_features, 1, 2);
	else
		st = pgml_linear_state_new(KIND_LOGISTIC, PGML_TASK_CLASSIFICATION, OUT_OVR, train->n_features,
								   (size_t) args->n_classes, (size_t) args->n_classes);
	if (st == NULL)
		return pgml_linear_oom(err);
	rc = logistic_solve(&hp, train, args->n_classes, args->pool, st, err);
	if (rc != PGML_OK)
	{
		pgml_linear_free(st);
		return rc;
	}
	return pgml_linear_fit_end(st, args->hyperparams, logistic_defaults, state, err);
}

/* Fits Ridge (regression) or RidgeClassifier (classification). */
static pgml_status
ridge_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	bool		classifier = args && args->task == PGML_TASK_CLASSIFICATION;
	linear_hp	hp;
	linear_state *st;
	pgml_status rc;

	if ((rc = pgml_linear_fit_begin(&pgml_algo_ridge, args, train, state, err)) != PGML_OK)
		return rc;
	memset(&hp, 0, sizeof(hp));
	if ((rc = parse_ridge(args->hyperparams, classifier, &hp, err)) != PGML_OK)
		return rc;
	if (!classifier)
		st = pgml_linear_state_new(KIND_RIDGE, PGML_TASK_REGRESSION, OUT_LINEAR, train->n_features,
								   train->n_targets, train->n_targets);
	else if (args->n_classes == 2)
		st = pgml_linear_state_new(KIND_RIDGE_CLASSIFIER, PGML_TASK_CLASSIFICATION, OUT_BINARY_SCORE,
								   train->n_features, 1, 2);
	else
		st = pgml_linear_state_new(KIND_RIDGE_CLASSIFIER, PGML_TASK_CLASSIFICATION, OUT_LINEAR, train->n_features,
								   (size_t) args->n_classes, (size_t) args->n_classes);
	if (st == NULL)
		return pgml_linear_oom(err);
	rc = fit_least_squares(SOLVE_RIDGE, classifier ? "ridge classifier" : "ridge", &hp, args, train, st, err);
	if (rc != PGML_OK)
	{
		pgml_linear_free(st);
		return rc;
	}
	return pgml_linear_fit_end(st, args->hyperparams, classifier ? ridge_classifier_defaults : ridge_defaults,
							   state, err);
}

/* Fits Lasso or ElasticNet (regression only). */
static pgml_status
cd_fit(const pgml_algorithm *algo, bool elastic, const pgml_fit_args *args, const pgml_data *train,
	   void **state, pgml_err *err)
{
	linear_hp	hp;
	linear_state *st;
	pgml_status rc;

	if ((rc = pgml_linear_fit_begin(algo, args, train, state, err)) != PGML_OK)
		return rc;
	memset(&hp, 0, sizeof(hp));
	if ((rc = parse_cd(args->hyperparams, elastic, args->seed, &hp, err)) != PGML_OK)
		return rc;
	st = pgml_linear_state_new(elastic ? KIND_ELASTIC_NET : KIND_LASSO, PGML_TASK_REGRESSION, OUT_LINEAR,
							   train->n_features, train->n_targets, train->n_targets);
	if (st == NULL)
		return pgml_linear_oom(err);
	rc = fit_least_squares(SOLVE_CD, elastic ? "elastic net" : "lasso", &hp, args, train, st, err);
	if (rc != PGML_OK)
	{
		pgml_linear_free(st);
		return rc;
	}
	return pgml_linear_fit_end(st, args->hyperparams, elastic ? elastic_net_defaults : lasso_defaults, state, err);
}

/* Fits Lasso. */
static pgml_status
lasso_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return cd_fit(&pgml_algo_lasso, false, args, train, state, err);
}

/* Fits ElasticNet. */
static pgml_status
elastic_net_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return cd_fit(&pgml_algo_elastic_net, true, args, train, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * Predict, params, save, load
 * ------------------------------------------------------------------------------------------------- */

/* Values predict writes per row. */
size_t
pgml_linear_n_outputs(const void *state)
{
	const linear_state *st = state;

	return st ? st->n_outputs : 0;
}

/* Predicts n_rows rows: the functions in double, then the output mapping. */
pgml_status
pgml_linear_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out, pgml_err *err)
{
	const linear_state *st = state;
	size_t		p;
	size_t		k;
	double	   *z;

	if (st == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "model is not fitted");
	if (n_features != st->n_features)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "wrong number of features");
		pgml_err_detail(err, "The model was trained with %zu features; the input has %zu.", st->n_features,
						n_features);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (n_rows == 0)
		return PGML_OK;
	if (x == NULL || out == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no input to predict");
	p = st->n_features;
	k = st->n_funcs;
	z = pgml_malloc(k * sizeof(double));
	if (z == NULL)
		return pgml_linear_oom(err);
	for (size_t i = 0; i < n_rows; i++)
	{
		const float *row = x + i * p;
		float	   *o = out + i * st->n_outputs;

		for (size_t c = 0; c < k; c++)
		{
			const double *w = st->coef + c * p;
			double		s = st->intercept[c];

			for (size_t j = 0; j < p; j++)
				s += w[j] * row[j];
			z[c] = s;
		}
		switch (st->output)
		{
			case OUT_LINEAR:
				for (size_t c = 0; c < k; c++)
					o[c] = (float) z[c];
				break;
			case OUT_BINARY_SCORE:
				o[0] = (float) -z[0];
				o[1] = (float) z[0];
				break;
			case OUT_SIGMOID:
				o[0] = (float) sigmoid(-z[0]);
				o[1] = (float) sigmoid(z[0]);
				break;
			case OUT_SOFTMAX:
				{
					double		zmax = z[0];
					double		sum = 0;

					for (size_t c = 1; c < k; c++)
						if (z[c] > zmax)
							zmax = z[c];
					for (size_t c = 0; c < k; c++)
					{
						z[c] = exp(z[c] - zmax);
						sum += z[c];
					}
					for (size_t c = 0; c < k; c++)
						o[c] = (float) (z[c] / sum);
				}
				break;
			case OUT_OVR:
				{
					double		sum = 0;

					for (size_t c = 0; c < k; c++)
					{
						z[c] = sigmoid(z[c]);
						sum += z[c];
					}
					for (size_t c = 0; c < k; c++)
						o[c] = (float) (sum > 0 ? z[c] / sum : 1.0 / (double) k);
				}
				break;
		}
	}
	pgml_free(z);
	return PGML_OK;
}

/* The effective hyperparameters (a new reference). */
json_t *
pgml_linear_params(const void *state)
{
	const linear_state *st = state;

	return st && st->params ? json_deep_copy(st->params) : NULL;
}

/* Writes the fitted state (see the layout at the top of the file). */
void
pgml_linear_save(const void *state, pgml_buf *out)
{
	const linear_state *st = state;
	char	   *params;

	if (st == NULL)
	{
		out->failed = true;
		return;
	}
	pgml_buf_put_u32(out, LINEAR_FORMAT);
	pgml_buf_put_u8(out, (uint8_t) st->kind);
	pgml_buf_put_u8(out, (uint8_t) st->task);
	pgml_buf_put_u8(out, (uint8_t) st->output);
	pgml_buf_put_u64(out, st->n_features);
	pgml_buf_put_u64(out, st->n_funcs);
	pgml_buf_put_u64(out, st->n_outputs);
	pgml_buf_put_f64s(out, st->coef, st->n_funcs * st->n_features);
	pgml_buf_put_f64s(out, st->intercept, st->n_funcs);
	params = st->params ? pgml_json_dumps(st->params) : NULL;
	if (st->params != NULL && params == NULL)
		out->failed = true;
	pgml_buf_put_str(out, params);
	pgml_free(params);
}

/* Marks the input corrupt for `reason` and makes sure err carries the message. */
static pgml_status
load_fail(pgml_reader *in, pgml_err *err, const char *reason)
{
	pgml_reader_fail(in, reason);
	if (err != NULL && err != in->err)
	{
		if (in->err != NULL)
			*err = *in->err;
		else
		{
			pgml_error(err, PGML_ERR_CORRUPT, "%s is corrupt", in->what);
			pgml_err_detail(err, "%s.", reason);
		}
	}
	return PGML_ERR_CORRUPT;
}

/* The tasks (PGML_TASK_BIT mask) a kind fits. */
static unsigned
kind_tasks(linear_kind kind)
{
	switch (kind)
	{
		case KIND_LOGISTIC:
		case KIND_RIDGE_CLASSIFIER:
		case KIND_PERCEPTRON:
			return PGML_TASK_BIT(PGML_TASK_CLASSIFICATION);
		case KIND_SGD:
		case KIND_PASSIVE_AGGRESSIVE:
			return PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION);
		default:
			return PGML_TASK_BIT(PGML_TASK_REGRESSION);
	}
}

/* Whether the output mapping and the counts agree with the kind and the task. */
static bool
shape_is_valid(linear_kind kind, pgml_task task, linear_output output, size_t n_funcs, size_t n_outputs)
{
	switch (kind)
	{
		case KIND_OLS:
		case KIND_RIDGE:
		case KIND_LASSO:
		case KIND_ELASTIC_NET:
			return output == OUT_LINEAR && n_outputs == n_funcs;
		case KIND_RIDGE_CLASSIFIER:
			return (output == OUT_BINARY_SCORE && n_funcs == 1 && n_outputs == 2) ||
				(output == OUT_LINEAR && n_funcs >= 3 && n_outputs == n_funcs);
		case KIND_LOGISTIC:
			return (output == OUT_SIGMOID && n_funcs == 1 && n_outputs == 2) ||
				(output == OUT_SOFTMAX && n_funcs >= 2 && n_outputs == n_funcs) ||
				(output == OUT_OVR && n_funcs >= 3 && n_outputs == n_funcs);
		case KIND_SGD:
		case KIND_PERCEPTRON:
		case KIND_PASSIVE_AGGRESSIVE:
		case KIND_HUBER:
		case KIND_QUANTILE:
		case KIND_RANSAC:
		case KIND_THEIL_SEN:
			/* one target; classifiers: decision scores, one-vs-all beyond two classes */
			if (task == PGML_TASK_REGRESSION)
				return output == OUT_LINEAR && n_funcs == 1 && n_outputs == 1;
			return (output == OUT_BINARY_SCORE && n_funcs == 1 && n_outputs == 2) ||
				(output == OUT_LINEAR && n_funcs >= 3 && n_outputs == n_funcs);
	}
	return false;
}

/* Reads a state written by pgml_linear_save whose kind is one of `kinds` (KIND_BIT mask), validating all of it. */
pgml_status
pgml_linear_load_kinds(pgml_reader *in, unsigned kinds, void **state, pgml_err *err)
{
	uint32_t	format;
	unsigned	kind;
	unsigned	task;
	unsigned	output;
	uint64_t	n_features;
	uint64_t	n_funcs;
	uint64_t	n_outputs;
	size_t		n;
	double	   *coef = NULL;
	double	   *intercept = NULL;
	char	   *text = NULL;
	json_t	   *params = NULL;
	linear_state *st;

	*state = NULL;
	format = pgml_reader_u32(in);
	kind = pgml_reader_u8(in);
	task = pgml_reader_u8(in);
	output = pgml_reader_u8(in);
	n_features = pgml_reader_u64(in);
	n_funcs = pgml_reader_u64(in);
	n_outputs = pgml_reader_u64(in);
	if (pgml_reader_status(in) != PGML_OK)
		return load_fail(in, err, "Unexpected end of data");
	if (format != LINEAR_FORMAT)
		return load_fail(in, err, "Unknown linear model format version");
	if (kind < KIND_OLS || kind > KIND_LAST || !(kinds & KIND_BIT(kind)))
		return load_fail(in, err, "The linear model kind does not belong to this algorithm");
	if (task > PGML_TASK_CLASSIFICATION || !(kind_tasks((linear_kind) kind) & PGML_TASK_BIT(task)))
		return load_fail(in, err, "The linear model task does not match its kind");
	if (n_features == 0 || n_features > MAX_FEATURES || n_funcs == 0 || n_funcs > MAX_FUNCS ||
		n_outputs > MAX_FUNCS || n_features * n_funcs > MAX_COEFS)
		return load_fail(in, err, "The linear model dimensions are out of range");
	if (output < OUT_LINEAR || output > OUT_OVR ||
		!shape_is_valid((linear_kind) kind, (pgml_task) task, (linear_output) output, (size_t) n_funcs,
						(size_t) n_outputs))
		return load_fail(in, err, "The linear model output does not match its dimensions");
	coef = pgml_reader_f64s(in, (size_t) (n_features * n_funcs), MAX_COEFS, &n);
	if (coef != NULL)
		intercept = pgml_reader_f64s(in, (size_t) n_funcs, MAX_FUNCS, &n);
	if (intercept != NULL)
		text = pgml_reader_str(in, MAX_PARAMS_JSON);
	if (pgml_reader_status(in) != PGML_OK || coef == NULL || intercept == NULL)
	{
		pgml_free(coef);
		pgml_free(intercept);
		pgml_free(text);
		return load_fail(in, err, "Unexpected end of data");
	}
	for (size_t i = 0; i < n_features * n_funcs; i++)
		if (!isfinite(coef[i]))
			goto corrupt_values;
	for (size_t i = 0; i < n_funcs; i++)
		if (!isfinite(intercept[i]))
			goto corrupt_values;
	if (text != NULL)
	{
		pgml_err	jerr;

		if (pgml_json_parse(text, strlen(text), "linear model parameters", &params, &jerr) != PGML_OK ||
			!json_is_object(params))
		{
			json_decref(params);
			pgml_free(coef);
			pgml_free(intercept);
			pgml_free(text);
			return load_fail(in, err, "The stored hyperparameters are not a JSON object");
		}
		pgml_free(text);
	}
	st = pgml_calloc(1, sizeof(linear_state));
	if (st == NULL)
	{
		json_decref(params);
		pgml_free(coef);
		pgml_free(intercept);
		return pgml_linear_oom(err);
	}
	st->kind = (linear_kind) kind;
	st->task = (pgml_task) task;
	st->output = (linear_output) output;
	st->n_features = (size_t) n_features;
	st->n_funcs = (size_t) n_funcs;
	st->n_outputs = (size_t) n_outputs;
	st->coef = coef;
	st->intercept = intercept;
	st->params = params;
	*state = st;
	return PGML_OK;

corrupt_values:
	pgml_free(coef);
	pgml_free(intercept);
	pgml_free(text);
	return load_fail(in, err, "A coefficient is not finite");
}

/* Loads a LinearRegression or LogisticRegression state. */
static pgml_status
linear_load(pgml_reader *in, void **state, pgml_err *err)
{
	return pgml_linear_load_kinds(in, KIND_BIT(KIND_OLS) | KIND_BIT(KIND_LOGISTIC), state, err);
}

/* Loads a Ridge or RidgeClassifier state. */
static pgml_status
ridge_load(pgml_reader *in, void **state, pgml_err *err)
{
	return pgml_linear_load_kinds(in, KIND_BIT(KIND_RIDGE) | KIND_BIT(KIND_RIDGE_CLASSIFIER), state, err);
}

/* Loads a Lasso state. */
static pgml_status
lasso_load(pgml_reader *in, void **state, pgml_err *err)
{
	return pgml_linear_load_kinds(in, KIND_BIT(KIND_LASSO), state, err);
}

/* Loads an ElasticNet state. */
static pgml_status
elastic_net_load(pgml_reader *in, void **state, pgml_err *err)
{
	return pgml_linear_load_kinds(in, KIND_BIT(KIND_ELASTIC_NET), state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * The tables
 * ------------------------------------------------------------------------------------------------- */

const pgml_algorithm pgml_algo_linear = {
	.name = "linear",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = ols_params,
	.params_classification = logistic_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = true,
	.fit = linear_fit,
	.n_outputs = pgml_linear_n_outputs,
	.predict = pgml_linear_predict,
	.params = pgml_linear_params,
	.save = pgml_linear_save,
	.load = linear_load,
	.free = pgml_linear_free,
};

const pgml_algorithm pgml_algo_ridge = {
	.name = "ridge",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = ridge_params,
	.params_classification = ridge_classifier_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = false,
	.fit = ridge_fit,
	.n_outputs = pgml_linear_n_outputs,
	.predict = pgml_linear_predict,
	.params = pgml_linear_params,
	.save = pgml_linear_save,
	.load = ridge_load,
	.free = pgml_linear_free,
};

const pgml_algorithm pgml_algo_lasso = {
	.name = "lasso",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION),
	.params_regression = lasso_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = false,
	.fit = lasso_fit,
	.n_outputs = pgml_linear_n_outputs,
	.predict = pgml_linear_predict,
	.params = pgml_linear_params,
	.save = pgml_linear_save,
	.load = lasso_load,
	.free = pgml_linear_free,
};

const pgml_algorithm pgml_algo_elastic_net = {
	.name = "elastic_net",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION),
	.params_regression = elastic_net_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = false,
	.fit = elastic_net_fit,
	.n_outputs = pgml_linear_n_outputs,
	.predict = pgml_linear_predict,
	.params = pgml_linear_params,
	.save = pgml_linear_save,
	.load = elastic_net_load,
	.free = pgml_linear_free,
};

/* ---------------------------------------------------------------------------------------------------
 * Helpers shared with linear_bayes.c (declared in linear_bayes_internal.h)
 * ------------------------------------------------------------------------------------------------- */

pgml_status
pgml_linear_load_fail(pgml_reader *in, pgml_err *err, const char *reason)
{
	return load_fail(in, err, reason);
}

pgml_status
pgml_linear_gelsd(size_t m, size_t n, size_t t, double *A, double *B, size_t ldb, double rcond, pgml_err *err)
{
	return gelsd(m, n, t, A, B, ldb, rcond, err);
}
