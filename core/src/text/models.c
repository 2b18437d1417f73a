/*
 * models.c — tokenizer models: WordPiece (greedy longest match), BPE (ranked merges with a binary heap
 * over a linked list of symbols; byte fallback, unk fusion, subword prefix/suffix, ignore_merges),
 * Unigram (Viterbi, byte fallback) and WordLevel.
 */
#include "tok_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef enum
{
	M_WORDPIECE, M_BPE, M_UNIGRAM, M_WORDLEVEL
} model_kind;

struct tk_model
{
	model_kind	kind;
	tk_vocab	vocab;
	tk_idtab	ids;			/* strings point into vocab.pool */
	int32_t		unk;			/* -1: none */
	char	   *prefix;			/* continuing_subword_prefix ("" when none) */
	size_t		prefix_len;
	char	   *suffix;			/* end_of_word_suffix */
	size_t		suffix_len;
	size_t		max_chars;		/* WordPiece max_input_chars_per_word */
	bool		ignore_merges, byte_fallback, fuse_unk;
	/* BPE merges: open addressing on (left id, right id) */
	uint64_t   *mkeys;
	int32_t    *mrank;
	int32_t    *mnew;
	size_t		mslots;
	int32_t		byte_id[256];	/* <0xXX> ids, -1 when absent */
	/* Unigram */
	double	   *scores;			/* by id */
	double		unk_score;
	size_t		max_piece;
	/* Unigram prefix trie: (node << 8 | byte) → child in open addressing; tterm[node] = id or -1 */
	uint64_t   *tkeys;
	int32_t    *tvals;
	size_t		tslots;
	int32_t    *tterm;
	size_t		tnodes;
};

void
tk_model_free(tk_model *m)
{
	if (m == NULL)
		return;
	tk_vocab_free(&m->vocab);
	pgml_free(m->ids.s);
	pgml_free(m->ids.len);
	pgml_free(m->prefix);
	pgml_free(m->suffix);
	pgml_free(m->mkeys);
	pgml_free(m->mrank);
	pgml_free(m->mnew);
	pgml_free(m->scores);
	pgml_free(m->tkeys);
	pgml_free(m->tvals);
	pgml_free(m->tterm);
	pgml_free(m);
}

const tk_idtab *
tk_model_ids(const tk_model *m)
{
	return &m->ids;
}

const tk_vocab *
tk_model_vocab(const tk_model *m)
{
	return &m->vocab;
}

const char *
tk_model_unk(const tk_model *m)
{
	if (m->unk < 0 || (size_t) m->unk >= m->ids.n)
		return NULL;
	return m->ids.s[m->unk];
}

static pgml_status
build_idtab(tk_model *m, pgml_err *err)
{
	size_t		maxid = 0;

	for (size_t i = 0; i < m->vocab.n; i++)
		if ((size_t) m->vocab.ents[i].val + 1 > maxid)
			maxid = (size_t) m->vocab.ents[i].val + 1;
	m->ids.n = maxid;
	m->ids.s = pgml_calloc(maxid + 1, sizeof(char *));
	m->ids.len = pgml_calloc(maxid + 1, sizeof(uint32_t));
	if (m->ids.s == NULL || m->ids.len == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	for (size_t i = 0; i < m->vocab.n; i++)
	{
		int32_t		id = m->vocab.ents[i].val;

		if (m->ids.s[id] == NULL)
		{
			m->ids.s[id] = m->vocab.pool + m->vocab.ents[i].off;
			m->ids.len[id] = m->vocab.ents[i].len;
		}
	}
	for (int b = 0; b < 256; b++)
	{
		char		buf[8];

		snprintf(buf, sizeof(buf), "<0x%02X>", b);
		m->byte_id[b] = tk_vocab_get(&m->vocab, buf, 6);
	}
	return PGML_OK;
}

static pgml_status
load_vocab_dict(tk_model *m, const json_t *v, const char *what, pgml_err *err)
{
	const char *key;
	json_t	   *val;
	pgml_status st;

	if (!json_is_object(v))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json %s model: \"vocab\" must be an object", what);
	json_object_foreach((json_t *) v, key, val)
	{
		json_int_t	id;
		size_t		klen = strlen(key);

		if (!json_is_integer(val))
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json %s model: the id of a vocabulary entry must be an integer", what);
		id = json_integer_value(val);
		if (id < 0 || id >= TK_MAX_ID)
			return pgml_error(err, PGML_ERR_LIMIT, "tokenizer.json %s model: token id %lld is out of range", what,
							  (long long) id);
		if (klen > TK_MAX_TOKEN_LEN)
			return pgml_error(err, PGML_ERR_LIMIT, "tokenizer.json %s model: a vocabulary entry is too long", what);
		if ((st = tk_vocab_put(&m->vocab, key, klen, (int32_t) id, NULL, err)) != PGML_OK)
			return st;
	}
	return build_idtab(m, err);
}

