"""Optuna adapter: identical suggestion sequences to native Optuna, and Optuna-specific translation quirks."""

from __future__ import annotations

import logging
import math

import pytest

optuna = pytest.importorskip("optuna")  # a partial install skips this module instead of failing to collect

import unitune as ut  # noqa: E402
from unitune.threads import fixed_threads  # noqa: E402

from .spaces import EVERY_PRIMITIVE  # noqa: E402


@pytest.fixture(autouse=True)
def _native_runs_under_the_same_thread_limit():
    """unitune pins the model-fitting algorithms' BLAS/OpenMP/torch threads; the native runs it is compared
    with run under the same limit, so the comparison does not depend on this machine's core count."""
    with fixed_threads():
        yield

FLAT = EVERY_PRIMITIVE


def native_objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    q = trial.suggest_float("q", 0.0, 0.9, step=0.05)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    n = trial.suggest_int("n", 1, 9)
    s = trial.suggest_int("s", 0, 20, step=5)
    w = trial.suggest_int("w", 2, 512, log=True)
    c = trial.suggest_categorical("c", ["a", "b", None])
    return value(dict(x=x, q=q, lr=lr, n=n, s=s, w=w, c=c))


def value(p: dict) -> float:
    return (p["x"] - 0.5) ** 2 + p["q"] + math.log10(p["lr"]) ** 2 / 10 + p["n"] / 9 + p["s"] / 20 + (p["c"] == "b")


SAMPLERS = {
    "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler,
    "cmaes": optuna.samplers.CmaEsSampler,
    "qmc": optuna.samplers.QMCSampler,
    "nsga2": optuna.samplers.NSGAIISampler,
    "gp": optuna.samplers.GPSampler,
}
N_TRIALS = {"gp": 14, "nsga2": 60, "cmaes": 25}


@pytest.mark.parametrize("algorithm", sorted(SAMPLERS))
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_same_sequence_as_native_optuna(algorithm, direction):
    n = N_TRIALS.get(algorithm, 30)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=SAMPLERS[algorithm](seed=11), direction=direction)
    study.optimize(native_objective, n_trials=n)
    native = [t.params for t in study.trials]

    run = ut.minimize if direction == "minimize" else ut.maximize
    result = run(value, FLAT, backend="optuna", algorithm=algorithm, n_trials=n, seed=11)
    ours = [r.params for r in result.records]
    assert len(ours) == len(native) == n
    for mine, theirs in zip(ours, native, strict=True):
        assert mine.keys() == theirs.keys()
        for key in mine:
            # stepped floats are snapped to the decimal grid; everything else is bit-identical
            assert mine[key] == theirs[key] or mine[key] == pytest.approx(theirs[key], rel=1e-12, abs=1e-15), key
    assert [r.value for r in result.records] == pytest.approx([t.value for t in study.trials])


def test_grid_matches_native_and_stops_when_exhausted():
    space = {"a": ut.integer(1, 3), "b": ut.choice(["x", "y"])}
    study = optuna.create_study(sampler=optuna.samplers.GridSampler({"a": [1, 2, 3], "b": ["x", "y"]}, seed=5))
    study.optimize(lambda t: t.suggest_int("a", 1, 3) + (t.suggest_categorical("b", ["x", "y"]) == "y"),
                   n_trials=6)
    result = ut.minimize(lambda p: p["a"] + (p["b"] == "y"), space, backend="optuna", algorithm="grid",
                         n_trials=100, seed=5)
    assert [r.params for r in result.records] == [t.params for t in study.trials]
    assert len(result.table) == 6 and result.stop_reason == "exhausted"


def test_grid_refuses_continuous_and_conditional_spaces():
    with pytest.raises(ut.UnsupportedFeatureError, match="'x'.*step"):
        ut.minimize(lambda p: 0.0, {"x": ut.uniform(0.0, 1.0)}, backend="optuna", algorithm="grid", n_trials=1)
    with pytest.raises(ut.UnsupportedFeatureError, match="conditional"):
        ut.minimize(lambda p: 0.0, {"m": ut.choice({"a": {"y": ut.integer(1, 2)}, "b": None})},
                    backend="optuna", algorithm="grid", n_trials=1)


