"""relu_regions: exact, certified activation regions of piecewise-linear networks on slices.

    import relu_regions
    p = relu_regions.count(model, through=[x1, x2, x3])     # a plane through three inputs
    p.regions, p.certified, p.linear_regions, p.patterns, p.vertices, p.adjacency
    relu_regions.bounds(model, through=[x1, x2, x3], count=True)   # worst-case bounds, ratios
    relu_regions.sample(model, through=[...], points=10000)       # a sampled estimate
    relu_regions.compare(model, estimate, through=[...])           # check another tool's estimate
    relu_regions.verify(model, "regions.json")   # re-check a regions file (count(regions_file=))
    relu_regions.init_stats([2, 16, 16, 16], samples=2000)         # Hanin–Rolnick at init

`model` is a torch ``nn.Module`` (converted by class name; torch itself is never imported
here), a list of ``(W, b)`` numpy arrays (``W`` out × in, float32 or float64), a path to an
ONNX model or to a relu-regions JSON network file. Every count is exact: float32 weights are
the binary rationals they are. Bad input raises ``ValueError`` with the CLI's message. Results
are plain data (picklable), so they travel through multiprocessing, Dask or Ray.
"""

import json
import os
from dataclasses import dataclass, field
from typing import Any, List, Optional

import numpy as np

from . import _core

__version__ = _core.__version__
__all__ = ["count", "bounds", "sample", "compare", "verify", "init_stats", "Partition",
           "Verdict", "to_network_json"]


