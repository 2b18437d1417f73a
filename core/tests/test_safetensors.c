/* Tests for safetensors.c: a valid file written here, and every kind of broken header. */
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgml/safetensors.h"
#include "pgml/tensor.h"

/* Writes an 8-byte length (hlen_override when != 0), the header text and data_len bytes of data. */
static const char *
write_st(const char *name, const char *header, uint64_t hlen_override, const void *data, size_t data_len)
{
	static char path[256];
	FILE	   *f;
	uint64_t	n = hlen_override ? hlen_override : strlen(header);
	uint8_t		len[8];

	snprintf(path, sizeof(path), "/tmp/pgml_st_%d_%s", (int) getpid(), name);
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t) (n >> (8 * i));
	f = fopen(path, "wb");
	if (f == NULL)
		return path;
	fwrite(len, 1, 8, f);
	fwrite(header, 1, strlen(header), f);
	if (data_len)
		fwrite(data, 1, data_len, f);
	fclose(f);
	return path;
}

/* Opens a file with the header and 64 bytes of data; returns the status and leaves err. */
static pgml_status
open_header(const char *header, pgml_err *err)
{
	static uint8_t data[64];
	pgml_safetensors *st = (pgml_safetensors *) 1;
	const char *path = write_st("h", header, 0, data, sizeof(data));
	pgml_status rc = pgml_safetensors_open(path, &st, err);

	if (rc != PGML_OK)
		CHECK(st == NULL);
	pgml_safetensors_close(st);
	unlink(path);
	return rc;
}

TEST(safetensors_reads_valid_file)
{
	float		w[6] = {1, 2, 3, 4, 5, 6};
	uint16_t	h[2] = {0x3c00, 0xc000};	/* f16 1, -2 */
	uint16_t	b[2] = {0x3f80, 0x4040};	/* bf16 1, 3 */
	int64_t		ids[2] = {7, 8};
	uint8_t		data[6 * 4 + 4 + 4 + 16];
	const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
		"\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
		"\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]},"
		"\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[28,32]},"
		"\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[32,48]},"
		"\"empty\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[48,48]}}    ";
	const char *path;
	pgml_safetensors *st = NULL;
	pgml_err	err;
	const pgml_st_tensor *t;
	size_t		shape[2] = {2, 3};
	float		out[2];

	memcpy(data, w, 24);
	memcpy(data + 24, h, 4);
	memcpy(data + 28, b, 4);
	memcpy(data + 32, ids, 16);
	path = write_st("valid", hdr, 0, data, sizeof(data));
	REQUIRE(pgml_safetensors_open(path, &st, &err) == PGML_OK);
	CHECK_INT(pgml_safetensors_count(st), 5);
	CHECK_STR(pgml_safetensors_at(st, 0)->name, "b");	/* sorted */
	t = pgml_safetensors_find(st, "w");
	REQUIRE(t != NULL);
	CHECK_INT(t->ndim, 2);
	CHECK_INT(t->shape[1], 3);
	CHECK_INT(t->nbytes, 24);
	CHECK(memcmp(t->data, w, 24) == 0);
	CHECK(pgml_safetensors_find(st, "nope") == NULL);
	CHECK(pgml_safetensors_find(st, "__metadata__") == NULL);
	CHECK_INT(pgml_safetensors_get(st, "w", 2, shape, &t, &err), PGML_OK);
	shape[1] = 4;
	CHECK_INT(pgml_safetensors_get(st, "w", 2, shape, &t, &err), PGML_ERR_CORRUPT);
	CHECK_STR(err.msg, "tensor \"w\" has shape [2, 3], expected [2, 4]");
	CHECK_INT(pgml_safetensors_get(st, "w", 1, shape, &t, &err), PGML_ERR_CORRUPT);
	CHECK_INT(pgml_safetensors_get(st, "missing", -1, NULL, &t, &err), PGML_ERR_CORRUPT);
	CHECK_STR(err.msg, "tensor \"missing\" is missing from the checkpoint");
	CHECK_INT(pgml_safetensors_get(st, "ids", -1, NULL, &t, &err), PGML_ERR_NOT_SUPPORTED);
	CHECK_STR(err.msg, "tensor \"ids\" has dtype I64, which is not supported");
	CHECK_INT(pgml_safetensors_get(st, "h", -1, NULL, &t, &err), PGML_OK);
	pgml_convert_to_f32(t->dtype, t->data, out, 2);
	CHECK(out[0] == 1.0f && out[1] == -2.0f);
	CHECK_INT(pgml_safetensors_get(st, "b", -1, NULL, &t, &err), PGML_OK);
	pgml_convert_to_f32(t->dtype, t->data, out, 2);
	CHECK(out[0] == 1.0f && out[1] == 3.0f);
	CHECK_INT(pgml_safetensors_get(st, "empty", 2, (size_t[]) {0, 4}, &t, &err), PGML_OK);
	CHECK(pgml_safetensors_mapped_bytes(st) == 8 + strlen(hdr) + sizeof(data));
	pgml_safetensors_close(st);
	pgml_safetensors_close(NULL);
	unlink(path);
}

