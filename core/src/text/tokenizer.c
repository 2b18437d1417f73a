/*
 * tokenizer.c — tokenizer.json loading, added tokens, the encode pipeline (truncation, post-processing,
 * padding), decode and vocabulary lookups. See tok_internal.h for the pipeline's shape.
 */
#include "tok_internal.h"

#include <string.h>

typedef struct added_tok
{
	char	   *content;
	size_t		len;
	int32_t		id;
	bool		special, single_word, lstrip, rstrip, normalized;
} added_tok;

/* A byte trie for leftmost-longest matching of added tokens. */
typedef struct trie_node
{
	int32_t		child;			/* first child, -1 */
	int32_t		sibling;		/* next sibling, -1 */
	int32_t		tok;			/* index into added, -1 */
	uint8_t		byte;
} trie_node;

typedef struct trie
{
	trie_node  *v;
	size_t		n, cap;
} trie;

typedef enum
{
	TR_LONGEST_FIRST, TR_ONLY_FIRST, TR_ONLY_SECOND
} trunc_strategy;

struct pgml_tokenizer
{
	tk_norm    *norm;
	tk_pretok  *pretok;
	tk_model   *model;
	tk_post    *post;
	tk_dec	   *dec;
	added_tok  *added;
	size_t		nadded;
	tk_vocab	added_map;		/* content → id */
	tk_idtab	added_ids;		/* id → content (pointers into added[]) */
	uint8_t    *added_special;	/* by id: 1 when special */
	trie		raw_trie, norm_trie;
	bool		has_norm_added;
	/* truncation */
	bool		truncation;
	size_t		max_length;
	trunc_strategy strategy;
	bool		trunc_left;
	/* padding */
	bool		padding;
	size_t		pad_fixed;		/* 0: BatchLongest */
	size_t		pad_multiple;
	bool		pad_left;
	int32_t		pad_id, pad_type_id;
	bool		has_pad_id;
};

void
pgml_encode_opts_init(pgml_encode_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->add_special_tokens = true;
	opts->truncate = true;
	opts->pad = true;
}

static void
trie_free(trie *t)
{
	pgml_free(t->v);
	memset(t, 0, sizeof(*t));
}

static int32_t
trie_new(trie *t)
{
	if (t->n == t->cap)
	{
		size_t		ncap = t->cap ? t->cap * 2 : 256;
		trie_node  *nv = pgml_realloc(t->v, ncap * sizeof(trie_node));

		if (nv == NULL)
			return -1;
		t->v = nv;
		t->cap = ncap;
	}
	t->v[t->n].child = t->v[t->n].sibling = t->v[t->n].tok = -1;
	t->v[t->n].byte = 0;
	return (int32_t) t->n++;
}

static bool
trie_add(trie *t, const char *s, size_t len, int32_t tok)
{
	int32_t		node;

	if (t->n == 0 && trie_new(t) < 0)
		return false;
	node = 0;
	for (size_t i = 0; i < len; i++)
	{
		uint8_t		b = (uint8_t) s[i];
		int32_t		ch = t->v[node].child;

		while (ch >= 0 && t->v[ch].byte != b)
			ch = t->v[ch].sibling;
		if (ch < 0)
		{
			ch = trie_new(t);
			if (ch < 0)
				return false;
			t->v[ch].byte = b;
			t->v[ch].sibling = t->v[node].child;
			t->v[node].child = ch;
		}
		node = ch;
	}
	if (t->v[node].tok < 0)
		t->v[node].tok = tok;
	return true;
}

