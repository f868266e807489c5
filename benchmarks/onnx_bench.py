#!/usr/bin/env python3
"""ONNX import of relu-regions: round-trip counts, regioncam side by side, and a CNN target.

    python3 benchmarks/onnx_bench.py [--binary /tmp/rr-bench] [--repeats 3] [--threads N]
                                     [--timeout 600] [--mem-limit 8] [--workdir DIR]
                                     [--skip-cnn] [--json]

Needs numpy, onnx and regioncam (`pip install regioncam`); no torch, no cargo: relu-regions is
the prebuilt binary given by --binary (default /tmp/rr-bench, or $RR_BINARY). Every model and
slice is written to --workdir (default: a fresh temporary directory, kept, its path printed) so
any row can be rerun by hand; the JSON output holds each run's command line.

1. Export round trip (counts only). The benchmark networks mlp-2-32x32x32-s0, mlp-2-64x64x64-s0
   (benchmarks/nets/, written by benchmarks/gen_bench_nets.py when missing) on the identity
   slice [-1,1]², and digits-64-64x3 on benchmarks/nets/digits-plane-a.json, are exported with
   `fixtures/onnx/make_fixtures.py from-json NET.json OUT.onnx --style gemm` and
   `--style matmul --external-data`. Each ONNX count must equal the count of the JSON network
   (`count NET.json`) and the published count where there is one (3 897, 1 719). The JSON files
   hold float32 values written as decimals (checked here), so the float32 export is the same
   network.

2. Against regioncam (float32, `rc.num_faces`), on [-1,1]² (regioncam's `Regioncam(size=1)`,
   our default identity slice for a 2-input model). Three random networks, each drawn by
   `numpy.random.default_rng(seed)` layer by layer, input to output: He-normal float32 weights
   N(0, 2/fan_in) (out × in), then biases N(0, 0.1²); written as ONNX (onnx.helper, opset 17,
   Gemm transB=1) and built in regioncam from the same arrays:
     residual  2 → Gemm 64 → Relu → [Gemm 64 → Relu → Gemm 64, + block input, Relu] × 3 → Gemm 1
               (as fixtures/onnx/residual-mlp.onnx; regioncam: R.Residual(R.Sequential(...)),
               rc.relu()), seed 0
     leaky     2-64-64-64-1, LeakyRelu(0.1) after each hidden Gemm (rc.leaky_relu(0.1)), seed 1
     maxpool   2 → Gemm 64 → Relu → Gemm 64 → Reshape [1,16,2,2] → MaxPool 2×2 → Flatten →
               Gemm 1, seed 2. Window k is units 4k..4k+3 of the second Gemm; in regioncam each
               window is `rc.linear(W[:, 4k:4k+4], b[4k:4k+4], input_layer=<the ReLU layer>)`
               then `rc.max_pool()`, as benchmarks/onnx_regioncam_check.py does for
               maxpool-mlp: every layer refines the one partition, so the faces are the cells of
               all 16 argmaxes at once.
   regioncam is timed as in benchmarks/compare_regioncam.py: time.perf_counter() around the
   construction of the hidden layers only (`Regioncam(size=1)` and the layer calls; the weight
   arrays are prepared beforehand, the output Gemm, which splits nothing, is left out), median
   over --repeats. Ours, alternating with it: a fresh `count` process ("cold": its `seconds`,
   the enumeration; also `total_seconds` and `peak_memory_bytes`) and a `count --repeat 5`
   process ("warm": the median of 5 enumerations in one process), medians over --repeats.
   Ratios are ours ÷ regioncam. Before counting, each ONNX file is evaluated with
   onnx.reference at random points and compared with a numpy forward pass of the same arrays.
   regioncam works in float32; our count is exact and certified, so a disagreement is
   reported, not treated as an error.

3. The CNN target: 1×28×28 → Conv 16 3×3 → Relu → Conv 32 3×3 stride 2 → Relu → Flatten →
   Gemm 128 → Relu → Gemm 10 (no padding: 26×26, then 12×12), He init from default_rng(0)
   in that order (weights then bias per layer), on the plane through three random 28×28 inputs
   (values uniform in [0, 1] from default_rng(1), rounded to float32, written exactly) with box
   [[-0.5, 1.5], [-0.5, 1.5]]. One fresh `count` run: regions, `seconds`, `total_seconds`, peak
   memory; the model, the slice and the command line are printed for a rerun.

Every relu-regions run is killed after --timeout seconds (default 600) and reported as a
timeout. Memory is capped at --mem-limit GiB (default 8): a binary that has `count
--max-memory` gets that flag (a clean stop, complete: false, reported with its lower bound) and
an address-space limit (RLIMIT_AS) of twice that as a backstop; an older binary gets RLIMIT_AS
at --mem-limit, so a run that explodes fails alone ("memory allocation of N bytes failed")
rather than bringing in the kernel's OOM killer on a shared machine. An error exit is reported
with its message (Rust's backtrace left out). The exit status is 1 if a round-trip count
differs or a run failed or timed out (regioncam disagreeing is not a failure).

Timings on the 2-core machines drift (up to 2× between minutes, see benchmarks/README.md), more
so while other jobs run; compare ratios within one run.
"""
import argparse
import json
import os
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIX = os.path.join(ROOT, "fixtures", "onnx")
MAKE_FIXTURES = os.path.join(FIX, "make_fixtures.py")
sys.path.insert(0, FIX)
from make_fixtures import Builder, bias, he, image_points, save, write_json  # noqa: E402
from gen_bench_nets import net_path  # noqa: E402

