/*
 * linear_online.c — more linear models: stochastic gradient descent, the perceptron, passive-aggressive
 * learning, and the robust regressions Huber, quantile, RANSAC and Theil-Sen, standing for scikit-learn 1.2's
 * SGDRegressor, SGDClassifier, Perceptron, PassiveAggressiveRegressor, PassiveAggressiveClassifier,
 * HuberRegressor, QuantileRegressor, RANSACRegressor and TheilSenRegressor.
 *
 * Every fitted model is a linear_state of linear.c (linear_internal.h): k linear functions z = W x + b,
 * saved, loaded and predicted by linear.c's code. Regression fits one target (multi_target is false: the
 * model layer fits one model per target). Classifiers predict decision scores, never probabilities: two
 * classes give one function s and the scores [-s, s]; more classes give one function per class, each
 * separating its class from the others (one-vs-all), and the scores are the k functions. The tables set
 * has_proba = false even for SGDClassifier's log_loss and modified_huber losses (which have predict_proba in
 * sklearn): the flag is per table, not per fit.
 *
 * Stochastic gradient descent (SGDRegressor, SGDClassifier, Perceptron, PassiveAggressive*) follows
 * sklearn's plain SGD: per epoch the rows are visited in order, or in a new random order when shuffle is set
 * (our own generator: results match sklearn's in quality, not bit for bit); per row, with p = w·x + b and the
 * step counter t (1 at the first row):
 *     eta    constant: eta0 · optimal: 1 / (alpha (t0 + t - 1)) · invscaling: eta0 / t^power_t ·
 *            adaptive: eta0, divided by 5 whenever the stopping rule below fires while eta > 1e-6
 *     update -eta · dloss(p, y) (dloss clipped to ±1e12); passive-aggressive: PA-I min(C, loss / ||x||²)
 *            (rows with x = 0 are skipped), PA-II loss / (||x||² + 1 / 2C), signed by y (classification) or
 *            by y - p (regression)
 *     then   w *= max(0, 1 - (1 - l1_ratio) eta alpha) for l2/elasticnet (l1_ratio is 0 for l2), w += update x,
 *            b += update, the running average of (w, b) when averaging (from step `average` on), and for
 *            l1/elasticnet the cumulative L1 penalty of Tsuruoka et al. (2009) clipping weights at zero.
 * w is held as wscale · v so that the L2 shrinkage costs O(1), and the average lazily as (u + a v) / b
 * (Xu 2011), as sklearn holds it. Like sklearn's, that average also absorbs the later L1 clipping of v
 * (the difference from a plain average of the iterates only shows with averaging and an L1 penalty
 * together); keeping the same scheme keeps the results the same. t0 is sklearn's heuristic: with
 * typw = sqrt(1 / sqrt(alpha)), the first step is typw / max(1, dloss(-typw, 1)), i.e. t0 = 1 / (that · alpha).
 * With shuffle false nothing is random, and the arithmetic follows sklearn's order: the fits agree with
 * sklearn's to rounding (the tests check 1e-6).
 * After each epoch the fit stops once n_iter_no_change epochs in a row failed to improve: without early
 * stopping, the training loss summed over the epoch (its rows' losses before their updates) exceeded the
 * best sum so far minus tol · n_rows; with early_stopping, the score on a held-out validation_fraction
 * (ceil(fraction · n) rows, stratified by class for classifiers; r2 or accuracy of the current, non-averaged
 * weights) was below the best so far plus tol. tol null never stops early. With `average`, the averaged
 * weights are the model once at least `average` steps were made in all (epochs × rows), as sklearn does.
 * Non-finite weights after an epoch are an error (sklearn's "floating-point under-/overflow"). One-vs-all
 * classifiers fit their k binary problems independently (on the worker pool when there is one), each with
 * its own random stream drawn from the seed, so the result does not depend on the thread count.
 * Perceptron is this with loss perceptron (hinge at 0), learning_rate constant, eta0 1 and no penalty by
 * default, and random_state 0 by default as in sklearn (an explicit null uses the fit's seed).
 *
 * HuberRegressor minimizes sklearn's objective jointly in (w, b, sigma):
 *     n sigma + Σ_{|r| <= eps sigma} r² / sigma + Σ_{|r| > eps sigma} (2 eps |r| - sigma eps²) + alpha ||w||²,
 * r = y - w·x - b, from w = 0, b = 0, sigma = 1. sklearn runs L-BFGS-B with the bound sigma >= 10 eps_mach;
 * here sigma = exp(s) and L-BFGS (linear.c's, scipy's stopping rules: max |gradient| <= tol, relative
 * decrease <= 2.2e-9, max_iter iterations) runs on (w, b, s): the same minimizer, sigma > 0 by
 * construction. The objective is jointly convex in (w, b, sigma), so both reach the same point.
 *
 * QuantileRegressor solves the same linear program as sklearn's linprog formulation,
 *     min Σ q u_i + (1 - q) v_i + alpha n ||w||₁   s.t.   y - X w - b = u - v,  u, v >= 0,
 * exactly, by the bounded-variable primal simplex method on its dual
 *     max y'd   s.t.   Z'd = 0,   -(1 - q) <= d_i <= q (data rows),   -alpha n <= d_j <= alpha n (penalty)
 * where Z holds the rows (1, x_i) and one row e_j per penalized coefficient. The dual has one equality per
 * coefficient, so the basis is tiny ((p + 1)²) whatever the number of rows; its simplex multipliers are the
 * coefficients, and the reduced costs of the data rows are the residuals. The start: a few iterations of
 * reweighted least squares give an approximate fit, each data row starts at the bound its residual's sign
 * calls for (so that only the rows near the fitted plane remain to settle), penalty variables that can
 * balance their equation start in the basis (their coefficient at 0), and m artificial variables absorb the
 * rest; phase 1 drives them out. Then Dantzig pricing over the candidates of the last pricing (bound flips
 * of the entering variable need no new pricing), a two-pass Harris ratio test, Bland's rule after a run of
 * degenerate steps, and a fresh LU factorization of the basis every 64 pivots and at the end. The optimal
 * vertex is the one any exact LP solver (sklearn's highs) finds when the solution is unique; `solver` and
 * `solver_options` are accepted and do not change it.
 *
 * RANSACRegressor is sklearn's loop with LinearRegression (linear.c's least squares): random subsets of
 * min_samples rows (default n_features + 1), inliers are the rows whose loss (absolute or squared error)
 * is <= residual_threshold (default the median absolute deviation of y); the consensus with the most
 * inliers wins, ties going to the better r2 on the inliers; max_trials shrinks as sklearn's
 * _dynamic_max_trials says; stop_n_inliers, stop_score, max_skips as in sklearn; the final model is least
 * squares on the best consensus set. is_data_valid and is_model_valid must be null (no callables in JSON),
 * estimator null (LinearRegression); null stands for sklearn's infinite defaults of max_skips and
 * stop_n_inliers, stop_score.
 *
 * TheilSenRegressor takes every subset of n_subsamples rows (default n_features + 1 with the intercept)
 * when there are at most max_subpopulation of them, else max_subpopulation subsets drawn at random (each
 * without repetition), solves least squares on each (minimum norm, the intercept as a column of ones: an LU
 * solve for well-conditioned square systems, LAPACK dgelsd otherwise), and returns the spatial median of the
 * solutions by the modified Weiszfeld iteration of Vardi & Zhang (2000), started at their mean and stopped
 * when a step moves less than tol (or after max_iter steps). One-dimensional solutions take the plain median.
 */
#include "linear_internal.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "pgml/json.h"

#define MAX_DLOSS			1e12
#define WSCALE_MIN			1e-9
#define LP_REFACTOR			64
#define LP_BLAND_AFTER		100		/* consecutive degenerate pivots before Bland's rule */
#define IRLS_MAX_ITER		40		/* the quantile simplex's warm start */
#define IRLS_RTOL			1e-5
#define THEIL_SEN_MAX_WEIGHTS ((size_t) 1 << 27) /* subsets × dimensions */

static const char *const no_params[] = {NULL};

/* ---------------------------------------------------------------------------------------------------
 * Hyperparameters
 * ------------------------------------------------------------------------------------------------- */

static const char *const sgd_regressor_params[] = {
	"loss", "penalty", "alpha", "l1_ratio", "fit_intercept", "max_iter", "tol", "shuffle", "verbose", "epsilon",
	"random_state", "learning_rate", "eta0", "power_t", "early_stopping", "validation_fraction",
	"n_iter_no_change", "warm_start", "average", NULL
};

static const char *const sgd_classifier_params[] = {
	"loss", "penalty", "alpha", "l1_ratio", "fit_intercept", "max_iter", "tol", "shuffle", "verbose", "epsilon",
	"n_jobs", "random_state", "learning_rate", "eta0", "power_t", "early_stopping", "validation_fraction",
	"n_iter_no_change", "class_weight", "warm_start", "average", NULL
};

static const char *const perceptron_params[] = {
	"penalty", "alpha", "l1_ratio", "fit_intercept", "max_iter", "tol", "shuffle", "verbose", "eta0", "n_jobs",
	"random_state", "early_stopping", "validation_fraction", "n_iter_no_change", "class_weight", "warm_start",
	NULL
};

static const char *const pa_regressor_params[] = {
	"C", "fit_intercept", "max_iter", "tol", "early_stopping", "validation_fraction", "n_iter_no_change",
	"shuffle", "verbose", "loss", "epsilon", "random_state", "warm_start", "average", NULL
};

static const char *const pa_classifier_params[] = {
	"C", "fit_intercept", "max_iter", "tol", "early_stopping", "validation_fraction", "n_iter_no_change",
	"shuffle", "verbose", "loss", "n_jobs", "random_state", "warm_start", "class_weight", "average", NULL
};

static const char *const huber_params[] = {
	"epsilon", "max_iter", "alpha", "warm_start", "fit_intercept", "tol", NULL
};

static const char *const quantile_params[] = {
	"quantile", "alpha", "fit_intercept", "solver", "solver_options", NULL
};

static const char *const ransac_params[] = {
	"estimator", "min_samples", "residual_threshold", "is_data_valid", "is_model_valid", "max_trials",
	"max_skips", "stop_n_inliers", "stop_score", "stop_probability", "loss", "random_state", "base_estimator",
	NULL
};

static const char *const theil_sen_params[] = {
	"fit_intercept", "copy_X", "max_subpopulation", "n_subsamples", "max_iter", "tol", "random_state", "n_jobs",
	"verbose", NULL
};

/* tol and penalty: an explicit null means "none", not the default */
#define PD_TOL(v)			{"tol", DEF_REAL, v, NULL, true}
#define PD_PENALTY_L2		{"penalty", DEF_STRING, 0, "l2", true}

static const param_default sgd_regressor_defaults[] = {
	PD_STR("loss", "squared_error"), PD_PENALTY_L2, PD_REAL("alpha", 0.0001), PD_REAL("l1_ratio", 0.15),
	PD_BOOL("fit_intercept", true), PD_INT("max_iter", 1000), PD_TOL(0.001), PD_BOOL("shuffle", true),
	PD_INT("verbose", 0), PD_REAL("epsilon", 0.1), PD_NULL("random_state"), PD_STR("learning_rate", "invscaling"),
	PD_REAL("eta0", 0.01), PD_REAL("power_t", 0.25), PD_BOOL("early_stopping", false),
	PD_REAL("validation_fraction", 0.1), PD_INT("n_iter_no_change", 5), PD_BOOL("warm_start", false),
	PD_BOOL("average", false),
	PD_END
};

static const param_default sgd_classifier_defaults[] = {
	PD_STR("loss", "hinge"), PD_PENALTY_L2, PD_REAL("alpha", 0.0001), PD_REAL("l1_ratio", 0.15),
	PD_BOOL("fit_intercept", true), PD_INT("max_iter", 1000), PD_TOL(0.001), PD_BOOL("shuffle", true),
	PD_INT("verbose", 0), PD_REAL("epsilon", 0.1), PD_NULL("n_jobs"), PD_NULL("random_state"),
	PD_STR("learning_rate", "optimal"), PD_REAL("eta0", 0.0), PD_REAL("power_t", 0.5),
	PD_BOOL("early_stopping", false), PD_REAL("validation_fraction", 0.1), PD_INT("n_iter_no_change", 5),
	PD_NULL("class_weight"), PD_BOOL("warm_start", false), PD_BOOL("average", false),
	PD_END
};

static const param_default perceptron_defaults[] = {
	PD_NULL("penalty"), PD_REAL("alpha", 0.0001), PD_REAL("l1_ratio", 0.15), PD_BOOL("fit_intercept", true),
	PD_INT("max_iter", 1000), PD_TOL(0.001), PD_BOOL("shuffle", true), PD_INT("verbose", 0),
	PD_REAL("eta0", 1.0), PD_NULL("n_jobs"), {"random_state", DEF_INT, 0, NULL, true},
	PD_BOOL("early_stopping", false), PD_REAL("validation_fraction", 0.1), PD_INT("n_iter_no_change", 5),
	PD_NULL("class_weight"), PD_BOOL("warm_start", false),
	PD_END
};

static const param_default pa_regressor_defaults[] = {
	PD_REAL("C", 1.0), PD_BOOL("fit_intercept", true), PD_INT("max_iter", 1000), PD_TOL(0.001),
	PD_BOOL("early_stopping", false), PD_REAL("validation_fraction", 0.1), PD_INT("n_iter_no_change", 5),
	PD_BOOL("shuffle", true), PD_INT("verbose", 0), PD_STR("loss", "epsilon_insensitive"),
	PD_REAL("epsilon", 0.1), PD_NULL("random_state"), PD_BOOL("warm_start", false), PD_BOOL("average", false),
	PD_END
};

static const param_default pa_classifier_defaults[] = {
	PD_REAL("C", 1.0), PD_BOOL("fit_intercept", true), PD_INT("max_iter", 1000), PD_TOL(0.001),
	PD_BOOL("early_stopping", false), PD_REAL("validation_fraction", 0.1), PD_INT("n_iter_no_change", 5),
	PD_BOOL("shuffle", true), PD_INT("verbose", 0), PD_STR("loss", "hinge"), PD_NULL("n_jobs"),
	PD_NULL("random_state"), PD_BOOL("warm_start", false), PD_NULL("class_weight"), PD_BOOL("average", false),
	PD_END
};

static const param_default huber_defaults[] = {
	PD_REAL("epsilon", 1.35), PD_INT("max_iter", 100), PD_REAL("alpha", 0.0001), PD_BOOL("warm_start", false),
	PD_BOOL("fit_intercept", true), PD_REAL("tol", 1e-05),
	PD_END
};

static const param_default quantile_defaults[] = {
	PD_REAL("quantile", 0.5), PD_REAL("alpha", 1.0), PD_BOOL("fit_intercept", true), PD_STR("solver", "warn"),
	PD_NULL("solver_options"),
	PD_END
};

static const param_default ransac_defaults[] = {
	PD_NULL("estimator"), PD_NULL("min_samples"), PD_NULL("residual_threshold"), PD_NULL("is_data_valid"),
	PD_NULL("is_model_valid"), PD_INT("max_trials", 100), PD_NULL("max_skips"), PD_NULL("stop_n_inliers"),
	PD_NULL("stop_score"), PD_REAL("stop_probability", 0.99), PD_STR("loss", "absolute_error"),
	PD_NULL("random_state"), PD_STR("base_estimator", "deprecated"),
	PD_END
};

static const param_default theil_sen_defaults[] = {
	PD_BOOL("fit_intercept", true), PD_BOOL("copy_X", true), PD_REAL("max_subpopulation", 10000.0),
	PD_NULL("n_subsamples"), PD_INT("max_iter", 300), PD_REAL("tol", 0.001), PD_NULL("random_state"),
	PD_NULL("n_jobs"), PD_BOOL("verbose", false),
	PD_END
};

