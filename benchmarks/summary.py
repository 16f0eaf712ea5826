"""From the trials table to the comparison: best values, regret, normalized score, time split.

Normalized score (bayesmark-style), per run and problem, for minimization:

    score = 100 * (R - best) / (R - optimum)

where ``best`` is the run's best value at the end of its budget, ``R`` is the median of that same
quantity over all random-search runs on the problem (pooled over backends), and ``optimum`` is the
known optimum (synthetic problems) or the best value any run found (real problems).  0 means "as
good as the median random search", 100 means "found the optimum"; below 0 is worse than random.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .problems import PROBLEMS


def per_run(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per run: best value, trials, objective and optimizer seconds."""
    rows = []
    for (problem, run), group in trials.groupby(["problem", "run"], sort=False):
        complete = group[group["state"] == "complete"]["value"]
        objective_s = float(group["duration_s"].sum())
        run_s = float(group["run_seconds"].iloc[0])
        rows.append({
            "problem": problem, "run": run, "optimizer": f"{group['backend'].iloc[0]}/{group['algorithm'].iloc[0]}",
            "seed": group["seed"].iloc[0], "trials": len(group), "failed": int((group["state"] == "failed").sum()),
            "pruned": int((group["state"] == "pruned").sum()),
            "best": float(complete.min()) if len(complete) else math.nan,
            "objective_s": objective_s, "optimizer_s": max(run_s - objective_s, 0.0),
        })
    return pd.DataFrame(rows)


def reference_points(runs: pd.DataFrame) -> pd.DataFrame:
    """Per problem: the random-search median R and the optimum (known or best found)."""
    rows = []
    for problem, group in runs.groupby("problem", sort=False):
        random_best = group[group["optimizer"].str.endswith("/random")]["best"].dropna()
        known = PROBLEMS[problem].optimum if problem in PROBLEMS else None
        rows.append({
            "problem": problem,
            "random_median": float(random_best.median()) if len(random_best) else math.nan,
            "optimum": known if known is not None else float(group["best"].min()),
            "optimum_known": known is not None,
        })
    return pd.DataFrame(rows).set_index("problem")


def normalized_score(best: float, random_median: float, optimum: float) -> float:
    """100 * (R - best) / (R - optimum); NaN when R is unknown or equals the optimum."""
    if math.isnan(best) or math.isnan(random_median) or random_median == optimum:
        return math.nan
    return 100.0 * (random_median - best) / (random_median - optimum)


def summarize(trials: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per problem × optimizer table, overall mean score per optimizer)."""
    runs = per_run(trials)
    refs = reference_points(runs)
    runs["score"] = [normalized_score(r.best, refs.loc[r.problem, "random_median"], refs.loc[r.problem, "optimum"])
                     for r in runs.itertuples()]
    runs["regret"] = [r.best - refs.loc[r.problem, "optimum"] if refs.loc[r.problem, "optimum_known"] else math.nan
                      for r in runs.itertuples()]
    rows = []
    for (problem, optimizer), group in runs.groupby(["problem", "optimizer"], sort=False):
        n_trials = group["trials"].sum()
        rows.append({
            "problem": problem, "optimizer": optimizer, "seeds": len(group),
            "best_mean": group["best"].mean(), "best_std": group["best"].std(ddof=0),
            "regret_mean": group["regret"].mean(), "score": group["score"].mean(),
            "optimizer_ms_per_trial": 1e3 * group["optimizer_s"].sum() / n_trials,
            "objective_ms_per_trial": 1e3 * group["objective_s"].sum() / n_trials,
            "failed": int(group["failed"].sum()), "pruned": int(group["pruned"].sum()),
        })
    table = pd.DataFrame(rows)
    overall = (table.groupby("optimizer", sort=False)
               .agg(mean_score=("score", "mean"), problems=("problem", "count"),
                    optimizer_ms_per_trial=("optimizer_ms_per_trial", "median"))
               .sort_values("mean_score", ascending=False).reset_index())
    return table, overall


def _fmt(value: float, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}"


def markdown(table: pd.DataFrame, overall: pd.DataFrame, header: str = "") -> str:
    """The summary as Markdown: the per-problem table, then the overall ranking."""
    lines = [header] if header else []
    lines += [
        "| problem | optimizer | best (mean ± std) | regret | score | optimizer ms/trial | objective ms/trial |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in table.itertuples():
        extra = "".join(f" ({n} {what})" for n, what in ((r.failed, "failed"), (r.pruned, "pruned")) if n)
        lines.append(
            f"| {r.problem} | {r.optimizer} | {_fmt(r.best_mean)} ± {_fmt(r.best_std, 2)}{extra} "
            f"| {_fmt(r.regret_mean, 3)} | {_fmt(r.score, 3)} | {r.optimizer_ms_per_trial:.1f} "
            f"| {r.objective_ms_per_trial:.1f} |"
        )
    lines += ["", "| optimizer | mean normalized score | problems | optimizer ms/trial (median) |",
              "|---|---:|---:|---:|"]
    for r in overall.itertuples():
        lines.append(f"| {r.optimizer} | {_fmt(r.mean_score, 3)} | {r.problems} | {r.optimizer_ms_per_trial:.1f} |")
    return "\n".join(lines) + "\n"


def best_so_far(trials: pd.DataFrame) -> pd.DataFrame:
    """Per run, the best complete value after each trial (NaN before the first complete one)."""
    out = trials[["problem", "run", "backend", "algorithm", "trial", "state", "value"]].copy()
    out = out.sort_values(["problem", "run", "trial"], kind="stable")
    value = out["value"].where(out["state"] == "complete", np.nan)
    keys = [out["problem"], out["run"]]
    # cummin leaves NaN where a trial failed; the best so far carries on through it
    out["best_so_far"] = value.groupby(keys).cummin().groupby(keys).ffill()
    return out