NETS = os.path.join(HERE, "nets")
# (network, slice file or None for the identity slice, published count or None)
ROUND_TRIP = [
    ("mlp-2-32x32x32-s0", None, 3897),
    ("mlp-2-64x64x64-s0", None, None),
    ("digits-64-64x3", os.path.join(NETS, "digits-plane-a.json"), 1719),
]
WARM = 5  # enumerations per `count --repeat` process
MiB = 2 ** 20


# ----------------------------------------------------------------------------- running rr

def has_max_memory(binary):
    """Whether this build of `count` has --max-memory (a clean stop, complete: false)."""
    p = subprocess.run([binary, "count", "--help"], capture_output=True, text=True)
    return "--max-memory" in p.stdout


def address_space_limit(gib):
    """preexec_fn capping the child's address space (RLIMIT_AS), so that a run that explodes in
    memory fails alone, with Rust's "memory allocation of N bytes failed", instead of waking the
    kernel's OOM killer on a machine shared with other jobs."""
    def apply():
        if gib:
            limit = int(gib * 2 ** 30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def error_text(p):
    """The message of a failed run, without Rust's backtrace."""
    text = (p.stderr.strip() or p.stdout.strip() or "(no output)").split("stack backtrace:")[0]
    text = " ".join(text.split())
    if p.returncode < 0:
        return f"killed by {signal.Signals(-p.returncode).name}: {text}"
    return f"exit {p.returncode}: {text}"


def run_rr(cfg, model, slice_path=None, extra=()):
    """One `count` process. Its JSON, plus "command"; or {"error": ...} / {"timeout": ...}."""
    cmd = [cfg.binary, "count", model]
    if slice_path:
        cmd += ["--subspace", slice_path]
    if cfg.threads:
        cmd += ["--threads", str(cfg.threads)]
    if cfg.mem_limit and cfg.max_memory_flag:
        cmd += ["--max-memory", f"{cfg.mem_limit:g}G"]
    cmd += list(extra) + ["--json", "-q"]
    line = shlex.join(cmd)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=cfg.timeout,
                           preexec_fn=address_space_limit(cfg.address_space_gib))
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child
        return {"command": line, "timeout": cfg.timeout}
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        msg = error_text(p)
        if "memory allocation of" in msg and cfg.address_space_gib:
            msg += f" [address space limited to {cfg.address_space_gib:g} GiB by --mem-limit]"
        return {"command": line, "error": msg, "wall_seconds": wall}
    try:
        out = json.loads(p.stdout)
    except json.JSONDecodeError:
        return {"command": line, "error": f"output is not JSON: {p.stdout[:300]!r}"}
    out["command"] = line
    out["wall_seconds"] = wall
    if out.get("complete") is False:  # --max-memory (or --max-regions) stopped it: a lower bound
        out["error"] = (f"incomplete: stopped by {out.get('stopped_by', '?')} after "
                        f"{out['activation_regions']} regions (a lower bound)")
    return out


def failed(r):
    return "error" in r or "timeout" in r


def failure_text(r):
    return f"timeout after {r['timeout']} s" if "timeout" in r else r["error"]


def count_of(r):
    return "timeout" if "timeout" in r else "error" if "error" in r else r["activation_regions"]


# ----------------------------------------------------------------------------- 1. round trip

