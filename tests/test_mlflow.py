"""unitune.integrations.mlflow: checked against a real ``mlflow server`` on 127.0.0.1 (SQLite backend store,
started once per session by tests/fixtures/mlflow_server.py), everything read back with MLflow's client."""

from __future__ import annotations

import math
import warnings

import pytest

pytest.importorskip("mlflow")

import unitune as ut
from benchmarks.mlflow_server import free_port
from unitune.integrations.mlflow import MLflowCallback, param_text

SPACE = {
    "x": ut.uniform(-2.0, 2.0),
    "opt": ut.choice(["adam", None, (1, 2)]),
    "model": ut.choice({"svm": {"C": ut.loguniform(1e-2, 1e2)}, "forest": {"depth": ut.integer(2, 12)}}),
}
# Known points first, so every backend gives a failed and a pruned trial.
KNOWN = [{"x": 1.9, "opt": "adam", "model": ("svm", {"C": 1.0})},
         {"x": -1.9, "opt": None, "model": ("forest", {"depth": 3})}]
N_TRIALS = 6
STATUS = {"complete": "FINISHED", "failed": "FAILED", "pruned": "KILLED"}


def objective(params):
    x = params["x"]
    if x > 1.8:
        raise ValueError("x too large")
    for step in range(3):
        ut.report(x * x + 2 - step, step=step)
    if x < -1.8:
        raise ut.TrialPruned()
    kind, sub = params["model"]
    loss = x * x + (sub["C"] / 100 if kind == "svm" else sub["depth"] / 12)
    return {"loss": loss, "acc": 1 / (1 + loss), "note": "not a number"}


def client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def runs_of(uri: str, experiment: str) -> tuple[list, list]:
    """(parent runs, child runs) of an experiment."""
    c = client(uri)
    found = c.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    runs = list(c.search_runs([found.experiment_id], max_results=1000))
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return parents, children


def by_number(children: list) -> dict[int, object]:
    return {int(r.data.tags["unitune.number"]): r for r in children}


