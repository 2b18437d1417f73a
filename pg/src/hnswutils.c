/*
 * hnswutils.c — pgml_hnsw: page layout, metapage, guarded element reads, and the layer search that
 * scans and inserts share.
 *
 * Every read of an index page goes through HnswCheckPage/HnswGetElement, which check the special area,
 * the item bounds, the element's type, level and size before anything is dereferenced: a corrupt page
 * is an ERROR with ERRCODE_INDEX_CORRUPTED, never a wild read.
 *
 * The search keeps no palloc per visited element: visited elements are rows of one growing array,
 * found through an open-addressing table keyed by element TID, and the three heaps (candidates, the ef
 * nearest, discarded) hold 8-byte (distance, row) pairs.
 */
#include "pgml_pg.h"

#include "hnsw.h"
#include "vector.h"

#include "access/generic_xlog.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/buf_internals.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "pgml/distance.h"

/* ---------------------------------------------------------------------------------------------------
 * Layout
 * ------------------------------------------------------------------------------------------------- */

Size
HnswVectorOffset(int level)
{
	return TYPEALIGN(4, offsetof(HnswElementData, counts) + sizeof(uint16) * (level + 1));
}

Size
HnswSlotsOffset(int dim, int storage, int level)
{
	return HnswVectorOffset(level) + (Size) dim * (storage == HNSW_STORAGE_F16 ? 2 : 4);
}

int
HnswLayerSlots(int m, int layer)
{
	return layer == 0 ? 2 * m : m;
}

int
HnswLayerStart(int m, int layer)
{
	return layer == 0 ? 0 : 2 * m + (layer - 1) * m;
}

Size
HnswElementSize(int dim, int storage, int m, int level)
{
	return HnswSlotsOffset(dim, storage, level) + sizeof(ItemPointerData) * (Size) (2 * m + level * m);
}

/* The most an element page can hold in one item. */
#define HNSW_MAX_ITEM (BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(HnswPageOpaqueData)) \
					   - sizeof(ItemIdData))

int
HnswMaxLevelFor(int dim, int storage, int m)
{
	int			level = -1;

	for (int l = 0; l <= PGML_HNSW_MAX_LEVEL; l++)
		if (MAXALIGN(HnswElementSize(dim, storage, m, l)) <= HNSW_MAX_ITEM)
			level = l;
	return level;
}

int
HnswMaxDimFor(int storage, int m)
{
	int			dim = 1;

	while (HnswMaxLevelFor(dim + 1, storage, m) >= 0)
		dim++;
	return dim;
}

void
HnswSetElementHeader(HnswElement e, int level, ItemPointer heaptid)
{
	e->type = HNSW_ELEMENT_TYPE;
	e->level = (uint8) level;
	e->flags = 0;
	e->unused = 0;
	e->heaptid = *heaptid;
	e->unused2 = 0;
	for (int l = 0; l <= level; l++)
		e->counts[l] = 0;
}

/* ---------------------------------------------------------------------------------------------------
 * Catalog facts about an index
 * ------------------------------------------------------------------------------------------------- */

HnswIndexInfo *
HnswGetIndexInfo(Relation index)
{
	HnswIndexInfo *info = (HnswIndexInfo *) index->rd_amcache;

	if (info == NULL)
	{
		Oid			opfamily = index->rd_opfamily[0];
		Oid			type = index->rd_opcintype[0];
		HnswIndexInfo tmp;
		HeapTuple	tup;

		tmp.metric = 0;
		/* the opclass's ORDER BY operator's strategy number says which distance it is */
		for (int s = PGML_HNSW_L2; s <= PGML_HNSW_L1; s++)
			if (OidIsValid(get_opfamily_member(opfamily, type, type, s)))
			{
				tmp.metric = (pgml_hnsw_metric) s;
				break;
			}
		if (tmp.metric == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator class of index \"%s\" has no distance operator",
							RelationGetRelationName(index))));
		tmp.storage = HNSW_STORAGE_F32;
		tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
		if (HeapTupleIsValid(tup))
		{
			if (strcmp(NameStr(((Form_pg_type) GETSTRUCT(tup))->typname), "halfvec") == 0)
				tmp.storage = HNSW_STORAGE_F16;
			ReleaseSysCache(tup);
		}
		info = MemoryContextAlloc(index->rd_indexcxt, sizeof(HnswIndexInfo));
		*info = tmp;
		index->rd_amcache = info;
	}
	return info;
}

