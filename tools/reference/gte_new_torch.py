"""A float32 torch forward of Alibaba-NLP/new-impl's NewModel ("model_type": "new", the gte-v1.5 models).

Written for pgml from a reading of new-impl's modeling.py and configuration.py (not a copy), laid out the
way the reference computes, so that its float32 rounding is close to the reference's:
  - embeddings: word + token_type (when type_vocab_size > 0; ids default to 0), LayerNorm; no position table
  - rotary: cos/sin caches built at load in float32 (emb = cat(freqs, freqs)), indexed by position, applied
    to Q and K as q * cos + rotate_half(q) * sin over the whole head; rope_scaling "ntk" builds the cache
    for max_position_embeddings * factor positions, past max_position_embeddings, so the scaled
    frequencies (base theta * factor, then / factor^(2 / head_dim)) are used at every length
  - layer: qkv_proj (q, k, v stacked) -> attention with 1/sqrt(d) -> o_proj; x = attn_ln(x + attn);
    up_gate_proj (no bias) split into [up | gate]; x = mlp_ln(x + down_proj(act(gate) * up))
It also loads as remote code (tools/make_embed_fixtures.py copies it next to a tiny model so that
sentence-transformers runs it): NewRefConfig / NewRefModel.
"""
import math

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import BaseModelOutput


class NewRefConfig(PretrainedConfig):
    model_type = "new"

    def __init__(self, vocab_size=30528, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, hidden_act="gelu", max_position_embeddings=2048, type_vocab_size=1,
                 layer_norm_type="layer_norm", layer_norm_eps=1e-12, position_embedding_type="rope",
                 rope_theta=10000.0, rope_scaling=None, pack_qkv=True, logn_attention_scale=False, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_type = layer_norm_type
        self.layer_norm_eps = layer_norm_eps
        self.position_embedding_type = position_embedding_type
        self.rope_theta = rope_theta
        self.rope_scaling = rope_scaling
        self.pack_qkv = pack_qkv
        self.logn_attention_scale = logn_attention_scale


def rope_cache(cfg, n_positions=None):
    """(cos, sin) of shape [positions, head_dim] in float32, as the reference's rotary module holds them."""
    d = cfg.hidden_size // cfg.num_attention_heads
    base, factor = float(cfg.rope_theta), 1.0
    limit = cfg.max_position_embeddings
    if cfg.rope_scaling is not None:
        assert cfg.rope_scaling["type"] == "ntk" and cfg.rope_scaling.get("mixed_b") is None
        factor = float(cfg.rope_scaling["factor"])
        limit = cfg.max_position_embeddings * factor
    inv = 1.0 / (base ** (torch.arange(0, d, 2).float() / d))
    if cfg.rope_scaling is not None and limit > cfg.max_position_embeddings:
        inv = 1.0 / ((base * factor) ** (torch.arange(0, d, 2).float() / d))
        inv = inv / factor ** (2 / d)
    n = int(max(limit, n_positions or 0))
    t = torch.arange(n, dtype=torch.float32)
    freqs = torch.einsum("i,j->ij", t, inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class NewRefLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        H, I = cfg.hidden_size, cfg.intermediate_size
        self.heads, self.I = cfg.num_attention_heads, I
        self.attention = nn.Module()
        self.attention.qkv_proj = nn.Linear(H, 3 * H)
        self.attention.o_proj = nn.Linear(H, H)
        self.mlp = nn.Module()
        self.mlp.up_gate_proj = nn.Linear(H, 2 * I, bias=False)
        self.mlp.down_proj = nn.Linear(I, H)
        self.attn_ln = nn.LayerNorm(H, eps=cfg.layer_norm_eps)
        self.mlp_ln = nn.LayerNorm(H, eps=cfg.layer_norm_eps)
        self.act = ACT2FN[cfg.hidden_act]

    def forward(self, x, bias, cos, sin):
        B, S, H = x.shape
        d = H // self.heads
        q, k, v = (t.view(B, S, self.heads, d) for t in self.attention.qkv_proj(x).split(H, dim=-1))
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + bias
        ctx = torch.matmul(scores.softmax(-1), v).transpose(1, 2).reshape(B, S, H)
        x = self.attn_ln(x + self.attention.o_proj(ctx))
        up, gate = self.mlp.up_gate_proj(x).split(self.I, dim=-1)
        return self.mlp_ln(x + self.mlp.down_proj(self.act(gate) * up))


class NewRefModel(PreTrainedModel):
    config_class = NewRefConfig
    base_model_prefix = "new"

    def __init__(self, config):
        super().__init__(config)
        H = config.hidden_size
        assert config.position_embedding_type == "rope" and config.layer_norm_type == "layer_norm"
        assert config.pack_qkv and not config.logn_attention_scale
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(config.vocab_size, H)
        if config.type_vocab_size > 0:
            self.embeddings.token_type_embeddings = nn.Embedding(config.type_vocab_size, H)
        self.embeddings.LayerNorm = nn.LayerNorm(H, eps=config.layer_norm_eps)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([NewRefLayer(config) for _ in range(config.num_hidden_layers)])
        self.post_init()

    def _init_weights(self, module):
        pass

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, **kwargs):
        B, S = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        x = self.embeddings.word_embeddings(input_ids)
        if self.config.type_vocab_size > 0:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            x = x + self.embeddings.token_type_embeddings(token_type_ids)
        x = self.embeddings.LayerNorm(x)
        cos, sin = rope_cache(self.config, S)
        pos = torch.arange(S)
        cos, sin = cos[pos][None, :, None, :], sin[pos][None, :, None, :]
        bias = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.encoder.layer:
            x = layer(x, bias, cos, sin)
        return BaseModelOutput(last_hidden_state=x)
