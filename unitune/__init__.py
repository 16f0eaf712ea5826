"""unitune: one search space and objective, run on Optuna, Hyperopt, Ray Tune or scikit-optimize,
with every run returned as one pandas table of the same schema."""

from .compare import compare
from .context import checkpoint, report, restore
from .exceptions import (
    ApproximationError,
    BackendError,
    BackendNotInstalledError,
    InvalidRunError,
    InvalidSpaceError,
    ObjectiveReturnError,
    TrialPruned,
    TrialTimeout,
    UnituneError,
    UnknownAlgorithmError,
    UnknownBackendError,
    UnknownOptionError,
    UnsupportedFeatureError,
)
from .explain import explain
from .registry import backends
from .results import Result
from .run import maximize, minimize
from .space import Space, choice, integer, loguniform, uniform

__version__ = "0.1.0"

__all__ = [
    "ApproximationError",
    "BackendError",
    "BackendNotInstalledError",
    "InvalidRunError",
    "InvalidSpaceError",
    "ObjectiveReturnError",
    "Result",
    "Space",
    "TrialPruned",
    "TrialTimeout",
    "UnituneError",
    "UnknownAlgorithmError",
    "UnknownBackendError",
    "UnknownOptionError",
    "UnsupportedFeatureError",
    "backends",
    "checkpoint",
    "choice",
    "compare",
    "explain",
    "integer",
    "loguniform",
    "maximize",
    "minimize",
    "report",
    "restore",
    "uniform",
]
