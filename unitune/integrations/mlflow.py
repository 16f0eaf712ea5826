"""MLflow tracking: every trial of any backend as an MLflow run, nested under one parent run per study.

Two ways in, which log exactly the same things (one function turns a trial record into MLflow's entities):

- live, during the run: ``callbacks=[MLflowCallback(tracking_uri)]`` on ``optimize``/``minimize``/``maximize``
  (every executor and Ray Tune: callbacks run in the driver as each trial finishes);
- afterwards, for a finished result: ``result.to_mlflow(tracking_uri)`` (``to_mlflow`` below).

What is logged, in experiment ``experiment`` (created when missing):

- a **parent run** per study, tagged ``unitune.backend``, ``unitune.algorithm``, ``unitune.direction``,
  ``unitune.seed``, ``unitune.metric`` and ``unitune.study`` (the study's name, when it has one), plus
  ``tags``; when it ends, the metrics ``best_value`` and ``trials.complete``/``trials.pruned``/
  ``trials.failed`` and the tag ``unitune.best_trial`` (several objectives: the metric ``pareto_trials``
  and the tag ``unitune.pareto``, the numbers of the trials on the Pareto front, instead);
- a **child run** per trial (``mlflow.parentRunId`` = the parent, named ``trial-0007``) with the trial's
  flat params (``model.svm.C``; MLflow params are strings: a string as is, a number as its ``repr``,
  anything else as a readable ``repr``, cut at MLflow's 6000 characters), the metric ``value`` (left out
  when NaN: failed trials), every numeric entry of the objective's metrics as ``metrics.<name>`` (the
  table's column names), every ``ut.report`` value as the metric ``intermediate`` at its step, the tags
  ``unitune.number``, ``unitune.state``, ``unitune.backend``, ``unitune.algorithm``, ``unitune.error``,
  ``unitune.worker`` and ``unitune.info.<key>`` where present, plus ``tags``; its start and end times
  are the trial's; its status is ``FINISHED`` for a complete trial, ``FAILED`` for a failed one and
  ``KILLED`` for a pruned one (a scheduler stopped it early).

Keys MLflow would refuse (characters other than letters, digits, ``_ - .`` and spaces; slashes too, which
MLflow takes as paths) have those characters replaced by ``_``.  An infinite value is logged as such (MLflow's
SQL stores keep it as the largest float).

Everything goes through ``mlflow.tracking.MlflowClient`` (never ``mlflow.start_run``'s global state), so
logging is thread-safe and leaves a user's own active run alone.  The MLflow client retries a request
that fails to connect (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, default 7 with exponential backoff, minutes in
all; ``MLFLOW_HTTP_REQUEST_TIMEOUT`` per request).  A request that still fails raises from the callback:
that ends the run like any callback that raises — no new trial starts, the running ones finish and are
kept (in the store and in the exception's ``.result``) — unless ``on_error="warn"``, which warns and goes on.

Each trial costs three requests (create its run, log it, end it), ~70 ms in all against a local server with
a SQLite store on a 2-core machine (``python -m benchmarks.mlflow_cost``).  ``MLflowCallback(background=True)``
makes them in a thread of the callback, so the next trial does not wait for them.
"""

from __future__ import annotations

import math
import numbers
import queue
import re
import threading
import warnings
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from . import _readable

if TYPE_CHECKING:
    from ..objectives import Objectives
    from ..records import TrialRecord
    from ..results import Result
    from ..study import Study

STATUS = {"complete": "FINISHED", "failed": "FAILED", "pruned": "KILLED"}
PARENT_TAG = "mlflow.parentRunId"

# MLflow's limits (mlflow.utils.validation) on keys and values.
_MAX_PARAM_LENGTH = 6000
_MAX_TAG_LENGTH = 8000
_MAX_KEY_LENGTH = 250
_BAD_KEY_CHARS = re.compile(r"[^\w.\- ]")  # slashes too: they would make keys "resolve" to other names


def _import_mlflow() -> Any:
    try:
        import mlflow
        from mlflow.tracking import MlflowClient  # noqa: F401
    except ImportError as exc:
        raise ImportError('unitune.integrations.mlflow needs MLflow: pip install "unitune[mlflow]"') from exc
    return mlflow


def _client(tracking_uri: str | None) -> Any:
    _import_mlflow()
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri)


