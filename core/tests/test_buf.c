/* Tests for buf.c: round trips, little-endian layout, and hostile input. */
#include "test.h"

#include <stdint.h>

#include "pgml/buf.h"

TEST(buf_round_trip)
{
	pgml_buf	b;
	pgml_reader r;
	pgml_err	err;
	float		fs[] = {1.5f, -2.25f, 3e30f};
	double		ds[] = {1e-300, 2.0};
	float	   *f;
	double	   *d;
	char	   *s;
	size_t		n;

	pgml_buf_init(&b);
	pgml_buf_put_u8(&b, 7);
	pgml_buf_put_u32(&b, 0x01020304u);
	pgml_buf_put_u64(&b, UINT64_C(0x1122334455667788));
	pgml_buf_put_i64(&b, -5);
	pgml_buf_put_f32(&b, 0.1f);
	pgml_buf_put_f64(&b, 0.1);
	pgml_buf_put_f32s(&b, fs, 3);
	pgml_buf_put_f64s(&b, ds, 2);
	pgml_buf_put_str(&b, "xgboost");
	pgml_buf_put_str(&b, NULL);
	pgml_buf_put_f32s(&b, NULL, 0);
	REQUIRE(pgml_buf_status(&b, &err) == PGML_OK);
	/* little-endian on disk */
	CHECK_INT(b.data[1], 0x04);
	CHECK_INT(b.data[4], 0x01);

	pgml_reader_init(&r, b.data, b.len, "test data", &err);
	CHECK_INT(pgml_reader_u8(&r), 7);
	CHECK_INT(pgml_reader_u32(&r), 0x01020304u);
	CHECK(pgml_reader_u64(&r) == UINT64_C(0x1122334455667788));
	CHECK_INT(pgml_reader_i64(&r), -5);
	CHECK(pgml_reader_f32(&r) == 0.1f);
	CHECK(pgml_reader_f64(&r) == 0.1);
	f = pgml_reader_f32s(&r, 3, 100, &n);
	REQUIRE(f != NULL);
	CHECK_INT(n, 3);
	CHECK(f[2] == 3e30f);
	pgml_free(f);
	d = pgml_reader_f64s(&r, SIZE_MAX, 100, &n);
	REQUIRE(d != NULL);
	CHECK(d[0] == 1e-300);
	pgml_free(d);
	s = pgml_reader_str(&r, 100);
	CHECK_STR(s, "xgboost");
	pgml_free(s);
	CHECK(pgml_reader_str(&r, 100) == NULL);
	CHECK(pgml_reader_f32s(&r, SIZE_MAX, 100, &n) == NULL);
	CHECK_INT(n, 0);
	CHECK_INT(pgml_reader_status(&r), PGML_OK);
	CHECK_INT(pgml_reader_remaining(&r), 0);
	/* reading past the end fails once and returns zeros */
	CHECK_INT(pgml_reader_u32(&r), 0);
	CHECK_INT(pgml_reader_status(&r), PGML_ERR_CORRUPT);
	CHECK_STR(err.msg, "test data is corrupt");
	CHECK(strstr(err.detail, "Unexpected end of data") != NULL);
	pgml_buf_free(&b);
}

TEST(buf_hostile_lengths)
{
	pgml_buf	b;
	pgml_reader r;
	pgml_err	err;
	size_t		n;

	/* an array claiming 2^60 elements in a short buffer */
	pgml_buf_init(&b);
	pgml_buf_put_u64(&b, UINT64_C(1) << 60);
	pgml_buf_put_u32(&b, 1);
	pgml_reader_init(&r, b.data, b.len, "model", &err);
	CHECK(pgml_reader_f32s(&r, SIZE_MAX, SIZE_MAX, &n) == NULL);
	CHECK_INT(pgml_reader_status(&r), PGML_ERR_CORRUPT);
	/* wrong expected count */
	pgml_reader_init(&r, b.data, b.len, "model", &err);
	CHECK(pgml_reader_f64s(&r, 3, 100, &n) == NULL);
	CHECK(strstr(err.detail, "wrong length") != NULL);
	pgml_buf_free(&b);

	/* a string longer than the data, and one over the limit */
	pgml_buf_init(&b);
	pgml_buf_put_u32(&b, 1000);
	pgml_buf_put(&b, "abc", 3);
	pgml_reader_init(&r, b.data, b.len, "model", &err);
	CHECK(pgml_reader_str(&r, 10000) == NULL);
	CHECK_INT(pgml_reader_status(&r), PGML_ERR_CORRUPT);
	pgml_buf_free(&b);
	pgml_buf_init(&b);
	pgml_buf_put_str(&b, "abcdef");
	pgml_reader_init(&r, b.data, b.len, "model", &err);
	CHECK(pgml_reader_str(&r, 3) == NULL);
	pgml_buf_free(&b);

	/* empty and NULL input */
	pgml_reader_init(&r, NULL, 100, "model", &err);
	CHECK_INT(pgml_reader_u8(&r), 0);
	CHECK_INT(pgml_reader_status(&r), PGML_ERR_CORRUPT);
}
