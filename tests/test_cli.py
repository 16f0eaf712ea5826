"""The ``unitune`` console command on a real SQLite store; the dashboard as a real optuna-dashboard server."""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings

import pandas as pd
import pytest

import unitune as ut
from unitune.cli import build_dashboard_storage, main
from unitune.storage import StudyMeta, load, open_store

SPACE = {
    "lr": ut.loguniform(1e-4, 1e-1),
    "act": ut.choice(["relu", None, (1, 2)]),
    "model": ut.choice({"svm": {"C": ut.loguniform(1e-2, 1e2)}, "forest": {"depth": ut.integer(2, 12)}}),
}


def objective(params):
    kind, sub = params["model"]
    if kind == "forest" and sub["depth"] > 10:
        raise ValueError("too deep")
    value = (math.log10(params["lr"]) + 2) ** 2 + (sub["C"] if kind == "svm" else sub["depth"]) / 10
    ut.report(value + 1, step=0)
    return value


def _save(store, name, result):
    meta = StudyMeta(backend=result.backend, algorithm=result.algorithm, direction=result.direction,
                     seed=result.seed, metric=result.metric, space=result.space)
    study = store.create_study(name, meta)
    for record in result.records:
        store.finish_trial(study.id, record)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "runs.db"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {
            "svm-optuna": ut.minimize(objective, SPACE, backend="optuna", n_trials=12, seed=0),
            "svm-hyperopt": ut.minimize(objective, SPACE, backend="hyperopt", n_trials=12, seed=0),
        }
    store = open_store(path)
    try:
        for name, result in results.items():
            _save(store, name, result)
    finally:
        store.close()
    return path


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [[], ["studies"], ["show"], ["dashboard"], ["tensorboard"]])
def test_help_on_each_command(capsys, command):
    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: unitune")
    if command:
        assert "STORE" in out


def test_studies_lists_each_study(capsys, store_path):
    code, out, _ = _run(capsys, "studies", store_path)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["name", "backend", "algorithm", "direction"]
    assert {line.split()[0] for line in lines[1:]} == {"svm-optuna", "svm-hyperopt"}


def test_show_prints_the_table_and_exports_it(capsys, store_path, tmp_path):
    result = load(store_path, "svm-optuna")
    code, out, err = _run(capsys, "show", store_path, "svm-optuna", "--csv", tmp_path / "t.csv",
                          "--parquet", tmp_path / "t.parquet")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("svm-optuna: optuna/tpe, seed 0, minimize value; 12 trials")
    header = lines[1].split()
    assert header[:3] == ["trial", "state", "value"] and "params.model.svm.C" in header
    assert "started" not in header  # a terminal table: timestamps only with --all-columns
    assert len(lines) == 2 + len(result.records)
    assert "wrote" in err
    csv = pd.read_csv(tmp_path / "t.csv")
    assert list(csv.columns) == list(result.table.columns)
    assert csv["value"].tolist() == pytest.approx(result.table["value"].tolist(), nan_ok=True)
    parquet = pd.read_parquet(tmp_path / "t.parquet")
    assert list(parquet.columns) == list(result.table.columns)
    expected = ["(1, 2)" if v == (1, 2) else v for v in result.table["params.act"]]  # objects as their repr
    assert [None if pd.isna(v) else v for v in parquet["params.act"]] == expected
    assert parquet["params.model.svm.C"].tolist() == pytest.approx(result.table["params.model.svm.C"].tolist(),
                                                                  nan_ok=True)

    code, out, _ = _run(capsys, "show", store_path, "svm-optuna", "--sort", "--limit", "3")
    values = [float(line.split()[2]) for line in out.splitlines()[2:]]
    assert values == sorted(values) and len(values) == 3
    assert values[0] == pytest.approx(result.best_value, rel=1e-5)


def test_tensorboard_command_writes_one_run_per_trial(capsys, store_path, tmp_path):
    code, out, _ = _run(capsys, "tensorboard", store_path, "svm-hyperopt", tmp_path / "tb")
    assert code == 0 and "wrote 12 runs" in out
    assert len([p for p in (tmp_path / "tb").iterdir() if p.is_dir()]) == 12
    code, _, err = _run(capsys, "tensorboard", store_path, "svm-hyperopt", tmp_path / "tb")  # not empty now
    assert code == 2 and err.count("\n") == 1 and "empty or new folder" in err


