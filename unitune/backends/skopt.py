"""scikit-optimize adapter: skopt's ``Optimizer`` built exactly as ``gp_minimize`` & co. build it, driven by ask/tell.

What skopt sees (``ut.explain(space, backend="skopt")`` lists it per parameter):

* every parameter is one skopt dimension named by its path; a conditional space is flattened to the
  union of its branches, so the surrogate always sees every dimension.  Dimensions of an inactive
  branch are still proposed by skopt, but they are dropped before the objective is called, and the
  surrogate learns that they made no difference — which is why such parameters are "approximated";
* stepped floats and stepped ints are the grid index ``k`` (``Integer(0, n)``), decoded to
  ``low + k*step`` in decimal; log ints are ``Real(low - 0.5, high + 0.5, "log-uniform")`` rounded,
  so every integer keeps its full log-scale share (skopt's own log ``Integer`` rounds a draw on
  ``[log low, log high]`` and gives both ends half weight); under the GP, which normalizes integer
  dimensions to ``[0, 1]`` and rounds (ends at half weight again), ints are
  ``Real(low - 0.5, high + 0.5)`` rounded;
* categorical values are index categories, so any object (None, tuples, bools) is allowed and the
  objective gets the very object back — never ``np.str_``/``np.bool_``.

What skopt is told: minimized values (maximize negates).  A single NaN or inf told to skopt breaks
the surrogate for good, so failed, NaN, inf and pruned trials are told the worst finite value told
so far; before any finite value exists they are held back and told as soon as one arrives.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, ClassVar

from ..exceptions import InvalidRunError
from ..pruning import SCHEDULERS
from ..records import TrialRecord
from ..space import Choice, Conditional, Integer, LogUniform, Param, Uniform
from .base import AskTellBackend, RunSpec, Suggestion, Translation
from .codec import Codec, NativeCall, clamp, grid_index, index_of, rounded

_ACQ = {"EI": "EI", "PI": "PI", "LCB": "LCB", "hedge": "gp_hedge"}
_GENERATORS = ("random", "sobol", "halton", "hammersly", "lhs", "grid")
_COMMON_OPTIONS = {"acq", "n_initial_points", "initial_point_generator", "xi", "kappa", "n_points"}
_OPTIONS = {
    "gp": _COMMON_OPTIONS | {"acq_optimizer", "n_restarts_optimizer", "noise"},
    "forest": _COMMON_OPTIONS | {"base_estimator"},
    "gbrt": _COMMON_OPTIONS,
    "random": {"initial_point_generator"},
}
_INT32_MAX = 2**31 - 1

Decoder = Callable[[Any], Any]


class SkoptBackend(AskTellBackend):
    """scikit-optimize: GP (expected improvement by default), random/extra trees, GBRT and random search."""

    name = "skopt"
    extra = "skopt"
    requires = ("skopt", "sklearn")
    algorithms: ClassVar[dict[str, str]] = {
        "gp": "Gaussian-process Bayesian optimization, expected improvement by default (gp_minimize)",
        "forest": "random forest / extra trees surrogate (forest_minimize; base_estimator='ET' or 'RF')",
        "gbrt": "gradient-boosted quantile trees surrogate (gbrt_minimize)",
        "random": "random search (dummy_minimize)",
    }
    default_algorithm = "gp"
    schedulers: ClassVar[dict[str, str]] = SCHEDULERS  # unitune's own: skopt has no early stopping
    features = frozenset({"conditional", "maximize", "pruning", "ask_tell", "n_jobs"})
    seeded_algorithms = frozenset({"gp", "forest", "gbrt", "random"})

    # -- checks and translation ----------------------------------------------------------------------
    @classmethod
    def option_names(cls, algorithm: str) -> frozenset[str]:
        return frozenset(_OPTIONS[algorithm])

    @classmethod
    def check(cls, spec: RunSpec) -> None:
        options = spec.options

        def bad(name: str, allowed: Any) -> InvalidRunError:
            return InvalidRunError(f"backend 'skopt' option {name}={options[name]!r} is not one of {allowed}")

        if "acq" in options and options["acq"] not in _ACQ:
            raise bad("acq", list(_ACQ))
        if options.get("base_estimator", "ET") not in ("ET", "RF"):
            raise bad("base_estimator", ["ET", "RF"])
        if options.get("initial_point_generator", "random") not in _GENERATORS:
            raise bad("initial_point_generator", list(_GENERATORS))
        if options.get("acq_optimizer", "auto") not in ("auto", "lbfgs", "sampling"):
            raise bad("acq_optimizer", ["auto", "lbfgs", "sampling"])
        n_initial = options.get("n_initial_points", 10)
        if not isinstance(n_initial, int) or isinstance(n_initial, bool) or n_initial < 1:
            raise bad("n_initial_points", "ints >= 1")

    @classmethod
    def translate(cls, param: Param, algorithm: str) -> Translation:
        translation = _codec(param, algorithm).translation
        native, note = translation.native, translation.note
        if param.conditions:
            return Translation(native, "approximated",
                               "conditional space flattened: skopt proposes this dimension in every trial; "
                               "it reaches the objective only when its branch is active, and the surrogate "
                               "models it as having no effect otherwise" + (f". {note}" if note else ""))
        return Translation(native, "exact", note)

    # -- running --------------------------------------------------------------------------------------
    def __init__(self, spec: RunSpec) -> None:
        super().__init__(spec)
        from sklearn.utils import check_random_state

        from unitune.backends.skopt_fast import speed_up_candidates

        self._decoders: list[Decoder] = []
        self._codecs = [_codec(p, spec.algorithm) for p in self.space.params]
        dimensions = [self._dimension(p) for p in self.space.params]
        self._paths = [p.path for p in self.space.params]
        self._sign = 1.0 if self.minimizing else -1.0  # skopt only minimizes
        self._worst: float | None = None  # worst finite y told so far
        self._held: list[list[Any]] = []  # points of failed trials waiting for a first finite value
        self._pending: dict[int, list[Any]] = {}  # id(suggestion) -> its point, for trials asked and not told
        with _sklearn_compatible_skopt():
            # The constructors below mirror gp_minimize / forest_minimize / gbrt_minimize / dummy_minimize.
            self.optimizer = speed_up_candidates(self._build(dimensions, check_random_state(spec.seed)))

    def _build(self, dimensions: list[Any], rng: Any) -> Any:
        from skopt import Optimizer
        from skopt.utils import cook_estimator, normalize_dimensions

        from unitune.backends.skopt_fast import speed_up_gp

        spec, options = self.spec, self.spec.options
        common = {
            "n_initial_points": options.get("n_initial_points", 10),
            "initial_point_generator": options.get("initial_point_generator", "random"),
            "acq_func": _ACQ[options.get("acq", "EI")],  # EI: unitune's default, where gp_minimize's is gp_hedge
            "acq_func_kwargs": {"xi": options.get("xi", 0.01), "kappa": options.get("kappa", 1.96)},
            "n_jobs": 1,
        }
        if spec.algorithm == "gp":
            space = normalize_dimensions(dimensions)
            estimator = cook_estimator("GP", space=space, random_state=rng.randint(0, _INT32_MAX),
                                       noise=options.get("noise", "gaussian"))
            speed_up_gp(estimator)  # same kernels, metadata cached per class: see skopt_fast
            # "auto", as gp_minimize: L-BFGS on the acquisition, or sampling when every dimension is categorical
            # (a Hamming-kernel GP has no gradient; "lbfgs" there is skopt's ValueError before any trial)
            return Optimizer(space, estimator, random_state=rng, acq_optimizer=options.get("acq_optimizer", "auto"),
                             acq_optimizer_kwargs={"n_points": options.get("n_points", 10000),
                                                   "n_restarts_optimizer": options.get("n_restarts_optimizer", 5),
                                                   "n_jobs": 1}, **common)
        sampling = {"acq_optimizer": "sampling", "acq_optimizer_kwargs": {
            "n_points": options.get("n_points", 10000), "n_restarts_optimizer": 5, "n_jobs": 1}}
        if spec.algorithm == "forest":
            # forest_minimize hands its seed straight to Optimizer, which cooks the trees with its own rng.
            return Optimizer(dimensions, options.get("base_estimator", "ET"), random_state=spec.seed,
                             **sampling, **common)
        if spec.algorithm == "gbrt":
            # gbrt_minimize: the estimator gets a RandomState, the Optimizer the raw seed.
            estimator = _quantile_gbrt()(base_estimator=cook_estimator("GBRT").base_estimator,
                                         random_state=rng, n_jobs=1)
            return Optimizer(dimensions, estimator, random_state=spec.seed, **sampling, **common)
        # dummy_minimize: every point is an initial (random) point.
        n_initial = spec.n_trials if spec.n_trials is not None else 2**31 - 1
        return Optimizer(dimensions, "dummy", random_state=spec.seed, n_initial_points=n_initial,
                         initial_point_generator=options.get("initial_point_generator", "random"),
                         acq_optimizer="sampling", n_jobs=1)

    def _dimension(self, param: Param) -> Any:
        import skopt.space

        codec = _codec(param, self.spec.algorithm)
        self._decoders.append(codec.decode)
        return codec.call.make(skopt.space)

    @classmethod
    @contextmanager
    def calls(cls, spec: RunSpec) -> Iterator[None]:
        with warnings.catch_warnings():
            if not spec.verbose:  # ConvergenceWarning from the GP, "evaluated at this point before", …
                warnings.simplefilter("ignore")
            yield

    def _suggestion(self, x: list[Any]) -> Suggestion:
        x = list(x)
        suggestion = Suggestion(number=-1, params=self._decode(x), handle=x)
        self._pending[id(suggestion)] = x
        return suggestion

    def _decode(self, x: list[Any]) -> dict[str, Any]:
        values = dict(zip(self._paths, (decode(v) for decode, v in zip(self._decoders, x, strict=True)), strict=True))
        # Flattened conditional space: keep only what the active branches use.
        return {p.path: values[p.path] for p in self.space.active_params(values)} if self.space.is_conditional \
            else values

    def ask(self) -> Suggestion | None:
        if not self._pending:
            return self._suggestion(self.optimizer.ask())
        # Trials are pending: skopt's own ask(n_points) strategy for them — a copy of the optimizer is told
        # each pending point with the constant lie min(y) ("cl_min"), then asked (the model-based
        # Optimizer.ask() would otherwise return the same point until the next tell).
        return self._suggestion(self._liar_copy().ask())

    def _liar_copy(self) -> Any:
        """What ``Optimizer.copy()`` + telling the pending points the lie min(y) builds, with one model fit
        instead of two (copy() refits on the told points, the lie tell refits again)."""
        from skopt import Optimizer

        from unitune.backends.skopt_fast import speed_up_candidates

        o = self.optimizer
        with _sklearn_compatible_skopt():
            opt = Optimizer(dimensions=o.space.dimensions, base_estimator=o.base_estimator_,
                            n_initial_points=o.n_initial_points_, initial_point_generator=o._initial_point_generator,
                            acq_func=o.acq_func, acq_optimizer=o.acq_optimizer, acq_func_kwargs=o.acq_func_kwargs,
                            acq_optimizer_kwargs=o.acq_optimizer_kwargs, space_constraint=o.space.constraint,
                            random_state=o.rng.randint(0, _INT32_MAX))
        speed_up_candidates(opt)
        opt._initial_samples = o._initial_samples
        if hasattr(o, "gains_"):
            opt.gains_ = o.gains_.copy()
        pending = list(self._pending.values())
        lie = min(o.yi) if o.yi else 0.0
        opt._tell(o.Xi + pending, o.yi + [lie] * len(pending))
        return opt

    def ask_batch(self, n: int) -> list[Suggestion]:
        if self._pending or n == 1:
            return super().ask_batch(n)
        with _sklearn_compatible_skopt():  # ask(n_points) builds Optimizer.copy(), which the repair must cover
            points = self.optimizer.ask(n_points=n, strategy="cl_min")
        return [self._suggestion(x) for x in points]

    def discard(self, suggestion: Suggestion) -> None:
        self._pending.pop(id(suggestion), None)  # never told: the optimizer only ever saw it as a lie

    def ask_at(self, params: dict[str, Any]) -> Suggestion:
        return self._suggestion(self._point(params))

    def _point(self, params: dict[str, Any]) -> list[Any]:
        """The skopt point of flat params; a conditional space's inactive dimensions get their first value
        (the surrogate sees a constant there, as it does for inactive dimensions of proposed points)."""
        return [codec.encode(params[p.path]) if p.path in params else
                codec.encode(p.dim.grid()[0] if p.dim.grid() else p.dim.low)
                for codec, p in zip(self._codecs, self.space.params, strict=True)]

    def history(self) -> list[tuple[dict[str, Any], float | None]]:
        return [(self._decode(list(x)), float(y)) for x, y in zip(self.optimizer.Xi, self.optimizer.yi, strict=True)]

    def replay(self, records: list[TrialRecord]) -> int:
        # One tell of every point (one surrogate fit), with the same rule for what cannot be told raw.
        points, values, failed = [], [], []
        for record in records:
            x = self._point(record.params)
            if record.ok:
                points.append(x)
                values.append(self._sign * record.value)
            else:
                failed.append(x)
        if values:
            self._worst = max([*values, *([] if self._worst is None else [self._worst])])
        if self._worst is None:
            self._held.extend(failed)
        else:
            held, self._held = self._held + failed, []
            points, values = points + held, values + [self._worst] * len(held)
        if points:
            self.optimizer.tell(points, values)
        return len(records)

    def tell(self, suggestion: Suggestion, record: TrialRecord) -> None:
        x = suggestion.handle
        self._pending.pop(id(suggestion), None)
        # With trials still pending the next ask fits its own model on the liar copy, so this tell need not
        # fit one (skopt's tell(fit=False)); one trial at a time, every tell fits, as gp_minimize's do.
        fit = not self._pending
        if record.ok:
            y = self._sign * record.value
            self._worst = y if self._worst is None else max(self._worst, y)
            held, self._held = self._held, []
            if held:  # failures before the first finite value, told now as that (worst) value
                self.optimizer.tell(held, [self._worst] * len(held), fit=fit)
            self.optimizer.tell(x, y, fit=fit)
        elif self._worst is None:
            self._held.append(x)
        else:
            # NaN/inf/failed/pruned: never told raw (one NaN breaks the GP); the worst finite value so far.
            self.optimizer.tell(x, self._worst, fit=fit)


def _plain_strings(options: tuple[Any, ...]) -> bool:
    return all(type(o) is str for o in options)


def _codec(param: Param, algorithm: str) -> Codec:
    """How one parameter becomes a skopt dimension (``skopt.space``), and how skopt's value decodes."""
    dim, name, gp = param.dim, param.path, algorithm == "gp"
    if isinstance(dim, Uniform) and dim.step is None:
        return Codec(NativeCall("Real", (dim.low, dim.high), {"name": name}), clamp(dim.low, dim.high))
    if isinstance(dim, LogUniform):
        return Codec(NativeCall("Real", (dim.low, dim.high), {"prior": "log-uniform", "name": name}),
                     clamp(dim.low, dim.high))
    if isinstance(dim, Integer) and dim.log:
        # skopt's log Integer halves the ends; a rounded log-uniform Real over [low-0.5, high+0.5] does not.
        return Codec(NativeCall("Real", (dim.low - 0.5, dim.high + 0.5), {"prior": "log-uniform", "name": name},
                                shown="round({})"), rounded(dim.low, dim.high), encode=float, note=
                     "skopt's log-uniform Integer gives both ends half weight; a rounded log-uniform Real over "
                     "[low-0.5, high+0.5] gives every integer its full log-scale share")
    if isinstance(dim, (Uniform, Integer)):
        # Grid index k (steps) or the int itself.
        stepped = isinstance(dim, Uniform) or dim.step != 1
        n = dim.n_steps
        offset = 0 if stepped else dim.low
        notes = ["the grid index k; unitune returns low + k*step (decimal-clean)"] if stepped else []
        if gp:
            # The GP normalizes Integer dims to [0, 1] and rounds, halving the ends: use a rounded Real.
            notes.append("the GP normalizes an Integer to [0, 1] and rounds, halving the end values' weight; "
                         "a rounded Real over [lo-0.5, hi+0.5] keeps every value equally likely")
            call = NativeCall("Real", (offset - 0.5, offset + n + 0.5), {"name": name}, shown="round({})")
        else:
            call = NativeCall("Integer", (offset, offset + n), {"name": name})
        index, native = index_of(dim), float if gp else int
        return Codec(call, grid_index(dim.at, n, offset), "; ".join(notes),
                     encode=lambda value: native(index(value) + offset))
    assert isinstance(dim, (Choice, Conditional))
    options = dim.options
    if isinstance(dim, Conditional) or _plain_strings(options):
        lookup = {option: option for option in options}
        shown = "{} + every branch's dimensions" if isinstance(dim, Conditional) else "{}"
        return Codec(NativeCall("Categorical", (list(options),), {"name": name}, shown=shown),
                     lambda x: lookup[str(x)],  # str(): skopt hands back np.str_
                     "flattened to the union of the branches" if isinstance(dim, Conditional) else "")
    # Index categories: any object works, and the objective gets the very object back.
    return Codec(NativeCall("Categorical", ([str(i) for i in range(len(options))],), {"name": name}),
                 lambda x: options[int(x)], encode=lambda value: str(dim.index(value)), note=
                 "index categories: skopt cannot hold tuples/None/mixed types; the objective gets the objects")


