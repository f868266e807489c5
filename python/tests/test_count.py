"""Tests of the Python package: the same certified counts as the CLI and the Rust tests, from
JSON paths, (W, b) arrays in float32 and float64, ONNX files, and stand-in torch modules (classes
with torch's names and attributes; torch itself is not needed)."""

import json
import os
import pickle
import subprocess

import numpy as np
import pytest

import relu_regions as rr

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NET = os.path.join(ROOT, "fixtures", "nets", "default-2-16-16-16.json")
ONNX = os.path.join(ROOT, "fixtures", "onnx")


def layers_of(path):
    net = json.load(open(path))
    return [(np.array(l["weight"]), np.array(l["bias"])) for l in net["layers"]]


def test_json_path_and_arrays_give_the_certified_count():
    p = rr.count(NET, box=[[-1, 1], [-1, 1]])
    assert (p.regions, p.certified, p.complete) == (786, True, True)
    assert p.per_layer == [123, 457, 786]
    assert p.linear_regions == 786
    assert len(p.patterns) == 786 and len(p.patterns[0]) == 48
    assert p.adjacency.shape[1] == 2 and p.adjacency.shape[0] == 1520
    assert all(v.shape[1] == 2 for v in p.vertices)
    # (W, b) arrays, float64 and float32 (the JSON values are float32 values written as
    # decimals, so float32 arrays hold the same network).
    for dtype in (np.float64, np.float32):
        q = rr.count([(w.astype(dtype), b.astype(dtype)) for w, b in layers_of(NET)],
                     box=[[-1, 1], [-1, 1]])
        assert q.regions == 786 and q.certified


class Param:
    """A stand-in for a torch tensor: what the conversion reads of it."""

    def __init__(self, a):
        self.a = np.asarray(a, dtype=np.float32)

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.a


class Linear:
    def __init__(self, w, b):
        self.weight, self.bias = Param(w), Param(b)


class ReLU:
    pass


class LeakyReLU:
    def __init__(self, s):
        self.negative_slope = s


class Sequential(list):
    pass


class Block:
    """A residual block: body(x) + x."""

    def __init__(self, body):
        self.body = body
        self.shortcut = None


def test_torch_like_modules_are_converted_by_class_name():
    ls = layers_of(NET)
    seq = Sequential([Linear(*ls[0]), ReLU(), Linear(*ls[1]), ReLU(), Linear(*ls[2]), ReLU(),
                      Linear(*ls[3])])
    p = rr.count(seq, box=[[-1, 1], [-1, 1]])
    assert p.regions == 786 and p.certified
    # LeakyReLU with slope 0 is ReLU.
    seq = Sequential([Linear(*ls[0]), LeakyReLU(0.0), Linear(*ls[1]), LeakyReLU(0.0),
                      Linear(*ls[2]), LeakyReLU(0.0), Linear(*ls[3])])
    assert rr.count(seq, box=[[-1, 1], [-1, 1]]).regions == 786
    # A residual block whose body is zero adds no boundary.
    zero = Linear(np.zeros((2, 2)), np.zeros(2))
    res = Sequential([Block(Sequential([zero, ReLU(), zero])), ReLU(),
                      Linear(np.ones((1, 2)), np.zeros(1))])
    assert rr.count(res, box=[[-1, 1], [-1, 1]], input_shape=[2]).regions == 4


def test_onnx_models_match_the_oracle():
    expected = json.load(open(os.path.join(ONNX, "expected.json")))
    for case in expected["cases"][:9]:
        s = json.load(open(os.path.join(ONNX, case["slice"])))
        plane = {"origin": s["origin"], "basis": s["basis"]} if "origin" in s else None
        through = s.get("through")
        p = rr.count(os.path.join(ONNX, case["model"]), plane=plane, through=through,
                     box=s.get("box"))
        assert p.regions == case["regions"], case
        assert p.certified


def test_same_numbers_as_the_cli():
    binary = os.environ.get("RELU_REGIONS_BIN", os.path.join(ROOT, "target", "release", "relu-regions"))
    if not os.path.exists(binary):
        pytest.skip("no relu-regions binary (set RELU_REGIONS_BIN)")
    out = subprocess.run([binary, "count", NET, "--json", "-q"], capture_output=True, text=True)
    cli = json.loads(out.stdout)
    p = rr.count(NET, box=[[-1, 1], [-1, 1]])
    assert (p.regions, p.linear_regions, p.per_layer) == (
        cli["activation_regions"], cli["linear_regions"], cli["per_layer"])


def test_results_are_plain_data():
    p = rr.count(NET, box=[[-1, 1], [-1, 1]], max_regions=200)
    assert not p.complete and p.linear_regions is None
    q = pickle.loads(pickle.dumps(p))
    assert q.regions == p.regions and q.patterns == p.patterns
    assert json.loads(p.to_json())["regions"] == p.regions


def test_bad_input_raises_value_error_with_the_cli_message():
    with pytest.raises(ValueError, match="layers\\[1\\]"):
        rr.count([(np.ones((3, 2)), np.zeros(3)), (np.ones((1, 4)), np.zeros(1))],
                 box=[[-1, 1], [-1, 1]])
    with pytest.raises(ValueError, match="Sigmoid"):
        rr.count(os.path.join(ONNX, "bad-unsupported-op.onnx"), box=[[-1, 1], [-1, 1]])
    with pytest.raises(ValueError, match="not a module"):
        rr.count(object(), box=[[-1, 1]])


# The reference counts of the benchmark networks (independent exact programs or agreeing float
# tools; ../shared/bench/README.md), for the networks present: the repository's copies in
# benchmarks/nets, and every one in ../shared/bench/nets when that directory exists.
BENCH_REFERENCE = {
    "mlp-2-32x32x32-s0.json": 3897, "mlp-2-64x64x64-s0.json": 14353,
    "mlp-2-128x128x128-s0.json": 56887, "mlp-2-256x256x256-s0.json": 262431,
    "mlp-2-32x32x32x32x32x32-s0.json": 17800, "mlp-1-64x64x64x64-s0.json": 242,
    "mlp-3-16x16x16-s0.json": 15619, "digits-64-64x3.json": 1719,
}


def bench_networks():
    found = {}
    for d in (os.path.join(ROOT, "benchmarks", "nets"),
              os.path.join(ROOT, "..", "shared", "bench", "nets")):
        for name in BENCH_REFERENCE:
            if os.path.exists(os.path.join(d, name)):
                found[name] = d
    return sorted(found.items())


@pytest.mark.parametrize("name,folder", bench_networks())
def test_benchmark_networks_give_the_reference_and_cli_counts(name, folder):
    path = os.path.join(folder, name)
    kwargs, args = {}, [path]
    if name.startswith("digits"):
        plane = json.load(open(os.path.join(folder, "digits-plane-a.json")))
        kwargs = dict(through=plane["through"], box=plane["box"])
        args += ["--subspace", os.path.join(folder, "digits-plane-a.json")]
    else:
        dim = int(name.split("-")[1])
        kwargs = dict(box=[[-1, 1]] * dim)
    p = rr.count(path, linear=False, vertices=False, **kwargs)
    assert p.certified and p.complete
    assert p.regions == BENCH_REFERENCE[name]
    binary = os.environ.get("RELU_REGIONS_BIN", os.path.join(ROOT, "target", "release", "relu-regions"))
    if os.path.exists(binary):
        out = subprocess.run([binary, "count", *args, "--json", "-q", "--no-linear"],
                             capture_output=True, text=True, check=True)
        cli = json.loads(out.stdout)
        assert (p.regions, p.per_layer) == (cli["activation_regions"], cli["per_layer"])
