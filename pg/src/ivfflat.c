/*
 * ivfflat.c — the pgml_ivfflat index access method: handler, options, GUCs, cost estimate, opclass
 * validation. The layout is described in ivfflat.h; build, insert, scan, vacuum and the check function
 * have their own files.
 */
#include "pgml_pg.h"

#include <float.h>

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
#include "utils/regproc.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"
#include "utils/syscache.h"

#include "ivfflat.h"

int			pgml_ivfflat_probes = 1;
int			pgml_ivfflat_iterative_scan = IVFFLAT_ITERATIVE_OFF;
int			pgml_ivfflat_max_probes = IVFFLAT_MAX_LISTS;

static relopt_kind ivfflat_relopt_kind;

static const struct config_enum_entry iterative_scan_options[] = {
	{"off", IVFFLAT_ITERATIVE_OFF, false},
	{"relaxed_order", IVFFLAT_ITERATIVE_RELAXED, false},
	{NULL, 0, false}
};

/* Defines the GUCs and the "lists" reloption (called from _PG_init). */
void
pgml_ivfflat_init(void)
{
	ivfflat_relopt_kind = add_reloption_kind();
	add_int_reloption(ivfflat_relopt_kind, "lists", "Number of inverted lists (k-means centers)",
					  IVFFLAT_DEFAULT_LISTS, IVFFLAT_MIN_LISTS, IVFFLAT_MAX_LISTS, AccessExclusiveLock);

	DefineCustomIntVariable("pgml.ivfflat_probes",
							"Lists a pgml_ivfflat scan probes.",
							"More probes: better recall, slower queries. Equal to lists: an exact search.",
							&pgml_ivfflat_probes,
							1, 1, IVFFLAT_MAX_LISTS,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("pgml.ivfflat_iterative_scan",
							 "Iterative pgml_ivfflat scans: keep probing lists while a filter rejects rows.",
							 "relaxed_order returns each batch of lists in order, but a later batch may hold "
							 "nearer rows than an earlier one.",
							 &pgml_ivfflat_iterative_scan,
							 IVFFLAT_ITERATIVE_OFF, iterative_scan_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pgml.ivfflat_max_probes",
							"Lists an iterative pgml_ivfflat scan probes at most.",
							"Below pgml.ivfflat_probes, pgml.ivfflat_probes wins.",
							&pgml_ivfflat_max_probes,
							IVFFLAT_MAX_LISTS, 1, IVFFLAT_MAX_LISTS,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
}

static bytea *
ivfflatoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"lists", RELOPT_TYPE_INT, offsetof(IvfflatOptions, lists)},
	};

	return (bytea *) build_reloptions(reloptions, validate, ivfflat_relopt_kind, sizeof(IvfflatOptions), tab,
									  lengthof(tab));
}

static char *
ivfflatbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case PROGRESS_IVFFLAT_PHASE_SAMPLE:
			return "sampling rows";
		case PROGRESS_IVFFLAT_PHASE_KMEANS:
			return "performing k-means";
		case PROGRESS_IVFFLAT_PHASE_ASSIGN:
			return "assigning and loading tuples";
		default:
			return NULL;
	}
}

/*
 * The planner asks only for paths whose ORDER BY operator is in the index's opfamily (an opclass/operator
 * mismatch never gets here). Without ORDER BY the index is useless: infinite cost. Otherwise the scan
 * reads probes / lists of the entries, all before it returns the first row. Those pages are read list by
 * list, each list's pages mostly in block order, like a sequential scan of that fraction of the index:
 * charge seq_page_cost for them, not the random_page_cost of genericcostestimate, or the planner would
 * prefer a parallel seqscan and sort of the whole table as soon as probes reach a third of the lists.
 */
