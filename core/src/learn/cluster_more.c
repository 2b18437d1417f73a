/*
 * cluster_more.c — BIRCH, mean shift and affinity propagation, as scikit-learn 1.2's Birch, MeanShift
 * and AffinityPropagation.
 *
 * Hyperparameters carry sklearn's names, defaults and constraints; computation is in double on the
 * float rows. Each algorithm follows sklearn's steps and arithmetic closely enough that results agree
 * to rounding on ordinary data; where sklearn's result depends on an implementation detail (numpy's
 * random stream, the order in which a k-d tree adds up neighbors), the notes below say what differs.
 *
 * Birch builds the CF-tree exactly as sklearn does: the closest subcluster by ||c||² - 2 x·c, merge when
 * the merged radius is within threshold, splits around the farthest pair of subclusters, leaves kept in
 * a linked list. With an integer n_clusters the subcluster centroids are clustered by Ward's method, as
 * sklearn's AgglomerativeClustering does through scipy: a nearest-neighbor chain (here with Ward costs
 * computed from cluster centroids and sizes, so memory stays linear in the number of subclusters),
 * merges sorted by cost, and the tree cut at n_clusters with sklearn's label numbering. predict gives
 * the label of the nearest subcluster. An estimator as n_clusters is not supported.
 *
 * MeanShift runs a flat kernel from each seed (every row, the bins of bin_seeding, or the given seeds)
 * until the mean moves less than bandwidth / 1000 or max_iter, drops seeds whose ball is empty, merges
 * identical modes, orders modes by the number of rows in their ball, and keeps each mode that no
 * stronger mode lies within bandwidth of. Ball queries go through a k-d tree that finds exactly the rows
 * a scan finds; the rows' values are added in the tree's order. bandwidth null estimates it as sklearn's
 * estimate_bandwidth (quantile 0.3 over all rows): the mean over rows of the distance to the row's
 * int(0.3 n)-th nearest row, itself included. The seeds run in parallel on the fit's pool. predict gives
 * the nearest mode.
 *
 * AffinityPropagation keeps the similarity, responsibility and availability matrices (3 n² doubles),
 * so it refuses more than AP_MAX_ROWS rows. Each iteration makes one pass over the matrices with
 * sklearn's update formulas, value for value except that the column sums of the availability update are
 * added by blocks of rows. sklearn adds tiny noise, (eps·S + 100·tiny)·N(0,1), to the similarities to
 * break ties; libpgml adds noise of the same size from its own generator, seeded with random_state (or
 * the fit's seed), one stream per row. Results are deterministic and match sklearn's exemplars on
 * ordinary data, but where sklearn's result hinges on an exact tie (duplicate rows, symmetric layouts),
 * the tie may resolve differently, and the iteration count may differ by a few as it does in sklearn
 * between two random_states. predict gives the nearest exemplar, or -1 for every row when no exemplar
 * emerged (sklearn's behavior after a fit that did not converge).
 *
 * Threads: every parallel loop computes each row (or seed, or column, or block) on its own and combines
 * results in a fixed order, so a fit gives the same result with or without a pool, whatever its size.
 * MeanShift's n_jobs is accepted and recorded, but the fit's pool decides the threads; copy (Birch,
 * AffinityPropagation) is recorded and has no effect, the input being read-only here anyway.
 *
 * Saved states are versioned binary (buf.h) with the effective hyperparameters as typed fields; loading
 * validates every count, index and value.
 */
#include "cluster_algorithms.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "pgml/arena.h"
#include "pgml/json.h"

#include "cluster_common.h"

#define AP_MAX_ROWS		20000	/* affinity propagation keeps 3 n² doubles */
#define DIST_BLOCK		256		/* rows per block in the distance loops */
#define WARD_CHUNK		1024	/* active clusters per work item in Ward's neighbor search */
#define WARD_PARALLEL	4096	/* fewer active clusters than this are searched on the caller */
#define MAX_SEEDS		((size_t) 1 << 28)

/* ---------------------------------------------------------------------------------------------------
 * Shared helpers
 * ------------------------------------------------------------------------------------------------- */

/* The dot product of a and b, summed in order. */
static inline double
dot(const double *a, const double *b, size_t d)
{
	double		s = 0;

	for (size_t f = 0; f < d; f++)
		s += a[f] * b[f];
	return s;
}

/* A real hyperparameter > 0 (sklearn's open interval). */
static pgml_status
get_positive(const json_t *hp, const char *key, double def, double *out, pgml_err *err)
{
	pgml_status rc = pgml_json_get_real(hp, key, def, 0, DBL_MAX, out, err);

	if (rc != PGML_OK)
		return rc;
	if (!(*out > 0))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" is out of range", key);
		pgml_err_detail(err, "It is %g; it must be greater than 0.", *out);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

/* The value of key unless it is missing or null. */
static const json_t *
given(const json_t *hp, const char *key)
{
	const json_t *v = json_is_object(hp) ? json_object_get(hp, key) : NULL;

	return v == NULL || json_is_null(v) ? NULL : v;
}

/* A matrix hyperparameter: a non-empty array of arrays of d finite numbers, as a new rows × d array. */
static pgml_status
get_matrix(const json_t *v, const char *key, size_t d, size_t max_rows, double **out, size_t *rows,
		   pgml_err *err)
{
	size_t		n;
	double	   *m;

	*out = NULL;
	*rows = 0;
	if (!json_is_array(v) || json_array_size(v) == 0)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" must be a non-empty array of rows", key);
		pgml_err_detail(err, "Each row is an array of %zu numbers, one per feature.", d);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	n = json_array_size(v);
	if (n > max_rows)
	{
		pgml_error(err, PGML_ERR_LIMIT, "\"%s\" has too many rows", key);
		pgml_err_detail(err, "It has %zu rows; the limit is %zu.", n, max_rows);
		return PGML_ERR_LIMIT;
	}
	for (size_t i = 0; i < n; i++)
	{
		const json_t *row = json_array_get(v, i);

		if (!json_is_array(row) || json_array_size(row) != d)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "the shape of \"%s\" does not match the data", key);
			pgml_err_detail(err, "Row %zu of \"%s\" must be an array of %zu numbers, one per feature.", i + 1, key,
							d);
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	m = alloc_array(n * d, sizeof(double));
	if (m == NULL)
		return out_of_memory(err);
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < d; f++)
		{
			const json_t *e = json_array_get(json_array_get(v, i), f);

			if (!json_is_number(e) || !isfinite(json_number_value(e)))
			{
				pgml_free(m);
				return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" must hold finite numbers", key);
			}
			m[i * d + f] = json_number_value(e);
		}
	*out = m;
	*rows = n;
	return PGML_OK;
}

/* An array of arrays from a rows × d matrix. */
static json_t *
matrix_to_json(const double *m, size_t rows, size_t d)
{
	json_t	   *a = json_array();

	for (size_t i = 0; a != NULL && i < rows; i++)
	{
		json_t	   *row = json_array();

		if (json_array_append_new(a, row) != 0)
		{
			json_decref(a);
			return NULL;
		}
		for (size_t f = 0; f < d; f++)
			if (json_array_append_new(row, json_real(m[i * d + f])) != 0)
			{
				json_decref(a);
				return NULL;
			}
	}
	return a;
}

/* The index of the row of c (k × d, k >= 1) nearest x by squared distance, the first of equals. */
static size_t
nearest_row(const double *x, const double *c, size_t k, size_t d)
{
	double		best = INFINITY;
	size_t		at = 0;

	for (size_t j = 0; j < k; j++)
	{
		double		v = sq_dist(x, c + j * d, d);

		if (v < best)
		{
			best = v;
			at = j;
		}
	}
	return at;
}

/* Writes the index of the nearest center of each row (k >= 1), or -1 for every row when k is 0. */
static pgml_status
predict_nearest(const double *centers, size_t k, size_t d, const float *x, size_t n_rows, float *out,
				pgml_err *err)
{
	double	   *row;
	size_t		every = poll_rows(3 * (k ? k : 1) * d);

	if (k == 0)
	{
		if (n_rows > 0)
			pgml_log(PGML_LOG_DEBUG, "the model has no cluster centers; labeling every row as -1");
		for (size_t i = 0; i < n_rows; i++)
			out[i] = -1;
		return PGML_OK;
	}
	row = alloc_array(d, sizeof(double));
	if (row == NULL)
		return out_of_memory(err);
	for (size_t i = 0; i < n_rows; i++)
	{
		if (i % every == 0 && pgml_check_stop(err) != PGML_OK)
		{
			pgml_free(row);
			return PGML_ERR_CANCELLED;
		}
		for (size_t f = 0; f < d; f++)
			row[f] = x[i * d + f];
		out[i] = (float) nearest_row(row, centers, k, d);
	}
	pgml_free(row);
	return PGML_OK;
}

/* One output per row: the cluster index. */
static size_t
one_output(const void *state)
{
	(void) state;
	return 1;
}

/* Writes n u32 values after their count. */
static void
put_u32s(pgml_buf *out, const int32_t *v, size_t n)
{
	pgml_buf_put_u64(out, n);
	for (size_t i = 0; i < n; i++)
		pgml_buf_put_u32(out, (uint32_t) v[i]);
}

