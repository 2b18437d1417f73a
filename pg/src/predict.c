/*
 * predict.c — pgml.predict and friends: predict_proba, predict_joint, predict_batch, decompose.
 *
 * Every function takes the project's deployed model (by name) or a specific model (by id). Features
 * arrive as an array of raw values in snapshot column order (labels left out, arrays expanded; for a
 * categorical column, its category code), or as a row whose fields are the snapshot's feature columns
 * (categorical values as text, looked up in the model's categories). Both then go through the model's
 * preprocessing (imputation, encoding, scaling) exactly as in training.
 *
 * PostgresML declares these IMMUTABLE; they read the current deployment, so they are STABLE here: a
 * redeploy is seen by the next statement, and a prepared plan never keeps a stale prediction.
 */
#include "ml.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

/* Small inputs use stack buffers; larger ones palloc. */
#define STACK_FLOATS 256

static ml_model *
model_by_project(FunctionCallInfo fcinfo)
{
	char	   *project = text_to_cstring(PG_GETARG_TEXT_PP(0));

	return ml_model_get(ml_deployed_model_id(project));
}

static ml_model *
model_by_id(FunctionCallInfo fcinfo)
{
	return ml_model_get(PG_GETARG_INT64(0));
}

/* The elements of a numeric or boolean array as floats, flattened (any dimensions). */
static float *
array_floats(ArrayType *a, int *n_out, float *stack, int stack_len)
{
	Oid			elem = ARR_ELEMTYPE(a);
	int			n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	float	   *out = n <= stack_len ? stack : palloc(sizeof(float) * n);
	bits8	   *nulls = ARR_NULLBITMAP(a);
	char	   *p = ARR_DATA_PTR(a);
	int16		typlen;
	bool		typbyval;
	char		typalign;

	*n_out = n;
	if (elem == FLOAT4OID && nulls == NULL)
	{
		memcpy(out, p, sizeof(float) * n);
		return out;
	}
	get_typlenbyvalalign(elem, &typlen, &typbyval, &typalign);
	for (int i = 0; i < n; i++)
	{
		if (nulls != NULL && !(nulls[i / 8] & (1 << (i % 8))))
		{
			out[i] = NAN;		/* a missing value: imputed like a NULL column */
			continue;
		}
		{
			Datum		d = fetch_att(p, typbyval, typlen);

			out[i] = ml_datum_to_float(d, elem);
			p = att_addlength_pointer(p, typlen, p);
			p = (char *) att_align_nominal(p, typalign);
		}
	}
	return out;
}

static void
check_width(const ml_model *m, int n)
{
	if ((size_t) n != m->n_raw)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model " INT64_FORMAT " expects %zu features, got %d", m->id, m->n_raw, n),
				 errhint("Pass the feature columns in the order of the training relation, without the label.")));
}

/* raw (n_rows × n_raw) → model outputs (n_rows × n_targets), or probabilities. */
static void
run_model(const ml_model *m, const float *raw, size_t n_rows, float *out, bool proba)
{
	size_t		nf = pgml_model_n_features(m->model);
	float		stack[STACK_FLOATS];
	float	   *x = n_rows * nf <= STACK_FLOATS ? stack : palloc_extended(sizeof(float) * n_rows * nf, MCXT_ALLOC_HUGE);
	pgml_err	err;

	ML_CHECK(pgml_preprocessor_transform(m->pp, raw, n_rows, x, 0, &err), &err);
	if (proba)
		ML_CHECK(pgml_model_predict_proba(m->model, x, n_rows, out, &err), &err);
	else
		ML_CHECK(pgml_model_predict(m->model, x, n_rows, out, &err), &err);
	if (x != stack)
		pfree(x);
}

/* One row from an array: a scalar prediction. */
static float
predict_one(const ml_model *m, ArrayType *features)
{
	float		stack[STACK_FLOATS];
	int			n;
	float	   *raw = array_floats(features, &n, stack, STACK_FLOATS);
	float		out[STACK_FLOATS];

	check_width(m, n);
	if (pgml_model_n_targets(m->model) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model " INT64_FORMAT " predicts %zu values per row", m->id, pgml_model_n_targets(m->model)),
				 errhint("Use pgml.predict_joint for models with several labels, pgml.decompose for decomposition.")));
	run_model(m, raw, 1, out, false);
	return out[0];
}

