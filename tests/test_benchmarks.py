"""The benchmark suite: problem optima, the score, and a small end-to-end run of the main command."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.__main__ import main
from benchmarks.problems import PROBLEMS, synthetic
from benchmarks.summary import clipped_score, letter_groups, nemenyi_cd, normalized_score, summarize


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


def test_clipped_score_bounds_one_bad_problem():
    assert clipped_score(best=1000.0, random_median=10.0, optimum=0.0) == -100.0
    assert clipped_score(best=5.0, random_median=10.0, optimum=0.0) == 50.0


def test_nemenyi_critical_difference_matches_the_published_table():
    # Demsar (2006), table 5: q_0.05 = 2.343 for k = 3, 2.569 for k = 4
    assert nemenyi_cd(3, 10) == pytest.approx(2.343 * math.sqrt(3 * 4 / 60), rel=1e-3)
    assert nemenyi_cd(4, 20) == pytest.approx(2.569 * math.sqrt(4 * 5 / 120), rel=1e-3)


def test_letter_groups_join_only_optimizers_closer_than_the_cd():
    groups = letter_groups({"a": 1.0, "b": 1.5, "c": 3.0, "d": 3.2}, cd=1.0)
    assert groups == {"a": "a", "b": "a", "c": "b", "d": "b"}
    assert letter_groups({"a": 1.0, "b": 1.8, "c": 2.6}, cd=1.0) == {"a": "a", "b": "ab", "c": "b"}


def test_rank_test_separates_a_clearly_better_optimizer_and_not_two_equal_ones():
    rows = []
    for problem in ("branin", "mixed"):
        for seed in range(8):
            rows += _run_rows(problem, "a/good", seed, [0.0 + 0.01 * seed])
            rows += _run_rows(problem, "b/random", seed, [5.0 + seed])
            rows += _run_rows(problem, "c/random", seed, [5.0 + seed + (0.5 if seed % 2 else -0.5)])
    table, overall, stats = summarize(pd.DataFrame(rows))
    ranks = stats["ranks"]
    assert ranks.blocks == 16 and ranks.friedman_p < 0.01
    assert ("a/good", "b/random") in ranks.separated and ("a/good", "c/random") in ranks.separated
    assert ("b/random", "c/random") not in ranks.separated and ("c/random", "b/random") not in ranks.separated
    assert overall["optimizer"].iloc[0] == "a/good" and overall["mean_rank"].iloc[0] == 1.0
    groups = dict(zip(overall["optimizer"], overall["group"], strict=True))
    assert groups["a/good"] != groups["b/random"] and groups["b/random"] == groups["c/random"]
    per = table.set_index(["problem", "optimizer"])
    assert per.loc[("branin", "a/good"), "is_best"]
    assert not per.loc[("branin", "b/random"), "tied_with_best"]  # 8 vs 8 seeds, no overlap: p < 0.05
    low, high = per.loc[("branin", "b/random"), ["score_low", "score_high"]]
    assert low < per.loc[("branin", "b/random"), "score"] < high


def test_a_problem_whose_random_median_reaches_the_best_value_has_no_score_but_still_a_best():
    """svm_digits at 50 trials: error rates are multiples of 1/600 and the median random run hits the best one."""
    from benchmarks.summary import markdown

    rows = []
    for seed in range(6):
        rows += _run_rows("svm_digits", "a/random", seed, [0.03, 0.02])
        rows += _run_rows("svm_digits", "b/random", seed, [0.02])
        rows += _run_rows("svm_digits", "c/tpe", seed, [0.02 + 0.01 * (seed % 2), 0.05])
        rows += _run_rows("svm_digits", "d/bad", seed, [0.08, 0.07 + 0.001 * seed])
    table, overall, stats = summarize(pd.DataFrame(rows))
    per = table.set_index("optimizer")
    assert per["score"].isna().all()
    assert per.loc["a/random", "is_best"]  # lowest mean best (ties resolved by order)
    assert per.loc["b/random", "tied_with_best"] and not per.loc["d/bad", "tied_with_best"]
    text = markdown(table, overall, stats=stats, mode="full")
    assert "No score on svm_digits: the median random-search run already reached the best value" in text


def _run_rows(problem, optimizer, seed, values, run_seconds=1.0):
    backend, algorithm = optimizer.split("/")
    return [{"problem": problem, "run": f"{optimizer}/seed={seed}", "run_seconds": run_seconds, "backend": backend,
             "algorithm": algorithm, "seed": seed, "trial": i, "state": "complete", "value": v, "duration_s": 0.1}
            for i, v in enumerate(values)]


def test_summary_on_a_hand_made_table():
    rows = (_run_rows("branin", "a/random", 0, [5.0, 3.0]) + _run_rows("branin", "b/random", 0, [4.0, 7.0])
            + _run_rows("branin", "a/tpe", 0, [2.0, 0.397887]))
    table, overall, _ = summarize(pd.DataFrame(rows))
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
    assert "| branin | optuna/tpe |" in printed and "mean rank [95% CI]" in printed and "Friedman" in printed
    html = (tmp_path / "a" / "report.html").read_text()
    assert "data:image/png;base64," in html and "conditional" in html
    again = _quick(tmp_path / "b")
    pd.testing.assert_series_equal(trials["value"], again["value"])  # same seeds, same numbers


def test_every_problem_is_described():
    for problem in PROBLEMS.values():
        assert problem.quick_trials <= problem.full_trials and problem.kind in {"synthetic", "real", "multi-fidelity"}


def test_native_parity_column_shows_identical_runs(tmp_path, capsys):
    from benchmarks.summary import native_parity

    args = ["--native", "--problems", "mixed", "conditional", "--backends", "hyperopt:tpe", "optuna:cmaes",
            "skopt:forest", "--trials", "12", "--seeds", "3", "--jobs", "1", "--no-progress", "--out", str(tmp_path)]
    assert main(args) == 0
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert set(trials["impl"]) == {"unitune", "native"}
    parity = native_parity(trials)
    assert len(parity) == 2 * 3 and (parity["identical"] == parity["runs"]).all() and (parity["runs"] == 1).all()
    assert (parity["unitune_best_mean"] == parity["native_best_mean"]).all()
    assert "## Native parity" in (tmp_path / "summary.md").read_text()
    # the native rows do not count as extra runs in the comparison itself
    assert "| mixed | hyperopt/tpe |" in capsys.readouterr().out


COMMITTED = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "quick"


def test_a_rerun_reproduces_the_committed_quick_results(tmp_path):
    """README: rerunning with the same seeds reproduces the numbers — checked on a subset of the committed run.

    skopt's GP on `conditional` is the run that gave another trajectory with 2 BLAS threads (issue 14), and with
    OpenBLAS's SkylakeX kernels instead of its Haswell ones (conftest.py pins the portable kernels).
    """
    committed = pd.read_csv(COMMITTED / "runs.csv")
    args = ["--problems", "conditional", "--backends", "skopt:gp", "hyperopt:tpe", "--seeds", "0", "--jobs", "1",
            "--no-progress", "--out", str(tmp_path)]
    assert main(args) == 0
    again = pd.read_csv(tmp_path / "runs.csv")
    assert len(again) == 2
    merged = again.merge(committed, on=["problem", "optimizer", "seed"], suffixes=("", "_committed"),
                         validate="one_to_one")
    assert len(merged) == len(again)
    assert (merged["trials"] == merged["trials_committed"]).all()
    assert merged["best"].tolist() == pytest.approx(merged["best_committed"].tolist(), rel=1e-12, abs=1e-15)
    # and the committed summary was built from those runs: its best means are the committed runs' means
    summary = (COMMITTED / "summary.md").read_text()
    for (problem, optimizer), group in committed.groupby(["problem", "optimizer"]):
        if problem == "conditional" and optimizer in ("skopt/gp", "hyperopt/tpe"):
            assert f"| {problem} | {optimizer} | {group['best'].mean():.4g} ± " in summary
