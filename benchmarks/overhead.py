"""Adapter overhead: the same trivial optimization, natively and through unitune, interleaved in one process.

    python benchmarks/overhead.py                     # every installed backend
    python benchmarks/overhead.py --backends optuna hyperopt --repeats 7

For each case the native run and the unitune run alternate ``--repeats`` times (after one warm-up
each) with the same seeds, so machine noise hits both alike; the table reports median wall time per
trial and the added time ``unitune / native - 1``.

``--no-gc`` times each run with Python's cyclic garbage collector off (collected before, as ``timeit``
does). Use it where the optimizer builds large cyclic object graphs (Nevergrad's parametrizations): there a
full collection lands at a different point of each run and moves a run's time by up to ±40%, on the
native side as much as on unitune's, which buries a per-trial difference of a few percent.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.overhead_cases import OverheadCase

BACKENDS = ("optuna", "hyperopt", "skopt", "ray", "nevergrad")


def load_cases(backends: list[str]) -> list[OverheadCase]:
    from unitune.registry import installed_names

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        installed = set(installed_names())
    cases: list[OverheadCase] = []
    for backend in backends:
        if backend not in installed:
            print(f"# {backend}: not installed or adapter missing, skipped", file=sys.stderr)
            continue
        try:
            module = importlib.import_module(f"benchmarks.overhead_cases.{backend}")
        except ModuleNotFoundError:
            print(f"# {backend}: no overhead case module, skipped", file=sys.stderr)
            continue
        cases.extend(module.cases())
    return cases


def _timed(fn, n_trials: int, seed: int, no_gc: bool = False) -> float:
    if no_gc:
        gc.collect()
        gc.disable()
    try:
        start = time.perf_counter()
        fn(n_trials, seed)
        return time.perf_counter() - start
    finally:
        if no_gc:
            gc.enable()


def measure(case: OverheadCase, repeats: int, no_gc: bool = False) -> dict[str, object]:
    """Median seconds per trial, native vs unitune, interleaved; one warm-up of each first."""
    _timed(case.native, case.warmup_trials or case.n_trials, 0, no_gc)
    _timed(case.unitune, case.warmup_trials or case.n_trials, 0, no_gc)
    native, ours = [], []
    for r in range(repeats):
        pair = [("native", case.native), ("unitune", case.unitune)]
        if r % 2:  # alternate which goes first
            pair.reverse()
        for kind, fn in pair:
            (native if kind == "native" else ours).append(_timed(fn, case.n_trials, r + 1, no_gc))
    n = case.n_trials
    native_s, ours_s = statistics.median(native) / n, statistics.median(ours) / n
    return {
        "backend": case.backend,
        "case": case.name,
        "trials": n,
        "repeats": repeats,
        "native_ms_per_trial": native_s * 1e3,
        "unitune_ms_per_trial": ours_s * 1e3,
        "added": ours_s / native_s - 1.0,
    }


def to_markdown(rows: list[dict[str, object]]) -> str:
    lines = [
        "| backend | case | trials × repeats | native ms/trial | unitune ms/trial | added time |",
        "|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['case']} | {r['trials']} × {r['repeats']} | {r['native_ms_per_trial']:.2f} "
            f"| {r['unitune_ms_per_trial']:.2f} | {r['added']:+.1%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", nargs="+", help="only these case names (e.g. tpe random)")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    parser.add_argument("--no-gc", action="store_true", help="time each run with the cyclic garbage collector off")
    args = parser.parse_args(argv)
    rows = []
    for case in load_cases(args.backends):
        if args.cases and case.name not in args.cases:
            continue
        print(f"# measuring {case.backend}/{case.name} ({case.n_trials} trials × {args.repeats})", file=sys.stderr)
        rows.append(measure(case, args.repeats, args.no_gc))
    table = to_markdown(rows)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