def float32_exact(path):
    """True if every weight and bias of a JSON MLP reads back unchanged through float32."""
    with open(path) as f:
        net = json.load(f)
    for layer in net["layers"]:
        for a in (layer["weight"], layer["bias"]):
            v = np.asarray(a, np.float64)
            if not np.array_equal(v.astype(np.float32).astype(np.float64), v):
                return False
    return True


def round_trip(cfg, problems):
    rows = []
    for name, slice_path, published in ROUND_TRIP:
        net = net_path(name)
        ref = run_rr(cfg, net, slice_path)
        if failed(ref):
            problems.append(f"{name} (JSON): {failure_text(ref)}")
        exact32 = float32_exact(net)
        for style, extra in (("gemm", []), ("matmul", ["--external-data"])):
            out = os.path.join(cfg.workdir, f"{name}-{style}.onnx")
            export = [sys.executable, MAKE_FIXTURES, "from-json", net, out, "--style", style] + extra
            p = subprocess.run(export, capture_output=True, text=True)
            if p.returncode != 0:
                r = {"command": shlex.join(export), "error": f"export failed: {p.stderr.strip()}"}
            else:
                r = run_rr(cfg, out, slice_path)
            got, want = count_of(r), count_of(ref)
            ok = not failed(r) and not failed(ref) and got == want and published in (None, got)
            if failed(r):
                problems.append(f"{name} ({style}): {failure_text(r)}")
            elif not ok:
                problems.append(f"{name} ({style}): ONNX count {got}, JSON count {want}, "
                                f"published {published}")
            rows.append({"network": name, "slice": os.path.basename(slice_path or "identity [-1,1]²"),
                         "style": style + (" + external data" if extra else ""),
                         "onnx_regions": got, "json_regions": want, "published": published,
                         "certified": r.get("certified"), "json_float32_exact": exact32,
                         "equal": ok, "export_command": shlex.join(export),
                         "command": r["command"], "json_command": ref["command"]})
    return rows


def print_round_trip(rows):
    print("## 1. Export round trip (JSON network → ONNX → count)\n")
    print("| network | slice | ONNX style | ONNX count | JSON count | published | certified | "
          "JSON values float32 | equal |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['network']} | {r['slice']} | {r['style']} | {r['onnx_regions']} | "
              f"{r['json_regions']} | {r['published'] or '–'} | {r['certified']} | "
              f"{'yes' if r['json_float32_exact'] else 'no'} | "
              f"{'yes' if r['equal'] else '**NO**'} |")
    print()


# ----------------------------------------------------------------------------- 2. regioncam

def dense_layers(rng, widths):
    """He-normal float32 (out × in) weights, then N(0, 0.1²) biases, layer by layer."""
    return [(he(rng, n_out, n_in, n_in), bias(rng, n_out)) for n_in, n_out in zip(widths, widths[1:])]


def t_in_out(w):
    """regioncam's weight layout: in × out, contiguous float32."""
    return np.ascontiguousarray(w.T, dtype=np.float32)


def relu(x):
    return np.maximum(x, 0)


@dataclass
class Net:
    """One network of section 2: its ONNX model, a numpy forward pass of the same float32
    arrays (to check the ONNX file), and `build(regioncam)`, the timed regioncam construction
    of its hidden layers."""
    name: str
    seed: int
    desc: str
    model: object
    forward: Callable
    build: Callable


def residual_net(seed=0, width=64, blocks=3):
    rng = np.random.default_rng(seed)
    w0, b0 = he(rng, width, 2, 2), bias(rng, width)
    inner = [(he(rng, width, width, width), bias(rng, width), he(rng, width, width, width),
              bias(rng, width)) for _ in range(blocks)]
    wo, bo = he(rng, 1, width, width), bias(rng, 1)

    bld = Builder("residual")
    h = bld.node("Relu", [bld.gemm("input", w0, b0)])
    for w1, b1, w2, b2 in inner:
        z = bld.gemm(bld.node("Relu", [bld.gemm(h, w1, b1)]), w2, b2)
        h = bld.node("Relu", [bld.node("Add", [z, h])])
    model = bld.model("input", [1, 2], bld.gemm(h, wo, bo), [1, 1])

    def forward(x):
        h = relu(x @ w0.T + b0)
        for w1, b1, w2, b2 in inner:
            h = relu(relu(h @ w1.T + b1) @ w2.T + b2 + h)
        return h @ wo.T + bo

    w0t = t_in_out(w0)
    blks = [(t_in_out(w1), b1, t_in_out(w2), b2) for w1, b1, w2, b2 in inner]

    def build(R):
        rc = R.Regioncam(size=1)
        rc.linear(w0t, b0)
        rc.relu()
        for w1t, b1, w2t, b2 in blks:
            rc.add(R.Residual(R.Sequential(R.Linear(w1t, b1), R.ReLU(), R.Linear(w2t, b2))))
            rc.relu()
        return rc

    return Net("residual", seed, f"2 → 64 → Relu → [64 → Relu → 64, + skip, Relu] × {blocks} → 1",
               model, forward, build)


