"""The run store's exceptions: each message names the problem and the fix.

``StoreError`` is the base of all of them. Writes that the file system refuses become
``ReadOnlyStoreError`` (read-only folder or database, no permission) or ``StoreFullError`` (no space
left, quota exceeded); both are ``StoreWriteError``. ``translate_write_errors`` turns ``OSError`` and
``sqlite3`` errors into these. A store that holds runs but cannot be written opens read-only
(``RunStore.read_only``, with ``read_only_reason``): it reads, and each write raises one of these.
"""

from __future__ import annotations

import errno
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ENV_VAR = "SAE_EXPLORER_RUNS"

_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_ONLY_SQLITE = ("readonly database", "unable to open database", "read-only", "readonly")
_FULL_SQLITE = ("database or disk is full", "disk i/o error")


class StoreError(RuntimeError):
    """Something went wrong in the run store."""


class StoreWriteError(StoreError):
    """The run store's folder cannot be written to."""


class ReadOnlyStoreError(StoreWriteError):
    """The run store's folder (or its database) is read-only or not ours to write."""


class StoreFullError(StoreWriteError):
    """The disk (or quota) holding the run store's folder is full."""


class RunNotFoundError(StoreError, LookupError):
    """No run has this id (or the id is malformed)."""


class RunWeightsMissingError(StoreError):
    """The run exists but has no saved weights (it was interrupted, failed, or its folder was removed)."""


class InvalidRunNameError(StoreError, ValueError):
    """A run name that cannot be used (empty, too long, control characters)."""


def _read_only_parts(root: Path, detail: object) -> tuple[str, str]:
    return (f"the run store folder {root} is read-only or not writable by this user ({detail})",
            f"Make it writable (e.g. chmod u+w {root}) or point {ENV_VAR} to a writable folder.")


def _full_parts(root: Path, detail: object) -> tuple[str, str]:
    return (f"the disk holding the run store folder {root} is full ({detail})",
            f"Free some space (delete old runs or other files), or point {ENV_VAR} to a folder on another disk.")


def _write_error(kind: type[StoreWriteError], parts: tuple[str, str], action: str) -> StoreWriteError:
    problem, fix = parts
    error = kind(f"Cannot {action}: {problem}. {fix}")
    error.problem, error.fix = problem, fix  # for read_only_reason
    return error


def read_only_error(root: Path, action: str, detail: object) -> ReadOnlyStoreError:
    return _write_error(ReadOnlyStoreError, _read_only_parts(root, detail), action)


def full_error(root: Path, action: str, detail: object) -> StoreFullError:
    return _write_error(StoreFullError, _full_parts(root, detail), action)


def read_only_reason(error: StoreWriteError) -> str:
    """What a store opened read-only after ``error`` says of itself: the problem, what still works, the fix."""
    problem = getattr(error, "problem", "") or str(error)
    fix = getattr(error, "fix", "")
    return (f"{problem[:1].upper()}{problem[1:]}: its runs can be listed and loaded, but new runs are not saved "
            f"and runs cannot be renamed or deleted. {fix}").strip()


def classify(error: BaseException, root: Path, action: str) -> StoreWriteError | None:
    """The store error an ``OSError``/``sqlite3`` error stands for, or None when it is something else."""
    if isinstance(error, OSError):
        if error.errno in _READ_ONLY_ERRNOS:
            return read_only_error(root, action, error.strerror or error)
        if error.errno in _FULL_ERRNOS:
            return full_error(root, action, error.strerror or error)
        return None
    if isinstance(error, (sqlite3.OperationalError, sqlite3.DatabaseError)):
        text = str(error).lower()
        if any(marker in text for marker in _FULL_SQLITE):
            return full_error(root, action, error)
        if any(marker in text for marker in _READ_ONLY_SQLITE):
            return read_only_error(root, action, error)
    return None


@contextmanager
def translate_write_errors(root: Path, action: str) -> Iterator[None]:
    """Re-raise file-system and SQLite write failures as ``ReadOnlyStoreError`` / ``StoreFullError``."""
    try:
        yield
    except StoreError:
        raise
    except (OSError, sqlite3.Error) as error:
        translated = classify(error, root, action)
        if translated is None:
            raise
        raise translated from error
