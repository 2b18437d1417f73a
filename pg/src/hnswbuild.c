/*
 * hnswbuild.c — pgml_hnsw: CREATE INDEX.
 *
 * Two phases, as in any HNSW build that has to live with a memory budget:
 *
 * 1. In memory. The table scan (this backend) converts each vector to float32 and appends it to a core
 *    graph (core/src/index/hnsw.c) whose budget is maintenance_work_mem. Once the scan is done, the
 *    core pool's threads link the elements in parallel (the backend takes part; the workers touch only
 *    the graph, never PostgreSQL). Linking runs in batches so that the backend can report progress and
 *    honour a cancel between them; the pool also polls the cancel flag between chunks.
 *
 * 2. Write. Element TIDs are assigned first (the pages are filled in order, so a TID is known before its
 *    page is written), then each page is filled with elements whose neighbour ids became TIDs, and the
 *    whole relation is WAL-logged at once with log_newpage_range.
 *
 * When the budget runs out during the scan, the graph built so far is linked and written (NOTICE), and
 * every remaining row goes through the on-disk insert path (hnswinsert.c), WAL-logged per page change.
 */
#include "pgml_pg.h"

#include "hnsw.h"

#include "access/generic_xlog.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "pgml/distance.h"

#define LINK_BATCH 1024

typedef struct HnswBuildState
{
	Relation	heap;
	Relation	index;
	HnswMetaData meta;
	pgml_hnsw_graph *graph;
	bool		flushed;		/* the in-memory phase is over */
	double		indtuples;
	float	   *vec;			/* (dim) scratch */
	MemoryContext tmpctx;
} HnswBuildState;

static void
init_meta(Page page, const HnswMetaData *meta)
{
	HnswInitPage(page, HNSW_PAGE_META);
	memcpy(PageGetContents(page), meta, sizeof(HnswMetaData));
	((PageHeader) page)->pd_lower = ((char *) PageGetContents(page) + sizeof(HnswMetaData)) - (char *) page;
}

/* Checks the options and the column and fills the metapage's contents. */
static void
make_meta(Relation index, HnswMetaData *meta)
{
	HnswIndexInfo *info = HnswGetIndexInfo(index);
	int			dim = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	int			m = HnswGetM(index);
	int			efc = HnswGetEfConstruction(index);
	int			max_level;

	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_DEFINITION),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column with dimensions, as in vector(3).")));
	if (efc < 2 * m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m")));
	max_level = HnswMaxLevelFor(dim, info->storage, m);
	if (max_level < 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for pgml_hnsw index with m = %d",
						HnswMaxDimFor(info->storage, m), m),
				 errdetail("An element and its neighbour lists must fit one %d-byte page.", BLCKSZ)));

	memset(meta, 0, sizeof(*meta));
	meta->magic = HNSW_MAGIC;
	meta->version = HNSW_VERSION;
	meta->dim = (uint16) dim;
	meta->m = (uint16) m;
	meta->ef_construction = (uint16) efc;
	meta->metric = (uint8) info->metric;
	meta->storage = (uint8) info->storage;
	meta->max_level = (uint8) max_level;
	meta->entry_blkno = InvalidBlockNumber;
	meta->entry_offno = InvalidOffsetNumber;
	meta->entry_level = -1;
	meta->insert_blkno = InvalidBlockNumber;
}

static inline uint64
tid_to_payload(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumber(tid) << 16) | ItemPointerGetOffsetNumber(tid);
}

static inline void
payload_to_tid(uint64 p, ItemPointer tid)
{
	ItemPointerSet(tid, (BlockNumber) (p >> 16), (OffsetNumber) (p & 0xFFFF));
}

