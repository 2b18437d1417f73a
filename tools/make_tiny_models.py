#!/usr/bin/env python3
"""Builds tiny random encoder models with transformers' own classes into core/tests/fixtures/models/<name>/.

Run with the project venv:  .venv/bin/python tools/make_tiny_models.py
Every model has 2 layers, hidden 32-64, 4 heads, vocab 512 and a fixed seed. After transformers' own
initialisation every parameter gets N(0, 0.1) noise so that LayerNorm biases, attention biases etc. are
non-trivial (a kernel that forgets one of them fails the comparison). Variants:
  bert            BertModel, f32, names without prefix
  bert_f16        the same weights stored as F16
  bert_bf16       the same weights stored as BF16
  roberta         RobertaForMaskedLM: names with the "roberta." prefix (plus an lm_head the loader ignores)
  xlm_roberta     XLMRobertaModel, sharded (model.safetensors.index.json + 2+ shards)
  distilbert      DistilBertModel, sinusoidal positions
  electra         ElectraModel with embedding_size != hidden_size (embeddings_project)
  mpnet           MPNetModel (relative attention bias)
  bert_gelu_new   BertModel with hidden_act gelu_new
  nomic_bert      NomicBERT (no class in transformers): config.json with nomic-ai's field names and random
                  weights written with numpy under its weight names (no biases in attention and MLP, rotary
                  over half of each head, SwiGLU, 2 token types); checked against tools/reference only
  gte_new         Alibaba-NLP/new-impl's NewModel ("model_type": "new", the gte-v1.5 models; no class in
                  transformers): config.json shaped like gte-large-en-v1.5's (rope, NTK rope_scaling factor 2,
                  packed qkv, GeGLU, 2 token types), random numpy weights under NewModel's names; checked
                  against tools/reference only
"""
import os
import shutil
import sys

import torch
import transformers as tf

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core", "tests", "fixtures", "models")


def perturb(model, seed, skip=()):
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if any(s in name for s in skip):
                continue
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return model


def save(model, name, dtype=None, shard=None):
    out = os.path.join(ROOT, name)
    shutil.rmtree(out, ignore_errors=True)
    m = model
    if dtype is not None:
        m = model.to(dtype)
    kw = {"safe_serialization": True}
    if shard:
        kw["max_shard_size"] = shard
    m.save_pretrained(out, **kw)
    if dtype is not None:
        model.to(torch.float32)
    for f in os.listdir(out):
        if f == "generation_config.json":
            os.remove(os.path.join(out, f))
    return out


def build():
    models = {}
    common = dict(vocab_size=512, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64)

    torch.manual_seed(1)
    cfg = tf.BertConfig(hidden_size=32, intermediate_size=64, type_vocab_size=2, **common)
    models["bert"] = perturb(tf.BertModel(cfg, add_pooling_layer=False), 1)

    torch.manual_seed(2)
    cfg = tf.BertConfig(hidden_size=32, intermediate_size=64, type_vocab_size=2, hidden_act="gelu_new",
                        layer_norm_eps=1e-5, **common)
    models["bert_gelu_new"] = perturb(tf.BertModel(cfg, add_pooling_layer=False), 2)

    torch.manual_seed(3)
    cfg = tf.RobertaConfig(hidden_size=32, intermediate_size=64, type_vocab_size=1, pad_token_id=1,
                           **{**common, "max_position_embeddings": 66})
    models["roberta"] = perturb(tf.RobertaForMaskedLM(cfg), 3)

    torch.manual_seed(4)
    cfg = tf.XLMRobertaConfig(hidden_size=48, intermediate_size=96, type_vocab_size=1, pad_token_id=1,
                              **{**common, "max_position_embeddings": 66})
    models["xlm_roberta"] = perturb(tf.XLMRobertaModel(cfg, add_pooling_layer=False), 4)

    torch.manual_seed(5)
    cfg = tf.DistilBertConfig(vocab_size=512, max_position_embeddings=64, sinusoidal_pos_embds=True, n_layers=2,
                              n_heads=4, dim=32, hidden_dim=64, activation="gelu")
    models["distilbert"] = perturb(tf.DistilBertModel(cfg), 5, skip=("position_embeddings",))

    torch.manual_seed(6)
    cfg = tf.ElectraConfig(embedding_size=16, hidden_size=32, intermediate_size=64, type_vocab_size=2, **common)
    models["electra"] = perturb(tf.ElectraModel(cfg), 6)

    torch.manual_seed(7)
    cfg = tf.MPNetConfig(hidden_size=32, intermediate_size=64, pad_token_id=1,
                         **{**common, "max_position_embeddings": 66})
    models["mpnet"] = perturb(tf.MPNetModel(cfg, add_pooling_layer=False), 7)
    return models


