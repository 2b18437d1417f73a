/*
 * ivfflatinsert.c — inserts into a built pgml_ivfflat index.
 *
 * A row goes to the list of its nearest center. The list page names the list's insert page; the row goes
 * there or, when that page is full, to the next page in the chain, or to a new page linked at the end.
 * The page that gets the row is held exclusively while the chain is extended, so two inserters never both
 * link a page after it. A list page's insert pointer may lag behind the real tail (it is updated in its
 * own WAL record, and concurrent extensions may race); inserts just walk forward from it.
 */
#include "pgml_pg.h"

#include "access/generic_xlog.h"
#include "nodes/execnodes.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "ivfflat.h"

/* Sets a list's insert page (one generic WAL record). */
static void
set_insert_page(Relation index, const IvfflatShape *shape, int list, BlockNumber insertPage)
{
	BlockNumber blkno;
	OffsetNumber off;
	Buffer		buf;
	GenericXLogState *state;
	Page		page;
	IvfflatListData *l;

	IvfflatListLocation(shape, list, &blkno, &off);
	buf = ReadBuffer(index, blkno);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	IvfflatCheckPage(index, buf, IVFFLAT_PAGE_LIST);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	l = IvfflatGetListItem(index, page, off, shape);
	if (l->insertPage != insertPage)
	{
		l->insertPage = insertPage;
		GenericXLogFinish(state);
	}
	else
		GenericXLogAbort(state);
	UnlockReleaseBuffer(buf);
}

/* Reads a list's insert page from its list page. */
static BlockNumber
get_insert_page(Relation index, const IvfflatShape *shape, int list)
{
	BlockNumber blkno,
				result;
	OffsetNumber off;
	Buffer		buf;
	Page		page;

	IvfflatListLocation(shape, list, &blkno, &off);
	buf = ReadBuffer(index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = IvfflatCheckPage(index, buf, IVFFLAT_PAGE_LIST);
	result = IvfflatGetListItem(index, page, off, shape)->insertPage;
	UnlockReleaseBuffer(buf);
	return result;
}

/* Adds one assembled entry to a list. */
static void
insert_entry(Relation index, const IvfflatShape *shape, int list, IvfflatEntryData *entry, Size size)
{
	BlockNumber blkno = get_insert_page(index, shape, list);
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BlockNumber hops = 0;

	for (;;)
	{
		Buffer		buf;
		Page		page;
		GenericXLogState *state;
		BlockNumber next;

		if (blkno < IVFFLAT_LIST_START_BLKNO + (BlockNumber) shape->nlistpages || blkno >= nblocks)
		{
			nblocks = RelationGetNumberOfBlocks(index);
			if (blkno < IVFFLAT_LIST_START_BLKNO + (BlockNumber) shape->nlistpages || blkno >= nblocks)
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("index \"%s\" has a list that links to block %u, out of range",
								RelationGetRelationName(index), blkno)));
		}
		if (++hops > nblocks)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a list whose pages form a cycle", RelationGetRelationName(index))));

		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		IvfflatCheckPage(index, buf, IVFFLAT_PAGE_ENTRY);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		if (PageAddItem(page, (Item) entry, size, InvalidOffsetNumber, false, false) != InvalidOffsetNumber)
		{
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			break;
		}
		next = IvfflatPageGetOpaque(page)->nextblkno;
		if (next != InvalidBlockNumber)
		{
			/* full, but the chain goes on */
			GenericXLogAbort(state);
			UnlockReleaseBuffer(buf);
			blkno = next;
			continue;
		}

		/* full tail: link a new page, holding the tail so no one else links one too */
		{
			Buffer		nbuf = IvfflatNewBuffer(index, MAIN_FORKNUM);
			Page		npage = GenericXLogRegisterBuffer(state, nbuf, GENERIC_XLOG_FULL_IMAGE);

			IvfflatInitPage(npage, IVFFLAT_PAGE_ENTRY);
			if (PageAddItem(npage, (Item) entry, size, InvalidOffsetNumber, false, false) == InvalidOffsetNumber)
				elog(ERROR, "failed to add an entry to a new pgml_ivfflat page");
			IvfflatPageGetOpaque(page)->nextblkno = BufferGetBlockNumber(nbuf);
			GenericXLogFinish(state);
			blkno = BufferGetBlockNumber(nbuf);
			UnlockReleaseBuffer(nbuf);
			UnlockReleaseBuffer(buf);
			set_insert_page(index, shape, list, blkno);
			break;
		}
	}
}

bool
ivfflatinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
			  IndexUniqueCheck checkUnique, bool indexUnchanged, IndexInfo *indexInfo)
{
	MemoryContext ctx,
				old;
	IvfflatCache *cache;
	IvfflatShape *shape;
	float	   *v;
	IvfflatEntryData *entry;
	Size		size;
	size_t		list;

	if (isnull[0])
		return false;

	ctx = AllocSetContextCreate(CurrentMemoryContext, "pgml_ivfflat insert", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(ctx);

	cache = IvfflatGetCache(index);
	shape = &cache->shape;
	v = palloc(sizeof(float) * shape->dims);
	if (IvfflatDatumToFloats(shape, values[0], v))
	{
		list = pgml_ivf_nearest(shape->metric, cache->centers, shape->lists, shape->dims, v, NULL);
		size = IVFFLAT_ENTRY_SIZE(shape->dims, shape->elsize);
		entry = palloc0(size);
		entry->heaptid = *heap_tid;
		IvfflatFloatsToElems(shape, v, entry->x);
		insert_entry(index, shape, (int) list, entry, size);
	}
	/* else: a zero vector under cosine has no direction and is not indexed */

	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
	return false;
}
