"""Several processes on one stored study at once: one shared budget, no number twice, nothing lost,
and each process's asks take in the others' finished trials.  On SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import unitune as ut

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent(
    """
    import json, os, sys, time, warnings
    warnings.simplefilter("ignore")
    import unitune as ut

    def objective(p):
        time.sleep(0.05)
        return (p["x"] - 1.0) ** 2

    study = ut.Study({"x": ut.uniform(-3.0, 3.0)}, backend=sys.argv[1], seed=int(sys.argv[3]), storage=sys.argv[2],
                     name="shared", resume=True)
    result = study.optimize(objective, n_trials=20)
    mine = [r.number for r in result.records if r.worker.endswith(f":{os.getpid()}")]
    print(json.dumps({"mine": mine, "framework_knows": len(study._adapter.history()), "rows": len(result.records)}))
    """
)


def run_two_workers(backend: str, storage: str) -> list[dict]:
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, backend, storage, str(seed)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT) for seed in (1, 2)]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return outs


def check_shared_study(outs: list[dict], table) -> None:
    numbers = list(table["trial"])
    assert len(numbers) == len(set(numbers))  # no trial number twice
    assert 20 <= len(table) <= 22  # the budget is the study's: at most one extra per worker in flight
    mine = [set(o["mine"]) for o in outs]
    assert mine[0] and mine[1] and not mine[0] & mine[1]  # both worked, on different trials
    assert mine[0] | mine[1] == set(numbers)  # nothing lost
    for out, own in zip(outs, mine, strict=True):
        assert out["framework_knows"] > len(own)  # its asks took in the other's finished trials
    assert (table["state"] == "complete").all()


@pytest.mark.parametrize("backend", ["optuna", "hyperopt"])
def test_two_processes_share_one_sqlite_study(backend, tmp_path):
    pytest.importorskip(backend)
    db = str(tmp_path / "runs.db")
    outs = run_two_workers(backend, db)
    check_shared_study(outs, ut.load(db, "shared").table)


def test_two_processes_share_one_postgresql_study(postgres_url):
    pytest.importorskip("optuna")
    outs = run_two_workers("optuna", postgres_url)
    check_shared_study(outs, ut.load(postgres_url, "shared").table)


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_parallel_run_on_a_stored_study_counts_the_studys_trials(executor, tmp_path):
    pytest.importorskip("optuna")
    db, space = str(tmp_path / "runs.db"), {"x": ut.uniform(-3.0, 3.0)}
    first = ut.minimize(lambda p: p["x"] ** 2, space, backend="optuna", n_trials=6, seed=0, n_jobs=2,
                        executor=executor, storage=db, name="s")
    assert len(first.table) == 6
    resumed = ut.minimize(lambda p: p["x"] ** 2, space, backend="optuna", n_trials=10, seed=0, n_jobs=2,
                          executor=executor, storage=db, name="s", resume=True)
    assert sorted(resumed.table["trial"]) == list(range(10))  # 4 more, numbered on
    assert len(ut.load(db, "s").table) == 10
