"""core.store on a folder it cannot write: a store that is there opens read-only, lists and loads its runs,
refuses every write with a clear error, and becomes writable again once the folder is fixed.

Folders are made read-only for real (chmod); the store is opened in a forked child that, when the tests run
as root (who ignores permissions), first becomes 'nobody', as a real user would be. The child reports back
through files in a folder everyone can write. A full disk is simulated as in tests/test_faults.py.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pytest

from app_support import messages, open_page
from core import checkpoint, models
from core.store import (RUNNING, ReadOnlyStoreError, RunStore, StoreFullError, StoreWriteError, layout)
from store_fixtures import X, needs_fork, pca, topk  # noqa: F401 (X, pca and topk are fixtures)

NOBODY = 65534
WRITES = ("begin_run", "save_run", "finish_run", "abandon_run", "rename", "delete", "recover")


@pytest.fixture()
def shared_tmp():
    """A temporary folder that other users can traverse (pytest's own is private to its user)."""
    folder = Path(tempfile.mkdtemp(prefix="store-ro-test-"))
    folder.chmod(0o755)
    (folder / "out").mkdir(mode=0o777)
    (folder / "out").chmod(0o777)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def lock(root: Path, *, dirs: int = 0o555, files: int = 0o444) -> None:
    for path in [*root.rglob("*"), root]:
        path.chmod(dirs if path.is_dir() else files)


def unlock(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def as_another_user(work, out: Path) -> dict:
    """Run ``work(out)`` in a forked child without root's powers; returns what it wrote to out/result.json."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            (out / "result.json").write_text(json.dumps(work(out)))
        except BaseException:
            (out / "error.txt").write_text(traceback.format_exc())
            code = 1
        os._exit(code)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    error = out / "error.txt"
    assert status == 0, error.read_text() if error.exists() else f"child exited with {status}"
    return json.loads((out / "result.json").read_text())


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def start_run_in_dead_process(store: RunStore) -> str:
    """A 'running' row whose writer died (recovery would mark it interrupted)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.write(write, store.begin_run("sae-topk", {"k": 2}, dataset="noise").encode())
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    run_id = os.read(read, 100).decode()
    os.close(read)
    return run_id


def try_every_write(store: RunStore, running_id: str, saved_id: str, model) -> dict[str, str]:
    """Each write's outcome: 'ReadOnlyStoreError: <message>', another error's name, or 'done'."""
    writes = {
        "begin_run": lambda: store.begin_run("pca", {"n_components": 2}, dataset="noise"),
        "save_run": lambda: store.save_run(model, dataset="noise", name="new"),
        "finish_run": lambda: store.finish_run(running_id, model),
        "abandon_run": lambda: store.abandon_run(running_id),
        "rename": lambda: store.rename(saved_id, "renamed"),
        "delete": lambda: store.delete(saved_id),
        "recover": store.recover,
    }
    outcomes = {}
    for name, write in writes.items():
        try:
            write()
            outcomes[name] = "done"
        except ReadOnlyStoreError as error:
            outcomes[name] = f"ReadOnlyStoreError: {error}"
        except Exception as error:  # noqa: BLE001 - reported to the test
            outcomes[name] = f"{type(error).__name__}: {error}"
    return outcomes


@pytest.fixture()
def filled(shared_tmp, topk, pca, X):
    """A store with a saved SAE (with history), a saved PCA and a 'running' row of a dead writer."""
    store = RunStore(shared_tmp / "store")
    sae = store.save_run(topk, dataset="noise", name="sae", X=X)
    first_pca = store.save_run(pca, dataset="bars", name="pca", X=X)
    running = start_run_in_dead_process(store)
    return store, sae, first_pca, running


# -- a read-only folder that holds a store -------------------------------------------------------------------
@needs_fork
@pytest.mark.parametrize("wal", [False, True], ids=["checkpointed", "commits-still-in-the-wal"])
def test_a_read_only_folder_with_runs_opens_read_only_and_reads_everything(filled, shared_tmp, topk, X, wal):
    store, sae, first_pca, running = filled
    holder = None
    if wal:  # a connection held open keeps the -wal file: the next run's commit is only there
        holder = sqlite3.connect(store.db_path)
        holder.execute("SELECT COUNT(*) FROM runs").fetchone()
        late = store.save_run(topk, dataset="digits", name="late")
        assert Path(f"{store.db_path}-wal").stat().st_size > 0
        immutable = sqlite3.connect(f"file:{store.db_path}?immutable=1", uri=True)
        assert late.id not in {r[0] for r in immutable.execute("SELECT id FROM runs")}  # not in the main file
        immutable.close()
    else:
        assert not Path(f"{store.db_path}-wal").exists()
    expected = [(r.id, r.name, r.status, r.has_weights) for r in store.list_runs()]
    before = snapshot(store.root)
    lock(store.root)
    out = shared_tmp / "out"

    def read(out: Path) -> dict:
        opened = RunStore(store.root)
        np.save(out / "codes.npy", opened.load_model(sae.id).transform(X))
        (out / "checkpoint.zip").write_bytes(opened.checkpoint_bytes(sae.id))
        return {
            "read_only": opened.read_only, "reason": opened.read_only_reason, "len": len(opened),
            "runs": [(r.id, r.name, r.status, r.has_weights) for r in opened.list_runs()],
            "with_weights": [r.id for r in opened.list_runs(with_weights=True, model="pca")],
            "datasets": opened.datasets(), "models": opened.model_names(),
            "running_status": opened.get(running).status, "history": opened.load_history(sae.id),
            "integrity": opened.integrity_check(), "repr": repr(opened),
        }

    try:
        result = as_another_user(read, out)
    finally:
        unlock(store.root)
    assert snapshot(store.root) == before  # nothing was written: no probe, no recovery, no -shm
    if holder is not None:
        holder.close()
    assert result["read_only"] is True and "read-only" in result["repr"]
    reason = result["reason"]
    assert str(store.root) in reason and "read-only" in reason and "SAE_EXPLORER_RUNS" in reason, reason
    assert [tuple(r) for r in result["runs"]] == expected and result["len"] == len(expected)
    assert result["with_weights"] == [first_pca.id]
    assert result["datasets"] == sorted({"noise", "bars"} | ({"digits"} if wal else set()))
    assert result["models"] == ["pca", "sae-topk"]
    assert result["running_status"] == RUNNING  # recovery was skipped, the row is as it was
    assert result["history"] == store.load_history(sae.id) and len(result["history"]) > 0
    assert result["integrity"] == "ok"
    np.testing.assert_allclose(np.load(out / "codes.npy", allow_pickle=False), topk.transform(X), rtol=1e-5, atol=1e-6)
    downloaded = checkpoint.from_bytes((out / "checkpoint.zip").read_bytes())
    np.testing.assert_array_equal(downloaded.components_, topk.components_)


@needs_fork
def test_every_write_on_a_read_only_store_raises_a_clear_error_and_changes_nothing(filled, shared_tmp, pca):
    store, sae, _, running = filled
    expected = store.list_runs()
    before = snapshot(store.root)
    lock(store.root)

    def write(out: Path) -> dict:
        opened = RunStore(store.root)
        return {"read_only": opened.read_only, "outcomes": try_every_write(opened, running, sae.id, pca),
                "still_read_only": opened.read_only, "len": len(opened)}

    try:
        result = as_another_user(write, shared_tmp / "out")
    finally:
        unlock(store.root)
    assert result["read_only"] and result["still_read_only"] and result["len"] == len(expected)
    assert set(result["outcomes"]) == set(WRITES)
    for name, outcome in result["outcomes"].items():
        assert outcome.startswith("ReadOnlyStoreError: Cannot "), (name, outcome)
        assert str(store.root) in outcome and "read-only" in outcome and "SAE_EXPLORER_RUNS" in outcome, outcome
    assert "rename a run" in result["outcomes"]["rename"] and "delete a run" in result["outcomes"]["delete"]
    assert snapshot(store.root) == before
    assert RunStore(store.root, recover=False).list_runs() == expected


@needs_fork
def test_a_read_only_index_in_a_writable_folder_opens_read_only(filled, shared_tmp):
    store, sae, _, running = filled
    lock(store.root, dirs=0o777, files=0o444)  # anyone may add files; the index is not theirs to change

    def open_it(out: Path) -> dict:
        opened = RunStore(store.root)
        return {"read_only": opened.read_only, "reason": opened.read_only_reason,
                "names": [r.name for r in opened.list_runs(with_weights=True)],
                "running": opened.get(running).status,
                "rename": try_every_write(opened, running, sae.id, None)["rename"]}

    try:
        result = as_another_user(open_it, shared_tmp / "out")
    finally:
        unlock(store.root)
    assert result["read_only"] and "SAE_EXPLORER_RUNS" in result["reason"]
    assert result["names"] == ["pca", "sae"] and result["running"] == RUNNING
    assert result["rename"].startswith("ReadOnlyStoreError: Cannot rename a run"), result["rename"]
    assert RunStore(store.root, recover=False).get(sae.id).name == "sae"


@needs_fork
def test_a_read_only_folder_without_a_store_still_raises_a_clear_error(shared_tmp):
    empty = shared_tmp / "empty"
    empty.mkdir()
    (empty / "index.sqlite3").write_bytes(b"")  # an empty file is no store either
    parent = shared_tmp / "locked"
    parent.mkdir()
    lock(empty)
    lock(parent)

    def open_them(out: Path) -> dict:
        outcomes = {}
        for label, root in (("empty", empty), ("missing", parent / "runs")):
            try:
                outcomes[label] = f"opened, read_only={RunStore(root).read_only}"
            except ReadOnlyStoreError as error:
                outcomes[label] = f"ReadOnlyStoreError: {error}"
        return outcomes

    result = as_another_user(open_them, shared_tmp / "out")
    for label, root in (("empty", empty), ("missing", parent / "runs")):
        outcome = result[label]
        assert outcome.startswith("ReadOnlyStoreError: Cannot open the run store"), outcome
        assert str(root) in outcome and "SAE_EXPLORER_RUNS" in outcome, outcome
    assert not (parent / "runs").exists()


@needs_fork
def test_a_read_only_store_writes_again_once_its_folder_is_fixed(filled, shared_tmp, pca):
    store, sae, _, running = filled
    if os.geteuid() == 0:  # the child (nobody) must own the folder to fix it
        for path in [store.root, *store.root.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
    lock(store.root)

    def fix_then_write(out: Path) -> dict:
        opened = RunStore(store.root)
        refused = try_every_write(opened, running, sae.id, pca)["rename"]
        retried = [opened.retry_writable(), opened.read_only]
        for path in [opened.root, *opened.root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        renamed = opened.rename(sae.id, "renamed").name
        return {"refused": refused, "retried": retried, "renamed": renamed, "read_only": opened.read_only,
                "reason": opened.read_only_reason, "interrupted": opened.last_recovery.interrupted,
                "running": opened.get(running).status}

    result = as_another_user(fix_then_write, shared_tmp / "out")
    assert result["refused"].startswith("ReadOnlyStoreError") and result["retried"] == [False, True]
    assert result["renamed"] == "renamed" and result["read_only"] is False and result["reason"] == ""
    # the store that became writable ran the recovery it skipped when it opened
    assert result["interrupted"] == [running] and result["running"] == "interrupted"
    assert RunStore(store.root).get(sae.id).name == "renamed"


# -- a full disk (simulated, as in tests/test_faults.py) -------------------------------------------------------
def _refuse_writes(monkeypatch, code: int) -> None:
    def refuse(path, data):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(layout, "write_file", refuse)


def test_a_full_disk_with_a_store_opens_read_only_and_refuses_saves_as_full(tmp_path, topk, monkeypatch):
    store = RunStore(tmp_path / "runs")
    record = store.save_run(topk, dataset="noise", name="kept")
    _refuse_writes(monkeypatch, errno.ENOSPC)
    opened = RunStore(store.root)
    assert opened.read_only and "is full" in opened.read_only_reason and "Free some space" in opened.read_only_reason
    assert [r.id for r in opened.list_runs()] == [record.id]
    np.testing.assert_array_equal(opened.load_model(record.id).components_, topk.components_)
    with pytest.raises(StoreFullError, match=r"Cannot save run 'new'.*is full.*SAE_EXPLORER_RUNS"):
        opened.save_run(topk, dataset="noise", name="new")
    with pytest.raises(StoreFullError, match="Cannot delete a run"):
        opened.delete(record.id)
    assert len(opened) == 1 and opened.read_only
    assert opened.retry_writable() is False and opened.read_only
    monkeypatch.undo()  # space was freed: the same store object saves again
    saved = opened.save_run(topk, dataset="noise", name="new")
    assert not opened.read_only and opened.read_only_reason == ""
    assert [r.name for r in RunStore(store.root).list_runs()] == ["new", "kept"] and saved.has_weights


def test_writable_folders_are_not_read_only(tmp_path, topk):
    store = RunStore(tmp_path / "runs")
    assert store.read_only is False and store.read_only_reason == "" and "read-only" not in repr(store)
    assert store.retry_writable() is True
    store.save_run(topk, dataset="noise")
    assert len(RunStore(store.root)) == 1


# -- the Inspect page on a read-only store ------------------------------------------------------------------
def test_inspect_lists_and_shows_the_runs_of_a_store_it_cannot_write(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(root))
    from core import datasets

    ds = datasets.load("bars")
    model = models.create("nmf", n_components=8, max_steps=20, random_state=0, device="cpu").fit(ds.X)
    record = RunStore(root).save_run(model, dataset="bars", X=ds.X, image_shape=ds.image_shape)
    _refuse_writes(monkeypatch, errno.EROFS)
    with pytest.raises(StoreWriteError):  # the page's store really is read-only
        RunStore(root).rename(record.id, "x")
    at = open_page("views/inspect.py")
    assert not at.exception and not at.error, messages(at)
    assert at.selectbox(key="inspect:run").value == record.id
    warned = " ".join(w.value for w in at.warning)
    assert "nothing new is saved" in warned and "SAE_EXPLORER_RUNS" in warned, warned
