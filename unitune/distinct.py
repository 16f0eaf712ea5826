"""Distinct pending suggestions: no two trials asked and not yet told share their params, on any backend.

Each framework's own pending mechanism goes first (Optuna's running trials and TPE's constant liar,
scikit-optimize's constant-liar ``ask(n_points)``, Hyperopt's pending trial documents with one
suggestion per trial id).  On a small discrete space they still repeat: a GP's optimum rounds to the
integer point already pending, random search draws the same cell twice, TPE and annealing pile onto
their best cell.  ``Distinct.ask`` checks every new suggestion against the pending trials and the
rest of its batch (points compared canonically: an option by its index, so ``True`` and ``1`` are
different options), and for a repeat

1. discards it and asks the framework again, up to ``REASKS`` times (a random draw moves on);
2. then takes the nearest free point of a finite flat space (the next-best candidate: closest to the
   framework's choice, grid steps per numeric dimension, mismatches per choice; unevaluated points
   first, ties broken by a seeded draw), or a random point of any other space, and hands it to the
   framework as its own suggestion (Optuna: an enqueued trial; scikit-optimize: the point itself;
   Hyperopt: a trial document).

The trial's ``TrialRecord.info["distinct"]`` says which happened.  With no trial pending (one at a
time) nothing is compared, so sequential seeded sequences are the native ones.  When every point of
the space is pending, a repeat is kept as is (its info says so).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from itertools import product
from typing import TYPE_CHECKING, Any

from .space import Choice, Conditional, Integer, LogUniform, Param, Space, Uniform

if TYPE_CHECKING:
    from .backends.base import AskTellBackend, Suggestion

REASKS = 3  # framework re-asks before unitune picks the point
MAX_ENUMERATED = 50_000  # finite spaces up to this size are searched for the nearest free point
RANDOM_DRAWS = 200  # random candidates tried in a space too large (or conditional) to enumerate

Key = tuple[Any, ...]
ALL_PENDING = "repeats a pending point: every point of the space is pending"


def reasked_note(attempt: int) -> str:
    """``info["distinct"]`` of a trial the framework proposed again ``attempt`` times."""
    return f"re-asked {attempt}x: the framework repeated a pending point"


def _coordinate(param: Param, value: Any) -> Any:
    dim = param.dim
    if isinstance(dim, (Choice, Conditional)):
        return dim.index(value)
    if isinstance(dim, Uniform) and dim.step is not None:  # grid index k
        return round((value - dim.low) / dim.step)
    if isinstance(dim, Integer):
        return (int(value) - dim.low) // dim.step
    return float(value)


def point_key(space: Space, assignment: Mapping[str, Any]) -> Key:
    """A point of ``space`` as a hashable tuple: same key, same trial for the objective."""
    return tuple((p.path, _coordinate(p, assignment[p.path])) for p in space.params if p.path in assignment)


class Distinct:
    """Asks an adapter for ``k`` suggestions distinct from each other and from the pending points."""

    def __init__(self, space: Space, seed: int | None) -> None:
        self.space = space
        self._rng = random.Random(seed)
        grids = [p.dim.grid() for p in space.params]
        self._grids = None if space.is_conditional or any(g is None for g in grids) else grids
        if self._grids is not None and math.prod(len(g) for g in self._grids) > MAX_ENUMERATED:
            self._grids = None

    def ask(self, adapter: AskTellBackend, k: int, pending: Iterable[Mapping[str, Any]],
            evaluated: Callable[[], Iterable[Mapping[str, Any]]]) -> list[Suggestion]:
        """The framework's ``k`` suggestions (``ask``, or ``ask_batch`` for several), repeats replaced."""
        suggestions = [s for s in [adapter.ask()] if s is not None] if k == 1 else adapter.ask_batch(k)
        taken = {point_key(self.space, a) for a in pending}
        out = []
        for suggestion in suggestions:
            replaced = self._distinct(adapter, suggestion, taken, evaluated)
            if replaced is None:
                break
            taken.add(point_key(self.space, replaced.params))
            out.append(replaced)
        return out

    def _distinct(self, adapter: AskTellBackend, suggestion: Suggestion, taken: set[Key],
                  evaluated: Callable[[], Iterable[Mapping[str, Any]]]) -> Suggestion | None:
        if point_key(self.space, suggestion.params) not in taken:
            return suggestion
        repeated = suggestion.params
        for attempt in range(1, REASKS + 1):
            adapter.discard(suggestion)
            again = adapter.ask()
            if again is None:
                return None
            suggestion = again
            if point_key(self.space, suggestion.params) not in taken:
                suggestion.info["distinct"] = reasked_note(attempt)
                return suggestion
        point = self.free_point(repeated, taken, {point_key(self.space, a) for a in evaluated()})
        if point is None:
            suggestion.info["distinct"] = ALL_PENDING
            return suggestion
        adapter.discard(suggestion)
        chosen = adapter.ask_at(point)
        chosen.info["distinct"] = self.chosen_note
        return chosen

    @property
    def chosen_note(self) -> str:
        """``info["distinct"]`` of a trial at a point unitune chose."""
        how = "chose the nearest free point" if self._grids is not None else "drew a random free point"
        return f"the framework repeated a pending point {REASKS + 1}x; unitune {how}"

    def free_point(self, near: Mapping[str, Any], taken: set[Key], evaluated: set[Key]) -> dict[str, Any] | None:
        """A point not in ``taken`` (unevaluated ones first): the nearest to ``near`` in a finite flat space,
        else a random one; ``None`` when every point is taken."""
        if self._grids is None:
            return self._random_point(taken, evaluated)
        params, origin = self.space.params, [_coordinate(p, near[p.path]) for p in self.space.params]
        best: tuple[float, float] | None = None
        choice = None
        for values in product(*self._grids):
            assignment = {p.path: v for p, v in zip(params, values, strict=True)}
            key = point_key(self.space, assignment)
            if key in taken:
                continue
            rank = (key in evaluated, self._distance(key, origin), self._rng.random())
            if best is None or rank < best:
                best, choice = rank, assignment
        return choice

    def _distance(self, key: Key, origin: list[Any]) -> float:
        total = 0.0
        for p, (_, c), o, grid in zip(self.space.params, key, origin, self._grids or (), strict=True):
            if isinstance(p.dim, (Choice, Conditional)):
                total += c != o
            else:  # grid steps, scaled to the dimension's length
                total += abs(c - o) / max(len(grid) - 1, 1)
        return total

    def _random_point(self, taken: set[Key], evaluated: set[Key]) -> dict[str, Any] | None:
        draws = [self.space.sample(self._draw) for _ in range(RANDOM_DRAWS)]
        keys = [point_key(self.space, d) for d in draws]
        for wanted in (lambda key: key not in taken and key not in evaluated, lambda key: key not in taken):
            for draw, key in zip(draws, keys, strict=True):
                if wanted(key):
                    return draw
        return None

    def _draw(self, param: Param) -> Any:
        dim, rng = param.dim, self._rng
        grid = dim.grid()
        if grid is not None:
            return grid[rng.randrange(len(grid))]
        if isinstance(dim, LogUniform):
            return min(max(math.exp(rng.uniform(math.log(dim.low), math.log(dim.high))), dim.low), dim.high)
        assert isinstance(dim, Uniform)
        return rng.uniform(dim.low, dim.high)

