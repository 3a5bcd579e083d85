"""One-off calls (core.jobs.call: Inspect's recognition, Compare's subspace trace) are jobs of the one
JobManager: they wait for a slot behind fits and sweeps, count in its load, run in its worker processes,
and their caller still blocks for the result or gets the error as a ValueError."""

from __future__ import annotations

import functools
import operator
import os
import threading
import time

import numpy as np
import pytest

import core.jobs.manager
from browser_support import wait_until as _wait_until
from core import metrics, models
from core.jobs import DONE, FAILED, RUNNING, WAITING, JobManager, call_in_worker
from core.jobs.call import CallJob

wait_until = functools.partial(_wait_until, every=0.02)
X = np.random.default_rng(0).uniform(size=(120, 16)).astype(np.float32)
IDLE = {"running": 0, "waiting": 0, "max_running": 1}


def _endless_fit():
    return models.create("sae-l1", n_components=8, max_steps=1_000_000, device="cpu", random_state=0)


def _in_background(function, *args) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def caller() -> None:
        try:
            outcome["value"] = function(*args)
        except Exception as error:  # noqa: BLE001 - what the caller got, for the test to look at
            outcome["error"] = error

    thread = threading.Thread(target=caller, daemon=True)
    thread.start()
    return thread, outcome


@pytest.fixture
def threads_manager(monkeypatch):
    """The server's manager, one slot, training in threads here (no worker start-up to wait for)."""
    manager = JobManager(max_running=1, processes=False, reap_every=3600.0)
    monkeypatch.setattr(core.jobs.manager, "_manager", manager)
    yield manager
    manager.shutdown()


def test_a_call_waits_for_the_slot_a_fit_holds_and_runs_once_it_is_free(threads_manager):
    fit = threads_manager.submit("tab-1", _endless_fit(), X)
    wait_until(lambda: fit.state == RUNNING, 60, "the fit running")
    ran, told = [], []

    def work(report):
        ran.append(fit.state)
        report(1.0, "measured")
        return 42

    call = CallJob(work, on_progress=lambda *values: told.append(values))
    caller, outcome = _in_background(call.result, threads_manager)
    wait_until(lambda: told, 10, "the call told its place in line")
    time.sleep(0.3)  # a call that ignored the limit would have run by now
    assert call.state == WAITING and call.queue_position == 1 and ran == []
    assert threads_manager.counts() == {"running": 1, "waiting": 1, "max_running": 1}
    assert told == [(0.0, "Waiting for a free training slot: 1 run is going on this server (at most 1); "
                          "this is number 1 in line")]
    threads_manager.stop("tab-1")
    caller.join(60)
    assert outcome == {"value": 42} and call.state == DONE and ran == ["stopped"]
    assert told[-1] == (1.0, "measured") and threads_manager.counts() == IDLE


def test_a_running_call_holds_the_slot_and_its_error_comes_back_as_a_value_error(threads_manager):
    release = threading.Event()
    caller, outcome = _in_background(call_in_worker, release.wait, 60)
    wait_until(lambda: threads_manager.running_of("call") == 1, 10, "the call running")
    fit = threads_manager.submit("tab-1", _endless_fit(), X)
    assert fit.state == WAITING and threads_manager.counts() == {"running": 1, "waiting": 1, "max_running": 1}
    release.set()
    caller.join(10)
    assert outcome == {"value": True}
    wait_until(lambda: fit.state == RUNNING, 60, "the fit started once the call ended")
    threads_manager.stop("tab-1")
    assert fit.wait(60)

    call = CallJob(operator.truediv, (1, 0))
    with pytest.raises(ValueError, match=r"^ZeroDivisionError: division by zero$"):
        call.result(threads_manager)
    assert call.state == FAILED and threads_manager.counts() == IDLE


def test_a_call_longer_than_the_idle_timeout_is_not_stopped_while_its_caller_waits(monkeypatch):
    manager = JobManager(max_running=1, processes=False, idle_timeout=0.6, reap_every=0.1)
    monkeypatch.setattr(core.jobs.manager, "_manager", manager)
    try:
        assert call_in_worker(time.sleep, 1.5) is None
    finally:
        manager.shutdown()


def test_in_worker_processes_a_call_waits_for_the_fit_then_runs_in_the_pool(monkeypatch):
    manager = JobManager(max_running=1, reap_every=3600.0)
    monkeypatch.setattr(core.jobs.manager, "_manager", manager)
    try:
        fit = manager.submit("tab-1", _endless_fit(), X)
        wait_until(lambda: fit.began_at is not None, 120, "the fit training in its worker")
        caller, outcome = _in_background(call_in_worker, os.getpid)
        wait_until(lambda: manager.counts()["waiting"] == 1, 10, "the call waiting")
        assert manager.running_of("call") == 0 and manager.running_of("fit") == 1
        manager.stop("tab-1")
        caller.join(60)
        # no worker of its own: the one the fit trained in, freed by it
        assert outcome == {"value": manager.workers()[0].pid} and len(manager.workers()) == 1
        with pytest.raises(ValueError, match=r"^n_components must be >= 0, got -1\.$"):
            call_in_worker(metrics.pca_mse, np.ones((3, 2)), -1)
        assert manager.counts() == IDLE
    finally:
        manager.shutdown()
