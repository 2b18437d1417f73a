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

#endif							/* PGML_VECTOR_H */
