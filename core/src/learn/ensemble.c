/*
 * ensemble.c — ensembles of CART trees grown by trees.c: "ada_boost" (scikit-learn 1.2's AdaBoostRegressor /
 * AdaBoostClassifier) and "bagging" (BaggingRegressor / BaggingClassifier), with their default base
 * estimators (estimator and base_estimator take null only). Our code, after the published algorithms.
 *
 * AdaBoostClassifier: decision stumps (DecisionTreeClassifier(max_depth=1), gini) fit on the sample weights,
 * which start at 1/n and are clipped to at least DBL_EPSILON before each fit.
 *   SAMME.R (the 1.2 default)  each tree's class probabilities p (clipped to DBL_EPSILON) give every row the
 *                              weight factor exp(−lr (K−1)/K Σ_k c_k log p_k) with the class coding c_k = 1 for
 *                              its class and −1/(K−1) otherwise; a tree's contribution is
 *                              (K−1)(log p − mean log p), stored in its leaves; trees weigh 1.
 *   SAMME                      a tree with weighted error e weighs α = lr (log((1−e)/e) + log(K−1)) and
 *                              multiplies the weights of the rows it misclassifies by e^α; it votes α for
 *                              its predicted class (stored in its leaves). A tree no better than chance
 *                              (e >= 1 − 1/K) is dropped and boosting stops (an error if it is the first).
 *   A perfect tree (e = 0) is kept with weight 1 and boosting stops. The decision d is the sum of the
 *   trees' leaf vectors over the sum of their weights (folded into the leaves); probabilities are
 *   softmax(d / (K−1)), or for two classes softmax(−δ/2, δ/2) with δ = d_1 − d_0.
 * AdaBoostRegressor (AdaBoost.R2): each round fits DecisionTreeRegressor(max_depth=3) to a bootstrap
 * sample drawn with probabilities equal to the weights (our generator: the rows differ from
 * scikit-learn's), scores every row by its error over the largest error (linear, squared, or
 * 1 − e^−x for "exponential"), the weighted mean of which is the tree's error e; e >= 0.5 drops the tree
 * (unless it is the only one) and stops; else β = e / (1 − e), the tree weighs lr log(1/β) and each row's
 * weight is multiplied by β^((1 − its error) lr). Predictions are the weighted median of the trees'.
 * The ties between equally good splits are broken by each tree's own generator, drawn from random_state.
 *
 * Bagging: n_estimators fully grown decision trees (gini or squared error), each on max_samples rows drawn
 * with replacement (bootstrap, as draw counts in the row weights) or without, and on max_features features
 * drawn with or without replacement (bootstrap_features; a feature drawn twice counts once). Trees grow in
 * parallel on the pool (trees.c's forest machinery); predictions average the trees' values or class
 * probabilities; oob_score reports the out-of-bag accuracy or R² through the log hook.
 *
 * Both keep trees.c's fitted state, prediction, save and load.
 */
#include "algorithms.h"
#include "trees.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define MAX_ESTIMATORS		((int64_t) 1 << 20)

static pgml_status
out_of_memory(pgml_err *err)
{
	return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
}

static const char *const no_params[] = {NULL};

/* estimator: null only; base_estimator: null or "deprecated" (scikit-learn 1.2's default). */
static pgml_status
check_estimators(const json_t *hp, const char *algo, pgml_err *err)
{
	const json_t *e = trees_hp_value(hp, "estimator");
	const json_t *b = trees_hp_value(hp, "base_estimator");
	const char *key = e != NULL ? "estimator" : "base_estimator";

	if (b != NULL && json_is_string(b) && strcmp(json_string_value(b), "deprecated") == 0)
		b = NULL;
	if (e == NULL && b == NULL)
		return PGML_OK;
	pgml_error(err, PGML_ERR_NOT_SUPPORTED, "%s is not supported by %s", key, algo);
	pgml_err_detail(err, "Only the default base estimator (a decision tree) is implemented: %s must be null.", key);
	return PGML_ERR_NOT_SUPPORTED;
}

/* ---------------------------------------------------------------------------------------------------
 * ada_boost
 * ------------------------------------------------------------------------------------------------- */