/* Longest token starting at s[0..n): its index and length, or -1. */
static int32_t
trie_match(const trie *t, const char *s, size_t n, size_t *mlen)
{
	int32_t		node = 0,
				best = -1;

	if (t->n == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
	{
		int32_t		ch = t->v[node].child;

		while (ch >= 0 && t->v[ch].byte != (uint8_t) s[i])
			ch = t->v[ch].sibling;
		if (ch < 0)
			break;
		node = ch;
		if (t->v[node].tok >= 0)
		{
			best = t->v[node].tok;
			*mlen = i + 1;
		}
	}
	return best;
}

void
pgml_tokenizer_free(pgml_tokenizer *tok)
{
	if (tok == NULL)
		return;
	tk_norm_free(tok->norm);
	tk_pretok_free(tok->pretok);
	tk_model_free(tok->model);
	tk_post_free(tok->post);
	tk_dec_free(tok->dec);
	for (size_t i = 0; i < tok->nadded; i++)
		pgml_free(tok->added[i].content);
	pgml_free(tok->added);
	tk_vocab_free(&tok->added_map);
	pgml_free(tok->added_ids.s);
	pgml_free(tok->added_special);
	trie_free(&tok->raw_trie);
	trie_free(&tok->norm_trie);
	pgml_free(tok);
}

static pgml_status
new_ctx(tk_ctx *c, pgml_err *err)
{
	c->err = err;
	c->arena = pgml_arena_new(0);
	c->md = pcre2_match_data_create(32, tk_pcre2_gctx());
	if (c->arena == NULL || c->md == NULL)
	{
		pgml_arena_free(c->arena);
		if (c->md)
			pcre2_match_data_free(c->md);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory while tokenizing");
	}
	return PGML_OK;
}

static void
free_ctx(tk_ctx *c)
{
	pgml_arena_free(c->arena);
	pcre2_match_data_free(c->md);
}

/* tk_str over text[b, e) whose bytes align to their own character. */
static pgml_status
identity_str(tk_ctx *c, const char *text, size_t b, size_t e, tk_str *out)
{
	out->s = (char *) text + b;
	out->len = e - b;
	out->al = tk_alloc(c, (e - b) * 2 * sizeof(uint32_t) + 8);
	if (out->al == NULL)
		return tk_oom(c);
	for (size_t i = b; i < e;)
	{
		size_t		l = (size_t) tk_utf8_len((unsigned char) text[i]);

		for (size_t k = 0; k < l; k++)
		{
			out->al[2 * (i - b + k)] = (uint32_t) i;
			out->al[2 * (i - b + k) + 1] = (uint32_t) (i + l);
		}
		i += l;
	}
	return PGML_OK;
}

static pgml_status
load_added(pgml_tokenizer *tok, const json_t *arr, pgml_err *err)
{
	size_t		i,
				maxid = 0;
	json_t	   *a;
	pgml_status st;

	if (arr == NULL || json_is_null(arr))
		return PGML_OK;
	if (!json_is_array(arr))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json \"added_tokens\" must be an array");
	tok->added = pgml_calloc(json_array_size(arr) + 1, sizeof(added_tok));
	if (tok->added == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	json_array_foreach(arr, i, a)
	{
		added_tok  *t = &tok->added[i];
		const json_t *content = json_object_get(a, "content"),
				   *id = json_object_get(a, "id");

		if (!json_is_object(a) || !json_is_string(content) || !json_is_integer(id))
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json added token %zu needs a string \"content\" and an integer \"id\"", i);
		if (json_integer_value(id) < 0 || json_integer_value(id) >= TK_MAX_ID)
			return pgml_error(err, PGML_ERR_LIMIT, "tokenizer.json added token id %lld is out of range",
							  (long long) json_integer_value(id));
		t->len = json_string_length(content);
		if (t->len == 0 || t->len > TK_MAX_TOKEN_LEN)
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json added token %zu is empty or too long", i);
		t->content = pgml_strndup(json_string_value(content), t->len);
		if (t->content == NULL)
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
		tok->nadded = i + 1;
		t->id = (int32_t) json_integer_value(id);
		{
			/* as the Rust library: a token the model knows takes the model's id */
			int32_t		mid = tk_vocab_get(tk_model_vocab(tok->model), t->content, t->len);

			if (mid >= 0)
				t->id = mid;
		}
		if ((st = tk_get_bool(a, "special", false, &t->special, err)) != PGML_OK ||
			(st = tk_get_bool(a, "single_word", false, &t->single_word, err)) != PGML_OK ||
			(st = tk_get_bool(a, "lstrip", false, &t->lstrip, err)) != PGML_OK ||
			(st = tk_get_bool(a, "rstrip", false, &t->rstrip, err)) != PGML_OK ||
			(st = tk_get_bool(a, "normalized", !t->special, &t->normalized, err)) != PGML_OK)
			return st;
		if ((st = tk_vocab_put(&tok->added_map, t->content, t->len, t->id, NULL, err)) != PGML_OK)
			return st;
		if ((size_t) t->id + 1 > maxid)
			maxid = (size_t) t->id + 1;
	}
	tok->added_ids.n = maxid;
	tok->added_ids.s = pgml_calloc(maxid + 1, sizeof(char *));
	tok->added_special = pgml_calloc(maxid + 1, 1);
	if (tok->added_ids.s == NULL || tok->added_special == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	for (i = 0; i < tok->nadded; i++)
	{
		tok->added_ids.s[tok->added[i].id] = tok->added[i].content;
		tok->added_special[tok->added[i].id] = tok->added[i].special;
	}
	return PGML_OK;
}

/* Builds the two tries; normalized tokens are matched in their normalized form. */
static pgml_status
build_tries(pgml_tokenizer *tok, pgml_err *err)
{
	tk_ctx		c;
	pgml_status st = PGML_OK;

	if (tok->nadded == 0)
		return PGML_OK;
	if ((st = new_ctx(&c, err)) != PGML_OK)
		return st;
	for (size_t i = 0; i < tok->nadded && st == PGML_OK; i++)
	{
		added_tok  *t = &tok->added[i];

		if (tk_utf8_invalid(t->content, t->len) != (size_t) -1)
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json added token %zu is not valid UTF-8", i);
		else if (t->normalized && tok->norm != NULL)
		{
			tk_str		s;

			if ((st = identity_str(&c, t->content, 0, t->len, &s)) == PGML_OK &&
				(st = tk_norm_apply(tok->norm, &c, &s)) == PGML_OK && s.len > 0)
			{
				if (!trie_add(&tok->norm_trie, s.s, s.len, (int32_t) i))
					st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
				tok->has_norm_added = true;
			}
		}
		else if (!trie_add(&tok->raw_trie, t->content, t->len, (int32_t) i))
			st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	}
	free_ctx(&c);
	return st;
}

static pgml_status
load_truncation_padding(pgml_tokenizer *tok, const json_t *root, pgml_err *err)
{
	const json_t *tr = json_object_get(root, "truncation"),
			   *pd = json_object_get(root, "padding");
	int64_t		v;
	const char *s;

	if (tr != NULL && !json_is_null(tr))
	{
		if (!json_is_object(tr))
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json \"truncation\" must be an object");
		tok->truncation = true;
		if (pgml_json_get_int(tr, "max_length", 512, 0, INT32_MAX, &v, err) != PGML_OK)
			return PGML_ERR_DATA;
		tok->max_length = (size_t) v;
		if (tk_get_str(tr, "strategy", "LongestFirst", &s, err) != PGML_OK)
			return PGML_ERR_DATA;
		if (strcmp(s, "LongestFirst") == 0)
			tok->strategy = TR_LONGEST_FIRST;
		else if (strcmp(s, "OnlyFirst") == 0)
			tok->strategy = TR_ONLY_FIRST;
		else if (strcmp(s, "OnlySecond") == 0)
			tok->strategy = TR_ONLY_SECOND;
		else
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json truncation strategy \"%s\" is unknown", s);
		if (tk_get_str(tr, "direction", "Right", &s, err) != PGML_OK)
			return PGML_ERR_DATA;
		tok->trunc_left = strcmp(s, "Left") == 0;
	}
	if (pd != NULL && !json_is_null(pd))
	{
		const json_t *strat;

		if (!json_is_object(pd))
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json \"padding\" must be an object");
		tok->padding = true;
		strat = json_object_get(pd, "strategy");
		if (json_is_object(strat))
		{
			if (pgml_json_get_int(strat, "Fixed", 0, 0, 1 << 24, &v, err) != PGML_OK)
				return PGML_ERR_DATA;
			tok->pad_fixed = (size_t) v;
		}
		if (pgml_json_get_int(pd, "pad_to_multiple_of", 0, 0, 1 << 20, &v, err) != PGML_OK)
			return PGML_ERR_DATA;
		tok->pad_multiple = (size_t) v;
		if (tk_get_str(pd, "direction", "Right", &s, err) != PGML_OK)
			return PGML_ERR_DATA;
		tok->pad_left = strcmp(s, "Left") == 0;
		if (json_object_get(pd, "pad_id") != NULL)
		{
			if (pgml_json_get_int(pd, "pad_id", 0, 0, TK_MAX_ID - 1, &v, err) != PGML_OK)
				return PGML_ERR_DATA;
			tok->pad_id = (int32_t) v;
			tok->has_pad_id = true;
		}
		if (pgml_json_get_int(pd, "pad_type_id", 0, 0, 255, &v, err) != PGML_OK)
			return PGML_ERR_DATA;
		tok->pad_type_id = (int32_t) v;
	}
	return PGML_OK;
}

