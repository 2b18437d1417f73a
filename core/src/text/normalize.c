/*
 * normalize.c — normalizers: BertNormalizer, NFC/NFD/NFKC/NFKD (utf8proc), Lowercase, StripAccents,
 * Replace, Prepend, Strip, Nmt, Precompiled (sentencepiece charsmaps), Sequence.
 *
 * Alignments follow the Rust library's transform rule: an output character that replaces input
 * characters takes the alignment of the input character at the read position; an inserted one takes
 * the alignment of the byte just before the read position.
 */
#include "tok_internal.h"

#include <string.h>
#include <utf8proc.h>

typedef enum
{
	N_BERT, N_UNICODE, N_LOWER, N_STRIP_ACCENTS, N_REPLACE, N_PREPEND, N_STRIP, N_NMT, N_PRECOMPILED,
	N_SEQUENCE
} norm_kind;

struct tk_norm
{
	norm_kind	kind;
	bool		clean_text, chinese, strip_accents, lowercase;	/* Bert */
	int			uni_opts;		/* utf8proc options */
	tk_pattern	pat;			/* Replace */
	char	   *content;		/* Replace content, Prepend string */
	bool		left, right;	/* Strip */
	uint32_t   *darts;			/* Precompiled */
	size_t		ndarts;
	char	   *pnorm;
	size_t		npnorm;
	tk_norm   **subs;
	size_t		nsubs;
};

void
tk_norm_free(tk_norm *n)
{
	if (n == NULL)
		return;
	tk_pattern_free(&n->pat);
	pgml_free(n->content);
	pgml_free(n->darts);
	pgml_free(n->pnorm);
	for (size_t i = 0; i < n->nsubs; i++)
		tk_norm_free(n->subs[i]);
	pgml_free(n->subs);
	pgml_free(n);
}

static const char b64tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static pgml_status
load_precompiled(tk_norm *n, const json_t *j, pgml_err *err)
{
	const json_t *cm = json_object_get(j, "precompiled_charsmap");
	const char *s;
	size_t		len,
				olen = 0;
	unsigned char *raw;
	uint32_t	acc = 0;
	int			bits = 0;
	uint32_t	trie_size;

	if (cm == NULL || json_is_null(cm))
	{
		n->kind = N_SEQUENCE;	/* an empty charsmap: the identity */
		return PGML_OK;
	}
	if (!json_is_string(cm))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json Precompiled: \"precompiled_charsmap\" must be a string");
	s = json_string_value(cm);
	len = json_string_length(cm);
	raw = pgml_malloc(len / 4 * 3 + 4);
	if (raw == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	for (size_t i = 0; i < len; i++)
	{
		const char *p;

		if (s[i] == '=')
			break;
		p = strchr(b64tab, s[i]);
		if (p == NULL || s[i] == '\0')
		{
			pgml_free(raw);
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json Precompiled: invalid base64 in the charsmap");
		}
		acc = (acc << 6) | (uint32_t) (p - b64tab);
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			raw[olen++] = (unsigned char) (acc >> bits);
		}
	}
	if (olen < 4)
		goto bad;
	memcpy(&trie_size, raw, 4);
	if (trie_size % 4 != 0 || trie_size > olen - 4 || trie_size == 0)
		goto bad;
	n->ndarts = trie_size / 4;
	n->darts = pgml_malloc(trie_size);
	n->npnorm = olen - 4 - trie_size;
	n->pnorm = pgml_malloc(n->npnorm + 1);
	if (n->darts == NULL || n->pnorm == NULL)
	{
		pgml_free(raw);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	}
	memcpy(n->darts, raw + 4, trie_size);
	memcpy(n->pnorm, raw + 4 + trie_size, n->npnorm);
	n->pnorm[n->npnorm] = '\0';
	pgml_free(raw);
	return PGML_OK;
bad:
	pgml_free(raw);
	return pgml_error(err, PGML_ERR_DATA, "tokenizer.json Precompiled: the charsmap is truncated or corrupt");
}

