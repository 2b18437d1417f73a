/*
 * encoder.c — transformer encoders (see pgml/transformer.h): BERT, RoBERTa, XLM-RoBERTa, DistilBERT,
 * MPNet, ELECTRA, NomicBERT and Alibaba's "new" (the gte-v1.5 models).
 *
 * All of them are the same post-LayerNorm encoder:
 *
 *   x = LN(word[id] + position[p] + type[tt])         (ELECTRA: then a linear projection E → H)
 *   per layer:  x = LN(x + O · attention(Q x, K x, V x))
 *               x = LN(x + W2 · act(W1 x))
 *
 * and differ in weight names, config fields, how positions are numbered (RoBERTa and MPNet count real
 * tokens from padding_idx + 1, as HF create_position_ids_from_input_ids does from the ids), token types
 * (none for DistilBERT, MPNet) and MPNet's relative-position bias added to every layer's scores.
 *
 * NomicBERT and "new" (Alibaba-NLP/new-impl's NewModel) keep the post-LayerNorm layer but drop the
 * position table for rotary embeddings on Q and K, fuse Q, K, V into one projection and use a gated MLP:
 *
 *   x = LN(word[id] + type[tt])
 *   per layer:  x = LN(x + O · attention(rot(Q x), rot(K x), V x))
 *               x = LN(x + W2 · (up(x) ⊙ act(gate(x))))
 *
 * NomicBERT: SwiGLU (up = fc11, gate = fc12), plain rotary. "new": up_gate_proj is one [2I, H] weight
 * (up rows first, then gate rows), act is hidden_act (GELU for gte: a GeGLU), and the rotary frequencies
 * are NTK-scaled when config.json has rope_scaling {"type": "ntk"} (see new_rope_freqs).
 *
 * Letters: B = batch, S = seq, T = B·S tokens, H = hidden, E = embedding size, I = FFN size.
 *
 * Weights stay in the read-only mapping when they are F32 and aligned (so every backend that loads the
 * model shares their pages); F16/BF16 (or unaligned F32) tensors are converted once at load into heap
 * buffers the encoder owns (not yet cached next to the originals). With opts->dtype "int8" every linear
 * layer is quantized at load into heap buffers (Q, K, V stacked into one [3H, H] matrix, and NomicBERT's
 * fc11 / fc12 into one [2I, H]) and the f32 originals are no longer read. Forward allocates its scratch
 * per call, so concurrent calls on one encoder are safe.
 */
#include "pgml/transformer.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pgml/derived.h"
#include "pgml/json.h"
#include "pgml/safetensors.h"
#include "pgml/sha256.h"
#include "pgml/tensor.h"

typedef enum arch
{
	ARCH_BERT,
	ARCH_ROBERTA,
	ARCH_DISTILBERT,
	ARCH_MPNET,
	ARCH_ELECTRA,
	ARCH_NOMIC,
	ARCH_NEW,
} arch;

static const struct
{
	const char *name;
	arch		a;
	const char *prefix;
}			archs[] = {
	{"bert", ARCH_BERT, "bert."},
	{"roberta", ARCH_ROBERTA, "roberta."},
	{"xlm-roberta", ARCH_ROBERTA, "roberta."},
	{"distilbert", ARCH_DISTILBERT, "distilbert."},
	{"mpnet", ARCH_MPNET, "mpnet."},
	{"electra", ARCH_ELECTRA, "electra."},
	{"nomic_bert", ARCH_NOMIC, "bert."},
	{"new", ARCH_NEW, "new."},	/* "new." in NewForMaskedLM & co; NewModel's own names have none */
};

#define SUPPORTED_TYPES "bert, roberta, xlm-roberta, distilbert, mpnet, electra, nomic_bert, new (gte-v1.5)"

typedef struct enc_layer
{
	const float *q_w,
			   *q_b,
			   *k_w,
			   *k_b,
			   *v_w,
			   *v_b,
			   *o_w,
			   *o_b;
	const float *ln1_g,
			   *ln1_b;
	const float *f1_w,
			   *f1_b,
			   *f2_w,
			   *f2_b;
	const float *ln2_g,
			   *ln2_b;
	const float *qkv_w,			/* NomicBERT: fused [3H, H] (bias may be NULL) */
			   *qkv_wb,
			   *g_w,			/* NomicBERT: SwiGLU gate (fc12) */
			   *g_b;
	/* int8 (opts->dtype "int8"): Q, K, V fused into one [3H, H] weight, then O, FFN in, FFN out */
	const float *qkv_b;			/* int8: the three biases, concatenated */
	pgml_q8_weight qkv8,
				o8,
				f18,
				f28;
	const float *upgate_b;		/* int8 NomicBERT: fc11 and fc12 fused into f18 [2I, H], their biases */
	const float *upgate_w;		/* "new": up_gate_proj [2I, H], no bias (int8: f18) */
	/*
	 * f32 with a derived-weights file: the same linears as panels (pgml_linear_panels), used for few
	 * rows, or all NULL. qkv_p is Q, K and V stacked (bias qkv_b); f1_p is fc11 and fc12 stacked for
	 * NomicBERT (bias upgate_b), up_gate_proj for "new".
	 */
	const float *qkv_p,
			   *o_p,
			   *f1_p,
			   *f2_p;
} enc_layer;

struct pgml_encoder
{
	pgml_encoder_info info;
	arch		arch;
	const char *prefix;
	char	   *model_type;
	pgml_safetensors *st;
	size_t		H,
				E,
				I,
				heads,
				dh,
				n_layers,
				vocab,
				n_types,
				pos_rows;
	float		eps;
	pgml_act	act;
	bool		count_positions;	/* RoBERTa-style positions from padding_idx + 1 */
	int64_t		pad_id;
	size_t		rel_buckets;	/* MPNet */
	size_t		rel_max_distance;
	size_t		rot_dims;		/* NomicBERT, "new": rotary dims per head */
	double		rot_base;
	double		rope_factor;	/* "new": rope_scaling NTK factor (1: none) */
	float	   *rope_inv;		/* "new": inverse rotary frequencies [rot_dims / 2] (owned) */
	const float *word,
			   *pos,
			   *type,
			   *emb_g,
			   *emb_b,
			   *proj_w,
			   *proj_b,
			   *rel_bias;
	enc_layer  *layers;
	pgml_derived *derived;		/* converted weights: heap, or mapped from the derived-weights file */
	bool		int8;
	pgml_q8_weight proj8;
	const float *proj_p;		/* panels of proj_w, or NULL */
	bool		panels;			/* every linear has its panels */
	bool		nomic_qkv_bias,
				nomic_fc1_bias,
				nomic_fc2_bias;
};

/* ---------------------------------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------------------------------- */

/*
 * Finds weight `name` (with or without the architecture's prefix) of shape [d0] or [d0, d1] (d1 = 0) and
 * returns f32 data: the mapping itself, or a converted copy.
 */
