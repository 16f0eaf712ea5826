"""``executor="ray"`` on a real two-node Ray cluster started here (127.0.0.1, one CPU per node).

The driver is a separate Python process with ``RAY_ADDRESS`` set, as a user's script on a cluster would
be; the test starts both nodes with ``ray start --block`` and stops them by the process ids it started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

pytest.importorskip("ray")

pytestmark = pytest.mark.ray

DRIVER = textwrap.dedent(
    """
    import json, os, sys, time, warnings
    warnings.simplefilter("ignore")
    import ray
    import unitune as ut

    ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False, include_dashboard=False)
    deadline = time.monotonic() + 90
    while sum(n["Alive"] for n in ray.nodes()) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])

    def objective(p):  # only the objective travels; whatever it needs it loads where it runs
        time.sleep(0.6)
        return (p["x"] - 0.2) ** 2 + p["n"]

    def curve(p):
        for step in range(6):
            time.sleep(0.05)
            ut.report(p["x"] + 1.0 / (step + 1), step=step)
        return p["x"]

    space = {"x": ut.uniform(0.0, 1.0), "n": ut.integer(1, 3)}
    out = {"nodes": nodes, "driver": os.getpid(), "runs": {}}
    for backend in ("optuna", "hyperopt", "skopt"):
        result = ut.minimize(objective, space, backend=backend, seed=0, n_trials=6, n_jobs=2, executor="ray")
        out["runs"][backend] = {"states": list(result.table["state"]), "workers": list(result.table["worker"]),
                                "nodes": [r.info.get("ray_node") for r in result.records]}
    pruned = ut.minimize(curve, space, backend="optuna", algorithm="random", seed=0, n_trials=10, n_jobs=2,
                         executor="ray", scheduler="median", scheduler_options={"n_startup_trials": 2})
    out["pruned"] = {"states": list(pruned.table["state"]), "nodes": [r.info.get("ray_node") for r in pruned.records]}
    print("RESULT " + json.dumps(out), flush=True)
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    ray_bin = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")
    tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths have a length limit
    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    started: list[subprocess.Popen] = []
    try:
        with open(os.path.join(tmp, "head.log"), "w") as log:
            started.append(subprocess.Popen(
                [ray_bin, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
                 "--num-cpus=1", "--include-dashboard=false", f"--temp-dir={tmp}"],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with open(os.path.join(tmp, "head.log")) as f:
                head_log = f.read()
            if "Ray runtime started" in head_log:
                break
            assert started[0].poll() is None, head_log
            time.sleep(0.5)
        with open(os.path.join(tmp, "node.log"), "w") as log:
            started.append(subprocess.Popen(
                [ray_bin, "start", "--block", f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1",
                 "--num-cpus=1"], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        yield f"127.0.0.1:{port}", env
    finally:
        for proc in reversed(started):  # --block: terminating the command stops that node's processes
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def test_trials_of_three_backends_run_on_both_nodes(cluster, tmp_path):
    address, env = cluster
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    proc = subprocess.run([sys.executable, str(script)], env={**env, "RAY_ADDRESS": address}, capture_output=True,
                          text=True, timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert len(out["nodes"]) == 2
    for backend, run in out["runs"].items():
        assert run["states"] == ["complete"] * 6, (backend, run)
        assert set(run["nodes"]) == set(out["nodes"]), (backend, run)  # trials ran on both nodes
        pids = {int(w.rsplit(":", 1)[1]) for w in run["workers"]}
        assert len(pids) >= 2 and out["driver"] not in pids, (backend, run)  # in Ray worker processes
    assert "pruned" in out["pruned"]["states"]  # reports crossed to the driver through the run's actor
    assert set(out["pruned"]["nodes"]) == set(out["nodes"])
