"""Backend-independent early stopping for frameworks without their own (Hyperopt, scikit-optimize).

The schedulers watch the values trials report with ``ut.report`` and decide, at each report, whether
the trial goes on.  Their rules follow the published algorithms and the names of Optuna's pruners:

* ``median`` — the median stopping rule (Golovin et al., 2017): stop a trial whose best value so far
  is worse than the median of the completed trials' best values up to the same step.
* ``asha`` — asynchronous successive halving (Li et al., 2020): rungs at steps
  ``min_resource * reduction_factor**k``; a trial reaching a rung goes on only if its value is in the
  best ``1/reduction_factor`` of all values recorded at that rung so far.
* ``fifo`` — never stop (the default when no scheduler is given).
"""

from __future__ import annotations

import bisect
import math
import threading
from typing import Any, ClassVar

from .exceptions import InvalidRunError
from .records import TrialRecord

SCHEDULERS: dict[str, str] = {
    "fifo": "no early stopping",
    "median": "median stopping rule (unitune's own, Optuna MedianPruner semantics)",
    "asha": "asynchronous successive halving (unitune's own, Optuna SuccessiveHalvingPruner names)",
}


class Scheduler:
    """Decides, report by report, whether a running trial continues.  One instance per study.

    Trials may run concurrently: what belongs to one trial lives in its ``SchedulerHooks`` (passed in as
    ``trial``), what the trials share is guarded by the scheduler's lock.
    """

    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, direction: str, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise InvalidRunError(
                f"scheduler {type(self).__name__} takes no option(s) {', '.join(unknown)}; "
                f"it accepts: {', '.join(sorted(self.options)) or 'none'}"
            )
        self.settings = {**self.options, **options}
        self.minimize = direction == "minimize"
        self.lock = threading.Lock()

    def better(self, a: float, b: float) -> bool:
        return a < b if self.minimize else a > b

    def best_so_far(self, intermediate: list[tuple[int, float]]) -> float:
        values = [v for _, v in intermediate if not math.isnan(v)]
        if not values:
            return math.nan
        return min(values) if self.minimize else max(values)

    def should_stop(self, trial: SchedulerHooks, step: int, intermediate: list[tuple[int, float]]) -> bool:
        return False

    def observe(self, record: TrialRecord) -> None:
        """Learn from a finished trial (complete, pruned or failed)."""

    def hooks(self, number: int) -> SchedulerHooks:
        return SchedulerHooks(self, number)


class SchedulerHooks:
    """``TrialHooks`` of one trial that ask a unitune scheduler; the trial's own scheduler state and its
    checkpoint live here."""

    def __init__(self, scheduler: Scheduler, number: int) -> None:
        self.scheduler = scheduler
        self.number = number
        self.judged: set[int] = set()  # rungs this trial has been judged at (ASHA)
        self._state: Any = None

    def should_prune(self, step: int, value: float, intermediate: list[tuple[int, float]]) -> bool:
        with self.scheduler.lock:
            return self.scheduler.should_stop(self, step, intermediate)

    def save_checkpoint(self, state: Any) -> None:
        self._state = state

    def load_checkpoint(self) -> Any:
        return self._state


class Fifo(Scheduler):
    pass


class MedianStopping(Scheduler):
    options: ClassVar[dict[str, Any]] = {"n_startup_trials": 5, "n_warmup_steps": 0, "interval_steps": 1,
                                         "n_min_trials": 1}

    def __init__(self, direction: str, **options: Any) -> None:
        super().__init__(direction, **options)
        self._completed: list[list[tuple[int, float]]] = []

    def observe(self, record: TrialRecord) -> None:
        if record.state == "complete" and record.intermediate:
            with self.lock:
                self._completed.append(record.intermediate)

    def should_stop(self, trial: SchedulerHooks, step: int, intermediate: list[tuple[int, float]]) -> bool:
        s = self.settings
        if len(self._completed) < s["n_startup_trials"] or step < s["n_warmup_steps"]:
            return False
        if (step - s["n_warmup_steps"]) % s["interval_steps"]:
            return False
        mine = self.best_so_far(intermediate)
        # Each completed trial's best value up to this step (trials that never got this far do not vote).
        others = [self.best_so_far([(k, v) for k, v in curve if k <= step])
                  for curve in self._completed if curve[-1][0] >= step]
        others = [v for v in others if not math.isnan(v)]
        if len(others) < s["n_min_trials"]:
            return False
        if math.isnan(mine):
            return True
        others.sort()
        n = len(others)
        median = others[n // 2] if n % 2 else (others[n // 2 - 1] + others[n // 2]) / 2
        return self.better(median, mine)


class SuccessiveHalving(Scheduler):
    options: ClassVar[dict[str, Any]] = {"min_resource": 1, "reduction_factor": 4, "min_early_stopping_rate": 0}

    def __init__(self, direction: str, **options: Any) -> None:
        super().__init__(direction, **options)
        s = self.settings
        if s["min_resource"] < 1 or s["reduction_factor"] < 2 or s["min_early_stopping_rate"] < 0:
            raise InvalidRunError("asha needs min_resource >= 1, reduction_factor >= 2, min_early_stopping_rate >= 0")
        self._rungs: dict[int, list[float]] = {}  # rung index -> sorted values (as minimization scores)

    def _rung_step(self, k: int) -> int:
        s = self.settings
        return s["min_resource"] * s["reduction_factor"] ** (s["min_early_stopping_rate"] + k)

    def should_stop(self, trial: SchedulerHooks, step: int, intermediate: list[tuple[int, float]]) -> bool:
        judged = trial.judged
        k = 0
        while self._rung_step(k) <= step:
            if k not in judged:
                judged.add(k)
                score = self.best_so_far(intermediate)
                if math.isnan(score):
                    return True
                score = score if self.minimize else -score
                rung = self._rungs.setdefault(k, [])
                bisect.insort(rung, score)
                # keep the best 1/eta of what reached this rung; with one value there is nothing to compare
                keep = max(1, len(rung) // self.settings["reduction_factor"])
                if len(rung) > 1 and score > rung[keep - 1]:
                    return True
            k += 1
        return False


_CLASSES: dict[str, type[Scheduler]] = {"fifo": Fifo, "median": MedianStopping, "asha": SuccessiveHalving}


def scheduler_class(name: str | None) -> type[Scheduler]:
    return _CLASSES[name or "fifo"]


def make_scheduler(name: str | None, direction: str, options: dict[str, Any]) -> Scheduler:
    """Build the named scheduler (its option names were checked with the run, before any trial)."""
    return scheduler_class(name)(direction, **options)