/* Whether key is present in hp with the value JSON null. */
static bool
hp_is_null(const json_t *hp, const char *key)
{
	const json_t *v = hp && json_is_object(hp) ? json_object_get(hp, key) : NULL;

	return v != NULL && json_is_null(v);
}

/* A real in the open interval (lo, hi) (hi may be INFINITY). */
static pgml_status
hp_open_interval(const json_t *hp, const char *key, double def, double lo, double hi, double *out, pgml_err *err)
{
	pgml_status rc = pgml_json_get_real(hp, key, def, lo, isinf(hi) ? DBL_MAX : hi, out, err);

	if (rc != PGML_OK)
		return rc;
	if (!(*out > lo && *out < hi))
	{
		if (isinf(hi))
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" must be greater than %g", key, lo);
		else
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" must be between %g and %g, exclusive", key, lo, hi);
		pgml_err_detail(err, "It is %g.", *out);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

/* A hyperparameter that must be JSON null (or missing): sklearn takes a Python object there. */
static pgml_status
hp_must_be_null(const json_t *hp, const char *key, const char *what, pgml_err *err)
{
	if (pgml_linear_hp_value(hp, key) == NULL)
		return PGML_OK;
	pgml_error(err, PGML_ERR_NOT_SUPPORTED, "hyperparameter \"%s\" must be null", key);
	pgml_err_detail(err, "%s", what);
	return PGML_ERR_NOT_SUPPORTED;
}

/* ---------------------------------------------------------------------------------------------------
 * Stochastic gradient descent
 * ------------------------------------------------------------------------------------------------- */

typedef enum sgd_loss
{
	LOSS_HINGE,					/* max(0, threshold - py): hinge (threshold 1), perceptron (0) */
	LOSS_SQUARED_HINGE,
	LOSS_LOG,
	LOSS_MODIFIED_HUBER,
	LOSS_SQUARED,
	LOSS_HUBER,
	LOSS_EPSILON_INSENSITIVE,
	LOSS_SQUARED_EPSILON_INSENSITIVE,
} sgd_loss;

typedef enum sgd_rate
{
	RATE_CONSTANT,
	RATE_OPTIMAL,
	RATE_INVSCALING,
	RATE_ADAPTIVE,
	RATE_PA1,
	RATE_PA2,
} sgd_rate;

typedef enum sgd_penalty
{
	PENALTY_NONE,
	PENALTY_L2,
	PENALTY_L1,
	PENALTY_ELASTICNET,
} sgd_penalty;

typedef struct sgd_config
{
	const char *name;			/* for messages */
	sgd_loss	loss;
	double		threshold;		/* hinge losses */
	double		epsilon;		/* huber, epsilon-insensitive losses */
	sgd_penalty penalty;
	double		alpha;
	double		l1_ratio;		/* the share of L1 in the penalty: 0 for l2, 1 for l1 */
	double		C;				/* passive-aggressive */
	bool		fit_intercept;
	int64_t		max_iter;
	double		tol;			/* -INFINITY: never stop early */
	bool		shuffle;
	sgd_rate	rate;
	double		eta0;
	double		power_t;
	bool		early_stopping;
	double		validation_fraction;
	int64_t		n_iter_no_change;
	int64_t		average;		/* 0: off; else averaging starts at that step */
	uint64_t	seed;
	bool		verbose;
} sgd_config;

/* One binary (or regression) problem: inputs, scratch allocated by the caller, results. */
typedef struct sgd_problem
{
	const sgd_config *cfg;
	const float *x;				/* n × p, row-major */
	const float *y;				/* targets, or class indices */
	int			pos_class;		/* classification: the class coded +1, the others -1; -1 for regression */
	size_t		n;
	size_t		p;
	const uint8_t *validation;	/* rows held out for early stopping, or NULL */
	size_t	   *order;			/* n */
	double	   *w;				/* p: the weights (scaled by wscale while running) */
	double	   *avg;			/* p: when averaging, a vector u with average = (u + avg_a v) / avg_b */
	double	   *q;				/* p: the L1 penalty applied to each weight so far, with an L1 penalty */
	double		intercept;
	double		avg_intercept;
	uint64_t	rng;
	int64_t		n_iter;
	int64_t		bad_epoch;		/* the epoch whose weights were not finite */
	pgml_status status;			/* PGML_OK, PGML_ERR_CANCELLED or PGML_ERR_DATA (diverged) */
} sgd_problem;

/* The loss of prediction p for target y. */
static inline double
sgd_loss_value(const sgd_config *c, double p, double y)
{
	double		z;

	switch (c->loss)
	{
		case LOSS_HINGE:
			z = p * y;
			return z <= c->threshold ? c->threshold - z : 0.0;
		case LOSS_SQUARED_HINGE:
			z = c->threshold - p * y;
			return z > 0 ? z * z : 0.0;
		case LOSS_LOG:
			z = p * y;
			if (z > 18.0)
				return exp(-z);
			if (z < -18.0)
				return -z;
			return log1p(exp(-z));
		case LOSS_MODIFIED_HUBER:
			z = p * y;
			if (z >= 1.0)
				return 0.0;
			if (z >= -1.0)
				return (1.0 - z) * (1.0 - z);
			return -4.0 * z;
		case LOSS_SQUARED:
			return 0.5 * (p - y) * (p - y);
		case LOSS_HUBER:
			z = fabs(p - y);
			return z <= c->epsilon ? 0.5 * z * z : c->epsilon * z - 0.5 * c->epsilon * c->epsilon;
		case LOSS_EPSILON_INSENSITIVE:
			z = fabs(y - p) - c->epsilon;
			return z > 0 ? z : 0.0;
		case LOSS_SQUARED_EPSILON_INSENSITIVE:
			z = fabs(y - p) - c->epsilon;
			return z > 0 ? z * z : 0.0;
	}
	return 0.0;
}

/* The derivative of the loss with respect to the prediction p. */
static inline double
sgd_dloss(const sgd_config *c, double p, double y)
{
	double		z;

	switch (c->loss)
	{
		case LOSS_HINGE:
			return p * y <= c->threshold ? -y : 0.0;
		case LOSS_SQUARED_HINGE:
			z = c->threshold - p * y;
			return z > 0 ? -2.0 * y * z : 0.0;
		case LOSS_LOG:
			z = p * y;
			if (z > 18.0)
				return -y * exp(-z);
			if (z < -18.0)
				return -y;
			return -y / (exp(z) + 1.0);
		case LOSS_MODIFIED_HUBER:
			z = p * y;
			if (z >= 1.0)
				return 0.0;
			if (z >= -1.0)
				return -2.0 * (1.0 - z) * y;
			return -4.0 * y;
		case LOSS_SQUARED:
			return p - y;
		case LOSS_HUBER:
			z = p - y;
			if (fabs(z) <= c->epsilon)
				return z;
			return z > 0 ? c->epsilon : -c->epsilon;
		case LOSS_EPSILON_INSENSITIVE:
			if (y - p > c->epsilon)
				return -1.0;
			if (p - y > c->epsilon)
				return 1.0;
			return 0.0;
		case LOSS_SQUARED_EPSILON_INSENSITIVE:
			z = y - p;
			if (z > c->epsilon)
				return -2.0 * (z - c->epsilon);
			if (z < -c->epsilon)
				return 2.0 * (-z - c->epsilon);
			return 0.0;
	}
	return 0.0;
}

/* A uniform integer in [0, bound) (bound >= 1), without modulo bias. */
static uint64_t
random_below(uint64_t *rng, uint64_t bound)
{
	uint64_t	limit = UINT64_MAX - UINT64_MAX % bound;
	uint64_t	r;

	do
		r = pgml_linear_random(rng);
	while (r >= limit);
	return r % bound;
}

/* The target of row i in problem pr: the regression target, or ±1. */
static inline double
sgd_target(const sgd_problem *pr, size_t i)
{
	if (pr->pos_class < 0)
		return pr->y[i];
	return (int) pr->y[i] == pr->pos_class ? 1.0 : -1.0;
}

/*
 * Folds wscale into the weights v (w = wscale · v), and when averaging, the lazy average (u + a v) / b into u
 * (a = 0, b = 1 afterwards).
 */
static void
sgd_fold_scale(sgd_problem *pr, double *wscale, double *avg_a, double *avg_b)
{
	if (pr->avg)
	{
		for (size_t j = 0; j < pr->p; j++)
			pr->avg[j] = (pr->avg[j] + *avg_a * pr->w[j]) / *avg_b;
		*avg_a = 0.0;
		*avg_b = 1.0;
	}
	for (size_t j = 0; j < pr->p; j++)
		pr->w[j] *= *wscale;
	*wscale = 1.0;
}

/* The validation score of weights w · wscale and b: r2 (regression) or accuracy (classification). */
static double
sgd_validation_score(const sgd_problem *pr, double wscale)
{
	size_t		p = pr->p;
	double		sum_y = 0;
	double		ss_res = 0;
	double		ss_tot = 0;
	size_t		count = 0;
	size_t		correct = 0;

	for (size_t i = 0; i < pr->n; i++)
	{
		if (!pr->validation[i])
			continue;
		count++;
		sum_y += sgd_target(pr, i);
	}
	if (count == 0)
		return 0.0;
	for (size_t i = 0; i < pr->n; i++)
	{
		const float *xi = pr->x + i * p;
		double		y;
		double		s = 0;

		if (!pr->validation[i])
			continue;
		y = sgd_target(pr, i);
		for (size_t j = 0; j < p; j++)
			s += pr->w[j] * xi[j];
		s = s * wscale + pr->intercept;
		if (pr->pos_class >= 0)
			correct += (s > 0 ? 1.0 : -1.0) == y;
		else
		{
			ss_res += (y - s) * (y - s);
			ss_tot += (y - sum_y / (double) count) * (y - sum_y / (double) count);
		}
	}
	if (pr->pos_class >= 0)
		return (double) correct / (double) count;
	if (ss_tot == 0)
		return ss_res == 0 ? 1.0 : 0.0;
	return 1.0 - ss_res / ss_tot;
}

/* Runs plain SGD on one problem (see the top of the file). Allocates nothing and never logs: it may run on
 * a pool thread. */
static void
sgd_run(sgd_problem *pr)
{
	const sgd_config *c = pr->cfg;
	size_t		n = pr->n;
	size_t		p = pr->p;
	bool		l2 = c->penalty == PENALTY_L2 || c->penalty == PENALTY_ELASTICNET;
	bool		l1 = c->penalty == PENALTY_L1 || c->penalty == PENALTY_ELASTICNET;
	bool		pa = c->rate == RATE_PA1 || c->rate == RATE_PA2;
	double		wscale = 1.0;
	double		avg_a = 0.0;
	double		avg_b = 1.0;
	double		t = 1.0;
	double		eta = c->eta0;
	double		optimal_init = 0;
	double		u = 0;
	double		best_loss = INFINITY;
	double		best_score = -INFINITY;
	int64_t		no_improvement = 0;
	size_t		poll_every = PGML_LINEAR_STOP_WORK / (4 * p + 16) + 1;
	size_t		until_poll = poll_every;

	pr->status = PGML_OK;
	pr->n_iter = 0;
	pr->intercept = 0;
	pr->avg_intercept = 0;
	memset(pr->w, 0, p * sizeof(double));
	if (pr->avg)
		memset(pr->avg, 0, p * sizeof(double));
	if (pr->q)
		memset(pr->q, 0, p * sizeof(double));
	for (size_t i = 0; i < n; i++)
		pr->order[i] = i;
	if (c->rate == RATE_OPTIMAL)
	{
		double		typw = sqrt(1.0 / sqrt(c->alpha));
		double		eta_first = typw / fmax(1.0, sgd_dloss(c, -typw, 1.0));

		optimal_init = 1.0 / (eta_first * c->alpha);
	}

	for (int64_t epoch = 0; epoch < c->max_iter; epoch++)
	{
		double		sumloss = 0;

		if (c->shuffle)
		{
			for (size_t i = n - 1; i > 0; i--)
			{
				size_t		j = (size_t) random_below(&pr->rng, (uint64_t) i + 1);
				size_t		tmp = pr->order[i];

				pr->order[i] = pr->order[j];
				pr->order[j] = tmp;
			}
		}
		for (size_t k = 0; k < n; k++)
		{
			size_t		i = pr->order[k];
			const float *xi = pr->x + i * p;
			double		y;
			double		dot = 0;
			double		pred;
			double		update;

			if (pr->validation && pr->validation[i])
				continue;
			if (--until_poll == 0)
			{
				if (pgml_should_stop())
				{
					pr->status = PGML_ERR_CANCELLED;
					return;
				}
				until_poll = poll_every;
			}
			y = sgd_target(pr, i);
			for (size_t j = 0; j < p; j++)
				dot += pr->w[j] * xi[j];
			pred = dot * wscale + pr->intercept;
			if (c->rate == RATE_OPTIMAL)
				eta = 1.0 / (c->alpha * (optimal_init + t - 1.0));
			else if (c->rate == RATE_INVSCALING)
				eta = c->eta0 / pow(t, c->power_t);
			if (!c->early_stopping)
				sumloss += sgd_loss_value(c, pred, y);
			if (pa)
			{
				double		sq = 0;

				for (size_t j = 0; j < p; j++)
					sq += (double) xi[j] * xi[j];
				if (c->rate == RATE_PA1)
				{
					if (sq == 0)
						continue;
					update = fmin(c->C, sgd_loss_value(c, pred, y) / sq);
				}
				else
					update = sgd_loss_value(c, pred, y) / (sq + 0.5 / c->C);
				if (pr->pos_class >= 0)
					update *= y;
				else if (y - pred < 0)
					update = -update;
			}
			else
			{
				double		dl = sgd_dloss(c, pred, y);

				if (dl < -MAX_DLOSS)
					dl = -MAX_DLOSS;
				else if (dl > MAX_DLOSS)
					dl = MAX_DLOSS;
				update = -eta * dl;
			}
			if (l2)
			{
				wscale *= fmax(0.0, 1.0 - (1.0 - c->l1_ratio) * eta * c->alpha);
				if (wscale < WSCALE_MIN)
					sgd_fold_scale(pr, &wscale, &avg_a, &avg_b);
			}
			if (update != 0.0)
			{
				double		step = update / wscale;

				for (size_t j = 0; j < p; j++)
					pr->w[j] += xi[j] * step;
			}
			if (c->fit_intercept)
				pr->intercept += update;
			if (c->average > 0 && (double) c->average <= t)
			{
				/*
				 * The running average of the weights, lazily (Xu 2011): average = (u + a v) / b. The update
				 * just added to v is taken back out of u, then the new weights enter with weight mu. Like
				 * sklearn's, this average also takes the later L1 truncations of v (at weight a / b).
				 */
				double		steps = t - (double) c->average + 1.0;
				double		mu = 1.0 / steps;

				if (update != 0.0)
				{
					double		back = avg_a * (update / wscale);

					for (size_t j = 0; j < p; j++)
						pr->avg[j] -= back * xi[j];
				}
				if (steps > 1.0)
					avg_b /= 1.0 - mu;
				avg_a += mu * avg_b * wscale;
				pr->avg_intercept += (pr->intercept - pr->avg_intercept) * mu;
			}
			if (l1)
			{
				/* cumulative L1 penalty: each weight has taken at most u, and never crosses zero */
				u += c->l1_ratio * eta * c->alpha;
				for (size_t j = 0; j < p; j++)
				{
					double		old = pr->w[j];

					if (wscale * old > 0)
						pr->w[j] = fmax(0.0, old - (u + pr->q[j]) / wscale);
					else if (wscale * old < 0)
						pr->w[j] = fmin(0.0, old + (u - pr->q[j]) / wscale);
					pr->q[j] += wscale * (pr->w[j] - old);
				}
			}
			t += 1.0;
		}
		pr->n_iter = epoch + 1;

		/* non-finite weights: diverged */
		{
			bool		finite = isfinite(pr->intercept) && isfinite(wscale) && isfinite(avg_a) && isfinite(avg_b);

			for (size_t j = 0; j < p && finite; j++)
				finite = isfinite(pr->w[j] * wscale);
			if (finite && pr->avg)
			{
				finite = isfinite(pr->avg_intercept);
				for (size_t j = 0; j < p && finite; j++)
					finite = isfinite(pr->avg[j]);
			}
			if (!finite)
			{
				pr->status = PGML_ERR_DATA;
				pr->bad_epoch = epoch + 1;
				return;
			}
		}

		/* the stopping rule */
		if (c->early_stopping)
		{
			double		score = sgd_validation_score(pr, wscale);

			if (c->tol > -INFINITY && score < best_score + c->tol)
				no_improvement++;
			else
				no_improvement = 0;
			if (score > best_score)
				best_score = score;
		}
		else
		{
			if (c->tol > -INFINITY && sumloss > best_loss - c->tol * (double) n)
				no_improvement++;
			else
				no_improvement = 0;
			if (sumloss < best_loss)
				best_loss = sumloss;
		}
		if (no_improvement >= c->n_iter_no_change)
		{
			if (c->rate == RATE_ADAPTIVE && eta > 1e-6)
			{
				eta /= 5.0;
				no_improvement = 0;
			}
			else
				break;
		}
	}
	sgd_fold_scale(pr, &wscale, &avg_a, &avg_b);
}