int
HnswGetM(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->m : HNSW_DEFAULT_M;
}

int
HnswGetEfConstruction(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->ef_construction : HNSW_DEFAULT_EF_CONSTRUCTION;
}

/* ---------------------------------------------------------------------------------------------------
 * Pages
 * ------------------------------------------------------------------------------------------------- */

void
HnswInitPage(Page page, uint16 flags)
{
	HnswPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(HnswPageOpaqueData));
	opaque = HnswPageGetOpaque(page);
	opaque->flags = flags;
	opaque->page_id = HNSW_PAGE_ID;
}

static void
corrupt(Relation index, BlockNumber blkno, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("index \"%s\" is corrupt: %s in block %u", RelationGetRelationName(index), what, blkno),
			 errhint("Rebuild the index with REINDEX.")));
}

void
HnswCheckPage(Relation index, Page page, BlockNumber blkno, uint16 flags)
{
	if (PageIsNew(page))
		corrupt(index, blkno, "uninitialized page");
	if (PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)) ||
		((PageHeader) page)->pd_lower < SizeOfPageHeaderData ||
		((PageHeader) page)->pd_lower > ((PageHeader) page)->pd_upper ||
		((PageHeader) page)->pd_upper > ((PageHeader) page)->pd_special)
		corrupt(index, blkno, "bad page header");
	if (HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID || HnswPageGetOpaque(page)->flags != flags)
		corrupt(index, blkno, "unexpected page type");
}

void
HnswReadMeta(Relation index, HnswMetaData *meta)
{
	Buffer		buf;
	Page		page;
	HnswMetaData *m;

	if (RelationGetNumberOfBlocks(index) == 0)
		corrupt(index, 0, "missing metapage");
	buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	HnswCheckPage(index, page, HNSW_METAPAGE_BLKNO, HNSW_PAGE_META);
	m = (HnswMetaData *) PageGetContents(page);
	*meta = *m;
	UnlockReleaseBuffer(buf);
	if (meta->magic != HNSW_MAGIC)
		corrupt(index, 0, "bad magic number");
	if (meta->version != HNSW_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has version %u, this build reads version %d",
						RelationGetRelationName(index), meta->version, HNSW_VERSION),
				 errhint("Rebuild the index with REINDEX.")));
	if (meta->dim < 1 || meta->m < PGML_HNSW_MIN_M || meta->m > PGML_HNSW_MAX_M ||
		meta->metric < PGML_HNSW_L2 || meta->metric > PGML_HNSW_L1 ||
		(meta->storage != HNSW_STORAGE_F32 && meta->storage != HNSW_STORAGE_F16) ||
		meta->max_level > PGML_HNSW_MAX_LEVEL ||
		(meta->entry_blkno != InvalidBlockNumber && meta->entry_level > meta->max_level))
		corrupt(index, 0, "bad metapage");
}

