"""Reloading the Train page after its own run has ended: the address keeps the run's key, so the reloaded page
is still the run's owner and never claims the run 'was started in another tab' (ui.run_address)."""

from __future__ import annotations

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
