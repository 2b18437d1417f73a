/*
 * hnswinsert.c — pgml_hnsw: inserting one element into the on-disk graph (aminsert, and the build once
 * the in-memory graph no longer fits maintenance_work_mem).
 *
 * INSERT (Algorithm 1 of the HNSW paper) over pages: greedy descent from the entry point, SEARCH-LAYER
 * with ef_construction on each of the new element's layers, the heuristic to pick m neighbours, then the
 * element is written with its neighbour lists and each neighbour gets a back-link. A back-link is
 * computed from a copy of the neighbour's list taken under a share lock (loading the vectors it needs
 * without holding any lock), then written under an exclusive lock only if the list is still the one it
 * was computed from; otherwise it is recomputed (a few times, then left out: the graph just has one
 * edge fewer). Each page change is one generic WAL record.
 */
#include "pgml_pg.h"

#include "hnsw.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "common/pg_prng.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "pgml/distance.h"

static int
cand_cmp(const void *a, const void *b)
{
	const HnswCand *x = a;
	const HnswCand *y = b;

	return x->d < y->d ? -1 : x->d > y->d ? 1 : (x->node > y->node) - (x->node < y->node);
}

int
HnswSelectNeighbors(const HnswMetaData *meta, const HnswCand *cands, int n, float **vecs, int m, int *sel)
{
	float	   *dists = palloc(sizeof(float) * Max(n, 1));
	int			k;

	for (int i = 0; i < n; i++)
		dists[i] = cands[i].d;
	k = pgml_hnsw_select(meta->metric, meta->dim, (const float *const *) vecs, dists, n, m, m / 2, sel);
	pfree(dists);
	return k;
}

/* Tries to add e to blkno; true (and *out_tid) when it fit. */
static bool
add_to_block(Relation index, BlockNumber blkno, HnswElement e, Size size, ItemPointer out_tid)
{
	Buffer		buf = ReadBuffer(index, blkno);
	Page		page;
	GenericXLogState *state;
	OffsetNumber off;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);

	/*
	 * A new page is one another backend has just extended the index with and not initialized yet (it
	 * holds a pin and is waiting for this lock), or a leftover of a crash in between: not ours to use.
	 */
	if (PageIsNew(page))
	{
		UnlockReleaseBuffer(buf);
		return false;
	}
	HnswCheckPage(index, page, blkno, HNSW_PAGE_ELEMENTS);
	if (PageGetFreeSpace(page) < MAXALIGN(size))
	{
		RecordPageWithFreeSpace(index, blkno, PageGetFreeSpace(page));
		UnlockReleaseBuffer(buf);
		return false;
	}
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	off = PageAddItem(page, (Item) e, size, InvalidOffsetNumber, false, false);
	if (off == InvalidOffsetNumber)
	{
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		return false;
	}
	GenericXLogFinish(state);
	ItemPointerSet(out_tid, blkno, off);
	UnlockReleaseBuffer(buf);
	return true;
}

/* Writes element e (size bytes) to a page with room, extending the index when none has; returns its TID. */
bool
HnswAddElementToPage(Relation index, HnswElement e, Size size, ItemPointer out_tid, BlockNumber hint)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BlockNumber blkno;
	Buffer		buf;
	Page		page;
	GenericXLogState *state;
	OffsetNumber off;

	if (hint != InvalidBlockNumber && hint > HNSW_METAPAGE_BLKNO && hint < nblocks &&
		add_to_block(index, hint, e, size, out_tid))
		return true;
	if (nblocks > 1 && nblocks - 1 != hint && add_to_block(index, nblocks - 1, e, size, out_tid))
		return true;
	for (int tries = 0; tries < 4; tries++)
	{
		blkno = GetPageWithFreeSpace(index, MAXALIGN(size) + sizeof(ItemIdData));
		if (blkno == InvalidBlockNumber || blkno == HNSW_METAPAGE_BLKNO || blkno >= nblocks)
			break;
		if (add_to_block(index, blkno, e, size, out_tid))
			return true;
	}

	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBuffer(index, P_NEW);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	HnswInitPage(page, HNSW_PAGE_ELEMENTS);
	off = PageAddItem(page, (Item) e, size, InvalidOffsetNumber, false, false);
	if (off == InvalidOffsetNumber)
		elog(ERROR, "hnsw: element of %zu bytes does not fit an empty page", size);
	GenericXLogFinish(state);
	ItemPointerSet(out_tid, BufferGetBlockNumber(buf), off);
	UnlockReleaseBuffer(buf);
	return true;
}

