"""Result.to_tensorboard(): checked against a real TensorBoard server on 127.0.0.1 (its HParams plugin's
data, as the dashboard reads it)."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
import urllib.request
import warnings

import pytest

import unitune as ut

pytest.importorskip("tensorboard")
pytest.importorskip("tensorboardX")

SPACE = {
    "lr": ut.loguniform(1e-4, 1e-1),
    "dropout": ut.uniform(0.0, 0.5, step=0.1),
    "width": ut.integer(8, 256, log=True),
    "act": ut.choice(["relu", None, (1, 2)]),
    "batch": ut.choice([16, 32, 64]),
    "model": ut.choice({"svm": {"C": ut.loguniform(1e-2, 1e2)}, "forest": {"depth": ut.integer(2, 12)}}),
}
N_TRIALS = 12


def objective(params):
    if params["dropout"] >= 0.5:
        raise ValueError("too much dropout")
    kind, sub = params["model"]
    value = (math.log10(params["lr"]) + 2.5) ** 2 + (sub["C"] if kind == "svm" else sub["depth"]) / 10
    for step in range(3):
        ut.report(value + 2 - step, step=step)
    return {"loss": value, "acc": 1 / (1 + value)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-TensorBoard-Feature-Flags": "{}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _get(port: int, path: str) -> object:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.load(response)


def _session_groups(port: int) -> list:
    return _post(port, "/data/plugin/hparams/session_groups", {
        "experimentName": "",
        "allowedStatuses": ["STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING", "STATUS_UNKNOWN"],
        "colParams": [{"hparam": "lr"}, {"metric": {"tag": "loss", "group": ""}}],
        "startIndex": 0, "sliceSize": 100, "aggregationType": "AGGREGATION_AVG",
    }).get("sessionGroups", [])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A result written with to_tensorboard and a real TensorBoard server reading it (killed by pid)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ut.minimize(objective, SPACE, backend="optuna", algorithm="random", n_trials=N_TRIALS, seed=2,
                             metric="loss")
    logdir = tmp_path_factory.mktemp("tb") / "run"
    assert result.to_tensorboard(logdir) == logdir
    port = _free_port()
    log = open(logdir.parent / "tensorboard.log", "wb")  # noqa: SIM115 - closed after the server
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
         "--port", str(port), "--reload_interval", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        experiment: dict = {}
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"tensorboard exited: {(logdir.parent / 'tensorboard.log').read_text()}")
            try:  # ready once the experiment and every trial's session are loaded
                experiment = _post(port, "/data/plugin/hparams/experiment", {"experimentName": ""})
                if len(experiment.get("hparamInfos", [])) > len(SPACE) and len(_session_groups(port)) == N_TRIALS:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        yield result, port, experiment
    finally:
        server.kill()
        server.wait(10)
        log.close()


def test_experiment_lists_every_parameter_with_its_domain_and_the_metrics(served):
    result, _, experiment = served
    infos = {h["name"]: h for h in experiment["hparamInfos"]}
    assert set(infos) == {*result.space.paths, "state"}
    assert infos["lr"]["type"] == "DATA_TYPE_FLOAT64"
    assert infos["lr"]["domainInterval"] == {"minValue": 1e-4, "maxValue": 0.1}
    assert "log scale" in infos["lr"]["description"]
    assert "log scale" in infos["width"]["description"]
    assert infos["width"]["domainInterval"] == {"minValue": 8.0, "maxValue": 256.0}
    assert "log scale" not in infos["dropout"]["description"]
    assert infos["act"]["type"] == "DATA_TYPE_STRING"
    assert infos["act"]["domainDiscrete"] == ["relu", "None", "(1, 2)"]
    assert infos["batch"]["type"] == "DATA_TYPE_FLOAT64"  # a choice of numbers stays numeric
    assert infos["batch"]["domainDiscrete"] == [16.0, 32.0, 64.0]
    assert infos["model"]["domainDiscrete"] == ["svm", "forest"]
    assert "model=svm" in infos["model.svm.C"]["description"]
    assert infos["state"]["domainDiscrete"] == ["complete", "pruned", "failed"]
    assert [m["name"]["tag"] for m in experiment["metricInfos"]] == ["loss", "metrics.acc"]


def test_one_session_per_trial_with_its_values(served):
    result, port, _ = served
    groups = _session_groups(port)
    assert len(groups) == N_TRIALS
    by_name = {g["name"]: g for g in groups}
    assert any(r.state == "failed" for r in result.records)
    for record in result.records:
        group = by_name[f"trial-{record.number:04d}"]
        hparams = group["hparams"]
        assert set(hparams) == {*record.params, "state"}  # an inactive branch's params stay empty
        assert hparams["state"] == record.state
        assert hparams["lr"] == pytest.approx(record.params["lr"])
        assert hparams["act"] == {"relu": "relu", None: "None", (1, 2): "(1, 2)"}[record.params["act"]]
        status = group["sessions"][0]["status"]
        metrics = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
        if record.state == "failed":
            assert status == "STATUS_FAILURE" and "loss" not in metrics
        else:
            assert status == "STATUS_SUCCESS"
            assert metrics["loss"] == pytest.approx(record.value, rel=1e-6)  # stored as float32
            assert metrics["metrics.acc"] == pytest.approx(record.metrics["acc"], rel=1e-6)


def test_reported_values_are_a_scalar_curve(served):
    result, port, _ = served
    record = next(r for r in result.records if r.state == "complete")
    points = _get(port, f"/data/plugin/scalars/scalars?run=trial-{record.number:04d}&tag=intermediate/loss")
    assert [(step, pytest.approx(value)) for _, step, value in points] == record.intermediate


def test_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "other.txt").write_text("x")
    result = ut.minimize(lambda p: p["x"], {"x": ut.uniform(0.0, 1.0)}, backend="optuna", n_trials=2, seed=0)
    with pytest.raises(FileExistsError, match="empty or new folder"):
        result.to_tensorboard(tmp_path)
