"""Several objectives and constraints: what a study optimizes, how a trial's values are read, and who wins.

A study has one ``Objectives``: the names of the values the objective returns (``metrics=``), a direction
for each (``directions=``), and optionally ``constraints=`` — a function of the trial's metrics giving
numbers that must all be <= 0 for the trial to be *feasible* (Optuna's ``constraints_func`` semantics),
or a list of metric names that must be <= 0.  With one objective this is the plain ``direction``/``metric``
study; everything here is only consulted when there are several objectives or constraints.

A trial's objective values are kept in ``record.metrics[name]`` (so stores, tables and exports carry them
like any metric) and ``record.value`` is the first objective; the constraint values go to
``record.info["constraints"]``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .exceptions import InvalidRunError
from .records import TrialRecord, format_error

DIRECTIONS = ("minimize", "maximize")
CONSTRAINTS_KEY = "constraints"  # record.info key of a trial's constraint values

Constraints = Callable[[dict[str, Any]], Sequence[float]] | Sequence[str]


@dataclass(frozen=True)
class Objectives:
    """The objectives of a study: ``names[i]`` is optimized in ``directions[i]``; ``constraints`` (optional)
    says which finished trials are feasible."""

    names: tuple[str, ...]
    directions: tuple[str, ...]
    constraints: Any = None  # a callable f(metrics) -> floats, or a tuple of metric names (each must be <= 0)

    # -- building and checking ---------------------------------------------------------------------------
    @classmethod
    def checked(cls, directions: Any, metrics: Any, constraints: Any, *, direction: str,
                metric: str | None) -> Objectives | None:
        """The study's objectives from ``Study``'s arguments, or None for a plain one-objective study.

        Raises ``InvalidRunError`` naming what is wrong: directions and metrics of different lengths,
        an unknown direction, repeated names, ``direction=``/``metric=`` given with ``directions=``.
        """
        if directions is None and metrics is None and constraints is None:
            return None
        if directions is None:
            directions = [direction] * (1 if metrics is None or isinstance(metrics, str) else len(metrics))
        elif direction != "minimize":
            raise InvalidRunError("give direction= (one objective) or directions= (several), not both")
        if isinstance(directions, str) or not isinstance(directions, Sequence) or not directions:
            raise InvalidRunError(f"directions must be a non-empty list of 'minimize'/'maximize', got {directions!r}")
        bad = [d for d in directions if d not in DIRECTIONS]
        if bad:
            raise InvalidRunError(f"directions: {bad[0]!r} is not 'minimize' or 'maximize'")
        if metrics is None:
            if metric is not None and len(directions) == 1:
                metrics = [metric]
            else:
                metrics = [str(i) for i in range(len(directions))]
        elif isinstance(metrics, str) or not isinstance(metrics, Sequence):
            raise InvalidRunError(f"metrics must be a list of names, one per objective, got {metrics!r}")
        if len(metrics) != len(directions):
            raise InvalidRunError(f"directions and metrics have different lengths: {len(directions)} directions "
                                  f"{list(directions)} but {len(metrics)} metrics {list(metrics)}")
        names = tuple(metrics)
        if not all(isinstance(n, str) and n for n in names):
            raise InvalidRunError(f"metrics must be non-empty names (str), got {list(names)}")
        if len(set(names)) != len(names):
            raise InvalidRunError(f"metrics must be distinct names, got {list(names)}")
        if metric is not None and len(names) > 1 and metric not in names:
            raise InvalidRunError(f"metric={metric!r} with several objectives names the one a scheduler uses: it must "
                                  f"be one of the metrics {list(names)}")
        return cls(names, tuple(directions), _checked_constraints(constraints))

    @property
    def several(self) -> bool:
        return len(self.names) > 1

    def direction_of(self, name: str) -> str:
        return self.directions[self.names.index(name)]

    def describe(self) -> str:
        return ", ".join(f"{n} ({d})" for n, d in zip(self.names, self.directions, strict=True))

    # -- reading a trial ---------------------------------------------------------------------------------
    def interpret(self, returned: Any, record: TrialRecord) -> None:
        """Fill ``record`` from what the objective returned: a tuple/list in the order of ``names``, or a
        dict holding every name (other entries become metrics).  Anything else, a wrong count, a value that
        is not a number or NaN leaves the record ``failed`` naming what was expected and what came."""
        expected = f"{len(self.names)} values ({', '.join(self.names)})"
        if isinstance(returned, Mapping):
            missing = [n for n in self.names if n not in returned]
            if missing:
                record.error = (f"KeyError: the objective's result has no metric {missing[0]!r} "
                                f"(expected {expected}, got {sorted(map(str, returned))})")
                return
            record.metrics = {**record.metrics, **{str(k): v for k, v in returned.items() if k not in self.names}}
            values = [returned[n] for n in self.names]
        elif isinstance(returned, (str, bytes)) or not _is_sequence(returned):
            got = f"{type(returned).__name__} {returned!r}"
            record.error = f"TypeError: expected {expected}, the objective returned {got}"
            return
        else:
            values = list(returned)
            if len(values) != len(self.names):
                record.error = f"ValueError: expected {expected}, the objective returned {len(values)}: {values!r}"
                return
        for name, value in zip(self.names, values, strict=True):
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                record.error = f"TypeError: objective {name!r} is {type(value).__name__} {value!r}, not a number"
                return
        floats = [float(v) for v in values]
        record.metrics.update(zip(self.names, floats, strict=True))
        record.value = floats[0]
        nan = [n for n, v in zip(self.names, floats, strict=True) if math.isnan(v)]
        if nan:
            record.error = f"ValueError: the objective returned NaN for {nan[0]!r}"
            return
        record.state = "complete"

    def values(self, record: TrialRecord) -> list[float]:
        """The trial's objective values in order (NaN where it has none)."""
        if not self.several:
            return [record.value]
        return [_float(record.metrics.get(name)) for name in self.names]

    def constrain(self, record: TrialRecord) -> None:
        """Compute a complete trial's constraint values into ``record.info["constraints"]`` (once).  A
        constraint function that raises, or returns something that is not finite numbers, fails the trial."""
        if self.constraints is None or record.state != "complete" or CONSTRAINTS_KEY in record.info:
            return
        try:
            if callable(self.constraints):
                got = self.constraints(dict(record.metrics))
            else:
                missing = [n for n in self.constraints if n not in record.metrics]
                if missing:
                    raise KeyError(f"constraint metric {missing[0]!r} is not among the trial's metrics "
                                   f"{sorted(record.metrics)}")
                got = [record.metrics[n] for n in self.constraints]
            if isinstance(got, numbers.Real):
                got = [got]
            values = [float(v) for v in got]
            if any(math.isnan(v) for v in values):
                raise ValueError(f"constraint values must not be NaN, got {values}")
        except Exception as exc:
            record.state, record.error = "failed", f"constraints: {format_error(exc)}"
            return
        record.info[CONSTRAINTS_KEY] = values

    def feasible(self, record: TrialRecord) -> bool:
        """A complete trial with finite values whose constraints (if any) are all <= 0."""
        if record.state != "complete" or not all(math.isfinite(v) for v in self.values(record)):
            return False
        if self.constraints is None:
            return True
        constraints = record.info.get(CONSTRAINTS_KEY)
        return constraints is not None and all(c <= 0 for c in constraints)

    def pareto(self, records: Sequence[TrialRecord]) -> list[bool]:
        """For each record, whether it is feasible and no other feasible record dominates it."""
        import numpy as np  # here: the objective's side (workers) never needs it

        feasible = [i for i, r in enumerate(records) if self.feasible(r)]
        front = [False] * len(records)
        if not feasible:
            return front
        signs = np.array([1.0 if d == "minimize" else -1.0 for d in self.directions])
        points = np.array([self.values(records[i]) for i in feasible]) * signs  # all minimized
        # In lexicographic order whatever dominates a point comes before it, and the front found so far
        # holds a dominator of every dominated point seen: compare each point with that front only.
        kept = np.empty_like(points)
        n_kept = 0
        for position in np.lexsort(points.T[::-1]):
            point, front_so_far = points[position], kept[:n_kept]
            if n_kept and ((front_so_far <= point).all(axis=1) & (front_so_far < point).any(axis=1)).any():
                continue
            kept[n_kept] = point
            n_kept += 1
            front[feasible[position]] = True
        return front

    # -- the store -------------------------------------------------------------------------------------
    def stored(self) -> dict[str, Any]:
        """What a store keeps (a constraint function is not stored: give it again on resume)."""
        kind: Any = None
        if self.constraints is not None:
            kind = "function" if callable(self.constraints) else list(self.constraints)
        return {"names": list(self.names), "directions": list(self.directions), "constraints": kind}

    @classmethod
    def from_stored(cls, data: Any) -> Objectives | None:
        if not isinstance(data, Mapping):
            return None
        constraints: Any = data.get("constraints")
        if isinstance(constraints, list):
            constraints = tuple(constraints)
        elif constraints:
            constraints = _StoredConstraints()
        return cls(tuple(data["names"]), tuple(data["directions"]), constraints)


class _StoredConstraints:
    """A stored study's constraint function, which the store cannot hold: feasibility is read from each
    trial's stored constraint values; new trials cannot be constrained by it."""

    def __call__(self, metrics: dict[str, Any]) -> Sequence[float]:
        raise InvalidRunError("this stored study's constraints= function is not stored: pass constraints= again")


def _checked_constraints(constraints: Any) -> Any:
    if constraints is None or callable(constraints):
        return constraints
    if isinstance(constraints, str):
        constraints = [constraints]
    if isinstance(constraints, Sequence) and constraints and all(isinstance(c, str) for c in constraints):
        return tuple(constraints)
    raise InvalidRunError("constraints must be a function of the trial's metrics returning numbers (<= 0: "
                          f"feasible), or a list of metric names that must be <= 0; got {constraints!r}")


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) or (hasattr(value, "__len__") and hasattr(value, "__iter__")
                                           and getattr(value, "ndim", 1) == 1)


def _float(value: Any) -> float:
    return float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
