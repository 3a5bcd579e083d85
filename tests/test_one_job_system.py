"""Fits and sweeps share one job system: one JobManager's slots, per-kind limit and timeout, and one
mapping from how a job ended to the run store's status (core.states)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from browser_support import wait_until as _wait_until
from core import models
from core.jobs import DONE, RUNNING, STOPPED, WAITING, JobManager
from core.jobs.sweep import SweepJob
from core.states import DIVERGED, FAILED, FINISHED, store_status

wait_until = functools.partial(_wait_until, every=0.02)
X = np.random.default_rng(0).uniform(size=(120, 16)).astype(np.float32)
SWEEP = {"n_components": 8, "max_steps": 20, "log_every": 10, "device": "cpu"}


def _sweep(max_steps: int = 20) -> SweepJob:
    return SweepJob(X, models_=["sae-topk"], param="k", values=[1, 2],
                    base_params={"sae-topk": {**SWEEP, "max_steps": max_steps}}, references=False)


def _endless_fit():
    return models.create("sae-l1", n_components=8, max_steps=1_000_000, device="cpu", random_state=0)


def test_a_sweep_waits_for_the_slot_a_fit_holds_and_starts_when_it_ends():
    manager = JobManager(max_running=1, processes=False, reap_every=3600.0)
    try:
        fit = manager.submit("tab-1", _endless_fit(), X)
        wait_until(lambda: fit.state == RUNNING, 60, "the fit running")
        sweep = manager.submit_job("tab-2:sweep", _sweep())
        snap = sweep.snapshot()
        assert snap.state == WAITING and "free slot" in snap.message
        assert manager.counts() == {"running": 1, "waiting": 1, "max_running": 1}
        manager.stop("tab-1")
        assert sweep.wait(120) and sweep.snapshot().state == DONE
        assert manager.running_of("sweep") == 0
    finally:
        manager.shutdown()


def test_sweeps_beyond_their_own_limit_wait_while_fits_may_still_start():
    manager = JobManager(max_running=3, processes=False, reap_every=3600.0, max_per_kind={"sweep": 1})
    try:
        first = manager.submit_job("tab-1:sweep", _sweep(max_steps=1_000_000))
        second = manager.submit_job("tab-2:sweep", _sweep())
        fit = manager.submit("tab-3", _endless_fit(), X)
        wait_until(lambda: fit.state == RUNNING, 60, "the fit started beside the first sweep")
        assert first.snapshot().state == RUNNING and second.snapshot().state == WAITING
        assert manager.running_of("sweep") == 1 and manager.running_of("fit") == 1
        manager.stop("tab-1:sweep")
        assert first.wait(60) and second.wait(120) and second.snapshot().state == DONE
        manager.stop("tab-3")
    finally:
        manager.shutdown()


def test_a_waiting_sweep_stopped_ends_at_once():
    manager = JobManager(max_running=1, processes=False, reap_every=3600.0)
    try:
        manager.submit("tab-1", _endless_fit(), X)
        sweep = manager.submit_job("tab-2:sweep", _sweep())
        manager.stop("tab-2:sweep")
        assert sweep.wait(5) and sweep.snapshot().state == STOPPED and "before it started" in sweep.snapshot().message
    finally:
        manager.shutdown()


def test_how_a_job_or_point_ended_maps_to_one_store_status():
    assert [store_status(s) for s in (DONE, FINISHED, STOPPED, DIVERGED, FAILED)] == \
        ["finished", "finished", "stopped", "stopped", "failed"]
    with pytest.raises(ValueError, match="has not ended"):
        store_status(RUNNING)
