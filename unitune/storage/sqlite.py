"""The embedded store: one SQLite file (stdlib ``sqlite3``), WAL mode, several processes at once.

Durability: each write is one transaction committed before the call returns.  In WAL mode a
committed transaction is in the ``-wal`` file (in the OS's hands) when ``COMMIT`` returns, so a
writer killed with SIGKILL loses nothing it had committed, with ``synchronous=NORMAL`` as with
``FULL`` (tests/test_storage.py kills writers and checks).  ``FULL`` adds an fsync of the WAL at
every commit, which protects the last commits from a power cut or an OS crash too (NORMAL never
corrupts the file then, but may lose the last trials).  Measured here: NORMAL ~0.05 ms per commit,
FULL ~3.8 ms (two commits per trial); benchmarks/store_bench.py.  So NORMAL: a tuning store's
contract is the process crash, and FULL would make the store the dominant cost of a cheap trial.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..exceptions import StorageError
from .dialect import SCHEMA_VERSION, Dialect, check_version, create_schema, upgrade

SYNCHRONOUS = "NORMAL"  # see the module docstring; benchmarks/store_bench.py measures both
BUSY_TIMEOUT_S = 60.0  # how long a writer waits for another process's write transaction
_MAGIC = b"SQLite format 3\x00"


def _writable(path: Path) -> bool:
    # root passes os.access on anything: a file or folder without any write bit is read-only all the same
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def check_path(path: Path) -> bool:
    """Refuse what cannot be a store before touching anything; returns whether the file exists."""
    try:
        return _check_path(path)
    except PermissionError as exc:
        raise StorageError(f"cannot open the store {path}: permission denied ({exc.strerror}: {exc.filename})") from exc


def _check_path(path: Path) -> bool:
    if path.is_dir():
        raise StorageError(f"{path} is a directory, not a store file; give a file path such as {path / 'runs.db'}")
    if path.exists():
        if not path.is_file():
            raise StorageError(f"{path} is not a regular file, so it cannot be a unitune store")
        if not os.access(path, os.R_OK):
            raise StorageError(f"{path} is not readable (permission denied)")
        with open(path, "rb") as f:
            header = f.read(len(_MAGIC))
        if header and header != _MAGIC:
            raise StorageError(f"{path} is not a unitune store (not an SQLite database); nothing was written")
        if not _writable(path):
            raise StorageError(f"{path} is read-only; a store must be writable (trials are committed to it)")
        if not _writable(path.parent):
            raise StorageError(
                f"the folder {path.parent} is read-only; SQLite needs to write its -wal/-shm files next to {path.name}"
            )
        return True
    parent = path.parent
    if not parent.is_dir():
        raise StorageError(f"cannot create the store {path}: the folder {parent} does not exist")
    if not _writable(parent):
        raise StorageError(f"cannot create the store {path}: the folder {parent} is read-only")
    return False


class SQLiteDialect(Dialect):
    name = "sqlite"
    id_column = "INTEGER PRIMARY KEY"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        existed = check_path(path)
        try:
            self.conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {path} as an SQLite store: {exc}") from exc
        try:
            self._prepare(existed)
        except BaseException:
            # Never delete the file, even one that did not exist a moment ago: another process may have created
            # it since and be writing to it (deleting its -wal/-shm under it is a "disk I/O error" there). A
            # failed first open leaves at most an empty database, which the next open takes as a new store.
            self.conn.close()
            raise

    def tables(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _busy(self, exc: sqlite3.Error) -> StorageError | None:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return StorageError(f"the store {self.path} is busy: another process held its write lock for more than "
                                f"{BUSY_TIMEOUT_S:g} s ({exc}); nothing was written, try again")
        return None

    def _with_retry(self, statement: str) -> None:
        # Switching to WAL needs the file to itself; SQLite may answer "locked" at once instead of calling the busy
        # handler (a racing open holds a read lock), so wait here as a busy timeout would.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        pause = 0.005
        while True:
            try:
                self.conn.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def _prepare(self, existed: bool) -> None:
        try:
            tables = self.tables()
        except sqlite3.DatabaseError as exc:
            busy = self._busy(exc)
            if busy is not None:
                raise busy from exc
            raise StorageError(f"{self.path} is not a unitune store ({exc}); nothing was written") from exc
        if tables and "unitune_schema" not in tables:
            raise StorageError(
                f"{self.path} is an SQLite database without unitune's tables (it has {', '.join(sorted(tables))}); "
                "unitune does not add its tables to another program's database: give a new file"
            )
        if tables and check_version(self, str(self.path)) < SCHEMA_VERSION:
            try:
                with self.write():  # the first opener migrates; the others wait for it, then find it current
                    upgrade(self, str(self.path))
            except sqlite3.OperationalError as exc:
                raise self._busy(exc) or StorageError(f"cannot upgrade {self.path}: {exc}") from exc
        try:
            self._with_retry("PRAGMA journal_mode=WAL")
            self.conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
            if not tables:
                with self.write():
                    tables = self.tables()  # another process may have created it meanwhile
                    if not tables:
                        create_schema(self)
                    elif "unitune_schema" not in tables:
                        raise StorageError(f"{self.path} became another program's database while opening it")
                if tables:
                    check_version(self, str(self.path))
        except sqlite3.OperationalError as exc:
            raise self._busy(exc) or StorageError(f"cannot write to {self.path}: {exc}") from exc

    def execute(self, query: str, args: Sequence[Any] = ()) -> Any:
        return self.conn.execute(query, args)

    @contextmanager
    def write(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[None]:
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def close(self) -> None:
        self.conn.close()
