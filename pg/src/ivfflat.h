/*
 * ivfflat.h — the pgml_ivfflat index access method: on-disk layout and the functions its files share.
 *
 * An IVF-flat index keeps every vector, uncompressed ("flat"), in one of `lists` inverted lists; each list
 * has a k-means center. A query ranks the centers and scans only the `pgml.ivfflat_probes` nearest lists.
 *
 * Pages (all with IvfflatPageOpaqueData in the special space):
 *
 *   block 0                 meta page: IvfflatMetaData right after the page header
 *   blocks 1 .. nlistpages  list pages: one IvfflatListData item per list, listsPerPage per page, in list
 *                           order (list i is item i % listsPerPage + 1 of page 1 + i / listsPerPage)
 *   the rest                entry pages: IvfflatEntryData items; each list is a chain of entry pages from
 *                           its startPage through nextblkno; inserts go to the chain's insertPage (or after)
 *
 * Centers and entries are stored in the column's element type (float32 for pgml.vector, float16 for
 * pgml.halfvec). For cosine, entries and centers are unit-norm (zero vectors are not indexed) and the
 * order is by negative inner product.
 *
 * WAL: a build writes its pages without WAL and then logs them all as full pages (log_newpage_range);
 * every later change (insert, vacuum) goes through generic WAL.
 */
#ifndef PGML_IVFFLAT_H
#define PGML_IVFFLAT_H

#include "postgres.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "storage/block.h"
#include "storage/bufpage.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

#include "pgml/ivf.h"

#define IVFFLAT_MAGIC			0x49564631	/* "IVF1" */
#define IVFFLAT_VERSION			1
#define IVFFLAT_PAGE_ID			0xFF8A

#define IVFFLAT_METAPAGE_BLKNO	0
#define IVFFLAT_LIST_START_BLKNO 1

/* page kinds (flags in the special space) */
#define IVFFLAT_PAGE_META		1
#define IVFFLAT_PAGE_LIST		2
#define IVFFLAT_PAGE_ENTRY		3

/* element types */
#define IVFFLAT_ELEM_F32		1
#define IVFFLAT_ELEM_F16		2

/* options and limits */
#define IVFFLAT_DEFAULT_LISTS	100
#define IVFFLAT_MIN_LISTS		1
#define IVFFLAT_MAX_LISTS		32768
#define IVFFLAT_MAX_DIM			2000	/* pgml.vector: a center or an entry must fit on a page */
#define IVFFLAT_MAX_DIM_HALF	4000	/* pgml.halfvec */

/* support functions */
#define IVFFLAT_DISTANCE_PROC	1		/* float8 f(type, type): orders like the operator */
#define IVFFLAT_NORM_PROC		2		/* float8 f(type): present = normalize (cosine) */
#define IVFFLAT_NPROCS			2

/* CREATE INDEX progress sub-phases (pg_stat_progress_create_index.phase) */
#define PROGRESS_IVFFLAT_PHASE_SAMPLE	2
#define PROGRESS_IVFFLAT_PHASE_KMEANS	3
#define PROGRESS_IVFFLAT_PHASE_ASSIGN	4

typedef struct IvfflatPageOpaqueData
{
	BlockNumber nextblkno;		/* next entry page of the same list, or InvalidBlockNumber */
	uint16		flags;			/* IVFFLAT_PAGE_* */
	uint16		page_id;		/* IVFFLAT_PAGE_ID, to recognize our pages */
} IvfflatPageOpaqueData;

typedef IvfflatPageOpaqueData *IvfflatPageOpaque;

#define IvfflatPageGetOpaque(page) ((IvfflatPageOpaque) PageGetSpecialPointer(page))

typedef struct IvfflatMetaData
{
	uint32		magic;
	uint32		version;
	uint16		dims;
	uint16		elemtype;		/* IVFFLAT_ELEM_* */
	uint16		metric;			/* pgml_ivf_metric the index was built for */
	uint16		unused;
	uint32		lists;
	uint32		listsPerPage;
	uint32		nlistpages;
} IvfflatMetaData;

