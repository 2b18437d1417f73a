/*
 * tk_util.c — helpers for the tokenizer pipeline: arena strings with alignments, UTF-8, Unicode
 * predicates (utf8proc), the vocabulary hash table, PCRE2 patterns and the GPT-2 byte table.
 */
#include "tok_internal.h"

#include <pthread.h>
#include <string.h>
#include <utf8proc.h>

pgml_status
tk_oom(tk_ctx *c)
{
	return pgml_error(c->err, PGML_ERR_OUT_OF_MEMORY, "out of memory while tokenizing");
}

void *
tk_alloc(tk_ctx *c, size_t size)
{
	return pgml_arena_alloc(c->arena, size ? size : 1, 0);
}

/* ---------------------------------------------------------------------------------------------------
 * Builders
 * ------------------------------------------------------------------------------------------------- */

void
tk_sb_init(tk_sb *sb, pgml_arena *a, size_t cap)
{
	sb->a = a;
	sb->len = 0;
	sb->oom = false;
	sb->cap = cap < 16 ? 16 : cap;
	sb->s = pgml_arena_alloc(a, sb->cap, 1);
	sb->al = pgml_arena_alloc(a, sb->cap * 2 * sizeof(uint32_t), 0);
	if (sb->s == NULL || sb->al == NULL)
		sb->oom = true;
}

static bool
sb_grow(tk_sb *sb, size_t need)
{
	size_t		ncap;
	char	   *ns;
	uint32_t   *nal;

	if (sb->oom)
		return false;
	if (sb->len + need <= sb->cap)
		return true;
	ncap = sb->cap * 2;
	while (ncap < sb->len + need)
		ncap *= 2;
	ns = pgml_arena_alloc(sb->a, ncap, 1);
	nal = pgml_arena_alloc(sb->a, ncap * 2 * sizeof(uint32_t), 0);
	if (ns == NULL || nal == NULL)
	{
		sb->oom = true;
		return false;
	}
	memcpy(ns, sb->s, sb->len);
	memcpy(nal, sb->al, sb->len * 2 * sizeof(uint32_t));
	sb->s = ns;
	sb->al = nal;
	sb->cap = ncap;
	return true;
}

void
tk_sb_put(tk_sb *sb, const char *bytes, size_t n, uint32_t begin, uint32_t end)
{
	if (!sb_grow(sb, n))
		return;
	memcpy(sb->s + sb->len, bytes, n);
	for (size_t i = 0; i < n; i++)
	{
		sb->al[2 * (sb->len + i)] = begin;
		sb->al[2 * (sb->len + i) + 1] = end;
	}
	sb->len += n;
}

void
tk_sb_put_cp(tk_sb *sb, int32_t cp, uint32_t begin, uint32_t end)
{
	char		buf[4];
	int			n = tk_utf8_encode(cp, buf);

	tk_sb_put(sb, buf, (size_t) n, begin, end);
}

pgml_status
tk_sb_done(tk_sb *sb, tk_ctx *c, tk_str *out)
{
	if (sb->oom)
		return tk_oom(c);
	out->s = sb->s;
	out->al = sb->al;
	out->len = sb->len;
	return PGML_OK;
}

pgml_status
tk_splits_push(tk_ctx *c, tk_splits *sp, tk_str s)
{
	if (sp->n == sp->cap)
	{
		size_t		ncap = sp->cap ? sp->cap * 2 : 16;
		tk_str	   *nv = pgml_arena_alloc(c->arena, ncap * sizeof(tk_str), 0);

		if (nv == NULL)
			return tk_oom(c);
		if (sp->n)
			memcpy(nv, sp->v, sp->n * sizeof(tk_str));
		sp->v = nv;
		sp->cap = ncap;
	}
	sp->v[sp->n++] = s;
	return PGML_OK;
}

