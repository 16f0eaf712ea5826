"""Hyperopt: native ``fmin`` vs ``ut.minimize(backend="hyperopt")`` on a trivial 3-parameter objective.

The native space is the expression unitune's translation documents (``ut.explain``), so both sides
draw the very same points and run the same algorithm work; the difference is unitune's overhead.
"""

from __future__ import annotations

import functools

import unitune as ut

from . import OverheadCase

SPACE = {"x": ut.uniform(-5.0, 5.0), "n": ut.integer(1, 10), "c": ut.choice(["a", "b", "c"])}


def _value(x: float, n: int, c: str) -> float:
    return (x - 1.0) ** 2 + n * 0.1 + (c == "b")


def _native(algorithm: str):
    def run(n_trials: int, seed: int) -> object:
        import numpy as np
        from hyperopt import Trials, anneal, fmin, hp, rand, tpe

        algo = {"random": rand.suggest, "tpe": functools.partial(tpe.suggest, verbose=False),
                "anneal": anneal.suggest}[algorithm]
        space = {"x": hp.uniform("x", -5.0, 5.0), "n": hp.quniform("n", -0.5, 9.5, 1),
                 "c": hp.choice("c", ["a", "b", "c"])}
        trials = Trials()
        fmin(lambda p: _value(p["x"], 1 + int(p["n"]), p["c"]), space, algo=algo, max_evals=n_trials,
             rstate=np.random.default_rng(seed), trials=trials, show_progressbar=False)
        return trials

    return run


def _unitune(algorithm: str):
    def run(n_trials: int, seed: int) -> object:
        return ut.minimize(lambda p: _value(p["x"], p["n"], p["c"]), SPACE, backend="hyperopt",
                           algorithm=algorithm, n_trials=n_trials, seed=seed)

    return run


def cases() -> list[OverheadCase]:
    return [
        OverheadCase("hyperopt", "random", _native("random"), _unitune("random"), 400),
        OverheadCase("hyperopt", "tpe", _native("tpe"), _unitune("tpe"), 200),
        OverheadCase("hyperopt", "anneal", _native("anneal"), _unitune("anneal"), 400),
    ]
