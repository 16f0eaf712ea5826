"""The worker's side of every executor: load the objective once, evaluate trials, encode their outcome."""

from __future__ import annotations

import math
from typing import Any

from ..context import TrialHooks
from ..exceptions import ObjectiveReturnError
from ..execution import RunInterrupted, TrialRunner, worker_name
from ..records import TrialRecord, format_error, utcnow
from .channel import Event, dumps, loads


def pack_runner(objective_blob: bytes, runner: TrialRunner) -> bytes:
    """What a worker needs to evaluate trials: the (already pickled) objective, the space, the metric, the
    trial's thread count and the objectives (several values).

    No deadline travels: a worker's clock is not the driver's, and the driver stops trials itself.
    """
    return dumps((objective_blob, runner.space, runner.metric, runner.threads, runner.objectives))


def unpack_runner(blob: bytes) -> TrialRunner:
    objective_blob, space, metric, threads, objectives = loads(blob)
    return TrialRunner(loads(objective_blob), space, metric=metric, deadline=None, threads=threads,
                       objectives=objectives)


_cache: dict[int, tuple[bytes, TrialRunner]] = {}


def cached_runner(blob: bytes) -> TrialRunner:
    """The runner for ``blob``, unpickled once per worker process and run (the last run's is kept)."""
    key = hash(blob)
    hit = _cache.get(key)
    if hit is not None and hit[0] == blob:
        return hit[1]
    runner = unpack_runner(blob)
    _cache.clear()
    _cache[key] = (blob, runner)
    return runner


def evaluate(runner: TrialRunner, number: int, assignment: dict[str, Any], hooks: TrialHooks,
             info: dict[str, Any] | None = None) -> Event:
    """Run one trial with the shared failure contract; the outcome as a ``done`` or ``fatal`` event."""
    try:
        record = runner.run(number, assignment, hooks)
    except ObjectiveReturnError as exc:
        return ("fatal", number, exc)
    except RunInterrupted as stop:  # the objective itself raised KeyboardInterrupt inside a worker
        record = stop.record
    finally:
        close = getattr(hooks, "close", None)
        if close is not None:
            close()
    if info:
        record.info.update(info)
    return ("done", number, record)


def failed_record(number: int, assignment: dict[str, Any], error: str) -> TrialRecord:
    now = utcnow()
    return TrialRecord(number=number, state="failed", value=math.nan, params=dict(assignment), started=now,
                       finished=now, error=error, worker=worker_name())


def encode(event: Event, assignment: dict[str, Any]) -> bytes:
    """Pickle an outcome; one that cannot be pickled (an odd metric, an exotic exception) becomes a failed
    record saying so, so the driver always hears about the trial."""
    try:
        return dumps(event)
    except Exception as exc:
        kind, number = event[0], event[1]
        if kind == "fatal":
            return dumps(("fatal", number, ObjectiveReturnError(str(event[2]))))
        error = f"PicklingError: the trial's result cannot be sent to the driver: {format_error(exc)}"
        return dumps(("done", number, failed_record(number, assignment, error)))
