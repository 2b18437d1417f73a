/*
 * linear_bayes.c — Bayesian and path-following linear models, kernel ridge and Gaussian processes, standing
 * for scikit-learn 1.2's BayesianRidge, ARDRegression, Lars, LassoLars, OrthogonalMatchingPursuit,
 * KernelRidge, GaussianProcessRegressor and GaussianProcessClassifier.
 *
 * Every computation is in double; X arrives as float. Linear models fit on centered data when fitting an
 * intercept (the intercept is then mean(y) - mean(X)·w), as sklearn's _preprocess_data does.
 *
 *   bayesian_ridge   evidence maximisation (MacKay): from the thin SVD X = U S V', the posterior mean
 *                    w = V diag(1/(s² + λ/α)) V'X'y (U'y form when rows <= features), then
 *                    γ = Σ αs²/(λ + αs²), λ = (γ + 2λ₁)/(||w||² + 2λ₂), α = (n - γ + 2α₁)/(||y - Xw||² + 2α₂),
 *                    until the coefficients move by less than tol (L1) after the first iteration, and a
 *                    last w for the final α, λ.
 *   automatic_relevance_determination
 *                    one precision λⱼ per feature: Σ = pinv(diag(λ) + αX'X) over the kept features (the
 *                    Woodbury form with an n × n inverse when rows < features), w = αΣX'y,
 *                    γⱼ = 1 - λⱼΣⱼⱼ, λⱼ = (γⱼ + 2λ₁)/(wⱼ² + 2λ₂), α = (n - Σγ + 2α₁)/(||y - Xw||² + 2α₂);
 *                    features whose λ reaches threshold_lambda are pruned (weight 0, for good). The pseudo-
 *                    inverse drops eigenvalues below size · eps · the largest, as scipy's pinvh.
 *   least_angle, lasso_least_angle
 *                    the LARS path (Efron et al. 2004) on the correlations c = X'(y - Xw): the active set's
 *                    Cholesky factor grows one variable at a time, the step along the equiangular direction
 *                    is the smallest that brings an inactive variable level with the active ones. The lasso
 *                    variant also stops a step where an active coefficient crosses zero and drops that
 *                    variable, and stops the path where the largest correlation / n reaches alpha,
 *                    interpolating the last step. Ties, the 15-decimal rounding of the direction's
 *                    correlations and float32-epsilon stopping follow sklearn's lars_path, so that the same
 *                    variables enter in the same order. A variable whose Cholesky pivot is below 1e-7
 *                    (a combination of the active ones) is left out until the active set changes and the
 *                    path goes on along the current direction; sklearn instead zeroes its correlation and
 *                    picks again, which can end far from the least-squares fit (a duplicated column does).
 *                    Gram matrix or column products as precompute says ("auto": the Gram matrix when rows >
 *                    features or several targets). jitter adds uniform [0, jitter) noise to the target from
 *                    MT19937 as numpy's RandomState(random_state) draws it (random_state null: the fit's
 *                    seed).
 *   orthogonal_matching_pursuit
 *                    greedy: add the column most correlated with the residual, refit least squares on the
 *                    active columns through an updated Cholesky factor, until n_nonzero_coefs columns or the
 *                    squared residual norm <= tol; on the Gram matrix when precompute says so (as sklearn's
 *                    orthogonal_mp_gram) or on the columns (as orthogonal_mp).
 *   kernel_ridge     dual coefficients (K + αI)⁻¹ Y by Cholesky, least squares (dgelsd, rcond eps) when K + αI
 *                    is not positive definite; kernels linear, poly/polynomial, rbf, sigmoid, laplacian,
 *                    cosine, additive_chi2, chi2 as sklearn.metrics.pairwise (gamma null: 1/features, chi2: 1).
 *   gaussian_process regression: kernel 1.0 · exp(-½||x - x'||²) (sklearn's default kernel, whose
 *                    hyperparameters are fixed, so no optimizer runs), L = chol(K + αI), a = L'⁻¹L⁻¹y
 *                    (y standardized with normalize_y), prediction K(x, X)a.
 *                    classification: the binary Laplace approximation (Rasmussen & Williams, algorithms 3.1
 *                    and 3.2): Newton iterations for the posterior mode until the approximate log marginal
 *                    likelihood gains less than 1e-10 or max_iter_predict; the predictive probability
 *                    ∫σ(f)N(f|f*, v*)df uses Williams & Barber's approximation of the logistic by five error
 *                    functions (see ERF_LAMBDA). More than two classes: one-vs-rest, probabilities normalized
 *                    to sum to 1 as sklearn's OneVsRestClassifier.
 *
 * The n × n factorizations of the kernel models run by panels (cholesky_blocked), polling the stop hook in
 * between, so that a cancel is honoured within about a second whatever the number of rows.
 *
 * Saved form (inside the model file), little-endian:
 *   u32 format (1) · u8 kind · u8 task · u64 n_features · u64 n_funcs · u64 n_outputs, then by kind
 *   linear kinds     f64s coef (n_funcs × n_features) · f64s intercept (n_funcs)
 *   kernel kinds     u8 kernel · f64 gamma · f64 degree · f64 coef0 · u64 n_train · f32s x_train
 *                    (n_train × n_features) · f64s dual (n_train × n_funcs)
 *                    gaussian_process regression: · f64s y_mean (n_funcs) · f64s y_std (n_funcs)
 *                    gaussian_process classification: dual holds y - π; · f64s sqrt(W) (n_funcs × n_train)
 *   then str effective hyperparameters (JSON). The classifier's Cholesky factors are recomputed on load.
 */
#include "algorithms.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "pgml/json.h"
#include "linear_bayes_internal.h"

#define BAYES_FORMAT		1
#define MAX_FEATURES		((size_t) 1 << 26)
#define MAX_FUNCS			((size_t) 1 << 20)
#define MAX_COEFS			((size_t) 1 << 30)
#define MAX_KERNEL_ROWS		((size_t) 1 << 17)
#define MAX_TRAIN_CELLS		((size_t) 1 << 31)
#define MAX_PARAMS_JSON		65536
#define KERNEL_BLOCK_WORK	((size_t) 1 << 24)	/* flops (about) per block of kernel rows */
#define CHOL_STEP_WORK		((size_t) 1 << 32)	/* flops (about) between polls in a Cholesky factorization */
#define EPS32				1.1920928955078125e-07	/* float32 epsilon: lars_path's equality tolerance */
#define TINY32				1.1754943508222875e-38	/* smallest normal float32: lars_path's guard */

typedef enum bayes_kind
{
	KIND_BAYESIAN_RIDGE = 1,
	KIND_ARD,
	KIND_LARS,
	KIND_LASSO_LARS,
	KIND_OMP,
	KIND_KERNEL_RIDGE,
	KIND_GP_REGRESSOR,
	KIND_GP_CLASSIFIER,
} bayes_kind;

#define KIND_BIT(k) (1u << (k))
#define KIND_IS_LINEAR(k) ((k) >= KIND_BAYESIAN_RIDGE && (k) <= KIND_OMP)

typedef enum kernel_type
{
	KERNEL_LINEAR = 1,
	KERNEL_POLY,
	KERNEL_RBF,
	KERNEL_SIGMOID,
	KERNEL_LAPLACIAN,
	KERNEL_COSINE,
	KERNEL_ADDITIVE_CHI2,
	KERNEL_CHI2,
	KERNEL_GP_RBF,				/* the Gaussian processes' 1.0 · exp(-½||x - x'||²), by differences */
} kernel_type;

typedef struct kernel_spec
{
	kernel_type type;
	double		gamma;			/* resolved (never null) */
	double		degree;
	double		coef0;
} kernel_spec;

/* The training rows of a kernel model, ready for kernel evaluations. */
typedef struct kernel_train
{
	kernel_spec spec;
	size_t		n;
	size_t		p;
	const float *x;				/* n × p, row-major */
	double	   *xd;				/* dot-product kernels: x in double (cosine: rows normalized) */
	double	   *sq;				/* rbf: squared row norms */
} kernel_train;

typedef struct bayes_state
{
	bayes_kind	kind;
	pgml_task	task;
	size_t		n_features;
	size_t		n_funcs;		/* targets; gaussian_process classification: 1 (binary) or the classes */
	size_t		n_outputs;
	/* linear kinds */
	double	   *coef;			/* n_funcs × n_features, row-major */
	double	   *intercept;		/* n_funcs */
	/* kernel kinds */
	kernel_train kt;
	size_t		n_train;
	float	   *x_train;		/* n_train × n_features */
	double	   *dual;			/* n_train × n_funcs: dual coefficients, GP regression's a, classification's y - π */
	double	   *y_mean;			/* GP regression: n_funcs */
	double	   *y_std;			/* GP regression: n_funcs */
	double	   *w_sr;			/* GP classification: n_funcs × n_train, sqrt(W) at the mode */
	double	   *chol;			/* GP classification: n_funcs lower factors of I + W½KW½ (n_train², col-major) */
	json_t	   *params;			/* the effective hyperparameters */
} bayes_state;

/* ---------------------------------------------------------------------------------------------------
 * Hyperparameters
 * ------------------------------------------------------------------------------------------------- */

static const char *const no_params[] = {NULL};

static const char *const bayesian_ridge_params[] = {
	"n_iter", "tol", "alpha_1", "alpha_2", "lambda_1", "lambda_2", "alpha_init", "lambda_init",
	"compute_score", "fit_intercept", "copy_X", "verbose", NULL
};

static const char *const ard_params[] = {
	"n_iter", "tol", "alpha_1", "alpha_2", "lambda_1", "lambda_2", "compute_score", "threshold_lambda",
	"fit_intercept", "copy_X", "verbose", NULL
};

static const char *const lars_params[] = {
	"fit_intercept", "verbose", "normalize", "precompute", "n_nonzero_coefs", "eps", "copy_X", "fit_path",
	"jitter", "random_state", NULL
};

static const char *const lasso_lars_params[] = {
	"alpha", "fit_intercept", "verbose", "normalize", "precompute", "max_iter", "eps", "copy_X", "fit_path",
	"positive", "jitter", "random_state", NULL
};

static const char *const omp_params[] = {
	"n_nonzero_coefs", "tol", "fit_intercept", "normalize", "precompute", NULL
};

static const char *const kernel_ridge_params[] = {
	"alpha", "kernel", "gamma", "degree", "coef0", "kernel_params", NULL
};

static const char *const gpr_params[] = {
	"kernel", "alpha", "optimizer", "n_restarts_optimizer", "normalize_y", "copy_X_train", "random_state", NULL
};

static const char *const gpc_params[] = {
	"kernel", "optimizer", "n_restarts_optimizer", "max_iter_predict", "warm_start", "copy_X_train",
	"random_state", "multi_class", "n_jobs", NULL
};

static const param_default bayesian_ridge_defaults[] = {
	PD_INT("n_iter", 300), PD_REAL("tol", 1e-3), PD_REAL("alpha_1", 1e-6), PD_REAL("alpha_2", 1e-6),
	PD_REAL("lambda_1", 1e-6), PD_REAL("lambda_2", 1e-6), PD_NULL("alpha_init"), PD_NULL("lambda_init"),
	PD_BOOL("compute_score", false), PD_BOOL("fit_intercept", true), PD_BOOL("copy_X", true),
	PD_BOOL("verbose", false),
	PD_END
};

static const param_default ard_defaults[] = {
	PD_INT("n_iter", 300), PD_REAL("tol", 1e-3), PD_REAL("alpha_1", 1e-6), PD_REAL("alpha_2", 1e-6),
	PD_REAL("lambda_1", 1e-6), PD_REAL("lambda_2", 1e-6), PD_BOOL("compute_score", false),
	PD_REAL("threshold_lambda", 10000.0), PD_BOOL("fit_intercept", true), PD_BOOL("copy_X", true),
	PD_BOOL("verbose", false),
	PD_END
};

static const param_default lars_defaults[] = {
	PD_BOOL("fit_intercept", true), PD_BOOL("verbose", false), PD_STR("normalize", "deprecated"),
	PD_STR("precompute", "auto"), PD_INT("n_nonzero_coefs", 500), PD_REAL("eps", DBL_EPSILON),
	PD_BOOL("copy_X", true), PD_BOOL("fit_path", true), PD_NULL("jitter"), PD_NULL("random_state"),
	PD_END
};

static const param_default lasso_lars_defaults[] = {
	PD_REAL("alpha", 1.0), PD_BOOL("fit_intercept", true), PD_BOOL("verbose", false),
	PD_STR("normalize", "deprecated"), PD_STR("precompute", "auto"), PD_INT("max_iter", 500),
	PD_REAL("eps", DBL_EPSILON), PD_BOOL("copy_X", true), PD_BOOL("fit_path", true),
	PD_BOOL("positive", false), PD_NULL("jitter"), PD_NULL("random_state"),
	PD_END
};

static const param_default omp_defaults[] = {
	PD_NULL("n_nonzero_coefs"), PD_NULL("tol"), PD_BOOL("fit_intercept", true),
	PD_STR("normalize", "deprecated"), PD_STR("precompute", "auto"),
	PD_END
};

static const param_default kernel_ridge_defaults[] = {
	PD_INT("alpha", 1), PD_STR("kernel", "linear"), PD_NULL("gamma"), PD_INT("degree", 3), PD_INT("coef0", 1),
	PD_NULL("kernel_params"),
	PD_END
};

static const param_default gpr_defaults[] = {
	PD_NULL("kernel"), PD_REAL("alpha", 1e-10), {"optimizer", DEF_STRING, 0, "fmin_l_bfgs_b", true},
	PD_INT("n_restarts_optimizer", 0), PD_BOOL("normalize_y", false), PD_BOOL("copy_X_train", true),
	PD_NULL("random_state"),
	PD_END
};

static const param_default gpc_defaults[] = {
	PD_NULL("kernel"), {"optimizer", DEF_STRING, 0, "fmin_l_bfgs_b", true}, PD_INT("n_restarts_optimizer", 0),
	PD_INT("max_iter_predict", 100), PD_BOOL("warm_start", false), PD_BOOL("copy_X_train", true),
	PD_NULL("random_state"), PD_STR("multi_class", "one_vs_rest"), PD_NULL("n_jobs"),
	PD_END
};

/* What a fit uses (the other hyperparameters are checked and recorded only). */
typedef struct bayes_hp
{
	bool		fit_intercept;
	bool		verbose;
	/* Bayesian ridge, ARD */
	int64_t		n_iter;
	double		tol;
	double		alpha_1;
	double		alpha_2;
	double		lambda_1;
	double		lambda_2;
	bool		has_alpha_init;
	double		alpha_init;
	bool		has_lambda_init;
	double		lambda_init;
	double		threshold_lambda;
	/* LARS */
	bool		lasso;
	double		alpha;
	int64_t		max_iter;
	double		eps;
	bool		positive;
	int			precompute;		/* -1 "auto", 0 false, 1 true */
	bool		has_jitter;
	double		jitter;
	bool		has_seed;
	uint64_t	seed;
	/* OMP */
	int64_t		n_nonzero_coefs;	/* 0: the default */
	bool		has_tol;
	/* kernels, Gaussian processes */
	kernel_spec kernel;
	bool		has_gamma;
	bool		normalize_y;
	int64_t		max_iter_predict;
} bayes_hp;

/* Records an out-of-memory error. */
static pgml_status
out_of_memory(pgml_err *err)
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

/* verbose, already type-checked: true or a positive integer. */
static bool
hp_verbose(const json_t *hp)
{
	const json_t *v = pgml_linear_hp_value(hp, "verbose");

	return v != NULL && (json_is_true(v) || (json_is_integer(v) && json_integer_value(v) > 0));
}

/* A number that must be > 0 (closed-open intervals that exclude 0). */
static pgml_status
hp_positive(const json_t *hp, const char *key, double def, double *out, pgml_err *err)
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

