"""Nevergrad adapter: the native sequences for every algorithm, and the translation and failure rules."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

pytest.importorskip("nevergrad")  # a partial install skips this module instead of failing to collect

import nevergrad as ng

import unitune as ut
from unitune.backends.nevergrad import NATIVE, NGOPT_BUDGET, NevergradBackend

SPACE = {
    "x": ut.uniform(-2.0, 2.0),
    "lr": ut.loguniform(1e-4, 1.0),
    "n": ut.integer(1, 5),
    "c": ut.choice(["a", "b", "c"]),
}


def value(p):
    return (p["x"] - 0.5) ** 2 + abs(math.log10(p["lr"]) + 2) + 0.3 * p["n"] + {"a": 0.0, "b": 0.5, "c": 1.0}[p["c"]]


def native_parametrization(seed: int):
    """The parametrization ut.explain documents, written with Nevergrad directly."""
    parametrization = ng.p.Dict(
        x=ng.p.Scalar(lower=-2.0, upper=2.0),
        lr=ng.p.Log(lower=1e-4, upper=1.0),
        n=ng.p.Scalar(lower=0.5, upper=5.5).set_integer_casting(),
        c=ng.p.Choice([0, 1, 2]),
    )
    parametrization.random_state = np.random.RandomState(seed)
    return parametrization


def native_run(optimizer_name: str, n_trials: int, seed: int, sign: float = 1.0, budget: int | None = None):
    """Nevergrad's own ask/tell loop: the params it proposed, in order, and the values."""
    if budget is None and optimizer_name == "NGOpt":
        budget = NGOPT_BUDGET  # unitune's default where no budget= is given (NGOpt refuses None)
    optimizer = ng.optimizers.registry[optimizer_name](parametrization=native_parametrization(seed),
                                                       budget=budget, num_workers=1)
    seen = []
    for _ in range(n_trials):
        candidate = optimizer.ask()
        v = candidate.value
        params = {"x": v["x"], "lr": v["lr"], "n": int(v["n"]), "c": ["a", "b", "c"][v["c"]]}
        seen.append(params)
        optimizer.tell(candidate, sign * value(params))
    return seen


@pytest.mark.parametrize("budget", [None, 25])
@pytest.mark.parametrize("algorithm", list(NATIVE))
def test_same_seed_gives_the_native_sequence(algorithm, budget):
    n_trials = 25
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native = native_run(NATIVE[algorithm], n_trials, seed=4, budget=budget)
    options = {} if budget is None else {"budget": budget}
    result = ut.minimize(value, SPACE, backend="nevergrad", algorithm=algorithm, n_trials=n_trials, seed=4,
                         **options)
    ours = [r.params for r in result.records]
    assert len(ours) == n_trials
    for mine, theirs in zip(ours, native, strict=True):
        assert mine["x"] == pytest.approx(theirs["x"], rel=1e-12, abs=1e-12)
        assert mine["lr"] == pytest.approx(theirs["lr"], rel=1e-12)
        assert mine["n"] == theirs["n"] and type(mine["n"]) is int
        assert mine["c"] == theirs["c"] and type(mine["c"]) is str
    # and seeded: the same again
    again = ut.minimize(value, SPACE, backend="nevergrad", algorithm=algorithm, n_trials=n_trials, seed=4,
                        **options)
    assert [r.params for r in again.records] == ours


def test_maximize_tells_the_negated_value():
    native = native_run("PSO", 15, seed=2, sign=-1.0)
    result = ut.maximize(value, SPACE, backend="nevergrad", algorithm="pso", n_trials=15, seed=2)
    assert [r.params["n"] for r in result.records] == [p["n"] for p in native]
    assert [r.params["x"] for r in result.records] == pytest.approx([p["x"] for p in native])


def test_every_algorithm_is_a_real_nevergrad_optimizer_named_in_explain():
    for algorithm, native in NATIVE.items():
        assert native in ng.optimizers.registry
        table = ut.explain(SPACE, backend="nevergrad", algorithm=algorithm)
        assert table["native"].str.contains(native).all()


