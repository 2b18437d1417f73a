#!/usr/bin/env python3
"""bench/embed: encoder forward throughput, pgml vs PyTorch, on random-weight BERT models.

Shapes: MiniLM-L6 (6 layers, hidden 384, 12 heads, FFN 1536, vocab 30522) and BERT-base (12 x 768, 12
heads, FFN 3072); batches 32 x 128 and 1 x 16 tokens; 2 threads. PyTorch runs with
torch.set_num_threads(2); pgml with a pool of 2 workers and single-threaded OpenBLAS (and, for
comparison, a pool of 1 with 2 OpenBLAS threads). Writes bench/results/embed.md.
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import torch
import transformers as tf

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")

SHAPES = {
    "MiniLM-L6 (6x384)": dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536),
    "BERT-base (12x768)": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
}
BATCHES = [(32, 128, False), (32, 128, True), (1, 16, False)]  # True: 8..128 real tokens per sequence
COS = []  # (model dir, min token cosine, mean token cosine) of int8 vs f32


def varlen_mask(B, S):
    """The embed_bench EMBED_VARLEN lengths are C rand()-based; here the same distribution (8..S real tokens)."""
    g = torch.Generator().manual_seed(1)
    mask = torch.zeros(B, S, dtype=torch.long)
    for b in range(B):
        mask[b, : 8 + int(torch.randint(0, S - 7, (1,), generator=g))] = 1
    return mask


def torch_rate(model, B, S, secs, varlen=False):
    """(sentences/s wall, CPU ms per batch)"""
    ids = torch.randint(1000, 21000, (B, S))
    mask = varlen_mask(B, S) if varlen else torch.ones(B, S, dtype=torch.long)
    ids = ids * mask
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=mask)
        n, t0, c0 = 0, time.perf_counter(), time.process_time()
        while True:
            model(input_ids=ids, attention_mask=mask)
            n += 1
            el = time.perf_counter() - t0
            if el >= secs and n >= 3:
                break
        cpu = time.process_time() - c0
    return n * B / el, cpu / n * 1000


def ours_rate(binary, d, B, S, threads, blas, secs, dtype=None, varlen=False):
    """(sentences/s wall, CPU ms per batch)"""
    cmd = [binary, d, str(B), str(S), str(threads), str(blas), str(secs)] + ([dtype] if dtype else [])
    env = dict(os.environ, EMBED_VARLEN="1") if varlen else None
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout.split()
    if dtype:
        COS.append((d, float(out[7]), float(out[9])))
    return float(out[1]), float(out[5])


def load_avg():
    try:
        return float(open("/proc/loadavg").read().split()[0])
    except OSError:
        return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "embed.md"))
    ap.add_argument("--only", default="")
    ap.add_argument("--int8", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    tf.logging.set_verbosity_error()
    rows = []
    with tempfile.TemporaryDirectory(prefix="pgml-bench-embed-") as tmp:
        for name, shape in SHAPES.items():
            if args.only and args.only not in name:
                continue
            torch.manual_seed(0)
            cfg = tf.BertConfig(vocab_size=30522, max_position_embeddings=512, **shape)
            model = tf.BertModel(cfg, add_pooling_layer=False).eval()
            d = os.path.join(tmp, name.split()[0])
            model.save_pretrained(d, safe_serialization=True)
            for B, S, vl in BATCHES:
                la = load_avg()
                t, tc = torch_rate(model, B, S, args.seconds, vl)
                o, oc = ours_rate(args.binary, d, B, S, 2, 1, args.seconds, varlen=vl)
                o1, _ = ours_rate(args.binary, d, B, S, 1, 2, args.seconds, varlen=vl)
                q, qc = (ours_rate(args.binary, d, B, S, 2, 1, args.seconds, "int8", vl) if args.int8
                         else (None, None))
                rows.append((name, f"{B}x{S}" + (" (8-128 real)" if vl else ""), t, o, o1, q, B * 1000 / tc,
                             B * 1000 / oc,
                             B * 1000 / qc if qc else None, la))
                qs = f"  int8 {q:8.1f}" if q else ""
                print(f"{name:20s} {B:3d}x{S:<4d}{'v' if vl else ' '} torch {t:8.1f}  pgml {o:8.1f}  (pool1+blas2 {o1:8.1f}){qs}  "
                      f"sentences/s; per CPU-second: torch {B * 1000 / tc:.1f} pgml {B * 1000 / oc:.1f}"
                      + (f" int8 {B * 1000 / qc:.1f}" if qc else "") + f"  (load {la:.2f})", flush=True)
    cpu = platform.processor() or "x86_64"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [
        "# bench/embed: encoder forward throughput",
        "",
        "Random-weight BERT models; all tokens real, except in the (8-128 real) rows: each sequence has 8 to "
        "128 real tokens, right-padded to 128 (PyTorch computes the padding; pgml runs on real tokens only). "
        f"{os.cpu_count()} CPUs ({cpu}); 2 threads.",
        "pgml: `pgml_encoder_forward`, f32 with a pool of 2 and single-threaded OpenBLAS sgemm per worker "
        "(pool1+blas2: one pool thread, OpenBLAS with 2 threads); int8: `{\"dtype\": \"int8\"}` (int8 weights, "
        "AVX-512 VNNI). PyTorch "
        f"{torch.__version__}: `BertModel` f32 with torch.set_num_threads(2), inference_mode. "
        "Sentences per second, wall clock (higher is better). The machine is shared: the per-CPU-second "
        "columns (sentences per second of CPU time used by the process, all threads) are less sensitive to "
        "other load; `load` is the 1-minute load average when the row started. Regenerate: `bench/embed/run --int8`.",
        "",
        "| model | batch × tokens | PyTorch | pgml f32 | pgml f32 pool1+blas2 |" + (" pgml int8 |" if args.int8 else "") +
        " f32 / PyTorch | per CPU-s: PyTorch | pgml f32 |" + (" pgml int8 |" if args.int8 else "") + " load |",
        "|---|---|---:|---:|---:|" + ("---:|" if args.int8 else "") + "---:|---:|---:|" + ("---:|" if args.int8 else "") + "---:|",
    ]
    for name, bs, t, o, o1, q, tcs, ocs, qcs, la in rows:
        qc = f" {q:.1f} |" if args.int8 else ""
        qcc = f" {qcs:.1f} |" if args.int8 else ""
        lines.append(f"| {name} | {bs} | {t:.1f} | {o:.1f} | {o1:.1f} |{qc} {o / t:.2f}× | {tcs:.1f} | {ocs:.1f} |"
                     f"{qcc} {la:.2f} |")
    if COS:
        lines += ["", "int8 accuracy (hidden states vs f32 on the same random-weight model, per token cosine):", ""]
        seen = set()
        for d, mn, me in COS:
            key = os.path.basename(d)
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"- {key}: min {mn:.5f}, mean {me:.5f}")
        lines.append("- real all-MiniLM-L6-v2 (core test `encoder_minilm_real_model`, vs transformers): min per token 0.9954, min mean-pooled 0.9976")
    if not args.only:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
