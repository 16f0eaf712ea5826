"""Ray Tune adapter: one ``Tuner.fit`` per run, actors reused, every trial evaluated by unitune's TrialRunner.

How a run maps onto Ray Tune:

* Every parameter (the union of all branches of a conditional space) is one entry of Ray's
  ``param_space``, keyed by its path, sampled by ``BasicVariantGenerator(random_state=seed)``
  (subclassed so that trials live at once never share a point: ``ray_variants``).
  Ray samples entries independently, so flattening a conditional space loses nothing for random
  search; inactive entries are dropped before the objective is called.  Ray's ``randint``
  excludes its upper bound and ``quniform`` rounds in binary floating point, so ints, stepped
  floats and choices are sampled as indices and decoded by unitune (``ut.explain`` lists each).
* ``grid`` is enumerated by unitune (space order, first ``n_trials`` points) and handed to Ray as
  ``tune.grid_search`` over the point index.
* The trainable calls ``TrialRunner.run`` (the shared failure contract) and reports the finished
  record in its last result, always as a dict: a bare falsy return (0.0) would be dropped by Ray.
  ``ut.report`` becomes ``tune.report``; when a scheduler stops the trial, Ray ends the function at
  its next report (``SystemExit``), which unitune turns into ``TrialPruned``.  The driver rebuilds
  such trials from their last intermediate result: ``state="pruned"``, last value and step.
* Ray's schedulers see the metric ``"unitune_objective"``; a failed, NaN or infinite value is told as
  the worst possible value (+inf when minimizing, -inf when maximizing), never NaN.
* ``ut.checkpoint(state)`` attaches a Ray checkpoint to the next report (or the final one);
  ``ut.restore()`` reads ``tune.get_checkpoint()``, which is how PBT's exploit continues a trial from
  another trial's state.  ``TrialRecord.info`` then holds ``restored_from`` (that trial's id).
* Ray starts once per process, quietly, and is reused; with ``RAY_ADDRESS`` set it attaches to that
  cluster.  Results go to ``storage_path`` or a temporary folder that is removed after the run.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import itertools
import math
import os
import pickle
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from ..exceptions import InvalidRunError, ObjectiveReturnError, TrialTimeout, UnsupportedFeatureError
from ..execution import INTERRUPTED_ERROR, TIMED_OUT_MESSAGE, TrialRunner
from ..records import TrialRecord, format_error, utcnow
from ..space import Conditional, Integer, LogUniform, Param, Space, Uniform
from .base import Budget, LoopBackend, RunSpec, RunState, Translation
from .codec import Codec, NativeCall, clamp, grid_index, index_of, rounded
from .ray_variants import INFO_KEY, distinct_variants

METRIC = "unitune_objective"
_GRID_KEY = "unitune_grid_point"
_SCHEDULERS = {
    "fifo": "FIFOScheduler",
    "asha": "ASHAScheduler",
    "hyperband": "HyperBandScheduler",
    "median": "MedianStoppingRule",
    "pbt": "PopulationBasedTraining",
}
_PAUSING_SCHEDULERS = frozenset({"hyperband", "pbt"})
_start_lock = threading.Lock()


class RayBackend(LoopBackend):
    """Ray Tune: random or grid search with Ray's schedulers (ASHA, Hyperband, median stopping, PBT)."""

    name = "ray"
    extra = "ray"
    requires = ("ray",)
    algorithms: ClassVar[dict[str, str]] = {
        "random": "random search (BasicVariantGenerator)",
        "grid": "exhaustive grid over a finite space (tune.grid_search)",
    }
    default_algorithm = "random"
    schedulers: ClassVar[dict[str, str]] = {
        "fifo": "no early stopping (FIFOScheduler)",
        "asha": "asynchronous successive halving (ASHAScheduler)",
        "hyperband": "Hyperband (HyperBandScheduler)",
        "median": "median stopping rule (MedianStoppingRule)",
        "pbt": "Population Based Training with checkpoints (PopulationBasedTraining)",
    }
    # Several objectives: every value recorded (Ray's random/grid search learns from none of them); a scheduler
    # needs the one objective it decides on (metric=).  Constraints: feasibility recorded, nothing learnt.
    features = frozenset({"conditional", "maximize", "pruning", "checkpoint", "n_jobs", "multi_objective",
                          "constraints"})
    seeded_algorithms = frozenset({"random", "grid"})
    partial_points = True  # points_to_evaluate: Ray samples the entries a point leaves out

    @classmethod
    def check_enqueue(cls, spec: RunSpec) -> None:
        if spec.algorithm == "grid":
            raise UnsupportedFeatureError(cls.name, "known points (enqueue) with algorithm='grid'",
                                          hint="Ray's grid runs its points in order: use algorithm='random', or "
                                               "an ask/tell backend's grid.")

    # -- checks and translation ----------------------------------------------------------------------
    @classmethod
    def check(cls, spec: RunSpec) -> None:
        if spec.several_objectives and spec.scheduler not in (None, "fifo") and spec.metric is None:
            names = spec.objectives.names  # type: ignore[union-attr]
            raise UnsupportedFeatureError(
                "ray", f"scheduler={spec.scheduler!r} with several objectives unless one is named for it",
                hint=f"Ray's schedulers decide on one metric: pass metric= one of {list(names)}.")
        if spec.algorithm == "grid":
            for param in spec.space.params:
                if param.is_conditional_choice:
                    raise UnsupportedFeatureError("ray", "grid search over a conditional space", parameter=param.path,
                                                  hint="use algorithm='random'.")
                if param.dim.grid_size() is None:
                    raise UnsupportedFeatureError("ray", "grid search over a continuous parameter",
                                                  parameter=param.path,
                                                  hint="give it a step or use algorithm='random'.")
        if spec.scheduler == "pbt":
            mutations = spec.scheduler_options.get("hyperparam_mutations")
            if not mutations:
                raise InvalidRunError("scheduler='pbt' needs scheduler_options={'hyperparam_mutations': [paths]}")
            unknown = [path for path in mutations if path not in spec.space.paths]
            if unknown:
                raise InvalidRunError(f"pbt hyperparam_mutations names unknown parameters {unknown}; "
                                      f"the space has {list(spec.space.paths)}")

    @classmethod
    def option_names(cls, algorithm: str) -> frozenset[str]:
        return frozenset()

    @classmethod
    def scheduler_option_names(cls, scheduler: str) -> frozenset[str]:
        import inspect

        from ray.tune import schedulers  # imports the classes only: Ray is not started

        # metric and mode are unitune's (it optimizes its own metric in the study's direction)
        names = inspect.signature(getattr(schedulers, _SCHEDULERS[scheduler])).parameters
        return frozenset(names) - {"metric", "mode"}

    @classmethod
    def translate(cls, param: Param, algorithm: str) -> Translation:
        translation = _codec(param).translation
        native, note = translation.native, translation.note
        if algorithm == "grid":
            return Translation(f"tune.grid_search over unitune's grid of {param.path!r}", "exact",
                               "unitune enumerates the grid in space order; Ray runs one trial per point")
        if param.conditions:
            note = ("sampled in every trial (Ray samples entries independently) and dropped when its branch "
                    "is inactive" + (f"; {note}" if note else ""))
        return Translation(native, "exact", note)

    # -- running --------------------------------------------------------------------------------------
    def __init__(self, spec: RunSpec) -> None:
        super().__init__(spec)
        self._codec = _Codec(self.space)
        # the objective Ray's scheduler sees (several objectives: the one named with metric=, else the first)
        self._scheduled = spec.objectives.names[0] if spec.several_objectives else None  # type: ignore[union-attr]
        if self._scheduled is not None and spec.metric is not None:
            self._scheduled = spec.metric

    @property
    def minimizing(self) -> bool:
        if self._scheduled is not None:
            return self.spec.objectives.direction_of(self._scheduled) == "minimize"  # type: ignore[union-attr]
        return super().minimizing

    def run(self, runner: TrialRunner, budget: Budget, state: RunState) -> Iterator[TrialRecord]:
        with _restored(_ENV_VARS, _LOGGERS):
            yield from self._run(runner, budget, state)

    def _run(self, runner: TrialRunner, budget: Budget, state: RunState) -> Iterator[TrialRecord]:
        tune = _ensure_ray(self.spec.verbose)
        spec = self.spec
        # A resumed study: Ray has no way to learn from its stored trials, so the run only avoids repeating
        # them — grid search goes on after the points already run, random search draws from seed + N.
        done = len(self.history)
        grid = None
        if spec.algorithm == "grid":
            grid = _grid_points(self.space, None if spec.n_trials is None else done + spec.n_trials)[done:]
        storage = spec.storage_path or tempfile.mkdtemp(prefix="unitune-ray-")
        collector = _collector_class(tune)()
        run_id, queue = uuid.uuid4().hex, _record_queue()
        collector.run_id = run_id
        collector.source = lambda: _records_of(run_id, queue)
        if self.on_finished is not None:  # not on the collector: Tune pickles its callbacks
            _sinks[run_id] = self.on_finished
        _stops[run_id] = self.stop_requested
        stopped = functools.partial(_stop_requested, run_id)
        trainable = _make_trainable(runner, self._codec, grid, self.minimizing, run_id, queue, self._scheduled)
        # n_jobs caps the trials that exist at once (one actor, no spare actor starting), except under
        # schedulers that pause trials: hyperband waits for a bracket, PBT for a population, so there every
        # trial may exist and n_jobs caps the *running* ones through each trial's share of the CPUs.
        pausing = spec.scheduler in _PAUSING_SCHEDULERS
        if pausing:
            trainable = tune.with_resources(trainable, {"cpu": _cpus_per_trial(spec.n_jobs)})
        max_live = 0 if pausing else spec.n_jobs
        # Ray's own generator, subclassed (ray_variants): live trials distinct, known points first, stop().
        if grid is not None:
            param_space: dict[str, Any] = {_GRID_KEY: tune.grid_search(list(range(len(grid))))}
            search_alg = distinct_variants(self.space, lambda config: grid[config[_GRID_KEY]], self._codec.encode,
                                           [], None, stopped, max_concurrent=max_live)
            num_samples = 1
        else:
            param_space = self._codec.domains(tune)
            # Tune ignores max_concurrent_trials for a generator passed in: the limit goes here.
            seed = spec.seed if spec.seed is None or not done else (spec.seed + done) % 2**32
            search_alg = distinct_variants(self.space, self._codec.decode, self._codec.encode,
                                           [r.params for r in self.history], seed, stopped,
                                           max_concurrent=max_live,
                                           points_to_evaluate=[self._codec.encode(p) for p in self.known_points])
            num_samples = spec.n_trials if spec.n_trials is not None else 10**9
        time_budget = None if budget.deadline is None else max(budget.deadline - time.monotonic(), 0.001)
        with _start_lock:  # Tune's trainable registry is not thread-safe: register ours, then name it
            tune.register_trainable(f"unitune_{run_id}", trainable)
        tuner = tune.Tuner(
            f"unitune_{run_id}",
            param_space=param_space,
            tune_config=tune.TuneConfig(
                metric=METRIC, mode="min" if self.minimizing else "max", search_alg=search_alg,
                scheduler=self._scheduler(tune), num_samples=num_samples,
                reuse_actors=True, time_budget_s=time_budget,
            ),
            run_config=tune.RunConfig(
                # Ray's status table is its progress display: shown with progress=True (or verbose=True).
                name="unitune", storage_path=os.path.abspath(storage),
                verbose=1 if spec.progress or spec.verbose else 0,
                callbacks=[collector], log_to_file=False, stop=collector.stopper,
                checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
            ),
        )
        interrupted = _SigintWatch()
        try:
            with interrupted:
                tuner.fit()
        finally:
            _sinks.pop(run_id, None)
            _stops.pop(run_id, None)
            if spec.storage_path is None:
                shutil.rmtree(storage, ignore_errors=True)
        collector.finished.update(_records_of(run_id, queue))
        if collector.fatal is not None:
            raise ObjectiveReturnError(collector.fatal)
        timed_out = budget.deadline is not None and time.monotonic() >= budget.deadline
        if interrupted.fired:
            state.interrupted, state.stop_reason = True, "interrupted"
        elif timed_out:
            state.stop_reason = "timeout"
        yield from collector.records(self._codec, grid, interrupted.fired, timed_out)

    def _scheduler(self, tune: Any) -> Any:
        from ray.tune import schedulers

        options = dict(self.spec.scheduler_options)
        name = self.spec.scheduler or "fifo"
        if name != "fifo":
            # ut.report steps are the fidelity: count them (Ray's median and PBT default to wall-clock seconds).
            options.setdefault("time_attr", "training_iteration")
        if name == "pbt":
            # Mutations are given as unitune paths; each mutates in Ray's (encoded) domain of that path.
            domains = self._codec.domains(tune)
            options["hyperparam_mutations"] = {path: domains[path] for path in options["hyperparam_mutations"]}
            options.setdefault("perturbation_interval", 2)
        return getattr(schedulers, _SCHEDULERS[name])(**options)


