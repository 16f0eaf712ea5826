"""Parallel trials: every contract on every ask/tell backend × executor (thread, process, Ray tasks, Dask).

Real processes, a real Ray runtime (the session's, shared with tests/test_ray.py) and a real Dask
``LocalCluster``; nothing timed here (speed-ups: benchmarks/parallel.py).
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import unitune as ut
from unitune.registry import get_backend

from ..conftest import BACKENDS

ASK_TELL = [b for b in BACKENDS if "ask_tell" in get_backend(b).features]
EXECUTORS = ["process", "thread", "ray", "dask"]
SPACE = {"x": ut.uniform(0.0, 1.0), "n": ut.integer(1, 5)}
DRIVER = os.getpid()

# Objectives here use this module's helpers: pickled by value, a worker does not import the test module
# (whose conftest imports every framework), just as a user's script travels.
cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child is dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return True


@pytest.fixture(scope="module")
def dask_executor():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       host="127.0.0.1", silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    yield client.get_executor()
    client.close()
    cluster.close()


@pytest.fixture(params=EXECUTORS)
def executor(request):
    if request.param == "ray":
        pytest.importorskip("ray")
        return "ray"
    if request.param == "dask":
        return request.getfixturevalue("dask_executor")
    return request.param


def kind(executor) -> str:
    return executor if isinstance(executor, str) else "dask"


@pytest.fixture(params=ASK_TELL)
def ask_tell(request):
    return request.param


def once(path: Path) -> bool:
    """True for exactly one caller across processes (the first to create ``path``)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def test_failure_contract_crash_raise_nan_and_a_closure(ask_tell, executor, tmp_path):
    crashes = kind(executor) in ("process", "ray")  # a crash of a thread or a Dask worker is not ours to survive

    def objective(p):  # a closure over tmp_path: travels by value with cloudpickle
        if crashes and once(tmp_path / "crash"):
            os._exit(1)
        if once(tmp_path / "raise"):
            raise RuntimeError("bad trial")
        if once(tmp_path / "nan"):
            return math.nan
        time.sleep(0.05)
        return p["x"] + p["n"]

    result = ut.minimize(objective, SPACE, backend=ask_tell, algorithm="random", seed=0, n_trials=8, n_jobs=2,
                         executor=executor)
    table = result.table
    assert len(table) == 8 and not result.interrupted and result.stop_reason == "n_trials"
    assert sorted(table["trial"]) == list(range(8))
    errors = table["error"].dropna().tolist()
    assert sum(e.startswith("RuntimeError: bad trial") for e in errors) == 1
    assert sum("NaN" in e for e in errors) == 1
    if crashes:
        crashed = [e for e in errors if e.startswith("WorkerCrashed")]
        assert len(crashed) == 1, errors
        if kind(executor) == "process":
            assert crashed[0] == "WorkerCrashed: the worker process exited with code 1"
    complete = table[table["state"] == "complete"]
    assert len(complete) == 8 - len(errors) and complete["error"].isna().all()
    assert result.best_value == complete["value"].min()
    if kind(executor) != "thread":  # the objective ran outside the driver
        pids = {int(w.rsplit(":", 1)[1]) for w in complete["worker"]}
        assert DRIVER not in pids
    history = result  # the framework was told every trial, never a NaN
    assert len(history.records) == 8


def test_segfault_is_a_failed_row_and_the_run_goes_on(ask_tell, tmp_path):
    def objective(p):
        if once(tmp_path / "segv"):
            import ctypes

            ctypes.string_at(0)  # SIGSEGV in the worker process
        return p["x"]

    result = ut.minimize(objective, SPACE, backend=ask_tell, algorithm="random", seed=0, n_trials=4, n_jobs=2,
                         executor="process")
    table = result.table
    assert len(table) == 4 and (table["state"] == "complete").sum() == 3
    assert table["error"].dropna().tolist() == ["WorkerCrashed: the worker process was killed by SIGSEGV (signal 11)"]


def test_trials_run_at_once_in_worker_processes(ask_tell, tmp_path):
    def objective(p):  # each trial waits (up to 30 s) until another one is running too
        (tmp_path / f"started-{time.monotonic_ns()}").touch()
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        return p["x"]

    result = ut.minimize(objective, SPACE, backend=ask_tell, seed=0, n_trials=4, n_jobs=2)  # default: "process"
    table = result.table.sort_values("started")
    assert (table["state"] == "complete").all()
    assert table["worker"].nunique() == 2 and not table["worker"].str.endswith(f":{DRIVER}").any()
    first, second = table.iloc[0], table.iloc[1]
    assert second["started"] < first["finished"]  # two trials in flight at once


