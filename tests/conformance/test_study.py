"""``ut.Study`` ask/tell on every backend that proposes trials on request; the loop-driven ones refuse it."""

from __future__ import annotations

import math
import threading

import pytest

import unitune as ut
from unitune.registry import get_backend

from .helpers import run_or_expect

FLAT = {"x": ut.uniform(-3.0, 3.0), "n": ut.integer(1, 5), "c": ut.choice(["a", "b", None])}


def quadratic(p):
    return (p["x"] - 1.0) ** 2 + p["n"] + (p["c"] == "b")


def asks_and_tells(backend: str) -> bool:
    return "ask_tell" in get_backend(backend).features


@pytest.fixture
def ask_tell_backend(backend):
    """The backend, where Study.ask works; else the exact error it is declared to raise, then xfail."""
    run_or_expect(backend, "ask_tell", lambda: ut.Study(FLAT, backend=backend, seed=0).ask())
    assert asks_and_tells(backend)
    return backend


def test_a_loop_driven_backend_names_the_backends_that_ask_and_tell(backend):
    if asks_and_tells(backend):
        assert isinstance(ut.Study(FLAT, backend=backend, seed=0).ask(), ut.Trial)
        return
    with pytest.raises(ut.UnsupportedFeatureError, match=r"ask/tell.*Backends that do: optuna, hyperopt, skopt"):
        ut.Study(FLAT, backend=backend, seed=0).ask()


def told_values_are_digestible(study: ut.Study) -> None:
    """The framework holds every finished trial and never a NaN."""
    history = study._adapter.history()
    assert len(history) == len(study.records)
    assert all(value is None or not math.isnan(value) for _, value in history), history


def test_batch_told_in_reverse_with_a_failure_and_a_nan(ask_tell_backend):
    study = ut.Study(FLAT, backend=ask_tell_backend, seed=0)
    batch = study.ask(4)
    assert [t.number for t in batch] == [0, 1, 2, 3] and len(study.pending) == 4
    assert len({(t.params["x"], t.params["n"], t.params["c"]) for t in batch}) == 4  # distinct pending points
    outcomes = {3: RuntimeError("worker lost"), 2: math.nan}
    for trial in reversed(batch):
        study.tell(trial, outcomes.get(trial.number, quadratic(trial.params)))
    following = study.ask()
    assert following.number == 4
    study.tell(following, quadratic(following.params))
    table = study.table
    assert list(table["trial"]) == [3, 2, 1, 0, 4]  # rows in the order they were told
    assert list(table["state"]) == ["failed", "failed", "complete", "complete", "complete"]
    assert table["error"].iloc[0] == "RuntimeError: worker lost" and "NaN" in table["error"].iloc[1]
    assert (table["optimizer_s"] > 0).all() and not study.pending
    told_values_are_digestible(study)


def test_sequential_ask_tell_gives_the_sequence_of_minimize(ask_tell_backend):
    n = 12 if ask_tell_backend == "skopt" else 15
    options = {"n_initial_points": 5} if ask_tell_backend == "skopt" else {}
    study = ut.Study(FLAT, backend=ask_tell_backend, seed=3, **options)
    for _ in range(n):
        trial = study.ask()
        study.tell(trial, quadratic(trial.params))
    reference = ut.minimize(quadratic, FLAT, backend=ask_tell_backend, seed=3, n_trials=n, **options)
    assert [r.params for r in study.records] == [r.params for r in reference.records]
    assert [r.value for r in study.records] == [r.value for r in reference.records]


def test_tell_refuses_trials_that_are_not_pending(ask_tell_backend):
    study = ut.Study(FLAT, backend=ask_tell_backend, seed=0)
    other = ut.Study(FLAT, backend=ask_tell_backend, seed=0)
    trial, foreign = study.ask(), other.ask()
    study.tell(trial, 1.0)
    with pytest.raises(ut.InvalidTellError, match="already told"):
        study.tell(trial, 2.0)
    with pytest.raises(ut.InvalidTellError, match="another study"):
        study.tell(foreign, 1.0)
    with pytest.raises(ut.InvalidTellError, match="not a pending trial"):
        study.tell(99, 1.0)
    with pytest.raises(ut.InvalidTellError, match="needs a value"):
        study.tell(study.ask())
    assert len(study.table) == 1 and len(study.pending) == 1


