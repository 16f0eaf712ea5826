"""Parallel and distributed trials for the ask/tell backends: ``Study.optimize(..., n_jobs=k, executor=...)``.

The driver (the process that called ``optimize``) asks, tells and decides pruning; workers only evaluate
the objective (``loop.py``).  Executors, one module each:

* ``"process"`` (the default for ``n_jobs > 1``) — unitune's own worker processes (``processes.py``);
* ``"thread"`` — daemon threads in the driver (``threads.py``);
* ``"ray"`` or ``RayTasks(num_cpus=..., num_gpus=...)`` — Ray tasks, locally or on the cluster in
  ``RAY_ADDRESS`` (``ray_tasks.py``);
* any ``concurrent.futures.Executor`` — used as is, e.g. a Dask ``Client.get_executor()`` (``futures.py``).

``n_jobs`` is the number of trials in flight on every executor (a foreign executor with more workers
still gets ``n_jobs`` trials at a time).  The Ray Tune backend runs trials on its own actors; there
``executor`` may only be left out or be ``"ray"``.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from ..exceptions import InvalidRunError, UnsupportedFeatureError
from .channel import dumps, have_cloudpickle
from .ray_tasks import RayTasks, check_gpus
from .share import TrialShare, resolve_share

EXECUTORS = ("process", "thread", "ray")
DEFAULT_EXECUTOR = "process"

__all__ = ["DEFAULT_EXECUTOR", "EXECUTORS", "Plan", "RayTasks", "TrialShare", "check_executor", "plan_share",
           "run_parallel"]


@dataclass
class Plan:
    """A checked executor choice: its kind, the executor object (if any) and the pickled objective."""

    kind: str  # "process", "thread", "ray" or "executor"
    executor: Any = None
    objective_blob: bytes | None = None
    named: bool = False  # given by name ("ray"): unitune may size its RayTasks from threads_per_trial

    def __repr__(self) -> str:
        return f"Plan(kind={self.kind!r}, executor={self.executor!r})"


def check_executor(backend_class: type, objective: Any, n_jobs: int, executor: Any) -> Plan | None:
    """Check ``executor`` (and that the objective can travel to it) before any trial runs.

    Returns ``None`` for a run without an executor (``n_jobs == 1`` and no executor, or the Ray Tune
    backend, which uses its own actors), else the ``Plan`` that ``run_parallel`` follows.
    """
    from ..backends.base import LoopBackend
    from ..registry import supporting

    if isinstance(executor, Plan):
        return executor
    if issubclass(backend_class, LoopBackend):
        if executor is None or (isinstance(executor, str) and executor == backend_class.name):
            return None
        raise UnsupportedFeatureError(
            backend_class.name, f"executor={executor!r}", [b for b in supporting("ask_tell")],
            hint=f"{backend_class.name!r} runs every trial on its own workers (n_jobs of them): leave executor out"
                 f"{' or pass executor=' + repr(backend_class.name) if backend_class.name == 'ray' else ''}"
                 "; on a Ray cluster set RAY_ADDRESS.",
        )
    if executor is None:
        if n_jobs == 1:
            return None
        executor = DEFAULT_EXECUTOR
    if isinstance(executor, str):
        if executor not in EXECUTORS:
            raise InvalidRunError(f"executor must be one of {', '.join(map(repr, EXECUTORS))} or a "
                                  f"concurrent.futures.Executor, got {executor!r}")
        plan = Plan(executor, RayTasks() if executor == "ray" else None, named=True)
    elif isinstance(executor, RayTasks):
        plan = Plan("ray", executor)
    elif isinstance(executor, Executor):
        plan = Plan("executor", executor)
    else:
        raise InvalidRunError(f"executor must be one of {', '.join(map(repr, EXECUTORS))}, a RayTasks(...) or a "
                              f"concurrent.futures.Executor, got {type(executor).__name__} {executor!r}")
    if plan.kind == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise InvalidRunError('executor="ray" needs Ray: pip install "unitune[ray]"') from None
    if plan.kind != "thread":
        try:
            plan.objective_blob = dumps(objective)
        except Exception as exc:
            how = "cloudpickle" if have_cloudpickle() else 'pickle (pip install cloudpickle, or "unitune[parallel]", ' \
                  "so lambdas and closures travel too)"
            raise InvalidRunError(
                f"executor={plan.kind if plan.kind != 'executor' else type(plan.executor).__name__!r} runs the "
                f"objective in other processes, but it cannot be pickled with {how}: {type(exc).__name__}: {exc}. "
                "Use executor='thread', or make what the objective uses picklable (e.g. open files, locks and "
                "connections inside the objective)"
            ) from exc
    return plan


def plan_share(plan: Plan | None, threads_per_trial: Any, devices: Any, *, n_jobs: int, tune: bool) -> TrialShare:
    """What each running trial of this run gets (threads, devices), checked before any trial.

    A Ray executor given by name gets ``num_cpus=threads_per_trial`` per task when that is an int; a
    ``RayTasks(num_gpus=...)`` is checked against the GPUs of the Ray cluster (a task asking for GPUs that
    do not exist would wait forever).
    """
    kind = "tune" if tune else (plan.kind if plan is not None else None)
    ray_cpus = plan.executor.num_cpus if plan is not None and plan.kind == "ray" else None
    share = resolve_share(threads_per_trial, devices, n_jobs=n_jobs, kind=kind, ray_cpus=ray_cpus)
    if plan is not None and plan.kind == "ray":
        if plan.named and share.threads is not None and share.threads != plan.executor.num_cpus:
            plan.executor = RayTasks(num_cpus=share.threads)
        check_gpus(plan.executor)
    return share


def run_parallel(study: Any, runner: Any, budget: Any, state: Any, bar: Any, *, n_jobs: int, executor: Any,
                 share: TrialShare | None = None) -> None:
    """Run the study's trials ``n_jobs`` at a time on ``executor`` (see the module docstring)."""
    from .loop import drive
    from .worker import pack_runner

    plan = check_executor(study.backend_class, runner.objective, n_jobs, executor)
    if plan is None:  # n_jobs=1 without an executor reached here: one worker process keeps the contract
        plan = check_executor(study.backend_class, runner.objective, n_jobs, DEFAULT_EXECUTOR)
        assert plan is not None
    prune = study.spec.scheduler not in (None, "fifo")
    pool: Any
    if plan.kind == "thread":
        from .threads import ThreadPool

        pool = ThreadPool(runner, prune)
    else:
        assert plan.objective_blob is not None
        blob = pack_runner(plan.objective_blob, runner)
        if plan.kind == "process":
            from .processes import ProcessPool

            pool = ProcessPool(blob, n_jobs, prune, share)
        elif plan.kind == "ray":
            from .ray_tasks import RayPool

            pool = RayPool(plan.executor, blob, prune)
        else:
            from .futures import FuturesPool

            pool = FuturesPool(plan.executor, blob, prune)
    drive(study, pool, budget, state, bar, n_jobs)
