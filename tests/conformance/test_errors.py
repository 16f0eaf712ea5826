"""Errors before the first trial, with names of backend, feature and alternatives; ut.explain."""

from __future__ import annotations

import pytest

import unitune as ut
from unitune.backends.base import RunSpec
from unitune.capabilities import check_run
from unitune.registry import get_backend, registered

SPACE = {"x": ut.uniform(0.0, 1.0), "m": ut.choice({"a": {"y": ut.integer(1, 3)}, "b": None})}


def _never(p):
    raise AssertionError("the objective must not be called")


def test_unknown_algorithm_lists_the_backends_algorithms(backend):
    with pytest.raises(ut.UnknownAlgorithmError) as info:
        ut.minimize(_never, SPACE, backend=backend, algorithm="no-such-algo", n_trials=1)
    for name in get_backend(backend).algorithms:
        assert name in str(info.value)


def test_unknown_option_is_rejected(backend):
    with pytest.raises(TypeError, match="no_such_option"):
        ut.minimize(_never, SPACE, backend=backend, n_trials=1, no_such_option=1)


def test_unsupported_scheduler_names_who_can(backend):
    cls = get_backend(backend)
    others = {name: c for name, c in registered().items() if name != backend}
    missing = [s for c in others.values() for s in c.schedulers if s not in cls.schedulers]
    if not missing:
        pytest.skip(f"{backend} supports every scheduler another backend offers")
    scheduler = missing[0]
    with pytest.raises(ut.UnsupportedFeatureError) as info:
        ut.minimize(_never, SPACE, backend=backend, n_trials=1, scheduler=scheduler)
    message = str(info.value)
    assert backend in message and scheduler in message
    assert any(name in message for name, c in others.items() if scheduler in c.schedulers)


def test_unknown_scheduler(backend):
    with pytest.raises(ut.UnknownAlgorithmError, match="scheduler"):
        ut.minimize(_never, SPACE, backend=backend, n_trials=1, scheduler="no-such-scheduler")


def test_explain_has_a_row_per_parameter(backend):
    cls = get_backend(backend)
    for algorithm in cls.algorithms:
        table = ut.explain(SPACE, backend=backend, algorithm=algorithm)
        assert list(table["parameter"]) == ["x", "m", "m.a.y"]
        assert set(table["fidelity"]) <= {"exact", "approximated", "unsupported"}
        assert table["native"].str.len().gt(0).all()
        assert table.loc[table["fidelity"] != "exact", "note"].str.len().gt(0).all()


def test_strict_raises_exactly_when_explain_says_approximated(backend):
    cls = get_backend(backend)
    for algorithm in cls.algorithms:
        try:
            check_run(cls, RunSpec(space=ut.Space(SPACE), algorithm=algorithm))
        except ut.UnituneError:
            continue  # the combination is unsupported outright; covered elsewhere
        fidelity = set(ut.explain(SPACE, backend=backend, algorithm=algorithm)["fidelity"])
        spec_kwargs = dict(backend=backend, algorithm=algorithm, n_trials=1, strict=True, seed=0)
        if fidelity == {"exact"}:
            ut.minimize(lambda p: 0.0, SPACE, **spec_kwargs)
        else:
            with pytest.raises(ut.ApproximationError, match="strict"):
                ut.minimize(_never, SPACE, **spec_kwargs)
