"""core.jobs: background training jobs, live changes, divergence, the job cap and the idle reaper."""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest

from browser_support import wait_until as _wait_until
from core import datasets, metrics, models
from core.jobs import DIVERGED, DONE, FAILED, RUNNING, STOPPED, WAITING, JobManager, TrainingJob, Worker

wait_until = functools.partial(_wait_until, every=0.02)  # jobs answer fast: poll often


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def _topk(max_steps=100_000, **params):
    return models.create("sae-topk", n_components=32, k=4, max_steps=max_steps, batch_size=64,
                         random_state=0, device="cpu", **params)


@pytest.fixture(scope="module")
def worker():
    process = Worker(threads=1)
    assert process.ready.wait(60), "the worker process did not start"
    yield process
    process.close()


@pytest.fixture(params=["thread", "worker process"])
def start(request):
    """Start a job in a thread of this process, or in a worker process: both must behave the same."""
    if request.param == "thread":
        return lambda job: job.start()
    worker = request.getfixturevalue("worker")
    assert worker.idle, "the previous test left a job running in the shared worker"
    return lambda job: job.start(worker)


@pytest.fixture
def manager():
    mgr = JobManager(max_running=2, idle_timeout=60.0, reap_every=0.1)
    yield mgr
    mgr.shutdown()


def test_a_job_trains_in_the_background_and_publishes_history_atoms_and_metrics(digits, start):
    job = TrainingJob(_topk(max_steps=200), digits.X, model_name="sae-topk", dataset_name="digits",
                      image_shape=digits.image_shape, atoms_every=0.0)
    assert job.snapshot().state == WAITING
    assert start(job)
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.state == DONE and snap.error is None
    assert [row["step"] for row in snap.history] == list(range(10, 201, 10))
    assert snap.progress == 1.0 and snap.step == 200
    assert snap.atoms.shape == (32, 64) and snap.atoms_version >= 2
    np.testing.assert_allclose(snap.atoms, job.model.components_)
    assert snap.reference_mse == pytest.approx(metrics.pca_mse(digits.X, 32))
    assert snap.metrics["l0"] == pytest.approx(4.0)
    assert snap.metrics["mse"] < snap.history[0]["mse"]
    assert snap.image_shape == (8, 8)


def test_snapshots_are_copies_that_later_training_does_not_change(digits, start):
    job = TrainingJob(_topk(), digits.X)
    start(job)
    first = wait_until(lambda: (s := job.snapshot()).history and s)
    length = len(first.history)
    wait_until(lambda: len(job.snapshot().history) > length + 2)
    job.stop()
    job.wait(30)
    assert len(first.history) == length


def test_stop_ends_a_long_run_early_and_keeps_its_atoms(digits, start):
    job = TrainingJob(_topk(), digits.X)
    start(job)
    wait_until(lambda: job.snapshot().step >= 30)
    job.stop()
    assert job.wait(30)
    snap = job.snapshot()
    assert snap.state == STOPPED
    assert 30 <= snap.step < 100_000
    assert snap.atoms is not None and np.isfinite(snap.atoms).all()


def test_live_change_of_k_applies_to_the_running_fit_and_is_marked_as_an_event(digits, start):
    job = TrainingJob(_topk(), digits.X)
    start(job)
    wait_until(lambda: job.snapshot().step >= 20)
    assert job.update(k=2, n_components=8) == {"k": 2}  # n_components is not live: ignored
    wait_until(lambda: job.snapshot().events)
    job.stop()
    job.wait(30)
    snap = job.snapshot()
    (step, change), = snap.events
    assert change == {"k": 2} and step > 20
    assert snap.params["k"] == 2 and job.model.k == 2
    after = [row["l0"] for row in snap.history if row["step"] >= step]
    assert after and all(value == pytest.approx(2.0) for value in after)
    assert job.update(k=3) == {}  # an ended run takes no more changes


