"""Several objectives and constraints on every backend: natively where it can, the precise refusal elsewhere.

A backend that cannot is declared in profiles.py (``multi_objective``/``constraints`` with the exception), and
the test asserts that it refuses before the first trial — the objective is never called.
"""

from __future__ import annotations

import math

import pytest

import unitune as ut
from unitune.registry import get_backend

from .helpers import run_or_expect
from .profiles import profile

SPACE = {"x": ut.uniform(0.0, 1.0), "y": ut.uniform(0.0, 1.0), "k": ut.choice(["a", "b"])}
METRICS = ["f1", "f2"]


def zdt1(p):
    """Two conflicting objectives (ZDT1 in two variables; 'b' is a little worse on both)."""
    f1 = p["x"]
    g = 1.0 + 9.0 * p["y"] + (p["k"] == "b")
    return f1, g * (1.0 - math.sqrt(f1 / g))


def brute_force_pareto(points: list[tuple[float, float] | None]) -> list[bool]:
    """Non-dominated among the given points (None: not a candidate), all minimized, by definition."""
    def dominates(a, b):
        return a[0] <= b[0] and a[1] <= b[1] and (a[0] < b[0] or a[1] < b[1])
    return [p is not None and not any(q is not None and dominates(q, p) for q in points) for p in points]


def _run(backend: str, objective, n_trials: int | None = None, **kwargs):
    calls = []

    def counted(p):
        calls.append(1)
        return objective(p)

    kwargs.setdefault("algorithm", profile(backend).sampling_algorithm)
    result = ut.optimize(counted, SPACE, backend=backend, n_trials=n_trials or 12, seed=0, **kwargs)
    return result, calls


def test_two_objectives_give_values_columns_a_correct_pareto_column_and_best_trials(backend):
    def run():
        return _run(backend, zdt1, directions=["minimize", "minimize"], metrics=METRICS)

    result, calls = run_or_expect(backend, "multi_objective", run)
    table = result.table
    assert len(table) == 12 and (table["state"] == "complete").all()
    assert len(calls) == (12 if profile(backend).objective_in_driver else 0)  # (Ray: in its workers)
    assert list(table.columns[:9]) == ["trial", "backend", "algorithm", "seed", "state", "value", "values.f1",
                                       "values.f2", "feasible"]
    assert "pareto" in table.columns and "metrics.f1" not in table.columns
    # the values are what the objective returned, in order; value is the first objective
    for row in table.to_dict("records"):
        expected = zdt1({"x": row["params.x"], "y": row["params.y"], "k": row["params.k"]})
        assert (row["values.f1"], row["values.f2"]) == pytest.approx(expected)
    assert table["value"].tolist() == table["values.f1"].tolist()
    assert table["pareto"].tolist() == brute_force_pareto(list(zip(table["values.f1"], table["values.f2"],
                                                                  strict=True)))
    assert table["feasible"].all()
    front = result.best_trials
    assert [r.number for r in front] == table.loc[table["pareto"], "trial"].tolist() and front
    with pytest.raises(ut.SeveralObjectivesError, match="best_trials"):
        result.best  # noqa: B018
    with pytest.raises(ut.SeveralObjectivesError):
        result.best_value  # noqa: B018


def test_maximized_objective_and_constraints_decide_feasible_and_pareto(backend):
    # f1 minimized, -f2 maximized: the same front as (f1, f2) minimized; feasible only when f1 <= 0.5
    def objective(p):
        f1, f2 = zdt1(p)
        return {"f1": f1, "neg_f2": -f2, "extra": 7}

    def run():
        return _run(backend, objective, n_trials=16, directions=["minimize", "maximize"], metrics=["f1", "neg_f2"],
                    constraints=lambda m: [m["f1"] - 0.5])

    result, _ = run_or_expect(backend, "multi_objective", run)
    table = result.table
    assert table["metrics.extra"].tolist() == [7.0] * len(table)  # other entries of the dict stay metrics
    assert table["feasible"].tolist() == (table["values.f1"] <= 0.5).tolist()
    candidates = [(f1, -nf2) if ok else None for f1, nf2, ok in
                  zip(table["values.f1"], table["values.neg_f2"], table["feasible"], strict=True)]
    assert table["pareto"].tolist() == brute_force_pareto(candidates)
    assert all(r.info["constraints"] == [pytest.approx(r.metrics["f1"] - 0.5)] for r in result.records)


