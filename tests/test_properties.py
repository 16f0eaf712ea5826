"""Property-based tests (Hypothesis) over random spaces, on every backend.

- Random valid spaces (every primitive, nesting, conditionals, constants, choices of odd values): every
  suggestion lies in the space and the objective gets the user's own objects, with the right types.
- The store round trip of any table is exact (odd floats, unicode, every trial state).
- Random invalid spaces always raise a unitune error before the first trial.

Each property runs under the ``ci`` Hypothesis profile by default (few examples, derandomized) and again
under the ``long`` profile with ``-m slow`` (tests/conftest.py registers both).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import unitune as ut
from unitune.backends.optuna import MAX_GRID_POINTS
from unitune.exceptions import UnituneError, UnsupportedFeatureError
from unitune.registry import installed_names
from unitune.space import Space

from .strategies import check_built, invalid_spaces, same_value, spaces

BACKENDS = installed_names()
ASK_TELL = [b for b in BACKENDS if b != "ray"]  # Ray Tune drives its own loop: no Study.ask

# Cheap algorithms to draw from per backend; grids are included: over a continuous or (optuna) conditional
# space they must refuse before the first trial.
ALGORITHMS = {"optuna": ["tpe", "random", "cmaes", "qmc", "grid"], "hyperopt": ["tpe", "random", "anneal"],
              "skopt": ["gp", "forest", "gbrt", "random"], "ray": ["random", "grid"],
              "nevergrad": ["ngopt", "pso", "de", "cma", "oneplusone", "portfolio", "random", "ga"]}
# Options that reach the model phase within a few trials (skopt: sampled acquisition, as tests/conformance).
OPTIONS = {"optuna": {"tpe": {"n_startup_trials": 2}},
           "hyperopt": {"tpe": {"n_startup_jobs": 2}},
           "skopt": {a: {"n_initial_points": 2, "acq_optimizer": "sampling", "n_points": 500} for a in ("gp",)}
           | {a: {"n_initial_points": 2} for a in ("forest", "gbrt")}}
# Examples per property under the ci profile (scaled up by the long profile's max_examples).
CI_EXAMPLES = {"optuna": 100, "hyperopt": 100, "skopt": 60, "ray": 6, "nevergrad": 60}
CI_STORE_EXAMPLES = {"optuna": 50, "hyperopt": 50, "skopt": 40, "nevergrad": 40}
CI_INVALID_EXAMPLES = 150
CI_RAY_TRANSLATION_EXAMPLES = 200

PROFILES = ["ci", pytest.param("long", marks=pytest.mark.slow)]


def run_property(profile: str, ci_examples: int, strategy: st.SearchStrategy[Any],
                 check: Callable[[Any], None]) -> None:
    """Run ``check`` on ``strategy``'s examples under a Hypothesis profile.

    ``ci_examples`` is this property's share under ``ci``; ``long`` scales it by its max_examples over ci's.
    """
    chosen, ci = settings.get_profile(profile), settings.get_profile("ci")
    n = max(1, round(ci_examples * chosen.max_examples / ci.max_examples))
    given(strategy)(settings(chosen, max_examples=n)(check))()


def grid_refused(backend: str, algorithm: str, space: Space) -> bool:
    """Whether the run must be refused: a grid over a continuous space or, on optuna, a conditional one or
    one of more points than GridSampler can list in memory."""
    if algorithm != "grid":
        return False
    if not space.is_finite:
        return True
    return backend == "optuna" and (space.is_conditional or math.prod(p.dim.grid_size() for p in space.params)
                                    > MAX_GRID_POINTS)


def options_for(backend: str, algorithm: str) -> dict[str, Any]:
    return dict(OPTIONS.get(backend, {}).get(algorithm, {}))


# -- valid spaces: suggestions in the space, decoded to the user's objects ---------------------------------------

def runs(backend: str) -> st.SearchStrategy[tuple[dict[str, Any], str, int, int]]:
    return st.tuples(spaces(), st.sampled_from(ALGORITHMS[backend]), st.integers(0, 2**32 - 1), st.integers(1, 6))


def check_suggestions(backend: str, example: tuple[dict[str, Any], str, int, int]) -> None:
    definition, algorithm, seed, n_trials = example
    space = Space(definition)
    seen: list[dict[str, Any]] = []
    in_driver = backend != "ray"

    def objective(params: dict[str, Any]) -> Any:
        if in_driver:
            seen.append(params)
            return (len(seen) * 0.37) % 1.0
        return {"v": 0.5, "seen": params}  # Ray: the params travel back in the record's metrics

    run = dict(backend=backend, algorithm=algorithm, n_trials=n_trials, seed=seed,
               metric=None if in_driver else "v", **options_for(backend, algorithm))
    if grid_refused(backend, algorithm, space):
        with pytest.raises(UnsupportedFeatureError):
            ut.minimize(objective, definition, **run)
        assert not seen
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # frameworks warn about tiny or all-categorical spaces
        result = ut.minimize(objective, definition, **run)
    records = result.records
    # a grid may hold fewer points than n_trials
    assert 1 <= len(records) <= n_trials and (len(records) == n_trials or algorithm == "grid")
    assert [r.state for r in records] == ["complete"] * len(records), [r.error for r in records]
    if in_driver:
        assert len(seen) == len(records)
    else:
        seen = [r.metrics["seen"] for r in records]
    for record, params in zip(records, seen, strict=True):
        space.validate_assignment(record.params)  # exactly the active parameters, each in its domain
        check_built(definition, params, identical=in_driver)  # what the objective got: the user's objects
        # what the result holds; on Ray the records are pickled back from the workers, so equal, not identical
        # (e.g. choice([-6]) gives an equal -6): see the report of issue 20
        check_built(definition, space.build(record.params), identical=in_driver)
    table = result.table
    assert len(table) == len(records)
    assert {f"params.{p}" for p in space.paths} <= set(table.columns)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "ray"])
def test_every_suggestion_lies_in_the_space_and_decodes_to_the_users_objects(backend, profile):
    run_property(profile, CI_EXAMPLES[backend], runs(backend), lambda ex: check_suggestions(backend, ex))


@pytest.mark.ray
@pytest.mark.parametrize("profile", PROFILES)
def test_ray_runs_decode_to_the_users_values(profile):
    """A few real Tuner runs (Ray starts once per session): the objective runs in a worker process, so
    choices and constants come back equal (same types), not identical."""
    pytest.importorskip("ray")
    run_property(profile, CI_EXAMPLES["ray"], runs("ray"), lambda ex: check_suggestions("ray", ex))


@pytest.mark.parametrize("profile", PROFILES)
def test_ray_space_translation_samples_decode_into_the_space(profile):
    """Ray's translation without running trials: sample every translated domain, decode, check (many spaces)."""
    pytest.importorskip("ray")
    from ray import tune

    from unitune.backends.ray import _Codec

    def check(example: tuple[dict[str, Any], int]) -> None:
        definition, seed = example
        space = Space(definition)
        codec = _Codec(space)
        domains = codec.domains(tune)
        rng = np.random.default_rng(seed)
        for _ in range(5):
            config = {path: domain.sample(random_state=rng) for path, domain in domains.items()}
            assignment = codec.decode(config)
            space.validate_assignment(assignment)
            check_built(definition, space.build(assignment), identical=True)

    run_property(profile, CI_RAY_TRANSLATION_EXAMPLES, st.tuples(spaces(), st.integers(0, 2**32 - 1)), check)


