"""``ut.explain``: how each parameter of a space is expressed by a backend, and how faithfully."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .exceptions import UnknownAlgorithmError, UnknownBackendError
from .registry import registered
from .space import Space, as_space


def explain(space: Space | Mapping[str, Any], backend: str, algorithm: str | None = None) -> pd.DataFrame:
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
    return pd.DataFrame(rows, columns=["parameter", "unitune", "active_when", "native", "fidelity", "note"])
