"""Single-thread throughput of the Hugging Face tokenizers library (PyPI), one encode() per string:
python py_bench.py SECONDS TOKENIZER.json CORPUS.jsonl → "strings/s tokens/s"."""
import json
import os
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402

secs, path, corpus_path = float(sys.argv[1]), sys.argv[2], sys.argv[3]
corpus = [json.loads(l) for l in open(corpus_path, encoding="utf-8")]
tok = Tokenizer.from_file(path)
tok.no_truncation()
tok.no_padding()
strings = tokens = 0
t0 = time.perf_counter()
while True:
    for s in corpus:
        tokens += len(tok.encode(s, add_special_tokens=False).ids)
        strings += 1
    el = time.perf_counter() - t0
    if el >= secs:
        break
print(f"{strings / el:.1f} {tokens / el:.1f}")
