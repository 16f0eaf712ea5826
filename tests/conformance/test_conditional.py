"""Conditional spaces: both branches visited, inactive params absent, nesting, table layout."""

from __future__ import annotations

import math

import unitune as ut

from .helpers import sample

SPACE = {
    "lr": ut.loguniform(1e-4, 1e-1),
    "model": ut.choice({
        "svm": {"C": ut.loguniform(1e-3, 1e3), "kernel": ut.choice(["rbf", "linear"])},
        "forest": {"n_estimators": ut.integer(10, 500, log=True), "depth": ut.choice([None, 4, 8])},
        "dummy": None,
    }),
}


def test_conditional_branches_and_inactive_params(backend):
    result, seen = sample(backend, SPACE)
    labels = {p["model"][0] for p in seen}
    assert labels == {"svm", "forest", "dummy"}, labels
    for p in seen:
        label, sub = p["model"]
        if label == "svm":
            assert set(sub) == {"C", "kernel"} and 1e-3 <= sub["C"] <= 1e3 and sub["kernel"] in ("rbf", "linear")
        elif label == "forest":
            assert set(sub) == {"n_estimators", "depth"} and type(sub["n_estimators"]) is int
            assert sub["depth"] in (None, 4, 8)
        else:
            assert sub is None
    for record in result.records:
        result.space.validate_assignment(record.params)  # exactly the active params, each in its domain
    table = result.table
    svm_rows = table[table["params.model"] == "svm"]
    assert svm_rows["params.model.forest.n_estimators"].isna().all()
    assert svm_rows["params.model.svm.C"].notna().all()


def test_nested_conditional(backend):
    space = {
        "outer": ut.choice({
            "a": {"inner": ut.choice({"x": {"v": ut.uniform(0.0, 1.0)}, "y": {"w": ut.integer(1, 5)}})},
            "b": {"u": ut.uniform(-1.0, 0.0)},
        })
    }
    result, seen = sample(backend, space)
    kinds = set()
    for p in seen:
        label, sub = p["outer"]
        if label == "a":
            inner_label, inner = sub["inner"]
            kinds.add(f"a.{inner_label}")
            assert set(inner) == ({"v"} if inner_label == "x" else {"w"})
        else:
            kinds.add("b")
            assert -1.0 <= sub["u"] <= 0.0
    assert kinds == {"a.x", "a.y", "b"}
    assert list(result.table.columns[6:11]) == [
        "params.outer", "params.outer.a.inner", "params.outer.a.inner.x.v", "params.outer.a.inner.y.w",
        "params.outer.b.u",
    ]


def test_best_params_shaped_as_objective_saw_them(backend):
    def objective(p):
        label, _ = p["model"]
        return {"svm": 1.0, "forest": 2.0, "dummy": 3.0}[label] + p["lr"]

    result, _ = sample(backend, SPACE, objective)
    best = result.best_params
    assert best["model"][0] == "svm"
    assert math.isclose(result.best_value, objective(best))
