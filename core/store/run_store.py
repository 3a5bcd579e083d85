"""``RunStore``: every finished or stopped training run, saved atomically and indexed in SQLite.

A save is all or nothing. The files (``config.json`` + ``weights.safetensors`` from ``core.checkpoint``,
and ``history.json``) are written and flushed in a staging folder; then, inside one ``BEGIN IMMEDIATE``
transaction, the folder is renamed into ``runs/<id>`` and the row is written, and the transaction
commits. A crash before the commit leaves a folder no row points to; every store that opens removes such
folders (under the same write lock, so never a live writer's), dead writers' staging folders, and marks
runs whose writing process died as ``interrupted``. The database is the truth: a run exists when its row
does, and ``has_weights`` says its folder is complete.

A folder that holds a store but cannot be written (read-only, not ours, full disk) opens read-only:
``read_only`` is True, ``read_only_reason`` says why and what to do, reads work, recovery is skipped and
each write first tries the folder again, then raises ``ReadOnlyStoreError`` (or ``StoreFullError``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import time
import zipfile
from contextlib import closing as _closing
from pathlib import Path
from typing import Any, Iterable

from core import checkpoint, schedule
from core.models import name_of
from core.store import index, layout, recovery
from core.store.errors import (RunNotFoundError, RunWeightsMissingError, StoreError, StoreWriteError,
                               read_only_reason, translate_write_errors)
from core.store.index import (FAILED, FINISHED, INTERRUPTED, RUNNING, SAVED_STATUSES, RunRecord, clean_name,
                              dumps)
from core.store.recovery import RecoveryReport


def _move_into_place(source: Path, target: Path) -> None:
    """Rename a complete staging folder to its final place (atomic on one file system)."""
    os.replace(source, target)


def _before_commit() -> None:
    """Called after the folder is in place and before the row commits (tests simulate crashes here)."""


class RunStore:
    """The persistent run store in a data folder (``root``; default ``$SAE_EXPLORER_RUNS`` or ``./runs``).

    Safe to share between threads and processes: every call opens its own SQLite connection and writes
    take the database's write lock. Raises ``ReadOnlyStoreError`` / ``StoreFullError`` when the folder
    cannot be written and holds no store yet; one that holds a store opens read-only (``read_only``).
    """

    def __init__(self, root: str | os.PathLike | None = None, *, recover: bool = True):
        self.root = Path(root if root is not None else layout.default_root()).expanduser().resolve()
        self.read_only, self.read_only_reason, self._recover = False, "", recover
        self.last_recovery = RecoveryReport()
        try:
            self._open_for_writing("open the run store")
            if recover:  # inside: a folder whose staging is writable but runs/ is not opens read-only too
                self.last_recovery = self._recover_now()
        except StoreWriteError as error:
            if not index.holds_runs(self.db_path):
                raise  # nothing to read either: the clear error stands
            self.read_only, self.read_only_reason = True, read_only_reason(error)

    def _open_for_writing(self, action: str) -> None:
        """Make the folders and the index, after proving that a file can be written (else raise)."""
        with translate_write_errors(self.root, action):
            if self.root.exists() and not self.root.is_dir():
                raise StoreError(f"The run store folder {self.root} is a file. Remove it, or point "
                                 f"{layout.ENV_VAR} (or --store, RunStore(root=...)) to a folder.")
            (self.root / layout.RUNS_DIR).mkdir(parents=True, exist_ok=True)
            (self.root / layout.STAGING_DIR).mkdir(exist_ok=True)
            probe = self.root / layout.STAGING_DIR / f".probe-{os.getpid()}-{time.monotonic_ns()}"
            layout.write_file(probe, b"probe")  # fails clearly on a read-only or full disk
            probe.unlink()
            index.initialise(self.db_path)

    def _writable(self, action: str, *, recover: bool = True) -> None:
        """Before a write: a read-only store tries its folder again (it may have been fixed meanwhile) and
        raises ``ReadOnlyStoreError`` / ``StoreFullError`` naming ``action`` when it still cannot write."""
        if not self.read_only:
            return
        self._open_for_writing(action)
        if recover and self._recover:  # before the flag flips: a recovery that cannot write keeps it read-only
            self.last_recovery = self._recover_now()
        self.read_only, self.read_only_reason = False, ""

    def retry_writable(self) -> bool:
        """Whether the store can be written: a read-only one tries its folder again (and stays writable
        when it now can, e.g. after a page fixed the folder); False while it still cannot."""
        try:
            self._writable("open the run store")
        except StoreWriteError:
            return False
        return True

    def _db(self):
        """A connection to the index (read-only for a read-only store), closed when the block ends."""
        if not self.read_only:
            return index.opened(self.db_path)
        try:
            return _closing(index.connect_read_only(self.db_path))
        except sqlite3.Error as error:
            raise StoreError(f"Cannot read the run store in {self.root}: its index {self.db_path.name} cannot be "
                             f"opened read-only ({error}). {self.read_only_reason}") from error

    @property
    def db_path(self) -> Path:
        return self.root / layout.INDEX_FILE

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r}{', read-only' if self.read_only else ''})"

    def __bool__(self) -> bool:
        return True  # a store is a store even while empty (``__len__`` alone would make it falsy)

    def __len__(self) -> int:
        with self._db() as conn:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    # -- writing runs --------------------------------------------------------------------------------
    def begin_run(self, model, params: dict[str, Any] | None = None, *, dataset: str,
                  data_options: dict[str, Any] | None = None, name: str | None = None,
                  sweep: str | None = None, extra: dict[str, Any] | None = None) -> str:
        """Record that a run started (status ``running``); returns its id. Finish it with ``finish_run``.

        ``model`` is a registry name (with ``params``) or an unfitted estimator. Should the process die
        before ``finish_run``, the next store to open marks the run ``interrupted``.
        """
        self._writable("record the start of a run")
        model_name = model if isinstance(model, str) else name_of(model)
        params = params if params is not None or isinstance(model, str) else model.get_params(deep=False)
        run_id, now, owner = layout.new_run_id(), time.time(), layout.Owner.current()
        with translate_write_errors(self.root, "record the start of a run"), self._db() as conn:
            with index.write_transaction(conn):
                conn.execute(
                    "INSERT INTO runs (id, name, model, dataset, status, created_at, updated_at, params, "
                    "data_options, extra, sweep, owner_pid, owner_token, owner_host) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, self._name_or_default(name, model_name, dataset), model_name, str(dataset),
                     RUNNING, now, now, dumps(params or {}), dumps(data_options or {}), dumps(extra or {}),
                     sweep, owner.pid, owner.token, owner.host))
        return run_id

    def finish_run(self, run_id: str, model, *, status: str = FINISHED, metrics: dict[str, Any] | None = None,
                   history: list[dict[str, Any]] | None = None, X=None, image_shape=None,
                   extra: dict[str, Any] | None = None) -> RunRecord:
        """Save the fitted ``model`` of a run made by ``begin_run``; see ``save_run`` for the arguments."""
        self._writable("save a run")
        record = self.get(run_id)
        if record.has_weights:
            raise StoreError(f"Run {run_id} is already saved; save a new run instead.")
        return self._publish(model, record.id, insert=False, dataset=record.dataset,
                             data_options=record.data_options, name=record.name, status=status,
                             metrics=metrics, history=history, X=X, image_shape=image_shape,
                             sweep=record.sweep, extra={**record.extra, **(extra or {})})

    def save_run(self, model, *, dataset: str, data_options: dict[str, Any] | None = None,
                 name: str | None = None, status: str = FINISHED, metrics: dict[str, Any] | None = None,
                 history: list[dict[str, Any]] | None = None, X=None, image_shape=None,
                 sweep: str | None = None, extra: dict[str, Any] | None = None) -> RunRecord:
        """Save a fitted ``model`` as a new run in one atomic step; returns its record.

        ``dataset`` is the data set's name (or path) and ``data_options`` the options it was loaded with,
        so the run can be matched with the same data later. ``status`` is ``finished`` or ``stopped``.
        ``metrics`` default to ``core.metrics.evaluate(model, X)`` when ``X`` is given; ``history``
        defaults to ``model.history_``. Metrics with ``dead_fraction`` or ``l0`` also record ``collapsed``
        (``core.metrics.collapse``; read it as ``record.collapsed``). ``sweep`` groups the points of one sweep.
        """
        self._writable(f"save run {name!r}" if name is not None else "save a run")
        return self._publish(model, layout.new_run_id(), insert=True, dataset=str(dataset),
                             data_options=data_options or {}, name=name, status=status, metrics=metrics,
                             history=history, X=X, image_shape=image_shape, sweep=sweep, extra=extra or {})

    def abandon_run(self, run_id: str, status: str = FAILED, note: str = "") -> RunRecord:
        """Close a run started with ``begin_run`` without weights (it failed, or nothing was fitted)."""
        if status not in (FAILED, INTERRUPTED):
            raise ValueError(f"abandon_run takes status 'failed' or 'interrupted', not {status!r}.")
        self._writable("update a run")
        with translate_write_errors(self.root, "update a run"), self._db() as conn:
            with index.write_transaction(conn):
                updated = conn.execute(
                    "UPDATE runs SET status = ?, note = ?, updated_at = ? WHERE id = ? AND has_weights = 0",
                    (status, str(note), time.time(), layout.check_run_id(run_id))).rowcount
        if not updated:
            raise RunNotFoundError(f"No unsaved run {run_id} to abandon; it was deleted or already saved.")
        return self.get(run_id)

    def _publish(self, model, run_id: str, *, insert: bool, dataset: str, data_options: dict[str, Any],
                 name: str | None, status: str, metrics, history, X, image_shape, sweep, extra) -> RunRecord:
        if status not in SAVED_STATUSES:
            raise ValueError(f"A saved run's status is one of {SAVED_STATUSES}, not {status!r}.")
        model_name = name_of(model)
        if metrics is None:
            metrics = {}
        if X is not None:
            from core.metrics import evaluate
            metrics = {**evaluate(model, X), **metrics}
        metrics = index.with_collapse_flag(metrics)
        history = list(history if history is not None else getattr(model, "history_", None) or [])
        if image_shape is not None:
            extra = {**extra, "image_shape": [int(s) for s in image_shape]}
        imported = {"imported_from": extra["imported_from"]} if "imported_from" in extra else {}  # never trained here
        config_extra = schedule.replay_extra(dataset, index.plain(data_options), history, extra.get("image_shape"),
                                             getattr(model, "n_steps_", None), run_id=run_id, **imported)
        archive = zipfile.ZipFile(io.BytesIO(checkpoint.to_bytes(model, extra_config=config_extra)))
        config = json.loads(archive.read(checkpoint.CONFIG_FILE))
        steps = history[-1].get("step") if history else getattr(model, "n_steps_", None)
        weights = model.get_weights()
        values = dict(
            name=self._name_or_default(name, model_name, dataset), model=model_name, dataset=dataset,
            status=status, updated_at=time.time(), params=dumps(config["params"]),
            data_options=dumps(data_options), metrics=dumps(metrics), extra=dumps(extra), sweep=sweep,
            n_components=int(weights[type(model)._weight_names[0]].shape[0]),
            n_features=int(config["n_features_in"]), steps=None if steps is None else int(steps), has_weights=1)
        final = layout.run_folder(self.root, run_id)
        with translate_write_errors(self.root, f"save run {values['name']!r}"):
            staging = layout.make_staging_folder(self.root)
            try:
                folder = staging / "run"
                folder.mkdir()
                for member in (checkpoint.CONFIG_FILE, checkpoint.WEIGHTS_FILE):
                    layout.write_file(folder / member, archive.read(member))
                layout.write_file(folder / layout.HISTORY_FILE, dumps(history).encode("utf-8"))
                layout.fsync_folder(folder)
                self._commit_folder(folder, final, run_id, values, insert)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        layout.fsync_folder(final.parent)
        return self.get(run_id)

    def _commit_folder(self, folder: Path, final: Path, run_id: str, values: dict[str, Any], insert: bool) -> None:
        """Rename ``folder`` to ``final`` and write the row, both inside one write transaction."""
        moved = False
        with self._db() as conn:
            try:
                with index.write_transaction(conn):
                    if insert:
                        owner = layout.Owner.current()
                        columns = {**values, "id": run_id, "created_at": values["updated_at"],
                                   "owner_pid": owner.pid, "owner_token": owner.token, "owner_host": owner.host}
                        conn.execute(f"INSERT INTO runs ({', '.join(columns)}) "
                                     f"VALUES ({', '.join('?' * len(columns))})", tuple(columns.values()))
                    else:
                        assignments = ", ".join(f"{column} = ?" for column in values)
                        updated = conn.execute(f"UPDATE runs SET {assignments} WHERE id = ? AND has_weights = 0",
                                               (*values.values(), run_id)).rowcount
                        if not updated:
                            raise RunNotFoundError(f"Run {run_id} was deleted or saved by someone else meanwhile.")
                    _move_into_place(folder, final)
                    moved = True
                    _before_commit()
            except BaseException:
                if moved:  # rolled back: the folder must not outlive its row
                    shutil.rmtree(final, ignore_errors=True)
                raise

    # -- reading runs ------------------------------------------------------------------------------------
    def get(self, run_id: str) -> RunRecord:
        """The record of run ``run_id``; ``RunNotFoundError`` when there is none."""
        layout.check_run_id(run_id)
        with self._db() as conn:
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(f"No run {run_id} in {self.root}; it may have been deleted. "
                                   "Pick one from RunStore.list_runs().")
        return RunRecord.from_row(row)

    def list_runs(self, *, dataset: str | Iterable[str] | None = None, model: str | Iterable[str] | None = None,
                  status: str | Iterable[str] | None = None, sweep: str | None = None,
                  with_weights: bool | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first, filtered by data set, model, status, sweep id and whether weights exist."""
        clauses: list[str] = []
        arguments: list[Any] = []
        for column, wanted in (("dataset", dataset), ("model", model), ("status", status)):
            if wanted is None:
                continue
            wanted = [wanted] if isinstance(wanted, str) else list(wanted)
            clauses.append(f"{column} IN ({', '.join('?' * len(wanted))})" if wanted else "0")
            arguments.extend(wanted)
        if sweep is not None:
            clauses.append("sweep = ?")
            arguments.append(sweep)
        if with_weights is not None:
            clauses.append("has_weights = ?")
            arguments.append(int(bool(with_weights)))
        query = "SELECT * FROM runs" + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
        query += " ORDER BY created_at DESC, id DESC"
        if limit is not None:
            query += f" LIMIT {max(0, int(limit))}"
        with self._db() as conn:
            return [RunRecord.from_row(row) for row in conn.execute(query, arguments)]

    def datasets(self) -> list[str]:
        """The data sets that runs were trained on (for a filter)."""
        return self._distinct("dataset")

    def model_names(self) -> list[str]:
        """The models that have runs (for a filter)."""
        return self._distinct("model")

    def _distinct(self, column: str) -> list[str]:
        with self._db() as conn:
            return [row[0] for row in conn.execute(f"SELECT DISTINCT {column} FROM runs ORDER BY {column}")]

    def run_folder(self, run_id: str) -> Path:
        """The folder holding a saved run's files (inside the store, whatever the run's name)."""
        record = self.get(run_id)
        folder = layout.run_folder(self.root, record.id)
        if not record.has_weights or not folder.is_dir():
            reason = f"it ended as '{record.status}' before its weights were saved" if not record.has_weights \
                else "its folder was removed from the store"
            raise RunWeightsMissingError(f"Run {record.name!r} ({run_id}) has no weights: {reason}. "
                                         "Train it again, or pick a finished run.")
        return folder

    def load_model(self, run_id: str, device: str | None = None):
        """The run's fitted estimator (a ``core.models`` class with its weights set)."""
        return checkpoint.load(self.run_folder(run_id), device=device)

    def load_history(self, run_id: str) -> list[dict[str, Any]]:
        """The run's logged training rows (``step``, ``loss``, ``mse``, ...)."""
        return json.loads((self.run_folder(run_id) / layout.HISTORY_FILE).read_text("utf-8"))

    def checkpoint_bytes(self, run_id: str) -> bytes:
        """The run's weights as a checkpoint ZIP (``core.checkpoint.to_bytes``), for a download button."""
        model, config = checkpoint.load(self.run_folder(run_id), return_config=True)
        extra = {k: v for k, v in config.items() if k not in checkpoint.RESERVED_KEYS}
        return checkpoint.to_bytes(model, extra_config=extra)

    # -- changing runs ---------------------------------------------------------------------------------------
    def rename(self, run_id: str, name: str) -> RunRecord:
        """Give a run a new display name (folders keep their generated ids)."""
        name = clean_name(name)
        self._writable("rename a run")
        with translate_write_errors(self.root, "rename a run"), self._db() as conn:
            with index.write_transaction(conn):
                updated = conn.execute("UPDATE runs SET name = ?, updated_at = ? WHERE id = ?",
                                       (name, time.time(), layout.check_run_id(run_id))).rowcount
        if not updated:
            raise RunNotFoundError(f"No run {run_id} to rename; it may have been deleted.")
        return self.get(run_id)

    def delete(self, run_id: str) -> None:
        """Delete a run: its row first (committed), then its folder (a crash in between leaves an orphan
        folder, which the next open removes)."""
        folder = layout.run_folder(self.root, run_id)
        self._writable("delete a run")
        with translate_write_errors(self.root, "delete a run"):
            with self._db() as conn, index.write_transaction(conn):
                deleted = conn.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount
            if not deleted:
                raise RunNotFoundError(f"No run {run_id} to delete; it may have been deleted already.")
            self._discard(folder)

    def _discard(self, folder: Path) -> None:
        if not folder.exists():
            return
        trash = layout.make_staging_folder(self.root)
        try:
            os.replace(folder, trash / folder.name)  # instant; the slow removal happens out of sight
        except FileNotFoundError:
            pass
        shutil.rmtree(trash, ignore_errors=True)

    # -- maintenance -------------------------------------------------------------------------------------------
    def recover(self) -> RecoveryReport:
        """Clean up after crashed writers: dead writers' staging folders, folders without a committed row,
        rows whose folder vanished, and ``running`` rows of dead processes (marked ``interrupted``)."""
        self._writable("recover the run store", recover=False)
        return self._recover_now()

    def _recover_now(self) -> RecoveryReport:
        with translate_write_errors(self.root, "recover the run store"), index.opened(self.db_path) as conn:
            return recovery.recover(self.root, conn, self._discard)

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` of the index: ``'ok'`` when sound."""
        with self._db() as conn:
            return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))

    @staticmethod
    def _name_or_default(name: str | None, model_name: str, dataset: str) -> str:
        return clean_name(name) if name is not None else f"{model_name} on {Path(str(dataset)).name or dataset}"
