"""``ut.Study``: one object that asks for trials and is told their results, and the one loop that runs them.

``Study.ask()`` hands out a ``Trial`` (number + params shaped like the space), ``Study.tell()`` takes its
result back; ``Study.optimize()`` is that loop around an objective, and ``ut.minimize``/``ut.maximize``
are ``Study(...).optimize(...)``.  A study serializes every call into the framework adapter with one
lock, so trials can be asked and told from several threads; what belongs to one trial lives in it.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from .backends.base import RUN_LIMITS, AskTellBackend, Backend, Budget, LoopBackend, RunSpec, RunState, Suggestion
from .capabilities import check_run
from .context import TrialContext, TrialHooks
from .distinct import Distinct
from .exceptions import BackendError, InvalidRunError, InvalidTellError, ObjectiveReturnError, UnsupportedFeatureError
from .execution import RunInterrupted, TrialRunner, interpret, worker_name
from .liveness import Liveness
from .objectives import Constraints, Objectives
from .parallel.share import environment
from .progress import ProgressBar
from .records import TrialRecord, format_error, utcnow
from .registry import get_backend, installed_names, supporting
from .results import Result
from .space import Space, as_space
from .threads import limited_for
from .warm_start import warm_start_records

Direction = Literal["minimize", "maximize"]
TOLD_STATES = ("complete", "pruned", "failed")


class Trial:
    """A trial handed out by ``Study.ask()``.

    ``number`` is its 0-based number in the study, ``params`` the parameters shaped like the space (a
    conditional choice gives ``(label, sub_params)``), ``assignment`` the same as a flat ``{path: value}``
    dict.  Evaluate it, optionally ``report`` intermediate values, then hand the result to ``study.tell``.
    """

    def __init__(self, study: Study, suggestion: Suggestion, hooks: TrialHooks, ask_s: float) -> None:
        self.number = suggestion.number
        self.assignment = suggestion.params
        self.started = utcnow()
        self.hooks = hooks
        self._study = study
        self._suggestion = suggestion
        self._ask_s = ask_s
        self._params: dict[str, Any] | None = None
        self._context: TrialContext | None = None

    @property
    def params(self) -> dict[str, Any]:
        """The params shaped like the space (built on first use: ``optimize`` builds them in the worker)."""
        if self._params is None:
            self._params = self._study.space.build(self.assignment)
        return self._params

    @property
    def _ctx(self) -> TrialContext:
        if self._context is None:
            self._context = TrialContext(number=self.number, params=self.assignment, hooks=self.hooks)
        return self._context

    def report(self, value: float, step: int | None = None, **metrics: Any) -> bool:
        """Record an intermediate ``value`` at ``step`` (default: the next integer) plus optional metrics.

        Returns True when the study's scheduler says the trial should stop; then tell it with
        ``study.tell(trial, state="pruned")``.  Steps must increase.
        """
        return self._ctx.report(value, step, metrics)

    @property
    def intermediate(self) -> list[tuple[int, float]]:
        """The ``(step, value)`` pairs reported so far."""
        return list(self._ctx.intermediate)

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self.params!r})"


def _spec(cls: type[Backend], space: Space, direction: str, settings: dict[str, Any],
          objectives: Objectives | None = None) -> RunSpec:
    """The study's ``RunSpec``: unitune settings by name, every other keyword an algorithm option."""
    names = RunSpec.settings()
    misplaced = sorted((RUN_LIMITS | {"executor", "threads_per_trial", "devices"}) & settings.keys())
    if misplaced:
        raise InvalidRunError(f"{', '.join(misplaced)}: an argument of Study.optimize(...) (and of ut.minimize), "
                              "not a study setting")
    options = {k: v for k, v in settings.items() if k not in names}
    known = {k: v for k, v in settings.items() if k in names}
    seed, metric = known.get("seed"), known.get("metric")
    if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or not 0 <= seed < 2**32):
        raise InvalidRunError(f"seed must be an int in [0, 2**32), got {seed!r}")
    if metric is not None and not isinstance(metric, str):
        raise InvalidRunError(f"metric must be a str, got {metric!r}")
    scheduler_options = known.pop("scheduler_options", None) or {}
    if not isinstance(scheduler_options, Mapping):
        raise InvalidRunError(f"scheduler_options must be a dict, got {scheduler_options!r}")
    known["algorithm"] = known.get("algorithm") or cls.default_algorithm
    if seed is not None:
        known["seed"] = int(seed)
    return RunSpec(space=space, direction=direction,  # type: ignore[arg-type]
                   scheduler_options=dict(scheduler_options), options=options, objectives=objectives, **known)