def test_timeout_stops_the_running_trials(ask_tell, executor, tmp_path):
    stoppable = kind(executor) in ("process", "ray")
    sleep_s = 60 if stoppable else 3  # threads and foreign executors abandon the trial: keep it short
    budget = 6.0 if kind(executor) == "ray" else 2.0  # a Ray task may wait seconds for a new worker process

    def objective(p):
        (tmp_path / f"pid-{os.getpid()}-{uuid.uuid4().hex}").touch()
        time.sleep(sleep_s)
        return p["x"]

    start = time.monotonic()
    result = ut.minimize(objective, SPACE, backend=ask_tell, algorithm="random", seed=0, timeout=budget, n_jobs=2,
                         executor=executor)
    elapsed = time.monotonic() - start
    table = result.table
    assert result.stop_reason == "timeout" and not result.interrupted
    assert elapsed < budget + 3.0, elapsed
    assert len(table) == 2 and (table["state"] == "failed").all()
    assert table["error"].str.startswith("TrialTimeout").all()
    if stoppable:  # the workers that ran them were killed
        pids = {int(p.name.split("-")[1]) for p in tmp_path.glob("pid-*")}
        assert pids and DRIVER not in pids
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in pids)


def test_ctrl_c_returns_the_finished_trials_and_leaves_no_worker(ask_tell, executor, tmp_path):
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a suite started in the background ignores SIGINT
    stoppable = kind(executor) in ("process", "ray")
    long_s = 60 if stoppable else 4  # abandoned by threads and foreign executors: keep it short

    def objective(p):  # three quick trials, then every trial runs long: Ctrl-C comes while two run
        (tmp_path / f"pid-{os.getpid()}-{uuid.uuid4().hex}").touch()
        # The trial's place in start order, claimed atomically (two trials may start at the same instant,
        # in threads of one process or in two processes): the first three are quick.
        place = 0
        while True:
            try:
                os.close(os.open(tmp_path / f"place-{place}", os.O_CREAT | os.O_EXCL))
                break
            except FileExistsError:
                place += 1
        time.sleep(0.1 if place < 3 else long_s)
        return p["x"]

    def ctrl_c_while_two_run():
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("pid-*"))) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    sent: list[float] = []
    watcher = threading.Thread(target=ctrl_c_while_two_run, daemon=True)
    watcher.start()
    result = ut.minimize(objective, SPACE, backend=ask_tell, algorithm="random", seed=0, n_trials=200, n_jobs=2,
                         executor=executor)
    returned = time.monotonic()
    watcher.join()
    table = result.table
    assert result.interrupted and result.stop_reason == "interrupted"
    assert returned - sent[0] < 3.0  # the run did not wait for the running trials
    assert list(table["state"]) == ["complete"] * 3 + ["failed"] * 2
    assert table["error"].iloc[3:].str.startswith("KeyboardInterrupt").all()
    assert result.best_value is not None
    pids = {int(p.name.split("-")[1]) for p in tmp_path.glob("pid-*")}
    if kind(executor) != "thread":
        assert DRIVER not in pids
    if stoppable:  # the processes that were running trials are gone (Ray keeps only its idle workers)
        running = {int(w.rsplit(":", 1)[1]) for w in table["worker"].iloc[3:].dropna()} if kind(executor) == "process" \
            else pids - {int(w.rsplit(":", 1)[1]) for w in table["worker"].iloc[:3]}
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in running) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in running)
    if kind(executor) == "process":  # and unitune's own workers are all gone
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in pids)


STEPS = 8


def learning_curve(p):
    for step in range(STEPS):
        time.sleep(0.005)
        ut.report(p["x"] + 1.0 / (step + 1), step=step)
    return p["x"] + 1.0 / STEPS


def test_pruning_is_decided_in_the_driver(ask_tell, executor):
    options = {"n_startup_trials": 3} if ask_tell == "optuna" else {"n_startup_trials": 3, "n_warmup_steps": 0}
    if ask_tell != "optuna":
        options = {k: v for k, v in options.items() if k in get_backend(ask_tell).scheduler_option_names("median")}
    result = ut.minimize(learning_curve, {"x": ut.uniform(0.0, 1.0)}, backend=ask_tell, algorithm="random",
                         seed=0, n_trials=16, n_jobs=2, executor=executor, scheduler="median",
                         scheduler_options=options)
    table = result.table
    pruned, complete = table[table["state"] == "pruned"], table[table["state"] == "complete"]
    assert len(pruned) >= 3, table[["state", "step", "params.x"]]
    assert (pruned["step"] <= STEPS - 1).all() and (complete["step"] == STEPS - 1).all()
    assert (pruned["step"] < STEPS - 1).sum() >= 2  # stopped early, not only at the last report
    for _, row in pruned.iterrows():
        assert row["value"] == pytest.approx(row["params.x"] + 1.0 / (row["step"] + 1))
    assert pruned["params.x"].mean() > complete["params.x"].mean()
    if kind(executor) != "thread":
        assert not pruned["worker"].str.endswith(f":{DRIVER}").any()


def test_a_dict_without_metric_still_stops_the_run(ask_tell, executor):
    with pytest.raises(ut.ObjectiveReturnError, match="metric="):
        ut.minimize(lambda p: {"loss": p["x"]}, SPACE, backend=ask_tell, algorithm="random", seed=0, n_trials=6,
                    n_jobs=2, executor=executor)


