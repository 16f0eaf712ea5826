"""Heartbeats of a stored study's running trials, so a worker that dies on any machine does not hold its trial.

A process that has trials running (reserved in the store, not finished) marks them alive every
``interval`` seconds from a daemon thread (``Store.beat``).  Every process of the study, before it asks
(``Study._sync``, at most twice per interval), fails the running trials whose heartbeat is older than
``grace`` seconds (``Store.fail_stale``: ``WorkerLost``, the params kept).  Only one process wins each
such write, and it alone re-asks the trial when ``retry_failed`` allows.  This is how Optuna's RDB storage
does it (``heartbeat_interval``, ``grace_period``, ``failed_trial_callback``); on this host, a dead
process's trials are also found at once by its pid when a study is resumed (``Store.fail_orphans``).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import threading
import time
from collections.abc import Callable
from typing import Any

from .exceptions import InvalidRunError
from .records import TrialRecord

GRACE_INTERVALS = 4  # the default grace period, in heartbeat intervals


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise InvalidRunError(f"{name} must be a number of seconds > 0 (or None), got {value!r}")
    return float(value)


class Liveness:
    """A study's heartbeat thread and its check for trials whose worker went silent."""

    def __init__(self, interval: float | None, grace: float, retry_failed: int) -> None:
        self.interval, self.grace, self.retry_failed = interval, grace, retry_failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checked = -math.inf

    @classmethod
    def checked(cls, interval: Any, grace: Any, retry_failed: Any) -> Liveness:
        """Validated settings (before any trial): ``heartbeat_interval``, ``grace_period``, ``retry_failed``."""
        if isinstance(retry_failed, bool) or not isinstance(retry_failed, numbers.Integral) or retry_failed < 0:
            raise InvalidRunError(f"retry_failed must be an int >= 0, got {retry_failed!r}")
        if interval is None:
            if grace is not None:
                raise InvalidRunError("grace_period needs heartbeats: give heartbeat_interval= too")
            return cls(None, math.inf, int(retry_failed))
        every = _seconds("heartbeat_interval", interval)
        wait = GRACE_INTERVALS * every if grace is None else _seconds("grace_period", grace)
        if wait <= every:
            raise InvalidRunError(f"grace_period ({wait:g} s) must be longer than heartbeat_interval ({every:g} s), "
                                  "or a live worker between two heartbeats would be taken for dead")
        return cls(every, wait, int(retry_failed))

    def start(self, store: Any, study_id: int, running: Callable[[], list[int]]) -> None:
        """Beat for the trials ``running()`` returns, every interval, until ``stop``."""
        if self.interval is None or self._thread is not None:
            return

        def beat() -> None:
            while not self._stop.wait(self.interval):
                with contextlib.suppress(Exception):  # a missed beat (store busy, a race on the dict) is the next one's
                    store.beat(study_id, running())

        self._thread = threading.Thread(target=beat, name="unitune-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def fail_stale(self, store: Any, study_id: int) -> list[TrialRecord]:
        """The trials this call found silent past the grace period and failed (at most twice per interval)."""
        if self.interval is None or time.monotonic() - self._checked < self.interval / 2:
            return []
        self._checked = time.monotonic()
        return store.fail_stale(study_id, self.grace)