/* The problems of a one-vs-all fit, and one row order per worker. */
typedef struct sgd_batch
{
	sgd_problem *probs;
	size_t	   *orders;			/* workers × n */
	size_t		n;
} sgd_batch;

/* Work function: runs problems [begin, end). */
static void
sgd_work(void *ctx, size_t begin, size_t end, int worker)
{
	sgd_batch  *b = ctx;

	for (size_t i = begin; i < end; i++)
	{
		if (pgml_should_stop())
		{
			b->probs[i].status = PGML_ERR_CANCELLED;
			continue;
		}
		b->probs[i].order = b->orders + (size_t) worker * b->n;
		sgd_run(&b->probs[i]);
	}
}

/*
 * The rows held out for early stopping: ceil(fraction · n) of them, at random (regression) or stratified by
 * class (sklearn's ShuffleSplit / StratifiedShuffleSplit; the draw itself is ours).
 */
static pgml_status
validation_split(const sgd_config *c, const pgml_data *d, int n_classes, uint64_t *rng, uint8_t *mask,
				 pgml_err *err)
{
	size_t		n = d->n_rows;
	double		want = ceil(c->validation_fraction * (double) n);
	size_t		n_val = want >= (double) n ? n : (size_t) want;
	size_t		n_train = n - n_val;
	size_t	   *idx;
	pgml_status rc = PGML_OK;

	if (n_train == 0 || n_val == 0)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "validation_fraction %g leaves an empty %s set",
				   c->validation_fraction, n_val == 0 ? "validation" : "training");
		pgml_err_detail(err, "Splitting %zu rows gives %zu training and %zu validation rows.", n, n_train, n_val);
		pgml_err_hint(err, "Change validation_fraction, add rows, or set early_stopping to false.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	idx = pgml_malloc(n * sizeof(size_t));
	if (idx == NULL)
		return pgml_linear_oom(err);
	memset(mask, 0, n);
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	/* a random permutation of the rows */
	for (size_t i = n - 1; i > 0; i--)
	{
		size_t		j = (size_t) random_below(rng, (uint64_t) i + 1);
		size_t		tmp = idx[i];

		idx[i] = idx[j];
		idx[j] = tmp;
	}
	if (n_classes == 0)
	{
		for (size_t i = 0; i < n_val; i++)
			mask[idx[i]] = 1;
	}
	else
	{
		size_t	   *count = pgml_calloc((size_t) n_classes, sizeof(size_t));
		size_t	   *take = pgml_calloc((size_t) n_classes, sizeof(size_t));
		double	   *frac = pgml_calloc((size_t) n_classes, sizeof(double));
		size_t		assigned = 0;

		if (count == NULL || take == NULL || frac == NULL)
			rc = pgml_linear_oom(err);
		else if (n_val < (size_t) n_classes || n_train < (size_t) n_classes)
		{
			rc = pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "too few rows to hold out a stratified validation set");
			pgml_err_detail(err, "The %zu training and %zu validation rows must each be at least the number of "
							"classes, %d.", n_train, n_val, n_classes);
			pgml_err_hint(err, "Change validation_fraction, add rows, or set early_stopping to false.");
		}
		else
		{
			for (size_t i = 0; i < n; i++)
				count[(size_t) d->y[i]]++;
			for (int k = 0; k < n_classes && rc == PGML_OK; k++)
			{
				double		share = (double) n_val * (double) count[k] / (double) n;

				if (count[k] < 2)
				{
					rc = pgml_error(err, PGML_ERR_DATA, "a class has too few rows for a stratified validation set");
					pgml_err_detail(err, "Class %d has %zu rows; every class needs at least 2 with early stopping.",
									k, count[k]);
					break;
				}
				take[k] = (size_t) floor(share);
				frac[k] = share - floor(share);
				assigned += take[k];
			}
			/* the rows left over go to the classes with the largest fractional shares */
			while (rc == PGML_OK && assigned < n_val)
			{
				int			best = -1;

				for (int k = 0; k < n_classes; k++)
					if (take[k] < count[k] && (best < 0 || frac[k] > frac[best]))
						best = k;
				if (best < 0)
					break;
				take[best]++;
				frac[best] = -1.0;
				assigned++;
			}
			for (size_t i = 0; i < n && rc == PGML_OK; i++)
			{
				size_t		k = (size_t) d->y[idx[i]];

				if (take[k] > 0)
				{
					mask[idx[i]] = 1;
					take[k]--;
				}
			}
		}
		pgml_free(count);
		pgml_free(take);
		pgml_free(frac);
	}
	pgml_free(idx);
	return rc;
}

/*
 * Fits st (allocated with 1 function for regression and binary classification, n_classes functions
 * otherwise) by plain SGD with configuration c.
 */
static pgml_status
sgd_fit_state(const sgd_config *c, const pgml_fit_args *args, const pgml_data *d, linear_state *st,
			  pgml_err *err)
{
	size_t		n = d->n_rows;
	size_t		p = d->n_features;
	bool		classification = args->task == PGML_TASK_CLASSIFICATION;
	size_t		k = st->n_funcs;
	bool		averaging = c->average > 0;
	bool		l1 = c->penalty == PENALTY_L1 || c->penalty == PENALTY_ELASTICNET;
	uint64_t	rng = c->seed;
	uint8_t    *mask = NULL;
	sgd_problem *probs;
	size_t		per;
	double	   *mem = NULL;
	size_t	   *orders = NULL;
	size_t		workers;
	int64_t		n_iter = 0;
	pgml_status rc = PGML_OK;

	per = p * (1 + (averaging ? 1 : 0) + (l1 ? 1 : 0));
	workers = k > 1 ? (size_t) pgml_pool_size(args->pool) : 1;
	probs = pgml_calloc(k, sizeof(sgd_problem));
	mem = pgml_malloc(k * per * sizeof(double));
	orders = pgml_malloc(workers * n * sizeof(size_t));
	if (probs == NULL || mem == NULL || orders == NULL)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	if (c->early_stopping)
	{
		mask = pgml_malloc(n);
		if (mask == NULL)
		{
			rc = pgml_linear_oom(err);
			goto done;
		}
		rc = validation_split(c, d, classification ? args->n_classes : 0, &rng, mask, err);
		if (rc != PGML_OK)
			goto done;
	}
	for (size_t f = 0; f < k; f++)
	{
		sgd_problem *pr = &probs[f];
		double	   *m = mem + f * per;

		pr->cfg = c;
		pr->x = d->x;
		pr->y = d->y;
		pr->pos_class = !classification ? -1 : k == 1 ? 1 : (int) f;
		pr->n = n;
		pr->p = p;
		pr->validation = mask;
		pr->order = orders;
		pr->w = m;
		m += p;
		if (averaging)
		{
			pr->avg = m;
			m += p;
		}
		if (l1)
			pr->q = m;
		pr->rng = pgml_linear_random(&rng);
	}
	if (workers > 1)
	{
		sgd_batch	batch = {probs, orders, n};

		rc = pgml_parallel_for(args->pool, k, 1, sgd_work, &batch, err);
		if (rc != PGML_OK)
			goto done;
	}
	else
	{
		for (size_t f = 0; f < k; f++)
		{
			sgd_run(&probs[f]);
			if (probs[f].status != PGML_OK)
				break;
		}
	}
	for (size_t f = 0; f < k; f++)
	{
		if (probs[f].status == PGML_ERR_CANCELLED)
		{
			rc = pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
			goto done;
		}
	}
	for (size_t f = 0; f < k; f++)
	{
		if (probs[f].status != PGML_OK)
		{
			rc = pgml_error(err, PGML_ERR_DATA, "%s diverged", c->name);
			pgml_err_detail(err, "The weights overflowed at epoch %lld.", (long long) probs[f].bad_epoch);
			pgml_err_hint(err, "Scale the features (for instance to zero mean and unit variance), or lower eta0 "
						  "or alpha.");
			goto done;
		}
		if (probs[f].n_iter > n_iter)
			n_iter = probs[f].n_iter;
	}
	/* sklearn keeps the averaged weights once `average` steps were made (epochs × all rows) */
	if (averaging && (double) c->average > (double) n_iter * (double) n)
		averaging = false;
	for (size_t f = 0; f < k; f++)
	{
		const sgd_problem *pr = &probs[f];

		memcpy(st->coef + f * p, averaging ? pr->avg : pr->w, p * sizeof(double));
		st->intercept[f] = averaging ? pr->avg_intercept : pr->intercept;
	}
	if (c->tol > -INFINITY && n_iter == c->max_iter)
		pgml_log(PGML_LOG_WARNING, "%s: reached max_iter (%lld epochs) before the stopping criterion; "
				 "increase max_iter", c->name, (long long) n_iter);
	else
		pgml_log(c->verbose ? PGML_LOG_INFO : PGML_LOG_DEBUG, "%s: %lld epochs", c->name, (long long) n_iter);
done:
	pgml_free(probs);
	pgml_free(mem);
	pgml_free(orders);
	pgml_free(mask);
	return rc;
}

/* The verbose flag (0, false: quiet). */
static bool
hp_verbose(const json_t *hp)
{
	const json_t *v = pgml_linear_hp_value(hp, "verbose");

	return v != NULL && (json_is_true(v) || (json_is_integer(v) && json_integer_value(v) > 0));
}

/* tol: a real >= 0, or null for "never stop early" (-INFINITY). */
static pgml_status
hp_tol(const json_t *hp, double def, double *out, pgml_err *err)
{
	if (hp_is_null(hp, "tol"))
	{
		*out = -INFINITY;
		return PGML_OK;
	}
	return pgml_json_get_real(hp, "tol", def, 0.0, DBL_MAX, out, err);
}

/* average: false, true (1) or an integer >= 0. */
static pgml_status
hp_average(const json_t *hp, int64_t *out, pgml_err *err)
{
	const json_t *v = pgml_linear_hp_value(hp, "average");

	if (v != NULL && json_is_boolean(v))
	{
		*out = json_is_true(v) ? 1 : 0;
		return PGML_OK;
	}
	return pgml_json_get_int(hp, "average", 0, 0, INT64_MAX, out, err);
}

/* penalty: "l2", "l1", "elasticnet" or null (none). */
static pgml_status
hp_penalty(const json_t *hp, const char *def, sgd_penalty *out, pgml_err *err)
{
	static const char *const choices[] = {"l2", "l1", "elasticnet", NULL};
	const char *name;
	pgml_status rc;

	if (hp_is_null(hp, "penalty") || (def == NULL && pgml_linear_hp_value(hp, "penalty") == NULL))
	{
		*out = PENALTY_NONE;
		return PGML_OK;
	}
	if (pgml_linear_hp_value(hp, "penalty") != NULL && !json_is_string(pgml_linear_hp_value(hp, "penalty")))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"penalty\"");
		pgml_err_detail(err, "It must be \"l2\", \"l1\", \"elasticnet\" or null.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if ((rc = pgml_linear_hp_choice(hp, "penalty", def ? def : "l2", choices, &name, err)) != PGML_OK)
	{
		pgml_err_detail(err, "Valid values are \"l2\", \"l1\", \"elasticnet\" and null.");
		return rc;
	}
	*out = strcmp(name, "l2") == 0 ? PENALTY_L2 : strcmp(name, "l1") == 0 ? PENALTY_L1 : PENALTY_ELASTICNET;
	return PGML_OK;
}

/* The hyperparameters every SGD-like estimator has: fit_intercept, max_iter, tol, shuffle, early stopping,
 * random_state, and the inert ones. */
static pgml_status
parse_sgd_common(const json_t *hp, bool classifier, uint64_t seed_default, sgd_config *c, pgml_err *err)
{
	pgml_status rc;

	if ((rc = pgml_json_get_bool(hp, "fit_intercept", true, &c->fit_intercept, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "max_iter", 1000, 1, INT64_MAX, &c->max_iter, err)) != PGML_OK ||
		(rc = hp_tol(hp, 1e-3, &c->tol, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "shuffle", true, &c->shuffle, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "early_stopping", false, &c->early_stopping, err)) != PGML_OK ||
		(rc = hp_open_interval(hp, "validation_fraction", 0.1, 0.0, 1.0, &c->validation_fraction,
							   err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "n_iter_no_change", 5, 1, INT64_MAX, &c->n_iter_no_change, err)) != PGML_OK ||
		(rc = pgml_linear_hp_seed(hp, seed_default, &c->seed, err)) != PGML_OK ||
		(rc = pgml_linear_hp_check_inert(hp, err)) != PGML_OK)
		return rc;
	if (classifier && (rc = pgml_linear_hp_class_weight(hp, err)) != PGML_OK)
		return rc;
	c->verbose = hp_verbose(hp);
	return PGML_OK;
}

