"""Search-space primitives and the compiled ``Space``.

A user writes a plain dict whose leaves are primitives (``uniform``, ``loguniform``, ``integer``,
``choice``), constants, nested dicts (groups) or conditional choices (``choice({label: sub_space})``).
Primitives validate themselves when built; ``Space`` validates the whole definition and names the
parameter path in every error.  Adapters read the compiled form: ``Space.params`` (every dimension,
flattened, with the conditions under which it is active) and ``Space.root`` (the tree, for
frameworks that want a nested space).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .exceptions import InvalidSpaceError

SEP = "."


def _dec(x: float | int) -> Decimal:
    # repr gives the shortest decimal that round-trips, so 0.05 becomes Decimal("0.05"), not 0.05000000000000000277.
    return Decimal(repr(float(x))) if isinstance(x, float) else Decimal(int(x))


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


class Dimension:
    """Base class of the search primitives.  Instances are immutable and validated when built."""

    kind: str = ""

    def grid(self) -> tuple[Any, ...] | None:
        """Every value the dimension can take, in order, or ``None`` when it is continuous."""
        return None

    def grid_size(self) -> int | None:
        """How many values ``grid()`` holds (without building it), or ``None`` when continuous."""
        grid = self.grid()
        return None if grid is None else len(grid)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is in the domain (type included)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Uniform(Dimension):
    """A float in ``[low, high]``; with ``step`` only ``low + k*step`` (both ends on the grid)."""

    low: float
    high: float
    step: float | None = None
    kind = "uniform"

    def __post_init__(self) -> None:
        where = f"uniform(low={self.low!r}, high={self.high!r}, step={self.step!r})"
        if not (_is_real(self.low) and _is_real(self.high)):
            raise InvalidSpaceError(f"{where}: low and high must be real numbers")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise InvalidSpaceError(f"{where}: low and high must be finite")
        if not self.low < self.high:
            raise InvalidSpaceError(f"{where}: low must be < high (use a plain value for a constant)")
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if self.step is not None:
            if not _is_real(self.step) or not math.isfinite(self.step) or self.step <= 0:
                raise InvalidSpaceError(f"{where}: step must be a finite number > 0")
            object.__setattr__(self, "step", float(self.step))
            span, step = _dec(self.high) - _dec(self.low), _dec(self.step)
            if span % step != 0:
                below = float(_dec(self.low) + (span // step) * step)
                raise InvalidSpaceError(
                    f"{where}: high is not on the grid low + k*step; use high={below!r} or "
                    f"high={float(_dec(below) + step)!r}"
                )

    @property
    def n_steps(self) -> int:
        """Number of grid intervals (``None``-safe only when ``step`` is set)."""
        assert self.step is not None
        return int((_dec(self.high) - _dec(self.low)) / _dec(self.step))

    def at(self, k: int) -> float:
        """The k-th grid value, computed in decimal so 0.9 is 0.9 and not 0.8999999999999999."""
        assert self.step is not None
        return float(_dec(self.low) + k * _dec(self.step))

    def snap(self, value: float) -> float:
        """The grid value nearest ``value`` (identity when there is no step)."""
        if self.step is None:
            return float(min(max(value, self.low), self.high))
        k = round((float(value) - self.low) / self.step)
        return self.at(min(max(k, 0), self.n_steps))

    def grid(self) -> tuple[float, ...] | None:
        if self.step is None:
            return None
        return tuple(self.at(k) for k in range(self.n_steps + 1))

    def grid_size(self) -> int | None:
        return None if self.step is None else self.n_steps + 1

    def contains(self, value: Any) -> bool:
        if not isinstance(value, float) or not self.low <= value <= self.high:
            return False
        return self.step is None or value == self.snap(value)

    def __repr__(self) -> str:
        step = f", step={self.step!r}" if self.step is not None else ""
        return f"uniform({self.low!r}, {self.high!r}{step})"


@dataclass(frozen=True)
class LogUniform(Dimension):
    """A float in ``[low, high]`` whose logarithm is uniform; ``0 < low < high``."""

    low: float
    high: float
    kind = "loguniform"

    def __post_init__(self) -> None:
        where = f"loguniform(low={self.low!r}, high={self.high!r})"
        if not (_is_real(self.low) and _is_real(self.high)):
            raise InvalidSpaceError(f"{where}: low and high must be real numbers")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise InvalidSpaceError(f"{where}: low and high must be finite")
        if self.low <= 0:
            raise InvalidSpaceError(f"{where}: low must be > 0 on a log scale")
        if not self.low < self.high:
            raise InvalidSpaceError(f"{where}: low must be < high (use a plain value for a constant)")
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))

    def contains(self, value: Any) -> bool:
        return isinstance(value, float) and self.low <= value <= self.high

    def __repr__(self) -> str:
        return f"loguniform({self.low!r}, {self.high!r})"


@dataclass(frozen=True)
class Integer(Dimension):
    """An int in ``[low, high]`` (both inclusive), on ``low + k*step``, optionally log-scaled."""

    low: int
    high: int
    step: int = 1
    log: bool = False
    kind = "integer"

    def __post_init__(self) -> None:
        where = f"integer(low={self.low!r}, high={self.high!r}, step={self.step!r}, log={self.log!r})"
        for name in ("low", "high", "step"):
            value = getattr(self, name)
            if not _is_int(value):
                raise InvalidSpaceError(f"{where}: {name} must be an int, got {type(value).__name__}")
            object.__setattr__(self, name, int(value))
        if not self.low < self.high:
            raise InvalidSpaceError(f"{where}: low must be < high (use a plain value for a constant)")
        if self.step < 1:
            raise InvalidSpaceError(f"{where}: step must be >= 1")
        if (self.high - self.low) % self.step:
            below = self.low + (self.high - self.low) // self.step * self.step
            raise InvalidSpaceError(
                f"{where}: high is not on the grid low + k*step; use high={below} or high={below + self.step}"
            )
        if self.log:
            if self.low < 1:
                raise InvalidSpaceError(f"{where}: log=True needs low >= 1")
            if self.step != 1:
                raise InvalidSpaceError(f"{where}: log=True needs step=1")

    @property
    def n_steps(self) -> int:
        """Number of grid intervals between ``low`` and ``high``."""
        return (self.high - self.low) // self.step

    def at(self, k: int) -> int:
        """The k-th grid value."""
        return self.low + k * self.step

    def grid(self) -> tuple[int, ...]:
        return tuple(range(self.low, self.high + 1, self.step))

    def grid_size(self) -> int:
        return self.n_steps + 1

    def snap(self, value: float) -> int:
        """The grid value nearest ``value``."""
        k = round((float(value) - self.low) / self.step)
        return self.at(min(max(k, 0), self.n_steps))

    def contains(self, value: Any) -> bool:
        return _is_int(value) and self.low <= value <= self.high and (value - self.low) % self.step == 0

    def __repr__(self) -> str:
        extra = (f", step={self.step}" if self.step != 1 else "") + (", log=True" if self.log else "")
        return f"integer({self.low}, {self.high}{extra})"


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # objects whose == is not a bool (arrays) are never duplicates
        return False


@dataclass(frozen=True)
class Choice(Dimension):
    """One of ``options``, returned as the very object given (None, bools, tuples stay what they are)."""

    options: tuple[Any, ...]
    kind = "choice"

    def __post_init__(self) -> None:
        options = tuple(self.options)
        if not options:
            raise InvalidSpaceError("choice([]): needs at least one option")
        for i, option in enumerate(options):
            if _holds_dimension(option):
                raise InvalidSpaceError(
                    f"choice(...): option {i} ({option!r}) contains a search dimension; "
                    "for a conditional space write ut.choice({label: sub_space, ...})"
                )
            for j in range(i):
                if _same(options[j], option):
                    raise InvalidSpaceError(f"choice(...): option {option!r} is given twice (positions {j} and {i})")
        object.__setattr__(self, "options", options)

    def index(self, value: Any) -> int:
        """Position of ``value`` among the options (by identity first, then same type and equality)."""
        for i, option in enumerate(self.options):
            if option is value:
                return i
        for i, option in enumerate(self.options):
            if _same(option, value):
                return i
        raise ValueError(f"{value!r} is not an option of {self!r}")

    def grid(self) -> tuple[Any, ...]:
        return self.options

    def contains(self, value: Any) -> bool:
        return any(option is value or _same(option, value) for option in self.options)

    def __repr__(self) -> str:
        return f"choice({list(self.options)!r})"


@dataclass(frozen=True)
class Conditional(Dimension):
    """A choice between named sub-spaces; the objective receives ``(label, sub_params)``."""

    branches: Mapping[str, Any]
    kind = "conditional"

    def __post_init__(self) -> None:
        if not self.branches:
            raise InvalidSpaceError("choice({}): needs at least one branch")
        for label in self.branches:
            _check_key(label, "branch label", None)
        object.__setattr__(self, "branches", dict(self.branches))

    @property
    def options(self) -> tuple[str, ...]:
        """The branch labels, in order."""
        return tuple(self.branches)

    def index(self, label: str) -> int:
        return self.options.index(label)

    def grid(self) -> tuple[str, ...]:
        return self.options

    def contains(self, value: Any) -> bool:
        return value in self.branches

    def __repr__(self) -> str:
        return f"choice({{{', '.join(repr(k) for k in self.branches)}}})"


def _holds_dimension(value: Any) -> bool:
    if isinstance(value, Dimension):
        return True
    if isinstance(value, Mapping):
        return any(_holds_dimension(v) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_dimension(v) for v in value)
    return False


def _check_key(key: Any, what: str, parent: str | None) -> None:
    where = f"{parent}: " if parent else ""
    if not isinstance(key, str) or not key:
        raise InvalidSpaceError(f"{where}{what} {key!r} must be a non-empty str")
    if SEP in key:
        raise InvalidSpaceError(f"{where}{what} {key!r} must not contain {SEP!r} (it joins nested names)")


# --- public constructors -------------------------------------------------------------------------


def uniform(low: float, high: float, step: float | None = None) -> Uniform:
    """A float in ``[low, high]``; with ``step``, one of ``low, low+step, …, high``."""
    return Uniform(low, high, step)


def loguniform(low: float, high: float) -> LogUniform:
    """A float in ``[low, high]`` sampled uniformly on a log scale (``0 < low < high``)."""
    return LogUniform(low, high)


def integer(low: int, high: int, step: int = 1, log: bool = False) -> Integer:
    """An int in ``[low, high]`` (both inclusive) on ``low + k*step``; ``log=True`` needs ``low >= 1``."""
    return Integer(low, high, step, log)


def choice(options: Sequence[Any] | Mapping[str, Any]) -> Choice | Conditional:
    """One of ``options``.

    A list/tuple gives a categorical parameter whose values come back as the very objects given.
    A dict ``{label: sub_space}`` gives a conditional parameter: the objective receives
    ``(label, sub_params)`` and only the chosen branch's parameters are sampled.
    """
    if isinstance(options, Mapping):
        return Conditional(options)
    if isinstance(options, (str, bytes)) or not isinstance(options, Sequence):
        raise InvalidSpaceError(f"choice({options!r}): options must be a list, a tuple or a dict of branches")
    return Choice(tuple(options))


# --- the compiled space ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One dimension of a compiled space.

    ``path`` is the dotted name (``model.svm.C``); ``conditions`` lists the ``(path, label)`` pairs
    of conditional choices that must hold for this parameter to be active (outermost first).
    """

    path: str
    dim: Dimension
    conditions: tuple[tuple[str, str], ...] = ()

    @property
    def is_conditional_choice(self) -> bool:
        return isinstance(self.dim, Conditional)

    def active(self, assignment: Mapping[str, Any]) -> bool:
        """Whether this parameter is active under ``assignment`` (path -> value)."""
        return all(assignment.get(path) == label for path, label in self.conditions)


