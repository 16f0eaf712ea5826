"""Known points first: a user's point checked against the space, as the flat params an adapter takes.

``Study.enqueue(point)`` (and ``minimize(..., enqueue=[...])``) hands the point to the framework through
its own path for a chosen point (``AskTellBackend.ask_at``: Optuna's ``enqueue_trial``, a Hyperopt trial
document as ``generate_trials_to_calculate`` makes, the point itself for scikit-optimize, Ray Tune's
``points_to_evaluate``), so model-based algorithms learn from it like from their own suggestions.

A point is given like the params the objective receives (nested dicts, a conditional choice as
``(label, {...})`` or just its label) or flat, by path (``{"model": "svm", "model.svm.C": 3.0}``, the
table's ``params.*`` columns without the prefix).  Every value must lie in its dimension; a parameter
that is not active under the point's choices is refused.  A partial point (active parameters left out)
is taken by backends whose framework samples the rest (``Backend.partial_points``); the others refuse
it, naming the missing parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .exceptions import InvalidRunError, UnsupportedFeatureError
from .space import SEP, Conditional, Space


def known_point(space: Space, point: Mapping[str, Any], backend: type, supporting: list[str]) -> dict[str, Any]:
    """``point`` as flat params of ``space``, checked (raises before any trial; see the module docstring)."""
    if not isinstance(point, Mapping):
        raise InvalidRunError(f"enqueue: a point is a dict of params, got {type(point).__name__}")
    flat = _flatten(space, point, "")
    paths = set(space.paths)
    unknown = sorted(set(flat) - paths)
    if unknown:
        raise InvalidRunError(f"enqueue: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not "
                              f"parameter(s) of the space (its parameters: {', '.join(space.paths)})")
    for path, value in flat.items():
        dim = space.param(path).dim
        if not dim.contains(value):
            raise InvalidRunError(f"enqueue: {path}={value!r} is outside the space: {path} is {dim!r}")
    active = {p.path for p in space.active_params(flat)}
    inactive = sorted(set(flat) - active)
    if inactive:
        raise InvalidRunError(f"enqueue: {', '.join(inactive)} {'is' if len(inactive) == 1 else 'are'} not "
                              "active under the point's choices; leave inactive branches out")
    missing = [p for p in space.params if p.path in active - set(flat)]
    if missing and not getattr(backend, "partial_points", False):
        names = ", ".join(p.path for p in missing)
        raise UnsupportedFeatureError(
            backend.name, f"partial known points (missing: {names})", supporting,
            hint="Give every active parameter of the point, or use a backend that samples the rest.")
    return {p.path: flat[p.path] for p in space.params if p.path in flat}  # space order


def _flatten(space: Space, point: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    paths = set(space.paths)
    flat: dict[str, Any] = {}
    for key, value in point.items():
        path = f"{prefix}{SEP}{key}" if prefix else str(key)
        if path in paths and isinstance(space.param(path).dim, Conditional):
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Mapping):
                label, sub = value  # as the objective receives it: (label, {branch params})
                flat[path] = label
                flat.update(_flatten(space, sub, f"{path}{SEP}{label}"))
            else:
                flat[path] = value
        elif path in paths or not isinstance(value, Mapping):
            flat[path] = value
        else:
            flat.update(_flatten(space, value, path))
    return {path: value for path, value in flat.items() if path in paths or not _is_constant(space, path)}


def _is_constant(space: Space, path: str) -> bool:
    """A path that names a constant (or group of constants) of the definition: given as received, ignored."""
    node: Any = space.definition
    for key in path.split(SEP):
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, Conditional) and key in node.branches:
            node = node.branches[key]
        else:
            return False
    return not isinstance(node, (Mapping, Conditional)) and not hasattr(node, "contains")
