"""Where the run store keeps things, and who owns what: the folder, run ids, staging folders, processes.

    <root>/index.sqlite3        the index (SQLite, WAL mode)
    <root>/runs/<run id>/       one folder per saved run: config.json, weights.safetensors, history.json
    <root>/.staging/<owner>.<random>/   files being written (or deleted) by a live process

Paths are built only from generated run ids (``new_run_id``) checked against ``RUN_ID_PATTERN``; names
typed by users never reach the file system. A staging folder's name starts with its owner's process id
and start time, so a store opened later can tell a dead writer's leftovers from a live writer's work.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.store.errors import ENV_VAR, RunNotFoundError

DEFAULT_ROOT = "runs"
INDEX_FILE = "index.sqlite3"
RUNS_DIR = "runs"
STAGING_DIR = ".staging"
HISTORY_FILE = "history.json"
#: a staging folder whose owner cannot be identified is removed once it is this old (seconds)
UNOWNED_STAGING_MAX_AGE = 3600.0
RUN_ID_PATTERN = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{12}$")


def default_root() -> Path:
    """The data folder: ``$SAE_EXPLORER_RUNS`` when set and non-empty, else ``./runs``."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_ROOT)


def new_run_id(now: float | None = None) -> str:
    """A fresh id that sorts by creation time: ``YYYYMMDD-HHMMSS-<12 hex digits>`` (UTC)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{uuid.uuid4().hex[:12]}"


def check_run_id(run_id: object) -> str:
    """``run_id`` when it has the shape of a generated id, else ``RunNotFoundError`` (no path tricks)."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        raise RunNotFoundError(
            f"{run_id!r} is not a run id (ids look like 20240131-120000-0123456789ab). "
            "Pick a run from RunStore.list_runs()."
        )
    return run_id


def run_folder(root: Path, run_id: str) -> Path:
    """The folder of run ``run_id``, guaranteed to lie inside ``root/runs``."""
    runs = (root / RUNS_DIR).resolve()
    folder = (runs / check_run_id(run_id)).resolve()
    if folder.parent != runs:  # cannot happen with a valid id; kept as a second lock on the door
        raise RunNotFoundError(f"Run id {run_id!r} points outside the run store; refusing it.")
    return folder


# -- process ownership ----------------------------------------------------------------------------
def process_start_token(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks since boot, from /proc), or '' where unknown.

    Together with the pid it names one process: a pid reused by a later process has another token.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # the command name (field 2) is in parentheses and may hold spaces: split after its closing ')'
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else ""


def process_alive(pid: int, token: str) -> bool:
    """Whether the process ``pid`` that had start token ``token`` is still running."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    current = process_start_token(pid)
    return not (token and current and current != token)


@dataclass(frozen=True)
class Owner:
    """The process that writes a run: its id, start token and host name."""

    pid: int
    token: str
    host: str

    @classmethod
    def current(cls) -> "Owner":
        pid = os.getpid()
        return cls(pid, process_start_token(pid), socket.gethostname())

    def is_dead(self) -> bool:
        """True only when this owner surely ended: same host and the process is gone."""
        return self.host == socket.gethostname() and not process_alive(self.pid, self.token)


# -- staging folders ---------------------------------------------------------------------------------
def make_staging_folder(root: Path) -> Path:
    """A new empty folder under ``root/.staging`` named after this process."""
    owner = Owner.current()
    folder = root / STAGING_DIR / f"{owner.pid}.{owner.token or 0}.{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return folder


def _staging_owner_dead(folder: Path) -> bool:
    parts = folder.name.split(".")
    try:
        pid, token = int(parts[0]), parts[1]
    except (IndexError, ValueError):
        try:
            return time.time() - folder.stat().st_mtime > UNOWNED_STAGING_MAX_AGE
        except OSError:
            return False
    return not process_alive(pid, "" if token == "0" else token)


def clean_staging(root: Path) -> int:
    """Remove staging folders left by processes that died mid-write; returns how many went."""
    staging = root / STAGING_DIR
    if not staging.is_dir():
        return 0
    removed = 0
    for folder in staging.iterdir():
        if _staging_owner_dead(folder):
            shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)
            removed += 1
    return removed


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file and flush it to disk (errors such as ENOSPC surface here)."""
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
