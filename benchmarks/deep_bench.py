#!/usr/bin/env python3
"""Deep and wide networks, side by side with regioncam in one run (issue: deep networks).

    python3 benchmarks/deep_bench.py [--binary PATH] [--repeats N] [--skip-1d]

Writes its networks to a temporary folder (numpy, He-normal float32, seed 0; the same law as
the benchmark networks) and measures, alternating the tools:
  1. a 1-D segment between two Gaussian points through a 784-512×8 network: relu-regions'
     default `count` (with linear regions) and `--no-linear`, regioncam's 1-D mode;
  2. deep narrow 2-D networks 2-32×10 and 2-64×8 on [-1, 1]²: ours against regioncam, and
     µs per region beside the three-layer networks of the same widths;
  3. the graph step: 2-384×3 on [-1, 1]², default `count` against `--no-linear`;
  4. reading a large network file: 2-384×8 (about 22 MB of JSON), `--max-regions 1`.
Times are the processes' `total_seconds` (relu-regions; for the segment also its computing
time, `seconds` + `graph_seconds`, as regioncam's loop starts from arrays in memory) and
regioncam's layer loop; medians.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_net(path, widths, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        w = (rng.normal(size=(b, a)) * np.sqrt(2 / a)).astype(np.float32)
        bias = (rng.normal(size=b) * 0.1).astype(np.float32)
        layers.append({"weight": w.tolist(), "bias": bias.tolist()})
    with open(path, "w") as f:
        json.dump({"layers": layers}, f)
    return layers


def ours(binary, args):
    out = subprocess.run([binary, "count", *args, "--json", "-q"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def feed(rc, layers):
    """The hidden layers into a regioncam object (its layout: W as in × out, float32)."""
    for l in layers[:-1]:
        rc.linear(np.ascontiguousarray(np.asarray(l["weight"], np.float32).T),
                  np.asarray(l["bias"], np.float32))
        rc.relu()
    return rc


def regioncam_2d(layers):
    import regioncam
    t = time.perf_counter()
    rc = feed(regioncam.Regioncam(size=1.0), layers)
    return rc.num_faces, time.perf_counter() - t


def regioncam_1d(layers, points):
    import regioncam
    t = time.perf_counter()
    # size=2 spans exactly the segment between the two points (size=1 is its middle half).
    rc = feed(regioncam.Regioncam1D.through_points(np.asarray(points, np.float32), size=2.0),
              layers)
    return rc.num_edges, time.perf_counter() - t


def median(f, n):
    runs = [f() for _ in range(n)]
    if isinstance(runs[0][1], tuple):
        return runs[0][0], tuple(statistics.median(r[1][i] for r in runs)
                                 for i in range(len(runs[0][1])))
    return runs[len(runs) // 2][0], statistics.median(r[1] for r in runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "relu-regions"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-1d", action="store_true")
    args = ap.parse_args()
    n = args.repeats
    with tempfile.TemporaryDirectory() as d:
        p = lambda name: os.path.join(d, name)  # noqa: E731
        if not args.skip_1d:
            layers = write_net(p("deep.json"), [784] + [512] * 8 + [10])
            rng = np.random.default_rng(1)
            pts = rng.normal(size=(2, 784)).astype(np.float32).tolist()
            with open(p("seg.json"), "w") as f:
                json.dump({"through": pts, "box": [[0, 1]]}, f)
            base = [p("deep.json"), "--subspace", p("seg.json")]
            # Compute time (enumeration and graph; regioncam's loop also starts from arrays in
            # memory) and time in all (reading the 49 MB network included).
            full = median(lambda: (lambda v: (v["activation_regions"],
                                              (v["seconds"] + v.get("graph_seconds", 0.0),
                                               v["total_seconds"])))(ours(args.binary, base)), n)
            enum = median(lambda: (lambda v: (v["activation_regions"], v["seconds"]))(
                ours(args.binary, base + ["--no-linear"])), n)
            rc = median(lambda: regioncam_1d(layers, pts), n)
            print("1-D segment, 784-512x8 (the same segment for both tools)")
            print(f"  ours default: {full[0]} regions, {full[1][0]:.3f} s computing"
                  f" ({full[1][1]:.3f} s in all, reading included); --no-linear {enum[1]:.3f} s"
                  f" enumeration; regioncam 1-D: {rc[0]} regions {rc[1]:.3f} s;"
                  f" ratio default/regioncam {full[1][0] / rc[1]:.2f} computing,"
                  f" {full[1][1] / rc[1]:.2f} in all")
        print("deep narrow 2-D networks on [-1, 1]^2")
        for name, widths in (("2-32x10", [2] + [32] * 10 + [1]), ("2-32x3", [2] + [32] * 3 + [1]),
                             ("2-64x8", [2] + [64] * 8 + [1]), ("2-64x3", [2] + [64] * 3 + [1])):
            layers = write_net(p(name + ".json"), widths)
            o = median(lambda: (lambda v: (v["activation_regions"], v["seconds"]))(
                ours(args.binary, [p(name + ".json"), "--no-linear"])), n)
            rc = median(lambda: regioncam_2d(layers), n)
            print(f"  {name}: ours {o[0]} regions {o[1]:.4f} s ({1e6 * o[1] / o[0]:.2f} µs/region),"
                  f" regioncam {rc[0]} regions {rc[1]:.4f} s, ratio {o[1] / rc[1]:.2f}")
        write_net(p("w384x3.json"), [2, 384, 384, 384, 1])
        full = median(lambda: (lambda v: (v["activation_regions"], v["total_seconds"]))(
            ours(args.binary, [p("w384x3.json")])), n)
        enum = median(lambda: (lambda v: (v["activation_regions"], v["total_seconds"]))(
            ours(args.binary, [p("w384x3.json"), "--no-linear"])), n)
        print(f"graph step, 2-384x3: default {full[1]:.3f} s, --no-linear {enum[1]:.3f} s,"
              f" ratio {full[1] / enum[1]:.2f} ({full[0]} regions)")
        write_net(p("w384x8.json"), [2] + [384] * 8 + [1])
        size = os.path.getsize(p("w384x8.json")) / 1e6
        read = median(lambda: (0, ours(args.binary, [p("w384x8.json"), "--max-regions", "1",
                                                      "--no-linear"])["total_seconds"]), n)
        print(f"reading 2-384x8 ({size:.1f} MB): {read[1]:.3f} s in all (to the first region)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
