"""``ut.compare``: the same objective and space on several backends and seeds, as one table."""

from __future__ import annotations

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
    with a ``run`` column (``"<backend>/<algorithm>/seed=<seed>"``) and ``interrupted`` per run.
    Extra keyword arguments go to every ``minimize``/``maximize`` call.
    """
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    optimize = minimize if direction == "minimize" else maximize
    compiled = as_space(space)
    tables = []
    for entry in backends:
        backend, algorithm = (entry, None) if isinstance(entry, str) else entry
        for seed in seeds:
            result = optimize(objective, compiled, backend=backend, algorithm=algorithm, n_trials=n_trials,
                              seed=seed, **kwargs)
            table = result.table.copy()
            table.insert(0, "run", f"{backend}/{result.algorithm}/seed={seed}")
            tables.append(table)
            if result.interrupted:
                break
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