/* The hyperparameters of SGDRegressor and SGDClassifier. */
static pgml_status
parse_sgd(const json_t *hp, bool classifier, uint64_t seed, sgd_config *c, pgml_err *err)
{
	static const char *const reg_losses[] = {
		"squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive", NULL
	};
	static const char *const cls_losses[] = {
		"hinge", "log_loss", "log", "modified_huber", "squared_hinge", "perceptron", "squared_error", "huber",
		"epsilon_insensitive", "squared_epsilon_insensitive", NULL
	};
	static const char *const rates[] = {"constant", "optimal", "invscaling", "adaptive", NULL};
	const char *loss;
	const char *rate;
	pgml_status rc;

	memset(c, 0, sizeof(*c));
	c->name = classifier ? "SGD classifier" : "SGD regressor";
	if ((rc = pgml_linear_hp_choice(hp, "loss", classifier ? "hinge" : "squared_error",
									classifier ? cls_losses : reg_losses, &loss, err)) != PGML_OK ||
		(rc = hp_penalty(hp, "l2", &c->penalty, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "alpha", 0.0001, 0.0, DBL_MAX, &c->alpha, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "l1_ratio", 0.15, 0.0, 1.0, &c->l1_ratio, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "epsilon", 0.1, 0.0, DBL_MAX, &c->epsilon, err)) != PGML_OK ||
		(rc = pgml_linear_hp_choice(hp, "learning_rate", classifier ? "optimal" : "invscaling", rates, &rate,
									err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "eta0", classifier ? 0.0 : 0.01, 0.0, DBL_MAX, &c->eta0, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "power_t", classifier ? 0.5 : 0.25, -DBL_MAX, DBL_MAX, &c->power_t,
								 err)) != PGML_OK ||
		(rc = hp_average(hp, &c->average, err)) != PGML_OK ||
		(rc = parse_sgd_common(hp, classifier, seed, c, err)) != PGML_OK)
		return rc;
	if (strcmp(loss, "hinge") == 0 || strcmp(loss, "perceptron") == 0)
	{
		c->loss = LOSS_HINGE;
		c->threshold = strcmp(loss, "hinge") == 0 ? 1.0 : 0.0;
	}
	else if (strcmp(loss, "squared_hinge") == 0)
	{
		c->loss = LOSS_SQUARED_HINGE;
		c->threshold = 1.0;
	}
	else if (strcmp(loss, "log_loss") == 0 || strcmp(loss, "log") == 0)
		c->loss = LOSS_LOG;
	else if (strcmp(loss, "modified_huber") == 0)
		c->loss = LOSS_MODIFIED_HUBER;
	else if (strcmp(loss, "squared_error") == 0)
		c->loss = LOSS_SQUARED;
	else if (strcmp(loss, "huber") == 0)
		c->loss = LOSS_HUBER;
	else if (strcmp(loss, "epsilon_insensitive") == 0)
		c->loss = LOSS_EPSILON_INSENSITIVE;
	else
		c->loss = LOSS_SQUARED_EPSILON_INSENSITIVE;
	c->rate = strcmp(rate, "constant") == 0 ? RATE_CONSTANT : strcmp(rate, "optimal") == 0 ? RATE_OPTIMAL :
		strcmp(rate, "invscaling") == 0 ? RATE_INVSCALING : RATE_ADAPTIVE;
	if (c->rate != RATE_OPTIMAL && !(c->eta0 > 0))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"eta0\" must be positive with learning_rate \"%s\"", rate);
		pgml_err_detail(err, "It is %g.", c->eta0);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (c->rate == RATE_OPTIMAL && !(c->alpha > 0))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"alpha\" must be positive with learning_rate \"optimal\"");
		pgml_err_detail(err, "The optimal learning rate is computed from alpha.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	c->l1_ratio = c->penalty == PENALTY_L2 ? 0.0 : c->penalty == PENALTY_L1 ? 1.0 : c->l1_ratio;
	return PGML_OK;
}

/* The hyperparameters of Perceptron: SGD with the perceptron loss at a constant rate. */
static pgml_status
parse_perceptron(const json_t *hp, uint64_t seed, sgd_config *c, pgml_err *err)
{
	pgml_status rc;

	memset(c, 0, sizeof(*c));
	c->name = "perceptron";
	c->loss = LOSS_HINGE;
	c->threshold = 0.0;
	c->rate = RATE_CONSTANT;
	/* sklearn's Perceptron defaults random_state to 0; an explicit null uses the fit's seed */
	if ((rc = hp_penalty(hp, NULL, &c->penalty, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "alpha", 0.0001, 0.0, DBL_MAX, &c->alpha, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "l1_ratio", 0.15, 0.0, 1.0, &c->l1_ratio, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "eta0", 1.0, 0.0, DBL_MAX, &c->eta0, err)) != PGML_OK ||
		(rc = parse_sgd_common(hp, true, hp_is_null(hp, "random_state") ? seed : 0, c, err)) != PGML_OK)
		return rc;
	if (!(c->eta0 > 0))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"eta0\" must be positive");
		pgml_err_detail(err, "It is %g.", c->eta0);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	c->l1_ratio = c->penalty == PENALTY_L2 ? 0.0 : c->penalty == PENALTY_L1 ? 1.0 : c->l1_ratio;
	return PGML_OK;
}

/* The hyperparameters of PassiveAggressiveRegressor and PassiveAggressiveClassifier. */
static pgml_status
parse_passive_aggressive(const json_t *hp, bool classifier, uint64_t seed, sgd_config *c, pgml_err *err)
{
	static const char *const reg_losses[] = {"epsilon_insensitive", "squared_epsilon_insensitive", NULL};
	static const char *const cls_losses[] = {"hinge", "squared_hinge", NULL};
	const char *loss;
	pgml_status rc;

	memset(c, 0, sizeof(*c));
	c->name = classifier ? "passive-aggressive classifier" : "passive-aggressive regressor";
	c->penalty = PENALTY_NONE;
	c->alpha = 1.0;
	c->eta0 = 1.0;
	if ((rc = pgml_linear_hp_positive(hp, "C", 1.0, &c->C, err)) != PGML_OK ||
		(rc = pgml_linear_hp_choice(hp, "loss", classifier ? "hinge" : "epsilon_insensitive",
									classifier ? cls_losses : reg_losses, &loss, err)) != PGML_OK ||
		(!classifier &&
		 (rc = pgml_json_get_real(hp, "epsilon", 0.1, 0.0, DBL_MAX, &c->epsilon, err)) != PGML_OK) ||
		(rc = hp_average(hp, &c->average, err)) != PGML_OK ||
		(rc = parse_sgd_common(hp, classifier, seed, c, err)) != PGML_OK)
		return rc;
	/* PA-I for hinge / epsilon-insensitive, PA-II for the squared ones; the loss itself stays unsquared */
	c->rate = strcmp(loss, "hinge") == 0 || strcmp(loss, "epsilon_insensitive") == 0 ? RATE_PA1 : RATE_PA2;
	c->loss = classifier ? LOSS_HINGE : LOSS_EPSILON_INSENSITIVE;
	c->threshold = 1.0;
	return PGML_OK;
}

/* A state for an SGD-like fit: one function (regression, two classes) or one per class. */
static linear_state *
sgd_state_new(linear_kind kind, const pgml_fit_args *args, const pgml_data *d)
{
	if (args->task == PGML_TASK_REGRESSION)
		return pgml_linear_state_new(kind, PGML_TASK_REGRESSION, OUT_LINEAR, d->n_features, 1, 1);
	if (args->n_classes == 2)
		return pgml_linear_state_new(kind, PGML_TASK_CLASSIFICATION, OUT_BINARY_SCORE, d->n_features, 1, 2);
	return pgml_linear_state_new(kind, PGML_TASK_CLASSIFICATION, OUT_LINEAR, d->n_features,
								 (size_t) args->n_classes, (size_t) args->n_classes);
}

/* Regression fits take one target. */
static pgml_status
check_one_target(const pgml_algorithm *algo, const pgml_fit_args *args, const pgml_data *d, pgml_err *err)
{
	if (args->task == PGML_TASK_REGRESSION && d->n_targets != 1)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "algorithm %s fits one target at a time", algo->name);
		pgml_err_detail(err, "The data have %zu targets.", d->n_targets);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

/* The common body of the SGD-like fits. */
static pgml_status
sgd_like_fit(const pgml_algorithm *algo, linear_kind kind, const pgml_fit_args *args, const pgml_data *train,
			 void **state, pgml_err *err)
{
	bool		classifier = args && args->task == PGML_TASK_CLASSIFICATION;
	sgd_config	c;
	linear_state *st;
	const param_default *defaults;
	pgml_status rc;

	if ((rc = pgml_linear_fit_begin(algo, args, train, state, err)) != PGML_OK ||
		(rc = check_one_target(algo, args, train, err)) != PGML_OK)
		return rc;
	switch (kind)
	{
		case KIND_SGD:
			rc = parse_sgd(args->hyperparams, classifier, args->seed, &c, err);
			defaults = classifier ? sgd_classifier_defaults : sgd_regressor_defaults;
			break;
		case KIND_PERCEPTRON:
			rc = parse_perceptron(args->hyperparams, args->seed, &c, err);
			defaults = perceptron_defaults;
			break;
		default:
			rc = parse_passive_aggressive(args->hyperparams, classifier, args->seed, &c, err);
			defaults = classifier ? pa_classifier_defaults : pa_regressor_defaults;
			break;
	}
	if (rc != PGML_OK)
		return rc;
	st = sgd_state_new(kind, args, train);
	if (st == NULL)
		return pgml_linear_oom(err);
	rc = sgd_fit_state(&c, args, train, st, err);
	if (rc != PGML_OK)
	{
		pgml_linear_free(st);
		return rc;
	}
	return pgml_linear_fit_end(st, args->hyperparams, defaults, state, err);
}

/* Fits SGDRegressor or SGDClassifier. */
static pgml_status
sgd_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return sgd_like_fit(&pgml_algo_stochastic_gradient_descent, KIND_SGD, args, train, state, err);
}

/* Fits Perceptron. */
static pgml_status
perceptron_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return sgd_like_fit(&pgml_algo_perceptron, KIND_PERCEPTRON, args, train, state, err);
}

/* Fits PassiveAggressiveRegressor or PassiveAggressiveClassifier. */
static pgml_status
passive_aggressive_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return sgd_like_fit(&pgml_algo_passive_aggressive, KIND_PASSIVE_AGGRESSIVE, args, train, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * Huber
 * ------------------------------------------------------------------------------------------------- */

typedef struct huber_problem
{
	const double *x;			/* n × p, row-major */
	const double *y;
	size_t		n;
	size_t		p;
	bool		intercept;
	double		epsilon;
	double		alpha;
	double	   *r;				/* n: residuals, then the gradient weights */
} huber_problem;

/* sklearn's Huber objective in (w, b, s = log sigma) and its gradient. */
static pgml_status
huber_objective(void *ctx, const double *theta, double *f, double *grad, pgml_err *err)
{
	huber_problem *hp = ctx;
	size_t		n = hp->n;
	size_t		p = hp->p;
	size_t		ib = p;
	size_t		is = p + (hp->intercept ? 1 : 0);
	double		sigma = exp(theta[is]);
	double		b = hp->intercept ? theta[ib] : 0.0;
	double		eps = hp->epsilon;
	double		loss = 0;
	double		sq = 0;
	double		n_out = 0;
	double		gb = 0;

	(void) err;
	if (!isfinite(sigma) || sigma <= 0)
	{
		*f = INFINITY;
		memset(grad, 0, (is + 1) * sizeof(double));
		return PGML_OK;
	}
	/* r = y - X w - b */
	memcpy(hp->r, hp->y, n * sizeof(double));
	cblas_dgemv(CblasRowMajor, CblasNoTrans, (int) n, (int) p, -1.0, hp->x, (int) p, theta, 1, 1.0, hp->r, 1);
	for (size_t i = 0; i < n; i++)
	{
		double		r = hp->r[i] - b;
		double		a = fabs(r);

		if (a > eps * sigma)
		{
			loss += 2.0 * eps * a - sigma * eps * eps;
			n_out += 1.0;
			hp->r[i] = -2.0 * eps * (r < 0 ? -1.0 : 1.0);
		}
		else
		{
			sq += r * r;
			hp->r[i] = -2.0 * r / sigma;
		}
		gb += hp->r[i];
	}
	loss += (double) n * sigma + sq / sigma;
	/* dL/dw = X' g + 2 alpha w, with g_i the derivative with respect to the prediction */
	cblas_dgemv(CblasRowMajor, CblasTrans, (int) n, (int) p, 1.0, hp->x, (int) p, hp->r, 1, 0.0, grad, 1);
	for (size_t j = 0; j < p; j++)
	{
		loss += hp->alpha * theta[j] * theta[j];
		grad[j] += 2.0 * hp->alpha * theta[j];
	}
	if (hp->intercept)
		grad[ib] = gb;
	grad[is] = sigma * ((double) n - n_out * eps * eps - sq / (sigma * sigma));
	*f = loss;
	return pgml_check_stop(err);
}

/* Fits HuberRegressor. */
static pgml_status
huber_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	const json_t *hpj;
	huber_problem hp;
	double		tol;
	int64_t		max_iter;
	bool		warm_start;
	int64_t		n_iter = 0;
	bool		converged = false;
	double	   *x = NULL;
	double	   *y = NULL;
	double	   *theta = NULL;
	size_t		n;
	size_t		p;
	size_t		dim;
	linear_state *st = NULL;
	pgml_status rc;

	if ((rc = pgml_linear_fit_begin(&pgml_algo_huber, args, train, state, err)) != PGML_OK ||
		(rc = check_one_target(&pgml_algo_huber, args, train, err)) != PGML_OK)
		return rc;
	hpj = args->hyperparams;
	memset(&hp, 0, sizeof(hp));
	if ((rc = pgml_json_get_real(hpj, "epsilon", 1.35, 1.0, DBL_MAX, &hp.epsilon, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hpj, "max_iter", 100, 0, INT64_MAX, &max_iter, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hpj, "alpha", 0.0001, 0.0, DBL_MAX, &hp.alpha, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hpj, "warm_start", false, &warm_start, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hpj, "fit_intercept", true, &hp.intercept, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hpj, "tol", 1e-05, 0.0, DBL_MAX, &tol, err)) != PGML_OK)
		return rc;
	n = train->n_rows;
	p = train->n_features;
	dim = p + (hp.intercept ? 1 : 0) + 1;
	x = pgml_malloc(n * p * sizeof(double));
	y = pgml_malloc(n * sizeof(double));
	hp.r = pgml_malloc(n * sizeof(double));
	theta = pgml_calloc(dim, sizeof(double));
	st = pgml_linear_state_new(KIND_HUBER, PGML_TASK_REGRESSION, OUT_LINEAR, p, 1, 1);
	if (x == NULL || y == NULL || hp.r == NULL || theta == NULL || st == NULL)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	for (size_t i = 0; i < n * p; i++)
		x[i] = train->x[i];
	for (size_t i = 0; i < n; i++)
		y[i] = train->y[i];
	hp.x = x;
	hp.y = y;
	hp.n = n;
	hp.p = p;
	/* w = 0, b = 0, sigma = 1 (s = 0), as sklearn starts */
	rc = pgml_linear_lbfgs(huber_objective, &hp, dim, theta, max_iter, tol, &n_iter, &converged, err);
	if (rc != PGML_OK)
		goto done;
	for (size_t j = 0; j < dim; j++)
	{
		if (!isfinite(theta[j]))
		{
			rc = pgml_error(err, PGML_ERR_DATA, "Huber regression produced non-finite coefficients");
			pgml_err_hint(err, "Scale the features to a smaller range.");
			goto done;
		}
	}
	memcpy(st->coef, theta, p * sizeof(double));
	st->intercept[0] = hp.intercept ? theta[p] : 0.0;
	if (!converged)
		pgml_log(PGML_LOG_WARNING, "Huber regression did not converge in %lld iterations; increase max_iter or "
				 "scale the features", (long long) n_iter);
	else
		pgml_log(PGML_LOG_DEBUG, "Huber regression: L-BFGS converged in %lld iterations, scale %g",
				 (long long) n_iter, exp(theta[dim - 1]));
	rc = pgml_linear_fit_end(st, args->hyperparams, huber_defaults, state, err);
	st = NULL;
done:
	pgml_linear_free(st);
	pgml_free(x);
	pgml_free(y);
	pgml_free(hp.r);
	pgml_free(theta);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Quantile regression: the simplex method on the dual linear program
 * ------------------------------------------------------------------------------------------------- */

typedef enum lp_where
{
	AT_LOWER,
	AT_UPPER,
	BASIC,
} lp_where;

/*
 * The dual problem: maximize c'd subject to A d = 0, lo <= d <= up. Variables: n data rows (column z_i =
 * (1, x_i) or x_i, cost y_i), n_pen penalty rows (column e_(off + j), cost 0), m artificials (column
 * art_sign[k] e_k).
 */
typedef struct lp_problem
{
	size_t		n;				/* data rows */
	size_t		m;				/* equations = coefficients (+ intercept) */
	size_t		off;			/* 1 with an intercept: coefficient j is equation off + j */
	size_t		n_pen;			/* penalty variables: p, or 0 without penalty */
	size_t		nv;				/* all variables: n + n_pen + m */
	const double *z;			/* n × m, row-major */
	const double *y;			/* n */
	double	   *lo;				/* nv */
	double	   *up;				/* nv */
	double	   *val;			/* nv: the values of nonbasic variables (basic: see xb) */
	uint8_t    *where;			/* nv: lp_where */
	double	   *art_sign;		/* m */
	size_t	   *head;			/* m: the variable in each basis position */
	double	   *binv;			/* m × m: the inverse of the basis, row-major */
	double	   *xb;				/* m: the basic values */
	double	   *pi;				/* m: the simplex multipliers */
	double	   *rc;				/* nv: reduced costs */
	size_t	   *cand;			/* nv: the variables eligible to enter at the last pricing, ascending */
	size_t		n_cand;
	double	   *alpha;			/* m: B^-1 a_q */
	double	   *work;			/* m × m scratch */
	lapack_int *ipiv;			/* m */
	bool		phase1;
	double		tol_opt;
	double		tol_feas;
	size_t		work_acc;
} lp_problem;

/* The cost of variable v in the current phase. */
static inline double
lp_cost(const lp_problem *lp, size_t v)
{
	if (lp->phase1)
		return v >= lp->n + lp->n_pen ? -1.0 : 0.0;
	return v < lp->n ? lp->y[v] : 0.0;
}

/* out = B^-1 a_v. */
static void
lp_ftran(const lp_problem *lp, size_t v, double *out)
{
	size_t		m = lp->m;

	if (v < lp->n)
		cblas_dgemv(CblasRowMajor, CblasNoTrans, (int) m, (int) m, 1.0, lp->binv, (int) m, lp->z + v * m, 1, 0.0,
					out, 1);
	else
	{
		size_t		row;
		double		s = 1.0;

		if (v < lp->n + lp->n_pen)
			row = lp->off + (v - lp->n);
		else
		{
			row = v - lp->n - lp->n_pen;
			s = lp->art_sign[row];
		}
		for (size_t i = 0; i < m; i++)
			out[i] = s * lp->binv[i * m + row];
	}
}

/* Writes column a_v into out (m values). */
static void
lp_column(const lp_problem *lp, size_t v, double *out)
{
	size_t		m = lp->m;

	if (v < lp->n)
	{
		memcpy(out, lp->z + v * m, m * sizeof(double));
		return;
	}
	memset(out, 0, m * sizeof(double));
	if (v < lp->n + lp->n_pen)
		out[lp->off + (v - lp->n)] = 1.0;
	else
		out[v - lp->n - lp->n_pen] = lp->art_sign[v - lp->n - lp->n_pen];
}

/* Whether nonbasic variable v may enter, improving the objective, given its reduced cost. */
static inline bool
lp_eligible(const lp_problem *lp, size_t v)
{
	double		d = lp->rc[v];

	if (lp->where[v] == BASIC || !(lp->up[v] > lp->lo[v]))
		return false;
	return (lp->where[v] == AT_LOWER && d > lp->tol_opt) || (lp->where[v] == AT_UPPER && d < -lp->tol_opt);
}

/* π = c_B' B^-1, then the reduced costs of every nonbasic variable and the candidates to enter. */
static void
lp_price(lp_problem *lp)
{
	size_t		m = lp->m;
	size_t		n = lp->n;

	memset(lp->pi, 0, m * sizeof(double));
	for (size_t k = 0; k < m; k++)
	{
		double		cb = lp_cost(lp, lp->head[k]);

		if (cb != 0)
			cblas_daxpy((int) m, cb, lp->binv + k * m, 1, lp->pi, 1);
	}
	/* data rows: c - Z π */
	for (size_t i = 0; i < n; i++)
		lp->rc[i] = lp->phase1 ? 0.0 : lp->y[i];
	cblas_dgemv(CblasRowMajor, CblasNoTrans, (int) n, (int) m, -1.0, lp->z, (int) m, lp->pi, 1, 1.0, lp->rc, 1);
	for (size_t j = 0; j < lp->n_pen; j++)
		lp->rc[n + j] = -lp->pi[lp->off + j];
	for (size_t k = 0; k < m; k++)
		lp->rc[n + lp->n_pen + k] = lp_cost(lp, n + lp->n_pen + k) - lp->art_sign[k] * lp->pi[k];
	lp->work_acc += 2 * n * m;
	/* the candidates to enter (branch-free: this runs over every variable at every pricing); bound flips only
	 * make some of them ineligible until the next pricing */
	{
		const double *restrict rc = lp->rc;
		const double *restrict lo = lp->lo;
		const double *restrict up = lp->up;
		const uint8_t *restrict where = lp->where;
		size_t	   *restrict cand = lp->cand;
		double		tol = lp->tol_opt;
		size_t		count = 0;

		for (size_t v = 0; v < lp->nv; v++)
		{
			double		gain = where[v] == AT_LOWER ? rc[v] : -rc[v];

			cand[count] = v;
			count += (size_t) ((where[v] != BASIC) & (gain > tol) & (up[v] > lo[v]));
		}
		lp->n_cand = count;
	}
}

/*
 * Refactors the basis: B^-1 from scratch (LU), then the basic values from the nonbasic ones (B x_B = -N x_N).
 * Returns false when the basis is singular.
 */
static bool
lp_refactor(lp_problem *lp)
{
	size_t		m = lp->m;
	double	   *r = lp->alpha;
	double	   *col = lp->pi;
	lapack_int	info;

	/* work = B (column-major: column k is a_head[k]) */
	for (size_t k = 0; k < m; k++)
		lp_column(lp, lp->head[k], lp->work + k * m);
	info = LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, (lapack_int) m, (lapack_int) m, lp->work, (lapack_int) m,
							   lp->ipiv);
	if (info != 0)
		return false;
	/* B^-1 row-major = (B^-1)' column-major: solve B' X = I, X = B^-T, whose column-major storage is B^-1
	 * in row-major order */
	memset(lp->binv, 0, m * m * sizeof(double));
	for (size_t i = 0; i < m; i++)
		lp->binv[i * m + i] = 1.0;
	info = LAPACKE_dgetrs_work(LAPACK_COL_MAJOR, 'T', (lapack_int) m, (lapack_int) m, lp->work, (lapack_int) m,
							   lp->ipiv, lp->binv, (lapack_int) m);
	if (info != 0)
		return false;
	/* r = N x_N = Σ over nonbasic nonzero values of a_v x_v */
	memset(r, 0, m * sizeof(double));
	for (size_t v = 0; v < lp->nv; v++)
	{
		if (lp->where[v] == BASIC || lp->val[v] == 0)
			continue;
		lp_column(lp, v, col);
		cblas_daxpy((int) m, lp->val[v], col, 1, r, 1);
	}
	/* x_B = -B^-1 r */
	cblas_dgemv(CblasRowMajor, CblasNoTrans, (int) m, (int) m, -1.0, lp->binv, (int) m, r, 1, 0.0, lp->xb, 1);
	lp->work_acc += lp->nv * m;
	return true;
}