/* normalize: its default "deprecated" or false (true, deprecated in sklearn 1.2, is not implemented). */
static pgml_status
hp_normalize(const json_t *hp, pgml_err *err)
{
	const json_t *v = pgml_linear_hp_value(hp, "normalize");

	if (v == NULL || json_is_false(v) ||
		(json_is_string(v) && strcmp(json_string_value(v), "deprecated") == 0))
		return PGML_OK;
	if (json_is_true(v))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "normalize=true is not supported");
		pgml_err_detail(err, "scikit-learn 1.2 deprecated it; only false (the default) is implemented.");
		pgml_err_hint(err, "Scale the features with the preprocess argument of pgml.train instead.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"normalize\"");
	pgml_err_detail(err, "It must be false or \"deprecated\".");
	return PGML_ERR_INVALID_ARGUMENT;
}

/* precompute: true, false or "auto" (a Gram matrix given as an array is not supported). */
static pgml_status
hp_precompute(const json_t *hp, int *out, pgml_err *err)
{
	const json_t *v = pgml_linear_hp_value(hp, "precompute");

	*out = -1;
	if (v == NULL)
		return PGML_OK;
	if (json_is_boolean(v))
	{
		*out = json_is_true(v) ? 1 : 0;
		return PGML_OK;
	}
	if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0)
		return PGML_OK;
	if (json_is_array(v))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "a precomputed Gram matrix is not supported");
		pgml_err_detail(err, "precompute must be true, false or \"auto\".");
		return PGML_ERR_NOT_SUPPORTED;
	}
	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"precompute\"");
	pgml_err_detail(err, "It must be true, false or \"auto\".");
	return PGML_ERR_INVALID_ARGUMENT;
}

/* The hyperparameters of BayesianRidge (ard = false) or ARDRegression. */
static pgml_status
parse_bayes(const json_t *hp, bool ard, bayes_hp *out, pgml_err *err)
{
	bool		b;
	pgml_status rc;

	if ((rc = pgml_json_get_int(hp, "n_iter", 300, 1, INT_MAX, &out->n_iter, err)) != PGML_OK ||
		(ard ? (rc = pgml_json_get_real(hp, "tol", 1e-3, 0.0, DBL_MAX, &out->tol, err)) :
		 (rc = hp_positive(hp, "tol", 1e-3, &out->tol, err))) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "alpha_1", 1e-6, 0.0, DBL_MAX, &out->alpha_1, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "alpha_2", 1e-6, 0.0, DBL_MAX, &out->alpha_2, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "lambda_1", 1e-6, 0.0, DBL_MAX, &out->lambda_1, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "lambda_2", 1e-6, 0.0, DBL_MAX, &out->lambda_2, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "compute_score", false, &b, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "fit_intercept", true, &out->fit_intercept, err)) != PGML_OK ||
		(rc = pgml_linear_hp_check_inert(hp, err)) != PGML_OK)
		return rc;
	if (ard)
		return pgml_json_get_real(hp, "threshold_lambda", 10000.0, 0.0, DBL_MAX, &out->threshold_lambda, err);
	if ((rc = pgml_json_get_real(hp, "alpha_init", -1.0, 0.0, DBL_MAX, &out->alpha_init, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "lambda_init", -1.0, 0.0, DBL_MAX, &out->lambda_init, err)) != PGML_OK)
		return rc;
	out->has_alpha_init = out->alpha_init >= 0;
	out->has_lambda_init = out->lambda_init >= 0;
	if (out->has_alpha_init && out->alpha_init == 0)
	{
		/* the first posterior mean divides by it (scikit-learn raises ZeroDivisionError) */
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"alpha_init\" must be positive");
		pgml_err_detail(err, "It is the initial noise precision; 0 makes the first posterior mean undefined.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

/* The hyperparameters of Lars (lasso = false) or LassoLars. */
static pgml_status
parse_lars(const json_t *hp, bool lasso, bayes_hp *out, pgml_err *err)
{
	bool		b;
	pgml_status rc;

	out->lasso = lasso;
	if ((rc = pgml_json_get_bool(hp, "fit_intercept", true, &out->fit_intercept, err)) != PGML_OK ||
		(rc = hp_normalize(hp, err)) != PGML_OK ||
		(rc = hp_precompute(hp, &out->precompute, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "eps", DBL_EPSILON, 0.0, DBL_MAX, &out->eps, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "fit_path", true, &b, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "jitter", -1.0, 0.0, DBL_MAX, &out->jitter, err)) != PGML_OK ||
		(rc = pgml_linear_hp_seed(hp, 0, &out->seed, err)) != PGML_OK ||
		(rc = pgml_linear_hp_check_inert(hp, err)) != PGML_OK)
		return rc;
	out->has_jitter = out->jitter >= 0;
	out->has_seed = pgml_linear_hp_value(hp, "random_state") != NULL;
	if (lasso)
	{
		if ((rc = pgml_json_get_real(hp, "alpha", 1.0, 0.0, DBL_MAX, &out->alpha, err)) != PGML_OK ||
			(rc = pgml_json_get_int(hp, "max_iter", 500, 0, INT_MAX, &out->max_iter, err)) != PGML_OK ||
			(rc = pgml_json_get_bool(hp, "positive", false, &out->positive, err)) != PGML_OK)
			return rc;
	}
	else
	{
		out->alpha = 0.0;
		if ((rc = pgml_json_get_int(hp, "n_nonzero_coefs", 500, 1, INT_MAX, &out->max_iter, err)) != PGML_OK)
			return rc;
	}
	return PGML_OK;
}

/* The hyperparameters of OrthogonalMatchingPursuit; p is the number of features. */
static pgml_status
parse_omp(const json_t *hp, size_t p, bayes_hp *out, pgml_err *err)
{
	pgml_status rc;

	if ((rc = pgml_json_get_int(hp, "n_nonzero_coefs", 0, 1, INT_MAX, &out->n_nonzero_coefs, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "tol", -1.0, 0.0, DBL_MAX, &out->tol, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "fit_intercept", true, &out->fit_intercept, err)) != PGML_OK ||
		(rc = hp_normalize(hp, err)) != PGML_OK ||
		(rc = hp_precompute(hp, &out->precompute, err)) != PGML_OK)
		return rc;
	out->has_tol = out->tol >= 0;
	if (!out->has_tol)
	{
		if (out->n_nonzero_coefs == 0)
			out->n_nonzero_coefs = (int64_t) (p / 10) > 1 ? (int64_t) (p / 10) : 1;
		else if ((size_t) out->n_nonzero_coefs > p)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT,
					   "\"n_nonzero_coefs\" cannot be more than the number of features");
			pgml_err_detail(err, "It is %lld; the data have %zu features.", (long long) out->n_nonzero_coefs, p);
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	return PGML_OK;
}

/* A scalar alpha (an array of per-target or per-sample values is not supported). */
static pgml_status
hp_scalar_alpha(const json_t *hp, double def, double *out, pgml_err *err)
{
	const json_t *v = pgml_linear_hp_value(hp, "alpha");

	if (v != NULL && json_is_array(v))
	{
		*out = def;
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "an array of alpha values is not supported");
		pgml_err_detail(err, "alpha must be a single number.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	return pgml_json_get_real(hp, "alpha", def, 0.0, DBL_MAX, out, err);
}

/* The hyperparameters of KernelRidge; p is the number of features (for gamma's default). */
static pgml_status
parse_kernel_ridge(const json_t *hp, size_t p, bayes_hp *out, pgml_err *err)
{
	static const char *const kernels[] = {
		"linear", "poly", "polynomial", "rbf", "sigmoid", "laplacian", "cosine", "additive_chi2", "chi2",
		"precomputed", NULL
	};
	const char *name;
	const json_t *kp = pgml_linear_hp_value(hp, "kernel_params");
	int64_t		degree;
	pgml_status rc;

	if ((rc = hp_scalar_alpha(hp, 1.0, &out->alpha, err)) != PGML_OK ||
		(rc = pgml_linear_hp_choice(hp, "kernel", "linear", kernels, &name, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "gamma", -1.0, 0.0, DBL_MAX, &out->kernel.gamma, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "degree", 3, 0, INT_MAX, &degree, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "coef0", 1.0, -DBL_MAX, DBL_MAX, &out->kernel.coef0, err)) != PGML_OK)
		return rc;
	if (kp != NULL && !json_is_object(kp))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"kernel_params\" must be an object, not %s",
				   pgml_json_type_name(kp));
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (kp != NULL && json_object_size(kp) > 0)
		pgml_log(PGML_LOG_NOTICE, "kernel_ridge: kernel_params is ignored with a named kernel (as scikit-learn "
				 "does); use gamma, degree and coef0");
	out->kernel.degree = (double) degree;
	out->has_gamma = out->kernel.gamma >= 0;
	if (strcmp(name, "precomputed") == 0)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "kernel \"precomputed\" is not supported");
		pgml_err_detail(err, "The training rows are feature vectors, not kernel matrices.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if (strcmp(name, "linear") == 0)
		out->kernel.type = KERNEL_LINEAR;
	else if (strcmp(name, "poly") == 0 || strcmp(name, "polynomial") == 0)
		out->kernel.type = KERNEL_POLY;
	else if (strcmp(name, "rbf") == 0)
		out->kernel.type = KERNEL_RBF;
	else if (strcmp(name, "sigmoid") == 0)
		out->kernel.type = KERNEL_SIGMOID;
	else if (strcmp(name, "laplacian") == 0)
		out->kernel.type = KERNEL_LAPLACIAN;
	else if (strcmp(name, "cosine") == 0)
		out->kernel.type = KERNEL_COSINE;
	else if (strcmp(name, "additive_chi2") == 0)
		out->kernel.type = KERNEL_ADDITIVE_CHI2;
	else
		out->kernel.type = KERNEL_CHI2;
	if (!out->has_gamma)
		out->kernel.gamma = out->kernel.type == KERNEL_CHI2 ? 1.0 : 1.0 / (double) p;
	return PGML_OK;
}

/* The hyperparameters the Gaussian processes share: kernel (null only), optimizer, restarts, random_state. */
static pgml_status
parse_gp_common(const json_t *hp, pgml_err *err)
{
	static const char *const optimizers[] = {"fmin_l_bfgs_b", NULL};
	const json_t *kernel = pgml_linear_hp_value(hp, "kernel");
	const char *optimizer;
	int64_t		restarts;
	uint64_t	seed;
	bool		b;
	pgml_status rc;

	if (kernel != NULL)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "only the default kernel is supported by gaussian_process");
		pgml_err_detail(err, "kernel must be null: scikit-learn's default ConstantKernel(1.0, "
						"constant_value_bounds=\"fixed\") * RBF(1.0, length_scale_bounds=\"fixed\").");
		pgml_err_hint(err, "Scale the features to set the length scale, or use algorithm kernel_ridge with "
					  "kernel \"rbf\" and gamma.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if ((rc = pgml_linear_hp_choice(hp, "optimizer", "fmin_l_bfgs_b", optimizers, &optimizer, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "n_restarts_optimizer", 0, 0, INT_MAX, &restarts, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "copy_X_train", true, &b, err)) != PGML_OK ||
		(rc = pgml_linear_hp_seed(hp, 0, &seed, err)) != PGML_OK)
		return rc;
	return PGML_OK;
}

/* The hyperparameters of GaussianProcessRegressor. */
static pgml_status
parse_gpr(const json_t *hp, bayes_hp *out, pgml_err *err)
{
	pgml_status rc;

	if ((rc = parse_gp_common(hp, err)) != PGML_OK ||
		(rc = hp_scalar_alpha(hp, 1e-10, &out->alpha, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "normalize_y", false, &out->normalize_y, err)) != PGML_OK)
		return rc;
	out->kernel.type = KERNEL_GP_RBF;
	out->kernel.gamma = 0.5;
	out->kernel.degree = 0;
	out->kernel.coef0 = 0;
	return PGML_OK;
}

/* The hyperparameters of GaussianProcessClassifier. */
static pgml_status
parse_gpc(const json_t *hp, int n_classes, bayes_hp *out, pgml_err *err)
{
	static const char *const modes[] = {"one_vs_rest", "one_vs_one", NULL};
	const char *mode;
	pgml_status rc;

	if ((rc = parse_gp_common(hp, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "max_iter_predict", 100, 1, INT_MAX, &out->max_iter_predict, err)) != PGML_OK ||
		(rc = pgml_linear_hp_choice(hp, "multi_class", "one_vs_rest", modes, &mode, err)) != PGML_OK ||
		(rc = pgml_linear_hp_check_inert(hp, err)) != PGML_OK)
		return rc;
	if (strcmp(mode, "one_vs_one") == 0 && n_classes > 2)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "multi_class \"one_vs_one\" is not supported");
		pgml_err_detail(err, "scikit-learn's one-vs-one mode gives no probabilities, which pgml needs.");
		pgml_err_hint(err, "Use multi_class \"one_vs_rest\".");
		return PGML_ERR_NOT_SUPPORTED;
	}
	out->kernel.type = KERNEL_GP_RBF;
	out->kernel.gamma = 0.5;
	out->kernel.degree = 0;
	out->kernel.coef0 = 0;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Data
 * ------------------------------------------------------------------------------------------------- */

/* Training data of a linear model in double, centered when fitting an intercept. */
typedef struct prep
{
	size_t		n;
	size_t		p;
	size_t		t;
	double	   *A;				/* n × p, column-major */
	double	   *Y;				/* t × n: target k is Y + k n */
	double	   *xmean;			/* p (zeros without an intercept) */
	double	   *ymean;			/* t */
} prep;

static void
prep_free(prep *d)
{
	pgml_free(d->A);
	pgml_free(d->Y);
	pgml_free(d->xmean);
	pgml_free(d->ymean);
	memset(d, 0, sizeof(*d));
}

/* Fills d from the training data; noise (n values, or NULL) is added to every target first. */
static pgml_status
prep_data(const pgml_data *train, bool center, const double *noise, prep *d, pgml_err *err)
{
	size_t		n = train->n_rows;
	size_t		p = train->n_features;
	size_t		t = train->n_targets;

	memset(d, 0, sizeof(*d));
	d->n = n;
	d->p = p;
	d->t = t;
	d->A = pgml_malloc(n * p * sizeof(double));
	d->Y = pgml_malloc(n * t * sizeof(double));
	d->xmean = pgml_calloc(p, sizeof(double));
	d->ymean = pgml_calloc(t, sizeof(double));
	if (d->A == NULL || d->Y == NULL || d->xmean == NULL || d->ymean == NULL)
	{
		prep_free(d);
		return out_of_memory(err);
	}
	for (size_t i = 0; i < n; i++)
	{
		for (size_t k = 0; k < t; k++)
			d->Y[k * n + i] = (double) train->y[i * t + k] + (noise ? noise[i] : 0.0);
		for (size_t j = 0; j < p; j++)
			d->A[j * n + i] = train->x[i * p + j];
	}
	if (center)
	{
		for (size_t j = 0; j < p; j++)
		{
			double	   *col = d->A + j * n;
			double		s = 0;

			for (size_t i = 0; i < n; i++)
				s += col[i];
			d->xmean[j] = s / (double) n;
			for (size_t i = 0; i < n; i++)
				col[i] -= d->xmean[j];
		}
		for (size_t k = 0; k < t; k++)
		{
			double	   *y = d->Y + k * n;
			double		s = 0;

			for (size_t i = 0; i < n; i++)
				s += y[i];
			d->ymean[k] = s / (double) n;
			for (size_t i = 0; i < n; i++)
				y[i] -= d->ymean[k];
		}
	}
	return pgml_check_stop(err);
}

/* The variance of n values (numpy's var: the mean of squared deviations). */
static double
variance(const double *y, size_t n)
{
	double		mean = 0;
	double		ss = 0;

	for (size_t i = 0; i < n; i++)
		mean += y[i];
	mean /= (double) n;
	for (size_t i = 0; i < n; i++)
		ss += (y[i] - mean) * (y[i] - mean);
	return ss / (double) n;
}

/* ||y - A w||² for A (n × p, column-major); r (n) is scratch. */
static double
residual_norm2(const double *A, const double *y, const double *w, size_t n, size_t p, double *r)
{
	memcpy(r, y, n * sizeof(double));
	cblas_dgemv(CblasColMajor, CblasNoTrans, (int) n, (int) p, -1.0, A, (int) n, w, 1, 1.0, r, 1);
	return cblas_ddot((int) n, r, 1, r, 1);
}

/*
 * MT19937, the generator behind numpy's RandomState, so that jitter with an integer random_state draws the
 * same noise as scikit-learn (RandomState(seed).uniform(high=jitter, size=n)).
 */
