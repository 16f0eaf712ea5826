"""Hyperopt adapter: ``fmin``'s own loop, replayed one trial at a time as ask/tell.

The space is built once as a native hyperopt expression from ``Space.root`` (a conditional choice
becomes ``hp.choice`` over its branches, every label is the parameter's path), so TPE sees the tree.
Each ``ask`` does exactly what ``FMinIter.run`` does for one trial with ``max_queue_len=1``: reserve a
trial id, draw the algorithm's seed with ``rstate.integers(2**31 - 1)`` from
``np.random.default_rng(seed)``, call ``algo(new_ids, domain, trials, seed)`` and insert the new
document into ``Trials``.  ``tell`` writes the result into that document as ``serial_evaluate`` does.
Same seed + flat space therefore gives the very sequence of native
``fmin(fn, space, algo, max_evals, rstate=np.random.default_rng(seed), trials=Trials())``.

Not offered: ``atpe`` (hyperopt's adaptive TPE draws from the global ``random``/``numpy.random``
state, so no seed makes it reproducible, and it needs lightgbm); asking for it raises
``UnknownAlgorithmError`` before the run, listing tpe, random and anneal.  ``points_to_evaluate``
is not an algorithm option (and ``fmin`` ignores it whenever ``trials=`` is passed), so it is
rejected as an unknown option.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, ClassVar

from ..pruning import SCHEDULERS
from ..records import TrialRecord
from ..space import Branching, Choice, Conditional, Const, Group, Integer, Leaf, LogUniform, Node, Param, Uniform
from .base import AskTellBackend, RunSpec, Suggestion, Translation
from .codec import Codec, NativeCall, Shown, clamp, grid_index, index_of, log, rounded

# algorithm name -> hyperopt module whose ``suggest`` is what fmin's ``algo=`` takes.
_ALGORITHMS = {"tpe": "tpe", "random": "rand", "anneal": "anneal"}

Decoder = Callable[[Any], Any]


class HyperoptBackend(AskTellBackend):
    """Hyperopt's TPE, random search and simulated annealing, seeded exactly like ``fmin``."""

    name = "hyperopt"
    extra = "hyperopt"
    requires = ("hyperopt",)
    algorithms: ClassVar[dict[str, str]] = {
        "tpe": "Tree-structured Parzen Estimator (hyperopt.tpe.suggest)",
        "random": "random search (hyperopt.rand.suggest)",
        "anneal": "simulated annealing around the best trials (hyperopt.anneal.suggest)",
    }
    default_algorithm = "tpe"
    schedulers: ClassVar[dict[str, str]] = SCHEDULERS  # unitune's own: hyperopt has no early stopping
    features = frozenset({"conditional", "maximize", "pruning", "ask_tell", "n_jobs"})
    seeded_algorithms = frozenset(_ALGORITHMS)

    # -- checks and translation ----------------------------------------------------------------------
    @classmethod
    def option_names(cls, algorithm: str) -> frozenset[str] | None:
        import hyperopt.anneal
        import hyperopt.tpe

        if algorithm == "tpe":
            names = inspect.signature(hyperopt.tpe.suggest).parameters
        elif algorithm == "anneal":  # anneal.suggest forwards **kwargs to AnnealingAlgo
            names = inspect.signature(hyperopt.anneal.AnnealingAlgo.__init__).parameters
        else:
            return frozenset()
        # fmin supplies these; tpe's `verbose` only switches its INFO logs and follows unitune's verbose=.
        return frozenset(names) - {"self", "new_ids", "domain", "trials", "seed", "verbose"}

    @classmethod
    def translate(cls, param: Param, algorithm: str) -> Translation:
        return _codec(param).translation

    # -- running --------------------------------------------------------------------------------------
    def __init__(self, spec: RunSpec) -> None:
        super().__init__(spec)
        import importlib

        import numpy as np
        from hyperopt import base

        self._base = base
        module = importlib.import_module(f"hyperopt.{_ALGORITHMS[spec.algorithm]}")
        options = dict(spec.options)
        if spec.algorithm == "tpe":
            options["verbose"] = spec.verbose  # tpe.suggest logs two INFO lines per trial by default
        self._algo = functools.partial(module.suggest, **options) if options else module.suggest
        self._decoders: dict[str, Decoder] = {}  # path -> native value -> unitune value
        self._codecs = {p.path: _codec(p) for p in self.space.params}
        expr = self._native(self.space.root)
        self.domain = base.Domain(_not_called, expr)
        self.trials = base.Trials()
        # fmin's rstate: one draw per suggestion.  seed=None -> a fresh nondeterministic generator
        # (unitune's seed is the only seed: HYPEROPT_FMIN_SEED is not read).
        self._rstate = np.random.default_rng(spec.seed)
        self._sign = 1.0 if self.minimizing else -1.0  # hyperopt only minimizes

    # -- the native space ------------------------------------------------------------------------------
    def _native(self, node: Node) -> Any:
        from hyperopt import hp

        if isinstance(node, Leaf):
            return self._native_param(node.param)
        if isinstance(node, Group):
            # Constants are left out: they take no draws, and Space.build puts them back.
            return {key: self._native(child) for key, child in node.children.items() if not isinstance(child, Const)}
        if isinstance(node, Branching):
            param = node.param
            self._decoders[param.path] = self._codecs[param.path].decode
            branches = [{} if isinstance(b, Const) else self._native(b) for b in node.branches.values()]
            return hp.choice(param.path, branches)
        raise TypeError(f"unexpected node {node!r}")  # Const is filtered by the callers

    def _native_param(self, param: Param) -> Any:
        from hyperopt import hp

        codec = self._codecs[param.path]
        self._decoders[param.path] = codec.decode
        return codec.call.make(hp)

    def _decode_doc(self, doc: dict[str, Any]) -> dict[str, Any]:
        # misc["vals"] holds [value] for an active label and [] for an inactive one (Trials.vals, by
        # contrast, lists only the active values, so it cannot be lined up with trial ids).  The vals are
        # the document's own, so trials asked concurrently never decode each other's values.
        vals, decoders = doc["misc"]["vals"], self._decoders
        return self.space.sample(lambda param: decoders[param.path](vals[param.path][0]))

    # -- ask / tell --------------------------------------------------------------------------------------
    def ask(self) -> Suggestion | None:
        # Exactly FMinIter's step for one trial: a new trial id, one rstate draw, one suggestion.  Several
        # pending trials (ask_batch) are several such steps: each is a new id that is RUNNING in Trials,
        # the pending mechanism hyperopt has.  (One tpe.suggest call for several ids, as fmin makes with
        # max_queue_len > 1, returns copies of a single point, so unitune does not make it.)
        base, trials = self._base, self.trials
        new_ids = trials.new_trial_ids(1)
        # fmin refreshes here too; Trials is already current (refreshed after every insert and tell).
        docs = self._algo(new_ids, self.domain, trials, self._rstate.integers(2**31 - 1))
        if not docs:
            return None
        trials.insert_trial_docs(docs)
        doc = trials._dynamic_trials[-1]  # the inserted document (insert may copy it)
        doc["state"] = base.JOB_STATE_RUNNING  # as serial_evaluate marks it: a pending trial
        trials.refresh()
        return Suggestion(number=-1, params=self._decode_doc(doc), handle=doc)

    def discard(self, suggestion: Suggestion) -> None:
        # The document leaves Trials, as if never suggested (its tid stays used; tids need not be dense).
        trials = self.trials
        trials._dynamic_trials[:] = [d for d in trials._dynamic_trials if d is not suggestion.handle]
        trials.refresh()

    def ask_at(self, params: dict[str, Any]) -> Suggestion:
        # A pending document at these params, as a suggestion of the algorithm would be.
        base, trials = self._base, self.trials
        (tid,) = trials.new_trial_ids(1)
        trials.insert_trial_docs([self._doc(tid, params, {"status": base.STATUS_NEW}, base.JOB_STATE_RUNNING)])
        trials.refresh()
        doc = trials._dynamic_trials[-1]
        return Suggestion(number=-1, params=self._decode_doc(doc), handle=doc)

    def _doc(self, tid: int, params: dict[str, Any], result: dict[str, Any], state: int) -> dict[str, Any]:
        """A trial document at flat ``params`` (active ones; the others get empty idxs/vals, as hyperopt's)."""
        labels, codecs = [p.path for p in self.space.params], self._codecs
        idxs: dict[str, list[Any]] = {label: [] for label in labels}
        vals: dict[str, list[Any]] = {label: [] for label in labels}
        for path, value in params.items():
            idxs[path], vals[path] = [tid], [codecs[path].encode(value)]
        misc = {"tid": tid, "cmd": self.domain.cmd, "workdir": self.domain.workdir, "idxs": idxs, "vals": vals}
        (doc,) = self.trials.new_trial_docs([tid], [None], [result], [misc])
        doc["state"] = state
        return doc

    def replay(self, records: list[TrialRecord]) -> int:
        # Finished trial documents inserted as JOB_STATE_DONE, exactly as fmin leaves evaluated trials
        # (generate_trials_to_calculate would evaluate the objective again).
        base, trials = self._base, self.trials
        tids = trials.new_trial_ids(len(records))
        docs = []
        for tid, record in zip(tids, records, strict=True):
            result = ({"status": base.STATUS_OK, "loss": self._sign * record.value} if record.state == "complete"
                      and not math.isnan(record.value) else {"status": base.STATUS_FAIL})
            docs.append(self._doc(tid, record.params, result, base.JOB_STATE_DONE))
        trials.insert_trial_docs(docs)
        trials.refresh()
        return len(docs)

    def history(self) -> list[tuple[dict[str, Any], float | None]]:
        done = [d for d in self.trials._dynamic_trials if d["state"] == self._base.JOB_STATE_DONE]
        return [(self._decode_doc(d), d["result"].get("loss")) for d in done]

    def tell(self, suggestion: Suggestion, record: TrialRecord) -> None:
        base, doc = self._base, suggestion.handle
        if record.state == "complete":
            # +-inf is told as is: hyperopt only sorts losses (TPE's split, anneal's ranking) and itself
            # ranks failed/running trials as loss inf, so inf needs no special case.
            doc["result"] = {"status": base.STATUS_OK, "loss": self._sign * record.value}
        else:
            # Failed (exception, NaN, timeout, Ctrl-C) and pruned trials: STATUS_FAIL with no loss, never a
            # NaN.  The document stays in Trials (unlike fmin's catch_eval_exceptions, which drops it), so
            # TPE counts it toward n_startup_jobs and ranks it as loss inf, in its "bad" group (anneal
            # likewise).  A pruned trial's last value is an intermediate one, not comparable with final
            # losses, and the scheduler judged the trial bad: it joins the bad group too.
            doc["result"] = {"status": base.STATUS_FAIL}
        doc["state"] = base.JOB_STATE_DONE
        self.trials.refresh()


