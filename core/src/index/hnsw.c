/*
 * hnsw.c — the in-memory HNSW graph (see pgml/hnsw.h).
 *
 * Storage. Each element has a record in a chunk of a fixed, power-of-two number of elements (so adding
 * never moves it and readers on other threads can keep pointers). Records are 64-byte aligned and hold
 * what a search touches, so that reaching a neighbour costs one run of adjacent cache lines:
 *
 *     [vector: dim floats] [lock] [count₀, id × 2m]        (padded to a multiple of 64 bytes)
 *
 * The links of the upper layers, which only a few elements have, are one uint32 array per element
 * carved from bump blocks: [count₁, id × m] ... [count_level, id × m].
 *
 * Parallel linking. Every participant inserts its share of elements with the paper's INSERT
 * (Algorithm 1): greedy descent from the entry point through the layers above the element's level,
 * then SEARCH-LAYER (Algorithm 2) with ef_construction at each of its layers, the heuristic
 * (Algorithm 4) to choose up to 2m neighbours on layer 0 and m above, and back-links that prune a full
 * list with the same heuristic. Both keep at least half a list, topping up with the nearest pruned
 * candidates (the paper's keepPrunedConnections), and a pruned back-link list always keeps the new
 * element: on clustered data the pure heuristic leaves lists of a few links and elements nobody links
 * to, which no search can reach. (Full lists gain a point of recall on embeddings but leave more such
 * orphans on low-dimensional data, and double the build time.)
 * Each element has a spinlock (in its record) that guards its link lists; a reader copies a list under the
 * lock and releases it before computing distances, and a writer holds only one element's lock at a
 * time, so there is no lock ordering to get wrong. An element that raises the top level holds the
 * entry-point mutex for its whole insertion (as hnswlib does), so the entry point always has links on
 * every layer it claims.
 *
 * Elements are handed to the participants one at a time from a shared counter, so both threads stay
 * busy until the last insertion of a batch. Each participant owns a scratch area: a visited bitmap (small
 * enough to stay in L1/L2; a search clears only the words it set), two binary heaps and buffers for
 * selection, allocated once per graph. The search loop first drops the visited neighbours of an element
 * and prefetches the records of the others, so their distances are computed from cache.
 */
#include "hnsw_int.h"

#include "pgml/distance.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define LINK_BLOCK_BYTES (256 * 1024)
#define VEC_CHUNK_BYTES (256 * 1024)
#define LINK_BATCH 4096
#define CACHE_LINE 64
#define TOUCHED_CAP 8192		/* visited ids remembered for clearing; more and the bitmap is zeroed */

typedef struct hnsw_cand
{
	float		d;
	uint32_t	id;
} hnsw_cand;

typedef struct hnsw_node
{
	uint32_t   *links;			/* upper layers (NULL at level 0) */
	uint64_t	payload;
	uint8_t		level;
} hnsw_node;

typedef struct hnsw_scratch
{
	uint64_t   *visited;		/* (visited_cap / 64) bitmap of the elements the current search saw */
	uint32_t   *touched;		/* (TOUCHED_CAP) the elements it set, to clear them afterwards */
	size_t		n_touched;		/* > TOUCHED_CAP: clear the whole bitmap */
	hnsw_cand  *cand;			/* min-heap of elements to expand */
	size_t		n_cand,
				cap_cand;
	hnsw_cand  *top;			/* max-heap of the ef nearest found */
	size_t		n_top,
				cap_top;
	hnsw_cand  *w;				/* (cap_top) the result of a layer search, nearest first */
	hnsw_cand  *eps;			/* (cap_top) entry points of the next layer */
	uint32_t   *nbuf;			/* (2m + 1) a copied link list, or candidates while pruning */
	uint32_t   *ubuf;			/* (2m + 1) the unvisited ones among them */
	uint32_t   *picked;			/* (2m + 1) the neighbours an insertion chose, to back-link */
	hnsw_cand  *pbuf;			/* (2m + 1) candidates while pruning */
	float	   *dists;
	int		   *sel;
} hnsw_scratch;

struct pgml_hnsw_graph
{
	pgml_hnsw_params p;
	int			cap0;			/* 2m: links on layer 0 */
	int			capu;			/* m: links on upper layers */
	int			sel0;			/* neighbours a new element picks on layer 0: 2m, as pgvector (m, as
								 * hnswlib, builds twice as fast but needs a much larger ef_search for
								 * the same recall on 384-dim embeddings) */
	hnsw_dist_fn dist;			/* the internal distance of p.metric, on float32 */
	bool		half;			/* records hold float16 copies (cosine), float32 vectors live apart */
	hnsw_half_fn dist_q16;		/* half: −(float32 query · float16 record) */
	hnsw_half_fn dist_16;		/* half: −(float16 · float16) */
	size_t		n;				/* elements added */
	size_t		n_linked;
	hnsw_node  *nodes;
	size_t		cap_nodes;
	char	  **chunks;			/* (n_chunks) records, 64-byte aligned */
	void	  **chunk_mem;		/* (n_chunks) what was allocated for each */
	float	  **fchunks;		/* half: (n_chunks, chunk_elems, dim) the float32 vectors */
	size_t		n_chunks,
				cap_chunks,
				chunk_elems;	/* a power of two */
	int			chunk_shift;	/* log2(chunk_elems) */
	size_t		rec_bytes;		/* bytes per record, a multiple of CACHE_LINE */
	size_t		vec_bytes;		/* the record's vector: dim float32, or float16 when half */
	char	  **blocks;			/* link storage */
	size_t		n_blocks,
				cap_blocks,
				block_used;
	size_t		bytes;
	pthread_mutex_t entry_lock;
	int64_t		entry;			/* -1 when empty */
	int			top_level;		/* level of the entry point, -1 when empty */
	hnsw_scratch *scratch;		/* one per pool participant */
	int			n_scratch;
	size_t		visited_cap;
};