typedef struct mt19937
{
	uint32_t	mt[624];
	int			next;
} mt19937;

static void
mt_seed(mt19937 *m, uint32_t seed)
{
	m->mt[0] = seed;
	for (uint32_t i = 1; i < 624; i++)
		m->mt[i] = 1812433253u * (m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) + i;
	m->next = 624;
}

static uint32_t
mt_next(mt19937 *m)
{
	uint32_t	y;

	if (m->next >= 624)
	{
		for (int i = 0; i < 624; i++)
		{
			uint32_t	v = (m->mt[i] & 0x80000000u) | (m->mt[(i + 1) % 624] & 0x7fffffffu);

			m->mt[i] = m->mt[(i + 397) % 624] ^ (v >> 1) ^ ((v & 1u) ? 0x9908b0dfu : 0u);
		}
		m->next = 0;
	}
	y = m->mt[m->next++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= y >> 18;
	return y;
}

/* A uniform double in [0, 1) from 53 random bits (numpy's random_sample). */
static double
mt_double(mt19937 *m)
{
	uint32_t	a = mt_next(m) >> 5;
	uint32_t	b = mt_next(m) >> 6;

	return ((double) a * 67108864.0 + (double) b) / 9007199254740992.0;
}

/* A 32-bit MT19937 seed from the fit seed (used when random_state is null). */
static uint32_t
seed32(uint64_t seed)
{
	seed ^= seed >> 33;
	seed *= UINT64_C(0xff51afd7ed558ccd);
	seed ^= seed >> 33;
	return (uint32_t) seed;
}

/*
 * Pseudo-inverse of the symmetric m × m matrix M (column-major, destroyed) into out, as scipy's pinvh:
 * eigenvalues with |s| <= m · eps · max |s| are dropped.
 */
static pgml_status
pinvh(double *M, size_t m, double *out, pgml_err *err)
{
	double	   *s = pgml_malloc(m * sizeof(double));
	double	   *Vs = pgml_malloc(m * m * sizeof(double));
	double	   *work = NULL;
	lapack_int *iwork = NULL;
	double		wq = 0;
	lapack_int	iwq = 0;
	lapack_int	info;
	double		smax = 0;
	double		cutoff;
	size_t		kept = 0;
	pgml_status rc = PGML_OK;

	if (s == NULL || Vs == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', (lapack_int) m, M, (lapack_int) m, s, &wq, -1, &iwq,
							   -1);
	if (info != 0)
	{
		rc = lapack_bug(err, "dsyevd", info);
		goto done;
	}
	work = pgml_malloc(((size_t) wq + 1) * sizeof(double));
	iwork = pgml_malloc(((size_t) (iwq > 0 ? iwq : 1)) * sizeof(lapack_int));
	if (work == NULL || iwork == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', (lapack_int) m, M, (lapack_int) m, s, work,
							   (lapack_int) wq, iwork, iwq);
	if (info > 0)
	{
		pgml_error(err, PGML_ERR_DATA, "the eigenvalue decomposition did not converge");
		rc = PGML_ERR_DATA;
		goto done;
	}
	if (info < 0)
	{
		rc = lapack_bug(err, "dsyevd", info);
		goto done;
	}
	for (size_t i = 0; i < m; i++)
		if (fabs(s[i]) > smax)
			smax = fabs(s[i]);
	cutoff = smax * (double) m * DBL_EPSILON;
	/* Vs = the kept eigenvectors divided by their eigenvalues; out = Vs V' over them */
	for (size_t i = 0; i < m; i++)
	{
		if (!(fabs(s[i]) > cutoff))
			continue;
		for (size_t r = 0; r < m; r++)
		{
			Vs[kept * m + r] = M[i * m + r] / s[i];
			M[kept * m + r] = M[i * m + r];
		}
		kept++;
	}
	if (kept == 0)
		memset(out, 0, m * m * sizeof(double));
	else
		cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int) m, (int) m, (int) kept, 1.0, Vs, (int) m, M,
					(int) m, 0.0, out, (int) m);
done:
	pgml_free(s);
	pgml_free(Vs);
	pgml_free(work);
	pgml_free(iwork);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Bayesian ridge
 * ------------------------------------------------------------------------------------------------- */

/* The thin SVD of the data, shared by the targets. */
typedef struct svd
{
	size_t		k;				/* min(n, p) */
	double	   *s2;				/* squared singular values */
	double	   *U;				/* n × k, column-major */
	double	   *VT;				/* k × p, column-major */
} svd;

/* The thin SVD of A (n × p, column-major; A is kept). */
static pgml_status
thin_svd(const double *A, size_t n, size_t p, svd *out, pgml_err *err)
{
	size_t		k = n < p ? n : p;
	double	   *S = pgml_malloc(n * p * sizeof(double));
	double	   *s = pgml_malloc(k * sizeof(double));
	lapack_int *iwork = pgml_malloc(8 * k * sizeof(lapack_int));
	double	   *work = NULL;
	double		wq = 0;
	lapack_int	info;
	pgml_status rc = PGML_OK;

	memset(out, 0, sizeof(*out));
	out->k = k;
	out->U = pgml_malloc(n * k * sizeof(double));
	out->VT = pgml_malloc(k * p * sizeof(double));
	out->s2 = s;
	if (S == NULL || s == NULL || iwork == NULL || out->U == NULL || out->VT == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	memcpy(S, A, n * p * sizeof(double));
	info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int) n, (lapack_int) p, S, (lapack_int) n, s,
							   out->U, (lapack_int) n, out->VT, (lapack_int) k, &wq, -1, iwork);
	if (info != 0)
	{
		rc = lapack_bug(err, "dgesdd", info);
		goto done;
	}
	work = pgml_malloc(((size_t) wq + 1) * sizeof(double));
	if (work == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	if ((rc = pgml_check_stop(err)) != PGML_OK)
		goto done;
	info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int) n, (lapack_int) p, S, (lapack_int) n, s,
							   out->U, (lapack_int) n, out->VT, (lapack_int) k, work, (lapack_int) wq, iwork);
	if (info > 0)
	{
		pgml_error(err, PGML_ERR_DATA, "the singular value decomposition did not converge");
		rc = PGML_ERR_DATA;
		goto done;
	}
	if (info < 0)
	{
		rc = lapack_bug(err, "dgesdd", info);
		goto done;
	}
	for (size_t i = 0; i < k; i++)
		s[i] *= s[i];
done:
	pgml_free(S);
	pgml_free(iwork);
	pgml_free(work);
	if (rc != PGML_OK)
	{
		pgml_free(out->U);
		pgml_free(out->VT);
		pgml_free(out->s2);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

/*
 * The posterior mean w for the ratio r = λ/α: V diag(1/(s² + r)) (V'X'y) when n > p, else
 * X'U diag(1/(s² + r)) (U'y); proj holds V'X'y or U'y. Returns ||y - Xw||². tmp: k values, u: n values.
 */
static double
bayes_posterior_mean(const prep *d, const double *y, const svd *sv, const double *proj, double r, double *w,
					 double *tmp, double *u)
{
	size_t		n = d->n;
	size_t		p = d->p;
	size_t		k = sv->k;

	for (size_t i = 0; i < k; i++)
		tmp[i] = proj[i] / (sv->s2[i] + r);
	if (n > p)
		cblas_dgemv(CblasColMajor, CblasTrans, (int) k, (int) p, 1.0, sv->VT, (int) k, tmp, 1, 0.0, w, 1);
	else
	{
		cblas_dgemv(CblasColMajor, CblasNoTrans, (int) n, (int) k, 1.0, sv->U, (int) n, tmp, 1, 0.0, u, 1);
		cblas_dgemv(CblasColMajor, CblasTrans, (int) n, (int) p, 1.0, d->A, (int) n, u, 1, 0.0, w, 1);
	}
	return residual_norm2(d->A, y, w, n, p, u);
}

/* BayesianRidge coefficients (t × p, row-major) of the prepared data. */
static pgml_status
bayesian_ridge_solve(const bayes_hp *hp, const prep *d, double *coef, pgml_err *err)
{
	size_t		n = d->n;
	size_t		p = d->p;
	svd			sv;
	double	   *proj = NULL;
	double	   *tmp = NULL;
	double	   *u = NULL;
	double	   *w = NULL;
	double	   *old = NULL;
	double	   *xty = NULL;
	pgml_status rc;

	if ((rc = thin_svd(d->A, n, p, &sv, err)) != PGML_OK)
		return rc;
	proj = pgml_malloc(sv.k * sizeof(double));
	tmp = pgml_malloc(sv.k * sizeof(double));
	u = pgml_malloc(n * sizeof(double));
	w = pgml_malloc(p * sizeof(double));
	old = pgml_malloc(p * sizeof(double));
	xty = pgml_malloc(p * sizeof(double));
	if (!proj || !tmp || !u || !w || !old || !xty)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t t = 0; t < d->t && rc == PGML_OK; t++)
	{
		const double *y = d->Y + t * n;
		double		alpha = hp->has_alpha_init ? hp->alpha_init : 1.0 / (variance(y, n) + DBL_EPSILON);
		double		lambda = hp->has_lambda_init ? hp->lambda_init : 1.0;
		int64_t		iter;
		bool		converged = false;

		if (n > p)
		{
			cblas_dgemv(CblasColMajor, CblasTrans, (int) n, (int) p, 1.0, d->A, (int) n, y, 1, 0.0, xty, 1);
			cblas_dgemv(CblasColMajor, CblasNoTrans, (int) sv.k, (int) p, 1.0, sv.VT, (int) sv.k, xty, 1, 0.0,
						proj, 1);
		}
		else
			cblas_dgemv(CblasColMajor, CblasTrans, (int) n, (int) sv.k, 1.0, sv.U, (int) n, y, 1, 0.0, proj, 1);
		for (iter = 0; iter < hp->n_iter; iter++)
		{
			double		rmse = bayes_posterior_mean(d, y, &sv, proj, lambda / alpha, w, tmp, u);
			double		gamma = 0;
			double		ww = 0;

			for (size_t i = 0; i < sv.k; i++)
				gamma += alpha * sv.s2[i] / (lambda + alpha * sv.s2[i]);
			for (size_t j = 0; j < p; j++)
				ww += w[j] * w[j];
			lambda = (gamma + 2.0 * hp->lambda_1) / (ww + 2.0 * hp->lambda_2);
			alpha = ((double) n - gamma + 2.0 * hp->alpha_1) / (rmse + 2.0 * hp->alpha_2);
			if (iter != 0)
			{
				double		delta = 0;

				for (size_t j = 0; j < p; j++)
					delta += fabs(old[j] - w[j]);
				if (delta < hp->tol)
				{
					converged = true;
					break;
				}
			}
			memcpy(old, w, p * sizeof(double));
			if ((rc = pgml_check_stop(err)) != PGML_OK)
				break;
		}
		if (rc != PGML_OK)
			break;
		bayes_posterior_mean(d, y, &sv, proj, lambda / alpha, coef + t * p, tmp, u);
		pgml_log(hp->verbose ? PGML_LOG_INFO : PGML_LOG_DEBUG,
				 "bayesian_ridge: %s after %lld iterations (alpha %g, lambda %g)",
				 converged ? "converged" : "stopped", (long long) (converged ? iter + 1 : iter), alpha, lambda);
	}
done:
	pgml_free(sv.s2);
	pgml_free(sv.U);
	pgml_free(sv.VT);
	pgml_free(proj);
	pgml_free(tmp);
	pgml_free(u);
	pgml_free(w);
	pgml_free(old);
	pgml_free(xty);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Automatic relevance determination
 * ------------------------------------------------------------------------------------------------- */

typedef struct ard_work
{
	size_t		n;
	size_t		p;
	const double *A;			/* n × p, column-major */
	const double *G;			/* X'X (p × p) when n >= p, else NULL */
	size_t	   *keep;			/* indices of the kept features */
	double	   *sigma;			/* m × m */
	double	   *M;				/* scratch: max(m, n)² */
	double	   *Xk;				/* Woodbury: n × m */
	double	   *T;				/* Woodbury: n × m */
} ard_work;

/* Σ over the m kept features for α and λ (see the top of the file). */
static pgml_status
ard_sigma(ard_work *w, size_t m, double alpha, const double *lambda, pgml_err *err)
{
	size_t		n = w->n;
	pgml_status rc;

	if (w->G != NULL)
	{
		/* pinv(diag(λ) + α X_k'X_k) */
		for (size_t a = 0; a < m; a++)
			for (size_t b = 0; b < m; b++)
				w->M[a * m + b] = alpha * w->G[w->keep[a] * w->p + w->keep[b]] +
					(a == b ? lambda[w->keep[a]] : 0.0);
		return pinvh(w->M, m, w->sigma, err);
	}
	/* Woodbury: S = pinv(I/α + X_k Λ⁻¹ X_k'), Σ = Λ⁻¹ - Λ⁻¹X_k' S X_k Λ⁻¹ */
	for (size_t a = 0; a < m; a++)
	{
		const double *col = w->A + w->keep[a] * n;
		double		il = 1.0 / lambda[w->keep[a]];

		for (size_t i = 0; i < n; i++)
		{
			w->Xk[a * n + i] = col[i];
			w->T[a * n + i] = col[i] * il;
		}
	}
	cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int) n, (int) n, (int) m, 1.0, w->T, (int) n, w->Xk,
				(int) n, 0.0, w->M, (int) n);
	for (size_t i = 0; i < n; i++)
		w->M[i * n + i] += 1.0 / alpha;
	{
		double	   *S = pgml_malloc(n * n * sizeof(double));
		double	   *ST = pgml_malloc(n * m * sizeof(double));

		if (S == NULL || ST == NULL)
		{
			pgml_free(S);
			pgml_free(ST);
			return out_of_memory(err);
		}
		rc = pinvh(w->M, n, S, err);
		if (rc == PGML_OK)
		{
			/* ST = S (X_k Λ⁻¹); Σ = -(Λ⁻¹X_k') ST + Λ⁻¹ */
			cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int) n, (int) m, (int) n, 1.0, S, (int) n,
						w->T, (int) n, 0.0, ST, (int) n);
			cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int) m, (int) m, (int) n, -1.0, w->T, (int) n,
						ST, (int) n, 0.0, w->sigma, (int) m);
			for (size_t a = 0; a < m; a++)
				w->sigma[a * m + a] += 1.0 / lambda[w->keep[a]];
		}
		pgml_free(S);
		pgml_free(ST);
	}
	return rc;
}

/* w_k = α Σ X_k'y over the kept features (the others keep their value). */
static void
ard_coef(const ard_work *w, size_t m, double alpha, const double *xty, double *coef, double *tmp)
{
	for (size_t a = 0; a < m; a++)
		tmp[a] = xty[w->keep[a]];
	for (size_t a = 0; a < m; a++)
	{
		double		s = 0;

		for (size_t b = 0; b < m; b++)
			s += w->sigma[b * m + a] * tmp[b];
		coef[w->keep[a]] = alpha * s;
	}
}