def _codec(param: Param) -> Codec:
    """How one parameter becomes a hyperopt expression, and how hyperopt's value decodes (labels are paths)."""
    dim, label = param.dim, param.path
    if isinstance(dim, Uniform) and dim.step is None:
        return Codec(NativeCall("hp.uniform", (label, dim.low, dim.high)), clamp(dim.low, dim.high))
    if isinstance(dim, Uniform):
        # The grid index k, not the value: hp.quniform(label, low, high, step) rounds round(x/step)*step
        # around 0 (off-grid when low is not a multiple of step) and gives both ends half weight.
        n = dim.n_steps
        return Codec(NativeCall("hp.quniform", (label, -0.5, n + 0.5, 1), shown=f"{dim.low!r} + {dim.step!r} * {{}}"),
                     grid_index(dim.at, n), encode=_float(index_of(dim)), note=
                     "hyperopt samples the grid index k in 0..n (each equally likely, ordered for TPE); unitune "
                     "returns low + k*step in decimal. hp.quniform on the value would round around 0, not from "
                     "low, and give both ends half weight")
    if isinstance(dim, LogUniform):
        # hp.loguniform takes log-space bounds; exp(log(low)) may round just below low, hence the clamp.
        return Codec(NativeCall("hp.loguniform", (label, log(dim.low), log(dim.high))), clamp(dim.low, dim.high),
                     "hyperopt takes log-space bounds; values are clamped into [low, high] "
                     "(exp(log(low)) can round just outside)")
    if isinstance(dim, Integer) and dim.log:
        # No log-int in hyperopt: qloguniform over [low-0.5, high+0.5] gives every integer its log-scale share;
        # it can round to 0 (or past high), so the clamp keeps that from the objective.
        return Codec(NativeCall("hp.qloguniform", (label, log(dim.low - 0.5), log(dim.high + 0.5), 1), shown="int({})"),
                     rounded(dim.low, dim.high), encode=float, note=
                     "hyperopt has no log-int: each integer k gets the log-scale mass of [k-0.5, k+0.5] (as "
                     "Optuna's log=True), ends included with full weight; clamped to [low, high] so the 0 that "
                     "qloguniform can round to never reaches the objective")
    if isinstance(dim, Integer):
        # The grid index k with half-step margins: hp.uniformint(low, high) gives the end values half weight.
        n, step = dim.n_steps, f"{dim.step} * " if dim.step != 1 else ""
        return Codec(NativeCall("hp.quniform", (label, -0.5, n + 0.5, 1), shown=f"{dim.low} + {step}int({{}})"),
                     grid_index(dim.at, n), encode=_float(index_of(dim)), note=
                     "hyperopt samples the grid index k (each equally likely, ordered for TPE); hp.uniformint "
                     "would give the end values half weight, hp.randint would be unordered for TPE")
    if isinstance(dim, Conditional):
        # Built by HyperoptBackend._native over the branches' own expressions; reported as the branch index.
        branches = [Shown(None, f"<branch {b!r}>") for b in dim.options]
        return Codec(NativeCall("hp.choice", (label, branches)), dim.options.__getitem__, encode=dim.index, note=
                     "hyperopt reports the branch index; unitune returns the label. Branch params keep their "
                     "paths as labels, so TPE models the tree natively")
    assert isinstance(dim, Choice)
    # hp.choice reports the index; map it back to the user's own object (None, bools, tuples kept).
    indices = list(range(len(dim.options)))
    return Codec(NativeCall("hp.choice", (label, indices), shown=f"{{}} over {list(dim.options)!r}"),
                 dim.options.__getitem__, encode=dim.index,
                 note="hyperopt reports the option's index; unitune returns the option object itself")


def _float(index: Any) -> Any:
    return lambda value: float(index(value))


def _not_called(params: Any) -> None:
    raise RuntimeError("unitune evaluates trials itself; hyperopt's Domain.fn is never called")
