"""Pending suggestions are distinct points, on every algorithm of every backend (issue 20, point 2).

Small discrete spaces are where frameworks repeat themselves: a GP's optimum rounds to the integer
point already pending, random search draws the same cell twice, TPE piles onto its best cell.  A
client that keeps pending points by their params (and the user paying for two identical runs) needs
every batch of ``ask(4)`` to be four different points, and no two trials of a parallel run to run at
the same params at once, as long as the space has that many points.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import unitune as ut
from unitune.registry import get_backend

from ..conftest import BACKENDS

# The space (100 points) and a categorical-only one (24 points: the batches exhaust it).
INTS = {"n_neighbors": ut.integer(1, 25), "p": ut.integer(1, 4)}
CATS = {"kernel": ut.choice(["rbf", "linear", "poly"]), "scale": ut.choice([None, True, 1, "auto"]),
        "shrink": ut.choice([False, True])}
SPACES = {"ints": INTS, "cats": CATS}
TINY = {"kernel": ut.choice(["rbf", "linear", "poly"]), "shrink": ut.choice([False, True])}  # 6 points

# Model-based algorithms start modelling early so most batches are the model's; the GP costs ~0.4 s a trial.
OPTIONS = {("optuna", "tpe"): {"n_startup_trials": 4}, ("optuna", "gp"): {"n_startup_trials": 4},
           ("optuna", "cmaes"): {"n_startup_trials": 4}, ("hyperopt", "tpe"): {"n_startup_jobs": 4},
           ("skopt", "gp"): {"n_initial_points": 4}, ("skopt", "forest"): {"n_initial_points": 4},
           ("skopt", "gbrt"): {"n_initial_points": 4}}
BATCHES = {("skopt", "gp"): 4, ("skopt", "forest"): 5, ("skopt", "gbrt"): 5, ("optuna", "gp"): 5}
CHEAP_BATCHES = 10


def smooth(p: dict[str, Any]) -> float:
    if "n_neighbors" in p:
        return (p["n_neighbors"] - 9) ** 2 / 25.0 + (p["p"] - 2) ** 2
    return (["rbf", "linear", "poly"].index(p["kernel"]) + [None, True, 1, "auto"].index(p["scale"])
            + 0.5 * p["shrink"])


def key(assignment: dict[str, Any]) -> tuple[Any, ...]:
    """A point, canonically: True and 1 (equal in Python) are different options."""
    return tuple((path, type(v).__name__, repr(v)) for path, v in sorted(assignment.items()))


def algorithms(loop: bool = False):
    for backend in BACKENDS:
        cls = get_backend(backend)
        if ("ask_tell" in cls.features) == loop:
            continue
        for algorithm in cls.algorithms:
            if (backend, algorithm) == ("optuna", "gp"):
                try:
                    import torch  # noqa: F401
                except ImportError:
                    continue
            yield pytest.param(backend, algorithm, id=f"{backend}-{algorithm}")


def size(space: dict[str, Any]) -> int:
    n = 1
    for dim in space.values():
        n *= len(dim.grid())
    return n


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize(("backend", "algorithm"), list(algorithms()))
def test_every_batch_of_ask_4_is_four_distinct_points(backend, algorithm, space_name):
    space = SPACES[space_name]
    study = ut.Study(space, backend=backend, algorithm=algorithm, seed=0, **OPTIONS.get((backend, algorithm), {}))
    repeats, evaluated = [], set()
    for number in range(BATCHES.get((backend, algorithm), CHEAP_BATCHES)):
        batch = study.ask(4)
        if not batch:  # an exhausted grid
            break
        for trial in batch:  # a replaced point is a point of the space, decoded like the framework's own
            study.space.validate_assignment(trial.assignment)
            assert trial.params == study.space.build(trial.assignment)
        keys = [key(t.assignment) for t in batch]
        if len(set(keys)) < len(keys):
            repeats.append((number, keys))
        evaluated.update(keys)
        for trial in batch:
            study.tell(trial, smooth(trial.params))
    assert not repeats, f"{len(repeats)} batch(es) with a repeated point: {repeats}"
    assert len(study.table) >= min(4 * 3, size(space))
    # a discarded repeat is no trial of the framework's: it holds exactly the told trials, with their values
    history = study._adapter.history()
    assert sorted(map(key, (h[0] for h in history))) == sorted(key(r.params) for r in study.records)


def test_a_replaced_repeat_says_so_in_its_record():
    # Hyperopt's TPE proposes its best cell again and again: re-asks repeat it, the nearest free point is taken
    study = ut.Study(CATS, backend="hyperopt", algorithm="tpe", seed=0, n_startup_jobs=4)
    for _ in range(6):
        batch = study.ask(4)
        for trial in batch:
            study.tell(trial, smooth(trial.params))
    notes = [r.info["distinct"] for r in study.records if "distinct" in r.info]
    assert any("nearest free point" in note for note in notes), notes
    assert all(note.startswith(("re-asked", "the framework repeated")) for note in notes)
    assert len(notes) < len(study.records)  # the framework's own points where they were distinct


@pytest.mark.parametrize(("backend", "algorithm"), list(algorithms()))
def test_a_point_asked_while_a_batch_is_pending_is_not_one_of_it(backend, algorithm):
    study = ut.Study(CATS, backend=backend, algorithm=algorithm, seed=1, **OPTIONS.get((backend, algorithm), {}))
    repeats = 0
    for _ in range(3 if (backend, algorithm) == ("skopt", "gp") else 6):
        batch = study.ask(3)
        single = study.ask()
        if not batch or single is None:
            break
        pending = {key(t.assignment) for t in batch}
        repeats += len(pending) < len(batch) or key(single.assignment) in pending
        for trial in [*batch, single]:
            study.tell(trial, smooth(trial.params))
    assert repeats == 0


def overlapping_repeats(records: list[Any]) -> list[tuple[int, int]]:
    """Pairs of trials that ran at the same params at the same time."""
    pairs = []
    for i, a in enumerate(records):
        for b in records[i + 1:]:
            if key(a.params) == key(b.params) and a.started < b.finished and b.started < a.finished:
                pairs.append((a.number, b.number))
    return pairs


def sleepy(p: dict[str, Any]) -> float:
    time.sleep(0.02)  # long enough for the two threads' trials to overlap
    return smooth(p)


def slow(p: dict[str, Any]) -> float:
    time.sleep(0.25)  # Ray's trials live for a while: an actor starts, results travel back
    return smooth(p)


@pytest.mark.parametrize(("backend", "algorithm"), list(algorithms()))
def test_no_two_concurrent_trials_of_a_parallel_run_share_their_params(backend, algorithm):
    n_trials = 10 if (backend, algorithm) == ("skopt", "gp") else 24
    result = ut.minimize(sleepy, CATS, backend=backend, algorithm=algorithm, seed=0, n_trials=n_trials, n_jobs=2,
                         executor="thread", **OPTIONS.get((backend, algorithm), {}))
    assert len(result.records) == n_trials
    assert not overlapping_repeats(result.records)


@pytest.mark.parametrize(("backend", "algorithm"), list(algorithms(loop=True)))
def test_a_loop_backend_runs_no_two_concurrent_trials_at_the_same_params(backend, algorithm):
    """Ray Tune has no ask/tell: its grid is distinct points; its random search redraws a live point."""
    space = CATS if algorithm == "grid" else TINY
    result = ut.minimize(slow, space, backend=backend, algorithm=algorithm, seed=0, n_trials=12, n_jobs=2)
    keys = [key(r.params) for r in result.records]
    assert len(keys) == 12
    if algorithm == "grid":
        assert len(set(keys)) == 12  # every trial its own grid point, concurrent or not
        return
    # Ray's own seed-0 draws here run trials 2&3, 5&6 and 8&9 at the same point at once: unitune redraws.
    assert not overlapping_repeats(result.records)
    assert any("distinct" in r.info for r in result.records)


@pytest.mark.ray
def test_ray_random_search_is_rays_own_sequence_one_at_a_time(tmp_path):
    """With one trial live at a time nothing is redrawn: the params are BasicVariantGenerator's, in order."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    result = ut.minimize(sleepy, CATS, backend="ray", seed=0, n_trials=12)
    codec = _ray_codec(CATS)
    tune.register_trainable("unitune_native_draws", lambda config: None)
    native = BasicVariantGenerator(random_state=0)
    native.add_configurations({"e": {"run": "unitune_native_draws", "config": codec.domains(tune), "num_samples": 12,
                                      "storage_path": str(tmp_path)}})
    expected = [codec.decode(native.next_trial().config) for _ in range(12)]
    assert [r.params for r in sorted(result.records, key=lambda r: r.number)] == expected
    assert len({key(p) for p in expected}) < 12  # the native draws do repeat: the redraw above was needed
    assert not any("distinct" in r.info for r in result.records)


def _ray_codec(space):
    from unitune.backends.ray import _Codec
    from unitune.space import as_space

    return _Codec(as_space(space))
