/*
 * trees.c — CART decision trees and three ensembles of them, standing for scikit-learn 1.2's
 * RandomForestRegressor / RandomForestClassifier ("random_forest"), ExtraTreesRegressor /
 * ExtraTreesClassifier ("extra_trees") and GradientBoostingRegressor / GradientBoostingClassifier
 * ("gradient_boosting_trees").
 *
 * Growing a tree (scikit-learn's rules, our code):
 *   - Rows carry weights: bootstrap counts (times class weights) in forests, 1 or 0 (subsample) in boosting.
 *     Rows of weight 0 are not in the tree at all; min_samples_* count the distinct rows of a node.
 *   - A node is a leaf when depth >= max_depth, it has fewer than min_samples_split (or 2 min_samples_leaf)
 *     rows or less than 2 min_weight_leaf weight, or its impurity is <= DBL_EPSILON. Otherwise features are
 *     drawn at random without replacement until max_features of them were drawn, going on past that while
 *     every feature drawn was constant in the node; features found constant are remembered for the whole
 *     subtree (depth-first growth only, as scikit-learn). The best split of the drawn features wins (the
 *     first drawn on ties); a split whose impurity decrease (weighted by the node's share of the weight)
 *     falls short of min_impurity_decrease makes a leaf.
 *   - Best splits ("random_forest", boosting): every boundary between two distinct values (values closer
 *     than 1e-7 count as equal) is a candidate; its threshold is the midpoint, in double. Random splits
 *     ("extra_trees"): one threshold per feature, uniform between the node's minimum and maximum. Nodes
 *     keep the largest float not above the threshold, which splits float inputs exactly the same way.
 *   - Criteria: gini, entropy (= log_loss), squared_error and friedman_mse, multi-output as scikit-learn
 *     (impurities averaged over the outputs, the squared-error proxy summed over them). The Gini proxy is
 *     computed from the class sums at each boundary as scikit-learn does (incremental sums of squares cancel
 *     catastrophically when weights span many orders of magnitude, as AdaBoost's do).
 *   - max_leaf_nodes grows best first (largest impurity decrease first); otherwise depth first.
 *   - ccp_alpha prunes to the smallest subtree minimizing R(T) + alpha |leaves(T)|, which is the tree that
 *     scikit-learn's weakest-link pruning stops at; it is computed bottom-up in one pass (boosting too).
 *
 * The split search is exact and histogram-free. Each node needs its rows in the order of each drawn feature;
 * two ways to get it, which grow identical trees:
 *   presorted   every feature's (value, row) list is sorted once per fit; a tree keeps, per feature, the
 *               list of its rows with the rows of each node contiguous, and a split partitions every list
 *               stably (O(rows) per feature, no sorting). Used when features <= PRESORT_RATIO · max_features
 *               and the lists fit in PRESORT_MAX_BYTES.
 *   per node    the drawn feature's values of the node's rows are gathered and sorted (stable LSD radix sort
 *               on the float bits, insertion sort for small nodes): O(m log m) per drawn feature, less memory.
 * Rows are always kept in ascending order inside a node and values sort by (value, row), so both ways visit
 * the same sequence and sum in the same order. Random splits need no order and use the per-node way.
 *
 * Hyperparameters keep scikit-learn's names, defaults and ranges. n_jobs is checked and recorded: the threads
 * are the pool's (pgml.threads). warm_start is checked and has no effect (every fit starts afresh); verbose > 0
 * logs progress. class_weight takes null, "balanced" and "balanced_subsample" (a dict would name label values,
 * which algorithms never see: NOT_SUPPORTED). oob_score computes the out-of-bag score (accuracy or R²) and
 * reports it through the log hook. init takes null or "zero".
 *
 * Parallelism: a forest grows one tree per work item of the pool, each worker in its own preallocated
 * scratch, writing into an output slot preallocated for the largest possible tree; trees are grown in
 * rounds of 2 × pool size and copied out between rounds (workers never allocate). Every tree draws from its
 * own generator, whose seed the fit's generator draws in tree order, so the pool changes nothing in the
 * result. Memory: per thread O(rows × features) in presorted mode (O(rows) otherwise), per slot O(rows).
 * Boosting grows one tree at a time and evaluates the drawn features of large nodes (and partitions the
 * presorted lists) in parallel, combining the per-feature results in drawing order. predict gets no pool
 * through pgml_algorithm and runs serially, in blocks of rows (all trees over one block of rows at a time).
 *
 * Gradient boosting follows sklearn.ensemble._gb: the initial raw prediction comes from the prior (mean,
 * median or quantile by numpy's linear interpolation, log-odds of the class priors, or zero with init
 * "zero"); each stage fits a friedman_mse (or squared_error) tree to the negative gradient and replaces
 * the leaf values by the loss's line search (means; weighted medians for absolute_error; Huber's median
 * plus clipped mean; quantiles; one Newton step for log_loss and exponential). Early stopping
 * (n_iter_no_change) holds out validation_fraction of the rows (stratified for classification) with our
 * generator, so the held-out rows differ from scikit-learn's, and stops as scikit-learn does.
 *
 * trees.h shares all of this with the other tree models: the node arrays and fitted state (hist_gradient_boosting
 * and lightgbm in boost.c grow their own histogram trees into them), single CART trees on any row weights
 * (trees_cart_*: ada_boost) and the forest machinery with bagging's row and feature draws
 * (trees_bagging_fit). Their kinds share prediction, save and load; outputs add e^z (poisson), AdaBoost's
 * SAMME decision and AdaBoost.R2's weighted median.
 *
 * Saved form (inside the model file), little-endian:
 *   u32 format (1) · u8 kind · u8 task · u8 output · u64 n_features · u32 n_values (per leaf) ·
 *   u32 n_outputs (of predict) · u32 per_stage (boosting: trees per stage, else 1) · f64 learning_rate ·
 *   f64s init (per_stage values) · u64 n_trees · per tree: u32 n_nodes · u32 n_leaves · n_nodes ×
 *   (u32 feature or 0xffffffff for a leaf · u32 left child or leaf index · f32 threshold) · f64s leaf values
 *   (n_leaves × n_values) · f64s tree weights (n_trees; weighted-median output only) · str effective
 *   hyperparameters (JSON)
 * Nodes are stored so that both children of a node follow it, the right one right after the left one, and
 * leaves are numbered in node order; loading checks all of that, so that prediction always terminates.
 */
#include "algorithms.h"
#include "trees.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pgml/json.h"

#define TREES_FORMAT		1
#define MAX_ROWS			((size_t) 1 << 30)	/* so that node indices (< 2 rows) fit in 31 bits */
#define MAX_FEATURES		((size_t) 1 << 24)
#define MAX_VALUES			((size_t) 1 << 16)	/* classes or outputs per leaf */
#define MAX_TREES			((size_t) 1 << 24)
#define MAX_ESTIMATORS		((int64_t) 1 << 20)
#define MAX_NODES			((size_t) INT32_MAX)
#define MAX_PARAMS_JSON		65536
#define FEATURE_THRESHOLD	1e-7		/* values closer than this are not split apart */
#define STOP_WORK			((size_t) 1 << 21)	/* row visits (about) between two polls of the stop hook */
#define PAR_MIN_WORK		((size_t) 1 << 15)	/* row visits of a node worth a parallel split search */
#define PRESORT_RATIO		4	/* presort when n_features <= this × max_features */
#define PRESORT_MAX_BYTES	((size_t) 1 << 30)
#define PREDICT_BLOCK		128
#define LEAF_NONE			UINT32_MAX

static trees_sort_mode forced_sort_mode = TREES_SORT_AUTO;

void
trees_set_sort_mode(trees_sort_mode mode)
{
	forced_sort_mode = mode;
}

typedef trees_rng rng;

/* ---------------------------------------------------------------------------------------------------
 * Sorting (value, row) entries by value, stably
 * ------------------------------------------------------------------------------------------------- */

typedef struct entry
{
	float		v;
	uint32_t	row;
} entry;

/* An unsigned key with the order of the floats (-0 just before +0; no NaN here). */
static inline uint32_t
float_key(float v)
{
	uint32_t	u;

	memcpy(&u, &v, sizeof(u));
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* Sorts a[0..n) by value, stably (tmp: n entries of scratch). */
static void
sort_entries(entry *a, entry *tmp, size_t n)
{
	uint32_t	count[4][256];
	entry	   *src = a;
	entry	   *dst = tmp;

	if (n <= 48)
	{
		for (size_t i = 1; i < n; i++)
		{
			entry		e = a[i];
			uint32_t	k = float_key(e.v);
			size_t		j = i;

			while (j > 0 && float_key(a[j - 1].v) > k)
			{
				a[j] = a[j - 1];
				j--;
			}
			a[j] = e;
		}
		return;
	}
	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < n; i++)
	{
		uint32_t	k = float_key(a[i].v);

		count[0][k & 255]++;
		count[1][(k >> 8) & 255]++;
		count[2][(k >> 16) & 255]++;
		count[3][k >> 24]++;
	}
	for (int pass = 0; pass < 4; pass++)
	{
		int			shift = 8 * pass;
		uint32_t   *c = count[pass];
		uint32_t	sum = 0;
		entry	   *t;

		if (c[(float_key(src[0].v) >> shift) & 255] == n)
			continue;			/* every key has this digit */
		for (int d = 0; d < 256; d++)
		{
			uint32_t	k = c[d];

			c[d] = sum;
			sum += k;
		}
		for (size_t i = 0; i < n; i++)
			dst[c[(float_key(src[i].v) >> shift) & 255]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(entry));
}

/* ---------------------------------------------------------------------------------------------------
 * Fitted trees and the fitted state
 * ------------------------------------------------------------------------------------------------- */

typedef trees_node tnode;
typedef trees_tree tree;

void
trees_free(void *state)
{
	trees_state *st = state;

	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_trees; i++)
	{
		pgml_free(st->trees[i].nodes);
		pgml_free(st->trees[i].values);
	}
	pgml_free(st->trees);
	pgml_free(st->init);
	pgml_free(st->tree_weights);
	json_decref(st->params);
	pgml_free(st);
}

void
trees_tree_free(trees_tree *t)
{
	if (t == NULL)
		return;
	pgml_free(t->nodes);
	pgml_free(t->values);
	memset(t, 0, sizeof(*t));
}

/* Whether the output adds up raw values per stage (init + learning_rate · Σ leaf values). */
static bool
output_is_additive(trees_output output)
{
	return output == TREES_OUT_RAW || output == TREES_OUT_SIGMOID || output == TREES_OUT_EXPONENTIAL ||
		output == TREES_OUT_SOFTMAX || output == TREES_OUT_EXP;
}

trees_state *
trees_state_new(trees_kind kind, pgml_task task, trees_output output, size_t n_features, size_t n_values,
				size_t n_outputs, size_t per_stage, size_t max_trees)
{
	trees_state *st = pgml_calloc(1, sizeof(trees_state));

	if (st == NULL)
		return NULL;
	st->kind = kind;
	st->task = task;
	st->output = output;
	st->n_features = n_features;
	st->n_values = n_values;
	st->n_outputs = n_outputs;
	st->per_stage = per_stage;
	st->learning_rate = 1.0;
	st->init = pgml_calloc(per_stage, sizeof(double));
	st->trees = pgml_calloc(max_trees > 0 ? max_trees : 1, sizeof(trees_tree));
	if (output == TREES_OUT_WEIGHTED_MEDIAN)
		st->tree_weights = pgml_calloc(max_trees > 0 ? max_trees : 1, sizeof(double));
	if (st->init == NULL || st->trees == NULL || (output == TREES_OUT_WEIGHTED_MEDIAN && st->tree_weights == NULL))
	{
		trees_free(st);
		return NULL;
	}
	return st;
}

static pgml_status
out_of_memory(pgml_err *err)
{
	return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
}

/* The largest float <= d: a float x satisfies x <= d exactly when x <= this. */
float
trees_float_at_most(double d)
{
	float		f = (float) d;

	if ((double) f > d)
		f = nextafterf(f, -INFINITY);
	return f;
}

/* ---------------------------------------------------------------------------------------------------
 * Growing one tree
 * ------------------------------------------------------------------------------------------------- */

typedef enum split_crit
{
	CRIT_GINI,
	CRIT_ENTROPY,
	CRIT_MSE,
	CRIT_FRIEDMAN,
} split_crit;

/* How trees grow (the hyperparameters, resolved against the data). */
typedef struct tree_spec
{
	split_crit	crit;
	bool		random_split;	/* extra trees: one random threshold per drawn feature */
	size_t		max_features;	/* features drawn per node, 1..n_features */
	size_t		max_depth;		/* SIZE_MAX: unlimited */
	size_t		min_samples_split;
	size_t		min_samples_leaf;
	double		min_weight_fraction;	/* of the tree's total weight, per leaf */
	size_t		max_leaf_nodes; /* 0: depth first without a limit; else best first */
	double		min_impurity_decrease;
	double		ccp_alpha;
} tree_spec;

/* The training data as the trees see it, shared read-only by all of them. */
typedef struct tree_input
{
	size_t		n;				/* rows */
	size_t		p;				/* features */
	size_t		nv;				/* classes (classification) or outputs (regression) */
	bool		classification;
	const float *xcol;			/* p × n, column-major */
	const entry *sorted;		/* p × n: each column's (value, row) in sort order; NULL: sort per node */
	const uint32_t *cls;		/* n class indices */
	const double *y;			/* n × nv targets */
} tree_input;

/*
 * A tree being grown, with room for the largest tree the data allow. Node i's rows are rows[start, end) of
 * the builder. After prune_and_compact, nodes[0, n_nodes) are final, sums holds n_leaves × nv leaf values
 * (probabilities or means) and start/end the rows of each leaf.
 */
typedef struct slot
{
	size_t		cap;
	size_t		n_nodes;
	size_t		n_leaves;
	tnode	   *nodes;
	double	   *sums;			/* cap × nv: class weights, or weighted target sums */
	double	   *weight;			/* cap */
	double	   *impurity;		/* cap */
	uint32_t   *start;			/* cap */
	uint32_t   *end;			/* cap */
	uint32_t   *map;			/* cap: compaction scratch */
} slot;

/* A feature drawn at a node, and the best split found on it. */
typedef struct candidate
{
	uint32_t	feature;
	double		draw;			/* random splits: the drawn threshold */
	bool		found;			/* some split satisfies the leaf constraints */
	double		proxy;			/* its proxy impurity improvement (larger is better) */
	size_t		n_left;			/* rows going left */
	double		threshold;		/* rows with x <= threshold go left */
} candidate;

/* Scratch of one thread evaluating features. */
typedef struct lane
{
	entry	   *buf;			/* per-node sorting: the node's values */
	entry	   *tmp;			/* sort and partition scratch */
	double	   *acc;			/* nv running sums */
} lane;

typedef struct frame
{
	uint32_t	node;
	uint32_t	n_const;		/* features known to be constant in the node */
	uint32_t	depth;
} frame;

typedef struct frontier
{
	uint32_t	node;
	uint32_t	depth;
	double		improvement;
	bool		is_leaf;
} frontier;

/* A row's weight and weighted target (single-output regression), together for the split scan. */
typedef struct wpair
{
	double		w;
	double		wy;
} wpair;

/* Everything one tree needs besides its output slot; reused from tree to tree. */
typedef struct builder
{
	const tree_spec *spec;
	const tree_input *in;
	size_t		cap_rows;
	size_t		cap_nodes;
	double	   *w;				/* n: each row's weight in this tree (0: not in it) */
	wpair	   *wy;				/* n: single-output regression: (w, w·y) of the rows in the tree */
	uint32_t   *rows;			/* cap_rows */
	uint32_t   *rows_tmp;		/* cap_rows */
	uint8_t    *mark;			/* n: goes left */
	entry	   *lists;			/* presorted: p × cap_rows */
	uint32_t   *feat;			/* n_active: a permutation of the active features, the node's known constants
								 * first */
	uint32_t   *active;			/* p: the features this tree may split on (bagging: a subset) */
	size_t		n_active;
	uint32_t   *cst;			/* p: known constants of the nodes on the current path */
	uint8_t    *is_const;		/* p */
	uint32_t   *part;			/* p: lists to partition */
	candidate  *cand;			/* p */
	frame	   *stack;
	size_t		stack_cap;
	frontier   *heap;
	size_t		heap_cap;
	double	   *lsum;			/* nv */
	double	   *rsum;			/* nv */
	double	   *aux;			/* nv */
	lane	   *lanes;
	size_t		n_lanes;
	pgml_pool  *pool;			/* parallel split search, or NULL */
	atomic_bool *abort;			/* set when a sibling worker stopped (forests), or NULL */
	rng			rng;
	size_t		n_rows;			/* rows in the current tree */
	double		total_weight;
	double		min_weight_leaf;
	size_t		work;
	bool		cancelled;
	bool		failed;
	slot	   *out;
} builder;

static void
slot_free(slot *s)
{
	pgml_free(s->nodes);
	pgml_free(s->sums);
	pgml_free(s->weight);
	pgml_free(s->impurity);
	pgml_free(s->start);
	pgml_free(s->end);
	pgml_free(s->map);
	memset(s, 0, sizeof(*s));
}

static bool
slot_alloc(slot *s, size_t cap, size_t nv)
{
	memset(s, 0, sizeof(*s));
	s->cap = cap;
	s->nodes = pgml_malloc(cap * sizeof(tnode));
	s->sums = pgml_malloc(cap * nv * sizeof(double));
	s->weight = pgml_malloc(cap * sizeof(double));
	s->impurity = pgml_malloc(cap * sizeof(double));
	s->start = pgml_malloc(cap * sizeof(uint32_t));
	s->end = pgml_malloc(cap * sizeof(uint32_t));
	s->map = pgml_malloc(cap * sizeof(uint32_t));
	if (s->nodes == NULL || s->sums == NULL || s->weight == NULL || s->impurity == NULL || s->start == NULL ||
		s->end == NULL || s->map == NULL)
	{
		slot_free(s);
		return false;
	}
	return true;
}

/* The most nodes a tree on n_rows distinct rows can have under spec (its slot's capacity). */
static size_t
node_bound(const tree_spec *sp, size_t n_rows)
{
	size_t		leaves = n_rows / sp->min_samples_leaf;

	if (leaves < 1)
		leaves = 1;
	if (sp->max_depth < 31 && ((size_t) 1 << sp->max_depth) < leaves)
		leaves = (size_t) 1 << sp->max_depth;
	if (sp->max_leaf_nodes > 0)
	{
		/* best first computes the split of every node it queues: up to two unused children each */
		if (sp->max_leaf_nodes < leaves)
			leaves = sp->max_leaf_nodes;
		return 4 * leaves;
	}
	return 2 * leaves - 1;
}

