/*
 * hnsw.h — the pgml_hnsw index access method: on-page layout and the helpers its files share.
 *
 * Pages. Block 0 is the metapage; every other block is an element page. Each page ends in a 4-byte
 * special area (flags, page id) that every read checks. One element is one item:
 *
 *     HnswElementData (12 bytes): type, level, flags, heap TID
 *     uint16 counts[level + 1]             neighbours in use on each layer
 *     vector (dim × 4 bytes, or × 2 for halfvec), 4-byte aligned
 *     ItemPointerData slots[2m + level·m]  layer 0 first (2m slots), then m per upper layer
 *
 * Keeping an element's neighbours in its own item means a scan reads one item per element it visits:
 * the vector for the distance and, for the few it expands, the neighbour list right beside it. Neighbour
 * lists change in place (under an exclusive buffer lock, through generic WAL); vectors never change.
 * An element's level is clamped so that the whole item fits a page (meta.max_level).
 *
 * Locks. Inserts hold HNSW_UPDATE_LOCK (a page lock on the metapage's number, not a buffer lock) in share
 * mode, or exclusive when they move the entry point; VACUUM's repair and free passes hold it exclusive,
 * so no insert links to an element that is about to be freed. At most one buffer lock is held at a time.
 */
#ifndef PGML_HNSW_PG_H
#define PGML_HNSW_PG_H

#include "postgres.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "nodes/pathnodes.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

#include "pgml/hnsw.h"

#define HNSW_MAGIC			0x484D4750	/* "PGMH" */
#define HNSW_VERSION		1
#define HNSW_PAGE_ID		0xFF93
#define HNSW_METAPAGE_BLKNO 0
#define HNSW_UPDATE_LOCK	0		/* page-lock number for LockPage */

#define HNSW_PAGE_META		1
#define HNSW_PAGE_ELEMENTS	2

#define HNSW_ELEMENT_TYPE	0xE1
#define HNSW_ELEMENT_DELETED 0x01

#define HNSW_DEFAULT_M		16
#define HNSW_DEFAULT_EF_CONSTRUCTION 64
#define HNSW_DEFAULT_EF_SEARCH 40

/* Storage of vectors in the index */
#define HNSW_STORAGE_F32	1
#define HNSW_STORAGE_F16	2

/* pg_stat_progress_create_index sub-phases */
#define HNSW_PHASE_INITIALIZE 1
#define HNSW_PHASE_LOAD		2
#define HNSW_PHASE_WRITE	3

typedef struct HnswPageOpaqueData
{
	uint16		flags;			/* HNSW_PAGE_META or HNSW_PAGE_ELEMENTS */
	uint16		page_id;		/* HNSW_PAGE_ID */
} HnswPageOpaqueData;

typedef HnswPageOpaqueData *HnswPageOpaque;

#define HnswPageGetOpaque(page) ((HnswPageOpaque) PageGetSpecialPointer(page))

typedef struct HnswMetaData
{
	uint32		magic;
	uint32		version;
	uint16		dim;
	uint16		m;
	uint16		ef_construction;
	uint8		metric;			/* pgml_hnsw_metric */
	uint8		storage;		/* HNSW_STORAGE_* */
	uint8		max_level;		/* levels are clamped to this so that an element fits a page */
	uint8		unused[3];
	BlockNumber entry_blkno;	/* InvalidBlockNumber when the index is empty */
	OffsetNumber entry_offno;
	int16		entry_level;
	BlockNumber insert_blkno;	/* the page inserts try first */
} HnswMetaData;

typedef struct HnswElementData
{
	uint8		type;			/* HNSW_ELEMENT_TYPE */
	uint8		level;
	uint8		flags;			/* HNSW_ELEMENT_DELETED */
	uint8		unused;
	ItemPointerData heaptid;
	uint16		unused2;
	uint16		counts[FLEXIBLE_ARRAY_MEMBER];	/* level + 1 of them */
} HnswElementData;

typedef HnswElementData *HnswElement;

typedef struct HnswOptions
{
	int32		vl_len_;
	int			m;
	int			ef_construction;
} HnswOptions;

/* What the catalogs say about an index (cached in rd_amcache). */
typedef struct HnswIndexInfo
{
	pgml_hnsw_metric metric;
	int			storage;		/* HNSW_STORAGE_* */
} HnswIndexInfo;

/* GUCs */
extern int	pgml_hnsw_ef_search;
extern int	pgml_hnsw_iterative_scan;
extern int	pgml_hnsw_max_scan_tuples;

#define HNSW_ITERATIVE_OFF		0
#define HNSW_ITERATIVE_RELAXED	1
#define HNSW_ITERATIVE_STRICT	2

/* ---- layout (hnswutils.c) ---- */
extern Size HnswVectorOffset(int level);
extern Size HnswSlotsOffset(int dim, int storage, int level);
extern Size HnswElementSize(int dim, int storage, int m, int level);
extern int	HnswLayerSlots(int m, int layer);	/* 2m on layer 0, m above */
extern int	HnswLayerStart(int m, int layer);	/* first slot of a layer */
extern int	HnswMaxLevelFor(int dim, int storage, int m);	/* -1 when level 0 does not fit */
extern int	HnswMaxDimFor(int storage, int m);

static inline void *
HnswElementVector(HnswElement e)
{
	return (char *) e + HnswVectorOffset(e->level);
}

static inline ItemPointer
HnswElementSlots(HnswElement e, int dim, int storage)
{
	return (ItemPointer) ((char *) e + HnswSlotsOffset(dim, storage, e->level));
}

