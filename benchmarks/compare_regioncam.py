#!/usr/bin/env python3
"""Side-by-side timing of relu-regions and regioncam on the 2-D benchmark networks.

    python3 benchmarks/compare_regioncam.py [--repeats 5] [--nets DIR] [NAME ...]
    python3 benchmarks/compare_regioncam.py --scaling NAME [--sizes 0.0625,0.125,0.25,0.5,1]

Installs regioncam with pip if it is missing, builds relu-regions in release mode, then for each
network alternates runs of the two tools (regioncam in this process, relu-regions as a
subprocess) and prints the median enumeration times and their ratio. File loading is excluded on
both sides: regioncam is timed around its layer loop (as in shared/bench/README.md), relu-regions
reports its own enumeration time ("seconds" in its JSON, which excludes reading and parsing).
Also printed: time per region, the forward-pass floor ratio (median enumeration time ÷ median
floor time, both from relu-regions' JSON) and peak memory.

--scaling runs one network on growing boxes [-s, s]² (regioncam's `size`), so the number of
regions grows while the network, and so the arithmetic per vertex, stays the same: time per
region against the number of regions, for both tools.
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


def time_regioncam(net, size=1.0):
    import numpy as np
    import regioncam
    layers = [(np.ascontiguousarray(np.asarray(l["weight"], np.float32).T),
               np.asarray(l["bias"], np.float32)) for l in net["layers"][:-1]]
    t = time.perf_counter()
    rc = regioncam.Regioncam(size=size)
    for w, b in layers:
        rc.linear(w, b)
        rc.relu()
    return rc.num_faces, time.perf_counter() - t


def time_ours(binary, path, size=None):
    args = [binary, "count", path, "--json", "-q", "--floor"]
    if size is not None:
        args.append(f"--box=-{size}:{size},-{size}:{size}")
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=NAMES)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--nets", default=DEFAULT_NETS)
    ap.add_argument("--scaling", metavar="NAME", help="one network on growing boxes")
    ap.add_argument("--sizes", default="0.0625,0.125,0.25,0.5,1")
    args = ap.parse_args()
    ensure_regioncam()
    subprocess.check_call(["cargo", "build", "--release", "-q"], cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "release", "relu-regions")
    if args.scaling:
        scaling(binary, args)
        return
    print("| network | regions (ours) | regions (regioncam) | ours (s) | regioncam (s) | ratio | "
          "ours µs/region | regioncam µs/region | floor ratio | peak memory (MiB) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.names:
        path = os.path.join(args.nets, name + ".json")
        net = json.load(open(path))
        ours, theirs, floors, ratios, peaks = [], [], [], [], []
        report = None
        rc_count = None
        for _ in range(args.repeats):
            report = time_ours(binary, path)
            ours.append(report["seconds"])
            floors.append(report["floor_seconds"])
            peaks.append(report.get("peak_memory_bytes", 0))
            rc_count, t = time_regioncam(net)
            theirs.append(t)
            ratios.append(ours[-1] / t)
        regions = report["activation_regions"]
        o, r = statistics.median(ours), statistics.median(theirs)
        print(f"| {name} | {regions} | {rc_count} | {o:.4f} | {r:.4f} | "
              f"{statistics.median(ratios):.3f} | {o / regions * 1e6:.2f} | "
              f"{r / rc_count * 1e6:.2f} | {o / statistics.median(floors):.2f} | "
              f"{max(peaks) / 2**20:.0f} |", flush=True)


def scaling(binary, args):
    path = os.path.join(args.nets, args.scaling + ".json")
    net = json.load(open(path))
    print(f"{args.scaling} on [-s, s]²:")
    print("| s | regions (ours) | regions (regioncam) | ours (s) | regioncam (s) | "
          "ours µs/region | regioncam µs/region | floor ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in args.sizes.split(","):
        ours, theirs, floors = [], [], []
        for _ in range(args.repeats):
            report = time_ours(binary, path, size)
            ours.append(report["seconds"])
            floors.append(report["floor_seconds"])
            rc_count, t = time_regioncam(net, float(size))
            theirs.append(t)
        regions = report["activation_regions"]
        o, r = statistics.median(ours), statistics.median(theirs)
        print(f"| {size} | {regions} | {rc_count} | {o:.4f} | {r:.4f} | {o / regions * 1e6:.2f} | "
              f"{r / rc_count * 1e6:.2f} | {o / statistics.median(floors):.2f} |", flush=True)


if __name__ == "__main__":
    main()