static void
builder_free(builder *b)
{
	pgml_free(b->w);
	pgml_free(b->wy);
	pgml_free(b->rows);
	pgml_free(b->rows_tmp);
	pgml_free(b->mark);
	pgml_free(b->lists);
	pgml_free(b->feat);
	pgml_free(b->active);
	pgml_free(b->cst);
	pgml_free(b->is_const);
	pgml_free(b->part);
	pgml_free(b->cand);
	pgml_free(b->stack);
	pgml_free(b->heap);
	pgml_free(b->lsum);
	pgml_free(b->rsum);
	pgml_free(b->aux);
	for (size_t i = 0; b->lanes != NULL && i < b->n_lanes; i++)
	{
		pgml_free(b->lanes[i].buf);
		pgml_free(b->lanes[i].tmp);
		pgml_free(b->lanes[i].acc);
	}
	pgml_free(b->lanes);
	memset(b, 0, sizeof(*b));
}

/*
 * Allocates a builder for trees of at most cap_rows distinct rows of `in`, with n_lanes threads evaluating
 * features (1 unless pool is given). False when out of memory.
 */
static bool
builder_alloc(builder *b, const tree_spec *sp, const tree_input *in, size_t cap_rows, size_t n_lanes,
			  pgml_pool *pool)
{
	size_t		p = in->p;
	size_t		nv = in->nv;
	bool		need_buf = in->sorted == NULL && !sp->random_split;
	bool		need_tmp = need_buf || in->sorted != NULL;
	bool		ok;

	memset(b, 0, sizeof(*b));
	b->spec = sp;
	b->in = in;
	b->cap_rows = cap_rows;
	b->cap_nodes = node_bound(sp, cap_rows);
	b->pool = n_lanes > 1 ? pool : NULL;
	b->w = pgml_malloc(in->n * sizeof(double));
	if (!in->classification && nv == 1)
		b->wy = pgml_malloc(in->n * sizeof(wpair));
	b->rows = pgml_malloc(cap_rows * sizeof(uint32_t));
	b->rows_tmp = pgml_malloc(cap_rows * sizeof(uint32_t));
	b->mark = pgml_malloc(in->n);
	if (in->sorted != NULL)
		b->lists = pgml_malloc(p * cap_rows * sizeof(entry));
	b->feat = pgml_malloc(p * sizeof(uint32_t));
	b->active = pgml_malloc(p * sizeof(uint32_t));
	b->cst = pgml_malloc(p * sizeof(uint32_t));
	b->is_const = pgml_calloc(p, 1);
	b->part = pgml_malloc(p * sizeof(uint32_t));
	b->cand = pgml_malloc(p * sizeof(candidate));
	b->stack_cap = b->cap_nodes / 2 + 2;
	b->stack = pgml_malloc(b->stack_cap * sizeof(frame));
	if (sp->max_leaf_nodes > 0)
	{
		b->heap_cap = sp->max_leaf_nodes + 2;
		b->heap = pgml_malloc(b->heap_cap * sizeof(frontier));
	}
	b->lsum = pgml_malloc(nv * sizeof(double));
	b->rsum = pgml_malloc(nv * sizeof(double));
	b->aux = pgml_malloc(nv * sizeof(double));
	b->lanes = pgml_calloc(n_lanes, sizeof(lane));
	b->n_lanes = n_lanes;
	ok = b->w && (in->classification || nv != 1 || b->wy) && b->rows && b->rows_tmp && b->mark && (in->sorted == NULL || b->lists) && b->feat && b->active && b->cst &&
		b->is_const && b->part && b->cand && b->stack && (sp->max_leaf_nodes == 0 || b->heap) && b->lsum &&
		b->rsum && b->aux && b->lanes;
	for (size_t i = 0; ok && i < n_lanes; i++)
	{
		lane	   *ln = &b->lanes[i];

		ln->acc = pgml_malloc(nv * sizeof(double));
		if (need_buf)
			ln->buf = pgml_malloc(cap_rows * sizeof(entry));
		if (need_tmp)
			ln->tmp = pgml_malloc(cap_rows * sizeof(entry));
		ok = ln->acc && (!need_buf || ln->buf) && (!need_tmp || ln->tmp);
	}
	if (!ok)
	{
		builder_free(b);
		return false;
	}
	for (size_t f = 0; f < p; f++)
		b->active[f] = (uint32_t) f;
	b->n_active = p;
	return true;
}

/* Sums over rows[start, end): per class weights or weighted target sums, the weight, the weighted squares. */
static void
node_sums(const builder *b, size_t start, size_t end, double *sums, double *weight, double *sq)
{
	const tree_input *in = b->in;
	size_t		nv = in->nv;
	double		w = 0;
	double		s2 = 0;

	memset(sums, 0, nv * sizeof(double));
	for (size_t i = start; i < end; i++)
	{
		uint32_t	r = b->rows[i];
		double		wi = b->w[r];

		w += wi;
		if (in->classification)
			sums[in->cls[r]] += wi;
		else
		{
			const double *yr = in->y + (size_t) r * nv;

			for (size_t o = 0; o < nv; o++)
			{
				sums[o] += wi * yr[o];
				s2 += wi * yr[o] * yr[o];
			}
		}
	}
	*weight = w;
	*sq = s2;
}

static inline double
xlog2x(double x)
{
	return x > 0 ? x * log2(x) : 0.0;
}

/* A node's impurity from its sums (scikit-learn's formulas; averaged over outputs). */
static double
node_impurity(const builder *b, const double *sums, double w, double sq)
{
	size_t		nv = b->in->nv;

	if (b->in->classification)
	{
		if (b->spec->crit == CRIT_GINI)
		{
			double		s = 0;

			for (size_t k = 0; k < nv; k++)
				s += sums[k] * sums[k];
			return 1.0 - s / (w * w);
		}
		else
		{
			double		h = 0;

			for (size_t k = 0; k < nv; k++)
			{
				if (sums[k] > 0)
				{
					double		q = sums[k] / w;

					h -= q * log2(q);
				}
			}
			return h;
		}
	}
	else
	{
		double		imp = sq / w;

		for (size_t o = 0; o < nv; o++)
		{
			double		m = sums[o] / w;

			imp -= m * m;
		}
		return imp / (double) nv;
	}
}

/* The proxy improvement of a split given its left sums (larger is better; comparable within a node). */
static double
proxy_from_left(const builder *b, const double *left, double wl, const double *tot, double wt)
{
	size_t		nv = b->in->nv;
	double		wr = wt - wl;
	double		pl = 0;
	double		pr = 0;

	switch (b->spec->crit)
	{
		case CRIT_GINI:
		case CRIT_MSE:
			for (size_t k = 0; k < nv; k++)
			{
				double		r = tot[k] - left[k];

				pl += left[k] * left[k];
				pr += r * r;
			}
			return pl / wl + pr / wr;
		case CRIT_ENTROPY:
			for (size_t k = 0; k < nv; k++)
				pl += xlog2x(left[k]) + xlog2x(tot[k] - left[k]);
			return pl - xlog2x(wl) - xlog2x(wr);
		case CRIT_FRIEDMAN:
			for (size_t k = 0; k < nv; k++)
			{
				pl += left[k];
				pr += tot[k] - left[k];
			}
			{
				double		diff = wr * pl - wl * pr;

				return diff * diff / (wl * wr);
			}
	}
	return -INFINITY;
}

/* The node's rows of candidate c in feature order: the presorted list, or gathered and sorted into ln->buf. */
static const entry *
sorted_segment(const builder *b, lane *ln, uint32_t f, size_t start, size_t end)
{
	const float *col;
	size_t		m = end - start;

	if (b->lists != NULL)
		return b->lists + (size_t) f * b->cap_rows + start;
	col = b->in->xcol + (size_t) f * b->in->n;
	for (size_t i = 0; i < m; i++)
	{
		uint32_t	r = b->rows[start + i];

		ln->buf[i].v = col[r];
		ln->buf[i].row = r;
	}
	sort_entries(ln->buf, ln->tmp, m);
	return ln->buf;
}

/* Best split of the node on candidate c's feature: every boundary between distinct values. */
static void
eval_sorted(const builder *b, lane *ln, candidate *c, size_t start, size_t end, const double *tot, double wt)
{
	const tree_input *in = b->in;
	const double *w = b->w;
	size_t		nv = in->nv;
	size_t		m = end - start;
	size_t		msl = b->spec->min_samples_leaf;
	double		mwl = b->min_weight_leaf;
	const entry *seg = sorted_segment(b, ln, c->feature, start, end);
	double		best = -INFINITY;
	size_t		best_n = 0;
	double		wl = 0;

#define BOUNDARY_CHECKS() \
	if ((double) seg[i + 1].v <= (double) seg[i].v + FEATURE_THRESHOLD) \
		continue; \
	nl = i + 1; \
	if (nl < msl) \
		continue; \
	if (m - nl < msl) \
		break; \
	wr = wt - wl; \
	if (wl < mwl || wr < mwl) \
		continue

	if (in->classification && b->spec->crit == CRIT_GINI)
	{
		/*
		 * The proxy from the class sums at each boundary, as scikit-learn computes it: updating the sums of
		 * squares incrementally cancels catastrophically when row weights span many orders of magnitude
		 * (AdaBoost's), making a split that isolates a negligible row look best.
		 */
		double	   *cl = ln->acc;

		memset(cl, 0, nv * sizeof(double));
		for (size_t i = 0; i + 1 < m; i++)
		{
			uint32_t	r = seg[i].row;
			double		wi = w[r];
			size_t		nl;
			double		wr;
			double		sql = 0;
			double		sqr = 0;
			double		proxy;

			cl[in->cls[r]] += wi;
			wl += wi;
			BOUNDARY_CHECKS();
			for (size_t k = 0; k < nv; k++)
			{
				double		cr = tot[k] - cl[k];

				sql += cl[k] * cl[k];
				sqr += cr * cr;
			}
			proxy = -wr * (1.0 - sqr / (wr * wr)) - wl * (1.0 - sql / (wl * wl));
			if (proxy > best)
			{
				best = proxy;
				best_n = nl;
			}
		}
	}
	else if (in->classification)
	{
		double	   *cl = ln->acc;
		double		el = 0;
		double		er = 0;

		memset(cl, 0, nv * sizeof(double));
		for (size_t k = 0; k < nv; k++)
			er += xlog2x(tot[k]);
		for (size_t i = 0; i + 1 < m; i++)
		{
			uint32_t	r = seg[i].row;
			double		wi = w[r];
			uint32_t	k = in->cls[r];
			double		a = cl[k];
			double		ar = tot[k] - a;
			size_t		nl;
			double		wr;
			double		proxy;

			cl[k] = a + wi;
			el += xlog2x(a + wi) - xlog2x(a);
			er += xlog2x(ar - wi) - xlog2x(ar);
			wl += wi;
			BOUNDARY_CHECKS();
			proxy = el + er - xlog2x(wl) - xlog2x(wr);
			if (proxy > best)
			{
				best = proxy;
				best_n = nl;
			}
		}
	}
	else if (nv == 1)
	{
		const wpair *wy = b->wy;
		bool		friedman = b->spec->crit == CRIT_FRIEDMAN;
		double		sl = 0;
		double		st = tot[0];

		for (size_t i = 0; i + 1 < m; i++)
		{
			const wpair *q = &wy[seg[i].row];
			size_t		nl;
			double		wr;
			double		sr;
			double		proxy;

			sl += q->wy;
			wl += q->w;
			BOUNDARY_CHECKS();
			sr = st - sl;
			if (friedman)
			{
				double		diff = wr * sl - wl * sr;

				proxy = diff * diff / (wl * wr);
			}
			else
				proxy = sl * sl / wl + sr * sr / wr;
			if (proxy > best)
			{
				best = proxy;
				best_n = nl;
			}
		}
	}
	else
	{
		double	   *sl = ln->acc;

		memset(sl, 0, nv * sizeof(double));
		for (size_t i = 0; i + 1 < m; i++)
		{
			uint32_t	r = seg[i].row;
			double		wi = w[r];
			const double *yr = in->y + (size_t) r * nv;
			size_t		nl;
			double		wr;
			double		proxy;

			for (size_t o = 0; o < nv; o++)
				sl[o] += wi * yr[o];
			wl += wi;
			BOUNDARY_CHECKS();
			proxy = proxy_from_left(b, sl, wl, tot, wt);
			if (proxy > best)
			{
				best = proxy;
				best_n = nl;
			}
		}
	}
#undef BOUNDARY_CHECKS

	c->found = best_n > 0;
	if (c->found)
	{
		double		lo = seg[best_n - 1].v;
		double		hi = seg[best_n].v;
		double		thr = lo / 2.0 + hi / 2.0;

		if (thr == hi || isinf(thr))
			thr = lo;
		c->proxy = best;
		c->n_left = best_n;
		c->threshold = thr;
	}
}

/* The split of the node at candidate c's drawn threshold (extra trees). */
static void
eval_random(const builder *b, lane *ln, candidate *c, size_t start, size_t end, const double *tot, double wt)
{
	const tree_input *in = b->in;
	size_t		nv = in->nv;
	const float *col = in->xcol + (size_t) c->feature * in->n;
	double		thr = c->draw;
	double	   *acc = ln->acc;
	double		wl = 0;
	size_t		nl = 0;
	size_t		m = end - start;
	size_t		msl = b->spec->min_samples_leaf;

	memset(acc, 0, nv * sizeof(double));
	for (size_t i = start; i < end; i++)
	{
		uint32_t	r = b->rows[i];

		if ((double) col[r] <= thr)
		{
			double		wi = b->w[r];

			nl++;
			wl += wi;
			if (in->classification)
				acc[in->cls[r]] += wi;
			else
			{
				const double *yr = in->y + (size_t) r * nv;

				for (size_t o = 0; o < nv; o++)
					acc[o] += wi * yr[o];
			}
		}
	}
	c->found = false;
	if (nl < msl || m - nl < msl || wl < b->min_weight_leaf || wt - wl < b->min_weight_leaf)
		return;
	c->found = true;
	c->proxy = proxy_from_left(b, acc, wl, tot, wt);
	c->n_left = nl;
	c->threshold = thr;
}

static void
eval_candidate(const builder *b, lane *ln, candidate *c, size_t start, size_t end, const double *tot, double wt)
{
	if (b->spec->random_split)
		eval_random(b, ln, c, start, end, tot, wt);
	else
		eval_sorted(b, ln, c, start, end, tot, wt);
}

/* The range of feature f over the node's rows; true when it is constant there. */
static bool
feature_range(const builder *b, uint32_t f, size_t start, size_t end, float *lo, float *hi)
{
	if (b->lists != NULL)
	{
		const entry *seg = b->lists + (size_t) f * b->cap_rows;

		*lo = seg[start].v;
		*hi = seg[end - 1].v;
	}
	else
	{
		const float *col = b->in->xcol + (size_t) f * b->in->n;
		float		mn = col[b->rows[start]];
		float		mx = mn;

		for (size_t i = start + 1; i < end; i++)
		{
			float		v = col[b->rows[i]];

			if (v < mn)
				mn = v;
			if (v > mx)
				mx = v;
		}
		*lo = mn;
		*hi = mx;
	}
	return (double) *hi <= (double) *lo + FEATURE_THRESHOLD;
}

static inline void
swap_u32(uint32_t *a, size_t i, size_t j)
{
	uint32_t	t = a[i];

	a[i] = a[j];
	a[j] = t;
}

/*
 * Draws the features to evaluate at a node into b->cand and returns their number. b->feat is a permutation
 * of the features whose first *n_const are the node's known constants (equal to b->cst[0, *n_const)).
 * Features are drawn uniformly among those not drawn yet; known constants count as drawn but are not
 * evaluated; features found constant here go right after the known ones (they are known constants for the
 * children: *n_const grows by their number). Drawing stops after max_features draws unless every draw so
 * far was constant. Random splits draw their threshold right after their feature.
 */
static size_t
select_features(builder *b, size_t start, size_t end, uint32_t *n_const)
{
	uint32_t   *feat = b->feat;
	size_t		K = *n_const;
	size_t		drawn_known = 0;
	size_t		found = 0;
	size_t		fi = b->n_active;	/* [fi, n_active): drawn, not constant */
	size_t		visited = 0;
	size_t		nc = 0;

	while (fi > K + found && (visited < b->spec->max_features || visited <= drawn_known + found))
	{
		size_t		known_left = K - drawn_known;
		size_t		j = trees_rng_below(&b->rng, known_left + (fi - K - found));
		size_t		q;
		uint32_t	f;
		float		lo;
		float		hi;

		visited++;
		if (j < known_left)
		{
			swap_u32(feat, drawn_known, drawn_known + j);
			drawn_known++;
			continue;
		}
		q = K + found + (j - known_left);
		f = feat[q];
		if (feature_range(b, f, start, end, &lo, &hi))
		{
			swap_u32(feat, q, K + found);
			found++;
			continue;
		}
		fi--;
		swap_u32(feat, q, fi);
		b->cand[nc].feature = f;
		b->cand[nc].found = false;
		if (b->spec->random_split)
		{
			double		thr = (double) lo + ((double) hi - (double) lo) * trees_rng_double(&b->rng);

			if (thr == (double) hi)
				thr = lo;
			b->cand[nc].draw = thr;
		}
		nc++;
	}
	/* the known constants in their path order for later nodes; the new ones after them */
	memcpy(feat, b->cst, K * sizeof(uint32_t));
	memcpy(b->cst + K, feat + K, found * sizeof(uint32_t));
	*n_const = (uint32_t) (K + found);
	return nc;
}

/* Stable partition of seg[0, m) by the left marks of the rows (tmp: m entries). */
static void
partition_list(const uint8_t *mark, entry *seg, size_t m, entry *tmp)
{
	size_t		l = 0;
	size_t		r = 0;

	for (size_t i = 0; i < m; i++)
	{
		entry		e = seg[i];

		if (mark[e.row])
			seg[l++] = e;
		else
			tmp[r++] = e;
	}
	memcpy(seg + l, tmp, r * sizeof(entry));
}

typedef struct node_job
{
	builder    *b;
	size_t		start;
	size_t		end;
	const double *tot;
	double		wt;
	size_t		n_part;
} node_job;

static lane *
lane_of(builder *b, int worker)
{
	return &b->lanes[worker >= 0 && (size_t) worker < b->n_lanes ? (size_t) worker : 0];
}

/* Pool work: evaluates candidates [begin, end). */
static void
eval_work(void *ctx, size_t begin, size_t end, int worker)
{
	node_job   *j = ctx;
	lane	   *ln = lane_of(j->b, worker);

	for (size_t i = begin; i < end; i++)
		eval_candidate(j->b, ln, &j->b->cand[i], j->start, j->end, j->tot, j->wt);
}

/* Pool work: partitions the presorted lists of features part[begin, end). */
static void
partition_work(void *ctx, size_t begin, size_t end, int worker)
{
	node_job   *j = ctx;
	builder    *b = j->b;
	lane	   *ln = lane_of(b, worker);

	for (size_t i = begin; i < end; i++)
		partition_list(b->mark, b->lists + (size_t) b->part[i] * b->cap_rows + j->start, j->end - j->start,
					   ln->tmp);
}

/* Runs fn over n items: on the pool when the work is large, else here. False when cancelled. */
static bool
node_parallel(builder *b, node_job *job, size_t n, size_t work, pgml_range_fn fn)
{
	if (b->pool != NULL && n > 1 && work >= PAR_MIN_WORK)
	{
		if (pgml_parallel_for(b->pool, n, 1, fn, job, NULL) != PGML_OK)
		{
			b->cancelled = true;
			return false;
		}
	}
	else
		fn(job, 0, n, 0);
	return true;
}

