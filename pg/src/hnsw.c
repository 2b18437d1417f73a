/*
 * hnsw.c — the pgml_hnsw index access method: handler, reloptions, GUCs, cost estimate, validation.
 *
 * The AM is split like pgvector's: build (hnswbuild.c), insert (hnswinsert.c), scan (hnswscan.c),
 * vacuum (hnswvacuum.c), shared page code (hnswutils.c), the checker (hnswcheck.c); the graph
 * algorithms that need no PostgreSQL live in core/src/index/hnsw.c.
 */
#include "pgml_pg.h"

#include "hnsw.h"

#include <float.h>
#include <math.h>

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

int			pgml_hnsw_ef_search = HNSW_DEFAULT_EF_SEARCH;
int			pgml_hnsw_iterative_scan = HNSW_ITERATIVE_OFF;
int			pgml_hnsw_max_scan_tuples = 20000;

static relopt_kind hnsw_relopt_kind;

static const struct config_enum_entry iterative_options[] = {
	{"off", HNSW_ITERATIVE_OFF, false},
	{"relaxed_order", HNSW_ITERATIVE_RELAXED, false},
	{"strict_order", HNSW_ITERATIVE_STRICT, false},
	{NULL, 0, false}
};

void
pgml_hnsw_init(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m", "Max number of connections per element on upper layers "
					  "(twice that on layer 0)",
					  HNSW_DEFAULT_M, PGML_HNSW_MIN_M, PGML_HNSW_MAX_M, AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction", "Size of the candidate list while building",
					  HNSW_DEFAULT_EF_CONSTRUCTION, 4, 1000, AccessExclusiveLock);

	DefineCustomIntVariable("pgml.hnsw_ef_search",
							"Size of the candidate list of pgml_hnsw index scans.",
							"Larger is slower and finds the true nearest neighbours more often.",
							&pgml_hnsw_ef_search, HNSW_DEFAULT_EF_SEARCH, 1, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("pgml.hnsw_iterative_scan",
							 "Keeps scanning a pgml_hnsw index after ef_search rows when more are needed.",
							 "off, relaxed_order (rows may come slightly out of order) or strict_order.",
							 &pgml_hnsw_iterative_scan, HNSW_ITERATIVE_OFF, iterative_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgml.hnsw_max_scan_tuples",
							"Most elements an iterative pgml_hnsw scan visits.",
							NULL,
							&pgml_hnsw_max_scan_tuples, 20000, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

static bytea *
hnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_construction)},
	};

	return (bytea *) build_reloptions(reloptions, validate, hnsw_relopt_kind, sizeof(HnswOptions), tab,
									  lengthof(tab));
}

static char *
hnswbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case HNSW_PHASE_INITIALIZE:
			return "initializing";
		case HNSW_PHASE_LOAD:
			return "loading tuples";
		case HNSW_PHASE_WRITE:
			return "writing";
		default:
			return NULL;
	}
}

/*
 * All the work of a scan happens before its first row, so startup cost is total cost. An HNSW search
 * visits about ef_search × 2m elements on layer 0 (each expanded element has up to 2m neighbours, most
 * already seen), a page or so each.
 */
static void
hnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *indexStartupCost,
				 Cost *indexTotalCost, Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	int			m = HNSW_DEFAULT_M;
	double		tuples;
	double		visited;
	Relation	index;

	/* never for a scan without ORDER BY (the AM cannot return rows in any other way) */
	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}
	index = index_open(path->indexinfo->indexoid, NoLock);
	m = HnswGetM(index);
	index_close(index, NoLock);

	tuples = Max(path->indexinfo->tuples, 1);
	visited = Min(tuples, (double) pgml_hnsw_ef_search * 2 * m * 0.5 + 2 * m * log(tuples));

	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = visited;
	genericcostestimate(root, path, loop_count, &costs);

	/* a visited element costs a distance computation, much more than an operator call */
	costs.indexTotalCost += visited * cpu_operator_cost * 4;

	*indexStartupCost = costs.indexTotalCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

/* Checks an opclass: ORDER BY operators 1..4 sorting by float_ops, support function 1 a distance. */
static bool
hnswvalidate(Oid opclassoid)
{
	bool		result = true;
	HeapTuple	classtup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	Oid			opcintype;
	char	   *opclassname;
	CatCList   *proclist;
	CatCList   *oprlist;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opcintype = classform->opcintype;
	opclassname = NameStr(classform->opcname);

	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (procform->amprocnum != 1 ||
			!check_amproc_signature(procform->amproc, FLOAT8OID, true, 2, 2, opcintype, opcintype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("pgml_hnsw operator class \"%s\" has an invalid support function %d",
							opclassname, procform->amprocnum)));
			result = false;
		}
	}
	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (oprform->amopstrategy < PGML_HNSW_L2 || oprform->amopstrategy > PGML_HNSW_L1 ||
			oprform->amoppurpose != AMOP_ORDER || !OidIsValid(oprform->amopsortfamily) ||
			!check_amop_signature(oprform->amopopr, FLOAT8OID, oprform->amoplefttype, oprform->amoprighttype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("pgml_hnsw operator class \"%s\" has an invalid operator with strategy %d",
							opclassname, oprform->amopstrategy),
					 errdetail("Operators must be ORDER BY ... FOR ORDER BY float_ops with strategy 1 "
							   "(L2), 2 (inner product), 3 (cosine) or 4 (L1).")));
			result = false;
		}
	}
	if (oprlist->n_members != 1)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("pgml_hnsw operator class \"%s\" must have exactly one operator", opclassname)));
		result = false;
	}
	ReleaseCatCacheList(proclist);
	ReleaseCatCacheList(oprlist);
	ReleaseSysCache(classtup);
	return result;
}

PG_FUNCTION_INFO_V1(pgml_hnsw_handler);

Datum
pgml_hnsw_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = 1;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = hnswbuild;
	amroutine->ambuildempty = hnswbuildempty;
	amroutine->aminsert = hnswinsert;
	amroutine->ambulkdelete = hnswbulkdelete;
	amroutine->amvacuumcleanup = hnswvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = hnswcostestimate;
	amroutine->amoptions = hnswoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = hnswbuildphasename;
	amroutine->amvalidate = hnswvalidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = hnswbeginscan;
	amroutine->amrescan = hnswrescan;
	amroutine->amgettuple = hnswgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = hnswendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
