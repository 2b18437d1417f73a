/*
 * pipeline.c — the file a trained model is stored as: its preprocessor and its model together.
 *
 *   "PGMLPIPE"  magic, 8 bytes
 *   u32         format version (PGML_PIPELINE_FORMAT)
 *   u64, bytes  the preprocessor (preprocess.c's save)
 *   u64, bytes  the model file (model.c's save, itself checksummed)
 *   32 bytes    SHA-256 of everything before it
 */
#include "pgml/preprocess.h"

#include <string.h>

#include "pgml/learn.h"
#include "pgml/sha256.h"

pgml_status
pgml_pipeline_save(const pgml_preprocessor *pp, const pgml_model *model, pgml_buf *out, pgml_err *err)
{
	pgml_buf	part;
	size_t		start = out->len;
	uint8_t		digest[32];
	pgml_status rc;

	pgml_buf_put(out, PGML_PIPELINE_MAGIC, 8);
	pgml_buf_put_u32(out, PGML_PIPELINE_FORMAT);

	pgml_buf_init(&part);
	pgml_preprocessor_save(pp, &part);
	if ((rc = pgml_buf_status(&part, err)) != PGML_OK)
	{
		pgml_buf_free(&part);
		return rc;
	}
	pgml_buf_put_u64(out, part.len);
	pgml_buf_put(out, part.data, part.len);
	pgml_buf_free(&part);

	pgml_buf_init(&part);
	if ((rc = pgml_model_save(model, &part, err)) != PGML_OK)
	{
		pgml_buf_free(&part);
		return rc;
	}
	pgml_buf_put_u64(out, part.len);
	pgml_buf_put(out, part.data, part.len);
	pgml_buf_free(&part);

	if ((rc = pgml_buf_status(out, err)) != PGML_OK)
		return rc;
	pgml_sha256(out->data + start, out->len - start, digest);
	pgml_buf_put(out, digest, sizeof(digest));
	return pgml_buf_status(out, err);
}

pgml_status
pgml_pipeline_load(const void *data, size_t len, pgml_preprocessor **pp, pgml_model **model, pgml_err *err)
{
	pgml_reader r;
	pgml_reader sub;
	char		magic[8];
	uint32_t	format;
	uint64_t	n;
	uint8_t		digest[32];
	pgml_status rc;

	*pp = NULL;
	*model = NULL;
	pgml_reader_init(&r, data, len, "model file", err);
	pgml_reader_get(&r, magic, 8);
	if (r.failed || memcmp(magic, PGML_PIPELINE_MAGIC, 8) != 0)
		return pgml_reader_fail(&r, "It does not start with the pgml model signature");
	if (len < 8 + 4 + 32)
		return pgml_reader_fail(&r, "It is too short");
	pgml_sha256(data, len - 32, digest);
	if (memcmp(digest, (const uint8_t *) data + len - 32, 32) != 0)
		return pgml_reader_fail(&r, "Its checksum does not match its contents");
	r.len = len - 32;

	format = pgml_reader_u32(&r);
	if (!r.failed && (format == 0 || format > PGML_PIPELINE_FORMAT))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "model file format %u is not supported", format);
		pgml_err_detail(err, "This build reads formats 1 to %d.", PGML_PIPELINE_FORMAT);
		pgml_err_hint(err, "The model was saved by a newer pgml; upgrade the extension or retrain.");
		return PGML_ERR_NOT_SUPPORTED;
	}

	n = pgml_reader_u64(&r);
	if (r.failed || n > pgml_reader_remaining(&r))
		return pgml_reader_fail(&r, "The preprocessor section is longer than the data");
	pgml_reader_init(&sub, r.data + r.pos, (size_t) n, "model file", err);
	if ((rc = pgml_preprocessor_load(&sub, pp, err)) != PGML_OK)
		return rc;
	if (pgml_reader_remaining(&sub) != 0)
	{
		pgml_preprocessor_free(*pp);
		*pp = NULL;
		return pgml_reader_fail(&sub, "Unexpected bytes after the preprocessor");
	}
	r.pos += (size_t) n;

	n = pgml_reader_u64(&r);
	if (r.failed || n != pgml_reader_remaining(&r))
	{
		pgml_preprocessor_free(*pp);
		*pp = NULL;
		return pgml_reader_fail(&r, "The model section does not fill the rest of the file");
	}
	if ((rc = pgml_model_load(r.data + r.pos, (size_t) n, model, err)) != PGML_OK)
	{
		pgml_preprocessor_free(*pp);
		*pp = NULL;
		return rc;
	}
	if (pgml_model_n_features(*model) != pgml_preprocessor_n_features(*pp))
	{
		pgml_model_free(*model);
		pgml_preprocessor_free(*pp);
		*model = NULL;
		*pp = NULL;
		return pgml_reader_fail(&r, "The model's feature count does not match its preprocessor");
	}
	return PGML_OK;
}