/*
 * Decides node `id` of the output: a leaf, or a split. A split partitions the node's rows (and lists),
 * allocates both children with their rows, sums, weights and impurities, and returns true with its
 * impurity decrease in *improvement. *n_const: the node's known constant features in, the children's out.
 */
static bool
grow_node(builder *b, uint32_t id, size_t depth, uint32_t *n_const, double *improvement)
{
	slot	   *o = b->out;
	const tree_spec *sp = b->spec;
	const tree_input *in = b->in;
	size_t		nv = in->nv;
	size_t		start = o->start[id];
	size_t		end = o->end[id];
	size_t		m = end - start;
	double		wn = o->weight[id];
	double		imp = o->impurity[id];
	const double *tot = o->sums + (size_t) id * nv;
	candidate  *best = NULL;
	node_job	job;
	size_t		nc;
	float		thr;
	const float *col;
	double		wl = 0;
	double		wr = 0;
	double		sql = 0;
	double		sqr = 0;
	double		imp_l;
	double		imp_r;
	double		gain;
	size_t		nl = 0;
	uint32_t	left;

	o->nodes[id].feature = -1;
	o->nodes[id].child = 0;
	o->nodes[id].threshold = 0;
	if (depth >= sp->max_depth || m < sp->min_samples_split || m < 2 * sp->min_samples_leaf ||
		wn < 2.0 * b->min_weight_leaf || imp <= DBL_EPSILON)
		return false;

	nc = select_features(b, start, end, n_const);
	job.b = b;
	job.start = start;
	job.end = end;
	job.tot = tot;
	job.wt = wn;
	job.n_part = 0;
	if (!node_parallel(b, &job, nc, nc * m, eval_work))
		return false;
	for (size_t i = 0; i < nc; i++)
		if (b->cand[i].found && (best == NULL || b->cand[i].proxy > best->proxy))
			best = &b->cand[i];
	if (best == NULL)
		return false;

	/* which rows go left: from the sorted list when there is one, else by the threshold */
	thr = trees_float_at_most(best->threshold);
	if (b->lists != NULL && !sp->random_split)
	{
		const entry *seg = b->lists + (size_t) best->feature * b->cap_rows + start;

		for (size_t i = 0; i < m; i++)
			b->mark[seg[i].row] = i < best->n_left;
	}
	else
	{
		col = in->xcol + (size_t) best->feature * in->n;
		for (size_t i = start; i < end; i++)
			b->mark[b->rows[i]] = col[b->rows[i]] <= thr;
	}
	/* the children's sums, in row order */
	memset(b->lsum, 0, nv * sizeof(double));
	memset(b->rsum, 0, nv * sizeof(double));
	for (size_t i = start; i < end; i++)
	{
		uint32_t	r = b->rows[i];
		double		wi = b->w[r];
		bool		go_left = b->mark[r];
		double	   *s = go_left ? b->lsum : b->rsum;

		if (go_left)
		{
			nl++;
			wl += wi;
		}
		else
			wr += wi;
		if (in->classification)
			s[in->cls[r]] += wi;
		else
		{
			const double *yr = in->y + (size_t) r * nv;
			double		q = 0;

			for (size_t k = 0; k < nv; k++)
			{
				s[k] += wi * yr[k];
				q += wi * yr[k] * yr[k];
			}
			if (go_left)
				sql += q;
			else
				sqr += q;
		}
	}
	if (nl != best->n_left)
	{
		b->failed = true;		/* the threshold disagrees with the search: a bug */
		return false;
	}
	imp_l = node_impurity(b, b->lsum, wl, sql);
	imp_r = node_impurity(b, b->rsum, wr, sqr);
	if (sp->crit == CRIT_FRIEDMAN)
	{
		double		tl = 0;
		double		tr = 0;
		double		diff;

		for (size_t k = 0; k < nv; k++)
		{
			tl += b->lsum[k];
			tr += b->rsum[k];
		}
		diff = (wr * tl - wl * tr) / (double) nv;
		gain = diff * diff / (wl * wr * wn);
	}
	else
		gain = wn / b->total_weight * (imp - wr / wn * imp_r - wl / wn * imp_l);
	if (gain + DBL_EPSILON < sp->min_impurity_decrease)
		return false;
	if (o->n_nodes + 2 > o->cap)
	{
		b->failed = true;
		return false;
	}

	/* partition the rows and the presorted lists */
	{
		uint32_t   *rows = b->rows + start;
		size_t		l = 0;
		size_t		r = 0;

		for (size_t i = 0; i < m; i++)
		{
			uint32_t	row = rows[i];

			if (b->mark[row])
				rows[l++] = row;
			else
				b->rows_tmp[r++] = row;
		}
		memcpy(rows + l, b->rows_tmp, r * sizeof(uint32_t));
	}
	if (b->lists != NULL)
	{
		size_t		kc = *n_const;

		for (size_t i = 0; i < kc; i++)
			b->is_const[b->cst[i]] = 1;
		for (size_t i = 0; i < b->n_active; i++)
			if (!b->is_const[b->active[i]])
				b->part[job.n_part++] = b->active[i];
		for (size_t i = 0; i < kc; i++)
			b->is_const[b->cst[i]] = 0;
		if (!node_parallel(b, &job, job.n_part, job.n_part * m, partition_work))
			return false;
	}

	left = (uint32_t) o->n_nodes;
	o->n_nodes += 2;
	o->start[left] = (uint32_t) start;
	o->end[left] = (uint32_t) (start + nl);
	o->start[left + 1] = (uint32_t) (start + nl);
	o->end[left + 1] = (uint32_t) end;
	memcpy(o->sums + (size_t) left * nv, b->lsum, nv * sizeof(double));
	memcpy(o->sums + (size_t) (left + 1) * nv, b->rsum, nv * sizeof(double));
	o->weight[left] = wl;
	o->weight[left + 1] = wr;
	for (uint32_t c = left; c <= left + 1; c++)
	{
		/* leaves until grown (best first may never grow them) */
		o->nodes[c].feature = -1;
		o->nodes[c].child = 0;
		o->nodes[c].threshold = 0;
	}
	o->impurity[left] = imp_l;
	o->impurity[left + 1] = imp_r;
	o->nodes[id].feature = (int32_t) best->feature;
	o->nodes[id].child = left;
	o->nodes[id].threshold = thr;
	*improvement = gain;
	return true;
}

/* Counts work and polls the stop hook (and the sibling workers) now and then. False: stop growing. */
static bool
builder_poll(builder *b, size_t work)
{
	b->work += work;
	if (b->work >= STOP_WORK)
	{
		b->work = 0;
		if ((b->abort != NULL && atomic_load_explicit(b->abort, memory_order_relaxed)) || pgml_should_stop())
			b->cancelled = true;
	}
	return !b->cancelled && !b->failed;
}

/* The work of a node of m rows, for polling. */
static size_t
node_work(const builder *b, size_t m)
{
	return m * (b->spec->max_features + (b->lists != NULL ? b->n_active : 1) + 1);
}

static void
grow_depth_first(builder *b)
{
	slot	   *o = b->out;
	size_t		sp = 0;

	b->stack[sp++] = (frame)
	{
		0, 0, 0
	};
	while (sp > 0)
	{
		frame		fr = b->stack[--sp];
		uint32_t	k = fr.n_const;
		double		gain;

		if (!builder_poll(b, node_work(b, o->end[fr.node] - o->start[fr.node])))
			return;
		if (grow_node(b, fr.node, fr.depth, &k, &gain))
		{
			uint32_t	left = o->nodes[fr.node].child;

			if (sp + 2 > b->stack_cap)
			{
				b->failed = true;
				return;
			}
			b->stack[sp++] = (frame)
			{
				left + 1, k, fr.depth + 1
			};
			b->stack[sp++] = (frame)
			{
				left, k, fr.depth + 1
			};
		}
	}
}

/* Heap order: larger improvement first, then smaller node. */
static inline bool
frontier_before(const frontier *a, const frontier *c)
{
	return a->improvement > c->improvement || (a->improvement == c->improvement && a->node < c->node);
}

static void
heap_push(builder *b, size_t *n, frontier f)
{
	size_t		i = (*n)++;

	while (i > 0)
	{
		size_t		parent = (i - 1) / 2;

		if (!frontier_before(&f, &b->heap[parent]))
			break;
		b->heap[i] = b->heap[parent];
		i = parent;
	}
	b->heap[i] = f;
}

static frontier
heap_pop(builder *b, size_t *n)
{
	frontier	top = b->heap[0];
	frontier	last = b->heap[--(*n)];
	size_t		i = 0;

	for (;;)
	{
		size_t		c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && frontier_before(&b->heap[c + 1], &b->heap[c]))
			c++;
		if (!frontier_before(&b->heap[c], &last))
			break;
		b->heap[i] = b->heap[c];
		i = c;
	}
	if (*n > 0)
		b->heap[i] = last;
	return top;
}

/* Decides a node for best-first growth and queues it. */
static bool
queue_node(builder *b, size_t *n, uint32_t id, uint32_t depth)
{
	uint32_t	k = 0;			/* best first does not carry constant features down */
	double		gain = 0;
	bool		split;

	if (*n >= b->heap_cap)
	{
		b->failed = true;
		return false;
	}
	if (!builder_poll(b, node_work(b, b->out->end[id] - b->out->start[id])))
		return false;
	split = grow_node(b, id, depth, &k, &gain);
	if (b->cancelled || b->failed)
		return false;
	heap_push(b, n, (frontier)
			  {
			  id, depth, split ? gain : 0.0, !split
			  });
	return true;
}

static void
grow_best_first(builder *b)
{
	slot	   *o = b->out;
	size_t		n = 0;
	size_t		splits_left = b->spec->max_leaf_nodes - 1;

	if (!queue_node(b, &n, 0, 0))
		return;
	while (n > 0)
	{
		frontier	f = heap_pop(b, &n);
		uint32_t	left;

		if (f.is_leaf || splits_left == 0)
		{
			o->nodes[f.node].feature = -1;	/* its children, if any, are dropped */
			continue;
		}
		splits_left--;
		left = o->nodes[f.node].child;
		if (!queue_node(b, &n, left, f.depth + 1) || !queue_node(b, &n, left + 1, f.depth + 1))
			return;
	}
}

/*
 * Cost-complexity pruning (when ccp_alpha > 0), then compaction: reachable nodes keep their order (so
 * children still follow their parent, siblings adjacent), leaves are numbered in node order, their values
 * (class probabilities or means) and rows move to the leaf index.
 */
