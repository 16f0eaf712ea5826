"""Parallel trials: throughput of n_jobs=2 vs n_jobs=1 on every backend, CPU-bound speed-ups, executor overhead.

    python benchmarks/parallel.py                          # everything, every installed backend
    python benchmarks/parallel.py --parts sleep --trials 16

Four parts:

* ``sleep`` — a 0.3 s sleep objective, ``--trials`` trials, each backend's default algorithm: ``n_jobs=1``
  (the sequential loop) against ``n_jobs=2`` (the default ``"process"`` executor; Ray Tune its own
  actors).  Throughput is trials per second over the trials' span — the first ``started`` to the last
  ``finished`` in the table — so a runtime's one-time start (worker processes booting, Ray starting
  its actor) is left out; it is reported separately as ``start s`` (from the call to the first start).
  ``backend:algorithm`` picks another algorithm (``skopt:forest``).
* ``cpu`` — a scikit-learn fit (a RandomForest on the digits data, 3-fold CV) with Optuna's TPE,
  ``n_jobs=1`` against ``n_jobs=2`` with the process executor: the real speed-up on this machine's cores.
* ``threads`` — objectives with and without their own threads, every backend, ``n_jobs=1`` against
  ``n_jobs=2`` (the process executor; Ray Tune its actors) with the default ``threads_per_trial="auto"``:
  a 3-fold ``cross_validate`` of ``HistGradientBoostingClassifier`` on the breast-cancer data (OpenMP
  threads, the common case) and a single-threaded pure-Python CPU-bound loop.  ``--no-limit`` adds the
  OpenMP objective with ``threads_per_trial=None`` (every worker with one thread per core: the
  oversubscription this setting prevents).
* ``overhead`` — a trivial objective, ``n_jobs=1`` through each executor against the sequential loop:
  the added milliseconds per trial (median of ``--repeats``), over the trials' span.

The sleep and cpu rows also give a steady-state speed-up: trials per second once every worker runs, each
worker's first trial (its imports and data load, a second Ray actor's start) left out on both sides.
The machine's load average is printed with the results: on a shared machine the numbers move with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import unitune as ut

SPACE = {"x": ut.uniform(-2.0, 2.0), "y": ut.uniform(-2.0, 2.0)}


def sleepy(p):
    time.sleep(0.3)
    return (p["x"] - 0.3) ** 2 + (p["y"] + 0.1) ** 2


def trivial(p):
    return p["x"]


_DATA = {}


def forest(p):
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import cross_val_score

    if "digits" not in _DATA:
        _DATA["digits"] = load_digits(return_X_y=True)
    x, y = _DATA["digits"]
    model = RandomForestClassifier(n_estimators=int(p["n_estimators"]), max_depth=int(p["max_depth"]),
                                   max_features=p["max_features"], n_jobs=1, random_state=0)
    return 1.0 - cross_val_score(model, x, y, cv=3).mean()


FOREST_SPACE = {"n_estimators": ut.integer(40, 80), "max_depth": ut.integer(4, 16),
                "max_features": ut.uniform(0.1, 0.6)}


def boosting(p):
    """OpenMP-threaded: gradient boosting, 3-fold CV (scikit-learn's HistGradientBoosting uses every allowed thread)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_validate

    if "cancer" not in _DATA:
        _DATA["cancer"] = load_breast_cancer(return_X_y=True)
    x, y = _DATA["cancer"]
    model = HistGradientBoostingClassifier(learning_rate=p["learning_rate"], max_leaf_nodes=int(p["max_leaf_nodes"]),
                                           max_iter=100, random_state=0)
    return 1.0 - cross_validate(model, x, y, cv=3)["test_score"].mean()


BOOSTING_SPACE = {"learning_rate": ut.loguniform(0.01, 0.3), "max_leaf_nodes": ut.integer(8, 64)}


def python_loop(p):
    """Single-threaded and CPU-bound: ~0.3 s of pure Python arithmetic (holds the GIL, no library threads)."""
    total, n = 0.0, 4_000_000
    for i in range(n):
        total += (i % 7) * p["x"] - (i % 3) * p["y"]
    return (total / n - 0.2) ** 2


def span(result: ut.Result) -> float:
    table = result.table
    return (table["finished"].max() - table["started"].min()).total_seconds()


def steady(result: ut.Result) -> float:
    """Trials per second once every worker runs: each worker's first trial (its imports, its data load, a Ray
    actor's start) is left out, on both sides of a comparison."""
    table = result.table.sort_values("started")
    rest = table[table.duplicated("worker", keep="first")]
    if len(rest) < 2:
        return float("nan")
    return len(rest) / (rest["finished"].max() - rest["started"].min()).total_seconds()


def timed(objective, space, **kwargs):
    called = time.time()
    result = ut.minimize(objective, space, **kwargs)
    wall = time.time() - called
    start = result.table["started"].min().timestamp() - called
    return result, wall, start


def load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def part_sleep(backends: list[str], trials: int) -> None:
    print(f"\n## 0.3 s sleep objective, {trials} trials (load average {load()})\n")
    print("| backend | algorithm | n_jobs=1 trials/s | n_jobs=2 trials/s | speed-up | steady-state speed-up | "
          "start s (n_jobs=1 / 2) | wall s (1 / 2) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in backends:
        backend, _, algorithm = name.partition(":")
        options = {"algorithm": algorithm} if algorithm else {}
        rows = {}
        for n_jobs in (1, 2):
            result, wall, start = timed(sleepy, SPACE, backend=backend, n_trials=trials, seed=0, n_jobs=n_jobs,
                                        **options)
            assert (result.table["state"] == "complete").all(), result.table
            rows[n_jobs] = (trials / span(result), steady(result), start, wall, result.algorithm)
        (t1, q1, s1, w1, algo), (t2, q2, s2, w2, _) = rows[1], rows[2]
        print(f"| {backend} | {algo} | {t1:.2f} | {t2:.2f} | {t2 / t1:.2f}× | {q2 / q1:.2f}× | {s1:.2f} / {s2:.2f} | "
              f"{w1:.1f} / {w2:.1f} |", flush=True)


def part_cpu(trials: int) -> None:
    print(f"\n## CPU-bound: RandomForest on digits (3-fold CV), optuna/tpe, {trials} trials, "
          f"{os.cpu_count()} cores (load average {load()})\n")
    print("| n_jobs | executor | span s | trials/s | speed-up | steady-state trials/s | steady-state speed-up | "
          "start s |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    forest({"n_estimators": 40, "max_depth": 4, "max_features": 0.2})  # the driver's import and data load
    base = steady_base = None
    for n_jobs, executor in ((1, None), (2, "process")):
        result, _, start = timed(forest, FOREST_SPACE, backend="optuna", n_trials=trials, seed=0, n_jobs=n_jobs,
                                 executor=executor)
        assert (result.table["state"] == "complete").all(), result.table
        rate, rest = trials / span(result), steady(result)
        base, steady_base = base or rate, steady_base or rest
        print(f"| {n_jobs} | {executor or 'sequential'} | {span(result):.2f} | {rate:.2f} | {rate / base:.2f}× | "
              f"{rest:.2f} | {rest / steady_base:.2f}× | {start:.2f} |", flush=True)


def part_threads(backends: list[str], trials: int, no_limit: bool) -> None:
    print(f"\n## Objectives with and without threads, {trials} trials, n_jobs=2 vs 1, threads_per_trial='auto', "
          f"{os.cpu_count()} cores (load average {load()})\n")
    print("| backend | algorithm | objective | n_jobs=1 span s | n_jobs=2 span s | speed-up | "
          "median trial s (1 / 2) |")
    print("|---|---|---|---:|---:|---:|---:|")
    cases = [("HistGradientBoosting CV (OpenMP)", boosting, BOOSTING_SPACE, "auto"),
             ("pure-Python loop (1 thread)", python_loop, SPACE, "auto")]
    if no_limit:
        cases.append(("HistGradientBoosting CV, threads_per_trial=None", boosting, BOOSTING_SPACE, None))
    boosting({"learning_rate": 0.1, "max_leaf_nodes": 8})  # the driver's own import and data load
    for name in backends:
        backend, _, algorithm = name.partition(":")
        options = {"algorithm": algorithm} if algorithm else {}
        for label, objective, space, threads in cases:
            spans, medians, algo = {}, {}, ""
            for n_jobs in (1, 2):
                result, _, _ = timed(objective, space, backend=backend, n_trials=trials, seed=0, n_jobs=n_jobs,
                                     threads_per_trial=threads, **options)
                assert (result.table["state"] == "complete").all(), result.table
                spans[n_jobs], algo = span(result), result.algorithm
                medians[n_jobs] = result.table["duration_s"].median()
            print(f"| {backend} | {algo} | {label} | {spans[1]:.2f} | {spans[2]:.2f} | {spans[1] / spans[2]:.2f}× | "
                  f"{medians[1]:.2f} / {medians[2]:.2f} |", flush=True)


def part_overhead(trials: int, repeats: int) -> None:
    executors: list[tuple[str, object]] = [("sequential (no executor)", None), ("thread", "thread"),
                                           ("process", "process")]
    try:
        import ray  # noqa: F401

        executors.append(("ray", "ray"))
    except ImportError:
        pass
    dask = None
    try:
        import distributed

        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                           dashboard_address=None, host="127.0.0.1", silence_logs=40)
        dask = (distributed.Client(cluster), cluster)
        executors.append(("dask LocalCluster (client.get_executor())", dask[0].get_executor()))
    except ImportError:
        pass
    print(f"\n## Per-trial overhead, trivial objective, optuna/random, n_jobs=1, {trials} trials, median of "
          f"{repeats} (load average {load()})\n")
    print("| executor | ms per trial (span / trials) | added ms per trial | one-time start s |")
    print("|---|---:|---:|---:|")
    base = None
    for name, executor in executors:
        ut.minimize(trivial, SPACE, backend="optuna", algorithm="random", n_trials=2, seed=0,
                    executor=executor)  # warm-up: Ray's runtime and first worker, Dask's worker imports
        per, starts = [], []
        for _ in range(repeats):
            result, _, start = timed(trivial, SPACE, backend="optuna", algorithm="random", n_trials=trials, seed=0,
                                     executor=executor)
            per.append(1000 * span(result) / trials)
            starts.append(start)
        ms = statistics.median(per)
        base = ms if base is None else base
        print(f"| {name} | {ms:.2f} | {ms - base:+.2f} | {statistics.median(starts):.2f} |", flush=True)
    if dask is not None:
        dask[0].close()
        dask[1].close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["sleep", "cpu", "threads", "overhead"],
                        choices=["sleep", "cpu", "threads", "overhead"])
    parser.add_argument("--backends", nargs="+", default=["optuna", "hyperopt", "skopt", "skopt:forest", "ray"],
                        help="backend or backend:algorithm (default algorithm when omitted)")
    parser.add_argument("--trials", type=int, default=14, help="trials of the sleep part")
    parser.add_argument("--cpu-trials", type=int, default=12)
    parser.add_argument("--thread-trials", type=int, default=12, help="trials of the threads part")
    parser.add_argument("--no-limit", action="store_true", help="threads part: also run without threads_per_trial")
    parser.add_argument("--overhead-trials", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from unitune.registry import installed_names

    backends = [b for b in args.backends if b.partition(":")[0] in installed_names()]
    if "sleep" in args.parts:
        part_sleep(backends, args.trials)
    if "cpu" in args.parts:
        part_cpu(args.cpu_trials)
    if "threads" in args.parts:
        part_threads(backends, args.thread_trials, args.no_limit)
    if "overhead" in args.parts:
        part_overhead(args.overhead_trials, args.repeats)


if __name__ == "__main__":
    main()
