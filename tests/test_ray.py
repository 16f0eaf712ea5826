"""Ray Tune adapter: native equivalence, Ray's traps, pruning, PBT with checkpoints, n_jobs, quiet and clean."""

from __future__ import annotations

import itertools
import math
import os
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")  # a partial install skips this module instead of failing to collect

import unitune as ut

pytestmark = pytest.mark.ray

SPACE = {"x": ut.uniform(-2.0, 2.0), "lr": ut.loguniform(1e-4, 1.0), "n": ut.integer(1, 4),
         "q": ut.uniform(0.0, 0.9, step=0.3), "c": ut.choice(["a", None, (1, 2)])}


def start_ray() -> None:
    """Timed tests start after Ray is up: the first run of a session includes ``ray.init``."""
    ut.minimize(lambda p: 0.0, SPACE, backend="ray", n_trials=1, seed=0)


def wait_for_two_free_cpus() -> None:
    """Concurrency tests need both CPUs: an earlier test's stopped actor may hold one for a moment."""
    import ray

    start_ray()
    deadline = time.monotonic() + 60
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)


def test_same_suggestions_as_a_native_tuner(tmp_path):
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    def native(config):
        tune.report({"score": 1.0})

    # the natural translation ut.explain documents: index domains for ints, grids and choices
    param_space = {"x": tune.uniform(-2.0, 2.0), "lr": tune.loguniform(1e-4, 1.0), "n": tune.randint(0, 4),
                   "q": tune.randint(0, 4), "c": tune.randint(0, 3)}
    grid = tune.Tuner(native, param_space=param_space, tune_config=tune.TuneConfig(
        num_samples=8, search_alg=BasicVariantGenerator(random_state=5), reuse_actors=True,
        max_concurrent_trials=1), run_config=tune.RunConfig(verbose=0, storage_path=str(tmp_path))).fit()
    native_configs = sorted((r.config for r in grid), key=lambda c: (c["x"], c["lr"]))
    result = ut.minimize(lambda p: 1.0, SPACE, backend="ray", n_trials=8, seed=5)
    ours = sorted((r.params for r in result.records), key=lambda p: (p["x"], p["lr"]))
    for mine, theirs in zip(ours, native_configs, strict=True):
        assert mine["x"] == theirs["x"] and mine["lr"] == theirs["lr"]
        assert mine["n"] == 1 + theirs["n"] and mine["q"] == [0.0, 0.3, 0.6, 0.9][theirs["q"]]
        assert mine["c"] == ["a", None, (1, 2)][theirs["c"]]


def test_falsy_values_and_failures_all_have_rows():
    def objective(p):
        if p["n"] == 1:
            raise ValueError("bad n")  # Ray alone would give this trial no row in get_dataframe()
        return 0.0  # Ray alone drops a falsy scalar return

    result = ut.minimize(objective, SPACE, backend="ray", n_trials=12, seed=1)
    table = result.table
    assert len(table) == 12 and sorted(table["trial"]) == list(range(12))
    complete = table[table["state"] == "complete"]
    assert (complete["value"] == 0.0).all() and len(complete) > 0
    failed = table[table["state"] == "failed"]
    assert len(failed) > 0 and failed["error"].str.startswith("ValueError: bad n").all()


def test_integer_ends_and_index_domains():
    result = ut.minimize(lambda p: 0.0, {"n": ut.integer(1, 3), "k": ut.integer(0, 10, step=5)}, backend="ray",
                         n_trials=40, seed=0)
    assert set(result.table["params.n"]) == {1, 2, 3}  # tune.randint(1, 3) alone would never give 3
    assert set(result.table["params.k"]) == {0, 5, 10}
    explain = ut.explain({"n": ut.integer(1, 3)}, backend="ray")
    assert explain["native"].iloc[0] == "tune.randint(0, 3)" and "excludes its upper bound" in explain["note"].iloc[0]


