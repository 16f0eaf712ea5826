"""Known points first, callbacks, study.stop() and stop rules, on every backend (issue 21, points 1-2)."""

from __future__ import annotations

import math
import time

import pytest

import unitune as ut
from unitune.registry import get_backend

SPACE = {"x": ut.uniform(-3.0, 3.0), "n": ut.integer(1, 5), "c": ut.choice(["a", "b", None])}
NESTED = {"model": ut.choice({"svm": {"C": ut.loguniform(1e-3, 1e3)}, "knn": {"k": ut.integer(1, 9)}}),
          "fixed": 3}
POINTS = [{"x": 0.25, "n": 4, "c": None}, {"x": -2.5, "n": 1, "c": "b"}]


def quadratic(p):
    return (p["x"] - 1.0) ** 2 + p["n"] + (p["c"] == "b")


def by_number(result: ut.Result) -> list:
    return sorted(result.records, key=lambda r: r.number)


def test_enqueued_points_are_the_first_trials(backend):
    result = ut.minimize(quadratic, SPACE, backend=backend, seed=0, n_trials=5, enqueue=POINTS)
    records = by_number(result)
    assert [r.params for r in records[:2]] == POINTS
    assert [bool(r.info.get("enqueued")) for r in records] == [True, True, False, False, False]
    assert records[0].value == quadratic(POINTS[0])


def test_the_framework_learns_from_enqueued_points(backend):
    """Through the framework's own path: the model holds the enqueued trials like its own suggestions."""
    if "ask_tell" not in get_backend(backend).features:
        pytest.skip("Ray Tune's random search learns from nothing (the points run first: the test above)")
    study = ut.Study(SPACE, backend=backend, seed=0)
    study.enqueue(POINTS[0])
    trial = study.ask()
    study.tell(trial, quadratic(trial.params))
    assert study._adapter.history() == [(POINTS[0], quadratic(POINTS[0]))]


def objective_of_nested(p):
    assert p["fixed"] == 3
    return p["model"][1].get("C", 1.0)


def test_an_enqueued_point_is_given_like_the_objectives_params_or_flat(backend):
    points = [{"model": ("knn", {"k": 3}), "fixed": 3}, {"model": "svm", "model.svm.C": 2.0}]
    result = ut.minimize(objective_of_nested, NESTED, backend=backend, seed=0, n_trials=3, enqueue=points)
    records = by_number(result)
    assert [r.params for r in records[:2]] == [{"model": "knn", "model.knn.k": 3}, {"model": "svm", "model.svm.C": 2.0}]
    assert [r.value for r in records[:2]] == [1.0, 2.0]


@pytest.mark.parametrize(("point", "message"), [
    ({"x": 7.0, "n": 1, "c": "a"}, r"x=7\.0 is outside the space: x is uniform"),
    ({"x": 0.0, "n": 1.5, "c": "a"}, r"n=1\.5 is outside"),
    ({"x": 0.0, "n": 1, "c": "z"}, r"c='z' is outside"),
    ({"x": 0.0, "n": 1, "c": "a", "y": 1}, r"y is not"),
])
def test_a_point_outside_the_space_is_refused_before_any_trial(backend, point, message):
    calls = []
    with pytest.raises(ut.InvalidRunError, match=message):
        ut.minimize(lambda p: calls.append(p) or 0.0, SPACE, backend=backend, n_trials=2, enqueue=[point])
    assert calls == []


def test_an_inactive_branch_parameter_is_refused(backend):
    with pytest.raises(ut.InvalidRunError, match="model.knn.k is not active"):
        ut.Study(NESTED, backend=backend).enqueue({"model": "svm", "model.svm.C": 1.0, "model.knn.k": 2})


def test_a_partial_point_where_the_framework_samples_the_rest_or_a_clear_error(backend):
    cls = get_backend(backend)
    if not cls.partial_points:
        with pytest.raises(ut.UnsupportedFeatureError, match=r"partial known points \(missing: n, c\).*Backends "
                                                             r"that do: .*optuna"):
            ut.minimize(quadratic, SPACE, backend=backend, n_trials=2, enqueue=[{"x": 0.5}])
        return
    result = ut.minimize(quadratic, SPACE, backend=backend, seed=0, n_trials=3, enqueue=[{"x": 0.5}])
    first = by_number(result)[0]
    assert first.params["x"] == 0.5 and set(first.params) == {"x", "n", "c"}
    result.space.validate_assignment(first.params)


