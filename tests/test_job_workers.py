"""core.jobs worker processes: training leaves the server's interpreter, and no process or thread is
left behind when a run is stopped, a worker dies, or the server itself is killed."""

from __future__ import annotations

import io
import operator
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from browser_support import wait_until
from core import datasets, metrics, models
from core.jobs import DONE, FAILED, RUNNING, STOPPED, JobManager
from core.jobs.worker import WORKER_NICENESS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def _topk(max_steps=100_000):
    return models.create("sae-topk", n_components=32, k=4, max_steps=max_steps, batch_size=64,
                         random_state=0, device="cpu")


@pytest.fixture
def one_slot():
    """A manager with one worker slot, shut down (its worker with it) after the test."""
    mgr = JobManager(max_running=1, idle_timeout=60.0)
    yield mgr
    mgr.shutdown()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (ended, not yet reaped by its parent) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_the_manager_trains_in_another_process_and_hands_back_the_fitted_model(digits, one_slot):
    job = one_slot.submit("alice", _topk(max_steps=300), digits.X, model_name="sae-topk")
    (worker,) = one_slot.workers()
    assert worker.pid != os.getpid() and job.worker is worker
    assert job.wait(60) and job.state == DONE, job.snapshot().error
    snap = job.snapshot()
    assert snap.step == 300 and len(snap.history) == 30
    # the estimator trained over there came back: same atoms as the last ones published
    np.testing.assert_array_equal(job.model.components_, snap.atoms)
    assert job.model.transform(digits.X[:5]).shape == (5, 32)
    assert snap.metrics["l0"] == pytest.approx(4.0)
    # the same seed gives the same run as in this process
    here = _topk(max_steps=300).fit(digits.X)
    np.testing.assert_allclose(job.model.components_, here.components_, rtol=1e-4, atol=1e-5)
    # the worker is free again and takes the next run
    wait_until(lambda: worker.idle, timeout=10, what="worker idle")
    second = one_slot.submit("alice", _topk(max_steps=50), digits.X)
    assert second.worker is worker and second.wait(60) and second.state == DONE


def test_a_worker_yields_the_cpu_to_other_sessions_as_well_as_to_the_server(digits, one_slot, monkeypatch):
    """Where Linux's autogroup is on, the CPU is shared between sessions before niceness counts: a worker in
    the server's session took half the cores from a browser in its own session. So a worker has a session
    of its own, niced as the process is."""
    monkeypatch.delenv("SAE_EXPLORER_WORKER_NICENESS")  # the default (tests/conftest.py sets 0)
    _check_worker_priority(one_slot, digits, WORKER_NICENESS)  # its worker starts at this first run


def test_workers_can_be_told_to_share_the_cpu_equally_and_a_bad_setting_says_how_to_fix_it(digits, one_slot,
                                                                                            monkeypatch):
    """On a machine busy with other work a niced run crawls; SAE_EXPLORER_WORKER_NICENESS=0 trains at the
    same priority as everything else (still in a session of its own)."""
    monkeypatch.setenv("SAE_EXPLORER_WORKER_NICENESS", "0")
    _check_worker_priority(one_slot, digits, 0)
    for bad in ("-3", "20", "high", "2.5"):
        monkeypatch.setenv("SAE_EXPLORER_WORKER_NICENESS", bad)
        with pytest.raises(ValueError, match=r"SAE_EXPLORER_WORKER_NICENESS is .*whole number from 0 .* to 19"):
            JobManager(max_running=1, warm=True)


def _check_worker_priority(manager, digits, niceness: int) -> None:
    manager.submit("alice", _topk(max_steps=50), digits.X, model_name="sae-topk")
    (worker,) = manager.workers()
    assert worker.ready.wait(60)
    assert os.getsid(worker.pid) == worker.pid != os.getsid(0)
    expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + niceness)
    assert os.getpriority(os.PRIO_PROCESS, worker.pid) == expected
    autogroup = Path(f"/proc/{worker.pid}/autogroup")
    if autogroup.exists():  # Linux with autogroup built in: "/autogroup-N nice 5"
        assert autogroup.read_text().split()[-1] == str(niceness)


def test_an_idle_worker_holding_gpu_memory_is_replaced_by_a_fresh_one(digits):
    """A CUDA context keeps its GPU memory until the process ends: once the tabs are gone and a worker that
    trained on the GPU has idled for the job timeout, it is ended and a fresh (GPU-free) one is warmed."""
    mgr = JobManager(max_running=1, idle_timeout=60.0, warm=True)
    try:
        (worker,) = mgr.workers()
        assert worker.ready.wait(60)
        worker.holds_gpu = True  # what a worker reports after a run on CUDA (the cuda test below)
        mgr.reap(now=time.monotonic() + 30)
        assert mgr.workers() == [worker] and _alive(worker.pid)  # idle, but not for long enough
        mgr.reap(now=time.monotonic() + 61)
        wait_until(lambda: not _alive(worker.pid), timeout=20, what="the spent worker gone")
        (fresh,) = mgr.workers()
        assert fresh is not worker and not fresh.holds_gpu and fresh.ready.wait(60)
        job = mgr.submit("alice", _topk(max_steps=50), digits.X, model_name="sae-topk")
        assert job.wait(60) and job.state == DONE and job.worker is fresh
        mgr.reap(now=time.monotonic() + 10_000)  # a worker without GPU memory stays warm however long
        assert mgr.workers() == [fresh] and _alive(fresh.pid)
    finally:
        mgr.shutdown()