typedef struct IvfflatListData
{
	BlockNumber startPage;		/* first entry page; never changes after the build */
	BlockNumber insertPage;		/* where inserts start looking for room */
	char		center[FLEXIBLE_ARRAY_MEMBER];	/* dims elements of elemtype */
} IvfflatListData;

typedef struct IvfflatEntryData
{
	ItemPointerData heaptid;
	uint16		unused;
	char		x[FLEXIBLE_ARRAY_MEMBER];	/* dims elements of elemtype */
} IvfflatEntryData;

#define IVFFLAT_LIST_SIZE(dims, elsize)		(offsetof(IvfflatListData, center) + (Size) (dims) * (elsize))
#define IVFFLAT_ENTRY_SIZE(dims, elsize)	(offsetof(IvfflatEntryData, x) + (Size) (dims) * (elsize))

/* Options (reloptions) */
typedef struct IvfflatOptions
{
	int32		vl_len_;
	int			lists;
} IvfflatOptions;

/* What an index is: read from its metadata (or, during a build, from its definition). */
typedef struct IvfflatShape
{
	int			dims;
	int			elemtype;
	int			elsize;			/* bytes per element */
	pgml_ivf_metric metric;
	bool		normalize;		/* cosine: unit-norm vectors, zero vectors not indexed */
	int			lists;
	int			listsPerPage;
	int			nlistpages;
} IvfflatShape;

/*
 * Per-relation cache (rd_amcache): the shape and, for scans and inserts, every center as float32 plus each
 * list's start page. Both never change after a build; a REINDEX or TRUNCATE gives the index a new
 * relfilenode, and the relcache invalidation that comes with it drops this cache.
 */
typedef struct IvfflatCache
{
	IvfflatShape shape;
	float	   *centers;		/* (lists, dims) */
	BlockNumber *startPages;	/* (lists) */
} IvfflatCache;

/* GUCs */
extern int	pgml_ivfflat_probes;
extern int	pgml_ivfflat_iterative_scan;
extern int	pgml_ivfflat_max_probes;

#define IVFFLAT_ITERATIVE_OFF		0
#define IVFFLAT_ITERATIVE_RELAXED	1

/* ivfflatutils.c */
extern void IvfflatShapeFromDefinition(Relation index, int lists, IvfflatShape *shape);
extern int	IvfflatGetLists(Relation index);
extern IvfflatCache *IvfflatGetCache(Relation index);
extern void IvfflatInitPage(Page page, uint16 kind);
extern Page IvfflatCheckPage(Relation index, Buffer buf, uint16 kind);
extern void IvfflatListLocation(const IvfflatShape *shape, int list, BlockNumber *blkno, OffsetNumber *off);
extern IvfflatListData *IvfflatGetListItem(Relation index, Page page, OffsetNumber off, const IvfflatShape *shape);
extern bool IvfflatDatumToFloats(const IvfflatShape *shape, Datum value, float *out);
extern void IvfflatFloatsToElems(const IvfflatShape *shape, const float *in, char *out);
extern void IvfflatElemsToFloats(const IvfflatShape *shape, const char *in, float *out);
extern float IvfflatEntryDistance(const IvfflatShape *shape, const char *query_elems, const char *entry_elems);
extern Buffer IvfflatNewBuffer(Relation index, ForkNumber forkNum);

/* the access method's callbacks */
extern IndexBuildResult *ivfflatbuild(Relation heap, Relation index, struct IndexInfo *indexInfo);
extern void ivfflatbuildempty(Relation index);
extern bool ivfflatinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
						  IndexUniqueCheck checkUnique, bool indexUnchanged, struct IndexInfo *indexInfo);
extern IndexBulkDeleteResult *ivfflatbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
												IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *ivfflatvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
extern IndexScanDesc ivfflatbeginscan(Relation index, int nkeys, int norderbys);
extern void ivfflatrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool ivfflatgettuple(IndexScanDesc scan, ScanDirection dir);
extern void ivfflatendscan(IndexScanDesc scan);
extern bool ivfflatvalidate(Oid opclassoid);

#endif							/* PGML_IVFFLAT_H */
