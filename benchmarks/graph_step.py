#!/usr/bin/env python3
"""What the adjacency graph and linear regions cost on top of a plain count, in 3-D and 4-D.

    python3 benchmarks/graph_step.py [--binary PATH] [--repeats N]

Writes its networks to a temporary folder (He-normal float32, seed 0, as deep_bench.py) and,
alternating the two runs in fresh processes, times the default `count` (with the graph and
linear regions; `seconds` + `graph_seconds`) against `count --no-linear` (`seconds`) on
[-1, 1]^d. Prints medians, the ratio and both runs' peak memory.
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deep_bench import ROOT, ours, write_net  # noqa: E402

NETS = (("3-16x3", [3, 16, 16, 16, 1]), ("3-32x3", [3, 32, 32, 32, 1]),
        ("3-16x5", [3] + [16] * 5 + [1]), ("4-12x3", [4, 12, 12, 12, 1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "relu-regions"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        print("network   regions  default s  plain s  ratio  peak MiB default / plain")
        for name, widths in NETS:
            path = os.path.join(d, name + ".json")
            write_net(path, widths)
            full, plain = [], []
            for _ in range(args.repeats):
                v = ours(args.binary, [path])
                full.append((v["seconds"] + v["graph_seconds"], v["peak_memory_bytes"]))
                w = ours(args.binary, [path, "--no-linear"])
                plain.append((w["seconds"], w["peak_memory_bytes"]))
                assert v["activation_regions"] == w["activation_regions"]
            f = statistics.median(t for t, _ in full)
            p = statistics.median(t for t, _ in plain)
            print(f"{name:8} {v['activation_regions']:8} {f:10.3f} {p:8.3f} {f / p:6.2f}"
                  f"  {max(m for _, m in full) / 2**20:.0f} / {max(m for _, m in plain) / 2**20:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
