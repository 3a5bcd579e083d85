"""core.store: round trips, restarts, crashes mid-write, concurrent writers, filters, names and bad folders.

Crashes and other processes are real: a forked child dies with ``os._exit`` at a chosen point of a save
(no clean-up code runs), and several forked children write at once. Children do no torch work after the
fork, only file and SQLite I/O.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import tempfile
import threading
import traceback
from pathlib import Path

import numpy as np
import pytest

from core import checkpoint, models
from core.store import (FINISHED, INTERRUPTED, RUNNING, STOPPED, InvalidRunNameError, ReadOnlyStoreError,
                        RunNotFoundError, RunStore, RunWeightsMissingError, StoreFullError)
from core.store import layout, run_store
from store_fixtures import X, needs_fork, pca, topk  # noqa: F401 (X, pca and topk are fixtures)


@pytest.fixture()
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def in_child(work, *args) -> int:
    """Run ``work(*args)`` in a forked child and return its exit status (1 and a traceback on error)."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            work(*args)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def run_folders(store: RunStore) -> list[str]:
    return sorted(p.name for p in (store.root / "runs").iterdir())


# -- round trip and restart ------------------------------------------------------------------------
def test_round_trip_through_a_reopened_store_gives_the_same_transform(store, topk, X):
    record = store.save_run(topk, dataset="noise", data_options={"n_samples": 96, "seed": 3}, X=X,
                            image_shape=(4, 4))
    reopened = RunStore(store.root)
    again = reopened.get(record.id)
    assert (again.model, again.dataset, again.status) == ("sae-topk", "noise", FINISHED)
    assert again.data_options == {"n_samples": 96, "seed": 3}
    assert again.params["k"] == 2 and again.n_components == 8 and again.n_features == 16
    assert again.image_shape == (4, 4) and again.steps == 30
    assert again.metrics["l0"] == pytest.approx(2.0, abs=0.1) and again.metrics["mse"] > 0
    loaded = reopened.load_model(record.id)
    assert type(loaded) is type(topk)
    np.testing.assert_array_equal(loaded.transform(X), topk.transform(X))
    assert reopened.load_history(record.id) == [
        {k: v for k, v in row.items()} for row in topk.history_]
    config = checkpoint.read_config(reopened.run_folder(record.id))
    assert config["data"] == "noise" and config["image_shape"] == [4, 4] and config["run_id"] == record.id
    from_zip = checkpoint.from_bytes(reopened.checkpoint_bytes(record.id))
    np.testing.assert_array_equal(from_zip.transform(X), topk.transform(X))


def test_data_folder_comes_from_the_environment_unless_given(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "from-env"))
    assert RunStore().root == (tmp_path / "from-env").resolve()
    assert RunStore(tmp_path / "given").root == (tmp_path / "given").resolve()
    monkeypatch.setenv("SAE_EXPLORER_RUNS", "")
    assert layout.default_root() == Path("runs")


def test_begin_then_finish_records_the_whole_life_of_a_run(store, topk, X):
    run_id = store.begin_run("sae-topk", topk.get_params(), dataset="noise", name="live run")
    assert store.get(run_id).status == RUNNING and not store.get(run_id).has_weights
    assert RunStore(store.root).get(run_id).status == RUNNING  # its writer (this process) is alive
    with pytest.raises(RunWeightsMissingError, match="running"):
        store.load_model(run_id)
    record = store.finish_run(run_id, topk, status=STOPPED)
    assert (record.status, record.name, record.has_weights) == (STOPPED, "live run", True)
    np.testing.assert_array_equal(store.load_model(run_id).transform(X), topk.transform(X))


@needs_fork
def test_a_run_whose_process_died_is_marked_interrupted_on_reopen(store):
    started = {}

    def start_and_die():
        run_id = store.begin_run("sae-l1", {"l1_coef": 0.01}, dataset="digits")
        Path(store.root / "started").write_text(run_id)
        os._exit(0)

    in_child(start_and_die)
    started["id"] = (store.root / "started").read_text()
    reopened = RunStore(store.root)
    record = reopened.get(started["id"])
    assert record.status == INTERRUPTED and not record.has_weights
    assert reopened.last_recovery.interrupted == [started["id"]]
    with pytest.raises(RunWeightsMissingError, match="interrupted"):
        reopened.load_model(record.id)


