"""Reloading the Train page after its own run has ended: the address keeps the run's key, so the reloaded page
is still the run's owner and never claims the run 'was started in another tab' (ui.run_address)."""

from __future__ import annotations

import io

import numpy as np
from streamlit.testing.v1 import AppTest

from app_support import APP, app_state, open_page, stop_job


def _reload(query: dict) -> AppTest:
    """The same tab reloaded: a new session opening the Train page at the address the tab had."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("views/train.py")
    at.query_params.update(query)
    at.run()
    return at


def _notes(at: AppTest) -> str:
    return " | ".join(str(e.value) for e in [*at.info, *at.caption])


def test_a_reload_after_the_run_ended_keeps_the_page_its_owner():
    at = open_page("views/train.py")
    at.select_slider(key="param:sae-topk:max_steps").set_value(50).run()
    next(b for b in at.button if b.label == "Train").click().run()
    job = app_state(at).job
    try:
        assert job.wait(60) and not job.active
        at.run()  # the page draws the ended run
        query = {name: at.query_params[name] for name in at.query_params}
        assert query.get("run") == job.run_id and query.get("key"), query
        reloaded = _reload(query)
        state = app_state(reloaded)
        assert not reloaded.exception and state.job is job and not state.watching
        assert "another tab" not in _notes(reloaded) and "Link to watch this run" in _notes(reloaded)
        viewer = _reload({"run": job.run_id})  # the link handed out (no key) still only watches
        assert app_state(viewer).watching and "key" not in viewer.query_params
    finally:
        stop_job(at)


def test_a_reloaded_run_on_an_upload_says_train_would_use_the_data_of_this_tab():
    """A reload keeps the run but not the uploaded file: the page says so, where Train would silently have
    trained on the tab's data set (digits) with the run's settings."""
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value("Upload a file ...").run()
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(0).random((120, 40)).astype(np.float32))
    at.file_uploader(key="data:upload").set_value(("acts.npy", buffer.getvalue(), "application/octet-stream")).run()
    at.switch_page("views/train.py")
    at.run()
    at.select_slider(key="param:sae-topk:max_steps").set_value(50).run()
    next(b for b in at.button if b.label == "Train").click().run()
    job = app_state(at).job
    try:
        assert job.wait(60) and job.dataset_name == "upload: acts.npy"
        at.run()
        assert "trained on" not in _notes(at)  # the tab that has the file: nothing to say
        reloaded = _reload({name: at.query_params[name] for name in at.query_params})
        assert app_state(reloaded).job is job and app_state(reloaded).data.label == "digits"
        said = _notes(reloaded)
        assert "The run shown trained on **upload: acts.npy**" in said and "**Train** trains on that" in said, said
        assert "upload the file on the Data page" in said
    finally:
        stop_job(at)