def test_n_jobs_runs_trials_concurrently():
    def objective(p):
        time.sleep(1.5)  # longer than Ray takes to start the second actor (~3.5 s for the first trials)
        return p["x"]

    wait_for_two_free_cpus()
    result = ut.minimize(objective, SPACE, backend="ray", n_trials=6, seed=0, n_jobs=2)
    table = result.table.sort_values("started")
    overlaps = sum(
        1 for a, b in zip(table.itertuples(), table.iloc[1:].itertuples(), strict=False) if b.started < a.finished
    )
    assert len(table) == 6 and overlaps >= 1


def test_trial_running_at_the_deadline_is_recorded_failed():
    def objective(p):
        time.sleep(20)
        return 1.0

    start = time.monotonic()
    result = ut.minimize(objective, SPACE, backend="ray", timeout=6.0, seed=0)
    # A Ray worker cannot be interrupted mid-step: the trial is stopped at its next report or return.
    assert time.monotonic() - start < 40
    assert result.stop_reason == "timeout" and len(result.table) >= 1
    assert result.table["error"].str.startswith("TrialTimeout").all()


def test_pbt_continues_from_other_trials_checkpoints_with_perturbed_params():
    def objective(p):
        state = ut.restore() or {"step": 0, "score": 0.0}
        for step in range(state["step"], 12):
            state = {"step": step + 1, "score": state["score"] + p["lr"]}
            ut.checkpoint(state)
            ut.report(-state["score"], step=step)
        return -state["score"]

    wait_for_two_free_cpus()
    result = ut.minimize(objective, {"lr": ut.uniform(0.0, 1.0)}, backend="ray", n_trials=4, seed=0, n_jobs=2,
                         scheduler="pbt", scheduler_options={"hyperparam_mutations": ["lr"],
                                                             "perturbation_interval": 2})
    restored = [r for r in result.records if "restored_from" in r.info]
    assert restored, "no trial exploited another's checkpoint"
    assert (result.table["state"] == "complete").all() and (result.table["step"] == 11).all()
    initial = ut.minimize(lambda p: 0.0, {"lr": ut.uniform(0.0, 1.0)}, backend="ray", n_trials=4, seed=0)
    assert {r.params["lr"] for r in result.records} != {r.params["lr"] for r in initial.records}  # perturbed


def test_hyperband_halves_brackets_with_the_default_n_jobs():
    # Hyperband pauses trials until their bracket catches up: with one trial allowed to *exist* at a time
    # every bracket would be processed alone and nothing would ever be stopped early.
    def objective(p):
        value = None
        for step in range(1, 10):
            value = (p["x"] - 0.3) ** 2 + 1.0 / step
            ut.report(value, step=step)
        return value

    result = ut.minimize(objective, {"x": ut.uniform(0.0, 1.0)}, backend="ray", n_trials=8, seed=0,
                         scheduler="hyperband", scheduler_options={"max_t": 9})
    table = result.table
    assert len(table) == 8
    assert ((table["state"] == "pruned") & (table["step"] < 9)).sum() >= 2


def test_a_paused_hyperband_trial_continues_from_its_checkpoint(tmp_path):
    # A paused function trial is started again by Ray; with ut.checkpoint it picks up where it paused
    # (only the step it computed after the pause decision is computed again), never from step 1.
    log = tmp_path / "steps.log"

    def objective(p):
        state = ut.restore() or {"step": 0}
        for step in range(state["step"] + 1, 10):
            with open(log, "a") as f:
                f.write(f"{p['x']!r} {step}\n")
            state = {"step": step}
            ut.checkpoint(state)
            ut.report((p["x"] - 0.3) ** 2 + 1.0 / step, step=step)
        return (p["x"] - 0.3) ** 2 + 1.0 / 9

    result = ut.minimize(objective, {"x": ut.uniform(0.0, 1.0)}, backend="ray", n_trials=12, seed=0,
                         scheduler="hyperband", scheduler_options={"max_t": 9})
    steps: dict[str, list[int]] = {}
    for line in log.read_text().splitlines():
        x, step = line.split()
        steps.setdefault(x, []).append(int(step))
    assert len(steps) == 12 and (result.table["state"] == "pruned").any()
    assert any(len(s) > len(set(s)) for s in steps.values())  # some trial was paused and started again
    assert all(later >= earlier for s in steps.values() for earlier, later in itertools.pairwise(s)), steps