/* ---------------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------------- */

float
pgml_hnsw_distance(pgml_hnsw_metric metric, const float *a, const float *b, size_t dim)
{
	return hnsw_kernel(metric) (a, b, dim);
}

double
pgml_hnsw_user_distance(pgml_hnsw_metric metric, float internal)
{
	switch (metric)
	{
		case PGML_HNSW_L2:
			return sqrt((double) (internal < 0 ? 0 : internal));
		case PGML_HNSW_COSINE:
			return 1.0 + (double) internal;
		default:
			return (double) internal;
	}
}

/* splitmix64: a well-mixed 64-bit hash of the input */
static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

int
pgml_hnsw_random_level(uint64_t seed, uint64_t ordinal, int m, int max_level)
{
	/* u in (0, 1]; level = floor(-ln(u) · mL) with mL = 1 / ln(m) (section 4 of the paper) */
	double		u = ((double) (mix64(seed ^ mix64(ordinal)) >> 11) + 1.0) / 9007199254740992.0;
	double		lv = -log(u) / log((double) (m < 2 ? 2 : m));
	int			level = (int) lv;

	if (level > max_level)
		level = max_level;
	return level < 0 ? 0 : level;
}

bool
pgml_hnsw_normalize(float *x, size_t dim)
{
	double		s = 0;

	for (size_t i = 0; i < dim; i++)
		s += (double) x[i] * x[i];
	if (s <= 0 || !isfinite(s))
		return false;
	s = 1.0 / sqrt(s);
	for (size_t i = 0; i < dim; i++)
		x[i] = (float) (x[i] * s);
	return true;
}

/*
 * The heuristic of pgml_hnsw_select, with pair(ctx, i, j) the distance between candidates i and j
 * (inlined into each caller with its own pair).
 */
static inline int
select_heuristic(float (*pair) (const void *ctx, int i, int j), const void *ctx, const float *dists,
				 int n, int m, int min_keep, int *selected)
{
	int			k = 0;

	for (int i = 0; i < n && k < m; i++)
	{
		bool		good = true;

		for (int j = 0; j < k; j++)
		{
			if (pair(ctx, i, selected[j]) < dists[i])
			{
				good = false;
				break;
			}
		}
		if (good)
			selected[k++] = i;
	}
	/* keepPrunedConnections: top up with the nearest pruned candidates */
	if (k < min_keep && k < n)
	{
		for (int i = 0; i < n && k < min_keep && k < m; i++)
		{
			bool		taken = false;

			for (int j = 0; j < k; j++)
				if (selected[j] == i)
				{
					taken = true;
					break;
				}
			if (!taken)
				selected[k++] = i;
		}
	}
	return k;
}

typedef struct select_vecs
{
	hnsw_dist_fn dist;
	size_t		dim;
	const float *const *vecs;
} select_vecs;

static float
select_vecs_pair(const void *ctx, int i, int j)
{
	const select_vecs *sv = ctx;

	return sv->dist(sv->vecs[i], sv->vecs[j], sv->dim);
}

int
pgml_hnsw_select(pgml_hnsw_metric metric, size_t dim, const float *const *vecs, const float *dists,
				 int n, int m, int min_keep, int *selected)
{
	select_vecs sv = {hnsw_kernel(metric), dim, vecs};

	return select_heuristic(select_vecs_pair, &sv, dists, n, m, min_keep, selected);
}

/* ---------------------------------------------------------------------------------------------------
 * Heaps of candidates: cand is a min-heap, top a max-heap
 * ------------------------------------------------------------------------------------------------- */

static bool
grow(hnsw_cand **a, size_t *cap, size_t need)
{
	size_t		nc;
	hnsw_cand  *p;

	if (need <= *cap)
		return true;
	nc = *cap * 2 > need ? *cap * 2 : need;
	p = pgml_realloc(*a, nc * sizeof(hnsw_cand));
	if (p == NULL)
		return false;
	*a = p;
	*cap = nc;
	return true;
}

static void
heap_push(hnsw_cand *h, size_t *n, hnsw_cand c, bool max)
{
	size_t		i = (*n)++;

	while (i > 0)
	{
		size_t		parent = (i - 1) / 2;

		if (max ? h[parent].d >= c.d : h[parent].d <= c.d)
			break;
		h[i] = h[parent];
		i = parent;
	}
	h[i] = c;
}