/* Links the graph (in parallel) and writes it to pages after the metapage; frees it. */
static void
flush_graph(HnswBuildState *bs)
{
	pgml_hnsw_graph *g = bs->graph;
	HnswMetaData *meta = &bs->meta;
	size_t		n = pgml_hnsw_count(g);
	ItemPointerData *tids;
	BlockNumber blkno = HNSW_METAPAGE_BLKNO;
	Size		room = 0;
	OffsetNumber off = 0;
	Buffer		buf = InvalidBuffer;
	Page		page = NULL;
	char	   *item;
	pgml_err	err;
	pgml_pool  *pool = pgml_pg_pool();

	/* link */
	for (size_t begin = pgml_hnsw_linked(g); begin < n; begin += LINK_BATCH)
	{
		size_t		end = Min(n, begin + LINK_BATCH);

		pgml_pg_check(pgml_hnsw_link_range(g, pool, begin, end, &err), &err);
		CHECK_FOR_INTERRUPTS();
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) end);
	}

	/* assign TIDs */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_WRITE);
	tids = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ItemPointerData) * Max(n, 1));
	for (size_t i = 0; i < n; i++)
	{
		Size		sz = MAXALIGN(HnswElementSize(meta->dim, meta->storage, meta->m,
												  pgml_hnsw_level(g, (uint32) i))) + sizeof(ItemIdData);

		if (sz > room)
		{
			blkno++;
			room = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(HnswPageOpaqueData));
			off = FirstOffsetNumber;
		}
		ItemPointerSet(&tids[i], blkno, off);
		off++;
		room -= sz;
	}

	/* write */
	item = palloc(BLCKSZ);
	for (size_t i = 0; i < n; i++)
	{
		uint32		id = (uint32) i;
		int			level = pgml_hnsw_level(g, id);
		Size		size = HnswElementSize(meta->dim, meta->storage, meta->m, level);
		HnswElement e = (HnswElement) item;
		ItemPointerData heaptid;
		ItemPointer slots;
		OffsetNumber got;

		if (!BufferIsValid(buf) || ItemPointerGetBlockNumber(&tids[i]) != BufferGetBlockNumber(buf))
		{
			if (BufferIsValid(buf))
			{
				MarkBufferDirty(buf);
				UnlockReleaseBuffer(buf);
			}
			buf = ReadBufferExtended(bs->index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
			if (BufferGetBlockNumber(buf) != ItemPointerGetBlockNumber(&tids[i]))
				elog(ERROR, "hnsw: unexpected block %u while writing block %u", BufferGetBlockNumber(buf),
					 ItemPointerGetBlockNumber(&tids[i]));
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			page = BufferGetPage(buf);
			HnswInitPage(page, HNSW_PAGE_ELEMENTS);
			CHECK_FOR_INTERRUPTS();
		}
		memset(item, 0, size);
		payload_to_tid(pgml_hnsw_payload(g, id), &heaptid);
		HnswSetElementHeader(e, level, &heaptid);
		if (meta->storage == HNSW_STORAGE_F16)
			pgml_f32_to_f16_n(pgml_hnsw_vector(g, id), HnswElementVector(e), meta->dim);
		else
			memcpy(HnswElementVector(e), pgml_hnsw_vector(g, id), sizeof(float) * meta->dim);
		slots = HnswElementSlots(e, meta->dim, meta->storage);
		for (int s = 0; s < 2 * meta->m + level * meta->m; s++)
			ItemPointerSetInvalid(&slots[s]);
		for (int l = 0; l <= level; l++)
		{
			const uint32 *nb;
			int			c = pgml_hnsw_neighbors(g, id, l, &nb);

			c = Min(c, HnswLayerSlots(meta->m, l));
			for (int k = 0; k < c; k++)
				slots[HnswLayerStart(meta->m, l) + k] = tids[nb[k]];
			e->counts[l] = (uint16) c;
		}
		got = PageAddItem(page, (Item) e, size, InvalidOffsetNumber, false, false);
		if (got != ItemPointerGetOffsetNumber(&tids[i]))
			elog(ERROR, "hnsw: element landed at offset %u instead of %u", got,
				 ItemPointerGetOffsetNumber(&tids[i]));
	}
	if (BufferIsValid(buf))
	{
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}

	/* the entry point */
	if (pgml_hnsw_entry(g) >= 0)
	{
		ItemPointer ep = &tids[pgml_hnsw_entry(g)];

		meta->entry_blkno = ItemPointerGetBlockNumber(ep);
		meta->entry_offno = ItemPointerGetOffsetNumber(ep);
		meta->entry_level = (int16) pgml_hnsw_level(g, (uint32) pgml_hnsw_entry(g));
		meta->insert_blkno = blkno > HNSW_METAPAGE_BLKNO ? blkno : InvalidBlockNumber;
	}
	buf = ReadBuffer(bs->index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	init_meta(BufferGetPage(buf), meta);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	if (RelationNeedsWAL(bs->index))
		log_newpage_range(bs->index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(bs->index), true);

	pfree(tids);
	pfree(item);
	pgml_hnsw_free(g);
	bs->graph = NULL;
	bs->flushed = true;
}

static void
build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = state;
	MemoryContext old;
	void	   *v;
	bool		ok;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(bs->tmpctx);
	v = HnswPrepareVector(index, &bs->meta, values[0], &ok);
	if (ok)
	{
		HnswVectorToFloat(&bs->meta, v, bs->vec);
		if (!bs->flushed)
		{
			pgml_err	err;
			pgml_status rc = pgml_hnsw_add(bs->graph, bs->vec, tid_to_payload(tid), &err);

			if (rc == PGML_ERR_LIMIT)
			{
				ereport(NOTICE,
						(errmsg("hnsw graph no longer fits into maintenance_work_mem after %.0f tuples",
								bs->indtuples),
						 errdetail("Building will take significantly more time."),
						 errhint("Increase maintenance_work_mem to speed up builds.")));
				MemoryContextSwitchTo(old);
				flush_graph(bs);
				old = MemoryContextSwitchTo(bs->tmpctx);
				pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_LOAD);
			}
			else
				pgml_pg_check(rc, &err);
		}
		if (bs->flushed)
			HnswInsertOnDisk(index, NULL, bs->vec, tid, true);
		bs->indtuples++;
		if (((uint64) bs->indtuples & 1023) == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpctx);
}

