"""Native-vs-unitune overhead cases, one module per backend (each exposes ``cases()``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class OverheadCase:
    """The same work done natively and through unitune: ``fn(n_trials, seed)`` each."""

    backend: str
    name: str
    native: Callable[[int, int], object]
    unitune: Callable[[int, int], object]
    n_trials: int
    warmup_trials: int | None = None  # trials of the one warm-up run per side (default: n_trials)
