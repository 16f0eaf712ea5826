"""unitune.sklearn.SearchCV: a scikit-learn search estimator (real scikit-learn, real backends)."""

from __future__ import annotations

import pickle
import time
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import unitune as ut
from unitune.exceptions import UnsupportedFeatureError
from unitune.sklearn import SearchCV, sklearn_params

X, Y = load_iris(return_X_y=True)
CV = StratifiedKFold(3)
FOLDS = KFold(3, shuffle=True, random_state=0)  # iris is sorted by class


def test_a_pipeline_step_chooses_between_estimators():
    pipe = Pipeline([("scale", StandardScaler()), ("clf", SVC())])
    space = {
        "scale__with_mean": ut.choice([True, False]),
        "clf": ut.choice({
            "svm": {"C": ut.loguniform(1e-2, 1e2), "kernel": ut.choice(["rbf", "linear"])},
            "forest": {"n_estimators": ut.integer(5, 20), "max_depth": ut.integer(2, 4)},
        }),
    }
    estimators = {"clf": {"svm": SVC(), "forest": RandomForestClassifier(random_state=0)}}
    search = SearchCV(pipe, space, estimators=estimators, n_trials=8, cv=CV, random_state=0).fit(X, Y)

    params = search.cv_results_["params"]
    assert len(params) == 8
    kinds = {type(p["clf"]).__name__ for p in params}
    assert kinds == {"SVC", "RandomForestClassifier"}
    for p in params:
        names = set(p) - {"clf", "scale__with_mean"}
        expected = {"clf__C", "clf__kernel"} if isinstance(p["clf"], SVC) else {"clf__n_estimators", "clf__max_depth"}
        assert names == expected  # only the chosen branch's parameters
    best = search.best_estimator_
    assert isinstance(best, Pipeline)
    assert type(best.named_steps["clf"]) is type(search.best_params_["clf"])
    assert best.named_steps["clf"] is not search.best_params_["clf"]  # cloned, as scikit-learn does
    assert search.score(X, Y) > 0.9
    table = search.result_.table
    assert len(table) == 8 and table["backend"].eq("optuna").all()
    assert table["value"].tolist() == pytest.approx(list(search.cv_results_["mean_test_score"]))
    assert set(table["params.clf"]) == {"svm", "forest"}
    assert search.best_score_ == pytest.approx(table["value"].max())


def test_as_a_pipeline_step():
    search = SearchCV(SVC(), {"C": ut.loguniform(1e-2, 1e2)}, backend="skopt", n_trials=4, cv=CV, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("search", search)]).fit(X, Y)
    fitted = pipe.named_steps["search"]
    assert len(fitted.cv_results_["params"]) == 4 and fitted.result_.backend == "skopt"
    assert (pipe.predict(X) == fitted.best_estimator_.predict(StandardScaler().fit_transform(X))).all()
    assert pipe.get_params()["search__n_trials"] == 4


def test_nested_cross_validation():
    space = ut.Space({"C": ut.loguniform(1e-2, 1e2), "gamma": ut.loguniform(1e-3, 1.0)})  # a Space works too
    search = SearchCV(SVC(), space, backend="hyperopt", n_trials=4, cv=3, random_state=0)
    scores = cross_val_score(search, X, Y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,)
    assert (scores > 0.8).all()


def test_clone_get_set_params_and_pickle():
    search = SearchCV(SVC(), {"C": ut.loguniform(1e-2, 1e2)}, backend="optuna", algorithm="random", n_trials=3,
                      cv=3, random_state=1, backend_options={})
    twin = clone(search)
    assert twin is not search and twin.get_params()["n_trials"] == 3
    params = search.get_params()
    assert {"space", "backend", "algorithm", "n_trials", "random_state", "estimator__C", "cv"} <= set(params)
    search.set_params(n_trials=4, estimator__kernel="linear")
    assert search.n_trials == 4 and search.estimator.kernel == "linear"
    search.fit(X, Y)
    again = pickle.loads(pickle.dumps(search))
    assert (again.predict(X) == search.predict(X)).all()
    assert again.best_params_ == search.best_params_
    assert again.result_.table.equals(search.result_.table)
    # the same random_state gives the same candidates
    other = clone(search).fit(X, Y)
    assert other.cv_results_["params"] == search.cv_results_["params"]


