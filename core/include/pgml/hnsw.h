/*
 * hnsw.h — an in-memory HNSW graph (Malkov & Yashunin, "Efficient and robust approximate nearest
 * neighbor search using Hierarchical Navigable Small World graphs", 2016), built in parallel on the
 * core thread pool.
 *
 * The pgml_hnsw index access method builds its graph here (within maintenance_work_mem) and then writes
 * it to pages; on-disk inserts and vacuum reuse the distance and neighbour-selection helpers below, so
 * both paths build the same kind of graph.
 *
 * Elements are float32 vectors of `dim` dimensions, identified by their ordinal (0, 1, 2, ... in the
 * order they were added) and carrying an opaque 64-bit payload (the glue stores a heap TID there).
 * Layer 0 keeps up to 2·m neighbours per element, upper layers up to m. Levels are drawn from a hash of
 * (seed, ordinal), so with one thread the graph is a deterministic function of the input order.
 *
 * Thread safety: pgml_hnsw_add, _free are single-threaded; pgml_hnsw_link runs its own parallel-for and
 * locks per element; readers (search, accessors) may run once linking has finished.
 */
#ifndef PGML_HNSW_H
#define PGML_HNSW_H

#include "pgml/pgml.h"
#include "pgml/pool.h"

/* The distance an index orders by. Internally: L2 → squared L2, IP and COSINE → −dot, L1 → L1. */
typedef enum pgml_hnsw_metric
{
	PGML_HNSW_L2 = 1,
	PGML_HNSW_IP = 2,
	PGML_HNSW_COSINE = 3,		/* vectors are normalized on add; queries must be too */
	PGML_HNSW_L1 = 4,
} pgml_hnsw_metric;

#define PGML_HNSW_MAX_LEVEL 15	/* levels are clamped to [0, max_level] with max_level <= this */
#define PGML_HNSW_MIN_M 2
#define PGML_HNSW_MAX_M 100

typedef struct pgml_hnsw_params
{
	int			dim;			/* 1.. */
	int			m;				/* PGML_HNSW_MIN_M..PGML_HNSW_MAX_M */
	int			ef_construction;	/* >= 2·m recommended, >= 1 required */
	pgml_hnsw_metric metric;
	int			max_level;		/* 0..PGML_HNSW_MAX_LEVEL: levels above are clamped */
	uint64_t	seed;			/* for the level draws */
	size_t		max_bytes;		/* memory budget for vectors and links; 0 = unlimited */
} pgml_hnsw_params;

typedef struct pgml_hnsw_graph pgml_hnsw_graph;

/* Creates an empty graph. */
pgml_status pgml_hnsw_new(const pgml_hnsw_params *params, pgml_hnsw_graph **out, pgml_err *err);
void		pgml_hnsw_free(pgml_hnsw_graph *g);	/* NULL is fine */

/*
 * Appends an element (not yet linked): copies x (dim floats; for COSINE it is normalized, and the caller
 * skips zero vectors). Returns PGML_ERR_LIMIT, with nothing added, once the element would take the
 * graph over max_bytes.
 */
pgml_status pgml_hnsw_add(pgml_hnsw_graph *g, const float *x, uint64_t payload, pgml_err *err);

/* Links the elements that were added but not linked yet, in parallel over pool (NULL: this thread). */
pgml_status pgml_hnsw_link(pgml_hnsw_graph *g, pgml_pool *pool, pgml_err *err);

/* Links elements [begin, end) (in added order; all elements before begin must be linked). */
pgml_status pgml_hnsw_link_range(pgml_hnsw_graph *g, pgml_pool *pool, size_t begin, size_t end,
								 pgml_err *err);

/* Accessors (valid after linking). */
size_t		pgml_hnsw_count(const pgml_hnsw_graph *g);	/* elements added */
size_t		pgml_hnsw_linked(const pgml_hnsw_graph *g);	/* elements linked */
size_t		pgml_hnsw_bytes(const pgml_hnsw_graph *g);	/* memory held */
int			pgml_hnsw_level(const pgml_hnsw_graph *g, uint32_t id);
const float *pgml_hnsw_vector(const pgml_hnsw_graph *g, uint32_t id);
uint64_t	pgml_hnsw_payload(const pgml_hnsw_graph *g, uint32_t id);
/* Neighbours of id at layer: returns their count and points *ids at them (valid until the next link). */
int			pgml_hnsw_neighbors(const pgml_hnsw_graph *g, uint32_t id, int layer, const uint32_t **ids);
/* The entry point (-1 when empty). */
int64_t		pgml_hnsw_entry(const pgml_hnsw_graph *g);

/*
 * Finds the k nearest elements to q (dim floats; normalized for COSINE) with a candidate list of ef
 * (>= k). Writes up to k ids and internal distances, nearest first, and returns how many.
 */
pgml_status pgml_hnsw_search(const pgml_hnsw_graph *g, const float *q, int k, int ef, uint32_t *ids,
							 float *dists, int *n_found, pgml_err *err);

/* ---------------------------------------------------------------------------------------------------
 * Helpers shared with the on-disk index
 * ------------------------------------------------------------------------------------------------- */

/* The internal distance (smaller is nearer): squared L2, −dot (IP and COSINE) or L1. */
float		pgml_hnsw_distance(pgml_hnsw_metric metric, const float *a, const float *b, size_t dim);

/* The same on float16 (IEEE binary16) vectors, as the halfvec index stores them. */
float		pgml_hnsw_distance_f16(pgml_hnsw_metric metric, const uint16_t *a, const uint16_t *b, size_t dim);

/* The distance a user sees for an internal one: √ for L2, 1 + d for COSINE, as is otherwise. */
double		pgml_hnsw_user_distance(pgml_hnsw_metric metric, float internal);

/* The level of element `ordinal` for a graph with m and seed, clamped to max_level. */
int			pgml_hnsw_random_level(uint64_t seed, uint64_t ordinal, int m, int max_level);

/* Normalizes x in place to unit L2 norm; returns false (x unchanged) for a zero vector. */
bool		pgml_hnsw_normalize(float *x, size_t dim);

/*
 * Neighbour selection heuristic (Algorithm 4, SELECT-NEIGHBORS-HEURISTIC, of the HNSW paper): from n
 * candidates sorted nearest first (vecs[i] at internal distance dists[i] from the base element), keep
 * a candidate only when it is nearer to the base than to every candidate kept before it. Writes the
 * indexes of at most m kept candidates to selected (nearest first) and returns how many. When fewer
 * than m pass, the pruned nearest ones fill up to min_keep.
 */
int			pgml_hnsw_select(pgml_hnsw_metric metric, size_t dim, const float *const *vecs,
							 const float *dists, int n, int m, int min_keep, int *selected);

#endif							/* PGML_HNSW_H */
