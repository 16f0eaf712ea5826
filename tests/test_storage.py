"""The trial store on a real SQLite file and a real PostgreSQL server: exact round trips, refusals
that leave the file as it was, several writing processes, and writers killed with SIGKILL."""

from __future__ import annotations

import math
import os
import pickle
import pwd
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import unitune as ut
from unitune.records import TrialRecord
from unitune.results import Result
from unitune.space import Space
from unitune.storage import (
    ORPHAN_ERROR,
    SCHEMA_VERSION,
    StorageError,
    StudyExistsError,
    StudyMeta,
    StudyNotFoundError,
    describe_space_change,
    load,
    open_store,
    space_fingerprint,
    studies,
)

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Kernel:  # an arbitrary (picklable, comparable) object as a choice option
    name: str
    degree: int = 3


SPACE = {
    "x": ut.uniform(-1.0, 1.0),
    "q": ut.uniform(0.0, 0.5, step=0.05),
    "lr": ut.loguniform(1e-4, 1.0),
    "n": ut.integer(1, 9),
    "c": ut.choice([None, (1, 2), True, False, 0, 1, "a", 2.5, Kernel("rbf"), frozenset({1})]),
    "model": ut.choice({
        "svm": {"C": ut.loguniform(1e-3, 1e3), "k": ut.choice(["rbf", None, Kernel("poly", 2)])},
        "tree": {"depth": ut.integer(1, 6)},
    }),
    "epochs": 20,
}

T0 = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)


def hand_made_records(space: Space) -> list[TrialRecord]:
    c = space.param("c").dim.options
    k = space.param("model.svm.k").dim.options

    def rec(number, state, value, params, **kw):
        started = T0 + timedelta(seconds=number, microseconds=number * 7)
        return TrialRecord(number=number, state=state, value=value, params=params, started=started,
                           finished=started + timedelta(microseconds=987_654 + number), **kw)

    base = {"x": -0.25, "q": 0.35, "lr": 1e-3, "n": 4}
    return [
        rec(0, "complete", 0.5, {**base, "c": c[0], "model": "svm", "model.svm.C": 3.5, "model.svm.k": k[2]},
            metrics={"acc": 0.9, "nan": math.nan, "inf": -math.inf}, optimizer_s=0.0123, worker="h:1"),
        rec(1, "complete", math.inf, {**base, "c": c[1], "model": "tree", "model.tree.depth": 6},
            metrics={"acc": 0.1, "shape": (3, 4)}, intermediate=[(0, 1.0), (1, math.nan), (2, math.inf)], step=2),
        rec(2, "complete", -math.inf, {**base, "c": c[2], "model": "svm", "model.svm.C": 1e-3,
                                       "model.svm.k": None}, info={"parent": 1, "why": ["exploit", None]}),
        rec(3, "failed", math.nan, {**base, "c": c[3], "model": "tree", "model.tree.depth": 1},
            error="ValueError: bad", worker="other:77"),
        rec(4, "pruned", -0.0, {**base, "x": 1.0, "c": c[4], "model": "tree", "model.tree.depth": 2}, step=7,
            intermediate=[(7, -0.0)], info={"tuple": (1,), 3: "int key"}),
        rec(5, "complete", 1e308, {**base, "c": c[5], "model": "svm", "model.svm.C": 999.0, "model.svm.k": "rbf"},
            metrics={"obj": Kernel("m")}),
        rec(7, "complete", 2.0, {**base, "c": c[6], "model": "tree", "model.tree.depth": 3}),  # number 6 never finished
        rec(8, "complete", 3.0, {**base, "c": c[7], "model": "tree", "model.tree.depth": 4}),
        rec(9, "complete", 4.0, {**base, "c": c[8], "model": "tree", "model.tree.depth": 5}, metrics={"acc": 1}),
        rec(10, "failed", math.nan, {**base, "c": c[9], "model": "tree", "model.tree.depth": 5}, error="E"),
    ]