@dataclass
class Partition:
    """The activation regions of a network on a slice (plain data; picklable)."""

    regions: int
    """Activation regions (maximal sets on which every unit is in one piece)."""
    certified: bool
    complete: bool
    """False when `max_regions` stopped the run (then `regions` is a lower bound)."""
    cells: int
    """Cells of the lowered network (more than `regions` only with max pooling)."""
    per_layer: List[int]
    linear_regions: Optional[int]
    dim: int
    units: int
    engine: str
    seconds: float
    architecture: List[str]
    pattern_words: np.ndarray = field(repr=False)
    """Per cell, its pattern as 64-bit words over every hidden row (see `pattern_bits`)."""
    unit_rows: np.ndarray = field(repr=False)
    """The row of each unit (rows that only pass values through are left out)."""
    vertices: List[np.ndarray] = field(repr=False)
    """Per cell, its vertices (k × dim, float64; counter-clockwise in 2-D from the planar
    engine, lexicographic from the lp engine, computed up to 4-D)."""
    adjacency: np.ndarray = field(repr=False)
    """Pairs of cells sharing a (dim − 1)-dimensional piece (E × 2, int64)."""

    @property
    def pattern_bits(self) -> np.ndarray:
        """Cells × units array of 0/1 (1 = the unit's pre-activation is > 0)."""
        rows = self.unit_rows.astype(np.int64)
        words = self.pattern_words[:, rows // 64]
        return ((words >> (rows % 64).astype(np.uint64)) & np.uint64(1)).astype(np.uint8)

    @property
    def patterns(self) -> List[str]:
        """One '0'/'1' string per cell, one character per unit, layer by layer."""
        return ["".join("1" if b else "0" for b in row) for row in self.pattern_bits]

    def to_json(self) -> str:
        skip = ("vertices", "adjacency", "pattern_words", "unit_rows")
        d = {k: v for k, v in self.__dict__.items() if k not in skip}
        d["patterns"] = self.patterns
        d["vertices"] = [v.tolist() for v in self.vertices]
        d["adjacency"] = self.adjacency.tolist()
        return json.dumps(d)

    def to_networkx(self):
        """The adjacency graph as a networkx Graph (needs networkx)."""
        import networkx as nx

        g = nx.Graph()
        for i, p in enumerate(self.patterns):
            g.add_node(i, pattern=p)
        g.add_edges_from(map(tuple, self.adjacency.tolist()))
        return g

    def plot(self, ax=None, **kwargs):
        """Draws the cells of a 2-D partition with matplotlib (needs matplotlib)."""
        import matplotlib.pyplot as plt
        from matplotlib.collections import PolyCollection

        if self.dim != 2:
            raise ValueError("plot draws 2-D partitions")
        if ax is None:
            _, ax = plt.subplots()
        rng = np.random.default_rng(0)
        colours = rng.random((len(self.vertices), 3)) * 0.6 + 0.35
        ax.add_collection(PolyCollection(self.vertices, facecolors=colours,
                                         edgecolors="black", linewidths=0.2, **kwargs))
        ax.autoscale()
        ax.set_aspect("equal")
        return ax


def _floats(a) -> list:
    """Exact float64 values of an array (float32 entries widen exactly)."""
    return np.asarray(a, dtype=np.float64).tolist()


def _values(a) -> list:
    """A slice's numbers: floats exactly, exact rational strings ("1/3") kept as they are."""
    if isinstance(a, str):
        return a
    if isinstance(a, (int, float, np.number)):
        return float(a)
    if isinstance(a, (list, tuple)) and any(isinstance(x, (str, list, tuple)) for x in a):
        return [_values(x) for x in a]
    return _floats(np.ravel(_numpy(a)))


def _numpy(t) -> np.ndarray:
    """A torch tensor or array as numpy, without importing torch."""
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.asarray(t)


def _pair(x, n=2):
    return list(x) if isinstance(x, (tuple, list)) else [x] * n


def _layers_of(module) -> list:
    """Version-2 layers of a torch module, by class name."""
    name = type(module).__name__
    if name in ("Sequential", "ModuleList"):
        out = []
        for child in module:
            out.extend(_layers_of(child))
        return out
    if name == "Linear":
        bias = module.bias
        return [{"type": "linear", "weight": _floats(_numpy(module.weight)),
                 "bias": _floats(_numpy(bias)) if bias is not None else None}]
    if name in ("Conv1d", "Conv2d"):
        axes = 1 if name == "Conv1d" else 2
        pad = module.padding
        if isinstance(pad, str):
            raise ValueError(f"{name}: padding='{pad}' is not supported; give sizes")
        return [{"type": name.lower(), "weight": _floats(_numpy(module.weight)),
                 "bias": _floats(_numpy(module.bias)) if module.bias is not None else None,
                 "stride": _pair(module.stride, axes), "padding": _pair(pad, axes),
                 "dilation": _pair(module.dilation, axes), "groups": int(module.groups)}]
    if name in ("BatchNorm1d", "BatchNorm2d"):
        return [{"type": "batchnorm",
                 "weight": _floats(_numpy(module.weight)) if module.weight is not None
                 else [1.0] * int(module.num_features),
                 "bias": _floats(_numpy(module.bias)) if module.bias is not None
                 else [0.0] * int(module.num_features),
                 "running_mean": _floats(_numpy(module.running_mean)),
                 "running_var": _floats(_numpy(module.running_var)),
                 "eps": float(module.eps)}]
    if name == "ReLU":
        return [{"type": "relu"}]
    if name == "LeakyReLU":
        return [{"type": "leaky_relu", "negative_slope": float(module.negative_slope)}]
    if name == "PReLU":
        return [{"type": "prelu", "weight": _floats(_numpy(module.weight).ravel())}]
    if name in ("Hardtanh", "ReLU6"):
        return [{"type": "clip", "min": float(module.min_val), "max": float(module.max_val)}]
    if name in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"):
        axes = 1 if name.endswith("1d") else 2
        if getattr(module, "ceil_mode", False):
            raise ValueError(f"{name}: ceil_mode=True is not supported")
        layer = {"type": name.lower(), "kernel_size": _pair(module.kernel_size, axes),
                 "stride": _pair(module.stride or module.kernel_size, axes),
                 "padding": _pair(module.padding, axes)}
        if name.startswith("Max"):
            layer["dilation"] = _pair(module.dilation, axes)
        else:
            layer["count_include_pad"] = bool(module.count_include_pad)
        return [layer]
    if name == "Flatten":
        return [{"type": "flatten"}]
    if name in ("Dropout", "Identity"):
        return [{"type": "identity"}]
    # A residual block: a module with `body` (and optionally `shortcut`) children whose output
    # is body(x) + shortcut(x).
    if hasattr(module, "body"):
        block = {"type": "residual", "body": _layers_of(module.body)}
        if getattr(module, "shortcut", None) is not None:
            block["shortcut"] = _layers_of(module.shortcut)
        out = [block]
        if getattr(module, "post", None) is not None:
            out.extend(_layers_of(module.post))
        return out
    raise ValueError(
        f"{name}: not a module relu_regions converts (Sequential, Linear, Conv1d/2d, "
        "BatchNorm1d/2d, ReLU, LeakyReLU, PReLU, Hardtanh, ReLU6, MaxPool1d/2d, AvgPool1d/2d, "
        "Flatten, Dropout, Identity, and residual blocks with `body` and `shortcut`); export "
        "the model to ONNX instead")


def to_network_json(module, input_shape) -> str:
    """A torch module as a version-2 relu-regions network file (JSON text)."""
    return json.dumps({"version": 2, "input_shape": list(input_shape),
                       "layers": _layers_of(module)})


def _slice_json(plane, box, through, dim):
    if plane is not None and through is not None:
        raise ValueError("give plane or through, not both")
    if through is not None:
        s = {"through": [_values(p) for p in through]}
        if box is None:
            box = [[-0.5, 1.5]] * (len(through) - 1)
    elif plane is not None:
        s = {"origin": _values(plane["origin"]),
             "basis": [_values(b) for b in plane["basis"]]}
        if "box" in plane and box is None:
            box = plane["box"]
        if "polygon" in plane:
            s["polygon"] = [_floats(p) for p in plane["polygon"]]
    else:
        # The network's input dimension, read only when the box does not give it.
        dim = len(box) if box is not None else dim() if callable(dim) else dim
        if dim is None:
            raise ValueError("give a slice: through=[x1, x2, x3], plane={...} or box=...")
        s = {"origin": [0.0] * dim, "basis": np.eye(dim).tolist()}
        if box is None:
            box = [[-1.0, 1.0]] * dim
    if box is not None:
        s["box"] = [[_scalar(lo), _scalar(hi)] for lo, hi in box]
    return json.dumps(s)


def _scalar(x):
    return x if isinstance(x, str) else float(x)


def _model_kwargs(model, input_shape):
    """The network arguments of the Rust core for `model`, and its input dimension (None when
    unknown; a function for JSON files, whose parse is skipped when the slice gives it)."""
    kwargs = {}
    dim = None
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if path.endswith(".onnx"):
            kwargs["onnx_path"] = path
            if input_shape is not None:
                kwargs["input_shape"] = [int(x) for x in input_shape]
        else:
            with open(path) as f:
                kwargs["net_json"] = f.read()
            text = kwargs["net_json"]
            dim = lambda: _input_dim_of_json(text)  # noqa: E731 (parsed only if needed)
    elif isinstance(model, (list, tuple)) and type(model).__name__ in ("list", "tuple"):
        layers = [(np.ascontiguousarray(_numpy(w), dtype=np.float64),
                   np.ascontiguousarray(_numpy(b), dtype=np.float64)) for w, b in model]
        kwargs["layers"] = layers
        dim = layers[0][0].shape[1] if layers else None
    else:
        layers = _layers_of(model)
        if input_shape is None:
            first = layers[0] if layers else {}
            if first.get("type") != "linear":
                raise ValueError("input_shape is needed (the first layer is not Linear)")
            input_shape = [len(first["weight"][0])]
        kwargs["net_json"] = json.dumps({"version": 2, "input_shape": list(input_shape),
                                         "layers": layers})
        dim = int(np.prod(input_shape))
    return kwargs, dim


def count(model: Any, plane=None, box=None, through=None, *, engine: str = "auto",
          max_regions: Optional[int] = None, threads: Optional[int] = None,
          linear: bool = True, vertices: bool = True, input_shape=None,
          regions_file=None, mesh_file=None) -> Partition:
    """Counts the activation regions of `model` on a slice, exactly.

    The slice: ``through=[x1, x2, x3]`` (a plane through three inputs; two for a segment) with
    ``box`` in plane coordinates (default [-0.5, 1.5]²), ``plane={"origin": o, "basis": [u, v]}``,
    or only ``box=[[lo, hi], ...]`` for the identity slice of a network with at most 4 inputs.
    ``input_shape`` (without the batch dimension) is needed for a torch module whose first
    layer is not Linear, and for ONNX models with dynamic axes. ``regions_file``: also write
    every region (pattern, exact vertices, measure, witness; facets from the lp engine) there,
    as ``relu-regions count --regions`` does, for `verify` (which certifies files of slices of
    1 to 4 dimensions; past 4-D the file has facets and witnesses but no vertices).
    ``mesh_file`` (3-D): the regions' boundaries as a .ply (MeshLab, Blender) or .vtk
    (ParaView) mesh, as ``relu-regions count --mesh`` writes.
    """
    kwargs, dim = _model_kwargs(model, input_shape)
    kwargs.update(engine=engine, max_regions=max_regions, threads=threads, linear=linear,
                  vertices=vertices)
    if regions_file is not None:
        kwargs["regions_path"] = os.fspath(regions_file)
    if mesh_file is not None:
        kwargs["mesh_path"] = os.fspath(mesh_file)
    slice_json = _slice_json(plane, box, through, dim)
    return Partition(**_core.count(slice_json, **kwargs))


def bounds(model: Any, plane=None, box=None, through=None, *, count: bool = False,
           input_shape=None) -> dict:
    """The worst-case and Hanin–Rolnick bounds for `model` on the slice (integers as decimal
    strings, as in ``relu-regions bounds --json``). With ``count=True`` also the exact count
    (``activation_regions``), its ratio to the Hanin–Rolnick value and the fitted T."""
    kwargs, dim = _model_kwargs(model, input_shape)
    return json.loads(_core.bounds(_slice_json(plane, box, through, dim), count=count, **kwargs))


def sample(model: Any, plane=None, box=None, through=None, *, grid: Optional[int] = None,
           points: Optional[int] = None, lines: Optional[int] = None, seed: int = 0,
           input_shape=None) -> dict:
    """A sampled estimate of the region count, as ``relu-regions sample --json`` gives it:
    patterns at the centres of a ``grid``^d grid, at ``points`` random points (with Chao1), or
    exact counts along ``lines`` random segments. Give exactly one of the three."""
    chosen = [(m, n) for m, n in (("grid", grid), ("points", points), ("lines", lines))
              if n is not None]
    if len(chosen) != 1:
        raise ValueError("give exactly one of grid=, points= or lines=")
    method, n = chosen[0]
    kwargs, dim = _model_kwargs(model, input_shape)
    return json.loads(_core.sample(_slice_json(plane, box, through, dim), method, int(n),
                                   seed=int(seed), **kwargs))


def compare(model: Any, estimate, plane=None, box=None, through=None, *,
            input_shape=None) -> dict:
    """Checks another tool's estimate against the exact regions. ``estimate``: a dict (or a
    JSON file path) with ``regions`` (the estimated count) and optionally ``patterns`` (0/1
    lists, one entry per unit) and ``points`` (one slice point per pattern, where it was seen). The result has ``passed`` (False when a pattern
    is impossible or a point's pattern is wrong) and the details."""
    if isinstance(estimate, (str, os.PathLike)):
        with open(estimate) as f:
            text = f.read()
    else:
        text = json.dumps(estimate, default=_jsonable)
    kwargs, dim = _model_kwargs(model, input_shape)
    return json.loads(_core.compare(_slice_json(plane, box, through, dim), text, **kwargs))


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


@dataclass
class Verdict:
    """The answer of `verify`: true when the regions file is exactly the partition."""

    ok: bool
    regions: Optional[int]
    reason: str

    def __bool__(self):
        return self.ok


def verify(model: Any, regions_file, plane=None, box=None, through=None, *,
           input_shape=None) -> Verdict:
    """Re-checks a regions file (written by ``count(..., regions_file=...)`` or ``relu-regions
    count --regions``) by the exact certificate, independently of the enumeration. The slice is
    the one the file records; a slice given here must be the same."""
    with open(regions_file) as f:
        text = f.read()
    kwargs, dim = _model_kwargs(model, input_shape)
    given = None
    if plane is not None or box is not None or through is not None:
        given = _slice_json(plane, box, through, dim)
    ok, regions, reason = _core.verify(text, os.fspath(regions_file), slice_json=given,
                                       **kwargs)
    return Verdict(ok, regions, reason)


def init_stats(widths=None, *, init: str = "he-normal", law: Optional[str] = None,
               gain: Optional[float] = None, bias_var: float = 0.0, resnet: bool = False,
               eta="1", branch: str = "linear", branch_var: Optional[float] = None,
               conv1d: Optional[int] = None, conv2d=None, kernel: int = 3,
               sampler: Optional[str] = None, samples: Optional[int] = None, seed: int = 0,
               input=None, include_input: bool = False, preset: Optional[str] = None,
               threads: Optional[int] = None) -> dict:
    """Monte Carlo statistics of M_j = ||h_j||²/n_j at initialisation beside the exact
    Hanin–Rolnick predictions (mean, variance, β = Σ 1/n_j), as ``relu-regions init-stats
    --json`` reports them; the options are its flags (``eta`` as text: "1/l", "1/sqrt(L)",
    "0.9^l", a constant). ``preset`` runs one of the paper's sweeps instead."""
    return json.loads(_core.init_stats(
        widths=None if widths is None else [int(w) for w in widths], init=init, law=law,
        gain=gain, bias_var=float(bias_var), resnet=resnet, eta=str(eta), branch=branch,
        branch_var=branch_var, conv1d=conv1d,
        conv2d=None if conv2d is None else tuple(int(x) for x in conv2d), kernel=kernel,
        sampler=sampler, samples=samples, seed=int(seed),
        input=None if input is None else _floats(np.ravel(_numpy(input))),
        include_input=include_input, preset=preset, threads=threads))


def _input_dim_of_json(text):
    try:
        v = json.loads(text)
        if "input_shape" in v:
            return int(np.prod(v["input_shape"]))
        return len(v["layers"][0]["weight"][0])
    except Exception:  # the Rust side reports the real problem
        return None
