"""``Result.to_optuna()``: any backend's run as an in-memory Optuna study.

Optuna's visualization module (plotly and matplotlib), ``optuna.importance`` and optuna-dashboard then
work on runs of every backend.  The translation:

- each unitune parameter path (``model.svm.C``) is one Optuna parameter of the same name, present in a
  trial only when it was active there (Optuna's own define-by-run convention for conditional spaces);
- ``uniform``/``loguniform``/``integer`` become ``FloatDistribution``/``IntDistribution`` with their
  ``step``/``log``; a value outside the declared bounds (e.g. a PBT-perturbed one) widens the bounds
  and a value off the step grid drops the step, so no trial is refused;
- a ``choice`` becomes a ``CategoricalDistribution`` of readable labels
  (:func:`unitune.integrations.categorical_labels`: ``None``, tuples, dicts and other objects as strings);
  a conditional choice's options are its branch labels;
- states map one to one (``complete``/``pruned``/``failed`` -> COMPLETE/PRUNED/FAIL); a pruned trial keeps
  its last reported value, a failed one has none and its error in the ``error`` user attribute and
  Optuna's ``fail_reason`` system attribute; ``ut.report`` values are the intermediate values;
- trials are added in trial-number order with their UTC start/finish times (as naive local times,
  as Optuna records them); unitune's trial number, metrics and info are trial user attributes, the
  run's backend/algorithm/seed/metric/... study user attributes;
- several objectives make a multi-objective study (``directions``, the objectives' names as metric names,
  each complete trial's ``values``), so ``plot_pareto_front`` and ``study.best_trials`` work; constraint
  values go to Optuna's ``constraints`` system attribute, as its ``constraints_func`` leaves them.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..space import Choice, Conditional, Integer, LogUniform, Param, Uniform
from . import categorical_labels

if TYPE_CHECKING:
    import optuna

    from ..results import Result


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - optuna is in unitune[all]
        raise ImportError('Result.to_optuna() needs Optuna: pip install "unitune[optuna]"') from exc
    return optuna


def _json_safe(value: Any) -> Any:
    """A user attribute every Optuna storage (including RDB, as JSON) can hold."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    try:
        return _json_safe(value.item())  # numpy scalars
    except (AttributeError, ValueError):
        pass
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _naive_local(moment: datetime) -> datetime:
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo is not None else moment


class _ParamCodec:
    """The Optuna distribution of one unitune parameter and the value it records for each raw value."""

    def __init__(self, optuna: Any, param: Param, observed: list[Any]) -> None:
        dim = self.dim = param.dim
        d = optuna.distributions
        self.labels: dict[int, Any] | None = None
        self.relabelled = False
        if isinstance(dim, (Choice, Conditional)):
            options = dim.options
            labels = categorical_labels(options)
            self.options = options
            self.relabelled = labels is not options
            self.labels = dict(enumerate(labels))
            self.distribution = d.CategoricalDistribution(labels)
        elif isinstance(dim, Integer):
            values = [int(v) for v in observed]
            low, high = min([dim.low, *values]), max([dim.high, *values])
            step = dim.step
            if low != dim.low or high != dim.high or any((v - dim.low) % step for v in values):
                step = 1
            self.distribution = d.IntDistribution(low, high, log=dim.log and low >= 1, step=step)
        elif isinstance(dim, (Uniform, LogUniform)):
            values = [float(v) for v in observed if math.isfinite(float(v))]
            low, high = min([dim.low, *values]), max([dim.high, *values])
            log = isinstance(dim, LogUniform)
            step = dim.step if isinstance(dim, Uniform) else None
            if step is not None and (low != dim.low or high != dim.high or any(dim.snap(v) != v for v in values)):
                step = None
            self.distribution = d.FloatDistribution(low, high, log=log and low > 0, step=step)
        else:  # pragma: no cover - a dimension this module does not know
            raise TypeError(f"{param.path}: no Optuna distribution for {dim!r}")

    def encode(self, value: Any) -> Any:
        """The value Optuna records: the label of a categorical option, else the number itself."""
        if self.labels is None:
            return value
        try:
            return self.labels[self.dim.index(value)]  # identity first, then same type and equality
        except (ValueError, KeyError):  # not an option (cannot happen through unitune)
            return repr(value)


