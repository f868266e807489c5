"""The package's other entry points (bounds, sample, compare, verify, init_stats): each checked
against an independent truth (closed forms, the exact count, a tampered file) and against the
CLI's JSON for the same question."""

import json
import os
import subprocess
from math import comb

import numpy as np
import pytest

import relu_regions as rr

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NET = os.path.join(ROOT, "fixtures", "nets", "default-2-16-16-16.json")
BOX = [[-1, 1], [-1, 1]]


def cli(*args):
    binary = os.environ.get("RELU_REGIONS_BIN",
                            os.path.join(ROOT, "target", "release", "relu-regions"))
    if not os.path.exists(binary):
        pytest.skip("no relu-regions binary (set RELU_REGIONS_BIN)")
    out = subprocess.run([binary, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_bounds_match_the_closed_forms_and_the_cli():
    # One hidden layer of n neurons on a plane: Zaslavsky's bound 1 + n + C(n, 2).
    rng = np.random.default_rng(1)
    n = 7
    layers = [(rng.normal(size=(n, 2)), rng.normal(size=n)), (rng.normal(size=(1, n)), np.zeros(1))]
    b = rr.bounds(layers, box=BOX)
    assert int(b["serra_upper"]) == 1 + n + comb(n, 2)
    assert b["widths"] == [n] and b["dim"] == 2
    # With the exact count, beside the CLI's bounds --count --json.
    b = rr.bounds(NET, box=BOX, count=True)
    assert b["activation_regions"] == 786
    assert b == cli("bounds", NET, "--count", "--json", "-q")


def test_sample_estimates_never_exceed_the_exact_count_and_match_the_cli():
    exact = rr.count(NET, box=BOX, linear=False, vertices=False)
    g = rr.sample(NET, box=BOX, grid=40)
    assert g["points"] == 1600 and g["distinct_patterns"] <= exact.regions
    # Every sampled pattern is a true region's: distinct patterns grow towards the count.
    p = rr.sample(NET, box=BOX, points=20000, seed=3)
    assert g["distinct_patterns"] <= p["distinct_patterns"] <= exact.regions
    assert p["seed"] == 3 and p["chao1"] >= p["distinct_patterns"]
    lines = rr.sample(NET, box=BOX, lines=5, seed=1)
    assert lines["method"] == "lines" and lines["segments"] == 5
    expected = cli("sample", NET, "--points", "20000", "--seed", "3", "--json", "-q")
    expected.pop("network")
    assert p == expected
    with pytest.raises(ValueError, match="exactly one"):
        rr.sample(NET, box=BOX, grid=3, points=4)


def test_compare_passes_the_exact_patterns_and_catches_an_impossible_one():
    exact = rr.count(NET, box=BOX, linear=False, vertices=False)
    bits = exact.pattern_bits
    good = rr.compare(NET, {"regions": exact.regions, "patterns": bits[:50]}, box=BOX)
    assert good["passed"] and good["exact_regions"] == 786
    # A pattern no region has: all units off is impossible here (checked against the set).
    seen = {tuple(row) for row in bits.tolist()}
    impossible = [0] * bits.shape[1]
    assert tuple(impossible) not in seen
    bad = rr.compare(NET, {"regions": 1, "patterns": [impossible]}, box=BOX)
    assert not bad["passed"]


def test_lp_polygons_in_2d_are_counter_clockwise_and_tile_the_box():
    def area(v):
        x, y = v[:, 0], v[:, 1]
        return 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)

    p = rr.count(NET, box=BOX, engine="lp", linear=False)
    areas = [area(v) for v in p.vertices]
    assert p.regions == 786 and min(areas) > 0
    assert abs(sum(areas) - 4.0) < 1e-9


def test_verify_accepts_the_regions_file_and_rejects_a_tampered_one(tmp_path):
    path = tmp_path / "regions.json"
    p = rr.count(NET, box=BOX, regions_file=path)
    v = rr.verify(NET, path)
    assert v and v.regions == p.regions == 786
    data = json.loads(path.read_text())
    pattern = data["regions"][5]["pattern"]
    data["regions"][5]["pattern"] = ("1" if pattern[0] == "0" else "0") + pattern[1:]
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    v = rr.verify(NET, tampered)
    assert not v and v.reason
    # Another slice than the file's is refused.
    assert not rr.verify(NET, path, box=[[-1, 1], [-1, 0.5]])
    # In 3-D (the lp engine) the file has facets and exact vertices; the octants are 8 regions
    # and 12 adjacent pairs, one linear region per octant.
    cube = [(np.eye(3), np.zeros(3)), (np.ones((1, 3)), np.zeros(1))]
    octants = tmp_path / "octants.json"
    p = rr.count(cube, box=[[-1, 1]] * 3, regions_file=octants)
    assert (p.regions, len(p.adjacency), p.linear_regions) == (8, 12, 8)
    assert rr.verify(cube, octants)
    data = json.loads(octants.read_text())
    assert all(len(r["vertices"]) == 8 and len(r["facets"]) == 6 for r in data["regions"])
    data["regions"][0]["vertices"].pop()
    octants.write_text(json.dumps(data))
    v = rr.verify(cube, octants)
    assert not v and "incomplete" in v.reason
    # The octants as a mesh: 8 cubes of 6 quadrilaterals.
    mesh = tmp_path / "octants.vtk"
    rr.count(cube, box=[[-1, 1]] * 3, mesh_file=mesh)
    assert "POLYGONS 48 240" in mesh.read_text()
    with pytest.raises(ValueError, match="3-D"):
        rr.count(NET, box=BOX, mesh_file=tmp_path / "flat.ply")
    # Past 4-D the file lists facets and witnesses only: verify cannot certify it.
    five = [(np.eye(5), np.zeros(5)), (np.ones((1, 5)), np.zeros(1))]
    five_file = tmp_path / "five.json"
    p = rr.count(five, plane={"origin": [0] * 5, "basis": np.eye(5).tolist()},
                 regions_file=five_file)
    assert p.regions == 32
    v = rr.verify(five, five_file)
    assert not v and "no exact vertices" in v.reason


def test_init_stats_gives_the_he_prediction_and_the_cli_numbers():
    r = rr.init_stats([2, 16, 16, 16], samples=300, seed=7)
    assert len(r["layers"]) == 4 and r["samples"] == 300
    # He keeps the mean exactly in expectation: the prediction is 1.
    assert r["layers"][3]["pred_mean_m"] == 1.0
    assert r["beta"] == pytest.approx(3 / 16)
    assert r == cli("init-stats", "--widths", "2,16,16,16", "--samples", "300", "--seed", "7",
                    "--json")
    res = rr.init_stats([8, 8, 8, 8], resnet=True, eta="1/l", samples=50)
    assert res["architecture"].startswith("resnet")
    with pytest.raises(ValueError, match="gain"):
        rr.init_stats([2, 16], gain=2.0)
    with pytest.raises(ValueError, match="init"):
        rr.init_stats([2, 16], init="nonsense")
