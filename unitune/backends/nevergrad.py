"""Nevergrad adapter: one ``ng.p.Dict`` parametrization and one Nevergrad optimizer, driven by ask/tell.

What Nevergrad sees (``ut.explain(space, backend="nevergrad")`` lists it per parameter):

* the space is one ``ng.p.Dict`` keyed by parameter path.  A conditional space is flattened to the
  union of its branches (as the scikit-optimize adapter does): the branch label is an ``ng.p.Choice``
  and every branch's parameters are in every candidate; only the active ones reach the objective, and
  the optimizer learns that the others made no difference — so those parameters are "approximated";
* floats are ``ng.p.Scalar(lower=, upper=)``, log floats ``ng.p.Log(lower=, upper=)``; values are
  clamped into ``[low, high]`` (Nevergrad's bounds are enforced on a transformed scale and can
  round just outside);
* ints are ``ng.p.Scalar(lower=low - 0.5, upper=high + 0.5).set_integer_casting()`` (Nevergrad's own
  deterministic rounding; the half-step margins give both end values a full share), log ints the same
  on ``ng.p.Log``; stepped floats and stepped ints are the grid index ``k`` as such an integer Scalar,
  decoded to ``low + k*step`` in decimal — every value of the grid and nothing else, so all exact;
* choices are ``ng.p.Choice`` over the option *indices*: any object (None, tuples, bools, mixed types)
  works and the objective gets the very object back.

What Nevergrad is told: minimized values (maximize negates); several objectives as the list of losses
(Nevergrad's multi-objective tell: its hypervolume-based scalarization decides), constraints as
``constraint_violation=`` (the trial's constraint values; > 0 is violated, Nevergrad adds its penalty).
Nevergrad has no "failed" state, and it
clips NaN/inf to 5e20 with a warning, which would dominate any model it fits on the losses (NGOpt's
meta-models, the Portfolio's CMA): so failed, NaN, inf and pruned trials are told the worst finite
value told so far; before any finite value exists they are held back and told as soon as one arrives
(candidates may be told in any order).

``num_workers`` (Nevergrad's parallelism, fixed when an optimizer is built) is the ``num_workers=``
option, else the run's ``n_jobs`` (``optimize(n_jobs=4)``: the study builds its adapter with it) or the
size of the first batch the study asks for (``Study.ask(4)``), whichever is larger, else 1 —
so one trial at a time is exactly ``Optimizer(parametrization, budget=budget, num_workers=1)``.
Nevergrad's ``budget`` is the ``budget=`` option, not the run's ``n_trials`` (a study's optimizer is
then the same whether the study was asked first or optimized, and a later ``optimize(n_trials=)``
does not contradict it); by default None (Nevergrad's default), except for NGOpt, which needs one to
pick its optimizer: 100 there.  NGOpt and Portfolio choose by the budget: give ``budget=n_trials``
to tell them yours.
The optimizer is therefore built at the first ask; history handed over before (resume, warm start) is
told right after it is built.  Same seed + flat space: the very sequence of native ask/tell with
``parametrization.random_state = np.random.RandomState(seed)`` (``tests/test_nevergrad.py``).

Known points (``Study.enqueue``) and the points ``unitune.distinct`` picks go through
``optimizer.suggest(value)`` + ``ask()``; history is told with ``parametrization.spawn_child(new_value=)``
+ ``tell`` (Nevergrad's "tell not asked").
"""

from __future__ import annotations

import importlib.util
import math
import threading
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from ..exceptions import InvalidRunError, UnsupportedFeatureError
from ..pruning import SCHEDULERS
from ..records import TrialRecord
from ..space import Choice, Conditional, Integer, LogUniform, Param, Uniform
from .base import AskTellBackend, RunSpec, Suggestion, Translation
from .codec import Codec, NativeCall, clamp, grid_index, index_of, rounded

