"""``python -m benchmarks``: compare every installed backend on synthetic and real problems.

Quick by default (under 10 minutes on 2 cores): each backend's default algorithm plus random search,
3 seeds, every problem but the multi-fidelity one.  ``--full`` raises budgets and seeds and adds the
multi-fidelity problem (run with ASHA).  Writes trials.csv, summary.md, convergence PNGs and
report.html to ``--out`` (default benchmarks/results/<UTC timestamp>/) and prints the summary.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from .problems import PROBLEMS
from .report import convergence_plots, html_report
from .runner import Task, execute, parse_entries
from .summary import markdown, per_run, reference_points, summarize


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="bigger budgets, 5 seeds, plus the multi-fidelity problem")
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), help="problems to run (default: all)")
    parser.add_argument("--backends", nargs="+", metavar="NAME[:ALGORITHM]",
                        help="backends, optionally with an algorithm (a bare name: its default + random search)")
    parser.add_argument("--trials", type=int, help="trials per run (default: each problem's quick/full budget)")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (default: 0 1 2, or 0..4 with --full)")
    parser.add_argument("--out", type=Path, help="output folder (default: benchmarks/results/<UTC timestamp>/)")
    parser.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 4), help="worker processes")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    seeds = tuple(args.seeds or (range(5) if args.full else range(3)))
    names = args.problems or [name for name, p in PROBLEMS.items() if args.full or not p.full_only]
    entries = parse_entries(args.backends)
    if not entries:
        print("no backend available", file=sys.stderr)
        return 2
    def budget(name: str) -> int:
        return args.trials or (PROBLEMS[name].full_trials if args.full else PROBLEMS[name].quick_trials)

    tasks = [Task(name, entry, seeds, budget(name)) for name in names for entry in entries]
    out = args.out or Path("benchmarks/results") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    print(f"{len(names)} problems × {len(entries)} optimizers × {len(seeds)} seeds, {args.jobs} worker(s) -> {out}")

    trials = execute(tasks, jobs=args.jobs, progress=not args.no_progress)
    trials.to_csv(out / "trials.csv", index=False)
    table, overall = summarize(trials)
    refs = reference_points(per_run(trials))
    elapsed = time.perf_counter() - started
    header = (f"# unitune benchmark ({'full' if args.full else 'quick'})\n\n"
              f"{len(names)} problems, optimizers {', '.join(e.label for e in entries)}, seeds {list(seeds)}; "
              f"{len(trials)} trials in {elapsed:.0f} s.\n")
    summary_md = markdown(table, overall, header)
    (out / "summary.md").write_text(summary_md, encoding="utf-8")
    plots = convergence_plots(trials, refs, out)
    config = {"mode": "full" if args.full else "quick", "problems": ", ".join(names),
              "optimizers": ", ".join(e.label for e in entries), "seeds": list(seeds), "jobs": args.jobs,
              "wall time": f"{elapsed:.0f} s", "written": datetime.now(UTC).isoformat(timespec="seconds")}
    report = html_report(summary_md, table, overall, plots, config, out)
    print(summary_md)
    print(f"wrote {out / 'trials.csv'}, {out / 'summary.md'}, {len(plots)} plots and {report} in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
