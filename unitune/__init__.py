"""unitune: one search space and objective, run on Optuna, Hyperopt, Ray Tune, scikit-optimize or Nevergrad,
with every run returned as one pandas table of the same schema."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .context import checkpoint, report, restore
from .exceptions import (
    ApproximationError,
    BackendError,
    BackendNotInstalledError,
    InvalidRunError,
    InvalidSpaceError,
    InvalidTellError,
    ObjectiveReturnError,
    SeveralObjectivesError,
    StorageError,
    StudyExistsError,
    StudyNotFoundError,
    TrialPruned,
    TrialTimeout,
    UnituneError,
    UnknownAlgorithmError,
    UnknownBackendError,
    UnknownOptionError,
    UnsupportedFeatureError,
)
from .registry import backends  # bound now: the subpackage unitune.backends must not shadow it
from .space import Space, choice, integer, loguniform, uniform

if TYPE_CHECKING:
    from .callbacks import NoImprovement, StopRule, TargetReached, WallTime
    from .compare import compare
    from .explain import explain
    from .objectives import Objectives
    from .parallel import RayTasks
    from .results import Result
    from .run import maximize, minimize, optimize
    from .storage import load, studies
    from .study import Study, Trial

# pandas is imported only when these are first used: `import unitune` stays light, which matters in
# every Ray worker process that unpickles an objective.
_LAZY = {"compare": ".compare", "explain": ".explain", "Result": ".results",
         "maximize": ".run", "minimize": ".run", "optimize": ".run", "Objectives": ".objectives",
         "Study": ".study", "Trial": ".study",
         "load": ".storage", "studies": ".storage", "RayTasks": ".parallel",
         "StopRule": ".callbacks", "TargetReached": ".callbacks", "NoImprovement": ".callbacks",
         "WallTime": ".callbacks"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'unitune' has no attribute {name!r}")

__version__ = "0.1.0"

__all__ = [
    "ApproximationError",
    "BackendError",
    "BackendNotInstalledError",
    "InvalidRunError",
    "InvalidSpaceError",
    "InvalidTellError",
    "NoImprovement",
    "ObjectiveReturnError",
    "Objectives",
    "RayTasks",
    "Result",
    "SeveralObjectivesError",
    "Space",
    "StopRule",
    "StorageError",
    "Study",
    "StudyExistsError",
    "StudyNotFoundError",
    "TargetReached",
    "Trial",
    "TrialPruned",
    "TrialTimeout",
    "UnituneError",
    "UnknownAlgorithmError",
    "UnknownBackendError",
    "UnknownOptionError",
    "UnsupportedFeatureError",
    "WallTime",
    "backends",
    "checkpoint",
    "choice",
    "compare",
    "explain",
    "integer",
    "load",
    "loguniform",
    "maximize",
    "minimize",
    "optimize",
    "report",
    "restore",
    "studies",
    "uniform",
]