/* A row's fields → raw values, per the model's feature columns. */
static float *
row_raw(const ml_model *m, HeapTupleHeader row, float *stack)
{
	Oid			type = HeapTupleHeaderGetTypeId(row);
	int32		typmod = HeapTupleHeaderGetTypMod(row);
	TupleDesc	desc = lookup_rowtype_tupdesc(type, typmod);
	HeapTupleData tuple;
	float	   *raw = m->n_raw <= STACK_FLOATS ? stack : palloc(sizeof(float) * m->n_raw);
	int			natts = 0;
	pgml_err	err;

	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			natts++;
	if (natts != m->n_columns)
	{
		ReleaseTupleDesc(desc);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model " INT64_FORMAT " expects a row of %d columns, got %d", m->id, m->n_columns, natts),
				 errhint("Pass the feature columns in the order of the training relation, without the label.")));
	}
	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;

	for (int i = 0, col = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		isnull;
		Datum		d;
		float	   *dst;
		Oid			ftype = att->atttypid;
		Oid			elem;
		bool		categorical;

		if (att->attisdropped)
			continue;
		d = heap_getattr(&tuple, i + 1, desc, &isnull);
		dst = raw + pgml_preprocessor_raw_offset(m->pp, (size_t) col);
		elem = get_element_type(ftype);
		if (ftype == UNKNOWNOID)
			ereport(ERROR,
					(errcode(ERRCODE_INDETERMINATE_DATATYPE),
					 errmsg("field %d of the row has no type", col + 1),
					 errhint("Cast literals, e.g. CAST('red' AS TEXT) or 1.5::FLOAT4.")));
		if (!ml_supported_type(OidIsValid(elem) ? elem : ftype, &categorical))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("field %d of the row has type %s, which pgml cannot use as a feature", col + 1,
							format_type_be(ftype))));
		if (!OidIsValid(elem) && m->width[col] != 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("field %d of the row must be an array of %d values", col + 1, m->width[col])));
		if (isnull)
		{
			if (m->categorical[col])
				for (int k = 0; k < m->width[col]; k++)
					ML_CHECK(pgml_preprocessor_code((pgml_preprocessor *) m->pp, (size_t) col, NULL, false, &dst[k], &err), &err);
			else
				for (int k = 0; k < m->width[col]; k++)
					dst[k] = NAN;
		}
		else if (!OidIsValid(elem))
		{
			if (m->categorical[col])
			{
				char	   *text = ml_value_text(d, ftype);

				ML_CHECK(pgml_preprocessor_code((pgml_preprocessor *) m->pp, (size_t) col, text, false, &dst[0], &err), &err);
			}
			else if (categorical)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("field %d of the row is text, but the model was trained on numbers there", col + 1)));
			else
				dst[0] = ml_datum_to_float(d, ftype);
		}
		else
		{
			ArrayType  *a = DatumGetArrayTypeP(d);
			Datum	   *elems;
			bool	   *nulls;
			int			n;
			int16		typlen;
			bool		typbyval;
			char		typalign;

			get_typlenbyvalalign(elem, &typlen, &typbyval, &typalign);
			deconstruct_array(a, elem, typlen, typbyval, typalign, &elems, &nulls, &n);
			if (n != m->width[col])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("field %d of the row has %d values; the model expects %d", col + 1, n, m->width[col])));
			for (int k = 0; k < n; k++)
			{
				if (m->categorical[col])
				{
					char	   *text = nulls[k] ? NULL : ml_value_text(elems[k], elem);

					ML_CHECK(pgml_preprocessor_code((pgml_preprocessor *) m->pp, (size_t) col, text, false, &dst[k], &err), &err);
				}
				else
					dst[k] = nulls[k] ? NAN : ml_datum_to_float(elems[k], elem);
			}
		}
		col++;
	}
	ReleaseTupleDesc(desc);
	return raw;
}

static float
predict_row(FunctionCallInfo fcinfo, const ml_model *m)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	float		stack[STACK_FLOATS];
	float		out[STACK_FLOATS];
	float	   *raw;

	if (!type_is_rowtype(argtype))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("row must be a composite value, not %s", format_type_be(argtype)),
				 errhint("Pass ROW(col1, col2, ...) or a table row, or the features as an array.")));
	if (pgml_model_n_targets(m->model) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model " INT64_FORMAT " predicts %zu values per row", m->id, pgml_model_n_targets(m->model)),
				 errhint("Use pgml.predict_joint for models with several labels, pgml.decompose for decomposition.")));
	raw = row_raw(m, PG_GETARG_HEAPTUPLEHEADER(1), stack);
	run_model(m, raw, 1, out, false);
	return out[0];
}

PG_FUNCTION_INFO_V1(pgml_predict_project);
PG_FUNCTION_INFO_V1(pgml_predict_model);
PG_FUNCTION_INFO_V1(pgml_predict_row_project);
PG_FUNCTION_INFO_V1(pgml_predict_row_model);

Datum
pgml_predict_project(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT4(predict_one(model_by_project(fcinfo), PG_GETARG_ARRAYTYPE_P(1)));
}

Datum
pgml_predict_model(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT4(predict_one(model_by_id(fcinfo), PG_GETARG_ARRAYTYPE_P(1)));
}

Datum
pgml_predict_row_project(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT4(predict_row(fcinfo, model_by_project(fcinfo)));
}

Datum
pgml_predict_row_model(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT4(predict_row(fcinfo, model_by_id(fcinfo)));
}