@pytest.mark.cuda
def test_a_worker_that_trained_on_the_gpu_says_it_holds_gpu_memory(digits, one_slot):
    model = models.create("sae-topk", n_components=32, k=4, max_steps=50, batch_size=64, random_state=0,
                          device="cuda")
    job = one_slot.submit("alice", model, digits.X, model_name="sae-topk")
    assert job.wait(120) and job.state == DONE, job.snapshot().error
    wait_until(lambda: job.worker.holds_gpu, timeout=10, what="the worker reporting its CUDA context")


class _NamesWhatItLoads(pickle.Unpickler):
    """Unpickles our own bytes, keeping the module of every class or function the pickle names."""

    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data))
        self.modules: set[str] = set()

    def find_class(self, module, name):
        self.modules.add(module)
        return super().find_class(module, name)


@pytest.mark.parametrize("name", models.available())
def test_a_fitted_model_comes_back_from_a_worker_without_any_torch_object(name, digits):
    """A worker hands its fitted model back pickled. Had the pickle held a tensor of a GPU run, loading it
    would open CUDA in the web server, whose GPU memory no worker retirement gives back: so the estimators
    pickle their NumPy attributes only, and come back working."""
    X = digits.X[:300]
    steps = {"max_steps": 20} if "max_steps" in models.default_params(name) else {}
    model = models.create(name, n_components=8, random_state=0, **steps).fit(X)
    reader = _NamesWhatItLoads(pickle.dumps(model))
    back = reader.load()
    assert not {m for m in reader.modules if m.split(".")[0] == "torch"}, reader.modules
    np.testing.assert_allclose(back.transform(X[:20]), model.transform(X[:20]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(back.components_, model.components_)


def test_a_worker_that_dies_fails_its_run_with_a_message_and_is_replaced(digits, one_slot):
    job = one_slot.submit("alice", _topk(), digits.X)
    wait_until(lambda: job.snapshot().step >= 20, what="first steps")
    (dead,) = one_slot.workers()
    os.kill(dead.pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    assert job.wait(30) and job.state == FAILED
    assert "ended unexpectedly" in job.snapshot().error and "start it again" in job.snapshot().error
    nxt = one_slot.submit("alice", _topk(max_steps=50), digits.X)
    assert nxt.wait(60) and nxt.state == DONE, nxt.snapshot().error
    assert nxt.worker is not dead and dead not in one_slot.workers()


def test_a_run_that_does_not_answer_stop_has_its_worker_ended(digits):
    mgr = JobManager(max_running=1, idle_timeout=60.0, kill_after=1.0)
    try:
        job = mgr.submit("alice", _topk(), digits.X)
        wait_until(lambda: job.snapshot().step >= 20, what="first steps")
        (worker,) = mgr.workers()
        os.kill(worker.pid, signal.SIGSTOP)  # frozen: as a fit stuck in one long call that checks no flag
        mgr.stop("alice")
        mgr.reap()  # within kill_after of Stop: left alone
        assert job.active and worker.process.poll() is None
        time.sleep(1.2)
        mgr.reap()
        assert job.wait(30) and job.state == STOPPED
        assert worker.process.wait(10) == -signal.SIGKILL
        assert "Stop was not answered in time" in job.snapshot().error
        after = mgr.submit("bob", _topk(max_steps=20), digits.X)
        assert after.wait(60) and after.state == DONE and after.worker is not worker
        wait_until(lambda: not worker._reader.is_alive() and not worker._sender.is_alive(), timeout=10,
                   what="the dead worker's threads end")
    finally:
        mgr.shutdown()


def test_threads_stay_bounded_however_many_runs_come_and_go(digits):
    mgr = JobManager(max_running=2, idle_timeout=60.0)
    try:
        mgr.submit("warm", _topk(max_steps=20), digits.X).wait(60)
        before = threading.active_count()
        for i in range(12):  # tabs opening, training a little, replaced or stopped
            job = mgr.submit(f"tab-{i % 4}", _topk(), digits.X)
            if i % 3 == 0:
                mgr.stop(f"tab-{i % 4}")
        for i in range(4):
            mgr.stop(f"tab-{i}")
        wait_until(lambda: mgr.counts()["running"] == 0, what="all runs ended")
        assert job.wait(30)
        # two threads per worker (reader, sender) and the reaper: nothing per run
        assert threading.active_count() <= before + 2, [t.name for t in threading.enumerate()]
        assert len(mgr.workers()) == 2
    finally:
        workers = mgr.workers()
        mgr.shutdown()
    assert workers and not any(w.process.poll() is None for w in workers)  # shutdown ends the processes


def test_workers_end_when_the_server_is_killed(tmp_path):
    script = (
        "import sys, time\n"
        "from core import datasets, models\n"
        "from core.jobs import get_manager\n"
        "m = get_manager()\n"
        "job = m.submit('a', models.create('sae-topk', n_components=16, k=2, max_steps=10**7, device='cpu'),"
        " datasets.load('digits').X)\n"
        "while job.snapshot().step < 10: time.sleep(0.05)\n"
        "print(' '.join(str(w.pid) for w in m.workers()), flush=True)\n"
        "time.sleep(600)\n"
    )
    stderr = open(tmp_path / "stderr.txt", "w+")  # the workers' too: they inherit it
    server = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              stderr=stderr, env={**os.environ, "SAE_EXPLORER_MAX_JOBS": "2"})
    try:
        pids = [int(p) for p in server.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        server.send_signal(signal.SIGKILL)  # no clean-up code runs in the server
        server.wait(10)
        wait_until(lambda: not any(_alive(p) for p in pids), timeout=20, what="workers gone")
        # a worker caught sending to the dead server ends quietly (as after Ctrl-C on `make run`)
        assert "Traceback" not in (tmp_path / "stderr.txt").read_text()
    finally:
        server.kill()
        stderr.close()


def test_a_waiting_run_starts_when_a_worker_frees_up_and_keeps_its_live_changes(digits, one_slot):
    first = one_slot.submit("alice", _topk(), digits.X)
    second = one_slot.submit("bob", _topk(), digits.X)
    assert second.snapshot().queue_position == 1
    one_slot.stop("alice")
    wait_until(lambda: second.state == RUNNING and second.snapshot().step >= 20, what="second runs")
    assert second.update(k=2) == {"k": 2}
    wait_until(lambda: second.snapshot().events, what="the live change applied in the worker")
    one_slot.stop("bob")
    assert second.wait(30) and second.state == STOPPED and second.model.k == 2
    assert first.state == STOPPED


def test_a_model_that_cannot_travel_to_the_worker_fails_its_run_and_the_worker_goes_on(digits, one_slot):
    model = _topk(max_steps=20)
    model.note = threading.Lock()  # not picklable: nothing can be sent
    job = one_slot.submit("alice", model, digits.X)
    assert job.wait(30) and job.state == FAILED
    assert "could not be sent to its training process" in job.snapshot().error
    (worker,) = one_slot.workers()
    nxt = one_slot.submit("alice", _topk(max_steps=20), digits.X)
    assert nxt.wait(60) and nxt.state == DONE and nxt.worker is worker


def test_runs_submitted_at_once_from_many_sessions_each_get_a_worker_of_their_own(digits):
    mgr = JobManager(max_running=2, idle_timeout=60.0, warm=True)
    try:
        tabs = [threading.Thread(target=mgr.submit, args=(f"tab-{i}", _topk(max_steps=30), digits.X))
                for i in range(8)]
        for tab in tabs:
            tab.start()
        for tab in tabs:
            tab.join()
        jobs = [mgr.job_for(f"tab-{i}") for i in range(8)]
        # two runs sent to one worker would leave one of them waiting forever for its end
        assert all(job.wait(120) and job.state == DONE for job in jobs), [j.snapshot().error for j in jobs]
        assert {job.worker for job in jobs} <= set(mgr.workers()) and len(mgr.workers()) == 2
    finally:
        mgr.shutdown()


# -- one call in a worker process (core.jobs.call) ------------------------------------------------------------
def test_a_call_runs_in_another_process_and_returns_its_result():
    from core.jobs import call_in_worker

    assert call_in_worker(os.getpid) != os.getpid()
    X = np.random.default_rng(0).standard_normal((30, 6))
    assert call_in_worker(metrics.pca_mse, X, 2) == pytest.approx(metrics.pca_mse(X, 2))
    assert call_in_worker(os.getpid, processes=False) == os.getpid()  # SAE_EXPLORER_JOB_PROCESSES=0


def test_a_calls_error_comes_back_with_its_message_and_a_dead_worker_says_so():
    from core.jobs import call_in_worker

    with pytest.raises(ValueError, match=r"^n_components must be >= 0, got -1\.$"):
        call_in_worker(metrics.pca_mse, np.ones((3, 2)), -1)
    with pytest.raises(ValueError, match="ZeroDivisionError"):
        call_in_worker(operator.truediv, 1, 0)
    with pytest.raises(ValueError, match=r"ended unexpectedly \(exit code 3\)"):
        call_in_worker(os._exit, 3)
