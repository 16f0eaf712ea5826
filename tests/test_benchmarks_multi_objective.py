"""The multi-objective benchmark: problems, hypervolume, optimizer choice and a small run of the real command."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.__main__ import main
from benchmarks.multi_objective import (
    hypervolume,
    hypervolume_curve,
    losses,
    multi_objective_entries,
    summarize,
)
from benchmarks.problems import MULTI_OBJECTIVE_PROBLEMS, multi_objective


def _box(problem) -> float:
    return float(np.prod(np.subtract(problem.reference, problem.ideal)))


@pytest.mark.parametrize("name", ["zdt1", "zdt2"])
def test_zdt_pareto_set_gives_the_front_and_the_best_hypervolume(name):
    problem = MULTI_OBJECTIVE_PROBLEMS[name]
    f1 = np.linspace(0.0, 1.0, 4001)
    values = np.array([problem.objective({"x1": v, **{f"x{i}": 0.0 for i in range(2, 7)}}) for v in f1])
    assert values[:, 1] == pytest.approx(problem.front(f1), abs=1e-12)
    # a dense sample of the true front approaches the exact hypervolume from below
    volume = hypervolume(values, problem.reference)
    assert volume < problem.best_hypervolume < volume + 1e-3
    assert problem.best_hypervolume < _box(problem)
    worst = problem.objective({f"x{i}": 1.0 for i in range(1, 7)})
    assert all(v < r for v, r in zip(worst, problem.reference, strict=True))  # the whole space is inside the box


def test_hypervolume_is_optunas_and_ignores_points_outside_the_box():
    from optuna._hypervolume import compute_hypervolume

    points = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1], [0.6, 0.6]])
    assert hypervolume(points, (1.0, 1.0)) == pytest.approx(compute_hypervolume(points, np.array([1.0, 1.0])))
    assert hypervolume([[0.5, 0.5], [2.0, 0.0], [0.0, 1.0]], (1.0, 1.0)) == pytest.approx(0.25)
    assert hypervolume(np.empty((0, 2)), (1.0, 1.0)) == 0.0


def test_largest_forest_stays_inside_rf_digits_reference_box():
    problem = MULTI_OBJECTIVE_PROBLEMS["rf_digits"]
    values = multi_objective.rf_digits({"n_estimators": 16, "max_depth": 10, "min_samples_leaf": 1,
                                        "max_features": 1.0})
    assert 0.0 <= values["error"] < problem.reference[0]
    assert math.log10(16) < values["log10_nodes"] < problem.reference[1]


def test_optimizers_are_the_backends_that_take_several_objectives():
    labels = {e.label for e in multi_objective_entries(None, ["zdt1", "rf_digits"], quiet=True)}
    assert {"optuna/nsga2", "optuna/tpe", "optuna/random", "optuna/qmc"} <= labels
    assert not {"optuna/cmaes", "optuna/grid", "optuna/gp"} & labels  # refused / --full only
    assert not any(label.split("/")[0] in ("hyperopt", "skopt") for label in labels)
    assert "optuna/gp" in {e.label for e in multi_objective_entries(["optuna"], ["zdt1"], full=True, quiet=True)}
    with pytest.raises(SystemExit, match="cmaes"):
        multi_objective_entries(["optuna:cmaes"], ["zdt1"])


def test_a_multi_objective_problem_needs_the_flag():
    with pytest.raises(SystemExit, match="--multi-objective"):
        main(["--problems", "zdt1", "--out", "unused"])


def test_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "mo"
    args = ["--multi-objective", "--problems", "zdt1", "--backends", "optuna:random", "optuna:tpe", "optuna:nsga2",
            "--trials", "14", "--seeds", "0", "1", "--jobs", "1", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    for name in ("trials_multi_objective.csv", "runs_multi_objective.csv", "summary_multi_objective.md",
                 "report_multi_objective.html", "pareto_zdt1.png", "hypervolume_zdt1.png"):
        assert (out / name).stat().st_size > 300, name
    trials = pd.read_csv(out / "trials_multi_objective.csv")
    assert {"problem", "run", "trial", "backend", "algorithm", "seed", "state", "value", "values.f1", "values.f2",
            "feasible", "pareto", "params.x1"} <= set(trials.columns)
    assert len(trials) == 3 * 2 * 14
    runs = pd.read_csv(out / "runs_multi_objective.csv")
    problem = MULTI_OBJECTIVE_PROBLEMS["zdt1"]
    assert len(runs) == 6 and (runs["hypervolume"] > 0).all() and (runs["hypervolume"] <= _box(problem)).all()
    from optuna._hypervolume import compute_hypervolume

    for r in runs.itertuples():
        run = trials[(trials["backend"] + "/" + trials["algorithm"] == r.optimizer) & (trials["seed"] == r.seed)]
        front = run[run["pareto"]][["values.f1", "values.f2"]].to_numpy()
        assert r.hypervolume == pytest.approx(compute_hypervolume(front, np.array(problem.reference)), rel=1e-12)
        curve = hypervolume_curve(run, problem)
        assert (np.diff(curve) >= 0).all() and curve[-1] == pytest.approx(r.hypervolume, rel=1e-12)
        assert len(losses(run, problem)) == 14
    summary = (out / "summary_multi_objective.md").read_text()
    printed = capsys.readouterr().out
    for text in ("mean rank [95% CI]", "Friedman test over 2 blocks", "Nemenyi critical difference",
                 "| zdt1 | optuna/tpe |", "hypervolume [95% CI]"):
        assert text in summary and text in printed, text
    assert "data:image/png;base64," in (out / "report_multi_objective.html").read_text()
    # --summarize rebuilds the same summary from the folder
    assert main(["--multi-objective", "--summarize", str(out)]) == 0
    assert (out / "summary_multi_objective.md").read_text() == summary
    table, overall, stats = summarize(trials)
    assert set(overall["optimizer"]) == {"optuna/random", "optuna/tpe", "optuna/nsga2"}
    assert stats["ranks"].blocks == 2 and (table["hv_mean"] > 0).all()
