/*
 * hnswvacuum.c — pgml_hnsw: VACUUM removes dead rows' elements and repairs the graph.
 *
 * Pass 1 (no update lock): every element whose heap row is dead gets the deleted flag. Scans still walk
 * through flagged elements but never return them; inserts never link to them.
 *
 * Pass 2 (update lock exclusive, so no insert runs): every live element with a flagged neighbour gets a
 * new list on that layer, chosen with the heuristic from its live neighbours and the live neighbours of
 * its flagged ones (the elements the deleted one used to connect it to). If the entry point is flagged,
 * the live element with the highest level becomes the entry point.
 *
 * Pass 3 (same lock): flagged elements are removed from their pages (their line pointers become unused
 * for reuse) and the free space goes to the free space map. A scan that read a neighbour list before
 * pass 2 may still reach a removed item: it finds an unused line pointer and skips it.
 */
#include "pgml_pg.h"

#include "hnsw.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

typedef struct DeadSet
{
	uint64	   *keys;			/* sorted once filled */
	int			n,
				cap;
} DeadSet;

static inline uint64
key_of(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumber(tid) << 16) | ItemPointerGetOffsetNumber(tid);
}

static void
dead_add(DeadSet *d, ItemPointer tid)
{
	if (d->n >= d->cap)
	{
		d->cap = d->cap ? d->cap * 2 : 1024;
		d->keys = d->keys ? repalloc_huge(d->keys, sizeof(uint64) * d->cap)
			: MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint64) * d->cap);
	}
	d->keys[d->n++] = key_of(tid);
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return x < y ? -1 : x > y;
}

static bool
dead_has(const DeadSet *d, ItemPointer tid)
{
	uint64		k = key_of(tid);

	return d->n > 0 && bsearch(&k, d->keys, d->n, sizeof(uint64), u64_cmp) != NULL;
}

static int
cand_cmp(const void *a, const void *b)
{
	const HnswCand *x = a;
	const HnswCand *y = b;

	return x->d < y->d ? -1 : x->d > y->d ? 1 : (x->node > y->node) - (x->node < y->node);
}

