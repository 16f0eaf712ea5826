"""The run contract on every backend: seeds, failures, NaN, maximize, metrics, timeout, Ctrl-C, schema."""

from __future__ import annotations

import math
import os
import signal
import threading
import time

import pandas as pd
import pytest

import unitune as ut
from unitune.registry import get_backend

from .helpers import sample
from .profiles import profile

FLAT = {"x": ut.uniform(-3.0, 3.0), "n": ut.integer(1, 5), "c": ut.choice(["a", "b", None])}


def quadratic(p):
    return (p["x"] - 1.0) ** 2 + p["n"] + (p["c"] == "b")


def _params(result: ut.Result) -> list[dict]:
    """The suggestions by trial number (rows are in finish order, which concurrency may shuffle)."""
    return [r.params for r in sorted(result.records, key=lambda r: r.number)]


def test_default_algorithm_same_seed_same_suggestions(backend):
    n = profile(backend).seeded_n_trials
    a = ut.minimize(quadratic, FLAT, backend=backend, n_trials=n, seed=7)
    b = ut.minimize(quadratic, FLAT, backend=backend, n_trials=n, seed=7)
    c = ut.minimize(quadratic, FLAT, backend=backend, n_trials=n, seed=8)
    assert _params(a) == _params(b)
    assert _params(a) != _params(c)
    assert a.algorithm == get_backend(backend).default_algorithm


def test_every_seeded_algorithm_reproduces(backend):
    cls = get_backend(backend)
    space = {"x": ut.uniform(-3.0, 3.0, step=0.5), "n": ut.integer(1, 5), "c": ut.choice(["a", "b", None])}
    for algorithm in sorted(cls.seeded_algorithms):
        a = ut.minimize(quadratic, space, backend=backend, algorithm=algorithm, n_trials=6, seed=3)
        b = ut.minimize(quadratic, space, backend=backend, algorithm=algorithm, n_trials=6, seed=3)
        assert _params(a) == _params(b), algorithm
        for record in a.records:
            a.space.validate_assignment(record.params)


def test_failures_are_rows_and_the_run_goes_on(backend):
    def objective(p):
        if p["n"] == 2:
            raise RuntimeError(f"bad n {p['n']}")
        if p["n"] == 3:
            return float("nan")
        return quadratic(p)

    result, _ = sample(backend, FLAT, objective, n_trials=20)
    table = result.table
    assert len(table) == 20 and not result.interrupted
    failed = table[table["state"] == "failed"]
    assert set(failed["params.n"]) == {2, 3}
    raised = failed[failed["params.n"] == 2]
    assert raised["error"].str.startswith("RuntimeError: bad n 2").all()
    assert failed[failed["params.n"] == 3]["error"].str.contains("NaN").all()
    assert failed["value"].isna().all()
    complete = table[table["state"] == "complete"]
    assert len(complete) > 0 and complete["error"].isna().all()
    assert result.best_value == complete["value"].min()


def test_all_trials_fail(backend):
    def objective(p):
        raise ValueError("always")

    result, _ = sample(backend, FLAT, objective, n_trials=5)
    assert len(result.table) == 5
    assert (result.table["state"] == "failed").all()
    assert result.best_value is None and result.best_params is None and result.best is None


def test_infinite_values_do_not_break_the_backend(backend):
    def objective(p):
        return math.inf if p["n"] <= 2 else quadratic(p)

    result, _ = sample(backend, FLAT, objective, n_trials=15)
    assert len(result.table) == 15
    assert math.isfinite(result.best_value)


def test_maximize_keeps_values_as_returned(backend):
    result = ut.maximize(lambda p: -quadratic(p), FLAT, backend=backend,
                         algorithm=profile(backend).sampling_algorithm, n_trials=10, seed=1)
    table = result.table
    assert (table["value"] <= 0).all()
    assert result.best_value == table["value"].max()
    assert result.best["value"] == result.best_value


def test_metric_dict(backend):
    def objective(p):
        return {"loss": quadratic(p), "accuracy": 0.5, "note": "ok"}

    result, _ = sample(backend, FLAT, objective, n_trials=4, metric="loss")
    table = result.table
    assert list(table.columns).index("metrics.accuracy") > list(table.columns).index("params.c")
    assert (table["metrics.accuracy"] == 0.5).all() and (table["metrics.note"] == "ok").all()
    assert "metrics.loss" not in table.columns


def test_dict_without_metric_is_an_error(backend):
    with pytest.raises(ut.ObjectiveReturnError, match="metric="):
        ut.minimize(lambda p: {"loss": 1.0}, FLAT, backend=backend,
                    algorithm=profile(backend).sampling_algorithm, n_trials=3, seed=0)


