"""From the trials table to the comparison: best values, regret, clipped normalized score, intervals, rank tests.

Normalized score (bayesmark-style), per run and problem, for minimization:

    score = 100 * clip((R - best) / (R - optimum), -1, 1)

where ``best`` is the run's best value at the end of its budget, ``R`` is the median of that same
quantity over all random-search runs on the problem (pooled over backends), and ``optimum`` is the
known optimum (synthetic problems) or the best value any run found (real problems).  0 means "as
good as the median random search", 100 means "found the optimum"; the clip at -100 keeps one
problem where an optimizer is far worse than random from dominating the average (as bayesmark does).

Statistics (all seeded, so a rerun prints the same numbers):

* per problem and optimizer: mean score with a percentile-bootstrap 95% interval over seeds, and a
  two-sided Mann-Whitney U test of its runs' best values against the problem's best optimizer
  (Holm-adjusted over the optimizers of that problem); ``≈ best`` marks p >= 0.05;
* overall: per block (one problem and one seed) the optimizers are ranked by their run's best value;
  the Friedman test asks whether any differ, the mean rank gets a bootstrap 95% interval over blocks,
  and the Nemenyi critical difference (alpha = 0.05) groups optimizers whose mean ranks are closer
  than it: optimizers sharing a letter are not significantly different.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .problems import PROBLEMS

ALPHA = 0.05
BOOTSTRAP = 2000
_BOOT_SEED = 0


def per_run(trials: pd.DataFrame, impl: str = "unitune") -> pd.DataFrame:
    """One row per run (of unitune, or with ``impl="native"`` of the native library): best value and times."""
    if "impl" in trials.columns:
        trials = trials[trials["impl"].fillna("unitune") == impl]
    elif impl != "unitune":
        return pd.DataFrame(columns=["problem", "run", "optimizer", "seed", "best"])
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
            "values": tuple(group["value"].astype(float)),
            "objective_s": objective_s, "optimizer_s": max(run_s - objective_s, 0.0),
        })
    return pd.DataFrame(rows)


def reference_points(runs: pd.DataFrame, optima: dict[str, float | None] | None = None) -> pd.DataFrame:
    """Per problem: the random-search median R and the optimum (known or best found).

    ``optima`` maps problem -> known optimum (None: unknown); default: each ``PROBLEMS`` entry's ``optimum``.
    """
    rows = []
    for problem, group in runs.groupby("problem", sort=False):
        random_best = group[group["optimizer"].str.endswith("/random")]["best"].dropna()
        default = PROBLEMS[problem].optimum if problem in PROBLEMS else None
        known = default if optima is None else optima.get(problem)
        rows.append({
            "problem": problem,
            "random_median": float(random_best.median()) if len(random_best) else math.nan,
            "optimum": known if known is not None else float(group["best"].min()),
            "optimum_known": known is not None,
        })
    return pd.DataFrame(rows).set_index("problem")


def normalized_score(best: float, random_median: float, optimum: float) -> float:
    """100 * (R - best) / (R - optimum), unclipped; NaN when R is unknown or equals the optimum."""
    if math.isnan(best) or math.isnan(random_median) or random_median == optimum:
        return math.nan
    return 100.0 * (random_median - best) / (random_median - optimum)


def clipped_score(best: float, random_median: float, optimum: float) -> float:
    """The normalized score clipped to [-100, 100] (bayesmark clips the normalized value to [-1, 1])."""
    score = normalized_score(best, random_median, optimum)
    return score if math.isnan(score) else min(max(score, -100.0), 100.0)


def bootstrap_ci(values, statistic=np.mean, n: int = BOOTSTRAP, seed: int = _BOOT_SEED) -> tuple[float, float]:
    """Percentile-bootstrap 95% interval of ``statistic`` over ``values`` (NaN with fewer than 2 values)."""
    data = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(data) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    stats = statistic(data[rng.integers(0, len(data), size=(n, len(data)))], axis=1)
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


def _holm(pvalues: dict[str, float]) -> dict[str, float]:
    items = sorted(pvalues.items(), key=lambda kv: kv[1])
    adjusted, running = {}, 0.0
    for i, (key, p) in enumerate(items):
        running = max(running, min(1.0, (len(items) - i) * p))
        adjusted[key] = running
    return adjusted


def _compare_to_best(runs: pd.DataFrame) -> tuple[str | None, dict[str, float]]:
    """Per optimizer of one problem: Holm-adjusted Mann-Whitney U p-value of its best values vs the best optimizer's."""
    from scipy.stats import mannwhitneyu

    means = runs.groupby("optimizer", sort=False)["score"].mean()
    if not means.dropna().empty:
        leader = means.idxmax()
    else:  # no score (the median random search already found the best value any run found): lowest mean best
        best_means = runs.groupby("optimizer", sort=False)["best"].mean().dropna()
        if best_means.empty:
            return None, {}
        leader = best_means.idxmin()
    reference = runs.loc[runs["optimizer"] == leader, "best"].dropna()
    raw = {}
    for optimizer, group in runs.groupby("optimizer", sort=False):
        if optimizer == leader:
            continue
        sample = group["best"].dropna()
        if len(sample) < 2 or len(reference) < 2:
            raw[optimizer] = math.nan
            continue
        if np.array_equal(np.sort(sample), np.sort(reference)):
            raw[optimizer] = 1.0
            continue
        raw[optimizer] = float(mannwhitneyu(sample, reference, alternative="two-sided").pvalue)
    adjusted = _holm({k: v for k, v in raw.items() if not math.isnan(v)})
    adjusted.update({k: v for k, v in raw.items() if math.isnan(v)})
    adjusted[leader] = 1.0
    return leader, adjusted


