"""The driver loop of a parallel run: keep ``n_jobs`` trials in flight, ask when a slot frees, tell on completion.

Only the driver talks to the framework (ask, tell, ``should_prune``); workers only evaluate.  The loop

* asks for one trial per free slot, never more than ``n_trials`` started in all; each ask sees the
  trials in flight as pending (Optuna: running trials, TPE's constant liar; skopt: its liar strategy on
  a copy of the optimizer; Hyperopt: pending trial documents and a fresh seed per suggestion — one
  Hyperopt call for several ids gives TPE's same point for each, so the loop never batches);
* answers each worker's ``ut.report`` with the trial's ``hooks.should_prune`` (Optuna's pruner or
  unitune's scheduler, here in the driver);
* tells each finished trial as it arrives (so the order of finishing decides what the model sees);
* at the timeout stops every trial still running (killing its process or Ray task; threads and foreign
  executors abandon it) and records it ``failed`` with ``TrialTimeout``;
* on Ctrl-C does the same with the KeyboardInterrupt error and marks the run interrupted;
* on ``ObjectiveReturnError`` from a worker stops the others (recorded failed) and re-raises;
* always closes the pool: no worker process of unitune's outlives the run.

Ctrl-C is caught by a SIGINT handler that only sets a flag (when the driver runs on the main thread with
Python's default handler), so it never lands inside a framework call; a second Ctrl-C raises at once.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import TrialTimeout
from ..execution import INTERRUPTED_ERROR, TIMED_OUT_MESSAGE
from ..records import TrialRecord, format_error, utcnow

POLL_S = 0.1  # how often the loop looks at the clock and the Ctrl-C flag while waiting for workers


@dataclass
class _Flight:
    trial: Any
    worker: str | None
    started: Any = field(default_factory=utcnow)
    intermediate: list[tuple[int, float]] = field(default_factory=list)


class _Sigint:
    def __init__(self) -> None:
        self.fired = False
        self._previous: Any = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Sigint]:
        usable = threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if not usable:  # another handler (or SIGINT ignored): KeyboardInterrupt, if any, is caught around the loop
            yield self
            return

        def handler(signum: int, frame: Any) -> None:
            if self.fired:  # a second Ctrl-C: stop at once
                raise KeyboardInterrupt
            self.fired = True

        signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def drive(study: Any, pool: Any, budget: Any, state: Any, bar: Any, n_jobs: int) -> None:
    flights: dict[int, _Flight] = {}
    exhausted = False
    sigint = _Sigint()

    def finish(number: int, record: TrialRecord) -> None:
        flight = flights.pop(number)
        study._finish(flight.trial, record)
        bar.update(record)

    def stop_all(error: str) -> None:
        for number, flight in list(flights.items()):
            pool.cancel(number)
            record = TrialRecord(number=number, state="failed", value=math.nan, params=flight.trial.assignment,
                                 started=flight.started, finished=utcnow(), error=error, worker=flight.worker)
            record.intermediate = list(flight.intermediate)
            record.step = flight.intermediate[-1][0] if flight.intermediate else None
            finish(number, record)

    def handle(event: tuple[Any, ...]) -> None:
        kind, number = event[0], event[1]
        flight = flights.get(number)
        if kind == "report":
            if flight is None:  # a trial the run already gave up on: stop it
                pool.reply(number, True)
                return
            _, _, step, value, intermediate = event
            flight.intermediate = list(intermediate)
            pool.reply(number, bool(flight.trial.hooks.should_prune(step, value, intermediate)))
        elif flight is None:
            return  # the late result of a stopped or abandoned trial
        elif kind == "done":
            finish(number, event[2])
        elif kind == "crashed":
            record = TrialRecord(number=number, state="failed", value=math.nan, params=flight.trial.assignment,
                                 started=flight.started, finished=utcnow(), error=event[2], worker=flight.worker)
            record.intermediate = list(flight.intermediate)
            record.step = flight.intermediate[-1][0] if flight.intermediate else None
            finish(number, record)
        elif kind == "fatal":
            flights.pop(number)  # like a sequential run: the offending trial stays untold
            stop_all(f"RunStopped: trial {number} stopped the run: {format_error(event[2])}")
            raise event[2]

    try:
        with sigint.installed():
            while True:
                if sigint.fired:
                    raise KeyboardInterrupt
                if budget.deadline is not None and time.monotonic() >= budget.deadline:
                    for event in pool.poll(0):  # what finished by now counts
                        handle(event)
                    stop_all(format_error(TrialTimeout(TIMED_OUT_MESSAGE)))
                    state.stop_reason = "timeout"
                    return
                free = n_jobs - len(flights)
                # What counts toward n_trials: this run's finished trials, or for a stored study every finished
                # trial of the study (other workers' too, taken in from the store by _sync).
                study._sync()
                remaining = budget.remaining_trials(study._done() + len(flights))
                want = free if remaining is None else min(free, remaining)
                if study._stop_requested is not None:  # Study.stop(): the trials in flight finish, no new one
                    want = 0
                for _ in range(want if not exhausted else 0):
                    # One ask per free slot, each seeing the trials in flight as pending (Optuna's running
                    # trials, skopt's liar, a fresh Hyperopt suggestion whose seed differs from the others').
                    trials = study._ask(1)
                    if not trials:
                        exhausted = True
                        break
                    flight = flights[trials[0].number] = _Flight(trials[0], None)
                    flight.worker = pool.submit(flight.trial.number, flight.trial.assignment)
                if not flights:
                    state.stop_reason = "exhausted" if exhausted else (budget.stop_reason(study._done()) or "n_trials")
                    return
                wait_s = POLL_S if budget.deadline is None else min(POLL_S, budget.deadline - time.monotonic())
                for event in pool.poll(max(wait_s, 0.0)):
                    handle(event)
    except KeyboardInterrupt:
        stop_all(INTERRUPTED_ERROR)
        state.interrupted, state.stop_reason = True, "interrupted"
    finally:
        pool.close()
