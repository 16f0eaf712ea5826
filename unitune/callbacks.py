"""Ready-made callbacks for ``Study.optimize(callbacks=[...])``: stop rules.

A callback is any ``f(study, record)``, called in the driver after each finished trial.  A stop rule is
a callback that calls ``study.stop(reason)`` once its condition holds: no new trial starts, the running
ones finish and are kept, and ``result.stop_reason`` says which rule ended the run and why.  Objects
with an ``on_run_start(study)`` method are told when each ``optimize`` call starts (a rule counts from
there), so one rule object can be reused across runs; an ``on_run_end(study)`` method is called when the
``optimize`` call is over, however it ended (``unitune.integrations.mlflow.MLflowCallback`` ends its parent
run there).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import TrialRecord
    from .study import Study


class StopRule:
    """Base of the stop rules: ``should_stop`` returns the reason to stop (or None) after each trial."""

    def on_run_start(self, study: Study) -> None:
        return None

    def should_stop(self, study: Study, record: TrialRecord) -> str | None:
        raise NotImplementedError

    def __call__(self, study: Study, record: TrialRecord) -> None:
        reason = self.should_stop(study, record)
        if reason is not None:
            study.stop(f"stopped: {self!r}: {reason}")


def _better(study: Study, a: float, b: float) -> bool:
    return a < b if study.direction == "minimize" else a > b


class TargetReached(StopRule):
    """Stop once a complete trial's value reaches ``target`` (``<=`` when minimizing, ``>=`` when maximizing)."""

    def __init__(self, target: float) -> None:
        self.target = float(target)

    def should_stop(self, study: Study, record: TrialRecord) -> str | None:
        if not record.ok:
            return None
        if record.value == self.target or _better(study, record.value, self.target):
            return f"trial {record.number} reached {record.value!r}"
        return None

    def __repr__(self) -> str:
        return f"TargetReached({self.target!r})"


class NoImprovement(StopRule):
    """Stop after ``n_trials`` finished trials in a row that did not improve the run's best value by more
    than ``min_delta`` (failed and pruned trials count as not improving)."""

    def __init__(self, n_trials: int, min_delta: float = 0.0) -> None:
        if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
            raise ValueError(f"NoImprovement: n_trials must be an int >= 1, got {n_trials!r}")
        self.n_trials, self.min_delta = n_trials, float(min_delta)
        self.on_run_start(None)  # type: ignore[arg-type]

    def on_run_start(self, study: Study | None) -> None:
        self._best, self._since = math.nan, 0

    def should_stop(self, study: Study, record: TrialRecord) -> str | None:
        sign = 1.0 if study.direction == "minimize" else -1.0
        if record.ok and (math.isnan(self._best) or sign * (self._best - record.value) > self.min_delta):
            self._best, self._since = record.value, 0
            return None
        self._since += 1
        if self._since >= self.n_trials:
            return f"{self._since} trials without improving on {self._best!r}"
        return None

    def __repr__(self) -> str:
        return f"NoImprovement({self.n_trials}, min_delta={self.min_delta!r})"


class WallTime(StopRule):
    """Stop starting trials ``seconds`` after the run started; unlike ``timeout=``, the trials running then
    finish normally (nothing is cut short)."""

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"WallTime: seconds must be > 0, got {seconds!r}")
        self.seconds = float(seconds)
        self._started = time.monotonic()

    def on_run_start(self, study: Study) -> None:
        self._started = time.monotonic()

    def should_stop(self, study: Study, record: TrialRecord) -> str | None:
        elapsed = time.monotonic() - self._started
        return f"{elapsed:.1f} s since the run started" if elapsed >= self.seconds else None

    def __repr__(self) -> str:
        return f"WallTime({self.seconds!r})"
