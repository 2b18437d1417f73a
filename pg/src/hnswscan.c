/*
 * hnswscan.c — pgml_hnsw: ORDER BY distance scans, plain and iterative.
 *
 * The first amgettuple descends greedily from the entry point to layer 1, then runs SEARCH-LAYER on
 * layer 0 with ef = pgml.hnsw_ef_search and hands out the ef nearest, nearest first, with their exact
 * distances (xs_recheckorderby is false: the distance is computed from the stored vector).
 *
 * Iterative scans (pgml.hnsw_iterative_scan, as pgvector 0.8): when the executor wants more rows than a
 * round gave (a WHERE clause filtered them), the next round starts where the last stopped: the
 * elements seen but not handed out (the discarded heap, nearest first) become the new nearest set,
 * the unexpanded candidates are kept, and the search goes on with the same ef. It ends when nothing is
 * left to expand or pgml.hnsw_max_scan_tuples elements have been visited. A later round can find rows
 * nearer than ones already returned; relaxed_order returns them anyway (the executor may re-sort),
 * strict_order skips them so the output is always ordered.
 */
#include "pgml_pg.h"

#include "hnsw.h"
#include "vector.h"

#include <math.h>

#include "access/relscan.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

typedef struct HnswScanOpaqueData
{
	MemoryContext ctx;			/* everything of one scan; reset by rescan */
	bool		started;
	bool		done;
	HnswMetaData meta;
	void	   *query;
	HnswSearch	s;
	bool		have_search;
	HnswCand   *res;			/* this round's results, nearest first */
	int			n_res,
				pos,
				cap_res;
	int			ef;
	int			iterative;
	int			max_tuples;
	int			rounds;
	float		last;			/* distance of the last row returned (strict order) */
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

IndexScanDesc
hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	so->ctx = AllocSetContextCreate(CurrentMemoryContext, "pgml_hnsw scan", ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	/* the AM owns the ORDER BY value arrays (as GiST does) */
	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	return scan;
}

void
hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (so->have_search)
		HnswSearchFree(&so->s);
	so->have_search = false;
	MemoryContextReset(so->ctx);
	so->res = NULL;
	so->n_res = so->pos = so->cap_res = 0;
	so->rounds = 0;
	so->started = false;
	so->done = false;
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
}

/* One round of layer-0 search; fills so->res. */
static void
run_round(HnswScanOpaque so)
{
	HnswSearch *s = &so->s;

	if (so->rounds > 0)
	{
		/* the nearest elements seen but not returned seed the next round */
		while (s->n_top < so->ef && s->n_disc > 0)
		{
			HnswCand	c = s->disc[0];
			HnswCand	last = s->disc[--s->n_disc];

			/* pop the min of the discarded heap (sift down) */
			{
				int			i = 0;
				int			len = s->n_disc;

				if (len > 0)
				{
					for (;;)
					{
						int			l = 2 * i + 1;
						int			r = l + 1;
						int			best = i;
						float		bd = last.d;

						if (l < len && s->disc[l].d < bd)
						{
							best = l;
							bd = s->disc[l].d;
						}
						if (r < len && s->disc[r].d < bd)
							best = r;
						if (best == i)
							break;
						s->disc[i] = s->disc[best];
						i = best;
					}
					s->disc[i] = last;
				}
			}
			if (s->nodes[c.node].flags & HNSW_NODE_EMITTED)
				continue;
			HnswSearchEntry(s, &c, 0);
		}
	}
	HnswSearchLayer(s, so->ef, 0);
	if (s->n_top > so->cap_res)
	{
		so->cap_res = Max(s->n_top, so->ef + 1);
		so->res = so->res ? repalloc(so->res, sizeof(HnswCand) * so->cap_res)
			: palloc(sizeof(HnswCand) * so->cap_res);
	}
	so->n_res = HnswSearchTake(s, so->res);
	so->pos = 0;
	so->rounds++;
	/* no pin stays behind between calls */
	HnswReaderRelease(&s->reader);
}

