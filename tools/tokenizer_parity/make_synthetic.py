#!/usr/bin/env python3
"""Builds small tokenizers with the Hugging Face tokenizers library (0.20) to cover components the real
tokenizer.json files do not use, trained on the parity corpus; writes core/tests/fixtures/tokenizers/:
  roberta-bpe.json    ByteLevel(add_prefix_space) BPE, RobertaProcessing(trim_offsets), ByteLevel decoder,
                      truncation OnlyFirst/Left, padding Left to a multiple of 8
  charbpe-misc.json   NFKD+StripAccents+Lowercase+Replace(regex)+Strip, Punctuation/Digits/Split(contiguous)
                      pre-tokenizers, BPE with end_of_word_suffix + unk, BPEDecoder, TemplateProcessing pair
  wordpiece-misc.json NFC, Metaspace(prepend first, no split) + WhitespaceSplit, WordPiece with "@@" prefix,
                      added tokens with lstrip/rstrip/single_word/normalized, BertProcessing, Metaspace decoder
Run once with the project venv; the outputs are committed."""
import json
import os

from tokenizers import Regex, Tokenizer, AddedToken, decoders, models, normalizers, pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "core", "tests", "fixtures", "tokenizers")
# U+0000 is left out of training: jansson (our JSON parser) cannot hold a NUL in an object key
texts = [json.loads(l).replace("\x00", "") for l in open(os.path.join(HERE, "corpus.jsonl"), encoding="utf-8")]

# 1. RoBERTa-style byte-level BPE
t = Tokenizer(models.BPE())
t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
t.decoder = decoders.ByteLevel()
tr = trainers.BpeTrainer(vocab_size=800, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
t.train_from_iterator(texts, tr)
t.post_processor = processors.RobertaProcessing(("</s>", t.token_to_id("</s>")), ("<s>", t.token_to_id("<s>")),
                                                trim_offsets=True, add_prefix_space=True)
t.enable_truncation(64, strategy="only_first", direction="left")
t.enable_padding(direction="left", pad_id=t.token_to_id("<pad>"), pad_token="<pad>", pad_to_multiple_of=8)
t.save(os.path.join(OUT, "roberta-bpe.json"))

# 2. character BPE with a suffix, many normalizers and pre-tokenizers
t = Tokenizer(models.BPE(unk_token="[UNK]", end_of_word_suffix="</w>"))
t.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase(),
                                     normalizers.Replace(Regex(r"\d{4,}"), "#"), normalizers.Strip()])
t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated"),
                                           pre_tokenizers.Digits(individual_digits=True),
                                           pre_tokenizers.Split(Regex(r"[aeiou]"), "merged_with_next")])
t.decoder = decoders.BPEDecoder(suffix="</w>")
tr = trainers.BpeTrainer(vocab_size=600, special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]"], end_of_word_suffix="</w>",
                         show_progress=False)
t.train_from_iterator(texts, tr)
t.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                 special_tokens=[("[CLS]", t.token_to_id("[CLS]")),
                                                                 ("[SEP]", t.token_to_id("[SEP]"))])
t.enable_truncation(40, strategy="longest_first")
t.save(os.path.join(OUT, "charbpe-misc.json"))

# 3. WordPiece with Metaspace and added-token options
t = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="@@", max_input_chars_per_word=20))
t.normalizer = normalizers.NFC()
t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                           pre_tokenizers.Metaspace(prepend_scheme="first", split=False)])
t.decoder = decoders.Metaspace(prepend_scheme="first")
tr = trainers.WordPieceTrainer(vocab_size=900, special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]"],
                               continuing_subword_prefix="@@", show_progress=False)
t.train_from_iterator(texts, tr)
t.add_special_tokens([AddedToken("[MASK]", lstrip=True, rstrip=True)])
t.add_tokens([AddedToken("hello", single_word=True), AddedToken("WORLD", normalized=True),
              AddedToken("<tag>", lstrip=True, normalized=False)])
t.post_processor = processors.BertProcessing(("[SEP]", t.token_to_id("[SEP]")), ("[CLS]", t.token_to_id("[CLS]")))
t.save(os.path.join(OUT, "wordpiece-misc.json"))
for n in ("roberta-bpe.json", "charbpe-misc.json", "wordpiece-misc.json"):
    print(n, os.path.getsize(os.path.join(OUT, n)))