static hnsw_cand
heap_pop(hnsw_cand *h, size_t *n, bool max)
{
	hnsw_cand	top = h[0];
	hnsw_cand	last = h[--(*n)];
	size_t		i = 0;
	size_t		len = *n;

	if (len == 0)
		return top;
	for (;;)
	{
		size_t		l = 2 * i + 1;
		size_t		r = l + 1;
		size_t		best = i;
		float		bd = last.d;

		if (l < len && (max ? h[l].d > bd : h[l].d < bd))
		{
			best = l;
			bd = h[l].d;
		}
		if (r < len && (max ? h[r].d > bd : h[r].d < bd))
			best = r;
		if (best == i)
			break;
		h[i] = h[best];
		i = best;
	}
	h[i] = last;
	return top;
}

static int
cand_cmp(const void *a, const void *b)
{
	const hnsw_cand *x = a;
	const hnsw_cand *y = b;

	if (x->d < y->d)
		return -1;
	if (x->d > y->d)
		return 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* ---------------------------------------------------------------------------------------------------
 * Graph storage
 * ------------------------------------------------------------------------------------------------- */

static inline char *
rec_of(const pgml_hnsw_graph *g, uint32_t id)
{
	return g->chunks[id >> g->chunk_shift] + (size_t) (id & (g->chunk_elems - 1)) * g->rec_bytes;
}

/* The float32 vector of id (normalized for cosine). */
static inline const float *
fvec_of(const pgml_hnsw_graph *g, uint32_t id)
{
	if (g->half)
		return g->fchunks[id >> g->chunk_shift] + (size_t) (id & (g->chunk_elems - 1)) * (size_t) g->p.dim;
	return (const float *) rec_of(g, id);
}

/* The internal distance from a float32 query to element id, from its record. */
static inline float
dist_q(const pgml_hnsw_graph *g, const float *q, uint32_t id)
{
	if (g->half)
		return g->dist_q16(q, rec_of(g, id), (size_t) g->p.dim);
	return g->dist(q, (const float *) rec_of(g, id), (size_t) g->p.dim);
}

/* The internal distance between elements a and b, from their records. */
static inline float
dist_ids(const pgml_hnsw_graph *g, uint32_t a, uint32_t b)
{
	if (g->half)
		return g->dist_16(rec_of(g, a), rec_of(g, b), (size_t) g->p.dim);
	return g->dist((const float *) rec_of(g, a), (const float *) rec_of(g, b), (size_t) g->p.dim);
}

typedef struct select_cands
{
	const pgml_hnsw_graph *g;
	const hnsw_cand *c;
} select_cands;

static float
select_cands_pair(const void *ctx, int i, int j)
{
	const select_cands *sc = ctx;

	return dist_ids(sc->g, sc->c[i].id, sc->c[j].id);
}

/*
 * Chooses neighbours among n candidates c (sorted nearest first, c[i].d their distance to the base
 * element) with the heuristic; writes the indexes of the kept ones to s->sel and returns how many.
 */
static int
select_neighbors(const pgml_hnsw_graph *g, hnsw_scratch *s, const hnsw_cand *c, int n, int m)
{
	select_cands sc = {g, c};

	for (int i = 0; i < n; i++)
		s->dists[i] = c[i].d;
	return select_heuristic(select_cands_pair, &sc, s->dists, n, m, m / 2, s->sel);
}

static inline atomic_uint *
lock_of(const pgml_hnsw_graph *g, uint32_t id)
{
	return (atomic_uint *) (rec_of(g, id) + g->vec_bytes);
}

static inline uint32_t *
links_of(const pgml_hnsw_graph *g, uint32_t id, int layer)
{
	if (layer == 0)
		return (uint32_t *) (rec_of(g, id) + g->vec_bytes + sizeof(uint32_t));
	return g->nodes[id].links + (size_t) (layer - 1) * (1 + g->capu);
}

/* Asks for the whole record of id (vector and layer-0 links) to be brought into cache. */
static inline void
prefetch_rec(const pgml_hnsw_graph *g, uint32_t id)
{
	const char *r = rec_of(g, id);

	for (size_t off = 0; off < g->rec_bytes; off += CACHE_LINE)
		__builtin_prefetch(r + off);
}

static inline void
node_lock(atomic_uint *lock)
{
	int			spins = 0;

	while (atomic_exchange_explicit(lock, 1, memory_order_acquire))
	{
		while (atomic_load_explicit(lock, memory_order_relaxed))
		{
			if (++spins > 64)
			{
				sched_yield();
				spins = 0;
			}
		}
	}
}

static inline void
node_unlock(atomic_uint *lock)
{
	atomic_store_explicit(lock, 0, memory_order_release);
}

/* Copies the links of id at layer into buf under the element's lock; returns their count. */
static int
copy_links(const pgml_hnsw_graph *g, uint32_t id, int layer, uint32_t *buf)
{
	atomic_uint *lock = lock_of(g, id);
	uint32_t   *l;
	int			n;

	if (layer > 0 && layer > g->nodes[id].level)
		return 0;
	l = links_of(g, id, layer);
	node_lock(lock);
	n = (int) l[0];
	memcpy(buf, l + 1, (size_t) n * sizeof(uint32_t));
	node_unlock(lock);
	return n;
}

pgml_status
pgml_hnsw_new(const pgml_hnsw_params *params, pgml_hnsw_graph **out, pgml_err *err)
{
	pgml_hnsw_graph *g;

	*out = NULL;
	if (params->dim < 1)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "hnsw: dimensions must be positive");
	if (params->m < PGML_HNSW_MIN_M || params->m > PGML_HNSW_MAX_M)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "hnsw: m must be between %d and %d",
						  PGML_HNSW_MIN_M, PGML_HNSW_MAX_M);
	if (params->ef_construction < 1)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "hnsw: ef_construction must be positive");
	if (params->max_level < 0 || params->max_level > PGML_HNSW_MAX_LEVEL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "hnsw: max_level must be between 0 and %d",
						  PGML_HNSW_MAX_LEVEL);
	if (params->metric < PGML_HNSW_L2 || params->metric > PGML_HNSW_L1)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "hnsw: unknown metric %d", (int) params->metric);

	g = pgml_calloc(1, sizeof(*g));
	if (g == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	g->p = *params;
	g->cap0 = 2 * params->m;
	g->capu = params->m;
	g->sel0 = g->cap0;
	g->dist = hnsw_kernel(params->metric);
	g->half = params->metric == PGML_HNSW_COSINE;
	g->dist_q16 = hnsw_kernel_negdot_f32_f16();
	g->dist_16 = hnsw_kernel_negdot_f16_f16();
	g->entry = -1;
	g->top_level = -1;
	g->vec_bytes = (size_t) params->dim * (g->half ? sizeof(uint16_t) : sizeof(float));
	g->rec_bytes = g->vec_bytes + sizeof(uint32_t) * (size_t) (2 + g->cap0);
	g->rec_bytes = (g->rec_bytes + CACHE_LINE - 1) & ~(size_t) (CACHE_LINE - 1);
	g->chunk_elems = 16;
	g->chunk_shift = 4;
	while (g->chunk_elems * 2 * g->rec_bytes <= VEC_CHUNK_BYTES)
	{
		g->chunk_elems *= 2;
		g->chunk_shift++;
	}
	pthread_mutex_init(&g->entry_lock, NULL);
	*out = g;
	return PGML_OK;
}

