/*
 * safetensors.c — .safetensors files (see pgml/safetensors.h).
 *
 * Format: an 8-byte little-endian header length n, n bytes of JSON (an object mapping tensor names to
 * {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional "__metadata__" object of strings),
 * then the data region; offsets are relative to the data region. Nothing in the header is trusted: every
 * number is bounds- and overflow-checked before a pointer into the mapping is formed.
 */
#include "pgml/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgml/json.h"
#include "pgml/sha256.h"

typedef struct st_file
{
	char	   *path;
	void	   *map;
	size_t		size;
	uint64_t	ident[5];		/* device, inode, size, mtime seconds and nanoseconds */
} st_file;

struct pgml_safetensors
{
	st_file    *files;
	size_t		n_files;
	pgml_st_tensor *tensors;	/* sorted by name */
	size_t		n_tensors;
	size_t		mapped;
};

static const struct
{
	const char *name;
	pgml_dtype	dt;
	size_t		size;
}			dtypes[] = {
	{"F32", PGML_DTYPE_F32, 4}, {"F16", PGML_DTYPE_F16, 2}, {"BF16", PGML_DTYPE_BF16, 2},
	{"F64", PGML_DTYPE_F64, 8}, {"I64", PGML_DTYPE_I64, 8}, {"I32", PGML_DTYPE_I32, 4},
	{"I16", PGML_DTYPE_I16, 2}, {"I8", PGML_DTYPE_I8, 1}, {"U8", PGML_DTYPE_U8, 1},
	{"BOOL", PGML_DTYPE_BOOL, 1}, {"F8_E4M3", PGML_DTYPE_F8_E4M3, 1}, {"F8_E5M2", PGML_DTYPE_F8_E5M2, 1},
	{"U16", PGML_DTYPE_U16, 2}, {"U32", PGML_DTYPE_U32, 4}, {"U64", PGML_DTYPE_U64, 8},
};

size_t
pgml_dtype_size(pgml_dtype dt)
{
	for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (dtypes[i].dt == dt)
			return dtypes[i].size;
	return 0;
}

const char *
pgml_dtype_name(pgml_dtype dt)
{
	for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (dtypes[i].dt == dt)
			return dtypes[i].name;
	return "?";
}

bool
pgml_dtype_parse(const char *name, pgml_dtype *out)
{
	for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (strcmp(dtypes[i].name, name) == 0)
		{
			*out = dtypes[i].dt;
			return true;
		}
	return false;
}

static int
cmp_tensor_name(const void *a, const void *b)
{
	return strcmp(((const pgml_st_tensor *) a)->name, ((const pgml_st_tensor *) b)->name);
}

typedef struct span
{
	size_t		begin;
	size_t		end;
	const char *name;
} span;

