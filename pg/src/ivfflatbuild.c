/*
 * ivfflatbuild.c — CREATE INDEX for pgml_ivfflat.
 *
 * Two passes over the table:
 *
 *   1. Sample. A reservoir (algorithm R with a fixed seed, so a build is repeatable) keeps up to
 *      max(50 × lists, 10,000) vectors, fewer when maintenance_work_mem is small. k-means runs on the
 *      sample in libpgml, on the backend's worker pool (pgml.threads); the workers touch only the sample.
 *   2. Assign. Rows are gathered in batches; the pool finds each row's nearest center; the backend then
 *      appends the rows to their lists' last entry pages through shared buffers.
 *
 * The meta page, the list pages (with the centers) and one empty entry page per list are written before
 * pass 2, so every list's chain starts at a fixed block. Pages are written without WAL and logged at the
 * end as full pages (log_newpage_range), as GiST's build does; after that, all changes use generic WAL.
 * An empty table still gets lists, with random centers (NOTICE: recall will be low until REINDEX).
 */
#include "pgml_pg.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "pgstat.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "ivfflat.h"

#define IVFFLAT_SAMPLES_PER_LIST	50
#define IVFFLAT_MIN_SAMPLES			10000
#define IVFFLAT_BATCH				2048	/* rows assigned per trip to the pool */

typedef struct IvfflatBuildState
{
	Relation	index;
	ForkNumber	forkNum;
	IvfflatShape shape;
	MemoryContext tmpCtx;		/* reset after each row */

	/* pass 1: the reservoir */
	float	   *samples;		/* (maxSamples, dims) */
	int64		maxSamples;
	int64		nsamples;
	int64		seen;			/* rows offered to the reservoir */
	pg_prng_state prng;

	/* pass 2 */
	float	   *centers;		/* (lists, dims) */
	BlockNumber *tails;			/* (lists) last entry page of each list */
	float	   *batch;			/* (IVFFLAT_BATCH, dims) */
	ItemPointerData *batchTids;
	uint32	   *labels;
	int			nbatch;
	char	   *entry;			/* one entry, assembled */
	double		indtuples;
	double		heaptuples;
	int64		total;			/* rows expected in pass 2, for progress */
} IvfflatBuildState;

