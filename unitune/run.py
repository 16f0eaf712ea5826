"""``minimize`` / ``maximize``: validate the run, check it against the backend, drive it, build the Result."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, Literal

from .backends.base import Budget, RunSpec, RunState
from .capabilities import check_run
from .exceptions import BackendError, InvalidRunError, ObjectiveReturnError
from .execution import TrialRunner
from .progress import ProgressBar
from .records import TrialRecord
from .registry import get_backend
from .results import Result
from .space import Space, as_space


def minimize(
    objective: Callable[[dict[str, Any]], Any],
    space: Space | Mapping[str, Any],
    *,
    backend: str,
    algorithm: str | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    seed: int | None = None,
    metric: str | None = None,
    scheduler: str | None = None,
    scheduler_options: Mapping[str, Any] | None = None,
    n_jobs: int = 1,
    strict: bool = False,
    progress: bool = False,
    verbose: bool = False,
    storage_path: str | None = None,
    **options: Any,
) -> Result:
    """Minimize ``objective`` over ``space`` with ``backend`` and return every trial as a ``Result``.

    Args:
        objective: called with the params (shaped like ``space``; a conditional choice gives
            ``(label, sub_params)``); returns a float, or a dict of metrics with ``metric=`` naming
            the one to optimize.  Exceptions and NaN make the trial ``failed``; the run goes on.
        space: a dict of primitives (``ut.uniform``, ``ut.loguniform``, ``ut.integer``, ``ut.choice``),
            constants and nested dicts.
        backend: ``"optuna"``, ``"hyperopt"``, ``"skopt"``, ``"ray"`` or a registered plugin.
        algorithm: the backend's method (see ``ut.backends()``); the backend's default when None.
        n_trials: number of trials (>= 1); may be None only when ``timeout`` is given.
        timeout: total time budget in seconds; a trial still running when it elapses is stopped
            and recorded as failed (on the main thread).
        seed: makes the run reproducible (the backend's native seeding).
        metric: the key to optimize when the objective returns a dict.
        scheduler: early-stopping scheduler for ``ut.report`` (e.g. ``"median"``, ``"asha"``).
        scheduler_options: keyword arguments for the scheduler.
        n_jobs: concurrent trials, on backends that support it.
        strict: raise ``ApproximationError`` instead of approximating any part of the space.
        progress: show a progress bar (on Ray also Ray's status table, as Ray hands trials over at the end).
        verbose: let the framework log as it normally does.
        storage_path: where backends that write files (Ray) put them; a temporary folder when None.
        **options: passed to the backend's algorithm (e.g. Optuna sampler arguments); unknown names
            raise before the run starts.

    Ctrl-C stops the run and returns the finished trials with ``result.interrupted == True``.
    """
    return _run(objective, space, "minimize", backend=backend, algorithm=algorithm, n_trials=n_trials,
                timeout=timeout, seed=seed, metric=metric, scheduler=scheduler,
                scheduler_options=scheduler_options, n_jobs=n_jobs, strict=strict, progress=progress,
                verbose=verbose, storage_path=storage_path, options=options)


def maximize(
    objective: Callable[[dict[str, Any]], Any],
    space: Space | Mapping[str, Any],
    *,
    backend: str,
    algorithm: str | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    seed: int | None = None,
    metric: str | None = None,
    scheduler: str | None = None,
    scheduler_options: Mapping[str, Any] | None = None,
    n_jobs: int = 1,
    strict: bool = False,
    progress: bool = False,
    verbose: bool = False,
    storage_path: str | None = None,
    **options: Any,
) -> Result:
    """Like ``minimize``, but the objective's value is maximized (the table keeps the values as returned)."""
    return _run(objective, space, "maximize", backend=backend, algorithm=algorithm, n_trials=n_trials,
                timeout=timeout, seed=seed, metric=metric, scheduler=scheduler,
                scheduler_options=scheduler_options, n_jobs=n_jobs, strict=strict, progress=progress,
                verbose=verbose, storage_path=storage_path, options=options)


def _check_args(
    objective: Any, backend: Any, n_trials: Any, timeout: Any, seed: Any, metric: Any, n_jobs: Any
) -> None:
    if not callable(objective):
        raise InvalidRunError(f"objective must be callable, got {type(objective).__name__}")
    if not isinstance(backend, str):
        raise InvalidRunError(f"backend must be a name (str), got {backend!r}")
    if n_trials is None and timeout is None:
        raise InvalidRunError("give n_trials (>= 1), timeout (seconds), or both")
    if n_trials is not None and (
        not isinstance(n_trials, numbers.Integral) or isinstance(n_trials, bool) or n_trials < 1
    ):
        raise InvalidRunError(f"n_trials must be an int >= 1, got {n_trials!r}")
    if timeout is not None and (
        not isinstance(timeout, numbers.Real) or isinstance(timeout, bool) or not 0 < timeout < math.inf
    ):
        raise InvalidRunError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if seed is not None and (
        not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or not 0 <= seed < 2**32
    ):
        raise InvalidRunError(f"seed must be an int in [0, 2**32), got {seed!r}")
    if metric is not None and not isinstance(metric, str):
        raise InvalidRunError(f"metric must be a str, got {metric!r}")
    if not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise InvalidRunError(f"n_jobs must be an int >= 1, got {n_jobs!r}")


def _run(
    objective: Callable[[dict[str, Any]], Any],
    space: Space | Mapping[str, Any],
    direction: Literal["minimize", "maximize"],
    *,
    backend: str,
    algorithm: str | None,
    n_trials: int | None,
    timeout: float | None,
    seed: int | None,
    metric: str | None,
    scheduler: str | None,
    scheduler_options: Mapping[str, Any] | None,
    n_jobs: int,
    strict: bool,
    progress: bool,
    verbose: bool,
    storage_path: str | None,
    options: dict[str, Any],
) -> Result:
    _check_args(objective, backend, n_trials, timeout, seed, metric, n_jobs)
    compiled = as_space(space)
    cls = get_backend(backend)
    spec = RunSpec(
        space=compiled,
        algorithm=algorithm or cls.default_algorithm,
        direction=direction,
        seed=None if seed is None else int(seed),
        n_trials=None if n_trials is None else int(n_trials),
        timeout=None if timeout is None else float(timeout),
        metric=metric,
        scheduler=scheduler,
        scheduler_options=dict(scheduler_options or {}),
        options=dict(options),
        n_jobs=int(n_jobs),
        strict=strict,
        progress=progress,
        verbose=verbose,
        storage_path=storage_path,
    )
    check_run(cls, spec)
    adapter = cls(spec)
    budget = Budget(spec.n_trials, spec.timeout)
    runner = TrialRunner(objective, compiled, metric=metric, deadline=budget.deadline)
    state = RunState()
    records: list[TrialRecord] = []

    def result() -> Result:
        return Result(
            records=records, space=compiled, backend=cls.name, algorithm=spec.algorithm, seed=spec.seed,
            direction=direction, metric=metric, scheduler=scheduler, interrupted=state.interrupted,
            stop_reason=state.stop_reason,
        )

    bar = ProgressBar(progress, total=spec.n_trials, desc=f"{cls.name}/{spec.algorithm}", direction=direction)
    try:
        for record in adapter.run(runner, budget, state):
            records.append(record)
            bar.update(record)
    except KeyboardInterrupt:
        state.interrupted, state.stop_reason = True, "interrupted"
    except ObjectiveReturnError as exc:
        exc.result = result()  # type: ignore[attr-defined]
        raise
    except Exception as exc:  # the framework failed: keep the finished trials in the error
        state.stop_reason = "backend error"
        raise BackendError(
            f"backend {cls.name!r} ({spec.algorithm}) failed after {len(records)} finished trial(s): "
            f"{type(exc).__name__}: {exc}. The finished trials are in this error's .result",
            result(),
        ) from exc
    finally:
        bar.close()
        adapter.close()
    return result()