def test_constraints_with_one_objective_keep_the_best_feasible(backend):
    def missing_metric():
        return _run(backend, lambda p: {"x": p["x"]}, n_trials=4, metrics=["x"], constraints=["c"])

    # a constraint naming a metric the objective does not return fails the trial (nothing else is lost)
    result, _ = run_or_expect(backend, "constraints", missing_metric)
    assert set(result.table["state"]) == {"failed"}
    assert result.table["error"].str.contains("constraint metric 'c'").all()
    result, _ = _run(backend, lambda p: {"x": p["x"], "c": 0.3 - p["x"]}, n_trials=12, metrics=["x"],
                     constraints=["c"])
    table = result.table
    assert table["feasible"].tolist() == (table["params.x"] >= 0.3).tolist()
    feasible = table[table["feasible"]]
    if len(feasible):
        assert result.best_value == feasible["value"].min()


def test_stop_rules_watch_the_objective_metric_names_and_refuse_without_one(backend):
    def no_metric():
        return _run(backend, zdt1, directions=["minimize", "minimize"], metrics=METRICS,
                    callbacks=[ut.TargetReached(0.5)])

    # with several objectives a one-value rule must be told which objective to watch: refused before any trial
    if "multi_objective" in get_backend(backend).features:
        with pytest.raises(ut.InvalidRunError, match=r"TargetReached\(0.5\) watches one value.*metric= one of "
                                                     r"\['f1', 'f2'\]"):
            no_metric()
        for rule in (ut.NoImprovement(2), ut.TargetReached(0.5, metric="f3")):
            with pytest.raises(ut.InvalidRunError, match="metric"):
                _run(backend, zdt1, directions=["minimize", "minimize"], metrics=METRICS, callbacks=[rule])
    # maximized second objective: the rule compares in that objective's direction
    result, _ = run_or_expect(backend, "multi_objective", lambda: _run(
        backend, lambda p: (p["x"], 10 * p["y"]), n_trials=30, directions=["minimize", "maximize"], metrics=METRICS,
        callbacks=[ut.TargetReached(7.0, metric="f2")]))
    table = result.table
    reached = table[table["values.f2"] >= 7.0]
    assert len(reached) >= 1 and result.stop_reason.startswith("stopped: TargetReached(7.0, metric='f2'): trial ")
    first = int(reached["trial"].min())
    assert f"trial {first} reached" in result.stop_reason
    assert (table["values.f2"].iloc[:first] < 7.0).all()


def test_stop_rules_count_feasible_trials_only(backend):
    # the objective reaches the target only where the constraint is violated: the rule never fires
    def run():
        return _run(backend, lambda p: {"x": p["x"], "c": p["x"] - 0.5}, n_trials=10, metrics=["x"],
                    direction="maximize", constraints=["c"], callbacks=[ut.TargetReached(0.5)])

    result, _ = run_or_expect(backend, "constraints", run)
    assert result.stop_reason == "n_trials" and len(result.table) == 10
    assert (result.table["params.x"] > 0.5).any()  # there were infeasible trials above the target


RETURNS = [(0.1,), (0.1, 0.2, 0.3), (0.1, math.nan), 0.4, {"f1": 1.0}, (0.1, "x"), (0.5, 0.5)]
ERRORS = ["ValueError: expected 2 values (f1, f2), the objective returned 1: [0.1]",
          "ValueError: expected 2 values (f1, f2), the objective returned 3: [0.1, 0.2, 0.3]",
          "ValueError: the objective returned NaN for 'f2'",
          "TypeError: expected 2 values (f1, f2), the objective returned float 0.4",
          "KeyError: the objective's result has no metric 'f2' (expected 2 values (f1, f2), got ['f1'])",
          "TypeError: objective 'f2' is str 'x', not a number",
          None]


