#!/usr/bin/env python3
"""Side-by-side timing of relu-regions and regioncam on the 2-D benchmark networks.

    python3 benchmarks/compare_regioncam.py [--repeats 5] [--nets DIR] [NAME ...]

Installs regioncam with pip if it is missing, builds relu-regions in release mode, then for each
network alternates runs of the two tools (regioncam in this process, relu-regions as a
subprocess) and prints the median enumeration times and their ratio. File loading is excluded on
both sides: regioncam is timed around its layer loop (as in shared/bench/README.md), relu-regions
reports its own enumeration time ("seconds" in its JSON, which excludes reading and parsing).
Also printed: the forward-pass floor ratio and peak memory from relu-regions' JSON.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_NETS = os.path.join(ROOT, "..", "shared", "bench", "nets")
NAMES = ["mlp-2-32x32x32-s0", "mlp-2-64x64x64-s0", "mlp-2-128x128x128-s0", "mlp-2-256x256x256-s0"]


def ensure_regioncam():
    try:
        import regioncam  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "regioncam", "numpy"])


def time_regioncam(net):
    import numpy as np
    import regioncam
    layers = [(np.ascontiguousarray(np.asarray(l["weight"], np.float32).T),
               np.asarray(l["bias"], np.float32)) for l in net["layers"][:-1]]
    t = time.perf_counter()
    rc = regioncam.Regioncam(size=1)
    for w, b in layers:
        rc.linear(w, b)
        rc.relu()
    return rc.num_faces, time.perf_counter() - t


def time_ours(binary, path, floor):
    args = [binary, "count", path, "--json", "-q"] + (["--floor"] if floor else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=NAMES)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--nets", default=DEFAULT_NETS)
    args = ap.parse_args()
    ensure_regioncam()
    subprocess.check_call(["cargo", "build", "--release", "-q"], cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "release", "relu-regions")
    print(f"| network | regions (ours) | regions (regioncam) | ours (s) | regioncam (s) | ratio | floor ratio | peak memory (MiB) |")
    print(f"| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.names:
        path = os.path.join(args.nets, name + ".json")
        net = json.load(open(path))
        ours, theirs, floors, ratios = [], [], [], []
        report = None
        rc_count = None
        for i in range(args.repeats):
            report = time_ours(binary, path, floor=(i == 0))
            if i == 0:
                floors.append(report.get("floor_ratio"))
            ours.append(report["seconds"])
            rc_count, t = time_regioncam(net)
            theirs.append(t)
            ratios.append(ours[-1] / t)
        print(f"| {name} | {report['activation_regions']} | {rc_count} | {statistics.median(ours):.4f} | "
              f"{statistics.median(theirs):.4f} | {statistics.median(ratios):.3f} | {floors[0]:.2f} | "
              f"{report.get('peak_memory_bytes', 0) / 2**20:.0f} |", flush=True)


if __name__ == "__main__":
    main()
