/*
 * vector.h — the pgml.vector and pgml.halfvec types: on-disk layout and helpers shared by the type's
 * functions (vector.c, halfvec.c) and the index access methods (pgml_hnsw, pgml_ivfflat).
 *
 * Layout (a varlena, same shape as pgvector's so that dumps and binary I/O feel the same):
 *     int32 vl_len_ | int16 dim | int16 unused (0) | dim × float32 (vector) or dim × float16 (halfvec)
 * Elements are finite: NaN and ±Infinity are rejected on input and on every operation's output.
 */
#ifndef PGML_VECTOR_H
#define PGML_VECTOR_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"
#include "utils/varbit.h"

#define PGML_VECTOR_MAX_DIM 16000
#define PGML_HALFVEC_MAX_DIM 16000

typedef struct PgmlVector
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved, always zero */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} PgmlVector;

typedef struct PgmlHalfVec
{
	int32		vl_len_;
	int16		dim;
	int16		unused;
	uint16		x[FLEXIBLE_ARRAY_MEMBER];	/* IEEE 754 binary16 */
} PgmlHalfVec;

#define PGML_VECTOR_SIZE(dim)	(offsetof(PgmlVector, x) + sizeof(float) * (dim))
#define PGML_HALFVEC_SIZE(dim)	(offsetof(PgmlHalfVec, x) + sizeof(uint16) * (dim))

#define DatumGetPgmlVector(d)	((PgmlVector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_PGML_VECTOR_P(n)	DatumGetPgmlVector(PG_GETARG_DATUM(n))
#define DatumGetPgmlHalfVec(d)	((PgmlHalfVec *) PG_DETOAST_DATUM(d))
#define PG_GETARG_PGML_HALFVEC_P(n)	DatumGetPgmlHalfVec(PG_GETARG_DATUM(n))

/* A zeroed vector of dim dimensions, palloc'd in the current memory context. */
PgmlVector *pgml_vector_new(int dim);
PgmlHalfVec *pgml_halfvec_new(int dim);

/* ERROR (22000 data_exception) naming both sizes unless a and b have the same dimensions. */
void		pgml_vector_check_dims(int a, int b);

/*
 * The float32 elements of a vector Datum (detoasted if needed, in the current memory context) and its
 * number of dimensions. For index access methods: no copy when the Datum is already plain.
 */
const float *pgml_vector_datum_data(Datum d, int *dim);

/* The IEEE binary16 elements of a halfvec Datum, likewise. */
const uint16 *pgml_halfvec_datum_data(Datum d, int *dim);

/* A halfvec's elements widened to float32, palloc'd (exact: every binary16 value is a float32). */
float	   *pgml_halfvec_datum_to_floats(Datum d, int *dim);

/*
 * Checks shared by vector.c and halfvec.c; `type` is the SQL type name used in messages ("vector").
 *   check_dim_count: 1..PGML_VECTOR_MAX_DIM (22000 below, 54000 above)
 *   check_typmod:    typmod is -1 or equal to dim ("expected 3 dimensions, not 2", 22000)
 *   check_element:   finite (22000 for NaN and infinity)
 */
void		pgml_vector_check_dim_count(int dim, const char *type);
void		pgml_vector_check_typmod(int dim, int32 typmod);
void		pgml_vector_check_element(float x, const char *type);

/* The typmod of `type(n)` from its cstring[] modifiers, checked to be 1..16000. */
int32		pgml_vector_parse_typmod(ArrayType *ta, const char *type);

/* Parses the text form "[1, 2, 3]": palloc'd floats, finite, 1..16000 of them (22P02/22000/54000). */
float	   *pgml_vector_parse(const char *str, const char *type, int *dim);

/* Reads a one-dimensional real[], double precision[], integer[] or numeric[] without NULLs as floats. */
float	   *pgml_array_to_floats(ArrayType *a, const char *type, int *dim);

/* The text form "[1,0.5,3]" of dim floats, each in its shortest exact decimal form. */
char	   *pgml_floats_to_text(const float *x, int dim);

/* Cosine distance 1 − dot/√(aa·bb), clamped to [0, 2]; NaN when either vector is zero. */
double		pgml_cosine_from_parts(float dot, float aa, float bb);

/* btree order: element by element, then the shorter first. −1, 0 or 1. */
int			pgml_floats_cmp(const float *a, int na, const float *b, int nb);

/* subvector(v, start, count) of a dim-element vector, 1-based as pgvector: the 0-based first and n. */
void		pgml_subvector_range(int dim, int32 start, int32 count, int *first, int *n);

/* One bit per element: 1 where x > 0. */
VarBit	   *pgml_floats_binary_quantize(const float *x, int dim);

/*
 * Aggregates sum/avg keep a float8[] {count, sum1, .., sumdim}. accum adds one row (argument 0 is the
 * state); result returns the sums or means as floats (NULL for no rows; 22003 beyond float range).
 */
Datum		pgml_vector_agg_accum(FunctionCallInfo fcinfo, const float *x, int dim);
float	   *pgml_vector_agg_result(ArrayType *state, bool average, int *dim);
#endif							/* PGML_VECTOR_H */
