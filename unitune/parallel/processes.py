"""``executor="process"`` (the default for ``n_jobs > 1``): unitune's own worker processes, one pipe each.

Why not ``ProcessPoolExecutor``: it cannot stop one running task, and one worker that dies (a
segfault, ``os._exit``) breaks the whole pool.  Here each worker is a fresh Python interpreter
(``python -c`` importing only ``unitune.parallel.processes``: no fork of a driver that has threads, and
unlike multiprocessing's spawn/forkserver, the user's ``__main__`` script is never run again) connected
by a socket pair.  It receives the driver's ``sys.path`` and the cloudpickled objective once, then one
trial at a time, and runs ``TrialRunner.run`` on its main thread.  The driver

* answers each ``ut.report`` on the pipe with ``trial.hooks.should_prune`` (pruning decided in the driver);
* kills the worker (SIGKILL) to stop a trial at the timeout or at Ctrl-C, and starts a new one for the
  next trial;
* sees a worker that died under a trial through its pipe and process sentinel: the trial is ``failed``
  (``WorkerCrashed: the worker process exited with code 1`` / ``was killed by signal SIGSEGV``) and the
  run goes on with a new worker.

Workers ignore SIGINT (Ctrl-C is the driver's to handle) and exit on their own when the driver dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from ..execution import worker_name
from ..records import format_error
from .channel import AskDriverHooks, Event, LocalHooks, dumps, loads
from .share import DEVICE_VAR, TrialShare
from .worker import encode, evaluate, failed_record, unpack_runner

_HOST = worker_name().rsplit(":", 1)[0]


def _exit_with_driver(alive_fd: int) -> None:
    with contextlib.suppress(OSError):
        os.read(alive_fd, 1)  # returns (EOF) when the driver closes its end or dies
    os._exit(0)  # nobody will read this worker's results any more


def worker_main(conn_fd: int, alive_fd: int) -> None:
    """A worker process: load the objective, then evaluate one trial per message until told to exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's: it stops the trials
    threading.Thread(target=_exit_with_driver, args=(alive_fd,), daemon=True).start()
    conn = Connection(conn_fd)
    runner, broken = None, None
    try:
        path, blob = conn.recv()
        sys.path[:] = [*path, *(p for p in sys.path if p not in path)]
        runner = unpack_runner(blob)
    except BaseException as exc:
        broken = f"WorkerError: the objective cannot be loaded in the worker process: {format_error(exc)}"
    conn.send_bytes(dumps(("ready", os.getpid())))
    devices = {"devices": os.environ[DEVICE_VAR]} if os.environ.get("UNITUNE_DEVICES") == "1" else None

    def ask(number: int, step: int, value: float, intermediate: list[tuple[int, float]]) -> bool:
        conn.send_bytes(dumps(("report", number, step, value, intermediate)))
        return bool(conn.recv())

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "exit":
            return
        _, number, assignment, prune = message
        if runner is None:
            conn.send_bytes(dumps(("done", number, failed_record(number, assignment, str(broken)))))
            continue
        hooks = AskDriverHooks(lambda s, v, i, n=number: ask(n, s, v, i)) if prune else LocalHooks()
        event = evaluate(runner, number, assignment, hooks, devices)
        conn.send_bytes(encode(event, assignment))


def crash_message(exitcode: int | None) -> str:
    if exitcode is None or exitcode == 0:
        return "WorkerCrashed: the worker process ended while running this trial"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"WorkerCrashed: the worker process was killed by {name} (signal {-exitcode})"
    return f"WorkerCrashed: the worker process exited with code {exitcode}"


class _Worker:
    def __init__(self, process: subprocess.Popen[bytes], conn: Connection, alive_fd: int, slot: int) -> None:
        self.process, self.conn, self.alive_fd, self.slot = process, conn, alive_fd, slot
        self.number: int | None = None
        self.ready = False
        self.name = f"{_HOST}:{process.pid}"

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.dispose()

    def dispose(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.alive_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.alive_fd)
            self.alive_fd = -1


BOOT_WAIT_S = 60.0

_BOOT = ("import sys; from unitune.parallel.processes import worker_main; "
         "worker_main(int(sys.argv[1]), int(sys.argv[2]))")


