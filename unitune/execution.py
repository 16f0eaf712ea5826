"""Calling the objective once and turning whatever happens into a ``TrialRecord``.

This is the only place that interprets the objective's behaviour, so every backend shares the
failure contract: exceptions and NaN give ``failed`` rows, ``TrialPruned`` gives ``pruned`` rows,
Ctrl-C gives a ``failed`` row and then stops the run.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .context import NoHooks, TrialContext, TrialHooks, trial_context
from .exceptions import ObjectiveReturnError, TrialPruned, TrialTimeout
from .objectives import Objectives
from .records import TrialRecord, format_error, utcnow
from .space import Space

# The error of a trial the run ended before it finished (also used by adapters that run trials elsewhere).
INTERRUPTED_ERROR = "KeyboardInterrupt: the run was interrupted while this trial ran"
TIMED_OUT_MESSAGE = "the run's timeout elapsed while this trial ran"

Objective = Callable[[dict[str, Any]], Any]
_HOST = socket.gethostname()


def worker_name() -> str:
    """``host:pid`` of the process evaluating a trial (the table's ``worker`` column)."""
    return f"{_HOST}:{os.getpid()}"


class RunInterrupted(Exception):  # noqa: N818 - internal control flow
    """Ctrl-C arrived while the objective ran; ``record`` is that trial, recorded as failed."""

    def __init__(self, record: TrialRecord) -> None:
        self.record = record
        super().__init__("interrupted")


@dataclass
class TrialRunner:
    """Everything needed to evaluate a trial, independent of the backend."""

    objective: Objective
    space: Space
    metric: str | None = None
    deadline: float | None = None  # time.monotonic() value after which a running trial is stopped
    threads: int | None = None  # BLAS/OpenMP threads for the objective (parallel/share.py); None: untouched
    objectives: Objectives | None = None  # several objectives: how the returned values are read

    def run(self, number: int, assignment: Mapping[str, Any], hooks: TrialHooks | None = None) -> TrialRecord:
        """Evaluate the objective on ``assignment`` (flat, active params only).

        Raises ``RunInterrupted`` (carrying the failed record) on Ctrl-C and ``ObjectiveReturnError``
        when the objective returns a dict but no ``metric=`` was given.
        """
        assignment = dict(assignment)
        ctx = TrialContext(number=number, params=assignment, hooks=hooks or NoHooks())
        started = utcnow()
        record = TrialRecord(number=number, state="failed", value=math.nan, params=assignment, started=started,
                             finished=started, worker=worker_name())
        try:
            with trial_context(ctx), self._threads():
                if self.deadline is None:
                    returned = self.objective(self.space.build(assignment))
                else:
                    with _alarm_at(self.deadline):
                        returned = self.objective(self.space.build(assignment))
            interpret(returned, self.metric, record, self.objectives)
        except TrialPruned:
            record.state = "pruned"
            record.value = ctx.last_value
        except TrialTimeout as exc:
            record.error = format_error(exc)
        except KeyboardInterrupt:
            record.error = INTERRUPTED_ERROR
            self._finish(record, ctx)
            raise RunInterrupted(record) from None
        except ObjectiveReturnError:
            raise
        except Exception as exc:
            record.error = format_error(exc)
        self._finish(record, ctx)
        return record

    def _threads(self) -> contextlib.AbstractContextManager:
        if self.threads is None:
            return contextlib.nullcontext()
        from .parallel.share import trial_threads

        return trial_threads(self.threads)

    @staticmethod
    def _finish(record: TrialRecord, ctx: TrialContext) -> None:
        record.finished = utcnow()
        record.intermediate = list(ctx.intermediate)
        record.step = ctx.last_step
        record.metrics = {**ctx.metrics, **record.metrics}


def interpret(returned: Any, metric: str | None, record: TrialRecord, objectives: Objectives | None = None) -> None:
    """Fill ``record`` from what the objective returned (a number, or a dict of metrics with ``metric``;
    with several objectives, their values: ``Objectives.interpret``).

    A complete record needs a real number that is not NaN; anything else leaves it ``failed`` with the
    reason in ``error``.  A dict without ``metric=`` is a usage error: ``ObjectiveReturnError``.
    """
    if objectives is not None and objectives.several:
        objectives.interpret(returned, record)
        return
    metrics: dict[str, Any] = {}
    if isinstance(returned, Mapping):
        if metric is None:
            raise ObjectiveReturnError(
                f"the objective returned a dict ({sorted(map(str, returned))}); "
                "pass metric='<name>' to say which entry to optimize"
            )
        if metric not in returned:
            got = sorted(map(str, returned))
            record.error = f"KeyError: the objective's result has no metric {metric!r} (got {got})"
            return
        metrics = {str(k): v for k, v in returned.items() if k != metric}
        returned = returned[metric]
    record.metrics = {**record.metrics, **metrics}
    if not isinstance(returned, numbers.Real) or isinstance(returned, bool):
        record.error = f"TypeError: the objective returned {type(returned).__name__} {returned!r}, not a number"
        return
    value = float(returned)
    record.value = value
    if math.isnan(value):
        record.error = "ValueError: the objective returned NaN"
        return
    record.state = "complete"


@contextmanager
def _alarm_at(deadline: float | None) -> Iterator[None]:
    """Raise ``TrialTimeout`` in the objective when the run's total time budget runs out.

    Uses SIGALRM, so it works on the main thread of POSIX systems; elsewhere the budget is only
    checked between trials.
    """
    usable = (
        deadline is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return
    assert deadline is not None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TrialTimeout("the run's timeout elapsed before this trial started")

    def _raise(signum: int, frame: Any) -> None:
        raise TrialTimeout(TIMED_OUT_MESSAGE)

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, remaining)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
