#!/usr/bin/env python3
"""Builds core/tests/fixtures/tokenizers/unigram-xlmr.json once: a small sentencepiece Unigram model
(nmt_nfkc normalization, so the tokenizer.json has a Precompiled charsmap) trained on the parity corpus,
converted with transformers' XLMRobertaTokenizerFast (Metaspace, byte_fallback off, RobertaProcessing-style
template). Needs `sentencepiece` (pip install --target DIR sentencepiece; PYTHONPATH=DIR) and transformers."""
import json
import os
import tempfile

import sentencepiece as spm

from transformers.models.xlm_roberta.tokenization_xlm_roberta import XLMRobertaTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
texts = [json.loads(l) for l in open(os.path.join(HERE, "corpus.jsonl"), encoding="utf-8")]
with tempfile.TemporaryDirectory() as d:
    txt = os.path.join(d, "train.txt")
    with open(txt, "w", encoding="utf-8") as f:
        for t in texts:
            t = t.replace("\x00", "").replace("\n", " ").strip()
            if t:
                f.write(t + "\n")
    spm.SentencePieceTrainer.train(input=txt, model_prefix=os.path.join(d, "m"), vocab_size=1200,
                                   model_type="unigram", normalization_rule_name="nmt_nfkc",
                                   character_coverage=0.98, seed_sentencepiece_size=20000, num_threads=1,
                                   bos_id=0, pad_id=1, eos_id=2, unk_id=3)
    slow = XLMRobertaTokenizer(vocab_file=os.path.join(d, "m.model"))
    from transformers.convert_slow_tokenizer import convert_slow_tokenizer
    tok = convert_slow_tokenizer(slow)
    out = os.path.join(ROOT, "core", "tests", "fixtures", "tokenizers", "unigram-xlmr.json")
    tok.save(out)
    print(out, os.path.getsize(out))