/* Points the metapage's entry at entry (level); with only_if_higher, only when level is above it. */
void
HnswUpdateMetaEntry(Relation index, ItemPointer entry, int level, bool only_if_higher)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	GenericXLogState *state;
	Page		page;
	HnswMetaData *m;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	HnswCheckPage(index, BufferGetPage(buf), HNSW_METAPAGE_BLKNO, HNSW_PAGE_META);
	m = (HnswMetaData *) PageGetContents(BufferGetPage(buf));
	if (only_if_higher && m->entry_blkno != InvalidBlockNumber && m->entry_level >= level)
	{
		UnlockReleaseBuffer(buf);
		return;
	}
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	m = (HnswMetaData *) PageGetContents(page);
	if (entry)
	{
		m->entry_blkno = ItemPointerGetBlockNumber(entry);
		m->entry_offno = ItemPointerGetOffsetNumber(entry);
		m->entry_level = (int16) level;
	}
	else
	{
		m->entry_blkno = InvalidBlockNumber;
		m->entry_offno = InvalidOffsetNumber;
		m->entry_level = -1;
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Returns the element at offno of a (locked, checked) element page, or NULL when the item is unused
 * and missing_ok (VACUUM freed it). Anything else that is not a well-formed element is corruption.
 */
HnswElement
HnswGetElement(Relation index, const HnswMetaData *meta, Page page, BlockNumber blkno, OffsetNumber offno,
			   bool missing_ok)
{
	ItemId		iid;
	HnswElement e;
	Size		len;

	if (offno < FirstOffsetNumber || offno > PageGetMaxOffsetNumber(page))
	{
		if (missing_ok)
			return NULL;
		corrupt(index, blkno, "item number out of range");
	}
	iid = PageGetItemId(page, offno);
	if (!ItemIdIsNormal(iid))
	{
		if (missing_ok && !ItemIdIsUsed(iid))
			return NULL;
		corrupt(index, blkno, "unexpected item state");
	}
	len = ItemIdGetLength(iid);
	if (ItemIdGetOffset(iid) + len > BLCKSZ || len < offsetof(HnswElementData, counts) + sizeof(uint16))
		corrupt(index, blkno, "item out of bounds");
	e = (HnswElement) PageGetItem(page, iid);
	if (e->type != HNSW_ELEMENT_TYPE || e->level > meta->max_level ||
		len != HnswElementSize(meta->dim, meta->storage, meta->m, e->level))
		corrupt(index, blkno, "malformed element");
	for (int l = 0; l <= e->level; l++)
		if (e->counts[l] > HnswLayerSlots(meta->m, l))
			corrupt(index, blkno, "neighbour count out of range");
	return e;
}

/* ---------------------------------------------------------------------------------------------------
 * Reader: one pinned buffer
 * ------------------------------------------------------------------------------------------------- */

/*
 * Buffer hints. A scan visits a few thousand random pages of the index, and looking each one up in the
 * shared buffer mapping table (a hash lookup under a partition lock) was a fifth of a search's time.
 * Each backend remembers, per index block, the buffer it last found the block in; ReadRecentBuffer
 * checks the buffer still holds the block and pins it without the lookup. A stale hint only costs the
 * normal lookup. Hints live in backend memory for the last few indexes used, keyed by relfilenode, so a
 * REINDEX or TRUNCATE starts afresh.
 */
#define HNSW_HINT_INDEXES 8

typedef struct HnswHints
{
	Oid			relid;
	RelFileNode node;
	BlockNumber n;
	Buffer	   *hint;
} HnswHints;

static HnswHints hint_cache[HNSW_HINT_INDEXES];
static int	hint_victim;

static HnswHints *
hnsw_hints(Relation index, BlockNumber need)
{
	HnswHints  *h = NULL;

	for (int i = 0; i < HNSW_HINT_INDEXES; i++)
		if (hint_cache[i].hint != NULL && hint_cache[i].relid == RelationGetRelid(index))
		{
			h = &hint_cache[i];
			break;
		}
	if (h != NULL && !RelFileNodeEquals(h->node, index->rd_node))
	{
		pfree(h->hint);
		h->hint = NULL;
	}
	if (h == NULL || h->hint == NULL)
	{
		if (h == NULL)
		{
			h = &hint_cache[hint_victim];
			hint_victim = (hint_victim + 1) % HNSW_HINT_INDEXES;
			if (h->hint != NULL)
				pfree(h->hint);
		}
		h->relid = RelationGetRelid(index);
		h->node = index->rd_node;
		h->n = 0;
		h->hint = NULL;
	}
	if (need > h->n)
	{
		BlockNumber n = Max(need + need / 4 + 64, 1024);
		Buffer	   *a = MemoryContextAllocZero(TopMemoryContext, sizeof(Buffer) * n);

		if (h->hint != NULL)
		{
			memcpy(a, h->hint, sizeof(Buffer) * h->n);
			pfree(h->hint);
		}
		h->hint = a;
		h->n = n;
	}
	return h;
}

/* ReadBuffer through the backend's hint for the block (see above); the buffer comes back pinned. */
static Buffer
hnsw_read_buffer(Relation index, BlockNumber blkno, BlockNumber nblocks)
{
	HnswHints  *h = hnsw_hints(index, Max(nblocks, blkno + 1));
	Buffer		b = h->hint[blkno];

	if (b != InvalidBuffer && ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, b))
		return b;
	b = ReadBuffer(index, blkno);
	h->hint[blkno] = b;
	return b;
}