/*
 * Runs the simplex iterations of the current phase until no variable may enter. *pivots counts basis
 * changes (for refactoring), *iters everything; max_iters bounds both phases.
 */
static pgml_status
lp_iterate(lp_problem *lp, size_t *iters, size_t max_iters, pgml_err *err)
{
	size_t		m = lp->m;
	size_t		since_refactor = 0;
	size_t		flips = 0;
	size_t		degenerate = 0;
	bool		priced = false;
	pgml_status rc;

	for (;;)
	{
		size_t		enter = SIZE_MAX;
		double		best = 0;
		bool		bland = degenerate >= LP_BLAND_AFTER;
		double		dir;
		double		theta;
		double		bound_gap;
		double		harris = INFINITY;
		size_t		leave = SIZE_MAX;
		double		leave_alpha = 0;

		if (*iters >= max_iters)
		{
			pgml_error(err, PGML_ERR_DATA, "quantile regression did not converge");
			pgml_err_detail(err, "The simplex method made %zu iterations.", *iters);
			return PGML_ERR_DATA;
		}
		if (!priced)
		{
			lp_price(lp);
			priced = true;
		}
		if ((rc = pgml_linear_poll_stop(&lp->work_acc, 0, err)) != PGML_OK)
			return rc;
		/* entering: the largest reduced cost (Dantzig), or the first eligible (Bland) */
		for (size_t ci = 0; ci < lp->n_cand; ci++)
		{
			size_t		v = lp->cand[ci];

			if (!lp_eligible(lp, v))
				continue;
			if (bland)
			{
				enter = v;
				break;
			}
			if (fabs(lp->rc[v]) > best)
			{
				best = fabs(lp->rc[v]);
				enter = v;
			}
		}
		if (enter == SIZE_MAX)
		{
			/* optimal for this phase: confirm on a fresh factorization */
			if (since_refactor == 0)
				return PGML_OK;
			if (!lp_refactor(lp))
				return pgml_error(err, PGML_ERR_INTERNAL, "quantile regression: the simplex basis became singular");
			since_refactor = 0;
			priced = false;
			continue;
		}
		(*iters)++;
		dir = lp->where[enter] == AT_LOWER ? 1.0 : -1.0;
		lp_ftran(lp, enter, lp->alpha);
		/* ratio test, two passes (Harris): the largest pivot among the steps within the relaxed minimum */
		bound_gap = lp->up[enter] - lp->lo[enter];
		for (size_t k = 0; k < m; k++)
		{
			double		a = dir * lp->alpha[k];	/* x_B[k] decreases by a per unit of step */
			size_t		v = lp->head[k];
			double		lim;

			if (a > 1e-9)
				lim = (lp->xb[k] - lp->lo[v] + lp->tol_feas) / a;
			else if (a < -1e-9)
				lim = (lp->up[v] - lp->xb[k] + lp->tol_feas) / -a;
			else
				continue;
			if (lim < harris)
				harris = lim;
		}
		for (size_t k = 0; k < m; k++)
		{
			double		a = dir * lp->alpha[k];
			size_t		v = lp->head[k];
			double		lim;

			if (a > 1e-9)
				lim = (lp->xb[k] - lp->lo[v]) / a;
			else if (a < -1e-9)
				lim = (lp->up[v] - lp->xb[k]) / -a;
			else
				continue;
			if (lim <= harris &&
				(leave == SIZE_MAX || (bland ? lp->head[k] < lp->head[leave] : fabs(a) > fabs(leave_alpha))))
			{
				leave = k;
				leave_alpha = a;
			}
		}
		if (leave != SIZE_MAX)
		{
			size_t		v = lp->head[leave];

			theta = leave_alpha > 0 ? (lp->xb[leave] - lp->lo[v]) / leave_alpha :
				(lp->up[v] - lp->xb[leave]) / -leave_alpha;
			if (theta < 0)
				theta = 0;
		}
		else
			theta = INFINITY;
		if (bound_gap <= theta)
		{
			/* the entering variable reaches its other bound first: a bound flip, the basis stays */
			if (!isfinite(bound_gap))
				return pgml_error(err, PGML_ERR_INTERNAL, "quantile regression: the linear program is unbounded");
			for (size_t k = 0; k < m; k++)
				lp->xb[k] -= bound_gap * dir * lp->alpha[k];
			lp->where[enter] = dir > 0 ? AT_UPPER : AT_LOWER;
			lp->val[enter] = dir > 0 ? lp->up[enter] : lp->lo[enter];
			degenerate = 0;
			if (++flips >= 16 * LP_REFACTOR)
			{
				/* the basic values drift with every update: recompute them now and then */
				if (!lp_refactor(lp))
					return pgml_error(err, PGML_ERR_INTERNAL,
									  "quantile regression: the simplex basis became singular");
				flips = 0;
				since_refactor = 0;
				priced = false;
			}
			continue;
		}
		/* a pivot: head[leave] leaves at the bound it reached, enter takes its place */
		{
			size_t		out = lp->head[leave];
			double		piv = lp->alpha[leave];
			double	   *row = lp->binv + leave * m;

			for (size_t k = 0; k < m; k++)
				lp->xb[k] -= theta * dir * lp->alpha[k];
			lp->xb[leave] = lp->val[enter] + dir * theta;
			lp->where[out] = leave_alpha > 0 ? AT_LOWER : AT_UPPER;
			lp->val[out] = leave_alpha > 0 ? lp->lo[out] : lp->up[out];
			if (out >= lp->n + lp->n_pen)
			{
				/* an artificial that left never comes back */
				lp->lo[out] = lp->up[out] = lp->val[out] = 0.0;
				lp->where[out] = AT_LOWER;
			}
			lp->where[enter] = BASIC;
			lp->head[leave] = enter;
			for (size_t j = 0; j < m; j++)
				row[j] /= piv;
			for (size_t k = 0; k < m; k++)
			{
				if (k != leave && lp->alpha[k] != 0)
					cblas_daxpy((int) m, -lp->alpha[k], row, 1, lp->binv + k * m, 1);
			}
			degenerate = theta == 0 ? degenerate + 1 : 0;
			priced = false;
			if (++since_refactor >= LP_REFACTOR)
			{
				if (!lp_refactor(lp))
					return pgml_error(err, PGML_ERR_INTERNAL,
									  "quantile regression: the simplex basis became singular");
				since_refactor = 0;
				flips = 0;
			}
		}
	}
}

/*
 * After phase 1: pivots each artificial still in the basis (at zero) out for a real variable with a nonzero
 * entry in its row of B^-1 A, when there is one (otherwise its equation is redundant: the design has
 * dependent columns, and the artificial stays, fixed at zero).
 */
static void
lp_drive_out_artificials(lp_problem *lp)
{
	size_t		m = lp->m;
	size_t		first_art = lp->n + lp->n_pen;

	for (size_t k = 0; k < m; k++)
	{
		size_t		best_v = SIZE_MAX;
		double		best_a = 1e-7;

		if (lp->head[k] < first_art)
			continue;
		for (size_t v = 0; v < first_art; v++)
		{
			double		a;

			if (lp->where[v] == BASIC)
				continue;
			if (v < lp->n)
				a = cblas_ddot((int) m, lp->binv + k * m, 1, lp->z + v * m, 1);
			else
				a = lp->binv[k * m + lp->off + (v - lp->n)];
			if (fabs(a) > best_a)
			{
				best_a = fabs(a);
				best_v = v;
			}
		}
		if (best_v == SIZE_MAX)
			continue;
		/* a degenerate pivot: the entering variable keeps its value (a bound) as a basic variable */
		{
			size_t		out = lp->head[k];

			lp->where[out] = AT_LOWER;
			lp->lo[out] = lp->up[out] = lp->val[out] = 0.0;
			lp->where[best_v] = BASIC;
			lp->head[k] = best_v;
			lp->xb[k] = lp->val[best_v];
		}
		if (!lp_refactor(lp))
			return;				/* cannot happen: the pivot element is nonzero; checked by the caller */
	}
}

/* The q-quantile of y (n values), by sorting a copy. */
static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * An approximate solution θ (m values) of the quantile program by iteratively reweighted least squares:
 * minimizes Σ w_i (y_i - θ·z_i)² + Σ_j v_j θ_(off+j)² with w_i = (q or 1 - q) / max(|r_i|, δ) and
 * v_j = λ / max(|θ_j|, δ), from least squares, until the objective changes by less than IRLS_RTOL (or
 * IRLS_MAX_ITER times), keeping the best θ seen. Only the signs of its residuals matter: they choose the
 * simplex's starting point, so that few pivots remain. False when a weighted normal matrix is not positive
 * definite or memory is short (then the simplex starts from the q-quantile of y).
 */