# -- space translation --------------------------------------------------------------------------------
class _Codec:
    """Ray domains for every parameter, and decoding of a sampled config back to unitune's flat params."""

    def __init__(self, space: Space) -> None:
        self.space = space
        self.codecs = {p.path: _codec(p) for p in space.params}
        self.decoders: dict[str, Callable[[Any], Any]] = {path: c.decode for path, c in self.codecs.items()}

    def domains(self, tune: Any) -> dict[str, Any]:
        return {path: codec.call.make(tune) for path, codec in self.codecs.items()}

    def decode(self, config: dict[str, Any]) -> dict[str, Any]:
        values = {path: decode(config[path]) for path, decode in self.decoders.items()}
        if not self.space.is_conditional:
            return values
        return {p.path: values[p.path] for p in self.space.active_params(values)}  # drop inactive branches

    def encode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """unitune's flat params -> the Ray config entries that decode to them (absent ones Ray samples)."""
        return {path: self.codecs[path].encode(value) for path, value in params.items()}


def _codec(param: Param) -> Codec:
    """How one parameter becomes a Ray Tune domain, and how a sampled value decodes.

    Every decoder clamps: PBT perturbs values (x0.8, x1.2) and may step outside the domain.
    """
    dim = param.dim
    if isinstance(dim, Uniform) and dim.step is None:
        return Codec(NativeCall("tune.uniform", (dim.low, dim.high)), clamp(dim.low, dim.high))
    if isinstance(dim, LogUniform):
        return Codec(NativeCall("tune.loguniform", (dim.low, dim.high)), clamp(dim.low, dim.high))
    if isinstance(dim, Integer) and dim.log:
        return Codec(NativeCall("tune.loguniform", (dim.low - 0.5, dim.high + 0.5), shown="round({})"),
                     rounded(dim.low, dim.high),
                     "tune.lograndint excludes its upper bound and floors; a rounded log-uniform over "
                     "[low-0.5, high+0.5] gives every int its log-scale share, ends included")
    # Everything else is an index: tune.randint excludes its upper bound, so randint(0, n) gives 0..n-1.
    if isinstance(dim, (Uniform, Integer)):
        n = dim.n_steps + 1
        note = ("the grid index k; unitune returns low + k*step (decimal-clean)" if isinstance(dim, Uniform) else
                "an index: tune.randint excludes its upper bound; unitune returns low + k*step, both ends included")
        return Codec(NativeCall("tune.randint", (0, n)), grid_index(dim.at, n - 1), note, encode=index_of(dim))
    kind = "branch label" if isinstance(dim, Conditional) else "option"
    n = len(dim.options)
    # the user's own object (None, tuples, bools)
    return Codec(NativeCall("tune.randint", (0, n)), grid_index(dim.options.__getitem__, n - 1),
                 f"the {kind} index; unitune returns the {kind} itself", encode=index_of(dim))


