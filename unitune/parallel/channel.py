"""What travels between the driver and the workers: pickling, events, and the report/decision channel.

Workers only evaluate.  Everything a trial tells the driver is an *event*:

* ``("report", number, step, value, intermediate)`` — ``ut.report`` in the worker; the worker waits for
  the driver's answer (stop or go on), which the driver takes from ``trial.hooks.should_prune`` (Optuna's
  trial objects and unitune's schedulers live in the driver);
* ``("done", number, record)`` — the trial's ``TrialRecord``, as ``TrialRunner.run`` made it in the worker;
* ``("fatal", number, exc)`` — the objective broke the run (``ObjectiveReturnError``): the run stops;
* ``("crashed", number, message)`` — the worker died under the trial (``os._exit``, a segfault, OOM kill).

The channel a report travels on depends on the executor: a queue (threads), the worker's pipe
(processes), a Ray actor (Ray tasks) or a ``multiprocessing.connection`` listener on 127.0.0.1 with a
per-run secret (any other ``concurrent.futures.Executor``).  Reports are only sent when the study has a
scheduler; without one, ``ut.report`` stays in the worker and never waits for the driver.
"""

from __future__ import annotations

import contextlib
import pickle
import queue
import secrets
import threading
from collections.abc import Callable
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

from ..context import NoHooks

Event = tuple[Any, ...]


def dumps(obj: Any) -> bytes:
    """Pickle with cloudpickle (so lambdas, closures and ``__main__`` functions travel by value)."""
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - every backend extra brings cloudpickle
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def have_cloudpickle() -> bool:
    try:
        import cloudpickle  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True


# Worker-side hooks for a study without a scheduler: never prune, checkpoints in the worker.
LocalHooks = NoHooks


def drain(events: queue.Queue, timeout: float) -> list[Any]:
    """Every event waiting in ``events``, after waiting up to ``timeout`` seconds for the first one."""
    try:
        got = [events.get(timeout=max(timeout, 0.0))]
    except queue.Empty:
        return []
    while True:
        try:
            got.append(events.get_nowait())
        except queue.Empty:
            return got


class AskDriverHooks(LocalHooks):
    """Worker-side hooks that send each report to the driver and wait for its decision.

    ``ask(step, value, intermediate) -> bool`` is the transport (a pipe, a queue, an actor call, a
    socket).  Checkpoints stay in the worker for the trial's lifetime.
    """

    def __init__(self, ask: Callable[[int, float, list[tuple[int, float]]], bool],
                 close: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._ask = ask
        self._close = close

    def close(self) -> None:
        if self._close is not None:
            self._close()

    def should_prune(self, step: int, value: float, intermediate: list[tuple[int, float]]) -> bool:
        return bool(self._ask(step, value, list(intermediate)))


class ChannelError(RuntimeError):
    """A worker could not reach the driver's report channel."""


class ListenerChannel:
    """The driver's end of the report channel for executors unitune does not know (Dask, …).

    A ``multiprocessing.connection.Listener`` on 127.0.0.1 (never another address) with a random
    per-run authkey; each trial that reports opens one connection.  Reports become events on
    ``events``; ``reply(number, stop)`` answers the trial's pending report.  Workers must run on this
    machine to reach it (a worker elsewhere gets a failed trial saying so).
    """

    def __init__(self, events: queue.Queue[Event]) -> None:
        self.authkey = secrets.token_bytes(32)
        self._listener = Listener(("127.0.0.1", 0), authkey=self.authkey)
        self.address: tuple[str, int] = self._listener.address  # type: ignore[assignment]
        self._events = events
        self._conns: dict[int, Connection] = {}
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="unitune-channel", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn = self._listener.accept()
            except Exception:  # closed, or a client that failed the authkey handshake
                if self._closed:
                    return
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        try:
            while True:
                message = conn.recv()
                number = message[1]
                with self._lock:
                    self._conns[number] = conn
                self._events.put(message)
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def reply(self, number: int, stop: bool) -> None:
        with self._lock:
            conn = self._conns.get(number)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(bool(stop))

    def forget(self, number: int) -> None:
        with self._lock:
            self._conns.pop(number, None)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()


def listener_hooks(address: tuple[str, int], authkey: bytes, number: int) -> AskDriverHooks:
    """Worker-side hooks that reach a ``ListenerChannel`` (the connection opens at the first report)."""
    state: dict[str, Connection] = {}

    def ask(step: int, value: float, intermediate: list[tuple[int, float]]) -> bool:
        if "conn" not in state:
            try:
                state["conn"] = Client(address, authkey=authkey)
            except OSError as exc:
                raise ChannelError(
                    f"cannot reach the driver's report channel at {address[0]}:{address[1]} ({exc}); with "
                    "a scheduler, an executor's workers must run on the driver's machine"
                ) from exc
        conn = state["conn"]
        conn.send(("report", number, step, value, intermediate))
        return bool(conn.recv())

    def close() -> None:
        if "conn" in state:
            state.pop("conn").close()

    return AskDriverHooks(ask, close)
