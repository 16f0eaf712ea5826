"""``python -m benchmarks --multi-objective``: every optimizer that takes several objectives, by hypervolume.

Problems: ``MULTI_OBJECTIVE_PROBLEMS`` (ZDT1, ZDT2 and a random forest's error against its size, see
``benchmarks/problems/multi_objective.py``).  Optimizers: every installed backend that declares the
``multi_objective`` feature, with each of its algorithms that accepts the problems with several objectives
(a ``ut.Study`` is built to ask; Optuna's CMA-ES and grid refuse); Optuna's GP only with ``--full`` (with two
objectives 0.3 s per trial over a run's first 50 trials, 0.7 s over the next 50, on the 2-core VM).
Optuna's QMC runs scrambled (``scramble=True``): unscrambled, every seed gets the same Sobol points (only
the first trial, drawn at random, differs), and the first of them is the origin, on ZDT's Pareto set.

Per run, the hypervolume of its feasible Pareto front (the table's ``pareto`` rows) with respect to the
problem's fixed reference point, computed by Optuna's WFG implementation; per trial, the hypervolume of
the front so far (the convergence curve).  The summary is the single-objective one (``benchmarks/summary.py``)
applied to the negated hypervolume: per problem and optimizer the mean hypervolume with a bootstrap 95%
interval over seeds, the clipped normalized score (0 = median random search, 100 = the true front's
hypervolume or the best any run reached), Mann–Whitney U against the problem's best, and overall the
Friedman test, mean ranks with bootstrap intervals and Nemenyi groups over blocks (problem × seed).

Writes ``trials_multi_objective.csv`` (the unified table + ``problem``, ``run``, ``run_seconds``),
``runs_multi_objective.csv`` (one row per run: its hypervolume), ``summary_multi_objective.md`` (also
printed), ``pareto_<problem>.png``, ``hypervolume_<problem>.png`` and ``report_multi_objective.html``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .problems import MULTI_OBJECTIVE_PROBLEMS, MultiObjectiveProblem
from .runner import Entry, available_backends, execute, plan
from .summary import (
    bootstrap_ci,
    fmt,
    lost_runs_text,
    overall_lines,
    score_text,
    separation_text,
    summarize_runs,
    tie_text,
)

QUICK_SEEDS = tuple(range(5))
FULL_SEEDS = tuple(range(10))
# Algorithms that run with --full only, and why: Optuna's GP with two objectives costs 0.3–0.7 s per trial at
# 50–100 trials; of Nevergrad's, its portfolio (ngopt) and DE represent it in quick mode.
FULL_ONLY_ALGORITHMS: dict[tuple[str, str], str] = {
    ("optuna", "gp"): "slow per trial with several objectives",
    **{("nevergrad", a): "quick mode runs Nevergrad's ngopt and de" for a in ("pso", "cma", "oneplusone",
                                                                              "portfolio", "random", "ga")}}
# Quick mode: Ray (0.1 s per trial on an idle machine, up to 1 s on a busy one, plus ~7 s to start) runs the
# synthetic problems with the first seeds only; it is then left out of the overall rank test.
QUICK_LIMITED = {"ray": {"kinds": ("synthetic",), "seeds": 2}}
ALGORITHM_OPTIONS: dict[tuple[str, str], dict[str, object]] = {("optuna", "qmc"): {"scramble": True}}

TRIALS_CSV = "trials_multi_objective.csv"
RUNS_CSV = "runs_multi_objective.csv"
SUMMARY_MD = "summary_multi_objective.md"
REPORT_HTML = "report_multi_objective.html"


# -- hypervolume -------------------------------------------------------------------------------------------
def _optuna_hypervolume():
    """Optuna's WFG hypervolume (private API, so imported here only, with a clear error if it moves)."""
    try:
        from optuna._hypervolume import compute_hypervolume
    except ImportError as error:  # pragma: no cover - depends on the installed Optuna
        import optuna

        raise ImportError(
            f"benchmarks.multi_objective uses optuna._hypervolume.compute_hypervolume (Optuna's WFG hypervolume), "
            f"which Optuna {optuna.__version__} does not have; update benchmarks/multi_objective.py:hypervolume "
            f"to where it moved (or to pymoo.indicators.hv.HV)") from error
    return compute_hypervolume


