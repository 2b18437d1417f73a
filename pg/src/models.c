/*
 * models.c — tasks, the per-backend caches of models and deployments, model files, deployments.
 *
 * Models are immutable once trained, so each backend caches the loaded model by id for its lifetime.
 * Deployments change: each backend caches project name → deployed model id, and a statement trigger
 * on pgml.deployments (pgml._deployments_changed) invalidates the relcache entry of pgml.deployments on
 * any change. Relcache invalidations reach every backend at commit, and hot standbys through the WAL,
 * so a deploy anywhere is seen everywhere on the next call — no shared memory needed.
 */
#include "ml.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "pgml/json.h"

/* Files larger than this are split into parts (pgml.files.part), as PostgresML does. */
#define FILE_PART_BYTES (100 * 1024 * 1024)
#define ESTIMATOR_PATH "estimator.pgml"

/* ---------------------------------------------------------------------------------------------------
 * Tasks
 * ------------------------------------------------------------------------------------------------- */

static const char *const task_labels[] = {
	"regression", "classification", "decomposition", "clustering", "question_answering", "summarization",
	"translation", "text_classification", "text_generation", "text2text", "embedding",
	"text_pair_classification", "conversation", NULL
};

const char *
ml_task_label(const char *spelling)
{
	char	   *norm = pstrdup(spelling);

	for (char *p = norm; *p; p++)
		if (*p == '-')
			*p = '_';
	for (const char *const *t = task_labels; *t; t++)
		if (strcmp(*t, norm) == 0)
			return *t;
	if (strcmp(norm, "cluster") == 0)
		return "clustering";
	return NULL;
}

char *
ml_task_display(const char *label)
{
	char	   *out = pstrdup(label);

	for (char *p = out; *p; p++)
		if (*p == '_')
			*p = '-';
	return out;
}

bool
ml_task_core(const char *label, pgml_task *out)
{
	if (strcmp(label, "regression") == 0)
		*out = PGML_TASK_REGRESSION;
	else if (strcmp(label, "classification") == 0)
		*out = PGML_TASK_CLASSIFICATION;
	else if (strcmp(label, "clustering") == 0)
		*out = PGML_TASK_CLUSTERING;
	else if (strcmp(label, "decomposition") == 0)
		*out = PGML_TASK_DECOMPOSITION;
	else
		return false;
	return true;
}

void
ml_json_release(void *json)
{
	json_decref((json_t *) json);
}

void
ml_model_release(void *model)
{
	pgml_model_free((pgml_model *) model);
}

void
ml_preprocessor_release(void *pp)
{
	pgml_preprocessor_free((pgml_preprocessor *) pp);
}

/* ---------------------------------------------------------------------------------------------------
 * JSON conversions
 * ------------------------------------------------------------------------------------------------- */

json_t *
ml_jsonb_to_json(Jsonb *jb)
{
	char	   *text;
	json_t	   *v;
	pgml_err	err;

	if (jb == NULL)
		return NULL;
	text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	ML_CHECK(pgml_json_parse(text, strlen(text), "jsonb", &v, &err), &err);
	pfree(text);
	return v;
}

Jsonb *
ml_json_to_jsonb(const json_t *value)
{
	char	   *text = pgml_json_dumps(value);
	char	   *copy;

	if (text == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	copy = pstrdup(text);
	pgml_free(text);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(copy)));
}

/* ---------------------------------------------------------------------------------------------------
 * Model files
 * ------------------------------------------------------------------------------------------------- */

