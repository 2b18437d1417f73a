/*
 * hnswcheck.c — pgml.hnsw_check(regclass): walks a pgml_hnsw index and reports structural problems,
 * one text row each (no rows: the index is sound).
 *
 * It reads pages with the same guards as the AM but reports instead of raising, so it can describe a
 * damaged index: page headers and types, the metapage, every element (type, level, size, neighbour
 * counts), every neighbour reference (a real element, on a layer it has, not itself), and the entry
 * point (exists, has the level the metapage says, no live element is higher). Elements flagged deleted
 * by a VACUUM that has not finished (or crashed) are not problems: the next VACUUM removes them.
 */
#include "pgml_pg.h"

#include "hnsw.h"

#include "access/relation.h"
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

typedef struct CheckEntry
{
	uint64		key;
	int			level;
	bool		deleted;
} CheckEntry;

typedef struct CheckState
{
	ReturnSetInfo *rsinfo;
	int			n;
} CheckState;

static void problem(CheckState *cs, const char *fmt,...) pg_attribute_printf(2, 3);

static void
problem(CheckState *cs, const char *fmt,...)
{
	va_list		ap;
	char		buf[512];
	Datum		value;
	bool		isnull = false;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	value = CStringGetTextDatum(buf);
	/* a badly broken index could have millions: the first thousand tell the story */
	if (cs->n++ < 1000)
		tuplestore_putvalues(cs->rsinfo->setResult, cs->rsinfo->setDesc, &value, &isnull);
}

static inline uint64
key_of(BlockNumber blkno, OffsetNumber off)
{
	return ((uint64) blkno << 16) | off;
}

/* The element at off, or NULL (with a problem reported unless the slot is simply unused). */
static HnswElement
check_element(CheckState *cs, const HnswMetaData *meta, Page page, BlockNumber blkno, OffsetNumber off)
{
	ItemId		iid = PageGetItemId(page, off);
	HnswElement e;
	Size		len;

	if (!ItemIdIsUsed(iid))
		return NULL;
	if (!ItemIdIsNormal(iid))
	{
		problem(cs, "block %u item %u: unexpected line pointer state", blkno, off);
		return NULL;
	}
	len = ItemIdGetLength(iid);
	if (ItemIdGetOffset(iid) < ((PageHeader) page)->pd_upper || ItemIdGetOffset(iid) + len > ((PageHeader) page)->pd_special ||
		len < offsetof(HnswElementData, counts) + sizeof(uint16))
	{
		problem(cs, "block %u item %u: item out of bounds", blkno, off);
		return NULL;
	}
	e = (HnswElement) PageGetItem(page, iid);
	if (e->type != HNSW_ELEMENT_TYPE)
	{
		problem(cs, "block %u item %u: not an element (type %u)", blkno, off, e->type);
		return NULL;
	}
	if (e->level > meta->max_level)
	{
		problem(cs, "block %u item %u: level %u above the maximum %u", blkno, off, e->level, meta->max_level);
		return NULL;
	}
	if (len != HnswElementSize(meta->dim, meta->storage, meta->m, e->level))
	{
		problem(cs, "block %u item %u: size %zu, expected %zu for level %u", blkno, off, len,
				HnswElementSize(meta->dim, meta->storage, meta->m, e->level), e->level);
		return NULL;
	}
	for (int l = 0; l <= e->level; l++)
		if (e->counts[l] > HnswLayerSlots(meta->m, l))
		{
			problem(cs, "block %u item %u: %u neighbours on layer %d, at most %d", blkno, off, e->counts[l], l,
					HnswLayerSlots(meta->m, l));
			return NULL;
		}
	if (!ItemPointerIsValid(&e->heaptid))
		problem(cs, "block %u item %u: invalid heap TID", blkno, off);
	return e;
}

/* Reads and checks a page; false (with a problem) when it is not a well-formed element page. */
static bool
check_page(CheckState *cs, Page page, BlockNumber blkno, bool report)
{
	PageHeader	ph = (PageHeader) page;

	/* a page an insert is adding right now, or one a crash left between extension and WAL: unused */
	if (PageIsNew(page))
		return false;
	if (PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)) || ph->pd_lower < SizeOfPageHeaderData ||
		ph->pd_lower > ph->pd_upper || ph->pd_upper > ph->pd_special || ph->pd_special > BLCKSZ)
	{
		if (report)
			problem(cs, "block %u: bad page header", blkno);
		return false;
	}
	if (HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID || HnswPageGetOpaque(page)->flags != HNSW_PAGE_ELEMENTS)
	{
		if (report)
			problem(cs, "block %u: not an element page", blkno);
		return false;
	}
	return true;
}

PG_FUNCTION_INFO_V1(pgml_hnsw_check);

