/*
 * ivfflatutils.c — pgml_ivfflat helpers: the index's shape, its per-relation cache of centers, page checks,
 * and conversions between the column's datums, float32 and the stored element type.
 */
#include "pgml_pg.h"

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "pgml/distance.h"

#include "ivfflat.h"
#include "vector.h"

/* The C symbol of a support function ("pgml_vector_l2_squared_distance"), palloc'd. */
static char *
proc_symbol(Oid procoid)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(procoid));
	Datum		src;
	bool		isnull;
	char	   *s;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", procoid);
	src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
	s = isnull ? pstrdup("") : TextDatumGetCString(src);
	ReleaseSysCache(tup);
	return s;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t		n = strlen(s),
				m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The metric that a distance support function stands for. */
static pgml_ivf_metric
metric_of_proc(Oid procoid, bool normalize)
{
	char	   *sym = proc_symbol(procoid);

	if (ends_with(sym, "_l2_squared_distance"))
		return PGML_IVF_L2;
	if (ends_with(sym, "_negative_inner_product"))
		return normalize ? PGML_IVF_COSINE : PGML_IVF_IP;
	if (ends_with(sym, "_l1_distance"))
		return PGML_IVF_L1;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("pgml_ivfflat does not support distance function %s", format_procedure(procoid))));
	pg_unreachable();
}

static int
lists_per_page(int dims, int elsize)
{
	Size		item = MAXALIGN(IVFFLAT_LIST_SIZE(dims, elsize)) + sizeof(ItemIdData);
	Size		room = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(IvfflatPageOpaqueData));

	return (int) (room / item);
}

int
IvfflatGetLists(Relation index)
{
	IvfflatOptions *opts = (IvfflatOptions *) index->rd_options;

	return opts ? opts->lists : IVFFLAT_DEFAULT_LISTS;
}

/*
 * Works out the shape of a new index from its definition: dimensions from the column's typmod, element
 * type from the column's type, metric from the opclass's support functions. Raises the user-facing
 * errors of CREATE INDEX.
 */
void
IvfflatShapeFromDefinition(Relation index, int lists, IvfflatShape *shape)
{
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(index), 0);
	char	   *typname = format_type_be_qualified(att->atttypid);
	int			maxdim;

	memset(shape, 0, sizeof(*shape));
	if (strcmp(typname, "pgml.vector") == 0)
	{
		shape->elemtype = IVFFLAT_ELEM_F32;
		shape->elsize = sizeof(float);
		maxdim = IVFFLAT_MAX_DIM;
	}
	else if (strcmp(typname, "pgml.halfvec") == 0)
	{
		shape->elemtype = IVFFLAT_ELEM_F16;
		shape->elsize = sizeof(uint16);
		maxdim = IVFFLAT_MAX_DIM_HALF;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("pgml_ivfflat cannot index type %s", typname),
				 errhint("Index a pgml.vector or pgml.halfvec column.")));

	if (att->atttypmod < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column with its size, as in %s(384).", typname)));
	if (att->atttypmod > maxdim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for pgml_ivfflat index", maxdim)));
	shape->dims = att->atttypmod;
	shape->normalize = OidIsValid(index_getprocid(index, 1, IVFFLAT_NORM_PROC));
	shape->metric = metric_of_proc(index_getprocid(index, 1, IVFFLAT_DISTANCE_PROC), shape->normalize);
	shape->lists = lists;
	shape->listsPerPage = lists_per_page(shape->dims, shape->elsize);
	shape->nlistpages = (lists + shape->listsPerPage - 1) / shape->listsPerPage;
}

void
IvfflatInitPage(Page page, uint16 kind)
{
	IvfflatPageOpaque op;

	PageInit(page, BLCKSZ, sizeof(IvfflatPageOpaqueData));
	op = IvfflatPageGetOpaque(page);
	op->nextblkno = InvalidBlockNumber;
	op->flags = kind;
	op->page_id = IVFFLAT_PAGE_ID;
}

static void
corrupted_page(Relation index, BlockNumber blkno, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" contains a corrupted page at block %u", RelationGetRelationName(index), blkno),
			 errdetail("%s", what),
			 errhint("Please REINDEX it.")));
}