static pgml_status
weight(pgml_encoder *enc, const char *name, size_t d0, size_t d1, const float **out, pgml_err *err)
{
	char		full[256],
				dname[272];
	size_t		shape[2] = {d0, d1};
	const pgml_st_tensor *t;
	float	   *buf;
	pgml_status rc;

	snprintf(full, sizeof(full), "%s%s", enc->prefix, name);
	if (pgml_safetensors_find(enc->st, full) == NULL)
		snprintf(full, sizeof(full), "%s", name);
	rc = pgml_safetensors_get(enc->st, full, d1 ? 2 : 1, shape, &t, err);
	if (rc != PGML_OK)
		return rc;
	if (t->dtype == PGML_DTYPE_F32 && ((uintptr_t) t->data % sizeof(float)) == 0)
	{
		*out = t->data;
		return PGML_OK;
	}
	/* converted once into the derived-weights file, or now */
	snprintf(dname, sizeof(dname), "f32:%s", full);
	if ((*out = pgml_derived_get_f32(enc->derived, dname, t->numel)) != NULL)
		return PGML_OK;
	buf = pgml_malloc(t->numel * sizeof(float) + 1);
	if (buf == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	pgml_convert_to_f32(t->dtype, t->data, buf, t->numel);
	return pgml_derived_add_f32(enc->derived, dname, buf, t->numel, out, err);
}

/* Reads a config integer that must be present and in [min, max]. */
static pgml_status
cfg_int(const json_t *cfg, const char *key, int64_t def, int64_t min, int64_t max, size_t *out, pgml_err *err)
{
	int64_t		v;
	pgml_status rc;

	if (def == INT64_MIN && json_object_get(cfg, key) == NULL)
	{
		pgml_error(err, PGML_ERR_CORRUPT, "config.json has no \"%s\"", key);
		return PGML_ERR_CORRUPT;
	}
	rc = pgml_json_get_int(cfg, key, def == INT64_MIN ? 0 : def, min, max, &v, err);
	if (rc != PGML_OK)
	{
		char		msg[PGML_ERR_MSG_LEN];

		snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
		pgml_error(err, PGML_ERR_CORRUPT, "invalid config.json: %s", msg);
		return PGML_ERR_CORRUPT;
	}
	*out = (size_t) v;
	return PGML_OK;
}

#define REQ INT64_MIN
#define BIG ((int64_t) 1 << 24)

/* Rewraps err's message as "invalid config.json: <what>: <message>" (copied first: it is both source and target). */
static pgml_status
cfg_invalid(pgml_err *err, const char *what)
{
	char		msg[PGML_ERR_MSG_LEN];

	snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
	if (what != NULL)
		return pgml_error(err, PGML_ERR_CORRUPT, "invalid config.json: %s: %s", what, msg);
	return pgml_error(err, PGML_ERR_CORRUPT, "invalid config.json: %s", msg);
}

/* Reports a "new" config.json setting that the reference code accepts but this encoder does not implement. */
static pgml_status new_unsupported(pgml_err *err, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static pgml_status
new_unsupported(pgml_err *err, const char *fmt,...)
{
	char		what[128];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pgml_error(err, PGML_ERR_NOT_SUPPORTED, "model type \"new\" with %s is not supported", what);
	pgml_err_hint(err, "Supported: position_embedding_type \"rope\", layer_norm_type \"layer_norm\", "
				  "pack_qkv true, rope_scaling null or {\"type\": \"ntk\", \"factor\" >= 1} without mixed_b, "
				  "logn_attention_scale false.");
	return PGML_ERR_NOT_SUPPORTED;
}

/*
 * config.json of Alibaba-NLP/new-impl's NewConfig (defaults as there: gte-base-en-v1.5 sets type_vocab_size 0,
 * gte-large-en-v1.5 2). unpad_inputs and use_memory_efficient_attention only choose how the reference runs
 * (xformers), not what it computes, and are ignored.
 */
static pgml_status
parse_new_config(pgml_encoder *enc, const json_t *cfg, const char **act, double *eps, size_t *maxpos,
				 pgml_err *err)
{
	pgml_status rc;
	const char *pet = "rope",
			   *lnt = "layer_norm";
	bool		pack,
				logn;
	const json_t *rs = json_object_get(cfg, "rope_scaling");

	if ((rc = cfg_int(cfg, "hidden_size", REQ, 1, BIG, &enc->H, err)) ||
		(rc = cfg_int(cfg, "num_hidden_layers", REQ, 1, 1024, &enc->n_layers, err)) ||
		(rc = cfg_int(cfg, "num_attention_heads", REQ, 1, 1024, &enc->heads, err)) ||
		(rc = cfg_int(cfg, "intermediate_size", REQ, 1, BIG, &enc->I, err)) ||
		(rc = cfg_int(cfg, "vocab_size", REQ, 1, (int64_t) 1 << 30, &enc->vocab, err)) ||
		(rc = cfg_int(cfg, "max_position_embeddings", 2048, 1, BIG, maxpos, err)) ||
		(rc = cfg_int(cfg, "type_vocab_size", 1, 0, 1024, &enc->n_types, err)))
		return rc;
	if (pgml_json_get_string(cfg, "hidden_act", "gelu", act, err) ||
		pgml_json_get_real(cfg, "layer_norm_eps", 1e-12, 0, 1, eps, err) ||
		pgml_json_get_string(cfg, "position_embedding_type", "rope", &pet, err) ||
		pgml_json_get_string(cfg, "layer_norm_type", "layer_norm", &lnt, err) ||
		pgml_json_get_real(cfg, "rope_theta", 10000, 1e-6, 1e12, &enc->rot_base, err) ||
		pgml_json_get_bool(cfg, "pack_qkv", true, &pack, err) ||
		pgml_json_get_bool(cfg, "logn_attention_scale", false, &logn, err))
		return cfg_invalid(err, NULL);
	if (strcmp(pet, "rope") != 0)
		return new_unsupported(err, "position_embedding_type \"%s\"", pet);
	if (strcmp(lnt, "layer_norm") != 0)
		return new_unsupported(err, "layer_norm_type \"%s\"", lnt);	/* rms_norm */
	if (!pack)
		return new_unsupported(err, "pack_qkv false");
	/* log-n scaling of Q by log(length) / log(max_position_embeddings): not used by the gte models */
	if (logn)
		return new_unsupported(err, "logn_attention_scale true");
	enc->rope_factor = 1;
	if (rs != NULL && !json_is_null(rs))
	{
		const char *type = NULL;
		const json_t *mb;

		if (!json_is_object(rs))
			return pgml_error(err, PGML_ERR_CORRUPT, "invalid config.json: \"rope_scaling\" must be an object");
		if (pgml_json_get_string(rs, "type", NULL, &type, err) ||
			pgml_json_get_real(rs, "factor", 1, 0, 1e6, &enc->rope_factor, err))
			return cfg_invalid(err, "rope_scaling");
		if (type == NULL)
			return pgml_error(err, PGML_ERR_CORRUPT, "invalid config.json: rope_scaling has no \"type\"");
		if (strcmp(type, "ntk") != 0)
			return new_unsupported(err, "rope_scaling type \"%s\"", type);
		if ((mb = json_object_get(rs, "mixed_b")) != NULL && !json_is_null(mb))
			return new_unsupported(err, "rope_scaling mixed_b");

		/*
		 * Below 1 the reference scales only once a sequence is longer than max_position_embeddings (its
		 * cache covers max_position_embeddings · factor rows at first): a length-dependent rule not done here.
		 */
		if (enc->rope_factor < 1)
			return new_unsupported(err, "rope_scaling factor %g", enc->rope_factor);
	}
	enc->E = enc->H;
	enc->pos_rows = 0;
	enc->info.max_positions = *maxpos;
	if (enc->heads > 0 && enc->H % enc->heads == 0)
		enc->rot_dims = enc->H / enc->heads / 2 * 2;
	return PGML_OK;
}

static pgml_status
parse_config(pgml_encoder *enc, const json_t *cfg, pgml_err *err)
{
	pgml_status rc = PGML_OK;
	const char *act = "gelu";
	const char *pet = "absolute";
	double		eps = 1e-12;
	size_t		maxpos = 0,
				pad = 0;

	if (enc->arch == ARCH_NEW)
	{
		if ((rc = parse_new_config(enc, cfg, &act, &eps, &maxpos, err)) != PGML_OK)
			return rc;
	}
	else if (enc->arch == ARCH_NOMIC)
	{
		bool		interleaved,
					prenorm;
		double		frac,
					base;
		size_t		mult,
					n_inner;
		const char *scaling = NULL;

		if ((rc = cfg_int(cfg, "n_embd", REQ, 1, BIG, &enc->H, err)) ||
			(rc = cfg_int(cfg, "n_layer", REQ, 1, 1024, &enc->n_layers, err)) ||
			(rc = cfg_int(cfg, "n_head", REQ, 1, 1024, &enc->heads, err)) ||
			(rc = cfg_int(cfg, "n_inner", REQ, 1, BIG, &n_inner, err)) ||
			(rc = cfg_int(cfg, "vocab_size", REQ, 1, (int64_t) 1 << 30, &enc->vocab, err)) ||
			(rc = cfg_int(cfg, "pad_vocab_size_multiple", 1, 1, 1 << 16, &mult, err)) ||
			(rc = cfg_int(cfg, "type_vocab_size", 2, 0, 1024, &enc->n_types, err)) ||
			(rc = cfg_int(cfg, "n_positions", 0, 0, BIG, &maxpos, err)))
			return rc;
		if (pgml_json_get_string(cfg, "activation_function", "swiglu", &act, err) ||
			pgml_json_get_real(cfg, "layer_norm_epsilon", 1e-12, 0, 1, &eps, err) ||
			pgml_json_get_real(cfg, "rotary_emb_fraction", 0, 0, 1, &frac, err) ||
			pgml_json_get_real(cfg, "rotary_emb_base", 10000, 1, 1e12, &base, err) ||
			pgml_json_get_bool(cfg, "rotary_emb_interleaved", false, &interleaved, err) ||
			pgml_json_get_bool(cfg, "prenorm", false, &prenorm, err) ||
			pgml_json_get_bool(cfg, "qkv_proj_bias", true, &enc->nomic_qkv_bias, err) ||
			pgml_json_get_bool(cfg, "mlp_fc1_bias", true, &enc->nomic_fc1_bias, err) ||
			pgml_json_get_bool(cfg, "mlp_fc2_bias", true, &enc->nomic_fc2_bias, err))
			return cfg_invalid(err, NULL);
		if (json_is_number(json_object_get(cfg, "rotary_scaling_factor")))
			scaling = "rotary_scaling_factor";
		if (strcmp(act, "swiglu") != 0 || interleaved || prenorm || frac <= 0 || scaling != NULL ||
			json_is_true(json_object_get(cfg, "causal")))
		{
			pgml_error(err, PGML_ERR_NOT_SUPPORTED, "this nomic_bert configuration is not supported");
			pgml_err_detail(err, "Supported: activation_function \"swiglu\", post-norm, rotary_emb_fraction > 0, "
							"rotary_emb_interleaved false, no rotary_scaling_factor, not causal.");
			return PGML_ERR_NOT_SUPPORTED;
		}
		act = "silu";
		if (enc->vocab % mult != 0)
			enc->vocab += mult - enc->vocab % mult;	/* the embedding table is padded like this */
		enc->I = (n_inner + 255) / 256 * 256;	/* NomicBERT's gated MLP rounds its width to 256 */
		enc->E = enc->H;
		enc->pos_rows = 0;
		enc->info.max_positions = maxpos;
		enc->rot_base = base;
		if (enc->H % enc->heads == 0)
			enc->rot_dims = (size_t) ((double) (enc->H / enc->heads) * frac) / 2 * 2;
	}
	else if (enc->arch == ARCH_DISTILBERT)
	{
		bool		sinus;

		if ((rc = cfg_int(cfg, "dim", REQ, 1, BIG, &enc->H, err)) ||
			(rc = cfg_int(cfg, "n_layers", REQ, 1, 1024, &enc->n_layers, err)) ||
			(rc = cfg_int(cfg, "n_heads", REQ, 1, 1024, &enc->heads, err)) ||
			(rc = cfg_int(cfg, "hidden_dim", REQ, 1, BIG, &enc->I, err)) ||
			(rc = cfg_int(cfg, "vocab_size", REQ, 1, (int64_t) 1 << 30, &enc->vocab, err)) ||
			(rc = cfg_int(cfg, "max_position_embeddings", 512, 1, BIG, &maxpos, err)))
			return rc;
		if (pgml_json_get_string(cfg, "activation", "gelu", &act, err) ||
			pgml_json_get_bool(cfg, "sinusoidal_pos_embds", false, &sinus, err))
			return cfg_invalid(err, NULL);
		enc->E = enc->H;
		enc->n_types = 0;
		enc->pos_rows = maxpos;
		enc->info.max_positions = maxpos;
	}
	else
	{
		if ((rc = cfg_int(cfg, "hidden_size", REQ, 1, BIG, &enc->H, err)) ||
			(rc = cfg_int(cfg, "num_hidden_layers", REQ, 1, 1024, &enc->n_layers, err)) ||
			(rc = cfg_int(cfg, "num_attention_heads", REQ, 1, 1024, &enc->heads, err)) ||
			(rc = cfg_int(cfg, "intermediate_size", REQ, 1, BIG, &enc->I, err)) ||
			(rc = cfg_int(cfg, "vocab_size", REQ, 1, (int64_t) 1 << 30, &enc->vocab, err)) ||
			(rc = cfg_int(cfg, "max_position_embeddings", 512, 1, BIG, &maxpos, err)) ||
			(rc = cfg_int(cfg, "type_vocab_size", enc->arch == ARCH_MPNET ? 0 : 2, 0, 1024, &enc->n_types, err)) ||
			(rc = cfg_int(cfg, "pad_token_id", enc->arch == ARCH_BERT || enc->arch == ARCH_ELECTRA ? 0 : 1, 0,
						  (int64_t) 1 << 30, &pad, err)))
			return rc;
		if (pgml_json_get_string(cfg, "hidden_act", "gelu", &act, err) ||
			pgml_json_get_string(cfg, "position_embedding_type", "absolute", &pet, err) ||
			pgml_json_get_real(cfg, "layer_norm_eps", enc->arch == ARCH_MPNET ? 1e-5 : 1e-12, 0, 1, &eps, err))
			return cfg_invalid(err, NULL);
		if (strcmp(pet, "absolute") != 0)
		{
			pgml_error(err, PGML_ERR_NOT_SUPPORTED, "position_embedding_type \"%s\" is not supported", pet);
			pgml_err_hint(err, "Only \"absolute\" position embeddings are supported.");
			return PGML_ERR_NOT_SUPPORTED;
		}
		enc->E = enc->H;
		if (enc->arch == ARCH_ELECTRA &&
			(rc = cfg_int(cfg, "embedding_size", 128, 1, BIG, &enc->E, err)))
			return rc;
		if (enc->arch == ARCH_MPNET &&
			(rc = cfg_int(cfg, "relative_attention_num_buckets", 32, 2, 1024, &enc->rel_buckets, err)))
			return rc;
		enc->rel_max_distance = 128;
		enc->pos_rows = maxpos;
		enc->count_positions = enc->arch == ARCH_ROBERTA || enc->arch == ARCH_MPNET;
		enc->pad_id = (int64_t) pad;
		if (enc->count_positions)
		{
			if (maxpos < pad + 2)
				return pgml_error(err, PGML_ERR_CORRUPT,
								  "invalid config.json: max_position_embeddings %zu leaves no room after pad_token_id %zu",
								  maxpos, pad);
			enc->info.max_positions = maxpos - pad - 1;
		}
		else
			enc->info.max_positions = maxpos;
	}
	enc->eps = (float) eps;
	if (!pgml_act_parse(act, &enc->act))
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "activation \"%s\" is not supported", act);
		pgml_err_hint(err, "Supported activations are gelu, gelu_new, gelu_pytorch_tanh, relu and silu.");
		return PGML_ERR_NOT_SUPPORTED;
	}
	if (enc->H % enc->heads != 0)
		return pgml_error(err, PGML_ERR_CORRUPT,
						  "invalid config.json: hidden size %zu is not a multiple of the %zu attention heads", enc->H,
						  enc->heads);
	enc->dh = enc->H / enc->heads;
	return PGML_OK;
}