def _grid_points(space: Space, n_trials: int | None) -> list[dict[str, Any]]:
    """unitune's own grid, in space order (the first ``n_trials`` points)."""
    paths = space.paths
    product = itertools.product(*(space.param(p).dim.grid() or () for p in paths))
    points = itertools.islice(product, n_trials) if n_trials is not None else product
    return [dict(zip(paths, values, strict=True)) for values in points]


# -- the trainable (runs in Ray workers) ---------------------------------------------------------------
def _encode(obj: Any) -> str:
    return base64.b64encode(pickle.dumps(obj)).decode("ascii")


def _decode(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


def _told(value: float, minimizing: bool) -> float:
    """What Ray's schedulers see: never NaN; failures are the worst possible value."""
    if value is None or math.isnan(value):
        return math.inf if minimizing else -math.inf
    return value


def _make_trainable(runner: TrialRunner, codec: _Codec, grid: list[dict[str, Any]] | None,
                    minimizing: bool, run_id: str, records: Any,
                    scheduled: str | None = None) -> Callable[[dict[str, Any]], None]:
    def trainable(config: dict[str, Any]) -> None:
        from ray import tune

        params = grid[config[_GRID_KEY]] if grid is not None else codec.decode(config)
        hooks = _RayHooks(tune, minimizing)
        try:
            record = runner.run(-1, params, hooks)
        except ObjectiveReturnError as exc:  # a usage error: the driver stops the run and raises it
            tune.report({METRIC: _told(math.nan, minimizing), "unitune_fatal": str(exc)})
            return
        record.info.update(hooks.info)
        record.info.update(config.get(INFO_KEY, {}))  # a known point, a redrawn one (ray_variants)
        # Records travel on their own queue: a stopped trial may not report to Tune any more.
        records.put((run_id, tune.get_context().get_trial_id(), _encode(record)))
        if hooks.stopped:
            # End the thread the way Ray's own report does: a further report would block forever (and
            # cost the actor its reuse).
            raise SystemExit(0)
        # Always a dict: a bare falsy return (0.0) would be dropped by Ray.
        value = record.value if scheduled is None else record.metrics.get(scheduled, math.nan)
        result = {METRIC: _told(value if record.ok else math.nan, minimizing)}
        tune.report(result, checkpoint=hooks.pending_checkpoint())

    # Tune registers a function trainable under its name, process-wide: two runs at once with one name
    # would run each other's objective.  One name per run.
    trainable.__name__ = trainable.__qualname__ = f"unitune_{run_id}"
    return trainable


_queue: Any = None
_stash: dict[str, dict[str, str]] = {}  # run id -> {trial id: encoded record} taken off the queue for another run
_stash_lock = threading.Lock()
_sinks: dict[str, Callable[[TrialRecord], None]] = {}  # run id -> where a stored study commits each record
_stops: dict[str, Callable[[], bool]] = {}  # run id -> whether Study.stop() was called


def _stop_requested(run_id: str) -> bool:
    # A module function (with functools.partial), so the generator Tune pickles holds no study.
    stopped = _stops.get(run_id)
    return stopped is not None and stopped()


def _sink_for(run_id: str) -> Callable[[TrialRecord], None] | None:
    # A module function, so the Collector class (pickled by value with Tune's state) refers to it by name.
    return _sinks.get(run_id)


def _records_of(run_id: str, queue: Any) -> dict[str, str]:
    """This run's finished records; records of other runs in this process (two runs at once share the
    queue) are kept for them instead of being dropped."""
    with _stash_lock:
        while not queue.empty():
            rid, trial_id, blob = queue.get_nowait()
            _stash.setdefault(rid, {})[trial_id] = blob
        return _stash.pop(run_id, {})


def _record_queue() -> Any:
    """One queue actor per process (no CPU reserved) carrying finished records from trials to the driver."""
    global _queue
    with _stash_lock:
        if _queue is None:
            from ray.util.queue import Queue

            _queue = Queue(actor_options={"num_cpus": 0})
        return _queue


class _RayHooks:
    """``ut.report`` → ``tune.report``; checkpoints through Ray; a stop decision becomes TrialPruned."""

    def __init__(self, tune: Any, minimizing: bool) -> None:
        self.tune = tune
        self.minimizing = minimizing
        self.info: dict[str, Any] = {}
        self._state: Any = None
        self._dirty = False
        self._started = utcnow()
        self.stopped = False

    def should_prune(self, step: int, value: float, intermediate: list[tuple[int, float]]) -> bool:
        if self.stopped:
            return True  # Ray stopped the trial at the previous report and the objective went on
        snapshot = {"started": self._started, "intermediate": list(intermediate), "info": dict(self.info)}
        try:
            self.tune.report({METRIC: _told(value, self.minimizing), "unitune_step": step,
                              "unitune_snapshot": _encode(snapshot)}, checkpoint=self.pending_checkpoint())
        except SystemExit:
            # Ray ends a stopped function trainable inside the report whose result made the scheduler stop
            # it.  The stop takes effect at the objective's next ut.report: a trial that had just reported
            # its last step (ASHA stops every trial at max_t) returns normally and completes.
            self.stopped = True
        return False

    def save_checkpoint(self, state: Any) -> None:
        self._state, self._dirty = state, True

    def pending_checkpoint(self) -> Any:
        if not self._dirty:
            return None
        self._dirty = False
        folder = tempfile.mkdtemp(prefix="unitune-ckpt-")
        with open(os.path.join(folder, "state.pkl"), "wb") as f:
            # The lineage travels with the state: a trial paused after an exploit restarts from its own checkpoint.
            pickle.dump({"state": self._state, "trial_id": self.tune.get_context().get_trial_id(),
                         "restored_from": self.info.get("restored_from")}, f)
        return self.tune.Checkpoint.from_directory(folder)

    def load_checkpoint(self) -> Any:
        if self._state is not None:
            return self._state
        checkpoint = self.tune.get_checkpoint()
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as folder, open(os.path.join(folder, "state.pkl"), "rb") as f:
            saved = pickle.load(f)
        me = self.tune.get_context().get_trial_id()
        donor = saved["trial_id"] if saved["trial_id"] != me else saved["restored_from"]
        if donor is not None:
            self.info["restored_from"] = donor
        self._state = saved["state"]
        return self._state


# -- the driver side -------------------------------------------------------------------------------------
def _collector_class(tune: Any) -> type:
    class Collector(tune.Callback):
        """Keeps every trial's results as they arrive, and the order in which trials ended."""

        def __init__(self) -> None:
            self.last: dict[str, dict[str, Any]] = {}
            self.config: dict[str, dict[str, Any]] = {}
            self.ended: list[tuple[str, Any, str | None]] = []  # (trial id, end time, error)
            self.fatal: str | None = None
            self.finished: dict[str, str] = {}  # trial id -> encoded record, from the record queue
            # With a sink (a stored study), each trial's record is handed over as soon as Ray ends the trial.
            self.run_id = ""
            self.source: Callable[[], dict[str, str]] = dict
            self.sunk: dict[str, TrialRecord] = {}
            self.started: dict[str, Any] = {}  # trial id -> when Ray started it
            collector = self

            class StopOnFatal(tune.Stopper):
                """Ends the whole run once a trial reported a usage error (e.g. a dict without metric=)."""

                def __call__(self, trial_id: str, result: dict) -> bool:
                    return False

                def stop_all(self) -> bool:
                    return collector.fatal is not None

            self.stopper = StopOnFatal()

        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.config[trial.trial_id] = dict(trial.config)
            self.started.setdefault(trial.trial_id, utcnow())

        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
            self.last[trial.trial_id] = result
            self.config[trial.trial_id] = dict(trial.config)
            if "unitune_fatal" in result:
                self.fatal = result["unitune_fatal"]

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.config[trial.trial_id] = dict(trial.config)
            self.ended.append((trial.trial_id, utcnow(), None))
            self._hand_over(trial.trial_id)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.config[trial.trial_id] = dict(trial.config)
            message = str(getattr(trial, "error_msg", None) or "the Ray trial errored")
            self.ended.append((trial.trial_id, utcnow(), f"RayTrialError: {message.strip().splitlines()[-1]}"))
            self._hand_over(trial.trial_id)

        def _hand_over(self, trial_id: str) -> None:
            """Give the sink a trial Ray has ended for good (its record is on the queue by now)."""
            sink = _sink_for(self.run_id)
            if sink is None or trial_id in self.sunk:
                return
            self.finished.update(self.source())
            if trial_id in self.finished:
                record = _decode(self.finished[trial_id])
                record.info.setdefault("ray_trial_id", trial_id)
                sink(record)
                self.sunk[trial_id] = record

        def records(self, codec: _Codec, grid: list[dict[str, Any]] | None, interrupted: bool,
                    timed_out: bool) -> Iterator[TrialRecord]:
            ended_ids = {e[0] for e in self.ended}
            # rows in the order trials ended; trials Ray started but that never ended (Ctrl-C, time budget) last
            order = self.ended + [(tid, utcnow(), None) for tid in self.config if tid not in ended_ids]
            built: dict[str, TrialRecord] = {}
            cut_short = _cut_short_error(interrupted, timed_out)
            for trial_id, ended, error in order:
                if trial_id in self.sunk:  # handed over already (and numbered by the sink)
                    built[trial_id] = self.sunk[trial_id]
                elif trial_id not in built:
                    record = self._record(trial_id, ended, error, codec, grid, cut_short,
                                          never_ended=trial_id not in ended_ids)
                    if record is not None:
                        built[trial_id] = record
            # Ray may start pending trials in any order: a trial's number is its place in the seeded
            # generator's sequence (trial ids end in the creation index, "2f1de_00003"), renumbered 0..n-1.
            for number, trial_id in enumerate(sorted(built, key=lambda tid: int(tid.rsplit("_", 1)[-1]))):
                if trial_id not in self.sunk:
                    built[trial_id].number = number
                built[trial_id].info.setdefault("ray_trial_id", trial_id)
            yield from built.values()

        def _record(self, trial_id: str, ended: Any, error: str | None, codec: _Codec,
                    grid: list[dict[str, Any]] | None, cut_short: str | None, never_ended: bool) -> TrialRecord | None:
            if trial_id in self.finished:
                record = _decode(self.finished[trial_id])
                record.finished = max(record.finished, ended) if record.state != "complete" else record.finished
                if record.state == "pruned" and never_ended and cut_short is not None:
                    # Hyperband and PBT pause a trial by ending its function at a report (our "pruned" record);
                    # a trial still paused when the run was cut short was never stopped by the scheduler.
                    record.state, record.value, record.error = "failed", math.nan, cut_short
                return record
            last = self.last.get(trial_id, {})
            config = self.config.get(trial_id)
            if config is None:
                return None
            params = grid[config[_GRID_KEY]] if grid is not None else codec.decode(config)
            snapshot = _decode(last["unitune_snapshot"]) if "unitune_snapshot" in last else None
            record = TrialRecord(number=-1, state="failed", value=math.nan, params=params, finished=ended)
            if snapshot is not None:
                record.started, record.intermediate = snapshot["started"], snapshot["intermediate"]
                record.info.update(snapshot["info"])
                record.step, value = record.intermediate[-1]
                record.value = value
            else:
                record.started = self.started.get(trial_id, ended)
            if error is not None or cut_short is not None:
                record.value, record.error = math.nan, error or cut_short
            elif snapshot is not None:
                record.state = "pruned"  # stopped by the scheduler after its last report
            else:
                record.error = "RayTrialError: the trial ended without a result"
            return record

    return Collector


def _cut_short_error(interrupted: bool, timed_out: bool) -> str | None:
    """The error of a trial that had not finished when the run ended early."""
    if interrupted:
        return INTERRUPTED_ERROR
    if timed_out:
        return format_error(TrialTimeout(TIMED_OUT_MESSAGE))
    return None


class _SigintWatch:
    """Tells whether Ctrl-C arrived during ``Tuner.fit``, and undoes Ray's SIGINT handler afterwards.

    Ray installs its own SIGINT handler for the run; on the first Ctrl-C it stops the run gracefully
    and puts back the handler it found (our sentinel), but when no Ctrl-C comes it never restores it
    (Ctrl-C would then no longer raise KeyboardInterrupt in this process).  So: install a sentinel,
    and after the run, finding the sentinel back in place means Ray saw a SIGINT.
    """

    def __init__(self) -> None:
        self.fired = False
        self._previous: Any = None
        self._previous_usr1: Any = None
        self._sentinel: Any = None

    def __enter__(self) -> _SigintWatch:
        import signal

        if threading.current_thread() is not threading.main_thread():
            return self
        self._previous = signal.getsignal(signal.SIGINT)
        self._previous_usr1 = signal.getsignal(signal.SIGUSR1) if hasattr(signal, "SIGUSR1") else None

        def sentinel(signum: int, frame: Any) -> None:  # a second Ctrl-C: stop hard, as before
            self.fired = True
            raise KeyboardInterrupt

        self._sentinel = sentinel
        signal.signal(signal.SIGINT, sentinel)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._sentinel is None:
            return
        if signal.getsignal(signal.SIGINT) is self._sentinel:
            self.fired = True
        signal.signal(signal.SIGINT, self._previous)
        if self._previous_usr1 is not None:  # Ray leaves its handler there too: put back the one we found
            signal.signal(signal.SIGUSR1, self._previous_usr1)


def _cpus_per_trial(n_jobs: int) -> float:
    """The CPU share that lets at most ``n_jobs`` trials run at once (capped at the largest node's CPUs)."""
    import ray

    cpus = [node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node.get("Alive")]
    return min(max(cpus), sum(cpus) / n_jobs)


_ENV_VARS = ("RAY_USAGE_STATS_ENABLED", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "RAY_AIR_NEW_OUTPUT",
             "RAY_TRAIN_V2_ENABLED", "RAY_AUTH_MODE")
_LOGGERS = ("ray", "ray.tune", "ray.train", "ray.data")


@contextlib.contextmanager
def _restored(env_vars: tuple[str, ...], loggers: tuple[str, ...]) -> Iterator[None]:
    """Put the environment variables and logger levels a run changes back as they were after it."""
    import logging

    env = {name: os.environ.get(name) for name in env_vars}
    levels = {name: logging.getLogger(name).level for name in loggers}
    try:
        yield
    finally:
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _ensure_ray(verbose: bool) -> Any:
    """Start Ray once per process (or attach to RAY_ADDRESS), quietly; reuse it afterwards."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no CSV/JSON/TensorBoard files
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "0")
    if not os.environ.get("RAY_ADDRESS"):
        # A local Ray otherwise writes an auth token to ~/.ray; the cluster is private to this process.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import logging

    import ray
    from ray import tune

    with _start_lock:
        if not ray.is_initialized():
            ray.init(address=os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                     logging_level=logging.INFO if verbose else logging.ERROR, log_to_driver=verbose,
                     configure_logging=True, ignore_reinit_error=True)
    if not verbose:
        for name in ("ray", "ray.tune", "ray.train", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR)
    return tune