def test_failures_are_told_as_the_worst_finite_loss_never_nan():
    calls = []

    def objective(p):
        calls.append(p)
        if len(calls) <= 2:
            raise RuntimeError("early failure")
        if len(calls) % 4 == 0:
            return float("nan")
        return value(p)

    study = ut.Study(SPACE, backend="nevergrad", algorithm="de", seed=1)
    records = study.optimize(objective, n_trials=16).records
    told = [loss for _, loss in study._adapter.history()]
    assert len(told) == len(records) == 16
    finite = [r.value for r in records if r.state == "complete"]
    assert all(t is not None and math.isfinite(t) for t in told)
    assert max(told) == pytest.approx(max(finite))
    assert sum(r.state == "failed" for r in records) == 2 + 16 // 4 - 0  # 2 raised + NaN on calls 4, 8, 12, 16


def test_any_objects_as_choices_and_step_grids_exact():
    options = [(1, 2), None, True, 2.5]
    space = {"c": ut.choice(options), "s": ut.uniform(0.0, 0.3, step=0.1), "k": ut.integer(0, 12, step=4),
             "w": ut.integer(1, 1000, log=True)}
    result = ut.minimize(lambda p: 0.0, space, backend="nevergrad", algorithm="random", n_trials=200, seed=0)
    seen = [r.params for r in result.records]
    assert {repr(p["c"]) for p in seen} == {repr(o) for o in options}
    assert not any(isinstance(p["c"], np.generic) for p in seen)
    assert {p["s"] for p in seen} == {0.0, 0.1, 0.2, 0.3}
    assert {p["k"] for p in seen} == {0, 4, 8, 12}
    ws = np.array([p["w"] for p in seen])
    assert ((ws >= 1) & (ws <= 1000)).all() and (ws < 32).mean() > 0.3


def test_num_workers_is_the_first_batch_or_the_option():
    study = ut.Study(SPACE, backend="nevergrad", algorithm="pso", seed=0)
    batch = study.ask(3)
    assert study._adapter.optimizer.num_workers == 3 and len(batch) == 3
    study = ut.Study(SPACE, backend="nevergrad", algorithm="de", seed=0)
    result = study.optimize(value, n_trials=8, n_jobs=2, executor="thread")
    assert study._adapter.optimizer.num_workers == 2 and len(result.records) == 8
    study = ut.Study(SPACE, backend="nevergrad", algorithm="pso", seed=0, num_workers=5)
    study.ask()
    assert study._adapter.optimizer.num_workers == 5
    with pytest.raises(ut.InvalidRunError, match="num_workers"):
        ut.Study(SPACE, backend="nevergrad", num_workers=0)
    with pytest.raises(ut.InvalidRunError, match="budget"):
        ut.Study(SPACE, backend="nevergrad", budget=0.5)
    # the budget is the option (NGOpt: 100 without one), never the run's n_trials
    study = ut.Study(SPACE, backend="nevergrad", seed=0)
    study.optimize(value, n_trials=3)
    assert study._adapter.optimizer.budget == NGOPT_BUDGET


def test_enqueued_points_go_through_suggest_and_history_is_told():
    point = {"x": 0.5, "lr": 0.01, "n": 1, "c": "a"}
    study = ut.Study(SPACE, backend="nevergrad", algorithm="oneplusone", seed=0)
    study.enqueue(point)
    result = study.optimize(value, n_trials=5)
    assert result.records[0].params == point
    history = study._adapter.history()
    assert history[0][0] == point and history[0][1] == pytest.approx(value(point))
    # a warm start: the other study's trials are told to Nevergrad before its first ask
    warm = ut.Study(SPACE, backend="nevergrad", algorithm="oneplusone", seed=0, warm_start=result)
    warm.ask()
    assert len(warm._adapter.history()) == 5
    assert warm._adapter.optimizer.num_tell == 5


