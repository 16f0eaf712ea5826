"""Synthetic problems with known optima (minimization)."""

from __future__ import annotations

import math

import numpy as np

import unitune as ut

BRANIN_SPACE = {"x1": ut.uniform(-5.0, 10.0), "x2": ut.uniform(0.0, 15.0)}
BRANIN_OPTIMUM = 0.397887


def branin(p: dict) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, r, s, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


HARTMANN6_SPACE = {f"x{i}": ut.uniform(0.0, 1.0) for i in range(1, 7)}
HARTMANN6_OPTIMUM = -3.32237
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
               [17, 8, 0.05, 10, 0.1, 14]])
_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann6(p: dict) -> float:
    x = np.array([p[f"x{i}"] for i in range(1, 7)])
    return float(-(_ALPHA * np.exp(-(_A * (x - _P) ** 2).sum(axis=1))).sum())


MIXED_SPACE = {
    "x": ut.uniform(-2.0, 2.0, step=0.1),
    "n": ut.integer(1, 256, log=True),
    "kind": ut.choice(["linear", "quadratic", "abs", None]),
}
MIXED_OPTIMUM = 0.0
_KIND_COST = {"linear": 0.5, "quadratic": 0.0, "abs": 1.0, None: 2.0}


def mixed(p: dict) -> float:
    """Minimum 0 at x = 0.7, n = 16, kind = "quadratic"."""
    return (p["x"] - 0.7) ** 2 + 0.25 * abs(math.log2(p["n"]) - 4) + _KIND_COST[p["kind"]]


CONDITIONAL_SPACE = {
    "model": ut.choice({
        "smooth": {"x": ut.uniform(-3.0, 3.0), "y": ut.uniform(-3.0, 3.0)},
        "discrete": {"n": ut.integer(0, 10), "scale": ut.loguniform(1e-3, 10.0)},
    })
}
CONDITIONAL_OPTIMUM = 0.0


def conditional(p: dict) -> float:
    """Branch "smooth" bottoms out at 0.2; branch "discrete" reaches 0 at n = 3, scale = 1."""
    label, q = p["model"]
    if label == "smooth":
        return (q["x"] - 1.0) ** 2 + (q["y"] + 0.5) ** 2 + 0.2
    return 0.3 * abs(q["n"] - 3) + math.log10(q["scale"]) ** 2
