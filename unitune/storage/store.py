"""The trial store: studies and their trials, on SQLite or PostgreSQL, with one set of queries.

A trial's life in the store: ``reserve_trial`` takes the study's next number and writes a
``running`` row (committed, so other processes never take the same number); ``finish_trial``
turns it into the final row and gives it the study's next *commit sequence* number (``seq``).
``trials(after=cursor)`` returns the trials committed after ``cursor`` in commit order, which is
how a worker takes in what the others finished.  Both writes lock the study's row first (SQLite:
``BEGIN IMMEDIATE`` locks the file), so numbers and sequence numbers are handed out one at a time
and a sequence number becomes visible only after every smaller one.
"""

from __future__ import annotations

import math
import os
import re
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..exceptions import StorageError, StudyExistsError, StudyNotFoundError
from ..records import TrialRecord, utcnow
from ..space import Space, as_space
from .codec import (
    READ_COLUMNS,
    TRIAL_COLUMNS,
    ParamCodec,
    decode_time,
    dumps_b64,
    encode_data,
    encode_time,
    loads_b64,
    record_row,
    rows_records,
    space_fingerprint,
)
from .dialect import Dialect

ORPHAN_ERROR = "WorkerLost: the process running this trial stopped"
DIRECTIONS = ("minimize", "maximize")


@dataclass
class StudyMeta:
    """What a study was created with; ``space`` is rebuilt from the stored definition on read."""

    backend: str
    algorithm: str
    direction: str
    seed: int | None
    metric: str | None
    space: Space
    options: dict[str, Any] = field(default_factory=dict)  # backend options, scheduler, scheduler_options, …
    user_attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class StoredStudy:
    id: int
    name: str
    meta: StudyMeta
    created: datetime
    updated: datetime
    fingerprint: str  # space_fingerprint(meta.space) when the study was created


_STUDY_COLUMNS = ("id, name, backend, algorithm, direction, seed, metric, space, fingerprint, options, "
                  "user_attrs, created, updated")
_SELECT_TRIALS = f"SELECT {', '.join(READ_COLUMNS)}, seq FROM unitune_trials"


class _AlreadyFinished(Exception):  # noqa: N818 - control flow inside fail_orphans
    pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive
        return True
    except OSError:
        return False
    return True


def _parse_worker(worker: str | None) -> tuple[str, int] | None:
    if not worker or ":" not in worker:
        return None
    host, _, pid = worker.rpartition(":")
    return (host, int(pid)) if pid.isdigit() else None


