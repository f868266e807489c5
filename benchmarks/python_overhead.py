#!/usr/bin/env python3
"""Calling overhead of the Python package against the binary, side by side in one run.

    python3 benchmarks/python_overhead.py [NET.json] [--repeats N] [--binary PATH]

Both sides load the network from its file and count on the box [-1, 1]² with the same work:
enumeration only (`linear=False, vertices=False` / `--no-linear`) and the default with the
adjacency graph and linear regions. The binary's time is its `total_seconds` (inside the
process: reading, restricting, counting, the graph); the Python time is the wall time of
`relu_regions.count(...)` in a warm interpreter, result conversion included. Medians and
minima of N runs, alternating (the minimum is the steadier figure on a busy machine).
Needs the package installed (`pip install ./python`).
"""

import argparse
import json
import os
import statistics
import subprocess
import time

import relu_regions as rr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("net", nargs="?",
                    default=os.path.join(ROOT, "benchmarks", "nets", "mlp-2-64x64x64-s0.json"))
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "relu-regions"))
    args = ap.parse_args()
    box = [[-1, 1], [-1, 1]]
    print(f"network: {os.path.basename(args.net)}, {args.repeats} runs each, medians")
    print(f"{'work':<22} {'binary (s)':>11} {'python (s)':>11} {'overhead':>9}"
          f" {'min binary':>11} {'min python':>11} {'overhead':>9}")
    for label, linear in (("enumeration only", False), ("with linear regions", True)):
        flags = [] if linear else ["--no-linear"]
        cli, py = [], []
        regions = None
        for _ in range(args.repeats):
            out = subprocess.run([args.binary, "count", args.net, "--json", "-q", *flags],
                                 capture_output=True, text=True, check=True)
            v = json.loads(out.stdout)
            cli.append(v["total_seconds"])
            t = time.perf_counter()
            p = rr.count(args.net, box=box, linear=linear, vertices=False)
            py.append(time.perf_counter() - t)
            assert p.regions == v["activation_regions"], (p.regions, v["activation_regions"])
            regions = p.regions
        c, q = statistics.median(cli), statistics.median(py)
        c0, q0 = min(cli), min(py)
        print(f"{label:<22} {c:>11.4f} {q:>11.4f} {100 * (q - c) / c:>8.1f}%"
              f" {c0:>11.4f} {q0:>11.4f} {100 * (q0 - c0) / c0:>8.1f}%   ({regions} regions)")


if __name__ == "__main__":
    main()