def test_a_diverging_run_reports_its_error_and_keeps_the_last_good_atoms(digits, start):
    job = TrainingJob(_topk(), digits.X, atoms_every=0.0)
    start(job)
    wait_until(lambda: job.snapshot().step >= 50)
    job.update(learning_rate=1e12)
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.state == DIVERGED
    assert "diverged" in snap.error and "Lower the learning rate" in snap.error
    assert np.isfinite(snap.atoms).all() and all(np.isfinite(row["loss"]) for row in snap.history)
    # the kept weights are those the last logged finite loss was measured on (before its step), which a
    # run of the same seed stopped there reproduces; the learning-rate change came after them
    kept_step = snap.history[-1]["step"] - 1
    assert job.model.n_steps_ == kept_step >= 49
    last_good = _topk(max_steps=kept_step).fit(digits.X)
    np.testing.assert_allclose(job.model.components_, last_good.components_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(snap.atoms, last_good.components_, rtol=1e-4, atol=1e-6)


def test_bad_input_fails_with_cores_message_not_a_traceback(start):
    X = np.random.default_rng(0).normal(size=(50, 16)).astype(np.float32)
    job = TrainingJob(models.create("nmf", n_components=4, max_steps=20), X)
    start(job)
    job.wait(30)
    snap = job.snapshot()
    assert snap.state == FAILED
    assert snap.error.startswith("Negative values") and "Traceback" not in snap.error


def test_a_closed_form_model_logs_one_row(digits, start):
    job = TrainingJob(models.create("pca", n_components=10), digits.X, params={"n_components": 10})
    start(job)
    job.wait(30)
    snap = job.snapshot()
    assert snap.state == DONE and len(snap.history) == 1
    assert snap.history[0]["mse"] == pytest.approx(metrics.pca_mse(digits.X, 10), rel=1e-3)
    assert snap.atoms.shape == (10, 64)


@pytest.mark.parametrize("processes", [True, False], ids=["worker processes", "threads"])
def test_the_manager_caps_running_jobs_and_queues_the_rest(digits, processes):
    mgr = JobManager(max_running=1, idle_timeout=60.0, processes=processes)
    try:
        first = mgr.submit("alice", _topk(), digits.X)
        second = mgr.submit("bob", _topk(), digits.X)
        assert first.state == RUNNING
        assert second.state == WAITING and second.snapshot().queue_position == 1
        assert mgr.counts() == {"running": 1, "waiting": 1, "max_running": 1}
        mgr.stop("alice")
        wait_until(lambda: second.state == RUNNING)
        assert first.wait(30) and first.state == STOPPED
        assert mgr.job_for("alice") is first  # stopped, not forgotten
        assert (first.worker is not None) == processes and len(mgr.workers()) == (1 if processes else 0)
    finally:
        mgr.shutdown()


def test_each_owner_has_one_job_and_a_new_submit_replaces_it(manager, digits):
    old = manager.submit("alice", _topk(), digits.X)
    other = manager.submit("bob", _topk(), digits.X)
    new = manager.submit("alice", _topk(), digits.X)
    assert old.wait(30) and old.state == STOPPED
    assert manager.job_for("alice") is new and manager.job_for("bob") is other
    wait_until(lambda: new.state == RUNNING)
    assert other.state == RUNNING


def test_the_reaper_stops_a_job_nobody_reads_and_spares_one_that_is_read(digits):
    """Idle time is measured on the reaper's clock, passed here: a loaded machine that delays the open tab's
    reads cannot make it look idle, and nothing depends on how fast the test runs."""
    mgr = JobManager(max_running=2, idle_timeout=60.0, reap_every=3600.0)  # no background reaping here
    try:
        open_tab = mgr.submit("open", _topk(), digits.X)
        closed_at = time.monotonic()
        closed_tab = mgr.submit("closed", _topk(), digits.X)  # submitted after the open one, never read
        wait_until(lambda: closed_tab.state == RUNNING and open_tab.state == RUNNING, 60, "both jobs running")
        read_at = time.monotonic()
        open_tab.snapshot()  # the open tab's page reads its snapshot
        assert mgr.reap(now=closed_at + 60.0) == []  # not before the closed tab's idle timeout
        assert mgr.reap(now=read_at + 60.0) == [closed_tab]  # the open tab, read since, is spared
        assert closed_tab.wait(60) and closed_tab.state == STOPPED and mgr.job_for("closed") is None
        assert open_tab.state == RUNNING and mgr.job_for("open") is open_tab
    finally:
        mgr.shutdown()


def test_the_background_reaper_stops_a_job_nobody_reads(digits):
    mgr = JobManager(max_running=1, idle_timeout=0.5, reap_every=0.1)
    try:
        closed_tab = mgr.submit("closed", _topk(), digits.X)
        wait_until(lambda: not closed_tab.active, 120, "the unread job stopped by the reaper", every=0.1)
        assert closed_tab.state == STOPPED and mgr.job_for("closed") is None
    finally:
        mgr.shutdown()


def test_a_waiting_job_stopped_by_its_owner_leaves_the_queue(digits):
    mgr = JobManager(max_running=1, idle_timeout=60.0)
    try:
        mgr.submit("alice", _topk(), digits.X)
        waiting = mgr.submit("bob", _topk(), digits.X)
        mgr.stop("bob")
        assert waiting.state == STOPPED and mgr.counts()["waiting"] == 0
    finally:
        mgr.shutdown()


def test_max_running_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        JobManager(max_running=0)
