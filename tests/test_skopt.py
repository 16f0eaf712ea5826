"""scikit-optimize adapter: the native sequences, and every translation trap skopt has."""

from __future__ import annotations

import math
import warnings
from collections import Counter

import numpy as np
import pytest

pytest.importorskip("skopt")  # a partial install skips this module instead of failing to collect

from skopt import dummy_minimize, forest_minimize, gbrt_minimize, gp_minimize
from skopt.space import Categorical, Real

import unitune as ut
from unitune.backends.skopt import _quantile_gbrt, _sklearn_compatible_skopt
from unitune.threads import fixed_threads


@pytest.fixture(autouse=True)
def _native_runs_under_the_same_thread_limit():
    """unitune pins the model-fitting algorithms' BLAS/OpenMP/torch threads; the native runs it is compared
    with run under the same limit, so the comparison does not depend on this machine's core count."""
    with fixed_threads():
        yield

SPACE = {
    "x": ut.uniform(-2.0, 2.0),
    "lr": ut.loguniform(1e-4, 1.0),
    "c": ut.choice(["a", "b", "c"]),
}


def value(p):
    return (p["x"] - 0.5) ** 2 + abs(math.log10(p["lr"]) + 2) + {"a": 0.0, "b": 0.5, "c": 1.0}[p["c"]]


NATIVE_DIMS = [Real(-2.0, 2.0, name="x"), Real(1e-4, 1.0, prior="log-uniform", name="lr"),
               Categorical(["a", "b", "c"], name="c")]


def native_value(x):
    return value({"x": x[0], "lr": x[1], "c": x[2]})


def _same_points(result, native_result):
    ours = [[r.params["x"], r.params["lr"], r.params["c"]] for r in result.records]
    assert len(ours) == len(native_result.x_iters)
    for mine, theirs in zip(ours, native_result.x_iters, strict=True):
        assert mine[0] == pytest.approx(theirs[0], rel=1e-12) and mine[1] == pytest.approx(theirs[1], rel=1e-12)
        assert mine[2] == theirs[2] and type(mine[2]) is str  # the user's str, not np.str_
    assert [r.value for r in result.records] == pytest.approx(native_result.func_vals)


def test_gp_expected_improvement_matches_native_gp_minimize():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native = gp_minimize(native_value, NATIVE_DIMS, acq_func="EI", n_calls=8, n_initial_points=4, random_state=3)
    ours = ut.minimize(value, SPACE, backend="skopt", n_trials=8, seed=3, n_initial_points=4)
    assert ours.algorithm == "gp"
    _same_points(ours, native)


def test_forest_and_gbrt_match_native():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native_forest = forest_minimize(native_value, NATIVE_DIMS, base_estimator="RF", n_calls=8,
                                        n_initial_points=4, random_state=5)
        from sklearn.ensemble import GradientBoostingRegressor
        from sklearn.utils import check_random_state

        # native gbrt_minimize crashes on scikit-learn >= 1.6; the same run with skopt's estimator repaired
        estimator = _quantile_gbrt()(base_estimator=GradientBoostingRegressor(n_estimators=30, loss="quantile"),
                                     random_state=check_random_state(5), n_jobs=1)
        native_gbrt = gbrt_minimize(native_value, NATIVE_DIMS, base_estimator=estimator, n_calls=8,
                                    n_initial_points=4, random_state=5)
    _same_points(ut.minimize(value, SPACE, backend="skopt", algorithm="forest", base_estimator="RF", n_trials=8,
                             seed=5, n_initial_points=4), native_forest)
    _same_points(ut.minimize(value, SPACE, backend="skopt", algorithm="gbrt", n_trials=8, seed=5,
                             n_initial_points=4), native_gbrt)


def test_random_matches_native_dummy_minimize():
    with warnings.catch_warnings(), _sklearn_compatible_skopt():
        warnings.simplefilter("ignore")
        native = dummy_minimize(native_value, NATIVE_DIMS, n_calls=20, random_state=9)
    _same_points(ut.minimize(value, SPACE, backend="skopt", algorithm="random", n_trials=20, seed=9), native)


def test_native_gbrt_and_random_are_broken_on_this_scikit_learn_and_ours_are_not():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((AttributeError, ValueError)):
            dummy_minimize(native_value, NATIVE_DIMS, n_calls=3, random_state=0)
        with pytest.raises(ValueError, match="regressor"):
            gbrt_minimize(native_value, NATIVE_DIMS, n_calls=12, random_state=0)
    for algorithm in ("gbrt", "random"):
        result = ut.minimize(value, SPACE, backend="skopt", algorithm=algorithm, n_trials=14, seed=0,
                             **({"n_initial_points": 5} if algorithm == "gbrt" else {}))
        assert (result.table["state"] == "complete").all() and len(result.table) == 14


def test_integers_keep_both_ends_at_full_weight_under_the_gp():
    # skopt's GP normalizes Integer(1, 3) to [0, 1] and rounds: 1 and 3 would get 25% each, 2 gets 50%.
    space = {"n": ut.integer(1, 3), "k": ut.uniform(0.0, 0.2, step=0.1)}
    result = ut.minimize(lambda p: 0.0, space, backend="skopt", algorithm="gp", n_trials=600, seed=0,
                         n_initial_points=600)
    for column, values in (("params.n", [1, 2, 3]), ("params.k", [0.0, 0.1, 0.2])):
        counts = Counter(result.table[column])
        assert set(counts) == set(values)
        assert min(counts.values()) > 150, counts  # ~200 each; half weight would give ~150 at the ends