# algorithm -> the native optimizer's name in ng.optimizers.registry
NATIVE: dict[str, str] = {
    "ngopt": "NGOpt",
    "pso": "PSO",
    "de": "TwoPointsDE",
    "cma": "CMA",
    "oneplusone": "OnePlusOne",
    "portfolio": "Portfolio",
    "random": "RandomSearch",
    "ga": "RecombiningGA",
}
_INTEGER = ".set_integer_casting()"
# NGOpt's budget without a budget= option (it refuses None).
NGOPT_BUDGET = 100


class NevergradBackend(AskTellBackend):
    """Nevergrad: NGOpt (its portfolio wizard, the default), PSO, DE, CMA-ES, (1+1), a passive portfolio,
    random search and a genetic algorithm, seeded through ``parametrization.random_state``."""

    name = "nevergrad"
    extra = "nevergrad"
    requires = ("nevergrad",)
    algorithms: ClassVar[dict[str, str]] = {
        "ngopt": "Nevergrad's wizard: picks an optimizer from the space, budget and workers (ng.optimizers.NGOpt)",
        "pso": "particle swarm optimization (ng.optimizers.PSO)",
        "de": "differential evolution with two-points crossover, Nevergrad's recommended DE "
              "(ng.optimizers.TwoPointsDE)",
        "cma": "CMA-ES evolution strategy (ng.optimizers.CMA)",
        "oneplusone": "(1+1) evolution strategy with one-fifth rule (ng.optimizers.OnePlusOne)",
        "portfolio": "passive portfolio of CMA and two-points DE, plus scrambled Hammersley when given budget= "
                     "(ng.optimizers.Portfolio)",
        "random": "random search (ng.optimizers.RandomSearch)",
        "ga": "genetic algorithm: (1+1) with double-fast-GA mutation and crossover (ng.optimizers.registry"
              "['RecombiningGA'], one of Nevergrad's experimental variants)",
    }
    default_algorithm = "ngopt"
    schedulers: ClassVar[dict[str, str]] = SCHEDULERS  # unitune's own: Nevergrad has no early stopping
    features = frozenset({"conditional", "maximize", "pruning", "ask_tell", "n_jobs", "multi_objective",
                          "constraints"})
    seeded_algorithms = frozenset(NATIVE)

    # -- checks and translation ----------------------------------------------------------------------
    @classmethod
    def option_names(cls, algorithm: str) -> frozenset[str]:
        return frozenset({"num_workers", "budget"})

    @classmethod
    def check(cls, spec: RunSpec) -> None:
        for name in ("num_workers", "budget"):
            value = spec.options.get(name, 1)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidRunError(f"backend 'nevergrad' option {name}={value!r} must be an int >= 1")
        # Nevergrad's CMA hands a one-dimensional space to FCMA (pycma needs 2 dimensions), which needs fcmaes.
        if spec.algorithm == "cma" and _dimension(spec.space) == 1 and importlib.util.find_spec("fcmaes") is None:
            from ..registry import supporting_algorithm

            raise UnsupportedFeatureError(
                "nevergrad", "algorithm='cma' on a one-dimensional space (Nevergrad runs FCMA there)",
                [b for b in supporting_algorithm("cmaes") if b != "nevergrad"],
                hint='It needs fcmaes: pip install "unitune[nevergrad]" (or pip install fcmaes).')

    @classmethod
    def translate(cls, param: Param, algorithm: str) -> Translation:
        translation = _codec(param).translation
        native, note = translation.native, translation.note
        # RecombiningGA is one of Nevergrad's experimental variants: only in the registry, not an attribute.
        where = f"ng.optimizers.registry[{NATIVE[algorithm]!r}]" if algorithm == "ga" else \
            f"ng.optimizers.{NATIVE[algorithm]}"
        native = f"{native} in ng.p.Dict, optimized by {where}"
        if param.conditions:
            return Translation(native, "approximated",
                               "conditional space flattened: Nevergrad proposes this parameter in every candidate; "
                               "it reaches the objective only when its branch is active, and the optimizer sees it "
                               "as having no effect otherwise" + (f". {note}" if note else ""))
        return Translation(native, "exact", note)

    @classmethod
    @contextmanager
    def calls(cls, spec: RunSpec) -> Iterator[None]:
        with warnings.catch_warnings():
            if not spec.verbose:  # InefficientSettingsWarning, BadLossWarning, LossTooLargeWarning, …
                warnings.simplefilter("ignore")
            yield

    # -- running --------------------------------------------------------------------------------------
    def __init__(self, spec: RunSpec) -> None:
        super().__init__(spec)
        import nevergrad  # noqa: F401  (fails early, with the study's install hint, if missing)

        self._codecs = {p.path: _codec(p) for p in self.space.params}
        # Nevergrad only minimizes: one sign per objective
        objectives = spec.objectives if spec.several_objectives else None
        self._objectives = objectives
        self._signs = [1.0 if d == "minimize" else -1.0 for d in objectives.directions] if objectives \
            else [1.0 if self.minimizing else -1.0]
        self._worst: list[float] | None = None  # worst finite loss told so far (per objective)
        self._held: list[Any] = []  # candidates of failed trials waiting for a first finite loss
        self._backlog: list[TrialRecord] = []  # history handed over before the optimizer exists
        self._told: list[tuple[dict[str, Any], float | None]] = []  # what Nevergrad was told (history())
        self.optimizer: Any = None

    def parametrization(self) -> Any:
        """The native ``ng.p.Dict`` of this space, seeded as the run's seed says."""
        return build_parametrization(self.space, self.spec.seed)

    def _ensure(self, workers: int = 1) -> Any:
        """The Nevergrad optimizer, built at the first ask with ``num_workers`` (see the module docstring)."""
        if self.optimizer is None:
            import nevergrad as ng

            options = self.spec.options
            workers = options.get("num_workers", max(workers, self.spec.n_jobs))
            # Not the run's n_trials: a study's optimizer must not depend on whether it was asked or optimized
            # first (nor on a later optimize call's n_trials).  NGOpt picks its optimizer by the budget, refuses None.
            budget = options.get("budget", NGOPT_BUDGET if self.spec.algorithm == "ngopt" else None)
            optimizer_class = ng.optimizers.registry[NATIVE[self.spec.algorithm]]
            self.optimizer = optimizer_class(parametrization=self.parametrization(), budget=budget,
                                             num_workers=workers)
            _stop_threads_at_exit(self)
            backlog, self._backlog = self._backlog, []
            self._replay(backlog)
        return self.optimizer

    def close(self) -> None:
        """Stop the threads of Nevergrad's recast optimizers (the scipy methods NGOpt picks for small continuous
        spaces run in a thread that waits for the next tell): left waiting, they keep the interpreter from
        exiting while a study is still referenced."""
        for thread in _messaging_threads(self.optimizer):
            thread.stop()

    def _decode(self, value: dict[str, Any]) -> dict[str, Any]:
        values = {path: codec.decode(value[path]) for path, codec in self._codecs.items()}
        # Flattened conditional space: keep only what the active branches use.
        if self.space.is_conditional:
            return {p.path: values[p.path] for p in self.space.active_params(values)}
        return values

    def _native_value(self, params: dict[str, Any]) -> dict[str, Any]:
        """The native value of flat params; inactive branch parameters get their first value (a constant for the
        optimizer, as inactive parameters of proposed candidates are)."""
        return {p.path: self._codecs[p.path].encode(params[p.path] if p.path in params else _first(p))
                for p in self.space.params}

    def _suggestion(self, candidate: Any) -> Suggestion:
        params = self._decode(candidate.value)
        return Suggestion(number=-1, params=params, handle=(candidate, params))

    def ask(self) -> Suggestion | None:
        return self._suggestion(self._ensure().ask())

    def ask_batch(self, n: int) -> list[Suggestion]:
        # Nevergrad's parallel protocol: ask num_workers times, tell in any order.
        self._ensure(n)
        return super().ask_batch(n)

    def discard(self, suggestion: Suggestion) -> None:
        # Never told: Nevergrad allows asked candidates that are never told (a lost worker), and learns nothing.
        return None

    def ask_at(self, params: dict[str, Any]) -> Suggestion:
        optimizer = self._ensure()
        optimizer.suggest(self._native_value(params))  # Nevergrad's path for a chosen point: the next ask
        # The trial runs at the very params given (a log value's exp(log(x)) round trip may differ in the last bit).
        return Suggestion(number=-1, params=dict(params), handle=(optimizer.ask(), dict(params)))

    def history(self) -> list[tuple[dict[str, Any], float | None]]:
        self._ensure()
        return list(self._told)

    def replay(self, records: list[TrialRecord]) -> int:
        if self.optimizer is None:
            self._backlog.extend(records)  # told right after the optimizer is built (num_workers unknown yet)
        else:
            self._replay(records)
        return len(records)

    def _replay(self, records: list[TrialRecord]) -> None:
        parametrization = self.optimizer.parametrization
        for record in records:
            candidate = parametrization.spawn_child(new_value=self._native_value(record.params))
            self._tell(candidate, dict(record.params), record)

    def tell(self, suggestion: Suggestion, record: TrialRecord) -> None:
        candidate, params = suggestion.handle
        self._tell(candidate, params, record)

    def _losses(self, record: TrialRecord) -> list[float] | None:
        """What Nevergrad minimizes for a complete trial (one loss per objective), or None when not finite."""
        values = self._objectives.values(record) if self._objectives is not None else [record.value]
        if not record.ok or not all(math.isfinite(v) for v in values):
            return None
        return [sign * v for sign, v in zip(self._signs, values, strict=True)]

    def _tell(self, candidate: Any, params: dict[str, Any], record: TrialRecord) -> None:
        losses = self._losses(record)
        if losses is not None:
            self._worst = losses if self._worst is None else [max(w, v) for w, v in zip(self._worst, losses,
                                                                                        strict=True)]
            held, self._held = self._held, []
            for other, other_params in held:  # failures before the first finite loss, told now as the worst one
                self._native_tell(other, other_params, self._worst)
            self._native_tell(candidate, params, losses, record.info.get("constraints"))
        elif self._worst is None:
            self._held.append((candidate, params))
        else:
            # Failed/NaN/inf/pruned: never told raw (Nevergrad would clip it to 5e20); the worst finite loss so far.
            self._native_tell(candidate, params, self._worst)

    def _native_tell(self, candidate: Any, params: dict[str, Any], losses: list[float],
                     constraints: list[float] | None = None) -> None:
        from nevergrad.common.errors import TellNotAskedNotSupportedError

        loss: float | list[float] = losses[0] if len(losses) == 1 else list(losses)
        try:
            if constraints is None:
                self.optimizer.tell(candidate, loss)
            else:
                self.optimizer.tell(candidate, loss, constraint_violation=list(constraints))
        except TellNotAskedNotSupportedError:
            return  # a point Nevergrad did not propose, on an optimizer that cannot take one: not learnt
        self._told.append((params, losses[0]))