TEST(safetensors_rejects_bad_headers)
{
	pgml_err	err;
	static const char *const bad[] = {
		"[1,2]",				/* not an object */
		"{\"a\":",				/* not JSON */
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",	/* 4 bytes for 8 */
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}",	/* begin > end */
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[20],\"data_offsets\":[0,80]}}",	/* past the data */
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
		"\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",	/* overlap */
		"{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}",	/* unknown dtype */
		"{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}",	/* overflow */
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}",
		"{\"a\":[1]}",
		"{\"__metadata__\":[1]}",
		"{\"__metadata__\":{\"x\":1}}",
		NULL
	};

	for (int i = 0; bad[i] != NULL; i++)
	{
		pgml_status rc = open_header(bad[i], &err);

		if (rc != PGML_ERR_CORRUPT)
			test_fail(__FILE__, __LINE__, "header %d: status %d, expected CORRUPT", i, (int) rc);
		CHECK(strstr(err.msg, "/tmp/pgml_st_") != NULL);
	}
	/* messages name the tensor */
	open_header(bad[2], &err);
	CHECK(strstr(err.msg, "tensor \"a\"") != NULL);
	CHECK(strstr(err.detail, "need 8") != NULL);
	open_header(bad[5], &err);
	CHECK(strstr(err.detail, "overlaps") != NULL);
	/* valid: empty object, metadata only, touching tensors */
	CHECK_INT(open_header("{}", &err), PGML_OK);
	CHECK_INT(open_header("{\"__metadata__\":{\"a\":\"b\"}}", &err), PGML_OK);
	CHECK_INT(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
						  "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}", &err), PGML_OK);
}

TEST(safetensors_rejects_bad_lengths)
{
	pgml_err	err;
	pgml_safetensors *st = NULL;
	const char *hdr = "{}";
	const char *path;

	/* header length past the end of the file */
	path = write_st("past", hdr, 100, NULL, 0);
	CHECK_INT(pgml_safetensors_open(path, &st, &err), PGML_ERR_CORRUPT);
	CHECK(strstr(err.detail, "past the end") != NULL);
	unlink(path);
	/* huge header length */
	path = write_st("huge", hdr, (uint64_t) 1 << 40, NULL, 0);
	CHECK_INT(pgml_safetensors_open(path, &st, &err), PGML_ERR_CORRUPT);
	CHECK(strstr(err.detail, "over the limit") != NULL);
	unlink(path);
	path = write_st("max", hdr, UINT64_MAX, NULL, 0);
	CHECK_INT(pgml_safetensors_open(path, &st, &err), PGML_ERR_CORRUPT);
	unlink(path);
	/* truncated: fewer than 8 bytes, and empty */
	{
		FILE	   *f;
		char		p2[256];

		snprintf(p2, sizeof(p2), "/tmp/pgml_st_%d_short", (int) getpid());
		f = fopen(p2, "wb");
		fwrite("abc", 1, 3, f);
		fclose(f);
		CHECK_INT(pgml_safetensors_open(p2, &st, &err), PGML_ERR_CORRUPT);
		f = fopen(p2, "wb");
		fclose(f);
		CHECK_INT(pgml_safetensors_open(p2, &st, &err), PGML_ERR_CORRUPT);
		unlink(p2);
	}
	CHECK_INT(pgml_safetensors_open("/nonexistent/x.safetensors", &st, &err), PGML_ERR_NOT_FOUND);
	CHECK(st == NULL);
}

