#!/usr/bin/env python3
"""ONNX Runtime (CPU) latency benchmark through the Python onnxruntime
package: the same measurement as ort_bench.js, for machines that have
Python's onnxruntime but no Node (e.g. a GPU box with no network).

  ort_bench.py --onnx model.onnx [--model DIR] --seq 16,64,128 --batch 1,8
               --threads 1,2 [--warmup 3] [--min-time 2] [--min-iters 5] [--json]

Inputs, FLOP count, p50/p90 and the JSON row are exactly ort_bench.js's
(see its header), so rows from either join with `distilbert bench --json`.
"""
import argparse
import json
import os
import time

import numpy as np


def bench_ids(batch, seq):
    i = np.arange(seq)
    r = np.arange(batch)[:, None]
    ids = 1000 + (i * 7919 + r * 31) % 20000
    ids[:, 0], ids[:, seq - 1] = 101, 102
    return ids.astype(np.int64)


def flops_per_seq(cfg, seq):
    d, h, n = cfg["dim"], cfg["hidden_dim"], cfg["n_layers"]
    labels = len(cfg.get("id2label") or {0: 0, 1: 1})
    return 2 * (n * (seq * (4 * d * d + 2 * d * h) + 2 * seq * seq * d) + d * d + d * labels)


def ints(s):
    return [int(x) for x in s.split(",") if x]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--onnx", required=True)
    p.add_argument("--model")
    p.add_argument("--seq", default="16,64,128")
    p.add_argument("--batch", default="1,8")
    p.add_argument("--threads", default="1")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--min-time", type=lambda s: float(s.rstrip("s")), default=2.0)
    p.add_argument("--min-iters", type=int, default=5)
    p.add_argument("--json", action="store_true")
    # Only labels the rows, as ort_bench.js's flag does: the model decides.
    p.add_argument("--quantization", default="none")
    a = p.parse_args()
    # Imported here so that torch_bench.py can reuse bench_ids and
    # flops_per_seq on machines without onnxruntime.
    import onnxruntime as ort
    with open(os.path.join(a.model or os.path.dirname(a.onnx), "config.json")) as f:
        cfg = json.load(f)
    for threads in ints(a.threads):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
        for batch in ints(a.batch):
            for seq in ints(a.seq):
                ids = bench_ids(batch, seq)
                feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
                for _ in range(a.warmup):
                    sess.run(None, feeds)
                times = []
                start = time.perf_counter()
                while True:
                    t0 = time.perf_counter()
                    sess.run(None, feeds)
                    t1 = time.perf_counter()
                    times.append((t1 - t0) * 1e3)
                    if len(times) >= a.min_iters and t1 - start >= a.min_time:
                        break
                times.sort()
                p50, p90 = times[int(0.5 * (len(times) - 1))], times[int(0.9 * (len(times) - 1))]
                row = {"batch": batch, "seq": seq, "threads": threads, "kernels": "onnxruntime",
                       "quantization": a.quantization,
                       "p50_ms": round(p50, 3), "p90_ms": round(p90, 3),
                       "seqs_per_s": round(batch / (p50 / 1e3), 2),
                       "gflops": round(batch * flops_per_seq(cfg, seq) / (p50 / 1e3) / 1e9, 2),
                       "iters": len(times)}
                if a.json:
                    print(json.dumps(row), flush=True)
                else:
                    print(f"batch {batch}\tseq {seq}\tthreads {threads}\tp50 {row['p50_ms']} ms\t"
                          f"p90 {row['p90_ms']} ms\t{row['seqs_per_s']} seq/s\t{row['gflops']} GFLOP/s\t"
                          f"({row['iters']} runs)", flush=True)


if __name__ == "__main__":
    main()
