"""Side-by-side timing of the lp engine and affinitree on a 3-D benchmark network.

Usage: python3 benchmarks/lp_vs_affinitree.py NET.json [relu-regions binary] [repeats]
e.g. NET.json = benchmarks/nets/mlp-3-16x16x16-s0.json (python3 benchmarks/gen_bench_nets.py
writes it; needs numpy). affinitree: `pip install affinitree`.
Runs affinitree (hidden layers only, on [-1,1]^d) and `relu-regions count --engine lp --json`
alternately in one process, and prints both counts and times: ours as the count alone
(`--no-linear`, what affinitree computes) and with the adjacency graph and linear regions.
"""
import json, subprocess, sys, time, warnings
import numpy as np

warnings.filterwarnings("ignore")
import affinitree
from affinitree import AffFunc, AffTree, Architecture, Polytope, builder

net_path = sys.argv[1]
binary = sys.argv[2] if len(sys.argv) > 2 else "target/release/relu-regions"
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
net = json.load(open(net_path))
dim = len(net["layers"][0]["weight"][0])


def run_affinitree():
    arch = Architecture(dim)
    for layer in net["layers"][:-1]:
        w = np.asarray(layer["weight"], np.float64)
        b = np.asarray(layer["bias"], np.float64)
        arch.linear(AffFunc.from_mats(w, b))
        arch.relu()
    pre = AffTree.from_poly(Polytope.hyperrectangle(dim, [(-1.0, 1.0)] * dim), AffFunc.identity(dim))
    t = time.perf_counter()
    tree = builder.from_layers(arch, pre)
    return tree.num_terminals(), time.perf_counter() - t


def run_ours(*extra):
    t = time.perf_counter()
    proc = subprocess.run([binary, "count", net_path, "--engine", "lp", "--json", *extra],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{binary} count --engine lp failed: {proc.stderr.strip()}")
    out = proc.stdout
    wall = time.perf_counter() - t
    j = json.loads(out)
    return j["activation_regions"], j.get("seconds", wall), wall, j.get("lp_solves")


for k in range(repeats):
    n_a, t_a = run_affinitree()
    n_o, t_o, wall, lps = run_ours("--no-linear")
    n_g, t_g, _, _ = run_ours()
    print(f"run {k}: affinitree {n_a} terminals in {t_a:.2f} s | relu-regions lp {n_o} regions "
          f"in {t_o:.3f} s (process {wall:.3f} s, {lps} LPs), ratio {t_o / t_a:.3f} | "
          f"with graph and linear regions {t_g:.3f} s, ratio {t_g / t_a:.3f}")