/* ARDRegression coefficients (t × p, row-major) of the prepared data. */
static pgml_status
ard_solve(const bayes_hp *hp, const prep *d, double *coef, pgml_err *err)
{
	size_t		n = d->n;
	size_t		p = d->p;
	size_t		big = n > p ? n : p;
	ard_work	w;
	double	   *G = NULL;
	double	   *xty = pgml_malloc(p * sizeof(double));
	double	   *lambda = pgml_malloc(p * sizeof(double));
	double	   *old = pgml_malloc(p * sizeof(double));
	double	   *tmp = pgml_malloc(p * sizeof(double));
	double	   *r = pgml_malloc(n * sizeof(double));
	pgml_status rc = PGML_OK;

	memset(&w, 0, sizeof(w));
	w.n = n;
	w.p = p;
	w.A = d->A;
	w.keep = pgml_malloc(p * sizeof(size_t));
	w.sigma = pgml_malloc(p * p * sizeof(double));
	w.M = pgml_malloc(big * big * sizeof(double));
	if (n >= p)
		G = pgml_malloc(p * p * sizeof(double));
	else
	{
		w.Xk = pgml_malloc(n * p * sizeof(double));
		w.T = pgml_malloc(n * p * sizeof(double));
	}
	if (!xty || !lambda || !old || !tmp || !r || !w.keep || !w.sigma || !w.M ||
		(n >= p ? G == NULL : (w.Xk == NULL || w.T == NULL)))
	{
		rc = out_of_memory(err);
		goto done;
	}
	if (G != NULL)
	{
		cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int) p, (int) n, 1.0, d->A, (int) n, 0.0, G, (int) p);
		for (size_t j = 0; j < p; j++)
			for (size_t i = j + 1; i < p; i++)
				G[j * p + i] = G[i * p + j];
		w.G = G;
	}
	for (size_t t = 0; t < d->t && rc == PGML_OK; t++)
	{
		const double *y = d->Y + t * n;
		double	   *c = coef + t * p;
		double		alpha = 1.0 / (variance(y, n) + DBL_EPSILON);
		size_t		m = p;
		int64_t		iter;
		bool		converged = false;

		cblas_dgemv(CblasColMajor, CblasTrans, (int) n, (int) p, 1.0, d->A, (int) n, y, 1, 0.0, xty, 1);
		memset(c, 0, p * sizeof(double));
		for (size_t j = 0; j < p; j++)
		{
			lambda[j] = 1.0;
			w.keep[j] = j;
		}
		for (iter = 0; iter < hp->n_iter; iter++)
		{
			double		rmse;
			double		gamma_sum = 0;

			if ((rc = ard_sigma(&w, m, alpha, lambda, err)) != PGML_OK)
				break;
			ard_coef(&w, m, alpha, xty, c, tmp);
			rmse = residual_norm2(d->A, y, c, n, p, r);
			for (size_t a = 0; a < m; a++)
			{
				size_t		j = w.keep[a];
				double		gamma = 1.0 - lambda[j] * w.sigma[a * m + a];

				lambda[j] = (gamma + 2.0 * hp->lambda_1) / (c[j] * c[j] + 2.0 * hp->lambda_2);
				gamma_sum += gamma;
			}
			alpha = ((double) n - gamma_sum + 2.0 * hp->alpha_1) / (rmse + 2.0 * hp->alpha_2);
			/* prune the features whose precision passed the threshold */
			m = 0;
			for (size_t j = 0; j < p; j++)
			{
				if (lambda[j] < hp->threshold_lambda)
					w.keep[m++] = j;
				else
					c[j] = 0.0;
			}
			if (iter > 0)
			{
				double		delta = 0;

				for (size_t j = 0; j < p; j++)
					delta += fabs(old[j] - c[j]);
				if (delta < hp->tol)
				{
					converged = true;
					break;
				}
			}
			memcpy(old, c, p * sizeof(double));
			if (m == 0)
				break;
			if ((rc = pgml_check_stop(err)) != PGML_OK)
				break;
		}
		if (rc != PGML_OK)
			break;
		if (m > 0)
		{
			if ((rc = ard_sigma(&w, m, alpha, lambda, err)) != PGML_OK)
				break;
			ard_coef(&w, m, alpha, xty, c, tmp);
		}
		pgml_log(hp->verbose ? PGML_LOG_INFO : PGML_LOG_DEBUG,
				 "automatic_relevance_determination: %s after %lld iterations, %zu of %zu features kept",
				 converged ? "converged" : "stopped", (long long) (converged ? iter + 1 : iter), m, p);
	}
done:
	pgml_free(G);
	pgml_free(xty);
	pgml_free(lambda);
	pgml_free(old);
	pgml_free(tmp);
	pgml_free(r);
	pgml_free(w.keep);
	pgml_free(w.sigma);
	pgml_free(w.M);
	pgml_free(w.Xk);
	pgml_free(w.T);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Least angle regression
 * ------------------------------------------------------------------------------------------------- */

/* The data of one LARS or OMP path: the Gram matrix, or the columns. */
typedef struct path_data
{
	size_t		n;
	size_t		p;
	const double *A;			/* n × p, column-major */
	const double *G;			/* X'X (p × p), or NULL to work on the columns */
	const double *y;			/* the target (n) */
	const double *xy;			/* X'y (p) */
} path_data;

/* x_i'x_j, from the Gram matrix or the columns (the squared norm by dnrm2 on the diagonal, as sklearn). */
static double
path_gram(const path_data *pd, size_t i, size_t j)
{
	if (pd->G != NULL)
		return pd->G[i * pd->p + j];
	if (i == j)
	{
		double		nrm = cblas_dnrm2((int) pd->n, pd->A + i * pd->n, 1);

		return nrm * nrm;
	}
	return cblas_ddot((int) pd->n, pd->A + i * pd->n, 1, pd->A + j * pd->n, 1);
}

/*
 * Appends variable j to the Cholesky factor L (ld × ld, column-major, lower) of the Gram matrix of the k
 * variables order[0..k): row k is L⁻¹X_A'x_j and the pivot max(sqrt|x_j'x_j - ||row||²|, floor).
 * Returns the pivot.
 */
static double
chol_append(const path_data *pd, const size_t *order, size_t k, size_t j, double *L, size_t ld, double floor_)
{
	double		c = path_gram(pd, j, j);
	double		v = 0;
	double		diag;

	for (size_t a = 0; a < k; a++)
		L[a * ld + k] = path_gram(pd, j, order[a]);
	if (k > 0)
		cblas_dtrsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int) k, L, (int) ld, L + k,
					(int) ld);
	for (size_t a = 0; a < k; a++)
		v += L[a * ld + k] * L[a * ld + k];
	diag = sqrt(fabs(c - v));
	if (diag < floor_)
		diag = floor_;
	L[k * ld + k] = diag;
	return diag;
}

/* x = (L L')⁻¹ x for the k × k leading block of L (ld, column-major, lower). */
static void
chol_solve(const double *L, size_t ld, size_t k, double *x)
{
	if (k == 0)
		return;
	cblas_dtrsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int) k, L, (int) ld, x, 1);
	cblas_dtrsv(CblasColMajor, CblasLower, CblasTrans, CblasNonUnit, (int) k, L, (int) ld, x, 1);
}

/* The smallest positive value of v[order[from..to)] (DBL_MAX when none), as sklearn's min_pos. */
static inline double
min_pos_update(double current, double v)
{
	return v > 0 && v < current ? v : current;
}

/*
 * One LARS path (lasso: with drops, stopping at alpha_min) for one target; coef (p) receives the last point.
 * max_iter bounds the steps (n_nonzero_coefs for Lars).
 */
static pgml_status
lars_path(const bayes_hp *hp, const path_data *pd, double alpha_min, int64_t max_iter, double *coef_out,
		  pgml_err *err)
{
	size_t		n = pd->n;
	size_t		p = pd->p;
	size_t		ld = (size_t) max_iter < p ? (size_t) max_iter : p;
	bool		lasso = hp->lasso;
	bool		positive = hp->positive;
	double	   *cov = pgml_malloc(p * sizeof(double));
	double	   *corr = pgml_malloc(p * sizeof(double));
	double	   *coef = pgml_calloc(p, sizeof(double));
	double	   *prev = pgml_calloc(p, sizeof(double));
	double	   *ls = pgml_malloc((ld + 1) * sizeof(double));
	double	   *sign = pgml_malloc((ld + 1) * sizeof(double));
	double	   *z = pgml_malloc((ld + 1) * sizeof(double));
	double	   *L = pgml_malloc((ld * ld + 1) * sizeof(double));
	double	   *L2 = pgml_malloc((ld * ld + 1) * sizeof(double));
	double	   *u = pd->G == NULL ? pgml_malloc(n * sizeof(double)) : NULL;
	size_t	   *order = pgml_malloc(p * sizeof(size_t));
	size_t	   *dropped = pgml_malloc((ld + 1) * sizeof(size_t));
	bool	   *excluded = pgml_calloc(p, sizeof(bool));	/* degenerate with the active set */
	size_t		n_active = 0;
	int64_t		n_iter = 0;
	int64_t		n_free = 0;		/* steps that added nothing because of a degenerate variable (at most p) */
	bool		drop = false;
	double		alpha = 0;
	double		prev_alpha = 0;
	pgml_status rc = PGML_OK;

	if (!cov || !corr || !coef || !prev || !ls || !sign || !z || !L || !L2 || (pd->G == NULL && !u) || !order ||
		!dropped || !excluded)
	{
		rc = out_of_memory(err);
		goto done;
	}
	memcpy(cov, pd->xy, p * sizeof(double));
	for (size_t j = 0; j < p; j++)
		order[j] = j;
	for (;;)
	{
		size_t		pos = SIZE_MAX;
		double		C = 0;
		double		C_ = 0;
		double		AA;
		double		gamma;
		double		g1 = DBL_MAX;
		double		g2 = DBL_MAX;
		double		z_pos = DBL_MAX;
		size_t		n_drop = 0;

		/* the largest correlation among the inactive variables (the first one on ties) */
		{
			double		best = 0;

			for (size_t q = n_active; q < p; q++)
			{
				double		v = positive ? cov[order[q]] : fabs(cov[order[q]]);

				if (excluded[order[q]])
					continue;
				if (pos == SIZE_MAX || v > best)
				{
					best = v;
					pos = q;
				}
			}
			if (pos != SIZE_MAX)
			{
				C_ = cov[order[pos]];
				C = positive ? C_ : fabs(C_);
			}
		}
		alpha = C / (double) n;
		if (alpha <= alpha_min + EPS32)
		{
			/* reached alpha_min: interpolate back to it along the last step */
			if (fabs(alpha - alpha_min) > EPS32)
			{
				if (n_iter > 0)
				{
					double		ss = (prev_alpha - alpha_min) / (prev_alpha - alpha);

					for (size_t j = 0; j < p; j++)
						coef[j] = prev[j] + ss * (coef[j] - prev[j]);
				}
				alpha = alpha_min;
			}
			break;
		}
		if (n_iter - n_free >= max_iter || n_active >= p)
			break;
		if (!drop)
		{
			size_t		j = order[pos];
			size_t		tmp_o;
			double		diag;

			tmp_o = order[n_active];
			order[n_active] = j;
			order[pos] = tmp_o;
			diag = chol_append(pd, order, n_active, j, L, ld, hp->eps);
			if (diag < 1e-7)
			{
				/*
				 * Degenerate: the variable is (numerically) a combination of the active ones. It is left out
				 * until the active set changes, and the path goes on along the current direction: it caught
				 * up with the active correlation C, which therefore still holds. (sklearn zeroes its
				 * correlation and picks again, which takes a lower C and can end far from the least-squares
				 * point; this departs from it on purpose.)
				 */
				pgml_log(PGML_LOG_WARNING, "%s: feature %zu is degenerate with the active set after %lld "
						 "iterations (Cholesky pivot %g); leaving it out", lasso ? "lasso_least_angle" :
						 "least_angle", j + 1, (long long) n_iter, diag);
				order[pos] = j;
				order[n_active] = tmp_o;
				excluded[j] = true;
				if (n_active == 0)
					continue;
				if (n_free < (int64_t) p)
					n_free++;
			}
			else
			{
				sign[n_active] = positive ? 1.0 : (double) ((C_ > 0) - (C_ < 0));
				n_active++;
				if (hp->verbose)
					pgml_log(PGML_LOG_INFO, "%s: step %lld adds feature %zu (%zu active, correlation %g)",
							 lasso ? "lasso_least_angle" : "least_angle", (long long) n_iter, j + 1, n_active, C);
			}
		}
		if (lasso && n_iter > 0 && prev_alpha < alpha)
		{
			pgml_log(PGML_LOG_WARNING, "lasso_least_angle: stopping the path early after %lld iterations: the "
					 "residuals are small and alpha (%g, previously %g) is no longer well controlled",
					 (long long) n_iter, alpha, prev_alpha);
			break;
		}
		/* the equiangular direction: ls = (X_A'X_A)⁻¹ s, scaled by AA = (s'ls)^-½ */
		memcpy(ls, sign, n_active * sizeof(double));
		chol_solve(L, ld, n_active, ls);
		if (n_active == 1 && ls[0] == 0.0)
		{
			ls[0] = 1.0;
			AA = 1.0;
		}
		else
		{
			double		s = 0;

			for (size_t a = 0; a < n_active; a++)
				s += ls[a] * sign[a];
			AA = 1.0 / sqrt(s);
			if (!isfinite(AA))
			{
				/* too ill-conditioned: add growing multiples of eps to the diagonal */
				for (size_t a = 0; a < n_active; a++)
					memcpy(L2 + a * ld, L + a * ld, n_active * sizeof(double));
				for (int i = 0; !isfinite(AA); i++)
				{
					if (i >= 1100)
					{
						pgml_error(err, PGML_ERR_DATA, "%s: the active set is too ill-conditioned",
								   lasso ? "lasso_least_angle" : "least_angle");
						pgml_err_hint(err, "Increase eps.");
						rc = PGML_ERR_DATA;
						goto done;
					}
					for (size_t a = 0; a < n_active; a++)
						L2[a * ld + a] += ldexp(1.0, i) * hp->eps;
					memcpy(ls, sign, n_active * sizeof(double));
					chol_solve(L2, ld, n_active, ls);
					s = 0;
					for (size_t a = 0; a < n_active; a++)
						s += ls[a] * sign[a];
					AA = 1.0 / sqrt(s > hp->eps ? s : hp->eps);
				}
			}
			for (size_t a = 0; a < n_active; a++)
				ls[a] *= AA;
		}
		/* correlations of the inactive variables with the direction, rounded to 15 decimals */
		if (pd->G != NULL)
		{
			for (size_t q = n_active; q < p; q++)
			{
				size_t		j = order[q];
				double		s = 0;

				if (excluded[j])
					continue;
				for (size_t a = 0; a < n_active; a++)
					s += pd->G[j * p + order[a]] * ls[a];
				corr[j] = s;
			}
		}
		else
		{
			memset(u, 0, n * sizeof(double));
			for (size_t a = 0; a < n_active; a++)
				cblas_daxpy((int) n, ls[a], pd->A + order[a] * n, 1, u, 1);
			for (size_t q = n_active; q < p; q++)
				if (!excluded[order[q]])
					corr[order[q]] = cblas_ddot((int) n, pd->A + order[q] * n, 1, u, 1);
		}
		for (size_t q = n_active; q < p; q++)
			corr[order[q]] = rint(corr[order[q]] * 1e15) / 1e15;
		/* the step: the first inactive variable to catch up, or the least-squares point */
		for (size_t q = n_active; q < p; q++)
		{
			size_t		j = order[q];

			if (excluded[j])
				continue;
			g1 = min_pos_update(g1, (C - cov[j]) / (AA - corr[j] + TINY32));
			if (!positive)
				g2 = min_pos_update(g2, (C + cov[j]) / (AA + corr[j] + TINY32));
		}
		gamma = fmin(g1, C / AA);
		if (!positive)
			gamma = fmin(gamma, g2);
		/* a coefficient crossing zero first: the lasso stops there and drops it */
		drop = false;
		for (size_t a = 0; a < n_active; a++)
		{
			z[a] = -coef[order[a]] / (ls[a] + TINY32);
			z_pos = min_pos_update(z_pos, z[a]);
		}
		if (z_pos < gamma)
		{
			for (size_t a = n_active; a-- > 0;)
			{
				if (z[a] == z_pos)
				{
					dropped[n_drop++] = a;
					sign[a] = -sign[a];
				}
			}
			if (lasso)
				gamma = z_pos;
			drop = true;
		}
		n_iter++;
		memcpy(prev, coef, p * sizeof(double));
		memset(coef, 0, p * sizeof(double));
		for (size_t a = 0; a < n_active; a++)
			coef[order[a]] = prev[order[a]] + gamma * ls[a];
		prev_alpha = alpha;
		for (size_t q = n_active; q < p; q++)
			if (!excluded[order[q]])
				cov[order[q]] -= gamma * corr[order[q]];
		if (drop && lasso)
		{
			/* move each dropped variable (positions descending) to the first inactive slot */
			for (size_t i = 0; i < n_drop; i++)
			{
				size_t		a = dropped[i];
				size_t		j = order[a];

				for (size_t b = a; b + 1 < n_active; b++)
				{
					order[b] = order[b + 1];
					sign[b] = sign[b + 1];
				}
				n_active--;
				order[n_active] = j;
				if (hp->verbose)
					pgml_log(PGML_LOG_INFO, "lasso_least_angle: step %lld drops feature %zu (%zu active)",
							 (long long) n_iter, j + 1, n_active);
			}
			/* the factor of the remaining active set */
			for (size_t a = 0; a < n_active; a++)
				chol_append(pd, order, a, order[a], L, ld, hp->eps);
			/*
			 * The correlations with the current residual of the dropped variables, and of the degenerate
			 * ones, which the new active set may accept
			 */
			if (pd->G == NULL)
			{
				memcpy(u, pd->y, n * sizeof(double));
				for (size_t a = 0; a < n_active; a++)
					cblas_daxpy((int) n, -coef[order[a]], pd->A + order[a] * n, 1, u, 1);
			}
			for (size_t q = n_active; q < p; q++)
			{
				size_t		j = order[q];

				if (q >= n_active + n_drop && !excluded[j])
					continue;
				excluded[j] = false;
				if (pd->G != NULL)
					cov[j] = pd->xy[j] - cblas_ddot((int) p, pd->G + j * p, 1, coef, 1);
				else
					cov[j] = cblas_ddot((int) n, pd->A + j * n, 1, u, 1);
			}
		}
		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
	}
	memcpy(coef_out, coef, p * sizeof(double));
	pgml_log(hp->verbose ? PGML_LOG_INFO : PGML_LOG_DEBUG, "%s: %lld steps, %zu active features, alpha %g",
			 lasso ? "lasso_least_angle" : "least_angle", (long long) n_iter, n_active, alpha);
done:
	pgml_free(cov);
	pgml_free(corr);
	pgml_free(coef);
	pgml_free(prev);
	pgml_free(ls);
	pgml_free(sign);
	pgml_free(z);
	pgml_free(L);
	pgml_free(L2);
	pgml_free(u);
	pgml_free(order);
	pgml_free(dropped);
	pgml_free(excluded);
	return rc;
}

