"""Reading a store back: ``ut.load(storage, name)`` -> ``Result``, ``ut.studies(storage)`` -> a table."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..objectives import Objectives
from .store import Store, open_store

if TYPE_CHECKING:
    import pandas as pd

    from ..results import Result

STUDY_COLUMNS = ["name", "backend", "algorithm", "direction", "seed", "n_trials", "n_complete", "n_pruned",
                 "n_failed", "n_running", "best_value", "created", "updated"]


@contextmanager
def _opened(storage: str | os.PathLike[str] | Store) -> Iterator[Store]:
    if isinstance(storage, Store):
        yield storage
        return
    store = open_store(storage)
    try:
        yield store
    finally:
        store.close()


def load(storage: str | os.PathLike[str] | Store, name: str) -> Result:
    """The stored study ``name`` as the ``Result`` its run returned: the same table (finished trials,
    in finish order, types kept — choice values are the objects of the stored space)."""
    from ..results import Result

    with _opened(storage) as store:
        study = store.study(name)
        records, _ = store.trials(study.id)
    meta = study.meta
    scheduler = meta.options.get("scheduler")
    return Result(records=records, space=meta.space, backend=meta.backend, algorithm=meta.algorithm,
                  seed=meta.seed, direction=meta.direction, metric=meta.metric,
                  scheduler=scheduler if isinstance(scheduler, str) else None,
                  objectives=Objectives.from_stored(meta.options.get("objectives")))


def studies(storage: str | os.PathLike[str] | Store) -> pd.DataFrame:
    """One row per stored study: name, backend, algorithm, direction, seed, trials by state
    (``n_trials`` counts finished ones), best value, created/updated (UTC)."""
    import pandas as pd

    with _opened(storage) as store:
        rows: list[dict[str, Any]] = store.studies()
    table = pd.DataFrame(rows, columns=["id", *STUDY_COLUMNS, "metric"])[STUDY_COLUMNS]
    table = table.astype({"seed": "Int64", "n_trials": "int64", "n_complete": "int64", "n_pruned": "int64",
                          "n_failed": "int64", "n_running": "int64", "best_value": "float64"})
    table["created"] = pd.to_datetime(table["created"], utc=True)
    table["updated"] = pd.to_datetime(table["updated"], utc=True)
    return table
