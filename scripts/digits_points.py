#!/usr/bin/env python3
"""Writes the first K images of scikit-learn's 8x8 digits data as data points for
`relu-regions experiment hanin-rolnick --data FILE`: {"points": [[64 values]...], "meta": {...}}.

Pixel values are divided by 16 (so they lie in [0, 1]), as in ../shared/bench/digits-plane-a.json.
Usage: pip install scikit-learn && python3 scripts/digits_points.py [K] > fixtures/data/digits-100.json
"""
import json
import sys

from sklearn.datasets import load_digits

k = int(sys.argv[1]) if len(sys.argv) > 1 else 100
digits = load_digits()
points = [[float(v) / 16.0 for v in image] for image in digits.data[:k]]
labels = [int(t) for t in digits.target[:k]]
json.dump(
    {
        "points": points,
        "labels": labels,
        "meta": {
            "source": "scikit-learn load_digits() (UCI optical recognition of handwritten digits, "
            "test part), first %d images, pixels / 16" % k,
        },
    },
    sys.stdout,
)
sys.stdout.write("\n")
