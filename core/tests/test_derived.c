/*
 * Tests for derived.c (the derived-weights file) and its use by the encoder: arrays written once and
 * mapped by later loads, a file that is missing, stale, corrupt or unwritable never failing a load,
 * and an encoder giving bit-identical outputs with and without it.
 */
#include "test.h"

#include <math.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "pgml/derived.h"
#include "pgml/transformer.h"

static char tmp_root[128];

static const char *
tmp_path(const char *name, char *buf, size_t len)
{
	if (tmp_root[0] == '\0')
	{
		snprintf(tmp_root, sizeof(tmp_root), "/tmp/pgml_derived_test_%d", (int) getpid());
		mkdir(tmp_root, 0700);
	}
	snprintf(buf, len, "%s/%s", tmp_root, name);
	return buf;
}

static void
key_of(int v, uint8_t key[32])
{
	memset(key, 0, 32);
	key[0] = (uint8_t) v;
	key[31] = 0x5a;
}

static float *
heap_floats(size_t n, float base)
{
	float	   *p = pgml_malloc(n * sizeof(float));

	for (size_t i = 0; i < n; i++)
		p[i] = base + (float) i * 0.25f;
	return p;
}

/* Writes a set with an f32 array "a" (n = 1000), a q8 weight "q" (70 × 45) and a long-named array. */
static void
write_set(const char *path, int keyv)
{
	uint8_t		key[32];
	pgml_derived *d;
	pgml_err	err;
	const float *a = NULL,
			   *l = NULL;
	pgml_q8_weight q;
	float	   *W = heap_floats(70 * 45, -3.0f);
	char		longname[300];
	float	   *ha;

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	key_of(keyv, key);
	REQUIRE(pgml_derived_open(path, key, &d, &err) == PGML_OK);
	CHECK(!pgml_derived_reused(d));
	ha = heap_floats(1000, 1.0f);
	CHECK_INT(pgml_derived_add_f32(d, "a", ha, 1000, &a, &err), PGML_OK);
	CHECK(a == ha);
	CHECK_INT(pgml_derived_add_f32(d, longname, heap_floats(10, 7.0f), 10, &l, &err), PGML_OK);
	REQUIRE(pgml_q8_quantize(W, 70, 45, &q, &err) == PGML_OK);
	CHECK_INT(pgml_derived_add_q8(d, "q", &q, &err), PGML_OK);
	CHECK(q.borrowed);
	CHECK(pgml_derived_heap_bytes(d) > 4000);
	CHECK_INT(pgml_derived_commit(d, &err), PGML_OK);
	/* every pointer now lies in the mapping, with the same contents */
	CHECK_INT(pgml_derived_heap_bytes(d), 0);
	CHECK(pgml_derived_mapped_bytes(d) > 4000);
	CHECK(a != ha);
	CHECK(a[0] == 1.0f && a[999] == 1.0f + 999 * 0.25f);
	CHECK(l[9] == 7.0f + 9 * 0.25f);
	CHECK(q.w != NULL && q.N == 70 && q.K == 45);
	pgml_q8_free(&q);			/* borrowed: only cleared */
	pgml_derived_free(d);
	free(W);
}

TEST(derived_written_once_then_mapped)
{
	char		path[256];
	uint8_t		key[32];
	pgml_derived *d;
	pgml_err	err;
	pgml_q8_weight q,
				fresh;
	float	   *W = heap_floats(70 * 45, -3.0f);
	char		longname[300];
	const float *a,
			   *l;

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	tmp_path("set.pgmlw", path, sizeof(path));
	unlink(path);
	write_set(path, 1);
	CHECK(access(path, F_OK) == 0);

	key_of(1, key);
	REQUIRE(pgml_derived_open(path, key, &d, &err) == PGML_OK);
	CHECK(pgml_derived_reused(d));
	a = pgml_derived_get_f32(d, "a", 1000);
	REQUIRE(a != NULL);
	CHECK(a[0] == 1.0f && a[999] == 1.0f + 999 * 0.25f);
	CHECK(((uintptr_t) a) % 64 == 0);
	CHECK(pgml_derived_get_f32(d, "a", 999) == NULL);	/* another size: not this entry */
	CHECK(pgml_derived_get_f32(d, "b", 1000) == NULL);
	l = pgml_derived_get_f32(d, longname, 10);
	REQUIRE(l != NULL);
	CHECK(l[0] == 7.0f);
	CHECK(!pgml_derived_get_q8(d, "q", 71, 45, &q));
	REQUIRE(pgml_derived_get_q8(d, "q", 70, 45, &q));
	CHECK(q.borrowed);
	REQUIRE(pgml_q8_quantize(W, 70, 45, &fresh, &err) == PGML_OK);
	CHECK(memcmp(q.w, fresh.w, 96 * fresh.Kp) == 0);
	CHECK(memcmp(q.scale, fresh.scale, 70 * sizeof(float)) == 0);
	CHECK(memcmp(q.wsum, fresh.wsum, 70 * sizeof(int32_t)) == 0);
	pgml_q8_free(&fresh);
	pgml_q8_free(&q);
	/* nothing added: commit leaves the file alone */
	CHECK_INT(pgml_derived_commit(d, &err), PGML_OK);
	CHECK_INT(pgml_derived_heap_bytes(d), 0);
	pgml_derived_free(d);

	/* another key (new source files, options or format): the file is not used */
	key_of(2, key);
	REQUIRE(pgml_derived_open(path, key, &d, &err) == PGML_OK);
	CHECK(!pgml_derived_reused(d));
	CHECK(pgml_derived_get_f32(d, "a", 1000) == NULL);
	pgml_derived_free(d);
	free(W);
	unlink(path);
}

