"""Faults: processes killed with SIGKILL mid-training and mid-write, a read-only or full data folder, and a
diverging run. Kills are real: a child ``python`` process is sent ``kill -9`` (no clean-up code runs),
then the store is reopened as a restarted app would: every finished run loads with its weights, the
interrupted run is marked, nothing half-written is left, and SQLite's integrity check passes."""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from app_support import app_state, elements, messages, open_page, stop_job
from core import checkpoint, cli, models
from core.store import FINISHED, INTERRUPTED, RunStore, layout

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}

# A child that saves two finished runs, then does one more thing and is killed in the middle of it.
CHILD = textwrap.dedent("""
    import json, os, sys, time
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from core import models
    from core.store import RunStore, layout, run_store

    mode, root = sys.argv[1], sys.argv[2]
    X = np.random.default_rng(0).random((64, 16)).astype(np.float32)
    store = RunStore(root)
    for seed in (0, 1):
        model = models.create("sae-topk", n_components=8, k=2, max_steps=20, random_state=seed, device="cpu").fit(X)
        record = store.save_run(model, dataset="noise", name=f"finished {seed}", X=X)
        print(json.dumps({"id": record.id, "codes": float(model.transform(X).sum())}), flush=True)

    def hang(label):
        print(label, flush=True)
        time.sleep(600)

    if mode == "training":
        model = models.create("sae-topk", n_components=8, k=2, max_steps=10**6, random_state=2, device="cpu")
        run_id = store.begin_run(model, dataset="noise", name="in training")
        print(json.dumps({"running": run_id}), flush=True)
        for row in model.fit_iter(X):
            if row["step"] >= 20:
                hang("training")
    else:
        model = models.create("pca", n_components=4).fit(X)
        if mode == "writing files":
            real_write = layout.write_file
            def half_then_hang(path, data):
                real_write(path, data[: len(data) // 2])
                hang("writing")
            layout.write_file = half_then_hang
        else:  # inside the commit: the folder is in place and the SQLite write transaction is open
            run_store._before_commit = lambda: hang("committing")
        store.save_run(model, dataset="noise", name="half written")
""")


def _start_child(mode: str, root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, mode, str(root)], cwd=REPO, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _read_until(proc: subprocess.Popen, word: str, timeout: float = 120) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"the child ended before {word!r}: {proc.stderr.read()[-3000:]}")
        lines.append(line.strip())
        if line.strip() == word:
            return lines
    raise AssertionError(f"no {word!r} within {timeout} s")


def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:  # a fresh connection, as another tool would open it
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.mark.parametrize("mode, word", [("training", "training"), ("writing files", "writing"),
                                        ("inside the commit", "committing")])
def test_kill_9_mid_training_or_mid_write_loses_no_finished_run(tmp_path, mode, word):
    root = tmp_path / "runs"
    child = _start_child(mode, root)
    try:
        lines = _read_until(child, word)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    finished = [json.loads(line) for line in lines if line.startswith('{"id"')]
    running = [json.loads(line)["running"] for line in lines if line.startswith('{"running"')]
    assert len(finished) == 2

    started = time.monotonic()
    store = RunStore(root)  # the restart: recovery runs here (and must not wait on the dead writer's lock)
    assert time.monotonic() - started < 10
    report = store.last_recovery
    X = np.random.default_rng(0).random((64, 16)).astype(np.float32)
    for saved in finished:
        record = store.get(saved["id"])
        assert record.status == FINISHED and record.has_weights
        assert float(store.load_model(saved["id"]).transform(X).sum()) == pytest.approx(saved["codes"], rel=1e-5)
    if mode == "training":
        assert report.interrupted == running
        record = store.get(running[0])
        assert record.status == INTERRUPTED and not record.has_weights and "ended before" in record.note
    else:
        assert report.removed_staging + report.removed_orphans >= 1  # the half-written run was swept away
    runs = store.list_runs()
    assert {r.name for r in runs} == {"finished 0", "finished 1"} | ({"in training"} if mode == "training" else set())
    assert sorted(p.name for p in (root / layout.RUNS_DIR).iterdir()) == sorted(s["id"] for s in finished)
    assert list((root / layout.STAGING_DIR).iterdir()) == []
    assert store.integrity_check() == "ok" and _integrity(store.db_path) == "ok"
    model = models.create("pca", n_components=2).fit(X)
    assert store.save_run(model, dataset="noise").has_weights  # the store takes new runs after the crash


APP_CHILD = textwrap.dedent("""
    import sys, time
    from streamlit.testing.v1 import AppTest
    from core.store import RunStore
    at = AppTest.from_file(sys.argv[1], default_timeout=120)
    at.switch_page("views/train.py")
    at.run()
    at.select_slider(key="param:sae-topk:max_steps").set_value(50).run()
    at.button[0].click().run()
    deadline = time.monotonic() + 90
    while not RunStore().list_runs(with_weights=True) and time.monotonic() < deadline:
        time.sleep(0.2)  # the first run ends and is saved in the background
    print("saved", flush=True)
    at.select_slider(key="param:sae-topk:max_steps").set_value(10000).run()
    at.button[0].click().run()
    job = at.session_state["_sae_nmf_explorer_state"].job
    while job.snapshot().step < 20:
        time.sleep(0.1)
    print("training", flush=True)
    time.sleep(600)
""")


