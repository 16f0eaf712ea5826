"""Every primitive's domain, grid and Python type, on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import unitune as ut

from .helpers import sample


def test_uniform_continuous_in_bounds(backend):
    _, seen = sample(backend, {"x": ut.uniform(-2.0, 3.0)})
    xs = [p["x"] for p in seen]
    assert all(type(x) is float and -2.0 <= x <= 3.0 for x in xs)
    assert len(set(xs)) > len(xs) // 2  # continuous: values do not repeat much


def test_uniform_step_grid_exact_and_both_ends(backend):
    dim = ut.uniform(0.0, 0.3, step=0.1)
    grid = set(dim.grid())
    _, seen = sample(backend, {"x": dim})
    xs = [p["x"] for p in seen]
    assert all(type(x) is float for x in xs)
    assert set(xs) <= grid, f"off-grid values: {set(xs) - grid}"  # 0.3, never 0.30000000000000004
    assert {0.0, 0.3} <= set(xs), f"both ends must be reachable, saw {sorted(set(xs))}"


def test_uniform_step_negative_low(backend):
    dim = ut.uniform(-0.25, 0.5, step=0.25)
    _, seen = sample(backend, {"x": dim})
    xs = {p["x"] for p in seen}
    assert xs <= set(dim.grid()) and {-0.25, 0.5} <= xs


def test_loguniform_in_bounds_and_log_spread(backend):
    _, seen = sample(backend, {"lr": ut.loguniform(1e-6, 1.0)})
    xs = np.array([p["lr"] for p in seen])
    assert all(type(p["lr"]) is float for p in seen)
    assert ((xs >= 1e-6) & (xs <= 1.0)).all()
    # log-uniform: a good share of values lies below 1e-3 (uniform would put ~0.1% there)
    assert (xs < 1e-3).mean() > 0.2


def test_integer_inclusive_bounds_and_type(backend):
    _, seen = sample(backend, {"n": ut.integer(1, 3)})
    ns = [p["n"] for p in seen]
    assert all(type(n) is int for n in ns), {type(n) for n in ns}
    assert set(ns) == {1, 2, 3}


def test_integer_step(backend):
    dim = ut.integer(0, 12, step=4)
    _, seen = sample(backend, {"n": dim})
    ns = {p["n"] for p in seen}
    assert all(type(n) is int for n in ns)
    assert ns <= {0, 4, 8, 12} and {0, 12} <= ns


def test_integer_log(backend):
    _, seen = sample(backend, {"n": ut.integer(1, 1000, log=True)})
    ns = np.array([p["n"] for p in seen])
    assert all(type(p["n"]) is int for p in seen)
    assert ((ns >= 1) & (ns <= 1000)).all()
    assert (ns < 32).mean() > 0.2  # log scale: half the mass below sqrt(1000)


def test_choice_keeps_objects_and_types(backend):
    options = [None, True, (1, 2), "adam", 3, 2.5]
    _, seen = sample(backend, {"c": ut.choice(options)})
    values = [p["c"] for p in seen]
    for v in values:
        assert any(v is o or (type(v) is type(o) and v == o) for o in options), repr(v)
        assert not isinstance(v, np.generic), f"numpy scalar leaked: {v!r}"
    assert len({repr(v) for v in values}) >= 4  # most options visited


def test_constants_and_groups_pass_through(backend):
    space = {"epochs": 20, "opt": {"lr": ut.loguniform(1e-3, 1e-1), "name": "sgd"}, "tags": ["a", "b"]}
    result, seen = sample(backend, space, n_trials=3)
    for p in seen:
        assert p["epochs"] == 20 and p["tags"] == ["a", "b"]
        assert p["opt"]["name"] == "sgd" and 1e-3 <= p["opt"]["lr"] <= 1e-1
    assert "params.epochs" not in result.table.columns  # constants are not searched dimensions
    assert "params.opt.lr" in result.table.columns


@pytest.mark.parametrize("dim", [ut.uniform(0.0, 1.0, step=0.25), ut.integer(2, 5), ut.choice(["a", "b"])])
def test_values_are_in_domain(backend, dim):
    result, seen = sample(backend, {"v": dim}, n_trials=10)
    assert all(dim.contains(p["v"]) for p in seen)
    for record in result.records:
        result.space.validate_assignment(record.params)


def test_an_all_categorical_space_runs_past_the_startup_trials_on_the_default_algorithm(backend):
    """The model phase too (TPE after its startup trials, skopt's Hamming-kernel GP), not only random search."""
    space = {"colour": ut.choice(["red", "green", "blue"]), "size": ut.choice(["s", "m", "l", "xl"]),
             "flag": ut.choice([True, False])}
    score = {"red": 0.0, "green": 1.0, "blue": 2.0, "s": 3.0, "m": 1.0, "l": 0.0, "xl": 2.0}

    result = ut.minimize(lambda p: score[p["colour"]] + score[p["size"]] + p["flag"], space, backend=backend,
                         n_trials=24, seed=0)
    assert len(result.records) == 24 and all(r.state == "complete" for r in result.records)
    for record in result.records:
        result.space.validate_assignment(record.params)
    assert result.best_value <= 1.0  # 24 trials of 24 points: the good corner is found
