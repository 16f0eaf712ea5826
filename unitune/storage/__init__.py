"""The trial store (DESIGN.md §4): studies and their finished trials in SQLite (embedded, the
default) or PostgreSQL (several machines), committed trial by trial so a crash loses nothing.

``open_store(url)`` opens one; ``load(storage, name)`` reads a study back as a ``Result`` and
``studies(storage)`` lists what a store holds (both exported as ``ut.load`` / ``ut.studies``).
"""

from ..exceptions import StorageError, StudyExistsError, StudyNotFoundError
from .codec import describe_space_change, space_fingerprint
from .dialect import SCHEMA_VERSION
from .loading import load, studies
from .store import ORPHAN_ERROR, Store, StoredStudy, StudyMeta, open_store

__all__ = [
    "ORPHAN_ERROR",
    "SCHEMA_VERSION",
    "StorageError",
    "Store",
    "StoredStudy",
    "StudyExistsError",
    "StudyMeta",
    "StudyNotFoundError",
    "describe_space_change",
    "load",
    "open_store",
    "space_fingerprint",
    "studies",
]