static const char *const ada_regressor_params[] = {
	"estimator", "n_estimators", "learning_rate", "loss", "random_state", "base_estimator", NULL
};

static const char *const ada_classifier_params[] = {
	"estimator", "n_estimators", "learning_rate", "algorithm", "random_state", "base_estimator", NULL
};

static const trees_param_default ada_regressor_defaults[] = {
	PD_NULL("estimator"), PD_INT("n_estimators", 50), PD_REAL("learning_rate", 1.0), PD_STR("loss", "linear"),
	PD_NULL("random_state"), PD_STR("base_estimator", "deprecated"), PD_END
};

static const trees_param_default ada_classifier_defaults[] = {
	PD_NULL("estimator"), PD_INT("n_estimators", 50), PD_REAL("learning_rate", 1.0),
	PD_STR("algorithm", "SAMME.R"), PD_NULL("random_state"), PD_STR("base_estimator", "deprecated"), PD_END
};

typedef enum ada_mode
{
	ADA_SAMME_R,
	ADA_SAMME,
	ADA_LINEAR,
	ADA_SQUARE,
	ADA_EXPONENTIAL,
} ada_mode;

/* Index of the largest of v[0, K) (the first on ties, as numpy.argmax). */
static size_t
argmax(const double *v, size_t K)
{
	size_t		best = 0;

	for (size_t k = 1; k < K; k++)
		if (v[k] > v[best])
			best = k;
	return best;
}