# -- the store round trip ---------------------------------------------------------------------------------------

odd_floats = st.one_of(st.floats(), st.sampled_from([-0.0, 0.0, math.inf, -math.inf, math.nan, 5e-324,
                                                     1.7976931348623157e308, 0.1 + 0.2]))
metric_names = st.text(min_size=1, max_size=5).filter(lambda k: k not in ("loss", "value", "step"))
metric_values = st.one_of(odd_floats, st.integers(-2**70, 2**70), st.text(max_size=5), st.booleans(), st.none(),
                          st.lists(st.integers(), max_size=2), st.tuples(st.integers()))
outcomes = st.one_of(
    st.tuples(st.just("value"), st.one_of(odd_floats, st.integers(-10**6, 10**6))),
    st.tuples(st.just("metrics"), st.fixed_dictionaries({"loss": odd_floats},
                                                        optional={"extra": st.dictionaries(metric_names,
                                                                                           metric_values,
                                                                                           max_size=3)})),
    st.tuples(st.just("exception"), st.text(max_size=20)),
    st.tuples(st.just("failed"), st.one_of(st.none(), st.text(max_size=20))),
    st.tuples(st.just("pruned"), st.lists(st.floats(allow_nan=False), max_size=3)),
)


def assert_same_tables(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns, dtypes and cells: NaN matches NaN, -0.0 is not 0.0, an int is not a float."""
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    for column in expected.columns:
        for i, (a, b) in enumerate(zip(got[column].tolist(), expected[column].tolist(), strict=True)):
            missing = a is None or b is None or a is pd.NA or b is pd.NA or a is pd.NaT or b is pd.NaT
            assert (a is b) if missing else same_value(a, b), f"{column}[{i}]: {a!r} != {b!r}"


def check_store_round_trip(backend: str, directory: Any, example: tuple[Any, ...]) -> None:
    definition, seed, batches, drawn = example
    told = iter(drawn)
    db = str(directory / "runs.db")
    name = f"p-{next(_counter)}-λ"
    study = ut.Study(definition, backend=backend, algorithm="random", seed=seed, metric="loss", storage=db,
                     name=name)
    for k in batches:
        for trial in study.ask(k):
            kind, payload = next(told)
            if kind == "value":
                study.tell(trial, payload)
            elif kind == "metrics":
                study.tell(trial, {"loss": payload["loss"], **payload.get("extra", {})})
            elif kind == "exception":
                study.tell(trial, RuntimeError(payload))
            elif kind == "failed":
                study.tell(trial, state="failed", error=payload)
            else:
                for step, value in enumerate(payload):
                    trial.report(value, step=step, seen=step * 0.5)
                study.tell(trial, state="pruned")
    expected = study.table
    study.close()
    assert_same_tables(ut.load(db, name).table, expected)
    resumed = ut.Study(definition, backend=backend, algorithm="random", seed=seed, metric="loss", storage=db,
                       name=name, resume=True)
    try:
        assert_same_tables(resumed.table, expected)
    finally:
        resumed.close()


_counter = itertools.count()


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("backend", ASK_TELL)
def test_store_round_trip_of_any_table_is_exact(backend, profile, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"store-{backend}")

    @st.composite
    def examples(draw: st.DrawFn) -> tuple[Any, ...]:
        batches = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
        drawn = draw(st.lists(outcomes, min_size=sum(batches), max_size=sum(batches)))
        return draw(spaces()), draw(st.integers(0, 2**32 - 1)), batches, drawn

    run_property(profile, CI_STORE_EXAMPLES[backend], examples(),
                 lambda ex: check_store_round_trip(backend, directory, ex))


# -- invalid spaces: a unitune error before the first trial ------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_an_invalid_space_raises_a_unitune_error_before_the_first_trial(backend, profile):
    def check(example: tuple[str, Callable[[], Any]]) -> None:
        what, build = example
        calls: list[Any] = []
        for attempt in (lambda: ut.minimize(calls.append, build(), backend=backend, n_trials=2, seed=0),
                        lambda: ut.Study(build(), backend=backend)):
            with pytest.raises(UnituneError) as caught:
                attempt()
            assert isinstance(caught.value, (ValueError, TypeError)), (what, caught.value)
            assert str(caught.value), what
        assert not calls, what

    run_property(profile, CI_INVALID_EXAMPLES, invalid_spaces(), check)


# -- regressions the properties found ---------------------------------------------------------------------------

def test_an_empty_dict_in_the_space_is_a_fresh_dict_each_trial_like_any_group():
    """Found by the suggestion property: ``{"opts": {}}`` gave every trial one shared dict made by unitune, so
    an objective that filled it in leaked into the next trials (a non-empty group is built afresh each trial)."""
    seen = []

    def objective(params):
        seen.append(dict(params["opts"]))
        params["opts"]["touched"] = True
        return 0.0

    ut.minimize(objective, {"x": ut.uniform(0.0, 1.0), "opts": {}}, backend="optuna", algorithm="random",
                n_trials=3, seed=0)
    assert seen == [{}, {}, {}]
    assert Space({"x": ut.uniform(0.0, 1.0), "opts": {}}).build({"x": 0.5}) == {"x": 0.5, "opts": {}}


def test_optuna_grid_over_too_many_points_is_refused_before_the_first_trial():
    """Found by the long profile: optuna's GridSampler lists every point of the grid in memory, so a grid of
    four integer(0, 1000) (10**12 points) ran out of memory (the test process was killed) before any trial."""
    calls = []
    space = {f"p{i}": ut.integer(0, 1000) for i in range(4)}
    with pytest.raises(UnsupportedFeatureError, match=r"(?s)optuna.*grid.*1\.0e\+12 points.*random"):
        ut.minimize(calls.append, space, backend="optuna", algorithm="grid", n_trials=2, seed=0)
    assert not calls
    small = ut.minimize(lambda p: 0.0, {"a": ut.integer(0, 999), "b": ut.integer(0, 999)}, backend="optuna",
                        algorithm="grid", n_trials=2, seed=0)  # 10**6 points: still a grid optuna can list
    assert len(small.records) == 2


# -- the Pareto column: the definition, for any values, directions, states and constraints ----------------
def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


@given(directions=st.lists(st.sampled_from(["minimize", "maximize"]), min_size=2, max_size=3),
       rows=st.lists(st.tuples(st.sampled_from(["complete", "complete", "failed", "pruned"]),
                               st.lists(st.integers(-3, 3), min_size=3, max_size=3),
                               st.integers(-1, 1)), max_size=40))
def test_pareto_is_the_non_dominated_feasible_set(directions, rows):
    from unitune.objectives import Objectives
    from unitune.records import TrialRecord

    names = tuple(f"f{i}" for i in range(len(directions)))
    objectives = Objectives(names, tuple(directions), constraints=("c",))
    records = []
    for number, (state, values, c) in enumerate(rows):
        record = TrialRecord(number=number, state=state, value=float(values[0]), params={},
                             metrics={**dict(zip(names, map(float, values), strict=False)), "c": float(c)})
        objectives.constrain(record)
        records.append(record)
    signs = [1 if d == "minimize" else -1 for d in directions]
    points = [tuple(s * r.metrics[n] for s, n in zip(signs, names, strict=True))
              if r.state == "complete" and r.metrics["c"] <= 0 else None for r in records]
    expected = [p is not None and not any(q is not None and _dominates(q, p) for q in points) for p in points]
    assert objectives.pareto(records) == expected
    assert [objectives.feasible(r) for r in records] == [p is not None for p in points]
