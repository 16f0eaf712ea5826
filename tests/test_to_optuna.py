"""Result.to_optuna(): every backend's run as an Optuna study that Optuna's own tools accept."""

from __future__ import annotations

import math
import warnings

import numpy as np
import optuna
import pytest

import unitune as ut
from unitune.integrations import categorical_labels

SPACE = {
    "lr": ut.loguniform(1e-4, 1e-1),
    "dropout": ut.uniform(0.0, 0.5, step=0.05),
    "width": ut.integer(8, 256, log=True),
    "act": ut.choice(["relu", None, (1, 2), {"k": 1}]),
    "model": ut.choice({
        "svm": {"C": ut.loguniform(1e-2, 1e2), "kernel": ut.choice(["rbf", "linear"])},
        "forest": {"depth": ut.integer(2, 12)},
    }),
}


def objective(params):
    kind, sub = params["model"]
    extra = math.log10(sub["C"]) ** 2 if kind == "svm" else sub["depth"] / 10
    value = (math.log10(params["lr"]) + 2.5) ** 2 + params["dropout"] + extra + (params["act"] is None)
    for step in range(3):
        ut.report(value + 2 - step, step=step)
    return {"loss": value, "acc": 1 / (1 + value)}


TRIALS = {"ray": 6, "skopt": 8}


def _run(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ut.minimize(objective, SPACE, backend=backend, n_trials=TRIALS.get(backend, 12), seed=3,
                           metric="loss")


def test_plots_and_importance_build_for_each_backend(backend):
    result = _run(backend)
    study = result.to_optuna()

    assert len(study.trials) == len(result.records)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert study.user_attrs["unitune.backend"] == backend
    assert study.user_attrs["unitune.algorithm"] == result.algorithm
    assert study.user_attrs["unitune.seed"] == 3
    assert study.metric_names == ["loss"]
    by_number = {r.number: r for r in result.records}
    for trial in study.trials:
        record = by_number[trial.user_attrs["unitune.trial"]]
        assert set(trial.params) == set(record.params)  # conditional params only where active
        assert trial.value == pytest.approx(record.value)
        assert trial.user_attrs["metrics.acc"] == pytest.approx(record.metrics["acc"])
        assert trial.params["act"] in ("relu", "None", "(1, 2)", "{'k': 1}")
        assert trial.intermediate_values == dict(record.intermediate)
    assert study.best_value == pytest.approx(result.best_value)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        figures = {
            "history": optuna.visualization.plot_optimization_history(study),
            "parallel": optuna.visualization.plot_parallel_coordinate(study),
            "slice": optuna.visualization.plot_slice(study),
            "importance": optuna.visualization.plot_param_importances(study),
        }
        importances = optuna.importance.get_param_importances(study, evaluator=None)
    for name, figure in figures.items():
        assert figure.data, name
    assert len(figures["history"].data[0].x) == len(study.trials)
    axes = set(figures["parallel"].layout.xaxis.ticktext)  # Optuna 5 draws it with lines, one axis per param
    assert axes == {"Objective Value", *result.space.paths}
    assert set(importances) <= set(result.space.paths) and importances
    assert sum(importances.values()) == pytest.approx(1.0)


def test_states_intermediate_values_timestamps_and_attributes():
    calls = []

    def flaky(params):
        calls.append(1)
        if len(calls) % 4 == 0:
            raise RuntimeError("no convergence")
        x = params["x"]
        for step in range(4):
            ut.report(x + 4 - step, step=step)  # pruned when above the threshold
        return x

    result = ut.maximize(flaky, {"x": ut.uniform(0.0, 10.0), "c": ut.choice([True, None])}, backend="optuna",
                         algorithm="random", n_trials=16, seed=1, scheduler="threshold",
                         scheduler_options={"upper": 11.0})
    states = {s: sum(r.state == s for r in result.records) for s in ("complete", "pruned", "failed")}
    assert states["failed"] == 4 and states["pruned"] > 0 and states["complete"] > 0

    study = result.to_optuna(study_name="flaky")
    assert study.study_name == "flaky"
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    optuna_states = {"complete": optuna.trial.TrialState.COMPLETE, "pruned": optuna.trial.TrialState.PRUNED,
                     "failed": optuna.trial.TrialState.FAIL}
    assert [t.user_attrs["unitune.trial"] for t in study.trials] == sorted(r.number for r in result.records)
    for record in result.records:
        trial = study.trials[record.number]
        assert trial.number == record.number
        assert trial.state == optuna_states[record.state]
        assert trial.intermediate_values == dict(record.intermediate)
        assert trial.datetime_start == record.started.astimezone().replace(tzinfo=None)
        assert trial.datetime_complete == record.finished.astimezone().replace(tzinfo=None)
        assert trial.params["c"] in ("True", "None")
        if record.state == "failed":
            assert trial.value is None
            assert trial.user_attrs["error"] == "RuntimeError: no convergence"
            assert trial.system_attrs["fail_reason"] == "RuntimeError: no convergence"
        else:
            assert trial.value == record.value  # a pruned trial keeps its last reported value
    assert study.best_value == result.best_value
    # Optuna's own samplers can continue from the exported history
    study.optimize(lambda t: t.suggest_float("x", 0.0, 10.0), n_trials=2)
    assert len(study.trials) == 18


def test_categorical_labels_are_readable_and_unique():
    assert categorical_labels(("a", "b")) == ("a", "b")
    assert categorical_labels((1, 2.5)) == (1, 2.5)
    numpy_labels = categorical_labels((np.int64(3), np.float32(0.5)))
    assert numpy_labels == (3, 0.5) and [type(x) for x in numpy_labels] == [int, float]
    labels = categorical_labels(("None", None, (1, 2), {"k": [1]}, True, len))
    assert labels == ("None", "None#2", "(1, 2)", "{'k': [1]}", "True", "len")
    assert len(set(categorical_labels(tuple(object() for _ in range(3))))) == 3


def test_matplotlib_plots_build():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    study = _run("optuna").to_optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for plot in ("plot_optimization_history", "plot_parallel_coordinate", "plot_slice",
                     "plot_param_importances", "plot_intermediate_values"):
            axes = getattr(optuna.visualization.matplotlib, plot)(study)
            assert axes is not None
            plt.close("all")
