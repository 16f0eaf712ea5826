"""scikit-optimize: native ``gp_minimize(acq_func="EI")`` vs ``ut.minimize(backend="skopt")``, same dimensions.

The native dimensions are the ones unitune's translation documents (``ut.explain``), so both sides
propose the very same points and fit the same GPs; the difference is unitune's overhead.
"""

from __future__ import annotations

import warnings

import unitune as ut

from . import OverheadCase

SPACE = {"x": ut.uniform(-5.0, 5.0), "y": ut.uniform(-5.0, 5.0), "c": ut.choice(["a", "b", "c"])}


def _value(x: float, y: float, c: str) -> float:
    return (x - 1.0) ** 2 + (y + 2.0) ** 2 + (c == "b")


def _native_gp(n_trials: int, seed: int) -> object:
    from skopt import gp_minimize
    from skopt.space import Categorical, Real

    dims = [Real(-5.0, 5.0, name="x"), Real(-5.0, 5.0, name="y"), Categorical(["a", "b", "c"], name="c")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gp_minimize(lambda v: _value(*v), dims, acq_func="EI", n_calls=n_trials, random_state=seed)


def _unitune_gp(n_trials: int, seed: int) -> object:
    return ut.minimize(lambda p: _value(p["x"], p["y"], p["c"]), SPACE, backend="skopt", algorithm="gp",
                       n_trials=n_trials, seed=seed)


def cases() -> list[OverheadCase]:
    return [OverheadCase("skopt", "gp", _native_gp, _unitune_gp, 30)]
