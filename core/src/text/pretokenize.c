/*
 * pretokenize.c — pre-tokenizers: BertPreTokenizer, Whitespace, WhitespaceSplit, Metaspace, ByteLevel,
 * Split (string or PCRE2 regex), Punctuation, Digits, CharDelimiterSplit, Sequence.
 */
#include "tok_internal.h"

#include <string.h>

typedef enum
{
	P_BERT, P_WHITESPACE, P_WSSPLIT, P_METASPACE, P_BYTELEVEL, P_SPLIT, P_PUNCT, P_DIGITS, P_CHARDELIM,
	P_SEQUENCE
} pretok_kind;

struct tk_pretok
{
	pretok_kind kind;
	tk_behavior beh;
	bool		invert;
	tk_pattern	pat;			/* Split, Whitespace (regex), ByteLevel (GPT-2 regex) */
	bool		add_prefix_space;
	bool		use_regex;
	bool		individual;		/* Digits */
	int32_t		delim;			/* CharDelimiterSplit */
	char		rep[8];			/* Metaspace replacement (UTF-8) */
	int			rep_len;
	int			prepend;		/* Metaspace: 0 never, 1 first, 2 always */
	bool		split;
	tk_pretok **subs;
	size_t		nsubs;
};

static const char *const GPT2_RE =
"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

void
tk_pretok_free(tk_pretok *p)
{
	if (p == NULL)
		return;
	tk_pattern_free(&p->pat);
	for (size_t i = 0; i < p->nsubs; i++)
		tk_pretok_free(p->subs[i]);
	pgml_free(p->subs);
	pgml_free(p);
}

static pgml_status
get_behavior(const json_t *j, const char *what, tk_behavior def, tk_behavior *out, pgml_err *err)
{
	const char *b;
	pgml_status st = tk_get_str(j, "behavior", NULL, &b, err);

	if (st != PGML_OK)
		return st;
	if (b == NULL)
		*out = def;
	else if (strcmp(b, "Removed") == 0)
		*out = TK_REMOVED;
	else if (strcmp(b, "Isolated") == 0)
		*out = TK_ISOLATED;
	else if (strcmp(b, "MergedWithPrevious") == 0)
		*out = TK_MERGED_PREV;
	else if (strcmp(b, "MergedWithNext") == 0)
		*out = TK_MERGED_NEXT;
	else if (strcmp(b, "Contiguous") == 0)
		*out = TK_CONTIGUOUS;
	else
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json %s: unknown behavior \"%s\"", what, b);
	return PGML_OK;
}

