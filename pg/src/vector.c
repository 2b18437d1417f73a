/*
 * vector.c — the pgml.vector type: text and binary I/O, typmod, casts from and to arrays, distances
 * (computed by libpgml's kernels, pgml/distance.h), elementwise arithmetic, comparison, aggregates.
 *
 * Every vector this file returns has 1..PGML_VECTOR_MAX_DIM finite elements; input that would break that
 * is an ERROR with a SQLSTATE naming the problem, never a crash. Helpers shared with halfvec.c and the
 * index access methods are declared in vector.h.
 */
#include "pgml_pg.h"

#include <ctype.h>
#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/varbit.h"

#include "pgml/distance.h"
#include "vector.h"

void
pgml_vector_init(void)
{
	/* the vector type has no settings */
}

/* ---------------------------------------------------------------------------------------------------
 * Helpers (vector.h)
 * ------------------------------------------------------------------------------------------------- */

PgmlVector *
pgml_vector_new(int dim)
{
	Size		size = PGML_VECTOR_SIZE(dim);
	PgmlVector *v = (PgmlVector *) palloc0(size);

	SET_VARSIZE(v, size);
	v->dim = dim;
	return v;
}

void
pgml_vector_check_dims(int a, int b)
{
	if (a != b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", a, b)));
}

void
pgml_vector_check_dim_count(int dim, const char *type)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", type)));
	if (dim > PGML_VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s cannot have more than %d dimensions", type, PGML_VECTOR_MAX_DIM)));
}

void
pgml_vector_check_typmod(int dim, int32 typmod)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

void
pgml_vector_check_element(float x, const char *type)
{
	if (unlikely(isnan(x)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in %s", type)));
	if (unlikely(isinf(x)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in %s", type)));
}

const float *
pgml_vector_datum_data(Datum d, int *dim)
{
	PgmlVector *v = DatumGetPgmlVector(d);

	*dim = v->dim;
	return v->x;
}

int32
pgml_vector_parse_typmod(ArrayType *ta, const char *type)
{
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("Type %s takes one modifier, its number of dimensions.", type)));
	if (tl[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type %s must be at least 1", type)));
	if (tl[0] > PGML_VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type %s cannot exceed %d", type, PGML_VECTOR_MAX_DIM)));
	return tl[0];
}

static inline bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

float *
pgml_vector_parse(const char *str, const char *type, int *dim)
{
	const char *p = str;
	Size		cap;
	float	   *out;
	int			n = 0;

	while (is_space(*p))
		p++;
	if (*p != '[')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"", type, str),
				 errdetail("Vector contents must start with \"[\".")));
	p++;
	while (is_space(*p))
		p++;
	if (*p == ']')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", type)));

	/* each element takes at least one character and one separator */
	cap = strlen(p) / 2 + 1;
	if (cap > PGML_VECTOR_MAX_DIM + 1)
		cap = PGML_VECTOR_MAX_DIM + 1;
	out = (float *) palloc(cap * sizeof(float));

	for (;;)
	{
		char	   *end;
		float		x;

		while (is_space(*p))
			p++;
		if (*p == '\0' || *p == ',' || *p == ']')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", type, str),
					 errdetail(*p == '\0' ? "Unexpected end of input." : "Missing element before \"%c\".",
							   *p)));
		if (n >= PGML_VECTOR_MAX_DIM)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s cannot have more than %d dimensions", type, PGML_VECTOR_MAX_DIM)));
		errno = 0;
		x = strtof(p, &end);
		if (end == p)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", type, str)));
		if (errno == ERANGE && (isinf(x) || x == 0))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%.*s\" is out of range for type %s", (int) (end - p), p, type)));
		pgml_vector_check_element(x, type);
		out[n++] = x;
		p = end;
		while (is_space(*p))
			p++;
		if (*p == ',')
		{
			p++;
			continue;
		}
		if (*p == ']')
		{
			p++;
			break;
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"", type, str),
				 *p == '\0' ? errdetail("Unexpected end of input.") :
				 (unsigned char) *p >= 0x80 || !isprint((unsigned char) *p) ? errdetail("Unexpected character.") :
				 errdetail("Unexpected character \"%c\".", *p)));
	}
	while (is_space(*p))
		p++;
	if (*p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"", type, str),
				 errdetail("Junk after closing right bracket.")));
	*dim = n;
	return out;
}

