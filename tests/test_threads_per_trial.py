"""Each running trial's share of the machine (``threads_per_trial=``, ``devices=``) under every executor.

The objective looks from the inside: threadpoolctl's view of the OpenMP and BLAS libraries it has
loaded, torch's thread count, the environment.  Real worker processes, the session's Ray runtime, a
real Dask ``LocalCluster``; the speed-ups are measured in ``benchmarks/parallel.py``.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import pytest

import unitune as ut
from unitune.exceptions import InvalidRunError
from unitune.parallel.share import THREAD_VARS, machine_cpus, trial_threads

cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import the test package

SPACE = {"x": ut.uniform(0.0, 1.0)}
CPUS = machine_cpus()


def probe(p):
    """The thread counts this trial runs with, as metrics (the smallest and largest over the loaded libraries)."""
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime)
    import torch
    from threadpoolctl import threadpool_info

    seen = {"openmp": [], "blas": []}
    for lib in threadpool_info():
        seen.setdefault(lib["user_api"], []).append(lib["num_threads"])
    return {"loss": p["x"], "omp_min": min(seen["openmp"]), "omp_max": max(seen["openmp"]),
            "blas_min": min(seen["blas"]), "blas_max": max(seen["blas"]), "torch": torch.get_num_threads(),
            "env": int(os.environ.get("OMP_NUM_THREADS", "0")), "pid": os.getpid()}


def run(threads="auto", **kwargs):
    kwargs.setdefault("n_jobs", 2)
    result = ut.minimize(probe, SPACE, backend="optuna", algorithm="random", n_trials=4, seed=0, metric="loss",
                         threads_per_trial=threads, **kwargs)
    table = result.table
    assert (table["state"] == "complete").all(), table[["state", "error"]]
    return table


def limits(table) -> set[tuple[int, ...]]:
    return set(map(tuple, table[["metrics.omp_min", "metrics.omp_max", "metrics.blas_min", "metrics.blas_max",
                                 "metrics.torch", "metrics.env"]].astype(int).to_numpy()))


def driver_state() -> tuple:
    from threadpoolctl import threadpool_info

    torch = sys.modules.get("torch")
    return ({v: os.environ.get(v) for v in (*THREAD_VARS, "CUDA_VISIBLE_DEVICES")},
            sorted((i["filepath"], i["num_threads"]) for i in threadpool_info()),
            torch.get_num_threads() if torch is not None else None)


@pytest.fixture(scope="module")
def dask_executor():
    distributed = pytest.importorskip("distributed")
    before = {name: os.environ.get(name) for name in THREAD_VARS}
    # Starting a LocalCluster sets OMP_NUM_THREADS=1 (and MKL/OpenBLAS) in *this* process's environment
    # for its workers: put the driver's back, so the driver is measured as a user's would be.
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       host="127.0.0.1", silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    yield client.get_executor()
    client.close()
    cluster.close()


@pytest.fixture(params=["process", "thread", "ray", "dask"])
def executor(request):
    if request.param == "ray":
        pytest.importorskip("ray")
    if request.param == "dask":
        return request.getfixturevalue("dask_executor")
    return request.param


def test_every_executor_gives_each_trial_its_share_and_restores_the_driver(executor):
    probe({"x": 0.5})  # the driver has loaded OpenMP, BLAS and torch too: the thread executor must limit them
    before = driver_state()
    expected = max(1, CPUS // 2)
    assert limits(run(executor=executor)) == {(expected,) * 6}
    assert driver_state() == before  # environment, BLAS/OpenMP pools and torch as they were
    assert limits(run(threads=2, executor=executor)) == {(2,) * 6}
    assert driver_state() == before


def test_ray_tasks_get_num_cpus_from_threads_per_trial():
    pytest.importorskip("ray")
    from unitune.parallel import check_executor, plan_share
    from unitune.registry import get_backend

    plan = check_executor(get_backend("optuna"), probe, 1, "ray")
    share = plan_share(plan, 2, None, n_jobs=1, tune=False)
    assert (share.threads, plan.executor.num_cpus) == (2, 2)
    explicit = check_executor(get_backend("optuna"), probe, 1, ut.RayTasks(num_cpus=1))
    assert plan_share(explicit, "auto", None, n_jobs=1, tune=False).threads == 1  # a task's num_cpus
    with pytest.raises(InvalidRunError, match=r"asks each trial for 1 GPU.*largest node of the Ray cluster has 0"):
        run(executor=ut.RayTasks(num_gpus=1))


def test_off_leaves_worker_processes_with_the_libraries_defaults(monkeypatch):
    if CPUS < 2:
        pytest.skip("needs 2 cores to tell a limit from the default")
    for name in THREAD_VARS:  # whatever this process inherited (a Dask LocalCluster sets OMP_NUM_THREADS=1)
        monkeypatch.delenv(name, raising=False)
    table = run(threads=None, executor="process")
    assert set(table["metrics.omp_max"]) == {CPUS} and set(table["metrics.env"]) == {0}


@pytest.mark.ray
def test_ray_tune_backend_limits_its_actors():
    result = ut.minimize(probe, SPACE, backend="ray", n_trials=2, seed=0, metric="loss", n_jobs=1,
                         threads_per_trial=2)
    assert limits(result.table) == {(2,) * 6}


def test_sequential_run_with_a_count_and_seeded_results_unchanged():
    before = driver_state()
    plain = ut.minimize(probe, SPACE, backend="optuna", n_trials=6, seed=3, metric="loss")
    limited = run(threads=1, n_jobs=1)
    assert limits(limited) == {(1,) * 6}
    assert driver_state() == before
    assert set(plain.table["metrics.env"]) == {int(os.environ.get("OMP_NUM_THREADS", "0"))}  # "auto": untouched
    one = ut.minimize(probe, SPACE, backend="optuna", n_trials=6, seed=3, metric="loss", threads_per_trial=1)
    process = ut.minimize(probe, SPACE, backend="optuna", n_trials=6, seed=3, metric="loss", executor="process")
    for other in (one, process):
        assert other.table["params.x"].tolist() == plain.table["params.x"].tolist()
        assert other.table["value"].tolist() == plain.table["value"].tolist()


def test_trial_threads_nests_and_restores():
    probe({"x": 0.1})
    before = driver_state()
    with trial_threads(1):
        with trial_threads(1):
            assert os.environ["OMP_NUM_THREADS"] == "1"
        assert os.environ["OMP_NUM_THREADS"] == "1"  # the outer holder still holds it
    assert driver_state() == before


def devices_seen(p):
    started = time.time()
    time.sleep(0.3)
    if p["x"] > 0.85:  # a worker that dies: its replacement takes the freed device
        os._exit(3)
    return {"loss": p["x"], "device": int(os.environ["CUDA_VISIBLE_DEVICES"]), "t0": started, "t1": time.time()}


def test_devices_two_concurrent_trials_never_share_one():
    probe({"x": 0.5})
    before = driver_state()
    result = ut.minimize(devices_seen, {"x": ut.uniform(0.0, 1.0)}, backend="optuna", algorithm="random",
                         n_trials=16, seed=1, metric="loss", n_jobs=2, devices=[4, 7])
    table = result.table
    assert driver_state() == before
    assert (table["state"] == "failed").any() and (table["state"] == "complete").sum() >= 8
    done = table[table["state"] == "complete"]
    assert set(done["metrics.device"]) == {4, 7}
    rows = done[["metrics.device", "metrics.t0", "metrics.t1"]].to_numpy()
    for i, (dev_a, a0, a1) in enumerate(rows):
        for dev_b, b0, b1 in rows[i + 1:]:
            if a0 < b1 and b0 < a1:  # ran at the same time
                assert dev_a != dev_b


def test_devices_visible_and_sequential(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    table = ut.minimize(devices_seen, {"x": ut.uniform(0.0, 0.5)}, backend="optuna", n_trials=4, seed=0,
                        metric="loss", n_jobs=2, devices="visible").table
    assert set(table["metrics.device"]) <= {3, 5} and (table["state"] == "complete").all()
    table = ut.minimize(devices_seen, {"x": ut.uniform(0.0, 0.5)}, backend="optuna", n_trials=2, seed=0,
                        metric="loss", devices=[[6]]).table
    assert set(table["metrics.device"]) == {6}
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3,5"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"threads_per_trial": 0}, r"threads_per_trial must be 'auto', an int >= 1 or None"),
    ({"threads_per_trial": True}, r"threads_per_trial must be"),
    ({"threads_per_trial": "many"}, r"threads_per_trial must be"),
    ({"devices": [0], "n_jobs": 2}, r"gives 1 device group\(s\) \['0'\] for n_jobs=2"),
    ({"devices": [0, 0], "n_jobs": 2}, r"device 0 is given twice"),
    ({"devices": [0, 1], "n_jobs": 2, "executor": "thread"}, r"executor='thread' cannot give.*executor='process'"),
    ({"devices": [0, 1], "n_jobs": 2, "executor": "ray"}, r"RayTasks\(num_gpus=1\)"),
    ({"devices": "gpus"}, r"devices must be 'visible'"),
    ({"devices": [-1]}, r"-1 is not a device id"),
])
def test_bad_settings_fail_before_the_first_trial(kwargs, message):
    called = []
    with pytest.raises(InvalidRunError, match=message):
        ut.minimize(lambda p: called.append(p) or 0.0, SPACE, backend="optuna", n_trials=2, **kwargs)
    assert not called


def test_devices_visible_needs_the_variable(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(InvalidRunError, match=r"CUDA_VISIBLE_DEVICES, which is unset"):
        ut.minimize(lambda p: 0.0, SPACE, backend="optuna", n_trials=2, devices="visible")


def test_study_settings_point_to_optimize():
    with pytest.raises(InvalidRunError, match=r"threads_per_trial: an argument of Study.optimize"):
        ut.Study(SPACE, backend="optuna", threads_per_trial=1)
