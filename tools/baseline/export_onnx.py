#!/usr/bin/python3
"""Export a Hugging Face DistilBertForSequenceClassification checkpoint to ONNX
without `transformers` or `safetensors`: only torch and numpy (Debian
python3-torch).

  export_onnx.py --model DIR --out model.onnx [--opset 14]
  export_onnx.py --model DIR --check [--ids 101,2023,102 ...]
                 [--golden FILE.jsonl --n 20 --tol 1e-4]

--check prints the torch logits, one JSON line per id sequence; with
--golden it runs the first N lines' input_ids, prints the max abs difference
to their "logits" and exits 1 if it is above --tol.

The module mirrors the Hugging Face modeling code op for op (view /
transpose / matmul / masked_fill with finfo.min / softmax), so the exported
graph is what a transformers export of the same model looks like.
"""
import argparse
import inspect
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


def read_safetensors(path):
    """name -> float32 torch tensor (F32, F16 and BF16 files)."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    out = {}
    for name, e in header.items():
        start, end = e["data_offsets"]
        raw = data[base + start:base + end]
        if e["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif e["dtype"] == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif e["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            continue  # e.g. an int64 position_ids buffer
        out[name] = torch.from_numpy(a.reshape(e["shape"]).copy())
    return out


class Layer(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads, self.dh = heads, dim // heads
        self.q_lin, self.k_lin = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v_lin, self.out_lin = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.sa_layer_norm = nn.LayerNorm(dim, eps=1e-12)
        self.lin1, self.lin2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.output_layer_norm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x, mask):
        bs, k_len = x.size(0), x.size(1)
        dh = self.dh

        def shape(t):
            return t.view(bs, -1, self.heads, dh).transpose(1, 2)

        q = shape(self.q_lin(x)) / math.sqrt(dh)
        k = shape(self.k_lin(x))
        v = shape(self.v_lin(x))
        scores = torch.matmul(q, k.transpose(2, 3))
        masked = (mask == 0).view(bs, 1, 1, k_len).expand_as(scores)
        scores = scores.masked_fill(masked, torch.tensor(torch.finfo(scores.dtype).min))
        ctx = torch.matmul(F.softmax(scores, dim=-1), v)
        ctx = ctx.transpose(1, 2).contiguous().view(bs, -1, self.heads * dh)
        x = self.sa_layer_norm(self.out_lin(ctx) + x)
        return self.output_layer_norm(self.lin2(F.gelu(self.lin1(x))) + x)  # exact erf GELU


class DistilBertClassifier(nn.Module):
    # layer: the encoder layer class (torch_bench.py passes one with SDPA
    # attention; the parameters are the same, so is the checkpoint mapping).
    def __init__(self, cfg, layer=Layer):
        super().__init__()
        dim, labels = cfg["dim"], len(cfg.get("id2label") or {"0": 0, "1": 1})
        if cfg.get("activation", "gelu") != "gelu" or cfg.get("sinusoidal_pos_embds"):
            sys.exit("only activation gelu with learned position embeddings is supported")
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], dim)
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], dim)
        self.emb_layer_norm = nn.LayerNorm(dim, eps=1e-12)
        self.layers = nn.ModuleList(
            layer(dim, cfg["n_heads"], cfg["hidden_dim"]) for _ in range(cfg["n_layers"]))
        self.pre_classifier = nn.Linear(dim, dim)
        self.classifier = nn.Linear(dim, labels)

    def forward(self, input_ids, attention_mask):
        pos = torch.arange(input_ids.size(1), dtype=torch.long, device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(pos).unsqueeze(0)
        x = self.emb_layer_norm(x)
        for layer in self.layers:
            x = layer(x, attention_mask)
        return self.classifier(F.relu(self.pre_classifier(x[:, 0])))

    def load_hf(self, tensors):
        """Load HF keys (with or without the "distilbert." prefix)."""
        ren = {"embeddings.word_embeddings.": "word_embeddings.",
               "embeddings.position_embeddings.": "position_embeddings.",
               "embeddings.LayerNorm.": "emb_layer_norm.",
               "transformer.layer.": "layers.", "attention.": "", "ffn.": ""}
        state = {}
        for name, t in tensors.items():
            if name.endswith("position_ids"):
                continue
            if name.startswith("distilbert."):
                name = name[len("distilbert."):]
            for a, b in ren.items():
                name = name.replace(a, b)
            state[name] = t
        self.load_state_dict(state, strict=True)


def load_model(model_dir, layer=Layer):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    m = DistilBertClassifier(cfg, layer)
    m.load_hf(read_safetensors(os.path.join(model_dir, "model.safetensors")))
    return m.eval()


def logits_for(model, ids):
    with torch.no_grad():
        x = torch.tensor([ids], dtype=torch.long)
        return model(x, torch.ones_like(x))[0].tolist()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="checkpoint directory")
    p.add_argument("--out", help="ONNX file to write")
    p.add_argument("--opset", type=int, default=14)
    p.add_argument("--check", action="store_true", help="print torch logits instead of exporting")
    p.add_argument("--ids", nargs="*", default=[], help="comma-separated id sequences for --check")
    p.add_argument("--golden", help="golden .jsonl with input_ids and logits, for --check")
    p.add_argument("--n", type=int, default=20, help="golden lines to check")
    p.add_argument("--tol", type=float, default=1e-4)
    a = p.parse_args()
    model = load_model(a.model)

    if a.check:
        seqs = [[int(t) for t in s.split(",")] for s in a.ids]
        want = []
        if a.golden:
            with open(a.golden) as f:
                for line in f:
                    if len(want) == a.n:
                        break
                    g = json.loads(line)
                    seqs.append(g["input_ids"])
                    want.append(g["logits"])
        elif not seqs:
            seqs = [[101, 1037, 11951, 1998, 2411, 12473, 4990, 102], [101, 2009, 1005, 1055, 102]]
        worst = 0.0
        for i, ids in enumerate(seqs):
            got = logits_for(model, ids)
            row = {"input_ids": ids, "logits": got}
            j = i - (len(seqs) - len(want))
            if j >= 0:
                row["max_abs_diff"] = max(abs(x - y) for x, y in zip(got, want[j]))
                worst = max(worst, row["max_abs_diff"])
            print(json.dumps(row))
        if want:
            print(f"torch vs golden: {len(want)} sequences, max abs logit diff {worst:.3g} (tol {a.tol:g})",
                  file=sys.stderr)
            sys.exit(0 if worst <= a.tol else 1)
        return

    if not a.out:
        p.error("--out is required unless --check")
    ids = torch.tensor([[101, 2023, 3185, 2001, 2307, 102], [101, 6659, 3185, 102, 0, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    # Newer torch (2.9+) defaults to the dynamo exporter; the TorchScript one
    # gives the graph the transformers export has, which ORT is tuned for.
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(
        model, (ids, mask), a.out, opset_version=a.opset, do_constant_folding=True, **extra,
        input_names=["input_ids", "attention_mask"], output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                      "logits": {0: "batch"}})
    print(f"wrote {a.out} (opset {a.opset}, {os.path.getsize(a.out) / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
