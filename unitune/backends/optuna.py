"""Optuna adapter: define-by-run ``suggest_*`` calls in space order, through Optuna's ask/tell API.

A flat space is suggested exactly as a native user would write it (``suggest_float``/``suggest_int``/
``suggest_categorical`` in space order), so the same seed gives the same suggestion sequence as
native ``study.optimize``.  Pruning uses Optuna's own pruners through ``trial.report``/``should_prune``.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from ..exceptions import BackendNotInstalledError, InvalidRunError, UnsupportedFeatureError
from ..records import TrialRecord
from ..space import Choice, Conditional, Integer, LogUniform, Param, Uniform
from .base import AskTellBackend, RunSpec, Suggestion, Translation
from .codec import Codec, NativeCall

_SAMPLERS = {
    "tpe": "TPESampler",
    "random": "RandomSampler",
    "grid": "GridSampler",
    "cmaes": "CmaEsSampler",
    "gp": "GPSampler",
    "qmc": "QMCSampler",
    "nsga2": "NSGAIISampler",
    "nsga3": "NSGAIIISampler",
}
_SINGLE_OBJECTIVE = {"cmaes": "CMA-ES"}  # samplers Optuna refuses for several objectives
_CONSTRAINTS_ATTR = "unitune.constraints"  # user attr of a trial's constraint values, read by constraints_func

_PRUNERS = {
    "fifo": "NopPruner",
    "median": "MedianPruner",
    "percentile": "PercentilePruner",
    "asha": "SuccessiveHalvingPruner",
    "hyperband": "HyperbandPruner",
    "threshold": "ThresholdPruner",
    "wilcoxon": "WilcoxonPruner",
}

# Samplers that model only part of a space and hand the rest to an independent (random) sampler.
_NO_CATEGORICAL = {"cmaes": "CMA-ES", "qmc": "QMC"}
_INTERSECTION_ONLY = {"cmaes": "CMA-ES", "gp": "the GP", "qmc": "QMC", "nsga2": "NSGA-II", "nsga3": "NSGA-III"}

_DISCARDED = "unitune_discarded"  # user attr of a trial unitune dropped as a repeat of a pending point
_NATIVE_CATEGORICAL = (type(None), bool, int, float, str)
_UNSET: Any = object()
_tell_with_warning: Any = _UNSET  # resolved on first use, so importing this module never imports optuna
_SET_CONSTRAINT = True  # Optuna >= 5 takes constraints with trial.set_constraint (older: constraints_func)


def native_categorical(options: Sequence[Any]) -> bool:
    """Whether Optuna can hold these options as they are (else unitune suggests their index)."""
    if not all(type(o) in _NATIVE_CATEGORICAL for o in options):
        return False
    # Optuna finds a value's index with ==, so 1 and True (or 0 and 0.0) would be confused.
    return all(a != b for i, a in enumerate(options) for b in options[:i])


# The largest grid handed to GridSampler (it holds every point as a tuple: ~10**6 is ~100 MB).
MAX_GRID_POINTS = 10**6

class OptunaBackend(AskTellBackend):
    """Optuna samplers (TPE, random, grid, CMA-ES, GP, QMC, NSGA-II/III) and pruners; several objectives and
    constraints natively."""

    name = "optuna"
    extra = "optuna"
    requires = ("optuna",)
    algorithms: ClassVar[dict[str, str]] = {
        "tpe": "Tree-structured Parzen Estimator (TPESampler)",
        "random": "random search (RandomSampler)",
        "grid": "exhaustive grid over a finite space (GridSampler)",
        "cmaes": "CMA-ES evolution strategy (CmaEsSampler)",
        "gp": "Gaussian-process Bayesian optimization (GPSampler; needs torch)",
        "qmc": "quasi-Monte Carlo Sobol sequence (QMCSampler)",
        "nsga2": "NSGA-II genetic algorithm (NSGAIISampler)",
        "nsga3": "NSGA-III genetic algorithm, reference points for many objectives (NSGAIIISampler)",
    }
    default_algorithm = "tpe"
    schedulers: ClassVar[dict[str, str]] = {
        "fifo": "no early stopping (NopPruner)",
        "median": "median stopping rule (MedianPruner)",
        "percentile": "percentile stopping rule (PercentilePruner)",
        "asha": "asynchronous successive halving (SuccessiveHalvingPruner)",
        "hyperband": "Hyperband (HyperbandPruner)",
        "threshold": "stop outside thresholds (ThresholdPruner)",
        "wilcoxon": "Wilcoxon signed-rank test (WilcoxonPruner)",
    }
    features = frozenset({"conditional", "maximize", "pruning", "ask_tell", "n_jobs", "multi_objective",
                          "constraints"})
    native_pruning = True
    seeded_algorithms = frozenset(_SAMPLERS)
    partial_points = True  # enqueue_trial with some params: the sampler draws the others

    # -- checks and translation ----------------------------------------------------------------------
    @classmethod
    def option_names(cls, algorithm: str) -> frozenset[str] | None:
        import optuna

        sampler = getattr(optuna.samplers, _SAMPLERS[algorithm])
        return frozenset(inspect.signature(sampler).parameters) - {"seed", "search_space"}

    @classmethod
    def scheduler_option_names(cls, scheduler: str) -> frozenset[str]:
        import optuna

        return frozenset(inspect.signature(getattr(optuna.pruners, _PRUNERS[scheduler])).parameters)

    @classmethod
    def check(cls, spec: RunSpec) -> None:
        cls._check_objectives(spec)
        if spec.algorithm == "gp":
            import importlib.util

            if importlib.util.find_spec("torch") is None:
                raise BackendNotInstalledError(
                    'optuna\'s GPSampler (algorithm="gp") needs torch: pip install "unitune[optuna-gp]"'
                )
        if spec.algorithm == "grid":
            if spec.space.is_conditional:
                raise UnsupportedFeatureError(
                    "optuna", "grid search over a conditional space", parameter=next(
                        p.path for p in spec.space.params if p.is_conditional_choice),
                    hint="GridSampler needs every parameter in every trial; use algorithm='random' or 'tpe'.",
                )
            size = 1
            for param in spec.space.params:
                n = param.dim.grid_size()
                if n is None:
                    raise UnsupportedFeatureError(
                        "optuna", "grid search over a continuous parameter", parameter=param.path,
                        hint="give it a step (ut.uniform(low, high, step=...)) or use another algorithm.",
                    )
                size *= n
            # GridSampler lists every point in memory up front: 10**12 of them would exhaust it before any trial.
            if size > MAX_GRID_POINTS:
                raise UnsupportedFeatureError(
                    "optuna", f"grid search over more than {MAX_GRID_POINTS:,} points (this grid has {size:.1e} "
                    "points; GridSampler lists them all in memory)", ["ray"],
                    hint="Use algorithm='random' or 'qmc', coarser steps, or backend='ray' with algorithm='grid' "
                         "(it enumerates only the first n_trials points).",
                )

    @classmethod
    def _check_objectives(cls, spec: RunSpec) -> None:
        objectives = spec.objectives
        if objectives is None:
            return
        multi = [name for name in _SAMPLERS if name not in _SINGLE_OBJECTIVE]
        if objectives.several and spec.algorithm in _SINGLE_OBJECTIVE:
            raise UnsupportedFeatureError(
                "optuna", f"several objectives with algorithm={spec.algorithm!r} ({_SINGLE_OBJECTIVE[spec.algorithm]} "
                "is single-objective)", hint=f"Optuna's samplers for several objectives: {', '.join(multi)}.")
        if objectives.several and spec.scheduler not in (None, "fifo"):
            raise UnsupportedFeatureError(
                "optuna", f"scheduler={spec.scheduler!r} with several objectives (Optuna's pruners are "
                "single-objective: trial.report is refused)", ["ray"],
                hint="Run without a scheduler, or on Ray Tune naming the objective its scheduler uses (metric=).")
        if objectives.constraints is not None:
            if spec.algorithm in _SINGLE_OBJECTIVE:
                raise UnsupportedFeatureError(
                    "optuna", f"constraints= with algorithm={spec.algorithm!r} (its sampler takes no constraints_func)",
                    hint="Samplers that learn from constraints: tpe, gp, nsga2, nsga3.")
            if "constraints_func" in spec.options:
                raise InvalidRunError("give constraints= (unitune's, for every backend) or the sampler's "
                                      "constraints_func=, not both")

    @classmethod
    def translate(cls, param: Param, algorithm: str) -> Translation:
        dim = param.dim
        codec = _codec(param)
        native, note = codec.call.text(), codec.note
        if algorithm in _NO_CATEGORICAL and isinstance(dim, (Choice, Conditional)):
            return Translation(native, "approximated",
                               f"{_NO_CATEGORICAL[algorithm]} does not model categorical parameters; "
                               "Optuna samples this one with its independent (random) sampler")
        if algorithm in _INTERSECTION_ONLY and param.conditions:
            return Translation(native, "approximated",
                               f"{_INTERSECTION_ONLY[algorithm]} models only parameters present in every trial; "
                               "Optuna samples this conditional one with its independent (random) sampler")
        return Translation(native, "exact", note)

    # -- running --------------------------------------------------------------------------------------
    @classmethod
    @contextlib.contextmanager
    def calls(cls, spec: RunSpec) -> Iterator[None]:
        # Optuna logs every trial at INFO: quiet unless verbose=True, and Optuna's verbosity is put back after
        # the call.  Only when it must change: set_verbosity clears the logging caches (~30 us a time).
        import optuna

        verbosity = optuna.logging.get_verbosity()
        quiet = not spec.verbose and verbosity < optuna.logging.WARNING
        if quiet:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            yield
        finally:
            if quiet:
                optuna.logging.set_verbosity(verbosity)

    @classmethod
    def around_run(cls, spec: RunSpec) -> AbstractContextManager[Any]:
        # Quiet once for a whole optimize() call (restored after it), so the calls inside change nothing.
        return cls.calls(spec)

    def __init__(self, spec: RunSpec) -> None:
        super().__init__(spec)
        import optuna

        self._optuna = optuna
        global _tell_with_warning, _SET_CONSTRAINT
        if _tell_with_warning is _UNSET:
            _tell_with_warning = _internal_tell()
            _SET_CONSTRAINT = hasattr(optuna.trial.Trial, "set_constraint")
        self._encoded = {
            p.path for p in self.space.params if isinstance(p.dim, Choice) and not native_categorical(p.dim.options)
        }
        self._codecs = {p.path: _codec(p) for p in self.space.params}
        objectives = spec.objectives
        self._objectives = objectives if objectives is not None and objectives.several else None
        self._constrained = objectives is not None and objectives.constraints is not None
        self._n_constraints = 1  # how many constraint values a trial has (learnt from the first one told)
        with warnings.catch_warnings():
            if not spec.verbose:  # "GPSampler is experimental", …: ut.explain says what each sampler does
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = self._make_sampler()
            pruner = getattr(optuna.pruners, _PRUNERS[spec.scheduler or "fifo"])(**spec.scheduler_options)
        if self._objectives is not None:
            self.study = optuna.create_study(directions=list(self._objectives.directions), sampler=sampler,
                                             pruner=pruner)
        else:
            self.study = optuna.create_study(direction=spec.direction, sampler=sampler, pruner=pruner)
        self._grid_size = self._count_grid() if spec.algorithm == "grid" else None
        self._asked = 0  # trials handed out: the grid is exhausted after _grid_size of them

    def _make_sampler(self) -> Any:
        spec = self.spec
        cls = getattr(self._optuna.samplers, _SAMPLERS[spec.algorithm])
        kwargs = dict(spec.options)
        if spec.algorithm == "grid":
            kwargs["search_space"] = {p.path: list(self._native_choices(p)) for p in self.space.params}
        if "warn_independent_sampling" in inspect.signature(cls).parameters and spec.algorithm != "tpe" \
                and not spec.verbose:  # (TPE deprecated the flag in Optuna 4.9)
            # ut.explain reports which parameters fall back to independent sampling; no runtime warning.
            kwargs.setdefault("warn_independent_sampling", False)
        if spec.algorithm == "tpe":
            # Pending (running) trials count as bad ones, so concurrent TPE suggestions spread out instead of
            # piling onto one point.  With no trial pending (one at a time) the sequence is unchanged.
            kwargs.setdefault("constant_liar", True)
        if self._constrained and not _SET_CONSTRAINT and "constraints_func" in inspect.signature(cls).parameters:
            # Optuna < 5: the trial's constraint values in a user attr, read back by the sampler's constraints_func.
            kwargs["constraints_func"] = self._constraints_of
        return cls(seed=spec.seed, **kwargs)

    def _constraints_of(self, trial: Any) -> tuple[float, ...]:
        # A pruned trial (Optuna asks for its constraints too) has none in unitune: taken as infeasible.
        constraints = trial.user_attrs.get(_CONSTRAINTS_ATTR)
        return tuple(constraints) if constraints is not None else (math.inf,) * self._n_constraints

    def _constraint_keys(self, n: int) -> list[str]:
        named = self.spec.objectives.constraints  # type: ignore[union-attr]
        return list(named) if isinstance(named, tuple) and len(named) == n else [str(i) for i in range(n)]

    def _count_grid(self) -> int:
        size = 1
        for p in self.space.params:
            size *= p.dim.grid_size() or 0
        return size

    def _native_choices(self, param: Param) -> Sequence[Any]:
        if param.path in self._encoded:
            return range(len(param.dim.grid() or ()))
        return param.dim.grid() or ()

    def ask(self) -> Suggestion | None:
        if self._grid_size is not None and self._asked >= self._grid_size:
            return None  # every grid point has been handed out
        self._asked += 1
        trial = self.study.ask()  # pending trials stay RUNNING in Optuna's storage: samplers see them
        codecs = self._codecs
        params = self.space.sample(lambda p: codecs[p.path].decode(codecs[p.path].call.make(trial)))
        return Suggestion(number=-1, params=params, handle=trial)

    def discard(self, suggestion: Suggestion) -> None:
        # An Optuna trial cannot be deleted: it is failed (samplers learn nothing from a FAIL trial; a grid
        # point goes back to the unvisited ones) and marked, so history() leaves it out.
        trial = suggestion.handle
        trial.set_user_attr(_DISCARDED, True)
        self._tell(trial, None, self._optuna.trial.TrialState.FAIL)
        self._asked -= 1

    def ask_at(self, params: dict[str, Any]) -> Suggestion:
        # Optuna's own way to evaluate a chosen point: an enqueued trial, whose suggest_* calls return it.
        self.study.enqueue_trial({path: self._codecs[path].encode(value) for path, value in params.items()})
        suggestion = self.ask()
        assert suggestion is not None
        return suggestion

    def replay(self, records: list[TrialRecord]) -> int:
        # Finished trials go in with study.add_trials, as Optuna takes another study's history.
        optuna, codecs = self._optuna, self._codecs
        states = optuna.trial.TrialState
        frozen = []
        for record in records:
            complete = record.state == "complete" and not math.isnan(record.value)
            values: dict[str, Any] = {"value": record.value if complete else None}
            state = states.COMPLETE if complete else states.PRUNED if record.state == "pruned" else states.FAIL
            if self._objectives is not None:
                told = self._objectives.values(record)
                complete = complete and not any(math.isnan(v) for v in told)
                values = {"values": told if complete else None}
                state = states.COMPLETE if complete else states.FAIL  # (no pruning with several objectives)
            constraints = record.info.get("constraints") if self._constrained else None
            if constraints is not None:
                if _SET_CONSTRAINT:
                    values["constraints"] = dict(zip(self._constraint_keys(len(constraints)), constraints, strict=True))
                else:  # where Optuna's constraints_func leaves a trial's constraints (samplers read them there)
                    values["system_attrs"] = {"constraints": tuple(constraints)}
                    values["user_attrs"] = {_CONSTRAINTS_ATTR: list(constraints)}
            frozen.append(optuna.trial.create_trial(
                params={path: codecs[path].encode(v) for path, v in record.params.items()},
                distributions={path: _distribution(codecs[path].call) for path in record.params},
                intermediate_values={step: v for step, v in record.intermediate if not math.isnan(v)},
                state=state, **values,
            ))
        self.study.add_trials(frozen)
        return len(frozen)

    def history(self) -> list[tuple[dict[str, Any], float | None]]:
        states = self._optuna.trial.TrialState
        return [(self._decode(t.params), t.values[0] if t.values else None)
                for t in self.study.get_trials(deepcopy=False)
                if t.state != states.RUNNING and _DISCARDED not in t.user_attrs]

    def _decode(self, native: dict[str, Any]) -> dict[str, Any]:
        return {path: self._codecs[path].decode(value) for path, value in native.items()}

    def hooks(self, suggestion: Suggestion) -> _OptunaHooks:
        return _OptunaHooks(suggestion.handle)

    def tell(self, suggestion: Suggestion, record: TrialRecord) -> None:
        states = self._optuna.trial.TrialState
        trial = suggestion.handle
        try:
            if self._constrained and "constraints" in record.info:
                constraints = record.info["constraints"]
                if _SET_CONSTRAINT:  # Optuna >= 5, as a native user writes it: trial.set_constraint before tell
                    for key, c in zip(self._constraint_keys(len(constraints)), constraints, strict=True):
                        trial.set_constraint(key, c)
                else:
                    self._n_constraints = len(constraints)
                    trial.set_user_attr(_CONSTRAINTS_ATTR, list(constraints))
            if record.state == "complete":
                self._tell(trial, record.value if self._objectives is None else self._objectives.values(record), None)
            elif record.state == "pruned":
                self._tell(trial, None, states.PRUNED)  # Optuna uses the last reported value
            else:
                self._tell(trial, None, states.FAIL)
        except RuntimeError as exc:
            # GridSampler calls study.stop() after the last grid point, which Optuna forbids outside
            # study.optimize; the trial is stored before that, and ask() stops on the grid count.
            if self._grid_size is None or "Study.stop" not in str(exc):
                raise

    def _tell(self, trial: Any, value: float | list[float] | None, state: Any) -> None:
        # study.optimize finishes a trial with the internal _tell_with_warning; the public study.tell
        # adds a deepcopy of the whole trial (~0.7 ms) that we would throw away.  Same bookkeeping.
        if _tell_with_warning is None:
            self.study.tell(trial, value, state=state)
        else:
            _tell_with_warning(study=self.study, trial=trial, value_or_values=value, state=state,
                               suppress_warning=True)


def _codec(param: Param) -> Codec:
    """The define-by-run ``trial.suggest_*`` call for one parameter, and how its value decodes."""
    dim, name = param.dim, param.path
    if isinstance(dim, Uniform) and dim.step is not None:
        # Optuna computes low + k*step in binary floating point (0.8999999999999999); snap to the decimal grid.
        return Codec(NativeCall("suggest_float", (name, dim.low, dim.high), {"step": dim.step}), dim.snap,
                     "values snapped to the decimal grid low + k*step")
    if isinstance(dim, Uniform):
        return Codec(NativeCall("suggest_float", (name, dim.low, dim.high)), _same)
    if isinstance(dim, LogUniform):
        return Codec(NativeCall("suggest_float", (name, dim.low, dim.high), {"log": True}), _same)
    if isinstance(dim, Integer):
        kwargs = ({"step": dim.step} if dim.step != 1 else {}) | ({"log": True} if dim.log else {})
        return Codec(NativeCall("suggest_int", (name, dim.low, dim.high), kwargs), _same)
    options = dim.options
    if isinstance(dim, Conditional):
        return Codec(NativeCall("suggest_categorical", (name, list(options)), shown="{} then the chosen branch"),
                     _same)
    assert isinstance(dim, Choice)
    if native_categorical(options):
        # the very object of the space (Optuna hands back an equal one)
        return Codec(NativeCall("suggest_categorical", (name, list(options))), lambda v: options[dim.index(v)])
    return Codec(NativeCall("suggest_categorical", (name, list(range(len(options))))), options.__getitem__,
                 "index-encoded: Optuna holds only None/bool/int/float/str; the objective gets the objects",
                 encode=dim.index)


def _distribution(call: NativeCall) -> Any:
    """The Optuna distribution a ``trial.suggest_*`` call samples from (to add finished trials)."""
    from optuna import distributions

    name, low_high, kwargs = call.fn, call.args[1:], call.kwargs
    if name == "suggest_float":
        return distributions.FloatDistribution(*low_high, step=kwargs.get("step"), log=kwargs.get("log", False))
    if name == "suggest_int":
        return distributions.IntDistribution(*low_high, step=kwargs.get("step", 1), log=kwargs.get("log", False))
    return distributions.CategoricalDistribution(call.args[1])


def _same(value: Any) -> Any:
    return value


def _internal_tell() -> Any:
    try:
        from optuna.study._tell import _tell_with_warning as tell
    except ImportError:  # moved in a future Optuna: fall back to the public API
        return None
    wanted = {"study", "trial", "value_or_values", "state", "suppress_warning"}
    return tell if wanted <= set(inspect.signature(tell).parameters) else None


class _OptunaHooks:
    """``ut.report`` → ``trial.report`` + ``trial.should_prune`` (Optuna's pruner decides)."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self._state: Any = None

    def should_prune(self, step: int, value: float, intermediate: list[tuple[int, float]]) -> bool:
        self.trial.report(value, step)
        return bool(self.trial.should_prune())

    def save_checkpoint(self, state: Any) -> None:
        self._state = state

    def load_checkpoint(self) -> Any:
        return self._state
