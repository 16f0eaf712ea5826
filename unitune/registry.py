"""The backend registry: built-in adapters plus any registered under the ``unitune.backends`` entry point.

Adapters are imported lazily; the frameworks behind them only when a run starts.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from .backends.base import Backend
from .exceptions import BackendNotInstalledError, UnknownBackendError

if TYPE_CHECKING:
    import pandas as pd

ENTRY_POINT_GROUP = "unitune.backends"

BUILTIN: dict[str, str] = {
    "optuna": "unitune.backends.optuna:OptunaBackend",
    "hyperopt": "unitune.backends.hyperopt:HyperoptBackend",
    "skopt": "unitune.backends.skopt:SkoptBackend",
    "ray": "unitune.backends.ray:RayBackend",
    "nevergrad": "unitune.backends.nevergrad:NevergradBackend",
}


def _load_target(target: str) -> type[Backend]:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@cache
def registered() -> dict[str, type[Backend]]:
    """Every backend unitune knows: name -> adapter class (whether or not its framework is installed)."""
    targets = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(ep.name, ep.value)
    found: dict[str, type[Backend]] = {}
    for name, target in targets.items():
        try:
            found[name] = _load_target(target)
        except Exception as exc:  # a broken third-party plugin must not break unitune
            warnings.warn(f"unitune: backend {name!r} ({target}) could not be loaded: {exc}", stacklevel=2)
    return found


def is_installed(cls: type[Backend]) -> bool:
    """Whether every module the backend needs can be imported."""
    return all(importlib.util.find_spec(module) is not None for module in cls.requires)


def installed_names() -> list[str]:
    return [name for name, cls in registered().items() if is_installed(cls)]


def get_backend(name: str) -> type[Backend]:
    """The adapter class for ``name``; raises if unknown or if its framework is missing."""
    backends = registered()
    if name not in backends:
        raise UnknownBackendError(
            f"unknown backend {name!r}; installed backends: {', '.join(installed_names()) or 'none'}"
            f" (all known: {', '.join(backends)})"
        )
    cls = backends[name]
    if not is_installed(cls):
        missing = [m for m in cls.requires if importlib.util.find_spec(m) is None]
        raise BackendNotInstalledError(
            f"backend {name!r} needs {', '.join(missing)}, which is not installed: "
            f'pip install "unitune[{cls.extra}]"'
        )
    return cls


def supporting(feature: str) -> list[str]:
    """Names of the registered backends that declare ``feature``."""
    return [name for name, cls in registered().items() if feature in cls.features]


def supporting_scheduler(scheduler: str) -> list[str]:
    return [name for name, cls in registered().items() if scheduler in cls.schedulers]


def supporting_algorithm(algorithm: str) -> list[str]:
    return [name for name, cls in registered().items() if algorithm in cls.algorithms]


def backends() -> pd.DataFrame:
    """Every known backend as data: installed, algorithms, default algorithm, schedulers, features."""
    import pandas as pd

    rows = []
    for name, cls in registered().items():
        rows.append(
            {
                "backend": name,
                "installed": is_installed(cls),
                "install": f'pip install "unitune[{cls.extra}]"',
                "algorithms": list(cls.algorithms),
                "default_algorithm": cls.default_algorithm,
                "seeded_algorithms": sorted(cls.seeded_algorithms),
                "schedulers": list(cls.schedulers),
                "features": sorted(cls.features),
            }
        )
    return pd.DataFrame(rows)