class ProcessPool:
    kind = "process"
    stops_running_trials = True

    def __init__(self, init_blob: bytes, n_jobs: int, prune: bool, share: TrialShare | None = None) -> None:
        self._blob = init_blob
        self._prune = prune
        self._share = share or TrialShare()
        self._workers: list[_Worker] = []
        started = [self._start() for _ in range(n_jobs)]  # boot in parallel, then hand each the objective
        for worker in started:
            self._send_objective(worker)
        # The first trials start once the workers are up (the run's one-time start), so n_jobs trials begin
        # together; a worker slower than BOOT_WAIT_S gets its trial when it is ready.
        waiting = {w.conn: w for w in started}
        deadline = time.monotonic() + BOOT_WAIT_S
        while waiting and time.monotonic() < deadline:
            for conn in wait(list(waiting), timeout=max(deadline - time.monotonic(), 0.0)):
                worker = waiting.pop(conn)  # type: ignore[call-overload]
                with contextlib.suppress(EOFError, OSError):  # one that died shows at the next poll
                    if worker.conn.poll():
                        worker.ready = loads(worker.conn.recv_bytes())[0] == "ready"

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    def _start(self) -> _Worker:
        # Each worker holds one slot (0 … n_jobs-1) for life; a replacement takes the slot its predecessor freed,
        # so two running trials never share a device group.
        used = {w.slot for w in self._workers if w.process.poll() is None}  # a dead one's slot is free
        slot = next(i for i in range(len(self._workers) + 1) if i not in used)
        env = {**os.environ, **self._share.env(slot)}  # before the interpreter starts: OpenMP/BLAS read it on load
        mine, theirs = socket.socketpair()
        alive_r, alive_w = os.pipe()
        try:
            process = subprocess.Popen([sys.executable, "-c", _BOOT, str(theirs.fileno()), str(alive_r)],
                                       pass_fds=(theirs.fileno(), alive_r), stdin=subprocess.DEVNULL, env=env)
        finally:
            theirs.close()
            os.close(alive_r)
        worker = _Worker(process, Connection(mine.detach()), alive_w, slot)
        self._workers.append(worker)
        return worker

    def _send_objective(self, worker: _Worker) -> None:
        with contextlib.suppress(OSError):  # a worker that died at once shows at the next poll
            worker.conn.send((list(sys.path), self._blob))

    def submit(self, number: int, assignment: dict[str, Any]) -> str:
        worker = next((w for w in self._workers if w.number is None), None)
        if worker is None:
            worker = self._start()
            self._send_objective(worker)
        worker.number = number
        with contextlib.suppress(OSError):  # it died while idle: the sentinel reports it at the next poll
            worker.conn.send(("trial", number, dict(assignment), self._prune))
        return worker.name

    def _by_number(self, number: int) -> _Worker | None:
        return next((w for w in self._workers if w.number == number), None)

    def reply(self, number: int, stop: bool) -> None:
        worker = self._by_number(number)
        if worker is not None:
            with contextlib.suppress(OSError):
                worker.conn.send(bool(stop))

    def poll(self, timeout: float) -> list[Event]:
        if not self._workers:
            return []
        by_conn = {w.conn: w for w in self._workers}
        events: list[Event] = []
        for conn in wait(list(by_conn), timeout=max(timeout, 0.0)):
            worker = by_conn[conn]  # type: ignore[index]
            try:
                while worker.conn.poll():
                    event = loads(worker.conn.recv_bytes())
                    if event[0] == "ready":
                        worker.ready = True
                        continue
                    if event[0] in ("done", "fatal"):
                        worker.number = None
                    events.append(event)
                continue
            except (EOFError, OSError):  # the worker is gone
                pass
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(5)
            if worker.number is not None:
                events.append(("crashed", worker.number, crash_message(worker.process.returncode)))
            self._workers.remove(worker)
            worker.dispose()
        return events

    def cancel(self, number: int) -> None:
        worker = self._by_number(number)
        if worker is not None:
            self._workers.remove(worker)
            worker.kill()

    def close(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            if worker.number is None:
                with contextlib.suppress(OSError):
                    worker.conn.send(("exit",))
            else:
                with contextlib.suppress(OSError):
                    worker.process.kill()
        for worker in workers:
            try:
                worker.process.wait(3)
            except subprocess.TimeoutExpired:
                worker.kill()
            worker.dispose()