def build_parametrization(space: Any, seed: int | None) -> Any:
    """``ng.p.Dict`` of ``space`` (keys: parameter paths), with ``random_state`` seeded before any optimizer."""
    import nevergrad as ng
    import numpy as np

    children = {}
    for param in space.params:
        call = _codec(param).call
        child = call.make(ng.p)
        if call.shown.endswith(_INTEGER):  # what ut.explain prints is what is built
            child = child.set_integer_casting()
        children[param.path] = child
    parametrization = ng.p.Dict(**children)
    if seed is not None:
        parametrization.random_state = np.random.RandomState(seed)
    return parametrization


_LIVE: weakref.WeakSet[NevergradBackend] = weakref.WeakSet()
_HOOKED: list[bool] = []


def _stop_threads_at_exit(adapter: NevergradBackend) -> None:
    """Close ``adapter`` when the interpreter exits, before Python joins the (non-daemon) threads: Nevergrad's
    recast threads would otherwise block the exit of any process that still holds a study."""
    _LIVE.add(adapter)
    if not _HOOKED:
        _HOOKED.append(True)
        # Run by threading._shutdown before it joins non-daemon threads (atexit handlers run only after).
        register = getattr(threading, "_register_atexit", None)
        if register is None:  # not CPython >= 3.9: the best left is atexit (which runs after the join)
            import atexit

            register = atexit.register
        register(lambda: [a.close() for a in list(_LIVE)])


