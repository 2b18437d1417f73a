/*
 * svm.c — support vector machines: scikit-learn's SVC / SVR (algorithm svm) and NuSVC / NuSVR (nu_svm)
 * through libsvm, LinearSVC / LinearSVR (linear_svm) through liblinear.
 *
 * Hyperparameters carry scikit-learn 1.2's constructor names, defaults and ranges. Notes on the ones that
 * cannot behave exactly as in scikit-learn (which bundles modified copies of both libraries):
 *   kernel "precomputed", class_weight other than null     PGML_ERR_NOT_SUPPORTED
 *   max_iter     accepted and recorded but not applied (a NOTICE says so when it is not the default):
 *                libsvm has no iteration cap of its own beyond a safety limit of max(10^7, 100 n)
 *                iterations, and liblinear fixes its own (1000 outer iterations for the coordinate-descent
 *                and Newton solvers, 100000 for Crammer-Singer)
 *   verbose      accepted; the libraries' messages are always discarded (libpgml never prints)
 *   decision_function_shape "ovo"   accepted; it changes only the shape of scikit-learn's
 *                decision_function, which pgml does not expose: the scores below are always one per class
 *   random_state seeds the C library's rand(), which libsvm (probability estimates) and liblinear (the
 *                dual coordinate-descent solvers) draw from; scikit-learn's copies use their own generator,
 *                so those fits agree with scikit-learn to the tolerance, not bit for bit. The reseeding is
 *                process-wide (PostgreSQL itself does not use rand()).
 *
 * Classification scores (what predict writes per row; pgml_model_predict takes their argmax):
 *   SVC, NuSVC   two classes: [d, -d] with d libsvm's decision value (class 0 positive), i.e. [-f, f] with f
 *                scikit-learn's decision_function. More classes: scikit-learn's "ovr" decision_function
 *                (votes of the one-vs-one classifiers plus their confidences squashed into (-1/3, 1/3)).
 *                The predicted class is libsvm's vote (ties go to the lowest class), or with
 *                break_ties=true the argmax of those scores, as in scikit-learn.
 *   LinearSVC    two classes: [d, -d] with d = w·x + b of liblinear's class-0 function (Crammer-Singer:
 *                d = f0 - f1, scikit-learn's single function for two classes); otherwise one w·x + b per
 *                class; the class is liblinear's prediction.
 *   Where float rounding or a vote tie would make the argmax of the scores disagree with the library's
 *   predicted class, the predicted class's score is raised just above the others, so pgml.predict always
 *   returns exactly the library's class.
 *
 * Probabilities: has_proba is false for these algorithms, so pgml.predict_proba reports that SVMs do not
 * estimate probabilities. probability=true still trains libsvm's Platt scaling (5-fold internal
 * cross-validation, as scikit-learn does) and keeps probA/probB in the saved model, but predictions do not
 * use them, exactly like scikit-learn's SVC.predict. Always training with probability estimates would not
 * help: libsvm's probability-based class (argmax of the pairwise-coupled probabilities) can differ from
 * its vote, so pgml.predict would then disagree with scikit-learn's predict.
 *
 * Training. Rows are first ordered by class (stable), which is the order scikit-learn's libsvm uses, so the
 * one-vs-one subproblems are the same. Each pair of classes is one svm_train call on its two classes (what
 * libsvm does inside a multiclass svm_train), so pairs run on the worker pool when there is one (except
 * with probability=true: libsvm then draws from the global rand()) and the stop hook is polled between
 * them; the pairwise models are then assembled into libsvm's multiclass layout. LinearSVC one-vs-rest
 * likewise trains one liblinear model per class (on the pool for the primal solver, which draws no random
 * numbers). A single libsvm or liblinear solve cannot be interrupted (neither library has a callback that
 * could stop it): cancellation takes effect when the solve in progress returns.
 *
 * What the libraries do that libpgml itself never would: they allocate with malloc and C++ new (outside
 * the host's allocator; libsvm's kernel cache takes up to cache_size MB, shared here among the pairs
 * training at once), and new would end the process if memory ran out. Their messages go through the
 * print hooks silenced here, except libsvm's "WARNING: reaching max number of iterations", written to
 * stderr after max(10^7, 100 n) iterations of one solve. Parameters are checked with svm_check_parameter /
 * check_parameter before training, so their other error paths are never reached.
 *
 * libsvm and liblinear save models only to files, so the fitted models are serialized here and the
 * library structures are rebuilt on load (and freed here: never with the libraries' free functions).
 *
 * Saved form, little-endian. libsvm (svm, nu_svm):
 *   u32 format (1) · u8 kind · u8 task · u8 flags (1 break_ties, 2 probability) · u8 kernel · u32 degree ·
 *   f64 gamma · f64 coef0 · u64 n_features · u32 nr_class · u64 l (support vectors) ·
 *   classification: u32 label[nr_class] · u32 nSV[nr_class] ·
 *   f64s sv_coef ((nr_class - 1) × l) · f64s rho (nr_class (nr_class - 1) / 2) ·
 *   probability: f64s probA, f64s probB (one per pair) · f32s support vectors (l × n_features) ·
 *   str effective hyperparameters (JSON)
 * liblinear (linear_svm):
 *   u32 format (1) · u8 kind · u8 task · u8 solver · u64 n_features · u32 nr_class · f64 bias (-1: none) ·
 *   classification: u32 label[nr_class] · f64s w ((n_features + has bias) × nr_w, liblinear's layout) ·
 *   str effective hyperparameters (JSON)
 */
#include "algorithms.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <libsvm/svm.h>
#include <linear.h>

#include "pgml/json.h"

#define SVM_FORMAT			1
#define MAX_FEATURES		((size_t) 1 << 26)
#define MAX_CLASSES			4096
#define MAX_CELLS			((size_t) 1 << 31)	/* support-vector values or weights in one model */
#define MAX_PARAMS_JSON		65536
#define STOP_WORK			((size_t) 1 << 24)	/* flops (about) between two polls of the stop hook */

typedef enum svm_kind
{
	KIND_SVC = 1,
	KIND_SVR,
	KIND_NU_SVC,
	KIND_NU_SVR,
	KIND_LINEAR_SVC,
	KIND_LINEAR_SVR,
} svm_kind;

#define FLAG_BREAK_TIES		1
#define FLAG_PROBABILITY	2

/* A fitted libsvm model: the arrays below, and a struct svm_model pointing into them for prediction. */
typedef struct svm_state
{
	svm_kind	kind;
	pgml_task	task;
	size_t		n_features;
	int			nr_class;		/* classes; 2 for regression (libsvm's convention) */
	bool		break_ties;
	bool		probability;
	int			kernel;
	int			degree;
	double		gamma;
	double		coef0;
	size_t		l;				/* support vectors */
	float	   *sv;				/* l × n_features */
	double	   *coef;			/* (nr_class - 1) × l */
	double	   *rho;			/* one per pair */
	double	   *prob_a;			/* one per pair, or NULL */
	double	   *prob_b;
	int		   *label;			/* nr_class (classification), else NULL */
	int		   *nsv;			/* nr_class (classification), else NULL */
	/* libsvm's view, rebuilt by build_svm_model */
	struct svm_model model;
	struct svm_node *nodes;
	struct svm_node **sv_rows;
	double	  **coef_rows;
	json_t	   *params;
} svm_state;

/* A fitted liblinear model. */
typedef struct lin_state
{
	svm_kind	kind;
	pgml_task	task;
	size_t		n_features;
	int			solver;
	int			nr_class;		/* 2 for regression */
	double		bias;			/* intercept_scaling, or -1 without an intercept */
	int		   *label;			/* nr_class (classification), else NULL */
	double	   *w;				/* w_size × nr_w */
	struct model model;
	json_t	   *params;
} lin_state;

/* ---------------------------------------------------------------------------------------------------
 * Hyperparameters
 * ------------------------------------------------------------------------------------------------- */

static const char *const no_params[] = {NULL};

static const char *const svc_params[] = {
	"C", "kernel", "degree", "gamma", "coef0", "shrinking", "probability", "tol", "cache_size",
	"class_weight", "verbose", "max_iter", "decision_function_shape", "break_ties", "random_state", NULL
};

static const char *const svr_params[] = {
	"kernel", "degree", "gamma", "coef0", "tol", "C", "epsilon", "shrinking", "cache_size", "verbose",
	"max_iter", NULL
};

static const char *const nu_svc_params[] = {
	"nu", "kernel", "degree", "gamma", "coef0", "shrinking", "probability", "tol", "cache_size",
	"class_weight", "verbose", "max_iter", "decision_function_shape", "break_ties", "random_state", NULL
};

static const char *const nu_svr_params[] = {
	"nu", "C", "kernel", "degree", "gamma", "coef0", "shrinking", "tol", "cache_size", "verbose",
	"max_iter", NULL
};

static const char *const linear_svc_params[] = {
	"penalty", "loss", "dual", "tol", "C", "multi_class", "fit_intercept", "intercept_scaling",
	"class_weight", "verbose", "random_state", "max_iter", NULL
};

static const char *const linear_svr_params[] = {
	"epsilon", "tol", "C", "loss", "fit_intercept", "intercept_scaling", "dual", "verbose", "random_state",
	"max_iter", NULL
};

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
} param_default;

#define PD_NULL(name)		{name, DEF_NULL, 0, NULL}
#define PD_BOOL(name, v)	{name, (v) ? DEF_TRUE : DEF_FALSE, 0, NULL}
#define PD_INT(name, v)		{name, DEF_INT, v, NULL}
#define PD_REAL(name, v)	{name, DEF_REAL, v, NULL}
#define PD_STR(name, v)		{name, DEF_STRING, 0, v}
#define PD_END				{NULL, DEF_NULL, 0, NULL}

/* The kernel parameters, in the order of scikit-learn's signatures. */
#define PD_KERNEL \
	PD_STR("kernel", "rbf"), PD_INT("degree", 3), PD_STR("gamma", "scale"), PD_REAL("coef0", 0.0)

static const param_default svc_defaults[] = {
	PD_REAL("C", 1.0), PD_KERNEL, PD_BOOL("shrinking", true), PD_BOOL("probability", false),
	PD_REAL("tol", 1e-3), PD_INT("cache_size", 200), PD_NULL("class_weight"), PD_BOOL("verbose", false),
	PD_INT("max_iter", -1), PD_STR("decision_function_shape", "ovr"), PD_BOOL("break_ties", false),
	PD_NULL("random_state"),
	PD_END
};

static const param_default svr_defaults[] = {
	PD_KERNEL, PD_REAL("tol", 1e-3), PD_REAL("C", 1.0), PD_REAL("epsilon", 0.1), PD_BOOL("shrinking", true),
	PD_INT("cache_size", 200), PD_BOOL("verbose", false), PD_INT("max_iter", -1),
	PD_END
};