def test_callbacks_see_every_finished_trial_once_in_the_driver(backend):
    seen = []
    result = ut.minimize(quadratic, SPACE, backend=backend, seed=0, n_trials=6,
                         callbacks=[lambda study, record: seen.append((study.backend, record.number, record.state))])
    assert sorted(n for _, n, _ in seen) == sorted(r.number for r in result.records)
    assert {b for b, _, _ in seen} == {backend}


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_callbacks_and_known_points_of_a_parallel_run(backend, executor):
    if "ask_tell" not in get_backend(backend).features and executor == "process":
        pytest.skip("Ray Tune runs its own actors (the thread case covers it)")
    seen = []
    kwargs = {} if "ask_tell" not in get_backend(backend).features else {"executor": executor}
    result = ut.minimize(quadratic, SPACE, backend=backend, seed=0, n_trials=6, n_jobs=2, enqueue=POINTS,
                         callbacks=[lambda study, record: seen.append(record.number)], **kwargs)
    assert len(seen) == 6 and sorted(seen) == sorted(r.number for r in result.records)
    if kwargs:
        assert [r.params for r in by_number(result)[:2]] == POINTS
    else:  # Ray Tune called back live numbers its trials as they finish (a later trial may overtake one)
        assert sorted((r.params for r in result.records if r.info.get("enqueued")), key=repr) == \
            sorted(POINTS, key=repr)


def test_study_stop_ends_the_run_after_the_running_trials(backend):
    def stop_at_three(study, record):
        if len(study.records) >= 3:
            study.stop()

    result = ut.minimize(quadratic, SPACE, backend=backend, seed=0, n_trials=30, callbacks=[stop_at_three])
    assert len(result.records) == 3
    assert result.stop_reason == "stopped: study.stop()"


def test_study_stop_in_a_parallel_run_keeps_the_trials_in_flight(backend):
    def slow(p):
        time.sleep(0.05)
        return quadratic(p)

    kwargs = {} if "ask_tell" not in get_backend(backend).features else {"executor": "thread"}
    result = ut.minimize(slow, SPACE, backend=backend, seed=0, n_trials=30, n_jobs=2,
                         callbacks=[lambda study, record: study.stop("enough")], **kwargs)
    assert 1 <= len(result.records) <= 2 + 1  # the first trial, the one in flight beside it (Ray: one more live)
    assert all(r.state == "complete" for r in result.records)
    assert result.stop_reason == "enough"


def test_a_callback_that_raises_ends_the_run_and_keeps_the_finished_trials(backend, tmp_path):
    def boom(study, record):
        if len(study.records) == 2:
            raise RuntimeError("tracking server down")

    storage = str(tmp_path / "runs.db")
    with pytest.raises(RuntimeError, match="tracking server down") as caught:
        ut.minimize(quadratic, SPACE, backend=backend, seed=0, n_trials=20, callbacks=[boom], storage=storage,
                    name="s")
    assert len(caught.value.result.records) == 2
    assert caught.value.result.stop_reason == "callback error: RuntimeError: tracking server down"
    assert len(ut.load(storage, "s").records) == 2


def test_target_reached(backend):
    space = {"x": ut.uniform(0.0, 1.0)}
    result = ut.minimize(lambda p: p["x"], space, backend=backend, seed=0, n_trials=40,
                         enqueue=[{"x": 0.9}, {"x": 0.5}, {"x": 0.01}], callbacks=[ut.TargetReached(0.05)])
    assert len(result.records) == 3
    assert result.stop_reason == "stopped: TargetReached(0.05): trial 2 reached 0.01"


def test_target_reached_when_maximizing(backend):
    result = ut.maximize(lambda p: p["x"], {"x": ut.uniform(0.0, 1.0)}, backend=backend, seed=0, n_trials=40,
                         enqueue=[{"x": 0.1}, {"x": 0.95}], callbacks=[ut.TargetReached(0.9)])
    assert len(result.records) == 2


def test_no_improvement(backend):
    points = [{"x": v} for v in (0.5, 0.4, 0.45, 0.41, 0.6)]
    rule = ut.NoImprovement(3)
    result = ut.minimize(lambda p: p["x"], {"x": ut.uniform(0.0, 1.0)}, backend=backend, seed=0, n_trials=20,
                         enqueue=points, callbacks=[rule])
    assert len(result.records) == 5
    assert result.stop_reason == "stopped: NoImprovement(3, min_delta=0.0): 3 trials without improving on 0.4"
    # the rule starts afresh with the next run
    again = ut.minimize(lambda p: p["x"], {"x": ut.uniform(0.0, 1.0)}, backend=backend, seed=0, n_trials=20,
                        enqueue=points, callbacks=[rule])
    assert len(again.records) == 5


def test_wall_time_lets_the_running_trial_finish(backend):
    def slow(p):
        time.sleep(0.3)
        return p["x"]

    result = ut.minimize(slow, {"x": ut.uniform(0.0, 1.0)}, backend=backend, seed=0, n_trials=50,
                         callbacks=[ut.WallTime(0.5)])
    assert 1 <= len(result.records) <= 5
    assert all(r.state == "complete" and not math.isnan(r.value) for r in result.records)
    assert result.stop_reason.startswith("stopped: WallTime(0.5): ")


def test_bad_callbacks_are_refused_before_any_trial(backend):
    with pytest.raises(ut.InvalidRunError, match="callbacks must be a list"):
        ut.minimize(quadratic, SPACE, backend=backend, n_trials=2, callbacks=print)
    with pytest.raises(ut.InvalidRunError, match="is not callable"):
        ut.minimize(quadratic, SPACE, backend=backend, n_trials=2, callbacks=[3])
