"""Real problems on datasets bundled with scikit-learn (no downloads), scored by cross-validation with fixed folds."""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np

import unitune as ut

FOLDS = 3


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    keep = np.random.default_rng(0).permutation(len(y))[:600]  # a fixed subsample keeps the quick run quick
    return x[keep] / 16.0, y[keep]


@cache
def _breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def _cv():
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)


SVM_SPACE = {"C": ut.loguniform(1e-2, 1e3), "gamma": ut.loguniform(1e-4, 1.0), "kernel": ut.choice(["rbf", "sigmoid"])}


def svm_digits(p: dict) -> float:
    """3-fold CV classification error of an SVC on 600 digits."""
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    x, y = _digits()
    model = SVC(C=p["C"], gamma=p["gamma"], kernel=p["kernel"])
    return float(1.0 - cross_val_score(model, x, y, cv=_cv()).mean())


GB_SPACE = {
    "n_estimators": ut.integer(5, 50, log=True),
    "learning_rate": ut.loguniform(1e-2, 1.0),
    "max_depth": ut.integer(1, 3),
    "subsample": ut.uniform(0.5, 1.0, step=0.1),
}


def gb_breast_cancer(p: dict) -> float:
    """3-fold CV log-loss of gradient boosting on breast_cancer (model seed fixed)."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import cross_val_score

    x, y = _breast_cancer()
    model = GradientBoostingClassifier(random_state=0, **p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(-cross_val_score(model, x, y, cv=_cv(), scoring="neg_log_loss").mean())