/* The Gram matrix X'X (p × p, full) of A (n × p, column-major), or NULL when out of memory. */
static double *
gram_matrix(const double *A, size_t n, size_t p)
{
	double	   *G = pgml_malloc(p * p * sizeof(double));

	if (G == NULL)
		return NULL;
	cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int) p, (int) n, 1.0, A, (int) n, 0.0, G, (int) p);
	for (size_t j = 0; j < p; j++)
		for (size_t i = j + 1; i < p; i++)
			G[j * p + i] = G[i * p + j];
	return G;
}

/* Lars / LassoLars coefficients (t × p, row-major) of the prepared data, one path per target. */
static pgml_status
lars_solve(const bayes_hp *hp, const prep *d, double *coef, pgml_err *err)
{
	size_t		n = d->n;
	size_t		p = d->p;
	bool		use_gram = hp->precompute == 1 || (hp->precompute == -1 && (n > p || d->t > 1));
	double	   *G = use_gram ? gram_matrix(d->A, n, p) : NULL;
	double	   *xy = pgml_malloc(p * sizeof(double));
	pgml_status rc = PGML_OK;

	if ((use_gram && G == NULL) || xy == NULL)
		rc = out_of_memory(err);
	for (size_t t = 0; t < d->t && rc == PGML_OK; t++)
	{
		path_data	pd = {n, p, d->A, G, d->Y + t * n, xy};

		cblas_dgemv(CblasColMajor, CblasTrans, (int) n, (int) p, 1.0, d->A, (int) n, pd.y, 1, 0.0, xy, 1);
		rc = lars_path(hp, &pd, hp->alpha, hp->max_iter, coef + t * p, err);
	}
	pgml_free(G);
	pgml_free(xy);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Orthogonal matching pursuit
 * ------------------------------------------------------------------------------------------------- */

/* One OMP fit for one target; coef (p) receives the coefficients. */
static pgml_status
omp_path(const bayes_hp *hp, const path_data *pd, double *coef, pgml_err *err)
{
	size_t		n = pd->n;
	size_t		p = pd->p;
	size_t		maxf = hp->has_tol ? p : (size_t) hp->n_nonzero_coefs;
	double	   *L = pgml_malloc(maxf * maxf * sizeof(double));
	double	   *corr = pgml_malloc(p * sizeof(double));	/* current correlations (Gram) or X'r (columns) */
	double	   *gam = pgml_malloc(maxf * sizeof(double));
	double	   *beta = pd->G != NULL ? pgml_malloc(p * sizeof(double)) : NULL;
	double	   *r = pd->G == NULL ? pgml_malloc(n * sizeof(double)) : NULL;
	size_t	   *order = pgml_malloc(p * sizeof(size_t));
	size_t		n_active = 0;
	double		tol_curr = 0;
	double		delta = 0;
	bool		premature = false;
	pgml_status rc = PGML_OK;

	memset(coef, 0, p * sizeof(double));
	if (!L || !corr || !gam || (pd->G != NULL ? !beta : !r) || !order)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t j = 0; j < p; j++)
		order[j] = j;
	memcpy(corr, pd->xy, p * sizeof(double));
	if (pd->G == NULL)
		memcpy(r, pd->y, n * sizeof(double));
	else if (hp->has_tol)
		tol_curr = cblas_ddot((int) n, pd->y, 1, pd->y, 1);
	for (;;)
	{
		size_t		lam = 0;
		size_t		j;
		double		best = -1;
		double		pick;

		for (size_t q = 0; q < p; q++)
		{
			if (fabs(corr[order[q]]) > best)
			{
				best = fabs(corr[order[q]]);
				lam = q;
			}
		}
		j = order[lam];
		/* the Gram form tests the current correlation, the column form the initial one (as sklearn) */
		pick = pd->G != NULL ? corr[j] : pd->xy[j];
		if (lam < n_active || pick * pick < DBL_EPSILON)
		{
			premature = true;
			break;
		}
		if (n_active > 0)
		{
			double		v = 0;
			double		c;
			double		lkk;

			for (size_t a = 0; a < n_active; a++)
				L[a * maxf + n_active] = path_gram(pd, j, order[a]);
			cblas_dtrsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int) n_active, L, (int) maxf,
						L + n_active, (int) maxf);
			v = cblas_dnrm2((int) n_active, L + n_active, (int) maxf);
			v *= v;
			if (pd->G != NULL)
				c = pd->G[j * p + j];
			else
			{
				c = sqrt(cblas_ddot((int) n, pd->A + j * n, 1, pd->A + j * n, 1));
				c *= c;
			}
			lkk = c - v;
			if (lkk <= DBL_EPSILON)
			{
				premature = true;
				break;
			}
			L[n_active * maxf + n_active] = sqrt(lkk);
		}
		else
			L[0] = pd->G != NULL ? sqrt(pd->G[j * p + j]) :
				sqrt(cblas_ddot((int) n, pd->A + j * n, 1, pd->A + j * n, 1));
		order[lam] = order[n_active];
		order[n_active] = j;
		n_active++;
		/* least squares on the active columns */
		for (size_t a = 0; a < n_active; a++)
			gam[a] = pd->xy[order[a]];
		chol_solve(L, maxf, n_active, gam);
		if (pd->G != NULL)
		{
			for (size_t jj = 0; jj < p; jj++)
			{
				double		s = 0;

				for (size_t a = 0; a < n_active; a++)
					s += pd->G[jj * p + order[a]] * gam[a];
				beta[jj] = s;
				corr[jj] = pd->xy[jj] - s;
			}
			if (hp->has_tol)
			{
				tol_curr += delta;
				delta = 0;
				for (size_t a = 0; a < n_active; a++)
					delta += gam[a] * beta[order[a]];
				tol_curr -= delta;
				if (fabs(tol_curr) <= hp->tol)
					break;
			}
			else if (n_active == maxf)
				break;
		}
		else
		{
			double		rr;

			memcpy(r, pd->y, n * sizeof(double));
			for (size_t a = 0; a < n_active; a++)
				cblas_daxpy((int) n, -gam[a], pd->A + order[a] * n, 1, r, 1);
			rr = cblas_dnrm2((int) n, r, 1);
			if (hp->has_tol && rr * rr <= hp->tol)
				break;
			else if (!hp->has_tol && n_active == maxf)
				break;
			cblas_dgemv(CblasColMajor, CblasTrans, (int) n, (int) p, 1.0, pd->A, (int) n, r, 1, 0.0, corr, 1);
		}
		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
	}
	for (size_t a = 0; a < n_active; a++)
		coef[order[a]] = gam[a];
	if (premature)
		pgml_log(PGML_LOG_WARNING, "orthogonal_matching_pursuit ended prematurely after %zu features due to "
				 "linear dependence in the features; the requested precision might not have been met", n_active);
done:
	pgml_free(L);
	pgml_free(corr);
	pgml_free(gam);
	pgml_free(beta);
	pgml_free(r);
	pgml_free(order);
	return rc;
}

/* OrthogonalMatchingPursuit coefficients (t × p, row-major) of the prepared data. */
static pgml_status
omp_solve(const bayes_hp *hp, const prep *d, double *coef, pgml_err *err)
{
	size_t		n = d->n;
	size_t		p = d->p;
	bool		use_gram = hp->precompute == 1 || (hp->precompute == -1 && n > p);
	double	   *G = use_gram ? gram_matrix(d->A, n, p) : NULL;
	double	   *xy = pgml_malloc(p * sizeof(double));
	pgml_status rc = PGML_OK;

	if ((use_gram && G == NULL) || xy == NULL)
		rc = out_of_memory(err);
	for (size_t t = 0; t < d->t && rc == PGML_OK; t++)
	{
		path_data	pd = {n, p, d->A, G, d->Y + t * n, xy};

		cblas_dgemv(CblasColMajor, CblasTrans, (int) n, (int) p, 1.0, d->A, (int) n, pd.y, 1, 0.0, xy, 1);
		rc = omp_path(hp, &pd, coef + t * p, err);
	}
	pgml_free(G);
	pgml_free(xy);
	return rc;
}

/*
 * The lower Cholesky factor of the symmetric positive definite n × n matrix A (column-major, lower triangle
 * used and overwritten), by panels of columns so that the stop hook is polled about every CHOL_STEP_WORK
 * flops: LAPACK's dpotrf on the diagonal block, a triangular solve below it, a rank-b update of the rest.
 * *info: 0, or the (1-based) column where A is not positive definite (then PGML_OK is still returned).
 */
static pgml_status
cholesky_blocked(double *A, size_t n, lapack_int *info, pgml_err *err)
{
	size_t		nb = CHOL_STEP_WORK / (n * n + 1);
	pgml_status rc;

	*info = 0;
	if (nb < 64)
		nb = 64;
	for (size_t j = 0; j < n; j += nb)
	{
		size_t		b = n - j < nb ? n - j : nb;
		size_t		rest = n - j - b;
		double	   *A11 = A + j * n + j;
		lapack_int	r;

		r = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', (lapack_int) b, A11, (lapack_int) n);
		if (r < 0)
			return lapack_bug(err, "dpotrf", r);
		if (r > 0)
		{
			*info = (lapack_int) j + r;
			return PGML_OK;
		}
		if (rest > 0)
		{
			double	   *A21 = A11 + b;

			cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int) rest, (int) b, 1.0,
						A11, (int) n, A21, (int) n);
			cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, (int) rest, (int) b, -1.0, A21, (int) n, 1.0,
						A21 + b * n, (int) n);
		}
		if ((rc = pgml_check_stop(err)) != PGML_OK)
			return rc;
	}
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Kernels
 * ------------------------------------------------------------------------------------------------- */

static const char *
kernel_name(kernel_type type)
{
	switch (type)
	{
		case KERNEL_LINEAR:
			return "linear";
		case KERNEL_POLY:
			return "poly";
		case KERNEL_RBF:
			return "rbf";
		case KERNEL_SIGMOID:
			return "sigmoid";
		case KERNEL_LAPLACIAN:
			return "laplacian";
		case KERNEL_COSINE:
			return "cosine";
		case KERNEL_ADDITIVE_CHI2:
			return "additive_chi2";
		case KERNEL_CHI2:
			return "chi2";
		case KERNEL_GP_RBF:
			return "rbf";
	}
	return "unknown";
}

/* Whether the kernel is computed from dot products (and needs the rows in double). */
static bool
kernel_uses_dots(kernel_type type)
{
	return type == KERNEL_LINEAR || type == KERNEL_POLY || type == KERNEL_RBF || type == KERNEL_SIGMOID ||
		type == KERNEL_COSINE;
}

/* Row i of x (p values) in double into out; cosine: divided by its norm (zero rows stay zero). */
static void
kernel_row(const kernel_spec *spec, const float *x, size_t p, double *out)
{
	for (size_t j = 0; j < p; j++)
		out[j] = x[j];
	if (spec->type == KERNEL_COSINE)
	{
		double		nrm = sqrt(cblas_ddot((int) p, out, 1, out, 1));

		if (nrm > 0)
			for (size_t j = 0; j < p; j++)
				out[j] /= nrm;
	}
}

static void
kernel_train_free(kernel_train *kt)
{
	pgml_free(kt->xd);
	pgml_free(kt->sq);
	kt->xd = NULL;
	kt->sq = NULL;
}

/* Prepares the training rows x (n × p) for kernel evaluations. */
static pgml_status
kernel_train_init(kernel_train *kt, const kernel_spec *spec, const float *x, size_t n, size_t p, pgml_err *err)
{
	kernel_spec copy = *spec;	/* spec may point into kt */

	memset(kt, 0, sizeof(*kt));
	kt->spec = copy;
	kt->n = n;
	kt->p = p;
	kt->x = x;
	if (!kernel_uses_dots(spec->type))
		return PGML_OK;
	kt->xd = pgml_malloc(n * p * sizeof(double));
	kt->sq = pgml_malloc(n * sizeof(double));
	if (kt->xd == NULL || kt->sq == NULL)
	{
		kernel_train_free(kt);
		return out_of_memory(err);
	}
	for (size_t i = 0; i < n; i++)
	{
		kernel_row(spec, x + i * p, p, kt->xd + i * p);
		kt->sq[i] = cblas_ddot((int) p, kt->xd + i * p, 1, kt->xd + i * p, 1);
	}
	return PGML_OK;
}

/* Whether x (m × p) has a negative value (the chi-squared kernels are for non-negative features). */
static bool
has_negative(const float *x, size_t m, size_t p)
{
	for (size_t i = 0; i < m * p; i++)
		if (x[i] < 0)
			return true;
	return false;
}

/*
 * K(x_i, train_j) for the m rows of x (m × p) into out (m × n, row-major). xd: m × p scratch. first: the
 * index of x's first row among the training rows when x is a block of them (distances to themselves are
 * then exactly 0, as sklearn sets them), else SIZE_MAX.
 */
static void
kernel_block(const kernel_train *kt, const float *x, size_t m, size_t first, double *xd, double *out)
{
	const kernel_spec *spec = &kt->spec;
	size_t		n = kt->n;
	size_t		p = kt->p;

	if (kernel_uses_dots(spec->type))
	{
		for (size_t i = 0; i < m; i++)
			kernel_row(spec, x + i * p, p, xd + i * p);
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) m, (int) n, (int) p, 1.0, xd, (int) p, kt->xd,
					(int) p, 0.0, out, (int) n);
	}
	for (size_t i = 0; i < m; i++)
	{
		double	   *o = out + i * n;
		const float *a = x + i * p;

		switch (spec->type)
		{
			case KERNEL_LINEAR:
			case KERNEL_COSINE:
				break;
			case KERNEL_POLY:
				for (size_t j = 0; j < n; j++)
					o[j] = pow(o[j] * spec->gamma + spec->coef0, spec->degree);
				break;
			case KERNEL_SIGMOID:
				for (size_t j = 0; j < n; j++)
					o[j] = tanh(o[j] * spec->gamma + spec->coef0);
				break;
			case KERNEL_RBF:
				{
					double		sa = cblas_ddot((int) p, xd + i * p, 1, xd + i * p, 1);

					/* ||a||² - 2a·b + ||b||², as sklearn's euclidean_distances */
					for (size_t j = 0; j < n; j++)
					{
						double		d2 = (-2.0 * o[j] + sa) + kt->sq[j];

						if (d2 < 0 || (first != SIZE_MAX && j == first + i))
							d2 = 0;
						o[j] = exp(-spec->gamma * d2);
					}
				}
				break;
			case KERNEL_LAPLACIAN:
				for (size_t j = 0; j < n; j++)
				{
					const float *b = kt->x + j * p;
					double		s = 0;

					for (size_t c = 0; c < p; c++)
						s += fabs((double) a[c] - (double) b[c]);
					o[j] = exp(-spec->gamma * s);
				}
				break;
			case KERNEL_ADDITIVE_CHI2:
			case KERNEL_CHI2:
				for (size_t j = 0; j < n; j++)
				{
					const float *b = kt->x + j * p;
					double		s = 0;

					for (size_t c = 0; c < p; c++)
					{
						double		num = (double) a[c] - (double) b[c];
						double		den = (double) a[c] + (double) b[c];

						if (den != 0)
							s += num * num / den;
					}
					o[j] = spec->type == KERNEL_CHI2 ? exp(-spec->gamma * s) : -s;
				}
				break;
			case KERNEL_GP_RBF:
				for (size_t j = 0; j < n; j++)
				{
					const float *b = kt->x + j * p;
					double		s = 0;

					for (size_t c = 0; c < p; c++)
					{
						double		dd = (double) a[c] - (double) b[c];

						s += dd * dd;
					}
					o[j] = exp(-0.5 * s);
				}
				break;
		}
	}
}