/* Gives element tid a new neighbour list on layer without its dead neighbours. */
static void
repair_layer(Relation index, const HnswMetaData *meta, const DeadSet *dead, ItemPointer tid, int layer,
			 BufferAccessStrategy strategy)
{
	int			cap = HnswLayerSlots(meta->m, layer);
	int			start = HnswLayerStart(meta->m, layer);
	int			limit = 3 * cap;
	ItemPointerData *cur = palloc(sizeof(ItemPointerData) * cap);
	ItemPointerData *pool = palloc(sizeof(ItemPointerData) * (limit + cap));
	ItemPointerData *nb = palloc(sizeof(ItemPointerData) * cap);
	float	   *base = palloc(sizeof(float) * meta->dim);
	float	  **vecs = palloc(sizeof(float *) * (limit + cap));
	HnswCand   *cands = palloc(sizeof(HnswCand) * (limit + cap));
	int		   *sel = palloc(sizeof(int) * (limit + cap));
	int			n_cur;
	int			n_pool = 0;
	int			nc = 0;
	int			k;
	HnswReader	reader;
	Buffer		buf;
	Page		page;
	HnswElement e;
	GenericXLogState *state;
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	ItemPointer slots;

	HnswReaderInit(&reader, index);
	n_cur = HnswReadNeighbors(&reader, meta, tid, layer, cur, cap);
	if (!HnswLoadVector(&reader, meta, tid, base, NULL, NULL))
	{
		HnswReaderRelease(&reader);
		return;
	}
	/* live neighbours first, then the live neighbours of dead ones, without duplicates */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n_cur; i++)
		{
			bool		is_dead = dead_has(dead, &cur[i]);
			int			nn;

			if (!ItemPointerIsValid(&cur[i]))
				continue;
			if (pass == 0)
			{
				if (!is_dead)
					pool[n_pool++] = cur[i];
				continue;
			}
			if (!is_dead)
				continue;
			nn = HnswReadNeighbors(&reader, meta, &cur[i], layer, nb, cap);
			for (int j = 0; j < nn && n_pool < limit; j++)
			{
				bool		dup = ItemPointerEquals(&nb[j], tid) || !ItemPointerIsValid(&nb[j]) ||
					dead_has(dead, &nb[j]);

				for (int q = 0; q < n_pool && !dup; q++)
					dup = ItemPointerEquals(&pool[q], &nb[j]);
				if (!dup)
					pool[n_pool++] = nb[j];
			}
		}
	for (int i = 0; i < n_pool; i++)
	{
		uint8		level;
		bool		deleted;

		vecs[nc] = palloc(sizeof(float) * meta->dim);
		if (!HnswLoadVector(&reader, meta, &pool[i], vecs[nc], &level, &deleted) || deleted || level < layer)
			continue;
		cands[nc].d = pgml_hnsw_distance(meta->metric, base, vecs[nc], meta->dim);
		cands[nc].node = i;
		nc++;
	}
	HnswReaderRelease(&reader);
	/* sort candidates with their vectors */
	for (int i = 1; i < nc; i++)
		for (int j = i; j > 0 && cand_cmp(&cands[j - 1], &cands[j]) > 0; j--)
		{
			HnswCand	tc = cands[j];
			float	   *tv = vecs[j];

			cands[j] = cands[j - 1];
			cands[j - 1] = tc;
			vecs[j] = vecs[j - 1];
			vecs[j - 1] = tv;
		}
	{
		float	   *dists = palloc(sizeof(float) * Max(nc, 1));

		for (int i = 0; i < nc; i++)
			dists[i] = cands[i].d;
		k = pgml_hnsw_select(meta->metric, meta->dim, (const float *const *) vecs, dists, nc, cap, cap / 2, sel);
	}

	buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	HnswCheckPage(index, BufferGetPage(buf), blkno, HNSW_PAGE_ELEMENTS);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	e = HnswGetElement(index, meta, page, blkno, ItemPointerGetOffsetNumber(tid), true);
	if (e == NULL || e->level < layer)
	{
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		return;
	}
	slots = HnswElementSlots(e, meta->dim, meta->storage) + start;
	for (int i = 0; i < k; i++)
		slots[i] = pool[cands[sel[i]].node];
	for (int i = k; i < cap; i++)
		ItemPointerSetInvalid(&slots[i]);
	e->counts[layer] = (uint16) k;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, IndexBulkDeleteCallback callback,
			   void *callback_state)
{
	Relation	index = info->index;
	HnswMetaData meta;
	BlockNumber nblocks;
	DeadSet		dead = {0};
	ItemPointerData best;
	int			best_level = -1;
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "pgml_hnsw vacuum", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);

	if (stats == NULL)
	{
		MemoryContextSwitchTo(old);
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		MemoryContextSwitchTo(tmp);
	}
	HnswReadMeta(index, &meta);
	ItemPointerSetInvalid(&best);

	/* pass 1: flag the elements of dead rows */
	nblocks = RelationGetNumberOfBlocks(index);
	stats->num_index_tuples = 0;
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		GenericXLogState *state = NULL;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageIsNew(page))
		{
			/* being added by an insert, or left by a crash in between: no elements */
			UnlockReleaseBuffer(buf);
			continue;
		}
		HnswCheckPage(index, page, blkno, HNSW_PAGE_ELEMENTS);
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			HnswElement e = HnswGetElement(index, &meta, page, blkno, off, true);
			ItemPointerData tid;

			if (e == NULL)
				continue;
			ItemPointerSet(&tid, blkno, off);
			if (!(e->flags & HNSW_ELEMENT_DELETED) && callback(&e->heaptid, callback_state))
			{
				if (state == NULL)
				{
					state = GenericXLogStart(index);
					page = GenericXLogRegisterBuffer(state, buf, 0);
					e = HnswGetElement(index, &meta, page, blkno, off, false);
				}
				e->flags |= HNSW_ELEMENT_DELETED;
				stats->tuples_removed++;
			}
			if (e->flags & HNSW_ELEMENT_DELETED)
				dead_add(&dead, &tid);
			else
			{
				stats->num_index_tuples++;
				if (e->level > best_level)
				{
					best_level = e->level;
					best = tid;
				}
			}
		}
		if (state)
			GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
	}
	stats->num_pages = nblocks;
	if (dead.n == 0)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(tmp);
		return stats;
	}
	qsort(dead.keys, dead.n, sizeof(uint64), u64_cmp);

	LockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
	HnswReadMeta(index, &meta);

	/* the entry point */
	if (meta.entry_blkno != InvalidBlockNumber)
	{
		ItemPointerData entry;

		ItemPointerSet(&entry, meta.entry_blkno, meta.entry_offno);
		if (dead_has(&dead, &entry))
		{
			if (ItemPointerIsValid(&best))
				HnswUpdateMetaEntry(index, &best, best_level, false);
			else
				HnswUpdateMetaEntry(index, NULL, -1, false);
		}
	}

	/* pass 2: repair the lists that point at flagged elements */
	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		int			n_fix = 0;
		ItemPointerData fix_tid[MaxOffsetNumber / 8];
		int			fix_layer[MaxOffsetNumber / 8];
		OffsetNumber maxoff;
		OffsetNumber off;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (PageIsNew(page))
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		HnswCheckPage(index, page, blkno, HNSW_PAGE_ELEMENTS);
		maxoff = PageGetMaxOffsetNumber(page);
		for (off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElement e = HnswGetElement(index, &meta, page, blkno, off, true);
			ItemPointer slots;

			if (e == NULL || (e->flags & HNSW_ELEMENT_DELETED))
				continue;
			slots = HnswElementSlots(e, meta.dim, meta.storage);
			for (int l = 0; l <= e->level; l++)
			{
				bool		bad = false;

				for (int i = 0; i < e->counts[l] && !bad; i++)
					bad = dead_has(&dead, &slots[HnswLayerStart(meta.m, l) + i]);
				if (bad)
				{
					if (n_fix >= lengthof(fix_tid))
						break;
					ItemPointerSet(&fix_tid[n_fix], blkno, off);
					fix_layer[n_fix++] = l;
				}
			}
			if (n_fix >= lengthof(fix_tid))
				break;
		}
		UnlockReleaseBuffer(buf);
		for (int i = 0; i < n_fix; i++)
		{
			MemoryContext rctx = AllocSetContextCreate(CurrentMemoryContext, "repair", ALLOCSET_SMALL_SIZES);
			MemoryContext prev = MemoryContextSwitchTo(rctx);

			repair_layer(index, &meta, &dead, &fix_tid[i], fix_layer[i], info->strategy);
			MemoryContextSwitchTo(prev);
			MemoryContextDelete(rctx);
		}
		/* a page with more to fix than fit the arrays: go over it again */
		if (n_fix >= lengthof(fix_tid))
			blkno--;
	}

	/* pass 3: remove the flagged elements */
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		GenericXLogState *state = NULL;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageIsNew(page))
		{
			/* being added by an insert, or left by a crash in between: no elements */
			UnlockReleaseBuffer(buf);
			continue;
		}
		HnswCheckPage(index, page, blkno, HNSW_PAGE_ELEMENTS);
		for (OffsetNumber off = PageGetMaxOffsetNumber(page); off >= FirstOffsetNumber; off--)
		{
			HnswElement e = HnswGetElement(index, &meta, page, blkno, off, true);

			if (e == NULL || !(e->flags & HNSW_ELEMENT_DELETED))
				continue;
			if (state == NULL)
			{
				state = GenericXLogStart(index);
				page = GenericXLogRegisterBuffer(state, buf, 0);
			}
			PageIndexTupleDeleteNoCompact(page, off);
			PageSetHasFreeLinePointers(page);
		}
		if (state)
		{
			Size		avail = PageGetFreeSpace(page);

			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			RecordPageWithFreeSpace(index, blkno, avail);
		}
		else
			UnlockReleaseBuffer(buf);
	}
	UnlockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
	IndexFreeSpaceMapVacuum(index);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	return stats;
}

IndexBulkDeleteResult *
hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_pages = RelationGetNumberOfBlocks(info->index);
		stats->num_index_tuples = info->num_heap_tuples;
		stats->estimated_count = info->estimated_count;
	}
	return stats;
}