class Store:
    """An open store.  Thread-safe (one connection behind a lock); open one per process."""

    def __init__(self, db: Dialect, url: str) -> None:
        self._db = db
        self.url = url  # as given (a password included): what a worker process reopens
        self.where = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)  # for messages: the password masked
        self._lock = threading.RLock()
        self._codecs: dict[int, ParamCodec] = {}  # study id -> codec of its stored space

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.name

    def __repr__(self) -> str:
        return f"Store({self.where!r})"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # a Store sent to another process (cloudpickle, Ray, …) opens its own connection to the same url
        return (open_store, (self.url,))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- studies ------------------------------------------------------------------------------------
    def create_study(self, name: str, meta: StudyMeta) -> StoredStudy:
        """A new study; ``StudyExistsError`` when the name is taken (also by another process just now)."""
        if not isinstance(name, str) or not name:
            raise StorageError(f"a study name must be a non-empty str, got {name!r}")
        if meta.direction not in DIRECTIONS:
            raise StorageError(f"direction must be one of {DIRECTIONS}, got {meta.direction!r}")
        space = as_space(meta.space)
        try:
            encoded = (dumps_b64(dict(space.definition)), dumps_b64(dict(meta.options)),
                       dumps_b64(dict(meta.user_attrs)))
        except Exception as exc:
            raise StorageError(f"study {name!r}: the space or options cannot be pickled: {exc}") from exc
        now = encode_time(utcnow())
        with self._lock:
            try:
                with self._db.write():
                    if self._db.fetchone("SELECT id FROM unitune_studies WHERE name = ?", (name,)):
                        raise StudyExistsError(self._exists_message(name))
                    self._db.execute(
                        "INSERT INTO unitune_studies (name, backend, algorithm, direction, seed, metric, space, "
                        "fingerprint, options, user_attrs, next_number, next_seq, created, updated) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
                        (name, meta.backend, meta.algorithm, meta.direction, meta.seed, meta.metric, encoded[0],
                         space_fingerprint(space), encoded[1], encoded[2], now, now),
                    )
            except StudyExistsError:
                raise
            except Exception as exc:
                if self._db.is_unique_violation(exc):
                    raise StudyExistsError(self._exists_message(name)) from exc
                raise
            study = self.get_study(name)
            assert study is not None
            # this process encodes and decodes through the caller's own Space: its very objects come back
            self._codecs[study.id] = ParamCodec(space)
            study.meta.space = space
        return study

    def _exists_message(self, name: str) -> str:
        return (f"a study named {name!r} is already in {self.where}; pass resume=True to continue it, "
                "or choose another name")

    def get_or_create_study(self, name: str, meta: StudyMeta) -> tuple[StoredStudy, bool]:
        """The study of that name, created with ``meta`` when there is none; ``(study, created)``.
        Safe when several processes call it at once: one creates, the others get that study."""
        study = self.get_study(name)
        if study is not None:
            return study, False
        try:
            return self.create_study(name, meta), True
        except StudyExistsError:
            study = self.get_study(name)
            assert study is not None
            return study, False

    def get_study(self, name: str) -> StoredStudy | None:
        """The study of that name (its space rebuilt from the stored definition), or None."""
        with self._lock:
            row = self._db.fetchone(f"SELECT {_STUDY_COLUMNS} FROM unitune_studies WHERE name = ?", (name,))
        return None if row is None else self._study(row)

    def study(self, name: str) -> StoredStudy:
        """Like ``get_study`` but raises ``StudyNotFoundError`` (naming the studies there are)."""
        study = self.get_study(name)
        if study is None:
            names = [s["name"] for s in self.studies()]
            there = f"the studies there: {', '.join(map(repr, names))}" if names else "it holds no study"
            raise StudyNotFoundError(f"no study named {name!r} in {self.where}; {there}")
        return study

    def _study(self, row: tuple[Any, ...]) -> StoredStudy:
        (sid, name, backend, algorithm, direction, seed, metric, space, fingerprint, options, user_attrs,
         created, updated) = row
        try:
            definition = loads_b64(space)
            meta_options, attrs = loads_b64(options), loads_b64(user_attrs)
        except Exception as exc:
            raise StorageError(
                f"study {name!r}: its stored space or options cannot be unpickled here ({type(exc).__name__}: {exc}); "
                "the classes used in the space must be importable"
            ) from exc
        rebuilt = Space(definition)
        codec = self._codecs.get(sid)
        if codec is None or space_fingerprint(codec.space) != fingerprint:
            self._codecs[sid] = ParamCodec(rebuilt)
        meta = StudyMeta(backend=backend, algorithm=algorithm, direction=direction, seed=seed, metric=metric,
                         space=self._codecs[sid].space, options=meta_options, user_attrs=attrs)
        return StoredStudy(id=sid, name=name, meta=meta, created=decode_time(created), updated=decode_time(updated),
                           fingerprint=fingerprint)

    def _codec(self, study_id: int, space: Space | None) -> ParamCodec:
        if space is not None:
            return ParamCodec(as_space(space))
        codec = self._codecs.get(study_id)
        if codec is None:
            row = self._db.fetchone(f"SELECT {_STUDY_COLUMNS} FROM unitune_studies WHERE id = ?", (study_id,))
            if row is None:
                raise StudyNotFoundError(f"no study with id {study_id} in {self.where}")
            self._study(row)
            codec = self._codecs[study_id]
        return codec

    def use_space(self, study_id: int, space: Space) -> None:
        """Decode (and encode) this study's params through ``space`` from now on — the caller's own
        Space with the same fingerprint, so choice values come back as the caller's very objects."""
        with self._lock:
            self._codecs[study_id] = ParamCodec(as_space(space))

    # -- trials -------------------------------------------------------------------------------------
    def reserve_trial(self, study_id: int, worker: str) -> int:
        """The study's next trial number, recorded as a ``running`` row by ``worker`` (host:pid); committed."""
        with self._lock, self._db.write():
            if self._db.execute("UPDATE unitune_studies SET next_number = next_number + 1 WHERE id = ?",
                                (study_id,)).rowcount != 1:
                raise StudyNotFoundError(f"no study with id {study_id} in {self.where}")
            (number,) = self._db.fetchone("SELECT next_number - 1 FROM unitune_studies WHERE id = ?", (study_id,))
            now = encode_time(utcnow())
            self._db.execute(
                "INSERT INTO unitune_trials (study_id, number, state, started, worker, heartbeat) "
                "VALUES (?, ?, 'running', ?, ?, ?)",
                (study_id, number, now, worker, now),
            )
        return int(number)

    def describe_running(self, study_id: int, number: int, params: dict[str, Any], info: dict[str, Any]) -> None:
        """Record a reserved trial's params (and info) on its running row, so a worker that dies leaves them."""
        with self._lock:
            codec = self._codec(study_id, None)
            with self._db.write():
                self._db.execute("UPDATE unitune_trials SET params = ?, info = ? WHERE study_id = ? AND number = ? "
                                 "AND state = 'running'", (codec.encode(params), encode_data(dict(info)),
                                                           study_id, number))

    def beat(self, study_id: int, numbers: list[int]) -> None:
        """The heartbeat of this process's running trials ``numbers``: they are alive now."""
        if not numbers:
            return
        with self._lock, self._db.write():
            self._db.execute(f"UPDATE unitune_trials SET heartbeat = ? WHERE study_id = ? AND state = 'running' "
                             f"AND number IN ({', '.join('?' * len(numbers))})",
                             (encode_time(utcnow()), study_id, *numbers))

    def fail_stale(self, study_id: int, grace_s: float) -> list[TrialRecord]:
        """Running trials whose heartbeat is older than ``grace_s`` seconds (their worker died, on any machine)
        become ``failed`` with ``WorkerLost``; returns the records this call failed (params kept)."""
        now = utcnow()
        limit = encode_time(now) - int(grace_s * 1_000_000)
        with self._lock:
            rows = self._db.fetchall("SELECT number, worker, heartbeat FROM unitune_trials WHERE study_id = ? AND "
                                     "state = 'running' AND heartbeat IS NOT NULL AND heartbeat < ?",
                                     (study_id, limit))
        lost = []
        for number, worker, beat in rows:
            silent = (encode_time(now) - int(beat)) / 1_000_000
            error = (f"WorkerLost: the worker {worker} running this trial sent no heartbeat for {silent:.1f} s "
                     f"(grace period {grace_s:g} s); it is presumed dead")
            record = self._fail_running(study_id, int(number), error, stale_before=limit)
            if record is not None:
                lost.append(record)
        return lost

    def finish_trial(self, study_id: int, record: TrialRecord) -> None:
        """Write the finished trial (its running row becomes final; inserted when there is none);
        committed before this returns.  A trial that is already final is refused."""
        with self._lock:
            row = record_row(record, self._codec(study_id, None))
            number = int(record.number)
            with self._db.write():
                now = encode_time(utcnow())
                if self._db.execute(
                    "UPDATE unitune_studies SET next_seq = next_seq + 1, updated = ?, "
                    "next_number = CASE WHEN next_number > ? THEN next_number ELSE ? END WHERE id = ?",
                    (now, number, number + 1, study_id),
                ).rowcount != 1:
                    raise StudyNotFoundError(f"no study with id {study_id} in {self.where}")
                (seq,) = self._db.fetchone("SELECT next_seq FROM unitune_studies WHERE id = ?", (study_id,))
                assignments = ", ".join(f"{c} = ?" for c in TRIAL_COLUMNS)
                updated = self._db.execute(
                    f"UPDATE unitune_trials SET seq = ?, {assignments} "
                    "WHERE study_id = ? AND number = ? AND state = 'running'",
                    (seq, *row, study_id, number),
                ).rowcount
                if updated == 0:
                    if self._db.fetchone("SELECT state FROM unitune_trials WHERE study_id = ? AND number = ?",
                                         (study_id, number)):
                        raise StorageError(f"trial {number} of study {study_id} is already finished in {self.where}")
                    self._db.execute(
                        f"INSERT INTO unitune_trials (study_id, number, seq, {', '.join(TRIAL_COLUMNS)}) "
                        f"VALUES (?, ?, ?, {', '.join('?' * len(TRIAL_COLUMNS))})",
                        (study_id, number, seq, *row),
                    )

    def trials(self, study_id: int, after: int = 0, *, space: Space | None = None) -> tuple[list[TrialRecord], int]:
        """Finished trials committed after the cursor ``after``, in commit (finish) order, and the new cursor.
        ``space``: decode through this Space instead of the stored one (see ``use_space``)."""
        with self._lock:
            codec = self._codec(study_id, space)
            rows = self._db.fetchall(f"{_SELECT_TRIALS} WHERE study_id = ? AND seq > ? ORDER BY seq",
                                     (study_id, after))
        if not rows:
            return [], after
        records = rows_records(rows, codec)
        return records, int(rows[-1][-1])

    def running_trials(self, study_id: int) -> list[tuple[int, str | None]]:
        """``(number, worker)`` of the trials reserved and not finished yet."""
        with self._lock:
            rows = self._db.fetchall("SELECT number, worker FROM unitune_trials WHERE study_id = ? "
                                     "AND state = 'running' ORDER BY number", (study_id,))
        return [(int(n), w) for n, w in rows]

    def count_finished(self, study_id: int) -> int:
        with self._lock:
            (n,) = self._db.fetchone("SELECT COUNT(*) FROM unitune_trials WHERE study_id = ? AND state <> 'running'",
                                     (study_id,))
        return int(n)

    def fail_orphans(self, study_id: int) -> list[TrialRecord]:
        """Running trials of a worker on this host whose process is gone become ``failed``
        (``ORPHAN_ERROR``); returns their records.  Trials of other hosts are left alone (heartbeats)."""
        host = socket.gethostname()
        lost = []
        for number, worker in self.running_trials(study_id):
            where = _parse_worker(worker)
            if where is not None and where[0] == host and not _pid_alive(where[1]):
                record = self._fail_running(study_id, number, ORPHAN_ERROR)
                if record is not None:
                    lost.append(record)
        return lost

    def _fail_running(self, study_id: int, number: int, error: str, stale_before: int | None = None
                      ) -> TrialRecord | None:
        """Make running trial ``number`` failed with ``error`` (its params and info kept); None when it finished
        meanwhile (or, with ``stale_before``, beat again since), or another process failed it first."""
        with self._lock:
            codec = self._codec(study_id, None)
            try:
                with self._db.write():
                    # the study's row first: its lock makes a second fail (or a finish) wait for us
                    now = utcnow()
                    self._db.execute("UPDATE unitune_studies SET next_seq = next_seq + 1, updated = ? WHERE id = ?",
                                     (encode_time(now), study_id))
                    row = self._db.fetchone(f"{_SELECT_TRIALS} WHERE study_id = ? AND number = ? AND state = 'running'"
                                            + ("" if stale_before is None else " AND heartbeat < ?"),
                                            (study_id, number) if stale_before is None
                                            else (study_id, number, stale_before))
                    if row is None:
                        raise _AlreadyFinished
                    (seq,) = self._db.fetchone("SELECT next_seq FROM unitune_studies WHERE id = ?", (study_id,))
                    record = rows_records([(number, "failed", *row[2:])], codec)[0]
                    record.state, record.value, record.finished, record.error = "failed", math.nan, now, error
                    assignments = ", ".join(f"{c} = ?" for c in TRIAL_COLUMNS)
                    self._db.execute(f"UPDATE unitune_trials SET seq = ?, {assignments} WHERE study_id = ? "
                                     "AND number = ?", (seq, *record_row(record, codec), study_id, number))
            except _AlreadyFinished:  # finished (or failed by another process) meanwhile: rolled back
                return None
        return record

    # -- overview -----------------------------------------------------------------------------------
    def studies(self) -> list[dict[str, Any]]:
        """One dict per study (in creation order): id, name, backend, algorithm, direction, seed, metric,
        n_trials (finished), n_complete, n_pruned, n_failed, n_running, best_value, created, updated."""
        with self._lock, self._db.read():
            rows = self._db.fetchall("SELECT id, name, backend, algorithm, direction, seed, metric, created, updated "
                                     "FROM unitune_studies ORDER BY id")
            # best over finite values only, as Result.best_value (a complete ±inf is a row, never the best)
            counts = self._db.fetchall(
                "SELECT study_id, state, COUNT(*), MIN(CASE WHEN value > ? AND value < ? THEN value END), "
                "MAX(CASE WHEN value > ? AND value < ? THEN value END) FROM unitune_trials GROUP BY study_id, state",
                (-math.inf, math.inf, -math.inf, math.inf))
        by_study: dict[int, dict[str, tuple[int, Any, Any]]] = {}
        for sid, state, n, low, high in counts:
            by_study.setdefault(sid, {})[state] = (int(n), low, high)
        out = []
        for sid, name, backend, algorithm, direction, seed, metric, created, updated in rows:
            states = by_study.get(sid, {})

            def count(state: str, states: dict[str, tuple[int, Any, Any]] = states) -> int:
                return states.get(state, (0, None, None))[0]

            complete = states.get("complete")
            best = None
            if complete is not None:
                best = complete[1] if direction == "minimize" else complete[2]
            out.append({
                "id": int(sid), "name": name, "backend": backend, "algorithm": algorithm, "direction": direction,
                "seed": seed, "metric": metric,
                "n_trials": count("complete") + count("pruned") + count("failed"),
                "n_complete": count("complete"), "n_pruned": count("pruned"), "n_failed": count("failed"),
                "n_running": count("running"),
                "best_value": None if best is None else float(best),
                "created": decode_time(created), "updated": decode_time(updated),
            })
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _sqlite_path(url: str | os.PathLike[str]) -> Path | None:
    if isinstance(url, os.PathLike):
        return Path(url)
    if url.startswith("sqlite:///"):  # as SQLAlchemy: sqlite:///relative.db, sqlite:////absolute.db
        return Path(url[len("sqlite:///"):])
    if url.startswith("sqlite://"):
        raise StorageError(f"{url!r}: write sqlite:///relative/path.db or sqlite:////absolute/path.db")
    if "://" in url:
        return None
    return Path(url)


def open_store(url: str | os.PathLike[str]) -> Store:
    """Open (creating it when missing) a store.

    ``"runs.db"`` or a ``Path``: an SQLite file; ``"sqlite:///runs.db"`` (relative) or
    ``"sqlite:////abs/runs.db"``; ``"postgresql://user:password@host:port/db"`` (psycopg 3).
    Raises ``StorageError`` — with nothing written — for a directory, a read-only file or folder,
    a file that is not a unitune store, or a store written by a newer schema version.
    """
    if isinstance(url, Store):
        return url
    if not isinstance(url, (str, os.PathLike)):
        raise StorageError(f"storage must be a path or a URL string, got {type(url).__name__}")
    path = _sqlite_path(url)
    if path is not None:
        from .sqlite import SQLiteDialect

        path = path.expanduser().absolute()
        return Store(SQLiteDialect(path), f"sqlite:///{path}")
    assert isinstance(url, str)
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        from .postgres import PostgresDialect

        clean = "postgresql://" + url.split("://", 1)[1]
        return Store(PostgresDialect(clean), url)
    raise StorageError(f"unknown store URL scheme {scheme!r} in {url!r}: use a file path, sqlite:/// or postgresql://")
