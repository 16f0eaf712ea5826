"""The running trial, as seen from inside the objective: ``report``, ``checkpoint``, ``restore``.

The run loop puts a ``TrialContext`` in a context variable while it calls the objective.  What a
report does (ask a pruner, forward to Ray, …) is decided by the ``TrialHooks`` the backend supplies,
so these functions read the same on every backend.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from .exceptions import TrialPruned


class TrialHooks(Protocol):
    """What a backend plugs into a running trial."""

    def should_prune(self, step: int, value: float, intermediate: list[tuple[int, float]]) -> bool:
        """Called after every report; True stops the trial (``TrialPruned`` is raised in the objective)."""
        ...

    def save_checkpoint(self, state: Any) -> None: ...

    def load_checkpoint(self) -> Any: ...


class NoHooks:
    """Hooks for a run without a scheduler: never prune; checkpoints live in memory for the trial."""

    def __init__(self) -> None:
        self._state: Any = None

    def should_prune(self, step: int, value: float, intermediate: list[tuple[int, float]]) -> bool:
        return False

    def save_checkpoint(self, state: Any) -> None:
        self._state = state

    def load_checkpoint(self) -> Any:
        return self._state


@dataclass
class TrialContext:
    number: int
    params: dict[str, Any]
    hooks: TrialHooks = field(default_factory=NoHooks)
    intermediate: list[tuple[int, float]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def last_step(self) -> int | None:
        return self.intermediate[-1][0] if self.intermediate else None

    @property
    def last_value(self) -> float:
        return self.intermediate[-1][1] if self.intermediate else math.nan

    def report(self, value: float, step: int | None, metrics: dict[str, Any]) -> bool:
        """Record an intermediate value; True when the hooks' scheduler says the trial should stop."""
        if step is None:
            step = 0 if self.last_step is None else self.last_step + 1
        step = int(step)
        if self.last_step is not None and step <= self.last_step:
            raise ValueError(f"report: step {step} is not after the last reported step {self.last_step}")
        value = float(value)
        self.intermediate.append((step, value))
        self.metrics.update(metrics)
        return bool(self.hooks.should_prune(step, value, self.intermediate))


_current: ContextVar[TrialContext | None] = ContextVar("unitune_trial", default=None)


class trial_context:  # noqa: N801 - used like a function: ``with trial_context(ctx):``
    """Make ``ctx`` the current trial for the duration of a ``with`` block (a class: it is on the hot path)."""

    __slots__ = ("ctx", "token")

    def __init__(self, ctx: TrialContext) -> None:
        self.ctx = ctx

    def __enter__(self) -> TrialContext:
        self.token = _current.set(self.ctx)
        return self.ctx

    def __exit__(self, *exc: object) -> None:
        _current.reset(self.token)


def current_trial() -> TrialContext:
    """The trial being evaluated; raises ``RuntimeError`` outside an objective run by unitune."""
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("no unitune trial is running: call ut.report/checkpoint/restore inside the objective")
    return ctx


def report(value: float, step: int | None = None, **metrics: Any) -> None:
    """Record an intermediate ``value`` at ``step`` (default: the next integer) plus optional metrics.

    Raises ``unitune.TrialPruned`` when the run's scheduler decides to stop this trial; let it
    propagate out of the objective.  Steps must increase.
    """
    ctx = current_trial()
    if ctx.report(value, step, metrics):
        raise TrialPruned(f"trial {ctx.number} pruned at step {ctx.last_step}")


def checkpoint(state: Any) -> None:
    """Save the trial's state (model weights, optimizer state, …) so the scheduler can resume or clone it.

    On Ray with PBT, a trial that exploits another continues from that trial's last checkpoint.
    """
    current_trial().hooks.save_checkpoint(state)


def restore() -> Any:
    """The state to continue from (``None`` when starting fresh).  Call it at the start of the objective."""
    return current_trial().hooks.load_checkpoint()
