"""scikit-optimize: native ``gp_minimize(acq_func="EI")`` vs ``ut.minimize(backend="skopt")``, same dimensions.

The native dimensions are the ones unitune's translation documents (``ut.explain``), so both sides
propose the very same points and fit the same GPs.  unitune's GP also skips skopt's and
scikit-learn's repeated bookkeeping (``unitune/backends/skopt_fast.py``: kernel metadata cached per
class, candidates transformed column-wise; same suggestions bit for bit), so it can come out faster
than native.  Cases:

* ``gp``: the 3-D space of the original overhead table, both sides under the same thread setting;
* ``gp-4d``: the issue-14 comparison, 30 trials on a 4-D mixed space (float, log float, int,
  categorical): a default native ``gp_minimize`` (BLAS with its default thread count) against unitune,
  which runs the GP's numerical work under ``unitune.threads`` (one thread) — same suggestions
  as native under that limit (``tests/test_threads.py``, ``tests/test_skopt_fast.py``);
* ``gp-4d-same-limit``: the same, with the native run under the same one-thread limit: what is left
  is unitune's own overhead minus the bookkeeping it saves.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import unitune as ut
from unitune.threads import fixed_threads, limited_for

from . import OverheadCase

SPACE = {"x": ut.uniform(-5.0, 5.0), "y": ut.uniform(-5.0, 5.0), "c": ut.choice(["a", "b", "c"])}
SPACE_4D = {"x": ut.uniform(-1.0, 1.0), "lr": ut.loguniform(1e-4, 1.0), "n": ut.integer(1, 10),
            "c": ut.choice(["a", "b", "c"])}


def _value(x: float, y: float, c: str) -> float:
    return (x - 1.0) ** 2 + (y + 2.0) ** 2 + (c == "b")


def value_4d(p: dict) -> float:
    return (p["x"] - 0.3) ** 2 + (math.log10(p["lr"]) + 2) ** 2 + 0.1 * abs(p["n"] - 5) + (p["c"] != "b")


def native_dims_4d() -> list:
    """SPACE_4D as ``ut.explain(SPACE_4D, backend="skopt", algorithm="gp")`` documents it: the int is a
    rounded Real over [0.5, 10.5]."""
    from skopt.space import Categorical, Real

    return [Real(-1.0, 1.0, name="x"), Real(1e-4, 1.0, prior="log-uniform", name="lr"),
            Real(0.5, 10.5, name="n"), Categorical(["a", "b", "c"], name="c")]


def native_value_4d(v: list) -> float:
    """``value_4d`` of a native point (the rounded Real decoded as unitune decodes it)."""
    return value_4d({"x": v[0], "lr": v[1], "n": min(max(round(v[2]), 1), 10), "c": v[3]})


def _native_gp(n_trials: int, seed: int) -> object:
    from skopt import gp_minimize
    from skopt.space import Categorical, Real

    dims = [Real(-5.0, 5.0, name="x"), Real(-5.0, 5.0, name="y"), Categorical(["a", "b", "c"], name="c")]
    with warnings.catch_warnings(), limited_for("skopt", "gp"):
        warnings.simplefilter("ignore")
        return gp_minimize(lambda v: _value(*v), dims, acq_func="EI", n_calls=n_trials, random_state=seed)


def _unitune_gp(n_trials: int, seed: int) -> object:
    with limited_for("skopt", "gp"):
        return ut.minimize(lambda p: _value(p["x"], p["y"], p["c"]), SPACE, backend="skopt", algorithm="gp",
                           n_trials=n_trials, seed=seed)


def _native_gp_4d(limit: bool):
    def run(n_trials: int, seed: int) -> object:
        from skopt import gp_minimize

        with warnings.catch_warnings(), (fixed_threads(1) if limit else contextlib.nullcontext()):
            warnings.simplefilter("ignore")
            return gp_minimize(native_value_4d, native_dims_4d(), acq_func="EI", n_calls=n_trials, random_state=seed)

    return run


def _unitune_gp_4d(n_trials: int, seed: int) -> object:
    # The Study loop already runs ask/tell under limited_for(); the outer one is a no-op kept for clarity.
    with limited_for("skopt", "gp"):
        return ut.minimize(value_4d, SPACE_4D, backend="skopt", algorithm="gp", n_trials=n_trials, seed=seed)


def cases() -> list[OverheadCase]:
    return [
        OverheadCase("skopt", "gp", _native_gp, _unitune_gp, 30),
        OverheadCase("skopt", "gp-4d", _native_gp_4d(False), _unitune_gp_4d, 30),
        OverheadCase("skopt", "gp-4d-same-limit", _native_gp_4d(True), _unitune_gp_4d, 30),
    ]
