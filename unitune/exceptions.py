"""Every error unitune raises on purpose.

Configuration errors subclass ``ValueError``/``TypeError`` (and ``UnituneError``) and are raised
before the objective is called.  ``TrialPruned`` is the control-flow exception ``ut.report`` raises
inside an objective when the scheduler stops the trial.
"""

from __future__ import annotations

from collections.abc import Iterable


class UnituneError(Exception):
    """Base class of every unitune error."""


class InvalidSpaceError(UnituneError, ValueError):
    """A search space (or one of its parameters) is invalid; the message names the parameter path."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class UnknownBackendError(UnituneError, ValueError):
    """The backend name is not registered."""


class UnknownAlgorithmError(UnituneError, ValueError):
    """The algorithm (or scheduler) is not one the backend offers."""


class BackendNotInstalledError(UnituneError, ImportError):
    """The framework behind a backend is not importable; the message names the pip extra."""


class SeveralObjectivesError(UnituneError, ValueError):
    """A single best trial (``result.best``, ``best_value``, ``best_params``) was asked of a study with several
    objectives: use ``result.best_trials`` (the Pareto set)."""


class UnsupportedFeatureError(UnituneError, ValueError):
    """The chosen backend cannot do what the run asks for; the message names who can."""

    def __init__(
        self,
        backend: str,
        feature: str,
        supported_by: Iterable[str] = (),
        *,
        parameter: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.backend = backend
        self.feature = feature
        self.parameter = parameter
        self.supported_by = tuple(supported_by)
        where = f" (parameter {parameter!r})" if parameter else ""
        msg = f"backend {backend!r} does not support {feature}{where}."
        if self.supported_by:
            msg += " Backends that do: " + ", ".join(self.supported_by) + "."
        else:
            msg += " No installed backend does."
        if hint:
            msg += " " + hint
        super().__init__(msg)


class UnknownOptionError(UnknownAlgorithmError, TypeError):
    """Keyword options that the backend's algorithm does not take."""

    def __init__(self, backend: str, algorithm: str, unknown: list[str], allowed: frozenset[str],
                 *, kind: str = "algorithm") -> None:
        where = "scheduler_options of scheduler" if kind == "scheduler" else "algorithm"
        super().__init__(
            f"backend {backend!r} {where} {algorithm!r} takes no option(s) {', '.join(unknown)}; "
            f"it accepts: {', '.join(sorted(allowed)) or 'no options'}"
        )


class ApproximationError(UnituneError, ValueError):
    """``strict=True`` was asked and the backend would approximate part of the space."""


class InvalidRunError(UnituneError, ValueError, TypeError):
    """A run argument is invalid (budget, seed, metric, objective not callable, …)."""


class InvalidTellError(UnituneError, ValueError):
    """``Study.tell`` was given a trial that is not pending in this study (told twice, or another study's)."""


class ObjectiveReturnError(UnituneError, TypeError):
    """The objective returned something unitune cannot turn into a value (e.g. a dict without metric=)."""


class BackendError(UnituneError, RuntimeError):
    """The framework itself failed during a run.  ``result`` holds every trial that finished before."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class TrialPruned(Exception):  # noqa: N818 - the name users know from Optuna
    """Raised by ``ut.report`` when the scheduler stops the trial.

    Let it propagate out of the objective: the trial is then recorded as ``pruned`` with its last
    reported value and step.
    """


class TrialTimeout(Exception):  # noqa: N818
    """Raised inside the objective when the run's total ``timeout`` elapses while it runs."""


class StorageError(UnituneError, ValueError):
    """A trial store cannot be opened or used as asked (a directory, read-only, not a unitune store,
    written by a newer unitune, …); nothing was written."""


class StudyExistsError(StorageError):
    """A study of that name is already in the store."""


class StudyNotFoundError(StorageError, LookupError):
    """No study of that name is in the store; the message lists the names that are."""