def nomic():
    """A tiny NomicBERT in nomic-ai's config and weight layout (ids padded to pad_vocab_size_multiple)."""
    import json

    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(8)
    H, heads, L, n_inner, vocab, types = 32, 4, 2, 64, 512, 2
    inner = (n_inner + 255) // 256 * 256          # NomciBertGatedMLP rounds hidden_features to 256
    cfg = {
        "model_type": "nomic_bert", "architectures": ["NomicBertModel"], "n_embd": H, "n_head": heads,
        "n_layer": L, "n_inner": n_inner, "n_positions": 2048, "vocab_size": vocab, "type_vocab_size": types,
        "pad_vocab_size_multiple": 64, "activation_function": "swiglu", "layer_norm_epsilon": 1e-12,
        "rotary_emb_fraction": 0.5, "rotary_emb_base": 1000, "rotary_emb_interleaved": False,
        "rotary_scaling_factor": None, "qkv_proj_bias": False, "mlp_fc1_bias": False, "mlp_fc2_bias": False,
        "prenorm": False, "causal": False, "pad_token_id": 0,
    }
    f = lambda *shape, s=0.1: (rng.standard_normal(shape) * s).astype(np.float32)
    w = {"embeddings.word_embeddings.weight": f(vocab, H, s=1.0),
         "embeddings.token_type_embeddings.weight": f(types, H, s=1.0),
         "emb_ln.weight": 1 + f(H, s=0.1), "emb_ln.bias": f(H, s=0.1)}
    for i in range(L):
        p = f"encoder.layers.{i}."
        w[p + "attn.Wqkv.weight"] = f(3 * H, H)
        w[p + "attn.out_proj.weight"] = f(H, H)
        w[p + "mlp.fc11.weight"] = f(inner, H)
        w[p + "mlp.fc12.weight"] = f(inner, H)
        w[p + "mlp.fc2.weight"] = f(H, inner, s=0.1)
        for n in ("norm1", "norm2"):
            w[p + n + ".weight"] = 1 + f(H, s=0.1)
            w[p + n + ".bias"] = f(H, s=0.1)
    out = os.path.join(ROOT, "nomic_bert")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    save_file(w, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)


def gte_new():
    """A tiny "new" model (gte-v1.5 architecture) in new-impl's config and weight layout.

    rope_theta is 1000 rather than gte's 160000 / 500000 so that most of the 8 frequency pairs of a
    16-wide head turn noticeably within the fixtures' 7 positions: a wrong rotary or NTK formula then
    shows. max_position_embeddings 64 is above those 7 positions, where only a formula that scales at every
    length (the reference's) scales at all.
    """
    import json

    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(9)
    H, heads, L, inter, vocab, types = 64, 4, 2, 128, 512, 2
    cfg = {
        "architectures": ["NewModel"], "model_type": "new",
        "auto_map": {"AutoConfig": "Alibaba-NLP/new-impl--configuration.NewConfig",
                     "AutoModel": "Alibaba-NLP/new-impl--modeling.NewModel"},
        "attention_probs_dropout_prob": 0.0, "classifier_dropout": None, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "hidden_size": H, "initializer_range": 0.02, "intermediate_size": inter,
        "layer_norm_eps": 1e-12, "layer_norm_type": "layer_norm", "logn_attention_clip1": False,
        "logn_attention_scale": False, "max_position_embeddings": 64, "num_attention_heads": heads,
        "num_hidden_layers": L, "pack_qkv": True, "pad_token_id": 0, "position_embedding_type": "rope",
        "rope_scaling": {"factor": 2.0, "type": "ntk"}, "rope_theta": 1000, "torch_dtype": "float32",
        "type_vocab_size": types, "unpad_inputs": False, "use_memory_efficient_attention": False,
        "vocab_size": vocab,
    }
    f = lambda *shape, s=0.1: (rng.standard_normal(shape) * s).astype(np.float32)
    w = {"embeddings.word_embeddings.weight": f(vocab, H, s=1.0),
         "embeddings.token_type_embeddings.weight": f(types, H, s=1.0),
         "embeddings.LayerNorm.weight": 1 + f(H), "embeddings.LayerNorm.bias": f(H)}
    for i in range(L):
        p = f"encoder.layer.{i}."
        w[p + "attention.qkv_proj.weight"] = f(3 * H, H)
        w[p + "attention.qkv_proj.bias"] = f(3 * H)
        w[p + "attention.o_proj.weight"] = f(H, H)
        w[p + "attention.o_proj.bias"] = f(H)
        w[p + "mlp.up_gate_proj.weight"] = f(2 * inter, H)
        w[p + "mlp.down_proj.weight"] = f(H, inter)
        w[p + "mlp.down_proj.bias"] = f(H)
        for n in ("attn_ln", "mlp_ln"):
            w[p + n + ".weight"] = 1 + f(H)
            w[p + n + ".bias"] = f(H)
    out = os.path.join(ROOT, "gte_new")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    save_file(w, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)


def main():
    nomic()
    gte_new()
    models = build()
    for name, m in models.items():
        m.eval()
        if name == "xlm_roberta":
            save(m, name, shard="40KB")
        else:
            save(m, name)
    save(models["bert"], "bert_f16", dtype=torch.float16)
    save(models["bert"], "bert_bf16", dtype=torch.bfloat16)
    for d in sorted(os.listdir(ROOT)):
        p = os.path.join(ROOT, d)
        if os.path.isdir(p):
            size = sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p))
            print(f"{d:16s} {size / 1024:7.1f} KB")
            assert size < 500 * 1024, d


if __name__ == "__main__":
    sys.exit(main())
