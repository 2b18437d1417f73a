/*
 * boost.c — histogram gradient boosting: "hist_gradient_boosting" (scikit-learn 1.2's
 * HistGradientBoostingRegressor / HistGradientBoostingClassifier) and "lightgbm" (LightGBM's algorithm —
 * leaf-wise histogram GBDT — with the parameter names and defaults of LightGBM's scikit-learn API,
 * LGBMRegressor / LGBMClassifier). This file implements LightGBM's published algorithm; it is not, and does
 * not use, the LightGBM library. Both share the machinery below; our code throughout.
 *
 * Binning. Each feature's values are mapped once to at most max_bins bins (uint8), from at most
 * 200,000 rows (subsample_for_bin for lightgbm) drawn without replacement by our generator:
 *   hist_gradient_boosting  scikit-learn's rule: with at most max_bins distinct values, thresholds at the
 *                           midpoints between consecutive ones; else numpy's "midpoint" percentiles at
 *                           100 k / max_bins, k = 1..max_bins-1 (repeated thresholds leave empty bins).
 *   lightgbm                LightGBM's greedy bin finding: with at most max_bin distinct values, one bin per
 *                           value but merged until a bin holds min_data_in_bin (3) sampled rows; else values
 *                           at least as frequent as the mean bin size get bins of their own and the others
 *                           are packed greedily to about the mean (remaining rows / remaining bins).
 * A value goes to the first bin whose threshold it does not exceed; trees store the thresholds (as the largest
 * float not above them), so predicting on raw floats follows exactly the training rows' bins.
 *
 * Trees grow best first (leaf-wise): the splittable leaf with the largest gain is split next until
 * max_leaf_nodes (num_leaves) leaves or max_depth. A node's histogram holds per feature and bin the sums of
 * gradients and hessians and the row count; the smaller child's histogram is built from its rows (gradients
 * gathered in row order first) and the larger one's is the parent's minus it (the subtraction trick, in the
 * parent's buffer). Histogram building and the per-feature split search run on the pool, one feature per
 * item; the per-feature results are combined in feature order, so the pool never changes a model. The split
 * of a feature is the bin boundary with the largest gain
 *     gain = T(G_L)² / (H_L + λ) + T(G_R)² / (H_R + λ) − parent term
 * (T is LightGBM's L1 soft threshold T(g) = sign(g) max(|g| − α, 0), the identity for scikit-learn), among
 * boundaries leaving min_samples_leaf rows and min_hessian (1e-3 / min_child_weight) hessian on each side;
 * the first feature and bin win ties. Leaf values are Newton steps −T(G) / (H + λ) times the learning rate.
 * The parent term is scikit-learn's (0 at the root, whose value is 0, else G² / (H + λ)) or LightGBM's
 * (T(G)² / (H + λ) + min_split_gain); a split needs a positive gain.
 *
 * Losses (gradients and hessians as float32, sums in double, as scikit-learn):
 *   squared_error / regression     g = z − y, h = 1; baseline the mean
 *   absolute_error / regression_l1 g = sign(z − y), h = 1; leaves then set to the median residual of their
 *                                  rows (scikit-learn's update; LightGBM renews leaf outputs the same way)
 *   quantile                       pinball gradients, leaves set to the residuals' quantile
 *   poisson                        log link: g = e^z − y, h = e^z (LightGBM: e^(z + 0.7), its
 *                                  poisson_max_delta_step); baseline log(mean y)
 *   log_loss / binary, multiclass  sigmoid (one tree per iteration) or softmax (one tree per class per
 *                                  iteration, gradients from the iteration's start; LightGBM scales the softmax
 *                                  hessian by K / (K − 1)); baselines the (centred) log-odds of the priors
 *
 * hist_gradient_boosting's early stopping follows scikit-learn 1.2: 'auto' turns it on above 10,000 rows;
 * validation_fraction (a fraction, a count or null for the training rows) is held out (stratified for
 * classifiers, by our generator, so the rows differ from scikit-learn's) before binning; scoring "loss"
 * records −loss after the baseline and every iteration and stops when none of the last n_iter_no_change
 * scores beats the one before them by more than tol. lightgbm adds bagging (every bagging_freq iterations,
 * floor(bagging_fraction · n) rows without replacement grow the trees; the other rows are predicted) and
 * feature_fraction (features drawn per tree), and stops, as LightGBM, when no tree of an iteration can split.
 * Where LightGBM estimates a bin's row count from its hessian sum we count rows exactly; min_child_samples 0
 * counts as 1 (an empty leaf never helps).
 *
 * hist_gradient_boosting reproduces scikit-learn's arithmetic where ties are common (identical gradients
 * early in classification, ±1 gradients of absolute_error): gains are computed as scikit-learn computes
 * them (node loss G·v minus the children's), the splittable nodes sit in a heap that follows Python's heapq
 * step for step, the left child is pushed first, and medians are numpy's. Below 200,000 rows and without
 * a validation split it draws no random numbers and grows scikit-learn's trees.
 *
 * The fitted state is trees.c's (trees.h): node arrays with the shrunk leaf values, the baseline as init,
 * saved and loaded, with all its validation, by trees.c.
 */
#include "algorithms.h"
#include "trees.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS			((size_t) INT32_MAX)
#define MAX_TREES			((size_t) 1 << 24)
#define MAX_BINS			255
#define NODE_EPS			1e-15	/* added to hessian sums in the Newton step, as scikit-learn */
#define BIN_SUBSAMPLE		200000
#define LGBM_MIN_DATA_IN_BIN 3
#define LGBM_POISSON_DELTA	0.7
#define ES_AUTO_ROWS		10000

typedef enum hb_flavor
{
	FLAVOR_SKLEARN,
	FLAVOR_LIGHTGBM,
} hb_flavor;

typedef enum hb_loss
{
	HL_SQUARED,
	HL_ABSOLUTE,
	HL_QUANTILE,
	HL_POISSON,
	HL_LOG,
} hb_loss;

/* Everything a fit needs, resolved from either flavor's hyperparameters. */
typedef struct hb_config
{
	hb_flavor	flavor;
	hb_loss		loss;
	double		quantile;
	double		learning_rate;
	size_t		max_iter;
	size_t		max_leaves;		/* 0: no limit */
	size_t		max_depth;		/* 0: no limit */
	size_t		min_samples_leaf;
	double		min_hessian;
	double		l1;
	double		l2;
	double		min_gain;		/* lightgbm: min_split_gain */
	int			max_bins;
	size_t		bin_sample;
	bool		early_stopping;
	bool		val_given;		/* validation_fraction is not null */
	bool		val_is_count;
	double		val_fraction;
	size_t		val_count;
	size_t		n_iter_no_change;
	double		tol;
	double		bagging_fraction;
	size_t		bagging_freq;
	double		feature_fraction;
	uint64_t	seed;
	int64_t		verbose;
	const char *name;			/* for messages */
} hb_config;

static pgml_status
out_of_memory(pgml_err *err)
{
	return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
}

/* ---------------------------------------------------------------------------------------------------
 * Small numerics
 * ------------------------------------------------------------------------------------------------- */

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

static inline double
softplus(double z)
{
	return (z > 0 ? z : 0) + log1p(exp(-fabs(z)));
}

