#!/usr/bin/env python3
"""Expected pgml.embed outputs, computed by sentence-transformers itself.

    .venv/bin/python tools/make_embed_fixtures.py           # tiny models + their expected embeddings
    .venv/bin/python tools/make_embed_fixtures.py --minilm DIR   # also the real all-MiniLM-L6-v2 corpus

Writes core/tests/fixtures/embed/:
  corpus.json                  the sentences (>= 200: English, code, numbers, emoji, CJK, RTL, combining
                               marks, whitespace runs, long texts that hit max_seq_length, empty strings)
  <model>/                     tiny sentence-transformers models saved by SentenceTransformer.save():
                               tokenizers trained here with the `tokenizers` library, encoders built with
                               transformers' own config classes (fixed seeds); tiny-gte-cls is a "new"
                               (gte-v1.5) model, which transformers has no class for: sentence-transformers
                               runs tools/reference/gte_new_torch.py as its remote code
  <model>/expected.json        {"cases": [{"kwargs": {...}, "inputs": [...], "embeddings": [[...]]}]}
  minilm/expected.json         (--minilm) sentence-transformers/all-MiniLM-L6-v2 on the whole corpus

Run with the project venv (tools/deps.sh --python): torch 1.13 (Debian), transformers 4.46.3,
sentence-transformers 3.2.1. The outputs are committed; make test never runs this.
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers import models as stm
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (BertConfig, BertModel, PreTrainedTokenizerFast, RobertaConfig, RobertaModel)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "core", "tests", "fixtures", "embed")


def corpus():
    rng = random.Random(20261121)
    subjects = ["The cat", "A database", "PostgreSQL", "Our model", "The weather", "My neighbour", "This index",
                "Every backend", "The tokenizer", "A vector", "Machine learning", "The query planner"]
    verbs = ["sits on", "answers", "stores", "predicts", "ignores", "embeds", "scans", "improves", "reads",
             "compresses", "ranks", "joins"]
    objects = ["the mat", "a million rows", "the latest embeddings", "every request", "rainy days",
               "the write-ahead log", "nearest neighbours", "unicode text", "a small table", "the cache"]
    out = []
    for _ in range(120):
        s = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}"
        if rng.random() < 0.4:
            s += f", and {rng.choice(subjects).lower()} {rng.choice(verbs)} {rng.choice(objects)}"
        s += rng.choice([".", "!", "?", "", "..."])
        out.append(s)
    out += [
        "", " ", "   leading and trailing spaces   ", "\ttabs\tand\nnewlines\n", "a" * 300,
        "hello world", "Hello World", "HELLO WORLD", "héllo wörld", "he\u0301llo wo\u0308rld",
        "Ça va? Très bien, merci.", "¿Dónde está la biblioteca?", "Größe und Maß", "İstanbul ılık",
        "東京は日本の首都です。", "北京欢迎你", "안녕하세요 세계", "こんにちは、世界！",
        "مرحبا بالعالم", "שלום עולם", "Привет, мир!", "Γειά σου Κόσμε", "नमस्ते दुनिया", "สวัสดีชาวโลก",
        "I love pizza 🍕🍕🍕", "family: 👨‍👩‍👧‍👦 and thumbs 👍🏽", "flags 🇫🇷🇯🇵", "emoji only 😀😃😄😁",
        "SELECT * FROM pgml.embed('intfloat/e5-small-v2', 'hello');", "def f(x):\n    return x ** 2\n",
        "int main(void) { return 0; }", "https://example.com/path?query=1&b=2#frag", "user@example.com",
        "3.14159 2.71828 1.41421", "1,000,000 rows in 2.5 s (400k rows/s)", "2026-11-21T13:45:00Z",
        "$100 + €200 = ¥30000?", "50% off!!! $$$", "C++ and C# and F#", "e = mc²", "x² + y² = z²",
        "don't won't can't shouldn't", "state-of-the-art self-supervised pre-training",
        "[CLS] [SEP] [PAD] [MASK] <s> </s>", "<unk> <pad> <mask>", "line1\r\nline2\r\n",
        "zero\u200bwidth\u200bspace", "non\u00a0breaking\u00a0space", "soft\u00adhyphen",
        "control\u0007bell\u0001chars", "ﬁ ligature ﬀ", "Ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ", "① ② ③ Ⅳ Ⅻ",
    ]
    words = "the quick brown fox jumps over the lazy dog while databases hum quietly in the night".split()
    for i in range(20):
        n = rng.choice([40, 80, 150, 260, 400])
        out.append(" ".join(rng.choice(words) for _ in range(n)) + f" ({i})")
    while len(out) < 210:
        out.append(" ".join(rng.sample(words, rng.randint(2, 10))))
    return out


def train_wordpiece(texts, vocab_size):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)


def train_bytelevel_bpe(texts, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>",
                                   model_max_length=62)


def build(name, texts, kind, pooling, normalize, prompts=None, default_prompt=None, include_prompt=True,
          max_seq_length=48, seed=0):
    torch.manual_seed(seed)
    tmp = tempfile.mkdtemp()
    if kind == "bert":
        hf_tok = train_wordpiece(texts, 600)
        cfg = BertConfig(vocab_size=len(hf_tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
                         initializer_range=0.2, pad_token_id=hf_tok.pad_token_id)
        model = BertModel(cfg, add_pooling_layer=False)
    else:
        hf_tok = train_bytelevel_bpe(texts, 700)
        cfg = RobertaConfig(vocab_size=len(hf_tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=64, max_position_embeddings=64, type_vocab_size=1,
                            initializer_range=0.2, pad_token_id=1, bos_token_id=0, eos_token_id=2)
        model = RobertaModel(cfg, add_pooling_layer=False)
    model.eval()
    model.save_pretrained(tmp, safe_serialization=True)
    hf_tok.save_pretrained(tmp)
    word = stm.Transformer(tmp, max_seq_length=max_seq_length)
    modes = ["cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken"]
    pool = stm.Pooling(32, pooling_mode=None, include_prompt=include_prompt,
                       **{f"pooling_mode_{m}": m in pooling for m in modes})
    mods = [word, pool] + ([stm.Normalize()] if normalize else [])
    st = SentenceTransformer(modules=mods, device="cpu", prompts=prompts or {}, default_prompt_name=default_prompt)
    out = os.path.join(OUT, name)
    shutil.rmtree(out, ignore_errors=True)
    st.save(out, safe_serialization=True)
    shutil.rmtree(tmp)
    # what pgml reads; the rest (README.md, vocab copies) is noise in the repository
    for f in os.listdir(out):
        if f in ("README.md", "special_tokens_map.json", "vocab.txt", "merges.txt", "vocab.json"):
            os.remove(os.path.join(out, f))
    return out


def build_gte(name, texts, seed, max_seq_length=48):
    """A tiny gte-v1.5 ("new") sentence-transformers model with CLS pooling and Normalize, as gte-base-en-v1.5.

    The encoder is tools/reference/gte_new_torch.py, loaded by transformers as remote code from a copy next
    to the weights; the saved config.json then gets the real models' auto_map back (pgml ignores it).
    Returns the directory and a function that removes the remote code once the cases have run.
    """
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from reference import gte_new_torch

    torch.manual_seed(seed)
    tmp = tempfile.mkdtemp()
    hf_tok = train_wordpiece(texts, 600)
    cfg = gte_new_torch.NewRefConfig(
        vocab_size=len(hf_tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64, type_vocab_size=0, rope_theta=1000.0, rope_scaling={"type": "ntk", "factor": 2.0},
        pad_token_id=hf_tok.pad_token_id, architectures=["NewModel"],
        auto_map={"AutoConfig": "gte_new_torch.NewRefConfig", "AutoModel": "gte_new_torch.NewRefModel"})
    model = gte_new_torch.NewRefModel(cfg)
    with torch.no_grad():
        for n, p in model.named_parameters():
            is_ln_weight = ("_ln." in n or "LayerNorm." in n) and n.endswith("weight")
            p.copy_(torch.randn(p.shape) * (0.2 if p.dim() > 1 else 0.1) + (1.0 if is_ln_weight else 0.0))
    model.eval()
    model.save_pretrained(tmp, safe_serialization=True)
    hf_tok.save_pretrained(tmp)
    code = gte_new_torch.__file__
    shutil.copy(code, tmp)
    remote = {"trust_remote_code": True}
    word = stm.Transformer(tmp, max_seq_length=max_seq_length, model_args=remote, config_args=remote)
    pool = stm.Pooling(32, pooling_mode="cls")
    st = SentenceTransformer(modules=[word, pool, stm.Normalize()], device="cpu")
    out = os.path.join(OUT, name)
    shutil.rmtree(out, ignore_errors=True)
    st.save(out, safe_serialization=True)
    shutil.rmtree(tmp)
    for f in os.listdir(out):
        if f in ("README.md", "special_tokens_map.json", "vocab.txt"):
            os.remove(os.path.join(out, f))
    shutil.copy(code, out)

    def finish():
        os.remove(os.path.join(out, os.path.basename(code)))
        path = os.path.join(out, "config.json")
        c = json.load(open(path))
        c.pop("_name_or_path", None)
        c["architectures"] = ["NewModel"]
        c["auto_map"] = {"AutoConfig": "Alibaba-NLP/new-impl--configuration.NewConfig",
                         "AutoModel": "Alibaba-NLP/new-impl--modeling.NewModel"}
        with open(path, "w") as f:
            json.dump(c, f, indent=2, sort_keys=True)
            f.write("\n")
    return out, finish


def rows(emb):
    """float32 values with 9 significant digits (enough to round-trip a float32)."""
    return [[float(f"{x:.9g}") for x in row.astype(np.float32)] for row in emb]


def run_cases(model_dir, texts, cases):
    result = []
    for kwargs in cases:
        init = {k: kwargs[k] for k in ("truncate_dim",) if k in kwargs}
        enc = {k: v for k, v in kwargs.items() if k not in init}
        st = SentenceTransformer(model_dir, device="cpu", trust_remote_code=True, **init)
        emb = st.encode(texts, convert_to_numpy=True, **enc)
        result.append({"kwargs": kwargs, "inputs": texts,
                       "embeddings": rows(emb)})
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm", help="directory of sentence-transformers/all-MiniLM-L6-v2")
    args = ap.parse_args()
    torch.set_num_threads(1)
    texts = corpus()
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "corpus.json"), "w") as f:
        json.dump(texts, f, ensure_ascii=False, indent=0)
    sub = texts[::5] + texts[120:140]

    d = build("tiny-bert-mean", texts, "bert", ["mean_tokens"], normalize=True, seed=1)
    cases = run_cases(d, sub, [{}, {"batch_size": 3}, {"normalize_embeddings": True, "truncate_dim": 8},
                               {"prompt": "query: "}])
    json.dump({"cases": cases}, open(os.path.join(d, "expected.json"), "w"))

    d = build("tiny-roberta-cls", texts, "roberta", ["cls_token"], normalize=False, seed=2,
              prompts={"query": "query: ", "passage": "passage: "}, default_prompt="query", max_seq_length=40)
    cases = run_cases(d, sub, [{}, {"prompt_name": "passage"}, {"prompt": ""}, {"normalize_embeddings": True}])
    json.dump({"cases": cases}, open(os.path.join(d, "expected.json"), "w"))

    d = build("tiny-bert-multi", texts, "bert", ["max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens",
                                                 "lasttoken"],
              normalize=False, seed=3, include_prompt=False, prompts={"q": "Represent this sentence: "})
    cases = run_cases(d, sub, [{}, {"prompt_name": "q"}, {"prompt_name": "q", "batch_size": 1}])
    json.dump({"cases": cases}, open(os.path.join(d, "expected.json"), "w"))

    d, finish = build_gte("tiny-gte-cls", texts, seed=4)
    cases = run_cases(d, sub, [{}, {"batch_size": 3}, {"prompt": "query: ", "truncate_dim": 16}])
    json.dump({"cases": cases}, open(os.path.join(d, "expected.json"), "w"))
    finish()

    if args.minilm:
        st = SentenceTransformer(args.minilm, device="cpu")
        emb = st.encode(texts, convert_to_numpy=True, batch_size=32)
        d = os.path.join(OUT, "minilm")
        os.makedirs(d, exist_ok=True)
        json.dump({"cases": [{"kwargs": {}, "inputs": texts,
                              "embeddings": rows(emb)}]},
                  open(os.path.join(d, "expected.json"), "w"))
    for root, _, files in os.walk(OUT):
        for f in files:
            p = os.path.join(root, f)
            print(f"{os.path.getsize(p):>9}  {os.path.relpath(p, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
