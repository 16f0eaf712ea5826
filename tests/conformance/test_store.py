"""A stored study on every backend: nothing lost on kill -9, resume with the history, refusals, warm start."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import unitune as ut
from unitune.registry import get_backend

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"x": ut.uniform(-5.0, 5.0), "y": ut.uniform(-5.0, 5.0), "k": ut.choice(["a", None, (1, 2)])}


def bowl(p):
    return (p["x"] - 1.5) ** 2 + (p["y"] + 2.0) ** 2 + (p["k"] is None)


def asks_and_tells(backend: str) -> bool:
    return "ask_tell" in get_backend(backend).features


# skopt's GP is ~1 s a trial on these machines with L-BFGS restarts; sampling the acquisition keeps the
# model-based tests to seconds (the GP and its history are the same).
FAST = {"skopt": {"acq_optimizer": "sampling", "n_points": 2000}}


KILLED = textwrap.dedent(
    """
    import sys, time, warnings
    warnings.simplefilter("ignore")
    import unitune as ut
    from tests.conformance.test_store import SPACE, bowl

    LOG = sys.argv[4]  # a global: the objective may run in a Ray worker, whose sys.argv is its own

    def objective(p):
        with open(LOG, "a") as starts:  # a file: on Ray the objective runs in a worker process
            starts.write("start\\n")
        time.sleep(0.05)
        return bowl(p)

    ut.minimize(objective, SPACE, backend=sys.argv[1], algorithm="random", n_trials=int(sys.argv[3]), seed=0,
                storage=sys.argv[2], name="crash", resume=True)
    """
)


def test_kill_9_mid_run_loses_no_finished_trial_and_resume_finishes_the_budget(backend, tmp_path):
    db, n, log = str(tmp_path / "runs.db"), 30, tmp_path / "starts.log"
    log.touch()
    proc = subprocess.Popen([sys.executable, "-c", KILLED, backend, db, str(n), str(log)], cwd=ROOT)
    deadline = time.monotonic() + 120
    while len(log.read_text().splitlines()) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    starts = len(log.read_text().splitlines())
    stored = ut.load(db, "crash")
    if asks_and_tells(backend):
        # Trials are committed before the next one is asked: the 8th had started, so 7 are in the store.
        assert len(stored.table) == starts - 1 == 7
    else:
        # Ray Tune's driver commits a trial when it processes its end, which may come after the next one
        # started in the reused actor: at most one finished trial behind.
        assert starts - 2 <= len(stored.table) <= starts - 1
    for record in stored.records:  # params and values intact, choice objects as the space defines them
        assert record.state == "complete" and record.value == bowl(stored.space.build(record.params))
    resumed = ut.minimize(bowl, SPACE, backend=backend, algorithm="random", n_trials=n, seed=0, storage=db,
                          name="crash", resume=True)
    table = resumed.table
    numbers = sorted(table["trial"])
    assert numbers == sorted(set(numbers)) and len(table) == n  # the whole budget, no number twice
    assert list(table["trial"][:len(stored.table)]) == list(stored.table["trial"])  # the stored rows first
    lost = table[table["state"] == "failed"]
    if asks_and_tells(backend):  # the trial running at the kill: reserved in the store, found orphaned
        assert len(lost) == 1 and lost["error"].iloc[0].startswith("WorkerLost")
    else:  # Ray's numbers are taken when a trial is committed: the unfinished one simply never was
        assert len(lost) == 0
    assert len(ut.load(db, "crash").table) == n


def test_resume_tells_the_framework_its_history(backend, tmp_path):
    if not asks_and_tells(backend):
        pytest.xfail("Ray Tune has no history to replay into: a resumed Ray study keeps its stored rows and "
                     "draws its random search from seed + N")
    db = str(tmp_path / "runs.db")
    options = {"n_initial_points": 5, **FAST["skopt"]} if backend == "skopt" else {}
    n = 12 if backend == "skopt" else 25
    first = ut.minimize(bowl, SPACE, backend=backend, n_trials=n, seed=1, storage=db, name="s", **options)
    best = first.best_params
    resumed = ut.Study(SPACE, backend=backend, seed=2, storage=db, name="s", resume=True, **options)
    cold = ut.Study(SPACE, backend=backend, seed=2, **options)
    assert len(resumed.table) == n and resumed._adapter is None  # the framework starts at the first ask

    def distance(trials):
        return sum(math.hypot(t.params["x"] - best["x"], t.params["y"] - best["y"]) for t in trials) / len(trials)

    warm_trials = [resumed.ask() for _ in range(4)]
    assert len(resumed._adapter.history()) == n  # the framework holds every stored trial
    assert [t.number for t in warm_trials] == [n, n + 1, n + 2, n + 3]  # numbering goes on
    cold_trials = [cold.ask() for _ in range(4)]
    assert distance(warm_trials) < distance(cold_trials)


def test_refusals_say_what_is_wrong(backend, tmp_path):
    db = str(tmp_path / "runs.db")
    ut.minimize(bowl, SPACE, backend=backend, algorithm="random", n_trials=2, seed=0, storage=db, name="s")
    with pytest.raises(ut.StudyExistsError, match="resume=True"):
        ut.Study(SPACE, backend=backend, algorithm="random", storage=db, name="s")
    other = "optuna" if backend != "optuna" else "hyperopt"
    with pytest.raises(ut.InvalidRunError, match=f"created with backend {backend!r}.*{other!r}"):
        ut.Study(SPACE, backend=other, algorithm="random", storage=db, name="s", resume=True)
    with pytest.raises(ut.InvalidRunError, match="direction 'minimize'.*'maximize'"):
        ut.Study(SPACE, backend=backend, algorithm="random", direction="maximize", storage=db, name="s", resume=True)
    default = get_backend(backend).default_algorithm
    if default != "random":
        with pytest.raises(ut.InvalidRunError, match=f"algorithm 'random'.*{default!r}"):
            ut.Study(SPACE, backend=backend, storage=db, name="s", resume=True)
    with pytest.raises(ut.InvalidRunError, match="space changed: parameter 'y' removed"):
        ut.Study({"x": SPACE["x"], "k": SPACE["k"]}, backend=backend, algorithm="random", storage=db, name="s",
                 resume=True)
    with pytest.raises(ut.StorageError):
        ut.Study(SPACE, backend=backend, storage=str(tmp_path), name="s")  # a directory
    text = tmp_path / "notes.txt"
    text.write_text("not a store\n")
    with pytest.raises(ut.StorageError):
        ut.Study(SPACE, backend=backend, storage=str(text), name="s")
    assert text.read_text() == "not a store\n"
    assert len(ut.load(db, "s").table) == 2  # the study is as it was


BRANIN = {"x1": ut.uniform(-5.0, 10.0), "x2": ut.uniform(0.0, 15.0)}


def branin(p):
    x1, x2 = p["x1"], p["x2"]
    return (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * \
        math.cos(x1) + 10


def test_warm_start_from_another_backend_improves_on_a_cold_start(backend, tmp_path):
    if not asks_and_tells(backend):
        with pytest.raises(ut.UnsupportedFeatureError, match="warm_start.*Backends that do: optuna"):
            ut.Study(BRANIN, backend=backend, warm_start=[])
        pytest.xfail(f"{backend} has no way to learn from trials it did not run")
    source = "hyperopt" if backend != "hyperopt" else "optuna"
    earlier = ut.minimize(branin, BRANIN, backend=source, algorithm="random", n_trials=40, seed=3)
    db = str(tmp_path / "runs.db")
    ut.minimize(branin, BRANIN, backend=source, algorithm="random", n_trials=40, seed=3, storage=db, name="earlier")
    n, fast = 8, FAST.get(backend, {})
    colds, warms = [], []
    for seed in (0, 1):
        colds.append(ut.minimize(branin, BRANIN, backend=backend, n_trials=n, seed=seed, **fast).best_value)
        warm = ut.minimize(branin, BRANIN, backend=backend, n_trials=n, seed=seed, **fast,
                           warm_start=earlier if seed == 0 else (db, "earlier"))
        assert len(warm.table) == n  # the warm-start trials are told to the framework, not rows of this study
        warms.append(warm.best_value)
    assert sum(warms) < sum(colds), (warms, colds)


def test_warm_start_from_a_table_skips_trials_outside_the_space(backend):
    if not asks_and_tells(backend):
        pytest.xfail("Ray Tune takes no history")
    earlier = ut.minimize(branin, {"x1": ut.uniform(-5.0, 20.0), "x2": ut.uniform(0.0, 15.0)}, backend="optuna",
                          algorithm="random", n_trials=30, seed=0)
    outside = int((earlier.table["params.x1"] > 10.0).sum())
    assert outside > 0
    with pytest.warns(UserWarning, match=f"warm_start: {outside} of 30 trials"):
        study = ut.Study(BRANIN, backend=backend, seed=0, warm_start=earlier.table)
    study.ask()
    assert len(study._adapter.history()) == 30 - outside


def test_a_stored_study_commits_each_trial_before_the_next_ask(backend, tmp_path):
    db = str(tmp_path / "runs.db")
    seen = []

    def objective(p):
        seen.append(len(ut.load(db, "s").table))  # what another process would read right now
        return bowl(p)

    ut.minimize(objective, SPACE, backend=backend, algorithm="random", n_trials=5, seed=0, storage=db, name="s")
    if asks_and_tells(backend):
        assert seen == [0, 1, 2, 3, 4]
    assert len(ut.load(db, "s").table) == 5 and os.path.getsize(db) > 0
