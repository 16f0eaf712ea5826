"""Many processes opening one new store at the same instant (a job array does exactly this).

Each repetition starts ``PROCESSES`` real Python processes that import everything first, wait for one
shared start time, then open a store that does not exist yet and run trials on one study.  Every
process must finish, and every trial any of them finished must be in the store.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

import unitune as ut

PROCESSES = 8
REPETITIONS = 4

WORKER = textwrap.dedent("""
    import json, os, sys, time
    import optuna  # noqa: F401  (imports done before the start line, so the opens really race)
    import unitune as ut

    storage, start, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))
    result = ut.minimize(lambda p: p["x"] ** 2, {"x": ut.uniform(-1.0, 1.0)}, backend="optuna",
                         algorithm="random", n_trials=3, seed=seed, storage=storage, name="s", resume=True)
    mine = result.table[result.table["worker"].str.endswith(f":{os.getpid()}")]
    print(json.dumps(sorted(int(n) for n in mine.loc[mine["state"] == "complete", "trial"])))
""")


def race(storage: str) -> None:
    start = time.time() + 6.0  # every process has imported optuna and unitune by then
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, storage, str(start), str(i)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(PROCESSES)]
    outs = [p.communicate(timeout=180) for p in procs]
    failed = [(p.returncode, err.strip().splitlines()[-3:]) for p, (_, err) in zip(procs, outs, strict=True)
              if p.returncode != 0]
    assert not failed, f"{len(failed)} of {PROCESSES} processes failed: {failed}"
    finished = sorted(n for out, _ in outs for n in json.loads(out.strip().splitlines()[-1]))
    table = ut.load(storage, "s").table
    assert (table["state"] == "complete").all(), table[["trial", "state", "error"]]
    assert sorted(table["trial"].astype(int)) == finished  # no trial lost, none counted twice
    assert len(finished) >= 3


@pytest.mark.parametrize("repetition", range(REPETITIONS))
def test_sqlite_first_open_by_many_processes(tmp_path, repetition):
    race(str(tmp_path / f"new-{repetition}.db"))


def test_postgres_first_open_by_many_processes(postgres_url):
    race(postgres_url)


HOLDER = textwrap.dedent("""
    import sqlite3, sys, time

    path, hold, keep = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "keep"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")  # the first write of a new database (rollback journal): nobody reads meanwhile
    conn.execute("CREATE TABLE written_by_the_other_process (x)")
    conn.execute("INSERT INTO written_by_the_other_process VALUES (42)")
    print("holding", flush=True)
    time.sleep(hold)
    conn.execute("COMMIT" if keep else "ROLLBACK")
""")


def open_while_another_process_creates(tmp_path, monkeypatch, hold: float, keep: bool):
    """Open a new store the way a racing process does: it finds no file, then (before it connects) another
    process creates the database and holds its first write transaction for ``hold`` seconds."""
    from unitune.storage import sqlite

    path = tmp_path / "new.db"
    others = []
    real_check = sqlite.check_path

    def check_then_another_process_creates(p):
        existed = real_check(p)
        if others:  # later opens (reading the result back) are plain ones
            return existed
        assert existed is False
        other = subprocess.Popen([sys.executable, "-c", HOLDER, str(p), str(hold), "keep" if keep else "drop"],
                                 stdout=subprocess.PIPE, text=True)
        assert other.stdout.readline().strip() == "holding"
        others.append(other)
        return existed

    monkeypatch.setattr(sqlite, "check_path", check_then_another_process_creates)
    return path, others


def test_a_failed_first_open_never_deletes_what_another_process_wrote(tmp_path, monkeypatch):
    import sqlite3

    from unitune.exceptions import StorageError
    from unitune.storage import sqlite

    path, others = open_while_another_process_creates(tmp_path, monkeypatch, hold=3.0, keep=True)
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_S", 0.5)  # this process gives up waiting before the other commits
    with pytest.raises(StorageError, match=r"busy"):
        sqlite.SQLiteDialect(path)
    assert path.exists()  # the other process's database is still there ...
    assert others[0].wait(30) == 0
    rows = sqlite3.connect(path).execute("SELECT x FROM written_by_the_other_process").fetchall()
    assert rows == [(42,)]  # ... with what it committed


def test_a_busy_first_open_waits(tmp_path, monkeypatch):
    from unitune.storage import sqlite

    path, others = open_while_another_process_creates(tmp_path, monkeypatch, hold=2.0, keep=False)
    started = time.monotonic()
    sqlite.SQLiteDialect(path).close()  # the default busy timeout: waits for the other process's write
    assert time.monotonic() - started >= 1.0
    assert others[0].wait(30) == 0
    study = ut.Study({"x": ut.uniform(0.0, 1.0)}, backend="optuna", storage=str(path), name="after")
    study.tell(study.ask(), 0.5)
    assert ut.load(str(path), "after").table["value"].tolist() == [0.5]