void
HnswReaderInit(HnswReader *r, Relation index)
{
	r->index = index;
	r->buf = InvalidBuffer;
	r->blkno = InvalidBlockNumber;
	r->nblocks = RelationGetNumberOfBlocks(index);
	r->checked = NULL;
	r->n_checked = 0;
}

Page
HnswReaderLock(HnswReader *r, BlockNumber blkno)
{
	Page		page;

	if (blkno != r->blkno)
	{
		if (blkno == HNSW_METAPAGE_BLKNO || blkno == InvalidBlockNumber)
			corrupt(r->index, blkno, "neighbour points at the metapage");
		if (blkno >= r->nblocks)
		{
			r->nblocks = RelationGetNumberOfBlocks(r->index);
			if (blkno >= r->nblocks)
				corrupt(r->index, blkno, "reference beyond the end of the index");
		}
		if (BufferIsValid(r->buf))
			ReleaseBuffer(r->buf);
		r->buf = hnsw_read_buffer(r->index, blkno, r->nblocks);
		r->blkno = blkno;
	}
	LockBuffer(r->buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(r->buf);

	/*
	 * The special area sits at the far end of the page, one more cache miss per element visited; pages
	 * never change type once written, so a reader checks it once per block. The header (which the line
	 * pointers share a cache line with) is checked every time.
	 */
	if (blkno >= r->n_checked)
	{
		BlockNumber n = Max(r->nblocks, blkno + 1) + 64;
		uint8	   *bits = palloc0((n + 7) / 8);

		if (r->checked)
		{
			memcpy(bits, r->checked, (r->n_checked + 7) / 8);
			pfree(r->checked);
		}
		r->checked = bits;
		r->n_checked = n;
	}
	if (r->checked[blkno >> 3] & (1 << (blkno & 7)))
	{
		PageHeader	ph = (PageHeader) page;

		if (ph->pd_lower < SizeOfPageHeaderData || ph->pd_lower > ph->pd_upper || ph->pd_upper > ph->pd_special ||
			ph->pd_special != BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData)))
			corrupt(r->index, blkno, "bad page header");
	}
	else
	{
		HnswCheckPage(r->index, page, blkno, HNSW_PAGE_ELEMENTS);
		r->checked[blkno >> 3] |= 1 << (blkno & 7);
	}
	return page;
}

void
HnswReaderUnlock(HnswReader *r)
{
	LockBuffer(r->buf, BUFFER_LOCK_UNLOCK);
}

void
HnswReaderRelease(HnswReader *r)
{
	if (BufferIsValid(r->buf))
		ReleaseBuffer(r->buf);
	r->buf = InvalidBuffer;
	r->blkno = InvalidBlockNumber;
}

/* ---------------------------------------------------------------------------------------------------
 * Vectors
 * ------------------------------------------------------------------------------------------------- */

/*
 * Converts a datum of the indexed type to the index's storage format (palloc'd): float32 or float16,
 * normalized for cosine. *ok is false for a vector cosine cannot index (zero norm).
 */
void *
HnswPrepareVector(Relation index, const HnswMetaData *meta, Datum value, bool *ok)
{
	PgmlVector *v = (PgmlVector *) PG_DETOAST_DATUM(value);
	int			dim = v->dim;
	float	   *f = palloc(sizeof(float) * Max(dim, 1));
	Size		bytes = VARSIZE_ANY_EXHDR(v);

	*ok = true;
	if (meta->storage == HNSW_STORAGE_F16)
	{
		PgmlHalfVec *h = (PgmlHalfVec *) v;

		if (bytes != PGML_HALFVEC_SIZE(dim) - VARHDRSZ)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("malformed halfvec value")));
		pgml_f16_to_f32_n(h->x, f, dim);
	}
	else
	{
		if (bytes != PGML_VECTOR_SIZE(dim) - VARHDRSZ)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("malformed vector value")));
		memcpy(f, v->x, sizeof(float) * dim);
	}
	if (dim != meta->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", meta->dim, dim)));
	if (meta->metric == PGML_HNSW_COSINE && !pgml_hnsw_normalize(f, dim))
		*ok = false;
	if (meta->storage == HNSW_STORAGE_F16)
	{
		uint16	   *h = palloc(sizeof(uint16) * dim);

		pgml_f32_to_f16_n(f, h, dim);
		pfree(f);
		return h;
	}
	return f;
}