static void scratch_release(hnsw_scratch *s);

static void
free_scratch(pgml_hnsw_graph *g)
{
	for (int i = 0; i < g->n_scratch; i++)
		scratch_release(&g->scratch[i]);
	pgml_free(g->scratch);
	g->scratch = NULL;
	g->n_scratch = 0;
}

void
pgml_hnsw_free(pgml_hnsw_graph *g)
{
	if (g == NULL)
		return;
	free_scratch(g);
	for (size_t i = 0; i < g->n_chunks; i++)
	{
		pgml_free(g->chunk_mem[i]);
		if (g->half)
			pgml_free(g->fchunks[i]);
	}
	pgml_free(g->chunks);
	pgml_free(g->chunk_mem);
	pgml_free(g->fchunks);
	for (size_t i = 0; i < g->n_blocks; i++)
		pgml_free(g->blocks[i]);
	pgml_free(g->blocks);
	pgml_free(g->nodes);
	pthread_mutex_destroy(&g->entry_lock);
	pgml_free(g);
}

/* Would adding extra bytes take the graph over its budget? */
static bool
over_budget(const pgml_hnsw_graph *g, size_t extra)
{
	return g->p.max_bytes > 0 && g->bytes + extra > g->p.max_bytes;
}

pgml_status
pgml_hnsw_add(pgml_hnsw_graph *g, const float *x, uint64_t payload, pgml_err *err)
{
	uint32_t	id;
	int			level;
	size_t		n_links;
	size_t		link_bytes;
	size_t		chunk_bytes = g->chunk_elems * g->rec_bytes + CACHE_LINE;
	size_t		fchunk_bytes = g->half ? g->chunk_elems * (size_t) g->p.dim * sizeof(float) : 0;
	bool		new_chunk;
	bool		new_block;
	size_t		extra = 0;
	hnsw_node  *node;
	char	   *rec;

	if (g->n >= UINT32_MAX - 1)
		return pgml_error(err, PGML_ERR_LIMIT, "hnsw graph is full");
	id = (uint32_t) g->n;
	level = pgml_hnsw_random_level(g->p.seed, id, g->p.m, g->p.max_level);
	n_links = (size_t) level * (1 + g->capu);
	link_bytes = (n_links * sizeof(uint32_t) + 7) & ~(size_t) 7;
	new_chunk = (id >> g->chunk_shift) >= g->n_chunks;
	new_block = level > 0 && (g->n_blocks == 0 || g->block_used + link_bytes > LINK_BLOCK_BYTES);

	/* what this element would cost: a new record chunk, a new link block, more node slots */
	if (new_chunk)
		extra += chunk_bytes + fchunk_bytes;
	if (new_block)
		extra += link_bytes > LINK_BLOCK_BYTES ? link_bytes : LINK_BLOCK_BYTES;
	if (g->n >= g->cap_nodes)
		extra += (g->cap_nodes ? g->cap_nodes : 1024) * sizeof(hnsw_node);
	if (over_budget(g, extra))
		return pgml_error(err, PGML_ERR_LIMIT, "hnsw graph no longer fits into its memory budget");

	if (g->n >= g->cap_nodes)
	{
		size_t		nc = g->cap_nodes ? g->cap_nodes * 2 : 1024;
		hnsw_node  *p = pgml_realloc(g->nodes, nc * sizeof(hnsw_node));

		if (p == NULL)
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		g->bytes += (nc - g->cap_nodes) * sizeof(hnsw_node);
		g->nodes = p;
		g->cap_nodes = nc;
	}
	if (new_chunk)
	{
		void	   *mem;

		if (g->n_chunks >= g->cap_chunks)
		{
			size_t		nc = g->cap_chunks ? g->cap_chunks * 2 : 64;
			char	  **p = pgml_realloc(g->chunks, nc * sizeof(char *));
			void	  **pm;
			float	  **pf;

			if (p == NULL)
				return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			g->chunks = p;
			pm = pgml_realloc(g->chunk_mem, nc * sizeof(void *));
			if (pm == NULL)
				return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			g->chunk_mem = pm;
			pf = pgml_realloc(g->fchunks, nc * sizeof(float *));
			if (pf == NULL)
				return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			g->fchunks = pf;
			g->cap_chunks = nc;
		}
		if (g->half)
		{
			g->fchunks[g->n_chunks] = pgml_malloc(fchunk_bytes);
			if (g->fchunks[g->n_chunks] == NULL)
				return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
		mem = pgml_malloc(chunk_bytes);
		if (mem == NULL)
		{
			if (g->half)
				pgml_free(g->fchunks[g->n_chunks]);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
		g->chunk_mem[g->n_chunks] = mem;
		g->chunks[g->n_chunks++] = (char *) (((uintptr_t) mem + CACHE_LINE - 1) & ~(uintptr_t) (CACHE_LINE - 1));
		g->bytes += chunk_bytes + fchunk_bytes;
	}
	if (new_block)
	{
		size_t		bs = link_bytes > LINK_BLOCK_BYTES ? link_bytes : LINK_BLOCK_BYTES;
		char	   *b;

		if (g->n_blocks >= g->cap_blocks)
		{
			size_t		nc = g->cap_blocks ? g->cap_blocks * 2 : 64;
			char	  **p = pgml_realloc(g->blocks, nc * sizeof(char *));

			if (p == NULL)
				return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			g->blocks = p;
			g->cap_blocks = nc;
		}
		b = pgml_malloc(bs);
		if (b == NULL)
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		g->blocks[g->n_blocks++] = b;
		g->block_used = 0;
		g->bytes += bs;
	}

	node = &g->nodes[id];
	node->links = NULL;
	if (level > 0)
	{
		node->links = (uint32_t *) (g->blocks[g->n_blocks - 1] + g->block_used);
		g->block_used += link_bytes;
		memset(node->links, 0, n_links * sizeof(uint32_t));
	}
	node->payload = payload;
	node->level = (uint8_t) level;

	rec = rec_of(g, id);
	memset(rec, 0, g->rec_bytes);
	atomic_init(lock_of(g, id), 0);
	if (g->half)
	{
		/* cosine: the normalized vector apart, a float16 copy (|x| <= 1, no overflow) in the record */
		float	   *f = (float *) fvec_of(g, id);

		memcpy(f, x, (size_t) g->p.dim * sizeof(float));
		(void) pgml_hnsw_normalize(f, (size_t) g->p.dim);
		pgml_f32_to_f16_n(f, (uint16_t *) rec, (size_t) g->p.dim);
	}
	else
		memcpy(rec, x, g->vec_bytes);
	g->n++;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Search
 * ------------------------------------------------------------------------------------------------- */

static bool
scratch_init(hnsw_scratch *s, size_t visited_cap, int ef, int cap0)
{
	size_t		cap = (size_t) (ef > cap0 + 1 ? ef : cap0 + 1) + 1;

	memset(s, 0, sizeof(*s));
	s->visited = pgml_calloc(visited_cap / 64 + 1, sizeof(uint64_t));
	s->touched = pgml_malloc(TOUCHED_CAP * sizeof(uint32_t));
	s->cap_cand = cap * 4;
	s->cand = pgml_malloc(s->cap_cand * sizeof(hnsw_cand));
	s->cap_top = cap;
	s->top = pgml_malloc(cap * sizeof(hnsw_cand));
	s->w = pgml_malloc(cap * sizeof(hnsw_cand));
	s->eps = pgml_malloc(cap * sizeof(hnsw_cand));
	s->nbuf = pgml_malloc((size_t) (cap0 + 1) * sizeof(uint32_t));
	s->ubuf = pgml_malloc((size_t) (cap0 + 1) * sizeof(uint32_t));
	s->picked = pgml_malloc((size_t) (cap0 + 1) * sizeof(uint32_t));
	s->pbuf = pgml_malloc((size_t) (cap0 + 1) * sizeof(hnsw_cand));
	s->dists = pgml_malloc(cap * sizeof(float));
	s->sel = pgml_malloc(cap * sizeof(int));
	return s->visited && s->touched && s->cand && s->top && s->w && s->eps && s->nbuf && s->ubuf && s->picked &&
		s->pbuf && s->dists && s->sel;
}

static void
scratch_release(hnsw_scratch *s)
{
	pgml_free(s->visited);
	pgml_free(s->touched);
	pgml_free(s->cand);
	pgml_free(s->top);
	pgml_free(s->w);
	pgml_free(s->eps);
	pgml_free(s->nbuf);
	pgml_free(s->ubuf);
	pgml_free(s->picked);
	pgml_free(s->pbuf);
	pgml_free(s->dists);
	pgml_free(s->sel);
}

/* Empties the visited set: the words of the elements it remembers, or all of it. */
static void
clear_visited(hnsw_scratch *s, size_t visited_cap)
{
	if (s->n_touched > TOUCHED_CAP)
		memset(s->visited, 0, (visited_cap / 64 + 1) * sizeof(uint64_t));
	else
		for (size_t i = 0; i < s->n_touched; i++)
			s->visited[s->touched[i] >> 6] = 0;
	s->n_touched = 0;
}

/* Marks id visited; returns whether it already was. */
static inline bool
test_and_visit(hnsw_scratch *s, uint32_t id)
{
	uint64_t	bit = (uint64_t) 1 << (id & 63);
	uint64_t   *w = &s->visited[id >> 6];

	if (*w & bit)
		return true;
	*w |= bit;
	if (s->n_touched < TOUCHED_CAP)
		s->touched[s->n_touched] = id;
	s->n_touched++;
	return false;
}

/*
 * SEARCH-LAYER (Algorithm 2): from the entry points eps, find the ef nearest elements to q on layer.
 * Leaves them in s->w, nearest first; returns their count (0 only when out of memory).
 */
static int
search_layer(const pgml_hnsw_graph *g, hnsw_scratch *s, size_t visited_cap, const float *q,
			 const hnsw_cand *eps, int n_eps, int ef, int layer)
{
	int			n;

	s->n_cand = 0;
	s->n_top = 0;
	for (int i = 0; i < n_eps; i++)
	{
		if (test_and_visit(s, eps[i].id))
			continue;
		if (!grow(&s->cand, &s->cap_cand, s->n_cand + 1))
			goto oom;
		heap_push(s->cand, &s->n_cand, eps[i], false);
		heap_push(s->top, &s->n_top, eps[i], true);
		if (s->n_top > (size_t) ef)
			heap_pop(s->top, &s->n_top, true);
	}
	while (s->n_cand > 0)
	{
		hnsw_cand	c = heap_pop(s->cand, &s->n_cand, false);
		int			nn;
		int			nu = 0;

		if (s->n_top >= (size_t) ef && c.d > s->top[0].d)
			break;
		nn = copy_links(g, c.id, layer, s->nbuf);

		/* drop the visited ones first, so that the records of the rest load while we work */
		for (int i = 0; i < nn; i++)
		{
			uint32_t	id = s->nbuf[i];

			if (test_and_visit(s, id))
				continue;
			s->ubuf[nu++] = id;
			/* the first line; the hardware prefetcher follows the rest of the record */
			__builtin_prefetch(rec_of(g, id));
		}
		for (int i = 0; i < nu; i++)
		{
			uint32_t	id = s->ubuf[i];
			float		d;

			d = dist_q(g, q, id);
			if (s->n_top < (size_t) ef || d < s->top[0].d)
			{
				hnsw_cand	nc = {d, id};

				if (!grow(&s->cand, &s->cap_cand, s->n_cand + 1))
					goto oom;
				heap_push(s->cand, &s->n_cand, nc, false);
				heap_push(s->top, &s->n_top, nc, true);
				if (s->n_top > (size_t) ef)
					heap_pop(s->top, &s->n_top, true);
			}
		}
	}
	clear_visited(s, visited_cap);
	n = (int) s->n_top;
	memcpy(s->w, s->top, (size_t) n * sizeof(hnsw_cand));
	qsort(s->w, (size_t) n, sizeof(hnsw_cand), cand_cmp);
	return n;

oom:
	clear_visited(s, visited_cap);
	return 0;
}

/* Greedy descent on one layer: moves *cur to the nearest element reachable by improving steps. */
static void
greedy(const pgml_hnsw_graph *g, hnsw_scratch *s, const float *q, uint32_t *cur, float *curd, int layer)
{
	bool		changed = true;

	while (changed)
	{
		int			nn;

		changed = false;
		nn = copy_links(g, *cur, layer, s->nbuf);
		for (int i = 0; i < nn; i++)
		{
			float		d;

			if (i + 1 < nn)
				prefetch_rec(g, s->nbuf[i + 1]);
			d = dist_q(g, q, s->nbuf[i]);

			if (d < *curd)
			{
				*curd = d;
				*cur = s->nbuf[i];
				changed = true;
			}
		}
	}
}

pgml_status
pgml_hnsw_search(const pgml_hnsw_graph *g, const float *q, int k, int ef, uint32_t *ids, float *dists,
				 int *n_found, pgml_err *err)
{
	hnsw_scratch s;
	uint32_t	cur;
	float		curd;
	hnsw_cand	ep;
	int			n;

	*n_found = 0;
	if (k < 1)
		return PGML_OK;
	if (ef < k)
		ef = k;
	if (g->entry < 0)
		return PGML_OK;
	if (!scratch_init(&s, g->n, ef, g->cap0))
	{
		scratch_release(&s);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	cur = (uint32_t) g->entry;
	curd = dist_q(g, q, cur);
	for (int l = g->top_level; l > 0; l--)
		greedy(g, &s, q, &cur, &curd, l);
	ep.d = curd;
	ep.id = cur;
	n = search_layer(g, &s, g->n, q, &ep, 1, ef, 0);
	if (n == 0)
	{
		scratch_release(&s);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	if (n > k)
		n = k;
	for (int i = 0; i < n; i++)
	{
		ids[i] = s.w[i].id;
		if (dists)
			dists[i] = s.w[i].d;
	}
	*n_found = n;
	scratch_release(&s);
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Insertion
 * ------------------------------------------------------------------------------------------------- */

/* Adds a link from nb to id on layer, pruning nb's list with the heuristic when it is full. */
static void
add_backlink(pgml_hnsw_graph *g, hnsw_scratch *s, uint32_t nb, uint32_t id, int layer)
{
	atomic_uint *lock = lock_of(g, nb);
	uint32_t   *l = links_of(g, nb, layer);
	int			cap = layer == 0 ? g->cap0 : g->capu;
	int			n;
	int			k;

	node_lock(lock);
	n = (int) l[0];
	for (int i = 0; i < n; i++)
		if (l[1 + i] == id)
		{
			node_unlock(lock);
			return;
		}
	if (n < cap)
	{
		l[1 + n] = id;
		l[0] = (uint32_t) (n + 1);
		node_unlock(lock);
		return;
	}
	for (int i = 0; i < n; i++)
		prefetch_rec(g, l[1 + i]);
	for (int i = 0; i < n; i++)
	{
		s->pbuf[i].id = l[1 + i];
		s->pbuf[i].d = dist_ids(g, nb, l[1 + i]);
	}
	s->pbuf[n].id = id;
	s->pbuf[n].d = dist_ids(g, nb, id);
	qsort(s->pbuf, (size_t) n + 1, sizeof(hnsw_cand), cand_cmp);
	k = select_neighbors(g, s, s->pbuf, n + 1, cap);
	for (int i = 0; i < k; i++)
		l[1 + i] = s->pbuf[s->sel[i]].id;
	/* the new element stays: a back-link may be the only way to reach it */
	{
		bool		kept = false;

		for (int i = 0; i < k && !kept; i++)
			kept = l[1 + i] == id;
		if (!kept && k > 0)
			l[k] = id;
	}
	l[0] = (uint32_t) k;
	node_unlock(lock);
}

/* INSERT (Algorithm 1) of an element that was added but not linked. */
static bool
insert_one(pgml_hnsw_graph *g, hnsw_scratch *s, uint32_t id)
{
	int			level = g->nodes[id].level;
	const float *q = fvec_of(g, id);
	bool		hold;
	int64_t		entry;
	int			top;
	uint32_t	cur;
	float		curd;
	int			n_eps = 1;

	pthread_mutex_lock(&g->entry_lock);
	entry = g->entry;
	top = g->top_level;
	if (entry < 0)
	{
		g->entry = id;
		g->top_level = level;
		pthread_mutex_unlock(&g->entry_lock);
		return true;
	}
	hold = level > top;
	if (!hold)
		pthread_mutex_unlock(&g->entry_lock);

	cur = (uint32_t) entry;
	curd = dist_q(g, q, cur);
	for (int l = top; l > level; l--)
		greedy(g, s, q, &cur, &curd, l);
	s->eps[0].d = curd;
	s->eps[0].id = cur;

	for (int l = level < top ? level : top; l >= 0; l--)
	{
		int			n = search_layer(g, s, g->visited_cap, q, s->eps, n_eps, g->p.ef_construction, l);
		int			cap = l == 0 ? g->sel0 : g->capu;
		int			k;
		uint32_t   *own;
		atomic_uint *lock = lock_of(g, id);

		if (n == 0)
		{
			if (hold)
				pthread_mutex_unlock(&g->entry_lock);
			return false;
		}
		/* the element itself can be found through a concurrent insert's back-link: skip it */
		{
			int			kept = 0;

			for (int i = 0; i < n; i++)
				if (s->w[i].id != id)
					s->w[kept++] = s->w[i];
			n = kept;
		}
		k = select_neighbors(g, s, s->w, n, cap);
		own = links_of(g, id, l);
		node_lock(lock);
		{
			/* keep back-links concurrent inserts already added to this list, room permitting */
			int			n_old = (int) own[0];
			int			total = k;
			int			lcap = l == 0 ? g->cap0 : g->capu;

			memcpy(s->nbuf, own + 1, (size_t) n_old * sizeof(uint32_t));
			for (int i = 0; i < k; i++)
				own[1 + i] = s->w[s->sel[i]].id;
			for (int j = 0; j < n_old && total < lcap; j++)
			{
				bool		dup = false;

				for (int i = 0; i < total && !dup; i++)
					dup = own[1 + i] == s->nbuf[j];
				if (!dup)
					own[1 + total++] = s->nbuf[j];
			}
			own[0] = (uint32_t) total;
		}
		node_unlock(lock);
		/* add_backlink's pruning reuses s->sel: take the chosen ids out first */
		for (int i = 0; i < k; i++)
			s->picked[i] = s->w[s->sel[i]].id;
		for (int i = 0; i < k; i++)
			add_backlink(g, s, s->picked[i], id, l);
		if (n > 0)
		{
			memcpy(s->eps, s->w, (size_t) n * sizeof(hnsw_cand));
			n_eps = n;
		}
	}
	if (hold)
	{
		g->entry = id;
		g->top_level = level;
		pthread_mutex_unlock(&g->entry_lock);
	}
	return true;
}

typedef struct link_job
{
	pgml_hnsw_graph *g;
	size_t		base;
	size_t		count;
	atomic_size_t next;			/* the next element to insert, relative to base */
	atomic_bool failed;
} link_job;

/*
 * Inserts elements taken one at a time from the job's counter until none is left. The parallel-for
 * runs this once per participant, so no participant waits while another finishes a long chunk; with one
 * thread the elements go in in order.
 */
static void
link_fn(void *ctx, size_t begin, size_t end, int worker)
{
	link_job   *job = ctx;
	pgml_hnsw_graph *g = job->g;
	hnsw_scratch *s = &g->scratch[worker];
	size_t		done = 0;

	(void) begin;
	(void) end;
	for (;;)
	{
		size_t		i = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);

		if (i >= job->count || atomic_load_explicit(&job->failed, memory_order_relaxed))
			return;
		if (++done % 64 == 0 && pgml_should_stop())
			return;
		if (!insert_one(g, s, (uint32_t) (job->base + i)))
		{
			atomic_store(&job->failed, true);
			return;
		}
	}
}

/* Makes sure every pool participant has scratch space for a graph of g->n elements. */
static pgml_status
ensure_scratch(pgml_hnsw_graph *g, int parts, pgml_err *err)
{
	if (g->scratch != NULL && g->n_scratch >= parts && g->visited_cap >= g->n)
		return PGML_OK;
	free_scratch(g);
	g->scratch = pgml_calloc((size_t) parts, sizeof(hnsw_scratch));
	if (g->scratch == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	g->n_scratch = parts;
	g->visited_cap = g->n;
	for (int i = 0; i < parts; i++)
		if (!scratch_init(&g->scratch[i], g->visited_cap, g->p.ef_construction, g->cap0))
		{
			free_scratch(g);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
	return PGML_OK;
}

pgml_status
pgml_hnsw_link_range(pgml_hnsw_graph *g, pgml_pool *pool, size_t begin, size_t end, pgml_err *err)
{
	link_job	job;
	pgml_status rc;

	if (begin != g->n_linked || end > g->n || begin > end)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "hnsw: elements must be linked in order");
	if (begin == end)
		return PGML_OK;
	rc = ensure_scratch(g, pgml_pool_size(pool), err);
	if (rc != PGML_OK)
		return rc;

	/* the first element only becomes the entry point: link it alone so the rest have somewhere to start */
	if (g->entry < 0)
	{
		if (!insert_one(g, &g->scratch[0], (uint32_t) begin))
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		begin++;
		g->n_linked = begin;
	}
	job.g = g;
	job.base = begin;
	job.count = end - begin;
	atomic_init(&job.next, 0);
	atomic_init(&job.failed, false);
	rc = pgml_parallel_for(pool, (size_t) pgml_pool_size(pool), 1, link_fn, &job, err);
	if (rc != PGML_OK)
		return rc;
	if (atomic_load(&job.failed))
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	g->n_linked = end;
	return PGML_OK;
}

pgml_status
pgml_hnsw_link(pgml_hnsw_graph *g, pgml_pool *pool, pgml_err *err)
{
	while (g->n_linked < g->n)
	{
		size_t		end = g->n - g->n_linked > LINK_BATCH ? g->n_linked + LINK_BATCH : g->n;
		pgml_status rc = pgml_hnsw_link_range(g, pool, g->n_linked, end, err);

		if (rc != PGML_OK)
			return rc;
	}
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Accessors
 * ------------------------------------------------------------------------------------------------- */

size_t
pgml_hnsw_count(const pgml_hnsw_graph *g)
{
	return g->n;
}

size_t
pgml_hnsw_linked(const pgml_hnsw_graph *g)
{
	return g->n_linked;
}

size_t
pgml_hnsw_bytes(const pgml_hnsw_graph *g)
{
	return g->bytes;
}

int
pgml_hnsw_level(const pgml_hnsw_graph *g, uint32_t id)
{
	return id < g->n ? g->nodes[id].level : -1;
}

const float *
pgml_hnsw_vector(const pgml_hnsw_graph *g, uint32_t id)
{
	return id < g->n ? fvec_of(g, id) : NULL;
}

uint64_t
pgml_hnsw_payload(const pgml_hnsw_graph *g, uint32_t id)
{
	return id < g->n ? g->nodes[id].payload : 0;
}

int
pgml_hnsw_neighbors(const pgml_hnsw_graph *g, uint32_t id, int layer, const uint32_t **ids)
{
	uint32_t   *l;

	*ids = NULL;
	if (id >= g->n || layer < 0 || layer > g->nodes[id].level)
		return 0;
	l = links_of(g, id, layer);
	*ids = l + 1;
	return (int) l[0];
}

int64_t
pgml_hnsw_entry(const pgml_hnsw_graph *g)
{
	return g->entry;
}