def leaky_net(seed=1, widths=(2, 64, 64, 64, 1), alpha=0.1):
    layers = dense_layers(np.random.default_rng(seed), widths)
    bld = Builder("leaky")
    h = "input"
    for k, (w, b) in enumerate(layers):
        h = bld.gemm(h, w, b)
        if k + 1 < len(layers):
            h = bld.node("LeakyRelu", [h], alpha=alpha)
    model = bld.model("input", [1, widths[0]], h, [1, widths[-1]])
    a32 = float(np.float32(alpha))  # ONNX's alpha is a float32 attribute

    def forward(x):
        for k, (w, b) in enumerate(layers):
            x = x @ w.T + b
            if k + 1 < len(layers):
                x = np.where(x > 0, x, a32 * x)
        return x

    hidden = [(t_in_out(w), b) for w, b in layers[:-1]]

    def build(R):
        rc = R.Regioncam(size=1)
        for w, b in hidden:
            rc.linear(w, b)
            rc.leaky_relu(alpha)
        return rc

    return Net("leaky", seed, "2-64-64-64-1, LeakyRelu(0.1)", model, forward, build)


def maxpool_net(seed=2, width=64, window=4):
    rng = np.random.default_rng(seed)
    (w0, b0), (w1, b1) = dense_layers(rng, (2, width, width))
    n_win = width // window
    wo, bo = he(rng, 1, n_win, n_win), bias(rng, 1)

    bld = Builder("maxpool")
    h = bld.node("Relu", [bld.gemm("input", w0, b0)])
    h = bld.gemm(h, w1, b1)
    h = bld.node("Reshape", [h, bld.const("shape", np.array([1, n_win, 2, 2], np.int64))])
    h = bld.node("MaxPool", [h], kernel_shape=[2, 2])
    h = bld.node("Flatten", [h])
    model = bld.model("input", [1, 2], bld.gemm(h, wo, bo), [1, 1])

    def forward(x):
        z = relu(x @ w0.T + b0) @ w1.T + b1
        return z.reshape(len(x), n_win, window).max(axis=2) @ wo.T + bo

    w0t, w1t = t_in_out(w0), t_in_out(w1)
    wins = [(np.ascontiguousarray(w1t[:, k * window:(k + 1) * window]),
             np.ascontiguousarray(b1[k * window:(k + 1) * window])) for k in range(n_win)]

    def build(R):
        rc = R.Regioncam(size=1)
        rc.linear(w0t, b0)
        rc.relu()
        hidden = rc.num_layers - 1
        for w, b in wins:  # one max per 2×2 window, all reading the ReLU layer
            rc.linear(w, b, input_layer=hidden)
            rc.max_pool()
        return rc

    return Net("maxpool", seed, "2 → 64 → Relu → 64 → [1,16,2,2] → MaxPool 2×2 → Flatten → 1",
               model, forward, build)


def onnx_matches(path, forward, n_in, seed=7, points=64):
    """Max |onnx.reference output − numpy forward| over random points of [-1,1]^n_in."""
    from onnx.reference import ReferenceEvaluator
    ev = ReferenceEvaluator(path)
    xs = np.random.default_rng(seed).uniform(-1, 1, (points, n_in)).astype(np.float32)
    err = 0.0
    for x in xs:
        y = ev.run(None, {"input": x[None, :]})[0]
        want = forward(x[None, :].astype(np.float64))
        err = max(err, float(np.max(np.abs(y.reshape(-1) - want.reshape(-1)))))
    return err


