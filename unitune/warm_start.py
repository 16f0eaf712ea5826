"""``warm_start=``: earlier trials of any backend, as records over a study's space, to tell its framework first."""

from __future__ import annotations

import math
import warnings
from typing import Any

from .exceptions import InvalidRunError
from .records import TrialRecord
from .results import Result
from .space import Integer, LogUniform, Space, Uniform


def warm_start_records(source: Any, space: Space) -> list[TrialRecord]:
    """Finished trials of ``source`` (a Result, a result table, ``(storage, name)`` or records) as records over
    ``space``; trials whose params do not fit ``space`` are left out and counted in a warning."""
    import pandas as pd

    if isinstance(source, tuple) and len(source) == 2:
        from .storage import load

        source = load(*source)
    if isinstance(source, Result):
        records = list(source.records)
    elif isinstance(source, pd.DataFrame):
        records = _records_from_table(source, space)
    elif isinstance(source, list) and all(isinstance(r, TrialRecord) for r in source):
        records = list(source)
    else:
        raise InvalidRunError("warm_start must be a Result, a result table (DataFrame), (storage, name) or a list "
                              f"of TrialRecords, got {type(source).__name__}")
    fitting = []
    for record in records:
        try:
            space.validate_assignment(record.params)
        except (ValueError, KeyError):
            continue
        fitting.append(record)
    if len(fitting) < len(records):
        warnings.warn(f"warm_start: {len(records) - len(fitting)} of {len(records)} trials have params outside this "
                      "space and were not told", stacklevel=3)
    return fitting


def _records_from_table(table: Any, space: Space) -> list[TrialRecord]:
    """Records from a unified result table (its ``params.<path>`` columns; inactive ones are NaN/None)."""
    import pandas as pd

    records = []
    for row in table.to_dict("records"):
        values = {}
        for param in space.params:
            value = row.get(f"params.{param.path}")
            if value is None or (not isinstance(value, (tuple, list, dict)) and pd.isna(value)):
                continue
            values[param.path] = int(value) if isinstance(param.dim, Integer) else \
                float(value) if isinstance(param.dim, (Uniform, LogUniform)) else value
        params = {p.path: values[p.path] for p in space.active_params(values) if p.path in values}
        state = row.get("state", "complete")
        value = row.get("value", math.nan)
        records.append(TrialRecord(number=int(row.get("trial", len(records))), state=state,
                                   value=math.nan if pd.isna(value) else float(value), params=params))
    return records