static bool
quantile_warm_start(const double *z, const double *y, size_t n, size_t m, size_t off, size_t n_pen, double q,
					double lambda, double *theta, double *G, double *rhs)
{
	double	   *zw = pgml_malloc(n * m * sizeof(double));
	double	   *r = pgml_malloc(n * sizeof(double));
	double	   *cur = pgml_calloc(m, sizeof(double));
	double		best = INFINITY;
	double		last = INFINITY;
	bool		ok = zw != NULL && r != NULL && cur != NULL;

	memset(theta, 0, m * sizeof(double));
	for (int iter = 0; ok && iter < IRLS_MAX_ITER; iter++)
	{
		double		objective = 0;
		double		mean_abs = 0;
		double		delta;

		/* r = y - Z θ, the objective at θ */
		memcpy(r, y, n * sizeof(double));
		cblas_dgemv(CblasRowMajor, CblasNoTrans, (int) n, (int) m, -1.0, z, (int) m, cur, 1, 1.0, r, 1);
		for (size_t i = 0; i < n; i++)
		{
			mean_abs += fabs(r[i]);
			objective += r[i] > 0 ? q * r[i] : (q - 1.0) * r[i];
		}
		for (size_t j = 0; j < n_pen; j++)
			objective += lambda * fabs(cur[off + j]);
		if (objective < best)
		{
			best = objective;
			memcpy(theta, cur, m * sizeof(double));
		}
		if (iter > 2 && fabs(last - objective) <= IRLS_RTOL * objective)
			break;
		last = objective;
		delta = 1e-6 * mean_abs / (double) n + 1e-12;
		/* the weighted normal equations: G = Z' W Z (+ penalty), rhs = Z' W y */
		for (size_t i = 0; i < n; i++)
		{
			double		w = iter == 0 ? 1.0 : (r[i] > 0 ? q : 1.0 - q) / fmax(fabs(r[i]), delta);
			double		sw = sqrt(w);

			for (size_t j = 0; j < m; j++)
				zw[i * m + j] = sw * z[i * m + j];
			r[i] = w * y[i];
		}
		cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int) m, (int) n, 1.0, zw, (int) m, 0.0, G, (int) m);
		cblas_dgemv(CblasRowMajor, CblasTrans, (int) n, (int) m, 1.0, z, (int) m, r, 1, 0.0, rhs, 1);
		for (size_t j = 0; j < n_pen && iter > 0; j++)
			G[(off + j) * m + off + j] += lambda / fmax(fabs(cur[off + j]), delta);
		if (LAPACKE_dposv_work(LAPACK_COL_MAJOR, 'U', (lapack_int) m, 1, G, (lapack_int) m, rhs,
							   (lapack_int) m) != 0)
			ok = false;
		for (size_t j = 0; ok && j < m; j++)
			ok = isfinite(rhs[j]);
		if (ok)
			memcpy(cur, rhs, m * sizeof(double));
	}
	pgml_free(zw);
	pgml_free(r);
	pgml_free(cur);
	return ok && isfinite(best);
}

/*
 * Solves the quantile regression program; coef (p) and *intercept receive the solution. x: n × p floats.
 */
static pgml_status
quantile_solve(const float *x, const float *yf, size_t n, size_t p, double q, double alpha, bool fit_intercept,
			   double *coef, double *intercept, pgml_err *err)
{
	lp_problem	lp;
	size_t		m = p + (fit_intercept ? 1 : 0);
	double		lambda = alpha * (double) n;
	double	   *z = NULL;
	double	   *y = NULL;
	double	   *sorted = NULL;
	double		split = 0;
	bool		warm;
	double		ymax = 0;
	double	   *r;
	size_t		iters = 0;
	size_t		max_iters;
	pgml_status rc = PGML_OK;

	memset(&lp, 0, sizeof(lp));
	lp.n = n;
	lp.m = m;
	lp.off = fit_intercept ? 1 : 0;
	lp.n_pen = lambda > 0 ? p : 0;
	lp.nv = n + lp.n_pen + m;
	z = pgml_malloc(n * m * sizeof(double));
	y = pgml_malloc(n * sizeof(double));
	sorted = pgml_malloc(n * sizeof(double));
	lp.lo = pgml_malloc(lp.nv * sizeof(double));
	lp.up = pgml_malloc(lp.nv * sizeof(double));
	lp.val = pgml_malloc(lp.nv * sizeof(double));
	lp.where = pgml_malloc(lp.nv);
	lp.rc = pgml_malloc(lp.nv * sizeof(double));
	lp.cand = pgml_malloc(lp.nv * sizeof(size_t));
	lp.art_sign = pgml_malloc(m * sizeof(double));
	lp.head = pgml_malloc(m * sizeof(size_t));
	lp.binv = pgml_malloc(m * m * sizeof(double));
	lp.work = pgml_malloc(m * m * sizeof(double));
	lp.xb = pgml_malloc(m * sizeof(double));
	lp.pi = pgml_malloc(m * sizeof(double));
	lp.alpha = pgml_malloc(m * sizeof(double));
	lp.ipiv = pgml_malloc(m * sizeof(lapack_int));
	if (!z || !y || !sorted || !lp.lo || !lp.up || !lp.val || !lp.where || !lp.rc || !lp.cand || !lp.art_sign ||
		!lp.head || !lp.binv || !lp.work || !lp.xb || !lp.pi || !lp.alpha || !lp.ipiv)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
	{
		double	   *zi = z + i * m;

		if (fit_intercept)
			zi[0] = 1.0;
		for (size_t j = 0; j < p; j++)
			zi[lp.off + j] = x[i * p + j];
		y[i] = yf[i];
		sorted[i] = y[i];
		if (fabs(y[i]) > ymax)
			ymax = fabs(y[i]);
	}
	lp.z = z;
	lp.y = y;
	lp.tol_opt = 1e-9 * (1.0 + ymax);
	lp.tol_feas = 1e-9;
	/*
	 * The start: each data row at the bound its residual sign calls for under an approximate fit (IRLS), or
	 * failing that, the rows above the q-quantile of y at q, the others at -(1 - q).
	 */
	warm = quantile_warm_start(z, y, n, m, lp.off, lp.n_pen, q, lambda, lp.pi, lp.work, lp.alpha);
	if (!warm)
	{
		qsort(sorted, n, sizeof(double), compare_doubles);
		split = sorted[(size_t) floor(q * (double) (n - 1))];
	}
	for (size_t i = 0; i < n; i++)
	{
		bool		upper = warm ? y[i] - cblas_ddot((int) m, lp.pi, 1, z + i * m, 1) > 0 : y[i] > split;

		lp.lo[i] = -(1.0 - q);
		lp.up[i] = q;
		lp.where[i] = upper ? AT_UPPER : AT_LOWER;
		lp.val[i] = upper ? q : -(1.0 - q);
	}
	/*
	 * r = Σ data columns × values. A penalty variable takes its equation into the basis when it can balance it
	 * within its bounds (the coefficient is then 0), else it starts at the bound its coefficient's sign calls
	 * for (or that reduces |r|). Artificials absorb what is left: x_B = |r| with column -sign(r) e_k. Either
	 * way the basis is diagonal: B^-1 = B.
	 */
	r = lp.xb;
	memset(r, 0, m * sizeof(double));
	for (size_t i = 0; i < n; i++)
		cblas_daxpy((int) m, lp.val[i], z + i * m, 1, r, 1);
	memset(lp.binv, 0, m * m * sizeof(double));
	for (size_t k = 0; k < m; k++)
	{
		size_t		v = n + lp.n_pen + k;

		lp.art_sign[k] = r[k] > 0 ? -1.0 : 1.0;
		lp.lo[v] = 0.0;
		lp.up[v] = INFINITY;
		lp.val[v] = 0.0;
		lp.where[v] = BASIC;
		lp.head[k] = v;
		lp.binv[k * m + k] = lp.art_sign[k];
	}
	for (size_t j = 0; j < lp.n_pen; j++)
	{
		size_t		v = n + j;
		size_t		k = lp.off + j;
		double		tj = warm ? lp.pi[k] : 0.0;
		bool		upper = tj != 0 ? tj < 0 : r[k] < 0;

		lp.lo[v] = -lambda;
		lp.up[v] = lambda;
		if (fabs(r[k]) <= lambda)
		{
			/* basic at -r_k; artificial k is out for good */
			size_t		a = n + lp.n_pen + k;

			lp.where[a] = AT_LOWER;
			lp.up[a] = 0.0;
			lp.art_sign[k] = 1.0;
			lp.where[v] = BASIC;
			lp.head[k] = v;
			lp.binv[k * m + k] = 1.0;
			lp.val[v] = 0.0;
			r[k] = -r[k];		/* x_B[k], read below */
			continue;
		}
		lp.where[v] = upper ? AT_UPPER : AT_LOWER;
		lp.val[v] = upper ? lambda : -lambda;
		r[k] += lp.val[v];
		lp.art_sign[k] = r[k] > 0 ? -1.0 : 1.0;
		lp.binv[k * m + k] = lp.art_sign[k];
	}
	for (size_t k = 0; k < m; k++)
		lp.xb[k] = lp.head[k] >= n + lp.n_pen ? fabs(r[k]) : r[k];
	max_iters = 50 * lp.nv + 10000;
	if ((rc = pgml_check_stop(err)) != PGML_OK)
		goto done;
	/* phase 1: drive the artificials to zero */
	lp.phase1 = true;
	if ((rc = lp_iterate(&lp, &iters, max_iters, err)) != PGML_OK)
		goto done;
	{
		double		infeasible = 0;

		for (size_t k = 0; k < m; k++)
			if (lp.head[k] >= n + lp.n_pen)
				infeasible += fabs(lp.xb[k]);
		if (infeasible > 1e-7 * (1.0 + (double) n))
		{
			rc = pgml_error(err, PGML_ERR_INTERNAL, "quantile regression: phase 1 of the simplex method failed");
			pgml_err_detail(err, "The artificial variables sum to %g.", infeasible);
			goto done;
		}
	}
	for (size_t k = 0; k < m; k++)
	{
		size_t		v = n + lp.n_pen + k;

		lp.up[v] = 0.0;
		if (lp.where[v] != BASIC)
			lp.val[v] = 0.0;
	}
	for (size_t k = 0; k < m; k++)
		if (lp.where[lp.head[k]] == BASIC && lp.head[k] >= n + lp.n_pen)
			lp.xb[k] = 0.0;
	lp_drive_out_artificials(&lp);
	if (!lp_refactor(&lp))
	{
		rc = pgml_error(err, PGML_ERR_INTERNAL, "quantile regression: the simplex basis became singular");
		goto done;
	}
	/* phase 2: the quantile objective */
	lp.phase1 = false;
	if ((rc = lp_iterate(&lp, &iters, max_iters, err)) != PGML_OK)
		goto done;
	/* the coefficients are the simplex multipliers of the final (freshly factored) basis */
	lp_price(&lp);
	for (size_t j = 0; j < p; j++)
		coef[j] = lp.pi[lp.off + j];
	*intercept = fit_intercept ? lp.pi[0] : 0.0;
	pgml_log(PGML_LOG_DEBUG, "quantile regression: %zu simplex iterations", iters);
done:
	pgml_free(z);
	pgml_free(y);
	pgml_free(sorted);
	pgml_free(lp.lo);
	pgml_free(lp.up);
	pgml_free(lp.val);
	pgml_free(lp.where);
	pgml_free(lp.rc);
	pgml_free(lp.cand);
	pgml_free(lp.art_sign);
	pgml_free(lp.head);
	pgml_free(lp.binv);
	pgml_free(lp.work);
	pgml_free(lp.xb);
	pgml_free(lp.pi);
	pgml_free(lp.alpha);
	pgml_free(lp.ipiv);
	return rc;
}

/* Fits QuantileRegressor. */
static pgml_status
quantile_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	static const char *const solvers[] = {
		"highs-ds", "highs-ipm", "highs", "interior-point", "revised simplex", "warn", NULL
	};
	const json_t *hp;
	const json_t *options;
	double		q;
	double		alpha;
	bool		fit_intercept;
	const char *solver;
	linear_state *st;
	pgml_status rc;

	if ((rc = pgml_linear_fit_begin(&pgml_algo_quantile, args, train, state, err)) != PGML_OK ||
		(rc = check_one_target(&pgml_algo_quantile, args, train, err)) != PGML_OK)
		return rc;
	hp = args->hyperparams;
	if ((rc = hp_open_interval(hp, "quantile", 0.5, 0.0, 1.0, &q, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "alpha", 1.0, 0.0, DBL_MAX, &alpha, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "fit_intercept", true, &fit_intercept, err)) != PGML_OK ||
		(rc = pgml_linear_hp_choice(hp, "solver", "warn", solvers, &solver, err)) != PGML_OK)
		return rc;
	options = pgml_linear_hp_value(hp, "solver_options");
	if (options != NULL && !json_is_object(options))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"solver_options\"");
		pgml_err_detail(err, "It must be an object or null, not %s %s.", json_is_array(options) ? "an" : "a",
						pgml_json_type_name(options));
		return PGML_ERR_INVALID_ARGUMENT;
	}
	st = pgml_linear_state_new(KIND_QUANTILE, PGML_TASK_REGRESSION, OUT_LINEAR, train->n_features, 1, 1);
	if (st == NULL)
		return pgml_linear_oom(err);
	rc = quantile_solve(train->x, train->y, train->n_rows, train->n_features, q, alpha, fit_intercept, st->coef,
						&st->intercept[0], err);
	for (size_t j = 0; rc == PGML_OK && j < train->n_features; j++)
		if (!isfinite(st->coef[j]))
			rc = pgml_error(err, PGML_ERR_DATA, "quantile regression produced non-finite coefficients");
	if (rc == PGML_OK && !isfinite(st->intercept[0]))
		rc = pgml_error(err, PGML_ERR_DATA, "quantile regression produced non-finite coefficients");
	if (rc != PGML_OK)
	{
		pgml_linear_free(st);
		return rc;
	}
	return pgml_linear_fit_end(st, args->hyperparams, quantile_defaults, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * RANSAC
 * ------------------------------------------------------------------------------------------------- */

/* The median of v (n values, reordered). */
static double
median_of(double *v, size_t n)
{
	qsort(v, n, sizeof(double), compare_doubles);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* An optional count (null: infinity) as a double. */
static pgml_status
hp_count_or_inf(const json_t *hp, const char *key, double *out, pgml_err *err)
{
	int64_t		v;
	pgml_status rc;

	if (pgml_linear_hp_value(hp, key) == NULL)
	{
		*out = INFINITY;
		return PGML_OK;
	}
	if ((rc = pgml_json_get_int(hp, key, 0, 0, INT64_MAX, &v, err)) != PGML_OK)
		return rc;
	*out = (double) v;
	return PGML_OK;
}

/* sklearn's _dynamic_max_trials: the trials needed to draw an all-inlier subset with `probability`. */
static double
dynamic_max_trials(size_t n_inliers, size_t n, size_t min_samples, double probability)
{
	double		ratio = (double) n_inliers / (double) n;
	double		nom = fmax(DBL_EPSILON, 1.0 - probability);
	double		denom = fmax(DBL_EPSILON, 1.0 - pow(ratio, (double) min_samples));

	if (nom == 1.0)
		return 0.0;
	if (denom == 1.0)
		return INFINITY;
	return fabs(ceil(log(nom) / log(denom)));
}

typedef struct ransac_hp
{
	size_t		min_samples;
	double		threshold;
	double		max_trials;
	double		max_skips;
	double		stop_n_inliers;
	double		stop_score;
	double		stop_probability;
	bool		squared;
	uint64_t	seed;
} ransac_hp;

/* The hyperparameters of RANSACRegressor (min_samples and the threshold need the data). */
static pgml_status
parse_ransac(const json_t *hp, const pgml_data *d, uint64_t seed, ransac_hp *out, pgml_err *err)
{
	static const char *const losses[] = {"absolute_error", "squared_error", NULL};
	const json_t *estimator = pgml_linear_hp_value(hp, "estimator");
	const json_t *base = pgml_linear_hp_value(hp, "base_estimator");
	const json_t *ms = pgml_linear_hp_value(hp, "min_samples");
	const char *loss;
	int64_t		max_trials;
	pgml_status rc;

	if (estimator != NULL &&
		!(json_is_string(estimator) && strcmp(json_string_value(estimator), "LinearRegression") == 0))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "only estimator LinearRegression is supported by ransac");
		pgml_err_detail(err, "estimator must be null or \"LinearRegression\".");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if (base != NULL && !(json_is_string(base) && strcmp(json_string_value(base), "deprecated") == 0))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "hyperparameter \"base_estimator\" is not supported");
		pgml_err_detail(err, "It is deprecated in scikit-learn; RANSAC always fits LinearRegression here.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if ((rc = hp_must_be_null(hp, "is_data_valid", "Callables cannot be given in JSON.", err)) != PGML_OK ||
		(rc = hp_must_be_null(hp, "is_model_valid", "Callables cannot be given in JSON.", err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "residual_threshold", 0.0, 0.0, DBL_MAX, &out->threshold, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "max_trials", 100, 0, INT64_MAX, &max_trials, err)) != PGML_OK ||
		(rc = hp_count_or_inf(hp, "max_skips", &out->max_skips, err)) != PGML_OK ||
		(rc = hp_count_or_inf(hp, "stop_n_inliers", &out->stop_n_inliers, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "stop_score", INFINITY, -DBL_MAX, DBL_MAX, &out->stop_score,
								 err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "stop_probability", 0.99, 0.0, 1.0, &out->stop_probability, err)) != PGML_OK ||
		(rc = pgml_linear_hp_choice(hp, "loss", "absolute_error", losses, &loss, err)) != PGML_OK ||
		(rc = pgml_linear_hp_seed(hp, seed, &out->seed, err)) != PGML_OK)
		return rc;
	out->max_trials = (double) max_trials;
	out->squared = strcmp(loss, "squared_error") == 0;
	/* min_samples: null (n_features + 1), an integer >= 1, or a fraction of the rows in (0, 1] */
	if (ms == NULL)
		out->min_samples = d->n_features + 1;
	else if (json_is_integer(ms))
	{
		if (json_integer_value(ms) < 1)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"min_samples\" must be at least 1");
			pgml_err_detail(err, "It is %lld.", (long long) json_integer_value(ms));
			return PGML_ERR_INVALID_ARGUMENT;
		}
		out->min_samples = (size_t) json_integer_value(ms);
	}
	else if (json_is_real(ms) && json_real_value(ms) > 0 && json_real_value(ms) <= 1)
		out->min_samples = json_real_value(ms) < 1 ? (size_t) ceil(json_real_value(ms) * (double) d->n_rows) : 1;
	else
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"min_samples\"");
		pgml_err_detail(err, "It must be null, an integer of at least 1, or a fraction in (0, 1].");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (out->min_samples > d->n_rows)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"min_samples\" may not be larger than the number of rows");
		pgml_err_detail(err, "min_samples is %zu; there are %zu rows.", out->min_samples, d->n_rows);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (out->min_samples == 0)
		out->min_samples = 1;
	return PGML_OK;
}

