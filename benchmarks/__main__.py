"""``python -m benchmarks``: compare every installed backend on synthetic and real problems.

Quick by default (under 10 minutes on 2 cores): each backend's default algorithm plus random search
(nevergrad: ngopt and pso), 5 seeds, every problem but the multi-fidelity one.  ``--full``: every
backend's main algorithms (optuna tpe/random/cmaes/gp, hyperopt tpe/random/anneal, skopt
gp/forest/random, ray random, nevergrad ngopt/pso/de/cma/oneplusone/portfolio/random/ga),
100 trials on the synthetic problems, 10 seeds, the synthetic problems plus svm_digits.
``--native`` also runs every problem through each library directly and reports whether unitune's
results are identical.  Writes trials.csv, summary.md, convergence PNGs and report.html to ``--out``
(default benchmarks/results/<UTC timestamp>/) and prints the summary.  ``--summarize DIR`` rebuilds
summary and report from a finished (or stopped: ``DIR/parts``) run without running anything.
``--multi-objective``: the optimizers that take several objectives on ZDT1, ZDT2 and a random forest's error
vs. size, compared by hypervolume (``benchmarks/multi_objective.py``; same options, its own output files).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

from .problems import MULTI_OBJECTIVE_PROBLEMS, PROBLEMS
from .report import convergence_plots, html_report
from .runner import execute, parse_entries, plan
from .summary import markdown, per_run, reference_points, summarize

QUICK_SEEDS = tuple(range(5))
FULL_SEEDS = tuple(range(10))
FULL_PROBLEMS = ("branin", "hartmann6", "mixed", "conditional", "svm_digits")
LIBRARIES = ("unitune", "optuna", "hyperopt", "scikit-optimize", "ray", "nevergrad", "scikit-learn", "numpy", "scipy",
             "torch", "greenlet", "threadpoolctl", "pandas")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true",
                        help="main algorithms, bigger budgets, 10 seeds (synthetic problems + svm_digits)")
    parser.add_argument("--problems", nargs="+", choices=[*PROBLEMS, *MULTI_OBJECTIVE_PROBLEMS],
                        help="problems to run (default: all of the mode's)")
    parser.add_argument("--backends", nargs="+", metavar="NAME[:ALGORITHM]",
                        help="backends, optionally with an algorithm (a bare name: its default + random search, "
                             "or its main algorithms with --full)")
    parser.add_argument("--trials", type=int, help="trials per run (default: each problem's quick/full budget)")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (default: 0..4, or 0..9 with --full)")
    parser.add_argument("--native", action="store_true",
                        help="also run each problem through the native library and compare (fidelity column)")
    parser.add_argument("--out", type=Path, help="output folder (default: benchmarks/results/<UTC timestamp>/)")
    parser.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 4), help="worker processes")
    parser.add_argument("--resume", action="store_true", help="keep the finished tasks already in --out/parts")
    parser.add_argument("--summarize", type=Path, metavar="DIR",
                        help="only rebuild summary.md, plots and report.html from DIR (trials.csv or parts/)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--multi-objective", action="store_true",
                        help=f"the multi-objective benchmark ({', '.join(MULTI_OBJECTIVE_PROBLEMS)}; hypervolume) "
                             "with every optimizer that takes several objectives")
    return parser.parse_args(argv)


def versions() -> dict[str, str]:
    from unitune.threads import blas_kernels

    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    with contextlib.suppress(ImportError):
        import scipy.linalg  # noqa: F401  (loads scipy's own BLAS, so its kernels are listed too)
    found["BLAS"] = blas_kernels()
    return found


def write_outputs(trials: pd.DataFrame, out: Path, config: dict, quiet: bool = False) -> str:
    """From the trials table (read back from CSV, so a rebuilt summary is the same): summary, plots, report."""
    table, overall, stats = summarize(trials)
    refs = reference_points(per_run(trials))
    header = (f"# unitune benchmark ({config['mode']})\n\n"
              f"Command: `{config['command']}`  \n"
              f"{len(config['problems'])} problems ({', '.join(config['problems'])}), optimizers "
              f"{', '.join(config['optimizers'])}, seeds {config['seeds']}; {len(trials)} trials, wall time "
              f"{config['wall time']} with {config['jobs']} worker(s), threads pinned per run "
              f"(`UNITUNE_THREADS`={config['threads']}).  \n"
              f"Versions: {', '.join(f'{k} {v}' for k, v in config['versions'].items())}.\n")
    summary_md = markdown(table, overall, header, stats=stats, mode=config["mode"])
    (out / "summary.md").write_text(summary_md, encoding="utf-8")
    # one row per run, the numbers a rerun must reproduce (tests/test_benchmarks.py compares against docs/)
    stats["runs"][["problem", "optimizer", "seed", "trials", "best"]].to_csv(out / "runs.csv", index=False,
                                                                             float_format="%.17g")
    plots = convergence_plots(trials, refs, out)
    report = html_report(summary_md, table, overall, plots, config, out)
    if not quiet:
        print(summary_md)
        print(f"wrote {out / 'trials.csv'}, {out / 'summary.md'}, {len(plots)} plots and {report}")
    return summary_md


def load_trials(folder: Path) -> pd.DataFrame:
    if (folder / "trials.csv").exists():
        return pd.read_csv(folder / "trials.csv")
    parts = sorted((folder / "parts").glob("*.pkl"))
    if not parts:
        raise SystemExit(f"{folder}: no trials.csv and no parts/*.pkl")
    trials = pd.concat([pd.read_pickle(p) for p in parts], ignore_index=True)
    trials.to_csv(folder / "trials.partial.csv", index=False)
    return pd.read_csv(folder / "trials.partial.csv")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.multi_objective:
        from .multi_objective import main as multi_objective_main

        return multi_objective_main(args, argv)
    wrong = [name for name in args.problems or () if name not in PROBLEMS]
    if wrong:
        raise SystemExit(f"{', '.join(wrong)}: multi-objective problem(s), run with --multi-objective")
    if args.summarize:
        config_path = args.summarize / "config.json"
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        trials = load_trials(args.summarize)
        config.setdefault("mode", "?")
        config.setdefault("command", "?")
        config.setdefault("problems", list(dict.fromkeys(trials["problem"])))
        config.setdefault("optimizers", list(dict.fromkeys(trials["backend"] + "/" + trials["algorithm"])))
        config.setdefault("seeds", sorted(set(trials["seed"].dropna().astype(int))))
        config.setdefault("jobs", "?")
        config.setdefault("threads", os.environ.get("UNITUNE_THREADS", "1"))
        config.setdefault("wall time", "?")
        config.setdefault("versions", versions())
        if not (args.summarize / "trials.csv").exists():
            config["wall time"] += " (stopped before the end: partial results)"
        write_outputs(trials, args.summarize, config)
        return 0
    started = time.perf_counter()
    seeds = tuple(args.seeds or (FULL_SEEDS if args.full else QUICK_SEEDS))
    if args.problems:
        names = args.problems
    elif args.full:
        names = list(FULL_PROBLEMS)
    else:
        names = [name for name, p in PROBLEMS.items() if not p.full_only]
    entries = parse_entries(args.backends, full=args.full)
    if not entries:
        print("no backend available", file=sys.stderr)
        return 2

    def budget(name: str) -> int:
        return args.trials or (PROBLEMS[name].full_trials if args.full else PROBLEMS[name].quick_trials)

    tasks = plan(names, entries, seeds, budget, native=args.native)
    out = args.out or Path("benchmarks/results") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    config = {"mode": "full" if args.full else "quick", "command": command.strip(), "problems": names,
              "optimizers": [e.label for e in entries], "seeds": list(seeds), "jobs": args.jobs,
              "native": args.native, "threads": os.environ.get("UNITUNE_THREADS", "1"), "versions": versions(),
              "started": datetime.now(UTC).isoformat(timespec="seconds")}
    (out / "config.json").write_text(json.dumps(config, indent=1))
    print(f"{len(names)} problems × {len(entries)} optimizers × {len(seeds)} seeds, {args.jobs} worker(s) -> {out}")

    if not args.resume and (out / "parts").exists():
        for stale in (out / "parts").glob("*.pkl"):
            stale.unlink()
    trials = execute(tasks, jobs=args.jobs, progress=not args.no_progress, parts=out / "parts")
    trials.to_csv(out / "trials.csv", index=False)
    elapsed = time.perf_counter() - started
    config["wall time"] = f"{elapsed:.0f} s"
    config["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    (out / "config.json").write_text(json.dumps(config, indent=1))
    write_outputs(pd.read_csv(out / "trials.csv"), out, config)
    print(f"done in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