def test_table_schema(backend):
    result, _ = sample(backend, FLAT, quadratic, n_trials=5)
    table = result.table
    assert list(table.columns) == [
        "trial", "backend", "algorithm", "seed", "state", "value", "params.x", "params.n", "params.c",
        "step", "started", "finished", "duration_s", "optimizer_s", "worker", "error",
    ]
    assert str(table["trial"].dtype) == "int64" and str(table["seed"].dtype) == "Int64"
    assert str(table["params.n"].dtype) == "Int64" and table["params.x"].dtype == "float64"
    assert table["params.c"].dtype == object and table["value"].dtype == "float64"
    assert isinstance(table["started"].dtype, pd.DatetimeTZDtype)
    assert (table["finished"] >= table["started"]).all() and (table["duration_s"] >= 0).all()
    assert table["worker"].str.fullmatch(r"[^:]+:\d+").all()  # host:pid of the process that ran the objective
    if get_backend(backend).features >= {"ask_tell"}:  # the framework's own time per trial (ask + tell)
        assert table["optimizer_s"].dtype == "float64" and (table["optimizer_s"] > 0).all()
    else:  # Ray Tune runs its own loop: no per-trial framework time to measure
        assert table["optimizer_s"].isna().all()
    assert (table["backend"] == backend).all() and (table["seed"] == 0).all()
    assert sorted(table["trial"]) == list(range(5))
    assert table["finished"].is_monotonic_increasing  # rows in the order trials finished


def test_tables_concatenate_across_backends(backend):
    mine, _ = sample(backend, FLAT, quadratic, n_trials=3)
    reference = ut.minimize(quadratic, FLAT, backend="optuna", algorithm="random", n_trials=3, seed=0)
    both = pd.concat([mine.table, reference.table], ignore_index=True)
    assert list(both.columns) == list(mine.table.columns)
    assert str(both["params.n"].dtype) == "Int64"


def test_report_fills_step(backend):
    def objective(p):
        for epoch in range(3):
            ut.report(quadratic(p) / (epoch + 1), step=epoch, epoch_metric=epoch)
        return quadratic(p) / 3

    result, _ = sample(backend, FLAT, objective, n_trials=4)
    assert (result.table["step"] == 2).all()
    assert (result.table["state"] == "complete").all()
    assert (result.table["metrics.epoch_metric"] == 2).all()


def test_default_n_jobs_runs_one_trial_at_a_time(backend):
    def objective(p):
        time.sleep(0.3)
        return quadratic(p)

    result, _ = sample(backend, FLAT, objective, n_trials=5)
    table = result.table.sort_values("started")
    assert len(table) == 5
    for earlier, later in zip(table.itertuples(), table.iloc[1:].itertuples(), strict=False):
        assert later.started >= earlier.finished, f"trials {earlier.trial} and {later.trial} overlapped"


def test_timeout_is_a_total_budget(backend):
    def objective(p):
        time.sleep(0.2)
        return quadratic(p)

    budget = profile(backend).timeout_s
    start = time.monotonic()
    result = ut.minimize(objective, FLAT, backend=backend, algorithm=profile(backend).sampling_algorithm,
                         timeout=budget, seed=0)
    elapsed = time.monotonic() - start
    assert result.stop_reason == "timeout" and not result.interrupted
    assert 1 <= len(result.table) <= budget / 0.2 + 2
    assert (result.table["state"] == "complete").sum() >= 1
    assert elapsed < budget + profile(backend).timeout_slack_s  # the budget, plus one trial and shutdown


def test_trial_running_at_timeout_is_stopped_and_recorded(backend):
    if not profile(backend).objective_in_driver:
        pytest.skip("checked in the backend's own tests: the objective runs in a worker process")

    def objective(p):
        time.sleep(30)
        return 0.0

    start = time.monotonic()
    result = ut.minimize(objective, FLAT, backend=backend, algorithm=profile(backend).sampling_algorithm,
                         timeout=1.0, seed=0)
    assert time.monotonic() - start < 5
    assert len(result.table) == 1 and result.table["state"].iloc[0] == "failed"
    assert result.table["error"].iloc[0].startswith("TrialTimeout")


@pytest.fixture
def sigint_raises_keyboardinterrupt():
    """Ctrl-C as in an interactive shell: a suite started in the background inherits SIGINT as ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_returns_finished_trials(backend, tmp_path, sigint_raises_keyboardinterrupt):
    calls = []
    started = tmp_path / "started"

    def objective(p):
        calls.append(1)
        if profile(backend).objective_in_driver and len(calls) == 4:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C while trial 3 runs
        started.touch()
        time.sleep(0.05)
        return quadratic(p)

    def ctrl_c_once_trials_run():  # the objective runs in worker processes: watch for it, then Ctrl-C
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGINT)

    watcher = None
    if not profile(backend).objective_in_driver:
        watcher = threading.Thread(target=ctrl_c_once_trials_run, daemon=True)
        watcher.start()
    result = ut.minimize(objective, FLAT, backend=backend, algorithm=profile(backend).sampling_algorithm,
                         n_trials=400, seed=0)
    if watcher:
        watcher.join()
    table = result.table
    assert result.interrupted and result.stop_reason == "interrupted"
    assert 1 <= len(table) < 400
    assert (table["state"] == "complete").sum() >= 1
    if profile(backend).objective_in_driver:
        assert len(table) == 4
        assert table["state"].iloc[-1] == "failed" and "KeyboardInterrupt" in table["error"].iloc[-1]
    # the interrupted run is still a usable result
    assert result.best_value is not None