/* Starts the search: prepares the query, descends to layer 0, runs the first round. */
static void
start_scan(IndexScanDesc scan, HnswScanOpaque so)
{
	Relation	index = scan->indexRelation;
	HnswSearch *s = &so->s;
	Datum		value;
	bool		ok;
	bool		is_new;
	int			row;
	HnswCand	cur;
	ItemPointerData entry;

	if (scan->numberOfOrderBys == 0 || scan->orderByData == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot scan pgml_hnsw index without ORDER BY")));
	HnswReadMeta(index, &so->meta);
	if (scan->orderByData[0].sk_flags & SK_ISNULL)
	{
		/* ORDER BY distance to NULL: every distance is NULL, any order is right; a zero query works */
		PgmlVector *z = palloc0(PGML_VECTOR_SIZE(so->meta.dim));

		SET_VARSIZE(z, so->meta.storage == HNSW_STORAGE_F16 ? PGML_HALFVEC_SIZE(so->meta.dim)
					: PGML_VECTOR_SIZE(so->meta.dim));
		z->dim = so->meta.dim;
		value = PointerGetDatum(z);
	}
	else
		value = scan->orderByData[0].sk_argument;
	so->query = HnswPrepareVector(index, &so->meta, value, &ok);
	so->ef = pgml_hnsw_ef_search;
	so->iterative = pgml_hnsw_iterative_scan;
	so->max_tuples = pgml_hnsw_max_scan_tuples;
	so->last = -INFINITY;
	if (so->meta.entry_blkno == InvalidBlockNumber)
	{
		so->done = true;
		return;
	}

	HnswSearchInit(s, index, &so->meta, so->query, so->iterative != HNSW_ITERATIVE_OFF);
	so->have_search = true;
	ItemPointerSet(&entry, so->meta.entry_blkno, so->meta.entry_offno);
	row = HnswSearchVisit(s, &entry, &is_new);
	if (!HnswSearchFillEntry(s, row))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is corrupt: its entry point does not exist", RelationGetRelationName(index)),
				 errhint("Rebuild the index with REINDEX.")));
	cur.d = s->nodes[row].d;
	cur.node = row;
	for (int l = so->meta.entry_level; l > 0; l--)
	{
		bool		changed = true;

		while (changed)
		{
			ItemPointerData curtid = s->nodes[cur.node].tid;
			int			nn = HnswReadNeighbors(&s->reader, &so->meta, &curtid, l, s->nbuf, s->cap_nbuf);

			changed = false;
			for (int i = 0; i < nn; i++)
			{
				ItemPointerData t = s->nbuf[i];

				if (!ItemPointerIsValid(&t))
					continue;
				row = HnswSearchVisit(s, &t, &is_new);
				if (is_new && !HnswSearchFillEntry(s, row))
					continue;
				if (s->nodes[row].d < cur.d)
				{
					cur.d = s->nodes[row].d;
					cur.node = row;
					changed = true;
				}
			}
		}
		CHECK_FOR_INTERRUPTS();
	}
	/* layer 0 starts from a clean visited set */
	entry = s->nodes[cur.node].tid;
	HnswSearchReset(s);
	row = HnswSearchVisit(s, &entry, &is_new);
	if (!HnswSearchFillEntry(s, row))
	{
		so->done = true;
		return;
	}
	cur.node = row;
	HnswSearchEntry(s, &cur, 0);
	run_round(so);
}

bool
hnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old = MemoryContextSwitchTo(so->ctx);

	if (!so->started)
	{
		so->started = true;
		start_scan(scan, so);
	}
	while (!so->done)
	{
		while (so->pos < so->n_res)
		{
			HnswCand	c = so->res[so->pos++];
			HnswNode   *nd = &so->s.nodes[c.node];

			if (nd->flags & (HNSW_NODE_EMITTED | HNSW_NODE_DELETED))
				continue;
			nd->flags |= HNSW_NODE_EMITTED;
			if (so->iterative == HNSW_ITERATIVE_STRICT && c.d < so->last)
				continue;
			so->last = c.d;
			scan->xs_heaptid = nd->heaptid;
			scan->xs_recheck = false;
			scan->xs_recheckorderby = false;
			if (scan->numberOfOrderBys > 0)
			{
				scan->xs_orderbyvals[0] = Float8GetDatum(pgml_hnsw_user_distance(so->meta.metric, c.d));
				scan->xs_orderbynulls[0] = false;
			}
			MemoryContextSwitchTo(old);
			return true;
		}
		if (so->iterative == HNSW_ITERATIVE_OFF || !so->have_search ||
			so->s.n_nodes >= so->max_tuples || (so->s.n_cand == 0 && so->s.n_disc == 0))
		{
			so->done = true;
			break;
		}
		run_round(so);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(old);
	return false;
}

void
hnswendscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (so->have_search)
		HnswSearchFree(&so->s);
	MemoryContextDelete(so->ctx);
	pfree(so);
	scan->opaque = NULL;
}