static pgml_status
opt_string(const json_t *j, const char *key, char **out, size_t *len, pgml_err *err)
{
	const char *s;
	pgml_status st = tk_get_str(j, key, "", &s, err);

	if (st != PGML_OK)
		return st;
	*out = pgml_strdup(s);
	if (*out == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	*len = strlen(s);
	return PGML_OK;
}

static inline uint64_t
pair_key(int32_t a, int32_t b)
{
	return ((uint64_t) (uint32_t) a << 32) | (uint32_t) b;
}

static inline size_t
pair_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t) k;
}

static inline bool
merge_get(const tk_model *m, int32_t a, int32_t b, int32_t *rank, int32_t *nid)
{
	uint64_t	k = pair_key(a, b);
	size_t		j;

	if (m->mslots == 0)
		return false;
	j = pair_hash(k) & (m->mslots - 1);
	while (m->mkeys[j] != UINT64_MAX)
	{
		if (m->mkeys[j] == k)
		{
			*rank = m->mrank[j];
			*nid = m->mnew[j];
			return true;
		}
		j = (j + 1) & (m->mslots - 1);
	}
	return false;
}

static pgml_status
load_merges(tk_model *m, const json_t *merges, pgml_err *err)
{
	size_t		n,
				i;
	json_t	   *mv;
	char	   *buf = NULL;
	size_t		bufcap = 0;

	if (merges == NULL || json_is_null(merges))
		return PGML_OK;
	if (!json_is_array(merges))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json BPE model: \"merges\" must be an array");
	n = json_array_size(merges);
	if (n >= TK_MAX_ID)
		return pgml_error(err, PGML_ERR_LIMIT, "tokenizer.json BPE model: too many merges");
	m->mslots = 1024;
	while (m->mslots < n * 2 + 2)
		m->mslots *= 2;
	m->mkeys = pgml_malloc(m->mslots * sizeof(uint64_t));
	m->mrank = pgml_malloc(m->mslots * sizeof(int32_t));
	m->mnew = pgml_malloc(m->mslots * sizeof(int32_t));
	if (m->mkeys == NULL || m->mrank == NULL || m->mnew == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	memset(m->mkeys, 0xFF, m->mslots * sizeof(uint64_t));
	json_array_foreach(merges, i, mv)
	{
		const char *a,
				   *b;
		size_t		alen,
					blen;
		int32_t		ia,
					ib,
					inew;
		size_t		j;
		uint64_t	k;

		if (json_is_string(mv))
		{
			const char *s = json_string_value(mv);
			const char *sp = strchr(s, ' ');

			if (sp == NULL || strchr(sp + 1, ' ') != NULL)
			{
				pgml_free(buf);
				return pgml_error(err, PGML_ERR_DATA, "tokenizer.json BPE model: merge %zu is not two tokens separated by a space", i);
			}
			a = s;
			alen = (size_t) (sp - s);
			b = sp + 1;
			blen = strlen(b);
		}
		else if (json_is_array(mv) && json_array_size(mv) == 2 && json_is_string(json_array_get(mv, 0)) &&
				 json_is_string(json_array_get(mv, 1)))
		{
			a = json_string_value(json_array_get(mv, 0));
			alen = json_string_length(json_array_get(mv, 0));
			b = json_string_value(json_array_get(mv, 1));
			blen = json_string_length(json_array_get(mv, 1));
		}
		else
		{
			pgml_free(buf);
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json BPE model: merge %zu must be a string or a pair of strings", i);
		}
		ia = tk_vocab_get(&m->vocab, a, alen);
		ib = tk_vocab_get(&m->vocab, b, blen);
		if (ia < 0 || ib < 0)
		{
			pgml_free(buf);
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json BPE model: merge %zu uses a token that is not in the vocabulary", i);
		}
		if (m->prefix_len && blen >= m->prefix_len && memcmp(b, m->prefix, m->prefix_len) == 0)
		{
			b += m->prefix_len;
			blen -= m->prefix_len;
		}
		if (alen + blen > bufcap)
		{
			pgml_free(buf);
			bufcap = (alen + blen) * 2 + 64;
			buf = pgml_malloc(bufcap);
			if (buf == NULL)
				return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
		}
		memcpy(buf, a, alen);
		memcpy(buf + alen, b, blen);
		inew = tk_vocab_get(&m->vocab, buf, alen + blen);
		if (inew < 0)
		{
			pgml_free(buf);
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json BPE model: the result of merge %zu is not in the vocabulary", i);
		}
		k = pair_key(ia, ib);
		j = pair_hash(k) & (m->mslots - 1);
		while (m->mkeys[j] != UINT64_MAX && m->mkeys[j] != k)
			j = (j + 1) & (m->mslots - 1);
		if (m->mkeys[j] == UINT64_MAX)
		{
			m->mkeys[j] = k;
			m->mrank[j] = (int32_t) i;
			m->mnew[j] = inew;
		}
	}
	pgml_free(buf);
	return PGML_OK;
}