def test_log_integers_keep_their_log_share_at_the_ends():
    result = ut.minimize(lambda p: 0.0, {"n": ut.integer(1, 4, log=True)}, backend="skopt", algorithm="random",
                         n_trials=2000, seed=0)
    share = result.table["params.n"].value_counts(normalize=True)
    expected = {k: (math.log(k + 0.5) - math.log(k - 0.5)) / (math.log(4.5) - math.log(0.5)) for k in range(1, 5)}
    for k, p in expected.items():
        assert share[k] == pytest.approx(p, abs=0.03)
    assert all(type(v) is int for v in (r.params["n"] for r in result.records))


def test_any_objects_as_categories_on_the_gp():
    options = [(1, 2), None, True, 2.5]  # tuples crash skopt natively
    result = ut.minimize(lambda p: 0.0 if p["c"] is None else 1.0, {"c": ut.choice(options), "x": ut.uniform(0, 1)},
                         backend="skopt", n_trials=12, seed=0, n_initial_points=8)
    seen = [r.params["c"] for r in result.records]
    assert {repr(v) for v in seen} <= {repr(o) for o in options}
    assert not any(isinstance(v, np.generic) for v in seen)
    assert any(v is None for v in seen)


def test_failures_before_any_finite_value_are_held_then_told_as_the_worst():
    calls = []

    def objective(p):
        calls.append(p)
        if len(calls) <= 3:
            raise RuntimeError("early failure")
        if len(calls) % 4 == 0:
            return float("nan")
        return value(p)

    study = ut.Study(SPACE, backend="skopt", algorithm="gp", seed=1, n_initial_points=6)
    records = study.optimize(objective, n_trials=12).records
    adapter = study._adapter
    told = np.asarray(adapter.optimizer.yi)
    assert len(told) == 12 and np.isfinite(told).all()  # every trial told, none raw
    finite = [r.value for r in records if r.state == "complete"]
    assert [r.state for r in records[:3]] == ["failed"] * 3
    # the three early failures were told (late) as the first finite value; later failures as the worst so far
    assert told[0] == finite[0] and list(told[1:4]) == [finite[0]] * 3
    for y, r in zip(told[4:], records[4:], strict=True):
        worst = max(v.value for v in records[: r.number + 1] if v.state == "complete")
        assert y == (r.value if r.state == "complete" else worst)


def test_infinite_values_never_reach_skopt_and_the_gp_keeps_working():
    def objective(p):
        return math.inf if p["x"] < 0 else value(p)

    result = ut.minimize(objective, SPACE, backend="skopt", n_trials=14, seed=2, n_initial_points=6)
    assert len(result.table) == 14 and math.isfinite(result.best_value)
    late = result.table.iloc[6:]
    assert (late["params.x"] >= 0).mean() >= 0.5  # the GP learned where the finite values are


def test_maximize_negates_what_skopt_is_told():
    result = ut.maximize(lambda p: -value(p), SPACE, backend="skopt", n_trials=10, seed=4, n_initial_points=5)
    minimized = ut.minimize(value, SPACE, backend="skopt", n_trials=10, seed=4, n_initial_points=5)
    assert [r.params for r in result.records] == [r.params for r in minimized.records]
    assert result.best_value == -minimized.best_value


def test_conditional_params_are_flattened_and_marked_approximated():
    space = {"m": ut.choice({"a": {"x": ut.uniform(0.0, 1.0)}, "b": {"n": ut.integer(1, 3)}})}
    table = ut.explain(space, backend="skopt").set_index("parameter")
    assert table.loc["m", "fidelity"] == "exact"
    assert table.loc["m.a.x", "fidelity"] == "approximated" and "flattened" in table.loc["m.a.x", "note"]
    with pytest.raises(ut.ApproximationError, match="m.a.x"):
        ut.minimize(lambda p: 0.0, space, backend="skopt", n_trials=2, strict=True)
    ut.minimize(lambda p: 0.0, SPACE, backend="skopt", algorithm="random", n_trials=2, strict=True)


@pytest.mark.parametrize(("option", "bad"), [("acq", "UCB"), ("base_estimator", "GBRT"),
                                              ("initial_point_generator", "sobel"), ("n_initial_points", 0)])
def test_invalid_options_fail_before_the_run(option, bad):
    algorithm = "forest" if option == "base_estimator" else "gp"
    with pytest.raises(ut.InvalidRunError, match=option):
        ut.minimize(lambda p: 1 / 0, SPACE, backend="skopt", algorithm=algorithm, n_trials=2, **{option: bad})


@pytest.mark.parametrize("acq", ["PI", "LCB", "hedge"])
def test_acquisition_functions(acq):
    result = ut.minimize(value, SPACE, backend="skopt", n_trials=6, seed=0, n_initial_points=5, acq=acq)
    assert (result.table["state"] == "complete").all()
