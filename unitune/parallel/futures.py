"""Any ``concurrent.futures.Executor`` (a Dask ``Client.get_executor()``, a ``ProcessPoolExecutor``, …), used as is.

Each trial is one ``executor.submit(run_task, runner_blob, number, assignment, channel)``: the objective
is cloudpickled once per run and the same bytes go with every task; ``run_task`` is a plain function of
this module, so the workers need ``unitune`` importable.  Results come back as pickled bytes.

With a scheduler, reports travel to the driver over a ``ListenerChannel`` (127.0.0.1, per-run authkey),
so the executor's workers must run on the driver's machine for pruning (a Dask ``LocalCluster``, a
process pool); a trial whose worker cannot reach it fails with ``ChannelError`` saying so.

An executor's running task cannot be stopped through the ``Executor`` interface: at the timeout or at
Ctrl-C the trial is recorded failed, its future is cancelled (which only helps if it had not started)
and the task is *abandoned*: it runs to its end (or its next ``ut.report``, which then stops it) and
its result is ignored.  A worker process that dies under a trial gives a ``failed`` row with the
executor's error; the run goes on if the executor does (Dask replaces the worker; a
``ProcessPoolExecutor`` is broken for good, so every later trial fails too — prefer ``"process"``).
"""

from __future__ import annotations

import queue
from concurrent.futures import Executor, Future
from typing import Any

from ..records import format_error
from .channel import Event, ListenerChannel, LocalHooks, drain, listener_hooks, loads
from .worker import cached_runner, encode, evaluate


def run_task(blob: bytes, number: int, assignment: dict[str, Any], channel: tuple[Any, bytes] | None) -> bytes:
    """One trial on an executor's worker; returns the pickled ``done``/``fatal`` event."""
    runner = cached_runner(blob)
    hooks = listener_hooks(channel[0], channel[1], number) if channel is not None else LocalHooks()
    return encode(evaluate(runner, number, assignment, hooks), assignment)


class FuturesPool:
    kind = "executor"
    stops_running_trials = False

    def __init__(self, executor: Executor, init_blob: bytes, prune: bool) -> None:
        self._executor = executor
        self._blob = init_blob
        self._events: queue.Queue[Event] = queue.Queue()
        self._channel = ListenerChannel(self._events) if prune else None
        self._futures: dict[int, Future[bytes]] = {}

    def submit(self, number: int, assignment: dict[str, Any]) -> str | None:
        channel = None if self._channel is None else (self._channel.address, self._channel.authkey)
        future = self._executor.submit(run_task, self._blob, number, dict(assignment), channel)
        self._futures[number] = future
        future.add_done_callback(lambda f, n=number: self._done(n, f))
        return None  # which worker runs it is the executor's business; the record says afterwards

    def _done(self, number: int, future: Future[bytes]) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            try:
                self._events.put(loads(future.result()))
            except Exception as error:  # a result that does not unpickle in the driver
                self._events.put(("crashed", number, f"WorkerError: the trial's result cannot be read: "
                                                     f"{format_error(error)}"))
            return
        self._events.put(("crashed", number, f"WorkerCrashed: the executor's task failed: {format_error(exc)}"))

    def reply(self, number: int, stop: bool) -> None:
        if self._channel is not None:
            self._channel.reply(number, stop)

    def poll(self, timeout: float) -> list[Event]:
        events = drain(self._events, timeout)
        for event in events:
            if event[0] in ("done", "fatal", "crashed"):
                self._futures.pop(event[1], None)
                if self._channel is not None:
                    self._channel.forget(event[1])
        return events

    def cancel(self, number: int) -> None:
        future = self._futures.pop(number, None)
        if future is not None:
            future.cancel()
        self.reply(number, True)  # an abandoned trial waiting for a decision stops now

    def close(self) -> None:
        for number in list(self._futures):
            self.cancel(number)
        if self._channel is not None:
            self._channel.close()