def test_trials_paused_when_the_timeout_ends_the_run_are_not_pruned():
    # Hyperband pauses each trial of a bracket at its first rung until the whole rung has reported (here
    # ~12 s of steps away): at a 6 s timeout every trial that started is unfinished, none was stopped.
    def objective(p):
        for step in range(1, 10):
            time.sleep(0.25)
            ut.report((p["x"] - 0.3) ** 2 + 1.0 / step, step=step)
        return (p["x"] - 0.3) ** 2 + 1.0 / 9

    start_ray()
    result = ut.minimize(objective, {"x": ut.uniform(0.0, 1.0)}, backend="ray", n_trials=20, seed=0, timeout=6,
                         scheduler="hyperband", scheduler_options={"max_t": 9})
    table = result.table
    assert result.stop_reason == "timeout" and len(table) >= 1
    assert not (table["state"] == "pruned").any(), table[["trial", "state", "step"]]
    unfinished = table[table["state"] == "failed"]
    assert unfinished["error"].str.startswith("TrialTimeout").all()


def test_pbt_elsewhere_and_bad_mutations_fail_before_the_run():
    with pytest.raises(ut.UnsupportedFeatureError, match="ray"):
        ut.minimize(lambda p: 1 / 0, SPACE, backend="optuna", n_trials=2, scheduler="pbt")
    with pytest.raises(ut.InvalidRunError, match="unknown parameters"):
        ut.minimize(lambda p: 1 / 0, SPACE, backend="ray", n_trials=2, scheduler="pbt",
                    scheduler_options={"hyperparam_mutations": ["nope"]})


def test_grid_enumerates_unitune_grid():
    space = {"a": ut.integer(1, 3), "b": ut.choice(["x", None])}
    result = ut.minimize(lambda p: p["a"], space, backend="ray", algorithm="grid", n_trials=100, seed=0)
    assert sorted((r.params["a"], repr(r.params["b"])) for r in result.records) == sorted(
        (a, repr(b)) for a in (1, 2, 3) for b in ("x", None))
    with pytest.raises(ut.UnsupportedFeatureError, match="continuous"):
        ut.minimize(lambda p: 0.0, {"x": ut.uniform(0.0, 1.0)}, backend="ray", algorithm="grid", n_trials=2)


def test_quiet_unless_progress_is_asked_for(capfd):
    ut.minimize(lambda p: p["x"], SPACE, backend="ray", n_trials=2, seed=0)
    quiet = capfd.readouterr()
    ut.minimize(lambda p: p["x"], SPACE, backend="ray", n_trials=2, seed=0, progress=True)
    shown = capfd.readouterr()
    assert "== Status ==" not in quiet.out + quiet.err and "Trial" not in quiet.out + quiet.err
    assert "== Status ==" in shown.out + shown.err


def test_nothing_written_to_home_and_no_results_left_behind(tmp_path):
    home = Path.home()
    before = set(os.listdir(home))
    result = ut.minimize(lambda p: math.sin(p["x"]), SPACE, backend="ray", n_trials=3, seed=0,
                         storage_path=str(tmp_path / "ray"))
    assert len(result.table) == 3 and (tmp_path / "ray").exists()
    assert set(os.listdir(home)) - before == set()
    assert not (home / "ray_results").exists()