def test_the_app_killed_mid_training_restarts_with_its_finished_runs(tmp_path, monkeypatch):
    root = tmp_path / "app-runs"
    env = {**ENV, "SAE_EXPLORER_RUNS": str(root)}
    child = subprocess.Popen([sys.executable, "-c", APP_CHILD, str(REPO / "app.py")], cwd=REPO, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _read_until(child, "training", timeout=180)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        child.stdout.close()
        child.stderr.close()
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(root))
    store = RunStore(root)
    # the run in flight was recorded at its start, so the restarted store marks it interrupted
    (interrupted,) = store.list_runs(status="interrupted")
    assert not interrupted.has_weights and interrupted.model == "sae-topk"
    runs = store.list_runs(with_weights=True)
    assert [r.status for r in runs] == [FINISHED] and runs[0].model == "sae-topk" and runs[0].steps == 50
    store.load_model(runs[0].id)
    assert store.integrity_check() == "ok" and _integrity(store.db_path) == "ok"
    at = open_page("views/inspect.py")  # the restarted app shows the run
    assert not at.exception and not at.error, messages(at)
    assert at.selectbox(key="inspect:run").value == runs[0].id
    assert not at.info  # not the "No saved runs yet" note


# -- a data folder that cannot be written -------------------------------------------------------------------------
def _refuse_writes(monkeypatch, code: int, root: Path) -> None:
    def refuse(path, data):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(root))
    monkeypatch.setattr(layout, "write_file", refuse)


@pytest.mark.parametrize("code, words", [(errno.EROFS, ("read-only", "SAE_EXPLORER_RUNS")),
                                         (errno.ENOSPC, ("is full", "Free some space"))])
def test_an_unwritable_data_folder_is_explained_and_training_still_works(tmp_path, monkeypatch, code, words):
    _refuse_writes(monkeypatch, code, tmp_path / "runs")
    at = open_page("views/compare.py")
    assert not at.exception
    shown = messages(at)
    assert "The run store cannot be opened" in shown and all(w in shown for w in words), shown
    at.switch_page("views/train.py").run()
    try:
        at.select_slider(key="param:sae-topk:max_steps").set_value(50).run()
        at.button[0].click().run()
        job = app_state(at).job
        assert job.wait(60) and job.state == "done", job.snapshot().error
        assert app_state(at).save_ticket.done.wait(30)  # the background save was tried, and failed
        at.run()
        assert not at.exception and not at.error, messages(at)
        warned = " ".join(w.value for w in at.warning)
        assert "could not be saved" in warned and "download its weights" in warned, warned
        assert len(elements(at, "image")) >= 1  # the atoms are drawn
        weights = [b for b in elements(at, "download_button") if "weights" in b.proto.label.lower()]
        assert weights and not weights[0].proto.disabled  # the run can still be taken away
        assert checkpoint.from_bytes(checkpoint.to_bytes(job.model)).components_.shape == job.model.components_.shape
    finally:
        stop_job(at)


def test_a_full_disk_under_out_keeps_the_metrics_line_and_says_so(tmp_path, monkeypatch, capsys):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "save", full)
    code = cli.main(["train", "--data", "digits", "--n-samples", "200", "--model", "pca", "--quiet",
                     "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert json.loads(out.strip().splitlines()[-1])["model"] == "pca"  # the metrics were printed first
    assert err.strip().splitlines()[-1].startswith("error: the run finished but writing --out")
    assert "No space left on device" in err


def test_a_diverging_job_is_saved_with_its_last_good_weights(tmp_path):
    from core.jobs import saving
    from core.jobs import DIVERGED, TrainingJob
    from core.training import TrainControl, train_steps

    X = np.random.default_rng(0).random((128, 16)).astype(np.float32)
    model = models.create("linear-ae", n_components=4, max_steps=500, learning_rate=1e6, log_every=1,
                          random_state=0, device="cpu")
    job = TrainingJob(model, X, model_name="linear-ae", dataset_name="noise")
    assert job.start() and job.wait(60)
    snap = job.snapshot()
    assert snap.state == DIVERGED and "diverged" in snap.error.lower()
    store = RunStore(tmp_path / "runs")
    record = saving.save_job(store, job)
    assert record.status == "stopped" and record.extra["job_state"] == DIVERGED
    saved = store.load_model(record.id)
    assert all(np.isfinite(w).all() for w in saved.get_weights().values())
    assert np.isfinite(saved.transform(X)).all()
    # what is saved is what the job kept: the weights its last finite loss (step 1's) was measured on, those
    # before any step here (tests/test_autoencoders.py checks a late divergence)
    assert [row["step"] for row in snap.history] == [1]
    untrained, stop_at_once = models.create("linear-ae", **job.model.get_params()), TrainControl()
    stop_at_once.request_stop()
    for _ in train_steps(untrained, X, stop_at_once):
        pass
    for name, weights in untrained.get_weights().items():
        np.testing.assert_array_equal(saved.get_weights()[name], weights, err_msg=name)
