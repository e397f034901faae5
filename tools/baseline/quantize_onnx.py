#!/usr/bin/python3
"""Dynamic int8 quantization of an export_onnx.py model, the way ONNX Runtime's
quantize_dynamic(per_channel=True, weight_type=QInt8) rewrites MatMuls whose
second input is a constant weight, with only Debian's python3-onnx (the
onnxruntime.quantization package is not installable here).

  quantize_onnx.py --in model.onnx --out model-int8.onnx

Each such MatMul(X, W[K,N]) becomes

  DynamicQuantizeLinear(X)            -> Xq (uint8), x_scale, x_zero_point
  MatMulInteger(Xq, Wq, x_zp, w_zp)   -> int32   (Wq int8, per column, symmetric)
  Cast(to=float)                      -> float32
  Mul(x_scale, w_scale)               -> per-column scale
  Mul(cast, scale)                    -> the MatMul's output

which ONNX Runtime's optimizer fuses into DynamicQuantizeMatMul, as it does
for quantize_dynamic's own output. Activation x activation products
(attention's Q.K^T and P.V) stay float32, as in distilbert-go's int8 mode.
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def quantize(model):
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    new_nodes, new_inits, dropped, count = [], [], set(), 0
    for node in g.node:
        w = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if w is None or len(w.dims) != 2:
            new_nodes.append(node)
            continue
        wf = numpy_helper.to_array(w).astype(np.float32)  # [K, N]
        amax = np.abs(wf).max(axis=0)
        scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        wq = np.clip(np.rint(wf / scale), -127, 127).astype(np.int8)
        p = node.name.replace("/", "_").strip("_") or f"matmul{count}"
        x, y = node.input[0], node.output[0]
        new_inits += [
            numpy_helper.from_array(wq, p + "_Wq"),
            numpy_helper.from_array(np.zeros(wq.shape[1], np.int8), p + "_Wzp"),
            numpy_helper.from_array(scale, p + "_Wscale"),
        ]
        new_nodes += [
            helper.make_node("DynamicQuantizeLinear", [x], [p + "_Xq", p + "_Xscale", p + "_Xzp"], name=p + "_dql"),
            helper.make_node("MatMulInteger", [p + "_Xq", p + "_Wq", p + "_Xzp", p + "_Wzp"], [p + "_i32"], name=p + "_mmi"),
            helper.make_node("Cast", [p + "_i32"], [p + "_f32"], to=TensorProto.FLOAT, name=p + "_cast"),
            helper.make_node("Mul", [p + "_Xscale", p + "_Wscale"], [p + "_scale"], name=p + "_scale_mul"),
            helper.make_node("Mul", [p + "_f32", p + "_scale"], [y], name=p + "_out_mul"),
        ]
        dropped.add(w.name)
        count += 1
    del g.node[:]
    g.node.extend(new_nodes)
    keep = [t for t in g.initializer if t.name not in dropped or any(t.name in n.input for n in new_nodes)]
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    # DynamicQuantizeLinear and MatMulInteger are default-domain ops from opset 10/11.
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx") and o.version < 11:
            o.version = 11
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--in", dest="src", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    model = onnx.load(a.src)
    n = quantize(model)
    if n == 0:
        sys.exit("quantize_onnx: no MatMul with a constant 2-D weight found")
    onnx.checker.check_model(model)
    onnx.save(model, a.out)
    print(f"quantized {n} MatMuls -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