float
HnswDistance(const HnswMetaData *meta, const void *a, const void *b)
{
	if (meta->storage == HNSW_STORAGE_F16)
		return pgml_hnsw_distance_f16(meta->metric, a, b, meta->dim);
	return pgml_hnsw_distance(meta->metric, a, b, meta->dim);
}

void
HnswVectorToFloat(const HnswMetaData *meta, const void *src, float *dst)
{
	if (meta->storage == HNSW_STORAGE_F16)
		pgml_f16_to_f32_n(src, dst, meta->dim);
	else
		memcpy(dst, src, sizeof(float) * meta->dim);
}

/* Copies the neighbours of tid on layer into out (cap slots); returns their count (0: gone/too low). */
int
HnswReadNeighbors(HnswReader *r, const HnswMetaData *meta, ItemPointer tid, int layer, ItemPointerData *out,
				  int cap)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	Page		page = HnswReaderLock(r, blkno);
	HnswElement e = HnswGetElement(r->index, meta, page, blkno, ItemPointerGetOffsetNumber(tid), true);
	int			n = 0;

	if (e != NULL && e->level >= layer)
	{
		n = Min(e->counts[layer], cap);
		memcpy(out, HnswElementSlots(e, meta->dim, meta->storage) + HnswLayerStart(meta->m, layer),
			   sizeof(ItemPointerData) * n);
	}
	HnswReaderUnlock(r);
	return n;
}

/* Loads the vector of tid as float32; false when the element is gone. */
bool
HnswLoadVector(HnswReader *r, const HnswMetaData *meta, ItemPointer tid, float *out, uint8 *level,
			   bool *deleted)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	Page		page = HnswReaderLock(r, blkno);
	HnswElement e = HnswGetElement(r->index, meta, page, blkno, ItemPointerGetOffsetNumber(tid), true);

	if (e != NULL)
	{
		HnswVectorToFloat(meta, HnswElementVector(e), out);
		if (level)
			*level = e->level;
		if (deleted)
			*deleted = (e->flags & HNSW_ELEMENT_DELETED) != 0;
	}
	HnswReaderUnlock(r);
	return e != NULL;
}

/* ---------------------------------------------------------------------------------------------------
 * Search
 * ------------------------------------------------------------------------------------------------- */

static inline uint64
tid_key(ItemPointer tid)
{
	return (((uint64) ItemPointerGetBlockNumber(tid)) << 16 | ItemPointerGetOffsetNumber(tid)) + 1;
}

static inline uint32
hash_key(uint64 k)
{
	k ^= k >> 33;
	k *= UINT64CONST(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return (uint32) k;
}

void
HnswSearchInit(HnswSearch *s, Relation index, const HnswMetaData *meta, const void *query, bool keep_discarded)
{
	memset(s, 0, sizeof(*s));
	s->index = index;
	s->meta = meta;
	s->query = query;
	s->keep_discarded = keep_discarded;
	HnswReaderInit(&s->reader, index);
	s->cap_nodes = 1024;
	s->nodes = palloc(sizeof(HnswNode) * s->cap_nodes);
	s->cap_hash = 4096;
	s->keys = palloc0(sizeof(uint64) * s->cap_hash);
	s->vals = palloc(sizeof(int32) * s->cap_hash);
	s->cap_cand = s->cap_top = s->cap_disc = 256;
	s->cand = palloc(sizeof(HnswCand) * s->cap_cand);
	s->top = palloc(sizeof(HnswCand) * s->cap_top);
	s->disc = palloc(sizeof(HnswCand) * s->cap_disc);
	s->cap_nbuf = 2 * meta->m;
	s->nbuf = palloc(sizeof(ItemPointerData) * s->cap_nbuf);
	s->fresh = palloc(sizeof(int) * s->cap_nbuf);
	s->fresh_ok = palloc(sizeof(bool) * s->cap_nbuf);
}

void
HnswSearchFree(HnswSearch *s)
{
	HnswReaderRelease(&s->reader);
}

/* Forgets every visited element (a new layer, or a new query). */
void
HnswSearchReset(HnswSearch *s)
{
	s->n_nodes = 0;
	memset(s->keys, 0, sizeof(uint64) * s->cap_hash);
	s->n_cand = s->n_top = s->n_disc = 0;
}

static void
hash_grow(HnswSearch *s)
{
	int			ncap = s->cap_hash * 2;
	uint64	   *keys = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint64) * ncap);
	int32	   *vals = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * ncap);

	memset(keys, 0, sizeof(uint64) * ncap);
	for (int i = 0; i < s->cap_hash; i++)
		if (s->keys[i] != 0)
		{
			uint32		h = hash_key(s->keys[i]) & (ncap - 1);

			while (keys[h] != 0)
				h = (h + 1) & (ncap - 1);
			keys[h] = s->keys[i];
			vals[h] = s->vals[i];
		}
	pfree(s->keys);
	pfree(s->vals);
	s->keys = keys;
	s->vals = vals;
	s->cap_hash = ncap;
}

