"""A multi-fidelity problem: a linear model trained epoch by epoch, reporting validation error each epoch."""

from __future__ import annotations

import warnings

import numpy as np

import unitune as ut

from .sklearn_tasks import _digits

EPOCHS = 20
SGD_SPACE = {
    "alpha": ut.loguniform(1e-6, 1e-1),
    "eta0": ut.loguniform(1e-4, 1.0),
    "learning_rate": ut.choice(["constant", "invscaling", "adaptive"]),
    "penalty": ut.choice(["l2", "l1", "elasticnet"]),
}


def sgd_epochs(p: dict) -> float:
    """Validation error after each epoch is reported with ut.report; a scheduler may stop the trial early."""
    from sklearn.linear_model import SGDClassifier

    x, y = _digits()
    split = int(0.7 * len(y))
    model = SGDClassifier(loss="log_loss", random_state=0, **p)
    classes = np.unique(y)
    error = 1.0
    for epoch in range(EPOCHS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(x[:split], y[:split], classes=classes)
        error = float(1.0 - model.score(x[split:], y[split:]))
        ut.report(error, step=epoch)
    return error