pgml_status
tk_toks_push(tk_ctx *c, tk_toks *t, int32_t id, uint32_t b, uint32_t e)
{
	if (t->n == t->cap)
	{
		size_t		ncap = t->cap ? t->cap * 2 : 64;
		tk_tok	   *nv = pgml_arena_alloc(c->arena, ncap * sizeof(tk_tok), 0);

		if (nv == NULL)
			return tk_oom(c);
		if (t->n)
			memcpy(nv, t->v, t->n * sizeof(tk_tok));
		t->v = nv;
		t->cap = ncap;
	}
	t->v[t->n].id = id;
	t->v[t->n].b = b;
	t->v[t->n].e = e;
	t->n++;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * UTF-8
 * ------------------------------------------------------------------------------------------------- */

int
tk_utf8_decode(const char *str, size_t n, int32_t *cp)
{
	const unsigned char *s = (const unsigned char *) str;
	int			l = tk_utf8_len(s[0]);

	if ((size_t) l > n)
	{
		*cp = 0xFFFD;
		return 1;
	}
	switch (l)
	{
		case 1:
			*cp = s[0];
			break;
		case 2:
			*cp = ((s[0] & 0x1F) << 6) | (s[1] & 0x3F);
			break;
		case 3:
			*cp = ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
			break;
		default:
			*cp = ((s[0] & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
			break;
	}
	return l;
}

int
tk_utf8_encode(int32_t cp, char *out)
{
	unsigned char *o = (unsigned char *) out;

	if (cp < 0x80)
	{
		o[0] = (unsigned char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		o[0] = (unsigned char) (0xC0 | (cp >> 6));
		o[1] = (unsigned char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		o[0] = (unsigned char) (0xE0 | (cp >> 12));
		o[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char) (0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char) (0xF0 | (cp >> 18));
	o[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char) (0x80 | (cp & 0x3F));
	return 4;
}

size_t
tk_utf8_invalid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t		i = 0;

	while (i < n)
	{
		unsigned char c = s[i];

		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
		{
			if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80)
				return i;
			i += 2;
			continue;
		}
		if (c >= 0xE0 && c <= 0xEF)
		{
			unsigned char lo = 0x80, hi = 0xBF;

			if (c == 0xE0)
				lo = 0xA0;
			if (c == 0xED)
				hi = 0x9F;
			if (i + 2 >= n || s[i + 1] < lo || s[i + 1] > hi || (s[i + 2] & 0xC0) != 0x80)
				return i;
			i += 3;
			continue;
		}
		if (c >= 0xF0 && c <= 0xF4)
		{
			unsigned char lo = 0x80, hi = 0xBF;

			if (c == 0xF0)
				lo = 0x90;
			if (c == 0xF4)
				hi = 0x8F;
			if (i + 3 >= n || s[i + 1] < lo || s[i + 1] > hi || (s[i + 2] & 0xC0) != 0x80 ||
				(s[i + 3] & 0xC0) != 0x80)
				return i;
			i += 4;
			continue;
		}
		return i;
	}
	return (size_t) -1;
}

/* ---------------------------------------------------------------------------------------------------
 * Unicode predicates
 * ------------------------------------------------------------------------------------------------- */

bool
tk_is_whitespace(int32_t cp)
{
	if (cp < 0x80)
		return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
	switch (cp)
	{
		case 0x85:
		case 0xA0:
		case 0x1680:
		case 0x2028:
		case 0x2029:
		case 0x202F:
		case 0x205F:
		case 0x3000:
			return true;
		default:
			return cp >= 0x2000 && cp <= 0x200A;
	}
}

bool
tk_is_punctuation(int32_t cp)
{
	if (cp < 0x80)
		return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
			(cp >= 123 && cp <= 126);
	return tk_compat_punct(cp);
}

bool
tk_is_numeric(int32_t cp)
{
	if (cp < 0x80)
		return cp >= '0' && cp <= '9';
	switch (utf8proc_category(cp))
	{
		case UTF8PROC_CATEGORY_ND:
		case UTF8PROC_CATEGORY_NL:
		case UTF8PROC_CATEGORY_NO:
			return true;
		default:
			return false;
	}
}

bool
tk_is_alnum(int32_t cp)
{
	if (cp < 0x80)
		return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
	switch (utf8proc_category(cp))
	{
		case UTF8PROC_CATEGORY_LU:
		case UTF8PROC_CATEGORY_LL:
		case UTF8PROC_CATEGORY_LT:
		case UTF8PROC_CATEGORY_LM:
		case UTF8PROC_CATEGORY_LO:
		case UTF8PROC_CATEGORY_ND:
		case UTF8PROC_CATEGORY_NL:
		case UTF8PROC_CATEGORY_NO:
		case UTF8PROC_CATEGORY_MC:
			return true;
		default:
			return false;
	}
}

bool
tk_is_chinese(int32_t cp)
{
	return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
		(cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
		(cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
		(cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* ---------------------------------------------------------------------------------------------------
 * Vocabulary hash table
 * ------------------------------------------------------------------------------------------------- */

uint64_t
tk_hash(const char *s, size_t n)
{
	uint64_t	h = 0xcbf29ce484222325ULL ^ (n * 0x9E3779B97F4A7C15ULL);

	for (size_t i = 0; i < n; i++)
	{
		h ^= (unsigned char) s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h;
}

void
tk_vocab_free(tk_vocab *v)
{
	if (v == NULL)
		return;
	pgml_free(v->pool);
	pgml_free(v->slots);
	pgml_free(v->ents);
	memset(v, 0, sizeof(*v));
}

static bool
vocab_rehash(tk_vocab *v, size_t nslots)
{
	uint32_t   *slots = pgml_calloc(nslots, sizeof(uint32_t));

	if (slots == NULL)
		return false;
	for (size_t i = 0; i < v->n; i++)
	{
		size_t		j = v->ents[i].hash & (nslots - 1);

		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = (uint32_t) (i + 1);
	}
	pgml_free(v->slots);
	v->slots = slots;
	v->nslots = nslots;
	return true;
}

int32_t
tk_vocab_get(const tk_vocab *v, const char *key, size_t n)
{
	uint64_t	h;
	size_t		j;

	if (v->nslots == 0)
		return -1;
	h = tk_hash(key, n);
	j = h & (v->nslots - 1);
	while (v->slots[j])
	{
		const tk_vent *e = &v->ents[v->slots[j] - 1];

		if (e->hash == h && e->len == n && memcmp(v->pool + e->off, key, n) == 0)
			return e->val;
		j = (j + 1) & (v->nslots - 1);
	}
	return -1;
}

const char *
tk_vocab_key(const tk_vocab *v, const char *key, size_t n)
{
	uint64_t	h;
	size_t		j;

	if (v->nslots == 0)
		return NULL;
	h = tk_hash(key, n);
	j = h & (v->nslots - 1);
	while (v->slots[j])
	{
		const tk_vent *e = &v->ents[v->slots[j] - 1];

		if (e->hash == h && e->len == n && memcmp(v->pool + e->off, key, n) == 0)
			return v->pool + e->off;
		j = (j + 1) & (v->nslots - 1);
	}
	return NULL;
}

pgml_status
tk_vocab_put(tk_vocab *v, const char *key, size_t n, int32_t val, bool *dup, pgml_err *err)
{
	uint64_t	h = tk_hash(key, n);
	size_t		j;

	if (dup)
		*dup = false;
	if ((v->n + 1) * 2 > v->nslots)
	{
		if (!vocab_rehash(v, v->nslots ? v->nslots * 2 : 1024))
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a vocabulary");
	}
	j = h & (v->nslots - 1);
	while (v->slots[j])
	{
		const tk_vent *e = &v->ents[v->slots[j] - 1];

		if (e->hash == h && e->len == n && memcmp(v->pool + e->off, key, n) == 0)
		{
			if (dup)
			{
				/* the caller asked for "last one wins" */
				*dup = true;
				v->ents[v->slots[j] - 1].val = val;
			}
			return PGML_OK;
		}
		j = (j + 1) & (v->nslots - 1);
	}
	if (v->n == v->cap)
	{
		size_t		ncap = v->cap ? v->cap * 2 : 1024;
		tk_vent    *ne = pgml_realloc(v->ents, ncap * sizeof(tk_vent));

		if (ne == NULL)
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a vocabulary");
		v->ents = ne;
		v->cap = ncap;
	}
	if (v->pool_len + n + 1 > v->pool_cap)
	{
		size_t		ncap = v->pool_cap ? v->pool_cap * 2 : 65536;
		char	   *np;

		while (ncap < v->pool_len + n + 1)
			ncap *= 2;
		np = pgml_realloc(v->pool, ncap);
		if (np == NULL)
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a vocabulary");
		v->pool = np;
		v->pool_cap = ncap;
	}
	memcpy(v->pool + v->pool_len, key, n);
	v->pool[v->pool_len + n] = '\0';
	v->ents[v->n].off = v->pool_len;
	v->ents[v->n].len = (uint32_t) n;
	v->ents[v->n].val = val;
	v->ents[v->n].hash = h;
	v->pool_len += n + 1;
	v->slots[j] = (uint32_t) (v->n + 1);
	v->n++;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * PCRE2
 * ------------------------------------------------------------------------------------------------- */

static void *
pcre_malloc(size_t size, void *state)
{
	(void) state;
	return pgml_malloc(size);
}

static void
pcre_free(void *ptr, void *state)
{
	(void) state;
	pgml_free(ptr);
}

static pcre2_general_context *g_gctx;
static pthread_once_t g_gctx_once = PTHREAD_ONCE_INIT;

static void
gctx_init(void)
{
	g_gctx = pcre2_general_context_create(pcre_malloc, pcre_free, NULL);
}

pcre2_general_context *
tk_pcre2_gctx(void)
{
	pthread_once(&g_gctx_once, gctx_init);
	return g_gctx;
}

pgml_status
tk_regex_compile(const char *re, const char *what, pcre2_code **out, pgml_err *err)
{
	int			ec;
	PCRE2_SIZE	eo;
	pcre2_compile_context *cc = pcre2_compile_context_create(tk_pcre2_gctx());
	pcre2_code *code;

	if (cc == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory compiling a regex");
	code = pcre2_compile((PCRE2_SPTR) re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, cc);
	pcre2_compile_context_free(cc);
	if (code == NULL && (ec == PCRE2_ERROR_NOMEMORY || ec == PCRE2_ERROR_HEAP_FAILED))
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory compiling a regex");
	if (code == NULL)
	{
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(ec, msg, sizeof(msg));
		pgml_error(err, PGML_ERR_DATA, "invalid regex in tokenizer.json %s", what);
		pgml_err_detail(err, "At offset %zu: %s (%d).", (size_t) eo, (const char *) msg, ec);
		return PGML_ERR_DATA;
	}
	(void) pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);	/* optional: falls back to the interpreter */
	*out = code;
	return PGML_OK;
}

pgml_status
tk_pattern_load(const json_t *pat, const char *what, tk_pattern *out, pgml_err *err)
{
	const json_t *v;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(pat))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json %s: \"pattern\" must be an object", what);
	if ((v = json_object_get(pat, "String")) != NULL)
	{
		if (!json_is_string(v))
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json %s: \"String\" must be a string", what);
		out->str_len = json_string_length(v);
		out->str = pgml_strndup(json_string_value(v), out->str_len);
		if (out->str == NULL)
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
		return PGML_OK;
	}
	if ((v = json_object_get(pat, "Regex")) != NULL)
	{
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json %s: \"Regex\" must be a string", what);
		return tk_regex_compile(json_string_value(v), what, &out->re, err);
	}
	return pgml_error(err, PGML_ERR_DATA, "tokenizer.json %s: pattern must have \"String\" or \"Regex\"", what);
}

void
tk_pattern_free(tk_pattern *p)
{
	if (p == NULL)
		return;
	pgml_free(p->str);
	if (p->re)
		pcre2_code_free(p->re);
	memset(p, 0, sizeof(*p));
}

pgml_status
tk_pattern_find(const tk_pattern *p, tk_ctx *c, const char *s, size_t n, uint32_t **m, size_t *nm)
{
	size_t		cap = 16,
				k = 0;
	uint32_t   *v = tk_alloc(c, cap * 2 * sizeof(uint32_t));

	if (v == NULL)
		return tk_oom(c);
	if (p->str != NULL)
	{
		size_t		i = 0;

		if (p->str_len == 0)
			goto done;
		while (i + p->str_len <= n)
		{
			const char *f = memmem(s + i, n - i, p->str, p->str_len);

			if (f == NULL)
				break;
			if (k == cap)
			{
				uint32_t   *nv = tk_alloc(c, cap * 4 * sizeof(uint32_t));

				if (nv == NULL)
					return tk_oom(c);
				memcpy(nv, v, k * 2 * sizeof(uint32_t));
				v = nv;
				cap *= 2;
			}
			v[2 * k] = (uint32_t) (f - s);
			v[2 * k + 1] = (uint32_t) (f - s + p->str_len);
			k++;
			i = (size_t) (f - s) + p->str_len;
		}
	}
	else
	{
		size_t		start = 0;

		while (start <= n)
		{
			int			rc = pcre2_match(p->re, (PCRE2_SPTR) s, n, start, PCRE2_NO_UTF_CHECK, c->md, NULL);
			PCRE2_SIZE *ov;

			if (rc == PCRE2_ERROR_NOMATCH)
				break;
			if (rc < 0)
			{
				PCRE2_UCHAR msg[256];

				pcre2_get_error_message(rc, msg, sizeof(msg));
				return pgml_error(c->err, PGML_ERR_LIMIT, "regex match failed: %s", (const char *) msg);
			}
			ov = pcre2_get_ovector_pointer(c->md);
			if (ov[1] == ov[0])
			{
				/* an empty match: step over one character */
				if (ov[0] >= n)
					break;
				start = ov[0] + (size_t) tk_utf8_len((unsigned char) s[ov[0]]);
				continue;
			}
			if (k == cap)
			{
				uint32_t   *nv = tk_alloc(c, cap * 4 * sizeof(uint32_t));

				if (nv == NULL)
					return tk_oom(c);
				memcpy(nv, v, k * 2 * sizeof(uint32_t));
				v = nv;
				cap *= 2;
			}
			v[2 * k] = (uint32_t) ov[0];
			v[2 * k + 1] = (uint32_t) ov[1];
			k++;
			start = ov[1];
		}
	}
done:
	*m = v;
	*nm = k;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * JSON helpers
 * ------------------------------------------------------------------------------------------------- */

pgml_status
tk_json_type(const json_t *j, const char *what, const char **type, pgml_err *err)
{
	const json_t *t;

	if (!json_is_object(j))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json %s must be an object, not %s", what,
						  pgml_json_type_name(j));
	t = json_object_get(j, "type");
	if (!json_is_string(t))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json %s has no \"type\" string", what);
	*type = json_string_value(t);
	return PGML_OK;
}

pgml_status
tk_get_str(const json_t *o, const char *key, const char *def, const char **out, pgml_err *err)
{
	pgml_status st = pgml_json_get_string(o, key, def, out, err);

	if (st != PGML_OK)
		st = err ? (err->code = PGML_ERR_DATA) : PGML_ERR_DATA;
	return st;
}

pgml_status
tk_get_bool(const json_t *o, const char *key, bool def, bool *out, pgml_err *err)
{
	pgml_status st = pgml_json_get_bool(o, key, def, out, err);

	if (st != PGML_OK)
		st = err ? (err->code = PGML_ERR_DATA) : PGML_ERR_DATA;
	return st;
}

/* ---------------------------------------------------------------------------------------------------
 * GPT-2 byte-level table
 * ------------------------------------------------------------------------------------------------- */

static char g_bc[256][3];
static int	g_bc_len[256];
static int16_t g_cb[512];
static pthread_once_t g_bc_once = PTHREAD_ONCE_INIT;

static void
bc_init(void)
{
	int			n = 0;

	for (int i = 0; i < 512; i++)
		g_cb[i] = -1;
	for (int b = 0; b < 256; b++)
	{
		int32_t		cp;

		if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
			cp = b;
		else
			cp = 256 + n++;
		g_bc_len[b] = tk_utf8_encode(cp, g_bc[b]);
		g_cb[cp] = (int16_t) b;
	}
}

const char *
tk_byte_char_utf8(unsigned b, int *len)
{
	pthread_once(&g_bc_once, bc_init);
	*len = g_bc_len[b & 0xFF];
	return g_bc[b & 0xFF];
}

int
tk_char_byte(int32_t cp)
{
	pthread_once(&g_bc_once, bc_init);
	if (cp < 0 || cp >= 512)
		return -1;
	return g_cb[cp];
}