/* ---- pages and metadata (hnswutils.c) ---- */
extern HnswIndexInfo *HnswGetIndexInfo(Relation index);
extern int	HnswGetM(Relation index);
extern int	HnswGetEfConstruction(Relation index);
extern void HnswInitPage(Page page, uint16 flags);
extern void HnswCheckPage(Relation index, Page page, BlockNumber blkno, uint16 flags);
extern void HnswReadMeta(Relation index, HnswMetaData *meta);
extern void HnswUpdateMetaEntry(Relation index, ItemPointer entry, int level, bool only_if_higher);
extern HnswElement HnswGetElement(Relation index, const HnswMetaData *meta, Page page, BlockNumber blkno,
								  OffsetNumber offno, bool missing_ok);
extern void HnswSetElementHeader(HnswElement e, int level, ItemPointer heaptid);

/* Keeps one buffer pinned between reads of the same block. */
typedef struct HnswReader
{
	Relation	index;
	Buffer		buf;
	BlockNumber blkno;
	BlockNumber nblocks;
	uint8	   *checked;		/* blocks whose special area was checked (pages never change type) */
	BlockNumber n_checked;		/* bits in checked */
} HnswReader;

extern void HnswReaderInit(HnswReader *r, Relation index);
extern Page HnswReaderLock(HnswReader *r, BlockNumber blkno);	/* share-locked element page */
extern void HnswReaderUnlock(HnswReader *r);
extern void HnswReaderRelease(HnswReader *r);

/* Query and element vectors in the index's storage format. */
extern void *HnswPrepareVector(Relation index, const HnswMetaData *meta, Datum value, bool *ok);
extern float HnswDistance(const HnswMetaData *meta, const void *a, const void *b);
extern void HnswVectorToFloat(const HnswMetaData *meta, const void *src, float *dst);

/* ---- search over pages (hnswutils.c) ---- */
#define HNSW_NODE_EXPANDED	0x01
#define HNSW_NODE_EMITTED	0x02
#define HNSW_NODE_DELETED	0x04

typedef struct HnswNode
{
	ItemPointerData tid;		/* the element */
	ItemPointerData heaptid;
	float		d;				/* internal distance to the query */
	uint8		flags;
	uint8		level;
} HnswNode;

typedef struct HnswCand
{
	float		d;
	int32		node;
} HnswCand;

typedef struct HnswSearch
{
	Relation	index;
	const HnswMetaData *meta;
	const void *query;			/* storage format */
	HnswReader	reader;
	HnswNode   *nodes;			/* every element visited */
	int			n_nodes,
				cap_nodes;
	uint64	   *keys;			/* open addressing: element TID + 1, 0 empty */
	int32	   *vals;
	int			cap_hash;
	HnswCand   *cand;			/* min-heap: to expand */
	int			n_cand,
				cap_cand;
	HnswCand   *top;			/* max-heap: the ef nearest of this round */
	int			n_top,
				cap_top;
	HnswCand   *disc;			/* min-heap: visited, not emitted, not in top (iterative scans) */
	int			n_disc,
				cap_disc;
	bool		keep_discarded;
	ItemPointerData *nbuf;		/* a copied neighbour list */
	int			cap_nbuf;
	int		   *fresh;			/* rows of nbuf's elements seen for the first time (cap_nbuf) */
	bool	   *fresh_ok;
} HnswSearch;

extern void HnswSearchInit(HnswSearch *s, Relation index, const HnswMetaData *meta, const void *query,
						   bool keep_discarded);
extern void HnswSearchFree(HnswSearch *s);
extern void HnswSearchReset(HnswSearch *s);
extern int	HnswSearchVisit(HnswSearch *s, ItemPointer tid, bool *is_new);
extern void HnswSearchEntry(HnswSearch *s, HnswCand *ep, int layer);
extern void HnswSearchLayer(HnswSearch *s, int ef, int layer);
extern int	HnswSearchTake(HnswSearch *s, HnswCand *out);	/* empties top into out, nearest first */
extern bool HnswSearchFillEntry(HnswSearch *s, int row);	/* reads a new row's element; false if gone */
extern int	HnswReadNeighbors(HnswReader *r, const HnswMetaData *meta, ItemPointer tid, int layer,
							  ItemPointerData *out, int cap);
extern bool HnswLoadVector(HnswReader *r, const HnswMetaData *meta, ItemPointer tid, float *out,
						   uint8 *level, bool *deleted);

/* ---- insert (hnswinsert.c) ---- */
extern void HnswInsertOnDisk(Relation index, const HnswMetaData *meta_in, float *vec, ItemPointer heaptid,
							 bool building);
extern void HnswAddBacklink(Relation index, const HnswMetaData *meta, ItemPointer nb, ItemPointer tid,
							const float *vec, int layer);
extern bool HnswAddElementToPage(Relation index, HnswElement e, Size size, ItemPointer out_tid,
								 BlockNumber hint);
extern int	HnswSelectNeighbors(const HnswMetaData *meta, const HnswCand *cands, int n, float **vecs, int m,
								int *sel);

/* ---- AM callbacks ---- */
extern IndexBuildResult *hnswbuild(Relation heap, Relation index, struct IndexInfo *indexInfo);
extern void hnswbuildempty(Relation index);
extern bool hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
					   IndexUniqueCheck checkUnique, bool indexUnchanged, struct IndexInfo *indexInfo);
extern IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
extern IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys);
extern void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool hnswgettuple(IndexScanDesc scan, ScanDirection dir);
extern void hnswendscan(IndexScanDesc scan);

#endif							/* PGML_HNSW_PG_H */
