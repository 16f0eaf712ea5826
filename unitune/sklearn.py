"""``SearchCV``: a scikit-learn search estimator driven by any unitune backend.

It is a ``sklearn.model_selection._search.BaseSearchCV`` like ``RandomizedSearchCV``: scikit-learn does
the cross-validation, scoring, ``cv_results_``, ``best_*`` and ``refit``; unitune only chooses the
candidates.  Each trial asks the backend for one candidate and hands it to scikit-learn's
``evaluate_candidates([candidate])``; the trial's value is the candidate's mean test score (maximized).

The space uses scikit-learn's parameter names::

    SearchCV(pipe, {"svc__C": ut.loguniform(1e-2, 1e2), "svc__kernel": ut.choice(["rbf", "linear"])})

Nested dicts join with ``__`` (``{"svc": {"C": ...}}`` is ``svc__C``); constants are set as they are.
A conditional choice ``{"clf": ut.choice({"svm": {...}, "forest": {...}})}`` picks an estimator for a
pipeline step when ``estimators={"clf": {"svm": SVC(), "forest": RandomForestClassifier()}}`` maps its
branch labels to estimators: ``clf`` is set to that estimator (scikit-learn clones it per fit) and the
branch's parameters become ``clf__<name>``.  Without an ``estimators`` entry a conditional choice sets
its label as the value and its branch's parameters as siblings (``{"penalty": ut.choice({"l1":
{"solver": ...}, "l2": {}})}`` sets ``penalty`` and ``solver``).

Failures follow ``error_score`` as in ``RandomizedSearchCV``: a number or NaN scores the failed fits
(scikit-learn warns ``FitFailedWarning``) and the trial is ``failed`` in ``result_`` when its score is
NaN; ``"raise"`` stops the search with the fit's exception.  A candidate whose *every* fit fails gets its
row in ``cv_results_`` with the ``error_score`` values and a ``FitFailedWarning``, as in
``RandomizedSearchCV``; when every fit of every candidate fails, ``fit`` raises scikit-learn's ``ValueError``.
(scikit-learn raises as soon as all fits of one ``evaluate_candidates`` call fail; a search that hands over
one candidate per call must only raise when all of them did — see ``_all_fits_failed_raises_at_the_end``.)

``backend="ray"`` is refused: Ray runs trials in worker processes and ``evaluate_candidates`` must run
in the process that calls ``fit``.  (``n_jobs`` is scikit-learn's: parallel folds of one candidate.)
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils import check_random_state

from .exceptions import TrialTimeout, UnsupportedFeatureError
from .space import Branching, Const, Group, Leaf, Node, Space, as_space

__all__ = ["SearchCV"]

_IN_PROCESS_BACKENDS = ("optuna", "hyperopt", "skopt")


class _StopSearch(BaseException):  # control flow: passes through unitune's trial runner untouched
    """Carries an exception scikit-learn raised (``error_score="raise"``) out of the unitune run."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def sklearn_params(space: Space, params: Mapping[str, Any], estimators: Mapping[str, Mapping[str, Any]] | None
                   ) -> dict[str, Any]:
    """The scikit-learn ``set_params`` dict for ``params`` as the objective receives them (see module doc)."""
    out: dict[str, Any] = {}
    _flatten(space.root, params, "", estimators or {}, out)
    return out


def _flatten(node: Node, value: Any, name: str, estimators: Mapping[str, Mapping[str, Any]],
             out: dict[str, Any]) -> None:
    if isinstance(node, Group):
        prefix = f"{name}__" if name else ""
        for key, child in node.children.items():
            _flatten(child, value[key], prefix + key, estimators, out)
    elif isinstance(node, (Leaf, Const)):
        if isinstance(node, Const) and isinstance(node.value, Mapping) and not node.value:
            return  # an empty dict: no parameter
        out[name] = value
    elif isinstance(node, Branching):
        label, sub = value
        branch = node.branches[label]
        if name in estimators:
            out[name] = estimators[name][label]
            _flatten(branch, sub, name, estimators, out)
        else:
            out[name] = label
            parent = name.rpartition("__")[0]
            _flatten(branch, sub, parent, estimators, out)