@dataclass
class RankStats:
    """The overall rank test: blocks, Friedman, Nemenyi CD, mean ranks with intervals and letter groups."""

    blocks: int
    optimizers: list[str]
    mean_rank: dict[str, float]
    rank_ci: dict[str, tuple[float, float]]
    friedman_chi2: float
    friedman_p: float
    cd: float
    groups: dict[str, str]
    separated: list[tuple[str, str]] = field(default_factory=list)  # (better, worse) pairs beyond the CD


def nemenyi_cd(k: int, n_blocks: int, alpha: float = ALPHA) -> float:
    """Nemenyi critical difference of mean ranks: q_alpha(k, inf) / sqrt(2) * sqrt(k (k + 1) / (6 N))."""
    from scipy.stats import studentized_range

    if k < 2 or n_blocks < 1:
        return math.nan
    q = float(studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)
    return q * math.sqrt(k * (k + 1) / (6.0 * n_blocks))


def letter_groups(mean_rank: dict[str, float], cd: float) -> dict[str, str]:
    """Compact letter display: optimizers in one maximal run of mean ranks spanning <= CD share a letter."""
    order = sorted(mean_rank, key=mean_rank.get)
    ranks = [mean_rank[o] for o in order]
    cliques: list[tuple[int, int]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and ranks[j + 1] - ranks[i] <= cd:
            j += 1
        if not cliques or j > cliques[-1][1]:
            cliques.append((i, j))
    letters = {o: "" for o in order}
    for n, (i, j) in enumerate(cliques):
        letter = chr(ord("a") + n) if n < 26 else f"[{n}]"
        for o in order[i:j + 1]:
            letters[o] += letter
    return letters


def rank_test(runs: pd.DataFrame) -> RankStats | None:
    """Friedman + Nemenyi over blocks (problem, seed); only blocks in which every optimizer has a run."""
    from scipy.stats import friedmanchisquare, rankdata

    wide = runs.pivot_table(index=["problem", "seed"], columns="optimizer", values="best", aggfunc="first")
    optimizers = [o for o in dict.fromkeys(runs["optimizer"]) if o in wide.columns]
    wide = wide[optimizers].dropna()
    if len(optimizers) < 2 or len(wide) < 2:
        return None
    ranks = np.vstack([rankdata(row) for row in wide.to_numpy()])  # 1 = lowest best value = best; ties averaged
    mean = ranks.mean(axis=0)
    rng = np.random.default_rng(_BOOT_SEED)
    boot = ranks[rng.integers(0, len(ranks), size=(BOOTSTRAP, len(ranks)))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    if len(optimizers) >= 3 and not np.allclose(ranks, ranks[0]):
        chi2, p = friedmanchisquare(*ranks.T)
    else:
        chi2, p = math.nan, math.nan
    cd = nemenyi_cd(len(optimizers), len(ranks))
    mean_rank = dict(zip(optimizers, map(float, mean), strict=True))
    separated = [(a, b) for a in optimizers for b in optimizers if mean_rank[b] - mean_rank[a] > cd]
    return RankStats(len(ranks), optimizers, mean_rank,
                     {o: (float(lo), float(hi)) for o, lo, hi in zip(optimizers, low, high, strict=True)},
                     float(chi2), float(p), cd, letter_groups(mean_rank, cd), separated)


def native_parity(trials: pd.DataFrame) -> pd.DataFrame:
    """Per problem and optimizer with native runs: how many runs gave the same values as the native library."""
    native = per_run(trials, impl="native")
    if native.empty:
        return pd.DataFrame()
    ours = per_run(trials).set_index(["problem", "optimizer", "seed"])
    rows = []
    for (problem, optimizer), group in native.groupby(["problem", "optimizer"], sort=False):
        identical, unitune_best = 0, []
        for r in group.itertuples():
            mine = ours.loc[(problem, optimizer, r.seed)] if (problem, optimizer, r.seed) in ours.index else None
            if mine is None:
                continue
            unitune_best.append(mine["best"])
            a, b = np.asarray(mine["values"], dtype=float), np.asarray(r.values, dtype=float)
            identical += int(len(a) == len(b) and np.allclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True))
        rows.append({"problem": problem, "optimizer": optimizer, "runs": len(group), "identical": identical,
                     "unitune_best_mean": float(np.mean(unitune_best)) if unitune_best else math.nan,
                     "native_best_mean": float(group["best"].mean())})
    return pd.DataFrame(rows)


def summarize(trials: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(per problem × optimizer table, overall table by mean rank, extra statistics)."""
    return summarize_runs(per_run(trials), native=native_parity(trials))


def summarize_runs(runs: pd.DataFrame, optima: dict[str, float | None] | None = None,
                   native: pd.DataFrame | None = None, rank_optimizers: list[str] | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``summarize`` from one row per run (``per_run``'s columns ``problem``, ``optimizer``, ``seed``, ``trials``,
    ``failed``, ``pruned``, ``best``: lower is better, ``objective_s``, ``optimizer_s``), with the known optima
    (``reference_points``).  The multi-objective summary passes the negated hypervolume as ``best``.
    ``rank_optimizers``: only these take part in the overall rank test (default: all; the test uses only
    blocks in which each of them has a run, so one optimizer run on fewer problems or seeds is left out
    of it rather than emptying it)."""
    runs = runs.copy()
    refs = reference_points(runs, optima)
    runs["score"] = [clipped_score(r.best, refs.loc[r.problem, "random_median"], refs.loc[r.problem, "optimum"])
                     for r in runs.itertuples()]
    runs["regret"] = [r.best - refs.loc[r.problem, "optimum"] if refs.loc[r.problem, "optimum_known"] else math.nan
                      for r in runs.itertuples()]
    p_vs_best: dict[tuple[str, str], float] = {}
    leaders: dict[str, str | None] = {}
    for problem, group in runs.groupby("problem", sort=False):
        leaders[problem], p_values = _compare_to_best(group)
        p_vs_best.update({(problem, o): p for o, p in p_values.items()})
    rows = []
    for (problem, optimizer), group in runs.groupby(["problem", "optimizer"], sort=False):
        n_trials = group["trials"].sum()
        low, high = bootstrap_ci(group["score"])
        p = p_vs_best.get((problem, optimizer), math.nan)
        rows.append({
            "problem": problem, "optimizer": optimizer, "seeds": len(group),
            "best_mean": group["best"].mean(), "best_std": group["best"].std(ddof=0),
            "regret_mean": group["regret"].mean(), "score": group["score"].mean(),
            "score_low": low, "score_high": high, "p_vs_best": p, "tied_with_best": bool(p >= ALPHA),
            "is_best": leaders.get(problem) == optimizer,
            "optimizer_ms_per_trial": 1e3 * group["optimizer_s"].sum() / n_trials,
            "objective_ms_per_trial": 1e3 * group["objective_s"].sum() / n_trials,
            "failed": int(group["failed"].sum()), "pruned": int(group["pruned"].sum()),
        })
    table = pd.DataFrame(rows)
    ranks = rank_test(runs if rank_optimizers is None else runs[runs["optimizer"].isin(rank_optimizers)])
    overall_rows = []
    for optimizer, group in table.groupby("optimizer", sort=False):
        mine = runs[runs["optimizer"] == optimizer]
        # bootstrap of the mean over problems of per-problem mean scores: resample seeds within each problem
        per_problem = [g["score"].dropna().to_numpy() for _, g in mine.groupby("problem", sort=False)]
        rng = np.random.default_rng(_BOOT_SEED)
        boot = [np.mean([s[rng.integers(0, len(s), len(s))].mean() for s in per_problem if len(s)])
                for _ in range(BOOTSTRAP // 4)] if per_problem else []
        low, high = (np.percentile(boot, [2.5, 97.5]) if len(boot) else (math.nan, math.nan))
        overall_rows.append({
            "optimizer": optimizer,
            "mean_rank": ranks.mean_rank.get(optimizer, math.nan) if ranks else math.nan,
            "rank_low": ranks.rank_ci[optimizer][0] if ranks and optimizer in ranks.rank_ci else math.nan,
            "rank_high": ranks.rank_ci[optimizer][1] if ranks and optimizer in ranks.rank_ci else math.nan,
            "group": ranks.groups.get(optimizer, "") if ranks else "",
            "mean_score": group["score"].mean(), "score_low": float(low), "score_high": float(high),
            "problems": int(group["problem"].nunique()),
            "tied_with_best_on": int(group["tied_with_best"].sum()),
            "optimizer_ms_per_trial": group["optimizer_ms_per_trial"].median(),
        })
    overall = pd.DataFrame(overall_rows)
    overall = overall.sort_values(["mean_rank", "mean_score"], ascending=[True, False], kind="stable") \
        .reset_index(drop=True)
    return table, overall, {"ranks": ranks, "native": native if native is not None else pd.DataFrame(), "runs": runs,
                            "refs": refs}


def fmt(value: float, digits: int = 4) -> str:
    """``value`` with ``digits`` significant digits, or "–" for None/NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}"


def lost_runs_text(row) -> str:
    """`` (2 failed) (1 pruned)`` for a per-problem table row, or nothing."""
    return "".join(f" ({n} {what})" for n, what in ((row.failed, "failed"), (row.pruned, "pruned")) if n)


def tie_text(row) -> str:
    """The "≈ best (p)" cell: ``best``, ``yes (p)``/``no (p)`` against the problem's best, ``–`` without a test."""
    if row.is_best:
        return "best"
    if math.isnan(row.p_vs_best):
        return "–"
    return f"yes ({row.p_vs_best:.2g})" if row.tied_with_best else f"no ({row.p_vs_best:.2g})"


def score_text(value: float, low: float, high: float) -> str:
    """"mean [low, high]" with one decimal (without the interval when it is NaN), or "–"."""
    if math.isnan(value):
        return "–"
    return f"{value:.1f} [{low:.1f}, {high:.1f}]" if not math.isnan(low) else f"{value:.1f}"


def separation_text(table: pd.DataFrame, ranks: RankStats | None, mode: str) -> list[str]:
    lines = ["", "## What this run can and cannot separate", ""]
    seeds = int(table["seeds"].max()) if len(table) else 0
    if ranks is None:
        return [*lines, "Too few complete blocks for a rank test.", ""]
    pairs = len(ranks.optimizers) * (len(ranks.optimizers) - 1) // 2
    lines.append(
        f"Friedman test over {ranks.blocks} blocks (problem × seed), {len(ranks.optimizers)} optimizers: "
        f"χ² = {ranks.friedman_chi2:.1f}, p = {ranks.friedman_p:.2g}. Nemenyi critical difference "
        f"(α = {ALPHA}): {ranks.cd:.2f} mean-rank units; {len(ranks.separated)} of {pairs} pairs of "
        f"optimizers are separated, the other {pairs - len(ranks.separated)} are not (same letter = not "
        f"significantly different).")
    if ranks.separated:
        shown = ", ".join(f"{a} < {b}" for a, b in ranks.separated[:12])
        more = f" and {len(ranks.separated) - 12} more" if len(ranks.separated) > 12 else ""
        lines.append(f"Separated (lower mean rank = better): {shown}{more}.")
    ties = table.groupby("problem", sort=False)["tied_with_best"].sum()
    lines.append("Per problem, optimizers not significantly different from the problem's best (Mann–Whitney U, "
                 f"Holm, {seeds} seeds each): " + ", ".join(f"{p} {int(n)}/{table['optimizer'].nunique()}"
                                                             for p, n in ties.items()) + ".")
    unscored = [str(p) for p, g in table.groupby("problem", sort=False) if g["score"].isna().all()]
    if unscored:
        lines.append(f"No score on {', '.join(unscored)}: the median random-search run already reached the best "
                     "value any run found (R = optimum, so the normalized score is 0/0); those blocks still count "
                     "in the ranks (ties share a rank), and “≈ best” compares with the lowest mean best value.")
    if mode == "quick":
        lines.append(
            f"Quick mode ({seeds} seeds, 20–25 trials) separates the clearest gaps only — a model-based optimizer "
            "against random search on a smooth synthetic problem, or one optimizer that fails a problem. It cannot "
            "rank optimizers of similar strength, nor random searches against each other (they differ by seed "
            "luck alone); score intervals of ±30 points at 5 seeds are normal. Use `--full` for a ranking.")
    lines.append("")
    return lines


def overall_lines(overall: pd.DataFrame) -> list[str]:
    """The overall table (``summarize``'s second frame) as Markdown lines: rank, group, score, ties, time."""
    lines = ["| optimizer | mean rank [95% CI] | group | mean score [95% CI] | ≈ best on "
             "| optimizer ms/trial (median) |", "|---|---:|:---:|---:|---:|---:|"]
    for r in overall.itertuples():
        rank = (f"{r.mean_rank:.2f} [{r.rank_low:.2f}, {r.rank_high:.2f}]" if not math.isnan(r.mean_rank) else "–")
        score = score_text(r.mean_score, r.score_low, r.score_high)
        lines.append(f"| {r.optimizer} | {rank} | {r.group or '–'} | {score} | {r.tied_with_best_on}/{r.problems} "
                     f"| {r.optimizer_ms_per_trial:.1f} |")
    return lines


def markdown(table: pd.DataFrame, overall: pd.DataFrame, header: str = "", stats: dict | None = None,
             mode: str = "quick") -> str:
    """The summary as Markdown: overall ranking with intervals and groups, per-problem table, parity, separations."""
    stats = stats or {}
    ranks: RankStats | None = stats.get("ranks")
    lines = [header] if header else []
    lines += [
        "## Overall",
        "",
        "Mean rank over blocks (problem × seed; 1 = best), with its bootstrap 95% interval; optimizers that share a "
        "group letter are not significantly different (Friedman + Nemenyi, α = 0.05). Score: clipped normalized "
        "score (−100 … 100; 0 = random search's median, 100 = optimum), mean over problems [bootstrap 95%].",
        "",
        *overall_lines(overall),
    ]
    lines += [
        "",
        "## Per problem",
        "",
        "Score: mean over seeds [bootstrap 95%]. ≈ best: not significantly different from the problem's best "
        "optimizer (two-sided Mann–Whitney U on the runs' best values, Holm-adjusted p ≥ 0.05).",
        "",
        "| problem | optimizer | best (mean ± std) | regret | score [95% CI] | ≈ best (p) | optimizer ms/trial "
        "| objective ms/trial |",
        "|---|---|---|---:|---:|:---:|---:|---:|",
    ]
    for r in table.itertuples():
        extra, tie = lost_runs_text(r), tie_text(r)
        lines.append(
            f"| {r.problem} | {r.optimizer} | {fmt(r.best_mean)} ± {fmt(r.best_std, 2)}{extra} "
            f"| {fmt(r.regret_mean, 3)} | {score_text(r.score, r.score_low, r.score_high)} | {tie} "
            f"| {r.optimizer_ms_per_trial:.1f} | {r.objective_ms_per_trial:.1f} |"
        )
    native = stats.get("native")
    if native is not None and len(native):
        lines += [
            "",
            "## Native parity",
            "",
            "The same problem, seed and budget run through the library directly (`--native`: optuna "
            "`study.optimize`, hyperopt `fmin(rstate=np.random.default_rng(seed))`, skopt "
            "`gp_minimize`/`forest_minimize`/`dummy_minimize`, nevergrad an ask/tell loop seeded through "
            "`parametrization.random_state`, the native space written as `ut.explain` "
            "documents it). Identical: every trial's value equal (relative 1e-9).",
            "",
            "| problem | optimizer | identical runs | unitune best (mean) | native best (mean) |",
            "|---|---|---:|---:|---:|",
        ]
        for r in native.itertuples():
            lines.append(f"| {r.problem} | {r.optimizer} | {r.identical}/{r.runs} | {fmt(r.unitune_best_mean, 6)} "
                         f"| {fmt(r.native_best_mean, 6)} |")
    lines += separation_text(table, ranks, mode)
    return "\n".join(lines) + "\n"


def best_so_far(trials: pd.DataFrame) -> pd.DataFrame:
    """Per run, the best complete value after each trial (NaN before the first complete one)."""
    if "impl" in trials.columns:
        trials = trials[trials["impl"].fillna("unitune") == "unitune"]
    out = trials[["problem", "run", "backend", "algorithm", "trial", "state", "value"]].copy()
    out = out.sort_values(["problem", "run", "trial"], kind="stable")
    value = out["value"].where(out["state"] == "complete", np.nan)
    keys = [out["problem"], out["run"]]
    # cummin leaves NaN where a trial failed; the best so far carries on through it
    out["best_so_far"] = value.groupby(keys).cummin().groupby(keys).ffill()
    return out
