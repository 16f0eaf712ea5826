"""Problems with two objectives (both minimized): ZDT1, ZDT2 and a random forest's error against its size.

ZDT1 and ZDT2 are Zitzler, Deb and Thiele's test functions (Evolutionary Computation 8(2), 2000) with
``n = 6`` variables in [0, 1]:

    f1 = x1,   g = 1 + 9 / (n - 1) * (x2 + ... + xn),   f2 = g * h(f1, g)
    ZDT1: h = 1 - sqrt(f1 / g)  (convex front f2 = 1 - sqrt(f1))
    ZDT2: h = 1 - (f1 / g)^2    (concave front f2 = 1 - f1^2)

The Pareto front is ``g = 1`` (x2 = ... = xn = 0).  Their reference point is (11, 11), as BoTorch's ZDT
problems use: every point of the search space lies inside the box (f1 <= 1, f2 <= g <= 10), so a run's
first trials count, and the best hypervolume is known exactly: 121 - 1/3 (ZDT1), 121 - 2/3 (ZDT2).

``rf_digits`` is a real one: a random forest on 600 digits (the fixed subsample of
``sklearn_tasks``), 3-fold cross-validated error against ``log10`` of the number of tree nodes (the
mean over the three fold models) — model size, deterministic, unlike fit time, so a seed always gives
the same front.  Its reference point is (1.0, 4.2): an error of 1 is the worst there is, and no
forest in the space can have more than 16 trees × 799 nodes (400 training samples) < 10^4.2 nodes.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import unitune as ut

from .sklearn_tasks import _cv, _digits

N_ZDT = 6
ZDT_SPACE = {f"x{i}": ut.uniform(0.0, 1.0) for i in range(1, N_ZDT + 1)}
ZDT_REFERENCE = (11.0, 11.0)
ZDT1_BEST_HYPERVOLUME = 121.0 - 1.0 / 3.0  # the box minus the area under f2 = 1 - sqrt(f1), f1 in [0, 1]
ZDT2_BEST_HYPERVOLUME = 121.0 - 2.0 / 3.0  # the box minus the area under f2 = 1 - f1^2


def _zdt_g(p: dict) -> tuple[float, float]:
    f1 = p["x1"]
    return f1, 1.0 + 9.0 / (N_ZDT - 1) * sum(p[f"x{i}"] for i in range(2, N_ZDT + 1))


def zdt1(p: dict) -> tuple[float, float]:
    """ZDT1 with 6 variables: (f1, f2), both minimized; Pareto front f2 = 1 - sqrt(f1)."""
    f1, g = _zdt_g(p)
    return f1, g * (1.0 - math.sqrt(f1 / g))


def zdt2(p: dict) -> tuple[float, float]:
    """ZDT2 with 6 variables: (f1, f2), both minimized; Pareto front f2 = 1 - f1^2."""
    f1, g = _zdt_g(p)
    return f1, g * (1.0 - (f1 / g) ** 2)


def zdt1_front(f1: np.ndarray) -> np.ndarray:
    """ZDT1's Pareto front: f2 = 1 - sqrt(f1) for f1 in [0, 1]."""
    return 1.0 - np.sqrt(f1)


def zdt2_front(f1: np.ndarray) -> np.ndarray:
    """ZDT2's Pareto front: f2 = 1 - f1^2 for f1 in [0, 1]."""
    return 1.0 - np.asarray(f1) ** 2


RF_SPACE = {
    "n_estimators": ut.integer(1, 16, log=True),
    "max_depth": ut.integer(1, 10),
    "min_samples_leaf": ut.integer(1, 16, log=True),
    "max_features": ut.uniform(0.05, 1.0),
}
RF_REFERENCE = (1.0, 4.2)


def rf_digits(p: dict) -> dict[str, float]:
    """3-fold CV error of a random forest on 600 digits and log10 of its tree nodes (model seed fixed)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import cross_validate

    x, y = _digits()
    model = RandomForestClassifier(random_state=0, **p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cv = cross_validate(model, x, y, cv=_cv(), return_estimator=True)
    nodes = np.mean([sum(tree.tree_.node_count for tree in forest.estimators_) for forest in cv["estimator"]])
    return {"error": float(1.0 - cv["test_score"].mean()), "log10_nodes": float(math.log10(nodes))}