def against_regioncam(cfg, problems):
    import regioncam as R
    rows = []
    med = statistics.median
    for net in (residual_net(), leaky_net(), maxpool_net()):
        path = os.path.join(cfg.workdir, f"{net.name}.onnx")
        save(net.model, path)
        err = onnx_matches(path, net.forward, 2)
        if err > 1e-4:
            problems.append(f"{net.name}: the ONNX model differs from the numpy network by {err:g}")
        rc_times, cold, total, warm, peak = [], [], [], [], []
        faces, plain, rep = None, None, None
        for _ in range(cfg.repeats):  # alternate the tools
            t0 = time.perf_counter()
            rc = net.build(R)
            rc_times.append(time.perf_counter() - t0)
            faces = rc.num_faces
            plain = run_rr(cfg, path)
            rep = run_rr(cfg, path, extra=["--repeat", str(WARM)])
            if failed(plain) or failed(rep):
                break
            cold.append(plain["seconds"])
            total.append(plain["total_seconds"])
            peak.append(plain.get("peak_memory_bytes", 0))
            warm.append(rep["seconds"])
        row = {"network": net.name, "description": net.desc, "seed": net.seed, "onnx": path,
               "onnx_vs_numpy_max_abs": err, "regioncam_faces": faces,
               "regioncam_seconds": med(rc_times), "command": plain["command"],
               "warm_command": rep["command"]}
        for r in (plain, rep):
            if failed(r):
                problems.append(f"{net.name}: {failure_text(r)}")
                row["failure"] = failure_text(r)
        if not failed(plain) and not failed(rep):
            ours = plain["activation_regions"]
            row.update({"regions": ours, "certified": plain["certified"], "cells": plain.get("cells"),
                        "exact_fallbacks": plain.get("exact_fallbacks"),
                        "cold_seconds": med(cold), "warm_seconds": med(warm),
                        "total_seconds": med(total), "peak_memory_bytes": max(peak),
                        "ratio_cold": med(cold) / row["regioncam_seconds"],
                        "ratio_warm": med(warm) / row["regioncam_seconds"],
                        "agree": ours == faces})
        rows.append(row)
    return rows