def test_bad_values_fail_the_trial_naming_expected_and_got(backend):
    def run():
        return ut.optimize(lambda p: RETURNS[p["case"]], {"case": ut.integer(0, 6)}, backend=backend, seed=0,
                           algorithm=profile(backend).sampling_algorithm, n_trials=20,
                           directions=["minimize", "minimize"], metrics=METRICS)

    result = run_or_expect(backend, "multi_objective", run)
    table = result.table
    assert len(set(table["params.case"])) >= 4
    for row in table.to_dict("records"):
        assert row["error"] == ERRORS[row["params.case"]]
        assert row["state"] == ("complete" if row["params.case"] == 6 else "failed")


def test_a_constraint_function_that_raises_fails_that_trial_only(backend):
    def constraints(m):
        if m["f1"] > 0.5:
            raise ZeroDivisionError("boom")
        return [0.0]

    def run():
        return _run(backend, zdt1, directions=["minimize", "minimize"], metrics=METRICS, constraints=constraints)

    result, _ = run_or_expect(backend, "multi_objective", run)
    table = result.table
    high = table["values.f1"] > 0.5
    assert (table.loc[high, "state"] == "failed").all()
    assert (table.loc[high, "error"] == "constraints: ZeroDivisionError: boom").all()
    assert (table.loc[~high, "state"] == "complete").all() and table.loc[~high, "feasible"].all()


def test_refused_before_the_first_trial_naming_who_can(backend):
    cls = get_backend(backend)
    if "multi_objective" in cls.features:
        pytest.skip(f"{backend} runs several objectives")
    with pytest.raises(ut.UnsupportedFeatureError, match=r"several objectives.*Backends that do: .*optuna") as info:
        _run(backend, zdt1, directions=["minimize", "minimize"])
    assert info.value.backend == backend


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"directions": ["minimize", "maximize"], "metrics": ["a"]}, "different lengths: 2 directions"),
    ({"directions": ["minimize", "up"]}, "'up' is not 'minimize' or 'maximize'"),
    ({"directions": ["minimize", "minimize"], "metrics": ["a", "a"]}, "distinct names"),
    ({"directions": "minimize"}, "non-empty list"),
    ({"directions": ["minimize", "minimize"], "direction": "maximize"}, "not both"),
    ({"directions": ["minimize", "minimize"], "constraints": 3}, "constraints must be"),
    ({"directions": ["minimize", "minimize"], "metrics": ["a", "b"], "metric": "c"}, "must be one of"),
])
def test_bad_objective_settings_are_refused_before_any_trial(backend, kwargs, message):
    with pytest.raises(ut.InvalidRunError, match=message):
        ut.Study(SPACE, backend=backend, **kwargs)


def test_ask_and_tell_with_several_values(backend):
    cls = get_backend(backend)
    if "ask_tell" not in cls.features or "multi_objective" not in cls.features:
        pytest.skip(f"{backend}: ask/tell with several objectives is covered by the refusals")
    study = ut.Study(SPACE, backend=backend, directions=["minimize", "minimize"], metrics=METRICS, seed=0)
    trials = study.ask(3)
    for trial in reversed(trials):  # any order
        study.tell(trial, zdt1(trial.params))
    study.tell(study.ask(), {"f1": 0.0, "f2": 0.0})
    table = study.table
    assert table["state"].tolist() == ["complete"] * 4
    assert table["pareto"].tolist() == [False, False, False, True]
    record = study.tell(study.ask(), (1.0,))
    assert record.state == "failed" and "expected 2 values" in record.error


