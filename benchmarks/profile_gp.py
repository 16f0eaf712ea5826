"""Where scikit-optimize's GP spends a trial: 30 trials on the 4-D mixed space, native threads vs one thread.

    python benchmarks/profile_gp.py              # both settings, 2 repeats each, interleaved
    python benchmarks/profile_gp.py --repeats 3

Times each part of ``Optimizer.tell`` (which is where skopt does all its work: ``ask`` returns a point
computed by the previous ``tell``) by wrapping the functions skopt calls, in this process only:

* ``GP fit``: ``GaussianProcessRegressor.fit`` — the kernel hyperparameters by L-BFGS with 2 restarts;
* ``candidates``: drawing and transforming ``n_points`` = 10,000 random candidates (``Space.rvs``/``transform``);
* ``EI on candidates``: expected improvement on those 10,000 points;
* ``acq. L-BFGS``: the 5 L-BFGS restarts on the acquisition from the best candidates (the part
  skopt's ``n_jobs`` parallelizes);
* ``rest``: everything else (the objective is trivial, unitune's own bookkeeping is ~50 µs).

Everything here leaves the suggestions unchanged (the script checks both settings propose the same points).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import unitune as ut
from unitune.threads import ENV_VAR, fixed_threads

SPACE = {"x": ut.uniform(-1.0, 1.0), "lr": ut.loguniform(1e-4, 1.0), "n": ut.integer(1, 10),
         "c": ut.choice(["a", "b", "c"])}
PARTS = ("GP fit", "candidates", "EI on candidates", "acq. L-BFGS", "rest")


def objective(p: dict) -> float:
    return (p["x"] - 0.3) ** 2 + (math.log10(p["lr"]) + 2) ** 2 + 0.1 * abs(p["n"] - 5) + (p["c"] != "b")


@contextlib.contextmanager
def timers(totals: dict[str, float]):
    """Wrap the functions skopt's Optimizer._tell calls with timers (restored afterwards)."""
    import skopt.optimizer.optimizer as opt_module
    from skopt.learning import GaussianProcessRegressor
    from skopt.space import Space

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[name] += time.perf_counter() - start
        return wrapper

    saved = [(GaussianProcessRegressor, "fit", GaussianProcessRegressor.fit), (Space, "rvs", Space.rvs),
             (Space, "transform", Space.transform),
             (opt_module, "_gaussian_acquisition", opt_module._gaussian_acquisition),
             (opt_module, "Parallel", opt_module.Parallel)]
    GaussianProcessRegressor.fit = timed("GP fit", GaussianProcessRegressor.fit)
    Space.rvs = timed("candidates", Space.rvs)
    Space.transform = timed("candidates", Space.transform)  # (also the GP's training-set transform: tiny)
    opt_module._gaussian_acquisition = timed("EI on candidates", opt_module._gaussian_acquisition)
    original_parallel = opt_module.Parallel

    class TimedParallel(original_parallel):
        def __call__(self, iterable):
            start = time.perf_counter()
            try:
                return super().__call__(iterable)
            finally:
                totals["acq. L-BFGS"] += time.perf_counter() - start

    opt_module.Parallel = TimedParallel
    try:
        yield totals
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


@contextlib.contextmanager
def _native_threads():
    """UNITUNE_THREADS=native for the block: the Study loop then leaves the libraries' threads alone."""
    before = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = "native"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = before


def one_run(threads: str, seed: int = 0, n_trials: int = 30) -> tuple[float, dict[str, float], list]:
    totals: dict[str, float] = defaultdict(float)
    limit = fixed_threads(1) if threads == "1" else _native_threads()
    with warnings.catch_warnings(), timers(totals), limit:
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        result = ut.minimize(objective, SPACE, backend="skopt", algorithm="gp", n_trials=n_trials, seed=seed)
        wall = time.perf_counter() - start
    totals["rest"] = wall - sum(totals[p] for p in PARTS if p != "rest")
    return wall, dict(totals), [tuple(r.params.values()) for r in result.records]


def native_n_jobs(repeats: int, n_trials: int) -> str:
    """gp_minimize under one thread with skopt's n_jobs=1 vs 2 for the acquisition's L-BFGS restarts."""
    from skopt import gp_minimize
    from skopt.space import Categorical, Real

    dims = [Real(-1.0, 1.0), Real(1e-4, 1.0, prior="log-uniform"), Real(0.5, 10.5), Categorical(["a", "b", "c"])]

    def fn(v):
        return objective({"x": v[0], "lr": v[1], "n": min(max(round(v[2]), 1), 10), "c": v[3]})

    walls: dict[int, list[float]] = {1: [], 2: []}
    points = {}
    for r in range(repeats):
        for n_jobs in ((1, 2) if r % 2 == 0 else (2, 1)):
            with warnings.catch_warnings(), fixed_threads(1):
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                res = gp_minimize(fn, dims, acq_func="EI", n_calls=n_trials, random_state=0, n_jobs=n_jobs)
                walls[n_jobs].append(time.perf_counter() - start)
            points[n_jobs] = res.x_iters
    one, two = (sorted(w)[len(w) // 2] / n_trials * 1e3 for w in (walls[1], walls[2]))
    return (f"gp_minimize, 1 thread: n_jobs=1 {one:.1f} ms/trial, n_jobs=2 {two:.1f} ms/trial "
            f"({one / two:.2f}x); same suggestions: {points[1] == points[2]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--n-jobs", action="store_true", help="also time skopt's n_jobs=2 for the acquisition L-BFGS")
    args = parser.parse_args(argv)
    one_run("1", n_trials=12)  # warm-up: imports
    runs: dict[str, list[tuple[float, dict[str, float]]]] = {"native": [], "1": []}
    points: dict[str, list] = {}
    for r in range(args.repeats):
        for threads in (("native", "1") if r % 2 == 0 else ("1", "native")):
            wall, parts, pts = one_run(threads, n_trials=args.trials)
            runs[threads].append((wall, parts))
            points[threads] = pts
    n = args.trials
    lines = ["| part | native threads: ms/trial | share | 1 thread: ms/trial | share |", "|---|---:|---:|---:|---:|"]
    med = {}
    for threads, results in runs.items():
        best = sorted(results, key=lambda x: x[0])[len(results) // 2]  # the median run by wall time
        med[threads] = best
    for part in PARTS:
        cells = []
        for threads in ("native", "1"):
            wall, parts = med[threads]
            cells += [f"{1e3 * parts.get(part, 0.0) / n:.1f}", f"{parts.get(part, 0.0) / wall:.0%}"]
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    lines.append(f"| **total** | **{1e3 * med['native'][0] / n:.1f}** | | **{1e3 * med['1'][0] / n:.1f}** | |")
    print("\n".join(lines))
    print(f"\nspeed-up from one thread: {med['native'][0] / med['1'][0]:.2f}x; "
          f"same suggestions: {points['native'] == points['1']}")
    if args.n_jobs:
        print(native_n_jobs(args.repeats, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
