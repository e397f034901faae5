#!/usr/bin/env python3
"""Compare two distilbert binaries (e.g. the commit before a change and
the change) on one machine: alternating rounds of `distilbert bench
--json`, the order flipped every round, and the median over rounds of the
p50 ratio new/old per (quantization, batch, seq, threads).

    tools/baseline/ab.py --old OLD_BIN --new NEW_BIN --model DIR \
        [--rounds 5] [--quantize none,int8] [--batch 1,32] [--seq 64] \
        [--threads 2] [--min-time 1s] [--nice -10]

Machines here are shared: ratios of interleaved runs hold where absolute
times do not. Prints a Markdown table; exits 0.
"""
import argparse
import json
import os
import statistics
import subprocess


def bench(binary, model, quant, batch, seq, threads, min_time, nice):
    cmd = [binary, "bench", "--model", model, "--quantize", quant,
           "--batch", str(batch), "--seq", str(seq), "--threads", str(threads),
           "--min-time", min_time, "--json"]
    if nice:
        cmd = ["nice", "-n", str(nice)] + cmd
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = [json.loads(l) for l in out.splitlines() if l.strip()]
    return rows[0]["p50_ms"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quantize", default="none,int8")
    ap.add_argument("--batch", default="1,32")
    ap.add_argument("--seq", default="64")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--min-time", default="1s")
    ap.add_argument("--nice", type=int, default=0)
    a = ap.parse_args()
    shapes = [(q, int(b), int(s), int(t))
              for q in a.quantize.split(",") for b in a.batch.split(",")
              for s in a.seq.split(",") for t in a.threads.split(",")]
    ratios = {k: [] for k in shapes}
    times = {k: ([], []) for k in shapes}
    for r in range(a.rounds):
        for k in shapes:
            order = [("old", a.old), ("new", a.new)]
            if r % 2:
                order.reverse()
            got = {}
            for name, binary in order:
                got[name] = bench(binary, a.model, *k, a.min_time, a.nice)
            ratios[k].append(got["new"] / got["old"])
            times[k][0].append(got["old"])
            times[k][1].append(got["new"])
            print(f"round {r+1} {k}: old {got['old']:.2f} ms new {got['new']:.2f} ms ratio {got['new']/got['old']:.3f}", flush=True)
    print()
    print("| quantization | batch × seq | threads | new/old p50, median (rounds) | old ms | new ms |")
    print("| --- | --- | ---: | --- | ---: | ---: |")
    for k in shapes:
        q, b, s, t = k
        rs = ", ".join(f"{x:.2f}" for x in ratios[k])
        print(f"| {q} | {b} × {s} | {t} | {statistics.median(ratios[k]):.3f} ({rs}) | "
              f"{statistics.median(times[k][0]):.1f} | {statistics.median(times[k][1]):.1f} |")


if __name__ == "__main__":
    main()