/* Returns the buffer's page after checking that it is a pgml_ivfflat page of the given kind. */
Page
IvfflatCheckPage(Relation index, Buffer buf, uint16 kind)
{
	Page		page = BufferGetPage(buf);
	IvfflatPageOpaque op;

	if (PageIsNew(page))
		corrupted_page(index, BufferGetBlockNumber(buf), "The page is uninitialized.");
	if (PageGetSpecialSize(page) != MAXALIGN(sizeof(IvfflatPageOpaqueData)))
		corrupted_page(index, BufferGetBlockNumber(buf), "The page's special space has the wrong size.");
	op = IvfflatPageGetOpaque(page);
	if (op->page_id != IVFFLAT_PAGE_ID || op->flags != kind)
		corrupted_page(index, BufferGetBlockNumber(buf), "The page is not of the expected kind.");
	return page;
}

void
IvfflatListLocation(const IvfflatShape *shape, int list, BlockNumber *blkno, OffsetNumber *off)
{
	*blkno = IVFFLAT_LIST_START_BLKNO + list / shape->listsPerPage;
	*off = FirstOffsetNumber + list % shape->listsPerPage;
}

/* The list item at off of a list page, checked. */
IvfflatListData *
IvfflatGetListItem(Relation index, Page page, OffsetNumber off, const IvfflatShape *shape)
{
	ItemId		iid;

	if (off > PageGetMaxOffsetNumber(page))
		corrupted_page(index, InvalidBlockNumber, "A list is missing from its list page.");
	iid = PageGetItemId(page, off);
	if (!ItemIdIsNormal(iid) || ItemIdGetLength(iid) != IVFFLAT_LIST_SIZE(shape->dims, shape->elsize))
		corrupted_page(index, InvalidBlockNumber, "A list item has the wrong size.");
	return (IvfflatListData *) PageGetItem(page, iid);
}