def hypervolume(losses: np.ndarray | Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """Hypervolume dominated by ``losses`` (rows = points, every objective minimized) and bounded by
    ``reference``.  Points not strictly better than the reference in every objective add nothing (and are
    dropped before Optuna's function, which expects points inside the box); no point: 0."""
    ref = np.asarray(reference, dtype=float)
    points = np.asarray(losses, dtype=float).reshape(-1, len(ref))
    points = points[np.isfinite(points).all(axis=1) & (points < ref).all(axis=1)]
    if not len(points):
        return 0.0
    return float(_optuna_hypervolume()(points, ref))


def losses(table: pd.DataFrame, problem: MultiObjectiveProblem) -> np.ndarray:
    """The rows' objective values as losses (maximized objectives negated), one column per metric."""
    columns = [table[f"values.{m}"].to_numpy(dtype=float) * (-1.0 if d == "maximize" else 1.0)
               for m, d in zip(problem.metrics, problem.directions, strict=True)]
    return np.column_stack(columns) if columns else np.empty((len(table), 0))


def _usable(table: pd.DataFrame) -> np.ndarray:
    """Complete and feasible rows (a table without ``feasible`` has no constraints: every complete row)."""
    ok = (table["state"] == "complete").to_numpy()
    if "feasible" in table.columns:
        ok = ok & table["feasible"].fillna(False).astype(bool).to_numpy()
    return ok


def hypervolume_curve(table: pd.DataFrame, problem: MultiObjectiveProblem) -> np.ndarray:
    """Hypervolume of the feasible complete trials among the first 1, 2, … trials of one run (trial order)."""
    table = table.sort_values("trial", kind="stable")
    points, usable = losses(table, problem), _usable(table)
    curve, front, current = np.zeros(len(table)), np.empty((0, points.shape[1])), 0.0
    for i, (point, ok) in enumerate(zip(points, usable, strict=True)):
        if ok and not (front <= point).all(axis=1).any():  # a new non-dominated point: the volume grows
            front = np.vstack([front[~(point <= front).all(axis=1)], point])
            current = hypervolume(front, problem.reference)
        curve[i] = current
    return curve


def front_hypervolume(table: pd.DataFrame, problem: MultiObjectiveProblem) -> float:
    """Final hypervolume of one run: its feasible Pareto front (``pareto`` rows) against the reference point."""
    front = table[table["pareto"].fillna(False).astype(bool).to_numpy() & _usable(table)]
    return hypervolume(losses(front, problem), problem.reference)


# -- choosing the optimizers -------------------------------------------------------------------------------
def _accepts(backend: str, algorithm: str, options: dict, problems: Iterable[MultiObjectiveProblem]) -> str | None:
    """None if ``backend``/``algorithm`` takes every problem with its objectives, else unitune's reason."""
    import unitune as ut

    for problem in problems:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ut.Study(problem.space, backend=backend, algorithm=algorithm, **problem.run_options, **options)
        except (ut.UnsupportedFeatureError, ut.InvalidRunError, ut.UnknownOptionError) as error:
            return f"{problem.name}: {str(error).splitlines()[0]}"
    return None


def multi_objective_entries(specs: Iterable[str] | None, problems: Iterable[str], full: bool = False,
                            quiet: bool = False) -> list[Entry]:
    """The optimizers to compare: ``["optuna", "ray:random"]`` or, by default, every installed backend with
    the ``multi_objective`` feature; a bare name means each of its algorithms that accepts the problems
    with several objectives (without ``full``, not those in ``FULL_ONLY_ALGORITHMS``)."""
    backends = available_backends()
    chosen = [MULTI_OBJECTIVE_PROBLEMS[p] for p in problems]
    capable = [name for name, cls in backends.items() if "multi_objective" in cls.features]
    entries: list[Entry] = []
    for spec in specs or capable:
        name, _, algorithm = spec.partition(":")
        if name not in backends:
            print(f"note: backend {name!r} is not available here (not installed or no adapter); skipped")
            continue
        if name not in capable:
            print(f"note: backend {name!r} does not take several objectives; skipped")
            continue
        cls = backends[name]
        if algorithm and algorithm not in cls.algorithms:
            raise SystemExit(f"backend {name!r} has no algorithm {algorithm!r}; it has: {', '.join(cls.algorithms)}")
        for alg in [algorithm] if algorithm else list(cls.algorithms):
            if not algorithm and not full and (name, alg) in FULL_ONLY_ALGORITHMS:
                if not quiet:
                    print(f"note: {name}/{alg} runs with --full only ({FULL_ONLY_ALGORITHMS[name, alg]})")
                continue
            options = ALGORITHM_OPTIONS.get((name, alg), {})
            reason = _accepts(name, alg, options, chosen)
            if reason is not None:
                if algorithm:
                    raise SystemExit(f"{name}/{alg} cannot run: {reason}")
                if not quiet:
                    print(f"note: {name}/{alg} skipped ({reason})")
                continue
            entries.append(Entry(name, alg, tuple(sorted(options.items()))))
    return list(dict.fromkeys(entries))


# -- from trials to runs and the summary -------------------------------------------------------------------
def per_run(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per run: hypervolume (final front), its curve over trials, Pareto size, times; ``best`` is the
    negated hypervolume (lower is better), as ``summary.summarize_runs`` expects."""
    rows = []
    for (name, run), group in trials.groupby(["problem", "run"], sort=False):
        problem = MULTI_OBJECTIVE_PROBLEMS[name]
        group = group.sort_values("trial", kind="stable")
        volume = front_hypervolume(group, problem)
        objective_s = float(group["duration_s"].sum())
        run_s = float(group["run_seconds"].iloc[0])
        rows.append({
            "problem": name, "run": run, "optimizer": f"{group['backend'].iloc[0]}/{group['algorithm'].iloc[0]}",
            "seed": int(group["seed"].iloc[0]), "trials": len(group),
            "failed": int((group["state"] == "failed").sum()), "pruned": int((group["state"] == "pruned").sum()),
            "hypervolume": volume, "best": -volume,
            "pareto_points": int((group["pareto"].fillna(False).astype(bool) & _usable(group)).sum()),
            "curve": tuple(hypervolume_curve(group, problem)),
            "objective_s": objective_s, "optimizer_s": max(run_s - objective_s, 0.0),
        })
    return pd.DataFrame(rows)


def summarize(trials: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(per problem × optimizer table with hypervolume columns, overall table by mean rank, statistics)."""
    runs = per_run(trials)
    optima = {name: (-p.best_hypervolume if p.best_hypervolume is not None else None)
              for name, p in MULTI_OBJECTIVE_PROBLEMS.items()}
    blocks = runs.groupby("optimizer", sort=False).apply(lambda g: set(zip(g["problem"], g["seed"], strict=True)),
                                                         include_groups=False)
    every = set().union(*blocks) if len(blocks) else set()
    ranked = [o for o, mine in blocks.items() if mine == every]  # an optimizer run on fewer blocks has no rank
    table, overall, stats = summarize_runs(runs, optima=optima, rank_optimizers=ranked)
    extra = []
    for (problem, optimizer), group in runs.groupby(["problem", "optimizer"], sort=False):
        low, high = bootstrap_ci(group["hypervolume"])
        known = MULTI_OBJECTIVE_PROBLEMS[problem].best_hypervolume
        extra.append({"problem": problem, "optimizer": optimizer, "hv_mean": group["hypervolume"].mean(),
                      "hv_low": low, "hv_high": high, "hv_std": group["hypervolume"].std(ddof=0),
                      "hv_gap": known - group["hypervolume"].mean() if known is not None else math.nan,
                      "pareto_points": group["pareto_points"].mean()})
    table = table.merge(pd.DataFrame(extra), on=["problem", "optimizer"], how="left", validate="one_to_one")
    order = {name: i for i, name in enumerate(dict.fromkeys(runs["problem"]))}  # a problem's rows together
    table = table.sort_values("problem", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
    stats["runs"] = runs
    return table, overall, stats


def markdown(table: pd.DataFrame, overall: pd.DataFrame, stats: dict, header: str = "", mode: str = "quick") -> str:
    """The multi-objective summary: overall ranking, hypervolume per problem, what the run separates."""
    lines = [header] if header else []
    lines += [
        "## Overall",
        "",
        "Mean rank over blocks (problem × seed; 1 = largest hypervolume), with its bootstrap 95% interval; "
        "optimizers that share a group letter are not significantly different (Friedman + Nemenyi, α = 0.05). "
        "Score: the clipped normalized score of the hypervolume (−100 … 100; 0 = random search's median, 100 = "
        "the true front's hypervolume, or on real problems the largest any run reached), mean over problems "
        "[bootstrap 95%].",
        "",
        *overall_lines(overall),
        "",
        "## Hypervolume per problem",
        "",
        "Hypervolume of each run's feasible Pareto front against the problem's reference point (Optuna's WFG "
        "implementation), mean over seeds [percentile-bootstrap 95% interval]. Gap: the true front's "
        "hypervolume minus the mean (synthetic problems). ≈ best: not significantly different from the "
        "problem's best optimizer (two-sided Mann–Whitney U on the runs' hypervolumes, Holm-adjusted p ≥ 0.05).",
        "",
        "| problem | optimizer | hypervolume [95% CI] | gap to true front | score [95% CI] | ≈ best (p) "
        "| Pareto points | optimizer ms/trial | objective ms/trial |",
        "|---|---|---:|---:|---:|:---:|---:|---:|---:|",
    ]
    for r in table.itertuples():
        extra, tie = lost_runs_text(r), tie_text(r)
        interval = f" [{r.hv_low:.5g}, {r.hv_high:.5g}]" if not math.isnan(r.hv_low) else ""
        lines.append(
            f"| {r.problem} | {r.optimizer} | {r.hv_mean:.5g}{interval}{extra} | {fmt(r.hv_gap, 3)} "
            f"| {score_text(r.score, r.score_low, r.score_high)} | {tie} | {r.pareto_points:.1f} "
            f"| {r.optimizer_ms_per_trial:.1f} | {r.objective_ms_per_trial:.1f} |")
    lines += separation_text(table, stats.get("ranks"), f"{mode} multi-objective")  # (not the 1-objective note)
    if mode == "quick":
        seeds = int(table["seeds"].max()) if len(table) else 0
        lines += [
            f"Quick mode ({seeds} seeds) separates the clearest gaps only, such as a model-based optimizer against "
            "random search on ZDT; optimizers of similar strength, and random searches among themselves, share "
            "letters. On `rf_digits` the fronts differ in the 3rd or 4th digit of the hypervolume (most of the box "
            "is dominated by any run's smallest and most accurate forests), so its score intervals are wide. Use "
            "`--full` (10 seeds, longer runs on `rf_digits`, Optuna's GP, Ray everywhere) for a ranking.", ""]
    return "\n".join(lines) + "\n"


# -- plots and report --------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pareto_plots(trials: pd.DataFrame, out: Path) -> dict[str, Path]:
    """One PNG per problem: each optimizer's Pareto front of its lowest seed (steps), and the true front."""
    plt = _pyplot()
    paths: dict[str, Path] = {}
    for name, group in trials.groupby("problem", sort=False):
        problem = MULTI_OBJECTIVE_PROBLEMS[name]
        if len(problem.metrics) != 2:
            continue
        seed = int(group["seed"].min())
        fig, ax = plt.subplots(figsize=(7, 4.6), dpi=110)
        for i, (optimizer, runs) in enumerate(group.groupby(group["backend"] + "/" + group["algorithm"], sort=False)):
            run = runs[runs["seed"] == seed]
            front = run[run["pareto"].fillna(False).astype(bool).to_numpy() & _usable(run)]
            points = losses(front, problem)
            points = points[np.argsort(points[:, 0], kind="stable")]
            color = f"C{i % 10}"
            ax.step(points[:, 0], points[:, 1], where="post", color=color, linewidth=1.2, alpha=0.8)
            ax.scatter(points[:, 0], points[:, 1], s=14, color=color, label=f"{optimizer} ({len(points)})")
        if problem.front is not None:
            f1 = np.linspace(0.0, 1.0, 200)
            ax.plot(f1, problem.front(f1), color="black", linestyle="--", linewidth=1, label="true front")
        ax.set_xlabel(problem.metrics[0] + " (lower is better)")
        ax.set_ylabel(problem.metrics[1] + " (lower is better)")
        ax.set_title(f"{name}: Pareto front of seed {seed} per optimizer (points on the front)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"pareto_{name}.png"
        fig.savefig(path)
        plt.close(fig)
        paths[f"{name} Pareto front"] = path
    return paths


def hypervolume_plots(runs: pd.DataFrame, out: Path) -> dict[str, Path]:
    """One PNG per problem: hypervolume after each trial (the gap to the true front's, log scale, when it is
    known), mean over seeds with a min–max band, per optimizer."""
    plt = _pyplot()
    paths: dict[str, Path] = {}
    for name, group in runs.groupby("problem", sort=False):
        known = MULTI_OBJECTIVE_PROBLEMS[name].best_hypervolume
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        for optimizer, mine in group.groupby("optimizer", sort=False):
            length = min(len(c) for c in mine["curve"])
            curves = np.array([c[:length] for c in mine["curve"]], dtype=float)
            if known is not None:
                curves = np.clip(known - curves, 1e-6, None)
            x = np.arange(1, length + 1)
            ax.plot(x, curves.mean(axis=0), label=optimizer, linewidth=1.6)
            ax.fill_between(x, curves.min(axis=0), curves.max(axis=0), alpha=0.15)
        if known is not None:
            ax.set_yscale("log")
            ax.set_ylabel("true front's hypervolume − hypervolume (lower is better)")
        else:
            ax.set_ylabel("hypervolume (higher is better)")
        ax.set_title(f"{name}: hypervolume of the front so far; mean over seeds, band = min–max", fontsize=10)
        ax.set_xlabel("trial")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        fig.tight_layout()
        path = out / f"hypervolume_{name}.png"
        fig.savefig(path)
        plt.close(fig)
        paths[f"{name} hypervolume"] = path
    return paths


def write_outputs(trials: pd.DataFrame, out: Path, config: dict, quiet: bool = False) -> str:
    """From the trials table (read back from CSV): runs CSV, summary, Pareto and hypervolume plots, report."""
    from .report import html_report

    table, overall, stats = summarize(trials)
    problems = [MULTI_OBJECTIVE_PROBLEMS[p] for p in config["problems"]]
    refs = "; ".join(f"{p.name}: ({', '.join(p.metrics)}) reference {tuple(p.reference)}" for p in problems)
    ray = " (+1 for Ray's runs)" if any(o.startswith("ray/") for o in config["optimizers"]) else ""
    header = (f"# unitune multi-objective benchmark ({config['mode']})\n\n"
              f"Command: `{config['command']}`  \n"
              f"{len(problems)} problems, both objectives minimized ({refs}); optimizers "
              f"{', '.join(config['optimizers'])}, seeds {config['seeds']}, trials per run "
              f"{config['trials']}; {len(trials)} trials, wall time {config['wall time']} with {config['jobs']} "
              f"worker(s){ray}, threads pinned per run (`UNITUNE_THREADS`={config['threads']}).  \n"
              + "".join(f"Note: {n}  \n" for n in config.get("notes", []))
              + f"Versions: {', '.join(f'{k} {v}' for k, v in config['versions'].items())}.\n")
    summary_md = markdown(table, overall, stats, header, mode=config["mode"])
    (out / SUMMARY_MD).write_text(summary_md, encoding="utf-8")
    stats["runs"][["problem", "optimizer", "seed", "trials", "hypervolume", "pareto_points"]].to_csv(
        out / RUNS_CSV, index=False, float_format="%.17g")
    plots = {**pareto_plots(trials, out), **hypervolume_plots(stats["runs"], out)}
    report = html_report(summary_md, table.drop(columns=["best_mean", "best_std", "regret_mean"]), overall, plots,
                         config, out, title="unitune multi-objective benchmark", filename=REPORT_HTML,
                         summary_name=SUMMARY_MD,
                         note="Score: normalized hypervolume, 0 = median of random search, 100 = the true "
                              "front's hypervolume (or the largest any run reached).")
    if not quiet:
        print(summary_md)
        print(f"wrote {out / TRIALS_CSV}, {out / SUMMARY_MD}, {len(plots)} plots and {report}")
    return summary_md


# -- the command -------------------------------------------------------------------------------------------
def main(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    """Run (or with ``args.summarize`` rebuild) the multi-objective benchmark; ``args`` from ``benchmarks.__main__``."""
    from .__main__ import versions

    command = "python -m benchmarks " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    if args.summarize:
        folder = args.summarize
        config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else {}
        trials = pd.read_csv(folder / TRIALS_CSV)
        config.setdefault("mode", "?")
        config.setdefault("command", command.strip())
        config.setdefault("problems", list(dict.fromkeys(trials["problem"])))
        config.setdefault("optimizers", list(dict.fromkeys(trials["backend"] + "/" + trials["algorithm"])))
        config.setdefault("seeds", sorted(set(trials["seed"].astype(int))))
        config.setdefault("trials", "?")
        config.setdefault("jobs", "?")
        config.setdefault("threads", os.environ.get("UNITUNE_THREADS", "1"))
        config.setdefault("wall time", "?")
        config.setdefault("versions", versions())
        write_outputs(trials, folder, config)
        return 0
    started = time.perf_counter()
    names = args.problems or list(MULTI_OBJECTIVE_PROBLEMS)
    unknown = [n for n in names if n not in MULTI_OBJECTIVE_PROBLEMS]
    if unknown:
        raise SystemExit(f"--multi-objective: unknown problem(s) {unknown}; they are: {list(MULTI_OBJECTIVE_PROBLEMS)}")
    seeds = tuple(args.seeds or (FULL_SEEDS if args.full else QUICK_SEEDS))
    entries = multi_objective_entries(args.backends, names, full=args.full)
    if not entries:
        print("no backend that takes several objectives is available", file=sys.stderr)
        return 2

    def budget(name: str) -> int:
        problem = MULTI_OBJECTIVE_PROBLEMS[name]
        return args.trials or (problem.full_trials if args.full else problem.quick_trials)

    limited = {} if args.full or args.backends else QUICK_LIMITED
    tasks = plan(names, [e for e in entries if e.backend not in limited], seeds, budget)
    notes = []
    for backend, limit in limited.items():
        mine = [e for e in entries if e.backend == backend]
        kept = [n for n in names if MULTI_OBJECTIVE_PROBLEMS[n].kind in limit["kinds"]]
        if mine and kept:
            tasks += plan(kept, mine, seeds[:limit["seeds"]], budget)
            notes.append(f"quick mode: {', '.join(e.label for e in mine)} runs {', '.join(kept)} with seeds "
                         f"{list(seeds[:limit['seeds']])} only (its per-trial overhead), so it has no overall rank; "
                         "--full or --backends runs it everywhere")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or Path("benchmarks/results") / f"{stamp}-multi-objective"
    out.mkdir(parents=True, exist_ok=True)
    notes += [f"{e.label} runs with {', '.join(f'{k}={v!r}' for k, v in e.options)}" for e in entries if e.options]
    notes += [f"NSGA-II/III's first generation ({_population()} trials) is random sampling: on budgets near "
              "that size they are random search"] if any(e.algorithm in ("nsga2", "nsga3") for e in entries) else []
    if not args.full and not args.backends:
        notes.append("Optuna's GP (slow per trial with two objectives) runs with --full only")
    config = {"mode": "full" if args.full else "quick", "command": command.strip(), "problems": names,
              "optimizers": [e.label for e in entries], "seeds": list(seeds),
              "trials": {n: budget(n) for n in names}, "jobs": args.jobs, "notes": notes,
              "threads": os.environ.get("UNITUNE_THREADS", "1"), "versions": versions(),
              "started": datetime.now(UTC).isoformat(timespec="seconds")}
    (out / "config.json").write_text(json.dumps(config, indent=1))
    print(f"{len(names)} problems × {len(entries)} optimizers × {len(seeds)} seeds: {len(tasks)} runs, "
          f"{args.jobs} worker(s) -> {out}")
    for note in notes:
        print(f"note: {note}")
    if not args.resume and (out / "parts").exists():
        for stale in (out / "parts").glob("*.pkl"):
            stale.unlink()
    trials = execute(tasks, jobs=args.jobs, progress=not args.no_progress, parts=out / "parts")
    trials.to_csv(out / TRIALS_CSV, index=False)
    elapsed = time.perf_counter() - started
    config["wall time"] = f"{elapsed:.0f} s"
    config["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    (out / "config.json").write_text(json.dumps(config, indent=1))
    write_outputs(pd.read_csv(out / TRIALS_CSV), out, config)
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


def _population() -> int:
    import inspect

    import optuna

    return int(inspect.signature(optuna.samplers.NSGAIISampler).parameters["population_size"].default)