/* The k-th smallest of v[0, m) (reorders v). */
static double
select_kth(double *v, size_t m, size_t k)
{
	size_t		lo = 0;
	size_t		hi = m - 1;

	while (lo < hi)
	{
		double		pivot = v[lo + (hi - lo) / 2];
		size_t		i = lo;
		size_t		j = hi;

		while (i <= j)
		{
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j)
			{
				double		t = v[i];

				v[i] = v[j];
				v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/* numpy.median of v[0, m), m >= 1 (the mean of the middle two for even m); reorders v. */
static double
median(double *v, size_t m)
{
	double		a;
	double		b;

	if (m % 2 == 1)
		return select_kth(v, m, m / 2);
	a = select_kth(v, m, m / 2 - 1);
	b = v[m / 2];
	for (size_t i = m / 2 + 1; i < m; i++)
		if (v[i] < b)
			b = v[i];
	return (a + b) / 2;
}

/* numpy.percentile with linear interpolation of v[0, m), m >= 1; reorders v. */
static double
percentile_linear(double *v, size_t m, double q)
{
	double		pos = q / 100.0 * (double) (m - 1);
	size_t		lo = (size_t) floor(pos);
	double		t = pos - (double) lo;
	double		a;
	double		b;

	if (lo >= m - 1)
		return select_kth(v, m, m - 1);
	a = select_kth(v, m, lo);
	b = v[lo + 1];
	for (size_t i = lo + 2; i < m; i++)
		if (v[i] < b)
			b = v[i];
	return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

/* Sorts floats ascending (LSD radix on their order-preserving bits; tmp: n floats). */
static void
sort_floats(float *a, float *tmp, size_t n)
{
	uint32_t	count[256];
	float	   *src = a;
	float	   *dst = tmp;

	for (int pass = 0; pass < 4; pass++)
	{
		int			shift = 8 * pass;
		uint32_t	sum = 0;

		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
		{
			uint32_t	u;

			memcpy(&u, &src[i], 4);
			u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
			count[(u >> shift) & 255]++;
		}
		for (int d = 0; d < 256; d++)
		{
			uint32_t	c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
		{
			uint32_t	u;

			memcpy(&u, &src[i], 4);
			u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
			dst[count[(u >> shift) & 255]++] = src[i];
		}
		{
			float	   *t = src;

			src = dst;
			dst = t;
		}
	}
	/* four passes: the result is back in a */
}

/* ---------------------------------------------------------------------------------------------------
 * Binning
 * ------------------------------------------------------------------------------------------------- */

/* scikit-learn's thresholds from sorted values v[0, m) into th; returns their number (< max_bins). */
static size_t
bins_sklearn(const float *v, size_t m, int max_bins, double *th, double *distinct)
{
	size_t		nd = 0;

	for (size_t i = 0; i < m; i++)
		if (nd == 0 || (double) v[i] != distinct[nd - 1])
			distinct[nd++] = v[i];
	if (nd <= (size_t) max_bins)
	{
		for (size_t i = 0; i + 1 < nd; i++)
			th[i] = (distinct[i] + distinct[i + 1]) * 0.5;
		return nd - 1;
	}
	for (int k = 1; k < max_bins; k++)
	{
		/* numpy.linspace(0, 100, max_bins + 1)[k] / 100, then the "midpoint" method */
		double		q = ((double) k * (100.0 / (double) max_bins)) / 100.0;
		double		pos = q * (double) (m - 1);
		double		lo = floor(pos);
		size_t		i = (size_t) lo;
		double		a = v[i];
		double		b = v[i + 1 < m ? i + 1 : m - 1];

		th[k - 1] = pos == lo ? a : b - (b - a) * 0.5;
	}
	return (size_t) max_bins - 1;
}

/* LightGBM's greedy bin finding from sorted values v[0, m) into th; returns their number (< max_bin). */
static size_t
bins_lightgbm(const float *v, size_t m, int max_bin, double *th, double *distinct, double *counts)
{
	size_t		nd = 0;
	size_t		nt = 0;

	for (size_t i = 0; i < m; i++)
	{
		if (nd == 0 || (double) v[i] != distinct[nd - 1])
		{
			distinct[nd] = v[i];
			counts[nd++] = 0;
		}
		counts[nd - 1] += 1;
	}
	if (nd <= (size_t) max_bin)
	{
		double		cur = 0;

		for (size_t i = 0; i + 1 < nd; i++)
		{
			cur += counts[i];
			if (cur >= LGBM_MIN_DATA_IN_BIN)
			{
				th[nt++] = (distinct[i] + distinct[i + 1]) / 2.0;
				cur = 0;
			}
		}
		return nt;
	}
	else
	{
		double		mean = (double) m / max_bin;
		double		rest_rows = (double) m;
		double		rest_bins = max_bin;
		double		cur = 0;

		/* values as frequent as a mean bin get their own bins */
		for (size_t i = 0; i < nd; i++)
		{
			if (counts[i] >= mean)
			{
				rest_rows -= counts[i];
				rest_bins -= 1;
			}
		}
		mean = rest_bins > 0 ? rest_rows / rest_bins : (double) m;
		if (mean < LGBM_MIN_DATA_IN_BIN)
			mean = LGBM_MIN_DATA_IN_BIN;
		for (size_t i = 0; i + 1 < nd && nt + 1 < (size_t) max_bin; i++)
		{
			bool		big = counts[i] >= (double) m / max_bin;
			bool		next_big = counts[i + 1] >= (double) m / max_bin;

			cur += counts[i];
			if (!big)
				rest_rows -= counts[i];
			if (big || cur >= mean || (next_big && cur >= fmax(1.0, mean * 0.5)))
			{
				th[nt++] = (distinct[i] + distinct[i + 1]) / 2.0;
				cur = 0;
				if (!big)
				{
					rest_bins -= 1;
					if (rest_bins > 0)
						mean = fmax(LGBM_MIN_DATA_IN_BIN, rest_rows / rest_bins);
				}
			}
		}
		return nt;
	}
}

/* ---------------------------------------------------------------------------------------------------
 * The fit
 * ------------------------------------------------------------------------------------------------- */

typedef struct hbin
{
	double		g;
	double		h;
	uint32_t	n;
} hbin;

typedef struct hsplit
{
	double		gain;			/* <= 0: none */
	uint32_t	bin;			/* bins <= bin go left */
	uint32_t	nl;
	double		gl;
	double		hl;
} hsplit;

/* A node being grown; node i of the output tree. */
typedef struct hnode
{
	uint32_t	start;			/* rows idx[start, end) */
	uint32_t	end;
	uint32_t	depth;
	bool		split;			/* internal node */
	uint32_t	left;			/* its left child (the right one follows) */
	double		g;
	double		h;
	double		value;			/* the Newton step (unshrunk) */
	double		parent_term;
	hbin	   *hist;
	int32_t		feature;		/* best split */
	hsplit		best;
} hnode;

typedef struct hb_fit
{
	const hb_config *cfg;
	pgml_pool  *pool;
	const pgml_data *data;
	size_t		n;				/* training rows */
	size_t		p;
	size_t		K;				/* trees per iteration */
	int			n_classes;
	uint32_t   *train_rows;		/* n rows of data */
	uint32_t   *val_rows;
	size_t		n_val;
	uint8_t    *bins;			/* p × n */
	uint32_t   *nbins;			/* p */
	uint32_t   *off;			/* p: each feature's first bin in a histogram */
	size_t		total_bins;
	double	   *th;				/* total_bins: thresholds (the last of each feature unused) */
	double	   *y;				/* n */
	double	   *val_y;
	double	   *raw;			/* n × K */
	double	   *raw_val;		/* n_val × K */
	float	   *grad;			/* K × n */
	float	   *hess;			/* K × n */
	bool		const_hess;
	/* bagging */
	uint32_t   *bag;			/* n: in-bag rows, ascending */
	size_t		n_bag;
	uint8_t    *in_bag;			/* n */
	/* one tree */
	uint32_t   *idx;			/* n */
	uint32_t   *tmp;			/* n */
	float	   *og;				/* n: the node's gradients in idx order */
	float	   *oh;
	double	   *scratch;		/* n */
	uint32_t   *feats;			/* features this tree uses */
	size_t		n_feats;
	uint8_t    *fmark;			/* p */
	hnode	   *nodes;
	size_t		cap_nodes;
	size_t		n_nodes;
	uint32_t   *heap;
	size_t		heap_n;
	hbin	  **hists;			/* every histogram allocated */
	size_t		n_hists;
	size_t		cap_hists;
	hbin	  **free_hists;
	size_t		n_free;
	hsplit	   *cand[2];		/* n_feats: per-feature best split of the two nodes being searched */
	trees_rng	rng;
} hb_fit;

/* A histogram buffer (allocated here, on the caller's thread, when none is free). */
static hbin *
hist_acquire(hb_fit *F)
{
	hbin	   *h;

	if (F->n_free > 0)
		return F->free_hists[--F->n_free];
	if (F->n_hists == F->cap_hists)
	{
		size_t		cap = F->cap_hists ? 2 * F->cap_hists : 16;
		hbin	  **a = pgml_realloc(F->hists, cap * sizeof(hbin *));
		hbin	  **b;

		if (a == NULL)
			return NULL;
		F->hists = a;
		b = pgml_realloc(F->free_hists, cap * sizeof(hbin *));
		if (b == NULL)
			return NULL;
		F->free_hists = b;
		F->cap_hists = cap;
	}
	h = pgml_malloc(F->total_bins * sizeof(hbin));
	if (h == NULL)
		return NULL;
	F->hists[F->n_hists++] = h;
	return h;
}

static void
hist_release(hb_fit *F, hnode *nd)
{
	if (nd->hist != NULL)
		F->free_hists[F->n_free++] = nd->hist;
	nd->hist = NULL;
}

static inline double
thresh_l1(double g, double l1)
{
	if (l1 <= 0)
		return g;
	return g > l1 ? g - l1 : g < -l1 ? g + l1 : 0.0;
}

static inline double
leaf_gain(const hb_config *c, double g, double h)
{
	double		t = thresh_l1(g, c->l1);

	return t * t / (h + c->l2 + NODE_EPS);
}

static inline double
leaf_value(const hb_config *c, double g, double h)
{
	return -thresh_l1(g, c->l1) / (h + c->l2 + NODE_EPS);
}

/* The best split of node nd on feature f (its histogram is built). */
static void
find_split(const hb_fit *F, const hnode *nd, uint32_t f, hsplit *out)
{
	const hb_config *c = F->cfg;
	const hbin *hb = nd->hist + F->off[f];
	uint32_t	nb = F->nbins[f];
	uint32_t	N = nd->end - nd->start;
	double		G = nd->g;
	double		H = nd->h;
	size_t		msl = c->min_samples_leaf;
	double		gl = 0;
	double		hl = 0;
	uint32_t	nl = 0;

	out->gain = -1;
	for (uint32_t b = 0; b + 1 < nb; b++)
	{
		uint32_t	nr;
		double		hr;
		double		gain;

		nl += hb[b].n;
		gl += hb[b].g;
		hl += F->const_hess ? (double) hb[b].n : hb[b].h;
		nr = N - nl;
		hr = H - hl;
		if (nl < msl)
			continue;
		if (nr < msl)
			break;
		if (hl < c->min_hessian)
			continue;
		if (hr < c->min_hessian)
			break;
		if (c->flavor == FLAVOR_SKLEARN)
		{
			/* scikit-learn's arithmetic: ties between equal gains then go the same way */
			double		gr = G - gl;
			double		vl = -gl / (hl + c->l2 + NODE_EPS);
			double		vr = -gr / (hr + c->l2 + NODE_EPS);

			gain = nd->parent_term;
			gain -= gl * vl;
			gain -= gr * vr;
		}
		else
			gain = leaf_gain(c, gl, hl) + leaf_gain(c, G - gl, hr) - nd->parent_term;
		if (gain > out->gain && gain > 0)
		{
			out->gain = gain;
			out->bin = b;
			out->nl = nl;
			out->gl = gl;
			out->hl = hl;
		}
	}
}

/* One histogram job: build `small`'s histogram (and `large`'s by subtraction) and search both. */
typedef struct hist_job
{
	hb_fit	   *F;
	hnode	   *small;
	hnode	   *large;			/* NULL at the root; its hist holds the parent's on entry */
	bool		all_rows;		/* small covers rows 0..n-1 in order (the root without bagging) */
	bool		search_small;
	bool		search_large;
} hist_job;

static void
hist_work(void *ctx, size_t begin, size_t end, int worker)
{
	hist_job   *j = ctx;
	hb_fit	   *F = j->F;
	hnode	   *s = j->small;
	size_t		m = s->end - s->start;
	const uint32_t *rows = F->idx + s->start;

	(void) worker;
	for (size_t i = begin; i < end; i++)
	{
		uint32_t	f = F->feats[i];
		const uint8_t *col = F->bins + (size_t) f * F->n;
		uint32_t	nb = F->nbins[f];
		hbin	   *hb = s->hist + F->off[f];

		memset(hb, 0, nb * sizeof(hbin));
		if (j->all_rows)
		{
			if (F->const_hess)
				for (size_t r = 0; r < m; r++)
				{
					hbin	   *e = &hb[col[r]];

					e->g += F->og[r];
					e->n++;
				}
			else
				for (size_t r = 0; r < m; r++)
				{
					hbin	   *e = &hb[col[r]];

					e->g += F->og[r];
					e->h += F->oh[r];
					e->n++;
				}
		}
		else
		{
			if (F->const_hess)
				for (size_t r = 0; r < m; r++)
				{
					hbin	   *e = &hb[col[rows[r]]];

					e->g += F->og[r];
					e->n++;
				}
			else
				for (size_t r = 0; r < m; r++)
				{
					hbin	   *e = &hb[col[rows[r]]];

					e->g += F->og[r];
					e->h += F->oh[r];
					e->n++;
				}
		}
		if (j->large != NULL)
		{
			hbin	   *lb = j->large->hist + F->off[f];

			for (uint32_t b = 0; b < nb; b++)
			{
				lb[b].g -= hb[b].g;
				lb[b].h -= hb[b].h;
				lb[b].n -= hb[b].n;
			}
		}
		if (j->search_small)
			find_split(F, s, f, &F->cand[0][i]);
		if (j->search_large)
			find_split(F, j->large, f, &F->cand[1][i]);
	}
}

/* The best of the per-feature splits (first feature on ties) into nd; false when none. */
static bool
pick_split(hb_fit *F, hnode *nd, const hsplit *cand)
{
	int64_t		best = -1;

	for (size_t i = 0; i < F->n_feats; i++)
		if (cand[i].gain > 0 && (best < 0 || cand[i].gain > cand[best].gain))
			best = (int64_t) i;
	if (best < 0)
		return false;
	nd->feature = (int32_t) F->feats[best];
	nd->best = cand[best];
	return true;
}

/*
 * The splittable nodes, in a binary heap that follows Python's heapq step for step (scikit-learn keeps its
 * nodes in one, ordered by "larger gain first"), so that nodes of equal gain are split in the same order.
 */
static inline bool
heap_less(const hb_fit *F, uint32_t a, uint32_t b)
{
	return F->nodes[a].best.gain > F->nodes[b].best.gain;
}

/* heapq._siftdown: moves heap[pos] up towards start while it is less than its parent. */
static void
heap_siftdown(hb_fit *F, size_t start, size_t pos)
{
	uint32_t	item = F->heap[pos];

	while (pos > start)
	{
		size_t		parent = (pos - 1) >> 1;

		if (!heap_less(F, item, F->heap[parent]))
			break;
		F->heap[pos] = F->heap[parent];
		pos = parent;
	}
	F->heap[pos] = item;
}

static void
heap_push(hb_fit *F, uint32_t id)
{
	F->heap[F->heap_n++] = id;
	heap_siftdown(F, 0, F->heap_n - 1);
}

static uint32_t
heap_pop(hb_fit *F)
{
	uint32_t	last = F->heap[--F->heap_n];
	uint32_t	top;
	size_t		pos = 0;
	size_t		child = 1;

	if (F->heap_n == 0)
		return last;
	top = F->heap[0];
	/* heapq._siftup: the smaller child moves up until a leaf, then the last item sifts down */
	while (child < F->heap_n)
	{
		if (child + 1 < F->heap_n && !heap_less(F, F->heap[child], F->heap[child + 1]))
			child++;
		F->heap[pos] = F->heap[child];
		pos = child;
		child = 2 * pos + 1;
	}
	F->heap[pos] = last;
	heap_siftdown(F, 0, pos);
	return top;
}

/* Gathers node nd's gradients (class k) in row order into og / oh. */
static void
gather(hb_fit *F, const hnode *nd, size_t k)
{
	const float *g = F->grad + k * F->n;
	const float *h = F->hess + k * F->n;

	for (uint32_t i = nd->start; i < nd->end; i++)
	{
		uint32_t	r = F->idx[i];

		F->og[i - nd->start] = g[r];
		if (!F->const_hess)
			F->oh[i - nd->start] = h[r];
	}
}

/* Runs a histogram job on the pool. */
static pgml_status
run_hist(hb_fit *F, hist_job *job, pgml_err *err)
{
	return pgml_parallel_for(F->pool, F->n_feats, 1, hist_work, job, err);
}

static hnode *
new_node(hb_fit *F, uint32_t start, uint32_t end, uint32_t depth, double g, double h)
{
	hnode	   *nd = &F->nodes[F->n_nodes++];

	memset(nd, 0, sizeof(*nd));
	nd->start = start;
	nd->end = end;
	nd->depth = depth;
	nd->g = g;
	nd->h = h;
	nd->value = leaf_value(F->cfg, g, h);
	if (F->cfg->flavor == FLAVOR_SKLEARN)
		nd->parent_term = g * nd->value;	/* the node's loss, G · value */
	else
		nd->parent_term = leaf_gain(F->cfg, g, h) + F->cfg->min_gain;
	nd->feature = -1;
	return nd;
}

/* Grows the tree of class k on the in-bag rows into F->nodes. */
static pgml_status
grow_tree(hb_fit *F, size_t k, pgml_err *err)
{
	const hb_config *c = F->cfg;
	size_t		msl = c->min_samples_leaf;
	size_t		n_leaves;
	double		G = 0;
	double		H = 0;
	hnode	   *root;
	hist_job	job;
	pgml_status rc;

	F->n_nodes = 0;
	F->heap_n = 0;
	for (size_t i = 0; i < F->n_bag; i++)
		F->idx[i] = F->bag[i];
	{
		const float *g = F->grad + k * F->n;
		const float *h = F->hess + k * F->n;

		for (size_t i = 0; i < F->n_bag; i++)
		{
			G += g[F->idx[i]];
			H += F->const_hess ? 1.0 : h[F->idx[i]];
		}
	}
	root = new_node(F, 0, (uint32_t) F->n_bag, 0, G, H);
	if (c->flavor == FLAVOR_SKLEARN)
	{
		root->value = 0;
		root->parent_term = 0;
	}
	if (F->n_bag < 2 * msl || H < c->min_hessian)
		return PGML_OK;
	root->hist = hist_acquire(F);
	if (root->hist == NULL)
		return out_of_memory(err);
	gather(F, root, k);
	memset(&job, 0, sizeof(job));
	job.F = F;
	job.small = root;
	job.all_rows = F->n_bag == F->n;
	job.search_small = true;
	if ((rc = run_hist(F, &job, err)) != PGML_OK)
		return rc;
	if (pick_split(F, root, F->cand[0]))
		heap_push(F, 0);
	else
		hist_release(F, root);
	n_leaves = 1;

	while (F->heap_n > 0)
	{
		uint32_t	id;
		hnode	   *nd;
		hnode	   *l;
		hnode	   *r;
		hnode	   *small;
		hnode	   *large;
		uint32_t	f;
		uint32_t	nl = 0;
		uint32_t	nr = 0;
		const uint8_t *col;
		bool		split_l;
		bool		split_r;

		if ((rc = pgml_check_stop(err)) != PGML_OK)
			return rc;
		id = heap_pop(F);
		nd = &F->nodes[id];
		f = (uint32_t) nd->feature;
		col = F->bins + (size_t) f * F->n;
		/* partition the rows, left ones first, both in order (branchless) */
		{
			uint32_t	bin = nd->best.bin;
			uint32_t   *idx = F->idx + nd->start;
			uint32_t   *tmp = F->tmp;
			uint32_t	m = nd->end - nd->start;

			for (uint32_t i = 0; i < m; i++)
			{
				uint32_t	row = idx[i];
				uint32_t	left = col[row] <= bin;

				idx[nl] = row;
				tmp[nr] = row;
				nl += left;
				nr += 1 - left;
			}
		}
		memcpy(F->idx + nd->start + nl, F->tmp, nr * sizeof(uint32_t));
		if (nl != nd->best.nl)
			return pgml_error(err, PGML_ERR_INTERNAL, "histogram split disagrees with its rows");
		nd->split = true;
		l = new_node(F, nd->start, nd->start + nl, nd->depth + 1, nd->best.gl, nd->best.hl);
		r = new_node(F, nd->start + nl, nd->end, nd->depth + 1, nd->g - nd->best.gl, nd->h - nd->best.hl);
		nd = &F->nodes[id];
		nd->left = (uint32_t) (l - F->nodes);
		n_leaves++;
		if (c->max_leaves > 0 && n_leaves >= c->max_leaves)
		{
			hist_release(F, nd);
			while (F->heap_n > 0)
				hist_release(F, &F->nodes[heap_pop(F)]);
			break;
		}
		if (c->max_depth > 0 && l->depth >= c->max_depth)
		{
			hist_release(F, nd);
			continue;
		}
		split_l = nl >= 2 * msl;
		split_r = nr >= 2 * msl;
		if (!split_l && !split_r)
		{
			hist_release(F, nd);
			continue;
		}
		if (nl < nr)
		{
			small = l;
			large = r;
		}
		else
		{
			small = r;
			large = l;
		}
		large->hist = nd->hist;
		nd->hist = NULL;
		small->hist = hist_acquire(F);
		if (small->hist == NULL)
			return out_of_memory(err);
		gather(F, small, k);
		memset(&job, 0, sizeof(job));
		job.F = F;
		job.small = small;
		job.large = large;
		job.search_small = small == l ? split_l : split_r;
		job.search_large = large == l ? split_l : split_r;
		if ((rc = run_hist(F, &job, err)) != PGML_OK)
			return rc;
		{
			bool		push_small = job.search_small && pick_split(F, small, F->cand[0]);
			bool		push_large = job.search_large && pick_split(F, large, F->cand[1]);
			hnode	   *first = small == l ? small : large;
			hnode	   *second = small == l ? large : small;
			bool		push_first = small == l ? push_small : push_large;
			bool		push_second = small == l ? push_large : push_small;

			/* the left child is pushed first, as scikit-learn does */
			if (push_first)
				heap_push(F, (uint32_t) (first - F->nodes));
			else
				hist_release(F, first);
			if (push_second)
				heap_push(F, (uint32_t) (second - F->nodes));
			else
				hist_release(F, second);
		}
	}
	return PGML_OK;
}

/*
 * Turns F->nodes into trees_tree t (shrunk leaf values, or the loss's leaf update) and adds the tree to the
 * raw predictions of class k: in-bag rows through their leaves, the others (and the validation rows)
 * through the tree.
 */
static pgml_status
finish_tree(hb_fit *F, size_t k, trees_tree *t, pgml_err *err)
{
	const hb_config *c = F->cfg;
	size_t		K = F->K;
	uint32_t	leaves = 0;
	bool		update = c->loss == HL_ABSOLUTE || c->loss == HL_QUANTILE;

	t->n_nodes = (uint32_t) F->n_nodes;
	t->nodes = pgml_malloc(F->n_nodes * sizeof(trees_node));
	t->values = pgml_malloc(((F->n_nodes + 1) / 2) * sizeof(double));
	if (t->nodes == NULL || t->values == NULL)
	{
		trees_tree_free(t);
		return out_of_memory(err);
	}
	for (size_t i = 0; i < F->n_nodes; i++)
	{
		hnode	   *nd = &F->nodes[i];
		trees_node *tn = &t->nodes[i];

		if (nd->split)
		{
			tn->feature = nd->feature;
			tn->child = nd->left;
			tn->threshold = trees_float_at_most(F->th[F->off[nd->feature] + nd->best.bin]);
		}
		else
		{
			double		v = nd->value;
			uint32_t	m = nd->end - nd->start;

			if (F->n_nodes == 1 && c->flavor == FLAVOR_LIGHTGBM)
				v = 0;			/* LightGBM's constant tree: the baseline alone */
			else if (update && m > 0)
			{
				for (uint32_t j = 0; j < m; j++)
				{
					uint32_t	r = F->idx[nd->start + j];

					F->scratch[j] = F->y[r] - F->raw[(size_t) r * K + k];
				}
				v = c->loss == HL_ABSOLUTE ? median(F->scratch, m) :
					percentile_linear(F->scratch, m, 100.0 * c->quantile);
			}
			v *= c->learning_rate;
			tn->feature = -1;
			tn->child = leaves;
			tn->threshold = 0;
			t->values[leaves++] = v;
			for (uint32_t j = nd->start; j < nd->end; j++)
				F->raw[(size_t) F->idx[j] * K + k] += v;
		}
	}
	t->n_leaves = leaves;
	if (F->n_bag < F->n)
		for (size_t i = 0; i < F->n; i++)
			if (!F->in_bag[i])
				F->raw[i * K + k] +=
					t->values[trees_tree_leaf(t, F->data->x + (size_t) F->train_rows[i] * F->p)];
	for (size_t i = 0; i < F->n_val; i++)
		F->raw_val[i * K + k] += t->values[trees_tree_leaf(t, F->data->x + (size_t) F->val_rows[i] * F->p)];
	return PGML_OK;
}

/* Gradients and hessians of every class at the current raw predictions. */
static void
compute_gradients(hb_fit *F)
{
	const hb_config *c = F->cfg;
	size_t		n = F->n;
	size_t		K = F->K;
	bool		lgbm = c->flavor == FLAVOR_LIGHTGBM;

	for (size_t i = 0; i < n; i++)
	{
		const double *z = F->raw + i * K;
		double		y = F->y[i];

		switch (c->loss)
		{
			case HL_SQUARED:
				F->grad[i] = (float) (z[0] - y);
				break;
			case HL_ABSOLUTE:
				/* scikit-learn: 1 if z > y else -1; LightGBM: the sign, 0 at 0 */
				F->grad[i] = (float) (z[0] > y ? 1.0 : lgbm && z[0] == y ? 0.0 : -1.0);
				break;
			case HL_QUANTILE:
				/* scikit-learn: -q when y >= z; LightGBM: 1 - q when z >= y */
				if (lgbm)
					F->grad[i] = (float) (z[0] >= y ? 1.0 - c->quantile : -c->quantile);
				else
					F->grad[i] = (float) (y >= z[0] ? -c->quantile : 1.0 - c->quantile);
				break;
			case HL_POISSON:
				{
					double		e = exp(z[0] < 700 ? z[0] : 700);

					F->grad[i] = (float) (e - y);
					F->hess[i] = (float) (lgbm ? exp(fmin(z[0] + LGBM_POISSON_DELTA, 700)) : e);
				}
				break;
			case HL_LOG:
				if (K == 1)
				{
					double		q = sigmoid(z[0]);

					F->grad[i] = (float) (q - y);
					F->hess[i] = (float) (q * (1 - q));
				}
				else
				{
					double		mx = z[0];
					double		s = 0;
					double		factor = lgbm ? (double) K / (double) (K - 1) : 1.0;

					for (size_t j = 1; j < K; j++)
						if (z[j] > mx)
							mx = z[j];
					for (size_t j = 0; j < K; j++)
						s += exp(z[j] - mx);
					for (size_t j = 0; j < K; j++)
					{
						double		q = exp(z[j] - mx) / s;

						F->grad[j * n + i] = (float) (q - ((size_t) y == j ? 1.0 : 0.0));
						F->hess[j * n + i] = (float) (factor * q * (1 - q));
					}
				}
				break;
		}
	}
}

/* The mean loss of raw predictions (m × K) against targets y (scikit-learn's half losses). */
static double
mean_loss(const hb_fit *F, const double *y, const double *raw, size_t m)
{
	const hb_config *c = F->cfg;
	size_t		K = F->K;
	double		s = 0;

	for (size_t i = 0; i < m; i++)
	{
		const double *z = raw + i * K;
		double		d = y[i] - z[0];

		switch (c->loss)
		{
			case HL_SQUARED:
				s += 0.5 * d * d;
				break;
			case HL_ABSOLUTE:
				s += fabs(d);
				break;
			case HL_QUANTILE:
				s += d >= 0 ? c->quantile * d : (c->quantile - 1) * d;
				break;
			case HL_POISSON:
				s += exp(z[0] < 700 ? z[0] : 700) - y[i] * z[0];
				break;
			case HL_LOG:
				if (K == 1)
					s += softplus(z[0]) - y[i] * z[0];
				else
				{
					double		mx = z[0];
					double		e = 0;

					for (size_t j = 1; j < K; j++)
						if (z[j] > mx)
							mx = z[j];
					for (size_t j = 0; j < K; j++)
						e += exp(z[j] - mx);
					s += mx + log(e) - z[(size_t) y[i]];
				}
				break;
		}
	}
	return m > 0 ? s / (double) m : 0.0;
}

/* The baseline raw prediction (K values) from the training targets. */
static pgml_status
baseline(hb_fit *F, double *init, pgml_err *err)
{
	const hb_config *c = F->cfg;
	size_t		n = F->n;
	size_t		K = F->K;
	double		sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += F->y[i];
	switch (c->loss)
	{
		case HL_SQUARED:
			init[0] = sum / (double) n;
			break;
		case HL_ABSOLUTE:
		case HL_QUANTILE:
			memcpy(F->scratch, F->y, n * sizeof(double));
			init[0] = c->loss == HL_ABSOLUTE ? median(F->scratch, n) :
				percentile_linear(F->scratch, n, 100.0 * c->quantile);
			break;
		case HL_POISSON:
			for (size_t i = 0; i < n; i++)
			{
				if (F->y[i] < 0)
				{
					pgml_error(err, PGML_ERR_DATA, "the poisson loss needs non-negative targets");
					pgml_err_detail(err, "A target is %g.", F->y[i]);
					return PGML_ERR_DATA;
				}
			}
			if (!(sum > 0))
				return pgml_error(err, PGML_ERR_DATA, "the poisson loss needs targets with a positive sum");
			init[0] = log(fmax(sum / (double) n, 10 * DBL_EPSILON));
			break;
		case HL_LOG:
			if (K == 1)
			{
				double		q = sum / (double) n;
				double		eps = 10 * DBL_EPSILON;

				q = q < eps ? eps : q > 1 - eps ? 1 - eps : q;
				init[0] = log(q / (1 - q));
			}
			else
			{
				double		mean_log = 0;

				memset(init, 0, K * sizeof(double));
				for (size_t i = 0; i < n; i++)
					init[(size_t) F->y[i]] += 1;
				for (size_t j = 0; j < K; j++)
				{
					double		q = init[j] / (double) n;

					q = q < DBL_EPSILON ? DBL_EPSILON : q > 1 - DBL_EPSILON ? 1 - DBL_EPSILON : q;
					init[j] = log(q);
					mean_log += init[j];
				}
				if (c->flavor == FLAVOR_SKLEARN)
					for (size_t j = 0; j < K; j++)
						init[j] -= mean_log / (double) K;
			}
			break;
	}
	return PGML_OK;
}

typedef struct bin_job
{
	hb_fit	   *F;
	const uint32_t *sample;		/* rows of the training rows used to find thresholds */
	size_t		n_sample;
	float	  **vals;			/* per worker: n_sample floats */
	float	  **tmps;
	double	  **dist;			/* per worker: n_sample doubles */
	double	  **cnts;
	size_t		n_workers;
} bin_job;

/* Pool work: finds features [begin, end)'s thresholds. */
static void
threshold_work(void *ctx, size_t begin, size_t end, int worker)
{
	bin_job    *j = ctx;
	hb_fit	   *F = j->F;
	size_t		w = worker >= 0 && (size_t) worker < j->n_workers ? (size_t) worker : 0;
	const float *x = F->data->x;
	size_t		p = F->p;

	for (size_t f = begin; f < end; f++)
	{
		float	   *v = j->vals[w];
		double	   *th = F->th + F->off[f];
		size_t		nt;

		for (size_t i = 0; i < j->n_sample; i++)
			v[i] = x[(size_t) F->train_rows[j->sample[i]] * p + f];
		sort_floats(v, j->tmps[w], j->n_sample);
		if (F->cfg->flavor == FLAVOR_SKLEARN)
			nt = bins_sklearn(v, j->n_sample, F->cfg->max_bins, th, j->dist[w]);
		else
			nt = bins_lightgbm(v, j->n_sample, F->cfg->max_bins, th, j->dist[w], j->cnts[w]);
		F->nbins[f] = (uint32_t) nt + 1;
	}
}

#define BIN_BLOCK 4096

/* Pool work: bins the training rows of blocks [begin, end) of BIN_BLOCK rows, every feature. */
static void
bin_rows_work(void *ctx, size_t begin, size_t end, int worker)
{
	bin_job    *j = ctx;
	hb_fit	   *F = j->F;
	const float *x = F->data->x;
	size_t		p = F->p;
	size_t		r_end = end * BIN_BLOCK < F->n ? end * BIN_BLOCK : F->n;

	(void) worker;
	for (size_t i = begin * BIN_BLOCK; i < r_end; i++)
	{
		const float *row = x + (size_t) F->train_rows[i] * p;

		for (size_t f = 0; f < p; f++)
		{
			/* the number of thresholds below the value (a branchless binary search) */
			const double *th = F->th + (size_t) f * MAX_BINS;
			const double *b = th;
			size_t		len = F->nbins[f] - 1;
			double		xv = row[f];

			while (len > 1)
			{
				size_t		half = len / 2;

				b += half & (0 - (size_t) (b[half - 1] < xv));
				len -= half;
			}
			F->bins[f * F->n + i] = (uint8_t) ((size_t) (b - th) + (len == 1 && b[0] < xv));
		}
	}
}

/* Finds every feature's bins (from a sample of the training rows) and bins the training rows. */
static pgml_status
bin_data(hb_fit *F, pgml_err *err)
{
	size_t		n = F->n;
	size_t		ns = n > F->cfg->bin_sample ? F->cfg->bin_sample : n;
	size_t		workers = (size_t) pgml_pool_size(F->pool);
	uint32_t   *sample = pgml_malloc(ns * sizeof(uint32_t));
	bin_job		job;
	pgml_status rc = PGML_OK;

	memset(&job, 0, sizeof(job));
	F->nbins = pgml_malloc(F->p * sizeof(uint32_t));
	F->off = pgml_malloc(F->p * sizeof(uint32_t));
	F->th = pgml_malloc(F->p * MAX_BINS * sizeof(double));
	F->bins = pgml_malloc(F->p * n);
	job.vals = pgml_calloc(workers, sizeof(float *));
	job.tmps = pgml_calloc(workers, sizeof(float *));
	job.dist = pgml_calloc(workers, sizeof(double *));
	job.cnts = pgml_calloc(workers, sizeof(double *));
	if (sample == NULL || F->nbins == NULL || F->off == NULL || F->th == NULL || F->bins == NULL ||
		job.vals == NULL || job.tmps == NULL || job.dist == NULL || job.cnts == NULL)
		rc = out_of_memory(err);
	for (size_t w = 0; rc == PGML_OK && w < workers; w++)
	{
		job.vals[w] = pgml_malloc(ns * sizeof(float));
		job.tmps[w] = pgml_malloc(ns * sizeof(float));
		job.dist[w] = pgml_malloc(ns * sizeof(double));
		job.cnts[w] = pgml_malloc(ns * sizeof(double));
		if (job.vals[w] == NULL || job.tmps[w] == NULL || job.dist[w] == NULL || job.cnts[w] == NULL)
			rc = out_of_memory(err);
	}
	if (rc == PGML_OK)
	{
		/* the sample: every row, or ns rows drawn without replacement (Floyd), in row order */
		if (ns == n)
			for (size_t i = 0; i < n; i++)
				sample[i] = (uint32_t) i;
		else
		{
			uint8_t    *mark = F->bins;	/* n bytes of scratch, overwritten by the binning below */
			size_t		k = 0;

			memset(mark, 0, n);
			for (size_t j = n - ns; j < n; j++)
			{
				size_t		t = trees_rng_below(&F->rng, j + 1);

				mark[mark[t] ? j : t] = 1;
			}
			for (size_t i = 0; i < n; i++)
				if (mark[i])
					sample[k++] = (uint32_t) i;
		}
		for (size_t f = 0; f < F->p; f++)
			F->off[f] = (uint32_t) (f * MAX_BINS);
		job.F = F;
		job.sample = sample;
		job.n_sample = ns;
		job.n_workers = workers;
		rc = pgml_parallel_for(F->pool, F->p, 1, threshold_work, &job, err);
	}
	if (rc == PGML_OK)
		rc = pgml_parallel_for(F->pool, (n + BIN_BLOCK - 1) / BIN_BLOCK, 1, bin_rows_work, &job, err);
	if (rc == PGML_OK)
	{
		/* pack the histograms: feature f's bins at off[f] */
		size_t		total = 0;

		for (size_t f = 0; f < F->p; f++)
		{
			memmove(F->th + total, F->th + f * MAX_BINS, F->nbins[f] * sizeof(double));
			F->off[f] = (uint32_t) total;
			total += F->nbins[f];
		}
		F->total_bins = total;
	}
	for (size_t w = 0; job.vals != NULL && w < workers; w++)
	{
		pgml_free(job.vals[w]);
		pgml_free(job.tmps[w]);
		pgml_free(job.dist[w]);
		pgml_free(job.cnts[w]);
	}
	pgml_free(job.vals);
	pgml_free(job.tmps);
	pgml_free(job.dist);
	pgml_free(job.cnts);
	pgml_free(sample);
	return rc;
}

static void
fit_free(hb_fit *F)
{
	pgml_free(F->train_rows);
	pgml_free(F->val_rows);
	pgml_free(F->bins);
	pgml_free(F->nbins);
	pgml_free(F->off);
	pgml_free(F->th);
	pgml_free(F->y);
	pgml_free(F->val_y);
	pgml_free(F->raw);
	pgml_free(F->raw_val);
	pgml_free(F->grad);
	pgml_free(F->hess);
	pgml_free(F->bag);
	pgml_free(F->in_bag);
	pgml_free(F->idx);
	pgml_free(F->tmp);
	pgml_free(F->og);
	pgml_free(F->oh);
	pgml_free(F->scratch);
	pgml_free(F->feats);
	pgml_free(F->fmark);
	pgml_free(F->nodes);
	pgml_free(F->heap);
	for (size_t i = 0; i < F->n_hists; i++)
		pgml_free(F->hists[i]);
	pgml_free(F->hists);
	pgml_free(F->free_hists);
	pgml_free(F->cand[0]);
	pgml_free(F->cand[1]);
}

/* Splits the rows into training and validation rows for early stopping. */
static pgml_status
split_rows(hb_fit *F, bool classifier, pgml_err *err)
{
	const hb_config *c = F->cfg;
	size_t		N = F->data->n_rows;
	size_t		n_val = 0;
	uint8_t    *is_val = NULL;
	size_t		a = 0;
	size_t		v = 0;
	pgml_status rc;

	if (c->early_stopping && c->val_given)
	{
		n_val = c->val_is_count ? c->val_count : (size_t) ceil(c->val_fraction * (double) N);
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
		rc = trees_holdout(classifier ? F->data->y : NULL, N, F->n_classes, n_val, &F->rng, is_val, &n_val, err);
		if (rc != PGML_OK)
		{
			pgml_free(is_val);
			return rc;
		}
	}
	F->n_val = n_val;
	F->n = N - n_val;
	F->train_rows = pgml_malloc(F->n * sizeof(uint32_t));
	F->val_rows = pgml_malloc((n_val ? n_val : 1) * sizeof(uint32_t));
	if (F->train_rows == NULL || F->val_rows == NULL)
	{
		pgml_free(is_val);
		return out_of_memory(err);
	}
	for (size_t i = 0; i < N; i++)
	{
		if (is_val != NULL && is_val[i])
			F->val_rows[v++] = (uint32_t) i;
		else
			F->train_rows[a++] = (uint32_t) i;
	}
	pgml_free(is_val);
	return PGML_OK;
}

/* Draws the in-bag rows (lightgbm bagging) into F->bag, ascending. */
static void
draw_bag(hb_fit *F)
{
	size_t		n = F->n;
	size_t		m = (size_t) (F->cfg->bagging_fraction * (double) n);

	if (m < 1)
		m = 1;
	memset(F->in_bag, 0, n);
	for (size_t j = n - m; j < n; j++)
	{
		size_t		t = trees_rng_below(&F->rng, j + 1);

		F->in_bag[F->in_bag[t] ? j : t] = 1;
	}
	F->n_bag = 0;
	for (size_t i = 0; i < n; i++)
		if (F->in_bag[i])
			F->bag[F->n_bag++] = (uint32_t) i;
}

/* Draws the features of a tree (lightgbm feature_fraction) into F->feats, ascending. */
static void
draw_features(hb_fit *F)
{
	size_t		p = F->p;
	size_t		m = (size_t) ((double) p * F->cfg->feature_fraction + 0.5);

	if (m < 1)
		m = 1;
	if (m >= p)
	{
		for (size_t f = 0; f < p; f++)
			F->feats[f] = (uint32_t) f;
		F->n_feats = p;
		return;
	}
	memset(F->fmark, 0, p);
	for (size_t j = p - m; j < p; j++)
	{
		size_t		t = trees_rng_below(&F->rng, j + 1);

		F->fmark[F->fmark[t] ? j : t] = 1;
	}
	F->n_feats = 0;
	for (size_t f = 0; f < p; f++)
		if (F->fmark[f])
			F->feats[F->n_feats++] = (uint32_t) f;
}

/* scikit-learn's _should_stop on the scores so far (higher is better). */
static bool
should_stop(const hb_config *c, const double *scores, size_t n_scores)
{
	size_t		ref = c->n_iter_no_change + 1;
	double		reference;

	if (n_scores < ref)
		return false;
	reference = scores[n_scores - ref] + c->tol;
	for (size_t i = n_scores - ref + 1; i < n_scores; i++)
		if (scores[i] > reference)
			return false;
	return true;
}

/*
 * Fits either flavor: `params` (stolen) are the effective hyperparameters. The data were checked by
 * trees_fit_begin.
 */
static pgml_status
hb_fit_run(const hb_config *cfg, const pgml_fit_args *args, const pgml_data *train, trees_kind kind,
		   json_t *params, void **state, pgml_err *err)
{
	hb_fit		F;
	bool		classifier = args->task == PGML_TASK_CLASSIFICATION;
	trees_state *st = NULL;
	double	   *scores = NULL;
	size_t		n_scores = 0;
	size_t		n;
	size_t		K;
	size_t		leaves_bound;
	trees_output output;
	pgml_status rc;

	memset(&F, 0, sizeof(F));
	*state = NULL;
	F.cfg = cfg;
	F.pool = args->pool;
	F.data = train;
	F.p = train->n_features;
	F.n_classes = classifier ? args->n_classes : 0;
	F.K = K = classifier && args->n_classes > 2 ? (size_t) args->n_classes : 1;
	trees_rng_seed(&F.rng, cfg->seed);
	if (train->n_rows > MAX_ROWS || cfg->max_iter > MAX_TREES / K)
	{
		json_decref(params);
		pgml_error(err, PGML_ERR_LIMIT, "training data is too large for %s", cfg->name);
		pgml_err_detail(err, "It has %zu rows and would grow up to %zu trees per iteration.", train->n_rows, K);
		return PGML_ERR_LIMIT;
	}
	if (!classifier && train->n_targets != 1)
	{
		json_decref(params);
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "%s fits one target at a time", cfg->name);
		pgml_err_detail(err, "The data have %zu targets.", train->n_targets);
		return PGML_ERR_NOT_SUPPORTED;
	}
	if ((rc = split_rows(&F, classifier, err)) != PGML_OK)
		goto done;
	n = F.n;
	output = !classifier ? (cfg->loss == HL_POISSON ? TREES_OUT_EXP : TREES_OUT_RAW) :
		K == 1 ? TREES_OUT_SIGMOID : TREES_OUT_SOFTMAX;
	st = trees_state_new(kind, args->task, output, F.p, 1, !classifier ? 1 : K == 1 ? 2 : K, K, cfg->max_iter * K);
	leaves_bound = n / cfg->min_samples_leaf + 1;
	if (cfg->max_leaves > 0 && cfg->max_leaves < leaves_bound)
		leaves_bound = cfg->max_leaves;
	if (cfg->max_depth > 0 && cfg->max_depth < 31 && ((size_t) 1 << cfg->max_depth) < leaves_bound)
		leaves_bound = (size_t) 1 << cfg->max_depth;
	F.cap_nodes = 2 * leaves_bound + 1;
	F.y = pgml_malloc(n * sizeof(double));
	F.val_y = pgml_malloc((F.n_val ? F.n_val : 1) * sizeof(double));
	F.raw = pgml_malloc(n * K * sizeof(double));
	F.raw_val = pgml_malloc((F.n_val ? F.n_val : 1) * K * sizeof(double));
	F.grad = pgml_malloc(n * K * sizeof(float));
	F.hess = pgml_malloc(n * K * sizeof(float));
	F.bag = pgml_malloc(n * sizeof(uint32_t));
	F.in_bag = pgml_malloc(n);
	F.idx = pgml_malloc(n * sizeof(uint32_t));
	F.tmp = pgml_malloc(n * sizeof(uint32_t));
	F.og = pgml_malloc(n * sizeof(float));
	F.oh = pgml_malloc(n * sizeof(float));
	F.scratch = pgml_malloc((n > K ? n : K) * sizeof(double));
	F.feats = pgml_malloc(F.p * sizeof(uint32_t));
	F.fmark = pgml_malloc(F.p);
	F.nodes = pgml_malloc(F.cap_nodes * sizeof(hnode));
	F.heap = pgml_malloc(F.cap_nodes * sizeof(uint32_t));
	F.cand[0] = pgml_malloc(F.p * sizeof(hsplit));
	F.cand[1] = pgml_malloc(F.p * sizeof(hsplit));
	scores = pgml_malloc((cfg->early_stopping ? cfg->max_iter + 1 : 1) * sizeof(double));
	if (st == NULL || F.y == NULL || F.val_y == NULL || F.raw == NULL || F.raw_val == NULL || F.grad == NULL ||
		F.hess == NULL || F.bag == NULL || F.in_bag == NULL || F.idx == NULL || F.tmp == NULL || F.og == NULL ||
		F.oh == NULL || F.scratch == NULL || F.feats == NULL || F.fmark == NULL || F.nodes == NULL ||
		F.heap == NULL || F.cand[0] == NULL || F.cand[1] == NULL || scores == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		F.y[i] = train->y[F.train_rows[i]];
	for (size_t i = 0; i < F.n_val; i++)
		F.val_y[i] = train->y[F.val_rows[i]];
	F.const_hess = cfg->loss == HL_SQUARED || cfg->loss == HL_ABSOLUTE || cfg->loss == HL_QUANTILE;
	if (F.const_hess)
		for (size_t i = 0; i < n; i++)
			F.hess[i] = 1.0f;
	if ((rc = baseline(&F, st->init, err)) != PGML_OK || (rc = bin_data(&F, err)) != PGML_OK)
		goto done;
	for (size_t i = 0; i < n; i++)
		memcpy(F.raw + i * K, st->init, K * sizeof(double));
	for (size_t i = 0; i < F.n_val; i++)
		memcpy(F.raw_val + i * K, st->init, K * sizeof(double));
	for (size_t i = 0; i < n; i++)
		F.bag[i] = (uint32_t) i;
	F.n_bag = n;
	for (size_t f = 0; f < F.p; f++)
		F.feats[f] = (uint32_t) f;
	F.n_feats = F.p;
	if (cfg->early_stopping)
		scores[n_scores++] = -(F.n_val > 0 ? mean_loss(&F, F.val_y, F.raw_val, F.n_val) :
							   mean_loss(&F, F.y, F.raw, n));

	for (size_t it = 0; it < cfg->max_iter; it++)
	{
		bool		any_split = false;
		size_t		first = st->n_trees;

		pgml_progress_step(it, cfg->max_iter, "iteration");
		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
		if (cfg->bagging_freq > 0 && cfg->bagging_fraction < 1.0 && it % cfg->bagging_freq == 0)
			draw_bag(&F);
		compute_gradients(&F);
		for (size_t k = 0; k < K; k++)
		{
			if (cfg->feature_fraction < 1.0)
				draw_features(&F);
			if ((rc = grow_tree(&F, k, err)) != PGML_OK)
				goto done;
			any_split = any_split || F.n_nodes > 1;
			if ((rc = finish_tree(&F, k, &st->trees[st->n_trees], err)) != PGML_OK)
				goto done;
			st->n_trees++;
		}
		if (cfg->flavor == FLAVOR_LIGHTGBM && !any_split)
		{
			/* LightGBM: no tree of the iteration could split: stop (keeping one stage at least) */
			if (it > 0)
			{
				/* undo the stage: its single leaves only shifted the raw predictions, not kept */
				while (st->n_trees > first)
					trees_tree_free(&st->trees[--st->n_trees]);
			}
			if (cfg->verbose > 0)
				pgml_log(PGML_LOG_INFO, "%s: no more leaves meet the split requirements after %zu iterations",
						 cfg->name, it + (it == 0));
			break;
		}
		if (cfg->verbose > 0)
			pgml_log(PGML_LOG_INFO, "%s: iteration %zu of %zu, training loss %.6g", cfg->name, it + 1,
					 cfg->max_iter, mean_loss(&F, F.y, F.raw, n));
		if (cfg->early_stopping)
		{
			scores[n_scores++] = -(F.n_val > 0 ? mean_loss(&F, F.val_y, F.raw_val, F.n_val) :
								   mean_loss(&F, F.y, F.raw, n));
			if (should_stop(cfg, scores, n_scores))
			{
				if (cfg->verbose > 0)
					pgml_log(PGML_LOG_INFO, "%s: early stop after %zu iterations", cfg->name, it + 1);
				break;
			}
		}
	}
	st->params = params;
	params = NULL;
	*state = st;
	st = NULL;
	rc = PGML_OK;

done:
	fit_free(&F);
	pgml_free(scores);
	trees_free(st);
	json_decref(params);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * hist_gradient_boosting: scikit-learn's hyperparameters
 * ------------------------------------------------------------------------------------------------- */

static const char *const no_params[] = {NULL};

static const char *const hgb_regressor_params[] = {
	"loss", "quantile", "learning_rate", "max_iter", "max_leaf_nodes", "max_depth", "min_samples_leaf",
	"l2_regularization", "max_bins", "categorical_features", "monotonic_cst", "interaction_cst", "warm_start",
	"early_stopping", "scoring", "validation_fraction", "n_iter_no_change", "tol", "verbose", "random_state",
	NULL
};

static const char *const hgb_classifier_params[] = {
	"loss", "learning_rate", "max_iter", "max_leaf_nodes", "max_depth", "min_samples_leaf",
	"l2_regularization", "max_bins", "categorical_features", "monotonic_cst", "interaction_cst", "warm_start",
	"early_stopping", "scoring", "validation_fraction", "n_iter_no_change", "tol", "verbose", "random_state",
	"class_weight", NULL
};

#define HGB_DEFAULTS_HEAD \
	PD_REAL("learning_rate", 0.1), PD_INT("max_iter", 100), PD_INT("max_leaf_nodes", 31), PD_NULL("max_depth"), \
	PD_INT("min_samples_leaf", 20), PD_REAL("l2_regularization", 0.0), PD_INT("max_bins", 255), \
	PD_NULL("categorical_features"), PD_NULL("monotonic_cst"), PD_NULL("interaction_cst"), \
	PD_BOOL("warm_start", false), PD_STR("early_stopping", "auto"), PD_STR("scoring", "loss"), \
	PD_REAL("validation_fraction", 0.1), PD_INT("n_iter_no_change", 10), PD_REAL("tol", 1e-7), \
	PD_INT("verbose", 0), PD_NULL("random_state")

static const trees_param_default hgb_regressor_defaults[] = {
	PD_STR("loss", "squared_error"), PD_NULL("quantile"), HGB_DEFAULTS_HEAD, PD_END
};

static const trees_param_default hgb_classifier_defaults[] = {
	PD_STR("loss", "log_loss"), HGB_DEFAULTS_HEAD, PD_NULL("class_weight"), PD_END
};

/* A hyperparameter that only takes null here. */
static pgml_status
null_only(const json_t *hp, const char *key, const char *algo, pgml_err *err)
{
	if (trees_hp_value(hp, key) == NULL)
		return PGML_OK;
	pgml_error(err, PGML_ERR_NOT_SUPPORTED, "%s is not supported by %s", key, algo);
	pgml_err_detail(err, "Only %s null is implemented.", key);
	return PGML_ERR_NOT_SUPPORTED;
}

/* An integer >= min, or null (*out = 0 then). */
static pgml_status
int_or_null(const json_t *hp, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out, pgml_err *err)
{
	const json_t *given = hp ? json_object_get(hp, key) : NULL;

	if (given != NULL && json_is_null(given))
	{
		*out = 0;
		return PGML_OK;
	}
	return trees_hp_int_min(hp, key, def, min, max, out, err);
}

static pgml_status
parse_hgb(const json_t *hp, bool classifier, int n_classes, size_t n_rows, uint64_t seed, hb_config *c,
		  pgml_err *err)
{
	static const char *const reg_losses[] = {"squared_error", "absolute_error", "poisson", "quantile", NULL};
	static const char *const class_losses[] = {"log_loss", "auto", "binary_crossentropy",
	"categorical_crossentropy", NULL};
	static const char *const scorings[] = {"loss", NULL};
	const char *loss;
	const char *scoring;
	const json_t *es = trees_hp_value(hp, "early_stopping");
	const json_t *vf = hp ? json_object_get(hp, "validation_fraction") : NULL;
	int64_t		iv;
	pgml_status rc;

	memset(c, 0, sizeof(*c));
	c->flavor = FLAVOR_SKLEARN;
	c->name = "hist_gradient_boosting";
	c->min_hessian = 1e-3;
	c->bin_sample = BIN_SUBSAMPLE;
	c->bagging_fraction = 1.0;
	c->feature_fraction = 1.0;
	if ((rc = trees_hp_choice(hp, "loss", classifier ? "log_loss" : "squared_error",
							  classifier ? class_losses : reg_losses, &loss, err)) != PGML_OK)
		return rc;
	if (classifier)
	{
		if (strcmp(loss, "binary_crossentropy") == 0 && n_classes > 2)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "loss \"binary_crossentropy\" needs exactly two classes");
			pgml_err_detail(err, "The training data have %d classes.", n_classes);
			pgml_err_hint(err, "Use loss \"log_loss\".");
			return PGML_ERR_INVALID_ARGUMENT;
		}
		if (strcmp(loss, "categorical_crossentropy") == 0 && n_classes == 2)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "loss \"categorical_crossentropy\" is not suitable for two classes");
			pgml_err_hint(err, "Use loss \"log_loss\".");
			return PGML_ERR_INVALID_ARGUMENT;
		}
		c->loss = HL_LOG;
	}
	else
		c->loss = strcmp(loss, "squared_error") == 0 ? HL_SQUARED : strcmp(loss, "absolute_error") == 0 ?
			HL_ABSOLUTE : strcmp(loss, "poisson") == 0 ? HL_POISSON : HL_QUANTILE;
	if (!classifier)
	{
		if ((rc = trees_hp_real_in(hp, "quantile", NAN, 0.0, true, 1.0, true, &c->quantile, err)) != PGML_OK)
			return rc;
		if (c->loss == HL_QUANTILE && isnan(c->quantile))
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "loss \"quantile\" needs the hyperparameter \"quantile\"");
			pgml_err_hint(err, "Set quantile to a number between 0 and 1.");
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	if ((rc = trees_hp_real_in(hp, "learning_rate", 0.1, 0.0, true, INFINITY, false, &c->learning_rate, err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "max_iter", 100, 1, (int64_t) MAX_TREES, &iv, err)) != PGML_OK)
		return rc;
	c->max_iter = (size_t) iv;
	if ((rc = int_or_null(hp, "max_leaf_nodes", 31, 2, INT32_MAX / 4, &iv, err)) != PGML_OK)
		return rc;
	c->max_leaves = (size_t) iv;
	if ((rc = int_or_null(hp, "max_depth", 0, 1, INT32_MAX, &iv, err)) != PGML_OK)
		return rc;
	c->max_depth = (size_t) iv;
	if ((rc = trees_hp_int_min(hp, "min_samples_leaf", 20, 1, INT32_MAX, &iv, err)) != PGML_OK)
		return rc;
	c->min_samples_leaf = (size_t) iv;
	if ((rc = trees_hp_real_in(hp, "l2_regularization", 0.0, 0.0, false, INFINITY, false, &c->l2, err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "max_bins", 255, 2, 255, &iv, err)) != PGML_OK)
		return rc;
	c->max_bins = (int) iv;
	if ((rc = null_only(hp, "categorical_features", c->name, err)) != PGML_OK ||
		(rc = null_only(hp, "monotonic_cst", c->name, err)) != PGML_OK ||
		(rc = null_only(hp, "interaction_cst", c->name, err)) != PGML_OK ||
		(classifier && (rc = null_only(hp, "class_weight", c->name, err)) != PGML_OK))
		return rc;
	if (es == NULL || (json_is_string(es) && strcmp(json_string_value(es), "auto") == 0))
		c->early_stopping = n_rows > ES_AUTO_ROWS;
	else if (json_is_boolean(es))
		c->early_stopping = json_is_true(es);
	else
		return trees_hp_invalid(err, "early_stopping", es, "\"auto\" or a boolean");
	if (trees_hp_value(hp, "scoring") != NULL && !json_is_string(trees_hp_value(hp, "scoring")))
		return trees_hp_invalid(err, "scoring", trees_hp_value(hp, "scoring"), "a string");
	if (hp != NULL && json_object_get(hp, "scoring") != NULL && json_is_null(json_object_get(hp, "scoring")))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "scoring null is not supported by %s", c->name);
		pgml_err_detail(err, "Early stopping scores with the loss (scoring \"loss\").");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if (trees_hp_value(hp, "scoring") != NULL && strcmp(json_string_value(trees_hp_value(hp, "scoring")), "loss") != 0)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "scoring \"%s\" is not supported by %s",
				   json_string_value(trees_hp_value(hp, "scoring")), c->name);
		pgml_err_detail(err, "Early stopping scores with the loss (scoring \"loss\").");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if ((rc = trees_hp_choice(hp, "scoring", "loss", scorings, &scoring, err)) != PGML_OK)
		return rc;
	c->val_given = true;
	c->val_fraction = 0.1;
	if (vf != NULL && json_is_null(vf))
		c->val_given = false;
	else if (vf != NULL && json_is_integer(vf) && json_integer_value(vf) >= 1)
	{
		c->val_is_count = true;
		c->val_count = (size_t) json_integer_value(vf);
	}
	else if ((rc = trees_hp_real_in(hp, "validation_fraction", 0.1, 0.0, true, 1.0, true, &c->val_fraction, err)) != PGML_OK)
		return trees_hp_invalid(err, "validation_fraction", vf,
								"a number in the range (0, 1), an integer of at least 1, or null");
	if ((rc = trees_hp_int_min(hp, "n_iter_no_change", 10, 1, INT32_MAX, &iv, err)) != PGML_OK)
		return rc;
	c->n_iter_no_change = (size_t) iv;
	if ((rc = trees_hp_real_in(hp, "tol", 1e-7, 0.0, false, INFINITY, false, &c->tol, err)) != PGML_OK ||
		(rc = trees_hp_seed(hp, seed, &c->seed, err)) != PGML_OK ||
		(rc = trees_hp_inert(hp, false, &c->verbose, err)) != PGML_OK)
		return rc;
	return PGML_OK;
}