static void
prune_and_compact(builder *b)
{
	slot	   *o = b->out;
	size_t		n = o->n_nodes;
	size_t		nv = b->in->nv;
	double		alpha = b->spec->ccp_alpha;
	uint32_t	kept = 0;
	uint32_t	leaves = 0;

	if (alpha > 0)
	{
		/* impurity[i] becomes the least R_alpha of node i's subtree; children come after parents */
		for (size_t i = n; i-- > 0;)
		{
			double		as_leaf = o->weight[i] / b->total_weight * o->impurity[i] + alpha;

			if (o->nodes[i].feature >= 0)
			{
				uint32_t	c = o->nodes[i].child;
				double		below = o->impurity[c] + o->impurity[c + 1];

				if (as_leaf <= below)
					o->nodes[i].feature = -1;
				else
					as_leaf = below;
			}
			o->impurity[i] = as_leaf;
		}
	}
	for (size_t i = 0; i < n; i++)
		o->map[i] = LEAF_NONE;
	o->map[0] = 0;
	for (size_t i = 0; i < n; i++)
	{
		if (o->map[i] != LEAF_NONE && o->nodes[i].feature >= 0)
		{
			o->map[o->nodes[i].child] = 0;
			o->map[o->nodes[i].child + 1] = 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (o->map[i] != LEAF_NONE)
			o->map[i] = kept++;
	for (size_t i = 0; i < n; i++)
	{
		tnode		nd = o->nodes[i];

		if (o->map[i] == LEAF_NONE)
			continue;
		if (nd.feature >= 0)
			nd.child = o->map[nd.child];
		else
		{
			double		w = o->weight[i];
			double	   *dst = o->sums + (size_t) leaves * nv;
			const double *src = o->sums + i * nv;

			for (size_t k = 0; k < nv; k++)
				dst[k] = src[k] / w;
			o->start[leaves] = o->start[i];
			o->end[leaves] = o->end[i];
			nd.child = leaves++;
			nd.threshold = 0;
		}
		o->nodes[o->map[i]] = nd;
	}
	o->n_nodes = kept;
	o->n_leaves = leaves;
}

/*
 * Grows a tree into `out` on the rows whose weight in b->w is positive, splitting on the features
 * b->active[0, n_active), with b->rng already seeded.
 * Afterwards b->cancelled or b->failed tell whether it stopped early.
 */
static void
builder_grow(builder *b, slot *out)
{
	const tree_input *in = b->in;
	size_t		n_rows = 0;
	double		total = 0;
	double		sq;

	b->out = out;
	b->work = 0;
	b->cancelled = false;
	b->failed = false;
	for (size_t r = 0; r < in->n; r++)
	{
		if (b->w[r] > 0)
		{
			if (n_rows >= b->cap_rows)
			{
				b->failed = true;
				return;
			}
			b->rows[n_rows++] = (uint32_t) r;
			total += b->w[r];
		}
	}
	if (n_rows == 0 || out->cap < node_bound(b->spec, n_rows))
	{
		b->failed = true;
		return;
	}
	if (b->lists != NULL)
	{
		for (size_t a = 0; a < b->n_active; a++)
		{
			size_t		f = b->active[a];
			const entry *src = in->sorted + f * in->n;
			entry	   *dst = b->lists + f * b->cap_rows;
			size_t		k = 0;

			for (size_t i = 0; i < in->n; i++)
				if (b->w[src[i].row] > 0)
					dst[k++] = src[i];
		}
	}
	memcpy(b->feat, b->active, b->n_active * sizeof(uint32_t));
	b->n_rows = n_rows;
	b->total_weight = total;
	b->min_weight_leaf = b->spec->min_weight_fraction * total;
	if (b->wy != NULL)
	{
		for (size_t i = 0; i < n_rows; i++)
		{
			uint32_t	r = b->rows[i];

			b->wy[r].w = b->w[r];
			b->wy[r].wy = b->w[r] * in->y[r];
		}
	}
	out->n_nodes = 1;
	out->n_leaves = 0;
	out->start[0] = 0;
	out->end[0] = (uint32_t) n_rows;
	node_sums(b, 0, n_rows, out->sums, &out->weight[0], &sq);
	out->impurity[0] = node_impurity(b, out->sums, out->weight[0], sq);
	if (b->spec->max_leaf_nodes > 0)
		grow_best_first(b);
	else
		grow_depth_first(b);
	if (!b->cancelled && !b->failed)
		prune_and_compact(b);
}

/* Copies a compacted slot into t (new allocations). */
static bool
tree_from_slot(const slot *s, size_t nv, tree *t)
{
	t->nodes = pgml_malloc(s->n_nodes * sizeof(tnode));
	t->values = pgml_malloc(s->n_leaves * nv * sizeof(double));
	if (t->nodes == NULL || t->values == NULL)
	{
		pgml_free(t->nodes);
		pgml_free(t->values);
		t->nodes = NULL;
		t->values = NULL;
		return false;
	}
	memcpy(t->nodes, s->nodes, s->n_nodes * sizeof(tnode));
	memcpy(t->values, s->sums, s->n_leaves * nv * sizeof(double));
	t->n_nodes = (uint32_t) s->n_nodes;
	t->n_leaves = (uint32_t) s->n_leaves;
	return true;
}

/* ---------------------------------------------------------------------------------------------------
 * Data shared by the trees of a fit
 * ------------------------------------------------------------------------------------------------- */

/* The columns of rows idx[0, n) (or the first n rows when idx is NULL) of x (row-major, p columns). */
static float *
columns_of(const float *x, size_t p, const uint32_t *idx, size_t n)
{
	float	   *xcol = pgml_malloc(n * p * sizeof(float));

	if (xcol == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
	{
		const float *row = x + (size_t) (idx ? idx[i] : i) * p;

		for (size_t f = 0; f < p; f++)
			xcol[f * n + i] = row[f];
	}
	return xcol;
}

typedef struct presort_job
{
	const float *xcol;
	entry	   *sorted;
	size_t		n;
	entry	  **tmp;			/* one per worker */
	size_t		n_tmp;
} presort_job;

static void
presort_work(void *ctx, size_t begin, size_t end, int worker)
{
	presort_job *j = ctx;
	entry	   *tmp = j->tmp[worker >= 0 && (size_t) worker < j->n_tmp ? (size_t) worker : 0];

	for (size_t f = begin; f < end; f++)
	{
		entry	   *e = j->sorted + f * j->n;
		const float *col = j->xcol + f * j->n;

		for (size_t i = 0; i < j->n; i++)
		{
			e[i].v = col[i];
			e[i].row = (uint32_t) i;
		}
		sort_entries(e, tmp, j->n);
	}
}

/* Every column's rows sorted by value: *out gets p × n entries. */
static pgml_status
presort_columns(const float *xcol, size_t n, size_t p, pgml_pool *pool, entry **out, pgml_err *err)
{
	size_t		n_tmp = (size_t) pgml_pool_size(pool);
	presort_job job;
	entry	   *sorted = pgml_malloc(n * p * sizeof(entry));
	pgml_status rc = PGML_OK;

	job.tmp = pgml_calloc(n_tmp, sizeof(entry *));
	if (sorted == NULL || job.tmp == NULL)
		rc = out_of_memory(err);
	for (size_t i = 0; rc == PGML_OK && i < n_tmp; i++)
	{
		job.tmp[i] = pgml_malloc(n * sizeof(entry));
		if (job.tmp[i] == NULL)
			rc = out_of_memory(err);
	}
	if (rc == PGML_OK)
	{
		job.xcol = xcol;
		job.sorted = sorted;
		job.n = n;
		job.n_tmp = n_tmp;
		rc = pgml_parallel_for(pool, p, 1, presort_work, &job, err);
	}
	for (size_t i = 0; job.tmp != NULL && i < n_tmp; i++)
		pgml_free(job.tmp[i]);
	pgml_free(job.tmp);
	if (rc != PGML_OK)
	{
		pgml_free(sorted);
		sorted = NULL;
	}
	*out = sorted;
	return rc;
}

/* Whether to presort: best splits, few enough features beyond those drawn, and the lists fit in memory. */
static bool
use_presort(const tree_spec *sp, size_t n, size_t p, size_t n_builders)
{
	size_t		bytes;

	if (sp->random_split)
		return false;
	if (forced_sort_mode == TREES_SORT_PRESORTED)
		return true;
	if (forced_sort_mode == TREES_SORT_PER_NODE)
		return false;
	if (!pgml_mul_size(n * p, sizeof(entry) * (n_builders + 1), &bytes) || bytes > PRESORT_MAX_BYTES)
		return false;
	return p <= PRESORT_RATIO * sp->max_features;
}

/* ---------------------------------------------------------------------------------------------------
 * Hyperparameters
 * ------------------------------------------------------------------------------------------------- */

static const char *const no_params[] = {NULL};

static const char *const forest_classifier_params[] = {
	"n_estimators", "criterion", "max_depth", "min_samples_split", "min_samples_leaf",
	"min_weight_fraction_leaf", "max_features", "max_leaf_nodes", "min_impurity_decrease", "bootstrap",
	"oob_score", "n_jobs", "random_state", "verbose", "warm_start", "class_weight", "ccp_alpha", "max_samples",
	NULL
};

static const char *const forest_regressor_params[] = {
	"n_estimators", "criterion", "max_depth", "min_samples_split", "min_samples_leaf",
	"min_weight_fraction_leaf", "max_features", "max_leaf_nodes", "min_impurity_decrease", "bootstrap",
	"oob_score", "n_jobs", "random_state", "verbose", "warm_start", "ccp_alpha", "max_samples", NULL
};

static const char *const gb_classifier_params[] = {
	"loss", "learning_rate", "n_estimators", "subsample", "criterion", "min_samples_split", "min_samples_leaf",
	"min_weight_fraction_leaf", "max_depth", "min_impurity_decrease", "init", "random_state", "max_features",
	"verbose", "max_leaf_nodes", "warm_start", "validation_fraction", "n_iter_no_change", "tol", "ccp_alpha",
	NULL
};

static const char *const gb_regressor_params[] = {
	"loss", "learning_rate", "n_estimators", "subsample", "criterion", "min_samples_split", "min_samples_leaf",
	"min_weight_fraction_leaf", "max_depth", "min_impurity_decrease", "init", "random_state", "max_features",
	"alpha", "verbose", "max_leaf_nodes", "warm_start", "validation_fraction", "n_iter_no_change", "tol",
	"ccp_alpha", NULL
};

#define FOREST_DEFAULTS(crit, max_features, bootstrap) \
	PD_INT("n_estimators", 100), PD_STR("criterion", crit), PD_NULL("max_depth"), \
	PD_INT("min_samples_split", 2), PD_INT("min_samples_leaf", 1), PD_REAL("min_weight_fraction_leaf", 0.0), \
	max_features, PD_NULL("max_leaf_nodes"), PD_REAL("min_impurity_decrease", 0.0), \
	PD_BOOL("bootstrap", bootstrap), PD_BOOL("oob_score", false), PD_NULL("n_jobs"), \
	PD_NULL("random_state"), PD_INT("verbose", 0), PD_BOOL("warm_start", false)

static const trees_param_default rf_classifier_defaults[] = {
	FOREST_DEFAULTS("gini", PD_STR("max_features", "sqrt"), true),
	PD_NULL("class_weight"), PD_REAL("ccp_alpha", 0.0), PD_NULL("max_samples"), PD_END
};

static const trees_param_default rf_regressor_defaults[] = {
	FOREST_DEFAULTS("squared_error", PD_REAL("max_features", 1.0), true),
	PD_REAL("ccp_alpha", 0.0), PD_NULL("max_samples"), PD_END
};

static const trees_param_default et_classifier_defaults[] = {
	FOREST_DEFAULTS("gini", PD_STR("max_features", "sqrt"), false),
	PD_NULL("class_weight"), PD_REAL("ccp_alpha", 0.0), PD_NULL("max_samples"), PD_END
};

static const trees_param_default et_regressor_defaults[] = {
	FOREST_DEFAULTS("squared_error", PD_REAL("max_features", 1.0), false),
	PD_REAL("ccp_alpha", 0.0), PD_NULL("max_samples"), PD_END
};

#define GB_DEFAULTS_HEAD(loss) \
	PD_STR("loss", loss), PD_REAL("learning_rate", 0.1), PD_INT("n_estimators", 100), \
	PD_REAL("subsample", 1.0), PD_STR("criterion", "friedman_mse"), PD_INT("min_samples_split", 2), \
	PD_INT("min_samples_leaf", 1), PD_REAL("min_weight_fraction_leaf", 0.0), PD_INT("max_depth", 3), \
	PD_REAL("min_impurity_decrease", 0.0), PD_NULL("init"), PD_NULL("random_state"), \
	PD_NULL("max_features")

#define GB_DEFAULTS_TAIL \
	PD_INT("verbose", 0), PD_NULL("max_leaf_nodes"), PD_BOOL("warm_start", false), \
	PD_REAL("validation_fraction", 0.1), PD_NULL("n_iter_no_change"), PD_REAL("tol", 1e-4), \
	PD_REAL("ccp_alpha", 0.0), PD_END

static const trees_param_default gb_classifier_defaults[] = {
	GB_DEFAULTS_HEAD("log_loss"), GB_DEFAULTS_TAIL
};

static const trees_param_default gb_regressor_defaults[] = {
	GB_DEFAULTS_HEAD("squared_error"), PD_REAL("alpha", 0.9), GB_DEFAULTS_TAIL
};

/* The value of key in hp, or NULL when it is missing or JSON null. */
const json_t *
trees_hp_value(const json_t *hp, const char *key)
{
	const json_t *v;

	if (hp == NULL || !json_is_object(hp))
		return NULL;
	v = json_object_get(hp, key);
	return v == NULL || json_is_null(v) ? NULL : v;
}

/*
 * The effective hyperparameters: the caller's values where given (null included: null means something for
 * max_depth, max_features and friends), the defaults elsewhere. NULL when out of memory.
 */
json_t *
trees_effective_params(const json_t *hp, const trees_param_default *defaults)
{
	json_t	   *params = json_object();
	bool		failed = params == NULL;

	for (const trees_param_default *d = defaults; !failed && d->name != NULL; d++)
	{
		const json_t *given = hp && json_is_object(hp) ? json_object_get(hp, d->name) : NULL;
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

/* Describes v for messages: the number, the quoted string, or its JSON type. */
static void
describe_value(const json_t *v, char *buf, size_t size)
{
	if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long) json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, size, "%g", json_real_value(v));
	else if (json_is_string(v))
		snprintf(buf, size, "\"%.64s\"", json_string_value(v));
	else
		snprintf(buf, size, "%s %s", json_is_object(v) || json_is_array(v) ? "an" : "a", pgml_json_type_name(v));
}

/* "invalid value for hyperparameter "key"", detail: "It must be <what>; it is <v>." */
pgml_status
trees_hp_invalid(pgml_err *err, const char *key, const json_t *v, const char *what)
{
	char		given[96];

	describe_value(v, given, sizeof(given));
	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid value for hyperparameter \"%s\"", key);
	pgml_err_detail(err, "It must be %s; it is %s.", what, given);
	return PGML_ERR_INVALID_ARGUMENT;
}

/* A string hyperparameter that must be one of `choices` (NULL-terminated); def when missing. */
pgml_status
trees_hp_choice(const json_t *hp, const char *key, const char *def, const char *const *choices, const char **out,
		  pgml_err *err)
{
	const json_t *v = trees_hp_value(hp, key);
	char		list[512];
	size_t		used = 0;

	*out = def;
	if (v == NULL)
		return PGML_OK;
	list[0] = '\0';
	for (const char *const *c = choices; *c != NULL && used < sizeof(list); c++)
	{
		int			w = snprintf(list + used, sizeof(list) - used, "%s\"%s\"", c == choices ? "" : ", ", *c);

		if (w < 0)
			break;
		used += (size_t) w;
	}
	if (json_is_string(v))
	{
		for (const char *const *c = choices; *c != NULL; c++)
		{
			if (strcmp(*c, json_string_value(v)) == 0)
			{
				*out = *c;
				return PGML_OK;
			}
		}
	}
	{
		char		what[560];

		snprintf(what, sizeof(what), "one of %s", list);
		return trees_hp_invalid(err, key, v, what);
	}
}

/* A real in (lo, hi) with open or closed ends. */
pgml_status
trees_hp_real_in(const json_t *hp, const char *key, double def, double lo, bool lo_open, double hi, bool hi_open,
		   double *out, pgml_err *err)
{
	const json_t *v = trees_hp_value(hp, key);
	double		d;
	char		what[128];

	*out = def;
	if (v == NULL)
		return PGML_OK;
	d = json_is_number(v) ? json_number_value(v) : NAN;
	if (json_is_number(v) && (lo_open ? d > lo : d >= lo) && (hi_open ? d < hi : d <= hi))
	{
		*out = d;
		return PGML_OK;
	}
	if (isinf(hi))
		snprintf(what, sizeof(what), "a number %s %g", lo_open ? "greater than" : "at least", lo);
	else
		snprintf(what, sizeof(what), "a number in the range %s%g, %g%s", lo_open ? "(" : "[", lo, hi,
				 hi_open ? ")" : "]");
	return trees_hp_invalid(err, key, v, what);
}

/* An integer >= min (and <= max), or null when allow_null (*out = def then). */
pgml_status
trees_hp_int_min(const json_t *hp, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out, pgml_err *err)
{
	const json_t *v = trees_hp_value(hp, key);
	char		what[128];

	*out = def;
	if (v == NULL)
		return PGML_OK;
	if (json_is_integer(v) && json_integer_value(v) >= min && json_integer_value(v) <= max)
	{
		*out = json_integer_value(v);
		return PGML_OK;
	}
	if (max == INT64_MAX)
		snprintf(what, sizeof(what), "an integer of at least %lld", (long long) min);
	else
		snprintf(what, sizeof(what), "an integer from %lld to %lld", (long long) min, (long long) max);
	return trees_hp_invalid(err, key, v, what);
}

/* A count given as an integer, or as a fraction of the rows or features. */
typedef struct count_spec
{
	bool		given;
	bool		fraction;
	int64_t		count;
	double		frac;
} count_spec;

/* An integer >= min_count, or a real in (0, 1) — or (0, 1] when one_ok. */
static pgml_status
hp_count(const json_t *hp, const char *key, int64_t min_count, bool one_ok, count_spec *out, pgml_err *err)
{
	const json_t *v = trees_hp_value(hp, key);
	char		what[160];

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return PGML_OK;
	out->given = true;
	if (json_is_integer(v) && json_integer_value(v) >= min_count)
	{
		out->count = json_integer_value(v);
		return PGML_OK;
	}
	if (json_is_real(v) && json_real_value(v) > 0 &&
		(json_real_value(v) < 1 || (one_ok && json_real_value(v) == 1)))
	{
		out->fraction = true;
		out->frac = json_real_value(v);
		return PGML_OK;
	}
	snprintf(what, sizeof(what), "an integer of at least %lld or a fraction in the range (0, 1%s",
			 (long long) min_count, one_ok ? "]" : ")");
	return trees_hp_invalid(err, key, v, what);
}

/* random_state: null (the fit's seed) or an integer from 0 to 2^32 - 1, as scikit-learn accepts. */
pgml_status
trees_hp_seed(const json_t *hp, uint64_t def, uint64_t *out, pgml_err *err)
{
	int64_t		v;
	pgml_status rc = trees_hp_int_min(hp, "random_state", -1, 0, (int64_t) UINT32_MAX, &v, err);

	*out = v < 0 ? def : (uint64_t) v;
	return rc;
}

/* n_jobs (an integer or null), warm_start (a boolean) and verbose (an integer >= 0 or a boolean). */
pgml_status
trees_hp_inert(const json_t *hp, bool has_n_jobs, int64_t *verbose, pgml_err *err)
{
	const json_t *v = trees_hp_value(hp, "verbose");
	bool		b;
	int64_t		i;
	pgml_status rc;

	*verbose = 0;
	if ((rc = pgml_json_get_bool(hp, "warm_start", false, &b, err)) != PGML_OK)
		return rc;
	if (has_n_jobs && trees_hp_value(hp, "n_jobs") != NULL && !json_is_integer(trees_hp_value(hp, "n_jobs")))
		return trees_hp_invalid(err, "n_jobs", trees_hp_value(hp, "n_jobs"), "an integer or null");
	if (v != NULL && json_is_boolean(v))
		*verbose = json_is_true(v);
	else if ((rc = trees_hp_int_min(hp, "verbose", 0, 0, INT64_MAX, &i, err)) != PGML_OK)
		return rc;
	else
		*verbose = i;
	return PGML_OK;
}

typedef enum max_features_mode
{
	MF_ALL,
	MF_SQRT,
	MF_LOG2,
	MF_COUNT,
	MF_FRACTION,
} max_features_mode;

/* max_features: an integer >= 1, a fraction in (0, 1], "sqrt", "log2", "auto" (deprecated) or null. */
static pgml_status
hp_max_features(const json_t *hp, max_features_mode def, bool classifier, max_features_mode *mode,
				count_spec *cs, pgml_err *err)
{
	const json_t *v = trees_hp_value(hp, "max_features");
	const json_t *given = hp && json_is_object(hp) ? json_object_get(hp, "max_features") : NULL;

	memset(cs, 0, sizeof(*cs));
	*mode = def;
	if (given != NULL && json_is_null(given))
	{
		*mode = MF_ALL;
		return PGML_OK;
	}
	if (v == NULL)
		return PGML_OK;
	if (json_is_string(v))
	{
		const char *s = json_string_value(v);

		if (strcmp(s, "sqrt") == 0)
			*mode = MF_SQRT;
		else if (strcmp(s, "log2") == 0)
			*mode = MF_LOG2;
		else if (strcmp(s, "auto") == 0)
			*mode = classifier ? MF_SQRT : MF_ALL;
		else
			return trees_hp_invalid(err, "max_features", v,
							  "an integer of at least 1, a fraction in the range (0, 1], \"sqrt\", \"log2\" or null");
		return PGML_OK;
	}
	if (json_is_integer(v) && json_integer_value(v) >= 1)
	{
		cs->given = true;
		cs->count = json_integer_value(v);
		*mode = MF_COUNT;
		return PGML_OK;
	}
	if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) <= 1)
	{
		cs->given = true;
		cs->fraction = true;
		cs->frac = json_real_value(v);
		*mode = MF_FRACTION;
		return PGML_OK;
	}
	return trees_hp_invalid(err, "max_features", v,
					  "an integer of at least 1, a fraction in the range (0, 1], \"sqrt\", \"log2\" or null");
}

typedef enum class_weighting
{
	CW_NONE,
	CW_BALANCED,
	CW_BALANCED_SUBSAMPLE,
} class_weighting;

typedef enum gb_loss
{
	LOSS_SQUARED,
	LOSS_ABSOLUTE,
	LOSS_HUBER,
	LOSS_QUANTILE,
	LOSS_LOG,
	LOSS_EXPONENTIAL,
} gb_loss;

/* Everything the hyperparameters say, before the data resolve counts and fractions. */
typedef struct trees_hp
{
	split_crit	crit;
	int64_t		max_depth;		/* 0: none */
	count_spec	min_samples_split;
	count_spec	min_samples_leaf;
	double		min_weight_fraction;
	max_features_mode mf_mode;
	count_spec	max_features;
	int64_t		max_leaf_nodes; /* 0: none */
	double		min_impurity_decrease;
	double		ccp_alpha;
	int64_t		n_estimators;
	int64_t		verbose;
	uint64_t	seed;
	/* forests */
	bool		bootstrap;
	bool		oob_score;
	class_weighting class_weight;
	count_spec	max_samples;
	/* boosting */
	gb_loss		loss;
	double		learning_rate;
	double		subsample;
	double		alpha;
	bool		init_zero;
	double		validation_fraction;
	int64_t		n_iter_no_change;	/* 0: no early stopping */
	double		tol;
} trees_hp;

/* The hyperparameters every tree ensemble shares. */
static pgml_status
parse_tree_params(const json_t *hp, bool classifier, max_features_mode mf_default, int64_t depth_default,
				  trees_hp *out, pgml_err *err)
{
	const json_t *depth = hp && json_is_object(hp) ? json_object_get(hp, "max_depth") : NULL;
	pgml_status rc;

	out->max_depth = depth_default;
	if (depth != NULL && json_is_null(depth))
		out->max_depth = 0;
	else if ((rc = trees_hp_int_min(hp, "max_depth", depth_default, 1, INT64_MAX, &out->max_depth, err)) != PGML_OK)
		return rc;
	if ((rc = hp_count(hp, "min_samples_split", 1, true, &out->min_samples_split, err)) != PGML_OK ||
		(rc = hp_count(hp, "min_samples_leaf", 1, false, &out->min_samples_leaf, err)) != PGML_OK ||
		(rc = trees_hp_real_in(hp, "min_weight_fraction_leaf", 0.0, 0.0, false, 0.5, false, &out->min_weight_fraction,
						 err)) != PGML_OK ||
		(rc = hp_max_features(hp, mf_default, classifier, &out->mf_mode, &out->max_features, err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "max_leaf_nodes", 0, 2, (int64_t) INT32_MAX / 4, &out->max_leaf_nodes, err)) != PGML_OK ||
		(rc = trees_hp_real_in(hp, "min_impurity_decrease", 0.0, 0.0, false, INFINITY, false,
						 &out->min_impurity_decrease, err)) != PGML_OK ||
		(rc = trees_hp_real_in(hp, "ccp_alpha", 0.0, 0.0, false, INFINITY, false, &out->ccp_alpha, err)) != PGML_OK)
		return rc;
	if (!out->min_samples_split.given)
		out->min_samples_split.count = 2;
	if (!out->min_samples_leaf.given)
		out->min_samples_leaf.count = 1;
	return PGML_OK;
}

