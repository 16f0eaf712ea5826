"""Ways to look at a ``Result`` with other tools: Optuna's study (visualization, optuna-dashboard),
TensorBoard's HParams dashboard and MLflow tracking.  Each module imports its library lazily, on first use."""

from __future__ import annotations

import inspect
import numbers
from typing import Any


def categorical_labels(options: tuple[Any, ...]) -> tuple[Any, ...]:
    """Labels Optuna, optuna-dashboard and TensorBoard can hold, one per option, in option order.

    Options that are all ``str``, or all plain numbers (no bools), stay as they are; otherwise every option
    becomes a readable string (a ``str`` as is, anything else as its ``repr``: ``None`` -> ``"None"``,
    ``(1, 2)`` -> ``"(1, 2)"``), made unique with a ``#k`` suffix where two would read the same.
    """
    if all(isinstance(o, str) for o in options):
        return options
    if all(isinstance(o, numbers.Real) and not isinstance(o, bool) for o in options):
        if all(type(o) in (int, float) for o in options):
            return options
        return tuple(int(o) if isinstance(o, numbers.Integral) else float(o) for o in options)  # numpy scalars
    labels: list[str] = []
    for option in options:
        label = option if isinstance(option, str) else _readable(option)
        base, k = label, 1
        while label in labels:
            k += 1
            label = f"{base}#{k}"
        labels.append(label)
    return tuple(labels)


def _readable(option: Any) -> str:
    if isinstance(option, type) or inspect.isroutine(option):
        return option.__qualname__
    text = repr(option)
    if len(text) > 80:
        text = text[:77] + "..."
    return text
