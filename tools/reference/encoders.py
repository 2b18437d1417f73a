"""Independent numpy forward passes of the encoder architectures, from safetensors weights.

Used by tools/make_fixtures.py to cross-check transformers (and so the fixtures) with a second
implementation written from the architectures' definitions: bert (and electra, roberta, xlm-roberta,
which share its layer), distilbert and mpnet. For nomic_bert and new (Alibaba-NLP/new-impl, the gte-v1.5
models), which transformers has no class for, the numpy code here is one of the oracles.
"""
import json
import math
import os

import numpy as np
from safetensors.torch import load_file


def load_weights(d):
    w = {}
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        for f in sorted(set(json.load(open(idx))["weight_map"].values())):
            w.update(load_file(os.path.join(d, f)))
    else:
        w.update(load_file(os.path.join(d, "model.safetensors")))
    out = {}
    for k, v in w.items():
        for p in ("bert.", "roberta.", "electra.", "distilbert.", "mpnet.", "new."):
            if k.startswith(p):
                k = k[len(p):]
        out[k] = v.float().numpy() if v.is_floating_point() else v.numpy()
    return out


def erf(x):
    return np.vectorize(math.erf)(x.astype(np.float64))


def act(x, name):
    if name == "gelu":
        return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    if name == "gelu_new":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "relu":
        return np.maximum(x, 0)
    if name in ("silu", "swish"):
        return x / (1.0 + np.exp(-x))
    raise ValueError(name)


def ln(x, g, b, eps):
    x = x.astype(np.float64)
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def lin(x, w, b):
    return x @ w.T.astype(np.float64) + b


def attention(q, k, v, mask, heads, bias=None):
    B, S, H = q.shape
    dh = H // heads
    q = q.reshape(B, S, heads, dh).transpose(0, 2, 1, 3)
    k = k.reshape(B, S, heads, dh).transpose(0, 2, 1, 3)
    v = v.reshape(B, S, heads, dh).transpose(0, 2, 1, 3)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh)
    if bias is not None:
        s = s + bias[None]
    s = np.where(mask[:, None, None, :] > 0, s, -1e30)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    return (p @ v).transpose(0, 2, 1, 3).reshape(B, S, H)


def bert_layers(w, x, mask, cfg, prefix="encoder.layer.", bias=None, names=None):
    heads = cfg["num_attention_heads"]
    eps = cfg.get("layer_norm_eps", 1e-12)
    for i in range(cfg["num_hidden_layers"]):
        p = f"{prefix}{i}."
        if names == "mpnet":
            a = p + "attention.attn."
            q, k, v = (lin(x, w[a + n + ".weight"], w[a + n + ".bias"]) for n in "qkv")
            c = attention(q, k, v, mask, heads, bias)
            x = ln(lin(c, w[a + "o.weight"], w[a + "o.bias"]) + x, w[p + "attention.LayerNorm.weight"],
                   w[p + "attention.LayerNorm.bias"], eps)
        else:
            a = p + "attention.self."
            q, k, v = (lin(x, w[a + n + ".weight"], w[a + n + ".bias"]) for n in ("query", "key", "value"))
            c = attention(q, k, v, mask, heads)
            o = p + "attention.output."
            x = ln(lin(c, w[o + "dense.weight"], w[o + "dense.bias"]) + x, w[o + "LayerNorm.weight"],
                   w[o + "LayerNorm.bias"], eps)
        h = act(lin(x, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]), cfg["hidden_act"])
        x = ln(lin(h, w[p + "output.dense.weight"], w[p + "output.dense.bias"]) + x, w[p + "output.LayerNorm.weight"],
               w[p + "output.LayerNorm.bias"], eps)
    return x


def positions(ids, cfg):
    if cfg["model_type"] in ("roberta", "xlm-roberta", "mpnet"):
        pad = cfg["pad_token_id"]
        m = (ids != pad).astype(np.int64)
        return np.cumsum(m, 1) * m + pad
    return np.broadcast_to(np.arange(ids.shape[1]), ids.shape)


def mpnet_bucket(rel, num_buckets=32, max_distance=128):
    n = -rel
    num_buckets //= 2
    ret = (n < 0).astype(np.int64) * num_buckets
    n = np.abs(n)
    max_exact = num_buckets // 2
    with np.errstate(divide="ignore"):
        large = max_exact + (np.log(np.maximum(n, 1) / max_exact) / math.log(max_distance / max_exact)
                             * (num_buckets - max_exact)).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return ret + np.where(n < max_exact, n, large)


def silu(x):
    return x / (1.0 + np.exp(-x))


