#!/usr/bin/env python3
"""Side-by-side timing of relu-regions and regioncam on the 2-D benchmark networks.

    python3 benchmarks/compare_regioncam.py [--repeats 5] [--nets DIR] [NAME ...]
    python3 benchmarks/compare_regioncam.py --scaling NAME [--sizes 0.0625,0.125,0.25,0.5,1]

Installs regioncam with pip if it is missing, builds relu-regions in release mode, then for each
network alternates runs of the two tools (regioncam in this process, relu-regions as a
subprocess) and prints the median enumeration times and their ratio. File loading is excluded on
both sides: regioncam is timed around its layer loop (`Regioncam(size)`, then `linear` and `relu`
per hidden layer, as in benchmarks/README.md), relu-regions reports its own enumeration time
("seconds" in its JSON, which excludes reading and parsing).
Each relu-regions process runs the enumeration --warm times (default 5): "cold" is its first run
(a fresh process: every page faulted in, caches cold), "warm" the median of its runs (as
criterion measures, and as regioncam runs here, again and again in one Python process). Both are
reported, each a median over --repeats processes. Also printed: time per region, the
forward-pass floor ratio (enumeration time ÷ floor time; the floor is one f64 forward pass at all
final vertices, timed warm in the same process) and the peak memory of one plain `count` run
(enumeration, adjacency graph and linear regions, as a user runs it).

Networks are read from benchmarks/nets (written there by benchmarks/gen_bench_nets.py when
missing; ../shared/bench/nets is used only if numpy is missing and that directory exists), or from
--nets DIR.

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

from gen_bench_nets import net_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


def time_ours(binary, path, size=None, warm=1, timing=True):
    args = [binary, "count", path, "--json", "-q"]
    if timing:
        args += ["--floor", f"--repeat={warm}"]
    if size is not None:
        args.append(f"--box=-{size}:{size},-{size}:{size}")
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=NAMES)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--nets", help="directory of the networks (default: benchmarks/nets)")
    ap.add_argument("--scaling", metavar="NAME", help="one network on growing boxes")
    ap.add_argument("--sizes", default="0.0625,0.125,0.25,0.5,1")
    ap.add_argument("--warm", type=int, default=5, help="enumerations per relu-regions process")
    args = ap.parse_args()
    ensure_regioncam()
    subprocess.check_call(["cargo", "build", "--release", "-q"], cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "release", "relu-regions")
    if args.scaling:
        scaling(binary, args)
        return
    print("| network | regions (ours) | regions (regioncam) | ours cold (s) | ours warm (s) | "
          "regioncam (s) | ratio cold | ratio warm | ours µs/region (cold) | regioncam µs/region | "
          "floor ratio cold | floor ratio warm | peak memory, one count (MiB) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.names:
        path = network_file(args, name)
        net = json.load(open(path))
        runs = measure(binary, path, net, args, None)
        regions, rc_count = runs["regions"], runs["rc_count"]
        cold, warm, theirs = runs["cold"], runs["warm"], runs["theirs"]
        print(f"| {name} | {regions} | {rc_count} | {cold:.4f} | {warm:.4f} | {theirs:.4f} | "
              f"{cold / theirs:.3f} | {warm / theirs:.3f} | {cold / regions * 1e6:.2f} | "
              f"{theirs / rc_count * 1e6:.2f} | {cold / runs['floor']:.2f} | "
              f"{warm / runs['floor']:.2f} | {runs['peak'] / 2**20:.0f} |", flush=True)


def network_file(args, name):
    if args.nets:
        return os.path.join(args.nets, name + ".json")
    return net_path(name)


def measure(binary, path, net, args, size):
    """Alternating runs of both tools; medians over the repeats."""
    cold, warm, floors, theirs = [], [], [], []
    report, rc_count = None, None
    for _ in range(args.repeats):
        report = time_ours(binary, path, size, args.warm)
        warm.append(report["seconds"])
        cold.append(report.get("seconds_first", report["seconds"]))
        floors.append(report["floor_seconds"])
        rc_count, t = time_regioncam(net, float(size or 1))
        theirs.append(t)
    # Peak memory of one plain `count` run (regions, graph and linear regions; no floor pass,
    # whose output array is not the engine's, and no repeats).
    peak = time_ours(binary, path, size, timing=False).get("peak_memory_bytes", 0)
    med = statistics.median
    return {"regions": report["activation_regions"], "rc_count": rc_count, "cold": med(cold),
            "warm": med(warm), "floor": med(floors), "theirs": med(theirs), "peak": peak}


def scaling(binary, args):
    path = network_file(args, args.scaling)
    net = json.load(open(path))
    print(f"{args.scaling} on [-s, s]²:")
    print("| s | regions (ours) | regions (regioncam) | ours cold (s) | ours warm (s) | regioncam (s) | "
          "ours µs/region (cold) | ours µs/region (warm) | regioncam µs/region |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in args.sizes.split(","):
        runs = measure(binary, path, net, args, size)
        regions, rc_count = runs["regions"], runs["rc_count"]
        print(f"| {size} | {regions} | {rc_count} | {runs['cold']:.4f} | {runs['warm']:.4f} | "
              f"{runs['theirs']:.4f} | {runs['cold'] / regions * 1e6:.2f} | "
              f"{runs['warm'] / regions * 1e6:.2f} | {runs['theirs'] / rc_count * 1e6:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