/* The hyperparameters of RandomForest* and ExtraTrees*. */
static pgml_status
parse_forest(const json_t *hp, bool classifier, bool extra, uint64_t seed, trees_hp *out, pgml_err *err)
{
	static const char *const class_criteria[] = {"gini", "entropy", "log_loss", NULL};
	static const char *const reg_criteria[] = {"squared_error", "friedman_mse", "absolute_error", "poisson", NULL};
	static const char *const weightings[] = {"balanced", "balanced_subsample", NULL};
	const char *crit;
	const json_t *cw = trees_hp_value(hp, "class_weight");
	pgml_status rc;

	memset(out, 0, sizeof(*out));
	if ((rc = trees_hp_choice(hp, "criterion", classifier ? "gini" : "squared_error",
						classifier ? class_criteria : reg_criteria, &crit, err)) != PGML_OK)
		return rc;
	if (strcmp(crit, "absolute_error") == 0 || strcmp(crit, "poisson") == 0)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "criterion \"%s\" is not supported by %s", crit,
				   extra ? "extra_trees" : "random_forest");
		pgml_err_detail(err, "Regression trees support criterion \"squared_error\" and \"friedman_mse\".");
		return PGML_ERR_NOT_SUPPORTED;
	}
	out->crit = strcmp(crit, "gini") == 0 ? CRIT_GINI : strcmp(crit, "friedman_mse") == 0 ? CRIT_FRIEDMAN :
		classifier ? CRIT_ENTROPY : CRIT_MSE;
	if ((rc = parse_tree_params(hp, classifier, classifier ? MF_SQRT : MF_ALL, 0, out, err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "n_estimators", 100, 1, MAX_ESTIMATORS, &out->n_estimators, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "bootstrap", !extra, &out->bootstrap, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "oob_score", false, &out->oob_score, err)) != PGML_OK ||
		(rc = trees_hp_seed(hp, seed, &out->seed, err)) != PGML_OK ||
		(rc = trees_hp_inert(hp, true, &out->verbose, err)) != PGML_OK ||
		(rc = hp_count(hp, "max_samples", 1, true, &out->max_samples, err)) != PGML_OK)
		return rc;
	if (classifier && cw != NULL)
	{
		const char *name;

		if (json_is_object(cw) || json_is_array(cw))
		{
			pgml_error(err, PGML_ERR_NOT_SUPPORTED, "class_weight given as %s is not supported",
					   json_is_object(cw) ? "an object" : "an array");
			pgml_err_detail(err, "Only class_weight null, \"balanced\" and \"balanced_subsample\" are implemented.");
			return PGML_ERR_NOT_SUPPORTED;
		}
		if ((rc = trees_hp_choice(hp, "class_weight", NULL, weightings, &name, err)) != PGML_OK)
			return rc;
		out->class_weight = strcmp(name, "balanced") == 0 ? CW_BALANCED : CW_BALANCED_SUBSAMPLE;
	}
	if (out->oob_score && !out->bootstrap)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "oob_score=true needs bootstrap=true");
		pgml_err_detail(err, "Out-of-bag estimation is only available when the trees are fit on bootstrap samples.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (out->max_samples.given && !out->bootstrap)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "max_samples needs bootstrap=true");
		pgml_err_detail(err, "max_samples sets the size of the bootstrap samples.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

/* The hyperparameters of GradientBoosting*. */
static pgml_status
parse_gb(const json_t *hp, bool classifier, int n_classes, uint64_t seed, trees_hp *out, pgml_err *err)
{
	static const char *const class_losses[] = {"log_loss", "deviance", "exponential", NULL};
	static const char *const reg_losses[] = {"squared_error", "absolute_error", "huber", "quantile", NULL};
	static const char *const criteria[] = {"friedman_mse", "squared_error", NULL};
	const json_t *init = trees_hp_value(hp, "init");
	const char *loss;
	const char *crit;
	pgml_status rc;

	memset(out, 0, sizeof(*out));
	if ((rc = trees_hp_choice(hp, "loss", classifier ? "log_loss" : "squared_error",
						classifier ? class_losses : reg_losses, &loss, err)) != PGML_OK ||
		(rc = trees_hp_choice(hp, "criterion", "friedman_mse", criteria, &crit, err)) != PGML_OK ||
		(rc = parse_tree_params(hp, classifier, MF_ALL, 3, out, err)) != PGML_OK ||
		(rc = trees_hp_real_in(hp, "learning_rate", 0.1, 0.0, false, INFINITY, false, &out->learning_rate, err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "n_estimators", 100, 1, MAX_ESTIMATORS, &out->n_estimators, err)) != PGML_OK ||
		(rc = trees_hp_real_in(hp, "subsample", 1.0, 0.0, true, 1.0, false, &out->subsample, err)) != PGML_OK ||
		(rc = trees_hp_seed(hp, seed, &out->seed, err)) != PGML_OK ||
		(rc = trees_hp_inert(hp, false, &out->verbose, err)) != PGML_OK ||
		(rc = trees_hp_real_in(hp, "validation_fraction", 0.1, 0.0, true, 1.0, true, &out->validation_fraction,
						 err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "n_iter_no_change", 0, 1, INT32_MAX, &out->n_iter_no_change, err)) != PGML_OK ||
		(rc = trees_hp_real_in(hp, "tol", 1e-4, 0.0, false, INFINITY, false, &out->tol, err)) != PGML_OK)
		return rc;
	if (!classifier &&
		(rc = trees_hp_real_in(hp, "alpha", 0.9, 0.0, true, 1.0, true, &out->alpha, err)) != PGML_OK)
		return rc;
	out->crit = strcmp(crit, "friedman_mse") == 0 ? CRIT_FRIEDMAN : CRIT_MSE;
	out->loss = strcmp(loss, "squared_error") == 0 ? LOSS_SQUARED : strcmp(loss, "absolute_error") == 0 ?
		LOSS_ABSOLUTE : strcmp(loss, "huber") == 0 ? LOSS_HUBER : strcmp(loss, "quantile") == 0 ?
		LOSS_QUANTILE : strcmp(loss, "exponential") == 0 ? LOSS_EXPONENTIAL : LOSS_LOG;
	if (out->loss == LOSS_EXPONENTIAL && n_classes != 2)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "loss \"exponential\" needs exactly two classes");
		pgml_err_detail(err, "The training data have %d classes.", n_classes);
		pgml_err_hint(err, "Use loss \"log_loss\".");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (init != NULL)
	{
		if (!json_is_string(init))
		{
			pgml_error(err, PGML_ERR_NOT_SUPPORTED, "init estimators are not supported");
			pgml_err_detail(err, "init must be null (the prior of the loss) or \"zero\".");
			return PGML_ERR_NOT_SUPPORTED;
		}
		if (strcmp(json_string_value(init), "zero") != 0)
			return trees_hp_invalid(err, "init", init, "null or \"zero\"");
		out->init_zero = true;
	}
	return PGML_OK;
}

/* Resolves counts and fractions against n rows and p features into a tree spec. */
static void
resolve_spec(const trees_hp *hp, bool random_split, size_t n, size_t p, tree_spec *sp)
{
	size_t		msl;
	size_t		mss;
	size_t		mf;

	memset(sp, 0, sizeof(*sp));
	sp->crit = hp->crit;
	sp->random_split = random_split;
	sp->max_depth = hp->max_depth > 0 ? (size_t) hp->max_depth : SIZE_MAX;
	msl = hp->min_samples_leaf.fraction ? (size_t) ceil(hp->min_samples_leaf.frac * (double) n) :
		(size_t) hp->min_samples_leaf.count;
	if (msl < 1)
		msl = 1;
	if (msl > n)
		msl = n;				/* the same trees as any larger value: a lone root */
	if (hp->min_samples_split.fraction)
	{
		mss = (size_t) ceil(hp->min_samples_split.frac * (double) n);
		if (mss < 2)
			mss = 2;
	}
	else
		mss = (uint64_t) hp->min_samples_split.count > n ? n + 1 : (size_t) hp->min_samples_split.count;
	if (mss < 2 * msl)
		mss = 2 * msl;
	sp->min_samples_leaf = msl;
	sp->min_samples_split = mss;
	switch (hp->mf_mode)
	{
		case MF_SQRT:
			mf = (size_t) sqrt((double) p);
			break;
		case MF_LOG2:
			mf = (size_t) log2((double) p);
			break;
		case MF_COUNT:
			mf = hp->max_features.count > (int64_t) p ? p : (size_t) hp->max_features.count;
			break;
		case MF_FRACTION:
			mf = (size_t) (hp->max_features.frac * (double) p);
			break;
		default:
			mf = p;
			break;
	}
	sp->max_features = mf < 1 ? 1 : mf > p ? p : mf;
	sp->min_weight_fraction = hp->min_weight_fraction;
	sp->max_leaf_nodes = (size_t) hp->max_leaf_nodes;
	sp->min_impurity_decrease = hp->min_impurity_decrease;
	sp->ccp_alpha = hp->ccp_alpha;
}

/* ---------------------------------------------------------------------------------------------------
 * Data checks
 * ------------------------------------------------------------------------------------------------- */

/* Common start of a fit: the task is supported, the keys are known, the data are sound. */
pgml_status
trees_fit_begin(const pgml_algorithm *algo, const pgml_fit_args *args, const pgml_data *d, void **state,
		  pgml_err *err)
{
	const char *const *keys;
	size_t		cells;
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
	if (d == NULL || d->x == NULL || d->n_rows == 0)
		return pgml_error(err, PGML_ERR_DATA, "training data is empty");
	if (d->n_features == 0)
		return pgml_error(err, PGML_ERR_DATA, "training data has no features");
	if (d->n_rows > MAX_ROWS - 1 || d->n_features > MAX_FEATURES ||
		!pgml_mul_size(d->n_rows, d->n_features, &cells) || cells > SIZE_MAX / (4 * sizeof(entry)))
	{
		pgml_error(err, PGML_ERR_LIMIT, "training data is too large for %s", algo->name);
		pgml_err_detail(err, "It has %zu rows and %zu features.", d->n_rows, d->n_features);
		return PGML_ERR_LIMIT;
	}
	for (size_t i = 0; i < cells; i++)
	{
		if (!isfinite(d->x[i]))
		{
			pgml_error(err, PGML_ERR_DATA, "training data contains a non-finite value");
			pgml_err_detail(err, "Feature %zu of row %zu is %g.", i % d->n_features + 1, i / d->n_features + 1,
							(double) d->x[i]);
			return PGML_ERR_DATA;
		}
	}
	if (args->task == PGML_TASK_REGRESSION)
	{
		if (d->y == NULL || d->n_targets == 0)
			return pgml_error(err, PGML_ERR_DATA, "regression needs a target");
		if (d->n_targets > MAX_VALUES || d->n_targets > SIZE_MAX / d->n_rows / sizeof(double))
			return pgml_error(err, PGML_ERR_LIMIT, "too many targets");
		for (size_t i = 0; i < d->n_rows * d->n_targets; i++)
		{
			if (!isfinite(d->y[i]))
			{
				pgml_error(err, PGML_ERR_DATA, "the target contains a non-finite value");
				pgml_err_detail(err, "Target %zu of row %zu is %g.", i % d->n_targets + 1, i / d->n_targets + 1,
								(double) d->y[i]);
				return PGML_ERR_DATA;
			}
		}
	}
	else
	{
		if (d->y == NULL || d->n_targets != 1)
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "classification needs exactly one label per row");
		if (args->n_classes < 2 || (size_t) args->n_classes > MAX_VALUES)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid number of classes: %d", args->n_classes);
			pgml_err_detail(err, "Classification needs 2 to %zu classes.", MAX_VALUES);
			return PGML_ERR_INVALID_ARGUMENT;
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
	}
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Forests
 * ------------------------------------------------------------------------------------------------- */

typedef struct forest_job
{
	const tree_input *in;
	const trees_hp *hp;
	const uint64_t *seeds;		/* per tree */
	const double *class_w;		/* class weights for every tree, or NULL */
	const trees_bagging_opts *bag;	/* bagging's sampling, or NULL */
	size_t		n_boot;
	size_t		round_start;
	builder    *builders;		/* per worker */
	size_t		n_builders;
	slot	   *slots;			/* per tree of the round */
	atomic_bool abort;
	atomic_bool cancelled;
	atomic_bool failed;
} forest_job;

/*
 * Bagging's sample of a tree, drawn from r: row weights into w (n: draw counts, or 1 for rows drawn without
 * replacement) and then the features it may use into active[0, *n_active) in ascending order (mark: p bytes
 * of zeros, left zeroed). Floyd's algorithm draws without replacement.
 */
static void
bag_sample(const trees_bagging_opts *o, size_t n, size_t p, rng *r, double *w, uint8_t *mark, uint32_t *active,
		   size_t *n_active)
{
	size_t		k = 0;

	memset(w, 0, n * sizeof(double));
	if (o->bootstrap)
		for (size_t i = 0; i < o->max_samples; i++)
			w[trees_rng_below(r, n)] += 1.0;
	else
	{
		for (size_t j = n - o->max_samples; j < n; j++)
		{
			size_t		t = trees_rng_below(r, j + 1);

			w[w[t] > 0 ? j : t] = 1.0;
		}
	}
	if (o->bootstrap_features)
		for (size_t i = 0; i < o->max_features; i++)
			mark[trees_rng_below(r, p)] = 1;
	else
	{
		for (size_t j = p - o->max_features; j < p; j++)
		{
			size_t		t = trees_rng_below(r, j + 1);

			mark[mark[t] ? j : t] = 1;
		}
	}
	for (size_t f = 0; f < p; f++)
	{
		if (mark[f])
			active[k++] = (uint32_t) f;
		mark[f] = 0;
	}
	*n_active = k;
}

/* The row weights of a tree into b->w: bootstrap counts drawn first from its generator, class weights. */
static void
forest_weights(const forest_job *job, builder *b)
{
	const tree_input *in = job->in;
	size_t		n = in->n;
	double	   *w = b->w;

	if (job->bag != NULL)
	{
		bag_sample(job->bag, n, in->p, &b->rng, w, b->is_const, b->active, &b->n_active);
		return;
	}
	if (job->hp->bootstrap)
	{
		memset(w, 0, n * sizeof(double));
		for (size_t k = 0; k < job->n_boot; k++)
			w[trees_rng_below(&b->rng, n)] += 1.0;
		if (job->hp->class_weight == CW_BALANCED_SUBSAMPLE)
		{
			/* "balanced" over this tree's sample: n_boot / (classes present · draws of the class) */
			double	   *cw = b->aux;
			size_t		present = 0;

			memset(cw, 0, in->nv * sizeof(double));
			for (size_t r = 0; r < n; r++)
				cw[in->cls[r]] += w[r];
			for (size_t k = 0; k < in->nv; k++)
				present += cw[k] > 0;
			for (size_t k = 0; k < in->nv; k++)
				cw[k] = cw[k] > 0 ? (double) job->n_boot / ((double) present * cw[k]) : 0.0;
			for (size_t r = 0; r < n; r++)
				w[r] *= cw[in->cls[r]];
			return;
		}
	}
	else
	{
		for (size_t r = 0; r < n; r++)
			w[r] = 1.0;
	}
	if (job->class_w != NULL)
		for (size_t r = 0; r < n; r++)
			w[r] *= job->class_w[in->cls[r]];
}

/* Pool work: grows trees round_start + [begin, end) into slots [begin, end). */
static void
forest_work(void *ctx, size_t begin, size_t end, int worker)
{
	forest_job *job = ctx;
	builder    *b = &job->builders[worker >= 0 && (size_t) worker < job->n_builders ? (size_t) worker : 0];

	for (size_t i = begin; i < end; i++)
	{
		if (atomic_load(&job->abort))
			return;
		trees_rng_seed(&b->rng, job->seeds[job->round_start + i]);
		forest_weights(job, b);
		builder_grow(b, &job->slots[i]);
		if (b->cancelled || b->failed)
		{
			atomic_store(b->cancelled ? &job->cancelled : &job->failed, true);
			atomic_store(&job->abort, true);
			return;
		}
	}
}

/* Computes the out-of-bag score of a fitted forest and reports it through the log hook. */
static pgml_status
forest_oob(const trees_state *st, const forest_job *job, const pgml_data *train, const char *name,
		   pgml_err *err)
{
	const tree_input *in = job->in;
	size_t		n = in->n;
	size_t		nv = in->nv;
	double	   *acc = pgml_calloc(n * nv, sizeof(double));
	uint32_t   *cnt = pgml_calloc(n, sizeof(uint32_t));
	uint8_t    *inbag = pgml_malloc(n);
	double	   *bw = job->bag ? pgml_malloc(n * sizeof(double)) : NULL;
	uint8_t    *mark = job->bag ? pgml_calloc(in->p, 1) : NULL;
	uint32_t   *active = job->bag ? pgml_malloc(in->p * sizeof(uint32_t)) : NULL;
	size_t		scored = 0;
	double		score = 0;

	if (acc == NULL || cnt == NULL || inbag == NULL || (job->bag && (bw == NULL || mark == NULL || active == NULL)))
	{
		pgml_free(acc);
		pgml_free(cnt);
		pgml_free(inbag);
		pgml_free(bw);
		pgml_free(mark);
		pgml_free(active);
		return out_of_memory(err);
	}
	for (size_t t = 0; t < st->n_trees; t++)
	{
		rng			r;

		trees_rng_seed(&r, job->seeds[t]);
		memset(inbag, 0, n);
		if (job->bag != NULL)
		{
			size_t		n_active;

			bag_sample(job->bag, n, in->p, &r, bw, mark, active, &n_active);
			for (size_t i = 0; i < n; i++)
				inbag[i] = bw[i] > 0;
		}
		else
			for (size_t k = 0; k < job->n_boot; k++)
				inbag[trees_rng_below(&r, n)] = 1;
		for (size_t i = 0; i < n; i++)
		{
			const double *v;

			if (inbag[i])
				continue;
			v = st->trees[t].values + (size_t) trees_tree_leaf(&st->trees[t], train->x + i * in->p) * nv;
			for (size_t k = 0; k < nv; k++)
				acc[i * nv + k] += v[k];
			cnt[i]++;
		}
	}
	if (in->classification)
	{
		size_t		correct = 0;

		for (size_t i = 0; i < n; i++)
		{
			size_t		best = 0;

			if (cnt[i] == 0)
				continue;
			for (size_t k = 1; k < nv; k++)
				if (acc[i * nv + k] > acc[i * nv + best])
					best = k;
			scored++;
			correct += best == in->cls[i];
		}
		score = scored ? (double) correct / (double) scored : NAN;
	}
	else
	{
		for (size_t k = 0; k < nv; k++)
		{
			double		mean = 0;
			double		ss_res = 0;
			double		ss_tot = 0;

			scored = 0;
			for (size_t i = 0; i < n; i++)
			{
				if (cnt[i] > 0)
				{
					mean += in->y[i * nv + k];
					scored++;
				}
			}
			mean /= scored ? (double) scored : 1.0;
			for (size_t i = 0; i < n; i++)
			{
				double		d;

				if (cnt[i] == 0)
					continue;
				d = in->y[i * nv + k] - acc[i * nv + k] / cnt[i];
				ss_res += d * d;
				ss_tot += (in->y[i * nv + k] - mean) * (in->y[i * nv + k] - mean);
			}
			score += ss_tot > 0 ? 1.0 - ss_res / ss_tot : (ss_res == 0 ? 1.0 : 0.0);
		}
		score /= (double) nv;
	}
	if (scored == 0)
		pgml_log(PGML_LOG_NOTICE, "%s: no row was left out of every tree's bootstrap sample; no out-of-bag score",
				 name);
	else
		pgml_log(PGML_LOG_INFO, "%s out-of-bag score: %.6f (%s over %zu rows)", name, score,
				 in->classification ? "accuracy" : "R^2", scored);
	pgml_free(acc);
	pgml_free(cnt);
	pgml_free(inbag);
	pgml_free(bw);
	pgml_free(mark);
	pgml_free(active);
	return PGML_OK;
}

static pgml_status forest_grow(const pgml_algorithm *algo, trees_kind kind, const pgml_fit_args *args,
							   const pgml_data *train, const trees_hp *hpp, size_t n_boot,
							   const trees_bagging_opts *bag, json_t *params, void **state, pgml_err *err);

/* Fits RandomForest* (extra = false) or ExtraTrees*. */
static pgml_status
forest_fit(const pgml_algorithm *algo, bool extra, const pgml_fit_args *args, const pgml_data *train,
		   void **state, pgml_err *err)
{
	bool		classifier;
	trees_hp	hp;
	size_t		n;
	size_t		n_boot;
	pgml_status rc;

	if ((rc = trees_fit_begin(algo, args, train, state, err)) != PGML_OK)
		return rc;
	classifier = args->task == PGML_TASK_CLASSIFICATION;
	if ((rc = parse_forest(args->hyperparams, classifier, extra, args->seed, &hp, err)) != PGML_OK)
		return rc;
	n = train->n_rows;
	n_boot = n;
	if (hp.bootstrap && hp.max_samples.given)
	{
		if (hp.max_samples.fraction)
		{
			double		r = rint((double) n * hp.max_samples.frac);

			n_boot = r < 1 ? 1 : (size_t) r;
		}
		else if ((uint64_t) hp.max_samples.count > n)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "max_samples is larger than the number of rows");
			pgml_err_detail(err, "max_samples is %lld; the training data have %zu rows.",
							(long long) hp.max_samples.count, n);
			return PGML_ERR_INVALID_ARGUMENT;
		}
		else
			n_boot = (size_t) hp.max_samples.count;
	}
	return forest_grow(algo, extra ? TREES_KIND_EXTRA_TREES : TREES_KIND_RANDOM_FOREST, args, train, &hp, n_boot,
					   NULL, NULL, state, err);
}