def test_tell_takes_numbers_metrics_states_and_exceptions(ask_tell_backend):
    study = ut.Study(FLAT, backend=ask_tell_backend, seed=0, metric="loss")
    a, b, c, d = study.ask(4)
    study.tell(a, {"loss": 0.5, "accuracy": 0.9})
    study.tell(b.number, state="failed", error="OOM: out of memory")
    assert not c.report(2.0, step=0) and not c.report(1.5)  # no scheduler: never stop
    study.tell(c, state="pruned")
    study.tell(d, ValueError("bad batch"))
    table = study.table.set_index("trial")
    assert table.loc[0, "state"] == "complete" and table.loc[0, "metrics.accuracy"] == 0.9
    assert table.loc[1, "state"] == "failed" and table.loc[1, "error"] == "OOM: out of memory"
    assert table.loc[2, "state"] == "pruned" and table.loc[2, "value"] == 1.5 and table.loc[2, "step"] == 1
    assert table.loc[3, "error"] == "ValueError: bad batch"
    told_values_are_digestible(study)


def test_trial_report_asks_the_studys_scheduler(ask_tell_backend):
    study = ut.Study({"q": ut.uniform(0.0, 1.0)}, backend=ask_tell_backend, algorithm="random", seed=0,
                     scheduler="median", scheduler_options={"n_startup_trials": 2})
    stopped = []
    for _ in range(12):
        trial = study.ask()
        for step in range(6):
            if trial.report(trial.params["q"] + 1.0 / (step + 1), step=step):
                study.tell(trial, state="pruned")
                stopped.append(trial.number)
                break
        else:
            study.tell(trial, trial.params["q"] + 1.0 / 6)
    assert stopped, study.table[["state", "params.q"]]
    assert (study.table.set_index("trial").loc[stopped, "state"] == "pruned").all()


def test_concurrent_asks_from_threads_each_decode_to_their_own_params(ask_tell_backend):
    study = ut.Study(FLAT, backend=ask_tell_backend, algorithm="random", seed=0)
    trials: list[ut.Trial] = []
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait()
        for _ in range(2):
            trials.append(study.ask())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(t.number for t in trials) == list(range(8))
    for trial in trials:
        study.space.validate_assignment(trial.assignment)
        assert trial.params == study.space.build(trial.assignment)
    for trial in trials:
        study.tell(trial, quadratic(trial.params))
    # what the framework holds for each trial is that trial's params with that trial's value
    sign = 1.0
    for params, told in study._adapter.history():
        assert told == pytest.approx(sign * quadratic(study.space.build(params)))
    assert len({(t.params["x"], t.params["n"]) for t in trials}) == 8


def test_every_option_is_checked_before_any_framework_object(backend):
    for bad in ({"scheduler": "asha", "scheduler_options": {"no_such_option": 1}},
                {"no_such_algorithm_option": 1}):
        with pytest.raises(ut.UnknownOptionError, match="no_such"):
            ut.Study(FLAT, backend=backend, **bad)
        with pytest.raises(ut.UnknownOptionError, match="no_such"):
            ut.minimize(quadratic, FLAT, backend=backend, n_trials=1, **bad)


def test_a_misspelt_argument_says_what_was_meant(backend):
    with pytest.raises(ut.UnknownOptionError, match="Did you mean 'n_trials'"):
        ut.minimize(quadratic, FLAT, backend=backend, n_trails=3)
    with pytest.raises(ut.InvalidRunError, match="argument of Study.optimize"):
        ut.Study(FLAT, backend=backend, n_trials=3)


def test_a_bad_scheduler_option_is_refused_before_ray_starts():
    import subprocess
    import sys

    pytest.importorskip("ray")
    code = ("import unitune as ut\n"
            "try:\n"
            "    ut.minimize(lambda p: 0.0, {'x': ut.uniform(0.0, 1.0)}, backend='ray', n_trials=2, scheduler='asha',\n"
            "                scheduler_options={'no_such_option': 1})\n"
            "except ut.UnknownOptionError as e:\n"
            "    print('refused:', e)\n"
            "import ray\n"
            "print('ray started:', ray.is_initialized())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert "refused: backend 'ray' scheduler_options of scheduler 'asha' takes no option(s) no_such_option" in out
    assert "ray started: False" in out
