/*
 * ivfflatscan.c — ORDER BY scans of a pgml_ivfflat index.
 *
 * On the first call the query is compared with every center (cached per relation) and the lists are
 * ranked. The nearest pgml.ivfflat_probes lists are read page by page: each entry's distance is computed
 * and kept with its heap TID; no buffer stays pinned once a page is read. The candidates form a min-heap
 * that amgettuple pops, nearest first.
 *
 * Iterative scan (pgml.ivfflat_iterative_scan = relaxed_order): when the heap runs dry (a WHERE clause
 * rejected the rows so far), the next batch of lists is read, as many as the first, until
 * pgml.ivfflat_max_probes lists have been probed. Each batch comes out in order, but a row of a later
 * batch can be nearer than one already returned: the order is relaxed.
 */
#include "pgml_pg.h"

#include <math.h>

#include "access/relscan.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "ivfflat.h"

typedef struct IvfflatCandidate
{
	float		distance;
	ItemPointerData tid;
} IvfflatCandidate;

typedef struct IvfflatScanOpaqueData
{
	MemoryContext ctx;			/* the scan's memory, reset by rescan */
	bool		started;
	IvfflatCache *cache;
	float	   *query;			/* (dims) float32, normalized for cosine */
	char	   *qelems;			/* the query in the element type */
	uint32	   *order;			/* (lists) lists nearest first; first nranked valid */
	float	   *cdist;			/* (lists) scratch for ranking */
	int			nranked;
	int			probed;			/* lists read so far */
	int			batch;			/* lists per batch */
	int			maxProbes;
	IvfflatCandidate *heap;		/* min-heap by distance */
	int			nheap;
	int			capacity;
} IvfflatScanOpaqueData;

typedef IvfflatScanOpaqueData *IvfflatScanOpaque;

static inline bool
cand_less(const IvfflatCandidate *a, const IvfflatCandidate *b)
{
	if (a->distance != b->distance)
		return a->distance < b->distance;
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid) < 0;
}

static void
heap_sift_down(IvfflatCandidate *h, int n, int i)
{
	IvfflatCandidate x = h[i];

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && cand_less(&h[c + 1], &h[c]))
			c++;
		if (!cand_less(&h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

static void
heap_build(IvfflatCandidate *h, int n)
{
	for (int i = n / 2 - 1; i >= 0; i--)
		heap_sift_down(h, n, i);
}

static void
add_candidate(IvfflatScanOpaque so, float distance, ItemPointer tid)
{
	if (so->nheap == so->capacity)
	{
		int			newcap = so->capacity * 2;

		if ((Size) newcap * sizeof(IvfflatCandidate) > MaxAllocHugeSize / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many candidates in a pgml_ivfflat scan")));
		so->heap = repalloc_huge(so->heap, (Size) newcap * sizeof(IvfflatCandidate));
		so->capacity = newcap;
	}
	so->heap[so->nheap].distance = distance;
	so->heap[so->nheap].tid = *tid;
	so->nheap++;
}

/* Reads every entry of one list into the candidate heap (not yet heapified). */
static void
read_list(IndexScanDesc scan, int list)
{
	IvfflatScanOpaque so = (IvfflatScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	const IvfflatShape *shape = &so->cache->shape;
	Size		esize = IVFFLAT_ENTRY_SIZE(shape->dims, shape->elsize);
	BlockNumber blkno = so->cache->startPages[list];
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BlockNumber hops = 0;

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;

		if (blkno >= nblocks && blkno >= (nblocks = RelationGetNumberOfBlocks(index)))
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a list that links to block %u, out of range",
							RelationGetRelationName(index), blkno)));
		if (++hops > nblocks)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a list whose pages form a cycle", RelationGetRelationName(index))));
		CHECK_FOR_INTERRUPTS();

		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = IvfflatCheckPage(index, buf, IVFFLAT_PAGE_ENTRY);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off))
		{
			ItemId		iid = PageGetItemId(page, off);
			IvfflatEntryData *e;

			if (!ItemIdIsNormal(iid))
				continue;
			if (ItemIdGetLength(iid) != esize)
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("index \"%s\" has an entry of the wrong size at block %u, item %u",
								RelationGetRelationName(index), blkno, off)));
			e = (IvfflatEntryData *) PageGetItem(page, iid);
			add_candidate(so, IvfflatEntryDistance(shape, so->qelems, e->x), &e->heaptid);
		}
		blkno = IvfflatPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
}

