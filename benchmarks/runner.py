"""Plan and execute the comparison runs (optionally in parallel processes), built on ``ut.minimize``.

One task is one optimizer on one problem with one seed, so both cores stay busy until the end.  Every
run executes under :func:`unitune.threads.limited_for` (one BLAS/OpenMP/torch thread for the model-
fitting optimizers), so a seed gives the same table on any machine.  Finished tasks are written to
``parts/`` as they come in, so a long run that is stopped keeps what it finished (``--resume``).
"""

from __future__ import annotations

import multiprocessing
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import unitune as ut
from unitune.threads import limited_for

from .problems import MULTI_OBJECTIVE_PROBLEMS, PROBLEMS, MultiObjectiveProblem, Problem

# Every backend's main algorithms (--full); a bare backend name in quick mode means default + random.
FULL_ALGORITHMS: dict[str, tuple[str, ...]] = {
    "optuna": ("tpe", "random", "cmaes", "gp"),
    "hyperopt": ("tpe", "random", "anneal"),
    "skopt": ("gp", "forest", "random"),
    "ray": ("random",),
    "nevergrad": ("ngopt", "pso", "de", "cma", "oneplusone", "portfolio", "random", "ga"),
}
# Quick mode's algorithms where "default + random search" is not the pick (a bare name, without --full).
QUICK_ALGORITHMS: dict[str, tuple[str, ...]] = {
    "nevergrad": ("ngopt", "pso"),  # its wizard and its swarm; random search is the other backends' baseline
}
# Rough optimizer cost per trial (relative), to start the slowest tasks first.
_COST = {"gp": 40.0, "forest": 8.0, "gbrt": 12.0}


@dataclass(frozen=True)
class Entry:
    """One optimizer under comparison: a backend and one of its algorithms."""

    backend: str
    algorithm: str
    options: tuple[tuple[str, Any], ...] = ()  # the algorithm's own options, e.g. (("scramble", True),)

    @property
    def label(self) -> str:
        return f"{self.backend}/{self.algorithm}"


@dataclass(frozen=True)
class Task:
    """Seeds of one optimizer on one problem (run in one process, in seed order)."""

    problem: str
    entry: Entry
    seeds: tuple[int, ...]
    n_trials: int
    native: bool = False  # also run the problem through the native library (benchmarks/native.py)

    @property
    def key(self) -> str:
        return f"{self.problem}__{self.entry.backend}_{self.entry.algorithm}__" + "_".join(map(str, self.seeds))

    @property
    def cost(self) -> float:
        per_trial = 25.0 if self.entry.backend == "ray" else _COST.get(self.entry.algorithm, 1.0)
        objective = 30.0 if problem_of(self.problem).kind != "synthetic" else 0.0
        return len(self.seeds) * self.n_trials * (per_trial + objective) * (2 if self.native else 1)


def problem_of(name: str) -> Problem | MultiObjectiveProblem:
    """The problem called ``name``: one of ``PROBLEMS`` or of ``MULTI_OBJECTIVE_PROBLEMS``."""
    return PROBLEMS[name] if name in PROBLEMS else MULTI_OBJECTIVE_PROBLEMS[name]


def available_backends() -> dict[str, type]:
    """Installed backends whose adapter loads, name -> adapter class."""
    from unitune.registry import get_backend, installed_names

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: get_backend(name) for name in installed_names()}


def parse_entries(specs: Iterable[str] | None, full: bool = False) -> list[Entry]:
    """``["optuna", "skopt:forest"]`` -> entries.

    A bare name means its default algorithm plus random search (or its ``QUICK_ALGORITHMS``), or with
    ``full`` its main algorithms (``FULL_ALGORITHMS``).
    """
    backends = available_backends()
    entries: list[Entry] = []
    for spec in specs or list(backends):
        name, _, algorithm = spec.partition(":")
        if name not in backends:
            print(f"note: backend {name!r} is not available here (not installed or no adapter); skipped")
            continue
        cls = backends[name]
        if algorithm:
            algorithms = [algorithm]
        elif full and name in FULL_ALGORITHMS:
            algorithms = [a for a in FULL_ALGORITHMS[name] if a in cls.algorithms]
        elif name in QUICK_ALGORITHMS:
            algorithms = [a for a in QUICK_ALGORITHMS[name] if a in cls.algorithms]
        else:
            algorithms = [cls.default_algorithm, "random"]
        for alg in dict.fromkeys(algorithms):
            if alg not in cls.algorithms:
                raise SystemExit(f"backend {name!r} has no algorithm {alg!r}; it has: {', '.join(cls.algorithms)}")
            entries.append(Entry(name, alg))
    return entries


