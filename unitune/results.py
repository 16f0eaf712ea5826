"""The result of a run and the one table schema every backend produces (DESIGN.md §2)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .exceptions import SeveralObjectivesError
from .objectives import Objectives
from .records import TrialRecord
from .space import Choice, Conditional, Integer, Space

LEADING = ["trial", "backend", "algorithm", "seed", "state", "value"]
TRAILING = ["step", "started", "finished", "duration_s", "optimizer_s", "worker", "error"]


def _param_series(space: Space, records: Sequence[TrialRecord], path: str) -> pd.Series:
    dim = space.param(path).dim
    raw = [r.params.get(path) for r in records]
    if isinstance(dim, Integer):
        return pd.Series([pd.NA if v is None else v for v in raw], dtype="Int64")
    if isinstance(dim, (Choice, Conditional)):
        # categorical values stay the user's own objects; None where the branch was inactive
        return pd.Series(raw, dtype=object)
    return pd.Series([math.nan if v is None else v for v in raw], dtype="float64")


def build_table(
    records: Sequence[TrialRecord],
    space: Space,
    *,
    backend: str,
    algorithm: str,
    seed: int | None,
    objectives: Objectives | None = None,
) -> pd.DataFrame:
    """One row per trial, in finish order, with the documented columns and dtypes.

    Several objectives add ``values.<name>`` (one per objective, after ``value``, which is the first),
    ``feasible`` and ``pareto``; constraints alone add ``feasible``.
    """
    n = len(records)
    columns: dict[str, pd.Series] = {
        "trial": pd.Series([r.number for r in records], dtype="int64"),
        "backend": pd.Series([backend] * n, dtype=object),
        "algorithm": pd.Series([algorithm] * n, dtype=object),
        "seed": pd.Series([seed] * n, dtype="Int64"),
        "state": pd.Series([r.state for r in records], dtype=object),
        "value": pd.Series([r.value for r in records], dtype="float64"),
    }
    objective_names: tuple[str, ...] = ()
    if objectives is not None and objectives.several:
        objective_names = objectives.names
        for name in objective_names:
            columns[f"values.{name}"] = pd.Series([objectives.values(r)[objective_names.index(name)] for r in records],
                                                  dtype="float64")
    if objectives is not None and (objectives.several or objectives.constraints is not None):
        columns["feasible"] = pd.Series([objectives.feasible(r) for r in records], dtype=bool)
    if objective_names:
        columns["pareto"] = pd.Series(objectives.pareto(records), dtype=bool)  # type: ignore[union-attr]
    for path in space.paths:
        columns[f"params.{path}"] = _param_series(space, records, path)
    metric_names: dict[str, None] = {}
    for r in records:
        metric_names.update(dict.fromkeys(k for k in r.metrics if k not in objective_names))
    for name in metric_names:
        values = [r.metrics.get(name) for r in records]
        series = pd.Series(values, dtype=object)
        if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
            series = pd.Series([math.nan if v is None else v for v in values], dtype="float64")
        columns[f"metrics.{name}"] = series
    columns["step"] = pd.Series([pd.NA if r.step is None else r.step for r in records], dtype="Int64")
    columns["started"] = pd.Series(pd.to_datetime([r.started for r in records], utc=True))
    columns["finished"] = pd.Series(pd.to_datetime([r.finished for r in records], utc=True))
    columns["duration_s"] = pd.Series([r.duration_s for r in records], dtype="float64")
    columns["optimizer_s"] = pd.Series([math.nan if r.optimizer_s is None else r.optimizer_s for r in records],
                                       dtype="float64")
    columns["worker"] = pd.Series([r.worker for r in records], dtype=object)
    columns["error"] = pd.Series([r.error for r in records], dtype=object)
    return pd.DataFrame(columns)


@dataclass
class Result:
    """What ``minimize``/``maximize`` return.

    ``table`` is the unified pandas table; ``best_params`` is shaped as the objective saw it;
    ``interrupted`` is True when Ctrl-C ended the run early (the finished trials are all there).
    """

    records: list[TrialRecord]
    space: Space = field(repr=False)
    backend: str
    algorithm: str
    seed: int | None
    direction: str
    metric: str | None = None
    scheduler: str | None = None
    interrupted: bool = False
    stop_reason: str = "n_trials"
    objectives: Objectives | None = None  # several objectives and/or constraints (``ut.Study(directions=...)``)
    table: pd.DataFrame = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.table = build_table(
            self.records, self.space, backend=self.backend, algorithm=self.algorithm, seed=self.seed,
            objectives=self.objectives,
        )

    @property
    def several_objectives(self) -> bool:
        return self.objectives is not None and self.objectives.several

    @property
    def directions(self) -> list[str]:
        """One direction per objective."""
        return [self.direction] if self.objectives is None else list(self.objectives.directions)

    @property
    def best_trials(self) -> list[TrialRecord]:
        """The Pareto set: feasible complete trials no other feasible trial dominates, in finish order.

        With one objective, the best trial (a list of one, or empty).  When no trial is feasible, the
        complete trials with the smallest total constraint violation (Optuna's ``best_trials`` keeps
        only feasible ones: this says how close the run came).
        """
        if not self.several_objectives:
            best = self.best_record
            return [] if best is None else [best]
        assert self.objectives is not None
        front = [r for r, on in zip(self.records, self.objectives.pareto(self.records), strict=True) if on]
        if front or self.objectives.constraints is None:
            return front
        violations = {id(r): sum(max(c, 0.0) for c in r.info.get("constraints", ())) for r in self.records
                      if r.state == "complete" and "constraints" in r.info}
        if not violations:
            return []
        least = min(violations.values())
        return [r for r in self.records if violations.get(id(r)) == least]

    @property
    def best_record(self) -> TrialRecord | None:
        """The best complete trial with a finite value (first one on ties), or None when there is none.

        A complete trial that returned ±inf is a row like any other but never the best, as no framework
        learns from it as is (``TrialRecord.ok``).  With constraints, only feasible trials count.  With
        several objectives there is no single best: this raises (``best_trials`` is the Pareto set).
        """
        if self.several_objectives:
            raise SeveralObjectivesError(f"this study has several objectives ({self.objectives.describe()}): "  # type: ignore[union-attr]
                               "there is no single best trial; use result.best_trials (the Pareto set) or the "
                               "table's 'pareto' column")
        complete = [r for r in self.records if r.ok]
        if self.objectives is not None and self.objectives.constraints is not None:
            complete = [r for r in complete if self.objectives.feasible(r)]
        if not complete:
            return None
        pick = min if self.direction == "minimize" else max
        return pick(complete, key=lambda r: r.value)

    @property
    def best_value(self) -> float | None:
        best = self.best_record
        return None if best is None else best.value

    @property
    def best_params(self) -> dict[str, Any] | None:
        best = self.best_record
        return None if best is None else self.space.build(best.params)

    @property
    def best(self) -> pd.Series | None:
        """The table row of the best trial."""
        best = self.best_record
        if best is None:
            return None
        position = next(i for i, r in enumerate(self.records) if r is best)
        return self.table.iloc[position]

    def __repr__(self) -> str:
        counts = self.table["state"].value_counts().to_dict() if len(self.table) else {}
        best = f"pareto={len(self.best_trials)}" if self.several_objectives else f"best_value={self.best_value!r}"
        return (
            f"Result(backend={self.backend!r}, algorithm={self.algorithm!r}, trials={len(self.records)}, "
            f"states={counts}, {best}, interrupted={self.interrupted})"
        )

    def to_optuna(self, *, study_name: str | None = None) -> Any:
        """This run as an in-memory ``optuna.Study`` (every trial; see ``unitune.integrations.optuna_export``)."""
        from .integrations.optuna_export import to_optuna

        return to_optuna(self, study_name=study_name)

    def to_tensorboard(self, logdir: Any, **options: Any) -> Any:
        """Write one TensorBoard run per trial for the HParams dashboard (``unitune.integrations.tensorboard``)."""
        from .integrations.tensorboard import to_tensorboard

        return to_tensorboard(self, logdir, **options)

    def to_mlflow(self, tracking_uri: str | None = None, experiment: str = "unitune", run_name: str | None = None,
                  tags: dict[str, Any] | None = None) -> str:
        """Log this run to MLflow: a parent run with one child run per trial; returns the parent run's id
        (``unitune.integrations.mlflow``)."""
        from .integrations.mlflow import to_mlflow

        return to_mlflow(self, tracking_uri, experiment=experiment, run_name=run_name, tags=tags)
