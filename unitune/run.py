"""``minimize`` / ``maximize``: a ``Study`` and one ``optimize`` call."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .results import Result
from .space import Space
from .study import Study

# Keywords that go to Study.optimize; every other keyword is a Study setting or an algorithm option.
_OPTIMIZE_ARGUMENTS = frozenset(inspect.signature(Study.optimize).parameters) - {"self", "objective"}


def minimize(objective: Callable[[dict[str, Any]], Any], space: Space | Mapping[str, Any], *, backend: str,
             **kwargs: Any) -> Result:
    """Minimize ``objective`` over ``space`` with ``backend`` and return every trial as a ``Result``.

    ``ut.minimize(objective, space, backend=..., **kwargs)`` is ``ut.Study(space, backend=...,
    **settings).optimize(objective, **limits)``: the limits are ``Study.optimize``'s arguments
    (``n_trials``, ``timeout``, ``n_jobs``, ``progress``), the settings ``Study``'s (``algorithm``,
    ``seed``, ``metric``, ``scheduler``, ``scheduler_options``, ``strict``, ``verbose``, ``storage_path``)
    plus the algorithm's own options, and ``enqueue=[point, ...]``: known points evaluated first
    (``Study.enqueue``).  See ``help(ut.Study)`` and ``help(ut.Study.optimize)``.

    Ctrl-C stops the run and returns the finished trials with ``result.interrupted == True``.
    """
    return _optimize(objective, space, backend, "minimize", kwargs)


def maximize(objective: Callable[[dict[str, Any]], Any], space: Space | Mapping[str, Any], *, backend: str,
             **kwargs: Any) -> Result:
    """Like ``minimize``, but the objective's value is maximized (the table keeps the values as returned)."""
    return _optimize(objective, space, backend, "maximize", kwargs)


def optimize(objective: Callable[[dict[str, Any]], Any], space: Space | Mapping[str, Any], *, backend: str,
             direction: str = "minimize", directions: Sequence[str] | None = None, **kwargs: Any) -> Result:
    """Optimize ``objective`` over ``space`` in ``direction`` — or, with ``directions=["minimize", "maximize"]``
    (and ``metrics=["error", "latency"]``), several objectives at once: the objective returns a tuple/list in
    that order or a dict holding every name, ``constraints=`` says which trials are feasible.  The result's
    table has ``values.<metric>``, ``feasible`` and ``pareto`` columns and ``result.best_trials`` is the Pareto
    set.  Otherwise exactly ``ut.minimize``/``ut.maximize``."""
    if directions is not None:
        kwargs["directions"] = directions
    return _optimize(objective, space, backend, direction, kwargs)


def _optimize(objective: Callable[[dict[str, Any]], Any], space: Space | Mapping[str, Any], backend: str,
              direction: str, kwargs: dict[str, Any]) -> Result:
    limits = {k: kwargs.pop(k) for k in _OPTIMIZE_ARGUMENTS & kwargs.keys()}
    points = kwargs.pop("enqueue", None)
    if not callable(objective):  # before the study is built, as minimize always did
        from .exceptions import InvalidRunError

        raise InvalidRunError(f"objective must be callable, got {type(objective).__name__}")
    study = Study(space, backend=backend, direction=direction, **kwargs)  # type: ignore[arg-type]
    if points is not None:
        if isinstance(points, Mapping) or not isinstance(points, (list, tuple)):
            from .exceptions import InvalidRunError

            raise InvalidRunError(f"enqueue= takes a list of points (dicts of params), got {type(points).__name__}")
        for point in points:
            study.enqueue(point)
    return study.optimize(objective, **limits)