@pytest.mark.parametrize("case", ["missing store", "folder", "not a store", "unknown study", "csv folder"])
def test_bad_paths_and_names_are_one_line_errors(capsys, store_path, tmp_path, case):
    (tmp_path / "notes.txt").write_text("not a database\n")
    argv = {
        "missing store": ["show", tmp_path / "nope.db", "x"],
        "folder": ["studies", tmp_path],
        "not a store": ["studies", tmp_path / "notes.txt"],
        "unknown study": ["show", store_path, "nope"],
        "csv folder": ["show", store_path, "svm-optuna", "--csv", tmp_path / "no" / "t.csv"],
    }[case]
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.startswith("unitune: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not (tmp_path / "nope.db").exists()  # a read command never creates a store
    if case == "unknown study":
        assert "svm-optuna" in err  # the names that are there


def test_console_script_exit_status_without_traceback(tmp_path):
    script = shutil.which("unitune")
    command = [script] if script else [sys.executable, "-m", "unitune.cli"]
    done = subprocess.run([*command, "studies", str(tmp_path / "missing.db")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"unitune: error: no store at {tmp_path / 'missing.db'}"]


def test_dashboard_storage_holds_every_study(store_path):
    storage = build_dashboard_storage(str(store_path))
    summaries = {s.study_name: s for s in storage.get_all_studies()}
    assert set(summaries) == {"svm-optuna", "svm-hyperopt"}
    study_id = summaries["svm-hyperopt"]._study_id
    assert len(storage.get_all_trials(study_id)) == 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_serves_the_studies_over_http(store_path, tmp_path):
    port = _free_port()
    log = tmp_path / "dashboard.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "unitune.cli", "dashboard", str(store_path),
                                   "--host", "127.0.0.1", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        studies = None
        while time.monotonic() < deadline and studies is None:
            assert server.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    studies = json.load(response)["study_summaries"]
            except OSError:
                time.sleep(0.3)
        assert studies is not None, log.read_text()
        by_name = {s["study_name"]: s for s in studies}
        assert set(by_name) == {"svm-optuna", "svm-hyperopt"}
        attrs = {a["key"]: a["value"] for a in by_name["svm-hyperopt"]["user_attrs"]}
        assert attrs["unitune.backend"] == "hyperopt"
        study_id = by_name["svm-hyperopt"]["study_id"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{study_id}?after=0", timeout=10) as response:
            detail = json.load(response)
        assert len(detail["trials"]) == 12
        states = {t["state"] for t in detail["trials"]}
        assert states <= {"Complete", "Fail", "Pruned"} and "Complete" in states
        choices = {p["name"]: p for p in detail["trials"][0]["params"]}
        assert [c["value"] for c in choices["act"]["distribution"]["choices"]] == ["relu", "None", "(1, 2)"]
    finally:
        server.kill()
        server.wait(10)


def test_dashboard_errors_are_one_line(capsys, store_path):
    code, _, err = _run(capsys, "dashboard", store_path, "--name", "nope")
    assert code == 2 and err.count("\n") == 1 and "no study 'nope'" in err and "svm-optuna" in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, _, err = _run(capsys, "dashboard", store_path, "--name", "svm-optuna", "--port", taken.getsockname()[1])
    assert code == 2 and err.splitlines()[-1].startswith("unitune: error: cannot serve on 127.0.0.1:")


def test_show_a_stored_study_with_several_objectives(capsys, tmp_path):
    db = str(tmp_path / "mo.db")
    result = ut.optimize(lambda p: (p["x"], (1 - p["x"]) ** 2), {"x": ut.uniform(0.0, 1.0)}, backend="optuna",
                         algorithm="nsga2", directions=["minimize", "minimize"], metrics=["err", "size"],
                         n_trials=8, seed=0, storage=db, name="mo")
    code, out, _ = _run(capsys, "show", db, "mo")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("mo: optuna/nsga2, seed 0, err (minimize), size (minimize); 8 trials")
    assert lines[0].endswith(f"{len(result.best_trials)} trials on the Pareto front")
    assert {"values.err", "values.size", "pareto"} <= set(lines[1].split())
