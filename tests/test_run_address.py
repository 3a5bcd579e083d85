"""A run's address (?run=<run store id>): the manager finds a job by it from any session, a page opening
the link watches read-only, the starting page takes its run back with the key, a saved run opens from the
run store, and an unknown id gets a message (ui.run_address)."""

from __future__ import annotations

import io
import json
import time
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_support import APP, app_state, elements, labels, loss_curve, open_page, stop_job
from core import checkpoint, datasets, models
from core.jobs import JobManager, saving
from core.jobs.saving import save_when_done
from core.store import RunStore
from ui import run_address

SLOW_STEPS = 10_000  # the owner's run outlasts the test's checks (it is stopped at the end)


def _open_link(**query) -> AppTest:
    """A new session (another tab or browser) opening the Train page at ``/train?<query>``."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("views/train.py")
    at.query_params.update(query)
    at.run()
    return at


def _wait(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the run made no progress in time"
        time.sleep(0.1)


def _infos(at) -> str:
    return " | ".join(str(e.value) for e in at.info) + " | " + " | ".join(str(e.value) for e in at.warning)


def test_the_manager_finds_a_job_by_its_run_id_across_owners_and_hands_it_over(tmp_path):
    manager = JobManager(processes=False, idle_timeout=60)
    X = np.random.default_rng(0).random((64, 8)).astype(np.float32)
    try:
        job = manager.submit("tab-a", models.create("sae-topk", n_components=4, k=1, max_steps=SLOW_STEPS), X)
        other = manager.submit("tab-b", models.create("sae-topk", n_components=4, k=1, max_steps=SLOW_STEPS), X)
        save_when_done(job, store=RunStore(tmp_path), dataset="noise")
        assert job.run_id is not None and RunStore(tmp_path).get(job.run_id).status == "running"
        assert manager.job_at(job.run_id) is job and manager.job_at("20990101-000000-0123456789ab") is None
        manager.adopt(job, "tab-a-reloaded")
        assert manager.job_for("tab-a") is None and manager.job_for("tab-a-reloaded") is job
        assert manager.job_for("tab-b") is other and other.active
        manager.stop("tab-a-reloaded")  # the new owner's Stop reaches the run
        assert job.wait(30) and not job.active and other.active
    finally:
        manager.shutdown()


@pytest.fixture(scope="module")
def owner():
    """The page that started a long run; its address is ?run=<id>&key=<secret>."""
    at = open_page("views/train.py")
    at.select_slider(key="param:sae-topk:max_steps").set_value(SLOW_STEPS).run()
    at.button[0].click().run()
    job = app_state(at).job
    assert job.run_id is not None and at.query_params["run"] == job.run_id and at.query_params["key"]
    yield at
    stop_job(at)


def test_a_page_opening_the_link_watches_the_run_read_only(owner):
    job = app_state(owner).job
    viewer = _open_link(run=job.run_id)
    state = app_state(viewer)
    assert not viewer.exception and state.job is job and state.watching
    assert "Stop" not in labels(viewer.button)  # a viewer cannot stop it
    k = viewer.slider(key="param:sae-topk:k")
    assert k.disabled and viewer.selectbox(key="train:model").disabled
    assert run_address.RULE in _infos(viewer)
    assert "key" not in viewer.query_params  # a viewer's address never gains the key
    forced = k.value + 3
    viewer.session_state["param:sae-topk:k"] = forced  # even a value forced into the locked knob
    viewer.run()
    assert job.params["k"] != forced and job.active  # leaves the run alone
    state.stop_job()
    assert job.active and app_state(owner).job is job
    _wait(lambda: job.snapshot().step > 0)
    viewer.run()
    shown = loss_curve(viewer)["x"][-1]
    _wait(lambda: job.snapshot().step > shown)
    viewer.run()
    assert loss_curve(viewer)["x"][-1] > shown  # it watches the same run, live


def test_the_starting_pages_address_takes_the_run_back_after_a_reload(owner):
    job = app_state(owner).job
    reloaded = _open_link(run=job.run_id, key=owner.query_params["key"])
    state = app_state(reloaded)
    assert state.job is job and not state.watching and job.active
    assert not reloaded.slider(key="param:sae-topk:k").disabled
    assert reloaded.select_slider(key="param:sae-topk:max_steps").value == SLOW_STEPS  # the run's settings
    forged = _open_link(run=job.run_id, key="not-the-key")
    assert app_state(forged).watching  # a wrong key only watches
    stop = next(b for b in reloaded.button if b.label == "Stop")
    assert not stop.disabled
    stop.click().run()
    assert job.wait(30) and not job.active


@pytest.mark.parametrize("run_id", ["20990101-000000-0123456789ab", "../../etc/passwd"])
def test_an_unknown_run_id_gets_a_message_not_a_traceback(run_id):
    at = _open_link(run=run_id)
    assert not at.exception and app_state(at).job is None
    assert "No run" in _infos(at) and "Press **Train**" in _infos(at)


def test_a_saved_runs_link_opens_it_from_the_run_store_finished():
    digits = datasets.load("digits")
    model = models.create("sae-topk", n_components=16, k=3, max_steps=60, random_state=0, device="cpu")
    model.fit(digits.X)
    record = RunStore().save_run(model, dataset="digits", image_shape=digits.image_shape, name="linked run")
    at = _open_link(run=record.id)
    state = app_state(at)
    assert not at.exception and state.job.run_id == record.id and not state.training
    assert "Opened from the run store: **linked run**" in _infos(at)
    assert "Stop" not in labels(at.button)
    assert at.slider(key="param:sae-topk:k").value == 3 and not at.slider(key="param:sae-topk:k").disabled
    assert loss_curve(at)["x"][-1] == 60 and len(elements(at, "image")) >= 1
    assert "Done" in str(at.get("progress")[0].proto.text)
    exported = zipfile.ZipFile(io.BytesIO(saving.export_bytes(state.job, state.save_ticket)))
    config = json.loads(exported.read(checkpoint.CONFIG_FILE))  # the weights download of the opened run
    assert config["run_id"] == record.id and config["params"]["k"] == 3
