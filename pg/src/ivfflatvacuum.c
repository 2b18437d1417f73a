/*
 * ivfflatvacuum.c — VACUUM for pgml_ivfflat: remove the entries of dead rows, list by list.
 *
 * Each entry page of each chain is locked exclusively, its dead entries are deleted (the page is compacted)
 * in one generic WAL record. Scans copy what they need from a page under a share lock and keep no pin, so
 * nothing points into a page across the deletion. Pages are never unlinked; when room was freed before a
 * list's insert page, the insert page moves back to the first such page so that inserts reuse it.
 */
#include "pgml_pg.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

#include "ivfflat.h"

/* Reads a list's start and insert pages. */
static void
list_pages(Relation index, const IvfflatShape *shape, int list, BlockNumber *start, BlockNumber *insert)
{
	BlockNumber blkno;
	OffsetNumber off;
	Buffer		buf;
	Page		page;
	IvfflatListData *l;

	IvfflatListLocation(shape, list, &blkno, &off);
	buf = ReadBuffer(index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = IvfflatCheckPage(index, buf, IVFFLAT_PAGE_LIST);
	l = IvfflatGetListItem(index, page, off, shape);
	*start = l->startPage;
	*insert = l->insertPage;
	UnlockReleaseBuffer(buf);
}

/* Moves a list's insert page back to blkno, if it is still where we saw it. */
static void
rewind_insert_page(Relation index, const IvfflatShape *shape, int list, BlockNumber seen, BlockNumber blkno)
{
	BlockNumber lblk;
	OffsetNumber off;
	Buffer		buf;
	GenericXLogState *state;
	Page		page;
	IvfflatListData *l;

	IvfflatListLocation(shape, list, &lblk, &off);
	buf = ReadBuffer(index, lblk);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	IvfflatCheckPage(index, buf, IVFFLAT_PAGE_LIST);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	l = IvfflatGetListItem(index, page, off, shape);
	if (l->insertPage == seen)
	{
		l->insertPage = blkno;
		GenericXLogFinish(state);
	}
	else
		GenericXLogAbort(state);
	UnlockReleaseBuffer(buf);
}

/* Walks every list; with a callback, deletes the entries it names. Counts what stays. */
static void
walk_lists(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, IndexBulkDeleteCallback callback,
		   void *callback_state)
{
	Relation	index = info->index;
	IvfflatCache *cache = IvfflatGetCache(index);
	IvfflatShape shape = cache->shape;
	Size		esize = IVFFLAT_ENTRY_SIZE(shape.dims, shape.elsize);
	BufferAccessStrategy bas = info->strategy;
	OffsetNumber deletable[MaxOffsetNumber];

	for (int list = 0; list < shape.lists; list++)
	{
		BlockNumber start,
					insert,
					blkno,
					firstFreed = InvalidBlockNumber;
		bool		insertSeen = false;
		BlockNumber nblocks = RelationGetNumberOfBlocks(index);
		BlockNumber hops = 0;

		list_pages(index, &shape, list, &start, &insert);
		for (blkno = start; blkno != InvalidBlockNumber;)
		{
			Buffer		buf;
			Page		page;
			OffsetNumber maxoff;
			int			ndeletable = 0;
			BlockNumber next;

			if (blkno >= nblocks && blkno >= (nblocks = RelationGetNumberOfBlocks(index)))
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("index \"%s\" has a list that links to block %u, out of range",
								RelationGetRelationName(index), blkno)));
			if (++hops > nblocks)
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("index \"%s\" has a list whose pages form a cycle",
								RelationGetRelationName(index))));
			vacuum_delay_point();

			buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, bas);
			LockBuffer(buf, callback ? BUFFER_LOCK_EXCLUSIVE : BUFFER_LOCK_SHARE);
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
				if (callback && callback(&e->heaptid, callback_state))
					deletable[ndeletable++] = off;
				else
					stats->num_index_tuples++;
			}
			if (ndeletable > 0)
			{
				GenericXLogState *state = GenericXLogStart(index);
				Page		wpage = GenericXLogRegisterBuffer(state, buf, 0);

				PageIndexMultiDelete(wpage, deletable, ndeletable);
				GenericXLogFinish(state);
				stats->tuples_removed += ndeletable;
				if (firstFreed == InvalidBlockNumber && !insertSeen)
					firstFreed = blkno;
			}
			if (blkno == insert)
				insertSeen = true;
			next = IvfflatPageGetOpaque(page)->nextblkno;
			UnlockReleaseBuffer(buf);
			blkno = next;
		}
		if (firstFreed != InvalidBlockNumber && firstFreed != insert && insertSeen)
			rewind_insert_page(index, &shape, list, insert, firstFreed);
	}
}

IndexBulkDeleteResult *
ivfflatbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, IndexBulkDeleteCallback callback,
				  void *callback_state)
{
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	stats->num_index_tuples = 0;
	walk_lists(info, stats, callback, callback_state);
	return stats;
}

IndexBulkDeleteResult *
ivfflatvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		/* no bulk delete ran: count the entries so that the index's statistics stay current */
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		walk_lists(info, stats, NULL, NULL);
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}