float *
pgml_array_to_floats(ArrayType *a, const char *type, int *dim)
{
	Oid			elemtype = ARR_ELEMTYPE(a);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	float	   *out;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be one-dimensional"),
				 errdetail("The array has %d dimensions.", ARR_NDIM(a))));
	if (array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));
	n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	pgml_vector_check_dim_count(n, type);

	out = (float *) palloc(sizeof(float) * n);
	if (elemtype == FLOAT4OID)
		memcpy(out, ARR_DATA_PTR(a), sizeof(float) * n);
	else
	{
		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		deconstruct_array(a, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			switch (elemtype)
			{
				case INT4OID:
					out[i] = (float) DatumGetInt32(elems[i]);
					break;
				case FLOAT8OID:
				case NUMERICOID:
					{
						double		d;
						bool		too_big;

						if (elemtype == FLOAT8OID)
							d = DatumGetFloat8(elems[i]);
						else
							d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, elems[i]));
						out[i] = (float) d;
						/* finite in, infinite out; numeric beyond double range also comes back infinite */
						too_big = isinf(out[i]) &&
							(elemtype == FLOAT8OID ? !isinf(d) : !numeric_is_inf(DatumGetNumeric(elems[i])));
						if (too_big)
							ereport(ERROR,
									(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
									 errmsg("value out of range for type %s", type),
									 errdetail("Elements must be between %g and %g.", -FLT_MAX, FLT_MAX)));
						break;
					}
				default:
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("unsupported array element type %s for type %s",
									format_type_be(elemtype), type)));
			}
		}
	}
	for (int i = 0; i < n; i++)
		pgml_vector_check_element(out[i], type);
	*dim = n;
	return out;
}

/* Shortest text form of a float that reads back to the same value ("1", "0.1", "1e+20"). */
char *
pgml_floats_to_text(const float *x, int dim)
{
	StringInfoData s;

	initStringInfo(&s);
	enlargeStringInfo(&s, dim * (FLOAT_SHORTEST_DECIMAL_LEN + 1) + 2);
	appendStringInfoChar(&s, '[');
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			s.data[s.len++] = ',';
		s.len += float_to_shortest_decimal_bufn(x[i], s.data + s.len);
	}
	appendStringInfoChar(&s, ']');
	return s.data;
}

/* ---------------------------------------------------------------------------------------------------
 * I/O
 * ------------------------------------------------------------------------------------------------- */

static PgmlVector *
vector_from_floats(const float *x, int dim)
{
	PgmlVector *v = pgml_vector_new(dim);

	memcpy(v->x, x, sizeof(float) * dim);
	return v;
}

PG_FUNCTION_INFO_V1(pgml_vector_in);
Datum
pgml_vector_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	float	   *x = pgml_vector_parse(str, "vector", &dim);

	pgml_vector_check_typmod(dim, typmod);
	PG_RETURN_POINTER(vector_from_floats(x, dim));
}

PG_FUNCTION_INFO_V1(pgml_vector_out);
Datum
pgml_vector_out(PG_FUNCTION_ARGS)
{
	PgmlVector *v = PG_GETARG_PGML_VECTOR_P(0);

	PG_RETURN_CSTRING(pgml_floats_to_text(v->x, v->dim));
}

PG_FUNCTION_INFO_V1(pgml_vector_typmod_in);
Datum
pgml_vector_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(pgml_vector_parse_typmod(PG_GETARG_ARRAYTYPE_P(0), "vector"));
}

PG_FUNCTION_INFO_V1(pgml_vector_typmod_out);
Datum
pgml_vector_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	PG_RETURN_CSTRING(typmod < 0 ? pstrdup("") : psprintf("(%d)", typmod));
}

PG_FUNCTION_INFO_V1(pgml_vector_recv);
Datum
pgml_vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim = (int16) pq_getmsgint(buf, sizeof(int16));
	int			unused = (int16) pq_getmsgint(buf, sizeof(int16));
	PgmlVector *v;

	pgml_vector_check_dim_count(dim, "vector");
	pgml_vector_check_typmod(dim, typmod);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("expected unused to be 0, not %d", unused)));
	v = pgml_vector_new(dim);
	for (int i = 0; i < dim; i++)
	{
		v->x[i] = pq_getmsgfloat4(buf);
		pgml_vector_check_element(v->x[i], "vector");
	}
	PG_RETURN_POINTER(v);
}

