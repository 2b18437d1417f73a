/*
 * arraymath.c — pgml's vector functions on REAL[] and DOUBLE PRECISION[]: elementwise arithmetic, norms,
 * distances, and the elementwise aggregates pgml.sum/min/max/min_abs/max_abs.
 *
 * One C function serves both element types: it reads the type from the array. The SQL declarations fix
 * which types reach it. Unlike PostgresML, arrays of different lengths are an error (no silent
 * truncation), NULL elements and multi-dimensional arrays are rejected, and normalizing a zero vector
 * returns zeros. The arithmetic itself lives in libpgml (vecmath.c).
 */
#include "pgml_pg.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "pgml/vecmath.h"

/* A validated one-dimensional array without NULLs. */
typedef struct vec_in
{
	Oid			elemtype;		/* FLOAT4OID or FLOAT8OID */
	int			n;
	void	   *data;
} vec_in;

static vec_in
get_vec(FunctionCallInfo fcinfo, int argno)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(argno);
	vec_in		v;

	v.elemtype = ARR_ELEMTYPE(a);
	if (v.elemtype != FLOAT4OID && v.elemtype != FLOAT8OID)
		elog(ERROR, "pgml vector function called with an array of type %u", v.elemtype);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be one-dimensional"),
				 errdetail("The array has %d dimensions.", ARR_NDIM(a))));
	if (array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));
	v.n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	v.data = ARR_DATA_PTR(a);
	return v;
}