def test_adapter_does_not_import_nevergrad_at_module_level():
    import subprocess
    import sys

    code = "import sys, unitune.backends.nevergrad, unitune as ut; ut.explain({'x': ut.uniform(0, 1)}, 'nevergrad');" \
           "print('nevergrad' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert NevergradBackend.default_algorithm == "ngopt"


def test_cma_on_one_dimension_runs_fcma_or_says_what_to_install(monkeypatch):
    import importlib.util

    space = {"x": ut.uniform(0.0, 0.001)}
    if importlib.util.find_spec("fcmaes") is not None:  # the extra brings it: Nevergrad's FCMA runs
        result = ut.minimize(lambda p: (p["x"] - 3e-4) ** 2, space, backend="nevergrad", algorithm="cma", n_trials=8,
                             seed=0)
        assert (result.table["state"] == "complete").all()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fcmaes" else real(name, *a))
    with pytest.raises(ut.UnsupportedFeatureError, match=r"one-dimensional.*optuna.*pip install"):
        ut.minimize(lambda p: 0.0, space, backend="nevergrad", algorithm="cma", n_trials=1)
    ut.minimize(lambda p: 0.0, {**space, "y": ut.uniform(0.0, 1.0)}, backend="nevergrad", algorithm="cma", n_trials=2)


def test_a_process_that_still_holds_a_study_exits():
    """NGOpt on a small continuous space runs a scipy method in a Nevergrad thread that waits for the next tell;
    natively, a process holding such an optimizer at exit hangs.  The adapter stops those threads at exit."""
    import subprocess
    import sys

    code = ("import unitune as ut\n"
            "study = ut.Study({'x': ut.uniform(-5.0, 10.0), 'y': ut.uniform(0.0, 15.0)}, backend='nevergrad', seed=0)\n"
            "study.optimize(lambda p: (p['x'] - 1) ** 2 + p['y'], n_trials=10)\n"
            "print(type(study._adapter.optimizer.optim).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "MinimizeBase" in out  # a recast (threaded) optimizer was the one NGOpt picked


def two_values(p):
    return value(p), -((p["x"] + 0.5) ** 2 + p["n"] / 5)  # the second maximized


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize("algorithm", ["ngopt", "pso", "de", "random"])
def test_several_objectives_and_constraints_give_the_native_sequence(algorithm, constrained):
    """Nevergrad's multi-objective tell (a list of losses, maximized ones negated) and its constraint_violation=."""
    n_trials, seed = 30, 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        budget = NGOPT_BUDGET if algorithm == "ngopt" else None
        optimizer = ng.optimizers.registry[NATIVE[algorithm]](parametrization=native_parametrization(seed),
                                                               budget=budget, num_workers=1)
        native = []
        for _ in range(n_trials):
            candidate = optimizer.ask()
            v = candidate.value
            params = {"x": v["x"], "lr": v["lr"], "n": int(v["n"]), "c": ["a", "b", "c"][v["c"]]}
            native.append(params)
            f1, f2 = two_values(params)
            if constrained:
                optimizer.tell(candidate, [f1, -f2], constraint_violation=[params["x"] - 1.0])
            else:
                optimizer.tell(candidate, [f1, -f2])
    def objective(p):  # the constraint value is a metric the objective returns
        f1, f2 = two_values(p)
        return {"f1": f1, "f2": f2, "cx": p["x"] - 1.0}

    result = ut.optimize(objective, SPACE, backend="nevergrad", algorithm=algorithm, n_trials=n_trials, seed=seed,
                         directions=["minimize", "maximize"], metrics=["f1", "f2"],
                         **({"constraints": ["cx"]} if constrained else {}))
    ours = [r.params for r in result.records]
    for mine, theirs in zip(ours, native, strict=True):
        assert mine["x"] == pytest.approx(theirs["x"], rel=1e-12, abs=1e-12)
        assert (mine["n"], mine["c"]) == (theirs["n"], theirs["c"])
    assert result.table["pareto"].any()
    if constrained:
        assert result.table["feasible"].tolist() == (result.table["params.x"] <= 1.0).tolist()