PG_FUNCTION_INFO_V1(pgml_vector_send);
Datum
pgml_vector_send(PG_FUNCTION_ARGS)
{
	PgmlVector *v = PG_GETARG_PGML_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, v->unused);
	for (int i = 0; i < v->dim; i++)
		pq_sendfloat4(&buf, v->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* pgml.vector(vector, typmod, explicit): the length coercion behind vector(n) */
PG_FUNCTION_INFO_V1(pgml_vector_coerce);
Datum
pgml_vector_coerce(PG_FUNCTION_ARGS)
{
	PgmlVector *v = PG_GETARG_PGML_VECTOR_P(0);

	pgml_vector_check_typmod(v->dim, PG_GETARG_INT32(1));
	PG_RETURN_POINTER(v);
}

PG_FUNCTION_INFO_V1(pgml_array_to_vector);
Datum
pgml_array_to_vector(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	int			dim;
	float	   *x = pgml_array_to_floats(a, "vector", &dim);

	pgml_vector_check_typmod(dim, PG_GETARG_INT32(1));
	PG_RETURN_POINTER(vector_from_floats(x, dim));
}

PG_FUNCTION_INFO_V1(pgml_vector_to_float4);
Datum
pgml_vector_to_float4(PG_FUNCTION_ARGS)
{
	PgmlVector *v = PG_GETARG_PGML_VECTOR_P(0);
	Datum	   *d = (Datum *) palloc(sizeof(Datum) * v->dim);

	for (int i = 0; i < v->dim; i++)
		d[i] = Float4GetDatum(v->x[i]);
	PG_RETURN_POINTER(construct_array(d, v->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
}

/* ---------------------------------------------------------------------------------------------------
 * Distances and norms (double results; sums in float32 by the core kernels)
 * ------------------------------------------------------------------------------------------------- */

double
pgml_cosine_from_parts(float dot, float aa, float bb)
{
	double		sim = (double) dot / sqrt((double) aa * (double) bb);

	/* a zero vector has no direction: NaN, as pgvector */
	if (isnan(sim))
		return NAN;
	if (sim > 1)
		sim = 1;
	else if (sim < -1)
		sim = -1;
	return 1 - sim;
}

#define VECTOR_PAIR(a, b) \
	PgmlVector *a = PG_GETARG_PGML_VECTOR_P(0); \
	PgmlVector *b = PG_GETARG_PGML_VECTOR_P(1); \
	pgml_vector_check_dims(a->dim, b->dim)

PG_FUNCTION_INFO_V1(pgml_vector_l2_distance);
Datum
pgml_vector_l2_distance(PG_FUNCTION_ARGS)
{
	VECTOR_PAIR(a, b);
	PG_RETURN_FLOAT8(sqrt((double) pgml_l2sq_f32(a->x, b->x, a->dim)));
}

PG_FUNCTION_INFO_V1(pgml_vector_l2_squared_distance);
Datum
pgml_vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	VECTOR_PAIR(a, b);
	PG_RETURN_FLOAT8((double) pgml_l2sq_f32(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(pgml_vector_inner_product);
Datum
pgml_vector_inner_product(PG_FUNCTION_ARGS)
{
	VECTOR_PAIR(a, b);
	PG_RETURN_FLOAT8((double) pgml_dot_f32(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(pgml_vector_negative_inner_product);
Datum
pgml_vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	VECTOR_PAIR(a, b);
	PG_RETURN_FLOAT8(-(double) pgml_dot_f32(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(pgml_vector_cosine_distance);
Datum
pgml_vector_cosine_distance(PG_FUNCTION_ARGS)
{
	float		dot,
				aa,
				bb;

	VECTOR_PAIR(a, b);
	pgml_cosine_parts_f32(a->x, b->x, a->dim, &dot, &aa, &bb);
	PG_RETURN_FLOAT8(pgml_cosine_from_parts(dot, aa, bb));
}

/* Angle between unit vectors scaled to [0, 1]: acos(a·b) / π. The inputs are expected normalized. */
PG_FUNCTION_INFO_V1(pgml_vector_spherical_distance);
Datum
pgml_vector_spherical_distance(PG_FUNCTION_ARGS)
{
	double		dot;

	VECTOR_PAIR(a, b);
	dot = (double) pgml_dot_f32(a->x, b->x, a->dim);
	if (dot > 1)
		dot = 1;
	else if (dot < -1)
		dot = -1;
	PG_RETURN_FLOAT8(acos(dot) / M_PI);
}

PG_FUNCTION_INFO_V1(pgml_vector_l1_distance);
Datum
pgml_vector_l1_distance(PG_FUNCTION_ARGS)
{
	VECTOR_PAIR(a, b);
	PG_RETURN_FLOAT8((double) pgml_l1_f32(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(pgml_vector_dims);
Datum
pgml_vector_dims(PG_FUNCTION_ARGS)
{
	PgmlVector *v = PG_GETARG_PGML_VECTOR_P(0);

	PG_RETURN_INT32(v->dim);
}

PG_FUNCTION_INFO_V1(pgml_vector_norm);
Datum
pgml_vector_norm(PG_FUNCTION_ARGS)
{
	PgmlVector *v = PG_GETARG_PGML_VECTOR_P(0);
	double		s = 0;

	/* in double: squares of large floats overflow float32 */
	for (int i = 0; i < v->dim; i++)
		s += (double) v->x[i] * v->x[i];
	PG_RETURN_FLOAT8(sqrt(s));
}

/* ---------------------------------------------------------------------------------------------------
 * Elementwise arithmetic: a result that overflows to infinity is an ERROR (22003)
 * ------------------------------------------------------------------------------------------------- */

static inline void
check_result(const float *x, int dim)
{
	for (int i = 0; i < dim; i++)
		if (unlikely(isinf(x[i])))
			float_overflow_error();
}

PG_FUNCTION_INFO_V1(pgml_vector_add);
Datum
pgml_vector_add(PG_FUNCTION_ARGS)
{
	PgmlVector *r;

	VECTOR_PAIR(a, b);
	r = pgml_vector_new(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] + b->x[i];
	check_result(r->x, r->dim);
	PG_RETURN_POINTER(r);
}

PG_FUNCTION_INFO_V1(pgml_vector_sub);
Datum
pgml_vector_sub(PG_FUNCTION_ARGS)
{
	PgmlVector *r;

	VECTOR_PAIR(a, b);
	r = pgml_vector_new(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] - b->x[i];
	check_result(r->x, r->dim);
	PG_RETURN_POINTER(r);
}

PG_FUNCTION_INFO_V1(pgml_vector_mul);
Datum
pgml_vector_mul(PG_FUNCTION_ARGS)
{
	PgmlVector *r;

	VECTOR_PAIR(a, b);
	r = pgml_vector_new(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] * b->x[i];
	check_result(r->x, r->dim);
	PG_RETURN_POINTER(r);
}

/* ---------------------------------------------------------------------------------------------------
 * Comparison (btree): element by element, then the shorter vector first
 * ------------------------------------------------------------------------------------------------- */

int
pgml_floats_cmp(const float *a, int na, const float *b, int nb)
{
	int			n = Min(na, nb);

	for (int i = 0; i < n; i++)
	{
		if (a[i] < b[i])
			return -1;
		if (a[i] > b[i])
			return 1;
	}
	return na < nb ? -1 : na > nb ? 1 : 0;
}

static int
vector_cmp_args(FunctionCallInfo fcinfo)
{
	PgmlVector *a = PG_GETARG_PGML_VECTOR_P(0);
	PgmlVector *b = PG_GETARG_PGML_VECTOR_P(1);

	return pgml_floats_cmp(a->x, a->dim, b->x, b->dim);
}

PG_FUNCTION_INFO_V1(pgml_vector_cmp);
Datum
pgml_vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(vector_cmp_args(fcinfo));
}

PG_FUNCTION_INFO_V1(pgml_vector_lt);
Datum
pgml_vector_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(vector_cmp_args(fcinfo) < 0);
}

PG_FUNCTION_INFO_V1(pgml_vector_le);
Datum
pgml_vector_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(vector_cmp_args(fcinfo) <= 0);
}

PG_FUNCTION_INFO_V1(pgml_vector_eq);
Datum
pgml_vector_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(vector_cmp_args(fcinfo) == 0);
}

PG_FUNCTION_INFO_V1(pgml_vector_ne);
Datum
pgml_vector_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(vector_cmp_args(fcinfo) != 0);
}

PG_FUNCTION_INFO_V1(pgml_vector_ge);
Datum
pgml_vector_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(vector_cmp_args(fcinfo) >= 0);
}

PG_FUNCTION_INFO_V1(pgml_vector_gt);
Datum
pgml_vector_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(vector_cmp_args(fcinfo) > 0);
}

/* ---------------------------------------------------------------------------------------------------
 * l2_normalize, subvector, binary_quantize
 * ------------------------------------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(pgml_vector_l2_normalize);
Datum
pgml_vector_l2_normalize(PG_FUNCTION_ARGS)
{
	PgmlVector *a = PG_GETARG_PGML_VECTOR_P(0);
	PgmlVector *r = pgml_vector_new(a->dim);
	double		s = 0;

	for (int i = 0; i < a->dim; i++)
		s += (double) a->x[i] * a->x[i];
	/* a zero vector stays zero */
	if (s > 0)
	{
		double		norm = sqrt(s);

		for (int i = 0; i < a->dim; i++)
			r->x[i] = (float) (a->x[i] / norm);
	}
	PG_RETURN_POINTER(r);
}

void
pgml_subvector_range(int dim, int32 start, int32 count, int *first, int *n)
{
	int64		lo = start;
	int64		hi = (int64) start + count;	/* exclusive, 1-based */

	if (count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));
	if (lo < 1)
		lo = 1;
	if (hi > (int64) dim + 1)
		hi = (int64) dim + 1;
	if (hi <= lo)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension"),
				 errdetail("Elements %d to %lld are outside a vector of %d dimensions.",
						   start, (long long) start + count - 1, dim)));
	*first = (int) (lo - 1);
	*n = (int) (hi - lo);
}

PG_FUNCTION_INFO_V1(pgml_vector_subvector);
Datum
pgml_vector_subvector(PG_FUNCTION_ARGS)
{
	PgmlVector *a = PG_GETARG_PGML_VECTOR_P(0);
	int			first,
				n;

	pgml_subvector_range(a->dim, PG_GETARG_INT32(1), PG_GETARG_INT32(2), &first, &n);
	PG_RETURN_POINTER(vector_from_floats(a->x + first, n));
}

VarBit *
pgml_floats_binary_quantize(const float *x, int dim)
{
	VarBit	   *r = (VarBit *) palloc0(VARBITTOTALLEN(dim));
	bits8	   *p = VARBITS(r);

	SET_VARSIZE(r, VARBITTOTALLEN(dim));
	VARBITLEN(r) = dim;
	for (int i = 0; i < dim; i++)
		if (x[i] > 0)
			p[i / 8] |= (bits8) (0x80 >> (i % 8));
	return r;
}

PG_FUNCTION_INFO_V1(pgml_vector_binary_quantize);
Datum
pgml_vector_binary_quantize(PG_FUNCTION_ARGS)
{
	PgmlVector *a = PG_GETARG_PGML_VECTOR_P(0);

	PG_RETURN_VARBIT_P(pgml_floats_binary_quantize(a->x, a->dim));
}

/* ---------------------------------------------------------------------------------------------------
 * Aggregates sum and avg. The state is a float8[] {n, s1, .., sdim}: sums in double precision, and a
 * plain type so that parallel workers' states combine without serialization functions.
 * ------------------------------------------------------------------------------------------------- */

static ArrayType *
agg_state_new(int dim, MemoryContext cxt)
{
	Size		nbytes = ARR_OVERHEAD_NONULLS(1) + sizeof(float8) * (dim + 1);
	ArrayType  *r = (ArrayType *) MemoryContextAllocZero(cxt, nbytes);

	SET_VARSIZE(r, nbytes);
	r->ndim = 1;
	r->dataoffset = 0;
	r->elemtype = FLOAT8OID;
	ARR_DIMS(r)[0] = dim + 1;
	ARR_LBOUND(r)[0] = 1;
	return r;
}

/* The state's values and its dim (0 for the initial state {0}); rejects anything else. */
static float8 *
agg_state_read(ArrayType *s, int *dim)
{
	int			n;

	if (ARR_NDIM(s) != 1 || ARR_ELEMTYPE(s) != FLOAT8OID || ARR_HASNULL(s) ||
		(n = ARR_DIMS(s)[0]) < 1 || n > PGML_VECTOR_MAX_DIM + 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("invalid vector aggregate state")));
	*dim = n - 1;
	return (float8 *) ARR_DATA_PTR(s);
}

Datum
pgml_vector_agg_accum(FunctionCallInfo fcinfo, const float *x, int dim)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	MemoryContext aggcxt;
	int			sdim;
	float8	   *s = agg_state_read(state, &sdim);

	if (!AggCheckCallContext(fcinfo, &aggcxt))
	{
		/* called as a plain function: never modify the argument */
		aggcxt = CurrentMemoryContext;
		if (s[0] != 0)
		{
			state = (ArrayType *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
			s = (float8 *) ARR_DATA_PTR(state);
		}
	}
	if (s[0] == 0)
	{
		/* first row: a fresh state that later rows update in place */
		state = agg_state_new(dim, aggcxt);
		s = (float8 *) ARR_DATA_PTR(state);
	}
	else
		pgml_vector_check_dims(sdim, dim);
	s[0] += 1;
	for (int i = 0; i < dim; i++)
		s[i + 1] += x[i];
	PG_RETURN_ARRAYTYPE_P(state);
}

PG_FUNCTION_INFO_V1(pgml_vector_accum);
Datum
pgml_vector_accum(PG_FUNCTION_ARGS)
{
	PgmlVector *v = PG_GETARG_PGML_VECTOR_P(1);

	return pgml_vector_agg_accum(fcinfo, v->x, v->dim);
}

PG_FUNCTION_INFO_V1(pgml_vector_combine);
Datum
pgml_vector_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *state2 = PG_GETARG_ARRAYTYPE_P(1);
	MemoryContext aggcxt;
	int			dim1,
				dim2;
	float8	   *s1 = agg_state_read(state1, &dim1);
	float8	   *s2 = agg_state_read(state2, &dim2);

	if (!AggCheckCallContext(fcinfo, &aggcxt))
	{
		aggcxt = CurrentMemoryContext;
		state1 = (ArrayType *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
		s1 = (float8 *) ARR_DATA_PTR(state1);
	}
	if (s2[0] == 0)
		PG_RETURN_ARRAYTYPE_P(state1);
	if (s1[0] == 0)
	{
		state1 = agg_state_new(dim2, aggcxt);
		memcpy(ARR_DATA_PTR(state1), s2, sizeof(float8) * (dim2 + 1));
		PG_RETURN_ARRAYTYPE_P(state1);
	}
	pgml_vector_check_dims(dim1, dim2);
	for (int i = 0; i <= dim1; i++)
		s1[i] += s2[i];
	PG_RETURN_ARRAYTYPE_P(state1);
}

float *
pgml_vector_agg_result(ArrayType *state, bool average, int *dim)
{
	float8	   *s = agg_state_read(state, dim);
	float	   *out;

	if (s[0] == 0)
		return NULL;
	out = (float *) palloc(sizeof(float) * *dim);
	for (int i = 0; i < *dim; i++)
	{
		out[i] = (float) (average ? s[i + 1] / s[0] : s[i + 1]);
		if (isinf(out[i]))
			float_overflow_error();
	}
	return out;
}

PG_FUNCTION_INFO_V1(pgml_vector_avg);
Datum
pgml_vector_avg(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *x = pgml_vector_agg_result(PG_GETARG_ARRAYTYPE_P(0), true, &dim);

	if (x == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(vector_from_floats(x, dim));
}

PG_FUNCTION_INFO_V1(pgml_vector_sum);
Datum
pgml_vector_sum(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *x = pgml_vector_agg_result(PG_GETARG_ARRAYTYPE_P(0), false, &dim);

	if (x == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(vector_from_floats(x, dim));
}
