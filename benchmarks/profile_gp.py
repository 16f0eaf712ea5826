"""Where scikit-optimize's GP spends a trial, and what unitune's adapter saves: 30 trials, 4-D mixed space.

    python benchmarks/profile_gp.py              # 3 settings, 3 repeats each, interleaved
    python benchmarks/profile_gp.py --repeats 5 --n-jobs

Settings (the same seed and space everywhere):

* ``native``: a default ``gp_minimize(acq_func="EI")``, BLAS with its default thread count;
* ``native, 1 thread``: the same under one BLAS/OpenMP thread (what unitune pins);
* ``unitune``: ``ut.minimize(backend="skopt", algorithm="gp")`` (one thread, and the cached kernel
  metadata and column-wise candidates of ``unitune/backends/skopt_fast.py``).

Times each part of ``Optimizer.tell`` (which is where skopt does all its work: ``ask`` returns a point
computed by the previous ``tell``) by wrapping the functions skopt calls, in this process only:

* ``GP fit``: ``GaussianProcessRegressor.fit`` — the kernel hyperparameters by L-BFGS with 2 restarts;
* ``candidates``: drawing and transforming ``n_points`` = 10,000 random candidates (``Space.rvs``/``transform``);
* ``EI on candidates``: expected improvement on those 10,000 points;
* ``acq. L-BFGS``: the 5 L-BFGS restarts on the acquisition from the best candidates (the part
  skopt's ``n_jobs`` parallelizes);
* ``rest``: everything else (the objective is trivial, unitune's own bookkeeping is ~50 µs).

The script prints whether the settings gave the same values: ``native, 1 thread`` and ``unitune``
must (bit for bit); ``native`` with 2 BLAS threads may not (the reason unitune pins them).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import unitune as ut
from benchmarks.overhead_cases.skopt import SPACE_4D, native_dims_4d, native_value_4d, value_4d
from unitune.threads import fixed_threads

PARTS = ("GP fit", "candidates", "EI on candidates", "acq. L-BFGS", "rest")


@contextlib.contextmanager
def timers(totals: dict[str, float]):
    """Wrap the functions skopt's Optimizer._tell calls with timers (restored afterwards)."""
    import skopt.optimizer.optimizer as opt_module
    from skopt.learning import GaussianProcessRegressor
    from skopt.space import Space

    from unitune.backends.skopt_fast import CandidateSpace

    depth: dict[str, int] = defaultdict(int)

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            depth[name] += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                depth[name] -= 1
                if not depth[name]:  # the outermost call only: CandidateSpace's methods call Space's
                    totals[name] += time.perf_counter() - start
        return wrapper

    saved = [(GaussianProcessRegressor, "fit", GaussianProcessRegressor.fit), (Space, "rvs", Space.rvs),
             (Space, "transform", Space.transform), (CandidateSpace, "rvs", CandidateSpace.rvs),
             (CandidateSpace, "transform", CandidateSpace.transform),
             (opt_module, "_gaussian_acquisition", opt_module._gaussian_acquisition),
             (opt_module, "Parallel", opt_module.Parallel)]
    GaussianProcessRegressor.fit = timed("GP fit", GaussianProcessRegressor.fit)
    Space.rvs = timed("candidates", Space.rvs)
    Space.transform = timed("candidates", Space.transform)  # (also the GP's training-set transform: tiny)
    CandidateSpace.rvs = timed("candidates", CandidateSpace.rvs)
    CandidateSpace.transform = timed("candidates", CandidateSpace.transform)
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


DIMS_NOTE = "the int is a rounded Real over [0.5, 10.5], as ut.explain(SPACE_4D, backend='skopt') shows"


SETTINGS = ("native", "native, 1 thread", "unitune")


def one_run(setting: str, seed: int = 0, n_trials: int = 30) -> tuple[float, dict[str, float], list[float]]:
    from skopt import gp_minimize

    totals: dict[str, float] = defaultdict(float)
    limit = contextlib.nullcontext() if setting == "native" else fixed_threads(1)
    with warnings.catch_warnings(), timers(totals), limit:
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        if setting == "unitune":
            result = ut.minimize(value_4d, SPACE_4D, backend="skopt", algorithm="gp", n_trials=n_trials, seed=seed)
            values = [r.value for r in result.records]
        else:
            res = gp_minimize(native_value_4d, native_dims_4d(), acq_func="EI", n_calls=n_trials, random_state=seed)
            values = list(res.func_vals)
        wall = time.perf_counter() - start
    totals["rest"] = wall - sum(totals[p] for p in PARTS if p != "rest")
    return wall, dict(totals), values


def native_n_jobs(repeats: int, n_trials: int) -> str:
    """gp_minimize under one thread with skopt's n_jobs=1 vs 2 for the acquisition's L-BFGS restarts."""
    from skopt import gp_minimize

    walls: dict[int, list[float]] = {1: [], 2: []}
    points = {}
    for r in range(repeats):
        for n_jobs in ((1, 2) if r % 2 == 0 else (2, 1)):
            with warnings.catch_warnings(), fixed_threads(1):
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                res = gp_minimize(native_value_4d, native_dims_4d(), acq_func="EI", n_calls=n_trials,
                                  random_state=0, n_jobs=n_jobs)
                walls[n_jobs].append(time.perf_counter() - start)
            points[n_jobs] = res.x_iters
    one, two = (sorted(w)[len(w) // 2] / n_trials * 1e3 for w in (walls[1], walls[2]))
    return (f"gp_minimize, 1 thread: n_jobs=1 {one:.1f} ms/trial, n_jobs=2 {two:.1f} ms/trial "
            f"({one / two:.2f}x); same suggestions: {points[1] == points[2]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--n-jobs", action="store_true", help="also time skopt's n_jobs=2 for the acquisition L-BFGS")
    args = parser.parse_args(argv)
    for setting in SETTINGS:
        one_run(setting, n_trials=12)  # warm-up: imports, first calls
    runs: dict[str, list[tuple[float, dict[str, float]]]] = {s: [] for s in SETTINGS}
    values: dict[str, list[float]] = {}
    for r in range(args.repeats):
        for setting in (SETTINGS if r % 2 == 0 else SETTINGS[::-1]):
            wall, parts, vals = one_run(setting, n_trials=args.trials)
            runs[setting].append((wall, parts))
            values[setting] = vals
    n = args.trials
    med = {s: sorted(results, key=lambda x: x[0])[len(results) // 2] for s, results in runs.items()}  # median run
    lines = ["| part | " + " | ".join(f"{s}: ms/trial | share" for s in SETTINGS) + " |",
             "|---|" + "---:|---:|" * len(SETTINGS)]
    for part in PARTS:
        cells = []
        for setting in SETTINGS:
            wall, parts = med[setting]
            cells += [f"{1e3 * parts.get(part, 0.0) / n:.1f}", f"{parts.get(part, 0.0) / wall:.0%}"]
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(f"**{1e3 * med[s][0] / n:.1f}** | " for s in SETTINGS) + "|")
    print(f"{n} trials, median of {args.repeats} interleaved runs per setting ({DIMS_NOTE})\n")
    print("\n".join(lines))
    native, pinned, ours = (med[s][0] for s in SETTINGS)
    print(f"\nunitune vs native: {native / ours:.2f}x faster; vs native under one thread: {pinned / ours:.2f}x")
    print(f"same values: native 1 thread vs unitune {values['native, 1 thread'] == values['unitune']}, "
          f"native default threads vs 1 thread {values['native'] == values['native, 1 thread']}")
    if args.n_jobs:
        print(native_n_jobs(args.repeats, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