static void
check_same_length(const vec_in *a, const vec_in *b)
{
	if (a->n != b->n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different array lengths %d and %d", a->n, b->n)));
}

/* A new one-dimensional array of n elements, data uninitialised. */
static ArrayType *
new_vec(Oid elemtype, int n)
{
	int			elemsize = elemtype == FLOAT4OID ? sizeof(float4) : sizeof(float8);
	Size		nbytes;
	ArrayType  *r;

	if (n == 0)
		return construct_empty_array(elemtype);
	nbytes = ARR_OVERHEAD_NONULLS(1) + (Size) n * elemsize;
	r = (ArrayType *) palloc(nbytes);
	SET_VARSIZE(r, nbytes);
	r->ndim = 1;
	r->dataoffset = 0;
	r->elemtype = elemtype;
	ARR_DIMS(r)[0] = n;
	ARR_LBOUND(r)[0] = 1;
	return r;
}

/*
 * Returns a scalar of the array's element type. A double result that does not fit float4, or an infinite
 * result from finite inputs, is an overflow error like PostgreSQL's float arithmetic.
 */
static Datum
scalar_result(Oid elemtype, double v, bool inputs_finite)
{
	if (isinf(v) && inputs_finite)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: overflow")));
	if (elemtype == FLOAT4OID)
	{
		float4		f = (float4) v;

		if (isinf(f) && !isinf(v))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: overflow")));
		return Float4GetDatum(f);
	}
	return Float8GetDatum(v);
}

static bool
all_finite(const vec_in *v)
{
	for (int i = 0; i < v->n; i++)
	{
		double		x = v->elemtype == FLOAT4OID ? ((float4 *) v->data)[i] : ((float8 *) v->data)[i];

		if (isinf(x))
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------------------------------------------
 * Elementwise arithmetic
 * ------------------------------------------------------------------------------------------------- */

static Datum
binop_array(FunctionCallInfo fcinfo, pgml_binop op)
{
	vec_in		a = get_vec(fcinfo, 0);
	vec_in		b = get_vec(fcinfo, 1);
	ArrayType  *r;
	pgml_err	err;
	pgml_status rc = PGML_OK;

	check_same_length(&a, &b);
	r = new_vec(a.elemtype, a.n);
	if (a.n == 0)
		PG_RETURN_ARRAYTYPE_P(r);
	if (a.elemtype == FLOAT4OID)
		rc = pgml_vec_binop_f32(op, a.data, b.data, (float *) ARR_DATA_PTR(r), (size_t) a.n, &err);
	else
		rc = pgml_vec_binop_f64(op, a.data, b.data, (double *) ARR_DATA_PTR(r), (size_t) a.n, &err);
	pgml_pg_check(rc, &err);
	PG_RETURN_ARRAYTYPE_P(r);
}

static Datum
binop_scalar(FunctionCallInfo fcinfo, pgml_binop op)
{
	vec_in		a = get_vec(fcinfo, 0);
	ArrayType  *r = new_vec(a.elemtype, a.n);
	pgml_err	err;
	pgml_status rc = PGML_OK;

	if (a.n == 0)
		PG_RETURN_ARRAYTYPE_P(r);
	if (a.elemtype == FLOAT4OID)
		rc = pgml_vec_scalar_f32(op, a.data, PG_GETARG_FLOAT4(1), (float *) ARR_DATA_PTR(r), (size_t) a.n, &err);
	else
		rc = pgml_vec_scalar_f64(op, a.data, PG_GETARG_FLOAT8(1), (double *) ARR_DATA_PTR(r), (size_t) a.n, &err);
	pgml_pg_check(rc, &err);
	PG_RETURN_ARRAYTYPE_P(r);
}

#define BINOP_FUNCTIONS(name, op) \
	PG_FUNCTION_INFO_V1(pgml_vec_##name##_array); \
	Datum pgml_vec_##name##_array(PG_FUNCTION_ARGS) { return binop_array(fcinfo, op); } \
	PG_FUNCTION_INFO_V1(pgml_vec_##name##_scalar); \
	Datum pgml_vec_##name##_scalar(PG_FUNCTION_ARGS) { return binop_scalar(fcinfo, op); }

BINOP_FUNCTIONS(add, PGML_OP_ADD)
BINOP_FUNCTIONS(subtract, PGML_OP_SUB)
BINOP_FUNCTIONS(multiply, PGML_OP_MUL)
BINOP_FUNCTIONS(divide, PGML_OP_DIV)

/* ---------------------------------------------------------------------------------------------------
 * Norms and normalization
 * ------------------------------------------------------------------------------------------------- */

static Datum
norm(FunctionCallInfo fcinfo, pgml_norm kind)
{
	vec_in		a = get_vec(fcinfo, 0);
	double		v;

	if (a.elemtype == FLOAT4OID)
		v = pgml_vec_norm_f32(kind, a.data, (size_t) a.n);
	else
		v = pgml_vec_norm_f64(kind, a.data, (size_t) a.n);
	return scalar_result(a.elemtype, v, isinf(v) && all_finite(&a));
}

static Datum
normalize(FunctionCallInfo fcinfo, pgml_norm kind)
{
	vec_in		a = get_vec(fcinfo, 0);
	ArrayType  *r = new_vec(a.elemtype, a.n);

	if (a.n == 0)
		PG_RETURN_ARRAYTYPE_P(r);
	if (a.elemtype == FLOAT4OID)
		pgml_vec_normalize_f32(kind, a.data, (float *) ARR_DATA_PTR(r), (size_t) a.n);
	else
		pgml_vec_normalize_f64(kind, a.data, (double *) ARR_DATA_PTR(r), (size_t) a.n);
	PG_RETURN_ARRAYTYPE_P(r);
}

#define NORM_FUNCTIONS(name, kind) \
	PG_FUNCTION_INFO_V1(pgml_vec_norm_##name); \
	Datum pgml_vec_norm_##name(PG_FUNCTION_ARGS) { return norm(fcinfo, kind); }

NORM_FUNCTIONS(l0, PGML_NORM_L0)
NORM_FUNCTIONS(l1, PGML_NORM_L1)
NORM_FUNCTIONS(l2, PGML_NORM_L2)
NORM_FUNCTIONS(max, PGML_NORM_MAX)

#define NORMALIZE_FUNCTIONS(name, kind) \
	PG_FUNCTION_INFO_V1(pgml_vec_normalize_##name); \
	Datum pgml_vec_normalize_##name(PG_FUNCTION_ARGS) { return normalize(fcinfo, kind); }

NORMALIZE_FUNCTIONS(l1, PGML_NORM_L1)
NORMALIZE_FUNCTIONS(l2, PGML_NORM_L2)
NORMALIZE_FUNCTIONS(max, PGML_NORM_MAX)

/* ---------------------------------------------------------------------------------------------------
 * Distances and similarities
 * ------------------------------------------------------------------------------------------------- */

typedef enum pair_fn
{
	PAIR_L1,
	PAIR_L2,
	PAIR_DOT,
	PAIR_COSINE,
} pair_fn;

static Datum
pair(FunctionCallInfo fcinfo, pair_fn fn)
{
	vec_in		a = get_vec(fcinfo, 0);
	vec_in		b = get_vec(fcinfo, 1);
	bool		f32 = a.elemtype == FLOAT4OID;
	size_t		n;
	double		v = 0;

	check_same_length(&a, &b);
	n = (size_t) a.n;
	switch (fn)
	{
		case PAIR_L1:
			v = f32 ? pgml_vec_distance_f32(PGML_NORM_L1, a.data, b.data, n)
				: pgml_vec_distance_f64(PGML_NORM_L1, a.data, b.data, n);
			break;
		case PAIR_L2:
			v = f32 ? pgml_vec_distance_f32(PGML_NORM_L2, a.data, b.data, n)
				: pgml_vec_distance_f64(PGML_NORM_L2, a.data, b.data, n);
			break;
		case PAIR_DOT:
			v = f32 ? pgml_vec_dot_f32(a.data, b.data, n) : pgml_vec_dot_f64(a.data, b.data, n);
			break;
		case PAIR_COSINE:
			v = f32 ? pgml_vec_cosine_f32(a.data, b.data, n) : pgml_vec_cosine_f64(a.data, b.data, n);
			break;
	}
	return scalar_result(a.elemtype, v, isinf(v) && all_finite(&a) && all_finite(&b));
}

#define PAIR_FUNCTION(name, fn) \
	PG_FUNCTION_INFO_V1(pgml_vec_##name); \
	Datum pgml_vec_##name(PG_FUNCTION_ARGS) { return pair(fcinfo, fn); }

PAIR_FUNCTION(distance_l1, PAIR_L1)
PAIR_FUNCTION(distance_l2, PAIR_L2)
PAIR_FUNCTION(dot_product, PAIR_DOT)
PAIR_FUNCTION(cosine_similarity, PAIR_COSINE)

/* ---------------------------------------------------------------------------------------------------
 * Elementwise aggregates
 * ------------------------------------------------------------------------------------------------- */

typedef struct vec_agg_state
{
	int32		acc;			/* pgml_accum */
	Oid			elemtype;		/* of the input arrays */
	int32		n;				/* elements per array */
	int32		pad;
	double		vals[FLEXIBLE_ARRAY_MEMBER];
} vec_agg_state;

#define VEC_AGG_HEADER offsetof(vec_agg_state, vals)

static vec_agg_state *
agg_state_new(MemoryContext cxt, pgml_accum acc, Oid elemtype, int n)
{
	vec_agg_state *s = MemoryContextAllocZero(cxt, VEC_AGG_HEADER + (Size) n * sizeof(double));

	s->acc = acc;
	s->elemtype = elemtype;
	s->n = n;
	return s;
}

static Datum
agg_step(FunctionCallInfo fcinfo, pgml_accum acc)
{
	MemoryContext aggcxt;
	vec_agg_state *s;
	vec_in		x;
	pgml_err	err;
	pgml_status rc;
	bool		first = false;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "pgml vector aggregate transition called in a non-aggregate context");
	s = PG_ARGISNULL(0) ? NULL : (vec_agg_state *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	x = get_vec(fcinfo, 1);
	if (s == NULL)
	{
		s = agg_state_new(aggcxt, acc, x.elemtype, x.n);
		first = true;
	}
	else if (s->n != x.n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different array lengths %d and %d", s->n, x.n),
				 errdetail("All arrays aggregated together must have the same length.")));

	if (x.elemtype == FLOAT4OID)
		rc = pgml_vec_accum_f32(acc, s->vals, x.data, (size_t) x.n, first, &err);
	else
		rc = pgml_vec_accum_f64(acc, s->vals, x.data, (size_t) x.n, first, &err);
	pgml_pg_check(rc, &err);
	PG_RETURN_POINTER(s);
}

#define AGG_FUNCTION(name, acc) \
	PG_FUNCTION_INFO_V1(pgml_vec_agg_##name); \
	Datum pgml_vec_agg_##name(PG_FUNCTION_ARGS) { return agg_step(fcinfo, acc); }

AGG_FUNCTION(sum, PGML_ACC_SUM)
AGG_FUNCTION(min, PGML_ACC_MIN)
AGG_FUNCTION(max, PGML_ACC_MAX)
AGG_FUNCTION(min_abs, PGML_ACC_MIN_ABS)
AGG_FUNCTION(max_abs, PGML_ACC_MAX_ABS)

PG_FUNCTION_INFO_V1(pgml_vec_agg_combine);

Datum
pgml_vec_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	vec_agg_state *a;
	vec_agg_state *b;
	pgml_err	err;
	pgml_status rc;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "pgml vector aggregate combine called in a non-aggregate context");
	a = PG_ARGISNULL(0) ? NULL : (vec_agg_state *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (vec_agg_state *) PG_GETARG_POINTER(1);
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
	{
		Size		size = VEC_AGG_HEADER + (Size) b->n * sizeof(double);

		a = MemoryContextAlloc(aggcxt, size);
		memcpy(a, b, size);
		PG_RETURN_POINTER(a);
	}
	if (a->n != b->n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different array lengths %d and %d", a->n, b->n),
				 errdetail("All arrays aggregated together must have the same length.")));
	rc = pgml_vec_accum_f64((pgml_accum) a->acc, a->vals, b->vals, (size_t) a->n, false, &err);
	pgml_pg_check(rc, &err);
	PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(pgml_vec_agg_serialize);

Datum
pgml_vec_agg_serialize(PG_FUNCTION_ARGS)
{
	vec_agg_state *s = (vec_agg_state *) PG_GETARG_POINTER(0);
	Size		size = VEC_AGG_HEADER + (Size) s->n * sizeof(double);
	bytea	   *out = palloc(VARHDRSZ + size);

	SET_VARSIZE(out, VARHDRSZ + size);
	memcpy(VARDATA(out), s, size);
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(pgml_vec_agg_deserialize);

Datum
pgml_vec_agg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	Size		len = VARSIZE_ANY_EXHDR(in);
	vec_agg_state *s;

	if (len < VEC_AGG_HEADER)
		elog(ERROR, "invalid pgml vector aggregate state");
	s = palloc(len);
	memcpy(s, VARDATA_ANY(in), len);
	if (s->n < 0 || len != VEC_AGG_HEADER + (Size) s->n * sizeof(double))
		elog(ERROR, "invalid pgml vector aggregate state");
	PG_RETURN_POINTER(s);
}

static Datum
agg_final(FunctionCallInfo fcinfo, Oid elemtype)
{
	vec_agg_state *s = PG_ARGISNULL(0) ? NULL : (vec_agg_state *) PG_GETARG_POINTER(0);
	ArrayType  *r;

	if (s == NULL)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(elemtype));
	r = new_vec(elemtype, s->n);
	if (s->n == 0)
		PG_RETURN_ARRAYTYPE_P(r);
	if (elemtype == FLOAT4OID)
	{
		float4	   *out = (float4 *) ARR_DATA_PTR(r);

		for (int i = 0; i < s->n; i++)
		{
			out[i] = (float4) s->vals[i];
			if (isinf(out[i]) && !isinf(s->vals[i]))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("value out of range: overflow"),
						 errdetail("The result at position %d does not fit the element type.", i + 1)));
		}
	}
	else
		memcpy(ARR_DATA_PTR(r), s->vals, (Size) s->n * sizeof(double));
	PG_RETURN_ARRAYTYPE_P(r);
}

PG_FUNCTION_INFO_V1(pgml_vec_agg_final_real);

Datum
pgml_vec_agg_final_real(PG_FUNCTION_ARGS)
{
	return agg_final(fcinfo, FLOAT4OID);
}

PG_FUNCTION_INFO_V1(pgml_vec_agg_final_double);

Datum
pgml_vec_agg_final_double(PG_FUNCTION_ARGS)
{
	return agg_final(fcinfo, FLOAT8OID);
}