def to_optuna(result: Result, *, study_name: str | None = None, storage: Any = None) -> optuna.Study:
    """An ``optuna.Study`` holding every trial of ``result`` (see the module docstring).

    In a new ``InMemoryStorage`` unless ``storage`` (any Optuna storage or URL) is given, where
    ``study_name`` must be new.
    """
    optuna = _import_optuna()
    from optuna.trial import TrialState, create_trial

    records = sorted(result.records, key=lambda r: r.number)
    codecs: dict[str, _ParamCodec] = {}
    for param in result.space.params:
        observed = [r.params[param.path] for r in records if param.path in r.params]
        codecs[param.path] = _ParamCodec(optuna, param, observed)

    name = study_name or f"{result.backend}-{result.algorithm}" + ("" if result.seed is None else f"-{result.seed}")
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line per export
    objectives = result.objectives
    several = objectives is not None and objectives.several
    try:
        study = optuna.create_study(
            storage=storage if storage is not None else optuna.storages.InMemoryStorage(),
            study_name=name, directions=result.directions
        )
    finally:
        optuna.logging.set_verbosity(verbosity)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(objectives.names) if several else [result.metric or "value"])  # type: ignore[union-attr]
    attrs = {
        "unitune.backend": result.backend,
        "unitune.algorithm": result.algorithm,
        "unitune.seed": result.seed,
        "unitune.direction": result.direction,
        "unitune.metric": result.metric,
        "unitune.scheduler": result.scheduler,
        "unitune.interrupted": result.interrupted,
        "unitune.stop_reason": result.stop_reason,
    }
    labelled = {path: {str(lab): repr(c.options[i]) for i, lab in c.labels.items()}
                for path, c in codecs.items() if c.relabelled and c.labels is not None}
    if labelled:
        attrs["unitune.labels"] = labelled
    for key, value in attrs.items():
        study.set_user_attr(key, _json_safe(value))

    states = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}
    trials = []
    for record in records:
        state = states[record.state]
        value: Any = float(record.value) if record.value is not None else None
        if several:  # every objective's value, or none (a pruned trial of a multi-objective study has none)
            value = objectives.values(record) if state == TrialState.COMPLETE else None  # type: ignore[union-attr]
            if value is not None and any(math.isnan(v) for v in value):
                value = None
            if state == TrialState.PRUNED:
                state = TrialState.FAIL  # Optuna refuses a pruned trial without values when there are several
        elif state == TrialState.FAIL or (value is not None and math.isnan(value)):
            value = None
        if state == TrialState.COMPLETE and value is None:  # cannot happen through unitune; keep the trial
            state = TrialState.FAIL
        params = {path: codecs[path].encode(v) for path, v in record.params.items() if path in codecs}
        user_attrs: dict[str, Any] = {"unitune.trial": record.number}
        for metric, metric_value in record.metrics.items():
            user_attrs[f"metrics.{metric}"] = _json_safe(metric_value)
        if record.step is not None:
            user_attrs["unitune.step"] = int(record.step)
        if record.error is not None:
            user_attrs["error"] = record.error
        for key, info_value in record.info.items():
            user_attrs[f"info.{key}"] = _json_safe(info_value)
        for extra in ("worker", "optimizer_s"):  # fields newer records carry
            extra_value = getattr(record, extra, None)
            if extra_value is not None:
                user_attrs[f"unitune.{extra}"] = _json_safe(extra_value)
        intermediate: dict[int, float] = {}
        for step, step_value in record.intermediate:
            intermediate[int(step)] = float(step_value)
        system_attrs: dict[str, Any] = {}
        if state == TrialState.FAIL and record.error:
            system_attrs["fail_reason"] = record.error
        if "constraints" in record.info:
            system_attrs["constraints"] = tuple(float(c) for c in record.info["constraints"])
        trials.append(
            create_trial(
                state=state,
                **({"values": value} if several else {"value": value}),
                params=params,
                distributions={path: codecs[path].distribution for path in params},
                user_attrs=user_attrs,
                system_attrs=system_attrs or None,
                intermediate_values=intermediate,
            )
        )
        trials[-1].datetime_start = _naive_local(record.started)
        trials[-1].datetime_complete = _naive_local(record.finished)
    study.add_trials(trials)
    return study