/*
 * Classifies every row against the line (coef, b): mask[i] = 1 for inliers. Returns the inlier count and
 * *score, the r2 of the line on its inliers (sklearn's score: 1 when they are all fitted exactly and constant).
 */
static size_t
ransac_consensus(const float *x, const float *yf, size_t n, size_t p, const double *coef, double b,
				 double threshold, bool squared, uint8_t *mask, double *resid, double *score)
{
	size_t		count = 0;
	double		mean = 0;
	double		ss_res = 0;
	double		ss_tot = 0;

	for (size_t i = 0; i < n; i++)
	{
		const float *xi = x + i * p;
		double		pred = b;
		double		r;

		for (size_t j = 0; j < p; j++)
			pred += coef[j] * xi[j];
		r = yf[i] - pred;
		resid[i] = r;
		mask[i] = (squared ? r * r : fabs(r)) <= threshold;
		if (mask[i])
		{
			count++;
			mean += yf[i];
		}
	}
	if (count == 0)
	{
		*score = -INFINITY;
		return 0;
	}
	mean /= (double) count;
	for (size_t i = 0; i < n; i++)
	{
		if (!mask[i])
			continue;
		ss_res += resid[i] * resid[i];
		ss_tot += (yf[i] - mean) * (yf[i] - mean);
	}
	*score = ss_tot == 0 ? (ss_res == 0 ? 1.0 : 0.0) : 1.0 - ss_res / ss_tot;
	return count;
}

/* Fits RANSACRegressor. */
static pgml_status
ransac_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	ransac_hp	hp;
	size_t		n;
	size_t		p;
	size_t		k;
	uint64_t	rng;
	size_t	   *idx = NULL;
	float	   *xs = NULL;
	double	   *ys = NULL;
	double	   *coef = NULL;
	double	   *resid = NULL;
	uint8_t    *mask = NULL;
	uint8_t    *best_mask = NULL;
	double		b = 0;
	size_t		best_inliers = 1;
	double		best_score = -INFINITY;
	bool		found = false;
	double		max_trials;
	double		skips = 0;
	size_t		trials = 0;
	size_t		work = 0;
	linear_state *st = NULL;
	pgml_status rc;

	if ((rc = pgml_linear_fit_begin(&pgml_algo_ransac, args, train, state, err)) != PGML_OK ||
		(rc = check_one_target(&pgml_algo_ransac, args, train, err)) != PGML_OK)
		return rc;
	memset(&hp, 0, sizeof(hp));
	if ((rc = parse_ransac(args->hyperparams, train, args->seed, &hp, err)) != PGML_OK)
		return rc;
	n = train->n_rows;
	p = train->n_features;
	k = hp.min_samples;
	idx = pgml_malloc(n * sizeof(size_t));
	xs = pgml_malloc(n * p * sizeof(float));
	ys = pgml_malloc(n * sizeof(double));
	coef = pgml_malloc(p * sizeof(double));
	resid = pgml_malloc(n * sizeof(double));
	mask = pgml_malloc(n);
	best_mask = pgml_malloc(n);
	st = pgml_linear_state_new(KIND_RANSAC, PGML_TASK_REGRESSION, OUT_LINEAR, p, 1, 1);
	if (!idx || !xs || !ys || !coef || !resid || !mask || !best_mask || !st)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	/* the default threshold: the median absolute deviation of y */
	if (pgml_linear_hp_value(args->hyperparams, "residual_threshold") == NULL)
	{
		double		med;

		for (size_t i = 0; i < n; i++)
			ys[i] = train->y[i];
		med = median_of(ys, n);
		for (size_t i = 0; i < n; i++)
			ys[i] = fabs(train->y[i] - med);
		hp.threshold = median_of(ys, n);
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	rng = hp.seed;
	max_trials = hp.max_trials;
	while ((double) trials < max_trials)
	{
		size_t		count;
		double		score;

		trials++;
		if (skips > hp.max_skips)
			break;
		/* a random subset of k rows: a partial Fisher-Yates shuffle of idx */
		for (size_t i = 0; i < k; i++)
		{
			size_t		j = i + (size_t) random_below(&rng, (uint64_t) (n - i));
			size_t		tmp = idx[i];

			idx[i] = idx[j];
			idx[j] = tmp;
			memcpy(xs + i * p, train->x + idx[i] * p, p * sizeof(float));
			ys[i] = train->y[idx[i]];
		}
		if ((rc = pgml_linear_ols(xs, ys, k, p, true, coef, &b, err)) != PGML_OK)
			goto done;
		count = ransac_consensus(train->x, train->y, n, p, coef, b, hp.threshold, hp.squared, mask, resid,
								 &score);
		if ((rc = pgml_linear_poll_stop(&work, 4 * n * p + k * p * p, err)) != PGML_OK)
			goto done;
		if (count < best_inliers)
		{
			skips += 1;
			continue;
		}
		if (count == best_inliers && score < best_score)
			continue;
		best_inliers = count;
		best_score = score;
		found = true;
		memcpy(best_mask, mask, n);
		max_trials = fmin(max_trials, dynamic_max_trials(best_inliers, n, k, hp.stop_probability));
		if ((double) best_inliers >= hp.stop_n_inliers || best_score >= hp.stop_score)
			break;
	}
	if (!found)
	{
		if (skips > hp.max_skips)
		{
			rc = pgml_error(err, PGML_ERR_DATA, "RANSAC skipped more trials than max_skips without finding a "
							"consensus set");
			pgml_err_detail(err, "Every one of %zu subsets had fewer inliers than the best so far.", trials);
		}
		else
		{
			rc = pgml_error(err, PGML_ERR_DATA, "RANSAC could not find a consensus set");
			pgml_err_detail(err, "None of the %zu trials found a line with an inlier within residual_threshold "
							"%g.", trials, hp.threshold);
			pgml_err_hint(err, "Increase max_trials or residual_threshold.");
		}
		goto done;
	}
	if (skips > hp.max_skips)
		pgml_log(PGML_LOG_WARNING, "RANSAC found a consensus set but stopped early after skipping more than "
				 "max_skips trials");
	/* the final model: least squares on the best consensus set */
	{
		size_t		m = 0;

		for (size_t i = 0; i < n; i++)
		{
			if (!best_mask[i])
				continue;
			memcpy(xs + m * p, train->x + i * p, p * sizeof(float));
			ys[m] = train->y[i];
			m++;
		}
		if ((rc = pgml_linear_ols(xs, ys, m, p, true, st->coef, &st->intercept[0], err)) != PGML_OK)
			goto done;
		pgml_log(PGML_LOG_DEBUG, "RANSAC: %zu trials, %zu inliers of %zu rows", trials, m, n);
	}
	for (size_t j = 0; j < p; j++)
	{
		if (!isfinite(st->coef[j]) || !isfinite(st->intercept[0]))
		{
			rc = pgml_error(err, PGML_ERR_DATA, "RANSAC produced non-finite coefficients");
			goto done;
		}
	}
	rc = pgml_linear_fit_end(st, args->hyperparams, ransac_defaults, state, err);
	st = NULL;
done:
	pgml_linear_free(st);
	pgml_free(idx);
	pgml_free(xs);
	pgml_free(ys);
	pgml_free(coef);
	pgml_free(resid);
	pgml_free(mask);
	pgml_free(best_mask);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Theil-Sen
 * ------------------------------------------------------------------------------------------------- */

/* The least-squares solutions of the subsets, computed on the pool: per-worker workspaces. */
typedef struct theil_sen_ctx
{
	const float *x;
	const float *y;
	size_t		p;
	size_t		k;				/* rows per subset */
	size_t		d;				/* unknowns: p (+ 1) */
	size_t		off;			/* 1 with an intercept (unknown 0) */
	const uint32_t *subsets;	/* n_subsets × k row numbers */
	double	   *weights;		/* n_subsets × d solutions */
	double	   *scratch;		/* per worker: A (k × d), LU (d × d), B (max(k, d)), S (min(k, d)), work */
	lapack_int *iscratch;		/* per worker */
	size_t		scratch_per;
	size_t		iscratch_per;
	lapack_int	lwork;
	bool		failed;			/* an SVD did not converge */
	bool		stopped;
} theil_sen_ctx;

/* Solves subsets [begin, end). */
static void
theil_sen_work(void *p_ctx, size_t begin, size_t end, int worker)
{
	theil_sen_ctx *c = p_ctx;
	size_t		k = c->k;
	size_t		d = c->d;
	size_t		ldb = k > d ? k : d;
	double	   *A = c->scratch + (size_t) worker * c->scratch_per;
	double	   *LU = A + k * d;
	double	   *B = LU + d * d;
	double	   *S = B + ldb;
	double	   *W = S + (k < d ? k : d);
	lapack_int *iw = c->iscratch + (size_t) worker * c->iscratch_per;

	for (size_t s = begin; s < end; s++)
	{
		const uint32_t *rows = c->subsets + s * k;
		double	   *out = c->weights + s * d;
		bool		solved = false;
		lapack_int	rank;
		lapack_int	info;

		if ((s - begin) % 64 == 63 && pgml_should_stop())
		{
			c->stopped = true;
			return;
		}
		/* A = [1, X_S] column-major, B = y_S */
		for (size_t i = 0; i < k; i++)
		{
			const float *xi = c->x + (size_t) rows[i] * c->p;

			if (c->off)
				A[i] = 1.0;
			for (size_t j = 0; j < c->p; j++)
				A[(c->off + j) * k + i] = xi[j];
			B[i] = c->y[rows[i]];
		}
		for (size_t i = k; i < ldb; i++)
			B[i] = 0.0;
		if (k == d)
		{
			/* square: LU when well conditioned (the unique solution, which minimum norm would also give) */
			double		anorm = 0;
			double		rcond = 0;

			for (size_t j = 0; j < d; j++)
			{
				double		colsum = 0;

				for (size_t i = 0; i < d; i++)
					colsum += fabs(A[j * d + i]);
				if (colsum > anorm)
					anorm = colsum;
			}
			memcpy(LU, A, d * d * sizeof(double));
			info = LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, (lapack_int) d, (lapack_int) d, LU, (lapack_int) d, iw);
			if (info == 0)
				info = LAPACKE_dgecon_work(LAPACK_COL_MAJOR, '1', (lapack_int) d, LU, (lapack_int) d, anorm, &rcond,
										   W, iw + d);
			if (info == 0 && rcond > 1e-10)
			{
				memcpy(out, B, d * sizeof(double));
				info = LAPACKE_dgetrs_work(LAPACK_COL_MAJOR, 'N', (lapack_int) d, 1, LU, (lapack_int) d, iw, out,
										   (lapack_int) d);
				solved = info == 0;
			}
		}
		if (!solved)
		{
			/* minimum-norm least squares; singular values below eps times the largest count as zero */
			info = LAPACKE_dgelsd_work(LAPACK_COL_MAJOR, (lapack_int) k, (lapack_int) d, 1, A, (lapack_int) k, B,
									   (lapack_int) ldb, S, -1.0, &rank, W, c->lwork, iw);
			if (info != 0)
			{
				c->failed = true;
				memset(out, 0, d * sizeof(double));
				continue;
			}
			memcpy(out, B, d * sizeof(double));
		}
	}
}

/* One step of the modified Weiszfeld iteration (Vardi & Zhang) from cur (d values) into next. */
static void
weiszfeld_step(const double *w, size_t n_w, size_t d, const double *cur, double *next, double *sum_x,
			   double *sum_dir)
{
	double		sum_inv = 0;
	double		qnorm = 0;
	bool		at_point = false;

	memset(sum_x, 0, d * sizeof(double));
	memset(sum_dir, 0, d * sizeof(double));
	for (size_t i = 0; i < n_w; i++)
	{
		const double *wi = w + i * d;
		double		dist = 0;

		for (size_t j = 0; j < d; j++)
			dist += (wi[j] - cur[j]) * (wi[j] - cur[j]);
		dist = sqrt(dist);
		if (dist < DBL_EPSILON)
		{
			at_point = true;	/* cur is one of the points: it gets the Vardi-Zhang treatment */
			continue;
		}
		sum_inv += 1.0 / dist;
		for (size_t j = 0; j < d; j++)
		{
			sum_x[j] += wi[j] / dist;
			sum_dir[j] += (wi[j] - cur[j]) / dist;
		}
	}
	for (size_t j = 0; j < d; j++)
		qnorm += sum_dir[j] * sum_dir[j];
	qnorm = sqrt(qnorm);
	if (!(qnorm > DBL_EPSILON) || sum_inv == 0)
	{
		/* the pull of the points cancels out: cur is the spatial median */
		memcpy(next, cur, d * sizeof(double));
		return;
	}
	{
		double		eta = at_point ? 1.0 : 0.0;
		double		keep = fmin(1.0, eta / qnorm);
		double		move = fmax(0.0, 1.0 - eta / qnorm);

		for (size_t j = 0; j < d; j++)
			next[j] = move * (sum_x[j] / sum_inv) + keep * cur[j];
	}
}