def same(a, b) -> bool:
    """Equal values of the same types, NaN equal to NaN, -0.0 apart from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    return a == b


def assert_same_records(got: list[TrialRecord], want: list[TrialRecord]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        for f in fields(TrialRecord):
            assert same(getattr(g, f.name), getattr(w, f.name)), (w.number, f.name, getattr(g, f.name),
                                                                  getattr(w, f.name))


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "runs.db")
    return request.getfixturevalue("postgres_url")


def meta_for(space, backend="optuna", algorithm="tpe", direction="minimize", seed=0, metric=None, **options):
    return StudyMeta(backend=backend, algorithm=algorithm, direction=direction, seed=seed, metric=metric,
                     space=Space(space) if not isinstance(space, Space) else space, options=options)


def write(store, study_id, records):
    for r in records:
        store.finish_trial(study_id, r)


# --- round trips --------------------------------------------------------------------------------------


def test_round_trip_every_kind_of_value(url):
    space = Space(SPACE)
    records = hand_made_records(space)
    with open_store(url) as store:
        study = store.create_study("every-value", meta_for(space, seed=None, metric="acc", scheduler="asha",
                                                           scheduler_options={"max_t": 9}))
        assert store.reserve_trial(study.id, "h:1") == 0
        write(store, study.id, records)
        assert store.count_finished(study.id) == len(records)
        assert store.reserve_trial(study.id, "h:1") == 11  # numbering continues after the largest written
        got, cursor = store.trials(study.id)
        assert cursor == len(records)
        assert_same_records(got, records)
        # decoded through the caller's space: the very objects of that space
        mine, _ = store.trials(study.id, space=space)
        assert mine[0].params["model.svm.k"] is space.param("model.svm.k").dim.options[2]
        assert mine[1].params["c"] is space.param("c").dim.options[1]

    loaded = load(url, "every-value")
    want = Result(records=records, space=space, backend="optuna", algorithm="tpe", seed=None, direction="minimize",
                  metric="acc")
    pd.testing.assert_frame_equal(loaded.table, want.table)
    assert list(loaded.table.dtypes) == list(want.table.dtypes)
    assert loaded.best_value == want.best_value == 0.5  # ±inf rows are never the best (Result.best_record)
    assert ut.studies(url).best_value[0] == 0.5
    # choice values are the objects of the loaded space
    dim = loaded.space.param("c").dim
    assert all(r.params["c"] is dim.options[dim.index(r.params["c"])] for r in loaded.records)
    assert [type(r.params["c"]) for r in loaded.records] == [type(r.params["c"]) for r in records]
    assert loaded.metric == "acc" and loaded.scheduler == "asha"
    assert loaded.space.definition["epochs"] == 20 and space_fingerprint(loaded.space) == space_fingerprint(space)


def test_round_trip_of_a_real_optuna_run(url):
    def objective(p):
        kind, sub = p["model"]
        extra = sub["C"] if kind == "svm" else sub["depth"]
        if p["n"] == 9:
            raise RuntimeError("n=9 fails")
        return {"loss": (p["x"] - 0.3) ** 2 + p["lr"] + 0.01 * extra, "c_is_none": p["c"] is None}

    result = ut.minimize(objective, SPACE, backend="optuna", n_trials=25, seed=3, metric="loss")
    assert len(result.records) == 25
    with open_store(url) as store:
        study = store.create_study("optuna-run", meta_for(result.space, "optuna", result.algorithm,
                                                          result.direction, result.seed, result.metric))
        write(store, study.id, result.records)
        assert store.studies()[0]["best_value"] == result.best_value
    loaded = ut.load(url, "optuna-run")
    pd.testing.assert_frame_equal(loaded.table, result.table)
    assert_same_records(loaded.records, result.records)
    assert loaded.best_params == result.best_params


def test_incremental_reads_and_the_cursor(url):
    space = Space(SPACE)
    records = hand_made_records(space)
    with open_store(url) as writer, open_store(url) as reader:
        study = writer.create_study("inc", meta_for(space))
        got, cursor = reader.trials(study.id)
        assert (got, cursor) == ([], 0)
        numbers = [writer.reserve_trial(study.id, "h:1") for _ in range(3)]
        assert numbers == [0, 1, 2]
        # finished out of order: read back in finish (commit) order
        for n in (2, 0):
            writer.finish_trial(study.id, TrialRecord(n, "complete", float(n), {**records[0].params}))
        got, cursor = reader.trials(study.id, cursor)
        assert [r.number for r in got] == [2, 0] and cursor == 2
        assert reader.trials(study.id, cursor) == ([], cursor)  # nothing new: nothing read
        writer.finish_trial(study.id, TrialRecord(1, "pruned", 1.0, {**records[0].params}))
        got, cursor = reader.trials(study.id, cursor)
        assert [r.number for r in got] == [1] and cursor == 3
        with pytest.raises(StorageError, match="already finished"):
            writer.finish_trial(study.id, TrialRecord(1, "complete", 1.0, {**records[0].params}))
        assert reader.count_finished(study.id) == 3


def test_a_pickled_store_reopens_the_same_store(url):
    with open_store(url) as store:
        store.create_study("p", meta_for({"x": ut.uniform(0.0, 1.0)}))
        with pickle.loads(pickle.dumps(store)) as copy:
            assert copy.url == store.url and copy.get_study("p").id == store.get_study("p").id


def test_reading_nothing_new_is_cheap(tmp_path):
    space = Space({"x": ut.uniform(0.0, 1.0)})
    with open_store(tmp_path / "r.db") as store:
        study = store.create_study("s", meta_for(space))
        write(store, study.id, [TrialRecord(i, "complete", 0.1, {"x": 0.5}) for i in range(2000)])
        _, cursor = store.trials(study.id)
        start = time.perf_counter()
        for _ in range(200):
            assert store.trials(study.id, cursor) == ([], cursor)
        assert (time.perf_counter() - start) / 200 < 0.002


def test_studies_overview_and_get_or_create(url):
    space = Space({"x": ut.uniform(0.0, 1.0)})
    with open_store(url) as store:
        a, created = store.get_or_create_study("a", meta_for(space, direction="maximize", seed=7))
        assert created
        again, created = store.get_or_create_study("a", meta_for(space))
        assert not created and again.id == a.id and again.meta.direction == "maximize"
        b = store.create_study("b", meta_for(space, backend="skopt", algorithm="gp", seed=None))
        store.reserve_trial(a.id, "h:1")
        write(store, a.id, [TrialRecord(0, "complete", 0.2, {"x": 0.1}), TrialRecord(1, "complete", 0.7, {"x": 0.2}),
                            TrialRecord(2, "failed", math.nan, {"x": 0.3}), TrialRecord(3, "pruned", 9.0, {"x": 0.4})])
        store.reserve_trial(a.id, "h:1")
        with pytest.raises(StudyExistsError, match="already in .*resume=True"):
            store.create_study("b", meta_for(space))
        with pytest.raises(StudyNotFoundError, match="'nope'.*'a', 'b'"):
            store.study("nope")
        assert store.get_study("nope") is None
        assert b.meta.backend == "skopt" and b.created <= b.updated
    table = ut.studies(url)
    pd.testing.assert_frame_equal(studies(url), table)
    assert list(table.columns) == ["name", "backend", "algorithm", "direction", "seed", "n_trials", "n_complete",
                                   "n_pruned", "n_failed", "n_running", "best_value", "created", "updated"]
    row = table.set_index("name").loc["a"]
    assert (row.n_trials, row.n_complete, row.n_pruned, row.n_failed, row.n_running) == (4, 2, 1, 1, 1)
    assert row.best_value == 0.7 and row.seed == 7 and row.direction == "maximize"
    assert pd.isna(table.set_index("name").loc["b", "best_value"]) and pd.isna(table.seed[1])
    assert isinstance(table.created.dtype, pd.DatetimeTZDtype) and str(table.created.dtype.tz) == "UTC"
    assert table.seed.dtype == "Int64" and table.n_trials.dtype == "int64"
    with pytest.raises(StudyNotFoundError):
        load(url, "missing")


def test_fail_orphans_only_for_dead_processes_of_this_host(url):
    space = Space({"x": ut.uniform(0.0, 1.0)})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    with open_store(url) as store:
        study = store.create_study("orphans", meta_for(space))
        lost = store.reserve_trial(study.id, f"{host}:{dead.pid}")
        store.reserve_trial(study.id, f"{host}:{os.getpid()}")  # alive: left alone
        store.reserve_trial(study.id, f"elsewhere:{dead.pid}")  # another machine's: left alone
        assert len(store.fail_orphans(study.id)) == 1
        assert store.fail_orphans(study.id) == []
        (record,), _ = store.trials(study.id)
        assert (record.number, record.state, record.error) == (lost, "failed", ORPHAN_ERROR)
        assert math.isnan(record.value) and record.worker == f"{host}:{dead.pid}"
        assert [n for n, _ in store.running_trials(study.id)] == [1, 2]


# --- the space's fingerprint ------------------------------------------------------------------------


def test_fingerprint_is_deterministic_across_processes():
    code = ("from tests.test_storage import SPACE; from unitune.space import Space; "
            "from unitune.storage import space_fingerprint; print(space_fingerprint(Space(SPACE)), end='')")
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert other.stdout == space_fingerprint(Space(SPACE))
    assert "0x" not in other.stdout


def test_describe_space_change():
    old = Space({"x": ut.uniform(0.0, 1.0), "y": ut.integer(1, 3), "c": ut.choice(["a", "b"])})
    assert describe_space_change(old, Space({"x": ut.uniform(0.0, 1.0), "y": ut.integer(1, 3),
                                             "c": ut.choice(["a", "b"]), "k": 3})) is None  # a constant is no change
    assert describe_space_change(old, Space({"x": ut.uniform(0.0, 2.0), "y": ut.integer(1, 3),
                                             "c": ut.choice(["a", "b"])})) == (
        "parameter 'x' changed from uniform(0.0, 1.0) to uniform(0.0, 2.0)")
    change = describe_space_change(old, Space({"x": ut.uniform(0.0, 1.0), "c": ut.choice(["a", "b", None]),
                                               "z": ut.loguniform(1e-3, 1.0)}))
    assert change == ("parameter 'y' removed (was integer(1, 3)); parameter 'c' changed from choice(['a', 'b']) to "
                      "choice(['a', 'b', None]); parameter 'z' added (loguniform(0.001, 1.0))")
    assert "order" in describe_space_change(old, Space({"y": ut.integer(1, 3), "x": ut.uniform(0.0, 1.0),
                                                        "c": ut.choice(["a", "b"])}))
    cond = Space({"m": ut.choice({"a": {"x": ut.uniform(0.0, 1.0)}, "b": {}})})
    moved = Space({"m": ut.choice({"a": {}, "b": {"x": ut.uniform(0.0, 1.0)}})})
    assert describe_space_change(cond, moved) == ("parameter 'm.a.x' removed (was uniform(0.0, 1.0)); "
                                                  "parameter 'm.b.x' added (uniform(0.0, 1.0))")


# --- refusals: a clear error, the file as it was ------------------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for p in sorted(folder.iterdir())
            if p.is_file()}


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(StorageError, match="is a directory"):
        open_store(tmp_path)
    with pytest.raises(StorageError, match="folder .* does not exist"):
        open_store(tmp_path / "no" / "runs.db")
    assert list(tmp_path.iterdir()) == []


def test_read_only_file_and_folder_are_refused(tmp_path):
    path = tmp_path / "runs.db"
    with open_store(path) as store:
        store.create_study("s", meta_for({"x": ut.uniform(0.0, 1.0)}))
    path.chmod(0o444)
    before = snapshot(tmp_path)
    with pytest.raises(StorageError, match="read-only"):
        open_store(path)
    assert snapshot(tmp_path) == before
    path.chmod(0o644)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(StorageError, match="read-only"):
            open_store(folder / "new.db")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a child as another user")
def test_read_only_for_a_real_unprivileged_user():
    """As root, permission bits do not bind; as `nobody` they really do: the store is refused cleanly."""
    user = pwd.getpwnam("nobody")
    tmp_path = Path(tempfile.mkdtemp(prefix="unitune-ro-"))  # pytest's tmp_path is not reachable by nobody
    tmp_path.chmod(0o755)
    path = tmp_path / "runs.db"
    with open_store(path) as store:
        store.create_study("s", meta_for({"x": ut.uniform(0.0, 1.0)}))
    before = snapshot(tmp_path)
    try:
        probe = subprocess.run([sys.executable, "-c", "import unitune.storage"], cwd=ROOT, capture_output=True,
                               user=user.pw_uid, group=user.pw_gid, extra_groups=[], timeout=60)
        failure = probe.stderr.decode()[-200:] if probe.returncode else ""
    except PermissionError as e:  # e.g. the interpreter lives under a /root that only root may enter
        failure = str(e)
    if failure:
        shutil.rmtree(tmp_path)
        pytest.skip(f"`nobody` cannot run {sys.executable} with unitune from {ROOT}: {failure}")
    code = ("import sys; from unitune.storage import open_store, StorageError\n"
            "try:\n    open_store(sys.argv[1])\nexcept StorageError as e:\n    print('refused:', e)\n")
    child = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
                           user=user.pw_uid, group=user.pw_gid, extra_groups=[], timeout=60)
    try:
        assert "refused:" in child.stdout and "read-only" in child.stdout, child.stderr
        assert snapshot(tmp_path) == before
        hidden = tmp_path / "hidden"  # a folder nobody may enter: refused, not a PermissionError traceback
        hidden.mkdir(mode=0o700)
        child = subprocess.run([sys.executable, "-c", code, str(hidden / "runs.db")], cwd=ROOT, capture_output=True,
                               text=True, user=user.pw_uid, group=user.pw_gid, extra_groups=[], timeout=60)
        assert "refused:" in child.stdout, child.stderr
        assert list(hidden.iterdir()) == []
    finally:
        shutil.rmtree(tmp_path)


def test_files_that_are_not_stores_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 10)
    foreign = tmp_path / "other.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    con.execute("INSERT INTO customers VALUES (1, 'a')")
    con.commit()
    con.close()
    before = snapshot(tmp_path)
    with pytest.raises(StorageError, match="not a unitune store"):
        open_store(text)
    with pytest.raises(StorageError, match="without unitune's tables .*customers"):
        open_store(foreign)
    with pytest.raises(StorageError, match="without unitune's tables"):
        open_store(f"sqlite:///{foreign}")
    assert snapshot(tmp_path) == before


def test_a_store_of_a_newer_schema_version_is_refused(tmp_path):
    path = tmp_path / "runs.db"
    open_store(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE unitune_schema SET version = ?", (SCHEMA_VERSION + 1,))
    con.commit()
    con.close()
    before = snapshot(tmp_path)
    message = (f"written by schema version {SCHEMA_VERSION + 1}; this unitune reads up to {SCHEMA_VERSION}: "
               "upgrade unitune")
    with pytest.raises(StorageError, match=message):
        open_store(path)
    assert snapshot(tmp_path) == before


def test_postgres_newer_schema_version_and_bad_server(postgres_url):
    open_store(postgres_url).close()
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE unitune_schema SET version = %s", (SCHEMA_VERSION + 5,))
    with pytest.raises(StorageError, match=f"schema version {SCHEMA_VERSION + 5}.*upgrade unitune"):
        open_store(postgres_url)
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    free = port.getsockname()[1]
    port.close()
    with pytest.raises(StorageError, match="cannot connect") as refused:
        open_store(f"postgresql://postgres:secret@127.0.0.1:{free}/x")
    assert "secret" not in str(refused.value)


def test_unknown_url_scheme():
    with pytest.raises(StorageError, match="unknown store URL scheme 'mysql'"):
        open_store("mysql://u@h/db")


# --- several processes ------------------------------------------------------------------------------


def worker(url: str, name: str, n: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.fixtures.store_worker", url, name, str(n), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_processes_racing_to_create_one_store_and_study(url):
    """Three processes start at once on a store that does not exist yet: one store, one study, 30 trials."""
    children = [worker(url, "raced", 10, "create") for _ in range(3)]
    numbers = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        numbers += [int(line) for line in out.split()]
    assert sorted(numbers) == list(range(30))
    with open_store(url) as store:
        assert [s["name"] for s in store.studies()] == ["raced"]
        assert store.count_finished(store.study("raced").id) == 30


def test_two_processes_share_one_study(url):
    space = Space({f"p{i}": ut.uniform(0.0, 1.0) for i in range(3)})
    with open_store(url) as store:
        study = store.create_study("shared", meta_for(space))
    children = [worker(url, "shared", 50) for _ in range(2)]
    printed = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        printed.append([int(line) for line in out.split()])
    assert all(len(p) == 50 for p in printed)
    assert sorted(printed[0] + printed[1]) == list(range(100))
    with open_store(url) as store:
        records, cursor = store.trials(study.id)
        assert cursor == 100 and sorted(r.number for r in records) == list(range(100))
        assert {r.worker.split(":")[1] for r in records} == {str(c.pid) for c in children}
        assert store.count_finished(study.id) == 100 and store.running_trials(study.id) == []


def test_sigkill_of_a_writer_loses_no_finished_trial(url):
    space = Space({f"p{i}": ut.uniform(0.0, 1.0) for i in range(10)})
    with open_store(url) as store:
        study = store.create_study("killed", meta_for(space))
    rng = random.Random(0)
    confirmed: set[int] = set()
    counts = []
    for _ in range(5):
        child = worker(url, "killed", -1)
        seen = 0
        target = rng.randint(5, 60)
        while seen < target:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            confirmed.add(int(line))
            seen += 1
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        confirmed.update(int(line) for line in child.stdout.read().split())  # what it printed before it died
        child.stdout.close()
        child.stderr.close()
        with open_store(url) as store:  # reopens cleanly after every kill
            records, _ = store.trials(study.id)
            stored = {r.number for r in records}
            assert confirmed <= stored, sorted(confirmed - stored)
            for r in records:  # intact: params and value as written (or an orphan failed by an earlier reopen)
                if r.state == "failed":
                    assert r.error == ORPHAN_ERROR and r.number not in confirmed
                else:
                    assert r.state == "complete" and len(r.params) == 10
                    assert r.value == sum((v - 0.5) ** 2 for v in r.params.values())
            orphans = len(store.fail_orphans(study.id))
        counts.append((len(confirmed), len(stored - confirmed), orphans))
    if url.endswith(".db"):
        con = sqlite3.connect(url)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        con.close()
    with open_store(url) as store:
        assert store.running_trials(study.id) == []
        total = store.count_finished(study.id)
    kind = url.split(":")[0] if "://" in url else "sqlite"
    print(f"\nkill -9 x5 ({kind}): per kill (confirmed by the child so far, committed but unconfirmed, orphans "
          f"failed) {counts}; {total} trials in the store, none lost")


class Plain:  # equal only to itself: no __eq__
    def __init__(self, tag):
        self.tag = tag


def test_objects_without_equality_come_back_as_the_spaces_own(tmp_path):
    a, b = Plain("a"), Plain("b")
    space = Space({"obj": ut.choice([a, b]), "x": ut.uniform(0.0, 1.0)})
    path = tmp_path / "r.db"
    with open_store(path) as store:
        study = store.create_study("plain", meta_for(space))
        store.finish_trial(study.id, TrialRecord(0, "complete", 1.0, {"obj": b, "x": 0.5}))
        (got,), _ = store.trials(study.id)
        assert got.params["obj"] is b  # the creating process: the caller's very object
    with open_store(path) as store:  # another session: the user's new Space of equal fingerprint
        again = Space({"obj": ut.choice([Plain("a"), Plain("b")]), "x": ut.uniform(0.0, 1.0)})
        stored = store.get_study("plain")
        assert stored.fingerprint == space_fingerprint(again)
        assert describe_space_change(stored.meta.space, again) is None
        store.use_space(stored.id, again)
        (got,), _ = store.trials(stored.id)
        assert got.params["obj"] is again.param("obj").dim.options[1]
