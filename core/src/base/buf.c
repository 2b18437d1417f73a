/*
 * buf.c — little-endian binary writing and bounds-checked reading.
 */
#include "pgml/buf.h"

#include <string.h>

void
pgml_buf_init(pgml_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void
pgml_buf_free(pgml_buf *b)
{
	pgml_free(b->data);
	pgml_buf_init(b);
}

pgml_status
pgml_buf_status(const pgml_buf *b, pgml_err *err)
{
	if (b->failed)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	return PGML_OK;
}

static bool
reserve(pgml_buf *b, size_t extra)
{
	size_t		need;
	size_t		cap;
	uint8_t    *p;

	if (b->failed)
		return false;
	if (!pgml_add_size(b->len, extra, &need))
	{
		b->failed = true;
		return false;
	}
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
	{
		if (cap > SIZE_MAX / 2)
		{
			cap = need;
			break;
		}
		cap *= 2;
	}
	p = pgml_realloc(b->data, cap);
	if (p == NULL)
	{
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void
pgml_buf_put(pgml_buf *b, const void *data, size_t len)
{
	if (len == 0 || !reserve(b, len))
		return;
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

void
pgml_buf_put_u8(pgml_buf *b, uint8_t v)
{
	pgml_buf_put(b, &v, 1);
}

void
pgml_buf_put_u32(pgml_buf *b, uint32_t v)
{
	uint8_t		le[4];

	for (int i = 0; i < 4; i++)
		le[i] = (uint8_t) (v >> (8 * i));
	pgml_buf_put(b, le, 4);
}

void
pgml_buf_put_u64(pgml_buf *b, uint64_t v)
{
	uint8_t		le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t) (v >> (8 * i));
	pgml_buf_put(b, le, 8);
}

void
pgml_buf_put_i64(pgml_buf *b, int64_t v)
{
	pgml_buf_put_u64(b, (uint64_t) v);
}

void
pgml_buf_put_f32(pgml_buf *b, float v)
{
	uint32_t	bits;

	memcpy(&bits, &v, 4);
	pgml_buf_put_u32(b, bits);
}

void
pgml_buf_put_f64(pgml_buf *b, double v)
{
	uint64_t	bits;

	memcpy(&bits, &v, 8);
	pgml_buf_put_u64(b, bits);
}

void
pgml_buf_put_f32s(pgml_buf *b, const float *v, size_t n)
{
	pgml_buf_put_u64(b, n);
	if (!reserve(b, n * 4))
		return;
	for (size_t i = 0; i < n; i++)
		pgml_buf_put_f32(b, v[i]);
}

void
pgml_buf_put_f64s(pgml_buf *b, const double *v, size_t n)
{
	pgml_buf_put_u64(b, n);
	if (!reserve(b, n * 8))
		return;
	for (size_t i = 0; i < n; i++)
		pgml_buf_put_f64(b, v[i]);
}

void
pgml_buf_put_str(pgml_buf *b, const char *s)
{
	size_t		len;

	if (s == NULL)
	{
		pgml_buf_put_u32(b, UINT32_MAX);
		return;
	}
	len = strlen(s);
	if (len >= UINT32_MAX)
	{
		b->failed = true;
		return;
	}
	pgml_buf_put_u32(b, (uint32_t) len);
	pgml_buf_put(b, s, len);
}

void
pgml_reader_init(pgml_reader *r, const void *data, size_t len, const char *what, pgml_err *err)
{
	r->data = data;
	r->len = data ? len : 0;
	r->pos = 0;
	r->what = what ? what : "input";
	r->err = err;
	r->failed = false;
}

pgml_status
pgml_reader_status(const pgml_reader *r)
{
	return r->failed ? PGML_ERR_CORRUPT : PGML_OK;
}

pgml_status
pgml_reader_fail(pgml_reader *r, const char *reason)
{
	if (!r->failed)
	{
		r->failed = true;
		pgml_error(r->err, PGML_ERR_CORRUPT, "%s is corrupt", r->what);
		pgml_err_detail(r->err, "%s (at byte %zu of %zu).", reason, r->pos, r->len);
	}
	return PGML_ERR_CORRUPT;
}

size_t
pgml_reader_remaining(const pgml_reader *r)
{
	return r->failed ? 0 : r->len - r->pos;
}

bool
pgml_reader_get(pgml_reader *r, void *out, size_t len)
{
	if (r->failed || len > r->len - r->pos)
	{
		memset(out, 0, len);
		pgml_reader_fail(r, "Unexpected end of data");
		return false;
	}
	memcpy(out, r->data + r->pos, len);
	r->pos += len;
	return true;
}

uint8_t
pgml_reader_u8(pgml_reader *r)
{
	uint8_t		v;

	pgml_reader_get(r, &v, 1);
	return v;
}

uint32_t
pgml_reader_u32(pgml_reader *r)
{
	uint8_t		le[4];
	uint32_t	v = 0;

	if (!pgml_reader_get(r, le, 4))
		return 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t) le[i] << (8 * i);
	return v;
}

uint64_t
pgml_reader_u64(pgml_reader *r)
{
	uint8_t		le[8];
	uint64_t	v = 0;

	if (!pgml_reader_get(r, le, 8))
		return 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t) le[i] << (8 * i);
	return v;
}

int64_t
pgml_reader_i64(pgml_reader *r)
{
	return (int64_t) pgml_reader_u64(r);
}

float
pgml_reader_f32(pgml_reader *r)
{
	uint32_t	bits = pgml_reader_u32(r);
	float		v;

	memcpy(&v, &bits, 4);
	return v;
}

double
pgml_reader_f64(pgml_reader *r)
{
	uint64_t	bits = pgml_reader_u64(r);
	double		v;

	memcpy(&v, &bits, 8);
	return v;
}

static size_t
array_count(pgml_reader *r, size_t elem, size_t expect, size_t max)
{
	uint64_t	n = pgml_reader_u64(r);

	if (r->failed)
		return 0;
	if (expect != SIZE_MAX && n != expect)
	{
		pgml_reader_fail(r, "An array has the wrong length");
		return 0;
	}
	if (n > max || n > (r->len - r->pos) / elem)
	{
		pgml_reader_fail(r, "An array is longer than the data");
		return 0;
	}
	return (size_t) n;
}

float *
pgml_reader_f32s(pgml_reader *r, size_t expect, size_t max, size_t *n)
{
	size_t		count = array_count(r, 4, expect, max);
	float	   *v;

	*n = 0;
	if (r->failed || count == 0)
		return NULL;
	v = pgml_malloc(count * sizeof(float));
	if (v == NULL)
	{
		pgml_reader_fail(r, "Out of memory");
		return NULL;
	}
	for (size_t i = 0; i < count; i++)
		v[i] = pgml_reader_f32(r);
	*n = count;
	return v;
}

double *
pgml_reader_f64s(pgml_reader *r, size_t expect, size_t max, size_t *n)
{
	size_t		count = array_count(r, 8, expect, max);
	double	   *v;

	*n = 0;
	if (r->failed || count == 0)
		return NULL;
	v = pgml_malloc(count * sizeof(double));
	if (v == NULL)
	{
		pgml_reader_fail(r, "Out of memory");
		return NULL;
	}
	for (size_t i = 0; i < count; i++)
		v[i] = pgml_reader_f64(r);
	*n = count;
	return v;
}

char *
pgml_reader_str(pgml_reader *r, size_t max)
{
	uint32_t	len = pgml_reader_u32(r);
	char	   *s;

	if (r->failed || len == UINT32_MAX)
		return NULL;
	if (len > max || len > r->len - r->pos)
	{
		pgml_reader_fail(r, "A string is longer than the data");
		return NULL;
	}
	s = pgml_malloc((size_t) len + 1);
	if (s == NULL)
	{
		pgml_reader_fail(r, "Out of memory");
		return NULL;
	}
	memcpy(s, r->data + r->pos, len);
	s[len] = '\0';
	r->pos += len;
	return s;
}