def _experiment_id(client: Any, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except Exception:  # another process created it in between
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


# -- one record -> MLflow entities ---------------------------------------------------------------------------
def mlflow_key(name: str) -> str:
    """``name`` as a key MLflow accepts (params, metrics, tags): other characters become ``_``."""
    key = _BAD_KEY_CHARS.sub("_", str(name))[:_MAX_KEY_LENGTH] or "_"
    return "_" + key[1:] if key.startswith(".") else key


def param_text(value: Any) -> str:
    """A parameter value as MLflow's string: a ``str`` as is, a number as its ``repr`` (numpy scalars as
    Python's), anything else as a readable ``repr``; cut at MLflow's limit."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool) or value is None:
        text = repr(value)
    elif isinstance(value, numbers.Integral):
        text = repr(int(value))
    elif isinstance(value, numbers.Real):
        text = repr(float(value))
    else:
        text = _readable(value)
    return text[:_MAX_PARAM_LENGTH]


def _number(value: Any) -> float | None:
    """A finite or infinite float for MLflow, or None (NaN, not a number)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _ms(moment: Any) -> int:
    return round(moment.timestamp() * 1000)


@dataclass
class RunEntities:
    """What one trial becomes in MLflow: the child run's tags (given at creation), its params, metrics,
    status and start/end times in milliseconds."""

    name: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: list[tuple[str, float, int, int]]  # (key, value, timestamp ms, step)
    status: str
    start_ms: int
    end_ms: int


def _unique(key: str, taken: Mapping[str, Any]) -> str:
    candidate, k = key, 1
    while candidate in taken:
        k += 1
        candidate = f"{key}_{k}"
    return candidate


def record_entities(record: TrialRecord, *, backend: str, algorithm: str,
                    tags: Mapping[str, Any] | None = None) -> RunEntities:
    """The MLflow content of one trial (shared by the callback and ``to_mlflow``)."""
    run_tags = {mlflow_key(k): str(v)[:_MAX_TAG_LENGTH] for k, v in (tags or {}).items()}
    run_tags.update({
        "unitune.number": str(record.number),
        "unitune.state": record.state,
        "unitune.backend": backend,
        "unitune.algorithm": algorithm,
    })
    if record.error:
        run_tags["unitune.error"] = record.error[:_MAX_TAG_LENGTH]
    if record.worker:
        run_tags["unitune.worker"] = record.worker
    if record.step is not None:
        run_tags["unitune.step"] = str(record.step)
    for key, value in record.info.items():
        run_tags[mlflow_key(f"unitune.info.{key}")] = param_text(value)[:_MAX_TAG_LENGTH]

    params: dict[str, str] = {}
    for path, value in record.params.items():
        params[_unique(mlflow_key(path), params)] = param_text(value)

    end_ms = _ms(record.finished)
    step = record.step if record.step is not None else 0
    metrics: list[tuple[str, float, int, int]] = []
    value = _number(record.value)
    if value is not None:
        metrics.append(("value", value, end_ms, step))
    for name, raw in record.metrics.items():
        number = _number(raw)
        if number is not None:
            metrics.append((mlflow_key(f"metrics.{name}"), number, end_ms, step))
    for k, raw in record.intermediate:
        number = _number(raw)
        if number is not None:
            metrics.append(("intermediate", number, end_ms, int(k)))
    return RunEntities(name=f"trial-{record.number:04d}", tags=run_tags, params=params, metrics=metrics,
                       status=STATUS[record.state], start_ms=_ms(record.started), end_ms=end_ms)


def _log_batch(client: Any, run_id: str, *, metrics: Iterable[tuple[str, float, int, int]] = (),
               params: Mapping[str, str] | None = None, tags: Mapping[str, str] | None = None) -> None:
    """One ``log_batch`` (MLflow's client splits it into requests within its limits: 100 params/tags and 1000
    entities each; one request for a usual trial)."""
    from mlflow.entities import Metric, Param, RunTag

    client.log_batch(run_id, metrics=[Metric(k, v, t, s) for k, v, t, s in metrics],
                     params=[Param(k, v) for k, v in (params or {}).items()],
                     tags=[RunTag(k, v) for k, v in (tags or {}).items()], synchronous=True)


def _set_status(client: Any, run_id: str, status: str, end_ms: int | None) -> None:
    """``set_terminated`` without its extra cost.  MLflow 3's ``MlflowClient.set_terminated`` (and
    ``update_run``) first fetch the run back from the server, one more request per trial, to print two lines
    ("View run ... at: URL") to stdout for every run; the store's own ``update_run_info`` is the one request
    that changes the status and end time.  Should a later MLflow move it, the public call is used."""
    from mlflow.entities import RunStatus

    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    update = getattr(store, "update_run_info", None)
    if callable(update):
        update(run_id, run_status=RunStatus.from_string(status), end_time=end_ms, run_name=None)
    elif status == "RUNNING":
        client.update_run(run_id, status=status)
    else:
        client.set_terminated(run_id, status=status, end_time=end_ms)


def log_trial(client: Any, experiment_id: str, parent_id: str, entities: RunEntities) -> str:
    """One trial as a finished child run of ``parent_id`` in 3 requests (create, log, end); returns its id."""
    run = client.create_run(experiment_id, start_time=entities.start_ms, run_name=entities.name,
                            tags={**entities.tags, PARENT_TAG: parent_id})
    run_id = run.info.run_id
    if entities.params or entities.metrics:
        _log_batch(client, run_id, metrics=entities.metrics, params=entities.params)
    _set_status(client, run_id, entities.status, entities.end_ms)
    return run_id


# -- the parent run ---------------------------------------------------------------------------------------
def _parent_tags(*, backend: str, algorithm: str, direction: str, seed: int | None, metric: str | None,
                 study_name: str | None, tags: Mapping[str, Any] | None) -> dict[str, str]:
    parent = {mlflow_key(k): str(v)[:_MAX_TAG_LENGTH] for k, v in (tags or {}).items()}
    parent.update({"unitune.backend": backend, "unitune.algorithm": algorithm, "unitune.direction": direction,
                   "unitune.seed": str(seed), "unitune.metric": metric or "value", "unitune.parent": "true"})
    if study_name:
        parent["unitune.study"] = study_name
    return parent


class _Summary:
    """The best trial (several objectives: the Pareto front) and the state counts of what a parent run holds."""

    def __init__(self, direction: str, objectives: Objectives | None = None) -> None:
        self.sign = 1.0 if direction == "minimize" else -1.0
        self.objectives = objectives
        self.several = objectives is not None and objectives.several
        self.records: list[TrialRecord] = []  # (several objectives: the front is over them all)
        self.best: TrialRecord | None = None
        self.counts = dict.fromkeys(STATUS, 0)

    def add(self, record: TrialRecord) -> None:
        self.counts[record.state] = self.counts.get(record.state, 0) + 1
        if self.several:
            self.records.append(record)
            return
        feasible = self.objectives is None or self.objectives.feasible(record)  # (with constraints=)
        if record.ok and feasible and (self.best is None or self.sign * (record.value - self.best.value) < 0):
            self.best = record

    def log(self, client: Any, run_id: str, end_ms: int) -> None:
        metrics = [(f"trials.{state}", float(n), end_ms, 0) for state, n in self.counts.items()]
        tags = {}
        if self.several:
            assert self.objectives is not None
            front = [r.number for r, on in zip(self.records, self.objectives.pareto(self.records), strict=True) if on]
            metrics.append(("pareto_trials", float(len(front)), end_ms, 0))
            tags["unitune.pareto"] = ",".join(map(str, sorted(front)))[:_MAX_TAG_LENGTH]
        elif self.best is not None:
            metrics.append(("best_value", float(self.best.value), end_ms, 0))
            tags["unitune.best_trial"] = str(self.best.number)
        _log_batch(client, run_id, metrics=metrics, tags=tags)


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _default_name(backend: str, algorithm: str, study_name: str | None) -> str:
    return study_name or f"unitune-{backend}-{algorithm}"


def to_mlflow(result: Result, tracking_uri: str | None = None, experiment: str = "unitune",
              run_name: str | None = None, tags: Mapping[str, Any] | None = None) -> str:
    """Log a finished ``result`` to MLflow: one parent run, one finished child run per trial (the same content
    as ``MLflowCallback`` logs live; see the module's docstring).  Returns the parent run's id.

    Args:
        result: any backend's ``Result``.
        tracking_uri: the tracking server (``http://127.0.0.1:5000``) or any MLflow tracking URI; None uses
            MLflow's default (``MLFLOW_TRACKING_URI``).
        experiment: the experiment's name, created when missing.
        run_name: the parent run's name (default ``unitune-<backend>-<algorithm>``).
        tags: extra tags on the parent run and on every trial's run.
    """
    client = _client(tracking_uri)
    experiment_id = _experiment_id(client, experiment)
    records = sorted(result.records, key=lambda r: r.number)
    start = min((_ms(r.started) for r in records), default=_now_ms())
    parent_tags = _parent_tags(backend=result.backend, algorithm=result.algorithm, direction=result.direction,
                               seed=result.seed, metric=result.metric, study_name=None, tags=tags)
    parent = client.create_run(experiment_id, start_time=start, tags=parent_tags,
                               run_name=run_name or _default_name(result.backend, result.algorithm, None))
    parent_id = parent.info.run_id
    summary = _Summary(result.direction, result.objectives)
    for record in records:
        log_trial(client, experiment_id, parent_id,
                  record_entities(record, backend=result.backend, algorithm=result.algorithm, tags=tags))
        summary.add(record)
    end = max((_ms(r.finished) for r in records), default=start)
    summary.log(client, parent_id, end)
    _set_status(client, parent_id, "KILLED" if result.interrupted else "FINISHED", end)
    return parent_id


@dataclass
class _Parent:
    run_id: str
    experiment_id: str
    summary: _Summary
    study: Any  # a weak reference to the study
    open: bool = True


class MLflowCallback:
    """A callback that logs each finished trial as an MLflow run, nested under one parent run per study.

    ``study.optimize(objective, n_trials=100, callbacks=[MLflowCallback("http://127.0.0.1:5000")])``, or
    ``minimize``/``maximize``'s ``callbacks=``: every backend, every executor, Ray Tune too.  The parent run is
    created with the study's first finished trial and ended (``FINISHED``, with the best value) when ``optimize``
    returns or raises; the same callback given to several ``optimize`` calls on one study logs them all under
    the same parent run (back to ``RUNNING`` while a call runs), and a new study gets a new parent run.  What
    each trial's run holds: see ``unitune.integrations.mlflow``.

    Args:
        tracking_uri: the tracking server or any MLflow tracking URI (None: MLflow's default,
            ``MLFLOW_TRACKING_URI``).
        experiment: the experiment's name, created when missing.
        run_name: the parent run's name (default: the study's name, or ``unitune-<backend>-<algorithm>``).
        tags: extra tags on the parent run and on every trial's run.
        on_error: ``"raise"`` (default): a failed request raises, which ends the run as any callback that
            raises does (every finished trial kept; ``optimize`` raises that error).  ``"warn"``: warn and go
            on (that trial is missing from MLflow, or partly logged).
        background: log from a thread of this callback, so a trial waits for no request (the next trial
            starts at once; trials are logged in order and ``optimize`` returns once all are).  A failed
            request is then raised by the next call (the next finished trial, or the end of ``optimize``),
            and the trials queued after it are not logged.

    ``close()`` ends every parent run still open (``with MLflowCallback(...) as cb:`` calls it); ``parent_run_id``
    is the last parent run's id.
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str = "unitune", run_name: str | None = None,
                 tags: Mapping[str, Any] | None = None, *, on_error: Literal["raise", "warn"] = "raise",
                 background: bool = False) -> None:
        if on_error not in ("raise", "warn"):
            raise ValueError(f"MLflowCallback: on_error must be 'raise' or 'warn', got {on_error!r}")
        _import_mlflow()  # a missing MLflow is an error here, before any trial runs
        self.tracking_uri, self.experiment, self.run_name = tracking_uri, experiment, run_name
        self.tags = dict(tags or {})
        self.on_error = on_error
        self._lock = threading.RLock()
        self._client_obj: Any = None
        self._experiment_id: str | None = None
        self._parents: list[_Parent] = []
        self._broken = False  # a request failed during this optimize call (on_error="raise")
        self.background = bool(background)
        self._queue: queue.Queue[tuple[Any, TrialRecord] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._pending: Exception | None = None  # the background thread's error, raised by the next call
        self._dropping = False  # after that error, the background thread drops the queued trials

    def __repr__(self) -> str:
        return f"MLflowCallback({self.tracking_uri!r}, experiment={self.experiment!r})"

    @property
    def parent_run_id(self) -> str | None:
        """The id of the last parent run this callback created (None before the first run)."""
        return self._parents[-1].run_id if self._parents else None

    @property
    def _client(self) -> Any:
        if self._client_obj is None:
            self._client_obj = _client(self.tracking_uri)
        return self._client_obj

    def _guarded(self, action: Any, *args: Any) -> Any:
        try:
            return action(*args)
        except Exception as exc:
            if self.on_error == "raise":
                self._broken = True
                raise
            warnings.warn(f"MLflowCallback: logging to {self.tracking_uri or 'MLflow'} failed: "
                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=3)
            return None

    def _parent_of(self, study: Study) -> _Parent | None:
        for parent in self._parents:
            if parent.study() is study:
                return parent
        return None

    def _open_parent(self, study: Study) -> _Parent:
        parent = self._parent_of(study)
        client = self._client
        if parent is not None:
            if not parent.open:  # a later optimize call on the same study: the same parent run again
                _set_status(client, parent.run_id, "RUNNING", None)
                parent.open = True
            return parent
        if self._experiment_id is None:
            self._experiment_id = _experiment_id(client, self.experiment)
        name = getattr(study, "name", None)
        tags = _parent_tags(backend=study.backend, algorithm=study.algorithm, direction=study.direction,
                            seed=study.seed, metric=study.spec.metric, study_name=name, tags=self.tags)
        run = client.create_run(self._experiment_id, start_time=_now_ms(), tags=tags,
                                run_name=self.run_name or _default_name(study.backend, study.algorithm, name))
        parent = _Parent(run.info.run_id, self._experiment_id, _Summary(study.direction, study.objectives),
                          weakref.ref(study))
        self._parents.append(parent)
        return parent

    def on_run_start(self, study: Study) -> None:
        """``optimize`` is starting: the study's parent run is created (or reopened) with its first trial."""
        self.flush()
        with self._lock:
            self._broken = self._dropping = False
            self._pending = None

    def __call__(self, study: Study, record: TrialRecord) -> None:
        """Log one finished trial as a child run of the study's parent run (created with the first trial);
        with ``background=True``, queue it for the logging thread (raising its error, if it had one)."""
        if not self.background:
            with self._lock:
                self._guarded(self._log, study, record)
            return
        self._raise_pending()
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="unitune-mlflow", daemon=True)
            self._worker.start()
        self._queue.put((study, record))

    def _raise_pending(self) -> None:
        error, self._pending = self._pending, None
        if error is not None:
            self._broken = True
            raise error

    def _work(self) -> None:
        """The background thread: log the queued trials in order (``None`` ends it)."""
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._dropping:
                    continue
                with self._lock:
                    try:
                        self._log(*item)
                    except Exception as exc:
                        if self.on_error == "raise":
                            self._pending, self._dropping = exc, True
                        else:
                            warnings.warn(f"MLflowCallback: logging to {self.tracking_uri or 'MLflow'} failed: "
                                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=1)
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until the background thread has logged every queued trial (at once without ``background``)."""
        if self._worker is not None and self._worker.is_alive():
            self._queue.join()

    def _log(self, study: Study, record: TrialRecord) -> None:
        parent = self._open_parent(study)
        entities = record_entities(record, backend=study.backend, algorithm=study.algorithm, tags=self.tags)
        log_trial(self._client, parent.experiment_id, parent.run_id, entities)
        parent.summary.add(record)

    def on_run_end(self, study: Study) -> None:
        """``optimize`` is over: end the study's parent run (``FINISHED``, with the best value).  After a request
        that failed with ``on_error="raise"`` the server is not asked again (the run is ending with that error);
        the parent run is left running and ``close()`` tries again."""
        self.flush()
        self._raise_pending()
        with self._lock:
            parent = self._parent_of(study)
            if parent is not None and parent.open and not self._broken:
                self._guarded(self._end, parent)

    def _end(self, parent: _Parent) -> None:
        end = _now_ms()
        parent.summary.log(self._client, parent.run_id, end)
        _set_status(self._client, parent.run_id, "FINISHED", end)
        parent.open = False

    def close(self) -> None:
        """Log what is still queued, stop the background thread and end every parent run still open
        (``FINISHED``, with its best value); safe to call twice."""
        self.flush()
        if self._worker is not None and self._worker.is_alive():
            self._queue.put(None)
            self._worker.join()
        self._worker = None
        self._raise_pending()
        with self._lock:
            for parent in self._parents:
                if parent.open:
                    self._guarded(self._end, parent)

    def __enter__(self) -> MLflowCallback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
