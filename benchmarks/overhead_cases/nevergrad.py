"""Nevergrad: a native ask/tell loop vs ``ut.minimize(backend="nevergrad")`` on a trivial 3-parameter objective.

The native parametrization is the one unitune's translation documents (``ut.explain``), seeded the same
way (``parametrization.random_state``) and given the same ``budget`` (the trial count), so both sides
ask the very same candidates and run the same optimizer work; the difference is unitune's overhead.
"""

from __future__ import annotations

import warnings

import unitune as ut
from unitune.backends.nevergrad import NATIVE

from . import OverheadCase

SPACE = {"x": ut.uniform(-5.0, 5.0), "n": ut.integer(1, 10), "c": ut.choice(["a", "b", "c"])}


def _value(x: float, n: int, c: str) -> float:
    return (x - 1.0) ** 2 + n * 0.1 + (c == "b")


def _native(algorithm: str):
    def run(n_trials: int, seed: int) -> object:
        import nevergrad as ng
        import numpy as np

        parametrization = ng.p.Dict(x=ng.p.Scalar(lower=-5.0, upper=5.0),
                                    n=ng.p.Scalar(lower=0.5, upper=10.5).set_integer_casting(),
                                    c=ng.p.Choice([0, 1, 2]))
        parametrization.random_state = np.random.RandomState(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimizer = ng.optimizers.registry[NATIVE[algorithm]](parametrization=parametrization, budget=n_trials,
                                                                  num_workers=1)
            for _ in range(n_trials):
                candidate = optimizer.ask()
                v = candidate.value
                optimizer.tell(candidate, _value(v["x"], v["n"], "abc"[v["c"]]))
        return optimizer

    return run


def _unitune(algorithm: str):
    def run(n_trials: int, seed: int) -> object:
        return ut.minimize(lambda p: _value(p["x"], p["n"], p["c"]), SPACE, backend="nevergrad",
                           algorithm=algorithm, n_trials=n_trials, seed=seed, budget=n_trials)

    return run


def cases() -> list[OverheadCase]:
    return [
        OverheadCase("nevergrad", "ngopt", _native("ngopt"), _unitune("ngopt"), 200),
        OverheadCase("nevergrad", "pso", _native("pso"), _unitune("pso"), 300),
    ]