/* Rewrites bytes [off, off + len) of the file with val, or truncates it to off when len is 0. */
static void
damage(const char *path, long off, size_t len, const void *val)
{
	int			fd = open(path, O_RDWR);

	REQUIRE(fd >= 0);
	if (len == 0)
		CHECK(ftruncate(fd, off) == 0);
	else
		CHECK(pwrite(fd, val, len, off) == (ssize_t) len);
	close(fd);
}

TEST(derived_corrupt_files_are_rebuilt)
{
	char		path[256];
	uint8_t		key[32];
	uint32_t	huge = 0x7fffffff;
	uint64_t	far = (uint64_t) 1 << 40,
				odd = 65,
				big = (uint64_t) -1;
	char		noterm[112];
	struct
	{
		const char *what;
		long		off;
		size_t		len;
		const void *val;
	}			cases[] = {
		{"empty", 0, 0, NULL},
		{"truncated header", 40, 0, NULL},
		{"truncated data", 6000, 0, NULL},
		{"bad magic", 0, 4, "XXXX"},
		{"bad version", 8, 4, &huge},
		{"too many entries", 12, 4, &huge},
		{"wrong file size", 16, 8, &far},
		{"offset out of range", 64 + 112, 8, &far},
		{"misaligned offset", 64 + 112, 8, &odd},
		{"size out of range", 64 + 120, 8, &big},
		{"unterminated name", 64, 112, noterm},
	};

	memset(noterm, 'n', sizeof(noterm));
	tmp_path("bad.pgmlw", path, sizeof(path));
	key_of(3, key);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		pgml_derived *d;
		pgml_err	err;
		const float *a = NULL;

		unlink(path);
		write_set(path, 3);
		damage(path, cases[c].off, cases[c].len, cases[c].val);
		REQUIRE(pgml_derived_open(path, key, &d, &err) == PGML_OK);
		if (pgml_derived_reused(d))
			test_fail(__FILE__, __LINE__, "%s: the damaged file was used", cases[c].what);
		CHECK(pgml_derived_get_f32(d, "a", 1000) == NULL);
		/* a load then rebuilds it */
		CHECK_INT(pgml_derived_add_f32(d, "a", heap_floats(1000, 2.0f), 1000, &a, &err), PGML_OK);
		CHECK_INT(pgml_derived_commit(d, &err), PGML_OK);
		CHECK(a[5] == 2.0f + 5 * 0.25f);
		pgml_derived_free(d);
		REQUIRE(pgml_derived_open(path, key, &d, &err) == PGML_OK);
		CHECK(pgml_derived_reused(d));
		a = pgml_derived_get_f32(d, "a", 1000);
		CHECK(a != NULL && a[5] == 2.0f + 5 * 0.25f);
		pgml_derived_free(d);
	}
	unlink(path);
}