@pytest.mark.parametrize("scoring,refit", [(None, True), (["accuracy", "f1_macro"], "f1_macro")])
def test_same_candidates_same_scores_as_grid_search(scoring, refit):
    grid = {"C": [0.1, 1.0, 10.0], "kernel": ["linear", "rbf"]}
    space = {name: ut.choice(values) for name, values in grid.items()}
    ours = SearchCV(SVC(), space, algorithm="grid", n_trials=6, cv=CV, scoring=scoring, refit=refit,
                    random_state=0).fit(X, Y)
    theirs = GridSearchCV(SVC(), grid, cv=CV, scoring=scoring, refit=refit).fit(X, Y)

    assert sorted(map(str, ours.cv_results_["params"])) == sorted(map(str, theirs.cv_results_["params"]))
    index = {str(p): i for i, p in enumerate(theirs.cv_results_["params"])}
    metrics = ["score"] if scoring is None else scoring
    for i, p in enumerate(ours.cv_results_["params"]):
        j = index[str(p)]
        for metric in metrics:
            for split in range(3):
                key = f"split{split}_test_{metric}"
                assert ours.cv_results_[key][i] == theirs.cv_results_[key][j]
    assert ours.best_score_ == theirs.best_score_
    assert ours.multimetric_ == (scoring is not None)
    metric = "score" if scoring is None else "f1_macro"
    assert ours.result_.table["value"].tolist() == list(ours.cv_results_[f"mean_test_{metric}"])
    if scoring is not None:  # the other metrics are in unitune's table too
        assert ours.result_.table["metrics.mean_test_accuracy"].tolist() == list(ours.cv_results_["mean_test_accuracy"])


def test_every_backend(backend):
    space = {"C": ut.loguniform(1e-1, 1e2), "class_weight": ut.choice([None, "balanced"])}
    search = SearchCV(SVC(), space, backend=backend, n_trials=4, cv=3, random_state=0)
    if backend == "ray":  # trials run in Ray workers; evaluate_candidates must run in this process
        with pytest.raises(UnsupportedFeatureError, match="Backends that do: optuna, hyperopt, skopt"):
            search.fit(X, Y)
        assert not hasattr(search, "cv_results_")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, Y)
    assert len(search.cv_results_["params"]) == 4
    assert search.result_.backend == backend
    assert search.best_score_ > 0.9
    assert {p["class_weight"] for p in search.cv_results_["params"]} <= {"balanced", None}


class Flaky(ClassifierMixin, BaseEstimator):
    """Fails to fit always, never, or when the training fold holds the marked sample."""

    def __init__(self, fail="never", c=None):
        self.fail = fail
        self.c = c

    def fit(self, x, y):
        if self.fail == "always" or (self.fail == "marked" and (x[:, 0] == 99.0).any()):
            raise ValueError(f"cannot fit with fail={self.fail}")
        self.classes_ = np.unique(y)
        self.model_ = NearestCentroid(shrink_threshold=self.c).fit(x, y)
        return self

    def predict(self, x):
        return self.model_.predict(x)


def _marked():
    marked = X.copy()
    marked[0, 0] = 99.0  # in the training folds of 2 of the 3 splits
    return marked


FLAKY_SPACE = {"fail": ut.choice(["never", "marked", "always"]), "c": ut.choice([None, 0.1])}


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_error_score_nan_warns_and_fails_the_candidate():
    search = SearchCV(Flaky(), FLAKY_SPACE, algorithm="grid", n_trials=6, cv=FOLDS, random_state=0)
    with pytest.warns(FitFailedWarning):
        search.fit(_marked(), Y)
    table = search.result_.table
    assert len(table) == 6
    failed = table[table["state"] == "failed"]
    assert set(failed["params.fail"]) == {"marked", "always"}
    assert table.loc[table["params.fail"] == "never", "state"].eq("complete").all()
    results = search.cv_results_
    fails = [p["fail"] for p in results["params"]]
    # every candidate is in cv_results_ with NaN for its failed fits, as in RandomizedSearchCV — also one
    # whose every fit failed (scikit-learn would raise for that one-candidate evaluate_candidates call)
    assert sorted(fails) == ["always", "always", "marked", "marked", "never", "never"]
    failed_splits = {"never": 0, "marked": 2, "always": 3}  # sample 0 trains 2 of the 3 splits
    for i, fail in enumerate(fails):
        assert np.isnan(results["mean_test_score"][i]) == (fail != "never")
        splits = [results[f"split{k}_test_score"][i] for k in range(3)]
        assert sum(np.isnan(splits)) == failed_splits[fail]
    assert search.best_params_["fail"] == "never"
    always = table[table["params.fail"] == "always"]
    assert always["error"].str.contains("NaN").all()