def run(backend: str, callbacks: list, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ut.minimize(objective, SPACE, backend=backend, n_trials=N_TRIALS, seed=3, metric="loss",
                           enqueue=KNOWN, callbacks=callbacks, **options)


@pytest.fixture(scope="module", params=["optuna", "hyperopt", "optuna+background",
                                        pytest.param("ray", marks=pytest.mark.ray)])
def logged(request, mlflow_uri):
    """A study of each backend logged live by the callback: (backend, result, experiment)."""
    backend, _, mode = request.param.partition("+")
    pytest.importorskip({"optuna": "optuna", "hyperopt": "hyperopt", "ray": "ray.tune"}[backend])
    experiment = f"live-{request.param}"
    callback = MLflowCallback(mlflow_uri, experiment=experiment, tags={"team": "tests"},
                              background=mode == "background")
    result = run(backend, [callback])
    assert callback.parent_run_id is not None
    return backend, result, experiment


def test_one_child_run_per_trial_nested_under_one_parent(logged, mlflow_uri):
    backend, result, experiment = logged
    parents, children = runs_of(mlflow_uri, experiment)
    assert len(parents) == 1 and len(children) == len(result.records) == N_TRIALS
    parent = parents[0]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert sorted(by_number(children)) == sorted(r.number for r in result.records)
    tags = parent.data.tags
    assert (tags["unitune.backend"], tags["unitune.algorithm"]) == (backend, result.algorithm)
    assert (tags["unitune.direction"], tags["unitune.metric"], tags["unitune.seed"]) == ("minimize", "loss", "3")
    assert tags["team"] == "tests"
    assert parent.info.status == "FINISHED"  # ended as minimize returned, without close()
    assert parent.data.metrics["best_value"] == pytest.approx(result.best_value)
    assert tags["unitune.best_trial"] == str(result.best_record.number)
    counts = result.table["state"].value_counts()
    assert parent.data.metrics["trials.complete"] == counts["complete"]
    assert parent.data.metrics["trials.failed"] == counts["failed"] == 1
    assert parent.data.metrics["trials.pruned"] == counts["pruned"] == 1


def test_each_trial_run_holds_params_value_metrics_steps_state_and_times(logged, mlflow_uri):
    backend, result, experiment = logged
    _, children = runs_of(mlflow_uri, experiment)
    runs = by_number(children)
    c = client(mlflow_uri)
    for record in result.records:
        logged_run = runs[record.number]
        data, info = logged_run.data, logged_run.info
        assert info.run_name == f"trial-{record.number:04d}"
        assert data.params == {path: param_text(v) for path, v in record.params.items()}
        assert set(data.params) == set(record.params)  # only the active branch's params
        assert data.tags["unitune.state"] == record.state
        assert info.status == STATUS[record.state]
        assert (data.tags["unitune.backend"], data.tags["unitune.algorithm"]) == (backend, result.algorithm)
        assert data.tags["team"] == "tests"
        assert data.tags.get("unitune.error") == record.error
        assert data.tags.get("unitune.worker") == record.worker
        assert info.start_time == round(record.started.timestamp() * 1000)
        assert info.end_time == round(record.finished.timestamp() * 1000)
        history = c.get_metric_history(info.run_id, "intermediate")
        assert sorted((m.step, m.value) for m in history) == sorted(record.intermediate)  # float64 both ways
        if record.state == "failed":
            assert "value" not in data.metrics  # NaN: left out
        else:  # a pruned trial's value is its last reported one, as in the table
            assert data.metrics["value"] == record.value
            assert len(history) == 3
        if record.state == "complete":
            assert data.metrics["metrics.acc"] == record.metrics["acc"]
            assert "metrics.note" not in data.metrics  # not a number: not a metric
    failed = next(r for r in result.records if r.state == "failed")
    assert runs[failed.number].data.tags["unitune.error"] == "ValueError: x too large"
    assert runs[failed.number].data.params["opt"] == "adam"
    pruned = next(r for r in result.records if r.state == "pruned")
    assert runs[pruned.number].data.params["opt"] == "None"
    assert runs[pruned.number].data.params["model.forest.depth"] == "3"
    assert [s for s, _ in pruned.intermediate] == [0, 1, 2]


def test_to_mlflow_logs_the_same_content_as_the_callback(logged, mlflow_uri):
    _, result, experiment = logged
    parent_id = result.to_mlflow(mlflow_uri, experiment=f"after-{experiment}", tags={"team": "tests"})
    parents, children = runs_of(mlflow_uri, f"after-{experiment}")
    assert [p.info.run_id for p in parents] == [parent_id]
    assert parents[0].data.metrics["best_value"] == pytest.approx(result.best_value)
    live = by_number(runs_of(mlflow_uri, experiment)[1])
    after = by_number(children)
    assert sorted(after) == sorted(live)
    c = client(mlflow_uri)
    for number, run_after in after.items():
        run_live = live[number]
        assert run_after.data.params == run_live.data.params
        assert run_after.data.metrics == run_live.data.metrics
        drop = {"mlflow.parentRunId"}
        assert ({k: v for k, v in run_after.data.tags.items() if k not in drop}
                == {k: v for k, v in run_live.data.tags.items() if k not in drop})
        assert run_after.data.tags["mlflow.parentRunId"] == parent_id
        assert (run_after.info.status, run_after.info.start_time, run_after.info.end_time) == (
            run_live.info.status, run_live.info.start_time, run_live.info.end_time)
        steps = [(m.step, m.value) for m in c.get_metric_history(run_after.info.run_id, "intermediate")]
        assert sorted(steps) == sorted((m.step, m.value) for m in c.get_metric_history(run_live.info.run_id,
                                                                                         "intermediate"))


def test_a_reused_callback_keeps_one_parent_per_study(mlflow_uri):
    space = {"x": ut.uniform(0.0, 1.0)}
    with MLflowCallback(mlflow_uri, experiment="reused", run_name="two-calls") as callback:
        study = ut.Study(space, backend="optuna", direction="maximize", seed=0)
        study.optimize(lambda p: p["x"], n_trials=2, callbacks=[callback])
        first_parent = callback.parent_run_id
        study.optimize(lambda p: p["x"], n_trials=3, callbacks=[callback])
        assert callback.parent_run_id == first_parent
        other = ut.Study(space, backend="optuna", seed=1)  # another study: another parent run
        other.optimize(lambda p: p["x"], n_trials=1, callbacks=[callback])
        assert callback.parent_run_id != first_parent
    parents, children = runs_of(mlflow_uri, "reused")
    assert len(parents) == 2 and len(children) == 6
    parent = next(p for p in parents if p.info.run_id == first_parent)
    assert parent.info.run_name == "two-calls"
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["trials.complete"] == 5
    assert parent.data.metrics["best_value"] == pytest.approx(max(r.value for r in study.records))  # maximize
    mine = [r for r in children if r.data.tags["mlflow.parentRunId"] == first_parent]
    assert sorted(int(r.data.tags["unitune.number"]) for r in mine) == [0, 1, 2, 3, 4]


def test_a_dead_server_ends_the_run_with_its_error_and_loses_no_trial(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow retries for minutes by default
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    from mlflow.exceptions import MlflowException

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    study = ut.Study({"x": ut.uniform(0.0, 1.0)}, backend="optuna", seed=0, storage=str(tmp_path / "runs.db"),
                     name="dead-server")
    with pytest.raises(MlflowException, match="Connection refused|Max retries") as raised:
        study.optimize(lambda p: p["x"], n_trials=5, callbacks=[MLflowCallback(dead)])
    assert len(study.records) == 1  # the first trial finished, then the callback failed: no new trial
    assert "callback error: MlflowException" in study.result.stop_reason
    assert len(raised.value.result.records) == 1
    assert len(ut.load(str(tmp_path / "runs.db"), "dead-server").records) == 1  # committed before the callback

    with pytest.warns(RuntimeWarning, match="logging to .* failed"):
        result = study.optimize(lambda p: p["x"], n_trials=3, callbacks=[MLflowCallback(dead, on_error="warn")])
    assert len(result.records) == 3 and result.stop_reason == "n_trials"

    # logging in the background: the error comes with a later trial or as optimize ends; nothing lost either
    with pytest.raises(MlflowException, match="Connection refused|Max retries") as raised:
        study.optimize(lambda p: p["x"], n_trials=10, callbacks=[MLflowCallback(dead, background=True)])
    assert 4 <= len(study.records) <= 10
    assert len(raised.value.result.records) == len(study.records)
    assert len(ut.load(str(tmp_path / "runs.db"), "dead-server").records) == len(study.records)


def test_keys_mlflow_would_refuse_are_made_valid(mlflow_uri):
    space = {"a:b": ut.uniform(0.0, 1.0), "w(x)": ut.choice([1, 2])}
    result = ut.minimize(lambda p: p["a:b"], space, backend="optuna", n_trials=1, seed=0)
    result.to_mlflow(mlflow_uri, experiment="odd keys")
    _, children = runs_of(mlflow_uri, "odd keys")
    assert set(children[0].data.params) == {"a_b", "w_x_"}
    assert math.isclose(float(children[0].data.params["a_b"]), result.records[0].params["a:b"])


def test_a_users_active_run_is_left_alone(mlflow_uri):
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_uri)
    try:
        mlflow.set_experiment("user's own")
        with mlflow.start_run() as mine:
            callback = MLflowCallback(mlflow_uri, experiment="beside the user's run")
            ut.minimize(lambda p: p["x"], {"x": ut.uniform(0.0, 1.0)}, backend="optuna", n_trials=2, seed=0,
                        callbacks=[callback])
            assert mlflow.active_run().info.run_id == mine.info.run_id
    finally:
        mlflow.set_tracking_uri(previous)
    parents, children = runs_of(mlflow_uri, "beside the user's run")
    assert len(children) == 2 and [p.info.run_id for p in parents] == [callback.parent_run_id]
    assert client(mlflow_uri).get_run(mine.info.run_id).data.metrics == {}  # nothing logged into it


def test_without_mlflow_the_error_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "unitune\[mlflow\]"'):
        MLflowCallback()
    result = ut.minimize(lambda p: p["x"], {"x": ut.uniform(0.0, 1.0)}, backend="optuna", n_trials=1, seed=0)
    with pytest.raises(ImportError, match=r'pip install "unitune\[mlflow\]"'):
        result.to_mlflow("http://127.0.0.1:1")


def test_several_objectives_log_every_value_and_the_pareto_front(mlflow_uri):
    callback = MLflowCallback(mlflow_uri, experiment="several-objectives")
    result = ut.optimize(lambda p: (p["x"] ** 2, (p["x"] - 1) ** 2), {"x": ut.uniform(-1.0, 2.0)}, backend="optuna",
                         algorithm="nsga2", directions=["minimize", "minimize"], metrics=["a", "b"], n_trials=6,
                         seed=0, callbacks=[callback])
    parents, children = runs_of(mlflow_uri, "several-objectives")
    assert len(parents) == 1 and len(children) == 6
    for number, child in by_number(children).items():
        record = next(r for r in result.records if r.number == number)
        assert child.data.metrics["metrics.a"] == pytest.approx(record.metrics["a"])
        assert child.data.metrics["metrics.b"] == pytest.approx(record.metrics["b"])
    front = sorted(r.number for r in result.best_trials)
    assert parents[0].data.metrics["pareto_trials"] == len(front)
    assert parents[0].data.tags["unitune.pareto"] == ",".join(map(str, front))
    assert "best_value" not in parents[0].data.metrics
