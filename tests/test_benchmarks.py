"""The benchmark suite: problem optima, the score, and a small end-to-end run of the main command."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from benchmarks.__main__ import main
from benchmarks.problems import PROBLEMS, synthetic
from benchmarks.summary import normalized_score, summarize


@pytest.mark.parametrize("x1, x2", [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)])
def test_branin_minimizers(x1, x2):
    assert synthetic.branin({"x1": x1, "x2": x2}) == pytest.approx(synthetic.BRANIN_OPTIMUM, abs=1e-5)


def test_hartmann6_minimizer():
    x = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
    value = synthetic.hartmann6({f"x{i + 1}": v for i, v in enumerate(x)})
    assert value == pytest.approx(synthetic.HARTMANN6_OPTIMUM, abs=1e-5)


def test_mixed_and_conditional_optima_are_reachable_in_their_spaces():
    assert synthetic.mixed({"x": 0.7, "n": 16, "kind": "quadratic"}) == synthetic.MIXED_OPTIMUM
    assert synthetic.MIXED_SPACE["x"].contains(0.7) and synthetic.MIXED_SPACE["n"].contains(16)
    assert synthetic.conditional({"model": ("discrete", {"n": 3, "scale": 1.0})}) == synthetic.CONDITIONAL_OPTIMUM
    assert synthetic.conditional({"model": ("smooth", {"x": 1.0, "y": -0.5})}) == pytest.approx(0.2)


def test_normalized_score():
    assert normalized_score(best=0.0, random_median=10.0, optimum=0.0) == 100.0
    assert normalized_score(best=10.0, random_median=10.0, optimum=0.0) == 0.0
    assert normalized_score(best=15.0, random_median=10.0, optimum=0.0) == -50.0
    assert math.isnan(normalized_score(best=1.0, random_median=0.0, optimum=0.0))


def _run_rows(problem, optimizer, seed, values, run_seconds=1.0):
    backend, algorithm = optimizer.split("/")
    return [{"problem": problem, "run": f"{optimizer}/seed={seed}", "run_seconds": run_seconds, "backend": backend,
             "algorithm": algorithm, "seed": seed, "trial": i, "state": "complete", "value": v, "duration_s": 0.1}
            for i, v in enumerate(values)]


def test_summary_on_a_hand_made_table():
    rows = (_run_rows("branin", "a/random", 0, [5.0, 3.0]) + _run_rows("branin", "b/random", 0, [4.0, 7.0])
            + _run_rows("branin", "a/tpe", 0, [2.0, 0.397887]))
    table, overall = summarize(pd.DataFrame(rows))
    table = table.set_index("optimizer")
    # random median of the best values = median(3, 4) = 3.5; optimum 0.397887 is known for branin
    assert table.loc["a/tpe", "score"] == pytest.approx(100.0)
    assert table.loc["a/random", "score"] == pytest.approx(100 * (3.5 - 3.0) / (3.5 - 0.397887))
    assert table.loc["a/tpe", "regret_mean"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["a/tpe", "optimizer_ms_per_trial"] == pytest.approx(1e3 * (1.0 - 0.2) / 2)
    assert table.loc["a/tpe", "objective_ms_per_trial"] == pytest.approx(100.0)
    assert overall["optimizer"].iloc[0] == "a/tpe"


def _quick(out, *extra):
    args = ["--problems", "branin", "conditional", "--backends", "optuna", "hyperopt:anneal", "--trials", "6",
            "--seeds", "0", "1", "--jobs", "1", "--no-progress", "--out", str(out), *extra]
    assert main(args) == 0
    return pd.read_csv(out / "trials.csv")


def test_main_command_end_to_end_and_reproducible(tmp_path, capsys):
    trials = _quick(tmp_path / "a")
    for name in ("summary.md", "report.html", "convergence_branin.png", "convergence_conditional.png"):
        assert (tmp_path / "a" / name).stat().st_size > 500, name
    assert {"problem", "run", "run_seconds", "trial", "backend", "algorithm", "seed", "state", "value",
            "params.x1", "params.model.smooth.x", "duration_s"} <= set(trials.columns)
    assert set(trials["run"].str.rsplit("/", n=1).str[0]) == {"optuna/tpe", "optuna/random", "hyperopt/anneal"}
    assert len(trials) == 2 * 3 * 2 * 6
    printed = capsys.readouterr().out
    assert "| branin | optuna/tpe |" in printed and "mean normalized score" in printed
    html = (tmp_path / "a" / "report.html").read_text()
    assert "data:image/png;base64," in html and "conditional" in html
    again = _quick(tmp_path / "b")
    pd.testing.assert_series_equal(trials["value"], again["value"])  # same seeds, same numbers


def test_every_problem_is_described():
    for problem in PROBLEMS.values():
        assert problem.quick_trials <= problem.full_trials and problem.kind in {"synthetic", "real", "multi-fidelity"}