/* Frees the core graph when the build's context goes away (an ERROR or a cancel included). */
static void
free_graph_cb(void *arg)
{
	HnswBuildState *bs = arg;

	pgml_hnsw_free(bs->graph);
	bs->graph = NULL;
}

IndexBuildResult *
hnswbuild(Relation heap, Relation index, struct IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState *bs;
	pgml_hnsw_params params;
	pgml_err	err;
	Buffer		buf;
	double		reltuples;
	MemoryContextCallback *cb;
	Size		budget;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_INITIALIZE);

	bs = palloc0(sizeof(HnswBuildState));
	bs->heap = heap;
	bs->index = index;
	make_meta(index, &bs->meta);
	bs->vec = palloc(sizeof(float) * bs->meta.dim);
	bs->tmpctx = AllocSetContextCreate(CurrentMemoryContext, "pgml_hnsw build tuple", ALLOCSET_DEFAULT_SIZES);

	/* the metapage first, so that block 0 is the metapage whatever follows */
	buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
	Assert(BufferGetBlockNumber(buf) == HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	init_meta(BufferGetPage(buf), &bs->meta);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	budget = (Size) maintenance_work_mem * 1024;
	params.dim = bs->meta.dim;
	params.m = bs->meta.m;
	params.ef_construction = bs->meta.ef_construction;
	params.metric = (pgml_hnsw_metric) bs->meta.metric;
	params.max_level = bs->meta.max_level;
	params.seed = 0x9E3779B97F4A7C15ULL;
	/* the scratch of each pool participant (a visited array, heaps) comes on top */
	params.max_bytes = budget > 1024 * 1024 ? budget - 256 * 1024 : budget;
	pgml_pg_check(pgml_hnsw_new(&params, &bs->graph, &err), &err);
	cb = palloc(sizeof(MemoryContextCallback));
	cb->func = free_graph_cb;
	cb->arg = bs;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_LOAD);
	if (heap->rd_rel->reltuples > 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) heap->rd_rel->reltuples);
	reltuples = table_index_build_scan(heap, index, indexInfo, true, true, build_callback, bs, NULL);
	if (!bs->flushed)
		flush_graph(bs);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs->indtuples;
	MemoryContextDelete(bs->tmpctx);
	return result;
}

/* The init fork of an unlogged index: an empty metapage. */
void
hnswbuildempty(Relation index)
{
	HnswMetaData meta;
	PGAlignedBlock page;

	make_meta(index, &meta);
	init_meta(page.data, &meta);
	PageSetChecksumInplace(page.data, HNSW_METAPAGE_BLKNO);
	smgrwrite(RelationGetSmgr(index), INIT_FORKNUM, HNSW_METAPAGE_BLKNO, page.data, true);
	log_newpage(&(RelationGetSmgr(index))->smgr_rnode.node, INIT_FORKNUM, HNSW_METAPAGE_BLKNO, page.data, true);
	smgrimmedsync(RelationGetSmgr(index), INIT_FORKNUM);
}
