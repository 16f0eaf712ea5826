"""What every adapter is: capabilities as class data, a translation report, and a run method.

Two shapes:

* ``AskTellBackend`` — the framework proposes one trial at a time (Optuna, Hyperopt, scikit-optimize);
  unitune's loop evaluates it and tells the result back.  Adapters implement ``ask``/``tell``.
* ``Backend`` — the framework drives its own loop (Ray Tune); the adapter implements ``run`` and yields
  one ``TrialRecord`` per finished trial, evaluated through the shared ``TrialRunner``.

Adapter modules must not import their framework at module level: import it in ``__init__`` or in
helpers, so ``ut.backends()`` works without the framework installed.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ..context import NoHooks, TrialHooks
from ..execution import RunInterrupted, TrialRunner
from ..pruning import Scheduler, make_scheduler
from ..records import TrialRecord
from ..space import Param, Space

Fidelity = Literal["exact", "approximated", "unsupported"]

# Names of features a backend may declare in ``features`` (checked before the run starts).
FEATURES = {
    "conditional": "conditional search spaces (ut.choice of sub-spaces)",
    "maximize": "maximization",
    "pruning": "intermediate reports with a pruning scheduler",
    "checkpoint": "ut.checkpoint / ut.restore across scheduler decisions",
    "n_jobs": "n_jobs > 1 (concurrent trials)",
}


@dataclass(frozen=True)
class Translation:
    """How one unitune parameter is expressed in the native framework (a row of ``ut.explain``)."""

    native: str
    fidelity: Fidelity = "exact"
    note: str = ""


@dataclass(frozen=True)
class RunSpec:
    """A validated run request, as the adapter receives it."""

    space: Space
    algorithm: str
    direction: Literal["minimize", "maximize"] = "minimize"
    seed: int | None = None
    n_trials: int | None = None
    timeout: float | None = None
    metric: str | None = None
    scheduler: str | None = None
    scheduler_options: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    n_jobs: int = 1
    strict: bool = False
    progress: bool = False
    verbose: bool = False
    storage_path: str | None = None


@dataclass
class Budget:
    """The run's stopping rule: a trial count, a total time budget, or both."""

    n_trials: int | None
    timeout: float | None
    started: float = field(default_factory=time.monotonic)

    @property
    def deadline(self) -> float | None:
        return None if self.timeout is None else self.started + self.timeout

    def remaining_trials(self, done: int) -> int | None:
        return None if self.n_trials is None else max(self.n_trials - done, 0)

    def stop_reason(self, done: int) -> str | None:
        """Why no further trial may start, or None."""
        if self.n_trials is not None and done >= self.n_trials:
            return "n_trials"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "timeout"
        return None


@dataclass
class RunState:
    """Mutable state a backend updates while it runs (read by the driver when the run ends)."""

    interrupted: bool = False
    stop_reason: str = "n_trials"


@dataclass
class Suggestion:
    """One trial proposed by an ask/tell framework: unitune's flat params plus the adapter's handle."""

    number: int
    params: dict[str, Any]
    handle: Any = None


class Backend(ABC):
    """Base class of all adapters.  Subclasses fill in the class data and ``run``."""

    name: ClassVar[str]
    extra: ClassVar[str]  # the pip extra: pip install "unitune[<extra>]"
    requires: ClassVar[tuple[str, ...]]  # import names that must be importable
    algorithms: ClassVar[dict[str, str]]  # algorithm name -> one-line description
    default_algorithm: ClassVar[str]
    schedulers: ClassVar[dict[str, str]] = {}  # scheduler name -> one-line description
    features: ClassVar[frozenset[str]] = frozenset({"conditional", "maximize"})
    seeded_algorithms: ClassVar[frozenset[str]] = frozenset()  # algorithms whose sequence a seed fixes

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.space = spec.space

    # -- checks before the run (class level, so they run before any framework object exists) ---------
    @classmethod
    def check(cls, spec: RunSpec) -> None:
        """Backend-specific checks beyond the capability data; raise an ``UnituneError`` subclass."""
        return None

    @classmethod
    def option_names(cls, algorithm: str) -> frozenset[str] | None:
        """Keyword options the algorithm accepts (``None``: anything, checked by the framework)."""
        return frozenset()

    @classmethod
    @abstractmethod
    def translate(cls, param: Param, algorithm: str) -> Translation:
        """How ``param`` becomes a native dimension under ``algorithm`` (for ``ut.explain``/strict)."""

    # -- running --------------------------------------------------------------------------------------
    @abstractmethod
    def run(self, runner: TrialRunner, budget: Budget, state: RunState) -> Iterator[TrialRecord]:
        """Run trials until the budget is spent, yielding each record as it finishes."""

    def close(self) -> None:
        """Release framework resources (called once, even after errors)."""
        return None

    @property
    def minimizing(self) -> bool:
        return self.spec.direction == "minimize"


class AskTellBackend(Backend):
    """A framework driven one trial at a time by unitune's sequential loop.

    Frameworks without pruning of their own declare ``schedulers = pruning.SCHEDULERS`` and get
    unitune's backend-independent schedulers through the default ``hooks``; frameworks with native
    pruning (Optuna) set ``native_pruning = True`` and override ``hooks``.
    """

    native_pruning: ClassVar[bool] = False

    def __init__(self, spec: RunSpec) -> None:
        super().__init__(spec)
        self._scheduler: Scheduler | None = None
        if spec.scheduler is not None and not self.native_pruning:
            self._scheduler = make_scheduler(spec.scheduler, spec.direction, spec.scheduler_options)

    @abstractmethod
    def ask(self, number: int) -> Suggestion | None:
        """Propose trial ``number``; ``None`` when the algorithm has nothing left (e.g. grid exhausted)."""

    @abstractmethod
    def tell(self, suggestion: Suggestion, record: TrialRecord) -> None:
        """Report the finished trial back to the framework."""

    def hooks(self, suggestion: Suggestion) -> TrialHooks:
        """The hooks ``ut.report`` uses for this trial: unitune's scheduler, or never prune."""
        if self._scheduler is None:
            return NoHooks()
        return self._scheduler.hooks(suggestion.number)

    def _finished(self, suggestion: Suggestion, record: TrialRecord) -> None:
        self.tell(suggestion, record)
        if self._scheduler is not None:
            self._scheduler.observe(record)

    def run(self, runner: TrialRunner, budget: Budget, state: RunState) -> Iterator[TrialRecord]:
        number = 0
        while True:
            reason = budget.stop_reason(number)
            if reason:
                state.stop_reason = reason
                return
            try:
                suggestion = self.ask(number)
            except KeyboardInterrupt:
                state.interrupted, state.stop_reason = True, "interrupted"
                return
            if suggestion is None:
                state.stop_reason = "exhausted"
                return
            try:
                record = runner.run(suggestion.number, suggestion.params, self.hooks(suggestion))
            except RunInterrupted as stop:
                self._finished(suggestion, stop.record)
                state.interrupted, state.stop_reason = True, "interrupted"
                yield stop.record
                return
            try:
                self._finished(suggestion, record)
            except Exception:
                yield record  # the trial finished: keep it even though the framework failed to take it
                raise
            yield record
            number += 1