/* Rows per kernel block for n training rows of p features. */
static size_t
kernel_block_rows(size_t n, size_t p)
{
	size_t		b = KERNEL_BLOCK_WORK / (n * (p + 1) + 1);

	return b < 1 ? 1 : b > 1024 ? 1024 : b;
}

/* The n × n training kernel matrix (row-major = column-major: it is symmetric up to rounding). */
static pgml_status
kernel_matrix(const kernel_train *kt, double *K, pgml_err *err)
{
	size_t		n = kt->n;
	size_t		p = kt->p;
	size_t		block = kernel_block_rows(n, p);
	double	   *xd = pgml_malloc(block * p * sizeof(double));
	pgml_status rc = PGML_OK;

	if (xd == NULL)
		return out_of_memory(err);
	for (size_t r0 = 0; r0 < n && rc == PGML_OK; r0 += block)
	{
		size_t		b = n - r0 < block ? n - r0 : block;

		kernel_block(kt, kt->x + r0 * p, b, r0, xd, K + r0 * n);
		rc = pgml_check_stop(err);
	}
	pgml_free(xd);
	if (rc == PGML_OK)
	{
		/* exactly symmetric (sklearn's pdist-based kernels are; the BLAS ones are up to rounding) */
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++)
				K[j * n + i] = K[i * n + j];
	}
	return rc;
}

/* Checks the size of a kernel model's training data. */
static pgml_status
kernel_check_size(const char *name, size_t n, pgml_err *err)
{
	size_t		cells;

	if (n > MAX_KERNEL_ROWS || !pgml_mul_size(n, n, &cells) || cells > SIZE_MAX / (2 * sizeof(double)))
	{
		pgml_error(err, PGML_ERR_LIMIT, "too many training rows for %s", name);
		pgml_err_detail(err, "It keeps an n × n kernel matrix; the data have %zu rows, the limit is %zu.", n,
						MAX_KERNEL_ROWS);
		return PGML_ERR_LIMIT;
	}
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Gaussian process classification (binary Laplace approximation)
 * ------------------------------------------------------------------------------------------------- */

/*
 * Williams & Barber (1998), appendix A: σ(x) ≈ Σ c_i (1 + erf(λ_i x)) / 2. The λ are theirs; the c come
 * from a least-squares fit at x = 0, 0.6, 2, 3.5, 4.5 and ∞ (the same recipe as scikit-learn's, so that
 * probabilities agree to about 1e-8). Then ∫σ(f)N(f|μ, v)df ≈ Σ c_i erf(λ_i μ / sqrt(1 + 2vλ_i²)) / 2
 * + Σ c_i / 2.
 */
static const double ERF_LAMBDA[5] = {0.41, 0.4, 0.37, 0.44, 0.39};
static const double ERF_COEF[5] = {
	-1854.8214153618835, 3516.8989369778278, 221.29346715698927, 128.12323807010884, -2010.4942268430386
};

static double
gpc_probability(double mu, double var)
{
	double		s = 0;
	double		c = 0;

	if (!(var > 0))
		var = 0;
	for (int i = 0; i < 5; i++)
	{
		s += ERF_COEF[i] * 0.5 * erf(ERF_LAMBDA[i] * mu / sqrt(1.0 + 2.0 * var * ERF_LAMBDA[i] * ERF_LAMBDA[i]));
		c += ERF_COEF[i];
	}
	return s + 0.5 * c;
}

/* L = chol(I + W½ K W½) (n × n, column-major, lower). *ok: false when it is not positive definite. */
static pgml_status
gpc_factor(const double *K, const double *w_sr, size_t n, double *L, bool *ok, pgml_err *err)
{
	lapack_int	info;
	pgml_status rc;

	for (size_t j = 0; j < n; j++)
		for (size_t i = j; i < n; i++)
			L[j * n + i] = w_sr[i] * K[j * n + i] * w_sr[j] + (i == j ? 1.0 : 0.0);
	rc = cholesky_blocked(L, n, &info, err);
	*ok = info == 0;
	return rc;
}

/* log(1 + e^z) without overflow. */
static inline double
softplus(double z)
{
	return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* 1 / (1 + e^-z) without overflow. */
static inline double
expit(double z)
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
 * The posterior mode of one binary problem (y01: n labels 0/1) by Newton's method (R&W algorithm 3.1).
 * Writes resid = y - π, w_sr = sqrt(π(1 - π)) and L as they were at the start of the last iteration, as
 * sklearn keeps them.
 */
static pgml_status
gpc_mode(const double *K, const double *y01, size_t n, int64_t max_iter, bool verbose, double *resid,
		 double *w_sr, double *L, pgml_err *err)
{
	double	   *f = pgml_calloc(n, sizeof(double));
	double	   *b = pgml_malloc(n * sizeof(double));
	double	   *a = pgml_malloc(n * sizeof(double));
	double	   *v = pgml_malloc(n * sizeof(double));
	double		lml_old = -INFINITY;
	int64_t		iter;
	pgml_status rc = PGML_OK;

	if (f == NULL || b == NULL || a == NULL || v == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (iter = 0; iter < max_iter; iter++)
	{
		double		lml = 0;
		lapack_int	info;
		bool		ok;

		for (size_t i = 0; i < n; i++)
		{
			double		pi = expit(f[i]);
			double		W = pi * (1.0 - pi);

			w_sr[i] = sqrt(W);
			resid[i] = y01[i] - pi;
			b[i] = W * f[i] + resid[i];
		}
		if ((rc = gpc_factor(K, w_sr, n, L, &ok, err)) != PGML_OK)
			goto done;
		if (!ok)
		{
			pgml_error(err, PGML_ERR_DATA, "gaussian_process: the Laplace approximation failed");
			pgml_err_detail(err, "The matrix I + W½KW½ is not positive definite.");
			rc = PGML_ERR_DATA;
			goto done;
		}
		/* a = b - W½ (L L')⁻¹ W½ K b; f = K a */
		cblas_dsymv(CblasColMajor, CblasLower, (int) n, 1.0, K, (int) n, b, 1, 0.0, v, 1);
		for (size_t i = 0; i < n; i++)
			v[i] *= w_sr[i];
		info = LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'L', (lapack_int) n, 1, L, (lapack_int) n, v, (lapack_int) n);
		if (info != 0)
		{
			rc = lapack_bug(err, "dpotrs", info);
			goto done;
		}
		for (size_t i = 0; i < n; i++)
			a[i] = b[i] - w_sr[i] * v[i];
		cblas_dsymv(CblasColMajor, CblasLower, (int) n, 1.0, K, (int) n, a, 1, 0.0, f, 1);
		for (size_t i = 0; i < n; i++)
			lml += -0.5 * a[i] * f[i] - softplus(-(2.0 * y01[i] - 1.0) * f[i]) - log(L[i * n + i]);
		if (lml - lml_old < 1e-10)
			break;
		lml_old = lml;
		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
	}
	pgml_log(verbose ? PGML_LOG_INFO : PGML_LOG_DEBUG,
			 "gaussian_process: posterior mode after %lld Newton iterations (log marginal likelihood %g)",
			 (long long) (iter < max_iter ? iter + 1 : iter), lml_old);
done:
	pgml_free(f);
	pgml_free(b);
	pgml_free(a);
	pgml_free(v);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * States
 * ------------------------------------------------------------------------------------------------- */

/* Frees a state (NULL is fine). */
static void
bayes_free(void *state)
{
	bayes_state *st = state;

	if (st == NULL)
		return;
	pgml_free(st->coef);
	pgml_free(st->intercept);
	kernel_train_free(&st->kt);
	pgml_free(st->x_train);
	pgml_free(st->dual);
	pgml_free(st->y_mean);
	pgml_free(st->y_std);
	pgml_free(st->w_sr);
	pgml_free(st->chol);
	json_decref(st->params);
	pgml_free(st);
}

/* A new state; linear kinds get zeroed coefficients. NULL when out of memory. */
static bayes_state *
state_new(bayes_kind kind, pgml_task task, size_t n_features, size_t n_funcs, size_t n_outputs)
{
	bayes_state *st = pgml_calloc(1, sizeof(bayes_state));

	if (st == NULL)
		return NULL;
	st->kind = kind;
	st->task = task;
	st->n_features = n_features;
	st->n_funcs = n_funcs;
	st->n_outputs = n_outputs;
	if (KIND_IS_LINEAR(kind))
	{
		st->coef = pgml_calloc(n_funcs * n_features, sizeof(double));
		st->intercept = pgml_calloc(n_funcs, sizeof(double));
		if (st->coef == NULL || st->intercept == NULL)
		{
			bayes_free(st);
			return NULL;
		}
	}
	return st;
}

/* Records the effective hyperparameters and hands the state over (frees it on failure). */
static pgml_status
fit_end(bayes_state *st, const json_t *hp, const param_default *defaults, void **state, pgml_err *err)
{
	st->params = pgml_linear_effective_params(hp, defaults);
	if (st->params == NULL)
	{
		bayes_free(st);
		return out_of_memory(err);
	}
	*state = st;
	return PGML_OK;
}

/* Whether all n values are finite. */
static bool
all_finite(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

/* ---------------------------------------------------------------------------------------------------
 * Fits
 * ------------------------------------------------------------------------------------------------- */

/* The algorithm name of a kind, for messages. */
static const char *
kind_name(bayes_kind kind)
{
	switch (kind)
	{
		case KIND_BAYESIAN_RIDGE:
			return "bayesian_ridge";
		case KIND_ARD:
			return "automatic_relevance_determination";
		case KIND_LARS:
			return "least_angle";
		case KIND_LASSO_LARS:
			return "lasso_least_angle";
		case KIND_OMP:
			return "orthogonal_matching_pursuit";
		case KIND_KERNEL_RIDGE:
			return "kernel_ridge";
		case KIND_GP_REGRESSOR:
		case KIND_GP_CLASSIFIER:
			return "gaussian_process";
	}
	return "unknown";
}

/* Fits one of the linear kinds (regression). */
static pgml_status
linear_kind_fit(const pgml_algorithm *algo, bayes_kind kind, const param_default *defaults,
				const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	bayes_hp	hp;
	prep		d;
	double	   *noise = NULL;
	bayes_state *st;
	size_t		p;
	size_t		t;
	pgml_status rc;

	if ((rc = pgml_linear_fit_begin(algo, args, train, state, err)) != PGML_OK)
		return rc;
	memset(&hp, 0, sizeof(hp));
	p = train->n_features;
	t = train->n_targets;
	switch (kind)
	{
		case KIND_BAYESIAN_RIDGE:
		case KIND_ARD:
			rc = parse_bayes(args->hyperparams, kind == KIND_ARD, &hp, err);
			if (rc == PGML_OK && kind == KIND_ARD && train->n_rows < 2)
				rc = pgml_error(err, PGML_ERR_DATA, "automatic_relevance_determination needs at least 2 rows");
			break;
		case KIND_LARS:
		case KIND_LASSO_LARS:
			rc = parse_lars(args->hyperparams, kind == KIND_LASSO_LARS, &hp, err);
			break;
		default:
			rc = parse_omp(args->hyperparams, p, &hp, err);
			break;
	}
	if (rc != PGML_OK)
		return rc;
	hp.verbose = hp_verbose(args->hyperparams);
	if (hp.has_jitter)
	{
		/* uniform noise in [0, jitter) added to the target, from numpy's generator when seeded */
		mt19937		mt;

		noise = pgml_malloc(train->n_rows * sizeof(double));
		if (noise == NULL)
			return out_of_memory(err);
		mt_seed(&mt, hp.has_seed ? (uint32_t) hp.seed : seed32(args->seed));
		for (size_t i = 0; i < train->n_rows; i++)
			noise[i] = 0.0 + hp.jitter * mt_double(&mt);
	}
	st = state_new(kind, PGML_TASK_REGRESSION, p, t, t);
	if (st == NULL)
	{
		pgml_free(noise);
		return out_of_memory(err);
	}
	rc = prep_data(train, hp.fit_intercept, noise, &d, err);
	pgml_free(noise);
	if (rc == PGML_OK)
	{
		switch (kind)
		{
			case KIND_BAYESIAN_RIDGE:
				rc = bayesian_ridge_solve(&hp, &d, st->coef, err);
				break;
			case KIND_ARD:
				rc = ard_solve(&hp, &d, st->coef, err);
				break;
			case KIND_LARS:
			case KIND_LASSO_LARS:
				rc = lars_solve(&hp, &d, st->coef, err);
				break;
			default:
				rc = omp_solve(&hp, &d, st->coef, err);
				break;
		}
	}
	if (rc == PGML_OK)
	{
		for (size_t k = 0; k < t; k++)
		{
			double		b = d.ymean[k];

			for (size_t j = 0; j < p; j++)
				b -= d.xmean[j] * st->coef[k * p + j];
			st->intercept[k] = b;
		}
		if (!all_finite(st->coef, t * p) || !all_finite(st->intercept, t))
		{
			pgml_error(err, PGML_ERR_DATA, "%s produced non-finite coefficients", kind_name(kind));
			pgml_err_hint(err, "Scale the features to a smaller range.");
			rc = PGML_ERR_DATA;
		}
	}
	if (d.A != NULL)
		prep_free(&d);
	if (rc != PGML_OK)
	{
		bayes_free(st);
		return rc;
	}
	return fit_end(st, args->hyperparams, defaults, state, err);
}

/* Keeps a copy of the training rows in st and prepares them for kernel evaluations. */
static pgml_status
kernel_state_init(bayes_state *st, const pgml_data *train, const kernel_spec *spec, pgml_err *err)
{
	size_t		cells = train->n_rows * train->n_features;

	st->n_train = train->n_rows;
	st->x_train = pgml_malloc(cells * sizeof(float));
	if (st->x_train == NULL)
		return out_of_memory(err);
	memcpy(st->x_train, train->x, cells * sizeof(float));
	return kernel_train_init(&st->kt, spec, st->x_train, st->n_train, st->n_features, err);
}

/* Checks what the kernel models need of the data besides fit_begin's checks. */
static pgml_status
kernel_check_data(const char *name, const kernel_spec *spec, const pgml_data *train, size_t n_funcs,
				  pgml_err *err)
{
	pgml_status rc = kernel_check_size(name, train->n_rows, err);

	if (rc != PGML_OK)
		return rc;
	if (train->n_rows * train->n_features > MAX_TRAIN_CELLS || n_funcs > MAX_FUNCS ||
		train->n_rows * n_funcs > MAX_COEFS)
	{
		pgml_error(err, PGML_ERR_LIMIT, "training data is too large for %s", name);
		pgml_err_detail(err, "It has %zu rows, %zu features and %zu targets or classes.", train->n_rows,
						train->n_features, n_funcs);
		return PGML_ERR_LIMIT;
	}
	if ((spec->type == KERNEL_ADDITIVE_CHI2 || spec->type == KERNEL_CHI2) &&
		has_negative(train->x, train->n_rows, train->n_features))
	{
		pgml_error(err, PGML_ERR_DATA, "kernel \"%s\" needs non-negative features", kernel_name(spec->type));
		pgml_err_detail(err, "The training data contain negative values.");
		return PGML_ERR_DATA;
	}
	return PGML_OK;
}

/* Fits KernelRidge. */
static pgml_status
kernel_ridge_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	bayes_hp	hp;
	bayes_state *st;
	size_t		n;
	size_t		t;
	double	   *K = NULL;
	double	   *B = NULL;
	lapack_int	info;
	pgml_status rc;

	if ((rc = pgml_linear_fit_begin(&pgml_algo_kernel_ridge, args, train, state, err)) != PGML_OK)
		return rc;
	memset(&hp, 0, sizeof(hp));
	if ((rc = parse_kernel_ridge(args->hyperparams, train->n_features, &hp, err)) != PGML_OK ||
		(rc = kernel_check_data("kernel_ridge", &hp.kernel, train, train->n_targets, err)) != PGML_OK)
		return rc;
	n = train->n_rows;
	t = train->n_targets;
	st = state_new(KIND_KERNEL_RIDGE, PGML_TASK_REGRESSION, train->n_features, t, t);
	if (st == NULL)
		return out_of_memory(err);
	if ((rc = kernel_state_init(st, train, &hp.kernel, err)) != PGML_OK)
		goto fail;
	K = pgml_malloc(n * n * sizeof(double));
	B = pgml_malloc(n * t * sizeof(double));
	st->dual = pgml_malloc(n * t * sizeof(double));
	if (K == NULL || B == NULL || st->dual == NULL)
	{
		rc = out_of_memory(err);
		goto fail;
	}
	if ((rc = kernel_matrix(&st->kt, K, err)) != PGML_OK)
		goto fail;
	for (size_t i = 0; i < n; i++)
	{
		K[i * n + i] += hp.alpha;
		for (size_t k = 0; k < t; k++)
			B[k * n + i] = train->y[i * t + k];
	}
	if ((rc = cholesky_blocked(K, n, &info, err)) != PGML_OK)
		goto fail;
	if (info == 0)
	{
		info = LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'L', (lapack_int) n, (lapack_int) t, K, (lapack_int) n, B,
								   (lapack_int) n);
		if (info != 0)
		{
			rc = lapack_bug(err, "dpotrs", info);
			goto fail;
		}
	}
	else
	{
		/* not positive definite: the least-squares solution, as sklearn falls back on */
		pgml_log(PGML_LOG_WARNING, "kernel_ridge: singular matrix in solving the dual problem; using the "
				 "least-squares solution instead");
		if ((rc = kernel_matrix(&st->kt, K, err)) != PGML_OK)
			goto fail;
		for (size_t i = 0; i < n; i++)
			K[i * n + i] += hp.alpha;
		if ((rc = pgml_linear_gelsd(n, n, t, K, B, n, DBL_EPSILON, err)) != PGML_OK)
			goto fail;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < t; k++)
			st->dual[i * t + k] = B[k * n + i];
	if (!all_finite(st->dual, n * t))
	{
		rc = pgml_error(err, PGML_ERR_DATA, "kernel_ridge produced non-finite dual coefficients");
		pgml_err_hint(err, "Increase alpha or scale the features.");
		goto fail;
	}
	pgml_free(K);
	pgml_free(B);
	return fit_end(st, args->hyperparams, kernel_ridge_defaults, state, err);
fail:
	pgml_free(K);
	pgml_free(B);
	bayes_free(st);
	return rc;
}

/* Fits GaussianProcessRegressor. */
static pgml_status
gp_regressor_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	bayes_hp	hp;
	bayes_state *st;
	size_t		n = train->n_rows;
	size_t		t = train->n_targets;
	double	   *K = NULL;
	double	   *B = NULL;
	lapack_int	info;
	pgml_status rc;

	memset(&hp, 0, sizeof(hp));
	if ((rc = parse_gpr(args->hyperparams, &hp, err)) != PGML_OK ||
		(rc = kernel_check_data("gaussian_process", &hp.kernel, train, train->n_targets, err)) != PGML_OK)
		return rc;
	st = state_new(KIND_GP_REGRESSOR, PGML_TASK_REGRESSION, train->n_features, t, t);
	if (st == NULL)
		return out_of_memory(err);
	if ((rc = kernel_state_init(st, train, &hp.kernel, err)) != PGML_OK)
		goto fail;
	K = pgml_malloc(n * n * sizeof(double));
	B = pgml_malloc(n * t * sizeof(double));
	st->dual = pgml_malloc(n * t * sizeof(double));
	st->y_mean = pgml_calloc(t, sizeof(double));
	st->y_std = pgml_malloc(t * sizeof(double));
	if (K == NULL || B == NULL || st->dual == NULL || st->y_mean == NULL || st->y_std == NULL)
	{
		rc = out_of_memory(err);
		goto fail;
	}
	for (size_t k = 0; k < t; k++)
	{
		double		mean = 0;
		double		ss = 0;

		st->y_std[k] = 1.0;
		if (hp.normalize_y)
		{
			for (size_t i = 0; i < n; i++)
				mean += train->y[i * t + k];
			mean /= (double) n;
			for (size_t i = 0; i < n; i++)
				ss += (train->y[i * t + k] - mean) * (train->y[i * t + k] - mean);
			st->y_mean[k] = mean;
			st->y_std[k] = sqrt(ss / (double) n);
			if (st->y_std[k] < 10.0 * DBL_EPSILON)
				st->y_std[k] = 1.0;
		}
		for (size_t i = 0; i < n; i++)
			B[k * n + i] = (train->y[i * t + k] - st->y_mean[k]) / st->y_std[k];
	}
	if ((rc = kernel_matrix(&st->kt, K, err)) != PGML_OK)
		goto fail;
	for (size_t i = 0; i < n; i++)
		K[i * n + i] += hp.alpha;
	if ((rc = cholesky_blocked(K, n, &info, err)) != PGML_OK)
		goto fail;
	if (info > 0)
	{
		pgml_error(err, PGML_ERR_DATA, "gaussian_process: the kernel matrix is not positive definite");
		pgml_err_detail(err, "The Cholesky factorization of K + alpha I failed at column %d (alpha is %g).",
						(int) info, hp.alpha);
		pgml_err_hint(err, "Increase alpha gradually, or remove duplicate rows.");
		rc = PGML_ERR_DATA;
		goto fail;
	}
	info = LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'L', (lapack_int) n, (lapack_int) t, K, (lapack_int) n, B,
							   (lapack_int) n);
	if (info != 0)
	{
		rc = lapack_bug(err, "dpotrs", info);
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < t; k++)
			st->dual[i * t + k] = B[k * n + i];
	if (!all_finite(st->dual, n * t))
	{
		rc = pgml_error(err, PGML_ERR_DATA, "gaussian_process produced non-finite coefficients");
		pgml_err_hint(err, "Increase alpha.");
		goto fail;
	}
	pgml_free(K);
	pgml_free(B);
	return fit_end(st, args->hyperparams, gpr_defaults, state, err);
fail:
	pgml_free(K);
	pgml_free(B);
	bayes_free(st);
	return rc;
}