static pgml_status
set_unk(tk_model *m, const json_t *j, const char *what, pgml_err *err)
{
	const char *unk;
	pgml_status st = tk_get_str(j, "unk_token", NULL, &unk, err);

	if (st != PGML_OK)
		return st;
	m->unk = -1;
	if (unk != NULL)
	{
		m->unk = tk_vocab_get(&m->vocab, unk, strlen(unk));
		if (m->unk < 0)
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json %s model: unk_token \"%.64s\" is not in the vocabulary", what, unk);
	}
	return PGML_OK;
}

static inline int32_t
trie_child(const tk_model *m, int32_t node, uint8_t b)
{
	uint64_t	k = ((uint64_t) (uint32_t) node << 8) | b;
	size_t		j = pair_hash(k) & (m->tslots - 1);

	while (m->tkeys[j] != UINT64_MAX)
	{
		if (m->tkeys[j] == k)
			return m->tvals[j];
		j = (j + 1) & (m->tslots - 1);
	}
	return -1;
}

/* Builds the prefix trie over all pieces (every id's own string). */
static pgml_status
build_trie(tk_model *m, pgml_err *err)
{
	size_t		total = 1;

	for (size_t i = 0; i < m->ids.n; i++)
		total += m->ids.s[i] ? m->ids.len[i] : 0;
	m->tslots = 1024;
	while (m->tslots < total * 2)
		m->tslots *= 2;
	m->tkeys = pgml_malloc(m->tslots * sizeof(uint64_t));
	m->tvals = pgml_malloc(m->tslots * sizeof(int32_t));
	m->tterm = pgml_malloc(total * sizeof(int32_t));
	if (m->tkeys == NULL || m->tvals == NULL || m->tterm == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	memset(m->tkeys, 0xFF, m->tslots * sizeof(uint64_t));
	m->tnodes = 1;
	m->tterm[0] = -1;
	for (size_t i = 0; i < m->ids.n; i++)
	{
		int32_t		node = 0;
		const char *p = m->ids.s[i];

		if (p == NULL || m->ids.len[i] == 0)
			continue;
		/* the id the piece maps to (the last duplicate wins, as in the vocabulary) */
		for (size_t q = 0; q < m->ids.len[i]; q++)
		{
			int32_t		ch = trie_child(m, node, (uint8_t) p[q]);

			if (ch < 0)
			{
				uint64_t	k = ((uint64_t) (uint32_t) node << 8) | (uint8_t) p[q];
				size_t		j = pair_hash(k) & (m->tslots - 1);

				while (m->tkeys[j] != UINT64_MAX)
					j = (j + 1) & (m->tslots - 1);
				ch = (int32_t) m->tnodes++;
				m->tterm[ch] = -1;
				m->tkeys[j] = k;
				m->tvals[j] = ch;
			}
			node = ch;
		}
		m->tterm[node] = tk_vocab_get(&m->vocab, p, m->ids.len[i]);
	}
	return PGML_OK;
}

static pgml_status
load_unigram(tk_model *m, const json_t *j, pgml_err *err)
{
	const json_t *v = json_object_get(j, "vocab");
	size_t		i,
				n;
	json_t	   *e;
	double		minscore = INFINITY;
	int64_t		unk;
	pgml_status st;

	if (!json_is_array(v))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json Unigram model: \"vocab\" must be an array");
	n = json_array_size(v);
	if (n == 0 || n >= TK_MAX_ID)
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json Unigram model: the vocabulary is empty or too large");
	m->scores = pgml_calloc(n, sizeof(double));
	if (m->scores == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	json_array_foreach(v, i, e)
	{
		const json_t *p = json_array_get(e, 0),
				   *s = json_array_get(e, 1);
		bool		dup;

		if (!json_is_array(e) || !json_is_string(p) || !json_is_number(s))
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json Unigram model: vocabulary entry %zu must be [piece, score]", i);
		if (json_string_length(p) > TK_MAX_TOKEN_LEN)
			return pgml_error(err, PGML_ERR_LIMIT, "tokenizer.json Unigram model: a vocabulary entry is too long");
		m->scores[i] = json_number_value(s);
		if (!isfinite(m->scores[i]))
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json Unigram model: score %zu is not finite", i);
		if (m->scores[i] < minscore)
			minscore = m->scores[i];
		if ((st = tk_vocab_put(&m->vocab, json_string_value(p), json_string_length(p), (int32_t) i, &dup, err)) != PGML_OK)
			return st;
		if (json_string_length(p) > m->max_piece)
			m->max_piece = json_string_length(p);
	}
	if ((st = build_idtab(m, err)) != PGML_OK)
		return st;
	/* every id names its own piece, even where a duplicate piece maps to a later id */
	json_array_foreach(v, i, e)
	{
		const json_t *p = json_array_get(e, 0);

		m->ids.s[i] = (char *) tk_vocab_key(&m->vocab, json_string_value(p), json_string_length(p));
		m->ids.len[i] = (uint32_t) json_string_length(p);
	}
	if ((st = pgml_json_get_int(j, "unk_id", -1, -1, (int64_t) n - 1, &unk, err)) != PGML_OK)
		return err ? (err->code = PGML_ERR_DATA) : PGML_ERR_DATA;
	m->unk = (int32_t) unk;
	m->unk_score = minscore - 10.0;
	if ((st = build_trie(m, err)) != PGML_OK)
		return st;
	m->fuse_unk = true;
	return tk_get_bool(j, "byte_fallback", false, &m->byte_fallback, err);
}

pgml_status
tk_model_load(const json_t *j, tk_model **out, pgml_err *err)
{
	const char *type = NULL;
	tk_model   *m;
	pgml_status st;
	const json_t *t;

	*out = NULL;
	if (!json_is_object(j))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json has no \"model\" object");
	t = json_object_get(j, "type");
	if (t != NULL && !json_is_string(t))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json model \"type\" must be a string");
	if (t != NULL)
		type = json_string_value(t);
	else if (json_is_array(json_object_get(j, "vocab")))
		type = "Unigram";
	else if (json_object_get(j, "merges") != NULL)
		type = "BPE";
	else if (json_object_get(j, "continuing_subword_prefix") != NULL)
		type = "WordPiece";
	else
		type = "WordLevel";
	m = pgml_calloc(1, sizeof(*m));
	if (m == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	m->unk = -1;
	if (strcmp(type, "WordPiece") == 0)
	{
		int64_t		mx;

		m->kind = M_WORDPIECE;
		if ((st = load_vocab_dict(m, json_object_get(j, "vocab"), type, err)) != PGML_OK ||
			(st = set_unk(m, j, type, err)) != PGML_OK)
			goto fail;
		if ((st = opt_string(j, "continuing_subword_prefix", &m->prefix, &m->prefix_len, err)) != PGML_OK)
			goto fail;
		if (json_object_get(j, "continuing_subword_prefix") == NULL)
		{
			pgml_free(m->prefix);
			m->prefix = pgml_strdup("##");
			m->prefix_len = 2;
			if (m->prefix == NULL)
				goto oom;
		}
		if ((st = pgml_json_get_int(j, "max_input_chars_per_word", 100, 0, INT32_MAX, &mx, err)) != PGML_OK)
		{
			st = PGML_ERR_DATA;
			goto fail;
		}
		m->max_chars = (size_t) mx;
		if (m->unk < 0)
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json WordPiece model needs an unk_token in the vocabulary");
			goto fail;
		}
	}
	else if (strcmp(type, "BPE") == 0)
	{
		m->kind = M_BPE;
		if ((st = load_vocab_dict(m, json_object_get(j, "vocab"), type, err)) != PGML_OK ||
			(st = set_unk(m, j, type, err)) != PGML_OK ||
			(st = opt_string(j, "continuing_subword_prefix", &m->prefix, &m->prefix_len, err)) != PGML_OK ||
			(st = opt_string(j, "end_of_word_suffix", &m->suffix, &m->suffix_len, err)) != PGML_OK ||
			(st = tk_get_bool(j, "ignore_merges", false, &m->ignore_merges, err)) != PGML_OK ||
			(st = tk_get_bool(j, "byte_fallback", false, &m->byte_fallback, err)) != PGML_OK ||
			(st = tk_get_bool(j, "fuse_unk", false, &m->fuse_unk, err)) != PGML_OK)
			goto fail;
		{
			const json_t *d = json_object_get(j, "dropout");

			if (d != NULL && !json_is_null(d) && !(json_is_number(d) && json_number_value(d) == 0.0))
			{
				st = pgml_error(err, PGML_ERR_NOT_SUPPORTED, "tokenizer.json BPE model: dropout is not supported");
				goto fail;
			}
		}
		if ((st = load_merges(m, json_object_get(j, "merges"), err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "Unigram") == 0)
	{
		m->kind = M_UNIGRAM;
		if ((st = load_unigram(m, j, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "WordLevel") == 0)
	{
		m->kind = M_WORDLEVEL;
		if ((st = load_vocab_dict(m, json_object_get(j, "vocab"), type, err)) != PGML_OK ||
			(st = set_unk(m, j, type, err)) != PGML_OK)
			goto fail;
	}
	else
	{
		st = pgml_error(err, PGML_ERR_NOT_SUPPORTED, "tokenizer.json model \"%s\" is not supported", type);
		goto fail;
	}
	*out = m;
	return PGML_OK;
oom:
	st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
fail:
	tk_model_free(m);
	return st;
}

/* ---------------------------------------------------------------------------------------------------
 * WordPiece
 * ------------------------------------------------------------------------------------------------- */

static pgml_status
emit(tk_ctx *c, tk_toks *out, const tk_str *w, int32_t id, size_t b, size_t e)
{
	uint32_t	ob,
				oe;

	tk_orig_range(w, b, e, &ob, &oe);
	return tk_toks_push(c, out, id, ob, oe);
}

static pgml_status
wordpiece(const tk_model *m, tk_ctx *c, const tk_str *w, tk_toks *out)
{
	size_t		nchars = 0,
				start = 0,
				first = out->n;
	char	   *buf;
	pgml_status st;

	for (size_t i = 0; i < w->len; i += (size_t) tk_utf8_len((unsigned char) w->s[i]))
		nchars++;
	if (nchars > m->max_chars)
		return emit(c, out, w, m->unk, 0, w->len);
	buf = tk_alloc(c, w->len + m->prefix_len);
	if (buf == NULL)
		return tk_oom(c);
	memcpy(buf, m->prefix, m->prefix_len);
	while (start < w->len)
	{
		size_t		end = w->len;
		int32_t		id = -1;

		while (start < end)
		{
			if (start == 0)
				id = tk_vocab_get(&m->vocab, w->s, end);
			else
			{
				memcpy(buf + m->prefix_len, w->s + start, end - start);
				id = tk_vocab_get(&m->vocab, buf, m->prefix_len + end - start);
			}
			if (id >= 0)
				break;
			end--;
			while (end > start && ((unsigned char) w->s[end] & 0xC0) == 0x80)
				end--;
		}
		if (id < 0)
		{
			out->n = first;
			return emit(c, out, w, m->unk, 0, w->len);
		}
		if ((st = emit(c, out, w, id, start, end)) != PGML_OK)
			return st;
		start = end;
	}
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * BPE
 * ------------------------------------------------------------------------------------------------- */

typedef struct sym
{
	int32_t		id;
	uint32_t	start;
	uint32_t	len;
	int32_t		prev;
	int32_t		next;
} sym;

typedef struct hent
{
	int32_t		rank;
	int32_t		left;
	int32_t		right;
	int32_t		lid;
	int32_t		rid;
	int32_t		nid;
} hent;

static inline bool
hless(const hent *a, const hent *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void
heap_push(hent *h, size_t *n, hent e)
{
	size_t		i = (*n)++;

	h[i] = e;
	while (i > 0)
	{
		size_t		p = (i - 1) / 2;

		if (!hless(&h[i], &h[p]))
			break;
		hent		t = h[i];

		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static hent
heap_pop(hent *h, size_t *n)
{
	hent		top = h[0];
	size_t		i = 0;

	h[0] = h[--(*n)];
	for (;;)
	{
		size_t		l = 2 * i + 1,
					r = l + 1,
					s = i;

		if (l < *n && hless(&h[l], &h[s]))
			s = l;
		if (r < *n && hless(&h[r], &h[s]))
			s = r;
		if (s == i)
			break;
		hent		t = h[i];

		h[i] = h[s];
		h[s] = t;
		i = s;
	}
	return top;
}

static pgml_status
bpe(const tk_model *m, tk_ctx *c, const tk_str *w, tk_toks *out)
{
	sym		   *sy;
	hent	   *heap;
	size_t		ns = 0,
				nh = 0,
				hcap;
	char	   *buf;
	pgml_status st;

	if (m->ignore_merges)
	{
		int32_t		id = tk_vocab_get(&m->vocab, w->s, w->len);

		if (id >= 0)
			return emit(c, out, w, id, 0, w->len);
	}
	sy = tk_alloc(c, w->len * sizeof(sym));
	hcap = w->len * 2 + 4;
	heap = tk_alloc(c, hcap * sizeof(hent));
	buf = tk_alloc(c, w->len + m->prefix_len + m->suffix_len + 8);
	if (sy == NULL || heap == NULL || buf == NULL)
		return tk_oom(c);
	for (size_t i = 0; i < w->len;)
	{
		size_t		l = (size_t) tk_utf8_len((unsigned char) w->s[i]);
		int32_t		id;
		size_t		kl = 0;

		if (i + l > w->len)
			l = w->len - i;
		if (i > 0 && m->prefix_len)
		{
			memcpy(buf, m->prefix, m->prefix_len);
			kl = m->prefix_len;
		}
		memcpy(buf + kl, w->s + i, l);
		kl += l;
		if (i + l == w->len && m->suffix_len)
		{
			memcpy(buf + kl, m->suffix, m->suffix_len);
			kl += m->suffix_len;
		}
		id = tk_vocab_get(&m->vocab, buf, kl);
		if (id >= 0)
		{
			sy[ns].id = id;
			sy[ns].start = (uint32_t) i;
			sy[ns].len = (uint32_t) l;
			ns++;
		}
		else
		{
			bool		done = false;

			if (m->byte_fallback)
			{
				size_t		k;

				for (k = 0; k < l; k++)
					if (m->byte_id[(unsigned char) w->s[i + k]] < 0)
						break;
				if (k == l)
				{
					for (k = 0; k < l; k++)
					{
						sy[ns].id = m->byte_id[(unsigned char) w->s[i + k]];
						sy[ns].start = (uint32_t) (i + k);
						sy[ns].len = 1;
						ns++;
					}
					done = true;
				}
			}
			if (!done && m->unk >= 0)
			{
				if (m->fuse_unk && ns > 0 && sy[ns - 1].id == m->unk &&
					sy[ns - 1].start + sy[ns - 1].len == i)
					sy[ns - 1].len += (uint32_t) l;
				else
				{
					sy[ns].id = m->unk;
					sy[ns].start = (uint32_t) i;
					sy[ns].len = (uint32_t) l;
					ns++;
				}
			}
		}
		i += l;
	}
	for (size_t i = 0; i < ns; i++)
	{
		sy[i].prev = (int32_t) i - 1;
		sy[i].next = i + 1 < ns ? (int32_t) i + 1 : -1;
	}
	for (size_t i = 0; i + 1 < ns; i++)
	{
		hent		e;

		if (merge_get(m, sy[i].id, sy[i + 1].id, &e.rank, &e.nid))
		{
			e.left = (int32_t) i;
			e.right = (int32_t) i + 1;
			e.lid = sy[i].id;
			e.rid = sy[i + 1].id;
			heap_push(heap, &nh, e);
		}
	}
	while (nh > 0)
	{
		hent		e = heap_pop(heap, &nh);
		sym		   *l = &sy[e.left];
		sym		   *r;
		hent		ne;

		if (l->len == 0 || l->next != e.right || l->id != e.lid)
			continue;
		r = &sy[e.right];
		if (r->len == 0 || r->id != e.rid)
			continue;
		l->id = e.nid;
		l->len += r->len;
		r->len = 0;
		l->next = r->next;
		if (r->next >= 0)
			sy[r->next].prev = e.left;
		if (nh + 2 > hcap)
		{
			hent	   *nhp = tk_alloc(c, hcap * 2 * sizeof(hent));

			if (nhp == NULL)
				return tk_oom(c);
			memcpy(nhp, heap, nh * sizeof(hent));
			heap = nhp;
			hcap *= 2;
		}
		if (l->prev >= 0 && merge_get(m, sy[l->prev].id, l->id, &ne.rank, &ne.nid))
		{
			ne.left = l->prev;
			ne.right = e.left;
			ne.lid = sy[l->prev].id;
			ne.rid = l->id;
			heap_push(heap, &nh, ne);
		}
		if (l->next >= 0 && merge_get(m, l->id, sy[l->next].id, &ne.rank, &ne.nid))
		{
			ne.left = e.left;
			ne.right = l->next;
			ne.lid = l->id;
			ne.rid = sy[l->next].id;
			heap_push(heap, &nh, ne);
		}
	}
	for (int32_t i = ns ? 0 : -1; i >= 0; i = sy[i].next)
		if ((st = emit(c, out, w, sy[i].id, sy[i].start, sy[i].start + sy[i].len)) != PGML_OK)
			return st;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Unigram
 * ------------------------------------------------------------------------------------------------- */

typedef struct vnode
{
	double		score;
	int32_t		start;			/* -1: unreached */
	int32_t		id;
} vnode;

static pgml_status
unigram(const tk_model *m, tk_ctx *c, const tk_str *w, tk_toks *out)
{
	vnode	   *best = tk_alloc(c, (w->len + 1) * sizeof(vnode));
	int32_t    *path;
	size_t		np = 0;
	pgml_status st;

	if (best == NULL)
		return tk_oom(c);
	for (size_t i = 0; i <= w->len; i++)
		best[i].start = -1;
	best[0].score = 0;
	best[0].start = 0;
	for (size_t s = 0; s < w->len;)
	{
		size_t		mb = (size_t) tk_utf8_len((unsigned char) w->s[s]);
		double		base = best[s].score;
		bool		single = false;

		int32_t		node = 0;

		for (size_t e = s; e < w->len;)
		{
			int32_t		id;

			node = trie_child(m, node, (uint8_t) w->s[e]);
			if (node < 0)
				break;
			e++;
			id = m->tterm[node];
			if (id >= 0)
			{
				double		cand = base + m->scores[id];

				if (best[e].start < 0 || cand > best[e].score)
				{
					best[e].score = cand;
					best[e].start = (int32_t) s;
					best[e].id = id;
				}
				if (e - s == mb)
					single = true;
			}
		}
		if (!single)
		{
			double		cand = base + m->unk_score;

			if (best[s + mb].start < 0 || cand > best[s + mb].score)
			{
				best[s + mb].score = cand;
				best[s + mb].start = (int32_t) s;
				best[s + mb].id = m->unk;
			}
		}
		s += mb;
	}
	path = tk_alloc(c, (w->len + 1) * sizeof(int32_t));
	if (path == NULL)
		return tk_oom(c);
	for (size_t e = w->len; e > 0; e = (size_t) best[e].start)
		path[np++] = (int32_t) e;
	/* path holds token ends, last first; fuse consecutive unknowns */
	for (size_t k = np; k-- > 0;)
	{
		size_t		e = (size_t) path[k];
		size_t		b = (size_t) best[e].start;
		int32_t		id = best[e].id;

		if (id < 0 || id == m->unk)
		{
			while (k > 0 && (best[path[k - 1]].id < 0 || best[path[k - 1]].id == m->unk))
			{
				k--;
				e = (size_t) path[k];
			}
			id = tk_vocab_get(&m->vocab, w->s + b, e - b);
			if (id < 0)
				id = m->unk;
		}
		if (id == m->unk && m->byte_fallback)
		{
			size_t		q;

			for (q = b; q < e; q++)
				if (m->byte_id[(unsigned char) w->s[q]] < 0)
					break;
			if (q == e)
			{
				for (q = b; q < e; q++)
					if ((st = emit(c, out, w, m->byte_id[(unsigned char) w->s[q]], b, e)) != PGML_OK)
						return st;
				continue;
			}
		}
		if (id < 0)
			return pgml_error(c->err, PGML_ERR_DATA, "text has a character the Unigram vocabulary cannot represent");
		if ((st = emit(c, out, w, id, b, e)) != PGML_OK)
			return st;
	}
	return PGML_OK;
}

pgml_status
tk_model_tokenize(const tk_model *m, tk_ctx *c, const tk_str *w, tk_toks *out)
{
	if (w->len == 0)
		return PGML_OK;
	switch (m->kind)
	{
		case M_WORDPIECE:
			return wordpiece(m, c, w, out);
		case M_BPE:
			return bpe(m, c, w, out);
		case M_UNIGRAM:
			return unigram(m, c, w, out);
		case M_WORDLEVEL:
			{
				int32_t		id = tk_vocab_get(&m->vocab, w->s, w->len);

				if (id < 0)
					id = m->unk;
				if (id < 0)
					return pgml_error(c->err, PGML_ERR_DATA, "WordLevel vocabulary has no entry and no unk_token for a word");
				return emit(c, out, w, id, 0, w->len);
			}
	}
	return PGML_OK;
}