TEST(derived_unwritable_keeps_heap_copies)
{
	uint8_t		key[32];
	pgml_derived *d;
	pgml_err	err;
	const float *a = NULL;
	char		path[256];

	key_of(4, key);
	/* in memory only */
	REQUIRE(pgml_derived_open(NULL, key, &d, &err) == PGML_OK);
	CHECK_INT(pgml_derived_add_f32(d, "a", heap_floats(100, 1.0f), 100, &a, &err), PGML_OK);
	CHECK_INT(pgml_derived_commit(d, &err), PGML_OK);
	CHECK_INT(pgml_derived_heap_bytes(d), 400);
	CHECK(a[99] == 1.0f + 99 * 0.25f);
	pgml_derived_free(d);
	/* a directory that does not exist */
	tmp_path("missing/dir/x.pgmlw", path, sizeof(path));
	REQUIRE(pgml_derived_open(path, key, &d, &err) == PGML_OK);
	CHECK_INT(pgml_derived_add_f32(d, "a", heap_floats(100, 1.0f), 100, &a, &err), PGML_OK);
	CHECK_INT(pgml_derived_commit(d, &err), PGML_OK);
	CHECK_INT(pgml_derived_heap_bytes(d), 400);
	CHECK_INT(pgml_derived_mapped_bytes(d), 0);
	CHECK(a[99] == 1.0f + 99 * 0.25f);
	pgml_derived_free(d);
}

/* Arrays added as shared-only are kept when the file maps them, and dropped (slot NULL) otherwise. */
TEST(derived_shared_only_kept_only_when_mapped)
{
	uint8_t		key[32];
	pgml_derived *d;
	pgml_err	err;
	const float *a = NULL,
			   *s = NULL;
	char		path[256];

	key_of(5, key);
	/* in memory: the plain array stays on the heap, the shared-only one is freed */
	REQUIRE(pgml_derived_open(NULL, key, &d, &err) == PGML_OK);
	CHECK(!pgml_derived_has_file(d));
	CHECK_INT(pgml_derived_add_f32(d, "a", heap_floats(100, 1.0f), 100, &a, &err), PGML_OK);
	CHECK_INT(pgml_derived_add_f32_shared(d, "s", heap_floats(300, 2.0f), 300, &s, &err), PGML_OK);
	CHECK(s != NULL && s[299] == 2.0f + 299 * 0.25f);
	CHECK_INT(pgml_derived_commit(d, &err), PGML_OK);
	CHECK(s == NULL);
	CHECK(a != NULL && a[99] == 1.0f + 99 * 0.25f);
	CHECK_INT(pgml_derived_heap_bytes(d), 400);
	CHECK_INT(pgml_derived_mapped_bytes(d), 0);
	pgml_derived_free(d);
	/* a file that cannot be written: the same */
	tmp_path("missing/dir/s.pgmlw", path, sizeof(path));
	REQUIRE(pgml_derived_open(path, key, &d, &err) == PGML_OK);
	CHECK(pgml_derived_has_file(d));
	CHECK_INT(pgml_derived_add_f32_shared(d, "s", heap_floats(300, 2.0f), 300, &s, &err), PGML_OK);
	CHECK_INT(pgml_derived_add_f32(d, "a", heap_floats(100, 1.0f), 100, &a, &err), PGML_OK);
	CHECK_INT(pgml_derived_commit(d, &err), PGML_OK);
	CHECK(s == NULL && a != NULL);
	CHECK_INT(pgml_derived_heap_bytes(d), 400);
	pgml_derived_free(d);
	/* written: both mapped, and a later open finds both */
	tmp_path("shared.pgmlw", path, sizeof(path));
	unlink(path);
	REQUIRE(pgml_derived_open(path, key, &d, &err) == PGML_OK);
	CHECK_INT(pgml_derived_add_f32_shared(d, "s", heap_floats(300, 2.0f), 300, &s, &err), PGML_OK);
	CHECK_INT(pgml_derived_add_f32(d, "a", heap_floats(100, 1.0f), 100, &a, &err), PGML_OK);
	CHECK_INT(pgml_derived_commit(d, &err), PGML_OK);
	CHECK(s != NULL && s[299] == 2.0f + 299 * 0.25f && a != NULL);
	CHECK_INT(pgml_derived_heap_bytes(d), 0);
	CHECK_INT(pgml_derived_mapped_bytes(d), 1600);
	pgml_derived_free(d);
	REQUIRE(pgml_derived_open(path, key, &d, &err) == PGML_OK);
	CHECK(pgml_derived_reused(d));
	s = pgml_derived_get_f32(d, "s", 300);
	CHECK(s != NULL && s[0] == 2.0f && s[299] == 2.0f + 299 * 0.25f);
	CHECK(pgml_derived_get_f32(d, "s", 301) == NULL);
	pgml_derived_free(d);
}

/* ---------------------------------------------------------------------------------------------------
 * The encoder with a derived-weights directory
 * ------------------------------------------------------------------------------------------------- */

