"""Cleaning up after crashed writers when a writable run store opens (``RunStore.recover``)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core.store import index, layout
from core.store.index import INTERRUPTED, RUNNING


@dataclass(frozen=True)
class RecoveryReport:
    """What opening the store cleaned up after earlier crashes."""

    interrupted: list[str] = field(default_factory=list)
    removed_staging: int = 0
    removed_orphans: int = 0
    lost_weights: list[str] = field(default_factory=list)


def recover(root: Path, conn: sqlite3.Connection, discard: Callable[[Path], None]) -> RecoveryReport:
    """Remove dead writers' staging folders and run folders without a committed row, mark rows whose folder
    vanished as weightless and ``running`` rows of dead processes ``interrupted``; ``discard`` removes a
    folder. The index work happens in one write transaction on ``conn``."""
    removed_staging = layout.clean_staging(root)
    runs = root / layout.RUNS_DIR
    with index.write_transaction(conn):
        interrupted = []
        for row in conn.execute("SELECT id, owner_pid, owner_token, owner_host FROM runs WHERE status = ?",
                                (RUNNING,)).fetchall():
            owner = layout.Owner(row["owner_pid"] or 0, row["owner_token"] or "", row["owner_host"] or "")
            if owner.is_dead():
                interrupted.append(row["id"])
        conn.executemany("UPDATE runs SET status = ?, note = ?, updated_at = ? WHERE id = ?",
                         [(INTERRUPTED, "the training process ended before the run was saved",
                           time.time(), run_id) for run_id in interrupted])
        saved = {row[0] for row in conn.execute("SELECT id FROM runs WHERE has_weights = 1")}
        # under the write lock no writer is between its rename and its commit: an unknown folder is garbage
        orphans = [p for p in runs.iterdir() if layout.RUN_ID_PATTERN.match(p.name) and p.name not in saved]
        lost = [run_id for run_id in saved if not (runs / run_id).is_dir()]
        conn.executemany("UPDATE runs SET has_weights = 0, note = ? WHERE id = ?",
                         [("its folder was removed from the store", run_id) for run_id in lost])
        for folder in orphans:
            discard(folder)
    return RecoveryReport(interrupted=interrupted, removed_staging=removed_staging,
                          removed_orphans=len(orphans), lost_weights=sorted(lost))
