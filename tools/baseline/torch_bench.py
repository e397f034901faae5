#!/usr/bin/env python3
"""PyTorch (eager) latency benchmark: the rival for the GPU engine. A plain
DistilBERT forward pass (export_onnx.py's module, attention through
torch.nn.functional.scaled_dot_product_attention), no `transformers`.

  torch_bench.py --model DIR [--device cuda|cpu] [--dtype fp32|fp16|bf16]
                 --seq 16,64,128 --batch 1,8 [--threads 1] [--warmup N]
                 [--min-time 2] [--min-iters 5] [--json]
  torch_bench.py --model DIR --check [--ids 101,2023,3185,2001,2307,102]

Inputs, FLOP count and the JSON row are ort_bench.py's (the row adds p99_ms,
engine, device and precision), so rows from either join with
`distilbert bench --json`. --check prints the logits of one id sequence
(full attention mask) as one JSON line, to compare with our engine's.
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F

from export_onnx import Layer, load_model
from ort_bench import bench_ids, flops_per_seq, ints

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
SDPA = getattr(F, "scaled_dot_product_attention", None)  # torch >= 2.0


class SDPALayer(Layer):
    """export_onnx.Layer with fused attention: SDPA picks flash /
    memory-efficient kernels on CUDA, which is what a tuned PyTorch
    deployment gets, rather than the op-for-op HF graph."""

    def forward(self, x, mask):
        bs, n = x.shape[:2]

        def heads(t):
            return t.view(bs, n, self.heads, self.dh).transpose(1, 2)

        q, k, v = heads(self.q_lin(x)), heads(self.k_lin(x)), heads(self.v_lin(x))
        # mask None = no padding: lets SDPA use flash attention, which takes no mask.
        keep = None if mask is None else (mask != 0).view(bs, 1, 1, n)
        if SDPA is not None:
            ctx = SDPA(q, k, v, attn_mask=keep)
        else:  # torch < 2.0 (Debian's 1.13): the same math, so --check runs there too
            s = q @ k.transpose(2, 3) / math.sqrt(self.dh)
            if keep is not None:
                s = s.masked_fill(~keep, torch.finfo(s.dtype).min)
            ctx = s.softmax(-1) @ v
        x = self.sa_layer_norm(self.out_lin(ctx.transpose(1, 2).reshape(bs, n, -1)) + x)
        return self.output_layer_norm(self.lin2(F.gelu(self.lin1(x))) + x)  # exact erf GELU


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="checkpoint directory (config.json, model.safetensors)")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--dtype", default="fp32", choices=list(DTYPES))
    p.add_argument("--seq", default="16,64,128")
    p.add_argument("--batch", default="1,8")
    p.add_argument("--threads", default="1", help="torch CPU threads (a list runs each)")
    # More than ORT's 3 on CUDA: the first calls create cuBLAS handles and
    # workspaces, pick SDPA kernels and fill the caching allocator.
    p.add_argument("--warmup", type=int, help="untimed runs per row (default: cuda 10, cpu 3)")
    p.add_argument("--min-time", type=lambda s: float(s.rstrip("s")), default=2.0)
    p.add_argument("--min-iters", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.add_argument("--check", action="store_true", help="print the logits of --ids and exit")
    p.add_argument("--ids", default="101,2023,3185,2001,2307,102", help="comma-separated ids for --check")
    a = p.parse_args()
    dev = torch.device(a.device)
    model = load_model(a.model, SDPALayer).to(device=dev, dtype=DTYPES[a.dtype])  # ids stay int64
    kernels = "torch-sdpa" if SDPA is not None else "torch-math"

    if a.check:
        ids = torch.tensor([ints(a.ids)], dtype=torch.long, device=dev)
        with torch.inference_mode():
            logits = model(ids, torch.ones_like(ids))[0].float().tolist()
        print(json.dumps({"input_ids": ints(a.ids), "logits": logits, "engine": "torch",
                          "device": a.device, "precision": a.dtype, "kernels": kernels}))
        return

    warmup = a.warmup if a.warmup is not None else (10 if a.device == "cuda" else 3)
    # On CPU there is nothing to wait for; on CUDA the launches are async, so
    # each timed forward is bracketed by synchronize to get its own latency.
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    with open(os.path.join(a.model, "config.json")) as f:
        cfg = json.load(f)
    for threads in ints(a.threads):
        torch.set_num_threads(threads)
        for batch in ints(a.batch):
            for seq in ints(a.seq):
                # Same ids as ort_bench.py; already on the device, and the
                # mask is all ones so it is passed as None (see SDPALayer).
                ids = torch.from_numpy(bench_ids(batch, seq)).to(dev)
                with torch.inference_mode():
                    for _ in range(warmup):
                        model(ids, None)
                    sync()
                    times = []
                    start = time.perf_counter()
                    while True:
                        sync()
                        t0 = time.perf_counter()
                        model(ids, None)
                        sync()
                        t1 = time.perf_counter()
                        times.append((t1 - t0) * 1e3)
                        if len(times) >= a.min_iters and t1 - start >= a.min_time:
                            break
                times.sort()
                pct = lambda q: times[int(q * (len(times) - 1))]  # ort_bench.py's percentile
                p50 = pct(0.5)
                # seqs_per_s and gflops use p50, as ort_bench.py and `distilbert bench` do.
                row = {"batch": batch, "seq": seq, "threads": threads, "kernels": kernels,
                       "quantization": "none",
                       "p50_ms": round(p50, 3), "p90_ms": round(pct(0.9), 3), "p99_ms": round(pct(0.99), 3),
                       "seqs_per_s": round(batch / (p50 / 1e3), 2),
                       "gflops": round(batch * flops_per_seq(cfg, seq) / (p50 / 1e3) / 1e9, 2),
                       "iters": len(times), "engine": "torch", "device": a.device, "precision": a.dtype}
                if a.json:
                    print(json.dumps(row), flush=True)
                else:
                    print(f"{a.device} {a.dtype}\tbatch {batch}\tseq {seq}\tthreads {threads}\t"
                          f"p50 {row['p50_ms']} ms\tp90 {row['p90_ms']} ms\tp99 {row['p99_ms']} ms\t"
                          f"{row['seqs_per_s']} seq/s\t{row['gflops']} GFLOP/s\t({row['iters']} runs)",
                          flush=True)


if __name__ == "__main__":
    main()