static bool
copy_file(const char *from, const char *to)
{
	FILE	   *in = fopen(from, "rb"),
			   *out = in ? fopen(to, "wb") : NULL;
	char		buf[65536];
	size_t		n;
	bool		ok = in != NULL && out != NULL;

	while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		ok = fwrite(buf, 1, n, out) == n;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		ok = false;
	return ok;
}

/* A copy of fixture model `name` in the scratch directory (so the test can write next to it). */
static bool
copy_model(const char *name, char *dir, size_t len)
{
	char		src[256],
				a[600],
				b[600];
	const char *files[] = {"config.json", "model.safetensors"};

	snprintf(src, sizeof(src), "tests/fixtures/models/%s", name);
	if (access(src, F_OK) != 0)
		snprintf(src, sizeof(src), "core/tests/fixtures/models/%s", name);
	tmp_path(name, dir, len);
	mkdir(dir, 0700);
	for (int i = 0; i < 2; i++)
	{
		snprintf(a, sizeof(a), "%s/%s", src, files[i]);
		snprintf(b, sizeof(b), "%s/%s", dir, files[i]);
		if (!copy_file(a, b))
			return false;
	}
	return true;
}

/*
 * Runs the encoder on a fixed batch: 2 × 6 tokens (one row padded), then 3 × 40 (120 rows: panels in
 * blocks of 16); the hidden states of both, one after the other (12 + 120 rows), or NULL.
 */
#define RUN_ROWS (12 + 120)

static float *
run(const char *dir, const char *dtype, const char *derived, pgml_encoder_info *info)
{
	pgml_encoder_opts opts = {.dtype = dtype, .derived_dir = derived};
	pgml_encoder *enc;
	pgml_err	err;
	int32_t		ids[2 * 6] = {1, 5, 9, 13, 17, 2, 1, 7, 11, 2, 0, 0},
				ids2[3 * 40];
	uint8_t		mask[2 * 6] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
				mask2[3 * 40];
	float	   *out;

	for (int i = 0; i < 3 * 40; i++)
	{
		ids2[i] = 5 + (i * 37) % 400;
		mask2[i] = 1;
	}
	if (pgml_encoder_load(dir, &opts, &enc, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "load %s: %s", dir, err.msg);
		return NULL;
	}
	*info = *pgml_encoder_get_info(enc);
	out = calloc(RUN_ROWS * info->hidden_size, sizeof(float));
	if (pgml_encoder_forward(enc, NULL, 2, 6, ids, mask, NULL, out, &err) != PGML_OK ||
		pgml_encoder_forward(enc, NULL, 3, 40, ids2, mask2, NULL, out + 12 * info->hidden_size, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "forward %s: %s", dir, err.msg);
		free(out);
		out = NULL;
	}
	pgml_encoder_free(enc);
	return out;
}

/* Largest |a - b| over n floats. */
static double
max_diff(const float *a, const float *b, size_t n)
{
	double		m = 0;

	for (size_t i = 0; i < n; i++)
		m = fabs((double) a[i] - b[i]) > m ? fabs((double) a[i] - b[i]) : m;
	return m;
}

/*
 * Loads a model without, then twice with its derived-weights file, then after touching the checkpoint.
 * int8: the outputs are bit-identical whether the quantized weights come from the heap or the file. f32:
 * with a file the linears also get panels (pgml/tensor.h), which both forwards here use (12 and 120
 * rows): the same sums in another order, so they match the heap run to float error, and each other exactly.
 */
