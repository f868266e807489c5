#!/usr/bin/env python3
"""Real torch modules through the Python package, checked against the same models exported to
ONNX (torch's exporter) and, for MLPs, against their (W, b) arrays.

    pip install torch onnx onnxscript ./python
    python3 benchmarks/torch_check.py

Not part of CI (torch is a 3 GB install); the tests use stand-in classes with torch's names.
Each line: model, counts by each route (module, [arrays,] legacy ONNX, [dynamo ONNX]; they
must be equal), certified, seconds of the module's count.
"""

import os
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn

import relu_regions as rr

torch.manual_seed(0)


class Residual(nn.Module):
    """out = post(body(x) + shortcut(x)): the block shape the package recognises."""

    def __init__(self, body, shortcut=None, post=None):
        super().__init__()
        self.body, self.shortcut, self.post = body, shortcut, post

    def forward(self, x):
        y = self.body(x) + (self.shortcut(x) if self.shortcut is not None else x)
        return self.post(y) if self.post is not None else y


def randomise_batchnorm(model):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    return model.eval()


def via_onnx(model, shape, dynamo=False, **kwargs):
    """Exported by torch (legacy TorchScript exporter, or dynamo: MatMul + Add, external data)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.onnx")
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.zeros(1, *shape),), path, dynamo=dynamo,
                              external_data=dynamo)
        return rr.count(path, **kwargs)


def report(name, counts, certified, seconds):
    same = len(set(counts)) == 1
    print(f"{name:<34} {' = '.join(map(str, counts)):<24} certified={certified} "
          f"{seconds:.3f} s {'OK' if same else 'MISMATCH'}")
    return same


def main():
    ok = True
    # An MLP: module, (W, b) arrays (float32, as torch holds them), ONNX.
    mlp = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                        nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1)).eval()
    box = [[-1, 1], [-1, 1]]
    t = time.perf_counter()
    p = rr.count(mlp, box=box)
    secs = time.perf_counter() - t
    arrays = [(m.weight, m.bias) for m in mlp if isinstance(m, nn.Linear)]
    q = rr.count(arrays, box=box)
    o = via_onnx(mlp, (2,), box=box)
    dy = via_onnx(mlp, (2,), dynamo=True, box=box)
    ok &= report("mlp 2-32x32x32 (Linear, ReLU)", [p.regions, q.regions, o.regions, dy.regions],
                 p.certified, secs)

    # LeakyReLU, PReLU, Hardtanh, Dropout in eval.
    act = nn.Sequential(nn.Linear(2, 24), nn.LeakyReLU(0.1), nn.Dropout(0.5), nn.Linear(24, 24),
                        nn.PReLU(24), nn.Linear(24, 16), nn.Hardtanh(), nn.Linear(16, 1)).eval()
    t = time.perf_counter()
    p = rr.count(act, box=box)
    secs = time.perf_counter() - t
    o = via_onnx(act, (2,), box=box)
    ok &= report("leaky/prelu/hardtanh/dropout", [p.regions, o.regions], p.certified, secs)

    # A residual MLP.
    res = nn.Sequential(
        nn.Linear(2, 24), nn.ReLU(),
        Residual(nn.Sequential(nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 24)), post=nn.ReLU()),
        Residual(nn.Sequential(nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 24)), post=nn.ReLU()),
        nn.Linear(24, 1)).eval()
    t = time.perf_counter()
    p = rr.count(res, box=box)
    secs = time.perf_counter() - t
    o = via_onnx(res, (2,), box=box)
    dy = via_onnx(res, (2,), dynamo=True, box=box)
    ok &= report("residual MLP (2 blocks)", [p.regions, o.regions, dy.regions], p.certified, secs)

    # A small CNN with BatchNorm, MaxPool, AvgPool on a plane through three images.
    cnn = randomise_batchnorm(nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 10)))
    images = torch.rand(3, 1, 8, 8)
    through = [x.numpy() for x in images]
    t = time.perf_counter()
    p = rr.count(cnn, through=through, input_shape=(1, 8, 8))
    secs = time.perf_counter() - t
    o = via_onnx(cnn, (1, 8, 8), through=through)
    ok &= report("cnn 1x8x8 conv/bn/maxpool/avgpool", [p.regions, o.regions], p.certified, secs)
    print(f"  architecture: {', '.join(p.architecture)}")
    print(f"  torch {torch.__version__}, numpy {np.__version__}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
