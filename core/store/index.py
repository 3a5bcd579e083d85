"""The SQLite index of the run store: schema, connections, transactions and ``RunRecord`` rows.

One connection per operation (threads and forked processes never share one), WAL journal (readers do
not block the writer), a generous busy timeout (writers queue instead of failing), and
``BEGIN IMMEDIATE`` for every write, so a writer holds the lock from its first read to its commit.
A store that cannot be written is read through ``connect_read_only`` (``mode=ro``, or ``immutable=1`` where
SQLite cannot make the ``-shm`` file of a read-only folder).
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
import unicodedata
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

# a run's life, in the words of core.states: RUNNING until saved; then FINISHED or STOPPED, or FAILED / INTERRUPTED
from core.states import FAILED, FINISHED, INTERRUPTED, RUNNING, SAVED_STATUSES, STATUSES, STOPPED  # noqa: F401
from core.store.errors import InvalidRunNameError

SCHEMA_VERSION = 1
BUSY_TIMEOUT_SECONDS = 60.0
MAX_NAME_LENGTH = 200


def clean_name(name: object) -> str:
    """A run's display name: stripped, 1 to 200 characters, no control characters. Never used as a path."""
    if not isinstance(name, str):
        raise InvalidRunNameError(f"A run name must be text, not {type(name).__name__}.")
    cleaned = name.strip()
    if not cleaned:
        raise InvalidRunNameError("A run name cannot be empty; type a name with at least one visible character.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidRunNameError(f"A run name has at most {MAX_NAME_LENGTH} characters; this one has "
                                  f"{len(cleaned)}. Shorten it.")
    if any(unicodedata.category(c) == "Cc" for c in cleaned):
        raise InvalidRunNameError("A run name cannot hold control characters (new lines, tabs, NUL); remove them.")
    return cleaned


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    model         TEXT NOT NULL,
    dataset       TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    params        TEXT NOT NULL DEFAULT '{}',
    data_options  TEXT NOT NULL DEFAULT '{}',
    metrics       TEXT NOT NULL DEFAULT '{}',
    extra         TEXT NOT NULL DEFAULT '{}',
    sweep         TEXT,
    n_components  INTEGER,
    n_features    INTEGER,
    steps         INTEGER,
    has_weights   INTEGER NOT NULL DEFAULT 0,
    note          TEXT NOT NULL DEFAULT '',
    owner_pid     INTEGER,
    owner_token   TEXT,
    owner_host    TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_dataset ON runs (dataset, created_at);
CREATE INDEX IF NOT EXISTS runs_by_model ON runs (model, created_at);
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs (sweep);
"""


def connect(path: Path) -> sqlite3.Connection:
    """A new autocommit connection (transactions are opened explicitly) with WAL and a busy timeout."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a crash never corrupts, never half-commits
    return conn


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes. ``mode=ro`` first: it sees commits still in a ``-wal`` file and
    later writers' commits. It fails in a read-only folder where the ``-shm`` file is missing and cannot
    be made; then ``immutable=1`` (no locks, no ``-shm``), but only when no ``-wal`` file holds commits
    that the database file lacks. Raises ``sqlite3.Error`` when neither can read the database."""
    base = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
    try:
        return _checked(base)
    except sqlite3.OperationalError as error:
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None and code & 0xFF not in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY):
            raise  # locked, I/O error, ...: not the missing -shm that immutable=1 gets round
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:  # immutable would silently miss its commits
            raise
        return _checked(base + "&immutable=1")


def _checked(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # SQLite opens files lazily: open them now
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def opened(path: Path, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    conn = connect_read_only(path) if read_only else connect(path)
    try:
        yield conn
    finally:
        conn.close()


def holds_runs(path: Path) -> bool:
    """Whether ``path`` is a run index that can be read without writing (a store to open read-only).
    Raises ``sqlite3.DatabaseError`` when its schema is newer than this app's, as ``initialise`` does."""
    if not path.is_file():
        return False
    try:
        with opened(path, read_only=True) as conn:
            conn.execute("SELECT id FROM runs LIMIT 1").fetchall()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error:
        return False
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"run index schema version {version} is newer than this app ({SCHEMA_VERSION})")
    return True


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception rolls back and propagates."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def initialise(path: Path) -> None:
    """Create the schema (idempotent) and switch the database to WAL mode."""
    with opened(path) as conn:
        for attempt in range(50):  # several processes opening a new store at once may race here
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == 49:
                    raise
                time.sleep(0.05)
        with write_transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"run index schema version {version} is newer than this app ({SCHEMA_VERSION})")
            for statement in _SCHEMA.split(";"):  # not executescript: it would commit mid-transaction
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


# -- JSON columns ---------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """``value`` as plain JSON types: numpy scalars/arrays to numbers/lists, NaN and inf to None."""
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(plain(value), allow_nan=False, separators=(",", ":"))


def with_collapse_flag(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` plus ``collapsed`` (True or False, by ``core.metrics.collapse``) when they hold a
    ``dead_fraction`` or an ``l0`` to judge by; unchanged otherwise. Kept in the metrics JSON column, so
    older stores need no migration (``RunRecord.collapsed`` judges their metrics the same way)."""
    from core.metrics import collapse

    if "dead_fraction" not in metrics and "l0" not in metrics:
        return metrics
    return {**metrics, "collapsed": collapse(_numbers(metrics)) is not None}


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The finite-or-NaN float values of ``metrics`` (stored JSON turns NaN into None)."""
    return {k: float(v) if isinstance(v, (int, float)) else math.nan for k, v in metrics.items()}


# -- rows ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunRecord:
    """One run of the store, as the index knows it (weights and history stay on disk until asked for)."""

    id: str
    name: str
    model: str
    dataset: str
    status: str
    created_at: float
    updated_at: float
    params: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    sweep: str | None = None
    n_components: int | None = None
    n_features: int | None = None
    steps: int | None = None
    has_weights: bool = False
    note: str = ""

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        shape = self.extra.get("image_shape")
        return tuple(shape) if shape else None

    @property
    def collapsed(self) -> bool | None:
        """Whether the run collapsed (``core.metrics.collapse``): most atoms dead, or no code firing.
        None when its metrics cannot tell (no dead fraction nor L0 recorded)."""
        if "collapsed" in self.metrics:
            return bool(self.metrics["collapsed"])
        return with_collapse_flag(self.metrics).get("collapsed")  # saved before the flag was recorded

    @property
    def label(self) -> str:
        """A one-line description for pickers: name, model, data set and status."""
        state = "" if self.status == FINISHED else f" [{self.status}]"
        return f"{self.name} - {self.model} on {self.dataset}{state}"

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "RunRecord":
        return cls(
            id=row["id"], name=row["name"], model=row["model"], dataset=row["dataset"], status=row["status"],
            created_at=row["created_at"], updated_at=row["updated_at"], params=json.loads(row["params"]),
            data_options=json.loads(row["data_options"]), metrics=json.loads(row["metrics"]),
            extra=json.loads(row["extra"]), sweep=row["sweep"], n_components=row["n_components"],
            n_features=row["n_features"], steps=row["steps"], has_weights=bool(row["has_weights"]),
            note=row["note"],
        )