def test_attaches_to_the_cluster_in_ray_address():
    """A driver with RAY_ADDRESS set runs its trials on that cluster instead of starting its own."""
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import tempfile

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    ray_cli = Path(sys.executable).with_name("ray")
    temp_dir = tempfile.mkdtemp(prefix="ut-ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    head = subprocess.Popen(
        [str(ray_cli), "start", "--head", "--block", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
         f"--temp-dir={temp_dir}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    driver = (
        "import ray, unitune as ut\n"
        "r = ut.minimize(lambda p: p['x'], {'x': ut.uniform(0.0, 1.0)}, backend='ray', n_trials=3, seed=0)\n"
        "print(len(r.table), ray.cluster_resources().get('CPU'), ray.get_runtime_context().gcs_address)\n"
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the head's GCS accepts connections
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        run = subprocess.run([sys.executable, "-c", driver], env={**env, "RAY_ADDRESS": f"127.0.0.1:{port}"},
                             capture_output=True, text=True, timeout=120)
        out = run.stdout.split() if run.returncode == 0 else None
        assert out is not None, run.stderr[-2000:]
        n_rows, cpus, gcs = out[-3:]
        assert n_rows == "3" and float(cpus) == 1.0 and gcs.endswith(f":{port}")  # its cluster, not a new one
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=3)
        except subprocess.TimeoutExpired:  # Ray's graceful stop takes ~30 s; its workers exit with the raylet
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=30)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_a_run_puts_back_signal_handlers_environment_and_logger_levels():
    import logging
    import signal

    names = ("RAY_AIR_NEW_OUTPUT", "RAY_TRAIN_V2_ENABLED", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS")
    env = {name: os.environ.get(name) for name in names}
    levels = {name: logging.getLogger(name).level for name in ("ray", "ray.tune", "ray.train")}
    got = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(signum))
    try:
        ut.minimize(lambda p: 0.0, SPACE, backend="ray", n_trials=2, seed=0)
        assert {name: os.environ.get(name) for name in names} == env
        assert {name: logging.getLogger(name).level for name in levels} == levels
        signal.raise_signal(signal.SIGUSR1)  # Ray had reset SIGUSR1 to SIG_DFL, which kills the process
        assert got == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_two_runs_at_once_keep_their_own_rows():
    import threading

    results = {}

    def run(seed):
        results[seed] = ut.minimize(lambda p: p["x"] ** 2, SPACE, backend="ray", n_trials=3, seed=seed)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert sorted(results) == [1, 2]
    for result in results.values():
        assert len(result.table) == 3 and (result.table["state"] == "complete").all()


def test_several_objectives_with_a_scheduler_on_the_objective_named_for_it():
    # ASHA decides on "acc" (maximized, named with metric=): it stops the trials with the lower accuracy
    def objective(p):
        acc = 1.0 - (p["x"] - 0.3) ** 2
        for step in range(1, 9):
            ut.report(acc, step=step)
        return {"loss": 1.0 - acc, "acc": acc}

    space = {"x": ut.uniform(0.0, 1.0)}
    with pytest.raises(ut.UnsupportedFeatureError, match="pass metric= one of \\['loss', 'acc'\\]"):
        ut.optimize(objective, space, backend="ray", directions=["minimize", "maximize"], metrics=["loss", "acc"],
                    scheduler="asha", n_trials=2)
    result = ut.optimize(objective, space, backend="ray", directions=["minimize", "maximize"],
                         metrics=["loss", "acc"], metric="acc", scheduler="asha",
                         scheduler_options={"max_t": 8, "grace_period": 1, "reduction_factor": 2},
                         n_trials=12, seed=0)
    table = result.table
    pruned, complete = table[table["state"] == "pruned"], table[table["state"] == "complete"]
    assert len(pruned) >= 2 and len(complete) >= 1
    assert complete["values.acc"].max() > pruned["params.x"].map(lambda x: 1.0 - (x - 0.3) ** 2).max()
    assert table["pareto"].sum() >= 1