/* NomicBERT's weights (nomic-ai's modeling_hf_nomic_bert names); biases only where config.json has them. */
static pgml_status
load_nomic(pgml_encoder *enc, pgml_err *err)
{
	size_t		H = enc->H,
				I = enc->I;
	pgml_status rc;

	if ((rc = weight(enc, "embeddings.word_embeddings.weight", enc->vocab, H, &enc->word, err)) ||
		(rc = weight(enc, "emb_ln.weight", H, 0, &enc->emb_g, err)) ||
		(rc = weight(enc, "emb_ln.bias", H, 0, &enc->emb_b, err)))
		return rc;
	if (enc->n_types > 0 &&
		(rc = weight(enc, "embeddings.token_type_embeddings.weight", enc->n_types, H, &enc->type, err)))
		return rc;
	enc->layers = pgml_calloc(enc->n_layers, sizeof(enc_layer));
	if (enc->layers == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	for (size_t l = 0; l < enc->n_layers; l++)
	{
		enc_layer  *ly = &enc->layers[l];
		char		n[128];

#define NW(suffix, d0, d1, dst) \
		(snprintf(n, sizeof(n), "encoder.layers.%zu.%s", l, suffix), (rc = weight(enc, n, d0, d1, dst, err)))
		if (NW("attn.Wqkv.weight", 3 * H, H, &ly->qkv_w) || NW("attn.out_proj.weight", H, H, &ly->o_w) ||
			NW("mlp.fc11.weight", I, H, &ly->f1_w) || NW("mlp.fc12.weight", I, H, &ly->g_w) ||
			NW("mlp.fc2.weight", H, I, &ly->f2_w) || NW("norm1.weight", H, 0, &ly->ln1_g) ||
			NW("norm1.bias", H, 0, &ly->ln1_b) || NW("norm2.weight", H, 0, &ly->ln2_g) ||
			NW("norm2.bias", H, 0, &ly->ln2_b))
			return rc;
		if (enc->nomic_qkv_bias &&
			(NW("attn.Wqkv.bias", 3 * H, 0, &ly->qkv_wb) || NW("attn.out_proj.bias", H, 0, &ly->o_b)))
			return rc;
		if (enc->nomic_fc1_bias && (NW("mlp.fc11.bias", I, 0, &ly->f1_b) || NW("mlp.fc12.bias", I, 0, &ly->g_b)))
			return rc;
		if (enc->nomic_fc2_bias && NW("mlp.fc2.bias", H, 0, &ly->f2_b))
			return rc;
#undef NW
	}
	return PGML_OK;
}

/*
 * The rotary inverse frequencies of NewModel, in float32 as torch builds them. With rope_scaling "ntk"
 * (new-impl's NTKScalingRotaryEmbedding without mixed_b: "fixed NTK", kexue.fm/archives/9706) the base
 * becomes theta · factor and every frequency is divided once more by factor^(2 / d), d = the head size:
 *
 *   inv[i] = 1 / (theta · factor)^(2i / d) / factor^(2 / d)
 *
 * at every sequence length: the reference builds its cos/sin cache at load for max_position_embeddings ·
 * factor positions, which is past max_position_embeddings, and that is its condition for scaling, so
 * short inputs are scaled too (text-embeddings-inference's gte.rs does the same).
 */
static pgml_status
new_rope_freqs(pgml_encoder *enc, pgml_err *err)
{
	size_t		d = enc->rot_dims;
	float	   *inv = pgml_malloc((d / 2 + 1) * sizeof(float));
	float		base = (float) (enc->rot_base * enc->rope_factor);
	float		div = (float) pow(enc->rope_factor, 2.0 / (double) d);

	if (inv == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	for (size_t i = 0; i < d / 2; i++)
	{
		inv[i] = 1.0f / powf(base, (float) (2 * i) / (float) d);
		if (enc->rope_factor != 1)
			inv[i] /= div;
	}
	enc->rope_inv = inv;
	return PGML_OK;
}

/* "new" weights (NewModel names: qkv_proj packs Q, K, V in that order; up_gate_proj has no bias). */
static pgml_status
load_new(pgml_encoder *enc, pgml_err *err)
{
	size_t		H = enc->H,
				I = enc->I;
	pgml_status rc;

	if (enc->dh % 2 != 0)
		return pgml_error(err, PGML_ERR_CORRUPT, "invalid config.json: rotary head size %zu is odd", enc->dh);
	if (I > SIZE_MAX / 2 / H)
		return pgml_error(err, PGML_ERR_LIMIT, "intermediate_size %zu is too large", I);
	if ((rc = new_rope_freqs(enc, err)) ||
		(rc = weight(enc, "embeddings.word_embeddings.weight", enc->vocab, H, &enc->word, err)) ||
		(rc = weight(enc, "embeddings.LayerNorm.weight", H, 0, &enc->emb_g, err)) ||
		(rc = weight(enc, "embeddings.LayerNorm.bias", H, 0, &enc->emb_b, err)))
		return rc;
	if (enc->n_types > 0 &&
		(rc = weight(enc, "embeddings.token_type_embeddings.weight", enc->n_types, H, &enc->type, err)))
		return rc;
	enc->layers = pgml_calloc(enc->n_layers, sizeof(enc_layer));
	if (enc->layers == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	for (size_t l = 0; l < enc->n_layers; l++)
	{
		enc_layer  *ly = &enc->layers[l];
		char		n[128];

#define NW(suffix, d0, d1, dst) \
		(snprintf(n, sizeof(n), "encoder.layer.%zu.%s", l, suffix), (rc = weight(enc, n, d0, d1, dst, err)))
		if (NW("attention.qkv_proj.weight", 3 * H, H, &ly->qkv_w) ||
			NW("attention.qkv_proj.bias", 3 * H, 0, &ly->qkv_wb) ||
			NW("attention.o_proj.weight", H, H, &ly->o_w) || NW("attention.o_proj.bias", H, 0, &ly->o_b) ||
			NW("attn_ln.weight", H, 0, &ly->ln1_g) || NW("attn_ln.bias", H, 0, &ly->ln1_b) ||
			NW("mlp.up_gate_proj.weight", 2 * I, H, &ly->upgate_w) ||
			NW("mlp.down_proj.weight", H, I, &ly->f2_w) || NW("mlp.down_proj.bias", H, 0, &ly->f2_b) ||
			NW("mlp_ln.weight", H, 0, &ly->ln2_g) || NW("mlp_ln.bias", H, 0, &ly->ln2_b))
			return rc;
#undef NW
	}
	return PGML_OK;
}

static pgml_status
load_weights(pgml_encoder *enc, pgml_err *err)
{
	size_t		H = enc->H,
				I = enc->I,
				E = enc->E;
	pgml_status rc;
	bool		distil = enc->arch == ARCH_DISTILBERT;

	if (enc->arch == ARCH_NOMIC)
		return load_nomic(enc, err);
	if (enc->arch == ARCH_NEW)
		return load_new(enc, err);
	if ((rc = weight(enc, "embeddings.word_embeddings.weight", enc->vocab, E, &enc->word, err)) ||
		(rc = weight(enc, "embeddings.position_embeddings.weight", enc->pos_rows, E, &enc->pos, err)) ||
		(rc = weight(enc, "embeddings.LayerNorm.weight", E, 0, &enc->emb_g, err)) ||
		(rc = weight(enc, "embeddings.LayerNorm.bias", E, 0, &enc->emb_b, err)))
		return rc;
	if (enc->n_types > 0 &&
		(rc = weight(enc, "embeddings.token_type_embeddings.weight", enc->n_types, E, &enc->type, err)))
		return rc;
	if (enc->arch == ARCH_ELECTRA && E != H &&
		((rc = weight(enc, "embeddings_project.weight", H, E, &enc->proj_w, err)) ||
		 (rc = weight(enc, "embeddings_project.bias", H, 0, &enc->proj_b, err))))
		return rc;
	if (enc->arch != ARCH_ELECTRA && E != H)
		return pgml_error(err, PGML_ERR_INTERNAL, "embedding size differs from hidden size");
	if (enc->arch == ARCH_MPNET &&
		(rc = weight(enc, "encoder.relative_attention_bias.weight", enc->rel_buckets, enc->heads, &enc->rel_bias,
					 err)))
		return rc;
	enc->layers = pgml_calloc(enc->n_layers, sizeof(enc_layer));
	if (enc->layers == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	for (size_t l = 0; l < enc->n_layers; l++)
	{
		enc_layer  *ly = &enc->layers[l];
		char		p[64];
		const struct
		{
			const char *name;
			size_t		d0,
						d1;
			const float **dst;
		}		   *w,
					bert[] = {
			{"attention.self.query.weight", H, H, &ly->q_w}, {"attention.self.query.bias", H, 0, &ly->q_b},
			{"attention.self.key.weight", H, H, &ly->k_w}, {"attention.self.key.bias", H, 0, &ly->k_b},
			{"attention.self.value.weight", H, H, &ly->v_w}, {"attention.self.value.bias", H, 0, &ly->v_b},
			{"attention.output.dense.weight", H, H, &ly->o_w}, {"attention.output.dense.bias", H, 0, &ly->o_b},
			{"attention.output.LayerNorm.weight", H, 0, &ly->ln1_g},
			{"attention.output.LayerNorm.bias", H, 0, &ly->ln1_b},
			{"intermediate.dense.weight", I, H, &ly->f1_w}, {"intermediate.dense.bias", I, 0, &ly->f1_b},
			{"output.dense.weight", H, I, &ly->f2_w}, {"output.dense.bias", H, 0, &ly->f2_b},
			{"output.LayerNorm.weight", H, 0, &ly->ln2_g}, {"output.LayerNorm.bias", H, 0, &ly->ln2_b},
			{NULL, 0, 0, NULL}},
					mpnet[] = {
			{"attention.attn.q.weight", H, H, &ly->q_w}, {"attention.attn.q.bias", H, 0, &ly->q_b},
			{"attention.attn.k.weight", H, H, &ly->k_w}, {"attention.attn.k.bias", H, 0, &ly->k_b},
			{"attention.attn.v.weight", H, H, &ly->v_w}, {"attention.attn.v.bias", H, 0, &ly->v_b},
			{"attention.attn.o.weight", H, H, &ly->o_w}, {"attention.attn.o.bias", H, 0, &ly->o_b},
			{"attention.LayerNorm.weight", H, 0, &ly->ln1_g}, {"attention.LayerNorm.bias", H, 0, &ly->ln1_b},
			{"intermediate.dense.weight", I, H, &ly->f1_w}, {"intermediate.dense.bias", I, 0, &ly->f1_b},
			{"output.dense.weight", H, I, &ly->f2_w}, {"output.dense.bias", H, 0, &ly->f2_b},
			{"output.LayerNorm.weight", H, 0, &ly->ln2_g}, {"output.LayerNorm.bias", H, 0, &ly->ln2_b},
			{NULL, 0, 0, NULL}},
					distilbert[] = {
			{"attention.q_lin.weight", H, H, &ly->q_w}, {"attention.q_lin.bias", H, 0, &ly->q_b},
			{"attention.k_lin.weight", H, H, &ly->k_w}, {"attention.k_lin.bias", H, 0, &ly->k_b},
			{"attention.v_lin.weight", H, H, &ly->v_w}, {"attention.v_lin.bias", H, 0, &ly->v_b},
			{"attention.out_lin.weight", H, H, &ly->o_w}, {"attention.out_lin.bias", H, 0, &ly->o_b},
			{"sa_layer_norm.weight", H, 0, &ly->ln1_g}, {"sa_layer_norm.bias", H, 0, &ly->ln1_b},
			{"ffn.lin1.weight", I, H, &ly->f1_w}, {"ffn.lin1.bias", I, 0, &ly->f1_b},
			{"ffn.lin2.weight", H, I, &ly->f2_w}, {"ffn.lin2.bias", H, 0, &ly->f2_b},
			{"output_layer_norm.weight", H, 0, &ly->ln2_g}, {"output_layer_norm.bias", H, 0, &ly->ln2_b},
			{NULL, 0, 0, NULL}};

		w = distil ? distilbert : enc->arch == ARCH_MPNET ? mpnet : bert;
		snprintf(p, sizeof(p), distil ? "transformer.layer.%zu." : "encoder.layer.%zu.", l);
		for (; w->name != NULL; w++)
		{
			char		name[160];

			snprintf(name, sizeof(name), "%s%s", p, w->name);
			if ((rc = weight(enc, name, w->d0, w->d1, w->dst, err)) != PGML_OK)
				return rc;
		}
	}
	return PGML_OK;
}

/* The concatenation of two or three f32 arrays of n floats (c may be NULL): from the derived file, or now. */
static pgml_status
derived_cat(pgml_encoder *enc, const char *name, const float *a, const float *b, const float *c, size_t n,
			const float **out, pgml_err *err)
{
	size_t		parts = c != NULL ? 3 : 2;
	float	   *buf;

	if ((*out = pgml_derived_get_f32(enc->derived, name, parts * n)) != NULL)
		return PGML_OK;
	buf = pgml_malloc(parts * n * sizeof(float));
	if (buf == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	memcpy(buf, a, n * sizeof(float));
	memcpy(buf + n, b, n * sizeof(float));
	if (c != NULL)
		memcpy(buf + 2 * n, c, n * sizeof(float));
	return pgml_derived_add_f32(enc->derived, name, buf, parts * n, out, err);
}

/*
 * The int8 weight `name`: from the derived file, or quantized now from the row-wise concatenation of
 * nparts weights of [rows, K] each.
 */
static pgml_status
derived_q8(pgml_encoder *enc, const char *name, const float *const *parts, size_t nparts, size_t rows, size_t K,
		   pgml_q8_weight *q, pgml_err *err)
{
	const float *W = parts[0];
	float	   *cat = NULL;
	pgml_status rc;

	if (pgml_derived_get_q8(enc->derived, name, nparts * rows, K, q))
		return PGML_OK;
	if (nparts > 1)
	{
		cat = pgml_malloc(nparts * rows * K * sizeof(float));
		if (cat == NULL)
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		for (size_t i = 0; i < nparts; i++)
			memcpy(cat + i * rows * K, parts[i], rows * K * sizeof(float));
		W = cat;
	}
	rc = pgml_q8_quantize(W, nparts * rows, K, q, err);
	pgml_free(cat);
	if (rc != PGML_OK)
		return rc;
	return pgml_derived_add_q8(enc->derived, name, q, err);
}

/* quantize_weights for NomicBERT: Wqkv as it is, fc11 and fc12 stacked into one [2I, H] weight. */
static pgml_status
quantize_nomic(pgml_encoder *enc, pgml_err *err)
{
	size_t		H = enc->H,
				I = enc->I;
	pgml_status rc = PGML_OK;

	for (size_t l = 0; l < enc->n_layers && rc == PGML_OK; l++)
	{
		enc_layer  *ly = &enc->layers[l];
		char		name[64];
		const float *qkv[1] = {ly->qkv_w},
				   *o[1] = {ly->o_w},
				   *upgate[2] = {ly->f1_w, ly->g_w},
				   *f2[1] = {ly->f2_w};

		ly->qkv_b = ly->qkv_wb;
		snprintf(name, sizeof(name), "layer.%zu.upgate_b", l);
		if (ly->f1_b != NULL && (rc = derived_cat(enc, name, ly->f1_b, ly->g_b, NULL, I, &ly->upgate_b, err)))
			break;
#define Q8(part, src, n, rows, K, dst) \
		(snprintf(name, sizeof(name), "q8:layer.%zu.%s", l, part), \
		 (rc = derived_q8(enc, name, src, n, rows, K, dst, err)))
		if (Q8("qkv", qkv, 1, 3 * H, H, &ly->qkv8) || Q8("o", o, 1, H, H, &ly->o8) ||
			Q8("f1", upgate, 2, I, H, &ly->f18) || Q8("f2", f2, 1, H, I, &ly->f28))
			break;
	}
	return rc;
}

/* quantize_weights for "new": qkv_proj and up_gate_proj are already one matrix each. */
static pgml_status
quantize_new(pgml_encoder *enc, pgml_err *err)
{
	size_t		H = enc->H,
				I = enc->I;
	pgml_status rc = PGML_OK;

	for (size_t l = 0; l < enc->n_layers && rc == PGML_OK; l++)
	{
		enc_layer  *ly = &enc->layers[l];
		char		name[64];
		const float *qkv[1] = {ly->qkv_w},
				   *o[1] = {ly->o_w},
				   *upgate[1] = {ly->upgate_w},
				   *f2[1] = {ly->f2_w};

		ly->qkv_b = ly->qkv_wb;
		if (Q8("qkv", qkv, 1, 3 * H, H, &ly->qkv8) || Q8("o", o, 1, H, H, &ly->o8) ||
			Q8("f1", upgate, 1, 2 * I, H, &ly->f18) || Q8("f2", f2, 1, H, I, &ly->f28))
			break;
	}
	return rc;
}

/*
 * Quantizes every linear layer to int8 (the f32 weights stay mapped but are no longer read), or takes
 * the quantized weights from the derived-weights file. Q, K and V are concatenated first so that one
 * call quantizes x once for all three.
 */
static pgml_status
quantize_weights(pgml_encoder *enc, pgml_err *err)
{
	size_t		H = enc->H,
				I = enc->I;
	pgml_status rc = PGML_OK;

	if (enc->arch == ARCH_NOMIC)
		return quantize_nomic(enc, err);
	if (enc->arch == ARCH_NEW)
		return quantize_new(enc, err);
	for (size_t l = 0; l < enc->n_layers && rc == PGML_OK; l++)
	{
		enc_layer  *ly = &enc->layers[l];
		char		name[64];
		const float *qkv[3] = {ly->q_w, ly->k_w, ly->v_w},
				   *o[1] = {ly->o_w},
				   *f1[1] = {ly->f1_w},
				   *f2[1] = {ly->f2_w};

		snprintf(name, sizeof(name), "layer.%zu.qkv_b", l);
		if ((rc = derived_cat(enc, name, ly->q_b, ly->k_b, ly->v_b, H, &ly->qkv_b, err)) != PGML_OK)
			break;
		if (Q8("qkv", qkv, 3, H, H, &ly->qkv8) || Q8("o", o, 1, H, H, &ly->o8) ||
			Q8("f1", f1, 1, I, H, &ly->f18) || Q8("f2", f2, 1, H, I, &ly->f28))
			break;
#undef Q8
	}
	if (rc == PGML_OK && enc->proj_w != NULL)
	{
		const float *proj[1] = {enc->proj_w};

		rc = derived_q8(enc, "q8:embeddings_project", proj, 1, H, enc->E, &enc->proj8, err);
	}
	return rc;
}

/*
 * The panels of weight `name`: from the derived file, or packed now from the row-wise concatenation of
 * nparts weights of [rows, K] each, kept only if the file maps them (pgml_derived_add_f32_shared).
 */
static pgml_status
derived_panels(pgml_encoder *enc, const char *name, const float *const *parts, size_t nparts, size_t rows,
			   size_t K, const float **out, pgml_err *err)
{
	size_t		n = pgml_panels_floats(nparts * rows, K);
	float	   *buf;

	if (n == 0)
		return pgml_error(err, PGML_ERR_LIMIT, "weight too large");
	if ((*out = pgml_derived_get_f32(enc->derived, name, n)) != NULL)
		return PGML_OK;
	buf = pgml_malloc(n * sizeof(float));
	if (buf == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	pgml_panels_pack(parts, nparts, rows, K, buf);
	return pgml_derived_add_f32_shared(enc->derived, name, buf, n, out, err);
}

/*
 * f32: every linear layer also as panels, for forwards of at most PGML_PANEL_T real tokens (one
 * sentence or passage, a few short ones), where sgemm would repack all the weights for few rows and the
 * panel kernel reads them once (pgml/tensor.h). They are a second copy of the weights, so they exist only in the derived-weights
 * file, shared by every backend and built once: without a file (no directory, or one that cannot be
 * written) no backend keeps a private copy, and few rows run the kernels on the weights as stored.
 */
static pgml_status
build_panels(pgml_encoder *enc, pgml_err *err)
{
	size_t		H = enc->H,
				I = enc->I;
	pgml_status rc = PGML_OK;

	if (enc->int8 || !pgml_derived_has_file(enc->derived))
		return PGML_OK;
	for (size_t l = 0; l < enc->n_layers && rc == PGML_OK; l++)
	{
		enc_layer  *ly = &enc->layers[l];
		char		name[64];
		const float *qkv3[3] = {ly->q_w, ly->k_w, ly->v_w},
				   *qkv1[1] = {ly->qkv_w},
				   *o[1] = {ly->o_w},
				   *f1[2] = {ly->f1_w, ly->g_w},
				   *upgate[1] = {ly->upgate_w},
				   *f2[1] = {ly->f2_w};

#define PAN(part, src, n, rows, K, dst) \
		(snprintf(name, sizeof(name), "p16:layer.%zu.%s", l, part), \
		 (rc = derived_panels(enc, name, src, n, rows, K, dst, err)))
		if (ly->qkv_w != NULL)
		{
			ly->qkv_b = ly->qkv_wb;
			if (PAN("qkv", qkv1, 1, 3 * H, H, &ly->qkv_p))
				break;
		}
		else
		{
			snprintf(name, sizeof(name), "layer.%zu.qkv_b", l);
			if ((rc = derived_cat(enc, name, ly->q_b, ly->k_b, ly->v_b, H, &ly->qkv_b, err)) ||
				PAN("qkv", qkv3, 3, H, H, &ly->qkv_p))
				break;
		}
		if (enc->arch == ARCH_NOMIC)
		{
			snprintf(name, sizeof(name), "layer.%zu.upgate_b", l);
			if (ly->f1_b != NULL && (rc = derived_cat(enc, name, ly->f1_b, ly->g_b, NULL, I, &ly->upgate_b, err)))
				break;
			if (PAN("f1", f1, 2, I, H, &ly->f1_p))
				break;
		}
		else if (enc->arch == ARCH_NEW)
		{
			if (PAN("f1", upgate, 1, 2 * I, H, &ly->f1_p))
				break;
		}
		else if (PAN("f1", f1, 1, I, H, &ly->f1_p))
			break;
		if (PAN("o", o, 1, H, H, &ly->o_p) || PAN("f2", f2, 1, H, I, &ly->f2_p))
			break;
#undef PAN
	}
	if (rc == PGML_OK && enc->proj_w != NULL)
	{
		const float *proj[1] = {enc->proj_w};

		rc = derived_panels(enc, "p16:embeddings_project", proj, 1, H, enc->E, &enc->proj_p, err);
	}
	return rc;
}

/* After commit: whether every linear kept its panels (all or none do: they live in one file). */
static bool
has_panels(const pgml_encoder *enc)
{
	if (enc->int8 || enc->n_layers == 0 || (enc->proj_w != NULL && enc->proj_p == NULL))
		return false;
	for (size_t l = 0; l < enc->n_layers; l++)
	{
		const enc_layer *ly = &enc->layers[l];

		if (ly->qkv_p == NULL || ly->o_p == NULL || ly->f1_p == NULL || ly->f2_p == NULL)
			return false;
	}
	return true;
}

/*
 * The key of the derived-weights file: the format, the options and the identity of the checkpoint's
 * files. Bump DERIVED_FORMAT when a derived layout changes (the int8 packing, an entry's meaning).
 */
#define DERIVED_FORMAT "pgml encoder derived weights 2"	/* 2: f32 panels */

static void
derived_key(const pgml_encoder *enc, uint8_t key[32])
{
	pgml_sha256_ctx ctx;

	pgml_sha256_init(&ctx);
	pgml_sha256_update(&ctx, DERIVED_FORMAT, sizeof(DERIVED_FORMAT));
	pgml_sha256_update(&ctx, enc->model_type, strlen(enc->model_type) + 1);
	pgml_sha256_update(&ctx, enc->int8 ? "int8" : "float32", enc->int8 ? 5 : 8);
	pgml_safetensors_identity(enc->st, &ctx);
	pgml_sha256_final(&ctx, key);
}

/* Opens the encoder's derived-weights set: <derived_dir>/encoder-<dtype>.pgmlw, or in memory. */
static pgml_status
open_derived(pgml_encoder *enc, const pgml_encoder_opts *opts, pgml_err *err)
{
	uint8_t		key[32];
	char	   *path = NULL;
	pgml_status rc;

	derived_key(enc, key);
	if (opts != NULL && opts->derived_dir != NULL)
	{
		if (mkdir(opts->derived_dir, 0755) == 0 || errno == EEXIST)
			path = pgml_asprintf("%s/encoder-%s.pgmlw", opts->derived_dir, enc->int8 ? "int8" : "float32");
		/* a directory that cannot be made: the converted weights stay on the heap */
	}
	rc = pgml_derived_open(path, key, &enc->derived, err);
	pgml_free(path);
	return rc;
}

pgml_status
pgml_encoder_load(const char *dir, const pgml_encoder_opts *opts, pgml_encoder **out, pgml_err *err)
{
	pgml_encoder *enc = NULL;
	json_t	   *cfg = NULL;
	char	   *path = NULL;
	const char *mt = NULL;
	pgml_status rc;
	size_t		i;

	*out = NULL;
	if (opts != NULL && opts->dtype != NULL && strcmp(opts->dtype, "float32") != 0 &&
		strcmp(opts->dtype, "int8") != 0)
	{
		pgml_error(err, PGML_ERR_NOT_SUPPORTED, "encoder dtype \"%s\" is not supported", opts->dtype);
		pgml_err_hint(err, "Use \"float32\" or \"int8\".");
		return PGML_ERR_NOT_SUPPORTED;
	}
	path = pgml_asprintf("%s/config.json", dir);
	if (path == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	rc = pgml_json_load_file(path, 4 * 1024 * 1024, &cfg, err);
	pgml_free(path);
	if (rc != PGML_OK)
		return rc;
	if (!json_is_object(cfg))
	{
		rc = pgml_error(err, PGML_ERR_CORRUPT, "config.json of \"%s\" is not a JSON object", dir);
		goto fail;
	}
	if ((rc = pgml_json_get_string(cfg, "model_type", NULL, &mt, err)) != PGML_OK)
		goto fail;
	if (mt == NULL)
	{
		rc = pgml_error(err, PGML_ERR_CORRUPT, "config.json of \"%s\" has no \"model_type\"", dir);
		goto fail;
	}
	for (i = 0; i < sizeof(archs) / sizeof(archs[0]); i++)
		if (strcmp(archs[i].name, mt) == 0)
			break;
	if (i == sizeof(archs) / sizeof(archs[0]))
	{
		rc = pgml_error(err, PGML_ERR_NOT_SUPPORTED, "model type \"%s\" is not supported", mt);
		pgml_err_hint(err, "Supported encoder model types are " SUPPORTED_TYPES ".");
		goto fail;
	}
	enc = pgml_calloc(1, sizeof(*enc));
	if (enc == NULL || (enc->model_type = pgml_strdup(mt)) == NULL)
	{
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto fail;
	}
	enc->arch = archs[i].a;
	enc->prefix = archs[i].prefix;
	enc->int8 = opts != NULL && opts->dtype != NULL && strcmp(opts->dtype, "int8") == 0;
	if ((rc = parse_config(enc, cfg, err)) != PGML_OK)
		goto fail;
	if ((rc = pgml_safetensors_open_dir(dir, &enc->st, err)) != PGML_OK)
		goto fail;
	if ((rc = open_derived(enc, opts, err)) != PGML_OK)
		goto fail;
	if ((rc = load_weights(enc, err)) != PGML_OK)
		goto fail;
	if (enc->int8 && (rc = quantize_weights(enc, err)) != PGML_OK)
		goto fail;
	if ((rc = build_panels(enc, err)) != PGML_OK)
		goto fail;
	if ((rc = pgml_derived_commit(enc->derived, err)) != PGML_OK)
		goto fail;
	enc->panels = has_panels(enc);

	enc->info.model_type = enc->model_type;
	enc->info.hidden_size = enc->H;
	enc->info.num_layers = enc->n_layers;
	enc->info.num_heads = enc->heads;
	enc->info.vocab_size = enc->vocab;
	enc->info.type_vocab_size = enc->n_types;
	enc->info.weight_bytes = pgml_safetensors_mapped_bytes(enc->st);
	enc->info.derived_heap_bytes = pgml_derived_heap_bytes(enc->derived);
	enc->info.derived_mapped_bytes = pgml_derived_mapped_bytes(enc->derived);
	enc->info.derived_reused = pgml_derived_reused(enc->derived);
	enc->info.panels = enc->panels;
	json_decref(cfg);
	*out = enc;
	return PGML_OK;
fail:
	json_decref(cfg);
	pgml_encoder_free(enc);
	return rc;
}

void
pgml_encoder_free(pgml_encoder *enc)
{
	if (enc == NULL)
		return;
	for (size_t l = 0; enc->layers != NULL && l < enc->n_layers; l++)
	{
		pgml_q8_free(&enc->layers[l].qkv8);
		pgml_q8_free(&enc->layers[l].o8);
		pgml_q8_free(&enc->layers[l].f18);
		pgml_q8_free(&enc->layers[l].f28);
	}
	pgml_q8_free(&enc->proj8);
	pgml_derived_free(enc->derived);
	pgml_free(enc->layers);
	pgml_safetensors_close(enc->st);
	pgml_free(enc->rope_inv);
	pgml_free(enc->model_type);
	pgml_free(enc);
}

const pgml_encoder_info *
pgml_encoder_get_info(const pgml_encoder *enc)
{
	return &enc->info;
}

/* ---------------------------------------------------------------------------------------------------
 * Forward
 * ------------------------------------------------------------------------------------------------- */

typedef struct ln_ctx
{
	float	   *x;
	const float *r,
			   *g,
			   *b;
	size_t		n;
	float		eps;
} ln_ctx;

static void
ln_range(void *arg, size_t begin, size_t end, int worker)
{
	const ln_ctx *c = arg;

	(void) worker;
	pgml_add_layernorm(c->x + begin * c->n, c->r ? c->r + begin * c->n : NULL, end - begin, c->n, c->g, c->b,
					   c->eps);
}

/* x = LN(x + r) over T rows, split across the pool. */
static pgml_status
add_ln(pgml_pool *pool, float *x, const float *r, size_t T, size_t n, const float *g, const float *b, float eps,
	   pgml_err *err)
{
	ln_ctx		c = {x, r, g, b, n, eps};

	return pgml_parallel_for(pool, T, 16, ln_range, &c, err);
}

/* MPNet's relative-position bucket (HF MPNetEncoder.relative_position_bucket, in float32 like torch). */
static size_t
rel_bucket(long rel, size_t num_buckets, size_t max_distance)
{
	long		n = -rel;
	size_t		half = num_buckets / 2;
	size_t		ret = n < 0 ? half : 0;
	long		max_exact = (long) half / 2;

	n = labs(n);
	if (n < max_exact)
		return ret + (size_t) n;
	{
		float		v = logf((float) n / (float) max_exact) / (float) log((double) max_distance / (double) max_exact) *
			(float) (half - (size_t) max_exact);
		long		large = max_exact + (long) v;

		if (large > (long) half - 1)
			large = (long) half - 1;
		return ret + (size_t) large;
	}
}

/*
 * y = act(x · Wᵀ + b) in f32, or with the int8 weight q when the encoder is quantized; from the panels Wp
 * when given (the forward passes them for few rows).
 */
static pgml_status
linear(const pgml_encoder *enc, pgml_pool *pool, const float *x, size_t ldx, size_t T, size_t K, const float *W,
	   const pgml_q8_weight *q, const float *Wp, const float *b, size_t N, pgml_act act, float *y, size_t ldy,
	   void *ws, pgml_err *err)
{
	if (enc->int8)
		return pgml_linear_q8_ws(pool, x, ldx, T, q, b, act, y, ldy, ws, err);
	if (Wp != NULL)
		return pgml_linear_panels(pool, x, ldx, T, K, Wp, b, N, act, y, ldy, ws, err);
	return pgml_linear(pool, x, ldx, T, K, W, b, N, act, y, ldy, err);
}

pgml_status
pgml_encoder_forward(const pgml_encoder *enc, pgml_pool *pool, size_t batch, size_t seq, const int32_t *ids,
					 const uint8_t *attention_mask, const int32_t *type_ids, float *hidden, pgml_err *err)
{
	size_t		H = enc->H,
				E = enc->E,
				I = enc->I,
				T,
				S = seq;
	size_t		n_x,
				n_qkv,
				n_ff,
				n_att,
				n_bias = 0,
				n_emb = 0,
				total = 0,
				nt = (size_t) pgml_pool_size(pool);
	void	   *ws = NULL;
	size_t		n_ws = 0;
	size_t	   *lens = NULL;	/* compacted: real tokens per sequence */
	uint8_t    *ones = NULL;
	bool		compact = false,
				pan;			/* few rows: the linears run from panels */
	float	   *mem = NULL,
			   *ff2 = NULL,
			   *x,
			   *tmp,
			   *qkv,
			   *ctx,
			   *ff,
			   *att,
			   *bias = NULL,
			   *emb;
	pgml_status rc = PGML_OK;

	if (batch == 0 || seq == 0)
		return PGML_OK;
	if (ids == NULL || attention_mask == NULL || hidden == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "encoder input is missing");
	if (enc->info.max_positions > 0 && seq > enc->info.max_positions)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "input of %zu tokens is too long for this model", seq);
		pgml_err_detail(err, "The model allows at most %zu tokens.", enc->info.max_positions);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (!pgml_mul_size(batch, seq, &T) || T > INT32_MAX)
		return pgml_error(err, PGML_ERR_LIMIT, "encoder batch too large");
	for (size_t t = 0; t < T; t++)
	{
		if (ids[t] < 0 || (size_t) ids[t] >= enc->vocab)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "token id %d is outside the vocabulary", (int) ids[t]);
			pgml_err_detail(err, "The vocabulary has %zu tokens.", enc->vocab);
			return PGML_ERR_INVALID_ARGUMENT;
		}
		if (type_ids != NULL && type_ids[t] != 0 && (type_ids[t] < 0 || (size_t) type_ids[t] >= enc->n_types))
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "token type id %d is out of range", (int) type_ids[t]);
			pgml_err_detail(err, "The model has %zu token types.", enc->n_types);
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	/*
	 * Padding compaction: when every sequence is right-padded (its mask is 1…1 0…0) the padded rows are
	 * dropped, and every layer runs on the real tokens only (T becomes their count; attention runs per
	 * sequence). The hidden states of padding are then zero. Masks with holes run on all rows.
	 */
	{
		size_t		real = 0;
		bool		prefix = true;

		for (size_t b = 0; b < batch && prefix; b++)
		{
			size_t		n = 0;

			while (n < S && attention_mask[b * S + n] != 0)
				n++;
			for (size_t s2 = n; s2 < S && prefix; s2++)
				prefix = attention_mask[b * S + s2] == 0;
			real += n;
		}
		if (prefix && real < T)
		{
			lens = pgml_malloc(batch * sizeof(size_t) + S + 1);
			if (lens == NULL)
				return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			ones = (uint8_t *) (lens + batch);
			memset(ones, 1, S);
			for (size_t b = 0; b < batch; b++)
			{
				size_t		n = 0;

				while (n < S && attention_mask[b * S + n] != 0)
					n++;
				lens[b] = n;
			}
			compact = true;
			T = real;			/* scratch and every layer below work on the real rows */
		}
	}
	/* scratch: x, tmp [T, H]; qkv [T, 3H]; ctx [T, H]; ff [T, I]; att nt × S × S; bias heads × S × S; emb [T, E] */
	{
		bool		ok = pgml_mul_size(T, H, &n_x) && pgml_mul_size(n_x, 3, &n_qkv) && pgml_mul_size(T, I, &n_ff) &&
			(n_att = pgml_attention_scratch(S, enc->dh)) > 0 && pgml_mul_size(n_att, nt, &n_att) && pgml_mul_size(T, E, &n_emb);
		size_t		kmax = H > I ? H : I;

		kmax = kmax > E ? kmax : E;
		if (ok && enc->rel_bias != NULL)
			ok = pgml_mul_size(S * S, enc->heads, &n_bias) && S * S / S == S;
		pan = enc->panels && T <= PGML_PANEL_T;
		if (ok && (enc->int8 || pan))
		{
			n_ws = enc->int8 ? pgml_linear_q8_ws_size(T, kmax) : pgml_linear_panels_ws_size(T, kmax);
			ok = n_ws > 0;
			n_ws = (n_ws + sizeof(float) - 1) / sizeof(float);
			ok = ok && pgml_add_size(total, n_ws, &total);
		}
		if (ok && (enc->arch == ARCH_NOMIC || enc->arch == ARCH_NEW))
			ok = pgml_add_size(total, 2 * n_ff, &total) && n_ff * 2 / 2 == n_ff;
		ok = ok && pgml_add_size(total, n_x * 3, &total) && pgml_add_size(total, n_qkv, &total) &&
			pgml_add_size(total, n_ff, &total) && pgml_add_size(total, n_att, &total) &&
			pgml_add_size(total, n_bias, &total) && pgml_add_size(total, enc->proj_w ? n_emb : 0, &total) &&
			pgml_mul_size(total, sizeof(float), &total);
		if (!ok)
		{
			rc = pgml_error(err, PGML_ERR_LIMIT, "encoder batch too large");
			goto done;
		}
		mem = pgml_malloc(total);
		if (mem == NULL)
		{
			rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			goto done;
		}
		x = mem;
		tmp = x + n_x;
		ctx = tmp + n_x;
		qkv = ctx + n_x;
		ff = qkv + n_qkv;
		att = ff + n_ff;
		if (n_bias)
			bias = att + n_att;
		emb = enc->proj_w ? att + n_att + n_bias : x;
		if (enc->arch == ARCH_NOMIC || enc->arch == ARCH_NEW)
			ff2 = att + n_att + n_bias + (enc->proj_w ? n_emb : 0);
		if (n_ws > 0)
			ws = att + n_att + n_bias + (enc->proj_w ? n_emb : 0) + (ff2 != NULL ? 2 * n_ff : 0);
	}

	/* embeddings */
	for (size_t b = 0, r = 0; b < batch; b++)
	{
		size_t		count = 0;

		for (size_t s = 0; s < S; s++)
		{
			size_t		t = b * S + s;
			size_t		p = s;
			float	   *row;

			if (compact && s >= lens[b])
				continue;
			row = emb + (r++) * E;
			const float *w = enc->word + (size_t) ids[t] * E;

			if (enc->count_positions)
			{
				/* HF create_position_ids_from_input_ids: real (non-pad) tokens count from pad + 1 */
				if (ids[t] != enc->pad_id)
					p = (size_t) enc->pad_id + ++count;
				else
					p = (size_t) enc->pad_id;
			}
			if (enc->pos == NULL)
				memcpy(row, w, E * sizeof(float));
			else if (p >= enc->pos_rows)
			{
				rc = pgml_error(err, PGML_ERR_INTERNAL, "position %zu out of range", p);
				goto done;
			}
			else
				for (size_t i = 0; i < E; i++)
					row[i] = w[i] + enc->pos[p * E + i];
			if (enc->type != NULL)
			{
				const float *ty = enc->type + (size_t) (type_ids ? type_ids[t] : 0) * E;

				for (size_t i = 0; i < E; i++)
					row[i] += ty[i];
			}
		}
	}
	if ((rc = add_ln(pool, emb, NULL, T, E, enc->emb_g, enc->emb_b, enc->eps, err)) != PGML_OK)
		goto done;
	if (enc->proj_w != NULL &&
		(rc = linear(enc, pool, emb, E, T, E, enc->proj_w, &enc->proj8, pan ? enc->proj_p : NULL, enc->proj_b, H,
					 PGML_ACT_NONE, x, H, ws, err)) != PGML_OK)
		goto done;
	if (bias != NULL)
		for (size_t h = 0; h < enc->heads; h++)
			for (size_t i = 0; i < S; i++)
				for (size_t j = 0; j < S; j++)
					bias[(h * S + i) * S + j] =
						enc->rel_bias[rel_bucket((long) j - (long) i, enc->rel_buckets, enc->rel_max_distance) *
									  enc->heads + h];

	for (size_t l = 0; l < enc->n_layers; l++)
	{
		const enc_layer *ly = &enc->layers[l];
		float	   *sw;

		if ((rc = pgml_check_stop(err)) != PGML_OK)
			goto done;
		if (enc->int8)
		{
			if ((rc = pgml_linear_q8_ws(pool, x, H, T, &ly->qkv8, ly->qkv_b, PGML_ACT_NONE, qkv, 3 * H, ws,
										err)) != PGML_OK)
				goto done;
		}
		else if (pan)
		{
			if ((rc = pgml_linear_panels(pool, x, H, T, H, ly->qkv_p, ly->qkv_b, 3 * H, PGML_ACT_NONE, qkv, 3 * H,
										 ws, err)) != PGML_OK)
				goto done;
		}
		else if (ly->qkv_w != NULL)
		{
			if ((rc = pgml_linear(pool, x, H, T, H, ly->qkv_w, ly->qkv_wb, 3 * H, PGML_ACT_NONE, qkv, 3 * H, err)))
				goto done;
		}
		else if ((rc = pgml_linear(pool, x, H, T, H, ly->q_w, ly->q_b, H, PGML_ACT_NONE, qkv, 3 * H, err)) ||
				 (rc = pgml_linear(pool, x, H, T, H, ly->k_w, ly->k_b, H, PGML_ACT_NONE, qkv + H, 3 * H, err)) ||
				 (rc = pgml_linear(pool, x, H, T, H, ly->v_w, ly->v_b, H, PGML_ACT_NONE, qkv + 2 * H, 3 * H, err)))
			goto done;
		if (enc->rot_dims > 0)
			for (size_t b = 0, off = 0; b < batch; b++)
			{
				size_t		n = compact ? lens[b] : S;
				float	   *qb = qkv + off * 3 * H;

				/* positions count from 0 in each sequence (as in the reference's padded and unpadded modes) */
				if (enc->rope_inv != NULL)
				{
					pgml_rotary_freqs(qb, n, 3 * H, enc->heads, enc->dh, enc->rot_dims, enc->rope_inv);
					pgml_rotary_freqs(qb + H, n, 3 * H, enc->heads, enc->dh, enc->rot_dims, enc->rope_inv);
				}
				else
				{
					pgml_rotary(qb, n, 3 * H, enc->heads, enc->dh, enc->rot_dims, enc->rot_base);
					pgml_rotary(qb + H, n, 3 * H, enc->heads, enc->dh, enc->rot_dims, enc->rot_base);
				}
				off += n;
			}
		if (compact)
		{
			for (size_t b = 0, off = 0; b < batch && rc == PGML_OK; b++)
			{
				const float *qb = qkv + off * 3 * H;

				/* MPNet's bias depends on j - i only: the sequence uses its top-left block */
				if (lens[b] > 0)
					rc = pgml_attention_bias(pool, 1, lens[b], enc->heads, enc->dh, qb, qb + H, qb + 2 * H, 3 * H,
											 ones, bias, S, ctx + off * H, H, att, err);
				off += lens[b];
			}
			if (rc != PGML_OK)
				goto done;
		}
		else if ((rc = pgml_attention(pool, batch, S, enc->heads, enc->dh, qkv, qkv + H, qkv + 2 * H, 3 * H,
									  attention_mask, bias, ctx, H, att, err)))
			goto done;
		if ((rc = linear(enc, pool, ctx, H, T, H, ly->o_w, &ly->o8, pan ? ly->o_p : NULL, ly->o_b, H, PGML_ACT_NONE,
						 tmp, H, ws, err)) ||
			(rc = add_ln(pool, tmp, x, T, H, ly->ln1_g, ly->ln1_b, enc->eps, err)))
			goto done;
		sw = x;
		x = tmp;
		tmp = sw;
		if (enc->arch == ARCH_NEW)
		{
			/* ff = up · act(gate), [up | gate] = up_gate_proj(x) (new-impl's NewGatedMLP) */
			if ((rc = linear(enc, pool, x, H, T, H, ly->upgate_w, &ly->f18, pan ? ly->f1_p : NULL, NULL, 2 * I,
							 PGML_ACT_NONE, ff2, 2 * I, ws, err)))
				goto done;
			for (size_t t = 0; t < T; t++)
				pgml_glu(ff2 + t * 2 * I + I, ff2 + t * 2 * I, ff + t * I, I, enc->act);
		}
		else if (enc->arch == ARCH_NOMIC)
		{
			/* SwiGLU: ff = fc11(x) · silu(fc12(x)) */
			if (enc->int8 || pan)
			{
				if ((rc = linear(enc, pool, x, H, T, H, NULL, &ly->f18, ly->f1_p, ly->upgate_b, 2 * I, PGML_ACT_NONE,
								 ff2, 2 * I, ws, err)))
					goto done;
				for (size_t t = 0; t < T; t++)
					pgml_swiglu(ff2 + t * 2 * I + I, ff2 + t * 2 * I, ff + t * I, I);
			}
			else
			{
				if ((rc = pgml_linear(pool, x, H, T, H, ly->f1_w, ly->f1_b, I, PGML_ACT_NONE, ff2, I, err)) ||
					(rc = pgml_linear(pool, x, H, T, H, ly->g_w, ly->g_b, I, PGML_ACT_NONE, ff2 + n_ff, I, err)))
					goto done;
				pgml_swiglu(ff2 + n_ff, ff2, ff, n_ff);
			}
		}
		else if ((rc = linear(enc, pool, x, H, T, H, ly->f1_w, &ly->f18, pan ? ly->f1_p : NULL, ly->f1_b, I, enc->act,
							  ff, I, ws, err)))
			goto done;
		if ((rc = linear(enc, pool, ff, I, T, I, ly->f2_w, &ly->f28, pan ? ly->f2_p : NULL, ly->f2_b, H,
						 PGML_ACT_NONE, tmp, H, ws, err)) ||
			(rc = add_ln(pool, tmp, x, T, H, ly->ln2_g, ly->ln2_b, enc->eps, err)))
			goto done;
		sw = x;
		x = tmp;
		tmp = sw;
	}
	if (compact)
	{
		memset(hidden, 0, batch * S * H * sizeof(float));
		for (size_t b = 0, off = 0; b < batch; b++)
		{
			memcpy(hidden + b * S * H, x + off * H, lens[b] * H * sizeof(float));
			off += lens[b];
		}
	}
	else
		memcpy(hidden, x, n_x * sizeof(float));
done:
	pgml_free(mem);
	pgml_free(lens);
	return rc;
}