/* Fits GaussianProcessClassifier: one binary Laplace approximation, or one per class (one-vs-rest). */
static pgml_status
gp_classifier_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	bayes_hp	hp;
	bayes_state *st;
	size_t		n = train->n_rows;
	size_t		k = args->n_classes == 2 ? 1 : (size_t) args->n_classes;
	double	   *K = NULL;
	double	   *y01 = NULL;
	double	   *resid = NULL;
	pgml_status rc;

	memset(&hp, 0, sizeof(hp));
	if ((rc = parse_gpc(args->hyperparams, args->n_classes, &hp, err)) != PGML_OK ||
		(rc = kernel_check_data("gaussian_process", &hp.kernel, train, (size_t) args->n_classes, err)) != PGML_OK)
		return rc;
	st = state_new(KIND_GP_CLASSIFIER, PGML_TASK_CLASSIFICATION, train->n_features, k, (size_t) args->n_classes);
	if (st == NULL)
		return out_of_memory(err);
	if ((rc = kernel_state_init(st, train, &hp.kernel, err)) != PGML_OK)
		goto fail;
	if (k > SIZE_MAX / n / n / sizeof(double))
	{
		rc = pgml_error(err, PGML_ERR_LIMIT, "too many classes and rows for gaussian_process");
		goto fail;
	}
	K = pgml_malloc(n * n * sizeof(double));
	y01 = pgml_malloc(n * sizeof(double));
	resid = pgml_malloc(n * sizeof(double));
	st->dual = pgml_malloc(n * k * sizeof(double));
	st->w_sr = pgml_malloc(n * k * sizeof(double));
	st->chol = pgml_malloc(k * n * n * sizeof(double));
	if (K == NULL || y01 == NULL || resid == NULL || st->dual == NULL || st->w_sr == NULL || st->chol == NULL)
	{
		rc = out_of_memory(err);
		goto fail;
	}
	if ((rc = kernel_matrix(&st->kt, K, err)) != PGML_OK)
		goto fail;
	for (size_t c = 0; c < k; c++)
	{
		/* binary: class 1 against class 0; else class c against the rest */
		float		pos = k == 1 ? 1.0f : (float) c;

		for (size_t i = 0; i < n; i++)
			y01[i] = train->y[i] == pos ? 1.0 : 0.0;
		rc = gpc_mode(K, y01, n, hp.max_iter_predict, hp_verbose(args->hyperparams), resid, st->w_sr + c * n,
					  st->chol + c * n * n, err);
		if (rc != PGML_OK)
			goto fail;
		for (size_t i = 0; i < n; i++)
			st->dual[i * k + c] = resid[i];
	}
	pgml_free(K);
	pgml_free(y01);
	pgml_free(resid);
	return fit_end(st, args->hyperparams, gpc_defaults, state, err);
fail:
	pgml_free(K);
	pgml_free(y01);
	pgml_free(resid);
	bayes_free(st);
	return rc;
}

static pgml_status
bayesian_ridge_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return linear_kind_fit(&pgml_algo_bayesian_ridge, KIND_BAYESIAN_RIDGE, bayesian_ridge_defaults, args, train,
						   state, err);
}

static pgml_status
ard_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return linear_kind_fit(&pgml_algo_automatic_relevance_determination, KIND_ARD, ard_defaults, args, train,
						   state, err);
}

static pgml_status
lars_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return linear_kind_fit(&pgml_algo_least_angle, KIND_LARS, lars_defaults, args, train, state, err);
}

static pgml_status
lasso_lars_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return linear_kind_fit(&pgml_algo_lasso_least_angle, KIND_LASSO_LARS, lasso_lars_defaults, args, train,
						   state, err);
}

static pgml_status
omp_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return linear_kind_fit(&pgml_algo_orthogonal_matching_pursuit, KIND_OMP, omp_defaults, args, train, state,
						   err);
}

/* Fits GaussianProcessRegressor or GaussianProcessClassifier. */
static pgml_status
gaussian_process_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	pgml_status rc = pgml_linear_fit_begin(&pgml_algo_gaussian_process, args, train, state, err);

	if (rc != PGML_OK)
		return rc;
	if (args->task == PGML_TASK_REGRESSION)
		return gp_regressor_fit(args, train, state, err);
	return gp_classifier_fit(args, train, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * Predict, params, save, load
 * ------------------------------------------------------------------------------------------------- */

/* Values predict writes per row. */
static size_t
bayes_n_outputs(const void *state)
{
	const bayes_state *st = state;

	return st ? st->n_outputs : 0;
}

/* Predictions of a kernel model for rows [0, m) of x into out (m × n_outputs). */
static pgml_status
kernel_predict_block(const bayes_state *st, const float *x, size_t m, double *Kb, double *xd, double *z,
					 double *V, float *out)
{
	size_t		n = st->n_train;
	size_t		k = st->n_funcs;

	kernel_block(&st->kt, x, m, SIZE_MAX, xd, Kb);
	/* z = K(x, X) · dual (m × k) */
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) m, (int) k, (int) n, 1.0, Kb, (int) n, st->dual,
				(int) k, 0.0, z, (int) k);
	if (st->kind != KIND_GP_CLASSIFIER)
	{
		for (size_t i = 0; i < m; i++)
			for (size_t c = 0; c < k; c++)
			{
				double		v = z[i * k + c];

				if (st->kind == KIND_GP_REGRESSOR)
					v = st->y_std[c] * v + st->y_mean[c];
				out[i * k + c] = (float) v;
			}
		return PGML_OK;
	}
	/* classification: the latent variance from v = L⁻¹(W½ k*), then the probabilities */
	for (size_t c = 0; c < k; c++)
	{
		const double *w = st->w_sr + c * n;

		for (size_t i = 0; i < m; i++)
			for (size_t j = 0; j < n; j++)
				V[i * n + j] = w[j] * Kb[i * n + j];
		cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int) n, (int) m, 1.0,
					st->chol + c * n * n, (int) n, V, (int) n);
		for (size_t i = 0; i < m; i++)
		{
			double		var = 1.0 - cblas_ddot((int) n, V + i * n, 1, V + i * n, 1);

			z[i * k + c] = gpc_probability(z[i * k + c], var);
		}
	}
	for (size_t i = 0; i < m; i++)
	{
		float	   *o = out + i * st->n_outputs;

		if (k == 1)
		{
			o[0] = (float) (1.0 - z[i]);
			o[1] = (float) z[i];
		}
		else
		{
			double		sum = 0;

			for (size_t c = 0; c < k; c++)
				sum += z[i * k + c];
			for (size_t c = 0; c < k; c++)
				o[c] = (float) (sum > 0 ? z[i * k + c] / sum : 1.0 / (double) k);
		}
	}
	return PGML_OK;
}

/* Predicts n_rows rows. */
static pgml_status
bayes_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out, pgml_err *err)
{
	const bayes_state *st = state;
	size_t		p;
	size_t		n;
	size_t		block;
	double	   *Kb;
	double	   *xd;
	double	   *z;
	double	   *V = NULL;

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
	if (KIND_IS_LINEAR(st->kind))
	{
		for (size_t i = 0; i < n_rows; i++)
		{
			const float *row = x + i * p;

			for (size_t c = 0; c < st->n_funcs; c++)
			{
				const double *w = st->coef + c * p;
				double		s = st->intercept[c];

				for (size_t j = 0; j < p; j++)
					s += w[j] * row[j];
				out[i * st->n_outputs + c] = (float) s;
			}
		}
		return PGML_OK;
	}
	if ((st->kt.spec.type == KERNEL_ADDITIVE_CHI2 || st->kt.spec.type == KERNEL_CHI2) &&
		has_negative(x, n_rows, p))
	{
		pgml_error(err, PGML_ERR_DATA, "kernel \"%s\" needs non-negative features",
				   kernel_name(st->kt.spec.type));
		pgml_err_detail(err, "The input contains negative values.");
		return PGML_ERR_DATA;
	}
	n = st->n_train;
	block = kernel_block_rows(n, p);
	if (block > n_rows)
		block = n_rows;
	Kb = pgml_malloc(block * n * sizeof(double));
	xd = pgml_malloc(block * p * sizeof(double));
	z = pgml_malloc(block * st->n_funcs * sizeof(double));
	if (st->kind == KIND_GP_CLASSIFIER)
		V = pgml_malloc(block * n * sizeof(double));
	if (Kb == NULL || xd == NULL || z == NULL || (st->kind == KIND_GP_CLASSIFIER && V == NULL))
	{
		pgml_free(Kb);
		pgml_free(xd);
		pgml_free(z);
		pgml_free(V);
		return out_of_memory(err);
	}
	for (size_t r0 = 0; r0 < n_rows; r0 += block)
	{
		size_t		b = n_rows - r0 < block ? n_rows - r0 : block;

		kernel_predict_block(st, x + r0 * p, b, Kb, xd, z, V, out + r0 * st->n_outputs);
	}
	pgml_free(Kb);
	pgml_free(xd);
	pgml_free(z);
	pgml_free(V);
	return PGML_OK;
}

/* The effective hyperparameters (a new reference). */
static json_t *
bayes_params(const void *state)
{
	const bayes_state *st = state;

	return st && st->params ? json_deep_copy(st->params) : NULL;
}

