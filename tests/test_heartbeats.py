"""Workers that die anywhere: heartbeats fail their running trials (``WorkerLost``), ``retry_failed`` re-runs them.

Two real worker processes share one stored study (SQLite and the real PostgreSQL server).  The victim
starts a trial that hangs; the survivor starts (the victim is alive then, so no pid check can see
anything) and the victim is killed with SIGKILL.  Only the heartbeat can tell the survivor: it fails
the trial within the grace period and, with ``retry_failed=1``, runs its params again.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import unitune as ut
from unitune.exceptions import InvalidRunError

INTERVAL, GRACE = 0.2, 1.0

WORKER = textwrap.dedent("""
    import json, os, sys, time
    import unitune as ut

    storage, role, marker, retry = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    INTERVAL, GRACE = float(sys.argv[5]), float(sys.argv[6])

    def objective(p):
        if role == "victim":
            with open(marker, "w") as f:
                json.dump({"pid": os.getpid(), "x": p["x"], "n": p["n"]}, f)
            time.sleep(120)  # killed in here
        if not os.path.exists(marker):
            open(marker, "w").close()
        time.sleep(0.3)
        return p["x"] + p["n"]

    ut.minimize(objective, {"x": ut.uniform(0.0, 1.0), "n": ut.integer(1, 9)}, backend="optuna",
                algorithm="random", n_trials=12, storage=storage, name="s", resume=True,
                heartbeat_interval=INTERVAL, grace_period=GRACE, retry_failed=retry)
""")


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    time.sleep(0.05)  # written


def lose_a_worker(storage: str, tmp_path: Path, retry: int):
    victim_marker, survivor_marker = tmp_path / "victim.json", tmp_path / "survivor"
    def start(role: str, marker: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", WORKER, storage, role, str(marker), str(retry), str(INTERVAL),
                                 str(GRACE)], stderr=subprocess.PIPE, text=True)

    victim = start("victim", victim_marker)
    wait_for(victim_marker, victim)
    survivor = start("survivor", survivor_marker)
    wait_for(survivor_marker, survivor)  # it has opened the study while the victim was alive
    killed_at = time.time()
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    _, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    lost = json.loads(victim_marker.read_text())
    table = ut.load(storage, "s").table
    return table, lost, killed_at


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "beats.db")
    return request.getfixturevalue("postgres_url")


@pytest.mark.parametrize("retry", [0, 1])
def test_a_worker_killed_elsewhere_is_found_by_its_silence(storage, tmp_path, retry):
    table, lost, killed_at = lose_a_worker(storage, tmp_path, retry)
    assert not (table["state"] == "running").any()
    dead = table[table["worker"].str.endswith(f":{lost['pid']}")]
    assert len(dead) == 1 and dead["state"].iloc[0] == "failed"
    assert dead["error"].iloc[0].startswith("WorkerLost: the worker") and "heartbeat" in dead["error"].iloc[0]
    assert (dead["params.x"].iloc[0], dead["params.n"].iloc[0]) == (lost["x"], lost["n"])  # params kept
    noticed = dead["finished"].iloc[0].timestamp() - killed_at
    assert GRACE <= noticed + INTERVAL < GRACE + 5.0, noticed  # within the grace period (+ the survivor's check)
    again = table[(table["params.x"] == lost["x"]) & (table["params.n"] == lost["n"]) & (table["state"] == "complete")]
    assert len(again) == retry  # re-run with the same params, once, only when asked for
    print(f"\nheartbeat {INTERVAL} s, grace {GRACE} s: the lost trial failed {noticed:.2f} s after the kill")


def test_an_old_store_opens_migrated_and_reads_as_before(tmp_path):
    path = tmp_path / "v1.db"
    study = ut.Study({"x": ut.uniform(0.0, 1.0)}, backend="optuna", seed=0, storage=str(path), name="old")
    for _ in range(3):
        study.tell(study.ask(), 0.25)
    study.close()
    before = ut.load(str(path), "old").table
    con = sqlite3.connect(path)  # make it a version-1 store, as the previous unitune wrote it
    con.execute("ALTER TABLE unitune_trials DROP COLUMN heartbeat")
    con.execute("UPDATE unitune_schema SET version = 1")
    con.commit()
    con.close()
    after = ut.load(str(path), "old").table
    assert after.equals(before)
    con = sqlite3.connect(path)
    assert con.execute("SELECT MAX(version) FROM unitune_schema").fetchone() == (2,)
    assert "heartbeat" in [row[1] for row in con.execute("PRAGMA table_info(unitune_trials)")]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"heartbeat_interval": 0}, r"heartbeat_interval must be a number of seconds > 0"),
    ({"heartbeat_interval": 1, "grace_period": 1}, r"grace_period \(1 s\) must be longer than heartbeat_interval"),
    ({"heartbeat_interval": None, "grace_period": 5}, r"grace_period needs heartbeats"),
    ({"retry_failed": -1}, r"retry_failed must be an int >= 0"),
])
def test_bad_liveness_settings(kwargs, message):
    with pytest.raises(InvalidRunError, match=message):
        ut.Study({"x": ut.uniform(0.0, 1.0)}, backend="optuna", **kwargs)