static void
check_model(const char *name, const char *dtype, bool converts)
{
	char		dir[256],
				ddir[300],
				file[400];
	pgml_encoder_info plain,
				first,
				again,
				touched;
	float	   *want,
			   *a,
			   *b,
			   *c;
	struct timeval tv[2];
	bool		panels = strcmp(dtype, "float32") == 0;
	size_t		n;

	REQUIRE(copy_model(name, dir, sizeof(dir)));
	snprintf(ddir, sizeof(ddir), "%s/%s", dir, PGML_DERIVED_DIRNAME);
	snprintf(file, sizeof(file), "%s/encoder-%s.pgmlw", ddir, dtype);
	unlink(file);
	want = run(dir, dtype, NULL, &plain);
	a = run(dir, dtype, ddir, &first);
	b = run(dir, dtype, ddir, &again);
	REQUIRE(want != NULL && a != NULL && b != NULL);
	n = RUN_ROWS * plain.hidden_size;
	if (panels)
		CHECK(max_diff(want, a, n) < 2e-5);
	else
		CHECK(memcmp(want, a, n * sizeof(float)) == 0);
	CHECK(memcmp(a, b, n * sizeof(float)) == 0);
	/* without a file nothing is derived but conversions: no backend keeps a private copy of panels */
	CHECK(converts ? plain.derived_heap_bytes > 0 : plain.derived_heap_bytes == 0);
	CHECK_INT(plain.derived_mapped_bytes, 0);
	CHECK(!first.derived_reused && first.derived_heap_bytes == 0);
	CHECK(again.derived_reused && again.derived_heap_bytes == 0);
	CHECK_INT(again.derived_mapped_bytes, first.derived_mapped_bytes);
	CHECK(!plain.panels && first.panels == panels && again.panels == panels);
	if (panels)
		CHECK(first.derived_mapped_bytes > plain.derived_heap_bytes);
	else
		CHECK_INT(first.derived_mapped_bytes, plain.derived_heap_bytes);
	CHECK(access(file, F_OK) == 0);
	/* the checkpoint rewritten (a new modification time): the file is stale and rebuilt */
	snprintf(file, sizeof(file), "%s/model.safetensors", dir);
	gettimeofday(&tv[0], NULL);
	tv[1] = tv[0];
	tv[1].tv_sec += 10;
	CHECK(utimes(file, tv) == 0);
	c = run(dir, dtype, ddir, &touched);
	REQUIRE(c != NULL);
	CHECK(!touched.derived_reused);
	CHECK(memcmp(a, c, n * sizeof(float)) == 0);
	free(want);
	free(a);
	free(b);
	free(c);
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(path);
}

TEST(derived_encoder_outputs_identical)
{
	check_model("bert_f16", "float32", true);	/* f16 converted to f32 */
	check_model("bert_bf16", "float32", true);
	check_model("bert_f16", "int8", true);	/* quantized (and converted) */
	check_model("bert", "int8", true);
	check_model("nomic_bert", "int8", true);
	check_model("electra", "int8", true);	/* with the embedding projection */
	check_model("gte_new", "int8", true);
	check_model("bert", "float32", false);	/* f32: only panels (and Q, K, V's biases concatenated) */
	check_model("nomic_bert", "float32", false);
	check_model("electra", "float32", false);
	check_model("gte_new", "float32", false);
	check_model("roberta", "float32", false);
	check_model("distilbert", "float32", false);
	check_model("mpnet", "float32", false);
}

/* Last in the file (tests run in file order): removes the scratch directory. */
TEST(derived_zz_cleanup)
{
	if (tmp_root[0] != '\0')
		CHECK(nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

/* Temporary files left by a writer that died: removed on the next write once an hour old, not before. */
TEST(derived_stale_temporaries_removed)
{
	char		path[256],
				stale[300],
				fresh[300],
				other[300];
	uint8_t		key[32];
	pgml_derived *d;
	pgml_err	err;
	const float *a = NULL;
	struct timeval old[2];
	FILE	   *f;

	tmp_path("tmpclean.pgmlw", path, sizeof(path));
	snprintf(stale, sizeof(stale), "%s.tmp.999999.0", path);
	snprintf(fresh, sizeof(fresh), "%s.tmp.999999.1", path);
	tmp_path("unrelated.tmp.1.0", other, sizeof(other));
	unlink(path);
	for (int i = 0; i < 3; i++)
	{
		const char *p = i == 0 ? stale : i == 1 ? fresh : other;

		f = fopen(p, "w");
		REQUIRE(f != NULL);
		fputs("partial", f);
		fclose(f);
	}
	gettimeofday(&old[0], NULL);
	old[0].tv_sec -= 2 * 3600;
	old[1] = old[0];
	CHECK(utimes(stale, old) == 0);
	CHECK(utimes(other, old) == 0);
	key_of(5, key);
	REQUIRE(pgml_derived_open(path, key, &d, &err) == PGML_OK);
	CHECK_INT(pgml_derived_add_f32(d, "a", heap_floats(10, 1.0f), 10, &a, &err), PGML_OK);
	CHECK_INT(pgml_derived_commit(d, &err), PGML_OK);
	pgml_derived_free(d);
	CHECK(access(stale, F_OK) != 0);	/* an hour old: removed */
	CHECK(access(fresh, F_OK) == 0);	/* maybe still being written: kept */
	CHECK(access(other, F_OK) == 0);	/* another file's: not ours */
	CHECK(access(path, F_OK) == 0);
	unlink(fresh);
	unlink(other);
	unlink(path);
}
