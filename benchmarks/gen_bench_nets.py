#!/usr/bin/env python3
"""Regenerates the random benchmark networks (mlp-*-s0.json) byte for byte.

    python3 benchmarks/gen_bench_nets.py [--out DIR] [NAME ...]   (needs numpy; DIR: benchmarks/nets)

A name is `mlp-D-N1xN2x...xNL-sSEED`: input dimension D, hidden widths N1..NL, one output, seed
SEED. Without names, every network of NAMES below is written. For each network, one generator
`numpy.random.default_rng(SEED)` draws layer by layer, input to output (the output layer too):
first the weights, `rng.normal(0, sqrt(2 / fan_in), (fan_out, fan_in))` (He normal, PyTorch
layout out × in), then the biases, `rng.normal(0, 0.1, fan_out)`. Every value is rounded to
float32 and written as the shortest decimal that reads back to the same f64 (Python's repr of the
float32 value), so float32 tools and exact tools see the same network. The file is compact JSON
with no trailing newline, `meta` first.

The trained digits network (digits-64-64x3.json) and its plane (digits-plane-a.json) cannot be
regenerated from a seed; they are kept in the repository in benchmarks/nets/ (and in
fixtures/bench/, which the tests read).

Other scripts find a network with `net_path(name)`: benchmarks/nets/NAME.json, written by this
generator if it is missing, else ../shared/bench/nets/NAME.json where that directory exists.
"""
import argparse
import json
import os
import re
import sys

NAMES = [
    "mlp-2-32x32x32-s0",
    "mlp-2-64x64x64-s0",
    "mlp-2-128x128x128-s0",
    "mlp-2-256x256x256-s0",
    "mlp-2-32x32x32x32x32x32-s0",
    "mlp-1-64x64x64x64-s0",
    "mlp-3-16x16x16-s0",
]
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nets")
# An optional copy outside the repository (a sibling checkout's shared data), used only when the
# network is neither in benchmarks/nets nor a name this generator can write.
FALLBACK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench",
                        "nets")


def parse(name):
    """(widths, seed) of a generated network's name, or None for any other name."""
    m = re.fullmatch(r"mlp-(\d+)-(\d+(?:x\d+)*)-s(\d+)", name)
    if not m:
        return None
    widths = [int(m.group(1))] + [int(n) for n in m.group(2).split("x")] + [1]
    return widths, int(m.group(3))


def network(widths, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_out, fan_in)).astype(np.float32)
        b = rng.normal(0.0, 0.1, fan_out).astype(np.float32)
        layers.append({"weight": w.tolist(), "bias": b.tolist()})
    meta = {"widths": widths, "init": "he-normal", "bias_std": 0.1, "seed": seed,
            "rng": "numpy default_rng", "dtype": "float32 values"}
    return {"meta": meta, "layers": layers}


def write(name, out_dir):
    parsed = parse(name)
    if parsed is None:
        sys.exit(f"{name}: expected mlp-D-N1x...xNL-sSEED")
    widths, seed = parsed
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name + ".json")
    with open(path, "w") as f:
        json.dump(network(widths, seed), f, separators=(",", ":"))
    return path


def net_path(name):
    """The file of benchmark network NAME: benchmarks/nets, generated there if missing."""
    path = os.path.join(DEFAULT_OUT, name + ".json")
    if os.path.exists(path):
        return path
    if parse(name) is not None:
        try:
            import numpy  # noqa: F401
        except ImportError:
            pass
        else:
            print(f"writing {path} (benchmarks/gen_bench_nets.py)", file=sys.stderr)
            return write(name, DEFAULT_OUT)
    fallback = os.path.join(FALLBACK, name + ".json")
    if os.path.exists(fallback):
        return fallback
    if parse(name) is None:
        sys.exit(f"{name}: not in {DEFAULT_OUT}, and not a name this generator can write")
    sys.exit(f"{name}: not in {DEFAULT_OUT}; `pip install numpy` and run "
             f"python3 benchmarks/gen_bench_nets.py {name}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=NAMES)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    for name in args.names:
        print(write(name, args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