def _messaging_threads(optimizer: Any, seen: set[int] | None = None) -> Iterator[Any]:
    """The ``MessagingThread`` of every recast optimizer inside ``optimizer`` (NGOpt, Portfolio and chains hold
    sub-optimizers in attributes or lists)."""
    from nevergrad.optimization.base import Optimizer

    seen = set() if seen is None else seen
    if not isinstance(optimizer, Optimizer) or id(optimizer) in seen:
        return
    seen.add(id(optimizer))
    thread = getattr(optimizer, "_messaging_thread", None)
    if thread is not None:
        yield thread
    for value in vars(optimizer).values():
        for inner in value if isinstance(value, (list, tuple)) else [value]:
            yield from _messaging_threads(inner, seen)


def _dimension(space: Any) -> int:
    """The dimension of the native ``ng.p.Dict``: one per number, one weight per option of a ``ng.p.Choice``."""
    return sum(len(p.dim.options) if isinstance(p.dim, (Choice, Conditional)) else 1 for p in space.params)


def _first(param: Param) -> Any:
    grid = param.dim.grid()
    return grid[0] if grid else param.dim.low


def _codec(param: Param) -> Codec:
    """How one parameter becomes a Nevergrad parameter (``ng.p``), and how its value decodes."""
    dim = param.dim
    if isinstance(dim, Uniform) and dim.step is None:
        return Codec(NativeCall("ng.p.Scalar", (), {"lower": dim.low, "upper": dim.high}), clamp(dim.low, dim.high),
                     "values clamped into [low, high]")
    if isinstance(dim, LogUniform):
        return Codec(NativeCall("ng.p.Log", (), {"lower": dim.low, "upper": dim.high}), clamp(dim.low, dim.high),
                     "Nevergrad optimizes log(value); values clamped into [low, high] (exp(log(low)) can round "
                     "just outside)")
    if isinstance(dim, Integer) and dim.log:
        bounds = {"lower": dim.low - 0.5, "upper": dim.high + 0.5}
        return Codec(NativeCall("ng.p.Log", (), bounds, shown="{}" + _INTEGER),
                     rounded(dim.low, dim.high), encode=int, note=
                     "log scale over [low-0.5, high+0.5], rounded by Nevergrad: each integer gets the log-scale mass "
                     "of [k-0.5, k+0.5], ends included with full weight; clamped to [low, high]")
    if isinstance(dim, (Uniform, Integer)):
        # Stepped: the grid index k.  Plain ints: the int itself.  Half-step margins: the ends keep a full share.
        stepped = isinstance(dim, Uniform) or dim.step != 1
        n, offset = dim.n_steps, (0 if stepped else dim.low)
        step = f"{dim.step!r} * " if not (isinstance(dim, Integer) and dim.step == 1) else ""
        shown = f"{dim.low!r} + {step}{{}}" + _INTEGER if stepped else "{}" + _INTEGER
        index = index_of(dim)
        note = ("the grid index k, rounded by Nevergrad; unitune returns low + k*step (decimal-clean), every grid "
                "value equally likely" if stepped else
                "rounded by Nevergrad over [low-0.5, high+0.5], so both end values get a full share")
        return Codec(NativeCall("ng.p.Scalar", (), {"lower": offset - 0.5, "upper": offset + n + 0.5}, shown=shown),
                     grid_index(dim.at, n, offset), note, encode=lambda value: int(index(value) + offset))
    assert isinstance(dim, (Choice, Conditional))
    options = dim.options
    if isinstance(dim, Conditional):
        return Codec(NativeCall("ng.p.Choice", (list(options),), shown="{} + every branch's parameters"),
                     lambda x: options[options.index(x)], note="flattened to the union of the branches")
    return Codec(NativeCall("ng.p.Choice", (list(range(len(options))),), shown=f"{{}} over {list(options)!r}"),
                 lambda x: options[int(x)], encode=dim.index, note=
                 "Nevergrad chooses an option index (softmax over learnt weights); the objective gets the option "
                 "object itself (None, tuples, mixed types kept)")