/* Pass 1: offer each row to the reservoir. */
static void
sample_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool tupleIsAlive, void *state)
{
	IvfflatBuildState *bs = state;
	MemoryContext old;
	float	   *row;
	int64		slot;
	int			dims = bs->shape.dims;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(bs->tmpCtx);
	row = palloc(sizeof(float) * dims);
	if (IvfflatDatumToFloats(&bs->shape, values[0], row))
	{
		slot = bs->seen < bs->maxSamples ? bs->seen : (int64) pg_prng_uint64_range(&bs->prng, 0, bs->seen);
		bs->seen++;
		if (slot < bs->maxSamples)
		{
			memcpy(bs->samples + slot * dims, row, sizeof(float) * dims);
			if (slot >= bs->nsamples)
				bs->nsamples = slot + 1;
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpCtx);
}

/* Appends one entry to a list's tail page, extending the chain when the page is full. */
static void
append_entry(IvfflatBuildState *bs, int list, Size size)
{
	Buffer		buf = ReadBufferExtended(bs->index, bs->forkNum, bs->tails[list], RBM_NORMAL, NULL);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	if (PageAddItem(page, (Item) bs->entry, size, InvalidOffsetNumber, false, false) == InvalidOffsetNumber)
	{
		Buffer		nbuf = IvfflatNewBuffer(bs->index, bs->forkNum);
		Page		npage = BufferGetPage(nbuf);

		IvfflatInitPage(npage, IVFFLAT_PAGE_ENTRY);
		IvfflatPageGetOpaque(page)->nextblkno = BufferGetBlockNumber(nbuf);
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
		bs->tails[list] = BufferGetBlockNumber(nbuf);
		buf = nbuf;
		page = npage;
		if (PageAddItem(page, (Item) bs->entry, size, InvalidOffsetNumber, false, false) == InvalidOffsetNumber)
			elog(ERROR, "failed to add an entry to a new pgml_ivfflat page");
	}
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* Pass 2: assign the gathered rows to lists (on the pool) and write them out. */
static void
flush_batch(IvfflatBuildState *bs)
{
	IvfflatShape *shape = &bs->shape;
	IvfflatEntryData *e = (IvfflatEntryData *) bs->entry;
	Size		size = IVFFLAT_ENTRY_SIZE(shape->dims, shape->elsize);
	pgml_err	err;
	pgml_status rc;

	if (bs->nbatch == 0)
		return;
	rc = pgml_ivf_assign(shape->metric, bs->centers, shape->lists, shape->dims, bs->batch, bs->nbatch,
						 pgml_pg_pool(), bs->labels, &err);
	pgml_pg_check(rc, &err);
	for (int i = 0; i < bs->nbatch; i++)
	{
		e->heaptid = bs->batchTids[i];
		e->unused = 0;
		IvfflatFloatsToElems(shape, bs->batch + (Size) i * shape->dims, e->x);
		append_entry(bs, (int) bs->labels[i], size);
	}
	bs->indtuples += bs->nbatch;
	bs->nbatch = 0;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
}

static void
assign_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool tupleIsAlive, void *state)
{
	IvfflatBuildState *bs = state;
	MemoryContext old;

	bs->heaptuples++;
	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(bs->tmpCtx);
	if (IvfflatDatumToFloats(&bs->shape, values[0], bs->batch + (Size) bs->nbatch * bs->shape.dims))
	{
		bs->batchTids[bs->nbatch] = *tid;
		bs->nbatch++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpCtx);
	if (bs->nbatch == IVFFLAT_BATCH)
		flush_batch(bs);
}

/* Writes the meta page, the list pages with their centers, and one empty entry page per list. */
static void
write_skeleton(IvfflatBuildState *bs)
{
	IvfflatShape *shape = &bs->shape;
	Buffer		buf;
	Page		page;
	IvfflatMetaData *meta;
	Size		lsize = IVFFLAT_LIST_SIZE(shape->dims, shape->elsize);
	IvfflatListData *item = palloc0(lsize);
	BlockNumber firstEntry = IVFFLAT_LIST_START_BLKNO + shape->nlistpages;

	buf = IvfflatNewBuffer(bs->index, bs->forkNum);
	Assert(BufferGetBlockNumber(buf) == IVFFLAT_METAPAGE_BLKNO);
	page = BufferGetPage(buf);
	IvfflatInitPage(page, IVFFLAT_PAGE_META);
	meta = (IvfflatMetaData *) PageGetContents(page);
	memset(meta, 0, sizeof(*meta));
	meta->magic = IVFFLAT_MAGIC;
	meta->version = IVFFLAT_VERSION;
	meta->dims = shape->dims;
	meta->elemtype = shape->elemtype;
	meta->metric = shape->metric;
	meta->lists = shape->lists;
	meta->listsPerPage = shape->listsPerPage;
	meta->nlistpages = shape->nlistpages;
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(IvfflatMetaData)) - (char *) page;
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	/* list i's first entry page is block firstEntry + i */
	for (int p = 0; p < shape->nlistpages; p++)
	{
		int			first = p * shape->listsPerPage;
		int			last = Min(shape->lists, first + shape->listsPerPage);

		buf = IvfflatNewBuffer(bs->index, bs->forkNum);
		page = BufferGetPage(buf);
		IvfflatInitPage(page, IVFFLAT_PAGE_LIST);
		for (int i = first; i < last; i++)
		{
			item->startPage = item->insertPage = firstEntry + i;
			IvfflatFloatsToElems(shape, bs->centers + (Size) i * shape->dims, item->center);
			if (PageAddItem(page, (Item) item, lsize, InvalidOffsetNumber, false, false) !=
				FirstOffsetNumber + (i - first))
				elog(ERROR, "failed to add a list to a pgml_ivfflat list page");
		}
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	for (int i = 0; i < shape->lists; i++)
	{
		buf = IvfflatNewBuffer(bs->index, bs->forkNum);
		if (BufferGetBlockNumber(buf) != firstEntry + i)
			elog(ERROR, "unexpected block number %u in a pgml_ivfflat build", BufferGetBlockNumber(buf));
		IvfflatInitPage(BufferGetPage(buf), IVFFLAT_PAGE_ENTRY);
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
		bs->tails[i] = firstEntry + i;
	}
	pfree(item);
}

/* Records each list's last page as its insert page. */
static void
write_insert_pages(IvfflatBuildState *bs)
{
	IvfflatShape *shape = &bs->shape;

	for (int p = 0; p < shape->nlistpages; p++)
	{
		BlockNumber blkno = IVFFLAT_LIST_START_BLKNO + p;
		Buffer		buf = ReadBufferExtended(bs->index, bs->forkNum, blkno, RBM_NORMAL, NULL);
		Page		page;
		int			first = p * shape->listsPerPage;
		int			last = Min(shape->lists, first + shape->listsPerPage);

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		for (int i = first; i < last; i++)
			IvfflatGetListItem(bs->index, page, FirstOffsetNumber + (i - first), shape)->insertPage = bs->tails[i];
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
}

/* The number of samples to keep: 50 per list, at least 10,000, within maintenance_work_mem. */
static int64
sample_target(const IvfflatShape *shape)
{
	int64		want = Max((int64) IVFFLAT_SAMPLES_PER_LIST * shape->lists, IVFFLAT_MIN_SAMPLES);
	int64		room = ((int64) maintenance_work_mem * 1024L) / ((int64) shape->dims * sizeof(float));

	/* the sample gets at most half of maintenance_work_mem; k-means needs some more per sample */
	room /= 2;
	if (want > room)
		want = Max(room, Min(want, (int64) shape->lists));
	return Max(want, 1);
}

static void
build_index(Relation heap, Relation index, IndexInfo *indexInfo, ForkNumber forkNum, IvfflatBuildState *bs)
{
	IvfflatShape *shape = &bs->shape;
	pgml_ivf_kmeans_params params;
	pgml_ivf_kmeans_stats stats;
	pgml_err	err;
	pgml_status rc;
	BlockNumber nblocks;

	memset(bs, 0, sizeof(*bs));
	bs->index = index;
	bs->forkNum = forkNum;
	IvfflatShapeFromDefinition(index, IvfflatGetLists(index), shape);
	bs->tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "pgml_ivfflat build row", ALLOCSET_DEFAULT_SIZES);
	bs->centers = MemoryContextAllocHuge(CurrentMemoryContext, (Size) shape->lists * shape->dims * sizeof(float));
	bs->tails = palloc(sizeof(BlockNumber) * shape->lists);

	if (RelationGetNumberOfBlocksInFork(index, forkNum) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	/* pass 1: sample (an empty-index build for an unlogged table's init fork has no heap to read) */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVFFLAT_PHASE_SAMPLE);
	bs->maxSamples = sample_target(shape);
	pg_prng_seed(&bs->prng, UINT64CONST(0x1f1a7));
	if (heap != NULL)
	{
		bs->samples = MemoryContextAllocHuge(CurrentMemoryContext,
											 (Size) bs->maxSamples * shape->dims * sizeof(float));
		bs->total = (int64) table_index_build_scan(heap, index, indexInfo, true, true, sample_callback, bs, NULL);
	}

	if (bs->nsamples < shape->lists && forkNum == MAIN_FORKNUM)
		ereport(NOTICE,
				(errmsg("pgml_ivfflat index created with %s data", bs->nsamples == 0 ? "no" : "little"),
				 errdetail("%lld vectors for %d lists: lists without data make recall low.",
						   (long long) bs->nsamples, shape->lists),
				 errhint("Create the index after loading the table, or REINDEX later.")));

	/* k-means */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVFFLAT_PHASE_KMEANS);
	params = pgml_ivf_kmeans_default_params(shape->lists, shape->metric);
	rc = pgml_ivf_kmeans(bs->samples, bs->nsamples, shape->dims, &params, pgml_pg_pool(), bs->centers, &stats,
						 &err);
	pgml_pg_check(rc, &err);
	elog(DEBUG1, "pgml_ivfflat k-means: %lld samples, %d lists, %d iterations, %zu empty lists re-seeded",
		 (long long) bs->nsamples, shape->lists, stats.iterations, stats.empty_fixed);
	if (bs->samples)
		pfree(bs->samples);
	bs->samples = NULL;
	for (Size i = 0; i < (Size) shape->lists * shape->dims; i++)
		if (!isfinite(bs->centers[i]))
			elog(ERROR, "k-means produced a non-finite center");

	write_skeleton(bs);

	/* pass 2: assign and load */
	if (heap != NULL)
	{
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVFFLAT_PHASE_ASSIGN);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->total);
		bs->batch = palloc(sizeof(float) * shape->dims * IVFFLAT_BATCH);
		bs->batchTids = palloc(sizeof(ItemPointerData) * IVFFLAT_BATCH);
		bs->labels = palloc(sizeof(uint32) * IVFFLAT_BATCH);
		bs->entry = palloc0(IVFFLAT_ENTRY_SIZE(shape->dims, shape->elsize));
		table_index_build_scan(heap, index, indexInfo, true, true, assign_callback, bs, NULL);
		flush_batch(bs);
	}
	write_insert_pages(bs);

	/* WAL: every page as a full image */
	nblocks = RelationGetNumberOfBlocksInFork(index, forkNum);
	if (RelationNeedsWAL(index) || forkNum == INIT_FORKNUM)
		log_newpage_range(index, forkNum, 0, nblocks, true);
	MemoryContextDelete(bs->tmpCtx);
}

IndexBuildResult *
ivfflatbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IvfflatBuildState bs;
	IndexBuildResult *result;

	build_index(heap, index, indexInfo, MAIN_FORKNUM, &bs);
	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs.heaptuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/* The init fork of an unlogged index: the structure of an index on an empty table. */
void
ivfflatbuildempty(Relation index)
{
	IvfflatBuildState bs;

	build_index(NULL, index, NULL, INIT_FORKNUM, &bs);
}
