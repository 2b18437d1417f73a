/*
 * buf.h — a growable byte buffer for writing, and a bounds-checked reader, for binary formats
 * (serialized models). Everything is little-endian on disk whatever the host.
 *
 * Writers record the first failure (out of memory) in the buffer and ignore later writes, so a sequence
 * of puts needs one check at the end (pgml_buf_status). Readers never read past the end: a short or
 * malformed input sets the reader's error once and every later get returns zeros.
 */
#ifndef PGML_BUF_H
#define PGML_BUF_H

#include "pgml/pgml.h"

typedef struct pgml_buf
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
	bool		failed;			/* an allocation failed; data is incomplete */
} pgml_buf;

void		pgml_buf_init(pgml_buf *b);
void		pgml_buf_free(pgml_buf *b);	/* frees data; the struct can be reused after init */
/* PGML_OK, or PGML_ERR_OUT_OF_MEMORY (recorded in err) if any write failed. */
pgml_status pgml_buf_status(const pgml_buf *b, pgml_err *err);

void		pgml_buf_put(pgml_buf *b, const void *data, size_t len);
void		pgml_buf_put_u8(pgml_buf *b, uint8_t v);
void		pgml_buf_put_u32(pgml_buf *b, uint32_t v);
void		pgml_buf_put_u64(pgml_buf *b, uint64_t v);
void		pgml_buf_put_i64(pgml_buf *b, int64_t v);
void		pgml_buf_put_f32(pgml_buf *b, float v);
void		pgml_buf_put_f64(pgml_buf *b, double v);
void		pgml_buf_put_f32s(pgml_buf *b, const float *v, size_t n);	/* n (u64) then the values */
void		pgml_buf_put_f64s(pgml_buf *b, const double *v, size_t n);
void		pgml_buf_put_str(pgml_buf *b, const char *s);	/* length (u32) then bytes; NULL as 0xffffffff */

typedef struct pgml_reader
{
	const uint8_t *data;
	size_t		len;
	size_t		pos;
	const char *what;			/* names the input in messages ("model file") */
	pgml_err   *err;			/* where the first error goes (may be NULL) */
	bool		failed;
} pgml_reader;

void		pgml_reader_init(pgml_reader *r, const void *data, size_t len, const char *what, pgml_err *err);
/* PGML_OK, or PGML_ERR_CORRUPT once anything failed. */
pgml_status pgml_reader_status(const pgml_reader *r);
/* Marks the input corrupt with a reason (first failure wins). Returns PGML_ERR_CORRUPT. */
pgml_status pgml_reader_fail(pgml_reader *r, const char *reason);
size_t		pgml_reader_remaining(const pgml_reader *r);

bool		pgml_reader_get(pgml_reader *r, void *out, size_t len);
uint8_t		pgml_reader_u8(pgml_reader *r);
uint32_t	pgml_reader_u32(pgml_reader *r);
uint64_t	pgml_reader_u64(pgml_reader *r);
int64_t		pgml_reader_i64(pgml_reader *r);
float		pgml_reader_f32(pgml_reader *r);
double		pgml_reader_f64(pgml_reader *r);

/*
 * Reads an array written by pgml_buf_put_f32s / _f64s into a new pgml_malloc'd array. The count must be
 * `expect` (or anything up to `max` when expect is SIZE_MAX); *n receives it. NULL on failure (the
 * reader is marked) or for an empty array with *n == 0.
 */
float	   *pgml_reader_f32s(pgml_reader *r, size_t expect, size_t max, size_t *n);
double	   *pgml_reader_f64s(pgml_reader *r, size_t expect, size_t max, size_t *n);

/* A string written by pgml_buf_put_str, as a new pgml_malloc'd NUL-terminated copy of at most max bytes.
 * NULL for a NULL string or on failure (check pgml_reader_status). */
char	   *pgml_reader_str(pgml_reader *r, size_t max);

#endif							/* PGML_BUF_H */
