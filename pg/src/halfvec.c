/*
 * halfvec.c — the pgml.halfvec type: vectors of IEEE 754 binary16 (half the memory of pgml.vector), with
 * the same text form, operators and functions. Values are rounded to nearest even on the way in; a value
 * that rounds beyond ±65504 is an ERROR (22003). Distances run on the f16 kernels of pgml/distance.h;
 * elementwise arithmetic and aggregates compute in float32/float64 and round the result once.
 */
#include "pgml_pg.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "pgml/distance.h"
#include "vector.h"

#define F16_IS_FINITE(h)	(((h) & 0x7c00) != 0x7c00)

PgmlHalfVec *
pgml_halfvec_new(int dim)
{
	Size		size = PGML_HALFVEC_SIZE(dim);
	PgmlHalfVec *v = (PgmlHalfVec *) palloc0(size);

	SET_VARSIZE(v, size);
	v->dim = dim;
	return v;
}

const uint16 *
pgml_halfvec_datum_data(Datum d, int *dim)
{
	PgmlHalfVec *v = DatumGetPgmlHalfVec(d);

	*dim = v->dim;
	return v->x;
}

float *
pgml_halfvec_datum_to_floats(Datum d, int *dim)
{
	PgmlHalfVec *v = DatumGetPgmlHalfVec(d);
	float	   *x = (float *) palloc(sizeof(float) * Max(v->dim, 1));

	pgml_f16_to_f32_n(v->x, x, v->dim);
	*dim = v->dim;
	return x;
}

/* Rounds finite floats to binary16; ERROR 22003 when one rounds beyond ±65504. */
static PgmlHalfVec *
halfvec_from_floats(const float *x, int dim)
{
	PgmlHalfVec *v = pgml_halfvec_new(dim);

	pgml_f32_to_f16_n(x, v->x, dim);
	for (int i = 0; i < dim; i++)
		if (unlikely(!F16_IS_FINITE(v->x[i])))
		{
			if (isnan(x[i]))
				pgml_vector_check_element(x[i], "halfvec");
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value %g is out of range for type halfvec", (double) x[i]),
					 errdetail("halfvec elements must be between -65504 and 65504.")));
		}
	return v;
}

static float *
halfvec_floats(const PgmlHalfVec *v)
{
	float	   *x = (float *) palloc(sizeof(float) * Max(v->dim, 1));

	pgml_f16_to_f32_n(v->x, x, v->dim);
	return x;
}

/* ---------------------------------------------------------------------------------------------------
 * I/O
 * ------------------------------------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(pgml_halfvec_in);
Datum
pgml_halfvec_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	float	   *x = pgml_vector_parse(str, "halfvec", &dim);

	pgml_vector_check_typmod(dim, typmod);
	PG_RETURN_POINTER(halfvec_from_floats(x, dim));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_out);
Datum
pgml_halfvec_out(PG_FUNCTION_ARGS)
{
	PgmlHalfVec *v = PG_GETARG_PGML_HALFVEC_P(0);

	PG_RETURN_CSTRING(pgml_floats_to_text(halfvec_floats(v), v->dim));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_typmod_in);
Datum
pgml_halfvec_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(pgml_vector_parse_typmod(PG_GETARG_ARRAYTYPE_P(0), "halfvec"));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_recv);
Datum
pgml_halfvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim = (int16) pq_getmsgint(buf, sizeof(int16));
	int			unused = (int16) pq_getmsgint(buf, sizeof(int16));
	PgmlHalfVec *v;

	pgml_vector_check_dim_count(dim, "halfvec");
	pgml_vector_check_typmod(dim, typmod);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("expected unused to be 0, not %d", unused)));
	v = pgml_halfvec_new(dim);
	for (int i = 0; i < dim; i++)
	{
		v->x[i] = (uint16) pq_getmsgint(buf, sizeof(uint16));
		if (!F16_IS_FINITE(v->x[i]))
			pgml_vector_check_element(pgml_f16_to_f32(v->x[i]), "halfvec");
	}
	PG_RETURN_POINTER(v);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_send);
Datum
pgml_halfvec_send(PG_FUNCTION_ARGS)
{
	PgmlHalfVec *v = PG_GETARG_PGML_HALFVEC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, v->unused);
	for (int i = 0; i < v->dim; i++)
		pq_sendint16(&buf, v->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------------------------------------
 * Casts
 * ------------------------------------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(pgml_halfvec_coerce);
Datum
pgml_halfvec_coerce(PG_FUNCTION_ARGS)
{
	PgmlHalfVec *v = PG_GETARG_PGML_HALFVEC_P(0);

	pgml_vector_check_typmod(v->dim, PG_GETARG_INT32(1));
	PG_RETURN_POINTER(v);
}

PG_FUNCTION_INFO_V1(pgml_array_to_halfvec);
Datum
pgml_array_to_halfvec(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *x = pgml_array_to_floats(PG_GETARG_ARRAYTYPE_P(0), "halfvec", &dim);

	pgml_vector_check_typmod(dim, PG_GETARG_INT32(1));
	PG_RETURN_POINTER(halfvec_from_floats(x, dim));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_to_float4);
Datum
pgml_halfvec_to_float4(PG_FUNCTION_ARGS)
{
	PgmlHalfVec *v = PG_GETARG_PGML_HALFVEC_P(0);
	Datum	   *d = (Datum *) palloc(sizeof(Datum) * v->dim);

	for (int i = 0; i < v->dim; i++)
		d[i] = Float4GetDatum(pgml_f16_to_f32(v->x[i]));
	PG_RETURN_POINTER(construct_array(d, v->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(pgml_vector_to_halfvec);
Datum
pgml_vector_to_halfvec(PG_FUNCTION_ARGS)
{
	PgmlVector *v = PG_GETARG_PGML_VECTOR_P(0);

	pgml_vector_check_typmod(v->dim, PG_GETARG_INT32(1));
	PG_RETURN_POINTER(halfvec_from_floats(v->x, v->dim));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_to_vector);
Datum
pgml_halfvec_to_vector(PG_FUNCTION_ARGS)
{
	PgmlHalfVec *h = PG_GETARG_PGML_HALFVEC_P(0);
	PgmlVector *v;

	pgml_vector_check_typmod(h->dim, PG_GETARG_INT32(1));
	v = pgml_vector_new(h->dim);
	pgml_f16_to_f32_n(h->x, v->x, h->dim);
	PG_RETURN_POINTER(v);
}

/* ---------------------------------------------------------------------------------------------------
 * Distances and norms
 * ------------------------------------------------------------------------------------------------- */