@dataclass(frozen=True)
class Leaf:
    param: Param


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Group:
    children: dict[str, Node]


@dataclass(frozen=True)
class Branching:
    param: Param
    branches: dict[str, Node]


Node = Leaf | Const | Group | Branching


@dataclass(frozen=True)
class Space:
    """A validated search space.  Build it with ``Space(definition)`` or ``as_space(definition)``."""

    definition: Mapping[str, Any]
    root: Group = field(init=False, repr=False)
    params: tuple[Param, ...] = field(init=False, repr=False)
    is_conditional: bool = field(init=False, repr=False)  # whether any conditional choice is in the space

    def __post_init__(self) -> None:
        if isinstance(self.definition, Space):
            raise TypeError("already a Space; use as_space()")
        if not isinstance(self.definition, Mapping):
            raise InvalidSpaceError(
                f"a search space must be a dict of name -> primitive, got {type(self.definition).__name__}"
            )
        params: list[Param] = []
        root = _compile_group(self.definition, "", (), params)
        if not params:
            raise InvalidSpaceError("the search space has no search dimension (only constants)")
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "params", tuple(params))
        object.__setattr__(self, "is_conditional", any(p.is_conditional_choice for p in params))

    # -- structure ---------------------------------------------------------------------------------
    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(p.path for p in self.params)

    def param(self, path: str) -> Param:
        for p in self.params:
            if p.path == path:
                return p
        raise KeyError(path)


    @property
    def is_finite(self) -> bool:
        return all(p.dim.grid_size() is not None for p in self.params)

    # -- sampling and building ---------------------------------------------------------------------
    def sample(self, suggest: Callable[[Param], Any]) -> dict[str, Any]:
        """Define-by-run sampling: call ``suggest`` on each *active* parameter, in space order.

        A conditional choice is suggested first, then only the parameters of the chosen branch.
        Returns the flat assignment ``{path: value}``.
        """
        if not self.is_conditional:  # flat space: every parameter, in order (the hot path)
            return {p.path: suggest(p) for p in self.params}
        assignment: dict[str, Any] = {}
        _sample_node(self.root, suggest, assignment)
        return assignment

    def active_params(self, assignment: Mapping[str, Any]) -> list[Param]:
        """The parameters active under ``assignment``, in space order."""
        return [p for p in self.params if p.active(assignment)]

    def build(self, assignment: Mapping[str, Any]) -> dict[str, Any]:
        """The nested params the objective receives: constants filled in, conditionals as ``(label, sub)``."""
        built = _build_node(self.root, assignment)
        assert isinstance(built, dict)
        return built

    def validate_assignment(self, assignment: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` unless ``assignment`` holds exactly the active params, each in its domain."""
        active = self.active_params(assignment)
        expected = {p.path for p in active}
        if set(assignment) != expected:
            raise ValueError(f"assignment keys {sorted(assignment)} != active params {sorted(expected)}")
        for p in active:
            if not p.dim.contains(assignment[p.path]):
                raise ValueError(f"{p.path}: {assignment[p.path]!r} is not in {p.dim!r}")

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)


def as_space(space: Space | Mapping[str, Any]) -> Space:
    """Compile (and validate) a space definition; a ``Space`` passes through."""
    return space if isinstance(space, Space) else Space(space)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}{SEP}{key}" if prefix else key


def _compile_group(
    definition: Mapping[str, Any], prefix: str, conditions: tuple[tuple[str, str], ...], params: list[Param]
) -> Group:
    children: dict[str, Node] = {}
    for key, value in definition.items():
        _check_key(key, "parameter name", prefix or None)
        children[key] = _compile_node(value, _join(prefix, key), conditions, params)
    return Group(children)


def _compile_node(value: Any, path: str, conditions: tuple[tuple[str, str], ...], params: list[Param]) -> Node:
    if isinstance(value, Conditional):
        param = Param(path, value, conditions)
        params.append(param)
        branches = {
            label: _compile_node(sub, _join(path, label), (*conditions, (path, label)), params)
            for label, sub in value.branches.items()
        }
        return Branching(param, branches)
    if isinstance(value, Dimension):
        param = Param(path, value, conditions)
        params.append(param)
        return Leaf(param)
    if isinstance(value, Mapping):
        if not value:
            return Const({})
        return _compile_group(value, path, conditions, params)
    if _holds_dimension(value):
        raise InvalidSpaceError(
            f"a {type(value).__name__} holds search dimensions; group parameters with a dict", path
        )
    return Const(value)


def _sample_node(node: Node, suggest: Callable[[Param], Any], out: dict[str, Any]) -> None:
    if isinstance(node, Leaf):
        out[node.param.path] = suggest(node.param)
    elif isinstance(node, Group):
        for child in node.children.values():
            _sample_node(child, suggest, out)
    elif isinstance(node, Branching):
        label = suggest(node.param)
        out[node.param.path] = label
        _sample_node(node.branches[label], suggest, out)


def _build_node(node: Node, assignment: Mapping[str, Any]) -> Any:
    if isinstance(node, Const):
        # an empty group is a fresh dict each trial, like any group (a shared one would carry one trial's edits)
        return {} if type(node.value) is dict and not node.value else node.value
    if isinstance(node, Leaf):
        return assignment[node.param.path]
    if isinstance(node, Group):
        return {key: _build_node(child, assignment) for key, child in node.children.items()}
    label = assignment[node.param.path]
    return (label, _build_node(node.branches[label], assignment))