static const param_default nu_svc_defaults[] = {
	PD_REAL("nu", 0.5), PD_KERNEL, PD_BOOL("shrinking", true), PD_BOOL("probability", false),
	PD_REAL("tol", 1e-3), PD_INT("cache_size", 200), PD_NULL("class_weight"), PD_BOOL("verbose", false),
	PD_INT("max_iter", -1), PD_STR("decision_function_shape", "ovr"), PD_BOOL("break_ties", false),
	PD_NULL("random_state"),
	PD_END
};

static const param_default nu_svr_defaults[] = {
	PD_REAL("nu", 0.5), PD_REAL("C", 1.0), PD_KERNEL, PD_BOOL("shrinking", true), PD_REAL("tol", 1e-3),
	PD_INT("cache_size", 200), PD_BOOL("verbose", false), PD_INT("max_iter", -1),
	PD_END
};

static const param_default linear_svc_defaults[] = {
	PD_STR("penalty", "l2"), PD_STR("loss", "squared_hinge"), PD_BOOL("dual", true), PD_REAL("tol", 1e-4),
	PD_REAL("C", 1.0), PD_STR("multi_class", "ovr"), PD_BOOL("fit_intercept", true),
	PD_INT("intercept_scaling", 1), PD_NULL("class_weight"), PD_INT("verbose", 0), PD_NULL("random_state"),
	PD_INT("max_iter", 1000),
	PD_END
};

static const param_default linear_svr_defaults[] = {
	PD_REAL("epsilon", 0.0), PD_REAL("tol", 1e-4), PD_REAL("C", 1.0), PD_STR("loss", "epsilon_insensitive"),
	PD_BOOL("fit_intercept", true), PD_REAL("intercept_scaling", 1.0), PD_BOOL("dual", true),
	PD_INT("verbose", 0), PD_NULL("random_state"), PD_INT("max_iter", 1000),
	PD_END
};

/* The hyperparameters a fit uses. */
typedef struct svm_hp
{
	/* libsvm */
	int			kernel;
	int			degree;
	const char *gamma_name;		/* "scale", "auto", or NULL for a number */
	double		gamma;
	double		coef0;
	double		nu;
	double		epsilon;
	bool		shrinking;
	bool		probability;
	double		cache_size;
	bool		break_ties;
	/* both */
	double		tol;
	double		C;
	int64_t		max_iter;
	uint64_t	seed;
	/* liblinear */
	int			solver;
	bool		fit_intercept;
	double		intercept_scaling;
} svm_hp;

/* The value of key in hp, or NULL when it is missing or JSON null. */
static const json_t *
hp_value(const json_t *hp, const char *key)
{
	const json_t *v;

	if (hp == NULL || !json_is_object(hp))
		return NULL;
	v = json_object_get(hp, key);
	return v == NULL || json_is_null(v) ? NULL : v;
}

/* The effective hyperparameters: the caller's values where given, the defaults elsewhere. NULL: no memory. */
static json_t *
effective_params(const json_t *hp, const param_default *defaults)
{
	json_t	   *params = json_object();
	bool		failed = params == NULL;

	for (const param_default *d = defaults; !failed && d->name != NULL; d++)
	{
		const json_t *given = hp_value(hp, d->name);
		json_t	   *value;

		if (given != NULL)
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

/* Writes `"a", "b" and "c"` for a NULL-terminated list. */
static void
format_choices(const char *const *choices, char *list, size_t size)
{
	size_t		used = 0;

	list[0] = '\0';
	for (const char *const *c = choices; *c != NULL && used < size; c++)
	{
		int			w = snprintf(list + used, size - used, "%s\"%s\"",
								 c == choices ? "" : c[1] == NULL ? " and " : ", ", *c);

		if (w < 0)
			break;
		used += (size_t) w;
	}
}

/* A string hyperparameter that must be one of `choices`; *index receives its position. */
static pgml_status
hp_choice(const json_t *hp, const char *key, const char *def, const char *const *choices, int *index,
		  pgml_err *err)
{
	const char *value;
	char		list[512];
	pgml_status rc = pgml_json_get_string(hp, key, def, &value, err);

	if (rc != PGML_OK)
		return rc;
	for (int i = 0; choices[i] != NULL; i++)
	{
		if (strcmp(choices[i], value) == 0)
		{
			*index = i;
			return PGML_OK;
		}
	}
	format_choices(choices, list, sizeof(list));
	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"%s\": \"%s\"", key, value);
	pgml_err_detail(err, "Valid values are %s.", list);
	return PGML_ERR_INVALID_ARGUMENT;
}

/* A number that must be finite and strictly positive (C, tol, cache_size, intercept_scaling). */
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

/* random_state: null (use the fit's seed) or an integer from 0 to 2^32 - 1, as scikit-learn accepts. */
static pgml_status
hp_seed(const json_t *hp, uint64_t def, uint64_t *out, pgml_err *err)
{
	int64_t		v;
	pgml_status rc = pgml_json_get_int(hp, "random_state", -1, 0, (int64_t) UINT32_MAX, &v, err);

	if (rc != PGML_OK)
		return rc;
	*out = v < 0 ? def : (uint64_t) v;
	return PGML_OK;
}

/* verbose: a boolean or a non-negative integer; the libraries' output is discarded either way. */
static pgml_status
hp_verbose(const json_t *hp, pgml_err *err)
{
	const json_t *v = hp_value(hp, "verbose");
	int64_t		i;

	if (v == NULL || json_is_boolean(v))
		return PGML_OK;
	return pgml_json_get_int(hp, "verbose", 0, 0, INT_MAX, &i, err);
}

/* class_weight: only null is implemented. */
static pgml_status
hp_class_weight(const json_t *hp, pgml_err *err)
{
	const json_t *v = hp_value(hp, "class_weight");

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

/* max_iter: validated and recorded; a NOTICE when it is not the default, since the libraries ignore it. */
static pgml_status
hp_max_iter(const json_t *hp, int64_t def, int64_t min, const char *library, int64_t *out, pgml_err *err)
{
	pgml_status rc = pgml_json_get_int(hp, "max_iter", def, min, INT_MAX, out, err);

	if (rc != PGML_OK)
		return rc;
	if (*out != def)
		pgml_log(PGML_LOG_NOTICE, "max_iter=%lld is not applied: %s uses its own iteration limit",
				 (long long) *out, library);
	return PGML_OK;
}

/* The kernel and its parameters (SVC, SVR, NuSVC, NuSVR). */
static pgml_status
parse_kernel(const json_t *hp, svm_hp *out, pgml_err *err)
{
	static const char *const kernels[] = {"linear", "poly", "rbf", "sigmoid", "precomputed", NULL};
	const json_t *gamma = hp_value(hp, "gamma");
	int64_t		degree;
	int			k;
	pgml_status rc;

	if ((rc = hp_choice(hp, "kernel", "rbf", kernels, &k, err)) != PGML_OK)
		return rc;
	if (strcmp(kernels[k], "precomputed") == 0)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "kernel \"precomputed\" is not supported");
		pgml_err_detail(err, "A precomputed Gram matrix cannot be given as training data.");
		pgml_err_hint(err, "Use kernel \"linear\", \"poly\", \"rbf\" or \"sigmoid\".");
		return PGML_ERR_NOT_SUPPORTED;
	}
	/* libsvm's kernel numbers follow the same order */
	out->kernel = k == 0 ? LINEAR : k == 1 ? POLY : k == 2 ? RBF : SIGMOID;
	if ((rc = pgml_json_get_int(hp, "degree", 3, 0, INT_MAX, &degree, err)) != PGML_OK ||
		(rc = pgml_json_get_real(hp, "coef0", 0.0, -DBL_MAX, DBL_MAX, &out->coef0, err)) != PGML_OK)
		return rc;
	out->degree = (int) degree;
	out->gamma_name = "scale";
	out->gamma = 0;
	if (gamma != NULL && json_is_string(gamma))
	{
		static const char *const names[] = {"scale", "auto", NULL};
		int			g;

		if ((rc = hp_choice(hp, "gamma", "scale", names, &g, err)) != PGML_OK)
			return rc;
		out->gamma_name = names[g];
	}
	else if (gamma != NULL)
	{
		if (!json_is_number(gamma))
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"gamma\" must be \"scale\", \"auto\" or a number, not %s",
					   pgml_json_type_name(gamma));
			return PGML_ERR_INVALID_ARGUMENT;
		}
		if ((rc = pgml_json_get_real(hp, "gamma", 0.0, 0.0, DBL_MAX, &out->gamma, err)) != PGML_OK)
			return rc;
		out->gamma_name = NULL;
	}
	return PGML_OK;
}

/* The hyperparameters of SVC, SVR, NuSVC and NuSVR. */
static pgml_status
parse_libsvm(svm_kind kind, const json_t *hp, uint64_t seed, svm_hp *out, pgml_err *err)
{
	bool		classifier = kind == KIND_SVC || kind == KIND_NU_SVC;
	bool		nu = kind == KIND_NU_SVC || kind == KIND_NU_SVR;
	pgml_status rc;

	memset(out, 0, sizeof(*out));
	out->C = 1.0;
	out->nu = 0.5;
	out->seed = seed;
	if ((rc = parse_kernel(hp, out, err)) != PGML_OK ||
		(rc = hp_positive(hp, "tol", 1e-3, &out->tol, err)) != PGML_OK ||
		(rc = hp_positive(hp, "cache_size", 200, &out->cache_size, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "shrinking", true, &out->shrinking, err)) != PGML_OK ||
		(rc = hp_verbose(hp, err)) != PGML_OK ||
		(rc = hp_max_iter(hp, -1, -1, "libsvm", &out->max_iter, err)) != PGML_OK)
		return rc;
	if (kind != KIND_NU_SVC && (rc = hp_positive(hp, "C", 1.0, &out->C, err)) != PGML_OK)
		return rc;
	if (kind == KIND_SVR &&
		(rc = pgml_json_get_real(hp, "epsilon", 0.1, 0.0, DBL_MAX, &out->epsilon, err)) != PGML_OK)
		return rc;
	if (nu)
	{
		if ((rc = pgml_json_get_real(hp, "nu", 0.5, 0.0, 1.0, &out->nu, err)) != PGML_OK)
			return rc;
		if (!(out->nu > 0.0))
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"nu\" is out of range");
			pgml_err_detail(err, "It is %g; it must be greater than 0 and at most 1.", out->nu);
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	if (classifier)
	{
		static const char *const shapes[] = {"ovr", "ovo", NULL};
		int			shape;

		if ((rc = pgml_json_get_bool(hp, "probability", false, &out->probability, err)) != PGML_OK ||
			(rc = hp_class_weight(hp, err)) != PGML_OK ||
			(rc = hp_choice(hp, "decision_function_shape", "ovr", shapes, &shape, err)) != PGML_OK ||
			(rc = pgml_json_get_bool(hp, "break_ties", false, &out->break_ties, err)) != PGML_OK ||
			(rc = hp_seed(hp, seed, &out->seed, err)) != PGML_OK)
			return rc;
		if (out->break_ties && shape == 1)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT,
					   "break_ties must be false when decision_function_shape is \"ovo\"");
			pgml_err_detail(err, "Ties are broken with the one-vs-rest decision function.");
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	return PGML_OK;
}