static pgml_status
hgb_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	bool		classifier;
	hb_config	cfg;
	json_t	   *params;
	pgml_status rc;

	if ((rc = trees_fit_begin(&pgml_algo_hist_gradient_boosting, args, train, state, err)) != PGML_OK)
		return rc;
	classifier = args->task == PGML_TASK_CLASSIFICATION;
	if ((rc = parse_hgb(args->hyperparams, classifier, args->n_classes, train->n_rows, args->seed, &cfg, err)) != PGML_OK)
		return rc;
	params = trees_effective_params(args->hyperparams, classifier ? hgb_classifier_defaults : hgb_regressor_defaults);
	if (params == NULL)
		return out_of_memory(err);
	return hb_fit_run(&cfg, args, train, TREES_KIND_HIST_GRADIENT_BOOSTING, params, state, err);
}

static pgml_status
hgb_load(pgml_reader *in, void **state, pgml_err *err)
{
	return trees_load_kind(in, TREES_KIND_HIST_GRADIENT_BOOSTING, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * lightgbm: LightGBM's scikit-learn API names and its native aliases
 * ------------------------------------------------------------------------------------------------- */

static const char *const lgbm_params[] = {
	"boosting_type", "num_leaves", "max_depth", "learning_rate", "n_estimators", "subsample_for_bin",
	"objective", "class_weight", "min_split_gain", "min_child_weight", "min_child_samples", "subsample",
	"subsample_freq", "colsample_bytree", "reg_alpha", "reg_lambda", "random_state", "n_jobs",
	"importance_type", "max_bin", "verbose", "verbosity", "alpha",
	"num_iterations", "num_boost_round", "bagging_fraction", "bagging_freq", "feature_fraction", "lambda_l1",
	"lambda_l2", "min_data_in_leaf", "min_sum_hessian_in_leaf", "min_gain_to_split", "seed", NULL
};

/* Each scikit-learn API name, then LightGBM's aliases for it (NULL-terminated groups). */
static const char *const lgbm_aliases[][4] = {
	{"n_estimators", "num_iterations", "num_boost_round", NULL},
	{"subsample", "bagging_fraction", NULL, NULL},
	{"subsample_freq", "bagging_freq", NULL, NULL},
	{"colsample_bytree", "feature_fraction", NULL, NULL},
	{"reg_alpha", "lambda_l1", NULL, NULL},
	{"reg_lambda", "lambda_l2", NULL, NULL},
	{"min_child_samples", "min_data_in_leaf", NULL, NULL},
	{"min_child_weight", "min_sum_hessian_in_leaf", NULL, NULL},
	{"min_split_gain", "min_gain_to_split", NULL, NULL},
	{"random_state", "seed", NULL, NULL},
	{"verbose", "verbosity", NULL, NULL},
};

static const trees_param_default lgbm_defaults[] = {
	PD_STR("boosting_type", "gbdt"), PD_INT("num_leaves", 31), PD_INT("max_depth", -1),
	PD_REAL("learning_rate", 0.1), PD_INT("n_estimators", 100), PD_INT("subsample_for_bin", 200000),
	PD_NULL("objective"), PD_NULL("class_weight"), PD_REAL("min_split_gain", 0.0),
	PD_REAL("min_child_weight", 1e-3), PD_INT("min_child_samples", 20), PD_REAL("subsample", 1.0),
	PD_INT("subsample_freq", 0), PD_REAL("colsample_bytree", 1.0), PD_REAL("reg_alpha", 0.0),
	PD_REAL("reg_lambda", 0.0), PD_NULL("random_state"), PD_NULL("n_jobs"), PD_STR("importance_type", "split"),
	PD_INT("max_bin", 255), PD_INT("verbose", -1), PD_REAL("alpha", 0.9), PD_END
};

/*
 * hp with every alias renamed to its scikit-learn API name (a new object); an alias given together with its
 * name (or another alias of it) is an error.
 */
static pgml_status
lgbm_canonical(const json_t *hp, json_t **out, pgml_err *err)
{
	json_t	   *c = json_deep_copy(hp);

	*out = NULL;
	if (c == NULL)
		return out_of_memory(err);
	for (size_t g = 0; g < sizeof(lgbm_aliases) / sizeof(lgbm_aliases[0]); g++)
	{
		const char *given = NULL;

		for (int a = 0; a < 4 && lgbm_aliases[g][a] != NULL; a++)
		{
			const char *name = lgbm_aliases[g][a];

			if (json_object_get(hp, name) == NULL)
				continue;
			if (given != NULL)
			{
				json_decref(c);
				pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "hyperparameters \"%s\" and \"%s\" are aliases of each other",
						   given, name);
				pgml_err_detail(err, "Both set LightGBM's %s.", lgbm_aliases[g][0]);
				pgml_err_hint(err, "Give only one of them.");
				return PGML_ERR_INVALID_ARGUMENT;
			}
			given = name;
			if (a > 0)
			{
				json_t	   *v = json_object_get(c, name);

				if (json_object_set(c, lgbm_aliases[g][0], v) != 0 || json_object_del(c, name) != 0)
				{
					json_decref(c);
					return out_of_memory(err);
				}
			}
		}
	}
	*out = c;
	return PGML_OK;
}

static pgml_status
parse_lgbm(const json_t *hp, bool classifier, int n_classes, uint64_t seed, hb_config *c, const char **objective,
		   pgml_err *err)
{
	static const char *const boosting[] = {"gbdt", "dart", "goss", "rf", NULL};
	static const char *const importance[] = {"split", "gain", NULL};
	static const char *const objectives[] = {
		"regression", "regression_l2", "l2", "mean_squared_error", "mse", "l2_root", "root_mean_squared_error",
		"rmse", "regression_l1", "l1", "mean_absolute_error", "mae", "quantile", "poisson", "binary",
		"multiclass", "softmax", "huber", "fair", "gamma", "tweedie", "mape", "multiclassova", "cross_entropy",
		"cross_entropy_lambda", "lambdarank", "rank_xendcg", NULL
	};
	const char *bt;
	const char *obj;
	const char *imp;
	const json_t *v;
	int64_t		iv;
	pgml_status rc;

	memset(c, 0, sizeof(*c));
	c->flavor = FLAVOR_LIGHTGBM;
	c->name = "lightgbm";
	if ((rc = trees_hp_choice(hp, "boosting_type", "gbdt", boosting, &bt, err)) != PGML_OK)
		return rc;
	if (strcmp(bt, "gbdt") != 0)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "boosting_type \"%s\" is not supported by lightgbm", bt);
		pgml_err_detail(err, "Only boosting_type \"gbdt\" is implemented.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if ((rc = trees_hp_choice(hp, "objective", NULL, objectives, &obj, err)) != PGML_OK)
		return rc;
	if (obj == NULL)
		obj = !classifier ? "regression" : n_classes > 2 ? "multiclass" : "binary";
	*objective = obj;
	if (strcmp(obj, "binary") == 0 || strcmp(obj, "multiclass") == 0 || strcmp(obj, "softmax") == 0)
	{
		if (!classifier)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "objective \"%s\" needs a classification task", obj);
			pgml_err_hint(err, "Use objective \"regression\", \"regression_l1\", \"quantile\" or \"poisson\".");
			return PGML_ERR_INVALID_ARGUMENT;
		}
		if (strcmp(obj, "binary") == 0 && n_classes > 2)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "objective \"binary\" needs exactly two classes");
			pgml_err_detail(err, "The training data have %d classes.", n_classes);
			pgml_err_hint(err, "Use objective \"multiclass\".");
			return PGML_ERR_INVALID_ARGUMENT;
		}
		c->loss = HL_LOG;
	}
	else if (strcmp(obj, "quantile") == 0 || strcmp(obj, "poisson") == 0 || strcmp(obj, "regression_l1") == 0 ||
			 strcmp(obj, "l1") == 0 || strcmp(obj, "mean_absolute_error") == 0 || strcmp(obj, "mae") == 0 ||
			 strcmp(obj, "regression") == 0 || strcmp(obj, "regression_l2") == 0 || strcmp(obj, "l2") == 0 ||
			 strcmp(obj, "mean_squared_error") == 0 || strcmp(obj, "mse") == 0 || strcmp(obj, "l2_root") == 0 ||
			 strcmp(obj, "root_mean_squared_error") == 0 || strcmp(obj, "rmse") == 0)
	{
		if (classifier)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "objective \"%s\" needs a regression task", obj);
			pgml_err_hint(err, "Use objective \"binary\" or \"multiclass\".");
			return PGML_ERR_INVALID_ARGUMENT;
		}
		c->loss = strcmp(obj, "quantile") == 0 ? HL_QUANTILE : strcmp(obj, "poisson") == 0 ? HL_POISSON :
			(strcmp(obj, "regression_l1") == 0 || strcmp(obj, "l1") == 0 ||
			 strcmp(obj, "mean_absolute_error") == 0 || strcmp(obj, "mae") == 0) ? HL_ABSOLUTE : HL_SQUARED;
	}
	else
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "objective \"%s\" is not supported by lightgbm", obj);
		pgml_err_detail(err, "lightgbm implements the objectives regression, regression_l1, quantile, poisson, "
						"binary and multiclass (and their aliases).");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if ((rc = null_only(hp, "class_weight", c->name, err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "num_leaves", 31, 2, 131072, &iv, err)) != PGML_OK)
		return rc;
	c->max_leaves = (size_t) iv;
	if ((rc = trees_hp_int_min(hp, "max_depth", -1, INT32_MIN, INT32_MAX, &iv, err)) != PGML_OK)
		return rc;
	c->max_depth = iv > 0 ? (size_t) iv : 0;
	if ((rc = trees_hp_real_in(hp, "learning_rate", 0.1, 0.0, true, INFINITY, false, &c->learning_rate, err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "n_estimators", 100, 1, (int64_t) MAX_TREES, &iv, err)) != PGML_OK)
		return rc;
	c->max_iter = (size_t) iv;
	if ((rc = trees_hp_int_min(hp, "subsample_for_bin", 200000, 1, INT32_MAX, &iv, err)) != PGML_OK)
		return rc;
	c->bin_sample = (size_t) iv;
	if ((rc = trees_hp_real_in(hp, "min_split_gain", 0.0, 0.0, false, INFINITY, false, &c->min_gain, err)) != PGML_OK ||
		(rc = trees_hp_real_in(hp, "min_child_weight", 1e-3, 0.0, false, INFINITY, false, &c->min_hessian, err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "min_child_samples", 20, 0, INT32_MAX, &iv, err)) != PGML_OK)
		return rc;
	c->min_samples_leaf = iv > 0 ? (size_t) iv : 1;
	if ((rc = trees_hp_real_in(hp, "subsample", 1.0, 0.0, true, 1.0, false, &c->bagging_fraction, err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "subsample_freq", 0, 0, INT32_MAX, &iv, err)) != PGML_OK)
		return rc;
	c->bagging_freq = (size_t) iv;
	if ((rc = trees_hp_real_in(hp, "colsample_bytree", 1.0, 0.0, true, 1.0, false, &c->feature_fraction, err)) != PGML_OK ||
		(rc = trees_hp_real_in(hp, "reg_alpha", 0.0, 0.0, false, INFINITY, false, &c->l1, err)) != PGML_OK ||
		(rc = trees_hp_real_in(hp, "reg_lambda", 0.0, 0.0, false, INFINITY, false, &c->l2, err)) != PGML_OK ||
		(rc = trees_hp_seed(hp, seed, &c->seed, err)) != PGML_OK ||
		(rc = trees_hp_choice(hp, "importance_type", "split", importance, &imp, err)) != PGML_OK ||
		(rc = trees_hp_int_min(hp, "max_bin", 255, 2, INT32_MAX, &iv, err)) != PGML_OK)
		return rc;
	if (iv > MAX_BINS)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "max_bin %lld is not supported by lightgbm", (long long) iv);
		pgml_err_detail(err, "Features are binned into at most %d bins.", MAX_BINS);
		return PGML_ERR_NOT_SUPPORTED;
	}
	c->max_bins = (int) iv;
	if ((rc = trees_hp_real_in(hp, "alpha", 0.9, 0.0, true, 1.0, true, &c->quantile, err)) != PGML_OK)
		return rc;
	v = trees_hp_value(hp, "n_jobs");
	if (v != NULL && !json_is_integer(v))
		return trees_hp_invalid(err, "n_jobs", v, "an integer or null");
	v = trees_hp_value(hp, "verbose");
	if (v != NULL && !json_is_integer(v) && !json_is_boolean(v))
		return trees_hp_invalid(err, "verbose", v, "an integer");
	c->verbose = v == NULL ? -1 : json_is_boolean(v) ? json_is_true(v) : json_integer_value(v);
	return PGML_OK;
}