Datum
pgml_hnsw_check(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CheckState	cs;
	Relation	index;
	Buffer		buf;
	Page		page;
	HnswMetaData meta;
	BlockNumber nblocks;
	HTAB	   *elements;
	HASHCTL		ctl;
	int			top_live = -1;
	long		n_live = 0;

	TupleDesc	tupdesc;
	MemoryContext old;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || !(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTemplateTupleDesc(1);
	TupleDescInitEntry(tupdesc, (AttrNumber) 1, "problem", TEXTOID, -1, 0);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->setDesc = BlessTupleDesc(tupdesc);
	MemoryContextSwitchTo(old);
	cs.rsinfo = rsinfo;
	cs.n = 0;

	index = relation_open(relid, AccessShareLock);
	if (index->rd_rel->relkind != RELKIND_INDEX || index->rd_rel->relam != get_index_am_oid("pgml_hnsw", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a pgml_hnsw index", RelationGetRelationName(index))));

	nblocks = RelationGetNumberOfBlocks(index);
	if (nblocks == 0)
	{
		problem(&cs, "index has no metapage");
		relation_close(index, AccessShareLock);
		PG_RETURN_NULL();
	}
	buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)) ||
		HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID || HnswPageGetOpaque(page)->flags != HNSW_PAGE_META)
	{
		UnlockReleaseBuffer(buf);
		problem(&cs, "block 0: not a metapage");
		relation_close(index, AccessShareLock);
		PG_RETURN_NULL();
	}
	meta = *(HnswMetaData *) PageGetContents(page);
	UnlockReleaseBuffer(buf);
	if (meta.magic != HNSW_MAGIC || meta.version != HNSW_VERSION || meta.dim < 1 ||
		meta.m < PGML_HNSW_MIN_M || meta.m > PGML_HNSW_MAX_M || meta.metric < PGML_HNSW_L2 ||
		meta.metric > PGML_HNSW_L1 || (meta.storage != HNSW_STORAGE_F32 && meta.storage != HNSW_STORAGE_F16) ||
		meta.max_level > PGML_HNSW_MAX_LEVEL ||
		MAXALIGN(HnswElementSize(meta.dim, meta.storage, meta.m, meta.max_level)) > BLCKSZ)
	{
		problem(&cs, "block 0: bad metapage (magic %08x, version %u, dim %u, m %u)", meta.magic, meta.version,
				meta.dim, meta.m);
		relation_close(index, AccessShareLock);
		PG_RETURN_NULL();
	}

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(CheckEntry);
	ctl.hcxt = CurrentMemoryContext;
	elements = hash_create("pgml_hnsw check", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/* pass 1: pages and elements */
	for (BlockNumber blkno = 1; blkno < nblocks; blkno++)
	{
		CHECK_FOR_INTERRUPTS();
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (check_page(&cs, page, blkno, true))
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				HnswElement e = check_element(&cs, &meta, page, blkno, off);
				uint64		key = key_of(blkno, off);
				CheckEntry *ce;

				if (e == NULL)
					continue;
				ce = hash_search(elements, &key, HASH_ENTER, NULL);
				ce->level = e->level;
				ce->deleted = (e->flags & HNSW_ELEMENT_DELETED) != 0;
				if (!ce->deleted)
				{
					n_live++;
					top_live = Max(top_live, e->level);
				}
			}
		UnlockReleaseBuffer(buf);
	}

	/* pass 2: neighbour references */
	for (BlockNumber blkno = 1; blkno < nblocks; blkno++)
	{
		CHECK_FOR_INTERRUPTS();
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (check_page(&cs, page, blkno, false))
		{
			OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				uint64		key = key_of(blkno, off);
				HnswElement e;
				ItemPointer slots;

				if (hash_search(elements, &key, HASH_FIND, NULL) == NULL)
					continue;
				e = (HnswElement) PageGetItem(page, PageGetItemId(page, off));
				slots = HnswElementSlots(e, meta.dim, meta.storage);
				for (int l = 0; l <= e->level; l++)
					for (int i = 0; i < e->counts[l]; i++)
					{
						ItemPointer nb = &slots[HnswLayerStart(meta.m, l) + i];
						uint64		nkey;
						CheckEntry *ce;

						if (!ItemPointerIsValid(nb))
						{
							problem(&cs, "block %u item %u: invalid neighbour %d on layer %d", blkno, off, i, l);
							continue;
						}
						nkey = key_of(ItemPointerGetBlockNumber(nb), ItemPointerGetOffsetNumber(nb));
						if (nkey == key)
						{
							problem(&cs, "block %u item %u: is its own neighbour on layer %d", blkno, off, l);
							continue;
						}
						ce = hash_search(elements, &nkey, HASH_FIND, NULL);
						if (ce == NULL)
							problem(&cs, "block %u item %u: neighbour (%u,%u) on layer %d is not an element",
									blkno, off, ItemPointerGetBlockNumber(nb), ItemPointerGetOffsetNumber(nb), l);
						else if (ce->level < l)
							problem(&cs, "block %u item %u: neighbour (%u,%u) on layer %d has level %d",
									blkno, off, ItemPointerGetBlockNumber(nb), ItemPointerGetOffsetNumber(nb), l,
									ce->level);
					}
			}
		}
		UnlockReleaseBuffer(buf);
	}

	/* the entry point */
	if (meta.entry_blkno == InvalidBlockNumber)
	{
		if (n_live > 0)
			problem(&cs, "index has %ld elements but no entry point", n_live);
	}
	else
	{
		uint64		key = key_of(meta.entry_blkno, meta.entry_offno);
		CheckEntry *ce = hash_search(elements, &key, HASH_FIND, NULL);

		if (ce == NULL)
			problem(&cs, "entry point (%u,%u) is not an element", meta.entry_blkno, meta.entry_offno);
		else
		{
			if (ce->level != meta.entry_level)
				problem(&cs, "entry point has level %d, the metapage says %d", ce->level, meta.entry_level);
		}
		if (top_live > meta.entry_level)
			problem(&cs, "an element has level %d, above the entry point's %d", top_live, meta.entry_level);
	}

	hash_destroy(elements);
	relation_close(index, AccessShareLock);
	PG_RETURN_NULL();
}
