"""Optuna: native ``study.optimize`` vs ``ut.minimize(backend="optuna")`` on a trivial 3-parameter objective."""

from __future__ import annotations

import unitune as ut

from . import OverheadCase

SPACE = {"x": ut.uniform(-5.0, 5.0), "n": ut.integer(1, 10), "c": ut.choice(["a", "b", "c"])}


def _value(x: float, n: int, c: str) -> float:
    return (x - 1.0) ** 2 + n * 0.1 + (c == "b")


def _native(sampler_name: str):
    def run(n_trials: int, seed: int) -> object:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = getattr(optuna.samplers, sampler_name)(seed=seed)
        study = optuna.create_study(sampler=sampler)

        def objective(trial):
            return _value(
                trial.suggest_float("x", -5.0, 5.0),
                trial.suggest_int("n", 1, 10),
                trial.suggest_categorical("c", ["a", "b", "c"]),
            )

        study.optimize(objective, n_trials=n_trials)
        return study

    return run


def _unitune(algorithm: str):
    def run(n_trials: int, seed: int) -> object:
        return ut.minimize(lambda p: _value(p["x"], p["n"], p["c"]), SPACE, backend="optuna",
                           algorithm=algorithm, n_trials=n_trials, seed=seed)

    return run


def cases() -> list[OverheadCase]:
    return [
        OverheadCase("optuna", "random", _native("RandomSampler"), _unitune("random"), 400),
        OverheadCase("optuna", "tpe", _native("TPESampler"), _unitune("tpe"), 200),
    ]