static pgml_status
lgbm_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	bool		classifier;
	hb_config	cfg;
	json_t	   *hp = NULL;
	json_t	   *params;
	const char *objective;
	pgml_status rc;

	if ((rc = trees_fit_begin(&pgml_algo_lightgbm, args, train, state, err)) != PGML_OK)
		return rc;
	classifier = args->task == PGML_TASK_CLASSIFICATION;
	if ((rc = lgbm_canonical(args->hyperparams, &hp, err)) != PGML_OK)
		return rc;
	if ((rc = parse_lgbm(hp, classifier, args->n_classes, args->seed, &cfg, &objective, err)) != PGML_OK)
	{
		json_decref(hp);
		return rc;
	}
	params = trees_effective_params(hp, lgbm_defaults);
	if (params == NULL || json_object_set_new(params, "objective", json_string(objective)) != 0)
	{
		json_decref(hp);
		json_decref(params);
		return out_of_memory(err);
	}
	json_decref(hp);
	return hb_fit_run(&cfg, args, train, TREES_KIND_LIGHTGBM, params, state, err);
}

static pgml_status
lgbm_load(pgml_reader *in, void **state, pgml_err *err)
{
	return trees_load_kind(in, TREES_KIND_LIGHTGBM, state, err);
}

/* ---------------------------------------------------------------------------------------------------
 * The tables
 * ------------------------------------------------------------------------------------------------- */

const pgml_algorithm pgml_algo_hist_gradient_boosting = {
	.name = "hist_gradient_boosting",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = hgb_regressor_params,
	.params_classification = hgb_classifier_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = true,
	.fit = hgb_fit,
	.n_outputs = trees_n_outputs,
	.predict = trees_predict,
	.params = trees_params,
	.save = trees_save,
	.load = hgb_load,
	.free = trees_free,
};

const pgml_algorithm pgml_algo_lightgbm = {
	.name = "lightgbm",
	.tasks = PGML_TASK_BIT(PGML_TASK_REGRESSION) | PGML_TASK_BIT(PGML_TASK_CLASSIFICATION),
	.params_regression = lgbm_params,
	.params_classification = lgbm_params,
	.params_other = no_params,
	.multi_target = false,
	.has_proba = true,
	.fit = lgbm_fit,
	.n_outputs = trees_n_outputs,
	.predict = trees_predict,
	.params = trees_params,
	.save = trees_save,
	.load = lgbm_load,
	.free = trees_free,
};