static pgml_status
ada_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	static const char *const algorithms[] = {"SAMME.R", "SAMME", NULL};
	static const char *const losses[] = {"linear", "square", "exponential", NULL};
	const json_t *hp = args->hyperparams;
	bool		classifier;
	int64_t		n_est;
	double		lr;
	const char *mode_name;
	ada_mode	mode;
	uint64_t	seed;
	trees_rng	master;
	trees_cart *cart = NULL;
	trees_state *st = NULL;
	double	   *w = NULL;
	double	   *cnt = NULL;
	double	   *cdf = NULL;
	double	   *pred = NULL;
	double	   *errv = NULL;
	double		weight_sum = 0;
	size_t		n;
	size_t		p;
	size_t		K;
	pgml_status rc;

	if ((rc = trees_fit_begin(&pgml_algo_ada_boost, args, train, state, err)) != PGML_OK)
		return rc;
	classifier = args->task == PGML_TASK_CLASSIFICATION;
	if ((rc = check_estimators(hp, "ada_boost", err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "n_estimators", 50, 1, MAX_ESTIMATORS, &n_est, err)) != PGML_OK ||
		(rc = trees_hp_real_in(hp, "learning_rate", 1.0, 0.0, true, INFINITY, false, &lr, err)) != PGML_OK ||
		(rc = trees_hp_seed(hp, args->seed, &seed, err)) != PGML_OK)
		return rc;
	if (classifier)
		rc = trees_hp_choice(hp, "algorithm", "SAMME.R", algorithms, &mode_name, err);
	else
		rc = trees_hp_choice(hp, "loss", "linear", losses, &mode_name, err);
	if (rc != PGML_OK)
		return rc;
	mode = strcmp(mode_name, "SAMME.R") == 0 ? ADA_SAMME_R : strcmp(mode_name, "SAMME") == 0 ? ADA_SAMME :
		strcmp(mode_name, "linear") == 0 ? ADA_LINEAR : strcmp(mode_name, "square") == 0 ? ADA_SQUARE :
		ADA_EXPONENTIAL;
	if (!classifier && train->n_targets != 1)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "ada_boost fits one target at a time");
		pgml_err_detail(err, "The data have %zu targets.", train->n_targets);
		return PGML_ERR_NOT_SUPPORTED;
	}
	n = train->n_rows;
	p = train->n_features;
	K = classifier ? (size_t) args->n_classes : 1;
	trees_rng_seed(&master, seed);

	st = trees_state_new(TREES_KIND_ADA_BOOST, args->task, classifier ? TREES_OUT_SAMME : TREES_OUT_WEIGHTED_MEDIAN,
						 p, K, K, 1, (size_t) n_est);
	w = pgml_malloc(n * sizeof(double));
	cnt = pgml_malloc(n * sizeof(double));
	cdf = pgml_malloc(n * sizeof(double));
	pred = pgml_malloc(n * sizeof(double));
	errv = pgml_malloc(n * sizeof(double));
	if (st == NULL || w == NULL || cnt == NULL || cdf == NULL || pred == NULL || errv == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	st->params = trees_effective_params(hp, classifier ? ada_classifier_defaults : ada_regressor_defaults);
	if (st->params == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	if ((rc = trees_cart_new(train, classifier, (int) K, classifier ? 1 : 3, args->pool, &cart, err)) != PGML_OK)
		goto done;
	for (size_t i = 0; i < n; i++)
		w[i] = 1.0 / (double) n;

	for (size_t it = 0; it < (size_t) n_est; it++)
	{
		trees_tree *t = &st->trees[st->n_trees];
		bool		last = it + 1 == (size_t) n_est;
		double		est_weight = 1.0;
		double		est_error = 0;
		double		sum = 0;
		bool		stop = false;

		pgml_progress_step((size_t) it, (size_t) n_est, "estimator");
		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
		for (size_t i = 0; i < n; i++)
			if (w[i] < DBL_EPSILON)
				w[i] = DBL_EPSILON;
		if (classifier)
		{
			double		wsum = 0;
			double		wbad = 0;

			if ((rc = trees_cart_grow(cart, w, trees_rng_next(&master), t, err)) != PGML_OK)
				goto done;
			st->n_trees++;
			for (size_t i = 0; i < n; i++)
			{
				const double *q = t->values + (size_t) trees_tree_leaf(t, train->x + i * p) * K;

				pred[i] = (double) argmax(q, K);
				wsum += w[i];
				if (pred[i] != train->y[i])
					wbad += w[i];
			}
			est_error = wbad / wsum;
			if (est_error <= 0)
				stop = true;	/* perfect: kept with weight 1 */
			else if (mode == ADA_SAMME && est_error >= 1.0 - 1.0 / (double) K)
			{
				trees_tree_free(t);
				st->n_trees--;
				if (st->n_trees == 0)
				{
					rc = pgml_error(err, PGML_ERR_DATA, "the first tree of ada_boost is worse than random");
					pgml_err_detail(err, "Its weighted error is %g with %zu classes.", est_error, K);
					pgml_err_hint(err, "Use algorithm \"SAMME.R\".");
					goto done;
				}
				break;
			}
			else if (mode == ADA_SAMME_R)
			{
				for (size_t i = 0; i < n && !last; i++)
				{
					const double *q = t->values + (size_t) trees_tree_leaf(t, train->x + i * p) * K;
					size_t		y = (size_t) train->y[i];
					double		s = 0;

					for (size_t k = 0; k < K; k++)
					{
						double		code = k == y ? 1.0 : -1.0 / (double) (K - 1);

						s += code * log(q[k] > DBL_EPSILON ? q[k] : DBL_EPSILON);
					}
					s *= -lr * ((double) K - 1.0) / (double) K;
					w[i] *= exp(s);
				}
			}
			else
			{
				est_weight = lr * (log((1.0 - est_error) / est_error) + log((double) K - 1.0));
				for (size_t i = 0; i < n && !last; i++)
					if (pred[i] != train->y[i])
						w[i] = exp(log(w[i]) + est_weight);
			}
			/* the tree's contribution to the decision, in its leaves */
			for (uint32_t j = 0; j < t->n_leaves; j++)
			{
				double	   *v = t->values + (size_t) j * K;

				if (mode == ADA_SAMME_R)
				{
					double		mean = 0;

					for (size_t k = 0; k < K; k++)
					{
						v[k] = log(v[k] > DBL_EPSILON ? v[k] : DBL_EPSILON);
						mean += v[k];
					}
					mean /= (double) K;
					for (size_t k = 0; k < K; k++)
						v[k] = ((double) K - 1.0) * (v[k] - mean);
				}
				else
				{
					size_t		best = argmax(v, K);

					for (size_t k = 0; k < K; k++)
						v[k] = k == best ? est_weight : 0.0;
				}
			}
		}
		else
		{
			double		emax = 0;

			/* a bootstrap sample drawn with the weights as probabilities (numpy's choice: cdf search) */
			cdf[0] = w[0];
			for (size_t i = 1; i < n; i++)
				cdf[i] = cdf[i - 1] + w[i];
			for (size_t i = 0; i < n; i++)
				cdf[i] /= cdf[n - 1];
			memset(cnt, 0, n * sizeof(double));
			for (size_t i = 0; i < n; i++)
			{
				double		u = trees_rng_double(&master);
				size_t		lo = 0;
				size_t		hi = n;

				while (lo < hi)
				{
					size_t		mid = lo + (hi - lo) / 2;

					if (cdf[mid] <= u)
						lo = mid + 1;
					else
						hi = mid;
				}
				cnt[lo < n ? lo : n - 1] += 1;
			}
			if ((rc = trees_cart_grow(cart, cnt, trees_rng_next(&master), t, err)) != PGML_OK)
				goto done;
			st->n_trees++;
			for (size_t i = 0; i < n; i++)
			{
				pred[i] = t->values[trees_tree_leaf(t, train->x + i * p)];
				errv[i] = fabs(pred[i] - train->y[i]);
				if (errv[i] > emax)
					emax = errv[i];
			}
			for (size_t i = 0; i < n; i++)
			{
				double		e = emax != 0 ? errv[i] / emax : errv[i];

				if (mode == ADA_SQUARE)
					e *= e;
				else if (mode == ADA_EXPONENTIAL)
					e = 1.0 - exp(-e);
				errv[i] = e;
				est_error += w[i] * e;
			}
			if (est_error <= 0)
				stop = true;
			else if (est_error >= 0.5)
			{
				if (st->n_trees > 1)
				{
					trees_tree_free(t);
					st->n_trees--;
				}
				else
					st->tree_weights[0] = 0;
				break;
			}
			else
			{
				double		beta = est_error / (1.0 - est_error);

				est_weight = lr * log(1.0 / beta);
				for (size_t i = 0; i < n && !last; i++)
					w[i] *= pow(beta, (1.0 - errv[i]) * lr);
			}
			st->tree_weights[st->n_trees - 1] = est_weight;
		}
		weight_sum += est_weight;
		if (stop)
			break;
		for (size_t i = 0; i < n; i++)
			sum += w[i];
		if (!isfinite(sum))
		{
			pgml_log(PGML_LOG_WARNING, "ada_boost: sample weights have reached infinite values after %zu trees; "
					 "boosting stops early", it + 1);
			break;
		}
		if (sum <= 0)
			break;
		if (!last)
			for (size_t i = 0; i < n; i++)
				w[i] /= sum;
	}
	if (classifier && weight_sum > 0)
	{
		/* the decision is the sum over the total weight: fold it into the leaves */
		for (size_t t = 0; t < st->n_trees; t++)
			for (size_t j = 0; j < (size_t) st->trees[t].n_leaves * K; j++)
				st->trees[t].values[j] /= weight_sum;
	}
	*state = st;
	st = NULL;
	rc = PGML_OK;

done:
	trees_cart_free(cart);
	trees_free(st);
	pgml_free(w);
	pgml_free(cnt);
	pgml_free(cdf);
	pgml_free(pred);
	pgml_free(errv);
	return rc;
}

static pgml_status
ada_load(pgml_reader *in, void **state, pgml_err *err)
{
	return trees_load_kind(in, TREES_KIND_ADA_BOOST, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * bagging
 * ------------------------------------------------------------------------------------------------- */

static const char *const bagging_params[] = {
	"estimator", "n_estimators", "max_samples", "max_features", "bootstrap", "bootstrap_features", "oob_score",
	"warm_start", "n_jobs", "random_state", "verbose", "base_estimator", NULL
};

static const trees_param_default bagging_defaults[] = {
	PD_NULL("estimator"), PD_INT("n_estimators", 10), PD_REAL("max_samples", 1.0), PD_REAL("max_features", 1.0),
	PD_BOOL("bootstrap", true), PD_BOOL("bootstrap_features", false), PD_BOOL("oob_score", false),
	PD_BOOL("warm_start", false), PD_NULL("n_jobs"), PD_NULL("random_state"), PD_INT("verbose", 0),
	PD_STR("base_estimator", "deprecated"), PD_END
};

/* max_samples / max_features: an integer in [1, limit] or a fraction in (0, 1] of limit (floored, >= 1). */
static pgml_status
bag_count(const json_t *hp, const char *key, size_t limit, const char *what, bool floor_one, size_t *out,
		  pgml_err *err)
{
	const json_t *v = trees_hp_value(hp, key);

	*out = limit;
	if (v == NULL)
		return PGML_OK;
	if (json_is_integer(v) && json_integer_value(v) >= 1)
	{
		if ((uint64_t) json_integer_value(v) > limit)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "%s is larger than the number of %s", key, what);
			pgml_err_detail(err, "%s is %lld; the training data have %zu %s.", key, (long long) json_integer_value(v),
							limit, what);
			return PGML_ERR_INVALID_ARGUMENT;
		}
		*out = (size_t) json_integer_value(v);
		return PGML_OK;
	}
	if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) <= 1)
	{
		size_t		k = (size_t) (json_real_value(v) * (double) limit);

		if (k < 1 && !floor_one)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "%s leaves no %s to draw", key, what);
			pgml_err_detail(err, "%g of %zu %s is less than one.", json_real_value(v), limit, what);
			return PGML_ERR_INVALID_ARGUMENT;
		}
		*out = k < 1 ? 1 : k;
		return PGML_OK;
	}
	return trees_hp_invalid(err, key, v, "an integer of at least 1 or a fraction in the range (0, 1]");
}

