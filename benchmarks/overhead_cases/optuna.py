"""Optuna: native ``study.optimize`` vs ``ut.minimize(backend="optuna")`` on a trivial 3-parameter objective, and
the same with two objectives: ``create_study(directions=[...], sampler=NSGAIISampler(seed=...))`` vs
``ut.optimize(..., algorithm="nsga2", directions=[...])``."""

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
        OverheadCase("optuna", "nsga2-2obj", _native_two_objectives, _unitune_two_objectives, 300),
        *_gp_cases(),
    ]


# -- two objectives with NSGA-II ---------------------------------------------------------------------------
def _values_2(x: float, n: int, c: str) -> tuple[float, float]:
    return (x - 1.0) ** 2 + n * 0.1, (x + 1.0) ** 2 + (c == "b")


def _native_two_objectives(n_trials: int, seed: int) -> object:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=optuna.samplers.NSGAIISampler(seed=seed))

    def objective(trial):
        return _values_2(trial.suggest_float("x", -5.0, 5.0), trial.suggest_int("n", 1, 10),
                         trial.suggest_categorical("c", ["a", "b", "c"]))

    study.optimize(objective, n_trials=n_trials)
    return study


def _unitune_two_objectives(n_trials: int, seed: int) -> object:
    return ut.optimize(lambda p: _values_2(p["x"], p["n"], p["c"]), SPACE, backend="optuna", algorithm="nsga2",
                       directions=["minimize", "minimize"], metrics=["f1", "f2"], n_trials=n_trials, seed=seed)


# -- Optuna's GP sampler (torch): native default threads vs unitune under unitune.threads ------------------
def _value_4d(x: float, lr: float, n: int, c: str) -> float:
    import math

    return (x - 0.3) ** 2 + (math.log10(lr) + 2) ** 2 + 0.1 * abs(n - 5) + (c != "b")


SPACE_4D = {"x": ut.uniform(-1.0, 1.0), "lr": ut.loguniform(1e-4, 1.0), "n": ut.integer(1, 10),
            "c": ut.choice(["a", "b", "c"])}


def _native_gp(limit: bool):
    def run(n_trials: int, seed: int) -> object:
        import contextlib

        import optuna

        from unitune.threads import fixed_threads

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed))

        def objective(trial):
            return _value_4d(trial.suggest_float("x", -1.0, 1.0), trial.suggest_float("lr", 1e-4, 1.0, log=True),
                             trial.suggest_int("n", 1, 10), trial.suggest_categorical("c", ["a", "b", "c"]))

        with fixed_threads(1, import_torch=True) if limit else contextlib.nullcontext():
            study.optimize(objective, n_trials=n_trials)
        return study

    return run


def _unitune_gp(n_trials: int, seed: int) -> object:
    from unitune.threads import limited_for

    with limited_for("optuna", "gp"):  # (the Study loop already pins ask/tell; this outer limit is a no-op)
        return ut.minimize(lambda p: _value_4d(p["x"], p["lr"], p["n"], p["c"]), SPACE_4D, backend="optuna",
                           algorithm="gp", n_trials=n_trials, seed=seed)


def _gp_cases() -> list[OverheadCase]:
    try:
        import torch  # noqa: F401
    except ImportError:
        return []
    return [OverheadCase("optuna", "gp-4d", _native_gp(False), _unitune_gp, 30),
            OverheadCase("optuna", "gp-4d-same-limit", _native_gp(True), _unitune_gp, 30)]
