"""``executor="thread"``: each trial in a daemon thread of the driver process.

Each trial's thread count (``threads_per_trial``) is a process-wide limit for the run: BLAS pools,
torch and the environment are set when the pool starts and restored at its end; OpenMP's count is per
thread, so each trial's thread sets its own too.

For objectives that release the GIL (NumPy, scikit-learn, PyTorch, I/O) or cannot be pickled.  A thread
cannot be stopped from outside: a trial still running at the timeout or at Ctrl-C is recorded as
failed and *abandoned* — it keeps running in the background until it returns or reaches its next
``ut.report`` (which then stops it), and its result is ignored.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import replace
from typing import Any

from ..execution import TrialRunner, worker_name
from ..records import format_error
from .channel import AskDriverHooks, Event, LocalHooks, drain
from .share import trial_threads
from .worker import evaluate


class ThreadPool:
    kind = "thread"
    stops_running_trials = False

    def __init__(self, runner: TrialRunner, prune: bool) -> None:
        self._runner = replace(runner, deadline=None)
        self._prune = prune
        # A process-wide thread limit for the whole run (BLAS pools, torch, the environment); each trial's
        # thread also sets its own OpenMP count (runner.threads, per thread) when it starts.
        self._limit = trial_threads(runner.threads)
        self._limit.__enter__()
        self._events: queue.Queue[Event] = queue.Queue()
        self._replies: dict[int, queue.Queue[bool]] = {}
        self._lock = threading.Lock()
        self._stopped: set[int] = set()

    def submit(self, number: int, assignment: dict[str, Any]) -> str:
        hooks = AskDriverHooks(lambda step, value, inter: self._ask(number, step, value, inter)) if self._prune \
            else LocalHooks()
        threading.Thread(target=self._run, args=(number, assignment, hooks), name=f"unitune-trial-{number}",
                         daemon=True).start()
        return worker_name()

    def _ask(self, number: int, step: int, value: float, intermediate: list[tuple[int, float]]) -> bool:
        box: queue.Queue[bool] = queue.Queue(maxsize=1)
        with self._lock:
            if number in self._stopped:
                return True
            self._replies[number] = box
        self._events.put(("report", number, step, value, intermediate))
        return box.get()

    def _run(self, number: int, assignment: dict[str, Any], hooks: Any) -> None:
        try:
            event = evaluate(self._runner, number, assignment, hooks)
        except BaseException as exc:  # SystemExit from the objective: the trial's thread ends
            event = ("crashed", number, f"WorkerCrashed: the objective ended its thread with {format_error(exc)}")
        self._events.put(event)

    def reply(self, number: int, stop: bool) -> None:
        with self._lock:
            box = self._replies.pop(number, None)
        if box is not None:
            box.put(stop)

    def poll(self, timeout: float) -> list[Event]:
        return drain(self._events, timeout)

    def cancel(self, number: int) -> None:
        with self._lock:
            self._stopped.add(number)
        self.reply(number, True)  # an abandoned trial waiting for a decision stops now

    def close(self) -> None:
        with self._lock:
            numbers = list(self._replies)
        for number in numbers:
            self.cancel(number)
        if self._limit is not None:
            limit, self._limit = self._limit, None
            limit.__exit__(None, None, None)  # the last trial thread still running restores it otherwise