@contextmanager
def _sklearn_compatible_skopt() -> Iterator[None]:
    """Let skopt 0.10's ``Optimizer`` accept its own estimators under scikit-learn >= 1.6.

    ``Optimizer.__init__`` calls ``is_regressor(base_estimator)`` before checking for None (the
    "dummy" estimator of random search), and scikit-learn >= 1.6 raises on None; and skopt's
    ``GradientBoostingQuantileRegressor`` lists ``BaseEstimator`` before ``RegressorMixin``, so the
    new tags say it is not a regressor.  For the duration of the constructor only, skopt's module
    sees an ``is_regressor`` that answers None -> False and honours ``RegressorMixin``.  The installed
    library is not modified.
    """
    import skopt.optimizer.optimizer as module
    from sklearn.base import RegressorMixin, is_regressor

    def compatible(estimator: Any) -> bool:
        if estimator is None:
            return False
        return isinstance(estimator, RegressorMixin) or is_regressor(estimator)

    original = module.is_regressor
    module.is_regressor = compatible
    try:
        yield
    finally:
        module.is_regressor = original


@cache
def _quantile_gbrt() -> type:
    """skopt's GBRT surrogate, repaired for scikit-learn >= 1.6 and NumPy >= 2.4 without touching the library.

    skopt 0.10 lists ``BaseEstimator`` before ``RegressorMixin`` (the new tags then say "not a
    regressor") and its ``predict(return_std=True)`` calls ``np.in1d``, removed in NumPy 2.4.  Same
    parameters, same fitted models, same predictions.
    """
    import numpy as np
    from sklearn.utils import RegressorTags
    from skopt.learning import GradientBoostingQuantileRegressor

    class QuantileGBRT(GradientBoostingQuantileRegressor):
        def __sklearn_tags__(self) -> Any:
            tags = super().__sklearn_tags__()
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
            return tags

        def predict(self, X: Any, return_std: bool = False, return_quantiles: bool = False) -> Any:  # noqa: N803
            if not return_std or return_quantiles:
                return super().predict(X, return_std=False, return_quantiles=return_quantiles)
            if not np.isin([0.16, 0.5, 0.84], self.quantiles).all():
                raise ValueError("return_std needs the quantiles 0.16, 0.5 and 0.84")
            low, mean, high = (self.regressors_[self.quantiles.index(q)].predict(X) for q in (0.16, 0.5, 0.84))
            return mean, (high - low) / 2.0

    QuantileGBRT.__name__ = QuantileGBRT.__qualname__ = "GradientBoostingQuantileRegressor"
    return QuantileGBRT
