"""What the trial store costs: write time per trial and time to read a big study back into a table.

    python -m benchmarks.store_bench [--postgres URL] [--trials 500] [--read 10000]

- write: ``reserve_trial`` + ``finish_trial`` (two commits, as a run does) for 500 trials of 10
  float params, on SQLite with ``synchronous=NORMAL`` (the default) and ``FULL``, and on PostgreSQL;
- next to it, the objective-free trial cost of an in-memory run (``ut.minimize`` with Optuna's
  random sampler and an objective that returns 0.0), which is what the store adds to;
- read: ``ut.load(...).table`` of a study of 10,000 stored trials (best of 5), which must be < 0.5 s.

Without ``--postgres`` a throwaway server is started on 127.0.0.1 the way the tests start one
(tests/fixtures/postgres.py: the pgserver wheel's binaries, or Debian's) and stopped afterwards.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import unitune as ut
from unitune.records import TrialRecord, utcnow
from unitune.space import Space
from unitune.storage import StudyMeta, load, open_store
from unitune.storage import sqlite as sqlite_store

SPACE = {f"p{i}": ut.uniform(0.0, 1.0) for i in range(10)}


def record(number: int, rng: random.Random) -> TrialRecord:
    params = {f"p{i}": rng.random() for i in range(10)}
    start = utcnow()
    return TrialRecord(number=number, state="complete", value=sum(params.values()), params=params, started=start,
                       finished=utcnow(), worker=f"{socket.gethostname()}:{os.getpid()}", optimizer_s=0.001)


def meta() -> StudyMeta:
    return StudyMeta(backend="optuna", algorithm="random", direction="minimize", seed=0, metric=None,
                     space=Space(SPACE))


def write_cost(url: str, n: int) -> float:
    """Milliseconds per trial for reserve + finish."""
    rng = random.Random(0)
    with open_store(url) as store:
        study = store.create_study(f"write-{time.monotonic_ns()}", meta())
        worker = f"{socket.gethostname()}:{os.getpid()}"
        start = time.perf_counter()
        for _ in range(n):
            number = store.reserve_trial(study.id, worker)
            store.finish_trial(study.id, record(number, rng))
        return (time.perf_counter() - start) / n * 1000


def read_time(url: str, n: int) -> tuple[float, int]:
    """Seconds for ``load(url, name).table`` of a study of ``n`` trials (best of 5: the machine is shared)."""
    rng = random.Random(1)
    name = f"read-{time.monotonic_ns()}"
    with open_store(url) as store:
        study = store.create_study(name, meta())
        for i in range(n):
            store.finish_trial(study.id, record(i, rng))
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        table = load(url, name).table
        best = min(best, time.perf_counter() - start)
    return best, len(table)


def in_memory_trial_cost(n: int) -> float:
    start = time.perf_counter()
    ut.minimize(lambda p: 0.0, SPACE, backend="optuna", algorithm="random", n_trials=n, seed=0)
    return (time.perf_counter() - start) / n * 1000


@contextmanager
def postgres(url: str | None):
    if url:
        yield url
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fixtures.postgres import PostgresServer

    server = PostgresServer()
    try:
        yield server.new_database()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="postgresql:// URL of an empty database (default: start a server)")
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--read", type=int, default=10_000)
    args = parser.parse_args(argv)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("NORMAL", "FULL"):
            sqlite_store.SYNCHRONOUS = mode
            ms = write_cost(str(Path(tmp) / f"w-{mode}.db"), args.trials)
            lines.append(f"write  sqlite synchronous={mode:<6} {ms:7.3f} ms/trial ({args.trials} trials x 10 params)")
        sqlite_store.SYNCHRONOUS = "NORMAL"
        seconds, rows = read_time(str(Path(tmp) / "read.db"), args.read)
        lines.append(f"read   sqlite   load(...).table of {rows} trials: {seconds:.3f} s")
        with postgres(args.postgres) as url:
            ms = write_cost(url, args.trials)
            lines.append(f"write  postgresql               {ms:7.3f} ms/trial ({args.trials} trials x 10 params)")
            seconds, rows = read_time(url, args.read)
            lines.append(f"read   postgresql load(...).table of {rows} trials: {seconds:.3f} s")
    try:
        lines.append(f"in-memory trial (optuna random, objective returns 0.0): {in_memory_trial_cost(args.trials):.3f}"
                     " ms/trial")
    except Exception as exc:  # the run loop is being reworked at times; the store numbers stand alone
        lines.append(f"in-memory trial cost not measured: {type(exc).__name__}: {exc}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