static int
cmp_span(const void *a, const void *b)
{
	const span *x = a,
			   *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* Reads a JSON integer >= 0 into *out; false for anything else. */
static bool
json_size(const json_t *v, size_t *out)
{
	json_int_t	i;

	if (!json_is_integer(v))
		return false;
	i = json_integer_value(v);
	if (i < 0 || (uint64_t) i > SIZE_MAX)
		return false;
	*out = (size_t) i;
	return true;
}

static pgml_status
corrupt(pgml_err *err, const char *path, const char *tensor, const char *fmt, const char *what)
{
	if (tensor != NULL)
		pgml_error(err, PGML_ERR_CORRUPT, "invalid safetensors file \"%s\": tensor \"%s\"", path, tensor);
	else
		pgml_error(err, PGML_ERR_CORRUPT, "invalid safetensors file \"%s\"", path);
	pgml_err_detail(err, fmt, what ? what : "");
	return PGML_ERR_CORRUPT;
}

/*
 * Parses and validates the header of the mapped file f, appending its tensors to the set's array (which
 * grows). Names are allocated.
 */
static pgml_status
parse_file(pgml_safetensors *st, const st_file *f, pgml_err *err)
{
	const uint8_t *p = f->map;
	uint64_t	hlen = 0;
	size_t		data_len;
	json_t	   *root = NULL;
	const char *key;
	json_t	   *val;
	span	   *spans = NULL;
	size_t		n_spans = 0,
				first = st->n_tensors;
	pgml_status rc = PGML_OK;

	if (f->size < 8)
		return corrupt(err, f->path, NULL, "The file has %s bytes; it must have at least 8.",
					   f->size == 0 ? "0" : "fewer than 8");
	for (int i = 7; i >= 0; i--)
		hlen = (hlen << 8) | p[i];
	if (hlen > PGML_ST_MAX_HEADER)
	{
		pgml_error(err, PGML_ERR_CORRUPT, "invalid safetensors file \"%s\"", f->path);
		pgml_err_detail(err, "The header length %llu is over the limit of %zu bytes.", (unsigned long long) hlen,
						PGML_ST_MAX_HEADER);
		return PGML_ERR_CORRUPT;
	}
	if (hlen > f->size - 8)
	{
		pgml_error(err, PGML_ERR_CORRUPT, "invalid safetensors file \"%s\"", f->path);
		pgml_err_detail(err, "The header length %llu goes past the end of the file (%zu bytes).",
						(unsigned long long) hlen, f->size);
		return PGML_ERR_CORRUPT;
	}
	data_len = f->size - 8 - (size_t) hlen;
	if (pgml_json_parse((const char *) p + 8, (size_t) hlen, f->path, &root, err) != PGML_OK)
	{
		pgml_error(err, PGML_ERR_CORRUPT, "invalid safetensors file \"%s\"", f->path);
		pgml_err_detail(err, "The header is not valid JSON.");
		return PGML_ERR_CORRUPT;
	}
	if (!json_is_object(root))
	{
		rc = corrupt(err, f->path, NULL, "The header is a JSON %s, not an object.", pgml_json_type_name(root));
		goto done;
	}
	spans = pgml_calloc(json_object_size(root) + 1, sizeof(span));
	{
		size_t		need = st->n_tensors + json_object_size(root);
		pgml_st_tensor *t = pgml_realloc(st->tensors, (need + 1) * sizeof(pgml_st_tensor));

		if (t == NULL || spans == NULL)
		{
			if (t != NULL)
				st->tensors = t;
			rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			goto done;
		}
		st->tensors = t;
	}
	json_object_foreach(root, key, val)
	{
		pgml_st_tensor *t;
		json_t	   *dt,
				   *shape,
				   *offs;
		size_t		begin,
					end,
					nbytes,
					idx;
		const char *k2;
		json_t	   *v2;

		if (strcmp(key, "__metadata__") == 0)
		{
			if (!json_is_object(val))
			{
				rc = corrupt(err, f->path, NULL, "\"__metadata__\" is not an object.", NULL);
				goto done;
			}
			json_object_foreach(val, k2, v2)
			{
				if (!json_is_string(v2))
				{
					rc = corrupt(err, f->path, NULL, "\"__metadata__\" value \"%s\" is not a string.", k2);
					goto done;
				}
			}
			continue;
		}
		if (!json_is_object(val))
		{
			rc = corrupt(err, f->path, key, "The entry is not an object.", NULL);
			goto done;
		}
		json_object_foreach(val, k2, v2)
		{
			if (strcmp(k2, "dtype") != 0 && strcmp(k2, "shape") != 0 && strcmp(k2, "data_offsets") != 0)
			{
				rc = corrupt(err, f->path, key, "Unknown field \"%s\".", k2);
				goto done;
			}
		}
		t = &st->tensors[st->n_tensors];
		memset(t, 0, sizeof(*t));
		dt = json_object_get(val, "dtype");
		shape = json_object_get(val, "shape");
		offs = json_object_get(val, "data_offsets");
		if (!json_is_string(dt))
		{
			rc = corrupt(err, f->path, key, "\"dtype\" is missing or not a string.", NULL);
			goto done;
		}
		if (!pgml_dtype_parse(json_string_value(dt), &t->dtype))
		{
			rc = corrupt(err, f->path, key, "Unknown dtype \"%s\".", json_string_value(dt));
			goto done;
		}
		t->dtype_name = pgml_dtype_name(t->dtype);
		if (!json_is_array(shape) || json_array_size(shape) > PGML_ST_MAX_DIMS)
		{
			rc = corrupt(err, f->path, key, "\"shape\" is missing, not an array, or has more than 8 dims.", NULL);
			goto done;
		}
		t->ndim = (int) json_array_size(shape);
		t->numel = 1;
		for (int d = 0; d < t->ndim; d++)
		{
			if (!json_size(json_array_get(shape, (size_t) d), &t->shape[d]))
			{
				rc = corrupt(err, f->path, key, "\"shape\" holds something other than a non-negative integer.",
							 NULL);
				goto done;
			}
			if (!pgml_mul_size(t->numel, t->shape[d], &t->numel))
			{
				rc = corrupt(err, f->path, key, "The shape's element count overflows.", NULL);
				goto done;
			}
		}
		if (!pgml_mul_size(t->numel, pgml_dtype_size(t->dtype), &nbytes))
		{
			rc = corrupt(err, f->path, key, "The shape's byte count overflows.", NULL);
			goto done;
		}
		if (!json_is_array(offs) || json_array_size(offs) != 2 ||
			!json_size(json_array_get(offs, 0), &begin) || !json_size(json_array_get(offs, 1), &end))
		{
			rc = corrupt(err, f->path, key, "\"data_offsets\" must be two non-negative integers.", NULL);
			goto done;
		}
		if (begin > end || end > data_len)
		{
			pgml_error(err, PGML_ERR_CORRUPT, "invalid safetensors file \"%s\": tensor \"%s\"", f->path, key);
			pgml_err_detail(err, "Its data_offsets [%zu, %zu] are not inside the data region of %zu bytes.",
							begin, end, data_len);
			rc = PGML_ERR_CORRUPT;
			goto done;
		}
		if (end - begin != nbytes)
		{
			pgml_error(err, PGML_ERR_CORRUPT, "invalid safetensors file \"%s\": tensor \"%s\"", f->path, key);
			pgml_err_detail(err, "Its data is %zu bytes; shape and dtype %s need %zu.", end - begin,
							t->dtype_name, nbytes);
			rc = PGML_ERR_CORRUPT;
			goto done;
		}
		t->name = pgml_strdup(key);
		if (t->name == NULL)
		{
			rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			goto done;
		}
		t->nbytes = nbytes;
		t->data = p + 8 + hlen + begin;
		t->file = f->path;
		st->n_tensors++;
		idx = n_spans++;
		spans[idx].begin = begin;
		spans[idx].end = end;
		spans[idx].name = t->name;
	}
	/* no two tensors may share bytes (empty tensors share nothing) */
	qsort(spans, n_spans, sizeof(span), cmp_span);
	{
		size_t		last_end = 0;
		const char *last = NULL;

		for (size_t i = 0; i < n_spans; i++)
		{
			if (spans[i].begin == spans[i].end)
				continue;
			if (last != NULL && spans[i].begin < last_end)
			{
				pgml_error(err, PGML_ERR_CORRUPT, "invalid safetensors file \"%s\": tensor \"%s\"", f->path,
						   spans[i].name);
				pgml_err_detail(err, "Its data overlaps that of tensor \"%s\".", last);
				rc = PGML_ERR_CORRUPT;
				goto done;
			}
			last_end = spans[i].end;
			last = spans[i].name;
		}
	}
done:
	if (rc != PGML_OK)
	{
		/* drop this file's tensors: the caller frees the set */
		for (size_t i = first; i < st->n_tensors; i++)
			pgml_free((void *) st->tensors[i].name);
		st->n_tensors = first;
	}
	pgml_free(spans);
	json_decref(root);
	return rc;
}

/* Maps path read-only as the set's next file. */
static pgml_status
map_file(pgml_safetensors *st, const char *path, pgml_err *err)
{
	int			fd;
	struct stat sb;
	st_file    *f;
	st_file    *files = pgml_realloc(st->files, (st->n_files + 1) * sizeof(st_file));

	if (files == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	st->files = files;
	f = &files[st->n_files];
	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
	{
		pgml_status code = errno == ENOENT ? PGML_ERR_NOT_FOUND : PGML_ERR_IO;

		return pgml_error(err, code, "could not open file \"%s\": %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
	{
		close(fd);
		return pgml_error(err, PGML_ERR_IO, "\"%s\" is not a regular file", path);
	}
	f->path = pgml_strdup(path);
	if (f->path == NULL)
	{
		close(fd);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	f->size = (size_t) sb.st_size;
	f->ident[0] = (uint64_t) sb.st_dev;
	f->ident[1] = (uint64_t) sb.st_ino;
	f->ident[2] = (uint64_t) sb.st_size;
	f->ident[3] = (uint64_t) sb.st_mtim.tv_sec;
	f->ident[4] = (uint64_t) sb.st_mtim.tv_nsec;
	if (f->size > 0)
	{
		f->map = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
		if (f->map == MAP_FAILED)
		{
			f->map = NULL;
			close(fd);
			pgml_free(f->path);
			return pgml_error(err, PGML_ERR_IO, "could not map file \"%s\": %s", path, strerror(errno));
		}
	}
	close(fd);
	st->n_files++;
	st->mapped += f->size;
	return parse_file(st, f, err);
}

void
pgml_safetensors_identity(const pgml_safetensors *st, pgml_sha256_ctx *ctx)
{
	for (size_t i = 0; i < st->n_files; i++)
		pgml_sha256_update(ctx, st->files[i].ident, sizeof(st->files[i].ident));
}

void
pgml_safetensors_close(pgml_safetensors *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_tensors; i++)
		pgml_free((void *) st->tensors[i].name);
	for (size_t i = 0; i < st->n_files; i++)
	{
		if (st->files[i].map != NULL)
			munmap(st->files[i].map, st->files[i].size);
		pgml_free(st->files[i].path);
	}
	pgml_free(st->files);
	pgml_free(st->tensors);
	pgml_free(st);
}

/* Sorts the set's tensors and rejects a name held twice (across shards). */
static pgml_status
finish(pgml_safetensors *st, pgml_err *err)
{
	if (st->n_tensors > 1)
		qsort(st->tensors, st->n_tensors, sizeof(pgml_st_tensor), cmp_tensor_name);
	for (size_t i = 1; i < st->n_tensors; i++)
		if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0)
		{
			pgml_error(err, PGML_ERR_CORRUPT, "tensor \"%s\" is in both \"%s\" and \"%s\"", st->tensors[i].name,
					   st->tensors[i - 1].file, st->tensors[i].file);
			return PGML_ERR_CORRUPT;
		}
	return PGML_OK;
}

pgml_status
pgml_safetensors_open(const char *path, pgml_safetensors **out, pgml_err *err)
{
	pgml_safetensors *st = pgml_calloc(1, sizeof(*st));
	pgml_status rc;

	*out = NULL;
	if (st == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	rc = map_file(st, path, err);
	if (rc == PGML_OK)
		rc = finish(st, err);
	if (rc != PGML_OK)
	{
		pgml_safetensors_close(st);
		return rc;
	}
	*out = st;
	return PGML_OK;
}

/* A shard name from an index: a plain file name in the model directory. */
static bool
valid_shard_name(const char *s)
{
	size_t		n = strlen(s);

	return n > 12 && n < 256 && strchr(s, '/') == NULL && strchr(s, '\\') == NULL && s[0] != '.' &&
		strcmp(s + n - 12, ".safetensors") == 0;
}

pgml_status
pgml_safetensors_open_dir(const char *dir, pgml_safetensors **out, pgml_err *err)
{
	char	   *path = pgml_asprintf("%s/model.safetensors", dir);
	char	   *ipath = pgml_asprintf("%s/model.safetensors.index.json", dir);
	pgml_safetensors *st = NULL;
	json_t	   *index = NULL,
			   *wm;
	const char *key;
	json_t	   *val;
	pgml_status rc;

	*out = NULL;
	if (path == NULL || ipath == NULL)
	{
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	if (access(path, F_OK) == 0)
	{
		rc = pgml_safetensors_open(path, out, err);
		goto done;
	}
	if (access(ipath, F_OK) != 0)
	{
		rc = pgml_error(err, PGML_ERR_NOT_FOUND, "model directory \"%s\" has no safetensors weights", dir);
		pgml_err_hint(err, "Expected model.safetensors or model.safetensors.index.json.");
		goto done;
	}
	rc = pgml_json_load_file(ipath, 64 * 1024 * 1024, &index, err);
	if (rc != PGML_OK)
		goto done;
	wm = json_object_get(index, "weight_map");
	if (!json_is_object(index) || !json_is_object(wm) || json_object_size(wm) == 0)
	{
		rc = pgml_error(err, PGML_ERR_CORRUPT, "invalid safetensors index \"%s\"", ipath);
		pgml_err_detail(err, "It needs a non-empty \"weight_map\" object.");
		goto done;
	}
	st = pgml_calloc(1, sizeof(*st));
	if (st == NULL)
	{
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	/* map every distinct shard once */
	json_object_foreach(wm, key, val)
	{
		bool		seen = false;
		char	   *spath;

		if (!json_is_string(val) || !valid_shard_name(json_string_value(val)))
		{
			rc = pgml_error(err, PGML_ERR_CORRUPT, "invalid safetensors index \"%s\"", ipath);
			pgml_err_detail(err, "Tensor \"%s\" names an invalid shard file.", key);
			goto done;
		}
		spath = pgml_asprintf("%s/%s", dir, json_string_value(val));
		if (spath == NULL)
		{
			rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < st->n_files && !seen; i++)
			seen = strcmp(st->files[i].path, spath) == 0;
		if (!seen)
			rc = map_file(st, spath, err);
		pgml_free(spath);
		if (rc != PGML_OK)
			goto done;
	}
	rc = finish(st, err);
	if (rc != PGML_OK)
		goto done;
	/* every tensor of the map must be in the shard it names */
	json_object_foreach(wm, key, val)
	{
		const pgml_st_tensor *t = pgml_safetensors_find(st, key);
		const char *f = t ? strrchr(t->file, '/') : NULL;

		if (t == NULL || f == NULL || strcmp(f + 1, json_string_value(val)) != 0)
		{
			rc = pgml_error(err, PGML_ERR_CORRUPT, "tensor \"%s\" is not in shard \"%s\"", key,
							json_string_value(val));
			pgml_err_detail(err, "The index is \"%s\".", ipath);
			goto done;
		}
	}
	*out = st;
	st = NULL;
done:
	pgml_safetensors_close(st);
	json_decref(index);
	pgml_free(path);
	pgml_free(ipath);
	return rc;
}

size_t
pgml_safetensors_count(const pgml_safetensors *st)
{
	return st->n_tensors;
}

const pgml_st_tensor *
pgml_safetensors_at(const pgml_safetensors *st, size_t i)
{
	return i < st->n_tensors ? &st->tensors[i] : NULL;
}

size_t
pgml_safetensors_mapped_bytes(const pgml_safetensors *st)
{
	return st->mapped;
}

const pgml_st_tensor *
pgml_safetensors_find(const pgml_safetensors *st, const char *name)
{
	size_t		lo = 0,
				hi = st->n_tensors;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		int			c = strcmp(st->tensors[mid].name, name);

		if (c == 0)
			return &st->tensors[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

pgml_status
pgml_safetensors_get(const pgml_safetensors *st, const char *name, int ndim, const size_t *shape,
					 const pgml_st_tensor **out, pgml_err *err)
{
	const pgml_st_tensor *t = pgml_safetensors_find(st, name);

	*out = NULL;
	if (t == NULL)
	{
		pgml_error(err, PGML_ERR_CORRUPT, "tensor \"%s\" is missing from the checkpoint", name);
		if (st->n_files > 0)
			pgml_err_detail(err, "Looked in \"%s\"%s.", st->files[0].path, st->n_files > 1 ? " and its other shards" : "");
		return PGML_ERR_CORRUPT;
	}
	if (t->dtype != PGML_DTYPE_F32 && t->dtype != PGML_DTYPE_F16 && t->dtype != PGML_DTYPE_BF16)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "tensor \"%s\" has dtype %s, which is not supported", name,
				   t->dtype_name);
		pgml_err_hint(err, "Supported weight dtypes are F32, F16 and BF16.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if (ndim >= 0)
	{
		bool		ok = t->ndim == ndim;

		for (int d = 0; ok && d < ndim; d++)
			ok = t->shape[d] == shape[d];
		if (!ok)
		{
			char		got[128] = "",
						want[128] = "";
			size_t		g = 0,
						w = 0;

			for (int d = 0; d < t->ndim && g < sizeof(got) - 24; d++)
				g += (size_t) snprintf(got + g, sizeof(got) - g, "%s%zu", d ? ", " : "", t->shape[d]);
			for (int d = 0; d < ndim && w < sizeof(want) - 24; d++)
				w += (size_t) snprintf(want + w, sizeof(want) - w, "%s%zu", d ? ", " : "", shape[d]);
			pgml_error(err, PGML_ERR_CORRUPT, "tensor \"%s\" has shape [%s], expected [%s]", name, got, want);
			pgml_err_detail(err, "The file is \"%s\"; the shape follows from config.json.", t->file);
			return PGML_ERR_CORRUPT;
		}
	}
	*out = t;
	return PGML_OK;
}