static pgml_status
bagging_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	const json_t *hp = args->hyperparams;
	trees_bagging_opts o;
	int64_t		n_est;
	bool		warm;
	json_t	   *params;
	pgml_status rc;

	memset(&o, 0, sizeof(o));
	if ((rc = trees_fit_begin(&pgml_algo_bagging, args, train, state, err)) != PGML_OK)
		return rc;
	if ((rc = check_estimators(hp, "bagging", err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "n_estimators", 10, 1, MAX_ESTIMATORS, &n_est, err)) != PGML_OK ||
		(rc = bag_count(hp, "max_samples", train->n_rows, "rows", false, &o.max_samples, err)) != PGML_OK ||
		(rc = bag_count(hp, "max_features", train->n_features, "features", true, &o.max_features, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "bootstrap", true, &o.bootstrap, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "bootstrap_features", false, &o.bootstrap_features, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "oob_score", false, &o.oob_score, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "warm_start", false, &warm, err)) != PGML_OK ||
		(rc = trees_hp_seed(hp, args->seed, &o.seed, err)) != PGML_OK ||
		(rc = trees_hp_inert(hp, true, &o.verbose, err)) != PGML_OK)
		return rc;
	if (o.oob_score && !o.bootstrap)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "oob_score=true needs bootstrap=true");
		pgml_err_detail(err, "Out-of-bag estimation is only available when the trees are fit on bootstrap samples.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (o.oob_score && warm)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "oob_score=true needs warm_start=false");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	o.n_estimators = (size_t) n_est;
	params = trees_effective_params(hp, bagging_defaults);
	if (params == NULL)
		return out_of_memory(err);
	return trees_bagging_fit(&pgml_algo_bagging, args, train, &o, params, state, err);
}

static pgml_status
bagging_load(pgml_reader *in, void **state, pgml_err *err)
{
	return trees_load_kind(in, TREES_KIND_BAGGING, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * The tables
 * ------------------------------------------------------------------------------------------------- */

const pgml_algorithm pgml_algo_ada_boost = {
	.name = "ada_boost",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = ada_regressor_params,
	.params_classification = ada_classifier_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = true,
	.fit = ada_fit,
	.n_outputs = trees_n_outputs,
	.predict = trees_predict,
	.params = trees_params,
	.save = trees_save,
	.load = ada_load,
	.free = trees_free,
};

const pgml_algorithm pgml_algo_bagging = {
	.name = "bagging",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = bagging_params,
	.params_classification = bagging_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = true,
	.fit = bagging_fit,
	.n_outputs = trees_n_outputs,
	.predict = trees_predict,
	.params = trees_params,
	.save = trees_save,
	.load = bagging_load,
	.free = trees_free,
};