/* Reads and checks the meta page into shape. */
static void
read_meta(Relation index, IvfflatShape *shape)
{
	Buffer		buf;
	Page		page;
	IvfflatMetaData meta;
	IvfflatShape def;

	if (RelationGetNumberOfBlocks(index) <= IVFFLAT_METAPAGE_BLKNO)
		corrupted_page(index, IVFFLAT_METAPAGE_BLKNO, "The index has no meta page.");
	buf = ReadBuffer(index, IVFFLAT_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = IvfflatCheckPage(index, buf, IVFFLAT_PAGE_META);
	memcpy(&meta, PageGetContents(page), sizeof(meta));
	UnlockReleaseBuffer(buf);

	if (meta.magic != IVFFLAT_MAGIC || meta.version != IVFFLAT_VERSION)
		corrupted_page(index, IVFFLAT_METAPAGE_BLKNO, "The meta page has a wrong magic number or version.");

	IvfflatShapeFromDefinition(index, (int) meta.lists, &def);
	if (meta.dims != def.dims || meta.elemtype != def.elemtype || meta.metric != (uint16) def.metric ||
		meta.lists < IVFFLAT_MIN_LISTS || meta.lists > IVFFLAT_MAX_LISTS ||
		meta.listsPerPage != (uint32) def.listsPerPage || meta.nlistpages != (uint32) def.nlistpages)
		corrupted_page(index, IVFFLAT_METAPAGE_BLKNO, "The meta page does not match the index definition.");
	*shape = def;
}

IvfflatCache *
IvfflatGetCache(Relation index)
{
	IvfflatShape shape;
	IvfflatCache *cache;
	Size		size;
	float	   *tmp;
	BlockNumber nblocks;

	if (index->rd_amcache != NULL)
		return (IvfflatCache *) index->rd_amcache;

	read_meta(index, &shape);
	nblocks = RelationGetNumberOfBlocks(index);
	/* one chunk, so that the relcache's pfree(rd_amcache) frees it all */
	size = MAXALIGN(sizeof(IvfflatCache)) + MAXALIGN((Size) shape.lists * shape.dims * sizeof(float)) +
		(Size) shape.lists * sizeof(BlockNumber);
	cache = MemoryContextAllocExtended(index->rd_indexcxt, size, MCXT_ALLOC_HUGE);
	cache->shape = shape;
	cache->centers = (float *) ((char *) cache + MAXALIGN(sizeof(IvfflatCache)));
	cache->startPages = (BlockNumber *) ((char *) cache->centers +
										 MAXALIGN((Size) shape.lists * shape.dims * sizeof(float)));
	tmp = cache->centers;

	PG_TRY();
	{
		for (int p = 0; p < shape.nlistpages; p++)
		{
			BlockNumber blkno = IVFFLAT_LIST_START_BLKNO + p;
			Buffer		buf;
			Page		page;
			int			first = p * shape.listsPerPage;
			int			last = Min(shape.lists, first + shape.listsPerPage);

			if (blkno >= nblocks)
				corrupted_page(index, blkno, "A list page is missing.");
			buf = ReadBuffer(index, blkno);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = IvfflatCheckPage(index, buf, IVFFLAT_PAGE_LIST);
			for (int i = first; i < last; i++)
			{
				IvfflatListData *l = IvfflatGetListItem(index, page, FirstOffsetNumber + (i - first), &shape);

				if (l->startPage < IVFFLAT_LIST_START_BLKNO + shape.nlistpages || l->startPage >= nblocks)
					corrupted_page(index, blkno, "A list's first entry page is out of range.");
				cache->startPages[i] = l->startPage;
				IvfflatElemsToFloats(&shape, l->center, tmp + (Size) i * shape.dims);
			}
			UnlockReleaseBuffer(buf);
		}
	}
	PG_CATCH();
	{
		pfree(cache);
		PG_RE_THROW();
	}
	PG_END_TRY();

	index->rd_amcache = cache;
	return cache;
}

/*
 * Converts a column value to float32 (normalized when the shape says so). Returns false for a vector that
 * cannot be normalized (all zeros), which is then not indexed / matches nothing.
 */
bool
IvfflatDatumToFloats(const IvfflatShape *shape, Datum value, float *out)
{
	struct varlena *v = PG_DETOAST_DATUM(value);
	int			dim;

	if (shape->elemtype == IVFFLAT_ELEM_F32)
	{
		PgmlVector *vec = (PgmlVector *) v;

		dim = vec->dim;
		if (dim == shape->dims)
			memcpy(out, vec->x, sizeof(float) * dim);
	}
	else
	{
		PgmlHalfVec *vec = (PgmlHalfVec *) v;

		dim = vec->dim;
		if (dim == shape->dims)
			pgml_f16_to_f32_n(vec->x, out, dim);
	}
	if (dim != shape->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", shape->dims, dim)));
	if ((Pointer) v != DatumGetPointer(value))
		pfree(v);
	if (shape->normalize)
		return pgml_ivf_normalize(out, shape->dims);
	return true;
}

void
IvfflatFloatsToElems(const IvfflatShape *shape, const float *in, char *out)
{
	if (shape->elemtype == IVFFLAT_ELEM_F32)
		memcpy(out, in, sizeof(float) * shape->dims);
	else
	{
		uint16		tmp[IVFFLAT_MAX_DIM_HALF];

		pgml_f32_to_f16_n(in, tmp, shape->dims);
		memcpy(out, tmp, sizeof(uint16) * shape->dims);
	}
}

void
IvfflatElemsToFloats(const IvfflatShape *shape, const char *in, float *out)
{
	if (shape->elemtype == IVFFLAT_ELEM_F32)
		memcpy(out, in, sizeof(float) * shape->dims);
	else
	{
		uint16		tmp[IVFFLAT_MAX_DIM_HALF];

		memcpy(tmp, in, sizeof(uint16) * shape->dims);
		pgml_f16_to_f32_n(tmp, out, shape->dims);
	}
}

/*
 * The distance between a query and an entry, both in the element type and suitably aligned: entries sit
 * at offset 8 of a MAXALIGN'd item, queries are palloc'd.
 */
float
IvfflatEntryDistance(const IvfflatShape *shape, const char *q, const char *x)
{
	size_t		d = shape->dims;

	if (shape->elemtype == IVFFLAT_ELEM_F32)
	{
		const float *a = (const float *) q,
				   *b = (const float *) x;

		switch (shape->metric)
		{
			case PGML_IVF_IP:
			case PGML_IVF_COSINE:
				return -pgml_dot_f32(a, b, d);
			case PGML_IVF_L1:
				return pgml_l1_f32(a, b, d);
			default:
				return pgml_l2sq_f32(a, b, d);
		}
	}
	else
	{
		const uint16 *a = (const uint16 *) q,
				   *b = (const uint16 *) x;

		switch (shape->metric)
		{
			case PGML_IVF_IP:
			case PGML_IVF_COSINE:
				return -pgml_dot_f16(a, b, d);
			case PGML_IVF_L1:
				return pgml_l1_f16(a, b, d);
			default:
				return pgml_l2sq_f16(a, b, d);
		}
	}
}

/* A new page at the end of the fork, pinned and exclusively locked. */
Buffer
IvfflatNewBuffer(Relation index, ForkNumber forkNum)
{
	Buffer		buf;

	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, forkNum, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}
