"""What every adapter is: capabilities as class data, a translation report, and ask/tell or a run method.

Two shapes:

* ``AskTellBackend`` — the framework proposes trials (Optuna, Hyperopt, scikit-optimize); ``ut.Study``
  asks, evaluates and tells.  Adapters implement ``ask``/``tell`` (and ``ask_batch`` where the framework
  has its own way of proposing several pending trials at once).
* ``LoopBackend`` — the framework drives its own loop (Ray Tune); the adapter implements ``run`` and
  yields one ``TrialRecord`` per finished trial, evaluated through the shared ``TrialRunner``.

Adapter modules must not import their framework at module level: import it in ``__init__`` or in
helpers, so ``ut.backends()`` works without the framework installed.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from ..context import NoHooks, TrialHooks
from ..execution import TrialRunner
from ..objectives import Objectives
from ..pruning import Scheduler, make_scheduler, scheduler_class
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
    "ask_tell": "ask/tell (ut.Study.ask and Study.tell)",
    "multi_objective": "several objectives (directions=[...])",
    "constraints": "constraints= (feasibility of trials, told to the algorithm)",
}


@dataclass(frozen=True)
class Translation:
    """How one unitune parameter is expressed in the native framework (a row of ``ut.explain``)."""

    native: str
    fidelity: Fidelity = "exact"
    note: str = ""


@dataclass(frozen=True)
class RunSpec:
    """The one list of a study's settings, as the adapter receives it.

    ``ut.Study(space, backend=..., **settings)`` (and so ``ut.minimize``) takes every field below except
    ``space`` and the run limits (``n_trials``, ``timeout``, ``n_jobs``, ``progress``), which are
    arguments of ``Study.optimize``; any other keyword is an option of the backend's algorithm.
    """

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
    # Several objectives and/or constraints (``ut.Study(directions=, metrics=, constraints=)``); None: one value.
    objectives: Objectives | None = None

    @classmethod
    def settings(cls) -> frozenset[str]:
        """The names ``ut.Study`` takes as settings (the other keywords are algorithm options)."""
        return frozenset(f.name for f in fields(cls)) - RUN_LIMITS - {"space", "options", "objectives"}

    @property
    def several_objectives(self) -> bool:
        return self.objectives is not None and self.objectives.several


# RunSpec fields that belong to one ``Study.optimize`` call, not to the study.
RUN_LIMITS = frozenset({"n_trials", "timeout", "n_jobs", "progress"})


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
    """One trial proposed by an ask/tell framework: unitune's flat params plus the adapter's handle.

    Everything an adapter needs to tell this trial back lives here (not in the adapter), so several
    trials may be pending at once.
    """

    number: int
    params: dict[str, Any]
    handle: Any = None
    info: dict[str, Any] = field(default_factory=dict)  # copied into the trial's TrialRecord.info


class Backend(ABC):
    """Base class of all adapters.  Subclasses fill in the class data and ``AskTellBackend``/``LoopBackend``."""

    name: ClassVar[str]
    extra: ClassVar[str]  # the pip extra: pip install "unitune[<extra>]"
    requires: ClassVar[tuple[str, ...]]  # import names that must be importable
    algorithms: ClassVar[dict[str, str]]  # algorithm name -> one-line description
    default_algorithm: ClassVar[str]
    schedulers: ClassVar[dict[str, str]] = {}  # scheduler name -> one-line description
    features: ClassVar[frozenset[str]] = frozenset({"conditional", "maximize"})
    seeded_algorithms: ClassVar[frozenset[str]] = frozenset()  # algorithms whose sequence a seed fixes
    partial_points: ClassVar[bool] = False  # Study.enqueue: the framework samples what a known point leaves out

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.space = spec.space

    # -- checks before the run (class level, so they run before any framework object exists) ---------
    @classmethod
    def check(cls, spec: RunSpec) -> None:
        """Backend-specific checks beyond the capability data; raise an ``UnituneError`` subclass."""
        return None

    @classmethod
    def check_enqueue(cls, spec: RunSpec) -> None:
        """Refuse known points (``Study.enqueue``) where the algorithm cannot take them; all can by default."""
        return None

    @classmethod
    def option_names(cls, algorithm: str) -> frozenset[str] | None:
        """Keyword options the algorithm accepts (``None``: anything, checked by the framework)."""
        return frozenset()

    @classmethod
    def scheduler_option_names(cls, scheduler: str) -> frozenset[str]:
        """Keyword options ``scheduler`` accepts in ``scheduler_options`` (default: unitune's schedulers)."""
        return frozenset(scheduler_class(scheduler).options)

    @classmethod
    def calls(cls, spec: RunSpec) -> AbstractContextManager[Any]:
        """A context around every call into the framework (quiet logging, fixed threads, …) that restores
        what it changed afterwards; nothing by default."""
        return nullcontext()

    @classmethod
    def around_run(cls, spec: RunSpec) -> AbstractContextManager[Any]:
        """A context around a whole ``optimize`` call, the objective included, so only for what the objective
        cannot notice (e.g. the framework's own logging level); nothing by default."""
        return nullcontext()

    @classmethod
    @abstractmethod
    def translate(cls, param: Param, algorithm: str) -> Translation:
        """How ``param`` becomes a native dimension under ``algorithm`` (for ``ut.explain``/strict)."""

    def close(self) -> None:
        """Release framework resources and restore what the adapter changed (called once, even after errors)."""
        return None

    @property
    def minimizing(self) -> bool:
        return self.spec.direction == "minimize"


class LoopBackend(Backend):
    """A framework that drives its own loop (Ray Tune): ``run`` yields each trial's record as it finishes.

    ``history`` holds the trials a resumed stored study had before this run (set by the study); such a
    framework has no way to learn from them, but may avoid repeating them.
    """

    history: list[TrialRecord] = []  # noqa: RUF012 - replaced per instance by the study
    known_points: list[dict[str, Any]] = []  # noqa: RUF012 - Study.enqueue's points (flat), to run first
    # Set by the study: True once ``Study.stop()`` was called; the framework starts no new trial after it.
    stop_requested: Callable[[], bool] = staticmethod(lambda: False)
    # Set by a stored study: called with each trial's record as soon as the framework has ended it, so it is
    # committed then (records handed over this way are yielded by ``run`` again at the end, marked kept).
    on_finished: Callable[[TrialRecord], None] | None = None

    @abstractmethod
    def run(self, runner: TrialRunner, budget: Budget, state: RunState) -> Iterator[TrialRecord]:
        """Run trials until the budget is spent, yielding each record as it finishes."""


class AskTellBackend(Backend):
    """A framework that proposes trials on request; ``ut.Study`` asks, evaluates and tells.

    Frameworks without pruning of their own declare ``schedulers = pruning.SCHEDULERS`` and get
    unitune's backend-independent schedulers through the default ``hooks``; frameworks with native
    pruning (Optuna) set ``native_pruning = True`` and override ``hooks``.  The study serializes
    calls into the adapter (one lock), so adapters need not be thread-safe, but every trial's own
    state must live in its ``Suggestion``: several trials may be pending at once.
    """

    native_pruning: ClassVar[bool] = False
    features: ClassVar[frozenset[str]] = frozenset({"conditional", "maximize", "ask_tell"})

    def __init__(self, spec: RunSpec) -> None:
        super().__init__(spec)
        self._scheduler: Scheduler | None = None
        if spec.scheduler is not None and not self.native_pruning:
            self._scheduler = make_scheduler(spec.scheduler, spec.direction, spec.scheduler_options)

    @abstractmethod
    def ask(self) -> Suggestion | None:
        """Propose a trial (the study numbers it); ``None`` when the algorithm has nothing left (e.g. grid
        exhausted)."""

    def ask_batch(self, n: int) -> list[Suggestion]:
        """Propose ``n`` trials that will run at once (default: one ``ask`` each; the framework sees the
        earlier ones as pending).  May return fewer when the algorithm runs out."""
        batch = []
        for _ in range(n):
            suggestion = self.ask()
            if suggestion is None:
                break
            batch.append(suggestion)
        return batch

    @abstractmethod
    def tell(self, suggestion: Suggestion, record: TrialRecord) -> None:
        """Report the finished trial back to the framework."""

    def discard(self, suggestion: Suggestion) -> None:
        """Forget a suggestion that will never run (it repeated a pending point: ``unitune.distinct``), so
        the framework learns nothing from it.  Adapters whose framework keeps pending trials override it."""
        raise NotImplementedError(f"{type(self).__name__} cannot discard a suggestion")

    def ask_at(self, params: dict[str, Any]) -> Suggestion:
        """A pending trial at ``params`` (flat, active params of this space), held by the framework as one
        it proposed (``unitune.distinct`` picks such points when the framework keeps repeating itself)."""
        raise NotImplementedError(f"{type(self).__name__} cannot take a point to evaluate")

    @abstractmethod
    def history(self) -> list[tuple[dict[str, Any], float | None]]:
        """What the framework holds of every finished trial: decoded params and the value it was told
        (``None`` for a trial told as failed/pruned without a value).  For tests and debugging."""

    @abstractmethod
    def replay(self, records: list[TrialRecord]) -> int:
        """Tell the framework finished trials it did not propose (a resumed study's history, another
        worker's trials, a warm start), as each framework takes history natively.  ``records`` hold
        params of this space (active ones only).  Returns how many the framework took."""

    def hooks(self, suggestion: Suggestion) -> TrialHooks:
        """The hooks ``ut.report`` uses for this trial: unitune's scheduler, or never prune."""
        if self._scheduler is None:
            return NoHooks()
        return self._scheduler.hooks(suggestion.number)

    def finish(self, suggestion: Suggestion, record: TrialRecord) -> None:
        """Tell the framework, then let unitune's scheduler (if any) learn from the trial."""
        self.tell(suggestion, record)
        if self._scheduler is not None:
            self._scheduler.observe(record)

    def take_history(self, records: list[TrialRecord]) -> int:
        """``replay`` plus unitune's scheduler (its median/rungs learn from the history too)."""
        told = self.replay(records) if records else 0
        if self._scheduler is not None:
            for record in records:
                self._scheduler.observe(record)
        return told