#define HALFVEC_PAIR(a, b) \
	PgmlHalfVec *a = PG_GETARG_PGML_HALFVEC_P(0); \
	PgmlHalfVec *b = PG_GETARG_PGML_HALFVEC_P(1); \
	pgml_vector_check_dims(a->dim, b->dim)

PG_FUNCTION_INFO_V1(pgml_halfvec_l2_distance);
Datum
pgml_halfvec_l2_distance(PG_FUNCTION_ARGS)
{
	HALFVEC_PAIR(a, b);
	PG_RETURN_FLOAT8(sqrt((double) pgml_l2sq_f16(a->x, b->x, a->dim)));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_l2_squared_distance);
Datum
pgml_halfvec_l2_squared_distance(PG_FUNCTION_ARGS)
{
	HALFVEC_PAIR(a, b);
	PG_RETURN_FLOAT8((double) pgml_l2sq_f16(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_inner_product);
Datum
pgml_halfvec_inner_product(PG_FUNCTION_ARGS)
{
	HALFVEC_PAIR(a, b);
	PG_RETURN_FLOAT8((double) pgml_dot_f16(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_negative_inner_product);
Datum
pgml_halfvec_negative_inner_product(PG_FUNCTION_ARGS)
{
	HALFVEC_PAIR(a, b);
	PG_RETURN_FLOAT8(-(double) pgml_dot_f16(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_cosine_distance);
Datum
pgml_halfvec_cosine_distance(PG_FUNCTION_ARGS)
{
	float		dot,
				aa,
				bb;

	HALFVEC_PAIR(a, b);
	pgml_cosine_parts_f16(a->x, b->x, a->dim, &dot, &aa, &bb);
	PG_RETURN_FLOAT8(pgml_cosine_from_parts(dot, aa, bb));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_spherical_distance);
Datum
pgml_halfvec_spherical_distance(PG_FUNCTION_ARGS)
{
	double		dot;

	HALFVEC_PAIR(a, b);
	dot = (double) pgml_dot_f16(a->x, b->x, a->dim);
	if (dot > 1)
		dot = 1;
	else if (dot < -1)
		dot = -1;
	PG_RETURN_FLOAT8(acos(dot) / M_PI);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_l1_distance);
Datum
pgml_halfvec_l1_distance(PG_FUNCTION_ARGS)
{
	HALFVEC_PAIR(a, b);
	PG_RETURN_FLOAT8((double) pgml_l1_f16(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_dims);
Datum
pgml_halfvec_dims(PG_FUNCTION_ARGS)
{
	PgmlHalfVec *v = PG_GETARG_PGML_HALFVEC_P(0);

	PG_RETURN_INT32(v->dim);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_norm);
Datum
pgml_halfvec_norm(PG_FUNCTION_ARGS)
{
	PgmlHalfVec *v = PG_GETARG_PGML_HALFVEC_P(0);
	double		s = 0;

	for (int i = 0; i < v->dim; i++)
	{
		double		x = pgml_f16_to_f32(v->x[i]);

		s += x * x;
	}
	PG_RETURN_FLOAT8(sqrt(s));
}

/* ---------------------------------------------------------------------------------------------------
 * Elementwise arithmetic (in float32, rounded once; beyond ±65504 is an ERROR)
 * ------------------------------------------------------------------------------------------------- */

typedef enum
{
	HV_ADD,
	HV_SUB,
	HV_MUL
} hv_op;

static Datum
halfvec_binop(FunctionCallInfo fcinfo, hv_op op)
{
	float	   *x;

	HALFVEC_PAIR(a, b);
	x = (float *) palloc(sizeof(float) * a->dim);
	for (int i = 0; i < a->dim; i++)
	{
		float		p = pgml_f16_to_f32(a->x[i]);
		float		q = pgml_f16_to_f32(b->x[i]);

		x[i] = op == HV_ADD ? p + q : op == HV_SUB ? p - q : p * q;
	}
	PG_RETURN_POINTER(halfvec_from_floats(x, a->dim));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_add);
Datum
pgml_halfvec_add(PG_FUNCTION_ARGS)
{
	return halfvec_binop(fcinfo, HV_ADD);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_sub);
Datum
pgml_halfvec_sub(PG_FUNCTION_ARGS)
{
	return halfvec_binop(fcinfo, HV_SUB);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_mul);
Datum
pgml_halfvec_mul(PG_FUNCTION_ARGS)
{
	return halfvec_binop(fcinfo, HV_MUL);
}

/* ---------------------------------------------------------------------------------------------------
 * Comparison (btree)
 * ------------------------------------------------------------------------------------------------- */

static int
halfvec_cmp_args(FunctionCallInfo fcinfo)
{
	PgmlHalfVec *a = PG_GETARG_PGML_HALFVEC_P(0);
	PgmlHalfVec *b = PG_GETARG_PGML_HALFVEC_P(1);
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		float		p = pgml_f16_to_f32(a->x[i]);
		float		q = pgml_f16_to_f32(b->x[i]);

		if (p < q)
			return -1;
		if (p > q)
			return 1;
	}
	return a->dim < b->dim ? -1 : a->dim > b->dim ? 1 : 0;
}

PG_FUNCTION_INFO_V1(pgml_halfvec_cmp);
Datum
pgml_halfvec_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(halfvec_cmp_args(fcinfo));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_lt);
Datum
pgml_halfvec_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(halfvec_cmp_args(fcinfo) < 0);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_le);
Datum
pgml_halfvec_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(halfvec_cmp_args(fcinfo) <= 0);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_eq);
Datum
pgml_halfvec_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(halfvec_cmp_args(fcinfo) == 0);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_ne);
Datum
pgml_halfvec_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(halfvec_cmp_args(fcinfo) != 0);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_ge);
Datum
pgml_halfvec_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(halfvec_cmp_args(fcinfo) >= 0);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_gt);
Datum
pgml_halfvec_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(halfvec_cmp_args(fcinfo) > 0);
}