def test_stepped_float_is_decimal_clean():
    # Optuna's own suggest_float(step=0.05) yields 0.8999999999999999 and the like; unitune never does.
    dim = ut.uniform(0.0, 0.9, step=0.05)
    result = ut.minimize(lambda p: -p["q"], {"q": dim}, backend="optuna", algorithm="random", n_trials=200, seed=0)
    assert set(result.table["params.q"]) <= set(dim.grid())
    assert 0.9 in set(result.table["params.q"])


def test_non_primitive_choices_are_index_encoded():
    options = [(1, 2), frozenset({3}), 1, True]  # tuples/sets are not Optuna categoricals; 1 == True confuses it
    result = ut.minimize(lambda p: 0.0, {"c": ut.choice(options)}, backend="optuna", algorithm="random",
                         n_trials=40, seed=0)
    seen = [r.params["c"] for r in result.records]
    assert {repr(v) for v in seen} == {repr(o) for o in options}
    assert any(v is True for v in seen) and any(type(v) is int and v == 1 for v in seen)
    explain = ut.explain({"c": ut.choice(options)}, backend="optuna")
    assert "index-encoded" in explain["note"].iloc[0]


def test_explain_flags_cmaes_fallbacks_and_strict_refuses():
    space = {"x": ut.uniform(0.0, 1.0), "c": ut.choice(["a", "b"])}
    table = ut.explain(space, backend="optuna", algorithm="cmaes").set_index("parameter")
    assert table.loc["x", "fidelity"] == "exact"
    assert table.loc["c", "fidelity"] == "approximated" and "independent" in table.loc["c", "note"]
    with pytest.raises(ut.ApproximationError, match="'c'"):
        ut.minimize(lambda p: 0.0, space, backend="optuna", algorithm="cmaes", n_trials=3, strict=True)
    ut.minimize(lambda p: 0.0, space, backend="optuna", algorithm="tpe", n_trials=3, strict=True)


def test_sampler_options_pass_through_and_are_checked():
    result = ut.minimize(value, FLAT, backend="optuna", algorithm="tpe", n_trials=5, seed=0, n_startup_trials=2,
                         multivariate=True)
    assert len(result.table) == 5
    with pytest.raises(ut.UnknownOptionError, match="population_size"):
        ut.minimize(value, FLAT, backend="optuna", algorithm="tpe", n_trials=5, population_size=3)


def test_optuna_logging_stays_quiet(caplog):
    optuna.logging.set_verbosity(optuna.logging.INFO)
    optuna.logging.enable_propagation()
    try:
        with caplog.at_level(logging.INFO, logger="optuna"):
            ut.minimize(value, FLAT, backend="optuna", n_trials=3, seed=0)
        assert not [r for r in caplog.records if "finished with value" in r.getMessage()]
        assert optuna.logging.get_verbosity() == optuna.logging.INFO  # restored afterwards
    finally:
        optuna.logging.disable_propagation()
        optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("scheduler", ["hyperband", "percentile", "threshold", "wilcoxon"])
def test_optuna_pruners(scheduler):
    options = {"percentile": {"percentile": 25.0, "n_startup_trials": 3}, "threshold": {"upper": 1.2}}

    def objective(p):
        for step in range(10):
            ut.report(p["x"] + 1.0 / (step + 1), step=step)
        return p["x"] + 0.1

    result = ut.minimize(objective, {"x": ut.uniform(0.0, 1.0)}, backend="optuna", algorithm="random", n_trials=30,
                         seed=0, scheduler=scheduler, scheduler_options=options.get(scheduler, {}))
    states = result.table["state"].value_counts()
    assert states.get("pruned", 0) >= 1 and states.get("complete", 0) >= 1
    pruned = result.table[result.table["state"] == "pruned"]
    assert (pruned["step"] <= 9).all() and pruned["value"].notna().all()
