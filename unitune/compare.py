"""``ut.compare``: the same objective and space on several backends and seeds, as one table."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from .run import maximize, minimize
from .space import Space, as_space


def compare(
    objective: Callable[[dict[str, Any]], Any],
    space: Space | Mapping[str, Any],
    *,
    backends: Sequence[str | tuple[str, str]],
    n_trials: int,
    seeds: Iterable[int] = (0,),
    direction: str = "minimize",
    **kwargs: Any,
) -> pd.DataFrame:
    """Run ``objective`` on every backend (a name, or ``(name, algorithm)``) with every seed.

    Every run gets the same budget, seed list and objective.  Returns the concatenated unified tables
    with, in front, ``run`` (``"<backend>/<algorithm>/seed=<seed>"``) and ``run_seconds`` (the wall time
    of that whole run, so optimizer time = run_seconds - the sum of its trials' duration_s).
    Extra keyword arguments go to every ``minimize``/``maximize`` call.  Ctrl-C stops the comparison
    and returns what finished.
    """
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    optimize = minimize if direction == "minimize" else maximize
    compiled = as_space(space)
    tables = []
    for entry in backends:
        backend, algorithm = (entry, None) if isinstance(entry, str) else entry
        for seed in seeds:
            started = time.perf_counter()
            result = optimize(objective, compiled, backend=backend, algorithm=algorithm, n_trials=n_trials,
                              seed=seed, **kwargs)
            table = result.table.copy()
            table.insert(0, "run_seconds", time.perf_counter() - started)
            table.insert(0, "run", f"{backend}/{result.algorithm}/seed={seed}")
            tables.append(table)
            if result.interrupted:
                return pd.concat(tables, ignore_index=True)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