/* binom(n, k) in double (inf when beyond the range of double). */
static double
binomial(size_t n, size_t k)
{
	double		c = 1.0;

	if (k > n)
		return 0.0;
	if (k > n - k)
		k = n - k;
	for (size_t i = 1; i <= k; i++)
	{
		c = c * (double) (n - k + i) / (double) i;
		if (!isfinite(c))
			return INFINITY;
	}
	return c;
}

/* Fits TheilSenRegressor. */
static pgml_status
theil_sen_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	const json_t *hp;
	bool		fit_intercept;
	double		max_subpopulation;
	int64_t		max_iter;
	double		tol;
	uint64_t	seed;
	size_t		n;
	size_t		p;
	size_t		d;
	size_t		k;
	double		combos;
	size_t		n_subsets;
	bool		enumerate;
	uint32_t   *subsets = NULL;
	double	   *weights = NULL;
	double	   *median = NULL;
	double	   *scratch = NULL;
	int64_t		n_iter = 0;
	theil_sen_ctx ctx;
	linear_state *st = NULL;
	pgml_status rc;

	if ((rc = pgml_linear_fit_begin(&pgml_algo_theil_sen, args, train, state, err)) != PGML_OK ||
		(rc = check_one_target(&pgml_algo_theil_sen, args, train, err)) != PGML_OK)
		return rc;
	hp = args->hyperparams;
	if ((rc = pgml_json_get_bool(hp, "fit_intercept", true, &fit_intercept, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "max_subpopulation", 1e4, 1.0, DBL_MAX, &max_subpopulation, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "max_iter", 300, 0, INT64_MAX, &max_iter, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "tol", 1e-3, 0.0, DBL_MAX, &tol, err)) != PGML_OK ||
		(rc = pgml_linear_hp_seed(hp, args->seed, &seed, err)) != PGML_OK ||
		(rc = pgml_linear_hp_check_inert(hp, err)) != PGML_OK)
		return rc;
	n = train->n_rows;
	p = train->n_features;
	d = p + (fit_intercept ? 1 : 0);
	/* n_subsamples, checked as sklearn does */
	if (pgml_linear_hp_value(hp, "n_subsamples") == NULL)
		k = d < n ? d : n;
	else
	{
		int64_t		v;

		if ((rc = pgml_json_get_int(hp, "n_subsamples", 0, INT64_MIN, INT64_MAX, &v, err)) != PGML_OK)
			return rc;
		if (v > (int64_t) n)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"n_subsamples\" may not exceed the number of rows");
			pgml_err_detail(err, "n_subsamples is %lld; there are %zu rows.", (long long) v, n);
			return PGML_ERR_INVALID_ARGUMENT;
		}
		if (n >= p && v < (int64_t) d)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"n_subsamples\" must be at least the number of features%s",
					   fit_intercept ? " plus one" : "");
			pgml_err_detail(err, "n_subsamples is %lld; it must be at least %zu.", (long long) v, d);
			return PGML_ERR_INVALID_ARGUMENT;
		}
		if (n < p && v != (int64_t) n)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"n_subsamples\" must equal the number of rows when there "
					   "are fewer rows than features");
			pgml_err_detail(err, "n_subsamples is %lld; there are %zu rows and %zu features.", (long long) v, n, p);
			return PGML_ERR_INVALID_ARGUMENT;
		}
		k = (size_t) v;
	}
	if (k == 0)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"n_subsamples\" must be positive");
	combos = nearbyint(binomial(n, k));
	enumerate = combos <= max_subpopulation;
	n_subsets = (size_t) fmin(max_subpopulation, fmax(1.0, combos));
	if ((double) n_subsets * (double) (d > k ? d : k) > (double) THEIL_SEN_MAX_WEIGHTS || n > UINT32_MAX)
	{
		pgml_error(err, PGML_ERR_LIMIT, "too many subsets for Theil-Sen regression");
		pgml_err_detail(err, "%zu subsets of %zu rows with %zu unknowns each.", n_subsets, k, d);
		pgml_err_hint(err, "Lower max_subpopulation.");
		return PGML_ERR_LIMIT;
	}
	subsets = pgml_malloc(n_subsets * k * sizeof(uint32_t));
	weights = pgml_malloc(n_subsets * d * sizeof(double));
	median = pgml_malloc(4 * d * sizeof(double));
	st = pgml_linear_state_new(KIND_THEIL_SEN, PGML_TASK_REGRESSION, OUT_LINEAR, p, 1, 1);
	if (subsets == NULL || weights == NULL || median == NULL || st == NULL)
	{
		rc = pgml_linear_oom(err);
		goto done;
	}
	/* the subsets: all combinations in lexicographic order, or random draws without repetition */
	if (enumerate)
	{
		uint32_t   *cur = subsets;

		for (size_t i = 0; i < k; i++)
			cur[i] = (uint32_t) i;
		for (size_t s = 1; s < n_subsets; s++)
		{
			uint32_t   *next = subsets + s * k;
			size_t		i = k;

			memcpy(next, cur, k * sizeof(uint32_t));
			while (i > 0 && next[i - 1] == (uint32_t) (n - k + i - 1))
				i--;
			if (i == 0)
				break;			/* cannot happen: n_subsets <= binom(n, k) */
			next[i - 1]++;
			for (size_t j = i; j < k; j++)
				next[j] = next[j - 1] + 1;
			cur = next;
		}
	}
	else
	{
		uint64_t	rng = seed;
		uint32_t   *perm = pgml_malloc(n * sizeof(uint32_t));

		if (perm == NULL)
		{
			rc = pgml_linear_oom(err);
			goto done;
		}
		for (size_t i = 0; i < n; i++)
			perm[i] = (uint32_t) i;
		for (size_t s = 0; s < n_subsets; s++)
		{
			for (size_t i = 0; i < k; i++)
			{
				size_t		j = i + (size_t) random_below(&rng, (uint64_t) (n - i));
				uint32_t	tmp = perm[i];

				perm[i] = perm[j];
				perm[j] = tmp;
			}
			memcpy(subsets + s * k, perm, k * sizeof(uint32_t));
		}
		pgml_free(perm);
	}
	/* least squares on every subset, in parallel */
	memset(&ctx, 0, sizeof(ctx));
	ctx.x = train->x;
	ctx.y = train->y;
	ctx.p = p;
	ctx.k = k;
	ctx.d = d;
	ctx.off = fit_intercept ? 1 : 0;
	ctx.subsets = subsets;
	ctx.weights = weights;
	{
		size_t		ldb = k > d ? k : d;
		size_t		mn = k < d ? k : d;
		double		wq = 0;
		lapack_int	iwq = 0;
		lapack_int	rank;
		lapack_int	info;
		int			workers = pgml_pool_size(args->pool);

		double		qa[1] = {0};
		double		qb[1] = {0};
		double		qs[1] = {0};

		info = LAPACKE_dgelsd_work(LAPACK_COL_MAJOR, (lapack_int) k, (lapack_int) d, 1, qa, (lapack_int) k, qb,
								   (lapack_int) ldb, qs, -1.0, &rank, &wq, -1, &iwq);
		if (info != 0)
		{
			rc = pgml_error(err, PGML_ERR_INTERNAL, "LAPACK dgelsd failed");
			goto done;
		}
		ctx.lwork = (lapack_int) wq + 1;
		if (ctx.lwork < (lapack_int) (4 * d))
			ctx.lwork = (lapack_int) (4 * d);	/* dgecon needs 4 d */
		ctx.scratch_per = k * d + d * d + ldb + mn + (size_t) ctx.lwork;
		ctx.iscratch_per = (size_t) (iwq > 0 ? iwq : 1) + 2 * d;
		scratch = pgml_malloc((size_t) workers * ctx.scratch_per * sizeof(double));
		ctx.iscratch = pgml_malloc((size_t) workers * ctx.iscratch_per * sizeof(lapack_int));
		ctx.scratch = scratch;
		if (scratch == NULL || ctx.iscratch == NULL)
		{
			pgml_free(ctx.iscratch);
			rc = pgml_linear_oom(err);
			goto done;
		}
		rc = pgml_parallel_for(args->pool, n_subsets, 16, theil_sen_work, &ctx, err);
		pgml_free(ctx.iscratch);
		if (rc == PGML_OK && ctx.stopped)
			rc = pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
		if (rc == PGML_OK && ctx.failed)
		{
			rc = pgml_error(err, PGML_ERR_DATA, "Theil-Sen regression: least squares did not converge");
			pgml_err_detail(err, "The singular value decomposition of a subset failed to converge.");
		}
		if (rc != PGML_OK)
			goto done;
	}
	/* the spatial median of the solutions */
	if (d == 1)
	{
		median[0] = median_of(weights, n_subsets);
		n_iter = 1;
	}
	else
	{
		double	   *cur = median;
		double	   *next = median + d;
		size_t		acc = 0;
		bool		converged = false;

		memset(cur, 0, d * sizeof(double));
		for (size_t s = 0; s < n_subsets; s++)
			for (size_t j = 0; j < d; j++)
				cur[j] += weights[s * d + j];
		for (size_t j = 0; j < d; j++)
			cur[j] /= (double) n_subsets;
		for (n_iter = 0; n_iter < max_iter; n_iter++)
		{
			double		moved = 0;
			double	   *tmp;

			weiszfeld_step(weights, n_subsets, d, cur, next, median + 2 * d, median + 3 * d);
			for (size_t j = 0; j < d; j++)
				moved += (cur[j] - next[j]) * (cur[j] - next[j]);
			tmp = cur;
			cur = next;
			next = tmp;
			if ((rc = pgml_linear_poll_stop(&acc, 4 * n_subsets * d, err)) != PGML_OK)
				goto done;
			if (moved < tol * tol)
			{
				converged = true;
				break;
			}
		}
		if (cur != median)
			memcpy(median, cur, d * sizeof(double));
		if (!converged && max_iter > 0)
			pgml_log(PGML_LOG_WARNING, "Theil-Sen regression: the spatial median did not converge in %lld "
					 "iterations; increase max_iter", (long long) max_iter);
	}
	for (size_t j = 0; j < d; j++)
	{
		if (!isfinite(median[j]))
		{
			rc = pgml_error(err, PGML_ERR_DATA, "Theil-Sen regression produced non-finite coefficients");
			goto done;
		}
	}
	st->intercept[0] = fit_intercept ? median[0] : 0.0;
	memcpy(st->coef, median + (fit_intercept ? 1 : 0), p * sizeof(double));
	pgml_log(PGML_LOG_DEBUG, "Theil-Sen regression: %zu subsets of %zu rows (%s), %lld Weiszfeld iterations",
			 n_subsets, k, enumerate ? "all" : "random", (long long) n_iter);
	rc = pgml_linear_fit_end(st, args->hyperparams, theil_sen_defaults, state, err);
	st = NULL;
done:
	pgml_linear_free(st);
	pgml_free(subsets);
	pgml_free(weights);
	pgml_free(median);
	pgml_free(scratch);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Load and the tables
 * ------------------------------------------------------------------------------------------------- */

static pgml_status
sgd_load(pgml_reader *in, void **state, pgml_err *err)
{
	return pgml_linear_load_kinds(in, KIND_BIT(KIND_SGD), state, err);
}

static pgml_status
perceptron_load(pgml_reader *in, void **state, pgml_err *err)
{
	return pgml_linear_load_kinds(in, KIND_BIT(KIND_PERCEPTRON), state, err);
}

static pgml_status
passive_aggressive_load(pgml_reader *in, void **state, pgml_err *err)
{
	return pgml_linear_load_kinds(in, KIND_BIT(KIND_PASSIVE_AGGRESSIVE), state, err);
}

static pgml_status
huber_load(pgml_reader *in, void **state, pgml_err *err)
{
	return pgml_linear_load_kinds(in, KIND_BIT(KIND_HUBER), state, err);
}

static pgml_status
quantile_load(pgml_reader *in, void **state, pgml_err *err)
{
	return pgml_linear_load_kinds(in, KIND_BIT(KIND_QUANTILE), state, err);
}

static pgml_status
ransac_load(pgml_reader *in, void **state, pgml_err *err)
{
	return pgml_linear_load_kinds(in, KIND_BIT(KIND_RANSAC), state, err);
}

static pgml_status
theil_sen_load(pgml_reader *in, void **state, pgml_err *err)
{
	return pgml_linear_load_kinds(in, KIND_BIT(KIND_THEIL_SEN), state, err);
}

#define REGRESSION_ONLY PGML_TASK_BIT(PGML_TASK_REGRESSION)
#define BOTH_TASKS (PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION))

const pgml_algorithm pgml_algo_stochastic_gradient_descent = {
	.name = "stochastic_gradient_descent",
	.tasks = BOTH_TASKS,
	.params_regression = sgd_regressor_params,
	.params_classification = sgd_classifier_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = sgd_fit,
	.n_outputs = pgml_linear_n_outputs,
	.predict = pgml_linear_predict,
	.params = pgml_linear_params,
	.save = pgml_linear_save,
	.load = sgd_load,
	.free = pgml_linear_free,
};

const pgml_algorithm pgml_algo_perceptron = {
	.name = "perceptron",
	.tasks = PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = no_params,
	.params_classification = perceptron_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = perceptron_fit,
	.n_outputs = pgml_linear_n_outputs,
	.predict = pgml_linear_predict,
	.params = pgml_linear_params,
	.save = pgml_linear_save,
	.load = perceptron_load,
	.free = pgml_linear_free,
};

const pgml_algorithm pgml_algo_passive_aggressive = {
	.name = "passive_aggressive",
	.tasks = BOTH_TASKS,
	.params_regression = pa_regressor_params,
	.params_classification = pa_classifier_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = passive_aggressive_fit,
	.n_outputs = pgml_linear_n_outputs,
	.predict = pgml_linear_predict,
	.params = pgml_linear_params,
	.save = pgml_linear_save,
	.load = passive_aggressive_load,
	.free = pgml_linear_free,
};

const pgml_algorithm pgml_algo_huber = {
	.name = "huber",
	.tasks = REGRESSION_ONLY,
	.params_regression = huber_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = huber_fit,
	.n_outputs = pgml_linear_n_outputs,
	.predict = pgml_linear_predict,
	.params = pgml_linear_params,
	.save = pgml_linear_save,
	.load = huber_load,
	.free = pgml_linear_free,
};

const pgml_algorithm pgml_algo_quantile = {
	.name = "quantile",
	.tasks = REGRESSION_ONLY,
	.params_regression = quantile_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = quantile_fit,
	.n_outputs = pgml_linear_n_outputs,
	.predict = pgml_linear_predict,
	.params = pgml_linear_params,
	.save = pgml_linear_save,
	.load = quantile_load,
	.free = pgml_linear_free,
};

const pgml_algorithm pgml_algo_ransac = {
	.name = "ransac",
	.tasks = REGRESSION_ONLY,
	.params_regression = ransac_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = ransac_fit,
	.n_outputs = pgml_linear_n_outputs,
	.predict = pgml_linear_predict,
	.params = pgml_linear_params,
	.save = pgml_linear_save,
	.load = ransac_load,
	.free = pgml_linear_free,
};

const pgml_algorithm pgml_algo_theil_sen = {
	.name = "theil_sen",
	.tasks = REGRESSION_ONLY,
	.params_regression = theil_sen_params,
	.params_classification = no_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = theil_sen_fit,
	.n_outputs = pgml_linear_n_outputs,
	.predict = pgml_linear_predict,
	.params = pgml_linear_params,
	.save = pgml_linear_save,
	.load = theil_sen_load,
	.free = pgml_linear_free,
};
