/*
 * trees.h — the tree machinery of trees.c shared by the other tree models (private to core/src/learn and
 * core/tests).
 *
 * trees.c owns the fitted form of every tree model: node arrays (trees_tree), the fitted state
 * (trees_state) with its prediction, save and load, and the CART builder. boost.c (hist_gradient_boosting,
 * lightgbm) grows its own histogram trees into the same node arrays; ensemble.c (ada_boost, bagging) grows
 * CART trees through trees_cart_* and trees_bagging_fit. The algorithm tables are declared in algorithms.h.
 */
#ifndef PGML_LEARN_TREES_H
#define PGML_LEARN_TREES_H

#include <stddef.h>
#include <stdint.h>

#include "pgml/json.h"
#include "pgml/learn.h"

/* ---------------------------------------------------------------------------------------------------
 * Random numbers: xoshiro256** seeded through splitmix64 (every tree model draws from these)
 * ------------------------------------------------------------------------------------------------- */

typedef struct trees_rng
{
	uint64_t	s[4];
} trees_rng;

static inline uint64_t
trees_splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void
trees_rng_seed(trees_rng *r, uint64_t seed)
{
	uint64_t	x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = trees_splitmix64(&x);
}

static inline uint64_t
trees_rng_next(trees_rng *r)
{
	uint64_t   *s = r->s;
	uint64_t	x = s[1] * 5;
	uint64_t	result = ((x << 7) | (x >> 57)) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return result;
}

/* Uniform in [0, 1). */
static inline double
trees_rng_double(trees_rng *r)
{
	return (double) (trees_rng_next(r) >> 11) * 0x1p-53;
}

/* Uniform in [0, n), n >= 1 (n < 2^52). */
static inline size_t
trees_rng_below(trees_rng *r, size_t n)
{
	size_t		k = (size_t) (trees_rng_double(r) * (double) n);

	return k < n ? k : n - 1;
}

/* ---------------------------------------------------------------------------------------------------
 * Fitted trees and the fitted state
 * ------------------------------------------------------------------------------------------------- */

typedef struct trees_node
{
	int32_t		feature;		/* the split feature, or -1 for a leaf */
	uint32_t	child;			/* internal: the left child (the right one follows it); leaf: its leaf index */
	float		threshold;		/* rows with x[feature] <= threshold go left */
} trees_node;

/*
 * A tree: both children of a node follow it, the right one right after the left one, and leaves are
 * numbered in node order (trees_load checks all of that).
 */
typedef struct trees_tree
{
	uint32_t	n_nodes;
	uint32_t	n_leaves;
	trees_node *nodes;
	double	   *values;			/* n_leaves × n_values */
} trees_tree;

typedef enum trees_kind
{
	TREES_KIND_RANDOM_FOREST = 1,
	TREES_KIND_EXTRA_TREES,
	TREES_KIND_GRADIENT_BOOSTING,
	TREES_KIND_HIST_GRADIENT_BOOSTING,
	TREES_KIND_LIGHTGBM,
	TREES_KIND_ADA_BOOST,
	TREES_KIND_BAGGING,
} trees_kind;

typedef enum trees_output
{
	TREES_OUT_MEAN = 1,			/* forests, bagging: the mean of the trees' leaf values */
	TREES_OUT_RAW,				/* boosting regression: init + learning_rate · Σ leaf values */
	TREES_OUT_SIGMOID,			/* boosting, two classes: [1 - σ(z), σ(z)] */
	TREES_OUT_EXPONENTIAL,		/* boosting with the exponential loss: [1 - σ(2z), σ(2z)] */
	TREES_OUT_SOFTMAX,			/* boosting, several classes: softmax over one raw value per class */
	TREES_OUT_EXP,				/* boosting with a log link (poisson): e^z */
	TREES_OUT_SAMME,			/* AdaBoost classifier: Σ leaf vectors d, then softmax(d / (K - 1)) (two
								 * classes: softmax(-δ/2, δ/2) with δ = d1 - d0) */
	TREES_OUT_WEIGHTED_MEDIAN,	/* AdaBoost.R2: the weighted median of the trees' predictions */
} trees_output;