static void
ivfflatcostestimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *indexStartupCost,
					Cost *indexTotalCost, Selectivity *indexSelectivity, double *indexCorrelation,
					double *indexPages)
{
	GenericCosts costs;
	Relation	index;
	int			lists;
	double		ratio;
	double		random_page,
				seq_page;

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
	lists = IvfflatGetLists(index);
	index_close(index, NoLock);

	ratio = (double) pgml_ivfflat_probes / lists;
	if (ratio > 1.0)
		ratio = 1.0;

	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = Max(path->indexinfo->tuples * ratio, 1.0);
	genericcostestimate(root, path, loop_count, &costs);
	get_tablespace_page_costs(path->indexinfo->reltablespace, &random_page, &seq_page);
	if (random_page > seq_page)
		costs.indexTotalCost = Max(costs.indexTotalCost - costs.numIndexPages * (random_page - seq_page),
								   costs.numIndexPages * seq_page);

	*indexStartupCost = costs.indexTotalCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

static void
validate_problem(const char *opclassname, const char *fmt, const char *what)
{
	ereport(INFO,
			(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
			 errmsg("pgml_ivfflat operator class \"%s\" %s %s", opclassname, fmt, what)));
}

/* Checks an operator class: ordering operators of strategy 1, support functions 1 (required) and 2. */
bool
ivfflatvalidate(Oid opclassoid)
{
	bool		result = true;
	HeapTuple	classtup;
	Form_pg_opclass classform;
	Oid			opfamilyoid,
				opcintype;
	char	   *opclassname;
	CatCList   *proclist,
			   *oprlist;
	bool		hasdistance = false;

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
		bool		ok;

		if (procform->amproclefttype != opcintype || procform->amprocrighttype != opcintype)
			continue;
		switch (procform->amprocnum)
		{
			case IVFFLAT_DISTANCE_PROC:
				ok = check_amproc_signature(procform->amproc, FLOAT8OID, false, 2, 2, opcintype, opcintype);
				hasdistance = true;
				break;
			case IVFFLAT_NORM_PROC:
				ok = check_amproc_signature(procform->amproc, FLOAT8OID, false, 1, 1, opcintype);
				break;
			default:
				validate_problem(opclassname, "has a support function with an invalid number:",
								 format_procedure(procform->amproc));
				result = false;
				continue;
		}
		if (!ok)
		{
			validate_problem(opclassname, "has a support function with a wrong signature:",
							 format_procedure(procform->amproc));
			result = false;
		}
	}

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (oprform->amoplefttype != opcintype || oprform->amoprighttype != opcintype)
			continue;
		if (oprform->amopstrategy != 1 || oprform->amoppurpose != AMOP_ORDER ||
			!check_amop_signature(oprform->amopopr, FLOAT8OID, oprform->amoplefttype, oprform->amoprighttype))
		{
			validate_problem(opclassname, "has an operator that is not a float8 ordering operator of strategy 1:",
							 format_operator(oprform->amopopr));
			result = false;
		}
	}

	if (!hasdistance)
	{
		validate_problem(opclassname, "is missing", "support function 1 (the distance)");
		result = false;
	}

	ReleaseCatCacheList(oprlist);
	ReleaseCatCacheList(proclist);
	ReleaseSysCache(classtup);
	return result;
}

PG_FUNCTION_INFO_V1(pgml_ivfflat_handler);

Datum
pgml_ivfflat_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);

	am->amstrategies = 0;
	am->amsupport = IVFFLAT_NPROCS;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = true;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = false;
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = false;
	am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	am->amkeytype = InvalidOid;

	am->ambuild = ivfflatbuild;
	am->ambuildempty = ivfflatbuildempty;
	am->aminsert = ivfflatinsert;
	am->ambulkdelete = ivfflatbulkdelete;
	am->amvacuumcleanup = ivfflatvacuumcleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = ivfflatcostestimate;
	am->amoptions = ivfflatoptions;
	am->amproperty = NULL;
	am->ambuildphasename = ivfflatbuildphasename;
	am->amvalidate = ivfflatvalidate;
	am->amadjustmembers = NULL;
	am->ambeginscan = ivfflatbeginscan;
	am->amrescan = ivfflatrescan;
	am->amgettuple = ivfflatgettuple;
	am->amgetbitmap = NULL;
	am->amendscan = ivfflatendscan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;

	PG_RETURN_POINTER(am);
}
