/*
 * decode.c — decoders: WordPiece, ByteLevel, Metaspace, BPE, ByteFallback, Fuse, Strip, Replace, Sequence.
 * Each rewrites the list of token strings; the tokenizer joins what is left.
 */
#include "tok_internal.h"

#include <stdio.h>
#include <string.h>

typedef enum
{
	D_WORDPIECE, D_BYTELEVEL, D_METASPACE, D_BPE, D_BYTEFALLBACK, D_FUSE, D_STRIP, D_REPLACE, D_SEQUENCE
} dec_kind;

struct tk_dec
{
	dec_kind	kind;
	char	   *str;			/* WordPiece prefix, Metaspace replacement, BPE suffix, Strip/Replace content */
	bool		cleanup;
	bool		prepend;		/* Metaspace: strip the first token's leading space */
	int64_t		start, stop;	/* Strip */
	tk_pattern	pat;
	tk_dec	  **subs;
	size_t		nsubs;
};

void
tk_dec_free(tk_dec *d)
{
	if (d == NULL)
		return;
	pgml_free(d->str);
	tk_pattern_free(&d->pat);
	for (size_t i = 0; i < d->nsubs; i++)
		tk_dec_free(d->subs[i]);
	pgml_free(d->subs);
	pgml_free(d);
}

static pgml_status
dup_str(const json_t *j, const char *key, const char *def, char **out, pgml_err *err)
{
	const char *s;
	pgml_status st = tk_get_str(j, key, def, &s, err);

	if (st != PGML_OK)
		return st;
	if (s == NULL)
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json decoder needs \"%s\"", key);
	*out = pgml_strdup(s);
	if (*out == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	return PGML_OK;
}