# -- crashes mid-write ------------------------------------------------------------------------------
def test_failure_between_rename_and_commit_rolls_everything_back(store, topk, X, monkeypatch):
    def crash():
        raise RuntimeError("simulated crash before commit")

    monkeypatch.setattr(run_store, "_before_commit", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        store.save_run(topk, dataset="noise")
    assert store.list_runs() == [] and run_folders(store) == []
    assert files_under(store.root / ".staging") == []
    monkeypatch.undo()
    assert store.save_run(topk, dataset="noise").has_weights  # the store still works


@needs_fork
@pytest.mark.parametrize("crash_point", ["while writing files", "after rename, before commit"])
def test_a_process_killed_mid_save_leaves_no_half_run(store, topk, crash_point):
    kept = store.save_run(topk, dataset="noise", name="kept")

    def save_and_die():
        if crash_point == "while writing files":
            real_write = layout.write_file

            def write_then_die(path, data):
                real_write(path, data[: len(data) // 2])
                os._exit(3)

            layout.write_file = write_then_die
        else:
            run_store._before_commit = lambda: os._exit(3)
        store.save_run(topk, dataset="noise", name="half")

    assert in_child(save_and_die) == 3
    leftover = run_folders(store) if crash_point.startswith("after") else os.listdir(store.root / ".staging")
    assert len(leftover) >= 1  # the dead child did leave something behind
    reopened = RunStore(store.root)
    assert [r.name for r in reopened.list_runs()] == ["kept"]
    assert run_folders(reopened) == [kept.id] and os.listdir(reopened.root / ".staging") == []
    report = reopened.last_recovery
    assert report.removed_orphans + report.removed_staging >= 1
    assert reopened.integrity_check() == "ok"
    with sqlite3.connect(reopened.db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_run_folder_removed_by_hand_is_reported_not_loaded(store, topk):
    record = store.save_run(topk, dataset="noise")
    for path in files_under(store.root / "runs" / record.id):
        path.unlink()
    (store.root / "runs" / record.id).rmdir()
    reopened = RunStore(store.root)
    assert reopened.last_recovery.lost_weights == [record.id]
    with pytest.raises(RunWeightsMissingError):
        reopened.load_model(record.id)


# -- concurrent writers ----------------------------------------------------------------------------------
def test_concurrent_threads_all_land(store, topk, X):
    errors: list[BaseException] = []

    def save_three(worker: int):
        try:
            for i in range(3):
                store.save_run(topk, dataset=f"thread-{worker}", name=f"t{worker}-{i}")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=save_three, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    records = store.list_runs()
    assert sorted(r.name for r in records) == sorted(f"t{w}-{i}" for w in range(4) for i in range(3))
    assert len(run_folders(store)) == 12 and store.integrity_check() == "ok"
    np.testing.assert_array_equal(store.load_model(records[0].id).transform(X), topk.transform(X))


def test_opening_the_store_during_a_save_never_removes_the_writers_folder(store, topk, X, monkeypatch):
    in_window, release = threading.Event(), threading.Event()

    def pause_before_commit():  # the writer's folder is in place, its row not yet committed
        in_window.set()
        release.wait(10)

    monkeypatch.setattr(run_store, "_before_commit", pause_before_commit)
    saved, opened = [], []
    writer = threading.Thread(target=lambda: saved.append(store.save_run(topk, dataset="noise")))
    writer.start()
    assert in_window.wait(10)
    opener = threading.Thread(target=lambda: opened.append(RunStore(store.root)))
    opener.start()
    opener.join(0.3)
    assert opener.is_alive()  # recovery waits for the writer's lock instead of taking its folder for garbage
    release.set()
    writer.join(10)
    opener.join(10)
    (record,), (reopened,) = saved, opened
    assert reopened.last_recovery.removed_orphans == 0
    np.testing.assert_array_equal(reopened.load_model(record.id).transform(X), topk.transform(X))


@needs_fork
def test_concurrent_processes_all_land(store, topk):
    pids = []
    for worker in range(3):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                for i in range(3):
                    RunStore(store.root).save_run(topk, dataset="shared", name=f"p{worker}-{i}")
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    assert codes == [0, 0, 0]
    reopened = RunStore(store.root)
    assert sorted(r.name for r in reopened.list_runs()) == sorted(f"p{w}-{i}" for w in range(3) for i in range(3))
    assert len(run_folders(reopened)) == 9 and reopened.integrity_check() == "ok"
    assert reopened.last_recovery.removed_orphans == 0


# -- listing, filters, rename, delete ----------------------------------------------------------------------
def test_filters_by_dataset_model_status_and_sweep(store, topk, pca):
    a = store.save_run(topk, dataset="digits")
    b = store.save_run(pca, dataset="digits", status=STOPPED)
    c = store.save_run(topk, dataset="faces", sweep="s1")
    ids = lambda records: [r.id for r in records]  # noqa: E731
    assert ids(store.list_runs()) == [c.id, b.id, a.id]  # newest first
    assert ids(store.list_runs(dataset="digits")) == [b.id, a.id]
    assert ids(store.list_runs(model="sae-topk")) == [c.id, a.id]
    assert ids(store.list_runs(dataset="digits", model="pca")) == [b.id]
    assert ids(store.list_runs(dataset=["faces", "digits"], model="sae-topk")) == [c.id, a.id]
    assert ids(store.list_runs(status=STOPPED)) == [b.id]
    assert ids(store.list_runs(sweep="s1")) == [c.id]
    assert ids(store.list_runs(dataset=[])) == [] and ids(store.list_runs(limit=1)) == [c.id]
    assert store.datasets() == ["digits", "faces"] and store.model_names() == ["pca", "sae-topk"]
    assert len(store) == 3


def test_rename_persists_and_keeps_the_folder(store, topk):
    record = store.save_run(topk, dataset="noise", name="first")
    renamed = store.rename(record.id, "  better name  ")
    assert renamed.name == "better name"
    assert RunStore(store.root).get(record.id).name == "better name"
    assert run_folders(store) == [record.id]
    for bad in ("", "   ", "a\nb", "x" * 201, None):
        with pytest.raises(InvalidRunNameError):
            store.rename(record.id, bad)
    with pytest.raises(RunNotFoundError):
        store.rename(layout.new_run_id(), "ghost")


def test_delete_removes_row_and_files(store, topk):
    keep, drop = store.save_run(topk, dataset="noise"), store.save_run(topk, dataset="noise")
    store.delete(drop.id)
    assert [r.id for r in store.list_runs()] == [keep.id] and run_folders(store) == [keep.id]
    with pytest.raises(RunNotFoundError):
        store.get(drop.id)
    with pytest.raises(RunNotFoundError):
        store.delete(drop.id)
    assert [r.id for r in RunStore(store.root).list_runs()] == [keep.id]


def test_names_and_ids_never_escape_the_data_folder(tmp_path, topk):
    store = RunStore(tmp_path / "data" / "runs")
    outside_before = set(tmp_path.rglob("*")) - set(store.root.rglob("*"))
    hostile = ["../../escape", "/tmp/absolute", "..\\..\\win", "runs/../../x", ".", "a/b/c"]
    records = [store.save_run(topk, dataset="../../etc/passwd", name=name) for name in hostile]
    assert [r.name for r in reversed(store.list_runs())] == hostile
    assert run_folders(store) == sorted(r.id for r in records)
    assert set(tmp_path.rglob("*")) - set(store.root.rglob("*")) == outside_before
    for bad_id in ["../x", "..", "runs/../../x", str(tmp_path), "", "20240101-000000-0123456789ab/../..", 7]:
        for action in (store.get, store.load_model, store.delete):
            with pytest.raises(RunNotFoundError):
                action(bad_id)
        with pytest.raises(RunNotFoundError):
            store.rename(bad_id, "x")
    assert len(store.list_runs()) == len(hostile)


def test_an_unfitted_model_is_refused_without_a_trace(store):
    with pytest.raises(Exception, match="(?i)fit"):
        store.save_run(models.create("sae-topk", n_components=4, k=1), dataset="noise")
    assert store.list_runs() == [] and run_folders(store) == []


# -- folders that cannot be written ---------------------------------------------------------------------------
@pytest.fixture()
def shared_tmp():
    """A temporary folder that other users can traverse (pytest's own is private to its user)."""
    folder = Path(tempfile.mkdtemp(prefix="store-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_fork
def test_read_only_folder_raises_a_clear_error(shared_tmp, topk):
    tmp_path = shared_tmp
    existing = RunStore(tmp_path / "existing")
    saved = existing.save_run(topk, dataset="noise")
    fresh_parent = tmp_path / "locked"
    fresh_parent.mkdir()
    for path in [fresh_parent, *existing.root.rglob("*"), existing.root]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    messages = tmp_path / "messages"
    messages.mkdir(mode=0o777)
    messages.chmod(0o777)

    def open_as_unprivileged_user():
        if os.geteuid() == 0:  # root ignores permissions: act as 'nobody', as a real user would be
            os.setgid(65534)
            os.setuid(65534)
        for label, root in (("fresh", fresh_parent / "runs"), ("existing", existing.root)):
            try:
                store = RunStore(root)  # a folder that holds a store opens read-only: reads work, writes raise
                store.rename(saved.id, "renamed")
                outcome = "renamed"
            except ReadOnlyStoreError as error:
                outcome = f"ReadOnlyStoreError: {error}"
            (messages / label).write_text(outcome)

    try:
        assert in_child(open_as_unprivileged_user) == 0
    finally:
        for path in [fresh_parent, existing.root, *existing.root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    for label in ("fresh", "existing"):
        message = (messages / label).read_text()
        assert message.startswith("ReadOnlyStoreError"), message
        assert "read-only" in message and "SAE_EXPLORER_RUNS" in message


def test_full_disk_raises_a_clear_error_and_leaves_no_half_run(store, topk, monkeypatch):
    real_write = layout.write_file

    def write_until_full(path, data):
        if path.name == checkpoint.WEIGHTS_FILE:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(layout, "write_file", write_until_full)
    with pytest.raises(StoreFullError, match="full.*SAE_EXPLORER_RUNS"):
        store.save_run(topk, dataset="noise")
    monkeypatch.undo()
    assert store.list_runs() == [] and run_folders(store) == [] and files_under(store.root / ".staging") == []


def test_a_read_only_database_file_raises_a_clear_error(store, topk, monkeypatch):
    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(run_store.RunStore, "_commit_folder", refuse)
    with pytest.raises(ReadOnlyStoreError, match="read-only"):
        store.save_run(topk, dataset="noise")
    assert run_folders(store) == []
