/*
 * tok_internal.h — shared pieces of the tokenizer.json pipeline (core/src/text), not public API.
 *
 * The pipeline follows the Hugging Face tokenizers library:
 *   added tokens split the raw text → normalizer → (normalized added tokens) → pre-tokenizer → model
 *   → truncation → post-processor → padding.
 * Text under normalization is a tk_str: bytes plus, for every byte, the original byte range [begin, end)
 * it came from, so every token gets offsets into the caller's text. All per-call memory comes from one
 * arena (tk_ctx.arena) that dies with the call; loaded components are immutable and shared by threads.
 */
#ifndef PGML_TEXT_TOK_INTERNAL_H
#define PGML_TEXT_TOK_INTERNAL_H

#include "pgml/arena.h"
#include "pgml/json.h"
#include "pgml/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Limits that keep a hostile tokenizer.json from asking for absurd memory. */
#define TK_MAX_ID		  (1 << 24)	/* ids are in [0, TK_MAX_ID) */
#define TK_MAX_TOKEN_LEN  4096		/* bytes in one vocabulary entry */

/* ---------------------------------------------------------------------------------------------------
 * Per-call context and strings with alignments
 * ------------------------------------------------------------------------------------------------- */

typedef struct tk_ctx
{
	pgml_arena *arena;
	pgml_err   *err;
	pcre2_match_data *md;		/* per call: PCRE2 match data is not shareable between threads */
} tk_ctx;

typedef struct tk_str
{
	char	   *s;				/* bytes (not NUL-terminated) */
	uint32_t   *al;				/* 2 * len: original [begin, end) of each byte */
	size_t		len;
} tk_str;

/* A growing tk_str in the arena. */
typedef struct tk_sb
{
	pgml_arena *a;
	char	   *s;
	uint32_t   *al;
	size_t		len;
	size_t		cap;
	bool		oom;
} tk_sb;

void		tk_sb_init(tk_sb *sb, pgml_arena *a, size_t cap);
void		tk_sb_put(tk_sb *sb, const char *bytes, size_t n, uint32_t begin, uint32_t end);
void		tk_sb_put_cp(tk_sb *sb, int32_t cp, uint32_t begin, uint32_t end);
pgml_status tk_sb_done(tk_sb *sb, tk_ctx *c, tk_str *out);

typedef struct tk_splits
{
	tk_str	   *v;
	size_t		n;
	size_t		cap;
} tk_splits;

pgml_status tk_splits_push(tk_ctx *c, tk_splits *sp, tk_str s);

/* A token before post-processing: id and original byte offsets. */
typedef struct tk_tok
{
	int32_t		id;
	uint32_t	b;
	uint32_t	e;
} tk_tok;

typedef struct tk_toks
{
	tk_tok	   *v;
	size_t		n;
	size_t		cap;
} tk_toks;

pgml_status tk_toks_push(tk_ctx *c, tk_toks *t, int32_t id, uint32_t b, uint32_t e);

/* The original range of bytes [b, e) of a normalized string (e > b). */
static inline void
tk_orig_range(const tk_str *s, size_t b, size_t e, uint32_t *ob, uint32_t *oe)
{
	*ob = s->al[2 * b];
	*oe = s->al[2 * (e - 1) + 1];
}

pgml_status tk_oom(tk_ctx *c);
void	   *tk_alloc(tk_ctx *c, size_t size);

/* ---------------------------------------------------------------------------------------------------
 * UTF-8 and Unicode helpers (tk_util.c)
 * ------------------------------------------------------------------------------------------------- */

/* Decodes one code point at s[0..n) (n >= 1) of valid UTF-8; returns its length. */
int			tk_utf8_decode(const char *s, size_t n, int32_t *cp);
int			tk_utf8_encode(int32_t cp, char *out);
static inline int
tk_utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}
/* Index of the first invalid byte, or (size_t) -1 when s is valid UTF-8. */
size_t		tk_utf8_invalid(const char *s, size_t n);

bool		tk_is_whitespace(int32_t cp);	/* Rust char::is_whitespace */
bool		tk_is_punctuation(int32_t cp);	/* ASCII punctuation, or P* in the Rust library's tables */
bool		tk_is_numeric(int32_t cp);	/* N* */
bool		tk_is_alnum(int32_t cp);	/* L*, N*, marks (Rust is_alphanumeric, approximately) */
bool		tk_is_chinese(int32_t cp);

/* unicode_compat.c: the Rust library's own (older) tables, for BertNormalizer and punctuation */
bool		tk_compat_bert_mark(int32_t cp);
bool		tk_compat_bert_removed(int32_t cp);
bool		tk_compat_bert_space(int32_t cp);
bool		tk_compat_punct(int32_t cp);
bool		tk_compat_combining(int32_t cp);

/* A string → int32 map for vocabularies (open addressing; keys are copied into a pool). */
typedef struct tk_vocab
{
	char	   *pool;
	size_t		pool_len;
	size_t		pool_cap;
	uint32_t   *slots;			/* index into entries + 1, 0 = empty */
	size_t		nslots;			/* power of two */
	struct tk_vent
	{
		uint64_t	off;
		uint32_t	len;
		int32_t		val;
		uint64_t	hash;
	}		   *ents;
	size_t		n;
	size_t		cap;
} tk_vocab;

typedef struct tk_vent tk_vent;

uint64_t	tk_hash(const char *s, size_t n);
void		tk_vocab_free(tk_vocab *v);
/* Adds key → val. An existing key keeps its first value when dup is NULL; else it takes val (the
 * last one wins, as in a Unigram vocabulary) and *dup is set true. */