def test_error_score_number_scores_the_failed_fits():
    search = SearchCV(Flaky(), {"fail": ut.choice(["never", "marked"])}, algorithm="grid", n_trials=2, cv=FOLDS,
                      error_score=0.0, random_state=0)
    with pytest.warns(FitFailedWarning):
        search.fit(_marked(), Y)
    results = search.cv_results_
    marked = [p["fail"] for p in results["params"]].index("marked")
    splits = [results[f"split{k}_test_score"][marked] for k in range(3)]
    assert splits.count(0.0) == 2 and not np.isnan(results["mean_test_score"][marked])
    assert search.result_.table["state"].eq("complete").all()


def test_error_score_raise_stops_the_search_with_the_fit_error():
    calls = []

    class Counting(Flaky):
        def fit(self, x, y):
            calls.append(self.fail)
            return super().fit(x, y)

    search = SearchCV(Counting(), {"fail": ut.choice(["always", "never"])}, algorithm="grid", n_trials=2,
                      cv=FOLDS, error_score="raise", random_state=0)
    with pytest.raises(ValueError, match="cannot fit with fail=always"):
        search.fit(X, Y)
    assert "always" in calls
    assert not hasattr(search, "best_params_")


def test_every_candidate_failing_raises_like_scikit_learn():
    search = SearchCV(Flaky(fail="always"), {"c": ut.uniform(0.1, 1.0)}, n_trials=2, cv=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        with pytest.raises(ValueError, match="fits failed"):
            search.fit(X, Y)


def test_parameter_names_and_bad_estimators_mapping():
    space = ut.Space({
        "union": {"pca__n_components": ut.integer(1, 3)},
        "penalty": ut.choice({"l1": {"solver": ut.choice(["liblinear", "saga"])}, "l2": {}}),
        "clf": ut.choice({"a": {"x": 1}, "b": {}}),
        "tol": 1e-3,
    })
    built = space.build({"union.pca__n_components": 2, "penalty": "l1", "penalty.l1.solver": "saga", "clf": "a"})
    marker = object()
    assert sklearn_params(space, built, {"clf": {"a": marker, "b": None}}) == {
        "union__pca__n_components": 2, "penalty": "l1", "solver": "saga", "clf": marker, "clf__x": 1, "tol": 1e-3,
    }
    for estimators, message in [({"nope": {}}, "not a parameter"), ({"tol": {}}, "conditional"),
                                ({"clf": {"a": SVC()}}, "no estimator for branch")]:
        search = SearchCV(SVC(), dict(space.definition), estimators=estimators, n_trials=1, cv=3)
        with pytest.raises(ValueError, match=message):
            search.fit(X, Y)


@pytest.mark.parametrize("error_score", [np.nan, "raise"])
def test_timeout_ends_the_search_with_the_finished_candidates(error_score):
    started = time.monotonic()
    search = SearchCV(SVC(), {"C": ut.loguniform(1e-2, 1e2)}, n_trials=10_000, timeout=1.0, cv=3,
                      error_score=error_score, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, Y)
    assert time.monotonic() - started < 10
    assert search.result_.stop_reason == "timeout"
    n = len(search.cv_results_["params"])
    assert 1 <= n < 10_000
    assert len(search.result_.table) in (n, n + 1)  # + the candidate stopped mid-fit under "raise"
    assert hasattr(search, "best_estimator_")