/*
 * Grows the trees of a forest (random_forest, extra_trees) or of bagging (bag given, kind
 * TREES_KIND_BAGGING: params, stolen, are its effective hyperparameters) in parallel.
 */
static pgml_status
forest_grow(const pgml_algorithm *algo, trees_kind kind, const pgml_fit_args *args, const pgml_data *train,
			const trees_hp *hpp, size_t n_boot, const trees_bagging_opts *bag, json_t *params, void **state,
			pgml_err *err)
{
	bool		classifier = args->task == PGML_TASK_CLASSIFICATION;
	bool		extra = kind == TREES_KIND_EXTRA_TREES;
	trees_hp	hp = *hpp;
	tree_spec	spec;
	tree_input	in;
	forest_job	job;
	rng			master;
	size_t		n = train->n_rows;
	size_t		p = train->n_features;
	size_t		nv = classifier ? (size_t) args->n_classes : train->n_targets;
	size_t		cap_rows;
	size_t		n_builders;
	size_t		n_slots = 0;
	size_t		n_est = (size_t) hp.n_estimators;
	float	   *xcol = NULL;
	entry	   *sorted = NULL;
	uint32_t   *cls = NULL;
	double	   *y = NULL;
	double	   *class_w = NULL;
	uint64_t   *seeds = NULL;
	builder    *builders = NULL;
	slot	   *slots = NULL;
	trees_state *st = NULL;
	pgml_status rc;

	resolve_spec(&hp, extra, n, p, &spec);
	cap_rows = n_boot < n ? n_boot : n;

	memset(&job, 0, sizeof(job));
	st = pgml_calloc(1, sizeof(trees_state));
	if (st == NULL)
	{
		json_decref(params);
		return out_of_memory(err);
	}
	st->kind = kind;
	st->task = args->task;
	st->output = TREES_OUT_MEAN;
	st->n_features = p;
	st->n_values = nv;
	st->n_outputs = nv;
	st->per_stage = 1;
	st->learning_rate = 1.0;
	st->trees = pgml_calloc(n_est, sizeof(tree));
	xcol = columns_of(train->x, p, NULL, n);
	seeds = pgml_malloc(n_est * sizeof(uint64_t));
	if (classifier)
		cls = pgml_malloc(n * sizeof(uint32_t));
	else
		y = pgml_malloc(n * nv * sizeof(double));
	if (st->trees == NULL || xcol == NULL || seeds == NULL || (classifier ? cls == NULL : y == NULL))
	{
		rc = out_of_memory(err);
		goto done;
	}
	if (classifier)
	{
		for (size_t i = 0; i < n; i++)
			cls[i] = (uint32_t) train->y[i];
		if (hp.class_weight == CW_BALANCED || (hp.class_weight == CW_BALANCED_SUBSAMPLE && !hp.bootstrap))
		{
			size_t		present = 0;

			class_w = pgml_calloc(nv, sizeof(double));
			if (class_w == NULL)
			{
				rc = out_of_memory(err);
				goto done;
			}
			for (size_t i = 0; i < n; i++)
				class_w[cls[i]] += 1.0;
			for (size_t k = 0; k < nv; k++)
				present += class_w[k] > 0;
			for (size_t k = 0; k < nv; k++)
				class_w[k] = class_w[k] > 0 ? (double) n / ((double) present * class_w[k]) : 0.0;
		}
	}
	else
		for (size_t i = 0; i < n * nv; i++)
			y[i] = train->y[i];

	/* one builder per thread of the pool: a worker's id picks its own */
	n_builders = (size_t) pgml_pool_size(args->pool);
	if (use_presort(&spec, n, p, n_builders))
	{
		if ((rc = presort_columns(xcol, n, p, args->pool, &sorted, err)) != PGML_OK)
			goto done;
	}
	in.n = n;
	in.p = p;
	in.nv = nv;
	in.classification = classifier;
	in.xcol = xcol;
	in.sorted = sorted;
	in.cls = cls;
	in.y = y;

	n_slots = 2 * n_builders < n_est ? 2 * n_builders : n_est;
	builders = pgml_calloc(n_builders, sizeof(builder));
	slots = pgml_calloc(n_slots, sizeof(slot));
	if (builders == NULL || slots == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t i = 0; i < n_builders; i++)
	{
		if (!builder_alloc(&builders[i], &spec, &in, cap_rows, 1, NULL))
		{
			rc = out_of_memory(err);
			goto done;
		}
		builders[i].abort = &job.abort;
	}
	for (size_t i = 0; i < n_slots; i++)
	{
		if (!slot_alloc(&slots[i], builders[0].cap_nodes, nv))
		{
			rc = out_of_memory(err);
			goto done;
		}
	}
	trees_rng_seed(&master, hp.seed);
	for (size_t t = 0; t < n_est; t++)
		seeds[t] = trees_rng_next(&master);

	job.in = &in;
	job.hp = &hp;
	job.seeds = seeds;
	job.class_w = class_w;
	job.bag = bag;
	job.n_boot = n_boot;
	job.builders = builders;
	job.n_builders = n_builders;
	job.slots = slots;
	atomic_init(&job.abort, false);
	atomic_init(&job.cancelled, false);
	atomic_init(&job.failed, false);
	for (size_t start = 0; start < n_est; start += n_slots)
	{
		size_t		count = n_est - start < n_slots ? n_est - start : n_slots;

		job.round_start = start;
		rc = pgml_parallel_for(args->pool, count, 1, forest_work, &job, err);
		if (rc == PGML_OK && atomic_load(&job.cancelled))
			rc = pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
		if (rc == PGML_OK && atomic_load(&job.failed))
			rc = pgml_error(err, PGML_ERR_INTERNAL, "growing a tree failed");
		if (rc != PGML_OK)
			goto done;
		for (size_t i = 0; i < count; i++)
		{
			if (!tree_from_slot(&slots[i], nv, &st->trees[start + i]))
			{
				rc = out_of_memory(err);
				goto done;
			}
			st->n_trees = start + i + 1;
		}
		if (hp.verbose > 0)
			pgml_log(PGML_LOG_INFO, "%s: %zu of %zu trees grown", algo->name, st->n_trees, n_est);
	}
	if (hp.oob_score && (rc = forest_oob(st, &job, train, algo->name, err)) != PGML_OK)
		goto done;
	st->params = params != NULL ? params : trees_effective_params(args->hyperparams,
																  extra ? (classifier ? et_classifier_defaults : et_regressor_defaults) :
																  (classifier ? rf_classifier_defaults : rf_regressor_defaults));
	params = NULL;
	if (st->params == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	*state = st;
	st = NULL;

done:
	for (size_t i = 0; builders != NULL && i < n_builders; i++)
		builder_free(&builders[i]);
	for (size_t i = 0; slots != NULL && i < n_slots; i++)
		slot_free(&slots[i]);
	pgml_free(builders);
	pgml_free(slots);
	pgml_free(xcol);
	pgml_free(sorted);
	pgml_free(cls);
	pgml_free(y);
	pgml_free(class_w);
	pgml_free(seeds);
	trees_free(st);
	json_decref(params);
	return rc;
}

pgml_status
trees_bagging_fit(const pgml_algorithm *algo, const pgml_fit_args *args, const pgml_data *train,
				  const trees_bagging_opts *opts, json_t *params, void **state, pgml_err *err)
{
	trees_hp	hp;

	memset(&hp, 0, sizeof(hp));
	*state = NULL;
	hp.crit = args->task == PGML_TASK_CLASSIFICATION ? CRIT_GINI : CRIT_MSE;
	hp.min_samples_split.count = 2;
	hp.min_samples_leaf.count = 1;
	hp.mf_mode = MF_ALL;
	hp.n_estimators = (int64_t) opts->n_estimators;
	hp.verbose = opts->verbose;
	hp.seed = opts->seed;
	hp.bootstrap = opts->bootstrap;
	hp.oob_score = opts->oob_score;
	return forest_grow(algo, TREES_KIND_BAGGING, args, train, &hp, opts->max_samples, opts, params, state, err);
}

static pgml_status
random_forest_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return forest_fit(&pgml_algo_random_forest, false, args, train, state, err);
}

static pgml_status
extra_trees_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	return forest_fit(&pgml_algo_extra_trees, true, args, train, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * Single CART trees for other ensembles (trees.h)
 * ------------------------------------------------------------------------------------------------- */

struct trees_cart
{
	tree_spec	spec;
	tree_input	in;
	float	   *xcol;
	entry	   *sorted;
	uint32_t   *cls;
	double	   *y;
	builder		b;
	slot		s;
};

void
trees_cart_free(trees_cart *c)
{
	if (c == NULL)
		return;
	builder_free(&c->b);
	slot_free(&c->s);
	pgml_free(c->xcol);
	pgml_free(c->sorted);
	pgml_free(c->cls);
	pgml_free(c->y);
	pgml_free(c);
}

pgml_status
trees_cart_new(const pgml_data *d, bool classification, int n_classes, size_t max_depth, pgml_pool *pool,
			   trees_cart **out, pgml_err *err)
{
	trees_cart *c = pgml_calloc(1, sizeof(trees_cart));
	size_t		n = d->n_rows;
	size_t		p = d->n_features;
	pgml_status rc = PGML_OK;

	*out = NULL;
	if (c == NULL)
		return out_of_memory(err);
	c->spec.crit = classification ? CRIT_GINI : CRIT_MSE;
	c->spec.max_features = p;
	c->spec.max_depth = max_depth > 0 ? max_depth : SIZE_MAX;
	c->spec.min_samples_split = 2;
	c->spec.min_samples_leaf = 1;
	c->xcol = columns_of(d->x, p, NULL, n);
	if (classification)
		c->cls = pgml_malloc(n * sizeof(uint32_t));
	else
		c->y = pgml_malloc(n * sizeof(double));
	if (c->xcol == NULL || (classification ? c->cls == NULL : c->y == NULL))
	{
		trees_cart_free(c);
		return out_of_memory(err);
	}
	for (size_t i = 0; i < n; i++)
	{
		if (classification)
			c->cls[i] = (uint32_t) d->y[i];
		else
			c->y[i] = d->y[i * d->n_targets];
	}
	if (use_presort(&c->spec, n, p, 1))
		rc = presort_columns(c->xcol, n, p, pool, &c->sorted, err);
	if (rc != PGML_OK)
	{
		trees_cart_free(c);
		return rc;
	}
	c->in.n = n;
	c->in.p = p;
	c->in.nv = classification ? (size_t) n_classes : 1;
	c->in.classification = classification;
	c->in.xcol = c->xcol;
	c->in.sorted = c->sorted;
	c->in.cls = c->cls;
	c->in.y = c->y;
	if (!builder_alloc(&c->b, &c->spec, &c->in, n, (size_t) pgml_pool_size(pool), pool) ||
		!slot_alloc(&c->s, c->b.cap_nodes, c->in.nv))
	{
		trees_cart_free(c);
		return out_of_memory(err);
	}
	*out = c;
	return PGML_OK;
}

pgml_status
trees_cart_grow(trees_cart *c, const double *w, uint64_t seed, trees_tree *t, pgml_err *err)
{
	memset(t, 0, sizeof(*t));
	memcpy(c->b.w, w, c->in.n * sizeof(double));
	trees_rng_seed(&c->b.rng, seed);
	builder_grow(&c->b, &c->s);
	if (c->b.cancelled)
		return pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
	if (c->b.failed)
		return pgml_error(err, PGML_ERR_INTERNAL, "growing a tree failed");
	if (!tree_from_slot(&c->s, c->in.nv, t))
		return out_of_memory(err);
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Gradient boosting
 * ------------------------------------------------------------------------------------------------- */

typedef struct gb_ctx
{
	const trees_hp *hp;
	const pgml_data *data;
	bool		classifier;
	size_t		n;				/* training rows (after the early-stopping split) */
	size_t		p;
	size_t		K;				/* trees per stage */
	size_t		n_val;
	uint32_t   *train_rows;		/* n: rows of data */
	uint32_t   *val_rows;		/* n_val */
	float	   *xcol;
	entry	   *sorted;
	double	   *y;				/* n: target, or class index */
	double	   *val_y;			/* n_val */
	double	   *raw;			/* n × K */
	double	   *raw_val;		/* n_val × K */
	double	   *prob;			/* n × K: class probabilities at the start of the stage (several classes) */
	double	   *resid;			/* n: the negative gradient the trees fit */
	double	   *scratch;		/* n */
	uint32_t   *perm;			/* n */
	double		huber_delta;
	tree_input	in;
	tree_spec	spec;
	builder		b;
	slot		s;
	rng			rng;
} gb_ctx;

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * scikit-learn's _weighted_percentile with unit weights: the smallest value whose cumulative count reaches
 * percentile / 100 · m. Sorts v[0, m).
 */
static double
unit_percentile(double *v, size_t m, double percentile)
{
	double		adjusted = percentile / 100 * (double) m;
	size_t		idx;

	qsort(v, m, sizeof(double), cmp_double);
	idx = adjusted <= 1 ? 0 : (size_t) ceil(adjusted) - 1;
	return v[idx < m ? idx : m - 1];
}

/* numpy.percentile (linear interpolation) of v[0, m). Sorts v. */
static double
linear_percentile(double *v, size_t m, double percentile)
{
	double		q = percentile / 100;
	double		pos = q * (double) (m - 1);
	size_t		lo = (size_t) floor(pos);
	double		t = pos - (double) lo;
	double		a;
	double		b;

	qsort(v, m, sizeof(double), cmp_double);
	if (lo >= m - 1)
		return v[m - 1];
	a = v[lo];
	b = v[lo + 1];
	return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

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

/* log(1 + e^z) */
static inline double
softplus(double z)
{
	return (z > 0 ? z : 0) + log1p(exp(-fabs(z)));
}

/* Softmax of z[0, k) into out (may alias z); returns log Σ e^z. */
static double
softmax(const double *z, size_t k, double *out)
{
	double		m = z[0];
	double		s = 0;
	double		lse;

	for (size_t i = 1; i < k; i++)
		if (z[i] > m)
			m = z[i];
	for (size_t i = 0; i < k; i++)
		s += exp(z[i] - m);
	lse = m + log(s);
	for (size_t i = 0; i < k; i++)
		out[i] = exp(z[i] - lse);
	return lse;
}

/* The loss of raw predictions (m × K) against targets y (class indices for classification). */
static double
gb_loss_value(const gb_ctx *g, const double *y, const double *raw, size_t m)
{
	size_t		K = g->K;
	double		alpha = g->hp->alpha;
	double		s = 0;

	if (m == 0)
		return 0;
	for (size_t i = 0; i < m; i++)
	{
		double		d = y[i] - raw[i * K];

		switch (g->hp->loss)
		{
			case LOSS_SQUARED:
				s += d * d;
				break;
			case LOSS_ABSOLUTE:
				s += fabs(d);
				break;
			case LOSS_HUBER:
				s += fabs(d) <= g->huber_delta ? 0.5 * d * d : g->huber_delta * (fabs(d) - g->huber_delta / 2);
				break;
			case LOSS_QUANTILE:
				s += y[i] > raw[i] ? alpha * d : -(1 - alpha) * d;
				break;
			case LOSS_LOG:
				if (K == 1)
					s += -2.0 * (y[i] * raw[i] - softplus(raw[i]));
				else
				{
					const double *z = raw + i * K;
					double		mx = z[0];
					double		e = 0;

					for (size_t k = 1; k < K; k++)
						if (z[k] > mx)
							mx = z[k];
					for (size_t k = 0; k < K; k++)
						e += exp(z[k] - mx);
					s += mx + log(e) - z[(size_t) y[i]];
				}
				break;
			case LOSS_EXPONENTIAL:
				s += exp(-(2 * y[i] - 1) * raw[i]);
				break;
		}
	}
	return s / (double) m;
}

/* The initial raw predictions (K values) from the training targets. */
static void
gb_init(gb_ctx *g, double *init)
{
	const trees_hp *hp = g->hp;
	size_t		n = g->n;
	size_t		K = g->K;

	if (hp->init_zero)
	{
		memset(init, 0, K * sizeof(double));
		return;
	}
	switch (hp->loss)
	{
		case LOSS_SQUARED:
			{
				double		s = 0;

				for (size_t i = 0; i < n; i++)
					s += g->y[i];
				init[0] = s / (double) n;
			}
			break;
		case LOSS_ABSOLUTE:
		case LOSS_HUBER:
		case LOSS_QUANTILE:
			memcpy(g->scratch, g->y, n * sizeof(double));
			init[0] = linear_percentile(g->scratch, n, hp->loss == LOSS_QUANTILE ? hp->alpha * 100 : 50);
			break;
		case LOSS_LOG:
		case LOSS_EXPONENTIAL:
			{
				size_t		nc = K == 1 ? 2 : K;
				double		eps = FLT_EPSILON;

				memset(g->scratch, 0, nc * sizeof(double));
				for (size_t i = 0; i < n; i++)
					g->scratch[(size_t) g->y[i]] += 1;
				for (size_t k = 0; k < nc; k++)
				{
					double		q = g->scratch[k] / (double) n;

					g->scratch[k] = q < eps ? eps : q > 1 - eps ? 1 - eps : q;
				}
				if (K > 1)
					for (size_t k = 0; k < K; k++)
						init[k] = log(g->scratch[k]);
				else
				{
					init[0] = log(g->scratch[1] / (1 - g->scratch[1]));
					if (hp->loss == LOSS_EXPONENTIAL)
						init[0] *= 0.5;
				}
			}
			break;
	}
}

/* The negative gradient for the trees of class k (0 unless several classes) into g->resid. */
static void
gb_gradient(gb_ctx *g, size_t k)
{
	size_t		n = g->n;
	size_t		K = g->K;
	double		alpha = g->hp->alpha;

	switch (g->hp->loss)
	{
		case LOSS_SQUARED:
			for (size_t i = 0; i < n; i++)
				g->resid[i] = g->y[i] - g->raw[i];
			break;
		case LOSS_ABSOLUTE:
			for (size_t i = 0; i < n; i++)
				g->resid[i] = g->y[i] - g->raw[i] > 0 ? 1.0 : -1.0;
			break;
		case LOSS_HUBER:
			for (size_t i = 0; i < n; i++)
				g->scratch[i] = fabs(g->y[i] - g->raw[i]);
			g->huber_delta = unit_percentile(g->scratch, n, alpha * 100);
			for (size_t i = 0; i < n; i++)
			{
				double		d = g->y[i] - g->raw[i];

				g->resid[i] = fabs(d) <= g->huber_delta ? d : d > 0 ? g->huber_delta : -g->huber_delta;
			}
			break;
		case LOSS_QUANTILE:
			for (size_t i = 0; i < n; i++)
				g->resid[i] = g->y[i] > g->raw[i] ? alpha : -(1 - alpha);
			break;
		case LOSS_LOG:
			if (K == 1)
				for (size_t i = 0; i < n; i++)
					g->resid[i] = g->y[i] - sigmoid(g->raw[i]);
			else
				for (size_t i = 0; i < n; i++)
					g->resid[i] = ((size_t) g->y[i] == k ? 1.0 : 0.0) - g->prob[i * K + k];
			break;
		case LOSS_EXPONENTIAL:
			for (size_t i = 0; i < n; i++)
			{
				double		s = 2 * g->y[i] - 1;

				g->resid[i] = s * exp(-s * g->raw[i]);
			}
			break;
	}
}

/* Replaces the leaf values of the grown tree (class k) by the loss's line search over each leaf's rows. */
static void
gb_leaf_values(gb_ctx *g, size_t k)
{
	slot	   *s = &g->s;
	size_t		K = g->K;
	double		alpha = g->hp->alpha;

	if (g->hp->loss == LOSS_SQUARED)
		return;					/* the tree's means */
	for (size_t j = 0; j < s->n_leaves; j++)
	{
		const uint32_t *rows = g->b.rows + s->start[j];
		size_t		m = s->end[j] - s->start[j];
		double		num = 0;
		double		den = 0;
		double		v = 0;

		switch (g->hp->loss)
		{
			case LOSS_LOG:
			case LOSS_EXPONENTIAL:
				for (size_t i = 0; i < m; i++)
				{
					uint32_t	r = rows[i];
					double		yk = K == 1 ? g->y[r] : ((size_t) g->y[r] == k ? 1.0 : 0.0);

					if (g->hp->loss == LOSS_LOG)
					{
						num += g->resid[r];
						den += (yk - g->resid[r]) * (1 - yk + g->resid[r]);
					}
					else
					{
						double		sg = 2 * yk - 1;
						double		e = exp(-sg * g->raw[r]);

						num += sg * e;
						den += e;
					}
				}
				if (g->hp->loss == LOSS_LOG && K > 1)
					num *= (double) (K - 1) / (double) K;
				v = fabs(den) < 1e-150 ? 0.0 : num / den;
				break;
			case LOSS_ABSOLUTE:
			case LOSS_QUANTILE:
				for (size_t i = 0; i < m; i++)
					g->scratch[i] = g->y[rows[i]] - g->raw[rows[i]];
				v = unit_percentile(g->scratch, m, g->hp->loss == LOSS_QUANTILE ? alpha * 100 : 50);
				break;
			case LOSS_HUBER:
				{
					double		med;
					double		sum = 0;

					for (size_t i = 0; i < m; i++)
						g->scratch[i] = g->y[rows[i]] - g->raw[rows[i]];
					med = unit_percentile(g->scratch, m, 50);
					for (size_t i = 0; i < m; i++)
					{
						double		d = g->scratch[i] - med;
						double		c = fabs(d) < g->huber_delta ? fabs(d) : g->huber_delta;

						sum += d > 0 ? c : d < 0 ? -c : 0.0;
					}
					v = med + sum / (double) m;
				}
				break;
			case LOSS_SQUARED:
				break;
		}
		s->sums[j] = v;
	}
}

pgml_status
trees_holdout(const float *cls, size_t N, int n_classes, size_t n_val, trees_rng *gen, uint8_t *is_val,
			  size_t *n_val_out, pgml_err *err)
{
	uint32_t   *perm = pgml_malloc(N * sizeof(uint32_t));

	*n_val_out = 0;
	if (perm == NULL)
		return out_of_memory(err);
	memset(is_val, 0, N);
	if (cls == NULL)
	{
		for (size_t i = 0; i < N; i++)
			perm[i] = (uint32_t) i;
		for (size_t i = 0; i < n_val; i++)
		{
			size_t		j = i + trees_rng_below(gen, N - i);

			swap_u32(perm, i, j);
			is_val[perm[i]] = 1;
		}
	}
	else
	{
		/* per class: its share of n_val by largest remainders, keeping a row of every class for training */
		size_t		K = (size_t) n_classes;
		size_t	   *count = pgml_calloc(K, sizeof(size_t));
		size_t	   *take = pgml_calloc(K, sizeof(size_t));
		size_t	   *first = pgml_calloc(K + 1, sizeof(size_t));
		size_t		given = 0;
		pgml_status frc = PGML_ERR_INVALID_ARGUMENT;

		if (count == NULL || take == NULL || first == NULL)
		{
			frc = out_of_memory(err);
			goto strat_fail;
		}
		for (size_t i = 0; i < N; i++)
			count[(size_t) cls[i]]++;
		for (size_t k = 0; k < K; k++)
		{
			if (count[k] < 2)
			{
				frc = pgml_error(err, PGML_ERR_DATA, "early stopping needs at least two rows of every class");
				pgml_err_detail(err, "Class %zu has %zu row%s.", k, count[k], count[k] == 1 ? "" : "s");
				pgml_err_hint(err, "Turn early stopping off.");
				goto strat_fail;
			}
		}
		if (n_val < K || N - n_val < K)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "validation_fraction does not leave a row of every class on both sides");
			pgml_err_detail(err, "%zu of %zu rows are held out for %zu classes.", n_val, N, K);
			goto strat_fail;
		}
		for (size_t k = 0; k < K; k++)
		{
			take[k] = n_val * count[k] / N;
			if (take[k] > count[k] - 1)
				take[k] = count[k] - 1;
			given += take[k];
		}
		while (given < n_val)
		{
			size_t		best = K;
			double		best_rem = -1;

			for (size_t k = 0; k < K; k++)
			{
				double		rem = (double) n_val * (double) count[k] / (double) N - (double) take[k];

				if (take[k] + 1 < count[k] && rem > best_rem)
				{
					best = k;
					best_rem = rem;
				}
			}
			if (best == K)
				break;
			take[best]++;
			given++;
		}
		/* rows grouped by class, each group shuffled; the first take[k] of each are held out */
		for (size_t k = 0; k < K; k++)
			first[k + 1] = first[k] + count[k];
		memset(count, 0, K * sizeof(size_t));
		for (size_t i = 0; i < N; i++)
		{
			size_t		k = (size_t) cls[i];

			perm[first[k] + count[k]++] = (uint32_t) i;
		}
		for (size_t k = 0; k < K; k++)
		{
			uint32_t   *grp = perm + first[k];

			for (size_t i = 0; i < take[k]; i++)
			{
				size_t		j = i + trees_rng_below(gen, count[k] - i);

				swap_u32(grp, i, j);
				is_val[grp[i]] = 1;
			}
		}
		n_val = given;
		pgml_free(count);
		pgml_free(take);
		pgml_free(first);
		goto strat_done;
strat_fail:
		pgml_free(count);
		pgml_free(take);
		pgml_free(first);
		pgml_free(perm);
		return frc;
strat_done:
		;
	}
	pgml_free(perm);
	*n_val_out = n_val;
	return PGML_OK;
}

/* Splits the rows for early stopping (stratified for classification); all rows train otherwise. */
static pgml_status
gb_split(gb_ctx *g, int n_classes, pgml_err *err)
{
	size_t		N = g->data->n_rows;
	size_t		n_val;
	uint8_t    *is_val;
	size_t		a = 0;
	size_t		v = 0;
	pgml_status rc;

	if (g->hp->n_iter_no_change == 0)
	{
		g->n = N;
		g->n_val = 0;
		g->train_rows = pgml_malloc(N * sizeof(uint32_t));
		if (g->train_rows == NULL)
			return out_of_memory(err);
		for (size_t i = 0; i < N; i++)
			g->train_rows[i] = (uint32_t) i;
		return PGML_OK;
	}
	n_val = (size_t) ceil(g->hp->validation_fraction * (double) N);
	if (n_val == 0 || n_val >= N)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "validation_fraction leaves no rows to %s",
				   n_val == 0 ? "validate on" : "train on");
		pgml_err_detail(err, "Early stopping holds out %zu of the %zu rows.", n_val, N);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	is_val = pgml_malloc(N);
	if (is_val == NULL)
		return out_of_memory(err);
	rc = trees_holdout(g->classifier ? g->data->y : NULL, N, n_classes, n_val, &g->rng, is_val, &n_val, err);
	if (rc != PGML_OK)
	{
		if (rc == PGML_ERR_DATA)
			pgml_err_hint(err, "Set n_iter_no_change to null.");
		pgml_free(is_val);
		return rc;
	}
	g->n_val = n_val;
	g->n = N - n_val;
	g->train_rows = pgml_malloc(g->n * sizeof(uint32_t));
	g->val_rows = pgml_malloc(n_val * sizeof(uint32_t));
	if (g->train_rows == NULL || g->val_rows == NULL)
	{
		pgml_free(is_val);
		return out_of_memory(err);
	}
	for (size_t i = 0; i < N; i++)
	{
		if (is_val[i])
			g->val_rows[v++] = (uint32_t) i;
		else
			g->train_rows[a++] = (uint32_t) i;
	}
	pgml_free(is_val);
	return PGML_OK;
}