def print_regioncam(rows, cfg):
    print(f"## 2. Against regioncam on [-1,1]² (medians of {cfg.repeats}; ratio = ours ÷ regioncam)\n")
    print("| network | regioncam faces | ours | certified | agree | regioncam (s) | ours cold (s) | "
          f"ours warm, median of {WARM} (s) | ours total (s) | ratio cold | ratio warm | "
          "peak memory (MiB) | max-pool cells | exact fallbacks |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if "failure" in r:
            print(f"| {r['network']} | {r['regioncam_faces']} | {r['failure']} | | | "
                  f"{r['regioncam_seconds']:.4f} | | | | | | | | |")
            continue
        print(f"| {r['network']} | {r['regioncam_faces']} | {r['regions']} | {r['certified']} | "
              f"{'yes' if r['agree'] else '**no**'} | {r['regioncam_seconds']:.4f} | "
              f"{r['cold_seconds']:.4f} | {r['warm_seconds']:.4f} | {r['total_seconds']:.4f} | "
              f"{r['ratio_cold']:.2f} | {r['ratio_warm']:.2f} | "
              f"{r['peak_memory_bytes'] / MiB:.0f} | {r['cells'] if r['cells'] is not None else '–'} | "
              f"{r['exact_fallbacks']} |")
    print()
    for r in rows:
        print(f"- {r['network']}: {r['description']} (seed {r['seed']}); ONNX vs numpy max |Δ| "
              f"{r['onnx_vs_numpy_max_abs']:.1e}")
        if r.get("agree") is False:
            print(f"  counts differ: regioncam {r['regioncam_faces']} faces (float32), ours "
                  f"{r['regions']} (exact, certified {r['certified']})")
    print()


# ----------------------------------------------------------------------------- 3. CNN target

def cnn_model(seed=0):
    rng = np.random.default_rng(seed)
    bld = Builder("cnn-mnist")
    h = bld.node("Conv", ["input", bld.const("W", he(rng, 16, 9, 1, 3, 3)), bld.const("B", bias(rng, 16))],
                 kernel_shape=[3, 3])  # 16 × 26 × 26
    h = bld.node("Relu", [h])
    h = bld.node("Conv", [h, bld.const("W", he(rng, 32, 144, 16, 3, 3)), bld.const("B", bias(rng, 32))],
                 kernel_shape=[3, 3], strides=[2, 2])  # 32 × 12 × 12
    h = bld.node("Relu", [h])
    h = bld.node("Flatten", [h])  # 4608
    h = bld.node("Relu", [bld.gemm(h, he(rng, 128, 4608, 4608), bias(rng, 128))])
    out = bld.gemm(h, he(rng, 10, 128, 128), bias(rng, 10))
    return bld.model("input", [1, 1, 28, 28], out, [1, 10])


def cnn_target(cfg, problems):
    model_path = os.path.join(cfg.workdir, "cnn-mnist.onnx")
    slice_path = os.path.join(cfg.workdir, "cnn-mnist-plane.json")
    save(cnn_model(0), model_path)
    write_json(slice_path, {"through": image_points(np.random.default_rng(1), 3, 28 * 28),
                            "box": [[-0.5, 1.5], [-0.5, 1.5]]})
    r = run_rr(cfg, model_path, slice_path)
    row = {"model": model_path, "slice": slice_path, "command": r["command"],
           "address_space_gib": cfg.address_space_gib}
    if failed(r):
        problems.append(f"CNN: {failure_text(r)}")
        row["failure"] = failure_text(r)
        row["wall_seconds"] = r.get("wall_seconds", r.get("timeout"))
        row["partial_regions"] = r.get("activation_regions")  # set when stopped cleanly
    else:
        row.update({k: r.get(k) for k in ("activation_regions", "certified", "complete", "cells",
                                           "seconds", "total_seconds", "peak_memory_bytes",
                                           "engine", "threads", "neurons", "exact_fallbacks",
                                           "wall_seconds")})
    return row


def print_cnn(row):
    print("## 3. CNN target (1×28×28 → Conv 16 3×3 → Relu → Conv 32 3×3 s2 → Relu → Gemm 128 → "
          "Relu → Gemm 10; plane through 3 random inputs, box [-0.5,1.5]²)\n")
    print("| regions | certified | seconds | total_seconds | peak memory (MiB) | exact fallbacks | "
          "threads |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    if "failure" in row:
        print(f"| {row['failure']} (after {row['wall_seconds']:.0f} s) | | | | | | |")
    else:
        print(f"| {row['activation_regions']} | {row['certified']} | {row['seconds']:.3f} | "
              f"{row['total_seconds']:.3f} | {row['peak_memory_bytes'] / MiB:.0f} | "
              f"{row['exact_fallbacks']} | {row['threads']} |")
    print(f"\nRerun: `{row['command']}`")
    if row.get("address_space_gib"):
        kib = int(row["address_space_gib"] * 2 ** 20)
        print(f"(run here with its address space capped at {row['address_space_gib']:g} GiB, as "
              f"`(ulimit -v {kib}; ...)` does)")
    print()


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.environ.get("RR_BINARY", "/tmp/rr-bench"))
    ap.add_argument("--repeats", type=int, default=3, help="rounds of the regioncam comparison")
    ap.add_argument("--threads", type=int, help="relu-regions --threads (default: all cores)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per relu-regions run")
    ap.add_argument("--mem-limit", type=float, default=8,
                    help="memory per relu-regions run, GiB (0: no limit; default 8)")
    ap.add_argument("--workdir", help="where models and slices go (default: a new temp dir)")
    ap.add_argument("--skip-cnn", action="store_true", help="leave out section 3")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    cfg = ap.parse_args()
    try:
        import regioncam  # noqa: F401
    except ImportError:
        sys.exit("regioncam is missing: pip install regioncam")
    # With a binary that has `count --max-memory`, that flag (at --mem-limit) stops a run
    # cleanly and RLIMIT_AS (at twice that: virtual memory runs ahead of resident memory) is
    # only a backstop; with an older binary, RLIMIT_AS at --mem-limit is the only guard.
    cfg.max_memory_flag = has_max_memory(cfg.binary)
    cfg.address_space_gib = cfg.mem_limit * (2 if cfg.max_memory_flag else 1)
    cfg.workdir = cfg.workdir or tempfile.mkdtemp(prefix="onnx-bench-")
    os.makedirs(cfg.workdir, exist_ok=True)
    problems = []
    result = {"binary": cfg.binary, "workdir": cfg.workdir, "threads": cfg.threads,
              "repeats": cfg.repeats, "mem_limit_gib": cfg.mem_limit,
              "max_memory_flag": cfg.max_memory_flag, "address_space_gib": cfg.address_space_gib,
              "round_trip": round_trip(cfg, problems)}
    if not cfg.json:
        print(f"models and slices in {cfg.workdir}\n")
        print_round_trip(result["round_trip"])
    result["regioncam"] = against_regioncam(cfg, problems)
    if not cfg.json:
        print_regioncam(result["regioncam"], cfg)
    if not cfg.skip_cnn:
        result["cnn"] = cnn_target(cfg, problems)
        if not cfg.json:
            print_cnn(result["cnn"])
    result["problems"] = problems
    if cfg.json:
        print(json.dumps(result, indent=1))
    elif problems:
        print("## Problems\n")
        for p in problems:
            print(f"- {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
