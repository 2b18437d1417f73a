/*
 * train.c — pgml.train, pgml.train_joint, pgml.snapshot and pgml.deploy.
 *
 * A train call: find or create the project, snapshot the relation (or reuse the project's last
 * snapshot), fit on the training rows, score on the test rows, store the model file, and deploy it when
 * it is at least as good as the deployed one. Everything happens in the caller's transaction: an error
 * or a cancel leaves nothing behind, so no half-trained model can ever be deployed.
 */
#include "ml.h"

#include <math.h>
#include <time.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "pgml/json.h"

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An enum argument as text (NULL when the argument is NULL). */
static char *
enum_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return DatumGetCString(DirectFunctionCall1(enum_out, PG_GETARG_DATUM(argno)));
}

static char *
text_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static Jsonb *
jsonb_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return PG_GETARG_JSONB_P(argno);
}

/* Runs a query with arguments and returns the first column of the first row, or NULL when no row. */
static char *
query_value(const char *sql, int nargs, Oid *types, Datum *args)
{
	if (SPI_execute_with_args(sql, nargs, types, args, NULL, false, 1) < 0)
		elog(ERROR, "query failed: %s", sql);
	if (SPI_processed == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* Finds the project, or creates it when a task is given. Returns its id; *task_label gets its task. */
static int64
find_or_create_project(const char *name, const char *task, const char **task_label)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	char	   *row_task;
	const char *label = NULL;

	if (task != NULL)
	{
		label = ml_task_label(task);
		if (label == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown task \"%s\"", task),
					 errhint("Tasks are regression, classification, clustering, decomposition, "
							 "question-answering, summarization, translation, text-classification, "
							 "text-generation, text2text, text-pair-classification and conversation.")));
	}
	args[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT id, task::text FROM pgml.projects WHERE name = $1", 1, types, args, NULL,
							  false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read project \"%s\"", name);
	if (SPI_processed > 0)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

		row_task = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		if (label != NULL && strcmp(label, row_task) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("Project `%s` already exists with a different task: `%s`. Create a new project instead.",
							name, ml_task_display(row_task))));
		*task_label = ml_task_label(row_task);
		return id;
	}
	if (label == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("Project `%s` does not exist. To create a new project, you must specify a `task`.", name)));
	args[1] = CStringGetTextDatum(label);
	if (SPI_execute_with_args("INSERT INTO pgml.projects (name, task) VALUES ($1, $2::pgml.task) RETURNING id",
							  2, types, args, NULL, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not create project \"%s\"", name);
	*task_label = label;
	{
		bool		isnull;

		return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
}

/* The default metric of a model's metrics JSON (NaN when absent). */
static double
metric_value(const char *metrics_text, const char *key)
{
	json_t	   *m;
	pgml_err	err;
	double		v = NAN;

	if (metrics_text == NULL)
		return NAN;
	if (pgml_json_parse(metrics_text, strlen(metrics_text), "metrics", &m, &err) != PGML_OK)
		return NAN;
	if (json_is_number(json_object_get(m, key)))
		v = json_number_value(json_object_get(m, key));
	json_decref(m);
	return v;
}

/* PostgresML's automatic deployment rule: deploy unless the deployed model scores better. */
static bool
should_deploy(int64 project_id, double score, const char *metric, bool higher_is_better)
{
	Oid			type = INT8OID;
	Datum		arg = Int64GetDatum(project_id);
	char	   *metrics;
	double		old;

	if (SPI_execute_with_args("SELECT m.metrics::text FROM pgml.deployments d JOIN pgml.models m ON m.id = d.model_id "
							  "WHERE d.project_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT 1",
							  1, &type, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the current deployment");
	if (SPI_processed == 0)
		return true;
	metrics = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	old = metric_value(metrics, metric);
	if (isnan(old))
		return true;			/* neither has it, or only the new one */
	if (isnan(score))
		return false;			/* only the deployed one has it */
	return higher_is_better ? score >= old : score <= old;
}

/* Records the search settings and the winning hyperparameters on the model row. */
static void
update_search(int64 model_id, const char *search, Jsonb *search_params, Jsonb *search_args, json_t *best)
{
	Oid			types[5] = {TEXTOID, JSONBOID, JSONBOID, JSONBOID, INT8OID};
	Datum		args[5];
	Jsonb	   *empty = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));

	args[0] = CStringGetTextDatum(search);
	args[1] = JsonbPGetDatum(search_params ? search_params : empty);
	args[2] = JsonbPGetDatum(search_args ? search_args : empty);
	args[3] = JsonbPGetDatum(ml_json_to_jsonb(best));
	args[4] = Int64GetDatum(model_id);
	if (SPI_execute_with_args("UPDATE pgml.models SET search = $1, search_params = $2, search_args = $3, "
							  "hyperparams = $4 WHERE id = $5", 5, types, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the search");
}

static void
log_progress(int64 model_id, int64 project_id, json_t *entry)
{
	Oid			types[3] = {INT8OID, INT8OID, JSONBOID};
	Datum		args[3];

	args[0] = Int64GetDatum(model_id);
	args[1] = Int64GetDatum(project_id);
	args[2] = JsonbPGetDatum(ml_json_to_jsonb(entry));
	if (SPI_execute_with_args("INSERT INTO pgml.logs (model_id, project_id, logs) VALUES ($1, $2, $3)",
							  3, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write pgml.logs");
}

/* The common body of pgml.train and pgml.train_joint. */
static Datum
train_common(FunctionCallInfo fcinfo, char **labels, int n_labels)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *project_name = text_arg(fcinfo, 0);
	char	   *task = text_arg(fcinfo, 1);
	char	   *relation_name = text_arg(fcinfo, 2);
	char	   *algorithm = enum_arg(fcinfo, 4);
	Jsonb	   *hyperparams = jsonb_arg(fcinfo, 5);
	char	   *search = enum_arg(fcinfo, 6);
	Jsonb	   *search_params = jsonb_arg(fcinfo, 7);
	Jsonb	   *search_args = jsonb_arg(fcinfo, 8);
	float		test_size = PG_ARGISNULL(9) ? 0.25f : PG_GETARG_FLOAT4(9);
	char	   *test_sampling = PG_ARGISNULL(10) ? pstrdup("stratified") : enum_arg(fcinfo, 10);
	char	   *runtime = enum_arg(fcinfo, 11);
	bool		automatic_deploy = PG_ARGISNULL(12) ? true : PG_GETARG_BOOL(12);
	bool		materialize = PG_ARGISNULL(13) ? false : PG_GETARG_BOOL(13);
	Jsonb	   *preprocess = jsonb_arg(fcinfo, 14);
	const char *task_label;
	pgml_task	core_task;
	int64		project_id;
	int64		model_id;
	ml_snapshot *snap;
	json_t	   *hp;
	json_t	   *metrics;
	json_t	   *search_results = NULL;
	pgml_data	train;
	pgml_data	test;
	pgml_model *model = NULL;
	float	   *x;
	size_t		n_features;
	pgml_err	err;
	pgml_status rc;
	double		t0,
				fit_time,
				score_time;
	bool		deployed = false;
	const char *metric;
	bool		higher;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (project_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("project_name must not be null")));
	if (runtime != NULL && strcmp(runtime, "openai") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("runtime openai cannot train models")));

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	project_id = find_or_create_project(project_name, task, &task_label);
	if (!ml_task_core(task_label, &core_task))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pgml.train does not train %s models", ml_task_display(task_label)),
				 errhint("Transformer tasks are fine-tuned with pgml.tune.")));
	if ((core_task == PGML_TASK_REGRESSION || core_task == PGML_TASK_CLASSIFICATION) && n_labels == 0
		&& relation_name != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs a y_column_name", ml_task_display(task_label))));
	if (core_task == PGML_TASK_CLASSIFICATION && n_labels > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("classification supports one label column, not %d", n_labels)));
	if (algorithm == NULL || strcmp(algorithm, "linear") == 0)
	{
		if (core_task == PGML_TASK_CLUSTERING)
			algorithm = pstrdup("kmeans");
		else if (core_task == PGML_TASK_DECOMPOSITION)
			algorithm = pstrdup("pca");
		else
			algorithm = pstrdup("linear");
	}

	/* an unknown algorithm fails before any work */
	{
		const pgml_algorithm *alg;

		ML_CHECK(pgml_algorithm_lookup(algorithm, core_task, &alg, &err), &err);
	}

	if (relation_name != NULL)
	{
		ereport(INFO, (errmsg("Snapshotting table \"%s\", this may take a little while...", relation_name)));
		snap = ml_snapshot_create(relation_name, labels, n_labels, test_size, test_sampling, preprocess,
								  materialize);
	}
	else
	{
		Oid			type = INT8OID;
		Datum		arg = Int64GetDatum(project_id);
		char	   *last = query_value("SELECT snapshot_id FROM pgml.models WHERE project_id = $1 AND snapshot_id IS NOT NULL "
									   "ORDER BY created_at DESC, id DESC LIMIT 1", 1, &type, &arg);

		if (last == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("You must pass a `relation_name` and `y_column_name` to snapshot the first time you train a model.")));
		snap = ml_snapshot_load(pg_strtoint64(last), preprocess);
	}
	if ((core_task == PGML_TASK_REGRESSION || core_task == PGML_TASK_CLASSIFICATION) && snap->n_labels == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs a y_column_name", ml_task_display(task_label))));

	n_features = pgml_preprocessor_n_features(snap->pp);
	ereport(INFO,
			(errmsg("Dataset { num_features: %zu, num_labels: %d, num_rows: %zu, num_train_rows: %zu, num_test_rows: %zu }",
					n_features, snap->n_labels, snap->n_rows, snap->n_train, snap->n_test)));
	x = palloc_extended(sizeof(float) * Max(snap->n_rows * n_features, 1), MCXT_ALLOC_HUGE);
	ML_CHECK(pgml_preprocessor_transform(snap->pp, snap->raw, snap->n_rows, x, 0, &err), &err);

	/* the model row, in progress while fitting */
	{
		Oid			types[7] = {INT8OID, INT8OID, INT4OID, TEXTOID, TEXTOID, JSONBOID, TEXTOID};
		Datum		args[7];
		char		anulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', 'n'};
		bool		isnull;

		args[0] = Int64GetDatum(project_id);
		args[1] = Int64GetDatum(snap->id);
		args[2] = Int32GetDatum((int32) n_features);
		args[3] = CStringGetTextDatum(algorithm);
		args[4] = CStringGetTextDatum(runtime ? runtime : "rust");
		args[5] = hyperparams ? JsonbPGetDatum(hyperparams)
			: DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
		args[6] = (Datum) 0;
		if (SPI_execute_with_args("INSERT INTO pgml.models (project_id, snapshot_id, num_features, algorithm, runtime, "
								  "hyperparams, status, search, search_params, search_args) "
								  "VALUES ($1, $2, $3, $4, $5::pgml.runtime, $6, 'in_progress', $7, '{}', '{}') RETURNING id",
								  7, types, args, anulls, false, 1) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not record the model");
		model_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	ereport(INFO,
			(errmsg("Training Model { id: " INT64_FORMAT ", task: %s, algorithm: %s, runtime: %s }",
					model_id, ml_task_display(task_label), algorithm, runtime ? runtime : "rust")));

	hp = ml_jsonb_to_json(hyperparams);
	if (hp != NULL)
		pgml_pg_own(hp, ml_json_release);
	train = (pgml_data) {x, snap->y, snap->n_train, n_features, (size_t) snap->n_labels};
	test = (pgml_data) {x + snap->n_train * n_features, snap->y ? snap->y + snap->n_train * snap->n_labels : NULL,
		snap->n_test, n_features, (size_t) snap->n_labels};
	if (search != NULL)
	{
		json_t	   *sp = ml_jsonb_to_json(search_params);
		json_t	   *sa = ml_jsonb_to_json(search_args);
		json_t	   *best;

		if (sp != NULL)
			pgml_pg_own(sp, ml_json_release);
		if (sa != NULL)
			pgml_pg_own(sa, ml_json_release);
		rc = pgml_search(algorithm, core_task, hp, sp, search, sa, &train, &test, 0, pgml_pg_pool(), &best,
						 &search_results, &err);
		if (rc != PGML_OK)
			pgml_pg_raise(rc, &err);
		pgml_pg_own(best, ml_json_release);
		pgml_pg_own(search_results, ml_json_release);
		hp = best;
		update_search(model_id, search, search_params, search_args, hp);
	}
	{
		char		activity[128];

		snprintf(activity, sizeof(activity), "training %s on %zu rows", algorithm, (size_t) snap->n_train);
		pgml_progress_begin(activity);
	}
	t0 = now_seconds();
	rc = pgml_model_fit(algorithm, core_task, hp, &train, 0, pgml_pg_pool(), &model, &err);
	fit_time = now_seconds() - t0;
	pgml_progress_end();
	if (rc != PGML_OK)
		pgml_pg_raise(rc, &err);
	pgml_pg_own(model, ml_model_release);

	{
		t0 = now_seconds();
		/* decomposition is scored on the rows it was fit on: the variance its components keep */
		rc = pgml_model_score(model, core_task == PGML_TASK_DECOMPOSITION ? &train : &test, &metrics, &err);
		if (rc != PGML_OK)
			pgml_pg_raise(rc, &err);
		pgml_pg_own(metrics, ml_json_release);
		score_time = now_seconds() - t0;
		if (search_results != NULL)
			json_object_set(metrics, "search_results", search_results);
		json_object_set_new(metrics, "fit_time", json_real(fit_time));
		json_object_set_new(metrics, "score_time", json_real(score_time));

		ml_model_store(model_id, snap->pp, model);
		{
			Oid			types[2] = {JSONBOID, INT8OID};
			Datum		args[2];

			args[0] = JsonbPGetDatum(ml_json_to_jsonb(metrics));
			args[1] = Int64GetDatum(model_id);
			if (SPI_execute_with_args("UPDATE pgml.models SET status = 'successful', metrics = $1 WHERE id = $2",
									  2, types, args, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not record the model's metrics");
		}
		{
			json_t	   *entry = json_pack("{s:s, s:s, s:I, s:I, s:f, s:O}", "step", "fit", "algorithm", algorithm,
										  "num_train_rows", (json_int_t) snap->n_train,
										  "num_test_rows", (json_int_t) snap->n_test, "fit_time", fit_time,
										  "metrics", metrics);

			log_progress(model_id, project_id, entry);
			json_decref(entry);
		}

		metric = pgml_task_metric(core_task, &higher);
		if (automatic_deploy)
		{
			double		score_value = json_is_number(json_object_get(metrics, metric))
				? json_number_value(json_object_get(metrics, metric)) : NAN;

			deployed = should_deploy(project_id, score_value, metric, higher);
			if (deployed)
				ml_deploy_insert(project_id, model_id, "new_score");
		}
	}

	values[0] = CStringGetTextDatum(project_name);
	values[1] = CStringGetTextDatum(ml_task_display(task_label));
	values[2] = CStringGetTextDatum(algorithm);
	values[3] = BoolGetDatum(deployed);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(pgml_train);

Datum
pgml_train(PG_FUNCTION_ARGS)
{
	char	   *label = text_arg(fcinfo, 3);

	if (label == NULL)
		return train_common(fcinfo, NULL, 0);
	return train_common(fcinfo, &label, 1);
}

PG_FUNCTION_INFO_V1(pgml_train_joint);

Datum
pgml_train_joint(PG_FUNCTION_ARGS)
{
	char	  **labels = NULL;
	int			n = 0;

	if (!PG_ARGISNULL(3))
	{
		Datum	   *elems;
		bool	   *nulls;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(3), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		labels = palloc(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("y_column_name must not contain nulls")));
			labels[i] = TextDatumGetCString(elems[i]);
		}
	}
	return train_common(fcinfo, labels, n);
}

PG_FUNCTION_INFO_V1(pgml_snapshot);

/* pgml.snapshot(relation_name, y_column_name, test_size, test_sampling, preprocess): a materialized snapshot. */
Datum
pgml_snapshot(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *relation_name = text_arg(fcinfo, 0);
	char	   *label = text_arg(fcinfo, 1);
	float		test_size = PG_ARGISNULL(2) ? 0.25f : PG_GETARG_FLOAT4(2);
	char	   *sampling = PG_ARGISNULL(3) ? pstrdup("stratified") : enum_arg(fcinfo, 3);
	Jsonb	   *preprocess = jsonb_arg(fcinfo, 4);
	ml_snapshot *snap;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (relation_name == NULL)
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("relation_name must not be null")));
	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	snap = ml_snapshot_create(relation_name, label ? &label : NULL, label ? 1 : 0, test_size, sampling,
							  preprocess, true);
	values[0] = CStringGetTextDatum(snap->relation_name);
	values[1] = label ? CStringGetTextDatum(label) : (Datum) 0;
	nulls[1] = label == NULL;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	SPI_finish();
	return (Datum) 0;
}

/* ---------------------------------------------------------------------------------------------------
 * Deployment
 * ------------------------------------------------------------------------------------------------- */

static void
deploy_result(FunctionCallInfo fcinfo, const char *project, const char *strategy, const char *algorithm)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = CStringGetTextDatum(project);
	values[1] = CStringGetTextDatum(strategy);
	values[2] = CStringGetTextDatum(algorithm);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

PG_FUNCTION_INFO_V1(pgml_deploy_model);

/* pgml.deploy(model_id): deploys that model (strategy specific). */
Datum
pgml_deploy_model(PG_FUNCTION_ARGS)
{
	int64		model_id = PG_GETARG_INT64(0);
	Oid			type = INT8OID;
	Datum		arg = Int64GetDatum(model_id);
	char	   *project,
			   *algorithm,
			   *status;
	int64		project_id;
	bool		isnull;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT p.name, m.algorithm, m.status, p.id FROM pgml.models m "
							  "JOIN pgml.projects p ON p.id = m.project_id WHERE m.id = $1",
							  1, &type, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read model " INT64_FORMAT, model_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model " INT64_FORMAT " does not exist", model_id)));
	project = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	algorithm = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	project_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	if (status == NULL || strcmp(status, "successful") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model " INT64_FORMAT " cannot be deployed", model_id),
				 errdetail("Its status is \"%s\"; only successfully trained models are deployable.",
						   status ? status : "null")));
	ml_deploy_insert(project_id, model_id, "specific");
	deploy_result(fcinfo, project, "specific", algorithm);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(pgml_deploy_strategy);

