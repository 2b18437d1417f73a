/*
 * transformer.h — transformer encoders loaded from a Hugging Face model directory.
 *
 * A directory holds config.json and model.safetensors (or model.safetensors.index.json with its shards).
 * config.json's model_type picks the architecture (bert, roberta, xlm-roberta, distilbert, mpnet, electra,
 * nomic_bert, ...); an unknown one is PGML_ERR_NOT_SUPPORTED naming it. Weights are mmap'd read-only and
 * shared by every process that maps the same file; f16/bf16 weights are converted or used directly.
 *
 * A loaded encoder is immutable: forward may run on several threads at once (each call has its own
 * scratch memory), and uses the pool given to it for its own parallelism.
 */
#ifndef PGML_TRANSFORMER_H
#define PGML_TRANSFORMER_H

#include "pgml/pgml.h"
#include "pgml/pool.h"

typedef struct pgml_encoder pgml_encoder;

typedef struct pgml_encoder_opts
{
	const char *dtype;			/* NULL or "float32": f32 compute; "int8": int8 weights (quantized at load) */

	/*
	 * Where weights converted at load (f16/bf16 to f32, int8 quantization) are written once and then
	 * memory-mapped by every load (pgml/derived.h): created if missing (one level). NULL, or a directory
	 * that cannot be written: each load keeps its own heap copy.
	 */
	const char *derived_dir;
} pgml_encoder_opts;

typedef struct pgml_encoder_info
{
	const char *model_type;		/* config.json's model_type */
	size_t		hidden_size;
	size_t		num_layers;
	size_t		num_heads;
	size_t		vocab_size;
	size_t		max_positions;	/* the longest input the position embeddings allow (0 = unlimited) */
	size_t		type_vocab_size;	/* 0 when the model takes no token_type_ids */
	size_t		weight_bytes;	/* bytes of weights mapped */
	size_t		derived_heap_bytes;	/* converted weights held on this process's heap */
	size_t		derived_mapped_bytes;	/* converted weights mapped from the derived-weights file */
	bool		derived_reused; /* the derived-weights file existed and was used as it was */
	bool		panels;			/* f32 linears also as panels, for few rows (in the derived file) */
} pgml_encoder_info;

pgml_status pgml_encoder_load(const char *dir, const pgml_encoder_opts *opts, pgml_encoder **out,
							  pgml_err *err);
void		pgml_encoder_free(pgml_encoder *enc);	/* NULL is fine */
const pgml_encoder_info *pgml_encoder_get_info(const pgml_encoder *enc);

/*
 * Runs the encoder on a batch of `batch` sequences of `seq` tokens each (row-major, padded):
 * ids and attention_mask (1 real, 0 padding) are batch * seq; type_ids may be NULL (all zero).
 * Writes the last hidden state, batch * seq * hidden_size floats, to hidden.
 * Ids outside the vocabulary and seq beyond max_positions are PGML_ERR_INVALID_ARGUMENT.
 */
pgml_status pgml_encoder_forward(const pgml_encoder *enc, pgml_pool *pool, size_t batch, size_t seq,
								 const int32_t *ids, const uint8_t *attention_mask, const int32_t *type_ids,
								 float *hidden, pgml_err *err);

#endif							/* PGML_TRANSFORMER_H */
