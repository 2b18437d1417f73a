
-- ---------------------------------------------------------------------------------------------------
-- Transformers: pgml.embed (sentence embeddings), the per-backend model cache
-- ---------------------------------------------------------------------------------------------------

CREATE FUNCTION pgml.embed(transformer TEXT, "text" TEXT, kwargs JSONB DEFAULT '{}')
RETURNS REAL[]
AS 'MODULE_PATHNAME', 'pgml_embed_text'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pgml.embed(transformer TEXT, inputs TEXT[], kwargs JSONB DEFAULT '{}')
RETURNS SETOF REAL[]
AS 'MODULE_PATHNAME', 'pgml_embed_batch'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgml.embed(TEXT, TEXT, JSONB) IS
	'Embeds a text with a sentence-transformers model (Hugging Face id or a directory under pgml.model_dirs)';
COMMENT ON FUNCTION pgml.embed(TEXT, TEXT[], JSONB) IS
	'Embeds each input (one row per input, in order; NULL for a NULL input)';

-- pgml.clear_model_cache() (10_pgml.sql) also drops the transformer models a backend has loaded.