/* pgml.deploy(project_name, strategy, algorithm): best_score, most_recent or rollback. */
Datum
pgml_deploy_strategy(PG_FUNCTION_ARGS)
{
	char	   *project = text_arg(fcinfo, 0);
	char	   *strategy = enum_arg(fcinfo, 1);
	char	   *algorithm = enum_arg(fcinfo, 2);
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	char		anulls[2] = {' ', ' '};
	char	   *task_label;
	pgml_task	task;
	int64		project_id;
	int64		model_id;
	char	   *chosen_algorithm;
	const char *sql;
	bool		isnull;

	if (project == NULL || strategy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("project_name and strategy must not be null")));
	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(project);
	if (SPI_execute_with_args("SELECT id, task::text FROM pgml.projects WHERE name = $1", 1, types, args, NULL,
							  false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read project \"%s\"", project);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("project \"%s\" does not exist", project)));
	project_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	task_label = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	args[0] = Int64GetDatum(project_id);
	types[0] = INT8OID;
	if (algorithm != NULL)
		args[1] = CStringGetTextDatum(algorithm);
	else
		anulls[1] = 'n';

	if (strcmp(strategy, "best_score") == 0)
	{
		bool		higher = true;
		const char *metric = ml_task_core(task_label, &task) ? pgml_task_metric(task, &higher) : "f1";

		/* numeric comparison of the metric (PostgresML compares its text) */
		sql = psprintf("SELECT m.id, m.algorithm FROM pgml.models m WHERE m.project_id = $1 "
					   "AND m.status = 'successful' AND ($2::text IS NULL OR m.algorithm = $2) "
					   "AND jsonb_typeof(m.metrics -> %s) = 'number' "
					   "ORDER BY (m.metrics ->> %s)::float8 %s, m.id DESC LIMIT 1",
					   quote_literal_cstr(metric), quote_literal_cstr(metric), higher ? "DESC" : "ASC");
	}
	else if (strcmp(strategy, "most_recent") == 0)
		sql = "SELECT m.id, m.algorithm FROM pgml.models m WHERE m.project_id = $1 AND m.status = 'successful' "
			"AND ($2::text IS NULL OR m.algorithm = $2) ORDER BY m.created_at DESC, m.id DESC LIMIT 1";
	else if (strcmp(strategy, "rollback") == 0)
		sql = "SELECT m.id, m.algorithm FROM pgml.deployments d JOIN pgml.models m ON m.id = d.model_id "
			"WHERE d.project_id = $1 AND m.status = 'successful' AND ($2::text IS NULL OR m.algorithm = $2) "
			"AND d.model_id <> coalesce((SELECT model_id FROM pgml.deployments WHERE project_id = $1 "
			"ORDER BY created_at DESC, id DESC LIMIT 1), -1) "
			"ORDER BY d.created_at DESC, d.id DESC LIMIT 1";
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid strategy \"%s\"", strategy),
				 errhint("Deploy by project with best_score, most_recent or rollback; deploy a specific model with pgml.deploy(model_id).")));

	if (SPI_execute_with_args(sql, 2, types, args, anulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not choose a model to deploy");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("No qualified models exist for this deployment.")));
	model_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	chosen_algorithm = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	ml_deploy_insert(project_id, model_id, strategy);
	deploy_result(fcinfo, project, strategy, chosen_algorithm);
	SPI_finish();
	return (Datum) 0;
}