class SearchCV(BaseSearchCV):
    """Hyperparameter search with cross-validation, the candidates chosen by a unitune backend.

    Parameters beyond ``RandomizedSearchCV``'s (``estimator``, ``scoring``, ``n_jobs``, ``refit``, ``cv``,
    ``verbose``, ``pre_dispatch``, ``random_state``, ``error_score``, ``return_train_score``, with the
    same meaning):

    space : dict
        A unitune space over scikit-learn parameter names (``"svc__C": ut.loguniform(1e-2, 1e2)``).
    backend, algorithm : str
        The unitune backend (``"optuna"``, ``"hyperopt"``, ``"skopt"``) and its algorithm.
    n_trials : int
        Candidates to evaluate (``n_iter`` in ``RandomizedSearchCV``).
    timeout : float, optional
        A total time budget in seconds for the search (unitune's ``timeout``): no candidate starts after
        it; a fit still running is interrupted and counts as a failed fit (``error_score``), so that
        candidate is a failed trial.
    estimators : dict, optional
        ``{param_name: {branch_label: estimator}}`` for conditional choices between estimators.
    backend_options : dict, optional
        Keyword options for the backend's algorithm (e.g. ``{"n_startup_trials": 5}``).

    The optimized value is the mean test score of ``refit`` when it names a metric, else of the single
    (or first) metric.  After ``fit``: everything ``RandomizedSearchCV`` has, plus ``result_``
    (unitune's ``Result``; ``result_.table`` is the table of every trial).
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseSearchCV._parameter_constraints,
        "space": [dict, Space],
        "backend": [str],
        "algorithm": [str, None],
        "n_trials": [numbers.Integral],
        "timeout": [numbers.Real, None],
        "estimators": [dict, None],
        "backend_options": [dict, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator: Any,
        space: dict[str, Any] | Space,
        *,
        backend: str = "optuna",
        algorithm: str | None = None,
        n_trials: int = 10,
        timeout: float | None = None,
        estimators: dict[str, dict[str, Any]] | None = None,
        backend_options: dict[str, Any] | None = None,
        scoring: Any = None,
        n_jobs: int | None = None,
        refit: Any = True,
        cv: Any = None,
        verbose: int = 0,
        pre_dispatch: Any = "2*n_jobs",
        random_state: Any = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
    ) -> None:
        super().__init__(
            estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit, cv=cv, verbose=verbose,
            pre_dispatch=pre_dispatch, error_score=error_score, return_train_score=return_train_score,
        )
        self.space = space
        self.backend = backend
        self.algorithm = algorithm
        self.n_trials = n_trials
        self.timeout = timeout
        self.estimators = estimators
        self.backend_options = backend_options
        self.random_state = random_state

    def _seed(self) -> int | None:
        if self.random_state is None:
            return None
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _check_search(self, space: Space) -> None:
        if self.backend == "ray":
            raise UnsupportedFeatureError(
                "ray", "SearchCV (Ray runs trials in worker processes; scikit-learn's evaluate_candidates "
                "must run in the process that calls fit)", _IN_PROCESS_BACKENDS,
            )
        for name, branches in (self.estimators or {}).items():
            try:
                node = _node_at(space, name)
            except KeyError:
                raise ValueError(f"SearchCV: estimators names {name!r}, not a parameter of the space") from None
            if not isinstance(node, Branching):
                raise ValueError(f"SearchCV: estimators[{name!r}] needs a conditional ut.choice({{label: ...}}) there")
            missing = set(node.branches) - set(branches)
            if missing:
                raise ValueError(f"SearchCV: estimators[{name!r}] has no estimator for branch(es) {sorted(missing)}")

    def _run_search(self, evaluate_candidates: Any, callback_ctx: Any = None) -> None:
        import unitune as ut

        space = as_space(self.space)
        self._check_search(space)
        primary: list[str] = []
        failures: list[str] = []
        evaluated = [0]

        def objective(params: dict[str, Any]) -> dict[str, float]:
            candidate = sklearn_params(space, params, self.estimators)
            try:
                results = evaluate_candidates([candidate])
            except ValueError as exc:
                if self.error_score == "raise" or "fits failed" not in str(exc):
                    raise _StopSearch(exc) from exc
                failures.append(str(exc))
                warnings.warn(f"SearchCV: every fit of candidate {candidate} failed: {exc}",
                              FitFailedWarning, stacklevel=2)
                raise
            except TrialTimeout:  # the search's time budget ran out during a fit (error_score="raise")
                raise
            except Exception as exc:
                raise _StopSearch(exc) from exc
            evaluated[0] += 1
            if not primary:
                primary.append(self._primary_metric(results))
            means = {k: float(v[-1]) for k, v in results.items() if k.startswith("mean_test_")}
            return {**means, f"std_test_{primary[0]}": float(results[f"std_test_{primary[0]}"][-1])}

        try:
            # the metric name is known from the scorer before the first call only when it is not a callable
            with _all_fits_failed_raises_at_the_end(self.error_score, failures):
                self.result_ = ut.maximize(
                    objective, space, backend=self.backend, algorithm=self.algorithm, n_trials=self.n_trials,
                    timeout=self.timeout, seed=self._seed(), metric=f"mean_test_{self._metric_name()}",
                    **dict(self.backend_options or {}),
                )
        except _StopSearch as stop:
            raise stop.error from None
        if failures and len(failures) == len(self.result_.records):  # every fit of every candidate failed
            raise ValueError(failures[-1])

    def _metric_name(self) -> str:
        scoring = self.scoring
        if isinstance(self.refit, str):
            return self.refit
        if scoring is None or isinstance(scoring, str) or callable(scoring):
            return "score"  # a callable returning a dict is refused below, once its keys are seen
        names = list(scoring) if not isinstance(scoring, Mapping) else list(scoring.keys())
        return str(names[0])

    def _primary_metric(self, results: Mapping[str, Any]) -> str:
        name = self._metric_name()
        if f"mean_test_{name}" not in results:
            raise _StopSearch(ValueError(
                f"SearchCV: no mean_test_{name} in the cv results; with a scorer returning several metrics, "
                "set refit to the metric to optimize"
            ))
        return name


@contextlib.contextmanager
def _all_fits_failed_raises_at_the_end(error_score: Any, failures: list[str]) -> Iterator[None]:
    """Within one search: when every fit of a candidate fails, warn (and keep its cv_results_ row) instead
    of raising; ``failures`` collects those messages so ``_run_search`` raises once every candidate failed.

    scikit-learn's ``evaluate_candidates`` calls ``_warn_or_raise_about_fit_failures`` on the fits of that
    one call, and raises when all of them failed — right for RandomizedSearchCV's single call with every
    candidate, wrong for one call per candidate.  The search module's reference is swapped for the fit.
    """
    import sklearn.model_selection._search as search

    original = search._warn_or_raise_about_fit_failures

    def per_candidate(results: Any, score: Any) -> None:
        if error_score != "raise" and results and all(r["fit_error"] is not None for r in results):
            try:
                original(results, score)
            except ValueError as exc:  # all fits of this one candidate failed
                failures.append(str(exc))
                warnings.warn(str(exc).replace("All the", "All the candidate's", 1), FitFailedWarning, stacklevel=2)
            return
        original(results, score)

    search._warn_or_raise_about_fit_failures = per_candidate
    try:
        yield
    finally:
        search._warn_or_raise_about_fit_failures = original


def _node_at(space: Space, name: str) -> Node:
    """The node whose scikit-learn name (the joining rules of ``_flatten``) is ``name``."""
    for found, node in _named_nodes(space.root, ""):
        if found == name:
            return node
    raise KeyError(name)


def _named_nodes(node: Node, name: str) -> Any:
    if isinstance(node, Group):
        prefix = f"{name}__" if name else ""
        for key, child in node.children.items():
            yield prefix + key, child
            yield from _named_nodes(child, prefix + key)
    elif isinstance(node, Branching):
        for branch in node.branches.values():  # a branch's names are under the choice or its siblings
            yield from _named_nodes(branch, name)
            yield from _named_nodes(branch, name.rpartition("__")[0])