/* Reads the next batch of lists; false when no list is left to probe. */
static bool
probe_more(IndexScanDesc scan)
{
	IvfflatScanOpaque so = (IvfflatScanOpaque) scan->opaque;
	const IvfflatShape *shape = &so->cache->shape;
	int			until = Min(so->probed + so->batch, so->maxProbes);
	MemoryContext old;

	if (so->probed >= until)
		return false;
	old = MemoryContextSwitchTo(so->ctx);
	if (until > so->nranked)
	{
		pgml_ivf_rank_centers(shape->metric, so->cache->centers, shape->lists, shape->dims, so->query,
							  so->maxProbes, so->order, so->cdist);
		so->nranked = so->maxProbes;
	}
	so->nheap = 0;
	for (; so->probed < until; so->probed++)
		read_list(scan, (int) so->order[so->probed]);
	heap_build(so->heap, so->nheap);
	MemoryContextSwitchTo(old);
	return true;
}

IndexScanDesc
ivfflatbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	IvfflatScanOpaque so = palloc0(sizeof(IvfflatScanOpaqueData));

	so->ctx = AllocSetContextCreate(CurrentMemoryContext, "pgml_ivfflat scan", ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	return scan;
}

void
ivfflatrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	IvfflatScanOpaque so = (IvfflatScanOpaque) scan->opaque;

	MemoryContextReset(so->ctx);
	so->started = false;
	so->heap = NULL;
	so->nheap = 0;
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
}

/* Sets up the query and reads the first batch of lists. */
static void
start_scan(IndexScanDesc scan)
{
	IvfflatScanOpaque so = (IvfflatScanOpaque) scan->opaque;
	IvfflatShape *shape;
	MemoryContext old;
	int			probes;

	if (scan->numberOfOrderBys == 0 || scan->orderByData[0].sk_attno != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pgml_ivfflat index scans need an ORDER BY on a distance operator")));

	so->cache = IvfflatGetCache(scan->indexRelation);
	shape = &so->cache->shape;
	old = MemoryContextSwitchTo(so->ctx);
	so->query = palloc0(sizeof(float) * shape->dims);
	so->qelems = palloc0((Size) shape->dims * shape->elsize);
	/* a NULL query orders every row the same (by NULL): any rows, in any order, are right */
	if (!(scan->orderByData[0].sk_flags & SK_ISNULL))
		(void) IvfflatDatumToFloats(shape, scan->orderByData[0].sk_argument, so->query);
	/* a zero query under cosine stays zero: every distance ties, as cosine_distance gives NaN for all */
	IvfflatFloatsToElems(shape, so->query, so->qelems);

	probes = Min(pgml_ivfflat_probes, shape->lists);
	so->batch = probes;
	so->maxProbes = probes;
	if (pgml_ivfflat_iterative_scan != IVFFLAT_ITERATIVE_OFF)
		so->maxProbes = Max(probes, Min(pgml_ivfflat_max_probes, shape->lists));
	so->order = palloc(sizeof(uint32) * so->maxProbes);
	so->cdist = MemoryContextAllocHuge(so->ctx, sizeof(float) * shape->lists);
	so->nranked = 0;
	so->probed = 0;
	so->capacity = 1024;
	so->heap = palloc(sizeof(IvfflatCandidate) * so->capacity);
	so->nheap = 0;
	MemoryContextSwitchTo(old);

	/* rank only what the first batch needs; an iterative scan ranks the rest when it gets there */
	old = MemoryContextSwitchTo(so->ctx);
	pgml_ivf_rank_centers(shape->metric, so->cache->centers, shape->lists, shape->dims, so->query, probes,
						  so->order, so->cdist);
	so->nranked = probes;
	MemoryContextSwitchTo(old);
	probe_more(scan);
	so->started = true;
	pgstat_count_index_scan(scan->indexRelation);
}

bool
ivfflatgettuple(IndexScanDesc scan, ScanDirection dir)
{
	IvfflatScanOpaque so = (IvfflatScanOpaque) scan->opaque;

	if (!so->started)
		start_scan(scan);

	while (so->nheap == 0)
	{
		if (!probe_more(scan))
			return false;
	}
	scan->xs_heaptid = so->heap[0].tid;
	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;
	so->nheap--;
	if (so->nheap > 0)
	{
		so->heap[0] = so->heap[so->nheap];
		heap_sift_down(so->heap, so->nheap, 0);
	}
	return true;
}

void
ivfflatendscan(IndexScanDesc scan)
{
	IvfflatScanOpaque so = (IvfflatScanOpaque) scan->opaque;

	MemoryContextDelete(so->ctx);
	pfree(so);
	scan->opaque = NULL;
}