/*
 * Adds a link from element nb to tid (whose float32 vector is vec) on layer; when nb's list is full,
 * the heuristic prunes it.
 */
void
HnswAddBacklink(Relation index, const HnswMetaData *meta, ItemPointer nb, ItemPointer tid, const float *vec,
				int layer)
{
	int			cap = HnswLayerSlots(meta->m, layer);
	int			start = HnswLayerStart(meta->m, layer);
	BlockNumber blkno = ItemPointerGetBlockNumber(nb);
	ItemPointerData *old = palloc(sizeof(ItemPointerData) * cap);
	ItemPointerData *fresh = palloc(sizeof(ItemPointerData) * cap);
	float	   *base = palloc(sizeof(float) * meta->dim);
	float	  **vecs = palloc(sizeof(float *) * (cap + 1));
	HnswCand   *cands = palloc(sizeof(HnswCand) * (cap + 1));
	int		   *sel = palloc(sizeof(int) * (cap + 1));
	HnswReader	reader;

	for (int i = 0; i <= cap; i++)
		vecs[i] = palloc(sizeof(float) * meta->dim);
	HnswReaderInit(&reader, index);
	for (int attempt = 0; attempt < 3; attempt++)
	{
		Buffer		buf;
		Page		page;
		HnswElement e;
		int			n;
		int			nf = 0;
		bool		done = false;

		if (blkno >= reader.nblocks)
			reader.nblocks = RelationGetNumberOfBlocks(index);
		if (blkno == HNSW_METAPAGE_BLKNO || blkno >= reader.nblocks)
			break;
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		HnswCheckPage(index, page, blkno, HNSW_PAGE_ELEMENTS);
		e = HnswGetElement(index, meta, page, blkno, ItemPointerGetOffsetNumber(nb), true);
		if (e == NULL || e->level < layer)
		{
			UnlockReleaseBuffer(buf);
			break;
		}
		n = e->counts[layer];
		memcpy(old, HnswElementSlots(e, meta->dim, meta->storage) + start, sizeof(ItemPointerData) * n);
		HnswVectorToFloat(meta, HnswElementVector(e), base);
		LockBuffer(buf, BUFFER_LOCK_UNLOCK);

		for (int i = 0; i < n; i++)
			if (ItemPointerEquals(&old[i], tid))
				done = true;
		if (done)
		{
			ReleaseBuffer(buf);
			break;
		}

		if (n < cap)
		{
			memcpy(fresh, old, sizeof(ItemPointerData) * n);
			fresh[n] = *tid;
			nf = n + 1;
		}
		else
		{
			int			nc = 0;
			int			k;

			/* the candidates: nb's neighbours that still exist, and the new element */
			for (int i = 0; i < n; i++)
			{
				if (!HnswLoadVector(&reader, meta, &old[i], vecs[nc], NULL, NULL))
					continue;
				cands[nc].d = pgml_hnsw_distance(meta->metric, base, vecs[nc], meta->dim);
				cands[nc].node = i;
				nc++;
			}
			memcpy(vecs[nc], vec, sizeof(float) * meta->dim);
			cands[nc].d = pgml_hnsw_distance(meta->metric, base, vec, meta->dim);
			cands[nc].node = n;
			nc++;
			/* sort candidates and their vectors together */
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
			k = HnswSelectNeighbors(meta, cands, nc, vecs, cap, sel);
			for (int i = 0; i < k; i++)
			{
				int			which = cands[sel[i]].node;

				fresh[nf++] = which == n ? *tid : old[which];
			}
			/* the new element stays: a back-link may be the only way to reach it */
			{
				bool		kept = false;

				for (int i = 0; i < nf && !kept; i++)
					kept = ItemPointerEquals(&fresh[i], tid);
				if (!kept && nf > 0)
					fresh[nf - 1] = *tid;
			}
		}

		/* apply if the list is still the one we started from */
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		HnswCheckPage(index, page, blkno, HNSW_PAGE_ELEMENTS);
		e = HnswGetElement(index, meta, page, blkno, ItemPointerGetOffsetNumber(nb), true);
		if (e != NULL && e->level >= layer && e->counts[layer] == n &&
			memcmp(HnswElementSlots(e, meta->dim, meta->storage) + start, old, sizeof(ItemPointerData) * n) == 0)
		{
			GenericXLogState *state = GenericXLogStart(index);
			ItemPointer slots;

			page = GenericXLogRegisterBuffer(state, buf, 0);
			e = HnswGetElement(index, meta, page, blkno, ItemPointerGetOffsetNumber(nb), false);
			slots = HnswElementSlots(e, meta->dim, meta->storage) + start;
			memcpy(slots, fresh, sizeof(ItemPointerData) * nf);
			for (int i = nf; i < cap; i++)
				ItemPointerSetInvalid(&slots[i]);
			e->counts[layer] = (uint16) nf;
			GenericXLogFinish(state);
			done = true;
		}
		UnlockReleaseBuffer(buf);
		if (done)
			break;
	}
	HnswReaderRelease(&reader);
}

