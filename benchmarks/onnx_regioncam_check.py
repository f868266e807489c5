#!/usr/bin/env python3
"""Sanity check of the ONNX fixtures' exact counts against regioncam (float32) on [-1, 1]^2.

    python3 benchmarks/onnx_regioncam_check.py [--json]

For the fixtures that regioncam can express, the same network is rebuilt in regioncam from the
ONNX file's weights (regioncam.Regioncam(size=1) is the square [-1, 1]^2, the identity slice)
and its number of faces is printed next to the count of fixtures/onnx/oracle.py (exact
rationals). regioncam works in float32, so equal numbers are expected but not guaranteed:
this is a sanity check, not a reference.

  mlp-gemm        Gemm/Relu x3, Gemm                      rc.linear + rc.relu
  residual-mlp    [Gemm, Relu, Gemm] + skip, Relu (x2)     R.Residual(R.Sequential(...)), rc.relu
  leaky-mlp       (a) its first part, Gemm + LeakyRelu(0.1) (rc.leaky_relu), against the
                  oracle's count after that node; (b) the whole network, with the PRelu (one slope
                  per unit, which regioncam has no layer for) replaced by a ReLU: the same pieces
                  z > 0 | z <= 0 (also for slope 1), and only the last Gemm, which splits nothing,
                  reads the slopes. (Writing prelu(z) = relu(z) - a relu(-z) instead gives two
                  coinciding lines per unit, on which float32 regioncam makes slivers: 296 faces.)
  clip-mlp        Clip(-0.5, 0.5) written as two ReLUs, relu(z + 0.5) and relu(z - 0.5) (the
                  same pieces: low, middle, high), the next Gemm reading [W, -W]
  maxpool-mlp     Gemm, Relu, then two maxima over 4 units each (the two 2x2 windows), each a
                  rc.linear(..., input_layer=the ReLU layer) + rc.max_pool()
  argmax-global   Gemm, Relu, Gemm, max over the 8 units (rc.max_pool)
Needs onnx, numpy and regioncam (pip install regioncam); no torch.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures", "onnx")
sys.path.insert(0, FIX)
import oracle  # noqa: E402


def layers_of(path):
    """[(op, attrs, [float32 constant inputs])] in node order."""
    m = onnx.load(path)
    consts = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    out = []
    for n in m.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        out.append((n.op_type, attrs, [consts[i] for i in n.input if i in consts]))
    return out


def gemm_wb(entry):
    op, attrs, (w, b) = entry
    assert op == "Gemm" and attrs.get("transB") == 1
    return np.ascontiguousarray(w.T, dtype=np.float32), np.asarray(b, np.float32)  # in x out


def rc_mlp(R, path):
    rc = R.Regioncam(size=1)
    for entry in layers_of(path):
        if entry[0] == "Gemm":
            rc.linear(*gemm_wb(entry))
        elif entry[0] == "Relu":
            rc.relu()
    return rc


def rc_residual(R, path):
    ls = layers_of(path)
    gemms = [gemm_wb(e) for e in ls if e[0] == "Gemm"]
    rc = R.Regioncam(size=1)
    rc.linear(*gemms[0])
    rc.relu()
    for k in range(2):
        (w1, b1), (w2, b2) = gemms[1 + 2 * k], gemms[2 + 2 * k]
        rc.add(R.Residual(R.Sequential(R.Linear(w1, b1), R.ReLU(), R.Linear(w2, b2))))
        rc.relu()
    return rc


def rc_leaky_first(R, path):
    ls = layers_of(path)
    assert ls[0][0] == "Gemm" and ls[1][0] == "LeakyRelu"
    rc = R.Regioncam(size=1)
    rc.linear(*gemm_wb(ls[0]))
    rc.leaky_relu(float(ls[1][1]["alpha"]))
    return rc


def rc_leaky_whole(R, path):
    ls = layers_of(path)
    rc = rc_leaky_first(R, path)
    rc.linear(*gemm_wb(ls[2]))
    assert ls[3][0] == "PRelu"
    rc.relu()  # the PRelu's pieces; its slopes only change the output map, not the regions
    return rc


def rc_clip(R, path):
    ls = layers_of(path)
    (w1, b1) = gemm_wb(ls[0])
    op, _, (lo, hi) = ls[1]
    assert op == "Clip"
    lo, hi = float(lo), float(hi)
    rc = R.Regioncam(size=1)
    # [relu(z - lo), relu(z - hi)]: clip(z) = lo + relu(z - lo) - relu(z - hi)
    rc.linear(np.concatenate([w1, w1], axis=1), np.concatenate([b1 - lo, b1 - hi]).astype(np.float32))
    rc.relu()
    w2, b2 = gemm_wb(ls[2])
    rc.linear(np.concatenate([w2, -w2], axis=0), (b2 + lo * w2.sum(axis=0)).astype(np.float32))
    rc.relu()
    return rc


def rc_maxpool(R, path):
    ls = layers_of(path)
    gemms = [gemm_wb(e) for e in ls if e[0] == "Gemm"]
    rc = R.Regioncam(size=1)
    rc.linear(*gemms[0])
    rc.relu()
    hidden = rc.num_layers - 1
    w, b = gemms[1]
    for lo in (0, 4):  # Reshape [1,2,2,2] + MaxPool 2x2: a max over units 0-3 and one over 4-7
        rc.linear(np.ascontiguousarray(w[:, lo:lo + 4]), np.ascontiguousarray(b[lo:lo + 4]),
                  input_layer=hidden)
        rc.max_pool()
    return rc


def rc_argmax(R, path):
    ls = layers_of(path)
    gemms = [gemm_wb(e) for e in ls if e[0] == "Gemm"]
    rc = R.Regioncam(size=1)
    rc.linear(*gemms[0])
    rc.relu()
    rc.linear(*gemms[1])
    rc.max_pool()
    return rc


CASES = [
    ("mlp-gemm.onnx", rc_mlp, None),
    ("residual-mlp.onnx", rc_residual, None),
    ("leaky-mlp.onnx", rc_leaky_first, "leakyrelu0"),
    ("leaky-mlp.onnx", rc_leaky_whole, None),
    ("clip-mlp.onnx", rc_clip, None),
    ("maxpool-mlp.onnx", rc_maxpool, None),
    ("argmax-global.onnx", rc_argmax, None),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import regioncam as R
    identity = oracle.Slice.identity(2, None)
    rows = []
    for name, build, after in CASES:
        path = os.path.join(FIX, name)
        res = oracle.compile_onnx(path).run(identity)
        exact = res["regions"]
        part = "whole network"
        if after is not None:
            exact = next(s["regions"] for s in res["after_each_pwl_node"] if s["node"] == after)
            part = f"up to {after}"
        t0 = time.perf_counter()
        faces = build(R, path).num_faces
        rows.append({"model": name, "part": part, "oracle": exact, "oracle_seconds": round(res["seconds"], 3),
                     "regioncam_faces": faces, "regioncam_seconds": round(time.perf_counter() - t0, 4),
                     "equal": exact == faces})
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'model':20s} {'part':18s} {'oracle':>7s} {'regioncam':>9s}")
        for r in rows:
            print(f"{r['model']:20s} {r['part']:18s} {r['oracle']:7d} {r['regioncam_faces']:9d}"
                  f"{'' if r['equal'] else '   (differs)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
