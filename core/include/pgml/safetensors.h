/*
 * safetensors.h — read-only access to .safetensors checkpoints (single files and sharded sets).
 *
 * A file is mmap'd read-only and shared (MAP_SHARED), so every process that opens the same checkpoint
 * shares its pages through the page cache. Every header field is validated when the file is opened: the
 * header length, the JSON, each tensor's dtype, shape and data offsets (inside the data region, matching
 * the shape, not overlapping). Failures are PGML_ERR_CORRUPT with a message naming the file and tensor.
 *
 * Tensors of any dtype the format defines may be present; only F32, F16 and BF16 can be fetched with
 * pgml_safetensors_get (others are PGML_ERR_NOT_SUPPORTED naming the dtype).
 */
#ifndef PGML_SAFETENSORS_H
#define PGML_SAFETENSORS_H

#include "pgml/pgml.h"
#include "pgml/sha256.h"
#include "pgml/tensor.h"

#define PGML_ST_MAX_DIMS 8
#define PGML_ST_MAX_HEADER ((size_t) 100 * 1024 * 1024)

typedef struct pgml_st_tensor
{
	const char *name;
	pgml_dtype	dtype;
	const char *dtype_name;		/* as written in the header ("F32", "I64", ...) */
	int			ndim;
	size_t		shape[PGML_ST_MAX_DIMS];
	size_t		numel;
	size_t		nbytes;
	const void *data;			/* into the read-only mapping; may be unaligned */
	const char *file;			/* the file that holds it (for messages) */
} pgml_st_tensor;

typedef struct pgml_safetensors pgml_safetensors;

/* Opens one .safetensors file. */
pgml_status pgml_safetensors_open(const char *path, pgml_safetensors **out, pgml_err *err);

/*
 * Opens the checkpoint of a model directory: model.safetensors, or model.safetensors.index.json and the
 * shards its weight_map names (which must lie in dir). PGML_ERR_NOT_FOUND when neither exists.
 */
pgml_status pgml_safetensors_open_dir(const char *dir, pgml_safetensors **out, pgml_err *err);

void		pgml_safetensors_close(pgml_safetensors *st);	/* NULL is fine */

size_t		pgml_safetensors_count(const pgml_safetensors *st);
const pgml_st_tensor *pgml_safetensors_at(const pgml_safetensors *st, size_t i);	/* sorted by name */
size_t		pgml_safetensors_mapped_bytes(const pgml_safetensors *st);

/*
 * Feeds the identity of the set's files (device, inode, size, modification time of each, in order) to a
 * digest: what a cache of weights derived from them is keyed on. A checkpoint rewritten in place gets a
 * new modification time; a Hugging Face cache names its blobs by content, so a new revision is a new inode.
 */
void		pgml_safetensors_identity(const pgml_safetensors *st, pgml_sha256_ctx *ctx);

/* The tensor called name, or NULL. */
const pgml_st_tensor *pgml_safetensors_find(const pgml_safetensors *st, const char *name);

/*
 * The tensor called name with a float dtype (F32, F16, BF16). Missing: PGML_ERR_CORRUPT naming it; another
 * dtype: PGML_ERR_NOT_SUPPORTED. When ndim >= 0, the shape must be ndim dims equal to shape[] (CORRUPT).
 */
pgml_status pgml_safetensors_get(const pgml_safetensors *st, const char *name, int ndim, const size_t *shape,
								 const pgml_st_tensor **out, pgml_err *err);

#endif							/* PGML_SAFETENSORS_H */
