"""Trial records: plain, backend-neutral data (no framework objects), one per finished trial."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

State = Literal["complete", "pruned", "failed"]
STATES: tuple[State, ...] = ("complete", "pruned", "failed")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TrialRecord:
    """What happened in one trial.

    ``params`` is the flat assignment of the *active* parameters (``{"model": "svm", "model.svm.C": 3.2}``);
    ``value`` is the optimized value exactly as the objective returned it (NaN when failed);
    ``intermediate`` holds ``(step, value)`` pairs reported with ``ut.report``.
    """

    number: int
    state: State
    value: float
    params: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    step: int | None = None
    intermediate: list[tuple[int, float]] = field(default_factory=list)
    started: datetime = field(default_factory=utcnow)
    finished: datetime = field(default_factory=utcnow)
    error: str | None = None
    # Seconds the framework itself spent on this trial (its ask + its tell), next to the objective's duration_s.
    optimizer_s: float | None = None
    # Where the trial ran, "host:pid" (the driver for in-process trials).
    worker: str | None = None
    # Free-form provenance for this trial (e.g. the PBT trial it was cloned from); never framework objects.
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return (self.finished - self.started).total_seconds()

    @property
    def ok(self) -> bool:
        """A complete trial with a finite value: the kind a framework can learn from as is."""
        return self.state == "complete" and math.isfinite(self.value)


def format_error(exc: BaseException) -> str:
    """``"ValueError: message"`` — what the table's ``error`` column holds."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