/* The row of tid, added (unfilled, *is_new) when it was not visited yet. */
int
HnswSearchVisit(HnswSearch *s, ItemPointer tid, bool *is_new)
{
	uint64		k = tid_key(tid);
	uint32		h;

	if ((s->n_nodes + 1) * 2 > s->cap_hash)
		hash_grow(s);
	h = hash_key(k) & (s->cap_hash - 1);
	while (s->keys[h] != 0)
	{
		if (s->keys[h] == k)
		{
			*is_new = false;
			return s->vals[h];
		}
		h = (h + 1) & (s->cap_hash - 1);
	}
	if (s->n_nodes >= s->cap_nodes)
	{
		s->cap_nodes *= 2;
		s->nodes = repalloc_huge(s->nodes, sizeof(HnswNode) * s->cap_nodes);
	}
	s->keys[h] = k;
	s->vals[h] = s->n_nodes;
	s->nodes[s->n_nodes].tid = *tid;
	s->nodes[s->n_nodes].flags = 0;
	*is_new = true;
	return s->n_nodes++;
}

static void
cand_push(HnswCand **h, int *n, int *cap, HnswCand c, bool max)
{
	int			i;

	if (*n >= *cap)
	{
		*cap *= 2;
		*h = repalloc_huge(*h, sizeof(HnswCand) * *cap);
	}
	i = (*n)++;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (max ? (*h)[parent].d >= c.d : (*h)[parent].d <= c.d)
			break;
		(*h)[i] = (*h)[parent];
		i = parent;
	}
	(*h)[i] = c;
}

static HnswCand
cand_pop(HnswCand *h, int *n, bool max)
{
	HnswCand	top = h[0];
	HnswCand	last = h[--(*n)];
	int			i = 0;
	int			len = *n;

	if (len == 0)
		return top;
	for (;;)
	{
		int			l = 2 * i + 1;
		int			r = l + 1;
		int			best = i;
		float		bd = last.d;

		if (l < len && (max ? h[l].d > bd : h[l].d < bd))
		{
			best = l;
			bd = h[l].d;
		}
		if (r < len && (max ? h[r].d > bd : h[r].d < bd))
			best = r;
		if (best == i)
			break;
		h[i] = h[best];
		i = best;
	}
	h[i] = last;
	return top;
}

/* Reads element row's page and fills its distance, heap TID and flags; false when it is gone. */
static bool
fill_node(HnswSearch *s, int row)
{
	HnswNode   *nd = &s->nodes[row];
	BlockNumber blkno = ItemPointerGetBlockNumber(&nd->tid);
	Page		page = HnswReaderLock(&s->reader, blkno);
	HnswElement e = HnswGetElement(s->index, s->meta, page, blkno, ItemPointerGetOffsetNumber(&nd->tid), true);

	if (e == NULL)
	{
		HnswReaderUnlock(&s->reader);
		nd->flags |= HNSW_NODE_EXPANDED | HNSW_NODE_EMITTED;
		return false;
	}
	nd->d = HnswDistance(s->meta, s->query, HnswElementVector(e));
	nd->heaptid = e->heaptid;
	nd->level = e->level;
	if (e->flags & HNSW_ELEMENT_DELETED)
		nd->flags |= HNSW_NODE_DELETED;
	HnswReaderUnlock(&s->reader);
	return true;
}

