"""``Result.to_tensorboard(logdir)``: a run as TensorBoard's HParams dashboard data (table, parallel
coordinates and scatter plots), written with tensorboardX (no TensorFlow needed).

What is written:

- ``logdir`` itself gets the HParams *experiment*: every parameter of the space with its domain —
  ``uniform``/``loguniform``/``integer`` as numbers with their interval (the description says
  ``log scale`` where it is one: switch that axis to logarithmic in the parallel-coordinates view),
  a ``choice`` as the discrete list of its readable labels (strings; a choice of plain numbers stays
  numeric), a conditional choice as its branch labels — plus ``state`` (complete/pruned/failed) and
  the metrics: the optimized value (named ``metric=`` or ``value``) and every other metric;
- one run per trial, ``logdir/trial-0007``, with the trial's active parameters (an inactive
  conditional parameter is left empty), its metrics as scalars at its last step, its ``ut.report``
  values as the ``intermediate/<metric>`` curve (the Scalars dashboard shows them), and a session
  status: failed trials are ``STATUS_FAILURE``, the others ``STATUS_SUCCESS``.

TensorBoard shows one HParams experiment per ``--logdir``: several results with the same space can go
into sub-folders of one logdir (``logdir/optuna``, ``logdir/hyperopt``); each call needs an empty folder.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..space import Choice, Conditional, Integer, LogUniform, Uniform
from . import categorical_labels

if TYPE_CHECKING:
    from ..results import Result

_PLUGIN = "hparams"
_EXPERIMENT_TAG = "_hparams_/experiment"
_SESSION_START_TAG = "_hparams_/session_start_info"
_SESSION_END_TAG = "_hparams_/session_end_info"


def _import_tensorboardx() -> Any:
    try:
        import tensorboardX
    except ImportError as exc:  # pragma: no cover - tensorboardX is in unitune[viz]
        raise ImportError('Result.to_tensorboard() needs tensorboardX: pip install "unitune[viz]"') from exc
    return tensorboardX


def _tb_labels(dim: Choice | Conditional) -> tuple[Any, ...]:
    labels = categorical_labels(dim.options)
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in labels):
        return tuple(float(x) for x in labels)
    return tuple(str(x) for x in labels)


def _summary(tag: str, content: Any) -> Any:
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

    data = HParamsPluginData(version=0, **content)
    metadata = SummaryMetadata(
        plugin_data=SummaryMetadata.PluginData(plugin_name=_PLUGIN, content=data.SerializeToString())
    )
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata)])


def _set_value(message: Any, value: Any) -> None:
    if isinstance(value, str):
        message.string_value = value
    elif isinstance(value, bool):
        message.bool_value = value
    else:
        message.number_value = float(value)


def to_tensorboard(
    result: Result, logdir: str | os.PathLike[str], *, run_prefix: str = "trial-"
) -> Path:
    """Write ``result`` to ``logdir`` (an empty or new folder) for TensorBoard; returns the folder."""
    tbx = _import_tensorboardx()
    from tensorboardX.proto.api_pb2 import DataType, Experiment, HParamInfo, Interval, MetricInfo, MetricName, Status
    from tensorboardX.proto.plugin_hparams_pb2 import SessionEndInfo, SessionStartInfo

    root = Path(logdir)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root}: to_tensorboard needs an empty or new folder (one HParams experiment each)")
    root.mkdir(parents=True, exist_ok=True)

    infos: list[Any] = []
    encoders: dict[str, Any] = {}
    for param in result.space.params:
        dim = param.dim
        where = "" if not param.conditions else " (when " + ", ".join(f"{p}={lab}" for p, lab in param.conditions) + ")"
        info = HParamInfo(name=param.path, description=f"{dim!r}{where}")
        if isinstance(dim, (Choice, Conditional)):
            labels = _tb_labels(dim)
            numeric = isinstance(labels[0], float)
            info.type = DataType.Value("DATA_TYPE_FLOAT64" if numeric else "DATA_TYPE_STRING")
            for label in labels:
                _set_value(info.domain_discrete.values.add(), label)
            encoders[param.path] = lambda v, dim=dim, labels=labels: labels[dim.index(v)]
        elif isinstance(dim, (Uniform, LogUniform, Integer)):
            info.type = DataType.Value("DATA_TYPE_FLOAT64")
            info.domain_interval.CopyFrom(Interval(min_value=float(dim.low), max_value=float(dim.high)))
            if isinstance(dim, LogUniform) or (isinstance(dim, Integer) and dim.log):
                info.description += ": log scale"
            encoders[param.path] = float
        else:  # pragma: no cover - a dimension this module does not know
            info.type = DataType.Value("DATA_TYPE_STRING")
            encoders[param.path] = repr
        infos.append(info)
    state_info = HParamInfo(name="state", type=DataType.Value("DATA_TYPE_STRING"), description="unitune trial state")
    for state in ("complete", "pruned", "failed"):
        state_info.domain_discrete.values.add().string_value = state
    infos.append(state_info)

    metric = result.metric or "value"
    metric_names: dict[str, None] = {}
    for record in result.records:
        metric_names.update(dict.fromkeys(f"metrics.{k}" for k, v in record.metrics.items() if _is_number(v)))
    metric_names.pop(f"metrics.{metric}", None)
    metric_infos = [MetricInfo(name=MetricName(tag=metric), description=f"the {result.direction}d value")]
    metric_infos += [MetricInfo(name=MetricName(tag=name)) for name in metric_names]
    experiment = Experiment(
        name=f"{result.backend}/{result.algorithm}",
        description=f"unitune: {result.backend}/{result.algorithm}, seed {result.seed}, {result.direction} {metric}",
        hparam_infos=infos,
        metric_infos=metric_infos,
    )
    with tbx.SummaryWriter(logdir=str(root)) as writer:
        writer.file_writer.add_summary(_summary(_EXPERIMENT_TAG, {"experiment": experiment}))

    width = max(4, len(str(max((r.number for r in result.records), default=0))))
    for record in sorted(result.records, key=lambda r: r.number):
        start = SessionStartInfo(group_name="", start_time_secs=record.started.timestamp())
        for path, value in record.params.items():
            if path in encoders:
                _set_value(start.hparams[path], encoders[path](value))
        start.hparams["state"].string_value = record.state
        status = "STATUS_FAILURE" if record.state == "failed" else "STATUS_SUCCESS"
        end = SessionEndInfo(status=Status.Value(status), end_time_secs=record.finished.timestamp())
        step = record.step if record.step is not None else 0
        walltime = record.finished.timestamp()
        with tbx.SummaryWriter(logdir=str(root / f"{run_prefix}{record.number:0{width}d}")) as writer:
            writer.file_writer.add_summary(_summary(_SESSION_START_TAG, {"session_start_info": start}),
                                           walltime=record.started.timestamp())
            for k, v in record.intermediate:
                writer.add_scalar(f"intermediate/{metric}", float(v), int(k), walltime=walltime)
            if record.value is not None and not math.isnan(record.value):
                writer.add_scalar(metric, float(record.value), step, walltime=walltime)
            for name, v in record.metrics.items():
                if f"metrics.{name}" in metric_names and not math.isnan(float(v)):
                    writer.add_scalar(f"metrics.{name}", float(v), step, walltime=walltime)
            writer.file_writer.add_summary(_summary(_SESSION_END_TAG, {"session_end_info": end}), walltime=walltime)
    return root


def _is_number(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and isinstance(float(value), float) and not isinstance(value, str)
    except (TypeError, ValueError):
        return False