def test_a_lambda_travels_to_worker_processes(ask_tell):
    offset = 10.0
    result = ut.minimize(lambda p: offset + p["x"], SPACE, backend=ask_tell, algorithm="random", seed=0,
                         n_trials=3, n_jobs=2, executor="process")
    assert (result.table["state"] == "complete").all() and (result.table["value"] >= offset).all()


def test_executor_errors_before_any_trial(ask_tell, tmp_path):
    lock = threading.Lock()
    calls = tmp_path / "calls"

    def unpicklable(p):
        with lock:
            calls.touch()
        return 0.0

    with pytest.raises(ut.InvalidRunError, match="cannot be pickled.*executor='thread'"):
        ut.minimize(unpicklable, SPACE, backend=ask_tell, n_trials=2, n_jobs=2)
    with pytest.raises(ut.InvalidRunError, match="executor must be one of"):
        ut.minimize(unpicklable, SPACE, backend=ask_tell, n_trials=2, n_jobs=2, executor="gpu")
    assert not calls.exists()
    result = ut.minimize(unpicklable, SPACE, backend=ask_tell, n_trials=2, n_jobs=2, executor="thread")
    assert (result.table["state"] == "complete").all() and calls.exists()


def test_ray_tune_refuses_other_executors_before_any_trial():
    if "ray" not in BACKENDS:
        pytest.skip("ray is not installed")
    with pytest.raises(ut.UnsupportedFeatureError, match=r"executor='thread'.*Backends that do: .*optuna"):
        ut.minimize(lambda p: 0.0, SPACE, backend="ray", n_trials=2, n_jobs=2, executor="thread")


# -- pending-aware algorithms: k concurrent suggestions are k distinct points --------------------------------
MODEL_BASED = [("optuna", "tpe", {}), ("optuna", "gp", {}), ("hyperopt", "tpe", {}),
               ("skopt", "gp", {"n_initial_points": 5}), ("skopt", "forest", {"n_initial_points": 5})]
MIXED = {"x": ut.uniform(-2.0, 2.0), "y": ut.uniform(-2.0, 2.0), "n": ut.integer(1, 3)}


def bowl(p):
    return (p["x"] - 0.3) ** 2 + (p["y"] + 0.2) ** 2 + 0.1 * p["n"]


def model_based():
    for backend, algorithm, options in MODEL_BASED:
        if backend not in ASK_TELL:
            continue
        if (backend, algorithm) == ("optuna", "gp"):
            try:
                import torch  # noqa: F401
            except ImportError:
                continue
        yield pytest.param(backend, algorithm, options, id=f"{backend}-{algorithm}")


@pytest.mark.parametrize(("backend", "algorithm", "options"), list(model_based()))
def test_a_batch_of_pending_trials_is_distinct_points(backend, algorithm, options):
    study = ut.Study(MIXED, backend=backend, algorithm=algorithm, seed=0, **options)
    startup = {"optuna": 10, "hyperopt": 20}.get(backend, 5)
    for _ in range(startup + 2):  # past the random start-up: the model proposes
        trial = study.ask()
        study.tell(trial, bowl(trial.params))
    batch = study.ask(4)
    points = {(round(t.params["x"], 6), round(t.params["y"], 6), t.params["n"]) for t in batch}
    assert len(points) == 4, points
    # and one at a time while the batch is pending (a slot freed in a parallel run)
    extra = study.ask()
    assert (round(extra.params["x"], 6), round(extra.params["y"], 6), extra.params["n"]) not in points


@pytest.mark.parametrize(("backend", "algorithm", "options"), list(model_based()))
def test_concurrent_trials_of_a_parallel_run_are_distinct(backend, algorithm, options):
    startup = {"optuna": {"n_startup_trials": 4}, "hyperopt": {"n_startup_jobs": 4}}.get(backend, options)
    result = ut.minimize(bowl, MIXED, backend=backend, algorithm=algorithm, seed=0, n_trials=14, n_jobs=3,
                         executor="thread", **startup)
    points = [(r.params["x"], r.params["y"], r.params["n"]) for r in result.records]
    assert len(set(points)) == len(points)


def test_n_jobs_one_with_an_executor_runs_in_one_worker_process():
    result = ut.minimize(lambda p: p["x"], SPACE, backend=ASK_TELL[0], seed=0, n_trials=3, executor="process")
    assert result.table["worker"].nunique() == 1 and not result.table["worker"].str.endswith(f":{DRIVER}").any()


def test_reports_of_a_json_roundtrip():  # records travel as plain data
    result = ut.minimize(learning_curve, {"x": ut.uniform(0.0, 1.0)}, backend=ASK_TELL[0], seed=0, n_trials=2,
                         n_jobs=2)
    for record in result.records:
        assert json.loads(json.dumps(record.intermediate)) == [list(s) for s in record.intermediate]