pgml_status
tk_pretok_load(const json_t *j, tk_pretok **out, pgml_err *err)
{
	const char *type;
	tk_pretok  *p;
	pgml_status st;

	*out = NULL;
	if ((st = tk_json_type(j, "pre_tokenizer", &type, err)) != PGML_OK)
		return st;
	p = pgml_calloc(1, sizeof(*p));
	if (p == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	if (strcmp(type, "BertPreTokenizer") == 0)
		p->kind = P_BERT;
	else if (strcmp(type, "Whitespace") == 0)
	{
		p->kind = P_WHITESPACE;
		if ((st = tk_regex_compile("\\w+|[^\\w\\s]+", "Whitespace", &p->pat.re, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "WhitespaceSplit") == 0)
		p->kind = P_WSSPLIT;
	else if (strcmp(type, "ByteLevel") == 0)
	{
		p->kind = P_BYTELEVEL;
		if ((st = tk_get_bool(j, "add_prefix_space", true, &p->add_prefix_space, err)) != PGML_OK ||
			(st = tk_get_bool(j, "use_regex", true, &p->use_regex, err)) != PGML_OK)
			goto fail;
		if (p->use_regex && (st = tk_regex_compile(GPT2_RE, "ByteLevel", &p->pat.re, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "Metaspace") == 0)
	{
		const char *rep,
				   *scheme;
		bool		aps;
		int32_t		cp;

		p->kind = P_METASPACE;
		if ((st = tk_get_str(j, "replacement", "\xe2\x96\x81", &rep, err)) != PGML_OK ||
			(st = tk_get_str(j, "prepend_scheme", NULL, &scheme, err)) != PGML_OK ||
			(st = tk_get_bool(j, "add_prefix_space", true, &aps, err)) != PGML_OK ||
			(st = tk_get_bool(j, "split", true, &p->split, err)) != PGML_OK)
			goto fail;
		if (rep[0] == '\0' || tk_utf8_invalid(rep, strlen(rep)) != (size_t) -1 ||
			(size_t) tk_utf8_decode(rep, strlen(rep), &cp) != strlen(rep))
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json Metaspace: \"replacement\" must be one character");
			goto fail;
		}
		memcpy(p->rep, rep, strlen(rep));
		p->rep_len = (int) strlen(rep);
		if (scheme == NULL)
			p->prepend = aps ? 2 : 0;
		else if (strcmp(scheme, "always") == 0)
			p->prepend = 2;
		else if (strcmp(scheme, "first") == 0)
			p->prepend = 1;
		else if (strcmp(scheme, "never") == 0)
			p->prepend = 0;
		else
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json Metaspace: unknown prepend_scheme \"%s\"", scheme);
			goto fail;
		}
	}
	else if (strcmp(type, "Split") == 0)
	{
		p->kind = P_SPLIT;
		if ((st = tk_pattern_load(json_object_get(j, "pattern"), "Split pre-tokenizer", &p->pat, err)) != PGML_OK ||
			(st = get_behavior(j, "Split", TK_REMOVED, &p->beh, err)) != PGML_OK ||
			(st = tk_get_bool(j, "invert", false, &p->invert, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "Punctuation") == 0)
	{
		p->kind = P_PUNCT;
		if ((st = get_behavior(j, "Punctuation", TK_ISOLATED, &p->beh, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "Digits") == 0)
	{
		p->kind = P_DIGITS;
		if ((st = tk_get_bool(j, "individual_digits", false, &p->individual, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "CharDelimiterSplit") == 0)
	{
		const char *d;

		p->kind = P_CHARDELIM;
		if ((st = tk_get_str(j, "delimiter", NULL, &d, err)) != PGML_OK)
			goto fail;
		if (d == NULL || d[0] == '\0' || tk_utf8_invalid(d, strlen(d)) != (size_t) -1)
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json CharDelimiterSplit: \"delimiter\" must be one character");
			goto fail;
		}
		tk_utf8_decode(d, strlen(d), &p->delim);
	}
	else if (strcmp(type, "Sequence") == 0)
	{
		const json_t *arr = json_object_get(j, "pretokenizers");
		size_t		i;
		json_t	   *v;

		p->kind = P_SEQUENCE;
		if (!json_is_array(arr))
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json Sequence pre-tokenizer: \"pretokenizers\" must be an array");
			goto fail;
		}
		p->subs = pgml_calloc(json_array_size(arr) + 1, sizeof(tk_pretok *));
		if (p->subs == NULL)
			goto oom;
		json_array_foreach(arr, i, v)
		{
			if ((st = tk_pretok_load(v, &p->subs[i], err)) != PGML_OK)
				goto fail;
			p->nsubs = i + 1;
		}
	}
	else
	{
		st = pgml_error(err, PGML_ERR_NOT_SUPPORTED, "tokenizer.json pre-tokenizer \"%s\" is not supported", type);
		goto fail;
	}
	*out = p;
	return PGML_OK;
oom:
	st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
fail:
	tk_pretok_free(p);
	return st;
}

/* ---------------------------------------------------------------------------------------------------
 * Splitting
 * ------------------------------------------------------------------------------------------------- */

static pgml_status
push_sub(tk_ctx *c, tk_splits *out, const tk_str *s, size_t b, size_t e)
{
	tk_str		t;

	if (e <= b)
		return PGML_OK;
	t.s = s->s + b;
	t.al = s->al + 2 * b;
	t.len = e - b;
	return tk_splits_push(c, out, t);
}

pgml_status
tk_split_by_matches(tk_ctx *c, const tk_str *s, const uint32_t *m, size_t nm, tk_behavior beh, bool invert,
					tk_splits *out)
{
	/* pieces: alternating gaps and matches covering s */
	size_t		np = 0;
	uint32_t   *pb = tk_alloc(c, (2 * nm + 1) * 3 * sizeof(uint32_t));
	size_t		pos = 0;
	pgml_status st;

	if (pb == NULL)
		return tk_oom(c);
	if (nm == 0 && !invert)
	{
		/* no delimiter: the whole string, whatever the behaviour */
		return push_sub(c, out, s, 0, s->len);
	}
	for (size_t k = 0; k < nm; k++)
	{
		if (m[2 * k] > pos)
		{
			pb[3 * np] = (uint32_t) pos;
			pb[3 * np + 1] = m[2 * k];
			pb[3 * np + 2] = invert ? 1 : 0;
			np++;
		}
		pb[3 * np] = m[2 * k];
		pb[3 * np + 1] = m[2 * k + 1];
		pb[3 * np + 2] = invert ? 0 : 1;
		np++;
		pos = m[2 * k + 1];
	}
	if (pos < s->len)
	{
		pb[3 * np] = (uint32_t) pos;
		pb[3 * np + 1] = (uint32_t) s->len;
		pb[3 * np + 2] = invert ? 1 : 0;
		np++;
	}
	switch (beh)
	{
		case TK_REMOVED:
			for (size_t i = 0; i < np; i++)
				if (!pb[3 * i + 2] && (st = push_sub(c, out, s, pb[3 * i], pb[3 * i + 1])) != PGML_OK)
					return st;
			return PGML_OK;
		case TK_ISOLATED:
			for (size_t i = 0; i < np; i++)
				if ((st = push_sub(c, out, s, pb[3 * i], pb[3 * i + 1])) != PGML_OK)
					return st;
			return PGML_OK;
		case TK_MERGED_PREV:
			{
				bool		prev_match = false;
				size_t		cb = 0,
							ce = 0;
				bool		have = false;

				for (size_t i = 0; i < np; i++)
				{
					bool		is_m = pb[3 * i + 2] != 0;

					if (is_m && !prev_match && have)
						ce = pb[3 * i + 1];
					else
					{
						if (have && (st = push_sub(c, out, s, cb, ce)) != PGML_OK)
							return st;
						cb = pb[3 * i];
						ce = pb[3 * i + 1];
						have = true;
					}
					prev_match = is_m;
				}
				if (have)
					return push_sub(c, out, s, cb, ce);
				return PGML_OK;
			}
		case TK_MERGED_NEXT:
			{
				/* walk backwards, then emit in order */
				uint32_t   *res = tk_alloc(c, (np + 1) * 2 * sizeof(uint32_t));
				size_t		nr = 0;
				bool		prev_match = false;

				if (res == NULL)
					return tk_oom(c);
				for (size_t ii = np; ii-- > 0;)
				{
					bool		is_m = pb[3 * ii + 2] != 0;

					if (is_m && !prev_match && nr > 0)
						res[2 * (nr - 1)] = pb[3 * ii];
					else
					{
						res[2 * nr] = pb[3 * ii];
						res[2 * nr + 1] = pb[3 * ii + 1];
						nr++;
					}
					prev_match = is_m;
				}
				for (size_t i = nr; i-- > 0;)
					if ((st = push_sub(c, out, s, res[2 * i], res[2 * i + 1])) != PGML_OK)
						return st;
				return PGML_OK;
			}
		case TK_CONTIGUOUS:
			{
				bool		prev_match = false,
							have = false;
				size_t		cb = 0,
							ce = 0;

				for (size_t i = 0; i < np; i++)
				{
					bool		is_m = pb[3 * i + 2] != 0;

					if (have && is_m == prev_match)
						ce = pb[3 * i + 1];
					else
					{
						if (have && (st = push_sub(c, out, s, cb, ce)) != PGML_OK)
							return st;
						cb = pb[3 * i];
						ce = pb[3 * i + 1];
						have = true;
					}
					prev_match = is_m;
				}
				if (have)
					return push_sub(c, out, s, cb, ce);
				return PGML_OK;
			}
	}
	return PGML_OK;
}

typedef bool (*char_pred) (int32_t cp, const tk_pretok *p);

static bool
pred_ws(int32_t cp, const tk_pretok *p)
{
	(void) p;
	return tk_is_whitespace(cp);
}

static bool
pred_punct(int32_t cp, const tk_pretok *p)
{
	(void) p;
	return tk_is_punctuation(cp);
}

static bool
pred_digit(int32_t cp, const tk_pretok *p)
{
	(void) p;
	return tk_is_numeric(cp);
}

static bool
pred_delim(int32_t cp, const tk_pretok *p)
{
	return cp == p->delim;
}

/* Each character for which pred holds is a delimiter. */
static pgml_status
split_pred(tk_ctx *c, const tk_str *s, char_pred pred, const tk_pretok *p, tk_behavior beh, tk_splits *out)
{
	size_t		nm = 0,
				cap = 16;
	uint32_t   *m = tk_alloc(c, cap * 2 * sizeof(uint32_t));

	if (m == NULL)
		return tk_oom(c);
	for (size_t i = 0; i < s->len;)
	{
		int32_t		cp;
		int			l = tk_utf8_decode(s->s + i, s->len - i, &cp);

		if (pred(cp, p))
		{
			if (nm == cap)
			{
				uint32_t   *nv = tk_alloc(c, cap * 4 * sizeof(uint32_t));

				if (nv == NULL)
					return tk_oom(c);
				memcpy(nv, m, nm * 2 * sizeof(uint32_t));
				m = nv;
				cap *= 2;
			}
			m[2 * nm] = (uint32_t) i;
			m[2 * nm + 1] = (uint32_t) (i + (size_t) l);
			nm++;
		}
		i += (size_t) l;
	}
	return tk_split_by_matches(c, s, m, nm, beh, false, out);
}

static pgml_status
split_pattern(tk_ctx *c, const tk_str *s, const tk_pattern *pat, tk_behavior beh, bool invert, tk_splits *out)
{
	uint32_t   *m;
	size_t		nm;
	pgml_status st = tk_pattern_find(pat, c, s->s, s->len, &m, &nm);

	if (st != PGML_OK)
		return st;
	return tk_split_by_matches(c, s, m, nm, beh, invert, out);
}

/* Prepends a string: every new character takes the alignment of the first one. */
static pgml_status
prepend(tk_ctx *c, tk_str *s, const char *p, size_t plen)
{
	tk_sb		sb;

	if (s->len == 0)
		return PGML_OK;
	tk_sb_init(&sb, c->arena, s->len + plen);
	tk_sb_put(&sb, p, plen, s->al[0], s->al[1]);
	if (!sb.oom)
	{
		memcpy(sb.s + sb.len, s->s, s->len);
		memcpy(sb.al + 2 * sb.len, s->al, s->len * 2 * sizeof(uint32_t));
		sb.len += s->len;
	}
	return tk_sb_done(&sb, c, s);
}

/* Maps every byte to its GPT-2 character; all take the alignment of the character they belong to. */
static pgml_status
byte_map(tk_ctx *c, tk_str *s)
{
	tk_sb		sb;

	tk_sb_init(&sb, c->arena, s->len * 2);
	if (sb.oom)
		return tk_oom(c);
	for (size_t i = 0; i < s->len; i++)
	{
		int			l;
		const char *u = tk_byte_char_utf8((unsigned char) s->s[i], &l);
		uint32_t	b = s->al[2 * i],
					e = s->al[2 * i + 1];

		sb.s[sb.len] = u[0];
		sb.al[2 * sb.len] = b;
		sb.al[2 * sb.len + 1] = e;
		if (l == 2)
		{
			sb.s[sb.len + 1] = u[1];
			sb.al[2 * sb.len + 2] = b;
			sb.al[2 * sb.len + 3] = e;
		}
		sb.len += (size_t) l;
	}
	return tk_sb_done(&sb, c, s);
}

static pgml_status
metaspace(const tk_pretok *p, tk_ctx *c, tk_str *s, tk_splits *out)
{
	tk_sb		sb;
	size_t		spaces = 0;
	pgml_status st;

	for (size_t i = 0; i < s->len; i++)
		spaces += s->s[i] == ' ';
	if (spaces)
	{
		tk_sb_init(&sb, c->arena, s->len + spaces * (size_t) p->rep_len);
		for (size_t i = 0; i < s->len; i++)
		{
			if (s->s[i] == ' ')
				tk_sb_put(&sb, p->rep, (size_t) p->rep_len, s->al[2 * i], s->al[2 * i + 1]);
			else
				tk_sb_put(&sb, s->s + i, 1, s->al[2 * i], s->al[2 * i + 1]);
		}
		if ((st = tk_sb_done(&sb, c, s)) != PGML_OK)
			return st;
	}
	if (s->len > 0 && p->prepend && !(s->len >= (size_t) p->rep_len && memcmp(s->s, p->rep, (size_t) p->rep_len) == 0))
	{
		if (p->prepend == 2 || s->al[0] == 0)
			if ((st = prepend(c, s, p->rep, (size_t) p->rep_len)) != PGML_OK)
				return st;
	}
	if (p->split)
	{
		tk_pattern	pat;

		pat.str = (char *) p->rep;
		pat.str_len = (size_t) p->rep_len;
		pat.re = NULL;
		return split_pattern(c, s, &pat, TK_MERGED_NEXT, false, out);
	}
	return tk_splits_push(c, out, *s);
}

static pgml_status
pretok_one(const tk_pretok *p, tk_ctx *c, tk_str *s, tk_splits *out)
{
	pgml_status st;

	switch (p->kind)
	{
		case P_BERT:
			{
				tk_splits	tmp = {0};

				if ((st = split_pred(c, s, pred_ws, p, TK_REMOVED, &tmp)) != PGML_OK)
					return st;
				for (size_t i = 0; i < tmp.n; i++)
					if ((st = split_pred(c, &tmp.v[i], pred_punct, p, TK_ISOLATED, out)) != PGML_OK)
						return st;
				return PGML_OK;
			}
		case P_WHITESPACE:
			return split_pattern(c, s, &p->pat, TK_REMOVED, true, out);
		case P_WSSPLIT:
			return split_pred(c, s, pred_ws, p, TK_REMOVED, out);
		case P_PUNCT:
			return split_pred(c, s, pred_punct, p, p->beh, out);
		case P_DIGITS:
			return split_pred(c, s, pred_digit, p, p->individual ? TK_ISOLATED : TK_CONTIGUOUS, out);
		case P_CHARDELIM:
			return split_pred(c, s, pred_delim, p, TK_REMOVED, out);
		case P_SPLIT:
			return split_pattern(c, s, &p->pat, p->beh, p->invert, out);
		case P_METASPACE:
			return metaspace(p, c, s, out);
		case P_BYTELEVEL:
			{
				tk_splits	tmp = {0};

				if (p->add_prefix_space && s->len > 0 && s->s[0] != ' ')
					if ((st = prepend(c, s, " ", 1)) != PGML_OK)
						return st;
				if (p->use_regex)
				{
					if ((st = split_pattern(c, s, &p->pat, TK_ISOLATED, false, &tmp)) != PGML_OK)
						return st;
				}
				else if ((st = tk_splits_push(c, &tmp, *s)) != PGML_OK)
					return st;
				for (size_t i = 0; i < tmp.n; i++)
				{
					if ((st = byte_map(c, &tmp.v[i])) != PGML_OK)
						return st;
					if ((st = tk_splits_push(c, out, tmp.v[i])) != PGML_OK)
						return st;
				}
				return PGML_OK;
			}
		case P_SEQUENCE:
			break;
	}
	return PGML_OK;
}

pgml_status
tk_pretok_apply(const tk_pretok *p, tk_ctx *c, tk_splits *sp)
{
	pgml_status st;

	if (p->kind == P_SEQUENCE)
	{
		for (size_t i = 0; i < p->nsubs; i++)
			if ((st = tk_pretok_apply(p->subs[i], c, sp)) != PGML_OK)
				return st;
		return PGML_OK;
	}
	else
	{
		tk_splits	out = {0};

		for (size_t i = 0; i < sp->n; i++)
			if ((st = pretok_one(p, c, &sp->v[i], &out)) != PGML_OK)
				return st;
		*sp = out;
		return PGML_OK;
	}
}