typedef struct trees_state
{
	trees_kind	kind;
	pgml_task	task;
	trees_output output;
	size_t		n_features;
	size_t		n_values;		/* per leaf */
	size_t		n_outputs;		/* per predicted row */
	size_t		per_stage;		/* additive outputs: trees per stage (= raw values per row); else 1 */
	double		learning_rate;
	double	   *init;			/* per_stage initial raw values */
	size_t		n_trees;
	trees_tree *trees;
	double	   *tree_weights;	/* TREES_OUT_WEIGHTED_MEDIAN: n_trees weights; else NULL */
	json_t	   *params;
} trees_state;

/* The leaf of t that row x falls into. */
static inline uint32_t
trees_tree_leaf(const trees_tree *t, const float *x)
{
	const trees_node *nd = t->nodes;
	uint32_t	i = 0;

	while (nd[i].feature >= 0)
		i = nd[i].child + (x[nd[i].feature] > nd[i].threshold);
	return nd[i].child;
}

/* A new empty state with room for max_trees trees (and their weights when the output needs them). */
trees_state *trees_state_new(trees_kind kind, pgml_task task, trees_output output, size_t n_features,
							 size_t n_values, size_t n_outputs, size_t per_stage, size_t max_trees);

/* The pgml_algorithm functions of every tree model. */
void		trees_free(void *state);
size_t		trees_n_outputs(const void *state);
pgml_status trees_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out,
						  pgml_err *err);
json_t	   *trees_params(const void *state);
void		trees_save(const void *state, pgml_buf *out);
/* Reads a state written by trees_save whose kind is `kind`, validating all of it. */
pgml_status trees_load_kind(pgml_reader *in, trees_kind kind, void **state, pgml_err *err);

/* The largest float <= d: a float x satisfies x <= d exactly when x <= this. */
float		trees_float_at_most(double d);

/* ---------------------------------------------------------------------------------------------------
 * Hyperparameters and data checks shared by the tree models
 * ------------------------------------------------------------------------------------------------- */

typedef enum trees_default_type
{
	DEF_NULL,
	DEF_TRUE,
	DEF_FALSE,
	DEF_INT,
	DEF_REAL,
	DEF_STRING,
} trees_default_type;

/* A hyperparameter's default, for the effective parameters. */
typedef struct trees_param_default
{
	const char *name;
	trees_default_type type;
	double		number;
	const char *string;
} trees_param_default;

#define PD_NULL(name)		{name, DEF_NULL, 0, NULL}
#define PD_BOOL(name, v)	{name, (v) ? DEF_TRUE : DEF_FALSE, 0, NULL}
#define PD_INT(name, v)		{name, DEF_INT, v, NULL}
#define PD_REAL(name, v)	{name, DEF_REAL, v, NULL}
#define PD_STR(name, v)		{name, DEF_STRING, 0, v}
#define PD_END				{NULL, DEF_NULL, 0, NULL}

/* The caller's values where given (null included), the defaults elsewhere. NULL when out of memory. */
json_t	   *trees_effective_params(const json_t *hp, const trees_param_default *defaults);

/* The value of key in hp, or NULL when it is missing or JSON null. */
const json_t *trees_hp_value(const json_t *hp, const char *key);

/* "invalid value for hyperparameter "key"", detail: "It must be <what>; it is <v>." */
pgml_status trees_hp_invalid(pgml_err *err, const char *key, const json_t *v, const char *what);

/* A string that must be one of `choices` (NULL-terminated); def when missing. */
pgml_status trees_hp_choice(const json_t *hp, const char *key, const char *def, const char *const *choices,
							const char **out, pgml_err *err);

/* A real in (lo, hi) with open or closed ends. */
pgml_status trees_hp_real_in(const json_t *hp, const char *key, double def, double lo, bool lo_open, double hi,
							 bool hi_open, double *out, pgml_err *err);

/* An integer in [min, max]. */
pgml_status trees_hp_int_min(const json_t *hp, const char *key, int64_t def, int64_t min, int64_t max,
							 int64_t *out, pgml_err *err);

/* random_state: null (the fit's seed) or an integer from 0 to 2^32 - 1, as scikit-learn accepts. */
pgml_status trees_hp_seed(const json_t *hp, uint64_t def, uint64_t *out, pgml_err *err);

