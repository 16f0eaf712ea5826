"""``--native``: the benchmark problems run through each library directly, for the parity column.

Each native space below is written by hand the way ``ut.explain(space, backend=..., algorithm=...)``
documents unitune's translation (so a reader can check one against the other), and each run uses
the library's own driver: optuna ``study.optimize``, hyperopt ``fmin(rstate=np.random.default_rng(seed))``,
skopt ``gp_minimize(acq_func="EI")``/``forest_minimize``/``dummy_minimize``, nevergrad an ask/tell loop on an
``ng.p.Dict`` seeded through ``parametrization.random_state``.  The native runs execute
under the same thread limit as unitune's (``unitune.threads``), as the issue asks of native-fidelity
checks.  Ray Tune has no native runner here (its parity is covered by ``tests/test_ray.py``).

Two library bugs on this scikit-learn/NumPy are repaired the way unitune's adapter repairs them,
and only there: skopt's ``dummy_minimize`` runs inside ``_sklearn_compatible_skopt()``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .problems import PROBLEMS

SUPPORTED = {"optuna": ("tpe", "random", "cmaes", "gp"), "hyperopt": ("tpe", "random", "anneal"),
             "skopt": ("gp", "forest", "random"),
             "nevergrad": ("ngopt", "pso", "de", "cma", "oneplusone", "portfolio", "random", "ga")}


def _at(low: float, step: float, k: int) -> float:
    """low + k*step in decimal, as unitune decodes a grid index (ut.explain: 'low + k*step in decimal')."""
    return float(Decimal(repr(low)) + int(k) * Decimal(repr(step)))


def _clamp(x: float, low: float, high: float) -> float:
    return min(max(float(x), low), high)


# -- optuna: define-by-run, suggest_* in space order (ut.explain(..., backend="optuna")) -------------------
def _optuna_params(problem: str, trial) -> dict[str, Any]:
    s = trial
    if problem == "branin":
        return {"x1": s.suggest_float("x1", -5.0, 10.0), "x2": s.suggest_float("x2", 0.0, 15.0)}
    if problem == "hartmann6":
        return {f"x{i}": s.suggest_float(f"x{i}", 0.0, 1.0) for i in range(1, 7)}
    if problem == "mixed":
        x = s.suggest_float("x", -2.0, 2.0, step=0.1)
        return {"x": _at(-2.0, 0.1, round((x + 2.0) / 0.1)), "n": s.suggest_int("n", 1, 256, log=True),
                "kind": s.suggest_categorical("kind", ["linear", "quadratic", "abs", None])}
    if problem == "conditional":
        label = s.suggest_categorical("model", ["smooth", "discrete"])
        if label == "smooth":
            return {"model": ("smooth", {"x": s.suggest_float("model.smooth.x", -3.0, 3.0),
                                         "y": s.suggest_float("model.smooth.y", -3.0, 3.0)})}
        return {"model": ("discrete", {"n": s.suggest_int("model.discrete.n", 0, 10),
                                       "scale": s.suggest_float("model.discrete.scale", 1e-3, 10.0, log=True)})}
    if problem == "svm_digits":
        return {"C": s.suggest_float("C", 1e-2, 1e3, log=True), "gamma": s.suggest_float("gamma", 1e-4, 1.0, log=True),
                "kernel": s.suggest_categorical("kernel", ["rbf", "sigmoid"])}
    if problem == "gb_breast_cancer":
        n = s.suggest_int("n_estimators", 5, 50, log=True)
        lr = s.suggest_float("learning_rate", 1e-2, 1.0, log=True)
        depth = s.suggest_int("max_depth", 1, 3)
        sub = s.suggest_float("subsample", 0.5, 1.0, step=0.1)
        return {"n_estimators": n, "learning_rate": lr, "max_depth": depth,
                "subsample": _at(0.5, 0.1, round((sub - 0.5) / 0.1))}
    raise KeyError(problem)


def _run_optuna(problem: str, algorithm: str, n_trials: int, seed: int, objective: Callable) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {"tpe": lambda: optuna.samplers.TPESampler(seed=seed),
                "random": lambda: optuna.samplers.RandomSampler(seed=seed),
                "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False),
                "gp": lambda: optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False)}
    study = optuna.create_study(sampler=samplers[algorithm]())
    study.optimize(lambda trial: objective(_optuna_params(problem, trial)), n_trials=n_trials)
    return [t.value for t in study.trials]


# -- hyperopt: the expressions ut.explain(..., backend="hyperopt") lists ------------------------------------
def _hyperopt_space(problem: str) -> tuple[Any, Callable[[dict], dict]]:
    from hyperopt import hp

    log = math.log
    if problem == "branin":
        return ({"x1": hp.uniform("x1", -5.0, 10.0), "x2": hp.uniform("x2", 0.0, 15.0)},
                lambda p: {"x1": _clamp(p["x1"], -5.0, 10.0), "x2": _clamp(p["x2"], 0.0, 15.0)})
    if problem == "hartmann6":
        return ({f"x{i}": hp.uniform(f"x{i}", 0.0, 1.0) for i in range(1, 7)},
                lambda p: {k: _clamp(v, 0.0, 1.0) for k, v in p.items()})
    if problem == "mixed":
        kinds = ["linear", "quadratic", "abs", None]
        return ({"x": hp.quniform("x", -0.5, 40.5, 1), "n": hp.qloguniform("n", log(0.5), log(256.5), 1),
                 "kind": hp.choice("kind", kinds)},
                lambda p: {"x": _at(-2.0, 0.1, min(max(round(p["x"]), 0), 40)), "n": min(max(round(p["n"]), 1), 256),
                           "kind": p["kind"]})
    if problem == "conditional":
        space = {"model": hp.choice("model", [
            {"x": hp.uniform("model.smooth.x", -3.0, 3.0), "y": hp.uniform("model.smooth.y", -3.0, 3.0)},
            {"n": hp.quniform("model.discrete.n", -0.5, 10.5, 1),
             "scale": hp.loguniform("model.discrete.scale", log(1e-3), log(10.0))},
        ])}

        def decode(p: dict) -> dict:
            q = p["model"]
            if "x" in q:
                return {"model": ("smooth", {"x": _clamp(q["x"], -3.0, 3.0), "y": _clamp(q["y"], -3.0, 3.0)})}
            return {"model": ("discrete", {"n": min(max(round(q["n"]), 0), 10),
                                           "scale": _clamp(q["scale"], 1e-3, 10.0)})}

        return space, decode
    if problem == "svm_digits":
        return ({"C": hp.loguniform("C", log(1e-2), log(1e3)), "gamma": hp.loguniform("gamma", log(1e-4), log(1.0)),
                 "kernel": hp.choice("kernel", ["rbf", "sigmoid"])},
                lambda p: {"C": _clamp(p["C"], 1e-2, 1e3), "gamma": _clamp(p["gamma"], 1e-4, 1.0),
                           "kernel": p["kernel"]})
    if problem == "gb_breast_cancer":
        return ({"n_estimators": hp.qloguniform("n_estimators", log(4.5), log(50.5), 1),
                 "learning_rate": hp.loguniform("learning_rate", log(1e-2), log(1.0)),
                 "max_depth": hp.quniform("max_depth", -0.5, 2.5, 1),
                 "subsample": hp.quniform("subsample", -0.5, 5.5, 1)},
                lambda p: {"n_estimators": min(max(round(p["n_estimators"]), 5), 50),
                           "learning_rate": _clamp(p["learning_rate"], 1e-2, 1.0),
                           "max_depth": 1 + min(max(round(p["max_depth"]), 0), 2),
                           "subsample": _at(0.5, 0.1, min(max(round(p["subsample"]), 0), 5))})
    raise KeyError(problem)


def _run_hyperopt(problem: str, algorithm: str, n_trials: int, seed: int, objective: Callable) -> list[float]:
    import functools

    from hyperopt import Trials, anneal, fmin, rand, tpe

    algo = {"tpe": functools.partial(tpe.suggest, verbose=False), "random": rand.suggest,
            "anneal": anneal.suggest}[algorithm]
    space, decode = _hyperopt_space(problem)
    trials = Trials()
    fmin(lambda p: objective(decode(p)), space, algo=algo, max_evals=n_trials, rstate=np.random.default_rng(seed),
         trials=trials, show_progressbar=False)
    return [t["result"].get("loss", math.nan) for t in trials.trials]


# -- skopt: the dimensions ut.explain(..., backend="skopt", algorithm=...) lists -----------------------------
def _skopt_space(problem: str, gp: bool) -> tuple[list, Callable[[list], dict]]:
    from skopt.space import Categorical, Real
    from skopt.space import Integer as SkInteger

    def integer(low: int, high: int, name: str):  # under the GP a rounded Real over [low-0.5, high+0.5]
        return Real(low - 0.5, high + 0.5, name=name) if gp else SkInteger(low, high, name=name)

    if problem == "branin":
        return ([Real(-5.0, 10.0, name="x1"), Real(0.0, 15.0, name="x2")],
                lambda v: {"x1": _clamp(v[0], -5.0, 10.0), "x2": _clamp(v[1], 0.0, 15.0)})
    if problem == "hartmann6":
        return ([Real(0.0, 1.0, name=f"x{i}") for i in range(1, 7)],
                lambda v: {f"x{i + 1}": _clamp(x, 0.0, 1.0) for i, x in enumerate(v)})
    if problem == "mixed":
        kinds = ["linear", "quadratic", "abs", None]
        return ([integer(0, 40, "x"), Real(0.5, 256.5, prior="log-uniform", name="n"),
                 Categorical(["0", "1", "2", "3"], name="kind")],
                lambda v: {"x": _at(-2.0, 0.1, min(max(round(float(v[0])), 0), 40)),
                           "n": min(max(round(float(v[1])), 1), 256), "kind": kinds[int(v[2])]})
    if problem == "conditional":
        dims = [Categorical(["smooth", "discrete"], name="model"), Real(-3.0, 3.0, name="model.smooth.x"),
                Real(-3.0, 3.0, name="model.smooth.y"), integer(0, 10, "model.discrete.n"),
                Real(1e-3, 10.0, prior="log-uniform", name="model.discrete.scale")]

        def decode(v: list) -> dict:
            if str(v[0]) == "smooth":
                return {"model": ("smooth", {"x": _clamp(v[1], -3.0, 3.0), "y": _clamp(v[2], -3.0, 3.0)})}
            return {"model": ("discrete", {"n": min(max(round(float(v[3])), 0), 10),
                                           "scale": _clamp(v[4], 1e-3, 10.0)})}

        return dims, decode
    if problem == "svm_digits":
        return ([Real(1e-2, 1e3, prior="log-uniform", name="C"), Real(1e-4, 1.0, prior="log-uniform", name="gamma"),
                 Categorical(["rbf", "sigmoid"], name="kernel")],
                lambda v: {"C": _clamp(v[0], 1e-2, 1e3), "gamma": _clamp(v[1], 1e-4, 1.0), "kernel": str(v[2])})
    if problem == "gb_breast_cancer":
        return ([Real(4.5, 50.5, prior="log-uniform", name="n_estimators"),
                 Real(1e-2, 1.0, prior="log-uniform", name="learning_rate"), integer(1, 3, "max_depth"),
                 integer(0, 5, "subsample")],
                lambda v: {"n_estimators": min(max(round(float(v[0])), 5), 50),
                           "learning_rate": _clamp(v[1], 1e-2, 1.0), "max_depth": min(max(round(float(v[2])), 1), 3),
                           "subsample": _at(0.5, 0.1, min(max(round(float(v[3])), 0), 5))})
    raise KeyError(problem)


def _run_skopt(problem: str, algorithm: str, n_trials: int, seed: int, objective: Callable) -> list[float]:
    from skopt import dummy_minimize, forest_minimize, gp_minimize

    dims, decode = _skopt_space(problem, gp=algorithm == "gp")

    def fn(v: list) -> float:
        return float(objective(decode(v)))

    if algorithm == "gp":
        # (n_initial_points only so that gp_minimize accepts n_calls < 10; those runs are all random anyway)
        result = gp_minimize(fn, dims, acq_func="EI", n_calls=n_trials, random_state=seed,
                             n_initial_points=min(10, n_trials))
    elif algorithm == "forest":
        result = forest_minimize(fn, dims, base_estimator="ET", n_calls=n_trials, random_state=seed,
                                 n_initial_points=min(10, n_trials))
    else:
        from unitune.backends.skopt import _sklearn_compatible_skopt  # native dummy_minimize is broken here

        with _sklearn_compatible_skopt():
            result = dummy_minimize(fn, dims, n_calls=n_trials, random_state=seed)
    return [float(y) for y in result.func_vals]


# -- nevergrad: the ng.p.Dict ut.explain(..., backend="nevergrad") lists, a native ask/tell loop ---------------
def _nevergrad_space(problem: str) -> tuple[Any, Callable[[dict], dict]]:
    import nevergrad as ng

    def integer(low: float, high: float):  # ints and grid indices: Nevergrad's rounding, half-step margins
        return ng.p.Scalar(lower=low - 0.5, upper=high + 0.5).set_integer_casting()

    def index(v: Any, n: int) -> int:
        return min(max(int(v), 0), n)

    if problem == "branin":
        return (dict(x1=ng.p.Scalar(lower=-5.0, upper=10.0), x2=ng.p.Scalar(lower=0.0, upper=15.0)),
                lambda v: {"x1": _clamp(v["x1"], -5.0, 10.0), "x2": _clamp(v["x2"], 0.0, 15.0)})
    if problem == "hartmann6":
        return ({f"x{i}": ng.p.Scalar(lower=0.0, upper=1.0) for i in range(1, 7)},
                lambda v: {k: _clamp(x, 0.0, 1.0) for k, x in v.items()})
    if problem == "mixed":
        kinds = ["linear", "quadratic", "abs", None]
        return (dict(x=integer(0, 40), n=ng.p.Log(lower=0.5, upper=256.5).set_integer_casting(),
                     kind=ng.p.Choice([0, 1, 2, 3])),
                lambda v: {"x": _at(-2.0, 0.1, index(v["x"], 40)), "n": min(max(int(v["n"]), 1), 256),
                           "kind": kinds[v["kind"]]})
    if problem == "conditional":
        space = {"model": ng.p.Choice(["smooth", "discrete"]), "model.smooth.x": ng.p.Scalar(lower=-3.0, upper=3.0),
                 "model.smooth.y": ng.p.Scalar(lower=-3.0, upper=3.0), "model.discrete.n": integer(0, 10),
                 "model.discrete.scale": ng.p.Log(lower=1e-3, upper=10.0)}

        def decode(v: dict) -> dict:
            if v["model"] == "smooth":
                return {"model": ("smooth", {"x": _clamp(v["model.smooth.x"], -3.0, 3.0),
                                             "y": _clamp(v["model.smooth.y"], -3.0, 3.0)})}
            return {"model": ("discrete", {"n": index(v["model.discrete.n"], 10),
                                           "scale": _clamp(v["model.discrete.scale"], 1e-3, 10.0)})}

        return space, decode
    if problem == "svm_digits":
        return (dict(C=ng.p.Log(lower=1e-2, upper=1e3), gamma=ng.p.Log(lower=1e-4, upper=1.0),
                     kernel=ng.p.Choice([0, 1])),
                lambda v: {"C": _clamp(v["C"], 1e-2, 1e3), "gamma": _clamp(v["gamma"], 1e-4, 1.0),
                           "kernel": ["rbf", "sigmoid"][v["kernel"]]})
    if problem == "gb_breast_cancer":
        return (dict(n_estimators=ng.p.Log(lower=4.5, upper=50.5).set_integer_casting(),
                     learning_rate=ng.p.Log(lower=1e-2, upper=1.0), max_depth=integer(1, 3),
                     subsample=integer(0, 5)),
                lambda v: {"n_estimators": min(max(int(v["n_estimators"]), 5), 50),
                           "learning_rate": _clamp(v["learning_rate"], 1e-2, 1.0),
                           "max_depth": min(max(int(v["max_depth"]), 1), 3),
                           "subsample": _at(0.5, 0.1, index(v["subsample"], 5))})
    raise KeyError(problem)


def _run_nevergrad(problem: str, algorithm: str, n_trials: int, seed: int, objective: Callable) -> list[float]:
    import nevergrad as ng

    from unitune.backends.nevergrad import NATIVE, NGOPT_BUDGET

    children, decode = _nevergrad_space(problem)
    parametrization = ng.p.Dict(**children)
    parametrization.random_state = np.random.RandomState(seed)
    budget = NGOPT_BUDGET if algorithm == "ngopt" else None  # unitune's default: no budget= option given
    optimizer = ng.optimizers.registry[NATIVE[algorithm]](parametrization=parametrization, budget=budget,
                                                          num_workers=1)
    values = []
    for _ in range(n_trials):
        candidate = optimizer.ask()
        value = float(objective(decode(candidate.value)))
        optimizer.tell(candidate, value)
        values.append(value)
    return values


_RUNNERS = {"optuna": _run_optuna, "hyperopt": _run_hyperopt, "skopt": _run_skopt, "nevergrad": _run_nevergrad}


def run_native(problem: str, backend: str, algorithm: str, n_trials: int, seed: int) -> pd.DataFrame:
    """One native run: rows with impl="native", run, run_seconds, backend, algorithm, seed, trial, state, value."""
    columns = ["impl", "run", "run_seconds", "backend", "algorithm", "seed", "trial", "state", "value", "duration_s"]
    if algorithm not in SUPPORTED.get(backend, ()) or PROBLEMS[problem].run_options:
        return pd.DataFrame(columns=columns)
    from unitune.threads import limited_for

    durations: list[float] = []
    objective = PROBLEMS[problem].objective

    def timed(params: dict) -> float:
        start = time.perf_counter()
        try:
            return float(objective(params))
        finally:
            durations.append(time.perf_counter() - start)

    started = time.perf_counter()
    with warnings.catch_warnings(), limited_for(backend, algorithm):
        warnings.simplefilter("ignore")
        values = _RUNNERS[backend](problem, algorithm, n_trials, seed, timed)
    run_seconds = time.perf_counter() - started
    return pd.DataFrame([
        {"impl": "native", "run": f"{backend}/{algorithm}/seed={seed}/native", "run_seconds": run_seconds,
         "backend": backend, "algorithm": algorithm, "seed": seed, "trial": i,
         "state": "complete" if value is not None and not math.isnan(value) else "failed", "value": value,
         "duration_s": durations[i] if i < len(durations) else math.nan}
        for i, value in enumerate(values)
    ], columns=columns)