def run_options(problem_name: str, entry: Entry) -> dict:
    """The problem's extra run arguments, keeping a scheduler only where the backend offers it."""
    options = dict(problem_of(problem_name).run_options)
    scheduler = options.get("scheduler")
    if scheduler and scheduler not in available_backends()[entry.backend].schedulers:
        print(f"note: {entry.label} has no {scheduler!r} scheduler; {problem_name} runs without early stopping")
        options.pop("scheduler")
    return options


_WARMED: set[tuple[str, str, str]] = set()


def _warm_up(task: Task) -> None:
    """One throwaway trial per process and optimizer: imports (and ``ray.init``) are not timed."""
    key = (task.problem, task.entry.backend, task.entry.algorithm)
    if key in _WARMED:
        return
    problem = problem_of(task.problem)
    ut.minimize(lambda p: 0.0, problem.space, backend=task.entry.backend, algorithm=task.entry.algorithm,
                n_trials=1, seed=0)
    _WARMED.add(key)


def run_task(task: Task) -> pd.DataFrame:
    """Run every seed of one optimizer on one problem; the unified table plus ``problem`` and ``impl``."""
    problem = problem_of(task.problem)
    backend, algorithm = task.entry.backend, task.entry.algorithm
    tables = []
    with warnings.catch_warnings(), limited_for(backend, algorithm):
        warnings.simplefilter("ignore")
        _warm_up(task)
        for seed in task.seeds:
            started = time.perf_counter()
            # (a multi-objective problem's run options hold its directions and metrics)
            result = ut.optimize(problem.objective, problem.space, backend=backend, algorithm=algorithm,
                                 n_trials=task.n_trials, seed=seed, **dict(task.entry.options),
                                 **run_options(task.problem, task.entry))
            table = result.table.copy()
            table.insert(0, "run_seconds", time.perf_counter() - started)
            table.insert(0, "run", f"{backend}/{result.algorithm}/seed={seed}")
            table.insert(0, "impl", "unitune")
            tables.append(table)
            if task.native:
                from .native import run_native

                tables.append(run_native(task.problem, backend, algorithm, task.n_trials, seed))
    table = pd.concat(tables, ignore_index=True)
    table.insert(0, "problem", task.problem)
    return table


def plan(problems: Iterable[str], entries: Iterable[Entry], seeds: Iterable[int], budget, native: bool = False
         ) -> list[Task]:
    """One task per problem, optimizer and seed (``budget(problem)`` trials each)."""
    return [Task(name, entry, (seed,), budget(name), native) for name in problems for entry in entries
            for seed in seeds]


def execute(tasks: list[Task], jobs: int = 1, progress: bool = True, parts: Path | None = None) -> pd.DataFrame:
    """Run the tasks, in ``jobs`` worker processes when > 1, and concatenate their tables.

    Ray tasks go to one extra worker (one Ray runtime per process); everything else is spread over
    ``jobs`` workers, the costliest first.  With ``parts``, each finished task's table is written there
    (and a task whose file is already there is not run again).
    """
    from tqdm.auto import tqdm

    tables: dict[str, pd.DataFrame] = {}
    todo = list(tasks)
    if parts is not None:
        parts.mkdir(parents=True, exist_ok=True)
        for task in tasks:
            path = parts / f"{task.key}.pkl"
            if path.exists():
                tables[task.key] = pd.read_pickle(path)
        todo = [t for t in tasks if t.key not in tables]

    def done_with(task: Task, table: pd.DataFrame) -> None:
        tables[task.key] = table
        if parts is not None:
            table.to_pickle(parts / f"{task.key}.pkl")

    ray_tasks = [t for t in todo if t.entry.backend == "ray"]
    others = sorted((t for t in todo if t.entry.backend != "ray"), key=lambda t: -t.cost)  # costliest first
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="benchmark runs", unit="task",
               disable=not progress)
    try:
        if jobs <= 1:
            for task in ray_tasks + others:
                bar.set_postfix_str(f"{task.problem} {task.entry.label}")
                done_with(task, run_task(task))
                bar.update(1)
        else:
            # Ray's tasks go one by one to one extra worker that keeps its Ray runtime; the rest to `jobs`.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool, \
                    ProcessPoolExecutor(max_workers=1, mp_context=context) as ray_pool:
                pending = {ray_pool.submit(run_task, t): t for t in ray_tasks}
                pending.update({pool.submit(run_task, t): t for t in others})
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        task = pending.pop(future)
                        done_with(task, future.result())
                        bar.update(1)
                        bar.set_postfix_str(f"last: {task.problem} {task.entry.label}")
    finally:
        bar.close()
    ordered = [tables[t.key] for t in tasks if t.key in tables]  # deterministic row order: the plan's
    if not ordered:
        return pd.DataFrame()
    return pd.concat(ordered, ignore_index=True)