def rotary(x, heads, rot_dims, base):
    """GPT-NeoX ("rotate half") rotary embedding of x[B, S, H] per head, frequencies in float32 as NomicBERT."""
    B, S, H = x.shape
    dh = H // heads
    inv = (1.0 / (np.float32(base) ** (np.arange(0, rot_dims, 2, dtype=np.float32) / np.float32(rot_dims)))).astype(np.float32)
    ang = (np.arange(S, dtype=np.float32)[:, None] * inv[None, :]).astype(np.float32)
    cos, sin = np.cos(ang).astype(np.float64), np.sin(ang).astype(np.float64)
    x = x.reshape(B, S, heads, dh).copy()
    half = rot_dims // 2
    a, b = x[..., :half].copy(), x[..., half:rot_dims].copy()
    x[..., :half] = a * cos[None, :, None, :] - b * sin[None, :, None, :]
    x[..., half:rot_dims] = b * cos[None, :, None, :] + a * sin[None, :, None, :]
    return x.reshape(B, S, H)


def nomic_forward(w, cfg, ids, mask, type_ids):
    """NomicBERT (nomic-ai's modeling_hf_nomic_bert): post-norm, fused Wqkv, rotary, SwiGLU MLP."""
    H, heads = cfg["n_embd"], cfg["n_head"]
    eps = cfg.get("layer_norm_epsilon", 1e-12)
    rot = int(H // heads * cfg.get("rotary_emb_fraction", 1.0))
    base = cfg.get("rotary_emb_base", 10000)
    x = w["embeddings.word_embeddings.weight"][ids]
    if cfg.get("type_vocab_size", 0) > 0:
        t = np.zeros_like(ids) if type_ids is None else np.asarray(type_ids)
        x = x + w["embeddings.token_type_embeddings.weight"][t]
    x = ln(x, w["emb_ln.weight"], w["emb_ln.bias"], eps)
    zero = lambda n: np.zeros(n, dtype=np.float32)
    for i in range(cfg["n_layer"]):
        p = f"encoder.layers.{i}."
        qkv = lin(x, w[p + "attn.Wqkv.weight"], w.get(p + "attn.Wqkv.bias", zero(3 * H)))
        q, k, v = qkv[..., :H], qkv[..., H:2 * H], qkv[..., 2 * H:]
        q, k = rotary(q, heads, rot, base), rotary(k, heads, rot, base)
        c = attention(q, k, v, mask, heads)
        x = ln(lin(c, w[p + "attn.out_proj.weight"], w.get(p + "attn.out_proj.bias", zero(H))) + x,
               w[p + "norm1.weight"], w[p + "norm1.bias"], eps)
        I = w[p + "mlp.fc11.weight"].shape[0]
        up = lin(x, w[p + "mlp.fc11.weight"], w.get(p + "mlp.fc11.bias", zero(I)))
        gate = lin(x, w[p + "mlp.fc12.weight"], w.get(p + "mlp.fc12.bias", zero(I)))
        y = lin(up * silu(gate), w[p + "mlp.fc2.weight"], w.get(p + "mlp.fc2.bias", zero(H)))
        x = ln(y + x, w[p + "norm2.weight"], w[p + "norm2.bias"], eps)
    return x


def new_inv_freq(cfg):
    """NewModel's rotary inverse frequencies in float32 (NTKScalingRotaryEmbedding when rope_scaling is ntk).

    The reference builds its cos/sin cache at load for max_position_embeddings * factor positions; that is
    past max_position_embeddings, its test for scaling, so the scaled frequencies apply at every length:
    base theta * factor, then every frequency divided by factor^(2 / head_dim).
    """
    d = cfg["hidden_size"] // cfg["num_attention_heads"]
    theta = float(cfg.get("rope_theta", 10000.0))
    rs = cfg.get("rope_scaling")
    factor = 1.0
    if rs is not None:
        assert rs["type"] == "ntk" and rs.get("mixed_b") is None and rs["factor"] >= 1, rs
        factor = float(rs["factor"])
    exps = (np.arange(0, d, 2, dtype=np.float32) / np.float32(d)).astype(np.float32)
    inv = (np.float32(1.0) / np.power(np.float32(theta * factor), exps)).astype(np.float32)
    if rs is not None:
        inv = (inv / np.float32(factor ** (2.0 / d))).astype(np.float32)
    return inv


def rotary_inv(x, heads, inv):
    """Rotate-half rotary embedding of x[B, S, H] over whole heads with given inverse frequencies."""
    B, S, H = x.shape
    dh = H // heads
    ang = (np.arange(S, dtype=np.float32)[:, None] * inv[None, :]).astype(np.float32)
    cos, sin = np.cos(ang).astype(np.float64), np.sin(ang).astype(np.float64)
    x = x.reshape(B, S, heads, dh).copy()
    half = dh // 2
    a, b = x[..., :half].copy(), x[..., half:].copy()
    x[..., :half] = a * cos[None, :, None, :] - b * sin[None, :, None, :]
    x[..., half:] = b * cos[None, :, None, :] + a * sin[None, :, None, :]
    return x.reshape(B, S, H)


def new_forward(w, cfg, ids, mask, type_ids, inv=None):
    """Alibaba-NLP/new-impl NewModel (gte-v1.5): rope, packed qkv, post-norm, GLU MLP with act on the gate.

    Positions count 0.. from the start of every row, as in the reference's padded mode (unpad_inputs false);
    inv overrides the rotary frequencies (make_fixtures uses it to show that the NTK scaling matters).
    """
    H, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    eps = cfg.get("layer_norm_eps", 1e-12)
    assert cfg.get("position_embedding_type", "rope") == "rope"
    assert cfg.get("layer_norm_type", "layer_norm") == "layer_norm" and cfg.get("pack_qkv", True)
    assert not cfg.get("logn_attention_scale", False)
    inv = new_inv_freq(cfg) if inv is None else inv
    x = w["embeddings.word_embeddings.weight"][ids].astype(np.float64)
    if cfg.get("type_vocab_size", 1) > 0:
        t = np.zeros_like(ids) if type_ids is None else np.asarray(type_ids)
        x = x + w["embeddings.token_type_embeddings.weight"][t]
    x = ln(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    I = cfg["intermediate_size"]
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        qkv = lin(x, w[p + "attention.qkv_proj.weight"], w[p + "attention.qkv_proj.bias"])
        q, k, v = qkv[..., :H], qkv[..., H:2 * H], qkv[..., 2 * H:]
        q, k = rotary_inv(q, heads, inv), rotary_inv(k, heads, inv)
        c = attention(q, k, v, mask, heads)
        x = ln(x + lin(c, w[p + "attention.o_proj.weight"], w[p + "attention.o_proj.bias"]),
               w[p + "attn_ln.weight"], w[p + "attn_ln.bias"], eps)
        ug = x @ w[p + "mlp.up_gate_proj.weight"].T.astype(np.float64)
        up, gate = ug[..., :I], ug[..., I:]
        y = lin(up * act(gate, cfg.get("hidden_act", "gelu")), w[p + "mlp.down_proj.weight"],
                w[p + "mlp.down_proj.bias"])
        x = ln(x + y, w[p + "mlp_ln.weight"], w[p + "mlp_ln.bias"], eps)
    return x


def forward(d, ids, mask, type_ids=None):
    cfg = json.load(open(os.path.join(d, "config.json")))
    w = load_weights(d)
    mt = cfg["model_type"]
    ids = np.asarray(ids)
    mask = np.asarray(mask)
    if mt == "nomic_bert":
        return nomic_forward(w, cfg, ids, mask, type_ids)
    if mt == "new":
        return new_forward(w, cfg, ids, mask, type_ids)
    if mt == "distilbert":
        e = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions(ids, cfg)]
        x = ln(e, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], 1e-12)
        for i in range(cfg["n_layers"]):
            p = f"transformer.layer.{i}."
            q, k, v = (lin(x, w[p + f"attention.{n}_lin.weight"], w[p + f"attention.{n}_lin.bias"]) for n in "qkv")
            c = attention(q, k, v, mask, cfg["n_heads"])
            x = ln(lin(c, w[p + "attention.out_lin.weight"], w[p + "attention.out_lin.bias"]) + x,
                   w[p + "sa_layer_norm.weight"], w[p + "sa_layer_norm.bias"], 1e-12)
            h = act(lin(x, w[p + "ffn.lin1.weight"], w[p + "ffn.lin1.bias"]), cfg["activation"])
            x = ln(lin(h, w[p + "ffn.lin2.weight"], w[p + "ffn.lin2.bias"]) + x, w[p + "output_layer_norm.weight"],
                   w[p + "output_layer_norm.bias"], 1e-12)
        return x
    e = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions(ids, cfg)]
    if "embeddings.token_type_embeddings.weight" in w:
        t = np.zeros_like(ids) if type_ids is None else np.asarray(type_ids)
        e = e + w["embeddings.token_type_embeddings.weight"][t]
    x = ln(e, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], cfg.get("layer_norm_eps", 1e-12))
    if "embeddings_project.weight" in w:
        x = lin(x, w["embeddings_project.weight"], w["embeddings_project.bias"])
    if mt == "mpnet":
        S = ids.shape[1]
        rel = np.arange(S)[None, :] - np.arange(S)[:, None]
        bias = w["encoder.relative_attention_bias.weight"][mpnet_bucket(rel)].transpose(2, 0, 1)
        return bert_layers(w, x, mask, cfg, bias=bias, names="mpnet")
    return bert_layers(w, x, mask, cfg)