/* The hyperparameters of LinearSVC and LinearSVR, and liblinear's solver for them (sklearn's table). */
static pgml_status
parse_liblinear(svm_kind kind, const json_t *hp, uint64_t seed, svm_hp *out, pgml_err *err)
{
	static const char *const penalties[] = {"l2", "l1", NULL};
	static const char *const svc_losses[] = {"squared_hinge", "hinge", NULL};
	static const char *const svr_losses[] = {"epsilon_insensitive", "squared_epsilon_insensitive", NULL};
	static const char *const multi[] = {"ovr", "crammer_singer", NULL};
	bool		classifier = kind == KIND_LINEAR_SVC;
	const char *const *losses = classifier ? svc_losses : svr_losses;
	int			penalty = 0;
	int			loss;
	int			mc = 0;
	bool		dual;
	pgml_status rc;

	memset(out, 0, sizeof(*out));
	if ((rc = hp_choice(hp, "loss", losses[0], losses, &loss, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "dual", true, &dual, err)) != PGML_OK ||
		(rc = hp_positive(hp, "tol", 1e-4, &out->tol, err)) != PGML_OK ||
		(rc = hp_positive(hp, "C", 1.0, &out->C, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "fit_intercept", true, &out->fit_intercept, err)) != PGML_OK ||
		(rc = hp_positive(hp, "intercept_scaling", 1.0, &out->intercept_scaling, err)) != PGML_OK ||
		(rc = hp_verbose(hp, err)) != PGML_OK ||
		(rc = hp_seed(hp, seed, &out->seed, err)) != PGML_OK ||
		(rc = hp_max_iter(hp, 1000, 0, "liblinear", &out->max_iter, err)) != PGML_OK)
		return rc;
	if (classifier)
	{
		if ((rc = hp_choice(hp, "penalty", "l2", penalties, &penalty, err)) != PGML_OK ||
			(rc = hp_choice(hp, "multi_class", "ovr", multi, &mc, err)) != PGML_OK ||
			(rc = hp_class_weight(hp, err)) != PGML_OK)
			return rc;
	}
	else
	{
		if ((rc = pgml_json_get_real(hp, "epsilon", 0.0, -DBL_MAX, DBL_MAX, &out->epsilon, err)) != PGML_OK)
			return rc;
		if (out->epsilon < 0)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"epsilon\" must not be negative");
			pgml_err_detail(err, "It is %g.", out->epsilon);
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}

	out->solver = -1;
	if (classifier && mc == 1)
		out->solver = MCSVM_CS;		/* penalty, loss and dual do not apply */
	else if (classifier && penalty == 0 && loss == 0)
		out->solver = dual ? L2R_L2LOSS_SVC_DUAL : L2R_L2LOSS_SVC;
	else if (classifier && penalty == 0 && loss == 1)
		out->solver = dual ? L2R_L1LOSS_SVC_DUAL : -1;
	else if (classifier && penalty == 1 && loss == 0)
		out->solver = dual ? -1 : L1R_L2LOSS_SVC;
	else if (!classifier && loss == 0)
		out->solver = dual ? L2R_L1LOSS_SVR_DUAL : -1;
	else if (!classifier)
		out->solver = dual ? L2R_L2LOSS_SVR_DUAL : L2R_L2LOSS_SVR;
	if (out->solver < 0)
	{
		const char *p = penalties[penalty];
		const char *l = losses[loss];

		if (classifier && penalty == 1 && loss == 1)
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT,
					   "the combination of penalty \"%s\" and loss \"%s\" is not supported", p, l);
		else
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT,
					   "the combination of penalty \"%s\" and loss \"%s\" is not supported with dual=%s", p, l,
					   dual ? "true" : "false");
		pgml_err_detail(err, "Parameters: penalty=\"%s\", loss=\"%s\", dual=%s.", p, l, dual ? "true" : "false");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Data and common helpers
 * ------------------------------------------------------------------------------------------------- */

/* Records an out-of-memory error. */
static pgml_status
out_of_memory(pgml_err *err)
{
	return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
}

/* The libraries' print hook: libpgml never prints. */
static void
print_nothing(const char *s)
{
	(void) s;
}

/* Silences both libraries (their print hooks are process-wide). */
static void
silence_libraries(void)
{
	svm_set_print_string_function(print_nothing);
	set_print_string_function(print_nothing);
}

/* Checks the training data: sizes, limits, finite values, class indices. */
static pgml_status
check_data(const pgml_fit_args *args, const pgml_data *d, pgml_err *err)
{
	size_t		cells;

	if (d == NULL || d->x == NULL || d->n_rows == 0)
		return pgml_error(err, PGML_ERR_DATA, "training data is empty");
	if (d->n_features == 0)
		return pgml_error(err, PGML_ERR_DATA, "training data has no features");
	if (d->n_rows > INT_MAX || d->n_features > MAX_FEATURES ||
		!pgml_mul_size(d->n_rows, d->n_features, &cells) || cells > SIZE_MAX / (2 * sizeof(struct svm_node)))
	{
		pgml_error(err, PGML_ERR_LIMIT, "training data is too large for a support vector machine");
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
		if (d->y == NULL || d->n_targets != 1)
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "support vector regression fits one target at a time");
		for (size_t i = 0; i < d->n_rows; i++)
		{
			if (!isfinite(d->y[i]))
			{
				pgml_error(err, PGML_ERR_DATA, "the target contains a non-finite value");
				pgml_err_detail(err, "The target of row %zu is %g.", i + 1, (double) d->y[i]);
				return PGML_ERR_DATA;
			}
		}
		return PGML_OK;
	}
	if (d->y == NULL || d->n_targets != 1)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "classification needs exactly one label per row");
	if (args->n_classes < 2 || args->n_classes > MAX_CLASSES)
	{
		pgml_error(err, args->n_classes < 2 ? PGML_ERR_INVALID_ARGUMENT : PGML_ERR_LIMIT,
				   "invalid number of classes: %d", args->n_classes);
		pgml_err_detail(err, "Support vector classification handles 2 to %d classes.", MAX_CLASSES);
		return args->n_classes < 2 ? PGML_ERR_INVALID_ARGUMENT : PGML_ERR_LIMIT;
	}
	for (size_t i = 0; i < d->n_rows; i++)
	{
		float		c = d->y[i];

		if (!(c >= 0 && c < (float) args->n_classes) || c != floorf(c))
		{
			pgml_error(err, PGML_ERR_DATA, "invalid class index %g", (double) c);
			pgml_err_detail(err, "Row %zu has it; classes are numbered 0 to %d.", i + 1, args->n_classes - 1);
			return PGML_ERR_DATA;
		}
	}
	return PGML_OK;
}

/* Common start of a fit: the task is supported, the keys are known, the data are sound. */
static pgml_status
fit_begin(const pgml_algorithm *algo, const pgml_fit_args *args, const pgml_data *d, void **state,
		  pgml_err *err)
{
	const char *const *keys;
	pgml_status rc;

	*state = NULL;
	if (args == NULL || (args->task != PGML_TASK_REGRESSION && args->task != PGML_TASK_CLASSIFICATION))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "algorithm %s does not support %s", algo->name,
				   args == NULL ? "this task" : pgml_task_name(args->task));
		pgml_err_detail(err, "It supports regression and classification.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	keys = args->task == PGML_TASK_REGRESSION ? algo->params_regression : algo->params_classification;
	if ((rc = pgml_json_check_keys(args->hyperparams, keys, "hyperparameter", err)) != PGML_OK)
		return rc;
	return check_data(args, d, err);
}

/*
 * Rows of x as libsvm / liblinear node lists: the non-zero features (1-based indices), then a bias node
 * (index n_features + 1) when bias >= 0, then the terminator. order (may be NULL) picks and orders the
 * rows. *storage receives the nodes (free with pgml_free), *rows one pointer per row. feature_node and
 * svm_node have the same layout (int index; double value), checked below.
 */
static pgml_status
make_nodes(const float *x, const size_t *order, size_t n, size_t p, double bias, struct svm_node **storage,
		   struct svm_node ***rows, pgml_err *err)
{
	size_t		count = 0;
	struct svm_node *node;

	_Static_assert(sizeof(struct svm_node) == sizeof(struct feature_node) &&
				   offsetof(struct svm_node, value) == offsetof(struct feature_node, value),
				   "libsvm and liblinear nodes must have the same layout");
	*storage = NULL;
	*rows = NULL;
	for (size_t i = 0; i < n * p; i++)
		count += x[i] != 0.0f;
	count += n * (bias >= 0 ? 2 : 1);
	*storage = pgml_malloc(count * sizeof(struct svm_node));
	*rows = pgml_malloc(n * sizeof(struct svm_node *));
	if (*storage == NULL || *rows == NULL)
	{
		pgml_free(*storage);
		pgml_free(*rows);
		*storage = NULL;
		*rows = NULL;
		return out_of_memory(err);
	}
	node = *storage;
	for (size_t i = 0; i < n; i++)
	{
		const float *row = x + (order ? order[i] : i) * p;

		(*rows)[i] = node;
		for (size_t j = 0; j < p; j++)
		{
			if (row[j] != 0.0f)
			{
				node->index = (int) j + 1;
				node->value = row[j];
				node++;
			}
		}
		if (bias >= 0)
		{
			node->index = (int) p + 1;
			node->value = bias;
			node++;
		}
		node->index = -1;
		node->value = 0;
		node++;
	}
	return PGML_OK;
}

/* One row as nodes in `nodes` (room for p + 2). */
static void
row_nodes(const float *row, size_t p, double bias, struct svm_node *nodes)
{
	struct svm_node *node = nodes;

	for (size_t j = 0; j < p; j++)
	{
		if (row[j] != 0.0f)
		{
			node->index = (int) j + 1;
			node->value = row[j];
			node++;
		}
	}
	if (bias >= 0)
	{
		node->index = (int) p + 1;
		node->value = bias;
		node++;
	}
	node->index = -1;
	node->value = 0;
}

