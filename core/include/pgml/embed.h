/*
 * embed.h — sentence embeddings the way sentence-transformers computes them.
 *
 * An embedder is a model directory read as SentenceTransformer(dir) reads it: modules.json (Transformer,
 * Pooling, Normalize; without it: Transformer + mean pooling), 1_Pooling/config.json (cls, mean, max,
 * mean_sqrt_len, weightedmean, lasttoken; include_prompt), sentence_bert_config.json (max_seq_length,
 * do_lower_case), config_sentence_transformers.json (prompts, default_prompt_name), tokenizer.json and
 * the encoder (transformer.h). Loaded once, immutable, usable from several threads.
 *
 * pgml_embedder_embed follows SentenceTransformer.encode: the prompt is prepended to each text, texts are
 * sorted by length (longest first) and encoded in batches of batch_size, each padded to its longest
 * member and truncated at max_seq_length; pooling, then the model's Normalize module, then truncate_dim,
 * then normalize_embeddings. Results come back in input order.
 */
#ifndef PGML_EMBED_H
#define PGML_EMBED_H

#include "pgml/pgml.h"
#include "pgml/pool.h"
#include "pgml/transformer.h"

typedef struct pgml_embedder pgml_embedder;

typedef struct pgml_embedder_info
{
	size_t		dim;			/* embedding size before truncate_dim */
	size_t		max_seq_length; /* tokens per input, special tokens included */
	char		pooling[96];	/* "mean", "cls", "max", "lasttoken", ... ("+" joins several) */
	bool		normalize;		/* the model ends with a Normalize module */
	bool		lower_case;		/* sentence_bert_config.json do_lower_case */
	const char *default_prompt; /* config_sentence_transformers.json's default prompt, or NULL */
	const pgml_encoder_info *encoder;
} pgml_embedder_info;

typedef struct pgml_embed_opts
{
	const char *prompt;			/* prepended to every text (NULL: the model's default prompt, if any) */
	const char *prompt_name;	/* a key of the model's prompts (used when prompt is NULL) */
	bool		normalize;		/* normalize_embeddings: L2-normalize the final vectors */
	size_t		truncate_dim;	/* keep the first truncate_dim dimensions (0 = all) */
	size_t		batch_size;		/* texts per forward pass (0 = 32) */
} pgml_embed_opts;

void		pgml_embed_opts_init(pgml_embed_opts *opts);

/*
 * The files of a model repository an embedder may read, for the hub (pgml_hub_resolve); '?' marks the
 * optional ones. After modules.json is present, pgml_embedder_module_files lists further files it names.
 */
extern const char *const pgml_embedder_files[];
extern const size_t pgml_embedder_n_files;
pgml_status pgml_embedder_module_files(const char *dir, char ***files, size_t *n, pgml_err *err);
void		pgml_embedder_free_files(char **files, size_t n);

pgml_status pgml_embedder_load(const char *dir, const pgml_encoder_opts *opts, pgml_embedder **out,
							   pgml_err *err);
void		pgml_embedder_free(pgml_embedder *e);	/* NULL is fine */
const pgml_embedder_info *pgml_embedder_get_info(const pgml_embedder *e);

/* The embedding size these options give (truncate_dim applied), or an error for a bad truncate_dim. */
pgml_status pgml_embedder_out_dim(const pgml_embedder *e, const pgml_embed_opts *opts, size_t *dim,
								  pgml_err *err);

/*
 * Embeds n texts (UTF-8, lens[i] bytes each) into out (n * out_dim floats, row i for texts[i]), where
 * out_dim is what pgml_embedder_out_dim gives.
 */
pgml_status pgml_embedder_embed(const pgml_embedder *e, pgml_pool *pool, const char *const *texts,
								const size_t *lens, size_t n, const pgml_embed_opts *opts, float *out,
								pgml_err *err);

#endif							/* PGML_EMBED_H */