pgml_status
tk_dec_load(const json_t *j, tk_dec **out, pgml_err *err)
{
	const char *type;
	tk_dec	   *d;
	pgml_status st;

	*out = NULL;
	if ((st = tk_json_type(j, "decoder", &type, err)) != PGML_OK)
		return st;
	d = pgml_calloc(1, sizeof(*d));
	if (d == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	if (strcmp(type, "WordPiece") == 0)
	{
		d->kind = D_WORDPIECE;
		if ((st = dup_str(j, "prefix", "##", &d->str, err)) != PGML_OK ||
			(st = tk_get_bool(j, "cleanup", true, &d->cleanup, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "ByteLevel") == 0)
		d->kind = D_BYTELEVEL;
	else if (strcmp(type, "Metaspace") == 0)
	{
		const char *scheme;
		bool		aps;

		d->kind = D_METASPACE;
		if ((st = dup_str(j, "replacement", "\xe2\x96\x81", &d->str, err)) != PGML_OK ||
			(st = tk_get_str(j, "prepend_scheme", NULL, &scheme, err)) != PGML_OK ||
			(st = tk_get_bool(j, "add_prefix_space", true, &aps, err)) != PGML_OK)
			goto fail;
		d->prepend = scheme ? strcmp(scheme, "never") != 0 : aps;
	}
	else if (strcmp(type, "BPEDecoder") == 0)
	{
		d->kind = D_BPE;
		if ((st = dup_str(j, "suffix", "</w>", &d->str, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "ByteFallback") == 0)
		d->kind = D_BYTEFALLBACK;
	else if (strcmp(type, "Fuse") == 0)
		d->kind = D_FUSE;
	else if (strcmp(type, "Strip") == 0)
	{
		d->kind = D_STRIP;
		if ((st = dup_str(j, "content", " ", &d->str, err)) != PGML_OK)
			goto fail;
		if (pgml_json_get_int(j, "start", 0, 0, 1 << 20, &d->start, err) != PGML_OK ||
			pgml_json_get_int(j, "stop", 0, 0, 1 << 20, &d->stop, err) != PGML_OK)
		{
			st = PGML_ERR_DATA;
			goto fail;
		}
	}
	else if (strcmp(type, "Replace") == 0)
	{
		d->kind = D_REPLACE;
		if ((st = tk_pattern_load(json_object_get(j, "pattern"), "Replace decoder", &d->pat, err)) != PGML_OK ||
			(st = dup_str(j, "content", NULL, &d->str, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "Sequence") == 0)
	{
		const json_t *arr = json_object_get(j, "decoders");
		size_t		i;
		json_t	   *v;

		d->kind = D_SEQUENCE;
		if (!json_is_array(arr))
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json Sequence decoder: \"decoders\" must be an array");
			goto fail;
		}
		d->subs = pgml_calloc(json_array_size(arr) + 1, sizeof(tk_dec *));
		if (d->subs == NULL)
		{
			st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
			goto fail;
		}
		json_array_foreach(arr, i, v)
		{
			if ((st = tk_dec_load(v, &d->subs[i], err)) != PGML_OK)
				goto fail;
			d->nsubs = i + 1;
		}
	}
	else
	{
		st = pgml_error(err, PGML_ERR_NOT_SUPPORTED, "tokenizer.json decoder \"%s\" is not supported", type);
		goto fail;
	}
	*out = d;
	return PGML_OK;
fail:
	tk_dec_free(d);
	return st;
}

/* Replaces every occurrence of from by to in s (arena result). */
static char *
replace_all(tk_ctx *c, const char *s, const char *from, const char *to)
{
	size_t		fl = strlen(from),
				tl = strlen(to),
				n = 0,
				sl = strlen(s);
	const char *p;
	char	   *out,
			   *o;

	if (fl == 0)
		return (char *) s;
	for (p = s; (p = strstr(p, from)) != NULL; p += fl)
		n++;
	if (n == 0)
		return (char *) s;
	out = tk_alloc(c, sl + n * (tl > fl ? tl - fl : 0) + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (p = s;;)
	{
		const char *q = strstr(p, from);

		if (q == NULL)
		{
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t) (q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
		p = q + fl;
	}
	return out;
}

static char *
concat(tk_ctx *c, const char *a, const char *b)
{
	size_t		al = strlen(a),
				bl = strlen(b);
	char	   *o = tk_alloc(c, al + bl + 1);

	if (o == NULL)
		return NULL;
	memcpy(o, a, al);
	memcpy(o + al, b, bl + 1);
	return o;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* "<0xAB>" → 0xAB, else -1 */
static int
byte_token(const char *t)
{
	int			h,
				l;

	if (strlen(t) != 6 || strncmp(t, "<0x", 3) != 0 || t[5] != '>')
		return -1;
	h = hexval(t[3]);
	l = hexval(t[4]);
	return h < 0 || l < 0 ? -1 : h * 16 + l;
}

pgml_status
tk_dec_apply(const tk_dec *d, tk_ctx *c, char **toks, size_t *n)
{
	pgml_status st;

	switch (d->kind)
	{
		case D_SEQUENCE:
			for (size_t i = 0; i < d->nsubs; i++)
				if ((st = tk_dec_apply(d->subs[i], c, toks, n)) != PGML_OK)
					return st;
			return PGML_OK;
		case D_WORDPIECE:
			for (size_t i = 0; i < *n; i++)
			{
				char	   *t = toks[i];
				size_t		pl = strlen(d->str);

				if (i > 0)
				{
					if (strncmp(t, d->str, pl) == 0)
						t = t + pl;
					else
						t = concat(c, " ", t);
				}
				if (t && d->cleanup)
				{
					static const char *const from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " do not", " 's", " 've", " 're"};
					static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", " don't", "'s", "'ve", "'re"};

					for (size_t k = 0; t && k < sizeof(from) / sizeof(from[0]); k++)
						t = replace_all(c, t, from[k], to[k]);
				}
				if (t == NULL)
					return tk_oom(c);
				toks[i] = t;
			}
			return PGML_OK;
		case D_BYTELEVEL:
			{
				/* map every character back to its byte; join; invalid UTF-8 becomes U+FFFD */
				size_t		total = 0,
							k = 0;
				char	   *bytes,
						   *o;

				for (size_t i = 0; i < *n; i++)
					total += strlen(toks[i]);
				bytes = tk_alloc(c, total + 1);
				if (bytes == NULL)
					return tk_oom(c);
				for (size_t i = 0; i < *n; i++)
				{
					const char *t = toks[i];
					size_t		tl = strlen(t);

					for (size_t p = 0; p < tl;)
					{
						int32_t		cp;
						int			l = tk_utf8_decode(t + p, tl - p, &cp);
						int			b = tk_char_byte(cp);

						if (b >= 0)
							bytes[k++] = (char) b;
						else
						{
							memcpy(bytes + k, t + p, (size_t) l);
							k += (size_t) l;
						}
						p += (size_t) l;
					}
				}
				o = tk_alloc(c, k * 3 + 1);
				if (o == NULL)
					return tk_oom(c);
				{
					size_t		q = 0,
								w = 0;

					while (q < k)
					{
						size_t		bad = tk_utf8_invalid(bytes + q, k - q);
						size_t		good = bad == (size_t) -1 ? k - q : bad;

						memcpy(o + w, bytes + q, good);
						w += good;
						q += good;
						if (q < k)
						{
							memcpy(o + w, "\xef\xbf\xbd", 3);
							w += 3;
							q++;
							/* skip the rest of a truncated sequence as one replacement */
							while (q < k && ((unsigned char) bytes[q] & 0xC0) == 0x80 &&
								   tk_utf8_invalid(bytes + q, 1) != (size_t) -1)
								q++;
						}
					}
					o[w] = '\0';
				}
				toks[0] = o;
				*n = 1;
				return PGML_OK;
			}
		case D_METASPACE:
			for (size_t i = 0; i < *n; i++)
			{
				char	   *t = replace_all(c, toks[i], d->str, " ");

				if (t == NULL)
					return tk_oom(c);
				if (i == 0 && d->prepend && t[0] == ' ')
					t++;
				toks[i] = t;
			}
			return PGML_OK;
		case D_BPE:
			for (size_t i = 0; i < *n; i++)
			{
				char	   *t = replace_all(c, toks[i], d->str, i + 1 == *n ? "" : " ");

				if (t == NULL)
					return tk_oom(c);
				toks[i] = t;
			}
			return PGML_OK;
		case D_BYTEFALLBACK:
			{
				size_t		w = 0;

				for (size_t i = 0; i < *n;)
				{
					size_t		j = i;
					char	   *buf;
					size_t		k = 0;

					while (j < *n && byte_token(toks[j]) >= 0)
						j++;
					if (j == i)
					{
						toks[w++] = toks[i++];
						continue;
					}
					buf = tk_alloc(c, (j - i) * 3 + 1);
					if (buf == NULL)
						return tk_oom(c);
					for (size_t q = i; q < j; q++)
						buf[k++] = (char) byte_token(toks[q]);
					buf[k] = '\0';
					if (tk_utf8_invalid(buf, k) == (size_t) -1)
						toks[w++] = buf;
					else
						for (size_t q = i; q < j; q++)
							toks[w++] = (char *) "\xef\xbf\xbd";
					i = j;
				}
				*n = w;
				return PGML_OK;
			}
		case D_FUSE:
			{
				size_t		total = 0;
				char	   *o,
						   *p;

				for (size_t i = 0; i < *n; i++)
					total += strlen(toks[i]);
				o = tk_alloc(c, total + 1);
				if (o == NULL)
					return tk_oom(c);
				p = o;
				for (size_t i = 0; i < *n; i++)
				{
					size_t		l = strlen(toks[i]);

					memcpy(p, toks[i], l);
					p += l;
				}
				*p = '\0';
				toks[0] = o;
				*n = *n ? 1 : 0;
				if (*n == 0)
				{
					toks[0] = o;
					*n = 1;
				}
				return PGML_OK;
			}
		case D_STRIP:
			for (size_t i = 0; i < *n; i++)
			{
				char	   *t = toks[i];
				size_t		cl = strlen(d->str),
							tl = strlen(t);
				int64_t		k;
				char	   *o;

				for (k = 0; k < d->start && cl && tl >= cl && strncmp(t, d->str, cl) == 0; k++)
				{
					t += cl;
					tl -= cl;
				}
				for (k = 0; k < d->stop && cl && tl >= cl && strncmp(t + tl - cl, d->str, cl) == 0; k++)
					tl -= cl;
				o = tk_alloc(c, tl + 1);
				if (o == NULL)
					return tk_oom(c);
				memcpy(o, t, tl);
				o[tl] = '\0';
				toks[i] = o;
			}
			return PGML_OK;
		case D_REPLACE:
			for (size_t i = 0; i < *n; i++)
			{
				char	   *t = toks[i];

				if (d->pat.str)
					t = replace_all(c, t, d->pat.str, d->str);
				else
				{
					uint32_t   *m;
					size_t		nm,
								tl = strlen(t),
								cl = strlen(d->str),
								w = 0,
								pos = 0;
					char	   *o;

					if ((st = tk_pattern_find(&d->pat, c, t, tl, &m, &nm)) != PGML_OK)
						return st;
					o = tk_alloc(c, tl + nm * cl + 1);
					if (o == NULL)
						return tk_oom(c);
					for (size_t k = 0; k < nm; k++)
					{
						memcpy(o + w, t + pos, m[2 * k] - pos);
						w += m[2 * k] - pos;
						memcpy(o + w, d->str, cl);
						w += cl;
						pos = m[2 * k + 1];
					}
					memcpy(o + w, t + pos, tl - pos);
					w += tl - pos;
					o[w] = '\0';
					t = o;
				}
				if (t == NULL)
					return tk_oom(c);
				toks[i] = t;
			}
			return PGML_OK;
	}
	return PGML_OK;
}
