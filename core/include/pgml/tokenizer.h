/*
 * tokenizer.h — Hugging Face tokenizer.json pipelines in C.
 *
 * A tokenizer is loaded once from a tokenizer.json (normalizer, pre-tokenizer, model, post-processor,
 * decoder, added tokens, truncation, padding) and is then immutable: encode and decode may be called
 * from any number of threads at once on the same tokenizer.
 *
 * Text is UTF-8. Invalid UTF-8 is an error (PGML_ERR_DATA, SQLSTATE 22021), never a crash.
 * Offsets are byte offsets into the input text [begin, end), as the Rust tokenizers library gives them;
 * special tokens added by the post-processor have offsets (0, 0).
 */
#ifndef PGML_TOKENIZER_H
#define PGML_TOKENIZER_H

#include "pgml/pgml.h"

typedef struct pgml_tokenizer pgml_tokenizer;

/* One encoded input (or pair of inputs), after post-processing, truncation and padding. */
typedef struct pgml_encoding
{
	size_t		n;				/* number of tokens */
	int32_t    *ids;
	int32_t    *type_ids;		/* segment ids (0 for the first sequence, 1 for the pair) */
	uint8_t    *attention_mask; /* 1 for a real token, 0 for padding */
	uint8_t    *special_mask;	/* 1 for a token the post-processor added, or padding */
	uint32_t   *offsets;		/* 2 * n: byte begin, byte end of each token in its input */
	int8_t	   *sequence_ids;	/* per token: 0, 1, or -1 for special tokens and padding */
} pgml_encoding;

typedef struct pgml_encode_opts
{
	bool		add_special_tokens; /* apply the post-processor (default true) */
	size_t		max_length;		/* truncate to this many tokens, specials included; 0 = tokenizer.json's */
	bool		truncate;		/* false: never truncate, even when tokenizer.json says so */
	size_t		pad_to;			/* pad to this many tokens (0 = no padding beyond tokenizer.json's) */
	bool		pad;			/* false: ignore tokenizer.json's padding (the caller pads a batch itself) */
} pgml_encode_opts;

/* Defaults: add_special_tokens true, pad true, truncation and padding as tokenizer.json says. */
void		pgml_encode_opts_init(pgml_encode_opts *opts);

/* Loads tokenizer.json from a file or from memory. Unsupported components are PGML_ERR_NOT_SUPPORTED. */
pgml_status pgml_tokenizer_load_file(const char *path, pgml_tokenizer **out, pgml_err *err);
pgml_status pgml_tokenizer_load_json(const char *json, size_t len, pgml_tokenizer **out, pgml_err *err);
void		pgml_tokenizer_free(pgml_tokenizer *tok);	/* NULL is fine */

/* Encodes text (and an optional pair; pair NULL for none). out must be freed with pgml_encoding_free. */
pgml_status pgml_tokenizer_encode(const pgml_tokenizer *tok, const char *text, size_t len,
								  const char *pair, size_t pair_len, const pgml_encode_opts *opts,
								  pgml_encoding *out, pgml_err *err);
void		pgml_encoding_free(pgml_encoding *enc);	/* frees the arrays; the struct may be reused */

/* Decodes ids to UTF-8 text (pgml_free the result). skip_special drops special tokens. */
pgml_status pgml_tokenizer_decode(const pgml_tokenizer *tok, const int32_t *ids, size_t n, bool skip_special,
								  char **out, pgml_err *err);

/* Vocabulary: size (added tokens included), id of a token string (-1 if none), token string of an id. */
size_t		pgml_tokenizer_vocab_size(const pgml_tokenizer *tok);
int32_t		pgml_tokenizer_token_to_id(const pgml_tokenizer *tok, const char *token);
const char *pgml_tokenizer_id_to_token(const pgml_tokenizer *tok, int32_t id);

/* The id padding uses (tokenizer.json's padding.pad_id, else the [PAD]/<pad> token, else 0). */
int32_t		pgml_tokenizer_pad_id(const pgml_tokenizer *tok);

#endif							/* PGML_TOKENIZER_H */