static void
gb_free(gb_ctx *g)
{
	pgml_free(g->train_rows);
	pgml_free(g->val_rows);
	pgml_free(g->xcol);
	pgml_free(g->sorted);
	pgml_free(g->y);
	pgml_free(g->val_y);
	pgml_free(g->raw);
	pgml_free(g->raw_val);
	pgml_free(g->prob);
	pgml_free(g->resid);
	pgml_free(g->scratch);
	pgml_free(g->perm);
	builder_free(&g->b);
	slot_free(&g->s);
}

/* Fits GradientBoostingRegressor (one target) or GradientBoostingClassifier. */
static pgml_status
gb_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	trees_hp	hp;
	gb_ctx		g;
	trees_state *st = NULL;
	double	   *history = NULL;
	size_t		n;
	size_t		p;
	size_t		K;
	size_t		n_est;
	size_t		n_lanes;
	uint64_t	tree_seed;
	pgml_status rc;

	memset(&g, 0, sizeof(g));
	if ((rc = trees_fit_begin(&pgml_algo_gradient_boosting_trees, args, train, state, err)) != PGML_OK)
		return rc;
	g.classifier = args->task == PGML_TASK_CLASSIFICATION;
	if ((rc = parse_gb(args->hyperparams, g.classifier, args->n_classes, args->seed, &hp, err)) != PGML_OK)
		return rc;
	if (!g.classifier && train->n_targets != 1)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "gradient_boosting_trees fits one target at a time");
		pgml_err_detail(err, "The data have %zu targets.", train->n_targets);
		return PGML_ERR_NOT_SUPPORTED;
	}
	g.hp = &hp;
	g.data = train;
	g.p = p = train->n_features;
	g.K = K = g.classifier && args->n_classes > 2 ? (size_t) args->n_classes : 1;
	n_est = (size_t) hp.n_estimators;
	trees_rng_seed(&g.rng, hp.seed);
	tree_seed = hp.seed ^ 0x5deece66dULL;
	if ((rc = gb_split(&g, args->n_classes, err)) != PGML_OK)
		goto done;
	n = g.n;
	resolve_spec(&hp, false, n, p, &g.spec);

	st = pgml_calloc(1, sizeof(trees_state));
	if (st == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	st->kind = TREES_KIND_GRADIENT_BOOSTING;
	st->task = args->task;
	st->output = !g.classifier ? TREES_OUT_RAW : hp.loss == LOSS_EXPONENTIAL ? TREES_OUT_EXPONENTIAL :
		K == 1 ? TREES_OUT_SIGMOID : TREES_OUT_SOFTMAX;
	st->n_features = p;
	st->n_values = 1;
	st->n_outputs = !g.classifier ? 1 : K == 1 ? 2 : K;
	st->per_stage = K;
	st->learning_rate = hp.learning_rate;
	st->init = pgml_calloc(K, sizeof(double));
	st->trees = pgml_calloc(n_est * K, sizeof(tree));
	g.xcol = columns_of(train->x, p, g.train_rows, n);
	g.y = pgml_malloc(n * sizeof(double));
	g.val_y = pgml_malloc((g.n_val ? g.n_val : 1) * sizeof(double));
	g.raw = pgml_malloc(n * K * sizeof(double));
	g.raw_val = pgml_malloc((g.n_val ? g.n_val : 1) * K * sizeof(double));
	g.resid = pgml_malloc(n * sizeof(double));
	g.scratch = pgml_malloc((n > K ? n : K) * sizeof(double));
	if (g.perm == NULL)
		g.perm = pgml_malloc(n * sizeof(uint32_t));
	if (K > 1)
		g.prob = pgml_malloc(n * K * sizeof(double));
	history = pgml_malloc((hp.n_iter_no_change ? (size_t) hp.n_iter_no_change : 1) * sizeof(double));
	if (st->init == NULL || st->trees == NULL || g.xcol == NULL || g.y == NULL || g.val_y == NULL ||
		g.raw == NULL || g.raw_val == NULL || g.resid == NULL || g.scratch == NULL || g.perm == NULL ||
		(K > 1 && g.prob == NULL) || history == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		g.y[i] = train->y[g.train_rows[i]];
	for (size_t i = 0; i < g.n_val; i++)
		g.val_y[i] = train->y[g.val_rows[i]];
	for (size_t i = 0; i < n; i++)
		g.perm[i] = (uint32_t) i;
	for (size_t i = 0; i < (size_t) hp.n_iter_no_change; i++)
		history[i] = INFINITY;

	if (use_presort(&g.spec, n, p, 1))
	{
		if ((rc = presort_columns(g.xcol, n, p, args->pool, &g.sorted, err)) != PGML_OK)
			goto done;
	}
	g.in.n = n;
	g.in.p = p;
	g.in.nv = 1;
	g.in.classification = false;
	g.in.xcol = g.xcol;
	g.in.sorted = g.sorted;
	g.in.cls = NULL;
	g.in.y = g.resid;
	n_lanes = (size_t) pgml_pool_size(args->pool);
	if (!builder_alloc(&g.b, &g.spec, &g.in, n, n_lanes, args->pool) || !slot_alloc(&g.s, g.b.cap_nodes, 1))
	{
		rc = out_of_memory(err);
		goto done;
	}
	trees_rng_seed(&g.b.rng, trees_splitmix64(&tree_seed));

	gb_init(&g, st->init);
	for (size_t i = 0; i < n; i++)
		memcpy(g.raw + i * K, st->init, K * sizeof(double));
	for (size_t i = 0; i < g.n_val; i++)
		memcpy(g.raw_val + i * K, st->init, K * sizeof(double));

	for (size_t stage = 0; stage < n_est; stage++)
	{
		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
		if (hp.subsample < 1.0)
		{
			size_t		n_inbag = (size_t) (hp.subsample * (double) n);

			if (n_inbag < 1)
				n_inbag = 1;
			memset(g.b.w, 0, n * sizeof(double));
			for (size_t i = 0; i < n_inbag; i++)
			{
				size_t		j = i + trees_rng_below(&g.rng, n - i);

				swap_u32(g.perm, i, j);
				g.b.w[g.perm[i]] = 1.0;
			}
		}
		else
			for (size_t i = 0; i < n; i++)
				g.b.w[i] = 1.0;
		if (K > 1)
			for (size_t i = 0; i < n; i++)
				softmax(g.raw + i * K, K, g.prob + i * K);

		for (size_t k = 0; k < K; k++)
		{
			tree	   *t = &st->trees[st->n_trees];
			tree		view;

			gb_gradient(&g, k);
			builder_grow(&g.b, &g.s);
			if (g.b.cancelled)
			{
				rc = pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
				goto done;
			}
			if (g.b.failed)
			{
				rc = pgml_error(err, PGML_ERR_INTERNAL, "growing a tree failed");
				goto done;
			}
			gb_leaf_values(&g, k);
			view.n_nodes = (uint32_t) g.s.n_nodes;
			view.n_leaves = (uint32_t) g.s.n_leaves;
			view.nodes = g.s.nodes;
			view.values = g.s.sums;
			for (size_t j = 0; j < g.s.n_leaves; j++)
			{
				double		v = hp.learning_rate * g.s.sums[j];

				for (size_t i = g.s.start[j]; i < g.s.end[j]; i++)
					g.raw[(size_t) g.b.rows[i] * K + k] += v;
			}
			if (hp.subsample < 1.0)
			{
				for (size_t i = 0; i < n; i++)
				{
					if (g.b.w[i] > 0)
						continue;
					g.raw[i * K + k] += hp.learning_rate *
						g.s.sums[trees_tree_leaf(&view, train->x + (size_t) g.train_rows[i] * p)];
				}
			}
			for (size_t i = 0; i < g.n_val; i++)
				g.raw_val[i * K + k] += hp.learning_rate *
					g.s.sums[trees_tree_leaf(&view, train->x + (size_t) g.val_rows[i] * p)];
			if (!tree_from_slot(&g.s, 1, t))
			{
				rc = out_of_memory(err);
				goto done;
			}
			st->n_trees++;
		}
		if (hp.verbose > 0)
			pgml_log(PGML_LOG_INFO, "gradient_boosting_trees: stage %zu of %zu, training loss %.6g", stage + 1,
					 n_est, gb_loss_value(&g, g.y, g.raw, n));
		if (hp.n_iter_no_change > 0)
		{
			double		loss = gb_loss_value(&g, g.val_y, g.raw_val, g.n_val);
			bool		better = false;

			for (size_t i = 0; i < (size_t) hp.n_iter_no_change; i++)
				better = better || loss + hp.tol < history[i];
			if (!better)
			{
				if (hp.verbose > 0)
					pgml_log(PGML_LOG_INFO, "gradient_boosting_trees: early stop after %zu stages", stage + 1);
				break;
			}
			history[stage % (size_t) hp.n_iter_no_change] = loss;
		}
	}
	st->params = trees_effective_params(args->hyperparams, g.classifier ? gb_classifier_defaults : gb_regressor_defaults);
	if (st->params == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	*state = st;
	st = NULL;
	rc = PGML_OK;

done:
	gb_free(&g);
	pgml_free(history);
	trees_free(st);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Predict, params, save, load
 * ------------------------------------------------------------------------------------------------- */

size_t
trees_n_outputs(const void *state)
{
	const trees_state *st = state;

	return st ? st->n_outputs : 0;
}

/* Converts a row's accumulated raw values z (per_stage of them) into the output row o. */
static void
finish_additive(const trees_state *st, double *z, float *o)
{
	size_t		width = st->per_stage;

	switch (st->output)
	{
		case TREES_OUT_SIGMOID:
		case TREES_OUT_EXPONENTIAL:
			{
				double		q = sigmoid(st->output == TREES_OUT_SIGMOID ? z[0] : 2 * z[0]);

				o[0] = (float) (1 - q);
				o[1] = (float) q;
			}
			break;
		case TREES_OUT_SOFTMAX:
			softmax(z, width, z);
			for (size_t k = 0; k < width; k++)
				o[k] = (float) z[k];
			break;
		case TREES_OUT_EXP:
			o[0] = (float) exp(z[0] < 700 ? z[0] : 700);
			break;
		default:
			o[0] = (float) z[0];
			break;
	}
}

/* AdaBoost classifier: decision sums d (K values, overwritten) into probabilities o, as scikit-learn. */
static void
finish_samme(size_t K, double *d, float *o)
{
	if (K == 2)
	{
		double		delta = d[1] - d[0];

		d[0] = -delta / 2;
		d[1] = delta / 2;
	}
	else
		for (size_t k = 0; k < K; k++)
			d[k] /= (double) (K - 1);
	softmax(d, K, d);
	for (size_t k = 0; k < K; k++)
		o[k] = (float) d[k];
}

typedef struct ranked
{
	double		v;
	double		w;
} ranked;

static int
cmp_ranked(const void *a, const void *b)
{
	double		x = ((const ranked *) a)->v;
	double		y = ((const ranked *) b)->v;

	return (x > y) - (x < y);
}

/* AdaBoost.R2: the prediction of the tree at which the cumulative weight (trees by prediction) reaches half. */
static double
weighted_median(const trees_state *st, const float *x, ranked *buf)
{
	double		total = 0;
	double		cum = 0;

	for (size_t t = 0; t < st->n_trees; t++)
	{
		buf[t].v = st->trees[t].values[trees_tree_leaf(&st->trees[t], x)];
		buf[t].w = st->tree_weights[t];
	}
	qsort(buf, st->n_trees, sizeof(ranked), cmp_ranked);
	for (size_t t = 0; t < st->n_trees; t++)
		total += buf[t].w;
	for (size_t t = 0; t < st->n_trees; t++)
	{
		cum += buf[t].w;
		if (cum >= 0.5 * total)
			return buf[t].v;
	}
	return buf[st->n_trees - 1].v;
}

/* Predicts n_rows rows, a block of rows at a time through every tree. */
pgml_status
trees_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out, pgml_err *err)
{
	const trees_state *st = state;
	bool		additive;
	size_t		width;
	double	   *acc;
	ranked	   *buf = NULL;

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
	additive = output_is_additive(st->output);
	width = additive ? st->per_stage : st->n_values;
	acc = pgml_malloc(PREDICT_BLOCK * width * sizeof(double));
	if (st->output == TREES_OUT_WEIGHTED_MEDIAN)
		buf = pgml_malloc(st->n_trees * sizeof(ranked));
	if (acc == NULL || (st->output == TREES_OUT_WEIGHTED_MEDIAN && buf == NULL))
	{
		pgml_free(acc);
		pgml_free(buf);
		return out_of_memory(err);
	}
	for (size_t r0 = 0; r0 < n_rows; r0 += PREDICT_BLOCK)
	{
		size_t		nb = n_rows - r0 < PREDICT_BLOCK ? n_rows - r0 : PREDICT_BLOCK;
		const float *xb = x + r0 * n_features;

		if (st->output == TREES_OUT_WEIGHTED_MEDIAN)
		{
			for (size_t i = 0; i < nb; i++)
				out[r0 + i] = (float) weighted_median(st, xb + i * n_features, buf);
		}
		else if (additive)
		{
			for (size_t i = 0; i < nb; i++)
				memcpy(acc + i * width, st->init, width * sizeof(double));
			for (size_t t = 0; t < st->n_trees; t++)
			{
				const tree *tr = &st->trees[t];
				size_t		k = t % width;

				for (size_t i = 0; i < nb; i++)
					acc[i * width + k] += st->learning_rate * tr->values[trees_tree_leaf(tr, xb + i * n_features)];
			}
			for (size_t i = 0; i < nb; i++)
				finish_additive(st, acc + i * width, out + (r0 + i) * st->n_outputs);
		}
		else
		{
			memset(acc, 0, nb * width * sizeof(double));
			for (size_t t = 0; t < st->n_trees; t++)
			{
				const tree *tr = &st->trees[t];

				for (size_t i = 0; i < nb; i++)
				{
					const double *v = tr->values + (size_t) trees_tree_leaf(tr, xb + i * n_features) * width;
					double	   *a = acc + i * width;

					for (size_t k = 0; k < width; k++)
						a[k] += v[k];
				}
			}
			if (st->output == TREES_OUT_SAMME)
				for (size_t i = 0; i < nb; i++)
					finish_samme(width, acc + i * width, out + (r0 + i) * width);
			else
				for (size_t i = 0; i < nb * width; i++)
					out[r0 * width + i] = (float) (acc[i] / (double) st->n_trees);
		}
	}
	pgml_free(acc);
	pgml_free(buf);
	return PGML_OK;
}

json_t *
trees_params(const void *state)
{
	const trees_state *st = state;

	return st && st->params ? json_deep_copy(st->params) : NULL;
}

/* Writes the fitted state (see the layout at the top of the file). */
void
trees_save(const void *state, pgml_buf *out)
{
	const trees_state *st = state;
	char	   *params;

	if (st == NULL)
	{
		out->failed = true;
		return;
	}
	pgml_buf_put_u32(out, TREES_FORMAT);
	pgml_buf_put_u8(out, (uint8_t) st->kind);
	pgml_buf_put_u8(out, (uint8_t) st->task);
	pgml_buf_put_u8(out, (uint8_t) st->output);
	pgml_buf_put_u64(out, st->n_features);
	pgml_buf_put_u32(out, (uint32_t) st->n_values);
	pgml_buf_put_u32(out, (uint32_t) st->n_outputs);
	pgml_buf_put_u32(out, (uint32_t) st->per_stage);
	pgml_buf_put_f64(out, st->learning_rate);
	pgml_buf_put_u64(out, st->per_stage);
	for (size_t k = 0; k < st->per_stage; k++)
		pgml_buf_put_f64(out, st->init ? st->init[k] : 0.0);
	pgml_buf_put_u64(out, st->n_trees);
	for (size_t t = 0; t < st->n_trees && !out->failed; t++)
	{
		const tree *tr = &st->trees[t];

		pgml_buf_put_u32(out, tr->n_nodes);
		pgml_buf_put_u32(out, tr->n_leaves);
		for (uint32_t i = 0; i < tr->n_nodes; i++)
		{
			pgml_buf_put_u32(out, tr->nodes[i].feature < 0 ? UINT32_MAX : (uint32_t) tr->nodes[i].feature);
			pgml_buf_put_u32(out, tr->nodes[i].child);
			pgml_buf_put_f32(out, tr->nodes[i].threshold);
		}
		pgml_buf_put_f64s(out, tr->values, (size_t) tr->n_leaves * st->n_values);
	}
	if (st->output == TREES_OUT_WEIGHTED_MEDIAN)
		pgml_buf_put_f64s(out, st->tree_weights, st->n_trees);
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

/* Whether the header fields agree with each other. */
static bool
header_is_valid(unsigned kind, unsigned task, unsigned output, uint64_t n_values, uint64_t n_outputs,
				uint64_t per_stage)
{
	bool		regression = task == PGML_TASK_REGRESSION;

	if (task != PGML_TASK_REGRESSION && task != PGML_TASK_CLASSIFICATION)
		return false;
	if (n_values < 1 || n_values > MAX_VALUES || per_stage < 1 || per_stage > MAX_VALUES)
		return false;
	switch (kind)
	{
		case TREES_KIND_RANDOM_FOREST:
		case TREES_KIND_EXTRA_TREES:
		case TREES_KIND_BAGGING:
			return output == TREES_OUT_MEAN && per_stage == 1 && n_outputs == n_values &&
				(regression || n_values >= 2);
		case TREES_KIND_ADA_BOOST:
			if (regression)
				return output == TREES_OUT_WEIGHTED_MEDIAN && n_values == 1 && per_stage == 1 && n_outputs == 1;
			return output == TREES_OUT_SAMME && n_values >= 2 && per_stage == 1 && n_outputs == n_values;
		case TREES_KIND_GRADIENT_BOOSTING:
		case TREES_KIND_HIST_GRADIENT_BOOSTING:
		case TREES_KIND_LIGHTGBM:
			if (n_values != 1)
				return false;
			if (regression)
				return (output == TREES_OUT_RAW || (output == TREES_OUT_EXP && kind != TREES_KIND_GRADIENT_BOOSTING)) &&
					per_stage == 1 && n_outputs == 1;
			if (output == TREES_OUT_SIGMOID || (output == TREES_OUT_EXPONENTIAL && kind == TREES_KIND_GRADIENT_BOOSTING))
				return per_stage == 1 && n_outputs == 2;
			return output == TREES_OUT_SOFTMAX && per_stage >= 3 && n_outputs == per_stage;
		default:
			return false;
	}
}

/* Reads and validates one tree. */
static bool
load_tree(pgml_reader *in, size_t n_features, size_t n_values, tree *t, const char **reason)
{
	uint32_t	n_nodes = pgml_reader_u32(in);
	uint32_t	n_leaves = pgml_reader_u32(in);
	uint8_t    *refs;
	uint32_t	next_leaf = 0;
	size_t		n;

	*reason = "Unexpected end of data";
	if (pgml_reader_status(in) != PGML_OK)
		return false;
	*reason = "A tree's size is out of range";
	if (n_leaves < 1 || n_leaves > (MAX_NODES + 1) / 2 || n_nodes != 2 * n_leaves - 1 ||
		(size_t) n_nodes > pgml_reader_remaining(in) / 12 ||
		(size_t) n_leaves > (pgml_reader_remaining(in) - (size_t) n_nodes * 12) / 8 / n_values)
		return false;
	t->nodes = pgml_malloc((size_t) n_nodes * sizeof(tnode));
	refs = pgml_calloc(n_nodes, 1);
	if (t->nodes == NULL || refs == NULL)
	{
		pgml_free(refs);
		*reason = "Out of memory";
		return false;
	}
	t->n_nodes = n_nodes;
	t->n_leaves = n_leaves;
	*reason = "A tree node is invalid";
	for (uint32_t i = 0; i < n_nodes; i++)
	{
		uint32_t	feature = pgml_reader_u32(in);
		uint32_t	child = pgml_reader_u32(in);
		float		thr = pgml_reader_f32(in);
		tnode	   *nd = &t->nodes[i];

		if (feature == UINT32_MAX)
		{
			if (child != next_leaf++)
				goto fail;
			nd->feature = -1;
			nd->child = child;
			nd->threshold = 0;
			continue;
		}
		if (feature >= n_features || child <= i || child >= n_nodes - 1 || isnan(thr) || refs[child] ||
			refs[child + 1])
			goto fail;
		refs[child] = refs[child + 1] = 1;
		nd->feature = (int32_t) feature;
		nd->child = child;
		nd->threshold = thr;
	}
	if (pgml_reader_status(in) != PGML_OK)
	{
		*reason = "Unexpected end of data";
		goto fail;
	}
	if (next_leaf != n_leaves)
		goto fail;
	for (uint32_t i = 1; i < n_nodes; i++)
		if (!refs[i])
			goto fail;
	pgml_free(refs);
	refs = NULL;
	t->values = pgml_reader_f64s(in, (size_t) n_leaves * n_values, (size_t) n_leaves * n_values, &n);
	if (t->values == NULL)
	{
		*reason = "Unexpected end of data";
		return false;
	}
	for (size_t i = 0; i < n; i++)
	{
		if (!isfinite(t->values[i]))
		{
			*reason = "A leaf value is not finite";
			return false;
		}
	}
	return true;

fail:
	pgml_free(refs);
	return false;
}

/* Reads a state written by trees_save whose kind is `kind`, validating all of it. */
pgml_status
trees_load_kind(pgml_reader *in, trees_kind kind, void **state, pgml_err *err)
{
	uint32_t	format;
	unsigned	k;
	unsigned	task;
	unsigned	output;
	uint64_t	n_features;
	uint64_t	n_values;
	uint64_t	n_outputs;
	uint64_t	per_stage;
	uint64_t	n_init;
	uint64_t	n_trees;
	double		lr;
	const char *reason = NULL;
	char	   *text = NULL;
	trees_state *st;

	*state = NULL;
	format = pgml_reader_u32(in);
	k = pgml_reader_u8(in);
	task = pgml_reader_u8(in);
	output = pgml_reader_u8(in);
	n_features = pgml_reader_u64(in);
	n_values = pgml_reader_u32(in);
	n_outputs = pgml_reader_u32(in);
	per_stage = pgml_reader_u32(in);
	lr = pgml_reader_f64(in);
	n_init = pgml_reader_u64(in);
	if (pgml_reader_status(in) != PGML_OK)
		return load_fail(in, err, "Unexpected end of data");
	if (format != TREES_FORMAT)
		return load_fail(in, err, "Unknown tree model format version");
	if (k != (unsigned) kind)
		return load_fail(in, err, "The tree model kind does not belong to this algorithm");
	if (n_features < 1 || n_features > MAX_FEATURES)
		return load_fail(in, err, "The number of features is out of range");
	if (!header_is_valid(k, task, output, n_values, n_outputs, per_stage) || n_init != per_stage || !isfinite(lr))
		return load_fail(in, err, "The tree model header is inconsistent");
	if (n_init > pgml_reader_remaining(in) / 8)
		return load_fail(in, err, "Unexpected end of data");
	st = pgml_calloc(1, sizeof(trees_state));
	if (st == NULL)
		return out_of_memory(err);
	st->kind = (trees_kind) k;
	st->task = (pgml_task) task;
	st->output = (trees_output) output;
	st->n_features = (size_t) n_features;
	st->n_values = (size_t) n_values;
	st->n_outputs = (size_t) n_outputs;
	st->per_stage = (size_t) per_stage;
	st->learning_rate = lr;
	st->init = pgml_malloc(per_stage * sizeof(double));
	if (st->init == NULL)
	{
		trees_free(st);
		return out_of_memory(err);
	}
	for (size_t i = 0; i < per_stage; i++)
	{
		st->init[i] = pgml_reader_f64(in);
		if (!isfinite(st->init[i]))
			reason = "An initial value is not finite";
	}
	n_trees = pgml_reader_u64(in);
	if (reason == NULL && pgml_reader_status(in) != PGML_OK)
		reason = "Unexpected end of data";
	if (reason == NULL &&
		(n_trees < 1 || n_trees > MAX_TREES || n_trees % per_stage != 0 ||
		 n_trees > pgml_reader_remaining(in) / (20 + 8 * n_values)))
		reason = "The number of trees is out of range";
	if (reason == NULL)
	{
		st->trees = pgml_calloc((size_t) n_trees, sizeof(tree));
		if (st->trees == NULL)
		{
			trees_free(st);
			return out_of_memory(err);
		}
	}
	for (size_t t = 0; reason == NULL && t < n_trees; t++)
	{
		bool		ok = load_tree(in, st->n_features, st->n_values, &st->trees[t], &reason);

		st->n_trees = t + 1;
		if (ok)
			reason = NULL;
	}
	if (reason == NULL && st->output == TREES_OUT_WEIGHTED_MEDIAN)
	{
		size_t		n;

		st->tree_weights = pgml_reader_f64s(in, (size_t) n_trees, (size_t) n_trees, &n);
		if (st->tree_weights == NULL)
			reason = "Unexpected end of data";
		for (size_t i = 0; reason == NULL && i < n; i++)
			if (!(st->tree_weights[i] >= 0) || !isfinite(st->tree_weights[i]))
				reason = "A tree weight is not a finite non-negative number";
	}
	if (reason == NULL)
	{
		text = pgml_reader_str(in, MAX_PARAMS_JSON);
		if (pgml_reader_status(in) != PGML_OK)
			reason = "Unexpected end of data";
		else if (text != NULL)
		{
			pgml_err	jerr;

			if (pgml_json_parse(text, strlen(text), "tree model parameters", &st->params, &jerr) != PGML_OK ||
				!json_is_object(st->params))
				reason = "The stored hyperparameters are not a JSON object";
		}
	}
	pgml_free(text);
	if (reason != NULL)
	{
		trees_free(st);
		return load_fail(in, err, reason);
	}
	*state = st;
	return PGML_OK;
}

static pgml_status
random_forest_load(pgml_reader *in, void **state, pgml_err *err)
{
	return trees_load_kind(in, TREES_KIND_RANDOM_FOREST, state, err);
}

static pgml_status
extra_trees_load(pgml_reader *in, void **state, pgml_err *err)
{
	return trees_load_kind(in, TREES_KIND_EXTRA_TREES, state, err);
}

static pgml_status
gradient_boosting_load(pgml_reader *in, void **state, pgml_err *err)
{
	return trees_load_kind(in, TREES_KIND_GRADIENT_BOOSTING, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * Test hooks (trees.h)
 * ------------------------------------------------------------------------------------------------- */

size_t
trees_count(const void *state)
{
	const trees_state *st = state;

	return st ? st->n_trees : 0;
}

size_t
trees_leaves(const void *state, size_t i)
{
	const trees_state *st = state;

	return st && i < st->n_trees ? st->trees[i].n_leaves : 0;
}

size_t
trees_depth(const void *state, size_t i)
{
	const trees_state *st = state;
	const tree *t;
	uint32_t   *depth;
	size_t		deepest = 0;

	if (st == NULL || i >= st->n_trees)
		return 0;
	t = &st->trees[i];
	depth = pgml_calloc(t->n_nodes, sizeof(uint32_t));
	if (depth == NULL)
		return 0;
	for (uint32_t j = 0; j < t->n_nodes; j++)
	{
		if (depth[j] > deepest)
			deepest = depth[j];
		if (t->nodes[j].feature >= 0)
			depth[t->nodes[j].child] = depth[t->nodes[j].child + 1] = depth[j] + 1;
	}
	pgml_free(depth);
	return deepest;
}

/* ---------------------------------------------------------------------------------------------------
 * The tables
 * ------------------------------------------------------------------------------------------------- */

const pgml_algorithm pgml_algo_random_forest = {
	.name = "random_forest",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = forest_regressor_params,
	.params_classification = forest_classifier_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = true,
	.fit = random_forest_fit,
	.n_outputs = trees_n_outputs,
	.predict = trees_predict,
	.params = trees_params,
	.save = trees_save,
	.load = random_forest_load,
	.free = trees_free,
};

const pgml_algorithm pgml_algo_extra_trees = {
	.name = "extra_trees",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = forest_regressor_params,
	.params_classification = forest_classifier_params,
	.params_other = no_params,
	.multi_target = true,
	.has_proba = true,
	.fit = extra_trees_fit,
	.n_outputs = trees_n_outputs,
	.predict = trees_predict,
	.params = trees_params,
	.save = trees_save,
	.load = extra_trees_load,
	.free = trees_free,
};

const pgml_algorithm pgml_algo_gradient_boosting_trees = {
	.name = "gradient_boosting_trees",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = gb_regressor_params,
	.params_classification = gb_classifier_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = true,
	.fit = gb_fit,
	.n_outputs = trees_n_outputs,
	.predict = trees_predict,
	.params = trees_params,
	.save = trees_save,
	.load = gradient_boosting_load,
	.free = trees_free,
};