/* Reads exactly n u32 values, each below `bound`, into a new array (NULL after marking the reader). */
static int32_t *
get_u32s(pgml_reader *in, size_t n, size_t bound)
{
	uint64_t	count = pgml_reader_u64(in);
	int32_t    *v;

	if (pgml_reader_status(in) != PGML_OK)
		return NULL;
	if (count != n || n == 0 || n > pgml_reader_remaining(in) / 4)
	{
		pgml_reader_fail(in, "An array has the wrong length");
		return NULL;
	}
	v = alloc_array(n, sizeof(int32_t));
	if (v == NULL)
	{
		pgml_reader_fail(in, "Out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
	{
		uint32_t	e = pgml_reader_u32(in);

		if (e >= bound || e > INT32_MAX)
		{
			pgml_free(v);
			pgml_reader_fail(in, "An index is out of range");
			return NULL;
		}
		v[i] = (int32_t) e;
	}
	return v;
}

/* Reads exactly n finite doubles, n possibly 0 (then NULL without failing). */
static double *
get_f64s_or_none(pgml_reader *in, size_t n)
{
	if (n > 0)
		return get_f64s(in, n);
	if (pgml_reader_u64(in) != 0 && pgml_reader_status(in) == PGML_OK)
		pgml_reader_fail(in, "An array has the wrong length");
	return NULL;
}

/* ---------------------------------------------------------------------------------------------------
 * Birch: the CF-tree
 * ------------------------------------------------------------------------------------------------- */

typedef struct cf_node cf_node;

/* A clustering feature: the count, linear sum and squared sum of its rows, and a cached centroid. */
typedef struct cf_sub
{
	int64_t		n;
	double		ss;
	double		sq_norm;		/* ||centroid||² */
	double	   *ls;				/* d */
	double	   *centroid;		/* d */
	cf_node    *child;			/* NULL in a leaf */
} cf_sub;

struct cf_node
{
	bool		is_leaf;
	size_t		n_sub;
	cf_sub	  **subs;			/* room for the tree's cap */
	cf_node    *prev_leaf;
	cf_node    *next_leaf;
};

typedef struct cf_tree
{
	pgml_arena *arena;			/* every node and subcluster */
	size_t		d;
	size_t		bf;				/* branching_factor */
	size_t		cap;			/* subclusters a node can hold: min(bf, n) + 1 */
	double		threshold_sq;
	cf_node    *root;
	cf_node		head;			/* the leaves follow head.next_leaf */
	double	   *tmp_ls;			/* d: a merge candidate, swapped into the subcluster on success */
	double	   *tmp_c;			/* d */
	double	   *norms;			/* cap: a splitting node's centroid norms */
	double	   *row_a;			/* cap */
	double	   *row_b;			/* cap */
} cf_tree;

/* A new empty node, or NULL. */
static cf_node *
cf_new_node(cf_tree *t, bool is_leaf)
{
	cf_node    *node = pgml_arena_calloc(t->arena, 1, sizeof(cf_node));

	if (node == NULL)
		return NULL;
	node->subs = pgml_arena_calloc(t->arena, t->cap, sizeof(cf_sub *));
	if (node->subs == NULL)
		return NULL;
	node->is_leaf = is_leaf;
	return node;
}

/* A new empty subcluster (zero count and sums), or NULL. */
static cf_sub *
cf_new_sub(cf_tree *t)
{
	cf_sub	   *s = pgml_arena_calloc(t->arena, 1, sizeof(cf_sub));

	if (s == NULL)
		return NULL;
	s->ls = pgml_arena_calloc(t->arena, t->d, sizeof(double));
	s->centroid = pgml_arena_calloc(t->arena, t->d, sizeof(double));
	if (s->ls == NULL || s->centroid == NULL)
		return NULL;
	return s;
}

/* A new subcluster holding one row x (xx = x·x), or NULL. */
static cf_sub *
cf_sub_of_row(cf_tree *t, const double *x, double xx)
{
	cf_sub	   *s = cf_new_sub(t);

	if (s == NULL)
		return NULL;
	s->n = 1;
	memcpy(s->ls, x, t->d * sizeof(double));
	memcpy(s->centroid, x, t->d * sizeof(double));
	s->ss = xx;
	s->sq_norm = xx;
	return s;
}

/* Adds n rows with linear sum ls and squared sum ss to s (sklearn's _CFSubcluster.update). */
static void
cf_add(cf_sub *s, const double *ls, double ss, int64_t n, size_t d)
{
	s->n += n;
	for (size_t f = 0; f < d; f++)
		s->ls[f] += ls[f];
	s->ss += ss;
	for (size_t f = 0; f < d; f++)
		s->centroid[f] = s->ls[f] / (double) s->n;
	s->sq_norm = dot(s->centroid, s->centroid, d);
}

/* Merges row x into s if the merged radius stays within threshold (sklearn's merge_subcluster). */
static bool
cf_try_merge(cf_tree *t, cf_sub *s, const double *x, double xx)
{
	size_t		d = t->d;
	double		new_ss = s->ss + xx;
	int64_t		new_n = s->n + 1;
	double		inv = 1.0 / (double) new_n;
	double		new_sq;
	double	   *swap;

	for (size_t f = 0; f < d; f++)
	{
		t->tmp_ls[f] = s->ls[f] + x[f];
		t->tmp_c[f] = inv * t->tmp_ls[f];
	}
	new_sq = dot(t->tmp_c, t->tmp_c, d);
	if (!(new_ss / (double) new_n - new_sq <= t->threshold_sq))
		return false;
	s->n = new_n;
	s->ss = new_ss;
	s->sq_norm = new_sq;
	swap = s->ls;
	s->ls = t->tmp_ls;
	t->tmp_ls = swap;
	swap = s->centroid;
	s->centroid = t->tmp_c;
	t->tmp_c = swap;
	return true;
}

/* The squared distance between subclusters i and j of a node, as sklearn's euclidean_distances has it. */
static inline double
cf_pair_dist(const cf_node *node, const double *norms, size_t i, size_t j, size_t d)
{
	double		v;

	if (i == j)
		return 0;
	v = -2.0 * dot(node->subs[i]->centroid, node->subs[j]->centroid, d) + norms[i];
	v += norms[j];
	return v > 0 ? v : 0;
}

/*
 * Splits a full node in two around its farthest pair of subclusters (sklearn's _split_node): each
 * subcluster goes to the side whose seed is strictly closer, ties to the second. Returns the two new
 * parent subclusters, or false when out of memory.
 */
static bool
cf_split(cf_tree *t, cf_node *node, cf_sub **out1, cf_sub **out2)
{
	size_t		k = node->n_sub;
	size_t		d = t->d;
	size_t		bi = 0,
				bj = 0;
	double		best = -1;
	cf_node    *n1 = cf_new_node(t, node->is_leaf);
	cf_node    *n2 = cf_new_node(t, node->is_leaf);
	cf_sub	   *s1 = cf_new_sub(t);
	cf_sub	   *s2 = cf_new_sub(t);

	if (!n1 || !n2 || !s1 || !s2)
		return false;
	s1->child = n1;
	s2->child = n2;
	if (node->is_leaf)
	{
		if (node->prev_leaf != NULL)
			node->prev_leaf->next_leaf = n1;
		n1->prev_leaf = node->prev_leaf;
		n1->next_leaf = n2;
		n2->prev_leaf = n1;
		n2->next_leaf = node->next_leaf;
		if (node->next_leaf != NULL)
			node->next_leaf->prev_leaf = n2;
	}
	for (size_t i = 0; i < k; i++)
	{
		const double *c = node->subs[i]->centroid;

		t->norms[i] = 0;
		for (size_t f = 0; f < d; f++)
			t->norms[i] += c[f] * c[f];
	}
	/* the first largest entry of the distance matrix, in row-major order */
	for (size_t i = 0; i < k; i++)
		for (size_t j = 0; j < k; j++)
		{
			double		v = cf_pair_dist(node, t->norms, i, j, d);

			if (v > best)
			{
				best = v;
				bi = i;
				bj = j;
			}
		}
	for (size_t i = 0; i < k; i++)
	{
		t->row_a[i] = cf_pair_dist(node, t->norms, bi, i, d);
		t->row_b[i] = cf_pair_dist(node, t->norms, bj, i, d);
	}
	for (size_t i = 0; i < k; i++)
	{
		cf_sub	   *s = node->subs[i];
		bool		first = i == bi || t->row_a[i] < t->row_b[i];
		cf_node    *to = first ? n1 : n2;
		cf_sub	   *parent = first ? s1 : s2;

		to->subs[to->n_sub++] = s;
		cf_add(parent, s->ls, s->ss, s->n, d);
	}
	*out1 = s1;
	*out2 = s2;
	return true;
}

/*
 * Inserts row x (xx = x·x) below node (sklearn's insert_cf_subcluster). Returns 1 when node now holds
 * more than branching_factor subclusters and must be split by its parent, 0 when not, -1 when out of
 * memory.
 */
static int
cf_insert(cf_tree *t, cf_node *node, const double *x, double xx)
{
	size_t		d = t->d;
	size_t		best = 0;
	double		best_v = INFINITY;
	cf_sub	   *closest;
	cf_sub	   *s;

	if (node->n_sub == 0)
	{
		if ((s = cf_sub_of_row(t, x, xx)) == NULL)
			return -1;
		node->subs[node->n_sub++] = s;
		return 0;
	}
	for (size_t j = 0; j < node->n_sub; j++)
	{
		double		v = -2.0 * dot(node->subs[j]->centroid, x, d) + node->subs[j]->sq_norm;

		if (v < best_v)
		{
			best_v = v;
			best = j;
		}
	}
	closest = node->subs[best];
	if (closest->child != NULL)
	{
		int			r = cf_insert(t, closest->child, x, xx);
		cf_sub	   *s1;
		cf_sub	   *s2;

		if (r <= 0)
		{
			if (r == 0)
				cf_add(closest, x, xx, 1, d);
			return r;
		}
		if (!cf_split(t, closest->child, &s1, &s2))
			return -1;
		node->subs[best] = s1;
		node->subs[node->n_sub++] = s2;
		return node->n_sub > t->bf ? 1 : 0;
	}
	if (cf_try_merge(t, closest, x, xx))
		return 0;
	if ((s = cf_sub_of_row(t, x, xx)) == NULL)
		return -1;
	node->subs[node->n_sub++] = s;
	return node->n_sub > t->bf ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------------------
 * Birch: Ward's method on the subcluster centroids
 * ------------------------------------------------------------------------------------------------- */

/* The weight of Ward's merge cost, 2 na nb / (na + nb): symmetric, and 1 or more. */
static inline double
ward_weight(int64_t na, int64_t nb)
{
	return 2.0 * (double) na * (double) nb / (double) (na + nb);
}

/* Ward's squared merge cost between clusters of sizes na, nb and centroids ca, cb (symmetric). */
static inline double
ward_cost(const double *ca, const double *cb, int64_t na, int64_t nb, size_t d)
{
	return ward_weight(na, nb) * sq_dist(ca, cb, d);
}

/* A nearest-neighbor search among the active clusters, split in chunks of WARD_CHUNK. */
typedef struct ward_search
{
	const double *cent;			/* slot × d centroids */
	const int64_t *size;		/* per slot; 0 when merged away */
	const size_t *act;			/* the active slots, ascending */
	size_t		n_act;
	size_t		x;				/* the slot whose neighbor is sought */
	size_t		d;
	double		bound;			/* only costs below this count (the previous chain element's) */
	double	   *best;			/* per chunk: the smallest cost below bound, or bound */
	size_t	   *best_slot;		/* per chunk: its slot, the first of equals */
} ward_search;

/*
 * Work function: chunks [begin, end). The squared distance is a lower bound of the cost (the weight is
 * at least 1, and rounding is monotone), and its partial sums grow: a candidate is dropped as soon as
 * a partial sum reaches the best cost so far, which leaves the result as a full scan's.
 */
static void
ward_search_work(void *p, size_t begin, size_t end, int worker)
{
	ward_search *w = p;
	size_t		d = w->d;
	const double *cx = w->cent + w->x * d;
	int64_t		nx = w->size[w->x];

	(void) worker;
	for (size_t c = begin; c < end; c++)
	{
		size_t		lo = c * WARD_CHUNK;
		size_t		hi = w->n_act - lo < WARD_CHUNK ? w->n_act : lo + WARD_CHUNK;
		double		best = w->bound;
		size_t		slot = 0;

		for (size_t a = lo; a < hi; a++)
		{
			size_t		i = w->act[a];
			const double *ci = w->cent + i * d;
			double		s = 0;
			double		v;
			size_t		f;

			if (i == w->x)
				continue;
			for (f = 0; f < d; f++)
			{
				double		t = cx[f] - ci[f];

				s += t * t;
				if (s >= best)
					break;
			}
			if (f < d)
				continue;
			v = ward_weight(nx, w->size[i]) * s;
			if (v < best)
			{
				best = v;
				slot = i;
			}
		}
		w->best[c] = best;
		w->best_slot[c] = slot;
	}
}

typedef struct ward_merge
{
	double		cost;
	size_t		a;				/* slots merged: a < b; the union takes slot b */
	size_t		b;
	size_t		order;			/* position in merge order, for a stable sort */
} ward_merge;

/* qsort order: by cost, then merge order (numpy's stable argsort). */
static int
cmp_ward_merge(const void *p, const void *q)
{
	const ward_merge *a = p;
	const ward_merge *b = q;

	if (a->cost != b->cost)
		return a->cost < b->cost ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* The root of x in a union-find forest (with path compression). */
static size_t
uf_find(size_t *parent, size_t x)
{
	size_t		root = x;

	while (parent[root] != root)
		root = parent[root];
	while (parent[x] != root)
	{
		size_t		next = parent[x];

		parent[x] = root;
		x = next;
	}
	return root;
}

/* Python's heapq._siftdown on a min-heap of int64: moves the item at pos up towards start. */
static void
heap_sift_down(int64_t *h, size_t start, size_t pos)
{
	int64_t		item = h[pos];

	while (pos > start)
	{
		size_t		parent = (pos - 1) >> 1;

		if (!(item < h[parent]))
			break;
		h[pos] = h[parent];
		pos = parent;
	}
	h[pos] = item;
}

/* Python's heapq._siftup: moves the item at pos down to a leaf along smaller children, then back up. */
static void
heap_sift_up(int64_t *h, size_t len, size_t pos)
{
	size_t		start = pos;
	int64_t		item = h[pos];
	size_t		child = 2 * pos + 1;

	while (child < len)
	{
		size_t		right = child + 1;

		if (right < len && !(h[child] < h[right]))
			child = right;
		h[pos] = h[child];
		pos = child;
		child = 2 * pos + 1;
	}
	h[pos] = item;
	heap_sift_down(h, start, pos);
}

/*
 * Ward's hierarchical clustering of m points (m >= 2) cut into k clusters (1 <= k <= m), labels as
 * sklearn's AgglomerativeClustering(n_clusters=k) gives them. The merge tree is scipy's: a
 * nearest-neighbor chain that prefers the previous chain element and then the lowest slot among equal
 * costs, the merged cluster taking the higher slot; merges sorted by cost (stable) and named by
 * union-find. The cut pops the newest merge k - 1 times from a heap of node ids and numbers the clusters
 * in the heap's array order, as sklearn's _hc_cut with Python's heapq.
 */
static pgml_status
ward_labels(pgml_pool *pool, const double *points, size_t m, size_t d, size_t k, int32_t *labels,
			pgml_err *err)
{
	size_t		n_nodes = 2 * m - 1;
	double	   *cent = alloc_array(m * d, sizeof(double));
	int64_t    *size = alloc_array(m, sizeof(int64_t));
	size_t	   *act = alloc_array(m, sizeof(size_t));
	size_t	   *chain = alloc_array(m, sizeof(size_t));
	ward_merge *merges = alloc_array(m - 1, sizeof(ward_merge));
	size_t	   *parent = alloc_array(n_nodes, sizeof(size_t));
	size_t	   *children = alloc_array(2 * (m - 1), sizeof(size_t));
	int64_t    *heap = alloc_array(k, sizeof(int64_t));
	size_t	   *stack = alloc_array(m, sizeof(size_t));
	size_t		n_chunks = (m + WARD_CHUNK - 1) / WARD_CHUNK;
	double	   *best = alloc_array(n_chunks, sizeof(double));
	size_t	   *best_slot = alloc_array(n_chunks, sizeof(size_t));
	size_t		n_act = m;
	size_t		chain_len = 0;
	size_t		heap_len;
	ward_search ws;
	pgml_status rc = PGML_OK;

	if (!cent || !size || !act || !chain || !merges || !parent || !children || !heap || !stack || !best ||
		!best_slot)
	{
		rc = out_of_memory(err);
		goto done;
	}
	memcpy(cent, points, m * d * sizeof(double));
	for (size_t i = 0; i < m; i++)
	{
		size[i] = 1;
		act[i] = i;
	}
	ws.cent = cent;
	ws.size = size;
	ws.act = act;
	ws.d = d;
	ws.best = best;
	ws.best_slot = best_slot;

	for (size_t step = 0; step < m - 1; step++)
	{
		size_t		x,
					y;
		double		cost;

		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
		if (chain_len == 0)
			chain[chain_len++] = act[0];
		for (;;)
		{
			size_t		chunks;

			x = chain[chain_len - 1];
			if (chain_len > 1)
			{
				y = chain[chain_len - 2];
				cost = ward_cost(cent + x * d, cent + y * d, size[x], size[y], d);
			}
			else
			{
				y = x;
				cost = INFINITY;
			}
			ws.x = x;
			ws.n_act = n_act;
			ws.bound = cost;
			chunks = (n_act + WARD_CHUNK - 1) / WARD_CHUNK;
			if (pool != NULL && n_act >= WARD_PARALLEL)
			{
				if ((rc = pgml_parallel_for(pool, chunks, 1, ward_search_work, &ws, err)) != PGML_OK)
					goto done;
			}
			else
				ward_search_work(&ws, 0, chunks, 0);
			for (size_t c = 0; c < chunks; c++)
				if (best[c] < cost)
				{
					cost = best[c];
					y = best_slot[c];
				}
			if (chain_len > 1 && y == chain[chain_len - 2])
				break;
			if (chain_len >= m || y == x)
			{
				rc = pgml_error(err, PGML_ERR_INTERNAL, "the nearest-neighbor chain of Ward's method did not close");
				goto done;
			}
			chain[chain_len++] = y;
		}
		chain_len -= 2;
		if (x > y)
		{
			size_t		t = x;

			x = y;
			y = t;
		}
		{
			double		nx = (double) size[x];
			double		ny = (double) size[y];
			double		nt = nx + ny;
			size_t		a;

			for (size_t f = 0; f < d; f++)
				cent[y * d + f] = (nx * cent[x * d + f] + ny * cent[y * d + f]) / nt;
			size[y] += size[x];
			size[x] = 0;
			for (a = 0; act[a] != x; a++)
				;
			memmove(act + a, act + a + 1, (n_act - a - 1) * sizeof(size_t));
			n_act--;
		}
		merges[step].cost = cost;
		merges[step].a = x;
		merges[step].b = y;
		merges[step].order = step;
	}

	/* name the merges in cost order: merge t makes node m + t */
	qsort(merges, m - 1, sizeof(ward_merge), cmp_ward_merge);
	for (size_t i = 0; i < n_nodes; i++)
		parent[i] = i;
	for (size_t t = 0; t < m - 1; t++)
	{
		size_t		ra = uf_find(parent, merges[t].a);
		size_t		rb = uf_find(parent, merges[t].b);

		children[2 * t] = ra < rb ? ra : rb;
		children[2 * t + 1] = ra < rb ? rb : ra;
		parent[ra] = m + t;
		parent[rb] = m + t;
	}

	/* the cut: heap of negated node ids, starting from the root */
	heap[0] = -(int64_t) (children[2 * (m - 2) + 1] + 1);
	heap_len = 1;
	for (size_t c = 1; c < k; c++)
	{
		size_t		top = (size_t) (-heap[0]);
		const size_t *ch = children + 2 * (top - m);
		int64_t		second = -(int64_t) ch[1];

		heap[heap_len] = -(int64_t) ch[0];
		heap_sift_down(heap, 0, heap_len);
		heap_len++;
		if (heap[0] < second)
		{
			heap[0] = second;
			heap_sift_up(heap, heap_len, 0);
		}
	}
	for (size_t c = 0; c < heap_len; c++)
	{
		size_t		sp = 0;

		stack[sp++] = (size_t) (-heap[c]);
		while (sp > 0)
		{
			size_t		node = stack[--sp];

			if (node < m)
				labels[node] = (int32_t) c;
			else
			{
				stack[sp++] = children[2 * (node - m)];
				stack[sp++] = children[2 * (node - m) + 1];
			}
		}
	}

done:
	pgml_free(cent);
	pgml_free(size);
	pgml_free(act);
	pgml_free(chain);
	pgml_free(merges);
	pgml_free(parent);
	pgml_free(children);
	pgml_free(heap);
	pgml_free(stack);
	pgml_free(best);
	pgml_free(best_slot);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Birch: fit, predict, params, save, load
 * ------------------------------------------------------------------------------------------------- */

static const char *const birch_param_names[] = {
	"threshold", "branching_factor", "n_clusters", "compute_labels", "copy", NULL
};

typedef struct birch_params
{
	double		threshold;
	int64_t		branching_factor;
	int64_t		n_clusters;		/* -1: null */
	bool		compute_labels;
	bool		copy;
} birch_params;

typedef struct birch_state
{
	size_t		d;
	size_t		m;				/* subclusters */
	size_t		n_labels;		/* clusters */
	double	   *centers;		/* m × d: the subcluster centroids, leaf by leaf */
	double	   *norms;			/* m: their squared norms (not saved) */
	int32_t    *labels;			/* m: each subcluster's cluster */
	birch_params p;
} birch_state;

/* Frees a Birch state (NULL is fine). */
static void
birch_free(void *p)
{
	birch_state *s = p;

	if (s == NULL)
		return;
	pgml_free(s->centers);
	pgml_free(s->norms);
	pgml_free(s->labels);
	pgml_free(s);
}

/* Computes s->norms from s->centers. */
static bool
birch_norms(birch_state *s)
{
	s->norms = alloc_array(s->m, sizeof(double));
	if (s->norms == NULL)
		return false;
	for (size_t j = 0; j < s->m; j++)
		s->norms[j] = dot(s->centers + j * s->d, s->centers + j * s->d, s->d);
	return true;
}

/* n_clusters: an integer >= 1, or null; a clustering estimator is not supported. */
static pgml_status
get_birch_n_clusters(const json_t *hp, int64_t *out, pgml_err *err)
{
	const json_t *v = json_is_object(hp) ? json_object_get(hp, "n_clusters") : NULL;

	if (v != NULL && (json_is_string(v) || json_is_object(v)))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "\"n_clusters\" as a clustering estimator is not supported");
		pgml_err_detail(err, "n_clusters must be an integer (the subclusters are grouped by Ward's method, as AgglomerativeClustering does) or null (each subcluster is a cluster).");
		return PGML_ERR_NOT_SUPPORTED;
	}
	return get_optional_int(hp, "n_clusters", 3, 1, out, err);
}

/* The Birch fit state: the data in double and the tree. */
typedef struct birch_ws
{
	double	   *x;
	cf_tree		t;
} birch_ws;

/* Builds the CF-tree of the rows, as sklearn's Birch._fit. */
static pgml_status
birch_build(cf_tree *t, const double *x, size_t n, pgml_err *err)
{
	size_t		d = t->d;
	size_t		every = poll_rows(4 * t->cap * d);

	t->root = cf_new_node(t, true);
	if (t->root == NULL)
		return out_of_memory(err);
	t->head.next_leaf = t->root;
	t->root->prev_leaf = &t->head;
	for (size_t i = 0; i < n; i++)
	{
		const double *xi = x + i * d;
		int			r;

		if (i % every == 0 && pgml_check_stop(err) != PGML_OK)
			return PGML_ERR_CANCELLED;
		r = cf_insert(t, t->root, xi, dot(xi, xi, d));
		if (r < 0)
			return out_of_memory(err);
		if (r > 0)
		{
			cf_sub	   *s1;
			cf_sub	   *s2;
			cf_node    *root = cf_new_node(t, false);

			if (root == NULL || !cf_split(t, t->root, &s1, &s2))
				return out_of_memory(err);
			root->subs[0] = s1;
			root->subs[1] = s2;
			root->n_sub = 2;
			t->root = root;
		}
	}
	return PGML_OK;
}

/* Fits Birch: the CF-tree, then the global clustering of the subcluster centroids. */
static pgml_status
birch_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	const json_t *hp;
	birch_params p;
	birch_ws	w;
	birch_state *st = NULL;
	size_t		n,
				d,
				m = 0;
	pgml_status rc;

	*state = NULL;
	memset(&w, 0, sizeof(w));
	rc = check_fit(args, train, PGML_TASK_CLUSTERING, "birch", birch_param_names, err);
	if (rc != PGML_OK)
		return rc;
	hp = args->hyperparams;
	n = train->n_rows;
	d = train->n_features;
	memset(&p, 0, sizeof(p));
	if ((rc = get_positive(hp, "threshold", 0.5, &p.threshold, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "branching_factor", 50, 2, INT64_MAX, &p.branching_factor, err)) != PGML_OK ||
		(rc = get_birch_n_clusters(hp, &p.n_clusters, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "compute_labels", true, &p.compute_labels, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "copy", true, &p.copy, err)) != PGML_OK)
		return rc;
	if ((rc = to_double(train->x, n, d, &w.x, err)) != PGML_OK)
		return rc;

	w.t.d = d;
	/* no node ever holds more than n subclusters: a larger branching_factor behaves as n */
	w.t.bf = (uint64_t) p.branching_factor < n ? (size_t) p.branching_factor : n;
	w.t.cap = w.t.bf + 1;
	w.t.threshold_sq = p.threshold * p.threshold;
	w.t.arena = pgml_arena_new(0);
	if (w.t.arena == NULL ||
		(w.t.tmp_ls = pgml_arena_calloc(w.t.arena, d, sizeof(double))) == NULL ||
		(w.t.tmp_c = pgml_arena_calloc(w.t.arena, d, sizeof(double))) == NULL ||
		(w.t.norms = pgml_arena_calloc(w.t.arena, w.t.cap, sizeof(double))) == NULL ||
		(w.t.row_a = pgml_arena_calloc(w.t.arena, w.t.cap, sizeof(double))) == NULL ||
		(w.t.row_b = pgml_arena_calloc(w.t.arena, w.t.cap, sizeof(double))) == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	if ((rc = birch_build(&w.t, w.x, n, err)) != PGML_OK)
		goto done;

	/* the subclusters, leaf by leaf */
	for (cf_node *leaf = w.t.head.next_leaf; leaf != NULL; leaf = leaf->next_leaf)
		m += leaf->n_sub;
	st = pgml_calloc(1, sizeof(birch_state));
	if (st == NULL || (st->centers = alloc_array(m * d, sizeof(double))) == NULL ||
		(st->labels = alloc_array(m, sizeof(int32_t))) == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	st->d = d;
	st->m = m;
	st->p = p;
	{
		size_t		j = 0;

		for (cf_node *leaf = w.t.head.next_leaf; leaf != NULL; leaf = leaf->next_leaf)
			for (size_t i = 0; i < leaf->n_sub; i++, j++)
				memcpy(st->centers + j * d, leaf->subs[i]->centroid, d * sizeof(double));
	}
	pgml_arena_free(w.t.arena);
	w.t.arena = NULL;
	if (!birch_norms(st))
	{
		rc = out_of_memory(err);
		goto done;
	}

	/* the global clustering */
	if (p.n_clusters < 0 || m < (uint64_t) p.n_clusters || m == 1)
	{
		if (p.n_clusters > 0 && m < (uint64_t) p.n_clusters)
			pgml_log(PGML_LOG_WARNING, "number of subclusters found (%zu) by BIRCH is less than (%lld); decrease the threshold",
					 m, (long long) p.n_clusters);
		for (size_t j = 0; j < m; j++)
			st->labels[j] = (int32_t) j;
		st->n_labels = m;
	}
	else
	{
		rc = ward_labels(args->pool, st->centers, m, d, (size_t) p.n_clusters, st->labels, err);
		if (rc != PGML_OK)
			goto done;
		st->n_labels = (size_t) p.n_clusters;
	}
	*state = st;
	st = NULL;

done:
	pgml_arena_free(w.t.arena);
	pgml_free(w.x);
	birch_free(st);
	return rc;
}

/*
 * The subcluster nearest x by ||c||² - 2 x·c (sklearn's ranking), the first of equals. Four subclusters
 * at a time, each dot product still summed over the features in order.
 */
static size_t
birch_nearest(const birch_state *s, const double *x)
{
	size_t		d = s->d;
	size_t		m = s->m;
	double		best = INFINITY;
	size_t		at = 0;
	size_t		j = 0;

	for (; j + 4 <= m; j += 4)
	{
		const double *c0 = s->centers + j * d;
		const double *c1 = c0 + d;
		const double *c2 = c1 + d;
		const double *c3 = c2 + d;
		double		d0 = 0,
					d1 = 0,
					d2 = 0,
					d3 = 0;
		double		v[4];

		for (size_t f = 0; f < d; f++)
		{
			d0 += x[f] * c0[f];
			d1 += x[f] * c1[f];
			d2 += x[f] * c2[f];
			d3 += x[f] * c3[f];
		}
		v[0] = -2.0 * d0 + s->norms[j];
		v[1] = -2.0 * d1 + s->norms[j + 1];
		v[2] = -2.0 * d2 + s->norms[j + 2];
		v[3] = -2.0 * d3 + s->norms[j + 3];
		for (int t = 0; t < 4; t++)
			if (v[t] < best)
			{
				best = v[t];
				at = j + (size_t) t;
			}
	}
	for (; j < m; j++)
	{
		double		v = -2.0 * dot(x, s->centers + j * d, d) + s->norms[j];

		if (v < best)
		{
			best = v;
			at = j;
		}
	}
	return at;
}

/* Writes the label of the nearest subcluster of each row (sklearn's Birch.predict). */
static pgml_status
birch_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out, pgml_err *err)
{
	const birch_state *s = state;
	double	   *row;
	size_t		every;
	pgml_status rc = check_predict(state, x, n_rows, n_features, s ? s->d : 0, out, err);

	if (rc != PGML_OK)
		return rc;
	row = alloc_array(s->d, sizeof(double));
	if (row == NULL)
		return out_of_memory(err);
	every = poll_rows(2 * s->m * s->d);
	for (size_t i = 0; i < n_rows; i++)
	{
		size_t		at;

		if (i % every == 0 && pgml_check_stop(err) != PGML_OK)
		{
			rc = PGML_ERR_CANCELLED;
			break;
		}
		for (size_t f = 0; f < s->d; f++)
			row[f] = x[i * s->d + f];
		at = birch_nearest(s, row);
		out[i] = (float) s->labels[at];
	}
	pgml_free(row);
	return rc;
}

/* The effective hyperparameters, with sklearn's names, as a new JSON object. */
static json_t *
birch_params_json(const void *state)
{
	const birch_state *s = state;
	json_t	   *o;

	if (s == NULL || (o = json_object()) == NULL)
		return NULL;
	if (!jset(o, "threshold", json_real(s->p.threshold)) ||
		!jset(o, "branching_factor", json_integer(s->p.branching_factor)) ||
		!jset(o, "n_clusters", null_or_int(s->p.n_clusters)) ||
		!jset(o, "compute_labels", json_boolean(s->p.compute_labels)) ||
		!jset(o, "copy", json_boolean(s->p.copy)))
	{
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Writes a Birch state: shape, subcluster centroids and labels, and the hyperparameters. */
static void
birch_save(const void *state, pgml_buf *out)
{
	const birch_state *s = state;

	pgml_buf_put_u32(out, STATE_VERSION);
	pgml_buf_put_u8(out, KIND_BIRCH);
	pgml_buf_put_u64(out, s->d);
	pgml_buf_put_u64(out, s->m);
	pgml_buf_put_u64(out, s->n_labels);
	pgml_buf_put_f64s(out, s->centers, s->m * s->d);
	put_u32s(out, s->labels, s->m);
	pgml_buf_put_f64(out, s->p.threshold);
	pgml_buf_put_i64(out, s->p.branching_factor);
	pgml_buf_put_i64(out, s->p.n_clusters);
	pgml_buf_put_u8(out, s->p.compute_labels ? 1 : 0);
	pgml_buf_put_u8(out, s->p.copy ? 1 : 0);
}

/* Loads a Birch state, validating shapes, labels (each cluster used) and hyperparameters. */
static pgml_status
birch_load(pgml_reader *in, void **state, pgml_err *err)
{
	birch_state *s;
	size_t		cells = 0;

	*state = NULL;
	if (!check_header(in, KIND_BIRCH))
		return PGML_ERR_CORRUPT;
	s = pgml_calloc(1, sizeof(birch_state));
	if (s == NULL)
		return out_of_memory(err);
	s->d = get_dim(in, MAX_DIM, "The feature count is out of range");
	s->m = get_dim(in, (size_t) INT32_MAX, "The subcluster count is out of range");
	s->n_labels = get_dim(in, s->m ? s->m : 1, "The cluster count is out of range");
	if (pgml_reader_status(in) == PGML_OK && !pgml_mul_size(s->m, s->d, &cells))
		pgml_reader_fail(in, "The subclusters are too large");
	s->centers = pgml_reader_status(in) == PGML_OK ? get_f64s(in, cells) : NULL;
	s->labels = pgml_reader_status(in) == PGML_OK ? get_u32s(in, s->m, s->n_labels) : NULL;
	s->p.threshold = get_nonneg(in);
	s->p.branching_factor = get_ranged(in, 2, INT64_MAX);
	s->p.n_clusters = get_ranged(in, -1, INT32_MAX);
	s->p.compute_labels = get_flag(in);
	s->p.copy = get_flag(in);
	if (pgml_reader_status(in) == PGML_OK && (s->p.threshold == 0 || s->p.n_clusters == 0))
		pgml_reader_fail(in, "A hyperparameter is out of range");
	if (pgml_reader_status(in) == PGML_OK)
	{
		size_t		expect = s->p.n_clusters < 0 || s->m < (uint64_t) s->p.n_clusters || s->m == 1 ?
			s->m : (size_t) s->p.n_clusters;
		bool	   *used = pgml_calloc(s->n_labels, sizeof(bool));
		size_t		distinct = 0;

		if (used == NULL)
			pgml_reader_fail(in, "Out of memory");
		else
		{
			for (size_t j = 0; j < s->m; j++)
				if (!used[s->labels[j]])
				{
					used[s->labels[j]] = true;
					distinct++;
				}
			pgml_free(used);
			if (s->n_labels != expect || distinct != s->n_labels)
				pgml_reader_fail(in, "The subcluster labels do not match the cluster count");
		}
	}
	if (pgml_reader_status(in) != PGML_OK)
	{
		birch_free(s);
		return PGML_ERR_CORRUPT;
	}
	if (!birch_norms(s))
	{
		birch_free(s);
		return out_of_memory(err);
	}
	*state = s;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Mean shift: distances by blocks of rows
 * ------------------------------------------------------------------------------------------------- */

/*
 * Squared distances from q to rows r0 .. r0 + len - 1 of the data, from its transpose xt (d × n): each
 * summed over the features in order, as a k-d tree sums them. The loop runs over rows innermost, which
 * compilers vectorize.
 */
static inline void
block_sq_dist(const double *restrict xt, size_t n, size_t d, size_t r0, size_t len, const double *restrict q,
			  double *restrict out)
{
	if (len == DIST_BLOCK)
	{
		/* a constant trip count and no aliasing, so that the loops vectorize at -O2 */
		for (size_t j = 0; j < DIST_BLOCK; j++)
			out[j] = 0;
		for (size_t f = 0; f < d; f++)
		{
			const double *restrict col = xt + f * n + r0;
			double		qf = q[f];

			for (size_t j = 0; j < DIST_BLOCK; j++)
			{
				double		t = col[j] - qf;

				out[j] += t * t;
			}
		}
		return;
	}
	for (size_t j = 0; j < len; j++)
		out[j] = 0;
	for (size_t f = 0; f < d; f++)
	{
		const double *col = xt + f * n + r0;
		double		qf = q[f];

		for (size_t j = 0; j < len; j++)
		{
			double		t = col[j] - qf;

			out[j] += t * t;
		}
	}
}

/* Swaps two doubles. */
static inline void
swap_f64(double *a, double *b)
{
	double		t = *a;

	*a = *b;
	*b = t;
}

/* The value of rank k (0-based) among v[0..n) (which it reorders): a deterministic quickselect. */
static double
select_rank(double *v, size_t n, size_t k)
{
	size_t		lo = 0;
	size_t		hi = n - 1;

	while (hi > lo)
	{
		size_t		mid = lo + (hi - lo) / 2;
		double		pivot;
		size_t		i,
					j;

		/* median of three into v[lo] */
		if (v[mid] < v[lo])
			swap_f64(&v[mid], &v[lo]);
		if (v[hi] < v[lo])
			swap_f64(&v[hi], &v[lo]);
		if (v[hi] < v[mid])
			swap_f64(&v[hi], &v[mid]);
		swap_f64(&v[lo], &v[mid]);
		pivot = v[lo];
		/* Hoare partition */
		i = lo;
		j = hi + 1;
		for (;;)
		{
			do
				i++;
			while (i <= hi && v[i] < pivot);
			do
				j--;
			while (v[j] > pivot);
			if (i >= j)
				break;
			swap_f64(&v[i], &v[j]);
		}
		swap_f64(&v[lo], &v[j]);
		if (j == k)
			return v[j];
		if (j < k)
			lo = j + 1;
		else
			hi = j - 1;
	}
	return v[k];
}

/* estimate_bandwidth: each row's distance to its k-th nearest row (itself included). */
typedef struct bandwidth_ctx
{
	const double *x;			/* n × d */
	const double *xt;			/* d × n */
	size_t		n;
	size_t		d;
	size_t		k;
	double	   *scratch;		/* pool size × n */
	double	   *out;			/* n */
} bandwidth_ctx;

/* Work function: rows [begin, end). */
static void
bandwidth_work(void *p, size_t begin, size_t end, int worker)
{
	bandwidth_ctx *c = p;
	double	   *dist = c->scratch + (size_t) worker * c->n;

	for (size_t i = begin; i < end; i++)
	{
		if (pgml_should_stop())
			return;
		for (size_t r0 = 0; r0 < c->n; r0 += DIST_BLOCK)
		{
			size_t		len = c->n - r0 < DIST_BLOCK ? c->n - r0 : DIST_BLOCK;

			block_sq_dist(c->xt, c->n, c->d, r0, len, c->x + i * c->d, dist + r0);
		}
		c->out[i] = sqrt(select_rank(dist, c->n, c->k - 1));
	}
}

/* sklearn's estimate_bandwidth(X) with quantile 0.3 on every row. */
static pgml_status
estimate_bandwidth(pgml_pool *pool, const double *x, const double *xt, size_t n, size_t d, double *out,
				   pgml_err *err)
{
	bandwidth_ctx c;
	size_t		k = (size_t) ((double) n * 0.3);
	pgml_status rc;

	*out = 0;
	c.x = x;
	c.xt = xt;
	c.n = n;
	c.d = d;
	c.k = k < 1 ? 1 : k;
	c.scratch = alloc_array((size_t) pgml_pool_size(pool) * n, sizeof(double));
	c.out = alloc_array(n, sizeof(double));
	if (c.scratch == NULL || c.out == NULL)
		rc = out_of_memory(err);
	else
		rc = pgml_parallel_for(pool, n, 1, bandwidth_work, &c, err);
	if (rc == PGML_OK)
	{
		double		sum = 0;

		for (size_t i = 0; i < n; i++)
			sum += c.out[i];
		*out = sum / (double) n;
	}
	pgml_free(c.scratch);
	pgml_free(c.out);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Mean shift: seeds and iterations
 * ------------------------------------------------------------------------------------------------- */

/* A row and its bin key (x / bin_size rounded half to even), for grouping rows by bin. */
typedef struct bin_row
{
	const double *key;
	size_t		row;
	size_t		d;
} bin_row;

/* Lexicographic order of two rows of d doubles (-0 equals 0). */
static int
cmp_tuple(const double *a, const double *b, size_t d)
{
	for (size_t f = 0; f < d; f++)
	{
		if (a[f] < b[f])
			return -1;
		if (a[f] > b[f])
			return 1;
	}
	return 0;
}

/* qsort order: by key, then row. */
static int
cmp_bin_row(const void *p, const void *q)
{
	const bin_row *a = p;
	const bin_row *b = q;
	int			c = cmp_tuple(a->key, b->key, a->d);

	if (c != 0)
		return c;
	return a->row < b->row ? -1 : a->row > b->row;
}

/* qsort order of size_t. */
static int
cmp_size(const void *p, const void *q)
{
	size_t		a = *(const size_t *) p;
	size_t		b = *(const size_t *) q;

	return a < b ? -1 : a > b;
}

/*
 * sklearn's get_bin_seeds: rows binned by round(x / bin_size) (half to even); the bins holding at least
 * min_bin_freq rows, in order of their first row, become seeds bin × bin_size computed in float32. When
 * every row has a bin of its own the rows themselves are the seeds (*seeds is NULL).
 */
static pgml_status
bin_seeds(const double *x, size_t n, size_t d, double bin_size, int64_t min_bin_freq, double **seeds,
		  size_t *n_seeds, pgml_err *err)
{
	double	   *keys = alloc_array(n * d, sizeof(double));
	bin_row    *rows = alloc_array(n, sizeof(bin_row));
	size_t	   *firsts = alloc_array(n, sizeof(size_t));
	size_t		n_bins = 0;
	double	   *out = NULL;
	pgml_status rc = PGML_OK;

	*seeds = NULL;
	*n_seeds = 0;
	if (keys == NULL || rows == NULL || firsts == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t i = 0; i < n * d; i++)
		keys[i] = nearbyint(x[i] / bin_size);
	for (size_t i = 0; i < n; i++)
	{
		rows[i].key = keys + i * d;
		rows[i].row = i;
		rows[i].d = d;
	}
	qsort(rows, n, sizeof(bin_row), cmp_bin_row);
	for (size_t i = 0; i < n;)
	{
		size_t		j = i + 1;

		while (j < n && cmp_tuple(rows[j].key, rows[i].key, d) == 0)
			j++;
		if ((uint64_t) (j - i) >= (uint64_t) min_bin_freq)
			firsts[n_bins++] = rows[i].row;
		i = j;
	}
	if (n_bins == n)
	{
		pgml_log(PGML_LOG_WARNING, "binning data failed with bin_size=%g; using data points as seeds", bin_size);
		goto done;
	}
	qsort(firsts, n_bins, sizeof(size_t), cmp_size);
	out = alloc_array(n_bins * d, sizeof(double));
	if (out == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t b = 0; b < n_bins; b++)
		for (size_t f = 0; f < d; f++)
			out[b * d + f] = (double) ((float) keys[firsts[b] * d + f] * (float) bin_size);
	*seeds = out;
	*n_seeds = n_bins;

done:
	pgml_free(keys);
	pgml_free(rows);
	pgml_free(firsts);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Mean shift: a k-d tree for the flat kernel's ball queries
 * ------------------------------------------------------------------------------------------------- */

#define KD_LEAF		32			/* rows per leaf, at most */
#define KD_DEPTH	128			/* bound on the depth of the traversal stack (the tree halves rows) */
#define KD_MARGIN	1e-9		/* relative margin of the tests on a node's enclosing ball */

typedef struct kd_node
{
	size_t		start;			/* rows [start, end) of the tree's order */
	size_t		end;
	size_t		left;			/* children; 0 for a leaf (the root is never a child) */
	size_t		right;
} kd_node;

/*
 * Rows in boxes: each node has the bounding box, the mean and the sum of its rows and the largest
 * distance of a row from the mean, so a ball query skips a node entirely outside the ball and takes a
 * node entirely inside it at once. Box distances are computed with the same rounding as a row's
 * distance, and rounding is monotone, so a row's computed distance lies between its node's computed box
 * distances; the tests on the node's mean and radius keep a relative margin (KD_MARGIN) far above
 * rounding errors. A query thus finds exactly the rows a scan of every row finds; only the order in
 * which the rows' values are added differs.
 */
typedef struct kd_tree
{
	size_t		n;
	size_t		d;
	size_t		n_nodes;
	double	   *x;				/* n × d: the rows in tree order */
	kd_node    *nodes;
	double	   *lo;				/* n_nodes × d */
	double	   *hi;				/* n_nodes × d */
	double	   *sum;			/* n_nodes × d */
	double	   *mean;			/* n_nodes × d */
	double	   *radius;			/* n_nodes: the largest distance of a row from the mean */
} kd_tree;

/* Frees the tree's arrays. */
static void
kd_free(kd_tree *t)
{
	pgml_free(t->x);
	pgml_free(t->nodes);
	pgml_free(t->lo);
	pgml_free(t->hi);
	pgml_free(t->sum);
	pgml_free(t->mean);
	pgml_free(t->radius);
	memset(t, 0, sizeof(*t));
}

/* Reorders perm[lo..hi] so that position k holds the row of rank k by feature f (ties by row number). */
static void
kd_select(size_t *perm, size_t lo, size_t hi, size_t k, const double *x, size_t d, size_t f)
{
#define KD_LESS(a, b) (x[(a) * d + f] < x[(b) * d + f] || (x[(a) * d + f] == x[(b) * d + f] && (a) < (b)))
	while (hi > lo)
	{
		size_t		mid = lo + (hi - lo) / 2;
		size_t		pivot,
					i,
					j,
					t;

		/* median of three to perm[lo] */
		if (KD_LESS(perm[mid], perm[lo]))
		{
			t = perm[mid];
			perm[mid] = perm[lo];
			perm[lo] = t;
		}
		if (KD_LESS(perm[hi], perm[lo]))
		{
			t = perm[hi];
			perm[hi] = perm[lo];
			perm[lo] = t;
		}
		if (KD_LESS(perm[hi], perm[mid]))
		{
			t = perm[hi];
			perm[hi] = perm[mid];
			perm[mid] = t;
		}
		t = perm[lo];
		perm[lo] = perm[mid];
		perm[mid] = t;
		pivot = perm[lo];
		i = lo;
		j = hi + 1;
		for (;;)
		{
			do
				i++;
			while (i <= hi && KD_LESS(perm[i], pivot));
			do
				j--;
			while (KD_LESS(pivot, perm[j]));
			if (i >= j)
				break;
			t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		perm[lo] = perm[j];
		perm[j] = pivot;
		if (j == k)
			return;
		if (j < k)
			lo = j + 1;
		else
			hi = j - 1;
	}
#undef KD_LESS
}

/* Builds the tree over the n rows of x: nodes split at the median of their widest feature. */
static pgml_status
kd_build(kd_tree *t, const double *x, size_t n, size_t d, pgml_err *err)
{
	size_t		max_nodes = 2 * (n / (KD_LEAF / 2)) + 2;	/* leaves hold at least KD_LEAF / 2 rows */
	size_t	   *perm = alloc_array(n, sizeof(size_t));
	size_t	   *stack = alloc_array(max_nodes, sizeof(size_t));
	size_t		sp = 0;
	pgml_status rc = PGML_OK;

	memset(t, 0, sizeof(*t));
	t->n = n;
	t->d = d;
	t->x = alloc_array(n * d, sizeof(double));
	t->nodes = alloc_array(max_nodes, sizeof(kd_node));
	t->lo = alloc_array(max_nodes * d, sizeof(double));
	t->hi = alloc_array(max_nodes * d, sizeof(double));
	t->sum = alloc_array(max_nodes * d, sizeof(double));
	t->mean = alloc_array(max_nodes * d, sizeof(double));
	t->radius = alloc_array(max_nodes, sizeof(double));
	if (!perm || !stack || !t->x || !t->nodes || !t->lo || !t->hi || !t->sum || !t->mean || !t->radius)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	t->nodes[0].start = 0;
	t->nodes[0].end = n;
	t->n_nodes = 1;
	stack[sp++] = 0;
	while (sp > 0)
	{
		size_t		id = stack[--sp];
		kd_node    *node = &t->nodes[id];
		double	   *lo = t->lo + id * d;
		double	   *hi = t->hi + id * d;
		size_t		widest = 0;

		node->left = node->right = 0;
		for (size_t f = 0; f < d; f++)
		{
			lo[f] = INFINITY;
			hi[f] = -INFINITY;
		}
		for (size_t i = node->start; i < node->end; i++)
			for (size_t f = 0; f < d; f++)
			{
				double		v = x[perm[i] * d + f];

				lo[f] = v < lo[f] ? v : lo[f];
				hi[f] = v > hi[f] ? v : hi[f];
			}
		if (node->end - node->start <= KD_LEAF)
			continue;
		for (size_t f = 1; f < d; f++)
			if (hi[f] - lo[f] > hi[widest] - lo[widest])
				widest = f;
		{
			size_t		mid = node->start + (node->end - node->start) / 2;
			size_t		l = t->n_nodes;
			size_t		r = l + 1;

			kd_select(perm, node->start, node->end - 1, mid, x, d, widest);
			t->n_nodes += 2;
			t->nodes[l].start = node->start;
			t->nodes[l].end = mid;
			t->nodes[r].start = mid;
			t->nodes[r].end = node->end;
			node->left = l;
			node->right = r;
			stack[sp++] = r;
			stack[sp++] = l;
		}
	}
	for (size_t i = 0; i < n; i++)
		memcpy(t->x + i * d, x + perm[i] * d, d * sizeof(double));
	/* sums, children before parents (children always have larger ids) */
	for (size_t id = t->n_nodes; id-- > 0;)
	{
		kd_node    *node = &t->nodes[id];
		double	   *sum = t->sum + id * d;

		if (node->left == 0)
		{
			memset(sum, 0, d * sizeof(double));
			for (size_t i = node->start; i < node->end; i++)
				for (size_t f = 0; f < d; f++)
					sum[f] += t->x[i * d + f];
		}
		else
			for (size_t f = 0; f < d; f++)
				sum[f] = t->sum[node->left * d + f] + t->sum[node->right * d + f];
	}
	/* enclosing balls */
	for (size_t id = 0; id < t->n_nodes; id++)
	{
		const kd_node *node = &t->nodes[id];
		double	   *mean = t->mean + id * d;
		double		r2 = 0;

		for (size_t f = 0; f < d; f++)
			mean[f] = t->sum[id * d + f] / (double) (node->end - node->start);
		for (size_t i = node->start; i < node->end; i++)
		{
			double		v = sq_dist(t->x + i * d, mean, d);

			r2 = v > r2 ? v : r2;
		}
		t->radius[id] = sqrt(r2);
	}

done:
	pgml_free(perm);
	pgml_free(stack);
	if (rc != PGML_OK)
		kd_free(t);
	return rc;
}

/*
 * Adds the rows of x (m × d) within sqrt(r2) of q to sum and returns their count. Four rows at a time,
 * so that their sums run side by side; each still adds its features in order, as sq_dist does.
 */
static int64_t
kd_scan(const double *x, size_t m, size_t d, const double *q, double r2, double *sum)
{
	int64_t		count = 0;
	size_t		i = 0;

	for (; i + 4 <= m; i += 4)
	{
		const double *x0 = x + i * d;
		const double *x1 = x0 + d;
		const double *x2 = x1 + d;
		const double *x3 = x2 + d;
		double		s0 = 0,
					s1 = 0,
					s2 = 0,
					s3 = 0;
		const double *rows[4] = {x0, x1, x2, x3};
		double		dist[4];

		for (size_t f = 0; f < d; f++)
		{
			double		t0 = x0[f] - q[f],
						t1 = x1[f] - q[f],
						t2 = x2[f] - q[f],
						t3 = x3[f] - q[f];

			s0 += t0 * t0;
			s1 += t1 * t1;
			s2 += t2 * t2;
			s3 += t3 * t3;
		}
		dist[0] = s0;
		dist[1] = s1;
		dist[2] = s2;
		dist[3] = s3;
		for (int j = 0; j < 4; j++)
			if (dist[j] <= r2)
			{
				for (size_t f = 0; f < d; f++)
					sum[f] += rows[j][f];
				count++;
			}
	}
	for (; i < m; i++)
	{
		const double *row = x + i * d;

		if (sq_dist(row, q, d) <= r2)
		{
			for (size_t f = 0; f < d; f++)
				sum[f] += row[f];
			count++;
		}
	}
	return count;
}

/* Adds the rows within r of q (r2 = r * r) to sum (d) and returns their count. */
static int64_t
kd_ball(const kd_tree *t, const double *q, double r, double r2, double *sum)
{
	size_t		d = t->d;
	size_t		stack[KD_DEPTH];
	size_t		sp = 0;
	int64_t		count = 0;

	stack[sp++] = 0;
	while (sp > 0)
	{
		size_t		id = stack[--sp];
		const kd_node *node = &t->nodes[id];
		const double *lo = t->lo + id * d;
		const double *hi = t->hi + id * d;
		double		near = 0;
		double		far = 0;
		double		dc = sqrt(sq_dist(q, t->mean + id * d, d));
		double		rad = t->radius[id];

		/* the enclosing ball first: entirely outside, or entirely inside */
		if (dc - rad > r * (1 + KD_MARGIN))
			continue;
		if ((dc + rad) * (1 + KD_MARGIN) <= r)
		{
			const double *s = t->sum + id * d;

			for (size_t f = 0; f < d; f++)
				sum[f] += s[f];
			count += (int64_t) (node->end - node->start);
			continue;
		}
		for (size_t f = 0; f < d; f++)
		{
			double		a = lo[f] - q[f];
			double		b = q[f] - hi[f];
			double		gap = a > 0 ? a : b > 0 ? b : 0;
			double		wa = q[f] - lo[f];
			double		wb = hi[f] - q[f];
			double		reach = wa > wb ? wa : wb;

			near += gap * gap;
			far += reach * reach;
		}
		if (near > r2)
			continue;
		if (far <= r2)
		{
			const double *s = t->sum + id * d;

			for (size_t f = 0; f < d; f++)
				sum[f] += s[f];
			count += (int64_t) (node->end - node->start);
			continue;
		}
		if (node->left != 0)
		{
			stack[sp++] = node->right;
			stack[sp++] = node->left;
			continue;
		}
		count += kd_scan(t->x + node->start * d, node->end - node->start, d, q, r2, sum);
	}
	return count;
}

/* The flat-kernel iterations of every seed. */
typedef struct shift_ctx
{
	const kd_tree *tree;
	size_t		d;
	const double *seeds;		/* n_seeds × d */
	double		bw;				/* bandwidth */
	double		bw2;			/* bandwidth² */
	double		stop;			/* bandwidth / 1000 */
	int64_t		max_iter;
	double	   *scratch;		/* pool size × 2 d */
	double	   *means;			/* n_seeds × d */
	int64_t    *counts;			/* rows within the final ball (0: the seed's ball was empty) */
	int64_t    *iters;
} shift_ctx;

/* Work function: seeds [begin, end), as sklearn's _mean_shift_single_seed. */
static void
shift_work(void *p, size_t begin, size_t end, int worker)
{
	shift_ctx  *c = p;
	size_t		d = c->d;
	double	   *sum = c->scratch + (size_t) worker * 2 * d;
	double	   *old = sum + d;

	for (size_t s = begin; s < end; s++)
	{
		double	   *mean = c->means + s * d;
		int64_t		completed = 0;
		int64_t		count = 0;

		memcpy(mean, c->seeds + s * d, d * sizeof(double));
		for (;;)
		{
			int64_t		within;
			double		moved = 0;
			bool		same = true;

			if (pgml_should_stop())
				return;
			memset(sum, 0, d * sizeof(double));
			within = kd_ball(c->tree, mean, c->bw, c->bw2, sum);
			count = within;
			if (within == 0)
				break;
			memcpy(old, mean, d * sizeof(double));
			for (size_t f = 0; f < d; f++)
			{
				double		t;

				mean[f] = sum[f] / (double) within;
				t = mean[f] - old[f];
				moved += t * t;
				same &= mean[f] == old[f];
			}
			if (sqrt(moved) < c->stop || completed == c->max_iter)
				break;
			if (same)
			{
				/* a fixed point: every further iteration gives the same mean and ball */
				completed = c->max_iter;
				break;
			}
			completed++;
		}
		c->counts[s] = count;
		c->iters[s] = completed;
	}
}

/* A mode found from some seed. */
typedef struct mode
{
	const double *mean;
	size_t		seed;
	int64_t		count;
	size_t		d;
} mode;

/* qsort order: by mean, then seed. */
static int
cmp_mode_mean(const void *p, const void *q)
{
	const mode *a = p;
	const mode *b = q;
	int			c = cmp_tuple(a->mean, b->mean, a->d);

	if (c != 0)
		return c;
	return a->seed < b->seed ? -1 : a->seed > b->seed;
}

/* qsort order: by count, then mean, both descending (sklearn's sort by (intensity, center), reversed). */
static int
cmp_mode_strength(const void *p, const void *q)
{
	const mode *a = p;
	const mode *b = q;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return -cmp_tuple(a->mean, b->mean, a->d);
}

/* Marks as not unique every mode within bandwidth of the mode at `of` (used for large mode counts). */
typedef struct suppress_ctx
{
	const mode *modes;
	size_t		d;
	size_t		of;
	double		bw2;
	bool	   *unique;
} suppress_ctx;

/* Work function: modes [begin, end). */
static void
suppress_work(void *p, size_t begin, size_t end, int worker)
{
	suppress_ctx *c = p;
	const double *ref = c->modes[c->of].mean;

	(void) worker;
	for (size_t j = begin; j < end; j++)
		if (sq_dist(ref, c->modes[j].mean, c->d) <= c->bw2)
			c->unique[j] = false;
}

/*
 * From the seeds' results to the cluster centers: identical means merge (keeping the count of the last
 * seed, as a Python dict does), modes are ordered by count and then mean, descending, and each mode
 * still unique removes the others within bandwidth.
 */
static pgml_status
select_modes(pgml_pool *pool, const shift_ctx *c, size_t n_seeds, double bw, double **centers, size_t *k,
			 pgml_err *err)
{
	size_t		d = c->d;
	mode	   *modes = alloc_array(n_seeds, sizeof(mode));
	bool	   *unique = alloc_array(n_seeds, sizeof(bool));
	size_t		n_modes = 0;
	size_t		n_distinct = 0;
	size_t		kept = 0;
	double	   *out = NULL;
	pgml_status rc = PGML_OK;

	*centers = NULL;
	*k = 0;
	if (modes == NULL || unique == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t s = 0; s < n_seeds; s++)
		if (c->counts[s] > 0)
		{
			modes[n_modes].mean = c->means + s * d;
			modes[n_modes].seed = s;
			modes[n_modes].count = c->counts[s];
			modes[n_modes].d = d;
			n_modes++;
		}
	if (n_modes == 0)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no point was within bandwidth=%g of any seed", bw);
		pgml_err_hint(err, "Try a different seeding strategy or increase the bandwidth.");
		rc = PGML_ERR_INVALID_ARGUMENT;
		goto done;
	}
	qsort(modes, n_modes, sizeof(mode), cmp_mode_mean);
	for (size_t i = 0; i < n_modes;)
	{
		size_t		j = i + 1;

		while (j < n_modes && cmp_tuple(modes[j].mean, modes[i].mean, d) == 0)
			j++;
		modes[n_distinct] = modes[i];
		modes[n_distinct].count = modes[j - 1].count;
		n_distinct++;
		i = j;
	}
	qsort(modes, n_distinct, sizeof(mode), cmp_mode_strength);
	for (size_t i = 0; i < n_distinct; i++)
		unique[i] = true;
	for (size_t i = 0; i < n_distinct; i++)
	{
		if (!unique[i])
			continue;
		if (pool != NULL && n_distinct >= 4096)
		{
			suppress_ctx sc = {modes, d, i, c->bw2, unique};

			if ((rc = pgml_parallel_for(pool, n_distinct, 256, suppress_work, &sc, err)) != PGML_OK)
				goto done;
		}
		else
		{
			if (i % 64 == 0 && (rc = pgml_check_stop(err)) != PGML_OK)
				goto done;
			for (size_t j = 0; j < n_distinct; j++)
				if (sq_dist(modes[i].mean, modes[j].mean, d) <= c->bw2)
					unique[j] = false;
		}
		unique[i] = true;
	}
	for (size_t i = 0; i < n_distinct; i++)
		kept += unique[i];
	out = alloc_array(kept * d, sizeof(double));
	if (out == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t i = 0, j = 0; i < n_distinct; i++)
		if (unique[i])
			memcpy(out + (j++) * d, modes[i].mean, d * sizeof(double));
	*centers = out;
	*k = kept;

done:
	pgml_free(modes);
	pgml_free(unique);
	return rc;
}

/* ---------------------------------------------------------------------------------------------------
 * Mean shift: fit, predict, params, save, load
 * ------------------------------------------------------------------------------------------------- */

static const char *const mean_shift_param_names[] = {
	"bandwidth", "seeds", "bin_seeding", "min_bin_freq", "cluster_all", "n_jobs", "max_iter", NULL
};

typedef struct mean_shift_params
{
	double		bandwidth;		/* -1: null (estimated) */
	double	   *seeds;			/* n_seeds × d, or NULL: null */
	size_t		n_seeds;
	bool		bin_seeding;
	int64_t		min_bin_freq;
	bool		cluster_all;
	bool		has_n_jobs;
	int64_t		n_jobs;
	int64_t		max_iter;
} mean_shift_params;

typedef struct mean_shift_state
{
	size_t		d;
	size_t		k;
	double	   *centers;		/* k × d */
	double		bandwidth;		/* the bandwidth used */
	int64_t		n_iter;
	mean_shift_params p;
} mean_shift_state;

/* Frees a mean shift state (NULL is fine). */
static void
mean_shift_free(void *p)
{
	mean_shift_state *s = p;

	if (s == NULL)
		return;
	pgml_free(s->centers);
	pgml_free(s->p.seeds);
	pgml_free(s);
}

/* Reads the mean shift hyperparameters (seeds need the feature count d). */
static pgml_status
mean_shift_get_params(const json_t *hp, size_t d, mean_shift_params *p, pgml_err *err)
{
	const json_t *v;
	pgml_status rc;

	memset(p, 0, sizeof(*p));
	p->bandwidth = -1;
	if ((v = given(hp, "bandwidth")) != NULL &&
		(rc = get_positive(hp, "bandwidth", 0, &p->bandwidth, err)) != PGML_OK)
		return rc;
	if ((rc = pgml_json_get_bool(hp, "bin_seeding", false, &p->bin_seeding, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "min_bin_freq", 1, 1, INT64_MAX, &p->min_bin_freq, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "cluster_all", true, &p->cluster_all, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "max_iter", 300, 0, INT32_MAX, &p->max_iter, err)) != PGML_OK)
		return rc;
	if (given(hp, "n_jobs") != NULL)
	{
		if ((rc = pgml_json_get_int(hp, "n_jobs", 0, INT32_MIN, INT32_MAX, &p->n_jobs, err)) != PGML_OK)
			return rc;
		p->has_n_jobs = true;
	}
	if ((v = given(hp, "seeds")) != NULL)
		return get_matrix(v, "seeds", d, MAX_SEEDS, &p->seeds, &p->n_seeds, err);
	return PGML_OK;
}

/* Fits MeanShift. */
static pgml_status
mean_shift_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	mean_shift_params p;
	mean_shift_state *st = NULL;
	shift_ctx	c;
	kd_tree		tree;
	double	   *x = NULL;
	double	   *xt = NULL;
	double	   *binned = NULL;
	const double *seeds;
	size_t		n_seeds;
	size_t		n,
				d;
	double		bw;
	pgml_status rc;

	*state = NULL;
	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	memset(&tree, 0, sizeof(tree));
	rc = check_fit(args, train, PGML_TASK_CLUSTERING, "mean_shift", mean_shift_param_names, err);
	if (rc != PGML_OK)
		return rc;
	n = train->n_rows;
	d = train->n_features;
	if ((rc = mean_shift_get_params(args->hyperparams, d, &p, err)) != PGML_OK)
		goto done;
	if ((rc = to_double(train->x, n, d, &x, err)) != PGML_OK)
		goto done;
	bw = p.bandwidth;
	if (bw < 0)
	{
		xt = alloc_array(n * d, sizeof(double));
		if (xt == NULL)
		{
			rc = out_of_memory(err);
			goto done;
		}
		for (size_t i = 0; i < n; i++)
			for (size_t f = 0; f < d; f++)
				xt[f * n + i] = x[i * d + f];
		if ((rc = estimate_bandwidth(args->pool, x, xt, n, d, &bw, err)) != PGML_OK)
			goto done;
		pgml_log(PGML_LOG_DEBUG, "mean_shift: estimated bandwidth %.17g", bw);
	}

	seeds = x;
	n_seeds = n;
	if (p.seeds != NULL)
	{
		seeds = p.seeds;
		n_seeds = p.n_seeds;
	}
	else if (p.bin_seeding && bw > 0)
	{
		if ((rc = bin_seeds(x, n, d, bw, p.min_bin_freq, &binned, &n_seeds, err)) != PGML_OK)
			goto done;
		if (binned != NULL)
			seeds = binned;
		else
			n_seeds = n;
	}

	if ((rc = kd_build(&tree, x, n, d, err)) != PGML_OK)
		goto done;
	c.tree = &tree;
	c.d = d;
	c.seeds = seeds;
	c.bw = bw;
	c.bw2 = bw * bw;
	c.stop = 1e-3 * bw;
	c.max_iter = p.max_iter;
	c.scratch = alloc_array((size_t) pgml_pool_size(args->pool) * 2 * d, sizeof(double));
	c.means = alloc_array(n_seeds * d, sizeof(double));
	c.counts = alloc_array(n_seeds, sizeof(int64_t));
	c.iters = alloc_array(n_seeds, sizeof(int64_t));
	st = pgml_calloc(1, sizeof(mean_shift_state));
	if (c.scratch == NULL || c.means == NULL || c.counts == NULL || c.iters == NULL || st == NULL)
	{
		rc = out_of_memory(err);
		goto done;
	}
	if ((rc = pgml_parallel_for(args->pool, n_seeds, 1, shift_work, &c, err)) != PGML_OK)
		goto done;
	for (size_t s = 0; s < n_seeds; s++)
		if (c.iters[s] > st->n_iter)
			st->n_iter = c.iters[s];
	if ((rc = select_modes(args->pool, &c, n_seeds, bw, &st->centers, &st->k, err)) != PGML_OK)
		goto done;
	st->d = d;
	st->bandwidth = bw;
	st->p = p;
	p.seeds = NULL;
	*state = st;
	st = NULL;

done:
	mean_shift_free(st);
	pgml_free(p.seeds);
	pgml_free(x);
	pgml_free(xt);
	pgml_free(binned);
	kd_free(&tree);
	pgml_free(c.scratch);
	pgml_free(c.means);
	pgml_free(c.counts);
	pgml_free(c.iters);
	return rc;
}

/* Writes the index of the nearest center of each row (sklearn's MeanShift.predict). */
static pgml_status
mean_shift_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out,
				   pgml_err *err)
{
	const mean_shift_state *s = state;
	pgml_status rc = check_predict(state, x, n_rows, n_features, s ? s->d : 0, out, err);

	if (rc != PGML_OK)
		return rc;
	return predict_nearest(s->centers, s->k, s->d, x, n_rows, out, err);
}

/* The effective hyperparameters, with sklearn's names, as a new JSON object. */
static json_t *
mean_shift_params_json(const void *state)
{
	const mean_shift_state *s = state;
	const mean_shift_params *p;
	json_t	   *o;

	if (s == NULL || (o = json_object()) == NULL)
		return NULL;
	p = &s->p;
	if (!jset(o, "bandwidth", p->bandwidth > 0 ? json_real(p->bandwidth) : json_null()) ||
		!jset(o, "seeds", p->seeds != NULL ? matrix_to_json(p->seeds, p->n_seeds, s->d) : json_null()) ||
		!jset(o, "bin_seeding", json_boolean(p->bin_seeding)) ||
		!jset(o, "min_bin_freq", json_integer(p->min_bin_freq)) ||
		!jset(o, "cluster_all", json_boolean(p->cluster_all)) ||
		!jset(o, "n_jobs", p->has_n_jobs ? json_integer(p->n_jobs) : json_null()) ||
		!jset(o, "max_iter", json_integer(p->max_iter)))
	{
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Writes a mean shift state: shape, centers, bandwidth, iterations and the hyperparameters. */
static void
mean_shift_save(const void *state, pgml_buf *out)
{
	const mean_shift_state *s = state;
	const mean_shift_params *p = &s->p;

	pgml_buf_put_u32(out, STATE_VERSION);
	pgml_buf_put_u8(out, KIND_MEAN_SHIFT);
	pgml_buf_put_u64(out, s->d);
	pgml_buf_put_u64(out, s->k);
	pgml_buf_put_f64s(out, s->centers, s->k * s->d);
	pgml_buf_put_f64(out, s->bandwidth);
	pgml_buf_put_i64(out, s->n_iter);
	pgml_buf_put_f64(out, p->bandwidth);
	pgml_buf_put_u64(out, p->n_seeds);
	if (p->n_seeds > 0)
		pgml_buf_put_f64s(out, p->seeds, p->n_seeds * s->d);
	pgml_buf_put_u8(out, p->bin_seeding ? 1 : 0);
	pgml_buf_put_i64(out, p->min_bin_freq);
	pgml_buf_put_u8(out, p->cluster_all ? 1 : 0);
	pgml_buf_put_u8(out, p->has_n_jobs ? 1 : 0);
	pgml_buf_put_i64(out, p->n_jobs);
	pgml_buf_put_i64(out, p->max_iter);
}

/* Loads a mean shift state, validating shapes and values. */
static pgml_status
mean_shift_load(pgml_reader *in, void **state, pgml_err *err)
{
	mean_shift_state *s;
	mean_shift_params *p;
	size_t		cells = 0;
	uint64_t	n_seeds;

	*state = NULL;
	if (!check_header(in, KIND_MEAN_SHIFT))
		return PGML_ERR_CORRUPT;
	s = pgml_calloc(1, sizeof(mean_shift_state));
	if (s == NULL)
		return out_of_memory(err);
	p = &s->p;
	s->d = get_dim(in, MAX_DIM, "The feature count is out of range");
	s->k = get_dim(in, MAX_SEEDS, "The cluster count is out of range");
	if (pgml_reader_status(in) == PGML_OK && !pgml_mul_size(s->k, s->d, &cells))
		pgml_reader_fail(in, "The centers are too large");
	s->centers = pgml_reader_status(in) == PGML_OK ? get_f64s(in, cells) : NULL;
	s->bandwidth = get_nonneg(in);
	s->n_iter = get_ranged(in, 0, INT32_MAX);
	p->bandwidth = pgml_reader_f64(in);
	if (pgml_reader_status(in) == PGML_OK && !(p->bandwidth == -1 || (isfinite(p->bandwidth) && p->bandwidth > 0)))
		pgml_reader_fail(in, "A hyperparameter is out of range");
	n_seeds = pgml_reader_u64(in);
	if (pgml_reader_status(in) == PGML_OK && n_seeds > 0)
	{
		if (n_seeds > MAX_SEEDS || !pgml_mul_size((size_t) n_seeds, s->d, &cells))
			pgml_reader_fail(in, "The seeds are too large");
		else
		{
			p->seeds = get_f64s(in, cells);
			p->n_seeds = (size_t) n_seeds;
		}
	}
	p->bin_seeding = get_flag(in);
	p->min_bin_freq = get_ranged(in, 1, INT64_MAX);
	p->cluster_all = get_flag(in);
	p->has_n_jobs = get_flag(in);
	p->n_jobs = get_ranged(in, INT32_MIN, INT32_MAX);
	p->max_iter = get_ranged(in, 0, INT32_MAX);
	if (pgml_reader_status(in) != PGML_OK)
	{
		mean_shift_free(s);
		return PGML_ERR_CORRUPT;
	}
	*state = s;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Affinity propagation
 * ------------------------------------------------------------------------------------------------- */

static const char *const affinity_param_names[] = {
	"damping", "max_iter", "convergence_iter", "copy", "preference", "affinity", "verbose", "random_state",
	NULL
};

static const char *const affinity_choices[] = {"euclidean", "precomputed", NULL};

typedef enum pref_kind
{
	PREF_MEDIAN = 0,			/* null: the median similarity */
	PREF_SCALAR = 1,
	PREF_ARRAY = 2,				/* one per training row */
} pref_kind;

typedef struct affinity_params
{
	double		damping;
	int64_t		max_iter;
	int64_t		convergence_iter;
	bool		copy;
	pref_kind	pref;
	double		pref_value;		/* PREF_SCALAR */
	double	   *prefs;			/* PREF_ARRAY: n_train values */
	int64_t		verbose;
	int64_t		random_state;	/* -1: null */
} affinity_params;

typedef struct affinity_state
{
	size_t		d;
	size_t		n_train;
	size_t		k;				/* exemplars; 0 when none emerged */
	double	   *centers;		/* k × d: the exemplar rows */
	int64_t    *exemplars;		/* k: their training row numbers, ascending */
	int64_t		n_iter;
	bool		converged;
	affinity_params p;
} affinity_state;

/* Frees an affinity propagation state (NULL is fine). */
static void
affinity_free(void *p)
{
	affinity_state *s = p;

	if (s == NULL)
		return;
	pgml_free(s->centers);
	pgml_free(s->exemplars);
	pgml_free(s->p.prefs);
	pgml_free(s);
}

/* The matrices of a fit and what the parallel passes share. */
typedef struct ap_ctx
{
	const double *x;			/* n × d */
	size_t		n;
	size_t		d;
	double	   *s;				/* n × n similarities */
	double	   *a;				/* n × n availabilities */
	double	   *r;				/* n × n responsibilities */
	double	   *partial;		/* n_blocks × n: column sums of max(R, 0) over each block of AP_BLOCK rows */
	double	   *colsum;			/* n: their total */
	bool	   *e;				/* n: A + R > 0 on the diagonal, after an iteration */
	double		damping;
	uint64_t	seed;
	bool		availability;	/* a pass updates the availabilities first */
	bool		responsibility; /* a pass updates the responsibilities (and their column sums) */
} ap_ctx;

#define AP_BLOCK	32			/* rows per block of the message passes */

/*
 * Work function: rows [begin, end) of S = -||x_i - x_j||² from the Gram matrix already in S, as
 * sklearn's euclidean_distances computes it: -max(0, (-2 x_i·x_j + ||x_i||²) + ||x_j||²), 0 on the
 * diagonal.
 */
static void
ap_similarity_work(void *p, size_t begin, size_t end, int worker)
{
	ap_ctx	   *c = p;

	(void) worker;
	for (size_t i = begin; i < end; i++)
	{
		double	   *row = c->s + i * c->n;
		double		ni = c->colsum[i];

		for (size_t j = 0; j < c->n; j++)
		{
			double		v = -2.0 * row[j] + ni;

			v += c->colsum[j];
			row[j] = v > 0 ? -v : 0;
		}
		row[i] = 0;
	}
}

/*
 * Work function: rows [begin, end) of S += (eps S + 100 tiny) z, z of mean 0 and variance 1 (the sum of
 * four uniform 16-bit variates, centered and scaled), from a generator seeded by the seed and the row.
 */
static void
ap_noise_work(void *p, size_t begin, size_t end, int worker)
{
	ap_ctx	   *c = p;
	const double scale = sqrt(3.0) / 65536.0;

	(void) worker;
	for (size_t i = begin; i < end; i++)
	{
		double	   *row = c->s + i * c->n;
		rng			r;

		rng_seed(&r, c->seed ^ ((uint64_t) i * UINT64_C(0xd1b54a32d192ed03)));
		for (size_t j = 0; j < c->n; j++)
		{
			uint64_t	bits = rng_next(&r);
			double		u = (double) (bits & 0xffff) + (double) ((bits >> 16) & 0xffff) +
				(double) ((bits >> 32) & 0xffff) + (double) (bits >> 48);
			double		z = (u + 2.0 - 2.0 * 65536.0) * scale;

			row[j] += (DBL_EPSILON * row[j] + DBL_MIN * 100) * z;
		}
	}
}

/*
 * The availability update of columns [k0, k1) of row i, off the diagonal: a = damping a - (1 - damping)
 * max(0, max(0, r) - colsum). Tracks the largest and second largest a + s (the first largest's column in
 * *at) for the responsibility update.
 */
static inline void
ap_avail_span(double *a, const double *r, const double *s, const double *colsum, size_t k0, size_t k1,
			  double damping, double keep, double *y1, double *y2, size_t *at)
{
	for (size_t k = k0; k < k1; k++)
	{
		double		t = (r[k] > 0 ? r[k] : 0) - colsum[k];
		double		v;

		t = t > 0 ? t : 0;
		a[k] = a[k] * damping - t * keep;
		v = a[k] + s[k];
		if (v > *y1)
		{
			*y2 = *y1;
			*y1 = v;
			*at = k;
		}
		else if (v > *y2)
			*y2 = v;
	}
}

/* The largest and second largest a + s over columns [k0, k1) (without an availability update). */
static inline void
ap_top2_span(const double *a, const double *s, size_t k0, size_t k1, double *y1, double *y2, size_t *at)
{
	for (size_t k = k0; k < k1; k++)
	{
		double		v = a[k] + s[k];

		if (v > *y1)
		{
			*y2 = *y1;
			*y1 = v;
			*at = k;
		}
		else if (v > *y2)
			*y2 = v;
	}
}

/*
 * Work function: row blocks [begin, end) of one message-passing step. Per row, as sklearn's iteration
 * (value for value, except that column sums are added block by block):
 *
 *   availability  a_ik = damping a_ik - (1 - damping) max(0, max(0, r_ik) - colsum_k)   (i != k)
 *                 a_kk = damping a_kk - (1 - damping) (r_kk - colsum_k)
 *   e_i           a_ii + r_ii > 0
 *   responsibility r_ik = damping r_ik + (1 - damping) (s_ik - max_{k' != k} (a_ik' + s_ik'))
 *
 * and the block's column sums of max(0, r) (r's own value on the diagonal) for the next availability
 * update. One pass over each row: the matrices are read and written once per iteration.
 */
static void
ap_pass_work(void *p, size_t begin, size_t end, int worker)
{
	ap_ctx	   *c = p;
	size_t		n = c->n;
	double		damping = c->damping;
	double		keep = 1 - damping;

	(void) worker;
	for (size_t b = begin; b < end; b++)
	{
		size_t		i0 = b * AP_BLOCK;
		size_t		i1 = n - i0 < AP_BLOCK ? n : i0 + AP_BLOCK;
		double	   *part = c->partial + b * n;

		if (pgml_should_stop())
			return;
		for (size_t i = i0; i < i1; i++)
		{
			const double *s = c->s + i * n;
			double	   *a = c->a + i * n;
			double	   *r = c->r + i * n;
			double		y1 = -INFINITY;
			double		y2 = -INFINITY;
			size_t		at = 0;

			if (c->availability)
			{
				double		ai = a[i] * damping - (r[i] - c->colsum[i]) * keep;

				ap_avail_span(a, r, s, c->colsum, 0, i, damping, keep, &y1, &y2, &at);
				a[i] = ai;
				ap_top2_span(a, s, i, i + 1, &y1, &y2, &at);
				ap_avail_span(a, r, s, c->colsum, i + 1, n, damping, keep, &y1, &y2, &at);
				c->e[i] = a[i] + r[i] > 0;
			}
			else
				ap_top2_span(a, s, 0, n, &y1, &y2, &at);
			if (!c->responsibility)
				continue;
			for (size_t k = 0; k < n; k++)
				r[k] = r[k] * damping + (s[k] - (k == at ? y2 : y1)) * keep;
			if (i == i0)
			{
				for (size_t k = 0; k < n; k++)
					part[k] = r[k] > 0 ? r[k] : 0;
			}
			else
				for (size_t k = 0; k < n; k++)
					part[k] += r[k] > 0 ? r[k] : 0;
			/* the diagonal counts with its own sign */
			part[i] += r[i] - (r[i] > 0 ? r[i] : 0);
		}
	}
}

/* Work function: column chunks [begin, end) of colsum = the blocks' partial sums, in block order. */
static void
ap_reduce_work(void *p, size_t begin, size_t end, int worker)
{
	ap_ctx	   *c = p;
	size_t		n = c->n;
	size_t		k0 = begin * 256;
	size_t		k1 = end * 256 < n ? end * 256 : n;
	size_t		n_blocks = (n + AP_BLOCK - 1) / AP_BLOCK;

	(void) worker;
	memcpy(c->colsum + k0, c->partial + k0, (k1 - k0) * sizeof(double));
	for (size_t b = 1; b < n_blocks; b++)
	{
		const double *part = c->partial + b * n;

		for (size_t k = k0; k < k1; k++)
			c->colsum[k] += part[k];
	}
}

/* The median of the n × n values of S (numpy's: the mean of the two middle values for an even count). */
static double
similarity_median(const double *s, size_t n, double *scratch)
{
	size_t		total = n * n;
	double		hi;

	memcpy(scratch, s, total * sizeof(double));
	hi = select_rank(scratch, total, total / 2);
	if (total % 2 == 1)
		return hi;
	/* the largest value below rank total / 2: the quickselect left the values of lower rank in front */
	{
		double		lo = scratch[0];

		for (size_t i = 1; i < total / 2; i++)
			lo = scratch[i] > lo ? scratch[i] : lo;
		return (lo + hi) / 2;
	}
}

/* Reads the preference hyperparameter: null, a number, or one number per training row. */
static pgml_status
get_preference(const json_t *hp, size_t n, affinity_params *p, pgml_err *err)
{
	const json_t *v = given(hp, "preference");

	p->pref = PREF_MEDIAN;
	if (v == NULL)
		return PGML_OK;
	if (json_is_number(v))
	{
		p->pref = PREF_SCALAR;
		p->pref_value = json_number_value(v);
		return PGML_OK;
	}
	if (!json_is_array(v))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"preference\" must be a number or an array, not %s",
						  pgml_json_type_name(v));
	if (json_array_size(v) != n)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "the length of \"preference\" does not match the data");
		pgml_err_detail(err, "\"preference\" has %zu values; it needs one per training row (%zu).",
						json_array_size(v), n);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	p->prefs = alloc_array(n, sizeof(double));
	if (p->prefs == NULL)
		return out_of_memory(err);
	for (size_t i = 0; i < n; i++)
	{
		const json_t *e = json_array_get(v, i);

		if (!json_is_number(e) || !isfinite(json_number_value(e)))
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"preference\" must hold finite numbers");
		p->prefs[i] = json_number_value(e);
	}
	p->pref = PREF_ARRAY;
	return PGML_OK;
}

/* qsort order of int64. */
static int
cmp_i64(const void *p, const void *q)
{
	int64_t		a = *(const int64_t *) p;
	int64_t		b = *(const int64_t *) q;

	return a < b ? -1 : a > b;
}

/*
 * The exemplars once the messages have settled (sklearn's post-processing): each row joins the candidate
 * exemplar of highest similarity (the first of equals), and each cluster's exemplar becomes the member
 * with the highest sum of similarities from the cluster's members. Writes the k exemplar rows to ex,
 * ascending. cand holds the k candidates (rows with A + R > 0 on the diagonal), ascending.
 */
static pgml_status
ap_exemplars(const double *s, size_t n, const size_t *cand, size_t k, int64_t *ex, pgml_err *err)
{
	size_t	   *label = alloc_array(n, sizeof(size_t));
	size_t	   *start = alloc_array(k + 1, sizeof(size_t));
	size_t	   *members = alloc_array(n, sizeof(size_t));
	double	   *sums = alloc_array(n, sizeof(double));
	size_t	   *fill = alloc_array(k, sizeof(size_t));
	pgml_status rc = PGML_OK;

	if (!label || !start || !members || !sums || !fill)
	{
		rc = out_of_memory(err);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
	{
		const double *row = s + i * n;
		double		best = -INFINITY;
		size_t		at = 0;

		for (size_t t = 0; t < k; t++)
			if (row[cand[t]] > best)
			{
				best = row[cand[t]];
				at = t;
			}
		label[i] = at;
	}
	for (size_t t = 0; t < k; t++)
		label[cand[t]] = t;
	if ((rc = pgml_check_stop(err)) != PGML_OK)
		goto done;
	/* members of each cluster, ascending */
	memset(start, 0, (k + 1) * sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		start[label[i] + 1]++;
	for (size_t t = 0; t < k; t++)
	{
		start[t + 1] += start[t];
		fill[t] = start[t];
	}
	for (size_t i = 0; i < n; i++)
		members[fill[label[i]]++] = i;
	for (size_t t = 0; t < k; t++)
	{
		const size_t *ii = members + start[t];
		size_t		m = start[t + 1] - start[t];
		double		best = -INFINITY;
		size_t		at = 0;

		for (size_t j = 0; j < m; j++)
			sums[j] = s[ii[0] * n + ii[j]];
		for (size_t r = 1; r < m; r++)
		{
			const double *row = s + ii[r] * n;

			for (size_t j = 0; j < m; j++)
				sums[j] += row[ii[j]];
		}
		for (size_t j = 0; j < m; j++)
			if (sums[j] > best)
			{
				best = sums[j];
				at = j;
			}
		ex[t] = (int64_t) ii[at];
	}

	/*
	 * sklearn then assigns every row to the nearest of these exemplars again; each exemplar keeps its
	 * own label, so the cluster centers are exactly these rows, sorted.
	 */
	qsort(ex, k, sizeof(int64_t), cmp_i64);

done:
	pgml_free(label);
	pgml_free(start);
	pgml_free(members);
	pgml_free(sums);
	pgml_free(fill);
	return rc;
}

/* Fits AffinityPropagation. */
static pgml_status
affinity_fit(const pgml_fit_args *args, const pgml_data *train, void **state, pgml_err *err)
{
	const json_t *hp;
	affinity_params p;
	affinity_state *st = NULL;
	ap_ctx		c;
	const char *affinity;
	uint64_t	seed;
	size_t		n,
				d,
				cells,
				n_blocks;
	size_t		k = 0;
	size_t	   *cand = NULL;
	uint32_t   *run = NULL;
	bool	   *e_now = NULL;
	int64_t		it = 0;
	bool		converged = false;
	pgml_status rc;

	*state = NULL;
	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	rc = check_fit(args, train, PGML_TASK_CLUSTERING, "affinity_propagation", affinity_param_names, err);
	if (rc != PGML_OK)
		return rc;
	hp = args->hyperparams;
	n = train->n_rows;
	d = train->n_features;
	if ((rc = pgml_json_get_real(hp, "damping", 0.5, 0.5, 1.0, &p.damping, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "max_iter", 200, 1, INT32_MAX, &p.max_iter, err)) != PGML_OK ||
		(rc = pgml_json_get_int(hp, "convergence_iter", 15, 1, INT32_MAX, &p.convergence_iter, err)) != PGML_OK ||
		(rc = pgml_json_get_bool(hp, "copy", true, &p.copy, err)) != PGML_OK ||
		(rc = get_choice(hp, "affinity", "euclidean", affinity_choices, &affinity, err)) != PGML_OK ||
		(rc = get_verbose(hp, &p.verbose, err)) != PGML_OK ||
		(rc = get_random_state(hp, args->seed, &p.random_state, &seed, err)) != PGML_OK)
		return rc;
	if (p.damping >= 1.0)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"damping\" is out of range");
		pgml_err_detail(err, "It is %g; it must be at least 0.5 and less than 1.", p.damping);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (strcmp(affinity, "precomputed") == 0)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "affinity \"precomputed\" is not supported");
		pgml_err_detail(err, "The training rows are feature vectors; affinity_propagation computes negative squared Euclidean distances between them.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if (n > AP_MAX_ROWS)
	{
		pgml_error(err, PGML_ERR_LIMIT, "too many rows for affinity_propagation");
		pgml_err_detail(err, "Affinity propagation keeps three matrices of rows × rows values; the training data has %zu rows and the limit is %d.",
						n, AP_MAX_ROWS);
		pgml_err_hint(err, "Train on a sample of the rows.");
		return PGML_ERR_LIMIT;
	}
	if ((rc = get_preference(hp, n, &p, err)) != PGML_OK)
		goto done;
	{
		double	   *xd;

		if ((rc = to_double(train->x, n, d, &xd, err)) != PGML_OK)
			goto done;
		c.x = xd;
	}
	cells = n * n;
	n_blocks = (n + AP_BLOCK - 1) / AP_BLOCK;
	c.n = n;
	c.d = d;
	c.damping = p.damping;
	c.seed = seed;
	c.s = alloc_array(cells, sizeof(double));
	c.a = alloc_array(cells, sizeof(double));
	c.r = alloc_array(cells, sizeof(double));
	c.colsum = alloc_array(n, sizeof(double));
	c.partial = alloc_array(n_blocks * n, sizeof(double));
	c.e = alloc_array(n, sizeof(bool));
	cand = alloc_array(n, sizeof(size_t));
	run = alloc_array(n, sizeof(uint32_t));
	e_now = alloc_array(n, sizeof(bool));
	st = pgml_calloc(1, sizeof(affinity_state));
	if (!c.s || !c.a || !c.r || !c.colsum || !c.partial || !c.e || !cand || !run || !e_now || !st ||
		(st->exemplars = alloc_array(n, sizeof(int64_t))) == NULL)
	{
		rc = out_of_memory(err);
		if (n > 1000)
			pgml_err_detail(err, "Affinity propagation on %zu rows needs %zu MB for its matrices.", n,
							3 * cells * sizeof(double) / (1024 * 1024));
		goto done;
	}
	/* the similarities: the Gram matrix, then distances from it (colsum holds the squared norms) */
	if ((rc = pgml_check_stop(err)) != PGML_OK)
		goto done;
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint) n, (blasint) n, (blasint) d, 1.0, c.x,
				(blasint) d, c.x, (blasint) d, 0.0, c.s, (blasint) n);
	for (size_t i = 0; i < n; i++)
		c.colsum[i] = dot(c.x + i * d, c.x + i * d, d);
	if ((rc = pgml_parallel_for(args->pool, n, 1, ap_similarity_work, &c, err)) != PGML_OK)
		goto done;

	/* the preferences */
	if (p.pref == PREF_MEDIAN)
	{
		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
		p.pref_value = similarity_median(c.s, n, c.a);
		pgml_log(PGML_LOG_DEBUG, "affinity_propagation: preference %.17g (the median similarity)", p.pref_value);
	}

	/* all similarities and preferences equal (or one row): no messages to pass */
	{
		bool		equal = true;

		for (size_t i = 1; p.pref == PREF_ARRAY && i < n && equal; i++)
			equal = p.prefs[i] == p.prefs[0];
		for (size_t i = 0; i < n && equal; i++)
			for (size_t j = 0; j < n && equal; j++)
				if (i != j)
					equal = c.s[i * n + j] == c.s[n > 1 ? 1 : 0];
		if (equal)
		{
			double		first = p.pref == PREF_ARRAY ? p.prefs[0] : p.pref_value;

			pgml_log(PGML_LOG_WARNING, "all samples have mutually equal similarities; returning arbitrary cluster center(s)");
			k = first >= c.s[n - 1] ? n : 1;
			for (size_t i = 0; i < k; i++)
				st->exemplars[i] = (int64_t) i;
			converged = true;
			it = -1;
			goto exemplars_done;
		}
	}

	for (size_t i = 0; i < n; i++)
		c.s[i * n + i] = p.pref == PREF_ARRAY ? p.prefs[i] : p.pref_value;
	if ((rc = pgml_parallel_for(args->pool, n, 1, ap_noise_work, &c, err)) != PGML_OK)
		goto done;
	memset(c.a, 0, cells * sizeof(double));
	memset(c.r, 0, cells * sizeof(double));
	memset(run, 0, n * sizeof(uint32_t));

	/* the first responsibilities; then each pass updates availabilities and the next responsibilities */
	c.availability = false;
	c.responsibility = true;
	if ((rc = pgml_parallel_for(args->pool, n_blocks, 1, ap_pass_work, &c, err)) != PGML_OK)
		goto done;
	c.availability = true;
	for (it = 0; it < p.max_iter; it++)
	{
		size_t		n_exemplars = 0;
		bool		settled = true;

		c.responsibility = it + 1 < p.max_iter;
		if ((rc = pgml_check_stop(err)) != PGML_OK ||
			(rc = pgml_parallel_for(args->pool, (n + 255) / 256, 1, ap_reduce_work, &c, err)) != PGML_OK ||
			(rc = pgml_parallel_for(args->pool, n_blocks, 1, ap_pass_work, &c, err)) != PGML_OK)
			goto done;
		for (size_t i = 0; i < n; i++)
		{
			/* how many iterations in a row have given row i this status */
			if (it == 0 || c.e[i] != e_now[i])
				run[i] = 1;
			else if (run[i] < UINT32_MAX)
				run[i]++;
			e_now[i] = c.e[i];
			n_exemplars += c.e[i];
			settled &= run[i] >= (uint64_t) p.convergence_iter;
		}
		if (it >= p.convergence_iter && settled && n_exemplars > 0)
		{
			converged = true;
			break;
		}
	}
	if (it == p.max_iter)
		it--;
	if (p.verbose > 0)
	{
		if (converged)
			pgml_log(PGML_LOG_INFO, "affinity_propagation: converged after %lld iterations", (long long) it);
		else
			pgml_log(PGML_LOG_INFO, "affinity_propagation: did not converge");
	}

	for (size_t i = 0; i < n; i++)
		if (e_now[i])
			cand[k++] = i;
	if (k > 0)
	{
		if (!converged)
			pgml_log(PGML_LOG_WARNING, "affinity propagation did not converge; this model may return degenerate cluster centers and labels");
		if ((rc = ap_exemplars(c.s, n, cand, k, st->exemplars, err)) != PGML_OK)
			goto done;
	}
	else
		pgml_log(PGML_LOG_WARNING, "affinity propagation did not converge and this model will not have any cluster centers");

exemplars_done:
	st->d = d;
	st->n_train = n;
	st->k = k;
	st->n_iter = it + 1;
	st->converged = converged;
	if (k > 0)
	{
		st->centers = alloc_array(k * d, sizeof(double));
		if (st->centers == NULL)
		{
			rc = out_of_memory(err);
			goto done;
		}
		for (size_t t = 0; t < k; t++)
			memcpy(st->centers + t * d, c.x + (size_t) st->exemplars[t] * d, d * sizeof(double));
	}
	st->p = p;
	p.prefs = NULL;
	*state = st;
	st = NULL;

done:
	affinity_free(st);
	pgml_free(p.prefs);
	pgml_free((void *) c.x);
	pgml_free(c.s);
	pgml_free(c.a);
	pgml_free(c.r);
	pgml_free(c.colsum);
	pgml_free(c.partial);
	pgml_free(c.e);
	pgml_free(cand);
	pgml_free(run);
	pgml_free(e_now);
	return rc;
}

/* Writes the index of the nearest exemplar of each row, or -1 when there is none. */
static pgml_status
affinity_predict(const void *state, const float *x, size_t n_rows, size_t n_features, float *out,
				 pgml_err *err)
{
	const affinity_state *s = state;
	pgml_status rc = check_predict(state, x, n_rows, n_features, s ? s->d : 0, out, err);

	if (rc != PGML_OK)
		return rc;
	return predict_nearest(s->centers, s->k, s->d, x, n_rows, out, err);
}

/* The effective hyperparameters, with sklearn's names, as a new JSON object. */
static json_t *
affinity_params_json(const void *state)
{
	const affinity_state *s = state;
	const affinity_params *p;
	json_t	   *o;
	json_t	   *pref;

	if (s == NULL || (o = json_object()) == NULL)
		return NULL;
	p = &s->p;
	if (p->pref == PREF_ARRAY)
	{
		pref = json_array();
		for (size_t i = 0; pref != NULL && i < s->n_train; i++)
			if (json_array_append_new(pref, json_real(p->prefs[i])) != 0)
			{
				json_decref(pref);
				pref = NULL;
			}
	}
	else
		pref = p->pref == PREF_SCALAR ? json_real(p->pref_value) : json_null();
	if (!jset(o, "damping", json_real(p->damping)) ||
		!jset(o, "max_iter", json_integer(p->max_iter)) ||
		!jset(o, "convergence_iter", json_integer(p->convergence_iter)) ||
		!jset(o, "copy", json_boolean(p->copy)))
	{
		json_decref(pref);
		json_decref(o);
		return NULL;
	}
	if (!jset(o, "preference", pref) ||
		!jset(o, "affinity", json_string("euclidean")) ||
		!jset(o, "verbose", json_integer(p->verbose)) ||
		!jset(o, "random_state", null_or_int(p->random_state)))
	{
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Writes an affinity propagation state: shape, exemplars, iterations and the hyperparameters. */
static void
affinity_save(const void *state, pgml_buf *out)
{
	const affinity_state *s = state;
	const affinity_params *p = &s->p;

	pgml_buf_put_u32(out, STATE_VERSION);
	pgml_buf_put_u8(out, KIND_AFFINITY);
	pgml_buf_put_u64(out, s->d);
	pgml_buf_put_u64(out, s->n_train);
	pgml_buf_put_u64(out, s->k);
	pgml_buf_put_f64s(out, s->centers, s->k * s->d);
	for (size_t t = 0; t < s->k; t++)
		pgml_buf_put_i64(out, s->exemplars[t]);
	pgml_buf_put_i64(out, s->n_iter);
	pgml_buf_put_u8(out, s->converged ? 1 : 0);
	pgml_buf_put_f64(out, p->damping);
	pgml_buf_put_i64(out, p->max_iter);
	pgml_buf_put_i64(out, p->convergence_iter);
	pgml_buf_put_u8(out, p->copy ? 1 : 0);
	pgml_buf_put_u8(out, (uint8_t) p->pref);
	pgml_buf_put_f64(out, p->pref_value);
	if (p->pref == PREF_ARRAY)
		pgml_buf_put_f64s(out, p->prefs, s->n_train);
	pgml_buf_put_i64(out, p->verbose);
	pgml_buf_put_i64(out, p->random_state);
}

/* Loads an affinity propagation state, validating shapes, exemplar rows and values. */
static pgml_status
affinity_load(pgml_reader *in, void **state, pgml_err *err)
{
	affinity_state *s;
	affinity_params *p;
	size_t		cells = 0;

	*state = NULL;
	if (!check_header(in, KIND_AFFINITY))
		return PGML_ERR_CORRUPT;
	s = pgml_calloc(1, sizeof(affinity_state));
	if (s == NULL)
		return out_of_memory(err);
	p = &s->p;
	s->d = get_dim(in, MAX_DIM, "The feature count is out of range");
	s->n_train = get_dim(in, AP_MAX_ROWS, "The training row count is out of range");
	s->k = (size_t) pgml_reader_u64(in);
	if (pgml_reader_status(in) == PGML_OK && s->k > s->n_train)
		pgml_reader_fail(in, "The exemplar count is out of range");
	cells = s->k * s->d;		/* k <= AP_MAX_ROWS, d <= MAX_DIM: no overflow */
	if (pgml_reader_status(in) == PGML_OK)
		s->centers = get_f64s_or_none(in, cells);
	if (pgml_reader_status(in) == PGML_OK && s->k > 0)
	{
		s->exemplars = alloc_array(s->k, sizeof(int64_t));
		if (s->exemplars == NULL)
			pgml_reader_fail(in, "Out of memory");
		for (size_t t = 0; s->exemplars != NULL && t < s->k; t++)
		{
			s->exemplars[t] = get_ranged(in, t == 0 ? 0 : s->exemplars[t - 1] + 1, (int64_t) s->n_train - 1);
			if (pgml_reader_status(in) != PGML_OK)
				break;
		}
	}
	s->n_iter = get_ranged(in, 0, INT32_MAX);
	s->converged = get_flag(in);
	p->damping = get_nonneg(in);
	if (pgml_reader_status(in) == PGML_OK && !(p->damping >= 0.5 && p->damping < 1))
		pgml_reader_fail(in, "A hyperparameter is out of range");
	p->max_iter = get_ranged(in, 1, INT32_MAX);
	p->convergence_iter = get_ranged(in, 1, INT32_MAX);
	p->copy = get_flag(in);
	p->pref = (pref_kind) get_choice_index(in, 3);
	p->pref_value = pgml_reader_f64(in);
	if (pgml_reader_status(in) == PGML_OK && !isfinite(p->pref_value))
		pgml_reader_fail(in, "A hyperparameter is out of range");
	if (pgml_reader_status(in) == PGML_OK && p->pref == PREF_ARRAY)
		p->prefs = get_f64s(in, s->n_train);
	p->verbose = get_ranged(in, INT32_MIN, INT32_MAX);
	p->random_state = get_ranged(in, -1, UINT32_MAX);
	if (pgml_reader_status(in) != PGML_OK)
	{
		affinity_free(s);
		return PGML_ERR_CORRUPT;
	}
	*state = s;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * The algorithm tables
 * ------------------------------------------------------------------------------------------------- */

const pgml_algorithm pgml_algo_birch = {
	.name = "birch",
	.tasks = PGML_TASK_BIT(PGML_TASK_CLUSTERING),
	.params_regression = NULL,
	.params_classification = NULL,
	.params_other = birch_param_names,
	.multi_target = false,
	.has_proba = false,
	.fit = birch_fit,
	.n_outputs = one_output,
	.predict = birch_predict,
	.params = birch_params_json,
	.save = birch_save,
	.load = birch_load,
	.free = birch_free,
};

const pgml_algorithm pgml_algo_mean_shift = {
	.name = "mean_shift",
	.tasks = PGML_TASK_BIT(PGML_TASK_CLUSTERING),
	.params_regression = NULL,
	.params_classification = NULL,
	.params_other = mean_shift_param_names,
	.multi_target = false,
	.has_proba = false,
	.fit = mean_shift_fit,
	.n_outputs = one_output,
	.predict = mean_shift_predict,
	.params = mean_shift_params_json,
	.save = mean_shift_save,
	.load = mean_shift_load,
	.free = mean_shift_free,
};

const pgml_algorithm pgml_algo_affinity_propagation = {
	.name = "affinity_propagation",
	.tasks = PGML_TASK_BIT(PGML_TASK_CLUSTERING),
	.params_regression = NULL,
	.params_classification = NULL,
	.params_other = affinity_param_names,
	.multi_target = false,
	.has_proba = false,
	.fit = affinity_fit,
	.n_outputs = one_output,
	.predict = affinity_predict,
	.params = affinity_params_json,
	.save = affinity_save,
	.load = affinity_load,
	.free = affinity_free,
};