def _objectives_key(objectives: Objectives | None) -> tuple[Any, ...]:
    """What must not change when a stored study is resumed (a constraint function is given again)."""
    if objectives is None or (not objectives.several and objectives.constraints is None):
        return ()
    return objectives.names, objectives.directions


def _describe(objectives: Objectives | None) -> str:
    return "(one objective)" if not _objectives_key(objectives) else objectives.describe()  # type: ignore[union-attr]


def _checked_callbacks(callbacks: Any) -> list[Callable[[Study, TrialRecord], Any]]:
    if callbacks is None:
        return []
    if callable(callbacks) or isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable):
        raise InvalidRunError(f"callbacks must be a list of callables f(study, record), got {callbacks!r}")
    callbacks = list(callbacks)
    for callback in callbacks:
        if not callable(callback):
            raise InvalidRunError(f"callbacks: {callback!r} is not callable (a callback is f(study, record))")
    return callbacks


def _check_run_limits(objective: Any, n_trials: Any, timeout: Any, n_jobs: Any) -> None:
    if not callable(objective):
        raise InvalidRunError(f"objective must be callable, got {type(objective).__name__}")
    if n_trials is None and timeout is None:
        raise InvalidRunError("give n_trials (>= 1), timeout (seconds), or both")
    if n_trials is not None and (
        not isinstance(n_trials, numbers.Integral) or isinstance(n_trials, bool) or n_trials < 1
    ):
        raise InvalidRunError(f"n_trials must be an int >= 1, got {n_trials!r}")
    if timeout is not None and (
        not isinstance(timeout, numbers.Real) or isinstance(timeout, bool) or not 0 < timeout < math.inf
    ):
        raise InvalidRunError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise InvalidRunError(f"n_jobs must be an int >= 1, got {n_jobs!r}")


