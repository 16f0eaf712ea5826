"""``ut.explain``: how each parameter of a space is expressed by a backend, and how faithfully."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any, ClassVar

import pandas as pd

from .exceptions import UnknownAlgorithmError, UnknownBackendError
from .registry import registered
from .space import Space, as_space

_COLUMNS = ["parameter", "unitune", "active_when", "native", "fidelity", "note"]


class Explanation(pd.DataFrame):
    """``ut.explain``'s table.  Printed, it shows one block per parameter with its whole note (a plain
    DataFrame would cut the notes to ``...`` in a terminal); as data it is an ordinary DataFrame."""

    _metadata: ClassVar[list[str]] = ["title"]
    title: str = ""

    @property
    def _constructor(self) -> type:
        return Explanation

    def __repr__(self) -> str:
        if not set(_COLUMNS) <= set(self.columns):
            return pd.DataFrame(self).__repr__()
        lines = [self.title] if self.title else []
        for row in self.itertuples(index=False):
            when = "" if row.active_when == "always" else f"   (when {row.active_when})"
            lines.append(f"{row.parameter} = {row.unitune}{when}")
            lines.append(f"    -> {row.native}   [{row.fidelity}]")
            if row.note:
                lines.extend(textwrap.wrap(row.note, width=96, initial_indent="       ", subsequent_indent="       "))
        return "\n".join(lines)

    __str__ = __repr__


def explain(space: Space | Mapping[str, Any], backend: str, algorithm: str | None = None) -> Explanation:
    """One row per parameter: its unitune primitive, the native primitive it becomes on ``backend``,
    and whether that translation is ``exact``, ``approximated`` (and how) or ``unsupported`` (and why).

    Works without the framework installed.  ``strict=True`` on a run turns any non-exact row into an error.
    """
    compiled = as_space(space)
    backends = registered()
    if backend not in backends:
        raise UnknownBackendError(f"unknown backend {backend!r}; known: {', '.join(backends)}")
    cls = backends[backend]
    algorithm = algorithm or cls.default_algorithm
    if algorithm not in cls.algorithms:
        raise UnknownAlgorithmError(
            f"backend {backend!r} has no algorithm {algorithm!r}; its algorithms are: {', '.join(cls.algorithms)}"
        )
    rows = []
    for param in compiled.params:
        t = cls.translate(param, algorithm)
        rows.append(
            {
                "parameter": param.path,
                "unitune": repr(param.dim),
                "active_when": " and ".join(f"{p} == {label!r}" for p, label in param.conditions) or "always",
                "native": t.native,
                "fidelity": t.fidelity,
                "note": t.note,
            }
        )
    table = Explanation(rows, columns=_COLUMNS)
    table.title = f"{backend} ({algorithm}): how each parameter is expressed"
    return table