def test_stored_study_with_several_objectives_resumes_and_loads(backend, tmp_path):
    cls = get_backend(backend)
    if "multi_objective" not in cls.features:
        pytest.skip(f"{backend} refuses several objectives (test_refused_before_the_first_trial_naming_who_can)")
    db = str(tmp_path / "runs.db")
    settings = {"directions": ["minimize", "minimize"], "metrics": METRICS, "storage": db, "name": "mo",
                "resume": True, "constraints": lambda m: [m["f1"] - 0.8]}
    first, _ = _run(backend, zdt1, n_trials=5, **settings)
    second, _ = _run(backend, zdt1, n_trials=9, **settings)
    assert len(second.table) == 9 and second.table["trial"].tolist()[:5] == first.table["trial"].tolist()
    loaded = ut.load(db, "mo")
    cols = ["trial", "values.f1", "values.f2", "feasible", "pareto"]
    assert loaded.table[cols].equals(second.table[cols])
    assert loaded.best_trials and loaded.table["feasible"].tolist() == (loaded.table["values.f1"] <= 0.8).tolist()
    with pytest.raises(ut.InvalidRunError, match="objectives f1 \\(minimize\\), f2 \\(minimize\\)"):
        ut.Study(SPACE, backend=backend, directions=["minimize", "maximize"], metrics=METRICS, storage=db,
                 name="mo", resume=True, algorithm=profile(backend).sampling_algorithm)
    with pytest.raises(ut.InvalidRunError, match="one objective"):
        ut.Study(SPACE, backend=backend, storage=db, name="mo", resume=True,
                 algorithm=profile(backend).sampling_algorithm)


def test_parallel_trials_with_several_objectives(backend):
    cls = get_backend(backend)
    if "multi_objective" not in cls.features or "n_jobs" not in cls.features:
        pytest.skip(f"{backend}: several objectives are refused (test_refused_before_the_first_trial_naming_who_can)")
    result, _ = _run(backend, zdt1, n_trials=8, directions=["minimize", "minimize"], metrics=METRICS, n_jobs=2,
                     **({} if cls.name == "ray" else {"executor": "thread"}))
    table = result.table
    assert len(table) == 8 and (table["state"] == "complete").all()
    assert table["pareto"].tolist() == brute_force_pareto(list(zip(table["values.f1"], table["values.f2"],
                                                                  strict=True)))


def test_a_store_written_before_several_objectives_reads_and_resumes_as_before(tmp_path):
    """tests/fixtures/store_before_objectives.db was written by unitune before this feature (commit 71eda57):
    the objectives live in the study's options and the values with the trial's metrics, so no migration."""
    import json
    import shutil
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    db = tmp_path / "old.db"
    shutil.copy(fixtures / "store_before_objectives.db", db)
    expected = json.loads((fixtures / "store_before_objectives.json").read_text())
    loaded = ut.load(str(db), "old")
    table = loaded.table
    assert "pareto" not in table.columns and "feasible" not in table.columns
    assert table["trial"].tolist() == [row["trial"] for row in expected]
    assert table["value"].tolist() == [row["value"] for row in expected]
    assert table["metrics.size"].tolist() == [row["metrics.size"] for row in expected]
    assert loaded.best_value == min(row["value"] for row in expected)
    space = {"x": ut.uniform(0.0, 1.0), "k": ut.choice(["a", "b"])}
    with pytest.raises(ut.InvalidRunError, match="objectives \\(one objective\\)"):
        ut.Study(space, backend="optuna", storage=str(db), name="old", resume=True,
                 directions=["minimize", "minimize"])
    resumed = ut.minimize(lambda p: {"loss": p["x"], "size": 3}, space, backend="optuna", metric="loss",
                          n_trials=8, seed=0, storage=str(db), name="old", resume=True)
    assert len(resumed.table) == 8 and resumed.table["value"].tolist()[:6] == table["value"].tolist()
    both = ut.optimize(lambda p: (p["x"], 1 - p["x"]), space, backend="optuna", directions=["minimize"] * 2,
                       n_trials=3, seed=0, storage=str(db), name="new")
    assert ut.load(str(db), "new").table["pareto"].tolist() == both.table["pareto"].tolist()