static pgml_status
load_root(const json_t *root, pgml_tokenizer **out, pgml_err *err)
{
	pgml_tokenizer *tok;
	pgml_status st;
	const json_t *v;

	if (!json_is_object(root))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json must be a JSON object");
	tok = pgml_calloc(1, sizeof(*tok));
	if (tok == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	if ((st = tk_model_load(json_object_get(root, "model"), &tok->model, err)) != PGML_OK)
		goto fail;
	if ((v = json_object_get(root, "normalizer")) != NULL && !json_is_null(v) &&
		(st = tk_norm_load(v, &tok->norm, err)) != PGML_OK)
		goto fail;
	if ((v = json_object_get(root, "pre_tokenizer")) != NULL && !json_is_null(v) &&
		(st = tk_pretok_load(v, &tok->pretok, err)) != PGML_OK)
		goto fail;
	if ((v = json_object_get(root, "post_processor")) != NULL && !json_is_null(v) &&
		(st = tk_post_load(v, tk_model_vocab(tok->model), &tok->post, err)) != PGML_OK)
		goto fail;
	if ((v = json_object_get(root, "decoder")) != NULL && !json_is_null(v) &&
		(st = tk_dec_load(v, &tok->dec, err)) != PGML_OK)
		goto fail;
	if ((st = load_added(tok, json_object_get(root, "added_tokens"), err)) != PGML_OK ||
		(st = build_tries(tok, err)) != PGML_OK ||
		(st = load_truncation_padding(tok, root, err)) != PGML_OK)
		goto fail;
	if (!tok->has_pad_id)
	{
		int32_t		id = pgml_tokenizer_token_to_id(tok, "[PAD]");

		if (id < 0)
			id = pgml_tokenizer_token_to_id(tok, "<pad>");
		tok->pad_id = id < 0 ? 0 : id;
	}
	*out = tok;
	return PGML_OK;
fail:
	pgml_tokenizer_free(tok);
	return st;
}

pgml_status
pgml_tokenizer_load_json(const char *json, size_t len, pgml_tokenizer **out, pgml_err *err)
{
	json_t	   *root;
	pgml_status st;

	if (out == NULL || json == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "tokenizer.json text must not be null");
	*out = NULL;
	if ((st = pgml_json_parse(json, len, "tokenizer.json", &root, err)) != PGML_OK)
		return st;
	st = load_root(root, out, err);
	json_decref(root);
	return st;
}

pgml_status
pgml_tokenizer_load_file(const char *path, pgml_tokenizer **out, pgml_err *err)
{
	json_t	   *root;
	pgml_status st;

	if (out == NULL || path == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "tokenizer.json path must not be null");
	*out = NULL;
	if ((st = pgml_json_load_file(path, (size_t) 1 << 30, &root, err)) != PGML_OK)
		return st;
	st = load_root(root, out, err);
	json_decref(root);
	return st;
}

/* ---------------------------------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------------------------------- */

/* Finds added tokens in s[0..n) with a trie; segments as triples (begin, end, token index or -1). */
static pgml_status
find_added(const pgml_tokenizer *tok, const trie *t, tk_ctx *c, const char *s, size_t n, int64_t **segs,
		   size_t *nseg)
{
	size_t		cap = 8,
				k = 0,
				pos = 0,
				last = 0;
	int64_t    *v = tk_alloc(c, cap * 3 * sizeof(int64_t));

	if (v == NULL)
		return tk_oom(c);
	while (pos < n)
	{
		size_t		mlen = 0;
		int32_t		ti = trie_match(t, s + pos, n - pos, &mlen);
		size_t		b = pos,
					e;
		const added_tok *at;

		if (ti < 0)
		{
			pos += (size_t) tk_utf8_len((unsigned char) s[pos]);
			continue;
		}
		at = &tok->added[ti];
		e = pos + mlen;
		if (at->single_word)
		{
			bool		ok = true;
			int32_t		cp;

			if (b > 0)
			{
				size_t		p = b - 1;

				while (p > 0 && ((unsigned char) s[p] & 0xC0) == 0x80)
					p--;
				tk_utf8_decode(s + p, n - p, &cp);
				ok = !tk_is_alnum(cp);
			}
			if (ok && e < n)
			{
				tk_utf8_decode(s + e, n - e, &cp);
				ok = !tk_is_alnum(cp);
			}
			if (!ok)
			{
				pos += (size_t) tk_utf8_len((unsigned char) s[pos]);
				continue;
			}
		}
		if (at->lstrip)
			while (b > last)
			{
				size_t		p = b - 1;
				int32_t		cp;

				while (p > last && ((unsigned char) s[p] & 0xC0) == 0x80)
					p--;
				tk_utf8_decode(s + p, n - p, &cp);
				if (!tk_is_whitespace(cp))
					break;
				b = p;
			}
		if (at->rstrip)
			while (e < n)
			{
				int32_t		cp;
				int			l = tk_utf8_decode(s + e, n - e, &cp);

				if (!tk_is_whitespace(cp))
					break;
				e += (size_t) l;
			}
		if (k + 2 > cap)
		{
			int64_t    *nv = tk_alloc(c, cap * 6 * sizeof(int64_t));

			if (nv == NULL)
				return tk_oom(c);
			memcpy(nv, v, k * 3 * sizeof(int64_t));
			v = nv;
			cap *= 2;
		}
		if (b > last)
		{
			v[3 * k] = (int64_t) last;
			v[3 * k + 1] = (int64_t) b;
			v[3 * k + 2] = -1;
			k++;
		}
		v[3 * k] = (int64_t) b;
		v[3 * k + 1] = (int64_t) e;
		v[3 * k + 2] = ti;
		k++;
		pos = last = e;
	}
	if (last < n || k == 0)
	{
		if (k + 1 > cap)
		{
			int64_t    *nv = tk_alloc(c, (k + 1) * 3 * sizeof(int64_t));

			if (nv == NULL)
				return tk_oom(c);
			memcpy(nv, v, k * 3 * sizeof(int64_t));
			v = nv;
		}
		v[3 * k] = (int64_t) last;
		v[3 * k + 1] = (int64_t) n;
		v[3 * k + 2] = -1;
		k++;
	}
	*segs = v;
	*nseg = k;
	return PGML_OK;
}

static pgml_status
tokenize_piece(const pgml_tokenizer *tok, tk_ctx *c, tk_str piece, tk_toks *out)
{
	tk_splits	sp = {0};
	pgml_status st;

	if (piece.len == 0)
		return PGML_OK;
	if ((st = tk_splits_push(c, &sp, piece)) != PGML_OK)
		return st;
	if (tok->pretok && (st = tk_pretok_apply(tok->pretok, c, &sp)) != PGML_OK)
		return st;
	for (size_t i = 0; i < sp.n; i++)
		if ((st = tk_model_tokenize(tok->model, c, &sp.v[i], out)) != PGML_OK)
			return st;
	return PGML_OK;
}

static pgml_status
tokenize_text(const pgml_tokenizer *tok, tk_ctx *c, const char *text, size_t len, tk_toks *out)
{
	int64_t    *segs;
	size_t		nseg;
	pgml_status st;

	if ((st = find_added(tok, &tok->raw_trie, c, text, len, &segs, &nseg)) != PGML_OK)
		return st;
	for (size_t i = 0; i < nseg; i++)
	{
		size_t		b = (size_t) segs[3 * i],
					e = (size_t) segs[3 * i + 1];
		tk_str		s;

		if (segs[3 * i + 2] >= 0)
		{
			if ((st = tk_toks_push(c, out, tok->added[segs[3 * i + 2]].id, (uint32_t) b, (uint32_t) e)) != PGML_OK)
				return st;
			continue;
		}
		if (e == b)
			continue;
		if ((st = identity_str(c, text, b, e, &s)) != PGML_OK)
			return st;
		if (tok->norm && (st = tk_norm_apply(tok->norm, c, &s)) != PGML_OK)
			return st;
		if (tok->has_norm_added)
		{
			int64_t    *ns;
			size_t		nn;

			if ((st = find_added(tok, &tok->norm_trie, c, s.s, s.len, &ns, &nn)) != PGML_OK)
				return st;
			for (size_t k = 0; k < nn; k++)
			{
				tk_str		sub;

				sub.s = s.s + ns[3 * k];
				sub.al = s.al + 2 * ns[3 * k];
				sub.len = (size_t) (ns[3 * k + 1] - ns[3 * k]);
				if (sub.len == 0)
					continue;
				if (ns[3 * k + 2] >= 0)
				{
					uint32_t	ob,
								oe;

					tk_orig_range(&sub, 0, sub.len, &ob, &oe);
					if ((st = tk_toks_push(c, out, tok->added[ns[3 * k + 2]].id, ob, oe)) != PGML_OK)
						return st;
				}
				else if ((st = tokenize_piece(tok, c, sub, out)) != PGML_OK)
					return st;
			}
		}
		else if ((st = tokenize_piece(tok, c, s, out)) != PGML_OK)
			return st;
	}
	return PGML_OK;
}

static pgml_status
toks_to_enc(tk_ctx *c, const tk_toks *t, int32_t type, int8_t seq, tk_enc *e)
{
	pgml_status st = tk_enc_alloc(c, e, t->n);

	if (st != PGML_OK)
		return st;
	for (size_t i = 0; i < t->n; i++)
	{
		e->ids[i] = t->v[i].id;
		e->type_ids[i] = type;
		e->special[i] = 0;
		e->off[2 * i] = t->v[i].b;
		e->off[2 * i + 1] = t->v[i].e;
		e->seq[i] = seq;
	}
	return PGML_OK;
}

static void
truncate_enc(tk_enc *e, size_t n, bool left)
{
	if (e->n <= n)
		return;
	if (left)
	{
		size_t		d = e->n - n;

		memmove(e->ids, e->ids + d, n * sizeof(int32_t));
		memmove(e->type_ids, e->type_ids + d, n * sizeof(int32_t));
		memmove(e->special, e->special + d, n);
		memmove(e->off, e->off + 2 * d, n * 2 * sizeof(uint32_t));
		memmove(e->seq, e->seq + d, n);
	}
	e->n = n;
}

static pgml_status
check_utf8(const char *s, size_t n, pgml_err *err)
{
	size_t		bad = tk_utf8_invalid(s, n);

	if (bad == (size_t) -1)
		return PGML_OK;
	pgml_error(err, PGML_ERR_DATA, "invalid byte sequence for encoding \"UTF8\"");
	pgml_err_detail(err, "The text has an invalid UTF-8 byte 0x%02x at byte %zu.", (unsigned char) s[bad], bad);
	pgml_err_sqlstate(err, "22021");
	return PGML_ERR_DATA;
}

pgml_status
pgml_tokenizer_encode(const pgml_tokenizer *tok, const char *text, size_t len, const char *pair, size_t pair_len,
					  const pgml_encode_opts *opts, pgml_encoding *out, pgml_err *err)
{
	pgml_encode_opts def;
	tk_ctx		c;
	tk_toks		ta = {0},
				tb = {0};
	tk_enc		ea,
				eb,
				fin;
	pgml_status st;
	size_t		max_len = 0,
				target = 0;
	bool		do_trunc;

	if (out == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "encoding output must not be null");
	memset(out, 0, sizeof(*out));
	if (tok == NULL || (text == NULL && len > 0) || (pair == NULL && pair_len > 0))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "tokenizer and text must not be null");
	if (len > UINT32_MAX / 2 || pair_len > UINT32_MAX / 2)
		return pgml_error(err, PGML_ERR_LIMIT, "text is too long to tokenize");
	if (opts == NULL)
	{
		pgml_encode_opts_init(&def);
		opts = &def;
	}
	if (text == NULL)
		text = "";
	if ((st = check_utf8(text, len, err)) != PGML_OK || (pair && (st = check_utf8(pair, pair_len, err)) != PGML_OK))
		return st;
	if ((st = new_ctx(&c, err)) != PGML_OK)
		return st;
	if ((st = tokenize_text(tok, &c, text, len, &ta)) != PGML_OK ||
		(pair && (st = tokenize_text(tok, &c, pair, pair_len, &tb)) != PGML_OK) ||
		(st = toks_to_enc(&c, &ta, 0, 0, &ea)) != PGML_OK ||
		(pair && (st = toks_to_enc(&c, &tb, 1, 1, &eb)) != PGML_OK))
		goto done;

	/* truncation */
	do_trunc = opts->truncate && (opts->max_length > 0 || tok->truncation);
	if (do_trunc)
	{
		size_t		added = opts->add_special_tokens ? tk_post_added(tok->post, pair != NULL) : 0;
		size_t		total = ea.n + (pair ? eb.n : 0);

		max_len = opts->max_length > 0 ? opts->max_length : tok->max_length;
		if (max_len < added)
		{
			st = pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "max_length %zu is shorter than the %zu special tokens", max_len, added);
			goto done;
		}
		max_len -= added;
		if (total > max_len)
		{
			if (pair == NULL)
				truncate_enc(&ea, max_len, tok->trunc_left);
			else if (tok->strategy == TR_LONGEST_FIRST)
			{
				size_t		n1 = ea.n,
							n2 = eb.n;
				bool		swap = false;

				if (n1 > n2)
				{
					size_t		t = n1;

					n1 = n2;
					n2 = t;
					swap = true;
				}
				if (n1 > max_len)
					n2 = n1;
				else
					n2 = max_len - n1 > n1 ? max_len - n1 : n1;
				if (n1 + n2 > max_len)
				{
					n1 = max_len / 2;
					n2 = n1 + max_len % 2;
				}
				if (swap)
				{
					size_t		t = n1;

					n1 = n2;
					n2 = t;
				}
				truncate_enc(&ea, n1, tok->trunc_left);
				truncate_enc(&eb, n2, tok->trunc_left);
			}
			else
			{
				tk_enc	   *victim = tok->strategy == TR_ONLY_FIRST ? &ea : &eb;
				size_t		other = tok->strategy == TR_ONLY_FIRST ? eb.n : ea.n;

				if (other >= max_len)
				{
					st = pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "the sequence to truncate is too short for max_length %zu", max_len);
					goto done;
				}
				truncate_enc(victim, max_len - other, tok->trunc_left);
			}
		}
	}
	if ((st = tk_post_apply(tok->post, &c, tok, &ea, pair ? &eb : NULL, opts->add_special_tokens, &fin)) != PGML_OK)
		goto done;

	/* padding */
	target = fin.n;
	if (tok->padding && opts->pad)
	{
		if (tok->pad_fixed)
			target = tok->pad_fixed > target ? tok->pad_fixed : target;
		if (tok->pad_multiple && target % tok->pad_multiple)
			target += tok->pad_multiple - target % tok->pad_multiple;
	}
	if (opts->pad_to > target)
		target = opts->pad_to;
	{
		size_t		n = target,
					m = n ? n : 1,
					padn = target - fin.n,
					off = tok->pad_left ? padn : 0;

		out->ids = pgml_malloc(m * sizeof(int32_t));
		out->type_ids = pgml_malloc(m * sizeof(int32_t));
		out->attention_mask = pgml_malloc(m);
		out->special_mask = pgml_malloc(m);
		out->offsets = pgml_malloc(m * 2 * sizeof(uint32_t));
		out->sequence_ids = pgml_malloc(m);
		if (!out->ids || !out->type_ids || !out->attention_mask || !out->special_mask || !out->offsets ||
			!out->sequence_ids)
		{
			pgml_encoding_free(out);
			st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory while tokenizing");
			goto done;
		}
		for (size_t i = 0; i < padn; i++)
		{
			size_t		k = tok->pad_left ? i : fin.n + i;

			out->ids[k] = tok->pad_id;
			out->type_ids[k] = tok->pad_type_id;
			out->attention_mask[k] = 0;
			out->special_mask[k] = 1;
			out->offsets[2 * k] = out->offsets[2 * k + 1] = 0;
			out->sequence_ids[k] = -1;
		}
		memcpy(out->ids + off, fin.ids, fin.n * sizeof(int32_t));
		memcpy(out->type_ids + off, fin.type_ids, fin.n * sizeof(int32_t));
		memset(out->attention_mask + off, 1, fin.n);
		memcpy(out->special_mask + off, fin.special, fin.n);
		memcpy(out->offsets + 2 * off, fin.off, fin.n * 2 * sizeof(uint32_t));
		memcpy(out->sequence_ids + off, fin.seq, fin.n);
		out->n = n;
	}