/* A random level with P(level >= l) = m^-l, clamped to max_level. */
static int
random_level(int m, int max_level)
{
	double		u = 1.0 - pg_prng_double(&pg_global_prng_state);	/* (0, 1] */
	int			level = (int) floor(-log(u) / log((double) m));

	return Min(Max(level, 0), max_level);
}

/*
 * Inserts one element. vec is float32 (normalized for cosine), heaptid its row. Takes the update lock
 * itself. meta_in may be NULL (the metapage is read).
 */
void
HnswInsertOnDisk(Relation index, const HnswMetaData *meta_in, float *vec, ItemPointer heaptid, bool building)
{
	HnswMetaData meta;
	LOCKMODE	mode = ShareLock;
	int			level;
	Size		size;
	HnswElement e;
	void	   *svec;
	ItemPointerData entry;
	ItemPointerData newtid;
	ItemPointerData **chosen;
	int		   *n_chosen;
	int			top;
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "pgml_hnsw insert", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);

	LockPage(index, HNSW_UPDATE_LOCK, mode);
	HnswReadMeta(index, &meta);
	level = random_level(meta.m, meta.max_level);
	if (meta.entry_blkno == InvalidBlockNumber || level > meta.entry_level)
	{
		UnlockPage(index, HNSW_UPDATE_LOCK, mode);
		mode = ExclusiveLock;
		LockPage(index, HNSW_UPDATE_LOCK, mode);
		HnswReadMeta(index, &meta);
	}

	/* the element in storage format, with empty neighbour lists */
	if (meta.storage == HNSW_STORAGE_F16)
	{
		uint16	   *h = palloc(sizeof(uint16) * meta.dim);

		pgml_f32_to_f16_n(vec, h, meta.dim);
		svec = h;
	}
	else
		svec = vec;
	size = HnswElementSize(meta.dim, meta.storage, meta.m, level);
	e = palloc0(size);
	HnswSetElementHeader(e, level, heaptid);
	memcpy(HnswElementVector(e), svec, (Size) meta.dim * (meta.storage == HNSW_STORAGE_F16 ? 2 : 4));
	for (int i = 0; i < 2 * meta.m + level * meta.m; i++)
		ItemPointerSetInvalid(&HnswElementSlots(e, meta.dim, meta.storage)[i]);

	chosen = palloc0(sizeof(ItemPointerData *) * (level + 1));
	n_chosen = palloc0(sizeof(int) * (level + 1));
	top = meta.entry_level;
	if (meta.entry_blkno != InvalidBlockNumber)
	{
		HnswSearch	s;
		bool		is_new;
		int			row;
		HnswCand	cur;
		HnswCand   *w = palloc(sizeof(HnswCand) * (meta.ef_construction + 1));
		int			n_w = 0;
		float	  **vecs = palloc(sizeof(float *) * (meta.ef_construction + 1));
		int		   *sel = palloc(sizeof(int) * (meta.ef_construction + 1));
		HnswCand   *cands = palloc(sizeof(HnswCand) * (meta.ef_construction + 1));
		ItemPointerData *eps = palloc(sizeof(ItemPointerData) * (meta.ef_construction + 1));
		int			n_eps = 1;

		for (int i = 0; i <= meta.ef_construction; i++)
			vecs[i] = palloc(sizeof(float) * meta.dim);
		HnswSearchInit(&s, index, &meta, svec, false);
		ItemPointerSet(&entry, meta.entry_blkno, meta.entry_offno);
		row = HnswSearchVisit(&s, &entry, &is_new);
		if (!HnswSearchFillEntry(&s, row))
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" is corrupt: its entry point does not exist",
							RelationGetRelationName(index)),
					 errhint("Rebuild the index with REINDEX.")));
		cur.d = s.nodes[row].d;
		cur.node = row;

		/* greedy descent through the layers above the new element's */
		for (int l = top; l > level; l--)
		{
			bool		changed = true;

			while (changed)
			{
				ItemPointerData curtid = s.nodes[cur.node].tid;
				int			nn = HnswReadNeighbors(&s.reader, &meta, &curtid, l, s.nbuf, s.cap_nbuf);

				changed = false;
				for (int i = 0; i < nn; i++)
				{
					ItemPointerData t = s.nbuf[i];

					if (!ItemPointerIsValid(&t))
						continue;
					row = HnswSearchVisit(&s, &t, &is_new);
					if (is_new && !HnswSearchFillEntry(&s, row))
						continue;
					if (s.nodes[row].d < cur.d)
					{
						cur.d = s.nodes[row].d;
						cur.node = row;
						changed = true;
					}
				}
			}
		}
		eps[0] = s.nodes[cur.node].tid;

		for (int l = Min(level, top); l >= 0; l--)
		{
			int			nc = 0;
			int			k;

			HnswSearchReset(&s);
			for (int i = 0; i < n_eps; i++)
			{
				HnswCand	c;

				row = HnswSearchVisit(&s, &eps[i], &is_new);
				if (!is_new || !HnswSearchFillEntry(&s, row))
					continue;
				c.d = s.nodes[row].d;
				c.node = row;
				HnswSearchEntry(&s, &c, l);
			}
			HnswSearchLayer(&s, meta.ef_construction, l);
			n_w = HnswSearchTake(&s, w);

			/* candidates: the nearest found, without deleted elements, with their vectors */
			for (int i = 0; i < n_w && nc < meta.ef_construction; i++)
			{
				HnswNode   *nd = &s.nodes[w[i].node];

				if (nd->flags & HNSW_NODE_DELETED)
					continue;
				if (!HnswLoadVector(&s.reader, &meta, &nd->tid, vecs[nc], NULL, NULL))
					continue;
				cands[nc++] = w[i];
			}
			k = HnswSelectNeighbors(&meta, cands, nc, vecs, HnswLayerSlots(meta.m, l), sel);
			chosen[l] = palloc(sizeof(ItemPointerData) * Max(k, 1));
			for (int i = 0; i < k; i++)
			{
				chosen[l][i] = s.nodes[cands[sel[i]].node].tid;
				HnswElementSlots(e, meta.dim, meta.storage)[HnswLayerStart(meta.m, l) + i] = chosen[l][i];
			}
			n_chosen[l] = k;
			e->counts[l] = (uint16) k;
			n_eps = 0;
			for (int i = 0; i < n_w; i++)
				eps[n_eps++] = s.nodes[w[i].node].tid;
			if (n_eps == 0)
			{
				eps[0] = s.nodes[cur.node].tid;
				n_eps = 1;
			}
		}
		HnswSearchFree(&s);
	}

	HnswAddElementToPage(index, e, size, &newtid, meta.insert_blkno);

	for (int l = Min(level, top); l >= 0; l--)
		for (int i = 0; i < n_chosen[l]; i++)
			HnswAddBacklink(index, &meta, &chosen[l][i], &newtid, vec, l);

	if (meta.entry_blkno == InvalidBlockNumber || level > meta.entry_level)
		HnswUpdateMetaEntry(index, &newtid, level, false);

	UnlockPage(index, HNSW_UPDATE_LOCK, mode);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
}

/* aminsert */
bool
hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
		   IndexUniqueCheck checkUnique, bool indexUnchanged, struct IndexInfo *indexInfo)
{
	HnswMetaData meta;
	MemoryContext tmp;
	MemoryContext old;
	bool		ok;
	void	   *v;

	if (isnull[0])
		return false;
	tmp = AllocSetContextCreate(CurrentMemoryContext, "pgml_hnsw aminsert", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(tmp);
	HnswReadMeta(index, &meta);
	v = HnswPrepareVector(index, &meta, values[0], &ok);
	if (ok)
	{
		float	   *f = palloc(sizeof(float) * meta.dim);

		HnswVectorToFloat(&meta, v, f);
		HnswInsertOnDisk(index, &meta, f, heap_tid, false);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	return false;
}
