"""Plan and execute the comparison runs (optionally in parallel processes), built on ``ut.compare``."""

from __future__ import annotations

import multiprocessing
import warnings
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

import pandas as pd

import unitune as ut

from .problems import PROBLEMS


@dataclass(frozen=True)
class Entry:
    """One optimizer under comparison: a backend and one of its algorithms."""

    backend: str
    algorithm: str

    @property
    def label(self) -> str:
        return f"{self.backend}/{self.algorithm}"


@dataclass(frozen=True)
class Task:
    """Every seed of one optimizer on one problem (run in one process, in seed order)."""

    problem: str
    entry: Entry
    seeds: tuple[int, ...]
    n_trials: int


def available_backends() -> dict[str, type]:
    """Installed backends whose adapter loads, name -> adapter class."""
    from unitune.registry import get_backend, installed_names

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: get_backend(name) for name in installed_names()}


def parse_entries(specs: Iterable[str] | None) -> list[Entry]:
    """``["optuna", "skopt:forest"]`` -> entries; a bare name means its default algorithm plus random search."""
    backends = available_backends()
    entries: list[Entry] = []
    for spec in specs or list(backends):
        name, _, algorithm = spec.partition(":")
        if name not in backends:
            print(f"note: backend {name!r} is not available here (not installed or no adapter); skipped")
            continue
        cls = backends[name]
        algorithms = [algorithm] if algorithm else [cls.default_algorithm, "random"]
        for alg in dict.fromkeys(algorithms):
            if alg not in cls.algorithms:
                raise SystemExit(f"backend {name!r} has no algorithm {alg!r}; it has: {', '.join(cls.algorithms)}")
            entries.append(Entry(name, alg))
    return entries


def run_options(problem_name: str, entry: Entry) -> dict:
    """The problem's extra run arguments, keeping a scheduler only where the backend offers it."""
    options = dict(PROBLEMS[problem_name].run_options)
    scheduler = options.get("scheduler")
    if scheduler and scheduler not in available_backends()[entry.backend].schedulers:
        print(f"note: {entry.label} has no {scheduler!r} scheduler; {problem_name} runs without early stopping")
        options.pop("scheduler")
    return options


def run_task(task: Task) -> pd.DataFrame:
    """Run every seed of one optimizer on one problem; the unified table plus ``problem``."""
    problem = PROBLEMS[task.problem]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Warm-up: one throwaway trial imports the framework (and starts Ray) outside the timed runs.
        ut.minimize(lambda p: 0.0, problem.space, backend=task.entry.backend, algorithm=task.entry.algorithm,
                    n_trials=1, seed=0)
        table = ut.compare(problem.objective, problem.space, backends=[(task.entry.backend, task.entry.algorithm)],
                           n_trials=task.n_trials, seeds=task.seeds, **run_options(task.problem, task.entry))
    table.insert(0, "problem", task.problem)
    return table


def _run_chunk(tasks: list[Task]) -> list[pd.DataFrame]:
    return [run_task(task) for task in tasks]


def execute(tasks: list[Task], jobs: int = 1, progress: bool = True) -> pd.DataFrame:
    """Run the tasks, in ``jobs`` worker processes when > 1, and concatenate their tables.

    Ray tasks share one worker (one Ray runtime per process); everything else is spread out.
    """
    from tqdm.auto import tqdm

    ray_tasks = [t for t in tasks if t.entry.backend == "ray"]
    chunks = [[t] for t in tasks if t.entry.backend != "ray"] + ([ray_tasks] if ray_tasks else [])
    bar = tqdm(total=len(tasks), desc="benchmark runs", unit="task", disable=not progress)
    tables: list[pd.DataFrame] = []
    try:
        if jobs <= 1:
            for chunk in chunks:
                for task in chunk:
                    bar.set_postfix_str(f"{task.problem} {task.entry.label}")
                    tables.append(run_task(task))
                    bar.update(1)
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                # the slow Ray chunk first, so it overlaps with everything else
                pending = {pool.submit(_run_chunk, chunk): chunk for chunk in sorted(chunks, key=len, reverse=True)}
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        chunk = pending.pop(future)
                        tables.extend(future.result())
                        bar.update(len(chunk))
                        bar.set_postfix_str(f"last: {chunk[-1].problem} {chunk[-1].entry.label}")
    finally:
        bar.close()
    if not tables:
        return pd.DataFrame()
    table = pd.concat(tables, ignore_index=True)
    order = {(t.problem, t.entry.label): i for i, t in enumerate(tasks)}  # deterministic row order
    key = table.apply(lambda r: order.get((r["problem"], f"{r['backend']}/{r['algorithm']}"), 0), axis=1)
    return table.assign(_order=key).sort_values(["_order", "run", "trial"], kind="stable").drop(columns="_order") \
        .reset_index(drop=True)
