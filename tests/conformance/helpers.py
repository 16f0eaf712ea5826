"""Shared helpers for the conformance suite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import unitune as ut

from .profiles import profile


def sample(backend: str, space: dict[str, Any], objective: Callable[[dict[str, Any]], Any] | None = None,
           *, n_trials: int | None = None, seed: int = 0, **kwargs: Any) -> tuple[ut.Result, list[dict[str, Any]]]:
    """Run the backend's cheap sampling algorithm and return the result plus every params dict seen.

    The objective may run in another process (Ray), so what it saw is read back from the table's
    records (``Result.records`` params are exactly what was built for the objective).
    """
    prof = profile(backend)
    kwargs.setdefault("algorithm", prof.sampling_algorithm)
    result = ut.minimize(objective or (lambda p: 0.5), space, backend=backend,
                         n_trials=n_trials or prof.n_trials, seed=seed, **kwargs)
    seen = [result.space.build(r.params) for r in result.records]
    return result, seen


def expect_unsupported(backend: str, feature: str) -> type[BaseException] | None:
    """The exception the backend is declared to raise for ``feature`` (None: it must work)."""
    return profile(backend).xfail_raises.get(feature)


def run_or_expect(backend: str, feature: str, fn: Callable[[], Any]) -> Any:
    """Call ``fn``; when ``backend`` declares ``feature`` unsupported, assert the exact exception instead."""
    exc = expect_unsupported(backend, feature)
    if exc is None:
        return fn()
    with pytest.raises(exc):
        fn()
    pytest.xfail(f"{backend} declares {feature!r} unsupported ({exc.__name__})")