/*
 * Rows grouped by class, stable: order[] the row indices, start[c] / count[c] each class's range. The arrays
 * are new (pgml_free); NULL when out of memory.
 */
static bool
group_by_class(const pgml_data *d, int k, size_t **order, int **start, int **count)
{
	size_t	   *next;

	*order = pgml_malloc(d->n_rows * sizeof(size_t));
	*start = pgml_calloc((size_t) k, sizeof(int));
	*count = pgml_calloc((size_t) k, sizeof(int));
	next = pgml_calloc((size_t) k, sizeof(size_t));
	if (*order == NULL || *start == NULL || *count == NULL || next == NULL)
	{
		pgml_free(*order);
		pgml_free(*start);
		pgml_free(*count);
		pgml_free(next);
		*order = NULL;
		*start = *count = NULL;
		return false;
	}
	for (size_t i = 0; i < d->n_rows; i++)
		(*count)[(int) d->y[i]]++;
	for (int c = 1; c < k; c++)
		(*start)[c] = (*start)[c - 1] + (*count)[c - 1];
	for (int c = 0; c < k; c++)
		next[c] = (size_t) (*start)[c];
	for (size_t i = 0; i < d->n_rows; i++)
		(*order)[next[(int) d->y[i]]++] = i;
	pgml_free(next);
	return true;
}

/* Every class needs a training row (pgml_model_fit guarantees it; a direct caller may not). */
static pgml_status
check_counts(const int *count, int k, pgml_err *err)
{
	for (int c = 0; c < k; c++)
	{
		if (count[c] == 0)
		{
			pgml_error(err, PGML_ERR_DATA, "class %d has no training rows", c);
			pgml_err_detail(err, "Support vector classification needs rows of every class.");
			return PGML_ERR_DATA;
		}
	}
	return PGML_OK;
}

/*
 * Makes the first maximum of the k scores `label`, changing as little as possible: NaNs become -inf, and when
 * another score is as high, the label's score is raised just above the highest other one.
 */
