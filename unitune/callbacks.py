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

from .exceptions import InvalidRunError

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


class _ValueRule(StopRule):
    """A rule that watches one objective: the study's only one, or with several objectives the one ``metric=``
    names (required there).  It reads feasible trials only; ``watch`` checks the study before the first trial."""

    metric: str | None = None

    def watch(self, study: Study) -> None:
        objectives = study.objectives
        names = [] if objectives is None else list(objectives.names)
        if objectives is not None and objectives.several:
            if self.metric is None:
                raise InvalidRunError(f"{self!r} watches one value, and this study has several objectives "
                                      f"({objectives.describe()}): give it metric= one of {names}")
            if self.metric not in names:
                raise InvalidRunError(f"{self!r}: metric {self.metric!r} is not one of the study's objectives {names}")
            self._direction, self._index = objectives.direction_of(self.metric), names.index(self.metric)
        else:
            if self.metric is not None and self.metric not in {*names, study.spec.metric}:
                raise InvalidRunError(f"{self!r}: metric= names one of several objectives; this study has one "
                                      f"objective: leave metric out")
            self._direction, self._index = study.direction, 0
        self._study = study

    def value(self, study: Study, record: TrialRecord) -> float | None:
        """The watched objective's value of a feasible trial, else None."""
        if getattr(self, "_study", None) is not study:
            self.watch(study)
        objectives = study.objectives
        if objectives is None:
            return record.value if record.ok else None
        return objectives.values(record)[self._index] if objectives.feasible(record) else None

    def better(self, a: float, b: float) -> bool:
        return a < b if self._direction == "minimize" else a > b

    def _metric_text(self) -> str:
        return "" if self.metric is None else f", metric={self.metric!r}"


class TargetReached(_ValueRule):
    """Stop once a complete (and feasible) trial's value reaches ``target`` (``<=`` when minimizing, ``>=`` when
    maximizing).  With several objectives, ``metric=`` names the objective to watch."""

    def __init__(self, target: float, metric: str | None = None) -> None:
        self.target, self.metric = float(target), metric

    def on_run_start(self, study: Study) -> None:
        self.watch(study)

    def should_stop(self, study: Study, record: TrialRecord) -> str | None:
        value = self.value(study, record)
        if value is not None and (value == self.target or self.better(value, self.target)):
            return f"trial {record.number} reached {value!r}"
        return None

    def __repr__(self) -> str:
        return f"TargetReached({self.target!r}{self._metric_text()})"


class NoImprovement(_ValueRule):
    """Stop after ``n_trials`` finished trials in a row that did not improve the run's best value by more
    than ``min_delta`` (failed, pruned and infeasible trials count as not improving).  With several
    objectives, ``metric=`` names the objective to watch."""

    def __init__(self, n_trials: int, min_delta: float = 0.0, metric: str | None = None) -> None:
        if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
            raise ValueError(f"NoImprovement: n_trials must be an int >= 1, got {n_trials!r}")
        self.n_trials, self.min_delta, self.metric = n_trials, float(min_delta), metric
        self._best, self._since = math.nan, 0

    def on_run_start(self, study: Study) -> None:
        self.watch(study)
        self._best, self._since = math.nan, 0

    def should_stop(self, study: Study, record: TrialRecord) -> str | None:
        value = self.value(study, record)
        sign = 1.0 if self._direction == "minimize" else -1.0
        if value is not None and (math.isnan(self._best) or sign * (self._best - value) > self.min_delta):
            self._best, self._since = value, 0
            return None
        self._since += 1
        if self._since >= self.n_trials:
            return f"{self._since} trials without improving on {self._best!r}"
        return None

    def __repr__(self) -> str:
        return f"NoImprovement({self.n_trials}, min_delta={self.min_delta!r}{self._metric_text()})"


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
