"""The few places where SQLite and PostgreSQL differ, behind one small interface.

Queries are written once with ``?`` placeholders and portable SQL; a dialect supplies the
connection, its placeholder, the id column type, how a write transaction starts (SQLite:
``BEGIN IMMEDIATE``, which takes the file's write lock; PostgreSQL: ``BEGIN`` and a row lock on the
study taken by the first ``UPDATE``) and how it recognizes a unique-key violation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..exceptions import StorageError

SCHEMA_VERSION = 2
# What takes a store of the version before to this one, run once inside one write transaction (which the
# first process to open an old store takes; the others then find it current).  A store of any older version
# opens and reads as before.
MIGRATIONS: dict[int, list[str]] = {
    2: ["ALTER TABLE unitune_trials ADD COLUMN heartbeat BIGINT"],  # a running trial's last sign of life
}

# Every table of ours starts with this prefix; {id} is the dialect's auto-numbered primary key.
SCHEMA = [
    "CREATE TABLE unitune_schema (version INTEGER NOT NULL)",
    """CREATE TABLE unitune_studies (
        id {id},
        name TEXT NOT NULL UNIQUE,
        backend TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        direction TEXT NOT NULL,
        seed BIGINT,
        metric TEXT,
        space TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        options TEXT NOT NULL,
        user_attrs TEXT NOT NULL,
        next_number BIGINT NOT NULL,
        next_seq BIGINT NOT NULL,
        created BIGINT NOT NULL,
        updated BIGINT NOT NULL
    )""",
    """CREATE TABLE unitune_trials (
        study_id BIGINT NOT NULL REFERENCES unitune_studies (id),
        number BIGINT NOT NULL,
        seq BIGINT,
        state TEXT NOT NULL,
        value DOUBLE PRECISION,
        value_repr TEXT,
        params TEXT,
        metrics TEXT,
        step BIGINT,
        intermediate TEXT,
        started BIGINT NOT NULL,
        finished BIGINT,
        error TEXT,
        optimizer_s DOUBLE PRECISION,
        worker TEXT,
        info TEXT,
        heartbeat BIGINT,
        PRIMARY KEY (study_id, number)
    )""",
    "CREATE INDEX unitune_trials_seq ON unitune_trials (study_id, seq)",
]
TABLES = ("unitune_schema", "unitune_studies", "unitune_trials")


class Dialect:
    """One open connection and the dialect's differences.  Subclasses: SQLite, PostgreSQL."""

    name = ""
    id_column = ""
    placeholder = "?"

    def __init__(self) -> None:
        self._sql_cache: dict[str, str] = {}

    def sql(self, query: str) -> str:
        cached = self._sql_cache.get(query)
        if cached is None:
            cached = query.replace("?", self.placeholder) if self.placeholder != "?" else query
            self._sql_cache[query] = cached
        return cached

    # connection-level operations every subclass provides
    def execute(self, query: str, args: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def fetchall(self, query: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(query, args).fetchall())

    def fetchone(self, query: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return self.execute(query, args).fetchone()

    @contextmanager
    def write(self) -> Iterator[None]:
        """A write transaction, committed on exit (rolled back on an exception)."""
        raise NotImplementedError
        yield

    @contextmanager
    def read(self) -> Iterator[None]:
        """A consistent read (a transaction where the dialect needs one for a snapshot)."""
        yield

    def is_unique_violation(self, exc: BaseException) -> bool:
        raise NotImplementedError

    def tables(self) -> set[str]:
        """Names of the tables in the database (PostgreSQL: in the current schema)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def create_schema(db: Dialect) -> None:
    """Our tables and the version row; call inside a write transaction."""
    for statement in SCHEMA:
        db.execute(statement.replace("{id}", db.id_column))
    db.execute("INSERT INTO unitune_schema (version) VALUES (?)", (SCHEMA_VERSION,))


def upgrade(db: Dialect, where: str) -> int:
    """Bring an older store to ``SCHEMA_VERSION`` (``MIGRATIONS``); call inside a write transaction that
    serializes the openers (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's schema lock).  Returns the version found."""
    version = check_version(db, where)
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[target]:
            db.execute(statement)
        db.execute("INSERT INTO unitune_schema (version) VALUES (?)", (target,))
    return version


def check_version(db: Dialect, where: str) -> int:
    """Refuse a store written by a newer schema version, or one missing some of our tables; returns its version."""
    tables = db.tables()
    missing = [t for t in TABLES if t not in tables]
    if "unitune_schema" in missing:
        raise StorageError(f"{where} has no unitune schema table: it is not a unitune store")
    row = db.fetchone("SELECT MAX(version) FROM unitune_schema")
    version = row[0] if row else None
    if version is None:
        raise StorageError(f"{where} has unitune's tables but no schema version: it is not a complete unitune store")
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{where} was written by schema version {version}; this unitune reads up to {SCHEMA_VERSION}: "
            "upgrade unitune"
        )
    if missing:
        raise StorageError(f"{where} is an incomplete unitune store (missing the tables {', '.join(missing)})")
    return int(version)