void
ml_model_store(int64 model_id, const pgml_preprocessor *pp, const pgml_model *model)
{
	pgml_buf	b;
	pgml_err	err;
	pgml_status rc;
	Oid			types[4] = {INT8OID, TEXTOID, INT4OID, BYTEAOID};

	pgml_buf_init(&b);
	rc = pgml_pipeline_save(pp, model, &b, &err);
	if (rc != PGML_OK)
	{
		pgml_buf_free(&b);
		pgml_pg_raise(rc, &err);
	}
	PG_TRY();
	{
		for (size_t off = 0, part = 0; off < b.len; off += FILE_PART_BYTES, part++)
		{
			size_t		n = Min((size_t) FILE_PART_BYTES, b.len - off);
			bytea	   *data = palloc(VARHDRSZ + n);
			Datum		args[4];

			SET_VARSIZE(data, VARHDRSZ + n);
			memcpy(VARDATA(data), b.data + off, n);
			args[0] = Int64GetDatum(model_id);
			args[1] = CStringGetTextDatum(ESTIMATOR_PATH);
			args[2] = Int32GetDatum((int32) part);
			args[3] = PointerGetDatum(data);
			if (SPI_execute_with_args("INSERT INTO pgml.files (model_id, path, part, data) VALUES ($1, $2, $3, $4)",
									  4, types, args, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not store the model file");
			pfree(data);
		}
	}
	PG_FINALLY();
	{
		pgml_buf_free(&b);
	}
	PG_END_TRY();
}

/* ---------------------------------------------------------------------------------------------------
 * Model cache
 * ------------------------------------------------------------------------------------------------- */

typedef struct model_entry
{
	int64		id;				/* hash key */
	ml_model   *model;
} model_entry;

static HTAB *model_cache = NULL;

/* Frees a half-built ml_model (core objects live outside memory contexts). */
static void
free_core_objects(pgml_preprocessor *pp, pgml_model *model)
{
	pgml_preprocessor_free(pp);
	pgml_model_free(model);
}

static ml_model *
load_model(int64 model_id)
{
	Datum		arg = Int64GetDatum(model_id);
	Oid			type = INT8OID;
	bool		isnull;
	char	   *status;
	char	   *task_label;
	int64		project_id;
	StringInfoData blob;
	pgml_preprocessor *pp = NULL;
	pgml_model *model = NULL;
	pgml_err	err;
	pgml_status rc;
	ml_model   *m;
	MemoryContext old;
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	if (SPI_execute_with_args("SELECT m.status, p.task::text, m.project_id FROM pgml.models m "
							  "JOIN pgml.projects p ON p.id = m.project_id WHERE m.id = $1",
							  1, &type, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read model " INT64_FORMAT, model_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model " INT64_FORMAT " does not exist", model_id)));
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	task_label = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	project_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if (status == NULL || strcmp(status, "successful") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model " INT64_FORMAT " did not train successfully", model_id),
				 errdetail("Its status is \"%s\".", status ? status : "null")));

	if (SPI_execute_with_args("SELECT data FROM pgml.files WHERE model_id = $1 AND path = '" ESTIMATOR_PATH "' "
							  "ORDER BY part", 1, &type, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the files of model " INT64_FORMAT, model_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model " INT64_FORMAT " has no stored file", model_id),
				 errhint("Its pgml.files rows were deleted, or it was trained by another program.")));
	initStringInfo(&blob);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bytea	   *part = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

		appendBinaryStringInfo(&blob, VARDATA_ANY(part), VARSIZE_ANY_EXHDR(part));
	}

	rc = pgml_pipeline_load(blob.data, (size_t) blob.len, &pp, &model, &err);
	if (rc != PGML_OK)
	{
		if (rc == PGML_ERR_CORRUPT)
			pgml_err_hint(&err, "Retrain the model, or restore pgml.files from a backup.");
		pgml_pg_raise(rc, &err);
	}

	/* From here on, an error must free the core objects. */
	PG_TRY();
	{
		pgml_task	task;
		size_t		nc = pgml_preprocessor_n_columns(pp);

		if (!ml_task_core(task_label, &task) || task != pgml_model_task(model))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("model " INT64_FORMAT " does not match its project's task %s", model_id, task_label)));
		old = MemoryContextSwitchTo(TopMemoryContext);
		m = palloc0(sizeof(ml_model));
		m->id = model_id;
		m->project_id = project_id;
		m->task = task;
		m->n_columns = (int) nc;
		m->categorical = palloc0(sizeof(bool) * Max(nc, 1));
		m->width = palloc0(sizeof(int) * Max(nc, 1));
		for (size_t c = 0; c < nc; c++)
		{
			const pgml_column *col = pgml_preprocessor_column(pp, c);

			m->categorical[c] = col->categorical;
			m->width[c] = (int) col->width;
		}
		m->n_raw = pgml_preprocessor_n_raw(pp);
		MemoryContextSwitchTo(old);
	}
	PG_CATCH();
	{
		free_core_objects(pp, model);
		PG_RE_THROW();
	}
	PG_END_TRY();
	m->pp = pp;
	m->model = model;
	SPI_finish();
	return m;
}