/* Adds an entry point (its row must be filled) to the candidates and the nearest set. */
void
HnswSearchEntry(HnswSearch *s, HnswCand *ep, int layer)
{
	cand_push(&s->cand, &s->n_cand, &s->cap_cand, *ep, false);
	cand_push(&s->top, &s->n_top, &s->cap_top, *ep, true);
}

/*
 * Reads a batch of newly seen elements the way a CPU likes it: first every page is pinned and its
 * header prefetched, then every element is located and the start of its vector prefetched, and only
 * then are the distances computed, so the cache misses of the batch overlap instead of queueing one
 * behind the other. Vectors are read after the content lock is dropped, with the pin held: an element's
 * vector never changes once written, and VACUUM frees items without moving the others
 * (PageIndexTupleDeleteNoCompact), so pinned bytes stay put. Fewer than eight pins at a time keeps
 * the buffer manager on its fast path.
 */
#define HNSW_FILL_BATCH 6

/* Prefetches the buffer descriptors the hints name, which pinning will lock. */
static void
hnsw_prefetch_descriptors(HnswSearch *s, const int *rows, int n)
{
	HnswHints  *h = hnsw_hints(s->index, s->reader.nblocks);

	for (int i = 0; i < n; i++)
	{
		BlockNumber blkno = ItemPointerGetBlockNumber(&s->nodes[rows[i]].tid);
		Buffer		b = blkno < h->n ? h->hint[blkno] : InvalidBuffer;

		if (b > 0)
			__builtin_prefetch(GetBufferDescriptor(b - 1));
	}
}

static void
fill_batch(HnswSearch *s, const int *rows, int n, bool *ok)
{
	HnswReader *r = &s->reader;
	Buffer		bufs[HNSW_FILL_BATCH];
	const void *vecs[HNSW_FILL_BATCH];
	Size		vec_bytes = (Size) s->meta->dim * (s->meta->storage == HNSW_STORAGE_F16 ? 2 : 4);

	/* the reader's own pin would be a seventh */
	HnswReaderRelease(r);
	hnsw_prefetch_descriptors(s, rows, n);
	for (int i = 0; i < n; i++)
	{
		BlockNumber blkno = ItemPointerGetBlockNumber(&s->nodes[rows[i]].tid);

		if (blkno == HNSW_METAPAGE_BLKNO || blkno == InvalidBlockNumber)
		{
			for (int k = 0; k < i; k++)
				ReleaseBuffer(bufs[k]);
			corrupt(r->index, blkno, "neighbour points at the metapage");
		}
		if (blkno >= r->nblocks)
		{
			r->nblocks = RelationGetNumberOfBlocks(r->index);
			if (blkno >= r->nblocks)
			{
				for (int k = 0; k < i; k++)
					ReleaseBuffer(bufs[k]);
				corrupt(r->index, blkno, "reference beyond the end of the index");
			}
		}
		bufs[i] = hnsw_read_buffer(r->index, blkno, r->nblocks);
		/* the header and line pointers, and the special area a block's first visit checks */
		__builtin_prefetch(BufferGetPage(bufs[i]));
		__builtin_prefetch((const char *) BufferGetPage(bufs[i]) + BLCKSZ - 64);
	}

	/*
	 * Prefetch each element, found through its line pointer read without the content lock: a racy read
	 * can only send a prefetch to the wrong place on the page, which is harmless; the element is read
	 * for real under the lock below.
	 */
	for (int i = 0; i < n; i++)
	{
		const char *page = (const char *) BufferGetPage(bufs[i]);
		OffsetNumber offno = ItemPointerGetOffsetNumber(&s->nodes[rows[i]].tid);

		if (offno >= FirstOffsetNumber && offno <= PageGetMaxOffsetNumber((Page) page))
		{
			Size		off = ItemIdGetOffset(PageGetItemId((Page) page, offno));

			if (off < BLCKSZ)
				for (Size k = off & ~(Size) 63; k < Min(off + vec_bytes + 64, BLCKSZ); k += 64)
					__builtin_prefetch(page + k);
		}
	}
	for (int i = 0; i < n; i++)
	{
		HnswNode   *nd = &s->nodes[rows[i]];
		BlockNumber blkno = ItemPointerGetBlockNumber(&nd->tid);
		Page		page;
		HnswElement e;

		/* the reader checks the page (type once per block, header always) as for a single element */
		r->buf = bufs[i];
		r->blkno = blkno;
		page = HnswReaderLock(r, blkno);
		e = HnswGetElement(s->index, s->meta, page, blkno, ItemPointerGetOffsetNumber(&nd->tid), true);
		r->buf = InvalidBuffer;
		r->blkno = InvalidBlockNumber;
		if (e == NULL)
		{
			LockBuffer(bufs[i], BUFFER_LOCK_UNLOCK);
			nd->flags |= HNSW_NODE_EXPANDED | HNSW_NODE_EMITTED;
			ok[i] = false;
			vecs[i] = NULL;
			continue;
		}
		nd->heaptid = e->heaptid;
		nd->level = e->level;
		if (e->flags & HNSW_ELEMENT_DELETED)
			nd->flags |= HNSW_NODE_DELETED;
		vecs[i] = HnswElementVector(e);
		LockBuffer(bufs[i], BUFFER_LOCK_UNLOCK);
		ok[i] = true;
	}
	for (int i = 0; i < n; i++)
	{
		if (ok[i])
			s->nodes[rows[i]].d = HnswDistance(s->meta, s->query, vecs[i]);
		ReleaseBuffer(bufs[i]);
	}
}