done:
	free_ctx(&c);
	return st;
}

void
pgml_encoding_free(pgml_encoding *enc)
{
	if (enc == NULL)
		return;
	pgml_free(enc->ids);
	pgml_free(enc->type_ids);
	pgml_free(enc->attention_mask);
	pgml_free(enc->special_mask);
	pgml_free(enc->offsets);
	pgml_free(enc->sequence_ids);
	memset(enc, 0, sizeof(*enc));
}

/* ---------------------------------------------------------------------------------------------------
 * Decoding and vocabulary
 * ------------------------------------------------------------------------------------------------- */

const char *
tk_id_to_token(const pgml_tokenizer *tok, int32_t id)
{
	const tk_idtab *m;

	if (id < 0)
		return NULL;
	if ((size_t) id < tok->added_ids.n && tok->added_ids.s[id] != NULL)
		return tok->added_ids.s[id];
	m = tk_model_ids(tok->model);
	if ((size_t) id < m->n)
		return m->s[id];
	return NULL;
}

pgml_status
pgml_tokenizer_decode(const pgml_tokenizer *tok, const int32_t *ids, size_t n, bool skip_special, char **out,
					  pgml_err *err)
{
	tk_ctx		c;
	char	  **toks;
	size_t		nt = 0,
				total = 0;
	pgml_status st;

	if (out == NULL || tok == NULL || (ids == NULL && n > 0))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "tokenizer, ids and output must not be null");
	*out = NULL;
	if ((st = new_ctx(&c, err)) != PGML_OK)
		return st;
	toks = tk_alloc(&c, (n + 1) * sizeof(char *));
	if (toks == NULL)
	{
		st = tk_oom(&c);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
	{
		const char *t = tk_id_to_token(tok, ids[i]);

		if (t == NULL)
			continue;
		if (skip_special && (size_t) ids[i] < tok->added_ids.n && tok->added_special[ids[i]])
			continue;
		toks[nt++] = (char *) t;
	}
	if (tok->dec && (st = tk_dec_apply(tok->dec, &c, toks, &nt)) != PGML_OK)
		goto done;
	for (size_t i = 0; i < nt; i++)
		total += strlen(toks[i]) + 1;
	*out = pgml_malloc(total + 1);
	if (*out == NULL)
	{
		st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory while decoding");
		goto done;
	}
	{
		char	   *p = *out;

		for (size_t i = 0; i < nt; i++)
		{
			size_t		l = strlen(toks[i]);

			if (tok->dec == NULL && i > 0)
				*p++ = ' ';
			memcpy(p, toks[i], l);
			p += l;
		}
		*p = '\0';
	}
done:
	free_ctx(&c);
	return st;
}

size_t
pgml_tokenizer_vocab_size(const pgml_tokenizer *tok)
{
	size_t		n;
	const tk_vocab *v;

	if (tok == NULL)
		return 0;
	v = tk_model_vocab(tok->model);
	n = v->n;
	for (size_t i = 0; i < tok->nadded; i++)
		if (tk_vocab_get(v, tok->added[i].content, tok->added[i].len) < 0)
			n++;
	return n;
}

int32_t
pgml_tokenizer_token_to_id(const pgml_tokenizer *tok, const char *token)
{
	int32_t		id;

	if (tok == NULL || token == NULL)
		return -1;
	id = tk_vocab_get(&tok->added_map, token, strlen(token));
	if (id >= 0)
		return id;
	return tk_vocab_get(tk_model_vocab(tok->model), token, strlen(token));
}

const char *
pgml_tokenizer_id_to_token(const pgml_tokenizer *tok, int32_t id)
{
	if (tok == NULL)
		return NULL;
	return tk_id_to_token(tok, id);
}

int32_t
pgml_tokenizer_pad_id(const pgml_tokenizer *tok)
{
	return tok ? tok->pad_id : 0;
}