class Study:
    """An optimization of ``space`` with one backend: ask for trials and tell their results, or ``optimize``.

    Args:
        space: a dict of primitives (``ut.uniform``, ``ut.loguniform``, ``ut.integer``, ``ut.choice``),
            constants and nested dicts, or a ``ut.Space``.
        backend: ``"optuna"``, ``"hyperopt"``, ``"skopt"``, ``"ray"``, ``"nevergrad"`` or a registered plugin.
        direction: ``"minimize"`` or ``"maximize"``.
        directions: several objectives, one direction each (``["minimize", "maximize"]``); the objective
            returns a tuple/list in that order or a dict holding every name of ``metrics``.  The table gets
            a ``values.<metric>`` column per objective plus ``feasible`` and ``pareto``; ``result.best_trials``
            is the Pareto set.  Optuna runs them natively; other backends say before the first trial.
        metrics: the objectives' names (default ``"0"``, ``"1"``, …), as many as ``directions``.
        constraints: a function of a finished trial's metrics (objective values included) returning numbers
            that must all be <= 0 for the trial to be feasible (Optuna's ``constraints_func``), or a list of
            metric names that must be <= 0.  Told to the algorithm where it takes them (Optuna's TPE,
            NSGA-II/III, GP); a constraint function that raises fails the trial.
        **settings: the study's settings — ``algorithm`` (the backend's default when omitted), ``seed``,
            ``metric`` (the key to optimize when results are dicts), ``scheduler`` and
            ``scheduler_options`` (early stopping for ``report``), ``strict`` (refuse any approximated
            translation), ``verbose`` (let the framework log), ``storage_path`` (where Ray writes) —
            and any option of the backend's algorithm (e.g. Optuna's ``n_startup_trials=5``).
            Everything is checked here, before any framework object exists; unknown names are an error.

        storage: where every finished trial is committed before the next one is asked: a SQLite file
            (``"runs.db"``, ``"sqlite:///path"``) or ``"postgresql://user@host:port/db"``; memory only when None.
        name: the study's name in the store (a fresh one is made up when omitted).
        resume: continue the stored study of that name (created when there is none, so the same command
            can start on several machines): its trials are replayed into the framework, numbering goes on,
            and ``optimize(n_trials=...)`` counts every trial of the study toward ``n_trials``.  A changed
            backend, algorithm, direction or space is refused.  Without it an existing name is refused.
        warm_start: earlier trials to tell the framework first — a ``Result``, a result table, or a stored
            study as ``(storage, name)`` — of any backend over this space.  They are not rows of this study.
        heartbeat_interval: for a stored study, every this many seconds the process marks its running
            trials alive in the store (None: no heartbeats).  Any process of the study fails a running trial
            whose heartbeat is older than ``grace_period`` (default 4 intervals) with ``WorkerLost``, on
            whatever machine its worker died.
        retry_failed: how many times a trial lost that way (or orphaned on this host) is asked again with
            the same params, by the process that found it lost (``info["retry_of"]`` names the first try).

    ``ask``/``tell`` work on every backend that proposes trials on request (Optuna, Hyperopt,
    scikit-optimize, Nevergrad); Ray Tune drives its own loop, so there only ``optimize`` works.
    """

    def __init__(self, space: Space | Mapping[str, Any], *, backend: str, direction: Direction = "minimize",
                 directions: Sequence[Direction] | None = None, metrics: Sequence[str] | None = None,
                 constraints: Constraints | None = None, storage: Any = None, name: str | None = None,
                 resume: bool = False, warm_start: Any = None,
                 heartbeat_interval: float | None = 10.0, grace_period: float | None = None, retry_failed: int = 0,
                 **settings: Any) -> None:
        if not isinstance(backend, str):
            raise InvalidRunError(f"backend must be a name (str), got {backend!r}")
        if direction not in ("minimize", "maximize"):
            raise InvalidRunError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
        self.space = as_space(space)
        self.backend_class = get_backend(backend)
        objectives = Objectives.checked(directions, metrics, constraints, direction=direction,
                                        metric=settings.get("metric"))
        if objectives is not None:
            direction = objectives.directions[0]  # type: ignore[assignment]
            if not objectives.several and metrics is not None:
                settings["metric"] = objectives.names[0]
        self.spec = _spec(self.backend_class, self.space, direction, settings, objectives)
        check_run(self.backend_class, self.spec)
        self._adapter: Backend | None = None
        self._lock = threading.RLock()
        self._records: list[TrialRecord] = []
        self._pending: dict[int, Trial] = {}
        self._told: set[int] = set()
        self._next_number = 0
        self._interrupted = False
        self._stop_reason = "n_trials"
        self.name = name
        self._store: Any = None
        self._stored: Any = None
        self._cursor = 0  # the store's commit sequence up to which trials were taken in
        if warm_start is not None and not issubclass(self.backend_class, AskTellBackend):
            raise UnsupportedFeatureError(
                self.backend, "warm_start (telling a framework earlier trials)",
                [b for b in supporting("ask_tell") if b != self.backend],
                hint=f"{self.backend!r} has no way to learn from trials it did not run.")
        self._warm = [] if warm_start is None else warm_start_records(warm_start, self.space)
        self._liveness = Liveness.checked(heartbeat_interval, grace_period, retry_failed)
        self._retries: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (params, info) of lost trials to re-ask
        self._enqueued: list[dict[str, Any]] = []  # Study.enqueue's points (flat), handed out before the algorithm's
        self._callbacks: list[Callable[[Study, TrialRecord], Any]] = []  # this optimize call's callbacks
        self._stop_requested: str | None = None  # why Study.stop() was called during this optimize call
        self._callback_error: Exception | None = None
        if storage is not None:
            self._open(storage, name, bool(resume))
        elif resume:
            raise InvalidRunError("resume=True needs storage= (the store that holds the study)")

    # -- the store ---------------------------------------------------------------------------------------
    def _open(self, storage: Any, name: str | None, resume: bool) -> None:
        from .storage import StudyMeta, describe_space_change, open_store

        if name is None:
            if resume:
                raise InvalidRunError("resume=True needs name= (the stored study to continue)")
            name = f"{self.backend}-{self.algorithm}-{utcnow():%Y%m%d-%H%M%S-%f}"
        store = open_store(storage)
        spec = self.spec
        meta = StudyMeta(backend=self.backend, algorithm=spec.algorithm, direction=spec.direction, seed=spec.seed,
                         metric=spec.metric, space=self.space,
                         options={"options": dict(spec.options), "scheduler": spec.scheduler,
                                  "scheduler_options": dict(spec.scheduler_options),
                                  **({} if spec.objectives is None else {"objectives": spec.objectives.stored()})})
        try:
            if resume:
                stored, created = store.get_or_create_study(name, meta)
            else:
                stored, created = store.create_study(name, meta), True
            if not created:
                old = stored.meta
                for what, was, now in (("backend", old.backend, self.backend), ("algorithm", old.algorithm,
                                       spec.algorithm), ("direction", old.direction, spec.direction)):
                    if was != now:
                        raise InvalidRunError(f"cannot resume study {name!r}: it was created with {what} {was!r}, "
                                              f"this study asks for {what} {now!r}")
                was = Objectives.from_stored(old.options.get("objectives"))
                if _objectives_key(was) != _objectives_key(spec.objectives):
                    raise InvalidRunError(f"cannot resume study {name!r}: it was created with objectives "
                                          f"{_describe(was)}, this study asks for {_describe(spec.objectives)}")
                change = describe_space_change(old.space, self.space)
                if change:
                    raise InvalidRunError(f"cannot resume study {name!r}: its space changed: {change}")
                store.use_space(stored.id, self.space)  # decode into this space's very objects
                # trials of this host whose process died: failed, not running (and re-asked with retry_failed)
                lost = store.fail_orphans(stored.id)
        except BaseException:
            store.close()
            raise
        self.name, self._store, self._stored = name, store, stored
        if not created:
            self._retry(lost)
        self._liveness.start(store, stored.id, lambda: list(self._pending))
        self._sync()

    def _retry(self, lost: list[TrialRecord]) -> None:
        """Queue the params of trials this process found lost for a new try, within ``retry_failed``."""
        for record in lost:
            attempt = int(record.info.get("attempt", 0))
            if record.params and attempt < self._liveness.retry_failed:
                self._retries.append((dict(record.params), {"retry_of": int(record.info.get("retry_of", record.number)),
                                                            "attempt": attempt + 1}))

    def _sync(self) -> list[TrialRecord]:
        """Take in the trials other sessions and workers finished since the last look (before every ask)."""
        if self._store is None:
            return []
        with self._lock:
            self._retry(self._liveness.fail_stale(self._store, self._stored.id))
            records, self._cursor = self._store.trials(self._stored.id, after=self._cursor)
            new = [r for r in records if r.number not in self._told and r.number not in self._pending]
            if new:
                self._records.extend(new)
                self._told.update(r.number for r in new)
                self._next_number = max(self._next_number, *(r.number + 1 for r in new))
                if isinstance(self._adapter, AskTellBackend):
                    with self._framework_calls():
                        self._adapter.take_history(new)
            return new

    def _number(self) -> int:
        if self._store is None:
            number, self._next_number = self._next_number, self._next_number + 1
            return number
        return self._store.reserve_trial(self._stored.id, worker_name())

    def close(self) -> None:
        """Close the store connection (the study's trials are all committed already); asking or telling
        afterwards is an error, so nothing is left uncommitted."""
        self._liveness.stop()
        if self._store is not None:
            self._store.close()

    # -- what the study is -------------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        return self.backend_class.name

    @property
    def algorithm(self) -> str:
        return self.spec.algorithm

    @property
    def direction(self) -> str:
        """The direction of the (first) objective."""
        return self.spec.direction

    @property
    def directions(self) -> list[str]:
        """One direction per objective."""
        objectives = self.spec.objectives
        return [self.spec.direction] if objectives is None else list(objectives.directions)

    @property
    def objectives(self) -> Objectives | None:
        """The study's objectives and constraints (None for one plain objective)."""
        return self.spec.objectives

    @property
    def seed(self) -> int | None:
        return self.spec.seed

    @property
    def records(self) -> list[TrialRecord]:
        """Every finished trial, in the order they finished."""
        return list(self._records)

    @property
    def result(self) -> Result:
        """Every finished trial so far as a ``Result``."""
        with self._lock:
            return Result(records=list(self._records), space=self.space, backend=self.backend,
                          algorithm=self.algorithm, seed=self.seed, direction=self.direction,
                          metric=self.spec.metric, scheduler=self.spec.scheduler, interrupted=self._interrupted,
                          stop_reason=self._stop_reason, objectives=self.spec.objectives)

    @property
    def table(self) -> Any:
        """Every finished trial so far, as the unified pandas table."""
        return self.result.table

    @property
    def pending(self) -> list[Trial]:
        """Trials asked for and not told yet."""
        with self._lock:
            return list(self._pending.values())

    def __repr__(self) -> str:
        return (f"Study(backend={self.backend!r}, algorithm={self.algorithm!r}, direction={self.direction!r}, "
                f"trials={len(self._records)}, pending={len(self._pending)})")

    # -- known points and stopping --------------------------------------------------------------------------
    def enqueue(self, params: Mapping[str, Any]) -> None:
        """Evaluate ``params`` before the algorithm's own suggestions (Optuna's ``enqueue_trial``).

        The point is given like the params the objective receives, or flat by path; it goes to the
        framework through its own path for a chosen point, so model-based algorithms learn from it.
        Values outside the space, unknown or inactive parameters are refused here; a partial point is
        taken where the framework samples the rest (Optuna, Ray Tune), refused elsewhere naming the
        missing parameters.  Points are handed out in order by this process (``info["enqueued"]``).
        """
        from .enqueue import known_point

        self.backend_class.check_enqueue(self.spec)
        partial = [name for name in installed_names() if getattr(get_backend(name), "partial_points", False)]
        point = known_point(self.space, params, self.backend_class, partial)
        with self._lock:
            self._enqueued.append(point)

    def stop(self, reason: str = "stopped: study.stop()") -> None:
        """End the running ``optimize`` call cleanly: no new trial starts, running trials finish and are kept.

        Meant for callbacks (and other threads); ``result.stop_reason`` is ``reason``.
        """
        with self._lock:
            if self._stop_requested is None:
                self._stop_requested = reason

    def _after_trial(self, record: TrialRecord) -> None:
        """Run this optimize call's callbacks on a finished (and kept) trial; one that raises stops the run and
        its exception is raised by ``optimize`` once the running trials are done."""
        for callback in self._callbacks:
            if self._callback_error is not None:
                return
            try:
                callback(self, record)
            except Exception as exc:  # re-raised by optimize once the running trials are done
                self._callback_error = exc
                self.stop(f"callback error: {type(exc).__name__}: {exc}")

    def _run_end(self, callbacks: list[Callable[[Study, TrialRecord], Any]]) -> None:
        """Tell callbacks with an ``on_run_end(study)`` method that this optimize call is over (whatever ended
        it); the first one that raises, when no callback raised before, makes ``optimize`` raise its error."""
        for callback in callbacks:
            end = getattr(callback, "on_run_end", None)
            if callable(end):
                try:
                    end(self)
                except Exception as exc:
                    if self._callback_error is None:
                        self._callback_error = exc

    # -- ask / tell ----------------------------------------------------------------------------------------
    _distinct: Distinct | None = None  # built on the first ask: keeps pending suggestions distinct points

    def ask(self, n: int | None = None) -> Any:
        """One new ``Trial`` (``n`` omitted), or a list of ``n`` trials to run at once.

        The framework knows the trials are pending (Optuna: running trials; scikit-optimize: its
        constant-liar ``ask(n_points)``; Hyperopt: a pending trial document per suggestion), and a
        suggestion that still repeats a pending point is re-asked, then replaced by the nearest free
        point (``unitune.distinct``; the trial's ``info["distinct"]`` says so), so pending trials are
        distinct points while the space has any left.  Returns ``None`` (or a shorter list) once the
        algorithm has nothing left to propose, e.g. an exhausted grid.
        """
        if n is not None and (not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1):
            raise InvalidRunError(f"ask(n): n must be an int >= 1, got {n!r}")
        trials = self._ask(1 if n is None else int(n))
        if n is None:
            return trials[0] if trials else None
        return trials

    def _ask_tell_adapter(self) -> AskTellBackend:
        if not issubclass(self.backend_class, AskTellBackend):
            raise UnsupportedFeatureError(
                self.backend, "ask/tell (Study.ask and Study.tell)",
                [b for b in supporting("ask_tell") if b != self.backend],
                hint=f"{self.backend!r} drives its own loop: use study.optimize(objective, ...) or ut.minimize.",
            )
        adapter = self._ensure_adapter(None)
        assert isinstance(adapter, AskTellBackend)
        return adapter

    def _ensure_adapter(self, n_trials: int | None, n_jobs: int = 1) -> Backend:
        with self._lock:
            if self._adapter is None:
                # Built on first use, so an algorithm that sizes itself by the budget (skopt's random search
                # draws n_trials initial points) is built exactly as the native call with that budget, and one
                # that sizes itself by its parallelism (Nevergrad's num_workers) with the run's n_jobs.
                with self._framework_calls():
                    adapter = self.backend_class(self._run_spec(n_trials=n_trials, n_jobs=n_jobs))
                    # What the framework learns from first: a warm start, then this study's stored trials.
                    if isinstance(adapter, AskTellBackend):
                        adapter.take_history(self._warm + self._records)
                self._adapter = adapter
            return self._adapter

    def _run_spec(self, **limits: Any) -> RunSpec:
        return replace(self.spec, **limits)

    @contextlib.contextmanager
    def _framework_calls(self) -> Iterator[None]:
        """Around every call into the framework: the adapter's quiet settings and, for the model-fitting
        algorithms, a fixed BLAS/OpenMP/torch thread count (``UNITUNE_THREADS``), all restored after."""
        with self.backend_class.calls(self.spec), limited_for(self.backend, self.algorithm):
            yield

    def _ask(self, k: int) -> list[Trial]:
        adapter = self._ask_tell_adapter()
        with self._lock:
            if self._distinct is None:
                self._distinct = Distinct(self.space, self.spec.seed)
            self._sync()
            started = time.perf_counter()
            with self._framework_calls():
                suggestions = []
                while self._retries and len(suggestions) < k:  # lost trials first, at their params
                    params, info = self._retries.pop(0)
                    suggestions.append(adapter.ask_at(params))
                    suggestions[-1].info.update(info)
                while self._enqueued and len(suggestions) < k:  # then the known points, in order
                    suggestions.append(adapter.ask_at(self._enqueued.pop(0)))
                    suggestions[-1].info["enqueued"] = True
                # The framework's own suggestions (its pending mechanism first), repeats of pending points replaced.
                if len(suggestions) < k:
                    suggestions += self._distinct.ask(adapter, k - len(suggestions),
                                                      [t.assignment for t in self._pending.values()]
                                                      + [x.params for x in suggestions],
                                                      lambda: [r.params for r in self._warm + self._records])
            ask_s = (time.perf_counter() - started) / max(len(suggestions), 1)
            trials = []
            for suggestion in suggestions:
                suggestion.number = self._number()
                if self._store is not None and self._liveness.interval is not None:  # what a lost trial leaves
                    self._store.describe_running(self._stored.id, suggestion.number, suggestion.params,
                                                 suggestion.info)
                trial = Trial(self, suggestion, adapter.hooks(suggestion), ask_s)
                self._pending[trial.number] = trial
                trials.append(trial)
            return trials

    def tell(self, trial: Trial | int, value: Any = None, *, state: str | None = None,
             error: str | None = None) -> TrialRecord:
        """Tell the study how ``trial`` (a ``Trial`` or its number) ended; returns its record (table row).

        ``value`` is a number, a dict of metrics (with the study's ``metric=``) or an exception (the trial
        failed); with several objectives, their values as a tuple/list in order or a dict.
        ``state="pruned"`` ends a trial the scheduler stopped (its value: the last reported one);
        ``state="failed"`` with an optional ``error`` message ends a failed trial.  NaN is recorded
        as failed and never reaches the framework.  Trials may be told in any order, each once.
        """
        if isinstance(trial, Trial) and trial._study is not self:
            raise InvalidTellError(f"trial {trial.number} belongs to another study")
        number = trial.number if isinstance(trial, Trial) else trial
        if state not in (None, *TOLD_STATES):
            raise InvalidTellError(f"state must be one of {', '.join(TOLD_STATES)} (or omitted), got {state!r}")
        if state in (None, "complete") and value is None:
            raise InvalidTellError("tell needs a value (a number, a metrics dict or an exception), "
                                   "or state='pruned' / state='failed'")
        with self._lock:
            pending = self._pending.get(number)  # type: ignore[arg-type]
            if pending is None:
                if number in self._told:
                    raise InvalidTellError(f"trial {number} was already told")
                raise InvalidTellError(f"trial {number!r} is not a pending trial of this study")
            record = self._told_record(pending, value, state, error)
            self._finish(pending, record)
            return record

    def _told_record(self, trial: Trial, value: Any, state: str | None, error: str | None) -> TrialRecord:
        ctx = trial._ctx
        record = TrialRecord(number=trial.number, state="failed", value=math.nan, params=trial.assignment,
                             started=trial.started, finished=utcnow(), worker=worker_name())
        if state == "pruned":
            record.state, record.value = "pruned", ctx.last_value if value is None else float(value)
        elif state == "failed":
            record.error = error or "Failed: the trial was told as failed"
        elif isinstance(value, BaseException):
            record.error = format_error(value)
        else:
            interpret(value, self.spec.metric, record, self.spec.objectives)
        record.intermediate = list(ctx.intermediate)
        record.step = ctx.last_step
        record.metrics = {**ctx.metrics, **record.metrics}
        return record

    def _finish(self, trial: Trial, record: TrialRecord) -> None:
        """Tell the framework about a finished trial and keep its record (kept even if the framework fails)."""
        adapter = self._adapter
        assert isinstance(adapter, AskTellBackend)
        with self._lock:
            self._pending.pop(trial.number, None)
            self._told.add(trial.number)
            started = time.perf_counter()
            record.info.update(trial._suggestion.info)  # e.g. how unitune.distinct replaced a repeat
            self._constrain(record)  # before the framework is told: it learns the trial's feasibility
            try:
                with self._framework_calls():
                    adapter.finish(trial._suggestion, record)
            finally:
                record.optimizer_s = trial._ask_s + (time.perf_counter() - started)
                self._keep(record)

    def _constrain(self, record: TrialRecord) -> None:
        if self.spec.objectives is not None:
            self.spec.objectives.constrain(record)

    def _keep(self, record: TrialRecord) -> None:
        """Keep a finished trial: in memory, and committed to the store (if any) before the next ask."""
        self._constrain(record)  # (a trial of a framework with its own loop: its feasibility, for the table)
        self._records.append(record)
        self._told.add(record.number)
        if self._store is not None:
            self._store.finish_trial(self._stored.id, record)
        if self._callbacks:
            self._after_trial(record)

    # -- the loop --------------------------------------------------------------------------------------
    def optimize(self, objective: Callable[[dict[str, Any]], Any], n_trials: int | None = None,
                 timeout: float | None = None, *, n_jobs: int = 1, executor: Any = None,
                 threads_per_trial: int | str | None = "auto", devices: Any = None,
                 callbacks: Sequence[Callable[[Study, TrialRecord], Any]] | None = None,
                 progress: bool = False) -> Result:
        """Run ``objective`` on new trials until ``n_trials`` have finished or ``timeout`` seconds passed.

        The objective gets the params shaped like the space and returns a number (or a dict of metrics
        with ``metric=``); inside it, ``ut.report(value, step)`` records intermediate values and raises
        ``ut.TrialPruned`` when the scheduler stops the trial.  An exception or NaN makes the trial
        ``failed`` and the run goes on; a trial still running at ``timeout`` is stopped and ``failed``.
        Ctrl-C stops the run: the returned ``Result`` has every finished trial and ``interrupted=True``.
        ``n_jobs=k`` runs k trials at once on ``executor``: ``"thread"``, ``"process"`` (the default for
        k > 1; the objective travels with cloudpickle, so lambdas and closures work), ``"ray"`` (Ray tasks,
        on the cluster in ``RAY_ADDRESS`` if set) or any ``concurrent.futures.Executor``.  The driver keeps
        asking and telling; workers only evaluate the objective.  Ray Tune runs its own actors instead.

        ``threads_per_trial`` is each running trial's share of the cores for OpenMP/BLAS/torch:
        ``"auto"`` (``max(1, cpus // n_jobs)`` with an executor, a Ray task's ``num_cpus``, nothing set
        for a sequential run), an int, or ``None`` to leave the libraries alone.  ``devices`` gives each
        running trial its own GPU(s) as ``CUDA_VISIBLE_DEVICES``: ``"visible"`` (one per id already in
        it), ``[0, 1]`` or ``[[0, 1], [2, 3]]`` (the sequential loop and the process executor).

        ``callbacks`` are called as ``callback(study, record)`` in this process after each trial is finished
        and kept (any executor, Ray Tune too), in order.  A callback may call ``study.stop()`` to end the
        run after the running trials; ``unitune.callbacks`` has ready-made stop rules (``TargetReached``,
        ``NoImprovement``, ``WallTime``) and ``unitune.integrations.mlflow`` logs to a tracking server.  A
        callback that raises ends the run the same way and ``optimize`` raises its exception, with every
        finished trial kept (in the store, and in the exception's ``.result``).  A callback object's
        ``on_run_start(study)`` and ``on_run_end(study)`` methods, if it has them, are called as this call
        starts and when it is over, however it ended.

        Returns every trial of the study so far (earlier ``optimize`` calls and told trials included).
        """
        _check_run_limits(objective, n_trials, timeout, n_jobs)
        callbacks = _checked_callbacks(callbacks)
        spec = self._run_spec(n_trials=None if n_trials is None else int(n_trials),
                              timeout=None if timeout is None else float(timeout), n_jobs=int(n_jobs),
                              progress=progress)
        check_run(self.backend_class, spec)
        from .parallel import check_executor, plan_share  # executor, pickling, threads: before any trial

        executor = check_executor(self.backend_class, objective, int(n_jobs), executor)
        share = plan_share(executor, threads_per_trial, devices, n_jobs=int(n_jobs),
                           tune=issubclass(self.backend_class, LoopBackend))
        budget = Budget(spec.n_trials, spec.timeout)
        objectives = self.spec.objectives
        runner = TrialRunner(objective, self.space, metric=self.spec.metric, deadline=budget.deadline,
                             threads=share.threads,  # constraints are computed here, in the driver
                             objectives=None if objectives is None else replace(objectives, constraints=None))
        state = RunState()
        bar = ProgressBar(progress, total=spec.n_trials, desc=f"{self.backend}/{self.algorithm}",
                          direction=self.direction)
        kept = self._counted_from = len(self._records) if self._store is None else 0
        self._stop_requested, self._callback_error, self._callbacks = None, None, callbacks
        for callback in callbacks:
            start = getattr(callback, "on_run_start", None)
            if callable(start):
                start(self)
        around = self.backend_class.around_run(self.spec)
        around.__enter__()
        try:
            if issubclass(self.backend_class, LoopBackend):
                self._run_loop_backend(spec, runner, budget, state, bar)
            elif n_jobs > 1 or executor is not None:
                from .parallel import run_parallel

                self._ensure_adapter(budget.n_trials, int(n_jobs))
                run_parallel(self, runner, budget, state, bar, n_jobs=int(n_jobs), executor=executor, share=share)
            else:
                with environment(share.env(0)):  # devices=: the one running trial's CUDA_VISIBLE_DEVICES
                    self._run_sequential(runner, budget, state, bar)
        except KeyboardInterrupt:
            state.interrupted, state.stop_reason = True, "interrupted"
        except ObjectiveReturnError as exc:
            self._end(state)
            exc.result = self.result  # type: ignore[attr-defined]
            raise
        except Exception as exc:  # the framework failed: keep the finished trials in the error
            state.stop_reason = "backend error"
            self._end(state)
            raise BackendError(
                f"backend {self.backend!r} ({self.algorithm}) failed after {len(self._records) - kept} finished "
                f"trial(s): {type(exc).__name__}: {exc}. The finished trials are in this error's .result",
                self.result,
            ) from exc
        finally:
            around.__exit__(None, None, None)
            bar.close()
            self._callbacks = []
            self._run_end(callbacks)
        if self._stop_requested is not None and not state.interrupted:
            state.stop_reason = self._stop_requested
        self._end(state)
        error, self._callback_error = self._callback_error, None
        if error is not None:
            with contextlib.suppress(AttributeError, TypeError):
                error.result = self.result  # type: ignore[attr-defined]
            raise error
        return self.result

    def _done(self) -> int:
        """Trials that count toward this optimize call's ``n_trials``: those it finished, or, for a stored
        study, every finished trial of the study (any session, any worker)."""
        return len(self._records) - self._counted_from

    def _end(self, state: RunState) -> None:
        self._interrupted, self._stop_reason = state.interrupted, state.stop_reason

    def _run_sequential(self, runner: TrialRunner, budget: Budget, state: RunState, bar: ProgressBar) -> None:
        """One trial at a time in this thread: ask, evaluate, tell (the native libraries' own order)."""
        self._ensure_adapter(budget.n_trials)
        while True:
            self._sync()
            reason = self._stop_requested or budget.stop_reason(self._done())
            if reason:
                state.stop_reason = reason
                return
            try:
                trials = self._ask(1)
            except KeyboardInterrupt:
                state.interrupted, state.stop_reason = True, "interrupted"
                return
            if not trials:
                state.stop_reason = "exhausted"
                return
            trial = trials[0]
            try:
                record = runner.run(trial.number, trial.assignment, trial.hooks)
            except RunInterrupted as stop:
                self._finish(trial, stop.record)
                bar.update(stop.record)
                state.interrupted, state.stop_reason = True, "interrupted"
                return
            self._finish(trial, record)
            bar.update(record)

    def _run_loop_backend(self, spec: RunSpec, runner: TrialRunner, budget: Budget, state: RunState,
                          bar: ProgressBar) -> None:
        """A framework with its own loop (Ray Tune): its records are numbered on after the study's trials."""
        if self._store is not None and spec.n_trials is not None:  # the study's total budget
            remaining = spec.n_trials - len(self._records)
            if remaining <= 0:
                state.stop_reason = "n_trials"
                return
            spec = self._run_spec(n_trials=remaining, timeout=spec.timeout, n_jobs=spec.n_jobs,
                                  progress=spec.progress)
            budget = Budget(remaining, spec.timeout)
        adapter = self.backend_class(spec)
        assert isinstance(adapter, LoopBackend)
        adapter.history = list(self._records)
        adapter.known_points, self._enqueued = self._enqueued, []
        adapter.stop_requested = lambda: self._stop_requested is not None
        offset = self._next_number
        kept: set[int] = set()  # ids of records committed while the framework ran

        def commit(record: TrialRecord) -> None:
            record.number = self._number()
            self._keep(record)
            kept.add(id(record))

        if self._store is not None or self._callbacks:  # committed (and called back) as Ray ends each trial
            adapter.on_finished = commit
        try:
            for record in adapter.run(runner, budget, state):
                if id(record) not in kept:
                    record.number = self._number() if self._store is not None else record.number + offset
                    self._next_number = max(self._next_number, record.number + 1)
                    self._keep(record)
                bar.update(record)
        finally:
            adapter.close()