ml_model *
ml_model_get(int64 model_id)
{
	model_entry *e;
	bool		found;
	ml_model   *m;

	if (model_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(model_entry);
		ctl.hcxt = TopMemoryContext;
		model_cache = hash_create("pgml models", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	e = hash_search(model_cache, &model_id, HASH_FIND, NULL);
	if (e != NULL)
		return e->model;
	m = load_model(model_id);
	e = hash_search(model_cache, &model_id, HASH_ENTER, &found);
	e->model = m;
	return m;
}

/* ---------------------------------------------------------------------------------------------------
 * Deployments
 * ------------------------------------------------------------------------------------------------- */

typedef struct deployment_entry
{
	char		project[NAMEDATALEN * 2];	/* hash key: the project name (truncated names never match) */
	int64		project_id;
	int64		model_id;
} deployment_entry;

static HTAB *deployment_cache = NULL;
static Oid	deployments_relid = InvalidOid;

static void
deployments_changed(Datum arg, Oid relid)
{
	if (deployment_cache == NULL)
		return;
	if (relid == InvalidOid || relid == deployments_relid)
	{
		hash_destroy(deployment_cache);
		deployment_cache = NULL;
	}
}

void
ml_register_callbacks(void)
{
	CacheRegisterRelcacheCallback(deployments_changed, (Datum) 0);
}

int64
ml_deployed_model_id(const char *project_name)
{
	deployment_entry *e;
	bool		found;
	Datum		arg;
	Oid			type = TEXTOID;
	bool		isnull;
	int64		model_id;
	int64		project_id;
	int			ret;

	if (strlen(project_name) < sizeof(e->project) && deployment_cache != NULL)
	{
		e = hash_search(deployment_cache, project_name, HASH_FIND, NULL);
		if (e != NULL)
			return e->model_id;
	}

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	arg = CStringGetTextDatum(project_name);
	if (SPI_execute_with_args("SELECT p.id, d.model_id FROM pgml.projects p "
							  "LEFT JOIN LATERAL (SELECT model_id FROM pgml.deployments WHERE project_id = p.id "
							  "ORDER BY created_at DESC, id DESC LIMIT 1) d ON true WHERE p.name = $1",
							  1, &type, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the deployment of project \"%s\"", project_name);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("project \"%s\" does not exist", project_name)));
	project_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	model_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("No deployed model exists for the project named: `%s`", project_name)));
	SPI_finish();

	if (strlen(project_name) >= sizeof(e->project))
		return model_id;		/* very long names are not cached */
	if (deployment_cache == NULL)
	{
		HASHCTL		ctl;

		deployments_relid = get_relname_relid("deployments", get_namespace_oid("pgml", false));
		ctl.keysize = sizeof(e->project);
		ctl.entrysize = sizeof(deployment_entry);
		ctl.hcxt = TopMemoryContext;
		deployment_cache = hash_create("pgml deployments", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	e = hash_search(deployment_cache, project_name, HASH_ENTER, &found);
	e->project_id = project_id;
	e->model_id = model_id;
	return model_id;
}

void
ml_deploy_insert(int64 project_id, int64 model_id, const char *strategy)
{
	Datum		args[3];
	Oid			types[3] = {INT8OID, INT8OID, TEXTOID};

	args[0] = Int64GetDatum(project_id);
	args[1] = Int64GetDatum(model_id);
	args[2] = CStringGetTextDatum(strategy);
	if (SPI_execute_with_args("INSERT INTO pgml.deployments (project_id, model_id, strategy) "
							  "VALUES ($1, $2, $3::pgml.strategy)", 3, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the deployment");
	/* the statement trigger on pgml.deployments sends the invalidation */
}

PG_FUNCTION_INFO_V1(pgml_deployments_changed);

/* Statement trigger on pgml.deployments: every backend (and standby) drops its deployment cache. */
Datum
pgml_deployments_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "pgml._deployments_changed must be called as a trigger");
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(pgml_clear_model_cache);

/* pgml.clear_model_cache(): forget this backend's loaded models (trained and transformer) and deployments. */
Datum
pgml_clear_model_cache(PG_FUNCTION_ARGS)
{
	if (model_cache != NULL)
	{
		HASH_SEQ_STATUS seq;
		model_entry *e;

		hash_seq_init(&seq, model_cache);
		while ((e = hash_seq_search(&seq)) != NULL)
			free_core_objects(e->model->pp, e->model->model);
		hash_destroy(model_cache);
		model_cache = NULL;
	}
	if (deployment_cache != NULL)
	{
		hash_destroy(deployment_cache);
		deployment_cache = NULL;
	}
	pgml_transformers_clear_cache();
	PG_RETURN_BOOL(true);
}
