"""A tqdm progress bar over trials (a no-op unless ``progress=True``)."""

from __future__ import annotations

import math
from typing import Any

from .records import TrialRecord


class ProgressBar:
    def __init__(self, enabled: bool, *, total: int | None, desc: str, direction: str) -> None:
        self._bar: Any = None
        self._best = math.nan
        self._better = (lambda a, b: a < b) if direction == "minimize" else (lambda a, b: a > b)
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="trial")

    def update(self, record: TrialRecord) -> None:
        if self._bar is None:
            return
        if record.state == "complete" and (math.isnan(self._best) or self._better(record.value, self._best)):
            self._best = record.value
        self._bar.set_postfix(best=f"{self._best:.6g}", refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