/* Writes the fitted state (see the layout at the top of the file). */
static void
bayes_save(const void *state, pgml_buf *out)
{
	const bayes_state *st = state;
	char	   *params;

	if (st == NULL)
	{
		out->failed = true;
		return;
	}
	pgml_buf_put_u32(out, BAYES_FORMAT);
	pgml_buf_put_u8(out, (uint8_t) st->kind);
	pgml_buf_put_u8(out, (uint8_t) st->task);
	pgml_buf_put_u64(out, st->n_features);
	pgml_buf_put_u64(out, st->n_funcs);
	pgml_buf_put_u64(out, st->n_outputs);
	if (KIND_IS_LINEAR(st->kind))
	{
		pgml_buf_put_f64s(out, st->coef, st->n_funcs * st->n_features);
		pgml_buf_put_f64s(out, st->intercept, st->n_funcs);
	}
	else
	{
		pgml_buf_put_u8(out, (uint8_t) st->kt.spec.type);
		pgml_buf_put_f64(out, st->kt.spec.gamma);
		pgml_buf_put_f64(out, st->kt.spec.degree);
		pgml_buf_put_f64(out, st->kt.spec.coef0);
		pgml_buf_put_u64(out, st->n_train);
		pgml_buf_put_f32s(out, st->x_train, st->n_train * st->n_features);
		pgml_buf_put_f64s(out, st->dual, st->n_train * st->n_funcs);
		if (st->kind == KIND_GP_REGRESSOR)
		{
			pgml_buf_put_f64s(out, st->y_mean, st->n_funcs);
			pgml_buf_put_f64s(out, st->y_std, st->n_funcs);
		}
		else if (st->kind == KIND_GP_CLASSIFIER)
			pgml_buf_put_f64s(out, st->w_sr, st->n_funcs * st->n_train);
	}
	params = st->params ? pgml_json_dumps(st->params) : NULL;
	if (st->params != NULL && params == NULL)
		out->failed = true;
	pgml_buf_put_str(out, params);
	pgml_free(params);
}

/* The task of a kind. */
static pgml_task
kind_task(bayes_kind kind)
{
	return kind == KIND_GP_CLASSIFIER ? PGML_TASK_CLASSIFICATION : PGML_TASK_REGRESSION;
}

/* Whether the function and output counts agree with the kind. */
static bool
shape_is_valid(bayes_kind kind, size_t n_funcs, size_t n_outputs)
{
	if (kind == KIND_GP_CLASSIFIER)
		return (n_funcs == 1 && n_outputs == 2) || (n_funcs >= 3 && n_outputs == n_funcs);
	return n_funcs == n_outputs;
}

/* Whether a saved kernel is one the kind uses, with sound parameters. */
static bool
kernel_is_valid(bayes_kind kind, const kernel_spec *spec)
{
	if (!isfinite(spec->gamma) || spec->gamma < 0 || !isfinite(spec->coef0) || !isfinite(spec->degree) ||
		spec->degree < 0 || spec->degree > INT_MAX || spec->degree != floor(spec->degree))
		return false;
	if (kind == KIND_KERNEL_RIDGE)
		return spec->type >= KERNEL_LINEAR && spec->type <= KERNEL_CHI2;
	return spec->type == KERNEL_GP_RBF && spec->gamma == 0.5;
}

/* The kernel-model part of a saved state (after the header). */
static pgml_status
load_kernel_part(pgml_reader *in, bayes_state *st, pgml_err *err)
{
	size_t		n_train;
	size_t		p = st->n_features;
	size_t		k = st->n_funcs;
	size_t		got;

	st->kt.spec.type = (kernel_type) pgml_reader_u8(in);
	st->kt.spec.gamma = pgml_reader_f64(in);
	st->kt.spec.degree = pgml_reader_f64(in);
	st->kt.spec.coef0 = pgml_reader_f64(in);
	n_train = (size_t) pgml_reader_u64(in);
	if (pgml_reader_status(in) != PGML_OK)
		return pgml_linear_load_fail(in, err, "Unexpected end of data");
	if (!kernel_is_valid(st->kind, &st->kt.spec))
		return pgml_linear_load_fail(in, err, "The kernel is invalid");
	if (n_train == 0 || n_train > MAX_KERNEL_ROWS || n_train > MAX_TRAIN_CELLS / p || k > MAX_COEFS / n_train)
		return pgml_linear_load_fail(in, err, "The number of training rows is out of range");
	st->n_train = n_train;
	st->x_train = pgml_reader_f32s(in, n_train * p, MAX_TRAIN_CELLS, &got);
	if (st->x_train != NULL)
		st->dual = pgml_reader_f64s(in, n_train * k, MAX_COEFS, &got);
	if (st->dual != NULL && st->kind == KIND_GP_REGRESSOR)
	{
		st->y_mean = pgml_reader_f64s(in, k, MAX_FUNCS, &got);
		if (st->y_mean != NULL)
			st->y_std = pgml_reader_f64s(in, k, MAX_FUNCS, &got);
	}
	if (st->dual != NULL && st->kind == KIND_GP_CLASSIFIER)
		st->w_sr = pgml_reader_f64s(in, n_train * k, MAX_COEFS, &got);
	if (pgml_reader_status(in) != PGML_OK || st->x_train == NULL || st->dual == NULL ||
		(st->kind == KIND_GP_REGRESSOR && (st->y_mean == NULL || st->y_std == NULL)) ||
		(st->kind == KIND_GP_CLASSIFIER && st->w_sr == NULL))
		return pgml_linear_load_fail(in, err, "Unexpected end of data");
	for (size_t i = 0; i < n_train * p; i++)
		if (!isfinite(st->x_train[i]) ||
			((st->kt.spec.type == KERNEL_ADDITIVE_CHI2 || st->kt.spec.type == KERNEL_CHI2) && st->x_train[i] < 0))
			return pgml_linear_load_fail(in, err, "A training value is invalid");
	if (!all_finite(st->dual, n_train * k))
		return pgml_linear_load_fail(in, err, "A coefficient is not finite");
	if (st->kind == KIND_GP_REGRESSOR)
	{
		for (size_t c = 0; c < k; c++)
			if (!isfinite(st->y_mean[c]) || !isfinite(st->y_std[c]) || !(st->y_std[c] > 0))
				return pgml_linear_load_fail(in, err, "The target scaling is invalid");
	}
	if (st->kind == KIND_GP_CLASSIFIER)
	{
		for (size_t i = 0; i < n_train * k; i++)
			if (!(st->w_sr[i] >= 0 && st->w_sr[i] <= 0.5) || !(st->dual[i] >= -1 && st->dual[i] <= 1))
				return pgml_linear_load_fail(in, err, "The Laplace approximation is invalid");
	}
	return PGML_OK;
}

/* Rebuilds what a kernel model keeps besides its saved form: prepared rows, the classifier's factors. */
static pgml_status
kernel_state_rebuild(bayes_state *st, pgml_err *err)
{
	size_t		n = st->n_train;
	size_t		k = st->n_funcs;
	double	   *K;
	pgml_status rc;

	if ((rc = kernel_train_init(&st->kt, &st->kt.spec, st->x_train, n, st->n_features, err)) != PGML_OK)
		return rc;
	if (st->kind != KIND_GP_CLASSIFIER)
		return PGML_OK;
	if (k > SIZE_MAX / n / n / sizeof(double))
		return out_of_memory(err);
	K = pgml_malloc(n * n * sizeof(double));
	st->chol = pgml_malloc(k * n * n * sizeof(double));
	if (K == NULL || st->chol == NULL)
	{
		pgml_free(K);
		return out_of_memory(err);
	}
	rc = kernel_matrix(&st->kt, K, err);
	for (size_t c = 0; c < k && rc == PGML_OK; c++)
	{
		bool		ok;

		rc = gpc_factor(K, st->w_sr + c * n, n, st->chol + c * n * n, &ok, err);
		if (rc == PGML_OK && !ok)
			rc = pgml_error(err, PGML_ERR_CORRUPT, "gaussian_process model is corrupt");
	}
	pgml_free(K);
	return rc;
}

/* Reads a state written by bayes_save whose kind is in `kinds` (KIND_BIT mask), validating all of it. */
static pgml_status
load_kinds(pgml_reader *in, unsigned kinds, void **state, pgml_err *err)
{
	uint32_t	format;
	unsigned	kind;
	unsigned	task;
	uint64_t	n_features;
	uint64_t	n_funcs;
	uint64_t	n_outputs;
	size_t		got;
	char	   *text = NULL;
	bayes_state *st;
	pgml_status rc = PGML_OK;

	*state = NULL;
	format = pgml_reader_u32(in);
	kind = pgml_reader_u8(in);
	task = pgml_reader_u8(in);
	n_features = pgml_reader_u64(in);
	n_funcs = pgml_reader_u64(in);
	n_outputs = pgml_reader_u64(in);
	if (pgml_reader_status(in) != PGML_OK)
		return pgml_linear_load_fail(in, err, "Unexpected end of data");
	if (format != BAYES_FORMAT)
		return pgml_linear_load_fail(in, err, "Unknown model format version");
	if (kind >= 32 || !(kinds & KIND_BIT(kind)))
		return pgml_linear_load_fail(in, err, "The model kind does not belong to this algorithm");
	if (task != (unsigned) kind_task((bayes_kind) kind))
		return pgml_linear_load_fail(in, err, "The model task does not match its kind");
	if (n_features == 0 || n_features > MAX_FEATURES || n_funcs == 0 || n_funcs > MAX_FUNCS ||
		n_outputs > MAX_FUNCS || n_features * n_funcs > MAX_COEFS)
		return pgml_linear_load_fail(in, err, "The model dimensions are out of range");
	if (!shape_is_valid((bayes_kind) kind, (size_t) n_funcs, (size_t) n_outputs))
		return pgml_linear_load_fail(in, err, "The model outputs do not match its dimensions");
	st = pgml_calloc(1, sizeof(bayes_state));
	if (st == NULL)
		return out_of_memory(err);
	st->kind = (bayes_kind) kind;
	st->task = (pgml_task) task;
	st->n_features = (size_t) n_features;
	st->n_funcs = (size_t) n_funcs;
	st->n_outputs = (size_t) n_outputs;
	if (KIND_IS_LINEAR(st->kind))
	{
		st->coef = pgml_reader_f64s(in, st->n_funcs * st->n_features, MAX_COEFS, &got);
		if (st->coef != NULL)
			st->intercept = pgml_reader_f64s(in, st->n_funcs, MAX_FUNCS, &got);
		if (pgml_reader_status(in) != PGML_OK || st->coef == NULL || st->intercept == NULL)
			rc = pgml_linear_load_fail(in, err, "Unexpected end of data");
		else if (!all_finite(st->coef, st->n_funcs * st->n_features) || !all_finite(st->intercept, st->n_funcs))
			rc = pgml_linear_load_fail(in, err, "A coefficient is not finite");
	}
	else
		rc = load_kernel_part(in, st, err);
	if (rc == PGML_OK)
	{
		text = pgml_reader_str(in, MAX_PARAMS_JSON);
		if (pgml_reader_status(in) != PGML_OK)
			rc = pgml_linear_load_fail(in, err, "Unexpected end of data");
	}
	if (rc == PGML_OK && text != NULL)
	{
		pgml_err	jerr;

		if (pgml_json_parse(text, strlen(text), "model parameters", &st->params, &jerr) != PGML_OK ||
			!json_is_object(st->params))
			rc = pgml_linear_load_fail(in, err, "The stored hyperparameters are not a JSON object");
	}
	pgml_free(text);
	if (rc == PGML_OK && !KIND_IS_LINEAR(st->kind))
		rc = kernel_state_rebuild(st, err);
	if (rc != PGML_OK)
	{
		bayes_free(st);
		return rc;
	}
	*state = st;
	return PGML_OK;
}

static pgml_status
bayesian_ridge_load(pgml_reader *in, void **state, pgml_err *err)
{
	return load_kinds(in, KIND_BIT(KIND_BAYESIAN_RIDGE), state, err);
}

static pgml_status
ard_load(pgml_reader *in, void **state, pgml_err *err)
{
	return load_kinds(in, KIND_BIT(KIND_ARD), state, err);
}

static pgml_status
lars_load(pgml_reader *in, void **state, pgml_err *err)
{
	return load_kinds(in, KIND_BIT(KIND_LARS), state, err);
}

static pgml_status
lasso_lars_load(pgml_reader *in, void **state, pgml_err *err)
{
	return load_kinds(in, KIND_BIT(KIND_LASSO_LARS), state, err);
}

static pgml_status
omp_load(pgml_reader *in, void **state, pgml_err *err)
{
	return load_kinds(in, KIND_BIT(KIND_OMP), state, err);
}

static pgml_status
kernel_ridge_load(pgml_reader *in, void **state, pgml_err *err)
{
	return load_kinds(in, KIND_BIT(KIND_KERNEL_RIDGE), state, err);
}

static pgml_status
gaussian_process_load(pgml_reader *in, void **state, pgml_err *err)
{
	return load_kinds(in, KIND_BIT(KIND_GP_REGRESSOR) | KIND_BIT(KIND_GP_CLASSIFIER), state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * The tables
 * ------------------------------------------------------------------------------------------------- */

#define REGRESSION_ONLY PGML_TASK_BIT(PGML_TASK_REGRESSION)

const pgml_algorithm pgml_algo_bayesian_ridge = {
	.name = "bayesian_ridge",
	.tasks = REGRESSION_ONLY,
	.params_regression = bayesian_ridge_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = bayesian_ridge_fit,
	.n_outputs = bayes_n_outputs,
	.predict = bayes_predict,
	.params = bayes_params,
	.save = bayes_save,
	.load = bayesian_ridge_load,
	.free = bayes_free,
};

const pgml_algorithm pgml_algo_automatic_relevance_determination = {
	.name = "automatic_relevance_determination",
	.tasks = REGRESSION_ONLY,
	.params_regression = ard_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = ard_fit,
	.n_outputs = bayes_n_outputs,
	.predict = bayes_predict,
	.params = bayes_params,
	.save = bayes_save,
	.load = ard_load,
	.free = bayes_free,
};

const pgml_algorithm pgml_algo_least_angle = {
	.name = "least_angle",
	.tasks = REGRESSION_ONLY,
	.params_regression = lars_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = false,
	.fit = lars_fit,
	.n_outputs = bayes_n_outputs,
	.predict = bayes_predict,
	.params = bayes_params,
	.save = bayes_save,
	.load = lars_load,
	.free = bayes_free,
};

const pgml_algorithm pgml_algo_lasso_least_angle = {
	.name = "lasso_least_angle",
	.tasks = REGRESSION_ONLY,
	.params_regression = lasso_lars_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = false,
	.fit = lasso_lars_fit,
	.n_outputs = bayes_n_outputs,
	.predict = bayes_predict,
	.params = bayes_params,
	.save = bayes_save,
	.load = lasso_lars_load,
	.free = bayes_free,
};

const pgml_algorithm pgml_algo_orthogonal_matching_pursuit = {
	.name = "orthogonal_matching_pursuit",
	.tasks = REGRESSION_ONLY,
	.params_regression = omp_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = false,
	.fit = omp_fit,
	.n_outputs = bayes_n_outputs,
	.predict = bayes_predict,
	.params = bayes_params,
	.save = bayes_save,
	.load = omp_load,
	.free = bayes_free,
};

const pgml_algorithm pgml_algo_kernel_ridge = {
	.name = "kernel_ridge",
	.tasks = REGRESSION_ONLY,
	.params_regression = kernel_ridge_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = false,
	.fit = kernel_ridge_fit,
	.n_outputs = bayes_n_outputs,
	.predict = bayes_predict,
	.params = bayes_params,
	.save = bayes_save,
	.load = kernel_ridge_load,
	.free = bayes_free,
};

const pgml_algorithm pgml_algo_gaussian_process = {
	.name = "gaussian_process",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = gpr_params,
	.params_classification = gpc_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = true,
	.fit = gaussian_process_fit,
	.n_outputs = bayes_n_outputs,
	.predict = bayes_predict,
	.params = bayes_params,
	.save = bayes_save,
	.load = gaussian_process_load,
	.free = bayes_free,
};
