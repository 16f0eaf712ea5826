"""The one place a run is checked against a backend's declared capabilities, before any trial runs."""

from __future__ import annotations

import difflib

from .backends.base import FEATURES, RUN_LIMITS, Backend, RunSpec
from .exceptions import ApproximationError, UnknownAlgorithmError, UnknownOptionError, UnsupportedFeatureError
from .registry import supporting, supporting_algorithm, supporting_scheduler


def check_run(cls: type[Backend], spec: RunSpec) -> None:
    """Raise a ``unitune`` error naming backend, feature and alternatives if ``spec`` cannot run on ``cls``."""
    if spec.algorithm not in cls.algorithms:
        others = [b for b in supporting_algorithm(spec.algorithm) if b != cls.name]
        elsewhere = f"; {spec.algorithm!r} is offered by: {', '.join(others)}" if others else ""
        raise UnknownAlgorithmError(
            f"backend {cls.name!r} has no algorithm {spec.algorithm!r}; "
            f"its algorithms are: {', '.join(cls.algorithms)}{elsewhere}"
        )
    if spec.scheduler is not None and spec.scheduler not in cls.schedulers:
        others = [b for b in supporting_scheduler(spec.scheduler) if b != cls.name]
        if not others:
            raise UnknownAlgorithmError(
                f"unknown scheduler {spec.scheduler!r} for backend {cls.name!r}; "
                f"its schedulers are: {', '.join(cls.schedulers) or 'none'}"
            )
        raise UnsupportedFeatureError(
            cls.name, f"scheduler={spec.scheduler!r}", others,
            hint=f"Schedulers on {cls.name!r}: {', '.join(cls.schedulers) or 'none'}.",
        )
    if spec.scheduler_options:
        accepted = cls.scheduler_option_names(spec.scheduler or "fifo")
        unknown = sorted(set(spec.scheduler_options) - accepted)
        if unknown:
            raise UnknownOptionError(cls.name, spec.scheduler or "fifo", unknown, accepted, kind="scheduler")
    wanted = {"maximize"} if spec.direction == "maximize" else set()
    if spec.space.is_conditional:
        wanted.add("conditional")
    if spec.n_jobs > 1:
        wanted.add("n_jobs")
    if spec.several_objectives:
        wanted.add("multi_objective")
    if spec.objectives is not None and spec.objectives.constraints is not None:
        wanted.add("constraints")
    for feature in sorted(wanted - cls.features):
        raise UnsupportedFeatureError(cls.name, FEATURES[feature], [b for b in supporting(feature) if b != cls.name])
    allowed = cls.option_names(spec.algorithm)
    if allowed is not None:
        unknown = sorted(set(spec.options) - allowed)
        if unknown:
            error = UnknownOptionError(cls.name, spec.algorithm, unknown, allowed)
            close = difflib.get_close_matches(unknown[0], [*RunSpec.settings(), *RUN_LIMITS, *allowed], n=1)
            if close:  # a misspelt unitune argument lands among the algorithm options: say what was meant
                error.args = (f"{error.args[0]}. Did you mean {close[0]!r}?",)
            raise error
    cls.check(spec)
    if spec.strict:
        for param in spec.space.params:
            translation = cls.translate(param, spec.algorithm)
            if translation.fidelity != "exact":
                raise ApproximationError(
                    f"strict=True: backend {cls.name!r} ({spec.algorithm}) would make parameter "
                    f"{param.path!r} ({param.dim!r}) {translation.fidelity}: {translation.note}"
                )

