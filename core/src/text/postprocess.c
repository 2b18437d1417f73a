/*
 * postprocess.c — post-processors: BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel
 * (offset trimming) and Sequence. They add special tokens, set type ids and combine a pair.
 */
#include "tok_internal.h"

#include <string.h>

typedef enum
{
	PP_BERT, PP_ROBERTA, PP_TEMPLATE, PP_BYTELEVEL, PP_SEQUENCE
} post_kind;

typedef struct titem
{
	int			seq;			/* 0 = A, 1 = B, -1 = special */
	int32_t		type_id;
	int32_t    *ids;
	size_t		nids;
} titem;

struct tk_post
{
	post_kind	kind;
	int32_t		cls, sep;
	bool		trim_offsets, add_prefix_space;
	titem	   *single, *pair;
	size_t		nsingle, npair;
	tk_post   **subs;
	size_t		nsubs;
};

static void
free_items(titem *it, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pgml_free(it[i].ids);
	pgml_free(it);
}

void
tk_post_free(tk_post *p)
{
	if (p == NULL)
		return;
	free_items(p->single, p->nsingle);
	free_items(p->pair, p->npair);
	for (size_t i = 0; i < p->nsubs; i++)
		tk_post_free(p->subs[i]);
	pgml_free(p->subs);
	pgml_free(p);
}

static pgml_status
token_pair(const json_t *j, const char *key, int32_t *id, pgml_err *err)
{
	const json_t *v = json_object_get(j, key);
	const json_t *i = json_array_get(v, 1);

	if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_string(json_array_get(v, 0)) ||
		!json_is_integer(i) || json_integer_value(i) < 0 || json_integer_value(i) >= TK_MAX_ID)
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json post_processor: \"%s\" must be [token, id]", key);
	*id = (int32_t) json_integer_value(i);
	return PGML_OK;
}

static pgml_status
load_template(const json_t *arr, const json_t *specials, titem **out, size_t *n, pgml_err *err)
{
	size_t		i;
	json_t	   *it;

	*out = NULL;
	*n = 0;
	if (arr == NULL || json_is_null(arr))
		return PGML_OK;
	if (!json_is_array(arr))
		return pgml_error(err, PGML_ERR_DATA, "tokenizer.json TemplateProcessing: a template must be an array");
	*out = pgml_calloc(json_array_size(arr) + 1, sizeof(titem));
	if (*out == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	json_array_foreach(arr, i, it)
	{
		const json_t *s = json_object_get(it, "Sequence"),
				   *sp = json_object_get(it, "SpecialToken");
		titem	   *t = &(*out)[i];
		const json_t *tid;

		*n = i + 1;
		if (json_is_object(s))
		{
			const char *sid = json_string_value(json_object_get(s, "id"));

			tid = json_object_get(s, "type_id");
			if (sid == NULL || (strcmp(sid, "A") != 0 && strcmp(sid, "B") != 0))
				return pgml_error(err, PGML_ERR_DATA, "tokenizer.json TemplateProcessing: a Sequence id must be \"A\" or \"B\"");
			t->seq = sid[0] == 'A' ? 0 : 1;
		}
		else if (json_is_object(sp))
		{
			const char *sid = json_string_value(json_object_get(sp, "id"));
			const json_t *def,
					   *ids;
			size_t		k;
			json_t	   *x;

			tid = json_object_get(sp, "type_id");
			if (sid == NULL)
				return pgml_error(err, PGML_ERR_DATA, "tokenizer.json TemplateProcessing: a SpecialToken needs an id");
			def = json_object_get(specials, sid);
			ids = json_object_get(def, "ids");
			if (!json_is_array(ids))
				return pgml_error(err, PGML_ERR_DATA, "tokenizer.json TemplateProcessing: special token \"%.64s\" is not defined", sid);
			t->seq = -1;
			t->ids = pgml_calloc(json_array_size(ids) + 1, sizeof(int32_t));
			if (t->ids == NULL)
				return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
			json_array_foreach(ids, k, x)
			{
				if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= TK_MAX_ID)
					return pgml_error(err, PGML_ERR_DATA, "tokenizer.json TemplateProcessing: special token ids must be integers in range");
				t->ids[k] = (int32_t) json_integer_value(x);
				t->nids = k + 1;
			}
		}
		else
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json TemplateProcessing: an item must be a Sequence or a SpecialToken");
		if (tid != NULL && (!json_is_integer(tid) || json_integer_value(tid) < 0 || json_integer_value(tid) > 255))
			return pgml_error(err, PGML_ERR_DATA, "tokenizer.json TemplateProcessing: type_id must be a small integer");
		t->type_id = tid ? (int32_t) json_integer_value(tid) : 0;
	}
	return PGML_OK;
}