TEST(safetensors_truncations_of_real_file)
{
	char		path[256],
				tpath[256];
	FILE	   *f;
	uint8_t    *buf;
	long		n;

	snprintf(path, sizeof(path), "tests/fixtures/models/bert/model.safetensors");
	if (access(path, F_OK) != 0)
		snprintf(path, sizeof(path), "core/tests/fixtures/models/bert/model.safetensors");
	f = fopen(path, "rb");
	REQUIRE(f != NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n);
	REQUIRE(fread(buf, 1, (size_t) n, f) == (size_t) n);
	fclose(f);
	snprintf(tpath, sizeof(tpath), "/tmp/pgml_st_%d_trunc", (int) getpid());
	/* every cut inside the header and a few inside the data must fail cleanly */
	for (long cut = 0; cut < n; cut += cut < 2000 ? 7 : 997)
	{
		pgml_safetensors *st = NULL;
		pgml_err	err;

		f = fopen(tpath, "wb");
		fwrite(buf, 1, (size_t) cut, f);
		fclose(f);
		if (pgml_safetensors_open(tpath, &st, &err) != PGML_ERR_CORRUPT)
			test_fail(__FILE__, __LINE__, "cut at %ld opened", cut);
		pgml_safetensors_close(st);
	}
	unlink(tpath);
	free(buf);
}

/* A sharded checkpoint: index whose shard is missing a tensor, or names a path outside the dir. */
TEST(safetensors_sharded_index_errors)
{
	char		dir[256],
				p[512];
	pgml_safetensors *st = NULL;
	pgml_err	err;
	FILE	   *f;
	float		w[2] = {1, 2};
	const char *shard;

	snprintf(dir, sizeof(dir), "/tmp/pgml_st_dir_%d", (int) getpid());
	mkdir(dir, 0700);
	CHECK_INT(pgml_safetensors_open_dir(dir, &st, &err), PGML_ERR_NOT_FOUND);
	shard = write_st("s1.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, w, 8);
	snprintf(p, sizeof(p), "%s/s1.safetensors", dir);
	rename(shard, p);
	snprintf(p, sizeof(p), "%s/model.safetensors.index.json", dir);
	f = fopen(p, "w");
	fputs("{\"weight_map\":{\"a\":\"s1.safetensors\"}}", f);
	fclose(f);
	CHECK_INT(pgml_safetensors_open_dir(dir, &st, &err), PGML_OK);
	CHECK(st != NULL && pgml_safetensors_find(st, "a") != NULL);
	pgml_safetensors_close(st);
	f = fopen(p, "w");
	fputs("{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"}}", f);
	fclose(f);
	CHECK_INT(pgml_safetensors_open_dir(dir, &st, &err), PGML_ERR_CORRUPT);
	CHECK_STR(err.msg, "tensor \"b\" is not in shard \"s1.safetensors\"");
	f = fopen(p, "w");
	fputs("{\"weight_map\":{\"a\":\"../s1.safetensors\"}}", f);
	fclose(f);
	CHECK_INT(pgml_safetensors_open_dir(dir, &st, &err), PGML_ERR_CORRUPT);
	f = fopen(p, "w");
	fputs("{\"weight_map\":{\"a\":\"s2.safetensors\"}}", f);
	fclose(f);
	CHECK_INT(pgml_safetensors_open_dir(dir, &st, &err), PGML_ERR_NOT_FOUND);
	f = fopen(p, "w");
	fputs("{\"weight_map\":[]}", f);
	fclose(f);
	CHECK_INT(pgml_safetensors_open_dir(dir, &st, &err), PGML_ERR_CORRUPT);
	unlink(p);
	snprintf(p, sizeof(p), "%s/s1.safetensors", dir);
	unlink(p);
	rmdir(dir);
}