static void
force_argmax(float *o, size_t k, size_t label)
{
	size_t		best = 0;
	float		top;

	for (size_t c = 0; c < k; c++)
		if (isnan(o[c]))
			o[c] = -INFINITY;
	for (size_t c = 1; c < k; c++)
		if (o[c] > o[best])
			best = c;
	if (best == label)
		return;
	top = -INFINITY;
	for (size_t c = 0; c < k; c++)
		if (c != label && o[c] > top)
			top = o[c];
	if (top >= FLT_MAX)
	{
		for (size_t c = 0; c < k; c++)
			if (c != label && o[c] > FLT_MAX)
				o[c] = FLT_MAX;
		o[label] = INFINITY;
	}
	else
		o[label] = nextafterf(top, INFINITY);
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

/* Reads the stored hyperparameters (a JSON object or NULL); false when they are not valid. */
static bool
load_params(pgml_reader *in, json_t **params)
{
	char	   *text = pgml_reader_str(in, MAX_PARAMS_JSON);
	pgml_err	jerr;

	*params = NULL;
	if (pgml_reader_status(in) != PGML_OK)
	{
		pgml_free(text);
		return false;
	}
	if (text == NULL)
		return true;
	if (pgml_json_parse(text, strlen(text), "svm parameters", params, &jerr) != PGML_OK || !json_is_object(*params))
	{
		json_decref(*params);
		*params = NULL;
		pgml_free(text);
		return false;
	}
	pgml_free(text);
	return true;
}

/* Writes the hyperparameters as JSON text. */
static void
save_params(const json_t *params, pgml_buf *out)
{
	char	   *text = params ? pgml_json_dumps(params) : NULL;

	if (params != NULL && text == NULL)
		out->failed = true;
	pgml_buf_put_str(out, text);
	pgml_free(text);
}

/* Reads nr_class u32 labels, which must be a permutation of 0..nr_class-1. NULL when not. */
static int *
load_labels(pgml_reader *in, int nr_class)
{
	int		   *label = pgml_malloc((size_t) nr_class * sizeof(int));
	bool	   *seen = pgml_calloc((size_t) nr_class, sizeof(bool));
	bool		ok = label != NULL && seen != NULL;

	for (int c = 0; ok && c < nr_class; c++)
	{
		uint32_t	v = pgml_reader_u32(in);

		if (pgml_reader_status(in) != PGML_OK || v >= (uint32_t) nr_class || seen[v])
			ok = false;
		else
		{
			seen[v] = true;
			label[c] = (int) v;
		}
	}
	pgml_free(seen);
	if (!ok)
	{
		pgml_free(label);
		return NULL;
	}
	return label;
}

/* Whether the n values are all finite. */
static bool
all_finite(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

/* Rows between two polls of the stop hook when a row costs `work` flops. */
static size_t
rows_per_poll(size_t work)
{
	size_t		r = STOP_WORK / (work ? work : 1);

	return r ? r : 1;
}

/* The common checks of predict. */
static pgml_status
check_predict(const void *state, size_t have, size_t n_features, const float *x, size_t n_rows,
			  const float *out, pgml_err *err)
{
	if (state == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "model is not fitted");
	if (n_features != have)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "wrong number of features");
		pgml_err_detail(err, "The model was trained with %zu features; the input has %zu.", have, n_features);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (n_rows > 0 && (x == NULL || out == NULL))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no input to predict");
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * libsvm: states
 * ------------------------------------------------------------------------------------------------- */

/* Frees a libsvm state (NULL is fine). Everything here was allocated by us, never by libsvm. */
static void
ksvm_state_free(void *state)
{
	svm_state  *st = state;

	if (st == NULL)
		return;
	pgml_free(st->sv);
	pgml_free(st->coef);
	pgml_free(st->rho);
	pgml_free(st->prob_a);
	pgml_free(st->prob_b);
	pgml_free(st->label);
	pgml_free(st->nsv);
	pgml_free(st->nodes);
	pgml_free(st->sv_rows);
	pgml_free(st->coef_rows);
	json_decref(st->params);
	pgml_free(st);
}

/* Number of one-vs-one decision functions: one per pair of classes (one for regression). */
static size_t
n_pairs(const svm_state *st)
{
	return (size_t) st->nr_class * (size_t) (st->nr_class - 1) / 2;
}

/* Builds st->model, the struct svm_model svm_predict_values reads, from the arrays of st. */
static pgml_status
build_svm_model(svm_state *st, pgml_err *err)
{
	size_t		rows = (size_t) st->nr_class - 1;
	struct svm_model *m = &st->model;

	pgml_free(st->nodes);
	pgml_free(st->sv_rows);
	pgml_free(st->coef_rows);
	st->sv_rows = NULL;
	st->coef_rows = pgml_malloc(rows * sizeof(double *));
	if (st->coef_rows == NULL ||
		make_nodes(st->sv, NULL, st->l, st->n_features, -1, &st->nodes, &st->sv_rows, err) != PGML_OK)
		return out_of_memory(err);
	for (size_t r = 0; r < rows; r++)
		st->coef_rows[r] = st->coef + r * st->l;
	memset(m, 0, sizeof(*m));
	m->param.svm_type = st->kind == KIND_SVC ? C_SVC : st->kind == KIND_NU_SVC ? NU_SVC :
		st->kind == KIND_SVR ? EPSILON_SVR : NU_SVR;
	m->param.kernel_type = st->kernel;
	m->param.degree = st->degree;
	m->param.gamma = st->gamma;
	m->param.coef0 = st->coef0;
	m->param.probability = st->probability;
	m->nr_class = st->nr_class;
	m->l = (int) st->l;
	m->SV = st->sv_rows;
	m->sv_coef = st->coef_rows;
	m->rho = st->rho;
	m->probA = st->prob_a;
	m->probB = st->prob_b;
	m->sv_indices = NULL;
	m->label = st->label;
	m->nSV = st->nsv;
	m->free_sv = 0;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * libsvm: training
 * ------------------------------------------------------------------------------------------------- */

/* libsvm's parameters for a fit. */
static void
libsvm_parameter(const svm_state *st, const svm_hp *hp, struct svm_parameter *param)
{
	memset(param, 0, sizeof(*param));
	param->svm_type = st->kind == KIND_SVC ? C_SVC : st->kind == KIND_NU_SVC ? NU_SVC :
		st->kind == KIND_SVR ? EPSILON_SVR : NU_SVR;
	param->kernel_type = st->kernel;
	param->degree = st->degree;
	param->gamma = st->gamma;
	param->coef0 = st->coef0;
	param->cache_size = hp->cache_size;
	param->eps = hp->tol;
	param->C = hp->C;
	param->nr_weight = 0;
	param->weight_label = NULL;
	param->weight = NULL;
	param->nu = hp->nu;
	param->p = hp->epsilon;
	param->shrinking = hp->shrinking ? 1 : 0;
	param->probability = hp->probability ? 1 : 0;
}

/* gamma as scikit-learn computes it: "scale" 1 / (n_features · var(X)) (1 for constant X), "auto" 1 / n_features. */
static double
effective_gamma(const svm_hp *hp, const pgml_data *d)
{
	size_t		cells = d->n_rows * d->n_features;
	double		mean = 0;
	double		var = 0;

	if (hp->gamma_name == NULL)
		return hp->gamma;
	if (strcmp(hp->gamma_name, "auto") == 0)
		return 1.0 / (double) d->n_features;
	for (size_t i = 0; i < cells; i++)
		mean += d->x[i];
	mean /= (double) cells;
	for (size_t i = 0; i < cells; i++)
		var += ((double) d->x[i] - mean) * ((double) d->x[i] - mean);
	var /= (double) cells;
	return var != 0 ? 1.0 / ((double) d->n_features * var) : 1.0;
}

/* Turns a message of svm_check_parameter / check_parameter into an error. */
static pgml_status
library_rejects(const char *library, const char *msg, double nu, pgml_err *err)
{
	if (strcmp(msg, "specified nu is infeasible") == 0)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "specified nu is infeasible");
		pgml_err_detail(err, "With nu = %g, some pair of classes has too few rows of its smaller class: "
						"nu × (n1 + n2) / 2 must not exceed min(n1, n2).", nu);
		pgml_err_hint(err, "Use a smaller nu.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "%s rejects the hyperparameters", library);
	pgml_err_detail(err, "%s reports: %s.", library, msg);
	return PGML_ERR_INVALID_ARGUMENT;
}

/* The outcome of one one-vs-one subproblem. */
typedef struct pair_result
{
	int			n_sv;
	int		   *pos;			/* positions (in class order) of its support vectors */
	double	   *coef;			/* their coefficients (class i positive) */
	double		rho;
	double		prob_a;
	double		prob_b;
	bool		failed;			/* out of memory */
} pair_result;

/* What the pair workers share. */
typedef struct pair_job
{
	struct svm_node **rows;		/* in class order */
	const int  *start;
	const int  *count;
	int			k;
	struct svm_parameter param;
	pair_result *results;
	int		   *pair_i;			/* the classes of each pair */
	int		   *pair_j;
	atomic_bool stopped;
} pair_job;

/* Trains pairs [begin, end): class i (+1) against class j (-1), as libsvm's multiclass svm_train does. */
static void
train_pairs(void *ctx, size_t begin, size_t end, int worker)
{
	pair_job   *job = ctx;

	(void) worker;
	for (size_t p = begin; p < end; p++)
	{
		int			i = job->pair_i[p];
		int			j = job->pair_j[p];
		int			ci = job->count[i];
		int			cj = job->count[j];
		struct svm_problem sub;
		struct svm_model *m;
		pair_result *r = &job->results[p];

		if (atomic_load(&job->stopped) || pgml_should_stop())
		{
			atomic_store(&job->stopped, true);
			return;
		}
		sub.l = ci + cj;
		sub.x = pgml_malloc((size_t) sub.l * sizeof(struct svm_node *));
		sub.y = pgml_malloc((size_t) sub.l * sizeof(double));
		if (sub.x == NULL || sub.y == NULL)
		{
			pgml_free(sub.x);
			pgml_free(sub.y);
			r->failed = true;
			continue;
		}
		for (int k = 0; k < ci; k++)
		{
			sub.x[k] = job->rows[job->start[i] + k];
			sub.y[k] = +1;
		}
		for (int k = 0; k < cj; k++)
		{
			sub.x[ci + k] = job->rows[job->start[j] + k];
			sub.y[ci + k] = -1;
		}
		m = svm_train(&sub, &job->param);
		r->n_sv = m->l;
		r->pos = pgml_malloc((size_t) (m->l > 0 ? m->l : 1) * sizeof(int));
		r->coef = pgml_malloc((size_t) (m->l > 0 ? m->l : 1) * sizeof(double));
		if (r->pos == NULL || r->coef == NULL || m->nr_class != 2 || m->label[0] != +1)
			r->failed = true;	/* the label check cannot fail: class i's rows come first */
		else
		{
			for (int s = 0; s < m->l; s++)
			{
				int			idx = m->sv_indices[s] - 1;	/* in sub */

				r->pos[s] = idx < ci ? job->start[i] + idx : job->start[j] + (idx - ci);
				r->coef[s] = m->sv_coef[0][s];
			}
			r->rho = m->rho[0];
			if (job->param.probability && m->probA != NULL && m->probB != NULL)
			{
				r->prob_a = m->probA[0];
				r->prob_b = m->probB[0];
			}
		}
		svm_free_and_destroy_model(&m);	/* the nodes stay ours: libsvm does not free them (free_sv = 0) */
		pgml_free(sub.x);
		pgml_free(sub.y);
	}
}

/*
 * Assembles the pairwise results into libsvm's multiclass layout: the support vectors of every pair, in
 * class order; nSV per class; for pair (i, j) the coefficients of class i's vectors in sv_coef[j - 1] and
 * of class j's in sv_coef[i].
 */
static pgml_status
assemble_pairs(svm_state *st, const pgml_data *d, const size_t *order, const int *start, const int *count,
			   const pair_job *job, size_t np, pgml_err *err)
{
	size_t		n = d->n_rows;
	size_t		p = d->n_features;
	int			k = st->nr_class;
	int		   *slot = pgml_malloc(n * sizeof(int));	/* position → support vector number, or -1 */
	size_t		l = 0;
	size_t		cells;

	if (slot == NULL)
		return out_of_memory(err);
	for (size_t i = 0; i < n; i++)
		slot[i] = -1;
	for (size_t q = 0; q < np; q++)
		for (int s = 0; s < job->results[q].n_sv; s++)
			slot[job->results[q].pos[s]] = 0;
	for (size_t i = 0; i < n; i++)
		if (slot[i] == 0)
			slot[i] = (int) l++;
	st->l = l;
	if (!pgml_mul_size(l, p, &cells) || cells > MAX_CELLS)
	{
		pgml_free(slot);
		return pgml_error(err, PGML_ERR_LIMIT, "too many support vectors");
	}
	st->sv = pgml_malloc((cells ? cells : 1) * sizeof(float));
	st->coef = pgml_calloc((size_t) (k - 1) * (l ? l : 1), sizeof(double));
	st->nsv = pgml_calloc((size_t) k, sizeof(int));
	st->label = pgml_malloc((size_t) k * sizeof(int));
	st->rho = pgml_malloc(np * sizeof(double));
	if (st->probability)
	{
		st->prob_a = pgml_malloc(np * sizeof(double));
		st->prob_b = pgml_malloc(np * sizeof(double));
	}
	if (st->sv == NULL || st->coef == NULL || st->nsv == NULL || st->label == NULL || st->rho == NULL ||
		(st->probability && (st->prob_a == NULL || st->prob_b == NULL)))
	{
		pgml_free(slot);
		return out_of_memory(err);
	}
	for (int c = 0; c < k; c++)
	{
		st->label[c] = c;
		for (int r = start[c]; r < start[c] + count[c]; r++)
		{
			if (slot[r] >= 0)
			{
				st->nsv[c]++;
				memcpy(st->sv + (size_t) slot[r] * p, d->x + order[r] * p, p * sizeof(float));
			}
		}
	}
	for (size_t q = 0; q < np; q++)
	{
		const pair_result *r = &job->results[q];
		int			i = job->pair_i[q];
		int			j = job->pair_j[q];

		for (int s = 0; s < r->n_sv; s++)
		{
			int			pos = r->pos[s];
			bool		in_i = pos >= start[i] && pos < start[i] + count[i];

			st->coef[(size_t) (in_i ? j - 1 : i) * l + (size_t) slot[pos]] = r->coef[s];
		}
		st->rho[q] = r->rho;
		if (st->probability)
		{
			st->prob_a[q] = r->prob_a;
			st->prob_b[q] = r->prob_b;
		}
	}
	pgml_free(slot);
	return PGML_OK;
}

/* Trains SVC / NuSVC: one svm_train per pair of classes. */
static pgml_status
train_classifier(svm_state *st, const svm_hp *hp, const pgml_fit_args *args, const pgml_data *d, pgml_err *err)
{
	int			k = args->n_classes;
	size_t		np = (size_t) k * (size_t) (k - 1) / 2;
	size_t	   *order = NULL;
	int		   *start = NULL;
	int		   *count = NULL;
	struct svm_node *storage = NULL;
	struct svm_node **rows = NULL;
	double	   *y = NULL;
	pair_job	job;
	struct svm_problem prob;
	const char *msg;
	int			threads;
	pgml_status rc;

	memset(&job, 0, sizeof(job));
	if (!group_by_class(d, k, &order, &start, &count))
		return out_of_memory(err);
	if ((rc = check_counts(count, k, err)) != PGML_OK)
		goto done;
	rc = make_nodes(d->x, order, d->n_rows, d->n_features, -1, &storage, &rows, err);
	if (rc != PGML_OK)
		goto done;
	y = pgml_malloc(d->n_rows * sizeof(double));
	job.results = pgml_calloc(np, sizeof(pair_result));
	job.pair_i = pgml_malloc(np * sizeof(int));
	job.pair_j = pgml_malloc(np * sizeof(int));
	if (y == NULL || job.results == NULL || job.pair_i == NULL || job.pair_j == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (int c = 0; c < k; c++)
		for (int r = start[c]; r < start[c] + count[c]; r++)
			y[r] = c;
	libsvm_parameter(st, hp, &job.param);
	prob.l = (int) d->n_rows;
	prob.x = rows;
	prob.y = y;
	if ((msg = svm_check_parameter(&prob, &job.param)) != NULL)
	{
		rc = library_rejects("libsvm", msg, hp->nu, err);
		goto done;
	}
	{
		size_t		q = 0;

		for (int i = 0; i < k; i++)
			for (int j = i + 1; j < k; j++)
			{
				job.pair_i[q] = i;
				job.pair_j[q] = j;
				q++;
			}
	}
	job.rows = rows;
	job.start = start;
	job.count = count;
	job.k = k;
	atomic_init(&job.stopped, false);
	if ((rc = pgml_check_stop(err)) != PGML_OK)
		goto done;
	if (hp->probability)
	{
		/* libsvm's probability estimates shuffle with rand(): one thread, a fixed seed */
		srand((unsigned int) hp->seed);
		train_pairs(&job, 0, np, 0);
	}
	else
	{
		threads = pgml_pool_size(args->pool);
		if ((size_t) threads > np)
			threads = (int) np;
		/* the kernel caches of the pairs training at once share cache_size */
		job.param.cache_size = hp->cache_size / threads;
		rc = pgml_parallel_for(args->pool, np, 1, train_pairs, &job, err);
		if (rc != PGML_OK)
			goto done;
	}
	if (atomic_load(&job.stopped))
	{
		rc = pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
		goto done;
	}
	for (size_t q = 0; q < np; q++)
	{
		if (job.results[q].failed)
		{
			rc = out_of_memory(err);
			goto done;
		}
	}
	rc = assemble_pairs(st, d, order, start, count, &job, np, err);
	if (rc == PGML_OK)
		rc = pgml_check_stop(err);

done:
	if (job.results != NULL)
	{
		for (size_t q = 0; q < np; q++)
		{
			pgml_free(job.results[q].pos);
			pgml_free(job.results[q].coef);
		}
	}
	pgml_free(job.results);
	pgml_free(job.pair_i);
	pgml_free(job.pair_j);
	pgml_free(y);
	pgml_free(storage);
	pgml_free(rows);
	pgml_free(order);
	pgml_free(start);
	pgml_free(count);
	return rc;
}

/* Trains SVR / NuSVR: one svm_train. */
static pgml_status
train_regressor(svm_state *st, const svm_hp *hp, const pgml_data *d, pgml_err *err)
{
	size_t		n = d->n_rows;
	size_t		p = d->n_features;
	struct svm_node *storage = NULL;
	struct svm_node **rows = NULL;
	double	   *y = pgml_malloc(n * sizeof(double));
	struct svm_parameter param;
	struct svm_problem prob;
	struct svm_model *m = NULL;
	const char *msg;
	size_t		cells;
	pgml_status rc;

	if (y == NULL)
		return out_of_memory(err);
	if ((rc = make_nodes(d->x, NULL, n, p, -1, &storage, &rows, err)) != PGML_OK)
		goto done;
	for (size_t i = 0; i < n; i++)
		y[i] = d->y[i];
	libsvm_parameter(st, hp, &param);
	param.probability = 0;
	prob.l = (int) n;
	prob.x = rows;
	prob.y = y;
	if ((msg = svm_check_parameter(&prob, &param)) != NULL)
	{
		rc = library_rejects("libsvm", msg, hp->nu, err);
		goto done;
	}
	if ((rc = pgml_check_stop(err)) != PGML_OK)
		goto done;
	m = svm_train(&prob, &param);
	st->l = (size_t) m->l;
	if (!pgml_mul_size(st->l, p, &cells) || cells > MAX_CELLS)
	{
		rc = pgml_error(err, PGML_ERR_LIMIT, "too many support vectors");
		goto done;
	}
	st->sv = pgml_malloc((cells ? cells : 1) * sizeof(float));
	st->coef = pgml_malloc((st->l ? st->l : 1) * sizeof(double));
	st->rho = pgml_malloc(sizeof(double));
	if (st->sv == NULL || st->coef == NULL || st->rho == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t s = 0; s < st->l; s++)
	{
		memcpy(st->sv + s * p, d->x + (size_t) (m->sv_indices[s] - 1) * p, p * sizeof(float));
		st->coef[s] = m->sv_coef[0][s];
	}
	st->rho[0] = m->rho[0];
	rc = pgml_check_stop(err);

done:
	if (m != NULL)
		svm_free_and_destroy_model(&m);
	pgml_free(storage);
	pgml_free(rows);
	pgml_free(y);
	return rc;
}

/* Fits SVC / SVR / NuSVC / NuSVR. */
static pgml_status
libsvm_fit(const pgml_algorithm *algo, bool nu, const pgml_fit_args *args, const pgml_data *data, void **state,
		   pgml_err *err)
{
	svm_kind	kind;
	svm_hp		hp;
	svm_state  *st;
	pgml_status rc;

	if ((rc = fit_begin(algo, args, data, state, err)) != PGML_OK)
		return rc;
	if (args->task == PGML_TASK_CLASSIFICATION)
		kind = nu ? KIND_NU_SVC : KIND_SVC;
	else
		kind = nu ? KIND_NU_SVR : KIND_SVR;
	if ((rc = parse_libsvm(kind, args->hyperparams, args->seed, &hp, err)) != PGML_OK)
		return rc;
	st = pgml_calloc(1, sizeof(svm_state));
	if (st == NULL)
		return out_of_memory(err);
	st->kind = kind;
	st->task = args->task;
	st->n_features = data->n_features;
	st->nr_class = args->task == PGML_TASK_CLASSIFICATION ? args->n_classes : 2;
	st->break_ties = hp.break_ties;
	st->probability = hp.probability && args->task == PGML_TASK_CLASSIFICATION;
	st->kernel = hp.kernel;
	st->degree = hp.degree;
	st->gamma = effective_gamma(&hp, data);
	st->coef0 = hp.coef0;
	silence_libraries();
	if (args->task == PGML_TASK_CLASSIFICATION)
		rc = train_classifier(st, &hp, args, data, err);
	else
		rc = train_regressor(st, &hp, data, err);
	if (rc == PGML_OK)
		rc = build_svm_model(st, err);
	if (rc == PGML_OK)
	{
		st->params = effective_params(args->hyperparams,
									  kind == KIND_SVC ? svc_defaults : kind == KIND_SVR ? svr_defaults :
									  kind == KIND_NU_SVC ? nu_svc_defaults : nu_svr_defaults);
		if (st->params == NULL)
			rc = out_of_memory(err);
	}
	if (rc != PGML_OK)
	{
		ksvm_state_free(st);
		return rc;
	}
	*state = st;
	return PGML_OK;
}

static pgml_status
ksvm_fit(const pgml_fit_args *args, const pgml_data *data, void **state, pgml_err *err)
{
	return libsvm_fit(&pgml_algo_svm, false, args, data, state, err);
}

static pgml_status
nu_svm_fit(const pgml_fit_args *args, const pgml_data *data, void **state, pgml_err *err)
{
	return libsvm_fit(&pgml_algo_nu_svm, true, args, data, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * libsvm: predict, params, save, load
 * ------------------------------------------------------------------------------------------------- */

static size_t
ksvm_n_outputs(const void *state)
{
	const svm_state *st = state;

	if (st == NULL)
		return 0;
	return st->task == PGML_TASK_CLASSIFICATION ? (size_t) st->nr_class : 1;
}

/*
 * The per-class scores of a row from libsvm's pairwise decision values and its voted class (see the top of
 * the file): two classes [d, -d]; more, scikit-learn's ovr decision function. Returns the predicted class.
 */
static size_t
class_scores(const svm_state *st, const double *dec, size_t voted, double *score, double *conf, float *out)
{
	size_t		k = (size_t) st->nr_class;
	size_t		label = voted;

	if (k == 2)
	{
		score[0] = dec[0];
		score[1] = -dec[0];
	}
	else
	{
		size_t		q = 0;

		for (size_t c = 0; c < k; c++)
			score[c] = conf[c] = 0;
		for (size_t i = 0; i < k; i++)
			for (size_t j = i + 1; j < k; j++, q++)
			{
				if (dec[q] < 0)
					score[j] += 1;
				else
					score[i] += 1;
				conf[i] += dec[q];
				conf[j] -= dec[q];
			}
		for (size_t c = 0; c < k; c++)
			score[c] += conf[c] / (3 * (fabs(conf[c]) + 1));
		if (st->break_ties)
		{
			label = 0;
			for (size_t c = 1; c < k; c++)
				if (score[c] > score[label])
					label = c;
		}
	}
	for (size_t c = 0; c < k; c++)
		out[c] = (float) score[c];
	force_argmax(out, k, label);
	return label;
}

static pgml_status
ksvm_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out, pgml_err *err)
{
	const svm_state *st = state;
	size_t		k;
	size_t		poll;
	struct svm_node *nodes;
	double	   *dec;
	double	   *score;
	pgml_status rc;

	if ((rc = check_predict(state, st ? st->n_features : 0, n_features, x, n_rows, out, err)) != PGML_OK)
		return rc;
	if (n_rows == 0)
		return PGML_OK;
	k = (size_t) st->nr_class;
	poll = rows_per_poll(st->l * (st->n_features + 10) + n_pairs(st));	/* a kernel value: ~10 more */
	nodes = pgml_malloc((n_features + 2) * sizeof(struct svm_node));
	dec = pgml_malloc((n_pairs(st) + 2 * k) * sizeof(double));
	if (nodes == NULL || dec == NULL)
	{
		pgml_free(nodes);
		pgml_free(dec);
		return out_of_memory(err);
	}
	score = dec + n_pairs(st);
	for (size_t i = 0; i < n_rows; i++)
	{
		double		v;

		if (i % poll == poll - 1 && (rc = pgml_check_stop(err)) != PGML_OK)
			break;
		row_nodes(x + i * n_features, n_features, -1, nodes);
		v = svm_predict_values(&st->model, nodes, dec);
		if (st->task == PGML_TASK_REGRESSION)
			out[i] = (float) v;
		else
			class_scores(st, dec, (size_t) v, score, score + k, out + i * k);
	}
	pgml_free(nodes);
	pgml_free(dec);
	return rc;
}

static json_t *
ksvm_params(const void *state)
{
	const svm_state *st = state;

	return st && st->params ? json_deep_copy(st->params) : NULL;
}

static void
ksvm_save(const void *state, pgml_buf *out)
{
	const svm_state *st = state;
	size_t		np;

	if (st == NULL)
	{
		out->failed = true;
		return;
	}
	np = n_pairs(st);
	pgml_buf_put_u32(out, SVM_FORMAT);
	pgml_buf_put_u8(out, (uint8_t) st->kind);
	pgml_buf_put_u8(out, (uint8_t) st->task);
	pgml_buf_put_u8(out, (uint8_t) ((st->break_ties ? FLAG_BREAK_TIES : 0) | (st->probability ? FLAG_PROBABILITY : 0)));
	pgml_buf_put_u8(out, (uint8_t) st->kernel);
	pgml_buf_put_u32(out, (uint32_t) st->degree);
	pgml_buf_put_f64(out, st->gamma);
	pgml_buf_put_f64(out, st->coef0);
	pgml_buf_put_u64(out, st->n_features);
	pgml_buf_put_u32(out, (uint32_t) st->nr_class);
	pgml_buf_put_u64(out, st->l);
	if (st->task == PGML_TASK_CLASSIFICATION)
	{
		for (int c = 0; c < st->nr_class; c++)
			pgml_buf_put_u32(out, (uint32_t) st->label[c]);
		for (int c = 0; c < st->nr_class; c++)
			pgml_buf_put_u32(out, (uint32_t) st->nsv[c]);
	}
	pgml_buf_put_f64s(out, st->coef, (size_t) (st->nr_class - 1) * st->l);
	pgml_buf_put_f64s(out, st->rho, np);
	if (st->probability)
	{
		pgml_buf_put_f64s(out, st->prob_a, np);
		pgml_buf_put_f64s(out, st->prob_b, np);
	}
	pgml_buf_put_f32s(out, st->sv, st->l * st->n_features);
	save_params(st->params, out);
}

/* Reads an f64 array of exactly n values (n may be 0) into *out (at least one element allocated). */
static bool
load_f64s(pgml_reader *in, size_t n, double **out)
{
	size_t		got;

	*out = pgml_reader_f64s(in, n, n, &got);
	if (pgml_reader_status(in) != PGML_OK)
		return false;
	if (*out == NULL)
		*out = pgml_calloc(1, sizeof(double));	/* an empty array */
	return *out != NULL;
}

/* Loads a libsvm state whose kind is `a` or `b`. */
static pgml_status
libsvm_load(pgml_reader *in, svm_kind a, svm_kind b, void **state, pgml_err *err)
{
	svm_state  *st;
	uint32_t	format;
	unsigned	kind;
	unsigned	task;
	unsigned	flags;
	unsigned	kernel;
	uint32_t	degree;
	uint64_t	n_features;
	uint32_t	nr_class;
	uint64_t	l;
	size_t		coef_n;
	size_t		cells;
	size_t		got;
	const char *reason = "Unexpected end of data";

	*state = NULL;
	format = pgml_reader_u32(in);
	kind = pgml_reader_u8(in);
	task = pgml_reader_u8(in);
	flags = pgml_reader_u8(in);
	kernel = pgml_reader_u8(in);
	degree = pgml_reader_u32(in);
	st = pgml_calloc(1, sizeof(svm_state));
	if (st == NULL)
		return out_of_memory(err);
	st->gamma = pgml_reader_f64(in);
	st->coef0 = pgml_reader_f64(in);
	n_features = pgml_reader_u64(in);
	nr_class = pgml_reader_u32(in);
	l = pgml_reader_u64(in);
	if (pgml_reader_status(in) != PGML_OK)
		goto corrupt;
	if (format != SVM_FORMAT)
	{
		reason = "Unknown support vector machine format version";
		goto corrupt;
	}
	if (kind != (unsigned) a && kind != (unsigned) b)
	{
		reason = "The model kind does not belong to this algorithm";
		goto corrupt;
	}
	st->kind = (svm_kind) kind;
	st->task = kind == KIND_SVC || kind == KIND_NU_SVC ? PGML_TASK_CLASSIFICATION : PGML_TASK_REGRESSION;
	if (task != (unsigned) st->task || flags > 3 ||
		(st->task == PGML_TASK_REGRESSION && flags != 0) ||
		(kernel != LINEAR && kernel != POLY && kernel != RBF && kernel != SIGMOID) || degree > INT_MAX ||
		!isfinite(st->gamma) || !isfinite(st->coef0))
	{
		reason = "The model header is invalid";
		goto corrupt;
	}
	st->break_ties = (flags & FLAG_BREAK_TIES) != 0;
	st->probability = (flags & FLAG_PROBABILITY) != 0;
	st->kernel = (int) kernel;
	st->degree = (int) degree;
	if (n_features == 0 || n_features > MAX_FEATURES || l > INT_MAX ||
		(st->task == PGML_TASK_CLASSIFICATION ? nr_class < 2 || nr_class > MAX_CLASSES : nr_class != 2) ||
		!pgml_mul_size((size_t) l, (size_t) n_features, &cells) || cells > MAX_CELLS ||
		!pgml_mul_size((size_t) l, nr_class - 1, &coef_n) || coef_n > MAX_CELLS)
	{
		reason = "The model dimensions are out of range";
		goto corrupt;
	}
	st->n_features = (size_t) n_features;
	st->nr_class = (int) nr_class;
	st->l = (size_t) l;
	if (st->task == PGML_TASK_CLASSIFICATION)
	{
		uint64_t	total = 0;

		st->label = load_labels(in, st->nr_class);
		if (st->label == NULL)
		{
			reason = pgml_reader_status(in) != PGML_OK ? reason : "The class labels are invalid";
			goto corrupt;
		}
		st->nsv = pgml_malloc(nr_class * sizeof(int));
		if (st->nsv == NULL)
			goto oom;
		for (uint32_t c = 0; c < nr_class; c++)
		{
			uint32_t	v = pgml_reader_u32(in);

			st->nsv[c] = (int) (v > INT_MAX ? 0 : v);
			total += v;
		}
		if (pgml_reader_status(in) != PGML_OK)
			goto corrupt;
		if (total != l)
		{
			reason = "The support vector counts do not add up";
			goto corrupt;
		}
	}
	if (!load_f64s(in, coef_n, &st->coef) || !load_f64s(in, n_pairs(st), &st->rho) ||
		(st->probability && (!load_f64s(in, n_pairs(st), &st->prob_a) ||
							 !load_f64s(in, n_pairs(st), &st->prob_b))))
		goto corrupt;
	st->sv = pgml_reader_f32s(in, cells, cells, &got);
	if (pgml_reader_status(in) != PGML_OK)
		goto corrupt;
	if (st->sv == NULL && (st->sv = pgml_calloc(1, sizeof(float))) == NULL)
		goto oom;
	if (!load_params(in, &st->params))
	{
		reason = pgml_reader_status(in) != PGML_OK ? reason : "The stored hyperparameters are not a JSON object";
		goto corrupt;
	}
	if (!all_finite(st->coef, coef_n) || !all_finite(st->rho, n_pairs(st)) ||
		(st->probability && (!all_finite(st->prob_a, n_pairs(st)) || !all_finite(st->prob_b, n_pairs(st)))))
	{
		reason = "A coefficient is not finite";
		goto corrupt;
	}
	for (size_t i = 0; i < cells; i++)
	{
		if (!isfinite(st->sv[i]))
		{
			reason = "A support vector is not finite";
			goto corrupt;
		}
	}
	if (build_svm_model(st, err) != PGML_OK)
	{
		ksvm_state_free(st);
		return PGML_ERR_OUT_OF_MEMORY;
	}
	*state = st;
	return PGML_OK;

oom:
	ksvm_state_free(st);
	return out_of_memory(err);
corrupt:
	ksvm_state_free(st);
	return load_fail(in, err, reason);
}

static pgml_status
ksvm_load(pgml_reader *in, void **state, pgml_err *err)
{
	return libsvm_load(in, KIND_SVC, KIND_SVR, state, err);
}

static pgml_status
nu_svm_load(pgml_reader *in, void **state, pgml_err *err)
{
	return libsvm_load(in, KIND_NU_SVC, KIND_NU_SVR, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * liblinear
 * ------------------------------------------------------------------------------------------------- */

/* Whether a liblinear solver draws from rand() (the coordinate-descent ones). */
static bool
solver_uses_rand(int solver)
{
	return solver != L2R_L2LOSS_SVC && solver != L2R_L2LOSS_SVR;
}

static bool
solver_is_regression(int solver)
{
	return solver == L2R_L2LOSS_SVR || solver == L2R_L2LOSS_SVR_DUAL || solver == L2R_L1LOSS_SVR_DUAL;
}

static bool
solver_is_classification(int solver)
{
	return solver == L2R_L2LOSS_SVC_DUAL || solver == L2R_L2LOSS_SVC || solver == L2R_L1LOSS_SVC_DUAL ||
		solver == MCSVM_CS || solver == L1R_L2LOSS_SVC;
}

/* Functions in w: one for regression and two-class ovr, one per class otherwise. */
static size_t
lin_nr_w(int solver, int nr_class)
{
	return (nr_class == 2 && solver != MCSVM_CS) ? 1 : (size_t) nr_class;
}

static size_t
lin_w_size(const lin_state *st)
{
	return st->n_features + (st->bias >= 0 ? 1 : 0);
}

static void
lin_state_free(void *state)
{
	lin_state  *st = state;

	if (st == NULL)
		return;
	pgml_free(st->label);
	pgml_free(st->w);
	json_decref(st->params);
	pgml_free(st);
}

/* Points st->model, the struct model predict_values reads, at the arrays of st. */
static void
build_lin_model(lin_state *st)
{
	memset(&st->model, 0, sizeof(st->model));
	st->model.param.solver_type = st->solver;
	st->model.nr_class = st->nr_class;
	st->model.nr_feature = (int) st->n_features;
	st->model.w = st->w;
	st->model.label = st->label;
	st->model.bias = st->bias;
}

/* What the one-vs-rest workers share. */
typedef struct ovr_job
{
	struct problem prob;		/* rows in class order; y replaced per class */
	const int  *start;
	const int  *count;
	struct parameter param;
	double	   *w;				/* w_size × k, liblinear's interleaved layout */
	size_t		w_size;
	int			k;
	bool		failed;
	atomic_bool stopped;
} ovr_job;

/* Trains classes [begin, end) against the rest. */
static void
train_ovr(void *ctx, size_t begin, size_t end, int worker)
{
	ovr_job    *job = ctx;

	(void) worker;
	for (size_t c = begin; c < end; c++)
	{
		struct problem sub = job->prob;
		struct model *m;
		double		sign;

		if (atomic_load(&job->stopped) || pgml_should_stop())
		{
			atomic_store(&job->stopped, true);
			return;
		}
		sub.y = pgml_malloc((size_t) sub.l * sizeof(double));
		if (sub.y == NULL)
		{
			job->failed = true;
			continue;
		}
		for (int r = 0; r < sub.l; r++)
			sub.y[r] = -1;
		for (int r = job->start[c]; r < job->start[c] + job->count[c]; r++)
			sub.y[r] = +1;
		m = train(&sub, &job->param);
		/* w is for the model's first label; make it class c's */
		sign = m->label[0] == +1 ? 1.0 : -1.0;
		for (size_t j = 0; j < job->w_size; j++)
			job->w[j * (size_t) job->k + c] = sign * m->w[j];
		free_and_destroy_model(&m);
		pgml_free(sub.y);
	}
}

/* Fits LinearSVC / LinearSVR. */
static pgml_status
linear_svm_fit(const pgml_fit_args *args, const pgml_data *data, void **state, pgml_err *err)
{
	bool		classifier;
	svm_hp		hp;
	lin_state  *st;
	size_t	   *order = NULL;
	int		   *start = NULL;
	int		   *count = NULL;
	struct svm_node *storage = NULL;
	struct svm_node **rows = NULL;
	double	   *y = NULL;
	struct problem prob;
	struct parameter param;
	const char *msg;
	size_t		n;
	size_t		nr_w;
	size_t		w_n;
	pgml_status rc;

	if ((rc = fit_begin(&pgml_algo_linear_svm, args, data, state, err)) != PGML_OK)
		return rc;
	classifier = args->task == PGML_TASK_CLASSIFICATION;
	if ((rc = parse_liblinear(classifier ? KIND_LINEAR_SVC : KIND_LINEAR_SVR, args->hyperparams, args->seed, &hp,
							  err)) != PGML_OK)
		return rc;
	n = data->n_rows;
	st = pgml_calloc(1, sizeof(lin_state));
	if (st == NULL)
		return out_of_memory(err);
	st->kind = classifier ? KIND_LINEAR_SVC : KIND_LINEAR_SVR;
	st->task = args->task;
	st->n_features = data->n_features;
	st->solver = hp.solver;
	st->nr_class = classifier ? args->n_classes : 2;
	st->bias = hp.fit_intercept ? hp.intercept_scaling : -1;
	nr_w = lin_nr_w(st->solver, st->nr_class);
	if (!pgml_mul_size(lin_w_size(st), nr_w, &w_n) || w_n > MAX_CELLS)
	{
		rc = pgml_error(err, PGML_ERR_LIMIT, "too many weights for a linear support vector machine");
		goto done;
	}
	y = pgml_malloc(n * sizeof(double));
	st->w = pgml_calloc(w_n, sizeof(double));
	if (y == NULL || st->w == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	if (classifier)
	{
		st->label = pgml_malloc((size_t) st->nr_class * sizeof(int));
		if (st->label == NULL || !group_by_class(data, st->nr_class, &order, &start, &count))
		{
			rc = out_of_memory(err);
			goto done;
		}
		if ((rc = check_counts(count, st->nr_class, err)) != PGML_OK)
			goto done;
		for (int c = 0; c < st->nr_class; c++)
		{
			st->label[c] = c;
			for (int r = start[c]; r < start[c] + count[c]; r++)
				y[r] = c;
		}
	}
	else
	{
		for (size_t i = 0; i < n; i++)
			y[i] = data->y[i];
	}
	if ((rc = make_nodes(data->x, order, n, st->n_features, st->bias, &storage, &rows, err)) != PGML_OK)
		goto done;
	prob.l = (int) n;
	prob.n = (int) lin_w_size(st);
	prob.y = y;
	prob.x = (struct feature_node **) rows;
	prob.bias = st->bias;
	memset(&param, 0, sizeof(param));
	param.solver_type = st->solver;
	param.eps = hp.tol;
	param.C = hp.C;
	param.nr_weight = 0;
	param.weight_label = NULL;
	param.weight = NULL;
	param.p = hp.epsilon;
	param.init_sol = NULL;
	silence_libraries();
	if ((msg = check_parameter(&prob, &param)) != NULL)
	{
		rc = library_rejects("liblinear", msg, 0, err);
		goto done;
	}
	if ((rc = pgml_check_stop(err)) != PGML_OK)
		goto done;
	if (solver_uses_rand(st->solver))
		srand((unsigned int) hp.seed);
	if (classifier && st->nr_class > 2 && st->solver != MCSVM_CS)
	{
		ovr_job		job;

		memset(&job, 0, sizeof(job));
		job.prob = prob;
		job.start = start;
		job.count = count;
		job.param = param;
		job.w = st->w;
		job.w_size = lin_w_size(st);
		job.k = st->nr_class;
		atomic_init(&job.stopped, false);
		if (solver_uses_rand(st->solver))
			train_ovr(&job, 0, (size_t) st->nr_class, 0);	/* one thread: rand() is global */
		else if ((rc = pgml_parallel_for(args->pool, (size_t) st->nr_class, 1, train_ovr, &job, err)) != PGML_OK)
			goto done;
		if (atomic_load(&job.stopped))
		{
			rc = pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
			goto done;
		}
		if (job.failed)
		{
			rc = out_of_memory(err);
			goto done;
		}
	}
	else
	{
		struct model *m = train(&prob, &param);

		if (classifier)
			for (int c = 0; c < st->nr_class; c++)
				st->label[c] = m->label[c];
		memcpy(st->w, m->w, w_n * sizeof(double));
		free_and_destroy_model(&m);
	}
	if (!all_finite(st->w, w_n))
	{
		rc = pgml_error(err, PGML_ERR_DATA, "linear support vector machine produced non-finite weights");
		goto done;
	}
	if ((rc = pgml_check_stop(err)) != PGML_OK)
		goto done;
	st->params = effective_params(args->hyperparams, classifier ? linear_svc_defaults : linear_svr_defaults);
	if (st->params == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	build_lin_model(st);

done:
	pgml_free(order);
	pgml_free(start);
	pgml_free(count);
	pgml_free(storage);
	pgml_free(rows);
	pgml_free(y);
	if (rc != PGML_OK)
	{
		lin_state_free(st);
		return rc;
	}
	*state = st;
	return PGML_OK;
}

static size_t
lin_n_outputs(const void *state)
{
	const lin_state *st = state;

	if (st == NULL)
		return 0;
	return st->task == PGML_TASK_CLASSIFICATION ? (size_t) st->nr_class : 1;
}

static pgml_status
lin_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out, pgml_err *err)
{
	const lin_state *st = state;
	size_t		nr_w;
	size_t		k;
	size_t		poll;
	struct feature_node *nodes;
	double	   *dec;
	pgml_status rc;

	if ((rc = check_predict(state, st ? st->n_features : 0, n_features, x, n_rows, out, err)) != PGML_OK)
		return rc;
	if (n_rows == 0)
		return PGML_OK;
	nr_w = lin_nr_w(st->solver, st->nr_class);
	k = (size_t) st->nr_class;
	poll = rows_per_poll(n_features * nr_w);
	nodes = pgml_malloc((n_features + 2) * sizeof(struct feature_node));
	dec = pgml_malloc(k * sizeof(double));
	if (nodes == NULL || dec == NULL)
	{
		pgml_free(nodes);
		pgml_free(dec);
		return out_of_memory(err);
	}
	for (size_t i = 0; i < n_rows; i++)
	{
		double		v;

		if (i % poll == poll - 1 && (rc = pgml_check_stop(err)) != PGML_OK)
			break;
		row_nodes(x + i * n_features, n_features, st->bias, (struct svm_node *) nodes);
		v = predict_values(&st->model, nodes, dec);
		if (st->task == PGML_TASK_REGRESSION)
			out[i] = (float) v;
		else
		{
			float	   *o = out + i * k;

			if (nr_w == 1)
			{
				o[st->label[0]] = (float) dec[0];
				o[st->label[1]] = (float) -dec[0];
			}
			else if (k == 2)
			{
				/* Crammer-Singer, two classes: scikit-learn's one function, the difference of the two */
				o[st->label[0]] = (float) (dec[0] - dec[1]);
				o[st->label[1]] = (float) (dec[1] - dec[0]);
			}
			else
				for (size_t c = 0; c < k; c++)
					o[st->label[c]] = (float) dec[c];
			force_argmax(o, k, (size_t) v);
		}
	}
	pgml_free(nodes);
	pgml_free(dec);
	return rc;
}

static json_t *
lin_params(const void *state)
{
	const lin_state *st = state;

	return st && st->params ? json_deep_copy(st->params) : NULL;
}

static void
lin_save(const void *state, pgml_buf *out)
{
	const lin_state *st = state;

	if (st == NULL)
	{
		out->failed = true;
		return;
	}
	pgml_buf_put_u32(out, SVM_FORMAT);
	pgml_buf_put_u8(out, (uint8_t) st->kind);
	pgml_buf_put_u8(out, (uint8_t) st->task);
	pgml_buf_put_u8(out, (uint8_t) st->solver);
	pgml_buf_put_u64(out, st->n_features);
	pgml_buf_put_u32(out, (uint32_t) st->nr_class);
	pgml_buf_put_f64(out, st->bias);
	if (st->task == PGML_TASK_CLASSIFICATION)
		for (int c = 0; c < st->nr_class; c++)
			pgml_buf_put_u32(out, (uint32_t) st->label[c]);
	pgml_buf_put_f64s(out, st->w, lin_w_size(st) * lin_nr_w(st->solver, st->nr_class));
	save_params(st->params, out);
}

static pgml_status
lin_load(pgml_reader *in, void **state, pgml_err *err)
{
	lin_state  *st;
	uint32_t	format;
	unsigned	kind;
	unsigned	task;
	unsigned	solver;
	uint64_t	n_features;
	uint32_t	nr_class;
	size_t		w_n;
	const char *reason = "Unexpected end of data";

	*state = NULL;
	st = pgml_calloc(1, sizeof(lin_state));
	if (st == NULL)
		return out_of_memory(err);
	format = pgml_reader_u32(in);
	kind = pgml_reader_u8(in);
	task = pgml_reader_u8(in);
	solver = pgml_reader_u8(in);
	n_features = pgml_reader_u64(in);
	nr_class = pgml_reader_u32(in);
	st->bias = pgml_reader_f64(in);
	if (pgml_reader_status(in) != PGML_OK)
		goto corrupt;
	if (format != SVM_FORMAT)
	{
		reason = "Unknown support vector machine format version";
		goto corrupt;
	}
	if (kind != KIND_LINEAR_SVC && kind != KIND_LINEAR_SVR)
	{
		reason = "The model kind does not belong to this algorithm";
		goto corrupt;
	}
	st->kind = (svm_kind) kind;
	st->task = kind == KIND_LINEAR_SVC ? PGML_TASK_CLASSIFICATION : PGML_TASK_REGRESSION;
	if (task != (unsigned) st->task ||
		!(st->task == PGML_TASK_CLASSIFICATION ? solver_is_classification((int) solver) :
		  solver_is_regression((int) solver)) ||
		!(st->bias == -1 || (st->bias >= 0 && st->bias <= DBL_MAX)))
	{
		reason = "The model header is invalid";
		goto corrupt;
	}
	st->solver = (int) solver;
	if (n_features == 0 || n_features > MAX_FEATURES ||
		(st->task == PGML_TASK_CLASSIFICATION ? nr_class < 2 || nr_class > MAX_CLASSES : nr_class != 2))
	{
		reason = "The model dimensions are out of range";
		goto corrupt;
	}
	st->n_features = (size_t) n_features;
	st->nr_class = (int) nr_class;
	if (!pgml_mul_size(lin_w_size(st), lin_nr_w(st->solver, st->nr_class), &w_n) || w_n > MAX_CELLS)
	{
		reason = "The model dimensions are out of range";
		goto corrupt;
	}
	if (st->task == PGML_TASK_CLASSIFICATION)
	{
		st->label = load_labels(in, st->nr_class);
		if (st->label == NULL)
		{
			reason = pgml_reader_status(in) != PGML_OK ? reason : "The class labels are invalid";
			goto corrupt;
		}
	}
	if (!load_f64s(in, w_n, &st->w))
		goto corrupt;
	if (!load_params(in, &st->params))
	{
		reason = pgml_reader_status(in) != PGML_OK ? reason : "The stored hyperparameters are not a JSON object";
		goto corrupt;
	}
	if (!all_finite(st->w, w_n))
	{
		reason = "A weight is not finite";
		goto corrupt;
	}
	build_lin_model(st);
	*state = st;
	return PGML_OK;

corrupt:
	lin_state_free(st);
	return load_fail(in, err, reason);
}

/* ---------------------------------------------------------------------------------------------------
 * The tables
 * ------------------------------------------------------------------------------------------------- */

const pgml_algorithm pgml_algo_svm = {
	.name = "svm",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = svr_params,
	.params_classification = svc_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = ksvm_fit,
	.n_outputs = ksvm_n_outputs,
	.predict = ksvm_predict,
	.params = ksvm_params,
	.save = ksvm_save,
	.load = ksvm_load,
	.free = ksvm_state_free,
};

const pgml_algorithm pgml_algo_nu_svm = {
	.name = "nu_svm",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = nu_svr_params,
	.params_classification = nu_svc_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = nu_svm_fit,
	.n_outputs = ksvm_n_outputs,
	.predict = ksvm_predict,
	.params = ksvm_params,
	.save = ksvm_save,
	.load = nu_svm_load,
	.free = ksvm_state_free,
};

const pgml_algorithm pgml_algo_linear_svm = {
	.name = "linear_svm",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = linear_svr_params,
	.params_classification = linear_svc_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = false,
	.fit = linear_svm_fit,
	.n_outputs = lin_n_outputs,
	.predict = lin_predict,
	.params = lin_params,
	.save = lin_save,
	.load = lin_load,
	.free = lin_state_free,
};