/*
 * SEARCH-LAYER (Algorithm 2 of the HNSW paper) over pages, continuing from the current candidates and
 * nearest set. With keep_discarded, every element seen but not among the ef nearest goes to the
 * discarded heap, from which an iterative scan's next round starts.
 */
void
HnswSearchLayer(HnswSearch *s, int ef, int layer)
{
	while (s->n_cand > 0)
	{
		HnswCand	c = s->cand[0];
		int			nn;
		int			n_new;

		if (s->n_top >= ef && c.d > s->top[0].d)
			break;
		cand_pop(s->cand, &s->n_cand, false);
		if (s->nodes[c.node].flags & HNSW_NODE_EXPANDED)
			continue;
		s->nodes[c.node].flags |= HNSW_NODE_EXPANDED;
		nn = HnswReadNeighbors(&s->reader, s->meta, &s->nodes[c.node].tid, layer, s->nbuf, s->cap_nbuf);
		n_new = 0;
		for (int i = 0; i < nn; i++)
		{
			bool		is_new;
			int			row;

			if (!ItemPointerIsValid(&s->nbuf[i]))
				continue;
			row = HnswSearchVisit(s, &s->nbuf[i], &is_new);
			if (is_new)
				s->fresh[n_new++] = row;
		}
		for (int b = 0; b < n_new; b += HNSW_FILL_BATCH)
			fill_batch(s, s->fresh + b, Min(HNSW_FILL_BATCH, n_new - b), s->fresh_ok + b);
		for (int i = 0; i < n_new; i++)
		{
			int			row = s->fresh[i];
			HnswCand	nc;

			if (!s->fresh_ok[i])
				continue;
			nc.d = s->nodes[row].d;
			nc.node = row;
			if (s->n_top < ef || nc.d < s->top[0].d)
			{
				cand_push(&s->cand, &s->n_cand, &s->cap_cand, nc, false);
				cand_push(&s->top, &s->n_top, &s->cap_top, nc, true);
				if (s->n_top > ef)
				{
					HnswCand	out = cand_pop(s->top, &s->n_top, true);

					if (s->keep_discarded)
						cand_push(&s->disc, &s->n_disc, &s->cap_disc, out, false);
				}
			}
			else if (s->keep_discarded)
				cand_push(&s->disc, &s->n_disc, &s->cap_disc, nc, false);
		}
		CHECK_FOR_INTERRUPTS();
	}
}

/* Empties the nearest set into out (room for all of it), nearest first; returns the count. */
int
HnswSearchTake(HnswSearch *s, HnswCand *out)
{
	int			n = s->n_top;

	for (int i = n - 1; i >= 0; i--)
		out[i] = cand_pop(s->top, &s->n_top, true);
	return n;
}

/* Fills a new row for tid as an entry point; false when the element is gone. */
bool
HnswSearchFillEntry(HnswSearch *s, int row)
{
	return fill_node(s, row);
}