/* A vector result: probabilities, joint predictions or a decomposition of one row. */
static Datum
vector_result(const ml_model *m, ArrayType *features, int kind)
{
	float		stack[STACK_FLOATS];
	int			n;
	float	   *raw = array_floats(features, &n, stack, STACK_FLOATS);
	size_t		width;
	float	   *out;
	Datum	   *elems;

	check_width(m, n);
	if (kind == 0)
	{
		if (m->task != PGML_TASK_CLASSIFICATION)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("pgml.predict_proba needs a classification model; model " INT64_FORMAT " is %s",
							m->id, pgml_task_name(m->task))));
		width = pgml_model_n_classes(m->model);
	}
	else if (kind == 1)
	{
		if (m->task != PGML_TASK_REGRESSION)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("pgml.predict_joint needs a regression model; model " INT64_FORMAT " is %s",
							m->id, pgml_task_name(m->task))));
		width = pgml_model_n_targets(m->model);
	}
	else
	{
		if (m->task != PGML_TASK_DECOMPOSITION)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("pgml.decompose needs a decomposition model; model " INT64_FORMAT " is %s",
							m->id, pgml_task_name(m->task))));
		width = pgml_model_n_targets(m->model);
	}
	out = palloc(sizeof(float) * width);
	run_model(m, raw, 1, out, kind == 0);
	elems = palloc(sizeof(Datum) * width);
	for (size_t i = 0; i < width; i++)
		elems[i] = Float4GetDatum(out[i]);
	return PointerGetDatum(construct_array(elems, (int) width, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(pgml_predict_proba_project);
PG_FUNCTION_INFO_V1(pgml_predict_proba_model);
PG_FUNCTION_INFO_V1(pgml_predict_joint_project);
PG_FUNCTION_INFO_V1(pgml_predict_joint_model);
PG_FUNCTION_INFO_V1(pgml_decompose_project);

Datum
pgml_predict_proba_project(PG_FUNCTION_ARGS)
{
	return vector_result(model_by_project(fcinfo), PG_GETARG_ARRAYTYPE_P(1), 0);
}

Datum
pgml_predict_proba_model(PG_FUNCTION_ARGS)
{
	return vector_result(model_by_id(fcinfo), PG_GETARG_ARRAYTYPE_P(1), 0);
}

Datum
pgml_predict_joint_project(PG_FUNCTION_ARGS)
{
	return vector_result(model_by_project(fcinfo), PG_GETARG_ARRAYTYPE_P(1), 1);
}

Datum
pgml_predict_joint_model(PG_FUNCTION_ARGS)
{
	return vector_result(model_by_id(fcinfo), PG_GETARG_ARRAYTYPE_P(1), 1);
}

Datum
pgml_decompose_project(PG_FUNCTION_ARGS)
{
	return vector_result(model_by_project(fcinfo), PG_GETARG_ARRAYTYPE_P(1), 2);
}

/* Many rows flattened into one array: predictions, one per row. */
static float *
predict_many(const ml_model *m, ArrayType *features, size_t *n_rows)
{
	int			n;
	float	   *raw = array_floats(features, &n, NULL, 0);
	float	   *out;

	if (pgml_model_n_targets(m->model) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model " INT64_FORMAT " predicts %zu values per row", m->id, pgml_model_n_targets(m->model))));
	if (m->n_raw == 0 || (size_t) n % m->n_raw != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model " INT64_FORMAT " expects a multiple of %zu features, got %d", m->id, m->n_raw, n),
				 errhint("Pass the rows flattened or as a 2-D array, e.g. array_agg(ARRAY[a, b, c]).")));
	*n_rows = (size_t) n / m->n_raw;
	out = palloc(sizeof(float) * Max(*n_rows, 1));
	if (*n_rows > 0)
		run_model(m, raw, *n_rows, out, false);
	return out;
}

PG_FUNCTION_INFO_V1(pgml_predict_batch_project);
PG_FUNCTION_INFO_V1(pgml_predict_batch_model);

/* predict_batch(project_name, features) → SETOF real */
Datum
pgml_predict_batch_project(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ml_model   *m = model_by_project(fcinfo);
	size_t		n;
	float	   *out = predict_many(m, PG_GETARG_ARRAYTYPE_P(1), &n);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (size_t i = 0; i < n; i++)
	{
		Datum		v = Float4GetDatum(out[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &isnull);
	}
	return (Datum) 0;
}

/* predict_batch(model_id, features) → real[] */
Datum
pgml_predict_batch_model(PG_FUNCTION_ARGS)
{
	ml_model   *m = model_by_id(fcinfo);
	size_t		n;
	float	   *out = predict_many(m, PG_GETARG_ARRAYTYPE_P(1), &n);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (size_t i = 0; i < n; i++)
		elems[i] = Float4GetDatum(out[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, (int) n, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
}
