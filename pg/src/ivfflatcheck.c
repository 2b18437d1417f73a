/*
 * ivfflatcheck.c — pgml.ivfflat_check(regclass): walk a pgml_ivfflat index and report structural problems.
 *
 * Unlike the access method itself, which raises ERRCODE_INDEX_CORRUPTED at the first bad page, the check
 * reads every page it can reach and reports each problem as one line of text: the meta page, the list
 * pages and their centers, every list's chain of entry pages (range, cycles, pages shared by two lists,
 * entry sizes, heap TIDs, finite values, unit norm under cosine, the insert page on the chain), and pages
 * that belong to no list. No rows means the index is sound.
 */
#include "pgml_pg.h"

#include <math.h>

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "ivfflat.h"

#define MAX_PROBLEMS 1000

typedef struct CheckState
{
	Tuplestorestate *store;
	TupleDesc	desc;
	int			nproblems;
} CheckState;

static void problem(CheckState *cs, const char *fmt,...) pg_attribute_printf(2, 3);

static void
problem(CheckState *cs, const char *fmt,...)
{
	va_list		ap;
	char		buf[512];
	Datum		value;
	bool		isnull = false;

	if (++cs->nproblems > MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (cs->nproblems == MAX_PROBLEMS)
		strlcpy(buf, "too many problems; stopped reporting", sizeof(buf));
	value = CStringGetTextDatum(buf);
	tuplestore_putvalues(cs->store, cs->desc, &value, &isnull);
}

/* Is the page one of ours, of this kind? Reports what is wrong if not. */
static bool
page_ok(CheckState *cs, Page page, BlockNumber blkno, uint16 kind)
{
	IvfflatPageOpaque op;

	if (PageIsNew(page))
	{
		problem(cs, "block %u: page is uninitialized", blkno);
		return false;
	}
	if (PageGetSpecialSize(page) != MAXALIGN(sizeof(IvfflatPageOpaqueData)) ||
		((PageHeader) page)->pd_lower < SizeOfPageHeaderData ||
		((PageHeader) page)->pd_lower > ((PageHeader) page)->pd_upper ||
		((PageHeader) page)->pd_upper > ((PageHeader) page)->pd_special)
	{
		problem(cs, "block %u: page header or special space is invalid", blkno);
		return false;
	}
	op = IvfflatPageGetOpaque(page);
	if (op->page_id != IVFFLAT_PAGE_ID)
	{
		problem(cs, "block %u: not a pgml_ivfflat page", blkno);
		return false;
	}
	if (op->flags != kind)
	{
		problem(cs, "block %u: page kind is %u, expected %u", blkno, op->flags, kind);
		return false;
	}
	return true;
}

/* Copies a block into buf (under a share lock) so that checks run without holding the buffer. */
static void
read_block(Relation index, BlockNumber blkno, char *buf)
{
	Buffer		b = ReadBuffer(index, blkno);

	LockBuffer(b, BUFFER_LOCK_SHARE);
	memcpy(buf, BufferGetPage(b), BLCKSZ);
	UnlockReleaseBuffer(b);
}

static bool
values_finite(const IvfflatShape *shape, const char *elems, float *tmp, double *norm2)
{
	double		s = 0;

	IvfflatElemsToFloats(shape, elems, tmp);
	for (int i = 0; i < shape->dims; i++)
	{
		if (!isfinite(tmp[i]))
			return false;
		s += (double) tmp[i] * tmp[i];
	}
	*norm2 = s;
	return true;
}

static void
check_index(Relation index, CheckState *cs)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	char	   *page = palloc(BLCKSZ);
	IvfflatMetaData meta;
	IvfflatShape shape;
	BlockNumber firstEntry;
	BlockNumber *starts,
			   *inserts;
	int		   *owner;			/* (nblocks) list + 1 that reached the block, 0 none */
	float	   *tmp;
	Size		lsize,
				esize;
	int64		entries = 0;

	if (nblocks == 0)
	{
		problem(cs, "index has no pages");
		return;
	}

	/* meta page */
	read_block(index, IVFFLAT_METAPAGE_BLKNO, page);
	if (!page_ok(cs, page, IVFFLAT_METAPAGE_BLKNO, IVFFLAT_PAGE_META))
		return;
	memcpy(&meta, PageGetContents(page), sizeof(meta));
	if (meta.magic != IVFFLAT_MAGIC || meta.version != IVFFLAT_VERSION)
	{
		problem(cs, "block 0: wrong magic number %08x or version %u", meta.magic, meta.version);
		return;
	}
	if (meta.lists < IVFFLAT_MIN_LISTS || meta.lists > IVFFLAT_MAX_LISTS)
	{
		problem(cs, "block 0: lists %u out of range", meta.lists);
		return;
	}
	IvfflatShapeFromDefinition(index, (int) meta.lists, &shape);
	if (meta.dims != shape.dims || meta.elemtype != shape.elemtype || meta.metric != (uint16) shape.metric ||
		meta.listsPerPage != (uint32) shape.listsPerPage || meta.nlistpages != (uint32) shape.nlistpages)
	{
		problem(cs, "block 0: meta page (dims %u, element type %u, metric %u, %u lists per page, %u list pages) "
				"does not match the index definition (dims %d, element type %d, metric %d, %d, %d)",
				meta.dims, meta.elemtype, meta.metric, meta.listsPerPage, meta.nlistpages,
				shape.dims, shape.elemtype, (int) shape.metric, shape.listsPerPage, shape.nlistpages);
		return;
	}
	firstEntry = IVFFLAT_LIST_START_BLKNO + shape.nlistpages;
	if (nblocks < firstEntry + (BlockNumber) shape.lists)
	{
		problem(cs, "index has %u blocks, fewer than its %d lists need", nblocks, shape.lists);
		return;
	}
	lsize = IVFFLAT_LIST_SIZE(shape.dims, shape.elsize);
	esize = IVFFLAT_ENTRY_SIZE(shape.dims, shape.elsize);
	starts = palloc(sizeof(BlockNumber) * shape.lists);
	inserts = palloc(sizeof(BlockNumber) * shape.lists);
	owner = palloc0(sizeof(int) * nblocks);
	tmp = palloc(sizeof(float) * shape.dims);

	/* list pages */
	for (int p = 0; p < shape.nlistpages; p++)
	{
		BlockNumber blkno = IVFFLAT_LIST_START_BLKNO + p;
		int			first = p * shape.listsPerPage;
		int			last = Min(shape.lists, first + shape.listsPerPage);

		for (int i = first; i < last; i++)
			starts[i] = inserts[i] = InvalidBlockNumber;
		read_block(index, blkno, page);
		if (!page_ok(cs, page, blkno, IVFFLAT_PAGE_LIST))
			continue;
		if (PageGetMaxOffsetNumber(page) != last - first)
			problem(cs, "block %u: %u list items, expected %d", blkno, (unsigned) PageGetMaxOffsetNumber(page),
					last - first);
		for (int i = first; i < last && i - first < (int) PageGetMaxOffsetNumber(page); i++)
		{
			ItemId		iid = PageGetItemId(page, FirstOffsetNumber + (i - first));
			IvfflatListData *l;
			double		n2;

			if (!ItemIdIsNormal(iid) || ItemIdGetLength(iid) != lsize ||
				ItemIdGetOffset(iid) + lsize > BLCKSZ)
			{
				problem(cs, "block %u: list %d has an invalid item", blkno, i);
				continue;
			}
			l = (IvfflatListData *) PageGetItem(page, iid);
			if (l->startPage < firstEntry || l->startPage >= nblocks)
				problem(cs, "list %d: first entry page %u out of range", i, l->startPage);
			else
				starts[i] = l->startPage;
			if (l->insertPage < firstEntry || l->insertPage >= nblocks)
				problem(cs, "list %d: insert page %u out of range", i, l->insertPage);
			else
				inserts[i] = l->insertPage;
			if (!values_finite(&shape, l->center, tmp, &n2))
				problem(cs, "list %d: center has a non-finite value", i);
			else if (shape.normalize && fabs(n2 - 1.0) > 1e-2)
				problem(cs, "list %d: center is not unit-norm (|c|² = %g)", i, n2);
		}
	}

	/* entry chains */
	for (int i = 0; i < shape.lists; i++)
	{
		BlockNumber blkno = starts[i];
		bool		sawInsert = false;

		CHECK_FOR_INTERRUPTS();
		while (blkno != InvalidBlockNumber)
		{
			OffsetNumber maxoff;

			if (blkno < firstEntry || blkno >= nblocks)
			{
				problem(cs, "list %d: links to block %u, out of range", i, blkno);
				break;
			}
			if (owner[blkno] != 0)
			{
				if (owner[blkno] == i + 1)
					problem(cs, "list %d: pages form a cycle at block %u", i, blkno);
				else
					problem(cs, "block %u: reached from list %d and from list %d", blkno, owner[blkno] - 1, i);
				break;
			}
			owner[blkno] = i + 1;
			if (blkno == inserts[i])
				sawInsert = true;
			read_block(index, blkno, page);
			if (!page_ok(cs, page, blkno, IVFFLAT_PAGE_ENTRY))
				break;
			maxoff = PageGetMaxOffsetNumber(page);
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off))
			{
				ItemId		iid = PageGetItemId(page, off);
				IvfflatEntryData *e;
				double		n2;

				if (!ItemIdIsUsed(iid))
					continue;
				if (!ItemIdIsNormal(iid) || ItemIdGetLength(iid) != esize ||
					ItemIdGetOffset(iid) + esize > BLCKSZ)
				{
					problem(cs, "block %u, item %u: invalid entry", blkno, off);
					continue;
				}
				e = (IvfflatEntryData *) PageGetItem(page, iid);
				entries++;
				if (!ItemPointerIsValid(&e->heaptid) || ItemPointerGetOffsetNumberNoCheck(&e->heaptid) == 0)
					problem(cs, "block %u, item %u: invalid heap TID", blkno, off);
				if (!values_finite(&shape, e->x, tmp, &n2))
					problem(cs, "block %u, item %u: vector has a non-finite value", blkno, off);
				else if (shape.normalize && fabs(n2 - 1.0) > 1e-2)
					problem(cs, "block %u, item %u: vector is not unit-norm (|v|² = %g)", blkno, off, n2);
			}
			blkno = IvfflatPageGetOpaque(page)->nextblkno;
		}
		if (inserts[i] != InvalidBlockNumber && starts[i] != InvalidBlockNumber && !sawInsert)
			problem(cs, "list %d: insert page %u is not on the list's chain", i, inserts[i]);
	}

	/* pages in no list (an extension interrupted by a crash leaves an all-zero page: harmless) */
	for (BlockNumber b = firstEntry; b < nblocks; b++)
	{
		if (owner[b] != 0)
			continue;
		read_block(index, b, page);
		if (!PageIsNew(page))
			problem(cs, "block %u: entry page in no list", b);
	}
	elog(DEBUG1, "pgml.ivfflat_check: %u blocks, %d lists, " INT64_FORMAT " entries", nblocks, shape.lists,
		 entries);
}

PG_FUNCTION_INFO_V1(pgml_ivfflat_check);

Datum
pgml_ivfflat_check(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	CheckState	cs;
	Relation	index;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || !(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pgml.ivfflat_check must be called in a context that accepts a set")));

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	cs.desc = CreateTemplateTupleDesc(1);
	TupleDescInitEntry(cs.desc, (AttrNumber) 1, "problem", TEXTOID, -1, 0);
	cs.store = tuplestore_begin_heap(true, false, work_mem);
	cs.nproblems = 0;
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = cs.store;
	rsinfo->setDesc = cs.desc;
	MemoryContextSwitchTo(old);

	index = relation_open(relid, AccessShareLock);
	if (index->rd_rel->relkind != RELKIND_INDEX || index->rd_indam == NULL ||
		index->rd_indam->ambuild != ivfflatbuild)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a pgml_ivfflat index", RelationGetRelationName(index))));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_INDEX, RelationGetRelationName(index));
	if (RELATION_IS_OTHER_TEMP(index))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot check temporary indexes of other sessions")));

	check_index(index, &cs);
	relation_close(index, AccessShareLock);
	return (Datum) 0;
}