/* n_jobs (an integer or null, when has_n_jobs), warm_start (a boolean), verbose (an integer >= 0 or a
 * boolean). */
pgml_status trees_hp_inert(const json_t *hp, bool has_n_jobs, int64_t *verbose, pgml_err *err);

/* Common start of a fit: the task is regression or classification, the keys are known, the data sound. */
pgml_status trees_fit_begin(const pgml_algorithm *algo, const pgml_fit_args *args, const pgml_data *d,
							void **state, pgml_err *err);

/*
 * Marks n_val of n rows held out (is_val[i] = 1) for early stopping, uniformly or, when cls is given
 * (class indices of n_classes classes), stratified: each class gets its share by largest remainders
 * and keeps a row on both sides. *n_val_out receives the count held out.
 */
pgml_status trees_holdout(const float *cls, size_t n, int n_classes, size_t n_val, trees_rng *rng,
						  uint8_t *is_val, size_t *n_val_out, pgml_err *err);

/* ---------------------------------------------------------------------------------------------------
 * Growing CART trees (scikit-learn's DecisionTree{Classifier,Regressor} rules, see trees.c)
 * ------------------------------------------------------------------------------------------------- */

typedef struct trees_cart trees_cart;

/*
 * Prepares to grow trees on d: classification (gini) on class indices of n_classes classes, or regression
 * (squared error) on the first target. max_depth 0 means unlimited; every other setting is scikit-learn's
 * default (min_samples_split 2, min_samples_leaf 1, all features). The pool, if any, searches the features
 * of large nodes in parallel.
 */
pgml_status trees_cart_new(const pgml_data *d, bool classification, int n_classes, size_t max_depth,
						   pgml_pool *pool, trees_cart **out, pgml_err *err);

/*
 * Grows a tree on the rows of positive weight w[0, n) (seed decides ties between equally good splits) into
 * *t (new allocations): leaves hold class probabilities or means. PGML_ERR_CANCELLED when stopped.
 */
pgml_status trees_cart_grow(trees_cart *c, const double *w, uint64_t seed, trees_tree *t, pgml_err *err);
void		trees_cart_free(trees_cart *c);
void		trees_tree_free(trees_tree *t);

/* What sklearn.ensemble.Bagging{Regressor,Classifier} asks of its decision trees. */
typedef struct trees_bagging_opts
{
	size_t		n_estimators;
	size_t		max_samples;	/* rows drawn per tree, 1..n */
	size_t		max_features;	/* features drawn per tree, 1..p */
	bool		bootstrap;		/* rows with replacement */
	bool		bootstrap_features; /* features with replacement */
	bool		oob_score;
	uint64_t	seed;
	int64_t		verbose;
} trees_bagging_opts;

/*
 * Fits bagged decision trees (gini or squared error, grown fully) in parallel on the pool; params
 * (stolen, even on error) become the state's effective hyperparameters.
 */
pgml_status trees_bagging_fit(const pgml_algorithm *algo, const pgml_fit_args *args, const pgml_data *train,
							  const trees_bagging_opts *opts, json_t *params, void **state, pgml_err *err);

/* ---------------------------------------------------------------------------------------------------
 * Test hooks
 * ------------------------------------------------------------------------------------------------- */

/* How the best-split search gets each node's rows in feature order (see trees.c). */
typedef enum trees_sort_mode
{
	TREES_SORT_AUTO = 0,		/* presorted when it pays and fits in memory, else per node */
	TREES_SORT_PRESORTED,		/* force presorted feature lists */
	TREES_SORT_PER_NODE,		/* force sorting at every node */
} trees_sort_mode;

/*
 * Forces a sort mode for the fits that follow (TREES_SORT_AUTO restores the default). A process-wide
 * setting for tests only: both modes grow identical trees, which is what the tests check.
 */
void		trees_set_sort_mode(trees_sort_mode mode);

/* The shape of a fitted state: its number of trees, and the leaves and depth of tree i. */
size_t		trees_count(const void *state);
size_t		trees_leaves(const void *state, size_t i);
size_t		trees_depth(const void *state, size_t i);

#endif							/* PGML_LEARN_TREES_H */