/* ---------------------------------------------------------------------------------------------------
 * l2_normalize, subvector, binary_quantize
 * ------------------------------------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(pgml_halfvec_l2_normalize);
Datum
pgml_halfvec_l2_normalize(PG_FUNCTION_ARGS)
{
	PgmlHalfVec *a = PG_GETARG_PGML_HALFVEC_P(0);
	float	   *x = halfvec_floats(a);
	double		s = 0;

	for (int i = 0; i < a->dim; i++)
		s += (double) x[i] * x[i];
	if (s > 0)
	{
		double		norm = sqrt(s);

		for (int i = 0; i < a->dim; i++)
			x[i] = (float) (x[i] / norm);
	}
	PG_RETURN_POINTER(halfvec_from_floats(x, a->dim));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_subvector);
Datum
pgml_halfvec_subvector(PG_FUNCTION_ARGS)
{
	PgmlHalfVec *a = PG_GETARG_PGML_HALFVEC_P(0);
	PgmlHalfVec *r;
	int			first,
				n;

	pgml_subvector_range(a->dim, PG_GETARG_INT32(1), PG_GETARG_INT32(2), &first, &n);
	r = pgml_halfvec_new(n);
	memcpy(r->x, a->x + first, sizeof(uint16) * n);
	PG_RETURN_POINTER(r);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_binary_quantize);
Datum
pgml_halfvec_binary_quantize(PG_FUNCTION_ARGS)
{
	PgmlHalfVec *a = PG_GETARG_PGML_HALFVEC_P(0);

	PG_RETURN_VARBIT_P(pgml_floats_binary_quantize(halfvec_floats(a), a->dim));
}

/* ---------------------------------------------------------------------------------------------------
 * Aggregates (state as vector.c's: float8[] {count, sums...})
 * ------------------------------------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(pgml_halfvec_accum);
Datum
pgml_halfvec_accum(PG_FUNCTION_ARGS)
{
	PgmlHalfVec *v = PG_GETARG_PGML_HALFVEC_P(1);

	return pgml_vector_agg_accum(fcinfo, halfvec_floats(v), v->dim);
}

PG_FUNCTION_INFO_V1(pgml_halfvec_avg);
Datum
pgml_halfvec_avg(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *x = pgml_vector_agg_result(PG_GETARG_ARRAYTYPE_P(0), true, &dim);

	if (x == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(halfvec_from_floats(x, dim));
}

PG_FUNCTION_INFO_V1(pgml_halfvec_sum);
Datum
pgml_halfvec_sum(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *x = pgml_vector_agg_result(PG_GETARG_ARRAYTYPE_P(0), false, &dim);

	if (x == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(halfvec_from_floats(x, dim));
}