pgml_status
tk_post_load(const json_t *j, const tk_vocab *vocab, tk_post **out, pgml_err *err)
{
	const char *type;
	tk_post    *p;
	pgml_status st;

	(void) vocab;
	*out = NULL;
	if ((st = tk_json_type(j, "post_processor", &type, err)) != PGML_OK)
		return st;
	p = pgml_calloc(1, sizeof(*p));
	if (p == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
	if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0)
	{
		p->kind = type[0] == 'B' ? PP_BERT : PP_ROBERTA;
		if ((st = token_pair(j, "cls", &p->cls, err)) != PGML_OK || (st = token_pair(j, "sep", &p->sep, err)) != PGML_OK ||
			(st = tk_get_bool(j, "trim_offsets", true, &p->trim_offsets, err)) != PGML_OK ||
			(st = tk_get_bool(j, "add_prefix_space", true, &p->add_prefix_space, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "TemplateProcessing") == 0)
	{
		const json_t *sp = json_object_get(j, "special_tokens");

		p->kind = PP_TEMPLATE;
		if (sp != NULL && !json_is_object(sp))
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json TemplateProcessing: \"special_tokens\" must be an object");
			goto fail;
		}
		if ((st = load_template(json_object_get(j, "single"), sp, &p->single, &p->nsingle, err)) != PGML_OK ||
			(st = load_template(json_object_get(j, "pair"), sp, &p->pair, &p->npair, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "ByteLevel") == 0)
	{
		p->kind = PP_BYTELEVEL;
		if ((st = tk_get_bool(j, "trim_offsets", true, &p->trim_offsets, err)) != PGML_OK ||
			(st = tk_get_bool(j, "add_prefix_space", true, &p->add_prefix_space, err)) != PGML_OK)
			goto fail;
	}
	else if (strcmp(type, "Sequence") == 0)
	{
		const json_t *arr = json_object_get(j, "processors");
		size_t		i;
		json_t	   *v;

		p->kind = PP_SEQUENCE;
		if (!json_is_array(arr))
		{
			st = pgml_error(err, PGML_ERR_DATA, "tokenizer.json Sequence post_processor: \"processors\" must be an array");
			goto fail;
		}
		p->subs = pgml_calloc(json_array_size(arr) + 1, sizeof(tk_post *));
		if (p->subs == NULL)
		{
			st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory loading a tokenizer");
			goto fail;
		}
		json_array_foreach(arr, i, v)
		{
			if ((st = tk_post_load(v, vocab, &p->subs[i], err)) != PGML_OK)
				goto fail;
			p->nsubs = i + 1;
		}
	}
	else
	{
		st = pgml_error(err, PGML_ERR_NOT_SUPPORTED, "tokenizer.json post_processor \"%s\" is not supported", type);
		goto fail;
	}
	*out = p;
	return PGML_OK;
fail:
	tk_post_free(p);
	return st;
}

size_t
tk_post_added(const tk_post *p, bool pair)
{
	size_t		n = 0;

	if (p == NULL)
		return 0;
	switch (p->kind)
	{
		case PP_BERT:
			return pair ? 3 : 2;
		case PP_ROBERTA:
			return pair ? 4 : 2;
		case PP_TEMPLATE:
			{
				const titem *it = pair ? p->pair : p->single;
				size_t		ni = pair ? p->npair : p->nsingle;

				for (size_t i = 0; i < ni; i++)
					n += it[i].seq < 0 ? it[i].nids : 0;
				return n;
			}
		case PP_BYTELEVEL:
			return 0;
		case PP_SEQUENCE:
			for (size_t i = 0; i < p->nsubs; i++)
				n += tk_post_added(p->subs[i], pair);
			return n;
	}
	return 0;
}

pgml_status
tk_enc_alloc(tk_ctx *c, tk_enc *e, size_t n)
{
	size_t		m = n ? n : 1;

	e->n = n;
	e->ids = tk_alloc(c, m * sizeof(int32_t));
	e->type_ids = tk_alloc(c, m * sizeof(int32_t));
	e->special = tk_alloc(c, m);
	e->off = tk_alloc(c, m * 2 * sizeof(uint32_t));
	e->seq = tk_alloc(c, m);
	if (!e->ids || !e->type_ids || !e->special || !e->off || !e->seq)
		return tk_oom(c);
	return PGML_OK;
}

static void
put_special(tk_enc *o, size_t *k, int32_t id, int32_t type)
{
	o->ids[*k] = id;
	o->type_ids[*k] = type;
	o->special[*k] = 1;
	o->off[2 * *k] = o->off[2 * *k + 1] = 0;
	o->seq[*k] = -1;
	(*k)++;
}

static void
put_seq(tk_enc *o, size_t *k, const tk_enc *s, int32_t type, int8_t seq)
{
	for (size_t i = 0; i < s->n; i++)
	{
		o->ids[*k] = s->ids[i];
		o->type_ids[*k] = type;
		o->special[*k] = s->special[i];
		o->off[2 * *k] = s->off[2 * i];
		o->off[2 * *k + 1] = s->off[2 * i + 1];
		o->seq[*k] = seq;
		(*k)++;
	}
}

/* Trims spaces ('Ġ' or whitespace) at the edges of each token out of its offsets. */
static void
trim_offsets(const struct pgml_tokenizer *tok, tk_enc *e, bool add_prefix_space)
{
	for (size_t i = 0; i < e->n; i++)
	{
		const char *t = tk_id_to_token(tok, e->ids[i]);
		size_t		lead = 0,
					trail = 0,
					len,
					p;
		int32_t		cp;

		if (t == NULL)
			continue;
		len = strlen(t);
		for (p = 0; p < len;)
		{
			int			l = tk_utf8_decode(t + p, len - p, &cp);

			if (cp != 0x120 && !tk_is_whitespace(cp))
				break;
			lead++;
			p += (size_t) l;
		}
		{
			size_t		q = len;

			/* counted from the end on its own: a token of spaces only is both leading and trailing */
			while (q > 0)
			{
				size_t		b = q - 1;

				while (b > 0 && ((unsigned char) t[b] & 0xC0) == 0x80)
					b--;
				tk_utf8_decode(t + b, q - b, &cp);
				if (cp != 0x120 && !tk_is_whitespace(cp))
					break;
				trail++;
				q = b;
			}
		}
		if (lead > 0)
		{
			if ((i == 0 || e->off[2 * i] == 0) && add_prefix_space && lead == 1)
				lead = 0;
			e->off[2 * i] = e->off[2 * i] + (uint32_t) lead < e->off[2 * i + 1] ?
				e->off[2 * i] + (uint32_t) lead : e->off[2 * i + 1];
		}
		if (trail > 0 && e->off[2 * i + 1] >= trail)
			e->off[2 * i + 1] = e->off[2 * i + 1] - (uint32_t) trail > e->off[2 * i] ?
				e->off[2 * i + 1] - (uint32_t) trail : e->off[2 * i];
	}
}

static pgml_status
combine(const tk_post *p, tk_ctx *c, const tk_enc *a, const tk_enc *b, tk_enc *out)
{
	size_t		n = a->n + (b ? b->n : 0) + (p ? tk_post_added(p, b != NULL) : 0);
	size_t		k = 0;
	pgml_status st;

	if ((st = tk_enc_alloc(c, out, n)) != PGML_OK)
		return st;
	if (p == NULL || p->kind == PP_BYTELEVEL || p->kind == PP_SEQUENCE)
	{
		put_seq(out, &k, a, 0, 0);
		if (b)
			put_seq(out, &k, b, 1, 1);
	}
	else if (p->kind == PP_BERT)
	{
		put_special(out, &k, p->cls, 0);
		put_seq(out, &k, a, 0, 0);
		put_special(out, &k, p->sep, 0);
		if (b)
		{
			put_seq(out, &k, b, 1, 1);
			put_special(out, &k, p->sep, 1);
		}
	}
	else if (p->kind == PP_ROBERTA)
	{
		put_special(out, &k, p->cls, 0);
		put_seq(out, &k, a, 0, 0);
		put_special(out, &k, p->sep, 0);
		if (b)
		{
			put_special(out, &k, p->sep, 0);
			put_seq(out, &k, b, 0, 1);
			put_special(out, &k, p->sep, 0);
		}
	}
	else
	{
		const titem *it = b ? p->pair : p->single;
		size_t		ni = b ? p->npair : p->nsingle;

		for (size_t i = 0; i < ni; i++)
		{
			if (it[i].seq < 0)
				for (size_t q = 0; q < it[i].nids; q++)
					put_special(out, &k, it[i].ids[q], it[i].type_id);
			else if (it[i].seq == 0)
				put_seq(out, &k, a, it[i].type_id, 0);
			else if (b)
				put_seq(out, &k, b, it[i].type_id, 1);
		}
	}
	out->n = k;
	return PGML_OK;
}

static pgml_status
copy_enc(tk_ctx *c, const tk_enc *s, tk_enc *d)
{
	pgml_status st = tk_enc_alloc(c, d, s->n);

	if (st != PGML_OK)
		return st;
	memcpy(d->ids, s->ids, s->n * sizeof(int32_t));
	memcpy(d->type_ids, s->type_ids, s->n * sizeof(int32_t));
	memcpy(d->special, s->special, s->n);
	memcpy(d->off, s->off, s->n * 2 * sizeof(uint32_t));
	memcpy(d->seq, s->seq, s->n);
	return PGML_OK;
}

/* p NULL or add_special false: plain concatenation (after any ByteLevel trimming). */
pgml_status
tk_post_apply(const tk_post *p, tk_ctx *c, const struct pgml_tokenizer *tok, const tk_enc *a, const tk_enc *b,
			  bool add_special, tk_enc *out)
{
	tk_enc		ta,
				tb;
	const tk_post *comb = NULL;
	pgml_status st;

	if (p == NULL)
		return combine(NULL, c, a, b, out);
	if ((st = copy_enc(c, a, &ta)) != PGML_OK || (b && (st = copy_enc(c, b, &tb)) != PGML_OK))
		return st;
	if (p->kind == PP_SEQUENCE)
	{
		for (size_t i = 0; i < p->nsubs; i++)
		{
			const tk_post *s = p->subs[i];

			if (s->kind == PP_BYTELEVEL)
			{
				if (s->trim_offsets)
				{
					trim_offsets(tok, &ta, s->add_prefix_space);
					if (b)
						trim_offsets(tok, &tb, s->add_prefix_space);
				}
			}
			else if (comb == NULL)
				comb = s;
		}
	}
	else if (p->kind == PP_BYTELEVEL)
	{
		if (p->trim_offsets)
		{
			trim_offsets(tok, &ta, p->add_prefix_space);
			if (b)
				trim_offsets(tok, &tb, p->add_prefix_space);
		}
	}
	else
	{
		if (p->kind == PP_ROBERTA && p->trim_offsets)
		{
			trim_offsets(tok, &ta, p->add_prefix_space);
			if (b)
				trim_offsets(tok, &tb, p->add_prefix_space);
		}
		comb = p;
	}
	return combine(add_special ? comb : NULL, c, &ta, b ? &tb : NULL, out);
}