pgml_status tk_vocab_put(tk_vocab *v, const char *key, size_t n, int32_t val, bool *dup, pgml_err *err);
/* The stored copy of key (NUL-terminated), or NULL. */
const char *tk_vocab_key(const tk_vocab *v, const char *key, size_t n);
/* -1 when absent. */
int32_t		tk_vocab_get(const tk_vocab *v, const char *key, size_t n);

/* id → token string table */
typedef struct tk_idtab
{
	char	  **s;				/* NUL-terminated strings (pgml_malloc'd), NULL where no token */
	uint32_t   *len;
	size_t		n;				/* max id + 1 */
} tk_idtab;

/* ---------------------------------------------------------------------------------------------------
 * Regex (PCRE2) and patterns
 * ------------------------------------------------------------------------------------------------- */

typedef struct tk_pattern
{
	char	   *str;			/* a literal string pattern, or NULL */
	size_t		str_len;
	pcre2_code *re;				/* a compiled regex, or NULL */
} tk_pattern;

pgml_status tk_pattern_load(const json_t *pat, const char *what, tk_pattern *out, pgml_err *err);
pgml_status tk_regex_compile(const char *re, const char *what, pcre2_code **out, pgml_err *err);
void		tk_pattern_free(tk_pattern *p);

/* Finds all non-overlapping, non-empty matches in s[0..n): pairs of byte offsets in *m (arena). */
pgml_status tk_pattern_find(const tk_pattern *p, tk_ctx *c, const char *s, size_t n, uint32_t **m,
							size_t *nm);

extern pcre2_general_context *tk_pcre2_gctx(void);

/* JSON helpers: errors name the component. */
pgml_status tk_json_type(const json_t *j, const char *what, const char **type, pgml_err *err);
pgml_status tk_get_str(const json_t *o, const char *key, const char *def, const char **out, pgml_err *err);
pgml_status tk_get_bool(const json_t *o, const char *key, bool def, bool *out, pgml_err *err);

/* ---------------------------------------------------------------------------------------------------
 * Components
 * ------------------------------------------------------------------------------------------------- */

typedef enum tk_behavior
{
	TK_REMOVED, TK_ISOLATED, TK_MERGED_PREV, TK_MERGED_NEXT, TK_CONTIGUOUS
} tk_behavior;

/* Normalizers */
typedef struct tk_norm tk_norm;
pgml_status tk_norm_load(const json_t *j, tk_norm **out, pgml_err *err);
void		tk_norm_free(tk_norm *n);
pgml_status tk_norm_apply(const tk_norm *n, tk_ctx *c, tk_str *s);

/* Pre-tokenizers */
typedef struct tk_pretok tk_pretok;
pgml_status tk_pretok_load(const json_t *j, tk_pretok **out, pgml_err *err);
void		tk_pretok_free(tk_pretok *p);
pgml_status tk_pretok_apply(const tk_pretok *p, tk_ctx *c, tk_splits *sp);
/* Splits s at matches (pairs of offsets) with a behaviour; appends to out. */
pgml_status tk_split_by_matches(tk_ctx *c, const tk_str *s, const uint32_t *m, size_t nm, tk_behavior beh,
								bool invert, tk_splits *out);

/* The GPT-2 byte ↔ unicode table: byte b is the UTF-8 of tk_byte_char[b] (1 or 2 bytes). */
extern const char *tk_byte_char_utf8(unsigned b, int *len);
int			tk_char_byte(int32_t cp);	/* inverse: the byte, or -1 */

/* Models */
typedef struct tk_model tk_model;
pgml_status tk_model_load(const json_t *j, tk_model **out, pgml_err *err);
void		tk_model_free(tk_model *m);
pgml_status tk_model_tokenize(const tk_model *m, tk_ctx *c, const tk_str *w, tk_toks *out);
const tk_idtab *tk_model_ids(const tk_model *m);
const tk_vocab *tk_model_vocab(const tk_model *m);
const char *tk_model_unk(const tk_model *m);

/* Post-processors */
typedef struct tk_post tk_post;
pgml_status tk_post_load(const json_t *j, const tk_vocab *vocab, tk_post **out, pgml_err *err);
void		tk_post_free(tk_post *p);
size_t		tk_post_added(const tk_post *p, bool pair);

/* An encoding under construction (arena memory). */
typedef struct tk_enc
{
	size_t		n;
	int32_t    *ids;
	int32_t    *type_ids;
	uint8_t    *special;
	uint32_t   *off;
	int8_t	   *seq;
} tk_enc;

pgml_status tk_enc_alloc(tk_ctx *c, tk_enc *e, size_t n);
pgml_status tk_post_apply(const tk_post *p, tk_ctx *c, const struct pgml_tokenizer *tok, const tk_enc *a,
						  const tk_enc *b, bool add_special, tk_enc *out);

/* Decoders */
typedef struct tk_dec tk_dec;
pgml_status tk_dec_load(const json_t *j, tk_dec **out, pgml_err *err);
void		tk_dec_free(tk_dec *d);
/* Rewrites toks[0..*n) (arena strings) in place; may change *n. */
pgml_status tk_dec_apply(const tk_dec *d, tk_ctx *c, char **toks, size_t *n);

/* tokenizer.c: the token string of an id (added tokens included), or NULL. */
const char *tk_id_to_token(const struct pgml_tokenizer *tok, int32_t id);

#endif							/* PGML_TEXT_TOK_INTERNAL_H */