pgml_status
tk_norm_load(const json_t *j, tk_norm **out, pgml_err *err)
{
	const char *type;
	tk_norm    *n;
	pgml_status st;

	*out = NULL;
	if ((st = tk_json_type(j, "normalizer", &type, err)) != PGML_OK)
		return st;
	n = pgml_calloc(1, sizeof(*n));
	if (n == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	if (strcmp(type, "BertNormalizer") == 0)
	{
		const json_t *sa = json_object_get(j, "strip_accents");

		n->kind = N_BERT;
		if ((st = tk_get_bool(j, "clean_text", true, &n->clean_text, err)) != PGML_OK ||
			(st = tk_get_bool(j, "handle_chinese_chars", true, &n->chinese, err)) != PGML_OK ||
			(st = tk_get_bool(j, "lowercase", true, &n->lowercase, err)) != PGML_OK)
			goto fail;
		if (sa == NULL || json_is_null(sa))
			n->strip_accents = n->lowercase;
		else if (json_is_boolean(sa))
			n->strip_accents = json_is_true(sa);
		else
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json BertNormalizer: \"strip_accents\" must be a boolean");
			goto fail;
		}
	}
	else if (strcmp(type, "NFC") == 0 || strcmp(type, "NFD") == 0 || strcmp(type, "NFKC") == 0 ||
			 strcmp(type, "NFKD") == 0)
	{
		n->kind = N_UNICODE;
		n->uni_opts = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
		if (strchr(type, 'C'))
			n->uni_opts |= UTF8PROC_COMPOSE;
		if (type[2] == 'K' || type[1] == 'K')
			n->uni_opts |= UTF8PROC_COMPAT;
	}
	else if (strcmp(type, "Lowercase") == 0)
		n->kind = N_LOWER;
	else if (strcmp(type, "StripAccents") == 0)
		n->kind = N_STRIP_ACCENTS;
	else if (strcmp(type, "Nmt") == 0)
		n->kind = N_NMT;
	else if (strcmp(type, "Replace") == 0)
	{
		const char *content;

		n->kind = N_REPLACE;
		if ((st = tk_pattern_load(json_object_get(j, "pattern"), "Replace normalizer", &n->pat, err)) != PGML_OK)
			goto fail;
		if ((st = tk_get_str(j, "content", NULL, &content, err)) != PGML_OK)
			goto fail;
		if (content == NULL)
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json Replace normalizer has no \"content\"");
			goto fail;
		}
		if ((n->content = pgml_strdup(content)) == NULL)
			goto oom;
	}
	else if (strcmp(type, "Prepend") == 0)
	{
		const char *p;

		n->kind = N_PREPEND;
		if ((st = tk_get_str(j, "prepend", NULL, &p, err)) != PGML_OK)
			goto fail;
		if (p == NULL)
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json Prepend normalizer has no \"prepend\"");
			goto fail;
		}
		if ((n->content = pgml_strdup(p)) == NULL)
			goto oom;
	}
	else if (strcmp(type, "Strip") == 0)
	{
		n->kind = N_STRIP;
		if ((st = tk_get_bool(j, "strip_left", true, &n->left, err)) != PGML_OK ||
			(st = tk_get_bool(j, "strip_right", true, &n->right, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "Precompiled") == 0)
	{
		n->kind = N_PRECOMPILED;
		if ((st = load_precompiled(n, j, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "Sequence") == 0)
	{
		const json_t *arr = json_object_get(j, "normalizers");
		size_t		i;
		json_t	   *v;

		n->kind = N_SEQUENCE;
		if (!json_is_array(arr))
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json Sequence normalizer: \"normalizers\" must be an array");
			goto fail;
		}
		n->subs = pgml_calloc(json_array_size(arr) + 1, sizeof(tk_norm *));
		if (n->subs == NULL)
			goto oom;
		json_array_foreach(arr, i, v)
		{
			if ((st = tk_norm_load(v, &n->subs[i], err)) != PGML_OK)
				goto fail;
			n->nsubs = i + 1;
		}
	}
	else
	{
		st = pgml_error(err, PGML_ERR_NOT_SUPPORTED, "tokenizer.json normalizer \"%s\" is not supported", type);
		goto fail;
	}
	*out = n;
	return PGML_OK;
oom:
	st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
fail:
	tk_norm_free(n);
	return st;
}

/* ---------------------------------------------------------------------------------------------------
 * The streaming transform
 * ------------------------------------------------------------------------------------------------- */

typedef struct xf
{
	const tk_str *in;
	size_t		rd;				/* read position (bytes) in in */
	tk_sb		sb;
} xf;

static void
xf_init(xf *x, tk_ctx *c, const tk_str *in, size_t extra)
{
	x->in = in;
	x->rd = 0;
	tk_sb_init(&x->sb, c->arena, in->len + extra + 8);
}

/* Copies the input character at the read position unchanged. */
static inline void
xf_copy(xf *x)
{
	size_t		l = (size_t) tk_utf8_len((unsigned char) x->in->s[x->rd]);

	if (x->sb.len + l <= x->sb.cap)
	{
		memcpy(x->sb.s + x->sb.len, x->in->s + x->rd, l);
		memcpy(x->sb.al + 2 * x->sb.len, x->in->al + 2 * x->rd, l * 2 * sizeof(uint32_t));
		x->sb.len += l;
	}
	else
		tk_sb_put(&x->sb, x->in->s + x->rd, l, x->in->al[2 * x->rd], x->in->al[2 * x->rd + 1]);
	x->rd += l;
}

static inline void
xf_skip(xf *x, size_t nchars)
{
	while (nchars-- > 0 && x->rd < x->in->len)
		x->rd += (size_t) tk_utf8_len((unsigned char) x->in->s[x->rd]);
}

/* Emits cp: change > 0 inserts, change <= 0 replaces the character at the read position and then
 * removes -change more. */
static void
xf_emit(xf *x, int32_t cp, int change)
{
	uint32_t	b = 0,
				e = 0;

	if (change > 0 || x->rd >= x->in->len)
	{
		if (x->rd > 0)
		{
			b = x->in->al[2 * (x->rd - 1)];
			e = x->in->al[2 * (x->rd - 1) + 1];
		}
	}
	else
	{
		b = x->in->al[2 * x->rd];
		e = x->in->al[2 * x->rd + 1];
		xf_skip(x, 1);
	}
	tk_sb_put_cp(&x->sb, cp, b, e);
	if (change < 0)
		xf_skip(x, (size_t) -change);
}

static pgml_status
xf_done(xf *x, tk_ctx *c, tk_str *s)
{
	return tk_sb_done(&x->sb, c, s);
}

static bool
all_ascii(const tk_str *s)
{
	for (size_t i = 0; i < s->len; i++)
		if ((unsigned char) s->s[i] >= 0x80)
			return false;
	return true;
}

/* ---------------------------------------------------------------------------------------------------
 * Unicode normalization forms, per segment (a starter and what may combine with it)
 * ------------------------------------------------------------------------------------------------- */

static bool
is_boundary(int32_t cp)
{
	const utf8proc_property_t *p;

	if (cp < 0x80)
		return true;
	if ((cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2))
		return false;
	p = utf8proc_get_property(cp);
	if (p->combining_class != 0)
		return false;
	switch (p->category)
	{
		case UTF8PROC_CATEGORY_MN:
		case UTF8PROC_CATEGORY_MC:
		case UTF8PROC_CATEGORY_ME:
			return false;
		default:
			return true;
	}
}

/*
 * Normalizes the segment [b, e) of x->in at the read position into x, tracking changes as the Rust
 * library does: each input character decomposes into its first character (replacing it) and insertions;
 * canonical reordering moves characters with their changes; a composition folds a character into its
 * starter (the starter then also consumes what the folded character consumed).
 */
static pgml_status
unicode_segment(xf *x, tk_ctx *c, size_t b, size_t e, int opts)
{
	int32_t		stackcp[64];
	int			stackch[64];
	int32_t    *cps = stackcp;
	int		   *ch = stackch;
	size_t		cap = 64,
				k = 0;

	for (size_t i = b; i < e;)
	{
		int32_t		cp,
					tmp[32];
		int			l = tk_utf8_decode(x->in->s + i, e - i, &cp);
		int			bound = 0;
		utf8proc_ssize_t nd = utf8proc_decompose_char(cp, tmp, 32, (utf8proc_option_t) (opts & ~UTF8PROC_COMPOSE), &bound);

		if (nd < 0 || nd > 32)
			return pgml_error(c->err, PGML_ERR_DATA, "unicode normalization failed");
		if (k + (size_t) nd > cap)
		{
			size_t		ncap = (cap + (size_t) nd) * 2;
			int32_t    *ncp = tk_alloc(c, ncap * sizeof(int32_t));
			int		   *nch = tk_alloc(c, ncap * sizeof(int));

			if (ncp == NULL || nch == NULL)
				return tk_oom(c);
			memcpy(ncp, cps, k * sizeof(int32_t));
			memcpy(nch, ch, k * sizeof(int));
			cps = ncp;
			ch = nch;
			cap = ncap;
		}
		for (utf8proc_ssize_t j = 0; j < nd; j++)
		{
			cps[k] = tmp[j];
			ch[k] = j == 0 ? 0 : 1;
			k++;
		}
		i += (size_t) l;
	}
	/* canonical ordering: a stable sort of each run of non-starters by combining class */
	for (size_t i = 1; i < k; i++)
	{
		size_t		j = i;
		int			ci = utf8proc_get_property(cps[i])->combining_class;

		if (ci == 0)
			continue;
		while (j > 0)
		{
			int			cj = utf8proc_get_property(cps[j - 1])->combining_class;

			if (cj == 0 || cj <= ci)
				break;
			{
				int32_t		tc = cps[j];
				int			th = ch[j];

				cps[j] = cps[j - 1];
				ch[j] = ch[j - 1];
				cps[j - 1] = tc;
				ch[j - 1] = th;
			}
			j--;
		}
	}
	if (opts & UTF8PROC_COMPOSE)
	{
		size_t		w = 0;
		long		starter = -1;
		int			last_cc = -1;

		for (size_t i = 0; i < k; i++)
		{
			int			cc = utf8proc_get_property(cps[i])->combining_class;

			if (starter >= 0 && (last_cc < cc || (last_cc == 0 && (size_t) starter == w - 1)))
			{
				int32_t		pair[2] = {cps[starter], cps[i]};

				if (utf8proc_normalize_utf32(pair, 2, (utf8proc_option_t) (UTF8PROC_STABLE | UTF8PROC_COMPOSE)) == 1)
				{
					cps[starter] = pair[0];
					ch[starter] += ch[i] - 1;
					continue;
				}
			}
			if (cc == 0)
			{
				starter = (long) w;
				last_cc = 0;
			}
			else
				last_cc = cc;
			cps[w] = cps[i];
			ch[w] = ch[i];
			w++;
		}
		k = w;
	}
	for (size_t j = 0; j < k; j++)
		xf_emit(x, cps[j], ch[j]);
	return PGML_OK;
}

static pgml_status
norm_unicode(tk_ctx *c, tk_str *s, int opts)
{
	xf			x;
	size_t		i = 0;
	pgml_status st;

	if (all_ascii(s))
		return PGML_OK;
	xf_init(&x, c, s, s->len / 2);
	while (i < s->len)
	{
		size_t		j = i;
		int32_t		cp;

		/* ASCII followed by ASCII (or the end) is its own normal form */
		if ((unsigned char) s->s[i] < 0x80 && (i + 1 >= s->len || (unsigned char) s->s[i + 1] < 0x80))
		{
			xf_copy(&x);
			i++;
			continue;
		}
		j += (size_t) tk_utf8_decode(s->s + j, s->len - j, &cp);
		while (j < s->len)
		{
			int			l = tk_utf8_decode(s->s + j, s->len - j, &cp);

			if (is_boundary(cp))
				break;
			j += (size_t) l;
		}
		if ((st = unicode_segment(&x, c, i, j, opts)) != PGML_OK)
			return st;
		i = j;
	}
	return xf_done(&x, c, s);
}

/* Drops marks: all of M* (StripAccents), or the nonspacing ones of the Rust library's tables (BERT). */
static pgml_status
norm_drop_marks(tk_ctx *c, tk_str *s, bool bert)
{
	xf			x;

	if (all_ascii(s))
		return PGML_OK;
	xf_init(&x, c, s, 0);
	while (x.rd < s->len)
	{
		int32_t		cp;

		tk_utf8_decode(s->s + x.rd, s->len - x.rd, &cp);
		if (bert ? tk_compat_bert_mark(cp) : tk_compat_combining(cp))
			xf_skip(&x, 1);
		else
			xf_copy(&x);
	}
	return xf_done(&x, c, s);
}

/* Decomposes (NFD) and drops nonspacing marks (BertNormalizer). */
static pgml_status
norm_strip_accents(tk_ctx *c, tk_str *s)
{
	pgml_status st;

	if (all_ascii(s))
		return PGML_OK;
	if ((st = norm_unicode(c, s, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE)) != PGML_OK)
		return st;
	return norm_drop_marks(c, s, true);
}

static pgml_status
norm_lower(tk_ctx *c, tk_str *s)
{
	xf			x;

	xf_init(&x, c, s, 8);
	while (x.rd < s->len)
	{
		unsigned char ch = (unsigned char) s->s[x.rd];
		int32_t		cp,
					lc;

		if (ch < 0x80)
		{
			char		o = (ch >= 'A' && ch <= 'Z') ? (char) (ch + 32) : (char) ch;

			tk_sb_put(&x.sb, &o, 1, s->al[2 * x.rd], s->al[2 * x.rd + 1]);
			x.rd++;
			continue;
		}
		tk_utf8_decode(s->s + x.rd, s->len - x.rd, &cp);
		if (cp == 0x130)
		{
			xf_emit(&x, 'i', 0);
			xf_emit(&x, 0x307, 1);
			continue;
		}
		lc = utf8proc_tolower(cp);
		if (lc == cp)
			xf_copy(&x);
		else
			xf_emit(&x, lc, 0);
	}
	return xf_done(&x, c, s);
}

static pgml_status
norm_bert(const tk_norm *n, tk_ctx *c, tk_str *s)
{
	pgml_status st;

	if (n->clean_text || n->chinese)
	{
		xf			x;

		xf_init(&x, c, s, s->len);
		while (x.rd < s->len)
		{
			int32_t		cp;

			tk_utf8_decode(s->s + x.rd, s->len - x.rd, &cp);
			if (n->clean_text && (cp == 0 || cp == 0xFFFD || tk_compat_bert_removed(cp)))
				xf_skip(&x, 1);
			else if (n->clean_text && cp != ' ' && tk_compat_bert_space(cp))
				xf_emit(&x, ' ', 0);
			else if (n->chinese && tk_is_chinese(cp))
			{
				xf_emit(&x, ' ', 0);
				xf_emit(&x, cp, 1);
				xf_emit(&x, ' ', 1);
			}
			else
				xf_copy(&x);
		}
		if ((st = xf_done(&x, c, s)) != PGML_OK)
			return st;
	}
	if (n->strip_accents && (st = norm_strip_accents(c, s)) != PGML_OK)
		return st;
	if (n->lowercase && (st = norm_lower(c, s)) != PGML_OK)
		return st;
	return PGML_OK;
}

static pgml_status
norm_replace(const tk_norm *n, tk_ctx *c, tk_str *s)
{
	uint32_t   *m;
	size_t		nm;
	xf			x;
	pgml_status st;
	size_t		clen = strlen(n->content);

	if ((st = tk_pattern_find(&n->pat, c, s->s, s->len, &m, &nm)) != PGML_OK)
		return st;
	if (nm == 0)
		return PGML_OK;
	xf_init(&x, c, s, nm * (clen + 1));
	for (size_t k = 0; k < nm; k++)
	{
		while (x.rd < m[2 * k])
			xf_copy(&x);
		x.rd = m[2 * k + 1];
		for (size_t i = 0; i < clen;)
		{
			int32_t		cp;

			i += (size_t) tk_utf8_decode(n->content + i, clen - i, &cp);
			xf_emit(&x, cp, 1);
		}
	}
	while (x.rd < s->len)
		xf_copy(&x);
	return xf_done(&x, c, s);
}

static pgml_status
norm_prepend(const tk_norm *n, tk_ctx *c, tk_str *s)
{
	xf			x;
	size_t		plen = strlen(n->content);
	int32_t		first;
	size_t		i = 0;

	if (s->len == 0 || plen == 0)
		return PGML_OK;
	xf_init(&x, c, s, plen);
	tk_utf8_decode(s->s, s->len, &first);
	while (i < plen)
	{
		int32_t		cp;

		i += (size_t) tk_utf8_decode(n->content + i, plen - i, &cp);
		xf_emit(&x, cp, i == (size_t) tk_utf8_len((unsigned char) n->content[0]) ? 0 : 1);
	}
	xf_emit(&x, first, 1);
	while (x.rd < s->len)
		xf_copy(&x);
	return xf_done(&x, c, s);
}

static pgml_status
norm_strip(const tk_norm *n, tk_ctx *c, tk_str *s)
{
	size_t		b = 0,
				e = s->len;

	(void) c;
	if (n->left)
		while (b < e)
		{
			int32_t		cp;
			int			l = tk_utf8_decode(s->s + b, e - b, &cp);

			if (!tk_is_whitespace(cp))
				break;
			b += (size_t) l;
		}
	if (n->right)
		while (e > b)
		{
			size_t		p = e - 1;
			int32_t		cp;

			while (p > b && ((unsigned char) s->s[p] & 0xC0) == 0x80)
				p--;
			tk_utf8_decode(s->s + p, e - p, &cp);
			if (!tk_is_whitespace(cp))
				break;
			e = p;
		}
	s->s += b;
	s->al += 2 * b;
	s->len = e - b;
	return PGML_OK;
}

static pgml_status
norm_nmt(tk_ctx *c, tk_str *s)
{
	xf			x;

	xf_init(&x, c, s, 0);
	while (x.rd < s->len)
	{
		int32_t		cp;

		tk_utf8_decode(s->s + x.rd, s->len - x.rd, &cp);
		if ((cp >= 1 && cp <= 8) || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F || cp == 0x8F ||
			cp == 0x9F)
			xf_skip(&x, 1);
		else if (cp == 0x09 || cp == 0x0A || cp == 0x0C || cp == 0x0D || cp == 0x1680 ||
				 (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 || cp == 0x2029 || cp == 0x2581 ||
				 cp == 0xFEFF || cp == 0xFFFD)
			xf_emit(&x, ' ', 0);
		else
			xf_copy(&x);
	}
	return xf_done(&x, c, s);
}

/* ---------------------------------------------------------------------------------------------------
 * Precompiled: a darts-clone double array mapping byte strings to replacement strings
 * ------------------------------------------------------------------------------------------------- */

/* The replacement for the longest... the first prefix match of key[0..n) that is all of key, or NULL. */
static const char *
darts_lookup(const tk_norm *n, const unsigned char *key, size_t len, size_t *matched)
{
	size_t		pos = 0;
	uint32_t	u;

	if (n->ndarts == 0)
		return NULL;
	u = n->darts[0];
	pos ^= (size_t) ((u >> 10) << ((u & (1U << 9)) >> 6));
	for (size_t i = 0; i < len; i++)
	{
		pos ^= key[i];
		if (pos >= n->ndarts)
			return NULL;
		u = n->darts[pos];
		if ((u & ((1U << 31) | 0xFF)) != key[i])
			return NULL;
		pos ^= (size_t) ((u >> 10) << ((u & (1U << 9)) >> 6));
		if (pos >= n->ndarts)
			return NULL;
		if ((u >> 8) & 1)
		{
			uint32_t	v = n->darts[pos] & 0x7FFFFFFFU;

			if (v >= n->npnorm)
				return NULL;
			*matched = i + 1;
			return n->pnorm + v;	/* NUL-terminated inside pnorm */
		}
	}
	return NULL;
}

/* Replaces m characters by rep, as the Rust library does: when characters are removed, the last output
 * character so far carries the removal; with no output yet, the removal is lost and later characters
 * take the alignments of earlier ones. */
static void
emit_replacement(xf *x, const char *rep, size_t m)
{
	size_t		k = 0,
				rl = strlen(rep);

	for (size_t i = 0; i < rl;)
	{
		int32_t		cp;

		i += (size_t) tk_utf8_decode(rep + i, rl - i, &cp);
		xf_emit(x, cp, k < m ? 0 : 1);
		k++;
	}
	if (k < m && x->sb.len > 0)
		xf_skip(x, m - k);
}

static pgml_status
norm_precompiled(const tk_norm *n, tk_ctx *c, tk_str *s)
{
	xf			x;
	size_t		i = 0;
	bool		modified = false;

	xf_init(&x, c, s, s->len);
	while (i < s->len)
	{
		/* one extended grapheme cluster [i, j) */
		size_t		j = i,
					m = 0;
		int32_t		prev = -1,
					cp;
		utf8proc_int32_t state = 0;
		const char *rep;
		size_t		matched = 0;

		while (j < s->len)
		{
			int			l = tk_utf8_decode(s->s + j, s->len - j, &cp);

			if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, cp, &state))
				break;
			prev = cp;
			j += (size_t) l;
			m++;
		}
		if (j - i < 6 && (rep = darts_lookup(n, (const unsigned char *) s->s + i, j - i, &matched)) != NULL)
		{
			emit_replacement(&x, rep, m);
			modified = true;
			i = j;
			continue;
		}
		while (i < j)
		{
			size_t		l = (size_t) tk_utf8_len((unsigned char) s->s[i]);

			if ((rep = darts_lookup(n, (const unsigned char *) s->s + i, l, &matched)) != NULL)
			{
				emit_replacement(&x, rep, 1);
				modified = true;
			}
			else
			{
				tk_utf8_decode(s->s + i, l, &cp);
				xf_emit(&x, cp, 0);
			}
			i += l;
		}
	}
	if (!modified)
		return PGML_OK;
	return xf_done(&x, c, s);
}

pgml_status
tk_norm_apply(const tk_norm *n, tk_ctx *c, tk_str *s)
{
	pgml_status st;

	switch (n->kind)
	{
		case N_BERT:
			return norm_bert(n, c, s);
		case N_UNICODE:
			return norm_unicode(c, s, n->uni_opts);
		case N_LOWER:
			return norm_lower(c, s);
		case N_STRIP_ACCENTS:
			return norm_drop_marks(c, s, false);
		case N_REPLACE:
			return norm_replace(n, c, s);
		case N_PREPEND:
			return norm_prepend(n, c, s);
		case N_STRIP:
			return norm_strip(n, c, s);
		case N_NMT:
			return norm_nmt(c, s);
		case N_PRECOMPILED:
			return norm_precompiled(n, c, s);
		case N_SEQUENCE:
			for (size_t i = 0; i < n->nsubs; i++)
				if ((st = tk_norm_apply(n->subs[i], c, s)) != PGML_OK)
					return st;
			return PGML_OK;
	}
	return PGML_OK;
}
