"""One codec per dimension and adapter: the native call, its decoder and its ``ut.explain`` row, from one place.

An adapter describes how a unitune parameter becomes native exactly once, as a ``Codec``: the native
call kept as data (``NativeCall``), the decoder from what the framework hands back to the value the
objective gets, and the note on the translation's quirk.  The adapter *makes* the native dimension
from the call and ``ut.explain`` *prints* the same call, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .base import Fidelity, Translation


@dataclass(frozen=True)
class NativeCall:
    """``fn(*args, **kwargs)`` of a framework, kept as data.

    ``fn`` is the name as a user writes it (``"hp.quniform"``, ``"suggest_float"``, ``"Real"``); ``make``
    looks its last part up on the namespace it is given (a module, or a trial for define-by-run calls).
    ``shown`` is how the call reads in ``ut.explain`` when unitune wraps it (``"round({})"``).
    """

    fn: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    shown: str = "{}"

    def make(self, namespace: Any) -> Any:
        args = [a.value if isinstance(a, Shown) else a for a in self.args]
        return getattr(namespace, self.fn.rpartition(".")[2])(*args, **self.kwargs)

    def text(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return self.shown.format(f"{self.fn}({', '.join(parts)})")


@dataclass(frozen=True)
class Shown:
    """An argument that is passed as ``value`` and printed as ``text`` (e.g. ``math.log(1e-05)``)."""

    value: Any
    text: str

    def __repr__(self) -> str:
        return self.text


def log(x: float) -> Shown:
    return Shown(math.log(x), f"math.log({x!r})")


@dataclass(frozen=True)
class Codec:
    """A parameter's native form (``call``), how a native value decodes (``decode``), and its note."""

    call: NativeCall
    decode: Callable[[Any], Any]
    note: str = ""
    fidelity: Fidelity = "exact"
    # The other way: a value of the unitune domain -> the native value that decodes to it (to replay history).
    encode: Callable[[Any], Any] = field(default=lambda value: value)

    @property
    def translation(self) -> Translation:
        return Translation(self.call.text(), self.fidelity, self.note)


def clamp(low: float, high: float) -> Callable[[Any], float]:
    """A float decoder that keeps the value in ``[low, high]`` (exp/log round trips can step just outside)."""
    return lambda raw: min(max(float(raw), low), high)


def rounded(low: int, high: int) -> Callable[[Any], int]:
    """An int decoder: round, then clamp to ``[low, high]``."""
    return lambda raw: min(max(round(float(raw)), low), high)


def index_of(dim: Any) -> Callable[[Any], int]:
    """A grid value (stepped float/int) or an option -> its index (the inverse of ``grid_index``)."""
    if hasattr(dim, "step"):
        return lambda value: round((value - dim.low) / dim.step)
    return dim.index


def grid_index(at: Callable[[int], Any], n: int, offset: int = 0) -> Callable[[Any], Any]:
    """A decoder from a (possibly fractional) grid index ``k`` (+ ``offset``) to the ``k``-th grid value."""
    return lambda raw: at(min(max(round(float(raw)) - offset, 0), n))
